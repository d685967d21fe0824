/* fuzz_sigv4.c - the SigV4 canonicaliser, the verifier's Authorization and
 * presigned-query parsers, and the Bedrock API-key decoder.
 *
 * Input: one flag byte, then a request in the vector files' text form:
 *   "METHOD target\n" ("target" = path[?query]), "Name:value\n" lines (a line
 *   starting with a space or tab continues the previous value), a blank line,
 *   the body.
 * Flag bits: 1 presign, 2 credentials with a session token, 4 S3 path rules,
 * 8 add x-amz-content-sha256, 16 omit the session token, 32 also treat the
 * body as a Bedrock API key.
 *
 * Besides "no crash, no leak, no out-of-bounds read", it checks one property:
 * whatever the signer signs, the verifier accepts once the signer's headers
 * (or query) are put on the request the way a client does. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../src/aws/bearer.h"
#include "../src/aws/crypto.h"
#include "../src/aws/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_H 160

struct req {
    char *method, *path, *query, *body;
    size_t path_len, query_len, body_len, n;
    struct sigv4_header h[MAX_H];
};

/* Exact-size copies so the sanitizer sees any read past the end. */
static char *copy(const char *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void parse(const char *t, size_t len, struct req *r)
{
    memset(r, 0, sizeof *r);
    const char *nl = memchr(t, '\n', len);
    size_t ll = nl ? (size_t)(nl - t) : len;
    const char *sp = memchr(t, ' ', ll);
    size_t ml = sp ? (size_t)(sp - t) : ll;
    r->method = malloc(ml + 1);
    memcpy(r->method, t, ml);
    r->method[ml] = '\0';
    const char *tgt = sp ? sp + 1 : t + ll, *end = t + ll;
    const char *q = memchr(tgt, '?', (size_t)(end - tgt));
    r->path_len = (size_t)((q ? q : end) - tgt);
    r->path = copy(tgt, r->path_len);
    r->query_len = q ? (size_t)(end - q - 1) : 0;
    r->query = q ? copy(q + 1, r->query_len) : NULL;
    size_t pos = nl ? ll + 1 : len;
    while (pos < len) {
        const char *e = memchr(t + pos, '\n', len - pos);
        size_t l = e ? (size_t)(e - (t + pos)) : len - pos;
        const char *s = t + pos;
        pos += l + 1;
        if (l == 0)
            break;
        if ((s[0] == ' ' || s[0] == '\t') && r->n) {
            /* folded line: grow the previous value (kept contiguous in the input) */
            struct sigv4_header *h = &r->h[r->n - 1];
            h->value_len = (size_t)(s + l - h->value);
            continue;
        }
        if (r->n == MAX_H)
            continue;
        const char *colon = memchr(s, ':', l);
        size_t nlen = colon ? (size_t)(colon - s) : l;
        r->h[r->n++] = (struct sigv4_header){s, nlen, colon ? colon + 1 : s + l,
                                             colon ? (size_t)(s + l - colon - 1) : 0};
    }
    if (pos > len)
        pos = len;
    r->body_len = len - pos;
    r->body = copy(t + pos, r->body_len);
    /* header names and values as exact-size copies too */
    for (size_t i = 0; i < r->n; i++) {
        r->h[i].name = copy(r->h[i].name, r->h[i].name_len);
        r->h[i].value = copy(r->h[i].value, r->h[i].value_len);
    }
}

static void req_free(struct req *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->h[i].name);
        free((char *)r->h[i].value);
    }
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->body);
}

static bool named(const struct sigv4_header *h, const char *lit)
{
    return h->name_len == strlen(lit) && strncasecmp(h->name, lit, h->name_len) == 0;
}

static const char *k_token = "FuzzSessionToken/+=";

static bool lookup(void *ctx, const char *akid, struct sigv4_secret *out)
{
    (void)ctx;
    if (strcmp(akid, "AKIDFUZZ") != 0)
        return false;
    out->secret_access_key = "fuzz-secret";
    out->session_token = NULL;
    return true;
}

static bool contains(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(p + i, lit, l) == 0)
            return true;
    return false;
}

/* Sign, put the result on the request as a client would, verify. */
static void sign_then_verify(struct sigv4_signer *s, const struct req *r, unsigned flags)
{
    bool presign = flags & 1, token = flags & 2, s3 = flags & 4;
    struct aws_credentials *c =
        aws_credentials_new("AKIDFUZZ", "fuzz-secret", token ? k_token : NULL, 0, "fuzz");
    struct sigv4_request req = {.method = r->method,
                                .path = r->path,
                                .path_len = r->path_len,
                                .query = r->query,
                                .query_len = r->query_len,
                                .headers = r->h,
                                .n_headers = r->n,
                                .body = r->body,
                                .body_len = r->body_len};
    struct sigv4_params p = {.creds = c,
                             .region = "us-west-2",
                             .service = "bedrock",
                             .time_s = 1767225600,
                             .expires_s = 300,
                             .no_normalize_path = s3,
                             .no_double_encode = s3,
                             .add_content_sha256 = flags & 8,
                             .omit_session_token = flags & 16};
    const struct sigv4_output *o;
    struct brock_err e = {0};
    enum brock_status st =
        presign ? sigv4_presign(s, &req, &p, &o, &e) : sigv4_sign_headers(s, &req, &p, &o, &e);
    if (st != BROCK_OK) {
        if (e.msg[0] == '\0' || strstr(e.msg, "fuzz-secret") || strstr(e.msg, k_token))
            abort();
        aws_credentials_release(c);
        return;
    }
    /* A presigned query that already held auth parameters is the caller's
     * mistake (the verifier sees them twice); nothing to check then. */
    bool check = !(presign && contains(r->query ? r->query : "", r->query_len, "X-Amz-")) &&
                 strlen(o->signed_headers) <= SIGV4_MAX_SIGNED_LIST;
    struct sigv4_header h[MAX_H + SIGV4_MAX_ADDED];
    size_t n = 0, tokens = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct sigv4_header *x = &r->h[i];
        bool replaced = false;
        for (size_t k = 0; k < o->n_headers; k++)
            replaced |= x->name_len == o->headers[k].name_len &&
                        strncasecmp(x->name, o->headers[k].name, x->name_len) == 0;
        /* the stale headers the signer left out, which a client drops */
        if (replaced || named(x, "authorization") || named(x, "x-amz-date") ||
            (token && named(x, "x-amz-security-token")) ||
            (!presign && (flags & 8) && named(x, "x-amz-content-sha256")))
            continue;
        /* left in and signed as ordinary headers: a content hash the server
         * checks against the body, or tokens it cannot choose between */
        if (!presign && named(x, "x-amz-content-sha256"))
            check = false;
        if (named(x, "x-amz-security-token") && ++tokens > 1 && !presign)
            check = false;
        h[n++] = *x;
    }
    for (size_t k = 0; k < o->n_headers; k++)
        h[n++] = o->headers[k];
    struct sigv4_request got = req;
    got.headers = h;
    got.n_headers = n;
    if (presign) {
        got.query = o->query;
        got.query_len = o->query_len;
    }
    struct sigv4_verify_params vp = {.lookup = lookup,
                                     .now_s = 1767225600,
                                     .no_normalize_path = s3,
                                     .no_double_encode = s3,
                                     .allow_unsigned_token = true};
    struct sigv4_verified out;
    struct sigv4_signer *v = sigv4_signer_new();
    st = sigv4_verify(v, &got, &vp, &out, &e);
    sigv4_signer_free(v);
    if (check && st != BROCK_OK && !(st == BROCK_ERR_TOO_LARGE)) {
        fprintf(stderr, "signed request does not verify: %s (%s)\n", e.msg, e.aws_code);
        abort();
    }
    aws_credentials_release(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sigv4_signer *signer;
    if (!signer) {
        crypto_global_init();
        signer = sigv4_signer_new(); /* reused across inputs, as a client does */
    }
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    struct req r;
    parse((const char *)data + 1, size - 1, &r);

    sign_then_verify(signer, &r, flags);

    /* the raw input as a received request */
    struct sigv4_request req = {.method = r.method,
                                .path = r.path,
                                .path_len = r.path_len,
                                .query = r.query,
                                .query_len = r.query_len,
                                .headers = r.h,
                                .n_headers = r.n,
                                .body = r.body,
                                .body_len = r.body_len};
    struct sigv4_verify_params vp = {.lookup = lookup,
                                     .now_s = 1767225600,
                                     .allow_unsigned_token = flags & 16,
                                     .no_normalize_path = flags & 4,
                                     .no_double_encode = flags & 4,
                                     .unsigned_payload = flags & 8};
    struct sigv4_verified out;
    struct brock_err e = {0};
    if (sigv4_verify(signer, &req, &vp, &out, &e) != BROCK_OK && e.msg[0] == '\0')
        abort();

    if (flags & 32) {
        struct bearer_info info;
        if (bearer_inspect(r.body, r.body_len, &info, &e) == BROCK_OK && info.kind == BEARER_SHORT_TERM &&
            info.expires_at_s != info.issued_s + info.expires_s)
            abort();
        if (bearer_verify(signer, r.body, r.body_len, &vp, &info, &out, &e) != BROCK_OK && e.msg[0] == '\0')
            abort();
    }
    req_free(&r);
    return 0;
}
