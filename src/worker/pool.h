/* pool.h — a supervising parent for a pre-forked pool of FastCGI workers sharing one listening socket.
 * spawn-fcgi creates the socket (fd 0) and execs us; the pool forks N workers and replaces any that die. */
#ifndef CLONE_JOBS_POOL_H
#define CLONE_JOBS_POOL_H

#include "log.h"

struct metrics_region;
struct metrics_process;

struct pool_options {
    int workers;              /* how many; <= 0 means 2 per online CPU */
    enum log_level log_level; /* the pool's own lines below this are not written */
    int respawn_delay_ms;     /* pause before replacing a worker that died young; default 1000 */
    int young_death_ms;       /* a worker that dies sooner than this counts as dying young; default 2000 */
    int stop_grace_ms;        /* SIGTERM to workers, then SIGKILL after this; default 10000 */
    /* The pool's metrics (metrics.h), or NULL: each worker gets a process slot of it, and the supervisor counts
     * starts, restarts and reloads there and folds a dead worker's counters into the totals. */
    struct metrics_region *metrics;
    /* One more child kept alive beside the workers (the metrics listener), or NULL: sidecar(arg). */
    int (*sidecar)(void *arg);
};

/* The work of one child: runs until it should exit and returns its exit status. metrics is its process slot
 * in the pool's metrics region (NULL: none). */
typedef int (*pool_worker_fn)(void *arg, struct metrics_process *metrics);

void pool_options_default(struct pool_options *o);

/* Number of workers "2 per core" gives on this machine. */
int pool_default_workers(void);

/* Fork o->workers children running fn(arg) and keep that many alive until SIGTERM or SIGINT;
 * then stop them (SIGTERM, then SIGKILL after the grace period) and return 0. Returns -1 when the
 * pool cannot start (no child could be forked). SIGHUP starts a new set of workers at once and sends the
 * old ones SIGTERM: they finish what they hold and exit while the new ones serve.
 * Logs one line (log_message, with "event", "workerPid" and "detail") per worker start and death. */
int pool_run(const struct pool_options *o, pool_worker_fn fn, void *arg);

#endif
