/* creds.h - where AWS credentials come from: the providers, the SDK default
 * chain, and the caching wrapper the AWS client signs with.
 *
 * A provider is an object with a vtable (the aws-c-auth shape). get() hands
 * back a NEW reference to a `struct aws_credentials` (credentials.h) whose
 * `provider` field names the source in words people know ("environment",
 * "assume role (profile dev)"); it never holds a secret. get() answers:
 *
 *   BROCK_OK               *out set.
 *   BROCK_ERR_NOT_FOUND    this source is not configured here; e->msg is a
 *                          short note of where it looked ("container endpoint
 *                          (not configured)"), used by the chain's message.
 *   anything else          the source IS configured but failed (bad JSON from
 *                          credential_process, STS refused, SSO token expired);
 *                          a chain stops at it rather than fall through.
 *
 * The default chain (creds_provider_default_chain) follows botocore's order
 * (aws-wire-reference 3.1; docs/internals/credentials.md):
 *
 *   1. environment keys (skipped when the profile was chosen with --profile;
 *      AWS_PROFILE does not skip them)
 *   2. the profile's role_arn (+ source_profile / credential_source)
 *   3. web identity from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (skipped
 *      with --profile, as botocore disables env vars then)
 *   4. the rest of the profile, in aws_profile_creds_kind() order: web
 *      identity, IAM Identity Center, credentials-file keys (session before
 *      basic), `aws login` (refused: not supported), credential_process,
 *      config-file keys
 *   5. container endpoint (ECS / EKS Pod Identity)
 *   6. EC2 instance metadata (IMDSv2, v1 fallback)
 *
 * When nothing answers, the chain's error is BROCK_ERR_CREDENTIALS listing
 * the places looked. Every message names what and where (the profile, and
 * the file:line of the setting at fault) and never contains a secret key,
 * session token, SSO token, client secret, container token, web identity
 * token or IMDS token.
 *
 * Providers keep a little state (an http client, the last IMDS set for
 * static stability) and are NOT thread-safe: put a creds_cache in front,
 * which serialises refreshes (single flight) and may be shared by any number
 * of threads.
 *
 * Ownership: constructors copy the strings of `struct creds_config`;
 * `profiles`, `lookup`, `retry`, `clock`, `http.cancel` and the callback
 * contexts are borrowed and must outlive the provider. A chain or cache
 * owns the providers given to it. Every *_free accepts NULL. */
#ifndef BROCK_AWS_CREDS_H
#define BROCK_AWS_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"
#include "client.h"
#include "credentials.h"
#include "endpoint.h"
#include "http.h"
#include "profile.h"
#include "retry.h"

struct aws_settings;

/* ---- limits and timings (caps on outside input are checked before use) --- */

#define CREDS_ADVISORY_REFRESH_MS (15LL * 60 * 1000) /* refresh; keep the old set on failure */
#define CREDS_MANDATORY_REFRESH_MS (10LL * 60 * 1000) /* refresh; fail if that fails */
#define CREDS_PROCESS_MAX_OUTPUT ((size_t)64 * 1024)  /* credential_process stdout */
#define CREDS_PROCESS_MAX_STDERR ((size_t)4 * 1024)   /* kept from stderr */
#define CREDS_PROCESS_EXCERPT 200                     /* stderr chars quoted in an error */
#define CREDS_PROCESS_TIMEOUT_MS 120000L              /* it may wait for a person (MFA, browser) */
#define CREDS_PROCESS_MAX_ARGS 1024
#define CREDS_MAX_JSON ((size_t)64 * 1024)            /* container / IMDS / SSO answers, SSO cache file */
#define CREDS_ROLE_CHAIN_MAX 16                       /* profiles in one source_profile chain */
#define CREDS_WEB_TOKEN_MIN 4                         /* STS WebIdentityToken length */
#define CREDS_WEB_TOKEN_MAX 20000
#define CREDS_CONTAINER_TIMEOUT_MS 2000L              /* botocore ContainerMetadataFetcher */
#define CREDS_CONTAINER_ATTEMPTS 3
#define CREDS_CONTAINER_RETRY_SLEEP_MS 1000
#define CREDS_CONTAINER_HOST "http://169.254.170.2"
#define CREDS_IMDS_TIMEOUT_MS 1000L                   /* botocore IMDSFetcher defaults */
#define CREDS_IMDS_ATTEMPTS 1
#define CREDS_IMDS_MAX_ATTEMPTS 10
#define CREDS_IMDS_TOKEN_TTL "21600"
#define CREDS_IMDS_ENDPOINT_V4 "http://169.254.169.254"
#define CREDS_IMDS_ENDPOINT_V6 "http://[fd00:ec2::254]"
#define CREDS_TOKEN_MAX 16384                         /* any bearer-like token we send */

/* ---- configuration ----------------------------------------------------- */

/* Asks a person for the 6-digit code of `mfa_serial` (NUL-terminated into
 * code). Return BROCK_OK, or an error that stops the provider. */
typedef enum brock_status creds_mfa_fn(void *ctx, const char *mfa_serial, char code[7],
                                       struct brock_err *e);

struct creds_config {
    const struct aws_profile_set *profiles; /* borrowed; NULL = no files */
    const char *profile_name;               /* active profile; NULL = "default" */
    bool profile_explicit;                  /* chosen by --profile: skip env keys */
    const char *config_path;                /* for messages; NULL = ~/.aws/config */
    const char *credentials_path;           /* for messages; NULL = ~/.aws/credentials */
    /* Environment (getenv) and endpoint overrides (AWS_ENDPOINT_URL_STS, ...)
     * for the STS / SSO calls. Borrowed; NULL = process environment, no profile. */
    const struct endpoint_lookup *lookup;
    const char *region;        /* region of STS calls; NULL = ENDPOINT_DEFAULT_REGION */
    const char *sso_cache_dir; /* NULL = ~/.aws/sso/cache */
    struct http_options http;  /* CA bundle, cancel flag for STS / SSO calls */
    struct retry_policy *retry; /* STS / SSO calls; borrowed; NULL = no retries */
    const struct clock *clock;  /* borrowed; NULL = real time */
    creds_mfa_fn *mfa;          /* NULL: a profile with mfa_serial is refused */
    void *mfa_ctx;
    long process_timeout_ms;    /* 0 = CREDS_PROCESS_TIMEOUT_MS */
    /* Tests: replaces CREDS_CONTAINER_HOST for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. */
    const char *container_host;
    /* Jitter for IMDS static stability; NULL = crypto_random_unit. */
    double (*random)(void *ctx);
    void *random_ctx;
};

/* Fill `c` from loaded settings (profiles, active profile, --profile, paths,
 * lookup, region, CA bundle); the rest is zeroed. `s` must outlive what is
 * built from `c`. */
void creds_config_from_settings(struct creds_config *c, const struct aws_settings *s);

/* ---- the provider interface -------------------------------------------- */

struct creds_provider;

struct creds_provider_vtable {
    const char *kind; /* "environment", "profile", "chain", ... */
    /* As creds_provider_get, except that "not configured" is reported by
     * setting *absent (with the note in e) and any status. */
    enum brock_status (*get)(struct creds_provider *p, struct aws_credentials **out, bool *absent,
                             struct brock_err *e);
    void (*destroy)(struct creds_provider *p); /* frees impl and p */
};

struct creds_provider {
    const struct creds_provider_vtable *vt;
    void *impl;
};

/* See the top of this file for the three outcomes. A NOT_FOUND from inside
 * a configured provider (a missing token file) comes out as
 * BROCK_ERR_CREDENTIALS, so NOT_FOUND always means "not configured". */
enum brock_status creds_provider_get(struct creds_provider *p, struct aws_credentials **out,
                                     struct brock_err *e) BROCK_WUR;
void creds_provider_free(struct creds_provider *p);

/* AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN or legacy
 * AWS_SECURITY_TOKEN, AWS_CREDENTIAL_EXPIRATION, AWS_ACCOUNT_ID). One of the
 * pair without the other is an error naming the missing one. */
struct creds_provider *creds_provider_env(const struct creds_config *c);

/* Everything a profile can describe (`name` NULL = the active profile):
 * role chains, web identity, SSO, static keys, credential_process. */
struct creds_provider *creds_provider_profile(const struct creds_config *c, const char *name);

/* AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME) ->
 * STS AssumeRoleWithWebIdentity, unsigned. The token file is read on every
 * get. The file without the role is an error; the role alone is ignored. */
struct creds_provider *creds_provider_web_identity(const struct creds_config *c);

/* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (http://169.254.170.2) or
 * AWS_CONTAINER_CREDENTIALS_FULL_URI (https, a loopback address, or
 * 169.254.170.2 / 169.254.170.23 / fd00:ec2::23 / localhost), with
 * Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on every
 * get) or AWS_CONTAINER_AUTHORIZATION_TOKEN; CR or LF in it is refused.
 * 2 s timeout, 3 attempts 1 s apart. */
struct creds_provider *creds_provider_container(const struct creds_config *c);

/* EC2 IMDSv2: PUT /latest/api/token, the role name, its credentials.
 * Endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT / ec2_metadata_service_endpoint,
 * else per AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE / ..._endpoint_mode (IPv4,
 * IPv6). AWS_EC2_METADATA_DISABLED=true turns it off. A token answer of
 * 403/404/405 or a read timeout falls back to IMDSv1 unless
 * AWS_EC2_METADATA_V1_DISABLED / ec2_metadata_v1_disabled; 400 is an error.
 * AWS_METADATA_SERVICE_TIMEOUT (s, default 1) and ..._NUM_ATTEMPTS (default 1),
 * or metadata_service_timeout / _num_attempts in the profile.
 * Static stability: a set that is expired or about to expire, or the last
 * good set when IMDS fails, is handed out with its expiry moved to now +
 * 15 min + 2..10 min of jitter, so callers keep working while IMDS is down. */
struct creds_provider *creds_provider_imds(const struct creds_config *c);

/* Try `providers` in order (takes ownership of the array's elements; the
 * array itself is copied). `preamble` (may be NULL) starts the list of
 * places looked. */
struct creds_provider *creds_provider_chain(struct creds_provider *const *providers, size_t n,
                                            const char *preamble);

/* The SDK default chain described at the top. */
struct creds_provider *creds_provider_default_chain(const struct creds_config *c);

/* ---- the cache ----------------------------------------------------------- */

/* Keeps the current set and refreshes it through its provider: from 15 min
 * before expiry (advisory: on failure keep using the old set) and from 10
 * min before (mandatory: on failure the get fails). A set without expiry is
 * kept until invalidated. A fresh set that already expired is an error; one
 * that expires within the mandatory window is used, and refreshed again
 * after half its remaining life.
 *
 * Single flight: one refresh at a time. While it runs, callers that hold a
 * usable set (outside the mandatory window, not invalidated) get it at once;
 * the others wait on a condition variable for its result (success or error)
 * rather than start their own.
 *
 * invalidate() makes the next get refresh once, whatever the expiry (the
 * client calls it on an ExpiredToken-style answer).
 *
 * Thread-safe. Owns `p`. `clk` is borrowed (NULL = real time). */
struct creds_cache;

struct creds_cache *creds_cache_new(struct creds_provider *p, const struct clock *clk);
void creds_cache_free(struct creds_cache *c);
enum brock_status creds_cache_get(struct creds_cache *c, struct aws_credentials **out,
                                  struct brock_err *e) BROCK_WUR;
/* As get, but a set that expires within `ahead_ms` is refreshed now
 * (advisory: on failure the current set is returned). For a background
 * thread that refreshes before the callers' own window opens, so that they
 * never wait for the provider (the gateway's helper thread). */
enum brock_status creds_cache_get_ahead(struct creds_cache *c, int64_t ahead_ms, struct aws_credentials **out,
                                        struct brock_err *e) BROCK_WUR;
/* The current set if it is usable now (fetched, not invalidated, outside
 * the mandatory window), without asking the provider or waiting for a
 * refresh in flight. Otherwise BROCK_ERR_CREDENTIALS: none yet, invalidated
 * or about to expire (and being refreshed), or the last refresh's error. */
enum brock_status creds_cache_peek(struct creds_cache *c, struct aws_credentials **out,
                                   struct brock_err *e) BROCK_WUR;
void creds_cache_invalidate(struct creds_cache *c);
/* The cache as the client's credential source (client.h). */
struct aws_creds_source creds_cache_source(struct creds_cache *c);

/* ---- parsers (public for tests and fuzzing) ------------------------------ */

enum creds_json_kind {
    CREDS_JSON_PROCESS,   /* Version (must be 1), AccessKeyId, SecretAccessKey,
                             [SessionToken], [Expiration], [AccountId] */
    CREDS_JSON_CONTAINER, /* AccessKeyId, SecretAccessKey, Token, Expiration, [AccountId] */
    CREDS_JSON_IMDS,      /* [Code] (must be "Success"), AccessKeyId, SecretAccessKey,
                             Token, Expiration */
};

/* Parse a credentials JSON document. `provider` goes into the set's
 * provider field. Errors (BROCK_ERR_PARSE, BROCK_ERR_TOO_LARGE) name the
 * field at fault and never quote the document. Pure; thread-safe. */
enum brock_status creds_parse_json(enum creds_json_kind kind, const char *p, size_t n, const char *provider,
                                   struct aws_credentials **out, struct brock_err *e) BROCK_WUR;

/* Split a credential_process command line the way botocore does (Python's
 * shlex.split, POSIX mode; no shell is involved): words split at blanks
 * (space, tab, CR, LF); '...' is literal; in "..." only \" and \\ are
 * escapes; outside quotes a backslash escapes any character; '' or "" is an
 * empty word; '#' is an ordinary character. On success *argv is a
 * NULL-terminated array of *argc >= 1 strings; free it with creds_argv_free.
 * Errors (BROCK_ERR_PARSE) give the 1-based column: unclosed quote, trailing
 * backslash, empty command; more than CREDS_PROCESS_MAX_ARGS words is
 * BROCK_ERR_TOO_LARGE. Messages never quote the command. */
enum brock_status creds_split_command(const char *cmd, char ***argv, size_t *argc, struct brock_err *e) BROCK_WUR;
void creds_argv_free(char **argv);

/* True if `s` is a valid STS RoleSessionName: 2-64 of [A-Za-z0-9_+=,.@-]. */
bool creds_valid_session_name(const char *s);

#endif
