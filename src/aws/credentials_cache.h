/* credentials_cache.h — one process's AWS credentials, shared by the DynamoDB clients of all its threads.
 * Resolved once at start; renewed by whichever thread first finds them near expiry, the others waiting. */
#ifndef CLONE_JOBS_CREDENTIALS_CACHE_H
#define CLONE_JOBS_CREDENTIALS_CACHE_H

#include <stddef.h>
#include <time.h>

#include "aws_config.h"

struct aws_credentials_cache;

/* Resolve credentials along the chain for settings now. Returns the cache, or NULL with err. */
struct aws_credentials_cache *aws_credentials_cache_new(const struct aws_settings *settings, char *err,
                                                        size_t errlen);
void aws_credentials_cache_free(struct aws_credentials_cache *c);

/* Copy the current credentials into *out, renewing them first when they expire within margin_s of now.
 * A failed renewal keeps the old ones while they last. Returns 0, or -1 with err when they have expired
 * and could not be renewed. Thread-safe. */
int aws_credentials_cache_get(struct aws_credentials_cache *c, time_t now, int margin_s,
                              struct aws_credentials *out, char *err, size_t errlen);

#endif
