/* fuzz_common.h — helpers shared by the libFuzzer targets: splitting one input into fields.
 * Targets read their fields from the input so that libFuzzer can grow each one on its own. */
#ifndef CLONE_JOBS_FUZZ_COMMON_H
#define CLONE_JOBS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over the fuzz input. */
struct fuzz_input {
    const uint8_t *data;
    size_t size;
};

/* The next field up to sep (not included), as a new NUL-terminated string (NULs inside become 'x', as
 * C strings from the outside world cannot hold them). The rest of the input when sep does not occur. */
static inline char *fuzz_field(struct fuzz_input *in, uint8_t sep)
{
    const uint8_t *end = memchr(in->data, sep, in->size);
    size_t n = end ? (size_t)(end - in->data) : in->size;
    char *s = malloc(n + 1);
    if (!s)
        abort();
    for (size_t i = 0; i < n; i++)
        s[i] = in->data[i] ? (char)in->data[i] : 'x';
    s[n] = '\0';
    in->data += end ? n + 1 : n;
    in->size -= end ? n + 1 : n;
    return s;
}

/* One byte of the input for choices, 0 when none is left. */
static inline uint8_t fuzz_byte(struct fuzz_input *in)
{
    if (in->size == 0)
        return 0;
    uint8_t b = in->data[0];
    in->data++;
    in->size--;
    return b;
}

#endif
