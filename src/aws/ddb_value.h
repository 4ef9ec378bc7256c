/* ddb_value.h — lossless conversion between plain JSON values and DynamoDB attribute values.
 * Numbers keep their exact decimal value both ways; anything DynamoDB cannot hold is an error, never a rounding. */
#ifndef CLONE_JOBS_DDB_VALUE_H
#define CLONE_JOBS_DDB_VALUE_H

#include <stddef.h>
#include <json-c/json.h>

/* Longest canonical DynamoDB number text we produce: sign, 38 digits, point, "E-130". */
#define DDBV_NUMBER_MAX 64

/* Check a decimal number text (JSON number syntax, also accepting DynamoDB's forms such as "1E+2",
 * "+1", ".5", "5.") against DynamoDB's limits: at most 38 significant digits, and zero or a magnitude
 * from 1E-130 to 9.9999999999999999999999999999999999999E+125. Writes a canonical text with the same
 * value into out (at least DDBV_NUMBER_MAX bytes): no leading/trailing zeros, no "-0", plain notation
 * when it is short, otherwise "d.dddE+n". Returns 0, or -1 with a message for the client in err
 * ("number 1E+126 is out of DynamoDB's range", "number has more than 38 significant digits", ...). */
int ddbv_number_canonical(const char *text, char *out, size_t outlen, char *err, size_t errlen);

/* A json-c number object that serializes as exactly `text` (a valid JSON number). Caller owns it. */
json_object *ddbv_number_json(const char *text);

/* What the converters below return when memory ran out (the value may be fine: a 500, not a 400). */
#define DDBV_NO_MEMORY (-2)

/* Plain JSON value -> attribute value ({"S":..}, {"N":..}, {"BOOL":..}, {"NULL":true}, {"L":[..]},
 * {"M":{..}}). value may be NULL (JSON null). On success *out is new (caller owns it) and 0 is
 * returned; on bad input -1 with a message naming the offending attribute path in err
 * (e.g. "attribute price: number 1E+200 is out of DynamoDB's range"). DynamoDB's limits that apply to
 * one value hold too: names in maps, nesting, and a size that fits in an item. Out of memory:
 * DDBV_NO_MEMORY. */
int ddbv_from_json(json_object *value, json_object **out, char *err, size_t errlen);

/* A JSON object -> DynamoDB item (a map of attribute name to attribute value, without the outer M).
 * The item is checked with ddbv_item_check (without a key attribute): DynamoDB's limits fail here. */
int ddbv_item_from_json(json_object *object, json_object **out, char *err, size_t errlen);

/* DynamoDB's documented item limits. The worker checks them itself before any call, because compatible
 * stores differ (dynalite stores an empty or a 70,000-byte attribute name that DynamoDB refuses). */
#define DDBV_NAME_MAX 65535         /* bytes of an attribute name, which must have at least one */
#define DDBV_NESTING_MAX 32         /* levels of L and M inside one attribute */
#define DDBV_ITEM_MAX 409600        /* 400 KB: names and values, counted as DynamoDB counts them */
#define DDBV_PARTITION_KEY_MAX 2048 /* bytes of a partition key's value (at least one) */

/* The size DynamoDB charges an item in attribute-value form against its 400 KB: every attribute name's
 * UTF-8 bytes plus its value's size (S: UTF-8 bytes; B: decoded bytes; N: about one byte per two
 * significant digits plus one; BOOL, NULL: 1; L and M: 3 plus one per element plus the elements, and the
 * names inside an M; sets: the sum of their members). SIZE_MAX when item is not an item. */
size_t ddbv_item_size(json_object *item);

/* Check an item in attribute-value form against DynamoDB's limits: attribute names of 1..65535 bytes at
 * every level, at most 32 levels of nesting, sets that are neither empty nor hold a duplicate, numbers
 * DynamoDB can hold, well-formed values, the whole item within 400 KB and, when key_attribute is not NULL,
 * that attribute present as a string, number or binary of 1..2048 bytes. Returns 0, or -1 with a message
 * for the client in err that names the limit ("attribute a.b: attribute name is empty; DynamoDB's
 * attribute names are 1 to 65535 bytes"). */
int ddbv_item_check(json_object *item, const char *key_attribute, char *err, size_t errlen);

/* Attribute value -> plain JSON. N becomes a number with DynamoDB's exact text; SS and NS become
 * arrays of strings and numbers; B a base64 string; BS an array of base64 strings.
 * *out may be set to NULL for {"NULL":true}. Returns 0, or -1 with err on a malformed attribute value. */
int ddbv_to_json(json_object *av, json_object **out, char *err, size_t errlen);

/* DynamoDB item (map of attribute values) -> plain JSON object. */
int ddbv_item_to_json(json_object *item, json_object **out, char *err, size_t errlen);

#endif
