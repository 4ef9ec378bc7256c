/* store.c — the handlers' one door to DynamoDB: the item table's operations with their costs accounted.
 * It knows the table and its key, not the request: handlers decide what an outcome means for the client. */
#include "config.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "item.h"
#include "jsonx.h"

static enum ddb_outcome account(struct store *s, enum ddb_outcome o, const struct ddb_result *r)
{
    s->stats->ddb_ms += r->elapsed_ms;
    s->stats->ddb_calls++;
    if (r->attempts > 1)
        s->stats->ddb_retries += r->attempts - 1;
    return o;
}

enum ddb_outcome store_get(struct store *s, json_object *key, struct ddb_result *r)
{
    return account(s, ddb_get_item(s->ddb, s->table, key, 1, r), r);
}

enum ddb_outcome store_put(struct store *s, json_object *item, const struct ddb_expr *e, const char *return_values,
                           struct ddb_result *r)
{
    return account(s, ddb_put_item(s->ddb, s->table, item, e, return_values, r), r);
}

enum ddb_outcome store_update(struct store *s, json_object *key, const struct ddb_expr *e,
                              const char *return_values, struct ddb_result *r)
{
    return account(s, ddb_update_item(s->ddb, s->table, key, e, return_values, r), r);
}

enum ddb_outcome store_delete(struct store *s, json_object *key, const struct ddb_expr *e,
                              const char *return_values, struct ddb_result *r)
{
    return account(s, ddb_delete_item(s->ddb, s->table, key, e, return_values, r), r);
}

enum ddb_outcome store_scan(struct store *s, const struct ddb_page *p, const struct ddb_expr *e,
                            struct ddb_result *r)
{
    return account(s, ddb_scan(s->ddb, s->table, p, e, r), r);
}

enum ddb_outcome store_describe(struct store *s, struct ddb_result *r)
{
    return account(s, ddb_describe_table(s->ddb, s->table, r), r);
}

json_object *store_key(const struct store *s, const char *id, size_t len)
{
    json_object *key = json_object_new_object();
    if (json_add(key, s->key_attribute, expr_scalar_av("S", id, len)) != 0) {
        json_object_put(key);
        return NULL;
    }
    return key;
}

json_object *store_key_of_item(const struct store *s, json_object *item_av)
{
    json_object *av = NULL;
    if (!json_object_object_get_ex(item_av, s->key_attribute, &av) || !av)
        return NULL;
    json_object *key = json_object_new_object();
    if (json_add(key, s->key_attribute, json_object_get(av)) != 0) {
        json_object_put(key);
        return NULL;
    }
    return key;
}

int store_holds(struct store *s, const char *id, size_t len, json_object *item_av)
{
    json_object *key = store_key(s, id, len);
    if (!key)
        return 0;
    struct ddb_result r;
    int same = store_get(s, key, &r) == DDB_OK && json_object_equal(json_object_object_get(r.response, "Item"), item_av);
    ddb_result_clear(&r);
    json_object_put(key);
    return same;
}

int64_t store_item_version(json_object *item_av)
{
    json_object *av = NULL, *n = NULL;
    if (!item_av || !json_object_object_get_ex(item_av, ATTR_VERSION, &av) || !av ||
        !json_object_object_get_ex(av, "N", &n) || !json_object_is_type(n, json_type_string))
        return 0;
    const char *text = json_object_get_string(n);
    size_t len = strlen(text);
    /* Versions we write are plain integers; anything else (another tool's value) counts as none. */
    if (len == 0 || len > 18 || strspn(text, "0123456789") != len)
        return 0;
    return (int64_t)strtoll(text, NULL, 10);
}
