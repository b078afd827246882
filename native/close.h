/*
 * Closing sockets the way a load generator needs, shared by shim.c and
 * fallback.c. SO_LINGER {1, 0} makes close() send RST and skip TIME_WAIT.
 */
#ifndef UC_CLOSE_H
#define UC_CLOSE_H

#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/socket.h>

static void uc_set_linger_rst(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Close fds[0..n) (negative entries skipped); RETURNS the count or -EINVAL. */
static int uc_close_fds(const int32_t *fds, int n, int rst)
{
	int i, closed = 0;

	if (n < 0 || (n > 0 && !fds))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (rst)
			uc_set_linger_rst(fds[i]);
		if (close(fds[i]) == 0)
			closed++;
	}
	return closed;
}

#endif
