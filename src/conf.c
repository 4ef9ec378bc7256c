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

#define CONF_LINE_MAX 4096

enum conf_type { T_TABLE, T_NAME, T_TEXT, T_URL, T_STAGE, T_SIZE, T_INT, T_LONG, T_SECRET, T_LEVEL };

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
    STR(tls_certificate, T_TEXT),
    STR(tls_certificate_key, T_TEXT),
    STR(fastcgi_socket, T_TEXT),
    STR(access_log, T_TEXT),
    NUM(integration_timeout_s, T_INT, 1, 3600),
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
    c->log_level = LOG_INFO;
    snprintf(c->keys_dir, sizeof c->keys_dir, "/etc/clone-jobs");
    snprintf(c->nginx_reload_command, sizeof c->nginx_reload_command, "nginx -s reload");
    snprintf(c->listen, sizeof c->listen, "443");
    snprintf(c->tls_certificate, sizeof c->tls_certificate, "/etc/clone-jobs/tls/cert.pem");
    snprintf(c->tls_certificate_key, sizeof c->tls_certificate_key, "/etc/clone-jobs/tls/key.pem");
    snprintf(c->fastcgi_socket, sizeof c->fastcgi_socket, "/run/clone-jobs/fcgi.sock");
    snprintf(c->access_log, sizeof c->access_log, "/var/log/nginx/clone-jobs.access.log");
    c->integration_timeout_s = 29;
}

const char *log_level_name(enum log_level l)
{
    switch (l) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARN: return "warn";
    case LOG_ERROR: return "error";
    }
    return "info";
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
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
    case T_TEXT:
        if (len == 0) {
            snprintf(err, errlen, "%s: must not be empty", k->name);
            return -1;
        }
        break;
    case T_SECRET:
        if (len != 0 && len < 16) {
            snprintf(err, errlen, "%s: must be empty or at least 16 bytes", k->name);
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

int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const struct conf_key *k = &keys[i];
        if (strcmp(k->name, key) != 0)
            continue;
        switch (k->type) {
        case T_SIZE:
        case T_INT:
        case T_LONG:
            return set_number(k, c, value, err, errlen);
        case T_LEVEL:
            if (strcmp(value, "debug") == 0)
                c->log_level = LOG_DEBUG;
            else if (strcmp(value, "info") == 0)
                c->log_level = LOG_INFO;
            else if (strcmp(value, "warn") == 0)
                c->log_level = LOG_WARN;
            else if (strcmp(value, "error") == 0)
                c->log_level = LOG_ERROR;
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
