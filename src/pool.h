/* pool.h — a supervising parent for a pre-forked pool of FastCGI workers sharing one listening socket.
 * spawn-fcgi creates the socket (fd 0) and execs us; the pool forks N workers and replaces any that die. */
#ifndef CLONE_JOBS_POOL_H
#define CLONE_JOBS_POOL_H

struct pool_options {
    int workers;              /* how many; <= 0 means 2 per online CPU */
    int respawn_delay_ms;     /* pause before replacing a worker that died young; default 1000 */
    int young_death_ms;       /* a worker that dies sooner than this counts as dying young; default 2000 */
    int stop_grace_ms;        /* SIGTERM to workers, then SIGKILL after this; default 10000 */
};

/* The work of one child: runs until it should exit and returns its exit status. */
typedef int (*pool_worker_fn)(void *arg);

void pool_options_default(struct pool_options *o);

/* Number of workers "2 per core" gives on this machine. */
int pool_default_workers(void);

/* Fork o->workers children running fn(arg) and keep that many alive until SIGTERM or SIGINT;
 * then stop them (SIGTERM, then SIGKILL after the grace period) and return 0. Returns -1 when the
 * pool cannot start (no child could be forked). SIGHUP replaces the workers one by one.
 * Logs one JSON line on stderr per worker start and death. */
int pool_run(const struct pool_options *o, pool_worker_fn fn, void *arg);

#endif
