/* fuzz_json_values.c — libFuzzer target: request JSON -> json_input_parse -> DynamoDB values and back.
 * Besides not crashing, a value taken once must come back from DynamoDB's form to the same attribute value. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_value.h"
#include "json_input.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* DynamoDB form -> wire text -> parsed again -> plain JSON -> DynamoDB form: must print the same. */
static void round_trip(json_object *av, int item)
{
    char err[300];
    size_t len = 0;
    const char *wire = json_object_to_json_string_length(av, JSON_C_TO_STRING_PLAIN, &len);
    json_object *reread = NULL, *plain = NULL, *again = NULL;
    /* Each level of the client's value is two in DynamoDB's form ({"L":[...]}), plus the item's map. */
    if (json_input_parse(wire, len, 200, &reread, err, sizeof err) != 0) {
        fprintf(stderr, "our own DynamoDB JSON does not parse: %s\n", err);
        abort();
    }
    int rc = item ? ddbv_item_to_json(reread, &plain, err, sizeof err) : ddbv_to_json(reread, &plain, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "our own attribute value does not convert back: %s\n", err);
        abort();
    }
    rc = item ? ddbv_item_from_json(plain, &again, err, sizeof err) : ddbv_from_json(plain, &again, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "a value taken once is refused the second time: %s\n", err);
        abort();
    }
    if (strcmp(json_object_to_json_string_ext(av, FLAGS), json_object_to_json_string_ext(again, FLAGS)) != 0) {
        fprintf(stderr, "round trip changed the value:\n%s\n%s\n", json_object_to_json_string_ext(av, FLAGS),
                json_object_to_json_string_ext(again, FLAGS));
        abort();
    }
    json_object_put(again);
    json_object_put(plain);
    json_object_put(reread);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *v = NULL;
    char err[300];
    if (json_input_parse((const char *)data, size, 32, &v, err, sizeof err) != 0)
        return 0;
    json_object *av = NULL;
    if (json_object_is_type(v, json_type_object) && ddbv_item_from_json(v, &av, err, sizeof err) == 0) {
        if (ddbv_item_size(av) > DDBV_ITEM_MAX || ddbv_item_check(av, NULL, err, sizeof err) != 0)
            abort(); /* what item_from_json took must pass the check it ran */
        round_trip(av, 1);
        json_object_put(av);
        av = NULL;
    }
    if (ddbv_from_json(v, &av, err, sizeof err) == 0) {
        round_trip(av, 0);
        json_object_put(av);
    }
    json_object_put(v);
    return 0;
}
