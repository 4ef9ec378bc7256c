/* input.c — the request body as strict JSON, cloneIDs by the one rule of item.c, and storable values.
 * Every refusal is a 400 with a message naming the field, before anything is sent to DynamoDB. */
#include "config.h"

#include "input.h"

#include "ddb_value.h"
#include "item.h"
#include "json_input.h"
#include "reply.h"

int input_body_object(struct request_stats *st, struct http_response *resp, const struct http_request *req,
                      int max_depth, json_object **out)
{
    *out = NULL;
    if (req->body.len == 0) {
        reply_message(st, resp, 400, "bad_request", "the request body must be a JSON object");
        return -1;
    }
    char err[200];
    json_object *o = NULL;
    int parsed = json_input_parse(req->body.data, req->body.len, max_depth, &o, err, sizeof err);
    if (parsed == JSON_INPUT_NO_MEMORY) {
        reply_internal(st, resp, err);
        return -1;
    }
    if (parsed != 0) {
        reply_message(st, resp, 400, "bad_request", "%s", err);
        return -1;
    }
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        reply_message(st, resp, 400, "bad_request", "the request body must be a JSON object");
        return -1;
    }
    *out = o;
    return 0;
}

const char *input_clone_id_member(struct request_stats *st, struct http_response *resp, json_object *body,
                                  const char *field, int required, size_t *len)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(body, field, &v)) {
        if (required)
            reply_message(st, resp, 400, "bad_request", "%s is required", field);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        reply_message(st, resp, 400, "bad_request", "%s must be a string", field);
        return NULL;
    }
    const char *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    if (input_clone_id(st, resp, field, s, *len) != 0)
        return NULL;
    return s;
}

int input_clone_id(struct request_stats *st, struct http_response *resp, const char *field, const char *id,
                   size_t len)
{
    const char *why = clone_id_problem(id, len);
    if (!why)
        return 0;
    reply_message(st, resp, 400, "bad_request", "%s %s", field, why);
    return -1;
}

void input_conversion_failed(struct request_stats *st, struct http_response *resp, int rc, const char *err)
{
    if (rc == DDBV_NO_MEMORY)
        reply_internal(st, resp, err);
    else
        reply_message(st, resp, 400, "bad_request", "%s", err);
}

int input_item_values(struct request_stats *st, struct http_response *resp, json_object *body)
{
    json_object *av = NULL;
    char err[300];
    int rc = ddbv_item_from_json(body, &av, err, sizeof err);
    if (rc != 0) {
        input_conversion_failed(st, resp, rc, err);
        return -1;
    }
    json_object_put(av);
    return 0;
}
