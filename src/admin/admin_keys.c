/* admin_keys.c — the key and plan commands of clone-jobs-admin, on top of the key store (keystore.h).
 * Each change runs whole under DIR/.lock: load, check, change, write every file, then reload nginx. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "admin_keys.h"
#include "keystore.h"
#include "keystore_ddb.h"

#define DEFAULT_KEYS_DIR "/etc/clone-jobs"
#define DEFAULT_RELOAD "nginx -s reload"
#define DEFAULT_NGINX_GROUP "www-data"
#define LOCK_WAIT_MS 30000L
#define RELOAD_TIMEOUT_MS 60000L

enum { EXIT_DONE = 0, EXIT_SYSTEM = 1, EXIT_INPUT = 2 };

/* What each command accepts beyond the common options. */
enum {
    TAKES_NAME = 1 << 0,
    TAKES_PLAN = 1 << 1,
    TAKES_LIMITS = 1 << 2, /* --rate --burst --quota --period */
    CHANGES = 1 << 3,      /* writes files and reloads */
};

static const struct command {
    const char *name;
    int flags;
} commands[] = {
    {"add-plan", TAKES_NAME | TAKES_LIMITS | CHANGES},
    {"list-plans", 0},
    {"add-key", TAKES_NAME | TAKES_PLAN | CHANGES},
    {"list-keys", 0},
    {"revoke-key", TAKES_NAME | CHANGES},
    {"move-key", TAKES_NAME | TAKES_PLAN | CHANGES},
    {"render", CHANGES},
    {"import", 0}, /* key_store = dynamodb only: keys_dir's record into the keys table */
};

struct key_args {
    const struct command *command;
    const char *keys_dir;
    const char *nginx_group;
    const char *reload_command;
    int reload_named;   /* --reload-command was given */
    int gateway_worker;
    int no_reload;
    const char *name;
    const char *plan;
    const char *rate, *burst, *quota, *period;
    const char *by;     /* --by: who is recorded in the store's audit fields */
};

int admin_keys_is_command(const char *word)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(word, commands[i].name) == 0)
            return 1;
    return 0;
}

void admin_keys_usage(FILE *to)
{
    fprintf(to,
            "key and plan commands (their options follow the command):\n"
            "  add-plan NAME --rate R --burst B [--quota N --period DAY|WEEK|MONTH]\n"
            "                   add a usage plan, or set an existing one to exactly these values\n"
            "  list-plans       print NAME RATE BURST QUOTA PERIOD\n"
            "  add-key NAME --plan P\n"
            "                   make a key (240 random bits) and print it, once: it cannot be shown again\n"
            "  list-keys        print NAME PLAN CREATED STATUS (never the key)\n"
            "  revoke-key NAME  refuse the key from the next nginx reload on\n"
            "  move-key NAME --plan P\n"
            "                   put the key in another plan\n"
            "  render           write the nginx files again from plans.tsv and keys.tsv\n"
            "  import           key_store = dynamodb: copy keys_dir's plans.tsv and keys.tsv (digests, status)\n"
            "                   into keys_table; a key already there is left as it is\n"
            "key and plan options:\n"
            "  --keys-dir DIR   where the files are (default: the configuration's keys_dir, or\n"
            "                   CLONE_JOBS_KEYS_DIR; else " DEFAULT_KEYS_DIR ")\n"
            "  --group G, --nginx-group G\n"
            "                   group that may read the nginx files, and with gateway = worker keys.tsv\n"
            "                   (default: the configuration's keys_group, else " DEFAULT_NGINX_GROUP "; used as root)\n"
            "  --reload-command CMD\n"
            "                   run by /bin/sh -c after a change (default: the configuration's\n"
            "                   nginx_reload_command, or CLONE_JOBS_NGINX_RELOAD_COMMAND; else '" DEFAULT_RELOAD "')\n"
            "  --by NAME        key_store = dynamodb: who is recorded as having made the change (default\n"
            "                   $SUDO_USER, else the user running the command)\n"
            "  --no-reload      change the files only (gateway = worker: the default, as the workers\n"
            "                   read keys.tsv again when it changes; --reload-command still runs one)\n");
}

static int parse_args(int argc, char **argv, const struct admin_keys_defaults *d, struct key_args *a)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[0], commands[i].name) == 0)
            a->command = &commands[i];
    if (!a->command)
        return -1;
    int flags = a->command->flags;
    /* The configuration (file, then CLONE_JOBS_KEYS_DIR and CLONE_JOBS_NGINX_RELOAD_COMMAND) decides. */
    a->keys_dir = d && d->keys_dir && *d->keys_dir ? d->keys_dir : DEFAULT_KEYS_DIR;
    a->reload_command = d && d->reload_command && *d->reload_command ? d->reload_command : DEFAULT_RELOAD;
    a->nginx_group = d && d->group && *d->group ? d->group : DEFAULT_NGINX_GROUP;
    a->gateway_worker = d && d->gateway_worker;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **target = NULL;
        int allowed = 1;
        if (strcmp(o, "--keys-dir") == 0)
            target = &a->keys_dir;
        else if (strcmp(o, "--nginx-group") == 0 || strcmp(o, "--group") == 0)
            target = &a->nginx_group;
        else if (strcmp(o, "--reload-command") == 0)
            target = &a->reload_command, a->reload_named = 1;
        else if (strcmp(o, "--by") == 0)
            target = &a->by;
        else if (strcmp(o, "--plan") == 0)
            target = &a->plan, allowed = flags & TAKES_PLAN;
        else if (strcmp(o, "--rate") == 0)
            target = &a->rate, allowed = flags & TAKES_LIMITS;
        else if (strcmp(o, "--burst") == 0)
            target = &a->burst, allowed = flags & TAKES_LIMITS;
        else if (strcmp(o, "--quota") == 0)
            target = &a->quota, allowed = flags & TAKES_LIMITS;
        else if (strcmp(o, "--period") == 0)
            target = &a->period, allowed = flags & TAKES_LIMITS;
        if (target) {
            if (!allowed) {
                fprintf(stderr, "clone-jobs-admin: %s does not take %s\n", argv[0], o);
                return -1;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "clone-jobs-admin: %s needs a value\n", o);
                return -1;
            }
            *target = argv[++i];
        } else if (strcmp(o, "--no-reload") == 0) {
            a->no_reload = 1;
        } else if (o[0] != '-' && !a->name && (flags & TAKES_NAME)) {
            a->name = o;
        } else {
            fprintf(stderr, "clone-jobs-admin: %s: unexpected argument %s\n", argv[0], o);
            return -1;
        }
    }
    if ((flags & TAKES_NAME) && !a->name) {
        fprintf(stderr, "clone-jobs-admin: %s needs a NAME\n", argv[0]);
        return -1;
    }
    if ((flags & TAKES_PLAN) && !a->plan) {
        fprintf(stderr, "clone-jobs-admin: %s needs --plan P\n", argv[0]);
        return -1;
    }
    if ((flags & TAKES_LIMITS) && (!a->rate || !a->burst)) {
        fprintf(stderr, "clone-jobs-admin: add-plan needs --rate R and --burst B\n");
        return -1;
    }
    if (!a->keys_dir[0]) {
        fprintf(stderr, "clone-jobs-admin: --keys-dir is empty\n");
        return -1;
    }
    return 0;
}

/* Digits only, within [min, max]. */
static int number_arg(const char *option, const char *text, long long min, long long max, long long *out)
{
    long long v = 0;
    int ok = *text != '\0';
    for (const char *p = text; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9' && v <= (max - (*p - '0')) / 10;
        if (ok)
            v = v * 10 + (*p - '0');
    }
    if (!ok || v < min || v > max) {
        fprintf(stderr, "clone-jobs-admin: %s must be an integer from %lld to %lld\n", option, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int admin_keys_nginx_gid(const char *group, gid_t *gid)
{
    *gid = (gid_t)-1;
    if (geteuid() != 0)
        return 0;
    struct group g, *found = NULL;
    char storage[4096];
    int rc = getgrnam_r(group, &g, storage, sizeof storage, &found);
    if (rc != 0 || !found) {
        fprintf(stderr, "clone-jobs-admin: group %s %s; name nginx's group with --nginx-group\n", group,
                rc ? strerror(rc) : "does not exist");
        return -1;
    }
    *gid = found->gr_gid;
    return 0;
}

int admin_keys_run_reload(const char *command)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "clone-jobs-admin: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* Its own process group, so a timeout can stop whatever the shell started too. */
        setpgid(0, 0);
        if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    long deadline = clock_monotonic_ms() + RELOAD_TIMEOUT_MS;
    int status = 0;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            break;
        if (done < 0 && errno != EINTR) {
            fprintf(stderr, "clone-jobs-admin: waitpid: %s\n", strerror(errno));
            return -1;
        }
        if (clock_monotonic_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            fprintf(stderr, "clone-jobs-admin: reload command still running after %ld s: killed\n",
                    RELOAD_TIMEOUT_MS / 1000);
            return -1;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000L};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
}

static void list_plans(const struct keystore *ks)
{
    printf("NAME\tRATE\tBURST\tQUOTA\tPERIOD\n");
    for (size_t i = 0; i < ks->nplans; i++) {
        const struct ks_plan *p = &ks->plans[i];
        printf("%s\t%ld\t%ld\t%lld\t%s\n", p->name, p->rate, p->burst, p->quota, p->period);
    }
}

static void list_keys(const struct keystore *ks)
{
    printf("NAME\tPLAN\tCREATED\tSTATUS\n");
    for (size_t i = 0; i < ks->nkeys; i++) {
        const struct ks_key *k = &ks->keys[i];
        printf("%s\t%s\t%s\t%s\n", k->name, k->plan, k->created, k->revoked ? "revoked" : "active");
    }
}

/* Apply the command to ks. Returns EXIT_DONE (changed), -1 (nothing to change), or EXIT_INPUT;
 * key_out receives add-key's secret. */
static int apply(const struct key_args *a, struct keystore *ks, char *key_out)
{
    char err[512];
    const char *c = a->command->name;
    if (strcmp(c, "render") == 0)
        return EXIT_DONE;
    if (strcmp(c, "add-plan") == 0) {
        long long rate, burst, quota = 0;
        if (number_arg("--rate", a->rate, 1, KS_RATE_MAX, &rate) != 0 ||
            number_arg("--burst", a->burst, 0, KS_BURST_MAX, &burst) != 0 ||
            (a->quota && number_arg("--quota", a->quota, 0, KS_QUOTA_MAX, &quota) != 0))
            return EXIT_INPUT;
        if (ks_set_plan(ks, a->name, (long)rate, (long)burst, quota, a->period, err, sizeof err) != 0) {
            fprintf(stderr, "clone-jobs-admin: add-plan %s: %s\n", a->name, err);
            return EXIT_INPUT;
        }
        fprintf(stderr, "clone-jobs-admin: plan %s: %lld r/s, burst %lld, quota %s%s%s\n", a->name, rate,
                burst, quota ? a->quota : "none", quota ? "/" : "", quota ? a->period : "");
        return EXIT_DONE;
    }
    if (strcmp(c, "add-key") == 0) {
        if (ks_add_key(ks, a->name, a->plan, time(NULL), key_out, err, sizeof err) != 0) {
            fprintf(stderr, "clone-jobs-admin: add-key %s: %s\n", a->name, err);
            return EXIT_INPUT;
        }
        return EXIT_DONE;
    }
    struct ks_key *k = ks_find_key(ks, a->name);
    if (!k) {
        fprintf(stderr, "clone-jobs-admin: %s: no key named %s\n", c, a->name);
        return EXIT_INPUT;
    }
    if (strcmp(c, "revoke-key") == 0) {
        if (k->revoked) {
            fprintf(stderr, "clone-jobs-admin: key %s was already revoked\n", a->name);
            return -1;
        }
        k->revoked = 1;
        fprintf(stderr, "clone-jobs-admin: key %s revoked\n", a->name);
        return EXIT_DONE;
    }
    /* move-key */
    if (!ks_find_plan(ks, a->plan)) {
        fprintf(stderr, "clone-jobs-admin: move-key %s: unknown plan %s\n", a->name, a->plan);
        return EXIT_INPUT;
    }
    if (strcmp(k->plan, a->plan) == 0) {
        fprintf(stderr, "clone-jobs-admin: key %s is already in plan %s\n", a->name, a->plan);
        return -1;
    }
    fprintf(stderr, "clone-jobs-admin: key %s moved from plan %s to %s\n", a->name, k->plan, a->plan);
    snprintf(k->plan, sizeof k->plan, "%s", a->plan);
    return EXIT_DONE;
}

/* Who made the change, for the store's audit fields: --by, $SUDO_USER, the user's name, or its number. */
static void actor(const struct key_args *a, char *out, size_t outlen)
{
    const char *sudo = getenv("SUDO_USER");
    struct passwd pw, *found = NULL;
    char storage[4096];
    if (a->by && *a->by)
        snprintf(out, outlen, "%s", a->by);
    else if (sudo && *sudo)
        snprintf(out, outlen, "%s", sudo);
    else if (getpwuid_r(geteuid(), &pw, storage, sizeof storage, &found) == 0 && found)
        snprintf(out, outlen, "%s", found->pw_name);
    else
        snprintf(out, outlen, "uid %ld", (long)geteuid());
}

/* Write what apply() changed in ks to the store: one conditional write. Returns an exit status. */
static int store_write(const struct key_args *a, const struct keystore *ks, struct ddb_client *c, const char *table,
                       const char *by)
{
    char err[1024];
    const char *cmd = a->command->name;
    int rc;
    if (strcmp(cmd, "add-plan") == 0) {
        rc = kd_put_plan(c, table, ks_find_plan(ks, a->name), time(NULL), by, err, sizeof err);
    } else if (strcmp(cmd, "add-key") == 0) {
        rc = kd_put_key(c, table, ks_find_key(ks, a->name), by, err, sizeof err);
        if (rc == 1) {
            fprintf(stderr, "clone-jobs-admin: add-key %s: a key of that name was added meanwhile\n", a->name);
            return EXIT_INPUT;
        }
    } else if (strcmp(cmd, "revoke-key") == 0) {
        rc = kd_revoke_key(c, table, a->name, time(NULL), by, err, sizeof err);
        if (rc == 1) {
            fprintf(stderr, "clone-jobs-admin: key %s was revoked meanwhile\n", a->name);
            return EXIT_DONE;
        }
    } else {
        rc = kd_move_key(c, table, a->name, a->plan, time(NULL), by, err, sizeof err);
    }
    if (rc != 0) {
        fprintf(stderr, "clone-jobs-admin: %s %s: %s\n", cmd, a->name,
                rc < 0 ? err : "the store's condition failed");
        return EXIT_SYSTEM;
    }
    return EXIT_DONE;
}

/* import: the files' plans and keys into the table, from one box's files to the fleet's store. The keys keep
 * their digests, so every client's key goes on working. Returns an exit status. */
static int store_import(const struct key_args *a, const struct admin_keys_defaults *d, const struct keystore *in_table,
                        const char *by)
{
    char err[1024];
    struct keystore files;
    if (ks_load(&files, a->keys_dir, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin import: %s\n", err);
        return EXIT_SYSTEM;
    }
    int status = EXIT_DONE;
    size_t plans = 0, keys = 0, kept = 0;
    for (size_t i = 0; status == EXIT_DONE && i < files.nplans; i++) {
        if (ks_find_plan(in_table, files.plans[i].name))
            continue; /* the table's plan wins: it may have been changed there since */
        if (kd_put_plan(d->store, d->keys_table, &files.plans[i], time(NULL), by, err, sizeof err) != 0)
            status = EXIT_SYSTEM;
        else
            plans++;
    }
    for (size_t i = 0; status == EXIT_DONE && i < files.nkeys; i++) {
        int rc = kd_put_key(d->store, d->keys_table, &files.keys[i], by, err, sizeof err);
        if (rc < 0)
            status = EXIT_SYSTEM;
        else if (rc == 1)
            kept++;
        else
            keys++;
    }
    if (status != EXIT_DONE)
        fprintf(stderr, "clone-jobs-admin import: %s\n", err);
    fprintf(stderr, "clone-jobs-admin import: %zu plans and %zu keys added to table %s (%zu keys were there already)\n",
            plans, keys, d->keys_table, kept);
    if (files.keys)
        memset(files.keys, 0, files.nkeys * sizeof *files.keys);
    ks_free(&files);
    return status;
}

/* key_store = dynamodb: read the table, check and apply the command as the file store does, write the one
 * changed item conditionally. The files are the sync's (admin_sync.c): nothing is rendered or reloaded here. */
static int store_main(const struct key_args *a, const struct admin_keys_defaults *d)
{
    char err[1024], by[256];
    struct keystore ks;
    if (kd_load(d->store, d->keys_table, &ks, 0, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin: the key store (table %s): %s\n", d->keys_table, err);
        return EXIT_SYSTEM;
    }
    actor(a, by, sizeof by);
    int status = EXIT_DONE;
    char key[KS_KEY_LEN + 1] = "";
    if (strcmp(a->command->name, "list-plans") == 0) {
        list_plans(&ks);
    } else if (strcmp(a->command->name, "list-keys") == 0) {
        list_keys(&ks);
    } else if (strcmp(a->command->name, "import") == 0) {
        status = store_import(a, d, &ks, by);
    } else {
        int applied = apply(a, &ks, key);
        if (applied == EXIT_INPUT)
            status = EXIT_INPUT;
        else if (applied == EXIT_DONE)
            status = store_write(a, &ks, d->store, d->keys_table, by);
        if (applied == EXIT_DONE && status == EXIT_DONE && key[0]) {
            printf("%s\n", key);
            if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "clone-jobs-admin: the key could not be printed; revoke-key %s and add another\n",
                        a->name);
                status = EXIT_SYSTEM;
            }
            fprintf(stderr, "clone-jobs-admin: key %s added to plan %s (shown once, above)\n", a->name, a->plan);
        }
        if (applied == EXIT_DONE && status == EXIT_DONE)
            fprintf(stderr, "clone-jobs-admin: in table %s (by %s); every box applies it at its next sync\n",
                    d->keys_table, by);
    }
    memset(key, 0, sizeof key);
    if (fflush(stdout) != 0 && status == EXIT_DONE)
        status = EXIT_SYSTEM;
    ks_free(&ks);
    return status;
}

int admin_keys_main(int argc, char **argv, const struct admin_keys_defaults *defaults)
{
    struct key_args a;
    if (argc < 1 || parse_args(argc, argv, defaults, &a) != 0)
        return EXIT_INPUT;
    /* render works on the box's own record, which the sync keeps, whatever the store. */
    if (defaults && defaults->store && strcmp(a.command->name, "render") != 0)
        return store_main(&a, defaults);
    if (strcmp(a.command->name, "import") == 0) {
        fprintf(stderr, "clone-jobs-admin: import copies the files into the keys table: set key_store = dynamodb\n");
        return EXIT_INPUT;
    }
    int changes = a.command->flags & CHANGES;
    gid_t gid = (gid_t)-1;
    if (changes && admin_keys_nginx_gid(a.nginx_group, &gid) != 0)
        return EXIT_INPUT;

    char err[1024];
    if (changes && ks_make_dir(a.keys_dir, gid, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin: %s\n", err);
        return EXIT_SYSTEM;
    }
    int lock = ks_lock(a.keys_dir, LOCK_WAIT_MS, err, sizeof err);
    if (lock < 0) {
        fprintf(stderr, "clone-jobs-admin: %s\n", err);
        return EXIT_SYSTEM;
    }
    struct keystore ks;
    if (ks_load(&ks, a.keys_dir, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin: %s\n", err);
        close(lock);
        return EXIT_SYSTEM;
    }
    int status = EXIT_DONE;
    char key[KS_KEY_LEN + 1] = "";
    if (strcmp(a.command->name, "list-plans") == 0) {
        list_plans(&ks);
    } else if (strcmp(a.command->name, "list-keys") == 0) {
        list_keys(&ks);
    } else {
        int applied = apply(&a, &ks, key);
        if (applied == EXIT_INPUT) {
            status = EXIT_INPUT;
        } else if (applied == EXIT_DONE) {
            if (ks_write(&ks, a.keys_dir, gid, a.gateway_worker, err, sizeof err) != 0) {
                fprintf(stderr, "clone-jobs-admin: %s\n", err);
                status = EXIT_SYSTEM;
            } else if (key[0]) {
                /* The one time the secret is shown: alone on its line, on stdout only. */
                printf("%s\n", key);
                if (fflush(stdout) != 0 || ferror(stdout)) {
                    fprintf(stderr, "clone-jobs-admin: the key could not be printed; revoke-key %s and "
                            "add another\n", a.name);
                    status = EXIT_SYSTEM;
                }
                fprintf(stderr, "clone-jobs-admin: key %s added to plan %s (shown once, above)\n", a.name,
                        a.plan);
            }
            /* gateway = worker: each worker sees keys.tsv change at its next request; nginx is not involved. */
            if (status == EXIT_DONE && !a.no_reload && (!a.gateway_worker || a.reload_named)) {
                int rc = admin_keys_run_reload(a.reload_command);
                if (rc != 0) {
                    fprintf(stderr, "clone-jobs-admin: the files are written, but the reload command "
                            "failed (%d): %s\n", rc, a.reload_command);
                    status = EXIT_SYSTEM;
                }
            }
        }
    }
    memset(key, 0, sizeof key);
    if (fflush(stdout) != 0 && status == EXIT_DONE)
        status = EXIT_SYSTEM;
    /* The store held every secret. */
    if (ks.keys)
        memset(ks.keys, 0, ks.nkeys * sizeof *ks.keys);
    ks_free(&ks);
    close(lock);
    return status;
}
