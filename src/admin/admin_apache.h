/* admin_apache.h — clone-jobs-admin's apache-site command: an Apache virtual host (mod_proxy_fcgi, mod_fcgid or
 * plain CGI) rendered from apache/clone-jobs-MODE.conf.in and the configuration, for hosting without nginx (gateway = worker). */
#ifndef CLONE_JOBS_ADMIN_APACHE_H
#define CLONE_JOBS_ADMIN_APACHE_H

#include <stdio.h>

#include "conf.h"

/* Run apache-site with its arguments (argv[0] is "apache-site"). Returns the exit status: 0, 1 (a file could
 * not be read or written), 2 (bad arguments, or a configuration Apache cannot serve safely). */
int admin_apache_main(int argc, char **argv, const struct conf *conf);

/* Its lines for clone-jobs-admin's usage text. */
void admin_apache_usage(FILE *to);

#endif
