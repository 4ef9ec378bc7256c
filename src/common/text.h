/* text.h — small text helpers the worker shares: UTF-8 checks, percent-encoding, timestamps, UUIDs.
 * Kept apart so the request parser, router, log and handlers agree on one definition of each. */
#ifndef CLONE_JOBS_TEXT_H
#define CLONE_JOBS_TEXT_H

#include <stddef.h>

#include "buf.h"

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int text_utf8_valid(const char *s, size_t len);
/* Length of the well-formed UTF-8 sequence at s (avail bytes left, at least 1), or 0 when ill-formed:
 * Unicode's table of well-formed sequences, so no overlong forms, no surrogates, nothing past U+10FFFF. */
size_t text_utf8_sequence_length(const unsigned char *s, size_t avail);

/* Append s[0..len) to out with every ill-formed byte replaced by U+FFFD, so logs stay valid JSON text.
 * Returns 0, or -1 when out is full. */
int text_utf8_sanitize(const char *s, size_t len, struct buf *out);

/* Append s[0..len) as a JSON string literal, quotes included: '"', '\\' and control characters escaped,
 * everything else as is. With sanitize, bytes that are not well-formed UTF-8 become U+FFFD (log lines of
 * what a client sent); without, the caller vouches for the text. Returns 0, or -1 when out is full. */
int text_json_string(const char *s, size_t len, int sanitize, struct buf *out);

/* The value of one hex digit (either case), or -1. */
int text_hex_value(char c);

/* What text_percent_decode returns when out cannot grow (no memory, or its limit). */
#define TEXT_NO_MEMORY (-2)

/* Decode %XX escapes (and '+' as a blank when plus_is_space) of s[0..len) into out.
 * Returns 0, -1 on a malformed escape ('%' not followed by two hex digits), or TEXT_NO_MEMORY. */
int text_percent_decode(const char *s, size_t len, int plus_is_space, struct buf *out);

/* Append s with every byte but the RFC 3986 unreserved ones percent-encoded (for a path segment). */
int text_percent_encode(const char *s, size_t len, struct buf *out);

/* printf into err[errlen] (nothing when err is NULL): the "or -1 with err" of this project's functions. A message
 * cut short is still useful; a failed format leaves an empty text, never stale text. */
__attribute__((format(printf, 3, 4))) void text_set_error(char *err, size_t errlen, const char *fmt, ...);

/* Now as RFC 3339 UTC with milliseconds, "2024-05-01T12:34:56.789Z", into out[25]. Returns 0 or -1. */
int text_now_rfc3339(char out[25]);

/* A random (version 4) UUID from OpenSSL's generator, lowercase, into out[37]. Returns 0 or -1. */
int text_uuid4(char out[37]);

#endif
