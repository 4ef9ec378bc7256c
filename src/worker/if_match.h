/* if_match.h — entity tags: the ETag of an item version ("3") and the If-Match header that guards writes.
 * Pure functions: parsing and matching need no request, no store and no reply. */
#ifndef CLONE_JOBS_IF_MATCH_H
#define CLONE_JOBS_IF_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* If-Match: "*", or a list of entity tags ("3", W/"3"). */
#define IF_MATCH_MAX_TAGS 32
struct if_match {
    int present;
    int any;
    size_t count;
    char tags[IF_MATCH_MAX_TAGS][24]; /* the opaque parts; longer ones can never match and are dropped */
};

/* Parse an If-Match header value (NULL: absent, present = 0). Returns 0, or -1 when malformed. */
int if_match_parse(const char *value, struct if_match *im);
/* Does it hold for an item that exists (or not) with this version? */
int if_match_holds(const struct if_match *im, int exists, int64_t version);
/* The version an entity tag names, or -1 when it names none this service could have made. */
int64_t if_match_tag_version(const char *tag);
/* Set the response's ETag to the quoted version. Returns 0, or -1 when out of memory. */
int etag_set(struct http_response *resp, int64_t version);

#endif
