/*
 * A tiny test runner for the C tests of native/'s exports (sys-test.c,
 * ring-test.c), in the spirit of liburing's test/: each test is a function
 * that stops at its first failed check, so one broken promise is one
 * failure with its line.
 *
 *   ./ring-test            run every test
 *   ./ring-test NAME       run one
 *   ./ring-test --list     print the names
 *
 * Exit status 0 when every test run passed, 1 otherwise.
 */
#ifndef UC_CHECK_H
#define UC_CHECK_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* From test/fixtures/sockets.c, linked in: a loopback IPv4 socket on a
 * kernel-chosen port that listens with `backlog` but never accepts, or,
 * with backlog < 0, does not listen (connects are refused). */
int test_bound_socket(int backlog, int32_t *port);

struct uc_test {
	const char *name;
	int (*run)(void); /* 0 = pass */
};

/* Fail the current test (return 1) when `cond` is false. */
#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s (errno %d)\n", \
				__FILE__, __LINE__, #cond, errno);              \
			return 1;                                                \
		}                                                                \
	} while (0)

/* Fail the current test when `a != b`, printing both (integers). */
#define CHECK_EQ(a, b)                                                                  \
	do {                                                                            \
		long long uc_a_ = (long long)(a), uc_b_ = (long long)(b);               \
		if (uc_a_ != uc_b_) {                                                   \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",      \
				__FILE__, __LINE__, #a, #b, uc_a_, uc_b_);              \
			return 1;                                                       \
		}                                                                       \
	} while (0)

static int uc_run_tests(const struct uc_test *tests, int count, int argc, char **argv)
{
	int i, ran = 0, failed = 0;

	for (i = 0; i < count; i++) {
		if (argc > 1 && !strcmp(argv[1], "--list")) {
			printf("%s\n", tests[i].name);
			continue;
		}
		if (argc > 1 && strcmp(argv[1], tests[i].name))
			continue;
		ran++;
		if (tests[i].run()) {
			failed++;
			printf("FAIL %s\n", tests[i].name);
		} else {
			printf("ok %s\n", tests[i].name);
		}
		/* A sanitizer that reports at exit ends the process without stdio's flush. */
		fflush(stdout);
	}
	if (argc > 1 && strcmp(argv[1], "--list") && ran == 0) {
		fprintf(stderr, "no test named %s\n", argv[1]);
		return 1;
	}
	return failed ? 1 : 0;
}

#endif
