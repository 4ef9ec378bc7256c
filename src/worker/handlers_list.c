/* handlers_list.c — GET /clones: DynamoDB's Scan pages gathered into one answer, up to `limit` items and the
 * response cap, resumable with a signed cursor; status= keeps only items whose status equals it. */
#include "config.h"

#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cursor.h"
#include "expr.h"
#include "item_read.h"
#include "json_output.h"
#include "jsonx.h"
#include "reply.h"

/* A listing stops scanning after this many pages or this long, and hands back a cursor, so a sparse
 * status= filter over a big table cannot hold a thread (or run into the gateway's 29 s timeout). */
#define LIST_MAX_PAGES 32
#define LIST_TIME_BUDGET_MS 5000
#define LIST_LIMIT_MAX 1000

struct listing {
    struct store *store;
    json_object *items;      /* plain items for the answer */
    size_t count;
    size_t bytes;            /* serialized size of the answer so far */
    size_t cap;
    long limit;              /* 0: none */
    json_object *resume_key; /* where the next page starts (owned), when more remain */
    int more;
    struct buf scratch;      /* one item's JSON text, to count its bytes */
};

/* Take the items of one page. Returns 1 when the listing is full (resume_key set), 0 to go on, -1 after
 * replying. */
static int take_page(struct listing *l, struct http_response *resp, json_object *page_items)
{
    struct request_stats *st = l->store->stats;
    size_t n = page_items ? json_object_array_length(page_items) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *av = json_object_array_get_idx(page_items, i);
        if (l->limit && (long)l->count >= l->limit) {
            l->more = 1;
            return 1;
        }
        json_object *plain = item_read_plain(st, resp, av);
        if (!plain)
            return -1;
        buf_reset(&l->scratch);
        if (json_output(plain, &l->scratch) != 0) {
            json_object_put(plain);
            reply_internal(st, resp, "out of memory");
            return -1;
        }
        size_t len = l->scratch.len;
        /* At least one item per answer, so a listing always moves forward whatever the cap. */
        if (l->count > 0 && l->bytes + len + 1 > l->cap) {
            json_object_put(plain);
            l->more = 1;
            return 1;
        }
        json_object *key = store_key_of_item(l->store, av);
        if (!key || json_object_array_add(l->items, plain) != 0) {
            json_object_put(key);
            json_object_put(plain);
            reply_internal(st, resp, key ? "out of memory" : "scanned item without its key");
            return -1;
        }
        l->count++;
        l->bytes += len + 1;
        json_object_put(l->resume_key);
        l->resume_key = key;
    }
    return 0;
}

/* ?limit= : 1..LIST_LIMIT_MAX, or absent (0). Returns 0, or -1 after replying 400. */
static int read_limit(struct handler_context *ctx, const struct http_request *req, struct http_response *resp,
                      long *limit)
{
    *limit = 0;
    const struct http_pair *p = http_query(req, "limit");
    if (!p)
        return 0;
    size_t n = p->value_len;
    long v = (n >= 1 && n <= 4 && strspn(p->value, "0123456789") == n) ? strtol(p->value, NULL, 10) : 0;
    if (v < 1 || v > LIST_LIMIT_MAX) {
        reply_message(ctx->stats, resp, 400, "bad_request", "limit must be an integer from 1 to %d", LIST_LIMIT_MAX);
        return -1;
    }
    *limit = v;
    return 0;
}

/* Scan from start until the listing is full, the table ends, or the page/time budget is spent.
 * Returns 0, or -1 after replying. */
static int scan_pages(struct listing *l, struct http_response *resp, const struct ddb_expr *e, int filtered,
                      json_object *start)
{
    long started = clock_monotonic_ms();
    json_object_get(start);
    int rc = 0;
    for (int pages = 0;; pages++) {
        /* Without a filter, ask for one item past the limit: it tells whether more remain. */
        struct ddb_page page = {
            .limit = (l->limit && !filtered) ? (int)(l->limit - (long)l->count + 1) : 0,
            .exclusive_start_key = start,
        };
        struct ddb_result r;
        if (store_scan(l->store, &page, e, &r) != DDB_OK) {
            reply_ddb_failure(l->store->stats, resp, l->store->table, &r);
            ddb_result_clear(&r);
            rc = -1;
            break;
        }
        json_object *page_items = NULL, *last = NULL;
        json_object_object_get_ex(r.response, "Items", &page_items);
        int full = take_page(l, resp, page_items);
        int ended = !json_object_object_get_ex(r.response, "LastEvaluatedKey", &last) || !last;
        if (full != 0 || ended) {
            rc = full < 0 ? -1 : 0;
            if (full == 0)
                l->more = 0;
            ddb_result_clear(&r);
            break;
        }
        if (l->limit && (long)l->count >= l->limit) {
            /* Full at a page's end: resume after the last item returned (resume_key already). */
            l->more = 1;
            ddb_result_clear(&r);
            break;
        }
        /* The whole page is taken: the next one starts where DynamoDB stopped. */
        json_object_put(l->resume_key);
        l->resume_key = json_object_get(last);
        json_object_put(start);
        start = json_object_get(last);
        ddb_result_clear(&r);
        if (pages + 1 >= LIST_MAX_PAGES || clock_monotonic_ms() - started > LIST_TIME_BUDGET_MS) {
            l->more = 1;
            break;
        }
    }
    json_object_put(start);
    return rc;
}

void handle_list(struct handler_context *ctx, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp)
{
    (void)m;
    struct request_stats *st = ctx->stats;
    struct listing l = {.store = ctx->store};
    buf_init(&l.scratch, 0);
    if (read_limit(ctx, req, resp, &l.limit) != 0)
        return;
    const struct http_pair *status = http_query(req, "status");
    struct cursor_scope scope = {
        .secret = ctx->cursor_key, .secret_len = ctx->cursor_key_len, .table = ctx->conf->table,
        .status = status ? status->value : NULL,
    };
    json_object *start = NULL;
    const struct http_pair *cursor = http_query(req, "cursor");
    int decoded = cursor && cursor->value[0] ? cursor_decode(&scope, cursor->value, &start) : 0;
    if (decoded == CURSOR_NO_MEMORY) {
        reply_internal(st, resp, "out of memory while reading the cursor");
        return;
    }
    if (decoded != 0) {
        reply_message(st, resp, 400, "bad_request", "invalid cursor");
        return;
    }
    l.items = json_object_new_array();
    /* Room for {"clones":[...],"nextCursor":"..."} around the items. */
    size_t frame = 64 + CURSOR_MAX_TEXT;
    l.cap = ctx->conf->max_list_bytes > frame ? ctx->conf->max_list_bytes - frame : 1;
    struct expr_builder eb;
    expr_init(&eb);
    char filter[64] = "", n0[16], v0[16];
    if (status)
        snprintf(filter, sizeof filter, "%s = %s", expr_name(&eb, "status", n0),
                 expr_value(&eb, expr_scalar_av("S", status->value, status->value_len), v0));
    json_object *out = NULL;
    if (!l.items || eb.failed) {
        reply_internal(st, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.filter = status ? filter : NULL};
    expr_apply(&eb, &e);
    if (scan_pages(&l, resp, &e, status != NULL, start) != 0)
        goto done;
    out = json_object_new_object();
    if (json_add(out, "clones", json_object_get(l.items)) != 0) {
        reply_internal(st, resp, "out of memory");
        goto done;
    }
    if (l.more && l.resume_key) {
        char *next = cursor_encode(&scope, l.resume_key);
        if (!next || json_add(out, "nextCursor", json_object_new_string(next)) != 0) {
            free(next);
            reply_internal(st, resp, "could not make the cursor");
            goto done;
        }
        free(next);
    }
    reply_json(st, resp, 200, out);
done:
    json_object_put(out);
    json_object_put(start);
    json_object_put(l.items);
    json_object_put(l.resume_key);
    buf_free(&l.scratch);
    expr_free(&eb);
}
