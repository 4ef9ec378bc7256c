/* admin.c — clone-jobs-admin: the operator's command for the tables, and (through admin_keys.c) keys and plans.
 * `create-table` is idempotent: it creates the on-demand table when missing and waits until it is ACTIVE. */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_config.h"
#include "admin_apache.h"
#include "admin_keys.h"
#include "admin_site.h"
#include "admin_status.h"
#include "admin_sync.h"
#include "admin_usage.h"
#include "conf.h"
#include "ddb.h"
#include "keystore_ddb.h"

struct admin_options {
    const char *table;
    const char *key_attribute;
    const char *usage_table; /* the quota counters (quota.h); create-table makes it too */
    const char *keys_table;  /* key_store = dynamodb: keys, plans, heartbeats (keystore_ddb.h); NULL: not made */
    const char *endpoint;
    const char *region;
    const char *profile;
    int wait_seconds;
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: clone-jobs-admin [options] COMMAND   (clone-jobs-admin --version)\n"
            "commands:\n"
            "  create-table     create the table (on-demand, string key) if missing; wait until ACTIVE\n"
            "  describe-table   print the table's description as JSON\n"
            "options:\n"
            "  --config FILE    the service's configuration file (default $CLONE_JOBS_CONFIG, then\n"
            "                   " CONF_DEFAULT_PATH "); it gives table, key, endpoint, region, profile\n"
            "                   and the DynamoDB timeouts, which the options below override\n"
            "  --table NAME     table name (default: the configuration's table)\n"
            "  --key ATTR       partition key attribute (default: the configuration's key_attribute)\n"
            "  --endpoint URL   DynamoDB endpoint (default: AWS settings)\n"
            "  --region NAME    AWS region (default: AWS settings)\n"
            "  --profile NAME   AWS profile (default: AWS_PROFILE or default)\n"
            "  --wait SECONDS   how long create-table waits for ACTIVE (default 60)\n"
            "  --usage-table NAME  the quota usage table create-table also makes (key usageID;\n"
            "                   default: the configuration's usage_table)\n");
    admin_apache_usage(to);
    admin_keys_usage(to);
    admin_site_usage(to);
    admin_status_usage(to);
    admin_sync_usage(to);
    admin_usage_usage(to);
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

/* The tables: the items, the quota counters (see quota.h), and with key_store = dynamodb the keys table. */
static int create_table(struct ddb_client *c, const struct admin_options *o)
{
    int status = create_one_table(c, o->table, o->key_attribute, o->wait_seconds);
    if (status == 0)
        status = create_one_table(c, o->usage_table, "usageID", o->wait_seconds);
    if (status == 0 && o->keys_table)
        status = create_one_table(c, o->keys_table, KD_KEY_ATTRIBUTE, o->wait_seconds);
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

struct command_line {
    struct admin_options options;
    const char *command;
    const char *config_path;
    int rest_argc;       /* key, plan and nginx-site commands: their own arguments, command first */
    char **rest_argv;
};

/* Read the options before the command. Returns 0, or an exit status (2 usage error, -1 help shown). */
static int parse_command_line(int argc, char **argv, struct command_line *cl)
{
    memset(cl, 0, sizeof *cl);
    cl->options.wait_seconds = 60;
    struct admin_options *o = &cl->options;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        if (strcmp(a, "--table") == 0)
            target = &o->table;
        else if (strcmp(a, "--key") == 0)
            target = &o->key_attribute;
        else if (strcmp(a, "--endpoint") == 0)
            target = &o->endpoint;
        else if (strcmp(a, "--region") == 0)
            target = &o->region;
        else if (strcmp(a, "--profile") == 0)
            target = &o->profile;
        else if (strcmp(a, "--config") == 0)
            target = &cl->config_path;
        else if (strcmp(a, "--usage-table") == 0)
            target = &o->usage_table;
        if (target || strcmp(a, "--wait") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clone-jobs-admin: %s needs a value\n", a);
                return 2;
            }
            if (target)
                *target = argv[++i];
            else
                o->wait_seconds = atoi(argv[++i]);
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return -1;
        } else if (strcmp(a, "--version") == 0 && !cl->command) {
            printf("clone-jobs-admin (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            return fflush(stdout) == 0 ? -1 : 1;
        } else if (!cl->command && a[0] != '-') {
            cl->command = a;
            /* apache-site reads its own options too (admin_apache.c). */
            if (strcmp(a, "apache-site") == 0) {
                cl->rest_argc = argc - i;
                cl->rest_argv = argv + i;
                break;
            }
            /* Key and plan commands touch no table: they parse the rest of the line themselves. */
            if (admin_keys_is_command(a) || strcmp(a, "nginx-site") == 0 || strcmp(a, "status") == 0 ||
                strcmp(a, "usage") == 0 || strcmp(a, "sync") == 0) {
                cl->rest_argc = argc - i;
                cl->rest_argv = argv + i;
                break;
            }
        } else {
            fprintf(stderr, "clone-jobs-admin: unexpected argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!cl->command) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* A table command with a DynamoDB client for the configuration (options override it). */
static int run_table_command(int (*run)(struct ddb_client *, const struct admin_options *), struct admin_options *o,
                             const struct conf *conf)
{
    if (!o->table)
        o->table = conf->table;
    if (!o->usage_table)
        o->usage_table = conf->usage_table;
    if (!o->key_attribute)
        o->key_attribute = conf->key_attribute;
    if (conf->key_store == CONF_KEY_STORE_DYNAMODB)
        o->keys_table = conf->keys_table;
    if (!o->endpoint && conf->endpoint[0])
        o->endpoint = conf->endpoint;
    if (!o->region && conf->region[0])
        o->region = conf->region;
    if (!o->profile && conf->profile[0])
        o->profile = conf->profile;
    struct ddb_options ddb_options;
    ddb_options_from_conf(&ddb_options, conf);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "clone-jobs-admin: curl_global_init failed\n");
        return 1;
    }
    char err[512];
    struct aws_settings settings;
    struct ddb_client *c = NULL;
    int status = 1;
    if (aws_settings_load(&settings, o->profile, o->region, o->endpoint, err, sizeof err) != 0 ||
        !(c = ddb_client_new(&ddb_options, &settings, err, sizeof err)))
        fprintf(stderr, "clone-jobs-admin: %s\n", err);
    else
        status = run(c, o);
    ddb_client_free(c);
    curl_global_cleanup();
    return status;
}

int main(int argc, char **argv)
{
    struct command_line cl;
    int parsed = parse_command_line(argc, argv, &cl);
    if (parsed != 0)
        return parsed < 0 ? 0 : parsed;
    int (*run)(struct ddb_client *, const struct admin_options *) = NULL;
    if (strcmp(cl.command, "create-table") == 0)
        run = create_table;
    else if (strcmp(cl.command, "describe-table") == 0)
        run = describe_table;
    if (!run && !cl.rest_argv) {
        fprintf(stderr, "clone-jobs-admin: unknown command %s\n", cl.command);
        usage(stderr);
        return 2;
    }
    /* The same configuration as the workers (file, then CLONE_JOBS_* variables); options override it. */
    struct conf conf;
    char conf_err[1024];
    if (conf_load(&conf, cl.config_path, conf_err, sizeof conf_err) != 0) {
        fprintf(stderr, "clone-jobs-admin: %s\n", conf_err);
        return 2;
    }
    if (cl.rest_argv && strcmp(cl.command, "apache-site") == 0)
        return admin_apache_main(cl.rest_argc, cl.rest_argv, &conf);
    if (cl.rest_argv && strcmp(cl.command, "nginx-site") == 0)
        return admin_site_main(cl.rest_argc, cl.rest_argv, &conf);
    if (cl.rest_argv && strcmp(cl.command, "status") == 0)
        return admin_status_main(cl.rest_argc, cl.rest_argv, &conf);
    if (cl.rest_argv && strcmp(cl.command, "usage") == 0)
        return admin_usage_main(cl.rest_argc, cl.rest_argv, &conf);
    if (cl.rest_argv && strcmp(cl.command, "sync") == 0)
        return admin_sync_main(cl.rest_argc, cl.rest_argv, &conf);
    if (cl.rest_argv) {
        struct admin_keys_defaults keys_defaults = {.keys_dir = conf.keys_dir,
                                                    .reload_command = conf.nginx_reload_command,
                                                    .group = conf.keys_group,
                                                    .gateway_worker = conf.gateway == CONF_GATEWAY_WORKER,
                                                    .keys_table = conf.keys_table};
        /* key_store = dynamodb: the keys table, not the files (render still works on the box's own record). */
        if (conf.key_store != CONF_KEY_STORE_DYNAMODB || strcmp(cl.command, "render") == 0)
            return admin_keys_main(cl.rest_argc, cl.rest_argv, &keys_defaults);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "clone-jobs-admin: curl_global_init failed\n");
            return 1;
        }
        char err[512];
        int status = 1;
        keys_defaults.store = kd_client_new(&conf, err, sizeof err);
        if (!keys_defaults.store)
            fprintf(stderr, "clone-jobs-admin: %s\n", err);
        else
            status = admin_keys_main(cl.rest_argc, cl.rest_argv, &keys_defaults);
        ddb_client_free(keys_defaults.store);
        curl_global_cleanup();
        return status;
    }
    return run_table_command(run, &cl.options, &conf);
}
