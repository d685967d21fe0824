/* sso.c - IAM Identity Center: token cache file, OIDC refresh,
 * GetRoleCredentials (aws-wire-reference 3.5). */
#include "sso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "../util/timeutil.h"
#include "creds_impl.h"

/* ---- SHA-1 (FIPS 180-4), for the cache file name only ------------------------
 * crypto.h has no SHA-1 and is not ours to change; the name is not a security
 * decision (the SDKs chose SHA-1 for it), so a small local version does. */

struct sha1 {
    uint32_t h[5];
    uint64_t bytes;
    uint8_t blk[64];
    size_t n;
};

static uint32_t rol32(uint32_t x, int s)
{
    return (x << s) | (x >> (32 - s));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999u;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6u;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n)
{
    s->bytes += n;
    while (n) {
        size_t take = 64 - s->n < n ? 64 - s->n : n;
        memcpy(s->blk + s->n, p, take);
        s->n += take;
        p += take;
        n -= take;
        if (s->n == 64) {
            sha1_block(s->h, s->blk);
            s->n = 0;
        }
    }
}

void sso_sha1_hex(const void *p, size_t n, char out[SSO_SHA1_HEX_LEN + 1])
{
    struct sha1 s = {{0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u}, 0, {0}, 0};
    sha1_update(&s, p, n);
    uint64_t bits = s.bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t padn = (s.n < 56 ? 56 - s.n : 120 - s.n);
    for (int i = 0; i < 8; i++)
        pad[padn + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(&s, pad, padn + 8);
    uint8_t d[20];
    for (int i = 0; i < 5; i++) {
        d[4 * i] = (uint8_t)(s.h[i] >> 24);
        d[4 * i + 1] = (uint8_t)(s.h[i] >> 16);
        d[4 * i + 2] = (uint8_t)(s.h[i] >> 8);
        d[4 * i + 3] = (uint8_t)s.h[i];
    }
    hex_encode(d, sizeof d, out);
}

char *sso_cache_path(const char *dir, const char *key)
{
    char name[SSO_SHA1_HEX_LEN + 6];
    sso_sha1_hex(key, strlen(key), name);
    memcpy(name + SSO_SHA1_HEX_LEN, ".json", 6);
    return fs_join(dir, name);
}

/* ---- the token cache ---------------------------------------------------------- */

void sso_token_cleanup(struct sso_token *t)
{
    free(t->start_url);
    free(t->region);
    xfree_secret(t->access_token);
    free(t->client_id);
    xfree_secret(t->client_secret);
    free(t->registration_expires_at);
    xfree_secret(t->refresh_token);
    memset(t, 0, sizeof *t);
}

static char *opt_str(const json_t *o, const char *key)
{
    const char *v = json_str(o, key);
    return v && *v ? xstrdup(v) : NULL;
}

static bool token_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CREDS_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static enum brock_status load_json(const char *text, size_t n, const char *what, json_t **out, struct brock_err *e)
{
    *out = NULL;
    if (n > SSO_MAX_BODY)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu bytes", what, SSO_MAX_BODY);
    json_error_t je;
    json_t *root = json_loadb(text ? text : "", n, JSON_REJECT_DUPLICATES, &je);
    if (!root) /* jansson's own text may quote the input, which holds tokens */
        return err_set(e, BROCK_ERR_PARSE, "%s: not valid JSON (line %d, column %d)", what, je.line, je.column);
    if (!json_is_object(root)) {
        creds_json_free_secure(root);
        return err_set(e, BROCK_ERR_PARSE, "%s: expected a JSON object", what);
    }
    *out = root;
    return BROCK_OK;
}

enum brock_status sso_token_parse(const char *text, size_t n, const char *what, struct sso_token *out,
                                  struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *root;
    enum brock_status st = load_json(text, n, what, &root, e);
    if (st != BROCK_OK)
        return st;
    const char *tok = json_str(root, "accessToken");
    const char *exp = json_str(root, "expiresAt");
    if (!tok || !*tok)
        st = err_set(e, BROCK_ERR_PARSE, "%s: missing accessToken", what);
    else if (!token_ok(tok))
        st = err_set(e, BROCK_ERR_PARSE, "%s: accessToken is not 1-%d printable characters without blanks", what,
                     CREDS_TOKEN_MAX);
    else if (!exp || !time_parse_iso8601(exp, &out->expires_at_ms))
        st = err_set(e, BROCK_ERR_PARSE, "%s: expiresAt is missing or not an ISO-8601 time", what);
    if (st == BROCK_OK) {
        out->access_token = xstrdup(tok);
        out->start_url = opt_str(root, "startUrl");
        out->region = opt_str(root, "region");
        out->client_id = opt_str(root, "clientId");
        out->client_secret = opt_str(root, "clientSecret");
        out->refresh_token = opt_str(root, "refreshToken");
        out->registration_expires_at = opt_str(root, "registrationExpiresAt");
        if (out->registration_expires_at &&
            !time_parse_iso8601(out->registration_expires_at, &out->registration_expires_at_ms))
            out->registration_expires_at_ms = 0;
    }
    creds_json_free_secure(root);
    return st;
}

enum brock_status sso_token_load(const char *path, struct sso_token *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    struct buf b = BUF_INIT(SSO_MAX_CACHE_FILE);
    enum brock_status st = fs_read_file(path, SSO_MAX_CACHE_FILE, &b, e);
    if (st == BROCK_OK) {
        char shown[512];
        st = sso_token_parse(b.ptr, b.len, creds_show_path(path, shown, sizeof shown), out, e);
    }
    buf_free_secure(&b);
    return st;
}

static void put(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

enum brock_status sso_token_save(const char *path, const struct sso_token *t, struct brock_err *e)
{
    char exp[21];
    time_fmt_iso8601(t->expires_at_ms / 1000, exp);
    json_t *o = json_object();
    put(o, "startUrl", t->start_url);
    put(o, "region", t->region);
    put(o, "accessToken", t->access_token);
    put(o, "expiresAt", exp);
    put(o, "clientId", t->client_id);
    put(o, "clientSecret", t->client_secret);
    put(o, "registrationExpiresAt", t->registration_expires_at);
    put(o, "refreshToken", t->refresh_token);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    creds_json_free_secure(o);
    if (!text)
        return err_set(e, BROCK_ERR_INTERNAL, "cannot serialise the SSO token");
    enum brock_status st = fs_write_atomic(path, text, strlen(text), 0600, e);
    xfree_secret(text);
    return st;
}

bool sso_token_refreshable(const struct sso_token *t, int64_t now_ms)
{
    return t->refresh_token && t->client_id && t->client_secret && t->registration_expires_at_ms > now_ms;
}

/* ---- the calls -------------------------------------------------------------------- */

static void response_free_secure(struct aws_response *r)
{
    if (r->http.body.ptr)
        secure_wipe(r->http.body.ptr, r->http.body.len);
    aws_response_free(r);
}

enum brock_status sso_parse_create_token(const char *json, size_t n, int64_t now_ms, struct sso_token *t,
                                         struct brock_err *e)
{
    const char *what = "SSO OIDC CreateToken answer";
    json_t *root;
    enum brock_status st = load_json(json, n, what, &root, e);
    if (st != BROCK_OK)
        return st;
    const char *tok = json_str(root, "accessToken");
    const char *refresh = json_str(root, "refreshToken");
    int64_t expires_in = 0;
    if (!tok || !token_ok(tok))
        st = err_set(e, BROCK_ERR_PARSE, "%s: accessToken is missing or not 1-%d printable characters", what,
                     CREDS_TOKEN_MAX);
    else if (!json_int(root, "expiresIn", &expires_in) || expires_in <= 0 || expires_in > 366LL * 86400)
        st = err_set(e, BROCK_ERR_PARSE, "%s: expiresIn is missing or not a number of seconds up to a year", what);
    else if (refresh && !token_ok(refresh))
        st = err_set(e, BROCK_ERR_PARSE, "%s: refreshToken is not 1-%d printable characters", what, CREDS_TOKEN_MAX);
    if (st == BROCK_OK) {
        xfree_secret(t->access_token);
        t->access_token = xstrdup(tok);
        t->expires_at_ms = now_ms + expires_in * 1000;
        if (refresh) {
            xfree_secret(t->refresh_token);
            t->refresh_token = xstrdup(refresh);
        }
    }
    creds_json_free_secure(root);
    return st;
}

enum brock_status sso_oidc_refresh(struct aws_client *c, struct sso_token *t, int64_t now_ms, struct brock_err *e)
{
    if (!t->refresh_token || !t->client_id || !t->client_secret)
        return err_set(e, BROCK_ERR_USAGE, "the SSO token has no refresh token or client registration");
    json_t *o = json_object();
    put(o, "clientId", t->client_id);
    put(o, "clientSecret", t->client_secret);
    put(o, "grantType", "refresh_token");
    put(o, "refreshToken", t->refresh_token);
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    creds_json_free_secure(o);
    if (!body)
        return err_set(e, BROCK_ERR_INTERNAL, "cannot serialise the OIDC request");
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st = http_headers_add(&h, "Content-Type", "application/json", e);
    struct aws_response r;
    aws_response_init(&r);
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = ENDPOINT_SVC_SSO_OIDC,
            .method = "POST",
            .path = "/token",
            .headers = &h,
            .body = body,
            .body_len = strlen(body),
            .protocol = AWSERR_REST_JSON,
            .auth = AWS_AUTH_NONE,
            .max_body = SSO_MAX_BODY,
        };
        st = aws_client_send(c, &req, &r, e);
    }
    if (st == BROCK_OK)
        st = sso_parse_create_token(r.http.body.ptr, r.http.body.len, now_ms, t, e);
    if (st != BROCK_OK)
        err_prefix(e, "refreshing the IAM Identity Center token");
    response_free_secure(&r);
    http_headers_cleanup(&h);
    xfree_secret(body);
    return st;
}

enum brock_status sso_parse_role_credentials(const char *json, size_t n, const char *provider,
                                             struct aws_credentials **out, struct brock_err *e)
{
    *out = NULL;
    const char *what = "IAM Identity Center GetRoleCredentials answer";
    json_t *root;
    enum brock_status st = load_json(json, n, what, &root, e);
    if (st != BROCK_OK)
        return st;
    json_t *rc = json_object_get(root, "roleCredentials");
    const char *akid = json_str(rc, "accessKeyId");
    const char *secret = json_str(rc, "secretAccessKey");
    const char *token = json_str(rc, "sessionToken");
    int64_t exp = 0;
    if (!json_is_object(rc))
        st = err_set(e, BROCK_ERR_PARSE, "%s: missing roleCredentials", what);
    else if (!akid)
        st = err_set(e, BROCK_ERR_PARSE, "%s: missing accessKeyId", what);
    else if (!secret)
        st = err_set(e, BROCK_ERR_PARSE, "%s: missing secretAccessKey", what);
    else if (!token || !*token)
        st = err_set(e, BROCK_ERR_PARSE, "%s: missing sessionToken", what);
    else if (!json_int(rc, "expiration", &exp) || exp <= 0)
        st = err_set(e, BROCK_ERR_PARSE, "%s: expiration is missing or not a time in epoch milliseconds", what);
    else
        st = creds_check_strings(akid, secret, token, what, e);
    if (st == BROCK_OK)
        *out = creds_make(akid, secret, token, exp, NULL, provider ? provider : "IAM Identity Center");
    creds_json_free_secure(root);
    return st;
}

enum brock_status sso_get_role_credentials(struct aws_client *c, const char *access_token, const char *account_id,
                                           const char *role_name, const char *provider,
                                           struct aws_credentials **out, struct brock_err *e)
{
    *out = NULL;
    struct buf q = BUF_INIT(4096);
    buf_addstr(&q, "role_name=");
    uri_encode(&q, role_name, strlen(role_name), false);
    buf_addstr(&q, "&account_id=");
    uri_encode(&q, account_id, strlen(account_id), false);
    if (buf_status(&q) != BROCK_OK) {
        buf_free(&q);
        return err_set(e, BROCK_ERR_CONFIG, "sso_role_name / sso_account_id too long");
    }
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st = http_headers_add(&h, "x-amz-sso_bearer_token", access_token, e);
    struct aws_response r;
    aws_response_init(&r);
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = ENDPOINT_SVC_SSO,
            .method = "GET",
            .path = "/federation/credentials",
            .query = buf_cstr(&q),
            .headers = &h,
            .protocol = AWSERR_REST_JSON,
            .auth = AWS_AUTH_NONE,
            .max_body = SSO_MAX_BODY,
        };
        st = aws_client_send(c, &req, &r, e);
    }
    if (st == BROCK_OK)
        st = sso_parse_role_credentials(r.http.body.ptr, r.http.body.len, provider, out, e);
    if (st == BROCK_OK && *account_id)
        (*out)->account_id = xstrdup(account_id);
    response_free_secure(&r);
    http_headers_cleanup(&h);
    buf_free(&q);
    return st;
}
