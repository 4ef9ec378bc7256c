/* test_aws_config.c — TAP tests for the AWS settings and the credentials chain (src/aws_config.c).
 * Own environment and temporary files; IMDSv2 against tests/tools/fake_imds.py on loopback (argv[1]). */
#include "aws_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tap.h"

extern char **environ;

/* What fake_imds.py serves; the expiry is given on its command line. */
#define FAKE_ROLE "clone-jobs-test-role"
#define FAKE_ACCESS_KEY_ID "ASIAFAKEIMDSKEY00001"
#define FAKE_SECRET "fakeImdsSecret/0123456789+abcdefghijklmnop"
#define FAKE_TOKEN "fakeImdsSessionToken/AbCdEf+0123456789=="
#define FAKE_EXPIRATION "2031-05-06T07:08:09Z"
/* The same instant written with a fraction and an offset, to check the RFC 3339 reading. */
#define FAKE_EXPIRATION_OFFSET "2031-05-06T09:08:09.250+02:00"
/* `date -u -d 2031-05-06T07:08:09Z +%s`: worked out apart from the code under test. */
#define FAKE_EXPIRATION_EPOCH ((time_t)1935817689)

#define FILE_ACCESS_KEY_ID "AKIDFROMCREDENTIALS1"
#define FILE_SECRET "secretFromCredentialsFile/0123456789+abc"
#define CONFIG_ACCESS_KEY_ID "AKIDFROMCONFIGFILE01"
#define CONFIG_SECRET "secretFromConfigFile/0123456789+abcdefgh"
#define ENV_ACCESS_KEY_ID "AKIDFROMENVIRONMENT1"
#define ENV_SECRET "secretFromEnvironment/0123456789+abcdefg"

/* IMDS requests are bounded at 2 s; allow for a slow machine, but not for a hang. */
#define IMDS_FAIL_WITHIN_MS 3500

struct fixture {
    char dir[256];
    char credentials[512];      /* dir/credentials: AWS_SHARED_CREDENTIALS_FILE in most tests */
    char config[512];           /* dir/config: AWS_CONFIG_FILE in most tests */
    char home_aws[512];         /* dir/.aws, the default location under HOME=dir */
    char home_credentials[512];
    char home_config[512];
    char tilde_config[512];     /* dir/tilde-config, named as ~/tilde-config */
    char missing[512];          /* never created */
};

struct fake_imds {
    pid_t pid;
    int to_child;   /* its stdin: closing it stops the server */
    int from_child; /* its stdout: "PORT n" */
    int port;
};

__attribute__((noreturn, format(printf, 1, 2)))
static void bail_out(const char *fmt, ...)
{
    va_list ap;
    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

static int contains(const char *text, const char *needle)
{
    return strstr(text, needle) != NULL;
}

static long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        bail_out("clock_gettime: %s", strerror(errno));
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_env(const char *name, const char *value)
{
    if (setenv(name, value, 1) != 0)
        bail_out("setenv %s: %s", name, strerror(errno));
}

static void unset_env(const char *name)
{
    if (unsetenv(name) != 0)
        bail_out("unsetenv %s: %s", name, strerror(errno));
}

/* Whatever AWS_* the machine or the harness set must not leak into a test. */
static void clear_aws_env(void)
{
    for (;;) {
        const char *found = NULL;
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "AWS_", 4) == 0) {
                found = *e;
                break;
            }
        }
        if (!found)
            return;
        char name[256];
        size_t n = strcspn(found, "=");
        if (n >= sizeof name)
            bail_out("an AWS_ environment variable with a name of %zu bytes", n);
        memcpy(name, found, n);
        name[n] = '\0';
        unset_env(name);
    }
}

static void remove_if_present(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        bail_out("unlink %s: %s", path, strerror(errno));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        bail_out("cannot create %s: %s", path, strerror(errno));
    size_t n = strlen(text);
    if (fwrite(text, 1, n, f) != n)
        bail_out("cannot write %s", path);
    if (fclose(f) != 0)
        bail_out("cannot close %s: %s", path, strerror(errno));
}

static void join(char *dst, size_t size, const char *dir, const char *name)
{
    int n = snprintf(dst, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        bail_out("path too long: %s/%s", dir, name);
}

static void fixture_init(struct fixture *fx)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(fx->dir, sizeof fx->dir, "%s/test_aws_config.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof fx->dir)
        bail_out("TMPDIR too long");
    if (!mkdtemp(fx->dir))
        bail_out("mkdtemp: %s", strerror(errno));
    join(fx->credentials, sizeof fx->credentials, fx->dir, "credentials");
    join(fx->config, sizeof fx->config, fx->dir, "config");
    join(fx->home_aws, sizeof fx->home_aws, fx->dir, ".aws");
    join(fx->home_credentials, sizeof fx->home_credentials, fx->home_aws, "credentials");
    join(fx->home_config, sizeof fx->home_config, fx->home_aws, "config");
    join(fx->tilde_config, sizeof fx->tilde_config, fx->dir, "tilde-config");
    join(fx->missing, sizeof fx->missing, fx->dir, "missing");
    if (mkdir(fx->home_aws, 0700) != 0)
        bail_out("mkdir %s: %s", fx->home_aws, strerror(errno));
}

static void fixture_remove_files(const struct fixture *fx)
{
    remove_if_present(fx->credentials);
    remove_if_present(fx->config);
    remove_if_present(fx->home_credentials);
    remove_if_present(fx->home_config);
    remove_if_present(fx->tilde_config);
}

static void fixture_cleanup(const struct fixture *fx)
{
    fixture_remove_files(fx);
    if (rmdir(fx->home_aws) != 0)
        bail_out("rmdir %s: %s", fx->home_aws, strerror(errno));
    if (rmdir(fx->dir) != 0)
        bail_out("rmdir %s: %s", fx->dir, strerror(errno));
}

/* A clean slate: no AWS_* at all, HOME pointing at the fixture, and instance metadata off so no test
 * but the IMDS ones can reach for 169.254.169.254. The files are named but not yet written. */
static void reset(const struct fixture *fx)
{
    clear_aws_env();
    fixture_remove_files(fx);
    set_env("HOME", fx->dir);
    set_env("AWS_SHARED_CREDENTIALS_FILE", fx->credentials);
    set_env("AWS_CONFIG_FILE", fx->config);
    set_env("AWS_EC2_METADATA_DISABLED", "true");
}

static int load(struct aws_settings *s, char *err, size_t errlen)
{
    err[0] = '\0';
    return aws_settings_load(s, NULL, NULL, NULL, err, errlen);
}

/* Settings (region given as the argument, so the credential tests need no region) then the chain. */
static int resolve(struct aws_credentials *c, char *err, size_t errlen)
{
    struct aws_settings s;
    err[0] = '\0';
    memset(c, 0, sizeof *c);
    if (aws_settings_load(&s, NULL, "us-east-1", NULL, err, errlen) != 0)
        return -1;
    return aws_credentials_resolve(&s, c, err, errlen);
}

static int credentials_are(const struct aws_credentials *c, const char *id, const char *secret,
                           const char *token, const char *source)
{
    return strcmp(c->access_key_id, id) == 0 && strcmp(c->secret_access_key, secret) == 0 &&
           strcmp(c->session_token, token) == 0 && strcmp(c->source, source) == 0;
}

static int credentials_empty(const struct aws_credentials *c)
{
    return c->access_key_id[0] == '\0' && c->secret_access_key[0] == '\0' &&
           c->session_token[0] == '\0' && c->source[0] == '\0' && c->expiration == 0;
}

static void repeat(char *dst, size_t count, char ch)
{
    memset(dst, ch, count);
    dst[count] = '\0';
}

/* ---- the fake metadata server ---------------------------------------------------------------------- */

static void close_if_open(int *fd)
{
    if (*fd >= 0 && close(*fd) != 0)
        printf("# close: %s\n", strerror(errno));
    *fd = -1;
}

/* Close its stdin, then wait (a bounded time) for it to exit. Returns its exit status, or -1. */
static int fake_imds_stop(struct fake_imds *f)
{
    close_if_open(&f->to_child);
    close_if_open(&f->from_child);
    if (f->pid <= 0)
        return -1;
    int status = 0;
    long deadline = now_ms() + 5000;
    for (;;) {
        pid_t r = waitpid(f->pid, &status, WNOHANG);
        if (r == f->pid)
            break;
        if (r < 0 && errno != EINTR) {
            f->pid = -1;
            return -1;
        }
        if (now_ms() > deadline) {
            /* Only the child we started, by its id. */
            if (kill(f->pid, SIGKILL) != 0)
                printf("# kill: %s\n", strerror(errno));
            while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR)
                ;
            f->pid = -1;
            return -1;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    f->pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int set_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* Start fake_imds.py with /usr/bin/python3 and read "PORT n". mode is NULL or one of its options. */
static int fake_imds_start(struct fake_imds *f, const char *script, const char *expiration,
                           const char *mode, const char *mode_arg)
{
    int in[2], out[2];
    f->pid = -1;
    f->to_child = f->from_child = -1;
    f->port = 0;
    if (pipe(in) != 0)
        return -1;
    if (pipe(out) != 0) {
        close_if_open(&in[0]);
        close_if_open(&in[1]);
        return -1;
    }
    /* Every end closes on exec: the child gets its two through dup2, which clears the flag. */
    if (set_cloexec(in[0]) != 0 || set_cloexec(in[1]) != 0 || set_cloexec(out[0]) != 0 ||
        set_cloexec(out[1]) != 0 || fflush(stdout) != 0) {
        close_if_open(&in[0]);
        close_if_open(&in[1]);
        close_if_open(&out[0]);
        close_if_open(&out[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close_if_open(&in[0]);
        close_if_open(&in[1]);
        close_if_open(&out[0]);
        close_if_open(&out[1]);
        return -1;
    }
    if (pid == 0) {
        const char *argv[8];
        int n = 0;
        argv[n++] = "/usr/bin/python3";
        argv[n++] = script;
        argv[n++] = "--expiration";
        argv[n++] = expiration;
        if (mode)
            argv[n++] = mode;
        if (mode_arg)
            argv[n++] = mode_arg;
        argv[n] = NULL;
        if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close_if_open(&in[0]);
    close_if_open(&out[1]);
    f->pid = pid;
    f->to_child = in[1];
    f->from_child = out[0];

    char line[64];
    size_t len = 0;
    long deadline = now_ms() + 10000;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0 || len + 1 >= sizeof line)
            goto fail;
        struct pollfd p = {f->from_child, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto fail;
        ssize_t got = read(f->from_child, line + len, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            goto fail;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    if (strncmp(line, "PORT ", 5) != 0)
        goto fail;
    char *end;
    errno = 0;
    long port = strtol(line + 5, &end, 10);
    if (errno != 0 || *end != '\0' || port <= 0 || port > 65535)
        goto fail;
    f->port = (int)port;
    return 0;
fail:
    fake_imds_stop(f);
    return -1;
}

/* A loopback port nothing listens on: bound, then released. */
static int closed_loopback_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t alen = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    if (close(fd) != 0)
        return -1;
    return port;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

/* One request made apart from the code under test, to check that the fake enforces IMDSv2.
 * Returns the HTTP status, or -1. */
static long raw_status(const char *url, const char *method, const char *header)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return -1;
    struct curl_slist *headers = NULL;
    long status = -1;
    if (header && !(headers = curl_slist_append(NULL, header)))
        goto out;
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    if (rc == CURLE_OK && method)
        rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (rc == CURLE_OK && headers)
        rc = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK)
        status = -1;
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return status;
}

static void point_imds_at(int port, const char *suffix)
{
    char url[128];
    int n = snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, suffix);
    if (n < 0 || (size_t)n >= sizeof url)
        bail_out("url too long");
    set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    unset_env("AWS_EC2_METADATA_DISABLED");
}

/* ---- settings -------------------------------------------------------------------------------------- */

static void test_settings_defaults(struct tap *t, const struct fixture *fx)
{
    struct aws_settings s;
    char err[1024];

    reset(fx);
    unset_env("AWS_SHARED_CREDENTIALS_FILE");
    unset_env("AWS_CONFIG_FILE");
    unset_env("AWS_EC2_METADATA_DISABLED");
    set_env("AWS_REGION", "us-east-1");
    int rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0, "defaults: settings load with only AWS_REGION set (%s)", err);
    tap_ok(t, rc == 0 && strcmp(s.profile, "default") == 0, "defaults: profile is \"default\"");
    tap_ok(t, rc == 0 && strcmp(s.region, "us-east-1") == 0, "defaults: region from AWS_REGION");
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "https://dynamodb.us-east-1.amazonaws.com") == 0,
           "defaults: endpoint https://dynamodb.us-east-1.amazonaws.com (got %s)", s.endpoint);
    tap_ok(t, rc == 0 && strcmp(s.credentials_file, fx->home_credentials) == 0,
           "defaults: credentials file is $HOME/.aws/credentials");
    tap_ok(t, rc == 0 && strcmp(s.config_file, fx->home_config) == 0, "defaults: config file is $HOME/.aws/config");
    tap_ok(t, rc == 0 && strcmp(s.imds_endpoint, "http://169.254.169.254") == 0,
           "defaults: IMDS endpoint http://169.254.169.254");
    tap_ok(t, rc == 0 && s.imds_disabled == 0, "defaults: IMDS enabled");

    /* The defaults under HOME are really read. */
    write_file(fx->home_config, "[default]\nregion = sa-east-1\n");
    unset_env("AWS_REGION");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.region, "sa-east-1") == 0, "defaults: region read from $HOME/.aws/config");

    set_env("AWS_CONFIG_FILE", "~/tilde-config");
    write_file(fx->tilde_config, "[default]\nregion = eu-north-1\n");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.config_file, fx->tilde_config) == 0 && strcmp(s.region, "eu-north-1") == 0,
           "AWS_CONFIG_FILE=~/name is under HOME");

    /* Without HOME there is no default file: like a missing one, not an error. */
    unset_env("AWS_CONFIG_FILE");
    unset_env("HOME");
    set_env("AWS_REGION", "us-east-2");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && s.credentials_file[0] == '\0' && s.config_file[0] == '\0',
           "no HOME: no default files, no error (%s)", err);
    set_env("HOME", fx->dir);

    set_env("AWS_REGION", "cn-north-1");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "https://dynamodb.cn-north-1.amazonaws.com.cn") == 0,
           "cn-north-1: endpoint in amazonaws.com.cn (got %s)", s.endpoint);

    set_env("AWS_REGION", "eu-west-1");
    set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/");
    set_env("AWS_EC2_METADATA_DISABLED", "TRUE");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.imds_endpoint, "http://127.0.0.1:9") == 0,
           "AWS_EC2_METADATA_SERVICE_ENDPOINT read, trailing slash dropped");
    tap_ok(t, rc == 0 && s.imds_disabled == 1, "AWS_EC2_METADATA_DISABLED=TRUE disables IMDS");
    set_env("AWS_EC2_METADATA_DISABLED", "false");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && s.imds_disabled == 0, "AWS_EC2_METADATA_DISABLED=false leaves IMDS on");
    set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://127.0.0.1");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_EC2_METADATA_SERVICE_ENDPOINT"),
           "IMDS endpoint that is not http(s) rejected (%s)", err);
}

static void test_region(struct tap *t, const struct fixture *fx)
{
    struct aws_settings s;
    char err[1024];

    reset(fx);
    write_file(fx->config, "[default]\nregion = ap-southeast-2\n");
    set_env("AWS_REGION", "us-west-2");
    set_env("AWS_DEFAULT_REGION", "eu-west-1");
    int rc = aws_settings_load(&s, NULL, "ca-central-1", NULL, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.region, "ca-central-1") == 0, "region: the argument comes first");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.region, "us-west-2") == 0, "region: AWS_REGION beats AWS_DEFAULT_REGION and the file");
    unset_env("AWS_REGION");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.region, "eu-west-1") == 0, "region: AWS_DEFAULT_REGION beats the file");
    unset_env("AWS_DEFAULT_REGION");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.region, "ap-southeast-2") == 0, "region: the config file's profile last");
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "https://dynamodb.ap-southeast-2.amazonaws.com") == 0,
           "region: the default endpoint follows the file's region");

    remove_if_present(fx->config);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "region") && contains(err, "AWS_REGION"),
           "region missing everywhere is an error that says what to set (%s)", err);
    tap_ok(t, rc == -1 && s.region[0] == '\0' && s.profile[0] == '\0', "failed load leaves the settings empty");

    set_env("AWS_REGION", "us east-1");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_REGION"), "region with a space rejected (%s)", err);
    set_env("AWS_REGION", "us-east-1/../evil");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1, "region with / and . rejected");
    unset_env("AWS_REGION");
    write_file(fx->config, "[default]\nregion = us_east_1\n");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, fx->config) && contains(err, ":2:"),
           "bad region in the file names file and line (%s)", err);
}

static void test_endpoint(struct tap *t, const struct fixture *fx)
{
    struct aws_settings s;
    char err[1024];

    reset(fx);
    set_env("AWS_REGION", "us-east-1");
    write_file(fx->config, "[default]\nendpoint_url = http://file.example:8000\n");
    set_env("AWS_ENDPOINT_URL", "http://generic.example:8000");
    set_env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000/");
    int rc = aws_settings_load(&s, NULL, NULL, "https://argument.example", err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "https://argument.example") == 0, "endpoint: the argument comes first");
    rc = aws_settings_load(&s, "", "", "", err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "http://127.0.0.1:8000") == 0,
           "endpoint: empty arguments keep; AWS_ENDPOINT_URL_DYNAMODB next, trailing slash dropped (got %s)",
           s.endpoint);
    unset_env("AWS_ENDPOINT_URL_DYNAMODB");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "http://generic.example:8000") == 0, "endpoint: AWS_ENDPOINT_URL next");
    unset_env("AWS_ENDPOINT_URL");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "http://file.example:8000") == 0,
           "endpoint: the profile's endpoint_url next");
    remove_if_present(fx->config);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "https://dynamodb.us-east-1.amazonaws.com") == 0,
           "endpoint: the regional default last");
    set_env("AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_ENDPOINT_URL_DYNAMODB"), "endpoint without a scheme rejected (%s)", err);
    set_env("AWS_ENDPOINT_URL_DYNAMODB", "http://host\r\nX-Injected: 1");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1, "endpoint with CR/LF rejected");
}

static void test_profiles(struct tap *t, const struct fixture *fx)
{
    struct aws_settings s;
    char err[1024];

    reset(fx);
    write_file(fx->config,
               "[default]\nregion = us-west-2\n"
               "[dev]\nregion = ap-northeast-1\n"       /* not a profile in the config file */
               "[profile  dev ]\nregion = eu-west-1\n"
               "[profile other]\nregion = eu-south-1\n");
    int rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.region, "us-west-2") == 0, "profile default reads [default]");
    set_env("AWS_PROFILE", "dev");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.profile, "dev") == 0 && strcmp(s.region, "eu-west-1") == 0,
           "AWS_PROFILE=dev reads [profile dev] (not [dev]) in the config file");
    rc = aws_settings_load(&s, "other", NULL, NULL, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.profile, "other") == 0 && strcmp(s.region, "eu-south-1") == 0,
           "the profile argument beats AWS_PROFILE");
    set_env("AWS_PROFILE", "nosuch");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "nosuch"), "a profile without a region: error names the profile (%s)", err);
    set_env("AWS_PROFILE", "bad profile");
    set_env("AWS_REGION", "us-east-1");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_PROFILE"), "a profile name with a space rejected (%s)", err);
    unset_env("AWS_PROFILE");
    unset_env("AWS_REGION");

    /* [profile default] outranks [default], whichever comes first. */
    write_file(fx->config, "[profile default]\nregion = eu-west-3\n[default]\nregion = us-west-1\n");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(s.region, "eu-west-3") == 0, "[profile default] beats a later [default]");
}

static void test_ini_syntax(struct tap *t, const struct fixture *fx)
{
    struct aws_settings s;
    char err[1024];

    reset(fx);
    write_file(fx->config,
               "\xEF\xBB\xBF# written on Windows\r\n"
               "; another comment\r\n"
               "\r\n"
               "[profile other]\r\n"
               "region = ap-south-1\r\n"
               "   [ default ]   # trailing comment\r\n"
               "REGION   =\t eu-central-1   # inline comment\r\n"
               "s3 =\r\n"
               "  max_concurrent_requests = 10\r\n"
               "  region = not-this-one\r\n"
               "Endpoint_URL = http://localhost:8000/path;x=1 ; comment\r\n"
               "[services dev]\r\n"
               "dynamodb =\r\n"
               "  endpoint_url = http://ignored.example\r\n");
    int rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0, "INI: BOM, comments, CRLF, blanks, sub-properties accepted (%s)", err);
    tap_ok(t, rc == 0 && strcmp(s.region, "eu-central-1") == 0,
           "INI: case-insensitive key, trimmed value, inline comment cut, sub-property ignored");
    tap_ok(t, rc == 0 && strcmp(s.endpoint, "http://localhost:8000/path;x=1") == 0,
           "INI: ';' inside a value kept, ' ;' starts a comment (got %s)", s.endpoint);

    static const struct {
        const char *text;
        const char *line;
        const char *what;
    } bad[] = {
        {"[default]\nregion us-east-1\n", ":2:", "a line without '='"},
        {"# fine\n[default\nregion = us-east-1\n", ":2:", "a section header without ']'"},
        {"region = us-east-1\n[default]\n", ":1:", "a setting before any section"},
        {"[default]\n= us-east-1\n", ":2:", "a key that is empty"},
        {"[]\nregion = us-east-1\n", ":1:", "an empty section name"},
        {"[default] junk\nregion = us-east-1\n", ":1:", "text after a section header"},
        {"[default]\nregion = us-east-1\n  eu-west-1\n", ":3:", "a wanted key continued on an indented line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(fx->config, bad[i].text);
        set_env("AWS_REGION", "us-east-1"); /* the file is an error even when the environment settles it */
        rc = load(&s, err, sizeof err);
        tap_ok(t, rc == -1 && contains(err, fx->config) && contains(err, bad[i].line),
               "malformed config, %s: error names file and line (%s)", bad[i].what, err);
    }

    write_file(fx->config, "[default]\nregion = us-east-1\n");
    if (truncate(fx->config, 40) != 0) /* NUL bytes after the text */
        bail_out("truncate: %s", strerror(errno));
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, ":3:"), "a NUL byte in the file is an error (%s)", err);

    remove_if_present(fx->config);
    set_env("AWS_CONFIG_FILE", fx->missing);
    set_env("AWS_SHARED_CREDENTIALS_FILE", fx->missing);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0, "missing files are not an error (%s)", err);

    /* A directory opens but cannot be read, even for root (for whom chmod 000 proves nothing). */
    set_env("AWS_CONFIG_FILE", fx->home_aws);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, fx->home_aws), "an unreadable config file is an error naming it (%s)", err);
}

static void test_long_values(struct tap *t, const struct fixture *fx)
{
    struct aws_settings s;
    struct aws_credentials c;
    char err[1024];
    char big[5000];
    char text[9000];

    reset(fx);
    set_env("AWS_REGION", "us-east-1");
    repeat(big, 64, 'a');
    set_env("AWS_REGION", big);
    int rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_REGION") && contains(err, "too long"),
           "a 64-byte AWS_REGION is rejected, not truncated (%s)", err);
    repeat(big, 63, 'a');
    set_env("AWS_REGION", big);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == 0 && strlen(s.region) == 63, "a 63-byte region fits exactly");
    set_env("AWS_REGION", "us-east-1");

    repeat(big, 70, 'b');
    int n = snprintf(text, sizeof text, "[default]\nregion = %s\n", big);
    if (n < 0 || (size_t)n >= sizeof text)
        bail_out("text");
    write_file(fx->config, text);
    unset_env("AWS_REGION");
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, fx->config) && contains(err, ":2:") && contains(err, "too long"),
           "an over-long region in the file names file and line (%s)", err);
    remove_if_present(fx->config);
    set_env("AWS_REGION", "us-east-1");

    memcpy(big, "http://", 7);
    repeat(big + 7, 600, 'h');
    set_env("AWS_ENDPOINT_URL", big);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_ENDPOINT_URL") && contains(err, "too long"),
           "an over-long AWS_ENDPOINT_URL is rejected (%s)", err);
    unset_env("AWS_ENDPOINT_URL");

    repeat(big, 200, 'p');
    set_env("AWS_PROFILE", big);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_PROFILE"), "an over-long AWS_PROFILE is rejected (%s)", err);
    unset_env("AWS_PROFILE");

    big[0] = '/';
    repeat(big + 1, 1100, 'f');
    set_env("AWS_SHARED_CREDENTIALS_FILE", big);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_SHARED_CREDENTIALS_FILE"),
           "an over-long AWS_SHARED_CREDENTIALS_FILE is rejected (%s)", err);
    set_env("AWS_SHARED_CREDENTIALS_FILE", fx->credentials);

    repeat(big, 128, 'K');
    set_env("AWS_ACCESS_KEY_ID", big);
    set_env("AWS_SECRET_ACCESS_KEY", ENV_SECRET);
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_ACCESS_KEY_ID") && contains(err, "too long") && credentials_empty(&c),
           "an over-long AWS_ACCESS_KEY_ID is rejected (%s)", err);

    set_env("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID);
    repeat(big, 4095, 'T');
    set_env("AWS_SESSION_TOKEN", big);
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && strlen(c.session_token) == 4095, "a 4095-byte session token fits (%s)", err);
    repeat(big, 4096, 'T');
    set_env("AWS_SESSION_TOKEN", big);
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_SESSION_TOKEN") && contains(err, "too long"),
           "a 4096-byte session token is rejected (%s)", err);
    unset_env("AWS_ACCESS_KEY_ID");
    unset_env("AWS_SECRET_ACCESS_KEY");
    unset_env("AWS_SESSION_TOKEN");

    repeat(big, 128, 's');
    n = snprintf(text, sizeof text, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                 FILE_ACCESS_KEY_ID, big);
    if (n < 0 || (size_t)n >= sizeof text)
        bail_out("text");
    write_file(fx->credentials, text);
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, fx->credentials) && contains(err, ":3:") && contains(err, "too long") &&
           !contains(err, big),
           "an over-long secret in the credentials file names file and line, not the value (%s)", err);

    char line[8300];
    repeat(line, 8200, 'y');
    FILE *f = fopen(fx->config, "w");
    if (!f || fprintf(f, "[default]\nregion = us-east-1\n# %s\n", line) < 0 || fclose(f) != 0)
        bail_out("cannot write %s", fx->config);
    rc = load(&s, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, ":3:") && contains(err, "too long"),
           "a line over the line limit is an error, not two lines (%s)", err);
}

/* ---- credentials: environment and files ----------------------------------------------------------- */

static void test_credentials_env(struct tap *t, const struct fixture *fx)
{
    struct aws_credentials c;
    char err[1024];

    reset(fx);
    set_env("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID);
    set_env("AWS_SECRET_ACCESS_KEY", ENV_SECRET);
    int rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, ENV_ACCESS_KEY_ID, ENV_SECRET, "", "environment") && c.expiration == 0,
           "environment: key and secret, no token, no expiry (%s)", err);
    set_env("AWS_SESSION_TOKEN", "envSessionToken+/=");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, ENV_ACCESS_KEY_ID, ENV_SECRET, "envSessionToken+/=", "environment"),
           "environment: with AWS_SESSION_TOKEN");

    unset_env("AWS_ACCESS_KEY_ID");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_ACCESS_KEY_ID") && !contains(err, ENV_SECRET) && credentials_empty(&c),
           "environment: a secret without a key id is an error, the secret not in it (%s)", err);
    set_env("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID);
    unset_env("AWS_SECRET_ACCESS_KEY");
    /* Even with a usable file behind it: a half-set environment is a mistake, not a fall-through. */
    write_file(fx->credentials, "[default]\naws_access_key_id = " FILE_ACCESS_KEY_ID
                                "\naws_secret_access_key = " FILE_SECRET "\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_SECRET_ACCESS_KEY") && credentials_empty(&c),
           "environment: a key id without a secret is an error (%s)", err);
    set_env("AWS_SECRET_ACCESS_KEY", "secret with\r\nX-Injected: yes");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "AWS_SECRET_ACCESS_KEY") && !contains(err, "Injected"),
           "environment: a secret with CR/LF is rejected without quoting it (%s)", err);
    set_env("AWS_SECRET_ACCESS_KEY", ENV_SECRET);
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(c.source, "environment") == 0 && strcmp(c.access_key_id, ENV_ACCESS_KEY_ID) == 0,
           "environment beats the credentials file");
}

static void test_credentials_files(struct tap *t, const struct fixture *fx)
{
    struct aws_credentials c;
    char err[1024];

    reset(fx);
    write_file(fx->credentials,
               "# keys\n"
               "[default]\n"
               "aws_access_key_id = " FILE_ACCESS_KEY_ID "\n"
               "AWS_Secret_Access_Key=" FILE_SECRET "\r\n"
               "\n"
               "[work]\n"
               "aws_access_key_id = AKIDWORKPROFILE00001\n"
               "aws_secret_access_key = workSecret0123456789\n"
               "aws_session_token = workSessionToken+/==\n"
               "[profile prof]\n"
               "aws_access_key_id = AKIDNOTAPROFILEHERE1\n"
               "aws_secret_access_key = notAProfileInThisFile\n");
    write_file(fx->config,
               "[default]\n"
               "aws_access_key_id = " CONFIG_ACCESS_KEY_ID "\n"
               "aws_secret_access_key = " CONFIG_SECRET "\n"
               "[profile cfg]\n"
               "region = eu-west-1\n"
               "aws_access_key_id = AKIDCONFIGPROFILE001\n"
               "aws_secret_access_key = configProfileSecret\n"
               "aws_session_token = configProfileToken\n");
    int rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, FILE_ACCESS_KEY_ID, FILE_SECRET, "", "shared-file") && c.expiration == 0,
           "credentials file [default] (keys case-insensitive), beats the config file (%s)", err);
    set_env("AWS_PROFILE", "work");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, "AKIDWORKPROFILE00001", "workSecret0123456789", "workSessionToken+/==",
                                         "shared-file"),
           "AWS_PROFILE=work reads [work] with its session token (%s)", err);
    set_env("AWS_PROFILE", "cfg");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, "AKIDCONFIGPROFILE001", "configProfileSecret", "configProfileToken",
                                         "shared-file"),
           "AWS_PROFILE=cfg falls through to [profile cfg] in the config file (%s)", err);
    set_env("AWS_PROFILE", "prof");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && credentials_empty(&c) && contains(err, "AWS_ACCESS_KEY_ID") && contains(err, "prof"),
           "[profile prof] in the credentials file is not profile prof; nothing found says what to set (%s)", err);
    tap_ok(t, contains(err, "AWS_EC2_METADATA_DISABLED"), "the message says instance metadata is off");
    unset_env("AWS_PROFILE");

    /* The config file's [default] when the credentials file has no such profile. */
    remove_if_present(fx->credentials);
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, CONFIG_ACCESS_KEY_ID, CONFIG_SECRET, "", "shared-file"),
           "config file [default] credentials when the credentials file is missing (%s)", err);

    /* The default credentials file under HOME. */
    unset_env("AWS_SHARED_CREDENTIALS_FILE");
    write_file(fx->home_credentials, "[default]\naws_access_key_id = AKIDHOMEDEFAULT00001\n"
                                     "aws_secret_access_key = homeSecret\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(c.access_key_id, "AKIDHOMEDEFAULT00001") == 0,
           "credentials read from $HOME/.aws/credentials by default (%s)", err);
    set_env("AWS_SHARED_CREDENTIALS_FILE", fx->credentials);

    write_file(fx->credentials, "[default]\naws_access_key_id = " FILE_ACCESS_KEY_ID "\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, fx->credentials) && contains(err, "aws_secret_access_key") &&
           credentials_empty(&c),
           "a profile with a key id but no secret is an error naming the file (%s)", err);
    write_file(fx->credentials, "[default]\naws_secret_access_key = " FILE_SECRET "\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, "aws_access_key_id") && !contains(err, FILE_SECRET),
           "a profile with a secret but no key id is an error, the secret not in it (%s)", err);
    write_file(fx->credentials, "[default]\naws_access_key_id = " FILE_ACCESS_KEY_ID "\n"
                                "this line is broken\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, fx->credentials) && contains(err, ":3:"),
           "a malformed credentials file names file and line (%s)", err);
    write_file(fx->credentials, "[default]\naws_access_key_id = " FILE_ACCESS_KEY_ID "\n"
                                "aws_secret_access_key = " FILE_SECRET "\n  continued\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && contains(err, ":4:") && !contains(err, FILE_SECRET),
           "a secret continued on an indented line is refused (%s)", err);
}

/* ---- credentials: IMDSv2 ---------------------------------------------------------------------------- */

static void test_imds(struct tap *t, const struct fixture *fx, const char *script)
{
    struct aws_credentials c;
    struct fake_imds f;
    char err[1024];
    char url[128];

    reset(fx);
    int started = fake_imds_start(&f, script, FAKE_EXPIRATION, NULL, NULL) == 0;
    tap_ok(t, started, "fake IMDS started (%s)", script);
    if (!started)
        return;
    point_imds_at(f.port, "");

    /* The fake must enforce IMDSv2, or a client that skips the token would pass too. */
    int n = snprintf(url, sizeof url, "http://127.0.0.1:%d/latest/meta-data/iam/security-credentials/", f.port);
    tap_ok(t, n > 0 && (size_t)n < sizeof url && raw_status(url, NULL, NULL) == 401,
           "fake IMDS answers 401 to a GET without a token");
    n = snprintf(url, sizeof url, "http://127.0.0.1:%d/latest/api/token", f.port);
    tap_ok(t, n > 0 && (size_t)n < sizeof url && raw_status(url, "PUT", NULL) == 400,
           "fake IMDS answers 400 to a token PUT without a TTL");

    int rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, FAKE_ACCESS_KEY_ID, FAKE_SECRET, FAKE_TOKEN, "imds"),
           "IMDSv2: key, secret and token of the role, source imds (%s)", err);
    tap_ok(t, rc == 0 && c.expiration == FAKE_EXPIRATION_EPOCH, "IMDSv2: Expiration read as UTC (%lld)",
           (long long)c.expiration);
    tap_ok(t, rc == 0 && !aws_credentials_expiring(&c, FAKE_EXPIRATION_EPOCH - 301, 300),
           "expiring: not when more than the margin is left");
    tap_ok(t, rc == 0 && aws_credentials_expiring(&c, FAKE_EXPIRATION_EPOCH - 300, 300),
           "expiring: when exactly the margin is left");
    tap_ok(t, rc == 0 && aws_credentials_expiring(&c, FAKE_EXPIRATION_EPOCH + 10, 0),
           "expiring: when already expired");

    /* A proxy in the environment must not be used for the link-local service. */
    set_env("http_proxy", "http://127.0.0.1:9");
    rc = resolve(&c, err, sizeof err);
    unset_env("http_proxy");
    tap_ok(t, rc == 0 && strcmp(c.source, "imds") == 0, "IMDSv2: http_proxy ignored (%s)", err);

    point_imds_at(f.port, "/");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(c.source, "imds") == 0, "IMDSv2: endpoint with a trailing slash (%s)", err);

    /* The order of the chain, with every source available. */
    write_file(fx->config, "[default]\naws_access_key_id = " CONFIG_ACCESS_KEY_ID "\n"
                           "aws_secret_access_key = " CONFIG_SECRET "\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && strcmp(c.access_key_id, CONFIG_ACCESS_KEY_ID) == 0 && c.expiration == 0,
           "chain: the config file beats IMDS");
    write_file(fx->credentials, "[default]\naws_access_key_id = " FILE_ACCESS_KEY_ID "\n"
                                "aws_secret_access_key = " FILE_SECRET "\n");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, FILE_ACCESS_KEY_ID, FILE_SECRET, "", "shared-file"),
           "chain: the credentials file beats the config file and IMDS");
    set_env("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID);
    set_env("AWS_SECRET_ACCESS_KEY", ENV_SECRET);
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == 0 && credentials_are(&c, ENV_ACCESS_KEY_ID, ENV_SECRET, "", "environment"),
           "chain: the environment beats everything");
    unset_env("AWS_ACCESS_KEY_ID");
    unset_env("AWS_SECRET_ACCESS_KEY");
    remove_if_present(fx->credentials);
    remove_if_present(fx->config);

    set_env("AWS_EC2_METADATA_DISABLED", "true");
    rc = resolve(&c, err, sizeof err);
    tap_ok(t, rc == -1 && credentials_empty(&c) && contains(err, "AWS_EC2_METADATA_DISABLED"),
           "AWS_EC2_METADATA_DISABLED=true: IMDS not asked although it would answer (%s)", err);
    unset_env("AWS_EC2_METADATA_DISABLED");

    tap_ok(t, fake_imds_stop(&f) == 0, "fake IMDS exits 0 when its stdin closes");

    /* The same instant with a fraction and a +02:00 offset. */
    started = fake_imds_start(&f, script, FAKE_EXPIRATION_OFFSET, NULL, NULL) == 0;
    point_imds_at(started ? f.port : 9, "");
    rc = started ? resolve(&c, err, sizeof err) : -1;
    tap_ok(t, rc == 0 && c.expiration == FAKE_EXPIRATION_EPOCH,
           "IMDSv2: Expiration with a fraction and an offset (%lld, %s)", (long long)c.expiration, err);
    if (started)
        fake_imds_stop(&f);

    started = fake_imds_start(&f, script, "tomorrow", NULL, NULL) == 0;
    point_imds_at(started ? f.port : 9, "");
    rc = started ? resolve(&c, err, sizeof err) : 0;
    tap_ok(t, started && rc == -1 && contains(err, "Expiration") && credentials_empty(&c),
           "IMDSv2: an Expiration that is not RFC 3339 is an error (%s)", err);
    if (started)
        fake_imds_stop(&f);
}

/* Start a fake in a failure mode and check the chain ends with an error, cleanly and in time. */
static void check_imds_failure(struct tap *t, const struct fixture *fx, const char *script, const char *mode,
                               const char *mode_arg, const char *expect, const char *name)
{
    struct aws_credentials c;
    struct fake_imds f;
    char err[1024];

    reset(fx);
    int started = fake_imds_start(&f, script, FAKE_EXPIRATION, mode, mode_arg) == 0;
    point_imds_at(started ? f.port : 9, "");
    long start = now_ms();
    int rc = started ? resolve(&c, err, sizeof err) : 0;
    long elapsed = now_ms() - start;
    tap_ok(t, started && rc == -1 && contains(err, expect) && credentials_empty(&c) && elapsed < IMDS_FAIL_WITHIN_MS,
           "IMDSv2, %s: error in %ld ms (%s)", name, elapsed, err);
    if (started)
        fake_imds_stop(&f);
}

static void test_imds_failures(struct tap *t, const struct fixture *fx, const char *script)
{
    struct aws_credentials c;
    char err[1024];

    check_imds_failure(t, fx, script, "--no-token", NULL, "HTTP 403", "token PUT refused (403)");
    check_imds_failure(t, fx, script, "--reject-token", NULL, "HTTP 401", "token not accepted (401)");
    check_imds_failure(t, fx, script, "--bad-json", NULL, "not JSON", "credentials that are not JSON");
    check_imds_failure(t, fx, script, "--hang", "6", "Timeout", "an answer slower than the 2 s bound");

    reset(fx);
    int port = closed_loopback_port();
    point_imds_at(port > 0 ? port : 9, "");
    long start = now_ms();
    int rc = resolve(&c, err, sizeof err);
    long elapsed = now_ms() - start;
    tap_ok(t, port > 0 && rc == -1 && credentials_empty(&c) && contains(err, "instance metadata") &&
           elapsed < IMDS_FAIL_WITHIN_MS,
           "IMDSv2, nothing listening: error in %ld ms (%s)", elapsed, err);
}

static void test_expiring(struct tap *t)
{
    struct aws_credentials c;
    memset(&c, 0, sizeof c);
    tap_ok(t, !aws_credentials_expiring(&c, (time_t)4000000000LL, 1000000),
           "expiring: never for credentials without an expiry");
    c.expiration = 1000;
    tap_ok(t, aws_credentials_expiring(&c, 990, 60) && !aws_credentials_expiring(&c, 900, 60),
           "expiring: within the margin yes, before it no");
    tap_ok(t, aws_credentials_expiring(&c, 1000, -5) && !aws_credentials_expiring(&c, 999, -5),
           "expiring: a negative margin counts as none");
}

int main(int argc, char **argv)
{
    struct tap t = {0};
    struct fixture fx;

    if (argc < 2)
        bail_out("usage: %s path/to/tests/tools/fake_imds.py", argv[0]);
    if (access(argv[1], R_OK) != 0)
        bail_out("cannot read %s: %s", argv[1], strerror(errno));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        bail_out("curl_global_init failed");
    /* A write to a server that went away must be an error, not the end of the test. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        bail_out("signal: %s", strerror(errno));
    fixture_init(&fx);

    test_settings_defaults(&t, &fx);
    test_region(&t, &fx);
    test_endpoint(&t, &fx);
    test_profiles(&t, &fx);
    test_ini_syntax(&t, &fx);
    test_long_values(&t, &fx);
    test_credentials_env(&t, &fx);
    test_credentials_files(&t, &fx);
    test_expiring(&t);
    test_imds(&t, &fx, argv[1]);
    test_imds_failures(&t, &fx, argv[1]);

    clear_aws_env();
    fixture_cleanup(&fx);
    curl_global_cleanup();
    return tap_done(&t);
}
