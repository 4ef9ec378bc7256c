/* input.h — what handlers read from a request before any DynamoDB call: the JSON body, a cloneID member,
 * and values DynamoDB can hold. Each check answers 400 itself, so handlers only stop on failure. */
#ifndef CLONE_JOBS_INPUT_H
#define CLONE_JOBS_INPUT_H

#include <stddef.h>
#include <json-c/json.h>

#include "http.h"
#include "stats.h"

/* The request body as a JSON object (caller owns *out), parsed strictly with at most max_depth levels.
 * Returns 0, or -1 after replying 400. */
int input_body_object(struct request_stats *st, struct http_response *resp, const struct http_request *req,
                      int max_depth, json_object **out);

/* The member field of body as a usable cloneID: its text (borrowed) and *len, or NULL (absent and not
 * required: nothing replied; otherwise after replying 400). */
const char *input_clone_id_member(struct request_stats *st, struct http_response *resp, json_object *body,
                                  const char *field, int required, size_t *len);

/* A raw cloneID (from the path or the query) checked by the cloneID rule: 0, or -1 after replying 400. */
int input_clone_id(struct request_stats *st, struct http_response *resp, const char *field, const char *id,
                   size_t len);

/* Answer a failed JSON -> DynamoDB conversion (rc and err from ddb_value.h): 400 naming what the client
 * sent, or 500 when memory ran out. */
void input_conversion_failed(struct request_stats *st, struct http_response *resp, int rc, const char *err);

/* Every value of body convertible to DynamoDB (numbers in range, ...): 0, or -1 after replying 400. */
int input_item_values(struct request_stats *st, struct http_response *resp, json_object *body);

#endif
