/* creds_sso.c - a profile's IAM Identity Center settings -> the cached
 * token (refreshed when it is close to expiry and can be) -> role
 * credentials. botocore's SSOProvider / SSOTokenProvider behaviour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "creds_impl.h"
#include "sso.h"

static const char *pval(const struct aws_profile_section *s, const char *key)
{
    const char *v = aws_profile_value(s, key);
    return v && *v ? v : NULL;
}

static const char *where(const struct aws_profile_section *s, const char *key, char *out, size_t n)
{
    const struct aws_profile_prop *p = key ? aws_profile_prop(s, key) : NULL;
    char loc[600];
    const char *kind = aws_profile_section_kind(s) == AWS_PROFILE_KIND_SSO_SESSION ? "sso-session" : "profile";
    if (p)
        snprintf(out, n, "%s '%s' (%s)", kind, aws_profile_section_name(s), creds_where(p, loc, sizeof loc));
    else
        snprintf(out, n, "%s '%s'", kind, aws_profile_section_name(s));
    return out;
}

/* "run `aws sso login --profile dev`" (+ the sso-session form). */
static const char *login_hint(const char *profile, const char *session, char *out, size_t n)
{
    if (session)
        snprintf(out, n, "run `aws sso login --profile %s` (or `aws sso login --sso-session %s`)", profile, session);
    else
        snprintf(out, n, "run `aws sso login --profile %s`", profile);
    return out;
}

enum brock_status creds_sso_fetch(const struct creds_ctx *x, const struct aws_profile_section *prof,
                                  struct aws_credentials **out, struct brock_err *e)
{
    struct brock_err local;
    if (!e)
        e = &local;
    *out = NULL;
    const char *name = aws_profile_section_name(prof);
    const char *session = pval(prof, "sso_session");
    const char *start_url = pval(prof, "sso_start_url"), *region = pval(prof, "sso_region");
    const char *account = pval(prof, "sso_account_id"), *role = pval(prof, "sso_role_name");
    char w[700], w2[700], hint[300];
    const struct aws_profile_section *sess = NULL;
    if (session) {
        sess = aws_profile_sso_session(x->profiles, session);
        if (!sess)
            return err_set(e, BROCK_ERR_CONFIG, "%s: sso_session '%s' has no [sso-session %s] section",
                           where(prof, "sso_session", w, sizeof w), session, session);
        const char *s_url = pval(sess, "sso_start_url"), *s_region = pval(sess, "sso_region");
        if (start_url && s_url && strcmp(start_url, s_url) != 0)
            return err_set(e, BROCK_ERR_CONFIG, "%s: sso_start_url differs from the one in %s",
                           where(prof, "sso_start_url", w, sizeof w), where(sess, "sso_start_url", w2, sizeof w2));
        if (region && s_region && strcmp(region, s_region) != 0)
            return err_set(e, BROCK_ERR_CONFIG, "%s: sso_region differs from the one in %s",
                           where(prof, "sso_region", w, sizeof w), where(sess, "sso_region", w2, sizeof w2));
        start_url = s_url ? s_url : start_url;
        region = s_region ? s_region : region;
    }
    char missing[200] = "";
    const char *names[] = {"sso_start_url", "sso_region", "sso_account_id", "sso_role_name"};
    const char *vals[] = {start_url, region, account, role};
    for (int i = 0; i < 4; i++) {
        if (!vals[i]) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "", names[i]);
        }
    }
    if (missing[0])
        return err_set(e, BROCK_ERR_CONFIG, "%s: IAM Identity Center settings incomplete: missing %s%s",
                       where(prof, session ? "sso_session" : NULL, w, sizeof w), missing,
                       session ? " (in the profile or its sso-session)" : "");
    if (!endpoint_region_valid(region))
        return err_set(e, BROCK_ERR_CONFIG, "%s: sso_region is not a valid region name",
                       where(sess && pval(sess, "sso_region") ? sess : prof, "sso_region", w, sizeof w));
    login_hint(name, session, hint, sizeof hint);

    /* The cached token. */
    char *dir = x->sso_cache_dir ? xstrdup(x->sso_cache_dir) : fs_expand_home("~/.aws/sso/cache");
    char *path = sso_cache_path(dir, session ? session : start_url);
    free(dir);
    char shown[512];
    creds_show_path(path, shown, sizeof shown);
    struct sso_token t;
    enum brock_status st = sso_token_load(path, &t, e);
    if (st == BROCK_ERR_NOT_FOUND) {
        st = err_set(e, BROCK_ERR_CREDENTIALS, "profile '%s': not signed in to IAM Identity Center (no token in %s); %s",
                     name, shown, hint);
        goto done;
    }
    if (st != BROCK_OK) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        st = err_set(e, BROCK_ERR_CREDENTIALS, "profile '%s': unusable IAM Identity Center token cache: %s; %s", name,
                     why, hint);
        goto done;
    }

    int64_t now = creds_now_ms(x);
    if (t.expires_at_ms - now < SSO_REFRESH_WINDOW_MS) {
        bool expired = t.expires_at_ms <= now;
        char when[21];
        time_fmt_iso8601(t.expires_at_ms / 1000, when);
        if (sso_token_refreshable(&t, now)) {
            struct aws_client *c = creds_client_new(x, region, (struct aws_creds_source){0});
            struct brock_err re = {0};
            st = sso_oidc_refresh(c, &t, now, &re);
            aws_client_free(c);
            if (st == BROCK_OK) {
                if (!t.start_url)
                    t.start_url = xstrdup(start_url);
                if (!t.region)
                    t.region = xstrdup(region);
                struct brock_err we = {0};
                if (sso_token_save(path, &t, &we) != BROCK_OK)
                    log_warn("IAM Identity Center token refreshed but not saved: %s", we.msg);
                else
                    log_info("IAM Identity Center token refreshed and saved to %s", shown);
            } else if (expired) {
                st = err_set(e, BROCK_ERR_CREDENTIALS,
                             "profile '%s': the IAM Identity Center token expired at %s and could not be refreshed "
                             "(%s); %s",
                             name, when, re.msg, hint);
                goto done;
            } else {
                log_warn("%s; using the current token, which expires at %s", re.msg, when);
                st = BROCK_OK;
            }
        } else if (expired) {
            st = err_set(e, BROCK_ERR_CREDENTIALS, "profile '%s': the IAM Identity Center token expired at %s; %s",
                         name, when, hint);
            goto done;
        }
    }

    char prov[64];
    creds_provider_name(prov, sizeof prov, "IAM Identity Center", name);
    struct aws_client *c = creds_client_new(x, region, (struct aws_creds_source){0});
    st = sso_get_role_credentials(c, t.access_token, account, role, prov, out, e);
    aws_client_free(c);
    if (st != BROCK_OK) {
        if ((e->http_status == 401 || !strcmp(e->aws_code, "UnauthorizedException"))) {
            char why[sizeof e->msg];
            snprintf(why, sizeof why, "%s", e->msg);
            st = err_set(e, BROCK_ERR_CREDENTIALS,
                         "profile '%s': IAM Identity Center refused the cached token (%s); %s", name, why, hint);
        } else {
            err_prefix(e, "profile '%s': IAM Identity Center GetRoleCredentials (account %s, role %s)", name, account,
                       role);
        }
    }
done:
    sso_token_cleanup(&t);
    free(path);
    return st;
}
