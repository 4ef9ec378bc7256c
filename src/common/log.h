/* log.h — JSON lines on stderr about the process ("worker started", warnings), one write(2) each.
 * The per-request line is the worker's own (worker/request_log.h); both share this format and levels. */
#ifndef CLONE_JOBS_LOG_H
#define CLONE_JOBS_LOG_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"

/* Named apart from <syslog.h>'s LOG_DEBUG, LOG_INFO, ... which mean other numbers. */
enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

const char *log_level_name(enum log_level l);

/* A message about the process; extra (borrowed, may be NULL) is an object whose members are added to
 * the line, after "time", "level", "message" and "pid". Written when level >= threshold. */
void log_message(enum log_level threshold, enum log_level level, json_object *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A new line object with "time" and "level" (the caller adds members and hands it to log_emit), or NULL. */
json_object *log_line_new(enum log_level level);
/* Write the line as JSON plus '\n' with one write(2), so lines stay whole when processes and threads
 * share one file (O_APPEND). The line is borrowed. */
void log_emit(json_object *line);
/* Add a string member from bytes that may not be UTF-8 (paths, bodies): bad bytes become U+FFFD.
 * Returns 0, or -1 when out of memory. */
int log_add_text(json_object *line, const char *key, const char *s, size_t len);

/* The same line format built as text into a buffer, without a json-c object per member: for the line of every
 * request. Begin, add members, emit; each returns 0, or -1 when b is full (emit then writes nothing). */
int log_text_begin(struct buf *b, enum log_level level);
/* "key": the bytes as a JSON string, ill-formed UTF-8 shown as U+FFFD. */
int log_text_string(struct buf *b, const char *key, const char *s, size_t len);
int log_text_int(struct buf *b, const char *key, long long value);
/* "key": a JSON value already serialized. */
int log_text_json(struct buf *b, const char *key, const char *json, size_t len);
/* End the line and write it with one write(2). */
void log_text_emit(struct buf *b);

#endif
