/* fuzz_sigv4.c — libFuzzer target: SigV4 canonicalisation and signing of any method, path, query, headers
 * and body. Input fields separated by 0xff: method, path, query, then header name/value pairs; body last. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sigv4.h"

#define MAX_HEADERS 16
#define SEP 0xff

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t flags = fuzz_byte(&in);
    char *method = fuzz_field(&in, SEP);
    char *path = fuzz_field(&in, SEP);
    char *query = fuzz_field(&in, SEP);
    uint8_t header_count = fuzz_byte(&in) % MAX_HEADERS;
    struct sigv4_header headers[MAX_HEADERS + 1];
    char *owned[2 * MAX_HEADERS];
    size_t n = 0;
    headers[n++] = (struct sigv4_header){"Host", "dynamodb.us-east-1.amazonaws.com"};
    for (uint8_t i = 0; i < header_count && in.size > 0; i++) {
        owned[2 * i] = fuzz_field(&in, SEP);
        owned[2 * i + 1] = fuzz_field(&in, SEP);
        headers[n++] = (struct sigv4_header){owned[2 * i], owned[2 * i + 1]};
    }
    size_t owned_count = 2 * (n - 1);
    struct sigv4_request req = {method, path, flags & 1 ? query : NULL, headers, n, in.data, in.size};
    struct sigv4_credentials creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                      flags & 2 ? "session-token" : NULL};
    struct sigv4_key_cache cache;
    memset(&cache, 0, sizeof cache);
    struct sigv4_params params = {"us-east-1", "dynamodb", "20150830T123600Z", flags & 4 ? 1 : 0,
                                  flags & 8 ? 1 : 0, flags & 16 ? 1 : 0, flags & 32 ? &cache : NULL};
    struct sigv4_result res;
    if (sigv4_sign(&req, &creds, &params, &res) == 0) {
        if (strlen(res.signature) != 64 || !res.authorization || !res.canonical_request)
            abort();
        /* Signing is a function of its input: a second time gives the same signature. */
        struct sigv4_result again;
        if (sigv4_sign(&req, &creds, &params, &again) != 0 || strcmp(res.signature, again.signature) != 0)
            abort();
        sigv4_result_free(&again);
        sigv4_result_free(&res);
    }
    for (size_t i = 0; i < owned_count; i++)
        free(owned[i]);
    free(method);
    free(path);
    free(query);
    return 0;
}
