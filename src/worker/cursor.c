/* cursor.c — pagination cursors: base64url(payload) "." base64url(HMAC-SHA256 tag), payload a small JSON.
 * The payload names the table and the status filter, so a cursor only resumes the listing that made it. */
#include "config.h"

#include "cursor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_input.h"
#include "json_output.h"

#define CURSOR_DOMAIN "clone-jobs-cursor-v1\n"
#define TAG_LEN 32
#define PAYLOAD_MAX_DEPTH 8

static int tag_of(const struct cursor_scope *scope, const char *payload, size_t len,
                  unsigned char tag[TAG_LEN])
{
    size_t dlen = sizeof CURSOR_DOMAIN - 1;
    unsigned char *msg = malloc(dlen + len);
    if (!msg)
        return -1;
    memcpy(msg, CURSOR_DOMAIN, dlen);
    memcpy(msg + dlen, payload, len);
    unsigned int out_len = 0;
    unsigned char *r = HMAC(EVP_sha256(), scope->secret, (int)scope->secret_len, msg, dlen + len, tag,
                            &out_len);
    free(msg);
    return r && out_len == TAG_LEN ? 0 : -1;
}

/* base64url without padding, appended at out (which has room for 4*ceil(len/3)+1 bytes). */
static size_t b64url_encode(const unsigned char *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    if (n < 0)
        return 0;
    size_t m = (size_t)n;
    while (m && out[m - 1] == '=')
        m--;
    for (size_t i = 0; i < m; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[m] = '\0';
    return m;
}

/* Decode base64url (no padding) of in[0..len) into a new buffer; -1 on any character outside the alphabet,
 * CURSOR_NO_MEMORY when out of memory. */
static int b64url_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    if (len % 4 == 1)
        return -1;
    size_t padded = (len + 3) / 4 * 4;
    char *tmp = malloc(padded + 1);
    unsigned char *bin = malloc(padded / 4 * 3 + 1);
    if (!tmp || !bin) {
        free(tmp);
        free(bin);
        return CURSOR_NO_MEMORY;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            free(tmp);
            free(bin);
            return -1;
        }
        tmp[i] = c;
    }
    for (size_t i = len; i < padded; i++)
        tmp[i] = '=';
    tmp[padded] = '\0';
    int n = padded ? EVP_DecodeBlock(bin, (unsigned char *)tmp, (int)padded) : 0;
    free(tmp);
    if (n < 0) {
        free(bin);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    *out_len = (size_t)n - (padded - len);
    *out = bin;
    return 0;
}

static json_object *payload_of(const struct cursor_scope *scope, json_object *start_key)
{
    json_object *p = json_object_new_object();
    json_object *t = json_object_new_string(scope->table);
    json_object *s = scope->status ? json_object_new_string(scope->status) : NULL;
    int ok = p && t && (!scope->status || s);
    if (ok && json_object_object_add(p, "t", t) == 0)
        t = NULL;
    else
        ok = 0;
    if (ok && json_object_object_add(p, "s", s) == 0)
        s = NULL;
    else
        ok = 0;
    if (ok && json_object_object_add(p, "k", json_object_get(start_key)) != 0) {
        json_object_put(start_key);
        ok = 0;
    }
    json_object_put(t);
    json_object_put(s);
    if (!ok) {
        json_object_put(p);
        return NULL;
    }
    return p;
}

char *cursor_encode(const struct cursor_scope *scope, json_object *start_key)
{
    json_object *p = payload_of(scope, start_key);
    if (!p)
        return NULL;
    struct buf json;
    buf_init(&json, CURSOR_MAX_TEXT);
    int written = json_output(p, &json) == 0;
    const char *text = json.data;
    size_t len = json.len;
    unsigned char tag[TAG_LEN];
    char *out = NULL;
    if (written && tag_of(scope, text, len, tag) == 0) {
        size_t cap = (len + 2) / 3 * 4 + 1 + (TAG_LEN + 2) / 3 * 4 + 2;
        out = malloc(cap);
        if (out) {
            size_t n = b64url_encode((const unsigned char *)text, len, out);
            out[n++] = '.';
            b64url_encode(tag, TAG_LEN, out + n);
        }
    }
    buf_free(&json);
    json_object_put(p);
    return out;
}

static int same_text(json_object *o, const char *want)
{
    if (!want)
        return o == NULL;
    return o && json_object_is_type(o, json_type_string) && strcmp(json_object_get_string(o), want) == 0;
}

int cursor_decode(const struct cursor_scope *scope, const char *text, json_object **start_key)
{
    *start_key = NULL;
    size_t len = strlen(text);
    const char *dot = strchr(text, '.');
    if (len == 0 || len > CURSOR_MAX_TEXT || !dot || strchr(dot + 1, '.'))
        return -1;
    unsigned char *payload = NULL, *tag = NULL;
    size_t payload_len = 0, tag_len = 0;
    unsigned char want[TAG_LEN];
    int rc = -1;
    json_object *p = NULL;
    if ((rc = b64url_decode(text, (size_t)(dot - text), &payload, &payload_len)) != 0 ||
        (rc = b64url_decode(dot + 1, len - (size_t)(dot - text) - 1, &tag, &tag_len)) != 0)
        goto done;
    rc = -1;
    if (tag_len != TAG_LEN)
        goto done;
    if (tag_of(scope, (const char *)payload, payload_len, want) != 0) {
        rc = CURSOR_NO_MEMORY; /* the HMAC could not be computed: not the cursor's fault */
        goto done;
    }
    if (CRYPTO_memcmp(tag, want, TAG_LEN) != 0)
        goto done;
    char err[128];
    int parsed = json_input_parse((const char *)payload, payload_len, PAYLOAD_MAX_DEPTH, &p, err, sizeof err);
    if (parsed == JSON_INPUT_NO_MEMORY) {
        rc = CURSOR_NO_MEMORY;
        goto done;
    }
    if (parsed != 0 || !p || !json_object_is_type(p, json_type_object))
        goto done;
    json_object *t = NULL, *s = NULL, *k = NULL;
    json_object_object_get_ex(p, "t", &t);
    json_object_object_get_ex(p, "s", &s);
    if (!same_text(t, scope->table) || !same_text(s, scope->status) ||
        !json_object_object_get_ex(p, "k", &k) || !json_object_is_type(k, json_type_object) ||
        json_object_object_length(k) == 0)
        goto done;
    *start_key = json_object_get(k);
    rc = 0;
done:
    json_object_put(p);
    free(payload);
    free(tag);
    return rc;
}
