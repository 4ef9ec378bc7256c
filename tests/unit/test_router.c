/* test_router.c — the route table and matching: every route, strict paths, stage prefixes, methods and
 * the decoding of the {cloneID} segment. */
#include "config.h"

#include <string.h>

#include "router.h"
#include "tap.h"

static enum route_result match(const char *stage, const char *path, const char *method, struct route_match *m)
{
    route_match_free(m);
    return router_match(stage, path, method, m);
}

int main(void)
{
    struct tap t = {0};
    struct route_match m = {0};
    size_t count = 0;
    const struct route *routes = router_routes(&count);
    tap_ok(&t, count == 11, "eleven routes");
    /* The contract's routes, written out here rather than taken from the table under test. */
    static const struct {
        const char *method, *path, *pattern;
    } want[] = {
        {"GET", "/health", "/health"},
        {"GET", "/clone", "/clone"},
        {"POST", "/clone", "/clone"},
        {"PATCH", "/clone", "/clone"},
        {"DELETE", "/clone", "/clone"},
        {"GET", "/clones", "/clones"},
        {"POST", "/clones", "/clones"},
        {"GET", "/clones/x1", "/clones/{cloneID}"},
        {"PUT", "/clones/x1", "/clones/{cloneID}"},
        {"PATCH", "/clones/x1", "/clones/{cloneID}"},
        {"DELETE", "/clones/x1", "/clones/{cloneID}"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        enum route_result r = match("", want[i].path, want[i].method, &m);
        int ok = r == ROUTE_OK && m.route && m.route->handler && strcmp(m.route->method, want[i].method) == 0 &&
                 strcmp(m.route->pattern, want[i].pattern) == 0 &&
                 (strchr(want[i].pattern, '{') ? m.param && strcmp(m.param, "x1") == 0 : !m.param);
        tap_ok(&t, ok, "%s %s is the route %s %s", want[i].method, want[i].path, want[i].method, want[i].pattern);
        /* Each route has a handler of its own. */
        for (size_t j = 0; ok && j < i; j++) {
            struct route_match other = {0};
            if (router_match("", want[j].path, want[j].method, &other) == ROUTE_OK && other.route &&
                other.route->handler == m.route->handler)
                tap_ok(&t, 0, "%s %s shares its handler with %s %s", want[i].method, want[i].path, want[j].method,
                       want[j].path);
            route_match_free(&other);
        }
    }
    /* And the table holds nothing else. */
    for (size_t i = 0; i < count; i++) {
        size_t j = 0;
        while (j < sizeof want / sizeof want[0] &&
               (strcmp(routes[i].method, want[j].method) != 0 || strcmp(routes[i].pattern, want[j].pattern) != 0))
            j++;
        tap_ok(&t, j < sizeof want / sizeof want[0], "the table's %s %s is a contract route", routes[i].method,
               routes[i].pattern);
    }

    tap_ok(&t, match("", "/clones/a%2Fb%20c", "GET", &m) == ROUTE_OK && m.param_len == 5 &&
                   strcmp(m.param, "a/b c") == 0,
           "the {cloneID} segment is decoded once");
    tap_ok(&t, match("", "/clones/a+b", "GET", &m) == ROUTE_OK && strcmp(m.param, "a+b") == 0,
           "'+' in a path is a plus");
    tap_ok(&t, match("", "/clones/%E2%82%AC", "GET", &m) == ROUTE_OK && strcmp(m.param, "\xE2\x82\xAC") == 0,
           "UTF-8 in the segment");
    tap_ok(&t, match("", "/clones/%zz", "GET", &m) == ROUTE_BAD_PARAM && m.error, "malformed escape");
    tap_ok(&t, match("", "/clones/abc%4", "GET", &m) == ROUTE_BAD_PARAM, "cut escape");
    tap_ok(&t, match("", "/clones/%FF", "GET", &m) == ROUTE_BAD_PARAM, "not UTF-8");
    tap_ok(&t, match("", "/clones/a%00b", "GET", &m) == ROUTE_BAD_PARAM, "NUL");

    tap_ok(&t, match("", "/clones/", "GET", &m) == ROUTE_NO_PATH, "trailing slash: no such path");
    tap_ok(&t, match("", "/clone/", "GET", &m) == ROUTE_NO_PATH, "trailing slash on /clone");
    tap_ok(&t, match("", "/clones//x", "GET", &m) == ROUTE_NO_PATH, "empty segment");
    tap_ok(&t, match("", "/clones/x/y", "GET", &m) == ROUTE_NO_PATH, "extra segment");
    tap_ok(&t, match("", "//clones", "GET", &m) == ROUTE_NO_PATH, "double slash");
    tap_ok(&t, match("", "/Clones", "GET", &m) == ROUTE_NO_PATH, "case matters");
    tap_ok(&t, match("", "", "GET", &m) == ROUTE_NO_PATH, "empty path");
    tap_ok(&t, match("", "clones", "GET", &m) == ROUTE_NO_PATH && strcmp(m.allow, "OPTIONS") == 0,
           "relative path");
    tap_ok(&t, match("", "/clone", "PUT", &m) == ROUTE_NO_METHOD &&
                   strcmp(m.allow, "GET,POST,PATCH,DELETE,OPTIONS") == 0,
           "known path, unknown method; allow lists the path's methods (%s)", m.allow);
    tap_ok(&t, match("", "/clones", "HEAD", &m) == ROUTE_NO_METHOD && strcmp(m.allow, "GET,POST,OPTIONS") == 0,
           "HEAD is not a route");
    tap_ok(&t, match("", "/clones/x", "OPTIONS", &m) == ROUTE_OPTIONS &&
                   strcmp(m.allow, "GET,PUT,PATCH,DELETE,OPTIONS") == 0,
           "OPTIONS on a known path is the preflight (%s)", m.allow);
    tap_ok(&t, match("", "/nope", "OPTIONS", &m) == ROUTE_NO_PATH, "OPTIONS on an unknown path");
    tap_ok(&t, match("", "/health", "GET", &m) == ROUTE_OK && strcmp(m.allow, "GET,OPTIONS") == 0 && !m.param,
           "health has no parameter");

    tap_ok(&t, match("/prod", "/prod/clones", "GET", &m) == ROUTE_OK, "stage prefix stripped");
    tap_ok(&t, match("/prod", "/prod/clones/x%2F", "DELETE", &m) == ROUTE_OK && strcmp(m.param, "x/") == 0,
           "stage and parameter");
    tap_ok(&t, match("/prod", "/clones", "GET", &m) == ROUTE_NO_PATH, "missing stage");
    tap_ok(&t, match("/prod", "/prodx/clones", "GET", &m) == ROUTE_NO_PATH, "stage must be a whole segment");
    tap_ok(&t, match("/prod", "/prod", "GET", &m) == ROUTE_NO_PATH, "the stage alone");
    tap_ok(&t, match("/a/b", "/a/b/health", "GET", &m) == ROUTE_OK, "a two-segment stage");

    struct buf b;
    buf_init(&b, 0);
    tap_ok(&t, router_routes_json(&b) == 0 && strncmp(b.data, "[{\"method\":\"GET\",\"path\":\"/health\"},", 35) == 0 &&
                   strstr(b.data, "{\"method\":\"DELETE\",\"path\":\"/clones/{cloneID}\"}]") != NULL,
           "routes as JSON: %s", b.data ? b.data : "(none)");
    buf_free(&b);
    route_match_free(&m);
    return tap_done(&t);
}
