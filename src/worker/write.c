/* write.c — read, decide, write-if-unchanged: the version read is the write's condition, so two writers can
 * never both win, and without If-Match the loser tries again after a short random pause. */
#include "config.h"

#include "write.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ddb_value.h"
#include "expr.h"
#include "input.h"
#include "item_read.h"
#include "reply.h"
#include "text.h"

/* The condition that the item is still as read: absent, at its version, or present without one. */
static int still_as_read(struct expr_builder *eb, const char *key_attribute, json_object *stored_av,
                         char *cond, size_t len)
{
    char k[16], v[16], val[16];
    json_object *version_av = NULL;
    if (!stored_av)
        snprintf(cond, len, "attribute_not_exists(%s)", expr_name(eb, key_attribute, k));
    else if (json_object_object_get_ex(stored_av, ATTR_VERSION, &version_av) && version_av)
        snprintf(cond, len, "%s = %s", expr_name(eb, ATTR_VERSION, v),
                 expr_value(eb, json_object_get(version_av), val));
    else
        snprintf(cond, len, "attribute_exists(%s) AND attribute_not_exists(%s)", expr_name(eb, key_attribute, k),
                 expr_name(eb, ATTR_VERSION, v));
    return eb->failed ? -1 : 0;
}

/* What a round tried to write, kept when its condition failed: if the table turns out to hold exactly this
 * item, the write was done after all (its answer lost, and the retry failed its own condition). */
struct attempt {
    json_object *item_av;  /* owned */
    int created;
    int64_t version;
};

/* One decide-and-write round on stored, the item as last read (owned; NULL: absent). Returns 0 when done
 * (result filled), -1 after replying, 1 when the item changed since it was read (*tried filled). */
static int write_round(struct store *s, const struct write_request *wr, json_object *stored,
                       struct write_result *result, struct attempt *tried, struct http_response *resp)
{
    struct request_stats *st = s->stats;
    int rc = -1;
    json_object *stored_plain = NULL, *item = NULL, *item_av = NULL;
    struct expr_builder eb;
    expr_init(&eb);
    if (!stored && wr->must_exist) {
        reply_not_found(st, resp, s->key_attribute, wr->id, 0);
        goto done;
    }
    int64_t old_version = store_item_version(stored);
    if (!if_match_holds(wr->if_match, stored != NULL, old_version)) {
        reply_precondition_failed(st, resp);
        goto done;
    }
    if (stored && wr->mode == ITEM_MERGE && !(stored_plain = item_read_plain(st, resp, stored)))
        goto done;
    char now[25];
    if (text_now_rfc3339(now) != 0) {
        reply_internal(st, resp, "clock unavailable");
        goto done;
    }
    item = item_build(wr->mode, wr->body, s->key_attribute, wr->id, wr->id_len, stored, stored_plain, now,
                      old_version + 1);
    if (!item) {
        reply_internal(st, resp, "out of memory");
        goto done;
    }
    char err[300];
    int converted = ddbv_item_from_json(item, &item_av, err, sizeof err);
    if (converted != 0) {
        input_conversion_failed(st, resp, converted, err);
        goto done;
    }
    char cond[128];
    if (still_as_read(&eb, s->key_attribute, stored, cond, sizeof cond) != 0) {
        reply_internal(st, resp, "out of memory");
        goto done;
    }
    struct ddb_expr e = {.condition = cond};
    expr_apply(&eb, &e);
    struct ddb_result r;
    enum ddb_outcome o = store_put(s, item_av, &e, NULL, &r);
    if (o == DDB_CONDITION_FAILED) {
        *tried = (struct attempt){.item_av = item_av, .created = stored == NULL, .version = old_version + 1};
        item_av = NULL;
        rc = 1;
    } else if (o != DDB_OK) {
        reply_ddb_failure(st, resp, s->table, &r);
    } else {
        result->created = stored == NULL;
        result->version = old_version + 1;
        result->item = item_read_plain(st, resp, item_av);
        rc = result->item ? 0 : -1;
    }
    ddb_result_clear(&r);
done:
    expr_free(&eb);
    json_object_put(item_av);
    json_object_put(item);
    json_object_put(stored_plain);
    json_object_put(stored);
    return rc;
}

/* A random pause below WRITE_BACKOFF_MS << (attempt - 1) ms after a lost race. */
static void conflict_pause(int attempt)
{
    unsigned short r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = 0;
    long ceiling = (long)WRITE_BACKOFF_MS << (attempt - 1);
    long ms = (long)(r % (unsigned)(ceiling + 1));
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int write_item(struct store *s, const struct write_request *wr, struct write_result *result,
               struct http_response *resp)
{
    memset(result, 0, sizeof *result);
    json_object *stored = NULL;
    if (item_read_fetch(s, resp, wr->id, wr->id_len, &stored) < 0)
        return -1;
    for (int round = 1;; round++) {
        struct attempt tried = {0};
        int rc = write_round(s, wr, stored, result, &tried, resp);
        if (rc != 1)
            return rc;
        /* The condition failed. Another write got in, or this one was done and its answer lost: one read
         * (after the pause, when another round may follow) tells which, and is the next round's read. */
        int again = !wr->if_match->present && round < WRITE_ATTEMPTS;
        if (again)
            conflict_pause(round);
        int found = item_read_fetch(s, resp, wr->id, wr->id_len, &stored);
        if (found > 0 && json_object_equal(stored, tried.item_av)) {
            json_object_put(stored);
            result->created = tried.created;
            result->version = tried.version;
            result->item = item_read_plain(s->stats, resp, tried.item_av);
            json_object_put(tried.item_av);
            return result->item ? 0 : -1;
        }
        json_object_put(tried.item_av);
        if (found < 0)
            return -1;
        if (!again) {
            json_object_put(stored);
            if (wr->if_match->present)
                reply_precondition_failed(s->stats, resp);
            else
                reply_message(s->stats, resp, 409, "conflict",
                              "the item was changed by other requests %d times while this one ran; retry",
                              WRITE_ATTEMPTS);
            return -1;
        }
    }
}

int write_delete(struct store *s, const char *id, size_t id_len, const struct if_match *im, json_object **deleted_av,
                 struct http_response *resp)
{
    *deleted_av = NULL;
    json_object *stored = NULL, *key = store_key(s, id, id_len);
    if (!key) {
        reply_internal(s->stats, resp, "out of memory");
        return -1;
    }
    int rc = item_read_fetch(s, resp, id, id_len, &stored) < 0 ? -1 : 1;
    for (int round = 1; rc == 1 && stored; round++) {
        if (!if_match_holds(im, 1, store_item_version(stored))) {
            reply_precondition_failed(s->stats, resp);
            rc = -1;
            break;
        }
        struct expr_builder eb;
        expr_init(&eb);
        char cond[128];
        struct ddb_result r;
        memset(&r, 0, sizeof r);
        enum ddb_outcome o = DDB_INTERNAL;
        if (still_as_read(&eb, s->key_attribute, stored, cond, sizeof cond) == 0) {
            struct ddb_expr e = {.condition = cond};
            expr_apply(&eb, &e);
            o = store_delete(s, key, &e, NULL, &r);
        } else {
            reply_internal(s->stats, resp, "out of memory");
            rc = -1;
        }
        expr_free(&eb);
        if (rc == -1) {
            ddb_result_clear(&r);
            break;
        }
        if (o == DDB_OK) {
            ddb_result_clear(&r);
            *deleted_av = stored;
            stored = NULL;
            rc = 0;
            break;
        }
        if (o != DDB_CONDITION_FAILED) {
            reply_ddb_failure(s->stats, resp, s->table, &r);
            ddb_result_clear(&r);
            rc = -1;
            break;
        }
        ddb_result_clear(&r);
        /* Changed since it was read, or this very delete done with its answer lost: read again. */
        int again = !im->present && round < WRITE_ATTEMPTS;
        if (again)
            conflict_pause(round);
        json_object *now = NULL;
        int found = item_read_fetch(s, resp, id, id_len, &now);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (!found) {
            *deleted_av = stored;
            stored = NULL;
            rc = 0;
            break;
        }
        json_object_put(stored);
        stored = now;
        if (!again) {
            if (im->present)
                reply_precondition_failed(s->stats, resp);
            else
                reply_message(s->stats, resp, 409, "conflict",
                              "the item was changed by other requests %d times while this one ran; retry",
                              WRITE_ATTEMPTS);
            rc = -1;
        }
    }
    json_object_put(stored);
    json_object_put(key);
    return rc;
}
