/* test_ddb_client.c — the DynamoDB client against a real dynalite over HTTP, through the SigV4-checking proxy.
 * argv[1] is the proxy's URL (tests/tools/ddb_proxy.py): it verifies every signature and injects faults. */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/tap.h"
#include "aws_config.h"
#include "ddb.h"
#include "ddb_value.h"

#define ITEM_COUNT 2500

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o) {
        fprintf(stderr, "bad test JSON: %s\n", text);
        exit(2);
    }
    return o;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

/* Ask the proxy to fail the next count requests in the given way. */
static int proxy_post(const char *proxy, const char *what, const char *body);

static int proxy_fault(const char *proxy, const char *mode, int count, int delay_ms)
{
    char body[256];
    snprintf(body, sizeof body, "{\"mode\":\"%s\",\"count\":%d,\"delay_ms\":%d}", mode, count, delay_ms);
    return proxy_post(proxy, "fault", body);
}

/* Drop whatever fault is still armed. */
static int proxy_reset(const char *proxy)
{
    return proxy_post(proxy, "reset", "{}");
}

static int proxy_post(const char *proxy, const char *what, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s/__proxy/%s", proxy, what);
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L) == CURLE_OK)
        rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return rc == CURLE_OK && status == 200 ? 0 : -1;
}

struct growing {
    char *data;
    size_t len;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct growing *g = userdata;
    char *more = realloc(g->data, g->len + size * nmemb + 1);
    if (!more)
        return 0;
    memcpy(more + g->len, data, size * nmemb);
    g->data = more;
    g->len += size * nmemb;
    g->data[g->len] = '\0';
    return size * nmemb;
}

/* GET proxy/__proxy/what as JSON (the caller puts it), or NULL. */
static json_object *proxy_get(const char *proxy, const char *what)
{
    char url[512];
    snprintf(url, sizeof url, "%s/__proxy/%s", proxy, what);
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    struct growing g = {0};
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &g) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L) == CURLE_OK)
        rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    json_object *o = rc == CURLE_OK && status == 200 && g.data ? json_tokener_parse(g.data) : NULL;
    free(g.data);
    return o;
}

/* The proxy's request sequence number now, or -1. */
static long proxy_seq(const char *proxy)
{
    json_object *stats = proxy_get(proxy, "stats"), *seq = NULL;
    long n = stats && json_object_object_get_ex(stats, "seq", &seq) ? (long)json_object_get_int64(seq) : -1;
    json_object_put(stats);
    return n;
}

/* The body the proxy received in the only request after seq, when it was operation (caller puts it), else NULL. */
static json_object *proxy_only_request_after(const char *proxy, long seq, const char *operation)
{
    char what[64];
    snprintf(what, sizeof what, "log?since=%ld", seq);
    json_object *log = proxy_get(proxy, what), *entries = NULL, *body = NULL;
    if (log && json_object_object_get_ex(log, "entries", &entries) && json_object_array_length(entries) == 1) {
        json_object *e = json_object_array_get_idx(entries, 0);
        json_object *op = NULL;
        if (json_object_object_get_ex(e, "operation", &op) && strcmp(json_object_get_string(op), operation) == 0 && json_object_object_get_ex(e, "body", &body))
            json_object_get(body);
        else
            body = NULL;
    }
    json_object_put(log);
    return body;
}

static struct ddb_client *new_client(const char *endpoint, const struct ddb_options *o)
{
    char err[512];
    struct aws_settings s;
    if (aws_settings_load(&s, NULL, NULL, endpoint, err, sizeof err) != 0) {
        fprintf(stderr, "settings: %s\n", err);
        return NULL;
    }
    struct ddb_client *c = ddb_client_new(o, &s, err, sizeof err);
    if (!c)
        fprintf(stderr, "client: %s\n", err);
    return c;
}

static const char *str_at(json_object *o, const char *a, const char *b)
{
    json_object *x = NULL, *y = NULL;
    if (!json_object_object_get_ex(o, a, &x))
        return NULL;
    if (!b)
        return json_object_get_string(x);
    if (!json_object_object_get_ex(x, b, &y))
        return NULL;
    return json_object_get_string(y);
}

/* The N text of attribute name inside response[field]. */
static const char *number_at(json_object *response, const char *field, const char *name)
{
    json_object *item, *attr, *n;
    if (!json_object_object_get_ex(response, field, &item) ||
        !json_object_object_get_ex(item, name, &attr) || !json_object_object_get_ex(attr, "N", &n))
        return NULL;
    return json_object_get_string(n);
}

static int same_number(const char *a, const char *b)
{
    char ca[DDBV_NUMBER_MAX], cb[DDBV_NUMBER_MAX], err[128];
    if (!a || !b || ddbv_number_canonical(a, ca, sizeof ca, err, sizeof err) != 0 ||
        ddbv_number_canonical(b, cb, sizeof cb, err, sizeof err) != 0)
        return 0;
    return strcmp(ca, cb) == 0;
}

static void test_table(struct tap *t, struct ddb_client *c, const char *table)
{
    struct ddb_result r = {0};
    tap_ok(t, ddb_describe_table(c, table, &r) == DDB_RESOURCE_NOT_FOUND,
           "DescribeTable of a missing table is ResourceNotFound (%s)", r.error_type);
    ddb_result_clear(&r);
    tap_ok(t, ddb_create_table(c, table, "cloneID", &r) == DDB_OK, "CreateTable %s", r.message);
    ddb_result_clear(&r);
    int active = 0;
    for (int i = 0; i < 100 && !active; i++) {
        if (ddb_describe_table(c, table, &r) == DDB_OK) {
            const char *status = json_object_get_string(
                json_object_object_get(json_object_object_get(r.response, "Table"), "TableStatus"));
            active = status && strcmp(status, "ACTIVE") == 0;
        }
        ddb_result_clear(&r);
        if (!active) {
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
    }
    tap_ok(t, active, "table becomes ACTIVE");
    tap_ok(t, ddb_describe_table(c, table, &r) == DDB_OK &&
                  strcmp(str_at(json_object_object_get(r.response, "Table"), "BillingModeSummary",
                                "BillingMode") ? str_at(json_object_object_get(r.response, "Table"),
                                                        "BillingModeSummary", "BillingMode") : "",
                         "PAY_PER_REQUEST") == 0,
           "the table is on-demand (PAY_PER_REQUEST)");
    ddb_result_clear(&r);
    tap_ok(t, ddb_create_table(c, table, "cloneID", &r) == DDB_CLIENT_ERROR &&
                  strcmp(r.error_type, "ResourceInUseException") == 0,
           "CreateTable twice is ResourceInUseException");
    ddb_result_clear(&r);
}

static void test_crud(struct tap *t, struct ddb_client *c, const char *table)
{
    struct ddb_result r = {0};
    json_object *item = parse("{\"cloneID\":{\"S\":\"c1\"},\"status\":{\"S\":\"new\"},"
                              "\"n\":{\"N\":\"1\"}}");
    json_object *key = parse("{\"cloneID\":{\"S\":\"c1\"}}");
    struct ddb_expr create_only = {.condition = "attribute_not_exists(#k)",
                                   .names = parse("{\"#k\":\"cloneID\"}")};

    tap_ok(t, ddb_put_item(c, table, item, &create_only, NULL, &r) == DDB_OK, "PutItem creates");
    tap_ok(t, r.attempts == 1, "one attempt when nothing fails");
    ddb_result_clear(&r);
    tap_ok(t, ddb_put_item(c, table, item, &create_only, NULL, &r) == DDB_CONDITION_FAILED &&
                  strcmp(r.error_type, "ConditionalCheckFailedException") == 0,
           "PutItem with attribute_not_exists on an existing item fails the condition");
    ddb_result_clear(&r);

    tap_ok(t, ddb_get_item(c, table, key, 1, &r) == DDB_OK &&
                  str_at(json_object_object_get(r.response, "Item"), "status", "S") &&
                  strcmp(str_at(json_object_object_get(r.response, "Item"), "status", "S"), "new") == 0,
           "GetItem reads it back (consistent read)");
    ddb_result_clear(&r);

    /* status and name are reserved words: they only work through ExpressionAttributeNames. */
    struct ddb_expr update = {
        .update = "SET #s = :s, #n = #n + :one",
        .condition = "attribute_exists(#k)",
        .names = parse("{\"#s\":\"status\",\"#n\":\"n\",\"#k\":\"cloneID\"}"),
        .values = parse("{\":s\":{\"S\":\"running\"},\":one\":{\"N\":\"1\"}}"),
    };
    tap_ok(t, ddb_update_item(c, table, key, &update, "ALL_NEW", &r) == DDB_OK &&
                  same_number(number_at(r.response, "Attributes", "n"), "2") &&
                  strcmp(str_at(json_object_object_get(r.response, "Attributes"), "status", "S"),
                         "running") == 0,
           "UpdateItem with names, values, condition and ALL_NEW");
    ddb_result_clear(&r);
    json_object_put(update.names);
    json_object_put(update.values);

    json_object *missing = parse("{\"cloneID\":{\"S\":\"nope\"}}");
    struct ddb_expr must_exist = {.update = "SET #s = :s", .condition = "attribute_exists(#k)",
                                  .names = parse("{\"#s\":\"status\",\"#k\":\"cloneID\"}"),
                                  .values = parse("{\":s\":{\"S\":\"x\"}}")};
    tap_ok(t, ddb_update_item(c, table, missing, &must_exist, "ALL_NEW", &r) == DDB_CONDITION_FAILED,
           "UpdateItem on a missing item with attribute_exists fails the condition");
    ddb_result_clear(&r);
    tap_ok(t, ddb_get_item(c, table, missing, 1, &r) == DDB_OK &&
                  !json_object_object_get(r.response, "Item"),
           "and leaves no stub item behind");
    ddb_result_clear(&r);

    struct ddb_expr bad = {.update = "SET status = :s", .values = must_exist.values};
    tap_ok(t, ddb_update_item(c, table, key, &bad, NULL, &r) == DDB_VALIDATION &&
                  strstr(r.message, "reserved") != NULL,
           "a reserved word used bare is a ValidationException with DynamoDB's message");
    ddb_result_clear(&r);

    struct ddb_expr exists = {.condition = "attribute_exists(#k)", .names = create_only.names};
    tap_ok(t, ddb_delete_item(c, table, missing, &exists, "ALL_OLD", &r) == DDB_CONDITION_FAILED,
           "DeleteItem of a missing item with attribute_exists fails the condition (%s)",
           r.error_type);
    ddb_result_clear(&r);
    tap_ok(t, ddb_delete_item(c, table, key, &exists, "ALL_OLD", &r) == DDB_OK &&
                  strcmp(str_at(json_object_object_get(r.response, "Attributes"), "status", "S"),
                         "running") == 0,
           "DeleteItem returns ALL_OLD");
    ddb_result_clear(&r);
    tap_ok(t, ddb_get_item(c, table, key, 1, &r) == DDB_OK && !json_object_object_get(r.response, "Item"),
           "the item is gone");
    ddb_result_clear(&r);

    json_object_put(must_exist.names);
    json_object_put(must_exist.values);
    json_object_put(create_only.names);
    json_object_put(missing);
    json_object_put(item);
    json_object_put(key);
}

static void test_numbers(struct tap *t, struct ddb_client *c, const char *table)
{
    static const char *const numbers[] = {
        "12345678901234567890123456789012345678",
        "-12345678901234567890123456789012345678",
        "0.12345678901234567890123456789012345678",
        "1E-130", "-1E-130",
        "9.9999999999999999999999999999999999999E+125",
        "-9.9999999999999999999999999999999999999E+125",
        "0", "-0", "1.5e10", "123.456e-7", "18446744073709551616", "99999999999999999999",
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        char canonical[DDBV_NUMBER_MAX], err[256], text[512];
        int valid = ddbv_number_canonical(numbers[i], canonical, sizeof canonical, err, sizeof err) == 0;
        snprintf(text, sizeof text,
                 "{\"cloneID\":{\"S\":\"num%zu\"},\"v\":{\"N\":\"%s\"},\"s\":{\"NS\":[\"%s\",\"7\"]}}",
                 i, canonical, canonical);
        json_object *item = parse(text);
        snprintf(text, sizeof text, "{\"cloneID\":{\"S\":\"num%zu\"}}", i);
        json_object *key = parse(text);
        struct ddb_result r = {0};
        int put = valid && ddb_put_item(c, table, item, NULL, NULL, &r) == DDB_OK;
        if (valid)
            ddb_result_clear(&r);
        int got = put && ddb_get_item(c, table, key, 1, &r) == DDB_OK;
        tap_ok(t, got && same_number(number_at(r.response, "Item", "v"), numbers[i]),
               "number %s round-trips through DynamoDB with the same value (got %s)", numbers[i],
               got ? number_at(r.response, "Item", "v") : "nothing");
        if (put)
            ddb_result_clear(&r);
        json_object_put(item);
        json_object_put(key);
    }
}

static void test_big_items(struct tap *t, struct ddb_client *c, const char *table)
{
    /* DynamoDB counts name and value bytes; 400 KB is 409600 bytes. */
    size_t near = 409600 - 1024, over = 409600 + 16;
    for (int pass = 0; pass < 2; pass++) {
        size_t len = pass == 0 ? near : over;
        char *blob = malloc(len + 1);
        if (!blob)
            exit(2);
        memset(blob, 'x', len);
        blob[len] = '\0';
        json_object *item = json_object_new_object();
        json_object *id = json_object_new_object();
        json_object *data = json_object_new_object();
        json_object_object_add(id, "S", json_object_new_string(pass == 0 ? "big" : "too-big"));
        json_object_object_add(data, "S", json_object_new_string(blob));
        json_object_object_add(item, "cloneID", id);
        json_object_object_add(item, "data", data);
        struct ddb_result r = {0};
        enum ddb_outcome o = ddb_put_item(c, table, item, NULL, NULL, &r);
        if (pass == 0) {
            tap_ok(t, o == DDB_OK, "an item just under 400 KB is stored (%s)", r.message);
            ddb_result_clear(&r);
            json_object *key = parse("{\"cloneID\":{\"S\":\"big\"}}");
            const char *back = NULL;
            if (ddb_get_item(c, table, key, 1, &r) == DDB_OK)
                back = str_at(json_object_object_get(r.response, "Item"), "data", "S");
            tap_ok(t, back && strlen(back) == len && strcmp(back, blob) == 0,
                   "and read back whole");
            ddb_result_clear(&r);
            json_object_put(key);
        } else {
            tap_ok(t, o == DDB_VALIDATION, "an item over 400 KB is a ValidationException: %s",
                   r.message);
            ddb_result_clear(&r);
        }
        json_object_put(item);
        free(blob);
    }
}

static void test_pagination(struct tap *t, struct ddb_client *c, const char *table)
{
    char pad[1201];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    int stored = 0;
    for (int i = 0; i < ITEM_COUNT; i++) {
        char text[1600];
        snprintf(text, sizeof text,
                 "{\"cloneID\":{\"S\":\"page-%05d\"},\"status\":{\"S\":\"%s\"},\"pad\":{\"S\":\"%s\"}}",
                 i, i % 5 == 0 ? "done" : "new", pad);
        json_object *item = parse(text);
        struct ddb_result r = {0};
        if (ddb_put_item(c, table, item, NULL, NULL, &r) == DDB_OK)
            stored++;
        ddb_result_clear(&r);
        json_object_put(item);
    }
    tap_ok(t, stored == ITEM_COUNT, "%d items stored for pagination", stored);

    /* Pages of 100, then DynamoDB's own 1 MB pages, then a filter: every item seen once. */
    static const int limits[] = {100, 0};
    for (size_t l = 0; l < 3; l++) {
        int limit = l < 2 ? limits[l] : 0;
        int filtered = l == 2;
        char *seen = calloc(ITEM_COUNT, 1);
        int pages = 0, items = 0, duplicates = 0, errors = 0;
        json_object *start = NULL;
        struct ddb_expr filter = {.filter = "#s = :s", .names = parse("{\"#s\":\"status\"}"),
                                  .values = parse("{\":s\":{\"S\":\"done\"}}")};
        do {
            struct ddb_page p = {.limit = limit, .exclusive_start_key = start};
            struct ddb_result r = {0};
            if (ddb_scan(c, table, &p, filtered ? &filter : NULL, &r) != DDB_OK) {
                errors++;
                ddb_result_clear(&r);
                break;
            }
            pages++;
            json_object *list = json_object_object_get(r.response, "Items");
            for (size_t i = 0; i < json_object_array_length(list); i++) {
                const char *id = str_at(json_object_array_get_idx(list, i), "cloneID", "S");
                int n;
                if (id && sscanf(id, "page-%d", &n) == 1 && n >= 0 && n < ITEM_COUNT) {
                    duplicates += seen[n];
                    seen[n] = 1;
                    items++;
                }
            }
            json_object_put(start);
            start = json_object_object_get(r.response, "LastEvaluatedKey");
            if (start)
                json_object_get(start);
            ddb_result_clear(&r);
        } while (start && pages < 1000);
        json_object_put(start);
        int want = filtered ? ITEM_COUNT / 5 : ITEM_COUNT;
        if (limit)
            tap_ok(t, !errors && items == want && !duplicates && pages >= ITEM_COUNT / limit,
                   "Scan with Limit %d: %d items over %d pages, none twice", limit, items, pages);
        else if (!filtered)
            tap_ok(t, !errors && items == want && !duplicates && pages >= 3,
                   "Scan in 1 MB pages: %d items over %d pages, none twice", items, pages);
        else
            tap_ok(t, !errors && items == want && !duplicates,
                   "Scan with FilterExpression: %d matching items over %d pages", items, pages);
        json_object_put(filter.names);
        json_object_put(filter.values);
        free(seen);
    }

    struct ddb_result r = {0};
    json_object *key = parse("{\":id\":{\"S\":\"page-00042\"}}");
    struct ddb_expr q = {.key_condition = "#k = :id", .names = parse("{\"#k\":\"cloneID\"}"),
                         .values = key};
    int found = ddb_query(c, table, NULL, NULL, &q, &r) == DDB_OK &&
                json_object_array_length(json_object_object_get(r.response, "Items")) == 1;
    tap_ok(t, found, "Query on the key finds one item");
    ddb_result_clear(&r);
    json_object_put(q.names);
    json_object_put(key);
}

/* What the proxy received: ConsistentRead true exactly when asked for (dynalite is always consistent, so only
 * the request itself can show it). */
static void test_consistent_read(struct tap *t, struct ddb_client *c, const char *proxy, const char *table)
{
    json_object *key = parse("{\"cloneID\":{\"S\":\"c1\"}}");
    for (int consistent = 1; consistent >= 0; consistent--) {
        struct ddb_result r = {0};
        long seq = proxy_seq(proxy);
        int ok = seq >= 0 && ddb_get_item(c, table, key, consistent, &r) == DDB_OK;
        ddb_result_clear(&r);
        json_object *body = ok ? proxy_only_request_after(proxy, seq, "GetItem") : NULL, *flag = NULL;
        int has = body && json_object_object_get_ex(body, "ConsistentRead", &flag);
        tap_ok(t, body && (consistent ? has && json_object_get_boolean(flag) : !has || !json_object_get_boolean(flag)),
               "GetItem asked %s sends ConsistentRead %s", consistent ? "for a consistent read" : "without",
               has ? json_object_to_json_string(flag) : "(absent)");
        json_object_put(body);
    }
    json_object_put(key);
}

static void test_faults(struct tap *t, const char *proxy, const char *table)
{
    struct ddb_options o;
    ddb_options_default(&o);
    o.backoff_base_ms = 5;
    o.backoff_cap_ms = 50;
    o.attempt_timeout_ms = 1000;
    o.max_attempts = 4;
    o.max_total_ms = 4000;
    struct ddb_client *c = new_client(proxy, &o);
    if (!c) {
        tap_ok(t, 0, "client for fault tests");
        return;
    }
    json_object *key = parse("{\"cloneID\":{\"S\":\"nope\"}}");
    struct ddb_result r = {0};
    static const char *const modes[] = {"throttle", "http500", "http503", "close"};
    for (size_t i = 0; i < 4; i++) {
        int armed = proxy_fault(proxy, modes[i], 2, 0) == 0;
        int ok = armed && ddb_get_item(c, table, key, 0, &r) == DDB_OK;
        /* libcurl itself resends once when a reused connection closes without an answer,
         * so a closed connection may cost one attempt of ours instead of two. */
        int want = strcmp(modes[i], "close") == 0 ? 2 : 3;
        tap_ok(t, ok && r.attempts >= want && r.attempts <= 3,
               "%s twice, then success (%d attempts)", modes[i], ok ? r.attempts : 0);
        if (armed)
            ddb_result_clear(&r);
    }
    tap_ok(t, proxy_fault(proxy, "throttle", 10, 0) == 0 &&
                  ddb_get_item(c, table, key, 0, &r) == DDB_THROTTLED && r.attempts == 4,
           "throttled on every attempt: DDB_THROTTLED after 4 attempts (%d)", r.attempts);
    ddb_result_clear(&r);
    tap_ok(t, proxy_fault(proxy, "http500", 10, 0) == 0 &&
                  ddb_get_item(c, table, key, 0, &r) == DDB_UNAVAILABLE,
           "5xx on every attempt: DDB_UNAVAILABLE (%s)", r.message);
    ddb_result_clear(&r);
    /* Leave no fault armed for whatever runs next. */
    tap_ok(t, proxy_reset(proxy) == 0, "proxy faults disarmed");
    ddb_client_free(c);
    /* Answers slower than the attempt timeout: each attempt gives up after its 1000 ms, and no attempt starts
     * that the total budget (3000 ms, connect timeout included) could not finish; without the budget all 10
     * would run (10 s). The counts hold however slow the machine: each attempt lasts its timeout at least. */
    struct ddb_options budget = o;
    budget.max_attempts = 10;
    budget.max_total_ms = 3000;
    c = new_client(proxy, &budget);
    enum ddb_outcome outcome = c && proxy_fault(proxy, "delay", 20, 3000) == 0 ?
        ddb_get_item(c, table, key, 0, &r) : DDB_INTERNAL;
    tap_ok(t, outcome == DDB_UNAVAILABLE && r.attempts >= 2 && r.attempts <= 3 &&
                  r.elapsed_ms >= 1000L * r.attempts && r.elapsed_ms < 8000,
           "answers slower than the attempt timeout: DDB_UNAVAILABLE after %d attempts within the total "
           "budget (%ld ms)", r.attempts, r.elapsed_ms);
    ddb_result_clear(&r);
    tap_ok(t, proxy_reset(proxy) == 0, "proxy faults disarmed");
    ddb_client_free(c);

    /* A port nobody listens on: connection refused, retried, then unavailable. */
    c = new_client("http://127.0.0.1:9", &o);
    if (c) {
        tap_ok(t, ddb_get_item(c, table, key, 0, &r) == DDB_UNAVAILABLE && r.attempts == 4 &&
                      r.http_status == 0,
               "unreachable endpoint: DDB_UNAVAILABLE after 4 attempts (%s)", r.message);
        ddb_result_clear(&r);
        ddb_client_free(c);
    }

    /* A wrong secret: the proxy, like DynamoDB, refuses the signature; it is not retried. */
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    char saved[256];
    snprintf(saved, sizeof saved, "%s", secret ? secret : "");
    setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret", 1);
    c = new_client(proxy, &o);
    setenv("AWS_SECRET_ACCESS_KEY", saved, 1);
    if (c) {
        tap_ok(t, ddb_get_item(c, table, key, 0, &r) == DDB_CLIENT_ERROR &&
                      strcmp(r.error_type, "InvalidSignatureException") == 0 && r.attempts == 1,
               "a wrong signature is refused once, not retried (%s)", r.error_type);
        ddb_result_clear(&r);
        ddb_client_free(c);
    }
    json_object_put(key);
}

int main(int argc, char **argv)
{
    struct tap t = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: test_ddb_client PROXY_URL\n");
        return 2;
    }
    const char *proxy = argv[1];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    char table[64];
    snprintf(table, sizeof table, "client-test-%ld", (long)time(NULL) % 100000);

    struct ddb_client *c = new_client(proxy, NULL);
    tap_ok(&t, c != NULL, "client created for %s", proxy);
    if (c) {
        test_table(&t, c, table);
        test_crud(&t, c, table);
        test_consistent_read(&t, c, proxy, table);
        test_numbers(&t, c, table);
        test_big_items(&t, c, table);
        test_pagination(&t, c, table);
        ddb_client_free(c);
    }
    test_faults(&t, proxy, table);
    curl_global_cleanup();
    return tap_done(&t);
}
