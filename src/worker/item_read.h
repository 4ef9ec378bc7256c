/* item_read.h — reading one item by its cloneID and answering with it (the item and its ETag), shared by
 * GET /clone, GET /clones/{id} and the write routes' answers. */
#ifndef CLONE_JOBS_ITEM_READ_H
#define CLONE_JOBS_ITEM_READ_H

#include <stddef.h>
#include <json-c/json.h>

#include "http.h"
#include "stats.h"
#include "store.h"

/* A stored item (DynamoDB form) as plain JSON (caller owns), or NULL after replying 500. */
json_object *item_read_plain(struct request_stats *st, struct http_response *resp, json_object *item_av);

/* Fetch one item by cloneID (consistent read). Returns 1 found (*item_av owned), 0 missing, -1 after
 * replying (503, 500). */
int item_read_fetch(struct store *s, struct http_response *resp, const char *id, size_t len,
                    json_object **item_av);

/* Answer status with the stored item as plain JSON and its ETag. */
void item_read_reply(struct request_stats *st, struct http_response *resp, int status, json_object *item_av);

/* Fetch and answer 200 with the item, or 404 ({"Message"} when capital). */
void item_read_get_and_reply(struct store *s, struct http_response *resp, const char *id, size_t len,
                             int capital);

#endif
