/* test_conf.c — the configuration reader: defaults, the file format, environment overrides, and that every
 * unknown key or bad value is refused with its file and line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "tap.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static int load_text(const char *text, struct conf *c, char *err, size_t errlen)
{
    write_file(text);
    return conf_load(c, path, err, errlen);
}

static void collect(const char *name, void *arg)
{
    struct buf *b = arg;
    if (buf_append_str(b, name) != 0 || buf_append_str(b, ";") != 0)
        exit(2);
}

int main(void)
{
    struct tap t = {0};
    struct conf c;
    char err[1024];
    /* Start from a clean environment for the variables the reader looks at. */
    static const char *const vars[] = {"CLONE_JOBS_CONFIG", "CLONE_JOBS_TABLE", "CLONE_JOBS_STAGE",
                                       "CLONE_JOBS_MAX_BODY_BYTES", "CLONE_JOBS_LOG_LEVEL"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    snprintf(path, sizeof path, "/tmp/clone-jobs-conf-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 2;
    }
    close(fd);

    conf_defaults(&c);
    tap_ok(&t, strcmp(c.table, "clone-jobs") == 0 && strcmp(c.key_attribute, "cloneID") == 0,
           "default table and key");
    tap_ok(&t, c.max_body_bytes == 10485760 && c.max_json_depth == 32 && c.max_header_bytes == 8192 &&
                   c.max_list_bytes == 6291456 && strcmp(c.cors_origin, "*") == 0 && c.stage[0] == '\0' &&
                   c.log_level == LOG_LEVEL_INFO,
           "default limits, CORS origin, stage and log level");

    int rc = load_text("# a comment\n\n  table = my-table  \nstage=/prod\ncors_origin = https://a.example#x\n"
                       "cursor_secret = \"  sixteen bytes!! \"\nmax_body_bytes = 2048\nlog_level = debug\n"
                       "; another comment\nddb_max_attempts = 3\n",
                       &c, err, sizeof err);
    tap_ok(&t, rc == 0, "a valid file loads (%s)", rc ? err : "ok");
    tap_ok(&t, strcmp(c.table, "my-table") == 0 && strcmp(c.stage, "/prod") == 0, "values are trimmed");
    tap_ok(&t, strcmp(c.cors_origin, "https://a.example#x") == 0, "a '#' inside a value is kept");
    tap_ok(&t, strcmp(c.cursor_secret, "  sixteen bytes!! ") == 0, "quotes keep blanks");
    tap_ok(&t, c.max_body_bytes == 2048 && c.log_level == LOG_LEVEL_DEBUG && c.ddb_max_attempts == 3,
           "numbers and the log level");
    tap_ok(&t, strcmp(c.path, path) == 0, "the file read is recorded");

    rc = load_text("table = ok-table\nbogus = 1\n", &c, err, sizeof err);
    char want[128];
    snprintf(want, sizeof want, "%s:2: unknown key bogus", path);
    tap_ok(&t, rc != 0 && strcmp(err, want) == 0, "unknown key names file and line (%s)", err);

    static const char *const bad[] = {
        "max_body_bytes = -1\n", "max_body_bytes = 12abc\n", "max_body_bytes = 0\n",
        "max_json_depth = 99999\n", "max_header_bytes = 10\n", "log_level = loud\n", "table = a\n",
        "table = bad/name\n", "stage = prod\n", "stage = /prod/\n", "stage = /a b\n", "stage = //x\n",
        "endpoint = ftp://x\n", "cursor_secret = short\n", "cors_origin = \n", "key_attribute = \n",
        "no equals sign\n", "ddb_max_attempts = 0\n", "max_list_bytes = 100\n", "region = us east\n",
        "cursor_secret = CHANGE-ME-openssl-rand-hex-32\n", "cursor_secret = please-change-me-now!\n",
        "cursor_secret = <a long random secret here>\n", "gateway = apache\n", "state_dir = \n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "# first\n%s", bad[i]);
        rc = load_text(text, &c, err, sizeof err);
        snprintf(want, sizeof want, "%s:2: ", path);
        tap_ok(&t, rc != 0 && strncmp(err, want, strlen(want)) == 0, "refused with file:line: %.*s -> %s",
               (int)strlen(bad[i]) - 1, bad[i], err);
    }

    tap_ok(&t, conf_set(&c, "gateway", "worker", err, sizeof err) == 0 && c.gateway == CONF_GATEWAY_WORKER &&
                   conf_set(&c, "gateway", "nginx", err, sizeof err) == 0 && c.gateway == CONF_GATEWAY_NGINX,
           "gateway is nginx or worker");
    conf_defaults(&c);
    tap_ok(&t, c.gateway == CONF_GATEWAY_NGINX && strcmp(c.state_dir, "/var/lib/clone-jobs") == 0 &&
                   strcmp(c.keys_group, "www-data") == 0 && c.log_file[0] == '\0',
           "classic hosting's defaults: nginx, /var/lib/clone-jobs, www-data, stderr");
    tap_ok(&t, conf_set(&c, "cursor_secret", "0123456789abcdef", err, sizeof err) == 0, "a 16-byte secret is taken");

    /* Misspelt variables are found; keys, the project's other names and lower-case spellings sorted right. */
    static const char *const vars2[] = {"CLONE_JOBS_TABEL", "CLONE_JOBS_table", "CLONE_JOBS_LOG_FILE",
                                        "CLONE_JOBS_CONFIG", "CLONE_JOBS_TEST_X", "CLONE_JOBS_PORT"};
    for (size_t i = 0; i < sizeof vars2 / sizeof vars2[0]; i++)
        setenv(vars2[i], "x", 1);
    struct buf found;
    buf_init(&found, 0);
    conf_unknown_variables(collect, &found);
    tap_ok(&t, found.data && strstr(found.data, "CLONE_JOBS_TABEL;") && strstr(found.data, "CLONE_JOBS_table;") &&
                   !strstr(found.data, "LOG_FILE") && !strstr(found.data, "CONFIG") && !strstr(found.data, "TEST_X") &&
                   !strstr(found.data, "PORT"),
           "unknown CLONE_JOBS_* variables: %s", found.data ? found.data : "(none)");
    buf_free(&found);
    for (size_t i = 0; i < sizeof vars2 / sizeof vars2[0]; i++)
        unsetenv(vars2[i]);

    rc = load_text("table = from-file\nstage = /prod\n", &c, err, sizeof err);
    setenv("CLONE_JOBS_TABLE", "from-env", 1);
    setenv("CLONE_JOBS_STAGE", "", 1);
    rc = conf_load(&c, path, err, sizeof err);
    tap_ok(&t, rc == 0 && strcmp(c.table, "from-env") == 0 && c.stage[0] == '\0',
           "environment overrides the file");
    setenv("CLONE_JOBS_MAX_BODY_BYTES", "lots", 1);
    rc = conf_load(&c, path, err, sizeof err);
    tap_ok(&t, rc != 0 && strstr(err, "CLONE_JOBS_MAX_BODY_BYTES") != NULL, "a bad variable is named (%s)", err);
    unsetenv("CLONE_JOBS_MAX_BODY_BYTES");
    unsetenv("CLONE_JOBS_TABLE");
    unsetenv("CLONE_JOBS_STAGE");

    setenv("CLONE_JOBS_CONFIG", path, 1);
    rc = conf_load(&c, NULL, err, sizeof err);
    tap_ok(&t, rc == 0 && strcmp(c.table, "from-file") == 0, "CLONE_JOBS_CONFIG names the file");
    unlink(path);
    rc = conf_load(&c, NULL, err, sizeof err);
    tap_ok(&t, rc != 0, "a file named by CLONE_JOBS_CONFIG must exist (%s)", err);
    unsetenv("CLONE_JOBS_CONFIG");
    rc = conf_load(&c, path, err, sizeof err);
    tap_ok(&t, rc != 0 && strstr(err, path) != NULL, "a file named by --config must exist");
    tap_ok(&t, conf_set(&c, "log_level", "warn", err, sizeof err) == 0 && c.log_level == LOG_LEVEL_WARN &&
                   strcmp(log_level_name(c.log_level), "warn") == 0,
           "conf_set and log_level_name");

    /* Operating it: the metrics listener's address, slow requests, usage leases. */
    conf_defaults(&c);
    tap_ok(&t, c.metrics_listen[0] == '\0' && c.slow_request_ms == 1000 && c.usage_block == 100,
           "no metrics listener unless configured; slow requests from 1 s; usage leases of 100");
    static const char *const good_listen[] = {"127.0.0.1:9464", "[::1]:9464", "localhost:1", "10.0.0.7:65535", ""};
    for (size_t i = 0; i < sizeof good_listen / sizeof good_listen[0]; i++)
        tap_ok(&t, conf_set(&c, "metrics_listen", good_listen[i], err, sizeof err) == 0 &&
                       strcmp(c.metrics_listen, good_listen[i]) == 0,
               "metrics_listen %s", good_listen[i]);
    static const char *const bad_listen[] = {"9464", ":9464", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                                             "::1:9464", "host:80x", "a b:80", "127.0.0.1:-1"};
    for (size_t i = 0; i < sizeof bad_listen / sizeof bad_listen[0]; i++)
        tap_ok(&t, conf_set(&c, "metrics_listen", bad_listen[i], err, sizeof err) != 0 &&
                       strstr(err, "metrics_listen") != NULL,
               "metrics_listen %s is refused", bad_listen[i]);
    tap_ok(&t, conf_set(&c, "slow_request_ms", "0", err, sizeof err) == 0 && c.slow_request_ms == 0 &&
                   conf_set(&c, "slow_request_ms", "-1", err, sizeof err) != 0,
           "slow_request_ms 0 turns it off; negative is refused");
    tap_ok(&t, conf_set(&c, "usage_block", "0", err, sizeof err) == 0 && c.usage_block == 0 &&
                   conf_set(&c, "usage_block", "1000000", err, sizeof err) == 0 &&
                   conf_set(&c, "usage_block", "1000001", err, sizeof err) != 0,
           "usage_block 0 (off) to 1000000");
    /* More boxes (issue 10). */
    conf_defaults(&c);
    tap_ok(&t, c.key_store == CONF_KEY_STORE_FILES && strcmp(c.keys_table, "clone-jobs-keys") == 0 &&
                   c.sync_interval_s == 10 && c.fastcgi_servers[0] == '\0' && c.box_id[0] == '\0',
           "the key store is files by default; keys_table clone-jobs-keys; sync every 10 s");
    tap_ok(&t, conf_set(&c, "key_store", "dynamodb", err, sizeof err) == 0 && c.key_store == CONF_KEY_STORE_DYNAMODB &&
                   conf_set(&c, "key_store", "redis", err, sizeof err) != 0 && strstr(err, "files or dynamodb"),
           "key_store is files or dynamodb");
    tap_ok(&t, conf_set(&c, "fastcgi_servers", "10.0.0.1:9000 pool-b:9000 [::1]:9001", err, sizeof err) == 0 &&
                   conf_set(&c, "fastcgi_servers", "", err, sizeof err) == 0,
           "fastcgi_servers takes HOST:PORT words, or nothing");
    static const char *const bad_servers[] = {"10.0.0.1", "a:9000  b:9000", "a:9000 ", " a:9000", "a:0", "a:9000;",
                                              "unix:/run/x.sock"};
    for (size_t i = 0; i < sizeof bad_servers / sizeof bad_servers[0]; i++)
        tap_ok(&t, conf_set(&c, "fastcgi_servers", bad_servers[i], err, sizeof err) != 0,
               "fastcgi_servers '%s' is refused", bad_servers[i]);
    tap_ok(&t, conf_set(&c, "sync_interval_s", "0", err, sizeof err) != 0 &&
                   conf_set(&c, "keys_table", "ab", err, sizeof err) != 0,
           "sync_interval_s 0 and a 2-character keys_table are refused");
    return tap_done(&t);
}
