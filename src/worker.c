/* worker.c — the worker's context and the life of one request: parse, route, check limits, handle, answer, log.
 * Every path through worker_serve ends in exactly one response and one log line. */
#include "config.h"

#include "worker.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "log.h"
#include "router.h"
#include "text.h"

#define CORS_ALLOW_HEADERS "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token"
/* Without this a browser's script cannot read the ETag it needs for If-Match, nor Location. */
#define CORS_EXPOSE_HEADERS "ETag,Location,x-amzn-RequestId,x-amzn-ErrorType,Retry-After"
#define FIXED_500 "{\"message\":\"Internal server error\"}"

int worker_init(struct worker *w, const struct conf *conf, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->conf = conf;
    struct aws_settings settings;
    if (aws_settings_load(&settings, conf->profile[0] ? conf->profile : NULL,
                          conf->region[0] ? conf->region : NULL, conf->endpoint[0] ? conf->endpoint : NULL,
                          err, errlen) != 0)
        return -1;
    struct ddb_options o;
    ddb_options_default(&o);
    o.connect_timeout_ms = conf->ddb_connect_timeout_ms;
    o.attempt_timeout_ms = conf->ddb_attempt_timeout_ms;
    o.max_attempts = conf->ddb_max_attempts;
    o.max_total_ms = conf->ddb_max_total_ms;
    w->ddb = ddb_client_new(&o, &settings, err, errlen);
    if (!w->ddb)
        return -1;
    w->quota = quota_state_new(NULL);
    if (!w->quota) {
        snprintf(err, errlen, "out of memory for the quota state");
        ddb_client_free(w->ddb);
        w->ddb = NULL;
        return -1;
    }
    size_t secret_len = strlen(conf->cursor_secret);
    if (secret_len) {
        w->cursor_key_len = secret_len < sizeof w->cursor_key ? secret_len : sizeof w->cursor_key;
        memcpy(w->cursor_key, conf->cursor_secret, w->cursor_key_len);
    } else {
        if (RAND_bytes(w->cursor_key, 32) != 1) {
            snprintf(err, errlen, "could not make a random cursor key");
            quota_state_free(w->quota);
            ddb_client_free(w->ddb);
            memset(w, 0, sizeof *w);
            return -1;
        }
        w->cursor_key_len = 32;
        log_message(conf->log_level, LOG_WARN, NULL,
                    "cursor_secret is not set: using a random key, so pagination cursors only work on this "
                    "worker process; set cursor_secret for a pool");
    }
    return 0;
}

void worker_free(struct worker *w)
{
    if (w->quota && w->ddb) {
        /* Unspent leased tokens go back, so a restart does not shrink anyone's quota. */
        int lost = quota_release(w->quota, w->ddb, w->conf->usage_table, time(NULL));
        if (lost)
            log_message(w->conf->log_level, LOG_WARN, NULL,
                        "%d quota leases could not be returned; their unspent requests are lost for the period",
                        lost);
    }
    quota_state_free(w->quota);
    ddb_client_free(w->ddb);
    memset(w, 0, sizeof *w);
}

void worker_account(struct worker *w, const struct ddb_result *r)
{
    w->stats.ddb_ms += r->elapsed_ms;
    w->stats.ddb_calls++;
    if (r->attempts > 1)
        w->stats.ddb_retries += r->attempts - 1;
}

void worker_outcome(struct worker *w, const char *outcome, const char *detail_fmt, ...)
{
    snprintf(w->stats.outcome, sizeof w->stats.outcome, "%s", outcome);
    va_list ap;
    va_start(ap, detail_fmt);
    int n = vsnprintf(w->stats.detail, sizeof w->stats.detail, detail_fmt, ap);
    va_end(ap);
    if (n < 0)
        w->stats.detail[0] = '\0';
}

enum ddb_outcome wk_get(struct worker *w, json_object *key, struct ddb_result *r)
{
    /* Consistent reads: an ETag or a read-then-write must see the latest version. */
    enum ddb_outcome o = ddb_get_item(w->ddb, w->conf->table, key, 1, r);
    worker_account(w, r);
    return o;
}

enum ddb_outcome wk_put(struct worker *w, json_object *item, const struct ddb_expr *e,
                        const char *return_values, struct ddb_result *r)
{
    enum ddb_outcome o = ddb_put_item(w->ddb, w->conf->table, item, e, return_values, r);
    worker_account(w, r);
    return o;
}

enum ddb_outcome wk_update(struct worker *w, json_object *key, const struct ddb_expr *e,
                           const char *return_values, struct ddb_result *r)
{
    enum ddb_outcome o = ddb_update_item(w->ddb, w->conf->table, key, e, return_values, r);
    worker_account(w, r);
    return o;
}

enum ddb_outcome wk_delete(struct worker *w, json_object *key, const struct ddb_expr *e,
                           const char *return_values, struct ddb_result *r)
{
    enum ddb_outcome o = ddb_delete_item(w->ddb, w->conf->table, key, e, return_values, r);
    worker_account(w, r);
    return o;
}

enum ddb_outcome wk_scan(struct worker *w, const struct ddb_page *p, const struct ddb_expr *e,
                         struct ddb_result *r)
{
    enum ddb_outcome o = ddb_scan(w->ddb, w->conf->table, p, e, r);
    worker_account(w, r);
    return o;
}

enum ddb_outcome wk_describe(struct worker *w, struct ddb_result *r)
{
    enum ddb_outcome o = ddb_describe_table(w->ddb, w->conf->table, r);
    worker_account(w, r);
    return o;
}

/* API Gateway's answer to a path or method outside the route table, so CGI mode answers as the gateway does. */
static void reply_missing_token(struct worker *w, struct http_response *resp, const char *outcome)
{
    reply_message(w, resp, 403, outcome, "Missing Authentication Token");
    if (http_response_header(resp, "x-amzn-ErrorType", "MissingAuthenticationTokenException") != 0)
        resp->status = 500;
}

/* The key's usage-plan quota, counted in DynamoDB. Returns 1 when the request may go on; otherwise the
 * answer is set: 429 Limit Exceeded (API Gateway's body and error type) or 503. */
static int admit_quota(struct worker *w, const struct http_request *req, struct http_response *resp)
{
    long long limit;
    enum quota_period period;
    if (!req->quota[0] || strcmp(req->client, "-") == 0)
        return 1;
    if (quota_parse(req->quota, &limit, &period) != 0) {
        /* The gateway's plan file is wrong: not the client's fault, and not to be served unmetered. */
        reply_internal(w, resp, "unreadable quota from the gateway");
        return 0;
    }
    struct quota_stats qs;
    enum quota_verdict v = quota_admit(w->quota, w->ddb, w->conf->usage_table, req->client, limit, period,
                                       time(NULL), &qs);
    w->stats.ddb_calls += qs.ddb_calls;
    w->stats.ddb_ms += qs.ddb_ms;
    if (v == QUOTA_ADMIT)
        return 1;
    if (v == QUOTA_EXCEEDED) {
        reply_message(w, resp, 429, "quota_exceeded", "Limit Exceeded");
        if (http_response_header(resp, "x-amzn-ErrorType", "LimitExceededException") != 0)
            resp->status = 500;
        return 0;
    }
    worker_outcome(w, "quota_unavailable", "quota lease failed: %s", qs.message);
    if (http_response_message(resp, 503, "service unavailable, retry later") != 0 ||
        http_response_header(resp, "Retry-After", "1") != 0)
        resp->status = 500;
    return 0;
}

static void reply_request_error(struct worker *w, const struct http_request *req, struct http_response *resp)
{
    if (req->error_status == 413) {
        /* The gateway's own body and error type for the same limit. */
        reply_message(w, resp, 413, "too_large", "Request Too Long");
        if (http_response_header(resp, "x-amzn-ErrorType", "RequestTooLongException") != 0)
            resp->status = 500;
        return;
    }
    reply_message(w, resp, req->error_status, "bad_request", "%s", req->error_message);
}

/* Headers every answer carries: the request id, CORS, and the content type. */
static int common_headers(const struct worker *w, const struct http_request *req, struct http_response *resp,
                          const char *allow)
{
    if (http_response_header(resp, "x-amzn-RequestId", req->request_id) != 0 ||
        http_response_header(resp, "Access-Control-Allow-Origin", w->conf->cors_origin) != 0 ||
        http_response_header(resp, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS) != 0 ||
        http_response_header(resp, "Access-Control-Allow-Methods", allow) != 0 ||
        http_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS) != 0)
        return -1;
    if (resp->status != 204 && http_response_header(resp, "Content-Type", "application/json") != 0)
        return -1;
    return 0;
}

int worker_serve(struct worker *w, char *const *envp, const struct http_io *io, int read_to_end)
{
    long started = text_monotonic_ms();
    memset(&w->stats, 0, sizeof w->stats);
    const struct conf *c = w->conf;
    struct http_limits lim = {.max_body_bytes = c->max_body_bytes, .max_header_bytes = c->max_header_bytes};
    struct http_request req;
    struct http_response resp;
    struct route_match m;
    memset(&m, 0, sizeof m);
    snprintf(m.allow, sizeof m.allow, "OPTIONS");
    http_response_init(&resp);

    if (http_request_parse(&req, envp, &lim) != 0) {
        reply_internal(w, &resp, "out of memory while reading the request");
    } else {
        switch (router_match(c->stage, req.path, req.method, &m)) {
        case ROUTE_NO_PATH:
            reply_missing_token(w, &resp, "no_route");
            break;
        case ROUTE_NO_METHOD:
            reply_missing_token(w, &resp, "no_method");
            break;
        case ROUTE_OPTIONS:
            worker_outcome(w, "preflight", "%s", "");
            http_response_empty(&resp, 200);
            break;
        case ROUTE_NO_MEMORY:
            reply_internal(w, &resp, "out of memory while routing");
            break;
        case ROUTE_BAD_PARAM:
            if (req.error_status)
                reply_request_error(w, &req, &resp);
            else
                reply_message(w, &resp, 400, "bad_request", "%s", m.error);
            break;
        case ROUTE_OK:
            if (!req.error_status && http_request_read_body(&req, io, &lim, read_to_end) != 0)
                reply_internal(w, &resp, "out of memory while reading the body");
            else if (req.error_status)
                reply_request_error(w, &req, &resp);
            else if (admit_quota(w, &req, &resp))
                m.route->handler(w, &req, &m, &resp);
            break;
        }
    }
    if (resp.status == 0)
        reply_internal(w, &resp, "the handler gave no answer");
    if (common_headers(w, &req, &resp, m.allow) != 0) {
        /* Out of memory for headers: answer the fixed 500 with what fits. */
        http_response_reset(&resp);
        resp.status = 500;
        worker_outcome(w, "internal", "%s", "out of memory for the response headers");
    }
    if (resp.status >= 500 && resp.status != 503 && !resp.has_body) {
        buf_reset(&resp.body);
        if (buf_append_str(&resp.body, FIXED_500) == 0)
            resp.has_body = 1;
    }
    /* Up to 4 bodies' worth: enough for whatever the web server lets through, bounded all the same. */
    if (req.path)
        http_request_drain_body(&req, io, 4 * c->max_body_bytes, read_to_end);
    int sent = resp.status;
    if (http_response_write(&resp, io) != 0) {
        snprintf(w->stats.detail, sizeof w->stats.detail, "could not write the response: client gone");
        sent = 0;
    }
    log_request(w, &req, &resp, text_monotonic_ms() - started);
    route_match_free(&m);
    http_request_free(&req);
    http_response_free(&resp);
    return sent;
}
