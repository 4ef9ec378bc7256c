/* nginx_site.h — renders the gateway's nginx site configuration from the worker's route table.
 * The template (nginx/clone-jobs-site.conf.in) holds the fixed parts; the route locations are generated. */
#ifndef CLONE_JOBS_NGINX_SITE_H
#define CLONE_JOBS_NGINX_SITE_H

#include <stddef.h>

#include "buf.h"

struct nginx_route {
    const char *method; /* "GET" */
    const char *path;   /* "/clones/{cloneID}": a {name} segment matches one path segment */
};

struct nginx_site_params {
    const char *listen;          /* "127.0.0.1:8443" */
    const char *cert;            /* PEM certificate chain */
    const char *cert_key;        /* PEM private key */
    const char *socket;          /* the workers' FastCGI socket: a unix path, or HOST:PORT */
    const char *servers;         /* "" or NULL: socket alone; else HOST:PORT words, the pools (fastcgi_servers) */
    const char *keys_dir;        /* where clone-jobs-admin writes the key, plan and zone files */
    const char *access_log;      /* JSON access log file */
    const char *fastcgi_params;  /* nginx's fastcgi_params file */
    const char *cors_origin;     /* "*" or an origin */
    const char *server_name;     /* the public host name: nginx's server_name and the https redirect's host */
    const char *gateway_js;      /* nginx/clone-jobs-gateway.js as installed */
    const char *log_query_params;/* the query parameters the access log may show, space-separated */
    const char *stage;           /* "" or "/prod" */
    long timeout_seconds;        /* integration timeout: 504 after it (API Gateway: 29) */
    long max_body_bytes;         /* 413 above it (API Gateway: 10 MiB) */
    long fastcgi_keepalive;      /* idle connections each nginx worker keeps to the pool (0: a new one each time) */
};

/* Render template_text with params and routes into out. Values that could break out of nginx's
 * syntax (quotes, braces, semicolons, blanks, control characters) are refused.
 * Returns 0, or -1 with a message in err. */
int nginx_site_render(const char *template_text, const struct nginx_site_params *params,
                      const struct nginx_route *routes, size_t route_count, struct buf *out,
                      char *err, size_t errlen);

/* 1 when s is words of [A-Za-z0-9_.-] separated by single spaces (the form of log_query_params). */
int nginx_site_word_list_valid(const char *s);

#endif
