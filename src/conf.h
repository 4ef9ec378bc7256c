/* conf.h — the service's configuration: one `key = value` file plus CLONE_JOBS_<KEY> environment overrides.
 * Named conf, not config, because autoconf's generated config.h must stay the one "config.h" every file includes. */
#ifndef CLONE_JOBS_CONF_H
#define CLONE_JOBS_CONF_H

#include <stddef.h>

#define CONF_DEFAULT_PATH "/etc/clone-jobs/clone-jobs.conf"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

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
    char tls_certificate[512];
    char tls_certificate_key[512];
    char fastcgi_socket[512];        /* the pool's unix socket */
    char access_log[512];            /* nginx's JSON access log */
    int integration_timeout_s;       /* 504 after this (API Gateway: 29 s) */
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

const char *log_level_name(enum log_level l);

#endif
