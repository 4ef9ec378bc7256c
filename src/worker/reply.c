/* reply.c — sets a request's answer and its log outcome together, so every error path says why in the log.
 * Out of memory while building an answer leaves status 500 with no body; the dispatcher adds the fixed one. */
#include "config.h"

#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonx.h"

void reply_outcome(struct request_stats *st, const char *outcome, const char *detail_fmt, ...)
{
    snprintf(st->outcome, sizeof st->outcome, "%s", outcome);
    va_list ap;
    va_start(ap, detail_fmt);
    int n = vsnprintf(st->detail, sizeof st->detail, detail_fmt, ap);
    va_end(ap);
    if (n < 0)
        st->detail[0] = '\0';
}

void reply_message(struct request_stats *st, struct http_response *resp, int status, const char *outcome,
                   const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (n < 0)
        message[0] = '\0';
    http_response_reset(resp);
    reply_outcome(st, outcome, "%s", message);
    if (http_response_message(resp, status, message) != 0)
        resp->status = 500;
}

void reply_internal(struct request_stats *st, struct http_response *resp, const char *detail)
{
    http_response_reset(resp);
    reply_outcome(st, "internal", "%s", detail);
    st->error_log = 1;
    if (http_response_message(resp, 500, "Internal server error") != 0)
        resp->status = 500;
}

void reply_json(struct request_stats *st, struct http_response *resp, int status, json_object *body)
{
    if (http_response_json(resp, status, body) != 0)
        reply_internal(st, resp, "could not serialize the response");
}

void reply_not_found(struct request_stats *st, struct http_response *resp, const char *field, const char *id,
                     int capital_message)
{
    /* A cloneID is at most 1024 bytes, so the message always fits. */
    char message[2400];
    snprintf(message, sizeof message, "%s: %s not found", field, id);
    http_response_reset(resp);
    reply_outcome(st, "not_found", "%s", "no such item");
    json_object *o = json_object_new_object();
    /* The tutorial's GET /clone answered {"Message": ...}; clients of part 1 may read that spelling. */
    if (json_add(o, capital_message ? "Message" : "message", json_object_new_string(message)) != 0)
        reply_internal(st, resp, "out of memory");
    else
        reply_json(st, resp, 404, o);
    json_object_put(o);
}

void reply_precondition_failed(struct request_stats *st, struct http_response *resp)
{
    reply_message(st, resp, 412, "precondition_failed", "If-Match does not match the item's current ETag");
}

void reply_unavailable(struct http_response *resp)
{
    http_response_reset(resp);
    if (http_response_message(resp, 503, "service unavailable, retry later") != 0 ||
        http_response_header(resp, "Retry-After", "1") != 0)
        resp->status = 500;
}

void reply_gateway_error(struct request_stats *st, struct http_response *resp, int status, const char *outcome,
                         const char *message, const char *error_type)
{
    reply_message(st, resp, status, outcome, "%s", message);
    if (resp->status == status && http_response_header(resp, "x-amzn-ErrorType", error_type) != 0)
        resp->status = 500;
}

void reply_ddb_failure(struct request_stats *st, struct http_response *resp, const char *table,
                       const struct ddb_result *r)
{
    const char *op_detail = r->message[0] ? r->message : ddb_outcome_name(r->outcome);
    switch (r->outcome) {
    case DDB_THROTTLED:
    case DDB_UNAVAILABLE:
    case DDB_RESOURCE_NOT_FOUND:
        if (r->outcome == DDB_RESOURCE_NOT_FOUND) {
            reply_outcome(st, "table_missing", "DynamoDB table %s not found: %s", table, op_detail);
            st->error_log = 1;
        } else {
            reply_outcome(st, ddb_outcome_name(r->outcome), "%s %s", r->error_type, op_detail);
        }
        reply_unavailable(resp);
        return;
    case DDB_VALIDATION:
        /* DynamoDB names the item-size limit in its own words; say it plainly. */
        if (strstr(r->message, "size") && (strstr(r->message, "exceeded") || strstr(r->message, "maximum")))
            reply_message(st, resp, 400, "too_large", "item too large: DynamoDB limits an item to 400 KB (%s)",
                          r->message);
        else
            reply_message(st, resp, 400, "ddb_rejected", "DynamoDB rejected the request: %s", r->message);
        return;
    case DDB_CONDITION_FAILED:
        /* Handlers decide what a failed condition means; reaching here is a handler bug. */
        reply_internal(st, resp, "unexpected condition failure");
        return;
    case DDB_CLIENT_ERROR:
    case DDB_INTERNAL:
    case DDB_OK:
        break;
    }
    char detail[700];
    snprintf(detail, sizeof detail, "DynamoDB %s: %s %s", ddb_outcome_name(r->outcome), r->error_type, op_detail);
    reply_internal(st, resp, detail);
}
