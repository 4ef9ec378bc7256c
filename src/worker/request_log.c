/* request_log.c — builds each request's log line as escaped JSON text (no input can break out of a string)
 * and writes it with one write(2). Secrets are dropped by name and the query by rule. */
#include "config.h"

#include "request_log.h"

#include <string.h>

#include "buf.h"
#include "json_output.h"
#include "jsonx.h"
#include "log.h"
#include "router.h"

/* Headers that carry secrets: never logged, not even at debug level. */
static const char *const secret_headers[] = {
    "x-api-key", "authorization", "proxy-authorization", "cookie", "x-amz-security-token",
};

static int is_secret(const char *name)
{
    for (size_t i = 0; i < sizeof secret_headers / sizeof secret_headers[0]; i++)
        if (strcmp(name, secret_headers[i]) == 0)
            return 1;
    return 0;
}

/* 1 when the raw parameter name name[0..len) is one the routes read. */
static int logged_param(const char *name, size_t len, const char *key_attribute)
{
    if (len == 0)
        return 0;
    if (strlen(key_attribute) == len && memcmp(name, key_attribute, len) == 0)
        return 1;
    for (const char *p = ROUTER_QUERY_PARAMS; *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, name, len) == 0)
            return 1;
        p += n;
        p += *p == ' ';
    }
    return 0;
}

/* The query as logged: the routes' own parameters as sent, every other one (name and value) as "*",
 * because a client may put its API key in the query under any name. The access log does the same. */
static int add_query(json_object *o, const char *qs, const char *key_attribute)
{
    struct buf b;
    buf_init(&b, 0);
    int failed = 0;
    for (const char *p = qs; *qs && !failed;) {
        size_t n = strcspn(p, "&");
        size_t name_len = strcspn(p, "=&");
        if (b.len)
            failed = buf_append(&b, "&", 1) != 0;
        if (!failed)
            failed = logged_param(p, name_len, key_attribute) ? buf_append(&b, p, n) != 0
                                                              : buf_append(&b, "*", 1) != 0;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    int rc = failed ? -1 : log_add_text(o, "query", b.data ? b.data : "", b.len);
    buf_free(&b);
    return rc;
}

static json_object *debug_request(const struct http_request *req, const char *key_attribute)
{
    json_object *r = json_object_new_object();
    json_object *headers = json_object_new_object();
    if (json_add(r, "headers", headers) != 0) {
        json_object_put(r);
        return NULL;
    }
    for (size_t i = 0; i < req->header_count; i++)
        if (!is_secret(req->headers[i].name) &&
            log_add_text(headers, req->headers[i].name, req->headers[i].value, req->headers[i].value_len) != 0)
            break;
    const char *qs = req->query_string ? req->query_string : "";
    size_t body_len = req->body.len;
    size_t shown = body_len > LOG_BODY_MAX ? LOG_BODY_MAX : body_len;
    if (add_query(r, qs, key_attribute) != 0 ||
        log_add_text(r, "body", req->body.data ? req->body.data : "", shown) != 0 ||
        json_add(r, "bodyBytes", json_object_new_int64((int64_t)body_len)) != 0 ||
        json_add(r, "bodyTruncated", json_object_new_boolean(shown < body_len)) != 0) {
        json_object_put(r);
        return NULL;
    }
    return r;
}

void request_log(const struct conf *c, const struct request_stats *st, const struct http_request *req,
                 const struct http_response *resp, long latency_ms)
{
    int status = resp->status ? resp->status : 500;
    enum log_level level = LOG_LEVEL_INFO;
    if (st->error_log || (status >= 500 && status != 503))
        level = LOG_LEVEL_ERROR;
    else if (status == 503)
        level = LOG_LEVEL_WARN;
    if (level < c->log_level)
        return;
    struct buf line;
    buf_init(&line, 0);
    const char *path = req->path ? req->path : "";
    const char *outcome = st->outcome[0] ? st->outcome : "ok";
    int ok = log_text_begin(&line, level) == 0 &&
             log_text_string(&line, "requestId", req->request_id, strlen(req->request_id)) == 0 &&
             log_text_string(&line, "client", req->client, strlen(req->client)) == 0 &&
             log_text_string(&line, "remoteAddr", req->remote_addr, strlen(req->remote_addr)) == 0 &&
             log_text_string(&line, "method", req->method, strlen(req->method)) == 0 &&
             log_text_string(&line, "path", path, strlen(path)) == 0 &&
             log_text_int(&line, "status", status) == 0 && log_text_int(&line, "latencyMs", latency_ms) == 0 &&
             log_text_int(&line, "ddbMs", st->ddb_ms) == 0 && log_text_int(&line, "ddbCalls", st->ddb_calls) == 0 &&
             log_text_int(&line, "ddbRetries", st->ddb_retries) == 0 &&
             log_text_string(&line, "outcome", outcome, strlen(outcome)) == 0;
    if (ok && st->detail[0])
        ok = log_text_string(&line, "detail", st->detail, strlen(st->detail)) == 0;
    if (ok && c->log_level == LOG_LEVEL_DEBUG) {
        json_object *r = debug_request(req, c->key_attribute);
        struct buf text;
        buf_init(&text, 0);
        ok = r && json_output(r, &text) == 0 && log_text_json(&line, "request", text.data, text.len) == 0;
        buf_free(&text);
        json_object_put(r);
    }
    if (ok)
        log_text_emit(&line);
    buf_free(&line);
}
