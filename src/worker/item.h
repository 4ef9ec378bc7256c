/* item.h — what an item is made of: the cloneID rule, the server-managed attributes, and building the item
 * a write stores (a replacement, or a JSON Merge Patch onto the stored one). Pure: no store, no reply. */
#ifndef CLONE_JOBS_ITEM_H
#define CLONE_JOBS_ITEM_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Server-managed attributes, kept on every write; clients' own values for them are ignored. */
#define ATTR_CREATED "createdAt"
#define ATTR_UPDATED "updatedAt"
#define ATTR_VERSION "version"
#define CLONE_ID_MAX 1024

/* NULL when s[0..len) is a usable cloneID, else why not (for a 400 "cloneID <why>").
 * A usable ID is 1..1024 bytes of UTF-8 without control characters (U+0000-U+001F, U+007F), and none of
 * its '/'-separated segments is "." or "..": every ID that can be stored is then reachable at its
 * Location (/clones/ + the percent-encoded ID), which a web server would otherwise refuse or resolve
 * to another path. */
const char *clone_id_problem(const char *s, size_t len);

int item_is_server_attribute(const char *name);

enum item_mode {
    ITEM_REPLACE,  /* the body is the new item */
    ITEM_MERGE,    /* the body is a JSON Merge Patch onto the stored item */
};

/* The item to store, as plain JSON (caller owns), or NULL when out of memory: the body (replace) or
 * stored_plain with the body merged in (merge; stored_plain NULL is an empty item), with the key attribute
 * set to id and createdAt (kept from stored_av when it has one, else now), updatedAt = now and
 * version set. The body's own server-managed attributes are ignored; in a merge, so is its key attribute. */
json_object *item_build(enum item_mode mode, json_object *body, const char *key_attribute, const char *id,
                        size_t id_len, json_object *stored_av, json_object *stored_plain, const char *now,
                        int64_t version);

/* RFC 7396 JSON Merge Patch of patch onto target (a plain JSON object, changed in place). 0, or -1. */
int item_merge_patch(json_object *target, json_object *patch);

#endif
