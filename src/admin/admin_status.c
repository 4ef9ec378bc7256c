/* admin_status.c — `clone-jobs-admin status [--json]`: asks the pool's metrics listener for /status and prints it.
 * Over loopback HTTP rather than the shared memory itself, so it works as any user and from any process. */
#include "config.h"

#include "admin_status.h"

#include <curl/curl.h>
#include <string.h>

#include "buf.h"

#define STATUS_MAX_BYTES (4u << 20)
#define STATUS_TIMEOUT_MS 5000

void admin_status_usage(FILE *to)
{
    fprintf(to,
            "pool status:\n"
            "  status [--json] [--listen HOST:PORT]\n"
            "                   the worker pool's processes, threads, requests in flight (the longest-running\n"
            "                   one with its request id) and totals since start, from the pool's metrics\n"
            "                   listener (default: the configuration's metrics_listen)\n");
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    return buf_append(userdata, data, size * nmemb) == 0 ? size * nmemb : 0;
}

int admin_status_main(int argc, char **argv, const struct conf *conf)
{
    int json = 0;
    const char *listen = conf->metrics_listen;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else {
            fprintf(stderr, "clone-jobs-admin status: unexpected argument %s\n", argv[i]);
            admin_status_usage(stderr);
            return 2;
        }
    }
    if (!listen[0]) {
        fprintf(stderr, "clone-jobs-admin status: metrics_listen is not set in the configuration (the pool has "
                        "no metrics listener); set it, or name one with --listen\n");
        return 2;
    }
    char url[256];
    int n = snprintf(url, sizeof url, "http://%s/status%s", listen, json ? "?json" : "");
    if (n < 0 || (size_t)n >= sizeof url) {
        fprintf(stderr, "clone-jobs-admin status: listen address too long\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "clone-jobs-admin status: curl_global_init failed\n");
        return 1;
    }
    struct buf body;
    buf_init(&body, STATUS_MAX_BYTES);
    int status = 1;
    long code = 0;
    char error[CURL_ERROR_SIZE] = "";
    CURL *curl = curl_easy_init();
    CURLcode rc = CURLE_FAILED_INIT;
    if (curl && curl_easy_setopt(curl, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http") == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)STATUS_TIMEOUT_MS) == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*") == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error) == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect) == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body) == CURLE_OK)
        rc = curl_easy_perform(curl);
    if (rc == CURLE_OK && curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200) {
        if (body.data && fwrite(body.data, 1, body.len, stdout) == body.len && fflush(stdout) == 0)
            status = 0;
    } else if (rc == CURLE_OK) {
        fprintf(stderr, "clone-jobs-admin status: %s answered HTTP %ld\n", url, code);
    } else {
        fprintf(stderr, "clone-jobs-admin status: %s: %s (is the pool running with metrics_listen = %s?)\n", url,
                error[0] ? error : curl_easy_strerror(rc), listen);
    }
    if (curl)
        curl_easy_cleanup(curl);
    buf_free(&body);
    curl_global_cleanup();
    return status;
}
