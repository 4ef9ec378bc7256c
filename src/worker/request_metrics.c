/* request_metrics.c — the dispatcher's three calls into the pool's metrics and the slow-request log line.
 * Kept apart from metrics.c so the shared region knows nothing of HTTP, routes or the configuration. */
#include "config.h"

#include "request_metrics.h"

#include <string.h>

#include "clock.h"
#include "jsonx.h"
#include "log.h"

long long request_metrics_begin(struct metrics_process *p, struct metrics_thread *t)
{
    long long now = clock_monotonic_us();
    if (p && t)
        metrics_request_begin(p, t, now);
    return now;
}

void request_metrics_identify(struct metrics_thread *t, const struct http_request *req)
{
    if (t)
        metrics_request_identify(t, req->request_id, req->method, req->path ? req->path : "");
}

int request_metrics_cell(const struct conf *c, const struct http_request *req, const struct route_match *m)
{
    size_t count;
    const struct route *routes = router_routes(&count);
    if (m->route)
        return (int)(m->route - routes);
    /* A preflight on a known path: the allow list names the path's methods; route it as the first of them to
     * learn which path it was (preflights reach a worker only without nginx, which answers them itself). */
    if (req->path && strcmp(req->method, "OPTIONS") == 0 && strcmp(m->allow, "OPTIONS") != 0) {
        char method[16];
        size_t n = strcspn(m->allow, ",");
        if (n < sizeof method) {
            memcpy(method, m->allow, n);
            method[n] = '\0';
            struct route_match again;
            enum route_result r = router_match(c->stage, req->path, method, &again);
            int cell = metrics_cell_unmatched();
            if ((r == ROUTE_OK || r == ROUTE_BAD_PARAM) && again.route) {
                /* The first route with the same path stands for the path. */
                size_t i = (size_t)(again.route - routes);
                for (size_t k = 0; k < i; k++)
                    if (strcmp(routes[k].pattern, routes[i].pattern) == 0) {
                        i = k;
                        break;
                    }
                cell = metrics_cell_options((int)i);
            }
            route_match_free(&again);
            return cell;
        }
    }
    return metrics_cell_unmatched();
}

static void log_slow(const struct conf *c, const struct http_request *req, int status, long long latency_ms)
{
    json_object *extra = json_object_new_object();
    const char *path = req->path ? req->path : "";
    if (json_add(extra, "event", json_object_new_string("slow_request")) != 0 ||
        log_add_text(extra, "requestId", req->request_id, strlen(req->request_id)) != 0 ||
        log_add_text(extra, "method", req->method, strlen(req->method)) != 0 ||
        log_add_text(extra, "path", path, strlen(path)) != 0 ||
        json_add(extra, "status", json_object_new_int(status)) != 0 ||
        json_add(extra, "latencyMs", json_object_new_int64(latency_ms)) != 0 ||
        json_add(extra, "thresholdMs", json_object_new_int(c->slow_request_ms)) != 0) {
        json_object_put(extra);
        extra = NULL; /* out of memory: the message still names the request */
    }
    log_message(c->log_level, LOG_LEVEL_WARN, extra, "slow request %s: %lld ms (threshold %d ms)", req->request_id,
                latency_ms, c->slow_request_ms);
    json_object_put(extra);
}

void request_metrics_end(struct metrics_process *p, struct metrics_thread *t, const struct conf *c,
                         const struct http_request *req, const struct route_match *m, int status,
                         long long started_us)
{
    long long latency_us = clock_monotonic_us() - started_us;
    int slow = c->slow_request_ms > 0 && latency_us >= (long long)c->slow_request_ms * 1000;
    if (p && t)
        metrics_request_end(p, t, request_metrics_cell(c, req, m), status, latency_us, slow);
    if (slow)
        log_slow(c, req, status, latency_us / 1000);
}
