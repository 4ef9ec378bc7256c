/* keystore_ddb.c — keys, plans and heartbeats in the DynamoDB keys table (see keystore_ddb.h).
 * Every write is one conditional PutItem or UpdateItem; the read is a consistent Scan checked item by item. */
#include "config.h"

#include "keystore_ddb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_config.h"
#include "jsonx.h"
#include "text.h"

struct ddb_client *kd_client_new(const struct conf *conf, char *err, size_t errlen)
{
    struct ddb_options o;
    ddb_options_from_conf(&o, conf);
    struct aws_settings settings;
    if (aws_settings_load(&settings, conf->profile[0] ? conf->profile : NULL, conf->region[0] ? conf->region : NULL,
                          conf->endpoint[0] ? conf->endpoint : NULL, err, errlen) != 0)
        return NULL;
    return ddb_client_new(&o, &settings, err, errlen);
}

/* {"S": text} / {"N": "number"} */
static json_object *av_s(const char *text)
{
    json_object *o = json_object_new_object();
    if (json_add(o, "S", json_object_new_string(text)) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *av_n(long long n)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", n);
    json_object *o = json_object_new_object();
    if (json_add(o, "N", json_object_new_string(text)) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* t in RFC 3339 UTC. Returns 0, or -1 with err. */
static int rfc3339(time_t t, char out[KS_CREATED_LEN + 1], char *err, size_t errlen)
{
    struct tm tm;
    if (gmtime_r(&t, &tm) && strftime(out, KS_CREATED_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == KS_CREATED_LEN)
        return 0;
    text_set_error(err, errlen, "the clock cannot be read as a date");
    return -1;
}

/* {"id": {"S": "PREFIX#NAME"}} */
static json_object *item_key(const char *prefix, const char *name)
{
    char id[KS_NAME_MAX + 160];
    snprintf(id, sizeof id, "%s#%s", prefix, name);
    json_object *key = json_object_new_object();
    if (json_add(key, KD_KEY_ATTRIBUTE, av_s(id)) != 0) {
        json_object_put(key);
        return NULL;
    }
    return key;
}

/* The outcome of a write: 0 done, 1 its condition failed, -1 any other failure (with err). */
static int write_outcome(enum ddb_outcome outcome, struct ddb_result *r, const char *what, char *err, size_t errlen)
{
    int status = 0;
    if (outcome == DDB_CONDITION_FAILED)
        status = 1;
    else if (outcome != DDB_OK) {
        text_set_error(err, errlen, "%s: %s %s %s", what, ddb_outcome_name(outcome), r->error_type, r->message);
        status = -1;
    }
    ddb_result_clear(r);
    return status;
}

/* UpdateItem of one item with an update and a condition; values is consumed. */
static int update(struct ddb_client *c, const char *table, json_object *key, const char *update_expr,
                  const char *condition, json_object *names, json_object *values, const char *what, char *err,
                  size_t errlen)
{
    int status = -1;
    if (!key || !values) {
        text_set_error(err, errlen, "%s: out of memory", what);
    } else {
        struct ddb_expr e = {.update = update_expr, .condition = condition, .names = names, .values = values};
        struct ddb_result r;
        status = write_outcome(ddb_update_item(c, table, key, &e, NULL, &r), &r, what, err, errlen);
    }
    json_object_put(key);
    json_object_put(names);
    json_object_put(values);
    return status;
}

int kd_put_plan(struct ddb_client *c, const char *table, const struct ks_plan *p, time_t now, const char *by,
                char *err, size_t errlen)
{
    char when[KS_CREATED_LEN + 1];
    if (rfc3339(now, when, err, errlen) != 0)
        return -1;
    json_object *v = json_object_new_object(), *names = json_object_new_object();
    int failed = json_add(v, ":kind", av_s("plan")) || json_add(v, ":name", av_s(p->name)) ||
                 json_add(v, ":rate", av_n(p->rate)) || json_add(v, ":burst", av_n(p->burst)) ||
                 json_add(v, ":quota", av_n(p->quota)) || json_add(v, ":period", av_s(p->period)) ||
                 json_add(v, ":when", av_s(when)) || json_add(v, ":by", av_s(by)) ||
                 json_add(names, "#name", json_object_new_string("name"));
    if (failed) {
        json_object_put(v);
        v = NULL;
    }
    return update(c, table, item_key("plan", p->name),
                  "SET kind = :kind, #name = :name, rate = :rate, burst = :burst, quota = :quota, period = :period, "
                  "created = if_not_exists(created, :when), created_by = if_not_exists(created_by, :by), "
                  "updated = :when, updated_by = :by",
                  NULL, names, v, "UpdateItem (plan)", err, errlen);
}

int kd_put_key(struct ddb_client *c, const char *table, const struct ks_key *k, const char *by, char *err,
               size_t errlen)
{
    json_object *item = item_key("key", k->name);
    int failed = !item || json_add(item, "kind", av_s("key")) || json_add(item, "name", av_s(k->name)) ||
                 json_add(item, "plan", av_s(k->plan)) || json_add(item, "digest", av_s(k->digest)) ||
                 json_add(item, "created", av_s(k->created)) || json_add(item, "created_by", av_s(by)) ||
                 json_add(item, "status", av_s(k->revoked ? "revoked" : "active"));
    if (failed) {
        json_object_put(item);
        text_set_error(err, errlen, "PutItem (key): out of memory");
        return -1;
    }
    struct ddb_expr e = {.condition = "attribute_not_exists(id)"};
    struct ddb_result r;
    int status = write_outcome(ddb_put_item(c, table, item, &e, NULL, &r), &r, "PutItem (key)", err, errlen);
    json_object_put(item);
    return status;
}

int kd_revoke_key(struct ddb_client *c, const char *table, const char *name, time_t now, const char *by,
                  char *err, size_t errlen)
{
    char when[KS_CREATED_LEN + 1];
    if (rfc3339(now, when, err, errlen) != 0)
        return -1;
    json_object *v = json_object_new_object(), *names = json_object_new_object();
    if (json_add(v, ":revoked", av_s("revoked")) || json_add(v, ":active", av_s("active")) ||
        json_add(v, ":when", av_s(when)) || json_add(v, ":by", av_s(by)) ||
        json_add(names, "#status", json_object_new_string("status"))) {
        json_object_put(v);
        v = NULL;
    }
    return update(c, table, item_key("key", name), "SET #status = :revoked, revoked = :when, revoked_by = :by",
                  "attribute_exists(id) AND #status = :active", names, v, "UpdateItem (revoke)", err, errlen);
}

int kd_move_key(struct ddb_client *c, const char *table, const char *name, const char *plan, time_t now,
                const char *by, char *err, size_t errlen)
{
    char when[KS_CREATED_LEN + 1];
    if (rfc3339(now, when, err, errlen) != 0)
        return -1;
    /* plan, like name and status, is one of DynamoDB's reserved words. */
    json_object *v = json_object_new_object(), *names = json_object_new_object();
    if (json_add(v, ":plan", av_s(plan)) || json_add(v, ":when", av_s(when)) || json_add(v, ":by", av_s(by)) ||
        json_add(names, "#plan", json_object_new_string("plan"))) {
        json_object_put(v);
        v = NULL;
    }
    return update(c, table, item_key("key", name), "SET #plan = :plan, moved = :when, moved_by = :by",
                  "attribute_exists(id)", names, v, "UpdateItem (move)", err, errlen);
}

int kd_heartbeat(struct ddb_client *c, const char *table, const char *box, time_t now, char *err, size_t errlen)
{
    char when[KS_CREATED_LEN + 1];
    if (rfc3339(now, when, err, errlen) != 0)
        return -1;
    json_object *item = item_key("box", box);
    if (!item || json_add(item, "kind", av_s("box")) || json_add(item, "box", av_s(box)) ||
        json_add(item, "seen", av_n((long long)now)) || json_add(item, "seen_at", av_s(when))) {
        json_object_put(item);
        text_set_error(err, errlen, "PutItem (heartbeat): out of memory");
        return -1;
    }
    struct ddb_result r;
    int status = write_outcome(ddb_put_item(c, table, item, NULL, NULL, &r), &r, "PutItem (heartbeat)", err, errlen);
    json_object_put(item);
    return status == 0 ? 0 : -1;
}

/* The attribute's S (or N) text, or NULL when it is missing or of another type. */
static const char *attr(json_object *item, const char *name, const char *type)
{
    json_object *av, *v;
    if (!json_object_object_get_ex(item, name, &av) || !json_object_object_get_ex(av, type, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* A whole number in [min, max] from an N attribute. */
static int attr_number(json_object *item, const char *name, long long min, long long max, long long *out)
{
    const char *t = attr(item, name, "N");
    if (!t || !*t || strspn(t, "0123456789") != strlen(t) || strlen(t) > 18)
        return -1;
    long long v = strtoll(t, NULL, 10);
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int load_plan(struct keystore *ks, json_object *item, const char *id, char *err, size_t errlen)
{
    const char *name = attr(item, "name", "S"), *period = attr(item, "period", "S");
    long long rate, burst, quota;
    if (!name || !period || attr_number(item, "rate", 1, KS_RATE_MAX, &rate) != 0 ||
        attr_number(item, "burst", 0, KS_BURST_MAX, &burst) != 0 ||
        attr_number(item, "quota", 0, KS_QUOTA_MAX, &quota) != 0 || strcmp(id + 5, name) != 0) {
        text_set_error(err, errlen, "item %s: not a plan as keystore_ddb.h says", id);
        return -1;
    }
    char why[256];
    if (ks_set_plan(ks, name, (long)rate, (long)burst, quota, period, why, sizeof why) != 0) {
        text_set_error(err, errlen, "item %s: %s", id, why);
        return -1;
    }
    return 0;
}

/* Keys are checked after every plan is in: a key's plan may come later in the Scan. */
static int load_key(struct keystore *ks, json_object *item, const char *id, char *err, size_t errlen)
{
    const char *name = attr(item, "name", "S"), *plan = attr(item, "plan", "S");
    const char *digest = attr(item, "digest", "S"), *created = attr(item, "created", "S");
    const char *status = attr(item, "status", "S");
    int revoked = status && strcmp(status, "revoked") == 0;
    if (!name || !plan || !digest || !created || !status || (!revoked && strcmp(status, "active") != 0) ||
        !ks_name_valid(name) || strcmp(id + 4, name) != 0 || strlen(created) != KS_CREATED_LEN ||
        strlen(digest) != KS_DIGEST_LEN || strspn(digest, "0123456789abcdef") != KS_DIGEST_LEN) {
        text_set_error(err, errlen, "item %s: not a key as keystore_ddb.h says", id);
        return -1;
    }
    if (!ks_find_plan(ks, plan)) {
        text_set_error(err, errlen, "item %s: its plan %s is not in the table", id, plan);
        return -1;
    }
    if (ks_digest_taken(ks, digest)) {
        text_set_error(err, errlen, "item %s: its digest is another key's too", id);
        return -1;
    }
    if (ks_reserve_key(ks) != 0) {
        text_set_error(err, errlen, "more than %d keys", KS_MAX_KEYS);
        return -1;
    }
    struct ks_key *k = &ks->keys[ks->nkeys++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->plan, sizeof k->plan, "%s", plan);
    memcpy(k->created, created, KS_CREATED_LEN + 1);
    memcpy(k->digest, digest, KS_DIGEST_LEN + 1);
    k->revoked = revoked;
    return 0;
}

/* One pass over the items: plans (pass 0) or keys and heartbeats (pass 1). */
static int load_items(struct keystore *ks, json_object *items, int pass, long long live_after, int *live,
                      char *err, size_t errlen)
{
    size_t n = json_object_array_length(items);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(items, i);
        const char *id = attr(item, KD_KEY_ATTRIBUTE, "S");
        if (!id) {
            text_set_error(err, errlen, "an item without a string id");
            return -1;
        }
        int rc = 0;
        if (strncmp(id, "plan#", 5) == 0) {
            if (pass == 0)
                rc = load_plan(ks, item, id, err, errlen);
        } else if (strncmp(id, "key#", 4) == 0) {
            if (pass == 1)
                rc = load_key(ks, item, id, err, errlen);
        } else if (strncmp(id, "box#", 4) == 0) {
            long long seen;
            if (pass == 1 && attr_number(item, "seen", 0, 1LL << 40, &seen) == 0 && seen >= live_after)
                (*live)++;
        } else {
            text_set_error(err, errlen, "item %s: not a plan, key or box", id);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The files' order, whatever the Scan's: keys by creation (as add-key appends them), then name; plans by name.
 * A box's files then change only when the store does, and every box renders the same bytes. */
static int key_order(const void *a, const void *b)
{
    const struct ks_key *x = a, *y = b;
    int c = strcmp(x->created, y->created);
    return c ? c : strcmp(x->name, y->name);
}

static int plan_order(const void *a, const void *b)
{
    return strcmp(((const struct ks_plan *)a)->name, ((const struct ks_plan *)b)->name);
}

int kd_load(struct ddb_client *c, const char *table, struct keystore *ks, long long live_after, int *live_boxes,
            char *err, size_t errlen)
{
    memset(ks, 0, sizeof *ks);
    json_object *all = json_object_new_array();
    json_object *start = NULL;
    int live = 0, status = all ? 0 : -1;
    if (!all)
        text_set_error(err, errlen, "out of memory");
    /* Every page first: a key's plan may be on a later page. */
    while (status == 0) {
        struct ddb_page page = {.consistent_read = 1, .exclusive_start_key = start};
        struct ddb_result r;
        enum ddb_outcome o = ddb_scan(c, table, &page, NULL, &r);
        json_object_put(start);
        start = NULL;
        json_object *items, *last;
        if (o != DDB_OK) {
            text_set_error(err, errlen, "Scan %s: %s %s %s", table, ddb_outcome_name(o), r.error_type, r.message);
            status = -1;
        } else if (!json_object_object_get_ex(r.response, "Items", &items) ||
                   !json_object_is_type(items, json_type_array)) {
            text_set_error(err, errlen, "Scan %s: an answer without Items", table);
            status = -1;
        } else {
            for (size_t i = 0; status == 0 && i < json_object_array_length(items); i++)
                if (json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i))) != 0) {
                    text_set_error(err, errlen, "out of memory");
                    status = -1;
                }
            if (json_object_object_get_ex(r.response, "LastEvaluatedKey", &last))
                start = json_object_get(last);
        }
        ddb_result_clear(&r);
        if (!start)
            break;
    }
    json_object_put(start);
    for (int pass = 0; status == 0 && pass < 2; pass++)
        status = load_items(ks, all, pass, live_after, &live, err, errlen);
    json_object_put(all);
    if (status == 0) {
        if (ks->nkeys)
            qsort(ks->keys, ks->nkeys, sizeof *ks->keys, key_order);
        if (ks->nplans)
            qsort(ks->plans, ks->nplans, sizeof *ks->plans, plan_order);
    }
    if (status != 0)
        ks_free(ks);
    else if (live_boxes)
        *live_boxes = live;
    return status;
}
