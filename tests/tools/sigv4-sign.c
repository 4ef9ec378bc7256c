/* sigv4-sign.c — signs one request described as JSON on stdin and prints what the signer produced as JSON,
 * so Python tests can hold src/sigv4.c against botocore. Exit 0 signed, 1 the signer refused, 2 bad input.
 *
 * In:  {"method","path","query"?,"headers":[[name,value],...],"body","amz_date","region","service",
 *       "access_key_id","secret_access_key","session_token"?,
 *       "normalize_path"? (true),"sign_body_header"? (false),"omit_session_token"? (false)}
 * Out: {"canonical_request","string_to_sign","signature","authorization","headers":[[name,value],...]}
 *      where "headers" are the ones the signer asks the caller to add, in its order. */
#include "buf.h"
#include "sigv4.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far above any DynamoDB request (16 MB at most): the test's large bodies fit, a runaway writer does not. */
#define MAX_INPUT_BYTES ((size_t)64 << 20)

static int read_stdin(struct buf *in)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (buf_append(in, chunk, n) != 0)
            return -1;
    return ferror(stdin) ? -1 : 0;
}

/* The string at key, or NULL (absent or not a string); *len_out gets its length, NUL bytes included. */
static const char *string_field(struct json_object *obj, const char *key, size_t *len_out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    if (len_out)
        *len_out = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

/* 1/0 for a boolean, fallback when absent or null, -1 for anything else. */
static int bool_field(struct json_object *obj, const char *key, int fallback)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
        return fallback;
    if (!json_object_is_type(v, json_type_boolean))
        return -1;
    return json_object_get_boolean(v) ? 1 : 0;
}

/* Fill headers from [[name, value], ...]; the strings stay owned by the json object. */
static int parse_headers(struct json_object *root, struct sigv4_header **out, size_t *count_out)
{
    struct json_object *list;
    *out = NULL;
    *count_out = 0;
    if (!json_object_object_get_ex(root, "headers", &list) || !json_object_is_type(list, json_type_array))
        return -1;
    size_t count = json_object_array_length(list);
    if (count == 0)
        return 0;
    struct sigv4_header *headers = calloc(count, sizeof *headers);
    if (!headers)
        return -1;
    for (size_t i = 0; i < count; i++) {
        struct json_object *pair = json_object_array_get_idx(list, i);
        struct json_object *name = pair && json_object_is_type(pair, json_type_array) &&
                                           json_object_array_length(pair) == 2
                                       ? json_object_array_get_idx(pair, 0)
                                       : NULL;
        struct json_object *value = name ? json_object_array_get_idx(pair, 1) : NULL;
        if (!name || !value || !json_object_is_type(name, json_type_string) ||
            !json_object_is_type(value, json_type_string)) {
            free(headers);
            return -1;
        }
        headers[i].name = json_object_get_string(name);
        headers[i].value = json_object_get_string(value);
    }
    *out = headers;
    *count_out = count;
    return 0;
}

/* "Name: value" from the signer into ["Name", "value"]. */
static struct json_object *header_pair(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon)
        return NULL;
    const char *value = colon + 1;
    while (*value == ' ')
        value++;
    struct json_object *pair = json_object_new_array();
    struct json_object *name = json_object_new_string_len(line, (int)(colon - line));
    struct json_object *val = json_object_new_string(value);
    if (!pair || !name || !val || json_object_array_add(pair, name) != 0) {
        json_object_put(pair);
        json_object_put(name);
        json_object_put(val);
        return NULL;
    }
    if (json_object_array_add(pair, val) != 0) {
        json_object_put(pair);
        json_object_put(val);
        return NULL;
    }
    return pair;
}

/* Add key: value to obj, taking ownership of value even on failure. */
static int add_field(struct json_object *obj, const char *key, struct json_object *value)
{
    if (!value)
        return -1;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static int print_result(const struct sigv4_result *res)
{
    struct json_object *out = json_object_new_object();
    struct json_object *headers = json_object_new_array();
    if (!out || !headers) {
        json_object_put(out);
        json_object_put(headers);
        return -1;
    }
    if (add_field(out, "headers", headers) != 0) { /* from here on, out owns headers */
        json_object_put(out);
        return -1;
    }
    for (size_t i = 0; i < res->extra_header_count; i++) {
        struct json_object *pair = header_pair(res->extra_headers[i]);
        if (!pair || json_object_array_add(headers, pair) != 0) {
            json_object_put(pair);
            json_object_put(out);
            return -1;
        }
    }
    int rc = -1;
    if (add_field(out, "canonical_request", json_object_new_string(res->canonical_request)) == 0 &&
        add_field(out, "string_to_sign", json_object_new_string(res->string_to_sign)) == 0 &&
        add_field(out, "signature", json_object_new_string(res->signature)) == 0 &&
        add_field(out, "authorization", json_object_new_string(res->authorization)) == 0) {
        const char *text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
        if (text && printf("%s\n", text) >= 0 && fflush(stdout) == 0)
            rc = 0;
    }
    json_object_put(out);
    return rc;
}

/* Only blanks may follow the object (a shell's echo adds a newline). */
static int only_blanks(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

int main(void)
{
    struct buf in;
    buf_init(&in, MAX_INPUT_BYTES);
    if (read_stdin(&in) != 0 || in.len == 0) {
        fprintf(stderr, "sigv4-sign: could not read a request (at most %zu bytes) on stdin\n", MAX_INPUT_BYTES);
        buf_free(&in);
        return 2;
    }
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root = tok ? json_tokener_parse_ex(tok, in.data, (int)in.len) : NULL;
    size_t parse_end = tok ? json_tokener_get_parse_end(tok) : 0;
    int parse_complete = tok && json_tokener_get_error(tok) == json_tokener_success && parse_end <= in.len &&
                         only_blanks(in.data + parse_end, in.len - parse_end);
    json_tokener_free(tok);
    buf_free(&in);
    if (!root || !parse_complete || !json_object_is_type(root, json_type_object)) {
        fprintf(stderr, "sigv4-sign: stdin is not one JSON object\n");
        json_object_put(root);
        return 2;
    }

    struct sigv4_header *headers = NULL;
    size_t header_count = 0, body_len = 0;
    const char *body = string_field(root, "body", &body_len);
    struct sigv4_request req = {
        .method = string_field(root, "method", NULL),
        .path = string_field(root, "path", NULL),
        .query = string_field(root, "query", NULL),
        .body = body,
        .body_len = body ? body_len : 0,
    };
    const struct sigv4_credentials creds = {
        .access_key_id = string_field(root, "access_key_id", NULL),
        .secret_access_key = string_field(root, "secret_access_key", NULL),
        .session_token = string_field(root, "session_token", NULL),
    };
    const struct sigv4_params params = {
        .region = string_field(root, "region", NULL),
        .service = string_field(root, "service", NULL),
        .amz_date = string_field(root, "amz_date", NULL),
        .normalize_path = bool_field(root, "normalize_path", 1),
        .sign_body_header = bool_field(root, "sign_body_header", 0),
        .omit_session_token = bool_field(root, "omit_session_token", 0),
    };
    if (!req.method || !req.path || parse_headers(root, &headers, &header_count) != 0 ||
        params.normalize_path < 0 || params.sign_body_header < 0 || params.omit_session_token < 0) {
        fprintf(stderr, "sigv4-sign: need method, path and headers [[name, value], ...]; flags are booleans\n");
        free(headers);
        json_object_put(root);
        return 2;
    }
    req.headers = headers;
    req.header_count = header_count;

    struct sigv4_result res;
    int status = 0;
    if (sigv4_sign(&req, &creds, &params, &res) != 0) {
        fprintf(stderr, "sigv4-sign: the signer refused the request\n");
        status = 1;
    } else if (print_result(&res) != 0) {
        fprintf(stderr, "sigv4-sign: could not write the result\n");
        status = 2;
    }
    sigv4_result_free(&res);
    free(headers);
    json_object_put(root);
    return status;
}
