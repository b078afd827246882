/*
 * The little native help the Bun.connect fallback needs when io_uring (and
 * perhaps liburing) is unavailable: no liburing here, so it always builds.
 * Same conventions as shim.c: counts >= 0 or -errno, no globals.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/socket.h>
#include "close.h"

/*
 * uc_fd_dup - a close-on-exec duplicate of fd, so the caller can own a
 *   connection whose Bun socket is then closed.
 * RETURNS the new fd or -errno.
 */
int uc_fd_dup(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	return copy < 0 ? -errno : copy;
}

/*
 * uc_fd_close - close n fds, with an RST instead of a FIN when rst != 0.
 * RETURNS the number closed, or -EINVAL for a bad array.
 */
int uc_fd_close(const int32_t *fds, int n, int rst)
{
	return uc_close_fds(fds, n, rst);
}
