/* keystore.h — the API keys and usage plans: two .tsv files of record, and the nginx files made from them.
 * clone-jobs-admin loads, changes and writes them under a lock; nginx only ever reads the generated files.
 * Reading and checking the record is keystore_read.h (src/common/), which the worker shares (gateway = worker).
 *
 * Everything lives in one directory (default /etc/clone-jobs). The files of record, tab-separated,
 * one row per line, no header:
 *   plans.tsv  NAME RATE BURST QUOTA PERIOD        e.g. "gold\t10\t20\t10000\tMONTH", "free\t1\t0\t0\t-"
 *              RATE requests/second (1..1000000), BURST 0..1000000, QUOTA 0 (none) or 1..10^15,
 *              PERIOD DAY|WEEK|MONTH, or - exactly when QUOTA is 0.                       mode 0644
 *   keys.tsv   NAME PLAN CREATED STATUS DIGEST      e.g. "alice\tgold\t2026-11-25T18:00:00Z\tactive\t<64>"
 *              CREATED RFC 3339 UTC, STATUS active|revoked, DIGEST the SHA-256 of the key in 64
 *              lowercase hex digits. The key itself (40 base64url characters: 30 random bytes = 240
 *              bits from getrandom(2)) is printed once by add-key and stored nowhere. A row holding a
 *              40-character key (written before digests) is read and rewritten as its digest.
 *              Rows stay after revocation, so a name is never reused.         mode 0600, root only
 * Names are [A-Za-z0-9_-]{1,64}. Plan names must also differ in nginx's eyes: nginx variable names are
 * case-insensitive and cannot hold '-', so a plan's variable suffix is its name with '-' as '_', and two
 * plans whose suffixes match ignoring case are refused; map's keywords (default, hostnames, include,
 * volatile) are refused as plan names.
 *
 * The generated files (mode 0640, root:<nginx group>), each starting with one "# generated" comment:
 *   api-keys.map      DIGEST "name";  per active key  (inside map $api_key_digest $api_client { ... })
 *   api-plans.map     DIGEST "plan";  per active key  (inside map $api_key_digest $api_plan { ... })
 *                     nginx's map compares strings ignoring case, so it is keyed by the digest (always
 *                     lowercase hex), which nginx/clone-jobs-gateway.js computes from the one x-api-key
 *                     header: a key in any other case has another digest and matches nothing.
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

#include "keystore_read.h"

/* Add an active key with a fresh secret, copied into key_out (KS_KEY_LEN + 1 bytes).
 * Returns 0, or -1 with err (bad or taken name, unknown plan, too many keys, no randomness). */
int ks_add_key(struct keystore *ks, const char *name, const char *plan, time_t now, char *key_out,
               char *err, size_t errlen);

/* Fill out with KS_KEY_LEN base64url characters of KS_KEY_RANDOM_BYTES random bytes and a NUL.
 * Returns 0, or -1 when the OS random source fails. */
int ks_random_key(char out[KS_KEY_LEN + 1]);

/* Write every file atomically: the two .tsv files, then the five nginx files. When running as root
 * the nginx files are chowned to root:nginx_gid (nginx_gid (gid_t)-1: leave the group). record_for_group
 * (gateway = worker, whose workers read keys.tsv): keys.tsv is 0640 and that group's too. Returns 0, or
 * -1 with err; a failure part-way leaves each file either old or new, and `render` repairs the set. */
int ks_write(const struct keystore *ks, const char *dir, gid_t nginx_gid, int record_for_group, char *err,
             size_t errlen);

/* ks_write for the sync (key_store = dynamodb): a file whose content is already exactly the new one is left
 * alone (its mode and owner too), and *changed is set to 1 when any file was written (it is not reset). */
int ks_write_changed(const struct keystore *ks, const char *dir, gid_t nginx_gid, int record_for_group,
                     int *changed, char *err, size_t errlen);

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
