/* metrics.c — the pool's counters in one shared memory region: slots written by their one owner with relaxed
 * atomics (no lock on the request path), summed by the readers; see metrics.h for who writes what and the size. */
#include "config.h"

#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ddb.h"

/* Shared between processes, the atomics must be lock-free: others would take a lock private to one process. */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the metrics region needs lock-free atomics");

/* How many routes routes.def has, at compile time. */
enum {
#define ROUTE(method, path, handler) METRICS_ROUTE_##handler,
#include "routes.def"
#undef ROUTE
    ROUTE_COUNT
};
#define CELLS (2 * ROUTE_COUNT + 1)
_Static_assert(CELLS <= METRICS_CELLS_MAX, "more routes than the metrics' cells allow");
_Static_assert(METRICS_DDB_OUTCOMES == DDB_INTERNAL + 1, "one error counter per enum ddb_outcome value");

const long long metrics_bucket_bounds_us[METRICS_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000,
};

/* The counters of one slot: one flat array, so folding and summing are plain loops. */
#define HIST (METRICS_BUCKETS + 1)
#define OFF_REQUESTS 0
#define OFF_LATENCY (OFF_REQUESTS + CELLS * METRICS_CLASSES)
#define OFF_LATENCY_SUM (OFF_LATENCY + CELLS * HIST)
#define OFF_DDB_LATENCY (OFF_LATENCY_SUM + CELLS)
#define OFF_DDB_LATENCY_SUM (OFF_DDB_LATENCY + CELLS * HIST)
#define OFF_DDB_CALLS (OFF_DDB_LATENCY_SUM + CELLS)
#define OFF_DDB_RETRIES (OFF_DDB_CALLS + METRICS_OPS)
#define OFF_DDB_THROTTLES (OFF_DDB_RETRIES + METRICS_OPS)
#define OFF_DDB_ERRORS (OFF_DDB_THROTTLES + METRICS_OPS)
#define OFF_SLOW (OFF_DDB_ERRORS + METRICS_OPS * METRICS_DDB_OUTCOMES)
#define OFF_MAX_REACHED (OFF_SLOW + 1)
#define OFF_QUOTA_TAKEN (OFF_MAX_REACHED + 1)
#define OFF_QUOTA_RETURNED (OFF_QUOTA_TAKEN + 1)
#define OFF_USAGE_TAKEN (OFF_QUOTA_RETURNED + 1)
#define OFF_USAGE_RETURNED (OFF_USAGE_TAKEN + 1)
#define COUNTERS (OFF_USAGE_RETURNED + 1)

typedef _Atomic uint64_t counter;

struct metrics_thread {
    _Alignas(64) counter v[COUNTERS];
    /* The request under way, for the status page: written between an odd and the next even seq. */
    _Alignas(64) _Atomic uint32_t seq;
    _Atomic uint32_t busy;
    _Atomic long long started_us;
    _Atomic uint64_t id[METRICS_ID_BYTES / 8];
    _Atomic uint64_t method[2];
    _Atomic uint64_t path[METRICS_PATH_BYTES / 8];
    /* The thread's own scratch for the request under way; no other process or thread reads it. */
    long long request_ddb_us;
    int request_ddb_calls;
};

enum { SLOT_FREE = 0, SLOT_CLAIMED, SLOT_SERVING, SLOT_RETIRING };

struct metrics_process {
    _Alignas(64) _Atomic int state;
    _Atomic int pid;
    _Atomic long long start_unix_ms;
    _Atomic int threads;           /* serving thread slots (the region's count), set when claimed */
    _Atomic int threads_claimed;   /* thread slots handed out (may pass `threads`: those get none) */
    /* Its own cache line: every thread of the process adds to it at the start and end of each request. */
    _Alignas(64) _Atomic int in_flight;
};

#define REGION_MAGIC 0x636a6d31u /* "cjm1" */

struct metrics_region {
    uint32_t magic;
    int process_slots;
    int threads;                 /* serving threads per process; each process has threads + 1 thread slots */
    size_t bytes;
    size_t process_stride;
    _Atomic long long start_unix_ms;
    _Atomic int supervisor_pid;
    /* Odd while the supervisor moves a reaped process's counters into `retired`: readers try again. */
    _Atomic uint32_t fold_seq;
    counter starts, restarts, reloads, spawn_failures, slots_exhausted;
    struct metrics_thread retired; /* its counters only */
};

#define ROUND64(n) (((n) + 63) & ~(size_t)63)
#define REGION_HEADER ROUND64(sizeof(struct metrics_region))
#define PROCESS_HEADER ROUND64(sizeof(struct metrics_process))

int metrics_cell_count(void)
{
    return CELLS;
}

int metrics_cell_options(int route_index)
{
    return ROUTE_COUNT + route_index;
}

int metrics_cell_unmatched(void)
{
    return 2 * ROUTE_COUNT;
}

size_t metrics_region_bytes(int process_slots, int threads)
{
    size_t stride = PROCESS_HEADER + ((size_t)threads + 1) * sizeof(struct metrics_thread);
    return REGION_HEADER + (size_t)process_slots * stride;
}

size_t metrics_region_size(const struct metrics_region *r)
{
    return r->bytes;
}

static long long wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct metrics_region *metrics_region_create(int process_slots, int threads, char *err, size_t errlen)
{
    if (process_slots < 1 || threads < 1) {
        snprintf(err, errlen, "metrics region: %d process slots of %d threads", process_slots, threads);
        return NULL;
    }
    size_t bytes = metrics_region_bytes(process_slots, threads);
    if (bytes > METRICS_REGION_MAX_BYTES) {
        snprintf(err, errlen, "metrics region: %zu MiB for %d processes of %d threads is over the %u MiB bound",
                 bytes >> 20, process_slots, threads, METRICS_REGION_MAX_BYTES >> 20);
        return NULL;
    }
    /* Anonymous and shared: every process forked from here on maps the same pages; zero-filled, so every
     * counter and slot starts at 0 (free). */
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "metrics region: mmap of %zu bytes failed", bytes);
        return NULL;
    }
    struct metrics_region *r = m;
    r->magic = REGION_MAGIC;
    r->process_slots = process_slots;
    r->threads = threads;
    r->bytes = bytes;
    r->process_stride = PROCESS_HEADER + ((size_t)threads + 1) * sizeof(struct metrics_thread);
    atomic_store(&r->start_unix_ms, wall_ms());
    atomic_store(&r->supervisor_pid, (int)getpid());
    return r;
}

void metrics_region_destroy(struct metrics_region *r)
{
    if (r)
        munmap(r, r->bytes);
}

static struct metrics_process *process_at(const struct metrics_region *r, int i)
{
    return (struct metrics_process *)((char *)r + REGION_HEADER + (size_t)i * r->process_stride);
}

static struct metrics_thread *thread_at(struct metrics_process *p, int i)
{
    return (struct metrics_thread *)((char *)p + PROCESS_HEADER + (size_t)i * sizeof(struct metrics_thread));
}

/* The serving thread slots a process took (slot 0, its main thread's, comes on top). */
static int serving_threads(struct metrics_process *p)
{
    int threads = atomic_load_explicit(&p->threads, memory_order_relaxed);
    int claimed = atomic_load_explicit(&p->threads_claimed, memory_order_relaxed);
    return claimed < threads ? claimed : threads;
}

/* One owner per counter: a plain load and store, no read-modify-write instruction. */
static inline void add(counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t get(const counter *c)
{
    return atomic_load_explicit((counter *)c, memory_order_relaxed);
}

/* The sequence counts below (a reaped process's fold, a request's view) use no fence: writes after the odd count
 * are release stores (so the odd count is visible before them), reads before the second look at the count are
 * acquire loads (so that look cannot move before them). ThreadSanitizer follows these; it does not follow fences. */
static inline void add_release(counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_release);
}

static inline uint64_t get_acquire(const counter *c)
{
    return atomic_load_explicit((counter *)c, memory_order_acquire);
}

/* --- the supervisor ------------------------------------------------------------------------------------ */

struct metrics_process *metrics_process_claim(struct metrics_region *r)
{
    if (!r)
        return NULL;
    for (int i = 0; i < r->process_slots; i++) {
        struct metrics_process *p = process_at(r, i);
        if (atomic_load(&p->state) == SLOT_FREE) {
            /* Freed slots were zeroed when their counters were folded; the region started zeroed. */
            atomic_store(&p->threads, r->threads);
            atomic_store(&p->state, SLOT_CLAIMED);
            return p;
        }
    }
    add(&r->slots_exhausted, 1);
    return NULL;
}

void metrics_process_started(struct metrics_region *r, struct metrics_process *p, pid_t pid)
{
    if (!r)
        return;
    add(&r->starts, 1);
    if (!p)
        return;
    atomic_store(&p->pid, (int)pid);
    atomic_store(&p->start_unix_ms, wall_ms());
    atomic_store(&p->state, SLOT_SERVING);
}

void metrics_process_release(struct metrics_region *r, struct metrics_process *p)
{
    if (r && p)
        atomic_store(&p->state, SLOT_FREE);
}

static struct metrics_process *find_pid(const struct metrics_region *r, pid_t pid)
{
    for (int i = 0; i < r->process_slots; i++) {
        struct metrics_process *p = process_at(r, i);
        int state = atomic_load(&p->state);
        if ((state == SLOT_SERVING || state == SLOT_RETIRING) && atomic_load(&p->pid) == (int)pid)
            return p;
    }
    return NULL;
}

void metrics_process_retiring(struct metrics_region *r, pid_t pid)
{
    struct metrics_process *p = r ? find_pid(r, pid) : NULL;
    if (p)
        atomic_store(&p->state, SLOT_RETIRING);
}

static void clear_live(struct metrics_thread *t)
{
    atomic_store_explicit(&t->busy, 0, memory_order_release);
    atomic_store_explicit(&t->started_us, 0, memory_order_release);
    atomic_store_explicit(&t->id[0], 0, memory_order_release);
    atomic_store_explicit(&t->method[0], 0, memory_order_release);
    atomic_store_explicit(&t->path[0], 0, memory_order_release);
}

void metrics_process_exited(struct metrics_region *r, pid_t pid, int unexpected)
{
    if (!r)
        return;
    if (unexpected)
        add(&r->restarts, 1);
    struct metrics_process *p = find_pid(r, pid);
    if (!p)
        return;
    /* The process is gone, so nothing writes its slot any more: move its counters into `retired` and zero
     * them, between an odd and the next even fold_seq so a reader never sums them twice or not at all. */
    uint32_t seq = atomic_load_explicit(&r->fold_seq, memory_order_relaxed);
    atomic_store_explicit(&r->fold_seq, seq + 1, memory_order_relaxed);
    /* Only the slots the process took: the others were never written, and reading them would map their pages. */
    for (int i = 0; i <= serving_threads(p); i++) {
        struct metrics_thread *t = thread_at(p, i);
        for (int k = 0; k < COUNTERS; k++) {
            uint64_t n = get(&t->v[k]);
            if (n) {
                add_release(&r->retired.v[k], n);
                atomic_store_explicit(&t->v[k], 0, memory_order_release);
            }
        }
        clear_live(t);
    }
    atomic_store(&p->in_flight, 0);
    atomic_store(&p->threads_claimed, 0);
    atomic_store(&p->pid, 0);
    atomic_store(&p->start_unix_ms, 0);
    atomic_store(&p->state, SLOT_FREE);
    atomic_store_explicit(&r->fold_seq, seq + 2, memory_order_release);
}

void metrics_pool_reloaded(struct metrics_region *r)
{
    if (r)
        add(&r->reloads, 1);
}

void metrics_pool_spawn_failed(struct metrics_region *r)
{
    if (r)
        add(&r->spawn_failures, 1);
}

/* --- a worker process ------------------------------------------------------------------------------------ */

struct metrics_thread *metrics_thread_claim(struct metrics_process *p)
{
    if (!p)
        return NULL;
    /* Slot 0 is the main thread's; serving threads take 1..threads. */
    int i = atomic_fetch_add(&p->threads_claimed, 1);
    return i < atomic_load(&p->threads) ? thread_at(p, i + 1) : NULL;
}

struct metrics_thread *metrics_main_thread(struct metrics_process *p)
{
    return p ? thread_at(p, 0) : NULL;
}

/* Seqlock writes of the request under way: only this thread writes, readers retry on an odd or moved seq. */
static inline void live_begin(struct metrics_thread *t)
{
    uint32_t s = atomic_load_explicit(&t->seq, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 1, memory_order_relaxed);
}

static inline void live_end(struct metrics_thread *t)
{
    uint32_t s = atomic_load_explicit(&t->seq, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 1, memory_order_release);
}

/* Text into words of 8 bytes, NUL-padded, cut to keep a NUL; stops after the word holding the end. */
static void put_text(_Atomic uint64_t *w, size_t words, const char *s)
{
    size_t len = s ? strnlen(s, words * 8 - 1) : 0;
    for (size_t i = 0; i < words; i++) {
        uint64_t v = 0;
        if (i * 8 < len)
            memcpy(&v, s + i * 8, len - i * 8 < 8 ? len - i * 8 : 8);
        atomic_store_explicit(&w[i], v, memory_order_release);
        if (i * 8 + 8 > len)
            break;
    }
}

/* out holds words * 8 + 1 bytes. */
static void get_text(const _Atomic uint64_t *w, size_t words, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < words; i++) {
        uint64_t v = atomic_load_explicit((_Atomic uint64_t *)&w[i], memory_order_acquire);
        memcpy(out + n, &v, 8);
        n += 8;
        if (memchr(&v, 0, 8))
            break;
    }
    out[n] = '\0';
}

void metrics_request_begin(struct metrics_process *p, struct metrics_thread *t, long long now_us)
{
    if (!t)
        return;
    live_begin(t);
    atomic_store_explicit(&t->started_us, now_us, memory_order_release);
    atomic_store_explicit(&t->busy, 1, memory_order_release);
    atomic_store_explicit(&t->id[0], 0, memory_order_release);
    atomic_store_explicit(&t->method[0], 0, memory_order_release);
    atomic_store_explicit(&t->path[0], 0, memory_order_release);
    live_end(t);
    t->request_ddb_us = 0;
    t->request_ddb_calls = 0;
    /* The one read-modify-write of the request path: every thread of the process shares this count. A request
     * that takes the last idle thread is a "max in flight reached" (php-fpm's "max children reached"). */
    int busy = atomic_fetch_add_explicit(&p->in_flight, 1, memory_order_relaxed) + 1;
    int threads = atomic_load_explicit(&p->threads, memory_order_relaxed);
    int claimed = atomic_load_explicit(&p->threads_claimed, memory_order_relaxed);
    if (busy >= (claimed < threads ? claimed : threads))
        add(&t->v[OFF_MAX_REACHED], 1);
}

void metrics_request_identify(struct metrics_thread *t, const char *request_id, const char *method, const char *path)
{
    if (!t)
        return;
    live_begin(t);
    put_text(t->id, METRICS_ID_BYTES / 8, request_id);
    put_text(t->method, 2, method);
    put_text(t->path, METRICS_PATH_BYTES / 8, path);
    live_end(t);
}

static int bucket_of(long long us)
{
    int b = 0;
    while (b < METRICS_BUCKETS && us > metrics_bucket_bounds_us[b])
        b++;
    return b;
}

static int class_of(int status)
{
    if (status >= 200 && status <= 599)
        return status / 100 - 2;
    return METRICS_OTHER_CLASS;
}

void metrics_request_end(struct metrics_process *p, struct metrics_thread *t, int cell, int status,
                         long long latency_us, int slow)
{
    if (!t)
        return;
    if (cell < 0 || cell >= CELLS)
        cell = 2 * ROUTE_COUNT;
    if (latency_us < 0)
        latency_us = 0;
    add(&t->v[OFF_REQUESTS + cell * METRICS_CLASSES + class_of(status)], 1);
    add(&t->v[OFF_LATENCY + cell * HIST + bucket_of(latency_us)], 1);
    add(&t->v[OFF_LATENCY_SUM + cell], (uint64_t)latency_us);
    if (t->request_ddb_calls > 0) {
        long long ddb = t->request_ddb_us > 0 ? t->request_ddb_us : 0;
        add(&t->v[OFF_DDB_LATENCY + cell * HIST + bucket_of(ddb)], 1);
        add(&t->v[OFF_DDB_LATENCY_SUM + cell], (uint64_t)ddb);
    }
    if (slow)
        add(&t->v[OFF_SLOW], 1);
    live_begin(t);
    atomic_store_explicit(&t->busy, 0, memory_order_release);
    live_end(t);
    atomic_fetch_sub_explicit(&p->in_flight, 1, memory_order_relaxed);
}

static int op_of(const char *operation)
{
    static const char *const names[METRICS_OPS - 1] = {
        "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "Query", "DescribeTable",
    };
    for (int i = 0; i < METRICS_OPS - 1; i++)
        if (strcmp(operation, names[i]) == 0)
            return i;
    return METRICS_OP_OTHER;
}

void metrics_observe_ddb(void *ctx, const char *operation, const struct ddb_result *r)
{
    struct metrics_thread *t = ctx;
    if (!t)
        return;
    int op = op_of(operation);
    add(&t->v[OFF_DDB_CALLS + op], 1);
    if (r->attempts > 1)
        add(&t->v[OFF_DDB_RETRIES + op], (uint64_t)(r->attempts - 1));
    if (r->throttles > 0)
        add(&t->v[OFF_DDB_THROTTLES + op], (uint64_t)r->throttles);
    if (r->outcome != DDB_OK && (int)r->outcome >= 0 && (int)r->outcome < METRICS_DDB_OUTCOMES)
        add(&t->v[OFF_DDB_ERRORS + op * METRICS_DDB_OUTCOMES + (int)r->outcome], 1);
    t->request_ddb_us += r->elapsed_us;
    t->request_ddb_calls++;
}

void metrics_count_leases(struct metrics_thread *t, int quota_taken, int quota_returned, int usage_taken,
                          int usage_returned)
{
    if (!t)
        return;
    if (quota_taken)
        add(&t->v[OFF_QUOTA_TAKEN], (uint64_t)quota_taken);
    if (quota_returned)
        add(&t->v[OFF_QUOTA_RETURNED], (uint64_t)quota_returned);
    if (usage_taken)
        add(&t->v[OFF_USAGE_TAKEN], (uint64_t)usage_taken);
    if (usage_returned)
        add(&t->v[OFF_USAGE_RETURNED], (uint64_t)usage_returned);
}

/* --- the readers ------------------------------------------------------------------------------------------ */

static int live(const struct metrics_process *p)
{
    int state = atomic_load_explicit((_Atomic int *)&p->state, memory_order_acquire);
    return state == SLOT_SERVING || state == SLOT_RETIRING;
}

/* Sum every counter of retired and live slots into sum, once, without a fold in between. */
static void sum_counters(const struct metrics_region *r, uint64_t *sum, struct metrics_totals *t)
{
    for (int attempt = 0;; attempt++) {
        uint32_t before = atomic_load_explicit((_Atomic uint32_t *)&r->fold_seq, memory_order_acquire);
        if (before & 1) {
            /* The supervisor is folding a few thousand counters: a moment. Bounded, so a supervisor killed
             * mid-fold cannot hang the reader (the totals may then be off by that one process). */
            if (attempt < 1000) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        memset(sum, 0, COUNTERS * sizeof *sum);
        t->processes_serving = t->processes_retiring = t->threads = t->in_flight = 0;
        for (int k = 0; k < COUNTERS; k++)
            sum[k] = get_acquire(&r->retired.v[k]);
        for (int i = 0; i < r->process_slots; i++) {
            struct metrics_process *p = process_at(r, i);
            if (!live(p))
                continue;
            if (atomic_load_explicit(&p->state, memory_order_relaxed) == SLOT_RETIRING)
                t->processes_retiring++;
            else
                t->processes_serving++;
            t->threads += serving_threads(p);
            t->in_flight += atomic_load_explicit(&p->in_flight, memory_order_relaxed);
            for (int j = 0; j <= serving_threads(p); j++) {
                struct metrics_thread *th = thread_at(p, j);
                for (int k = 0; k < COUNTERS; k++)
                    sum[k] += get_acquire(&th->v[k]);
            }
        }
        uint32_t after = atomic_load_explicit((_Atomic uint32_t *)&r->fold_seq, memory_order_relaxed);
        if ((before == after && !(before & 1)) || attempt >= 1000)
            return;
    }
}

void metrics_read_totals(const struct metrics_region *r, struct metrics_totals *t)
{
    memset(t, 0, sizeof *t);
    uint64_t *sum = calloc(COUNTERS, sizeof *sum);
    if (!sum)
        return;
    sum_counters(r, sum, t);
    for (int c = 0; c < CELLS; c++) {
        for (int k = 0; k < METRICS_CLASSES; k++)
            t->requests[c][k] = sum[OFF_REQUESTS + c * METRICS_CLASSES + k];
        for (int b = 0; b < HIST; b++) {
            t->latency[c][b] = sum[OFF_LATENCY + c * HIST + b];
            t->ddb_latency[c][b] = sum[OFF_DDB_LATENCY + c * HIST + b];
        }
        t->latency_sum_us[c] = sum[OFF_LATENCY_SUM + c];
        t->ddb_latency_sum_us[c] = sum[OFF_DDB_LATENCY_SUM + c];
    }
    for (int o = 0; o < METRICS_OPS; o++) {
        t->ddb_calls[o] = sum[OFF_DDB_CALLS + o];
        t->ddb_retries[o] = sum[OFF_DDB_RETRIES + o];
        t->ddb_throttles[o] = sum[OFF_DDB_THROTTLES + o];
        for (int e = 0; e < METRICS_DDB_OUTCOMES; e++)
            t->ddb_errors[o][e] = sum[OFF_DDB_ERRORS + o * METRICS_DDB_OUTCOMES + e];
    }
    t->slow = sum[OFF_SLOW];
    t->max_reached = sum[OFF_MAX_REACHED];
    t->quota_taken = sum[OFF_QUOTA_TAKEN];
    t->quota_returned = sum[OFF_QUOTA_RETURNED];
    t->usage_taken = sum[OFF_USAGE_TAKEN];
    t->usage_returned = sum[OFF_USAGE_RETURNED];
    t->starts = get(&r->starts);
    t->restarts = get(&r->restarts);
    t->reloads = get(&r->reloads);
    t->spawn_failures = get(&r->spawn_failures);
    t->slots_exhausted = get(&r->slots_exhausted);
    t->start_unix_ms = atomic_load((_Atomic long long *)&r->start_unix_ms);
    t->supervisor_pid = atomic_load((_Atomic int *)&r->supervisor_pid);
    t->threads_busy = t->in_flight;
    free(sum);
}

int metrics_read_processes(const struct metrics_region *r, struct metrics_process_view *out, int max)
{
    int n = 0;
    for (int i = 0; i < r->process_slots && n < max; i++) {
        struct metrics_process *p = process_at(r, i);
        if (!live(p))
            continue;
        struct metrics_process_view *v = &out[n++];
        memset(v, 0, sizeof *v);
        v->pid = atomic_load(&p->pid);
        v->retiring = atomic_load(&p->state) == SLOT_RETIRING;
        v->start_unix_ms = atomic_load(&p->start_unix_ms);
        v->threads = serving_threads(p);
        v->in_flight = atomic_load(&p->in_flight);
        for (int j = 0; j <= serving_threads(p); j++) {
            struct metrics_thread *th = thread_at(p, j);
            for (int k = OFF_REQUESTS; k < OFF_REQUESTS + CELLS * METRICS_CLASSES; k++)
                v->requests += get(&th->v[k]);
        }
    }
    return n;
}

/* The request under way in t, read consistently; 0 when the thread holds none. */
static int read_request(struct metrics_thread *t, long long now_us, struct metrics_request_view *v)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        uint32_t before = atomic_load_explicit(&t->seq, memory_order_acquire);
        if (before & 1)
            continue;
        int busy = (int)atomic_load_explicit(&t->busy, memory_order_acquire);
        long long started = atomic_load_explicit(&t->started_us, memory_order_acquire);
        get_text(t->id, METRICS_ID_BYTES / 8, v->request_id);
        get_text(t->method, 2, v->method);
        get_text(t->path, METRICS_PATH_BYTES / 8, v->path);
        if (atomic_load_explicit(&t->seq, memory_order_relaxed) != before)
            continue;
        if (!busy)
            return 0;
        v->elapsed_us = now_us > started ? now_us - started : 0;
        return 1;
    }
    return 0; /* the thread keeps changing it: a request that short is not the longest-running one */
}

static int by_elapsed_desc(const void *a, const void *b)
{
    const struct metrics_request_view *x = a, *y = b;
    return (x->elapsed_us < y->elapsed_us) - (x->elapsed_us > y->elapsed_us);
}

int metrics_read_requests(const struct metrics_region *r, long long now_us, struct metrics_request_view *out,
                          int max)
{
    int n = 0;
    if (max <= 0)
        return 0;
    for (int i = 0; i < r->process_slots; i++) {
        struct metrics_process *p = process_at(r, i);
        if (!live(p))
            continue;
        int pid = atomic_load(&p->pid);
        for (int j = 1; j <= serving_threads(p); j++) {
            struct metrics_request_view v;
            if (!read_request(thread_at(p, j), now_us, &v))
                continue;
            v.pid = pid;
            if (n < max) {
                out[n++] = v;
            } else {
                /* Keep the longest max: replace the shortest kept when this one ran longer. */
                int shortest = 0;
                for (int k = 1; k < n; k++)
                    if (out[k].elapsed_us < out[shortest].elapsed_us)
                        shortest = k;
                if (v.elapsed_us > out[shortest].elapsed_us)
                    out[shortest] = v;
            }
        }
    }
    qsort(out, (size_t)n, sizeof *out, by_elapsed_desc);
    return n;
}
