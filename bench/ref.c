/*
 * ref.c - C liburing reference client for the connect-rate benchmark.
 *
 *   ref --host 127.0.0.1 --port P --concurrency C --connections N [--entries 4096]
 *       [--close sync|async]
 *
 * Keeps C connects in flight until N have completed, resets every successful
 * connection immediately (SO_LINGER 0, so no TIME_WAIT pile-up) and prints one
 * JSON line with the success count, errors by errno name, rate and latency
 * percentiles. `--close async` closes through the ring with IOSQE_ASYNC, so
 * the reset's teardown runs in a kernel worker (uring-connect's closeFd does
 * the same); the default is a plain close(), as a simple client would.
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
#define CLOSE_USER_DATA UINT64_MAX /* async closes; their CQEs are not connects */

struct opts {
    const char *host;
    unsigned port;
    unsigned concurrency;
    unsigned long connections;
    unsigned entries;
    int async_close;
};

struct slot {
    int fd;
    uint64_t start_ns;
};

struct bench {
    struct io_uring ring;
    int async_close;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct slot *slots;
    unsigned *free_slots; /* stack of idle slot indices */
    unsigned nfree;
    unsigned inflight;
    unsigned long target, started, completed, ok;
    uint64_t *lat_ns; /* one sample per successful connect */
    unsigned long errors[ERRNO_LIMIT];
    uint64_t t_first, t_last;
};

static void usage(const char *msg)
{
    fprintf(stderr, "ref: %s (usage: ref --host ADDR --port P --concurrency C --connections N [--entries 4096] [--close sync|async])\n", msg);
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
 * The CQ must hold every in-flight completion so none overflow. SUBMIT_ALL
 * keeps one bad SQE from stalling the rest of a batch; older kernels reject
 * it with -EINVAL, so retry without it.
 */
static void init_ring(struct io_uring *ring, unsigned entries, unsigned concurrency)
{
    unsigned cq = 2 * concurrency > 2 * entries ? 2 * concurrency : 2 * entries;
    unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    struct io_uring_params p = { .flags = base | IORING_SETUP_SUBMIT_ALL, .cq_entries = cq };
    int ret = io_uring_queue_init_params(entries, ring, &p);
    if (ret == -EINVAL) {
        p = (struct io_uring_params){ .flags = base, .cq_entries = cq };
        ret = io_uring_queue_init_params(entries, ring, &p);
    }
    if (ret < 0)
        fatal("io_uring_queue_init_params", -ret);
}

static void bench_init(struct bench *b, const struct opts *o)
{
    b->addrlen = make_addr(o->host, o->port, &b->addr);
    b->target = o->connections;
    b->async_close = o->async_close;
    b->slots = calloc(o->concurrency, sizeof(*b->slots));
    b->free_slots = calloc(o->concurrency, sizeof(*b->free_slots));
    b->lat_ns = calloc(o->connections, sizeof(*b->lat_ns));
    if (!b->slots || !b->free_slots || !b->lat_ns)
        fatal("calloc", ENOMEM);
    for (unsigned i = 0; i < o->concurrency; i++)
        b->free_slots[b->nfree++] = o->concurrency - 1 - i;
    init_ring(&b->ring, o->entries, o->concurrency);
}

static void bench_free(struct bench *b)
{
    io_uring_queue_exit(&b->ring);
    free(b->lat_ns);
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

/* Prepares as many connects as slots and SQ space allow; returns how many. */
static unsigned start_connects(struct bench *b)
{
    unsigned prepared = 0;
    while (can_start(b) && io_uring_sq_space_left(&b->ring) > 0) {
        int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        b->started++;
        if (fd < 0) { /* e.g. EMFILE: counts as a failed connect */
            record_error(b, errno);
            b->completed++;
            continue;
        }
        unsigned idx = b->free_slots[--b->nfree];
        b->slots[idx] = (struct slot){ .fd = fd, .start_ns = now_ns() };
        struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
        io_uring_prep_connect(sqe, fd, (struct sockaddr *)&b->addr, b->addrlen);
        io_uring_sqe_set_data64(sqe, idx);
        b->inflight++;
        prepared++;
    }
    return prepared;
}

/* -EAGAIN/-EBUSY mean "reap first"; unsubmitted SQEs stay queued for retry. */
static void submit(struct bench *b)
{
    if (!b->t_first)
        b->t_first = now_ns();
    int ret;
    do
        ret = io_uring_submit(&b->ring);
    while (ret == -EINTR);
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY)
        fatal("io_uring_submit", -ret);
}

/* RST instead of FIN: the benchmark would otherwise exhaust ports in TIME_WAIT. */
static void close_with_rst(struct bench *b, int fd)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    struct io_uring_sqe *sqe;

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    sqe = b->async_close ? io_uring_get_sqe(&b->ring) : NULL;
    if (!sqe) {
        close(fd);
        return;
    }
    io_uring_prep_close(sqe, fd);
    sqe->flags |= IOSQE_ASYNC | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, CLOSE_USER_DATA);
}

static void complete(struct bench *b, unsigned idx, int res, uint64_t t)
{
    struct slot *s = &b->slots[idx];
    if (res >= 0) {
        b->lat_ns[b->ok++] = t - s->start_ns;
        close_with_rst(b, s->fd);
    } else {
        record_error(b, -res);
        close(s->fd);
    }
    b->free_slots[b->nfree++] = idx;
    b->inflight--;
    b->completed++;
    b->t_last = t;
}

/* Drains every available CQE; one timestamp per batch since they are reaped together. */
static unsigned reap(struct bench *b)
{
    struct io_uring_cqe *cqes[REAP_BATCH];
    unsigned n, total = 0;
    while ((n = io_uring_peek_batch_cqe(&b->ring, cqes, REAP_BATCH)) > 0) {
        uint64_t t = now_ns();
        for (unsigned i = 0; i < n; i++)
            if (cqes[i]->user_data != CLOSE_USER_DATA)
                complete(b, (unsigned)cqes[i]->user_data, cqes[i]->res, t);
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
        if (start_connects(b) > 0 || io_uring_sq_ready(&b->ring) > 0)
            submit(b);
        /* Only block when nothing more can be started and nothing is ready. */
        if (reap(b) == 0 && !can_start(b) && b->inflight > 0)
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
    printf("{\"client\":\"%s\",\"connects\":%lu,\"errors\":",
           b->async_close ? "c-liburing-async-close" : "c-liburing", b->ok);
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
