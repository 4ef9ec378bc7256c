/* sigv4.h — AWS Signature Version 4 (header signing) on OpenSSL's SHA-256 and HMAC.
 * Written here rather than using CURLOPT_AWS_SIGV4 because libcurl cannot sign for a given
 * timestamp, so it could not be checked against the official AWS test suite. */
#ifndef CLONE_JOBS_SIGV4_H
#define CLONE_JOBS_SIGV4_H

#include <stddef.h>

struct sigv4_header {
    const char *name;  /* any case; leading/trailing blanks are trimmed in the canonical form */
    const char *value; /* may hold folded lines ("a\n  b"): sequential blanks collapse to one space */
};

struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when none */
};

struct sigv4_request {
    const char *method;                /* "GET", "POST", ... */
    const char *path;                  /* as sent on the request line, before '?' (may hold raw UTF-8 or %XX);
                                        * see normalize_path for how it is encoded */
    const char *query;                 /* after '?', or NULL; each name and value is %XX-decoded, then encoded */
    const struct sigv4_header *headers; /* must include Host */
    size_t header_count;
    const void *body;
    size_t body_len;
};

/* The signing key depends only on the secret, the day, the region and the service: a client keeps one of
 * these so the four HMACs run once a day instead of once a request. Zero it to start (and whenever the
 * credentials change: it is matched on the access key id, not the secret). */
struct sigv4_key_cache {
    int valid;
    char date8[9];
    char region[64];
    char service[64];
    char access_key_id[128];
    unsigned char key[32];
};

struct sigv4_params {
    const char *region;
    const char *service;
    const char *amz_date;      /* "YYYYMMDDTHHMMSSZ" */
    int normalize_path;        /* 1 for every service but S3: remove dot segments, collapse "//", then
                                * encode the path as sent once more ("%20" signs as "%2520", as botocore and
                                * AWS do). 0 (S3): path kept as is, %XX decoded and encoded once. */
    int sign_body_header;      /* 1: add and sign x-amz-content-sha256 */
    int omit_session_token;    /* 1: the token header is added after signing (not signed) */
    struct sigv4_key_cache *key_cache; /* NULL: derive the signing key for this request only */
};

/* What signing produced; every string is owned by the struct (free with sigv4_result_free). */
struct sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char signature[65];        /* lowercase hex */
    char *authorization;       /* full value of the Authorization header */
    /* Headers the caller must add to the request, in this order, as "Name: value" lines:
     * X-Amz-Date, then X-Amz-Security-Token (when a token is set) and X-Amz-Content-Sha256 (when asked). */
    char *extra_headers[3];
    size_t extra_header_count;
};

/* Sign req. Returns 0, or -1 on out of memory or a malformed request: no Host header, bad amz_date,
 * a header the signer adds itself (Authorization, X-Amz-Date; X-Amz-Security-Token when a token is set,
 * X-Amz-Content-Sha256 when asked), a character that would break the signed text (a blank or control
 * character in a header name, the method, region, service, access key id or session token; ':' in a
 * header name; '/' in the region, service or access key id; ',' in the access key id), or a canonical
 * request over 1 MiB.
 * On -1 the result holds nothing that needs freeing. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds,
               const struct sigv4_params *params, struct sigv4_result *out);
void sigv4_result_free(struct sigv4_result *r);

/* Format t (UTC) as "YYYYMMDDTHHMMSSZ" into out[17]. Returns 0, or -1 (out = "") for a time outside
 * the years 1000 to 9999. */
int sigv4_format_date(long long unix_seconds, char out[17]);
/* Lowercase hex SHA-256 of data into out[65]. Returns 0, or -1 (out = "") if OpenSSL fails. */
int sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif
