/* fuzz_router.c — libFuzzer target: router_match on any stage choice, method and raw path.
 * Input: one byte choosing the stage, the method up to '\n', then the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const stages[] = {"", "/prod", "/a/b.c"};
    struct fuzz_input in = {data, size};
    const char *stage = stages[fuzz_byte(&in) % 3];
    char *method = fuzz_field(&in, '\n');
    char *path = fuzz_field(&in, 0x100 - 1); /* the rest, 0xff ends it */
    struct route_match m;
    memset(&m, 0, sizeof m);
    enum route_result r = router_match(stage, path, method, &m);
    if (r == ROUTE_OK && m.route == NULL)
        abort(); /* a match names its route */
    if (r != ROUTE_NO_MEMORY)
        route_match_free(&m);
    free(method);
    free(path);
    return 0;
}
