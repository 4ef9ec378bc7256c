/* admin.c — clone-jobs-admin: the operator's command for the tables, and (through admin_keys.c) keys and plans.
 * `create-table` is idempotent: it creates the on-demand table when missing and waits until it is ACTIVE. */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_config.h"
#include "admin_keys.h"
#include "admin_site.h"
#include "conf.h"
#include "ddb.h"

struct admin_options {
    const char *table;
    const char *key_attribute;
    const char *usage_table; /* the quota counters (quota.h); create-table makes it too */
    const char *endpoint;
    const char *region;
    const char *profile;
    int wait_seconds;
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: clone-jobs-admin [options] COMMAND\n"
            "commands:\n"
            "  create-table     create the table (on-demand, string key) if missing; wait until ACTIVE\n"
            "  describe-table   print the table's description as JSON\n"
            "options:\n"
            "  --config FILE    the service's configuration file (default $CLONE_JOBS_CONFIG, then\n"
            "                   " CONF_DEFAULT_PATH "); it gives table, key, endpoint, region, profile\n"
            "                   and the DynamoDB timeouts, which the options below override\n"
            "  --table NAME     table name (default clone-jobs, or CLONE_JOBS_TABLE)\n"
            "  --key ATTR       partition key attribute (default cloneID, or CLONE_JOBS_KEY)\n"
            "  --endpoint URL   DynamoDB endpoint (default: AWS settings)\n"
            "  --region NAME    AWS region (default: AWS settings)\n"
            "  --profile NAME   AWS profile (default: AWS_PROFILE or default)\n"
            "  --wait SECONDS   how long create-table waits for ACTIVE (default 60)\n"
            "  --usage-table NAME  the quota usage table create-table also makes (key usageID;\n"
            "                   default clone-jobs-usage, or CLONE_JOBS_USAGE_TABLE)\n");
    admin_keys_usage(to);
    admin_site_usage(to);
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static const char *table_status(json_object *describe)
{
    json_object *table, *status;
    if (json_object_object_get_ex(describe, "Table", &table) &&
        json_object_object_get_ex(table, "TableStatus", &status))
        return json_object_get_string(status);
    return "";
}

static void sleep_quarter_second(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 250000000L};
    nanosleep(&ts, NULL);
}

static int create_one_table(struct ddb_client *c, const char *table, const char *key_attribute,
                            int wait_seconds)
{
    struct ddb_result r;
    enum ddb_outcome outcome = ddb_describe_table(c, table, &r);
    if (outcome == DDB_RESOURCE_NOT_FOUND) {
        ddb_result_clear(&r);
        outcome = ddb_create_table(c, table, key_attribute, &r);
        /* Another instance may have created it meanwhile: that is success too. */
        if (outcome != DDB_OK && strcmp(r.error_type, "ResourceInUseException") != 0) {
            fprintf(stderr, "clone-jobs-admin: CreateTable %s failed: %s %s\n", table,
                    r.error_type, r.message);
            ddb_result_clear(&r);
            return 1;
        }
        printf("created table %s (key %s, PAY_PER_REQUEST)\n", table, key_attribute);
        ddb_result_clear(&r);
        outcome = ddb_describe_table(c, table, &r);
    }
    for (int waited = 0;; waited++) {
        if (outcome != DDB_OK) {
            fprintf(stderr, "clone-jobs-admin: DescribeTable %s failed: %s %s\n", table,
                    r.error_type, r.message);
            ddb_result_clear(&r);
            return 1;
        }
        const char *status = table_status(r.response);
        if (strcmp(status, "ACTIVE") == 0) {
            printf("table %s is ACTIVE\n", table);
            ddb_result_clear(&r);
            return 0;
        }
        if (waited >= wait_seconds * 4) {
            fprintf(stderr, "clone-jobs-admin: table %s still %s after %d s\n", table, status,
                    wait_seconds);
            ddb_result_clear(&r);
            return 1;
        }
        ddb_result_clear(&r);
        sleep_quarter_second();
        outcome = ddb_describe_table(c, table, &r);
    }
}

/* Both tables: the items and the quota counters (see quota.h). */
static int create_table(struct ddb_client *c, const struct admin_options *o)
{
    int status = create_one_table(c, o->table, o->key_attribute, o->wait_seconds);
    if (status == 0)
        status = create_one_table(c, o->usage_table, "usageID", o->wait_seconds);
    return status;
}

static int describe_table(struct ddb_client *c, const struct admin_options *o)
{
    struct ddb_result r;
    if (ddb_describe_table(c, o->table, &r) != DDB_OK) {
        fprintf(stderr, "clone-jobs-admin: DescribeTable %s failed: %s %s\n", o->table,
                r.error_type, r.message);
        ddb_result_clear(&r);
        return 1;
    }
    printf("%s\n", json_object_to_json_string_ext(r.response, JSON_C_TO_STRING_PRETTY));
    ddb_result_clear(&r);
    return 0;
}

int main(int argc, char **argv)
{
    struct admin_options o = {
        .wait_seconds = 60,
    };
    const char *command = NULL;
    const char *config_path = NULL;
    int keys_argc = 0;
    char **keys_argv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        if (strcmp(a, "--table") == 0)
            target = &o.table;
        else if (strcmp(a, "--key") == 0)
            target = &o.key_attribute;
        else if (strcmp(a, "--endpoint") == 0)
            target = &o.endpoint;
        else if (strcmp(a, "--region") == 0)
            target = &o.region;
        else if (strcmp(a, "--profile") == 0)
            target = &o.profile;
        else if (strcmp(a, "--config") == 0)
            target = &config_path;
        else if (strcmp(a, "--usage-table") == 0)
            target = &o.usage_table;
        if (target || strcmp(a, "--wait") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clone-jobs-admin: %s needs a value\n", a);
                return 2;
            }
            if (target)
                *target = argv[++i];
            else
                o.wait_seconds = atoi(argv[++i]);
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (!command && a[0] != '-') {
            command = a;
            /* Key and plan commands touch no table: they parse the rest of the line themselves. */
            if (admin_keys_is_command(a) || strcmp(a, "nginx-site") == 0) {
                keys_argc = argc - i;
                keys_argv = argv + i;
                break;
            }
        } else {
            fprintf(stderr, "clone-jobs-admin: unexpected argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!command) {
        usage(stderr);
        return 2;
    }
    int (*run)(struct ddb_client *, const struct admin_options *) = NULL;
    if (strcmp(command, "create-table") == 0)
        run = create_table;
    else if (strcmp(command, "describe-table") == 0)
        run = describe_table;
    if (!run && !keys_argv) {
        fprintf(stderr, "clone-jobs-admin: unknown command %s\n", command);
        usage(stderr);
        return 2;
    }

    /* The same configuration as the workers (file, then CLONE_JOBS_* variables); options override it. */
    struct conf conf;
    char conf_err[1024];
    if (conf_load(&conf, config_path, conf_err, sizeof conf_err) != 0) {
        fprintf(stderr, "clone-jobs-admin: %s\n", conf_err);
        return 2;
    }
    if (keys_argv && strcmp(command, "nginx-site") == 0)
        return admin_site_main(keys_argc, keys_argv, &conf);
    if (keys_argv) {
        struct admin_keys_defaults keys_defaults = {.keys_dir = conf.keys_dir,
                                                    .reload_command = conf.nginx_reload_command};
        return admin_keys_main(keys_argc, keys_argv, &keys_defaults);
    }
    if (!o.table)
        o.table = conf.table;
    if (!o.usage_table)
        o.usage_table = conf.usage_table;
    if (!o.key_attribute)
        o.key_attribute = env_or("CLONE_JOBS_KEY", conf.key_attribute);
    if (!o.endpoint && conf.endpoint[0])
        o.endpoint = conf.endpoint;
    if (!o.region && conf.region[0])
        o.region = conf.region;
    if (!o.profile && conf.profile[0])
        o.profile = conf.profile;
    struct ddb_options ddb_options;
    ddb_options_default(&ddb_options);
    ddb_options.connect_timeout_ms = conf.ddb_connect_timeout_ms;
    ddb_options.attempt_timeout_ms = conf.ddb_attempt_timeout_ms;
    ddb_options.max_attempts = conf.ddb_max_attempts;
    ddb_options.max_total_ms = conf.ddb_max_total_ms;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "clone-jobs-admin: curl_global_init failed\n");
        return 1;
    }
    char err[512];
    struct aws_settings settings;
    if (aws_settings_load(&settings, o.profile, o.region, o.endpoint, err, sizeof err) != 0) {
        fprintf(stderr, "clone-jobs-admin: %s\n", err);
        curl_global_cleanup();
        return 1;
    }
    struct ddb_client *c = ddb_client_new(&ddb_options, &settings, err, sizeof err);
    if (!c) {
        fprintf(stderr, "clone-jobs-admin: %s\n", err);
        curl_global_cleanup();
        return 1;
    }
    int status = run(c, &o);
    ddb_client_free(c);
    curl_global_cleanup();
    return status;
}
