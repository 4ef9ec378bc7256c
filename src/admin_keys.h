/* admin_keys.h — clone-jobs-admin's key and plan commands (add-plan, list-plans, add-key, list-keys,
 * revoke-key, move-key, render): change the key store under its lock, write the nginx files, reload nginx. */
#ifndef CLONE_JOBS_ADMIN_KEYS_H
#define CLONE_JOBS_ADMIN_KEYS_H

#include <stdio.h>

/* 1 when word names one of the commands above. */
int admin_keys_is_command(const char *word);

/* Settings from the configuration file; NULL fields fall back to the built-in defaults. The command's
 * options and the environment (CLONE_JOBS_KEYS_DIR, CLONE_JOBS_NGINX_RELOAD) come first. */
struct admin_keys_defaults {
    const char *keys_dir;
    const char *reload_command;
};

/* Run the command argv[0] with its arguments argv[1..argc-1]; defaults may be NULL. Returns the exit
 * status: 0 done, 1 the system failed (files, lock, nginx reload: the files stay written), 2 bad input
 * (nothing was changed). */
int admin_keys_main(int argc, char **argv, const struct admin_keys_defaults *defaults);

/* The commands' lines for clone-jobs-admin's usage text. */
void admin_keys_usage(FILE *to);

#endif
