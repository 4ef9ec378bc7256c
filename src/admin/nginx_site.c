/* nginx_site.c — renders the gateway's nginx site configuration from the worker's route table.
 * Each path gets one location: route check, preflight, key check and per-plan limits, in that order. */
#include "config.h"

#include "nginx_site.h"

#include "conf.h"

#include <stdio.h>
#include <string.h>

#define MAX_PATHS 64

/* Characters that are safe inside an unquoted nginx token and a double-quoted string alike. */
#define NGINX_MAX_FAILS "2"
#define NGINX_FAIL_TIMEOUT "10s"

static int safe_value(const char *v)
{
    if (!v || !*v)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"'`;{}$\\#", *p))
            return 0;
    return 1;
}

/* HOST:PORT words separated by single spaces (fastcgi_servers). */
static int safe_value_words(const char *v)
{
    for (const char *w = v; *w;) {
        size_t n = strcspn(w, " ");
        if (!conf_host_port_valid(w, n) || (w[n] == ' ' && w[n + 1] == '\0'))
            return 0;
        w += n + (w[n] == ' ');
    }
    return 1;
}

/* A DNS name, an IPv4 address or a bracketed IPv6 address: it becomes the host of the https redirect. */
static int safe_host(const char *h)
{
    if (!h || !*h || strlen(h) > 253)
        return 0;
    if (h[0] == '[') {
        size_t n = strlen(h);
        return n > 2 && h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
    }
    return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(h) &&
           h[0] != '.' && h[0] != '-';
}

/* Names such as "limit cursor": letters, digits, '_', '-' and '.', single spaces between. */
int nginx_site_word_list_valid(const char *s)
{
    int in_word = 0;
    for (; *s; s++) {
        if (*s == ' ') {
            if (!in_word)
                return 0;
            in_word = 0;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                   *s == '_' || *s == '-' || *s == '.') {
            in_word = 1;
        } else {
            return 0;
        }
    }
    return in_word;
}

/* The same rule as the worker's stage setting: "" or /segments of [A-Za-z0-9-._~]. */
static int safe_stage(const char *stage)
{
    if (!*stage)
        return 1;
    size_t len = strlen(stage);
    if (stage[0] != '/' || len < 2 || stage[len - 1] == '/' || strstr(stage, "//"))
        return 0;
    for (const char *p = stage + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-._~/", *p)))
            return 0;
    return 1;
}

/* Append text to a regex, escaping the one metacharacter the allowed path characters have. */
static int append_regex_literal(struct buf *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (buf_append(out, text[i] == '.' ? "\\." : &text[i], text[i] == '.' ? 2 : 1) != 0)
            return -1;
    return 0;
}

static int safe_method(const char *m)
{
    if (!*m || strlen(m) > 16)
        return 0;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return 0;
    return 1;
}

/* Route paths: "/a/b/{name}" with segments of [A-Za-z0-9._-] or one {name}. */
static int safe_path(const char *p)
{
    if (p[0] != '/')
        return 0;
    for (const char *s = p; *s; s++) {
        if (*s == '{') {
            const char *end = strchr(s, '}');
            if (!end || s[-1] != '/' || (end[1] != '\0' && end[1] != '/'))
                return 0;
            s = end;
            continue;
        }
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("/-_.", *s)))
            return 0;
    }
    return 1;
}

/* The location line for a path: exact match, or an anchored regex when it has {name} segments. */
/* The location line for a path: exact match, or an anchored regex when it has {name} segments.
 * A {name} segment may hold an encoded slash, which nginx has decoded in the URI it matches locations
 * against, so the regex takes anything there and raw_path_check (on the undecoded URI) does the real check. */
static int render_location_line(struct buf *out, const char *stage, const char *path)
{
    if (!strchr(path, '{'))
        return buf_printf(out, "    location = %s%s {\n", stage, path);
    /* (?s): an encoded newline in the ID must reach the worker, which refuses it with a 400 as every
     * route does, instead of falling through to "no such route". */
    if (buf_append_str(out, "    location ~ \"(?s)^") != 0 || append_regex_literal(out, stage, strlen(stage)) != 0)
        return -1;
    for (const char *s = path; *s; s++) {
        if (*s == '{') {
            s = strchr(s, '}');
            if (buf_append_str(out, ".+") != 0)
                return -1;
        } else if (append_regex_literal(out, s, 1) != 0) {
            return -1;
        }
    }
    return buf_append_str(out, "$\" {\n");
}

/* For {name} paths: the raw request URI must have exactly one segment there, or it is not a route. */
static int raw_path_check(struct buf *out, const char *stage, const char *path)
{
    if (!strchr(path, '{'))
        return 0;
    if (buf_append_str(out, "        if ($request_uri !~ \"^") != 0 ||
        append_regex_literal(out, stage, strlen(stage)) != 0)
        return -1;
    for (const char *s = path; *s; s++) {
        if (*s == '{') {
            s = strchr(s, '}');
            if (buf_append_str(out, "[^/?]+") != 0)
                return -1;
        } else if (append_regex_literal(out, s, 1) != 0) {
            return -1;
        }
    }
    return buf_append_str(out, "(\\?.*)?$\") { return 461; }\n");
}

static int render_routes(struct buf *out, const struct nginx_site_params *p,
                         const struct nginx_route *routes, size_t count, char *err, size_t errlen)
{
    const char *paths[MAX_PATHS];
    size_t path_count = 0;
    for (size_t i = 0; i < count; i++) {
        if (!safe_path(routes[i].path) || !safe_method(routes[i].method)) {
            snprintf(err, errlen, "route %s %s: not a usable method or path", routes[i].method,
                     routes[i].path);
            return -1;
        }
        size_t j = 0;
        while (j < path_count && strcmp(paths[j], routes[i].path) != 0)
            j++;
        if (j == path_count) {
            if (path_count == MAX_PATHS) {
                snprintf(err, errlen, "more than %d route paths", MAX_PATHS);
                return -1;
            }
            paths[path_count++] = routes[i].path;
        }
    }
    for (size_t j = 0; j < path_count; j++) {
        char methods[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(routes[i].path, paths[j]) != 0 || strcmp(routes[i].method, "OPTIONS") == 0)
                continue;
            int n = snprintf(methods + used, sizeof methods - used, "%s%s", used ? "|" : "",
                             routes[i].method);
            if (n < 0 || (size_t)n >= sizeof methods - used) {
                snprintf(err, errlen, "too many methods on %s", paths[j]);
                return -1;
            }
            used += (size_t)n;
        }
        char allowed[300];
        snprintf(allowed, sizeof allowed, "%s", methods);
        for (char *c = allowed; *c; c++)
            if (*c == '|')
                *c = ',';
        if (render_location_line(out, p->stage, paths[j]) != 0 ||
            raw_path_check(out, p->stage, paths[j]) != 0 ||
            buf_printf(out,
                       "        set $route_methods \"%s,OPTIONS\";\n"
                       "        # HTTP/2 with a connection-specific header is malformed (RFC 9113 8.2.2).\n"
                       "        if ($clone_jobs_h2_malformed) { return 400; }\n"
                       "        # Preflight needs no key: browsers cannot send one.\n"
                       "        if ($request_method = OPTIONS) { return 462; }\n"
                       "        if ($request_method !~ ^(%s)$) { return 461; }\n"
                       "        if ($api_client = \"\") { return 463; }\n"
                       "        include %s/plan-limits.conf;\n"
                       "        include %s;\n"
                       "        fastcgi_param CLONE_JOBS_REQUEST_ID $amzn_request_id;\n"
                       "        fastcgi_param CLONE_JOBS_CLIENT $api_client;\n"
                       "        fastcgi_param CLONE_JOBS_PLAN $api_plan;\n"
                       "        fastcgi_param CLONE_JOBS_QUOTA $api_quota;\n"
                       "        # The worker never sees any key, its client's included.\n"
                       "        fastcgi_param HTTP_X_API_KEY \"\";\n"
                       "        fastcgi_hide_header x-amzn-RequestId;\n"
                       "        fastcgi_hide_header Access-Control-Allow-Origin;\n"
                       "        fastcgi_hide_header Access-Control-Allow-Headers;\n"
                       "        fastcgi_hide_header Access-Control-Allow-Methods;\n"
                       "        fastcgi_hide_header Access-Control-Expose-Headers;\n"
                       "        fastcgi_connect_timeout 5s;\n"
                       "        fastcgi_send_timeout %lds;\n"
                       "        fastcgi_read_timeout %lds;\n"
                       "%s"
                       "        # Another pool (fastcgi_servers) when one cannot be reached or times out. nginx never passes a\n"
                       "        # non-idempotent request (POST, PATCH) to the next server once it was sent: that would need\n"
                       "        # non_idempotent, which is not given.\n"
                       "        fastcgi_next_upstream error timeout;\n"
                       "        fastcgi_pass clone_jobs_workers;\n"
                       "    }\n",
                       allowed, methods, p->keys_dir, p->fastcgi_params, p->timeout_seconds,
                       p->timeout_seconds,
                       p->fastcgi_keepalive > 0 ? "        fastcgi_keep_conn on;\n" : "") != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* The upstream's servers: fastcgi_servers' HOST:PORT words with passive health checks, else fastcgi_socket alone:
 * HOST:PORT when it is one, else a unix socket's path. */
static int render_upstream_servers(struct buf *out, const struct nginx_site_params *p)
{
    if (!p->servers || !*p->servers) {
        int tcp = !strchr(p->socket, '/') && conf_host_port_valid(p->socket, strlen(p->socket));
        return buf_printf(out, "server %s%s;", tcp ? "" : "unix:", p->socket);
    }
    if (buf_append_str(out, "# A pool that fails " NGINX_MAX_FAILS " times is left alone for " NGINX_FAIL_TIMEOUT
                            " (passive health check).") != 0)
        return -1;
    for (const char *w = p->servers; *w;) {
        size_t n = strcspn(w, " ");
        if (buf_printf(out, "\n    server %.*s max_fails=" NGINX_MAX_FAILS " fail_timeout=" NGINX_FAIL_TIMEOUT ";",
                       (int)n, w) != 0)
            return -1;
        w += n + (w[n] == ' ');
    }
    return 0;
}

int nginx_site_render(const char *template_text, const struct nginx_site_params *p,
                      const struct nginx_route *routes, size_t route_count, struct buf *out,
                      char *err, size_t errlen)
{
    const struct {
        const char *name;
        const char *value;
    } values[] = {
        {"LISTEN", p->listen},         {"CERT", p->cert},
        {"CERT_KEY", p->cert_key},     {"SOCKET", p->socket},
        {"KEYS_DIR", p->keys_dir},     {"ACCESS_LOG", p->access_log},
        {"FASTCGI_PARAMS", p->fastcgi_params}, {"CORS_ORIGIN", p->cors_origin},
        {"SERVER_NAME", p->server_name}, {"GATEWAY_JS", p->gateway_js},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        if (!safe_value(values[i].value)) {
            snprintf(err, errlen, "%s: missing, or has characters nginx would misread: %s",
                     values[i].name, values[i].value ? values[i].value : "(none)");
            return -1;
        }
    }
    if (p->servers && *p->servers && (!safe_value_words(p->servers))) {
        snprintf(err, errlen, "fastcgi_servers: must be HOST:PORT words separated by single spaces: %s", p->servers);
        return -1;
    }
    if (!safe_host(p->server_name)) {
        snprintf(err, errlen, "server_name %s: must be a host name or an IP address", p->server_name);
        return -1;
    }
    if (!p->log_query_params || !nginx_site_word_list_valid(p->log_query_params)) {
        snprintf(err, errlen, "the logged query parameters must be words separated by single spaces");
        return -1;
    }
    if (!safe_stage(p->stage)) {
        snprintf(err, errlen, "stage %s: must be empty or / followed by letters, digits, - or _",
                 p->stage);
        return -1;
    }
    if (p->timeout_seconds < 1 || p->timeout_seconds > 3600 || p->max_body_bytes < 1 || p->fastcgi_keepalive < 0 ||
        p->fastcgi_keepalive > 1024) {
        snprintf(err, errlen, "timeout must be 1..3600 s, the body limit positive and the keepalive 0..1024");
        return -1;
    }
    for (const char *s = template_text; *s;) {
        const char *at = strchr(s, '@');
        if (!at) {
            if (buf_append_str(out, s) != 0)
                goto oom;
            break;
        }
        if (buf_append(out, s, (size_t)(at - s)) != 0)
            goto oom;
        /* Our names are capitals and underscores; nginx's own @named locations are lowercase. */
        size_t name_len = strspn(at + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
        const char *end = at[1 + name_len] == '@' ? at + 1 + name_len : NULL;
        int replaced = 0;
        if (end && name_len > 0 && name_len < 32) {
            char name[32];
            memcpy(name, at + 1, name_len);
            name[name_len] = '\0';
            if (strcmp(name, "ROUTES") == 0) {
                if (render_routes(out, p, routes, route_count, err, errlen) != 0)
                    return -1;
                replaced = 1;
            } else if (strcmp(name, "TIMEOUT") == 0) {
                replaced = buf_printf(out, "%lds", p->timeout_seconds) == 0 ? 1 : -1;
            } else if (strcmp(name, "UPSTREAM_KEEPALIVE") == 0) {
                /* nginx closes its kept connections itself, soon: a stopping worker waits for that rather than
                 * close one under a request nginx is sending (src/worker/fcgi_server.c). */
                replaced = (p->fastcgi_keepalive > 0 ? buf_printf(out, "keepalive %ld;\n    keepalive_timeout 2s;\n"
                                                                       "    keepalive_time 5s;",
                                                                  p->fastcgi_keepalive)
                                                      : buf_append_str(out, "# no kept connections (fastcgi_keepalive = 0)")) == 0
                               ? 1
                               : -1;
            } else if (strcmp(name, "UPSTREAM_SERVERS") == 0) {
                replaced = render_upstream_servers(out, p) == 0 ? 1 : -1;
            } else if (strcmp(name, "LOG_QUERY_PARAMS") == 0) {
                replaced = buf_append_str(out, p->log_query_params) == 0 ? 1 : -1;
            } else if (strcmp(name, "MAX_BODY") == 0) {
                replaced = buf_printf(out, "%ld", p->max_body_bytes) == 0 ? 1 : -1;
            } else {
                for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
                    if (strcmp(name, values[i].name) == 0)
                        replaced = buf_append_str(out, values[i].value) == 0 ? 1 : -1;
            }
            if (replaced < 0)
                goto oom;
        }
        if (replaced) {
            s = end + 1;
        } else {
            /* Not one of ours (nginx itself has no @ syntax except named locations): keep it. */
            if (buf_append(out, "@", 1) != 0)
                goto oom;
            s = at + 1;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}
