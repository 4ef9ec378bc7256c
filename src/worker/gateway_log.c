/* gateway_log.c — counts the gateway's own answers from nginx's JSON access log, read incrementally at each
 * scrape (no lock and no work on the request path: nginx writes the log anyway). See gateway_log.h. */
#include "config.h"

#include "gateway_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "router.h"

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"};

void gateway_log_open(struct gateway_log *g, const char *path, const char *stage)
{
    memset(g, 0, sizeof *g);
    g->fd = -1;
    g->stage = stage;
    buf_init(&g->partial, GATEWAY_LOG_LINE_MAX);
    if (!path || !*path || strlen(path) >= sizeof g->path)
        return;
    memcpy(g->path, path, strlen(path) + 1);
    g->fd = open(g->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (g->fd >= 0 && fstat(g->fd, &st) == 0) {
        /* What was logged before the listener started is not counted: counters start at zero. */
        g->dev = st.st_dev;
        g->ino = st.st_ino;
        g->offset = st.st_size;
        g->readable = 1;
    } else if (g->fd >= 0) {
        close(g->fd);
        g->fd = -1;
    }
}

void gateway_log_close(struct gateway_log *g)
{
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
    buf_free(&g->partial);
}

/* The JSON string value of "name":"...", unescaped for the plain escapes (\" \\ \/), into out; 0 or -1. */
static int string_field(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *end = line + len;
    for (const char *p = line; p + nlen + 4 <= end; p++) {
        if (p[0] != '"' || memcmp(p + 1, name, nlen) != 0 || p[nlen + 1] != '"' || p[nlen + 2] != ':' ||
            p[nlen + 3] != '"')
            continue;
        size_t n = 0;
        for (p += nlen + 4; p < end && *p != '"'; p++) {
            char ch = *p;
            if (ch == '\\' && p + 1 < end) {
                ch = *++p;
                if (ch != '"' && ch != '\\' && ch != '/')
                    ch = '?'; /* \uXXXX and friends: no route holds one */
            }
            if (n + 1 < outlen)
                out[n++] = ch;
        }
        out[n] = '\0';
        return p < end ? 0 : -1;
    }
    return -1;
}

static int int_field(const char *line, size_t len, const char *name, int *out)
{
    size_t nlen = strlen(name);
    const char *end = line + len;
    for (const char *p = line; p + nlen + 3 < end; p++) {
        if (p[0] != '"' || memcmp(p + 1, name, nlen) != 0 || p[nlen + 1] != '"' || p[nlen + 2] != ':')
            continue;
        p += nlen + 3;
        int v = 0, digits = 0;
        for (; p < end && *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
            v = v * 10 + (*p - '0');
        if (!digits)
            return -1;
        *out = v;
        return 0;
    }
    return -1;
}

static int cell_of(const struct gateway_log *g, const char *method, char *uri)
{
    uri[strcspn(uri, "?")] = '\0';
    struct route_match m;
    enum route_result r = router_match(g->stage, uri, method, &m);
    size_t count;
    const struct route *routes = router_routes(&count);
    int cell = metrics_cell_unmatched();
    if ((r == ROUTE_OK || r == ROUTE_BAD_PARAM) && m.route) {
        cell = (int)(m.route - routes);
    } else if (r == ROUTE_OPTIONS || r == ROUTE_NO_METHOD) {
        /* A preflight, or a method the path lacks (403): the first route of the path stands for it. */
        size_t n = strcspn(m.allow, ",");
        char first[16];
        if (n < sizeof first) {
            memcpy(first, m.allow, n);
            first[n] = '\0';
            struct route_match again;
            if (router_match(g->stage, uri, first, &again) != ROUTE_NO_PATH && again.route) {
                size_t i = (size_t)(again.route - routes);
                for (size_t k = 0; k < i; k++)
                    if (strcmp(routes[k].pattern, routes[i].pattern) == 0) {
                        i = k;
                        break;
                    }
                cell = r == ROUTE_OPTIONS ? metrics_cell_options((int)i) : (int)i;
            }
            route_match_free(&again);
        }
    }
    route_match_free(&m);
    return cell;
}

void gateway_log_count_line(struct gateway_log *g, const char *line, size_t len)
{
    char upstream[64], method[16], uri[1024];
    int status;
    g->lines++;
    if (int_field(line, len, "status", &status) != 0 ||
        string_field(line, len, "upstreamTime", upstream, sizeof upstream) != 0)
        return;
    if (upstream[0] && status != 502 && status != 504)
        return; /* a worker's answer: the workers count those themselves */
    if (string_field(line, len, "method", method, sizeof method) != 0 ||
        string_field(line, len, "uri", uri, sizeof uri) != 0)
        return;
    const char *m = "OTHER";
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(method, methods[i]) == 0)
            m = methods[i];
    int cell = cell_of(g, m, uri);
    if (status < 100 || status > 599)
        status = 0;
    for (int i = 0; i < g->nseries; i++) {
        struct gateway_series *s = &g->series[i];
        if (s->cell == cell && s->status == status && strcmp(s->method, m) == 0) {
            s->count++;
            return;
        }
    }
    struct gateway_series *s;
    if (g->nseries < GATEWAY_LOG_SERIES - 1) {
        s = &g->series[g->nseries++];
        s->cell = cell;
        s->status = status;
        snprintf(s->method, sizeof s->method, "%s", m);
    } else {
        /* Bounded: the last series takes every answer that would have needed a new one. */
        s = &g->series[GATEWAY_LOG_SERIES - 1];
        if (g->nseries == GATEWAY_LOG_SERIES - 1) {
            g->nseries++;
            s->cell = -1;
            s->status = 0;
            snprintf(s->method, sizeof s->method, "OTHER");
        }
    }
    s->count++;
}

/* Count the complete lines of data (with what was left of the previous read); keep the rest. */
static void count_data(struct gateway_log *g, const char *data, size_t n)
{
    while (n) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (!g->skipping && buf_append(&g->partial, data, take) != 0) {
            /* A line over GATEWAY_LOG_LINE_MAX is not one of ours: skip it whole. */
            buf_reset(&g->partial);
            g->skipping = 1;
        }
        if (!nl)
            return;
        if (!g->skipping)
            gateway_log_count_line(g, g->partial.data ? g->partial.data : "", g->partial.len);
        buf_reset(&g->partial);
        g->skipping = 0;
        data = nl + 1;
        n -= take + 1;
    }
}

/* Read fd from the offset to its end (bounded). */
static void read_to_end(struct gateway_log *g, size_t *budget)
{
    char chunk[65536];
    while (*budget > 0) {
        ssize_t got = pread(g->fd, chunk, sizeof chunk < *budget ? sizeof chunk : *budget, g->offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            g->readable = got == 0;
            return;
        }
        g->offset += got;
        *budget -= (size_t)got;
        count_data(g, chunk, (size_t)got);
    }
}

void gateway_log_update(struct gateway_log *g)
{
    if (!g->path[0])
        return;
    size_t budget = GATEWAY_LOG_READ_MAX;
    struct stat now, open_st;
    int exists = stat(g->path, &now) == 0;
    if (g->fd >= 0) {
        if (fstat(g->fd, &open_st) == 0 && open_st.st_size < g->offset) {
            /* Truncated in place (copytruncate): start again from its start. */
            g->offset = 0;
            buf_reset(&g->partial);
            g->skipping = 0;
        }
        read_to_end(g, &budget);
        if (exists && (now.st_ino != g->ino || now.st_dev != g->dev)) {
            /* Rotated: the rest of the old file was read above; the new one is read from its start. */
            close(g->fd);
            g->fd = -1;
            buf_reset(&g->partial);
            g->skipping = 0;
        }
    }
    if (g->fd < 0 && exists) {
        g->fd = open(g->path, O_RDONLY | O_CLOEXEC);
        if (g->fd < 0) {
            g->readable = 0;
            return;
        }
        struct stat st;
        if (fstat(g->fd, &st) != 0) {
            close(g->fd);
            g->fd = -1;
            g->readable = 0;
            return;
        }
        g->dev = st.st_dev;
        g->ino = st.st_ino;
        g->offset = 0;
        read_to_end(g, &budget);
    }
    if (!exists && g->fd < 0)
        g->readable = 0;
}
