/* jsonx.h — the one json-c helper every layer needs: add a member and always take ownership of the value.
 * json-c's own json_object_object_add leaves the value to the caller on failure, which every caller forgot. */
#ifndef CLONE_JOBS_JSONX_H
#define CLONE_JOBS_JSONX_H

#include <json-c/json.h>

/* Add value under key (replacing a member of that name). value is consumed, even on failure; a NULL value
 * (what json_object_new_* gives when out of memory) or a NULL o is a failure. Returns 0 or -1.
 * For JSON null, whose json-c form is NULL, use json_add_null. */
int json_add(json_object *o, const char *key, json_object *value);
/* Add key: null. Returns 0 or -1. */
int json_add_null(json_object *o, const char *key);

#endif
