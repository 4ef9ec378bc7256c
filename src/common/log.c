/* log.c — writes JSON log lines to stderr, each with a single write(2).
 * One write per line keeps lines whole when several workers and their threads append to one file. */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "jsonx.h"
#include "text.h"

#define JSON_OUT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

const char *log_level_name(enum log_level l)
{
    switch (l) {
    case LOG_LEVEL_DEBUG: return "debug";
    case LOG_LEVEL_INFO: return "info";
    case LOG_LEVEL_WARN: return "warn";
    case LOG_LEVEL_ERROR: return "error";
    }
    return "info";
}

int log_add_text(json_object *o, const char *key, const char *s, size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    if (text_utf8_sanitize(s, len, &b) != 0) {
        buf_free(&b);
        return -1;
    }
    int rc = json_add(o, key, json_object_new_string_len(b.data ? b.data : "", (int)b.len));
    buf_free(&b);
    return rc;
}

json_object *log_line_new(enum log_level level)
{
    char now[25];
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    if (text_now_rfc3339(now) != 0 || json_add(o, "time", json_object_new_string(now)) != 0 ||
        json_add(o, "level", json_object_new_string(log_level_name(level))) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Write b's bytes with one write(2) (retried only for what a signal cut short). */
static void write_whole(const struct buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(STDERR_FILENO, b->data + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* nowhere left to report a failing log */
        off += (size_t)n;
    }
}

void log_emit(json_object *line)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(line, JSON_OUT_FLAGS, &len);
    struct buf b;
    buf_init(&b, 0);
    if (text && buf_append(&b, text, len) == 0 && buf_append(&b, "\n", 1) == 0)
        write_whole(&b);
    buf_free(&b);
}

int log_text_begin(struct buf *b, enum log_level level)
{
    char now[25];
    if (text_now_rfc3339(now) != 0)
        return -1;
    return buf_printf(b, "{\"time\":\"%s\",\"level\":\"%s\"", now, log_level_name(level));
}

static int member(struct buf *b, const char *key)
{
    return buf_append(b, ",", 1) == 0 && text_json_string(key, strlen(key), 0, b) == 0 && buf_append(b, ":", 1) == 0
               ? 0
               : -1;
}

int log_text_string(struct buf *b, const char *key, const char *s, size_t len)
{
    return member(b, key) == 0 && text_json_string(s, len, 1, b) == 0 ? 0 : -1;
}

int log_text_int(struct buf *b, const char *key, long long value)
{
    return member(b, key) == 0 && buf_printf(b, "%lld", value) == 0 ? 0 : -1;
}

int log_text_json(struct buf *b, const char *key, const char *json, size_t len)
{
    return member(b, key) == 0 && buf_append(b, json, len) == 0 ? 0 : -1;
}

void log_text_emit(struct buf *b)
{
    if (buf_append(b, "}\n", 2) == 0)
        write_whole(b);
}

void log_message(enum log_level threshold, enum log_level level, json_object *extra, const char *fmt, ...)
{
    if (level < threshold)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (n < 0)
        message[0] = '\0';
    json_object *line = log_line_new(level);
    if (!line)
        return;
    if (log_add_text(line, "message", message, strlen(message)) == 0 &&
        json_add(line, "pid", json_object_new_int((int)getpid())) == 0) {
        int ok = 1;
        if (extra) {
            json_object_object_foreach(extra, k, v) {
                if (json_add(line, k, json_object_get(v)) != 0) {
                    ok = 0;
                    break;
                }
            }
        }
        if (ok)
            log_emit(line);
    }
    json_object_put(line);
}
