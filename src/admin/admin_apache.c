/* admin_apache.c — `clone-jobs-admin apache-site`: an Apache virtual host for clone-jobs from the configuration.
 * Refuses what would not work under Apache (gateway = nginx, no cursor_secret) instead of rendering it. */
#include "config.h"

#include "admin_apache.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_files.h"
#include "apache_site.h"
#include "buf.h"

#define TEMPLATE_MAX_BYTES (1u << 20)

void admin_apache_usage(FILE *to)
{
    fprintf(to,
            "  apache-site [--mode proxy-fcgi|fcgid|cgi] [--output FILE] [--template FILE] [--listen ADDR]\n"
            "              [--server-name HOST] [--cert FILE --cert-key FILE | --no-tls] [--socket PATH]\n"
            "              [--program PATH] [--aws-credentials-file FILE] [--log-dir DIR]\n"
            "                   write an Apache virtual host: mod_proxy_fcgi to the pool (the default and the\n"
            "                   fastest), mod_fcgid, or plain CGI; needs gateway = worker and cursor_secret\n");
}

int admin_apache_main(int argc, char **argv, const struct conf *conf)
{
    struct apache_site_params p = {
        .mode = APACHE_PROXY_FCGI,
        .listen = conf->listen,
        .server_name = conf->server_name,
        .cert = conf->tls_certificate,
        .cert_key = conf->tls_certificate_key,
        .socket = conf->fastcgi_socket,
        .program = CLONE_JOBS_BINDIR "/clone-jobs-fcgi",
        .log_dir = "${APACHE_LOG_DIR}",
        .stage = conf->stage,
        .cors_origin = conf->cors_origin,
        .timeout_seconds = conf->integration_timeout_s,
        /* Bodies up to 4 x max_body_bytes reach the worker, which answers API Gateway's 413 (it reads that much
         * of a refused body anyway); Apache refuses only what is larger still. */
        .limit_request_body = 4LL * (long long)conf->max_body_bytes,
    };
    const char *template_path = NULL, *output = NULL, *mode = NULL;
    int no_tls = 0;
    for (int i = 1; i < argc; i++) {
        const struct {
            const char *flag;
            const char **target;
        } options[] = {
            {"--mode", &mode},           {"--output", &output},
            {"--template", &template_path}, {"--listen", &p.listen},
            {"--server-name", &p.server_name}, {"--cert", &p.cert},
            {"--cert-key", &p.cert_key}, {"--socket", &p.socket},
            {"--program", &p.program},   {"--aws-credentials-file", &p.credentials_file},
            {"--log-dir", &p.log_dir},
        };
        if (strcmp(argv[i], "--no-tls") == 0) {
            no_tls = 1;
            continue;
        }
        size_t k = 0;
        while (k < sizeof options / sizeof options[0] && strcmp(argv[i], options[k].flag) != 0)
            k++;
        if (k == sizeof options / sizeof options[0] || i + 1 >= argc) {
            fprintf(stderr, "clone-jobs-admin apache-site: unexpected argument %s\n", argv[i]);
            admin_apache_usage(stderr);
            return 2;
        }
        *options[k].target = argv[++i];
    }
    if (mode && apache_mode_parse(mode, &p.mode) != 0) {
        fprintf(stderr, "clone-jobs-admin apache-site: --mode must be proxy-fcgi, fcgid or cgi\n");
        return 2;
    }
    if (no_tls)
        p.cert = p.cert_key = NULL;
    /* Without nginx in front, nothing would check keys unless the workers do. */
    if (conf->gateway != CONF_GATEWAY_WORKER) {
        fprintf(stderr, "clone-jobs-admin apache-site: %s says gateway = nginx; under Apache the workers must "
                "check keys, rates and quotas themselves: set gateway = worker\n",
                conf->path[0] ? conf->path : "the configuration");
        return 2;
    }
    if (!conf->cursor_secret[0]) {
        fprintf(stderr, "clone-jobs-admin apache-site: set cursor_secret (openssl rand -hex 32): every worker "
                "process must sign cursors with the same key, and under CGI each request is a new process\n");
        return 2;
    }
    char config_file[PATH_MAX];
    if (p.mode != APACHE_PROXY_FCGI) {
        /* The processes Apache starts read the configuration this command read: named by its full path. */
        if (!conf->path[0] || !realpath(conf->path, config_file)) {
            fprintf(stderr, "clone-jobs-admin apache-site: name the configuration file with --config (the "
                    "processes Apache starts read it)%s%s\n", conf->path[0] ? ": " : "",
                    conf->path[0] ? strerror(errno) : "");
            return 2;
        }
        p.config_file = config_file;
    }
    char default_template[PATH_MAX];
    if (!template_path) {
        snprintf(default_template, sizeof default_template, "%s/clone-jobs-%s.conf.in", CLONE_JOBS_DATADIR,
                 apache_mode_name(p.mode));
        template_path = default_template;
    }

    char err[1024];
    struct buf template_text, site;
    buf_init(&template_text, TEMPLATE_MAX_BYTES);
    buf_init(&site, 4 * TEMPLATE_MAX_BYTES);
    int status = 0;
    if (admin_read_text(template_path, &template_text, err, sizeof err) != 0)
        status = 1;
    else if (apache_site_render(template_text.data, &p, &site, err, sizeof err) != 0)
        status = 2;
    else if (output) {
        if (admin_write_atomically(output, site.data, site.len, 0644, err, sizeof err) != 0)
            status = 1;
    } else if (fwrite(site.data, 1, site.len, stdout) != site.len || fflush(stdout) != 0) {
        snprintf(err, sizeof err, "standard output: %s", strerror(errno));
        status = 1;
    }
    if (status)
        fprintf(stderr, "clone-jobs-admin apache-site: %s\n", err);
    else if (output)
        printf("wrote %s (%s)\n", output, apache_mode_name(p.mode));
    if (status == 0 && !conf->log_file[0])
        fprintf(stderr, "clone-jobs-admin apache-site: note: log_file is not set, so the workers' log lines go "
                "to %s\n", p.mode == APACHE_PROXY_FCGI ? "the pool's --log-file or stderr" : "Apache's error log");
    buf_free(&template_text);
    buf_free(&site);
    return status;
}
