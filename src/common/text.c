/* text.c — UTF-8 checks, percent-encoding, RFC 3339 timestamps and UUIDs for the worker.
 * UUIDs use OpenSSL's RAND_bytes because generated cloneIDs must not be guessable or collide. */
#include "config.h"

#include "text.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

size_t text_utf8_sequence_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else
        return 0;
    if (avail < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

int text_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = text_utf8_sequence_length(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

int text_utf8_sanitize(const char *s, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        size_t n;
        while (i < len && (n = text_utf8_sequence_length(p + i, len - i)) != 0)
            i += n;
        if (i > start && buf_append(out, s + start, i - start) != 0)
            return -1;
        if (i < len) {
            if (buf_append(out, "\xEF\xBF\xBD", 3) != 0)
                return -1;
            i++;
        }
    }
    return 0;
}

/* Append the escaped form of s[0..len), known to hold no ill-formed UTF-8 (or not to care). */
static int json_escaped(const char *s, size_t len, struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (buf_append(out, s + run, i - run) != 0)
            return -1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default: n = 6; /* \u00XX */
        }
        if (buf_append(out, esc, n) != 0)
            return -1;
        run = i + 1;
    }
    return buf_append(out, s + run, len - run);
}

int text_json_string(const char *s, size_t len, int sanitize, struct buf *out)
{
    if (buf_append(out, "\"", 1) != 0)
        return -1;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t start = i, n;
        if (sanitize)
            while (i < len && (n = text_utf8_sequence_length(p + i, len - i)) != 0)
                i += n;
        else
            i = len;
        if (json_escaped(s + start, i - start, out) != 0)
            return -1;
        if (i < len) {
            if (buf_append(out, "\xEF\xBF\xBD", 3) != 0)
                return -1;
            i++;
        }
    }
    return buf_append(out, "\"", 1);
}

int text_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int text_percent_decode(const char *s, size_t len, int plus_is_space, struct buf *out)
{
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && s[run] != '%' && !(plus_is_space && s[run] == '+'))
            run++;
        if (run > i && buf_append(out, s + i, run - i) != 0)
            return TEXT_NO_MEMORY;
        i = run;
        if (i >= len)
            break;
        char c;
        if (s[i] == '+') {
            c = ' ';
            i++;
        } else {
            if (len - i < 3)
                return -1;
            int h = text_hex_value(s[i + 1]), l = text_hex_value(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (char)(h * 16 + l);
            i += 3;
        }
        if (buf_append(out, &c, 1) != 0)
            return TEXT_NO_MEMORY;
    }
    return 0;
}

int text_percent_encode(const char *s, size_t len, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                         c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            if (buf_append(out, s + i, 1) != 0)
                return -1;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (buf_append(out, e, 3) != 0)
                return -1;
        }
    }
    return 0;
}

int text_now_rfc3339(char out[25])
{
    struct timespec ts;
    struct tm tm;
    out[0] = '\0';
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm))
        return -1;
    int n = snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
    if (n != 24) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int text_uuid4(char out[37])
{
    unsigned char b[16];
    out[0] = '\0';
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    int n = snprintf(out, 37,
                     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                     b[13], b[14], b[15]);
    return n == 36 ? 0 : -1;
}

void text_set_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n < 0)
        err[0] = '\0';
}
