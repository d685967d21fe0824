/* cmd_apikey.c - `brock api-key`: mint a short-term Bedrock API key from the
 * current AWS credentials (a presigned CallWithBearerToken URL, as AWS's token
 * generators make), valid for --expires seconds (max 12 h, and never longer
 * than the credentials themselves). The key goes to stdout, alone, so
 * `export AWS_BEARER_TOKEN_BEDROCK=$(brock api-key)` works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/bearer.h"
#include "../util/alloc.h"
#include "../util/timeutil.h"
#include "exitcode.h"
#include "runtime.h"

int cmd_apikey(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    if (cfg->expires > BEARER_MAX_EXPIRES) {
        fprintf(stderr, "brock: --expires %ld is too long: Bedrock API keys last at most %d seconds (12 h)\n",
                cfg->expires, BEARER_MAX_EXPIRES);
        return EXIT_USAGE;
    }
    struct runtime rt;
    enum brock_status st = runtime_init(&rt, cfg, &e);
    if (st != BROCK_OK)
        return cli_fail(&e);
    struct aws_creds_source src = runtime_creds(&rt);
    struct aws_credentials *c = NULL;
    st = src.get(src.ctx, &c, &e);
    if (st != BROCK_OK) {
        runtime_cleanup(&rt);
        return cli_fail(&e);
    }
    int64_t now = time_now_ms() / 1000;
    uint32_t expires = cfg->expires ? (uint32_t)cfg->expires : BEARER_MAX_EXPIRES;
    /* a key cannot outlive the credentials that signed it */
    if (c->expiration_ms) {
        int64_t left = c->expiration_ms / 1000 - now;
        if (left <= 0) {
            aws_credentials_release(c);
            runtime_cleanup(&rt);
            fprintf(stderr, "brock: the credentials from %s have expired; refresh them first\n", c->provider);
            return EXIT_CREDENTIALS;
        }
        if ((int64_t)expires > left)
            expires = (uint32_t)left;
    }
    char *token = NULL;
    int64_t until = 0;
    st = bearer_mint(c, rt.settings.region.region, now, expires, &token, &until, &e);
    if (st != BROCK_OK) {
        aws_credentials_release(c);
        runtime_cleanup(&rt);
        return cli_fail(&e);
    }
    char iso[21];
    time_fmt_iso8601(until, iso);
    if (cfg->json)
        printf("{\"token\":\"%s\",\"region\":\"%s\",\"expires_at\":\"%s\"}\n", token, rt.settings.region.region, iso);
    else
        printf("%s\n", token);
    fprintf(stderr, "brock: Bedrock API key for %s from %s, valid until %s; use it as AWS_BEARER_TOKEN_BEDROCK\n",
            rt.settings.region.region, c->provider, iso);
    xfree_secret(token);
    aws_credentials_release(c);
    runtime_cleanup(&rt);
    return EXIT_OK;
}
