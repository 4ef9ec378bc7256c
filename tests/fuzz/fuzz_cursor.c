/* fuzz_cursor.c — libFuzzer target: pagination cursors. Even inputs are cursor texts as a client sends them;
 * odd ones are payloads signed here with the secret, so the JSON behind the HMAC is fuzzed as well. */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "fuzz_common.h"

#define SECRET "fuzz-cursor-secret-0123456789abcdef"
#define DOMAIN "clone-jobs-cursor-v1\n"

/* base64url without padding of in[0..len) at out. */
static size_t b64url(const unsigned char *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    size_t m = n > 0 ? (size_t)n : 0;
    while (m && out[m - 1] == '=')
        m--;
    for (size_t i = 0; i < m; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[m] = '\0';
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t mode = fuzz_byte(&in);
    struct cursor_scope scope = {(const unsigned char *)SECRET, sizeof SECRET - 1, "clone-jobs",
                                 mode & 2 ? "new" : NULL};
    char *text = NULL;
    if (in.size > CURSOR_MAX_TEXT)
        return 0;
    if (mode & 1) {
        unsigned char *msg = malloc(sizeof DOMAIN - 1 + in.size + 1);
        if (!msg)
            abort();
        memcpy(msg, DOMAIN, sizeof DOMAIN - 1);
        if (in.size)
            memcpy(msg + sizeof DOMAIN - 1, in.data, in.size);
        unsigned char tag[32];
        unsigned int tag_len = 0;
        if (!HMAC(EVP_sha256(), SECRET, sizeof SECRET - 1, msg, sizeof DOMAIN - 1 + in.size, tag, &tag_len))
            abort();
        free(msg);
        text = malloc((in.size + 2) / 3 * 4 + 48 + 2);
        if (!text)
            abort();
        size_t n = b64url(in.data, in.size, text);
        text[n++] = '.';
        b64url(tag, tag_len, text + n);
    } else {
        text = fuzz_field(&in, 0);
    }
    json_object *key = NULL;
    if (cursor_decode(&scope, text, &key) == 0) {
        /* A cursor that decodes encodes again, and that one decodes to the same key. */
        char *again = cursor_encode(&scope, key);
        json_object *key2 = NULL;
        if (!again || cursor_decode(&scope, again, &key2) != 0 ||
            strcmp(json_object_to_json_string(key), json_object_to_json_string(key2)) != 0)
            abort();
        json_object_put(key2);
        free(again);
    }
    json_object_put(key);
    free(text);
    return 0;
}
