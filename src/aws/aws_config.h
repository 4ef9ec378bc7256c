/* aws_config.h — where the AWS settings come from: the standard credentials chain, region and endpoint.
 * Environment first, then the shared credentials/config files, then EC2 instance metadata (IMDSv2). */
#ifndef CLONE_JOBS_AWS_CONFIG_H
#define CLONE_JOBS_AWS_CONFIG_H

#include <stddef.h>
#include <time.h>

struct aws_credentials {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096]; /* "" when none */
    time_t expiration;        /* 0: does not expire (environment, files) */
    char source[32];          /* "environment", "shared-file", "imds": for logs, never the secret */
};

struct aws_settings {
    char profile[128];   /* AWS_PROFILE, else "default" */
    char region[64];     /* AWS_REGION, AWS_DEFAULT_REGION, then the profile's region in the config file */
    char endpoint[512];  /* explicit endpoint (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, the profile's
                          * endpoint_url), else https://dynamodb.REGION.amazonaws.com (".com.cn" in cn-*) */
    char credentials_file[1024]; /* AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials */
    char config_file[1024];      /* AWS_CONFIG_FILE, else ~/.aws/config */
    char imds_endpoint[256];     /* AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254 */
    int imds_disabled;           /* AWS_EC2_METADATA_DISABLED=true */
};

/* Fill settings from the environment and the files. The arguments override (NULL or "" to keep):
 * the service's own configuration file names a profile, region or endpoint this way.
 * Returns 0, or -1 with a message in err (no region anywhere, a file that cannot be parsed). */
int aws_settings_load(struct aws_settings *s, const char *profile, const char *region,
                      const char *endpoint, char *err, size_t errlen);

/* Resolve credentials along the chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN),
 * then the profile in the shared credentials file (then in the config file), then IMDSv2
 * (PUT /latest/api/token, GET /latest/meta-data/iam/security-credentials/ and /ROLE) unless disabled.
 * IMDS calls use short timeouts (1 s connect, 2 s total) so a machine without it is not slowed.
 * Returns 0, or -1 with err ("no AWS credentials found: set AWS_ACCESS_KEY_ID ..."). */
int aws_credentials_resolve(const struct aws_settings *s, struct aws_credentials *c,
                            char *err, size_t errlen);

/* True when c expires within margin_seconds of now (never for credentials without expiry). */
int aws_credentials_expiring(const struct aws_credentials *c, time_t now, int margin_seconds);

#endif
