/* test_item_rules.c — the worker's pure rules without a store: If-Match parsing and matching, ETags, the
 * cloneID rule, JSON Merge Patch (RFC 7396's own examples), item building, and expression placeholders. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "http.h"
#include "if_match.h"
#include "item.h"
#include "jsonx.h"
#include "tap.h"

static void test_if_match(struct tap *t)
{
    struct if_match im;
    tap_ok(t, if_match_parse(NULL, &im) == 0 && !im.present && if_match_holds(&im, 0, 0), "absent: always holds");
    tap_ok(t, if_match_parse("*", &im) == 0 && im.present && im.any, "* parses");
    tap_ok(t, if_match_holds(&im, 1, 7) && !if_match_holds(&im, 0, 0), "* holds for any existing item only");
    tap_ok(t, if_match_parse(" \t* ", &im) == 0 && im.any, "* with blanks");
    tap_ok(t, if_match_parse("\"3\"", &im) == 0 && im.count == 1 && strcmp(im.tags[0], "3") == 0, "one strong tag");
    tap_ok(t, if_match_holds(&im, 1, 3) && !if_match_holds(&im, 1, 4) && !if_match_holds(&im, 0, 3),
           "\"3\" holds for version 3 of an existing item only");
    tap_ok(t, if_match_parse("W/\"5\", \"6\",,\t\"7\"", &im) == 0 && im.count == 3 && if_match_holds(&im, 1, 5) &&
                  if_match_holds(&im, 1, 7) && !if_match_holds(&im, 1, 8),
           "a list with a weak tag, empty elements and tabs");
    static const char *const malformed[] = {"", "3", "\"3", "\"3\" x", "* , \"3\"", "\"a b\"", "W\"3\"",
                                            "\"\x7f\"", "\"3\";\"4\"", "**"};
    int refused = 1;
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        refused = refused && if_match_parse(malformed[i], &im) == -1;
    tap_ok(t, refused, "malformed headers are refused (%zu kinds)", sizeof malformed / sizeof malformed[0]);
    char many[40 * 5 + 1] = "";
    for (int i = 0; i < 33; i++)
        strcat(many, "\"1\",");
    tap_ok(t, if_match_parse(many, &im) == -1, "more than %d tags is refused", IF_MATCH_MAX_TAGS);
    char longtag[64];
    snprintf(longtag, sizeof longtag, "\"%s\"", "123456789012345678901234567890");
    tap_ok(t, if_match_parse(longtag, &im) == 0 && im.count == 0 && !if_match_holds(&im, 1, 1),
           "a tag too long to be ours parses and never matches");
    tap_ok(t, if_match_tag_version("0") == 0 && if_match_tag_version("42") == 42 &&
                  if_match_tag_version("042") == -1 && if_match_tag_version("") == -1 &&
                  if_match_tag_version("1234567890123456789") == -1 && if_match_tag_version("x") == -1,
           "tag versions: plain integers without leading zeros, at most 18 digits");
    struct http_response resp;
    http_response_init(&resp);
    tap_ok(t, etag_set(&resp, 12) == 0 && strcmp(http_response_get_header(&resp, "ETag"), "\"12\"") == 0,
           "the ETag is the quoted version");
    http_response_free(&resp);
}

static void test_clone_id(struct tap *t)
{
    tap_ok(t, clone_id_problem("job-1", 5) == NULL && clone_id_problem("a/b", 3) == NULL &&
                  clone_id_problem("a..b", 4) == NULL && clone_id_problem(".x/..y", 6) == NULL &&
                  clone_id_problem("\xE2\x82\xAC", 3) == NULL && clone_id_problem("a b%?#", 6) == NULL,
           "ordinary IDs, slashes, dots inside segments, UTF-8, blanks and URL characters are fine");
    static const char *const bad[] = {".", "..", "./x", "x/.", "a/../b", "../clones", "x/..", "a\nb",
                                      "a\rb", "\x01", "a\x1f", "a\x7f", "\xff", "\xc0\xaf"};
    int refused = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused = refused && clone_id_problem(bad[i], strlen(bad[i])) != NULL;
    tap_ok(t, refused, "dot segments, control characters and invalid UTF-8 are refused (%zu cases)",
           sizeof bad / sizeof bad[0]);
    tap_ok(t, clone_id_problem("a\0b", 3) != NULL && clone_id_problem("", 0) != NULL, "NUL and empty are refused");
    char big[1026];
    memset(big, 'x', sizeof big);
    tap_ok(t, clone_id_problem(big, 1024) == NULL && clone_id_problem(big, 1025) != NULL,
           "1024 bytes are allowed, 1025 are not");
}

static json_object *parse(const char *text)
{
    return json_tokener_parse(text);
}

/* RFC 7396, Appendix A: target, patch, result. */
static void test_merge_patch(struct tap *t)
{
    static const char *const cases[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
        {"{\"a\":\"x\"}", "{\"a\":{\"b\":1}}", "{\"a\":{\"b\":1}}"},
    };
    int all = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *target = parse(cases[i][0]), *patch = parse(cases[i][1]), *want = parse(cases[i][2]);
        int ok = target && patch && want && item_merge_patch(target, patch) == 0 && json_object_equal(target, want);
        if (!ok)
            tap_diag(t, "case %zu: %s + %s gave %s", i, cases[i][0], cases[i][1],
                     target ? json_object_to_json_string(target) : "(none)");
        all = all && ok;
        json_object_put(target);
        json_object_put(patch);
        json_object_put(want);
    }
    tap_ok(t, all, "RFC 7396's examples (%zu)", sizeof cases / sizeof cases[0]);
}

static void test_item_build(struct tap *t)
{
    json_object *body = parse("{\"cloneID\":\"x\",\"status\":\"new\",\"createdAt\":\"forged\",\"version\":99,"
                              "\"gone\":null}");
    json_object *item = item_build(ITEM_REPLACE, body, "cloneID", "id-1", 4, NULL, NULL, "2026-11-30T00:00:00.000Z", 1);
    json_object *want = parse("{\"cloneID\":\"id-1\",\"status\":\"new\",\"gone\":null,"
                              "\"createdAt\":\"2026-11-30T00:00:00.000Z\","
                              "\"updatedAt\":\"2026-11-30T00:00:00.000Z\",\"version\":1}");
    tap_ok(t, item && json_object_equal(item, want),
           "replace: the body minus forged server attributes, key from the path, times and version set");
    json_object_put(want);

    json_object *stored_av = parse("{\"createdAt\":{\"S\":\"2020-01-01T00:00:00.000Z\"}}");
    json_object *stored_plain = parse("{\"cloneID\":\"id-1\",\"status\":\"new\",\"size\":3,"
                                      "\"createdAt\":\"2020-01-01T00:00:00.000Z\",\"version\":4}");
    json_object *patch = parse("{\"cloneID\":\"other\",\"size\":null,\"status\":\"done\",\"updatedAt\":\"x\"}");
    json_object *merged = item_build(ITEM_MERGE, patch, "cloneID", "id-1", 4, stored_av, stored_plain,
                                     "2026-11-30T00:00:00.000Z", 5);
    want = parse("{\"cloneID\":\"id-1\",\"status\":\"done\",\"createdAt\":\"2020-01-01T00:00:00.000Z\","
                 "\"updatedAt\":\"2026-11-30T00:00:00.000Z\",\"version\":5}");
    tap_ok(t, merged && json_object_equal(merged, want),
           "merge: null removes, the key and server attributes of the patch are ignored, createdAt is kept");
    json_object_put(want);
    json_object_put(merged);
    json_object_put(patch);
    json_object_put(stored_plain);
    json_object_put(stored_av);
    json_object_put(item);
    json_object_put(body);
    tap_ok(t, item_is_server_attribute("version") && item_is_server_attribute("createdAt") &&
                  item_is_server_attribute("updatedAt") && !item_is_server_attribute("Version"),
           "server-managed attributes, case-sensitive");
}

static void test_expr(struct tap *t)
{
    struct expr_builder eb;
    expr_init(&eb);
    char a[16], b[16], c[16], v0[16], v1[16];
    expr_name(&eb, "status", a);
    expr_name(&eb, "#weird :name", b);
    expr_name(&eb, "status", c);
    expr_value(&eb, expr_scalar_av("S", "new", 3), v0);
    expr_value(&eb, expr_scalar_av("N", "12.5", 4), v1);
    tap_ok(t, !eb.failed && strcmp(a, "#n0") == 0 && strcmp(b, "#n1") == 0 && strcmp(c, "#n0") == 0 &&
                  strcmp(v0, ":v0") == 0 && strcmp(v1, ":v1") == 0,
           "placeholders: names reused, values numbered, no input in the text");
    struct ddb_expr e = {0};
    expr_apply(&eb, &e);
    json_object *want_names = parse("{\"#n0\":\"status\",\"#n1\":\"#weird :name\"}");
    json_object *want_values = parse("{\":v0\":{\"S\":\"new\"},\":v1\":{\"N\":\"12.5\"}}");
    tap_ok(t, json_object_equal(e.names, want_names) && json_object_equal(e.values, want_values),
           "the names and values maps");
    json_object_put(want_names);
    json_object_put(want_values);
    expr_free(&eb);

    expr_init(&eb);
    expr_value(&eb, NULL, v0);
    tap_ok(t, eb.failed && v0[0] == '\0', "a value that could not be made fails the builder");
    expr_name(&eb, "x", a);
    tap_ok(t, a[0] == '\0', "and nothing more is handed out");
    struct ddb_expr none = {0};
    expr_free(&eb);
    expr_init(&eb);
    expr_apply(&eb, &none);
    tap_ok(t, none.names == NULL && none.values == NULL, "an unused builder sends no maps");
    expr_free(&eb);
}

int main(void)
{
    struct tap t = {0};
    test_if_match(&t);
    test_clone_id(&t);
    test_merge_patch(&t);
    test_item_build(&t);
    test_expr(&t);
    return tap_done(&t);
}
