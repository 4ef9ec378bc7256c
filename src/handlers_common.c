/* handlers_common.c — what the route handlers share: replies, body and key checks, server-managed attributes,
 * If-Match, the expression builder and the optimistic-locked read-then-write used by POST /clone, PUT and PATCH. */
#include "config.h"

#include "handlers.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddb_value.h"
#include "json_input.h"
#include "text.h"

void reply_message(struct worker *w, struct http_response *resp, int status, const char *outcome,
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
    worker_outcome(w, outcome, "%s", message);
    if (http_response_message(resp, status, message) != 0)
        resp->status = 500; /* out of memory: the dispatcher writes the fixed 500 body */
}

void reply_internal(struct worker *w, struct http_response *resp, const char *detail)
{
    http_response_reset(resp);
    worker_outcome(w, "internal", "%s", detail);
    w->stats.error_log = 1;
    if (http_response_message(resp, 500, "Internal server error") != 0)
        resp->status = 500;
}

void reply_json(struct worker *w, struct http_response *resp, int status, json_object *body)
{
    if (http_response_json(resp, status, body) != 0)
        reply_internal(w, resp, "could not serialize the response");
}

void reply_not_found(struct worker *w, struct http_response *resp, const char *field, const char *id,
                     int capital_message)
{
    char message[CLONE_ID_MAX * 2 + 300];
    snprintf(message, sizeof message, "%s: %s not found", field, id);
    http_response_reset(resp);
    worker_outcome(w, "not_found", "%s", "no such item");
    json_object *o = json_object_new_object();
    json_object *s = json_object_new_string(message);
    /* The tutorial's GET /clone answered {"Message": ...}; clients of part 1 may read that spelling. */
    if (!o || !s || json_object_object_add(o, capital_message ? "Message" : "message", s) != 0) {
        json_object_put(s);
        json_object_put(o);
        reply_internal(w, resp, "out of memory");
        return;
    }
    reply_json(w, resp, 404, o);
    json_object_put(o);
}

void reply_ddb_failure(struct worker *w, struct http_response *resp, const struct ddb_result *r)
{
    const char *op_detail = r->message[0] ? r->message : ddb_outcome_name(r->outcome);
    switch (r->outcome) {
    case DDB_THROTTLED:
    case DDB_UNAVAILABLE:
    case DDB_RESOURCE_NOT_FOUND:
        http_response_reset(resp);
        if (r->outcome == DDB_RESOURCE_NOT_FOUND) {
            worker_outcome(w, "table_missing", "DynamoDB table %s not found: %s", w->conf->table, op_detail);
            w->stats.error_log = 1;
        } else {
            worker_outcome(w, ddb_outcome_name(r->outcome), "%s %s", r->error_type, op_detail);
        }
        if (http_response_message(resp, 503, "service unavailable, retry later") != 0 ||
            http_response_header(resp, "Retry-After", "1") != 0)
            resp->status = 500;
        return;
    case DDB_VALIDATION: {
        /* DynamoDB names the item-size limit in its own words; say it plainly. */
        if (strstr(r->message, "size") && (strstr(r->message, "exceeded") || strstr(r->message, "maximum")))
            reply_message(w, resp, 400, "too_large",
                          "item too large: DynamoDB limits an item to 400 KB (%s)", r->message);
        else
            reply_message(w, resp, 400, "ddb_rejected", "DynamoDB rejected the request: %s", r->message);
        return;
    }
    case DDB_CONDITION_FAILED:
        /* Handlers decide what a failed condition means; reaching here is a handler bug. */
        reply_internal(w, resp, "unexpected condition failure");
        return;
    case DDB_CLIENT_ERROR:
    case DDB_INTERNAL:
    case DDB_OK:
        break;
    }
    char detail[700];
    snprintf(detail, sizeof detail, "DynamoDB %s: %s %s", ddb_outcome_name(r->outcome), r->error_type,
             op_detail);
    reply_internal(w, resp, detail);
}

int json_add(json_object *o, const char *key, json_object *value)
{
    if (!o || !value) {
        json_object_put(value);
        return -1;
    }
    if (json_object_object_add(o, key, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

int body_object(struct worker *w, const struct http_request *req, struct http_response *resp,
                json_object **out)
{
    *out = NULL;
    if (req->body.len == 0) {
        reply_message(w, resp, 400, "bad_request", "the request body must be a JSON object");
        return -1;
    }
    char err[200];
    json_object *o = NULL;
    if (json_input_parse(req->body.data, req->body.len, w->conf->max_json_depth, &o, err, sizeof err) != 0) {
        reply_message(w, resp, 400, "bad_request", "%s", err);
        return -1;
    }
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        reply_message(w, resp, 400, "bad_request", "the request body must be a JSON object");
        return -1;
    }
    *out = o;
    return 0;
}

int check_item_values(struct worker *w, struct http_response *resp, json_object *body)
{
    json_object *av = NULL;
    char err[300];
    if (ddbv_item_from_json(body, &av, err, sizeof err) != 0) {
        reply_message(w, resp, 400, "bad_request", "%s", err);
        return -1;
    }
    json_object_put(av);
    return 0;
}

const char *clone_id_problem(const char *s, size_t len)
{
    if (len == 0)
        return "must not be empty";
    if (len > CLONE_ID_MAX)
        return "must be at most 1024 bytes";
    if (memchr(s, '\0', len))
        return "must not hold a NUL character";
    if (!text_utf8_valid(s, len))
        return "must be valid UTF-8";
    return NULL;
}

const char *clone_id_member(struct worker *w, struct http_response *resp, json_object *body,
                            const char *field, int required, size_t *len)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(body, field, &v)) {
        if (required)
            reply_message(w, resp, 400, "bad_request", "%s is required", field);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        reply_message(w, resp, 400, "bad_request", "%s must be a string", field);
        return NULL;
    }
    const char *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    const char *why = clone_id_problem(s, *len);
    if (why) {
        reply_message(w, resp, 400, "bad_request", "%s %s", field, why);
        return NULL;
    }
    return s;
}

static json_object *string_av(const char *s, size_t len)
{
    json_object *av = json_object_new_object();
    json_object *str = json_object_new_string_len(s, (int)len);
    if (!av || !str || json_object_object_add(av, "S", str) != 0) {
        json_object_put(str);
        json_object_put(av);
        return NULL;
    }
    return av;
}

json_object *key_of(const struct worker *w, const char *id, size_t len)
{
    json_object *key = json_object_new_object();
    json_object *av = string_av(id, len);
    if (!key || !av || json_object_object_add(key, w->conf->key_attribute, av) != 0) {
        json_object_put(av);
        json_object_put(key);
        return NULL;
    }
    return key;
}

json_object *key_of_item(const struct worker *w, json_object *item_av)
{
    json_object *av = NULL;
    if (!json_object_object_get_ex(item_av, w->conf->key_attribute, &av) || !av)
        return NULL;
    json_object *key = json_object_new_object();
    if (!key)
        return NULL;
    if (json_object_object_add(key, w->conf->key_attribute, json_object_get(av)) != 0) {
        json_object_put(av);
        json_object_put(key);
        return NULL;
    }
    return key;
}

int64_t item_version(json_object *item_av)
{
    json_object *av = NULL, *n = NULL;
    if (!item_av || !json_object_object_get_ex(item_av, ATTR_VERSION, &av) || !av ||
        !json_object_object_get_ex(av, "N", &n) || !json_object_is_type(n, json_type_string))
        return 0;
    const char *s = json_object_get_string(n);
    size_t len = strlen(s);
    /* Versions we write are plain integers; anything else (another tool's value) counts as none. */
    if (len == 0 || len > 18 || strspn(s, "0123456789") != len)
        return 0;
    return (int64_t)strtoll(s, NULL, 10);
}

json_object *item_plain(struct worker *w, struct http_response *resp, json_object *item_av)
{
    json_object *out = NULL;
    char err[256];
    if (ddbv_item_to_json(item_av, &out, err, sizeof err) != 0 || !out) {
        json_object_put(out);
        reply_internal(w, resp, err);
        return NULL;
    }
    return out;
}

int set_etag(struct http_response *resp, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%" PRId64 "\"", version);
    return http_response_header(resp, "ETag", etag);
}

int is_server_attribute(const char *name)
{
    return strcmp(name, ATTR_CREATED) == 0 || strcmp(name, ATTR_UPDATED) == 0 ||
           strcmp(name, ATTR_VERSION) == 0;
}

/* One entity tag at *p: W/"..." or "..."; advances *p. Returns 0, or -1 when malformed. */
static int read_tag(const char **p, struct if_match *im)
{
    const char *s = *p;
    if (s[0] == 'W' && s[1] == '/')
        s += 2;
    if (*s != '"')
        return -1;
    s++;
    const char *end = strchr(s, '"');
    if (!end)
        return -1;
    size_t len = (size_t)(end - s);
    for (const char *c = s; c < end; c++)
        if ((unsigned char)*c < 0x21 || *c == 0x7f)
            return -1;
    if (len < sizeof im->tags[0]) {
        if (im->count >= IF_MATCH_MAX_TAGS)
            return -1;
        memcpy(im->tags[im->count], s, len);
        im->tags[im->count][len] = '\0';
        im->count++;
    }
    *p = end + 1;
    return 0;
}

int if_match_read(struct worker *w, const struct http_request *req, struct http_response *resp,
                  struct if_match *im)
{
    memset(im, 0, sizeof *im);
    const char *h = http_header(req, "if-match");
    if (!h)
        return 0;
    im->present = 1;
    const char *p = h;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '*') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0') {
            im->any = 1;
            return 0;
        }
        reply_message(w, resp, 400, "bad_request", "malformed If-Match header");
        return -1;
    }
    for (;;) {
        if (read_tag(&p, im) != 0) {
            reply_message(w, resp, 400, "bad_request", "malformed If-Match header");
            return -1;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return 0;
        if (*p != ',') {
            reply_message(w, resp, 400, "bad_request", "malformed If-Match header");
            return -1;
        }
        p++;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
    }
}

int if_match_holds(const struct if_match *im, int exists, int64_t version)
{
    if (!im->present)
        return 1;
    if (!exists)
        return 0;
    if (im->any)
        return 1;
    char v[24];
    snprintf(v, sizeof v, "%" PRId64, version);
    for (size_t i = 0; i < im->count; i++)
        if (strcmp(im->tags[i], v) == 0)
            return 1;
    return 0;
}

void eb_init(struct expr_builder *eb)
{
    memset(eb, 0, sizeof *eb);
    eb->names = json_object_new_object();
    eb->values = json_object_new_object();
    if (!eb->names || !eb->values)
        eb->failed = 1;
}

void eb_free(struct expr_builder *eb)
{
    json_object_put(eb->names);
    json_object_put(eb->values);
    memset(eb, 0, sizeof *eb);
}

const char *eb_name(struct expr_builder *eb, const char *name, char out[16])
{
    out[0] = '\0';
    if (eb->failed)
        return out;
    json_object_object_foreach(eb->names, k, v) {
        if (strcmp(json_object_get_string(v), name) == 0) {
            snprintf(out, 16, "%s", k);
            return out;
        }
    }
    snprintf(out, 16, "#n%d", eb->name_count++);
    json_object *s = json_object_new_string(name);
    if (!s || json_object_object_add(eb->names, out, s) != 0) {
        json_object_put(s);
        eb->failed = 1;
    }
    return out;
}

const char *eb_value(struct expr_builder *eb, json_object *av, char out[16])
{
    out[0] = '\0';
    if (eb->failed)
        return out;
    snprintf(out, 16, ":v%d", eb->value_count++);
    if (!av || json_object_object_add(eb->values, out, json_object_get(av)) != 0) {
        json_object_put(av);
        eb->failed = 1;
    }
    return out;
}

void eb_apply(struct expr_builder *eb, struct ddb_expr *e)
{
    e->names = eb->name_count ? eb->names : NULL;
    e->values = eb->value_count ? eb->values : NULL;
}

int merge_patch(json_object *target, json_object *patch)
{
    json_object_object_foreach(patch, k, v) {
        if (!v) {
            json_object_object_del(target, k);
            continue;
        }
        if (json_object_is_type(v, json_type_object)) {
            json_object *cur = NULL;
            json_object *child;
            if (json_object_object_get_ex(target, k, &cur) && cur && json_object_is_type(cur, json_type_object))
                child = json_object_get(cur);
            else
                child = json_object_new_object(); /* RFC 7396: a patch object onto a non-object starts from {} */
            if (!child)
                return -1;
            if (merge_patch(child, v) != 0 || json_object_object_add(target, k, child) != 0) {
                json_object_put(child);
                return -1;
            }
            continue;
        }
        if (json_object_object_add(target, k, json_object_get(v)) != 0) {
            json_object_put(v);
            return -1;
        }
    }
    return 0;
}

/* The item to store: the body (replace) or the stored item with the patch applied (merge), with the
 * key and the server-managed attributes set. Returns a new plain object, or NULL (out of memory). */
static json_object *next_item(const struct worker *w, const struct write_request *wr, json_object *existing_av,
                              json_object *existing_plain, const char *now, int64_t version)
{
    json_object *item = NULL;
    if (wr->mode == WRITE_MERGE && existing_plain) {
        item = json_object_get(existing_plain);
        json_object *patch = json_object_new_object();
        if (!patch) {
            json_object_put(item);
            return NULL;
        }
        json_object_object_foreach(wr->body, k, v) {
            if (is_server_attribute(k) || strcmp(k, w->conf->key_attribute) == 0)
                continue;
            if (json_object_object_add(patch, k, json_object_get(v)) != 0) {
                json_object_put(v);
                json_object_put(patch);
                json_object_put(item);
                return NULL;
            }
        }
        int rc = merge_patch(item, patch);
        json_object_put(patch);
        if (rc != 0) {
            json_object_put(item);
            return NULL;
        }
    } else {
        item = json_object_new_object();
        if (!item)
            return NULL;
        json_object_object_foreach(wr->body, k, v) {
            if (is_server_attribute(k))
                continue;
            if (json_object_object_add(item, k, json_object_get(v)) != 0) {
                json_object_put(v);
                json_object_put(item);
                return NULL;
            }
        }
    }
    /* A created time kept by the stored item survives; an item from elsewhere gets one now. */
    const char *created = now;
    json_object *cav = NULL, *cs = NULL;
    if (existing_av && json_object_object_get_ex(existing_av, ATTR_CREATED, &cav) && cav &&
        json_object_object_get_ex(cav, "S", &cs) && json_object_is_type(cs, json_type_string))
        created = json_object_get_string(cs);
    json_object *id = json_object_new_string_len(wr->id, (int)wr->id_len);
    json_object *c = json_object_new_string(created);
    json_object *u = json_object_new_string(now);
    json_object *v = json_object_new_int64(version);
    int failed = !id || !c || !u || !v;
    if (!failed && json_object_object_add(item, w->conf->key_attribute, id) == 0)
        id = NULL;
    else
        failed = 1;
    if (!failed && json_object_object_add(item, ATTR_CREATED, c) == 0)
        c = NULL;
    else
        failed = 1;
    if (!failed && json_object_object_add(item, ATTR_UPDATED, u) == 0)
        u = NULL;
    else
        failed = 1;
    if (!failed && json_object_object_add(item, ATTR_VERSION, v) == 0)
        v = NULL;
    else
        failed = 1;
    json_object_put(id);
    json_object_put(c);
    json_object_put(u);
    json_object_put(v);
    if (failed) {
        json_object_put(item);
        return NULL;
    }
    return item;
}

/* One read-decide-write round. Returns 1 to try again (the item changed between read and write),
 * 0 when done (result filled), -1 after replying. */
static int write_round(struct worker *w, const struct write_request *wr, json_object *key,
                       struct write_result *result, struct http_response *resp)
{
    struct ddb_result r;
    if (wk_get(w, key, &r) != DDB_OK) {
        reply_ddb_failure(w, resp, &r);
        ddb_result_clear(&r);
        return -1;
    }
    json_object *existing = NULL;
    if (json_object_object_get_ex(r.response, "Item", &existing) && existing)
        json_object_get(existing);
    ddb_result_clear(&r);

    int rc = -1;
    json_object *existing_plain = NULL, *item = NULL, *item_av = NULL;
    struct expr_builder eb;
    eb_init(&eb);
    if (!existing && wr->must_exist) {
        reply_not_found(w, resp, w->conf->key_attribute, wr->id, 0);
        goto done;
    }
    int64_t old_version = item_version(existing);
    if (!if_match_holds(wr->if_match, existing != NULL, old_version)) {
        reply_message(w, resp, 412, "precondition_failed", "If-Match does not match the item's current ETag");
        goto done;
    }
    if (existing && wr->mode == WRITE_MERGE && !(existing_plain = item_plain(w, resp, existing)))
        goto done;
    char now[25];
    if (text_now_rfc3339(now) != 0) {
        reply_internal(w, resp, "clock unavailable");
        goto done;
    }
    item = next_item(w, wr, existing, existing_plain, now, old_version + 1);
    if (!item) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    char err[300];
    if (ddbv_item_from_json(item, &item_av, err, sizeof err) != 0) {
        reply_message(w, resp, 400, "bad_request", "%s", err);
        goto done;
    }
    char cond[128], k[16], v[16], val[16];
    json_object *version_av = NULL;
    if (!existing)
        snprintf(cond, sizeof cond, "attribute_not_exists(%s)", eb_name(&eb, w->conf->key_attribute, k));
    else if (json_object_object_get_ex(existing, ATTR_VERSION, &version_av) && version_av)
        snprintf(cond, sizeof cond, "%s = %s", eb_name(&eb, ATTR_VERSION, v), eb_value(&eb, version_av, val));
    else
        snprintf(cond, sizeof cond, "attribute_exists(%s) AND attribute_not_exists(%s)",
                 eb_name(&eb, w->conf->key_attribute, k), eb_name(&eb, ATTR_VERSION, v));
    if (eb.failed) {
        reply_internal(w, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.condition = cond};
    eb_apply(&eb, &e);
    enum ddb_outcome o = wk_put(w, item_av, &e, NULL, &r);
    if (o == DDB_CONDITION_FAILED) {
        ddb_result_clear(&r);
        if (wr->if_match->present) {
            reply_message(w, resp, 412, "precondition_failed", "If-Match does not match the item's current ETag");
            goto done;
        }
        rc = 1;
        goto done;
    }
    if (o != DDB_OK) {
        reply_ddb_failure(w, resp, &r);
        ddb_result_clear(&r);
        goto done;
    }
    ddb_result_clear(&r);
    result->created = existing == NULL;
    result->version = old_version + 1;
    result->item = item_plain(w, resp, item_av);
    rc = result->item ? 0 : -1;
done:
    eb_free(&eb);
    json_object_put(item_av);
    json_object_put(item);
    json_object_put(existing_plain);
    json_object_put(existing);
    return rc;
}

/* A random pause below WRITE_BACKOFF_MS << (attempt - 1) ms after a lost race. */
static void conflict_pause(int attempt)
{
    unsigned short r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = 0;
    long ceiling = (long)WRITE_BACKOFF_MS << (attempt - 1);
    long ms = (long)(r % (unsigned)(ceiling + 1));
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int write_item(struct worker *w, const struct write_request *wr, struct write_result *result,
               struct http_response *resp)
{
    memset(result, 0, sizeof *result);
    json_object *key = key_of(w, wr->id, wr->id_len);
    if (!key) {
        reply_internal(w, resp, "out of memory");
        return -1;
    }
    int rc = 1;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS && rc == 1; attempt++) {
        if (attempt > 0)
            conflict_pause(attempt);
        rc = write_round(w, wr, key, result, resp);
    }
    json_object_put(key);
    if (rc == 1) {
        reply_message(w, resp, 409, "conflict",
                      "the item was changed by other requests %d times while this one ran; retry",
                      WRITE_ATTEMPTS);
        return -1;
    }
    return rc;
}
