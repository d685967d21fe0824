/* bearer.h - Bedrock API keys: mint short-term keys, inspect and verify them.
 *
 * A short-term Bedrock API key is a presigned SigV4 URL wrapped in base64
 * (aws-wire-reference.md 2.5):
 *
 *   presign POST https://bedrock.amazonaws.com/?Action=CallWithBearerToken
 *     (region in the credential scope only, service "bedrock", signed header
 *      host, X-Amz-Expires <= 43200, X-Amz-Security-Token when the
 *      credentials have one, payload hash of the empty body)
 *   drop "https://", append "&Version=1", base64 (standard, padded),
 *   prefix "bedrock-api-key-".
 *
 * It is sent as `Authorization: Bearer <key>`. A long-term key (an IAM
 * service-specific credential) is an opaque string: the server checks it
 * against its list; bearer_inspect() only says it is opaque.
 *
 * SECRETS: a key is a bearer credential. bearer_mint() returns it in memory
 * the caller must wipe (xfree_secret); no error message from this module
 * contains a key, a signature or a secret.
 *
 * Threads: the functions keep no state; bearer_verify() uses the signer it is
 * given, which is one thread's at a time (sigv4.h). */
#ifndef BROCK_AWS_BEARER_H
#define BROCK_AWS_BEARER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "credentials.h"
#include "sigv4.h"

#define BEARER_PREFIX "bedrock-api-key-"
#define BEARER_HOST "bedrock.amazonaws.com"
#define BEARER_MAX_EXPIRES 43200 /* 12 hours, and the default */
#define BEARER_MAX_TOKEN 65536   /* longest key bearer_inspect/verify accept */

/* Mint a short-term key valid for expires_s seconds (0 = 43200) from now_s.
 * *token is a new NUL-terminated string (wipe it: xfree_secret). When
 * valid_until_s is not NULL it gets min(now + expires, the credentials'
 * expiry). Errors: BROCK_ERR_USAGE (expires over 43200, bad region),
 * BROCK_ERR_CREDENTIALS (no or expired credentials). */
enum brock_status bearer_mint(struct aws_credentials *creds, const char *region, int64_t now_s,
                              uint32_t expires_s, char **token, int64_t *valid_until_s,
                              struct brock_err *e) BROCK_WUR;

enum bearer_kind {
    BEARER_OPAQUE,     /* not a "bedrock-api-key-" key: a long-term key, or junk */
    BEARER_SHORT_TERM, /* a presigned-URL key */
};

/* What a short-term key says about itself (no secret in here). */
struct bearer_info {
    enum bearer_kind kind;
    char host[128]; /* "bedrock.amazonaws.com" */
    char access_key_id[SIGV4_MAX_AKID + 1];
    char date[9]; /* credential scope date */
    char region[SIGV4_MAX_REGION + 1];
    char service[SIGV4_MAX_SERVICE + 1]; /* "bedrock" */
    char amz_date[17];                   /* X-Amz-Date */
    int64_t issued_s;                    /* X-Amz-Date in seconds */
    int64_t expires_s;                   /* X-Amz-Expires */
    int64_t expires_at_s;                /* issued + expires */
    bool has_session_token;
    bool has_version; /* ends with "&Version=1" */
};

/* Decode a presented key. A key without the prefix gives BROCK_OK with kind
 * BEARER_OPAQUE. A key with the prefix that does not decode to a presigned
 * CallWithBearerToken URL gives BROCK_ERR_PARSE, naming the offset and the
 * field (never echoing the key). */
enum brock_status bearer_inspect(const char *token, size_t len, struct bearer_info *info,
                                 struct brock_err *e) BROCK_WUR;

/* Inspect, then verify the key's signature at now (p->now_s) with the secret
 * found through p->lookup, as sigv4_verify() does for a presigned request
 * (POST, path "/", signed header host). An expiry over 43200 s is rejected
 * (SIGV4_INCOMPLETE). Returns BROCK_OK when valid; BROCK_ERR_AUTH with the AWS
 * error code, status and message in e (verdict in *out) when not;
 * BROCK_ERR_PARSE for an undecodable key; BROCK_ERR_USAGE for an opaque key. */
enum brock_status bearer_verify(struct sigv4_signer *s, const char *token, size_t len,
                                const struct sigv4_verify_params *p, struct bearer_info *info,
                                struct sigv4_verified *out, struct brock_err *e) BROCK_WUR;

#endif
