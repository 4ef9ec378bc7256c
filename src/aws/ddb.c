/* ddb.c — a DynamoDB client over its JSON protocol: signed requests, retries, typed operations.
 * Each attempt is signed afresh (the date moves); throttling, 5xx and broken connections are retried. */
#include "config.h"

#include "ddb.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "credentials_cache.h"
#include "json_input.h"
#include "json_output.h"
#include "sigv4.h"

#define DDB_TARGET_PREFIX "DynamoDB_20120810."
#define DDB_CONTENT_TYPE "application/x-amz-json-1.0"
#define DDB_USER_AGENT "clone-jobs/" PACKAGE_VERSION
/* DynamoDB answers nest attribute values two JSON levels per item level (32 item levels). */
#define DDB_RESPONSE_MAX_DEPTH 160
#define CREDENTIALS_REFRESH_MARGIN_S 300
#define DDB_BODY_KEEP_BYTES (64u << 10)
/* No limit of its own: a request is bounded by what the caller built it from (the worker's body limit). */
#define DDB_REQUEST_MAX_BYTES 0

struct ddb_client {
    CURL *curl;
    struct ddb_options options;
    struct aws_settings settings;
    struct aws_credentials_cache *credentials_cache;
    int owns_credentials_cache;         /* made by ddb_client_new, not shared */
    struct aws_credentials credentials; /* this client's copy, taken from the cache when near expiry */
    struct sigv4_key_cache signing_key; /* today's key for these credentials */
    char url[600];
    char host[512]; /* the Host header as curl sends it, which is what gets signed */
    char path[256];
    unsigned long long jitter_state;
    struct buf body;          /* the answer being received */
    struct buf request;       /* the request's JSON text */
    int body_out_of_memory;   /* the answer did not fit in memory (not: over max_response_bytes) */
    char curl_error[CURL_ERROR_SIZE];
    ddb_observer observer;    /* told of each call's end (the worker's metrics), or NULL */
    void *observer_ctx;
};

void ddb_options_default(struct ddb_options *o)
{
    o->connect_timeout_ms = 1000;
    o->attempt_timeout_ms = 5000;
    o->max_attempts = 5;
    o->max_total_ms = 10000;
    o->backoff_base_ms = 25;
    o->backoff_cap_ms = 2000;
    o->max_response_bytes = 16u << 20;
}

void ddb_options_from_conf(struct ddb_options *o, const struct conf *c)
{
    ddb_options_default(o);
    o->connect_timeout_ms = c->ddb_connect_timeout_ms;
    o->attempt_timeout_ms = c->ddb_attempt_timeout_ms;
    o->max_attempts = c->ddb_max_attempts;
    o->max_total_ms = c->ddb_max_total_ms;
}

/* xorshift64*: jitter only needs to spread retries apart, not to be unpredictable. */
static unsigned long long next_jitter(struct ddb_client *c)
{
    unsigned long long x = c->jitter_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->jitter_state = x;
    return x * 2685821657736338717ULL;
}

/* Split "scheme://host[:port][/path]" into the Host header value and the request path.
 * The default port is left out of Host, as curl leaves it out of its own Host header. */
static int parse_endpoint(const char *endpoint, char *host, size_t hostlen, char *path,
                          size_t pathlen, char *err, size_t errlen)
{
    const char *rest;
    const char *default_port;
    if (strncmp(endpoint, "https://", 8) == 0) {
        rest = endpoint + 8;
        default_port = ":443";
    } else if (strncmp(endpoint, "http://", 7) == 0) {
        rest = endpoint + 7;
        default_port = ":80";
    } else {
        snprintf(err, errlen, "endpoint %s: must start with http:// or https://", endpoint);
        return -1;
    }
    size_t authority_len = strcspn(rest, "/?#");
    if (authority_len == 0 || authority_len >= hostlen || memchr(rest, '@', authority_len)) {
        snprintf(err, errlen, "endpoint %s: no usable host", endpoint);
        return -1;
    }
    memcpy(host, rest, authority_len);
    host[authority_len] = '\0';
    size_t dp = strlen(default_port);
    if (authority_len > dp && strcmp(host + authority_len - dp, default_port) == 0)
        host[authority_len - dp] = '\0';
    const char *p = rest + authority_len;
    if (*p == '?' || *p == '#') {
        snprintf(err, errlen, "endpoint %s: must not carry a query or fragment", endpoint);
        return -1;
    }
    int n = snprintf(path, pathlen, "%s", *p ? p : "/");
    if (n < 0 || (size_t)n >= pathlen) {
        snprintf(err, errlen, "endpoint %s: path too long", endpoint);
        return -1;
    }
    return 0;
}

static size_t collect_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct ddb_client *c = userdata;
    size_t n = size * nmemb;
    if (buf_append(&c->body, data, n) != 0) {
        /* Over the limit, or no memory: curl aborts the transfer with CURLE_WRITE_ERROR. */
        c->body_out_of_memory = c->body.len + n <= c->options.max_response_bytes;
        return 0;
    }
    return n;
}

struct ddb_client *ddb_client_new(const struct ddb_options *o, const struct aws_settings *settings,
                                  char *err, size_t errlen)
{
    struct aws_credentials_cache *cache = aws_credentials_cache_new(settings, err, errlen);
    if (!cache)
        return NULL;
    struct ddb_client *c = ddb_client_new_shared(o, settings, cache, err, errlen);
    if (!c) {
        aws_credentials_cache_free(cache);
        return NULL;
    }
    c->owns_credentials_cache = 1;
    return c;
}

struct ddb_client *ddb_client_new_shared(const struct ddb_options *o, const struct aws_settings *settings,
                                         struct aws_credentials_cache *credentials, char *err, size_t errlen)
{
    struct ddb_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o)
        c->options = *o;
    else
        ddb_options_default(&c->options);
    c->settings = *settings;
    buf_init(&c->body, c->options.max_response_bytes);
    buf_init(&c->request, DDB_REQUEST_MAX_BYTES);
    c->jitter_state = ((unsigned long long)getpid() << 32) ^ (unsigned long long)time(NULL) ^
                      (unsigned long long)clock_monotonic_ms() ^ 0x9E3779B97F4A7C15ULL;
    if (c->jitter_state == 0)
        c->jitter_state = 1;

    int n = snprintf(c->url, sizeof c->url, "%s", settings->endpoint);
    if (n < 0 || (size_t)n >= sizeof c->url) {
        snprintf(err, errlen, "endpoint too long");
        goto fail;
    }
    if (parse_endpoint(settings->endpoint, c->host, sizeof c->host, c->path, sizeof c->path, err,
                       errlen) != 0)
        goto fail;
    c->credentials_cache = credentials;
    if (aws_credentials_cache_get(credentials, time(NULL), CREDENTIALS_REFRESH_MARGIN_S, &c->credentials, err,
                                  errlen) != 0)
        goto fail;

    c->curl = curl_easy_init();
    if (!c->curl) {
        snprintf(err, errlen, "curl_easy_init failed");
        goto fail;
    }
    /* Options that hold for the handle's whole life; per-request ones are set in one_attempt. */
    if (curl_easy_setopt(c->curl, CURLOPT_URL, c->url) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->options.connect_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->options.attempt_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_USERAGENT, DDB_USER_AGENT) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect_body) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_error) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
        snprintf(err, errlen, "curl_easy_setopt failed");
        goto fail;
    }
    return c;
fail:
    ddb_client_free(c);
    return NULL;
}

void ddb_client_free(struct ddb_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    buf_free(&c->body);
    buf_free(&c->request);
    if (c->owns_credentials_cache)
        aws_credentials_cache_free(c->credentials_cache);
    /* The secret lived here; do not leave it in freed memory. */
    memset(&c->credentials, 0, sizeof c->credentials);
    memset(&c->signing_key, 0, sizeof c->signing_key);
    free(c);
}

void ddb_client_set_observer(struct ddb_client *c, ddb_observer fn, void *ctx)
{
    c->observer = fn;
    c->observer_ctx = ctx;
}

void ddb_result_clear(struct ddb_result *r)
{
    if (r->response)
        json_object_put(r->response);
    memset(r, 0, sizeof *r);
}

const char *ddb_outcome_name(enum ddb_outcome o)
{
    switch (o) {
    case DDB_OK: return "ok";
    case DDB_CONDITION_FAILED: return "condition_failed";
    case DDB_RESOURCE_NOT_FOUND: return "resource_not_found";
    case DDB_VALIDATION: return "validation";
    case DDB_THROTTLED: return "throttled";
    case DDB_UNAVAILABLE: return "unavailable";
    case DDB_CLIENT_ERROR: return "client_error";
    case DDB_INTERNAL: return "internal";
    }
    return "unknown";
}

__attribute__((format(printf, 2, 3)))
static void set_message(struct ddb_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* How one attempt ended, before the retry decision. */
enum attempt_end { ATTEMPT_DONE, ATTEMPT_RETRY_THROTTLED, ATTEMPT_RETRY_UNAVAILABLE };

static int is_throttling(const char *type)
{
    static const char *const names[] = {
        "ProvisionedThroughputExceededException", "ThrottlingException",
        "RequestLimitExceeded", "LimitExceededException", "Throttling",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i]) == 0)
            return 1;
    return 0;
}

/* Read DynamoDB's error answer ({"__type": "ns#Name", "message": "..."}) into r. */
static void read_error(struct ddb_result *r, json_object *answer)
{
    json_object *type = NULL, *message = NULL;
    r->error_type[0] = '\0';
    r->message[0] = '\0';
    if (answer && json_object_object_get_ex(answer, "__type", &type) &&
        json_object_is_type(type, json_type_string)) {
        const char *t = json_object_get_string(type);
        const char *hash = strrchr(t, '#');
        snprintf(r->error_type, sizeof r->error_type, "%s", hash ? hash + 1 : t);
    }
    /* DynamoDB spells it "message", some compatible servers "Message". */
    if (answer && (json_object_object_get_ex(answer, "message", &message) ||
                   json_object_object_get_ex(answer, "Message", &message)) &&
        json_object_is_type(message, json_type_string))
        snprintf(r->message, sizeof r->message, "%s", json_object_get_string(message));
}

static enum ddb_outcome classify_client_error(const char *type)
{
    if (strcmp(type, "ConditionalCheckFailedException") == 0)
        return DDB_CONDITION_FAILED;
    if (strcmp(type, "ResourceNotFoundException") == 0)
        return DDB_RESOURCE_NOT_FOUND;
    if (strcmp(type, "ValidationException") == 0 ||
        strcmp(type, "SerializationException") == 0)
        return DDB_VALIDATION;
    return DDB_CLIENT_ERROR;
}

static int refresh_credentials(struct ddb_client *c, struct ddb_result *r)
{
    time_t now = time(NULL);
    if (!aws_credentials_expiring(&c->credentials, now, CREDENTIALS_REFRESH_MARGIN_S))
        return 0;
    char err[256];
    struct aws_credentials fresh;
    if (aws_credentials_cache_get(c->credentials_cache, now, CREDENTIALS_REFRESH_MARGIN_S, &fresh, err,
                                  sizeof err) != 0) {
        set_message(r, "AWS credentials expired and could not be renewed: %s", err);
        return -1;
    }
    if (memcmp(&fresh, &c->credentials, sizeof fresh) != 0) {
        c->credentials = fresh;
        memset(&c->signing_key, 0, sizeof c->signing_key); /* derived from the old secret */
    }
    memset(&fresh, 0, sizeof fresh);
    return 0;
}

/* The request's headers for curl, signed for now: Host, Content-Type, X-Amz-Target, Authorization and the
 * signer's extras (X-Amz-Date, a session token). Returns the list (caller frees), or NULL with r set. */
static struct curl_slist *signed_headers(struct ddb_client *c, const char *operation, const char *body,
                                         size_t body_len, struct ddb_result *r)
{
    char target[128], host_header[600], target_header[160];
    int n = snprintf(target, sizeof target, DDB_TARGET_PREFIX "%s", operation);
    if (n < 0 || (size_t)n >= sizeof target) {
        r->outcome = DDB_INTERNAL;
        set_message(r, "operation name too long: %s", operation);
        return NULL;
    }
    char amz_date[17];
    if (sigv4_format_date((long long)time(NULL), amz_date) != 0) {
        r->outcome = DDB_INTERNAL;
        set_message(r, "the system clock is outside what SigV4 can express");
        return NULL;
    }
    const struct sigv4_header headers[] = {
        {"Host", c->host},
        {"Content-Type", DDB_CONTENT_TYPE},
        {"X-Amz-Target", target},
    };
    const struct sigv4_request req = {
        .method = "POST", .path = c->path, .query = NULL,
        .headers = headers, .header_count = sizeof headers / sizeof headers[0],
        .body = body, .body_len = body_len,
    };
    const struct sigv4_credentials creds = {
        .access_key_id = c->credentials.access_key_id,
        .secret_access_key = c->credentials.secret_access_key,
        .session_token = c->credentials.session_token,
    };
    const struct sigv4_params params = {
        .region = c->settings.region, .service = "dynamodb", .amz_date = amz_date,
        .normalize_path = 1, .sign_body_header = 0, .omit_session_token = 0,
        .key_cache = &c->signing_key,
    };
    struct sigv4_result signature;
    if (sigv4_sign(&req, &creds, &params, &signature) != 0) {
        r->outcome = DDB_INTERNAL;
        set_message(r, "could not sign the request");
        return NULL;
    }
    struct curl_slist *list = NULL, *next;
    char *auth_header = NULL;
    int ok = 1;
    snprintf(host_header, sizeof host_header, "Host: %s", c->host);
    snprintf(target_header, sizeof target_header, "X-Amz-Target: %s", target);
    size_t auth_len = strlen(signature.authorization) + sizeof "Authorization: ";
    auth_header = malloc(auth_len);
    if (!auth_header)
        ok = 0;
    else
        snprintf(auth_header, auth_len, "Authorization: %s", signature.authorization);
    /* "Expect:" stops curl's 100-continue round trip on bodies over 1 KiB. */
    const char *lines[8] = {host_header, "Content-Type: " DDB_CONTENT_TYPE, target_header, auth_header, "Expect:"};
    size_t line_count = 5;
    for (size_t i = 0; i < signature.extra_header_count && line_count < 8; i++)
        lines[line_count++] = signature.extra_headers[i];
    for (size_t i = 0; ok && i < line_count; i++) {
        next = curl_slist_append(list, lines[i]);
        if (!next)
            ok = 0;
        else
            list = next;
    }
    sigv4_result_free(&signature);
    free(auth_header);
    if (!ok) {
        curl_slist_free_all(list);
        r->outcome = DDB_INTERNAL;
        set_message(r, "out of memory");
        return NULL;
    }
    return list;
}

/* What an answered attempt means: DDB_OK, a DynamoDB error to report, or one to retry. */
static enum attempt_end read_answer(struct ddb_client *c, long status, struct ddb_result *r)
{
    r->http_status = status;
    json_object *answer = NULL;
    char perr[128];
    int parsed = json_input_parse(c->body.data ? c->body.data : "", c->body.len, DDB_RESPONSE_MAX_DEPTH, &answer,
                                  perr, sizeof perr);
    if (parsed == JSON_INPUT_NO_MEMORY) {
        /* Whatever DynamoDB did, it is done: retrying a write could do it twice. */
        r->outcome = DDB_INTERNAL;
        set_message(r, "out of memory for DynamoDB's answer (HTTP %ld)", status);
        return ATTEMPT_DONE;
    }
    if (status >= 500) {
        if (parsed == 0)
            read_error(r, answer);
        if (!r->message[0])
            snprintf(r->message, sizeof r->message, "DynamoDB answered HTTP %ld", status);
        json_object_put(answer);
        return ATTEMPT_RETRY_UNAVAILABLE;
    }
    if (parsed != 0 || !json_object_is_type(answer, json_type_object)) {
        json_object_put(answer);
        snprintf(r->message, sizeof r->message, "unreadable DynamoDB answer (HTTP %ld)", status);
        /* A proxy's HTML error page or a cut answer: treat it as a broken connection. */
        return ATTEMPT_RETRY_UNAVAILABLE;
    }
    if (status == 200) {
        r->outcome = DDB_OK;
        r->response = answer;
        r->error_type[0] = '\0';
        r->message[0] = '\0';
        return ATTEMPT_DONE;
    }
    read_error(r, answer);
    json_object_put(answer);
    if (is_throttling(r->error_type))
        return ATTEMPT_RETRY_THROTTLED;
    if (!r->message[0])
        snprintf(r->message, sizeof r->message, "DynamoDB answered HTTP %ld", status);
    r->outcome = classify_client_error(r->error_type);
    return ATTEMPT_DONE;
}

/* Sign and send one attempt; on ATTEMPT_DONE, r->outcome (and r->response) hold the answer. */
static enum attempt_end one_attempt(struct ddb_client *c, const char *operation, const char *body,
                                    size_t body_len, struct ddb_result *r)
{
    struct curl_slist *list = signed_headers(c, operation, body, body_len, r);
    if (!list)
        return ATTEMPT_DONE;
    /* A thread keeps its answer buffer between calls, but not the megabyte one Scan page needed: with
     * many threads per process, that would stay resident in each. */
    if (c->body.cap > DDB_BODY_KEEP_BYTES)
        buf_free(&c->body);
    else
        buf_reset(&c->body);
    c->body_out_of_memory = 0;
    c->curl_error[0] = '\0';
    CURLcode rc = CURLE_OK;
    if (curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, list) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK)
        rc = CURLE_FAILED_INIT;
    else
        rc = curl_easy_perform(c->curl);
    /* The handle must not keep pointers to the list or body past this call. */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
        r->http_status = 0;
        snprintf(r->message, sizeof r->message, "DynamoDB endpoint unreachable: %s",
                 c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc));
        if (rc == CURLE_WRITE_ERROR) {
            r->outcome = DDB_INTERNAL;
            if (c->body_out_of_memory)
                set_message(r, "out of memory for DynamoDB's answer");
            else
                set_message(r, "DynamoDB answer larger than the response limit");
            return ATTEMPT_DONE;
        }
        if (rc == CURLE_FAILED_INIT) {
            r->outcome = DDB_INTERNAL;
            return ATTEMPT_DONE;
        }
        return ATTEMPT_RETRY_UNAVAILABLE;
    }
    long status = 0;
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    return read_answer(c, status, r);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static enum ddb_outcome call(struct ddb_client *c, const char *operation, json_object *request,
                             struct ddb_result *r)
{
    memset(r, 0, sizeof *r);
    long start = clock_monotonic_ms();
    if (c->request.cap > DDB_BODY_KEEP_BYTES)
        buf_free(&c->request);
    else
        buf_reset(&c->request);
    if (json_output(request, &c->request) != 0) {
        r->outcome = DDB_INTERNAL;
        set_message(r, "out of memory for the request");
        return r->outcome;
    }
    const char *body = c->request.data;
    size_t body_len = c->request.len;
    if (refresh_credentials(c, r) != 0) {
        r->outcome = DDB_INTERNAL;
        return r->outcome;
    }
    long ceiling = c->options.backoff_base_ms;
    for (;;) {
        r->attempts++;
        enum attempt_end end = one_attempt(c, operation, body, body_len, r);
        long elapsed = clock_monotonic_ms() - start;
        if (end == ATTEMPT_DONE) {
            r->elapsed_ms = elapsed;
            return r->outcome;
        }
        enum ddb_outcome failure = end == ATTEMPT_RETRY_THROTTLED ? DDB_THROTTLED : DDB_UNAVAILABLE;
        r->throttles += end == ATTEMPT_RETRY_THROTTLED;
        /* Full jitter: a random wait below a ceiling that doubles, so many workers spread out. */
        long wait = (long)(next_jitter(c) % (unsigned long long)(ceiling + 1));
        if (r->attempts >= c->options.max_attempts ||
            elapsed + wait + c->options.connect_timeout_ms > c->options.max_total_ms) {
            r->outcome = failure;
            r->elapsed_ms = elapsed;
            return r->outcome;
        }
        sleep_ms(wait);
        ceiling = ceiling * 2 > c->options.backoff_cap_ms ? c->options.backoff_cap_ms : ceiling * 2;
    }
}

enum ddb_outcome ddb_call(struct ddb_client *c, const char *operation, json_object *request,
                          struct ddb_result *r)
{
    long long start_us = clock_monotonic_us();
    enum ddb_outcome o = call(c, operation, request, r);
    r->elapsed_us = clock_monotonic_us() - start_us;
    if (c->observer)
        c->observer(c->observer_ctx, operation, r);
    return o;
}

/* Add a borrowed object under key, taking a reference of our own; -1 when out of memory. */
static int add_borrowed(json_object *o, const char *key, json_object *value)
{
    if (!value)
        return 0;
    json_object_get(value);
    if (json_object_object_add(o, key, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static int add_string(json_object *o, const char *key, const char *value)
{
    if (!value)
        return 0;
    json_object *s = json_object_new_string(value);
    if (!s || json_object_object_add(o, key, s) != 0) {
        json_object_put(s);
        return -1;
    }
    return 0;
}

static int add_int(json_object *o, const char *key, int value)
{
    json_object *v = json_object_new_int(value);
    if (!v || json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static int add_bool(json_object *o, const char *key, int value)
{
    json_object *v = json_object_new_boolean(value);
    if (!v || json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static int add_expr(json_object *o, const struct ddb_expr *e)
{
    if (!e)
        return 0;
    if (add_string(o, "ConditionExpression", e->condition) != 0 ||
        add_string(o, "UpdateExpression", e->update) != 0 ||
        add_string(o, "FilterExpression", e->filter) != 0 ||
        add_string(o, "KeyConditionExpression", e->key_condition) != 0 ||
        add_string(o, "ProjectionExpression", e->projection) != 0 ||
        add_borrowed(o, "ExpressionAttributeNames", e->names) != 0 ||
        add_borrowed(o, "ExpressionAttributeValues", e->values) != 0)
        return -1;
    return 0;
}

static int add_page(json_object *o, const struct ddb_page *p)
{
    if (!p)
        return 0;
    if (p->limit > 0 && add_int(o, "Limit", p->limit) != 0)
        return -1;
    if (p->consistent_read && add_bool(o, "ConsistentRead", 1) != 0)
        return -1;
    return add_borrowed(o, "ExclusiveStartKey", p->exclusive_start_key);
}

/* Send request (consumed) when it was built whole; an incomplete one is an out-of-memory failure. */
static enum ddb_outcome send_built(struct ddb_client *c, const char *operation, json_object *request,
                                   int build_failed, struct ddb_result *r)
{
    if (!request || build_failed) {
        json_object_put(request);
        memset(r, 0, sizeof *r);
        r->outcome = DDB_INTERNAL;
        set_message(r, "out of memory");
        return r->outcome;
    }
    enum ddb_outcome o = ddb_call(c, operation, request, r);
    json_object_put(request);
    return o;
}

enum ddb_outcome ddb_get_item(struct ddb_client *c, const char *table, json_object *key,
                              int consistent_read, struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    int failed = !q || add_string(q, "TableName", table) != 0 || add_borrowed(q, "Key", key) != 0 ||
                 (consistent_read && add_bool(q, "ConsistentRead", 1) != 0);
    return send_built(c, "GetItem", q, failed, r);
}

enum ddb_outcome ddb_put_item(struct ddb_client *c, const char *table, json_object *item,
                              const struct ddb_expr *e, const char *return_values,
                              struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    int failed = !q || add_string(q, "TableName", table) != 0 || add_borrowed(q, "Item", item) != 0 ||
                 add_expr(q, e) != 0 || add_string(q, "ReturnValues", return_values) != 0;
    return send_built(c, "PutItem", q, failed, r);
}

enum ddb_outcome ddb_update_item(struct ddb_client *c, const char *table, json_object *key,
                                 const struct ddb_expr *e, const char *return_values,
                                 struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    int failed = !q || add_string(q, "TableName", table) != 0 || add_borrowed(q, "Key", key) != 0 ||
                 add_expr(q, e) != 0 || add_string(q, "ReturnValues", return_values) != 0;
    return send_built(c, "UpdateItem", q, failed, r);
}

enum ddb_outcome ddb_delete_item(struct ddb_client *c, const char *table, json_object *key,
                                 const struct ddb_expr *e, const char *return_values,
                                 struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    int failed = !q || add_string(q, "TableName", table) != 0 || add_borrowed(q, "Key", key) != 0 ||
                 add_expr(q, e) != 0 || add_string(q, "ReturnValues", return_values) != 0;
    return send_built(c, "DeleteItem", q, failed, r);
}

enum ddb_outcome ddb_scan(struct ddb_client *c, const char *table, const struct ddb_page *p,
                          const struct ddb_expr *e, struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    int failed = !q || add_string(q, "TableName", table) != 0 || add_page(q, p) != 0 ||
                 add_expr(q, e) != 0;
    return send_built(c, "Scan", q, failed, r);
}

enum ddb_outcome ddb_query(struct ddb_client *c, const char *table, const char *index_name,
                           const struct ddb_page *p, const struct ddb_expr *e,
                           struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    int failed = !q || add_string(q, "TableName", table) != 0 ||
                 add_string(q, "IndexName", index_name) != 0 || add_page(q, p) != 0 ||
                 add_expr(q, e) != 0;
    return send_built(c, "Query", q, failed, r);
}

enum ddb_outcome ddb_create_table(struct ddb_client *c, const char *table, const char *key_attribute,
                                  struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    json_object *definitions = json_object_new_array();
    json_object *definition = json_object_new_object();
    json_object *schema = json_object_new_array();
    json_object *key = json_object_new_object();
    int failed = !q || !definitions || !definition || !schema || !key;
    if (!failed)
        failed = add_string(definition, "AttributeName", key_attribute) != 0 ||
                 add_string(definition, "AttributeType", "S") != 0 ||
                 add_string(key, "AttributeName", key_attribute) != 0 ||
                 add_string(key, "KeyType", "HASH") != 0 ||
                 json_object_array_add(definitions, json_object_get(definition)) != 0 ||
                 json_object_array_add(schema, json_object_get(key)) != 0 ||
                 add_string(q, "TableName", table) != 0 ||
                 add_borrowed(q, "AttributeDefinitions", definitions) != 0 ||
                 add_borrowed(q, "KeySchema", schema) != 0 ||
                 add_string(q, "BillingMode", "PAY_PER_REQUEST") != 0;
    /* Each piece was added with a reference of its own (or not at all): drop ours. */
    json_object_put(definitions);
    json_object_put(definition);
    json_object_put(schema);
    json_object_put(key);
    return send_built(c, "CreateTable", q, failed, r);
}

enum ddb_outcome ddb_describe_table(struct ddb_client *c, const char *table, struct ddb_result *r)
{
    json_object *q = json_object_new_object();
    int failed = !q || add_string(q, "TableName", table) != 0;
    return send_built(c, "DescribeTable", q, failed, r);
}
