/* rate_table.h — usage plans' rate and burst (nginx's limit_req, nodelay) counted for every process on the box.
 * gateway = worker needs it because CGI processes live for one request: the counts live in a shared file.
 *
 * The file is STATE_DIR/rate-table, a fixed RATE_TABLE_BYTES long (about 400 KB), mode 0660: readable and
 * writable by its owner and group only (the workers' user: the pool's, or Apache's for CGI and mod_fcgid),
 * since a client's request counts are its usage. It is made whole in a temporary file and linked into place,
 * so a process never maps a half-made table; it is never resized or rewritten, only updated in place under
 * the process-shared, robust mutex in its header (a process that dies holding it cannot block the others:
 * the next one takes the lock over). Delete it while no worker runs to start every count afresh; a file of
 * another layout (another version) is refused with a message saying so.
 *
 * Each slot is one client (the API key's name) with nginx's two numbers: `excess`, the requests above the
 * rate still in the bucket (in thousandths), and the time of the last admitted request. A request adds one;
 * the bucket drains at the plan's rate; it is refused (429) when the excess would pass the burst. So, like
 * nginx, a burst of B admits B + 1 requests at once, then one per 1/rate seconds. Time is the wall clock in
 * milliseconds (shared by every process and meaningful after a restart); a clock that steps back counts as
 * no time passing. Clients are found by a hash and at most RATE_TABLE_PROBE neighbouring slots; when all
 * those are taken, a drained slot is reused, else the one closest to draining is forgotten (its client
 * starts afresh: the table errs towards admitting, and never grows). */
#ifndef CLONE_JOBS_RATE_TABLE_H
#define CLONE_JOBS_RATE_TABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_TABLE_FILE "rate-table"
#define RATE_TABLE_MAGIC "CJRATE01"
#define RATE_TABLE_SLOTS 4096
#define RATE_TABLE_PROBE 32
#define RATE_TABLE_CLIENT_MAX 72   /* a key name (at most 64) and its NUL, rounded up */

/* The file's layout, exactly (the same build on one box reads it; the magic names the layout's version). */
struct rate_table_slot {
    char client[RATE_TABLE_CLIENT_MAX]; /* "" : free */
    int64_t excess_milli;              /* nginx's excess, in thousandths of a request */
    int64_t last_ms;                   /* wall clock of the last admitted request */
    int64_t drained_ms;                /* when excess reaches 0 at the last rate seen: free again after it */
};

struct rate_table_header {
    char magic[8];
    uint32_t slots;
    uint32_t slot_bytes;
    pthread_mutex_t lock;              /* process-shared, robust */
    char reserved[128 - 16 - sizeof(pthread_mutex_t) % 128];
};

#define RATE_TABLE_BYTES (sizeof(struct rate_table_header) + RATE_TABLE_SLOTS * sizeof(struct rate_table_slot))

struct rate_table;

/* Map DIR/rate-table, making it when missing (DIR must exist and be writable then). Returns the table, or
 * NULL with err ("state_dir /var/lib/clone-jobs: ...", a file of another layout, out of memory). */
struct rate_table *rate_table_open(const char *dir, char *err, size_t errlen);
void rate_table_close(struct rate_table *t);

enum rate_verdict {
    RATE_ADMIT,   /* counted: serve it */
    RATE_LIMITED, /* over rate and burst: 429 Too Many Requests (not counted) */
    RATE_BUSY,    /* the table's lock was not had within a second (a stopped process?): 503 */
};

/* One request of client under a plan of rate requests/second (>= 1) and burst (>= 0), at now_ms (the
 * wall clock in ms; the tests pass their own). Safe from any thread of any process. */
enum rate_verdict rate_table_take(struct rate_table *t, const char *client, long rate, long burst, int64_t now_ms);

/* The wall clock in milliseconds. */
int64_t rate_table_now_ms(void);

#endif
