/* cursor.h — opaque pagination cursors for GET /clones: where the listing stopped, signed with HMAC-SHA256.
 * A client can hand a cursor back but cannot forge, alter, or move it to another table or status filter. */
#ifndef CLONE_JOBS_CURSOR_H
#define CLONE_JOBS_CURSOR_H

#include <stddef.h>
#include <json-c/json.h>

/* Longest cursor accepted; one made for a 1024-byte key is far below this. */
#define CURSOR_MAX_TEXT 16384

struct cursor_scope {
    const unsigned char *secret;
    size_t secret_len;
    const char *table;
    const char *status; /* the status= filter the listing uses, or NULL */
};

/* Make a cursor for resuming after start_key (a DynamoDB key: attribute name -> attribute value).
 * Returns a new string (caller frees), or NULL when out of memory or OpenSSL fails. */
char *cursor_encode(const struct cursor_scope *scope, json_object *start_key);

/* What cursor_decode returns when it could not tell, for want of memory (a 500, not "invalid cursor"). */
#define CURSOR_NO_MEMORY (-2)

/* Check and open a cursor made by cursor_encode with the same secret, table and status filter.
 * Returns 0 and the key (caller owns it), CURSOR_NO_MEMORY, or -1 for anything else: tampered,
 * truncated, foreign, another filter, or not a cursor at all. */
int cursor_decode(const struct cursor_scope *scope, const char *text, json_object **start_key);

#endif
