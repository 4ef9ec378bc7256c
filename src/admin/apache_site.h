/* apache_site.h — renders an Apache virtual host for clone-jobs from one of the templates in apache/: mod_proxy_fcgi
 * to the pool (recommended), mod_fcgid, or plain CGI. The worker keeps the gateway's promises (gateway = worker). */
#ifndef CLONE_JOBS_APACHE_SITE_H
#define CLONE_JOBS_APACHE_SITE_H

#include <stddef.h>

#include "buf.h"

enum apache_mode { APACHE_PROXY_FCGI, APACHE_FCGID, APACHE_CGI };

struct apache_site_params {
    enum apache_mode mode;
    const char *listen;          /* "443", "127.0.0.1:8443", "[::1]:8443" */
    const char *server_name;
    const char *cert, *cert_key; /* PEM files; NULL: no TLS (behind a TLS terminator) */
    const char *socket;          /* proxy-fcgi: the pool's unix socket */
    const char *program;         /* fcgid, cgi: clone-jobs-fcgi's installed path */
    const char *config_file;     /* fcgid, cgi: the configuration the processes are started with */
    const char *credentials_file;/* fcgid, cgi: AWS_SHARED_CREDENTIALS_FILE for them, or NULL */
    const char *log_dir;         /* Apache's log directory, "${APACHE_LOG_DIR}" on Debian */
    const char *stage;           /* "" or "/prod": only named in the comments (the workers check it) */
    const char *cors_origin;     /* Access-Control-Allow-Origin of Apache's own error answers */
    long timeout_seconds;        /* the integration timeout */
    long long limit_request_body;/* what Apache itself lets through: 4 x max_body_bytes */
};

/* Render template_text (apache/clone-jobs-MODE.conf.in) with p into out. A value that could break out of
 * Apache's syntax (quotes, backslashes, control characters; blanks in names) or a template naming an
 * unknown @NAME@ is refused. Returns 0, or -1 with a message in err. */
int apache_site_render(const char *template_text, const struct apache_site_params *p, struct buf *out, char *err,
                       size_t errlen);

/* "proxy-fcgi", "fcgid", "cgi" <-> the mode. Returns 0, or -1 for another word. */
int apache_mode_parse(const char *word, enum apache_mode *mode);
const char *apache_mode_name(enum apache_mode mode);

#endif
