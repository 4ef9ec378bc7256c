/* log.h — JSON lines on stderr: one per request (the CloudWatch line of the seed) and a few about the process.
 * Lines are built with json-c, so no input can break out of its string; API keys are never written. */
#ifndef CLONE_JOBS_LOG_H
#define CLONE_JOBS_LOG_H

#include <json-c/json.h>

#include "conf.h"

struct worker;
struct http_request;
struct http_response;

/* The request body kept in a debug line. */
#define LOG_BODY_MAX 4096

/* A message about the process ("worker started", a warning); extra (borrowed, may be NULL) is an object
 * whose members are added to the line. Written when level >= threshold. */
void log_message(enum log_level threshold, enum log_level level, json_object *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The line of one finished request: who, what, how it ended, how long it took and what DynamoDB cost;
 * at debug level also the request itself (headers minus secrets, query, body cut at LOG_BODY_MAX). */
void log_request(const struct worker *w, const struct http_request *req, const struct http_response *resp,
                 long latency_ms);

#endif
