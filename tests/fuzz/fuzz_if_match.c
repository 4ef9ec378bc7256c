/* fuzz_if_match.c — libFuzzer target: the If-Match header parser, if_match_parse (src/worker/if_match.h).
 * Left out of the build until that header exists (tests/fuzz/build skips a target whose header is missing). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "if_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    char *value = fuzz_field(&in, 0);
    struct if_match m;
    int rc = if_match_parse(value, &m);
    if (rc != 0 && rc != -1)
        abort(); /* 0, or -1 when malformed: nothing else */
    free(value);
    return 0;
}
