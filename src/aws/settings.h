/* settings.h - the AWS settings of one brock run, resolved as the AWS CLI does.
 *
 * Loads ~/.aws/config and ~/.aws/credentials (profile.h), picks the active
 * profile, resolves the region, the CA bundle, the retry configuration and a
 * Bedrock API key (AWS_BEARER_TOKEN_BEDROCK), and offers the profile to the
 * endpoint and retry resolvers through a `struct endpoint_lookup`.
 *
 * Precedence (each value reports where it came from, for `brock doctor`):
 *   profile   --profile, AWS_PROFILE, "default"
 *   region    --region, AWS_REGION, AWS_DEFAULT_REGION, profile region, us-west-2
 *   CA bundle AWS_CA_BUNDLE, profile ca_bundle
 *   retries   AWS_RETRY_MODE / AWS_MAX_ATTEMPTS, profile retry_mode / max_attempts
 *
 * A profile named explicitly (flag or AWS_PROFILE) that exists in neither
 * file is an error, as in the AWS CLI; "default" may be absent.
 *
 * Ownership: everything is owned by the struct; aws_settings_cleanup() frees
 * it (wiping the API key and the profile files' secrets). Read-only after
 * load, so threads may share it. */
#ifndef BROCK_AWS_SETTINGS_H
#define BROCK_AWS_SETTINGS_H

#include <stdbool.h>

#include "../util/err.h"
#include "endpoint.h"
#include "profile.h"
#include "retry.h"

struct aws_settings {
    struct aws_profile_set *profiles;
    const struct aws_profile_section *profile; /* NULL if the profile has no section */
    const char *profile_name;
    char profile_source[32];     /* "--profile", "AWS_PROFILE", "default" */
    bool profile_explicit;       /* chosen by --profile (skips env keys in the chain) */
    char *config_path;           /* resolved file locations (may be NULL) */
    char *credentials_path;
    struct endpoint_region region;
    struct endpoint_lookup lookup; /* environment + this profile, for endpoint/retry */
    struct retry_config retry;
    char *ca_bundle;             /* NULL = the system store */
    char ca_bundle_source[32];
    char *bearer_token;          /* AWS_BEARER_TOKEN_BEDROCK; secret */
};

enum brock_status aws_settings_load(struct aws_settings *s, const char *explicit_profile,
                                    const char *explicit_region, struct brock_err *e) BROCK_WUR;
void aws_settings_cleanup(struct aws_settings *s);

/* Property of the active profile, or NULL. */
const char *aws_settings_value(const struct aws_settings *s, const char *key);

#endif
