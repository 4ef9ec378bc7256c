/* admin_sync.h — `clone-jobs-admin sync`: render this box's key and plan files from the DynamoDB key store
 * (key_store = dynamodb), record its heartbeat, share each plan's rate among the live boxes; once or --every N s. */
#ifndef CLONE_JOBS_ADMIN_SYNC_H
#define CLONE_JOBS_ADMIN_SYNC_H

#include <stdio.h>

#include "conf.h"

/* argv[0] is "sync". Returns the exit status: 0 the files are the store's (changed or not), 1 the store could not
 * be read or its answer was refused (the last good files stay), 2 bad arguments. With --every it runs until
 * killed, logging each pass. */
int admin_sync_main(int argc, char **argv, const struct conf *conf);

void admin_sync_usage(FILE *to);

#endif
