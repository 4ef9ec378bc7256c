/* ddb_value.c — lossless conversion between plain JSON values and DynamoDB attribute values.
 * Numbers are handled as decimal text only, never through double, so every digit survives both ways. */
#include "config.h"

#include "ddb_value.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_input.h"

/* DynamoDB's number limits: 38 significant digits, and in scientific form d.ddd x 10^e
 * a nonzero magnitude needs -130 <= e <= 125 (9.99...9E+125 with 38 digits is the largest). */
#define DDBV_MAX_SIGNIFICANT 38
#define DDBV_MIN_EXPONENT (-130)
#define DDBV_MAX_EXPONENT 125
#define DDBV_RANGE_TEXT "(1E-130 to 9.9999999999999999999999999999999999999E+125)"

/* Plain notation up to this many characters (sign excluded): every 38-digit integer and every
 * 38-digit fraction below 1 stays readable; only extreme exponents use "dE+n". */
#define DDBV_PLAIN_MAX 40

/* Exponent digits past this are all equally out of range; stopping here keeps the arithmetic
 * far from overflow however many digits a client sends. Texts are capped so that digit
 * positions cannot pull a clamped exponent back into range. */
#define DDBV_EXPONENT_CLAMP 1000000000000000LL /* 1e15 */
#define DDBV_TEXT_MAX 100000000000000ULL       /* 1e14 bytes: never reached in practice */

/* DynamoDB nests at most 32 levels; this guard only protects the stack from trees built
 * elsewhere without any limit. */
#define DDBV_DEPTH_LIMIT 64

/* How much of a user's text or key goes into an error message. */
#define DDBV_SHOWN_MAX 40
#define DDBV_PATH_MAX 160

/* Where in the value being converted we are, for error messages; lives on the stack. */
struct av_path {
    const struct av_path *parent;
    const char *key; /* member name, or NULL for a list element */
    size_t index;
};

/* A bounded text being built; stops at the first thing that does not fit whole. */
struct text_out {
    char *data;
    size_t cap;
    size_t len;
    int full;
};

/* The longest prefix of s, at most max bytes, that does not split a UTF-8 character. */
static size_t utf8_prefix_length(const char *s, size_t max)
{
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void text_append(struct text_out *o, const char *s, size_t n)
{
    if (o->full || o->cap == 0)
        return;
    size_t room = o->cap - 1 - o->len;
    if (n > room) {
        n = utf8_prefix_length(s, room);
        o->full = 1;
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
    o->data[o->len] = '\0';
}

static void text_append_str(struct text_out *o, const char *s)
{
    text_append(o, s, strlen(s));
}

/* The path as a reader would write it: a.b[2].c */
static void render_path(const struct av_path *path, char *out, size_t outlen)
{
    const struct av_path *frames[DDBV_DEPTH_LIMIT + 2];
    size_t count = 0;
    struct text_out o = {out, outlen, 0, 0};

    if (outlen)
        out[0] = '\0';
    for (; path && count < sizeof frames / sizeof frames[0]; path = path->parent)
        frames[count++] = path;
    for (size_t i = count; i-- > 0;) {
        const struct av_path *f = frames[i];
        if (f->key) {
            if (i + 1 < count)
                text_append_str(&o, ".");
            size_t key_len = strlen(f->key);
            if (key_len > DDBV_SHOWN_MAX) {
                text_append(&o, f->key, utf8_prefix_length(f->key, DDBV_SHOWN_MAX));
                text_append_str(&o, "...");
            } else {
                text_append(&o, f->key, key_len);
            }
        } else {
            char index[32];
            int n = snprintf(index, sizeof index, "[%zu]", f->index);
            if (n > 0 && (size_t)n < sizeof index)
                text_append(&o, index, (size_t)n);
        }
    }
}

/* Cut a trailing partial UTF-8 character left by snprintf truncation. */
static void trim_partial_utf8(char *s)
{
    size_t n = strlen(s);
    size_t start = n;
    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (start - 1) < want)
        s[start - 1] = '\0';
}

__attribute__((format(printf, 4, 5)))
static int fail_at(const struct av_path *path, char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return -1;
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (n < 0)
        message[0] = '\0';
    char where[DDBV_PATH_MAX];
    render_path(path, where, sizeof where);
    if (where[0])
        n = snprintf(err, errlen, "attribute %s: %s", where, message);
    else
        n = snprintf(err, errlen, "%s", message);
    if (n < 0)
        err[0] = '\0';
    trim_partial_utf8(err);
    return -1;
}

/* errno says ENOMEM to the public functions below, which return DDBV_NO_MEMORY: the client's value may be
 * fine, so it must be a 500, not a 400 (errno, because the -1 travels up through every converter). */
static int fail_oom(const struct av_path *path, char *err, size_t errlen)
{
    fail_at(path, err, errlen, "out of memory");
    errno = ENOMEM;
    return -1;
}

static int public_result(int rc)
{
    return rc != 0 && errno == ENOMEM ? DDBV_NO_MEMORY : rc;
}

/* DynamoDB's limits, in messages that name them. */
static int fail_nesting(const struct av_path *path, char *err, size_t errlen)
{
    return fail_at(path, err, errlen, "more than %d levels of nesting; DynamoDB's limit is %d",
                   DDBV_NESTING_MAX, DDBV_NESTING_MAX);
}

/* An attribute name (of an item or of a map inside one): 1..65535 bytes. path is where the name is. */
static int check_name(const struct av_path *path, const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0)
        return fail_at(path, err, errlen,
                       "an attribute name is empty; DynamoDB's attribute names are 1 to %d bytes", DDBV_NAME_MAX);
    if (n > DDBV_NAME_MAX)
        return fail_at(path, err, errlen,
                       "an attribute name is %zu bytes; DynamoDB's attribute names are 1 to %d bytes", n,
                       DDBV_NAME_MAX);
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- numbers ---- */

__attribute__((format(printf, 3, 4)))
static int number_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        if (n < 0)
            err[0] = '\0';
    }
    return -1;
}

/* A JSON number's text split into its parts: sign, integer and fraction digits, exponent (clamped). */
struct number_text {
    int negative;
    size_t int_begin, int_len;
    size_t frac_begin, frac_len;
    long long exponent;
};

/* Read text as [+-]digits[.digits][(e|E)[+-]digits]. Returns 0, or -1 when it is not that. */
static int scan_number(const char *text, struct number_text *n)
{
    size_t i = 0;
    memset(n, 0, sizeof *n);
    if (text[i] == '+' || text[i] == '-')
        n->negative = text[i++] == '-';
    n->int_begin = i;
    while (is_digit(text[i]))
        i++;
    n->int_len = i - n->int_begin;
    n->frac_begin = i;
    if (text[i] == '.') {
        n->frac_begin = ++i;
        while (is_digit(text[i]))
            i++;
        n->frac_len = i - n->frac_begin;
    }
    if (n->int_len + n->frac_len == 0)
        return -1;
    if (text[i] == 'e' || text[i] == 'E') {
        int exponent_negative = 0;
        i++;
        if (text[i] == '+' || text[i] == '-')
            exponent_negative = text[i++] == '-';
        if (!is_digit(text[i]))
            return -1;
        for (; is_digit(text[i]); i++)
            if (n->exponent < DDBV_EXPONENT_CLAMP)
                n->exponent = n->exponent * 10 + (text[i] - '0');
        if (exponent_negative)
            n->exponent = -n->exponent;
    }
    return text[i] == '\0' ? 0 : -1;
}

/* The canonical text of (-)d.ddd x 10^scientific (digits[0..significant), no leading or trailing zero):
 * plain when short enough, else scientific notation. Returns its length, or 0 when result is too small. */
static size_t render_canonical(int negative, const char *digits, size_t significant, long long scientific,
                               char *result, size_t cap)
{
    const long long n = (long long)significant;
    long long plain_len;
    if (scientific >= n - 1)
        plain_len = scientific + 1;     /* ddd000 */
    else if (scientific >= 0)
        plain_len = n + 1;              /* dd.ddd */
    else
        plain_len = n + 1 - scientific; /* 0.000ddd */
    size_t len = 0;
    if (negative)
        result[len++] = '-';
    if (plain_len <= DDBV_PLAIN_MAX) {
        if (scientific >= n - 1) {
            memcpy(result + len, digits, significant);
            len += significant;
            for (long long z = 0; z < scientific - (n - 1); z++)
                result[len++] = '0';
        } else if (scientific >= 0) {
            size_t int_digits = (size_t)scientific + 1;
            memcpy(result + len, digits, int_digits);
            len += int_digits;
            result[len++] = '.';
            memcpy(result + len, digits + int_digits, significant - int_digits);
            len += significant - int_digits;
        } else {
            result[len++] = '0';
            result[len++] = '.';
            for (long long z = 0; z < -scientific - 1; z++)
                result[len++] = '0';
            memcpy(result + len, digits, significant);
            len += significant;
        }
        return len;
    }
    result[len++] = digits[0];
    if (significant > 1) {
        result[len++] = '.';
        memcpy(result + len, digits + 1, significant - 1);
        len += significant - 1;
    }
    int m = snprintf(result + len, cap - len, "E%c%lld", scientific < 0 ? '-' : '+',
                     scientific < 0 ? -scientific : scientific);
    if (m < 0 || (size_t)m >= cap - len)
        return 0;
    return len + (size_t)m;
}

int ddbv_number_canonical(const char *text, char *out, size_t outlen, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!text || !out || outlen == 0)
        return number_fail(err, errlen, "internal error: no number text or output");
    const size_t text_len = strlen(text);
    if (text_len > DDBV_TEXT_MAX)
        return number_fail(err, errlen, "number text is too long");
    struct number_text nt;
    if (scan_number(text, &nt) != 0)
        return number_fail(err, errlen, "invalid number");

    /* The mantissa digits, integer part then fraction, as one sequence 0..total-1. */
    const size_t int_len = nt.int_len, total = nt.int_len + nt.frac_len;
#define MANTISSA_DIGIT(k) ((k) < int_len ? text[nt.int_begin + (k)] : text[nt.frac_begin + (k)-int_len])
    size_t first = 0;
    while (first < total && MANTISSA_DIGIT(first) == '0')
        first++;
    if (first == total) {
        /* Zero in any spelling, whatever the exponent: DynamoDB has no negative zero. */
        if (outlen < 2)
            return number_fail(err, errlen, "internal error: number buffer too small");
        memcpy(out, "0", 2);
        return 0;
    }
    size_t last = total - 1;
    while (MANTISSA_DIGIT(last) == '0')
        last--;
    const size_t significant = last - first + 1;
    if (significant > DDBV_MAX_SIGNIFICANT)
        return number_fail(err, errlen, "number has more than %d significant digits",
                           DDBV_MAX_SIGNIFICANT);
    char digits[DDBV_MAX_SIGNIFICANT];
    for (size_t k = 0; k < significant; k++)
        digits[k] = MANTISSA_DIGIT(first + k);
#undef MANTISSA_DIGIT

    /* Value = d.ddd x 10^scientific. Both position terms are below DDBV_TEXT_MAX and the
     * exponent below 10 x DDBV_EXPONENT_CLAMP, so this cannot overflow. */
    const long long scientific = (long long)int_len - 1 - (long long)first + nt.exponent;
    if (scientific < DDBV_MIN_EXPONENT || scientific > DDBV_MAX_EXPONENT)
        return number_fail(err, errlen, "number %.*s%s is out of DynamoDB's range " DDBV_RANGE_TEXT,
                           DDBV_SHOWN_MAX, text, text_len > DDBV_SHOWN_MAX ? "..." : "");
    char result[DDBV_NUMBER_MAX];
    size_t len = render_canonical(nt.negative, digits, significant, scientific, result, sizeof result);
    if (len == 0 || len + 1 > outlen)
        return number_fail(err, errlen, "internal error: number buffer too small");
    memcpy(out, result, len);
    out[len] = '\0';
    return 0;
}

/* RFC 8259 number syntax for the whole of s[0..len). */
static int is_json_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len || !is_digit(s[i]))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < len && is_digit(s[i]))
            i++;
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i]))
            return 0;
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || !is_digit(s[i]))
            return 0;
        while (i < len && is_digit(s[i]))
            i++;
    }
    return i == len;
}

json_object *ddbv_number_json(const char *text)
{
    if (!text || !is_json_number(text, strlen(text)))
        return NULL;
    /* The double is only for json_object_get_double() users; the text is what gets printed. */
    return json_object_new_double_s(strtod(text, NULL), text);
}

/* ---- JSON -> attribute value ---- */

/* {type: inner}; takes ownership of inner whatever happens. */
static int wrap_attribute(const char *type, json_object *inner, const struct av_path *path,
                          json_object **out, char *err, size_t errlen)
{
    json_object *av = json_object_new_object();
    if (!av) {
        json_object_put(inner);
        return fail_oom(path, err, errlen);
    }
    /* type is always one of our string literals, so json-c need not copy it. */
    if (json_object_object_add_ex(av, type, inner,
                                  JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
        json_object_put(inner);
        json_object_put(av);
        return fail_oom(path, err, errlen);
    }
    *out = av;
    return 0;
}

/* The canonical N text of a json-c number, as a new string object. */
static int number_from_json(json_object *value, const struct av_path *path, json_object **out,
                            char *err, size_t errlen)
{
    char small[128];
    char *heap = NULL;
    const char *text = small;

    if (json_input_number_text(value, small, sizeof small) != 0) {
        /* Long texts (many zeros) are legal; json-c prints a number with source text as exactly
         * that text, so its printed length is the size needed. */
        size_t printed = 0;
        if (json_object_to_json_string_length(value, JSON_C_TO_STRING_PLAIN, &printed) &&
            printed >= sizeof small && printed < SIZE_MAX) {
            heap = malloc(printed + 1);
            if (!heap)
                return fail_oom(path, err, errlen);
            if (json_input_number_text(value, heap, printed + 1) == 0)
                text = heap;
        }
        if (text != heap) {
            free(heap);
            return fail_at(path, err, errlen, "number has no exact decimal form");
        }
    }
    char canonical[DDBV_NUMBER_MAX];
    char why[200];
    int rc = ddbv_number_canonical(text, canonical, sizeof canonical, why, sizeof why);
    free(heap);
    if (rc != 0)
        return fail_at(path, err, errlen, "%s", why);
    *out = json_object_new_string(canonical);
    return *out ? 0 : fail_oom(path, err, errlen);
}

static int from_json_at(json_object *value, const struct av_path *path, int depth,
                        json_object **out, char *err, size_t errlen);

static int list_from_json(json_object *array, const struct av_path *path, int depth,
                          json_object **out, char *err, size_t errlen)
{
    json_object *list = json_object_new_array();
    if (!list)
        return fail_oom(path, err, errlen);
    const size_t count = json_object_array_length(array);
    for (size_t i = 0; i < count; i++) {
        const struct av_path here = {path, NULL, i};
        json_object *av = NULL;
        if (from_json_at(json_object_array_get_idx(array, i), &here, depth + 1, &av, err,
                         errlen) != 0) {
            json_object_put(list);
            return -1;
        }
        if (json_object_array_add(list, av) != 0) {
            json_object_put(av);
            json_object_put(list);
            return fail_oom(&here, err, errlen);
        }
    }
    *out = list;
    return 0;
}

/* A JSON object -> a map of attribute values (the body of M, or a whole item). */
static int map_from_json(json_object *object, const struct av_path *path, int depth,
                         json_object **out, char *err, size_t errlen)
{
    json_object *map = json_object_new_object();
    if (!map)
        return fail_oom(path, err, errlen);
    struct json_object_iterator it = json_object_iter_begin(object);
    const struct json_object_iterator end = json_object_iter_end(object);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *name = json_object_iter_peek_name(&it);
        if (check_name(path, name, err, errlen) != 0) {
            json_object_put(map);
            return -1;
        }
        const struct av_path here = {path, name, 0};
        json_object *av = NULL;
        if (from_json_at(json_object_iter_peek_value(&it), &here, depth + 1, &av, err,
                         errlen) != 0) {
            json_object_put(map);
            return -1;
        }
        if (json_object_object_add_ex(map, name, av, JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
            json_object_put(av);
            json_object_put(map);
            return fail_oom(&here, err, errlen);
        }
    }
    *out = map;
    return 0;
}

static int from_json_at(json_object *value, const struct av_path *path, int depth,
                        json_object **out, char *err, size_t errlen)
{
    json_object *inner = NULL;
    const char *type;

    *out = NULL;
    if (depth > DDBV_DEPTH_LIMIT)
        return fail_at(path, err, errlen, "nested deeper than %d levels", DDBV_DEPTH_LIMIT);
    switch (json_object_get_type(value)) {
    case json_type_null:
        type = "NULL";
        inner = json_object_new_boolean(1);
        break;
    case json_type_boolean:
        type = "BOOL";
        inner = json_object_new_boolean(json_object_get_boolean(value));
        break;
    case json_type_string:
        type = "S";
        inner = json_object_new_string_len(json_object_get_string(value),
                                           json_object_get_string_len(value));
        break;
    case json_type_int:
    case json_type_double:
        type = "N";
        if (number_from_json(value, path, &inner, err, errlen) != 0)
            return -1;
        break;
    case json_type_array:
        type = "L";
        if (depth >= DDBV_NESTING_MAX)
            return fail_nesting(path, err, errlen);
        if (list_from_json(value, path, depth, &inner, err, errlen) != 0)
            return -1;
        break;
    case json_type_object:
        type = "M";
        if (depth >= DDBV_NESTING_MAX)
            return fail_nesting(path, err, errlen);
        if (map_from_json(value, path, depth, &inner, err, errlen) != 0)
            return -1;
        break;
    default:
        return fail_at(path, err, errlen, "unsupported JSON value");
    }
    if (!inner)
        return fail_oom(path, err, errlen);
    return wrap_attribute(type, inner, path, out, err, errlen);
}

static int check_av(json_object *av, const struct av_path *path, int level, size_t *size, char *err,
                    size_t errlen);

int ddbv_from_json(json_object *value, json_object **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return fail_at(NULL, err, errlen, "internal error: no place for the attribute value");
    errno = 0;
    int rc = from_json_at(value, NULL, 0, out, err, errlen);
    if (rc != 0)
        return public_result(rc);
    /* One value alone can be too large for any item. */
    size_t size = 0;
    if (check_av(*out, NULL, 0, &size, err, errlen) != 0 || size > DDBV_ITEM_MAX) {
        if (size > DDBV_ITEM_MAX)
            fail_at(NULL, err, errlen, "a value of %zu bytes does not fit in DynamoDB's 400 KB item (%d bytes)",
                    size, DDBV_ITEM_MAX);
        json_object_put(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int ddbv_item_from_json(json_object *object, json_object **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return fail_at(NULL, err, errlen, "internal error: no place for the item");
    *out = NULL;
    if (!json_object_is_type(object, json_type_object))
        return fail_at(NULL, err, errlen, "an item must be a JSON object");
    /* The item's own map is no level of nesting: its attributes start at level 0. */
    errno = 0;
    int rc = map_from_json(object, NULL, -1, out, err, errlen);
    if (rc != 0)
        return public_result(rc);
    if (ddbv_item_check(*out, NULL, err, errlen) != 0) {
        json_object_put(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* ---- DynamoDB's limits on an item in attribute-value form ---- */

/* DynamoDB's size of a number (dynalite's reading of it, which matches DynamoDB's billing): one byte,
 * one per two significant digits, one more for an even count at an even exponent, one for a minus. */
static size_t number_size(const char *canonical)
{
    const char *p = canonical;
    int negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    size_t digits = 0, before_point = 0, leading = 0, last_nonzero = 0;
    int seen_point = 0, seen_nonzero = 0;
    long long exponent = 0;
    for (; *p && *p != 'E' && *p != 'e'; p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        digits++;
        if (!seen_point)
            before_point++;
        if (*p != '0') {
            seen_nonzero = 1;
            last_nonzero = digits;
        } else if (!seen_nonzero) {
            leading++;
        }
    }
    if (!seen_nonzero)
        return 1; /* zero */
    if (*p == 'E' || *p == 'e')
        exponent = strtoll(p + 1, NULL, 10); /* canonical texts have small exponents */
    size_t significant = last_nonzero - leading;
    long long sci = (long long)before_point - 1 - (long long)leading + exponent;
    size_t size = 1 + (significant + 1) / 2;
    if (significant % 2 == 0 && sci % 2 == 0)
        size++;
    return size + (negative ? 1 : 0);
}

/* Bytes a base64 text decodes to (DynamoDB counts binaries by their bytes). */
static size_t base64_size(const char *s, size_t len)
{
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    return len / 4 * 3 + (len % 4 >= 2 ? len % 4 - 1 : 0);
}

static int string_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* SS, NS, BS: a non-empty array of distinct strings (numbers compared by value). Adds the members' size. */
static int check_set(json_object *set, const char *type, const struct av_path *path, size_t *size, char *err,
                     size_t errlen)
{
    if (!json_object_is_type(set, json_type_array))
        return fail_at(path, err, errlen, "malformed attribute value (a set must be an array)");
    size_t count = json_object_array_length(set);
    if (count == 0)
        return fail_at(path, err, errlen, "an empty set; DynamoDB's sets hold at least one member");
    int numbers = strcmp(type, "NS") == 0;
    /* Numbers are compared by their canonical text, which is one text per value ("1" for 1.0 and 1E0). */
    char *texts = numbers ? malloc(count * DDBV_NUMBER_MAX) : NULL;
    const char **members = malloc(count * sizeof *members);
    int rc = 0;
    if (!members || (numbers && !texts)) {
        rc = fail_oom(path, err, errlen);
        goto done;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        json_object *m = json_object_array_get_idx(set, i);
        const struct av_path here = {path, NULL, i};
        if (!json_object_is_type(m, json_type_string)) {
            rc = fail_at(&here, err, errlen, "malformed attribute value (set members must be strings)");
            break;
        }
        const char *text = json_object_get_string(m);
        size_t len = (size_t)json_object_get_string_len(m);
        if (numbers) {
            char why[200];
            if (ddbv_number_canonical(text, texts + i * DDBV_NUMBER_MAX, DDBV_NUMBER_MAX, why, sizeof why) != 0) {
                rc = fail_at(&here, err, errlen, "%s", why);
                break;
            }
            members[i] = texts + i * DDBV_NUMBER_MAX;
            *size += number_size(members[i]);
        } else {
            members[i] = text;
            *size += strcmp(type, "BS") == 0 ? base64_size(text, len) : len;
        }
    }
    if (rc == 0) {
        qsort(members, count, sizeof *members, string_compare);
        for (size_t i = 1; i < count; i++)
            if (strcmp(members[i - 1], members[i]) == 0) {
                rc = fail_at(path, err, errlen, "a set holds a duplicate; DynamoDB's set members are distinct");
                break;
            }
    }
done:
    free(members);
    free(texts);
    return rc;
}

/* Check one attribute value at the given level of nesting (0 for an item's attribute) and add its size. */
static int check_av(json_object *av, const struct av_path *path, int level, size_t *size, char *err,
                    size_t errlen)
{
    if (!json_object_is_type(av, json_type_object) || json_object_object_length(av) != 1)
        return fail_at(path, err, errlen, "malformed attribute value (expected an object with one type key)");
    struct json_object_iterator it = json_object_iter_begin(av);
    const char *type = json_object_iter_peek_name(&it);
    json_object *inner = json_object_iter_peek_value(&it);

    if (strcmp(type, "S") == 0 || strcmp(type, "B") == 0 || strcmp(type, "N") == 0) {
        if (!json_object_is_type(inner, json_type_string))
            return fail_at(path, err, errlen, "malformed attribute value (%s must hold a string)", type);
        const char *text = json_object_get_string(inner);
        size_t len = (size_t)json_object_get_string_len(inner);
        if (type[0] == 'S') {
            *size += len;
        } else if (type[0] == 'B') {
            *size += base64_size(text, len);
        } else {
            char canonical[DDBV_NUMBER_MAX], why[200];
            if (strlen(text) != len ||
                ddbv_number_canonical(text, canonical, sizeof canonical, why, sizeof why) != 0)
                return fail_at(path, err, errlen, "%s", strlen(text) != len ? "N is not a number" : why);
            *size += number_size(canonical);
        }
        return 0;
    }
    if (strcmp(type, "BOOL") == 0 || strcmp(type, "NULL") == 0) {
        if (!json_object_is_type(inner, json_type_boolean) ||
            (type[0] == 'N' && !json_object_get_boolean(inner)))
            return fail_at(path, err, errlen, "malformed attribute value (%s)", type);
        *size += 1;
        return 0;
    }
    if (strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0)
        return check_set(inner, type, path, size, err, errlen);
    if (strcmp(type, "L") != 0 && strcmp(type, "M") != 0)
        return fail_at(path, err, errlen, "malformed attribute value (unknown type key)");
    if (level >= DDBV_NESTING_MAX)
        return fail_nesting(path, err, errlen);
    *size += 3;
    if (type[0] == 'L') {
        if (!json_object_is_type(inner, json_type_array))
            return fail_at(path, err, errlen, "malformed attribute value (L must hold an array)");
        size_t count = json_object_array_length(inner);
        for (size_t i = 0; i < count; i++) {
            const struct av_path here = {path, NULL, i};
            *size += 1;
            if (check_av(json_object_array_get_idx(inner, i), &here, level + 1, size, err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    if (!json_object_is_type(inner, json_type_object))
        return fail_at(path, err, errlen, "malformed attribute value (M must hold an object)");
    struct json_object_iterator m = json_object_iter_begin(inner);
    const struct json_object_iterator end = json_object_iter_end(inner);
    for (; !json_object_iter_equal(&m, &end); json_object_iter_next(&m)) {
        const char *name = json_object_iter_peek_name(&m);
        if (check_name(path, name, err, errlen) != 0)
            return -1;
        const struct av_path here = {path, name, 0};
        *size += 1 + strlen(name);
        if (check_av(json_object_iter_peek_value(&m), &here, level + 1, size, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* The whole item: names, values and their size. */
static int check_item(json_object *item, size_t *size, char *err, size_t errlen)
{
    *size = 0;
    if (!json_object_is_type(item, json_type_object))
        return fail_at(NULL, err, errlen, "malformed item (expected an object)");
    struct json_object_iterator it = json_object_iter_begin(item);
    const struct json_object_iterator end = json_object_iter_end(item);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *name = json_object_iter_peek_name(&it);
        if (check_name(NULL, name, err, errlen) != 0)
            return -1;
        const struct av_path here = {NULL, name, 0};
        *size += strlen(name);
        if (check_av(json_object_iter_peek_value(&it), &here, 0, size, err, errlen) != 0)
            return -1;
    }
    return 0;
}

size_t ddbv_item_size(json_object *item)
{
    size_t size;
    char err[8];
    return check_item(item, &size, err, sizeof err) == 0 ? size : SIZE_MAX;
}

int ddbv_item_check(json_object *item, const char *key_attribute, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    size_t size;
    if (check_item(item, &size, err, errlen) != 0)
        return -1;
    if (size > DDBV_ITEM_MAX)
        return fail_at(NULL, err, errlen,
                       "the item is %zu bytes; DynamoDB limits an item to 400 KB (%d bytes, attribute names "
                       "included)", size, DDBV_ITEM_MAX);
    if (!key_attribute)
        return 0;
    json_object *key = NULL, *inner = NULL;
    const struct av_path here = {NULL, key_attribute, 0};
    if (!json_object_object_get_ex(item, key_attribute, &key) || !key)
        return fail_at(&here, err, errlen, "the key attribute is missing");
    struct json_object_iterator it = json_object_iter_begin(key);
    const char *type = json_object_iter_peek_name(&it);
    inner = json_object_iter_peek_value(&it);
    if (strcmp(type, "N") == 0)
        return 0;
    if (strcmp(type, "S") != 0 && strcmp(type, "B") != 0)
        return fail_at(&here, err, errlen, "a key attribute must be a string, a number or a binary");
    size_t len = (size_t)json_object_get_string_len(inner);
    size_t bytes = type[0] == 'B' ? base64_size(json_object_get_string(inner), len) : len;
    if (bytes == 0 || bytes > DDBV_PARTITION_KEY_MAX)
        return fail_at(&here, err, errlen, "the key is %zu bytes; DynamoDB's partition keys are 1 to %d bytes",
                       bytes, DDBV_PARTITION_KEY_MAX);
    return 0;
}

/* ---- attribute value -> JSON ---- */

static int malformed(const struct av_path *path, char *err, size_t errlen, const char *why)
{
    return fail_at(path, err, errlen, "malformed attribute value (%s)", why);
}

static json_object *copy_string(json_object *s)
{
    return json_object_new_string_len(json_object_get_string(s), json_object_get_string_len(s));
}

/* An N text as DynamoDB sent it, or NULL when it is not a usable number. */
static json_object *number_to_json(json_object *s)
{
    const char *text = json_object_get_string(s);
    /* An embedded NUL would make the C string shorter than the value. */
    if ((size_t)json_object_get_string_len(s) != strlen(text))
        return NULL;
    return ddbv_number_json(text);
}

static int to_json_at(json_object *av, const struct av_path *path, int depth, json_object **out,
                      char *err, size_t errlen);

/* SS, NS, BS: arrays of strings on the wire, arrays of strings or numbers for the client. */
static int set_to_json(json_object *set, int numbers, const struct av_path *path,
                       json_object **out, char *err, size_t errlen)
{
    if (!json_object_is_type(set, json_type_array))
        return malformed(path, err, errlen, "a set must be an array");
    json_object *array = json_object_new_array();
    if (!array)
        return fail_oom(path, err, errlen);
    const size_t count = json_object_array_length(set);
    for (size_t i = 0; i < count; i++) {
        const struct av_path here = {path, NULL, i};
        json_object *member = json_object_array_get_idx(set, i);
        json_object *plain = NULL;
        if (!json_object_is_type(member, json_type_string)) {
            json_object_put(array);
            return malformed(&here, err, errlen, "set members must be strings");
        }
        plain = numbers ? number_to_json(member) : copy_string(member);
        if (!plain) {
            json_object_put(array);
            if (numbers)
                return malformed(&here, err, errlen, "NS member is not a number");
            return fail_oom(&here, err, errlen);
        }
        if (json_object_array_add(array, plain) != 0) {
            json_object_put(plain);
            json_object_put(array);
            return fail_oom(&here, err, errlen);
        }
    }
    *out = array;
    return 0;
}

static int list_to_json(json_object *list, const struct av_path *path, int depth,
                        json_object **out, char *err, size_t errlen)
{
    if (!json_object_is_type(list, json_type_array))
        return malformed(path, err, errlen, "L must hold an array");
    json_object *array = json_object_new_array();
    if (!array)
        return fail_oom(path, err, errlen);
    const size_t count = json_object_array_length(list);
    for (size_t i = 0; i < count; i++) {
        const struct av_path here = {path, NULL, i};
        json_object *plain = NULL;
        if (to_json_at(json_object_array_get_idx(list, i), &here, depth + 1, &plain, err,
                       errlen) != 0) {
            json_object_put(array);
            return -1;
        }
        /* plain is NULL for {"NULL":true}; json-c arrays hold that as JSON null. */
        if (json_object_array_add(array, plain) != 0) {
            json_object_put(plain);
            json_object_put(array);
            return fail_oom(&here, err, errlen);
        }
    }
    *out = array;
    return 0;
}

/* A map of attribute values (the body of M, or a whole item) -> a JSON object. */
static int map_to_json(json_object *map, const struct av_path *path, int depth,
                       json_object **out, char *err, size_t errlen)
{
    if (!json_object_is_type(map, json_type_object))
        return malformed(path, err, errlen, "M must hold an object");
    json_object *object = json_object_new_object();
    if (!object)
        return fail_oom(path, err, errlen);
    struct json_object_iterator it = json_object_iter_begin(map);
    const struct json_object_iterator end = json_object_iter_end(map);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *name = json_object_iter_peek_name(&it);
        const struct av_path here = {path, name, 0};
        json_object *plain = NULL;
        if (to_json_at(json_object_iter_peek_value(&it), &here, depth + 1, &plain, err,
                       errlen) != 0) {
            json_object_put(object);
            return -1;
        }
        if (json_object_object_add_ex(object, name, plain, JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
            json_object_put(plain);
            json_object_put(object);
            return fail_oom(&here, err, errlen);
        }
    }
    *out = object;
    return 0;
}

static int to_json_at(json_object *av, const struct av_path *path, int depth, json_object **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    if (depth > DDBV_DEPTH_LIMIT)
        return fail_at(path, err, errlen, "nested deeper than %d levels", DDBV_DEPTH_LIMIT);
    if (!json_object_is_type(av, json_type_object) || json_object_object_length(av) != 1)
        return malformed(path, err, errlen, "expected an object with one type key");
    struct json_object_iterator it = json_object_iter_begin(av);
    const char *type = json_object_iter_peek_name(&it);
    json_object *inner = json_object_iter_peek_value(&it);

    if (strcmp(type, "S") == 0 || strcmp(type, "B") == 0) {
        /* B is base64 on the wire and stays base64 for the client. */
        if (!json_object_is_type(inner, json_type_string))
            return malformed(path, err, errlen, "S and B must hold a string");
        *out = copy_string(inner);
        return *out ? 0 : fail_oom(path, err, errlen);
    }
    if (strcmp(type, "N") == 0) {
        if (!json_object_is_type(inner, json_type_string))
            return malformed(path, err, errlen, "N must hold a string");
        *out = number_to_json(inner);
        return *out ? 0 : malformed(path, err, errlen, "N is not a number");
    }
    if (strcmp(type, "BOOL") == 0) {
        if (!json_object_is_type(inner, json_type_boolean))
            return malformed(path, err, errlen, "BOOL must hold a boolean");
        *out = json_object_new_boolean(json_object_get_boolean(inner));
        return *out ? 0 : fail_oom(path, err, errlen);
    }
    if (strcmp(type, "NULL") == 0) {
        /* DynamoDB only ever sends true here and refuses false. */
        if (!json_object_is_type(inner, json_type_boolean) || !json_object_get_boolean(inner))
            return malformed(path, err, errlen, "NULL must hold true");
        return 0;
    }
    if (strcmp(type, "L") == 0)
        return list_to_json(inner, path, depth, out, err, errlen);
    if (strcmp(type, "M") == 0)
        return map_to_json(inner, path, depth, out, err, errlen);
    if (strcmp(type, "SS") == 0 || strcmp(type, "BS") == 0)
        return set_to_json(inner, 0, path, out, err, errlen);
    if (strcmp(type, "NS") == 0)
        return set_to_json(inner, 1, path, out, err, errlen);
    return malformed(path, err, errlen, "unknown type key");
}

int ddbv_to_json(json_object *av, json_object **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return fail_at(NULL, err, errlen, "internal error: no place for the value");
    errno = 0;
    return public_result(to_json_at(av, NULL, 0, out, err, errlen));
}

int ddbv_item_to_json(json_object *item, json_object **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return fail_at(NULL, err, errlen, "internal error: no place for the item");
    *out = NULL;
    if (!json_object_is_type(item, json_type_object))
        return fail_at(NULL, err, errlen, "malformed item (expected an object)");
    errno = 0;
    return public_result(map_to_json(item, NULL, 0, out, err, errlen));
}
