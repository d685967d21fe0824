/* codec.h - hex, base64 and the RFC 3986 percent-encoding AWS signs with. */
#ifndef BROCK_UTIL_CODEC_H
#define BROCK_UTIL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Lowercase hex of n bytes into out (2n chars + NUL). */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* Decode 2n hex chars (either case) into n bytes. False on a bad digit. */
bool hex_decode(const char *s, size_t slen, uint8_t *out);

/* Standard padded base64 (RFC 4648 section 4). */
size_t base64_encoded_len(size_t n);
enum brock_status base64_encode(struct buf *out, const void *p, size_t n);
/* Decodes padded or unpadded standard base64, ignoring nothing: any byte
 * outside the alphabet is an error (BROCK_ERR_PARSE). */
enum brock_status base64_decode(struct buf *out, const char *s, size_t n);

/* 64-bit FNV-1a over n bytes, from h (FNV1A64_INIT to start; chain calls
 * to hash several pieces): for hash tables, not for anything secret. */
#define FNV1A64_INIT 14695981039346656037ull
uint64_t fnv1a64(uint64_t h, const void *p, size_t n);
uint64_t fnv1a64_str(const char *s); /* a C string from FNV1A64_INIT */

/* AWS URI encoding: every byte except A-Z a-z 0-9 - _ . ~ becomes %XY with
 * uppercase hex; with keep_slash, '/' is kept too. */
enum brock_status uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash);
/* Decode %XY escapes ('+' is left alone). Invalid escapes are kept verbatim. */
enum brock_status uri_decode(struct buf *out, const char *s, size_t n);
/* True for the RFC 3986 unreserved characters. */
static inline bool uri_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

#endif
