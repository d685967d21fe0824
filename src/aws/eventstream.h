/* eventstream.h - the application/vnd.amazon.eventstream codec.
 *
 * Bedrock streams its answers as a sequence of binary messages (reference
 * section 5):
 *
 *   [total_len u32][headers_len u32][prelude_crc u32][headers][payload][message_crc u32]
 *
 * all big-endian, CRC-32 as in zlib. Each header is [name_len u8][name][type u8]
 * [value]. This module decodes a byte stream that arrives in pieces of any
 * size into messages with typed headers, and encodes messages (for the
 * emulator). What the headers mean to Bedrock is the next layer's business;
 * the accessors below only find them.
 *
 * Decoding (a pull API):
 *
 *     struct es_decoder *d = es_decoder_new();
 *     // for every piece read from the socket:
 *     es_decoder_feed(d, data, n, &err);
 *     struct es_message m;
 *     bool got;
 *     while ((st = es_decoder_next(d, &m, &got, &err)) == BROCK_OK && got)
 *         handle(&m);
 *     // st != BROCK_OK: the stream is broken; err says where and why
 *     // at end of stream:
 *     es_decoder_finish(d, &err);   // a message cut short is an error here
 *     es_decoder_free(d);
 *
 * Checks, in order, per message: the prelude CRC (before any length is
 * trusted), the lengths against each other and against the caps below (before
 * anything is allocated), the message CRC (continued from the prelude CRC, so
 * each byte is CRC'd once), then every header: name length 1..255 and valid
 * UTF-8, a known value type, the value inside the header section, string
 * values valid UTF-8, no duplicate name, at most ES_MAX_HEADER_COUNT headers.
 * Errors name the stream offset of the message and of the bad header. After an
 * error the decoder stays failed (a stream cannot resynchronise): every later
 * call returns the same status and message until es_decoder_reset().
 *
 * Lifetimes (zero-copy). es_decoder_feed() borrows the caller's bytes: they
 * must stay valid and unchanged until es_decoder_next() reports got == false
 * (by then every byte has been used, and the tail of a message cut by the end
 * of the piece has been copied inside). A message wholly inside the fed piece
 * points into it; one that straddled pieces points into the decoder's own
 * buffer. Either way an es_message (its headers, names, values, payload and
 * raw bytes) is valid only until the next call on the same decoder.
 *
 * Encoding appends one message to a struct buf; the buffer's cap and sticky
 * overflow apply. Headers are written in the order given.
 *
 * Threads: a decoder belongs to one thread at a time; the encoder functions
 * and accessors are reentrant. No global state. */
#ifndef BROCK_AWS_EVENTSTREAM_H
#define BROCK_AWS_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"

#define ES_PRELUDE_LEN 12     /* total_len, headers_len, prelude_crc */
#define ES_MIN_MESSAGE_LEN 16 /* prelude + message_crc, no headers, no payload */

/* Caps, checked before allocating. A message may be at most 16 MiB (as in
 * aws-c-event-stream), its header section at most 128 KiB (botocore,
 * aws-c-event-stream), and hold at most 256 headers (brock's choice: keeps the
 * duplicate check cheap; AWS sends three to five). Names are 1..255 bytes (the
 * format's u8; brock rejects the empty name), byte-array and string values up
 * to 65535 bytes (the format's u16; some SDKs stop at 32767). */
#define ES_MAX_MESSAGE_LEN ((uint32_t)16 * 1024 * 1024)
#define ES_MAX_HEADERS_LEN ((uint32_t)128 * 1024)
#define ES_MAX_HEADER_COUNT 256
#define ES_MAX_HEADER_NAME_LEN 255
#define ES_MAX_HEADER_VALUE_LEN 65535
#define ES_UUID_LEN 16

/* Header value types, with their wire codes. */
enum es_type {
    ES_BOOL_TRUE = 0,  /* no value bytes */
    ES_BOOL_FALSE = 1, /* no value bytes */
    ES_BYTE = 2,       /* int8 */
    ES_INT16 = 3,
    ES_INT32 = 4,
    ES_INT64 = 5,
    ES_BYTES = 6,     /* u16 length + bytes */
    ES_STRING = 7,    /* u16 length + UTF-8 */
    ES_TIMESTAMP = 8, /* int64 milliseconds since the epoch */
    ES_UUID = 9,      /* 16 bytes */
    ES_TYPE_COUNT
};

/* One header. Decoded headers point into the message; for encoding the caller
 * fills them (the es_hdr_* helpers below do). Names and string values are not
 * NUL-terminated. */
struct es_header {
    const char *name;
    size_t name_len;
    enum es_type type;
    int64_t num;      /* BOOL_*: 1 or 0; BYTE, INT16, INT32, INT64, TIMESTAMP: the value */
    const void *data; /* BYTES, STRING: len bytes; UUID: 16 bytes; else NULL */
    size_t len;       /* BYTES, STRING: value length; UUID: 16; else 0 */
};

/* One decoded message. Everything points into the fed bytes or the decoder
 * (see Lifetimes above). */
struct es_message {
    uint64_t offset; /* stream offset of the message's first byte */
    uint32_t total_len;
    uint32_t headers_len;
    uint32_t prelude_crc;
    uint32_t message_crc;
    const struct es_header *headers; /* in wire order */
    size_t header_count;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *raw; /* the whole message, total_len bytes */
};

/* A string view. p == NULL means "absent". */
struct es_str {
    const char *p;
    size_t len;
};

/* What went wrong, for code that must tell the cases apart (status and
 * message say it for people). */
enum es_fault {
    ES_FAULT_NONE = 0,
    ES_FAULT_PRELUDE_CRC, /* prelude CRC mismatch */
    ES_FAULT_MESSAGE_CRC, /* message CRC mismatch */
    ES_FAULT_LENGTH,      /* total/headers lengths inconsistent */
    ES_FAULT_TOO_LARGE,   /* a cap above was exceeded */
    ES_FAULT_HEADER,      /* malformed header: name length, value past the section */
    ES_FAULT_HEADER_TYPE, /* unknown header value type */
    ES_FAULT_DUPLICATE,   /* the same header name twice */
    ES_FAULT_UTF8,        /* header name or string value is not UTF-8 */
    ES_FAULT_TRUNCATED,   /* the stream ended inside a message */
};

/* "prelude-crc", "message-crc", ...; "none" for ES_FAULT_NONE. */
const char *es_fault_name(enum es_fault f);

/* ---- decoding ---- */

struct es_decoder;

struct es_decoder *es_decoder_new(void);
void es_decoder_free(struct es_decoder *d); /* NULL is fine */
/* Forget the stream (and any error); keeps the allocations for reuse. */
void es_decoder_reset(struct es_decoder *d);

/* Give the decoder the next piece of the stream (borrowed; see Lifetimes).
 * BROCK_ERR_USAGE if the previous piece was not drained with es_decoder_next;
 * the stored error if the decoder has failed. n == 0 is fine. */
BROCK_WUR enum brock_status es_decoder_feed(struct es_decoder *d, const void *data, size_t n,
                                            struct brock_err *e);

/* The next complete message: BROCK_OK with *got = true and *m filled, or
 * BROCK_OK with *got = false when the fed bytes are used up (feed more).
 * Errors: BROCK_ERR_PARSE for a malformed or corrupt message,
 * BROCK_ERR_TOO_LARGE for a cap; the decoder then stays failed. */
BROCK_WUR enum brock_status es_decoder_next(struct es_decoder *d, struct es_message *m, bool *got,
                                            struct brock_err *e);

/* End of stream. BROCK_OK if it ended between messages; BROCK_ERR_PARSE
 * (ES_FAULT_TRUNCATED) if it ended inside one, saying how much was there;
 * BROCK_ERR_USAGE if the last piece was not drained. */
BROCK_WUR enum brock_status es_decoder_finish(struct es_decoder *d, struct brock_err *e);

/* Why the decoder failed (ES_FAULT_NONE while it has not). */
enum es_fault es_decoder_fault(const struct es_decoder *d);
/* Bytes the decoder holds on the heap (its straddle buffer and header table). */
size_t es_decoder_memory(const struct es_decoder *d);

/* ---- looking at a message ---- */

/* The first header with this name, or NULL. */
const struct es_header *es_message_header(const struct es_message *m, const char *name);
/* The value of a string header; {NULL, 0} if absent or of another type. */
struct es_str es_message_string(const struct es_message *m, const char *name);

static inline bool es_str_eq(struct es_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.p && s.len == n && memcmp(s.p, lit, n) == 0;
}

/* :message-type, as Bedrock uses it (reference 5.2). */
enum es_kind {
    ES_KIND_OTHER = 0, /* absent, not a string, or another value */
    ES_KIND_EVENT,     /* "event" */
    ES_KIND_EXCEPTION, /* "exception": a modelled error, see :exception-type */
    ES_KIND_ERROR,     /* "error": unmodelled, see :error-code, :error-message */
};
enum es_kind es_message_kind(const struct es_message *m);

static inline struct es_str es_message_event_type(const struct es_message *m)
{
    return es_message_string(m, ":event-type");
}
static inline struct es_str es_message_exception_type(const struct es_message *m)
{
    return es_message_string(m, ":exception-type");
}
static inline struct es_str es_message_content_type(const struct es_message *m)
{
    return es_message_string(m, ":content-type");
}
static inline struct es_str es_message_error_code(const struct es_message *m)
{
    return es_message_string(m, ":error-code");
}
static inline struct es_str es_message_error_message(const struct es_message *m)
{
    return es_message_string(m, ":error-message");
}

/* ---- encoding ---- */

/* Append one message. Checks every header (name 1..255 bytes of UTF-8, known
 * type, integer in range for its type, value length, UTF-8 strings, no
 * duplicate, count) and the length sums against the caps, then writes it all
 * with one reservation. BROCK_ERR_USAGE for a bad header, BROCK_ERR_TOO_LARGE
 * for a cap or a full `out`; nothing is appended on error. */
BROCK_WUR enum brock_status es_encode(struct buf *out, const struct es_header *headers,
                                      size_t count, const void *payload, size_t payload_len,
                                      struct brock_err *e);

/* Bedrock's shapes (content_type NULL means "application/json"):
 * event:     :event-type, :content-type, :message-type = "event"
 * exception: :exception-type, :content-type, :message-type = "exception"
 * error:     :error-code, :error-message, :message-type = "error", no payload */
BROCK_WUR enum brock_status es_encode_event(struct buf *out, const char *event_type,
                                            const char *content_type, const void *payload,
                                            size_t payload_len, struct brock_err *e);
BROCK_WUR enum brock_status es_encode_exception(struct buf *out, const char *exception_type,
                                                const char *content_type, const void *payload,
                                                size_t payload_len, struct brock_err *e);
BROCK_WUR enum brock_status es_encode_error(struct buf *out, const char *error_code,
                                            const char *error_message, struct brock_err *e);

/* Header builders for es_encode (name and values are borrowed). */
static inline struct es_header es_hdr_bool(const char *name, bool v)
{
    return (struct es_header){name, strlen(name), v ? ES_BOOL_TRUE : ES_BOOL_FALSE, v, NULL, 0};
}
static inline struct es_header es_hdr_int(const char *name, enum es_type t, int64_t v)
{
    return (struct es_header){name, strlen(name), t, v, NULL, 0};
}
static inline struct es_header es_hdr_bytes(const char *name, const void *p, size_t n)
{
    return (struct es_header){name, strlen(name), ES_BYTES, 0, p, n};
}
static inline struct es_header es_hdr_string(const char *name, const char *s)
{
    return (struct es_header){name, strlen(name), ES_STRING, 0, s, strlen(s)};
}
static inline struct es_header es_hdr_uuid(const char *name, const uint8_t uuid[ES_UUID_LEN])
{
    return (struct es_header){name, strlen(name), ES_UUID, 0, uuid, ES_UUID_LEN};
}

#endif
