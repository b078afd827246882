/*
 * native/sys.c's exports, one promise per test (see check.h).
 * Built with gcc (sanitizers on when available) by test/native-exports.test.ts.
 */
#include "../../native/sys.c"

#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "check.h"

static int is_closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* A connected loopback TCP pair: client[0] dialled, client[1] accepted. */
static int tcp_pair(int32_t *pair)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int32_t port;
	int listener = test_bound_socket(4, &port);

	if (listener < 0)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	pair[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (pair[0] < 0 || connect(pair[0], (struct sockaddr *)&sin, sizeof(sin)))
		return -1;
	pair[1] = accept(listener, NULL, NULL);
	close(listener);
	return pair[1] < 0 ? -1 : 0;
}

static int test_dup_fd(void)
{
	int32_t pair[2];
	char c;
	int copy;

	CHECK_EQ(uc_socketpair(pair), 0);
	copy = uc_dup_fd(pair[0]);
	CHECK(copy >= 0 && copy != pair[0] && copy != pair[1]);
	CHECK(fcntl(copy, F_GETFD) & FD_CLOEXEC);
	/* The same socket under another number: it reads what the peer wrote. */
	CHECK_EQ(write(pair[1], "x", 1), 1);
	CHECK_EQ(read(copy, &c, 1), 1);
	close(copy);
	close(pair[0]);
	close(pair[1]);
	return 0;
}

static int test_dup_fd_bad_fd(void)
{
	CHECK_EQ(uc_dup_fd(-1), -EBADF);
	return 0;
}

static int test_close_now_counts_and_skips_negatives(void)
{
	int32_t pair[2], fds[3];

	CHECK_EQ(uc_socketpair(pair), 0);
	fds[0] = pair[0];
	fds[1] = -1;
	fds[2] = pair[1];
	CHECK_EQ(uc_close_now(fds, 3, 0), 2);
	CHECK(is_closed(pair[0]) && is_closed(pair[1]));
	return 0;
}

static int test_close_now_bad_array(void)
{
	CHECK_EQ(uc_close_now(NULL, 1, 0), -EINVAL);
	CHECK_EQ(uc_close_now(NULL, -1, 0), -EINVAL);
	CHECK_EQ(uc_close_now(NULL, 0, 0), 0);
	return 0;
}

static int test_close_now_fin(void)
{
	int32_t pair[2];
	char c;

	CHECK_EQ(tcp_pair(pair), 0);
	CHECK_EQ(uc_close_now(pair, 1, 0), 1);
	CHECK_EQ(read(pair[1], &c, 1), 0); /* an orderly end of stream */
	close(pair[1]);
	return 0;
}

static int test_close_now_rst(void)
{
	int32_t pair[2];
	char c;

	CHECK_EQ(tcp_pair(pair), 0);
	CHECK_EQ(uc_close_now(pair, 1, 1), 1);
	CHECK_EQ(read(pair[1], &c, 1), -1);
	CHECK_EQ(errno, ECONNRESET);
	close(pair[1]);
	return 0;
}

static int test_socketpair(void)
{
	int32_t pair[2];
	char c;

	CHECK_EQ(uc_socketpair(pair), 0);
	CHECK((fcntl(pair[0], F_GETFL) & O_NONBLOCK) && (fcntl(pair[1], F_GETFL) & O_NONBLOCK));
	CHECK((fcntl(pair[0], F_GETFD) & FD_CLOEXEC) && (fcntl(pair[1], F_GETFD) & FD_CLOEXEC));
	CHECK_EQ(read(pair[0], &c, 1), -1);
	CHECK_EQ(errno, EAGAIN);
	CHECK_EQ(write(pair[1], "w", 1), 1);
	CHECK_EQ(read(pair[0], &c, 1), 1);
	CHECK_EQ(c, 'w');
	close(pair[0]);
	close(pair[1]);
	return 0;
}

static int test_raise_nofile(void)
{
	struct rlimit rl;
	int32_t out[2] = { -1, -1 };

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = rl.rlim_max > 64 ? 64 : rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK_EQ(uc_raise_nofile(out), 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK(rl.rlim_cur == rl.rlim_max);
	CHECK_EQ(out[0], rl.rlim_cur > 0x7fffffff ? 0x7fffffff : (int32_t)rl.rlim_cur);
	CHECK_EQ(out[1], out[0]);
	return 0;
}

static const struct uc_test tests[] = {
	{ "dup_fd", test_dup_fd },
	{ "dup_fd_bad_fd", test_dup_fd_bad_fd },
	{ "close_now_counts_and_skips_negatives", test_close_now_counts_and_skips_negatives },
	{ "close_now_bad_array", test_close_now_bad_array },
	{ "close_now_fin", test_close_now_fin },
	{ "close_now_rst", test_close_now_rst },
	{ "socketpair", test_socketpair },
	{ "raise_nofile", test_raise_nofile },
};

int main(int argc, char **argv)
{
	return uc_run_tests(tests, (int)(sizeof(tests) / sizeof(tests[0])), argc, argv);
}
