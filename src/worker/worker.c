/* worker.c — the life of one request: parse, route, check limits and quota, hand to the handler, add the
 * common headers, answer, log. Every path through worker_serve ends in exactly one response and one log line. */
#include "config.h"

#include "worker.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "handlers.h"
#include "log.h"
#include "reply.h"
#include "request_log.h"
#include "request_metrics.h"
#include "router.h"

/* API Gateway's console default plus If-Match, so browser code can make conditional writes (contract). */
#define CORS_ALLOW_HEADERS "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,If-Match"
/* Without this a browser's script cannot read the ETag it needs for If-Match, nor Location. */
#define CORS_EXPOSE_HEADERS "ETag,Location,x-amzn-RequestId,x-amzn-ErrorType,Retry-After"
#define FIXED_500 "{\"message\":\"Internal server error\"}"

/* Defined only by the tests' allocation-failure shim (tests/tools/failmalloc.c, preloaded), which starts
 * counting allocations here so a sweep covers the request and not the start-up; NULL otherwise. */
extern void clone_jobs_request_started(void) __attribute__((weak));

int worker_process_init(struct worker_process *p, const struct conf *conf, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->conf = conf;
    ddb_options_from_conf(&p->ddb_options, conf);
    if (aws_settings_load(&p->aws, conf->profile[0] ? conf->profile : NULL, conf->region[0] ? conf->region : NULL,
                          conf->endpoint[0] ? conf->endpoint : NULL, err, errlen) != 0)
        return -1;
    p->credentials = aws_credentials_cache_new(&p->aws, err, errlen);
    if (!p->credentials)
        return -1;
    if (conf->gateway == CONF_GATEWAY_WORKER && !(p->gateway = gateway_state_new(conf, err, errlen))) {
        worker_process_free(p);
        return -1;
    }
    p->quota = quota_state_new(NULL);
    if (!p->quota) {
        snprintf(err, errlen, "out of memory for the quota state");
        worker_process_free(p);
        return -1;
    }
    if (conf->usage_block > 0 && !(p->usage = key_usage_new(conf->usage_block, 1024))) {
        snprintf(err, errlen, "out of memory for the usage state");
        worker_process_free(p);
        return -1;
    }
    size_t secret_len = strlen(conf->cursor_secret);
    if (secret_len) {
        p->cursor_key_len = secret_len < sizeof p->cursor_key ? secret_len : sizeof p->cursor_key;
        memcpy(p->cursor_key, conf->cursor_secret, p->cursor_key_len);
    } else {
        if (RAND_bytes(p->cursor_key, 32) != 1) {
            snprintf(err, errlen, "could not make a random cursor key");
            worker_process_free(p);
            return -1;
        }
        p->cursor_key_len = 32;
        log_message(conf->log_level, LOG_LEVEL_WARN, NULL,
                    "cursor_secret is not set: using a random key, so pagination cursors only work on this "
                    "worker process; set cursor_secret for a pool");
    }
    return 0;
}

void worker_process_free(struct worker_process *p)
{
    if (p->quota && p->credentials) {
        /* Unspent leased tokens go back, so a restart does not shrink anyone's quota. */
        char err[512];
        struct ddb_client *c = ddb_client_new_shared(&p->ddb_options, &p->aws, p->credentials, err, sizeof err);
        int returned = 0;
        int lost = c ? quota_release_counted(p->quota, c, p->conf->usage_table, time(NULL), &returned) : -1;
        if (lost)
            log_message(p->conf->log_level, LOG_LEVEL_WARN, NULL,
                        "%s quota leases could not be returned; their unspent requests are lost for the period",
                        lost < 0 ? "the" : lost == 1 ? "1 of the" : "some");
        /* Usage leases are settled too: unspent requests taken back, owed ones written, so the days are exact. */
        struct key_usage_stats us = {0};
        if (key_usage_release(p->usage, c, p->conf->usage_table, &us) != 0)
            log_message(p->conf->log_level, LOG_LEVEL_WARN, NULL,
                        "some usage counts could not be settled: those keys' days stay within the usage bound");
        metrics_count_leases(metrics_main_thread(p->metrics), 0, returned, 0, us.returned);
        ddb_client_free(c);
    }
    key_usage_free(p->usage);
    quota_state_free(p->quota);
    gateway_state_free(p->gateway);
    aws_credentials_cache_free(p->credentials);
    memset(p, 0, sizeof *p);
}

int worker_init(struct worker *w, struct worker_process *p, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->process = p;
    w->ddb = ddb_client_new_shared(&p->ddb_options, &p->aws, p->credentials, err, errlen);
    if (!w->ddb)
        return -1;
    w->store = (struct store){
        .ddb = w->ddb, .table = p->conf->table, .key_attribute = p->conf->key_attribute, .stats = &w->stats,
    };
    w->metrics = metrics_thread_claim(p->metrics);
    if (w->metrics)
        ddb_client_set_observer(w->ddb, metrics_observe_ddb, w->metrics);
    return 0;
}

void worker_free(struct worker *w)
{
    ddb_client_free(w->ddb);
    memset(w, 0, sizeof *w);
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
        reply_internal(&w->stats, resp, "unreadable quota from the gateway");
        return 0;
    }
    struct quota_stats qs;
    enum quota_verdict v = quota_admit(w->process->quota, w->ddb, w->process->conf->usage_table, req->client, limit,
                                       period, time(NULL), &qs);
    w->stats.ddb_calls += qs.ddb_calls;
    w->stats.ddb_ms += qs.ddb_ms;
    metrics_count_leases(w->metrics, qs.leased > 0, qs.leases_returned, 0, 0);
    if (v == QUOTA_ADMIT)
        return 1;
    if (v == QUOTA_EXCEEDED) {
        reply_gateway_error(&w->stats, resp, 429, "quota_exceeded", "Limit Exceeded", "LimitExceededException");
        return 0;
    }
    reply_outcome(&w->stats, "quota_unavailable", "quota lease failed: %s", qs.message);
    reply_unavailable(resp);
    return 0;
}

static void reply_request_error(struct worker *w, const struct http_request *req, struct http_response *resp)
{
    if (req->error_status == 413) /* the gateway's own body and error type for the same limit */
        reply_gateway_error(&w->stats, resp, 413, "too_large", "Request Too Long", "RequestTooLongException");
    else
        reply_message(&w->stats, resp, req->error_status, "bad_request", "%s", req->error_message);
}

/* Headers every answer carries: the request id, CORS, and the content type. */
static int common_headers(const struct conf *c, const struct http_request *req, struct http_response *resp,
                          const char *allow)
{
    if (http_response_header(resp, "x-amzn-RequestId", req->request_id) != 0 ||
        http_response_header(resp, "Access-Control-Allow-Origin", c->cors_origin) != 0 ||
        http_response_header(resp, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS) != 0 ||
        http_response_header(resp, "Access-Control-Allow-Methods", allow) != 0 ||
        http_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS) != 0)
        return -1;
    if (resp->status != 204 && http_response_header(resp, "Content-Type", "application/json") != 0)
        return -1;
    return 0;
}

/* Route the parsed request and answer it in resp. */
static void dispatch(struct worker *w, struct http_request *req, const struct http_io *io, int read_to_end,
                     const struct http_limits *lim, struct route_match *m, struct http_response *resp)
{
    const struct conf *c = w->process->conf;
    if (w->process->gateway)
        gateway_forget_identity(req);
    enum route_result routed = router_match(c->stage, req->path, req->method, m);
    /* gateway = worker: the key and the plan's rate, after the route (403 Missing Authentication Token and
     * the preflight come first, as in API Gateway) and before anything about the request itself. */
    if ((routed == ROUTE_OK || routed == ROUTE_BAD_PARAM) && w->process->gateway &&
        !gateway_check(w->process->gateway, req, resp, &w->stats))
        return;
    switch (routed) {
    case ROUTE_NO_PATH:
    case ROUTE_NO_METHOD:
        /* API Gateway's answer to a path or method outside the route table, so CGI mode answers as it does. */
        reply_gateway_error(&w->stats, resp, 403, routed == ROUTE_NO_PATH ? "no_route" : "no_method",
                            "Missing Authentication Token", "MissingAuthenticationTokenException");
        return;
    case ROUTE_OPTIONS:
        reply_outcome(&w->stats, "preflight", "%s", "");
        http_response_empty(resp, 200);
        return;
    case ROUTE_NO_MEMORY:
        reply_internal(&w->stats, resp, "out of memory while routing");
        return;
    case ROUTE_BAD_PARAM:
        if (req->error_status)
            reply_request_error(w, req, resp);
        else
            reply_message(&w->stats, resp, 400, "bad_request", "%s", m->error);
        return;
    case ROUTE_OK:
        break;
    }
    if (!req->error_status && http_request_read_body(req, io, lim, read_to_end) != 0) {
        reply_internal(&w->stats, resp, "out of memory while reading the body");
        return;
    }
    if (req->error_status) {
        reply_request_error(w, req, resp);
        return;
    }
    if (!admit_quota(w, req, resp))
        return;
    if (w->process->usage && strcmp(req->client, "-") != 0)
        snprintf(w->usage_client, sizeof w->usage_client, "%s", req->client);
    struct handler_context ctx = {
        .conf = c, .store = &w->store, .stats = &w->stats,
        .cursor_key = w->process->cursor_key, .cursor_key_len = w->process->cursor_key_len,
    };
    m->route->handler(&ctx, req, m, resp);
}

int worker_serve(struct worker *w, char *const *envp, const struct http_io *io, int read_to_end)
{
    if (clone_jobs_request_started)
        clone_jobs_request_started();
    long started = clock_monotonic_ms();
    long long started_us = request_metrics_begin(w->process->metrics, w->metrics);
    w->usage_client[0] = '\0';
    memset(&w->stats, 0, sizeof w->stats);
    const struct conf *c = w->process->conf;
    struct http_limits lim = {.max_body_bytes = c->max_body_bytes, .max_header_bytes = c->max_header_bytes};
    struct http_request req;
    struct http_response resp;
    struct route_match m;
    memset(&m, 0, sizeof m);
    snprintf(m.allow, sizeof m.allow, "OPTIONS");
    http_response_init(&resp);

    if (http_request_parse(&req, envp, &lim) != 0) {
        reply_internal(&w->stats, &resp, "out of memory while reading the request");
    } else {
        request_metrics_identify(w->metrics, &req);
        dispatch(w, &req, io, read_to_end, &lim, &m, &resp);
    }
    if (resp.status == 0)
        reply_internal(&w->stats, &resp, "the handler gave no answer");
    if (common_headers(c, &req, &resp, m.allow) != 0) {
        /* Out of memory for headers: answer the fixed 500 with what fits. */
        http_response_reset(&resp);
        resp.status = 500;
        reply_outcome(&w->stats, "internal", "%s", "out of memory for the response headers");
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
    int written = http_response_write(&resp, io);
    if (written == HTTP_WROTE_FIXED_500) {
        char was[sizeof w->stats.outcome];
        snprintf(was, sizeof was, "%s", w->stats.outcome[0] ? w->stats.outcome : "ok");
        resp.status = sent = 500;
        reply_outcome(&w->stats, "internal", "out of memory for the response head (the answer was %d %s)",
                      resp.status, was);
        w->stats.error_log = 1;
    } else if (written != 0) {
        snprintf(w->stats.detail, sizeof w->stats.detail, "could not write the response: client gone");
        sent = 0;
    }
    request_log(c, &w->stats, &req, &resp, clock_monotonic_ms() - started);
    request_metrics_end(w->process->metrics, w->metrics, c, &req, &m, resp.status, started_us);
    route_match_free(&m);
    http_request_free(&req);
    http_response_free(&resp);
    return sent;
}

void worker_after_answer(struct worker *w)
{
    if (!w->usage_client[0] || !w->process->usage)
        return;
    struct key_usage_stats st = {0};
    key_usage_count(w->process->usage, &w->usage_cache, w->ddb, w->process->conf->usage_table, w->usage_client,
                    time(NULL), &st);
    metrics_count_leases(w->metrics, 0, 0, st.leased, st.returned);
    w->usage_client[0] = '\0';
}
