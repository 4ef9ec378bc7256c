/* fuzz_http_request.c — libFuzzer target: the worker's request parsing (CGI/FastCGI parameters and body),
 * then path and query through the router: http_request_parse, http_request_read_body, router_match.
 * Input: "NAME=value" parameter lines up to an empty line, then the body, read in pieces the input chooses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http.h"
#include "router.h"

#define MAX_PARAMS 200

struct body_source {
    const uint8_t *data;
    size_t size;
    size_t step; /* bytes per read, as a web server hands them over */
};

static long body_read(void *ctx, char *out, size_t n)
{
    struct body_source *b = ctx;
    size_t k = n < b->size ? n : b->size;
    if (k > b->step)
        k = b->step;
    memcpy(out, b->data, k);
    b->data += k;
    b->size -= k;
    return (long)k;
}

static int body_write(void *ctx, const char *data, size_t n)
{
    (void)ctx;
    (void)data;
    (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t flags = fuzz_byte(&in);
    char *params[MAX_PARAMS + 1];
    size_t count = 0;
    while (in.size > 0 && count < MAX_PARAMS) {
        if (in.data[0] == '\n') {
            fuzz_byte(&in);
            break;
        }
        params[count++] = fuzz_field(&in, '\n');
    }
    params[count] = NULL;
    struct http_limits lim = {.max_body_bytes = 4096, .max_header_bytes = 256};
    struct http_request req;
    if (http_request_parse(&req, params, &lim) == 0) {
        struct body_source src = {in.data, in.size, (size_t)(flags >> 2) + 1};
        struct http_io io = {body_read, body_write, &src};
        int read_to_end = flags & 1;
        if (!req.error_status)
            (void)http_request_read_body(&req, &io, &lim, read_to_end);
        (void)http_header(&req, "content-type");
        (void)http_header(&req, "if-match");
        (void)http_query(&req, "limit");
        (void)http_query(&req, "cursor");
        struct route_match m;
        memset(&m, 0, sizeof m);
        const char *stage = flags & 2 ? "/prod" : "";
        if (router_match(stage, req.path, req.method, &m) != ROUTE_NO_MEMORY)
            route_match_free(&m);
        http_request_drain_body(&req, &io, 8192, read_to_end);
    }
    http_request_free(&req);
    for (size_t i = 0; i < count; i++)
        free(params[i]);
    return 0;
}
