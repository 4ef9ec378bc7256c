/* conf.c — reads the configuration file and the CLONE_JOBS_* environment into a struct conf.
 * Strict on purpose: an unknown key or a bad value stops the start-up with its file and line. */
#include "config.h"

#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#define CONF_LINE_MAX 4096

enum conf_type { T_TABLE, T_NAME, T_TEXT, T_URL, T_STAGE, T_HOST, T_SIZE, T_INT, T_LONG, T_SECRET, T_LEVEL, T_ADDR, T_SERVERS };

struct conf_key {
    const char *name;
    enum conf_type type;
    size_t offset;
    size_t size;      /* of the char array, for strings */
    long long min, max;
};

#define STR(field, type) {#field, type, offsetof(struct conf, field), sizeof(((struct conf *)0)->field), 0, 0}
#define NUM(field, type, lo, hi) {#field, type, offsetof(struct conf, field), 0, lo, hi}

static const struct conf_key keys[] = {
    STR(table, T_TABLE),
    STR(key_attribute, T_NAME),
    STR(usage_table, T_TABLE),
    STR(region, T_NAME),
    STR(endpoint, T_URL),
    STR(profile, T_NAME),
    STR(stage, T_STAGE),
    STR(cors_origin, T_TEXT),
    NUM(max_body_bytes, T_SIZE, 1, 1LL << 30),
    NUM(max_json_depth, T_INT, 1, 1000),
    NUM(max_header_bytes, T_SIZE, 256, 1LL << 20),
    NUM(max_list_bytes, T_SIZE, 65536, 1LL << 30),
    NUM(ddb_connect_timeout_ms, T_LONG, 1, 600000),
    NUM(ddb_attempt_timeout_ms, T_LONG, 1, 600000),
    NUM(ddb_max_attempts, T_INT, 1, 100),
    NUM(ddb_max_total_ms, T_LONG, 1, 3600000),
    STR(cursor_secret, T_SECRET),
    {"log_level", T_LEVEL, offsetof(struct conf, log_level), 0, 0, 0},
    STR(keys_dir, T_TEXT),
    STR(nginx_reload_command, T_TEXT),
    STR(listen, T_TEXT),
    STR(server_name, T_HOST),
    STR(tls_certificate, T_TEXT),
    STR(tls_certificate_key, T_TEXT),
    STR(fastcgi_socket, T_TEXT),
    STR(access_log, T_TEXT),
    /* Classic hosting (README, "Apache and classic hosting"); gateway is read by conf_set itself (nginx or worker). */
    {"gateway", T_NAME, offsetof(struct conf, gateway), 0, 0, 0},
    STR(state_dir, T_TEXT),
    STR(keys_group, T_NAME),
    STR(log_file, T_NAME),
    NUM(integration_timeout_s, T_INT, 1, 3600),
    /* At most FCGI_SERVER_MAX_THREADS (worker/fcgi_server.h). */
    NUM(threads, T_INT, 1, 256),
    NUM(fastcgi_keepalive, T_INT, 0, 1024),
    STR(metrics_listen, T_ADDR),
    NUM(slow_request_ms, T_INT, 0, 3600000),
    NUM(usage_block, T_INT, 0, 1000000),
    /* key_store is read by conf_set itself (files or dynamodb). */
    {"key_store", T_NAME, offsetof(struct conf, key_store), 0, 0, 0},
    STR(keys_table, T_TABLE),
    STR(box_id, T_NAME),
    NUM(sync_interval_s, T_INT, 1, 86400),
    STR(fastcgi_servers, T_SERVERS),
};

void conf_defaults(struct conf *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->table, sizeof c->table, "clone-jobs");
    snprintf(c->key_attribute, sizeof c->key_attribute, "cloneID");
    snprintf(c->usage_table, sizeof c->usage_table, "clone-jobs-usage");
    snprintf(c->cors_origin, sizeof c->cors_origin, "*");
    c->max_body_bytes = 10485760;
    c->max_json_depth = 32;
    c->max_header_bytes = 8192;
    c->max_list_bytes = 6291456;
    /* The DynamoDB client's own defaults, repeated so the configuration shows every value. */
    c->ddb_connect_timeout_ms = 1000;
    c->ddb_attempt_timeout_ms = 5000;
    c->ddb_max_attempts = 5;
    c->ddb_max_total_ms = 10000;
    c->log_level = LOG_LEVEL_INFO;
    snprintf(c->keys_dir, sizeof c->keys_dir, "/etc/clone-jobs");
    snprintf(c->nginx_reload_command, sizeof c->nginx_reload_command, "nginx -s reload");
    snprintf(c->listen, sizeof c->listen, "443");
    snprintf(c->server_name, sizeof c->server_name, "localhost");
    snprintf(c->tls_certificate, sizeof c->tls_certificate, "/etc/clone-jobs/tls/cert.pem");
    snprintf(c->tls_certificate_key, sizeof c->tls_certificate_key, "/etc/clone-jobs/tls/key.pem");
    snprintf(c->fastcgi_socket, sizeof c->fastcgi_socket, "/run/clone-jobs/fcgi.sock");
    snprintf(c->access_log, sizeof c->access_log, "/var/log/nginx/clone-jobs.access.log");
    c->gateway = CONF_GATEWAY_NGINX;
    snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/clone-jobs");
    snprintf(c->keys_group, sizeof c->keys_group, "www-data");
    c->integration_timeout_s = 29;
    /* A store 50 ms away at 1000 req/s keeps 50 requests in flight: 64 per process, 2 processes per core. */
    c->threads = 64;
    /* Each kept connection holds a worker thread while idle: 16 per nginx worker stays far below 2 x 64. */
    c->fastcgi_keepalive = 16;
    /* No metrics listener unless configured: two pools on one box must not fight over a default port. */
    c->slow_request_ms = 1000;
    c->usage_block = 100;
    c->key_store = CONF_KEY_STORE_FILES;
    snprintf(c->keys_table, sizeof c->keys_table, "clone-jobs-keys");
    c->sync_interval_s = 10;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* The example configuration's placeholder and its like: a secret everyone can read in the package is none.
 * Compared ignoring case. */
static int placeholder_secret(const char *v)
{
    static const char *const words[] = {"change-me", "changeme", "change_me", "replace-me", "replaceme",
                                        "placeholder", "your-secret", "openssl rand"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i]);
        for (const char *p = v; *p; p++)
            if (strncasecmp(p, words[i], n) == 0)
                return 1;
    }
    return v[0] == '<';
}

/* The first len bytes of v are HOST:PORT: an IPv4 address, a name or a bracketed IPv6 address, port 1..65535. */
int conf_host_port_valid(const char *v, size_t len)
{
    if (len == 0 || len > 300)
        return 0;
    char text[301];
    memcpy(text, v, len);
    text[len] = '\0';
    const char *colon = strrchr(text, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    size_t host_len = colon ? (size_t)(colon - text) : 0;
    int bracketed = host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']';
    return colon && host_len > 0 && isdigit((unsigned char)colon[1]) && !*end && port >= 1 && port <= 65535 &&
           (bracketed || !memchr(text, ':', host_len)) &&
           strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:") == len;
}

static int set_string(const struct conf_key *k, struct conf *c, const char *v, char *err, size_t errlen)
{
    size_t len = strlen(v);
    if (len >= k->size) {
        snprintf(err, errlen, "%s: longer than %zu bytes", k->name, k->size - 1);
        return -1;
    }
    if (has_control(v)) {
        snprintf(err, errlen, "%s: holds a control character", k->name);
        return -1;
    }
    switch (k->type) {
    case T_TABLE:
        /* DynamoDB's own rule for table names. */
        if (len < 3) {
            snprintf(err, errlen, "%s: a table name has 3 to 255 characters", k->name);
            return -1;
        }
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
                snprintf(err, errlen, "%s: a table name holds only A-Z a-z 0-9 _ - .", k->name);
                return -1;
            }
        break;
    case T_NAME:
        if (strcmp(k->name, "key_attribute") == 0 && len == 0) {
            snprintf(err, errlen, "%s: must not be empty", k->name);
            return -1;
        }
        for (const char *p = v; *p; p++)
            if (isspace((unsigned char)*p)) {
                snprintf(err, errlen, "%s: must not hold blanks", k->name);
                return -1;
            }
        break;
    case T_URL:
        if (len && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            snprintf(err, errlen, "%s: must start with http:// or https://", k->name);
            return -1;
        }
        break;
    case T_STAGE:
        /* Matched byte for byte against the raw request path, so keep it to plain segment characters. */
        if (len == 0)
            break;
        if (v[0] != '/' || len < 2 || v[len - 1] == '/') {
            snprintf(err, errlen, "%s: must be empty or look like /name (no trailing slash)", k->name);
            return -1;
        }
        for (const char *p = v + 1; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("-._~/", *p)) {
                snprintf(err, errlen, "%s: only A-Z a-z 0-9 - . _ ~ and / are allowed", k->name);
                return -1;
            }
        if (strstr(v, "//")) {
            snprintf(err, errlen, "%s: must not hold an empty segment", k->name);
            return -1;
        }
        break;
    case T_HOST:
        /* It becomes the host of nginx's https redirect: a DNS name, IPv4, or [IPv6]. */
        if (len == 0 || (v[0] == '['
                             ? (len < 3 || v[len - 1] != ']' || strspn(v + 1, "0123456789abcdefABCDEF:.") != len - 2)
                             : (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != len ||
                                v[0] == '.' || v[0] == '-'))) {
            snprintf(err, errlen, "%s: must be a host name, an IPv4 address or a bracketed IPv6 address", k->name);
            return -1;
        }
        break;
    case T_TEXT:
        if (len == 0) {
            snprintf(err, errlen, "%s: must not be empty", k->name);
            return -1;
        }
        break;
    case T_ADDR:
        if (len && !conf_host_port_valid(v, len)) {
            snprintf(err, errlen, "%s: must be empty or HOST:PORT (an IPv4 address, a name or [IPv6], port 1 to 65535)",
                     k->name);
            return -1;
        }
        break;
    case T_SERVERS:
        /* "" or HOST:PORT words separated by single spaces. */
        for (const char *w = v; *w;) {
            size_t n = strcspn(w, " ");
            if (!conf_host_port_valid(w, n) || (w[n] == ' ' && w[n + 1] == '\0')) {
                snprintf(err, errlen, "%s: must be empty or HOST:PORT words separated by single spaces", k->name);
                return -1;
            }
            w += n + (w[n] == ' ');
        }
        break;
    case T_SECRET:
        if (len != 0 && len < 16) {
            snprintf(err, errlen, "%s: must be empty or at least 16 bytes", k->name);
            return -1;
        }
        if (placeholder_secret(v)) {
            snprintf(err, errlen, "%s: is a placeholder; make one with: openssl rand -hex 32", k->name);
            return -1;
        }
        break;
    default:
        break;
    }
    memcpy((char *)c + k->offset, v, len + 1);
    return 0;
}

static int set_number(const struct conf_key *k, struct conf *c, const char *v, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || errno != 0 || *end != '\0' || n < k->min || n > k->max) {
        snprintf(err, errlen, "%s: must be an integer from %lld to %lld", k->name, k->min, k->max);
        return -1;
    }
    char *field = (char *)c + k->offset;
    if (k->type == T_SIZE) {
        size_t s = (size_t)n;
        memcpy(field, &s, sizeof s);
    } else if (k->type == T_INT) {
        int i = (int)n;
        memcpy(field, &i, sizeof i);
    } else {
        long l = (long)n;
        memcpy(field, &l, sizeof l);
    }
    return 0;
}

/* gateway: who checks keys and rates, nginx in front or the worker itself. */
static int set_gateway(struct conf *c, const char *value, char *err, size_t errlen)
{
    if (strcmp(value, "nginx") == 0)
        c->gateway = CONF_GATEWAY_NGINX;
    else if (strcmp(value, "worker") == 0)
        c->gateway = CONF_GATEWAY_WORKER;
    else {
        snprintf(err, errlen, "gateway: must be nginx or worker");
        return -1;
    }
    return 0;
}

/* key_store: files in keys_dir, or the DynamoDB table keys_table. */
static int set_key_store(struct conf *c, const char *value, char *err, size_t errlen)
{
    if (strcmp(value, "files") == 0)
        c->key_store = CONF_KEY_STORE_FILES;
    else if (strcmp(value, "dynamodb") == 0)
        c->key_store = CONF_KEY_STORE_DYNAMODB;
    else {
        snprintf(err, errlen, "key_store: must be files or dynamodb");
        return -1;
    }
    return 0;
}

int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const struct conf_key *k = &keys[i];
        if (strcmp(k->name, key) != 0)
            continue;
        if (strcmp(key, "gateway") == 0)
            return set_gateway(c, value, err, errlen);
        if (strcmp(key, "key_store") == 0)
            return set_key_store(c, value, err, errlen);
        switch (k->type) {
        case T_SIZE:
        case T_INT:
        case T_LONG:
            return set_number(k, c, value, err, errlen);
        case T_LEVEL:
            if (strcmp(value, "debug") == 0)
                c->log_level = LOG_LEVEL_DEBUG;
            else if (strcmp(value, "info") == 0)
                c->log_level = LOG_LEVEL_INFO;
            else if (strcmp(value, "warn") == 0)
                c->log_level = LOG_LEVEL_WARN;
            else if (strcmp(value, "error") == 0)
                c->log_level = LOG_LEVEL_ERROR;
            else {
                snprintf(err, errlen, "%s: must be debug, info, warn or error", k->name);
                return -1;
            }
            return 0;
        default:
            return set_string(k, c, value, err, errlen);
        }
    }
    snprintf(err, errlen, "unknown key %s", key);
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static int read_file(struct conf *c, const char *path, int must_exist, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && !must_exist)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    char line[CONF_LINE_MAX];
    int lineno = 0;
    int status = 0;
    while (status == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno, CONF_LINE_MAX - 2);
            status = -1;
            break;
        }
        char *s = trim(line);
        /* Comments only on their own lines, so values (secrets, origins) may hold '#'. */
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            status = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        size_t vlen = strlen(value);
        /* A value may be quoted to keep leading or trailing blanks. */
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        char why[512];
        if (conf_set(c, key, value, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            status = -1;
        }
    }
    if (status == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        status = -1;
    }
    fclose(f);
    return status;
}

int conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
    conf_defaults(c);
    int must_exist = 1;
    if (!path || !*path) {
        path = getenv("CLONE_JOBS_CONFIG");
        if (!path || !*path) {
            path = CONF_DEFAULT_PATH;
            must_exist = 0;
        }
    }
    if (read_file(c, path, must_exist, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char name[96] = "CLONE_JOBS_";
        size_t n = strlen(name);
        for (const char *p = keys[i].name; *p && n + 1 < sizeof name; p++)
            name[n++] = (char)toupper((unsigned char)*p);
        name[n] = '\0';
        const char *v = getenv(name);
        if (!v)
            continue;
        char why[512];
        if (conf_set(c, keys[i].name, v, why, sizeof why) != 0) {
            snprintf(err, errlen, "environment %s: %s", name, why);
            return -1;
        }
    }
    return 0;
}

int conf_key_known(const char *key)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].name, key) == 0)
            return 1;
    return 0;
}

void conf_each_key(void (*f)(const char *key, void *arg), void *arg)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        f(keys[i].name, arg);
}

extern char **environ;

void conf_unknown_variables(void (*f)(const char *name, void *arg), void *arg)
{
    /* Read by this program but not keys: the file's name and the parameters nginx passes (a CGI test may
     * set them); read by scripts/stack, the systemd unit and tests/run. */
    static const char *const others[] = {"CONFIG", "REQUEST_ID", "CLIENT", "PLAN", "QUOTA", "PORT", "DDB_PORT",
                                         "DDB_ENDPOINT", "WORKERS", "BUILD", "VAR", "BUILD_DIR", "SRC_DIR",
                                         "TOOLS_DIR"};
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, "CLONE_JOBS_", 11) != 0)
            continue;
        char name[128], key[128];
        size_t n = (size_t)(eq - *e);
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        const char *rest = name + 11;
        /* conf_load reads CLONE_JOBS_ + the key in upper case: only that spelling is a key. */
        int upper = 1;
        size_t i;
        for (i = 0; rest[i] && i + 1 < sizeof key; i++) {
            upper = upper && !islower((unsigned char)rest[i]);
            key[i] = (char)tolower((unsigned char)rest[i]);
        }
        key[i] = '\0';
        int known = (upper && conf_key_known(key)) || strncmp(rest, "TEST_", 5) == 0;
        for (size_t k = 0; !known && k < sizeof others / sizeof others[0]; k++)
            known = strcmp(rest, others[k]) == 0;
        if (!known)
            f(name, arg);
    }
}
