/* keystore_read.c — reads and checks the key store's record, plans.tsv and keys.tsv (see keystore_read.h).
 * Below the worker and the admin tool: clone-jobs-admin changes the record, gateway = worker checks keys by it. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "keystore_read.h"
#include "text.h"

#define LINE_MAX_BYTES 1024

void ks_free(struct keystore *ks)
{
    free(ks->plans);
    free(ks->keys);
    memset(ks, 0, sizeof *ks);
}

int ks_name_valid(const char *name)
{
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char ch = *p;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return n >= 1 && n <= KS_NAME_MAX;
}

static int is_base64url(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

static int key_text_valid(const char *key)
{
    size_t n = 0;
    for (; key[n]; n++)
        if (!is_base64url(key[n]))
            return 0;
    return n == KS_KEY_LEN;
}

static int digest_text_valid(const char *digest)
{
    size_t n = strspn(digest, "0123456789abcdef");
    return n == KS_DIGEST_LEN && digest[n] == '\0';
}

int ks_key_digest(const char *key, size_t len, char out[KS_DIGEST_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(key, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len * 2 != KS_DIGEST_LEN)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[KS_DIGEST_LEN] = '\0';
    return 0;
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* nginx lowercases map keys, so two secrets equal ignoring case would be one entry to it. */
static int same_ignoring_case(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower(*a) != lower(*b))
            return 0;
    return *a == *b;
}

/* The plan's part of nginx variable and zone names: '-' cannot appear in a variable name. */
void ks_plan_suffix(const char *name, char *out, size_t outlen)
{
    size_t i = 0;
    for (; name[i] && i + 1 < outlen; i++)
        out[i] = name[i] == '-' ? '_' : name[i];
    out[i] = '\0';
}

static int suffixes_clash(const char *a, const char *b)
{
    char sa[KS_NAME_MAX + 1], sb[KS_NAME_MAX + 1];
    ks_plan_suffix(a, sa, sizeof sa);
    ks_plan_suffix(b, sb, sizeof sb);
    return same_ignoring_case(sa, sb);
}

static int is_map_keyword(const char *name)
{
    static const char *const words[] = {"default", "hostnames", "include", "volatile"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(name, words[i]) == 0)
            return 1;
    return 0;
}

struct ks_plan *ks_find_plan(const struct keystore *ks, const char *name)
{
    for (size_t i = 0; i < ks->nplans; i++)
        if (strcmp(ks->plans[i].name, name) == 0)
            return &ks->plans[i];
    return NULL;
}

struct ks_key *ks_find_key(const struct keystore *ks, const char *name)
{
    for (size_t i = 0; i < ks->nkeys; i++)
        if (strcmp(ks->keys[i].name, name) == 0)
            return &ks->keys[i];
    return NULL;
}

/* Strict decimal: digits only, no sign, no leading zero unless "0", within [min, max]. */
static int parse_number(const char *text, long long min, long long max, long long *out)
{
    if (!*text || (text[0] == '0' && text[1]))
        return -1;
    long long v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (LLONG_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int period_valid(const char *p)
{
    return strcmp(p, "DAY") == 0 || strcmp(p, "WEEK") == 0 || strcmp(p, "MONTH") == 0;
}

/* Checks shared by the file loader and add-plan; on success *out is a complete plan. */
static int check_plan(const struct keystore *ks, const struct ks_plan *self, const char *name, long rate,
                      long burst, long long quota, const char *period, char *err, size_t errlen)
{
    if (!ks_name_valid(name)) {
        text_set_error(err, errlen, "plan name must be 1 to %d of A-Z a-z 0-9 _ -", KS_NAME_MAX);
        return -1;
    }
    if (is_map_keyword(name)) {
        text_set_error(err, errlen, "plan name %s is an nginx map keyword", name);
        return -1;
    }
    if (rate < 1 || rate > KS_RATE_MAX) {
        text_set_error(err, errlen, "rate must be an integer from 1 to %ld requests/second", KS_RATE_MAX);
        return -1;
    }
    if (burst < 0 || burst > KS_BURST_MAX) {
        text_set_error(err, errlen, "burst must be an integer from 0 to %ld", KS_BURST_MAX);
        return -1;
    }
    if (quota < 0 || quota > KS_QUOTA_MAX) {
        text_set_error(err, errlen, "quota must be an integer from 0 (none) to %lld", KS_QUOTA_MAX);
        return -1;
    }
    int no_period = !period || strcmp(period, "-") == 0;
    if (quota > 0 && (no_period || !period_valid(period))) {
        text_set_error(err, errlen, "a quota needs a period: DAY, WEEK or MONTH");
        return -1;
    }
    if (quota == 0 && !no_period) {
        text_set_error(err, errlen, "a period needs a quota above 0");
        return -1;
    }
    for (size_t i = 0; i < ks->nplans; i++) {
        const struct ks_plan *p = &ks->plans[i];
        if (p == self)
            continue;
        if (strcmp(p->name, name) == 0) {
            text_set_error(err, errlen, "plan %s appears twice", name);
            return -1;
        }
        if (suffixes_clash(p->name, name)) {
            text_set_error(err, errlen, "plan name %s clashes with plan %s in nginx variable names "
                    "(case and - versus _ do not count there)", name, p->name);
            return -1;
        }
    }
    return 0;
}

static int grow(void **items, size_t *cap, size_t count, size_t item_size, size_t max)
{
    if (count < *cap)
        return 0;
    if (count >= max)
        return -1;
    size_t n = *cap ? *cap * 2 : 16;
    if (n > max)
        n = max;
    void *p = realloc(*items, n * item_size);
    if (!p)
        return -1;
    *items = p;
    *cap = n;
    return 0;
}

int ks_reserve_key(struct keystore *ks)
{
    return grow((void **)&ks->keys, &ks->keys_cap, ks->nkeys, sizeof *ks->keys, KS_MAX_KEYS);
}

int ks_set_plan(struct keystore *ks, const char *name, long rate, long burst, long long quota,
                const char *period, char *err, size_t errlen)
{
    struct ks_plan *p = ks_find_plan(ks, name);
    if (check_plan(ks, p, name, rate, burst, quota, period, err, errlen) != 0)
        return -1;
    if (!p) {
        if (grow((void **)&ks->plans, &ks->plans_cap, ks->nplans, sizeof *ks->plans, KS_MAX_PLANS) != 0) {
            text_set_error(err, errlen, "no room for another plan (at most %d)", KS_MAX_PLANS);
            return -1;
        }
        p = &ks->plans[ks->nplans++];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    p->rate = rate;
    p->burst = burst;
    p->quota = quota;
    snprintf(p->period, sizeof p->period, "%s", quota > 0 ? period : "-");
    return 0;
}

int ks_digest_taken(const struct keystore *ks, const char *digest)
{
    for (size_t i = 0; i < ks->nkeys; i++)
        if (strcmp(ks->keys[i].digest, digest) == 0)
            return 1;
    return 0;
}

static int created_valid(const char *s)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != KS_CREATED_LEN)
        return 0;
    for (size_t i = 0; i < KS_CREATED_LEN; i++)
        if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
            return 0;
    return 1;
}

static int plan_row(struct keystore *ks, char **f, char *err, size_t errlen)
{
    long long rate, burst, quota;
    if (parse_number(f[1], 1, KS_RATE_MAX, &rate) != 0) {
        text_set_error(err, errlen, "rate must be an integer from 1 to %ld", KS_RATE_MAX);
        return -1;
    }
    if (parse_number(f[2], 0, KS_BURST_MAX, &burst) != 0) {
        text_set_error(err, errlen, "burst must be an integer from 0 to %ld", KS_BURST_MAX);
        return -1;
    }
    if (parse_number(f[3], 0, KS_QUOTA_MAX, &quota) != 0) {
        text_set_error(err, errlen, "quota must be an integer from 0 to %lld", KS_QUOTA_MAX);
        return -1;
    }
    if (ks_find_plan(ks, f[0])) {
        text_set_error(err, errlen, "plan %s appears twice", f[0]);
        return -1;
    }
    return ks_set_plan(ks, f[0], (long)rate, (long)burst, quota, f[4], err, errlen);
}

static int key_row(struct keystore *ks, char **f, char *err, size_t errlen)
{
    if (!ks_name_valid(f[0])) {
        text_set_error(err, errlen, "key name must be 1 to %d of A-Z a-z 0-9 _ -", KS_NAME_MAX);
        return -1;
    }
    if (ks_find_key(ks, f[0])) {
        text_set_error(err, errlen, "key name %s appears twice", f[0]);
        return -1;
    }
    if (!ks_find_plan(ks, f[1])) {
        text_set_error(err, errlen, "key %s has an unknown plan", f[0]);
        return -1;
    }
    if (!created_valid(f[2])) {
        text_set_error(err, errlen, "key %s: created must be like 2026-11-25T18:00:00Z", f[0]);
        return -1;
    }
    int revoked = strcmp(f[3], "revoked") == 0;
    if (!revoked && strcmp(f[3], "active") != 0) {
        text_set_error(err, errlen, "key %s: status must be active or revoked", f[0]);
        return -1;
    }
    /* The messages name the key's row, never its secret. */
    char digest[KS_DIGEST_LEN + 1];
    if (digest_text_valid(f[4])) {
        memcpy(digest, f[4], sizeof digest);
    } else if (key_text_valid(f[4])) {
        /* A row from before digests: the key itself, replaced by its digest at the next write. */
        if (ks_key_digest(f[4], KS_KEY_LEN, digest) != 0) {
            text_set_error(err, errlen, "key %s: SHA-256 is not available", f[0]);
            return -1;
        }
    } else {
        text_set_error(err, errlen, "key %s: not a SHA-256 digest (64 lowercase hex digits) nor a %d-character key",
                f[0], KS_KEY_LEN);
        return -1;
    }
    if (ks_digest_taken(ks, digest)) {
        text_set_error(err, errlen, "key %s: the same key as another row's", f[0]);
        return -1;
    }
    if (grow((void **)&ks->keys, &ks->keys_cap, ks->nkeys, sizeof *ks->keys, KS_MAX_KEYS) != 0) {
        text_set_error(err, errlen, "more than %d keys", KS_MAX_KEYS);
        return -1;
    }
    struct ks_key *k = &ks->keys[ks->nkeys++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", f[0]);
    snprintf(k->plan, sizeof k->plan, "%s", f[1]);
    snprintf(k->created, sizeof k->created, "%s", f[2]);
    k->revoked = revoked;
    memcpy(k->digest, digest, sizeof k->digest);
    return 0;
}

/* Read DIR/file row by row (five tab-separated fields); a missing file has no rows. */
static int load_file(struct keystore *ks, const char *dir, const char *file,
                     int (*row)(struct keystore *, char **, char *, size_t), char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        text_set_error(err, errlen, "%s/%s: path too long", dir, file);
        return -1;
    }
    FILE *fp = fopen(path, "re");
    if (!fp) {
        if (errno == ENOENT)
            return 0;
        text_set_error(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[LINE_MAX_BYTES];
    int lineno = 0, status = 0;
    char why[256];
    while (status == 0 && fgets(line, sizeof line, fp)) {
        lineno++;
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            if (!feof(fp) || len == sizeof line - 1) {
                text_set_error(err, errlen, "%s:%d: line longer than %d bytes", path, lineno, LINE_MAX_BYTES - 2);
                status = -1;
                break;
            }
        } else {
            line[--len] = '\0';
        }
        if (len == 0 || line[0] == '#')
            continue;
        char *fields[6];
        int n = 0;
        char *p = line;
        for (;;) {
            if (n == 6)
                break;
            fields[n++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (n != 5) {
            text_set_error(err, errlen, "%s:%d: expected 5 tab-separated fields", path, lineno);
            status = -1;
            break;
        }
        if (row(ks, fields, why, sizeof why) != 0) {
            text_set_error(err, errlen, "%s:%d: %s", path, lineno, why);
            status = -1;
        }
    }
    if (status == 0 && ferror(fp)) {
        text_set_error(err, errlen, "%s: read error", path);
        status = -1;
    }
    /* The line buffer held secrets from keys.tsv. */
    memset(line, 0, sizeof line);
    fclose(fp);
    return status;
}

int ks_load(struct keystore *ks, const char *dir, char *err, size_t errlen)
{
    memset(ks, 0, sizeof *ks);
    if (load_file(ks, dir, "plans.tsv", plan_row, err, errlen) != 0 ||
        load_file(ks, dir, "keys.tsv", key_row, err, errlen) != 0) {
        ks_free(ks);
        return -1;
    }
    return 0;
}
