/* key_usage.c — requests per key per day in leased blocks: a token taken with one compare-and-swap, the lock only to
 * find an entry, lease and settle, DynamoDB once a block; see key_usage.h for the item, the lease, bound and cost. */
#include "config.h"

#include "key_usage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "jsonx.h"

#define NONE SIZE_MAX
#define DAY_SECONDS 86400 /* Unix time has no leap seconds: a UTC day is always this long */

/* The entry's token count and the generation of its slot in one word, so that a thread's cached slot can take a
 * token with one compare-and-swap and never from an entry settled or reused meanwhile (its generation moved). */
#define GEN(w) ((unsigned)((w) >> 32))
#define TOKENS(w) ((long long)((w)&0xffffffffu))
#define WORD(gen, tokens) (((uint64_t)(gen) << 32) | (uint64_t)(tokens))

struct entry {
    /* Under the lock. */
    int used;
    char client[KEY_USAGE_CLIENT_MAX + 1];
    long day;
    long long owed;     /* served without a token */
    int leasing;        /* a thread is writing a lease for it: it stays (never settled) meanwhile */
    time_t retry_at;    /* after a failed lease: no new try before this */
    size_t hash_next;   /* next used entry in the same bucket, or the next free slot */
    /* Also touched without the lock, by the threads' fast path. */
    _Atomic uint64_t state;  /* WORD(generation, tokens leased and not spent) */
    _Atomic long last_used;  /* seconds: which entry makes room when the table is full */
};

struct key_usage {
    pthread_mutex_t lock; /* every field below and the entries' fields marked so */
    long long block;
    struct entry *entries;
    size_t max;
    size_t *buckets;
    size_t mask;
    size_t free_head;     /* unused slots, linked by hash_next */
};

/* An entry taken out of the table, to write outside the lock. */
struct settle {
    char client[KEY_USAGE_CLIENT_MAX + 1];
    long day;
    long long delta; /* owed - tokens */
};

struct key_usage *key_usage_new(long long block, size_t max_clients)
{
    if (block < 1 || block > 0x7fffffff || max_clients == 0 || max_clients > 1000000)
        return NULL;
    struct key_usage *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    size_t nb = 16;
    while (nb < max_clients * 2)
        nb *= 2;
    u->entries = calloc(max_clients, sizeof *u->entries);
    u->buckets = malloc(nb * sizeof *u->buckets);
    if (!u->entries || !u->buckets || pthread_mutex_init(&u->lock, NULL) != 0) {
        free(u->entries);
        free(u->buckets);
        free(u);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++)
        u->buckets[i] = NONE;
    for (size_t i = 0; i < max_clients; i++)
        u->entries[i].hash_next = i + 1 < max_clients ? i + 1 : NONE;
    u->free_head = 0;
    u->mask = nb - 1;
    u->max = max_clients;
    u->block = block;
    return u;
}

void key_usage_free(struct key_usage *u)
{
    if (!u)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u->entries);
    free(u->buckets);
    free(u);
}

static int format_day(long day, char *out, size_t len)
{
    time_t t = (time_t)day * DAY_SECONDS;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -1;
    return strftime(out, len, "%Y-%m-%d", &tm) == 0 ? -1 : 0;
}

int key_usage_day(time_t now, char *out, size_t len)
{
    return format_day((long)(now / DAY_SECONDS), out, len);
}

int key_usage_item_id(const char *client, const char *day, char *out, size_t len)
{
    int n = snprintf(out, len, "%s#%s#" KEY_USAGE_ATTRIBUTE, client, day);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static size_t hash(const char *client, long day)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the name, then the day */
    for (const unsigned char *p = (const unsigned char *)client; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ (uint64_t)day) * 1099511628211ULL;
    return (size_t)h;
}

static size_t find(const struct key_usage *u, const char *client, long day)
{
    for (size_t i = u->buckets[hash(client, day) & u->mask]; i != NONE; i = u->entries[i].hash_next)
        if (u->entries[i].day == day && strcmp(u->entries[i].client, client) == 0)
            return i;
    return NONE;
}

/* Take entry i out of the table into s (its write is the caller's, outside the lock); its slot is free again and
 * its generation moves on, so no thread's cache takes a token from it any more. */
static void take_out(struct key_usage *u, size_t i, struct settle *s)
{
    struct entry *e = &u->entries[i];
    uint64_t w = atomic_load(&e->state);
    while (!atomic_compare_exchange_weak(&e->state, &w, WORD(GEN(w) + 1, 0)))
        ;
    snprintf(s->client, sizeof s->client, "%s", e->client);
    s->day = e->day;
    s->delta = e->owed - TOKENS(w);
    size_t *link = &u->buckets[hash(e->client, e->day) & u->mask];
    while (*link != NONE && *link != i)
        link = &u->entries[*link].hash_next;
    if (*link == i)
        *link = e->hash_next;
    e->used = 0;
    e->hash_next = u->free_head;
    u->free_head = i;
}

/* An entry to settle: one of a day before `today` (when given), else the least recently used; never one being
 * leased. A scan: it runs only on the slow path, about once per block of requests. */
static size_t settle_candidate(const struct key_usage *u, const long *today)
{
    size_t best = NONE;
    long best_used = 0;
    for (size_t i = 0; i < u->max; i++) {
        const struct entry *e = &u->entries[i];
        if (!e->used || e->leasing)
            continue;
        if (today) {
            if (e->day < *today)
                return i;
            continue;
        }
        long used = atomic_load_explicit((_Atomic long *)&e->last_used, memory_order_relaxed);
        if (best == NONE || used < best_used) {
            best = i;
            best_used = used;
        }
    }
    return best;
}

/* ADD requests :n to the item of client and day; a negative n (tokens given back) only when the item holds at
 * least that many, so an operator's reset cannot go below zero. Returns the outcome. */
static enum ddb_outcome add_requests(struct ddb_client *c, const char *table, const char *client, long day,
                                     long long n, struct key_usage_stats *st)
{
    char id[KEY_USAGE_ID_MAX], date[KEY_USAGE_DAY_MAX], number[32], least[32];
    if (format_day(day, date, sizeof date) != 0 || key_usage_item_id(client, date, id, sizeof id) != 0)
        return DDB_VALIDATION;
    int len = snprintf(number, sizeof number, "%lld", n);
    int least_len = snprintf(least, sizeof least, "%lld", n < 0 ? -n : 0);
    json_object *key = json_object_new_object();
    json_object *names = json_object_new_object();
    json_object *values = json_object_new_object();
    enum ddb_outcome o = DDB_INTERNAL;
    if (json_add(key, "usageID", expr_scalar_av("S", id, strlen(id))) == 0 &&
        json_add(names, "#r", json_object_new_string(KEY_USAGE_ATTRIBUTE)) == 0 &&
        json_add(values, ":n", expr_scalar_av("N", number, (size_t)len)) == 0 &&
        (n >= 0 || json_add(values, ":least", expr_scalar_av("N", least, (size_t)least_len)) == 0)) {
        struct ddb_expr e = {.update = "ADD #r :n", .condition = n < 0 ? "#r >= :least" : NULL,
                             .names = names, .values = values};
        struct ddb_result r;
        o = ddb_update_item(c, table, key, &e, NULL, &r);
        st->ddb_calls++;
        ddb_result_clear(&r);
    }
    json_object_put(key);
    json_object_put(names);
    json_object_put(values);
    return o;
}

/* Write a taken-out entry's difference. Returns 0, or -1 when the write failed. */
static int settle_write(struct ddb_client *c, const char *table, const struct settle *s, struct key_usage_stats *st)
{
    if (s->delta == 0)
        return 0;
    enum ddb_outcome o = add_requests(c, table, s->client, s->day, s->delta, st);
    if (o == DDB_OK) {
        if (s->delta < 0)
            st->returned++;
        else
            st->written++;
        return 0;
    }
    /* A failed condition: the item was reset below what this process leased; nothing is left to give back. */
    if (o == DDB_CONDITION_FAILED)
        return 0;
    st->failed++;
    return -1;
}

/* One token from e if it has any (and is still the generation the caller knows, when gen is given). */
static int take_token(struct entry *e, const unsigned *gen)
{
    uint64_t w = atomic_load_explicit(&e->state, memory_order_relaxed);
    while (TOKENS(w) > 0 && (!gen || GEN(w) == *gen))
        if (atomic_compare_exchange_weak_explicit(&e->state, &w, w - 1, memory_order_relaxed, memory_order_relaxed))
            return 1;
    return 0;
}

static void touch(struct entry *e, time_t now)
{
    /* A load first: the store (to a line other threads read) only once a second. */
    if (atomic_load_explicit(&e->last_used, memory_order_relaxed) != (long)now)
        atomic_store_explicit(&e->last_used, (long)now, memory_order_relaxed);
}

void key_usage_count(struct key_usage *u, struct key_usage_cache *cache, struct ddb_client *c, const char *table,
                     const char *client, time_t now, struct key_usage_stats *st)
{
    size_t clen = client ? strlen(client) : 0;
    if (!u || clen == 0 || clen > KEY_USAGE_CLIENT_MAX || now < 0)
        return;
    long day = (long)(now / DAY_SECONDS);
    /* The fast path: the entry this thread counted last, one compare-and-swap, no lock. */
    if (cache && cache->valid && cache->day == day && strcmp(cache->client, client) == 0) {
        struct entry *e = &u->entries[cache->slot];
        if (take_token(e, &cache->generation)) {
            touch(e, now);
            return;
        }
    }
    struct settle out[2];
    int settles = 0;
    int lease = 0;
    if (pthread_mutex_lock(&u->lock) != 0)
        return;
    size_t i = find(u, client, day);
    if (i == NONE) {
        if (u->free_head == NONE) {
            size_t victim = settle_candidate(u, NULL);
            if (victim == NONE) {
                /* Every entry is being leased (more threads than entries): this request goes uncounted. */
                pthread_mutex_unlock(&u->lock);
                st->failed++;
                return;
            }
            take_out(u, victim, &out[settles++]);
        }
        i = u->free_head;
        struct entry *e = &u->entries[i];
        u->free_head = e->hash_next;
        e->used = 1;
        snprintf(e->client, sizeof e->client, "%s", client);
        e->day = day;
        e->owed = 0;
        e->leasing = 0;
        e->retry_at = 0;
        size_t *bucket = &u->buckets[hash(client, day) & u->mask];
        e->hash_next = *bucket;
        *bucket = i;
    }
    struct entry *e = &u->entries[i];
    touch(e, now);
    if (!take_token(e, NULL)) {
        e->owed++;
        if (!e->leasing && now >= e->retry_at) {
            e->leasing = 1;
            lease = 1;
        }
    }
    if (cache) {
        cache->valid = 1;
        cache->slot = i;
        cache->generation = GEN(atomic_load(&e->state));
        cache->day = day;
        snprintf(cache->client, sizeof cache->client, "%s", client);
    }
    /* A day that ended: settle one of its entries per slow path, so yesterday's counts become exact soon. */
    if (settles == 0) {
        size_t old = settle_candidate(u, &day);
        if (old != NONE)
            take_out(u, old, &out[settles++]);
    }
    pthread_mutex_unlock(&u->lock);

    for (int k = 0; k < settles; k++)
        (void)settle_write(c, table, &out[k], st);
    if (!lease)
        return;
    /* No lock while DynamoDB is asked: the entry stays in its slot (take_out passes a leasing entry by). */
    enum ddb_outcome o = add_requests(c, table, client, day, u->block, st);
    if (pthread_mutex_lock(&u->lock) != 0)
        return;
    e->leasing = 0;
    if (o == DDB_OK) {
        /* The block joins the tokens, less what was served meanwhile without one (owed). */
        uint64_t w = atomic_load(&e->state), next;
        long long spent;
        do {
            long long tokens = TOKENS(w) + u->block;
            spent = tokens < e->owed ? tokens : e->owed;
            next = WORD(GEN(w), tokens - spent);
        } while (!atomic_compare_exchange_weak(&e->state, &w, next));
        e->owed -= spent;
    } else {
        e->retry_at = now + KEY_USAGE_RETRY_S;
    }
    pthread_mutex_unlock(&u->lock);
    if (o == DDB_OK)
        st->leased++;
    else
        st->failed++;
}

int key_usage_release(struct key_usage *u, struct ddb_client *c, const char *table, struct key_usage_stats *st)
{
    if (!u)
        return 0;
    int failures = 0;
    for (;;) {
        struct settle s;
        if (pthread_mutex_lock(&u->lock) != 0)
            return failures + 1;
        size_t i = settle_candidate(u, NULL);
        if (i != NONE)
            take_out(u, i, &s);
        pthread_mutex_unlock(&u->lock);
        if (i == NONE)
            return failures;
        if (c ? settle_write(c, table, &s, st) != 0 : s.delta != 0)
            failures++;
    }
}
