/* admin_usage.h — `clone-jobs-admin usage [KEY] --from DATE --to DATE [--json]`: requests per API key per day,
 * read from the usage table where the workers count them (key_usage.h), printed as a table or as JSON shaped
 * like API Gateway's GetUsage ({"startDate", "endDate", "items": {KEY: [[used, remaining], ...]}}). */
#ifndef CLONE_JOBS_ADMIN_USAGE_H
#define CLONE_JOBS_ADMIN_USAGE_H

#include <stdio.h>

#include "conf.h"

/* Most days one command reads (API Gateway's GetUsage allows 90 too). */
#define ADMIN_USAGE_MAX_DAYS 90

/* argv[0] is "usage". Returns the exit status: 0 printed, 1 DynamoDB or the key store failed, 2 bad input. */
int admin_usage_main(int argc, char **argv, const struct conf *conf);
void admin_usage_usage(FILE *to);

#endif
