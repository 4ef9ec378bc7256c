/* credentials_cache.c — a mutex around one struct aws_credentials: threads copy it out, and renew it (IMDS,
 * files) under the lock, so N threads cost one IMDS round trip, not N. */
#include "config.h"

#include "credentials_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aws_credentials_cache {
    pthread_mutex_t lock;
    struct aws_settings settings;
    struct aws_credentials current;
};

struct aws_credentials_cache *aws_credentials_cache_new(const struct aws_settings *settings, char *err,
                                                        size_t errlen)
{
    struct aws_credentials_cache *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->settings = *settings;
    if (aws_credentials_resolve(&c->settings, &c->current, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    int rc = pthread_mutex_init(&c->lock, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_mutex_init failed (%d)", rc);
        memset(c, 0, sizeof *c);
        free(c);
        return NULL;
    }
    return c;
}

void aws_credentials_cache_free(struct aws_credentials_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    /* The secret lived here; do not leave it in freed memory. */
    memset(c, 0, sizeof *c);
    free(c);
}

int aws_credentials_cache_get(struct aws_credentials_cache *c, time_t now, int margin_s,
                              struct aws_credentials *out, char *err, size_t errlen)
{
    if (pthread_mutex_lock(&c->lock) != 0) {
        snprintf(err, errlen, "the credentials lock failed");
        return -1;
    }
    int rc = 0;
    if (aws_credentials_expiring(&c->current, now, margin_s)) {
        struct aws_credentials fresh;
        if (aws_credentials_resolve(&c->settings, &fresh, err, errlen) == 0)
            c->current = fresh;
        else if (c->current.expiration <= now)
            rc = -1; /* expired, and IMDS (or the files) could not give new ones */
        memset(&fresh, 0, sizeof fresh);
    }
    if (rc == 0)
        *out = c->current;
    pthread_mutex_unlock(&c->lock);
    return rc;
}
