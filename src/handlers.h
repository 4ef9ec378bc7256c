/* handlers.h — the route handlers (part 1: the tutorial's API, part 2: the resource API) and what they share:
 * replies, body and key checks, server-managed attributes, If-Match, expression building and the locked write. */
#ifndef CLONE_JOBS_HANDLERS_H
#define CLONE_JOBS_HANDLERS_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "buf.h"
#include "ddb.h"
#include "http.h"
#include "router.h"
#include "worker.h"

/* Server-managed attributes, kept on every write; clients' own values for them are ignored. */
#define ATTR_CREATED "createdAt"
#define ATTR_UPDATED "updatedAt"
#define ATTR_VERSION "version"
#define CLONE_ID_MAX 1024
/* How often a read-then-write without If-Match tries when other writes get in between, and the ceiling
 * of the random pause before the next try (doubled each time), so racing writers spread apart. */
#define WRITE_ATTEMPTS 8
#define WRITE_BACKOFF_MS 4

#define HANDLER(name) void name(struct worker *w, const struct http_request *req, \
                                const struct route_match *m, struct http_response *resp)
#define ROUTE(method, path, handler) HANDLER(handler);
#include "routes.def"
#undef ROUTE

/* Replies. Each sets the status, the {"message": ...} body and the log outcome. */
void reply_message(struct worker *w, struct http_response *resp, int status, const char *outcome,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void reply_internal(struct worker *w, struct http_response *resp, const char *detail);
/* A failed DynamoDB call: 503 (+Retry-After) for throttling, unreachable or a missing table, 400 for a
 * request DynamoDB refused (the item too large, ...), 500 otherwise. */
void reply_ddb_failure(struct worker *w, struct http_response *resp, const struct ddb_result *r);
/* status and body (borrowed); a failure to serialize becomes a 500. */
void reply_json(struct worker *w, struct http_response *resp, int status, json_object *body);
void reply_not_found(struct worker *w, struct http_response *resp, const char *field, const char *id,
                     int capital_message);

/* Add value (consumed, even on failure) under key; -1 when value is NULL or out of memory. */
int json_add(json_object *o, const char *key, json_object *value);

/* The request body as a JSON object (caller owns *out); otherwise a 400 is replied and -1 returned. */
int body_object(struct worker *w, const struct http_request *req, struct http_response *resp,
                json_object **out);

/* Reject a body whose values DynamoDB cannot hold (numbers out of range...) before any call:
 * 0, or -1 after replying 400. */
int check_item_values(struct worker *w, struct http_response *resp, json_object *body);
/* status with the stored item (plain JSON) and its ETag. */
void reply_item(struct worker *w, struct http_response *resp, int status, json_object *item_av);
/* GetItem (consistent) and answer 200 with the item or 404 ({"Message"} when capital). 0, or -1 after a
 * failure reply. */
int get_and_reply(struct worker *w, struct http_response *resp, const char *id, size_t len, int capital);

/* NULL when s[0..len) is a usable key value, else why not (for a 400). */
const char *clone_id_problem(const char *s, size_t len);
/* A JSON member that must be a usable key value: its text (borrowed) or NULL after replying 400. */
const char *clone_id_member(struct worker *w, struct http_response *resp, json_object *body,
                            const char *field, int required, size_t *len);
/* {key_attribute: {"S": id}} (caller owns), or NULL when out of memory. */
json_object *key_of(const struct worker *w, const char *id, size_t len);
/* The key of a stored item (borrowed attribute values, new map), or NULL. */
json_object *key_of_item(const struct worker *w, json_object *item_av);

/* The version of a stored item (0 when it has none, or one that is not a plain integer). */
int64_t item_version(json_object *item_av);
/* The stored item as plain JSON (caller owns), or NULL after replying 500. */
json_object *item_plain(struct worker *w, struct http_response *resp, json_object *item_av);
int set_etag(struct http_response *resp, int64_t version);
int is_server_attribute(const char *name);

/* If-Match: "*", or a list of entity tags ("3", W/"3"). */
#define IF_MATCH_MAX_TAGS 32
struct if_match {
    int present;
    int any;
    size_t count;
    char tags[IF_MATCH_MAX_TAGS][24]; /* the opaque parts; longer ones can never match and are dropped */
};
/* Parse the request's If-Match (absent: present = 0). Returns 0, or -1 after replying 400. */
int if_match_read(struct worker *w, const struct http_request *req, struct http_response *resp,
                  struct if_match *im);
/* Does it hold for an item that exists (or not) with this version? */
int if_match_holds(const struct if_match *im, int exists, int64_t version);

/* Expressions: attribute names become #n0, #n1...; values :v0, :v1..., so no input reaches the text. */
struct expr_builder {
    json_object *names;
    json_object *values;
    int name_count;
    int value_count;
    int failed;
};
void eb_init(struct expr_builder *eb);
void eb_free(struct expr_builder *eb);
/* The placeholder for an attribute name ("#n0"), reused for a name seen before. */
const char *eb_name(struct expr_builder *eb, const char *name, char out[16]);
/* The placeholder for a value (reference taken). */
const char *eb_value(struct expr_builder *eb, json_object *av, char out[16]);
/* Fill e's names and values (NULL when none were used). */
void eb_apply(struct expr_builder *eb, struct ddb_expr *e);

/* A write that reads the item, builds the new one and writes it only if the item is still as read. */
enum write_mode { WRITE_REPLACE, WRITE_MERGE };
struct write_request {
    enum write_mode mode;
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
int write_item(struct worker *w, const struct write_request *wr, struct write_result *result,
               struct http_response *resp);

/* RFC 7396 JSON Merge Patch of patch onto target (a plain JSON object, modified in place).
 * Returns 0 or -1 when out of memory. */
int merge_patch(json_object *target, json_object *patch);

#endif
