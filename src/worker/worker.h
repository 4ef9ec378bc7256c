/* worker.h — the top of the request path: what a worker process shares among its threads, what each thread
 * owns, and serving one request (parse, route, admit, handle, answer, log). */
#ifndef CLONE_JOBS_WORKER_H
#define CLONE_JOBS_WORKER_H

#include <stddef.h>

#include "aws_config.h"
#include "conf.h"
#include "credentials_cache.h"
#include "ddb.h"
#include "gateway_check.h"
#include "http.h"
#include "key_usage.h"
#include "metrics.h"
#include "quota.h"
#include "stats.h"
#include "store.h"

/* Shared by every thread of one worker process; read-only after worker_process_init except the quota
 * state and the credentials cache, which lock inside. */
struct worker_process {
    const struct conf *conf;
    struct aws_settings aws;
    struct ddb_options ddb_options;
    struct aws_credentials_cache *credentials;
    struct quota_state *quota;        /* this process's leased blocks of usage-plan quotas */
    struct gateway_state *gateway;    /* gateway = worker: keys, rate and burst (gateway_check.h); else NULL */
    unsigned char cursor_key[256];
    size_t cursor_key_len;
    struct key_usage *usage;          /* requests per key per day, leased in blocks (NULL: usage_block 0) */
    struct metrics_process *metrics;  /* this process's slot in the pool's metrics (NULL: none); set before
                                       * the threads start */
};

/* One thread's own: its DynamoDB client (one curl handle, one keep-alive connection), its store view and
 * the accounting of the request it is serving. */
struct worker {
    struct worker_process *process;
    struct ddb_client *ddb;
    struct store store;
    struct request_stats stats;
    struct metrics_thread *metrics;   /* this thread's metrics slot (NULL: none) */
    char usage_client[HTTP_REQUEST_ID_MAX + 1]; /* the key to count once the answer is out ("": none) */
    struct key_usage_cache usage_cache;          /* the usage entry this thread counted last */
};

/* Load the AWS settings and credentials (once for all threads), the quota state and the cursor key
 * (cursor_secret, or a random one with a warning). Returns 0, or -1 with err. */
int worker_process_init(struct worker_process *p, const struct conf *conf, char *err, size_t errlen);
/* Give the unspent quota leases back (with one more DynamoDB client) and free everything. */
void worker_process_free(struct worker_process *p);

/* A thread's context on p. Returns 0, or -1 with err. */
int worker_init(struct worker *w, struct worker_process *p, char *err, size_t errlen);
void worker_free(struct worker *w);

/* Serve one request: envp are its CGI parameters, io its body and response streams.
 * read_to_end: the body stream ends by itself (FastCGI), so a body without Content-Length is read.
 * Always answers; returns the status sent (0 when the answer could not be written). */
int worker_serve(struct worker *w, char *const *envp, const struct http_io *io, int read_to_end);

/* After the answer left (FastCGI: after FCGX_Finish_r; CGI: after the flush): count the request in its key's
 * daily usage, whose lease write (one request in usage_block) then delays no client. */
void worker_after_answer(struct worker *w);

#endif
