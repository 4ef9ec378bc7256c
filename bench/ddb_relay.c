/* ddb_relay.c — a loopback TCP relay that holds every answer of the store N ms before passing it on.
 * bench/run puts it between dynalite and its clients (the pool, wrk, boto3) to play a DynamoDB N ms away. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: ddb-relay --upstream-port PORT [--listen-port PORT] [--delay-ms N] [--max-conns N]
 *
 * Both ends are 127.0.0.1, always: the relay cannot be pointed anywhere else. It prints "PORT n" once it
 * listens, then reads commands on stdin, one per line, and answers each with one line on stdout:
 *   delay N   hold answers that arrive from now on N ms (0..60000)   -> "delay N"
 *   stats     connections and requests in flight, now and at their peak since the last stats
 *             (the peaks restart from the current values)             -> "stats conns=.. peak_conns=.. ..."
 * It exits on end of stdin, so it never outlives the bench that started it.
 *
 * Each client connection gets its own connection to the store (HTTP keep-alive semantics are the client's).
 * Bytes from the client go up at once; bytes from the store are queued and handed to the client when they
 * are N ms old. That adds N ms to every request/answer round trip, which is what a distant store does to
 * a client that waits for each answer. Byte streams are not parsed: any protocol passes unchanged.
 */

#define READ_CHUNK (64 * 1024)          /* one read from the store becomes one held chunk of at most this */
#define REQ_BUF (64 * 1024)             /* client bytes not yet taken by the store; full: stop reading */
#define ANSWER_CAP (8 * 1024 * 1024)    /* held answer bytes per connection; over it: stop reading the store */
#define MAX_EVENTS 256
#define MAX_DELAY_MS 60000
#define CONTROL_LINE 256

struct conn;

/* One read from the store, held until due_ns. */
struct chunk {
    struct chunk *next;          /* the connection's answer queue, oldest first */
    struct chunk *tnext, *tprev; /* the global timer queue, while not yet due */
    struct conn *conn;
    int64_t due_ns;
    int due;                     /* released by the timer: may be written to the client */
    size_t len, off;
    char data[];
};

/* One side of a connection pair; epoll hands this back. */
struct end {
    int fd;
    int is_client;
    uint32_t events; /* what epoll is asked for now */
    struct conn *conn;
};

struct conn {
    struct end client, store;
    int connecting; /* the store connection is not established yet */
    int dead;
    int busy;       /* a request went up and its answer has not all been handed over: in flight */
    char req[REQ_BUF];
    size_t req_len, req_off;
    struct chunk *ans_head, *ans_tail;
    size_t ans_bytes;
    int store_eof;  /* the store closed: hand over what is held, then close */
    struct conn *live_prev, *live_next; /* every open pair, so that exit can close them all */
    struct conn *next_dead;
};

/* Markers for the non-connection file descriptors in epoll. */
static struct end listen_end, timer_end, control_end;

static int epfd = -1, listen_fd = -1, timer_fd = -1;
static int upstream_port;
static int64_t delay_ns;
static long max_conns = 4096;

/* The timer queue is ordered by due time because every chunk's due time is at least the tail's (below). */
static struct chunk *tq_head, *tq_tail;
static struct conn *dead_list, *live_list;

static long n_conns, peak_conns, n_inflight, peak_inflight;
static uint64_t n_answers, n_refused;

static void die(const char *what)
{
    fprintf(stderr, "ddb-relay: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vprintf(fmt, ap);
    va_end(ap);
    /* The bench reads each answer as a line: it must not sit in a buffer. */
    if (r < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "ddb-relay: stdout is gone, exiting\n");
        exit(1);
    }
}

/* Arms the timer for the oldest held chunk. With nothing held it is left as it is: it has fired already (and a
 * one-shot timer disarms itself), or fires once for nothing, which on_timer handles; disarming would cost a
 * system call per answer at low rates. */
static void arm_timer(void)
{
    if (!tq_head)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(tq_head->due_ns / 1000000000);
    its.it_value.tv_nsec = (long)(tq_head->due_ns % 1000000000);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1; /* zero would disarm */
    if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime");
}

static void tq_unlink(struct chunk *c)
{
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        tq_head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        tq_tail = c->tprev;
    c->tnext = c->tprev = NULL;
}

static void set_events(struct end *e, uint32_t want)
{
    if (e->fd < 0 || e->events == want)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = e};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ev) != 0)
        die("epoll_ctl MOD");
    e->events = want;
}

static void close_end(struct end *e)
{
    if (e->fd < 0)
        return;
    /* Closing removes the fd from epoll; close can only fail here with EINTR/EIO, nothing to redo. */
    if (close(e->fd) != 0 && errno != EINTR)
        fprintf(stderr, "ddb-relay: close: %s\n", strerror(errno));
    e->fd = -1;
    e->events = 0;
}

static void set_busy(struct conn *c, int busy)
{
    if (c->busy == busy)
        return;
    c->busy = busy;
    if (busy) {
        if (++n_inflight > peak_inflight)
            peak_inflight = n_inflight;
    } else {
        n_inflight--;
        n_answers++;
    }
}

/* Frees the pair at the end of the event batch: later events of the same batch may still name it. */
static void conn_close(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    close_end(&c->client);
    close_end(&c->store);
    int head_changed = 0;
    for (struct chunk *k = c->ans_head, *next; k; k = next) {
        next = k->next;
        if (!k->due) {
            head_changed |= (k == tq_head);
            tq_unlink(k);
        }
        free(k);
    }
    c->ans_head = c->ans_tail = NULL;
    c->ans_bytes = 0;
    if (c->busy) {
        c->busy = 0;
        n_inflight--; /* not an answer: the pair broke */
    }
    n_conns--;
    if (c->live_prev)
        c->live_prev->live_next = c->live_next;
    else
        live_list = c->live_next;
    if (c->live_next)
        c->live_next->live_prev = c->live_prev;
    c->next_dead = dead_list;
    dead_list = c;
    if (head_changed)
        arm_timer();
}

/* Client bytes go to the store as soon as it takes them. */
static void push_request(struct conn *c)
{
    if (c->store.fd < 0 && c->req_len > 0) {
        conn_close(c); /* the store already hung up: this request has nowhere to go */
        return;
    }
    while (!c->connecting && c->req_off < c->req_len) {
        ssize_t n = send(c->store.fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_close(c);
            return;
        }
        c->req_off += (size_t)n;
    }
    if (c->req_off == c->req_len)
        c->req_off = c->req_len = 0;
}

/* Hands the client every answer chunk whose time has come, in order. */
static void flush_answers(struct conn *c)
{
    while (!c->dead && c->ans_head && c->ans_head->due) {
        struct chunk *k = c->ans_head;
        ssize_t n = send(c->client.fd, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* EPOLLOUT on the client resumes */
            conn_close(c);
            return;
        }
        k->off += (size_t)n;
        if (k->off < k->len)
            continue;
        c->ans_head = k->next;
        if (!c->ans_head)
            c->ans_tail = NULL;
        c->ans_bytes -= k->len;
        free(k);
    }
    if (c->dead)
        return;
    if (!c->ans_head) {
        /* Everything the store said is with the client: unless it is already sending the next request. */
        if (c->req_len == 0)
            set_busy(c, 0);
        if (c->store_eof)
            conn_close(c); /* the store hung up: so does the relay, once the answer is delivered */
    }
}

static void hold_answer(struct conn *c, const char *data, size_t len)
{
    struct chunk *k = malloc(sizeof *k + len);
    if (!k) {
        /* Without memory the honest thing is to break this pair, not to pass the answer early. */
        fprintf(stderr, "ddb-relay: out of memory holding %zu bytes\n", len);
        conn_close(c);
        return;
    }
    memcpy(k->data, data, len);
    k->len = len;
    k->off = 0;
    k->next = NULL;
    k->conn = c;
    k->tnext = k->tprev = NULL;
    if (c->ans_tail)
        c->ans_tail->next = k;
    else
        c->ans_head = k;
    c->ans_tail = k;
    c->ans_bytes += len;

    int64_t now = now_ns();
    if (delay_ns == 0 && !tq_head) {
        k->due = 1; /* no delay and nothing held: no reason to go through the timer */
        k->due_ns = now;
        flush_answers(c);
        return;
    }
    /* Never before the tail: keeps the queue sorted (and answers in order) when the delay is lowered. */
    k->due_ns = now + delay_ns;
    if (tq_tail && tq_tail->due_ns > k->due_ns)
        k->due_ns = tq_tail->due_ns;
    k->due = 0;
    k->tprev = tq_tail;
    if (tq_tail)
        tq_tail->tnext = k;
    else
        tq_head = k;
    tq_tail = k;
    if (tq_head == k)
        arm_timer();
}

/* Reads what the store sent. `drain`: the store hung up, take everything (the kernel's buffer bounds it). */
static void read_store(struct conn *c, int drain)
{
    char buf[READ_CHUNK];
    while (!c->dead && c->store.fd >= 0 && (drain || c->ans_bytes < ANSWER_CAP)) {
        ssize_t n = recv(c->store.fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            n = 0; /* a reset store: deliver what is held, then close, as at end of stream */
        }
        if (n == 0) {
            c->store_eof = 1;
            close_end(&c->store);
            if (!c->ans_head)
                conn_close(c);
            return;
        }
        hold_answer(c, buf, (size_t)n);
        if (!drain && (size_t)n < sizeof buf)
            return; /* the socket is empty: level-triggered epoll says when more comes, a recv to hear EAGAIN
                       would only cost a system call per answer */
    }
}

static void read_client(struct conn *c)
{
    while (!c->dead && c->req_len < REQ_BUF) {
        ssize_t n = recv(c->client.fd, c->req + c->req_len, REQ_BUF - c->req_len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(c);
            return;
        }
        if (n == 0) {
            conn_close(c); /* the client left: nobody is waiting for answers */
            return;
        }
        c->req_len += (size_t)n;
        set_busy(c, 1);
        if (c->req_len < REQ_BUF)
            break; /* a short read emptied the socket (see read_store) */
    }
    push_request(c);
}

/* Asks epoll for exactly what the pair can use now (level-triggered, so no wake-up is lost). */
static void update_interest(struct conn *c)
{
    if (c->dead)
        return;
    uint32_t cl = 0, st = 0;
    if (c->req_len < REQ_BUF)
        cl |= EPOLLIN;
    if (c->ans_head && c->ans_head->due)
        cl |= EPOLLOUT; /* only left due when the client's socket was full */
    if (c->connecting || c->req_off < c->req_len)
        st |= EPOLLOUT;
    if (!c->connecting && c->ans_bytes < ANSWER_CAP)
        st |= EPOLLIN;
    set_events(&c->client, cl);
    set_events(&c->store, st);
}

static void on_io(struct end *e, uint32_t events)
{
    struct conn *c = e->conn;
    if (c->dead || e->fd < 0)
        return;
    if (e->is_client) {
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            read_client(c);
        if (!c->dead && (events & EPOLLOUT))
            flush_answers(c);
    } else {
        if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                conn_close(c); /* the store is not there: the client sees its connection closed */
                return;
            }
            c->connecting = 0;
        }
        if (events & EPOLLOUT)
            push_request(c);
        if (!c->dead && (events & (EPOLLHUP | EPOLLERR)))
            read_store(c, 1);
        else if (!c->dead && (events & EPOLLIN))
            read_store(c, 0);
    }
    update_interest(c);
}

static int add_fd(int fd, struct end *e, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = e};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -1;
    e->events = events;
    return 0;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0)
        return -1;
    return 0;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

static void on_accept(void)
{
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                n_refused++; /* stays in the backlog; retried on the next wake-up */
                return;
            }
            die("accept");
        }
        int one = 1;
        if (n_conns >= max_conns || set_nonblock_cloexec(fd) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            /* Bounded: over the limit a client is refused, never queued without end. */
            n_refused++;
            if (close(fd) != 0 && errno != EINTR)
                fprintf(stderr, "ddb-relay: close: %s\n", strerror(errno));
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        int up = c ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
        struct sockaddr_in sa = loopback(upstream_port);
        int r = -1;
        if (up >= 0 && setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            r = connect(up, (struct sockaddr *)&sa, sizeof sa);
        if (!c || up < 0 || (r != 0 && errno != EINPROGRESS)) {
            n_refused++;
            if (up >= 0 && close(up) != 0 && errno != EINTR)
                fprintf(stderr, "ddb-relay: close: %s\n", strerror(errno));
            if (close(fd) != 0 && errno != EINTR)
                fprintf(stderr, "ddb-relay: close: %s\n", strerror(errno));
            free(c);
            continue;
        }
        c->client = (struct end){.fd = fd, .is_client = 1, .conn = c};
        c->store = (struct end){.fd = up, .is_client = 0, .conn = c};
        c->connecting = (r != 0);
        if (add_fd(fd, &c->client, EPOLLIN) != 0 || add_fd(up, &c->store, c->connecting ? EPOLLOUT : EPOLLIN) != 0)
            die("epoll_ctl ADD");
        c->live_next = live_list;
        if (live_list)
            live_list->live_prev = c;
        live_list = c;
        if (++n_conns > peak_conns)
            peak_conns = n_conns;
    }
}

static void on_timer(void)
{
    uint64_t expirations;
    if (read(timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN && errno != EINTR)
        die("read timerfd");
    int64_t now = now_ns();
    while (tq_head && tq_head->due_ns <= now) {
        struct chunk *k = tq_head;
        tq_unlink(k);
        k->due = 1;
        /* Chunks leave the timer queue in order, so a connection's due chunks are always its oldest.
         * flush_answers may free k: keep its connection (freed only after the event batch). */
        struct conn *c = k->conn;
        flush_answers(c);
        update_interest(c);
    }
    arm_timer();
}

static void free_dead(void)
{
    while (dead_list) {
        struct conn *c = dead_list;
        dead_list = c->next_dead;
        free(c);
    }
}

/* End of stdin: the bench is done with us. Close every pair (their clients see the connection close). */
static void quit(void)
{
    while (live_list)
        conn_close(live_list);
    free_dead();
    exit(0);
}

static void control_command(char *line)
{
    long v;
    char *end;
    if (strncmp(line, "delay ", 6) == 0) {
        errno = 0;
        v = strtol(line + 6, &end, 10);
        if (errno != 0 || end == line + 6 || *end != '\0' || v < 0 || v > MAX_DELAY_MS) {
            say("error delay takes 0..%d ms\n", MAX_DELAY_MS);
            return;
        }
        delay_ns = (int64_t)v * 1000000;
        say("delay %ld\n", v);
    } else if (strcmp(line, "stats") == 0) {
        say("stats conns=%ld peak_conns=%ld inflight=%ld peak_inflight=%ld answers=%" PRIu64 " refused=%" PRIu64
            " delay_ms=%" PRId64 "\n",
            n_conns, peak_conns, n_inflight, peak_inflight, n_answers, n_refused, delay_ns / 1000000);
        peak_conns = n_conns;
        peak_inflight = n_inflight;
    } else {
        say("error unknown command (delay N, stats)\n");
    }
}

static void on_control(void)
{
    static char line[CONTROL_LINE];
    static size_t len;
    char buf[CONTROL_LINE];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return;
        die("read stdin");
    }
    if (n == 0)
        quit(); /* the bench is gone */
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            line[len] = '\0';
            if (len && line[len - 1] == '\r')
                line[len - 1] = '\0';
            control_command(line);
            len = 0;
        } else if (len + 1 < sizeof line) {
            line[len++] = buf[i];
        } /* a longer line is cut: bounded, and then refused as an unknown command */
    }
}

static long parse_arg(const char *name, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "ddb-relay: %s takes a number from %ld to %ld\n", name, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long listen_port = 0;
    upstream_port = -1;
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val && strcmp(opt, "--upstream-port") == 0) {
            upstream_port = (int)parse_arg(opt, val, 1, 65535);
        } else if (val && strcmp(opt, "--listen-port") == 0) {
            listen_port = parse_arg(opt, val, 0, 65535);
        } else if (val && strcmp(opt, "--delay-ms") == 0) {
            delay_ns = (int64_t)parse_arg(opt, val, 0, MAX_DELAY_MS) * 1000000;
        } else if (val && strcmp(opt, "--max-conns") == 0) {
            max_conns = parse_arg(opt, val, 1, 1000000);
        } else {
            fprintf(stderr, "usage: ddb-relay --upstream-port PORT [--listen-port PORT] [--delay-ms N] "
                            "[--max-conns N]\n(both ends are 127.0.0.1; commands on stdin: delay N, stats)\n");
            return 2;
        }
    }
    if (upstream_port < 0) {
        fprintf(stderr, "ddb-relay: --upstream-port is required\n");
        return 2;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die("signal");

    /* Two descriptors per pair: take the hard limit and keep the pair count inside it. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit");
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            die("setrlimit");
    }
    long fit = rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : ((long)rl.rlim_cur - 16) / 2;
    if (fit < 1) {
        fprintf(stderr, "ddb-relay: too few file descriptors allowed\n");
        return 1;
    }
    if (max_conns > fit)
        max_conns = fit;

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd < 0)
        die("timerfd_create");
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0)
        die("socket");
    int one = 1;
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        die("setsockopt SO_REUSEADDR");
    struct sockaddr_in sa = loopback((int)listen_port);
    if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("bind 127.0.0.1");
    if (listen(listen_fd, 4096) != 0)
        die("listen");
    socklen_t salen = sizeof sa;
    if (getsockname(listen_fd, (struct sockaddr *)&sa, &salen) != 0)
        die("getsockname");
    if (set_nonblock_cloexec(STDIN_FILENO) != 0)
        die("stdin non-blocking");

    listen_end = (struct end){.fd = listen_fd};
    timer_end = (struct end){.fd = timer_fd};
    control_end = (struct end){.fd = STDIN_FILENO};
    if (add_fd(listen_fd, &listen_end, EPOLLIN) != 0 || add_fd(timer_fd, &timer_end, EPOLLIN) != 0)
        die("epoll_ctl ADD");
    if (add_fd(STDIN_FILENO, &control_end, EPOLLIN) != 0) {
        /* epoll refuses plain files and /dev/null: the control channel must be a pipe (or a terminal). */
        fprintf(stderr, "ddb-relay: stdin must be a pipe or a terminal (commands come on it): %s\n",
                strerror(errno));
        return 2;
    }

    say("PORT %d\n", ntohs(sa.sin_port));

    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct end *e = evs[i].data.ptr;
            if (e == &listen_end)
                on_accept();
            else if (e == &timer_end)
                on_timer();
            else if (e == &control_end)
                on_control();
            else
                on_io(e, evs[i].events);
        }
        free_dead();
    }
}
