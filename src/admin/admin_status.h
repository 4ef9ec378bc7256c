/* admin_status.h — `clone-jobs-admin status`: the pool's status page, php-fpm's way, read from the pool's metrics
 * listener (metrics_listen): processes, threads, requests in flight, the longest-running request, totals. */
#ifndef CLONE_JOBS_ADMIN_STATUS_H
#define CLONE_JOBS_ADMIN_STATUS_H

#include <stdio.h>

#include "conf.h"

/* argv[0] is "status". Returns the exit status: 0 shown, 1 the pool could not be asked, 2 bad input. */
int admin_status_main(int argc, char **argv, const struct conf *conf);
void admin_status_usage(FILE *to);

#endif
