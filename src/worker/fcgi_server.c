/* fcgi_server.c — threads that each accept and serve one FastCGI request at a time, and a main thread that
 * waits for the stop signal. One thread per process polls the listening socket at a time (a mutex, as in
 * libfcgi's threaded example), so a new connection wakes one thread per process, not every idle one. */
#include "config.h"

#include "fcgi_server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct server {
    struct worker_process *process;
    int listen_fd;
    int stop_fd;               /* an eventfd made readable once, at the stop: every poll sees it */
    pthread_mutex_t accept_lock;
    atomic_long served;
    atomic_int running;        /* threads that started and have not finished */
    atomic_int failed;         /* a thread met an error it cannot recover from */
    atomic_int stopping;       /* set with the eventfd */
    atomic_long linger_until_ms; /* stopping: kept connections are served until nginx closes them, or this */
};

/* How long a stopping process keeps serving the connections nginx keeps open to it. nginx closes them
 * itself well before (the site's keepalive_timeout 2 s, keepalive_time 5 s): closing one from this side
 * could race a request nginx is sending on it, which it cannot retry when it is a POST. Below the pool's
 * 10 s grace before SIGKILL. */
#define KEPT_LINGER_MS 8000

struct thread_slot {
    struct server *server;
    pthread_t id;
    int started;
};

static enum log_level threshold(const struct server *s)
{
    return s->process->conf->log_level;
}

/* Wait until fd is readable or the stop is signalled. Returns 1 readable, 0 stop, -1 error. With
 * serve_first, a readable fd wins over the stop: a request nginx already sent on a kept connection is
 * served rather than dropped with it (nginx would answer a POST it cannot retry with a 502). */
static int wait_readable(const struct server *s, int fd, int serve_first)
{
    for (;;) {
        struct pollfd fds[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (serve_first && fds[0].revents)
            return 1;
        if (fds[1].revents)
            return 0;
        if (fds[0].revents)
            return 1;
    }
}

/* Take the next request into req: on the connection nginx kept open (fastcgi_keep_conn), else a new one
 * from the listening socket. Returns 1 with a request, 0 at the stop, -1 on a fatal error. */
static int next_request(struct server *s, FCGX_Request *req)
{
    if (req->ipcFd >= 0) {
        /* A kept connection: only this thread reads it, so no lock; its next request, or its end. */
        int r = atomic_load(&s->stopping) ? 0 : wait_readable(s, req->ipcFd, 1);
        if (r == 0) {
            /* Stopping: serve on until nginx closes the connection, within the linger bound. */
            long left = atomic_load(&s->linger_until_ms) - clock_monotonic_ms();
            struct pollfd pfd = {.fd = req->ipcFd, .events = POLLIN};
            int n;
            while ((n = poll(&pfd, 1, left > 0 ? (int)left : 0)) < 0 && errno == EINTR)
                ;
            if (n <= 0) {
                log_message(threshold(s), LOG_LEVEL_WARN, NULL,
                            "a kept FastCGI connection was still open %d ms after the stop: closed", KEPT_LINGER_MS);
                return 0;
            }
            r = 1;
        }
        if (r < 0)
            return r;
        if (FCGX_Accept_r(req) == 0)
            return 1;
        /* The web server closed it; fall through to the listening socket. */
    }
    if (atomic_load(&s->stopping))
        return 0;
    if (pthread_mutex_lock(&s->accept_lock) != 0)
        return -1;
    int result = -1;
    for (;;) {
        int r = wait_readable(s, s->listen_fd, 0);
        if (r <= 0) {
            result = r;
            break;
        }
        /* The socket is non-blocking: another process may have taken the connection first (EAGAIN). */
        int rc = FCGX_Accept_r(req);
        if (rc == 0) {
            result = 1;
            break;
        }
        if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR && rc != -ECONNABORTED) {
            log_message(threshold(s), LOG_LEVEL_ERROR, NULL, "accept on the FastCGI socket failed (%d)", rc);
            break;
        }
    }
    pthread_mutex_unlock(&s->accept_lock);
    return result;
}

static long fcgx_read(void *ctx, char *data, size_t n)
{
    FCGX_Request *r = ctx;
    int ask = n > 1 << 30 ? 1 << 30 : (int)n;
    int got = FCGX_GetStr(data, ask, r->in);
    if (got < ask && FCGX_GetError(r->in) != 0)
        return -1;
    return got;
}

static int fcgx_write(void *ctx, const char *data, size_t n)
{
    FCGX_Request *r = ctx;
    while (n) {
        int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
        if (FCGX_PutStr(data, chunk, r->out) != chunk)
            return -1;
        data += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

static void *serve_thread(void *arg)
{
    struct thread_slot *slot = arg;
    struct server *s = slot->server;
    char err[1024];
    struct worker w;
    if (worker_init(&w, s->process, err, sizeof err) != 0) {
        log_message(threshold(s), LOG_LEVEL_ERROR, NULL, "a serving thread cannot start: %s", err);
        atomic_store(&s->failed, 1);
        atomic_fetch_sub(&s->running, 1);
        return NULL;
    }
    FCGX_Request req;
    if (FCGX_InitRequest(&req, s->listen_fd, 0) != 0) {
        log_message(threshold(s), LOG_LEVEL_ERROR, NULL, "FCGX_InitRequest failed");
        atomic_store(&s->failed, 1);
    } else {
        for (;;) {
            int got = next_request(s, &req);
            if (got <= 0) {
                if (got < 0)
                    atomic_store(&s->failed, 1);
                break;
            }
            struct http_io io = {.read = fcgx_read, .write = fcgx_write, .ctx = &req};
            worker_serve(&w, req.envp, &io, 1);
            /* Flushes and ends the request; keeps the connection when the web server asked to. */
            FCGX_Finish_r(&req);
            worker_after_answer(&w);
            atomic_fetch_add(&s->served, 1);
        }
        FCGX_Free(&req, 1);
    }
    worker_free(&w);
    atomic_fetch_sub(&s->running, 1);
    return NULL;
}

/* Wake every thread: the eventfd stays readable, so each poll returns, now or when it next waits. */
static void signal_stop(struct server *s)
{
    atomic_store(&s->linger_until_ms, clock_monotonic_ms() + KEPT_LINGER_MS);
    atomic_store(&s->stopping, 1);
    uint64_t one = 1;
    while (write(s->stop_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

int fcgi_server_run(struct worker_process *p, int listen_fd, int threads)
{
    struct server s = {.process = p, .listen_fd = listen_fd, .stop_fd = -1};
    enum log_level lvl = p->conf->log_level;
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGHUP);
    /* Threads inherit this mask: the stop signals reach only the sigwait below. */
    if (pthread_sigmask(SIG_BLOCK, &stop_set, &old_set) != 0) {
        log_message(lvl, LOG_LEVEL_ERROR, NULL, "cannot block the stop signals");
        return 1;
    }
    int flags = fcntl(listen_fd, F_GETFL);
    s.stop_fd = eventfd(0, EFD_CLOEXEC);
    if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0 || s.stop_fd < 0 ||
        pthread_mutex_init(&s.accept_lock, NULL) != 0) {
        log_message(lvl, LOG_LEVEL_ERROR, NULL, "cannot set up the FastCGI socket (errno %d)", errno);
        if (s.stop_fd >= 0)
            close(s.stop_fd);
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
        return 1;
    }
    struct thread_slot *slots = calloc((size_t)threads, sizeof *slots);
    int started = 0;
    for (int i = 0; slots && i < threads; i++) {
        slots[i].server = &s;
        atomic_fetch_add(&s.running, 1);
        if (pthread_create(&slots[i].id, NULL, serve_thread, &slots[i]) == 0) {
            slots[i].started = 1;
            started++;
        } else {
            atomic_fetch_sub(&s.running, 1);
        }
    }
    if (started < threads)
        log_message(lvl, LOG_LEVEL_WARN, NULL, "%d of %d serving threads started", started, threads);
    log_message(lvl, LOG_LEVEL_INFO, NULL, "worker started (table %s, %d threads)", p->conf->table, started);
    int sig = 0;
    if (started > 0) {
        /* Wake now and then to notice threads that all failed (a fatal error stops the process). */
        for (;;) {
            struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
            sig = sigtimedwait(&stop_set, NULL, &tick);
            if (sig > 0 || atomic_load(&s.running) == 0 || atomic_load(&s.failed))
                break;
        }
    }
    if (sig > 0)
        log_message(lvl, LOG_LEVEL_INFO, NULL, "stop signal %d: finishing the requests under way", sig);
    signal_stop(&s);
    for (int i = 0; slots && i < threads; i++)
        if (slots[i].started)
            pthread_join(slots[i].id, NULL);
    int failed = started == 0 || atomic_load(&s.failed);
    log_message(lvl, failed ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO, NULL, "worker stopping after %ld requests%s",
                atomic_load(&s.served), sig > 0 ? " (signal)" : failed ? " (error)" : "");
    free(slots);
    pthread_mutex_destroy(&s.accept_lock);
    close(s.stop_fd);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return failed ? 1 : 0;
}
