/* json_input.h — strict parsing of untrusted JSON text with limits.
 * Valid UTF-8 only, bounded nesting depth, no trailing garbage, and numbers of any length kept exact. */
#ifndef CLONE_JOBS_JSON_INPUT_H
#define CLONE_JOBS_JSON_INPUT_H

#include <stddef.h>
#include <json-c/json.h>

/* What json_input_parse returns when the text may be fine but memory ran out (a 500, not a 400). */
#define JSON_INPUT_NO_MEMORY (-2)

/* Parse len bytes of text (need not be NUL-terminated; an embedded NUL is an error).
 * Returns 0 and sets *out to the new value (the caller owns it; a literal `null` gives NULL,
 * as json-c represents JSON null), or -1 with a short message for the client in err, such as
 * "malformed JSON at byte 12", "JSON nested deeper than 32 levels", "invalid UTF-8 in JSON",
 * or JSON_INPUT_NO_MEMORY.
 *
 * Numbers: json-c turns integer literals into int64 and silently clamps larger ones, so every
 * integer literal of 19 or more digits is read as a json-c double carrying its source text instead;
 * json_input_number_text() then gives the exact text of any number. */
int json_input_parse(const char *text, size_t len, int max_depth, json_object **out,
                     char *err, size_t errlen);

/* The exact text of a JSON number (json_type_int or json_type_double): the source text for
 * numbers parsed by json_input_parse or made by ddbv_number_json, the decimal form for
 * other int64 values. Returns 0, or -1 when obj is not a number, has no finite text, or out
 * is too small. */
int json_input_number_text(json_object *obj, char *out, size_t outlen);

#endif
