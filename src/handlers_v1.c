/* handlers_v1.c — routes part 1, the tutorial's API: /health, GET|POST|PATCH|DELETE /clone, and GET /clones
 * (shared with part 2, which adds status=). Bodies are the tutorial's own; its failure cases answer 4xx here. */
#include "config.h"

#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "ddb_value.h"
#include "text.h"

/* GET /clones stops scanning after this many pages or this long, and hands back a cursor, so a sparse
 * status= filter over a big table cannot hold a worker (or run into the gateway's 29 s timeout). */
#define LIST_MAX_PAGES 32
#define LIST_TIME_BUDGET_MS 5000
#define LIST_LIMIT_MAX 1000

/* {"N": text} or {"S": text}: an attribute value for an expression. */
static json_object *scalar_av(const char *type, const char *text)
{
    json_object *av = json_object_new_object();
    if (json_add(av, type, json_object_new_string(text)) != 0) {
        json_object_put(av);
        return NULL;
    }
    return av;
}

/* {"Operation": op, "Message": "SUCCESS", name: inner}; inner is consumed. */
static json_object *tutorial_body(const char *op, const char *name, json_object *inner)
{
    json_object *o = json_object_new_object();
    if (json_add(o, "Operation", json_object_new_string(op)) != 0 ||
        json_add(o, "Message", json_object_new_string("SUCCESS")) != 0 || json_add(o, name, inner) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

HANDLER(handle_health)
{
    (void)m;
    const struct http_pair *deep = http_query(req, "deep");
    int is_deep = 0;
    if (deep) {
        if (strcmp(deep->value, "1") == 0 || strcmp(deep->value, "true") == 0)
            is_deep = 1;
        else if (strcmp(deep->value, "0") != 0 && strcmp(deep->value, "false") != 0 && deep->value[0]) {
            reply_message(w, resp, 400, "bad_request", "deep must be 1 or 0");
            return;
        }
    }
    json_object *o = json_object_new_object();
    if (!is_deep) {
        if (json_add(o, "status", json_object_new_string("ok")) != 0)
            reply_internal(w, resp, "out of memory");
        else
            reply_json(w, resp, 200, o);
        json_object_put(o);
        return;
    }
    struct ddb_result r;
    enum ddb_outcome outcome = wk_describe(w, &r);
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
        reply_internal(w, resp, "out of memory");
    } else {
        reply_json(w, resp, ok ? 200 : 503, o);
        if (!ok) {
            worker_outcome(w, outcome == DDB_OK ? "table_not_active" : outcome == DDB_RESOURCE_NOT_FOUND
                                                                         ? "table_missing"
                                                                         : ddb_outcome_name(outcome),
                           "deep health: table %s %s %s", table_state, r.error_type, r.message);
            if (outcome == DDB_RESOURCE_NOT_FOUND || outcome == DDB_CLIENT_ERROR || outcome == DDB_INTERNAL)
                w->stats.error_log = 1;
            if (http_response_header(resp, "Retry-After", "1") != 0)
                reply_internal(w, resp, "out of memory");
        }
    }
    json_object_put(o);
    ddb_result_clear(&r);
}

/* Fetch one item by key (consistent read). Returns 1 found (*item_av owned), 0 missing, -1 after replying. */
static int fetch_item(struct worker *w, struct http_response *resp, const char *id, size_t len,
                      json_object **item_av)
{
    *item_av = NULL;
    json_object *key = key_of(w, id, len);
    if (!key) {
        reply_internal(w, resp, "out of memory");
        return -1;
    }
    struct ddb_result r;
    enum ddb_outcome o = wk_get(w, key, &r);
    json_object_put(key);
    if (o != DDB_OK) {
        reply_ddb_failure(w, resp, &r);
        ddb_result_clear(&r);
        return -1;
    }
    json_object *item = NULL;
    int found = json_object_object_get_ex(r.response, "Item", &item) && item;
    if (found)
        *item_av = json_object_get(item);
    ddb_result_clear(&r);
    return found;
}

void reply_item(struct worker *w, struct http_response *resp, int status, json_object *item_av)
{
    json_object *plain = item_plain(w, resp, item_av);
    if (!plain)
        return;
    reply_json(w, resp, status, plain);
    if (resp->status == status && set_etag(resp, item_version(item_av)) != 0)
        reply_internal(w, resp, "out of memory");
    json_object_put(plain);
}

int get_and_reply(struct worker *w, struct http_response *resp, const char *id, size_t len, int capital)
{
    json_object *item = NULL;
    int found = fetch_item(w, resp, id, len, &item);
    if (found < 0)
        return -1;
    if (!found)
        reply_not_found(w, resp, w->conf->key_attribute, id, capital);
    else
        reply_item(w, resp, 200, item);
    json_object_put(item);
    return 0;
}

HANDLER(handle_v1_get)
{
    (void)m;
    const char *field = w->conf->key_attribute;
    const struct http_pair *id = http_query(req, field);
    if (!id) {
        reply_message(w, resp, 400, "bad_request", "%s query parameter is required", field);
        return;
    }
    const char *why = clone_id_problem(id->value, id->value_len);
    if (why) {
        reply_message(w, resp, 400, "bad_request", "%s %s", field, why);
        return;
    }
    get_and_reply(w, resp, id->value, id->value_len, 1);
}

HANDLER(handle_v1_save)
{
    (void)m;
    json_object *body = NULL;
    if (body_object(w, req, resp, &body) != 0)
        return;
    size_t len = 0;
    const char *id = clone_id_member(w, resp, body, w->conf->key_attribute, 1, &len);
    if (!id || check_item_values(w, resp, body) != 0) {
        json_object_put(body);
        return;
    }
    struct if_match none = {0};
    struct write_request wr = {.mode = WRITE_REPLACE, .id = id, .id_len = len, .body = body, .if_match = &none};
    struct write_result result;
    if (write_item(w, &wr, &result, resp) == 0) {
        json_object *o = tutorial_body("SAVE", "Item", json_object_get(result.item));
        if (!o) {
            reply_internal(w, resp, "out of memory");
        } else {
            reply_json(w, resp, 200, o);
            worker_outcome(w, result.created ? "created" : "replaced", "%s", "");
            if (resp->status == 200 && set_etag(resp, result.version) != 0)
                reply_internal(w, resp, "out of memory");
        }
        json_object_put(o);
        json_object_put(result.item);
    }
    json_object_put(body);
}

HANDLER(handle_v1_update)
{
    (void)m;
    const struct conf *c = w->conf;
    json_object *body = NULL;
    if (body_object(w, req, resp, &body) != 0)
        return;
    size_t len = 0;
    json_object *k = NULL, *value = NULL, *value_av = NULL, *key = NULL, *now_av = NULL, *zero = NULL, *one = NULL;
    struct expr_builder eb;
    eb_init(&eb);
    struct ddb_result r;
    memset(&r, 0, sizeof r);
    const char *id = clone_id_member(w, resp, body, c->key_attribute, 1, &len);
    if (!id)
        goto done;
    if (!json_object_object_get_ex(body, "updateKey", &k)) {
        reply_message(w, resp, 400, "bad_request", "updateKey is required");
        goto done;
    }
    if (!json_object_is_type(k, json_type_string) || json_object_get_string_len(k) == 0) {
        reply_message(w, resp, 400, "bad_request", "updateKey must be a non-empty string");
        goto done;
    }
    const char *name = json_object_get_string(k);
    if ((size_t)json_object_get_string_len(k) != strlen(name)) {
        reply_message(w, resp, 400, "bad_request", "updateKey must not hold a NUL character");
        goto done;
    }
    if (strcmp(name, c->key_attribute) == 0) {
        reply_message(w, resp, 400, "bad_request", "%s cannot be updated", c->key_attribute);
        goto done;
    }
    if (is_server_attribute(name)) {
        reply_message(w, resp, 400, "bad_request", "%s is managed by the server and cannot be updated", name);
        goto done;
    }
    if (!json_object_object_get_ex(body, "updateValue", &value)) {
        reply_message(w, resp, 400, "bad_request", "updateValue is required");
        goto done;
    }
    char err[300];
    if (ddbv_from_json(value, &value_av, err, sizeof err) != 0) {
        reply_message(w, resp, 400, "bad_request", "updateValue: %s", err);
        goto done;
    }
    char now[25];
    if (text_now_rfc3339(now) != 0) {
        reply_internal(w, resp, "clock unavailable");
        goto done;
    }
    key = key_of(w, id, len);
    now_av = scalar_av("S", now);
    zero = scalar_av("N", "0");
    one = scalar_av("N", "1");
    char n0[16], n1[16], n2[16], n3[16], n4[16], v0[16], v1[16], v2[16], v3[16];
    eb_name(&eb, name, n0);
    eb_name(&eb, ATTR_UPDATED, n1);
    eb_name(&eb, ATTR_CREATED, n2);
    eb_name(&eb, ATTR_VERSION, n3);
    eb_name(&eb, c->key_attribute, n4);
    eb_value(&eb, value_av, v0);
    eb_value(&eb, now_av, v1);
    eb_value(&eb, zero, v2);
    eb_value(&eb, one, v3);
    if (!key || !now_av || !zero || !one || eb.failed) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    char update[256], cond[64];
    snprintf(update, sizeof update, "SET %s = %s, %s = %s, %s = if_not_exists(%s, %s), %s = if_not_exists(%s, %s) + %s",
             n0, v0, n1, v1, n2, n2, v1, n3, n3, v2, v3);
    snprintf(cond, sizeof cond, "attribute_exists(%s)", n4);
    struct ddb_expr e = {.update = update, .condition = cond};
    eb_apply(&eb, &e);
    enum ddb_outcome o = wk_update(w, key, &e, "ALL_NEW", &r);
    if (o == DDB_CONDITION_FAILED) {
        /* The tutorial's update created a stub item here; a missing item is a 404 instead. */
        reply_not_found(w, resp, c->key_attribute, id, 0);
        goto done;
    }
    if (o != DDB_OK) {
        reply_ddb_failure(w, resp, &r);
        goto done;
    }
    json_object *attrs = NULL, *new_av = NULL;
    json_object *plain = NULL;
    if (!json_object_object_get_ex(r.response, "Attributes", &attrs) || !attrs ||
        !json_object_object_get_ex(attrs, name, &new_av) || !new_av) {
        reply_internal(w, resp, "UpdateItem answered without the updated attribute");
        goto done;
    }
    if (ddbv_to_json(new_av, &plain, err, sizeof err) != 0) {
        reply_internal(w, resp, err);
        goto done;
    }
    json_object *updated = json_object_new_object();
    json_object *wrapper = json_object_new_object();
    /* json-c keeps JSON null as a NULL member, which json_add would refuse. */
    int failed = !updated || !wrapper || json_object_object_add(updated, name, plain) != 0;
    if (failed)
        json_object_put(plain);
    failed = failed || json_add(wrapper, "Attributes", json_object_get(updated)) != 0;
    json_object *out = failed ? NULL : tutorial_body("UPDATE", "UpdatedAttributes", json_object_get(wrapper));
    if (!out) {
        reply_internal(w, resp, "out of memory");
    } else {
        reply_json(w, resp, 200, out);
        if (resp->status == 200 && set_etag(resp, item_version(attrs)) != 0)
            reply_internal(w, resp, "out of memory");
    }
    json_object_put(out);
    json_object_put(wrapper);
    json_object_put(updated);
done:
    ddb_result_clear(&r);
    eb_free(&eb);
    json_object_put(key);
    json_object_put(value_av);
    json_object_put(now_av);
    json_object_put(zero);
    json_object_put(one);
    json_object_put(body);
}

HANDLER(handle_v1_delete)
{
    (void)m;
    json_object *body = NULL;
    if (body_object(w, req, resp, &body) != 0)
        return;
    size_t len = 0;
    const char *id = clone_id_member(w, resp, body, w->conf->key_attribute, 1, &len);
    if (!id) {
        json_object_put(body);
        return;
    }
    json_object *key = key_of(w, id, len);
    struct expr_builder eb;
    eb_init(&eb);
    char n0[16], cond[64];
    snprintf(cond, sizeof cond, "attribute_exists(%s)", eb_name(&eb, w->conf->key_attribute, n0));
    if (!key || eb.failed) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.condition = cond};
    eb_apply(&eb, &e);
    struct ddb_result r;
    enum ddb_outcome o = wk_delete(w, key, &e, "ALL_OLD", &r);
    if (o == DDB_CONDITION_FAILED) {
        reply_not_found(w, resp, w->conf->key_attribute, id, 0);
    } else if (o != DDB_OK) {
        reply_ddb_failure(w, resp, &r);
    } else {
        json_object *old = NULL;
        json_object_object_get_ex(r.response, "Attributes", &old);
        json_object *plain = old ? item_plain(w, resp, old) : json_object_new_object();
        if (plain) {
            json_object *wrapper = json_object_new_object();
            json_object *out = NULL;
            if (json_add(wrapper, "Attributes", plain) == 0)
                out = tutorial_body("DELETE", "deletedItem", json_object_get(wrapper));
            if (!out)
                reply_internal(w, resp, "out of memory");
            else
                reply_json(w, resp, 200, out);
            json_object_put(out);
            json_object_put(wrapper);
        }
    }
    ddb_result_clear(&r);
done:
    eb_free(&eb);
    json_object_put(key);
    json_object_put(body);
}

/* GET /clones: scan pages, keep whole items up to limit and the response cap, resume from a cursor. */
struct listing {
    json_object *items;      /* plain items for the answer */
    size_t count;
    size_t bytes;            /* serialized size of the answer so far */
    size_t cap;
    long limit;              /* 0: none */
    json_object *resume_key; /* where the next page starts (owned), when more remain */
    int more;
};

/* Take the items of one page. Returns 1 when the listing is full (resume_key set), 0 to go on, -1 after
 * replying. */
static int take_page(struct worker *w, struct http_response *resp, struct listing *l, json_object *page_items)
{
    size_t n = page_items ? json_object_array_length(page_items) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *av = json_object_array_get_idx(page_items, i);
        if (l->limit && (long)l->count >= l->limit) {
            l->more = 1;
            return 1;
        }
        json_object *plain = item_plain(w, resp, av);
        if (!plain)
            return -1;
        size_t len = 0;
        if (!json_object_to_json_string_length(plain, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len)) {
            json_object_put(plain);
            reply_internal(w, resp, "out of memory");
            return -1;
        }
        /* At least one item per answer, so a listing always moves forward whatever the cap. */
        if (l->count > 0 && l->bytes + len + 1 > l->cap) {
            json_object_put(plain);
            l->more = 1;
            return 1;
        }
        json_object *key = key_of_item(w, av);
        if (!key || json_object_array_add(l->items, plain) != 0) {
            json_object_put(key);
            json_object_put(plain);
            reply_internal(w, resp, key ? "out of memory" : "scanned item without its key");
            return -1;
        }
        l->count++;
        l->bytes += len + 1;
        json_object_put(l->resume_key);
        l->resume_key = key;
    }
    return 0;
}

HANDLER(handle_list)
{
    (void)m;
    const struct conf *c = w->conf;
    struct listing l = {0};
    const struct http_pair *limit = http_query(req, "limit");
    if (limit) {
        size_t n = limit->value_len;
        long v = (n >= 1 && n <= 4 && strspn(limit->value, "0123456789") == n) ? strtol(limit->value, NULL, 10) : 0;
        if (v < 1 || v > LIST_LIMIT_MAX) {
            reply_message(w, resp, 400, "bad_request", "limit must be an integer from 1 to %d", LIST_LIMIT_MAX);
            return;
        }
        l.limit = v;
    }
    const struct http_pair *status = http_query(req, "status");
    struct cursor_scope scope = {
        .secret = w->cursor_key, .secret_len = w->cursor_key_len, .table = c->table,
        .status = status ? status->value : NULL,
    };
    json_object *start = NULL;
    const struct http_pair *cursor = http_query(req, "cursor");
    if (cursor && cursor->value[0] && cursor_decode(&scope, cursor->value, &start) != 0) {
        reply_message(w, resp, 400, "bad_request", "invalid cursor");
        return;
    }
    l.items = json_object_new_array();
    /* Room for {"clones":[...],"nextCursor":"..."} around the items. */
    size_t frame = 64 + CURSOR_MAX_TEXT;
    l.cap = c->max_list_bytes > frame ? c->max_list_bytes - frame : 1;
    struct expr_builder eb;
    eb_init(&eb);
    char filter[64] = "", n0[16], v0[16];
    json_object *status_av = status ? scalar_av("S", status->value) : NULL;
    if (status)
        snprintf(filter, sizeof filter, "%s = %s", eb_name(&eb, "status", n0), eb_value(&eb, status_av, v0));
    json_object_put(status_av);
    json_object *out = NULL;
    if (!l.items || eb.failed) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.filter = status ? filter : NULL};
    eb_apply(&eb, &e);
    long started = text_monotonic_ms();
    for (int pages = 0;; pages++) {
        /* Without a filter, ask for one item past the limit: it tells whether more remain. */
        struct ddb_page page = {
            .limit = (l.limit && !status) ? (int)(l.limit - (long)l.count + 1) : 0,
            .exclusive_start_key = start,
        };
        struct ddb_result r;
        if (wk_scan(w, &page, &e, &r) != DDB_OK) {
            reply_ddb_failure(w, resp, &r);
            ddb_result_clear(&r);
            goto done;
        }
        json_object *page_items = NULL, *last = NULL;
        json_object_object_get_ex(r.response, "Items", &page_items);
        int full = take_page(w, resp, &l, page_items);
        if (full < 0) {
            ddb_result_clear(&r);
            goto done;
        }
        if (full) {
            ddb_result_clear(&r);
            break;
        }
        if (!json_object_object_get_ex(r.response, "LastEvaluatedKey", &last) || !last) {
            ddb_result_clear(&r);
            l.more = 0;
            break;
        }
        if (l.limit && (long)l.count >= l.limit) {
            /* Full at a page's end: resume after the last item returned (resume_key already). */
            ddb_result_clear(&r);
            l.more = 1;
            break;
        }
        /* The whole page is taken: the next one starts where DynamoDB stopped. */
        json_object_put(l.resume_key);
        l.resume_key = json_object_get(last);
        json_object_put(start);
        start = json_object_get(last);
        ddb_result_clear(&r);
        if (pages + 1 >= LIST_MAX_PAGES || text_monotonic_ms() - started > LIST_TIME_BUDGET_MS) {
            l.more = 1;
            break;
        }
    }
    out = json_object_new_object();
    if (json_add(out, "clones", json_object_get(l.items)) != 0) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    if (l.more && l.resume_key) {
        char *next = cursor_encode(&scope, l.resume_key);
        if (!next || json_add(out, "nextCursor", json_object_new_string(next)) != 0) {
            free(next);
            reply_internal(w, resp, "could not make the cursor");
            goto done;
        }
        free(next);
    }
    reply_json(w, resp, 200, out);
done:
    json_object_put(out);
    json_object_put(start);
    json_object_put(l.items);
    json_object_put(l.resume_key);
    eb_free(&eb);
}
