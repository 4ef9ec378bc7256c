/* handlers_health.c — GET /health: {"status":"ok"} from the worker alone, or with ?deep=1 the table's
 * state from DescribeTable (503 + Retry-After when it is missing, not ACTIVE or unreachable). */
#include "config.h"

#include "handlers.h"

#include <string.h>

#include "jsonx.h"
#include "reply.h"

/* ?deep= : 1 or true, 0 or false or empty; anything else is a 400. Returns 1, 0, or -1 after replying. */
static int deep_param(struct handler_context *ctx, const struct http_request *req, struct http_response *resp)
{
    const struct http_pair *deep = http_query(req, "deep");
    if (!deep || !deep->value[0] || strcmp(deep->value, "0") == 0 || strcmp(deep->value, "false") == 0)
        return 0;
    if (strcmp(deep->value, "1") == 0 || strcmp(deep->value, "true") == 0)
        return 1;
    reply_message(ctx->stats, resp, 400, "bad_request", "deep must be 1 or 0");
    return -1;
}

void handle_health(struct handler_context *ctx, const struct http_request *req, const struct route_match *m,
                   struct http_response *resp)
{
    (void)m;
    int deep = deep_param(ctx, req, resp);
    if (deep < 0)
        return;
    json_object *o = json_object_new_object();
    if (!deep) {
        if (json_add(o, "status", json_object_new_string("ok")) != 0)
            reply_internal(ctx->stats, resp, "out of memory");
        else
            reply_json(ctx->stats, resp, 200, o);
        json_object_put(o);
        return;
    }
    struct ddb_result r;
    enum ddb_outcome outcome = store_describe(ctx->store, &r);
    const char *table_state = "unreachable";
    const char *message = NULL;
    json_object *table = NULL, *status = NULL;
    if (outcome == DDB_OK && json_object_object_get_ex(r.response, "Table", &table) &&
        json_object_object_get_ex(table, "TableStatus", &status) && json_object_is_type(status, json_type_string))
        table_state = json_object_get_string(status);
    else if (outcome == DDB_OK)
        table_state = "unknown";
    else if (outcome == DDB_RESOURCE_NOT_FOUND) {
        table_state = "missing";
        message = "the table does not exist";
    } else if (outcome == DDB_THROTTLED) {
        message = "DynamoDB is throttling";
    } else {
        message = "DynamoDB cannot be reached";
    }
    int ok = strcmp(table_state, "ACTIVE") == 0;
    int failed = json_add(o, "status", json_object_new_string(ok ? "ok" : "unavailable")) != 0 ||
                 json_add(o, "table", json_object_new_string(table_state)) != 0 ||
                 (message && json_add(o, "message", json_object_new_string(message)) != 0);
    if (failed) {
        reply_internal(ctx->stats, resp, "out of memory");
    } else {
        reply_json(ctx->stats, resp, ok ? 200 : 503, o);
        if (!ok) {
            reply_outcome(ctx->stats,
                          outcome == DDB_OK                   ? "table_not_active"
                          : outcome == DDB_RESOURCE_NOT_FOUND ? "table_missing"
                                                              : ddb_outcome_name(outcome),
                          "deep health: table %s %s %s", table_state, r.error_type, r.message);
            if (outcome == DDB_RESOURCE_NOT_FOUND || outcome == DDB_CLIENT_ERROR || outcome == DDB_INTERNAL)
                ctx->stats->error_log = 1;
            if (http_response_header(resp, "Retry-After", "1") != 0)
                reply_internal(ctx->stats, resp, "out of memory");
        }
    }
    json_object_put(o);
    ddb_result_clear(&r);
}
