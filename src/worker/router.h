/* router.h — matches a request's method and path against the one route table (routes.def).
 * Tells "no such path" from "path known, method not" and decodes the {cloneID} segment. */
#ifndef CLONE_JOBS_ROUTER_H
#define CLONE_JOBS_ROUTER_H

#include <stddef.h>

#include "buf.h"

struct handler_context;
struct http_request;
struct http_response;
struct route_match;

typedef void (*route_handler)(struct handler_context *ctx, const struct http_request *req,
                              const struct route_match *m, struct http_response *resp);

struct route {
    const char *method;
    const char *pattern; /* "/clones/{cloneID}": a {name} segment matches one non-empty segment */
    route_handler handler;
};

enum route_result {
    ROUTE_OK,         /* m->route and m->param are set */
    ROUTE_OPTIONS,    /* OPTIONS on a known path: the CORS preflight */
    ROUTE_NO_PATH,    /* no pattern matches (or the stage prefix is missing) */
    ROUTE_NO_METHOD,  /* a pattern matches, but not with this method */
    ROUTE_BAD_PARAM,  /* the {cloneID} segment has a bad %-escape or is not UTF-8: m->error says which */
    ROUTE_NO_MEMORY,
};

struct route_match {
    const struct route *route;
    char *param;          /* the decoded {…} segment, NUL-terminated (owned), or NULL */
    size_t param_len;
    char allow[96];       /* the path's methods plus OPTIONS, "GET,POST,OPTIONS"; "OPTIONS" when none */
    const char *error;
};

/* The query parameters the routes read (GET /clone also reads the key attribute's): logs show only these,
 * because a client may put its API key in the query under any other name. Space-separated. */
#define ROUTER_QUERY_PARAMS "deep limit cursor status"

/* Match method and raw path (as sent, before '?'); stage is "" or "/name" and must prefix the path. */
enum route_result router_match(const char *stage, const char *path, const char *method,
                               struct route_match *m);
void route_match_free(struct route_match *m);

/* The table itself. */
const struct route *router_routes(size_t *count);

/* The table as JSON, [{"method":"GET","path":"/health"},...], appended to out. Returns 0 or -1. */
int router_routes_json(struct buf *out);

#endif
