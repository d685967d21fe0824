/* sigv4.h - AWS Signature Version 4: sign requests, verify them.
 *
 * Signing is pure: no clock, no network, no environment. The caller passes
 * the request exactly as it will go on the wire (method, percent-encoded
 * path, raw query, headers including `host`, body or payload hash), the
 * credentials, region, signing name ("bedrock", "sts", "logs", "monitoring",
 * "s3") and the time. Two forms:
 *
 *   sigv4_sign_headers()  -> headers to set: [X-Amz-Security-Token], X-Amz-Date,
 *                            [x-amz-content-sha256], Authorization
 *   sigv4_presign()       -> the full query string to send, X-Amz-Signature last
 *
 * Verification (sigv4_verify, for the emulator) takes a received request,
 * reads the Authorization header or the presigned query parameters, finds
 * the secret through a callback and recomputes the signature from exactly the
 * signed headers, then compares in constant time. Each verdict names the
 * error code and status AWS answers with.
 *
 * Canonical form (aws-wire-reference.md 2.1): the path is normalised
 * (`.`, `..`, empty segments removed) and URI-encoded once more ("double
 * encoding", so a wire `%3A` signs as `%253A`), except for S3, which sets both
 * `no_normalize_path` and `no_double_encode`. Query names and values are
 * decoded, encoded once, and sorted by name then value. Header names are
 * lowercased; values trimmed, folded lines joined, runs of ASCII whitespace
 * collapsed; repeated headers joined with ',' in order. The signer never
 * signs connection, expect, keep-alive, proxy-authenticate,
 * proxy-authorization, te, trailer, transfer-encoding, upgrade, user-agent,
 * x-amzn-trace-id (botocore's list; proxies rewrite them); the verifier signs
 * whatever the client listed.
 *
 * Headers the signer owns: input headers named authorization, x-amz-date,
 * x-amz-security-token (when the credentials have a token) and
 * x-amz-content-sha256 (when add_content_sha256 is set) are taken to be left
 * over from an earlier signing. They are not signed; the output says which
 * values to put in their place. So a retry is simply signed again.
 *
 * Ownership: the signer owns every output string; they stay valid until the
 * next call on the same signer or sigv4_signer_free() (the output's
 * X-Amz-Security-Token value points into the credentials, which the signer
 * holds). Inputs are borrowed for the call only, except the credentials: the
 * signer keeps a reference (aws_credentials_acquire) to the last set it
 * derived a key for. Credentials are immutable, so the same object on the
 * next call skips the key lookup and the checks on its key id and token; the
 * reference moves to a new set or is dropped by sigv4_signer_free().
 *
 * The signing key is derived once per (secret, date, region, service) and
 * kept as pre-keyed HMAC states. The cache compares the secret through its
 * SHA-256, never by keeping a second copy. sigv4_signer_free() wipes the key,
 * the canonical request (it may hold the session token), the string to sign
 * and the Authorization value.
 *
 * SECRETS: `canonical_request` may contain the session token; it, the
 * signature, the Authorization value and the presigned query are secrets.
 * Never log them. Error messages from this module never contain a secret key,
 * token or signature.
 *
 * Threads: a signer is used by one thread at a time (it reuses its buffers and
 * hash contexts). Use one signer per thread; they share nothing. Call
 * crypto_global_init() before starting threads.
 *
 * Cost: after the first call grows the buffers, this module allocates
 * nothing per call (OpenSSL 3.0 itself allocates when crypto.c copies the
 * pre-keyed HMAC state). docs/internals/sigv4.md has the numbers. */
#ifndef BROCK_AWS_SIGV4_H
#define BROCK_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "credentials.h"

/* Limits on what is signed or verified, checked before any work. */
#define SIGV4_MAX_PATH 16384  /* wire path bytes */
#define SIGV4_MAX_QUERY 65536 /* wire query bytes (a presigned token fits) */
#define SIGV4_MAX_QUERY_PARAMS 1024
#define SIGV4_MAX_HEADERS 128
#define SIGV4_MAX_HEADER_BYTES 262144 /* sum of header name and value bytes */
#define SIGV4_MAX_SIGNED_LIST 8192    /* verify: SignedHeaders bytes */
#define SIGV4_MAX_METHOD 32
#define SIGV4_MAX_AKID 128 /* access key id */
#define SIGV4_MAX_SECRET 512
#define SIGV4_MAX_TOKEN 16384 /* session token */
#define SIGV4_MAX_REGION 63
#define SIGV4_MAX_SERVICE 63
#define SIGV4_MAX_EXPIRES 604800 /* presigned URL lifetime, seconds (7 days) */
#define SIGV4_DEFAULT_SKEW 900   /* verify: allowed clock difference, seconds */

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* A header as a pair of byte views (not NUL-terminated). */
struct sigv4_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* From string literals: SIGV4_HEADER("content-type", "application/json"). */
#define SIGV4_HEADER(n, v)                                                                                   \
    {                                                                                                        \
        (n), sizeof(n) - 1, (v), sizeof(v) - 1                                                               \
    }

/* A request as it goes on (or came off) the wire. */
struct sigv4_request {
    const char *method; /* "GET", "POST", ... (NUL-terminated) */
    const char *path;   /* wire path, percent-encoded, without '?' */
    size_t path_len;
    const char *query; /* wire query without '?'; NULL or "" if none */
    size_t query_len;
    const struct sigv4_header *headers; /* must include host */
    size_t n_headers;
    const void *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    const char *payload_hash; /* NULL: SHA-256 of body; else used verbatim
                                 (64 lowercase hex, or "UNSIGNED-PAYLOAD") */
};

/* How to sign. Zero values are the defaults for every service but S3. */
struct sigv4_params {
    struct aws_credentials *creds; /* the signer takes a reference, see above */
    const char *region;            /* "us-west-2" */
    const char *service;           /* signing name: "bedrock", "sts", "s3", ... */
    int64_t time_s;                /* signing time, seconds since the epoch */
    uint32_t expires_s;            /* sigv4_presign only: X-Amz-Expires, 1..SIGV4_MAX_EXPIRES */
    bool no_normalize_path;        /* S3: keep `.`, `..` and `//` */
    bool no_double_encode;         /* S3: canonical path = wire path */
    bool add_content_sha256;       /* header form: add and sign x-amz-content-sha256 */
    bool omit_session_token;       /* add the token after signing, unsigned */
};

#define SIGV4_MAX_ADDED 4

/* What a signing call produced; owned by the signer (see top). */
struct sigv4_output {
    /* Header form: the headers to set, in this order. Each replaces any header
     * of the same name (case-insensitive) already on the request. */
    struct sigv4_header headers[SIGV4_MAX_ADDED];
    size_t n_headers;
    /* Presigned form: the whole query string to send, without '?': the
     * original query, then X-Amz-Algorithm, -Credential, -Date, -SignedHeaders,
     * -Expires, [-Security-Token], -Signature. NULL in header form. */
    const char *query;
    size_t query_len;
    const char *signature;         /* 64 lowercase hex digits */
    const char *signed_headers;    /* "content-type;host;x-amz-date" */
    const char *canonical_request; /* may contain the session token: never log */
    size_t canonical_request_len;
    const char *string_to_sign;
    size_t string_to_sign_len;
};

struct sigv4_signer;

struct sigv4_signer *sigv4_signer_new(void);
/* Wipes and frees; NULL is fine. */
void sigv4_signer_free(struct sigv4_signer *s);

/* Sign in header form. Errors: BROCK_ERR_CREDENTIALS (no credentials, a
 * malformed key id, a token with control characters or over the limit),
 * BROCK_ERR_USAGE (no host header; a region, service, method, header name or
 * payload hash that cannot be signed), BROCK_ERR_TOO_LARGE (a SIGV4_MAX_*
 * limit). Messages name the field, never a secret. *out is set only on
 * success. */
enum brock_status sigv4_sign_headers(struct sigv4_signer *s, const struct sigv4_request *req,
                                     const struct sigv4_params *p, const struct sigv4_output **out,
                                     struct brock_err *e) BROCK_WUR;

/* Sign in presigned (query) form; p->expires_s is required (else
 * BROCK_ERR_USAGE). The signed headers are the request's headers (usually
 * just host); add_content_sha256 is ignored. The original query must not
 * already hold X-Amz-* authentication parameters. Same errors otherwise. */
enum brock_status sigv4_presign(struct sigv4_signer *s, const struct sigv4_request *req,
                                const struct sigv4_params *p, const struct sigv4_output **out,
                                struct brock_err *e) BROCK_WUR;

/* ---- Verification (emulator) ---------------------------------------------- */

/* Outcomes AWS distinguishes; sigv4_verdict_code() gives the error code. */
enum sigv4_verdict {
    SIGV4_VALID = 0,
    SIGV4_MISSING_AUTH, /* no Authorization header, no presigned query: MissingAuthenticationTokenException */
    SIGV4_INCOMPLETE,   /* malformed Authorization / presigned parameters: IncompleteSignatureException */
    SIGV4_UNKNOWN_KEY,  /* access key id not known: UnrecognizedClientException */
    SIGV4_BAD_TOKEN,    /* session token missing or not the expected one: UnrecognizedClientException */
    SIGV4_MISMATCH,     /* signature does not match: InvalidSignatureException */
    SIGV4_EXPIRED,      /* request time outside the allowed window: InvalidSignatureException */
    SIGV4_TOO_LARGE,    /* the request exceeds a SIGV4_MAX_* limit (status BROCK_ERR_TOO_LARGE) */
};

/* The secret for an access key id. Both strings are borrowed until the
 * verify call returns. session_token NULL = do not check the token. */
struct sigv4_secret {
    const char *secret_access_key;
    const char *session_token;
};

/* Look up access_key_id; return false if it is unknown. Called at most once
 * per verify, synchronously, on the verifying thread. */
typedef bool sigv4_lookup_fn(void *ctx, const char *access_key_id, struct sigv4_secret *out);

struct sigv4_verify_params {
    sigv4_lookup_fn *lookup;
    void *lookup_ctx;
    int64_t now_s;             /* the server's clock */
    int64_t max_skew_s;        /* 0 = SIGV4_DEFAULT_SKEW (15 minutes) */
    bool no_normalize_path;    /* S3 */
    bool no_double_encode;     /* S3 */
    bool unsigned_payload;     /* S3 presigned: payload hash is UNSIGNED-PAYLOAD */
    bool allow_unsigned_token; /* presigned: accept an X-Amz-Security-Token that
                                  was added after signing (post-sts-header-after) */
    bool head_only;            /* check only what the head decides (the form, the
                                  key, the time window, the token) and stop before
                                  the payload and the signature: a server asks this
                                  before it reads a body; BROCK_OK then means "may be
                                  valid", and the full check follows with the body */
};

/* What verification found. The parsed fields are filled as far as parsing
 * got, also on failure, so the server can check region and service. */
struct sigv4_verified {
    enum sigv4_verdict verdict;
    bool presigned;
    char access_key_id[SIGV4_MAX_AKID + 1];
    char date[9]; /* credential scope date YYYYMMDD */
    char region[SIGV4_MAX_REGION + 1];
    char service[SIGV4_MAX_SERVICE + 1];
    char amz_date[17];      /* X-Amz-Date as sent */
    int64_t request_time_s; /* X-Amz-Date in seconds */
    int64_t expires_s;      /* presigned: X-Amz-Expires; else 0 */
    bool has_session_token;
};

/* Verify a received request: `path` and `query` exactly as received (not
 * decoded), every received header, the body. Returns BROCK_OK when the
 * signature is valid; BROCK_ERR_AUTH otherwise, with e->aws_code,
 * e->http_status and e->msg set to what AWS would answer; BROCK_ERR_TOO_LARGE
 * when a limit is hit. out->verdict says which. */
enum brock_status sigv4_verify(struct sigv4_signer *s, const struct sigv4_request *req,
                               const struct sigv4_verify_params *p, struct sigv4_verified *out,
                               struct brock_err *e) BROCK_WUR;

/* AWS error code for a verdict ("InvalidSignatureException"); NULL for VALID
 * and TOO_LARGE. */
const char *sigv4_verdict_code(enum sigv4_verdict v);
/* HTTP status AWS uses: 403, 400 for INCOMPLETE and TOO_LARGE, 200 for VALID. */
int sigv4_verdict_http_status(enum sigv4_verdict v);

#endif
