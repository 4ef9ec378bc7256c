/* request_metrics.h — one request's part in the pool's metrics (metrics.h): its start, what the status page shows
 * of it, its end (route cell, status class, latency), and the log line of a request slower than slow_request_ms. */
#ifndef CLONE_JOBS_REQUEST_METRICS_H
#define CLONE_JOBS_REQUEST_METRICS_H

#include "conf.h"
#include "http.h"
#include "metrics.h"
#include "router.h"

/* The request starts now: returns the monotonic time in microseconds (its latency counts from here). p and t
 * may be NULL (no metrics: CGI, or a process without a slot). */
long long request_metrics_begin(struct metrics_process *p, struct metrics_thread *t);
/* The request is parsed: its id, method and path go to the status page. */
void request_metrics_identify(struct metrics_thread *t, const struct http_request *req);
/* The request was answered with status (m as routed; req as parsed, path possibly NULL). Counts it, and logs a
 * "slow request" warning with its request id when it took slow_request_ms or longer (0: never). */
void request_metrics_end(struct metrics_process *p, struct metrics_thread *t, const struct conf *c,
                         const struct http_request *req, const struct route_match *m, int status,
                         long long started_us);

/* The cell a request is counted in (metrics_cell_*): its route, the preflight of its path, or unmatched. */
int request_metrics_cell(const struct conf *c, const struct http_request *req, const struct route_match *m);

#endif
