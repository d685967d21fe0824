/* bearer.c - Bedrock API keys (short-term keys are presigned SigV4 URLs). */
#include "bearer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/timeutil.h"

#define PREFIX_LEN (sizeof BEARER_PREFIX - 1)
#define ACTION "CallWithBearerToken"
#define VERSION_SUFFIX "&Version=1"
#define VERSION_LEN (sizeof VERSION_SUFFIX - 1)

/* The presigned query in the order botocore (and so the AWS token
 * generators and the reference example) emits it: the action, the auth
 * parameters in that order, the signature last. The signer emits aws-c-auth's
 * order (…Date, SignedHeaders, Expires…); the signature covers either. */
static void append_in_botocore_order(struct buf *url, const char *q, size_t n)
{
    static const char *const order[] = {
        "Action=",        "X-Amz-Algorithm=",     "X-Amz-Credential=",     "X-Amz-Date=",
        "X-Amz-Expires=", "X-Amz-SignedHeaders=", "X-Amz-Security-Token=", "X-Amz-Signature="};
    bool first = true;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t l = strlen(order[k]);
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && q[j] != '&')
                j++;
            if (j - i >= l && memcmp(q + i, order[k], l) == 0) {
                if (!first)
                    buf_addc(url, '&');
                buf_add(url, q + i, j - i);
                first = false;
            }
            i = j + 1;
        }
    }
}

enum brock_status bearer_mint(struct aws_credentials *creds, const char *region, int64_t now_s,
                              uint32_t expires_s, char **token, int64_t *valid_until_s, struct brock_err *e)
{
    *token = NULL;
    if (expires_s == 0)
        expires_s = BEARER_MAX_EXPIRES;
    if (expires_s > BEARER_MAX_EXPIRES)
        return err_set(e, BROCK_ERR_USAGE, "bearer: expiry %u s is over the %d s a Bedrock API key allows",
                       expires_s, BEARER_MAX_EXPIRES);
    if (!creds)
        return err_set(e, BROCK_ERR_CREDENTIALS, "bearer: no credentials to mint an API key with");
    if (creds->expiration_ms && creds->expiration_ms / 1000 <= now_s)
        return err_set(e, BROCK_ERR_CREDENTIALS, "bearer: the credentials from %s have expired",
                       creds->provider[0] ? creds->provider : "the provider");

    static const struct sigv4_header host = SIGV4_HEADER("host", BEARER_HOST);
    const struct sigv4_request req = {
        .method = "POST",
        .path = "/",
        .path_len = 1,
        .query = "Action=" ACTION,
        .query_len = sizeof "Action=" ACTION - 1,
        .headers = &host,
        .n_headers = 1,
    };
    const struct sigv4_params p = {
        .creds = creds,
        .region = region,
        .service = "bedrock",
        .time_s = now_s,
        .expires_s = expires_s,
    };
    struct sigv4_signer *s = sigv4_signer_new();
    const struct sigv4_output *out;
    enum brock_status st = sigv4_presign(s, &req, &p, &out, e);
    if (st != BROCK_OK) {
        sigv4_signer_free(s);
        return err_prefix(e, "bearer: minting an API key");
    }
    struct buf url = BUF_INIT(BEARER_MAX_TOKEN), tok = BUF_INIT(BEARER_MAX_TOKEN);
    buf_addstr(&url, BEARER_HOST "/?");
    append_in_botocore_order(&url, out->query, out->query_len);
    buf_addstr(&url, VERSION_SUFFIX);
    sigv4_signer_free(s);
    buf_addstr(&tok, BEARER_PREFIX);
    if (buf_status(&url) == BROCK_OK)
        base64_encode(&tok, url.ptr, url.len);
    st = buf_status(&url) != BROCK_OK ? buf_status(&url) : buf_status(&tok);
    buf_free_secure(&url);
    if (st != BROCK_OK) {
        buf_free_secure(&tok);
        return err_set(e, st, "bearer: API key would be over %zu bytes", (size_t)BEARER_MAX_TOKEN);
    }
    *token = buf_take(&tok);
    if (valid_until_s) {
        int64_t until = now_s + expires_s;
        if (creds->expiration_ms && creds->expiration_ms / 1000 < until)
            until = creds->expiration_ms / 1000;
        *valid_until_s = until;
    }
    return BROCK_OK;
}

/* ---- inspect ------------------------------------------------------------ */

static bool b64char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static bool is_digits(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* Copy a decoded parameter value into a fixed field; false if too long. */
static bool copy_field(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

/* Parse the decoded URL "host/?query" in u into info. */
static enum brock_status parse_url(const char *u, size_t n, struct bearer_info *info, size_t *query_off,
                                   struct brock_err *e)
{
    const char *slash = memchr(u, '/', n);
    size_t hlen = slash ? (size_t)(slash - u) : n;
    if (!slash || hlen == 0 || hlen >= sizeof info->host)
        return err_set(e, BROCK_ERR_PARSE,
                       "bearer: decoded key does not start with a host and '/' (offset 0)");
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)u[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'))
            return err_set(e, BROCK_ERR_PARSE, "bearer: decoded key has a bad host character at offset %zu",
                           i);
    }
    copy_field(info->host, sizeof info->host, u, hlen);
    if (hlen + 2 > n || u[hlen + 1] != '?')
        return err_set(e, BROCK_ERR_PARSE, "bearer: decoded key has no \"/?\" after the host (offset %zu)",
                       hlen);
    size_t q0 = hlen + 2;
    *query_off = q0;

    struct buf v = BUF_INIT(BEARER_MAX_TOKEN);
    bool seen_action = false, seen_algo = false, seen_cred = false, seen_date = false, seen_exp = false,
         seen_sh = false, seen_sig = false;
    enum brock_status st = BROCK_OK;
    for (size_t i = q0; i < n && st == BROCK_OK;) {
        size_t j = i;
        while (j < n && u[j] != '&')
            j++;
        const char *eq = memchr(u + i, '=', j - i);
        size_t nlen = eq ? (size_t)(eq - (u + i)) : j - i;
        const char *name = u + i;
        buf_reset(&v);
        if (eq)
            uri_decode(&v, eq + 1, (size_t)(u + j - eq - 1));
        const char *val = buf_cstr(&v);
        size_t vlen = v.len;
#define IS_NAME(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
        if (IS_NAME("Action")) {
            seen_action = true;
            if (vlen != sizeof ACTION - 1 || memcmp(val, ACTION, vlen) != 0)
                st = err_set(e, BROCK_ERR_PARSE,
                             "bearer: decoded key has Action other than " ACTION " (offset %zu)", i);
        } else if (IS_NAME("X-Amz-Algorithm")) {
            seen_algo = true;
            if (vlen != sizeof SIGV4_ALGORITHM - 1 || memcmp(val, SIGV4_ALGORITHM, vlen) != 0)
                st = err_set(
                    e, BROCK_ERR_PARSE,
                    "bearer: decoded key has X-Amz-Algorithm other than " SIGV4_ALGORITHM " (offset %zu)", i);
        } else if (IS_NAME("X-Amz-Credential")) {
            seen_cred = true;
            const char *part[5];
            size_t plen[5], k = 0, start = 0;
            for (size_t x = 0; x <= vlen && k <= 5; x++) {
                if (x == vlen || val[x] == '/') {
                    if (k < 5) {
                        part[k] = val + start;
                        plen[k] = x - start;
                    }
                    k++;
                    start = x + 1;
                }
            }
            if (k != 5 || plen[0] == 0 || plen[1] != 8 || !is_digits(part[1], 8) || plen[2] == 0 ||
                plen[3] == 0 || plen[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0 ||
                !copy_field(info->access_key_id, sizeof info->access_key_id, part[0], plen[0]) ||
                !copy_field(info->date, sizeof info->date, part[1], plen[1]) ||
                !copy_field(info->region, sizeof info->region, part[2], plen[2]) ||
                !copy_field(info->service, sizeof info->service, part[3], plen[3]))
                st = err_set(e, BROCK_ERR_PARSE,
                             "bearer: decoded key has a malformed X-Amz-Credential "
                             "(offset %zu)",
                             i);
        } else if (IS_NAME("X-Amz-Date")) {
            seen_date = true;
            int64_t ms;
            if (vlen != 16 || !time_parse_iso8601(val, &ms))
                st = err_set(e, BROCK_ERR_PARSE,
                             "bearer: decoded key has a malformed X-Amz-Date (offset %zu)", i);
            else {
                copy_field(info->amz_date, sizeof info->amz_date, val, vlen);
                info->issued_s = ms / 1000;
            }
        } else if (IS_NAME("X-Amz-Expires")) {
            seen_exp = true;
            if (vlen > 9 || !is_digits(val, vlen))
                st = err_set(e, BROCK_ERR_PARSE,
                             "bearer: decoded key has a malformed X-Amz-Expires (offset %zu)", i);
            else
                info->expires_s = strtoll(val, NULL, 10);
        } else if (IS_NAME("X-Amz-SignedHeaders")) {
            seen_sh = true;
        } else if (IS_NAME("X-Amz-Signature")) {
            seen_sig = true;
        } else if (IS_NAME("X-Amz-Security-Token")) {
            info->has_session_token = true;
        }
#undef IS_NAME
        i = j + 1;
    }
    buf_free_secure(&v);
    if (st != BROCK_OK)
        return st;
    const char *missing = !seen_action ? "Action"
                          : !seen_algo ? "X-Amz-Algorithm"
                          : !seen_cred ? "X-Amz-Credential"
                          : !seen_date ? "X-Amz-Date"
                          : !seen_exp  ? "X-Amz-Expires"
                          : !seen_sh   ? "X-Amz-SignedHeaders"
                          : !seen_sig  ? "X-Amz-Signature"
                                       : NULL;
    if (missing)
        return err_set(e, BROCK_ERR_PARSE, "bearer: decoded key has no %s parameter", missing);
    info->has_version =
        n - q0 >= VERSION_LEN && memcmp(u + n - VERSION_LEN, VERSION_SUFFIX, VERSION_LEN) == 0;
    info->expires_at_s = info->issued_s + info->expires_s;
    info->kind = BEARER_SHORT_TERM;
    return BROCK_OK;
}

/* Decode the key into *url (secret). */
static enum brock_status decode(const char *token, size_t len, struct buf *url, struct brock_err *e)
{
    if (len > BEARER_MAX_TOKEN)
        return err_set(e, BROCK_ERR_TOO_LARGE, "bearer: key is %zu bytes, over the %d-byte limit", len,
                       BEARER_MAX_TOKEN);
    const char *b = token + PREFIX_LEN;
    size_t n = len - PREFIX_LEN, end = n;
    while (end && b[end - 1] == '=')
        end--;
    if (n - end > 2)
        return err_set(e, BROCK_ERR_PARSE, "bearer: key has too much base64 padding (offset %zu)",
                       PREFIX_LEN + end);
    for (size_t i = 0; i < end; i++)
        if (!b64char((unsigned char)b[i]))
            return err_set(e, BROCK_ERR_PARSE, "bearer: key has a non-base64 byte at offset %zu",
                           PREFIX_LEN + i);
    if (n == 0 || base64_decode(url, b, n) != BROCK_OK)
        return err_set(e, BROCK_ERR_PARSE,
                       "bearer: key's base64 part (offset %zu, %zu bytes) does not decode", PREFIX_LEN, n);
    return BROCK_OK;
}

static bool has_prefix(const char *token, size_t len)
{
    return len >= PREFIX_LEN && memcmp(token, BEARER_PREFIX, PREFIX_LEN) == 0;
}

enum brock_status bearer_inspect(const char *token, size_t len, struct bearer_info *info, struct brock_err *e)
{
    memset(info, 0, sizeof *info);
    if (!has_prefix(token, len)) {
        info->kind = BEARER_OPAQUE;
        return BROCK_OK;
    }
    struct buf url = BUF_INIT(BEARER_MAX_TOKEN);
    size_t q0;
    enum brock_status st = decode(token, len, &url, e);
    if (st == BROCK_OK)
        st = parse_url(url.ptr, url.len, info, &q0, e);
    buf_free_secure(&url);
    return st;
}

enum brock_status bearer_verify(struct sigv4_signer *s, const char *token, size_t len,
                                const struct sigv4_verify_params *p, struct bearer_info *info,
                                struct sigv4_verified *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    memset(info, 0, sizeof *info);
    if (!has_prefix(token, len)) {
        info->kind = BEARER_OPAQUE;
        return err_set(e, BROCK_ERR_USAGE,
                       "bearer: not a short-term Bedrock API key (no " BEARER_PREFIX " prefix)");
    }
    struct buf url = BUF_INIT(BEARER_MAX_TOKEN);
    size_t q0 = 0;
    enum brock_status st = decode(token, len, &url, e);
    if (st == BROCK_OK)
        st = parse_url(url.ptr, url.len, info, &q0, e);
    if (st != BROCK_OK) {
        buf_free_secure(&url);
        return st;
    }
    if (info->expires_s > BEARER_MAX_EXPIRES) {
        buf_free_secure(&url);
        out->verdict = SIGV4_INCOMPLETE;
        st = err_set(e, BROCK_ERR_AUTH, "X-Amz-Expires of a Bedrock API key must be at most %d seconds.",
                     BEARER_MAX_EXPIRES);
        if (e) {
            snprintf(e->aws_code, sizeof e->aws_code, "%s", sigv4_verdict_code(SIGV4_INCOMPLETE));
            e->http_status = sigv4_verdict_http_status(SIGV4_INCOMPLETE);
        }
        return st;
    }
    /* "&Version=1" was appended after signing. */
    size_t qlen = url.len - q0 - (info->has_version ? VERSION_LEN : 0);
    const struct sigv4_header host = {"host", 4, info->host, strlen(info->host)};
    const struct sigv4_request req = {
        .method = "POST",
        .path = "/",
        .path_len = 1,
        .query = url.ptr + q0,
        .query_len = qlen,
        .headers = &host,
        .n_headers = 1,
    };
    st = sigv4_verify(s, &req, p, out, e);
    buf_free_secure(&url);
    return st;
}
