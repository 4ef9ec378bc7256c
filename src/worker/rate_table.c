/* rate_table.c — the plans' rate and burst counters in one memory-mapped file shared by every process on the box.
 * Why a file: CGI processes live for one request, so the counts must outlive them (layout in rate_table.h). */
#include "config.h"

#include "rate_table.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct rate_table_header) == 128, "the header is 128 bytes");
_Static_assert(sizeof(struct rate_table_slot) == 96, "a slot is 96 bytes");

/* How long a request waits for the lock before it is answered 503: only a stopped process holds it longer. */
#define LOCK_WAIT_MS 1000

struct rate_table {
    struct rate_table_header *header;
    struct rate_table_slot *slots;
};

int64_t rate_table_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int layout_ok(const struct rate_table_header *h)
{
    return memcmp(h->magic, RATE_TABLE_MAGIC, sizeof h->magic) == 0 && h->slots == RATE_TABLE_SLOTS &&
           h->slot_bytes == sizeof(struct rate_table_slot);
}

/* Make a complete table in a temporary file of dir and link it to path. Returns 0 (made, or another
 * process made it first), or -1 with err. */
static int create_table(const char *dir, const char *path, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, RATE_TABLE_FILE) >= (int)sizeof tmp) {
        snprintf(err, errlen, "state_dir %s: path too long", dir);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "state_dir %s: cannot create the rate table: %s", dir, strerror(errno));
        return -1;
    }
    const char *step = "fchmod";
    void *map = MAP_FAILED;
    pthread_mutexattr_t attr;
    int attr_made = 0;
    /* 0660 whatever the umask: the workers' user and group only (see rate_table.h). */
    if (fchmod(fd, 0660) != 0)
        goto fail;
    /* Made by root (a check by hand, a test): the directory's owner gets it, so the workers can open it. */
    step = "fchown";
    struct stat dir_st;
    if (geteuid() == 0 && (stat(dir, &dir_st) != 0 || fchown(fd, dir_st.st_uid, dir_st.st_gid) != 0))
        goto fail;
    step = "ftruncate";
    if (ftruncate(fd, (off_t)RATE_TABLE_BYTES) != 0)
        goto fail;
    step = "mmap";
    map = mmap(NULL, RATE_TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        goto fail;
    struct rate_table_header *h = map;
    memcpy(h->magic, RATE_TABLE_MAGIC, sizeof h->magic);
    h->slots = RATE_TABLE_SLOTS;
    h->slot_bytes = sizeof(struct rate_table_slot);
    step = "pthread_mutexattr";
    int rc = pthread_mutexattr_init(&attr);
    attr_made = rc == 0;
    if (rc == 0)
        rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&h->lock, &attr);
    if (rc != 0) {
        errno = rc;
        goto fail;
    }
    pthread_mutexattr_destroy(&attr);
    attr_made = 0;
    step = "msync";
    if (msync(map, RATE_TABLE_BYTES, MS_SYNC) != 0)
        goto fail;
    munmap(map, RATE_TABLE_BYTES);
    map = MAP_FAILED;
    step = "close";
    int closed = close(fd);
    fd = -1;
    if (closed != 0)
        goto fail;
    /* link, not rename: when two processes race, the first table stays and every process maps that one. */
    step = "link";
    if (link(tmp, path) != 0 && errno != EEXIST)
        goto fail;
    unlink(tmp);
    return 0;
fail:
    snprintf(err, errlen, "state_dir %s: cannot create the rate table (%s: %s)", dir, step, strerror(errno));
    if (attr_made)
        pthread_mutexattr_destroy(&attr);
    if (map != MAP_FAILED)
        munmap(map, RATE_TABLE_BYTES);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

struct rate_table *rate_table_open(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, RATE_TABLE_FILE) >= (int)sizeof path) {
        snprintf(err, errlen, "state_dir %s: path too long", dir);
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        if (create_table(dir, path, err, errlen) != 0)
            return NULL;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s (state_dir must be writable by the workers' user)", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != (off_t)RATE_TABLE_BYTES) {
        snprintf(err, errlen, "%s: not a rate table of this version (%lld bytes; delete it while no worker runs)",
                 path, (long long)st.st_size);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, RATE_TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int saved = errno;
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap: %s", path, strerror(saved));
        return NULL;
    }
    struct rate_table *t = malloc(sizeof *t);
    if (!t || !layout_ok(map)) {
        if (t)
            snprintf(err, errlen, "%s: not a rate table of this version (delete it while no worker runs)", path);
        else
            snprintf(err, errlen, "out of memory");
        free(t);
        munmap(map, RATE_TABLE_BYTES);
        return NULL;
    }
    t->header = map;
    t->slots = (struct rate_table_slot *)((char *)map + sizeof(struct rate_table_header));
    return t;
}

void rate_table_close(struct rate_table *t)
{
    if (!t)
        return;
    munmap(t->header, RATE_TABLE_BYTES);
    free(t);
}

/* FNV-1a: spreads key names over the slots; nothing secret depends on it. */
static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static int lock_table(struct rate_table *t)
{
    /* Uncontended (nearly always: the lock is held for a few hundred nanoseconds) this is one atomic operation;
     * a lock left by a dead process shows here too (ThreadSanitizer follows EOWNERDEAD through trylock). */
    int rc = pthread_mutex_trylock(&t->header->lock);
    if (rc == EBUSY) {
        struct timespec deadline;
        if (clock_gettime(CLOCK_REALTIME, &deadline) != 0)
            return -1;
        deadline.tv_sec += LOCK_WAIT_MS / 1000;
        rc = pthread_mutex_timedlock(&t->header->lock, &deadline);
    }
    if (rc == EOWNERDEAD) {
        /* A process died holding the lock, at worst half way through one slot's update: its numbers are
         * clamped when next read, so the table is usable as it is. */
        rc = pthread_mutex_consistent(&t->header->lock);
    }
    return rc == 0 ? 0 : -1;
}

/* The slot of client, else one to take for it: a free one, a drained one, or the one closest to draining.
 * Slots are never emptied (only taken over), so a client's slot is never past the first free one. */
static struct rate_table_slot *find_slot(struct rate_table *t, const char *client, int64_t now_ms, int *fresh)
{
    size_t start = (size_t)(hash_name(client) % RATE_TABLE_SLOTS);
    struct rate_table_slot *drained = NULL, *soonest = NULL;
    *fresh = 1;
    for (size_t i = 0; i < RATE_TABLE_PROBE; i++) {
        struct rate_table_slot *s = &t->slots[(start + i) % RATE_TABLE_SLOTS];
        if (s->client[0] == '\0')
            return s;
        if (strncmp(s->client, client, RATE_TABLE_CLIENT_MAX) == 0) {
            *fresh = 0;
            return s;
        }
        /* A drained slot is as good as a free one: forgetting it changes no answer. */
        if (!drained && s->drained_ms <= now_ms)
            drained = s;
        if (!soonest || s->drained_ms < soonest->drained_ms)
            soonest = s;
    }
    return drained ? drained : soonest;
}

enum rate_verdict rate_table_take(struct rate_table *t, const char *client, long rate, long burst, int64_t now_ms)
{
    if (rate < 1)
        rate = 1;
    if (burst < 0)
        burst = 0;
    if (strlen(client) >= RATE_TABLE_CLIENT_MAX)
        return RATE_BUSY; /* cannot happen with the key store's names; refuse rather than mix clients */
    if (lock_table(t) != 0)
        return RATE_BUSY;
    int fresh;
    struct rate_table_slot *s = find_slot(t, client, now_ms, &fresh);
    int64_t excess = 0; /* nginx: a client's first request leaves the bucket at 0 */
    if (!fresh) {
        int64_t elapsed = now_ms - s->last_ms;
        if (elapsed < 0) {
            /* The clock stepped back: no time passed, and draining goes on from the new now (else the
             * client would wait for the old time to come round again). */
            s->last_ms = now_ms;
            elapsed = 0;
        }
        int64_t before = s->excess_milli < 0 ? 0 : s->excess_milli;
        /* rate r/s drains r thousandths per millisecond; both bounded (rate <= 10^6, elapsed capped). */
        if (elapsed > INT64_C(1) << 32)
            elapsed = INT64_C(1) << 32;
        excess = before - (int64_t)rate * elapsed + 1000;
        if (excess < 0)
            excess = 0;
        if (excess > (int64_t)burst * 1000) {
            pthread_mutex_unlock(&t->header->lock);
            return RATE_LIMITED;
        }
    }
    if (fresh)
        snprintf(s->client, sizeof s->client, "%s", client);
    s->excess_milli = excess;
    s->last_ms = now_ms;
    s->drained_ms = now_ms + (excess + rate - 1) / rate;
    pthread_mutex_unlock(&t->header->lock);
    return RATE_ADMIT;
}
