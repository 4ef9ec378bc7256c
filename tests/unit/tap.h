/* tap.h — the smallest Test Anything Protocol writer for the C unit tests.
 * Each check prints "ok N - name" or "not ok N - name"; tap_done() prints the plan and the exit code. */
#ifndef CLONE_JOBS_TAP_H
#define CLONE_JOBS_TAP_H

#include <stdarg.h>
#include <stdio.h>

struct tap {
    int run;
    int failed;
};

__attribute__((format(printf, 3, 4)))
static inline int tap_ok(struct tap *t, int cond, const char *fmt, ...)
{
    va_list ap;
    t->run++;
    if (!cond)
        t->failed++;
    printf("%sok %d - ", cond ? "" : "not ", t->run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

/* A diagnostic line, shown by TAP consumers but not counted. */
__attribute__((format(printf, 2, 3)))
static inline void tap_diag(struct tap *t, const char *fmt, ...)
{
    va_list ap;
    (void)t;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static inline int tap_done(struct tap *t)
{
    printf("1..%d\n", t->run);
    if (t->failed)
        printf("# %d of %d failed\n", t->failed, t->run);
    return t->failed ? 1 : 0;
}

#endif
