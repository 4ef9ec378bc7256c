/* config_check.h — `clone-jobs-fcgi --check-config`: the checks beyond conf_load's own (which already refuses
 * unknown keys, bad values, short or placeholder cursor_secret) that need the AWS chain or the gateway's files. */
#ifndef CLONE_JOBS_CONFIG_CHECK_H
#define CLONE_JOBS_CONFIG_CHECK_H

#include <stdio.h>

#include "conf.h"

/* Print what is wrong ("error: ...") or doubtful ("warning: ...") to out: CLONE_JOBS_* variables that are no
 * key (with the nearest key's name), a missing region or credentials, no cursor_secret, and with
 * gateway = worker an unreadable key store, no active key, an unusable state_dir. Returns the error count. */
int config_check(const struct conf *c, FILE *out);

#endif
