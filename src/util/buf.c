#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void buf_init(struct buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->overflow = false;
}

void buf_free(struct buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->overflow = false;
}

void buf_free_secure(struct buf *b)
{
    if (b->ptr)
        secure_wipe(b->ptr, b->cap);
    buf_free(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->ptr)
        b->ptr[0] = '\0';
}

bool buf_reserve(struct buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return false;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->ptr = xrealloc(b->ptr, cap);
    b->cap = cap;
    return true;
}

enum brock_status buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->overflow)
        return BROCK_ERR_TOO_LARGE;
    if (!buf_reserve(b, n)) {
        b->overflow = true;
        return BROCK_ERR_TOO_LARGE;
    }
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return BROCK_OK;
}

enum brock_status buf_addstr(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

enum brock_status buf_addc(struct buf *b, char c)
{
    if (b->len + 1 < b->cap && !b->overflow && b->len < b->max) {
        b->ptr[b->len++] = c;
        b->ptr[b->len] = '\0';
        return BROCK_OK;
    }
    return buf_add(b, &c, 1);
}

enum brock_status buf_addi64(struct buf *b, int64_t v)
{
    char d[24];
    size_t i = sizeof d;
    /* the magnitude as unsigned: INT64_MIN has no positive int64_t */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--i] = '-';
    return buf_add(b, d + i, sizeof d - i);
}

enum brock_status buf_addvf(struct buf *b, const char *fmt, va_list ap)
{
    if (b->overflow)
        return BROCK_ERR_TOO_LARGE;
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return BROCK_ERR_INTERNAL;
    if ((size_t)n < sizeof small)
        return buf_add(b, small, (size_t)n);
    if (!buf_reserve(b, (size_t)n)) {
        b->overflow = true;
        return BROCK_ERR_TOO_LARGE;
    }
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BROCK_OK;
}

enum brock_status buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum brock_status st = buf_addvf(b, fmt, ap);
    va_end(ap);
    return st;
}

void buf_truncate(struct buf *b, size_t newlen)
{
    if (newlen < b->len) {
        b->len = newlen;
        b->ptr[newlen] = '\0';
    }
}

char *buf_take(struct buf *b)
{
    char *p = b->ptr ? b->ptr : xstrdup("");
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->overflow = false;
    return p;
}
