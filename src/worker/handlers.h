/* handlers.h — the route handlers (routes.def names one per route) and the context each one is given.
 * Handlers sit between the dispatcher (worker.c) above and the reply, store and item layers below. */
#ifndef CLONE_JOBS_HANDLERS_H
#define CLONE_JOBS_HANDLERS_H

#include <stddef.h>

#include "conf.h"
#include "http.h"
#include "router.h"
#include "stats.h"
#include "store.h"

/* What a handler may use for one request: read-only configuration, the thread's store (whose calls land
 * in stats), the request's stats for its log line, and the process's cursor key. */
struct handler_context {
    const struct conf *conf;
    struct store *store;
    struct request_stats *stats;
    const unsigned char *cursor_key;
    size_t cursor_key_len;
};

/* Each handler answers in resp (always: a status is set on every path). */

/* handlers_health.c: GET /health (?deep=1 also describes the table). */
void handle_health(struct handler_context *ctx, const struct http_request *req, const struct route_match *m,
                   struct http_response *resp);

/* handlers_tutorial.c: routes part 1, the tutorial's /clone with its own bodies. */
void handle_tutorial_get(struct handler_context *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp);
void handle_tutorial_save(struct handler_context *ctx, const struct http_request *req,
                          const struct route_match *m, struct http_response *resp);
void handle_tutorial_update(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp);
void handle_tutorial_delete(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp);

/* handlers_list.c: GET /clones (limit, cursor, status). */
void handle_list(struct handler_context *ctx, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp);

/* handlers_resource.c: routes part 2, /clones and /clones/{cloneID} with HTTP's statuses and If-Match. */
void handle_resource_create(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp);
void handle_resource_get(struct handler_context *ctx, const struct http_request *req,
                         const struct route_match *m, struct http_response *resp);
void handle_resource_put(struct handler_context *ctx, const struct http_request *req,
                         const struct route_match *m, struct http_response *resp);
void handle_resource_patch(struct handler_context *ctx, const struct http_request *req,
                           const struct route_match *m, struct http_response *resp);
void handle_resource_delete(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp);

#endif
