/*
 * server.c - single-threaded epoll TCP/unix server: the local target of
 * `uring-connect` with no target, of the connect-rate benchmark and of tests.
 * Built and started by src/loadgen/local-server.ts (and nowhere else).
 *
 *   server [--host 127.0.0.1] [--port 0] [--echo] [--unix PATH] [--backlog N]
 *
 * Holds each connection until the peer closes it; reads and discards what
 * arrives, or echoes it back with --echo. The listen backlog defaults to
 * net.core.somaxconn, so storms measure the client, not this server.
 *
 * Prints "LISTENING <port>" once listening, and a STATS line on SIGUSR1 and
 * on SIGTERM/SIGINT (after which it exits 0). It gets SIGTERM when the
 * process that started it dies, so it never outlives a crashed test or bench.
 *
 * Build: gcc -O2 -Wall -Wextra -o server src/loadgen/server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define DEFAULT_BACKLOG 4096

struct opts {
    const char *host;
    int port;
    int echo;
    const char *unix_path;
    int backlog; /* 0: net.core.somaxconn */
};

struct stats {
    unsigned long long accepted, closed, open, shed;
};

struct server {
    int lfd;   /* listening socket */
    int sfd;   /* signalfd: signals arrive as ordinary epoll events */
    int ep;
    int spare; /* reserved fd, released to shed connections on EMFILE */
    int echo;
    struct stats st;
    char buf[65536];
};

static void usage(const char *msg)
{
    fprintf(stderr, "server: %s (usage: server [--host ADDR] [--port N] [--echo] [--unix PATH] [--backlog N])\n", msg);
    exit(2);
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int parse_int(const char *s, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
        usage(what);
    return (int)v;
}

static struct opts parse_args(int argc, char **argv)
{
    struct opts o = { .host = "127.0.0.1", .port = 0, .echo = 0, .unix_path = NULL, .backlog = 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--echo"))
            o.echo = 1;
        else if (!strcmp(a, "--host") && has_val)
            o.host = argv[++i];
        else if (!strcmp(a, "--port") && has_val)
            o.port = parse_int(argv[++i], 0, 65535, "invalid --port");
        else if (!strcmp(a, "--backlog") && has_val)
            o.backlog = parse_int(argv[++i], 1, 1 << 30, "invalid --backlog");
        else if (!strcmp(a, "--unix") && has_val)
            o.unix_path = argv[++i];
        else
            usage("bad argument");
    }
    return o;
}

/* Benchmarks hold thousands of sockets; the default soft limit is often 1024. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            perror("setrlimit(RLIMIT_NOFILE)");
    }
}

/* Use the largest backlog the kernel will honour so bursts are not dropped. */
static int listen_backlog(void)
{
    int v = DEFAULT_BACKLOG;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (f) {
        if (fscanf(f, "%d", &v) != 1 || v <= 0)
            v = DEFAULT_BACKLOG;
        fclose(f);
    }
    return v;
}

static socklen_t make_inet_addr(const struct opts *o, struct sockaddr_storage *ss)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, o->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(o->port);
        return sizeof(*s4);
    }
    if (inet_pton(AF_INET6, o->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(o->port);
        return sizeof(*s6);
    }
    usage("--host must be an IPv4 or IPv6 literal");
    return 0;
}

static socklen_t make_unix_addr(const char *path, struct sockaddr_storage *ss)
{
    struct sockaddr_un *su = (struct sockaddr_un *)ss;
    struct stat sb;
    memset(ss, 0, sizeof(*ss));
    if (strlen(path) >= sizeof(su->sun_path))
        usage("--unix path too long");
    su->sun_family = AF_UNIX;
    strcpy(su->sun_path, path);
    /* Remove a stale socket from a previous run, but never a regular file. */
    if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
        unlink(path);
    return sizeof(*su);
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        die("getsockname");
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* Returns the listening fd and stores the bound port (0 for unix) in *port. */
static int open_listener(const struct opts *o, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = o->unix_path ? make_unix_addr(o->unix_path, &ss) : make_inet_addr(o, &ss);
    int one = 1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (!o->unix_path && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        die("setsockopt(SO_REUSEADDR)");
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        die("bind");
    if (listen(fd, o->backlog > 0 ? o->backlog : listen_backlog()) != 0)
        die("listen");
    *port = o->unix_path ? 0 : bound_port(fd);
    return fd;
}

/* Signals are blocked and read from a signalfd, so no handler code runs. */
static int open_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        die("sigprocmask");
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        die("signalfd");
    return fd;
}

static int epoll_add(int ep, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void print_stats(const struct stats *st)
{
    printf("STATS {\"accepted\":%llu,\"closed\":%llu,\"open\":%llu,\"shed\":%llu}\n",
           st->accepted, st->closed, st->open, st->shed);
    fflush(stdout);
}

static void close_conn(struct server *s, int fd)
{
    close(fd); /* also removes it from the epoll set */
    s->st.closed++;
    s->st.open--;
}

static void add_conn(struct server *s, int fd)
{
    s->st.accepted++;
    s->st.open++;
    if (epoll_add(s->ep, fd) != 0) {
        perror("epoll_ctl(ADD)");
        close_conn(s, fd);
    }
}

/*
 * Out of fds: the pending connection would keep the listener readable and
 * make us spin. Free the spare fd, accept and drop one connection, then
 * re-reserve the spare. Returns 0 if something was shed.
 */
static int shed_one(struct server *s)
{
    if (s->spare < 0)
        return -1;
    close(s->spare);
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        s->st.shed++;
    }
    s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? 0 : -1;
}

/*
 * Accepts per wake-up. The listener is level-triggered, so what is left waits
 * for the next epoll_wait, which also reports the connections clients have
 * reset meanwhile: closing those between batches keeps a deep accept queue
 * from running the server out of fds (it used to take the whole queue first).
 */
#define ACCEPT_BATCH 64

static void accept_some(struct server *s)
{
    for (int taken = 0; taken < ACCEPT_BATCH;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            add_conn(s, fd);
            taken++;
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if ((errno == EMFILE || errno == ENFILE) && shed_one(s) == 0)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EMFILE && errno != ENFILE)
            perror("accept4");
        return;
    }
}

/* Echo is best effort: whatever does not fit in the send buffer is dropped. */
static void echo_back(int fd, const char *buf, ssize_t n)
{
    ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
}

static void serve_conn(struct server *s, int fd)
{
    ssize_t n = read(fd, s->buf, sizeof(s->buf));
    if (n > 0) {
        if (s->echo)
            echo_back(fd, s->buf, n);
        return; /* level-triggered: any remaining data wakes us again */
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    close_conn(s, fd); /* EOF, ECONNRESET or any other hard error */
}

/* Returns 1 if a terminating signal was received. */
static int handle_signals(struct server *s)
{
    struct signalfd_siginfo si;
    while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1)
            print_stats(&s->st);
        else
            return 1;
    }
    return 0;
}

static void run(struct server *s)
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s->lfd)
                accept_some(s);
            else if (fd == s->sfd) {
                if (handle_signals(s))
                    return;
            } else
                serve_conn(s, fd);
        }
    }
}

int main(int argc, char **argv)
{
    struct opts o = parse_args(argc, argv);
    struct server s = { 0 };
    int port;

    /* Started by a test, the bench or the CLI: go when they go. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    raise_nofile_limit();
    signal(SIGPIPE, SIG_IGN);
    s.echo = o.echo;
    s.sfd = open_signalfd();
    s.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s.lfd = open_listener(&o, &port);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    if (s.ep < 0)
        die("epoll_create1");
    if (epoll_add(s.ep, s.lfd) != 0 || epoll_add(s.ep, s.sfd) != 0)
        die("epoll_ctl");

    printf("LISTENING %d\n", port);
    fflush(stdout);

    run(&s);

    print_stats(&s.st);
    if (o.unix_path)
        unlink(o.unix_path);
    return 0;
}
