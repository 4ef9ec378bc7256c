/* main_fcgi.c — clone-jobs-fcgi: the worker program. Under spawn-fcgi (fd 0 a listening socket) it serves
 * FastCGI with `threads` requests in flight until SIGTERM; started any other way it answers one CGI request. */
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
#include "config_check.h"
#include "http.h"
#include "log.h"
#include "metrics_server.h"
#include "openapi.h"
#include "pool.h"
#include "router.h"
#include "fcgi_server.h"
#include "worker.h"

extern char **environ;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: clone-jobs-fcgi [--config FILE] [--log-file FILE] [--workers N] [--check-config] [--routes]\n"
            "                       [--openapi]\n"
            "  Serves the clone-jobs REST API: as a FastCGI server when started by spawn-fcgi (fd 0 is\n"
            "  the listening socket), otherwise as a CGI program answering one request.\n"
            "  --config FILE    configuration file (default $CLONE_JOBS_CONFIG, then " CONF_DEFAULT_PATH ")\n"
            "  --version        print the version and exit\n"
            "  --log-file FILE  append the JSON log lines to FILE instead of stderr (default: the\n"
            "                   configuration's log_file, else stderr)\n"
            "  --workers N      FastCGI only: keep N worker processes on the socket, replacing any that\n"
            "                   die (0: 2 per core); without it this process is the one worker. Each\n"
            "                   process serves `threads` (configuration) requests at once\n"
            "  --check-config   read the configuration, report problems, and exit\n"
            "  --routes         print the route table as JSON and exit\n"
            "  --openapi        print the API as an OpenAPI 3.0 document (JSON; the configuration's stage and\n"
            "                   server name make its server URL) and exit\n");
}

static long cgi_read(void *ctx, char *data, size_t n)
{
    (void)ctx;
    /* No stdin, or a terminal (run by hand): no body will come, so do not wait for one. */
    if (fcntl(STDIN_FILENO, F_GETFD) == -1 || isatty(STDIN_FILENO))
        return HTTP_READ_NO_STREAM;
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

/* Serve FastCGI on fd 0 in this process: its own curl set-up, AWS credentials and threads, made after any
 * fork, because neither curl handles nor threads survive one. */
static int serve_fastcgi(const struct conf *conf, struct metrics_process *metrics)
{
    char err[1024];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_message(conf->log_level, LOG_LEVEL_ERROR, NULL, "curl_global_init failed");
        return 1;
    }
    struct worker_process p;
    if (worker_process_init(&p, conf, err, sizeof err) != 0) {
        log_message(conf->log_level, LOG_LEVEL_ERROR, NULL, "cannot start: %s", err);
        curl_global_cleanup();
        return 1;
    }
    p.metrics = metrics;
    int status = FCGX_Init() == 0 ? fcgi_server_run(&p, 0, conf->threads) : 1;
    worker_process_free(&p);
    curl_global_cleanup();
    return status;
}

/* What the pool's children get: the configuration and, with metrics, the region and the listener's socket. */
struct pooled {
    const struct conf *conf;
    struct metrics_region *metrics;
    int metrics_fd;
};

static int run_pooled_worker(void *arg, struct metrics_process *metrics)
{
    const struct pooled *a = arg;
    if (a->metrics_fd >= 0)
        close(a->metrics_fd); /* the listener's, not a worker's */
    return serve_fastcgi(a->conf, metrics);
}

static int run_metrics_listener(void *arg)
{
    const struct pooled *a = arg;
    return metrics_server_run(a->conf, a->metrics, a->metrics_fd, 0);
}

/* Answer the one CGI request of this process. */
static int serve_cgi(const struct conf *conf)
{
    char err[1024];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_message(LOG_LEVEL_DEBUG, LOG_LEVEL_ERROR, NULL, "curl_global_init failed");
        cgi_fail();
        return 1;
    }
    struct worker_process p;
    struct worker w;
    int status = 1;
    if (worker_process_init(&p, conf, err, sizeof err) != 0) {
        log_message(LOG_LEVEL_DEBUG, LOG_LEVEL_ERROR, NULL, "cannot start: %s", err);
        cgi_fail();
    } else {
        if (worker_init(&w, &p, err, sizeof err) != 0) {
            log_message(LOG_LEVEL_DEBUG, LOG_LEVEL_ERROR, NULL, "cannot start: %s", err);
            cgi_fail();
        } else {
            struct http_io io = {.read = cgi_read, .write = cgi_write, .ctx = NULL};
            status = worker_serve(&w, environ, &io, 0) == 0 || fflush(stdout) != 0;
            worker_after_answer(&w);
            worker_free(&w);
        }
        worker_process_free(&p);
    }
    curl_global_cleanup();
    return status;
}

/* The log lines go to path (appended) instead of stderr. Returns 0, or -1 with a message on stderr. */
static int redirect_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
        fprintf(stderr, "clone-jobs-fcgi: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
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
    int check_only = 0, openapi = 0;
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
        } else if (strcmp(argv[i], "--version") == 0) {
            int shown = printf("clone-jobs-fcgi (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION) > 0;
            return shown && fflush(stdout) == 0 ? 0 : 1;
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--openapi") == 0) {
            openapi = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "clone-jobs-fcgi: unexpected argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (log_file && redirect_log(log_file) != 0)
        return 1;
    /* A client that goes away mid-answer must not kill the worker. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "clone-jobs-fcgi: cannot ignore SIGPIPE: %s\n", strerror(errno));
        return 1;
    }

    int cgi = FCGX_IsCGI();
    struct conf conf;
    char err[1024];
    if (conf_load(&conf, config_path, err, sizeof err) != 0) {
        log_message(LOG_LEVEL_DEBUG, LOG_LEVEL_ERROR, NULL, "configuration: %s", err);
        if (check_only)
            fprintf(stderr, "clone-jobs-fcgi: %s\n", err);
        else if (cgi)
            cgi_fail();
        return 2;
    }
    /* Under CGI there is no command line to name a log file: the configuration's log_file does. */
    if (!check_only && !log_file && conf.log_file[0] && redirect_log(conf.log_file) != 0) {
        if (cgi)
            cgi_fail();
        return 1;
    }
    if (check_only) {
        printf("configuration ok%s%s\n", conf.path[0] ? ": " : " (defaults and environment)", conf.path);
        return config_check(&conf, stdout) == 0 ? 0 : 2;
    }
    if (openapi) {
        struct buf doc;
        buf_init(&doc, 0);
        int ok = openapi_document(&conf, &doc, err, sizeof err) == 0 && fwrite(doc.data, 1, doc.len, stdout) == doc.len &&
                 fflush(stdout) == 0;
        if (!ok)
            fprintf(stderr, "clone-jobs-fcgi: --openapi: %s\n", err);
        buf_free(&doc);
        return ok ? 0 : 1;
    }
    if (cgi) {
        /* One request per process: a usage lease of one, so the count is exact with a single write. */
        if (conf.usage_block > 1)
            conf.usage_block = 1;
        return serve_cgi(&conf);
    }
    if (pool_workers >= 0) {
        struct pool_options po;
        pool_options_default(&po);
        po.workers = pool_workers;
        po.log_level = conf.log_level;
        struct pooled a = {.conf = &conf, .metrics = NULL, .metrics_fd = -1};
        if (conf.metrics_listen[0]) {
            if (metrics_server_prepare(&conf, pool_workers, &a.metrics, &a.metrics_fd, err, sizeof err) == 0) {
                po.metrics = a.metrics;
                po.sidecar = run_metrics_listener;
            } else {
                log_message(conf.log_level, LOG_LEVEL_ERROR, NULL, "no metrics listener: %s", err);
            }
        }
        int rc = pool_run(&po, run_pooled_worker, &a);
        if (a.metrics_fd >= 0)
            close(a.metrics_fd);
        metrics_region_destroy(a.metrics);
        if (rc != 0) {
            log_message(conf.log_level, LOG_LEVEL_ERROR, NULL, "the worker pool could not start");
            return 1;
        }
        return 0;
    }
    return serve_fastcgi(&conf, NULL);
}
