/* json_input.c — a strict JSON parser for untrusted text that builds json-c objects.
 * Its own recursive descent instead of json_tokener, because json-c 0.16 loses or bends input (see below). */
#include "config.h"

#include "json_input.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "text.h"

/*
 * Why not json_tokener: checked against json-c 0.16 with JSON_TOKENER_STRICT and
 * JSON_TOKENER_VALIDATE_UTF8 set, it
 *   - clamps integer literals outside int64/uint64 to the limits without an error
 *     (99999999999999999999 becomes 18446744073709551615), which would store a wrong number;
 *   - accepts NaN, Infinity, -Infinity and "1." although they are not JSON;
 *   - accepts overlong UTF-8 (C0 80), UTF-8-encoded surrogates (ED A0 80) and code points past
 *     U+10FFFF, which DynamoDB would then refuse or store as garbage;
 *   - silently replaces an unpaired \uD800 escape by U+FFFD and cuts an object key at \u0000;
 *   - counts a scalar as a nesting level, so its depth limit is off by one for our purpose.
 * A pre-pass that fixes all of that would have to tokenize the text anyway, so this file is
 * the tokenizer: it follows RFC 8259 exactly and hands values to json-c's constructors.
 */

/* Recursion is bounded by the caller's limit; this ceiling keeps a wrong limit from
 * turning hostile input into a stack overflow. */
#define JSON_INPUT_DEPTH_CEILING 1000

/* Integers with up to this many digits always fit in int64; longer ones may not, and are
 * kept as a double carrying their source text so no digit is ever lost. */
#define INT64_SAFE_DIGITS 18

struct parser {
    const unsigned char *text;
    size_t len;
    size_t pos;
    int max_depth;
    struct buf scratch; /* the decoded bytes of the string being read */
    char *err;
    size_t errlen;
    int out_of_memory;  /* the failure was ours (no memory), not the text's */
};

__attribute__((format(printf, 2, 3)))
static int parse_fail(struct parser *p, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
        if (n < 0)
            p->err[0] = '\0';
    }
    return -1;
}

static int fail_oom(struct parser *p)
{
    p->out_of_memory = 1;
    return parse_fail(p, "out of memory while parsing JSON");
}

/* A byte that cannot start a value or follow one: say precisely what is wrong with it. */
static int fail_unexpected(struct parser *p, const char *expected)
{
    if (p->pos >= p->len)
        return parse_fail(p, "malformed JSON: unexpected end of input, expected %s", expected);
    const unsigned char c = p->text[p->pos];
    if (c == 0)
        return parse_fail(p, "NUL byte in JSON at byte %zu", p->pos);
    if (c >= 0x80 && text_utf8_sequence_length(p->text + p->pos, p->len - p->pos) == 0)
        return parse_fail(p, "invalid UTF-8 in JSON at byte %zu", p->pos);
    return parse_fail(p, "malformed JSON at byte %zu: expected %s", p->pos, expected);
}

static void skip_whitespace(struct parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the RFC 8259 number at the start of s, or 0 when there is none.
 * *integer_digits gets the digit count when it is a plain integer, 0 otherwise. */
static size_t scan_json_number(const unsigned char *s, size_t avail, size_t *integer_digits)
{
    size_t i = 0;
    int is_integer = 1;

    if (i < avail && s[i] == '-')
        i++;
    size_t first_digit = i;
    if (i >= avail || !is_digit(s[i]))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < avail && is_digit(s[i]))
            i++;
    size_t digits = i - first_digit;
    if (i < avail && s[i] == '.') {
        i++;
        if (i >= avail || !is_digit(s[i]))
            return 0;
        while (i < avail && is_digit(s[i]))
            i++;
        is_integer = 0;
    }
    if (i < avail && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < avail && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= avail || !is_digit(s[i]))
            return 0;
        while (i < avail && is_digit(s[i]))
            i++;
        is_integer = 0;
    }
    *integer_digits = is_integer ? digits : 0;
    return i;
}

static int parse_number(struct parser *p, json_object **out)
{
    const size_t start = p->pos;
    const unsigned char *s = p->text + start;
    size_t integer_digits = 0;
    size_t n = scan_json_number(s, p->len - start, &integer_digits);

    /* Reject "01", "1.", "1e", "-x", "1.2.3" here, where the whole token is in view, rather than
     * later as a puzzling "expected ','". */
    if (n == 0 || (start + n < p->len && (is_digit(s[n]) || s[n] == '.' || s[n] == 'e' ||
                                          s[n] == 'E' || s[n] == '+' || s[n] == '-')))
        return parse_fail(p, "malformed number at byte %zu", start);
    p->pos += n;

    if (integer_digits > 0 && integer_digits <= INT64_SAFE_DIGITS) {
        int64_t magnitude = 0;
        size_t i = s[0] == '-' ? 1 : 0;
        for (; i < n; i++)
            magnitude = magnitude * 10 + (s[i] - '0');
        *out = json_object_new_int64(s[0] == '-' ? -magnitude : magnitude);
        return *out ? 0 : fail_oom(p);
    }

    /* Fractions, exponents and long integers: json-c keeps the exact source text beside an
     * approximate double, and prints that text when serializing; the text is the value. */
    char *source = malloc(n + 1);
    if (!source)
        return fail_oom(p);
    memcpy(source, s, n);
    source[n] = '\0';
    /* strtod only feeds json_object_get_double(); out-of-range values become +-HUGE_VAL or 0,
     * which is fine because every consumer of exact values reads the text. */
    double approximate = strtod(source, NULL);
    *out = json_object_new_double_s(approximate, source);
    free(source);
    return *out ? 0 : fail_oom(p);
}

/* Four hex digits at pos, or -1. */
static long read_hex4(const struct parser *p, size_t pos)
{
    if (pos > p->len || p->len - pos < 4)
        return -1;
    long value = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = text_hex_value((char)p->text[pos + i]);
        if (h < 0)
            return -1;
        value = value * 16 + h;
    }
    return value;
}

static int append_code_point(struct buf *b, unsigned long cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(b, u, n);
}

/* The escape at p->pos (just after the backslash); appends its bytes to the scratch buffer. */
static int parse_escape(struct parser *p)
{
    const size_t backslash = p->pos - 1;
    if (p->pos >= p->len)
        return parse_fail(p, "malformed JSON: unterminated string");
    unsigned char c = p->text[p->pos++];
    char simple;
    switch (c) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': {
        long unit = read_hex4(p, p->pos);
        if (unit < 0)
            return parse_fail(p, "invalid \\u escape in JSON string at byte %zu", backslash);
        p->pos += 4;
        unsigned long cp = (unsigned long)unit;
        if (unit >= 0xDC00 && unit <= 0xDFFF)
            return parse_fail(p, "unpaired surrogate \\u escape in JSON string at byte %zu",
                              backslash);
        if (unit >= 0xD800 && unit <= 0xDBFF) {
            long low = -1;
            if (p->len - p->pos >= 2 && p->text[p->pos] == '\\' && p->text[p->pos + 1] == 'u')
                low = read_hex4(p, p->pos + 2);
            if (low < 0xDC00 || low > 0xDFFF)
                return parse_fail(p, "unpaired surrogate \\u escape in JSON string at byte %zu",
                                  backslash);
            p->pos += 6;
            cp = 0x10000 + (((unsigned long)unit - 0xD800) << 10) + ((unsigned long)low - 0xDC00);
        }
        return append_code_point(&p->scratch, cp) == 0 ? 0 : fail_oom(p);
    }
    default:
        return parse_fail(p, "invalid escape in JSON string at byte %zu", backslash);
    }
    return buf_append(&p->scratch, &simple, 1) == 0 ? 0 : fail_oom(p);
}

/* The string starting at the opening quote at p->pos, decoded into p->scratch. */
static int parse_string_bytes(struct parser *p)
{
    buf_reset(&p->scratch);
    p->pos++;
    for (;;) {
        /* Copy runs of ordinary bytes in one go; stop at anything needing attention. */
        size_t run = p->pos;
        while (run < p->len) {
            unsigned char c = p->text[run];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            if (c < 0x80) {
                run++;
                continue;
            }
            size_t n = text_utf8_sequence_length(p->text + run, p->len - run);
            if (n == 0)
                return parse_fail(p, "invalid UTF-8 in JSON at byte %zu", run);
            run += n;
        }
        if (run > p->pos && buf_append(&p->scratch, p->text + p->pos, run - p->pos) != 0)
            return fail_oom(p);
        p->pos = run;
        if (p->pos >= p->len)
            return parse_fail(p, "malformed JSON: unterminated string");
        unsigned char c = p->text[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c == '\\') {
            p->pos++;
            if (parse_escape(p) != 0)
                return -1;
            continue;
        }
        if (c == 0)
            return parse_fail(p, "NUL byte in JSON at byte %zu", p->pos);
        return parse_fail(p, "unescaped control character in JSON string at byte %zu", p->pos);
    }
}

static int parse_value(struct parser *p, int depth, json_object **out);

static int parse_array(struct parser *p, int depth, json_object **out)
{
    json_object *array = json_object_new_array();
    if (!array)
        return fail_oom(p);
    p->pos++;
    skip_whitespace(p);
    if (p->pos < p->len && p->text[p->pos] == ']') {
        p->pos++;
        *out = array;
        return 0;
    }
    for (;;) {
        json_object *element = NULL;
        if (parse_value(p, depth, &element) != 0)
            goto fail;
        if (json_object_array_add(array, element) != 0) {
            json_object_put(element);
            fail_oom(p);
            goto fail;
        }
        skip_whitespace(p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == ']') {
            p->pos++;
            *out = array;
            return 0;
        }
        fail_unexpected(p, "',' or ']'");
        goto fail;
    }
fail:
    json_object_put(array);
    return -1;
}

static int parse_object(struct parser *p, int depth, json_object **out)
{
    json_object *object = json_object_new_object();
    char *key = NULL;
    if (!object)
        return fail_oom(p);
    p->pos++;
    skip_whitespace(p);
    if (p->pos < p->len && p->text[p->pos] == '}') {
        p->pos++;
        *out = object;
        return 0;
    }
    for (;;) {
        skip_whitespace(p);
        if (p->pos >= p->len || p->text[p->pos] != '"') {
            fail_unexpected(p, "a string key");
            goto fail;
        }
        const size_t key_start = p->pos;
        if (parse_string_bytes(p) != 0)
            goto fail;
        /* json-c keys are C strings: a key with U+0000 would be cut short and could
         * silently collide with another key, so refuse it. */
        if (memchr(p->scratch.data ? p->scratch.data : "", '\0', p->scratch.len)) {
            parse_fail(p, "object key with \\u0000 at byte %zu is not supported", key_start);
            goto fail;
        }
        key = strdup(p->scratch.data ? p->scratch.data : "");
        if (!key) {
            fail_oom(p);
            goto fail;
        }
        skip_whitespace(p);
        if (p->pos >= p->len || p->text[p->pos] != ':') {
            fail_unexpected(p, "':'");
            goto fail;
        }
        p->pos++;
        json_object *member = NULL;
        if (parse_value(p, depth, &member) != 0)
            goto fail;
        /* A repeated key replaces the earlier value, as in JavaScript and Python. */
        if (json_object_object_add(object, key, member) != 0) {
            json_object_put(member);
            fail_oom(p);
            goto fail;
        }
        free(key);
        key = NULL;
        skip_whitespace(p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == '}') {
            p->pos++;
            *out = object;
            return 0;
        }
        fail_unexpected(p, "',' or '}'");
        goto fail;
    }
fail:
    free(key);
    json_object_put(object);
    return -1;
}

static int parse_literal(struct parser *p, const char *word, json_object **out,
                         json_object *(*make)(void))
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return fail_unexpected(p, "a JSON value");
    p->pos += n;
    if (!make) {
        *out = NULL;
        return 0;
    }
    *out = make();
    return *out ? 0 : fail_oom(p);
}

static json_object *make_true(void)
{
    return json_object_new_boolean(1);
}

static json_object *make_false(void)
{
    return json_object_new_boolean(0);
}

static int parse_value(struct parser *p, int depth, json_object **out)
{
    *out = NULL;
    skip_whitespace(p);
    if (p->pos >= p->len)
        return fail_unexpected(p, "a JSON value");
    unsigned char c = p->text[p->pos];
    switch (c) {
    case '{':
    case '[':
        if (depth >= p->max_depth)
            return parse_fail(p, "JSON nested deeper than %d levels", p->max_depth);
        return c == '{' ? parse_object(p, depth + 1, out) : parse_array(p, depth + 1, out);
    case '"': {
        if (parse_string_bytes(p) != 0)
            return -1;
        if (p->scratch.len > INT_MAX)
            return parse_fail(p, "JSON string too long");
        *out = json_object_new_string_len(p->scratch.data ? p->scratch.data : "",
                                          (int)p->scratch.len);
        return *out ? 0 : fail_oom(p);
    }
    case 't':
        return parse_literal(p, "true", out, make_true);
    case 'f':
        return parse_literal(p, "false", out, make_false);
    case 'n':
        return parse_literal(p, "null", out, NULL);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(p, out);
        return fail_unexpected(p, "a JSON value");
    }
}

int json_input_parse(const char *text, size_t len, int max_depth, json_object **out,
                     char *err, size_t errlen)
{
    struct parser p = {
        .text = (const unsigned char *)text,
        .len = len,
        .pos = 0,
        .max_depth = max_depth,
        .err = err,
        .errlen = errlen,
    };
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return parse_fail(&p, "internal error: no place for the parsed JSON");
    *out = NULL;
    if (max_depth < 0 || max_depth > JSON_INPUT_DEPTH_CEILING)
        return parse_fail(&p, "internal error: JSON depth limit %d out of range", max_depth);
    if (!text && len)
        return parse_fail(&p, "internal error: no JSON text");
    skip_whitespace(&p);
    if (p.pos >= p.len)
        return parse_fail(&p, "empty JSON input");

    /* Input bytes bound the scratch buffer: a decoded string is never longer than its source. */
    buf_init(&p.scratch, 0);
    json_object *value = NULL;
    int rc = parse_value(&p, 0, &value);
    buf_free(&p.scratch);
    if (rc != 0)
        return p.out_of_memory ? JSON_INPUT_NO_MEMORY : -1;
    skip_whitespace(&p);
    if (p.pos < p.len) {
        json_object_put(value);
        return fail_unexpected(&p, "the end of the input after the value");
    }
    *out = value;
    return 0;
}

int json_input_number_text(json_object *obj, char *out, size_t outlen)
{
    if (!obj || !out || outlen == 0)
        return -1;
    if (json_object_is_type(obj, json_type_int)) {
        /* json-c holds either an int64 or a uint64; get_int64 saturates the latter. */
        int64_t signed_value = json_object_get_int64(obj);
        int n;
        if (signed_value == INT64_MAX)
            n = snprintf(out, outlen, "%" PRIu64, json_object_get_uint64(obj));
        else
            n = snprintf(out, outlen, "%" PRId64, signed_value);
        return n >= 0 && (size_t)n < outlen ? 0 : -1;
    }
    if (!json_object_is_type(obj, json_type_double))
        return -1;
    /* json_object_new_double_s keeps the text as the object's userdata. A double made by
     * json_object_new_double has none, and one with a custom format serializer holds a
     * printf format there, which the syntax check below refuses. An exact decimal for a bare
     * double would need hundreds of digits and is never what a client sent, so no text. */
    const char *source = json_object_get_userdata(obj);
    if (!source)
        return -1;
    size_t n = strlen(source);
    size_t integer_digits = 0;
    if (n == 0 || scan_json_number((const unsigned char *)source, n, &integer_digits) != n)
        return -1;
    if (n >= outlen)
        return -1;
    memcpy(out, source, n + 1);
    return 0;
}
