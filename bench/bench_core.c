/* bench_core.c — CPU cost of the per-request work that does not wait on the network.
 * Signing a DynamoDB request, parsing a request body, and converting items both ways; prints ns per operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include "buf.h"
#include "ddb.h"
#include "ddb_value.h"
#include "json_input.h"
#include "metrics.h"
#include "sigv4.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(const char *name, double total_ns, long iterations, size_t bytes)
{
    double per = total_ns / (double)iterations;
    if (bytes)
        printf("%-44s %10.0f ns/op  %8.1f MB/s\n", name, per, (double)bytes / per * 1e3);
    else
        printf("%-44s %10.0f ns/op\n", name, per);
}

/* A typical clone job as a client would send it. */
static char *small_item_text(void)
{
    return strdup("{\"cloneID\":\"job-000123\",\"status\":\"queued\",\"repo\":\"https://git.example.com/team/"
                  "project.git\",\"branch\":\"main\",\"depth\":1,\"priority\":5,\"size\":123456789.25,"
                  "\"tags\":[\"nightly\",\"ci\"],\"owner\":{\"name\":\"build-bot\",\"team\":\"infra\"}}");
}

/* Close to DynamoDB's 400 KB limit: many attributes and a long string. */
static char *large_item_text(void)
{
    struct buf b;
    buf_init(&b, 0);
    int failed = buf_append_str(&b, "{\"cloneID\":\"big\",\"blob\":\"");
    for (int i = 0; i < 300000 && !failed; i++)
        failed = buf_append(&b, "x", 1);
    failed = failed || buf_append_str(&b, "\"");
    for (int i = 0; i < 2000 && !failed; i++)
        failed = buf_printf(&b, ",\"n%d\":%d.%d", i, i * 7919, i);
    failed = failed || buf_append_str(&b, "}");
    if (failed) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int bench_convert(const char *name, const char *text, long iterations)
{
    size_t len = strlen(text);
    char err[256];
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
        json_object *plain = NULL;
        if (json_input_parse(text, len, 32, &plain, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", name, err);
            return -1;
        }
        json_object_put(plain);
    }
    char label[96];
    snprintf(label, sizeof label, "parse %s (%zu bytes)", name, len);
    report(label, now_ns() - start, iterations, len);

    json_object *plain = NULL, *item = NULL;
    if (json_input_parse(text, len, 32, &plain, err, sizeof err) != 0)
        return -1;
    start = now_ns();
    for (long i = 0; i < iterations; i++) {
        json_object_put(item);
        item = NULL;
        if (ddbv_item_from_json(plain, &item, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", name, err);
            json_object_put(plain);
            return -1;
        }
    }
    snprintf(label, sizeof label, "JSON -> DynamoDB item, %s", name);
    report(label, now_ns() - start, iterations, 0);

    start = now_ns();
    for (long i = 0; i < iterations; i++) {
        json_object *back = NULL;
        if (ddbv_item_to_json(item, &back, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", name, err);
            break;
        }
        size_t out_len = 0;
        (void)json_object_to_json_string_length(back, JSON_C_TO_STRING_PLAIN, &out_len);
        json_object_put(back);
    }
    snprintf(label, sizeof label, "DynamoDB item -> JSON text, %s", name);
    report(label, now_ns() - start, iterations, 0);
    json_object_put(item);
    json_object_put(plain);
    return 0;
}

static int bench_sign(long iterations)
{
    const char *body = "{\"TableName\":\"clone-jobs\",\"Key\":{\"cloneID\":{\"S\":\"job-000123\"}},"
                       "\"ConsistentRead\":true}";
    const struct sigv4_header headers[] = {
        {"Host", "dynamodb.eu-west-1.amazonaws.com"},
        {"Content-Type", "application/x-amz-json-1.0"},
        {"X-Amz-Target", "DynamoDB_20120810.GetItem"},
    };
    const struct sigv4_request req = {.method = "POST", .path = "/", .headers = headers,
                                      .header_count = 3, .body = body, .body_len = strlen(body)};
    const struct sigv4_credentials creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
    const struct sigv4_params params = {.region = "eu-west-1", .service = "dynamodb",
                                        .amz_date = "20261125T120000Z", .normalize_path = 1};
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
        struct sigv4_result r;
        if (sigv4_sign(&req, &creds, &params, &r) != 0) {
            fprintf(stderr, "sign failed\n");
            return -1;
        }
        sigv4_result_free(&r);
    }
    report("SigV4-sign a GetItem request", now_ns() - start, iterations, 0);

    struct sigv4_key_cache cache;
    memset(&cache, 0, sizeof cache);
    struct sigv4_params cached = params;
    cached.key_cache = &cache;
    start = now_ns();
    for (long i = 0; i < iterations; i++) {
        struct sigv4_result r;
        if (sigv4_sign(&req, &creds, &cached, &r) != 0) {
            fprintf(stderr, "sign failed\n");
            return -1;
        }
        sigv4_result_free(&r);
    }
    report("SigV4-sign, signing key cached (the client)", now_ns() - start, iterations, 0);
    return 0;
}

/* What the metrics add to one request on a worker thread: begin, identify, one DynamoDB call observed, end. */
struct metrics_run {
    struct metrics_process *process;
    long iterations;
};

static void *metrics_requests(void *arg)
{
    struct metrics_run *run = arg;
    struct metrics_thread *t = metrics_thread_claim(run->process);
    struct ddb_result r = {.outcome = DDB_OK, .attempts = 1, .elapsed_us = 900};
    for (long i = 0; t && i < run->iterations; i++) {
        metrics_request_begin(run->process, t, i);
        metrics_request_identify(t, "91fd5b41-c593-379a-8e60-66cca8199ce4", "GET", "/prod/clones/job-000123");
        metrics_observe_ddb(t, "GetItem", &r);
        metrics_request_end(run->process, t, 7, 200, 1200 + (i & 1023), 0);
    }
    return t ? NULL : run;
}

static int bench_metrics(long iterations)
{
    char err[256];
    struct metrics_region *region = metrics_region_create(1, 3, err, sizeof err);
    if (!region) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    struct metrics_run run = {.process = metrics_process_claim(region), .iterations = iterations};
    metrics_process_started(region, run.process, 1);
    double start = now_ns();
    int failed = metrics_requests(&run) != NULL;
    report("metrics, one request (begin, identify, end)", now_ns() - start, iterations, 0);
    /* Two threads of one process at once, on two cores: they share the process's in-flight count (one cache
     * line, written at each request's start and end). Wall time per request of each thread. */
    pthread_t a, b;
    void *ra = run.process, *rb = run.process;
    start = now_ns();
    if (!failed && pthread_create(&a, NULL, metrics_requests, &run) == 0) {
        if (pthread_create(&b, NULL, metrics_requests, &run) == 0)
            pthread_join(b, &rb);
        pthread_join(a, &ra);
        report("metrics, the same on 2 threads at once", now_ns() - start, iterations, 0);
    }
    metrics_region_destroy(region);
    return failed || ra || rb ? -1 : 0;
}

int main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    char *small = small_item_text(), *large = large_item_text();
    int status = 0;
    if (!small || !large || bench_sign(20000 * scale) != 0 ||
        bench_convert("small item", small, 20000 * scale) != 0 ||
        bench_convert("400 KB item", large, 50 * scale) != 0 || bench_metrics(2000000 * scale) != 0)
        status = 1;
    free(small);
    free(large);
    return status;
}
