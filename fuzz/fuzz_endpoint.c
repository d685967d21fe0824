/* fuzz_endpoint.c - endpoint URL parsing, region handling and the settings
 * chain, fed with hostile configuration values.
 *
 * Input: byte 0 picks the flags (FIPS, dual-stack, ignore switch, S3 path
 * style, service), the rest is split at '\n' into up to 8 values: endpoint
 * URL candidates for each step of the chain, a region, a bucket, a services
 * section name. Checked invariants: no crash; every successful result is a
 * well-formed URL that parses back to itself; a resolved host never carries
 * anything but host characters. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/endpoint.h"

#define NFIELDS 8

struct input {
    const char *f[NFIELDS];
};

static const char *env_get(void *ctx, const char *name)
{
    const struct input *in = ctx;
    if (strcmp(name, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME") == 0 || strcmp(name, "AWS_ENDPOINT_URL_S3") == 0)
        return in->f[0];
    if (strcmp(name, "AWS_ENDPOINT_URL") == 0)
        return in->f[1];
    if (strcmp(name, "AWS_REGION") == 0)
        return in->f[5];
    if (strcmp(name, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == 0)
        return in->f[7];
    return NULL;
}

static const char *profile_get(void *ctx, const char *key)
{
    const struct input *in = ctx;
    if (strcmp(key, "services") == 0)
        return in->f[4];
    if (strcmp(key, "endpoint_url") == 0)
        return in->f[3];
    if (strcmp(key, "region") == 0)
        return in->f[6];
    if (strcmp(key, "use_fips_endpoint") == 0)
        return in->f[7];
    return NULL;
}

static const char *services_get(void *ctx, const char *section, const char *service_key, const char *prop,
                                bool *exists)
{
    const struct input *in = ctx;
    (void)service_key;
    (void)prop;
    *exists = section[0] != 'x';
    return in->f[2];
}

static void check_endpoint(const struct endpoint *ep)
{
    if (strlen(ep->url) >= ENDPOINT_URL_MAX || !ep->host[0] || ep->port < 1 || ep->port > 65535)
        abort();
    if (strcmp(ep->scheme, "https") != 0 && strcmp(ep->scheme, "http") != 0)
        abort();
    for (const char *h = ep->host; *h; h++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789.-_[]:", *h))
            abort();
    size_t bl = strlen(ep->base_path);
    if (bl && (ep->base_path[0] != '/' || ep->base_path[bl - 1] == '/'))
        abort();
    /* the normalised URL parses back to the same thing */
    struct endpoint again;
    if (endpoint_url_parse(ep->url, "fuzz", &again, NULL) != BROCK_OK)
        abort();
    if (strcmp(again.url, ep->url) != 0 || strcmp(again.host, ep->host) != 0 ||
        strcmp(again.authority, ep->authority) != 0 || strcmp(again.base_path, ep->base_path) != 0 ||
        again.port != ep->port)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 3 * ENDPOINT_URL_MAX)
        return 0;
    uint8_t flags = data[0];
    char *buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    struct input in = {{0}};
    char *p = buf;
    for (int i = 0; i < NFIELDS && p; i++) {
        in.f[i] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }

    struct endpoint ep;
    struct brock_err e;

    /* the parser alone */
    if (endpoint_url_parse(in.f[0], "fuzz", &ep, &e) == BROCK_OK)
        check_endpoint(&ep);

    /* a region straight into the rule sets */
    const char *region = in.f[5] ? in.f[5] : in.f[0];
    (void)endpoint_region_valid(region);
    if (!endpoint_partition_of(region))
        abort();
    enum endpoint_service svc = (enum endpoint_service)((flags >> 4) % ENDPOINT_SVC_COUNT);
    struct endpoint_params params = {
        .service = svc,
        .region = region,
        .use_fips = flags & 1,
        .use_dualstack = flags & 2,
        .endpoint = (flags & 4) ? in.f[1] : NULL,
        .s3_bucket = in.f[6],
        .s3_path_style = flags & 8,
    };
    if (endpoint_resolve_rules(&params, &ep, &e) == BROCK_OK) {
        check_endpoint(&ep);
        if (!params.endpoint && !endpoint_region_valid(region))
            abort(); /* never a URL from a bad region */
    }

    /* the whole chain */
    struct endpoint_lookup lk = {
        .getenv = env_get,
        .env_ctx = &in,
        .profile_get = profile_get,
        .services_get = services_get,
        .profile_ctx = &in,
        .profile_name = in.f[4],
    };
    struct endpoint_region r;
    if (endpoint_region_resolve(NULL, NULL, &lk, &r, &e) == BROCK_OK && !endpoint_region_valid(r.region))
        abort();
    struct endpoint_request req = {
        .service = svc,
        .region = (flags & 0x40) ? NULL : r.region,
        .use_fips = (flags & 1) ? ENDPOINT_FLAG_ON : ENDPOINT_FLAG_UNSET,
        .use_dualstack = (flags & 2) ? ENDPOINT_FLAG_ON : ENDPOINT_FLAG_UNSET,
        .s3_bucket = (flags & 0x80) ? in.f[6] : NULL,
    };
    if (endpoint_resolve(&req, &lk, &ep, &e) == BROCK_OK)
        check_endpoint(&ep);
    free(buf);
    return 0;
}
