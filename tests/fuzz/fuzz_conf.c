/* fuzz_conf.c — libFuzzer target: the configuration file (conf_load) with any content.
 * The input is written to an in-memory file and read through its /proc path, as conf_load reads a path. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz-conf", 0);
        if (memfd < 0)
            abort();
    }
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    struct conf c;
    char err[1024];
    if (conf_load(&c, path, err, sizeof err) == 0) {
        /* What was taken is within its documented bounds. */
        if (c.max_header_bytes == 0 || strlen(c.table) < 3 || c.integration_timeout_s < 1)
            abort();
    } else if (err[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    return 0;
}
