/* key_usage.h — requests per API key per day, counted in DynamoDB in leased blocks, for every key (with or
 * without a quota), so `clone-jobs-admin usage` can show API Gateway's GetUsage without a write per request.
 *
 * The item: in the usage table (the quotas' table, key usageID), usageID = "<client>#<day>#requests" (day
 * "2026-11-25", UTC; client names never hold '#', so it cannot meet a quota item "<client>#<period>"), with
 * the number attribute `requests`.
 *
 * The lease, as quotas do (quota.h): a worker process that serves a key's request with no token left adds
 * `block` to the item with one UpdateItem (ADD requests :block) and spends the block locally, one token per
 * request. Requests served while that write is under way (or after it failed: it is tried again at most every
 * KEY_USAGE_RETRY_S) are owed, and taken out of the next block. When an entry is settled it writes the
 * difference: the unspent tokens are taken back (ADD requests -n, on condition the item holds at least n), the
 * owed requests added. Entries are settled when the process exits cleanly, when the least recently used entry
 * makes room (at most max_clients keys and days per process), and soon after a day ends (each count settles
 * at most one entry of a past day).
 *
 * Bound: for each worker process, key and day, the stored count minus the requests served is between
 * -(requests owed: served while a lease write was pending or failing) and +(block - 1) (the unspent tokens of
 * the current lease); with W processes serving a key, the stored day is at most W x (block - 1) above the truth,
 * and never below it while DynamoDB accepts the writes. Settled entries are exact: after every process exited
 * cleanly, the count is the number of requests served. A killed process leaves its unspent tokens counted
 * (at most block - 1 per key and day).
 *
 * Cost: one UpdateItem per `block` requests per process, key and day, plus one when the entry is settled.
 * block 1 is a write per request and exact at all times; the default is 100. On the request path (after the
 * answer): a thread that counted the same key and day last time takes its token with one compare-and-swap on the
 * entry, no lock and no system call; the lock is taken to find another key's entry, to lease and to settle. */
#ifndef CLONE_JOBS_KEY_USAGE_H
#define CLONE_JOBS_KEY_USAGE_H

#include <stddef.h>
#include <time.h>

#include "ddb.h"

#define KEY_USAGE_CLIENT_MAX 128
#define KEY_USAGE_DAY_MAX 16
/* "<client>#<day>#requests" */
#define KEY_USAGE_ID_MAX (KEY_USAGE_CLIENT_MAX + KEY_USAGE_DAY_MAX + 16)
/* A failed lease write is tried again after this long (meanwhile requests are owed, never refused). */
#define KEY_USAGE_RETRY_S 5
#define KEY_USAGE_ATTRIBUTE "requests"

/* What one call did, for the worker's metrics. */
struct key_usage_stats {
    int leased;     /* lease writes that succeeded */
    int returned;   /* settle writes that gave unspent tokens back */
    int written;    /* settle writes that recorded owed requests */
    int failed;     /* writes that failed (the requests stay owed, or the tokens counted) */
    int ddb_calls;
};

struct key_usage;

/* A thread's memory of the entry it counted last: its token is then one compare-and-swap away. Zero it once. */
struct key_usage_cache {
    int valid;
    size_t slot;
    unsigned generation;  /* of the entry in that slot when seen: a settled or reused entry has another */
    long day;             /* days since 1970-01-01 UTC */
    char client[KEY_USAGE_CLIENT_MAX + 1];
};

/* A process's usage counting with leases of block requests, tracking at most max_clients keys and days.
 * Returns NULL when out of memory or block < 1 or max_clients 0. */
struct key_usage *key_usage_new(long long block, size_t max_clients);
/* Frees the state only; key_usage_release first gives the unspent tokens back. NULL is fine. */
void key_usage_free(struct key_usage *u);

/* Count one request of client served at now. Makes at most a lease write and a settle write; never fails
 * the request (a failed write leaves the request owed). Safe from every thread of the process. */
void key_usage_count(struct key_usage *u, struct key_usage_cache *cache, struct ddb_client *c, const char *table,
                     const char *client, time_t now, struct key_usage_stats *st);

/* Settle every entry (a process about to exit, no thread counting any more). Returns the entries whose write
 * failed. */
int key_usage_release(struct key_usage *u, struct ddb_client *c, const char *table, struct key_usage_stats *st);

/* The usage item's key for client and day ("2026-11-25"). Returns 0, or -1 when it does not fit. */
int key_usage_item_id(const char *client, const char *day, char *out, size_t len);
/* The UTC day of now as "2026-11-25". Returns 0, or -1. */
int key_usage_day(time_t now, char *out, size_t len);

#endif
