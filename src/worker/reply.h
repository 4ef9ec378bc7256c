/* reply.h — the answers handlers and the dispatcher give: status, {"message": ...} body, the outcome word
 * for the log line, and the gateway's own answers (API Gateway's bodies and x-amzn-ErrorType). */
#ifndef CLONE_JOBS_REPLY_H
#define CLONE_JOBS_REPLY_H

#include <json-c/json.h>

#include "ddb.h"
#include "http.h"
#include "stats.h"

/* Set the outcome word (and a detail for the log only) of the current request. */
void reply_outcome(struct request_stats *st, const char *outcome, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* status with {"message": the formatted text}; outcome for the log. Replaces whatever was in resp. */
void reply_message(struct request_stats *st, struct http_response *resp, int status, const char *outcome,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 500 Internal server error; detail goes to the log (at error level) only. */
void reply_internal(struct request_stats *st, struct http_response *resp, const char *detail);
/* status and body (borrowed); a failure to serialize becomes a 500. */
void reply_json(struct request_stats *st, struct http_response *resp, int status, json_object *body);
/* 404 {"message": "FIELD: ID not found"} ({"Message"} when capital: the tutorial's GET /clone). */
void reply_not_found(struct request_stats *st, struct http_response *resp, const char *field, const char *id,
                     int capital_message);
/* 412 {"message":"If-Match does not match the item's current ETag"}. */
void reply_precondition_failed(struct request_stats *st, struct http_response *resp);
/* 503 {"message":"service unavailable, retry later"} with Retry-After: 1 (the outcome is the caller's). */
void reply_unavailable(struct http_response *resp);
/* API Gateway's own answer: status, {"message": message} and x-amzn-ErrorType: error_type. */
void reply_gateway_error(struct request_stats *st, struct http_response *resp, int status, const char *outcome,
                         const char *message, const char *error_type);
/* A failed DynamoDB call on table: 503 (+Retry-After) for throttling, unreachable or a missing table,
 * 400 for a request DynamoDB refused (the item too large, ...), 500 otherwise. */
void reply_ddb_failure(struct request_stats *st, struct http_response *resp, const char *table,
                       const struct ddb_result *r);

#endif
