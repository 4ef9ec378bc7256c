/* test_cursor.c — pagination cursors: a round trip, and refusal of every altered, cut, foreign or misused one. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "tap.h"

int main(void)
{
    struct tap t = {0};
    const char *secret = "0123456789abcdef-secret";
    struct cursor_scope scope = {.secret = (const unsigned char *)secret, .secret_len = strlen(secret),
                                 .table = "clone-jobs", .status = NULL};
    json_object *key = json_object_new_object();
    json_object *av = json_object_new_object();
    json_object_object_add(av, "S", json_object_new_string("id \"with\" quotes/and\xE2\x82\xAC"));
    json_object_object_add(key, "cloneID", av);

    char *c = cursor_encode(&scope, key);
    tap_ok(&t, c != NULL && strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(c),
           "a URL-safe cursor: %s", c ? c : "(none)");
    json_object *back = NULL;
    tap_ok(&t, cursor_decode(&scope, c, &back) == 0 && json_object_equal(back, key), "round trip");
    json_object_put(back);

    int all_refused = 1;
    size_t n = strlen(c);
    for (size_t i = 0; i < n; i++) {
        char *bad = strdup(c);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        if (cursor_decode(&scope, bad, &back) == 0) {
            all_refused = 0;
            json_object_put(back);
        }
        free(bad);
    }
    tap_ok(&t, all_refused, "every one-character change is refused");
    int cut_refused = 1;
    for (size_t len = 0; len < n; len++) {
        char *bad = strndup(c, len);
        if (cursor_decode(&scope, bad, &back) == 0) {
            cut_refused = 0;
            json_object_put(back);
        }
        free(bad);
    }
    tap_ok(&t, cut_refused, "every truncation is refused");

    struct cursor_scope other = scope;
    other.secret = (const unsigned char *)"another-secret-of-16+";
    other.secret_len = strlen("another-secret-of-16+");
    tap_ok(&t, cursor_decode(&other, c, &back) != 0, "another secret: refused");
    other = scope;
    other.table = "other-table";
    tap_ok(&t, cursor_decode(&other, c, &back) != 0, "another table: refused");
    other = scope;
    other.status = "new";
    tap_ok(&t, cursor_decode(&other, c, &back) != 0, "a status filter the cursor was not made for: refused");

    char *with_status = cursor_encode(&other, key);
    tap_ok(&t, with_status && cursor_decode(&other, with_status, &back) == 0, "cursor of a filtered listing");
    json_object_put(back);
    tap_ok(&t, cursor_decode(&scope, with_status, &back) != 0, "used without its filter: refused");
    struct cursor_scope other_status = other;
    other_status.status = "done";
    tap_ok(&t, cursor_decode(&other_status, with_status, &back) != 0, "used with another filter: refused");

    static const char *const garbage[] = {"", ".", "..", "abc", "abc.def", "a.b.c", "====.====", "%%%.%%%",
                                          "eyJ0IjoiY2xvbmUtam9icyJ9.", "e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    int garbage_refused = 1;
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        if (cursor_decode(&scope, garbage[i], &back) == 0) {
            garbage_refused = 0;
            json_object_put(back);
        }
    tap_ok(&t, garbage_refused, "garbage is refused");
    char *huge = malloc(CURSOR_MAX_TEXT + 10);
    memset(huge, 'A', CURSOR_MAX_TEXT + 9);
    huge[100] = '.';
    huge[CURSOR_MAX_TEXT + 9] = '\0';
    tap_ok(&t, cursor_decode(&scope, huge, &back) != 0, "an over-long cursor is refused");
    free(huge);
    free(c);
    free(with_status);
    json_object_put(key);
    return tap_done(&t);
}
