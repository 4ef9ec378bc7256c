/* test_ddb_value.c — unit tests for JSON <-> DynamoDB attribute value conversion (src/ddb_value.c).
 * Pins down DynamoDB's number limits, exact round trips, every attribute type and the error paths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_value.h"
#include "json_input.h"
#include "tap.h"

#define PRINT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define RANGE "(1E-130 to 9.9999999999999999999999999999999999999E+125)"

/* Append value to array, dropping it when that fails; 0 or -1. */
static int push(json_object *array, json_object *value)
{
    if (!value || json_object_array_add(array, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static json_object *parse(const char *text)
{
    json_object *obj = NULL;
    char err[128];
    if (json_input_parse(text, strlen(text), 64, &obj, err, sizeof err) != 0) {
        printf("# test input does not parse: %s: %s\n", text, err);
        return NULL;
    }
    return obj;
}

/* ddbv_number_canonical(text) gives want. */
static void check_canonical(struct tap *t, const char *text, const char *want)
{
    char out[DDBV_NUMBER_MAX];
    char err[200] = "";
    int rc = ddbv_number_canonical(text, out, sizeof out, err, sizeof err);
    if (!tap_ok(t, rc == 0 && strcmp(out, want) == 0, "canonical %s -> %s", text, want))
        tap_diag(t, "rc=%d out=%s err=%s", rc, rc == 0 ? out : "", err);
}

/* ddbv_number_canonical(text) fails with a message containing want. */
static void check_canonical_error(struct tap *t, const char *text, const char *want)
{
    char out[DDBV_NUMBER_MAX];
    char err[200] = "";
    int rc = ddbv_number_canonical(text, out, sizeof out, err, sizeof err);
    if (!tap_ok(t, rc == -1 && strstr(err, want) != NULL, "canonical rejects %s", text))
        tap_diag(t, "rc=%d err=%s", rc, err);
}

/* The whole trip a number makes: client JSON text -> parse -> attribute value {"N":n}
 * -> (as DynamoDB would answer) -> plain JSON -> printed text. */
static void check_round_trip(struct tap *t, const char *json_text, const char *want_n,
                             const char *want_printed)
{
    json_object *value = parse(json_text);
    json_object *av = NULL, *plain = NULL, *n = NULL;
    char err[200] = "";
    int ok = value != NULL && ddbv_from_json(value, &av, err, sizeof err) == 0 &&
             json_object_object_get_ex(av, "N", &n) &&
             strcmp(json_object_get_string(n), want_n) == 0 &&
             ddbv_to_json(av, &plain, err, sizeof err) == 0 &&
             strcmp(json_object_to_json_string_ext(plain, PRINT_FLAGS), want_printed) == 0;
    if (!tap_ok(t, ok, "round trip %s -> N %s -> %s", json_text, want_n, want_printed))
        tap_diag(t, "err=%s N=%s printed=%s", err, n ? json_object_get_string(n) : "",
                 plain ? json_object_to_json_string_ext(plain, PRINT_FLAGS) : "");
    json_object_put(value);
    json_object_put(av);
    json_object_put(plain);
}

/* A number that must survive exactly as written (already canonical). */
static void check_exact(struct tap *t, const char *text)
{
    check_round_trip(t, text, text, text);
}

/* ddbv_from_json on parsed json_text fails with a message containing want. */
static void check_from_error(struct tap *t, const char *json_text, const char *want, int item)
{
    json_object *value = parse(json_text);
    json_object *av = (json_object *)&av; /* must be reset to NULL on failure */
    char err[256] = "";
    int rc = item ? ddbv_item_from_json(value, &av, err, sizeof err)
                  : ddbv_from_json(value, &av, err, sizeof err);
    int ok = value != NULL && rc == -1 && av == NULL && strstr(err, want) != NULL;
    if (!tap_ok(t, ok, "%s rejects %s", item ? "item_from_json" : "from_json", json_text))
        tap_diag(t, "rc=%d err=%s (wanted \"%s\")", rc, err, want);
    if (rc == 0)
        json_object_put(av);
    json_object_put(value);
}

/* from_json of json_text prints as want. */
static void check_from(struct tap *t, const char *json_text, const char *want, int item)
{
    json_object *value = parse(json_text);
    json_object *av = NULL;
    char err[256] = "";
    int rc = item ? ddbv_item_from_json(value, &av, err, sizeof err)
                  : ddbv_from_json(value, &av, err, sizeof err);
    const char *printed = rc == 0 ? json_object_to_json_string_ext(av, PRINT_FLAGS) : "";
    if (!tap_ok(t, rc == 0 && strcmp(printed, want) == 0, "%s %s",
                item ? "item_from_json" : "from_json", json_text))
        tap_diag(t, "rc=%d err=%s printed=%s", rc, err, printed);
    json_object_put(av);
    json_object_put(value);
}

/* to_json of the attribute value av_text prints as want ("null" for a NULL result). */
static void check_to(struct tap *t, const char *av_text, const char *want, int item)
{
    json_object *av = parse(av_text);
    json_object *plain = NULL;
    char err[256] = "";
    int rc = av ? (item ? ddbv_item_to_json(av, &plain, err, sizeof err)
                        : ddbv_to_json(av, &plain, err, sizeof err))
                : -2;
    const char *printed = rc == 0 ? (plain ? json_object_to_json_string_ext(plain, PRINT_FLAGS)
                                           : "null")
                                  : "";
    if (!tap_ok(t, rc == 0 && strcmp(printed, want) == 0, "%s %s -> %s",
                item ? "item_to_json" : "to_json", av_text, want))
        tap_diag(t, "rc=%d err=%s printed=%s", rc, err, printed);
    json_object_put(plain);
    json_object_put(av);
}

/* to_json of a malformed attribute value fails with a message containing want. */
static void check_to_error(struct tap *t, const char *av_text, const char *want, int item)
{
    json_object *av = parse(av_text);
    json_object *plain = (json_object *)&plain;
    char err[256] = "";
    int rc = item ? ddbv_item_to_json(av, &plain, err, sizeof err)
                  : ddbv_to_json(av, &plain, err, sizeof err);
    int ok = rc == -1 && plain == NULL && strstr(err, want) != NULL;
    if (!tap_ok(t, ok, "%s rejects %s", item ? "item_to_json" : "to_json", av_text))
        tap_diag(t, "rc=%d err=%s (wanted \"%s\")", rc, err, want);
    if (rc == 0)
        json_object_put(plain);
    json_object_put(av);
}

static void test_canonical(struct tap *t)
{
    check_canonical(t, "0", "0");
    check_canonical(t, "-0", "0");
    check_canonical(t, "0.0", "0");
    check_canonical(t, "-0.000", "0");
    check_canonical(t, "0e-999", "0");
    check_canonical(t, "0e5", "0");
    check_canonical(t, "000.000E+999999999999999999999999", "0");
    check_canonical(t, "1.50", "1.5");
    check_canonical(t, "100", "100");
    check_canonical(t, "00100.00", "100");
    check_canonical(t, "1E+2", "100");
    check_canonical(t, "1e2", "100");
    check_canonical(t, "+5", "5");
    check_canonical(t, ".5", "0.5");
    check_canonical(t, "5.", "5");
    check_canonical(t, "-12.340E-2", "-0.1234");
    check_canonical(t, "1e0005", "100000");
    check_canonical(t, "1.5e-0003", "0.0015");
    check_canonical(t, "2E+000000000000000000000000001", "20");
    check_canonical(t, "123.456e1", "1234.56");
    check_canonical(t, "123.456e3", "123456");
    check_canonical(t, "123.456e-3", "0.123456");
    check_canonical(t, "1E+39", "1000000000000000000000000000000000000000");
    check_canonical(t, "1E+40", "1E+40");
    check_canonical(t, "1.5E+39", "1500000000000000000000000000000000000000");
    check_canonical(t, "1.5E+40", "1.5E+40");
    check_canonical(t, "-1.5E+40", "-1.5E+40");
    check_canonical(t, "1E-38", "0.00000000000000000000000000000000000001");
    check_canonical(t, "1E-39", "1E-39");
    check_canonical(t, "-1.25E-39", "-1.25E-39");
    check_canonical(t, "1E-130", "1E-130");
    check_canonical(t, "-1E-130", "-1E-130");
    check_canonical(t, "10E-131", "1E-130");
    check_canonical(t, "0.0000000001E-120", "1E-130");
    check_canonical(t, "9.9999999999999999999999999999999999999E+125",
                    "9.9999999999999999999999999999999999999E+125");
    check_canonical(t, "-9.9999999999999999999999999999999999999E+125",
                    "-9.9999999999999999999999999999999999999E+125");
    check_canonical(t, "99999999999999999999999999999999999999E88",
                    "9.9999999999999999999999999999999999999E+125");
    check_canonical(t, "1.2345678901234567890123456789012345678E-130",
                    "1.2345678901234567890123456789012345678E-130");
    check_canonical(t, "123456789012345678901234567890123456780", /* 39 digits, 38 significant */
                    "123456789012345678901234567890123456780");
    check_canonical(t, "0.000000000000000000000000000000000000000000012345678901234567890123456"
                       "789012345678",
                    "1.2345678901234567890123456789012345678E-44");

    check_canonical_error(t, "123456789012345678901234567890123456789",
                          "number has more than 38 significant digits");
    check_canonical_error(t, "-1.23456789012345678901234567890123456789",
                          "number has more than 38 significant digits");
    check_canonical_error(t, "1000000000000000000000000000000000000001",
                          "number has more than 38 significant digits");
    check_canonical_error(t, "1E+126", "number 1E+126 is out of DynamoDB's range " RANGE);
    check_canonical_error(t, "-1E+126", "number -1E+126 is out of DynamoDB's range " RANGE);
    check_canonical_error(t, "1E-131", "number 1E-131 is out of DynamoDB's range " RANGE);
    check_canonical_error(t, "9.9E-131", "number 9.9E-131 is out of DynamoDB's range " RANGE);
    check_canonical_error(t, "-9.9E-131", "out of DynamoDB's range");
    check_canonical_error(t, "1e400", "number 1e400 is out of DynamoDB's range");
    check_canonical_error(t, "1e-400", "number 1e-400 is out of DynamoDB's range");
    check_canonical_error(t, "1e999999999999", "out of DynamoDB's range");
    check_canonical_error(t, "1e-99999999999999999999999999999999999", "out of DynamoDB's range");
    check_canonical_error(t, "0.1e999999999999999999999999999999999999", "out of DynamoDB's range");
    check_canonical_error(t, "1000000000000000000000000000000000000000000000000000000000000000000"
                             "000000000000000000000000000000000000000000000000000000000000000",
                          "number 1000000000000000000000000000000000000000... is out of");
    check_canonical_error(t, "", "invalid number");
    check_canonical_error(t, "-", "invalid number");
    check_canonical_error(t, ".", "invalid number");
    check_canonical_error(t, "e5", "invalid number");
    check_canonical_error(t, "1e", "invalid number");
    check_canonical_error(t, "1e+", "invalid number");
    check_canonical_error(t, "1.2.3", "invalid number");
    check_canonical_error(t, " 1", "invalid number");
    check_canonical_error(t, "1 ", "invalid number");
    check_canonical_error(t, "0x1", "invalid number");
    check_canonical_error(t, "NaN", "invalid number");
    check_canonical_error(t, "Infinity", "invalid number");
    check_canonical_error(t, "--1", "invalid number");

    char out[DDBV_NUMBER_MAX];
    char err[128];
    tap_ok(t, ddbv_number_canonical("12345", out, 5, err, sizeof err) == -1 &&
                  ddbv_number_canonical("12345", out, 6, err, sizeof err) == 0 &&
                  strcmp(out, "12345") == 0,
           "canonical respects the output size");
    tap_ok(t, ddbv_number_canonical(NULL, out, sizeof out, err, sizeof err) == -1,
           "canonical of NULL fails");
}

static void test_number_round_trips(struct tap *t)
{
    /* 38 significant digits, both signs, integers and decimals. */
    check_exact(t, "12345678901234567890123456789012345678");
    check_exact(t, "-12345678901234567890123456789012345678");
    check_exact(t, "99999999999999999999999999999999999999");
    check_exact(t, "-99999999999999999999999999999999999999");
    check_exact(t, "1.2345678901234567890123456789012345678");
    check_exact(t, "-1.2345678901234567890123456789012345678");
    check_exact(t, "1234567890123456789.0123456789012345678");
    check_exact(t, "-0.12345678901234567890123456789012345678");
    check_exact(t, "0.12345678901234567890123456789012345678");
    check_exact(t, "1E-130");
    check_exact(t, "-1E-130");
    check_exact(t, "9.9999999999999999999999999999999999999E+125");
    check_exact(t, "-9.9999999999999999999999999999999999999E+125");
    /* Integers around and past json-c's 64-bit clamp. */
    check_exact(t, "1234567890123456789");
    check_exact(t, "9223372036854775807");
    check_exact(t, "-9223372036854775808");
    check_exact(t, "18446744073709551615");
    check_exact(t, "18446744073709551616");
    check_exact(t, "99999999999999999999");
    check_exact(t, "-99999999999999999999");
    check_exact(t, "123456789012345678901");
    check_exact(t, "1234567890123456789012345678901234567800"); /* 40 digits, 38 significant */
    check_exact(t, "1000000000000000000000000000000000000000");
    check_exact(t, "0");
    check_exact(t, "42");
    /* Spellings that change but keep their value. */
    check_round_trip(t, "-0", "0", "0");
    check_round_trip(t, "0.0", "0", "0");
    check_round_trip(t, "0e-999", "0", "0");
    check_round_trip(t, "-0.0E+7", "0", "0");
    check_round_trip(t, "1.50", "1.5", "1.5");
    check_round_trip(t, "1E+02", "100", "100");
    check_round_trip(t, "1e-0002", "0.01", "0.01");
    check_round_trip(t, "5e+0000125", "5E+125", "5E+125");
    check_round_trip(t, "1.0000000000000000000000000000000000000000000000000000000000000000000"
                        "0000000000000000000000000000000000000000000000000000000000000000000"
                        "00000000000000000000000000000000",
                     "1", "1"); /* longer than number_from_json's first buffer */

    check_from_error(t, "123456789012345678901234567890123456789",
                     "number has more than 38 significant digits", 0);
    check_from_error(t, "1234567890123456789012345678901234567890",
                     "number has more than 38 significant digits", 0);
    check_from_error(t, "1E-131", "number 1E-131 is out of DynamoDB's range " RANGE, 0);
    check_from_error(t, "9.9E-131", "out of DynamoDB's range", 0);
    check_from_error(t, "1E+126", "number 1E+126 is out of DynamoDB's range " RANGE, 0);
    check_from_error(t, "1e400", "number 1e400 is out of DynamoDB's range", 0);
    check_from_error(t, "-1e400", "number -1e400 is out of DynamoDB's range", 0);
    check_from_error(t, "1e-400", "number 1e-400 is out of DynamoDB's range", 0);
    check_from_error(t, "1e999999999999", "out of DynamoDB's range", 0);
}

static void test_from_json(struct tap *t)
{
    check_from(t, "\"\"", "{\"S\":\"\"}", 0);
    check_from(t, "\"h\\u00e9llo\"", "{\"S\":\"h\xc3\xa9llo\"}", 0);
    check_from(t, "\"12345678901234567890123\"", "{\"S\":\"12345678901234567890123\"}", 0);
    check_from(t, "true", "{\"BOOL\":true}", 0);
    check_from(t, "false", "{\"BOOL\":false}", 0);
    check_from(t, "null", "{\"NULL\":true}", 0);
    check_from(t, "[]", "{\"L\":[]}", 0);
    check_from(t, "{}", "{\"M\":{}}", 0);
    check_from(t, "[1,\"a\",null,[true]]",
               "{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"},{\"NULL\":true},{\"L\":[{\"BOOL\":true}]}]}", 0);
    check_from(t, "{\"cloneID\":\"c1\",\"n\":1.50,\"big\":99999999999999999999,\"m\":{\"k\":[]}}",
               "{\"cloneID\":{\"S\":\"c1\"},\"n\":{\"N\":\"1.5\"},"
               "\"big\":{\"N\":\"99999999999999999999\"},\"m\":{\"M\":{\"k\":{\"L\":[]}}}}",
               1);
    check_from(t, "{}", "{}", 1);

    /* An embedded NUL in a string value survives. */
    json_object *s = json_object_new_string_len("a\0b", 3);
    json_object *av = NULL, *inner = NULL;
    char err[256] = "";
    int rc = ddbv_from_json(s, &av, err, sizeof err);
    tap_ok(t, rc == 0 && json_object_object_get_ex(av, "S", &inner) &&
                  json_object_get_string_len(inner) == 3 &&
                  memcmp(json_object_get_string(inner), "a\0b", 3) == 0,
           "from_json keeps a NUL inside a string");
    json_object_put(av);
    json_object_put(s);

    /* Errors name the path. */
    check_from_error(t, "{\"a\":{\"b\":[0,1,1e400]}}",
                     "attribute a.b[2]: number 1e400 is out of DynamoDB's range", 1);
    check_from_error(t, "{\"price\":1E+200}",
                     "attribute price: number 1E+200 is out of DynamoDB's range " RANGE, 1);
    check_from_error(t, "{\"x\":[[{\"y\":123456789012345678901234567890123456789}]]}",
                     "attribute x[0][0].y: number has more than 38 significant digits", 1);
    check_from_error(t, "[[1e-200]]", "attribute [0][0]: number 1e-200 is out of", 0);
    check_from_error(t, "{\"a\":{\"b\":1e-200}}", "attribute a.b: number 1e-200", 0);
    check_from_error(t, "{\"aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee\":1e999}",
                     "attribute aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...: number 1e999", 1);
    check_from_error(t, "1e999", "number 1e999 is out of", 0);
    check_from_error(t, "[1,2]", "an item must be a JSON object", 1);
    check_from_error(t, "\"x\"", "an item must be a JSON object", 1);

    /* The message starts with the path, not with anything else. */
    json_object *doc = parse("{\"a\":[1e999]}");
    av = NULL;
    rc = ddbv_item_from_json(doc, &av, err, sizeof err);
    tap_ok(t, rc == -1 && av == NULL && strncmp(err, "attribute a[0]: number 1e999", 28) == 0,
           "error text begins with \"attribute a[0]: \"");
    json_object_put(doc);

    /* A path in a UTF-8 key cut by a short buffer does not end inside a character. */
    doc = parse("{\"\xc3\xa9\xc3\xa9\xc3\xa9\":1e999}");
    char small[16];
    rc = ddbv_item_from_json(doc, &av, small, sizeof small);
    tap_ok(t, rc == -1 && strcmp(small, "attribute \xc3\xa9\xc3\xa9") == 0,
           "a truncated message does not split a UTF-8 character");
    json_object_put(doc);

    /* A number without an exact text (built in C, not parsed) is refused, not rounded. */
    json_object *d = json_object_new_double(0.1);
    av = NULL;
    rc = ddbv_from_json(d, &av, err, sizeof err);
    tap_ok(t, rc == -1 && av == NULL && strstr(err, "no exact decimal form") != NULL,
           "from_json refuses a double without source text");
    json_object_put(d);

    /* Numbers built in C through json-c's own constructors. */
    json_object *ints = json_object_new_array();
    int built = ints && push(ints, json_object_new_int64(INT64_MIN)) == 0 &&
                push(ints, json_object_new_uint64(UINT64_MAX)) == 0 &&
                push(ints, ddbv_number_json("1.50")) == 0;
    av = NULL;
    rc = built ? ddbv_from_json(ints, &av, err, sizeof err) : -2;
    tap_ok(t, rc == 0 && strcmp(json_object_to_json_string_ext(av, PRINT_FLAGS),
                                "{\"L\":[{\"N\":\"-9223372036854775808\"},"
                                "{\"N\":\"18446744073709551615\"},{\"N\":\"1.5\"}]}") == 0,
           "from_json of int64 min, uint64 max and a ddbv_number_json value");
    json_object_put(av);
    json_object_put(ints);

    /* The depth guard for trees not made by the parser. */
    json_object *deep = json_object_new_array();
    json_object *cur = deep;
    for (int i = 0; i < 70 && cur; i++) {
        json_object *next = json_object_new_array();
        cur = push(cur, next) == 0 ? next : NULL;
    }
    av = NULL;
    rc = ddbv_from_json(deep, &av, err, sizeof err);
    tap_ok(t, rc == -1 && av == NULL && strstr(err, "more than 32 levels of nesting") != NULL,
           "from_json refuses 71 levels of nesting");
    json_object_put(deep);
    deep = parse("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    av = NULL;
    rc = ddbv_from_json(deep, &av, err, sizeof err);
    tap_ok(t, rc == 0 && av != NULL, "from_json takes DynamoDB's 32 levels");
    json_object_put(av);
    json_object_put(deep);
}

static void test_to_json(struct tap *t)
{
    check_to(t, "{\"S\":\"x\"}", "\"x\"", 0);
    check_to(t, "{\"S\":\"\"}", "\"\"", 0);
    check_to(t, "{\"N\":\"1.5\"}", "1.5", 0);
    check_to(t, "{\"N\":\"-0.5E-3\"}", "-0.5E-3", 0);
    check_to(t, "{\"N\":\"123456789012345678901234567890\"}", "123456789012345678901234567890", 0);
    check_to(t, "{\"BOOL\":true}", "true", 0);
    check_to(t, "{\"BOOL\":false}", "false", 0);
    check_to(t, "{\"NULL\":true}", "null", 0);
    check_to(t, "{\"B\":\"aGVsbG8=\"}", "\"aGVsbG8=\"", 0);
    check_to(t, "{\"SS\":[\"a\",\"b\"]}", "[\"a\",\"b\"]", 0);
    check_to(t, "{\"NS\":[\"1\",\"2.5\",\"99999999999999999999\",\"1E+125\"]}",
             "[1,2.5,99999999999999999999,1E+125]", 0);
    check_to(t, "{\"BS\":[\"aGk=\",\"eW8=\"]}", "[\"aGk=\",\"eW8=\"]", 0);
    check_to(t, "{\"L\":[]}", "[]", 0);
    check_to(t, "{\"M\":{}}", "{}", 0);
    check_to(t, "{\"L\":[{\"NULL\":true},{\"N\":\"7\"},{\"L\":[{\"S\":\"in\"}]}]}",
             "[null,7,[\"in\"]]", 0);
    check_to(t, "{\"M\":{\"a\":{\"NULL\":true},\"b\":{\"M\":{\"c\":{\"SS\":[\"x\"]}}}}}",
             "{\"a\":null,\"b\":{\"c\":[\"x\"]}}", 0);
    check_to(t, "{\"cloneID\":{\"S\":\"c1\"},\"n\":{\"N\":\"1E-130\"},\"tags\":{\"SS\":[\"t\"]},"
                "\"blob\":{\"B\":\"AAE=\"},\"gone\":{\"NULL\":true}}",
             "{\"cloneID\":\"c1\",\"n\":1E-130,\"tags\":[\"t\"],\"blob\":\"AAE=\",\"gone\":null}", 1);
    check_to(t, "{}", "{}", 1);

    check_to_error(t, "\"S\"", "malformed attribute value", 0);
    check_to_error(t, "null", "malformed attribute value", 0);
    check_to_error(t, "{}", "malformed attribute value (expected an object with one type key)", 0);
    check_to_error(t, "{\"S\":\"a\",\"N\":\"1\"}", "expected an object with one type key", 0);
    check_to_error(t, "{\"X\":\"a\"}", "malformed attribute value (unknown type key)", 0);
    check_to_error(t, "{\"s\":\"a\"}", "unknown type key", 0);
    check_to_error(t, "{\"S\":1}", "S and B must hold a string", 0);
    check_to_error(t, "{\"B\":null}", "S and B must hold a string", 0);
    check_to_error(t, "{\"N\":1}", "N must hold a string", 0);
    check_to_error(t, "{\"N\":\"abc\"}", "N is not a number", 0);
    check_to_error(t, "{\"N\":\".5\"}", "N is not a number", 0);
    check_to_error(t, "{\"N\":\"\"}", "N is not a number", 0);
    check_to_error(t, "{\"N\":\"1\\u00002\"}", "N is not a number", 0);
    check_to_error(t, "{\"BOOL\":\"true\"}", "BOOL must hold a boolean", 0);
    check_to_error(t, "{\"NULL\":false}", "NULL must hold true", 0);
    check_to_error(t, "{\"NULL\":null}", "NULL must hold true", 0);
    check_to_error(t, "{\"L\":{}}", "L must hold an array", 0);
    check_to_error(t, "{\"M\":[]}", "M must hold an object", 0);
    check_to_error(t, "{\"SS\":\"a\"}", "a set must be an array", 0);
    check_to_error(t, "{\"SS\":[\"a\",1]}", "attribute [1]: malformed attribute value "
                                            "(set members must be strings)", 0);
    check_to_error(t, "{\"NS\":[\"1\",\"x\"]}", "attribute [1]: malformed attribute value "
                                               "(NS member is not a number)", 0);
    check_to_error(t, "{\"BS\":[null]}", "set members must be strings", 0);
    check_to_error(t, "{\"L\":[{\"S\":\"a\"},null]}", "attribute [1]: malformed attribute value", 0);
    check_to_error(t, "{\"M\":{\"a\":{\"L\":[{\"S\":\"x\"},{\"Q\":1}]}}}",
                   "attribute a[1]: malformed attribute value (unknown type key)", 0);
    check_to_error(t, "{\"price\":{\"N\":\"abc\"}}",
                   "attribute price: malformed attribute value (N is not a number)", 1);
    check_to_error(t, "{\"ok\":{\"S\":\"x\"},\"bad\":{\"M\":{\"in\":{\"BOOL\":1}}}}",
                   "attribute bad.in: malformed attribute value (BOOL must hold a boolean)", 1);
    check_to_error(t, "[]", "malformed item", 1);
}

static void test_number_json(struct tap *t)
{
    static const char *const texts[] = {"1.50", "-0", "0", "1E+2", "-1.5e-7",
                                        "99999999999999999999", "1e400"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_object *n = ddbv_number_json(texts[i]);
        char back[64];
        tap_ok(t, n && strcmp(json_object_to_json_string(n), texts[i]) == 0 &&
                      json_input_number_text(n, back, sizeof back) == 0 &&
                      strcmp(back, texts[i]) == 0,
               "ddbv_number_json(%s) prints and reads back exactly", texts[i]);
        json_object_put(n);
    }
    static const char *const bad[] = {"", ".5", "5.", "+1", "01", "1e", "abc", " 1", "1 ", "NaN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object *n = ddbv_number_json(bad[i]);
        tap_ok(t, n == NULL, "ddbv_number_json refuses \"%s\"", bad[i]);
        json_object_put(n);
    }
    tap_ok(t, ddbv_number_json(NULL) == NULL, "ddbv_number_json(NULL) is NULL");

    json_object *n = ddbv_number_json("2.5");
    tap_ok(t, n && json_object_get_double(n) == 2.5, "ddbv_number_json carries an approximate double");
    json_object *copy = NULL;
    tap_ok(t, n && json_object_deep_copy(n, &copy, NULL) == 0 &&
                  strcmp(json_object_to_json_string(copy), "2.5") == 0,
           "json-c's deep copy keeps the number text");
    json_object_put(copy);
    json_object_put(n);
}

/* A whole item as it travels: client JSON -> item -> DynamoDB's JSON text -> back. */
static void test_item_round_trip(struct tap *t)
{
    const char *client =
        "{\"cloneID\":\"job-1\",\"status\":\"queued\",\"price\":12345678901234567890.123456789,"
        "\"tiny\":-1E-130,\"huge\":9.9999999999999999999999999999999999999E+125,"
        "\"count\":18446744073709551616,\"tags\":[\"a\",1,{\"deep\":[null,false]}],"
        "\"empty\":\"\",\"obj\":{}}";
    const char *expected =
        "{\"cloneID\":\"job-1\",\"status\":\"queued\",\"price\":12345678901234567890.123456789,"
        "\"tiny\":-1E-130,\"huge\":9.9999999999999999999999999999999999999E+125,"
        "\"count\":18446744073709551616,\"tags\":[\"a\",1,{\"deep\":[null,false]}],"
        "\"empty\":\"\",\"obj\":{}}";
    json_object *value = parse(client);
    json_object *item = NULL, *reread = NULL, *plain = NULL;
    char err[256] = "";
    int ok = value && ddbv_item_from_json(value, &item, err, sizeof err) == 0;
    if (ok) {
        /* DynamoDB's answer is text again; read it the way the client code does. */
        const char *wire = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN);
        reread = parse(wire);
        ok = reread && ddbv_item_to_json(reread, &plain, err, sizeof err) == 0 &&
             strcmp(json_object_to_json_string_ext(plain, PRINT_FLAGS), expected) == 0;
    }
    if (!tap_ok(t, ok, "a whole item survives client -> DynamoDB JSON -> client"))
        tap_diag(t, "err=%s got=%s", err,
                 plain ? json_object_to_json_string_ext(plain, PRINT_FLAGS) : "");
    json_object_put(value);
    json_object_put(item);
    json_object_put(reread);
    json_object_put(plain);
}

/* A string of n copies of c, owned by the caller. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memset(s, c, n);
        s[n] = '\0';
    }
    return s;
}

/* {name: {"S": "v"}} as an item, checked; want NULL means it must pass, else the error must hold want. */
static void check_item_limit(struct tap *t, json_object *item, const char *key, const char *want, const char *what)
{
    char err[300] = "";
    int rc = ddbv_item_check(item, key, err, sizeof err);
    int ok = want ? rc == -1 && strstr(err, want) != NULL : rc == 0;
    if (!tap_ok(t, ok, "item_check: %s", what))
        tap_diag(t, "rc=%d err=%s", rc, err);
}

/* n levels of L around a number, as plain JSON text (for from_json) */
static char *nested_lists(int n)
{
    char *s = malloc((size_t)n * 2 + 2);
    if (!s)
        return NULL;
    memset(s, '[', (size_t)n);
    s[n] = '1';
    memset(s + n + 1, ']', (size_t)n);
    s[2 * n + 1] = '\0';
    return s;
}

static void test_dynamodb_limits(struct tap *t)
{
    char err[300];
    json_object *av = NULL;

    /* Attribute names: 1..65535 bytes, at the top and inside maps. */
    check_from_error(t, "{\"\":1}", "attribute name is empty; DynamoDB's attribute names are 1 to 65535", 1);
    check_from_error(t, "{\"a\":{\"\":1}}", "attribute a: an attribute name is empty", 1);
    check_from_error(t, "{\"\":1}", "attribute name is empty", 0);
    check_from(t, "{\"a\":1}", "{\"a\":{\"N\":\"1\"}}", 1);
    char *name = repeat('n', DDBV_NAME_MAX + 1);
    for (int nested = 0; nested < 2 && name; nested++) {
        for (size_t len = DDBV_NAME_MAX; len <= DDBV_NAME_MAX + 1; len++) {
            memset(name, 'n', len);
            name[len] = '\0';
            json_object *o = json_object_new_object(), *inner = json_object_new_object();
            json_object_object_add(inner, name, json_object_new_string("v"));
            json_object_object_add(o, "m", nested ? inner : json_object_new_string("x"));
            if (!nested)
                json_object_object_add(o, name, inner);
            av = NULL;
            int rc = ddbv_item_from_json(o, &av, err, sizeof err);
            if (len == DDBV_NAME_MAX)
                tap_ok(t, rc == 0, "a %zu-byte attribute name is taken (%s)", len, nested ? "in a map" : "top");
            else
                tap_ok(t, rc == -1 && av == NULL && strstr(err, "an attribute name is 65536 bytes; DynamoDB's") != NULL,
                       "a 65536-byte attribute name is refused (%s): %s", nested ? "in a map" : "top", err);
            json_object_put(av);
            json_object_put(o);
        }
    }
    free(name);

    /* Nesting: 32 levels of L or M inside one attribute, not 33; the item's own map is no level. */
    for (int n = 32; n <= 33; n++) {
        char *list = nested_lists(n);
        char *text = list ? malloc(strlen(list) + 16) : NULL;
        if (text) {
            snprintf(text, strlen(list) + 16, "{\"a\":%s}", list);
            json_object *o = parse(text);
            av = NULL;
            int rc = ddbv_item_from_json(o, &av, err, sizeof err);
            tap_ok(t, n == 32 ? rc == 0 : rc == -1 && strstr(err, "more than 32 levels of nesting; DynamoDB's limit is 32"),
                   "%d levels of lists in an attribute are %s: %s", n, n == 32 ? "taken" : "refused", err);
            json_object_put(av);
            json_object_put(o);
            o = parse(list);
            av = NULL;
            rc = ddbv_from_json(o, &av, err, sizeof err);
            tap_ok(t, n == 32 ? rc == 0 : rc == -1, "%d levels of lists as one value are %s", n,
                   n == 32 ? "taken" : "refused");
            json_object_put(av);
            json_object_put(o);
        }
        free(text);
        free(list);
    }
    json_object *deep_av = parse("{\"a\":{\"M\":{\"b\":{\"L\":[]}}}}");
    check_item_limit(t, deep_av, NULL, NULL, "two levels in attribute-value form");
    json_object_put(deep_av);

    /* The item size, DynamoDB's way: names count. {"k":"x","blob":"..."}: 1+1 + 4+len. */
    size_t fixed = 1 + 1 + 4;
    for (size_t total = DDBV_ITEM_MAX; total <= DDBV_ITEM_MAX + 1; total++) {
        char *blob = repeat('b', total - fixed);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "k", json_object_new_string("x"));
        json_object_object_add(o, "blob", json_object_new_string(blob ? blob : ""));
        av = NULL;
        int rc = ddbv_item_from_json(o, &av, err, sizeof err);
        if (total == DDBV_ITEM_MAX)
            tap_ok(t, rc == 0 && ddbv_item_size(av) == DDBV_ITEM_MAX, "an item of exactly 409600 bytes is taken");
        else
            tap_ok(t, rc == -1 && strstr(err, "the item is 409601 bytes; DynamoDB limits an item to 400 KB"),
                   "an item of 409601 bytes is refused: %s", err);
        json_object_put(av);
        json_object_put(o);
        free(blob);
    }
    /* A longer name tips the same value over: the name is part of the size. */
    char *blob = repeat('b', DDBV_ITEM_MAX - fixed);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "k", json_object_new_string("x"));
    json_object_object_add(o, "blob2", json_object_new_string(blob ? blob : ""));
    av = NULL;
    tap_ok(t, ddbv_item_from_json(o, &av, err, sizeof err) == -1, "the attribute names count in the 400 KB");
    json_object_put(av);
    json_object_put(o);
    /* One value over 400 KB cannot fit in any item (updateValue of part 1). */
    json_object *big = json_object_new_string(blob ? blob : "");
    av = NULL;
    tap_ok(t, ddbv_from_json(big, &av, err, sizeof err) == 0, "a value of 409594 bytes is taken");
    json_object_put(av);
    json_object_put(big);
    free(blob);
    blob = repeat('b', DDBV_ITEM_MAX + 1);
    big = json_object_new_string(blob ? blob : "");
    av = NULL;
    tap_ok(t, ddbv_from_json(big, &av, err, sizeof err) == -1 && av == NULL && strstr(err, "400 KB"),
           "a value of 409601 bytes is refused: %s", err);
    json_object_put(big);
    free(blob);

    /* Sizes of the other types, as DynamoDB counts them. */
    struct {
        const char *item;
        size_t size;
    } sizes[] = {
        {"{\"n\":{\"N\":\"1\"}}", 1 + 2},        {"{\"n\":{\"N\":\"12\"}}", 1 + 2},
        {"{\"n\":{\"N\":\"1.2\"}}", 1 + 3},      {"{\"n\":{\"N\":\"123\"}}", 1 + 3},
        {"{\"n\":{\"N\":\"-5\"}}", 1 + 3},       {"{\"n\":{\"N\":\"0\"}}", 1 + 1},
        {"{\"n\":{\"N\":\"0.12\"}}", 1 + 2},     {"{\"n\":{\"N\":\"1200\"}}", 1 + 2},
        {"{\"b\":{\"BOOL\":true}}", 1 + 1},       {"{\"z\":{\"NULL\":true}}", 1 + 1},
        {"{\"s\":{\"S\":\"\u00e9\"}}", 1 + 2},  {"{\"b\":{\"B\":\"AAEC\"}}", 1 + 3},
        {"{\"l\":{\"L\":[]}}", 1 + 3},            {"{\"l\":{\"L\":[{\"S\":\"ab\"}]}}", 1 + 3 + 1 + 2},
        {"{\"m\":{\"M\":{\"ab\":{\"S\":\"c\"}}}}", 1 + 3 + 1 + 2 + 1},
        {"{\"s\":{\"SS\":[\"a\",\"bc\"]}}", 1 + 3},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        json_object *item = parse(sizes[i].item);
        size_t got = ddbv_item_size(item);
        if (!tap_ok(t, got == sizes[i].size, "size of %s is %zu", sizes[i].item, sizes[i].size))
            tap_diag(t, "got %zu", got);
        json_object_put(item);
    }

    /* Sets: not empty, no duplicates (numbers by value). */
    struct {
        const char *item;
        const char *want;
    } sets[] = {
        {"{\"s\":{\"SS\":[]}}", "attribute s: an empty set; DynamoDB's sets hold at least one member"},
        {"{\"s\":{\"NS\":[]}}", "an empty set"},
        {"{\"s\":{\"BS\":[]}}", "an empty set"},
        {"{\"s\":{\"SS\":[\"a\",\"b\",\"a\"]}}", "attribute s: a set holds a duplicate; DynamoDB's set"},
        {"{\"s\":{\"NS\":[\"1\",\"1.0\"]}}", "a set holds a duplicate"},
        {"{\"s\":{\"NS\":[\"1E2\",\"100\"]}}", "a set holds a duplicate"},
        {"{\"s\":{\"BS\":[\"AA==\",\"AA==\"]}}", "a set holds a duplicate"},
        {"{\"s\":{\"NS\":[\"1\",\"1E+126\"]}}", "out of DynamoDB's range"},
        {"{\"s\":{\"M\":{\"a\":{\"SS\":[]}}}}", "attribute s.a: an empty set"},
        {"{\"n\":{\"N\":\"1E-131\"}}", "out of DynamoDB's range"},
        {"{\"n\":{\"X\":\"1\"}}", "unknown type key"},
        {"{\"s\":{\"SS\":[\"a\",\"b\"]}}", NULL},
        {"{\"s\":{\"NS\":[\"1\",\"2\",\"1.5\"]}}", NULL},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        json_object *item = parse(sets[i].item);
        check_item_limit(t, item, NULL, sets[i].want, sets[i].item);
        json_object_put(item);
    }

    /* The partition key: present, a string (or number, binary) of 1..2048 bytes. */
    for (size_t len = 0; len <= DDBV_PARTITION_KEY_MAX + 1; len += len == 0 ? DDBV_PARTITION_KEY_MAX : 1) {
        char *key = repeat('k', len);
        json_object *item = json_object_new_object();
        json_object *s = json_object_new_object();
        json_object_object_add(s, "S", json_object_new_string(key ? key : ""));
        json_object_object_add(item, "cloneID", s);
        char what[64];
        snprintf(what, sizeof what, "a %zu-byte key", len);
        check_item_limit(t, item, "cloneID", len >= 1 && len <= DDBV_PARTITION_KEY_MAX ? NULL
                         : "DynamoDB's partition keys are 1 to 2048 bytes", what);
        json_object_put(item);
        free(key);
    }
    json_object *nokey = parse("{\"other\":{\"S\":\"x\"}}");
    check_item_limit(t, nokey, "cloneID", "attribute cloneID: the key attribute is missing", "no key attribute");
    json_object_put(nokey);
    json_object *boolkey = parse("{\"cloneID\":{\"BOOL\":true}}");
    check_item_limit(t, boolkey, "cloneID", "a key attribute must be a string", "a BOOL key");
    json_object_put(boolkey);
}

int main(void)
{
    struct tap t = {0};
    test_dynamodb_limits(&t);
    test_canonical(&t);
    test_number_round_trips(&t);
    test_from_json(&t);
    test_to_json(&t);
    test_number_json(&t);
    test_item_round_trip(&t);
    return tap_done(&t);
}
