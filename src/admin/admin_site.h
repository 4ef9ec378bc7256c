/* admin_site.h — `clone-jobs-admin nginx-site`: writes the gateway's nginx site from the worker's route table.
 * Options override the configuration's gateway settings (listen, certificate, socket, keys directory). */
#ifndef CLONE_JOBS_ADMIN_SITE_H
#define CLONE_JOBS_ADMIN_SITE_H

#include <stdio.h>

#include "conf.h"

/* argv[0] is "nginx-site". Returns the exit status: 0 written, 1 a file failed, 2 bad input. */
int admin_site_main(int argc, char **argv, const struct conf *conf);
void admin_site_usage(FILE *to);

#endif
