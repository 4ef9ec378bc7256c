/* clock.c — clock_monotonic_ms, the program's one reading of CLOCK_MONOTONIC in milliseconds.
 * CLOCK_MONOTONIC, not the wall clock, so a clock step cannot make a timeout negative or endless. */
#include "config.h"

#include "clock.h"

#include <time.h>

long clock_monotonic_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_monotonic_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
