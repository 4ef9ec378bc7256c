/* admin_keys.h — clone-jobs-admin's key and plan commands (add-plan, list-plans, add-key, list-keys,
 * revoke-key, move-key, render): change the key store under its lock, write the nginx files, reload nginx. */
#ifndef CLONE_JOBS_ADMIN_KEYS_H
#define CLONE_JOBS_ADMIN_KEYS_H

#include <stdio.h>
#include <sys/types.h>

struct ddb_client;

/* 1 when word names one of the commands above. */
int admin_keys_is_command(const char *word);

/* Settings from the configuration (its file, then CLONE_JOBS_KEYS_DIR and CLONE_JOBS_NGINX_RELOAD_COMMAND,
 * both read by conf_load); NULL fields fall back to the built-in defaults. The command's options win. */
struct admin_keys_defaults {
    const char *keys_dir;
    const char *reload_command;
    const char *group;      /* keys_group: who may read the generated files (and, gateway = worker, keys.tsv) */
    int gateway_worker;     /* gateway = worker: the workers read keys.tsv themselves; nothing to reload */
    struct ddb_client *store; /* key_store = dynamodb: the keys table's client (NULL: the files in keys_dir) */
    const char *keys_table;
};

/* Run the command argv[0] with its arguments argv[1..argc-1]; defaults may be NULL. Returns the exit
 * status: 0 done, 1 the system failed (files, lock, nginx reload: the files stay written), 2 bad input
 * (nothing was changed). */
int admin_keys_main(int argc, char **argv, const struct admin_keys_defaults *defaults);

/* The group the nginx files are given to, as root; (gid_t)-1 when not root (no chown then). Returns 0, or -1
 * with a message on stderr. */
int admin_keys_nginx_gid(const char *group, gid_t *gid);

/* Run the reload command with /bin/sh -c, its output on our stderr so that stdout keeps only what the
 * command prints (add-key's key). Killed after a minute. Returns its exit status, or -1. */
int admin_keys_run_reload(const char *command);

/* The commands' lines for clone-jobs-admin's usage text. */
void admin_keys_usage(FILE *to);

#endif
