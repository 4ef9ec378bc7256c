/* conf.h — the service's configuration: one `key = value` file plus CLONE_JOBS_<KEY> environment overrides.
 * Named conf, not config, because autoconf's generated config.h must stay the one "config.h" every file includes. */
#ifndef CLONE_JOBS_CONF_H
#define CLONE_JOBS_CONF_H

#include <stddef.h>

#include "log.h"


#define CONF_DEFAULT_PATH "/etc/clone-jobs/clone-jobs.conf"

/* Who keeps the gateway's promises (keys, plans' rate and burst, API Gateway's 403/429): nginx in front, or
 * the worker itself (Apache, classic hosting: see the README, "Apache and classic hosting", and worker/gateway_check.h). */
enum conf_gateway { CONF_GATEWAY_NGINX, CONF_GATEWAY_WORKER };

/* Where clone-jobs-admin keeps keys and plans: files in keys_dir (one box), or a DynamoDB table that every box's
 * `clone-jobs-admin sync` renders into keys_dir (README, "More boxes"). */
enum conf_key_store { CONF_KEY_STORE_FILES, CONF_KEY_STORE_DYNAMODB };

struct conf {
    char table[256];          /* DynamoDB table name (3..255 of [A-Za-z0-9_.-]) */
    char key_attribute[256];  /* the table's string partition key */
    char usage_table[256];    /* where usage-plan quotas are counted (key usageID) */
    char region[64];          /* "" : AWS settings decide */
    char endpoint[512];       /* "" : AWS settings decide */
    char profile[128];        /* "" : AWS settings decide */
    char stage[128];          /* "" or "/name": the path prefix of every route */
    char cors_origin[512];
    size_t max_body_bytes;
    int max_json_depth;
    size_t max_header_bytes;  /* one header, name and value together */
    size_t max_list_bytes;    /* response cap of GET /clones */
    long ddb_connect_timeout_ms;
    long ddb_attempt_timeout_ms;
    int ddb_max_attempts;
    long ddb_max_total_ms;
    char cursor_secret[256];  /* "" : the worker makes a random one */
    enum log_level log_level;
    /* The gateway's side, read by clone-jobs-admin (nginx-site and the key commands). */
    char keys_dir[512];              /* key, plan and zone files for nginx */
    char nginx_reload_command[512];  /* run after the key files change */
    char listen[128];                /* nginx's TLS listen address */
    char server_name[256];           /* the public host name: nginx's server_name, the https redirect's host */
    char tls_certificate[512];
    char tls_certificate_key[512];
    char fastcgi_socket[512];        /* the pool's unix socket */
    char access_log[512];            /* nginx's JSON access log */
    enum conf_gateway gateway;       /* nginx (default) or worker */
    char state_dir[512];             /* gateway = worker: the shared rate counters' file lives here */
    char keys_group[64];             /* group clone-jobs-admin gives the key files to (nginx's, or the workers') */
    char log_file[512];              /* "" : stderr; else the log lines are appended here (--log-file wins) */
    int integration_timeout_s;       /* 504 after this (API Gateway: 29 s) */
    int threads;              /* FastCGI: requests in flight per worker process (one thread each) */
    int fastcgi_keepalive;    /* idle FastCGI connections each nginx worker keeps to the pool; 0: none */
    /* Operating it (issue 11): the pool's metrics listener, slow requests, usage per key per day. */
    char metrics_listen[128];  /* "HOST:PORT" of GET /metrics and /status ("" : none); loopback by default */
    int slow_request_ms;       /* a request this slow is counted and logged with its id (0: never) */
    int usage_block;           /* requests per usage lease of a key's day (0: usage not counted; 1: exact) */
    /* More boxes (issue 10): keys and plans in the store, each box's sync, its heartbeat, the pools nginx reaches. */
    enum conf_key_store key_store; /* files (default) or dynamodb */
    char keys_table[256];      /* the keys, plans and heartbeats table (key "id") with key_store = dynamodb */
    char box_id[128];          /* this box's name in the heartbeats; "" : the host name */
    int sync_interval_s;       /* seconds between syncs; a box whose heartbeat is older than 3 of them is gone */
    char fastcgi_servers[1024];/* "" : fastcgi_socket alone; else HOST:PORT words, the pools nginx balances over */
    char path[1024];          /* the file that was read, "" when none */
};

/* Fill c with the defaults, then read the file and the environment.
 * path: the --config argument or NULL; NULL falls back to $CLONE_JOBS_CONFIG, then to CONF_DEFAULT_PATH,
 * which may be missing (a file named by the argument or the variable must exist).
 * Returns 0, or -1 with "FILE:LINE: ..." or "CLONE_JOBS_X: ..." in err. */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);

/* Set one key from text (the file and environment both go through here). Returns 0, or -1 with err
 * ("unknown key", "must be an integer from 1 to 1000", ...). */
int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen);

void conf_defaults(struct conf *c);

/* 1 when the first len bytes of v are HOST:PORT (an IPv4 address, a name or [IPv6]; port 1 to 65535): how
 * metrics_listen, fastcgi_servers' words and a TCP fastcgi_socket are checked. */
int conf_host_port_valid(const char *v, size_t len);

/* 1 when key is a configuration key ("table"), 0 otherwise: --check-config's test of CLONE_JOBS_* names. */
int conf_key_known(const char *key);
/* Call f(key, arg) for every configuration key, in the table's order. */
void conf_each_key(void (*f)(const char *key, void *arg), void *arg);

/* Call f(name, arg) for every CLONE_JOBS_* environment variable that is no configuration key and none of
 * the names the project itself uses otherwise (CLONE_JOBS_CONFIG, the gateway's FastCGI parameters, the
 * scripts' and tests' knobs): most likely a misspelt key, which conf_load would silently not see. */
void conf_unknown_variables(void (*f)(const char *name, void *arg), void *arg);

#endif
