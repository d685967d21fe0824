/* buf.h - a growable byte buffer with a mandatory size cap.
 *
 * `struct buf` lives on the stack or inside another struct. Initialise it with
 * buf_init(&b, max) (or BUF_INIT(max)); `max` is the most bytes it may ever hold
 * and is what protects brock from unbounded input. The contents are always
 * NUL-terminated (the terminator is not counted in `len` nor against `max`).
 *
 * Appends are sticky: once an append would exceed `max`, that append and every
 * later one are dropped and buf_status() returns BROCK_ERR_TOO_LARGE, so a chain
 * of appends can be checked once at the end. Memory failure aborts (alloc.h).
 *
 * Ownership: the buffer owns `ptr`; buf_take() hands it to the caller, who frees
 * it with free(). buf_free() on a zeroed or already-freed buffer is fine. */
#ifndef BROCK_UTIL_BUF_H
#define BROCK_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "err.h"

struct buf {
    char *ptr;     /* NUL-terminated contents, or NULL before the first append */
    size_t len;    /* bytes held, not counting the terminator */
    size_t cap;    /* allocated bytes (>= len + 1 once allocated) */
    size_t max;    /* most bytes the buffer may hold */
    bool overflow; /* sticky: an append exceeded max */
};

#define BUF_INIT(maxbytes) { NULL, 0, 0, (maxbytes), false }

/* Common caps. */
#define BUF_MAX_SMALL ((size_t)64 * 1024)
#define BUF_MAX_BODY ((size_t)32 * 1024 * 1024)

void buf_init(struct buf *b, size_t max);
/* Free the memory and return to the initial empty state (keeps max). */
void buf_free(struct buf *b);
/* Like buf_free, but wipes the bytes first (for secrets). */
void buf_free_secure(struct buf *b);
/* Forget the contents but keep the allocation; clears the overflow flag. */
void buf_reset(struct buf *b);
/* Make sure `n` more bytes fit without reallocating; false if over max. */
bool buf_reserve(struct buf *b, size_t n);

enum brock_status buf_add(struct buf *b, const void *p, size_t n);
enum brock_status buf_addstr(struct buf *b, const char *s);
enum brock_status buf_addc(struct buf *b, char c);
enum brock_status buf_addf(struct buf *b, const char *fmt, ...) BROCK_PRINTF(2, 3);
/* v in decimal, as "%lld" writes it, without the printf machinery (the
 * audit event writes a dozen numbers per call). */
enum brock_status buf_addi64(struct buf *b, int64_t v);
enum brock_status buf_addvf(struct buf *b, const char *fmt, va_list ap);
/* Remove the last n bytes (or all if n > len). */
void buf_truncate(struct buf *b, size_t newlen);

/* BROCK_OK, or BROCK_ERR_TOO_LARGE if any append was dropped. */
static inline enum brock_status buf_status(const struct buf *b)
{
    return b->overflow ? BROCK_ERR_TOO_LARGE : BROCK_OK;
}

/* Contents as a C string; "" when empty. Valid until the next append/free. */
static inline const char *buf_cstr(const struct buf *b)
{
    return b->ptr ? b->ptr : "";
}

/* Hand the contents to the caller (free() them); the buffer becomes empty.
 * Never returns NULL: an empty buffer gives an allocated "". */
char *buf_take(struct buf *b);

#endif
