/* handlers_v2.c — routes part 2, the resource API: POST /clones and GET|PUT|PATCH|DELETE /clones/{cloneID}.
 * Statuses follow HTTP (201 + Location, 204, 409, 412); ETag is the quoted version and If-Match guards writes. */
#include "config.h"

#include "handlers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_value.h"
#include "text.h"

static int set_location(const struct worker *w, struct http_response *resp, const char *id, size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_append_str(&b, w->conf->stage) == 0 && buf_append_str(&b, "/clones/") == 0 &&
                     text_percent_encode(id, len, &b) == 0
                 ? http_response_header(resp, "Location", b.data)
                 : -1;
    buf_free(&b);
    return rc;
}

/* The {cloneID} of the path, checked; NULL after replying 400. */
static const char *path_id(struct worker *w, const struct route_match *m, struct http_response *resp)
{
    const char *why = clone_id_problem(m->param, m->param_len);
    if (why) {
        reply_message(w, resp, 400, "bad_request", "%s %s", w->conf->key_attribute, why);
        return NULL;
    }
    return m->param;
}

/* A body for PUT or PATCH: its key, when given, must be the path's (the key cannot change). */
static int body_key_matches(struct worker *w, struct http_response *resp, json_object *body, const char *id,
                            size_t len)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(body, w->conf->key_attribute, &v))
        return 0;
    if (v && json_object_is_type(v, json_type_string) && (size_t)json_object_get_string_len(v) == len &&
        memcmp(json_object_get_string(v), id, len) == 0)
        return 0;
    reply_message(w, resp, 400, "bad_request", "%s cannot be updated: it must be absent or equal the path's",
                  w->conf->key_attribute);
    return -1;
}

static void reply_written(struct worker *w, struct http_response *resp, int status, const struct write_result *res,
                          const char *id, size_t len)
{
    reply_json(w, resp, status, res->item);
    if (resp->status != status)
        return;
    worker_outcome(w, res->created ? "created" : "ok", "%s", "");
    if (set_etag(resp, res->version) != 0 || (status == 201 && set_location(w, resp, id, len) != 0))
        reply_internal(w, resp, "out of memory");
}

/* 1 when the table holds exactly item_av under id: this request's write, its creation time to the
 * millisecond included. Read only when the create's condition failed, so it costs nothing otherwise. */
static int stored_is(struct worker *w, json_object *item_av, const char *id, size_t len)
{
    json_object *key = key_of(w, id, len);
    if (!key)
        return 0;
    struct ddb_result r;
    int same = wk_get(w, key, &r) == DDB_OK &&
               json_object_equal(json_object_object_get(r.response, "Item"), item_av);
    ddb_result_clear(&r);
    json_object_put(key);
    return same;
}

HANDLER(handle_v2_create)
{
    (void)m;
    const struct conf *c = w->conf;
    json_object *body = NULL;
    if (body_object(w, req, resp, &body) != 0)
        return;
    json_object *item = NULL, *item_av = NULL;
    struct expr_builder eb;
    eb_init(&eb);
    size_t len = 0;
    char generated[37];
    const char *id = NULL;
    if (json_object_object_get_ex(body, c->key_attribute, NULL)) {
        id = clone_id_member(w, resp, body, c->key_attribute, 1, &len);
        if (!id)
            goto done;
    } else {
        if (text_uuid4(generated) != 0) {
            reply_internal(w, resp, "random generator failed");
            goto done;
        }
        id = generated;
        len = strlen(generated);
    }
    char now[25];
    if (text_now_rfc3339(now) != 0) {
        reply_internal(w, resp, "clock unavailable");
        goto done;
    }
    item = json_object_new_object();
    if (!item) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    json_object_object_foreach(body, k, v) {
        if (is_server_attribute(k) || strcmp(k, c->key_attribute) == 0)
            continue;
        if (json_object_object_add(item, k, json_object_get(v)) != 0) {
            json_object_put(v);
            reply_internal(w, resp, "out of memory");
            goto done;
        }
    }
    if (json_add(item, c->key_attribute, json_object_new_string_len(id, (int)len)) != 0 ||
        json_add(item, ATTR_CREATED, json_object_new_string(now)) != 0 ||
        json_add(item, ATTR_UPDATED, json_object_new_string(now)) != 0 ||
        json_add(item, ATTR_VERSION, json_object_new_int64(1)) != 0) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    char err[300];
    if (ddbv_item_from_json(item, &item_av, err, sizeof err) != 0) {
        reply_message(w, resp, 400, "bad_request", "%s", err);
        goto done;
    }
    char n0[16], cond[64];
    snprintf(cond, sizeof cond, "attribute_not_exists(%s)", eb_name(&eb, c->key_attribute, n0));
    if (eb.failed) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.condition = cond};
    eb_apply(&eb, &e);
    struct ddb_result r;
    enum ddb_outcome o = wk_put(w, item_av, &e, NULL, &r);
    /* Was it this request's own write, whose answer was lost? Then the retry (ours, or libcurl's own on a
     * reused connection, which r.attempts does not see) failed the condition, yet the create succeeded. */
    if (o == DDB_CONDITION_FAILED && stored_is(w, item_av, id, len))
        o = DDB_OK;
    if (o == DDB_CONDITION_FAILED) {
        reply_message(w, resp, 409, "conflict", "%s: %s already exists", c->key_attribute, id);
    } else if (o != DDB_OK) {
        reply_ddb_failure(w, resp, &r);
    } else {
        struct write_result res = {.created = 1, .version = 1, .item = item_plain(w, resp, item_av)};
        if (res.item)
            reply_written(w, resp, 201, &res, id, len);
        json_object_put(res.item);
    }
    ddb_result_clear(&r);
done:
    eb_free(&eb);
    json_object_put(item_av);
    json_object_put(item);
    json_object_put(body);
}

HANDLER(handle_v2_get)
{
    (void)req;
    const char *id = path_id(w, m, resp);
    if (id)
        get_and_reply(w, resp, id, m->param_len, 0);
}

/* PUT and PATCH: read, check If-Match, write if unchanged. */
static void locked_write(struct worker *w, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, enum write_mode mode)
{
    const char *id = path_id(w, m, resp);
    if (!id)
        return;
    struct if_match im;
    if (if_match_read(w, req, resp, &im) != 0)
        return;
    json_object *body = NULL;
    if (body_object(w, req, resp, &body) != 0)
        return;
    if (body_key_matches(w, resp, body, id, m->param_len) == 0 && check_item_values(w, resp, body) == 0) {
        struct write_request wr = {
            .mode = mode, .id = id, .id_len = m->param_len, .body = body, .if_match = &im,
            .must_exist = mode == WRITE_MERGE,
        };
        struct write_result res;
        if (write_item(w, &wr, &res, resp) == 0)
            reply_written(w, resp, res.created ? 201 : 200, &res, id, m->param_len);
        json_object_put(res.item);
    }
    json_object_put(body);
}

HANDLER(handle_v2_put)
{
    locked_write(w, req, m, resp, WRITE_REPLACE);
}

HANDLER(handle_v2_patch)
{
    locked_write(w, req, m, resp, WRITE_MERGE);
}

/* The version an If-Match tag names, or -1 when it names none we could have made. */
static int64_t tag_version(const char *tag)
{
    size_t n = strlen(tag);
    if (n == 0 || n > 18 || strspn(tag, "0123456789") != n || (n > 1 && tag[0] == '0'))
        return -1;
    return (int64_t)strtoll(tag, NULL, 10);
}

HANDLER(handle_v2_delete)
{
    const struct conf *c = w->conf;
    const char *id = path_id(w, m, resp);
    if (!id)
        return;
    struct if_match im;
    if (if_match_read(w, req, resp, &im) != 0)
        return;
    json_object *key = key_of(w, id, m->param_len);
    struct expr_builder eb;
    eb_init(&eb);
    struct buf cond;
    buf_init(&cond, 4096);
    char k[16], v[16], val[16];
    int ok = key != NULL &&
             buf_printf(&cond, "attribute_exists(%s)", eb_name(&eb, c->key_attribute, k)) == 0;
    /* One conditional delete: the item's version must be one of the tags ("0": an item without one). */
    if (ok && im.present && !im.any) {
        ok = buf_printf(&cond, " AND (") == 0;
        int terms = 0;
        for (size_t i = 0; ok && i < im.count; i++) {
            int64_t tv = tag_version(im.tags[i]);
            if (tv < 0)
                continue;
            char text[24];
            snprintf(text, sizeof text, "%" PRId64, tv);
            json_object *nav = json_object_new_object();
            if (json_add(nav, "N", json_object_new_string(text)) != 0) {
                json_object_put(nav);
                ok = 0;
                break;
            }
            ok = buf_printf(&cond, "%s%s = %s", terms ? " OR " : "", eb_name(&eb, ATTR_VERSION, v),
                            eb_value(&eb, nav, val)) == 0;
            json_object_put(nav);
            if (ok && tv == 0)
                ok = buf_printf(&cond, " OR attribute_not_exists(%s)", eb_name(&eb, ATTR_VERSION, v)) == 0;
            terms++;
        }
        /* No tag could name a version: the condition can never hold. */
        if (ok && terms == 0)
            ok = buf_printf(&cond, "attribute_not_exists(%s)", k) == 0;
        ok = ok && buf_printf(&cond, ")") == 0;
    }
    if (!ok || eb.failed) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.condition = cond.data};
    eb_apply(&eb, &e);
    struct ddb_result r;
    enum ddb_outcome o = wk_delete(w, key, &e, NULL, &r);
    if (o == DDB_OK) {
        worker_outcome(w, "deleted", "%s", "");
        http_response_empty(resp, 204);
    } else if (o != DDB_CONDITION_FAILED) {
        reply_ddb_failure(w, resp, &r);
    } else if (!im.present || im.any) {
        reply_not_found(w, resp, c->key_attribute, id, 0);
    } else {
        /* Missing, or another version: one read tells which. */
        ddb_result_clear(&r);
        if (wk_get(w, key, &r) != DDB_OK) {
            reply_ddb_failure(w, resp, &r);
        } else {
            json_object *item = NULL;
            if (json_object_object_get_ex(r.response, "Item", &item) && item)
                reply_message(w, resp, 412, "precondition_failed", "If-Match does not match the item's current ETag");
            else
                reply_not_found(w, resp, c->key_attribute, id, 0);
        }
    }
    ddb_result_clear(&r);
done:
    buf_free(&cond);
    eb_free(&eb);
    json_object_put(key);
}
