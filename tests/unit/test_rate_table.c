/* test_rate_table.c — the shared rate and burst counters of gateway = worker: nginx's limit_req arithmetic,
 * one count across processes and threads, the file outliving its users, a lock holder that dies, bad files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rate_table.h"
#include "tap.h"

#define T0 INT64_C(1800000000000) /* a fixed wall clock: every count below is exact */

static char dir[64];

static int take_n(struct rate_table *t, const char *client, long rate, long burst, int64_t now, int n)
{
    int admitted = 0;
    for (int i = 0; i < n; i++)
        admitted += rate_table_take(t, client, rate, burst, now) == RATE_ADMIT;
    return admitted;
}

struct thread_arg {
    struct rate_table *t;
    int admitted;
};

static void *hammer(void *p)
{
    struct thread_arg *a = p;
    a->admitted = take_n(a->t, "threads", 1, 999, T0, 1000);
    return NULL;
}

/* A child process with its own mapping takes n requests and exits with how many were admitted. */
static pid_t child_takes(int n)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char err[512];
    struct rate_table *t = rate_table_open(dir, err, sizeof err);
    if (!t)
        _exit(255);
    int admitted = take_n(t, "processes", 1, 99, T0, n);
    rate_table_close(t);
    _exit(admitted);
}

int main(void)
{
    struct tap t = {0};
    char err[512];
    snprintf(dir, sizeof dir, "/tmp/clone-jobs-rate-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, RATE_TABLE_FILE);
    umask(022);

    struct rate_table *rt = rate_table_open(dir, err, sizeof err);
    if (!tap_ok(&t, rt != NULL, "a missing table is made (%s)", rt ? "" : err))
        return tap_done(&t);
    struct stat st;
    tap_ok(&t, stat(path, &st) == 0 && (st.st_mode & 0777) == 0660 && st.st_size == (off_t)RATE_TABLE_BYTES,
           "the file is mode 0660 whatever the umask, %zu bytes", (size_t)RATE_TABLE_BYTES);

    /* nginx's limit_req with nodelay: burst B admits B + 1 at once, then one per 1/rate seconds. */
    tap_ok(&t, take_n(rt, "alice", 1, 3, T0, 10) == 4, "rate 1, burst 3: 4 of 10 at once");
    tap_ok(&t, take_n(rt, "alice", 1, 3, T0 + 999, 1) == 0, "none 999 ms later");
    tap_ok(&t, take_n(rt, "alice", 1, 3, T0 + 1000, 5) == 1, "one 1000 ms later");
    tap_ok(&t, take_n(rt, "alice", 1, 3, T0 + 5000, 10) == 4, "the bucket drains at the rate: 4 more after 4 s");
    tap_ok(&t, take_n(rt, "bob", 1, 3, T0, 10) == 4, "another client has its own bucket");
    tap_ok(&t, take_n(rt, "carol", 2, 0, T0, 3) == 1 && take_n(rt, "carol", 2, 0, T0 + 499, 1) == 0 &&
                   take_n(rt, "carol", 2, 0, T0 + 500, 1) == 1,
           "rate 2, burst 0: one, then one per 500 ms");
    tap_ok(&t, take_n(rt, "dave", 1000, 0, T0, 1) == 1 && take_n(rt, "dave", 1000, 0, T0 + 1, 1) == 1,
           "rate 1000: one per millisecond");
    tap_ok(&t, take_n(rt, "alice", 1, 3, T0 + 4000, 1) == 0, "a clock that steps back counts as no time");
    tap_ok(&t, take_n(rt, "alice", 1, 3, T0 + 4999, 1) == 0 && take_n(rt, "alice", 1, 3, T0 + 5000, 1) == 1,
           "and draining goes on from the new time (one 1000 ms after the step back)");

    /* The counts outlive the processes that made them. */
    rate_table_close(rt);
    rt = rate_table_open(dir, err, sizeof err);
    tap_ok(&t, rt && take_n(rt, "bob", 1, 3, T0 + 10, 1) == 0, "reopened: bob is still over his burst");

    /* Threads of one process: exactly burst + 1 admitted, however they interleave. */
    pthread_t th[8];
    struct thread_arg args[8];
    int made = 0, total = 0;
    for (int i = 0; i < 8; i++) {
        args[i] = (struct thread_arg){.t = rt};
        made += pthread_create(&th[i], NULL, hammer, &args[i]) == 0;
    }
    for (int i = 0; i < made; i++) {
        pthread_join(th[i], NULL);
        total += args[i].admitted;
    }
    tap_ok(&t, made == 8 && total == 1000, "8 threads x 1000 requests, burst 999: exactly 1000 admitted (%d)", total);

    /* Processes with their own mappings: one count. */
    pid_t kids[6];
    int admitted = 0, clean = 1;
    for (int i = 0; i < 6; i++)
        kids[i] = child_takes(40);
    for (int i = 0; i < 6; i++) {
        int status = 0;
        if (kids[i] < 0 || waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) == 255)
            clean = 0;
        else
            admitted += WEXITSTATUS(status);
    }
    tap_ok(&t, clean && admitted == 100, "6 processes x 40 requests, burst 99: exactly 100 admitted (%d)", admitted);

    /* A process that dies holding the lock does not block the others. */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR);
        struct rate_table_header *h =
            fd < 0 ? MAP_FAILED : mmap(NULL, RATE_TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (h == MAP_FAILED || pthread_mutex_lock(&h->lock) != 0)
            _exit(1);
        _exit(0); /* with the lock held */
    }
    int status = 0;
    int died_holding = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    tap_ok(&t, died_holding && rate_table_take(rt, "erin", 1, 0, T0) == RATE_ADMIT &&
                   rate_table_take(rt, "erin", 1, 0, T0) == RATE_LIMITED,
           "a lock left by a dead process is taken over");

    /* More clients than slots: every newcomer gets a bucket, drained ones are reused first. */
    int first = 0;
    char name[32];
    for (int i = 0; i < RATE_TABLE_SLOTS + 1000; i++) {
        snprintf(name, sizeof name, "client-%d", i);
        if (rate_table_take(rt, name, 1, 0, T0 + 100000) != RATE_ADMIT)
            break; /* one is enough to fail, and a lock gone wrong would cost a second each */
        first++;
    }
    tap_ok(&t, first == RATE_TABLE_SLOTS + 1000, "%d clients in %d slots: each one's first request is admitted",
           RATE_TABLE_SLOTS + 1000, RATE_TABLE_SLOTS);
    rate_table_close(rt);

    /* Files that are not this table. */
    char other[128];
    snprintf(other, sizeof other, "%s/other", dir);
    tap_ok(&t, mkdir(other, 0700) == 0, "a second state directory");
    char bad[160];
    snprintf(bad, sizeof bad, "%s/%s", other, RATE_TABLE_FILE);
    FILE *f = fopen(bad, "w");
    tap_ok(&t, f && fputs("short", f) >= 0 && fclose(f) == 0, "a short file in its place");
    tap_ok(&t, !rate_table_open(other, err, sizeof err) && strstr(err, "not a rate table"),
           "a file of another size is refused: %s", err);
    f = fopen(bad, "w");
    tap_ok(&t, f && ftruncate(fileno(f), (off_t)RATE_TABLE_BYTES) == 0 && fclose(f) == 0,
           "a file of the right size, all zeros");
    tap_ok(&t, !rate_table_open(other, err, sizeof err) && strstr(err, "not a rate table"),
           "a file without the magic is refused: %s", err);
    tap_ok(&t, chmod(other, 0500) == 0 && unlink(bad) == 0, "a state directory without write permission");
    rt = geteuid() == 0 ? NULL : rate_table_open(other, err, sizeof err);
    tap_ok(&t, geteuid() == 0 || (!rt && strstr(err, "cannot create the rate table")),
           "a table that cannot be made is an error naming state_dir: %s", geteuid() == 0 ? "(root: skipped)" : err);
    rate_table_close(rt);
    tap_ok(&t, !rate_table_open("/nonexistent/clone-jobs", err, sizeof err) && strstr(err, "state_dir"),
           "a missing state directory names state_dir: %s", err);

    chmod(other, 0700);
    rmdir(other);
    unlink(path);
    rmdir(dir);
    return tap_done(&t);
}
