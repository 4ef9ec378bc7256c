/* item.c — the cloneID rule and the building of stored items: server attributes, replacement, merge patch.
 * Kept pure so the rules are tested without a store (tests/unit/test_item.c). */
#include "config.h"

#include "item.h"

#include <string.h>

#include "jsonx.h"
#include "text.h"

const char *clone_id_problem(const char *s, size_t len)
{
    if (len == 0)
        return "must not be empty";
    if (len > CLONE_ID_MAX)
        return "must be at most 1024 bytes";
    if (!text_utf8_valid(s, len))
        return "must be valid UTF-8";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "must not hold control characters (U+0000 to U+001F, U+007F)";
    for (size_t start = 0; start <= len;) {
        size_t end = start;
        while (end < len && s[end] != '/')
            end++;
        size_t n = end - start;
        if ((n == 1 && s[start] == '.') || (n == 2 && s[start] == '.' && s[start + 1] == '.'))
            return "must not have \".\" or \"..\" as a '/'-separated segment (its URL would resolve elsewhere)";
        start = end + 1;
    }
    return NULL;
}

int item_is_server_attribute(const char *name)
{
    return strcmp(name, ATTR_CREATED) == 0 || strcmp(name, ATTR_UPDATED) == 0 || strcmp(name, ATTR_VERSION) == 0;
}

int item_merge_patch(json_object *target, json_object *patch)
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
            if (item_merge_patch(child, v) != 0) {
                json_object_put(child);
                return -1;
            }
            if (json_add(target, k, child) != 0)
                return -1;
            continue;
        }
        if (json_add(target, k, json_object_get(v)) != 0)
            return -1;
    }
    return 0;
}

/* Copy the body's members into item, leaving out the server-managed ones (and the key, when asked). */
static int copy_client_members(json_object *item, json_object *body, const char *key_attribute, int skip_key)
{
    json_object_object_foreach(body, k, v) {
        if (item_is_server_attribute(k) || (skip_key && strcmp(k, key_attribute) == 0))
            continue;
        /* JSON null is a NULL member in json-c. */
        if (v ? json_add(item, k, json_object_get(v)) != 0 : json_add_null(item, k) != 0)
            return -1;
    }
    return 0;
}

json_object *item_build(enum item_mode mode, json_object *body, const char *key_attribute, const char *id,
                        size_t id_len, json_object *stored_av, json_object *stored_plain, const char *now,
                        int64_t version)
{
    json_object *item = NULL;
    if (mode == ITEM_MERGE) {
        item = stored_plain ? json_object_get(stored_plain) : json_object_new_object();
        json_object *patch = json_object_new_object();
        int failed = !item || !patch || copy_client_members(patch, body, key_attribute, 1) != 0 ||
                     item_merge_patch(item, patch) != 0;
        json_object_put(patch);
        if (failed) {
            json_object_put(item);
            return NULL;
        }
    } else {
        item = json_object_new_object();
        if (!item || copy_client_members(item, body, key_attribute, 0) != 0) {
            json_object_put(item);
            return NULL;
        }
    }
    /* A created time kept by the stored item survives; an item from elsewhere gets one now. */
    const char *created = now;
    json_object *cav = NULL, *cs = NULL;
    if (stored_av && json_object_object_get_ex(stored_av, ATTR_CREATED, &cav) && cav &&
        json_object_object_get_ex(cav, "S", &cs) && json_object_is_type(cs, json_type_string))
        created = json_object_get_string(cs);
    if (json_add(item, key_attribute, json_object_new_string_len(id, (int)id_len)) != 0 ||
        json_add(item, ATTR_CREATED, json_object_new_string(created)) != 0 ||
        json_add(item, ATTR_UPDATED, json_object_new_string(now)) != 0 ||
        json_add(item, ATTR_VERSION, json_object_new_int64(version)) != 0) {
        json_object_put(item);
        return NULL;
    }
    return item;
}
