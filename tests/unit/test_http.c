/* test_http.c — request parsing from CGI parameters (headers, query, identity, limits), body reading and the
 * response's wire form. */
#include "config.h"

#include <string.h>

#include "http.h"
#include "tap.h"

struct source {
    const char *data;
    size_t len, pos, chunk;
};

static long src_read(void *ctx, char *data, size_t n)
{
    struct source *s = ctx;
    size_t left = s->len - s->pos;
    if (n > left)
        n = left;
    if (s->chunk && n > s->chunk)
        n = s->chunk;
    memcpy(data, s->data + s->pos, n);
    s->pos += n;
    return (long)n;
}

static long no_stream(void *ctx, char *data, size_t n)
{
    (void)ctx;
    (void)data;
    (void)n;
    return HTTP_READ_NO_STREAM;
}

static int sink_write(void *ctx, const char *data, size_t n)
{
    return buf_append(ctx, data, n);
}

int main(void)
{
    struct tap t = {0};
    struct http_limits lim = {.max_body_bytes = 100, .max_header_bytes = 64};
    struct http_request req;

    char *env1[] = {
        "REQUEST_METHOD=PATCH", "REQUEST_URI=/prod/clones/a%2Fb?x=1", "QUERY_STRING=a=1&b=x+y%21&a=2&&flag",
        "HTTP_IF_MATCH=\"3\"", "HTTP_X_API_KEY=secret", "CONTENT_TYPE=application/json", "CONTENT_LENGTH=5",
        "HTTP_CONTENT_LENGTH=999", "REMOTE_ADDR=127.0.0.1", "CLONE_JOBS_REQUEST_ID=abc123",
        "HTTP_X_AMZN_REQUESTID=other", "CLONE_JOBS_CLIENT=team-a", NULL,
    };
    tap_ok(&t, http_request_parse(&req, env1, &lim) == 0 && req.error_status == 0, "parse");
    tap_ok(&t, strcmp(req.method, "PATCH") == 0 && strcmp(req.path, "/prod/clones/a%2Fb") == 0,
           "method and raw path");
    tap_ok(&t, strcmp(http_header(&req, "if-match"), "\"3\"") == 0 && strcmp(http_header(&req, "x-api-key"), "secret") == 0,
           "headers are lowercase with dashes");
    tap_ok(&t, strcmp(http_header(&req, "content-length"), "5") == 0, "CONTENT_LENGTH wins over HTTP_CONTENT_LENGTH");
    tap_ok(&t, strcmp(http_query(&req, "a")->value, "2") == 0, "the last of repeated parameters wins");
    tap_ok(&t, strcmp(http_query(&req, "b")->value, "x y!") == 0, "'+' and %%XX decoded in the query");
    tap_ok(&t, http_query(&req, "flag") && http_query(&req, "flag")->value_len == 0, "a name without value");
    tap_ok(&t, strcmp(req.request_id, "abc123") == 0 && strcmp(req.client, "team-a") == 0 &&
                   strcmp(req.remote_addr, "127.0.0.1") == 0,
           "request id from the gateway, client, remote address");
    struct source s = {.data = "hello", .len = 5, .chunk = 2};
    struct http_io io = {.read = src_read, .ctx = &s};
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 1) == 0 && req.error_status == 0 && req.body.len == 5 &&
                   memcmp(req.body.data, "hello", 5) == 0,
           "body read in pieces");
    http_request_free(&req);

    char *env2[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", "HTTP_X_AMZN_REQUESTID=bad id\"", "HTTP_X_REQUEST_ID=r-2", NULL};
    http_request_parse(&req, env2, &lim);
    tap_ok(&t, strcmp(req.request_id, "r-2") == 0 && strcmp(req.client, "-") == 0,
           "an unusable request id is skipped; no client is '-'");
    tap_ok(&t, strcmp(req.query_string, "") == 0 && req.query_count == 0, "no query");
    http_request_free(&req);

    char *env3[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", NULL};
    http_request_parse(&req, env3, &lim);
    tap_ok(&t, strlen(req.request_id) == 36 && req.request_id[14] == '4', "a UUID when no id came (%s)", req.request_id);
    http_request_free(&req);

    char *env4[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", "QUERY_STRING=a=%zz", NULL};
    http_request_parse(&req, env4, &lim);
    tap_ok(&t, req.error_status == 400, "malformed escape in the query: 400 (%s)", req.error_message);
    http_request_free(&req);
    char *env4b[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", "QUERY_STRING=a=%C3%28", NULL};
    http_request_parse(&req, env4b, &lim);
    tap_ok(&t, req.error_status == 400, "query not UTF-8: 400 (%s)", req.error_message);
    http_request_free(&req);
    char *env4c[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", "QUERY_STRING=a=%", NULL};
    http_request_parse(&req, env4c, &lim);
    tap_ok(&t, req.error_status == 400, "lone '%%' in the query: 400");
    http_request_free(&req);

    char big[200];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char header[220];
    snprintf(header, sizeof header, "HTTP_X_BIG=%s", big + 100);
    char *env5[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", header, NULL};
    http_request_parse(&req, env5, &lim);
    tap_ok(&t, req.error_status == 431, "a header over the limit: 431");
    http_request_free(&req);
    char uri[220];
    snprintf(uri, sizeof uri, "REQUEST_URI=/%s", big);
    char *env6[] = {"REQUEST_METHOD=GET", uri, NULL};
    http_request_parse(&req, env6, &lim);
    tap_ok(&t, req.error_status == 414, "a path over the limit: 414");
    http_request_free(&req);

    char *env7[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/x", "CONTENT_LENGTH=101", NULL};
    http_request_parse(&req, env7, &lim);
    struct source none = {.data = "", .len = 0};
    io.ctx = &none;
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 1) == 0 && req.error_status == 413 && req.body.len == 0,
           "Content-Length over the limit: 413 before reading");
    http_request_free(&req);
    char *env8[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/x", "CONTENT_LENGTH=10", NULL};
    http_request_parse(&req, env8, &lim);
    struct source shortsrc = {.data = "abc", .len = 3};
    io.ctx = &shortsrc;
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 1) == 0 && req.error_status == 400, "short body: 400");
    http_request_free(&req);
    char *env9[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/x", "CONTENT_LENGTH=1x", NULL};
    http_request_parse(&req, env9, &lim);
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 1) == 0 && req.error_status == 400, "bad Content-Length: 400");
    http_request_free(&req);
    char *env10[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/x", NULL};
    http_request_parse(&req, env10, &lim);
    char many[150];
    memset(many, 'b', sizeof many);
    struct source unbounded = {.data = many, .len = sizeof many};
    io.ctx = &unbounded;
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 1) == 0 && req.error_status == 413,
           "no Content-Length, stream longer than the limit: 413");
    http_request_free(&req);
    http_request_parse(&req, env10, &lim);
    struct source fits = {.data = many, .len = 50};
    io.ctx = &fits;
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 1) == 0 && req.error_status == 0 && req.body.len == 50,
           "no Content-Length: read to the end of the stream");
    http_request_free(&req);
    http_request_parse(&req, env10, &lim);
    fits.pos = 0;
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 0) == 0 && req.body.len == 0,
           "CGI without Content-Length: no body");
    http_request_free(&req);

    /* A chunked body under CGI: no CONTENT_LENGTH, the server's Transfer-Encoding, the body to stdin's end. */
    char *env10b[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/clones", "HTTP_TRANSFER_ENCODING=chunked", NULL};
    http_request_parse(&req, env10b, &lim);
    fits.pos = 0;
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 0) == 0 && req.error_status == 0 && req.body.len == 50,
           "CGI with Transfer-Encoding and no Content-Length: read to the end of stdin");
    http_request_free(&req);
    http_request_parse(&req, env10b, &lim);
    struct source over = {.data = many, .len = 150};
    io.ctx = &over;
    tap_ok(&t, http_request_read_body(&req, &io, &lim, 0) == 0 && req.error_status == 413,
           "a chunked body over the limit: 413");
    http_request_free(&req);
    http_request_parse(&req, env10b, &lim);
    struct http_io streamless = {.read = no_stream};
    tap_ok(&t, http_request_read_body(&req, &streamless, &lim, 0) == 0 && req.error_status == 411 &&
                   strstr(req.error_message, "Content-Length"),
           "no stream to read a chunked body from: 411 (%s)", req.error_message);
    http_request_free(&req);
    io.ctx = &fits;

    char *env11[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/cgi", "PATH_INFO=/clones/50%", NULL};
    http_request_parse(&req, env11, &lim);
    tap_ok(&t, strcmp(req.path, "/cgi/clones/50%25") == 0, "without REQUEST_URI: SCRIPT_NAME + PATH_INFO (%s)", req.path);
    http_request_free(&req);

    struct http_response resp;
    http_response_init(&resp);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "url", json_object_new_string("a/b"));
    tap_ok(&t, http_response_json(&resp, 201, o) == 0 && strcmp(resp.body.data, "{\"url\":\"a/b\"}") == 0,
           "JSON body plain, '/' not escaped");
    json_object_put(o);
    tap_ok(&t, http_response_header(&resp, "ETag", "\"1\"") == 0 && http_response_header(&resp, "ETag", "\"2\"") == 0 &&
                   resp.header_count == 1 && strcmp(http_response_get_header(&resp, "etag"), "\"2\"") == 0,
           "a header set twice is replaced");
    tap_ok(&t, http_response_header(&resp, "X-Bad", "a\r\nInjected: 1") != 0, "CR/LF in a header value is refused");
    struct buf out;
    buf_init(&out, 0);
    struct http_io wio = {.write = sink_write, .ctx = &out};
    tap_ok(&t, http_response_write(&resp, &wio) == 0 &&
                   strcmp(out.data, "Status: 201 Created\r\nETag: \"2\"\r\nContent-Length: 13\r\n\r\n{\"url\":\"a/b\"}") == 0,
           "wire form");
    buf_reset(&out);
    http_response_reset(&resp);
    http_response_empty(&resp, 204);
    tap_ok(&t, http_response_write(&resp, &wio) == 0 && strcmp(out.data, "Status: 204 No Content\r\n\r\n") == 0,
           "204 without body or length");
    buf_free(&out);
    http_response_free(&resp);
    return tap_done(&t);
}
