/* if_match.c — parses If-Match (RFC 9110: "*" or a list of strong or weak tags) and matches item versions.
 * A version's ETag is its number in quotes, so a tag names a version exactly or names none. */
#include "config.h"

#include "if_match.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One entity tag at *p: W/"..." or "..."; advances *p. Returns 0, or -1 when malformed. */
static int read_tag(const char **p, struct if_match *im)
{
    const char *s = *p;
    if (s[0] == 'W' && s[1] == '/')
        s += 2;
    if (*s != '"')
        return -1;
    s++;
    const char *end = strchr(s, '"');
    if (!end)
        return -1;
    size_t len = (size_t)(end - s);
    for (const char *c = s; c < end; c++)
        if ((unsigned char)*c < 0x21 || *c == 0x7f)
            return -1;
    if (len < sizeof im->tags[0]) {
        if (im->count >= IF_MATCH_MAX_TAGS)
            return -1;
        memcpy(im->tags[im->count], s, len);
        im->tags[im->count][len] = '\0';
        im->count++;
    }
    *p = end + 1;
    return 0;
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int if_match_parse(const char *value, struct if_match *im)
{
    memset(im, 0, sizeof *im);
    if (!value)
        return 0;
    im->present = 1;
    const char *p = skip_blanks(value);
    if (*p == '*') {
        p = skip_blanks(p + 1);
        im->any = 1;
        return *p == '\0' ? 0 : -1;
    }
    for (;;) {
        if (read_tag(&p, im) != 0)
            return -1;
        p = skip_blanks(p);
        if (*p == '\0')
            return 0;
        if (*p != ',')
            return -1;
        p++;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
    }
}

int if_match_holds(const struct if_match *im, int exists, int64_t version)
{
    if (!im->present)
        return 1;
    if (!exists)
        return 0;
    if (im->any)
        return 1;
    char v[24];
    snprintf(v, sizeof v, "%" PRId64, version);
    for (size_t i = 0; i < im->count; i++)
        if (strcmp(im->tags[i], v) == 0)
            return 1;
    return 0;
}

int64_t if_match_tag_version(const char *tag)
{
    size_t n = strlen(tag);
    if (n == 0 || n > 18 || strspn(tag, "0123456789") != n || (n > 1 && tag[0] == '0'))
        return -1;
    return (int64_t)strtoll(tag, NULL, 10);
}

int etag_set(struct http_response *resp, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%" PRId64 "\"", version);
    return http_response_header(resp, "ETag", etag);
}
