/* creds_profile.c - credentials a profile describes: static keys, role
 * chains (source_profile / credential_source -> STS AssumeRole), web
 * identity, IAM Identity Center (creds_sso.c), credential_process; and the
 * environment web identity provider.
 *
 * A role chain is walked the way smithy-rs and botocore walk it: from the
 * chosen profile through source_profile links until a profile that gives
 * base credentials (after the first profile, static keys win over a
 * role_arn; a profile may name itself only if it has static keys), then the
 * roles are assumed from the innermost out, each signed with the credentials
 * of the step before. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "creds_impl.h"
#include "sts.h"

struct profile_impl {
    struct creds_ctx x;
    char *name; /* NULL = the active profile */
    enum creds_profile_part part;
    /* made on first use for credential_source (IMDS keeps static-stability state) */
    struct creds_provider *env, *imds, *container;
};

static const char *pval(const struct aws_profile_section *s, const char *key)
{
    const char *v = aws_profile_value(s, key);
    return v && *v ? v : NULL;
}

/* "profile 'NAME' (PATH:LINE)" for the property `key`, or "profile 'NAME'". */
static const char *where(const struct aws_profile_section *s, const char *key, char *out, size_t n)
{
    const struct aws_profile_prop *p = key ? aws_profile_prop(s, key) : NULL;
    char loc[600];
    if (p)
        snprintf(out, n, "profile '%s' (%s)", aws_profile_section_name(s), creds_where(p, loc, sizeof loc));
    else
        snprintf(out, n, "profile '%s'", aws_profile_section_name(s));
    return out;
}

static bool has_static(const struct aws_profile_section *s)
{
    return pval(s, "aws_access_key_id") && pval(s, "aws_secret_access_key");
}

/* One key of the pair without the other. */
static enum brock_status check_partial_keys(const struct aws_profile_section *s, struct brock_err *e)
{
    bool a = pval(s, "aws_access_key_id"), k = pval(s, "aws_secret_access_key");
    if (a == k)
        return BROCK_OK;
    char w[700];
    return err_set(e, BROCK_ERR_CONFIG, "%s: %s is set but %s is not", where(s, a ? "aws_access_key_id" : "aws_secret_access_key", w, sizeof w),
                   a ? "aws_access_key_id" : "aws_secret_access_key", a ? "aws_secret_access_key" : "aws_access_key_id");
}

static enum brock_status static_creds(const struct aws_profile_section *s, struct aws_credentials **out,
                                      struct brock_err *e)
{
    const char *akid = pval(s, "aws_access_key_id"), *secret = pval(s, "aws_secret_access_key");
    const char *token = pval(s, "aws_session_token");
    if (!token)
        token = pval(s, "aws_security_token");
    char w[700];
    where(s, "aws_access_key_id", w, sizeof w);
    enum brock_status st = creds_check_strings(akid, secret, token, w, e);
    if (st != BROCK_OK)
        return st;
    const struct aws_profile_prop *p = aws_profile_prop(s, "aws_access_key_id");
    char prov[64];
    creds_provider_name(prov, sizeof prov,
                        p->file == AWS_PROFILE_FILE_CREDENTIALS ? "shared credentials file" : "config file",
                        aws_profile_section_name(s));
    *out = creds_make(akid, secret, token, 0, pval(s, "aws_account_id"), prov);
    return BROCK_OK;
}

/* ---- web identity ---------------------------------------------------------- */

enum brock_status creds_web_identity_fetch(const struct creds_ctx *x, const char *token_file, const char *role_arn,
                                           const char *session, const char *where_s, const char *provider,
                                           struct aws_credentials **out, struct brock_err *e)
{
    struct brock_err local;
    if (!e)
        e = &local;
    *out = NULL;
    struct buf tok = BUF_INIT(CREDS_WEB_TOKEN_MAX + 64);
    enum brock_status st = fs_read_file(token_file, tok.max, &tok, e);
    if (st != BROCK_OK) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        buf_free_secure(&tok);
        return err_set(e, st == BROCK_ERR_TOO_LARGE ? st : BROCK_ERR_CREDENTIALS,
                       "%s: cannot read the web identity token: %s", where_s, why);
    }
    while (tok.len && (tok.ptr[tok.len - 1] == '\n' || tok.ptr[tok.len - 1] == '\r' || tok.ptr[tok.len - 1] == ' ' ||
                       tok.ptr[tok.len - 1] == '\t'))
        tok.ptr[--tok.len] = '\0';
    if (tok.len < CREDS_WEB_TOKEN_MIN || tok.len > CREDS_WEB_TOKEN_MAX || memchr(tok.ptr, '\0', tok.len)) {
        char shown[512];
        st = err_set(e, BROCK_ERR_CREDENTIALS, "%s: the web identity token in %s must be %d-%d bytes of text, not %zu",
                     where_s, creds_show_path(token_file, shown, sizeof shown), CREDS_WEB_TOKEN_MIN,
                     CREDS_WEB_TOKEN_MAX, tok.len);
        buf_free_secure(&tok);
        return st;
    }
    char defname[40];
    if (!session) {
        snprintf(defname, sizeof defname, "brock-session-%lld", (long long)(creds_now_ms(x) / 1000));
        session = defname;
    }
    struct aws_client *c = creds_client_new(x, NULL, (struct aws_creds_source){0});
    struct sts_web_identity p = {
        .role_arn = role_arn,
        .session_name = session,
        .token = tok.ptr,
        .provider = provider,
    };
    st = sts_assume_role_with_web_identity(c, &p, out, e);
    if (st != BROCK_OK)
        err_prefix(e, "%s", where_s);
    aws_client_free(c);
    buf_free_secure(&tok);
    return st;
}

struct webid_impl {
    struct creds_ctx x;
};

static enum brock_status webid_get(struct creds_provider *p, struct aws_credentials **out, bool *absent,
                                   struct brock_err *e)
{
    struct webid_impl *m = p->impl;
    const char *file = creds_getenv(&m->x, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = creds_getenv(&m->x, "AWS_ROLE_ARN");
    if (!file)
        return creds_absent(absent, e, "%s", ""); /* counted under "environment variables" */
    if (!role)
        return err_set(e, BROCK_ERR_CONFIG, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set both");
    const char *session = creds_getenv(&m->x, "AWS_ROLE_SESSION_NAME");
    if (session && !creds_valid_session_name(session))
        return err_set(e, BROCK_ERR_CONFIG,
                       "AWS_ROLE_SESSION_NAME must be 2-64 of the characters A-Z a-z 0-9 _ + = , . @ -");
    return creds_web_identity_fetch(&m->x, file, role, session, "AWS_WEB_IDENTITY_TOKEN_FILE", "web identity", out,
                                    e);
}

static void webid_destroy(struct creds_provider *p)
{
    struct webid_impl *m = p->impl;
    creds_ctx_cleanup(&m->x);
    free(m);
    free(p);
}

static const struct creds_provider_vtable webid_vt = {"web identity", webid_get, webid_destroy};

struct creds_provider *creds_provider_web_identity(const struct creds_config *c)
{
    struct webid_impl *m = xcalloc(1, sizeof *m);
    creds_ctx_init(&m->x, c);
    return creds_provider_new(&webid_vt, m);
}

/* ---- base credentials of one profile ------------------------------------- */

static enum brock_status from_credential_source(struct profile_impl *m, const struct aws_profile_section *s,
                                                const char *cs, struct aws_credentials **out, struct brock_err *e)
{
    char w[700];
    where(s, "credential_source", w, sizeof w);
    struct creds_config cfg;
    creds_ctx_config(&m->x, &cfg);
    struct creds_provider **slot;
    if (!strcmp(cs, "Environment"))
        slot = &m->env;
    else if (!strcmp(cs, "Ec2InstanceMetadata"))
        slot = &m->imds;
    else if (!strcmp(cs, "EcsContainer"))
        slot = &m->container;
    else
        return err_set(e, BROCK_ERR_CONFIG,
                       "%s: credential_source must be Environment, Ec2InstanceMetadata or EcsContainer", w);
    if (!*slot)
        *slot = slot == &m->env    ? creds_provider_env(&cfg)
                : slot == &m->imds ? creds_provider_imds(&cfg)
                                   : creds_provider_container(&cfg);
    enum brock_status st = creds_provider_get(*slot, out, e);
    if (st == BROCK_ERR_NOT_FOUND) {
        char note[sizeof e->msg];
        snprintf(note, sizeof note, "%s", e->msg);
        return err_set(e, BROCK_ERR_CREDENTIALS, "%s: credential_source = %s, but nothing was found there: %s", w,
                       cs, note);
    }
    if (st != BROCK_OK)
        err_prefix(e, "%s: credential_source = %s", w, cs);
    return st;
}

static enum brock_status base_creds(struct profile_impl *m, const struct aws_profile_section *s,
                                    enum aws_profile_creds kind, struct aws_credentials **out, struct brock_err *e)
{
    const char *name = aws_profile_section_name(s);
    char w[700], prov[64];
    switch (kind) {
    case AWS_PROFILE_CREDS_SESSION:
    case AWS_PROFILE_CREDS_BASIC:
        return static_creds(s, out, e);
    case AWS_PROFILE_CREDS_WEB_IDENTITY: {
        const char *session = pval(s, "role_session_name");
        if (session && !creds_valid_session_name(session))
            return err_set(e, BROCK_ERR_CONFIG,
                           "%s: role_session_name must be 2-64 of the characters A-Z a-z 0-9 _ + = , . @ -",
                           where(s, "role_session_name", w, sizeof w));
        creds_provider_name(prov, sizeof prov, "web identity", name);
        return creds_web_identity_fetch(&m->x, pval(s, "web_identity_token_file"), pval(s, "role_arn"), session,
                                        where(s, "web_identity_token_file", w, sizeof w), prov, out, e);
    }
    case AWS_PROFILE_CREDS_SSO:
        return creds_sso_fetch(&m->x, s, out, e);
    case AWS_PROFILE_CREDS_LOGIN:
        return err_set(e, BROCK_ERR_CREDENTIALS,
                       "%s: login_session (`aws login`) is not supported by brock yet; use `credential_process = "
                       "aws configure export-credentials --profile %s --format process` in another profile",
                       where(s, "login_session", w, sizeof w), name);
    case AWS_PROFILE_CREDS_PROCESS:
        creds_provider_name(prov, sizeof prov, "credential_process", name);
        return creds_process_run(&m->x, pval(s, "credential_process"), where(s, "credential_process", w, sizeof w),
                                 prov, out, e);
    case AWS_PROFILE_CREDS_ASSUME_ROLE:
    case AWS_PROFILE_CREDS_NONE:
        break;
    }
    return err_set(e, BROCK_ERR_INTERNAL, "profile '%s': no base credentials of kind %s", name,
                   aws_profile_creds_name(kind));
}

/* ---- one AssumeRole hop ------------------------------------------------------- */

static enum brock_status assume(struct profile_impl *m, const struct aws_profile_section *s,
                                struct aws_credentials *source, struct aws_credentials **out, struct brock_err *e)
{
    const char *name = aws_profile_section_name(s);
    char w[700];
    const char *session = pval(s, "role_session_name");
    if (session && !creds_valid_session_name(session))
        return err_set(e, BROCK_ERR_CONFIG,
                       "%s: role_session_name must be 2-64 of the characters A-Z a-z 0-9 _ + = , . @ -",
                       where(s, "role_session_name", w, sizeof w));
    char defname[40];
    if (!session) {
        snprintf(defname, sizeof defname, "brock-session-%lld", (long long)(creds_now_ms(&m->x) / 1000));
        session = defname;
    }
    int duration = 0;
    const char *ds = pval(s, "duration_seconds");
    if (ds) {
        char *end;
        errno = 0;
        long v = strtol(ds, &end, 10);
        if (errno || *end || end == ds || v < STS_DURATION_MIN || v > STS_DURATION_MAX)
            return err_set(e, BROCK_ERR_CONFIG, "%s: duration_seconds must be a whole number from %d to %d",
                           where(s, "duration_seconds", w, sizeof w), STS_DURATION_MIN, STS_DURATION_MAX);
        duration = (int)v;
    }
    const char *external_id = pval(s, "external_id");
    const char *mfa_serial = pval(s, "mfa_serial");
    char code[7] = "";
    enum brock_status st;
    if (mfa_serial) {
        if (!m->x.mfa)
            return err_set(e, BROCK_ERR_CREDENTIALS,
                           "%s: the role needs an MFA code (mfa_serial = %.256s) and brock cannot ask for one "
                           "here; use a credential_process that prompts, or a profile without mfa_serial",
                           where(s, "mfa_serial", w, sizeof w), mfa_serial);
        st = m->x.mfa(m->x.mfa_ctx, mfa_serial, code, e);
        if (st != BROCK_OK)
            return err_prefix(e, "%s: MFA code", where(s, "mfa_serial", w, sizeof w));
    }
    char prov[64];
    creds_provider_name(prov, sizeof prov, "assume role", name);
    struct sts_assume_role p = {
        .role_arn = pval(s, "role_arn"),
        .session_name = session,
        .duration_s = duration,
        .external_id = external_id,
        .mfa_serial = mfa_serial,
        .token_code = mfa_serial ? code : NULL,
        .provider = prov,
    };
    struct aws_client *c = creds_client_new(&m->x, NULL, aws_creds_source_static(source));
    st = sts_assume_role(c, &p, out, e);
    aws_client_free(c);
    secure_wipe(code, sizeof code);
    if (st != BROCK_OK)
        err_prefix(e, "%s", where(s, "role_arn", w, sizeof w));
    return st;
}

/* ---- the walk ------------------------------------------------------------------------ */

static enum brock_status loop_error(const char *const *visited, size_t nv, const char *again,
                                    const struct aws_profile_section *s, struct brock_err *e)
{
    struct buf chain = BUF_INIT(sizeof e->msg);
    buf_addstr(&chain, "profile ");
    for (size_t i = 0; i < nv; i++)
        buf_addf(&chain, "%s -> ", visited[i]);
    buf_addstr(&chain, again);
    char w[700];
    enum brock_status st = err_set(e, BROCK_ERR_CONFIG, "%s: source_profile makes a loop: %s%s",
                                   where(s, "source_profile", w, sizeof w), buf_cstr(&chain),
                                   nv == 1 ? " (a profile may name itself only when it has its own keys)" : "");
    buf_free(&chain);
    return st;
}

static enum brock_status resolve(struct profile_impl *m, const char *name, struct aws_credentials **out,
                                 struct brock_err *e)
{
    const struct aws_profile_section *hops[CREDS_ROLE_CHAIN_MAX];
    const char *visited[CREDS_ROLE_CHAIN_MAX];
    size_t nh = 0, nv = 0;
    const char *cur = name;
    const struct aws_profile_section *prev = NULL;
    struct aws_credentials *base = NULL;
    enum brock_status st;
    char w[700];
    for (;;) {
        const struct aws_profile_section *s = aws_profile_get(m->x.profiles, cur);
        if (!s) {
            if (!prev)
                return err_set(e, BROCK_ERR_CONFIG, "the profile '%s' does not exist", cur);
            return err_set(e, BROCK_ERR_CONFIG, "%s: source_profile '%s' does not exist",
                           where(prev, "source_profile", w, sizeof w), cur);
        }
        for (size_t i = 0; i < nv; i++)
            if (!strcmp(visited[i], cur))
                return loop_error(visited, nv, cur, prev, e);
        if (nv == CREDS_ROLE_CHAIN_MAX)
            return err_set(e, BROCK_ERR_CONFIG, "profile '%s': the source_profile chain is longer than %d profiles",
                           name, CREDS_ROLE_CHAIN_MAX);
        visited[nv++] = aws_profile_section_name(s);
        if (nv > 1 && has_static(s)) {
            st = static_creds(s, &base, e);
            break;
        }
        enum aws_profile_creds kind = aws_profile_creds_kind(s);
        if (kind == AWS_PROFILE_CREDS_ASSUME_ROLE) {
            const char *src = pval(s, "source_profile"), *cs = pval(s, "credential_source");
            if (src && cs)
                return err_set(e, BROCK_ERR_CONFIG, "%s: source_profile and credential_source cannot both be set",
                               where(s, "credential_source", w, sizeof w));
            if (!src && !cs)
                return err_set(e, BROCK_ERR_CONFIG, "%s: role_arn needs source_profile or credential_source",
                               where(s, "role_arn", w, sizeof w));
            hops[nh++] = s;
            if (cs) {
                st = from_credential_source(m, s, cs, &base, e);
                break;
            }
            if (!strcmp(src, cur)) {
                if (!has_static(s))
                    return loop_error(visited, nv, cur, s, e);
                st = static_creds(s, &base, e);
                break;
            }
            prev = s;
            cur = src;
            continue;
        }
        if (kind == AWS_PROFILE_CREDS_NONE) {
            st = check_partial_keys(s, e);
            if (st != BROCK_OK)
                return st;
            return err_set(e, BROCK_ERR_CONFIG,
                           "%s: source profile '%s' has no credentials (no keys, role, SSO or credential_process)",
                           where(prev, "source_profile", w, sizeof w), cur);
        }
        st = base_creds(m, s, kind, &base, e);
        if (st != BROCK_OK && prev)
            err_prefix(e, "%s: source profile '%s'", where(prev, "source_profile", w, sizeof w), cur);
        break;
    }
    if (st != BROCK_OK)
        return st;
    for (size_t i = nh; i-- > 0;) {
        struct aws_credentials *next = NULL;
        log_debug("assuming role of profile '%s' with credentials from %s", aws_profile_section_name(hops[i]),
                  base->provider);
        st = assume(m, hops[i], base, &next, e);
        aws_credentials_release(base);
        base = next;
        if (st != BROCK_OK)
            return st;
    }
    *out = base;
    return BROCK_OK;
}

/* ---- the provider ------------------------------------------------------------------------ */

static enum brock_status profile_get(struct creds_provider *p, struct aws_credentials **out, bool *absent,
                                     struct brock_err *e)
{
    struct profile_impl *m = p->impl;
    const char *name = m->name ? m->name : m->x.profile_name;
    const struct aws_profile_section *s = aws_profile_get(m->x.profiles, name);
    char cp[512], kp[512];
    if (!s) {
        if (m->part == CREDS_PART_ROLE)
            return creds_absent(absent, e, "%s", "");
        if (m->name || m->x.profile_explicit)
            return err_set(e, BROCK_ERR_CONFIG, "the profile '%s' does not exist in %s or %s", name,
                           creds_show_path(m->x.config_path, cp, sizeof cp),
                           creds_show_path(m->x.credentials_path, kp, sizeof kp));
        return creds_absent(absent, e, "profile '%s' (not in %s or %s)", name,
                            creds_show_path(m->x.credentials_path, kp, sizeof kp),
                            creds_show_path(m->x.config_path, cp, sizeof cp));
    }
    enum aws_profile_creds kind = aws_profile_creds_kind(s);
    bool role = kind == AWS_PROFILE_CREDS_ASSUME_ROLE;
    if ((m->part == CREDS_PART_ROLE && !role) || (m->part == CREDS_PART_REST && role))
        return creds_absent(absent, e, "%s", "");
    if (kind == AWS_PROFILE_CREDS_NONE) {
        enum brock_status st = check_partial_keys(s, e);
        if (st != BROCK_OK)
            return st;
        return creds_absent(absent, e, "profile '%s' in %s and %s (no keys, no role, no SSO, no credential_process)",
                            name, creds_show_path(m->x.credentials_path, kp, sizeof kp),
                            creds_show_path(m->x.config_path, cp, sizeof cp));
    }
    return resolve(m, name, out, e);
}

static void profile_destroy(struct creds_provider *p)
{
    struct profile_impl *m = p->impl;
    creds_provider_free(m->env);
    creds_provider_free(m->imds);
    creds_provider_free(m->container);
    creds_ctx_cleanup(&m->x);
    free(m->name);
    free(m);
    free(p);
}

static const struct creds_provider_vtable profile_vt = {"profile", profile_get, profile_destroy};

struct creds_provider *creds_provider_profile_part(const struct creds_config *c, const char *name,
                                                   enum creds_profile_part part)
{
    struct profile_impl *m = xcalloc(1, sizeof *m);
    creds_ctx_init(&m->x, c);
    m->name = name ? xstrdup(name) : NULL;
    m->part = part;
    return creds_provider_new(&profile_vt, m);
}

struct creds_provider *creds_provider_profile(const struct creds_config *c, const char *name)
{
    return creds_provider_profile_part(c, name, CREDS_PART_ALL);
}
