/* json_output.h — JSON text from json-c objects, every byte appended checked: what the worker sends to
 * DynamoDB and to clients. Numbers keep their exact text (json_input_number_text); '/' is not escaped. */
#ifndef CLONE_JOBS_JSON_OUTPUT_H
#define CLONE_JOBS_JSON_OUTPUT_H

#include <json-c/json.h>

#include "buf.h"

/* Append o as compact JSON to out. Returns 0, or -1 when out of memory (or over out's limit) or when a
 * number has no exact text, with out back at its length before the call.
 * Written because json-c 0.16's serializer ignores its own failed appends when memory runs out and
 * returns text with pieces missing: a PutItem with an attribute value gone, sent as if whole. */
int json_output(json_object *o, struct buf *out);

#endif
