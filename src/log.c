/* log.c — writes the worker's JSON log lines to stderr, each with a single write(2).
 * One write per line keeps lines whole when several workers append to one file (O_APPEND). */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "text.h"
#include "worker.h"

#define JSON_OUT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Headers that carry secrets: never logged, not even at debug level. */
static const char *const secret_headers[] = {
    "x-api-key", "authorization", "proxy-authorization", "cookie", "x-amz-security-token",
};

static int add(json_object *o, const char *key, json_object *v)
{
    if (!v)
        return -1;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* A string member from bytes that may not be UTF-8 (paths, bodies): bad bytes become U+FFFD. */
static int add_text(json_object *o, const char *key, const char *s, size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    if (text_utf8_sanitize(s, len, &b) != 0) {
        buf_free(&b);
        return -1;
    }
    int rc = add(o, key, json_object_new_string_len(b.data ? b.data : "", (int)b.len));
    buf_free(&b);
    return rc;
}

static json_object *line_new(enum log_level level)
{
    char now[25];
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    if (text_now_rfc3339(now) != 0 || add(o, "time", json_object_new_string(now)) != 0 ||
        add(o, "level", json_object_new_string(log_level_name(level))) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static void emit(json_object *line)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(line, JSON_OUT_FLAGS, &len);
    struct buf b;
    buf_init(&b, 0);
    if (text && buf_append(&b, text, len) == 0 && buf_append(&b, "\n", 1) == 0) {
        size_t off = 0;
        while (off < b.len) {
            ssize_t n = write(STDERR_FILENO, b.data + off, b.len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* nowhere left to report a failing log */
            off += (size_t)n;
        }
    }
    buf_free(&b);
}

void log_message(enum log_level threshold, enum log_level level, json_object *extra, const char *fmt, ...)
{
    if (level < threshold)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (n < 0)
        message[0] = '\0';
    json_object *line = line_new(level);
    if (!line)
        return;
    if (add_text(line, "message", message, strlen(message)) == 0 &&
        add(line, "pid", json_object_new_int((int)getpid())) == 0) {
        if (extra) {
            json_object_object_foreach(extra, k, v) {
                if (add(line, k, json_object_get(v)) != 0)
                    break;
            }
        }
        emit(line);
    }
    json_object_put(line);
}

static int is_secret(const char *name)
{
    for (size_t i = 0; i < sizeof secret_headers / sizeof secret_headers[0]; i++)
        if (strcmp(name, secret_headers[i]) == 0)
            return 1;
    return 0;
}

static json_object *debug_request(const struct http_request *req)
{
    json_object *r = json_object_new_object();
    json_object *headers = json_object_new_object();
    if (!r || !headers || add(r, "headers", headers) != 0) {
        json_object_put(r);
        return NULL;
    }
    for (size_t i = 0; i < req->header_count; i++)
        if (!is_secret(req->headers[i].name) &&
            add_text(headers, req->headers[i].name, req->headers[i].value, req->headers[i].value_len) != 0)
            break;
    const char *qs = req->query_string ? req->query_string : "";
    size_t body_len = req->body.len;
    size_t shown = body_len > LOG_BODY_MAX ? LOG_BODY_MAX : body_len;
    if (add_text(r, "query", qs, strlen(qs)) != 0 ||
        add_text(r, "body", req->body.data ? req->body.data : "", shown) != 0 ||
        add(r, "bodyBytes", json_object_new_int64((int64_t)body_len)) != 0 ||
        add(r, "bodyTruncated", json_object_new_boolean(shown < body_len)) != 0) {
        json_object_put(r);
        return NULL;
    }
    return r;
}

void log_request(const struct worker *w, const struct http_request *req, const struct http_response *resp,
                 long latency_ms)
{
    const struct conf *c = w->conf;
    const struct request_stats *st = &w->stats;
    int status = resp->status ? resp->status : 500;
    enum log_level level = LOG_INFO;
    if (st->error_log || (status >= 500 && status != 503))
        level = LOG_ERROR;
    else if (status == 503)
        level = LOG_WARN;
    if (level < c->log_level)
        return;
    json_object *line = line_new(level);
    if (!line)
        return;
    const char *path = req->path ? req->path : "";
    int ok = add(line, "requestId", json_object_new_string(req->request_id)) == 0 &&
             add(line, "client", json_object_new_string(req->client)) == 0 &&
             add(line, "remoteAddr", json_object_new_string(req->remote_addr)) == 0 &&
             add_text(line, "method", req->method, strlen(req->method)) == 0 &&
             add_text(line, "path", path, strlen(path)) == 0 &&
             add(line, "status", json_object_new_int(status)) == 0 &&
             add(line, "latencyMs", json_object_new_int64(latency_ms)) == 0 &&
             add(line, "ddbMs", json_object_new_int64(st->ddb_ms)) == 0 &&
             add(line, "ddbCalls", json_object_new_int(st->ddb_calls)) == 0 &&
             add(line, "ddbRetries", json_object_new_int(st->ddb_retries)) == 0 &&
             add(line, "outcome", json_object_new_string(st->outcome[0] ? st->outcome : "ok")) == 0;
    if (ok && st->detail[0])
        ok = add_text(line, "detail", st->detail, strlen(st->detail)) == 0;
    if (ok && c->log_level == LOG_DEBUG) {
        json_object *r = debug_request(req);
        ok = r && add(line, "request", r) == 0;
    }
    if (ok)
        emit(line);
    json_object_put(line);
}
