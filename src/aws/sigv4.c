/* sigv4.c — AWS Signature Version 4 header signing: canonical request, string to sign, signature.
 * Follows botocore's SigV4Auth, the reference AWS accepts; proven on the AWS suite and against botocore. */
#include "config.h"

#include "sigv4.h"

#include "buf.h"
#include "text.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SHA256_LEN 32
/* The canonical request never holds the body, only its hash: 1 MiB is far past any real request and
 * keeps a hostile path or header list from making the signer allocate without bound. */
#define SIGV4_MAX_CANONICAL ((size_t)1 << 20)

/* Room for the headers the signer adds itself: X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-Sha256. */
#define SIGNER_HEADER_SLOTS 3

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static void to_hex(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_lower[in[i] >> 4];
        out[2 * i + 1] = hex_lower[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* The blanks Python's str.split() drops among ASCII: botocore trims and collapses with it. */
static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_visible_ascii(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* Non-empty, visible ASCII only, and none of the bytes in `forbidden`: the rule for every word that is
 * copied into the signed text or a header verbatim, where a blank or newline would change its meaning. */
static int is_plain_word(const char *s, const char *forbidden)
{
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_visible_ascii(*p) || strchr(forbidden, *p))
            return 0;
    return 1;
}

static int is_amz_date(const char *s)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

/* How the encoder treats a "%XX" already in its input. */
enum percent_input {
    PERCENT_IS_DATA,   /* '%' is a byte like any other: becomes "%25" (the non-S3 path's second encoding) */
    PERCENT_IS_ESCAPE, /* "%XX" is decoded first, so an encoded and a raw input give one canonical form */
};

/* URI-encode s the SigV4 way: unreserved bytes stay, every other byte becomes %XX in uppercase. A literal
 * '/' stays when keep_slash; a decoded "%2F" never does, since it was data, not a separator. */
static int append_uri_encoded(struct buf *b, const char *s, size_t len, int keep_slash,
                              enum percent_input percent)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int separator = keep_slash && c == '/';
        if (percent == PERCENT_IS_ESCAPE && c == '%' && len - i >= 3) {
            int high = text_hex_value(s[i + 1]), low = text_hex_value(s[i + 2]);
            if (high >= 0 && low >= 0) {
                c = (unsigned char)(high << 4 | low);
                i += 2;
            }
        }
        if (is_unreserved(c) || separator) {
            if (buf_append(b, &c, 1) != 0)
                return -1;
        } else {
            char escaped[3] = {'%', hex_upper[c >> 4], hex_upper[c & 0x0f]};
            if (buf_append(b, escaped, sizeof escaped) != 0)
                return -1;
        }
    }
    return 0;
}

struct path_segment {
    const char *start;
    size_t len;
};

/* Remove dot segments and empty segments as botocore's remove_dot_segments does (AWS wants "//" gone
 * too), then encode the path as sent once more: non-S3 services sign the encoded path encoded again. */
static int append_normalized_path(struct buf *b, const char *path)
{
    size_t len = strlen(path);
    size_t max_segments = 1;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            max_segments++;
    struct path_segment *kept = calloc(max_segments, sizeof *kept);
    if (!kept)
        return -1;
    size_t depth = 0;
    const char *p = path, *end = path + len;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *segment_end = slash ? slash : end;
        size_t segment_len = (size_t)(segment_end - p);
        if (segment_len == 2 && p[0] == '.' && p[1] == '.') {
            if (depth > 0)
                depth--;
        } else if (segment_len > 0 && !(segment_len == 1 && p[0] == '.')) {
            kept[depth].start = p;
            kept[depth].len = segment_len;
            depth++;
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    int rc = 0;
    if (path[0] == '/')
        rc = buf_append(b, "/", 1);
    for (size_t i = 0; rc == 0 && i < depth; i++) {
        if (i > 0)
            rc = buf_append(b, "/", 1);
        if (rc == 0)
            rc = append_uri_encoded(b, kept[i].start, kept[i].len, 0, PERCENT_IS_DATA);
    }
    /* A trailing slash survives only when something is left before it: "/a/.." is "/", not "//". */
    if (rc == 0 && path[len - 1] == '/' && depth > 0)
        rc = buf_append(b, "/", 1);
    free(kept);
    return rc;
}

static int append_canonical_path(struct buf *b, const char *path, int normalize)
{
    if (!path || !*path)
        return buf_append(b, "/", 1);
    if (normalize)
        return append_normalized_path(b, path);
    return append_uri_encoded(b, path, strlen(path), 1, PERCENT_IS_ESCAPE);
}

struct query_param {
    char *name;  /* encoded */
    char *value; /* encoded */
};

/* Sort by encoded name, then by encoded value for repeated names. Names are compared on their own:
 * comparing "name=value" strings would put "Param-3" before "Param" ('-' < '='). */
static int compare_query_params(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int by_name = strcmp(x->name, y->name);
    return by_name ? by_name : strcmp(x->value, y->value);
}

static char *encode_query_part(const char *s, size_t len)
{
    struct buf b;
    buf_init(&b, SIGV4_MAX_CANONICAL);
    if (append_uri_encoded(&b, s, len, 0, PERCENT_IS_ESCAPE) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* Every '&'-separated piece is one parameter, empty ones included, as botocore splits it. botocore signs
 * names and values exactly as sent; decoding and encoding them gives the same for any query encoded the
 * SigV4 way (uppercase hex, no raw '+') and the right form for a raw one ("a b", UTF-8). */
static int append_canonical_query(struct buf *b, const char *query)
{
    if (!query || !*query)
        return 0;
    size_t count = 1;
    for (const char *p = query; *p; p++)
        if (*p == '&')
            count++;
    struct query_param *params = calloc(count, sizeof *params);
    if (!params)
        return -1;
    int rc = 0;
    const char *p = query;
    for (size_t i = 0; i < count; i++) {
        const char *amp = strchr(p, '&');
        size_t piece_len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', piece_len);
        size_t name_len = eq ? (size_t)(eq - p) : piece_len;
        params[i].name = encode_query_part(p, name_len);
        params[i].value = eq ? encode_query_part(eq + 1, piece_len - name_len - 1) : encode_query_part("", 0);
        if (!params[i].name || !params[i].value) {
            rc = -1;
            break;
        }
        p = amp ? amp + 1 : p + piece_len;
    }
    if (rc == 0) {
        qsort(params, count, sizeof *params, compare_query_params);
        for (size_t i = 0; rc == 0 && i < count; i++)
            rc = buf_printf(b, "%s%s=%s", i ? "&" : "", params[i].name, params[i].value);
    }
    for (size_t i = 0; i < count; i++) {
        free(params[i].name);
        free(params[i].value);
    }
    free(params);
    return rc;
}

struct canonical_header {
    char *name;   /* lowercase, trimmed */
    char *value;  /* trimmed, blanks collapsed */
    size_t order; /* position in the request, so repeated headers join in the order they were sent */
};

static int compare_canonical_headers(const void *a, const void *b)
{
    const struct canonical_header *x = a, *y = b;
    int by_name = strcmp(x->name, y->name);
    if (by_name)
        return by_name;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Lowercase and trim; NULL when the name is empty or holds a byte that is not a header-name byte. */
static char *canonical_header_name(const char *name)
{
    size_t start = 0, end = strlen(name);
    while (start < end && is_blank((unsigned char)name[start]))
        start++;
    while (end > start && is_blank((unsigned char)name[end - 1]))
        end--;
    if (start == end)
        return NULL;
    char *out = malloc(end - start + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!is_visible_ascii(c) || c == ':') {
            free(out);
            return NULL;
        }
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[n] = '\0';
    return out;
}

/* Trim and collapse every run of blanks (folded lines included) to one space, as botocore's
 * ' '.join(value.split()) does. */
static char *canonical_header_value(const char *value)
{
    char *out = malloc(strlen(value) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    int blank_pending = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (is_blank(*p)) {
            blank_pending = n > 0;
            continue;
        }
        if (blank_pending)
            out[n++] = ' ';
        blank_pending = 0;
        out[n++] = (char)*p;
    }
    out[n] = '\0';
    return out;
}

struct header_list {
    struct canonical_header *items;
    size_t count;
};

static void header_list_free(struct header_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].value);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int header_list_add(struct header_list *list, const char *name, const char *value)
{
    struct canonical_header *h = &list->items[list->count];
    h->name = canonical_header_name(name);
    h->value = canonical_header_value(value);
    h->order = list->count;
    list->count++; /* counted even when half-built so header_list_free releases what was made */
    return h->name && h->value ? 0 : -1;
}

static int header_list_has(const struct header_list *list, const char *lowercase_name)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, lowercase_name) == 0)
            return 1;
    return 0;
}

/* What the signer adds: the values it signs and hands back to the caller as headers. */
struct signer_headers {
    const char *amz_date;
    const char *token;           /* NULL: none */
    int sign_token;              /* 0 with omit_session_token: sent, but not signed */
    const char *content_sha256;  /* NULL: not asked */
};

static int collect_headers(const struct sigv4_request *req, const struct signer_headers *own,
                           struct header_list *list)
{
    list->count = 0;
    list->items = NULL;
    if (req->header_count > (SIZE_MAX / sizeof *list->items) - SIGNER_HEADER_SLOTS)
        return -1;
    list->items = calloc(req->header_count + SIGNER_HEADER_SLOTS, sizeof *list->items);
    if (!list->items)
        return -1;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct sigv4_header *h = &req->headers[i];
        if (!h->name || header_list_add(list, h->name, h->value ? h->value : "") != 0)
            return -1;
    }
    /* A caller's copy of a header the signer adds would go out twice, and AWS rejects that. */
    if (!header_list_has(list, "host") || header_list_has(list, "authorization") ||
        header_list_has(list, "x-amz-date") || (own->token && header_list_has(list, "x-amz-security-token")) ||
        (own->content_sha256 && header_list_has(list, "x-amz-content-sha256")))
        return -1;
    if (header_list_add(list, "x-amz-date", own->amz_date) != 0)
        return -1;
    if (own->token && own->sign_token && header_list_add(list, "x-amz-security-token", own->token) != 0)
        return -1;
    if (own->content_sha256 && header_list_add(list, "x-amz-content-sha256", own->content_sha256) != 0)
        return -1;
    qsort(list->items, list->count, sizeof *list->items, compare_canonical_headers);
    return 0;
}

/* "name:v1,v2\n" per distinct name into canonical, "name;name2" into signed_names. */
static int append_headers(struct buf *canonical, struct buf *signed_names, const struct header_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct canonical_header *h = &list->items[i];
        int same_as_previous = i > 0 && strcmp(list->items[i - 1].name, h->name) == 0;
        int rc;
        if (same_as_previous) {
            rc = BUF_APPEND_STRS(canonical, ",", h->value);
        } else {
            rc = BUF_APPEND_STRS(canonical, i ? "\n" : "", h->name, ":", h->value);
            if (rc == 0)
                rc = BUF_APPEND_STRS(signed_names, i ? ";" : "", h->name);
        }
        if (rc != 0)
            return -1;
    }
    return buf_append(canonical, "\n", 1);
}

static int hmac_sha256(const void *key, size_t key_len, const char *msg, unsigned char out[SHA256_LEN])
{
    unsigned int out_len = 0;
    if (key_len > INT_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out, &out_len) ||
        out_len != SHA256_LEN)
        return -1;
    return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
static int derive_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                              unsigned char key[SHA256_LEN])
{
    struct buf seed;
    buf_init(&seed, 0);
    unsigned char k_date[SHA256_LEN], k_region[SHA256_LEN], k_service[SHA256_LEN];
    int rc = -1;
    if (buf_printf(&seed, "AWS4%s", secret) == 0 && hmac_sha256(seed.data, seed.len, date8, k_date) == 0 &&
        hmac_sha256(k_date, sizeof k_date, region, k_region) == 0 &&
        hmac_sha256(k_region, sizeof k_region, service, k_service) == 0 &&
        hmac_sha256(k_service, sizeof k_service, "aws4_request", key) == 0)
        rc = 0;
    /* Secrets and keys derived from them do not outlive the call in freed memory or on the stack. */
    if (seed.data)
        OPENSSL_cleanse(seed.data, seed.cap);
    buf_free(&seed);
    OPENSSL_cleanse(k_date, sizeof k_date);
    OPENSSL_cleanse(k_region, sizeof k_region);
    OPENSSL_cleanse(k_service, sizeof k_service);
    return rc;
}

/* The signing key from the cache when it is the one for this request, else derived (and cached). */
static int signing_key_for(const struct sigv4_credentials *creds, const struct sigv4_params *params,
                           const char *date8, unsigned char key[SHA256_LEN])
{
    struct sigv4_key_cache *c = params->key_cache;
    if (c && c->valid && strcmp(c->date8, date8) == 0 && strcmp(c->region, params->region) == 0 &&
        strcmp(c->service, params->service) == 0 && strcmp(c->access_key_id, creds->access_key_id) == 0) {
        memcpy(key, c->key, SHA256_LEN);
        return 0;
    }
    if (derive_signing_key(creds->secret_access_key, date8, params->region, params->service, key) != 0)
        return -1;
    if (c && strlen(params->region) < sizeof c->region && strlen(params->service) < sizeof c->service &&
        strlen(creds->access_key_id) < sizeof c->access_key_id) {
        memcpy(c->date8, date8, sizeof c->date8);
        strcpy(c->region, params->region);
        strcpy(c->service, params->service);
        strcpy(c->access_key_id, creds->access_key_id);
        memcpy(c->key, key, SHA256_LEN);
        c->valid = 1;
    }
    return 0;
}

static int valid_inputs(const struct sigv4_request *req, const struct sigv4_credentials *creds,
                        const struct sigv4_params *params)
{
    if (!req || !creds || !params)
        return 0;
    if (!is_plain_word(req->method, "") || (req->header_count > 0 && !req->headers) ||
        (!req->body && req->body_len > 0))
        return 0;
    if (!is_plain_word(creds->access_key_id, "/,") || !creds->secret_access_key ||
        !*creds->secret_access_key)
        return 0;
    if (creds->session_token && *creds->session_token && !is_plain_word(creds->session_token, ""))
        return 0;
    return is_plain_word(params->region, "/") && is_plain_word(params->service, "/") &&
           is_amz_date(params->amz_date);
}

static char *header_line(const char *name, const char *value)
{
    struct buf b;
    buf_init(&b, 0);
    if (BUF_APPEND_STRS(&b, name, ": ", value) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds,
               const struct sigv4_params *params, struct sigv4_result *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!valid_inputs(req, creds, params))
        return -1;

    int rc = -1;
    struct buf canonical, signed_names, to_sign, authorization;
    buf_init(&canonical, SIGV4_MAX_CANONICAL);
    buf_init(&signed_names, SIGV4_MAX_CANONICAL);
    buf_init(&to_sign, 0);
    buf_init(&authorization, 0);
    struct header_list headers = {NULL, 0};
    unsigned char signing_key[SHA256_LEN], mac[SHA256_LEN];
    char payload_hash[65], canonical_hash[65], date8[9];
    memcpy(date8, params->amz_date, 8);
    date8[8] = '\0';

    const char *token = creds->session_token && *creds->session_token ? creds->session_token : NULL;
    if (sigv4_sha256_hex(req->body, req->body_len, payload_hash) != 0)
        goto done;
    const struct signer_headers own = {
        .amz_date = params->amz_date,
        .token = token,
        .sign_token = !params->omit_session_token,
        .content_sha256 = params->sign_body_header ? payload_hash : NULL,
    };
    if (collect_headers(req, &own, &headers) != 0)
        goto done;

    if (BUF_APPEND_STRS(&canonical, req->method, "\n") != 0 ||
        append_canonical_path(&canonical, req->path, params->normalize_path) != 0 ||
        buf_append(&canonical, "\n", 1) != 0 || append_canonical_query(&canonical, req->query) != 0 ||
        buf_append(&canonical, "\n", 1) != 0 || append_headers(&canonical, &signed_names, &headers) != 0 ||
        BUF_APPEND_STRS(&canonical, "\n", signed_names.data, "\n", payload_hash) != 0)
        goto done;

    if (sigv4_sha256_hex(canonical.data, canonical.len, canonical_hash) != 0 ||
        BUF_APPEND_STRS(&to_sign, SIGV4_ALGORITHM "\n", params->amz_date, "\n", date8, "/", params->region, "/",
                        params->service, "/aws4_request\n", canonical_hash) != 0)
        goto done;

    if (signing_key_for(creds, params, date8, signing_key) != 0 ||
        hmac_sha256(signing_key, sizeof signing_key, to_sign.data, mac) != 0)
        goto done;
    to_hex(mac, sizeof mac, out->signature);

    if (BUF_APPEND_STRS(&authorization, SIGV4_ALGORITHM " Credential=", creds->access_key_id, "/", date8, "/",
                        params->region, "/", params->service, "/aws4_request, SignedHeaders=", signed_names.data,
                        ", Signature=", out->signature) != 0)
        goto done;

    out->extra_headers[out->extra_header_count++] = header_line("X-Amz-Date", params->amz_date);
    if (token)
        out->extra_headers[out->extra_header_count++] = header_line("X-Amz-Security-Token", token);
    if (params->sign_body_header)
        out->extra_headers[out->extra_header_count++] = header_line("X-Amz-Content-Sha256", payload_hash);
    for (size_t i = 0; i < out->extra_header_count; i++)
        if (!out->extra_headers[i])
            goto done;

    out->canonical_request = buf_steal(&canonical);
    out->string_to_sign = buf_steal(&to_sign);
    out->authorization = buf_steal(&authorization);
    if (out->canonical_request && out->string_to_sign && out->authorization)
        rc = 0;

done:
    OPENSSL_cleanse(signing_key, sizeof signing_key);
    header_list_free(&headers);
    buf_free(&canonical);
    buf_free(&signed_names);
    buf_free(&to_sign);
    buf_free(&authorization);
    if (rc != 0)
        sigv4_result_free(out);
    return rc;
}

void sigv4_result_free(struct sigv4_result *r)
{
    if (!r)
        return;
    free(r->canonical_request);
    free(r->string_to_sign);
    free(r->authorization);
    for (size_t i = 0; i < r->extra_header_count && i < SIGNER_HEADER_SLOTS; i++)
        free(r->extra_headers[i]);
    memset(r, 0, sizeof *r);
}

int sigv4_format_date(long long unix_seconds, char out[17])
{
    out[0] = '\0';
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    if ((long long)t != unix_seconds || !gmtime_r(&t, &tm))
        return -1;
    /* Years below 1000 or above 9999 would not fill exactly four digits. */
    if (tm.tm_year < 1000 - 1900 || tm.tm_year > 9999 - 1900 ||
        strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    out[0] = '\0';
    if (!data && len > 0)
        return -1;
    if (EVP_Digest(data ? data : "", len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != SHA256_LEN)
        return -1;
    to_hex(md, SHA256_LEN, out);
    return 0;
}
