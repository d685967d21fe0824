/* emulator_h2sig.c - SigV4 verification when SignedHeaders names HTTP/2
 * pseudo-headers.
 *
 * Over HTTP/2 the AWS SDK for JavaScript (its host-header middleware) sends
 * no `host` header; it sets `:authority` and signs it, so SignedHeaders reads
 * ":authority;amz-sdk-invocation-id;...". AWS accepts that. sigv4_verify()
 * (src/aws/sigv4.c) only accepts HTTP token names and insists on `host`, so
 * until it learns pseudo-headers the emulator verifies this one shape here:
 * header-form signatures (Authorization + X-Amz-Date) whose SignedHeaders
 * contain a name starting with ':'. The canonical request follows
 * aws-wire-reference.md 2.1 (non-S3 services: the path as received is
 * URI-encoded once more; no dot-segment removal is needed for the emulator's
 * routes, which have none), the verdicts and messages those of sigv4.h.
 *
 * Nothing here logs or returns a secret: messages are AWS's fixed texts. */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../aws/crypto.h"
#include "../util/alloc.h"
#include "../util/codec.h"

static const char k_mismatch[] = "The request signature we calculated does not match the signature you provided. "
                                 "Check your AWS Secret Access Key and signing method.";
static const char k_bad_key[] = "The security token included in the request is invalid.";

bool emu_sigv4_has_pseudo(const char *authz)
{
    if (!authz || strncmp(authz, SIGV4_ALGORITHM " ", sizeof SIGV4_ALGORITHM))
        return false;
    const char *sh = strstr(authz, "SignedHeaders=");
    if (!sh)
        return false;
    sh += 14;
    size_t n = strcspn(sh, ", ");
    for (size_t i = 0; i < n; i++)
        if (sh[i] == ':' && (i == 0 || sh[i - 1] == ';'))
            return true;
    return false;
}

static enum brock_status reject(struct sigv4_verified *out, struct brock_err *e, enum sigv4_verdict v,
                                const char *fmt, ...) BROCK_PRINTF(4, 5);

static enum brock_status reject(struct sigv4_verified *out, struct brock_err *e, enum sigv4_verdict v,
                                const char *fmt, ...)
{
    out->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    err_setv(e, BROCK_ERR_AUTH, fmt, ap);
    va_end(ap);
    if (e) {
        snprintf(e->aws_code, sizeof e->aws_code, "%s", sigv4_verdict_code(v));
        e->http_status = sigv4_verdict_http_status(v);
    }
    return BROCK_ERR_AUTH;
}

/* One "Name=value" part of the Authorization header. */
static bool auth_part(const char *authz, const char *name, const char **v, size_t *n)
{
    size_t nl = strlen(name);
    const char *p = authz + sizeof SIGV4_ALGORITHM;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            *v = p + nl + 1;
            *n = len - nl - 1;
            while (*n && (*v)[*n - 1] == ' ')
                (*n)--;
            return true;
        }
        p += len;
    }
    return false;
}

static bool view_is(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && !strncasecmp(p, lit, n);
}

/* The value of the only header `name` (NULL if absent or repeated), copied. */
static bool one_header(const struct sigv4_request *req, const char *name, char *out, size_t len)
{
    size_t found = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sigv4_header *h = &req->headers[i];
        if (!view_is(h->name, h->name_len, name))
            continue;
        if (found++ || h->value_len >= len)
            return false;
        memcpy(out, h->value, h->value_len);
        out[h->value_len] = '\0';
    }
    return found == 1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trimmed, inner whitespace runs collapsed to one space. */
static void put_value(struct buf *b, const char *v, size_t n)
{
    while (n && is_space(*v))
        v++, n--;
    while (n && is_space(v[n - 1]))
        n--;
    for (size_t i = 0; i < n;) {
        if (is_space(v[i])) {
            while (is_space(v[i]))
                i++;
            buf_addc(b, ' ');
        } else {
            buf_addc(b, v[i++]);
        }
    }
}

struct qparam {
    char *name, *value;
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* The canonical query: every name and value decoded, encoded once, sorted. */
static void put_query(struct buf *b, const char *q, size_t qn)
{
    size_t cap = 0, n = 0;
    struct qparam *v = NULL;
    const char *qend = q + qn;
    while (q < qend) {
        const char *amp = memchr(q, '&', (size_t)(qend - q));
        size_t len = amp ? (size_t)(amp - q) : (size_t)(qend - q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t kl = eq ? (size_t)(eq - q) : len;
            struct buf dk = BUF_INIT(SIGV4_MAX_QUERY), dv = BUF_INIT(SIGV4_MAX_QUERY);
            struct buf ek = BUF_INIT(3 * SIGV4_MAX_QUERY), ev = BUF_INIT(3 * SIGV4_MAX_QUERY);
            uri_decode(&dk, q, kl);
            if (eq)
                uri_decode(&dv, eq + 1, len - kl - 1);
            uri_encode(&ek, buf_cstr(&dk), dk.len, false);
            uri_encode(&ev, buf_cstr(&dv), dv.len, false);
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                v = xrealloc(v, cap * sizeof *v);
            }
            v[n].name = buf_take(&ek);
            v[n].value = buf_take(&ev);
            n++;
            buf_free(&dk);
            buf_free(&dv);
        }
        q += len + (amp ? 1 : 0);
    }
    if (n)
        qsort(v, n, sizeof *v, qparam_cmp);
    for (size_t i = 0; i < n; i++) {
        buf_addf(b, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

static enum brock_status verify(const struct sigv4_request *req, const char *authority, char *authz,
                                const struct sigv4_verify_params *p, struct sigv4_verified *out, struct brock_err *e);

static void hmac(const void *key, size_t klen, const char *msg, size_t n, uint8_t out[SHA256_LEN])
{
    crypto_hmac_sha256(key, klen, msg, n, out);
}

enum brock_status emu_sigv4_verify_pseudo(const struct sigv4_request *req, const char *authority,
                                          const struct sigv4_verify_params *p, struct sigv4_verified *out,
                                          struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    char *authz = xmalloc(SIGV4_MAX_SIGNED_LIST + 1024);
    enum brock_status st = verify(req, authority, authz, p, out, e);
    free(authz);
    return st;
}

static enum brock_status verify(const struct sigv4_request *req, const char *authority, char *authz,
                                const struct sigv4_verify_params *p, struct sigv4_verified *out, struct brock_err *e)
{
    if (!one_header(req, "authorization", authz, SIGV4_MAX_SIGNED_LIST + 1024))
        return reject(out, e, SIGV4_INCOMPLETE, "The request must have exactly one Authorization header.");
    if (strncmp(authz, SIGV4_ALGORITHM " ", sizeof SIGV4_ALGORITHM))
        return reject(out, e, SIGV4_INCOMPLETE, "Unsupported Authorization type.");
    const char *cred, *signed_list, *sig;
    size_t cred_n, list_n, sig_n;
    if (!auth_part(authz, "Credential", &cred, &cred_n) || !auth_part(authz, "SignedHeaders", &signed_list, &list_n) ||
        !auth_part(authz, "Signature", &sig, &sig_n))
        return reject(out, e, SIGV4_INCOMPLETE,
                      "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.");
    if (sig_n != SHA256_HEX_LEN || list_n > SIGV4_MAX_SIGNED_LIST)
        return reject(out, e, SIGV4_INCOMPLETE, "The Signature or SignedHeaders parameter is malformed.");

    /* Credential=AKID/YYYYMMDD/region/service/aws4_request */
    char cbuf[SIGV4_MAX_AKID + SIGV4_MAX_REGION + SIGV4_MAX_SERVICE + 40];
    if (cred_n >= sizeof cbuf)
        return reject(out, e, SIGV4_INCOMPLETE, "Credential is malformed.");
    memcpy(cbuf, cred, cred_n);
    cbuf[cred_n] = '\0';
    char *parts[5];
    size_t np = 0;
    for (char *save = NULL, *t = strtok_r(cbuf, "/", &save); t && np < 5; t = strtok_r(NULL, "/", &save))
        parts[np++] = t;
    if (np != 5 || strcmp(parts[4], "aws4_request") || strlen(parts[0]) > SIGV4_MAX_AKID || strlen(parts[1]) != 8 ||
        strlen(parts[2]) > SIGV4_MAX_REGION || strlen(parts[3]) > SIGV4_MAX_SERVICE)
        return reject(out, e, SIGV4_INCOMPLETE,
                      "Credential is malformed: expected <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.");
    snprintf(out->access_key_id, sizeof out->access_key_id, "%s", parts[0]);
    snprintf(out->date, sizeof out->date, "%s", parts[1]);
    snprintf(out->region, sizeof out->region, "%s", parts[2]);
    snprintf(out->service, sizeof out->service, "%s", parts[3]);

    char amz[32];
    int64_t t_ms = 0;
    if (!one_header(req, "x-amz-date", amz, sizeof amz) || strlen(amz) != 16 || !time_parse_iso8601(amz, &t_ms))
        return reject(out, e, SIGV4_INCOMPLETE,
                      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".");
    memcpy(out->amz_date, amz, 17);
    out->request_time_s = t_ms / 1000;
    if (memcmp(out->date, amz, 8))
        return reject(out, e, SIGV4_MISMATCH,
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.");

    struct sigv4_secret sec = {NULL, NULL};
    if (!p->lookup || !p->lookup(p->lookup_ctx, out->access_key_id, &sec) || !sec.secret_access_key ||
        strlen(sec.secret_access_key) > SIGV4_MAX_SECRET)
        return reject(out, e, SIGV4_UNKNOWN_KEY, "%s", k_bad_key);
    int64_t skew = p->max_skew_s > 0 ? p->max_skew_s : SIGV4_DEFAULT_SKEW;
    if (out->request_time_s > p->now_s + skew || out->request_time_s < p->now_s - skew) {
        char nows[17];
        time_fmt_amz(p->now_s, nows);
        return reject(out, e, SIGV4_EXPIRED, "Signature expired: %s is now earlier than %s (%lld min. window)", amz,
                      nows, (long long)(skew / 60));
    }
    size_t n_tok = 0;
    const struct sigv4_header *token = NULL;
    for (size_t i = 0; i < req->n_headers; i++)
        if (view_is(req->headers[i].name, req->headers[i].name_len, "x-amz-security-token")) {
            token = &req->headers[i];
            n_tok++;
        }
    out->has_session_token = n_tok > 0;
    if (n_tok > 1)
        return reject(out, e, SIGV4_INCOMPLETE, "The request has more than one X-Amz-Security-Token header.");
    if (sec.session_token && (!token || token->value_len != strlen(sec.session_token) ||
                              memcmp(token->value, sec.session_token, token->value_len)))
        return reject(out, e, SIGV4_BAD_TOKEN, "%s", k_bad_key);

    /* the canonical request */
    if (req->path_len > SIGV4_MAX_PATH || req->query_len > SIGV4_MAX_QUERY || req->n_headers > SIGV4_MAX_HEADERS)
        return reject(out, e, SIGV4_TOO_LARGE, "The request is too large to verify.");
    struct buf cr = BUF_INIT(SIGV4_MAX_HEADER_BYTES + 4 * SIGV4_MAX_PATH + 4 * SIGV4_MAX_QUERY + 1024);
    buf_addf(&cr, "%s\n", req->method);
    uri_encode(&cr, req->path, req->path_len, true);
    buf_addc(&cr, '\n');
    put_query(&cr, req->query ? req->query : "", req->query_len);
    buf_addc(&cr, '\n');
    enum brock_status st = BROCK_OK;
    bool host = false;
    for (size_t i = 0, start = 0; i <= list_n && st == BROCK_OK; i++) {
        if (i < list_n && signed_list[i] != ';')
            continue;
        size_t nl = i - start;
        char name[128];
        if (!nl || nl >= sizeof name) {
            st = reject(out, e, SIGV4_INCOMPLETE, "SignedHeaders has an empty or invalid name at offset %zu.", start);
            break;
        }
        memcpy(name, signed_list + start, nl);
        name[nl] = '\0';
        start = i + 1;
        buf_addf(&cr, "%s:", name);
        size_t found = 0;
        if (name[0] == ':') {
            const char *v = !strcmp(name, ":authority") ? authority
                            : !strcmp(name, ":method")  ? req->method
                            : !strcmp(name, ":scheme")  ? "http"
                                                        : NULL;
            if (v && *v) {
                put_value(&cr, v, strlen(v));
                found = 1;
            }
            host |= !strcmp(name, ":authority");
        } else {
            for (size_t h = 0; h < req->n_headers; h++) {
                const struct sigv4_header *rh = &req->headers[h];
                if (!view_is(rh->name, rh->name_len, name))
                    continue;
                if (found++)
                    buf_addc(&cr, ',');
                put_value(&cr, rh->value, rh->value_len);
            }
            host |= !strcmp(name, "host");
        }
        buf_addc(&cr, '\n');
        if (!found)
            st = reject(out, e, SIGV4_MISMATCH, "%s (The signed header '%s' is not in the request.)", k_mismatch, name);
    }
    if (st == BROCK_OK && !host)
        st = reject(out, e, SIGV4_INCOMPLETE, "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    char body_hash[SHA256_HEX_LEN + 1], claimed[SHA256_HEX_LEN + 2];
    crypto_sha256_hex(req->body ? req->body : "", req->body_len, body_hash);
    bool has_claim = false;
    for (size_t h = 0; h < req->n_headers; h++)
        has_claim |= view_is(req->headers[h].name, req->headers[h].name_len, "x-amz-content-sha256");
    if (st == BROCK_OK && has_claim &&
        (!one_header(req, "x-amz-content-sha256", claimed, sizeof claimed) || strcmp(claimed, body_hash)))
        st = reject(out, e, SIGV4_MISMATCH,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.");
    if (st == BROCK_OK) {
        buf_add(&cr, "\n", 1);
        buf_add(&cr, signed_list, list_n);
        buf_addc(&cr, '\n');
        buf_addstr(&cr, body_hash);
        if (buf_status(&cr) != BROCK_OK)
            st = reject(out, e, SIGV4_TOO_LARGE, "The request is too large to verify.");
    }
    if (st != BROCK_OK) {
        buf_free_secure(&cr);
        return st;
    }

    char cr_hex[SHA256_HEX_LEN + 1];
    crypto_sha256_hex(cr.ptr, cr.len, cr_hex);
    buf_free_secure(&cr);
    char sts[256];
    int sl = snprintf(sts, sizeof sts, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz, out->date, out->region,
                      out->service, cr_hex);
    char kbuf[SIGV4_MAX_SECRET + 8];
    int kl = snprintf(kbuf, sizeof kbuf, "AWS4%s", sec.secret_access_key);
    uint8_t k1[SHA256_LEN], k2[SHA256_LEN], k3[SHA256_LEN], k4[SHA256_LEN], d[SHA256_LEN];
    hmac(kbuf, (size_t)kl, out->date, 8, k1);
    hmac(k1, sizeof k1, out->region, strlen(out->region), k2);
    hmac(k2, sizeof k2, out->service, strlen(out->service), k3);
    hmac(k3, sizeof k3, "aws4_request", 12, k4);
    hmac(k4, sizeof k4, sts, (size_t)sl, d);
    char mine[SHA256_HEX_LEN + 1];
    hex_encode(d, sizeof d, mine);
    unsigned char diff = 0;
    for (size_t i = 0; i < SHA256_HEX_LEN; i++)
        diff |= (unsigned char)(mine[i] ^ (char)tolower((unsigned char)sig[i]));
    secure_wipe(kbuf, sizeof kbuf);
    secure_wipe(k1, sizeof k1);
    secure_wipe(k2, sizeof k2);
    secure_wipe(k3, sizeof k3);
    secure_wipe(k4, sizeof k4);
    secure_wipe(mine, sizeof mine);
    if (diff)
        return reject(out, e, SIGV4_MISMATCH, "%s", k_mismatch);
    out->verdict = SIGV4_VALID;
    return BROCK_OK;
}
