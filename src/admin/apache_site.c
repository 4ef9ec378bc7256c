/* apache_site.c — fills an Apache virtual host template (apache/clone-jobs-MODE.conf.in) for clone-jobs.
 * Every value is checked before it is written, so no configuration value can add directives to Apache's. */
#include "config.h"

#include "apache_site.h"

#include <stdio.h>
#include <string.h>

#define CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
                "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static const char *const MODE_NAMES[] = {"proxy-fcgi", "fcgid", "cgi"};

int apache_mode_parse(const char *word, enum apache_mode *mode)
{
    for (size_t i = 0; i < sizeof MODE_NAMES / sizeof MODE_NAMES[0]; i++)
        if (strcmp(word, MODE_NAMES[i]) == 0) {
            *mode = (enum apache_mode)i;
            return 0;
        }
    return -1;
}

const char *apache_mode_name(enum apache_mode mode)
{
    return (size_t)mode < sizeof MODE_NAMES / sizeof MODE_NAMES[0] ? MODE_NAMES[mode] : "?";
}

/* A value for inside double quotes or a bare path: no quote, backslash, control character or DEL; blanks only
 * when allowed. Apache's own ${VAR} syntax is let through (Debian's ${APACHE_LOG_DIR}). */
static int safe(const char *v, int blanks)
{
    if (!v || !*v)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\' || (!blanks && *p == ' ') || *p == '<' || *p == '>')
            return 0;
    return 1;
}

/* "443" -> "*:443"; "127.0.0.1:8443" and "[::1]:8443" as they are. Also the port, for the Listen line. */
static int vhost_address(const char *listen, char *out, size_t outlen, long *port)
{
    const char *colon = strrchr(listen, ':');
    const char *digits = colon ? colon + 1 : listen;
    size_t n = strlen(digits);
    if (n == 0 || n > 5 || strspn(digits, "0123456789") != n || !safe(listen, 0))
        return -1;
    *port = 0;
    for (const char *d = digits; *d; d++)
        *port = *port * 10 + (*d - '0');
    if (*port < 1 || *port > 65535)
        return -1;
    int w = colon ? snprintf(out, outlen, "%s", listen) : snprintf(out, outlen, "*:%s", listen);
    return w > 0 && (size_t)w < outlen ? 0 : -1;
}

static int tls_block(const struct apache_site_params *p, struct buf *b)
{
    if (!p->cert)
        return buf_append_str(b, "    # No TLS here: put this behind a TLS terminator, or render it with --cert and "
                                 "--cert-key.");
    return buf_printf(b,
                      "    SSLEngine on\n"
                      "    SSLCertificateFile \"%s\"\n"
                      "    SSLCertificateKeyFile \"%s\"\n"
                      "    SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
                      "    SSLCipherSuite %s\n"
                      "    SSLHonorCipherOrder off",
                      p->cert, p->cert_key, CIPHERS);
}

/* The environment the worker processes start with: SetEnv for CGI, FcgidInitialEnv for mod_fcgid (mod_fcgid
 * does not pass SetEnv at a process's start). */
static int env_block(const struct apache_site_params *p, struct buf *b)
{
    const char *directive = p->mode == APACHE_FCGID ? "FcgidInitialEnv" : "SetEnv";
    if (buf_printf(b, "    # The processes find their configuration (and credentials) here: Apache starts them "
                      "with no\n"
                      "    # other environment, HOME included.\n"
                      "    %s CLONE_JOBS_CONFIG \"%s\"", directive, p->config_file) != 0)
        return -1;
    if (p->credentials_file)
        return buf_printf(b, "\n    %s AWS_SHARED_CREDENTIALS_FILE \"%s\"", directive, p->credentials_file);
    return buf_append_str(b, "\n    # AWS credentials: the instance role (EC2), or render with "
                             "--aws-credentials-file FILE.");
}

int apache_site_render(const char *template_text, const struct apache_site_params *p, struct buf *out, char *err,
                       size_t errlen)
{
    char vhost[160], number[64], body_limit[32], stage_text[200];
    long port;
    if (!p->listen || vhost_address(p->listen, vhost, sizeof vhost, &port) != 0) {
        snprintf(err, errlen, "listen %s: must be PORT, IPV4:PORT or [IPV6]:PORT", p->listen ? p->listen : "");
        return -1;
    }
    if (!safe(p->server_name, 0) || strpbrk(p->server_name, "{}$")) {
        snprintf(err, errlen, "server_name %s: not usable as Apache's ServerName",
                 p->server_name ? p->server_name : "");
        return -1;
    }
    if (!safe(p->cors_origin, 0)) {
        snprintf(err, errlen, "cors_origin %s: not usable in an Apache header directive",
                 p->cors_origin ? p->cors_origin : "");
        return -1;
    }
    if (p->cert && (!safe(p->cert, 1) || !safe(p->cert_key, 1))) {
        snprintf(err, errlen, "the certificate and key paths must be set and hold no quote, backslash or control "
                 "character");
        return -1;
    }
    const char *checked[][2] = {
        {"socket", p->mode == APACHE_PROXY_FCGI ? p->socket : "-"},
        {"program", p->mode != APACHE_PROXY_FCGI ? p->program : "-"},
        {"configuration file", p->mode != APACHE_PROXY_FCGI ? p->config_file : "-"},
        {"log directory", p->log_dir},
        {"AWS credentials file", p->credentials_file ? p->credentials_file : "-"},
    };
    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++)
        if (!safe(checked[i][1], 1) || strchr(checked[i][1], '|')) {
            snprintf(err, errlen, "%s %s: must be set and hold no quote, backslash, '|' or control character",
                     checked[i][0], checked[i][1] ? checked[i][1] : "");
            return -1;
        }
    /* fastcgi_socket = HOST:PORT (nginx in front of pools on other boxes, README "More boxes") is not for Apache. */
    if (p->mode == APACHE_PROXY_FCGI && p->socket[0] != '/') {
        snprintf(err, errlen, "socket %s: Apache's proxy_fcgi mode needs the pool's unix socket, an absolute path",
                 p->socket);
        return -1;
    }
    if (p->mode != APACHE_PROXY_FCGI && (p->program[0] != '/' || p->config_file[0] != '/')) {
        snprintf(err, errlen, "the program and the configuration file must be absolute paths");
        return -1;
    }
    snprintf(body_limit, sizeof body_limit, "%lld", p->limit_request_body);
    snprintf(number, sizeof number, "%ld", p->timeout_seconds);
    if (p->stage[0])
        snprintf(stage_text, sizeof stage_text, "%s", p->stage);
    else
        snprintf(stage_text, sizeof stage_text, "none (set stage = /NAME to keep API Gateway's URLs)");
    struct buf tls, env, listen_line;
    buf_init(&tls, 0);
    buf_init(&env, 0);
    buf_init(&listen_line, 0);
    err[0] = '\0';
    int failed = tls_block(p, &tls) != 0 || (p->mode != APACHE_PROXY_FCGI && env_block(p, &env) != 0) ||
                 /* Debian's ports.conf listens on 80 and 443 already; another port needs its own Listen. */
                 (port != 80 && port != 443 && buf_printf(&listen_line, "Listen %s\n", strncmp(vhost, "*:", 2) == 0
                                                                                        ? vhost + 2 : vhost) != 0) ||
                 buf_append(&listen_line, "", 0) != 0;
    const struct {
        const char *name, *value;
    } vars[] = {
        {"LISTEN_LINE", listen_line.data}, {"VHOST", vhost},
        {"SERVER_NAME", p->server_name},   {"TLS", tls.data},
        {"TLS_MODULE", p->cert ? " ssl" : ""}, {"SOCKET", p->socket},
        {"PROGRAM", p->program},           {"ENV", env.data},
        {"TIMEOUT", number},               {"LIMIT_REQUEST_BODY", body_limit},
        {"LOG_DIR", p->log_dir},           {"STAGE_TEXT", stage_text},
        {"CORS_ORIGIN", p->cors_origin},
    };
    for (const char *s = template_text; !failed && *s;) {
        const char *at = strchr(s, '@');
        if (!at) {
            failed = buf_append_str(out, s) != 0;
            break;
        }
        failed = buf_append(out, s, (size_t)(at - s)) != 0;
        const char *end = strchr(at + 1, '@');
        size_t i = 0, n = end ? (size_t)(end - at - 1) : 0;
        while (end && i < sizeof vars / sizeof vars[0] &&
               !(strlen(vars[i].name) == n && strncmp(at + 1, vars[i].name, n) == 0))
            i++;
        if (!end || i == sizeof vars / sizeof vars[0] || !vars[i].value) {
            snprintf(err, errlen, "the template names an unknown @%.*s", end ? (int)(end - at) : 20, at + 1);
            failed = 1;
            break;
        }
        failed = failed || buf_append_str(out, vars[i].value) != 0;
        s = end + 1;
    }
    if (failed && !err[0])
        snprintf(err, errlen, "out of memory");
    buf_free(&tls);
    buf_free(&env);
    buf_free(&listen_line);
    return failed ? -1 : 0;
}
