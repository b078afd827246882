/*
 * native/ring.c's exports, one promise per test (see check.h), against
 * loopback sockets only. The shared arrays are heap-allocated here, so the
 * sanitizers (on when available) see every access ring.c makes to them.
 * Built with gcc by test/native-exports.test.ts.
 */
#include "../../native/ring.c"

#include <fcntl.h>
#include <poll.h>
#include <arpa/inet.h>
#include "check.h"

#define CAPACITY 8

/* A ring over freshly allocated shared arrays, as JS's SlotPool makes them. */
struct fixture {
	int32_t *slots;
	uint8_t *addrs;
	struct uc_ring *r;
};

/* A ring with the optional features in allow (UC_OPT_*). */
static int open_fixture_allowing(struct fixture *f, uint32_t allow)
{
	int32_t err[2];

	f->slots = calloc(CAPACITY * UC_SLOT_WORDS, sizeof(int32_t));
	f->addrs = calloc(CAPACITY, UC_ADDR_BYTES);
	if (!f->slots || !f->addrs)
		return -1;
	f->r = uc_ring_open(8, CAPACITY, f->slots, f->addrs, allow, err);
	return f->r ? 0 : -1;
}

static int open_fixture(struct fixture *f)
{
	return open_fixture_allowing(f, UC_OPT_SUBMIT_ALL | UC_OPT_SINGLE_ISSUER | UC_OPT_CQSIZE);
}

static void free_fixture(struct fixture *f)
{
	free(f->slots);
	free(f->addrs);
}

static int32_t *slot_row(struct fixture *f, int slot)
{
	return f->slots + slot * UC_SLOT_WORDS;
}

/* Write a connect to 127.0.0.1:port into a slot, as SlotPool.write does. */
static void set_slot(struct fixture *f, int slot, int port, int timeout_ms, int generation)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int32_t *s = slot_row(f, slot);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	memcpy(f->addrs + slot * UC_ADDR_BYTES, &sin, sizeof(sin));
	s[UC_S_FAMILY] = AF_INET;
	s[UC_S_ADDRLEN] = sizeof(sin);
	s[UC_S_LOCAL_LEN] = 0;
	s[UC_S_FLAGS] = 0;
	s[UC_S_TIMEOUT_MS] = timeout_ms;
	s[UC_S_GENERATION] = generation;
	s[UC_S_FD] = -1;
}

/* Prepare and submit one slot; RETURNS its fd (>= 0) or -1. */
static int start_connect(struct fixture *f, int slot)
{
	int32_t ids[1] = { slot };

	if (uc_prep_connect_batch(f->r, ids, 1) != 1 || slot_row(f, slot)[UC_S_RESULT] != 0)
		return -1;
	if (uc_submit(f->r) < 1)
		return -1;
	return slot_row(f, slot)[UC_S_FD];
}

/*
 * Reap one completion JS would see into out[3], waiting for the kernel
 * (5 s at most between completions, a hang guard). RETURNS 1, or 0 if none came.
 */
static int reap_one(struct fixture *f, int32_t *out)
{
	struct __kernel_timespec patience = { 5, 0 };
	struct io_uring_cqe *cqe;

	for (;;) {
		if (uc_reap(f->r, out, 1) == 1)
			return 1;
		if (io_uring_wait_cqe_timeout(&f->r->ring, &cqe, &patience) < 0)
			return 0;
	}
}

/* A listener whose accept queue is full: connects to it hang (never accepted). */
static int blackhole(int32_t *port, int *filler)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int listener = test_bound_socket(0, port);

	if (listener < 0)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(*port);
	*filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*filler < 0 || connect(*filler, (struct sockaddr *)&sin, sizeof(sin)))
		return -1;
	return listener;
}

static int is_closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

static int test_ring_open_bad_args(void)
{
	int32_t slots[UC_SLOT_WORDS], err[2] = { 0, 0 };
	uint8_t addrs[UC_ADDR_BYTES];

	CHECK(uc_ring_open(8, 0, slots, addrs, 0, err) == NULL);
	CHECK_EQ(err[0], -EINVAL);
	CHECK_EQ(err[1], 4);
	CHECK(uc_ring_open(8, 1, NULL, addrs, 0, err) == NULL);
	CHECK_EQ(err[0], -EINVAL);
	CHECK(uc_ring_open(0, 1, slots, addrs, 0, err) == NULL);
	CHECK_EQ(err[0], -EINVAL);
	return 0;
}

static int test_ring_info(void)
{
	struct fixture f;
	int32_t out[6];

	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_ring_info(f.r, out), 6);
	CHECK(out[0] >= 8);
	CHECK(out[1] >= out[0]);
	CHECK(out[3] & IORING_FEAT_NODROP);
	CHECK_EQ(out[4], 0);
	CHECK_EQ(out[5], 0); /* not allowed by open_fixture */
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	free_fixture(&f);
	return 0;
}

static int test_connect(void)
{
	struct fixture f;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int32_t port, out[3];
	int listener = test_bound_socket(4, &port), fd, accepted;

	CHECK(listener >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	set_slot(&f, 3, port, 0, 7);
	fd = start_connect(&f, 3);
	CHECK(fd >= 0);
	CHECK_EQ(reap_one(&f, out), 1);
	CHECK_EQ(out[0], 3);
	CHECK_EQ(out[1], 7);
	CHECK_EQ(out[2], 0);
	CHECK_EQ(slot_row(&f, 3)[UC_S_FD], fd);
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &len) == 0);
	CHECK_EQ(ntohs(peer.sin_port), port);
	accepted = accept(listener, NULL, NULL);
	CHECK(accepted >= 0);
	close(accepted);
	close(fd);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(listener);
	free_fixture(&f);
	return 0;
}

static int test_connect_refused_closes_socket(void)
{
	struct fixture f;
	int32_t port, out[3];
	int refusing = test_bound_socket(-1, &port), fd;

	CHECK(refusing >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	set_slot(&f, 0, port, 0, 1);
	fd = start_connect(&f, 0);
	CHECK(fd >= 0);
	CHECK_EQ(reap_one(&f, out), 1);
	CHECK_EQ(out[2], -ECONNREFUSED);
	CHECK_EQ(slot_row(&f, 0)[UC_S_FD], -1);
	CHECK(is_closed(fd));
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(refusing);
	free_fixture(&f);
	return 0;
}

static int test_stale_generation_not_reported(void)
{
	struct fixture f;
	int32_t port, out[3];
	int refusing = test_bound_socket(-1, &port), fd;
	struct __kernel_timespec patience = { 5, 0 }; /* a hang guard */
	struct io_uring_cqe *cqe;

	CHECK(refusing >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	set_slot(&f, 2, port, 0, 1);
	fd = start_connect(&f, 2);
	CHECK(fd >= 0);
	CHECK_EQ(io_uring_wait_cqe_timeout(&f.r->ring, &cqe, &patience), 0);
	slot_row(&f, 2)[UC_S_GENERATION] = 2; /* the slot was reused meanwhile */
	CHECK_EQ(uc_reap(f.r, out, 1), 0);
	close(fd);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(refusing);
	free_fixture(&f);
	return 0;
}

static int test_prep_bad_ids(void)
{
	struct fixture f;
	int32_t negative[1] = { -1 }, beyond[1] = { CAPACITY }, mixed[2] = { 0, CAPACITY }, port;
	int refusing = test_bound_socket(-1, &port);

	CHECK(refusing >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_prep_connect_batch(f.r, negative, 1), -EINVAL);
	CHECK_EQ(uc_prep_connect_batch(f.r, beyond, 1), -EINVAL);
	CHECK_EQ(uc_prep_connect_batch(f.r, NULL, 1), -EINVAL);
	CHECK_EQ(uc_prep_connect_batch(f.r, mixed, -1), -EINVAL);
	set_slot(&f, 0, port, 0, 1);
	/* A bad id anywhere rejects the whole batch before anything is opened. */
	CHECK_EQ(uc_prep_connect_batch(f.r, mixed, 2), -EINVAL);
	CHECK_EQ(slot_row(&f, 0)[UC_S_FD], -1);
	CHECK_EQ(io_uring_sq_ready(&f.r->ring), 0);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(refusing);
	free_fixture(&f);
	return 0;
}

/* A full submission queue: a prefix is consumed, the rest untouched until a submit makes room. */
static int test_prep_partial(void)
{
	struct fixture f;
	int32_t port, ids[CAPACITY], out[3];
	int listener = test_bound_socket(CAPACITY, &port), i, got = 0;

	CHECK(listener >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	for (i = 0; i < CAPACITY; i++) {
		set_slot(&f, i, port, 1000, 1); /* a connect and its linked timeout: two SQEs */
		ids[i] = i;
	}
	CHECK_EQ(uc_prep_connect_batch(f.r, ids, CAPACITY), 4); /* an 8-entry queue */
	CHECK(slot_row(&f, 3)[UC_S_FD] >= 0);
	CHECK_EQ(slot_row(&f, 4)[UC_S_FD], -1);
	CHECK_EQ(uc_prep_connect_batch(f.r, ids + 4, CAPACITY - 4), 0);
	CHECK_EQ(uc_submit(f.r), 8);
	CHECK_EQ(uc_prep_connect_batch(f.r, ids + 4, CAPACITY - 4), 4);
	CHECK_EQ(uc_submit(f.r), 8);
	while (got < CAPACITY) {
		CHECK_EQ(reap_one(&f, out), 1);
		CHECK_EQ(out[2], 0);
		close(slot_row(&f, out[0])[UC_S_FD]);
		got++;
	}
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(listener);
	free_fixture(&f);
	return 0;
}

static int test_prep_bad_family(void)
{
	struct fixture f;
	int32_t ids[1] = { 1 };

	CHECK_EQ(open_fixture(&f), 0);
	set_slot(&f, 1, 9, 0, 1);
	slot_row(&f, 1)[UC_S_FAMILY] = 12345;
	CHECK_EQ(uc_prep_connect_batch(f.r, ids, 1), 1);
	CHECK_EQ(slot_row(&f, 1)[UC_S_RESULT], -EAFNOSUPPORT);
	CHECK_EQ(slot_row(&f, 1)[UC_S_FD], -1);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	free_fixture(&f);
	return 0;
}

static int test_linked_timeout(void)
{
	struct fixture f;
	int32_t port, out[3];
	int filler, listener = blackhole(&port, &filler), fd;

	CHECK(listener >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	set_slot(&f, 5, port, 20, 1);
	fd = start_connect(&f, 5);
	CHECK(fd >= 0);
	CHECK_EQ(reap_one(&f, out), 1);
	CHECK_EQ(out[0], 5);
	CHECK_EQ(out[2], -ECANCELED); /* cancelled by its linked timeout */
	CHECK(is_closed(fd));
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(filler);
	close(listener);
	free_fixture(&f);
	return 0;
}

static int test_cancel_batch(void)
{
	struct fixture f;
	int32_t port, out[3], ids[1] = { 4 };
	int filler, listener = blackhole(&port, &filler), fd;

	CHECK(listener >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	set_slot(&f, 4, port, 0, 1);
	fd = start_connect(&f, 4);
	CHECK(fd >= 0);
	CHECK_EQ(uc_prep_cancel_batch(f.r, ids, 1), 1);
	CHECK_EQ(uc_submit(f.r), 1);
	CHECK_EQ(reap_one(&f, out), 1);
	CHECK_EQ(out[0], 4);
	CHECK_EQ(out[2], -ECANCELED);
	CHECK(is_closed(fd));
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(filler);
	close(listener);
	free_fixture(&f);
	return 0;
}

static int test_cancel_bad_ids(void)
{
	struct fixture f;
	int32_t beyond[1] = { CAPACITY }, mixed[2] = { 0, CAPACITY };

	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_prep_cancel_batch(f.r, beyond, 1), -EINVAL);
	CHECK_EQ(uc_prep_cancel_batch(f.r, NULL, 1), -EINVAL);
	CHECK_EQ(uc_prep_cancel_batch(f.r, beyond, -1), -EINVAL);
	CHECK_EQ(uc_prep_cancel_batch(f.r, mixed, 2), -EINVAL);
	CHECK_EQ(io_uring_sq_ready(&f.r->ring), 0); /* nothing queued */
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	free_fixture(&f);
	return 0;
}

static int test_reap_bad_args(void)
{
	struct fixture f;
	int32_t out[3];

	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_reap(f.r, NULL, 1), -EINVAL);
	CHECK_EQ(uc_reap(f.r, out, -1), -EINVAL);
	CHECK_EQ(uc_reap(f.r, out, 1), 0);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	free_fixture(&f);
	return 0;
}

/* Closes queued (even unsubmitted) have all completed once uc_ring_close returns. */
static int test_close_batch(void)
{
	struct fixture f;
	int32_t a[2], b[2], fds[3];
	char c;

	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_socketpair(a), 0);
	CHECK_EQ(uc_socketpair(b), 0);
	fds[0] = a[0];
	fds[1] = -1;
	fds[2] = b[0];
	CHECK_EQ(uc_prep_close_batch(f.r, fds, 3, 0), 3);
	CHECK_EQ(uc_closes_pending(f.r), 2);
	CHECK_EQ(uc_prep_close_batch(f.r, NULL, 1, 0), -EINVAL);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	CHECK(is_closed(a[0]) && is_closed(b[0]));
	CHECK_EQ(read(a[1], &c, 1), 0);
	CHECK_EQ(read(b[1], &c, 1), 0);
	close(a[1]);
	close(b[1]);
	free_fixture(&f);
	return 0;
}

/* A full queue takes a prefix; each close is pending until uc_reap consumes its completion. */
static int test_close_batch_partial_and_pending(void)
{
	struct fixture f;
	struct __kernel_timespec patience = { 5, 0 }; /* a hang guard */
	struct io_uring_cqe *cqe;
	int32_t pairs[CAPACITY + 2][2], fds[CAPACITY + 2], out[3];
	int i;
	char c;

	CHECK_EQ(open_fixture(&f), 0);
	for (i = 0; i < CAPACITY + 2; i++) {
		CHECK_EQ(uc_socketpair(pairs[i]), 0);
		fds[i] = pairs[i][0];
	}
	CHECK_EQ(uc_prep_close_batch(f.r, fds, CAPACITY + 2, 0), CAPACITY); /* an 8-entry queue */
	CHECK(!is_closed(fds[CAPACITY]));
	CHECK_EQ(uc_submit(f.r), CAPACITY);
	CHECK_EQ(uc_prep_close_batch(f.r, fds + CAPACITY, 2, 0), 2);
	CHECK_EQ(uc_submit(f.r), 2);
	CHECK_EQ(uc_closes_pending(f.r), CAPACITY + 2);
	while (uc_closes_pending(f.r) > 0) {
		CHECK_EQ(io_uring_wait_cqe_timeout(&f.r->ring, &cqe, &patience), 0);
		CHECK_EQ(uc_reap(f.r, out, 1), 0); /* consumed, not reported */
	}
	for (i = 0; i < CAPACITY + 2; i++) {
		CHECK(is_closed(fds[i]));
		CHECK_EQ(read(pairs[i][1], &c, 1), 0);
		close(pairs[i][1]);
	}
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	free_fixture(&f);
	return 0;
}

/* A reset close, its SO_LINGER set by a setsockopt call or (in_ring) through the ring: the peer reads ECONNRESET. */
static int close_batch_rst(int in_ring)
{
	struct fixture f;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int32_t port, fds[1], info[6];
	int listener = test_bound_socket(4, &port), accepted;
	char c;

	CHECK(listener >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fds[0] >= 0 && connect(fds[0], (struct sockaddr *)&sin, sizeof(sin)) == 0);
	accepted = accept(listener, NULL, NULL);
	CHECK(accepted >= 0);
	CHECK_EQ(open_fixture_allowing(&f, in_ring ? UC_OPT_SOCK_CMD : 0), 0);
	CHECK_EQ(uc_ring_info(f.r, info), 6);
	CHECK_EQ(info[5], in_ring);
	CHECK_EQ(uc_prep_close_batch(f.r, fds, 1, 1), 1);
	CHECK_EQ(uc_submit(f.r), in_ring ? 2 : 1);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	CHECK_EQ(read(accepted, &c, 1), -1);
	CHECK_EQ(errno, ECONNRESET);
	close(accepted);
	close(listener);
	free_fixture(&f);
	return 0;
}

static int test_close_batch_rst(void)
{
	return close_batch_rst(0);
}

/* Kernel 6.7+ (this suite's machines): the option goes through the ring. */
static int test_close_batch_rst_in_ring(void)
{
	return close_batch_rst(1);
}

static int test_waker(void)
{
	struct fixture f;
	struct pollfd pfd;
	int32_t pair[2], port, out[3];
	int listener = test_bound_socket(4, &port), fd;
	char byte;

	CHECK(listener >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_socketpair(pair), 0);
	CHECK_EQ(uc_waker_start(f.r, pair[1]), 0);
	CHECK_EQ(uc_waker_start(f.r, pair[1]), -EBUSY);
	set_slot(&f, 6, port, 0, 1);
	fd = start_connect(&f, 6);
	CHECK(fd >= 0);
	pfd.fd = pair[0];
	pfd.events = POLLIN;
	CHECK_EQ(poll(&pfd, 1, 5000), 1); /* 5 s: a hang guard */
	CHECK_EQ(read(pair[0], &byte, 1), 1);
	CHECK_EQ(uc_reap(f.r, out, 1), 1);
	CHECK_EQ(out[2], 0);
	close(fd);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	CHECK(is_closed(pair[1])); /* the ring owned the writing end */
	close(pair[0]);
	close(listener);
	free_fixture(&f);
	return 0;
}

static int test_ring_close_closes_in_flight(void)
{
	struct fixture f;
	int32_t port, ids[1] = { 7 };
	int filler, listener = blackhole(&port, &filler), fd;

	CHECK(listener >= 0);
	CHECK_EQ(open_fixture(&f), 0);
	set_slot(&f, 7, port, 0, 1);
	fd = start_connect(&f, 7);
	CHECK(fd >= 0);
	CHECK_EQ(uc_ring_close(f.r, ids, 1), 1);
	CHECK(is_closed(fd));
	CHECK_EQ(slot_row(&f, 7)[UC_S_FD], -1);
	close(filler);
	close(listener);
	free_fixture(&f);
	return 0;
}

/* A watch fires on data without consuming it, and on the peer's FIN; an
 * unwatched one completes -ECANCELED; the removal's own CQE is not reported. */
static int test_watch_batch(void)
{
	struct fixture f;
	int32_t a[2], b[2], c[2], pairs[6], tags[1] = { 9 }, out[3];
	int seen = 0, i;
	char byte;

	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_socketpair(a), 0);
	CHECK_EQ(uc_socketpair(b), 0);
	CHECK_EQ(uc_socketpair(c), 0);
	pairs[0] = a[0];
	pairs[1] = 7;
	pairs[2] = b[0];
	pairs[3] = 8;
	pairs[4] = c[0];
	pairs[5] = 9;
	CHECK_EQ(uc_prep_watch_batch(f.r, pairs, 3), 3);
	CHECK_EQ(uc_submit(f.r), 3);
	CHECK_EQ(uc_reap(f.r, out, 1), 0); /* nothing happened yet */
	CHECK_EQ(write(a[1], "x", 1), 1);
	close(b[1]);
	CHECK_EQ(uc_prep_unwatch_batch(f.r, tags, 1), 1);
	CHECK_EQ(uc_submit(f.r), 1);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(reap_one(&f, out), 1);
		CHECK_EQ(out[0], -1);
		if (out[1] == 7)
			CHECK(out[2] > 0 && (out[2] & POLLIN));
		else if (out[1] == 8)
			CHECK(out[2] > 0 && (out[2] & POLLRDHUP));
		else
			CHECK(out[1] == 9 && out[2] == -ECANCELED);
		seen |= 1 << (out[1] - 7);
	}
	CHECK_EQ(seen, 7);
	CHECK_EQ(uc_reap(f.r, out, 1), 0);
	CHECK_EQ(read(a[0], &byte, 1), 1); /* the byte is still there */
	CHECK_EQ(byte, 'x');
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(c[0]);
	close(c[1]);
	free_fixture(&f);
	return 0;
}

static int test_watch_bad_args(void)
{
	struct fixture f;
	int32_t pairs[2] = { 0, -1 }, tags[1] = { -1 };

	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_prep_watch_batch(f.r, NULL, 1), -EINVAL);
	CHECK_EQ(uc_prep_watch_batch(f.r, pairs, -1), -EINVAL);
	CHECK_EQ(uc_prep_watch_batch(f.r, pairs, 1), -EINVAL); /* a negative tag */
	CHECK_EQ(uc_prep_unwatch_batch(f.r, NULL, 1), -EINVAL);
	CHECK_EQ(uc_prep_unwatch_batch(f.r, tags, 1), -EINVAL);
	CHECK_EQ(io_uring_sq_ready(&f.r->ring), 0); /* nothing queued */
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	free_fixture(&f);
	return 0;
}

/* A full queue takes a prefix of the watches. */
static int test_watch_batch_partial(void)
{
	struct fixture f;
	int32_t pair[2], pairs[2 * (CAPACITY + 2)];
	int i;

	CHECK_EQ(open_fixture(&f), 0);
	CHECK_EQ(uc_socketpair(pair), 0);
	for (i = 0; i < CAPACITY + 2; i++) {
		pairs[2 * i] = pair[0];
		pairs[2 * i + 1] = i;
	}
	CHECK_EQ(uc_prep_watch_batch(f.r, pairs, CAPACITY + 2), CAPACITY); /* an 8-entry queue */
	CHECK_EQ(uc_submit(f.r), CAPACITY);
	CHECK_EQ(uc_prep_watch_batch(f.r, pairs + 2 * CAPACITY, 2), 2);
	CHECK_EQ(uc_submit(f.r), 2);
	CHECK_EQ(uc_ring_close(f.r, NULL, 0), 0);
	close(pair[0]);
	close(pair[1]);
	free_fixture(&f);
	return 0;
}

static const struct uc_test tests[] = {
	{ "ring_open_bad_args", test_ring_open_bad_args },
	{ "ring_info", test_ring_info },
	{ "connect", test_connect },
	{ "connect_refused_closes_socket", test_connect_refused_closes_socket },
	{ "stale_generation_not_reported", test_stale_generation_not_reported },
	{ "prep_bad_ids", test_prep_bad_ids },
	{ "prep_partial", test_prep_partial },
	{ "prep_bad_family", test_prep_bad_family },
	{ "linked_timeout", test_linked_timeout },
	{ "cancel_batch", test_cancel_batch },
	{ "cancel_bad_ids", test_cancel_bad_ids },
	{ "reap_bad_args", test_reap_bad_args },
	{ "close_batch", test_close_batch },
	{ "close_batch_partial_and_pending", test_close_batch_partial_and_pending },
	{ "close_batch_rst", test_close_batch_rst },
	{ "close_batch_rst_in_ring", test_close_batch_rst_in_ring },
	{ "waker", test_waker },
	{ "ring_close_closes_in_flight", test_ring_close_closes_in_flight },
	{ "watch_batch", test_watch_batch },
	{ "watch_bad_args", test_watch_bad_args },
	{ "watch_batch_partial", test_watch_batch_partial },
};

int main(int argc, char **argv)
{
	return uc_run_tests(tests, (int)(sizeof(tests) / sizeof(tests[0])), argc, argv);
}
