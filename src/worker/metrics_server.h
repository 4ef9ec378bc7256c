/* metrics_server.h — the metrics listener: a process of the pool (forked and supervised by the supervisor) that
 * serves GET /metrics (Prometheus text) and GET /status (the pool status page, php-fpm's way; JSON with ?json)
 * on metrics_listen, from the shared counters (metrics.h), nginx's access log (gateway_log.h) and the FastCGI
 * socket's accept queue. It never touches the request path: it only reads. */
#ifndef CLONE_JOBS_METRICS_SERVER_H
#define CLONE_JOBS_METRICS_SERVER_H

#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "gateway_log.h"
#include "metrics.h"

/* The supervisor's part, before it forks: the shared region for `workers` processes (2 x workers + 1 slots, a
 * reload runs old and new side by side) and the listening socket on c->metrics_listen, so a restarted listener
 * never has to bind again. Returns 0 with both set, or -1 with err (the pool then runs without metrics). */
int metrics_server_prepare(const struct conf *c, int workers, struct metrics_region **region, int *listen_fd,
                           char *err, size_t errlen);

/* The listener process's name (/proc/PID/comm), beside the workers' clone-jobs-fcgi. */
#define METRICS_SERVER_COMM "cj-metrics"

/* The listener process: serves listen_fd until SIGTERM or SIGINT (or the supervisor's death). fcgi_fd is the
 * pool's FastCGI listening socket, whose accept queue it reports. Returns the exit status. */
int metrics_server_run(const struct conf *c, struct metrics_region *region, int listen_fd, int fcgi_fd);

/* The accept queue of a listening socket (unix: sock_diag; TCP: TCP_INFO): now and its limit. Returns 0, or -1
 * when the system cannot say. */
int metrics_listen_queue(int fd, long *queued, long *limit);

/* The documents, into out (exposed for the tests): Prometheus' text format 0.0.4, and the status page. */
struct metrics_snapshot {
    struct metrics_totals totals;
    const struct gateway_log *gateway; /* NULL: no access log configured */
    long queue, queue_limit;           /* -1: unknown */
    size_t region_bytes;
    long long now_unix_ms, now_us;
};
int metrics_render_prometheus(const struct metrics_snapshot *s, struct buf *out);
int metrics_render_status(const struct metrics_snapshot *s, const struct metrics_region *r, int json,
                          struct buf *out);

#endif
