/* endpoint.h - AWS services, partitions, region and endpoint resolution.
 *
 * Three jobs, all pure functions over caller-supplied inputs:
 *
 *  1. Facts: a table of the services brock calls (endpoint prefix, SigV4
 *     signing name, AWS_ENDPOINT_URL_<X> suffix, [services] key) and of the
 *     AWS partitions (botocore partitions.json as a static table).
 *  2. The endpoint rule sets: (service, region, FIPS, dual-stack, custom
 *     endpoint) -> URL, or the rule set's own error message, verbatim.
 *  3. Configuration: the endpoint-URL override chain of the AWS SDKs, FIPS and
 *     dual-stack switches, and the region chain, each reporting where the
 *     winning value came from (for `brock doctor`).
 *
 * Configuration is read through `struct endpoint_lookup`: an environment
 * getter (NULL = getenv) and two profile callbacks, so this module does not
 * depend on the profile-file parser and tests need not touch the process
 * environment. retry.h uses the same struct.
 *
 * Values read from the environment or a profile are trimmed of surrounding
 * blanks; an empty value counts as unset (as in botocore). Booleans accept
 * "true"/"false" in any case; anything else is an error naming the source.
 *
 * Ownership: every result is written into caller-owned fixed-size structs; no
 * function allocates on success or keeps a pointer to its inputs. Strings
 * returned by the lookup callbacks are borrowed for the duration of the call.
 *
 * Thread-safety: all functions are reentrant; the tables are read-only. The
 * lookup callbacks are called from the calling thread only. getenv() is not
 * safe against a concurrent setenv(); brock never calls setenv after start-up.
 *
 * Errors: BROCK_ERR_CONFIG for a bad setting (the message names the source,
 * e.g. "AWS_ENDPOINT_URL_STS: invalid endpoint URL ..."), BROCK_ERR_TOO_LARGE
 * for a value over a cap below, BROCK_ERR_USAGE for API misuse. Messages never
 * echo a URL that carries user information ("user:pass@"). */
#ifndef BROCK_AWS_ENDPOINT_H
#define BROCK_AWS_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"
#include "../util/err.h"

/* Caps on values that come from outside (environment, config files). */
#define ENDPOINT_URL_MAX 2048   /* whole URL, bytes incl. NUL */
#define ENDPOINT_HOST_MAX 256   /* host as written in the URL (IPv6 keeps its []) */
#define ENDPOINT_PATH_MAX 1024  /* base path of a configured endpoint */
#define ENDPOINT_REGION_MAX 64  /* a region is one DNS label: at most 63 chars */
#define ENDPOINT_SOURCE_MAX 160 /* "profile <name> services <section>" etc. */
#define ENDPOINT_S3_BUCKET_MAX 255

/* brock's primary region, used when nothing else names one. */
#define ENDPOINT_DEFAULT_REGION "us-west-2"

enum endpoint_service {
    ENDPOINT_SVC_BEDROCK_RUNTIME = 0,
    ENDPOINT_SVC_BEDROCK,
    ENDPOINT_SVC_STS,
    ENDPOINT_SVC_LOGS,       /* CloudWatch Logs */
    ENDPOINT_SVC_MONITORING, /* CloudWatch (metrics, alarms, dashboards) */
    ENDPOINT_SVC_S3,
    ENDPOINT_SVC_SSO,        /* IAM Identity Center portal */
    ENDPOINT_SVC_SSO_OIDC,
    ENDPOINT_SVC_IAM,        /* global: iam.amazonaws.com, signed for us-east-1 */
    ENDPOINT_SVC_COUNT
};

struct endpoint_service_info {
    const char *id;           /* botocore client name: "bedrock-runtime", "logs", "sso-oidc" */
    const char *prefix;       /* host prefix: "bedrock-runtime", "monitoring", "portal.sso" */
    const char *signing_name; /* SigV4 service: "bedrock", "awsssoportal", "sso-oauth" */
    const char *env_suffix;   /* AWS_ENDPOINT_URL_<env_suffix>: "BEDROCK_RUNTIME", "CLOUDWATCH_LOGS" */
    const char *config_key;   /* key in a [services] section: "bedrock_runtime", "cloudwatch_logs" */
};

/* The table row for `svc` (NULL if out of range). */
const struct endpoint_service_info *endpoint_service_info(enum endpoint_service svc);
/* Look a service up by its id ("bedrock-runtime"); false if unknown. */
bool endpoint_service_from_id(const char *id, enum endpoint_service *out);

struct endpoint_partition {
    const char *id; /* "aws", "aws-cn", "aws-us-gov", ... */
    const char *dns_suffix;
    const char *dualstack_dns_suffix;
    const char *implicit_global_region;
    bool supports_fips;
    bool supports_dualstack;
};

/* The partition of a region, as the rule sets' aws.partition does it: an
 * explicitly listed region first, then the partition's region pattern, else
 * the "aws" partition. Never NULL. No allocation, no regex engine. */
const struct endpoint_partition *endpoint_partition_of(const char *region);

/* True if `region` is usable in a hostname: 1..63 of [a-z0-9-], starting and
 * ending with a letter or digit. */
bool endpoint_region_valid(const char *region);

/* Where configuration comes from. All members may be NULL/zero. */
struct endpoint_lookup {
    /* Environment variable `name`, or NULL. NULL function = getenv(). */
    const char *(*getenv)(void *ctx, const char *name);
    void *env_ctx;
    /* Property `key` of the active profile ("region", "services",
     * "endpoint_url", ...), or NULL. NULL function = no profile. */
    const char *(*profile_get)(void *ctx, const char *key);
    /* Sub-property `prop` of `service_key` in the [services <section>]
     * section, or NULL. Set *section_exists to whether that section exists. */
    const char *(*services_get)(void *ctx, const char *section, const char *service_key, const char *prop,
                                bool *section_exists);
    void *profile_ctx;
    const char *profile_name; /* the active profile, for messages; NULL = "default" */
};

/* A resolved endpoint. Every string is NUL-terminated and fits its array. */
struct endpoint {
    char url[ENDPOINT_URL_MAX];               /* "https://host[:port][/base]", no trailing '/' */
    char scheme[8];                           /* "https" or "http" */
    char host[ENDPOINT_HOST_MAX];             /* lowercase; "[::1]" for IPv6 */
    char authority[ENDPOINT_HOST_MAX + 8];    /* Host header: host, plus ":port" if not the default */
    char base_path[ENDPOINT_PATH_MAX];        /* "" or "/prefix" (no trailing '/'); prefixes request paths */
    int port;                                 /* effective port (443/80 unless given) */
    char signing_name[16];                    /* SigV4 service name */
    char signing_region[ENDPOINT_REGION_MAX]; /* the region; "" if none or invalid */
    char source[ENDPOINT_SOURCE_MAX];         /* where `url` came from, e.g. "AWS_ENDPOINT_URL_STS" */
    const char *partition;                    /* partition id, or NULL for a configured endpoint */
    bool fips, dualstack;                     /* the switches in effect */
};

/* Parse and normalise an endpoint URL: http or https, host (name, IPv4 or
 * bracketed IPv6), optional port 1-65535, optional base path; no user info,
 * query or fragment. Fills url/scheme/host/authority/base_path/port of `out`
 * (the other members are left alone). `source` names the value's origin in
 * error messages ("AWS_ENDPOINT_URL", "profile dev"). */
enum brock_status endpoint_url_parse(const char *url, const char *source, struct endpoint *out,
                                     struct brock_err *e) BROCK_WUR;

/* Rule-set input. `region` and `endpoint` may be NULL (unset). */
struct endpoint_params {
    enum endpoint_service service;
    const char *region;
    bool use_fips;
    bool use_dualstack;
    const char *endpoint;  /* custom endpoint URL (SDK::Endpoint) */
    const char *s3_bucket; /* S3 only: put the bucket in the host or path */
    bool s3_path_style;    /* S3 only: force path-style addressing */
};

/* Evaluate the service's endpoint rule set. On a rule-set error the message
 * is exactly the rule set's (BROCK_ERR_CONFIG), e.g. "Invalid Configuration:
 * Missing Region". `source` of the result is "default" or "custom endpoint". */
enum brock_status endpoint_resolve_rules(const struct endpoint_params *p, struct endpoint *out,
                                         struct brock_err *e) BROCK_WUR;

/* Tri-state for explicit switches: zero-initialised means "not given". */
enum endpoint_flag { ENDPOINT_FLAG_UNSET = 0, ENDPOINT_FLAG_OFF, ENDPOINT_FLAG_ON };

struct endpoint_request {
    enum endpoint_service service;
    const char *region;               /* already resolved (endpoint_region_resolve) */
    const char *endpoint_url;         /* explicit override (--endpoint-url), or NULL */
    const char *explicit_label;       /* names the explicit source; NULL = "explicit endpoint_url" */
    enum endpoint_flag use_fips;      /* explicit; else AWS_USE_FIPS_ENDPOINT, use_fips_endpoint */
    enum endpoint_flag use_dualstack; /* explicit; else AWS_USE_DUALSTACK_ENDPOINT, use_dualstack_endpoint */
    const char *s3_bucket;
    bool s3_path_style;
};

/* The full chain: endpoint URL from (1) req->endpoint_url, (2)
 * AWS_ENDPOINT_URL_<SVC>, (3) AWS_ENDPOINT_URL, (4) endpoint_url under the
 * service key of the [services <name>] section named by the profile's
 * `services`, (5) the profile's endpoint_url; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 * / ignore_configured_endpoint_urls = true skips 2-5. Then the rule set.
 * Rule-set errors keep the rule set's text and add where the conflicting
 * settings came from. `lk` may be NULL (environment only). */
enum brock_status endpoint_resolve(const struct endpoint_request *req, const struct endpoint_lookup *lk,
                                   struct endpoint *out, struct brock_err *e) BROCK_WUR;

struct endpoint_region {
    char region[ENDPOINT_REGION_MAX];
    char source
        [ENDPOINT_SOURCE_MAX]; /* "explicit", "AWS_REGION", "AWS_DEFAULT_REGION", "profile dev", "default" */
};

/* Region from `explicit_region` (labelled `explicit_label`, NULL =
 * "explicit"), AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, else
 * ENDPOINT_DEFAULT_REGION. The first set value wins and must be valid
 * (endpoint_region_valid); an invalid one is an error naming its source, it
 * does not fall through. */
enum brock_status endpoint_region_resolve(const char *explicit_region, const char *explicit_label,
                                          const struct endpoint_lookup *lk, struct endpoint_region *out,
                                          struct brock_err *e) BROCK_WUR;

/* Append scheme://authority + base_path + path to `out`; `path` must start
 * with '/' and be already URI-encoded. Check buf_status() for overflow. */
void endpoint_build_url(const struct endpoint *ep, const char *path, struct buf *out);

/* Shared helpers for modules that read settings the same way (retry.h).
 * endpoint_lookup_env/profile return the trimmed value copied into `tmp`
 * (`tmpn` bytes), or NULL when unset or empty; a value that does not fit is
 * BROCK_ERR_TOO_LARGE naming `what`. */
enum brock_status endpoint_lookup_env(const struct endpoint_lookup *lk, const char *name, char *tmp,
                                      size_t tmpn, const char **value, struct brock_err *e) BROCK_WUR;
enum brock_status endpoint_lookup_profile(const struct endpoint_lookup *lk, const char *key, char *tmp,
                                          size_t tmpn, const char **value, struct brock_err *e) BROCK_WUR;
/* Parse "true"/"false" (any case) from `source`, else BROCK_ERR_CONFIG. */
enum brock_status endpoint_parse_bool(const char *value, const char *source, bool *out,
                                      struct brock_err *e) BROCK_WUR;

#endif
