/*
 * uring-connect's native code that needs no liburing: duplicating and
 * closing fds (with RST when asked), the wake-up socketpair, and the open
 * file limit. Only libc, so it builds wherever a C compiler and libc's
 * headers exist: the Bun fallback and the load generator use it where
 * native/ring.c cannot be built. ring.c includes this file and calls
 * uc_set_linger_rst and uc_close_now.
 *
 * Compiled by bun:ffi's `cc` (TinyCC) on its own, or as part of ring.c
 * (also for the sanitizer build). Same conventions as ring.c:
 * every export returns a count >= 0 or -errno; none sets errno, prints,
 * exits or keeps state between calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

/*
 * uc_dup_fd - a close-on-exec duplicate of fd
 *   fd: an open file descriptor (the fallback's connected socket, whose Bun
 *   socket is then closed, so the caller owns the connection).
 * RETURNS the new fd.
 * ERRORS -EBADF fd is not open; -EMFILE no free fd (RLIMIT_NOFILE).
 * MEMORY none. The caller owns the new fd and closes it.
 */
int uc_dup_fd(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	return copy < 0 ? -errno : copy;
}

/*
 * uc_set_linger_rst - make the next close() of fd send RST instead of FIN
 *   fd: a socket. SO_LINGER {1, 0}: the close resets the connection and the
 *   local port skips TIME_WAIT, as a load generator needs.
 * RETURNS nothing; a failure (fd not a socket) leaves an ordinary close.
 * MEMORY none.
 */
void uc_set_linger_rst(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/*
 * uc_close_now - close n fds here and now
 *   fds: int32[n]; negative entries are skipped. rst != 0: each socket is
 *   reset (uc_set_linger_rst) instead of closed with a FIN.
 * RETURNS the number of fds closed (an fd whose close() fails is not counted
 *   and is not retried: after close() it is gone either way).
 * ERRORS -EINVAL n < 0, or fds is NULL with n > 0.
 * MEMORY fds is read during the call only.
 */
int uc_close_now(const int32_t *fds, int n, int rst)
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

/*
 * uc_socketpair - a connected pair of nonblocking, close-on-exec unix
 *   stream sockets
 *   out: int32[2]; out[0] for JS's event loop to read, out[1] for the
 *   ring's waker thread to write (uc_waker_start).
 * RETURNS 0.
 * ERRORS -EMFILE / -ENFILE no free fd; -ENOMEM.
 * MEMORY out is written during the call only. The caller owns both fds.
 */
int uc_socketpair(int32_t *out)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds))
		return -errno;
	out[0] = fds[0];
	out[1] = fds[1];
	return 0;
}

/*
 * uc_raise_nofile - raise this process's soft RLIMIT_NOFILE to its hard limit
 *   out: int32[2] = soft and hard limits after the call (capped at INT32_MAX).
 * RETURNS 0.
 * ERRORS -errno of getrlimit (out untouched) or setrlimit (out then holds
 *   the limits as they are).
 * MEMORY out is written during the call only.
 */
int uc_raise_nofile(int32_t *out)
{
	struct rlimit rl;
	int ret = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			ret = -errno;
			rl.rlim_cur = old;
		}
	}
	out[0] = rl.rlim_cur > 0x7fffffff ? 0x7fffffff : (int32_t)rl.rlim_cur;
	out[1] = rl.rlim_max > 0x7fffffff ? 0x7fffffff : (int32_t)rl.rlim_max;
	return ret;
}
