/* gateway_check.c — gateway = worker: x-api-key against the key store, the plan's rate and burst, API Gateway's
 * 403/429; why: under Apache or classic hosting no nginx is in front to keep those promises (see the .h). */
#include "config.h"

#include "gateway_check.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "keystore_read.h"
#include "rate_table.h"
#include "reply.h"

#define DIGEST_BYTES 32

struct gw_plan {
    long rate, burst;
    char quota[64]; /* "10000/MONTH", or "" */
};

struct gw_key {
    unsigned char digest[DIGEST_BYTES];
    char name[KS_NAME_MAX + 1];
    size_t plan;
};

/* What identifies one version of a file: clone-jobs-admin replaces the files by rename, so a new version
 * is a new inode; size and times catch an edit in place. */
struct file_sig {
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct gateway_state {
    const struct conf *conf;
    pthread_rwlock_t lock;      /* readers: requests; writer: a reload */
    int loaded;                 /* keys and plans hold the files of sig */
    struct file_sig sig[2];     /* keys.tsv, plans.tsv */
    struct gw_key *keys;        /* active keys only */
    size_t nkeys;
    struct gw_plan *plans;
    size_t nplans;
    char load_error[512];       /* why the last reload failed */
    struct rate_table *rates;
};

static const char *const FILES[2] = {"keys.tsv", "plans.tsv"};

static int file_sig_read(const char *dir, const char *name, struct file_sig *s, char *err, size_t errlen)
{
    char path[PATH_MAX];
    memset(s, 0, sizeof *s);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        snprintf(err, errlen, "%s/%s: path too long", dir, name);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0; /* no file yet: no keys (ks_load reads it as empty too) */
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    s->exists = 1;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtime = st.st_mtim;
    s->ctime = st.st_ctim;
    return 0;
}

static int file_sig_same(const struct file_sig *a, const struct file_sig *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void drop_snapshot(struct gateway_state *g)
{
    free(g->keys);
    free(g->plans);
    g->keys = NULL;
    g->plans = NULL;
    g->nkeys = g->nplans = 0;
    g->loaded = 0;
}

/* Under the write lock: read the store into a new snapshot. Returns 0, or -1 with g->load_error. */
static int load_snapshot(struct gateway_state *g, const struct file_sig sig[2])
{
    struct keystore ks;
    drop_snapshot(g);
    if (ks_load(&ks, g->conf->keys_dir, g->load_error, sizeof g->load_error) != 0)
        return -1;
    int status = 0;
    g->plans = calloc(ks.nplans ? ks.nplans : 1, sizeof *g->plans);
    g->keys = calloc(ks.nkeys ? ks.nkeys : 1, sizeof *g->keys);
    if (!g->plans || !g->keys) {
        snprintf(g->load_error, sizeof g->load_error, "out of memory reading the key store");
        status = -1;
    }
    for (size_t i = 0; status == 0 && i < ks.nplans; i++) {
        const struct ks_plan *p = &ks.plans[i];
        struct gw_plan *q = &g->plans[g->nplans++];
        q->rate = p->rate;
        q->burst = p->burst;
        if (p->quota > 0)
            snprintf(q->quota, sizeof q->quota, "%lld/%s", p->quota, p->period);
    }
    for (size_t i = 0; status == 0 && i < ks.nkeys; i++) {
        const struct ks_key *k = &ks.keys[i];
        if (k->revoked)
            continue;
        struct gw_key *out = &g->keys[g->nkeys];
        for (int b = 0; b < DIGEST_BYTES; b++)
            out->digest[b] = (unsigned char)(hex_value(k->digest[2 * b]) << 4 | hex_value(k->digest[2 * b + 1]));
        snprintf(out->name, sizeof out->name, "%s", k->name);
        const struct ks_plan *p = ks_find_plan(&ks, k->plan);
        out->plan = p ? (size_t)(p - ks.plans) : 0; /* ks_load made sure every key's plan exists */
        g->nkeys++;
    }
    ks_free(&ks);
    if (status != 0) {
        drop_snapshot(g);
        return -1;
    }
    g->sig[0] = sig[0];
    g->sig[1] = sig[1];
    g->loaded = 1;
    return 0;
}

/* Make sure the snapshot is the files' current version. Returns 0, or -1 with err. */
static int refresh(struct gateway_state *g, char *err, size_t errlen)
{
    struct file_sig now[2];
    for (int i = 0; i < 2; i++)
        if (file_sig_read(g->conf->keys_dir, FILES[i], &now[i], err, errlen) != 0)
            return -1;
    if (pthread_rwlock_rdlock(&g->lock) != 0) {
        snprintf(err, errlen, "the key store's lock failed");
        return -1;
    }
    int current = g->loaded && file_sig_same(&now[0], &g->sig[0]) && file_sig_same(&now[1], &g->sig[1]);
    pthread_rwlock_unlock(&g->lock);
    if (current)
        return 0;
    if (pthread_rwlock_wrlock(&g->lock) != 0) {
        snprintf(err, errlen, "the key store's lock failed");
        return -1;
    }
    int rc = 0;
    /* Another thread may have read this version meanwhile. */
    if (!(g->loaded && file_sig_same(&now[0], &g->sig[0]) && file_sig_same(&now[1], &g->sig[1])))
        rc = load_snapshot(g, now);
    if (rc != 0)
        snprintf(err, errlen, "%s", g->load_error);
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

struct gateway_state *gateway_state_new(const struct conf *conf, char *err, size_t errlen)
{
    struct gateway_state *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->conf = conf;
    if (pthread_rwlock_init(&g->lock, NULL) != 0) {
        snprintf(err, errlen, "pthread_rwlock_init failed");
        free(g);
        return NULL;
    }
    g->rates = rate_table_open(conf->state_dir, err, errlen);
    if (!g->rates || refresh(g, err, errlen) != 0) {
        gateway_state_free(g);
        return NULL;
    }
    return g;
}

void gateway_state_free(struct gateway_state *g)
{
    if (!g)
        return;
    drop_snapshot(g);
    rate_table_close(g->rates);
    pthread_rwlock_destroy(&g->lock);
    free(g);
}

void gateway_forget_identity(struct http_request *req)
{
    snprintf(req->client, sizeof req->client, "-");
    req->quota[0] = '\0';
}

static void forbidden(struct request_stats *st, struct http_response *resp, const char *why)
{
    reply_gateway_error(st, resp, 403, "forbidden", "Forbidden", "ForbiddenException");
    snprintf(st->detail, sizeof st->detail, "%s", why);
}

int gateway_check(struct gateway_state *g, struct http_request *req, struct http_response *resp,
                  struct request_stats *st)
{
    /* Exactly one x-api-key header (a server that joins repeated ones into "a, b" gives no key either). */
    const char *key = NULL;
    int count = 0;
    for (size_t i = 0; i < req->header_count; i++)
        if (strcmp(req->headers[i].name, "x-api-key") == 0) {
            key = req->headers[i].value;
            count++;
        }
    if (count != 1) {
        forbidden(st, resp, count ? "more than one x-api-key header" : "no x-api-key header");
        return 0;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest(key, strlen(key), digest, &digest_len, EVP_sha256(), NULL) != 1 || digest_len != DIGEST_BYTES) {
        reply_internal(st, resp, "SHA-256 failed");
        return 0;
    }
    char err[512];
    if (refresh(g, err, sizeof err) != 0) {
        char detail[600];
        snprintf(detail, sizeof detail, "the key store cannot be read: %s", err);
        reply_internal(st, resp, detail);
        return 0;
    }
    if (pthread_rwlock_rdlock(&g->lock) != 0) {
        reply_internal(st, resp, "the key store's lock failed");
        return 0;
    }
    /* Every digest is compared in full: no early exit, and the match is selected without a branch. */
    size_t found = 0, match = 0;
    for (size_t i = 0; i < g->nkeys; i++) {
        size_t same = (size_t)(CRYPTO_memcmp(g->keys[i].digest, digest, DIGEST_BYTES) == 0);
        size_t mask = (size_t)0 - same;
        match = (match & ~mask) | (i & mask);
        found |= same;
    }
    char client[KS_NAME_MAX + 1] = "";
    struct gw_plan plan = {0};
    if (found) {
        snprintf(client, sizeof client, "%s", g->keys[match].name);
        plan = g->plans[g->keys[match].plan];
    }
    pthread_rwlock_unlock(&g->lock);
    if (!found) {
        forbidden(st, resp, "unknown or revoked key");
        return 0;
    }
    snprintf(req->client, sizeof req->client, "%s", client);
    enum rate_verdict v = rate_table_take(g->rates, client, plan.rate, plan.burst, rate_table_now_ms());
    if (v == RATE_LIMITED) {
        reply_gateway_error(st, resp, 429, "rate_limited", "Too Many Requests", "TooManyRequestsException");
        return 0;
    }
    if (v == RATE_BUSY) {
        reply_outcome(st, "rate_table_busy", "the rate table's lock was not had within a second");
        reply_unavailable(resp);
        return 0;
    }
    snprintf(req->quota, sizeof req->quota, "%s", plan.quota);
    return 1;
}
