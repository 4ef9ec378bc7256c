/* request_log.h — the one JSON log line of each finished request (the CloudWatch line of the seed).
 * At debug level it also holds the request, minus secrets: never an API key, in a header or the query. */
#ifndef CLONE_JOBS_REQUEST_LOG_H
#define CLONE_JOBS_REQUEST_LOG_H

#include "conf.h"
#include "http.h"
#include "stats.h"

/* The request body kept in a debug line. */
#define LOG_BODY_MAX 4096

/* Who, what, how it ended, how long it took and what DynamoDB cost; written when the line's level
 * (info; warn for 503; error for other 5xx and stats->error_log) reaches c->log_level. */
void request_log(const struct conf *c, const struct request_stats *st, const struct http_request *req,
                 const struct http_response *resp, long latency_ms);

#endif
