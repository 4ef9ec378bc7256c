/* keystore.h — the API keys and usage plans: two .tsv files of record, and the nginx files made from them.
 * clone-jobs-admin loads, changes and writes them under a lock; nginx only ever reads the generated files.
 *
 * Everything lives in one directory (default /etc/clone-jobs). The files of record, tab-separated,
 * one row per line, no header:
 *   plans.tsv  NAME RATE BURST QUOTA PERIOD        e.g. "gold\t10\t20\t10000\tMONTH", "free\t1\t0\t0\t-"
 *              RATE requests/second (1..1000000), BURST 0..1000000, QUOTA 0 (none) or 1..10^15,
 *              PERIOD DAY|WEEK|MONTH, or - exactly when QUOTA is 0.                       mode 0644
 *   keys.tsv   NAME PLAN CREATED STATUS KEY         e.g. "alice\tgold\t2026-11-25T18:00:00Z\tactive\t<40>"
 *              CREATED RFC 3339 UTC, STATUS active|revoked, KEY 40 base64url characters (30 random
 *              bytes = 240 bits from getrandom(2)). Rows stay after revocation, so a name is never
 *              reused.                                                           mode 0600, root only
 * Names are [A-Za-z0-9_-]{1,64}. Plan names must also differ in nginx's eyes: nginx variable names are
 * case-insensitive and cannot hold '-', so a plan's variable suffix is its name with '-' as '_', and two
 * plans whose suffixes match ignoring case are refused; map's keywords (default, hostnames, include,
 * volatile) are refused as plan names.
 *
 * The generated files (mode 0640, root:<nginx group>), each starting with one "# generated" comment:
 *   api-keys.map      KEY "name";  per active key  (inside map $http_x_api_key $api_client { ... })
 *   api-plans.map     KEY "plan";  per active key  (inside map $http_x_api_key $api_plan { ... })
 *   plan-quota.map    plan "10000/MONTH";  per plan, "" for none (inside map $api_plan $api_quota)
 *   plan-zones.conf   per plan, at http level:
 *                       map $api_plan $limit_key_SUFFIX { plan $api_client; default ""; }
 *                       limit_req_zone $limit_key_SUFFIX zone=plan_SUFFIX:1m rate=RATEr/s;
 *   plan-limits.conf  per plan, at location level: limit_req zone=plan_SUFFIX burst=BURST nodelay;
 *                     (burst 0: limit_req zone=plan_SUFFIX nodelay; as nginx refuses burst=0)
 * Every file is replaced atomically: a temporary file in the same directory, fsync, rename, fsync of
 * the directory. A reader (nginx reloading) sees the old file or the new one, never a mix. */
#ifndef CLONE_JOBS_KEYSTORE_H
#define CLONE_JOBS_KEYSTORE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define KS_NAME_MAX 64
#define KS_KEY_LEN 40           /* base64url characters */
#define KS_KEY_RANDOM_BYTES 30  /* 240 bits */
#define KS_CREATED_LEN 20       /* 2026-11-25T18:00:00Z */
#define KS_MAX_PLANS 1000
#define KS_MAX_KEYS 100000
#define KS_RATE_MAX 1000000L
#define KS_BURST_MAX 1000000L
#define KS_QUOTA_MAX 1000000000000000LL

struct ks_plan {
    char name[KS_NAME_MAX + 1];
    long rate;
    long burst;
    long long quota;   /* 0: none */
    char period[8];    /* "DAY", "WEEK", "MONTH", or "-" when quota is 0 */
};

struct ks_key {
    char name[KS_NAME_MAX + 1];
    char plan[KS_NAME_MAX + 1];
    char created[KS_CREATED_LEN + 1];
    int revoked;
    char key[KS_KEY_LEN + 1]; /* the secret: never printed except once by add-key */
};

struct keystore {
    struct ks_plan *plans;
    size_t nplans, plans_cap;
    struct ks_key *keys;
    size_t nkeys, keys_cap;
};

/* Read DIR/plans.tsv and DIR/keys.tsv (a missing file is empty). Every row is checked as above and
 * every key's plan must exist. Returns 0, or -1 with "FILE:LINE: ..." in err (never the secret). */
int ks_load(struct keystore *ks, const char *dir, char *err, size_t errlen);
void ks_free(struct keystore *ks);

/* 1 when name matches [A-Za-z0-9_-]{1,64}. */
int ks_name_valid(const char *name);

struct ks_plan *ks_find_plan(const struct keystore *ks, const char *name);
struct ks_key *ks_find_key(const struct keystore *ks, const char *name);

/* Add the plan or replace its settings. period is NULL or "-" for no quota (quota must be 0 then).
 * Returns 0, or -1 with err (bad name, out of range, a clash in nginx's names, too many plans). */
int ks_set_plan(struct keystore *ks, const char *name, long rate, long burst, long long quota,
                const char *period, char *err, size_t errlen);

/* Add an active key with a fresh secret, copied into key_out (KS_KEY_LEN + 1 bytes).
 * Returns 0, or -1 with err (bad or taken name, unknown plan, too many keys, no randomness). */
int ks_add_key(struct keystore *ks, const char *name, const char *plan, time_t now, char *key_out,
               char *err, size_t errlen);

/* Fill out with KS_KEY_LEN base64url characters of KS_KEY_RANDOM_BYTES random bytes and a NUL.
 * Returns 0, or -1 when the OS random source fails. */
int ks_random_key(char out[KS_KEY_LEN + 1]);

/* Write every file atomically: the two .tsv files, then the five nginx files. When running as root
 * the nginx files are chowned to root:nginx_gid (nginx_gid (gid_t)-1: leave the group). Returns 0, or
 * -1 with err; a failure part-way leaves each file either old or new, and `render` repairs the set. */
int ks_write(const struct keystore *ks, const char *dir, gid_t nginx_gid, char *err, size_t errlen);

/* The text of one generated file ("api-keys.map", ...) in a malloc'd string (the caller frees),
 * or NULL when out of memory or the name is unknown. */
char *ks_render(const struct keystore *ks, const char *file);

/* Create DIR (mode 0750, root:nginx group as root) when it is missing; an existing one is left as it
 * is. Returns 0, or -1 with err. */
int ks_make_dir(const char *dir, gid_t nginx_gid, char *err, size_t errlen);

/* Take an exclusive flock on DIR/.lock, waiting at most wait_ms. Returns the descriptor (close it to
 * unlock), or -1 with err. */
int ks_lock(const char *dir, long wait_ms, char *err, size_t errlen);

#endif
