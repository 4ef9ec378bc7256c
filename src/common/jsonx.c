/* jsonx.c — json_add: a member added, or the value released, so no caller leaks on an error path.
 * See jsonx.h for why this wraps json_object_object_add. */
#include "config.h"

#include "jsonx.h"

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

int json_add_null(json_object *o, const char *key)
{
    return o && json_object_object_add(o, key, NULL) == 0 ? 0 : -1;
}
