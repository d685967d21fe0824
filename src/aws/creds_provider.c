/* creds_provider.c - the provider interface, the shared helpers, the
 * environment provider, the chain and the default chain, and the JSON
 * credentials reader used by credential_process, container and IMDS. */
#include "creds_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "../util/log.h"
#include "settings.h"
#include "sigv4.h"

/* ---- context ------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void creds_ctx_init(struct creds_ctx *x, const struct creds_config *c)
{
    memset(x, 0, sizeof *x);
    x->profiles = c->profiles;
    x->profile_name = xstrdup(c->profile_name && *c->profile_name ? c->profile_name : "default");
    x->profile_explicit = c->profile_explicit;
    x->config_path = xstrdup(c->config_path ? c->config_path : "~/.aws/config");
    x->credentials_path = xstrdup(c->credentials_path ? c->credentials_path : "~/.aws/credentials");
    x->lookup = c->lookup;
    x->region = xstrdup(c->region && *c->region ? c->region : ENDPOINT_DEFAULT_REGION);
    x->sso_cache_dir = dup_or_null(c->sso_cache_dir);
    x->http = c->http;
    x->ca_bundle = dup_or_null(c->http.ca_bundle);
    x->ua_extra = dup_or_null(c->http.user_agent_extra);
    x->http.ca_bundle = x->ca_bundle;
    x->http.user_agent_extra = x->ua_extra;
    x->retry = c->retry;
    x->clock = c->clock;
    x->mfa = c->mfa;
    x->mfa_ctx = c->mfa_ctx;
    x->process_timeout_ms = c->process_timeout_ms > 0 ? c->process_timeout_ms : CREDS_PROCESS_TIMEOUT_MS;
    x->container_host = xstrdup(c->container_host ? c->container_host : CREDS_CONTAINER_HOST);
    x->random = c->random;
    x->random_ctx = c->random_ctx;
}

void creds_ctx_cleanup(struct creds_ctx *x)
{
    free(x->profile_name);
    free(x->config_path);
    free(x->credentials_path);
    free(x->region);
    free(x->sso_cache_dir);
    free(x->ca_bundle);
    free(x->ua_extra);
    free(x->container_host);
    memset(x, 0, sizeof *x);
}

void creds_ctx_config(const struct creds_ctx *x, struct creds_config *c)
{
    *c = (struct creds_config){
        .profiles = x->profiles,
        .profile_name = x->profile_name,
        .profile_explicit = x->profile_explicit,
        .config_path = x->config_path,
        .credentials_path = x->credentials_path,
        .lookup = x->lookup,
        .region = x->region,
        .sso_cache_dir = x->sso_cache_dir,
        .http = x->http,
        .retry = x->retry,
        .clock = x->clock,
        .mfa = x->mfa,
        .mfa_ctx = x->mfa_ctx,
        .process_timeout_ms = x->process_timeout_ms,
        .container_host = x->container_host,
        .random = x->random,
        .random_ctx = x->random_ctx,
    };
}

void creds_config_from_settings(struct creds_config *c, const struct aws_settings *s)
{
    memset(c, 0, sizeof *c);
    c->profiles = s->profiles;
    c->profile_name = s->profile_name;
    c->profile_explicit = s->profile_explicit;
    c->config_path = s->config_path;
    c->credentials_path = s->credentials_path;
    c->lookup = &s->lookup;
    c->region = s->region.region[0] ? s->region.region : NULL;
    c->http.ca_bundle = s->ca_bundle;
}

const char *creds_getenv(const struct creds_ctx *x, const char *name)
{
    const char *v;
    if (x->lookup && x->lookup->getenv)
        v = x->lookup->getenv(x->lookup->env_ctx, name);
    else
        v = getenv(name);
    return v && *v ? v : NULL;
}

const struct aws_profile_section *creds_active_profile(const struct creds_ctx *x)
{
    return aws_profile_get(x->profiles, x->profile_name);
}

/* ---- small helpers ------------------------------------------------------- */

struct creds_provider *creds_provider_new(const struct creds_provider_vtable *vt, void *impl)
{
    struct creds_provider *p = xcalloc(1, sizeof *p);
    p->vt = vt;
    p->impl = impl;
    return p;
}

enum brock_status creds_absent(bool *absent, struct brock_err *e, const char *fmt, ...)
{
    *absent = true;
    va_list ap;
    va_start(ap, fmt);
    enum brock_status st = err_setv(e, BROCK_ERR_NOT_FOUND, fmt, ap);
    va_end(ap);
    return st;
}

const char *creds_show_path(const char *path, char *out, size_t n)
{
    const char *home = fs_home_dir();
    size_t hl = home ? strlen(home) : 0;
    while (hl > 1 && home[hl - 1] == '/')
        hl--;
    if (hl > 1 && !strncmp(path, home, hl) && path[hl] == '/')
        snprintf(out, n, "~%s", path + hl);
    else
        snprintf(out, n, "%s", path);
    return out;
}

const char *creds_where(const struct aws_profile_prop *p, char *out, size_t n)
{
    char shown[512];
    snprintf(out, n, "%s:%u", creds_show_path(p->path ? p->path : "config", shown, sizeof shown), p->line);
    return out;
}

bool creds_header_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static bool printable_token(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

enum brock_status creds_check_strings(const char *akid, const char *secret, const char *token, const char *what,
                                      struct brock_err *e)
{
    if (!akid || !*akid)
        return err_set(e, BROCK_ERR_CREDENTIALS, "%s: the access key id is empty", what);
    if (strlen(akid) > SIGV4_MAX_AKID || !printable_token(akid))
        return err_set(e, BROCK_ERR_CREDENTIALS,
                       "%s: the access key id is not 1-%d printable characters without blanks", what,
                       SIGV4_MAX_AKID);
    if (!secret || !*secret)
        return err_set(e, BROCK_ERR_CREDENTIALS, "%s: the secret access key is empty", what);
    size_t sl = strlen(secret);
    if (sl > SIGV4_MAX_SECRET || !creds_header_safe(secret, sl))
        return err_set(e, BROCK_ERR_CREDENTIALS,
                       "%s: the secret access key is longer than %d bytes or holds control characters", what,
                       SIGV4_MAX_SECRET);
    if (token && *token) {
        if (strlen(token) > CREDS_TOKEN_MAX)
            return err_set(e, BROCK_ERR_CREDENTIALS, "%s: the session token is longer than %d bytes", what,
                           CREDS_TOKEN_MAX);
        if (!printable_token(token))
            return err_set(e, BROCK_ERR_CREDENTIALS,
                           "%s: the session token holds a blank or a character that cannot go into an HTTP header",
                           what);
    }
    return BROCK_OK;
}

struct aws_credentials *creds_make(const char *akid, const char *secret, const char *token, int64_t expiration_ms,
                                   const char *account, const char *provider)
{
    struct aws_credentials *c = aws_credentials_new(akid, secret, token, expiration_ms, provider);
    if (account && *account)
        c->account_id = xstrdup(account);
    return c;
}

void creds_provider_name(char *out, size_t n, const char *kind, const char *profile)
{
    if (profile)
        snprintf(out, n, "%s (profile %s)", kind, profile);
    else
        snprintf(out, n, "%s", kind);
}

struct aws_client *creds_client_new(const struct creds_ctx *x, const char *region, struct aws_creds_source src)
{
    struct aws_client_config cfg = {
        .region = region && *region ? region : x->region,
        .lookup = x->lookup,
        .creds = src,
        .retry = x->retry,
        .http = x->http,
        .clock = x->clock,
    };
    return aws_client_new(&cfg);
}

bool creds_valid_session_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_+=,.@-", c);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- the interface ---------------------------------------------------------- */

enum brock_status creds_provider_get(struct creds_provider *p, struct aws_credentials **out, struct brock_err *e)
{
    struct brock_err local;
    if (!e)
        e = &local;
    err_clear(e);
    *out = NULL;
    bool absent = false;
    enum brock_status st = p->vt->get(p, out, &absent, e);
    if (absent) {
        aws_credentials_release(*out);
        *out = NULL;
        e->status = BROCK_ERR_NOT_FOUND;
        return BROCK_ERR_NOT_FOUND;
    }
    if (st == BROCK_OK && !*out)
        return err_set(e, BROCK_ERR_INTERNAL, "credential provider %s returned no credentials", p->vt->kind);
    if (st != BROCK_OK) {
        aws_credentials_release(*out);
        *out = NULL;
        if (st == BROCK_ERR_NOT_FOUND) /* a missing file inside a configured provider */
            st = e->status = BROCK_ERR_CREDENTIALS;
    }
    return st;
}

void creds_provider_free(struct creds_provider *p)
{
    if (p)
        p->vt->destroy(p);
}

/* ---- environment --------------------------------------------------------- */

struct env_impl {
    struct creds_ctx x;
};

static enum brock_status env_get(struct creds_provider *p, struct aws_credentials **out, bool *absent,
                                 struct brock_err *e)
{
    struct env_impl *m = p->impl;
    const char *akid = creds_getenv(&m->x, "AWS_ACCESS_KEY_ID");
    const char *secret = creds_getenv(&m->x, "AWS_SECRET_ACCESS_KEY");
    if (!akid && !secret)
        return creds_absent(absent, e, "environment variables");
    if (!akid)
        return err_set(e, BROCK_ERR_CONFIG,
                       "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or neither");
    if (!secret)
        return err_set(e, BROCK_ERR_CONFIG,
                       "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither");
    const char *token = creds_getenv(&m->x, "AWS_SESSION_TOKEN");
    if (!token)
        token = creds_getenv(&m->x, "AWS_SECURITY_TOKEN");
    int64_t exp = 0;
    const char *xs = creds_getenv(&m->x, "AWS_CREDENTIAL_EXPIRATION");
    if (xs && !time_parse_iso8601(xs, &exp))
        return err_set(e, BROCK_ERR_CONFIG,
                       "AWS_CREDENTIAL_EXPIRATION is not an ISO-8601 time such as 2025-01-01T12:00:00Z");
    if (xs && exp == 0)
        exp = 1; /* the epoch itself: long expired, not "never" */
    const char *account = creds_getenv(&m->x, "AWS_ACCOUNT_ID");
    if (account && (strlen(account) > 32 || !printable_token(account)))
        return err_set(e, BROCK_ERR_CONFIG, "AWS_ACCOUNT_ID is not an account id (1-32 printable characters)");
    enum brock_status st = creds_check_strings(akid, secret, token, "environment variables", e);
    if (st != BROCK_OK)
        return st;
    *out = creds_make(akid, secret, token, exp, account, "environment");
    return BROCK_OK;
}

static void env_destroy(struct creds_provider *p)
{
    struct env_impl *m = p->impl;
    creds_ctx_cleanup(&m->x);
    free(m);
    free(p);
}

static const struct creds_provider_vtable env_vt = {"environment", env_get, env_destroy};

struct creds_provider *creds_provider_env(const struct creds_config *c)
{
    struct env_impl *m = xcalloc(1, sizeof *m);
    creds_ctx_init(&m->x, c);
    return creds_provider_new(&env_vt, m);
}

/* ---- chain --------------------------------------------------------------- */

struct chain_impl {
    struct creds_provider **list;
    size_t n;
    char *preamble;
};

static enum brock_status chain_get(struct creds_provider *p, struct aws_credentials **out, bool *absent,
                                   struct brock_err *e)
{
    (void)absent;
    struct chain_impl *m = p->impl;
    struct buf looked = BUF_INIT(sizeof e->msg);
    if (m->preamble)
        buf_addstr(&looked, m->preamble);
    for (size_t i = 0; i < m->n; i++) {
        enum brock_status st = creds_provider_get(m->list[i], out, e);
        if (st == BROCK_OK) {
            log_debug("AWS credentials from %s", (*out)->provider);
            buf_free(&looked);
            return BROCK_OK;
        }
        if (st != BROCK_ERR_NOT_FOUND) {
            buf_free(&looked);
            return st;
        }
        if (e->msg[0]) {
            if (looked.len)
                buf_addstr(&looked, ", ");
            buf_addstr(&looked, e->msg);
        }
    }
    enum brock_status st = err_set(e, BROCK_ERR_CREDENTIALS, "no AWS credentials found: looked in %s",
                                   looked.len ? buf_cstr(&looked) : "nothing");
    buf_free(&looked);
    return st;
}

static void chain_destroy(struct creds_provider *p)
{
    struct chain_impl *m = p->impl;
    for (size_t i = 0; i < m->n; i++)
        creds_provider_free(m->list[i]);
    free(m->list);
    free(m->preamble);
    free(m);
    free(p);
}

static const struct creds_provider_vtable chain_vt = {"chain", chain_get, chain_destroy};

struct creds_provider *creds_provider_chain(struct creds_provider *const *providers, size_t n, const char *preamble)
{
    struct chain_impl *m = xcalloc(1, sizeof *m);
    m->list = xcalloc(n ? n : 1, sizeof *m->list);
    for (size_t i = 0; i < n; i++)
        m->list[i] = providers[i];
    m->n = n;
    m->preamble = preamble ? xstrdup(preamble) : NULL;
    return creds_provider_new(&chain_vt, m);
}

struct creds_provider *creds_provider_default_chain(const struct creds_config *c)
{
    struct creds_provider *list[6];
    size_t n = 0;
    if (!c->profile_explicit)
        list[n++] = creds_provider_env(c);
    list[n++] = creds_provider_profile_part(c, NULL, CREDS_PART_ROLE);
    if (!c->profile_explicit)
        list[n++] = creds_provider_web_identity(c);
    list[n++] = creds_provider_profile_part(c, NULL, CREDS_PART_REST);
    list[n++] = creds_provider_container(c);
    list[n++] = creds_provider_imds(c);
    return creds_provider_chain(list, n,
                                c->profile_explicit ? "environment variables (skipped: a profile was chosen with --profile)"
                                                    : NULL);
}

/* ---- credentials JSON ------------------------------------------------------ */

static void wipe_strings(json_t *v)
{
    if (json_is_string(v)) {
        secure_wipe((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) wipe_strings(m);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) wipe_strings(m);
    }
}

void creds_json_free_secure(json_t *v)
{
    /* jansson's parse buffers are freed unwiped; its string values at least
     * are wiped here before the tree goes. */
    if (!v)
        return;
    wipe_strings(v);
    json_decref(v);
}

/* A string member: *out NULL when absent (or JSON null and allow_null). */
static enum brock_status member_str(const json_t *o, const char *key, bool required, const char *what,
                                    const char **out, struct brock_err *e)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return err_set(e, BROCK_ERR_PARSE, "%s: missing %s", what, key);
        return BROCK_OK;
    }
    if (!json_is_string(v))
        return err_set(e, BROCK_ERR_PARSE, "%s: %s must be a string", what, key);
    *out = json_string_value(v);
    if (required && !**out)
        return err_set(e, BROCK_ERR_PARSE, "%s: %s is empty", what, key);
    return BROCK_OK;
}

/* Printable, short copy of untrusted non-secret text for a message. */
static const char *excerpt(const char *s, char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 1 < n; i++)
        out[j++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out[j] = '\0';
    if (s[j] && n > 4)
        memcpy(out + n - 4, "...", 4);
    return out;
}

enum brock_status creds_parse_json(enum creds_json_kind kind, const char *p, size_t n, const char *provider,
                                   struct aws_credentials **out, struct brock_err *e)
{
    static const char *const whats[] = {
        [CREDS_JSON_PROCESS] = "credential_process output",
        [CREDS_JSON_CONTAINER] = "container credentials answer",
        [CREDS_JSON_IMDS] = "EC2 instance metadata credentials",
    };
    const char *what = whats[kind];
    *out = NULL;
    if (n > CREDS_MAX_JSON)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu bytes", what, CREDS_MAX_JSON);
    /* Our own message: jansson's quotes the text near the error, which may be
     * part of a secret. */
    json_error_t je;
    json_t *root = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(e, BROCK_ERR_PARSE, "%s: not valid JSON (line %d, column %d)", what, je.line, je.column);
    enum brock_status st = BROCK_OK;
    if (!json_is_object(root)) {
        st = err_set(e, BROCK_ERR_PARSE, "%s: expected a JSON object", what);
        goto done;
    }
    if (kind == CREDS_JSON_PROCESS) {
        json_t *v = json_object_get(root, "Version");
        int64_t ver = 0;
        if (!v) {
            st = err_set(e, BROCK_ERR_PARSE, "%s: missing Version (must be 1)", what);
            goto done;
        }
        if (!json_is_number(v) || !json_int(root, "Version", &ver)) {
            st = err_set(e, BROCK_ERR_PARSE, "%s: Version must be the number 1", what);
            goto done;
        }
        if (ver != 1) {
            st = err_set(e, BROCK_ERR_PARSE, "%s: unsupported Version %lld (brock understands 1)", what,
                         (long long)ver);
            goto done;
        }
    }
    if (kind == CREDS_JSON_IMDS) {
        const char *code = NULL, *msg = NULL;
        (void)member_str(root, "Code", false, what, &code, NULL);
        (void)member_str(root, "Message", false, what, &msg, NULL);
        if (code && strcmp(code, "Success") != 0) {
            char c1[64], m1[200];
            st = err_set(e, BROCK_ERR_CREDENTIALS, "%s: Code %s%s%s", what, excerpt(code, c1, sizeof c1),
                         msg ? ": " : "", msg ? excerpt(msg, m1, sizeof m1) : "");
            goto done;
        }
    }
    bool full = kind != CREDS_JSON_PROCESS;
    const char *akid, *secret, *token, *exps, *account;
    if ((st = member_str(root, "AccessKeyId", true, what, &akid, e)) != BROCK_OK ||
        (st = member_str(root, "SecretAccessKey", true, what, &secret, e)) != BROCK_OK ||
        (st = member_str(root, full ? "Token" : "SessionToken", full, what, &token, e)) != BROCK_OK ||
        (st = member_str(root, "Expiration", full, what, &exps, e)) != BROCK_OK ||
        (st = member_str(root, "AccountId", false, what, &account, e)) != BROCK_OK)
        goto done;
    int64_t exp = 0;
    if (exps && !time_parse_iso8601(exps, &exp)) {
        st = err_set(e, BROCK_ERR_PARSE, "%s: Expiration is not an ISO-8601 time", what);
        goto done;
    }
    if (exps && exp == 0)
        exp = 1; /* the epoch itself: long expired, not "never" */
    if (account && (!*account || strlen(account) > 32 || !printable_token(account))) {
        st = err_set(e, BROCK_ERR_PARSE, "%s: AccountId is not a valid account id", what);
        goto done;
    }
    st = creds_check_strings(akid, secret, token, what, e);
    if (st == BROCK_OK)
        *out = creds_make(akid, secret, token, exp, account, provider);
done:
    creds_json_free_secure(root);
    return st;
}
