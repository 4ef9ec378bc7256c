/* metrics.h — the pool's counters: one shared memory region the supervisor maps before it forks, with a slot per
 * worker process and per serving thread, each written only by its owner with relaxed atomic stores (no lock).
 *
 * Who writes what:
 *   - a serving thread: its own thread slot (counters, and the request under way for the status page);
 *   - a worker process: its process slot's thread count and in-flight count (one atomic add per request start
 *     and end), and its main thread's slot (quota leases given back at exit);
 *   - the supervisor: the region's pool counters (starts, restarts, reloads), the process slots' pid and state,
 *     and `retired`: when it reaps a worker, it adds that process's counters into `retired` and frees the slot,
 *     inside a sequence count the readers check, so a total never goes backwards nor counts a process twice;
 *   - the metrics listener (metrics_server.c) only reads: retired + every live slot, summed on each scrape.
 *
 * Size bound (metrics_region_bytes): a fixed header plus the retired counters (about 8 KiB), then
 * process_slots x (a 64-byte process header + (threads + 1) x one thread slot of about 8.2 KiB). The supervisor
 * makes 2 x workers + 1 process slots (a reload runs old and new processes side by side). Default pool on 2
 * cores, 4 processes x 64 threads: 9 x 65 x 8.2 KiB = 4.7 MiB of address space, of which only the pages of threads
 * that served requests are ever touched. A process started when every slot is taken runs without metrics (and
 * clone_jobs_metrics_slots_exhausted_total counts it). */
#ifndef CLONE_JOBS_METRICS_H
#define CLONE_JOBS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ddb_result;

/* Histogram bucket upper bounds in microseconds (Prometheus `le`, in seconds when rendered); one more bucket
 * past the last bound holds the rest (+Inf). */
#define METRICS_BUCKETS 15
extern const long long metrics_bucket_bounds_us[METRICS_BUCKETS];

/* Status classes of the answers. */
enum metrics_class { METRICS_2XX, METRICS_3XX, METRICS_4XX, METRICS_5XX, METRICS_OTHER_CLASS, METRICS_CLASSES };

/* The DynamoDB operations counted apart; any other is METRICS_OP_OTHER. */
enum metrics_op {
    METRICS_OP_GET_ITEM, METRICS_OP_PUT_ITEM, METRICS_OP_UPDATE_ITEM, METRICS_OP_DELETE_ITEM, METRICS_OP_SCAN,
    METRICS_OP_QUERY, METRICS_OP_DESCRIBE_TABLE, METRICS_OP_OTHER, METRICS_OPS
};
/* Outcomes of a DynamoDB call, as enum ddb_outcome numbers them (0 is ok). */
#define METRICS_DDB_OUTCOMES 8

/* Request cells (at most METRICS_CELLS_MAX): one per route of routes.def (index as in router_routes()), one per
 * route for an OPTIONS preflight on that route's path (only the first route of each path is used), and one for
 * requests that match no route. metrics_cell_count() says how many. */
#define METRICS_CELLS_MAX 64
int metrics_cell_count(void);
int metrics_cell_options(int route_index);   /* the preflight cell of the path of route_index */
int metrics_cell_unmatched(void);

/* Longest request id and path kept for the status page (longer ones are cut). */
#define METRICS_ID_BYTES 64
#define METRICS_PATH_BYTES 64

struct metrics_region;
struct metrics_process;
struct metrics_thread;

/* The region for up to process_slots worker processes of threads serving threads each, mapped shared and
 * anonymous so that every process forked afterwards sees it. Returns NULL with err (no memory, or over
 * METRICS_REGION_MAX_BYTES). */
#define METRICS_REGION_MAX_BYTES (512u << 20)
struct metrics_region *metrics_region_create(int process_slots, int threads, char *err, size_t errlen);
void metrics_region_destroy(struct metrics_region *r);
size_t metrics_region_bytes(int process_slots, int threads);
size_t metrics_region_size(const struct metrics_region *r);

/* --- the supervisor --------------------------------------------------------------------------------- */
/* A free process slot, zeroed and marked taken for the process about to be forked; NULL when none is free
 * (counted). The child gets the pointer; the parent calls metrics_process_started with the child's pid, or
 * metrics_process_release when the fork failed. */
struct metrics_process *metrics_process_claim(struct metrics_region *r);
void metrics_process_started(struct metrics_region *r, struct metrics_process *p, pid_t pid);
void metrics_process_release(struct metrics_region *r, struct metrics_process *p);
/* A reload told this worker to finish and exit. */
void metrics_process_retiring(struct metrics_region *r, pid_t pid);
/* The worker pid was reaped: its counters go into the region's totals and its slot is freed. unexpected: it
 * died on its own (not stopped by the pool), a restart. */
void metrics_process_exited(struct metrics_region *r, pid_t pid, int unexpected);
void metrics_pool_reloaded(struct metrics_region *r);
void metrics_pool_spawn_failed(struct metrics_region *r);

/* --- a worker process ----------------------------------------------------------------------------------- */
/* The next thread slot of process p for a serving thread, or NULL (p NULL, or every slot taken). */
struct metrics_thread *metrics_thread_claim(struct metrics_process *p);
/* The slot of the process's own main thread (start-up and exit work, such as quota leases given back). */
struct metrics_thread *metrics_main_thread(struct metrics_process *p);

/* The hot path: relaxed atomic stores into the thread's own slot, one atomic add on the process's in-flight
 * count at begin and at end; no lock, no system call, no allocation. */
void metrics_request_begin(struct metrics_process *p, struct metrics_thread *t, long long now_us);
/* What the status page shows of the request under way (cut to METRICS_ID_BYTES and METRICS_PATH_BYTES). */
void metrics_request_identify(struct metrics_thread *t, const char *request_id, const char *method,
                              const char *path);
/* The request ended: its cell, HTTP status (0: none was sent) and latency; slow: it took longer than the
 * configured threshold. The DynamoDB time is what the observer added up since metrics_request_begin. */
void metrics_request_end(struct metrics_process *p, struct metrics_thread *t, int cell, int status,
                         long long latency_us, int slow);
/* A ddb_observer (ddb.h): ctx is the thread's slot. */
void metrics_observe_ddb(void *ctx, const char *operation, const struct ddb_result *r);
/* Quota leases (quota.h) and usage leases (key_usage.h) taken from and given back to the store. */
void metrics_count_leases(struct metrics_thread *t, int quota_taken, int quota_returned, int usage_taken,
                          int usage_returned);

/* --- the readers ----------------------------------------------------------------------------------------- */
/* Everything a scrape or the status page shows, summed over retired and live processes. */
struct metrics_totals {
    uint64_t requests[METRICS_CELLS_MAX][METRICS_CLASSES];
    uint64_t latency[METRICS_CELLS_MAX][METRICS_BUCKETS + 1];
    uint64_t latency_sum_us[METRICS_CELLS_MAX];
    uint64_t ddb_latency[METRICS_CELLS_MAX][METRICS_BUCKETS + 1];
    uint64_t ddb_latency_sum_us[METRICS_CELLS_MAX];
    uint64_t ddb_calls[METRICS_OPS], ddb_retries[METRICS_OPS], ddb_throttles[METRICS_OPS];
    uint64_t ddb_errors[METRICS_OPS][METRICS_DDB_OUTCOMES];
    uint64_t slow, max_reached, quota_taken, quota_returned, usage_taken, usage_returned;
    /* the pool */
    uint64_t starts, restarts, reloads, spawn_failures, slots_exhausted;
    long long start_unix_ms;
    int supervisor_pid;
    int processes_serving, processes_retiring;
    int threads, threads_busy; /* serving threads of live processes, and those holding a request */
    int in_flight;
};

/* One live worker process, for the status page. */
struct metrics_process_view {
    int pid;
    int retiring;
    long long start_unix_ms;
    int threads;
    int in_flight;
    uint64_t requests;
};

/* One request under way. */
struct metrics_request_view {
    int pid;
    long long elapsed_us;
    char request_id[METRICS_ID_BYTES + 1];
    char method[17];
    char path[METRICS_PATH_BYTES + 1];
};

/* Sum everything into t (consistent with any concurrent fold by the supervisor). */
void metrics_read_totals(const struct metrics_region *r, struct metrics_totals *t);
/* Up to max live processes into out; returns how many. */
int metrics_read_processes(const struct metrics_region *r, struct metrics_process_view *out, int max);
/* Up to max requests under way at now_us, longest-running first; returns how many. */
int metrics_read_requests(const struct metrics_region *r, long long now_us, struct metrics_request_view *out,
                          int max);

#endif
