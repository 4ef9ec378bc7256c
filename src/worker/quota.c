/* quota.c — per-process quota accounting: blocks of a period's quota leased from DynamoDB, spent locally.
 * See quota.h for the lease protocol, the block rule and the over/under-admission bounds. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"

#include "expr.h"
#include "jsonx.h"

#define NONE SIZE_MAX
/* Larger limits would let limit - block and leased + block approach int64 range. */
#define QUOTA_LIMIT_MAX 1000000000000000LL

struct quota_entry {
    char client[QUOTA_CLIENT_MAX + 1];
    char period_key[QUOTA_PERIOD_KEY_MAX];
    enum quota_period period;
    long long limit;       /* the limit `exhausted` was learned under */
    long long tokens;      /* unspent tokens of this worker's lease for period_key */
    int exhausted;         /* DynamoDB said the period is fully leased */
    int leasing;           /* a thread is asking DynamoDB for this entry: the others wait for it */
    time_t recheck_at;     /* when to ask again although exhausted */
    size_t hash_next;      /* next entry in the same bucket */
    size_t lru_prev;       /* towards the most recently used */
    size_t lru_next;       /* towards the least recently used */
};

struct quota_state {
    pthread_mutex_t lock;       /* every field below, for the threads of one process */
    pthread_cond_t lease_done;  /* broadcast when an entry's lease call has ended */
    int sync_made;
    struct quota_options o;
    struct quota_entry *entries;
    size_t count;
    size_t *buckets;
    size_t bucket_mask;
    size_t lru_head; /* most recently used */
    size_t lru_tail; /* least recently used: evicted first */
};

void quota_options_default(struct quota_options *o)
{
    o->block_divisor = 100;
    o->block_max = 100;
    o->max_clients = 1024;
    o->exhausted_recheck_s = 60;
    o->remainder_tries = 8;
}

struct quota_state *quota_state_new(const struct quota_options *o)
{
    struct quota_options opts;
    if (o)
        opts = *o;
    else
        quota_options_default(&opts);
    if (opts.block_divisor < 1 || opts.block_max < 1 || opts.max_clients == 0 ||
        opts.max_clients > 1000000 || opts.exhausted_recheck_s < 0 || opts.remainder_tries < 1)
        return NULL;
    struct quota_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = opts;
    size_t nbuckets = 16;
    while (nbuckets < opts.max_clients * 2)
        nbuckets *= 2;
    s->entries = calloc(opts.max_clients, sizeof *s->entries);
    s->buckets = malloc(nbuckets * sizeof *s->buckets);
    if (!s->entries || !s->buckets) {
        quota_state_free(s);
        return NULL;
    }
    for (size_t i = 0; i < nbuckets; i++)
        s->buckets[i] = NONE;
    s->bucket_mask = nbuckets - 1;
    s->lru_head = s->lru_tail = NONE;
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&s->lease_done, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        goto fail;
    }
    s->sync_made = 1;
    return s;
fail:
    quota_state_free(s);
    return NULL;
}

void quota_state_free(struct quota_state *s)
{
    if (!s)
        return;
    if (s->sync_made) {
        pthread_cond_destroy(&s->lease_done);
        pthread_mutex_destroy(&s->lock);
    }
    free(s->entries);
    free(s->buckets);
    free(s);
}

long long quota_block_size(const struct quota_state *s, long long limit)
{
    if (limit <= 0)
        return 0;
    long long block = limit / s->o.block_divisor;
    if (block > s->o.block_max)
        block = s->o.block_max;
    if (block < 1)
        block = 1;
    return block > limit ? limit : block;
}

const char *quota_period_name(enum quota_period period)
{
    switch (period) {
    case QUOTA_DAY: return "DAY";
    case QUOTA_WEEK: return "WEEK";
    case QUOTA_MONTH: return "MONTH";
    }
    return "?";
}

const char *quota_verdict_name(enum quota_verdict v)
{
    switch (v) {
    case QUOTA_ADMIT: return "admit";
    case QUOTA_EXCEEDED: return "exceeded";
    case QUOTA_UNAVAILABLE: return "unavailable";
    }
    return "?";
}

int quota_parse(const char *param, long long *limit, enum quota_period *period)
{
    *limit = 0;
    *period = QUOTA_DAY;
    if (!param || !*param)
        return 0;
    long long n = 0;
    const char *p = param;
    if (*p < '1' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > QUOTA_LIMIT_MAX)
            return -1;
    }
    if (*p++ != '/')
        return -1;
    enum quota_period parsed;
    if (strcmp(p, "DAY") == 0)
        parsed = QUOTA_DAY;
    else if (strcmp(p, "WEEK") == 0)
        parsed = QUOTA_WEEK;
    else if (strcmp(p, "MONTH") == 0)
        parsed = QUOTA_MONTH;
    else
        return -1;
    *limit = n;
    *period = parsed;
    return 0;
}

int quota_period_key(enum quota_period period, time_t now, char *out, size_t outlen)
{
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return -1;
    size_t n;
    /* strftime's %G/%V are ISO 8601's week-numbering year and week (C99), independent of locale. */
    if (period == QUOTA_DAY)
        n = strftime(out, outlen, "%Y-%m-%d", &tm);
    else if (period == QUOTA_WEEK)
        n = strftime(out, outlen, "%G-W%V", &tm);
    else
        n = strftime(out, outlen, "%Y-%m", &tm);
    return n == 0 ? -1 : 0;
}

static size_t hash_name(const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

static void lru_unlink(struct quota_state *s, size_t i)
{
    struct quota_entry *e = &s->entries[i];
    if (e->lru_prev != NONE)
        s->entries[e->lru_prev].lru_next = e->lru_next;
    else
        s->lru_head = e->lru_next;
    if (e->lru_next != NONE)
        s->entries[e->lru_next].lru_prev = e->lru_prev;
    else
        s->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NONE;
}

static void lru_push_front(struct quota_state *s, size_t i)
{
    struct quota_entry *e = &s->entries[i];
    e->lru_prev = NONE;
    e->lru_next = s->lru_head;
    if (s->lru_head != NONE)
        s->entries[s->lru_head].lru_prev = i;
    s->lru_head = i;
    if (s->lru_tail == NONE)
        s->lru_tail = i;
}

static void hash_unlink(struct quota_state *s, size_t i)
{
    size_t *link = &s->buckets[hash_name(s->entries[i].client) & s->bucket_mask];
    while (*link != NONE && *link != i)
        link = &s->entries[*link].hash_next;
    if (*link == i)
        *link = s->entries[i].hash_next;
    s->entries[i].hash_next = NONE;
}

static size_t find_entry(const struct quota_state *s, const char *client)
{
    for (size_t i = s->buckets[hash_name(client) & s->bucket_mask]; i != NONE;
         i = s->entries[i].hash_next)
        if (strcmp(s->entries[i].client, client) == 0)
            return i;
    return NONE;
}

/* Add up the cost of one DynamoDB call in the caller's stats. */
static void count_call(struct quota_stats *st, const struct ddb_result *r)
{
    st->ddb_calls++;
    st->ddb_ms += r->elapsed_ms;
    st->last_outcome = r->outcome;
}

__attribute__((format(printf, 2, 3)))
static void set_message(struct quota_stats *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
}

static int add_number(json_object *values, const char *name, long long n)
{
    char text[32];
    int len = snprintf(text, sizeof text, "%lld", n);
    return json_add(values, name, expr_scalar_av("N", text, (size_t)len));
}

/* {"usageID": {"S": "client#period"}}, or NULL when out of memory. */
static json_object *usage_key(const struct quota_entry *e)
{
    char id[QUOTA_CLIENT_MAX + 1 + QUOTA_PERIOD_KEY_MAX + 1];
    int len = snprintf(id, sizeof id, "%s#%s", e->client, e->period_key);
    json_object *key = json_object_new_object();
    if (len < 0 || (size_t)len >= sizeof id || json_add(key, "usageID", expr_scalar_av("S", id, (size_t)len)) != 0) {
        json_object_put(key);
        return NULL;
    }
    return key;
}

/* One UpdateItem on the entry's usage item: values are built from up to three named numbers. */
static enum ddb_outcome update_usage(struct ddb_client *c, const char *table, const struct quota_entry *e,
                                     const char *update, const char *condition,
                                     const char *const names[], const long long numbers[], int n,
                                     struct quota_stats *st)
{
    json_object *key = usage_key(e);
    json_object *attr_names = json_object_new_object();
    json_object *values = json_object_new_object();
    json_object *leased = json_object_new_string("leased");
    int failed = !key || !attr_names || !values || !leased;
    if (!failed) {
        if (json_object_object_add(attr_names, "#l", leased) != 0)
            failed = 1;
        else
            leased = NULL; /* attr_names owns it now */
    }
    for (int i = 0; !failed && i < n; i++)
        failed = add_number(values, names[i], numbers[i]) != 0;
    enum ddb_outcome o = DDB_INTERNAL;
    if (failed) {
        set_message(st, "out of memory building the lease");
    } else {
        struct ddb_expr expr = {.condition = condition, .update = update, .names = attr_names,
                                .values = values};
        struct ddb_result r;
        o = ddb_update_item(c, table, key, &expr, NULL, &r);
        count_call(st, &r);
        if (o != DDB_OK && o != DDB_CONDITION_FAILED)
            set_message(st, "UpdateItem %s: %s %s %s", table, ddb_outcome_name(o), r.error_type,
                        r.message);
        ddb_result_clear(&r);
    }
    json_object_put(key);
    json_object_put(attr_names);
    json_object_put(values);
    json_object_put(leased);
    return o;
}

/* Read `leased` with a consistent read; *exists is 0 when there is no item or no attribute. */
static enum ddb_outcome read_leased(struct ddb_client *c, const char *table, const struct quota_entry *e,
                                    long long *leased, int *exists, struct quota_stats *st)
{
    *leased = 0;
    *exists = 0;
    json_object *key = usage_key(e);
    if (!key) {
        set_message(st, "out of memory building the read");
        return DDB_INTERNAL;
    }
    struct ddb_result r;
    enum ddb_outcome o = ddb_get_item(c, table, key, 1, &r);
    json_object_put(key);
    count_call(st, &r);
    if (o != DDB_OK) {
        set_message(st, "GetItem %s: %s %s %s", table, ddb_outcome_name(o), r.error_type, r.message);
        ddb_result_clear(&r);
        return o;
    }
    json_object *item, *attr, *n;
    if (json_object_object_get_ex(r.response, "Item", &item) &&
        json_object_object_get_ex(item, "leased", &attr)) {
        const char *text = NULL;
        if (json_object_object_get_ex(attr, "N", &n))
            text = json_object_get_string(n);
        char *end = NULL;
        errno = 0;
        long long v = text ? strtoll(text, &end, 10) : 0;
        if (!text || end == text || *end != '\0' || errno != 0) {
            set_message(st, "usage item %s#%s has a leased that is not an integer", e->client,
                        e->period_key);
            ddb_result_clear(&r);
            return DDB_INTERNAL;
        }
        *leased = v;
        *exists = 1;
    }
    ddb_result_clear(&r);
    return DDB_OK;
}

/* Lease tokens for e; on success e->tokens grows. Returns ADMIT when tokens were leased. */
static enum quota_verdict lease(struct quota_state *s, struct quota_entry *e, struct ddb_client *c,
                                const char *table, long long limit, time_t now, struct quota_stats *st)
{
    long long block = quota_block_size(s, limit);
    static const char *const full_names[] = {":zero", ":n", ":max"};
    long long full_numbers[] = {0, block, limit - block};
    enum ddb_outcome o = update_usage(c, table, e, "SET #l = if_not_exists(#l, :zero) + :n",
                                      "attribute_not_exists(#l) OR #l <= :max", full_names,
                                      full_numbers, 3, st);
    if (o == DDB_OK) {
        e->tokens += block;
        st->leased = block;
        return QUOTA_ADMIT;
    }
    if (o != DDB_CONDITION_FAILED)
        return QUOTA_UNAVAILABLE;
    /* Less than a block is left (or someone else's lease landed first): take exactly what remains,
     * conditioned on the value read so that two workers cannot both take the same remainder. */
    for (int attempt = 0; attempt < s->o.remainder_tries; attempt++) {
        long long leased;
        int exists;
        if (read_leased(c, table, e, &leased, &exists, st) != DDB_OK)
            return QUOTA_UNAVAILABLE;
        long long remaining = limit - leased;
        if (remaining <= 0) {
            e->exhausted = 1;
            e->recheck_at = now + s->o.exhausted_recheck_s;
            return QUOTA_EXCEEDED;
        }
        long long take = remaining < block ? remaining : block;
        static const char *const rem_names[] = {":new", ":read"};
        long long rem_numbers[] = {leased + take, leased};
        o = update_usage(c, table, e, "SET #l = :new",
                         exists ? "#l = :read" : "attribute_not_exists(#l)", rem_names, rem_numbers,
                         exists ? 2 : 1, st);
        if (o == DDB_OK) {
            e->tokens += take;
            st->leased = take;
            return QUOTA_ADMIT;
        }
        if (o != DDB_CONDITION_FAILED)
            return QUOTA_UNAVAILABLE;
    }
    set_message(st, "usage item %s#%s: %d remainder leases lost to other workers", e->client,
                e->period_key, s->o.remainder_tries);
    return QUOTA_UNAVAILABLE;
}

/* Give e's unspent tokens back if they belong to the current period; returns 0, or -1 when they
 * could not be returned. Either way e holds no tokens afterwards. */
static int give_back(struct quota_entry *e, struct ddb_client *c, const char *table, time_t now,
                     struct quota_stats *st)
{
    long long tokens = e->tokens;
    e->tokens = 0;
    char current[QUOTA_PERIOD_KEY_MAX];
    if (tokens <= 0 || quota_period_key(e->period, now, current, sizeof current) != 0 ||
        strcmp(current, e->period_key) != 0)
        return 0; /* nothing to give, or a past period nobody counts any more */
    static const char *const names[] = {":n"};
    long long numbers[] = {tokens};
    /* The condition keeps an operator's reset of the item (deleted or lowered) from going negative. */
    enum ddb_outcome o = update_usage(c, table, e, "SET #l = #l - :n", "#l >= :n", names, numbers, 1, st);
    return o == DDB_OK || o == DDB_CONDITION_FAILED ? 0 : -1;
}

/* The entry for client, created (evicting the least recently used) when missing; moved to the front. */
static struct quota_entry *entry_for(struct quota_state *s, struct ddb_client *c, const char *table,
                                     const char *client, time_t now, struct quota_stats *st)
{
    size_t i = find_entry(s, client);
    if (i == NONE) {
        if (s->count < s->o.max_clients) {
            i = s->count++;
        } else {
            /* The least recently used entry no thread is leasing for (at most one per thread is). */
            i = s->lru_tail;
            while (i != NONE && s->entries[i].leasing)
                i = s->entries[i].lru_prev;
            if (i == NONE)
                return NULL;
            struct quota_stats evict_stats;
            memset(&evict_stats, 0, sizeof evict_stats);
            int had_tokens = s->entries[i].tokens > 0;
            if (give_back(&s->entries[i], c, table, now, &evict_stats) == 0 && had_tokens && evict_stats.ddb_calls)
                st->leases_returned++;
            st->ddb_calls += evict_stats.ddb_calls;
            st->ddb_ms += evict_stats.ddb_ms;
            hash_unlink(s, i);
            lru_unlink(s, i);
        }
        struct quota_entry *e = &s->entries[i];
        memset(e, 0, sizeof *e);
        snprintf(e->client, sizeof e->client, "%s", client);
        size_t *bucket = &s->buckets[hash_name(client) & s->bucket_mask];
        e->hash_next = *bucket;
        *bucket = i;
        e->lru_prev = e->lru_next = NONE;
    } else {
        lru_unlink(s, i);
    }
    lru_push_front(s, i);
    return &s->entries[i];
}

/* Decide with e under s->lock held; may release it while DynamoDB is asked (e->leasing set meanwhile).
 * Returns the verdict, or -1 when e is being leased by another thread and the caller must look again. */
static int admit_locked(struct quota_state *s, struct quota_entry *e, struct ddb_client *c, const char *usage_table,
                        long long limit, time_t now, struct quota_stats *st)
{
    if (e->leasing) {
        /* Another thread is asking for this client: its lease will likely serve this request too. */
        pthread_cond_wait(&s->lease_done, &s->lock);
        return -1;
    }
    if (e->period != st->period || strcmp(e->period_key, st->period_key) != 0) {
        /* A new period is a new usage item: the old block counts for nothing now. */
        snprintf(e->period_key, sizeof e->period_key, "%s", st->period_key);
        e->period = st->period;
        e->tokens = 0;
        e->exhausted = 0;
    }
    if (e->limit != limit) {
        /* The plan changed: what was exhausted under the old limit may not be under this one. */
        e->limit = limit;
        e->exhausted = 0;
    }
    enum quota_verdict v = QUOTA_ADMIT;
    if (e->tokens <= 0) {
        if (e->exhausted && now < e->recheck_at) {
            v = QUOTA_EXCEEDED;
        } else {
            /* Ask DynamoDB without the lock, on a copy: no other thread touches e while it is leasing
             * (they wait above) and eviction passes it by, so the answer is applied to the same entry. */
            struct quota_entry work = *e;
            e->leasing = 1;
            pthread_mutex_unlock(&s->lock);
            v = lease(s, &work, c, usage_table, limit, now, st);
            pthread_mutex_lock(&s->lock);
            e->tokens = work.tokens;
            e->exhausted = work.exhausted;
            e->recheck_at = work.recheck_at;
            e->leasing = 0;
            pthread_cond_broadcast(&s->lease_done);
        }
    }
    if (v == QUOTA_ADMIT)
        e->tokens--;
    st->local_remaining = e->tokens;
    return (int)v;
}

enum quota_verdict quota_admit(struct quota_state *s, struct ddb_client *c, const char *usage_table,
                               const char *client, long long limit, enum quota_period period,
                               time_t now, struct quota_stats *out)
{
    struct quota_stats local;
    struct quota_stats *st = out ? out : &local;
    memset(st, 0, sizeof *st);
    st->last_outcome = DDB_OK;
    if (limit <= 0)
        return QUOTA_ADMIT;
    if (limit > QUOTA_LIMIT_MAX) {
        set_message(st, "quota limit %lld is over %lld", limit, QUOTA_LIMIT_MAX);
        return QUOTA_UNAVAILABLE;
    }
    size_t len = client ? strlen(client) : 0;
    if (len == 0 || len > QUOTA_CLIENT_MAX) {
        set_message(st, "client name is empty or longer than %d bytes", QUOTA_CLIENT_MAX);
        return QUOTA_UNAVAILABLE;
    }
    if (quota_period_key(period, now, st->period_key, sizeof st->period_key) != 0) {
        set_message(st, "time %lld has no %s period", (long long)now, quota_period_name(period));
        return QUOTA_UNAVAILABLE;
    }
    st->period = period;
    if (pthread_mutex_lock(&s->lock) != 0) {
        set_message(st, "the quota lock failed");
        return QUOTA_UNAVAILABLE;
    }
    int v;
    do {
        struct quota_entry *e = entry_for(s, c, usage_table, client, now, st);
        if (!e) {
            set_message(st, "every quota entry is being leased");
            v = QUOTA_UNAVAILABLE;
            break;
        }
        v = admit_locked(s, e, c, usage_table, limit, now, st);
    } while (v < 0);
    pthread_mutex_unlock(&s->lock);
    return (enum quota_verdict)v;
}

int quota_release(struct quota_state *s, struct ddb_client *c, const char *usage_table, time_t now)
{
    return quota_release_counted(s, c, usage_table, now, NULL);
}

int quota_release_counted(struct quota_state *s, struct ddb_client *c, const char *usage_table, time_t now,
                          int *returned)
{
    /* Called once no other thread serves any more; the lock only keeps the rule that it guards the state. */
    if (pthread_mutex_lock(&s->lock) != 0)
        return (int)s->count;
    int failures = 0;
    for (size_t i = 0; i < s->count; i++) {
        struct quota_stats st;
        memset(&st, 0, sizeof st);
        if (give_back(&s->entries[i], c, usage_table, now, &st) != 0)
            failures++;
        else if (returned && st.ddb_calls)
            (*returned)++;
    }
    pthread_mutex_unlock(&s->lock);
    return failures;
}
