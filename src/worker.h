/* worker.h — the per-process context of a worker: its configuration, its one DynamoDB client, the cursor
 * key, and the accounting of the request in flight. All mutable state of a worker lives here. */
#ifndef CLONE_JOBS_WORKER_H
#define CLONE_JOBS_WORKER_H

#include <stddef.h>

#include "conf.h"
#include "ddb.h"
#include "http.h"
#include "quota.h"

/* What the current request cost and how it ended, for its log line. */
struct request_stats {
    long ddb_ms;
    int ddb_calls;
    int ddb_retries;
    char outcome[48];   /* "ok", "not_found", "throttled", ... (set by handlers; derived when empty) */
    char detail[512];   /* why it failed, for the log only (never sent to the client) */
    int error_log;      /* log the line at error level whatever the status (a missing table) */
};

struct worker {
    const struct conf *conf;      /* read-only after start */
    struct ddb_client *ddb;
    struct quota_state *quota;    /* this worker's leased blocks of usage-plan quotas */
    unsigned char cursor_key[256];
    size_t cursor_key_len;
    struct request_stats stats;
};

/* Make the context: the DynamoDB client from the configuration's AWS settings, and the cursor key
 * (cursor_secret, or a random one with a warning in the log). Returns 0, or -1 with err. */
int worker_init(struct worker *w, const struct conf *conf, char *err, size_t errlen);
void worker_free(struct worker *w);

/* Serve one request: envp are its CGI parameters, io its body and response streams.
 * read_to_end: the body stream ends by itself (FastCGI), so a body without Content-Length is read.
 * Always answers; returns the status sent (0 when the answer could not be written). */
int worker_serve(struct worker *w, char *const *envp, const struct http_io *io, int read_to_end);

/* Note one DynamoDB call's time and retries in the request's accounting. Every handler call goes through
 * the wrappers below, which do this. */
void worker_account(struct worker *w, const struct ddb_result *r);

enum ddb_outcome wk_get(struct worker *w, json_object *key, struct ddb_result *r);
enum ddb_outcome wk_put(struct worker *w, json_object *item, const struct ddb_expr *e,
                        const char *return_values, struct ddb_result *r);
enum ddb_outcome wk_update(struct worker *w, json_object *key, const struct ddb_expr *e,
                           const char *return_values, struct ddb_result *r);
enum ddb_outcome wk_delete(struct worker *w, json_object *key, const struct ddb_expr *e,
                           const char *return_values, struct ddb_result *r);
enum ddb_outcome wk_scan(struct worker *w, const struct ddb_page *p, const struct ddb_expr *e,
                         struct ddb_result *r);
enum ddb_outcome wk_describe(struct worker *w, struct ddb_result *r);

/* Set the outcome word (and a detail for the log) of the current request. */
void worker_outcome(struct worker *w, const char *outcome, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
