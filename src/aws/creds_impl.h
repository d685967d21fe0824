/* creds_impl.h - what the creds_*.c files share; not for other modules.
 *
 * `struct creds_ctx` is a provider's own copy of a `struct creds_config`
 * (strings duplicated; profiles, lookup, retry and clock borrowed). */
#ifndef BROCK_AWS_CREDS_IMPL_H
#define BROCK_AWS_CREDS_IMPL_H

#include <jansson.h>

#include "creds.h"

struct creds_ctx {
    const struct aws_profile_set *profiles;
    char *profile_name;
    bool profile_explicit;
    char *config_path, *credentials_path;
    const struct endpoint_lookup *lookup;
    char *region;
    char *sso_cache_dir;
    struct http_options http; /* ca_bundle / user_agent_extra point at the copies below */
    char *ca_bundle, *ua_extra;
    struct retry_policy *retry;
    const struct clock *clock;
    creds_mfa_fn *mfa;
    void *mfa_ctx;
    long process_timeout_ms;
    char *container_host;
    double (*random)(void *ctx);
    void *random_ctx;
};

void creds_ctx_init(struct creds_ctx *x, const struct creds_config *c);
void creds_ctx_cleanup(struct creds_ctx *x);
/* A config that builds providers with the same settings (borrows from x). */
void creds_ctx_config(const struct creds_ctx *x, struct creds_config *c);

/* An environment variable through the lookup; NULL when unset or empty. */
const char *creds_getenv(const struct creds_ctx *x, const char *name);
/* The active profile section, or NULL. */
const struct aws_profile_section *creds_active_profile(const struct creds_ctx *x);
static inline int64_t creds_now_ms(const struct creds_ctx *x)
{
    return clock_now_ms(x->clock);
}

struct creds_provider *creds_provider_new(const struct creds_provider_vtable *vt, void *impl);

/* Report "not configured": sets *absent and e's message to the note. */
enum brock_status creds_absent(bool *absent, struct brock_err *e, const char *fmt, ...) BROCK_PRINTF(3, 4);

/* `path` with a leading $HOME shown as "~"; into out. */
const char *creds_show_path(const char *path, char *out, size_t n);
/* "PATH:LINE" of a profile property, with the home shown as "~". */
const char *creds_where(const struct aws_profile_prop *p, char *out, size_t n);

/* Check credential strings before they are used: an access key id of
 * 1-SIGV4_MAX_AKID printable non-blank ASCII, a secret of 1-SIGV4_MAX_SECRET
 * bytes without control characters, a token (optional) of at most
 * CREDS_TOKEN_MAX printable non-blank ASCII. `what` names the source. */
enum brock_status creds_check_strings(const char *akid, const char *secret, const char *token, const char *what,
                                      struct brock_err *e);
/* aws_credentials_new plus the account id (may be NULL). */
struct aws_credentials *creds_make(const char *akid, const char *secret, const char *token, int64_t expiration_ms,
                                   const char *account, const char *provider);
/* snprintf into provider[64] style storage, truncating. */
void creds_provider_name(char *out, size_t n, const char *kind, const char *profile);

/* An AWS client for STS / SSO calls with this context's settings. */
struct aws_client *creds_client_new(const struct creds_ctx *x, const char *region, struct aws_creds_source src);

/* Wipe every string value of a parsed JSON tree, then json_decref it. */
void creds_json_free_secure(json_t *v);

/* True for a value that may travel in an HTTP header (printable ASCII and
 * tab, no CR/LF/control). */
bool creds_header_safe(const char *s, size_t n);

/* ---- shared by the providers ---------------------------------------- */

/* Run a credential_process command line. `where` names the setting
 * ("profile 'tool' (~/.aws/config:3)"). */
enum brock_status creds_process_run(const struct creds_ctx *x, const char *cmd, const char *where,
                                    const char *provider, struct aws_credentials **out, struct brock_err *e);

/* STS AssumeRoleWithWebIdentity with the token read from `token_file`.
 * session NULL = "brock-session-<epoch>". `where` names the configuration. */
enum brock_status creds_web_identity_fetch(const struct creds_ctx *x, const char *token_file, const char *role_arn,
                                           const char *session, const char *where, const char *provider,
                                           struct aws_credentials **out, struct brock_err *e);

/* IAM Identity Center credentials for a profile (creds_sso.c). */
enum brock_status creds_sso_fetch(const struct creds_ctx *x, const struct aws_profile_section *profile,
                                  struct aws_credentials **out, struct brock_err *e);

/* Which part of a profile a profile provider handles (the default chain
 * puts env web identity between the role and the rest). */
enum creds_profile_part { CREDS_PART_ALL = 0, CREDS_PART_ROLE, CREDS_PART_REST };
struct creds_provider *creds_provider_profile_part(const struct creds_config *c, const char *name,
                                                   enum creds_profile_part part);

#endif
