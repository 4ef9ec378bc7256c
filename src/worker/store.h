/* store.h — the item table as the handlers see it: get, put, update, delete, scan, describe, and keys.
 * Every call is a consistent-read or conditional DynamoDB call whose cost lands in the request's stats. */
#ifndef CLONE_JOBS_STORE_H
#define CLONE_JOBS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "ddb.h"
#include "stats.h"

struct store {
    struct ddb_client *ddb;     /* the thread's own client */
    const char *table;
    const char *key_attribute;  /* the table's string partition key */
    struct request_stats *stats;/* the request under way: each call adds its time, calls and retries */
};

/* GetItem with ConsistentRead: an ETag or a read-then-write must see the latest version. */
enum ddb_outcome store_get(struct store *s, json_object *key, struct ddb_result *r);
enum ddb_outcome store_put(struct store *s, json_object *item, const struct ddb_expr *e, const char *return_values,
                           struct ddb_result *r);
enum ddb_outcome store_update(struct store *s, json_object *key, const struct ddb_expr *e,
                              const char *return_values, struct ddb_result *r);
enum ddb_outcome store_delete(struct store *s, json_object *key, const struct ddb_expr *e,
                              const char *return_values, struct ddb_result *r);
enum ddb_outcome store_scan(struct store *s, const struct ddb_page *p, const struct ddb_expr *e,
                            struct ddb_result *r);
enum ddb_outcome store_describe(struct store *s, struct ddb_result *r);

/* {key_attribute: {"S": id}} (caller owns), or NULL when out of memory. */
json_object *store_key(const struct store *s, const char *id, size_t len);
/* The key of a stored item (its key attribute value shared, in a new map; caller owns), or NULL. */
json_object *store_key_of_item(const struct store *s, json_object *item_av);

/* 1 when the table holds exactly item_av under id (a consistent read). A conditional write whose answer was
 * lost and whose retry failed its condition asks this: was the first try done? A write's item holds its
 * updatedAt to the millisecond and its version, so another writer's item is never equal. */
int store_holds(struct store *s, const char *id, size_t len, json_object *item_av);

/* The version attribute of a stored item (0 when it has none, or one that is not a plain integer). */
int64_t store_item_version(json_object *item_av);

#endif
