/* item_read.c — one item fetched with a consistent read and answered as plain JSON with its ETag.
 * 404 bodies keep the tutorial's {"Message"} spelling for GET /clone and {"message"} elsewhere. */
#include "config.h"

#include "item_read.h"

#include "ddb_value.h"
#include "if_match.h"
#include "reply.h"

json_object *item_read_plain(struct request_stats *st, struct http_response *resp, json_object *item_av)
{
    json_object *out = NULL;
    char err[256];
    if (ddbv_item_to_json(item_av, &out, err, sizeof err) != 0 || !out) {
        json_object_put(out);
        reply_internal(st, resp, err);
        return NULL;
    }
    return out;
}

int item_read_fetch(struct store *s, struct http_response *resp, const char *id, size_t len,
                    json_object **item_av)
{
    *item_av = NULL;
    json_object *key = store_key(s, id, len);
    if (!key) {
        reply_internal(s->stats, resp, "out of memory");
        return -1;
    }
    struct ddb_result r;
    enum ddb_outcome o = store_get(s, key, &r);
    json_object_put(key);
    if (o != DDB_OK) {
        reply_ddb_failure(s->stats, resp, s->table, &r);
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

void item_read_reply(struct request_stats *st, struct http_response *resp, int status, json_object *item_av)
{
    json_object *plain = item_read_plain(st, resp, item_av);
    if (!plain)
        return;
    reply_json(st, resp, status, plain);
    if (resp->status == status && etag_set(resp, store_item_version(item_av)) != 0)
        reply_internal(st, resp, "out of memory");
    json_object_put(plain);
}

void item_read_get_and_reply(struct store *s, struct http_response *resp, const char *id, size_t len,
                             int capital)
{
    json_object *item = NULL;
    int found = item_read_fetch(s, resp, id, len, &item);
    if (found == 0)
        reply_not_found(s->stats, resp, s->key_attribute, id, capital);
    else if (found > 0)
        item_read_reply(s->stats, resp, 200, item);
    json_object_put(item);
}
