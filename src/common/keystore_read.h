/* keystore_read.h — the key store's record in memory: plans.tsv and keys.tsv read and checked (formats in
 * src/admin/keystore.h). Shared by clone-jobs-admin, which changes it, and the worker (gateway = worker). */
#ifndef CLONE_JOBS_KEYSTORE_READ_H
#define CLONE_JOBS_KEYSTORE_READ_H

#include <stddef.h>

#define KS_NAME_MAX 64
#define KS_KEY_LEN 40           /* base64url characters */
#define KS_KEY_RANDOM_BYTES 30  /* 240 bits */
#define KS_DIGEST_LEN 64        /* SHA-256 in lowercase hex */
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
    char digest[KS_DIGEST_LEN + 1]; /* SHA-256 of the secret, which is printed once by add-key and kept nowhere */
};

struct keystore {
    struct ks_plan *plans;
    size_t nplans, plans_cap;
    struct ks_key *keys;
    size_t nkeys, keys_cap;
};

/* Read DIR/plans.tsv and DIR/keys.tsv (a missing file is empty). Every row is checked as keystore.h says,
 * and every key's plan must exist. Returns 0, or -1 with "FILE:LINE: ..." in err (never the secret). */
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

/* The SHA-256 of key in lowercase hex, as nginx/clone-jobs-gateway.js computes it. Returns 0, or -1. */
int ks_key_digest(const char *key, size_t len, char out[KS_DIGEST_LEN + 1]);

/* 1 when another key of ks already has this digest. */
int ks_digest_taken(const struct keystore *ks, const char *digest);

/* Room for one more key in ks->keys (at most KS_MAX_KEYS). Returns 0, or -1. */
int ks_reserve_key(struct keystore *ks);

/* A plan's part of nginx variable and zone names: its name with '-' as '_'. */
void ks_plan_suffix(const char *name, char *out, size_t outlen);

#endif
