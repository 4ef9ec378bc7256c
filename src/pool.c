/* pool.c — a supervising parent for a pre-forked pool of FastCGI workers sharing one listening socket.
 * Signals are taken synchronously with sigtimedwait, so the parent needs no handlers and no global state. */
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

struct pool_slot {
    pid_t pid;             /* 0: empty */
    long started_ms;
    long respawn_at_ms;    /* when empty: the time to start a replacement */
};

struct pool {
    const struct pool_options *options;
    struct pool_slot *slots;
    int count;
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

static long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_event(const char *level, const char *event, pid_t pid, const char *detail)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(when, sizeof when, "unknown");
    /* detail is built by this file from numbers and fixed words only, so it needs no escaping. */
    fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"%s\",\"pid\":%ld,\"detail\":\"%s\"}\n",
            when, level, event, (long)pid, detail);
}

static int spawn(struct pool *p, int i)
{
    pid_t pid = fork();
    if (pid < 0) {
        char detail[96];
        snprintf(detail, sizeof detail, "fork failed: errno %d", errno);
        log_event("error", "worker_spawn_failed", 0, detail);
        p->slots[i].pid = 0;
        p->slots[i].respawn_at_ms = now_ms() + p->options->respawn_delay_ms;
        return -1;
    }
    if (pid == 0) {
        /* The child gets the signal mask the pool was started with, so its own handlers work. */
        if (sigprocmask(SIG_SETMASK, &p->original_mask, NULL) != 0)
            _exit(70);
        int status = p->fn(p->arg);
        fflush(NULL);
        _exit(status);
    }
    p->slots[i].pid = pid;
    p->slots[i].started_ms = now_ms();
    p->slots[i].respawn_at_ms = 0;
    log_event("info", "worker_started", pid, "");
    return 0;
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

/* Reap every dead child; schedule replacements unless stopping. */
static void reap(struct pool *p, int stopping)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (int i = 0; i < p->count; i++) {
            if (p->slots[i].pid != pid)
                continue;
            char detail[64];
            describe_status(status, detail, sizeof detail);
            log_event(stopping ? "info" : "warn", "worker_exited", pid, detail);
            long lived = now_ms() - p->slots[i].started_ms;
            p->slots[i].pid = 0;
            /* A worker that keeps dying at once (bad config, missing table) must not spin the CPU. */
            p->slots[i].respawn_at_ms =
                now_ms() + (lived < p->options->young_death_ms ? p->options->respawn_delay_ms : 0);
        }
    }
}

static int alive(const struct pool *p)
{
    int n = 0;
    for (int i = 0; i < p->count; i++)
        n += p->slots[i].pid != 0;
    return n;
}

static void signal_all(const struct pool *p, int sig)
{
    for (int i = 0; i < p->count; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, sig);
}

static void stop_all(struct pool *p, const sigset_t *wanted)
{
    signal_all(p, SIGTERM);
    long deadline = now_ms() + p->options->stop_grace_ms;
    while (alive(p) && now_ms() < deadline) {
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
    char detail[64];
    snprintf(detail, sizeof detail, "%d workers", p.count);
    log_event("info", "pool_started", getpid(), detail);

    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 200000000L};
        siginfo_t info;
        int sig = sigtimedwait(&wanted, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_event("info", "pool_stopping", getpid(), "");
            stop_all(&p, &wanted);
            break;
        }
        if (sig == SIGHUP) {
            /* Each worker finishes its request and exits; the reaper starts its replacement at once. */
            log_event("info", "pool_reloading", getpid(), "");
            signal_all(&p, SIGTERM);
            for (int i = 0; i < p.count; i++)
                p.slots[i].started_ms = 0;
        }
        reap(&p, 0);
        long now = now_ms();
        for (int i = 0; i < p.count; i++)
            if (p.slots[i].pid == 0 && now >= p.slots[i].respawn_at_ms)
                spawn(&p, i);
    }
    sigprocmask(SIG_SETMASK, &p.original_mask, NULL);
    free(p.slots);
    return 0;
}
