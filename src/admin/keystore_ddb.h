/* keystore_ddb.h — the key store in DynamoDB (key_store = dynamodb): keys, plans and the boxes' heartbeats in one
 * table (keys_table, string key "id"), written with conditional writes by clone-jobs-admin and read by every box's sync.
 *
 * Items (the key itself is never stored, only its SHA-256 digest, as in keys.tsv):
 *   id "plan#NAME"  kind plan, name, rate, burst, quota (N), period ("-" without quota), created, created_by,
 *                   updated, updated_by
 *   id "key#NAME"   kind key, name, plan, digest, created, created_by, status active|revoked, and once changed:
 *                   revoked, revoked_by, moved, moved_by
 *   id "box#ID"     kind box, box, seen (N, Unix seconds of the box's last sync), seen_at (RFC 3339)
 * Times are RFC 3339 UTC; "by" is who ran clone-jobs-admin (--by, else $SUDO_USER, else the user). */
#ifndef CLONE_JOBS_KEYSTORE_DDB_H
#define CLONE_JOBS_KEYSTORE_DDB_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "ddb.h"
#include "keystore.h"

#define KD_KEY_ATTRIBUTE "id"

/* A DynamoDB client for the configuration's endpoint, region, profile and ddb_* settings (curl must be
 * initialised). Returns NULL with err. */
struct ddb_client *kd_client_new(const struct conf *conf, char *err, size_t errlen);

/* Read the whole table (consistent Scan, every page) into ks (empty on entry; ks_free it). Every item is
 * checked as keystore.h checks the files; one bad item fails the whole load, so a sync never renders a part.
 * live_boxes: the heartbeats with seen >= live_after (NULL: not counted). Returns 0, or -1 with err. */
int kd_load(struct ddb_client *c, const char *table, struct keystore *ks, long long live_after, int *live_boxes,
            char *err, size_t errlen);

/* Write the plan p as it is in the store now (created and created_by kept from its first write). */
int kd_put_plan(struct ddb_client *c, const char *table, const struct ks_plan *p, time_t now, const char *by,
                char *err, size_t errlen);
/* Write the new key k, only if no key of that name exists (names are never reused). Returns 0, 1 when the
 * name is taken, or -1 with err. */
int kd_put_key(struct ddb_client *c, const char *table, const struct ks_key *k, const char *by, char *err,
               size_t errlen);
/* Revoke the key, only if it exists and is active. Returns 0, 1 when it is not (missing or revoked), or -1. */
int kd_revoke_key(struct ddb_client *c, const char *table, const char *name, time_t now, const char *by,
                  char *err, size_t errlen);
/* Move the key to plan, only if the key exists (the caller checked the plan: plans are never deleted).
 * Returns 0, 1 when there is no such key, or -1 with err. */
int kd_move_key(struct ddb_client *c, const char *table, const char *name, const char *plan, time_t now,
                const char *by, char *err, size_t errlen);
/* Record that box synced at now. Returns 0, or -1 with err. */
int kd_heartbeat(struct ddb_client *c, const char *table, const char *box, time_t now, char *err, size_t errlen);

#endif
