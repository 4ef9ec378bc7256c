/* gateway_log.h — the gateway's own answers (403, 429, 413, 502, 504, preflights), which never reach a worker,
 * counted from nginx's JSON access log (the site's clone_jobs_json format) by the metrics listener.
 *
 * An answer is the gateway's own when nginx asked no worker (upstreamTime is empty) or when the worker failed
 * it (502, 504). Counted by route (routes.def pattern, or unmatched), method (GET ... OPTIONS, or OTHER) and
 * status. The log is read from where the previous read stopped, at most GATEWAY_LOG_READ_MAX bytes a time;
 * a file that appears later is read from its start, a renamed one (rotation, then nginx -s reopen) to its end and
 * the new one from its start; a file truncated in place (copytruncate) is read again from its start when it is
 * found shorter than what was read (lines written between the truncation and that read may be missed). Counting
 * starts at the end of the file as found when the listener starts.
 * Memory: GATEWAY_LOG_SERIES counters; answers past that many distinct series go to one "other" series. */
#ifndef CLONE_JOBS_GATEWAY_LOG_H
#define CLONE_JOBS_GATEWAY_LOG_H

#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define GATEWAY_LOG_SERIES 512
#define GATEWAY_LOG_LINE_MAX 16384
#define GATEWAY_LOG_READ_MAX (64u << 20)

struct gateway_series {
    int cell;          /* metrics_cell_* of the route, -1 for the overflow series */
    char method[8];
    int status;
    uint64_t count;
};

struct gateway_log {
    char path[512];
    const char *stage;
    int fd;
    dev_t dev;
    ino_t ino;
    off_t offset;
    int readable;      /* the last attempt could open and read the file */
    struct buf partial; /* the start of a line whose end is not written yet */
    int skipping;      /* the line under way is longer than GATEWAY_LOG_LINE_MAX: dropped up to its end */
    struct gateway_series series[GATEWAY_LOG_SERIES];
    int nseries;
    uint64_t lines;    /* lines read */
};

/* Start on path (the access_log key; "" : none), counting from its current end. stage: the routes' prefix. */
void gateway_log_open(struct gateway_log *g, const char *path, const char *stage);
void gateway_log_close(struct gateway_log *g);
/* Read what was appended since the last call and count it. */
void gateway_log_update(struct gateway_log *g);
/* Count one access log line (exposed for the tests of the format). */
void gateway_log_count_line(struct gateway_log *g, const char *line, size_t len);

#endif
