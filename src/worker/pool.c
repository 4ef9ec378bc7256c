/* pool.c — a supervising parent for a pre-forked pool of FastCGI workers sharing one listening socket.
 * Signals are taken synchronously with sigtimedwait, so the parent needs no handlers and no global state.
 * A reload starts the new workers first, then lets the old ones finish what they hold (like nginx's own). */
#include "config.h"

#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "jsonx.h"
#include "metrics.h"

struct pool_slot {
    pid_t pid;             /* 0: empty */
    long started_ms;
    long respawn_at_ms;    /* when empty: the time to start a replacement */
};

struct pool {
    const struct pool_options *options;
    struct pool_slot *slots;
    int count;
    pid_t *retiring;       /* workers told to stop by a reload, still finishing their requests */
    int retiring_count;
    int retiring_cap;
    struct pool_slot sidecar;  /* the metrics listener, when the options name one */
    sigset_t original_mask;
    pool_worker_fn fn;
    void *arg;
};

void pool_options_default(struct pool_options *o)
{
    o->workers = 0;
    o->respawn_delay_ms = 1000;
    o->young_death_ms = 2000;
    o->stop_grace_ms = 10000;
    o->log_level = LOG_LEVEL_INFO;
    o->metrics = NULL;
    o->sidecar = NULL;
}

int pool_default_workers(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    if (cpus > 256)
        cpus = 256;
    return (int)cpus * 2;
}

/* One line about the pool, in the log's common format, with the event's name, the worker's pid and why. */
static void log_event(const struct pool *p, enum log_level level, const char *event, pid_t pid, const char *detail)
{
    json_object *extra = json_object_new_object();
    if (json_add(extra, "event", json_object_new_string(event)) != 0 ||
        json_add(extra, "workerPid", json_object_new_int((int)pid)) != 0 ||
        json_add(extra, "detail", json_object_new_string(detail)) != 0) {
        json_object_put(extra);
        extra = NULL; /* out of memory: the message alone still says what happened */
    }
    log_message(p->options->log_level, level, extra, "%s%s%s", event, detail[0] ? ": " : "", detail);
    json_object_put(extra);
}

static int spawn(struct pool *p, int i)
{
    struct metrics_process *slot = metrics_process_claim(p->options->metrics);
    pid_t pid = fork();
    if (pid < 0) {
        char detail[96];
        snprintf(detail, sizeof detail, "fork failed: errno %d", errno);
        log_event(p, LOG_LEVEL_ERROR, "worker_spawn_failed", 0, detail);
        metrics_process_release(p->options->metrics, slot);
        metrics_pool_spawn_failed(p->options->metrics);
        p->slots[i].pid = 0;
        p->slots[i].respawn_at_ms = clock_monotonic_ms() + p->options->respawn_delay_ms;
        return -1;
    }
    if (pid == 0) {
        /* The child gets the signal mask the pool was started with, so its own handlers work. */
        if (sigprocmask(SIG_SETMASK, &p->original_mask, NULL) != 0)
            _exit(70);
        int status = p->fn(p->arg, slot);
        fflush(NULL);
        _exit(status);
    }
    metrics_process_started(p->options->metrics, slot, pid);
    p->slots[i].pid = pid;
    p->slots[i].started_ms = clock_monotonic_ms();
    p->slots[i].respawn_at_ms = 0;
    log_event(p, LOG_LEVEL_INFO, "worker_started", pid, "");
    return 0;
}

/* The metrics listener: a child like a worker, but with no slot and no request to serve. */
static void spawn_sidecar(struct pool *p)
{
    pid_t pid = fork();
    if (pid < 0) {
        p->sidecar.respawn_at_ms = clock_monotonic_ms() + p->options->respawn_delay_ms;
        return;
    }
    if (pid == 0) {
        if (sigprocmask(SIG_SETMASK, &p->original_mask, NULL) != 0)
            _exit(70);
        int status = p->options->sidecar(p->arg);
        fflush(NULL);
        _exit(status);
    }
    p->sidecar.pid = pid;
    p->sidecar.started_ms = clock_monotonic_ms();
    log_event(p, LOG_LEVEL_INFO, "metrics_started", pid, "");
}

static void describe_status(int status, char *out, size_t len)
{
    if (WIFEXITED(status))
        snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, len, "stopped");
}

/* Reap every dead child; schedule replacements of the current workers unless stopping. */
static void reap(struct pool *p, int stopping)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        char detail[64];
        describe_status(status, detail, sizeof detail);
        int known = 0;
        if (pid == p->sidecar.pid) {
            log_event(p, stopping ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "metrics_exited", pid, detail);
            long lived = clock_monotonic_ms() - p->sidecar.started_ms;
            p->sidecar.pid = 0;
            p->sidecar.respawn_at_ms =
                clock_monotonic_ms() + (lived < p->options->young_death_ms ? p->options->respawn_delay_ms : 0);
            continue;
        }
        for (int i = 0; i < p->retiring_count; i++) {
            if (p->retiring[i] != pid)
                continue;
            /* A reload's old worker, done: its replacement is already serving. */
            p->retiring[i] = p->retiring[--p->retiring_count];
            log_event(p, LOG_LEVEL_INFO, "worker_exited", pid, detail);
            metrics_process_exited(p->options->metrics, pid, 0);
            known = 1;
            break;
        }
        for (int i = 0; !known && i < p->count; i++) {
            if (p->slots[i].pid != pid)
                continue;
            known = 1;
            log_event(p, stopping ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "worker_exited", pid, detail);
            metrics_process_exited(p->options->metrics, pid, !stopping);
            long lived = clock_monotonic_ms() - p->slots[i].started_ms;
            p->slots[i].pid = 0;
            /* A worker that keeps dying at once (bad config, missing table) must not spin the CPU. */
            p->slots[i].respawn_at_ms =
                clock_monotonic_ms() + (lived < p->options->young_death_ms ? p->options->respawn_delay_ms : 0);
        }
        if (!known) {
            log_event(p, LOG_LEVEL_INFO, "worker_exited", pid, detail);
            metrics_process_exited(p->options->metrics, pid, 0);
        }
    }
}

static int alive(const struct pool *p)
{
    int n = p->retiring_count + (p->sidecar.pid != 0);
    for (int i = 0; i < p->count; i++)
        n += p->slots[i].pid != 0;
    return n;
}

static void signal_all(const struct pool *p, int sig)
{
    for (int i = 0; i < p->count; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, sig);
    for (int i = 0; i < p->retiring_count; i++)
        kill(p->retiring[i], sig);
    if (p->sidecar.pid > 0)
        kill(p->sidecar.pid, sig);
}

/* SIGHUP: every current worker becomes a retiring one (SIGTERM: it finishes what it holds and exits) and
 * its slot is refilled at once, so the socket is never without workers while the old ones drain. */
static void reload(struct pool *p)
{
    for (int i = 0; i < p->count; i++) {
        pid_t pid = p->slots[i].pid;
        if (pid <= 0)
            continue;
        if (p->retiring_count == p->retiring_cap) {
            int cap = p->retiring_cap ? p->retiring_cap * 2 : p->count;
            pid_t *grown = realloc(p->retiring, (size_t)cap * sizeof *grown);
            if (!grown) {
                /* No room to remember it: it is still stopped, and reaped as an unknown child. */
                kill(pid, SIGTERM);
                p->slots[i].pid = 0;
                p->slots[i].respawn_at_ms = 0;
                continue;
            }
            p->retiring = grown;
            p->retiring_cap = cap;
        }
        p->retiring[p->retiring_count++] = pid;
        metrics_process_retiring(p->options->metrics, pid);
        kill(pid, SIGTERM);
        p->slots[i].pid = 0;
        p->slots[i].respawn_at_ms = 0;
    }
}

static void stop_all(struct pool *p, const sigset_t *wanted)
{
    signal_all(p, SIGTERM);
    long deadline = clock_monotonic_ms() + p->options->stop_grace_ms;
    while (alive(p) && clock_monotonic_ms() < deadline) {
        struct timespec wait = {.tv_sec = 0, .tv_nsec = 100000000L};
        siginfo_t info;
        (void)sigtimedwait(wanted, &info, &wait);
        reap(p, 1);
    }
    if (alive(p)) {
        signal_all(p, SIGKILL);
        while (alive(p)) {
            int status;
            pid_t pid = waitpid(-1, &status, 0);
            if (pid < 0 && errno != EINTR)
                break;
            for (int i = 0; i < p->count; i++)
                if (p->slots[i].pid == pid)
                    p->slots[i].pid = 0;
            for (int i = 0; i < p->retiring_count; i++)
                if (p->retiring[i] == pid)
                    p->retiring[i--] = p->retiring[--p->retiring_count];
            if (p->sidecar.pid == pid)
                p->sidecar.pid = 0;
        }
    }
}

int pool_run(const struct pool_options *o, pool_worker_fn fn, void *arg)
{
    struct pool p = {.options = o, .fn = fn, .arg = arg};
    p.count = o->workers > 0 ? o->workers : pool_default_workers();
    p.slots = calloc((size_t)p.count, sizeof *p.slots);
    if (!p.slots)
        return -1;

    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &wanted, &p.original_mask) != 0) {
        free(p.slots);
        return -1;
    }
    int started = 0;
    for (int i = 0; i < p.count; i++)
        started += spawn(&p, i) == 0;
    if (!started) {
        sigprocmask(SIG_SETMASK, &p.original_mask, NULL);
        free(p.slots);
        return -1;
    }
    if (o->sidecar)
        spawn_sidecar(&p);
    char detail[64];
    snprintf(detail, sizeof detail, "%d workers", p.count);
    log_event(&p, LOG_LEVEL_INFO, "pool_started", getpid(), detail);

    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 200000000L};
        siginfo_t info;
        int sig = sigtimedwait(&wanted, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_event(&p, LOG_LEVEL_INFO, "pool_stopping", getpid(), "");
            stop_all(&p, &wanted);
            break;
        }
        if (sig == SIGHUP) {
            log_event(&p, LOG_LEVEL_INFO, "pool_reloading", getpid(), "");
            metrics_pool_reloaded(o->metrics);
            reload(&p);
        }
        reap(&p, 0);
        long now = clock_monotonic_ms();
        for (int i = 0; i < p.count; i++)
            if (p.slots[i].pid == 0 && now >= p.slots[i].respawn_at_ms)
                spawn(&p, i);
        if (o->sidecar && p.sidecar.pid == 0 && now >= p.sidecar.respawn_at_ms)
            spawn_sidecar(&p);
    }
    sigprocmask(SIG_SETMASK, &p.original_mask, NULL);
    free(p.retiring);
    free(p.slots);
    return 0;
}
