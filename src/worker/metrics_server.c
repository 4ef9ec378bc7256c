/* metrics_server.c — the metrics listener process: /metrics in Prometheus' text format and /status (php-fpm's
 * status page, text or JSON), read from the shared counters, the access log and the FastCGI accept queue. */
#include "config.h"

#include "metrics_server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ddb.h"
#include "jsonx.h"
#include "log.h"
#include "pool.h"
#include "router.h"

/* One scrape or status request: its head must come within this, its answer leave within twice this. */
#define CLIENT_DEADLINE_MS 2000
#define REQUEST_HEAD_MAX 8192
/* Requests under way listed in the JSON status (the text page shows the longest one). */
#define STATUS_REQUESTS_MAX 256
#define STATUS_PROCESSES_MAX 4096

/* --- the supervisor's part ------------------------------------------------------------------------------ */

/* Split "host:port" or "[v6]:port" into host and port. */
static int split_listen(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return -1;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    return 0;
}

static int open_listener(const char *addr, char *err, size_t errlen)
{
    char host[128], port[16];
    if (split_listen(addr, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "metrics_listen %s: not HOST:PORT", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "metrics_listen %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "metrics_listen %s: %s", addr, strerror(saved));
    return fd;
}

int metrics_server_prepare(const struct conf *c, int workers, struct metrics_region **region, int *listen_fd,
                           char *err, size_t errlen)
{
    *region = NULL;
    *listen_fd = -1;
    int n = workers > 0 ? workers : pool_default_workers();
    struct metrics_region *r = metrics_region_create(2 * n + 1, c->threads, err, errlen);
    if (!r)
        return -1;
    int fd = open_listener(c->metrics_listen, err, errlen);
    if (fd < 0) {
        metrics_region_destroy(r);
        return -1;
    }
    *region = r;
    *listen_fd = fd;
    return 0;
}

/* --- the accept queue ------------------------------------------------------------------------------------ */

static int unix_queue(int fd, long *queued, long *limit)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return -1;
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } q;
    memset(&q, 0, sizeof q);
    q.nlh.nlmsg_len = sizeof q;
    q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    q.nlh.nlmsg_flags = NLM_F_REQUEST;
    q.req.sdiag_family = AF_UNIX;
    q.req.udiag_states = 1u << 10; /* TCP_LISTEN's number, which unix sockets share */
    q.req.udiag_ino = (unsigned)st.st_ino;
    q.req.udiag_show = UDIAG_SHOW_RQLEN;
    q.req.udiag_cookie[0] = q.req.udiag_cookie[1] = ~0u; /* no cookie: the inode alone */
    int found = -1;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nl, &q, sizeof q, 0, (struct sockaddr *)&kernel, sizeof kernel) == (ssize_t)sizeof q) {
        long answer[2048];
        struct pollfd pfd = {.fd = nl, .events = POLLIN};
        ssize_t got = poll(&pfd, 1, 1000) == 1 ? recv(nl, answer, sizeof answer, 0) : -1;
        struct nlmsghdr *h = (struct nlmsghdr *)answer;
        if (got > 0 && NLMSG_OK(h, (size_t)got) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            struct unix_diag_msg *msg = NLMSG_DATA(h);
            size_t attrs_len = h->nlmsg_len - NLMSG_LENGTH(sizeof *msg);
            struct nlattr *a = (struct nlattr *)(msg + 1);
            while (attrs_len >= sizeof *a && a->nla_len >= sizeof *a && a->nla_len <= attrs_len) {
                if (a->nla_type == UNIX_DIAG_RQLEN && a->nla_len >= NLA_HDRLEN + sizeof(struct unix_diag_rqlen)) {
                    struct unix_diag_rqlen rq;
                    memcpy(&rq, (char *)a + NLA_HDRLEN, sizeof rq);
                    *queued = (long)rq.udiag_rqueue;
                    *limit = (long)rq.udiag_wqueue;
                    found = 0;
                    break;
                }
                size_t step = NLA_ALIGN(a->nla_len);
                if (step >= attrs_len)
                    break;
                attrs_len -= step;
                a = (struct nlattr *)((char *)a + step);
            }
        }
    }
    close(nl);
    return found;
}

int metrics_listen_queue(int fd, long *queued, long *limit)
{
    *queued = *limit = -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_UNIX)
        return unix_queue(fd, queued, limit);
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        /* On a listening TCP socket Linux reports the accept queue as unacked, and its limit as sacked. */
        struct tcp_info ti;
        socklen_t tlen = sizeof ti;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) != 0)
            return -1;
        *queued = (long)ti.tcpi_unacked;
        *limit = (long)ti.tcpi_sacked;
        return 0;
    }
    return -1;
}

/* --- the Prometheus text ------------------------------------------------------------------------------------- */

/* The route and method labels of a cell; 0 when the cell is not in use (a preflight cell of a route that is not
 * the first of its path). */
static int cell_labels(int cell, const char **route, const char **method)
{
    size_t count;
    const struct route *routes = router_routes(&count);
    if (cell == metrics_cell_unmatched()) {
        *route = "unmatched";
        *method = "ANY";
        return 1;
    }
    if ((size_t)cell < count) {
        *route = routes[cell].pattern;
        *method = routes[cell].method;
        return 1;
    }
    size_t i = (size_t)cell - count;
    if (i >= count)
        return 0;
    for (size_t k = 0; k < i; k++)
        if (strcmp(routes[k].pattern, routes[i].pattern) == 0)
            return 0;
    *route = routes[i].pattern;
    *method = "OPTIONS";
    return 1;
}

static const char *const class_names[METRICS_CLASSES] = {"2xx", "3xx", "4xx", "5xx", "other"};
static const char *const op_names[METRICS_OPS] = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "Query", "DescribeTable", "other",
};

static int family(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int histogram(struct buf *b, const char *name, const char *route, const char *method,
                     const uint64_t *buckets, uint64_t sum_us)
{
    uint64_t cumulative = 0;
    int rc = 0;
    for (int i = 0; i < METRICS_BUCKETS && rc == 0; i++) {
        cumulative += buckets[i];
        rc = buf_printf(b, "%s_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} %llu\n", name, route, method,
                        (double)metrics_bucket_bounds_us[i] / 1e6, (unsigned long long)cumulative);
    }
    cumulative += buckets[METRICS_BUCKETS];
    if (rc == 0)
        rc = buf_printf(b,
                        "%s_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n"
                        "%s_sum{route=\"%s\",method=\"%s\"} %.6f\n"
                        "%s_count{route=\"%s\",method=\"%s\"} %llu\n",
                        name, route, method, (unsigned long long)cumulative, name, route, method,
                        (double)sum_us / 1e6, name, route, method, (unsigned long long)cumulative);
    return rc;
}

static uint64_t total_of(const uint64_t *v, int n)
{
    uint64_t t = 0;
    for (int i = 0; i < n; i++)
        t += v[i];
    return t;
}

static int scalar(struct buf *b, const char *name, const char *type, const char *help, double value)
{
    if (family(b, name, type, help) != 0)
        return -1;
    return buf_printf(b, "%s %.17g\n", name, value);
}

int metrics_render_prometheus(const struct metrics_snapshot *s, struct buf *out)
{
    const struct metrics_totals *t = &s->totals;
    int cells = metrics_cell_count();
    int rc = family(out, "clone_jobs_requests_total", "counter",
                    "Requests the workers answered, by route, method and status class.");
    for (int c = 0; c < cells && rc == 0; c++) {
        const char *route, *method;
        if (!cell_labels(c, &route, &method))
            continue;
        for (int k = 0; k < METRICS_CLASSES && rc == 0; k++)
            if (t->requests[c][k])
                rc = buf_printf(out, "clone_jobs_requests_total{route=\"%s\",method=\"%s\",status_class=\"%s\"} %llu\n",
                                route, method, class_names[k], (unsigned long long)t->requests[c][k]);
    }
    if (rc == 0)
        rc = family(out, "clone_jobs_request_duration_seconds", "histogram",
                    "Time from the request's start in a worker to its answer (API Gateway's Latency).");
    for (int c = 0; c < cells && rc == 0; c++) {
        const char *route, *method;
        if (cell_labels(c, &route, &method) && total_of(t->latency[c], METRICS_BUCKETS + 1))
            rc = histogram(out, "clone_jobs_request_duration_seconds", route, method, t->latency[c],
                           t->latency_sum_us[c]);
    }
    if (rc == 0)
        rc = family(out, "clone_jobs_dynamodb_duration_seconds", "histogram",
                    "DynamoDB time of each request that called it, retries and backoff included "
                    "(API Gateway's IntegrationLatency).");
    for (int c = 0; c < cells && rc == 0; c++) {
        const char *route, *method;
        if (cell_labels(c, &route, &method) && total_of(t->ddb_latency[c], METRICS_BUCKETS + 1))
            rc = histogram(out, "clone_jobs_dynamodb_duration_seconds", route, method, t->ddb_latency[c],
                           t->ddb_latency_sum_us[c]);
    }
    struct {
        const char *name, *help;
        const uint64_t *v;
    } per_op[] = {
        {"clone_jobs_dynamodb_calls_total", "DynamoDB calls by operation (each with its retries).", t->ddb_calls},
        {"clone_jobs_dynamodb_retries_total", "DynamoDB attempts after the first, by operation.", t->ddb_retries},
        {"clone_jobs_dynamodb_throttles_total", "DynamoDB attempts answered with throttling, by operation.",
         t->ddb_throttles},
    };
    for (size_t f = 0; f < sizeof per_op / sizeof per_op[0] && rc == 0; f++) {
        rc = family(out, per_op[f].name, "counter", per_op[f].help);
        for (int o = 0; o < METRICS_OPS && rc == 0; o++)
            if (per_op[f].v[o] || o == METRICS_OP_GET_ITEM)
                rc = buf_printf(out, "%s{operation=\"%s\"} %llu\n", per_op[f].name, op_names[o],
                                (unsigned long long)per_op[f].v[o]);
    }
    if (rc == 0)
        rc = family(out, "clone_jobs_dynamodb_errors_total", "counter",
                    "DynamoDB calls that did not succeed, by operation and outcome (after the retries).");
    for (int o = 0; o < METRICS_OPS && rc == 0; o++)
        for (int e = 1; e < METRICS_DDB_OUTCOMES && rc == 0; e++)
            if (t->ddb_errors[o][e])
                rc = buf_printf(out, "clone_jobs_dynamodb_errors_total{operation=\"%s\",outcome=\"%s\"} %llu\n",
                                op_names[o], ddb_outcome_name((enum ddb_outcome)e),
                                (unsigned long long)t->ddb_errors[o][e]);
    if (rc == 0)
        rc = family(out, "clone_jobs_gateway_responses_total", "counter",
                    "Answers nginx gave itself (no worker asked, or the worker failed: 502, 504), from its access "
                    "log, by route, method and status.");
    if (s->gateway) {
        for (int i = 0; i < s->gateway->nseries && rc == 0; i++) {
            const struct gateway_series *g = &s->gateway->series[i];
            const char *route = "other", *method_unused;
            if (g->cell >= 0 && !cell_labels(g->cell, &route, &method_unused))
                route = "other";
            char status[8];
            snprintf(status, sizeof status, "%d", g->status);
            rc = buf_printf(out, "clone_jobs_gateway_responses_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                            route, g->method, g->status ? status : "other", (unsigned long long)g->count);
        }
    }
    if (rc == 0)
        rc = scalar(out, "clone_jobs_gateway_log_up", "gauge",
                    "1 when the gateway's access log (access_log) could be read at this scrape.",
                    s->gateway && s->gateway->readable ? 1 : 0);
    if (rc == 0)
        rc = scalar(out, "clone_jobs_requests_in_flight", "gauge", "Requests the workers hold now.", t->in_flight);
    if (rc == 0)
        rc = family(out, "clone_jobs_threads", "gauge", "Serving threads of the live worker processes.") ||
             buf_printf(out, "clone_jobs_threads{state=\"busy\"} %d\nclone_jobs_threads{state=\"idle\"} %d\n",
                        t->threads_busy, t->threads > t->threads_busy ? t->threads - t->threads_busy : 0);
    if (rc == 0)
        rc = family(out, "clone_jobs_processes", "gauge",
                    "Worker processes: serving, and retiring after a reload (finishing their requests).") ||
             buf_printf(out, "clone_jobs_processes{state=\"serving\"} %d\nclone_jobs_processes{state=\"retiring\"} %d\n",
                        t->processes_serving, t->processes_retiring);
    if (rc == 0 && s->queue >= 0)
        rc = scalar(out, "clone_jobs_listen_queue", "gauge",
                    "Connections waiting on the FastCGI socket for a worker thread to accept them.", (double)s->queue);
    if (rc == 0 && s->queue_limit >= 0)
        rc = scalar(out, "clone_jobs_listen_queue_max", "gauge", "The FastCGI socket's accept queue limit.",
                    (double)s->queue_limit);
    struct {
        const char *name, *help;
        uint64_t v;
    } counters[] = {
        {"clone_jobs_max_in_flight_reached_total", "Requests that took a process's last idle thread (php-fpm's "
                                                   "max children reached).", t->max_reached},
        {"clone_jobs_slow_requests_total", "Requests slower than slow_request_ms (each logged with its id).", t->slow},
        {"clone_jobs_quota_leases_taken_total", "Blocks of usage-plan quotas leased from DynamoDB.", t->quota_taken},
        {"clone_jobs_quota_leases_returned_total", "Quota leases whose unspent part was given back.", t->quota_returned},
        {"clone_jobs_usage_leases_taken_total", "Blocks of per-key daily usage counted ahead in DynamoDB.",
         t->usage_taken},
        {"clone_jobs_usage_leases_returned_total", "Usage leases whose unspent part was taken back.", t->usage_returned},
        {"clone_jobs_pool_process_starts_total", "Worker processes the supervisor started.", t->starts},
        {"clone_jobs_pool_restarts_total", "Worker processes that died unasked and were replaced.", t->restarts},
        {"clone_jobs_pool_reloads_total", "Reloads (SIGHUP) of the pool.", t->reloads},
        {"clone_jobs_pool_spawn_failures_total", "Worker processes that could not be forked.", t->spawn_failures},
        {"clone_jobs_metrics_slots_exhausted_total", "Worker processes started without a metrics slot (not counted).",
         t->slots_exhausted},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0] && rc == 0; i++)
        rc = scalar(out, counters[i].name, "counter", counters[i].help, (double)counters[i].v);
    if (rc == 0)
        rc = scalar(out, "clone_jobs_pool_start_time_seconds", "gauge", "When the pool's supervisor started (Unix time).",
                    (double)t->start_unix_ms / 1000.0);
    if (rc == 0)
        rc = scalar(out, "clone_jobs_metrics_region_bytes", "gauge", "Size of the shared counters' region.",
                    (double)s->region_bytes);
    return rc;
}

/* --- the status page ------------------------------------------------------------------------------------------ */

static void format_time(long long unix_ms, char *out, size_t len)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "-");
}

static uint64_t all_requests(const struct metrics_totals *t, int klass)
{
    uint64_t n = 0;
    for (int c = 0; c < metrics_cell_count(); c++)
        for (int k = 0; k < METRICS_CLASSES; k++)
            if (klass < 0 || k == klass)
                n += t->requests[c][k];
    return n;
}

static uint64_t sum_ops(const uint64_t *v)
{
    return total_of(v, METRICS_OPS);
}

/* Add a member; a failure (out of memory) is remembered in *failed, and the value is taken either way. */
static void put(json_object *o, const char *key, json_object *value, int *failed)
{
    if (json_add(o, key, value) != 0)
        *failed = 1;
}

static void put_count(json_object *o, const char *key, uint64_t n, int *failed)
{
    put(o, key, json_object_new_int64((int64_t)n), failed);
}

static json_object *status_json(const struct metrics_snapshot *s, const struct metrics_process_view *procs, int np,
                                const struct metrics_request_view *reqs, int nr)
{
    const struct metrics_totals *t = &s->totals;
    char start[32];
    format_time(t->start_unix_ms, start, sizeof start);
    uint64_t errors = 0;
    for (int o = 0; o < METRICS_OPS; o++)
        errors += total_of(t->ddb_errors[o], METRICS_DDB_OUTCOMES);
    int failed = 0;
    json_object *root = json_object_new_object();
    json_object *pool = json_object_new_object();
    json_object *totals = json_object_new_object();
    json_object *processes = json_object_new_array();
    json_object *requests = json_object_new_array();
    put(root, "pool", pool, &failed);
    put(root, "totals", totals, &failed);
    put(root, "processes", processes, &failed);
    put(root, "requestsUnderWay", requests, &failed);
    if (failed) {
        json_object_put(root);
        return NULL;
    }
    put(pool, "supervisorPid", json_object_new_int(t->supervisor_pid), &failed);
    put(pool, "startTime", json_object_new_string(start), &failed);
    put(pool, "uptimeSeconds", json_object_new_int64((s->now_unix_ms - t->start_unix_ms) / 1000), &failed);
    put(pool, "processesServing", json_object_new_int(t->processes_serving), &failed);
    put(pool, "processesRetiring", json_object_new_int(t->processes_retiring), &failed);
    put(pool, "threads", json_object_new_int(t->threads), &failed);
    put(pool, "threadsBusy", json_object_new_int(t->threads_busy), &failed);
    put(pool, "threadsIdle", json_object_new_int(t->threads > t->threads_busy ? t->threads - t->threads_busy : 0),
        &failed);
    put(pool, "requestsInFlight", json_object_new_int(t->in_flight), &failed);
    if (s->queue >= 0 && s->queue_limit >= 0) {
        put(pool, "listenQueue", json_object_new_int64(s->queue), &failed);
        put(pool, "listenQueueMax", json_object_new_int64(s->queue_limit), &failed);
    } else if (json_add_null(pool, "listenQueue") != 0 || json_add_null(pool, "listenQueueMax") != 0) {
        failed = 1;
    }
    put_count(totals, "requests", all_requests(t, -1), &failed);
    put_count(totals, "2xx", all_requests(t, METRICS_2XX), &failed);
    put_count(totals, "3xx", all_requests(t, METRICS_3XX), &failed);
    put_count(totals, "4xx", all_requests(t, METRICS_4XX), &failed);
    put_count(totals, "5xx", all_requests(t, METRICS_5XX), &failed);
    put_count(totals, "slowRequests", t->slow, &failed);
    put_count(totals, "maxInFlightReached", t->max_reached, &failed);
    put_count(totals, "dynamodbCalls", sum_ops(t->ddb_calls), &failed);
    put_count(totals, "dynamodbRetries", sum_ops(t->ddb_retries), &failed);
    put_count(totals, "dynamodbThrottles", sum_ops(t->ddb_throttles), &failed);
    put_count(totals, "dynamodbErrors", errors, &failed);
    put_count(totals, "quotaLeasesTaken", t->quota_taken, &failed);
    put_count(totals, "quotaLeasesReturned", t->quota_returned, &failed);
    put_count(totals, "usageLeasesTaken", t->usage_taken, &failed);
    put_count(totals, "usageLeasesReturned", t->usage_returned, &failed);
    put_count(totals, "processStarts", t->starts, &failed);
    put_count(totals, "restarts", t->restarts, &failed);
    put_count(totals, "reloads", t->reloads, &failed);
    for (int i = 0; i < np && !failed; i++) {
        char when[32];
        format_time(procs[i].start_unix_ms, when, sizeof when);
        json_object *p = json_object_new_object();
        if (!p || json_object_array_add(processes, p) != 0) {
            json_object_put(p);
            failed = 1;
            break;
        }
        put(p, "pid", json_object_new_int(procs[i].pid), &failed);
        put(p, "state", json_object_new_string(procs[i].retiring ? "retiring" : "serving"), &failed);
        put(p, "startTime", json_object_new_string(when), &failed);
        put_count(p, "requests", procs[i].requests, &failed);
        put(p, "threads", json_object_new_int(procs[i].threads), &failed);
        put(p, "requestsInFlight", json_object_new_int(procs[i].in_flight), &failed);
    }
    for (int i = 0; i < nr && !failed; i++) {
        json_object *r = json_object_new_object();
        if (!r || json_object_array_add(requests, r) != 0) {
            json_object_put(r);
            failed = 1;
            break;
        }
        put(r, "requestId", json_object_new_string(reqs[i].request_id), &failed);
        put(r, "pid", json_object_new_int(reqs[i].pid), &failed);
        put(r, "method", json_object_new_string(reqs[i].method), &failed);
        if (log_add_text(r, "path", reqs[i].path, strlen(reqs[i].path)) != 0)
            failed = 1;
        put(r, "elapsedMs", json_object_new_int64(reqs[i].elapsed_us / 1000), &failed);
    }
    if (!failed) {
        if (nr > 0)
            put(root, "longestRunning", json_object_get(json_object_array_get_idx(requests, 0)), &failed);
        else if (json_add_null(root, "longestRunning") != 0)
            failed = 1;
    }
    if (failed) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

static int status_text(const struct metrics_snapshot *s, const struct metrics_process_view *procs, int np,
                       const struct metrics_request_view *reqs, int nr, struct buf *out)
{
    const struct metrics_totals *t = &s->totals;
    char start[32];
    format_time(t->start_unix_ms, start, sizeof start);
    char queue[32], queue_max[32];
    snprintf(queue, sizeof queue, s->queue >= 0 ? "%ld" : "-", s->queue);
    snprintf(queue_max, sizeof queue_max, s->queue_limit >= 0 ? "%ld" : "-", s->queue_limit);
    int rc = buf_printf(out,
                        "pool:                    clone-jobs\n"
                        "supervisor pid:          %d\n"
                        "start time:              %s\n"
                        "start since:             %lld\n"
                        "accepted requests:       %llu\n"
                        "listen queue:            %s\n"
                        "listen queue max:        %s\n"
                        "processes:               %d serving, %d retiring\n"
                        "threads:                 %d (%d busy, %d idle)\n"
                        "requests in flight:      %d\n"
                        "max in flight reached:   %llu\n"
                        "slow requests:           %llu\n"
                        "restarts:                %llu\n"
                        "answers:                 %llu 2xx, %llu 3xx, %llu 4xx, %llu 5xx\n"
                        "dynamodb:                %llu calls, %llu retries, %llu throttles\n",
                        t->supervisor_pid, start, (s->now_unix_ms - t->start_unix_ms) / 1000,
                        (unsigned long long)all_requests(t, -1), queue, queue_max, t->processes_serving,
                        t->processes_retiring, t->threads, t->threads_busy,
                        t->threads > t->threads_busy ? t->threads - t->threads_busy : 0, t->in_flight,
                        (unsigned long long)t->max_reached, (unsigned long long)t->slow,
                        (unsigned long long)t->restarts, (unsigned long long)all_requests(t, METRICS_2XX),
                        (unsigned long long)all_requests(t, METRICS_3XX),
                        (unsigned long long)all_requests(t, METRICS_4XX),
                        (unsigned long long)all_requests(t, METRICS_5XX), (unsigned long long)sum_ops(t->ddb_calls),
                        (unsigned long long)sum_ops(t->ddb_retries), (unsigned long long)sum_ops(t->ddb_throttles));
    if (rc == 0)
        rc = nr > 0 ? buf_printf(out, "longest-running request: %s %s %s %lld ms (pid %d)\n", reqs[0].request_id,
                                 reqs[0].method, reqs[0].path, reqs[0].elapsed_us / 1000, reqs[0].pid)
                    : buf_append_str(out, "longest-running request: -\n");
    if (rc == 0)
        rc = buf_printf(out, "\n%-8s %-9s %-21s %10s %10s %8s\n", "pid", "state", "start time", "requests",
                        "in flight", "threads");
    for (int i = 0; i < np && rc == 0; i++) {
        char when[32];
        format_time(procs[i].start_unix_ms, when, sizeof when);
        rc = buf_printf(out, "%-8d %-9s %-21s %10llu %10d %8d\n", procs[i].pid,
                        procs[i].retiring ? "retiring" : "serving", when, (unsigned long long)procs[i].requests,
                        procs[i].in_flight, procs[i].threads);
    }
    return rc;
}

int metrics_render_status(const struct metrics_snapshot *s, const struct metrics_region *r, int json, struct buf *out)
{
    struct metrics_process_view *procs = calloc(STATUS_PROCESSES_MAX, sizeof *procs);
    struct metrics_request_view *reqs = calloc(STATUS_REQUESTS_MAX, sizeof *reqs);
    int rc = -1;
    if (procs && reqs) {
        int np = metrics_read_processes(r, procs, STATUS_PROCESSES_MAX);
        int nr = metrics_read_requests(r, s->now_us, reqs, json ? STATUS_REQUESTS_MAX : 1);
        if (json) {
            json_object *doc = status_json(s, procs, np, reqs, nr);
            const char *text = doc ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                                             JSON_C_TO_STRING_NOSLASHESCAPE)
                                   : NULL;
            rc = text && buf_append_str(out, text) == 0 && buf_append(out, "\n", 1) == 0 ? 0 : -1;
            json_object_put(doc);
        } else {
            rc = status_text(s, procs, np, reqs, nr, out);
        }
    }
    free(procs);
    free(reqs);
    return rc;
}

/* --- the listener process ---------------------------------------------------------------------------------------- */

struct server {
    const struct conf *conf;
    struct metrics_region *region;
    int fcgi_fd;
    struct gateway_log *gateway;
};

/* Read the request head within the deadline; returns its length, or -1. */
static ssize_t read_head(int fd, char *head, size_t cap, long deadline)
{
    size_t n = 0;
    while (n + 1 < cap) {
        long left = deadline - clock_monotonic_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
            return -1;
        ssize_t got = recv(fd, head + n, cap - 1 - n, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            return -1;
        n += (size_t)got;
        head[n] = '\0';
        if (strstr(head, "\r\n\r\n") || strstr(head, "\n\n"))
            return (ssize_t)n;
    }
    return -1;
}

static void write_all(int fd, const char *data, size_t n, long deadline)
{
    while (n) {
        long left = deadline - clock_monotonic_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
            return;
        ssize_t put = send(fd, data, n, MSG_NOSIGNAL);
        if (put < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (put <= 0)
            return;
        data += put;
        n -= (size_t)put;
    }
}

static void answer(int fd, int status, const char *reason, const char *type, const struct buf *body, int head_only,
                   long deadline)
{
    char head[256];
    size_t len = body->data ? body->len : 0;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, type, len);
    write_all(fd, head, (size_t)n, deadline);
    if (!head_only && len)
        write_all(fd, body->data, len, deadline);
}

static void snapshot(struct server *sv, struct metrics_snapshot *s)
{
    memset(s, 0, sizeof *s);
    metrics_read_totals(sv->region, &s->totals);
    if (sv->gateway) {
        gateway_log_update(sv->gateway);
        s->gateway = sv->gateway;
    }
    if (metrics_listen_queue(sv->fcgi_fd, &s->queue, &s->queue_limit) != 0)
        s->queue = s->queue_limit = -1;
    s->region_bytes = metrics_region_size(sv->region);
    struct timespec ts;
    s->now_unix_ms = clock_gettime(CLOCK_REALTIME, &ts) == 0 ? (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 : 0;
    s->now_us = clock_monotonic_us();
}

static void serve_one(struct server *sv, int fd)
{
    long deadline = clock_monotonic_ms() + CLIENT_DEADLINE_MS;
    char head[REQUEST_HEAD_MAX];
    struct buf body;
    buf_init(&body, 64u << 20);
    if (read_head(fd, head, sizeof head, deadline) < 0) {
        buf_free(&body);
        return;
    }
    char method[8] = "", target[256] = "";
    int parsed = sscanf(head, "%7s %255s", method, target) == 2;
    int head_only = strcmp(method, "HEAD") == 0;
    deadline = clock_monotonic_ms() + 2 * CLIENT_DEADLINE_MS;
    if (!parsed || (strcmp(method, "GET") != 0 && !head_only)) {
        buf_append_str(&body, "only GET /metrics and GET /status\n");
        answer(fd, parsed ? 405 : 400, parsed ? "Method Not Allowed" : "Bad Request", "text/plain", &body, 0, deadline);
        buf_free(&body);
        return;
    }
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    int json = (query && strstr(query, "json")) || strcmp(target, "/status.json") == 0;
    if (strcmp(target, "/metrics") == 0 || strcmp(target, "/status") == 0 || strcmp(target, "/status.json") == 0) {
        struct metrics_snapshot s;
        snapshot(sv, &s);
        int metrics = strcmp(target, "/metrics") == 0;
        int rc = metrics ? metrics_render_prometheus(&s, &body) : metrics_render_status(&s, sv->region, json, &body);
        if (rc != 0) {
            buf_reset(&body);
            buf_append_str(&body, "out of memory\n");
            answer(fd, 500, "Internal Server Error", "text/plain", &body, head_only, deadline);
        } else {
            answer(fd, 200, "OK",
                   metrics ? "text/plain; version=0.0.4; charset=utf-8"
                           : json ? "application/json" : "text/plain; charset=utf-8",
                   &body, head_only, deadline);
        }
    } else {
        buf_append_str(&body, "not found: GET /metrics, /status, /status?json\n");
        answer(fd, 404, "Not Found", "text/plain", &body, head_only, deadline);
    }
    buf_free(&body);
}

int metrics_server_run(const struct conf *c, struct metrics_region *region, int listen_fd, int fcgi_fd)
{
    enum log_level lvl = c->log_level;
    /* The supervisor's death ends the listener too (it would serve stale slots). Its own name, so ps and the
     * tools that count the pool's workers tell it from them. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || prctl(PR_SET_NAME, METRICS_SERVER_COMM) != 0)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return 1;
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        log_message(lvl, LOG_LEVEL_ERROR, NULL, "metrics listener: signalfd failed (errno %d)", errno);
        return 1;
    }
    struct server sv = {.conf = c, .region = region, .fcgi_fd = fcgi_fd};
    sv.gateway = calloc(1, sizeof *sv.gateway);
    if (sv.gateway)
        gateway_log_open(sv.gateway, c->access_log, c->stage);
    log_message(lvl, LOG_LEVEL_INFO, NULL, "metrics listener on %s (GET /metrics, /status)", c->metrics_listen);
    int status = 0;
    for (;;) {
        struct pollfd fds[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            status = 1;
            break;
        }
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo == SIGHUP)
                continue; /* a reload of the pool: nothing to do here */
            break;
        }
        if (fds[0].revents) {
            int fd = accept(listen_fd, NULL, NULL);
            if (fd < 0)
                continue;
            int flags = fcntl(fd, F_GETFL);
            if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
                close(fd);
                continue;
            }
            serve_one(&sv, fd);
            close(fd);
        }
    }
    if (sv.gateway) {
        gateway_log_close(sv.gateway);
        free(sv.gateway);
    }
    close(sfd);
    return status;
}
