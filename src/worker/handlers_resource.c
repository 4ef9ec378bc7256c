/* handlers_resource.c — routes part 2, the resource API: POST /clones and GET|PUT|PATCH|DELETE
 * /clones/{cloneID}. Statuses follow HTTP (201 + Location, 204, 409, 412); ETag is the quoted version. */
#include "config.h"

#include "handlers.h"

#include <inttypes.h>
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

static int set_location(const struct conf *c, struct http_response *resp, const char *id, size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_append_str(&b, c->stage) == 0 && buf_append_str(&b, "/clones/") == 0 &&
                     text_percent_encode(id, len, &b) == 0
                 ? http_response_header(resp, "Location", b.data)
                 : -1;
    buf_free(&b);
    return rc;
}

/* The {cloneID} of the path, checked; NULL after replying 400. */
static const char *path_id(struct handler_context *ctx, const struct route_match *m, struct http_response *resp)
{
    return input_clone_id(ctx->stats, resp, ctx->conf->key_attribute, m->param, m->param_len) == 0 ? m->param
                                                                                                    : NULL;
}

/* The path's {cloneID} and the request's If-Match, both checked: the ID, or NULL after replying 400. */
static const char *id_and_if_match(struct handler_context *ctx, const struct http_request *req,
                                   const struct route_match *m, struct http_response *resp, struct if_match *im)
{
    const char *id = path_id(ctx, m, resp);
    if (!id)
        return NULL;
    if (if_match_parse(http_header(req, "if-match"), im) == 0)
        return id;
    reply_message(ctx->stats, resp, 400, "bad_request", "malformed If-Match header");
    return NULL;
}

/* A body for PUT or PATCH: its key, when given, must be the path's (the key cannot change). */
static int body_key_matches(struct handler_context *ctx, struct http_response *resp, json_object *body,
                            const char *id, size_t len)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(body, ctx->conf->key_attribute, &v))
        return 0;
    if (v && json_object_is_type(v, json_type_string) && (size_t)json_object_get_string_len(v) == len &&
        memcmp(json_object_get_string(v), id, len) == 0)
        return 0;
    reply_message(ctx->stats, resp, 400, "bad_request", "%s cannot be updated: it must be absent or equal the path's",
                  ctx->conf->key_attribute);
    return -1;
}

static void reply_written(struct handler_context *ctx, struct http_response *resp, int status,
                          const struct write_result *res, const char *id, size_t len)
{
    reply_json(ctx->stats, resp, status, res->item);
    if (resp->status != status)
        return;
    reply_outcome(ctx->stats, res->created ? "created" : "ok", "%s", "");
    if (etag_set(resp, res->version) != 0 || (status == 201 && set_location(ctx->conf, resp, id, len) != 0))
        reply_internal(ctx->stats, resp, "out of memory");
}

/* The body's cloneID, or a new UUID when it has none (in generated). NULL after replying. */
static const char *create_id(struct handler_context *ctx, struct http_response *resp, json_object *body,
                             char generated[37], size_t *len)
{
    if (json_object_object_get_ex(body, ctx->conf->key_attribute, NULL))
        return input_clone_id_member(ctx->stats, resp, body, ctx->conf->key_attribute, 1, len);
    if (text_uuid4(generated) != 0) {
        reply_internal(ctx->stats, resp, "random generator failed");
        return NULL;
    }
    *len = strlen(generated);
    return generated;
}

void handle_resource_create(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp)
{
    (void)m;
    struct request_stats *st = ctx->stats;
    const char *key_attribute = ctx->conf->key_attribute;
    json_object *body = NULL;
    if (input_body_object(st, resp, req, ctx->conf->max_json_depth, &body) != 0)
        return;
    json_object *item = NULL, *item_av = NULL;
    struct expr_builder eb;
    expr_init(&eb);
    size_t len = 0;
    char generated[37], now[25], err[300];
    const char *id = create_id(ctx, resp, body, generated, &len);
    if (!id)
        goto done;
    if (text_now_rfc3339(now) != 0) {
        reply_internal(st, resp, "clock unavailable");
        goto done;
    }
    item = item_build(ITEM_REPLACE, body, key_attribute, id, len, NULL, NULL, now, 1);
    if (!item) {
        reply_internal(st, resp, "out of memory");
        goto done;
    }
    int converted = ddbv_item_from_json(item, &item_av, err, sizeof err);
    if (converted != 0) {
        input_conversion_failed(st, resp, converted, err);
        goto done;
    }
    char n0[16], cond[64];
    snprintf(cond, sizeof cond, "attribute_not_exists(%s)", expr_name(&eb, key_attribute, n0));
    if (eb.failed) {
        reply_internal(st, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.condition = cond};
    expr_apply(&eb, &e);
    struct ddb_result r;
    enum ddb_outcome o = store_put(ctx->store, item_av, &e, NULL, &r);
    /* Was it this request's own write, whose answer was lost? Then the retry (ours, or libcurl's own on a
     * reused connection, which r.attempts does not see) failed the condition, yet the create succeeded. */
    if (o == DDB_CONDITION_FAILED && store_holds(ctx->store, id, len, item_av))
        o = DDB_OK;
    if (o == DDB_CONDITION_FAILED) {
        reply_message(st, resp, 409, "conflict", "%s: %s already exists", key_attribute, id);
    } else if (o != DDB_OK) {
        reply_ddb_failure(st, resp, ctx->store->table, &r);
    } else {
        struct write_result res = {.created = 1, .version = 1, .item = item_read_plain(st, resp, item_av)};
        if (res.item)
            reply_written(ctx, resp, 201, &res, id, len);
        json_object_put(res.item);
    }
    ddb_result_clear(&r);
done:
    expr_free(&eb);
    json_object_put(item_av);
    json_object_put(item);
    json_object_put(body);
}

void handle_resource_get(struct handler_context *ctx, const struct http_request *req,
                         const struct route_match *m, struct http_response *resp)
{
    (void)req;
    const char *id = path_id(ctx, m, resp);
    if (id)
        item_read_get_and_reply(ctx->store, resp, id, m->param_len, 0);
}

/* PUT and PATCH: read, check If-Match, write if unchanged. */
static void locked_write(struct handler_context *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, enum item_mode mode)
{
    struct request_stats *st = ctx->stats;
    struct if_match im;
    const char *id = id_and_if_match(ctx, req, m, resp, &im);
    if (!id)
        return;
    json_object *body = NULL;
    if (input_body_object(st, resp, req, ctx->conf->max_json_depth, &body) != 0)
        return;
    if (body_key_matches(ctx, resp, body, id, m->param_len) == 0 && input_item_values(st, resp, body) == 0) {
        struct write_request wr = {
            .mode = mode, .id = id, .id_len = m->param_len, .body = body, .if_match = &im,
            .must_exist = mode == ITEM_MERGE,
        };
        struct write_result res;
        if (write_item(ctx->store, &wr, &res, resp) == 0)
            reply_written(ctx, resp, res.created ? 201 : 200, &res, id, m->param_len);
        json_object_put(res.item);
    }
    json_object_put(body);
}

void handle_resource_put(struct handler_context *ctx, const struct http_request *req,
                         const struct route_match *m, struct http_response *resp)
{
    locked_write(ctx, req, m, resp, ITEM_REPLACE);
}

void handle_resource_patch(struct handler_context *ctx, const struct http_request *req,
                           const struct route_match *m, struct http_response *resp)
{
    locked_write(ctx, req, m, resp, ITEM_MERGE);
}

void handle_resource_delete(struct handler_context *ctx, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp)
{
    struct if_match im;
    const char *id = id_and_if_match(ctx, req, m, resp, &im);
    if (!id)
        return;
    json_object *deleted = NULL;
    int rc = write_delete(ctx->store, id, m->param_len, &im, &deleted, resp);
    if (rc == 0) {
        reply_outcome(ctx->stats, "deleted", "%s", "");
        http_response_empty(resp, 204);
    } else if (rc == 1) {
        reply_not_found(ctx->stats, resp, ctx->conf->key_attribute, id, 0);
    }
    json_object_put(deleted);
}
