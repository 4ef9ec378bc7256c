/* aws_config.c — the AWS settings (profile, region, endpoint, file locations) and the credentials chain.
 * Environment, then the shared credentials and config INI files (parsed here by hand), then IMDSv2 over libcurl. */
#include "config.h"

#include "aws_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "text.h"

/* The longest value we keep is a session token (4 KB at most); a line must hold it and its key,
 * and a fixed line buffer keeps a hostile file from making us allocate without bound. */
#define INI_LINE_MAX 8192

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_PATH "/latest/api/token"
#define IMDS_ROLES_PATH "/latest/meta-data/iam/security-credentials/"
/* Six hours, the longest IMDS grants: we ask once per resolution anyway. */
#define IMDS_TOKEN_TTL_SECONDS "21600"
/* Real answers are a few KB; the bound keeps a confused or hostile endpoint from filling memory. */
#define IMDS_RESPONSE_MAX (64 * 1024)
/* Real IMDSv2 tokens are about 60 characters. */
#define IMDS_TOKEN_MAX 1024
/* IAM role names are at most 64 characters. */
#define IMDS_ROLE_MAX 64
/* Short, so a machine without instance metadata (a laptop, a container) is not held up at start. */
#define IMDS_CONNECT_TIMEOUT_MS 1000L
#define IMDS_TOTAL_TIMEOUT_MS 2000L

/* ---- messages ---------------------------------------------------------------------------------- */

/* Where a value came from, so a message can point at it without ever quoting the value. */
struct origin {
    const char *what;   /* an environment variable, an argument, or a key in a file */
    const char *path;   /* the file, or NULL */
    unsigned long line; /* in path */
};

__attribute__((format(printf, 4, 5)))
static void origin_err(char *err, size_t errlen, const struct origin *o, const char *fmt, ...)
{
    char problem[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    if (n < 0)
        problem[0] = '\0';
    if (o->path)
        text_set_error(err, errlen, "%s:%lu: %s %s", o->path, o->line, o->what, problem);
    else
        text_set_error(err, errlen, "%s %s", o->what, problem);
}

static const char *path_or_none(const char *path)
{
    return path[0] ? path : "(none: HOME is not set)";
}

/* ---- small checks -------------------------------------------------------------------------------- */

/* The AWS tools treat an empty variable as an unset one. */
static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static int is_ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The region ends up in a host name and in every signature: letters, digits and dashes only. */
static int region_ok(const char *r)
{
    if (!r[0])
        return 0;
    for (const char *p = r; *p; p++)
        if (!is_ascii_alnum(*p) && *p != '-')
            return 0;
    return 1;
}

/* The characters the AWS SDKs accept in a profile name; anything else could never match a section. */
static int profile_ok(const char *name)
{
    if (!name[0])
        return 0;
    for (const char *p = name; *p; p++)
        if (!is_ascii_alnum(*p) && !strchr("_-/.%@:+", *p))
            return 0;
    return 1;
}

/* Keys and tokens go into HTTP headers: printable ASCII without spaces, so no header can be injected. */
static int credential_text_ok(const char *v)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return 0;
    return 1;
}

/* IAM role names: letters, digits and +=,.@_- ; anything else must not reach a URL path. */
static int role_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > IMDS_ROLE_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!is_ascii_alnum(*p) && !strchr("+=,.@_-", *p))
            return 0;
    return 1;
}

static size_t url_scheme_length(const char *url)
{
    if (strncasecmp(url, "http://", 7) == 0)
        return 7;
    if (strncasecmp(url, "https://", 8) == 0)
        return 8;
    return 0;
}

static int url_ok(const char *url)
{
    size_t scheme = url_scheme_length(url);
    if (scheme == 0 || url[scheme] == '\0' || url[scheme] == '/')
        return 0;
    return credential_text_ok(url);
}

/* Copy a value into a fixed field; a value that does not fit is an error, never cut short. */
static int store_value(char *dst, size_t dstlen, const char *value, const struct origin *o,
                       char *err, size_t errlen)
{
    size_t n = strlen(value);
    if (n >= dstlen) {
        origin_err(err, errlen, o, "is too long (%zu bytes, at most %zu)", n, dstlen - 1);
        return -1;
    }
    memcpy(dst, value, n + 1);
    return 0;
}

/* Store an endpoint URL without its trailing slashes, so paths can be appended alike to every source. */
static int store_url(char *dst, size_t dstlen, const char *value, const struct origin *o,
                     char *err, size_t errlen)
{
    if (!url_ok(value)) {
        origin_err(err, errlen, o, "is not an http:// or https:// URL with a host");
        return -1;
    }
    if (store_value(dst, dstlen, value, o, err, errlen) != 0)
        return -1;
    size_t keep = url_scheme_length(dst) + 1;
    size_t n = strlen(dst);
    while (n > keep && dst[n - 1] == '/')
        dst[--n] = '\0';
    return 0;
}

static int store_credential(char *dst, size_t dstlen, const char *value, const struct origin *o,
                            char *err, size_t errlen)
{
    if (!credential_text_ok(value)) {
        origin_err(err, errlen, o, "contains spaces or control characters");
        return -1;
    }
    return store_value(dst, dstlen, value, o, err, errlen);
}

/* ---- the shared INI files ------------------------------------------------------------------------- */

/* One key wanted from the profile's section; the caller owns the value buffer. */
struct ini_field {
    const char *key;     /* as AWS spells it; matched case-insensitively, as botocore lowercases keys */
    char *value;
    size_t size;
    unsigned long line;  /* where the kept value was set; 0 when never seen */
    int rank;            /* precedence of the section it was set in */
};

enum ini_kind {
    INI_CREDENTIALS, /* sections are bare profile names: [NAME] */
    INI_CONFIG,      /* [profile NAME], and [default] for the default profile */
};

struct ini_query {
    const char *path;
    enum ini_kind kind;
    const char *profile;
    struct ini_field *fields;
    size_t nfields;
};

enum line_status { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_NUL, LINE_READ_ERROR };

/* Read one line without its end (LF or CRLF) into a fixed buffer. */
static enum line_status ini_read_line(FILE *f, char *line, size_t size)
{
    size_t n = 0;
    int any = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        any = 1;
        if (c == '\n')
            break;
        if (c == '\0')
            return LINE_NUL;
        if (n + 1 >= size)
            return LINE_TOO_LONG;
        line[n++] = (char)c;
    }
    if (c == EOF && ferror(f))
        return LINE_READ_ERROR;
    if (!any)
        return LINE_EOF;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return LINE_OK;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* How much a section header counts for the profile: 0 not at all; in the config file
 * [profile default] outranks [default], as the AWS SDKs specify. */
static int ini_section_rank(const struct ini_query *q, const char *name)
{
    if (q->kind == INI_CREDENTIALS)
        return strcmp(name, q->profile) == 0;
    if (strcmp(name, "default") == 0)
        return strcmp(q->profile, "default") == 0 ? 1 : 0;
    if (strncmp(name, "profile", 7) == 0 && is_blank(name[7])) {
        const char *rest = name + 7;
        while (is_blank(*rest))
            rest++;
        return strcmp(rest, q->profile) == 0 ? 2 : 0;
    }
    return 0;
}

/* Cut a value's comment: as in the AWS SDKs, '#' or ';' starts one only after whitespace,
 * so the characters can still appear inside a value. */
static void ini_strip_inline_comment(char *value)
{
    for (char *p = value; *p; p++) {
        if (is_blank(*p) && (p[1] == '#' || p[1] == ';')) {
            *p = '\0';
            return;
        }
    }
}

struct ini_state {
    int rank;            /* of the current section; -1 before the first one */
    long prop_indent;    /* indentation of the last property in this section; -1 when none */
    struct ini_field *last_field; /* the wanted field the last property set, for continuations */
};

static int ini_handle_line(const struct ini_query *q, struct ini_state *st, char *line,
                           unsigned long lineno, char *err, size_t errlen)
{
    /* Editors on Windows start files with a byte order mark; it is not part of the first line. */
    if (lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3;
    long indent = 0;
    while (is_blank(line[indent]))
        indent++;
    char *p = line + indent;
    if (*p == '\0' || *p == '#' || *p == ';')
        return 0;

    if (*p == '[') {
        char *close = strchr(p, ']');
        if (!close) {
            text_set_error(err, errlen, "%s:%lu: section header without ']'", q->path, lineno);
            return -1;
        }
        char *after = close + 1;
        while (is_blank(*after))
            after++;
        if (*after != '\0' && *after != '#' && *after != ';') {
            text_set_error(err, errlen, "%s:%lu: unexpected text after the section header", q->path, lineno);
            return -1;
        }
        *close = '\0';
        char *name = trim(p + 1);
        if (name[0] == '\0') {
            text_set_error(err, errlen, "%s:%lu: empty section name", q->path, lineno);
            return -1;
        }
        st->rank = ini_section_rank(q, name);
        st->prop_indent = -1;
        st->last_field = NULL;
        return 0;
    }

    /* An indented line after a property continues it (botocore) or holds its sub-properties
     * (s3 = / max_concurrent_requests = 10); we keep none of those, but must not choke on them. */
    if (st->prop_indent >= 0 && indent > st->prop_indent) {
        if (st->last_field) {
            text_set_error(err, errlen, "%s:%lu: %s continues on an indented line, which is not supported here",
                    q->path, lineno, st->last_field->key);
            return -1;
        }
        return 0;
    }
    if (st->rank < 0) {
        text_set_error(err, errlen, "%s:%lu: a setting before any [section] header", q->path, lineno);
        return -1;
    }
    char *eq = strchr(p, '=');
    if (!eq) {
        text_set_error(err, errlen, "%s:%lu: expected 'key = value'", q->path, lineno);
        return -1;
    }
    *eq = '\0';
    char *key = trim(p);
    if (key[0] == '\0') {
        text_set_error(err, errlen, "%s:%lu: missing key before '='", q->path, lineno);
        return -1;
    }
    char *value = eq + 1;
    while (is_blank(*value))
        value++;
    ini_strip_inline_comment(value);
    value = trim(value);

    st->prop_indent = indent;
    st->last_field = NULL;
    if (st->rank == 0)
        return 0;
    for (size_t i = 0; i < q->nfields; i++) {
        struct ini_field *f = &q->fields[i];
        if (strcasecmp(key, f->key) != 0 || st->rank < f->rank)
            continue;
        struct origin o = {f->key, q->path, lineno};
        if (store_value(f->value, f->size, value, &o, err, errlen) != 0)
            return -1;
        f->line = lineno;
        f->rank = st->rank;
        st->last_field = f;
    }
    return 0;
}

/* Read the profile's wanted keys from one file. A missing file (or no file at all) holds nothing;
 * an unreadable or malformed one is an error naming the file and line. */
static int ini_query_run(struct ini_query *q, char *err, size_t errlen)
{
    for (size_t i = 0; i < q->nfields; i++) {
        q->fields[i].value[0] = '\0';
        q->fields[i].line = 0;
        q->fields[i].rank = 0;
    }
    if (q->path[0] == '\0')
        return 0;
    FILE *f = fopen(q->path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        text_set_error(err, errlen, "%s: cannot open: %s", q->path, strerror(errno));
        return -1;
    }
    char line[INI_LINE_MAX];
    struct ini_state st = {-1, -1, NULL};
    unsigned long lineno = 0;
    int rc = 0;
    for (;;) {
        enum line_status ls = ini_read_line(f, line, sizeof line);
        if (ls == LINE_EOF)
            break;
        lineno++;
        if (ls == LINE_TOO_LONG) {
            text_set_error(err, errlen, "%s:%lu: line too long (at most %d bytes)", q->path, lineno,
                    INI_LINE_MAX - 1);
            rc = -1;
        } else if (ls == LINE_NUL) {
            text_set_error(err, errlen, "%s:%lu: NUL byte in the file", q->path, lineno);
            rc = -1;
        } else if (ls == LINE_READ_ERROR) {
            text_set_error(err, errlen, "%s:%lu: cannot read: %s", q->path, lineno, strerror(errno));
            rc = -1;
        } else {
            rc = ini_handle_line(q, &st, line, lineno, err, errlen);
        }
        if (rc != 0)
            break;
    }
    /* The line may hold a secret; it must not linger on the stack. */
    explicit_bzero(line, sizeof line);
    if (fclose(f) != 0 && rc == 0) {
        text_set_error(err, errlen, "%s: cannot close: %s", q->path, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* ---- settings ---------------------------------------------------------------------------------- */

/* AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE accept ~/ like the AWS CLI; without HOME there
 * is no default file, which then counts as a missing one. */
static int resolve_path(char *dst, size_t dstlen, const char *env_name, const char *default_name,
                        char *err, size_t errlen)
{
    const char *home = env_value("HOME");
    const char *v = env_value(env_name);
    int n;
    if (v && v[0] == '~' && v[1] == '/') {
        if (!home) {
            text_set_error(err, errlen, "%s starts with ~/ but HOME is not set", env_name);
            return -1;
        }
        n = snprintf(dst, dstlen, "%s%s", home, v + 1);
    } else if (v) {
        n = snprintf(dst, dstlen, "%s", v);
    } else if (home) {
        n = snprintf(dst, dstlen, "%s/.aws/%s", home, default_name);
    } else {
        dst[0] = '\0';
        return 0;
    }
    if (n < 0 || (size_t)n >= dstlen) {
        dst[0] = '\0';
        text_set_error(err, errlen, "%s is too long for a file name (at most %zu bytes)",
                v ? env_name : "HOME", dstlen - 1);
        return -1;
    }
    return 0;
}

static int settings_fill(struct aws_settings *s, const char *profile, const char *region,
                         const char *endpoint, char *err, size_t errlen)
{
    struct origin o = {"the profile argument", NULL, 0};
    const char *v = profile && profile[0] ? profile : NULL;
    if (!v) {
        v = env_value("AWS_PROFILE");
        o.what = "AWS_PROFILE";
    }
    if (!v)
        v = "default";
    if (store_value(s->profile, sizeof s->profile, v, &o, err, errlen) != 0)
        return -1;
    if (!profile_ok(s->profile)) {
        origin_err(err, errlen, &o, "is not a valid profile name (letters, digits, _-/.%%@:+)");
        return -1;
    }

    if (resolve_path(s->credentials_file, sizeof s->credentials_file, "AWS_SHARED_CREDENTIALS_FILE",
                     "credentials", err, errlen) != 0)
        return -1;
    if (resolve_path(s->config_file, sizeof s->config_file, "AWS_CONFIG_FILE", "config",
                     err, errlen) != 0)
        return -1;

    o = (struct origin){"AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL, 0};
    v = env_value("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (store_url(s->imds_endpoint, sizeof s->imds_endpoint, v ? v : IMDS_DEFAULT_ENDPOINT, &o,
                  err, errlen) != 0)
        return -1;
    v = env_value("AWS_EC2_METADATA_DISABLED");
    s->imds_disabled = v && strcasecmp(v, "true") == 0;

    /* The config file is read even when the environment settles everything, so a broken file
     * is reported now rather than the day the environment changes. */
    char file_region[sizeof s->region];
    char file_endpoint[sizeof s->endpoint];
    struct ini_field fields[] = {
        {"region", file_region, sizeof file_region, 0, 0},
        {"endpoint_url", file_endpoint, sizeof file_endpoint, 0, 0},
    };
    struct ini_query q = {s->config_file, INI_CONFIG, s->profile, fields, 2};
    if (ini_query_run(&q, err, errlen) != 0)
        return -1;

    o = (struct origin){"the region argument", NULL, 0};
    v = region && region[0] ? region : NULL;
    if (!v && (v = env_value("AWS_REGION")))
        o.what = "AWS_REGION";
    if (!v && (v = env_value("AWS_DEFAULT_REGION")))
        o.what = "AWS_DEFAULT_REGION";
    if (!v && file_region[0]) {
        v = file_region;
        o = (struct origin){"region", s->config_file, fields[0].line};
    }
    if (!v) {
        text_set_error(err, errlen,
                "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or region in profile \"%s\" of %s",
                s->profile, path_or_none(s->config_file));
        return -1;
    }
    if (store_value(s->region, sizeof s->region, v, &o, err, errlen) != 0)
        return -1;
    if (!region_ok(s->region)) {
        origin_err(err, errlen, &o, "is not a valid region name (letters, digits and dashes)");
        return -1;
    }

    o = (struct origin){"the endpoint argument", NULL, 0};
    v = endpoint && endpoint[0] ? endpoint : NULL;
    if (!v && (v = env_value("AWS_ENDPOINT_URL_DYNAMODB")))
        o.what = "AWS_ENDPOINT_URL_DYNAMODB";
    if (!v && (v = env_value("AWS_ENDPOINT_URL")))
        o.what = "AWS_ENDPOINT_URL";
    if (!v && file_endpoint[0]) {
        v = file_endpoint;
        o = (struct origin){"endpoint_url", s->config_file, fields[1].line};
    }
    if (v)
        return store_url(s->endpoint, sizeof s->endpoint, v, &o, err, errlen);
    /* China's partition has its own domain. */
    const char *domain = strncmp(s->region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    int n = snprintf(s->endpoint, sizeof s->endpoint, "https://dynamodb.%s.%s", s->region, domain);
    if (n < 0 || (size_t)n >= sizeof s->endpoint) {
        text_set_error(err, errlen, "the default endpoint for region %s is too long", s->region);
        return -1;
    }
    return 0;
}

int aws_settings_load(struct aws_settings *s, const char *profile, const char *region,
                      const char *endpoint, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (settings_fill(s, profile, region, endpoint, err, errlen) != 0) {
        /* Half-filled settings must not be mistaken for usable ones. */
        memset(s, 0, sizeof *s);
        return -1;
    }
    return 0;
}

/* ---- credentials: environment and files ---------------------------------------------------------- */

/* Each step answers 1 (found, c filled), 0 (nothing here, go on) or -1 (an error that stops the chain:
 * a half-configured source is a mistake to report, not a reason to fall through to another identity). */

static int credentials_from_env(struct aws_credentials *c, char *err, size_t errlen)
{
    const char *id = env_value("AWS_ACCESS_KEY_ID");
    const char *secret = env_value("AWS_SECRET_ACCESS_KEY");
    const char *token = env_value("AWS_SESSION_TOKEN");
    if (!id && !secret)
        return 0;
    if (!id || !secret) {
        text_set_error(err, errlen, "%s is set but %s is not: set both or neither",
                id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return -1;
    }
    struct origin o = {"AWS_ACCESS_KEY_ID", NULL, 0};
    if (store_credential(c->access_key_id, sizeof c->access_key_id, id, &o, err, errlen) != 0)
        return -1;
    o.what = "AWS_SECRET_ACCESS_KEY";
    if (store_credential(c->secret_access_key, sizeof c->secret_access_key, secret, &o, err, errlen) != 0)
        return -1;
    o.what = "AWS_SESSION_TOKEN";
    if (token && store_credential(c->session_token, sizeof c->session_token, token, &o, err, errlen) != 0)
        return -1;
    c->expiration = 0;
    memcpy(c->source, "environment", sizeof "environment");
    return 1;
}

static int credentials_from_file(const char *path, enum ini_kind kind, const char *profile,
                                 struct aws_credentials *c, char *err, size_t errlen)
{
    struct ini_field fields[] = {
        {"aws_access_key_id", c->access_key_id, sizeof c->access_key_id, 0, 0},
        {"aws_secret_access_key", c->secret_access_key, sizeof c->secret_access_key, 0, 0},
        {"aws_session_token", c->session_token, sizeof c->session_token, 0, 0},
    };
    struct ini_query q = {path, kind, profile, fields, 3};
    if (ini_query_run(&q, err, errlen) != 0)
        return -1;
    int have_id = c->access_key_id[0] != '\0';
    int have_secret = c->secret_access_key[0] != '\0';
    if (!have_id && !have_secret)
        return 0;
    if (!have_id || !have_secret) {
        text_set_error(err, errlen, "%s:%lu: profile \"%s\" has %s but no %s", path,
                have_id ? fields[0].line : fields[1].line, profile,
                have_id ? "aws_access_key_id" : "aws_secret_access_key",
                have_id ? "aws_secret_access_key" : "aws_access_key_id");
        return -1;
    }
    for (size_t i = 0; i < 3; i++) {
        struct origin o = {fields[i].key, path, fields[i].line};
        if (!credential_text_ok(fields[i].value)) {
            origin_err(err, errlen, &o, "contains spaces or control characters");
            return -1;
        }
    }
    c->expiration = 0;
    memcpy(c->source, "shared-file", sizeof "shared-file");
    return 1;
}

/* ---- credentials: IMDSv2 ------------------------------------------------------------------------ */

/* Where an answer goes, and whether it went past the bound (to tell that from other write errors). */
struct imds_sink {
    struct buf *body;
    int too_large;
};

static size_t imds_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct imds_sink *sink = userdata;
    size_t n = size * nmemb; /* libcurl passes size 1 */
    /* Taking less than offered makes libcurl abort the transfer: that is how the bound holds. */
    if (buf_append(sink->body, data, n) != 0) {
        sink->too_large = sink->body->len + n > IMDS_RESPONSE_MAX;
        return 0;
    }
    return n;
}

/* The token PUT has an empty body. */
static size_t imds_read_nothing(char *data, size_t size, size_t nitems, void *userdata)
{
    (void)data;
    (void)size;
    (void)nitems;
    (void)userdata;
    return 0;
}

/* One request on the call's handle; *status is the HTTP status. The handle is reset between
 * requests but keeps its connection, so the three requests share one. */
static int imds_request(CURL *curl, const char *url, int is_put, const char *header,
                        struct buf *body, long *status, char *err, size_t errlen)
{
    struct curl_slist *headers = NULL;
    struct imds_sink sink = {body, 0};
    int ret = -1;
    *status = 0;
    buf_reset(body);
    curl_easy_reset(curl);
    if (header) {
        headers = curl_slist_append(NULL, header);
        if (!headers) {
            text_set_error(err, errlen, "out of memory");
            return -1;
        }
    }
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_URL, url);
    /* The metadata service is link-local: a proxy from the environment must never see the request. */
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
#if LIBCURL_VERSION_NUM >= 0x075500
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, IMDS_CONNECT_TIMEOUT_MS);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, IMDS_TOTAL_TIMEOUT_MS);
    /* Timeouts by signal are unsafe in a threaded or signal-handling program. */
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, imds_write);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    if (rc == CURLE_OK && headers)
        rc = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (is_put) {
        /* A real PUT with "Content-Length: 0", as the SDKs send it. */
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(curl, CURLOPT_READFUNCTION, imds_read_nothing);
    }
    if (rc != CURLE_OK) {
        text_set_error(err, errlen, "cannot set up the request: %s", curl_easy_strerror(rc));
        goto out;
    }
    rc = curl_easy_perform(curl);
    if (rc == CURLE_WRITE_ERROR && sink.too_large) {
        text_set_error(err, errlen, "%s: answer larger than %d bytes", url, IMDS_RESPONSE_MAX);
        goto out;
    }
    if (rc != CURLE_OK) {
        text_set_error(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
        goto out;
    }
    rc = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (rc != CURLE_OK) {
        text_set_error(err, errlen, "%s: no HTTP status: %s", url, curl_easy_strerror(rc));
        goto out;
    }
    ret = 0;
out:
    /* Leave no pointer to the caller's header list or body behind in the handle. */
    curl_easy_reset(curl);
    curl_slist_free_all(headers);
    return ret;
}

static int parse_digits(const char *p, int count, int *out)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* RFC 3339 date-time ("2024-05-06T07:08:09Z", optional fraction, Z or ±hh:mm) to UTC seconds. */
static int parse_rfc3339(const char *text, time_t *out)
{
    int year, month, day, hour, minute, second;
    const char *p = text;
    /* Each test stops at the first mismatch, so a short string is never read past its end. */
    if (parse_digits(p, 4, &year) != 0 || p[4] != '-' || parse_digits(p + 5, 2, &month) != 0 ||
        p[7] != '-' || parse_digits(p + 8, 2, &day) != 0 ||
        (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || parse_digits(p + 11, 2, &hour) != 0 ||
        p[13] != ':' || parse_digits(p + 14, 2, &minute) != 0 || p[16] != ':' ||
        parse_digits(p + 17, 2, &second) != 0)
        return -1;
    p += 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (parse_digits(p + 1, 2, &oh) != 0 || p[3] != ':' || parse_digits(p + 4, 2, &om) != 0 ||
            oh > 23 || om > 59)
            return -1;
        offset = (long)oh * 3600 + (long)om * 60;
        if (*p == '-')
            offset = -offset;
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0' || year < 1970 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    t -= (time_t)offset;
    /* 0 means "never expires" in struct aws_credentials: no real expiry can be that early. */
    if (t <= 0)
        return -1;
    *out = t;
    return 0;
}

static int imds_json_string(json_object *doc, const char *key, const char **out, char *err, size_t errlen)
{
    json_object *v;
    if (!json_object_object_get_ex(doc, key, &v) || !json_object_is_type(v, json_type_string)) {
        text_set_error(err, errlen, "credentials answer has no string %s", key);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

static int imds_parse_credentials(const struct buf *body, struct aws_credentials *c,
                                  char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        text_set_error(err, errlen, "out of memory");
        return -1;
    }
    int ret = -1;
    json_object *doc = json_tokener_parse_ex(tok, body->data ? body->data : "", (int)body->len);
    if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
        text_set_error(err, errlen, "credentials answer is not JSON");
        goto out;
    }
    for (size_t i = json_tokener_get_parse_end(tok); i < body->len; i++) {
        char ch = body->data[i];
        if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
            text_set_error(err, errlen, "credentials answer has text after the JSON");
            goto out;
        }
    }
    if (!json_object_is_type(doc, json_type_object)) {
        text_set_error(err, errlen, "credentials answer is not a JSON object");
        goto out;
    }
    json_object *code;
    if (json_object_object_get_ex(doc, "Code", &code) &&
        (!json_object_is_type(code, json_type_string) ||
         strcmp(json_object_get_string(code), "Success") != 0)) {
        text_set_error(err, errlen, "credentials answer has Code \"%.64s\", not \"Success\"",
                json_object_is_type(code, json_type_string) ? json_object_get_string(code) : "?");
        goto out;
    }
    const char *id, *secret, *token, *expiration;
    if (imds_json_string(doc, "AccessKeyId", &id, err, errlen) != 0 ||
        imds_json_string(doc, "SecretAccessKey", &secret, err, errlen) != 0 ||
        imds_json_string(doc, "Token", &token, err, errlen) != 0 ||
        imds_json_string(doc, "Expiration", &expiration, err, errlen) != 0)
        goto out;
    if (!id[0] || !secret[0]) {
        text_set_error(err, errlen, "credentials answer has an empty AccessKeyId or SecretAccessKey");
        goto out;
    }
    struct origin o = {"AccessKeyId", NULL, 0};
    if (store_credential(c->access_key_id, sizeof c->access_key_id, id, &o, err, errlen) != 0)
        goto out;
    o.what = "SecretAccessKey";
    if (store_credential(c->secret_access_key, sizeof c->secret_access_key, secret, &o, err, errlen) != 0)
        goto out;
    o.what = "Token";
    if (store_credential(c->session_token, sizeof c->session_token, token, &o, err, errlen) != 0)
        goto out;
    if (parse_rfc3339(expiration, &c->expiration) != 0) {
        text_set_error(err, errlen, "credentials answer has an Expiration that is not an RFC 3339 time: \"%.40s\"",
                expiration);
        goto out;
    }
    memcpy(c->source, "imds", sizeof "imds");
    ret = 0;
out:
    json_object_put(doc);
    json_tokener_free(tok);
    return ret;
}

/* Fetch the attached role's credentials with IMDSv2 (session token first; no fallback to IMDSv1,
 * whose tokenless GETs are what SSRF attacks exploit). Returns 0 or -1 with the reason in err. */
static int imds_fetch(const char *endpoint, struct aws_credentials *c, char *err, size_t errlen)
{
    /* The endpoint (under 256 bytes), the longest path and a role name fit. */
    char url[512];
    char token_header[IMDS_TOKEN_MAX + 64];
    char role[IMDS_ROLE_MAX + 1];
    struct buf body;
    long status = 0;
    int ret = -1;
    int n;

    token_header[0] = '\0';
    buf_init(&body, IMDS_RESPONSE_MAX);
    CURL *curl = curl_easy_init();
    if (!curl) {
        text_set_error(err, errlen, "cannot create a curl handle");
        return -1;
    }

    n = snprintf(url, sizeof url, "%s%s", endpoint, IMDS_TOKEN_PATH);
    if (n < 0 || (size_t)n >= sizeof url) {
        text_set_error(err, errlen, "the metadata endpoint is too long");
        goto out;
    }
    if (imds_request(curl, url, 1, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL_SECONDS,
                     &body, &status, err, errlen) != 0)
        goto out;
    if (status != 200) {
        text_set_error(err, errlen, "PUT %s answered HTTP %ld (no IMDSv2 session token)", url, status);
        goto out;
    }
    while (body.len > 0 && (body.data[body.len - 1] == '\n' || body.data[body.len - 1] == '\r' ||
                            body.data[body.len - 1] == ' '))
        body.data[--body.len] = '\0';
    if (body.len == 0 || body.len > IMDS_TOKEN_MAX || strlen(body.data) != body.len ||
        !credential_text_ok(body.data)) {
        text_set_error(err, errlen, "PUT %s answered an unusable session token", url);
        goto out;
    }
    n = snprintf(token_header, sizeof token_header, "X-aws-ec2-metadata-token: %s", body.data);
    if (n < 0 || (size_t)n >= sizeof token_header) {
        text_set_error(err, errlen, "PUT %s answered an unusable session token", url);
        goto out;
    }

    n = snprintf(url, sizeof url, "%s%s", endpoint, IMDS_ROLES_PATH);
    if (n < 0 || (size_t)n >= sizeof url) {
        text_set_error(err, errlen, "the metadata endpoint is too long");
        goto out;
    }
    if (imds_request(curl, url, 0, token_header, &body, &status, err, errlen) != 0)
        goto out;
    if (status == 404) {
        text_set_error(err, errlen, "GET %s answered HTTP 404: no IAM role is attached to this instance", url);
        goto out;
    }
    if (status != 200) {
        text_set_error(err, errlen, "GET %s answered HTTP %ld", url, status);
        goto out;
    }
    size_t role_len = strcspn(body.data ? body.data : "", "\r\n");
    if (role_len > IMDS_ROLE_MAX) {
        text_set_error(err, errlen, "GET %s answered a role name longer than %d characters", url, IMDS_ROLE_MAX);
        goto out;
    }
    memcpy(role, body.data ? body.data : "", role_len);
    role[role_len] = '\0';
    char *role_name = trim(role);
    if (!role_name_ok(role_name)) {
        text_set_error(err, errlen, "GET %s answered no usable role name", url);
        goto out;
    }

    n = snprintf(url, sizeof url, "%s%s%s", endpoint, IMDS_ROLES_PATH, role_name);
    if (n < 0 || (size_t)n >= sizeof url) {
        text_set_error(err, errlen, "the metadata endpoint is too long");
        goto out;
    }
    if (imds_request(curl, url, 0, token_header, &body, &status, err, errlen) != 0)
        goto out;
    if (status != 200) {
        text_set_error(err, errlen, "GET %s answered HTTP %ld", url, status);
        goto out;
    }
    ret = imds_parse_credentials(&body, c, err, errlen);
out:
    curl_easy_cleanup(curl);
    /* The token and the credentials pass through these buffers. */
    explicit_bzero(token_header, sizeof token_header);
    if (body.data)
        explicit_bzero(body.data, body.cap);
    buf_free(&body);
    return ret;
}

/* ---- the chain ------------------------------------------------------------------------------- */

int aws_credentials_resolve(const struct aws_settings *s, struct aws_credentials *c,
                            char *err, size_t errlen)
{
    struct aws_credentials found;
    memset(&found, 0, sizeof found);
    memset(c, 0, sizeof *c);

    int rc = credentials_from_env(&found, err, errlen);
    if (rc == 0) {
        explicit_bzero(&found, sizeof found);
        rc = credentials_from_file(s->credentials_file, INI_CREDENTIALS, s->profile, &found, err, errlen);
    }
    if (rc == 0) {
        explicit_bzero(&found, sizeof found);
        rc = credentials_from_file(s->config_file, INI_CONFIG, s->profile, &found, err, errlen);
    }
    if (rc == 0) {
        explicit_bzero(&found, sizeof found);
        if (s->imds_disabled) {
            text_set_error(err, errlen,
                    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add "
                    "them to profile \"%s\" in %s or %s (instance metadata is off: "
                    "AWS_EC2_METADATA_DISABLED=true)",
                    s->profile, path_or_none(s->credentials_file), path_or_none(s->config_file));
            rc = -1;
        } else {
            char reason[512];
            reason[0] = '\0';
            if (imds_fetch(s->imds_endpoint, &found, reason, sizeof reason) == 0) {
                rc = 1;
            } else {
                text_set_error(err, errlen,
                        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add "
                        "them to profile \"%s\" in %s or %s; instance metadata: %s",
                        s->profile, path_or_none(s->credentials_file), path_or_none(s->config_file),
                        reason);
                rc = -1;
            }
        }
    }
    if (rc == 1)
        memcpy(c, &found, sizeof *c);
    explicit_bzero(&found, sizeof found);
    return rc == 1 ? 0 : -1;
}

int aws_credentials_expiring(const struct aws_credentials *c, time_t now, int margin_seconds)
{
    if (c->expiration == 0)
        return 0;
    if (margin_seconds < 0)
        margin_seconds = 0;
    /* difftime cannot overflow whatever the two times are. */
    return difftime(c->expiration, now) <= (double)margin_seconds;
}
