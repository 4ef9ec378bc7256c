/* config_check.c — what `clone-jobs-fcgi --check-config` checks beyond reading the file: misspelt CLONE_JOBS_*
 * variables, AWS region and credentials, and gateway = worker's files; why: catch mistakes before traffic does. */
#include "config.h"

#include "config_check.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws_config.h"
#include "keystore_read.h"
#include "rate_table.h"

struct report {
    FILE *out;
    int errors;
    int warnings;
};

__attribute__((format(printf, 3, 4)))
static void say(struct report *r, int error, const char *fmt, ...)
{
    va_list ap;
    fprintf(r->out, "%s: ", error ? "error" : "warning");
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
    if (error)
        r->errors++;
    else
        r->warnings++;
}

/* Edit distance of two short names, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

struct nearest {
    char wanted[64];   /* the variable's name after CLONE_JOBS_, in lower case */
    char best[64];
    size_t best_distance;
};

static void consider_key(const char *key, void *arg)
{
    struct nearest *n = arg;
    size_t d = distance(n->wanted, key);
    if (d < n->best_distance) {
        n->best_distance = d;
        snprintf(n->best, sizeof n->best, "%s", key);
    }
}

static void unknown_variable(const char *name, void *arg)
{
    struct report *r = arg;
    struct nearest n = {.best_distance = 64};
    size_t i = 0;
    for (const char *p = name + strlen("CLONE_JOBS_"); *p && i + 1 < sizeof n.wanted; p++)
        n.wanted[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    n.wanted[i] = '\0';
    conf_each_key(consider_key, &n);
    if (n.best_distance <= 2) {
        char upper[64];
        for (i = 0; n.best[i] && i + 1 < sizeof upper; i++)
            upper[i] = (char)(n.best[i] >= 'a' && n.best[i] <= 'z' ? n.best[i] - 'a' + 'A' : n.best[i]);
        upper[i] = '\0';
        say(r, 0, "environment %s is no configuration key and is ignored (did you mean CLONE_JOBS_%s?)", name,
            upper);
    } else {
        say(r, 0, "environment %s is no configuration key and is ignored", name);
    }
}

static void check_aws(const struct conf *c, struct report *r)
{
    struct aws_settings s;
    char err[1024];
    if (aws_settings_load(&s, c->profile[0] ? c->profile : NULL, c->region[0] ? c->region : NULL,
                          c->endpoint[0] ? c->endpoint : NULL, err, sizeof err) != 0) {
        say(r, 1, "AWS settings: %s (set region in the configuration)", err);
        return;
    }
    fprintf(r->out, "region %s, endpoint %s\n", s.region, s.endpoint);
    struct aws_credentials creds;
    if (aws_credentials_resolve(&s, &creds, err, sizeof err) != 0)
        say(r, 1, "AWS credentials: %s", err);
    else
        fprintf(r->out, "AWS credentials from %s\n", creds.source);
    memset(&creds, 0, sizeof creds);
}

/* gateway = worker: the key store must be readable and the rate table usable. Nothing is created here:
 * the check often runs as root, and a table made by root is the workers' only through rate_table.c's chown. */
static void check_worker_gateway(const struct conf *c, struct report *r)
{
    struct keystore ks;
    char err[1024];
    if (ks_load(&ks, c->keys_dir, err, sizeof err) != 0) {
        say(r, 1, "gateway = worker: the key store: %s", err);
    } else {
        size_t active = 0;
        for (size_t i = 0; i < ks.nkeys; i++)
            active += !ks.keys[i].revoked;
        if (active == 0)
            say(r, 0, "gateway = worker: no active key in %s/keys.tsv yet: every request will be 403 "
                "(clone-jobs-admin add-plan, then add-key)", c->keys_dir);
        else
            fprintf(r->out, "gateway = worker: %zu active keys, %zu plans in %s\n", active, ks.nplans, c->keys_dir);
        ks_free(&ks);
    }
    struct stat st;
    char path[PATH_MAX];
    errno = 0;
    if (stat(c->state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        say(r, 1, "gateway = worker: state_dir %s: %s (make it, writable by the workers' user)", c->state_dir,
            errno ? strerror(errno) : "not a directory");
        return;
    }
    if (snprintf(path, sizeof path, "%s/%s", c->state_dir, RATE_TABLE_FILE) >= (int)sizeof path) {
        say(r, 1, "state_dir %s: path too long", c->state_dir);
        return;
    }
    if (access(path, F_OK) == 0) {
        struct rate_table *t = rate_table_open(c->state_dir, err, sizeof err);
        if (!t)
            say(r, 1, "gateway = worker: %s", err);
        rate_table_close(t);
    } else {
        fprintf(r->out, "gateway = worker: %s will be made by the first worker (owner uid %ld, gid %ld, mode %04o "
                "of %s must let the workers' user write)\n", path, (long)st.st_uid, (long)st.st_gid,
                (unsigned)(st.st_mode & 07777), c->state_dir);
    }
}

int config_check(const struct conf *c, FILE *out)
{
    struct report r = {.out = out};
    conf_unknown_variables(unknown_variable, &r);
    check_aws(c, &r);
    if (!c->cursor_secret[0])
        say(&r, 0, "cursor_secret is not set: each worker process makes its own, so a cursor only works on the "
            "process that made it (under CGI or mod_fcgid, never): set it (openssl rand -hex 32)");
    if (c->gateway == CONF_GATEWAY_WORKER)
        check_worker_gateway(c, &r);
    if (c->log_file[0] && access(c->log_file, W_OK) != 0 && errno != ENOENT)
        say(&r, 0, "log_file %s: %s (the workers' user must be able to append to it)", c->log_file, strerror(errno));
    fprintf(out, "%d errors, %d warnings\n", r.errors, r.warnings);
    return r.errors;
}
