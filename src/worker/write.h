/* write.h — the optimistic-locked write of POST /clone, PUT and merge PATCH: read the item, build the new
 * one, and store it only if the item is still as read (by its version); lost races are retried. */
#ifndef CLONE_JOBS_WRITE_H
#define CLONE_JOBS_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "http.h"
#include "if_match.h"
#include "item.h"
#include "store.h"

/* How often a read-then-write without If-Match tries when other writes get in between, and the ceiling
 * of the random pause before the next try (doubled each time), so racing writers spread apart. */
#define WRITE_ATTEMPTS 8
#define WRITE_BACKOFF_MS 4

struct write_request {
    enum item_mode mode;
    const char *id;
    size_t id_len;
    json_object *body;            /* the replacement item, or the merge patch (borrowed) */
    const struct if_match *if_match;
    int must_exist;               /* 404 when missing (PATCH) */
};

struct write_result {
    int created;
    int64_t version;
    json_object *item;            /* as stored, plain JSON (owned) */
};

/* Returns 0 with result filled, or -1 after replying (400, 404, 409, 412, 503, 500). */
int write_item(struct store *s, const struct write_request *wr, struct write_result *result,
               struct http_response *resp);

/* Delete the item with this ID when If-Match (may be absent) holds: read it, then delete it on the condition
 * that it is still the version read. Returns 0 deleted (*deleted_av: the item as it was, owned), 1 when there
 * is no such item (nothing replied: the route's 404 differs), -1 after replying (412, 409, 503, 500).
 * A delete whose answer was lost, retried, fails its own condition: the read that follows finds the item
 * gone and the delete is reported done (as it would be when another delete got there first). */
int write_delete(struct store *s, const char *id, size_t id_len, const struct if_match *im, json_object **deleted_av,
                 struct http_response *resp);

#endif
