/* json_output.c — a compact JSON writer over json-c objects into a struct buf, in json-c's member order.
 * Strings escape '"', '\\' and control characters only (UTF-8 passes through); numbers are written exactly. */
#include "config.h"

#include "json_output.h"

#include <stdio.h>
#include <string.h>

#include "json_input.h"
#include "text.h"

/* Nesting json_input accepts is bounded (and DynamoDB's 32 levels, two JSON levels each): this bound only
 * keeps a hand-made object from recursing without end. */
#define OUTPUT_MAX_DEPTH 512

static int write_string(const char *s, size_t len, struct buf *out)
{
    /* json_input accepted only well-formed UTF-8, and the worker builds the rest from it. */
    return text_json_string(s, len, 0, out);
}

static int write_value(json_object *o, struct buf *out, int depth)
{
    if (depth > OUTPUT_MAX_DEPTH)
        return -1;
    switch (json_object_get_type(o)) {
    case json_type_null:
        return buf_append(out, "null", 4);
    case json_type_boolean:
        return json_object_get_boolean(o) ? buf_append(out, "true", 4) : buf_append(out, "false", 5);
    case json_type_int:
    case json_type_double: {
        char text[512];
        if (json_input_number_text(o, text, sizeof text) != 0)
            return -1;
        return buf_append_str(out, text);
    }
    case json_type_string:
        return write_string(json_object_get_string(o), (size_t)json_object_get_string_len(o), out);
    case json_type_array: {
        if (buf_append(out, "[", 1) != 0)
            return -1;
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            if ((i && buf_append(out, ",", 1) != 0) || write_value(json_object_array_get_idx(o, i), out, depth + 1) != 0)
                return -1;
        return buf_append(out, "]", 1);
    }
    case json_type_object: {
        if (buf_append(out, "{", 1) != 0)
            return -1;
        int first = 1;
        json_object_object_foreach(o, k, v) {
            if ((!first && buf_append(out, ",", 1) != 0) || write_string(k, strlen(k), out) != 0 ||
                buf_append(out, ":", 1) != 0 || write_value(v, out, depth + 1) != 0)
                return -1;
            first = 0;
        }
        return buf_append(out, "}", 1);
    }
    }
    return -1;
}

int json_output(json_object *o, struct buf *out)
{
    size_t before = out->len;
    if (write_value(o, out, 0) == 0)
        return 0;
    out->len = before;
    if (out->data)
        out->data[before] = '\0';
    return -1;
}
