/* admin_site.c — `clone-jobs-admin nginx-site`: writes the gateway's nginx site from the worker's route table.
 * The routes come from routes.def compiled into this program, so nginx and the worker cannot drift apart. */
#include "config.h"

#include "admin_site.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_files.h"
#include "buf.h"
#include "nginx_site.h"
#include "router.h"

#define TEMPLATE_MAX_BYTES (1u << 20)

static const struct nginx_route route_table[] = {
#define ROUTE(method, path, handler) {#method, path},
#include "routes.def"
#undef ROUTE
};

void admin_site_usage(FILE *to)
{
    fprintf(to,
            "  nginx-site [--output FILE] [--template FILE] [--listen ADDR] [--cert FILE] [--cert-key FILE]\n"
            "             [--socket PATH] [--access-log FILE] [--keys-dir DIR] [--fastcgi-params FILE]\n"
            "             [--server-name HOST] [--gateway-js FILE] [--servers \"HOST:PORT ...\"]\n"
            "                   write the nginx site (in http { }) from the route table and configuration\n");
}

int admin_site_main(int argc, char **argv, const struct conf *conf)
{
    struct nginx_site_params p = {
        .listen = conf->listen,
        .cert = conf->tls_certificate,
        .cert_key = conf->tls_certificate_key,
        .socket = conf->fastcgi_socket,
        .servers = conf->fastcgi_servers,
        .keys_dir = conf->keys_dir,
        .access_log = conf->access_log,
        .fastcgi_params = "/etc/nginx/fastcgi_params",
        .cors_origin = conf->cors_origin,
        .server_name = conf->server_name,
        .gateway_js = CLONE_JOBS_DATADIR "/clone-jobs-gateway.js",
        .stage = conf->stage,
        .timeout_seconds = conf->integration_timeout_s,
        .max_body_bytes = (long)conf->max_body_bytes,
        .fastcgi_keepalive = conf->fastcgi_keepalive,
    };
    const char *template_path = CLONE_JOBS_DATADIR "/clone-jobs-site.conf.in";
    const char *output = NULL;
    for (int i = 1; i < argc; i++) {
        const struct {
            const char *flag;
            const char **target;
        } options[] = {
            {"--output", &output},         {"--template", &template_path},
            {"--listen", &p.listen},       {"--cert", &p.cert},
            {"--cert-key", &p.cert_key},   {"--socket", &p.socket},
            {"--access-log", &p.access_log}, {"--keys-dir", &p.keys_dir},
            {"--fastcgi-params", &p.fastcgi_params}, {"--gateway-js", &p.gateway_js},
            {"--server-name", &p.server_name}, {"--servers", &p.servers},
        };
        size_t k = 0;
        while (k < sizeof options / sizeof options[0] && strcmp(argv[i], options[k].flag) != 0)
            k++;
        if (k == sizeof options / sizeof options[0] || i + 1 >= argc) {
            fprintf(stderr, "clone-jobs-admin nginx-site: unexpected argument %s\n", argv[i]);
            admin_site_usage(stderr);
            return 2;
        }
        *options[k].target = argv[++i];
    }

    /* The access log shows these query parameters only: the routes' own, and GET /clone's key. */
    char log_params[512];
    snprintf(log_params, sizeof log_params, "%s", ROUTER_QUERY_PARAMS);
    size_t used = strlen(log_params);
    if (nginx_site_word_list_valid(conf->key_attribute) && !strchr(conf->key_attribute, ' ') &&
        used + 1 + strlen(conf->key_attribute) < sizeof log_params)
        snprintf(log_params + used, sizeof log_params - used, " %s", conf->key_attribute);
    p.log_query_params = log_params;

    char err[1024];
    struct buf template_text, site;
    buf_init(&template_text, TEMPLATE_MAX_BYTES);
    buf_init(&site, 4 * TEMPLATE_MAX_BYTES);
    int status = 0;
    if (admin_read_text(template_path, &template_text, err, sizeof err) != 0) {
        status = 1;
    } else if (nginx_site_render(template_text.data, &p, route_table,
                                 sizeof route_table / sizeof route_table[0], &site, err, sizeof err) != 0) {
        status = 2;
    } else if (output) {
        if (admin_write_atomically(output, site.data, site.len, 0644, err, sizeof err) != 0)
            status = 1;
    } else if (fwrite(site.data, 1, site.len, stdout) != site.len || fflush(stdout) != 0) {
        snprintf(err, sizeof err, "standard output: %s", strerror(errno));
        status = 1;
    }
    if (status)
        fprintf(stderr, "clone-jobs-admin nginx-site: %s\n", err);
    else if (output)
        printf("wrote %s (%zu routes)\n", output, sizeof route_table / sizeof route_table[0]);
    buf_free(&template_text);
    buf_free(&site);
    return status;
}
