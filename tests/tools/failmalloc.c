/* failmalloc.c — a preloaded allocator shim for the out-of-memory sweep: from the start of a request, it counts
 * the allocations made by the worker's own code and json-c on its behalf, and fails exactly the Nth one.
 *
 * Environment: FAILMALLOC_N (fail the Nth counted allocation; unset or 0: fail none), FAILMALLOC_REPORT (a
 * file to write the number counted into at exit). Counting starts when the worker calls
 * clone_jobs_request_started(), a weak hook in worker.c that only this shim defines. Allocations by libcurl,
 * OpenSSL and libc on their own behalf are not counted: their out-of-memory paths are theirs to test, and a
 * leak in them would not be a finding about this code. Written by hand because no Debian package offers a
 * fault-injecting malloc that composes with AddressSanitizer (preloaded ahead of it with
 * ASAN_OPTIONS=verify_asan_link_order=0, this forwards to ASan's allocator, so leaks are still found). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

/* dlsym allocates before the real functions are known: those few come from here and are never freed. */
static _Alignas(16) char bootstrap[65536];
static size_t bootstrap_used;
static int resolving;

static atomic_int armed;
static atomic_long counted;
static long fail_at;

#define MAX_RANGES 16
static struct {
    uintptr_t start, end;
} ranges[MAX_RANGES];
static int range_count;

static void resolve(void)
{
    resolving = 1;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

static void *bootstrap_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (bootstrap_used + n > sizeof bootstrap)
        return NULL;
    void *p = bootstrap + bootstrap_used;
    bootstrap_used += n;
    return p;
}

static int from_bootstrap(const void *p)
{
    return (const char *)p >= bootstrap && (const char *)p < bootstrap + sizeof bootstrap;
}

/* The executable (the worker's code is linked into it) and libjson-c count; nothing else does. */
static int note_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (name[0] != '\0' && !strstr(name, "libjson-c"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum && range_count < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            ranges[range_count].start = info->dlpi_addr + ph->p_vaddr;
            ranges[range_count].end = ranges[range_count].start + ph->p_memsz;
            range_count++;
        }
    }
    return 0;
}

/* Called by the worker as a request starts (weak hook in worker.c). */
void clone_jobs_request_started(void);
void clone_jobs_request_started(void)
{
    const char *n = getenv("FAILMALLOC_N");
    fail_at = n ? atol(n) : 0;
    dl_iterate_phdr(note_object, NULL);
    atomic_store(&armed, 1);
}

static int counts(const void *caller)
{
    uintptr_t a = (uintptr_t)caller;
    for (int i = 0; i < range_count; i++)
        if (a >= ranges[i].start && a < ranges[i].end)
            return 1;
    return 0;
}

/* Count an allocation from caller; 1 when it is the one to fail. */
static int fail_now(const void *caller)
{
    if (!atomic_load(&armed) || !counts(caller))
        return 0;
    long c = atomic_fetch_add(&counted, 1) + 1;
    return fail_at > 0 && c == fail_at;
}

static void *checked_malloc(size_t n, const void *caller)
{
    if (!real_malloc) {
        if (resolving)
            return bootstrap_alloc(n);
        resolve();
    }
    if (fail_now(caller)) {
        errno = ENOMEM;
        return NULL;
    }
    return real_malloc(n);
}

void *malloc(size_t n)
{
    return checked_malloc(n, __builtin_return_address(0));
}

void *calloc(size_t count, size_t size)
{
    if (!real_calloc) {
        if (resolving) {
            void *p = size && count > SIZE_MAX / size ? NULL : bootstrap_alloc(count * size);
            if (p)
                memset(p, 0, count * size);
            return p;
        }
        resolve();
    }
    if (fail_now(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real_calloc(count, size);
}

void *realloc(void *p, size_t n)
{
    if (!real_realloc)
        resolve();
    if (p && from_bootstrap(p)) {
        void *q = real_malloc(n);
        size_t left = (size_t)(bootstrap + sizeof bootstrap - (char *)p);
        if (q)
            memcpy(q, p, n < left ? n : left);
        return q;
    }
    if (fail_now(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real_realloc(p, n);
}

void free(void *p)
{
    if (!p || from_bootstrap(p))
        return;
    if (!real_free)
        resolve();
    real_free(p);
}

/* libc's own strdup calls malloc from inside libc, where it would not count: these count their caller. */
char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = checked_malloc(n, __builtin_return_address(0));
    if (p)
        memcpy(p, s, n);
    return p;
}

char *strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *p = checked_malloc(n + 1, __builtin_return_address(0));
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("FAILMALLOC_REPORT");
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%ld\n", atomic_load(&counted));
        fclose(f);
    }
}
