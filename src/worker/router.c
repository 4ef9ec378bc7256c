/* router.c — the route table (built from routes.def) and the matching of method and path against it.
 * Paths match segment by segment, byte for byte, with no normalisation: "/clones/" is not "/clones". */
#include "config.h"

#include "router.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "text.h"

static const struct route routes[] = {
#define ROUTE(method, path, handler) {#method, path, handler},
#include "routes.def"
#undef ROUTE
};

const struct route *router_routes(size_t *count)
{
    *count = sizeof routes / sizeof routes[0];
    return routes;
}

/* Does path match pattern? On a match, param and param_len give the raw {…} segment (if any). */
static int match_pattern(const char *pattern, const char *path, const char **param, size_t *param_len)
{
    *param = NULL;
    *param_len = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0)
                return 0;
            *param = s;
            *param_len = slen;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    return *p == '\0' && *s == '\0';
}

static void add_allow(struct route_match *m, const char *method)
{
    size_t n = strlen(m->allow);
    /* The same method may appear once per path only; a repeat would be a table mistake. */
    if (n + strlen(method) + 2 < sizeof m->allow) {
        if (n)
            m->allow[n++] = ',';
        memcpy(m->allow + n, method, strlen(method) + 1);
    }
}

enum route_result router_match(const char *stage, const char *path, const char *method,
                               struct route_match *m)
{
    memset(m, 0, sizeof *m);
    size_t stage_len = stage ? strlen(stage) : 0;
    if (!path || path[0] != '/') {
        snprintf(m->allow, sizeof m->allow, "OPTIONS");
        return ROUTE_NO_PATH;
    }
    if (stage_len) {
        if (strncmp(path, stage, stage_len) != 0 || path[stage_len] != '/') {
            snprintf(m->allow, sizeof m->allow, "OPTIONS");
            return ROUTE_NO_PATH;
        }
        path += stage_len;
    }
    const struct route *found = NULL;
    const char *raw = NULL;
    size_t raw_len = 0;
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const char *param;
        size_t param_len;
        if (!match_pattern(routes[i].pattern, path, &param, &param_len))
            continue;
        path_known = 1;
        add_allow(m, routes[i].method);
        if (!found && strcmp(routes[i].method, method) == 0) {
            found = &routes[i];
            raw = param;
            raw_len = param_len;
        }
    }
    add_allow(m, "OPTIONS");
    if (!path_known) {
        snprintf(m->allow, sizeof m->allow, "OPTIONS");
        return ROUTE_NO_PATH;
    }
    if (!found)
        return strcmp(method, "OPTIONS") == 0 ? ROUTE_OPTIONS : ROUTE_NO_METHOD;
    m->route = found;
    if (!raw)
        return ROUTE_OK;
    struct buf b;
    buf_init(&b, 0);
    int decoded = text_percent_decode(raw, raw_len, 0, &b);
    if (decoded != 0) {
        buf_free(&b);
        if (decoded == TEXT_NO_MEMORY)
            return ROUTE_NO_MEMORY;
        m->error = "malformed percent-encoding in the path";
        return ROUTE_BAD_PARAM;
    }
    m->param_len = b.len;
    m->param = buf_steal(&b);
    if (!m->param)
        return ROUTE_NO_MEMORY;
    if (memchr(m->param, '\0', m->param_len)) {
        m->error = "the path segment holds a NUL character";
        return ROUTE_BAD_PARAM;
    }
    if (!text_utf8_valid(m->param, m->param_len)) {
        m->error = "the path segment is not valid UTF-8";
        return ROUTE_BAD_PARAM;
    }
    return ROUTE_OK;
}

void route_match_free(struct route_match *m)
{
    free(m->param);
    m->param = NULL;
}

int router_routes_json(struct buf *out)
{
    json_object *list = json_object_new_array();
    if (!list)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof routes / sizeof routes[0]; i++) {
        json_object *r = json_object_new_object();
        json_object *method = json_object_new_string(routes[i].method);
        json_object *path = json_object_new_string(routes[i].pattern);
        if (!r || !method || !path || json_object_object_add(r, "method", method) != 0) {
            json_object_put(method);
            json_object_put(path);
            json_object_put(r);
            rc = -1;
            break;
        }
        if (json_object_object_add(r, "path", path) != 0) {
            json_object_put(path);
            json_object_put(r);
            rc = -1;
            break;
        }
        if (json_object_array_add(list, r) != 0) {
            json_object_put(r);
            rc = -1;
        }
    }
    if (rc == 0) {
        const char *text = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        rc = text && buf_append_str(out, text) == 0 ? 0 : -1;
    }
    json_object_put(list);
    return rc;
}
