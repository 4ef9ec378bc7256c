/* test_metrics.c — the metrics region without a pool: slots, the hot path's counters, the fold of a dead process,
 * totals that never go back while threads write and a reader sums, the access log counter, the accept queue. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ddb.h"
#include "gateway_log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "router.h"
#include "tap.h"

static uint64_t all_requests(const struct metrics_totals *t)
{
    uint64_t n = 0;
    for (int c = 0; c < metrics_cell_count(); c++)
        for (int k = 0; k < METRICS_CLASSES; k++)
            n += t->requests[c][k];
    return n;
}

static void one_request(struct metrics_process *p, struct metrics_thread *t, int cell, int status, long long us)
{
    metrics_request_begin(p, t, 1000);
    metrics_request_end(p, t, cell, status, us, 0);
}

/* --- many writers and one reader at once (what ThreadSanitizer checks) ------------------------------------- */

#define WRITERS 4
#define PER_WRITER 20000

struct shared {
    struct metrics_region *region;
    struct metrics_process *process;
    atomic_int writers_done;
    atomic_int went_back;
};

static void *writer(void *arg)
{
    struct shared *s = arg;
    struct metrics_thread *t = metrics_thread_claim(s->process);
    for (int i = 0; i < PER_WRITER && t; i++) {
        metrics_request_begin(s->process, t, i);
        metrics_request_identify(t, "0123456789abcdef0123456789abcdef", "GET", "/clones/x");
        struct ddb_result r = {.outcome = DDB_OK, .attempts = 1, .elapsed_us = 10};
        metrics_observe_ddb(t, "GetItem", &r);
        metrics_request_end(s->process, t, 0, 200, 50, 0);
    }
    atomic_fetch_add(&s->writers_done, 1);
    return NULL;
}

static void *reader(void *arg)
{
    struct shared *s = arg;
    struct metrics_totals *t = malloc(sizeof *t);
    struct metrics_request_view views[8];
    uint64_t last = 0;
    while (t && atomic_load(&s->writers_done) < WRITERS) {
        metrics_read_totals(s->region, t);
        uint64_t now = all_requests(t);
        if (now < last)
            atomic_store(&s->went_back, 1);
        last = now;
        (void)metrics_read_requests(s->region, 0, views, 8);
    }
    free(t);
    return NULL;
}

static void concurrency(struct tap *tap)
{
    char err[256];
    struct shared s = {.region = metrics_region_create(3, WRITERS, err, sizeof err)};
    if (!tap_ok(tap, s.region != NULL, "a region for the concurrency check"))
        return;
    /* A process that served requests and dies while the others write: its fold must not make a total go back. */
    struct metrics_process *dead = metrics_process_claim(s.region);
    metrics_process_started(s.region, dead, 4242);
    struct metrics_thread *dt = metrics_thread_claim(dead);
    for (int i = 0; i < 1000; i++)
        one_request(dead, dt, 1, 200, 100);
    s.process = metrics_process_claim(s.region);
    metrics_process_started(s.region, s.process, 4343);
    pthread_t w[WRITERS], r;
    int started = pthread_create(&r, NULL, reader, &s) == 0;
    for (int i = 0; i < WRITERS; i++)
        started &= pthread_create(&w[i], NULL, writer, &s) == 0;
    metrics_process_exited(s.region, 4242, 1);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    pthread_join(r, NULL);
    struct metrics_totals *t = calloc(1, sizeof *t);
    metrics_read_totals(s.region, t);
    tap_ok(tap, started, "writers and the reader started");
    tap_ok(tap, all_requests(t) == WRITERS * PER_WRITER + 1000, "every request counted once (%llu)",
           (unsigned long long)all_requests(t));
    tap_ok(tap, t->ddb_calls[METRICS_OP_GET_ITEM] == WRITERS * PER_WRITER, "every DynamoDB call counted");
    tap_ok(tap, !atomic_load(&s.went_back), "the reader never saw a total go back (fold included)");
    tap_ok(tap, t->restarts == 1 && t->processes_serving == 1 && t->in_flight == 0, "one restart, one live process");
    free(t);
    metrics_region_destroy(s.region);
}

/* --- the gateway's access log --------------------------------------------------------------------------------- */

#define LINE(method, uri, status, upstream) \
    "{\"time\":\"2026-11-25T18:00:00+00:00\",\"requestId\":\"r\",\"client\":\"\",\"plan\":\"\",\"remote\":\"127.0.0.1\"," \
    "\"method\":\"" method "\",\"uri\":\"" uri "\",\"status\":" #status ",\"bytes\":24,\"requestTime\":0.001," \
    "\"upstreamTime\":\"" upstream "\",\"errorType\":\"\",\"tls\":\"TLSv1.3\"}\n"

static uint64_t series(const struct gateway_log *g, int cell, const char *method, int status)
{
    for (int i = 0; i < g->nseries; i++)
        if (g->series[i].cell == cell && g->series[i].status == status && strcmp(g->series[i].method, method) == 0)
            return g->series[i].count;
    return 0;
}

static int append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void gateway(struct tap *tap)
{
    size_t count;
    const struct route *routes = router_routes(&count);
    int get_item = -1, health = -1, first_item = -1;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(routes[i].pattern, "/clones/{cloneID}") == 0 && first_item < 0)
            first_item = (int)i;
        if (strcmp(routes[i].pattern, "/clones/{cloneID}") == 0 && strcmp(routes[i].method, "GET") == 0)
            get_item = (int)i;
        if (strcmp(routes[i].pattern, "/health") == 0)
            health = (int)i;
    }
    char dir[] = "/tmp/cj-metrics-test-XXXXXX";
    if (!tap_ok(tap, mkdtemp(dir) != NULL, "a temporary folder"))
        return;
    char path[128], rotated[128];
    snprintf(path, sizeof path, "%s/access.log", dir);
    snprintf(rotated, sizeof rotated, "%s/access.log.1", dir);
    tap_ok(tap, append(path, LINE("GET", "/prod/health", 403, "")) == 0, "a line before the start");
    struct gateway_log *g = calloc(1, sizeof *g);
    gateway_log_open(g, path, "/prod");
    gateway_log_update(g);
    tap_ok(tap, g->nseries == 0 && g->readable, "what was logged before the start is not counted");
    append(path, LINE("GET", "/prod/clones/a%2Fb?x=*", 403, ""));
    append(path, LINE("GET", "/prod/clones/a", 200, "0.002"));
    append(path, LINE("GET", "/prod/clones/a", 502, "0.000"));
    append(path, LINE("OPTIONS", "/prod/clones/a", 200, ""));
    append(path, LINE("GET", "/nowhere", 403, ""));
    append(path, LINE("BREW", "/prod/health", 403, ""));
    append(path, "{\"status\":403,\"upstreamTime\":\"\",\"method\":\"GET\",\"uri\":\"/prod/health\"");  /* no end yet */
    gateway_log_update(g);
    tap_ok(tap, series(g, get_item, "GET", 403) == 1, "a 403 the gateway gave itself, by route");
    tap_ok(tap, series(g, get_item, "GET", 200) == 0, "a worker's answer is not the gateway's");
    tap_ok(tap, series(g, get_item, "GET", 502) == 1, "a 502 counts although a worker was asked");
    tap_ok(tap, series(g, metrics_cell_options(first_item), "OPTIONS", 200) == 1, "a preflight, on its path");
    tap_ok(tap, series(g, metrics_cell_unmatched(), "GET", 403) == 1, "a path outside the table");
    tap_ok(tap, series(g, health, "OTHER", 403) == 1, "an unknown method is OTHER");
    append(path, "}\n");
    gateway_log_update(g);
    tap_ok(tap, series(g, health, "GET", 403) == 1, "a line written in two parts counts once it ends");
    /* Rotation: the rest of the old file, then the new one from its start. */
    append(path, LINE("GET", "/prod/health", 429, ""));
    tap_ok(tap, rename(path, rotated) == 0 && append(path, LINE("GET", "/prod/health", 413, "")) == 0, "rotated");
    gateway_log_update(g);
    tap_ok(tap, series(g, health, "GET", 429) == 1 && series(g, health, "GET", 413) == 1, "no line lost at rotation");
    /* Truncated in place (copytruncate), noticed as the file being shorter than what was read. */
    FILE *f = fopen(path, "w");
    tap_ok(tap, f && fclose(f) == 0, "truncated");
    gateway_log_update(g);
    append(path, LINE("GET", "/prod/health", 504, "29.001"));
    gateway_log_update(g);
    tap_ok(tap, series(g, health, "GET", 504) == 1, "read again from the start after a truncation");
    struct metrics_snapshot snap = {.gateway = g, .queue = -1, .queue_limit = -1};
    struct buf out;
    buf_init(&out, 0);
    tap_ok(tap, metrics_render_prometheus(&snap, &out) == 0 &&
                    strstr(out.data, "clone_jobs_gateway_responses_total{route=\"/clones/{cloneID}\",method=\"GET\","
                                     "status=\"403\"} 1\n") &&
                    strstr(out.data, "clone_jobs_gateway_responses_total{route=\"/clones/{cloneID}\",method=\"OPTIONS\","
                                     "status=\"200\"} 1\n") &&
                    strstr(out.data, "clone_jobs_gateway_log_up 1\n"),
           "the gateway's series in the scrape");
    buf_free(&out);
    gateway_log_close(g);
    free(g);
    unlink(path);
    unlink(rotated);
    rmdir(dir);
}

/* --- the accept queue ------------------------------------------------------------------------------------------- */

static void queue(struct tap *tap)
{
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/cj-metrics-q-%d.sock", (int)getpid());
    unlink(a.sun_path);
    int ok = l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 7) == 0;
    int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0);
    ok = ok && connect(c1, (struct sockaddr *)&a, sizeof a) == 0 && connect(c2, (struct sockaddr *)&a, sizeof a) == 0;
    long queued = -2, limit = -2;
    ok = ok && metrics_listen_queue(l, &queued, &limit) == 0;
    tap_ok(tap, ok && queued == 2 && limit == 7, "a unix socket's accept queue: %ld of %ld", queued, limit);
    close(c1);
    close(c2);
    close(l);
    unlink(a.sun_path);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof in;
    ok = t >= 0 && bind(t, (struct sockaddr *)&in, sizeof in) == 0 && listen(t, 5) == 0 &&
         getsockname(t, (struct sockaddr *)&in, &len) == 0;
    int c3 = socket(AF_INET, SOCK_STREAM, 0);
    ok = ok && connect(c3, (struct sockaddr *)&in, sizeof in) == 0;
    queued = limit = -2;
    ok = ok && metrics_listen_queue(t, &queued, &limit) == 0;
    tap_ok(tap, ok && queued == 1 && limit == 5, "a TCP socket's accept queue: %ld of %ld", queued, limit);
    close(c3);
    close(t);
}

int main(void)
{
    struct tap t = {0};
    char err[256];
    struct metrics_region *r = metrics_region_create(2, 2, err, sizeof err);
    if (!tap_ok(&t, r != NULL, "a region of 2 processes of 2 threads"))
        return tap_done(&t);
    tap_ok(&t, metrics_region_size(r) == metrics_region_bytes(2, 2) && metrics_region_bytes(9, 64) < (6u << 20),
           "its size, and the default pool's under 6 MiB (%zu bytes for 9 x 64)", metrics_region_bytes(9, 64));
    tap_ok(&t, metrics_region_create(4096, 256, err, sizeof err) == NULL && strstr(err, "bound"),
           "a region over the bound is refused: %s", err);

    struct metrics_process *p = metrics_process_claim(r);
    metrics_process_started(r, p, 100);
    struct metrics_thread *a = metrics_thread_claim(p), *b = metrics_thread_claim(p);
    tap_ok(&t, a && b && a != b && metrics_thread_claim(p) == NULL, "two thread slots, then none");

    size_t count;
    const struct route *routes = router_routes(&count);
    tap_ok(&t, metrics_cell_count() == 2 * (int)count + 1, "a cell per route, per route's preflight, and one more");
    one_request(p, a, 0, 200, 700);
    one_request(p, a, 0, 404, 3000000);
    one_request(p, a, metrics_cell_unmatched(), 403, 10);
    metrics_request_begin(p, a, 0);
    struct ddb_result dr = {.outcome = DDB_THROTTLED, .attempts = 3, .throttles = 3, .elapsed_us = 1500};
    metrics_observe_ddb(a, "GetItem", &dr);
    metrics_request_end(p, a, 1, 503, 2000, 1);
    struct metrics_totals *tot = calloc(1, sizeof *tot);
    metrics_read_totals(r, tot);
    tap_ok(&t, tot->requests[0][METRICS_2XX] == 1 && tot->requests[0][METRICS_4XX] == 1 &&
                   tot->requests[metrics_cell_unmatched()][METRICS_4XX] == 1 && tot->requests[1][METRICS_5XX] == 1,
           "requests by cell and status class");
    tap_ok(&t, tot->latency[0][1] == 1 && tot->latency[0][11] == 0 && tot->latency[0][12] == 1 &&
                   tot->latency_sum_us[0] == 3000700,
           "latency buckets: 700 us in le=0.001, 3 s in le=5");
    tap_ok(&t, tot->ddb_latency[1][2] == 1 && tot->ddb_latency[0][1] == 0, "DynamoDB time only for requests that called it");
    tap_ok(&t, tot->ddb_calls[METRICS_OP_GET_ITEM] == 1 && tot->ddb_retries[METRICS_OP_GET_ITEM] == 2 &&
                   tot->ddb_throttles[METRICS_OP_GET_ITEM] == 3 && tot->ddb_errors[METRICS_OP_GET_ITEM][DDB_THROTTLED] == 1,
           "DynamoDB calls, retries, throttles and errors by operation");
    tap_ok(&t, tot->slow == 1 && tot->in_flight == 0 && tot->threads == 2 && tot->processes_serving == 1,
           "slow requests, in flight, threads, processes");

    /* Two threads busy out of two: the second took the last idle one. */
    metrics_request_begin(p, a, 0);
    char long_id[100];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    metrics_request_identify(a, long_id, "PATCH", "/clones/held");
    metrics_request_begin(p, b, 5);
    metrics_request_identify(b, "rid-b", "GET", "/health");
    metrics_read_totals(r, tot);
    struct metrics_request_view v[4];
    int n = metrics_read_requests(r, 1000005, v, 4);
    tap_ok(&t, tot->max_reached == 1 && tot->in_flight == 2, "max in flight reached once, 2 in flight");
    tap_ok(&t, n == 2 && strlen(v[0].request_id) == METRICS_ID_BYTES - 1 && v[0].elapsed_us == 1000005 &&
                   v[0].pid == 100 && strcmp(v[0].method, "PATCH") == 0 && strcmp(v[0].path, "/clones/held") == 0,
           "the longest-running request first, with its id (cut to %d bytes), path and pid", METRICS_ID_BYTES - 1);
    tap_ok(&t, n == 2 && strcmp(v[1].request_id, "rid-b") == 0 && v[1].elapsed_us == 1000000, "then the other");
    metrics_request_end(p, a, 0, 200, 1, 0);
    metrics_request_end(p, b, 0, 200, 1, 0);
    struct metrics_process_view pv[4];
    tap_ok(&t, metrics_read_processes(r, pv, 4) == 1 && pv[0].pid == 100 && pv[0].requests == 6 && pv[0].threads == 2,
           "the process view");

    /* The process dies: its counts stay in the totals, its slot comes back empty. */
    uint64_t before = all_requests(tot) + 2;
    metrics_process_exited(r, 100, 1);
    metrics_read_totals(r, tot);
    tap_ok(&t, all_requests(tot) == before && tot->restarts == 1 && tot->processes_serving == 0 && tot->threads == 0,
           "a dead process's counts are kept, its restart counted");
    struct metrics_process *again = metrics_process_claim(r);
    metrics_process_started(r, again, 200);
    struct metrics_thread *c = metrics_thread_claim(again);
    one_request(again, c, 0, 200, 5);
    metrics_read_totals(r, tot);
    tap_ok(&t, all_requests(tot) == before + 1 && tot->starts == 2, "the new process adds to the totals");
    tap_ok(&t, metrics_process_claim(r) != NULL && metrics_process_claim(r) == NULL, "slots run out");
    metrics_read_totals(r, tot);
    tap_ok(&t, tot->slots_exhausted == 1, "and that is counted");

    struct metrics_snapshot snap = {.totals = *tot, .queue = 3, .queue_limit = 1024, .region_bytes = 1};
    struct buf out;
    buf_init(&out, 0);
    char want[160];
    snprintf(want, sizeof want, "clone_jobs_requests_total{route=\"%s\",method=\"%s\",status_class=\"2xx\"} 4\n",
             routes[0].pattern, routes[0].method);
    tap_ok(&t, metrics_render_prometheus(&snap, &out) == 0 && strstr(out.data, want) &&
                   strstr(out.data, "clone_jobs_listen_queue 3\n") &&
                   strstr(out.data, "# TYPE clone_jobs_request_duration_seconds histogram\n"),
           "the Prometheus text");
    buf_free(&out);
    free(tot);
    metrics_region_destroy(r);

    concurrency(&t);
    gateway(&t);
    queue(&t);
    return tap_done(&t);
}
