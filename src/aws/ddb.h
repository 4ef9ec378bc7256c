/* ddb.h — a DynamoDB client over its JSON protocol: signed requests, retries, typed operations.
 * One client per thread owns one reused curl handle (keep-alive); credentials may be shared (credentials_cache.h). */
#ifndef CLONE_JOBS_DDB_H
#define CLONE_JOBS_DDB_H

#include <stddef.h>
#include <json-c/json.h>

#include "aws_config.h"
#include "conf.h"

struct ddb_options {
    long connect_timeout_ms;   /* per attempt; default 1000 */
    long attempt_timeout_ms;   /* whole attempt; default 5000 */
    int max_attempts;          /* default 5 */
    long max_total_ms;         /* every attempt and backoff together; default 10000 */
    long backoff_base_ms;      /* first backoff ceiling; default 25, doubled per retry (full jitter) */
    long backoff_cap_ms;       /* default 2000 */
    size_t max_response_bytes; /* default 16 MiB: DynamoDB pages are at most 1 MB */
};

/* What a call ended with; callers map these to HTTP statuses (404, 409/412, 400, 503). */
enum ddb_outcome {
    DDB_OK = 0,
    DDB_CONDITION_FAILED,  /* ConditionalCheckFailedException */
    DDB_RESOURCE_NOT_FOUND,/* ResourceNotFoundException: the table is missing */
    DDB_VALIDATION,        /* ValidationException: the request (or item) is not acceptable */
    DDB_THROTTLED,         /* still throttled after every retry */
    DDB_UNAVAILABLE,       /* 5xx or no connection after every retry */
    DDB_CLIENT_ERROR,      /* any other 4xx, such as a bad signature or unknown credentials */
    DDB_INTERNAL,          /* out of memory, unreadable answer, no credentials */
};

struct ddb_result {
    enum ddb_outcome outcome;
    json_object *response;  /* the parsed answer when DDB_OK (owned; ddb_result_clear frees it) */
    long http_status;       /* of the last attempt; 0 when none was answered */
    char error_type[96];    /* DynamoDB's __type after the '#', e.g. "ConditionalCheckFailedException" */
    char message[512];      /* DynamoDB's message, or ours for transport errors */
    int attempts;
    long elapsed_ms;        /* every attempt and backoff */
    long long elapsed_us;   /* the same in microseconds (for latency histograms) */
    int throttles;          /* attempts DynamoDB answered with throttling (retried or not) */
};

/* Expressions for a call; every field may be NULL. names and values are borrowed. */
struct ddb_expr {
    const char *condition;
    const char *update;
    const char *filter;
    const char *key_condition;
    const char *projection;
    json_object *names;   /* ExpressionAttributeNames: {"#n": "name"} */
    json_object *values;  /* ExpressionAttributeValues: {":v": {"S": "x"}} */
};

/* Paging for Scan and Query; exclusive_start_key is borrowed. */
struct ddb_page {
    int limit;                       /* 0: DynamoDB's own page size (1 MB) */
    json_object *exclusive_start_key;
    int consistent_read;
};

struct ddb_client;

/* Fill in the defaults above. */
void ddb_options_default(struct ddb_options *o);

/* The options from the configuration's ddb_* keys (the rest at the defaults above). */
void ddb_options_from_conf(struct ddb_options *o, const struct conf *c);

/* A client for the endpoint and region in settings. Credentials are resolved now (and again before
 * they expire), so a missing credential is reported at start-up. Returns NULL with err on failure. */
struct ddb_client *ddb_client_new(const struct ddb_options *o, const struct aws_settings *settings,
                                  char *err, size_t errlen);
/* The same, with credentials from a cache shared with other clients (the threads of one process; borrowed,
 * must outlive the client). */
struct aws_credentials_cache;
struct ddb_client *ddb_client_new_shared(const struct ddb_options *o, const struct aws_settings *settings,
                                         struct aws_credentials_cache *credentials, char *err, size_t errlen);
void ddb_client_free(struct ddb_client *c);

/* Told of every call's end (operation and result, outcome included) when set: how the worker's metrics count
 * DynamoDB calls, retries, throttles and errors per operation without this layer knowing about them. fn runs
 * on the calling thread and must not call the client. NULL turns it off. */
typedef void (*ddb_observer)(void *ctx, const char *operation, const struct ddb_result *r);
void ddb_client_set_observer(struct ddb_client *c, ddb_observer fn, void *ctx);

/* Any DynamoDB operation ("GetItem", ...): request is borrowed. Returns result->outcome. */
enum ddb_outcome ddb_call(struct ddb_client *c, const char *operation, json_object *request,
                          struct ddb_result *result);
void ddb_result_clear(struct ddb_result *r);
/* A short name for an outcome, for logs. */
const char *ddb_outcome_name(enum ddb_outcome o);

/* Typed operations: keys and items are DynamoDB maps of attribute values (borrowed).
 * return_values may be NULL ("NONE"). */
enum ddb_outcome ddb_get_item(struct ddb_client *c, const char *table, json_object *key,
                              int consistent_read, struct ddb_result *r);
enum ddb_outcome ddb_put_item(struct ddb_client *c, const char *table, json_object *item,
                              const struct ddb_expr *e, const char *return_values,
                              struct ddb_result *r);
enum ddb_outcome ddb_update_item(struct ddb_client *c, const char *table, json_object *key,
                                 const struct ddb_expr *e, const char *return_values,
                                 struct ddb_result *r);
enum ddb_outcome ddb_delete_item(struct ddb_client *c, const char *table, json_object *key,
                                 const struct ddb_expr *e, const char *return_values,
                                 struct ddb_result *r);
enum ddb_outcome ddb_scan(struct ddb_client *c, const char *table, const struct ddb_page *p,
                          const struct ddb_expr *e, struct ddb_result *r);
enum ddb_outcome ddb_query(struct ddb_client *c, const char *table, const char *index_name,
                           const struct ddb_page *p, const struct ddb_expr *e,
                           struct ddb_result *r);
/* An on-demand (PAY_PER_REQUEST) table with one string partition key. */
enum ddb_outcome ddb_create_table(struct ddb_client *c, const char *table, const char *key_attribute,
                                  struct ddb_result *r);
enum ddb_outcome ddb_describe_table(struct ddb_client *c, const char *table, struct ddb_result *r);

#endif
