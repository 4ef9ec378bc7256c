/* admin_sync.c — `clone-jobs-admin sync`: one box's copy of the fleet's keys and plans (see admin_sync.h).
 * A pass: heartbeat, consistent Scan, checks, each plan's share, files written only where they differ, reload. */
#include "config.h"

#include "admin_sync.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_keys.h"
#include "clock.h"
#include "keystore.h"
#include "keystore_ddb.h"

#define LOCK_WAIT_MS 30000L
#define LIVE_INTERVALS 3 /* a box whose heartbeat is older than this many intervals no longer counts */

struct sync_args {
    const char *keys_dir;
    const char *reload_command;
    const char *group;
    const char *box;
    int reload_named;
    int no_reload;
    int every;        /* 0: one pass */
    int interval;     /* the fleet's sync interval: what makes a heartbeat stale */
    int gateway_worker;
    const char *table;
};

void admin_sync_usage(FILE *to)
{
    fprintf(to,
            "  sync [--every SECONDS] [--box ID] [--keys-dir DIR] [--group G] [--reload-command CMD] [--no-reload]\n"
            "                   key_store = dynamodb: write this box's key and plan files from keys_table (each\n"
            "                   plan's rate and burst divided among the live boxes), reload nginx when a file\n"
            "                   changed. A store that cannot be read leaves the last good files; exit 1.\n"
            "                   --every: a pass every SECONDS until killed (default one pass; the live-box\n"
            "                   window is 3 x sync_interval_s, or 3 x SECONDS); --box: default box_id, else the host name\n");
}

static int parse(int argc, char **argv, const struct conf *conf, struct sync_args *s)
{
    memset(s, 0, sizeof *s);
    s->keys_dir = conf->keys_dir;
    s->reload_command = conf->nginx_reload_command;
    s->group = conf->keys_group;
    s->box = conf->box_id;
    s->interval = conf->sync_interval_s;
    s->gateway_worker = conf->gateway == CONF_GATEWAY_WORKER;
    s->table = conf->keys_table;
    const char *every = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **target = NULL;
        if (strcmp(o, "--keys-dir") == 0)
            target = &s->keys_dir;
        else if (strcmp(o, "--reload-command") == 0)
            target = &s->reload_command, s->reload_named = 1;
        else if (strcmp(o, "--group") == 0 || strcmp(o, "--nginx-group") == 0)
            target = &s->group;
        else if (strcmp(o, "--box") == 0)
            target = &s->box;
        else if (strcmp(o, "--every") == 0)
            target = &every;
        if (target && i + 1 < argc) {
            *target = argv[++i];
        } else if (strcmp(o, "--no-reload") == 0) {
            s->no_reload = 1;
        } else {
            fprintf(stderr, "clone-jobs-admin sync: unexpected argument %s\n", o);
            return -1;
        }
    }
    if (every) {
        char *end = NULL;
        long v = strtol(every, &end, 10);
        if (!*every || *end || v < 1 || v > 86400) {
            fprintf(stderr, "clone-jobs-admin sync: --every must be 1 to 86400 seconds\n");
            return -1;
        }
        s->every = (int)v;
        s->interval = (int)v;
    }
    if (conf->key_store != CONF_KEY_STORE_DYNAMODB) {
        fprintf(stderr, "clone-jobs-admin sync: key_store is files: nothing to sync (set key_store = dynamodb)\n");
        return -1;
    }
    return 0;
}

/* Every key the box serves now must still be in the store's answer: keys are never deleted there, so a missing
 * one means a wrong table, region or endpoint, and rendering it would drop keys. Returns 0, or -1 with err. */
static int keeps_every_key(const struct keystore *now, const struct keystore *fresh, char *err, size_t errlen)
{
    for (size_t i = 0; i < now->nkeys; i++)
        if (!ks_find_key(fresh, now->keys[i].name)) {
            snprintf(err, errlen, "key %s is served here but missing from the store's answer (remove keys.tsv "
                     "to accept)", now->keys[i].name);
            return -1;
        }
    return 0;
}

/* One pass. Returns 0, or 1 with the reason logged (the files stay as they were). */
static int sync_pass(const struct sync_args *s, struct ddb_client *c, const char *box, gid_t gid)
{
    char err[1024];
    time_t now = time(NULL);
    struct keystore fresh, current;
    int live = 0;
    if (kd_heartbeat(c, s->table, box, now, err, sizeof err) != 0 ||
        kd_load(c, s->table, &fresh, (long long)now - (long long)LIVE_INTERVALS * s->interval, &live, err,
                sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin sync: the store (table %s) failed: %s; keeping the last files\n", s->table,
                err);
        return 1;
    }
    if (fresh.nplans == 0 && fresh.nkeys == 0) {
        fprintf(stderr, "clone-jobs-admin sync: table %s holds no plans and no keys; keeping the last files\n",
                s->table);
        ks_free(&fresh);
        return 1;
    }
    if (ks_make_dir(s->keys_dir, gid, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin sync: %s\n", err);
        ks_free(&fresh);
        return 1;
    }
    int lock = ks_lock(s->keys_dir, LOCK_WAIT_MS, err, sizeof err);
    if (lock < 0) {
        fprintf(stderr, "clone-jobs-admin sync: %s\n", err);
        ks_free(&fresh);
        return 1;
    }
    int status = 0;
    if (ks_load(&current, s->keys_dir, err, sizeof err) != 0) {
        /* An unreadable record is replaced by the store's: that is what the sync is for. */
        fprintf(stderr, "clone-jobs-admin sync: the box's record is unreadable (%s); rewriting it\n", err);
        memset(&current, 0, sizeof current);
    } else if (keeps_every_key(&current, &fresh, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin sync: refused: %s; keeping the last files\n", err);
        status = 1;
    }
    /* The fleet's throttle: each live box enforces its share of every plan's rate and burst (README, "More
     * boxes"). This box counts itself, its heartbeat being written above. */
    if (live < 1)
        live = 1;
    for (size_t i = 0; i < fresh.nplans; i++) {
        struct ks_plan *p = &fresh.plans[i];
        p->rate = (p->rate + live - 1) / live;
        p->burst = (p->burst + live - 1) / live;
        if (p->rate < 1)
            p->rate = 1;
    }
    int changed = 0;
    if (status == 0 &&
        ks_write_changed(&fresh, s->keys_dir, gid, s->gateway_worker, &changed, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin sync: %s\n", err);
        status = 1;
    }
    size_t active = 0;
    for (size_t i = 0; i < fresh.nkeys; i++)
        active += !fresh.keys[i].revoked;
    int reload = status == 0 && changed && !s->no_reload && (!s->gateway_worker || s->reload_named);
    if (status == 0)
        fprintf(stderr, "clone-jobs-admin sync: box %s: %zu plans, %zu keys (%zu active), %d live boxes (rates / %d): "
                "%s%s\n", box, fresh.nplans, fresh.nkeys, active, live, live, changed ? "files changed" : "unchanged",
                reload ? ", reloading" : "");
    if (reload) {
        int rc = admin_keys_run_reload(s->reload_command);
        if (rc != 0) {
            fprintf(stderr, "clone-jobs-admin sync: the files are written, but the reload command failed (%d): %s\n",
                    rc, s->reload_command);
            status = 1;
        }
    }
    ks_free(&current);
    if (fresh.keys)
        memset(fresh.keys, 0, fresh.nkeys * sizeof *fresh.keys);
    ks_free(&fresh);
    close(lock);
    return status;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int admin_sync_main(int argc, char **argv, const struct conf *conf)
{
    struct sync_args s;
    if (parse(argc, argv, conf, &s) != 0)
        return 2;
    char box[256];
    if (s.box && *s.box)
        snprintf(box, sizeof box, "%s", s.box);
    else if (gethostname(box, sizeof box) != 0 || !box[0])
        snprintf(box, sizeof box, "unnamed");
    box[sizeof box - 1] = '\0';
    gid_t gid = (gid_t)-1;
    if (admin_keys_nginx_gid(s.group, &gid) != 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "clone-jobs-admin sync: curl_global_init failed\n");
        return 1;
    }
    char err[512];
    struct ddb_client *c = kd_client_new(conf, err, sizeof err);
    int status = 1;
    if (!c) {
        fprintf(stderr, "clone-jobs-admin sync: %s\n", err);
    } else {
        for (;;) {
            long started = clock_monotonic_ms();
            status = sync_pass(&s, c, box, gid);
            fflush(stderr);
            if (!s.every)
                break;
            long left = started + s.every * 1000L - clock_monotonic_ms();
            if (left > 0)
                sleep_ms(left);
        }
    }
    ddb_client_free(c);
    curl_global_cleanup();
    return status;
}
