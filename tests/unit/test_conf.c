/* test_conf.c — the configuration reader: defaults, the file format, environment overrides, and that every
 * unknown key or bad value is refused with its file and line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
                   c.log_level == LOG_INFO,
           "default limits, CORS origin, stage and log level");

    int rc = load_text("# a comment\n\n  table = my-table  \nstage=/prod\ncors_origin = https://a.example#x\n"
                       "cursor_secret = \"  sixteen bytes!! \"\nmax_body_bytes = 2048\nlog_level = debug\n"
                       "; another comment\nddb_max_attempts = 3\n",
                       &c, err, sizeof err);
    tap_ok(&t, rc == 0, "a valid file loads (%s)", rc ? err : "ok");
    tap_ok(&t, strcmp(c.table, "my-table") == 0 && strcmp(c.stage, "/prod") == 0, "values are trimmed");
    tap_ok(&t, strcmp(c.cors_origin, "https://a.example#x") == 0, "a '#' inside a value is kept");
    tap_ok(&t, strcmp(c.cursor_secret, "  sixteen bytes!! ") == 0, "quotes keep blanks");
    tap_ok(&t, c.max_body_bytes == 2048 && c.log_level == LOG_DEBUG && c.ddb_max_attempts == 3,
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
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "# first\n%s", bad[i]);
        rc = load_text(text, &c, err, sizeof err);
        snprintf(want, sizeof want, "%s:2: ", path);
        tap_ok(&t, rc != 0 && strncmp(err, want, strlen(want)) == 0, "refused with file:line: %.*s -> %s",
               (int)strlen(bad[i]) - 1, bad[i], err);
    }

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
    tap_ok(&t, conf_set(&c, "log_level", "warn", err, sizeof err) == 0 && c.log_level == LOG_WARN &&
                   strcmp(log_level_name(c.log_level), "warn") == 0,
           "conf_set and log_level_name");
    return tap_done(&t);
}
