/* test_quota.c — quotas leased in blocks from a real dynalite (through the SigV4 proxy) by one or many workers.
 * argv[1] is the proxy's URL: its /__proxy/stats counts DynamoDB requests and /__proxy/fault throttles them. */
#include "config.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../unit/tap.h"
#include "aws_config.h"
#include "buf.h"
#include "ddb.h"
#include "quota.h"

/* A UTC calendar time; the tests pin their clock so period keys are known (2026-11-25 is in 2026-W48). */
static time_t at(int year, int month, int day, int hour, int minute, int second)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return timegm(&tm);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct ddb_client *new_client(const char *endpoint)
{
    char err[512];
    struct aws_settings s;
    if (aws_settings_load(&s, NULL, NULL, endpoint, err, sizeof err) != 0) {
        fprintf(stderr, "settings: %s\n", err);
        return NULL;
    }
    struct ddb_options o;
    ddb_options_default(&o);
    /* Short backoffs keep the throttling test quick; the retry count stays the default. */
    o.backoff_base_ms = 5;
    o.backoff_cap_ms = 40;
    struct ddb_client *c = ddb_client_new(&o, &s, err, sizeof err);
    if (!c)
        fprintf(stderr, "client: %s\n", err);
    return c;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    return buf_append(arg, data, size * n) == 0 ? size * n : 0;
}

/* GET or POST (body != NULL) a control URL of the proxy; returns the HTTP status, 0 on failure. */
static long proxy_call(const char *proxy, const char *path, const char *body, struct buf *answer)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", proxy, path);
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, answer) == CURLE_OK &&
        (!body || curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK))
        rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? status : 0;
}

/* The proxy's count of DynamoDB requests so far, or -1. */
static long proxy_requests(const char *proxy)
{
    struct buf b;
    buf_init(&b, 4096);
    long n = -1;
    if (proxy_call(proxy, "/__proxy/stats", NULL, &b) == 200 && b.data) {
        json_object *o = json_tokener_parse(b.data);
        json_object *v;
        if (o && json_object_object_get_ex(o, "requests", &v))
            n = (long)json_object_get_int64(v);
        json_object_put(o);
    }
    buf_free(&b);
    return n;
}

static int proxy_throttle(const char *proxy, int count)
{
    char body[128];
    snprintf(body, sizeof body, "{\"mode\":\"throttle\",\"count\":%d}", count);
    struct buf b;
    buf_init(&b, 4096);
    long status = proxy_call(proxy, "/__proxy/fault", body, &b);
    buf_free(&b);
    return status == 200 ? 0 : -1;
}

/* Drop pending faults. The proxy takes counts from 1 up, so disarming is its reset command. */
static int proxy_disarm(const char *proxy)
{
    struct buf b;
    buf_init(&b, 4096);
    int ok = proxy_call(proxy, "/__proxy/reset", "{}", &b) == 200 && b.data;
    if (ok) {
        json_object *o = json_tokener_parse(b.data);
        json_object *v;
        ok = o && json_object_object_get_ex(o, "faults_left", &v) && json_object_get_int(v) == 0;
        json_object_put(o);
    }
    buf_free(&b);
    return ok ? 0 : -1;
}

/* The usage item's `leased` for client and period key, -1 when there is no item, -2 on error. */
static long long leased_of(struct ddb_client *c, const char *table, const char *client, const char *period)
{
    char id[256];
    snprintf(id, sizeof id, "%s#%s", client, period);
    json_object *key = json_object_new_object();
    json_object *av = json_object_new_object();
    if (!key || !av) {
        json_object_put(key);
        json_object_put(av);
        return -2;
    }
    json_object_object_add(av, "S", json_object_new_string(id));
    json_object_object_add(key, "usageID", av);
    struct ddb_result r;
    long long v = -2;
    if (ddb_get_item(c, table, key, 1, &r) == DDB_OK) {
        json_object *item, *attr, *n;
        if (!json_object_object_get_ex(r.response, "Item", &item))
            v = -1;
        else if (json_object_object_get_ex(item, "leased", &attr) &&
                 json_object_object_get_ex(attr, "N", &n))
            v = strtoll(json_object_get_string(n), NULL, 10);
    }
    ddb_result_clear(&r);
    json_object_put(key);
    return v;
}

static int create_usage_table(struct ddb_client *c, const char *table)
{
    struct ddb_result r;
    enum ddb_outcome o = ddb_create_table(c, table, "usageID", &r);
    ddb_result_clear(&r);
    if (o != DDB_OK)
        return -1;
    for (int i = 0; i < 100; i++) {
        int active = 0;
        if (ddb_describe_table(c, table, &r) == DDB_OK) {
            const char *status = json_object_get_string(
                json_object_object_get(json_object_object_get(r.response, "Table"), "TableStatus"));
            active = status && strcmp(status, "ACTIVE") == 0;
        }
        ddb_result_clear(&r);
        if (active)
            return 0;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void test_parse(struct tap *t)
{
    long long limit;
    enum quota_period p;
    tap_ok(t, quota_parse("10000/MONTH", &limit, &p) == 0 && limit == 10000 && p == QUOTA_MONTH,
           "parse 10000/MONTH");
    tap_ok(t, quota_parse("50/DAY", &limit, &p) == 0 && limit == 50 && p == QUOTA_DAY, "parse 50/DAY");
    tap_ok(t, quota_parse("7/WEEK", &limit, &p) == 0 && limit == 7 && p == QUOTA_WEEK, "parse 7/WEEK");
    tap_ok(t, quota_parse("", &limit, &p) == 0 && limit == 0, "empty param is no quota");
    tap_ok(t, quota_parse(NULL, &limit, &p) == 0 && limit == 0, "missing param is no quota");
    static const char *const bad[] = {"0/DAY", "-5/DAY", "10/day", "10/YEAR", "10", "/DAY", "10/",
                                      " 10/DAY", "10/DAY ", "010/DAY", "1x/DAY",
                                      "99999999999999999999/DAY", "10//DAY"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        tap_ok(t, quota_parse(bad[i], &limit, &p) == -1 && limit == 0, "reject \"%s\"", bad[i]);
}

static void test_period_keys(struct tap *t)
{
    static const struct {
        int y, mo, d, h, mi, s;
        enum quota_period p;
        const char *key;
    } cases[] = {
        {2026, 11, 25, 12, 0, 0, QUOTA_DAY, "2026-11-25"},
        {2026, 11, 25, 12, 0, 0, QUOTA_WEEK, "2026-W48"},
        {2026, 11, 25, 12, 0, 0, QUOTA_MONTH, "2026-11"},
        {2026, 12, 31, 23, 59, 59, QUOTA_DAY, "2026-12-31"},
        {2027, 1, 1, 0, 0, 0, QUOTA_DAY, "2027-01-01"},
        {2026, 12, 31, 23, 59, 59, QUOTA_MONTH, "2026-12"},
        {2027, 1, 1, 0, 0, 0, QUOTA_MONTH, "2027-01"},
        /* 2026 starts on a Thursday, so it has 53 ISO weeks; its last one runs into 2027. */
        {2026, 12, 31, 23, 59, 59, QUOTA_WEEK, "2026-W53"},
        {2027, 1, 3, 23, 59, 59, QUOTA_WEEK, "2026-W53"},
        {2027, 1, 4, 0, 0, 0, QUOTA_WEEK, "2027-W01"},
        /* Monday 2024-12-30 already belongs to 2025's week 1. */
        {2024, 12, 29, 23, 59, 59, QUOTA_WEEK, "2024-W52"},
        {2024, 12, 30, 0, 0, 0, QUOTA_WEEK, "2025-W01"},
        {2021, 1, 3, 12, 0, 0, QUOTA_WEEK, "2020-W53"},
        {2021, 1, 4, 0, 0, 0, QUOTA_WEEK, "2021-W01"},
        /* Weeks turn at Monday 00:00 UTC. */
        {2026, 11, 22, 23, 59, 59, QUOTA_WEEK, "2026-W47"},
        {2026, 11, 23, 0, 0, 0, QUOTA_WEEK, "2026-W48"},
        {2028, 2, 29, 23, 59, 59, QUOTA_DAY, "2028-02-29"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[QUOTA_PERIOD_KEY_MAX];
        time_t now = at(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi, cases[i].s);
        int rc = quota_period_key(cases[i].p, now, key, sizeof key);
        tap_ok(t, rc == 0 && strcmp(key, cases[i].key) == 0, "%s of %04d-%02d-%02dT%02d:%02d:%02dZ is %s (got %s)",
               quota_period_name(cases[i].p), cases[i].y, cases[i].mo, cases[i].d, cases[i].h,
               cases[i].mi, cases[i].s, cases[i].key, rc == 0 ? key : "error");
    }
    char tiny[4];
    tap_ok(t, quota_period_key(QUOTA_DAY, at(2026, 1, 1, 0, 0, 0), tiny, sizeof tiny) == -1,
           "a too small buffer is an error, not a cut key");
}

static void test_block_rule(struct tap *t)
{
    struct quota_state *s = quota_state_new(NULL);
    tap_ok(t, s && quota_block_size(s, 10000) == 100 && quota_block_size(s, 1000000) == 100 &&
                  quota_block_size(s, 5000) == 50 && quota_block_size(s, 99) == 1 &&
                  quota_block_size(s, 1) == 1 && quota_block_size(s, 0) == 0,
           "default block = clamp(limit/100, 1, 100)");
    quota_state_free(s);
    struct quota_options o;
    quota_options_default(&o);
    o.block_divisor = 1;
    o.block_max = 7;
    s = quota_state_new(&o);
    tap_ok(t, s && quota_block_size(s, 100) == 7 && quota_block_size(s, 3) == 3,
           "configured block: divisor 1, max 7; never more than the limit");
    quota_state_free(s);
    o.block_divisor = 0;
    tap_ok(t, quota_state_new(&o) == NULL, "a divisor of 0 is refused");
    quota_options_default(&o);
    o.max_clients = 0;
    tap_ok(t, quota_state_new(&o) == NULL, "max_clients 0 is refused");
}

/* One state admits exactly limit requests, then EXCEEDED with no further DynamoDB call. */
static void test_single(struct tap *t, struct ddb_client *c, const char *table, const char *proxy)
{
    struct quota_state *s = quota_state_new(NULL);
    if (!tap_ok(t, s != NULL, "state created"))
        return;
    const long long limit = 1000; /* block 10 */
    time_t now = at(2026, 11, 25, 12, 0, 0);
    long long admitted = 0;
    int calls = 0, unavailable = 0, max_calls_per_request = 0;
    long before = proxy_requests(proxy);
    struct quota_stats st;
    for (int i = 0; i < 1100; i++) {
        enum quota_verdict v = quota_admit(s, c, table, "solo", limit, QUOTA_DAY, now, &st);
        if (v == QUOTA_ADMIT)
            admitted++;
        else if (v == QUOTA_UNAVAILABLE)
            unavailable++;
        calls += st.ddb_calls;
        if (st.ddb_calls > max_calls_per_request)
            max_calls_per_request = st.ddb_calls;
        if (v != QUOTA_ADMIT)
            break;
    }
    long after = proxy_requests(proxy);
    tap_ok(t, admitted == limit && unavailable == 0, "one state admits exactly the limit (%lld of %lld)",
           admitted, limit);
    /* 100 leases of 10, then the failed lease and its read. */
    tap_ok(t, calls == 102 && after - before == calls,
           "one write per block: %d DynamoDB calls for %lld requests (proxy saw %ld)", calls, admitted,
           after - before);
    tap_ok(t, leased_of(c, table, "solo", "2026-11-25") == limit, "the usage item holds leased = limit");
    enum quota_verdict v = quota_admit(s, c, table, "solo", limit, QUOTA_DAY, now + 10, &st);
    tap_ok(t, v == QUOTA_EXCEEDED && st.ddb_calls == 0,
           "an exhausted client is refused with no DynamoDB call (%s, %d calls)", quota_verdict_name(v),
           st.ddb_calls);
    v = quota_admit(s, c, table, "solo", limit, QUOTA_DAY, now + 61, &st);
    tap_ok(t, v == QUOTA_EXCEEDED && st.ddb_calls >= 1,
           "after the recheck interval DynamoDB is asked again (%d calls)", st.ddb_calls);
    /* The plan grew: the same period admits the difference. */
    long long more = 0;
    for (int i = 0; i < 100; i++)
        if (quota_admit(s, c, table, "solo", limit + 25, QUOTA_DAY, now + 62, &st) == QUOTA_ADMIT)
            more++;
    tap_ok(t, more == 25, "a higher limit in the same period admits exactly the difference (%lld)", more);

    /* Reset: the next day, week and month are new usage items. */
    v = quota_admit(s, c, table, "solo", limit, QUOTA_DAY, now + 86400, &st);
    tap_ok(t, v == QUOTA_ADMIT && strcmp(st.period_key, "2026-11-26") == 0 && st.leased == 10,
           "the next day admits again with a new lease (%s, %s)", quota_verdict_name(v), st.period_key);
    quota_state_free(s);

    s = quota_state_new(NULL);
    if (!s)
        return;
    const long long week_limit = 30;
    admitted = 0;
    for (int i = 0; i < 40; i++)
        if (quota_admit(s, c, table, "weekly", week_limit, QUOTA_WEEK, now, &st) == QUOTA_ADMIT)
            admitted++;
    tap_ok(t, admitted == week_limit, "a WEEK quota admits its limit (%lld)", admitted);
    v = quota_admit(s, c, table, "weekly", week_limit, QUOTA_WEEK, at(2026, 11, 29, 23, 59, 59), &st);
    tap_ok(t, v == QUOTA_EXCEEDED, "still exceeded on Sunday 23:59:59 UTC of the same week");
    v = quota_admit(s, c, table, "weekly", week_limit, QUOTA_WEEK, at(2026, 11, 30, 0, 0, 0), &st);
    tap_ok(t, v == QUOTA_ADMIT && strcmp(st.period_key, "2026-W49") == 0,
           "Monday 00:00 UTC starts a new week (%s)", st.period_key);
    v = quota_admit(s, c, table, "weekly", week_limit, QUOTA_WEEK, now + 7 * 86400, &st);
    tap_ok(t, v == QUOTA_ADMIT, "now + 7 days admits");

    const long long month_limit = 20;
    time_t dec31 = at(2026, 12, 31, 23, 59, 0);
    admitted = 0;
    for (int i = 0; i < 30; i++)
        if (quota_admit(s, c, table, "monthly", month_limit, QUOTA_MONTH, dec31, &st) == QUOTA_ADMIT)
            admitted++;
    tap_ok(t, admitted == month_limit, "a MONTH quota admits its limit (%lld)", admitted);
    struct tm tm;
    gmtime_r(&dec31, &tm);
    tm.tm_mon += 1; /* timegm normalises December + 1 into January of the next year */
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    time_t next_month = timegm(&tm);
    v = quota_admit(s, c, table, "monthly", month_limit, QUOTA_MONTH, next_month, &st);
    tap_ok(t, v == QUOTA_ADMIT && strcmp(st.period_key, "2027-01") == 0,
           "the next month admits again (%s)", st.period_key);
    v = quota_admit(s, c, table, "monthly", month_limit, QUOTA_MONTH, next_month - 1, &st);
    tap_ok(t, v == QUOTA_EXCEEDED, "going back to December finds it exhausted");
    quota_state_free(s);
}

/* A period change drops the block of the previous period instead of spending it in the new one. */
static void test_period_change_drops_block(struct tap *t, struct ddb_client *c, const char *table)
{
    struct quota_state *s = quota_state_new(NULL);
    if (!s)
        return;
    struct quota_stats st;
    time_t day1 = at(2026, 12, 31, 23, 59, 59);
    enum quota_verdict v = quota_admit(s, c, table, "boundary", 1000, QUOTA_DAY, day1, &st);
    int first_ok = v == QUOTA_ADMIT && st.local_remaining == 9;
    v = quota_admit(s, c, table, "boundary", 1000, QUOTA_DAY, day1 + 1, &st);
    tap_ok(t, first_ok && v == QUOTA_ADMIT && st.leased == 10 && st.ddb_calls == 1 &&
                  strcmp(st.period_key, "2027-01-01") == 0 && st.local_remaining == 9,
           "Dec 31 -> Jan 1 drops the old block and leases a new one (%s)", st.period_key);
    tap_ok(t, leased_of(c, table, "boundary", "2026-12-31") == 10 &&
                  leased_of(c, table, "boundary", "2027-01-01") == 10,
           "each period has its own usage item");
    quota_state_free(s);
}

/* Deterministic interleaving of nstates workers on one client; returns what the test checks. */
static void test_shared(struct tap *t, struct ddb_client *c, const char *table, int nstates,
                        const char *client)
{
    struct quota_state *states[8] = {0};
    int ok = 1;
    for (int i = 0; i < nstates; i++)
        ok = ok && (states[i] = quota_state_new(NULL)) != NULL;
    const long long limit = 1000, block = 10;
    time_t now = at(2026, 11, 25, 12, 0, 0);
    long long admitted = 0, at_first_refusal = -1;
    int done[8] = {0}, finished = 0, unavailable = 0;
    unsigned long long rng = 88172645463325252ULL;
    for (int step = 0; ok && finished < nstates && step < 100000; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int i = (int)(rng % (unsigned long long)nstates);
        if (done[i])
            continue;
        enum quota_verdict v = quota_admit(states[i], c, table, client, limit, QUOTA_DAY, now, NULL);
        if (v == QUOTA_ADMIT) {
            admitted++;
        } else if (v == QUOTA_EXCEEDED) {
            if (at_first_refusal < 0)
                at_first_refusal = admitted;
            done[i] = 1;
            finished++;
        } else {
            unavailable++;
        }
    }
    tap_ok(t, ok && at_first_refusal >= limit - (nstates - 1) * block && at_first_refusal <= limit,
           "%d states: the first refusal comes after %lld admissions (>= limit - (states-1)*block = %lld)",
           nstates, at_first_refusal, limit - (nstates - 1) * block);
    tap_ok(t, ok && admitted == limit && unavailable == 0,
           "%d states: exactly the limit admitted in total once all are exhausted (%lld)", nstates,
           admitted);
    tap_ok(t, leased_of(c, table, client, "2026-11-25") == limit, "%d states: leased = limit", nstates);
    for (int i = 0; i < nstates; i++)
        quota_state_free(states[i]);
}

/* Truly concurrent workers (processes, each with its own client): never more than the limit. */
static void test_concurrent(struct tap *t, const char *proxy, const char *table, int nworkers)
{
    const long long limit = 500;
    time_t now = at(2026, 11, 25, 12, 0, 0);
    pid_t pids[8];
    int fds[8];
    int started = 0;
    fflush(stdout);
    for (int w = 0; w < nworkers; w++) {
        int p[2];
        if (pipe(p) != 0)
            break;
        pid_t pid = fork();
        if (pid < 0) {
            close(p[0]);
            close(p[1]);
            break;
        }
        if (pid == 0) {
            close(p[0]);
            struct ddb_client *c = new_client(proxy);
            struct quota_options o;
            quota_options_default(&o);
            o.block_divisor = 1;
            o.block_max = 7; /* 500 = 71 * 7 + 3: the remainder race happens */
            struct quota_state *s = quota_state_new(&o);
            long long admitted = 0, unavailable = 0;
            for (int i = 0; c && s && i < 5000; i++) {
                enum quota_verdict v = quota_admit(s, c, table, "racer", limit, QUOTA_DAY, now, NULL);
                if (v == QUOTA_ADMIT)
                    admitted++;
                else if (v == QUOTA_EXCEEDED)
                    break;
                else
                    unavailable++;
            }
            char line[64];
            int n = snprintf(line, sizeof line, "%lld %lld\n", c && s ? admitted : -1, unavailable);
            ssize_t wrote = write(p[1], line, (size_t)n);
            quota_state_free(s);
            ddb_client_free(c);
            _exit(wrote == n ? 0 : 1);
        }
        close(p[1]);
        pids[started] = pid;
        fds[started] = p[0];
        started++;
    }
    long long total = 0, unavailable = 0;
    int good = started == nworkers;
    for (int w = 0; w < started; w++) {
        char line[64] = {0};
        ssize_t n = read(fds[w], line, sizeof line - 1);
        close(fds[w]);
        int status = 0;
        waitpid(pids[w], &status, 0);
        long long a = -1, u = 0;
        if (n <= 0 || sscanf(line, "%lld %lld", &a, &u) != 2 || a < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            good = 0;
        else {
            total += a;
            unavailable += u;
        }
    }
    tap_ok(t, good && total == limit,
           "%d concurrent workers admit exactly the limit in total (%lld of %lld; %lld transient unavailable)",
           nworkers, total, limit, unavailable);
}

/* Threads of one worker process share one quota state; two such states stand for two processes. */
struct racer {
    struct quota_state *state;
    const char *proxy;
    const char *table;
    long long admitted;
    long long unavailable;
    int client_failed;
};

static void *race_thread(void *arg)
{
    struct racer *r = arg;
    struct ddb_client *c = new_client(r->proxy);
    if (!c) {
        r->client_failed = 1;
        return NULL;
    }
    time_t now = at(2026, 11, 25, 12, 0, 0);
    for (int i = 0; i < 5000; i++) {
        enum quota_verdict v = quota_admit(r->state, c, r->table, "thread-racer", 500, QUOTA_DAY, now, NULL);
        if (v == QUOTA_ADMIT)
            r->admitted++;
        else if (v == QUOTA_EXCEEDED)
            break;
        else
            r->unavailable++;
    }
    ddb_client_free(c);
    return NULL;
}

static void test_threads(struct tap *t, const char *proxy, const char *table)
{
    enum { STATES = 2, PER_STATE = 8 };
    struct quota_options o;
    quota_options_default(&o);
    o.block_divisor = 1;
    o.block_max = 7; /* 500 = 71 * 7 + 3: the remainder race happens */
    struct quota_state *states[STATES];
    struct racer racers[STATES * PER_STATE];
    pthread_t ids[STATES * PER_STATE];
    int started[STATES * PER_STATE] = {0};
    int ok = 1;
    for (int s = 0; s < STATES; s++)
        ok = (states[s] = quota_state_new(&o)) != NULL && ok;
    for (int i = 0; ok && i < STATES * PER_STATE; i++) {
        racers[i] = (struct racer){.state = states[i / PER_STATE], .proxy = proxy, .table = table};
        started[i] = pthread_create(&ids[i], NULL, race_thread, &racers[i]) == 0;
        ok = ok && started[i];
    }
    long long total = 0, unavailable = 0;
    for (int i = 0; i < STATES * PER_STATE; i++) {
        if (!started[i])
            continue;
        pthread_join(ids[i], NULL);
        ok = ok && !racers[i].client_failed;
        total += racers[i].admitted;
        unavailable += racers[i].unavailable;
    }
    tap_ok(t, ok && total == 500,
           "%d threads over %d shared states admit exactly the limit in total (%lld of 500; %lld unavailable)",
           STATES * PER_STATE, STATES, total, unavailable);
    for (int s = 0; s < STATES; s++)
        quota_state_free(states[s]);
}

static void test_no_quota_costs_nothing(struct tap *t, struct ddb_client *c, const char *proxy)
{
    struct quota_state *s = quota_state_new(NULL);
    if (!s)
        return;
    long before = proxy_requests(proxy);
    int all = 1, calls = 0;
    struct quota_stats st;
    for (int i = 0; i < 1000; i++) {
        all = all && quota_admit(s, c, "no-such-table", "free", 0, QUOTA_DAY, time(NULL), &st) == QUOTA_ADMIT;
        calls += st.ddb_calls;
    }
    long after = proxy_requests(proxy);
    tap_ok(t, before >= 0 && after == before && all && calls == 0,
           "limit 0 admits with no DynamoDB request (proxy count %ld -> %ld)", before, after);
    quota_state_free(s);
}

static void test_throttled(struct tap *t, struct ddb_client *c, const char *table, const char *proxy)
{
    struct quota_state *s = quota_state_new(NULL);
    if (!s)
        return;
    struct quota_stats st;
    time_t now = at(2026, 11, 25, 12, 0, 0);
    int armed = proxy_throttle(proxy, 20) == 0;
    enum quota_verdict v = quota_admit(s, c, table, "throttled", 100, QUOTA_DAY, now, &st);
    tap_ok(t, armed && v == QUOTA_UNAVAILABLE && st.last_outcome == DDB_THROTTLED && st.message[0],
           "a throttled lease is UNAVAILABLE after the client's retries (%s: %s)", quota_verdict_name(v),
           st.message);
    tap_ok(t, proxy_disarm(proxy) == 0, "throttling disarmed (the rest of the 20 dropped)");
    v = quota_admit(s, c, table, "throttled", 100, QUOTA_DAY, now, &st);
    tap_ok(t, v == QUOTA_ADMIT, "the next request leases normally (%s)", quota_verdict_name(v));
    tap_ok(t, leased_of(c, table, "throttled", "2026-11-25") == 1,
           "the throttled attempt leased nothing");

    v = quota_admit(s, c, "clone-jobs-missing-usage", "nobody", 100, QUOTA_DAY, now, &st);
    tap_ok(t, v == QUOTA_UNAVAILABLE && st.last_outcome == DDB_RESOURCE_NOT_FOUND,
           "a missing usage table is UNAVAILABLE (%s)", st.message);
    quota_state_free(s);
}

/* Unspent tokens go back on eviction and on quota_release. */
static void test_give_back(struct tap *t, struct ddb_client *c, const char *table)
{
    struct quota_options o;
    quota_options_default(&o);
    o.max_clients = 2;
    struct quota_state *s = quota_state_new(&o);
    if (!s)
        return;
    time_t now = at(2026, 11, 25, 12, 0, 0);
    struct quota_stats st;
    int ok = quota_admit(s, c, table, "evict-a", 1000, QUOTA_DAY, now, &st) == QUOTA_ADMIT &&
             quota_admit(s, c, table, "evict-b", 1000, QUOTA_DAY, now, &st) == QUOTA_ADMIT &&
             quota_admit(s, c, table, "evict-a", 1000, QUOTA_DAY, now, &st) == QUOTA_ADMIT;
    tap_ok(t, ok && leased_of(c, table, "evict-a", "2026-11-25") == 10, "a holds a block of 10");
    /* c evicts b, the least recently used. */
    ok = quota_admit(s, c, table, "evict-c", 1000, QUOTA_DAY, now, &st) == QUOTA_ADMIT;
    tap_ok(t, ok && st.ddb_calls == 2 && leased_of(c, table, "evict-b", "2026-11-25") == 1 &&
                  leased_of(c, table, "evict-a", "2026-11-25") == 10,
           "evicting the least recently used gives its 9 unspent tokens back (leased 1)");
    ok = quota_admit(s, c, table, "evict-a", 1000, QUOTA_DAY, now, &st) == QUOTA_ADMIT && st.ddb_calls == 0;
    tap_ok(t, ok && st.local_remaining == 7, "the recently used client kept its block");
    tap_ok(t, quota_release(s, c, table, now) == 0 && leased_of(c, table, "evict-a", "2026-11-25") == 3 &&
                  leased_of(c, table, "evict-c", "2026-11-25") == 1,
           "quota_release gives every unspent token back (a: 3, c: 1)");
    tap_ok(t, quota_release(s, c, table, now) == 0 && leased_of(c, table, "evict-a", "2026-11-25") == 3,
           "a second release gives nothing twice");
    quota_state_free(s);

    /* Clients cycling through a smaller state miss every time: each admission evicts a client that
     * gives its unspent tokens back, so nobody gets more (or, once all is spent, less) than the limit. */
    o.max_clients = 3;
    o.block_divisor = 1;
    o.block_max = 3;
    s = quota_state_new(&o);
    if (!s)
        return;
    long long per_client[5] = {0};
    for (int round = 0; round < 8; round++)
        for (int k = 0; k < 5; k++) {
            char name[32];
            snprintf(name, sizeof name, "cycle-%d", k);
            if (quota_admit(s, c, table, name, 6, QUOTA_DAY, now, NULL) == QUOTA_ADMIT)
                per_client[k]++;
        }
    int all_exact = 1;
    for (int k = 0; k < 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "cycle-%d", k);
        all_exact = all_exact && per_client[k] == 6 && leased_of(c, table, name, "2026-11-25") == 6;
    }
    tap_ok(t, all_exact, "5 clients cycling through a state of 3 (block 3): each admitted exactly its limit of 6");
    quota_state_free(s);
}

int main(int argc, char **argv)
{
    struct tap t = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: test_quota PROXY_URL\n");
        return 2;
    }
    const char *proxy = argv[1];
    test_parse(&t);
    test_period_keys(&t);
    test_block_rule(&t);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    char table[64];
    snprintf(table, sizeof table, "quota-test-%ld-%ld", (long)time(NULL) % 100000, (long)getpid());
    struct ddb_client *c = new_client(proxy);
    tap_ok(&t, c != NULL, "client created for %s", proxy);
    if (c && tap_ok(&t, create_usage_table(c, table) == 0, "usage table %s created", table)) {
        long start = now_ms();
        test_no_quota_costs_nothing(&t, c, proxy);
        test_single(&t, c, table, proxy);
        tap_diag(&t, "single state: %ld ms", now_ms() - start);
        test_period_change_drops_block(&t, c, table);
        start = now_ms();
        test_shared(&t, c, table, 2, "shared-2");
        test_shared(&t, c, table, 5, "shared-5");
        tap_diag(&t, "shared states: %ld ms", now_ms() - start);
        start = now_ms();
        test_concurrent(&t, proxy, table, 5);
        test_threads(&t, proxy, table);
        tap_diag(&t, "concurrent workers: %ld ms", now_ms() - start);
        start = now_ms();
        test_give_back(&t, c, table);
        tap_diag(&t, "give back: %ld ms", now_ms() - start);
        start = now_ms();
        test_throttled(&t, c, table, proxy);
        tap_diag(&t, "throttled: %ld ms", now_ms() - start);
    }
    ddb_client_free(c);
    curl_global_cleanup();
    return tap_done(&t);
}
