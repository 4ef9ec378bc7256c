/* main_fcgi.c — clone-jobs-fcgi: the worker program. Under spawn-fcgi (fd 0 a listening socket) it serves
 * FastCGI requests one at a time until SIGTERM; started any other way it answers one CGI request. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "pool.h"
#include "router.h"
#include "worker.h"

extern char **environ;

/* The one piece of global mutable state: set by the signal handler, read by the accept loop. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    /* Signals are blocked while a request runs, so this only happens while idle: closing our copy of the
     * listening socket makes an accept() that is about to start (or already waiting) fail at once. */
    close(0);
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: clone-jobs-fcgi [--config FILE] [--log-file FILE] [--workers N] [--check-config] [--routes]\n"
            "  Serves the clone-jobs REST API: as a FastCGI server when started by spawn-fcgi (fd 0 is\n"
            "  the listening socket), otherwise as a CGI program answering one request.\n"
            "  --config FILE    configuration file (default $CLONE_JOBS_CONFIG, then " CONF_DEFAULT_PATH ")\n"
            "  --log-file FILE  append the JSON log lines to FILE instead of stderr\n"
            "  --workers N      FastCGI only: keep N worker processes on the socket, replacing any that\n"
            "                   die (0: 2 per core); without it this process is the one worker\n"
            "  --check-config   read the configuration, report problems, and exit\n"
            "  --routes         print the route table as JSON and exit\n");
}

static long fcgx_read(void *ctx, char *data, size_t n)
{
    FCGX_Request *r = ctx;
    int ask = n > 1 << 30 ? 1 << 30 : (int)n;
    int got = FCGX_GetStr(data, ask, r->in);
    if (got < ask && FCGX_GetError(r->in) != 0)
        return -1;
    return got;
}

static int fcgx_write(void *ctx, const char *data, size_t n)
{
    FCGX_Request *r = ctx;
    while (n) {
        int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
        if (FCGX_PutStr(data, chunk, r->out) != chunk)
            return -1;
        data += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

static long cgi_read(void *ctx, char *data, size_t n)
{
    (void)ctx;
    size_t got = fread(data, 1, n, stdin);
    if (got == 0 && ferror(stdin))
        return -1;
    return (long)got;
}

static int cgi_write(void *ctx, const char *data, size_t n)
{
    (void)ctx;
    return fwrite(data, 1, n, stdout) == n ? 0 : -1;
}

/* A CGI request must still get an HTTP answer when the worker cannot start. */
static void cgi_fail(void)
{
    static const char answer[] = "Status: 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 35\r\n\r\n{\"message\":\"Internal server error\"}";
    if (fwrite(answer, 1, sizeof answer - 1, stdout) != sizeof answer - 1 || fflush(stdout) != 0)
        return;
}

static int serve_fastcgi(struct worker *w)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a waiting accept() must return */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGHUP);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGHUP, &sa, NULL) != 0) {
        log_message(w->conf->log_level, LOG_ERROR, NULL, "sigaction: %s", strerror(errno));
        return 1;
    }
    FCGX_Request req;
    if (FCGX_InitRequest(&req, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_message(w->conf->log_level, LOG_ERROR, NULL, "FCGX_InitRequest failed");
        return 1;
    }
    log_message(w->conf->log_level, LOG_INFO, NULL, "worker started (table %s)", w->conf->table);
    long served = 0;
    while (!stop_requested) {
        if (FCGX_Accept_r(&req) < 0)
            break;
        /* A stop signal waits until this request is answered. */
        if (sigprocmask(SIG_BLOCK, &stop_set, NULL) != 0) {
            FCGX_Finish_r(&req);
            break;
        }
        struct http_io io = {.read = fcgx_read, .write = fcgx_write, .ctx = &req};
        worker_serve(w, req.envp, &io, 1);
        FCGX_Finish_r(&req);
        served++;
        if (sigprocmask(SIG_UNBLOCK, &stop_set, NULL) != 0)
            break;
    }
    FCGX_Free(&req, 0);
    log_message(w->conf->log_level, LOG_INFO, NULL, "worker stopping after %ld requests%s", served,
                stop_requested ? " (signal)" : "");
    return 0;
}

/* One pooled worker: its own curl handle and DynamoDB client, made after the fork. */
static int run_pooled_worker(void *arg)
{
    const struct conf *conf = arg;
    char err[1024];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_message(conf->log_level, LOG_ERROR, NULL, "curl_global_init failed");
        return 1;
    }
    struct worker w;
    if (worker_init(&w, conf, err, sizeof err) != 0) {
        log_message(conf->log_level, LOG_ERROR, NULL, "cannot start: %s", err);
        curl_global_cleanup();
        return 1;
    }
    int status = serve_fastcgi(&w);
    worker_free(&w);
    curl_global_cleanup();
    return status;
}

/* stdout and stderr must be open: were one closed, the next socket curl opens could take its number and
 * receive log lines. */
static int ensure_std_fds(void)
{
    for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
        if (fcntl(fd, F_GETFD) != -1)
            continue;
        int null = open("/dev/null", O_WRONLY);
        if (null < 0)
            return -1;
        if (null != fd) {
            int rc = dup2(null, fd);
            close(null);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (ensure_std_fds() != 0)
        return 1;
    const char *config_path = NULL, *log_file = NULL;
    int check_only = 0;
    int pool_workers = -1; /* -1: no pool, this process serves */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--routes") == 0) {
            struct buf b;
            buf_init(&b, 0);
            int ok = router_routes_json(&b) == 0 && printf("%s\n", b.data) > 0 && fflush(stdout) == 0;
            buf_free(&b);
            return ok ? 0 : 1;
        } else if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--log-file") == 0) && i + 1 < argc) {
            if (argv[i][2] == 'c')
                config_path = argv[++i];
            else
                log_file = argv[++i];
        } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || n < 0 || n > 1024) {
                fprintf(stderr, "clone-jobs-fcgi: --workers takes a number from 0 to 1024\n");
                return 2;
            }
            pool_workers = (int)n;
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "clone-jobs-fcgi: unexpected argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (log_file) {
        int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
            fprintf(stderr, "clone-jobs-fcgi: %s: %s\n", log_file, strerror(errno));
            return 1;
        }
        close(fd);
    }
    /* A client that goes away mid-answer must not kill the worker. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "clone-jobs-fcgi: cannot ignore SIGPIPE: %s\n", strerror(errno));
        return 1;
    }

    int cgi = FCGX_IsCGI();
    struct conf conf;
    char err[1024];
    if (conf_load(&conf, config_path, err, sizeof err) != 0) {
        log_message(LOG_DEBUG, LOG_ERROR, NULL, "configuration: %s", err);
        if (check_only)
            fprintf(stderr, "clone-jobs-fcgi: %s\n", err);
        else if (cgi)
            cgi_fail();
        return 2;
    }
    if (check_only) {
        printf("configuration ok%s%s\n", conf.path[0] ? ": " : " (defaults and environment)", conf.path);
        return 0;
    }
    if (pool_workers >= 0 && !cgi) {
        struct pool_options po;
        pool_options_default(&po);
        po.workers = pool_workers;
        if (pool_run(&po, run_pooled_worker, &conf) != 0) {
            log_message(conf.log_level, LOG_ERROR, NULL, "the worker pool could not start");
            return 1;
        }
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_message(LOG_DEBUG, LOG_ERROR, NULL, "curl_global_init failed");
        if (cgi)
            cgi_fail();
        return 1;
    }
    struct worker w;
    if (worker_init(&w, &conf, err, sizeof err) != 0) {
        log_message(LOG_DEBUG, LOG_ERROR, NULL, "cannot start: %s", err);
        if (cgi)
            cgi_fail();
        curl_global_cleanup();
        return 1;
    }
    int status = 0;
    if (cgi) {
        struct http_io io = {.read = cgi_read, .write = cgi_write, .ctx = NULL};
        if (worker_serve(&w, environ, &io, 0) == 0 || fflush(stdout) != 0)
            status = 1;
    } else {
        status = serve_fastcgi(&w);
    }
    worker_free(&w);
    curl_global_cleanup();
    return status;
}
