/* handlers_tutorial.c — routes part 1, the tutorial's API: GET|POST|PATCH|DELETE /clone with its own bodies
 * ({"Operation":..., "Message":"SUCCESS", ...}); the tutorial's failure cases answer 4xx here. */
#include "config.h"

#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "ddb_value.h"
#include "expr.h"
#include "if_match.h"
#include "input.h"
#include "item.h"
#include "item_read.h"
#include "jsonx.h"
#include "reply.h"
#include "text.h"
#include "write.h"

/* {"Operation": op, "Message": "SUCCESS", name: inner}; inner is consumed, whatever happens. */
static json_object *tutorial_body(const char *op, const char *name, json_object *inner)
{
    json_object *o = json_object_new_object();
    if (json_add(o, "Operation", json_object_new_string(op)) != 0 ||
        json_add(o, "Message", json_object_new_string("SUCCESS")) != 0) {
        json_object_put(o);
        json_object_put(inner);
        return NULL;
    }
    if (json_add(o, name, inner) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* {"Attributes": inner}; inner is consumed. */
static json_object *attributes(json_object *inner)
{
    json_object *o = json_object_new_object();
    if (json_add(o, "Attributes", inner) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* The body of POST, PATCH and DELETE /clone: a JSON object with a usable cloneID. Returns the ID
 * (borrowed from *body, which the caller owns and puts) and *len, or NULL after replying 400. */
static const char *body_and_id(struct handler_context *ctx, const struct http_request *req,
                               struct http_response *resp, json_object **body, size_t *len)
{
    if (input_body_object(ctx->stats, resp, req, ctx->conf->max_json_depth, body) != 0)
        return NULL;
    return input_clone_id_member(ctx->stats, resp, *body, ctx->conf->key_attribute, 1, len);
}

void handle_tutorial_get(struct handler_context *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp)
{
    (void)m;
    const char *field = ctx->conf->key_attribute;
    const struct http_pair *id = http_query(req, field);
    if (!id) {
        reply_message(ctx->stats, resp, 400, "bad_request", "%s query parameter is required", field);
        return;
    }
    if (input_clone_id(ctx->stats, resp, field, id->value, id->value_len) == 0)
        item_read_get_and_reply(ctx->store, resp, id->value, id->value_len, 1);
}

void handle_tutorial_save(struct handler_context *ctx, const struct http_request *req,
                          const struct route_match *m, struct http_response *resp)
{
    (void)m;
    struct request_stats *st = ctx->stats;
    json_object *body = NULL;
    size_t len = 0;
    const char *id = body_and_id(ctx, req, resp, &body, &len);
    if (!id || input_item_values(st, resp, body) != 0) {
        json_object_put(body);
        return;
    }
    struct if_match none = {0};
    struct write_request wr = {.mode = ITEM_REPLACE, .id = id, .id_len = len, .body = body, .if_match = &none};
    struct write_result result;
    if (write_item(ctx->store, &wr, &result, resp) == 0) {
        json_object *o = tutorial_body("SAVE", "Item", json_object_get(result.item));
        if (!o) {
            reply_internal(st, resp, "out of memory");
        } else {
            reply_json(st, resp, 200, o);
            reply_outcome(st, result.created ? "created" : "replaced", "%s", "");
            if (resp->status == 200 && etag_set(resp, result.version) != 0)
                reply_internal(st, resp, "out of memory");
        }
        json_object_put(o);
        json_object_put(result.item);
    }
    json_object_put(body);
}

/* The updateKey of PATCH /clone: a non-empty attribute name that is neither the key nor server-managed.
 * Returns it (borrowed), or NULL after replying 400. */
static const char *update_key(struct handler_context *ctx, json_object *body, struct http_response *resp)
{
    struct request_stats *st = ctx->stats;
    json_object *k = NULL;
    if (!json_object_object_get_ex(body, "updateKey", &k)) {
        reply_message(st, resp, 400, "bad_request", "updateKey is required");
        return NULL;
    }
    if (!json_object_is_type(k, json_type_string) || json_object_get_string_len(k) == 0) {
        reply_message(st, resp, 400, "bad_request", "updateKey must be a non-empty string");
        return NULL;
    }
    const char *name = json_object_get_string(k);
    if ((size_t)json_object_get_string_len(k) != strlen(name)) {
        reply_message(st, resp, 400, "bad_request", "updateKey must not hold a NUL character");
        return NULL;
    }
    if (strcmp(name, ctx->conf->key_attribute) == 0) {
        reply_message(st, resp, 400, "bad_request", "%s cannot be updated", ctx->conf->key_attribute);
        return NULL;
    }
    if (item_is_server_attribute(name)) {
        reply_message(st, resp, 400, "bad_request", "%s is managed by the server and cannot be updated", name);
        return NULL;
    }
    return name;
}

/* The answer to a done update: {"UpdatedAttributes":{"Attributes":{name: value as stored}}} and the ETag. */
static void reply_updated(struct handler_context *ctx, struct http_response *resp, const char *name,
                          json_object *attrs)
{
    json_object *new_av = NULL, *plain = NULL;
    char err[300];
    if (!json_object_object_get_ex(attrs, name, &new_av) || !new_av) {
        reply_internal(ctx->stats, resp, "UpdateItem answered without the updated attribute");
        return;
    }
    if (ddbv_to_json(new_av, &plain, err, sizeof err) != 0) {
        reply_internal(ctx->stats, resp, err);
        return;
    }
    json_object *updated = json_object_new_object();
    /* json-c holds JSON null as a NULL member. */
    int added = plain ? json_add(updated, name, plain) == 0 : json_add_null(updated, name) == 0;
    json_object *out = added ? tutorial_body("UPDATE", "UpdatedAttributes", attributes(updated)) : NULL;
    if (!added)
        json_object_put(updated);
    if (!out) {
        reply_internal(ctx->stats, resp, "out of memory");
    } else {
        reply_json(ctx->stats, resp, 200, out);
        if (resp->status == 200 && etag_set(resp, store_item_version(attrs)) != 0)
            reply_internal(ctx->stats, resp, "out of memory");
    }
    json_object_put(out);
}

void handle_tutorial_update(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp)
{
    (void)m;
    struct request_stats *st = ctx->stats;
    const char *key_attribute = ctx->conf->key_attribute;
    json_object *body = NULL, *value = NULL, *value_av = NULL, *key = NULL;
    size_t len = 0;
    struct expr_builder eb;
    expr_init(&eb);
    struct ddb_result r;
    memset(&r, 0, sizeof r);
    const char *id = body_and_id(ctx, req, resp, &body, &len);
    const char *name = id ? update_key(ctx, body, resp) : NULL;
    if (!name)
        goto done;
    if (!json_object_object_get_ex(body, "updateValue", &value)) {
        reply_message(st, resp, 400, "bad_request", "updateValue is required");
        goto done;
    }
    char err[300], why[320];
    int converted = ddbv_from_json(value, &value_av, err, sizeof err);
    if (converted != 0) {
        snprintf(why, sizeof why, "updateValue: %s", err);
        input_conversion_failed(st, resp, converted, why);
        goto done;
    }
    char now[25];
    if (text_now_rfc3339(now) != 0) {
        reply_internal(st, resp, "clock unavailable");
        goto done;
    }
    key = store_key(ctx->store, id, len);
    /* One atomic UpdateItem: the attribute, updatedAt, createdAt if missing, and version + 1; the item
     * must exist (the tutorial's update created a stub here). */
    char n0[16], n1[16], n2[16], n3[16], n4[16], v0[16], v1[16], v2[16], v3[16];
    expr_name(&eb, name, n0);
    expr_name(&eb, ATTR_UPDATED, n1);
    expr_name(&eb, ATTR_CREATED, n2);
    expr_name(&eb, ATTR_VERSION, n3);
    expr_name(&eb, key_attribute, n4);
    expr_value(&eb, json_object_get(value_av), v0);
    expr_value(&eb, expr_scalar_av("S", now, strlen(now)), v1);
    expr_value(&eb, expr_scalar_av("N", "0", 1), v2);
    expr_value(&eb, expr_scalar_av("N", "1", 1), v3);
    if (!key || eb.failed) {
        reply_internal(st, resp, "out of memory");
        goto done;
    }
    char update[256], cond[64];
    snprintf(update, sizeof update,
             "SET %s = %s, %s = %s, %s = if_not_exists(%s, %s), %s = if_not_exists(%s, %s) + %s", n0, v0, n1, v1,
             n2, n2, v1, n3, n3, v2, v3);
    snprintf(cond, sizeof cond, "attribute_exists(%s)", n4);
    struct ddb_expr e = {.update = update, .condition = cond};
    expr_apply(&eb, &e);
    enum ddb_outcome o = store_update(ctx->store, key, &e, "ALL_NEW", &r);
    if (o == DDB_CONDITION_FAILED) {
        reply_not_found(st, resp, key_attribute, id, 0);
        goto done;
    }
    if (o != DDB_OK) {
        reply_ddb_failure(st, resp, ctx->store->table, &r);
        goto done;
    }
    json_object *attrs = NULL;
    if (!json_object_object_get_ex(r.response, "Attributes", &attrs) || !attrs) {
        reply_internal(st, resp, "UpdateItem answered without the item");
        goto done;
    }
    reply_updated(ctx, resp, name, attrs);
done:
    ddb_result_clear(&r);
    expr_free(&eb);
    json_object_put(key);
    json_object_put(value_av);
    json_object_put(body);
}

void handle_tutorial_delete(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp)
{
    (void)m;
    struct request_stats *st = ctx->stats;
    json_object *body = NULL, *deleted = NULL;
    size_t len = 0;
    const char *id = body_and_id(ctx, req, resp, &body, &len);
    struct if_match none = {0};
    int rc = id ? write_delete(ctx->store, id, len, &none, &deleted, resp) : -1;
    if (rc == 1) {
        reply_not_found(st, resp, ctx->conf->key_attribute, id, 0);
    } else if (rc == 0) {
        /* The tutorial answers with the item as it was: the version the delete was conditioned on. */
        json_object *plain = item_read_plain(st, resp, deleted);
        json_object *out = plain ? tutorial_body("DELETE", "deletedItem", attributes(plain)) : NULL;
        if (out)
            reply_json(st, resp, 200, out);
        else if (plain)
            reply_internal(st, resp, "out of memory");
        json_object_put(out);
    }
    json_object_put(deleted);
    json_object_put(body);
}
