/* http.h — one HTTP request and its response as the worker sees them, over FastCGI or CGI.
 * The request comes from CGI-style parameters (HTTP_* headers, QUERY_STRING, ...) and a body stream. */
#ifndef CLONE_JOBS_HTTP_H
#define CLONE_JOBS_HTTP_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"

/* Where the body comes from and the response goes: a FastCGI stream pair or stdin/stdout. */
struct http_io {
    /* Read up to n bytes; returns the count (0 at the end), -1 on an error, or HTTP_READ_NO_STREAM when there
     * is no body stream at all (CGI with stdin closed or a terminal): a body without a length is a 411 then. */
    long (*read)(void *ctx, char *data, size_t n);
    /* Write all n bytes; returns 0 or -1. */
    int (*write)(void *ctx, const char *data, size_t n);
    void *ctx;
};

#define HTTP_READ_NO_STREAM (-2)

struct http_pair {
    char *name;  /* headers: lowercase with '-' ("if-match"); query: decoded */
    char *value; /* decoded for the query */
    size_t value_len;
};

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_QUERY 100
#define HTTP_REQUEST_ID_MAX 128

struct http_request {
    char method[16];
    char *path;               /* the raw path as sent (before '?'), never NULL after http_request_parse */
    char *query_string;       /* raw, "" when none */
    struct http_pair headers[HTTP_MAX_HEADERS];
    size_t header_count;
    struct http_pair query[HTTP_MAX_QUERY];
    size_t query_count;
    struct buf body;
    char remote_addr[64];
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    char client[HTTP_REQUEST_ID_MAX + 1]; /* the API key's name from the gateway, "-" when none */
    char quota[64];           /* the key's plan quota from the gateway ("10000/MONTH"), "" when none */
    /* The first problem found while parsing: the response it calls for (0 when none). */
    int error_status;
    char error_message[160];
    int body_read;            /* the body stream was read to its end (or there is none) */
};

struct http_limits {
    size_t max_body_bytes;
    size_t max_header_bytes;
};

/* Read method, path, headers, query and identity from envp ("NAME=value" strings, NULL-terminated).
 * Never fails as a whole: problems (a header too large, a bad query escape, a path too long) are
 * recorded in error_status/error_message so the caller can still route and log the request.
 * Returns 0, or -1 when out of memory. */
int http_request_parse(struct http_request *req, char *const *envp, const struct http_limits *lim);

/* Read the body announced by CONTENT_LENGTH (or up to the end of the stream when there is none and
 * read_to_end is set, as FastCGI always ends its stream, or a Transfer-Encoding header says a CGI server
 * passes a chunked body to its end; 411 when that server gave no stream). Sets error_status 413 when it is larger than
 * the limit (checked from CONTENT_LENGTH before reading anything), 400 when it is cut short.
 * Returns 0, or -1 when out of memory. */
int http_request_read_body(struct http_request *req, const struct http_io *io,
                           const struct http_limits *lim, int read_to_end);

/* Read and drop what is left of the body (at most cap bytes), so the web server is never cut off while still
 * sending a body the worker refused: nginx would turn that into a 502. */
void http_request_drain_body(struct http_request *req, const struct http_io *io, size_t cap, int read_to_end);

void http_request_free(struct http_request *req);

/* The value of a header (name in lowercase), of a query parameter (last one wins), or NULL. */
const char *http_header(const struct http_request *req, const char *name);
const struct http_pair *http_query(const struct http_request *req, const char *name);

#define HTTP_MAX_RESPONSE_HEADERS 16

struct http_response {
    int status;               /* 0 until a handler sets one */
    struct http_pair headers[HTTP_MAX_RESPONSE_HEADERS];
    size_t header_count;
    struct buf body;
    int has_body;
};

void http_response_init(struct http_response *resp);
void http_response_free(struct http_response *resp);
/* Forget status, headers and body (to replace a half-built answer with an error). */
void http_response_reset(struct http_response *resp);

/* Set (or replace) a header. Returns 0, or -1 when out of memory, full, or the value holds CR/LF. */
int http_response_header(struct http_response *resp, const char *name, const char *value);
const char *http_response_get_header(const struct http_response *resp, const char *name);

/* Status and a JSON body (serialized plain, without escaping '/'); body is borrowed. Returns 0 or -1. */
int http_response_json(struct http_response *resp, int status, json_object *body);

/* Status with {"message": message}. Returns 0 or -1. */
int http_response_message(struct http_response *resp, int status, const char *message);

/* Status without a body (204, the answer to OPTIONS). */
void http_response_empty(struct http_response *resp, int status);

/* Write status line, headers and body in CGI response form. Returns 0, HTTP_WROTE_FIXED_500 when there was
 * no memory to write resp and a fixed 500 went out instead, or -1 on a write error. */
#define HTTP_WROTE_FIXED_500 1
int http_response_write(const struct http_response *resp, const struct http_io *io);

const char *http_reason(int status);

#endif
