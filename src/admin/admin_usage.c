/* admin_usage.c — per-key daily usage from the usage table: BatchGetItem of "<key>#<day>#requests" items, 100 at
 * a time, consistent reads; a table or GetUsage-shaped JSON. Keys come from the key store unless one is named. */
#include "config.h"

#include "admin_usage.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_config.h"
#include "ddb.h"
#include "jsonx.h"
#include "key_usage.h"
#include "keystore.h"

#define BATCH 100          /* BatchGetItem's own limit */
#define UNPROCESSED_TRIES 8

void admin_usage_usage(FILE *to)
{
    fprintf(to,
            "usage per key per day:\n"
            "  usage [KEY] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json] [--keys-dir DIR]\n"
            "                   requests of KEY (default: every key of the key store) on each day (UTC) from\n"
            "                   --from to --to (--to defaults to today, --from to --to; at most %d days), with\n"
            "                   the quota remaining for"
            " keys whose plan has a daily quota; --json prints GetUsage's shape\n",
            ADMIN_USAGE_MAX_DAYS);
}

/* "2026-11-25" to the Unix time of its midnight UTC; -1 when it is not a real date. */
static time_t parse_day(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    struct tm back;
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != m - 1)
        return -1;
    return t;
}

struct usage_key {
    char name[KS_NAME_MAX + 1];
    long long daily_quota; /* 0: none (or not a DAY quota) */
};

struct query {
    struct usage_key *keys;
    size_t nkeys;
    char (*days)[KEY_USAGE_DAY_MAX];
    size_t ndays;
    long long *used; /* [key * ndays + day] */
};

/* The keys to report, with their daily quotas: the one named (its plan from the store when it is there), or
 * every key of the store. */
static int load_keys(struct query *q, const char *one, const char *keys_dir)
{
    struct keystore ks;
    char err[512];
    int have_store = ks_load(&ks, keys_dir, err, sizeof err) == 0;
    if (!have_store && !one) {
        fprintf(stderr, "clone-jobs-admin usage: %s (name a KEY, or --keys-dir)\n", err);
        return -1;
    }
    size_t n = one ? 1 : ks.nkeys;
    q->keys = calloc(n ? n : 1, sizeof *q->keys);
    if (!q->keys) {
        if (have_store)
            ks_free(&ks);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = one ? one : ks.keys[i].name;
        snprintf(q->keys[i].name, sizeof q->keys[i].name, "%s", name);
        const struct ks_key *k = have_store ? ks_find_key(&ks, name) : NULL;
        const struct ks_plan *p = k ? ks_find_plan(&ks, k->plan) : NULL;
        if (p && p->quota > 0 && strcmp(p->period, "DAY") == 0)
            q->keys[i].daily_quota = p->quota;
    }
    q->nkeys = n;
    if (have_store)
        ks_free(&ks);
    return 0;
}

/* Where an item's id belongs in q->used (-1: not one of ours). */
static long index_of(const struct query *q, const char *id)
{
    for (size_t k = 0; k < q->nkeys; k++) {
        size_t len = strlen(q->keys[k].name);
        if (strncmp(id, q->keys[k].name, len) != 0 || id[len] != '#')
            continue;
        for (size_t d = 0; d < q->ndays; d++) {
            char want[KEY_USAGE_ID_MAX];
            if (key_usage_item_id(q->keys[k].name, q->days[d], want, sizeof want) == 0 && strcmp(want, id) == 0)
                return (long)(k * q->ndays + d);
        }
    }
    return -1;
}

static int read_items(struct query *q, json_object *items)
{
    size_t n = json_object_array_length(items);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(items, i), *id, *s, *count, *num;
        if (!json_object_object_get_ex(item, "usageID", &id) || !json_object_object_get_ex(id, "S", &s))
            continue;
        long at = index_of(q, json_object_get_string(s));
        if (at < 0)
            continue;
        if (json_object_object_get_ex(item, KEY_USAGE_ATTRIBUTE, &count) && json_object_object_get_ex(count, "N", &num))
            q->used[at] = strtoll(json_object_get_string(num), NULL, 10);
    }
    return 0;
}

/* One BatchGetItem of keys (owned), following UnprocessedKeys. */
static int batch_get(struct ddb_client *c, const char *table, json_object *keys, struct query *q)
{
    json_object *pending = keys;
    for (int attempt = 0; attempt < UNPROCESSED_TRIES; attempt++) {
        /* {"RequestItems": {table: {"Keys": pending, "ConsistentRead": true}}}, each level taking the one below. */
        json_object *t = json_object_new_object();
        json_object *items = NULL, *req = NULL;
        int built = json_add(t, "Keys", pending) == 0;
        pending = NULL;
        built = built && json_add(t, "ConsistentRead", json_object_new_boolean(1)) == 0;
        if (built) {
            items = json_object_new_object();
            built = json_add(items, table, t) == 0;
            t = NULL;
        }
        if (built) {
            req = json_object_new_object();
            built = json_add(req, "RequestItems", items) == 0;
            items = NULL;
        }
        if (!built) {
            json_object_put(t);
            json_object_put(items);
            json_object_put(req);
            fprintf(stderr, "clone-jobs-admin usage: out of memory\n");
            return -1;
        }
        struct ddb_result r;
        enum ddb_outcome o = ddb_call(c, "BatchGetItem", req, &r);
        json_object_put(req);
        if (o != DDB_OK) {
            fprintf(stderr, "clone-jobs-admin usage: BatchGetItem on %s: %s %s %s\n", table, ddb_outcome_name(o),
                    r.error_type, r.message);
            ddb_result_clear(&r);
            return -1;
        }
        json_object *responses, *got, *unprocessed, *left, *left_keys;
        if (json_object_object_get_ex(r.response, "Responses", &responses) &&
            json_object_object_get_ex(responses, table, &got))
            read_items(q, got);
        if (json_object_object_get_ex(r.response, "UnprocessedKeys", &unprocessed) &&
            json_object_object_get_ex(unprocessed, table, &left) &&
            json_object_object_get_ex(left, "Keys", &left_keys) && json_object_array_length(left_keys) > 0)
            pending = json_object_get(left_keys);
        ddb_result_clear(&r);
        if (!pending)
            return 0;
        /* DynamoDB left some out (throttling): a short pause that doubles, then the rest. */
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(50000000L << (attempt < 4 ? attempt : 4))};
        nanosleep(&ts, NULL);
    }
    json_object_put(pending);
    fprintf(stderr, "clone-jobs-admin usage: DynamoDB kept leaving keys unprocessed\n");
    return -1;
}

static int read_usage(struct ddb_client *c, const char *table, struct query *q)
{
    json_object *keys = NULL;
    size_t total = q->nkeys * q->ndays;
    for (size_t i = 0; i < total; i++) {
        if (!keys && !(keys = json_object_new_array()))
            return -1;
        char id[KEY_USAGE_ID_MAX];
        json_object *key = json_object_new_object();
        json_object *s = json_object_new_object();
        int built = key_usage_item_id(q->keys[i / q->ndays].name, q->days[i % q->ndays], id, sizeof id) == 0 &&
                    json_add(s, "S", json_object_new_string(id)) == 0;
        if (built) {
            built = json_add(key, "usageID", s) == 0;
            s = NULL;
        }
        built = built && json_object_array_add(keys, key) == 0;
        if (!built) {
            json_object_put(s);
            json_object_put(key);
            json_object_put(keys);
            fprintf(stderr, "clone-jobs-admin usage: out of memory\n");
            return -1;
        }
        if (json_object_array_length(keys) == BATCH || i + 1 == total) {
            int rc = batch_get(c, table, keys, q);
            keys = NULL;
            if (rc != 0)
                return -1;
        }
    }
    return 0;
}

static int print_json(const struct query *q)
{
    json_object *root = json_object_new_object();
    json_object *items = json_object_new_object();
    int failed = json_add(root, "startDate", json_object_new_string(q->days[0])) != 0 ||
                 json_add(root, "endDate", json_object_new_string(q->days[q->ndays - 1])) != 0;
    if (!failed) {
        failed = json_add(root, "items", items) != 0; /* takes items either way */
        items = NULL;
    }
    for (size_t k = 0; k < q->nkeys && !failed; k++) {
        json_object *per_day = json_object_new_array();
        failed = json_add(json_object_object_get(root, "items"), q->keys[k].name, per_day) != 0;
        for (size_t d = 0; d < q->ndays && !failed; d++) {
            long long used = q->used[k * q->ndays + d];
            long long quota = q->keys[k].daily_quota;
            /* GetUsage's pair: requests used, and what the quota has left (null without a daily quota). */
            json_object *pair = json_object_new_array();
            if (!pair || json_object_array_add(per_day, pair) != 0) {
                json_object_put(pair);
                failed = 1;
                break;
            }
            json_object *n = json_object_new_int64(used);
            if (!n || json_object_array_add(pair, n) != 0) {
                json_object_put(n);
                failed = 1;
                break;
            }
            json_object *left = quota > 0 ? json_object_new_int64(used < quota ? quota - used : 0) : NULL;
            if ((quota > 0 && !left) || json_object_array_add(pair, left) != 0) {
                json_object_put(left);
                failed = 1;
            }
        }
    }
    const char *text = failed ? NULL : json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    int ok = text && printf("%s\n", text) > 0;
    json_object_put(items);
    json_object_put(root);
    if (failed)
        fprintf(stderr, "clone-jobs-admin usage: out of memory\n");
    return ok ? 0 : -1;
}

static int print_table(const struct query *q)
{
    if (printf("%-24s %-10s %12s %12s\n", "KEY", "DAY", "REQUESTS", "REMAINING") < 0)
        return -1;
    for (size_t k = 0; k < q->nkeys; k++)
        for (size_t d = 0; d < q->ndays; d++) {
            long long used = q->used[k * q->ndays + d];
            char remaining[32] = "-";
            if (q->keys[k].daily_quota > 0)
                snprintf(remaining, sizeof remaining, "%lld",
                         used < q->keys[k].daily_quota ? q->keys[k].daily_quota - used : 0);
            if (printf("%-24s %-10s %12lld %12s\n", q->keys[k].name, q->days[d], used, remaining) < 0)
                return -1;
        }
    return 0;
}

static struct ddb_client *client_for(const struct conf *conf)
{
    struct ddb_options o;
    ddb_options_from_conf(&o, conf);
    struct aws_settings settings;
    char err[512];
    struct ddb_client *c = NULL;
    if (aws_settings_load(&settings, conf->profile[0] ? conf->profile : NULL, conf->region[0] ? conf->region : NULL,
                          conf->endpoint[0] ? conf->endpoint : NULL, err, sizeof err) != 0 ||
        !(c = ddb_client_new(&o, &settings, err, sizeof err)))
        fprintf(stderr, "clone-jobs-admin usage: %s\n", err);
    return c;
}

int admin_usage_main(int argc, char **argv, const struct conf *conf)
{
    const char *key = NULL, *from = NULL, *to = NULL, *keys_dir = conf->keys_dir;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 || strcmp(a, "--keys-dir") == 0) && i + 1 < argc) {
            const char **target = a[2] == 'f' ? &from : a[2] == 't' ? &to : &keys_dir;
            *target = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (a[0] != '-' && !key) {
            key = a;
        } else {
            fprintf(stderr, "clone-jobs-admin usage: unexpected argument %s\n", a);
            admin_usage_usage(stderr);
            return 2;
        }
    }
    if (key && !ks_name_valid(key)) {
        fprintf(stderr, "clone-jobs-admin usage: %s is not a key name ([A-Za-z0-9_-]{1,64})\n", key);
        return 2;
    }
    char today[KEY_USAGE_DAY_MAX];
    if (key_usage_day(time(NULL), today, sizeof today) != 0)
        return 1;
    time_t first = parse_day(from ? from : to ? to : today), last = parse_day(to ? to : today);
    if (first < 0 || last < 0 || last < first || (last - first) / 86400 + 1 > ADMIN_USAGE_MAX_DAYS) {
        fprintf(stderr, "clone-jobs-admin usage: --from and --to are days YYYY-MM-DD, from <= to, at most %d days\n",
                ADMIN_USAGE_MAX_DAYS);
        return 2;
    }
    struct query q = {0};
    q.ndays = (size_t)((last - first) / 86400 + 1);
    q.days = calloc(q.ndays, sizeof *q.days);
    int status = 1;
    if (!q.days || load_keys(&q, key, keys_dir) != 0)
        goto done;
    for (size_t d = 0; d < q.ndays; d++)
        if (key_usage_day(first + (time_t)d * 86400, q.days[d], sizeof q.days[d]) != 0)
            goto done;
    q.used = calloc(q.nkeys * q.ndays + 1, sizeof *q.used);
    if (!q.used)
        goto done;
    if (q.nkeys > 0) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            goto done;
        struct ddb_client *c = client_for(conf);
        int rc = c ? read_usage(c, conf->usage_table, &q) : -1;
        ddb_client_free(c);
        curl_global_cleanup();
        if (rc != 0)
            goto done;
    }
    status = (json ? print_json(&q) : print_table(&q)) == 0 && fflush(stdout) == 0 ? 0 : 1;
done:
    free(q.keys);
    free(q.days);
    free(q.used);
    return status;
}
