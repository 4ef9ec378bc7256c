/* quota.h — usage-plan quotas (N requests per DAY, ISO WEEK or MONTH) counted in DynamoDB across every box.
 * Each worker process leases blocks of a period's quota with one conditional UpdateItem and spends them
 * locally; its threads share the blocks (the state locks inside, and only one thread leases per client).
 *
 * The usage table (default "clone-jobs-usage", string key "usageID") holds one item per client and
 * period: usageID = "<client>#<period>", where period is "2026-11-25" (DAY, UTC), "2026-W48" (ISO 8601
 * week, weeks start Monday 00:00 UTC, the year is the ISO week-numbering year) or "2026-11" (MONTH).
 * Its attribute `leased` (N) is the sum of every block handed out for that period. A new period is a
 * new item, so the quota resets by itself at the boundary, with no job to run.
 *
 * Block rule: block = clamp(limit / block_divisor, 1, block_max), defaults block_divisor 100 and
 * block_max 100 (so 10000/MONTH leases 100 at a time, 50/DAY leases 1 at a time). A block never
 * exceeds the limit.
 *
 * Lease: UpdateItem SET leased = if_not_exists(leased, 0) + block
 *        IF attribute_not_exists(leased) OR leased <= limit - block.
 * When that condition fails, less than a block remains: read `leased` (consistent read) and lease
 * exactly min(limit - leased, block) with the condition `leased = <the value read>`, retrying a few
 * times when another worker got there first. Every successful update keeps leased <= limit.
 *
 * Bounds: every admitted request spent a token of a lease, and the leases never sum to more than the
 * limit, so OVER-admission is ZERO, however many workers and boxes there are. UNDER-admission is the
 * tokens leased but not spent: at most one block per worker process per client at any moment (a process
 * leases only when its block is empty, and one thread at a time per client). Those tokens come back to the pool (leased -= unspent) when an entry
 * is evicted and when the worker calls quota_release() on a clean exit; a worker that is killed loses
 * its unspent tokens for the rest of that period. So with W workers all serving one client, the period
 * admits at least limit - (W - 1) * block requests before any of them answers EXCEEDED, and exactly
 * limit once every worker has spent its block.
 *
 * Cost: no DynamoDB call for a request served from a block, one UpdateItem per block, a GetItem and
 * an UpdateItem per remainder lease near the end, and none for a client known to be exhausted (that
 * knowledge is rechecked at most every exhausted_recheck_s, since other workers may return tokens).
 * limit <= 0 means no quota: no DynamoDB call and no state at all. */
#ifndef CLONE_JOBS_QUOTA_H
#define CLONE_JOBS_QUOTA_H

#include <stddef.h>
#include <time.h>

#include "ddb.h"

/* Longest client (API key) name tracked; the key store allows 64. */
#define QUOTA_CLIENT_MAX 128
/* "2026-11-25", "2026-W48", "2026-11" and room for years past 9999. */
#define QUOTA_PERIOD_KEY_MAX 24

enum quota_period { QUOTA_DAY, QUOTA_WEEK, QUOTA_MONTH };

enum quota_verdict {
    QUOTA_ADMIT,       /* serve the request */
    QUOTA_EXCEEDED,    /* 429 Limit Exceeded */
    QUOTA_UNAVAILABLE, /* DynamoDB could not be asked (or the usage table is missing): 503 */
};

struct quota_options {
    long long block_divisor;   /* default 100 */
    long long block_max;       /* default 100 */
    size_t max_clients;        /* tracked per worker, least recently used evicted; default 1024 */
    int exhausted_recheck_s;   /* default 60 */
    int remainder_tries;       /* remainder leases lost to other workers before UNAVAILABLE; default 8 */
};

/* What one quota_admit did, for the worker's log line. */
struct quota_stats {
    int ddb_calls;                         /* DynamoDB requests made (0 on the fast path) */
    long ddb_ms;                           /* time spent in them, retries included */
    long long leased;                      /* tokens leased by this call (0 when none) */
    long long local_remaining;             /* tokens left in this worker's block afterwards */
    enum ddb_outcome last_outcome;         /* of the last DynamoDB call, DDB_OK when none */
    char period_key[QUOTA_PERIOD_KEY_MAX]; /* "" when there is no quota */
    enum quota_period period;              /* of period_key */
    char message[256];                     /* why, when UNAVAILABLE */
    int leases_returned;                   /* evicted entries whose unspent tokens went back (metrics) */
};

struct quota_state;

void quota_options_default(struct quota_options *o);

/* A worker process's quota state, safe to use from its threads; o may be NULL for the defaults. Returns NULL when out of memory or when an
 * option is out of range (divisor or block_max < 1, max_clients 0 or over 1000000). */
struct quota_state *quota_state_new(const struct quota_options *o);
/* Frees the state only; call quota_release() first to give unspent tokens back. NULL is fine. */
void quota_state_free(struct quota_state *s);

/* The block leased for a limit under these options (0 when limit <= 0). */
long long quota_block_size(const struct quota_state *s, long long limit);

/* Decide one request of client under the quota limit per period at time now. The client's name is
 * part of the usage item's key; usage_table is the table's name. out may be NULL. */
enum quota_verdict quota_admit(struct quota_state *s, struct ddb_client *c, const char *usage_table,
                               const char *client, long long limit, enum quota_period period,
                               time_t now, struct quota_stats *out);

/* Give every unspent token of the current periods back to the usage table (a worker about to exit
 * calls this). Returns the number of entries whose tokens could not be returned (they stay lost). */
int quota_release(struct quota_state *s, struct ddb_client *c, const char *usage_table, time_t now);
/* The same; *returned (may be NULL) counts the entries whose tokens did go back (for the metrics). */
int quota_release_counted(struct quota_state *s, struct ddb_client *c, const char *usage_table, time_t now,
                          int *returned);

/* The FastCGI param text: "10000/MONTH", "50/DAY", "7/WEEK"; NULL or "" is no quota (*limit = 0).
 * Returns 0, or -1 on anything else (a limit below 1 or over 10^15, an unknown period, spaces). */
int quota_parse(const char *param, long long *limit, enum quota_period *period);

/* The usage item's period part for now, e.g. "2026-W48". Returns 0, or -1 when out is too small
 * or the time cannot be represented. */
int quota_period_key(enum quota_period period, time_t now, char *out, size_t outlen);

const char *quota_period_name(enum quota_period period);
const char *quota_verdict_name(enum quota_verdict v);

#endif
