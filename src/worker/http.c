/* http.c — parses one request from CGI-style parameters and a body stream, and writes the response.
 * Every limit is checked before the bytes it guards are kept, and every problem becomes a 4xx, never a crash. */
#include "config.h"

#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_output.h"
#include "text.h"

/* On the stack: a heap block this size per request made malloc consolidate its free lists every time. */
#define BODY_READ_CHUNK 16384

static const char *param(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static void set_error(struct http_request *req, int status, const char *message)
{
    if (req->error_status)
        return; /* the first problem is the one reported */
    req->error_status = status;
    snprintf(req->error_message, sizeof req->error_message, "%s", message);
}

/* Request ids and client names are echoed in headers and logs: only a plain token is taken as is. */
static int plain_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HTTP_REQUEST_ID_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-._:/+=@", *s))
            return 0;
    return 1;
}

static char *dup_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int add_header(struct http_request *req, const char *cgi_name, const char *value,
                      const struct http_limits *lim)
{
    size_t nlen = strlen(cgi_name), vlen = strlen(value);
    if (nlen + vlen > lim->max_header_bytes) {
        set_error(req, 431, "Request Header Fields Too Large");
        return 0;
    }
    if (req->header_count >= HTTP_MAX_HEADERS) {
        set_error(req, 431, "Request Header Fields Too Large");
        return 0;
    }
    char *name = dup_range(cgi_name, nlen);
    char *val = dup_range(value, vlen);
    if (!name || !val) {
        free(name);
        free(val);
        return -1;
    }
    for (char *p = name; *p; p++)
        *p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    struct http_pair *h = &req->headers[req->header_count++];
    h->name = name;
    h->value = val;
    h->value_len = vlen;
    return 0;
}

/* 0 decoded, 1 a 400 is recorded, -1 out of memory. */
static int decode_component(const char *s, size_t n, struct buf *out, struct http_request *req)
{
    buf_reset(out);
    int rc = text_percent_decode(s, n, 1, out);
    if (rc == TEXT_NO_MEMORY)
        return -1;
    if (rc != 0) {
        set_error(req, 400, "malformed percent-encoding in the query string");
        return 1;
    }
    if (out->len && (memchr(out->data, '\0', out->len) || !text_utf8_valid(out->data, out->len))) {
        set_error(req, 400, "the query string is not valid UTF-8");
        return 1;
    }
    return 0;
}

static int parse_query(struct http_request *req)
{
    const char *q = req->query_string;
    struct buf name, value;
    buf_init(&name, 0);
    buf_init(&value, 0);
    int status = 0;
    while (*q && status == 0) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        size_t nlen = eq ? (size_t)(eq - q) : n;
        if (n == 0) {
            q++;
            continue;
        }
        if (req->query_count >= HTTP_MAX_QUERY) {
            set_error(req, 400, "too many query parameters");
            break;
        }
        int d = decode_component(q, nlen, &name, req);
        if (d == 0)
            d = decode_component(eq ? eq + 1 : "", eq ? n - nlen - 1 : 0, &value, req);
        if (d < 0)
            status = -1;
        if (d != 0)
            break;
        struct http_pair *p = &req->query[req->query_count];
        p->name = dup_range(name.data ? name.data : "", name.len);
        p->value = dup_range(value.data ? value.data : "", value.len);
        p->value_len = value.len;
        if (!p->name || !p->value) {
            free(p->name);
            free(p->value);
            p->name = p->value = NULL;
            status = -1;
            break;
        }
        req->query_count++;
        q += n;
        if (*q == '&')
            q++;
    }
    buf_free(&name);
    buf_free(&value);
    return status;
}

/* Without REQUEST_URI (plain CGI), the path is SCRIPT_NAME + PATH_INFO, already decoded by the server:
 * '%' is escaped again so the router's one decoding gives the same bytes back. */
static char *path_from_cgi(char *const *envp)
{
    const char *script = param(envp, "SCRIPT_NAME");
    const char *info = param(envp, "PATH_INFO");
    struct buf b;
    buf_init(&b, 0);
    const char *parts[2] = {script ? script : "", info ? info : ""};
    for (int i = 0; i < 2; i++)
        for (const char *p = parts[i]; *p; p++)
            if ((*p == '%' ? buf_append_str(&b, "%25") : buf_append(&b, p, 1)) != 0) {
                buf_free(&b);
                return NULL;
            }
    return buf_steal(&b);
}

int http_request_parse(struct http_request *req, char *const *envp, const struct http_limits *lim)
{
    memset(req, 0, sizeof *req);
    buf_init(&req->body, lim->max_body_bytes);
    snprintf(req->client, sizeof req->client, "-");

    const char *method = param(envp, "REQUEST_METHOD");
    if (method && strlen(method) < sizeof req->method)
        snprintf(req->method, sizeof req->method, "%s", method);

    const char *uri = param(envp, "REQUEST_URI");
    const char *qs = param(envp, "QUERY_STRING");
    if (uri && *uri) {
        size_t n = strcspn(uri, "?");
        req->path = dup_range(uri, n);
        if (!qs && uri[n] == '?')
            qs = uri + n + 1;
        if (strlen(uri) > lim->max_header_bytes)
            set_error(req, 414, "Request-URI Too Long");
    } else {
        req->path = path_from_cgi(envp);
    }
    req->query_string = dup_range(qs ? qs : "", qs ? strlen(qs) : 0);
    if (!req->path || !req->query_string)
        return -1;
    if (strlen(req->query_string) > lim->max_header_bytes)
        set_error(req, 414, "Request-URI Too Long");

    const char *remote = param(envp, "REMOTE_ADDR");
    snprintf(req->remote_addr, sizeof req->remote_addr, "%s", remote && plain_token(remote) ? remote : "-");

    const char *ids[] = {"CLONE_JOBS_REQUEST_ID", "HTTP_X_AMZN_REQUESTID", "HTTP_X_REQUEST_ID"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] && !req->request_id[0]; i++) {
        const char *v = param(envp, ids[i]);
        if (v && plain_token(v))
            snprintf(req->request_id, sizeof req->request_id, "%s", v);
    }
    if (!req->request_id[0] && text_uuid4(req->request_id) != 0)
        return -1;
    const char *client = param(envp, "CLONE_JOBS_CLIENT");
    if (client && plain_token(client))
        snprintf(req->client, sizeof req->client, "%s", client);
    /* Only the gateway sets it (the worker's socket is reachable from nginx alone); quota_parse checks it. */
    const char *quota = param(envp, "CLONE_JOBS_QUOTA");
    if (quota && strlen(quota) < sizeof req->quota)
        snprintf(req->quota, sizeof req->quota, "%s", quota);

    for (char *const *e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char name[256];
        size_t nlen = (size_t)(eq - *e);
        int is_http = nlen > 5 && strncmp(*e, "HTTP_", 5) == 0;
        int is_content = (nlen == 12 && strncmp(*e, "CONTENT_TYPE", 12) == 0) ||
                         (nlen == 14 && strncmp(*e, "CONTENT_LENGTH", 14) == 0);
        if (!is_http && !is_content)
            continue;
        /* nginx also copies these two as HTTP_*; the CGI variables are the authoritative ones
         * (for a chunked body only CONTENT_LENGTH holds the length nginx buffered). */
        if (is_http && ((nlen == 17 && strncmp(*e, "HTTP_CONTENT_TYPE", 17) == 0) ||
                        (nlen == 19 && strncmp(*e, "HTTP_CONTENT_LENGTH", 19) == 0)))
            continue;
        if (is_content && eq[1] == '\0')
            continue; /* nginx sends both, empty, on a request without a body */
        const char *start = is_http ? *e + 5 : *e;
        size_t len = (size_t)(eq - start);
        if (len >= sizeof name) {
            set_error(req, 431, "Request Header Fields Too Large");
            continue;
        }
        memcpy(name, start, len);
        name[len] = '\0';
        if (add_header(req, name, eq + 1, lim) != 0)
            return -1;
    }
    return parse_query(req);
}

int http_request_read_body(struct http_request *req, const struct http_io *io,
                           const struct http_limits *lim, int read_to_end)
{
    const char *cl = http_header(req, "content-length");
    unsigned long long want = 0;
    int known = 0;
    if (cl) {
        size_t n = strlen(cl);
        if (n == 0 || n > 19 || strspn(cl, "0123456789") != n) {
            set_error(req, 400, "invalid Content-Length");
            return 0;
        }
        want = strtoull(cl, NULL, 10);
        known = 1;
        if (want > lim->max_body_bytes) {
            set_error(req, 413, "Request Too Long");
            return 0;
        }
    } else if (!read_to_end && !http_header(req, "transfer-encoding")) {
        req->body_read = 1;
        return 0;
    }
    /* No length: FastCGI ends its stream; a CGI server that took a chunked body (Apache's mod_cgi/mod_cgid)
     * passes it de-chunked on stdin without CONTENT_LENGTH and closes stdin at its end, so it is read to
     * that end too (never dropped), within max_body_bytes. */
    char chunk[BODY_READ_CHUNK];
    int status = 0;
    for (;;) {
        size_t ask = BODY_READ_CHUNK;
        if (known) {
            unsigned long long left = want - req->body.len;
            if (left == 0)
                break;
            if (left < ask)
                ask = (size_t)left;
        }
        long got = io->read(io->ctx, chunk, ask);
        if (got == HTTP_READ_NO_STREAM && !known) {
            set_error(req, 411, "Length Required: this server passed a body without its length and no stream "
                                "to read it from; send Content-Length");
            req->body_read = 1;
            break;
        }
        if (got < 0) {
            set_error(req, 400, "could not read the request body");
            break;
        }
        if (got == 0) {
            if (known)
                set_error(req, 400, "request body shorter than Content-Length");
            req->body_read = 1;
            break;
        }
        if (buf_append(&req->body, chunk, (size_t)got) != 0) {
            if (req->body.len + (size_t)got > lim->max_body_bytes)
                set_error(req, 413, "Request Too Long");
            else
                status = -1;
            break;
        }
    }
    if (known && req->body.len == want)
        req->body_read = 1;
    return status;
}

void http_request_drain_body(struct http_request *req, const struct http_io *io, size_t cap, int read_to_end)
{
    if (req->body_read)
        return;
    if (!read_to_end && !http_header(req, "content-length") && !http_header(req, "transfer-encoding"))
        return; /* CGI without a length or a chunked body: there is no body to wait for */
    const char *cl = http_header(req, "content-length");
    unsigned long long left = cap;
    if (cl && strlen(cl) <= 19 && strspn(cl, "0123456789") == strlen(cl)) {
        unsigned long long announced = strtoull(cl, NULL, 10);
        if (announced < req->body.len)
            return;
        announced -= req->body.len;
        if (announced < left)
            left = announced;
    }
    char chunk[16384];
    while (left > 0) {
        long got = io->read(io->ctx, chunk, left < sizeof chunk ? (size_t)left : sizeof chunk);
        if (got <= 0)
            break;
        left -= (unsigned long long)got;
    }
    req->body_read = 1;
}

void http_request_free(struct http_request *req)
{
    free(req->path);
    free(req->query_string);
    for (size_t i = 0; i < req->header_count; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    for (size_t i = 0; i < req->query_count; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
    }
    buf_free(&req->body);
    memset(req, 0, sizeof *req);
}

const char *http_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const struct http_pair *http_query(const struct http_request *req, const char *name)
{
    for (size_t i = req->query_count; i > 0; i--)
        if (strcmp(req->query[i - 1].name, name) == 0)
            return &req->query[i - 1];
    return NULL;
}

void http_response_init(struct http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    buf_init(&resp->body, 0);
}

void http_response_reset(struct http_response *resp)
{
    for (size_t i = 0; i < resp->header_count; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    resp->header_count = 0;
    buf_reset(&resp->body);
    resp->status = 0;
    resp->has_body = 0;
}

void http_response_free(struct http_response *resp)
{
    http_response_reset(resp);
    buf_free(&resp->body);
}

int http_response_header(struct http_response *resp, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n") || strpbrk(name, "\r\n: "))
        return -1;
    char *v = strdup(value);
    if (!v)
        return -1;
    for (size_t i = 0; i < resp->header_count; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            free(resp->headers[i].value);
            resp->headers[i].value = v;
            return 0;
        }
    if (resp->header_count >= HTTP_MAX_RESPONSE_HEADERS) {
        free(v);
        return -1;
    }
    char *n = strdup(name);
    if (!n) {
        free(v);
        return -1;
    }
    resp->headers[resp->header_count].name = n;
    resp->headers[resp->header_count].value = v;
    resp->header_count++;
    return 0;
}

const char *http_response_get_header(const struct http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->header_count; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

int http_response_json(struct http_response *resp, int status, json_object *body)
{
    buf_reset(&resp->body);
    if (json_output(body, &resp->body) != 0)
        return -1;
    resp->status = status;
    resp->has_body = 1;
    return 0;
}

int http_response_message(struct http_response *resp, int status, const char *message)
{
    json_object *o = json_object_new_object();
    json_object *m = json_object_new_string(message);
    int rc = -1;
    if (o && m && json_object_object_add(o, "message", m) == 0) {
        m = NULL;
        rc = http_response_json(resp, status, o);
    }
    json_object_put(m);
    json_object_put(o);
    return rc;
}

void http_response_empty(struct http_response *resp, int status)
{
    buf_reset(&resp->body);
    resp->status = status;
    resp->has_body = 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

/* The answer when there is no memory left to build one: fixed bytes, no allocation. */
static const char FIXED_500_ANSWER[] = "Status: 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                       "Content-Length: 35\r\n\r\n{\"message\":\"Internal server error\"}";

int http_response_write(const struct http_response *resp, const struct http_io *io)
{
    struct buf head;
    buf_init(&head, 0);
    int status = resp->status ? resp->status : 500;
    int ok = buf_printf(&head, "Status: %d %s\r\n", status, http_reason(status)) == 0;
    for (size_t i = 0; ok && i < resp->header_count; i++)
        ok = BUF_APPEND_STRS(&head, resp->headers[i].name, ": ", resp->headers[i].value, "\r\n") == 0;
    size_t body_len = resp->has_body ? resp->body.len : 0;
    if (ok && status != 204)
        ok = buf_printf(&head, "Content-Length: %zu\r\n", body_len) == 0;
    ok = ok && buf_append_str(&head, "\r\n") == 0;
    int rc;
    if (!ok) /* out of memory for the head: the client still gets an answer */
        rc = io->write(io->ctx, FIXED_500_ANSWER, sizeof FIXED_500_ANSWER - 1) == 0 ? HTTP_WROTE_FIXED_500 : -1;
    else
        rc = io->write(io->ctx, head.data, head.len) == 0 &&
                     (body_len == 0 || io->write(io->ctx, resp->body.data, body_len) == 0)
                 ? 0
                 : -1;
    buf_free(&head);
    return rc;
}
