/* buf.h — a growable byte buffer with a hard size limit.
 * Every response body, request body and signed string passes through one; the limit keeps memory bounded. */
#ifndef CLONE_JOBS_BUF_H
#define CLONE_JOBS_BUF_H

#include <stddef.h>

struct buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t limit; /* 0 means no limit */
};

/* Start empty with the given limit (0: unlimited). Never fails. */
void buf_init(struct buf *b, size_t limit);
/* Append bytes; returns 0, or -1 when out of memory or over the limit (the buffer is unchanged then). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
/* printf-style append; -1 on error, on overflow of the limit, or out of memory. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append each string of parts in turn: the whole or nothing. For concatenations, where printf's
 * per-call cost would dominate. Returns 0, or -1 (the buffer is unchanged then). */
int buf_append_strs(struct buf *b, const char *const *parts, size_t count);
#define BUF_APPEND_STRS(b, ...) \
    buf_append_strs((b), (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hand the bytes to the caller (who must free() them); the buffer is empty afterwards. */
char *buf_steal(struct buf *b);

#endif
