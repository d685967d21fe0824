#include "codec.h"

#include <string.h>

static const char hexdig_lower[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

void hex_encode(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig_lower[p[i] >> 4];
        out[2 * i + 1] = hexdig_lower[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool hex_decode(const char *s, size_t slen, uint8_t *out)
{
    if (slen % 2)
        return false;
    for (size_t i = 0; i < slen / 2; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

enum brock_status base64_encode(struct buf *out, const void *src, size_t n)
{
    const uint8_t *p = src;
    if (!buf_reserve(out, base64_encoded_len(n))) {
        out->overflow = true;
        return BROCK_ERR_TOO_LARGE;
    }
    char *o = out->ptr + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = '\0';
    return BROCK_OK;
}

/* The value of each base64 character (RFC 4648 alphabet), -1 for the rest. */
static const signed char b64val[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

enum brock_status base64_decode(struct buf *out, const char *s, size_t n)
{
    while (n && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return BROCK_ERR_PARSE;
    if (!buf_reserve(out, n / 4 * 3 + 3)) {
        out->overflow = true;
        return BROCK_ERR_TOO_LARGE;
    }
    const unsigned char *p = (const unsigned char *)s;
    char *o = out->ptr + out->len;
    size_t i = 0;
    /* four characters, three bytes at a time (event-stream chunks are
     * mostly this: it was the gateway's busiest function of its own) */
    for (; i + 4 <= n; i += 4) {
        int a = b64val[p[i]], b = b64val[p[i + 1]], c = b64val[p[i + 2]], d = b64val[p[i + 3]];
        if ((a | b | c | d) < 0)
            return BROCK_ERR_PARSE;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        *o++ = (char)(v >> 16);
        *o++ = (char)(v >> 8 & 0xff);
        *o++ = (char)(v & 0xff);
    }
    if (i < n) { /* 2 or 3 left: 1 or 2 bytes (the unused low bits are not checked) */
        int a = b64val[p[i]], b = b64val[p[i + 1]], c = n - i == 3 ? b64val[p[i + 2]] : 0;
        if ((a | b | c) < 0)
            return BROCK_ERR_PARSE;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        *o++ = (char)(v >> 16);
        if (n - i == 3)
            *o++ = (char)(v >> 8 & 0xff);
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = '\0';
    return BROCK_OK;
}

uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

uint64_t fnv1a64_str(const char *s)
{
    uint64_t h = FNV1A64_INIT;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

enum brock_status uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash)
{
    /* Worst case every byte triples. */
    if (n > SIZE_MAX / 3 || !buf_reserve(out, n * 3)) {
        out->overflow = true;
        return BROCK_ERR_TOO_LARGE;
    }
    char *o = out->ptr + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (uri_unreserved(c) || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hexdig_upper[c >> 4];
            *o++ = hexdig_upper[c & 15];
        }
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = '\0';
    return BROCK_OK;
}

enum brock_status uri_decode(struct buf *out, const char *s, size_t n)
{
    if (!buf_reserve(out, n)) {
        out->overflow = true;
        return BROCK_ERR_TOO_LARGE;
    }
    char *o = out->ptr + out->len;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = '\0';
    return BROCK_OK;
}
