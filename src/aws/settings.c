#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"

static const char *lk_profile_get(void *ctx, const char *key)
{
    const struct aws_settings *s = ctx;
    return aws_profile_value(s->profile, key);
}

static const char *lk_services_get(void *ctx, const char *section, const char *service_key,
                                   const char *prop, bool *section_exists)
{
    const struct aws_settings *s = ctx;
    const struct aws_profile_section *sec = aws_profile_services(s->profiles, section);
    if (section_exists)
        *section_exists = sec != NULL;
    return sec ? aws_profile_sub_value(sec, service_key, prop) : NULL;
}

const char *aws_settings_value(const struct aws_settings *s, const char *key)
{
    return aws_profile_value(s->profile, key);
}

enum brock_status aws_settings_load(struct aws_settings *s, const char *explicit_profile,
                                    const char *explicit_region, struct brock_err *e)
{
    memset(s, 0, sizeof *s);
    enum brock_status st = aws_profile_set_load(NULL, &s->profiles, e);
    if (st != BROCK_OK)
        return st;
    s->config_path = aws_profile_config_path(NULL);
    s->credentials_path = aws_profile_credentials_path(NULL);

    const char *envp = getenv("AWS_PROFILE");
    s->profile_name = aws_profile_active_name(explicit_profile, NULL);
    if (explicit_profile && *explicit_profile) {
        snprintf(s->profile_source, sizeof s->profile_source, "--profile");
        s->profile_explicit = true;
    } else if (envp && *envp) {
        snprintf(s->profile_source, sizeof s->profile_source, "AWS_PROFILE");
    } else {
        snprintf(s->profile_source, sizeof s->profile_source, "default");
    }
    s->profile = aws_profile_get(s->profiles, s->profile_name);
    if (!s->profile && strcmp(s->profile_source, "default") != 0) {
        st = err_set(e, BROCK_ERR_CONFIG,
                     "the config profile '%s' (from %s) could not be found in %s or %s",
                     s->profile_name, s->profile_source, s->config_path ? s->config_path : "~/.aws/config",
                     s->credentials_path ? s->credentials_path : "~/.aws/credentials");
        goto fail;
    }

    s->lookup = (struct endpoint_lookup){
        .getenv = NULL,
        .profile_get = lk_profile_get,
        .services_get = lk_services_get,
        .profile_ctx = s,
        .profile_name = s->profile_name,
    };

    st = endpoint_region_resolve(explicit_region, "--region", &s->lookup, &s->region, e);
    if (st != BROCK_OK)
        goto fail;

    retry_config_init(&s->retry);
    st = retry_config_resolve(&s->retry, NULL, 0, &s->lookup, e);
    if (st != BROCK_OK)
        goto fail;

    const char *ca = getenv("AWS_CA_BUNDLE");
    if (ca && *ca) {
        s->ca_bundle = xstrdup(ca);
        snprintf(s->ca_bundle_source, sizeof s->ca_bundle_source, "AWS_CA_BUNDLE");
    } else if ((ca = aws_profile_value(s->profile, "ca_bundle")) && *ca) {
        s->ca_bundle = xstrdup(ca);
        snprintf(s->ca_bundle_source, sizeof s->ca_bundle_source, "profile %.20s", s->profile_name);
    }

    const char *tok = getenv("AWS_BEARER_TOKEN_BEDROCK");
    if (tok && *tok)
        s->bearer_token = xstrdup(tok);
    return BROCK_OK;
fail:
    aws_settings_cleanup(s);
    return st;
}

void aws_settings_cleanup(struct aws_settings *s)
{
    aws_profile_set_free(s->profiles);
    free(s->config_path);
    free(s->credentials_path);
    free(s->ca_bundle);
    xfree_secret(s->bearer_token);
    memset(s, 0, sizeof *s);
}
