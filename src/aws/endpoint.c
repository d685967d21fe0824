/* endpoint.c - services, partitions, endpoint rule sets and the settings chains.
 *
 * Facts come from botocore's partitions.json and the services' endpoint rule
 * sets (see docs/internals/endpoint.md); the code is ours. */
#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- services ---------------------------------------------------------- */

static const struct endpoint_service_info services[ENDPOINT_SVC_COUNT] = {
    [ENDPOINT_SVC_BEDROCK_RUNTIME] = {"bedrock-runtime", "bedrock-runtime", "bedrock", "BEDROCK_RUNTIME",
                                      "bedrock_runtime"},
    [ENDPOINT_SVC_BEDROCK] = {"bedrock", "bedrock", "bedrock", "BEDROCK", "bedrock"},
    [ENDPOINT_SVC_STS] = {"sts", "sts", "sts", "STS", "sts"},
    [ENDPOINT_SVC_LOGS] = {"logs", "logs", "logs", "CLOUDWATCH_LOGS", "cloudwatch_logs"},
    [ENDPOINT_SVC_MONITORING] = {"cloudwatch", "monitoring", "monitoring", "CLOUDWATCH", "cloudwatch"},
    [ENDPOINT_SVC_S3] = {"s3", "s3", "s3", "S3", "s3"},
    [ENDPOINT_SVC_SSO] = {"sso", "portal.sso", "awsssoportal", "SSO", "sso"},
    [ENDPOINT_SVC_SSO_OIDC] = {"sso-oidc", "oidc", "sso-oauth", "SSO_OIDC", "sso_oidc"},
    [ENDPOINT_SVC_IAM] = {"iam", "iam", "iam", "IAM", "iam"},
};

const struct endpoint_service_info *endpoint_service_info(enum endpoint_service svc)
{
    if ((unsigned)svc >= ENDPOINT_SVC_COUNT)
        return NULL;
    return &services[svc];
}

bool endpoint_service_from_id(const char *id, enum endpoint_service *out)
{
    for (size_t i = 0; id && i < ENDPOINT_SVC_COUNT; i++) {
        if (strcmp(services[i].id, id) == 0) {
            *out = (enum endpoint_service)i;
            return true;
        }
    }
    return false;
}

/* ---- partitions (botocore/data/partitions.json, version 1.1) ----------- */

struct partition_def {
    struct endpoint_partition pub;
    const char *const *regions; /* explicitly listed regions */
    size_t nregions;
    /* regionRegex, which for every partition has the shape
     * ^(P1|P2|...)\-\w+\-\d+$ ; these are the P alternatives. */
    const char *const *prefixes;
    size_t nprefixes;
};

static const char *const aws_regions[] = {
    "af-south-1",     "ap-east-1",      "ap-east-2",      "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1",     "ap-south-2",     "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
    "aws-global",     "ca-central-1",   "ca-west-1",      "eu-central-1",   "eu-central-2",
    "eu-north-1",     "eu-south-1",     "eu-south-2",     "eu-west-1",      "eu-west-2",
    "eu-west-3",      "il-central-1",   "me-central-1",   "me-south-1",     "mx-central-1",
    "sa-east-1",      "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",
};
static const char *const aws_prefixes[] = {"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"};
static const char *const cn_regions[] = {"aws-cn-global", "cn-north-1", "cn-northwest-1"};
static const char *const cn_prefixes[] = {"cn"};
static const char *const eusc_regions[] = {"eusc-de-east-1"};
static const char *const eusc_prefixes[] = {"eusc-de"};
static const char *const iso_regions[] = {"aws-iso-global", "us-iso-east-1", "us-iso-west-1"};
static const char *const iso_prefixes[] = {"us-iso"};
static const char *const isob_regions[] = {"aws-iso-b-global", "us-isob-east-1", "us-isob-west-1"};
static const char *const isob_prefixes[] = {"us-isob"};
static const char *const isoe_regions[] = {"aws-iso-e-global", "eu-isoe-west-1"};
static const char *const isoe_prefixes[] = {"eu-isoe"};
static const char *const isof_regions[] = {"aws-iso-f-global", "us-isof-east-1", "us-isof-south-1"};
static const char *const isof_prefixes[] = {"us-isof"};
static const char *const gov_regions[] = {"aws-us-gov-global", "us-gov-east-1", "us-gov-west-1"};
static const char *const gov_prefixes[] = {"us-gov"};

#define PART(id_, dns, ds, global, regs, pfx)                                                                \
    {                                                                                                        \
        .pub = {id_, dns, ds, global, true, true}, .regions = regs, .nregions = BROCK_ARRAY_LEN(regs),       \
        .prefixes = pfx, .nprefixes = BROCK_ARRAY_LEN(pfx)                                                   \
    }

/* In partitions.json order; index 0 ("aws") is the fallback. */
static const struct partition_def partitions[] = {
    PART("aws", "amazonaws.com", "api.aws", "us-east-1", aws_regions, aws_prefixes),
    PART("aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn", "cn-northwest-1", cn_regions,
         cn_prefixes),
    PART("aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu", "eusc-de-east-1", eusc_regions,
         eusc_prefixes),
    PART("aws-iso", "c2s.ic.gov", "api.aws.ic.gov", "us-iso-east-1", iso_regions, iso_prefixes),
    PART("aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud", "us-isob-east-1", isob_regions, isob_prefixes),
    PART("aws-iso-e", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk", "eu-isoe-west-1", isoe_regions,
         isoe_prefixes),
    PART("aws-iso-f", "csp.hci.ic.gov", "api.aws.hci.ic.gov", "us-isof-south-1", isof_regions, isof_prefixes),
    PART("aws-us-gov", "amazonaws.com", "api.aws", "us-gov-west-1", gov_regions, gov_prefixes),
};

static bool is_word(unsigned char c) /* regex \w */
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* \w+\-\d+$ : \w cannot match '-', so the greedy scan is exact. */
static bool match_tail(const char *s)
{
    size_t i = 0;
    while (is_word((unsigned char)s[i]))
        i++;
    if (i == 0 || s[i] != '-')
        return false;
    size_t j = ++i;
    while (is_digit((unsigned char)s[i]))
        i++;
    return i > j && s[i] == '\0';
}

static bool match_region_pattern(const struct partition_def *p, const char *region)
{
    for (size_t i = 0; i < p->nprefixes; i++) {
        size_t n = strlen(p->prefixes[i]);
        if (strncmp(region, p->prefixes[i], n) == 0 && region[n] == '-' && match_tail(region + n + 1))
            return true;
    }
    return false;
}

const struct endpoint_partition *endpoint_partition_of(const char *region)
{
    if (!region)
        return &partitions[0].pub;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(partitions); i++)
        for (size_t j = 0; j < partitions[i].nregions; j++)
            if (strcmp(partitions[i].regions[j], region) == 0)
                return &partitions[i].pub;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(partitions); i++)
        if (match_region_pattern(&partitions[i], region))
            return &partitions[i].pub;
    return &partitions[0].pub;
}

static bool is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

bool endpoint_region_valid(const char *region)
{
    if (!region)
        return false;
    size_t n = 0;
    for (; region[n]; n++) {
        unsigned char c = (unsigned char)region[n];
        if (!is_lower_alnum(c) && c != '-')
            return false;
        if (n >= ENDPOINT_REGION_MAX - 1)
            return false;
    }
    return n > 0 && region[0] != '-' && region[n - 1] != '-';
}

/* ---- messages ------------------------------------------------------------ */

/* A printable, bounded copy of an outside value for an error message. A value
 * with '@' may carry "user:password@" and is not echoed at all. */
static const char *shown(const char *v, char *out, size_t n)
{
    if (strchr(v, '@')) {
        snprintf(out, n, "(value not shown: it contains '@')");
        return out;
    }
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (o + 8 >= n) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, n - o, "\\x%02X", *p);
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

#define SHOWN_MAX 128

/* ---- URL parsing --------------------------------------------------------- */

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 pchar minus '%' (checked separately), plus '/'. */
static bool is_path_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static enum brock_status url_error(struct brock_err *e, const char *source, const char *url, const char *why)
{
    char sv[SHOWN_MAX];
    return err_set(e, BROCK_ERR_CONFIG, "%s: invalid endpoint URL %s: %s", source, shown(url, sv, sizeof sv),
                   why);
}

static void endpoint_finish_url(struct endpoint *out)
{
    bool default_port = (out->port == 443 && strcmp(out->scheme, "https") == 0) ||
                        (out->port == 80 && strcmp(out->scheme, "http") == 0);
    if (default_port)
        snprintf(out->authority, sizeof out->authority, "%s", out->host);
    else
        snprintf(out->authority, sizeof out->authority, "%s:%d", out->host, out->port);
    /* cannot truncate: scheme(5) + 3 + authority(<264) + path(<1024) < ENDPOINT_URL_MAX */
    snprintf(out->url, sizeof out->url, "%s://%s%s", out->scheme, out->authority, out->base_path);
}

_Static_assert(8 + ENDPOINT_HOST_MAX + 8 + ENDPOINT_PATH_MAX < ENDPOINT_URL_MAX, "URL fits");

enum brock_status endpoint_url_parse(const char *url, const char *source, struct endpoint *out,
                                     struct brock_err *e)
{
    if (!source)
        source = "endpoint URL";
    if (!url || !*url)
        return err_set(e, BROCK_ERR_CONFIG, "%s: the endpoint URL is empty", source);
    size_t len = strnlen(url, ENDPOINT_URL_MAX);
    if (len >= ENDPOINT_URL_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: endpoint URL is longer than %d bytes", source,
                       ENDPOINT_URL_MAX - 1);

    /* scheme */
    const char *p = url;
    size_t i = 0;
    if (is_alpha((unsigned char)p[0]))
        while (is_alpha((unsigned char)p[i]) || is_digit((unsigned char)p[i]) || p[i] == '+' || p[i] == '-' ||
               p[i] == '.')
            i++;
    if (i == 0 || strncmp(p + i, "://", 3) != 0)
        return url_error(e, source, url, "it must start with http:// or https://");
    if (i == 5 && strncasecmp(p, "https", 5) == 0)
        memcpy(out->scheme, "https", 6);
    else if (i == 4 && strncasecmp(p, "http", 4) == 0)
        memcpy(out->scheme, "http", 5);
    else
        return url_error(e, source, url, "the scheme must be http or https");
    p += i + 3;

    /* authority */
    size_t alen = strcspn(p, "/?#");
    if (memchr(p, '@', alen))
        return url_error(e, source, url, "user information (user@host) is not allowed");
    if (alen == 0)
        return url_error(e, source, url, "the host is missing");
    const char *host = p, *port = NULL;
    size_t hlen;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', alen);
        if (!close)
            return url_error(e, source, url, "unterminated IPv6 address ('[' without ']')");
        hlen = (size_t)(close - p) + 1;
        bool colon = false;
        for (size_t k = 1; k + 1 < hlen; k++) {
            unsigned char c = (unsigned char)p[k];
            colon |= c == ':';
            if (!is_hex(c) && c != ':' && c != '.')
                return url_error(e, source, url, "bad character in the IPv6 address");
        }
        if (!colon)
            return url_error(e, source, url, "bad IPv6 address");
        if (hlen < alen) {
            if (p[hlen] != ':')
                return url_error(e, source, url, "unexpected text after the IPv6 address");
            port = p + hlen + 1;
        }
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
        if (colon)
            port = colon + 1;
        if (hlen == 0)
            return url_error(e, source, url, "the host is missing");
        for (size_t k = 0; k < hlen; k++) {
            unsigned char c = (unsigned char)p[k];
            if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_')
                return url_error(e, source, url, "bad character in the host name");
            if (c == '.' && (k == 0 || p[k - 1] == '.'))
                return url_error(e, source, url, "empty label in the host name");
        }
        if (p[0] == '-')
            return url_error(e, source, url, "the host name starts with '-'");
    }
    if (hlen >= ENDPOINT_HOST_MAX)
        return url_error(e, source, url, "the host name is too long");
    for (size_t k = 0; k < hlen; k++)
        out->host[k] = lower(host[k]);
    out->host[hlen] = '\0';

    out->port = strcmp(out->scheme, "https") == 0 ? 443 : 80;
    if (port) {
        size_t plen = (size_t)(p + alen - port);
        long v = 0;
        if (plen == 0 || plen > 5)
            return url_error(e, source, url, "the port must be a number from 1 to 65535");
        for (size_t k = 0; k < plen; k++) {
            if (!is_digit((unsigned char)port[k]))
                return url_error(e, source, url, "the port must be a number from 1 to 65535");
            v = v * 10 + (port[k] - '0');
        }
        if (v < 1 || v > 65535)
            return url_error(e, source, url, "the port must be a number from 1 to 65535");
        out->port = (int)v;
    }
    p += alen;

    /* base path */
    if (*p == '?' || *p == '#')
        return url_error(e, source, url, "a query (?) or fragment (#) is not allowed");
    size_t plen = strlen(p);
    for (size_t k = 0; k < plen; k++) {
        unsigned char c = (unsigned char)p[k];
        if (c == '?' || c == '#')
            return url_error(e, source, url, "a query (?) or fragment (#) is not allowed");
        if (c == '%') {
            if (!is_hex((unsigned char)p[k + 1]) || !is_hex((unsigned char)p[k + 2]))
                return url_error(e, source, url, "bad percent-escape in the path");
            k += 2;
            continue;
        }
        if (!is_path_char(c))
            return url_error(e, source, url, "bad character in the path");
    }
    while (plen > 0 && p[plen - 1] == '/')
        plen--;
    if (plen >= ENDPOINT_PATH_MAX)
        return url_error(e, source, url, "the path is too long");
    memcpy(out->base_path, p, plen);
    out->base_path[plen] = '\0';

    endpoint_finish_url(out);
    return BROCK_OK;
}

/* ---- rule sets ------------------------------------------------------------ */

#define MSG_FIPS_CUSTOM "Invalid Configuration: FIPS and custom endpoint are not supported"
#define MSG_DS_CUSTOM "Invalid Configuration: Dualstack and custom endpoint are not supported"
#define MSG_NO_REGION "Invalid Configuration: Missing Region"
#define MSG_S3_DS_CUSTOM "Cannot set dual-stack in combination with a custom endpoint."
#define MSG_S3_FIPS_CUSTOM "A custom endpoint cannot be combined with FIPS"
#define MSG_S3_NO_REGION "A region must be set when sending requests to S3."
#define MSG_S3_BAD_REGION "Invalid region: region was not a valid DNS name."

static void endpoint_reset(struct endpoint *out)
{
    out->url[0] = out->scheme[0] = out->host[0] = out->authority[0] = out->base_path[0] = '\0';
    out->signing_name[0] = out->signing_region[0] = out->source[0] = '\0';
    out->port = 0;
    out->partition = NULL;
    out->fips = out->dualstack = false;
}

static enum brock_status set_host(struct endpoint *out, struct brock_err *e, const char *fmt, ...)
    BROCK_PRINTF(3, 4);
static enum brock_status set_host(struct endpoint *out, struct brock_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->host, sizeof out->host, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof out->host)
        return err_set(e, BROCK_ERR_TOO_LARGE, "endpoint host name is longer than %d bytes",
                       ENDPOINT_HOST_MAX - 1);
    memcpy(out->scheme, "https", 6);
    out->port = 443;
    out->base_path[0] = '\0';
    return BROCK_OK;
}

static bool is_ip_host(const char *h)
{
    if (h[0] == '[')
        return true;
    int dots = 0;
    for (; *h; h++) {
        if (*h == '.')
            dots++;
        else if (!is_digit((unsigned char)*h))
            return false;
    }
    return dots == 3;
}

/* aws.isVirtualHostableS3Bucket(bucket, false): a DNS label of 3-63 chars,
 * lowercase letters, digits and '-', starting and ending alphanumerically. */
static bool s3_virtual_hostable(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !is_lower_alnum((unsigned char)b[0]) || !is_lower_alnum((unsigned char)b[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum((unsigned char)b[i]) && b[i] != '-')
            return false;
    return !is_ip_host(b);
}

static enum brock_status s3_bucket(const struct endpoint_params *p, struct endpoint *out, struct brock_err *e)
{
    const char *b = p->s3_bucket;
    if (!b)
        return BROCK_OK;
    size_t n = strlen(b);
    char sv[SHOWN_MAX];
    if (n == 0 || n > ENDPOINT_S3_BUCKET_MAX ||
        !(is_alpha((unsigned char)b[0]) || is_digit((unsigned char)b[0])))
        return err_set(
            e, BROCK_ERR_CONFIG,
            "invalid S3 bucket name %s: it must be 1 to %d characters and start with a letter or digit",
            shown(b, sv, sizeof sv), ENDPOINT_S3_BUCKET_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_')
            return err_set(e, BROCK_ERR_CONFIG,
                           "invalid S3 bucket name %s: only letters, digits, '.', '-' and '_' are allowed",
                           shown(b, sv, sizeof sv));
    }
    if (!p->s3_path_style && s3_virtual_hostable(b) && !is_ip_host(out->host)) {
        char host[ENDPOINT_HOST_MAX];
        int k = snprintf(host, sizeof host, "%s.%s", b, out->host);
        if (k < 0 || (size_t)k >= sizeof host)
            return err_set(e, BROCK_ERR_TOO_LARGE, "S3 host name for bucket %s is too long",
                           shown(b, sv, sizeof sv));
        memcpy(out->host, host, (size_t)k + 1);
    } else {
        size_t bl = strlen(out->base_path);
        if (bl + 1 + n >= sizeof out->base_path)
            return err_set(e, BROCK_ERR_TOO_LARGE, "S3 path for bucket %s is too long",
                           shown(b, sv, sizeof sv));
        out->base_path[bl] = '/';
        memcpy(out->base_path + bl + 1, b, n + 1);
    }
    return BROCK_OK;
}

static enum brock_status s3_rules(const struct endpoint_params *p, const char *src, struct endpoint *out,
                                  bool *rule_error, struct brock_err *e)
{
    enum brock_status st;
    *rule_error = true;
    if (!p->region)
        return err_set(e, BROCK_ERR_CONFIG, MSG_S3_NO_REGION);
    if (!endpoint_region_valid(p->region))
        return err_set(e, BROCK_ERR_CONFIG, MSG_S3_BAD_REGION);
    if (p->endpoint) {
        if (p->use_dualstack)
            return err_set(e, BROCK_ERR_CONFIG, MSG_S3_DS_CUSTOM);
        if (p->use_fips)
            return err_set(e, BROCK_ERR_CONFIG, MSG_S3_FIPS_CUSTOM);
        *rule_error = false;
        if ((st = endpoint_url_parse(p->endpoint, src, out, e)) != BROCK_OK)
            return st;
        snprintf(out->source, sizeof out->source, "%s", src);
    } else {
        const struct endpoint_partition *part = endpoint_partition_of(p->region);
        *rule_error = false;
        st = set_host(out, e, "s3%s%s.%s.%s", p->use_fips ? "-fips" : "",
                      p->use_dualstack ? ".dualstack" : "", p->region, part->dns_suffix);
        if (st != BROCK_OK)
            return st;
        out->partition = part->id;
        snprintf(out->source, sizeof out->source, "default");
    }
    if ((st = s3_bucket(p, out, e)) != BROCK_OK)
        return st;
    endpoint_finish_url(out);
    return BROCK_OK;
}

/* The standard rule-set template shared by bedrock(-runtime), sts, logs,
 * monitoring, sso and sso-oidc, with each service's extra rules. */
static enum brock_status std_rules(const struct endpoint_params *p, const char *src, struct endpoint *out,
                                   bool *rule_error, struct brock_err *e)
{
    const struct endpoint_service_info *svc = &services[p->service];
    *rule_error = true;
    if (p->endpoint) {
        if (p->use_fips)
            return err_set(e, BROCK_ERR_CONFIG, MSG_FIPS_CUSTOM);
        if (p->use_dualstack)
            return err_set(e, BROCK_ERR_CONFIG, MSG_DS_CUSTOM);
        *rule_error = false;
        enum brock_status st = endpoint_url_parse(p->endpoint, src, out, e);
        if (st == BROCK_OK)
            snprintf(out->source, sizeof out->source, "%s", src);
        return st;
    }
    if (!p->region)
        return err_set(e, BROCK_ERR_CONFIG, MSG_NO_REGION);
    *rule_error = false;
    if (!endpoint_region_valid(p->region)) {
        char sv[SHOWN_MAX];
        return err_set(e, BROCK_ERR_CONFIG, "invalid region %s: use lowercase letters, digits and '-'",
                       shown(p->region, sv, sizeof sv));
    }
    const struct endpoint_partition *part = endpoint_partition_of(p->region);
    const char *r = p->region, *pre = svc->prefix;
    bool gov = strcmp(part->id, "aws-us-gov") == 0;
    enum brock_status st;
    *rule_error = true;
    if (p->use_fips && p->use_dualstack) {
        if (p->service == ENDPOINT_SVC_MONITORING && gov)
            st = set_host(out, e, "%s.%s.%s", pre, r, part->dualstack_dns_suffix);
        else if (!part->supports_fips || !part->supports_dualstack)
            return err_set(e, BROCK_ERR_CONFIG,
                           "FIPS and DualStack are enabled, but this partition does not support one or both");
        else
            st = set_host(out, e, "%s-fips.%s.%s", pre, r, part->dualstack_dns_suffix);
    } else if (p->use_fips) {
        bool plain = false;
        switch (p->service) {
        case ENDPOINT_SVC_MONITORING:
        case ENDPOINT_SVC_STS:
        case ENDPOINT_SVC_SSO:
        case ENDPOINT_SVC_SSO_OIDC:
            plain = gov; /* GovCloud endpoints are FIPS endpoints already */
            break;
        case ENDPOINT_SVC_LOGS:
            plain = strcmp(r, "us-gov-east-1") == 0 || strcmp(r, "us-gov-west-1") == 0;
            break;
        default:
            break;
        }
        if (plain)
            st = set_host(out, e, "%s.%s.%s", pre, r, part->dns_suffix);
        else if (!part->supports_fips)
            return err_set(e, BROCK_ERR_CONFIG, "FIPS is enabled but this partition does not support FIPS");
        else
            st = set_host(out, e, "%s-fips.%s.%s", pre, r, part->dns_suffix);
    } else if (p->use_dualstack) {
        if (!part->supports_dualstack)
            return err_set(e, BROCK_ERR_CONFIG,
                           "DualStack is enabled but this partition does not support DualStack");
        st = set_host(out, e, "%s.%s.%s", pre, r, part->dualstack_dns_suffix);
    } else if (p->service == ENDPOINT_SVC_IAM) {
        /* IAM is global: one endpoint per partition, signed for its home region */
        const char *host = "iam.amazonaws.com", *home = "us-east-1";
        if (gov) {
            host = "iam.us-gov.amazonaws.com";
            home = "us-gov-west-1";
        } else if (strcmp(part->id, "aws-cn") == 0) {
            host = "iam.cn-north-1.amazonaws.com.cn";
            home = "cn-north-1";
        } else if (strcmp(part->id, "aws") != 0) {
            host = NULL;
        }
        if (host) {
            st = set_host(out, e, "%s", host);
            snprintf(out->signing_region, sizeof out->signing_region, "%s", home);
        } else {
            st = set_host(out, e, "iam.%s", part->dns_suffix);
        }
    } else if (p->service == ENDPOINT_SVC_STS && strcmp(r, "aws-global") == 0) {
        st = set_host(out, e, "sts.amazonaws.com");
        snprintf(out->signing_region, sizeof out->signing_region, "us-east-1");
    } else {
        st = set_host(out, e, "%s.%s.%s", pre, r, part->dns_suffix);
    }
    *rule_error = false;
    if (st != BROCK_OK)
        return st;
    out->partition = part->id;
    snprintf(out->source, sizeof out->source, "default");
    endpoint_finish_url(out);
    return BROCK_OK;
}

static enum brock_status resolve_rules(const struct endpoint_params *p, const char *src, struct endpoint *out,
                                       bool *rule_error, struct brock_err *e)
{
    *rule_error = false;
    if (!p || !out || (unsigned)p->service >= ENDPOINT_SVC_COUNT)
        return err_set(e, BROCK_ERR_USAGE, "endpoint_resolve_rules: bad arguments");
    endpoint_reset(out);
    snprintf(out->signing_name, sizeof out->signing_name, "%s", services[p->service].signing_name);
    if (endpoint_region_valid(p->region))
        snprintf(out->signing_region, sizeof out->signing_region, "%s", p->region);
    out->fips = p->use_fips;
    out->dualstack = p->use_dualstack;
    enum brock_status st = p->service == ENDPOINT_SVC_S3 ? s3_rules(p, src, out, rule_error, e)
                                                         : std_rules(p, src, out, rule_error, e);
    if (st != BROCK_OK)
        endpoint_reset(out);
    return st;
}

enum brock_status endpoint_resolve_rules(const struct endpoint_params *p, struct endpoint *out,
                                         struct brock_err *e)
{
    bool rule_error;
    return resolve_rules(p, "custom endpoint", out, &rule_error, e);
}

/* ---- settings lookup ------------------------------------------------------ */

static const char *profile_label(const struct endpoint_lookup *lk)
{
    return lk && lk->profile_name && *lk->profile_name ? lk->profile_name : "default";
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum brock_status trim_copy(const char *v, const char *what, char *tmp, size_t tmpn,
                                   const char **value, struct brock_err *e)
{
    *value = NULL;
    if (!v)
        return BROCK_OK;
    while (is_blank(*v))
        v++;
    size_t n = strlen(v);
    while (n > 0 && is_blank(v[n - 1]))
        n--;
    if (n == 0)
        return BROCK_OK;
    if (n >= tmpn)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: value is too long (%zu bytes, at most %zu)", what, n,
                       tmpn - 1);
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    *value = tmp;
    return BROCK_OK;
}

enum brock_status endpoint_lookup_env(const struct endpoint_lookup *lk, const char *name, char *tmp,
                                      size_t tmpn, const char **value, struct brock_err *e)
{
    const char *v = lk && lk->getenv ? lk->getenv(lk->env_ctx, name) : getenv(name);
    return trim_copy(v, name, tmp, tmpn, value, e);
}

enum brock_status endpoint_lookup_profile(const struct endpoint_lookup *lk, const char *key, char *tmp,
                                          size_t tmpn, const char **value, struct brock_err *e)
{
    *value = NULL;
    if (!lk || !lk->profile_get)
        return BROCK_OK;
    char what[ENDPOINT_SOURCE_MAX];
    snprintf(what, sizeof what, "profile %s %s", profile_label(lk), key);
    return trim_copy(lk->profile_get(lk->profile_ctx, key), what, tmp, tmpn, value, e);
}

enum brock_status endpoint_parse_bool(const char *value, const char *source, bool *out, struct brock_err *e)
{
    if (value && strcasecmp(value, "true") == 0) {
        *out = true;
        return BROCK_OK;
    }
    if (value && strcasecmp(value, "false") == 0) {
        *out = false;
        return BROCK_OK;
    }
    char sv[SHOWN_MAX];
    return err_set(e, BROCK_ERR_CONFIG, "%s: expected true or false, got %s", source,
                   shown(value ? value : "", sv, sizeof sv));
}

/* A boolean from explicit flag, then env, then profile; false by default.
 * `src` receives where it came from. */
static enum brock_status resolve_flag(const struct endpoint_lookup *lk, enum endpoint_flag explicit_flag,
                                      const char *env, const char *key, bool *out, char *src, size_t srcn,
                                      struct brock_err *e)
{
    char tmp[64];
    const char *v;
    enum brock_status st;
    *out = false;
    if (explicit_flag != ENDPOINT_FLAG_UNSET) {
        *out = explicit_flag == ENDPOINT_FLAG_ON;
        snprintf(src, srcn, "explicit setting");
        return BROCK_OK;
    }
    if ((st = endpoint_lookup_env(lk, env, tmp, sizeof tmp, &v, e)) != BROCK_OK)
        return st;
    if (v) {
        snprintf(src, srcn, "%s", env);
        return endpoint_parse_bool(v, src, out, e);
    }
    if ((st = endpoint_lookup_profile(lk, key, tmp, sizeof tmp, &v, e)) != BROCK_OK)
        return st;
    if (v) {
        snprintf(src, srcn, "profile %s %s", profile_label(lk), key);
        return endpoint_parse_bool(v, src, out, e);
    }
    snprintf(src, srcn, "default");
    return BROCK_OK;
}

/* Steps 2-5 of the endpoint URL chain. *url is NULL if none is configured. */
static enum brock_status configured_url(const struct endpoint_lookup *lk,
                                        const struct endpoint_service_info *svc, char *tmp, size_t tmpn,
                                        const char **url, char *src, size_t srcn, struct brock_err *e)
{
    char name[64], section[256];
    const char *sec;
    enum brock_status st;

    snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", svc->env_suffix);
    if ((st = endpoint_lookup_env(lk, name, tmp, tmpn, url, e)) != BROCK_OK || *url) {
        snprintf(src, srcn, "%s", name);
        return st;
    }
    if ((st = endpoint_lookup_env(lk, "AWS_ENDPOINT_URL", tmp, tmpn, url, e)) != BROCK_OK || *url) {
        snprintf(src, srcn, "AWS_ENDPOINT_URL");
        return st;
    }
    if ((st = endpoint_lookup_profile(lk, "services", section, sizeof section, &sec, e)) != BROCK_OK)
        return st;
    if (sec && lk->services_get) {
        bool exists = false;
        const char *v = lk->services_get(lk->profile_ctx, sec, svc->config_key, "endpoint_url", &exists);
        if (!exists)
            return err_set(e, BROCK_ERR_CONFIG,
                           "profile %s: services = %s, but there is no [services %s] section",
                           profile_label(lk), sec, sec);
        snprintf(src, srcn, "profile %s services %s", profile_label(lk), sec);
        if ((st = trim_copy(v, src, tmp, tmpn, url, e)) != BROCK_OK || *url)
            return st;
    }
    if ((st = endpoint_lookup_profile(lk, "endpoint_url", tmp, tmpn, url, e)) != BROCK_OK || *url) {
        snprintf(src, srcn, "profile %s", profile_label(lk));
        return st;
    }
    return BROCK_OK;
}

static void append_msg(struct brock_err *e, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void append_msg(struct brock_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    size_t n = strlen(e->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
    va_end(ap);
}

enum brock_status endpoint_resolve(const struct endpoint_request *req, const struct endpoint_lookup *lk,
                                   struct endpoint *out, struct brock_err *e)
{
    if (!req || !out || (unsigned)req->service >= ENDPOINT_SVC_COUNT)
        return err_set(e, BROCK_ERR_USAGE, "endpoint_resolve: bad arguments");
    const struct endpoint_service_info *svc = &services[req->service];
    char fips_src[ENDPOINT_SOURCE_MAX], ds_src[ENDPOINT_SOURCE_MAX], url_src[ENDPOINT_SOURCE_MAX];
    char tmp[ENDPOINT_URL_MAX];
    const char *url = NULL;
    bool fips, ds;
    enum brock_status st;

    st = resolve_flag(lk, req->use_fips, "AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint", &fips, fips_src,
                      sizeof fips_src, e);
    if (st == BROCK_OK)
        st = resolve_flag(lk, req->use_dualstack, "AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint", &ds,
                          ds_src, sizeof ds_src, e);
    if (st != BROCK_OK)
        return st;

    if (req->endpoint_url) {
        url = req->endpoint_url;
        snprintf(url_src, sizeof url_src, "%s",
                 req->explicit_label ? req->explicit_label : "explicit endpoint_url");
    } else {
        bool ignore = false;
        char isrc[ENDPOINT_SOURCE_MAX];
        st = resolve_flag(lk, ENDPOINT_FLAG_UNSET, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                          "ignore_configured_endpoint_urls", &ignore, isrc, sizeof isrc, e);
        if (st != BROCK_OK)
            return st;
        if (!ignore &&
            (st = configured_url(lk, svc, tmp, sizeof tmp, &url, url_src, sizeof url_src, e)) != BROCK_OK)
            return st;
    }

    struct endpoint_params p = {
        .service = req->service,
        .region = req->region,
        .use_fips = fips,
        .use_dualstack = ds,
        .endpoint = url,
        .s3_bucket = req->s3_bucket,
        .s3_path_style = req->s3_path_style,
    };
    bool rule_error;
    st = resolve_rules(&p, url ? url_src : "default", out, &rule_error, e);
    if (st != BROCK_OK && rule_error && url)
        append_msg(e, " (endpoint URL from %s; FIPS from %s; dual-stack from %s)", url_src, fips_src, ds_src);
    else if (st != BROCK_OK && rule_error)
        append_msg(e, " (service %s; FIPS from %s; dual-stack from %s)", svc->id, fips_src, ds_src);
    return st;
}

/* ---- region ---------------------------------------------------------------- */

enum brock_status endpoint_region_resolve(const char *explicit_region, const char *explicit_label,
                                          const struct endpoint_lookup *lk, struct endpoint_region *out,
                                          struct brock_err *e)
{
    char tmp[256], src[ENDPOINT_SOURCE_MAX];
    const char *v = NULL;
    enum brock_status st;

    out->region[0] = out->source[0] = '\0';
    snprintf(src, sizeof src, "%s", explicit_label ? explicit_label : "explicit");
    if ((st = trim_copy(explicit_region, src, tmp, sizeof tmp, &v, e)) != BROCK_OK)
        return st;
    if (!v) {
        static const char *const envs[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
        for (size_t i = 0; !v && i < BROCK_ARRAY_LEN(envs); i++) {
            if ((st = endpoint_lookup_env(lk, envs[i], tmp, sizeof tmp, &v, e)) != BROCK_OK)
                return st;
            snprintf(src, sizeof src, "%s", envs[i]);
        }
    }
    if (!v) {
        if ((st = endpoint_lookup_profile(lk, "region", tmp, sizeof tmp, &v, e)) != BROCK_OK)
            return st;
        snprintf(src, sizeof src, "profile %s", profile_label(lk));
    }
    if (!v) {
        v = ENDPOINT_DEFAULT_REGION;
        snprintf(src, sizeof src, "default");
    }
    if (!endpoint_region_valid(v)) {
        char sv[SHOWN_MAX];
        return err_set(e, BROCK_ERR_CONFIG,
                       "%s: invalid region %s: use 1-63 lowercase letters, digits and '-' (e.g. us-west-2)",
                       src, shown(v, sv, sizeof sv));
    }
    snprintf(out->region, sizeof out->region, "%s", v);
    snprintf(out->source, sizeof out->source, "%s", src);
    return BROCK_OK;
}

void endpoint_build_url(const struct endpoint *ep, const char *path, struct buf *out)
{
    buf_addstr(out, ep->scheme);
    buf_add(out, "://", 3);
    buf_addstr(out, ep->authority);
    buf_addstr(out, ep->base_path);
    buf_addstr(out, path && *path ? path : "/");
}
