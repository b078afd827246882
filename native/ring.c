/*
 * uring-connect's io_uring backend: batched TCP/unix connects, cancels and
 * closes over liburing 2.3. Only ring work lives here; what needs no ring
 * (dup, close here and now, the wake-up socketpair, RLIMIT_NOFILE) is in
 * sys.c, which this file includes, so one library holds both.
 *
 * Compiled at import by bun:ffi's `cc` (TinyCC), or by gcc for the
 * sanitizer build (test/native/sanitize.sh). Every export works
 * on a batch: JS fills shared typed arrays, makes one call, and reads the
 * results back. No export sets errno, prints or exits: each returns a count
 * >= 0 or -errno. All state hangs off struct uc_ring.
 *
 * The uc_prep_* calls only queue SQEs; uc_submit alone enters the kernel,
 * so JS queues a turn's connects, cancels and closes and submits them with
 * one io_uring_enter. Each uc_prep_* consumes a prefix of its batch and
 * stops when the submission queue is full: JS submits, then calls again
 * with the rest.
 *
 * Shared memory, owned by JS and registered at uc_ring_open (it must stay
 * alive until uc_ring_close returns). src/layout.ts mirrors this layout:
 * change both together.
 *
 *   slots: int32[capacity * UC_SLOT_WORDS]
 *     +0 family       AF_INET | AF_INET6 | AF_UNIX
 *     +1 addrlen      bytes of the peer sockaddr
 *     +2 local_len    bytes of the local sockaddr to bind, 0 = none
 *     +3 flags        UC_F_* below
 *     +4 timeout_ms   linked timeout, 0 = none
 *     +5 generation   bumped by JS each time the slot is reused
 *     +6 fd           written here; -1 once closed by the shim
 *     +7 result       0, or -errno when the socket could not be prepared
 *
 *   addrs: uint8[capacity * UC_ADDR_BYTES]
 *     [0, 128)   peer sockaddr     [128, 256)   local sockaddr
 *
 *   completions: int32[max * 3] written by uc_reap: slot, generation, res
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <liburing.h>
#include "include/arch.h"
/* sys.c in this translation unit rather than as a second source: TinyCC
 * parses every header again for each source file, which cost ~3.5 ms at
 * every start (min of 15: 13.7 ms for one unit, 16.9 ms for two). */
#include "sys.c"

#define UC_SLOT_WORDS 8
#define UC_ADDR_BYTES 256
#define UC_LOCAL_OFFSET 128

enum {
	UC_S_FAMILY,
	UC_S_ADDRLEN,
	UC_S_LOCAL_LEN,
	UC_S_FLAGS,
	UC_S_TIMEOUT_MS,
	UC_S_GENERATION,
	UC_S_FD,
	UC_S_RESULT
};

#define UC_F_NODELAY 1         /* TCP_NODELAY */
#define UC_F_BIND_NO_PORT 2    /* IP_BIND_ADDRESS_NO_PORT before bind */
#define UC_F_KEEPALIVE 4       /* SO_KEEPALIVE */

/* Optional setup flags JS may allow (tests switch them off to prove the
 * degraded paths an older kernel takes). */
#define UC_OPT_SUBMIT_ALL 1
#define UC_OPT_SINGLE_ISSUER 2
#define UC_OPT_CQSIZE 4
#define UC_OPT_SOCK_CMD 8 /* SO_LINGER of reset closes through the ring, where the kernel can */

/* user_data: low 32 bits slot, next 30 bits generation, top bit marks the
 * shim's own SQEs (link timeouts, cancels) whose CQEs JS never sees. */
#define UC_GENERATION_MASK 0x3fffffff
#define UC_INTERNAL (1ULL << 63)
#define UC_CLOSE (UC_INTERNAL | 0xfffffffeULL) /* closes sent to kernel workers */
#define UC_UNWATCH (UC_INTERNAL | 0xfffffffdULL) /* removals of watches' polls */
#define UC_LINGER (UC_INTERNAL | 0xfffffffcULL) /* SO_LINGER set through the ring before a reset close */

/* Kernel 6.7 uapi, not in liburing 2.3's io_uring.h: IORING_OP_URING_CMD on a
 * socket with this cmd_op runs setsockopt(). */
#ifndef SOCKET_URING_OP_SETSOCKOPT
#define SOCKET_URING_OP_SETSOCKOPT 3
#endif
/* A watch's poll: this bit, and its tag in the low 31 bits. JS sees its
 * completion as slot -1 with the tag in the generation word. */
#define UC_WATCH (1ULL << 62)
#define UC_TAG_MASK 0x7fffffffULL
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000 /* Linux's; <poll.h> shows it only under _GNU_SOURCE */
#endif

/* Opcodes the shim uses, all checked by the probe. */
#define UC_OPS_REQUIRED 5
static const int uc_required_ops[UC_OPS_REQUIRED] = {
	IORING_OP_CONNECT, IORING_OP_LINK_TIMEOUT, IORING_OP_ASYNC_CANCEL,
	IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE
};

struct uc_ring {
	struct io_uring ring;
	int32_t *slots;
	uint8_t *addrs;
	uint32_t capacity;
	struct __kernel_timespec *timeouts; /* per slot, read by the kernel at submit */
	unsigned setup_flags;
	int efd;
	pthread_t waker;
	int waker_running;
	volatile int stopping;
	volatile int wake_pending; /* 1 while a wake-up is queued and not yet reaped */
	int32_t overflow_flushes;  /* times uc_reap found the CQ overflowed */
	int closes_pending;        /* closes queued whose completion is not reaped */
	int notify_fd;             /* the waker writes a byte here; JS's event loop polls the peer */
	int linger_in_ring;        /* reset closes set SO_LINGER through the ring (uc_probe_sock_cmd) */
};

/* SO_LINGER {1, 0}: read by the kernel when a queued setsockopt runs. */
static const struct linger uc_rst_linger = { 1, 0 };

/*
 * Fill sqe with setsockopt(fd, SOL_SOCKET, SO_LINGER, {1, 0}) as an
 * IORING_OP_URING_CMD, by hand: liburing 2.3 has no io_uring_prep_cmd_sock.
 */
static void uc_prep_linger_rst(struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = SOCKET_URING_OP_SETSOCKOPT;
	sqe->addr = (uint64_t)SOL_SOCKET | ((uint64_t)SO_LINGER << 32); /* level, optname */
	sqe->splice_fd_in = (int32_t)sizeof(uc_rst_linger);           /* optlen */
	sqe->addr3 = (uint64_t)(uintptr_t)&uc_rst_linger;              /* optval */
	io_uring_sqe_set_data64(sqe, UC_LINGER);
}

/*
 * Whether this kernel runs setsockopt through the ring (6.7 and later):
 * tried once, at open, on a socket of its own. Before any other SQE, so
 * the one completion waited for here is its own.
 */
static int uc_probe_sock_cmd(struct uc_ring *r)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;

	if (fd < 0)
		return 0;
	sqe = io_uring_get_sqe(&r->ring); /* the ring is empty: never NULL */
	uc_prep_linger_rst(sqe, fd);
	if (io_uring_submit_and_wait(&r->ring, 1) >= 0 && io_uring_wait_cqe(&r->ring, &cqe) == 0) {
		ok = cqe->user_data == UC_LINGER && cqe->res == 0;
		io_uring_cqe_seen(&r->ring, cqe);
	}
	close(fd);
	return ok;
}

/* Post sqe's completion only if it fails, where the kernel can skip successes (5.17+). */
static void uc_skip_success(const struct uc_ring *r, struct io_uring_sqe *sqe)
{
	if (r->ring.features & IORING_FEAT_CQE_SKIP)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

static void uc_cq_signal(struct uc_ring *r, int on);

static inline uint64_t uc_user_data(uint32_t slot, int32_t generation)
{
	return ((uint64_t)(generation & UC_GENERATION_MASK) << 32) | slot;
}

static unsigned uc_pow2_at_least(unsigned n)
{
	unsigned p = 1;
	while (p < n && p < (1u << 20))
		p <<= 1;
	return p;
}

/*
 * uc_ring_open - create a ring for up to `capacity` slots
 *   entries: SQ size hint in SQEs (clamped by the kernel); capacity: slots
 *   in the shared arrays; slots/addrs: the shared arrays described at the
 *   top; allow: UC_OPT_* setup flags to try; err: int32[2] out.
 * RETURNS the ring handle, or NULL with err[0] = -errno and err[1] = the
 *   stage that failed.
 * ERRORS stage 1, io_uring_setup: -EPERM/-EACCES denied (seccomp, sysctl
 *   kernel.io_uring_disabled), -ENOSYS no io_uring in this kernel,
 *   -ENOMEM locked memory (RLIMIT_MEMLOCK), -EINVAL even without the
 *   optional flags. Stage 2, probe: -ENOSYS. Stage 3, an opcode in
 *   uc_required_ops is missing: err[0] is that opcode (positive). Stage 4:
 *   -EINVAL a NULL array or a zero count, -ENOMEM.
 * MEMORY slots and addrs stay owned by JS, which keeps them alive and in
 *   place until uc_ring_close returns. The handle is freed by uc_ring_close.
 * NOTES tries the best flags first and retries with fewer on EINVAL, so an
 *   older kernel gets a working ring without the newer flags.
 */
struct uc_ring *uc_ring_open(uint32_t entries, uint32_t capacity, int32_t *slots,
			     uint8_t *addrs, uint32_t allow, int32_t *err)
{
	struct uc_ring *r;
	struct io_uring_params p;
	struct io_uring_probe *probe;
	unsigned wanted[3];
	int i, ret = -EINVAL;

	err[0] = 0;
	err[1] = 0;
	if (!slots || !addrs || capacity == 0 || entries == 0) {
		err[0] = -EINVAL;
		err[1] = 4;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r)
		r->timeouts = calloc(capacity, sizeof(*r->timeouts));
	if (!r || !r->timeouts) {
		free(r);
		err[0] = -ENOMEM;
		err[1] = 4;
		return NULL;
	}
	r->slots = slots;
	r->addrs = addrs;
	r->capacity = capacity;
	r->efd = -1;
	r->notify_fd = -1;

	wanted[0] = IORING_SETUP_CLAMP;
	if (allow & UC_OPT_CQSIZE)
		wanted[0] |= IORING_SETUP_CQSIZE;
	if (allow & UC_OPT_SUBMIT_ALL)
		wanted[0] |= IORING_SETUP_SUBMIT_ALL;
	if (allow & UC_OPT_SINGLE_ISSUER)
		wanted[0] |= IORING_SETUP_SINGLE_ISSUER;
	wanted[1] = wanted[0] & ~IORING_SETUP_SINGLE_ISSUER;
	wanted[2] = wanted[1] & ~IORING_SETUP_SUBMIT_ALL;
	for (i = 0; i < 3; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = wanted[i];
		/* Each connect may post two CQEs (connect + linked timeout) and a
		 * cancel a third: size the CQ so it does not overflow in practice. */
		p.cq_entries = uc_pow2_at_least(capacity * 4);
		if (p.cq_entries < 2 * entries)
			p.cq_entries = uc_pow2_at_least(2 * entries);
		ret = io_uring_queue_init_params(entries, &r->ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0) {
		err[0] = ret;
		err[1] = 1;
		goto fail;
	}
	r->setup_flags = p.flags;

	probe = io_uring_get_probe_ring(&r->ring);
	if (!probe) {
		err[0] = -ENOSYS;
		err[1] = 2;
		goto fail_ring;
	}
	for (i = 0; i < UC_OPS_REQUIRED; i++) {
		if (!io_uring_opcode_supported(probe, uc_required_ops[i])) {
			err[0] = uc_required_ops[i];
			err[1] = 3;
			io_uring_free_probe(probe);
			goto fail_ring;
		}
	}
	io_uring_free_probe(probe);
	r->linger_in_ring = (allow & UC_OPT_SOCK_CMD) && uc_probe_sock_cmd(r);
	return r;

fail_ring:
	io_uring_queue_exit(&r->ring);
fail:
	free(r->timeouts);
	free(r);
	return NULL;
}

/*
 * uc_ring_info - describe the ring for diagnostics and tests
 *   out: int32[6] = sq entries, cq entries, setup flags, kernel features,
 *   times the completion queue overflowed and was flushed, and 1 when
 *   reset closes set SO_LINGER through the ring (0: a setsockopt call).
 * RETURNS 6, the number of values written.
 * ERRORS none.
 * MEMORY out is written during the call only.
 */
int uc_ring_info(struct uc_ring *r, int32_t *out)
{
	out[0] = (int32_t)r->ring.sq.ring_entries;
	out[1] = (int32_t)r->ring.cq.ring_entries;
	out[2] = (int32_t)r->setup_flags;
	out[3] = (int32_t)r->ring.features;
	out[4] = r->overflow_flushes;
	out[5] = r->linger_in_ring;
	return 6;
}

static int uc_set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) ? -errno : 0;
}

/* Whether ids[0..n) are all slot indexes of this ring (n >= 0, ids non-NULL when n > 0). */
static int uc_ids_valid(const struct uc_ring *r, const int32_t *ids, int n)
{
	int i;

	if (n < 0 || (n > 0 && !ids))
		return 0;
	for (i = 0; i < n; i++)
		if (ids[i] < 0 || (uint32_t)ids[i] >= r->capacity)
			return 0;
	return 1;
}

/* Create and configure the socket for one slot. Returns the fd or -errno. */
static int uc_open_socket(struct uc_ring *r, uint32_t slot)
{
	int32_t *s = r->slots + (size_t)slot * UC_SLOT_WORDS;
	uint8_t *a = r->addrs + (size_t)slot * UC_ADDR_BYTES;
	int family = s[UC_S_FAMILY], flags = s[UC_S_FLAGS], local_len = s[UC_S_LOCAL_LEN];
	int inet = family == AF_INET || family == AF_INET6;
	int fd, ret = 0;

	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return -EAFNOSUPPORT;
	if (s[UC_S_ADDRLEN] <= 0 || s[UC_S_ADDRLEN] > UC_LOCAL_OFFSET ||
	    local_len < 0 || local_len > UC_ADDR_BYTES - UC_LOCAL_OFFSET)
		return -EINVAL;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (inet && (flags & UC_F_NODELAY))
		ret = uc_set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (!ret && (flags & UC_F_KEEPALIVE))
		ret = uc_set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	if (!ret && inet && (flags & UC_F_BIND_NO_PORT))
		ret = uc_set_int(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
	if (!ret && local_len > 0 &&
	    bind(fd, (struct sockaddr *)(a + UC_LOCAL_OFFSET), (socklen_t)local_len))
		ret = -errno;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * uc_prep_connect_batch - open sockets and queue connects for a batch of slots
 *   ids: int32[n] slot indexes; each slot's family, addresses, flags,
 *   timeout and generation are already written by JS.
 * RETURNS how many ids were consumed (a prefix of ids). For each consumed
 *   slot, fd and result are written: result 0 means a connect SQE (plus a
 *   linked timeout SQE when timeout_ms > 0) is queued; result -errno means
 *   the socket could not be opened, nothing is queued and fd is -1. Fewer
 *   than n are consumed only when the submission queue is full: nothing is
 *   opened for the rest, and JS submits and calls again with them.
 * ERRORS -EINVAL n < 0, ids NULL, or any id out of range: checked before
 *   anything is opened, so nothing is. Per slot, in its result word:
 *   -EMFILE/-ENFILE no free fd, -EAFNOSUPPORT an unknown family, -EINVAL
 *   an address length out of range, -EADDRNOTAVAIL/-EADDRINUSE from bind,
 *   -errno of setsockopt.
 * MEMORY the kernel reads the sockaddr and timespec at submit; JS keeps the
 *   slot's region untouched until the slot's completion is reaped. ids is
 *   read during the call only. A connected fd is JS's once reaped.
 * NOTES queues only: the connects reach the kernel at the next uc_submit.
 */
int uc_prep_connect_batch(struct uc_ring *r, const int32_t *ids, int n)
{
	int i;

	if (!uc_ids_valid(r, ids, n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)ids[i];
		int32_t *s = r->slots + (size_t)slot * UC_SLOT_WORDS;
		int timeout_ms = s[UC_S_TIMEOUT_MS], fd;
		struct io_uring_sqe *sqe;

		/* The connect and its linked timeout go in together or not at all. */
		if (io_uring_sq_space_left(&r->ring) < (timeout_ms > 0 ? 2u : 1u))
			return i;
		fd = uc_open_socket(r, slot);
		s[UC_S_FD] = fd < 0 ? -1 : fd;
		s[UC_S_RESULT] = fd < 0 ? fd : 0;
		if (fd < 0)
			continue;

		sqe = io_uring_get_sqe(&r->ring);
		io_uring_prep_connect(sqe, fd,
				      (struct sockaddr *)(r->addrs + (size_t)slot * UC_ADDR_BYTES),
				      (socklen_t)s[UC_S_ADDRLEN]);
		io_uring_sqe_set_data64(sqe, uc_user_data(slot, s[UC_S_GENERATION]));
		if (timeout_ms > 0) {
			struct __kernel_timespec *ts = &r->timeouts[slot];

			ts->tv_sec = timeout_ms / 1000;
			ts->tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
			sqe->flags |= IOSQE_IO_LINK;
			sqe = io_uring_get_sqe(&r->ring);
			io_uring_prep_link_timeout(sqe, ts, 0);
			io_uring_sqe_set_data64(sqe, UC_INTERNAL | slot);
		}
	}
	return n;
}

/*
 * uc_submit - submit every queued SQE
 * RETURNS SQEs submitted.
 * ERRORS -errno of io_uring_enter; EINTR is retried here. -EBUSY/-EAGAIN
 *   are transient (the CQ is backed up, or the kernel is short of memory):
 *   JS reaps and submits again.
 * MEMORY none beyond what each queued SQE's prep call documents.
 */
int uc_submit(struct uc_ring *r)
{
	int ret;

	do
		ret = io_uring_submit(&r->ring);
	while (ret == -EINTR);
	return ret;
}

/*
 * A completion: the socket of a failed connect is closed here, a close's is
 * counted. RETURNS the slot's row, or NULL for the shim's own completions
 * and stale ones (a generation that is not the slot's).
 */
static int32_t *uc_connect_cqe(struct uc_ring *r, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t slot = (uint32_t)ud;
	int32_t *s;

	if (ud == UC_CLOSE)
		r->closes_pending--;
	if ((ud & (UC_INTERNAL | UC_WATCH)) || slot >= r->capacity)
		return NULL;
	s = r->slots + (size_t)slot * UC_SLOT_WORDS;
	if ((uint32_t)(ud >> 32) != (uint32_t)(s[UC_S_GENERATION] & UC_GENERATION_MASK))
		return NULL;
	if (cqe->res < 0 && s[UC_S_FD] >= 0) {
		close(s[UC_S_FD]);
		s[UC_S_FD] = -1;
	}
	return s;
}

/*
 * uc_reap - copy up to `max` completions into out (slot, generation, res)
 *   out: int32[max * 3]; res is 0 for a connected slot or -errno.
 * RETURNS the number of triples written. A failed connect's socket is
 *   closed here (its fd set to -1), so JS only ever sees fds that connected.
 *   Completions of the shim's own SQEs are consumed and not reported.
 * ERRORS -EINVAL max < 0, or out NULL with max > 0.
 * MEMORY out is written during the call only. A reported slot's region is
 *   JS's again: the kernel no longer reads it.
 * NOTES re-arms the wake-up first: a completion posted after this point
 *   raises a new one, so none is missed. When the kernel has kept
 *   overflowed completions (IORING_SQ_CQ_OVERFLOW), they are flushed in.
 */
int uc_reap(struct uc_ring *r, int32_t *out, int max)
{
	struct io_uring_cqe *cqes[256];
	int written = 0;

	if (max < 0 || (max > 0 && !out))
		return -EINVAL;
	/* Order matters (see uc_waker_main): clear the pending flag, then let
	 * the kernel signal the eventfd again, then a full fence so every
	 * completion posted while signalling was off is seen by the peek below. */
	uc_xchg(&r->wake_pending, 0);
	uc_cq_signal(r, 1);
	uc_full_fence();
	while (written < max) {
		unsigned want = (unsigned)(max - written), got, i;

		/* Completions the kernel kept aside because the CQ was full
		 * (IORING_FEAT_NODROP) come back in only through io_uring_enter. */
		if (IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW) {
			io_uring_get_events(&r->ring);
			r->overflow_flushes++;
		}
		if (want > 256)
			want = 256;
		got = io_uring_peek_batch_cqe(&r->ring, cqes, want);
		if (got == 0)
			break;
		for (i = 0; i < got; i++) {
			uint64_t ud = cqes[i]->user_data;
			int32_t slot, generation;

			if ((ud & (UC_INTERNAL | UC_WATCH)) == UC_WATCH) {
				/* A watch: slot -1, its tag where a connect has its generation. */
				slot = -1;
				generation = (int32_t)(ud & UC_TAG_MASK);
			} else {
				int32_t *s = uc_connect_cqe(r, cqes[i]);

				if (!s)
					continue;
				slot = (int32_t)(ud & 0xffffffff);
				generation = s[UC_S_GENERATION];
			}
			out[written * 3] = slot;
			out[written * 3 + 1] = generation;
			out[written * 3 + 2] = cqes[i]->res;
			written++;
		}
		io_uring_cq_advance(&r->ring, got);
	}
	return written;
}

/* Queue a cancel of the slot's connect. RETURNS 0, or -EBUSY when the SQ is full. */
static int uc_prep_cancel(struct uc_ring *r, uint32_t slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, uc_user_data(slot, r->slots[(size_t)slot * UC_SLOT_WORDS + UC_S_GENERATION]), 0);
	io_uring_sqe_set_data64(sqe, UC_INTERNAL | slot);
	return 0;
}

/*
 * uc_prep_cancel_batch - queue cancels of the connects of n slots
 *   ids: int32[n] slot indexes whose connects are in flight.
 * RETURNS how many ids were consumed (a prefix of ids): a cancel is queued
 *   for each. Fewer than n only when the submission queue is full: JS
 *   submits and calls again with the rest. Each cancelled connect still
 *   posts its own completion (-ECANCELED, or its result if it won the
 *   race); the cancel's own completion is consumed by uc_reap.
 * ERRORS -EINVAL n < 0, ids NULL, or any id out of range: checked first,
 *   so nothing is queued.
 * MEMORY ids is read during the call only.
 * NOTES queues only: the cancels reach the kernel at the next uc_submit.
 */
int uc_prep_cancel_batch(struct uc_ring *r, const int32_t *ids, int n)
{
	int i;

	if (!uc_ids_valid(r, ids, n))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (uc_prep_cancel(r, (uint32_t)ids[i]))
			return i;
	return n;
}

/*
 * uc_prep_close_batch - queue closes of n fds, each run in a kernel worker
 *   fds: int32[n]; negative entries are skipped. rst != 0: each socket is
 *   reset instead of closed with a FIN (as sys.c's uc_close_now does):
 *   SO_LINGER {1, 0} is set by a setsockopt queued ahead of the close and
 *   run inside the submit, where the kernel can (6.7+, found at open);
 *   otherwise by a setsockopt call here. Either way the close, which runs
 *   the teardown, drops the socket's last reference in the worker.
 * RETURNS how many entries of fds were consumed (a prefix of fds): each
 *   consumed fd's close is queued. Fewer than n only when the submission
 *   queue is full: JS submits and calls again with the rest.
 * ERRORS -EINVAL n < 0, or fds NULL with n > 0. A close that fails in the
 *   kernel is counted in the ring and otherwise dropped: the fd is gone.
 * MEMORY fds is read during the call only; every consumed fd belongs to the
 *   ring from the call on, and the caller must not use it again.
 * NOTES queues only: the closes reach the kernel at the next uc_submit.
 *   On loopback, closing a connection runs the peer's teardown inside
 *   the closing call: about 40% of a connect-and-reset cycle. IOSQE_ASYNC
 *   sends each close to an io-wq worker, which the scheduler may run on
 *   another core, so the submitting thread goes on opening connections.
 *   Each close is counted until uc_reap consumes its completion
 *   (uc_closes_pending), so the ring never exits with closes pending (the
 *   exit would cancel them and leave their sockets open: found by the soak
 *   test).
 */
int uc_prep_close_batch(struct uc_ring *r, const int32_t *fds, int n, int rst)
{
	int i;

	if (n < 0 || (n > 0 && !fds))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe;
		int linger_sqe = rst && r->linger_in_ring;

		if (fds[i] < 0)
			continue;
		/* The option and its close go in together or not at all. */
		if (io_uring_sq_space_left(&r->ring) < (linger_sqe ? 2u : 1u))
			return i;
		if (linger_sqe) {
			/* Run at submit, not in the worker: a request holds a
			 * reference to its socket that is dropped on the
			 * submitting thread, so a setsockopt finished in the
			 * worker left the last reference, and with it the whole
			 * reset teardown, to the JS thread. Hard-linked so the
			 * close runs even if the option failed; only a failure
			 * posts a CQE. */
			sqe = io_uring_get_sqe(&r->ring);
			uc_prep_linger_rst(sqe, fds[i]);
			sqe->flags |= IOSQE_IO_HARDLINK;
			uc_skip_success(r, sqe);
		} else if (rst) {
			uc_set_linger_rst(fds[i]);
		}
		sqe = io_uring_get_sqe(&r->ring);
		io_uring_prep_close(sqe, fds[i]);
		sqe->flags |= IOSQE_ASYNC;
		io_uring_sqe_set_data64(sqe, UC_CLOSE);
		r->closes_pending++;
	}
	return n;
}

/* Whether the n tags at tags[0], tags[stride], ... are all valid (n >= 0, tags non-NULL when n > 0, none negative). */
static int uc_tags_valid(const int32_t *tags, int n, int stride)
{
	int i;

	if (n < 0 || (n > 0 && !tags))
		return 0;
	for (i = 0; i < n; i++)
		if (tags[i * stride] < 0)
			return 0;
	return 1;
}

/*
 * uc_prep_watch_batch - queue a one-shot poll of each of n connected sockets
 *   pairs: int32[2n], (fd, tag) for each; a tag (0..2^31-1) names the
 *   watch. The poll waits for readable data, the peer's FIN (POLLRDHUP),
 *   an error or a hang-up, whichever comes first.
 * RETURNS how many pairs were consumed (a prefix): a poll is queued for
 *   each. Fewer than n only when the submission queue is full. Each
 *   completes once, reported by uc_reap as slot -1 with the tag in the
 *   generation word and res the poll's revents (> 0), -ECANCELED once
 *   removed, or -errno (-EBADF for an fd closed before the submit).
 * ERRORS -EINVAL n < 0, pairs NULL with n > 0, a negative tag: checked
 *   first, so nothing is queued.
 * MEMORY pairs is read during the call only. An armed poll holds a
 *   reference to its socket: a closed fd's connection stays open until the
 *   poll completes or is removed (uc_prep_unwatch_batch).
 * NOTES queues only: the polls reach the kernel at the next uc_submit.
 *   Nothing is read from the socket: data stays for its next reader.
 */
int uc_prep_watch_batch(struct uc_ring *r, const int32_t *pairs, int n)
{
	int i;

	if (!uc_tags_valid(pairs ? pairs + 1 : NULL, n, 2))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

		if (!sqe)
			return i;
		io_uring_prep_poll_add(sqe, pairs[2 * i], POLLIN | POLLRDHUP | POLLERR | POLLHUP);
		io_uring_sqe_set_data64(sqe, UC_WATCH | (uint64_t)pairs[2 * i + 1]);
	}
	return n;
}

/*
 * uc_prep_unwatch_batch - queue the removal of n watches' polls
 *   tags: int32[n], as given to uc_prep_watch_batch.
 * RETURNS how many were consumed (a prefix). A removed poll completes with
 *   -ECANCELED (or its revents, if it fired first); a tag with no armed
 *   poll is a no-op. The removal's own completion is consumed by uc_reap
 *   (and, where the kernel can skip it, posted only when it fails).
 * ERRORS -EINVAL n < 0, tags NULL with n > 0, a negative tag: nothing queued.
 * MEMORY tags is read during the call only.
 * NOTES queues only. Queue it before the close of the watched fd in the
 *   same batch, so the poll lets go of the socket.
 */
int uc_prep_unwatch_batch(struct uc_ring *r, const int32_t *tags, int n)
{
	int i;

	if (!uc_tags_valid(tags, n, 1))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

		if (!sqe)
			return i;
		io_uring_prep_poll_remove(sqe, UC_WATCH | (uint64_t)tags[i]);
		io_uring_sqe_set_data64(sqe, UC_UNWATCH);
		/* The removed poll reports itself; the removal's own success is
		 * noise (a CQE, and maybe a wake-up, per acquire). */
		uc_skip_success(r, sqe);
	}
	return n;
}

/*
 * uc_closes_pending - closes queued by uc_prep_close_batch whose completion
 *   uc_reap has not consumed yet: their fds may still be open.
 * RETURNS that count (>= 0).
 * ERRORS none.
 * MEMORY none.
 */
int uc_closes_pending(struct uc_ring *r)
{
	return r->closes_pending;
}

/*
 * Switch the kernel's eventfd signal for new completions on or off
 * (IORING_CQ_EVENTFD_DISABLED, Linux 5.8+; without it, always on).
 * Only the waker (off) and uc_reap (on) write these flags.
 */
static void uc_cq_signal(struct uc_ring *r, int on)
{
	unsigned flags;

	if (!r->ring.cq.kflags)
		return;
	flags = IO_URING_READ_ONCE(*r->ring.cq.kflags);
	flags = on ? flags & ~IORING_CQ_EVENTFD_DISABLED : flags | IORING_CQ_EVENTFD_DISABLED;
	IO_URING_WRITE_ONCE(*r->ring.cq.kflags, flags);
}

/*
 * The waker thread: sleep on the eventfd, then wake JS once. Signalling is
 * switched off before the wake-up is marked pending, and uc_reap marks it
 * not pending before switching signalling back on; in every interleaving,
 * signalling is off only while a wake-up is pending or about to be raised,
 * so no completion is left without one. While JS is busy, completions cost
 * the kernel no eventfd signal and this thread no wake-up at all.
 */
static void *uc_waker_main(void *arg)
{
	struct uc_ring *r = arg;
	uint64_t count;
	char byte = 1;

	while (!r->stopping) {
		if (read(r->efd, &count, sizeof(count)) < 0 && errno != EINTR)
			break;
		if (r->stopping)
			break;
		uc_cq_signal(r, 0);
		/* A full socket already holds an unread wake-up: nothing is lost. */
		if (uc_xchg(&r->wake_pending, 1) == 0 && write(r->notify_fd, &byte, 1) < 0 && errno != EAGAIN)
			break;
	}
	return NULL;
}

/*
 * uc_waker_start - wake JS whenever completions are posted
 *   notify_fd: the writing end of a uc_socketpair; the ring owns it from
 *   here and closes it in uc_ring_close. JS's event loop polls the other
 *   end like any socket, so wake-ups take turns with timers and other I/O
 *   instead of jumping the queue. At most one wake-up is outstanding until
 *   uc_reap runs.
 * RETURNS 0.
 * ERRORS -EBUSY the waker already runs; -errno of eventfd (-EMFILE),
 *   io_uring_register_eventfd or pthread_create (-EAGAIN).
 * MEMORY notify_fd belongs to the ring from the call on, even when it
 *   fails; uc_ring_close closes it.
 * NOTES an eventfd registered with the ring is read by a thread of the
 *   shim's own, so the JS thread never blocks in the kernel.
 */
int uc_waker_start(struct uc_ring *r, int notify_fd)
{
	int ret;

	if (r->waker_running)
		return -EBUSY;
	r->notify_fd = notify_fd;
	r->efd = eventfd(0, EFD_CLOEXEC);
	if (r->efd < 0)
		return -errno;
	ret = io_uring_register_eventfd(&r->ring, r->efd);
	if (ret < 0)
		goto fail;
	r->stopping = 0;
	ret = -pthread_create(&r->waker, NULL, uc_waker_main, r);
	if (ret < 0) {
		io_uring_unregister_eventfd(&r->ring);
		goto fail;
	}
	r->waker_running = 1;
	return 0;
fail:
	close(r->efd);
	r->efd = -1;
	return ret;
}

static void uc_waker_stop(struct uc_ring *r)
{
	uint64_t one = 1;

	if (!r->waker_running)
		return;
	r->stopping = 1;
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* cannot happen for a valid eventfd; join would hang, so detach */
		pthread_detach(r->waker);
	} else {
		pthread_join(r->waker, NULL);
	}
	r->waker_running = 0;
}

/*
 * Before the ring goes: cancel the connects still in flight, submit them
 * with whatever JS queued and did not submit (closes, say), and wait (at
 * most a second between completions) until every close handed to a kernel
 * worker has completed, since the ring's exit would cancel those closes and
 * leave their sockets open.
 */
static void uc_drain(struct uc_ring *r, const int32_t *ids, int n)
{
	struct __kernel_timespec patience = { 1, 0 };
	int i;

	for (i = 0; i < n; i++) {
		if (ids[i] < 0 || (uint32_t)ids[i] >= r->capacity)
			continue;
		/* A full queue is submitted to make room: every connect is cancelled. */
		if (uc_prep_cancel(r, (uint32_t)ids[i]) && (uc_submit(r) < 0 || uc_prep_cancel(r, (uint32_t)ids[i])))
			break;
	}
	uc_submit(r);
	while (r->closes_pending > 0) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe_timeout(&r->ring, &cqe, &patience) < 0)
			return;
		uc_connect_cqe(r, cqe);
		io_uring_cqe_seen(&r->ring, cqe);
	}
}

/*
 * uc_ring_close - stop the waker, close the fds of slots still in flight,
 *   and release the ring.
 *   ids: int32[n] slots whose connects are in flight (their fds are closed).
 * RETURNS the number of fds closed.
 * ERRORS none: a bad ids array closes no slot fd but still releases the ring.
 * MEMORY frees the handle: it must not be used again. No shared memory is
 *   read after this returns (the kernel copied each sockaddr and timespec
 *   at submit), so JS may then free slots and addrs.
 * NOTES submits what is queued, cancels the connects in flight and waits
 *   for every queued close (uc_drain) before the ring exits.
 */
int uc_ring_close(struct uc_ring *r, const int32_t *ids, int n)
{
	int i, closed = 0;

	if (n < 0 || (n > 0 && !ids))
		n = 0; /* still release the ring */
	uc_waker_stop(r);
	uc_drain(r, ids, n);
	io_uring_queue_exit(&r->ring);
	if (r->efd >= 0)
		close(r->efd);
	if (r->notify_fd >= 0)
		close(r->notify_fd);
	for (i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)ids[i];
		int32_t *s;

		if (ids[i] < 0 || slot >= r->capacity)
			continue;
		s = r->slots + (size_t)slot * UC_SLOT_WORDS;
		if (s[UC_S_FD] >= 0 && close(s[UC_S_FD]) == 0)
			closed++;
		s[UC_S_FD] = -1;
	}
	free(r->timeouts);
	free(r);
	return closed;
}
