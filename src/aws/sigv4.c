/* sigv4.c - AWS Signature Version 4 signing and verification.
 *
 * One pipeline serves both directions: collect the headers to sign, build the
 * canonical request in a buffer the signer owns, hash it, build the string to
 * sign, HMAC it with the cached signing key. Signing picks the headers by
 * rule; verification picks exactly the ones the client listed.
 *
 * Speed: the canonical request is written through a raw cursor after one
 * reserve of its worst-case size, so a call makes no allocation once the
 * buffers have grown; a handful of headers is insertion-sorted; the X-Amz-Date
 * day part and the signing key are cached; header values are copied eight
 * bytes at a time while no byte can be whitespace. */
#include "sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/timeutil.h"
#include "crypto.h"

/* ---- byte classes ------------------------------------------------------- */

enum { C_UNRESERVED = 1, C_TCHAR = 2, C_SPACE = 4, C_PATH = 8 };

/* C_UNRESERVED: A-Z a-z 0-9 - _ . ~ (RFC 3986); C_TCHAR: an HTTP token
 * character (RFC 9110); C_SPACE: ASCII whitespace (space \t \n \v \f \r);
 * C_PATH: kept as is when a path is encoded again (unreserved and '/'). */
/* clang-format off */
static const uint8_t k_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 2, 0, 2, 2, 2, 2, 2, 0, 0, 2, 2, 0, 11, 11, 8,
    11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 0, 0, 0, 0, 0, 0,
    0, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11,
    11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 0, 0, 0, 2, 11,
    2, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11,
    11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 0, 2, 0, 11, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */

static const char k_hex_upper[] = "0123456789ABCDEF";

/* Lowercase hex of a SHA-256 digest, NUL-terminated. With SSE2 (every
 * x86-64): split each byte into two nibbles, interleave, add '0' or 'a' - 10.
 * Elsewhere: four bytes at a time, each nibble spread into a byte of a 64-bit
 * word and turned into a digit with carry-free adds. */
#if defined(__SSE2__)
static void hex32(const uint8_t d[SHA256_LEN], char out[SHA256_HEX_LEN + 1])
{
    const __m128i lowmask = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
    const __m128i zero = _mm_set1_epi8('0'), gap = _mm_set1_epi8('a' - '0' - 10);
    for (size_t i = 0; i < SHA256_LEN; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + i));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), lowmask), lo = _mm_and_si128(x, lowmask);
        __m128i a = _mm_unpacklo_epi8(hi, lo), b = _mm_unpackhi_epi8(hi, lo);
        a = _mm_add_epi8(_mm_add_epi8(a, zero), _mm_and_si128(_mm_cmpgt_epi8(a, nine), gap));
        b = _mm_add_epi8(_mm_add_epi8(b, zero), _mm_and_si128(_mm_cmpgt_epi8(b, nine), gap));
        _mm_storeu_si128((__m128i *)(void *)(out + 2 * i), a);
        _mm_storeu_si128((__m128i *)(void *)(out + 2 * i + 16), b);
    }
    out[SHA256_HEX_LEN] = '\0';
}
#else
static void hex32(const uint8_t d[SHA256_LEN], char out[SHA256_HEX_LEN + 1])
{
    for (size_t i = 0; i < SHA256_LEN; i += 4) {
        uint64_t v = (uint64_t)d[i] << 24 | (uint64_t)d[i + 1] << 16 | (uint64_t)d[i + 2] << 8 | d[i + 3];
        v = (v & 0xffff0000ULL) << 16 | (v & 0xffffULL);
        v = (v & 0x0000ff000000ff00ULL) << 8 | (v & 0x000000ff000000ffULL);
        v = (v & 0x00f000f000f000f0ULL) << 4 | (v & 0x000f000f000f000fULL);
        uint64_t ge10 = ((v + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
        v += 0x3030303030303030ULL + ge10 * ('a' - '0' - 10);
        for (size_t k = 0; k < 8; k++)
            out[2 * i + k] = (char)(v >> (56 - 8 * k));
    }
    out[SHA256_HEX_LEN] = '\0';
}
#endif

#define IS(c, cls) (k_class[(unsigned char)(c)] & (cls))

static inline unsigned char lc(unsigned char c)
{
    return (unsigned char)(c + (((unsigned)c - 'A' < 26u) << 5));
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lc(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Case-insensitive equality of a name with a lowercase literal. */
static bool name_eq(const char *n, size_t len, const char *lit, size_t litlen)
{
    if (len != litlen)
        return false;
    for (size_t i = 0; i < len; i++)
        if (lc((unsigned char)n[i]) != (unsigned char)lit[i])
            return false;
    return true;
}
#define NAME_IS(n, len, lit) name_eq((n), (len), lit, sizeof(lit) - 1)

/* Case-insensitive order of two header names, shorter prefix first. */
static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++) {
        int d = (int)lc((unsigned char)a[i]) - (int)lc((unsigned char)b[i]);
        if (d)
            return d;
    }
    return (an > bn) - (an < bn);
}

static bool all_tchar(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!IS(s[i], C_TCHAR))
            return false;
    return true;
}

/* A part of the credential scope or an access key id: visible ASCII other
 * than '/', ',', '=' and ';'. */
static bool scope_part_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == ',' || c == '=' || c == ';')
            return false;
    }
    return true;
}

static bool has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

static bool ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

/* ---- the signer object -------------------------------------------------- */

/* A header that goes into the canonical request. */
struct hdr {
    const char *name; /* any case */
    const char *value;
    size_t name_len, value_len;
    uint64_t key;   /* first 8 bytes of the lowercased name, big-endian: orders most pairs */
    bool repeat;    /* same name as the entry before it (after sorting) */
    uint32_t lower; /* offset of the lowercased name in signed_hdrs */
};

/* The sort key of a header name (its first 8 bytes lowercased, big-endian);
 * false if the name is empty or has
 * a byte that may not be in a header name. One pass for both. */
static bool token_key(const char *n, size_t len, uint64_t *key)
{
    uint64_t k = 0;
    unsigned ok = len > 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        ok &= IS(c, C_TCHAR) != 0;
        if (i < 8)
            k |= (uint64_t)lc(c) << (56 - 8 * i);
    }
    *key = k;
    return ok;
}

static int hdr_cmp(const struct hdr *a, const struct hdr *b)
{
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return name_cmp(a->name, a->name_len, b->name, b->name_len);
}

/* One query pair, as offsets of its canonical name and value in `scratch`. */
struct qpair {
    uint32_t name_off, name_len, value_off, value_len;
};

#define SCOPE_MAX (8 + 1 + SIGV4_MAX_REGION + 1 + SIGV4_MAX_SERVICE + sizeof "/aws4_request")
#define BUF_CAP ((size_t)16 * 1024 * 1024)

struct sigv4_signer {
    struct sha256_ctx sha;

    /* Signing key cache: valid for key_date / region / service (all held in
     * `scope`) and the secret whose SHA-256 is key_secret_hash. */
    bool have_key;
    struct hmac_key key;
    struct aws_credentials *key_creds; /* reference: same object => same secret */
    uint8_t key_secret_hash[SHA256_LEN];
    char scope[SCOPE_MAX]; /* "YYYYMMDD/region/service/aws4_request" */
    size_t scope_len, region_len, service_len;

    int64_t day; /* the day `date8` belongs to */
    char date8[8];
    char amz_date[17];
    char payload_hex[SHA256_HEX_LEN + 1];
    char creq_hex[SHA256_HEX_LEN + 1];
    char signature[SHA256_HEX_LEN + 1];

    struct buf creq, sts, auth, query, scratch, signed_hdrs, vals;
    struct hdr *hdrs;
    size_t hdrs_cap;
    struct qpair *pairs;
    size_t pairs_cap;
    struct sigv4_output out;
    size_t akid_len, token_len; /* of key_creds */
    uint64_t own_keys[3];       /* sort keys of x-amz-date, -security-token, -content-sha256 */
};

struct sigv4_signer *sigv4_signer_new(void)
{
    struct sigv4_signer *s = xcalloc(1, sizeof *s);
    sha256_init(&s->sha);
    s->day = INT64_MIN;
    token_key("x-amz-date", 10, &s->own_keys[0]);
    token_key("x-amz-security-token", 20, &s->own_keys[1]);
    token_key("x-amz-content-sha256", 20, &s->own_keys[2]);
    buf_init(&s->creq, BUF_CAP);
    buf_init(&s->sts, BUF_CAP);
    buf_init(&s->auth, BUF_CAP);
    buf_init(&s->query, BUF_CAP);
    buf_init(&s->scratch, BUF_CAP);
    buf_init(&s->signed_hdrs, BUF_CAP);
    buf_init(&s->vals, BUF_CAP);
    return s;
}

void sigv4_signer_free(struct sigv4_signer *s)
{
    if (!s)
        return;
    if (s->have_key)
        hmac_key_free(&s->key);
    aws_credentials_release(s->key_creds);
    sha256_free(&s->sha);
    buf_free_secure(&s->creq);
    buf_free_secure(&s->sts);
    buf_free_secure(&s->auth);
    buf_free_secure(&s->query);
    buf_free_secure(&s->scratch);
    buf_free_secure(&s->signed_hdrs);
    buf_free_secure(&s->vals);
    free(s->hdrs);
    free(s->pairs);
    secure_wipe(s, sizeof *s);
    free(s);
}

static void grow_hdrs(struct sigv4_signer *s, size_t n)
{
    if (n > s->hdrs_cap) {
        s->hdrs_cap = n < 16 ? 16 : n;
        s->hdrs = xrealloc(s->hdrs, s->hdrs_cap * sizeof *s->hdrs);
    }
}

static void grow_pairs(struct sigv4_signer *s, size_t n)
{
    if (n > s->pairs_cap) {
        s->pairs_cap = n < 16 ? 16 : n;
        s->pairs = xrealloc(s->pairs, s->pairs_cap * sizeof *s->pairs);
    }
}

/* Empty b, make room for n bytes and return the write cursor. Every caller
 * passes a bound computed from inputs already checked against the SIGV4_MAX_*
 * limits, far below BUF_CAP, so failing here is a bug in this file. */
static char *reserve(struct buf *b, size_t n)
{
    buf_reset(b);
    if (!buf_reserve(b, n)) {
        fprintf(stderr, "brock: sigv4: internal bound of %zu bytes over the buffer cap\n", n);
        abort();
    }
    return b->ptr;
}

static void finish(struct buf *b, char *end)
{
    b->len = (size_t)(end - b->ptr);
    b->ptr[b->len] = '\0';
}

static char *put(char *o, const void *p, size_t n)
{
    memcpy(o, p, n);
    return o + n;
}
#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/* X-Amz-Date for t; the calendar day is recomputed only when it changes. */
static void set_amz_date(struct sigv4_signer *s, int64_t t)
{
    int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    unsigned sod = (unsigned)(t - day * 86400);
    if (day != s->day) {
        char full[17];
        time_fmt_amz(t, full);
        memcpy(s->date8, full, 8);
        s->day = day;
    }
    memcpy(s->amz_date, s->date8, 8);
    s->amz_date[8] = 'T';
    put2(s->amz_date + 9, sod / 3600);
    put2(s->amz_date + 11, sod / 60 % 60);
    put2(s->amz_date + 13, sod % 60);
    s->amz_date[15] = 'Z';
    s->amz_date[16] = '\0';
}

/* Make s->key the signing key for (secret, date8, region, service). `creds`
 * (may be NULL) is the object the secret came from: seeing the same object
 * again proves the same secret without hashing it. */
static void ensure_key(struct sigv4_signer *s, struct aws_credentials *creds, const char *secret,
                       size_t secret_len, const char *date8, const char *region, size_t rlen,
                       const char *service, size_t svlen)
{
    bool same_scope = s->have_key && memcmp(s->scope, date8, 8) == 0 && rlen == s->region_len &&
                      memcmp(s->scope + 9, region, rlen) == 0 && svlen == s->service_len &&
                      memcmp(s->scope + 10 + rlen, service, svlen) == 0;
    if (same_scope && creds && creds == s->key_creds)
        return;

    uint8_t h[SHA256_LEN];
    crypto_sha256(secret, secret_len, h);
    bool same_secret = s->have_key && ct_equal(h, s->key_secret_hash, SHA256_LEN);
    if (creds != s->key_creds) {
        aws_credentials_release(s->key_creds);
        s->key_creds = creds ? aws_credentials_acquire(creds) : NULL;
    }
    if (same_scope && same_secret) {
        secure_wipe(h, sizeof h);
        return;
    }

    uint8_t kbuf[4 + SIGV4_MAX_SECRET], k[SHA256_LEN];
    memcpy(kbuf, "AWS4", 4);
    memcpy(kbuf + 4, secret, secret_len);
    crypto_hmac_sha256(kbuf, 4 + secret_len, date8, 8, k);
    crypto_hmac_sha256(k, SHA256_LEN, region, rlen, k);
    crypto_hmac_sha256(k, SHA256_LEN, service, svlen, k);
    crypto_hmac_sha256(k, SHA256_LEN, "aws4_request", 12, k);
    if (s->have_key)
        hmac_key_free(&s->key);
    hmac_key_init(&s->key, k, SHA256_LEN);
    s->have_key = true;
    memcpy(s->key_secret_hash, h, SHA256_LEN);
    secure_wipe(kbuf, sizeof kbuf);
    secure_wipe(k, sizeof k);
    secure_wipe(h, sizeof h);

    char *o = s->scope;
    o = put(o, date8, 8);
    *o++ = '/';
    o = put(o, region, rlen);
    *o++ = '/';
    o = put(o, service, svlen);
    o = PUT_LIT(o, "/aws4_request");
    s->scope_len = (size_t)(o - s->scope);
    s->region_len = rlen;
    s->service_len = svlen;
}

/* ---- canonical pieces --------------------------------------------------- */

static char *put_encoded(char *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (IS(c, C_UNRESERVED)) {
            *o++ = (char)c;
        } else {
            o[0] = '%';
            o[1] = k_hex_upper[c >> 4];
            o[2] = k_hex_upper[c & 15];
            o += 3;
        }
    }
    return o;
}

/* The path with every byte but unreserved ones and '/' percent-encoded;
 * runs of kept bytes are copied whole. */
static char *put_path_encoded(char *o, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && IS(p[j], C_PATH))
            j++;
        o = put(o, p + i, j - i);
        if (j < n) {
            unsigned char c = (unsigned char)p[j++];
            o[0] = '%';
            o[1] = k_hex_upper[c >> 4];
            o[2] = k_hex_upper[c & 15];
            o += 3;
        }
        i = j;
    }
    return o;
}

/* Would normalising change this path? Only a path not starting with '/', or
 * with an empty, "." or ".." segment: "//" or "/." somewhere. */
static bool needs_normalizing(const char *p, size_t n)
{
    if (p[0] != '/')
        return true;
    for (const char *x = p, *end = p + n; (x = memchr(x, '/', (size_t)(end - x))) != NULL;) {
        if (++x == end)
            break;
        if (*x == '/' || *x == '.')
            return true;
    }
    return false;
}

/* Canonical URI. `encode` encodes each segment once more; `normalize` drops
 * empty and "." segments and resolves "..". At most 3n + 2 bytes. */
static char *put_path(char *o, const char *p, size_t n, bool normalize, bool encode)
{
    char *base = o;
    if (n == 0) {
        *o++ = '/';
        return o;
    }
    if (!normalize || !needs_normalizing(p, n))
        return encode ? put_path_encoded(o, p, n) : put(o, p, n);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && p[i] == '.')) {
            /* empty or "." segment: dropped */
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            while (o > base && *--o != '/')
                ;
        } else {
            *o++ = '/';
            o = encode ? put_encoded(o, p + i, len) : put(o, p + i, len);
        }
        i = j + 1;
    }
    if (o == base)
        *o++ = '/';
    else if (p[n - 1] == '/')
        *o++ = '/';
    return o;
}

/* Canonical name or value: %XY escapes decoded, then encoded once. */
static char *put_query_part(char *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        int hi, lo;
        if (c == '%' && i + 2 < n && (hi = hexval((unsigned char)p[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)p[i + 2])) >= 0) {
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (IS(c, C_UNRESERVED)) {
            *o++ = (char)c;
        } else {
            o[0] = '%';
            o[1] = k_hex_upper[c >> 4];
            o[2] = k_hex_upper[c & 15];
            o += 3;
        }
    }
    return o;
}

static size_t count_pairs(const char *q, size_t n)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++)
        k += q[i] == '&';
    return k;
}

static int pair_cmp(const struct qpair *a, const struct qpair *b, const char *base)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int d = memcmp(base + a->name_off, base + b->name_off, n);
    if (d)
        return d;
    if (a->name_len != b->name_len)
        return a->name_len < b->name_len ? -1 : 1;
    n = a->value_len < b->value_len ? a->value_len : b->value_len;
    d = memcmp(base + a->value_off, base + b->value_off, n);
    if (d)
        return d;
    return (a->value_len > b->value_len) - (a->value_len < b->value_len);
}

static int pair_cmp_r(const void *a, const void *b, void *base)
{
    return pair_cmp(a, b, base);
}

enum { SKIP_SIGNATURE = 1, SKIP_TOKEN = 2 };

static bool pair_name_is(const char *base, const struct qpair *p, const char *lit, size_t n)
{
    return p->name_len == n && memcmp(base + p->name_off, lit, n) == 0;
}

/* Canonicalise the pairs of q into s->scratch / s->pairs; returns the count.
 * Caller checked the size caps. */
static size_t parse_query(struct sigv4_signer *s, const char *q, size_t n, int skip)
{
    size_t np = 0;
    if (n == 0)
        return 0;
    grow_pairs(s, count_pairs(q, n));
    char *base = reserve(&s->scratch, 3 * n + 1);
    char *o = base;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && q[eq] != '=')
                eq++;
            struct qpair *p = &s->pairs[np];
            p->name_off = (uint32_t)(o - base);
            o = put_query_part(o, q + i, eq - i);
            p->name_len = (uint32_t)(o - base) - p->name_off;
            p->value_off = (uint32_t)(o - base);
            if (eq < j)
                o = put_query_part(o, q + eq + 1, j - eq - 1);
            p->value_len = (uint32_t)(o - base) - p->value_off;
            if (!((skip & SKIP_SIGNATURE) && pair_name_is(base, p, "X-Amz-Signature", 15)) &&
                !((skip & SKIP_TOKEN) && pair_name_is(base, p, "X-Amz-Security-Token", 20)))
                np++;
        }
        i = j + 1;
    }
    finish(&s->scratch, o);
    if (np <= 16) {
        for (size_t a = 1; a < np; a++) {
            struct qpair t = s->pairs[a];
            size_t b = a;
            while (b > 0 && pair_cmp(&s->pairs[b - 1], &t, base) > 0) {
                s->pairs[b] = s->pairs[b - 1];
                b--;
            }
            s->pairs[b] = t;
        }
    } else {
        qsort_r(s->pairs, np, sizeof *s->pairs, pair_cmp_r, base);
    }
    return np;
}

static char *put_query(const struct sigv4_signer *s, char *o, size_t np)
{
    const char *base = s->scratch.ptr;
    for (size_t i = 0; i < np; i++) {
        const struct qpair *p = &s->pairs[i];
        if (i)
            *o++ = '&';
        o = put(o, base + p->name_off, p->name_len);
        *o++ = '=';
        o = put(o, base + p->value_off, p->value_len);
    }
    return o;
}

/* Header value: trimmed, inner runs of whitespace (folded lines included)
 * collapsed to one space. Copies 8 bytes at a time while none of them can be
 * whitespace (all whitespace bytes are <= 0x20). */
static char *put_value(char *o, const char *v, size_t n)
{
    while (n && IS(*v, C_SPACE))
        v++, n--;
    while (n && IS(v[n - 1], C_SPACE))
        n--;
    size_t i = 0;
    while (i < n) {
        while (i + 16 <= n) {
            uint64_t x, y;
            memcpy(&x, v + i, 8);
            memcpy(&y, v + i + 8, 8);
            if ((((x - 0x2121212121212121ULL) & ~x) | ((y - 0x2121212121212121ULL) & ~y)) &
                0x8080808080808080ULL)
                break;
            memcpy(o, v + i, 16);
            o += 16;
            i += 16;
        }
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, v + i, 8);
            if ((x - 0x2121212121212121ULL) & ~x & 0x8080808080808080ULL)
                break;
            memcpy(o, &x, 8);
            o += 8;
            i += 8;
        }
        if (i >= n)
            break;
        if (IS(v[i], C_SPACE)) {
            while (IS(v[i], C_SPACE))
                i++; /* stops: the value is trimmed */
            *o++ = ' ';
        } else {
            *o++ = v[i++];
        }
    }
    return o;
}

/* Lowercase copy, eight bytes at a time: for ASCII bytes (bit 7 clear), the
 * two adds set bit 7 for >= 'A' and for > 'Z' without carries between bytes;
 * where they differ the byte is a capital and gets bit 5. */
static char *put_lower(char *o, const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, h;
        memcpy(&x, p + i, 8);
        h = x & 0x7f7f7f7f7f7f7f7fULL;
        x |= (((h + 0x3f3f3f3f3f3f3f3fULL) ^ (h + 0x2525252525252525ULL)) & ~x & 0x8080808080808080ULL) >> 2;
        memcpy(o + i, &x, 8);
    }
    for (; i < n; i++)
        o[i] = (char)lc((unsigned char)p[i]);
    return o + n;
}

/* Canonical headers from s->hdrs[0..n) (sorted; equal names adjacent). */
static char *put_headers(const struct sigv4_signer *s, char *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct hdr *h = &s->hdrs[i];
        if (h->repeat) {
            o[-1] = ','; /* replaces the previous line's '\n' */
        } else {
            o = put(o, s->signed_hdrs.ptr + h->lower, h->name_len);
            *o++ = ':';
        }
        o = put_value(o, h->value, h->value_len);
        *o++ = '\n';
    }
    return o;
}

/* ---- signing ------------------------------------------------------------ */

/* Which input headers the signer leaves out. */
enum hclass { H_SIGN, H_SKIP, H_HOST };

static enum hclass classify(const char *n, size_t len, bool own_token, bool own_sha)
{
    switch (len) {
    case 2:
        return NAME_IS(n, len, "te") ? H_SKIP : H_SIGN;
    case 4:
        return NAME_IS(n, len, "host") ? H_HOST : H_SIGN;
    case 6:
        return NAME_IS(n, len, "expect") ? H_SKIP : H_SIGN;
    case 7:
        return NAME_IS(n, len, "trailer") || NAME_IS(n, len, "upgrade") ? H_SKIP : H_SIGN;
    case 10:
        return NAME_IS(n, len, "x-amz-date") || NAME_IS(n, len, "connection") ||
                       NAME_IS(n, len, "keep-alive") || NAME_IS(n, len, "user-agent")
                   ? H_SKIP
                   : H_SIGN;
    case 13:
        return NAME_IS(n, len, "authorization") ? H_SKIP : H_SIGN;
    case 15:
        return NAME_IS(n, len, "x-amzn-trace-id") ? H_SKIP : H_SIGN;
    case 17:
        return NAME_IS(n, len, "transfer-encoding") ? H_SKIP : H_SIGN;
    case 18:
        return NAME_IS(n, len, "proxy-authenticate") ? H_SKIP : H_SIGN;
    case 19:
        return NAME_IS(n, len, "proxy-authorization") ? H_SKIP : H_SIGN;
    case 20:
        if (own_token && NAME_IS(n, len, "x-amz-security-token"))
            return H_SKIP;
        if (own_sha && NAME_IS(n, len, "x-amz-content-sha256"))
            return H_SKIP;
        return H_SIGN;
    default:
        return H_SIGN;
    }
}

/* Stable insertion sort (a request has a handful of headers; the count is
 * capped), then mark names that repeat the one before. */
static void sort_hdrs(struct hdr *h, size_t n)
{
    for (size_t a = 1; a < n; a++) {
        struct hdr t = h[a];
        size_t b = a;
        while (b > 0 && hdr_cmp(&h[b - 1], &t) > 0) {
            h[b] = h[b - 1];
            b--;
        }
        h[b] = t;
    }
    for (size_t i = 0; i < n; i++)
        h[i].repeat = i && hdr_cmp(&h[i - 1], &h[i]) == 0;
}

/* SignedHeaders from the sorted s->hdrs into s->signed_hdrs. */
static void build_signed_list(struct sigv4_signer *s, size_t n, size_t name_bytes)
{
    char *o = reserve(&s->signed_hdrs, name_bytes + n + 1);
    char *start = o;
    for (size_t i = 0; i < n; i++) {
        struct hdr *h = &s->hdrs[i];
        if (h->repeat)
            continue;
        if (o != start)
            *o++ = ';';
        h->lower = (uint32_t)(o - start);
        o = put_lower(o, h->name, h->name_len);
    }
    finish(&s->signed_hdrs, o);
}

static size_t slen(const char *p)
{
    return p ? strlen(p) : 0;
}

/* Lengths of the signing inputs, found while checking them. */
struct inputs {
    size_t akid_len, token_len, region_len, service_len, method_len;
};

static bool same_scope_names(const struct sigv4_signer *s, const char *region, size_t rlen,
                             const char *service, size_t svlen)
{
    return s->have_key && rlen == s->region_len && memcmp(s->scope + 9, region, rlen) == 0 &&
           svlen == s->service_len && memcmp(s->scope + 10 + rlen, service, svlen) == 0;
}

/* Checks shared by both signing forms. Credentials and scope names already
 * checked by an earlier call (the same immutable credentials object the
 * signer holds a reference to; the region and service of the cached key) are
 * not checked again: a 1 KiB session token would otherwise be scanned on
 * every request. */
static enum brock_status check_sign_input(struct sigv4_signer *s, const struct sigv4_request *req,
                                          const struct sigv4_params *p, struct inputs *in,
                                          struct brock_err *e)
{
    const struct aws_credentials *c = p->creds;
    if (c && c == s->key_creds) {
        in->akid_len = s->akid_len;
        in->token_len = s->token_len;
    } else {
        if (!c || !c->access_key_id || !*c->access_key_id || !c->secret_access_key || !*c->secret_access_key)
            return err_set(e, BROCK_ERR_CREDENTIALS, "sigv4: no credentials to sign with");
        in->akid_len = strlen(c->access_key_id);
        if (in->akid_len > SIGV4_MAX_AKID || !scope_part_ok(c->access_key_id, in->akid_len))
            return err_set(e, BROCK_ERR_CREDENTIALS,
                           "sigv4: the access key id is malformed (%zu bytes; printable, no '/')",
                           in->akid_len);
        if (strlen(c->secret_access_key) > SIGV4_MAX_SECRET)
            return err_set(e, BROCK_ERR_CREDENTIALS, "sigv4: the secret access key is over %d bytes",
                           SIGV4_MAX_SECRET);
        in->token_len = slen(c->session_token);
        if (in->token_len > SIGV4_MAX_TOKEN)
            return err_set(e, BROCK_ERR_CREDENTIALS,
                           "sigv4: the session token is %zu bytes, over the %d-byte limit", in->token_len,
                           SIGV4_MAX_TOKEN);
        if (in->token_len && has_ctl(c->session_token, in->token_len))
            return err_set(e, BROCK_ERR_CREDENTIALS, "sigv4: the session token contains a control character");
    }
    in->region_len = slen(p->region);
    in->service_len = slen(p->service);
    if (!same_scope_names(s, p->region, in->region_len, p->service, in->service_len)) {
        if (in->region_len == 0 || in->region_len > SIGV4_MAX_REGION ||
            !scope_part_ok(p->region, in->region_len))
            return err_set(e, BROCK_ERR_USAGE, "sigv4: region is empty, too long or has a bad character");
        if (in->service_len == 0 || in->service_len > SIGV4_MAX_SERVICE ||
            !scope_part_ok(p->service, in->service_len))
            return err_set(e, BROCK_ERR_USAGE, "sigv4: service is empty, too long or has a bad character");
    }
    in->method_len = slen(req->method);
    if (in->method_len > SIGV4_MAX_METHOD || !all_tchar(req->method, in->method_len))
        return err_set(e, BROCK_ERR_USAGE, "sigv4: method is empty, too long or not an HTTP token");
    if (req->path_len > SIGV4_MAX_PATH)
        return err_set(e, BROCK_ERR_TOO_LARGE, "sigv4: path is %zu bytes, over the %d-byte limit",
                       req->path_len, SIGV4_MAX_PATH);
    if (req->query_len > SIGV4_MAX_QUERY)
        return err_set(e, BROCK_ERR_TOO_LARGE, "sigv4: query is %zu bytes, over the %d-byte limit",
                       req->query_len, SIGV4_MAX_QUERY);
    if (req->query_len && count_pairs(req->query, req->query_len) > SIGV4_MAX_QUERY_PARAMS)
        return err_set(e, BROCK_ERR_TOO_LARGE, "sigv4: query has more than %d parameters",
                       SIGV4_MAX_QUERY_PARAMS);
    if (req->n_headers > SIGV4_MAX_HEADERS)
        return err_set(e, BROCK_ERR_TOO_LARGE, "sigv4: %zu headers, over the limit of %d", req->n_headers,
                       SIGV4_MAX_HEADERS);
    if (req->payload_hash) {
        size_t n = strlen(req->payload_hash);
        if (n == 0 || n > 128 || !scope_part_ok(req->payload_hash, n))
            return err_set(e, BROCK_ERR_USAGE,
                           "sigv4: payload hash is empty, too long or has a bad character");
    }
    return BROCK_OK;
}

/* Derive or reuse the key for p, and remember the lengths of the
 * credentials it came from. */
static void use_key(struct sigv4_signer *s, const struct sigv4_params *p, const struct inputs *in)
{
    const char *secret = p->creds->secret_access_key;
    ensure_key(s, p->creds, secret, strlen(secret), s->date8, p->region, in->region_len, p->service,
               in->service_len);
    s->akid_len = in->akid_len;
    s->token_len = in->token_len;
}

/* Gather the headers to sign into s->hdrs, sorted, and build SignedHeaders.
 * `own` lists the signer's headers to add. Sets *nh and *bytes (name and
 * value bytes of everything gathered). */
static enum brock_status collect_headers(struct sigv4_signer *s, const struct sigv4_request *req,
                                         const struct hdr *own, size_t n_own, bool own_token, bool own_sha,
                                         size_t *nh, size_t *bytes, struct brock_err *e)
{
    grow_hdrs(s, req->n_headers + n_own);
    size_t n = 0, total = 0, names = 0;
    bool host = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sigv4_header *h = &req->headers[i];
        uint64_t key;
        if (!token_key(h->name, h->name_len, &key))
            return err_set(e, BROCK_ERR_USAGE, "sigv4: header %zu: name is empty or not an HTTP token", i);
        total += h->name_len + h->value_len;
        if (total > SIGV4_MAX_HEADER_BYTES)
            return err_set(e, BROCK_ERR_TOO_LARGE, "sigv4: headers exceed %d bytes", SIGV4_MAX_HEADER_BYTES);
        enum hclass c = classify(h->name, h->name_len, own_token, own_sha);
        if (c == H_SKIP)
            continue;
        host |= c == H_HOST;
        s->hdrs[n++] = (struct hdr){h->name, h->value, h->name_len, h->value_len, key, false, 0};
        names += h->name_len;
    }
    if (!host)
        return err_set(e, BROCK_ERR_USAGE, "sigv4: the request has no host header");
    for (size_t i = 0; i < n_own; i++) {
        s->hdrs[n++] = own[i];
        total += own[i].name_len + own[i].value_len;
        names += own[i].name_len;
    }
    sort_hdrs(s->hdrs, n);
    build_signed_list(s, n, names);
    *nh = n;
    *bytes = total;
    return BROCK_OK;
}

/* Canonical request, its hash, the string to sign and the signature. */
static void sign_core(struct sigv4_signer *s, const struct sigv4_request *req, const char *query, size_t qlen,
                      size_t nh, size_t header_bytes, const char *payload, size_t plen, bool normalize,
                      bool encode)
{
    size_t mlen = strlen(req->method);
    size_t bound = mlen + 1 + 3 * req->path_len + 4 + 4 * qlen + 2 + header_bytes + 3 * nh +
                   s->signed_hdrs.len + 2 + plen;
    size_t np = parse_query(s, query, qlen, 0);
    char *o = reserve(&s->creq, bound);
    o = put(o, req->method, mlen);
    *o++ = '\n';
    o = put_path(o, req->path, req->path_len, normalize, encode);
    *o++ = '\n';
    o = put_query(s, o, np);
    *o++ = '\n';
    o = put_headers(s, o, nh);
    *o++ = '\n';
    o = put(o, s->signed_hdrs.ptr, s->signed_hdrs.len);
    *o++ = '\n';
    o = put(o, payload, plen);
    finish(&s->creq, o);

    uint8_t d[SHA256_LEN];
    sha256_update(&s->sha, s->creq.ptr, s->creq.len);
    sha256_final(&s->sha, d);
    hex32(d, s->creq_hex);

    o = reserve(&s->sts, sizeof SIGV4_ALGORITHM + 17 + s->scope_len + 1 + SHA256_HEX_LEN);
    o = PUT_LIT(o, SIGV4_ALGORITHM "\n");
    o = put(o, s->amz_date, 16);
    *o++ = '\n';
    o = put(o, s->scope, s->scope_len);
    *o++ = '\n';
    o = put(o, s->creq_hex, SHA256_HEX_LEN);
    finish(&s->sts, o);

    hmac_key_sign(&s->key, s->sts.ptr, s->sts.len, d);
    hex32(d, s->signature);
}

static const char *payload_hash(struct sigv4_signer *s, const struct sigv4_request *req, size_t *len)
{
    if (req->payload_hash) {
        *len = strlen(req->payload_hash);
        return req->payload_hash;
    }
    uint8_t d[SHA256_LEN];
    if (req->body_len)
        sha256_update(&s->sha, req->body, req->body_len);
    sha256_final(&s->sha, d);
    hex32(d, s->payload_hex);
    *len = SHA256_HEX_LEN;
    return s->payload_hex;
}

static void fill_out(struct sigv4_signer *s)
{
    s->out.signature = s->signature;
    s->out.signed_headers = buf_cstr(&s->signed_hdrs);
    s->out.canonical_request = buf_cstr(&s->creq);
    s->out.canonical_request_len = s->creq.len;
    s->out.string_to_sign = buf_cstr(&s->sts);
    s->out.string_to_sign_len = s->sts.len;
}

/* The signer's own headers, with their sort keys (made in sigv4_signer_new). */
#define HDR_OWN(n, key, v, vlen) ((struct hdr){(n), (v), sizeof(n) - 1, (vlen), (key), false, 0})

enum brock_status sigv4_sign_headers(struct sigv4_signer *s, const struct sigv4_request *req,
                                     const struct sigv4_params *p, const struct sigv4_output **out,
                                     struct brock_err *e)
{
    struct inputs in;
    enum brock_status st = check_sign_input(s, req, p, &in, e);
    if (st != BROCK_OK)
        return st;
    const struct aws_credentials *c = p->creds;
    const char *token = c->session_token;
    size_t tlen = in.token_len, akid_len = in.akid_len;

    set_amz_date(s, p->time_s);
    use_key(s, p, &in);
    size_t plen;
    const char *payload = payload_hash(s, req, &plen);

    struct hdr own[3];
    size_t n_own = 0;
    own[n_own++] = HDR_OWN("x-amz-date", s->own_keys[0], s->amz_date, 16);
    if (tlen && !p->omit_session_token)
        own[n_own++] = HDR_OWN("x-amz-security-token", s->own_keys[1], token, tlen);
    if (p->add_content_sha256)
        own[n_own++] = HDR_OWN("x-amz-content-sha256", s->own_keys[2], payload, plen);
    size_t nh, bytes;
    st = collect_headers(s, req, own, n_own, tlen > 0, p->add_content_sha256, &nh, &bytes, e);
    if (st != BROCK_OK)
        return st;
    sign_core(s, req, req->query, req->query_len, nh, bytes, payload, plen, !p->no_normalize_path,
              !p->no_double_encode);

    char *o = reserve(&s->auth, sizeof SIGV4_ALGORITHM + 12 + akid_len + 1 + s->scope_len + 16 +
                                    s->signed_hdrs.len + 12 + SHA256_HEX_LEN);
    o = PUT_LIT(o, SIGV4_ALGORITHM " Credential=");
    o = put(o, c->access_key_id, akid_len);
    *o++ = '/';
    o = put(o, s->scope, s->scope_len);
    o = PUT_LIT(o, ", SignedHeaders=");
    o = put(o, s->signed_hdrs.ptr, s->signed_hdrs.len);
    o = PUT_LIT(o, ", Signature=");
    o = put(o, s->signature, SHA256_HEX_LEN);
    finish(&s->auth, o);

    size_t k = 0;
    if (tlen)
        s->out.headers[k++] = (struct sigv4_header){"X-Amz-Security-Token", 20, token, tlen};
    s->out.headers[k++] = (struct sigv4_header){"X-Amz-Date", 10, s->amz_date, 16};
    if (p->add_content_sha256)
        s->out.headers[k++] = (struct sigv4_header){"x-amz-content-sha256", 20, payload, plen};
    s->out.headers[k++] = (struct sigv4_header){"Authorization", 13, s->auth.ptr, s->auth.len};
    s->out.n_headers = k;
    s->out.query = NULL;
    s->out.query_len = 0;
    fill_out(s);
    *out = &s->out;
    return BROCK_OK;
}

enum brock_status sigv4_presign(struct sigv4_signer *s, const struct sigv4_request *req,
                                const struct sigv4_params *p, const struct sigv4_output **out,
                                struct brock_err *e)
{
    struct inputs in;
    enum brock_status st = check_sign_input(s, req, p, &in, e);
    if (st != BROCK_OK)
        return st;
    if (p->expires_s < 1 || p->expires_s > SIGV4_MAX_EXPIRES)
        return err_set(e, BROCK_ERR_USAGE, "sigv4: presign expiry %u s is outside 1..%d", p->expires_s,
                       SIGV4_MAX_EXPIRES);
    const struct aws_credentials *c = p->creds;
    const char *token = c->session_token;
    size_t tlen = in.token_len, akid_len = in.akid_len;

    set_amz_date(s, p->time_s);
    use_key(s, p, &in);
    size_t plen;
    const char *payload = payload_hash(s, req, &plen);

    size_t nh, bytes;
    st = collect_headers(s, req, NULL, 0, tlen > 0, false, &nh, &bytes, e);
    if (st != BROCK_OK)
        return st;

    /* The query to send; its prefix up to `signed_end` is what gets signed. */
    struct buf *q = &s->query;
    buf_reset(q);
    if (req->query_len) {
        buf_add(q, req->query, req->query_len);
        buf_addc(q, '&');
    }
    char expires[16];
    int en = snprintf(expires, sizeof expires, "%u", p->expires_s);
    buf_addstr(q, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
    uri_encode(q, c->access_key_id, akid_len, false);
    buf_add(q, "%2F", 3);
    uri_encode(q, s->scope, s->scope_len, false);
    buf_addstr(q, "&X-Amz-Date=");
    buf_add(q, s->amz_date, 16);
    buf_addstr(q, "&X-Amz-SignedHeaders=");
    uri_encode(q, s->signed_hdrs.ptr, s->signed_hdrs.len, false);
    buf_addstr(q, "&X-Amz-Expires=");
    buf_add(q, expires, (size_t)en);
    size_t signed_end = q->len;
    if (tlen) {
        buf_addstr(q, "&X-Amz-Security-Token=");
        uri_encode(q, token, tlen, false);
        if (!p->omit_session_token)
            signed_end = q->len;
    }
    if (buf_status(q) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "sigv4: presigned query too large");

    sign_core(s, req, q->ptr, signed_end, nh, bytes, payload, plen, !p->no_normalize_path,
              !p->no_double_encode);
    buf_addstr(q, "&X-Amz-Signature=");
    buf_add(q, s->signature, SHA256_HEX_LEN);
    if (buf_status(q) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "sigv4: presigned query too large");

    s->out.n_headers = 0;
    s->out.query = q->ptr;
    s->out.query_len = q->len;
    fill_out(s);
    *out = &s->out;
    return BROCK_OK;
}

/* ---- verification ------------------------------------------------------- */

const char *sigv4_verdict_code(enum sigv4_verdict v)
{
    switch (v) {
    case SIGV4_MISSING_AUTH:
        return "MissingAuthenticationTokenException";
    case SIGV4_INCOMPLETE:
        return "IncompleteSignatureException";
    case SIGV4_UNKNOWN_KEY:
    case SIGV4_BAD_TOKEN:
        return "UnrecognizedClientException";
    case SIGV4_MISMATCH:
    case SIGV4_EXPIRED:
        return "InvalidSignatureException";
    case SIGV4_VALID:
    case SIGV4_TOO_LARGE:
        break;
    }
    return NULL;
}

int sigv4_verdict_http_status(enum sigv4_verdict v)
{
    switch (v) {
    case SIGV4_VALID:
        return 200;
    case SIGV4_INCOMPLETE:
    case SIGV4_TOO_LARGE:
        return 400;
    default:
        return 403;
    }
}

static const char k_msg_mismatch[] = "The request signature we calculated does not match the signature you "
                                     "provided. Check your AWS Secret Access Key and signing method.";
static const char k_msg_bad_key[] = "The security token included in the request is invalid.";

static enum brock_status reject(struct sigv4_verified *out, struct brock_err *e, enum sigv4_verdict v,
                                const char *fmt, ...) BROCK_PRINTF(4, 5);

static enum brock_status reject(struct sigv4_verified *out, struct brock_err *e, enum sigv4_verdict v,
                                const char *fmt, ...)
{
    enum brock_status st = v == SIGV4_TOO_LARGE ? BROCK_ERR_TOO_LARGE : BROCK_ERR_AUTH;
    out->verdict = v;
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        err_setv(e, st, fmt, ap);
        va_end(ap);
        const char *code = sigv4_verdict_code(v);
        snprintf(e->aws_code, sizeof e->aws_code, "%s", code ? code : "");
        e->http_status = sigv4_verdict_http_status(v);
    }
    return st;
}

/* A borrowed byte view. */
struct view {
    const char *p;
    size_t n;
};

static struct view trim(struct view v)
{
    while (v.n && (*v.p == ' ' || *v.p == '\t'))
        v.p++, v.n--;
    while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
        v.n--;
    return v;
}

static bool view_is(struct view v, const char *lit)
{
    size_t n = strlen(lit);
    return v.n == n && memcmp(v.p, lit, n) == 0;
}

/* The one header named `lit` (lowercase); *count says how many there were. */
static struct view find_header(const struct sigv4_request *req, const char *lit, size_t *count)
{
    struct view v = {NULL, 0};
    size_t n = strlen(lit), k = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sigv4_header *h = &req->headers[i];
        if (name_eq(h->name, h->name_len, lit, n)) {
            if (!k++)
                v = (struct view){h->value, h->value_len};
        }
    }
    if (count)
        *count = k;
    return v;
}

/* Authorization or presigned parameters, parsed. Views point into the
 * request or into s->vals. */
struct auth_parts {
    struct view credential, signed_headers, signature, date, expires, token;
    bool has_token;
};

/* "AKID/YYYYMMDD/region/service/aws4_request" into out. */
static bool parse_credential(struct view c, struct sigv4_verified *out)
{
    struct view part[5];
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= c.n; i++) {
        if (i == c.n || c.p[i] == '/') {
            if (k == 5)
                return false;
            part[k++] = (struct view){c.p + start, i - start};
            start = i + 1;
        }
    }
    if (k != 5 || !view_is(part[4], "aws4_request"))
        return false;
    if (part[0].n > SIGV4_MAX_AKID || !scope_part_ok(part[0].p, part[0].n) || part[1].n != 8 ||
        part[2].n > SIGV4_MAX_REGION || !scope_part_ok(part[2].p, part[2].n) ||
        part[3].n > SIGV4_MAX_SERVICE || !scope_part_ok(part[3].p, part[3].n))
        return false;
    for (size_t i = 0; i < 8; i++)
        if (part[1].p[i] < '0' || part[1].p[i] > '9')
            return false;
    memcpy(out->access_key_id, part[0].p, part[0].n);
    out->access_key_id[part[0].n] = '\0';
    memcpy(out->date, part[1].p, 8);
    out->date[8] = '\0';
    memcpy(out->region, part[2].p, part[2].n);
    out->region[part[2].n] = '\0';
    memcpy(out->service, part[3].p, part[3].n);
    out->service[part[3].n] = '\0';
    return true;
}

/* Strict "YYYYMMDDTHHMMSSZ". */
static bool parse_amz_date(struct view d, int64_t *t)
{
    if (d.n != 16 || d.p[8] != 'T' || d.p[15] != 'Z')
        return false;
    for (size_t i = 0; i < 15; i++)
        if (i != 8 && (d.p[i] < '0' || d.p[i] > '9'))
            return false;
    char z[17];
    memcpy(z, d.p, 16);
    z[16] = '\0';
    int64_t ms;
    if (!time_parse_iso8601(z, &ms))
        return false;
    *t = ms / 1000;
    return true;
}

/* Parse "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...". */
static enum brock_status parse_authorization(struct view v, struct auth_parts *a, struct sigv4_verified *out,
                                             struct brock_err *e)
{
    v = trim(v);
    size_t alen = sizeof SIGV4_ALGORITHM - 1;
    if (v.n < alen || memcmp(v.p, SIGV4_ALGORITHM, alen) != 0 ||
        (v.n > alen && v.p[alen] != ' ' && v.p[alen] != '\t'))
        return reject(out, e, SIGV4_INCOMPLETE,
                      "Authorization header must use the " SIGV4_ALGORITHM " algorithm.");
    struct view rest = {v.p + alen, v.n - alen};
    bool seen_c = false, seen_h = false, seen_s = false;
    size_t start = 0;
    for (size_t i = 0; i <= rest.n; i++) {
        if (i < rest.n && rest.p[i] != ',')
            continue;
        struct view item = trim((struct view){rest.p + start, i - start});
        start = i + 1;
        if (item.n == 0)
            continue;
        const char *eq = memchr(item.p, '=', item.n);
        if (!eq)
            return reject(out, e, SIGV4_INCOMPLETE,
                          "Authorization header component %zu has no '=' (expected name=value).", i);
        struct view key = {item.p, (size_t)(eq - item.p)};
        struct view val = {eq + 1, item.n - key.n - 1};
        bool *seen = NULL;
        struct view *dst = NULL;
        if (view_is(key, "Credential"))
            seen = &seen_c, dst = &a->credential;
        else if (view_is(key, "SignedHeaders"))
            seen = &seen_h, dst = &a->signed_headers;
        else if (view_is(key, "Signature"))
            seen = &seen_s, dst = &a->signature;
        else
            return reject(out, e, SIGV4_INCOMPLETE,
                          "Authorization header has an unknown component at offset %zu.",
                          (size_t)(key.p - v.p));
        if (*seen)
            return reject(out, e, SIGV4_INCOMPLETE, "Authorization header repeats the '%.*s' component.",
                          (int)key.n, key.p);
        *seen = true;
        *dst = val;
    }
    if (!seen_c || !seen_h || !seen_s)
        return reject(out, e, SIGV4_INCOMPLETE, "%s%s%s",
                      seen_c ? "" : "Authorization header requires 'Credential' parameter. ",
                      seen_s ? "" : "Authorization header requires 'Signature' parameter. ",
                      seen_h ? "" : "Authorization header requires 'SignedHeaders' parameter. ");
    return BROCK_OK;
}

/* Decoded presigned parameters from the query into a (views into s->vals). */
static enum brock_status parse_presigned(struct sigv4_signer *s, const struct sigv4_request *req,
                                         struct auth_parts *a, struct sigv4_verified *out,
                                         struct brock_err *e)
{
    struct view algo = {NULL, 0};
    struct {
        const char *name;
        struct view *dst;
        bool seen;
    } want[] = {
        {"X-Amz-Algorithm", &algo, false},
        {"X-Amz-Credential", &a->credential, false},
        {"X-Amz-SignedHeaders", &a->signed_headers, false},
        {"X-Amz-Signature", &a->signature, false},
        {"X-Amz-Date", &a->date, false},
        {"X-Amz-Expires", &a->expires, false},
        {"X-Amz-Security-Token", &a->token, false},
    };
    /* Decoded values go to s->vals; record offsets first, pointers after (the
     * buffer may move while it grows). */
    size_t offs[BROCK_ARRAY_LEN(want)] = {0}, lens[BROCK_ARRAY_LEN(want)] = {0};
    buf_reset(&s->vals);
    const char *q = req->query;
    size_t n = req->query_len, i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        const char *eq = memchr(q + i, '=', j - i);
        size_t nlen = eq ? (size_t)(eq - (q + i)) : j - i;
        for (size_t k = 0; k < BROCK_ARRAY_LEN(want); k++) {
            if (nlen != strlen(want[k].name) || memcmp(q + i, want[k].name, nlen) != 0)
                continue;
            if (want[k].seen)
                return reject(out, e, SIGV4_INCOMPLETE, "Query parameter %s appears more than once.",
                              want[k].name);
            want[k].seen = true;
            offs[k] = s->vals.len;
            if (eq)
                uri_decode(&s->vals, eq + 1, (size_t)(q + j - eq - 1));
            lens[k] = s->vals.len - offs[k];
            buf_addc(&s->vals, '\0');
        }
        i = j + 1;
    }
    if (buf_status(&s->vals) != BROCK_OK)
        return reject(out, e, SIGV4_TOO_LARGE, "Presigned query parameters are too large.");
    for (size_t k = 0; k < BROCK_ARRAY_LEN(want); k++)
        if (want[k].seen)
            *want[k].dst = (struct view){s->vals.ptr + offs[k], lens[k]};
    a->has_token = want[6].seen;
    if (!want[0].seen || !view_is(algo, SIGV4_ALGORITHM))
        return reject(out, e, SIGV4_INCOMPLETE, "X-Amz-Algorithm must be " SIGV4_ALGORITHM ".");
    for (size_t k = 1; k < 6; k++)
        if (!want[k].seen)
            return reject(out, e, SIGV4_INCOMPLETE, "AWS query-string parameters must include '%s'.",
                          want[k].name);
    return BROCK_OK;
}

static bool query_has_auth(const struct sigv4_request *req)
{
    const char *q = req->query;
    size_t n = req->query_len;
    static const char *const names[] = {"X-Amz-Algorithm=", "X-Amz-Credential=", "X-Amz-Signature="};
    for (size_t i = 0; i < n; i++) {
        if (i && q[i - 1] != '&')
            continue;
        for (size_t k = 0; k < BROCK_ARRAY_LEN(names); k++) {
            size_t l = strlen(names[k]);
            if (n - i >= l && memcmp(q + i, names[k], l) == 0)
                return true;
        }
    }
    return false;
}

/* Canonical headers and SignedHeaders line from the client's list. */
static enum brock_status verify_headers(const struct sigv4_request *req, struct view list, char **cursor,
                                        struct sigv4_verified *out, struct brock_err *e)
{
    char *o = *cursor;
    size_t start = 0, names = 0;
    bool host = false;
    for (size_t i = 0; i <= list.n; i++) {
        if (i < list.n && list.p[i] != ';')
            continue;
        struct view nm = {list.p + start, i - start};
        /* HTTP/2 clients (the AWS SDK for JavaScript) sign the :authority
         * pseudo-header instead of host; the server passes it as a header */
        bool pseudo = nm.n > 1 && nm.p[0] == ':';
        if (pseudo ? !all_tchar(nm.p + 1, nm.n - 1) : !all_tchar(nm.p, nm.n))
            return reject(out, e, SIGV4_INCOMPLETE,
                          "SignedHeaders has an empty or invalid name at offset %zu.", start);
        /* names earlier in the list: a repeat would sign a header twice */
        for (size_t k = 0, st2 = 0; k < start; k++) {
            if (list.p[k] != ';')
                continue;
            if (name_cmp(list.p + st2, k - st2, nm.p, nm.n) == 0)
                return reject(out, e, SIGV4_INCOMPLETE, "SignedHeaders lists '%.*s' twice.", (int)nm.n, nm.p);
            st2 = k + 1;
        }
        if (++names > SIGV4_MAX_HEADERS)
            return reject(out, e, SIGV4_TOO_LARGE, "SignedHeaders lists more than %d names.",
                          SIGV4_MAX_HEADERS);
        host |= NAME_IS(nm.p, nm.n, "host") || NAME_IS(nm.p, nm.n, ":authority");
        o = put(o, nm.p, nm.n);
        *o++ = ':';
        size_t found = 0;
        for (size_t h = 0; h < req->n_headers; h++) {
            const struct sigv4_header *rh = &req->headers[h];
            if (name_cmp(rh->name, rh->name_len, nm.p, nm.n) != 0)
                continue;
            if (found++)
                *o++ = ',';
            o = put_value(o, rh->value, rh->value_len);
        }
        *o++ = '\n';
        if (!found) {
            *cursor = o;
            return reject(out, e, SIGV4_MISMATCH, "%s (The signed header '%.*s' is not in the request.)",
                          k_msg_mismatch, (int)nm.n, nm.p);
        }
        start = i + 1;
    }
    if (!host)
        return reject(out, e, SIGV4_INCOMPLETE, "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    *cursor = o;
    return BROCK_OK;
}

static enum brock_status verify_check_sizes(const struct sigv4_request *req, struct sigv4_verified *out,
                                            struct brock_err *e)
{
    size_t mlen = slen(req->method);
    if (mlen == 0 || mlen > SIGV4_MAX_METHOD || !all_tchar(req->method, mlen))
        return reject(out, e, SIGV4_INCOMPLETE,
                      "The request method is empty, too long or not an HTTP token.");
    if (req->path_len > SIGV4_MAX_PATH)
        return reject(out, e, SIGV4_TOO_LARGE, "The request path is %zu bytes, over the %d-byte limit.",
                      req->path_len, SIGV4_MAX_PATH);
    if (req->query_len > SIGV4_MAX_QUERY)
        return reject(out, e, SIGV4_TOO_LARGE, "The query string is %zu bytes, over the %d-byte limit.",
                      req->query_len, SIGV4_MAX_QUERY);
    if (req->query_len && count_pairs(req->query, req->query_len) > SIGV4_MAX_QUERY_PARAMS)
        return reject(out, e, SIGV4_TOO_LARGE, "The query string has more than %d parameters.",
                      SIGV4_MAX_QUERY_PARAMS);
    if (req->n_headers > SIGV4_MAX_HEADERS)
        return reject(out, e, SIGV4_TOO_LARGE, "The request has %zu headers, over the limit of %d.",
                      req->n_headers, SIGV4_MAX_HEADERS);
    size_t total = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        total += req->headers[i].name_len + req->headers[i].value_len;
        if (total > SIGV4_MAX_HEADER_BYTES)
            return reject(out, e, SIGV4_TOO_LARGE, "The request headers exceed %d bytes.",
                          SIGV4_MAX_HEADER_BYTES);
    }
    return BROCK_OK;
}

static bool is_hex64(struct view v)
{
    if (v.n != SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* Build the canonical request and compare signatures; skip = SKIP_* flags. */
static enum brock_status verify_signature(struct sigv4_signer *s, const struct sigv4_request *req,
                                          const struct sigv4_verify_params *p, const struct auth_parts *a,
                                          int skip, struct view payload, bool *match,
                                          struct sigv4_verified *out, struct brock_err *e)
{
    size_t mlen = strlen(req->method), hbytes = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        hbytes += req->headers[i].name_len + req->headers[i].value_len + 1;
    /* a presigned request's own signature is not part of what it signs */
    size_t np = parse_query(s, req->query, req->query_len, skip | (out->presigned ? SKIP_SIGNATURE : 0));
    size_t bound = mlen + 1 + 3 * req->path_len + 4 + 4 * req->query_len + 2 + 2 * a->signed_headers.n +
                   3 * SIGV4_MAX_HEADERS + hbytes + 2 + payload.n;
    char *o = reserve(&s->creq, bound);
    o = put(o, req->method, mlen);
    *o++ = '\n';
    o = put_path(o, req->path, req->path_len, !p->no_normalize_path, !p->no_double_encode);
    *o++ = '\n';
    o = put_query(s, o, np);
    *o++ = '\n';
    enum brock_status st = verify_headers(req, a->signed_headers, &o, out, e);
    finish(&s->creq, o);
    if (st != BROCK_OK)
        return st;
    *o++ = '\n';
    o = put(o, a->signed_headers.p, a->signed_headers.n);
    *o++ = '\n';
    o = put(o, payload.p, payload.n);
    finish(&s->creq, o);

    uint8_t d[SHA256_LEN];
    sha256_update(&s->sha, s->creq.ptr, s->creq.len);
    sha256_final(&s->sha, d);
    hex32(d, s->creq_hex);
    o = reserve(&s->sts, sizeof SIGV4_ALGORITHM + 17 + s->scope_len + 1 + SHA256_HEX_LEN);
    o = PUT_LIT(o, SIGV4_ALGORITHM "\n");
    o = put(o, out->amz_date, 16);
    *o++ = '\n';
    o = put(o, s->scope, s->scope_len);
    *o++ = '\n';
    o = put(o, s->creq_hex, SHA256_HEX_LEN);
    finish(&s->sts, o);
    hmac_key_sign(&s->key, s->sts.ptr, s->sts.len, d);
    hex32(d, s->signature);
    *match = ct_equal(s->signature, a->signature.p, SHA256_HEX_LEN);
    return BROCK_OK;
}

enum brock_status sigv4_verify(struct sigv4_signer *s, const struct sigv4_request *req,
                               const struct sigv4_verify_params *p, struct sigv4_verified *out,
                               struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    enum brock_status st = verify_check_sizes(req, out, e);
    if (st != BROCK_OK)
        return st;

    struct auth_parts a;
    memset(&a, 0, sizeof a);
    size_t n_auth = 0;
    struct view authz = find_header(req, "authorization", &n_auth);
    if (n_auth > 1)
        return reject(out, e, SIGV4_INCOMPLETE, "The request has more than one Authorization header.");
    if (n_auth == 1) {
        st = parse_authorization(authz, &a, out, e);
        if (st != BROCK_OK)
            return st;
        size_t nd = 0;
        a.date = find_header(req, "x-amz-date", &nd);
        if (nd == 0)
            return reject(
                out, e, SIGV4_INCOMPLETE,
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        if (nd > 1)
            return reject(out, e, SIGV4_INCOMPLETE, "The request has more than one X-Amz-Date header.");
        size_t nt = 0;
        a.token = find_header(req, "x-amz-security-token", &nt);
        a.has_token = nt > 0;
        if (nt > 1)
            return reject(out, e, SIGV4_INCOMPLETE,
                          "The request has more than one X-Amz-Security-Token header.");
        a.date = trim(a.date);
        a.token = trim(a.token);
    } else if (query_has_auth(req)) {
        out->presigned = true;
        st = parse_presigned(s, req, &a, out, e);
        if (st != BROCK_OK)
            return st;
    } else {
        return reject(out, e, SIGV4_MISSING_AUTH, "Missing Authentication Token");
    }
    out->has_session_token = a.has_token;

    if (!parse_credential(a.credential, out))
        return reject(
            out, e, SIGV4_INCOMPLETE,
            "Credential is malformed: expected <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.");
    if (!parse_amz_date(a.date, &out->request_time_s))
        return reject(out, e, SIGV4_INCOMPLETE,
                      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".");
    memcpy(out->amz_date, a.date.p, 16);
    out->amz_date[16] = '\0';
    if (memcmp(out->date, out->amz_date, 8) != 0)
        return reject(out, e, SIGV4_MISMATCH,
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                      "HTTP: '%s' != '%.8s', from '%s'.",
                      out->date, out->amz_date, out->amz_date);
    if (out->presigned) {
        int64_t x = 0;
        bool ok = a.expires.n > 0 && a.expires.n <= 7;
        for (size_t i = 0; ok && i < a.expires.n; i++) {
            ok = a.expires.p[i] >= '0' && a.expires.p[i] <= '9';
            x = x * 10 + (a.expires.p[i] - '0');
        }
        if (!ok || x < 1 || x > SIGV4_MAX_EXPIRES)
            return reject(out, e, SIGV4_INCOMPLETE, "X-Amz-Expires must be a number of seconds from 1 to %d.",
                          SIGV4_MAX_EXPIRES);
        out->expires_s = x;
    }

    struct sigv4_secret sec = {NULL, NULL};
    if (!p->lookup || !p->lookup(p->lookup_ctx, out->access_key_id, &sec) || !sec.secret_access_key)
        return reject(out, e, SIGV4_UNKNOWN_KEY, "%s", k_msg_bad_key);
    size_t secret_len = strlen(sec.secret_access_key);
    if (secret_len == 0 || secret_len > SIGV4_MAX_SECRET)
        return reject(out, e, SIGV4_UNKNOWN_KEY, "%s", k_msg_bad_key);

    int64_t skew = p->max_skew_s > 0 ? p->max_skew_s : SIGV4_DEFAULT_SKEW;
    int64_t t = out->request_time_s, now = p->now_s;
    char ts[17], lim[17], nows[17];
    time_fmt_amz(now, nows);
    if (t > now + skew) {
        time_fmt_amz(now + skew, lim);
        return reject(out, e, SIGV4_EXPIRED,
                      "Signature not yet current: %s is still later than %s (%s + %lld min.)", out->amz_date,
                      lim, nows, (long long)(skew / 60));
    }
    if (!out->presigned && t < now - skew) {
        time_fmt_amz(now - skew, lim);
        return reject(out, e, SIGV4_EXPIRED, "Signature expired: %s is now earlier than %s (%s - %lld min.)",
                      out->amz_date, lim, nows, (long long)(skew / 60));
    }
    if (out->presigned && now > t + out->expires_s) {
        time_fmt_amz(t + out->expires_s, ts);
        return reject(out, e, SIGV4_EXPIRED,
                      "Request has expired: it was valid until %s (X-Amz-Date %s + %lld s), now %s.", ts,
                      out->amz_date, (long long)out->expires_s, nows);
    }

    if (sec.session_token) {
        size_t want = strlen(sec.session_token);
        if (!a.has_token || a.token.n != want || !ct_equal(a.token.p, sec.session_token, want))
            return reject(out, e, SIGV4_BAD_TOKEN, "%s", k_msg_bad_key);
    }

    if (a.signed_headers.n > SIGV4_MAX_SIGNED_LIST)
        return reject(out, e, SIGV4_TOO_LARGE, "SignedHeaders is over %d bytes.", SIGV4_MAX_SIGNED_LIST);
    if (!is_hex64(a.signature))
        return reject(out, e, SIGV4_MISMATCH, "%s", k_msg_mismatch);
    if (p->head_only)
        return BROCK_OK; /* verdict stays SIGV4_VALID: "may be valid" */

    /* Payload hash the client must have used. */
    char body_hex[SHA256_HEX_LEN + 1];
    struct view payload;
    if (out->presigned && p->unsigned_payload) {
        payload = (struct view){SIGV4_UNSIGNED_PAYLOAD, sizeof SIGV4_UNSIGNED_PAYLOAD - 1};
    } else {
        uint8_t d[SHA256_LEN];
        if (req->body_len)
            sha256_update(&s->sha, req->body, req->body_len);
        sha256_final(&s->sha, d);
        hex32(d, body_hex);
        payload = (struct view){body_hex, SHA256_HEX_LEN};
        size_t nc = 0;
        struct view claimed =
            out->presigned ? (struct view){NULL, 0} : trim(find_header(req, "x-amz-content-sha256", &nc));
        if (nc == 1) {
            if (view_is(claimed, SIGV4_UNSIGNED_PAYLOAD) ||
                (claimed.n > 10 && memcmp(claimed.p, "STREAMING-", 10) == 0)) {
                payload = claimed;
            } else if (!view_is(claimed, body_hex)) {
                return reject(out, e, SIGV4_MISMATCH,
                              "The provided 'x-amz-content-sha256' header does not match what was computed.");
            }
        } else if (nc > 1) {
            return reject(out, e, SIGV4_INCOMPLETE,
                          "The request has more than one x-amz-content-sha256 header.");
        }
    }

    ensure_key(s, NULL, sec.secret_access_key, secret_len, out->date, out->region, strlen(out->region),
               out->service, strlen(out->service));
    bool match = false;
    st = verify_signature(s, req, p, &a, 0, payload, &match, out, e);
    if (st != BROCK_OK)
        return st;
    if (!match && out->presigned && a.has_token && p->allow_unsigned_token) {
        st = verify_signature(s, req, p, &a, SKIP_TOKEN, payload, &match, out, e);
        if (st != BROCK_OK)
            return st;
    }
    if (!match)
        return reject(out, e, SIGV4_MISMATCH, "%s", k_msg_mismatch);
    out->verdict = SIGV4_VALID;
    return BROCK_OK;
}
