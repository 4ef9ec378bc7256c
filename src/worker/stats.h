/* stats.h — what one request cost and how it ended, for its log line: DynamoDB time, calls and retries,
 * and an outcome word. The reply layer sets the outcome, the store layer adds the DynamoDB costs. */
#ifndef CLONE_JOBS_STATS_H
#define CLONE_JOBS_STATS_H

struct request_stats {
    long ddb_ms;
    int ddb_calls;
    int ddb_retries;
    char outcome[48];   /* "ok", "not_found", "throttled", ... ("ok" when left empty) */
    char detail[512];   /* why it failed, for the log only (never sent to the client) */
    int error_log;      /* log the line at error level whatever the status (a missing table) */
};

#endif
