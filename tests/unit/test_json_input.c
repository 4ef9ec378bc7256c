/* test_json_input.c — unit tests for the strict JSON parser (src/json_input.c).
 * Pins down strictness, limits, error messages and exact number texts, including json-c's clamp cases. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_input.h"
#include "tap.h"

#define PRINT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A TAP-safe rendering of test input: no newlines or raw bytes in the output. */
static const char *printable(const char *text, size_t len, char *out, size_t outlen)
{
    size_t pos = 0;
    for (size_t i = 0; i < len && pos + 5 < outlen; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f) {
            out[pos++] = (char)c;
        } else {
            int n = snprintf(out + pos, outlen - pos, "\\x%02x", c);
            if (n < 0 || (size_t)n >= outlen - pos)
                break;
            pos += (size_t)n;
        }
    }
    out[pos] = '\0';
    return out;
}

/* Parse text of explicit length; 0 on success. */
static int parse_len(const char *text, size_t len, int depth, json_object **out, char *err,
                     size_t errlen)
{
    return json_input_parse(text, len, depth, out, err, errlen);
}

/* The text parses and prints back as expected (json-c's serializer, plain). */
static void check_reprint(struct tap *t, const char *text, const char *expected)
{
    json_object *obj = NULL;
    char err[128];
    int rc = parse_len(text, strlen(text), 32, &obj, err, sizeof err);
    const char *printed = rc == 0 ? json_object_to_json_string_ext(obj, PRINT_FLAGS) : NULL;
    char name[128];
    if (!tap_ok(t, rc == 0 && printed && strcmp(printed, expected) == 0, "reprint %s",
                printable(text, strlen(text), name, sizeof name)))
        tap_diag(t, "rc=%d err=%s printed=%s", rc, rc == 0 ? "" : err, printed ? printed : "");
    json_object_put(obj);
}

/* The text is a single number whose exact text and type come back. */
static void check_number(struct tap *t, const char *text, enum json_type type)
{
    json_object *obj = NULL;
    char err[128];
    char back[256];
    int rc = parse_len(text, strlen(text), 32, &obj, err, sizeof err);
    int ok = rc == 0 && json_object_is_type(obj, type) &&
             json_input_number_text(obj, back, sizeof back) == 0 && strcmp(back, text) == 0 &&
             strcmp(json_object_to_json_string_ext(obj, PRINT_FLAGS), text) == 0;
    if (!tap_ok(t, ok, "number %s keeps its exact text as %s", text, json_type_to_name(type)))
        tap_diag(t, "rc=%d err=%s", rc, rc == 0 ? "" : err);
    json_object_put(obj);
}

/* The text (of explicit length) is refused with a message containing want. */
static void check_error_len(struct tap *t, const char *text, size_t len, int depth,
                            const char *want, const char *name)
{
    json_object *obj = (json_object *)&obj; /* must be reset to NULL on failure */
    char err[128] = "unset";
    int rc = parse_len(text, len, depth, &obj, err, sizeof err);
    int ok = rc == -1 && obj == NULL && strstr(err, want) != NULL;
    if (!tap_ok(t, ok, "rejects %s", name))
        tap_diag(t, "rc=%d err=%s (wanted \"%s\")", rc, err, want);
    if (rc == 0)
        json_object_put(obj);
}

static void check_error(struct tap *t, const char *text, const char *want)
{
    char name[128];
    check_error_len(t, text, strlen(text), 32, want,
                    printable(text, strlen(text), name, sizeof name));
}

/* n nested arrays around a number, or n nested objects {"a":...}. */
static char *nested(int n, int objects)
{
    size_t len = (size_t)n * (objects ? 6 : 2) + 2;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        memcpy(s + pos, objects ? "{\"a\":" : "[", objects ? 5 : 1);
        pos += objects ? 5 : 1;
    }
    s[pos++] = '1';
    for (int i = 0; i < n; i++)
        s[pos++] = objects ? '}' : ']';
    s[pos] = '\0';
    return s;
}

static void check_depth(struct tap *t, int levels, int limit, int objects, int accept)
{
    char *text = nested(levels, objects);
    json_object *obj = NULL;
    char err[128] = "";
    char want[64];
    snprintf(want, sizeof want, "JSON nested deeper than %d levels", limit);
    int rc = text ? parse_len(text, strlen(text), limit, &obj, err, sizeof err) : -2;
    int ok = accept ? rc == 0 && obj != NULL : rc == -1 && obj == NULL && strcmp(err, want) == 0;
    if (!tap_ok(t, ok, "%d nested %s with limit %d %s", levels, objects ? "objects" : "arrays",
                limit, accept ? "accepted" : "rejected"))
        tap_diag(t, "rc=%d err=%s", rc, err);
    json_object_put(obj);
    free(text);
}

static void test_values(struct tap *t)
{
    check_reprint(t, "{\"a\":[1,true,false,null,\"x\"],\"b\":{}}",
                  "{\"a\":[1,true,false,null,\"x\"],\"b\":{}}");
    check_reprint(t, " \t\r\n[ 1 , { \"k\" : [ ] } ] \n\t ", "[1,{\"k\":[]}]");
    check_reprint(t, "\"esc \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00\"",
                  "\"esc \\\" \\\\ / \\b\\f\\n\\r\\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    check_reprint(t, "\"raw \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"",
                  "\"raw \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
    check_reprint(t, "{\"a\":1,\"a\":2,\"b\":3}", "{\"a\":2,\"b\":3}");
    check_reprint(t, "\"\"", "\"\"");

    json_object *obj = NULL;
    char err[128];
    int rc = parse_len("null", 4, 32, &obj, err, sizeof err);
    tap_ok(t, rc == 0 && obj == NULL, "lone null gives 0 and a NULL value");
    rc = parse_len("  null \n", 8, 32, &obj, err, sizeof err);
    tap_ok(t, rc == 0 && obj == NULL, "null with surrounding whitespace");

    rc = parse_len("\"a\\u0000b\"", 10, 32, &obj, err, sizeof err);
    tap_ok(t, rc == 0 && json_object_get_string_len(obj) == 3 &&
                  memcmp(json_object_get_string(obj), "a\0b", 3) == 0,
           "\\u0000 inside a string value is kept with its length");
    json_object_put(obj);
    obj = NULL;

    /* Not NUL-terminated: only len bytes count. */
    const char unterminated[] = {'[', '7', ']', 'x', 'y'};
    rc = parse_len(unterminated, 3, 32, &obj, err, sizeof err);
    tap_ok(t, rc == 0 && json_object_array_length(obj) == 1 &&
                  json_object_get_int(json_object_array_get_idx(obj, 0)) == 7,
           "reads exactly len bytes of a buffer without a NUL");
    json_object_put(obj);
    obj = NULL;

    /* A large string, to exercise the scratch buffer growing. */
    size_t big = 200000;
    char *text = malloc(big + 3);
    if (text) {
        text[0] = '"';
        memset(text + 1, 'x', big);
        text[big + 1] = '"';
        text[big + 2] = '\0';
        rc = parse_len(text, big + 2, 32, &obj, err, sizeof err);
        tap_ok(t, rc == 0 && (size_t)json_object_get_string_len(obj) == big,
               "200000-byte string");
        json_object_put(obj);
        obj = NULL;
        free(text);
    } else {
        tap_ok(t, 0, "200000-byte string (out of memory in the test)");
    }

    rc = parse_len("1.5", 3, 32, &obj, err, sizeof err);
    tap_ok(t, rc == 0 && json_object_get_double(obj) == 1.5, "a fraction also carries its double");
    json_object_put(obj);
}

static void test_numbers(struct tap *t)
{
    check_number(t, "0", json_type_int);
    check_number(t, "123", json_type_int);
    check_number(t, "-42", json_type_int);
    check_number(t, "999999999999999999", json_type_int);   /* 18 digits: int64 */
    check_number(t, "-999999999999999999", json_type_int);
    check_number(t, "1234567890123456789", json_type_double); /* 19 digits: source text */
    check_number(t, "9223372036854775807", json_type_double); /* int64 max */
    check_number(t, "-9223372036854775808", json_type_double); /* int64 min */
    check_number(t, "9223372036854775808", json_type_double);
    check_number(t, "18446744073709551615", json_type_double);
    check_number(t, "18446744073709551616", json_type_double); /* json-c clamps this one */
    check_number(t, "99999999999999999999", json_type_double); /* and this one */
    check_number(t, "-99999999999999999999", json_type_double);
    check_number(t, "123456789012345678901", json_type_double); /* 21 digits */
    check_number(t, "1234567890123456789012345678901234567890", json_type_double); /* 40 */
    check_number(t, "1.50", json_type_double);
    check_number(t, "-0.0", json_type_double);
    check_number(t, "1E+02", json_type_double);
    check_number(t, "1e-0005", json_type_double);
    check_number(t, "1e400", json_type_double);
    check_number(t, "-1e400", json_type_double);
    check_number(t, "1e-400", json_type_double);
    check_number(t, "1e999999999999", json_type_double);

    json_object *obj = NULL;
    char err[128];
    char back[64];
    int rc = parse_len("-0", 2, 32, &obj, err, sizeof err);
    tap_ok(t, rc == 0 && json_input_number_text(obj, back, sizeof back) == 0 &&
                  strcmp(back, "0") == 0,
           "-0 is the integer 0");
    json_object_put(obj);

    /* Numbers deep inside values, and lookalikes inside strings that must stay strings. */
    const char *doc =
        "{\"a\":[1,{\"b\":12345678901234567890123}],\"s\":\"12345678901234567890123\","
        "\"q\":[\"x\\\"99999999999999999999\\\\\",18446744073709551616],"
        "\"c\":-99999999999999999999,\"d\":[[1.0e+5]]}";
    check_reprint(t, doc, doc);
    obj = NULL;
    rc = parse_len(doc, strlen(doc), 32, &obj, err, sizeof err);
    json_object *a = NULL, *s = NULL, *q = NULL;
    int found = rc == 0 && json_object_object_get_ex(obj, "a", &a) &&
                json_object_object_get_ex(obj, "s", &s) && json_object_object_get_ex(obj, "q", &q);
    json_object *b = NULL;
    found = found && json_object_object_get_ex(json_object_array_get_idx(a, 1), "b", &b);
    tap_ok(t, found && json_input_number_text(b, back, sizeof back) == 0 &&
                  strcmp(back, "12345678901234567890123") == 0,
           "long integer inside an object inside an array is exact");
    tap_ok(t, found && json_object_is_type(s, json_type_string) &&
                  strcmp(json_object_get_string(s), "12345678901234567890123") == 0,
           "digits inside a string stay a string, untouched");
    json_object *q0 = found ? json_object_array_get_idx(q, 0) : NULL;
    json_object *q1 = found ? json_object_array_get_idx(q, 1) : NULL;
    tap_ok(t, q0 && strcmp(json_object_get_string(q0), "x\"99999999999999999999\\") == 0,
           "string with escaped quote and backslash around digits decoded");
    tap_ok(t, q1 && json_input_number_text(q1, back, sizeof back) == 0 &&
                  strcmp(back, "18446744073709551616") == 0,
           "long integer after a string with escaped quotes is exact");
    json_object_put(obj);
}

static void test_number_text(struct tap *t)
{
    char out[64];
    json_object *obj = json_object_new_int64(INT64_MIN);
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == 0 &&
                  strcmp(out, "-9223372036854775808") == 0,
           "number_text of int64 min");
    json_object_put(obj);
    obj = json_object_new_int64(INT64_MAX);
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == 0 &&
                  strcmp(out, "9223372036854775807") == 0,
           "number_text of int64 max");
    json_object_put(obj);
    obj = json_object_new_uint64(UINT64_MAX);
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == 0 &&
                  strcmp(out, "18446744073709551615") == 0,
           "number_text of a json-c uint64");
    json_object_put(obj);

    obj = json_object_new_int64(12345);
    tap_ok(t, json_input_number_text(obj, out, 5) == -1, "number_text: buffer one byte short");
    tap_ok(t, json_input_number_text(obj, out, 6) == 0 && strcmp(out, "12345") == 0,
           "number_text: buffer exactly long enough");
    json_object_put(obj);

    obj = json_object_new_double_s(1.0, "12345");
    tap_ok(t, json_input_number_text(obj, out, 5) == -1 &&
                  json_input_number_text(obj, out, 6) == 0 && strcmp(out, "12345") == 0,
           "number_text of a double with text respects the buffer size");
    json_object_put(obj);

    obj = json_object_new_double(0.1);
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == -1,
           "number_text of a double without source text is -1");
    json_object_put(obj);
    obj = json_object_new_double(NAN);
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == -1, "number_text of NaN is -1");
    json_object_put(obj);
    obj = json_object_new_double(-INFINITY);
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == -1,
           "number_text of -Infinity is -1");
    json_object_put(obj);
    obj = json_object_new_double_s(1.0, "one");
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == -1,
           "number_text refuses a source text that is not a number");
    json_object_put(obj);
    obj = json_object_new_double(2.5);
    json_object_set_serializer(obj, json_object_double_to_json_string, (void *)"%.3f", NULL);
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == -1,
           "number_text refuses a double printed through a format");
    json_object_put(obj);
    obj = json_object_new_string("12");
    tap_ok(t, json_input_number_text(obj, out, sizeof out) == -1 &&
                  json_input_number_text(NULL, out, sizeof out) == -1,
           "number_text of a string or NULL is -1");
    json_object_put(obj);
}

static void test_errors(struct tap *t)
{
    check_error_len(t, "", 0, 32, "empty JSON input", "empty input");
    check_error_len(t, NULL, 0, 32, "empty JSON input", "NULL input of length 0");
    check_error_len(t, " \n\t\r", 4, 32, "empty JSON input", "whitespace only");
    check_error(t, "{} x", "malformed JSON at byte 3");
    check_error(t, "1 2", "malformed JSON at byte 2");
    check_error(t, "[1]]", "malformed JSON at byte 3");
    check_error(t, "nullx", "malformed JSON at byte 4");
    check_error(t, "[1,]", "malformed JSON at byte 3");
    check_error(t, "{\"a\":1,}", "malformed JSON at byte 7");
    check_error(t, "[1 2]", "malformed JSON at byte 3");
    check_error(t, "{\"a\" 1}", "malformed JSON at byte 5");
    check_error(t, "{1:2}", "malformed JSON at byte 1");
    check_error(t, "{'a':2}", "malformed JSON at byte 1");
    check_error(t, "'a'", "malformed JSON at byte 0");
    check_error(t, "/*c*/1", "malformed JSON at byte 0");
    check_error(t, "TRUE", "malformed JSON at byte 0");
    check_error(t, "tru", "malformed JSON at byte 0");
    check_error(t, "nul", "malformed JSON at byte 0");
    check_error(t, "NaN", "malformed JSON at byte 0");
    check_error(t, "Infinity", "malformed JSON at byte 0");
    check_error(t, "-Infinity", "malformed number at byte 0");
    check_error(t, "[0,1.]", "malformed number at byte 3");
    check_error(t, ".5", "malformed JSON at byte 0");
    check_error(t, "01", "malformed number at byte 0");
    check_error(t, "-01", "malformed number at byte 0");
    check_error(t, "+1", "malformed JSON at byte 0");
    check_error(t, "1e", "malformed number at byte 0");
    check_error(t, "1e+", "malformed number at byte 0");
    check_error(t, "-", "malformed number at byte 0");
    check_error(t, "0x10", "malformed JSON at byte 1");
    check_error(t, "1.2.3", "malformed number at byte 0");
    check_error(t, "[", "unexpected end of input");
    check_error(t, "[1", "unexpected end of input");
    check_error(t, "{\"a\":", "unexpected end of input");
    check_error(t, "\"abc", "unterminated string");
    check_error(t, "\"abc\\", "unterminated string");
    check_error(t, "\"a\tb\"", "unescaped control character in JSON string at byte 2");
    check_error(t, "\"a\nb\"", "unescaped control character in JSON string at byte 2");
    check_error(t, "\"\\x41\"", "invalid escape in JSON string at byte 1");
    check_error(t, "\"\\u12G4\"", "invalid \\u escape in JSON string at byte 1");
    check_error(t, "\"\\u12\"", "invalid \\u escape");
    check_error(t, "\"\\ud800\"", "unpaired surrogate");
    check_error(t, "\"\\ud800x\"", "unpaired surrogate");
    check_error(t, "\"\\ud800\\u0041\"", "unpaired surrogate");
    check_error(t, "\"\\udc00\"", "unpaired surrogate");
    check_error(t, "{\"a\\u0000b\":1}", "object key with \\u0000");
    check_error(t, "\xef\xbb\xbf{}", "malformed JSON at byte 0");

    check_error(t, "\"\xff\"", "invalid UTF-8 in JSON at byte 1");
    check_error(t, "\"ok\xc3\"", "invalid UTF-8 in JSON at byte 3");
    check_error(t, "\"\xc0\x80\"", "invalid UTF-8");       /* overlong NUL */
    check_error(t, "\"\xe0\x80\xaf\"", "invalid UTF-8");   /* overlong '/' */
    check_error(t, "\"\xed\xa0\x80\"", "invalid UTF-8");   /* encoded surrogate */
    check_error(t, "\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* past U+10FFFF */
    check_error(t, "\"\xe2\x82\"", "invalid UTF-8");       /* cut sequence */
    check_error(t, "\"\x80\"", "invalid UTF-8");           /* lone continuation */
    check_error(t, "[1]\xff", "invalid UTF-8 in JSON at byte 3");
    check_error(t, "{\"\xfe\":1}", "invalid UTF-8 in JSON at byte 2");

    static const char nul_in_string[] = "{\"a\":\"b\0c\"}";
    check_error_len(t, nul_in_string, sizeof nul_in_string - 1, 32, "NUL byte in JSON at byte 7",
                    "NUL inside a string");
    static const char nul_after[] = "{}\0";
    check_error_len(t, nul_after, sizeof nul_after - 1, 32, "NUL byte in JSON at byte 2",
                    "NUL after the value");
    static const char nul_first[] = "\0{}";
    check_error_len(t, nul_first, sizeof nul_first - 1, 32, "NUL byte in JSON at byte 0",
                    "NUL before the value");

    check_error_len(t, "1", 1, -1, "depth limit", "a negative depth limit");
    check_error_len(t, "1", 1, 100000, "depth limit", "an absurd depth limit");
    json_object *obj = NULL;
    tap_ok(t, json_input_parse("1", 1, 32, NULL, NULL, 0) == -1,
           "no out pointer and no error buffer: -1 without crashing");
    char tiny[8];
    tap_ok(t, json_input_parse("[", 1, 32, &obj, tiny, sizeof tiny) == -1 && obj == NULL &&
                  strlen(tiny) == sizeof tiny - 1,
           "a short error buffer is filled and terminated");
}

static void test_depth(struct tap *t)
{
    check_depth(t, 32, 32, 0, 1);
    check_depth(t, 33, 32, 0, 0);
    check_depth(t, 32, 32, 1, 1);
    check_depth(t, 33, 32, 1, 0);
    check_depth(t, 160, 160, 0, 1);
    check_depth(t, 161, 160, 1, 0);
    check_depth(t, 1, 0, 0, 0);

    json_object *obj = NULL;
    char err[128];
    tap_ok(t, json_input_parse("7", 1, 0, &obj, err, sizeof err) == 0 &&
                  json_object_get_int(obj) == 7,
           "depth limit 0 still takes a scalar");
    json_object_put(obj);
    obj = NULL;
    tap_ok(t, json_input_parse("[[]]", 4, 2, &obj, err, sizeof err) == 0,
           "empty innermost array at the limit");
    json_object_put(obj);
    obj = NULL;

    /* A hostile 1 MB of '[' must stop at the limit, not recurse a million times. */
    size_t n = 1000000;
    char *deep = malloc(n);
    if (deep) {
        memset(deep, '[', n);
        int rc = json_input_parse(deep, n, 32, &obj, err, sizeof err);
        tap_ok(t, rc == -1 && obj == NULL && strstr(err, "deeper than 32") != NULL,
               "a million '[' rejected at the depth limit");
        free(deep);
    } else {
        tap_ok(t, 0, "a million '[' (out of memory in the test)");
    }
}

/* A \u escape cut short by the end of the input (len), with the rest of the escape right behind it in memory:
 * the parser must not read past len. First the cut text inside the whole literal (bytes past len are valid
 * hex digits, so a parser that reads them decodes them and fails later with another message), then the same
 * bytes alone in a buffer of exactly len bytes (no NUL, no slack: AddressSanitizer sees any read past it). */
static void test_cut_escapes(struct tap *t)
{
    static const struct {
        const char *text;
        size_t len;
        const char *want;
    } cases[] = {
        {"\"\\u0041\"", 3, "invalid \\u escape in JSON string at byte 1"},
        {"\"\\u0041\"", 5, "invalid \\u escape in JSON string at byte 1"},
        {"\"\\u0041\"", 6, "invalid \\u escape in JSON string at byte 1"},
        {"[\"\\u00e9\"]", 6, "invalid \\u escape in JSON string at byte 2"},
        {"\"\\ud83d\\ude00\"", 9, "unpaired surrogate \\u escape in JSON string at byte 1"},
        {"\"\\ud83d\\ude00\"", 12, "unpaired surrogate \\u escape in JSON string at byte 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[160], shown[64];
        printable(cases[i].text, cases[i].len, shown, sizeof shown);
        snprintf(name, sizeof name, "%s cut at %zu bytes, the rest of the escape after it", shown, cases[i].len);
        check_error_len(t, cases[i].text, cases[i].len, 32, cases[i].want, name);
        char *exact = malloc(cases[i].len);
        if (!tap_ok(t, exact != NULL, "buffer of %zu bytes", cases[i].len))
            continue;
        memcpy(exact, cases[i].text, cases[i].len);
        snprintf(name, sizeof name, "%s alone in a buffer of exactly %zu bytes", shown, cases[i].len);
        check_error_len(t, exact, cases[i].len, 32, cases[i].want, name);
        free(exact);
    }
}

int main(void)
{
    struct tap t = {0};
    test_values(&t);
    test_numbers(&t);
    test_number_text(&t);
    test_errors(&t);
    test_depth(&t);
    test_cut_escapes(&t);
    return tap_done(&t);
}
