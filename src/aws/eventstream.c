/* eventstream.c - application/vnd.amazon.eventstream decoder and encoder.
 *
 * The decoder works on the caller's piece whenever a whole message lies in it
 * (the common case: Bedrock frames are ~200 bytes, socket reads 16 KiB) and
 * copies bytes into `pend` only for a message cut by the end of a piece; that
 * buffer grows with the bytes that actually arrive, not with the length a
 * prelude announces, so a stalled 16 MiB announcement costs nothing. Each
 * message is CRC'd exactly once: the prelude CRC over bytes [0,8), then the
 * message CRC continued from it over [8, total-4). */
#include "eventstream.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "../util/alloc.h"

_Static_assert(ES_PRELUDE_LEN == 3 * sizeof(uint32_t), "prelude is three u32");
_Static_assert(ES_MIN_MESSAGE_LEN == ES_PRELUDE_LEN + sizeof(uint32_t), "prelude + message CRC");
_Static_assert(ES_MAX_MESSAGE_LEN <= UINT_MAX, "zlib crc32 takes uInt lengths");
_Static_assert(ES_MAX_HEADERS_LEN < ES_MAX_MESSAGE_LEN, "headers fit in a message");
_Static_assert(ES_MAX_HEADER_NAME_LEN <= UINT8_MAX, "name length is a u8");
_Static_assert(ES_MAX_HEADER_VALUE_LEN <= UINT16_MAX, "value length is a u16");

#define ES_INLINE_HEADERS 16 /* header slots inside the decoder before it allocates */
#define ES_KEEP_BUFFER ((size_t)256 * 1024) /* a bigger straddle buffer is freed after use */
#define ES_SHOW_NAME 72                     /* room for a header name quoted in an error message */

struct es_decoder {
    /* The piece being decoded (borrowed from the caller). */
    const uint8_t *in;
    size_t in_len, in_pos;
    uint64_t off; /* stream offset of in[in_pos] */

    /* A message that straddles pieces: its first pend.len bytes. */
    struct buf pend;
    uint64_t pend_off;   /* stream offset of its first byte */
    uint32_t pend_total; /* its total length once the prelude checked out, else 0 */
    uint32_t pend_hlen, pend_pcrc;
    bool pend_delivered; /* pend holds a message already handed out */

    /* Header table shared by every message (valid until the next call). */
    struct es_header *hdrs;
    size_t hdr_cap;
    struct es_header inline_hdrs[ES_INLINE_HEADERS];

    /* Sticky failure. */
    enum brock_status status;
    enum es_fault fault;
    char errmsg[sizeof((struct brock_err *)0)->msg];
};

/* ---- small helpers ---- */

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* Two's-complement value of the low `bits` bits of v, without relying on
 * implementation-defined conversions. */
static inline int64_t sign_extend(uint64_t v, unsigned bits)
{
    uint64_t sign = (uint64_t)1 << (bits - 1);
    uint64_t mask = bits == 64 ? UINT64_MAX : (sign << 1) - 1;
    v &= mask;
    if (!(v & sign))
        return (int64_t)v;
    return -(int64_t)(~v & mask) - 1; /* ~v & mask < 2^63: no overflow */
}

static inline uint32_t crc32_of(uint32_t crc, const uint8_t *p, size_t n)
{
    return (uint32_t)crc32((uLong)crc, p, (uInt)n);
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i == n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t more;
        uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if (n - i <= more || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += more + 1;
    }
    return true;
}

/* True if no byte has its high bit set: then every name and string in the
 * range is ASCII, hence UTF-8, and needs no closer look. */
static bool all_ascii(const uint8_t *s, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= s[i];
    return !(acc & UINT64_C(0x8080808080808080));
}

/* A header name fit for an error message: printable ASCII kept, anything else
 * as \xNN, cut with "..." if long. Only names are ever shown, never values:
 * signed event streams carry signatures in header values. */
static const char *show_name(const void *name, size_t n, char out[ES_SHOW_NAME])
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = name;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 8 >= ES_SHOW_NAME) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

static const char *const type_names[ES_TYPE_COUNT] = {
    [ES_BOOL_TRUE] = "bool true", [ES_BOOL_FALSE] = "bool false", [ES_BYTE] = "byte",
    [ES_INT16] = "int16",         [ES_INT32] = "int32",           [ES_INT64] = "int64",
    [ES_BYTES] = "byte array",    [ES_STRING] = "string",         [ES_TIMESTAMP] = "timestamp",
    [ES_UUID] = "uuid",
};

/* Bytes of a fixed-size value; 0 for the bools, SIZE_MAX for length-prefixed
 * values and unknown types. */
static inline size_t fixed_size(unsigned type)
{
    static const uint8_t sizes[ES_TYPE_COUNT] = {
        [ES_BOOL_TRUE] = 0, [ES_BOOL_FALSE] = 0, [ES_BYTE] = 1,     [ES_INT16] = 2,
        [ES_INT32] = 4,     [ES_INT64] = 8,      [ES_BYTES] = 0xff, [ES_STRING] = 0xff,
        [ES_TIMESTAMP] = 8, [ES_UUID] = 16,
    };
    return type < ES_TYPE_COUNT && sizes[type] != 0xff ? sizes[type] : SIZE_MAX;
}

const char *es_fault_name(enum es_fault f)
{
    static const char *const names[] = {
        [ES_FAULT_NONE] = "none",
        [ES_FAULT_PRELUDE_CRC] = "prelude-crc",
        [ES_FAULT_MESSAGE_CRC] = "message-crc",
        [ES_FAULT_LENGTH] = "length",
        [ES_FAULT_TOO_LARGE] = "too-large",
        [ES_FAULT_HEADER] = "header",
        [ES_FAULT_HEADER_TYPE] = "header-type",
        [ES_FAULT_DUPLICATE] = "duplicate-header",
        [ES_FAULT_UTF8] = "utf8",
        [ES_FAULT_TRUNCATED] = "truncated",
    };
    return (unsigned)f < BROCK_ARRAY_LEN(names) ? names[f] : "unknown";
}

/* ---- decoder ---- */

struct es_decoder *es_decoder_new(void)
{
    struct es_decoder *d = xcalloc(1, sizeof *d);
    buf_init(&d->pend, ES_MAX_MESSAGE_LEN);
    d->hdrs = d->inline_hdrs;
    d->hdr_cap = ES_INLINE_HEADERS;
    return d;
}

void es_decoder_free(struct es_decoder *d)
{
    if (!d)
        return;
    buf_free(&d->pend);
    if (d->hdrs != d->inline_hdrs)
        free(d->hdrs);
    free(d);
}

/* Empty the straddle buffer, giving back a large one. */
static void pend_clear(struct es_decoder *d)
{
    if (d->pend.cap > ES_KEEP_BUFFER)
        buf_free(&d->pend);
    else
        buf_reset(&d->pend);
    d->pend_total = 0;
    d->pend_delivered = false;
}

void es_decoder_reset(struct es_decoder *d)
{
    d->in = NULL;
    d->in_len = d->in_pos = 0;
    d->off = 0;
    pend_clear(d);
    d->status = BROCK_OK;
    d->fault = ES_FAULT_NONE;
    d->errmsg[0] = '\0';
}

enum es_fault es_decoder_fault(const struct es_decoder *d)
{
    return d->fault;
}

size_t es_decoder_memory(const struct es_decoder *d)
{
    size_t n = d->pend.cap;
    if (d->hdrs != d->inline_hdrs)
        n += d->hdr_cap * sizeof *d->hdrs;
    return n;
}

/* Put the decoder in its failed state and report it. */
BROCK_PRINTF(6, 7)
static enum brock_status fail(struct es_decoder *d, struct brock_err *e, enum brock_status st,
                              enum es_fault fault, uint64_t msg_off, const char *fmt, ...)
{
    int n = snprintf(d->errmsg, sizeof d->errmsg, "event-stream: message at offset %" PRIu64 ": ",
                     msg_off);
    if (n > 0 && (size_t)n < sizeof d->errmsg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->errmsg + n, sizeof d->errmsg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    d->status = st;
    d->fault = fault;
    return err_set(e, st, "%s", d->errmsg);
}

static enum brock_status replay(const struct es_decoder *d, struct brock_err *e)
{
    return err_set(e, d->status, "%s", d->errmsg);
}

/* Check the prelude at p (12 bytes) of the message at stream offset off. */
static enum brock_status check_prelude(struct es_decoder *d, const uint8_t *p, uint64_t off,
                                       uint32_t *total, uint32_t *hlen, uint32_t *pcrc,
                                       struct brock_err *e)
{
    uint32_t t = get_be32(p), h = get_be32(p + 4), found = get_be32(p + 8);
    uint32_t computed = crc32_of(0, p, 8);
    if (BROCK_UNLIKELY(computed != found))
        return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_PRELUDE_CRC, off,
                    "prelude CRC mismatch (computed 0x%08" PRIx32 ", found 0x%08" PRIx32 ")",
                    computed, found);
    if (BROCK_UNLIKELY(t < ES_MIN_MESSAGE_LEN))
        return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_LENGTH, off,
                    "total length %" PRIu32 " is less than the %d-byte minimum", t,
                    ES_MIN_MESSAGE_LEN);
    if (BROCK_UNLIKELY(t > ES_MAX_MESSAGE_LEN))
        return fail(d, e, BROCK_ERR_TOO_LARGE, ES_FAULT_TOO_LARGE, off,
                    "total length %" PRIu32 " exceeds the %" PRIu32 "-byte cap", t,
                    ES_MAX_MESSAGE_LEN);
    if (BROCK_UNLIKELY(h > t - ES_MIN_MESSAGE_LEN))
        return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_LENGTH, off,
                    "headers length %" PRIu32 " does not fit in total length %" PRIu32
                    " (at most %" PRIu32 ")",
                    h, t, t - ES_MIN_MESSAGE_LEN);
    if (BROCK_UNLIKELY(h > ES_MAX_HEADERS_LEN))
        return fail(d, e, BROCK_ERR_TOO_LARGE, ES_FAULT_TOO_LARGE, off,
                    "headers length %" PRIu32 " exceeds the %" PRIu32 "-byte cap", h,
                    ES_MAX_HEADERS_LEN);
    *total = t;
    *hlen = h;
    *pcrc = found;
    return BROCK_OK;
}

static void grow_headers(struct es_decoder *d)
{
    size_t cap = d->hdr_cap * 2;
    if (cap > ES_MAX_HEADER_COUNT)
        cap = ES_MAX_HEADER_COUNT;
    if (d->hdrs == d->inline_hdrs) {
        d->hdrs = xmalloc(cap * sizeof *d->hdrs);
        memcpy(d->hdrs, d->inline_hdrs, sizeof d->inline_hdrs);
    } else {
        d->hdrs = xrealloc(d->hdrs, cap * sizeof *d->hdrs);
    }
    d->hdr_cap = cap;
}

/* Parse the header section [h, end) of the message p at stream offset off. */
static enum brock_status parse_headers(struct es_decoder *d, const uint8_t *p, const uint8_t *h,
                                       const uint8_t *end, uint64_t off, size_t *count,
                                       struct brock_err *e)
{
    char shown[ES_SHOW_NAME];
    size_t n = 0;
    bool ascii = all_ascii(h, (size_t)(end - h)); /* Bedrock's headers always are */
    while (h < end) {
        uint64_t at = off + (uint64_t)(h - p); /* stream offset of this header */
        if (BROCK_UNLIKELY(n == ES_MAX_HEADER_COUNT))
            return fail(d, e, BROCK_ERR_TOO_LARGE, ES_FAULT_TOO_LARGE, off,
                        "header %zu at offset %" PRIu64 ": more than %d headers", n, at,
                        ES_MAX_HEADER_COUNT);
        size_t nlen = h[0];
        size_t left = (size_t)(end - h);
        if (BROCK_UNLIKELY(nlen == 0))
            return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_HEADER, off,
                        "header %zu at offset %" PRIu64 ": empty header name", n, at);
        if (BROCK_UNLIKELY(left < nlen + 2))
            return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_HEADER, off,
                        "header %zu at offset %" PRIu64
                        ": name length %zu runs past the end of the "
                        "header section (%zu bytes left)",
                        n, at, nlen, left - 1);
        const uint8_t *name = h + 1;
        if (!ascii && BROCK_UNLIKELY(!utf8_valid(name, nlen)))
            return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_UTF8, off,
                        "header %zu at offset %" PRIu64 ": name '%s' is not valid UTF-8", n, at,
                        show_name(name, nlen, shown));
        unsigned type = name[nlen];
        h = name + nlen + 1;
        left = (size_t)(end - h);

        if (n == d->hdr_cap)
            grow_headers(d);
        struct es_header *hd = &d->hdrs[n];
        hd->name = (const char *)name;
        hd->name_len = nlen;
        hd->type = (enum es_type)type;
        hd->num = 0;
        hd->data = NULL;
        hd->len = 0;

        size_t vsize = fixed_size(type);
        if (vsize == SIZE_MAX) {
            if (BROCK_UNLIKELY(type != ES_BYTES && type != ES_STRING))
                return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_HEADER_TYPE, off,
                            "header '%s' at offset %" PRIu64 ": unknown value type 0x%02x",
                            show_name(name, nlen, shown), at, type);
            if (BROCK_UNLIKELY(left < 2))
                return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_HEADER, off,
                            "header '%s' at offset %" PRIu64 ": %s length runs past the end of "
                            "the header section",
                            show_name(name, nlen, shown), at, type_names[type]);
            size_t vlen = (size_t)h[0] << 8 | h[1];
            if (BROCK_UNLIKELY(left - 2 < vlen))
                return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_HEADER, off,
                            "header '%s' at offset %" PRIu64 ": %s value of %zu bytes runs past "
                            "the end of the header section (%zu bytes left)",
                            show_name(name, nlen, shown), at, type_names[type], vlen, left - 2);
            hd->data = h + 2;
            hd->len = vlen;
            if (type == ES_STRING && !ascii && BROCK_UNLIKELY(!utf8_valid(h + 2, vlen)))
                return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_UTF8, off,
                            "header '%s' at offset %" PRIu64 ": string value is not valid UTF-8",
                            show_name(name, nlen, shown), at);
            h += 2 + vlen;
        } else {
            if (BROCK_UNLIKELY(left < vsize))
                return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_HEADER, off,
                            "header '%s' at offset %" PRIu64 ": %s value needs %zu bytes, the "
                            "header section has %zu left",
                            show_name(name, nlen, shown), at, type_names[type], vsize, left);
            switch (type) {
            case ES_BOOL_TRUE:
                hd->num = 1;
                break;
            case ES_BOOL_FALSE:
                break;
            case ES_BYTE:
                hd->num = sign_extend(h[0], 8);
                break;
            case ES_INT16:
                hd->num = sign_extend((uint64_t)h[0] << 8 | h[1], 16);
                break;
            case ES_INT32:
                hd->num = sign_extend(get_be32(h), 32);
                break;
            case ES_UUID:
                hd->data = h;
                hd->len = ES_UUID_LEN;
                break;
            default: /* ES_INT64, ES_TIMESTAMP */
                hd->num = sign_extend(get_be64(h), 64);
                break;
            }
            h += vsize;
        }

        for (size_t j = 0; j < n; j++) {
            if (d->hdrs[j].name_len == nlen && memcmp(d->hdrs[j].name, name, nlen) == 0)
                return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_DUPLICATE, off,
                            "header '%s' at offset %" PRIu64 ": duplicate name (also header %zu)",
                            show_name(name, nlen, shown), at, j);
        }
        n++;
    }
    *count = n;
    return BROCK_OK;
}

/* Check and parse the whole message p (prelude already checked). */
static enum brock_status parse_message(struct es_decoder *d, const uint8_t *p, uint32_t total,
                                       uint32_t hlen, uint32_t pcrc, uint64_t off,
                                       struct es_message *m, struct brock_err *e)
{
    uint32_t found = get_be32(p + total - 4);
    uint32_t computed = crc32_of(pcrc, p + 8, (total - 4) - 8); /* bytes [8, total-4) */
    if (BROCK_UNLIKELY(computed != found))
        return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_MESSAGE_CRC, off,
                    "message CRC mismatch (computed 0x%08" PRIx32 ", found 0x%08" PRIx32 ")",
                    computed, found);
    size_t count = 0;
    const uint8_t *h = p + ES_PRELUDE_LEN;
    enum brock_status st = parse_headers(d, p, h, h + hlen, off, &count, e);
    if (st != BROCK_OK)
        return st;
    m->offset = off;
    m->total_len = total;
    m->headers_len = hlen;
    m->prelude_crc = pcrc;
    m->message_crc = found;
    m->headers = d->hdrs;
    m->header_count = count;
    m->payload = h + hlen;
    m->payload_len = total - hlen - ES_MIN_MESSAGE_LEN;
    m->raw = p;
    return BROCK_OK;
}

/* Move up to `want` bytes of the piece into pend. */
static size_t take(struct es_decoder *d, size_t want)
{
    size_t avail = d->in_len - d->in_pos;
    size_t k = want < avail ? want : avail;
    /* Cannot overflow: pend never holds more than one message, and its cap
     * is the message cap. */
    (void)buf_add(&d->pend, d->in + d->in_pos, k);
    d->in_pos += k;
    d->off += k;
    return k;
}

/* Continue the message in pend with bytes from the piece. */
static enum brock_status next_pending(struct es_decoder *d, struct es_message *m, bool *got,
                                      struct brock_err *e)
{
    if (d->pend_total == 0) {
        take(d, ES_PRELUDE_LEN - d->pend.len);
        if (d->pend.len < ES_PRELUDE_LEN)
            return BROCK_OK;
        enum brock_status st = check_prelude(d, (const uint8_t *)d->pend.ptr, d->pend_off,
                                             &d->pend_total, &d->pend_hlen, &d->pend_pcrc, e);
        if (st != BROCK_OK)
            return st;
    }
    take(d, d->pend_total - d->pend.len);
    if (d->pend.len < d->pend_total)
        return BROCK_OK;
    enum brock_status st = parse_message(d, (const uint8_t *)d->pend.ptr, d->pend_total,
                                         d->pend_hlen, d->pend_pcrc, d->pend_off, m, e);
    if (st != BROCK_OK)
        return st;
    d->pend_delivered = true;
    *got = true;
    return BROCK_OK;
}

enum brock_status es_decoder_feed(struct es_decoder *d, const void *data, size_t n,
                                  struct brock_err *e)
{
    if (d->status != BROCK_OK)
        return replay(d, e);
    if (d->in_pos < d->in_len)
        return err_set(e, BROCK_ERR_USAGE,
                       "event-stream: es_decoder_feed called before the previous piece was drained "
                       "(%zu bytes not yet decoded)",
                       d->in_len - d->in_pos);
    if (!data && n)
        return err_set(e, BROCK_ERR_USAGE, "event-stream: es_decoder_feed given NULL and %zu bytes",
                       n);
    d->in = data;
    d->in_len = data ? n : 0;
    d->in_pos = 0;
    return BROCK_OK;
}

enum brock_status es_decoder_next(struct es_decoder *d, struct es_message *m, bool *got,
                                  struct brock_err *e)
{
    *got = false;
    if (BROCK_UNLIKELY(d->status != BROCK_OK))
        return replay(d, e);
    if (d->pend_delivered)
        pend_clear(d);
    if (d->pend.len > 0)
        return next_pending(d, m, got, e);

    size_t avail = d->in_len - d->in_pos;
    if (avail == 0)
        return BROCK_OK;
    const uint8_t *p = d->in + d->in_pos;
    if (avail >= ES_PRELUDE_LEN) {
        uint32_t total, hlen, pcrc;
        enum brock_status st = check_prelude(d, p, d->off, &total, &hlen, &pcrc, e);
        if (st != BROCK_OK)
            return st;
        if (avail >= total) { /* zero-copy: the whole message is in the piece */
            st = parse_message(d, p, total, hlen, pcrc, d->off, m, e);
            if (st != BROCK_OK)
                return st;
            d->in_pos += total;
            d->off += total;
            *got = true;
            return BROCK_OK;
        }
        d->pend_total = total;
        d->pend_hlen = hlen;
        d->pend_pcrc = pcrc;
    }
    /* The piece ends inside this message: keep its start. */
    d->pend_off = d->off;
    take(d, avail);
    return BROCK_OK;
}

enum brock_status es_decoder_finish(struct es_decoder *d, struct brock_err *e)
{
    if (d->status != BROCK_OK)
        return replay(d, e);
    if (d->in_pos < d->in_len)
        return err_set(e, BROCK_ERR_USAGE,
                       "event-stream: es_decoder_finish called before the last piece was drained "
                       "(%zu bytes not yet decoded)",
                       d->in_len - d->in_pos);
    if (d->pend.len == 0 || d->pend_delivered)
        return BROCK_OK;
    if (d->pend_total)
        return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_TRUNCATED, d->pend_off,
                    "stream ended inside the message (truncated: %zu of its %" PRIu32
                    " bytes received)",
                    d->pend.len, d->pend_total);
    return fail(d, e, BROCK_ERR_PARSE, ES_FAULT_TRUNCATED, d->pend_off,
                "stream ended inside the message prelude (truncated: %zu of %d bytes received)",
                d->pend.len, ES_PRELUDE_LEN);
}

/* ---- accessors ---- */

const struct es_header *es_message_header(const struct es_message *m, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < m->header_count; i++) {
        const struct es_header *h = &m->headers[i];
        if (h->name_len == n && memcmp(h->name, name, n) == 0)
            return h;
    }
    return NULL;
}

struct es_str es_message_string(const struct es_message *m, const char *name)
{
    const struct es_header *h = es_message_header(m, name);
    if (!h || h->type != ES_STRING)
        return (struct es_str){NULL, 0};
    return (struct es_str){h->data ? h->data : "", h->len};
}

enum es_kind es_message_kind(const struct es_message *m)
{
    struct es_str s = es_message_string(m, ":message-type");
    if (es_str_eq(s, "event"))
        return ES_KIND_EVENT;
    if (es_str_eq(s, "exception"))
        return ES_KIND_EXCEPTION;
    if (es_str_eq(s, "error"))
        return ES_KIND_ERROR;
    return ES_KIND_OTHER;
}

/* ---- encoder ---- */

/* Validate header i of hs and return its encoded size in *size. The name is
 * rendered for a message only when there is an error. */
#define NAME(h) show_name((h)->name, (h)->name_len, shown)
static enum brock_status check_header(const struct es_header *hs, size_t i, size_t *size,
                                      struct brock_err *e)
{
    const struct es_header *h = &hs[i];
    char shown[ES_SHOW_NAME];
    if (!h->name || h->name_len == 0 || h->name_len > ES_MAX_HEADER_NAME_LEN)
        return err_set(e, BROCK_ERR_USAGE,
                       "event-stream: encoding header %zu: name length %zu is outside 1..%d", i,
                       h->name ? h->name_len : 0, ES_MAX_HEADER_NAME_LEN);
    if (!utf8_valid((const uint8_t *)h->name, h->name_len))
        return err_set(e, BROCK_ERR_USAGE,
                       "event-stream: encoding header %zu: name '%s' is not UTF-8", i,
                       show_name(h->name, h->name_len, shown));
    size_t v;
    int64_t lo = 0, hi = 0;
    switch (h->type) {
    case ES_BOOL_TRUE:
    case ES_BOOL_FALSE:
        v = 0;
        break;
    case ES_BYTE:
        v = 1, lo = INT8_MIN, hi = INT8_MAX;
        break;
    case ES_INT16:
        v = 2, lo = INT16_MIN, hi = INT16_MAX;
        break;
    case ES_INT32:
        v = 4, lo = INT32_MIN, hi = INT32_MAX;
        break;
    case ES_INT64:
    case ES_TIMESTAMP:
        v = 8, lo = INT64_MIN, hi = INT64_MAX;
        break;
    case ES_UUID:
        if (!h->data || h->len != ES_UUID_LEN)
            return err_set(e, BROCK_ERR_USAGE,
                           "event-stream: encoding header '%s': a uuid is %d bytes, not %zu",
                           NAME(h), ES_UUID_LEN, h->data ? h->len : 0);
        v = ES_UUID_LEN;
        break;
    case ES_BYTES:
    case ES_STRING:
        if (h->len > ES_MAX_HEADER_VALUE_LEN || (h->len && !h->data))
            return err_set(e, BROCK_ERR_USAGE,
                           "event-stream: encoding header '%s': %s value of %zu bytes (at most %d)",
                           NAME(h), type_names[h->type], h->len, ES_MAX_HEADER_VALUE_LEN);
        if (h->type == ES_STRING && !utf8_valid(h->data, h->len))
            return err_set(e, BROCK_ERR_USAGE,
                           "event-stream: encoding header '%s': string value is not UTF-8",
                           NAME(h));
        v = 2 + h->len;
        break;
    default:
        return err_set(e, BROCK_ERR_USAGE, "event-stream: encoding header '%s': unknown type %d",
                       NAME(h), (int)h->type);
    }
    if (lo != hi && (h->num < lo || h->num > hi))
        return err_set(e, BROCK_ERR_USAGE,
                       "event-stream: encoding header '%s': %" PRId64 " does not fit in a %s",
                       NAME(h), h->num, type_names[h->type]);
    for (size_t j = 0; j < i; j++) {
        if (hs[j].name_len == h->name_len && memcmp(hs[j].name, h->name, h->name_len) == 0)
            return err_set(e, BROCK_ERR_USAGE,
                           "event-stream: encoding header '%s': duplicate name (also header %zu)",
                           NAME(h), j);
    }
    *size = 2 + h->name_len + v;
    return BROCK_OK;
}
#undef NAME

enum brock_status es_encode(struct buf *out, const struct es_header *headers, size_t count,
                            const void *payload, size_t payload_len, struct brock_err *e)
{
    if (out->overflow)
        return err_set(e, BROCK_ERR_TOO_LARGE, "event-stream: output buffer already overflowed");
    if (count > ES_MAX_HEADER_COUNT)
        return err_set(e, BROCK_ERR_TOO_LARGE, "event-stream: encoding %zu headers (at most %d)",
                       count, ES_MAX_HEADER_COUNT);
    if ((count && !headers) || (payload_len && !payload))
        return err_set(e, BROCK_ERR_USAGE, "event-stream: encoding: NULL headers or payload");
    size_t hlen = 0;
    for (size_t i = 0; i < count; i++) {
        size_t sz = 0;
        enum brock_status st = check_header(headers, i, &sz, e);
        if (st != BROCK_OK)
            return st;
        hlen += sz; /* each sz < 64 KiB + 258, so this sum cannot wrap before the check */
        if (hlen > ES_MAX_HEADERS_LEN)
            return err_set(e, BROCK_ERR_TOO_LARGE,
                           "event-stream: encoding: headers take more than %" PRIu32 " bytes",
                           ES_MAX_HEADERS_LEN);
    }
    if (payload_len > ES_MAX_MESSAGE_LEN - ES_MIN_MESSAGE_LEN - hlen)
        return err_set(
            e, BROCK_ERR_TOO_LARGE,
            "event-stream: encoding: %zu-byte payload and %zu bytes of headers exceed the "
            "%" PRIu32 "-byte message cap",
            payload_len, hlen, ES_MAX_MESSAGE_LEN);
    size_t total = ES_MIN_MESSAGE_LEN + hlen + payload_len;
    if (!buf_reserve(out, total)) {
        out->overflow = true;
        return err_set(e, BROCK_ERR_TOO_LARGE,
                       "event-stream: encoding: a %zu-byte message does not fit the output buffer "
                       "(cap %zu, holding %zu)",
                       total, out->max, out->len);
    }

    uint8_t *start = (uint8_t *)out->ptr + out->len, *w = start;
    put_be32(w, (uint32_t)total);
    put_be32(w + 4, (uint32_t)hlen);
    uint32_t pcrc = crc32_of(0, w, 8);
    put_be32(w + 8, pcrc);
    w += ES_PRELUDE_LEN;
    for (size_t i = 0; i < count; i++) {
        const struct es_header *h = &headers[i];
        *w++ = (uint8_t)h->name_len;
        memcpy(w, h->name, h->name_len);
        w += h->name_len;
        *w++ = (uint8_t)h->type;
        uint64_t u = (uint64_t)h->num;
        switch (h->type) {
        case ES_BYTE:
            *w++ = (uint8_t)u;
            break;
        case ES_INT16:
            *w++ = (uint8_t)(u >> 8);
            *w++ = (uint8_t)u;
            break;
        case ES_INT32:
            put_be32(w, (uint32_t)u);
            w += 4;
            break;
        case ES_INT64:
        case ES_TIMESTAMP:
            put_be64(w, u);
            w += 8;
            break;
        case ES_UUID:
            memcpy(w, h->data, ES_UUID_LEN);
            w += ES_UUID_LEN;
            break;
        case ES_BYTES:
        case ES_STRING:
            *w++ = (uint8_t)(h->len >> 8);
            *w++ = (uint8_t)h->len;
            if (h->len)
                memcpy(w, h->data, h->len);
            w += h->len;
            break;
        default: /* the bools carry no value */
            break;
        }
    }
    if (payload_len)
        memcpy(w, payload, payload_len);
    w += payload_len;
    put_be32(w, crc32_of(pcrc, start + 8, (total - 4) - 8));
    out->len += total;
    out->ptr[out->len] = '\0';
    return BROCK_OK;
}

static enum brock_status encode3(struct buf *out, const char *n1, const char *v1, const char *n2,
                                 const char *v2, const char *type, const void *payload,
                                 size_t payload_len, struct brock_err *e)
{
    if (!v1 || !v2)
        return err_set(e, BROCK_ERR_USAGE, "event-stream: encoding: NULL %s", v1 ? n2 : n1);
    const struct es_header hs[3] = {
        es_hdr_string(n1, v1),
        es_hdr_string(n2, v2),
        es_hdr_string(":message-type", type),
    };
    return es_encode(out, hs, 3, payload, payload_len, e);
}

enum brock_status es_encode_event(struct buf *out, const char *event_type, const char *content_type,
                                  const void *payload, size_t payload_len, struct brock_err *e)
{
    return encode3(out, ":event-type", event_type, ":content-type",
                   content_type ? content_type : "application/json", "event", payload, payload_len,
                   e);
}

enum brock_status es_encode_exception(struct buf *out, const char *exception_type,
                                      const char *content_type, const void *payload,
                                      size_t payload_len, struct brock_err *e)
{
    return encode3(out, ":exception-type", exception_type, ":content-type",
                   content_type ? content_type : "application/json", "exception", payload,
                   payload_len, e);
}

enum brock_status es_encode_error(struct buf *out, const char *error_code,
                                  const char *error_message, struct brock_err *e)
{
    return encode3(out, ":error-code", error_code, ":error-message", error_message, "error", NULL,
                   0, e);
}
