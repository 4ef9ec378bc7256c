/* fuzz_ddb_answer.c — libFuzzer target: a DynamoDB answer (any bytes) -> attribute values -> client JSON.
 * What a store sends back is outside input too: a broken or hostile endpoint must not crash a worker. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>

#include "ddb_value.h"
#include "json_input.h"

static void convert(json_object *item)
{
    char err[300];
    json_object *plain = NULL;
    if (ddbv_item_to_json(item, &plain, err, sizeof err) == 0)
        json_object_put(plain);
    plain = NULL;
    if (ddbv_to_json(item, &plain, err, sizeof err) == 0)
        json_object_put(plain);
    (void)ddbv_item_check(item, "cloneID", err, sizeof err);
    (void)ddbv_item_size(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *answer = NULL;
    char err[300];
    /* The DynamoDB client reads answers with the same parser (src/aws/ddb.c). */
    if (json_input_parse((const char *)data, size, 100, &answer, err, sizeof err) != 0)
        return 0;
    convert(answer);
    json_object *items = NULL, *item = NULL;
    if (json_object_object_get_ex(answer, "Items", &items) && json_object_is_type(items, json_type_array))
        for (size_t i = 0; i < json_object_array_length(items); i++)
            convert(json_object_array_get_idx(items, i));
    if (json_object_object_get_ex(answer, "Item", &item))
        convert(item);
    if (json_object_object_get_ex(answer, "Attributes", &item))
        convert(item);
    json_object_put(answer);
    return 0;
}
