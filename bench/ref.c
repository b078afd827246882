/*
 * ref.c - C liburing reference client for the connect-rate benchmark.
 *
 *   ref --host 127.0.0.1 --port P --concurrency C --connections N [--entries 4096]
 *       [--close sync|async] [--socket syscall|ring|direct]
 *       [--setup plain|single-issuer|defer-taskrun]
 *
 * Keeps C connects in flight until N have completed, resets every successful
 * connection immediately (SO_LINGER 0, so no TIME_WAIT pile-up) and prints one
 * JSON line with the success count, errors by errno name, rate and latency
 * percentiles. Each option is one technique, so the bench can show which pay:
 *
 *   --close async   close through the ring with IOSQE_ASYNC, so the reset's
 *                   teardown runs in a kernel worker (uring-connect's closeFd
 *                   does the same); the default is a plain close(), as a
 *                   simple client would.
 *   --socket ring   create each socket with IORING_OP_SOCKET (a regular fd,
 *                   then the connect in a later batch); `direct` creates it
 *                   as a direct (fixed-table) descriptor linked to its
 *                   connect, sets SO_LINGER through IORING_OP_URING_CMD
 *                   (kernel 6.7+) and closes it with a direct close: no fd
 *                   table at all. The default is socket(2) per connect.
 *   --setup         IORING_SETUP_SINGLE_ISSUER, or that plus
 *                   IORING_SETUP_DEFER_TASKRUN (completions are run only
 *                   when this thread asks for events).
 *
 * Build: gcc -O2 -Wall -Wextra -o ref bench/ref.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ERRNO_LIMIT 4096 /* kernel errnos are all below this (MAX_ERRNO) */
#define REAP_BATCH 256

/*
 * user_data: the slot index in the low 32 bits, what the CQE is for above.
 * Async closes of regular fds have no slot (their CQE is skipped on success).
 */
enum cqe_kind { CQE_CONNECT, CQE_SOCKET, CQE_SET_LINGER, CQE_CLOSE_DIRECT, CQE_CLOSE_FD };
#define USER_DATA(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

/*
 * Not in liburing 2.3's io_uring.h (kernel 6.7 uapi): IORING_OP_URING_CMD
 * on a socket, with cmd_op SOCKET_URING_OP_SETSOCKOPT, runs setsockopt().
 */
#define SOCKET_URING_OP_SETSOCKOPT 3

enum socket_mode { SOCKET_SYSCALL, SOCKET_RING, SOCKET_DIRECT };
enum setup_mode { SETUP_PLAIN, SETUP_SINGLE_ISSUER, SETUP_DEFER_TASKRUN };

struct opts {
    const char *host;
    unsigned port;
    unsigned concurrency;
    unsigned long connections;
    unsigned entries;
    int async_close;
    enum socket_mode socket_mode;
    enum setup_mode setup_mode;
};

struct slot {
    int fd; /* regular fd; -1 until IORING_OP_SOCKET gives one; unused for direct descriptors */
    int socket_errno; /* direct mode: the linked socket creation failed with this */
    uint64_t start_ns;
};

struct bench {
    struct io_uring ring;
    int async_close;
    enum socket_mode socket_mode;
    enum setup_mode setup_mode;
    int defer_taskrun;
    const struct linger *rst_linger; /* SO_LINGER {1, 0}: read by the kernel when the URING_CMD runs */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct slot *slots;
    unsigned *free_slots; /* stack of idle slot indices */
    unsigned nfree;
    unsigned *ready; /* --socket ring: slots whose socket exists, connect not prepared yet */
    unsigned nready;
    unsigned inflight;
    unsigned long target, started, completed, ok;
    uint64_t *lat_ns; /* one sample per successful connect */
    unsigned long errors[ERRNO_LIMIT];
    uint64_t t_first, t_last;
};

static void usage(const char *msg)
{
    fprintf(stderr, "ref: %s (usage: ref --host ADDR --port P --concurrency C --connections N [--entries 4096]"
                    " [--close sync|async] [--socket syscall|ring|direct] [--setup plain|single-issuer|defer-taskrun])\n", msg);
    exit(2);
}

static void fatal(const char *what, int err)
{
    fprintf(stderr, "ref: %s: %s\n", what, strerror(err));
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned long parse_num(const char *s, unsigned long min, unsigned long max, const char *name)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *s == '-' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "ref: invalid %s '%s' (expected %lu..%lu)\n", name, s, min, max);
        exit(2);
    }
    return v;
}

static struct opts parse_args(int argc, char **argv)
{
    struct opts o = { .host = NULL, .port = 0, .concurrency = 0, .connections = 0, .entries = 4096 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage("missing value or bad argument");
        const char *v = argv[++i];
        if (!strcmp(a, "--host"))
            o.host = v;
        else if (!strcmp(a, "--port"))
            o.port = parse_num(v, 1, 65535, "--port");
        else if (!strcmp(a, "--concurrency"))
            o.concurrency = parse_num(v, 1, 1000000, "--concurrency");
        else if (!strcmp(a, "--connections"))
            o.connections = parse_num(v, 1, 100000000, "--connections");
        else if (!strcmp(a, "--entries"))
            o.entries = parse_num(v, 1, 32768, "--entries");
        else if (!strcmp(a, "--close") && (!strcmp(v, "sync") || !strcmp(v, "async")))
            o.async_close = !strcmp(v, "async");
        else if (!strcmp(a, "--socket") && !strcmp(v, "syscall"))
            o.socket_mode = SOCKET_SYSCALL;
        else if (!strcmp(a, "--socket") && !strcmp(v, "ring"))
            o.socket_mode = SOCKET_RING;
        else if (!strcmp(a, "--socket") && !strcmp(v, "direct"))
            o.socket_mode = SOCKET_DIRECT;
        else if (!strcmp(a, "--setup") && !strcmp(v, "plain"))
            o.setup_mode = SETUP_PLAIN;
        else if (!strcmp(a, "--setup") && !strcmp(v, "single-issuer"))
            o.setup_mode = SETUP_SINGLE_ISSUER;
        else if (!strcmp(a, "--setup") && !strcmp(v, "defer-taskrun"))
            o.setup_mode = SETUP_DEFER_TASKRUN;
        else
            usage("bad argument");
    }
    if (!o.host || !o.port || !o.concurrency || !o.connections)
        usage("--host, --port, --concurrency and --connections are required");
    return o;
}

static socklen_t make_addr(const char *host, unsigned port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        return sizeof(*s4);
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        return sizeof(*s6);
    }
    usage("--host must be an IPv4 or IPv6 literal");
    return 0;
}

/* High concurrency needs one fd per in-flight connect. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/*
 * The CQ must hold every in-flight completion so none overflow (a direct
 * connection can have its connect and its close CQE out at once). SUBMIT_ALL
 * keeps one bad SQE from stalling the rest of a batch; older kernels reject
 * it with -EINVAL, so retry without it. The --setup flags are not retried:
 * asked for and missing is an error.
 */
static void init_ring(struct io_uring *ring, const struct opts *o)
{
    unsigned cq = 2 * o->concurrency > 2 * o->entries ? 2 * o->concurrency : 2 * o->entries;
    unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    if (o->setup_mode != SETUP_PLAIN)
        base |= IORING_SETUP_SINGLE_ISSUER;
    if (o->setup_mode == SETUP_DEFER_TASKRUN)
        base |= IORING_SETUP_DEFER_TASKRUN;
    struct io_uring_params p = { .flags = base | IORING_SETUP_SUBMIT_ALL, .cq_entries = cq };
    int ret = io_uring_queue_init_params(o->entries, ring, &p);
    if (ret == -EINVAL) {
        p = (struct io_uring_params){ .flags = base, .cq_entries = cq };
        ret = io_uring_queue_init_params(o->entries, ring, &p);
    }
    if (ret < 0)
        fatal("io_uring_queue_init_params", -ret);
    /* Direct mode: slot i's socket lives in fixed-table entry i. */
    if (o->socket_mode == SOCKET_DIRECT && (ret = io_uring_register_files_sparse(ring, o->concurrency)) < 0)
        fatal("io_uring_register_files_sparse", -ret);
}

static void bench_init(struct bench *b, const struct opts *o)
{
    static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };
    b->addrlen = make_addr(o->host, o->port, &b->addr);
    b->target = o->connections;
    b->async_close = o->async_close;
    b->socket_mode = o->socket_mode;
    b->setup_mode = o->setup_mode;
    b->defer_taskrun = o->setup_mode == SETUP_DEFER_TASKRUN;
    b->rst_linger = &rst;
    b->slots = calloc(o->concurrency, sizeof(*b->slots));
    b->free_slots = calloc(o->concurrency, sizeof(*b->free_slots));
    b->ready = calloc(o->concurrency, sizeof(*b->ready));
    b->lat_ns = calloc(o->connections, sizeof(*b->lat_ns));
    if (!b->slots || !b->free_slots || !b->ready || !b->lat_ns)
        fatal("calloc", ENOMEM);
    for (unsigned i = 0; i < o->concurrency; i++)
        b->free_slots[b->nfree++] = o->concurrency - 1 - i;
    init_ring(&b->ring, o);
}

static void bench_free(struct bench *b)
{
    io_uring_queue_exit(&b->ring);
    free(b->lat_ns);
    free(b->ready);
    free(b->free_slots);
    free(b->slots);
    free(b);
}

static void record_error(struct bench *b, int err)
{
    if (err <= 0 || err >= ERRNO_LIMIT)
        err = 0; /* bucket for anything nonsensical */
    b->errors[err]++;
}

static int can_start(const struct bench *b)
{
    return b->started < b->target && b->nfree > 0;
}

/* SQEs one new connect takes: socket and connect linked in direct mode. */
static unsigned sqes_per_start(const struct bench *b)
{
    return b->socket_mode == SOCKET_DIRECT ? 2 : 1;
}

/* -EAGAIN/-EBUSY mean "reap first"; unsubmitted SQEs stay queued for retry. */
static void submit(struct bench *b)
{
    if (!b->t_first)
        b->t_first = now_ns();
    int ret;
    do
        /* With DEFER_TASKRUN completions are only run when events are asked for. */
        ret = b->defer_taskrun ? io_uring_submit_and_get_events(&b->ring) : io_uring_submit(&b->ring);
    while (ret == -EINTR);
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY)
        fatal("io_uring_submit", -ret);
}

/* Room for `n` SQEs that must go in one submission (a linked chain), submitting what is queued if needed. */
static void reserve_sqes(struct bench *b, unsigned n)
{
    while (io_uring_sq_space_left(&b->ring) < n)
        submit(b);
}

static void release_slot(struct bench *b, unsigned idx)
{
    b->free_slots[b->nfree++] = idx;
    b->inflight--;
}

/* Counts a connect that ended without a connection (before or at the connect). */
static void fail_connect(struct bench *b, unsigned idx, int err)
{
    record_error(b, err);
    b->completed++;
    release_slot(b, idx);
}

static void prep_connect(struct bench *b, unsigned idx)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
    io_uring_prep_connect(sqe, b->slots[idx].fd, (struct sockaddr *)&b->addr, b->addrlen);
    io_uring_sqe_set_data64(sqe, USER_DATA(CQE_CONNECT, idx));
}

/*
 * Direct mode: IORING_OP_SOCKET into fixed entry `idx`, linked to a connect
 * on that entry. Only failures of the socket step post a CQE; the connect
 * then completes with -ECANCELED.
 */
static void prep_direct_connect(struct bench *b, unsigned idx)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
    io_uring_prep_socket_direct(sqe, b->addr.ss_family, SOCK_STREAM, 0, idx, 0);
    sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, USER_DATA(CQE_SOCKET, idx));
    sqe = io_uring_get_sqe(&b->ring);
    io_uring_prep_connect(sqe, (int)idx, (struct sockaddr *)&b->addr, b->addrlen);
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, USER_DATA(CQE_CONNECT, idx));
}

/* Prepares connects for sockets IORING_OP_SOCKET has made (--socket ring); returns how many. */
static unsigned connect_ready(struct bench *b)
{
    unsigned prepared = 0;
    for (; b->nready > 0 && io_uring_sq_space_left(&b->ring) > 0; prepared++)
        prep_connect(b, b->ready[--b->nready]);
    return prepared;
}

/* Starts as many connects as slots and SQ space allow; returns how many SQEs it prepared. */
static unsigned start_connects(struct bench *b)
{
    unsigned prepared = 0;
    while (can_start(b) && io_uring_sq_space_left(&b->ring) >= sqes_per_start(b)) {
        /* The clock starts before the socket exists: every client's latency includes making it. */
        uint64_t start = now_ns();
        int fd = -1;
        b->started++;
        if (b->socket_mode == SOCKET_SYSCALL) {
            fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) { /* e.g. EMFILE: counts as a failed connect */
                record_error(b, errno);
                b->completed++;
                continue;
            }
        }
        unsigned idx = b->free_slots[--b->nfree];
        b->slots[idx] = (struct slot){ .fd = fd, .socket_errno = 0, .start_ns = start };
        b->inflight++;
        prepared += sqes_per_start(b);
        if (b->socket_mode == SOCKET_SYSCALL) {
            prep_connect(b, idx);
        } else if (b->socket_mode == SOCKET_DIRECT) {
            prep_direct_connect(b, idx);
        } else {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
            io_uring_prep_socket(sqe, b->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0, 0);
            io_uring_sqe_set_data64(sqe, USER_DATA(CQE_SOCKET, idx));
        }
    }
    return prepared;
}

/* RST instead of FIN: the benchmark would otherwise exhaust ports in TIME_WAIT. */
static void close_with_rst(struct bench *b, int fd)
{
    struct io_uring_sqe *sqe;

    setsockopt(fd, SOL_SOCKET, SO_LINGER, b->rst_linger, sizeof(*b->rst_linger));
    sqe = b->async_close ? io_uring_get_sqe(&b->ring) : NULL;
    if (!sqe) {
        close(fd);
        return;
    }
    io_uring_prep_close(sqe, fd);
    sqe->flags |= IOSQE_ASYNC | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, USER_DATA(CQE_CLOSE_FD, 0));
}

/*
 * Direct mode: SO_LINGER {1, 0} through IORING_OP_URING_CMD (filled by
 * hand: liburing 2.3 has no io_uring_prep_cmd_sock), hard-linked so the
 * close runs even if the option failed, then a direct close. The slot is
 * reused only once the close's CQE is in: a new socket installed into the
 * entry first would be the one closed.
 */
static void close_direct_with_rst(struct bench *b, unsigned idx, int set_linger)
{
    struct io_uring_sqe *sqe;

    reserve_sqes(b, set_linger ? 2 : 1);
    if (set_linger) {
        sqe = io_uring_get_sqe(&b->ring);
        io_uring_prep_rw(IORING_OP_URING_CMD, sqe, (int)idx, NULL, 0, 0);
        sqe->cmd_op = SOCKET_URING_OP_SETSOCKOPT;
        sqe->addr = (uint64_t)SOL_SOCKET | ((uint64_t)SO_LINGER << 32); /* level, optname */
        sqe->file_index = sizeof(*b->rst_linger); /* optlen */
        sqe->addr3 = (uint64_t)(uintptr_t)b->rst_linger; /* optval */
        sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, USER_DATA(CQE_SET_LINGER, idx));
    }
    sqe = io_uring_get_sqe(&b->ring);
    io_uring_prep_close_direct(sqe, idx);
    if (b->async_close)
        sqe->flags |= IOSQE_ASYNC;
    io_uring_sqe_set_data64(sqe, USER_DATA(CQE_CLOSE_DIRECT, idx));
}

static void complete_connect(struct bench *b, unsigned idx, int res, uint64_t t)
{
    struct slot *s = &b->slots[idx];
    b->completed++;
    b->t_last = t;
    if (res >= 0)
        b->lat_ns[b->ok++] = t - s->start_ns;
    else
        record_error(b, s->socket_errno ? s->socket_errno : -res);
    if (b->socket_mode == SOCKET_DIRECT) {
        /* A socket that was never made needs no close; one that failed to connect needs no RST. */
        if (s->socket_errno)
            release_slot(b, idx);
        else
            close_direct_with_rst(b, idx, res >= 0);
        return;
    }
    if (res >= 0)
        close_with_rst(b, s->fd);
    else
        close(s->fd);
    release_slot(b, idx);
}

static void complete(struct bench *b, uint64_t user_data, int res, uint64_t t)
{
    unsigned idx = (uint32_t)user_data;
    switch ((enum cqe_kind)(user_data >> 32)) {
    case CQE_CONNECT:
        complete_connect(b, idx, res, t);
        break;
    case CQE_SOCKET:
        if (b->socket_mode == SOCKET_DIRECT) /* only failures post; the linked connect's CQE follows */
            b->slots[idx].socket_errno = -res;
        else if (res < 0)
            fail_connect(b, idx, -res);
        else {
            b->slots[idx].fd = res;
            b->ready[b->nready++] = idx;
        }
        break;
    case CQE_SET_LINGER: /* posts only on failure; the hard-linked close still runs */
        fprintf(stderr, "ref: SO_LINGER through IORING_OP_URING_CMD failed: %s (needs kernel 6.7+)\n", strerror(-res));
        exit(1);
    case CQE_CLOSE_DIRECT:
        if (res < 0)
            fatal("close of a direct descriptor", -res);
        release_slot(b, idx);
        break;
    case CQE_CLOSE_FD:
        break;
    }
}

/* Drains every available CQE; one timestamp per batch since they are reaped together. */
static unsigned reap(struct bench *b)
{
    struct io_uring_cqe *cqes[REAP_BATCH];
    unsigned n, total = 0;
    while ((n = io_uring_peek_batch_cqe(&b->ring, cqes, REAP_BATCH)) > 0) {
        uint64_t t = now_ns();
        for (unsigned i = 0; i < n; i++)
            complete(b, cqes[i]->user_data, cqes[i]->res, t);
        io_uring_cq_advance(&b->ring, n);
        total += n;
    }
    return total;
}

/* Blocks until a CQE is ready without consuming it; reap() picks it up. */
static void wait_one(struct bench *b)
{
    struct io_uring_cqe *cqe;
    int ret;
    do
        ret = io_uring_wait_cqe(&b->ring, &cqe);
    while (ret == -EINTR);
    if (ret < 0)
        fatal("io_uring_wait_cqe", -ret);
}

static void run(struct bench *b)
{
    while (b->completed < b->target) {
        /* Sockets already made connect first: they hold slots. */
        unsigned prepared = connect_ready(b);
        prepared += start_connects(b);
        if (prepared > 0 || io_uring_sq_ready(&b->ring) > 0)
            submit(b);
        /* Only block when nothing more can be started and nothing is ready. */
        if (reap(b) == 0 && !can_start(b) && b->nready == 0 && b->inflight > 0)
            wait_one(b);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double percentile_us(const uint64_t *sorted, unsigned long n, unsigned p)
{
    if (n == 0)
        return 0.0;
    unsigned long rank = (n * p + 99) / 100; /* ceil(n * p / 100), >= 1 */
    return (double)sorted[rank - 1] / 1000.0;
}

static void print_errors(const struct bench *b)
{
    const char *sep = "";
    printf("{");
    for (int e = 0; e < ERRNO_LIMIT; e++) {
        if (!b->errors[e])
            continue;
        const char *name = e ? strerrorname_np(e) : NULL;
        if (name)
            printf("%s\"%s\":%lu", sep, name, b->errors[e]);
        else
            printf("%s\"E%d\":%lu", sep, e, b->errors[e]);
        sep = ",";
    }
    printf("}");
}

static void report(struct bench *b)
{
    double dur_ms = b->t_first && b->t_last > b->t_first ? (double)(b->t_last - b->t_first) / 1e6 : 0.0;
    double rate = dur_ms > 0 ? (double)b->ok / (dur_ms / 1000.0) : 0.0;
    qsort(b->lat_ns, b->ok, sizeof(*b->lat_ns), cmp_u64);
    static const char *const socket_names[] = { "syscall", "ring", "direct" };
    static const char *const setup_names[] = { "plain", "single-issuer", "defer-taskrun" };
    printf("{\"client\":\"c-liburing close=%s socket=%s setup=%s\",\"connects\":%lu,\"errors\":",
           b->async_close ? "async" : "sync", socket_names[b->socket_mode], setup_names[b->setup_mode], b->ok);
    print_errors(b);
    printf(",\"durationMs\":%.3f,\"rate\":%.1f,\"p50Us\":%.1f,\"p99Us\":%.1f}\n",
           dur_ms, rate, percentile_us(b->lat_ns, b->ok, 50), percentile_us(b->lat_ns, b->ok, 99));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct opts o = parse_args(argc, argv);
    struct bench *b = calloc(1, sizeof(*b)); /* errors[] is too big for a comfortable stack frame */
    if (!b)
        fatal("calloc", ENOMEM);
    raise_nofile_limit();
    bench_init(b, &o);
    run(b);
    report(b);
    bench_free(b);
    return 0;
}
