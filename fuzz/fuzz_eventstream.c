/* fuzz_eventstream.c - the event-stream decoder on arbitrary bytes.
 *
 * The input is decoded twice: whole, and in pieces whose sizes come from the
 * input itself (so the fuzzer explores the straddling paths). Both runs must
 * agree exactly: the same messages at the same offsets, then the same status,
 * fault and message. Every decoded message must re-encode to its own bytes,
 * and the accessors must not trip on it.
 *
 * Random bytes rarely carry valid CRCs, so the same input is also decoded
 * after "repairing" it: the CRCs of every frame its length fields describe
 * are recomputed with zlib, which lets mutations reach the header parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../src/aws/eventstream.h"
#include "../src/util/buf.h"

#define MAX_SEEN 4096

struct seen {
    size_t count;
    uint64_t offset[MAX_SEEN];
    uint32_t crc[MAX_SEEN];
    enum brock_status st;
    enum es_fault fault;
    struct brock_err err;
};

static void check_message(const struct es_message *m, struct buf *scratch)
{
    buf_reset(scratch);
    struct brock_err e;
    if (es_encode(scratch, m->headers, m->header_count, m->payload, m->payload_len, &e) !=
        BROCK_OK) {
        fprintf(stderr, "decoded message does not re-encode: %s\n", e.msg);
        abort();
    }
    if (scratch->len != m->total_len || memcmp(scratch->ptr, m->raw, m->total_len) != 0) {
        fprintf(stderr, "re-encoding differs at offset %llu\n", (unsigned long long)m->offset);
        abort();
    }
    (void)es_message_kind(m);
    (void)es_message_event_type(m);
    (void)es_message_header(m, ":message-type");
}

/* piece == 0: whole; otherwise sizes drawn from the input. */
static void decode(const uint8_t *data, size_t size, int chunked, struct seen *s,
                   struct buf *scratch)
{
    memset(s, 0, sizeof *s);
    struct es_decoder *d = es_decoder_new();
    size_t pos = 0, step = 0;
    do {
        size_t k = size - pos;
        if (chunked && size) {
            /* 1..64 bytes, or occasionally a big piece, from the input bytes */
            uint8_t b = data[step++ % size];
            size_t want = b >= 0xf0 ? (size_t)(b - 0xef) * 512 : (size_t)(b & 63) + 1;
            if (want < k)
                k = want;
        }
        uint8_t *piece = malloc(k ? k : 1); /* exact size: ASan sees overreads */
        if (k)
            memcpy(piece, data + pos, k);
        s->st = es_decoder_feed(d, piece, k, &s->err);
        while (s->st == BROCK_OK) {
            struct es_message m;
            bool got;
            s->st = es_decoder_next(d, &m, &got, &s->err);
            if (s->st != BROCK_OK || !got)
                break;
            check_message(&m, scratch);
            if (s->count < MAX_SEEN) {
                s->offset[s->count] = m.offset;
                s->crc[s->count] = m.message_crc;
            }
            s->count++;
        }
        free(piece);
        pos += k;
    } while (s->st == BROCK_OK && pos < size);
    if (s->st == BROCK_OK)
        s->st = es_decoder_finish(d, &s->err);
    s->fault = es_decoder_fault(d);
    if (s->st != BROCK_OK && (s->fault == ES_FAULT_NONE || s->err.msg[0] == '\0')) {
        fprintf(stderr, "error without a fault or message: %s\n", s->err.msg);
        abort();
    }
    es_decoder_free(d);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Give every frame the input describes correct CRCs. */
static void repair(uint8_t *p, size_t n)
{
    size_t pos = 0;
    while (n - pos >= ES_PRELUDE_LEN) {
        uint8_t *f = p + pos;
        put32(f + 8, (uint32_t)crc32(0, f, 8));
        uint32_t total = be32(f);
        if (total < ES_MIN_MESSAGE_LEN || total > n - pos)
            break;
        put32(f + total - 4, (uint32_t)crc32(0, f, total - 4));
        pos += total;
    }
}

static void compare(const struct seen *whole, const struct seen *chunked)
{
    size_t n = whole->count < MAX_SEEN ? whole->count : MAX_SEEN;
    if (whole->count != chunked->count || whole->st != chunked->st ||
        whole->fault != chunked->fault || strcmp(whole->err.msg, chunked->err.msg) != 0 ||
        memcmp(whole->offset, chunked->offset, n * sizeof whole->offset[0]) != 0 ||
        memcmp(whole->crc, chunked->crc, n * sizeof whole->crc[0]) != 0) {
        fprintf(stderr,
                "whole and chunked decoding disagree:\n  whole:   %zu messages, %s\n"
                "  chunked: %zu messages, %s\n",
                whole->count, whole->err.msg, chunked->count, chunked->err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen whole, chunked;
    struct buf scratch = BUF_INIT(ES_MAX_MESSAGE_LEN);
    decode(data, size, 0, &whole, &scratch);
    decode(data, size, 1, &chunked, &scratch);
    compare(&whole, &chunked);

    uint8_t *fixed = malloc(size ? size : 1);
    if (size)
        memcpy(fixed, data, size);
    repair(fixed, size);
    decode(fixed, size, 0, &whole, &scratch);
    decode(fixed, size, 1, &chunked, &scratch);
    compare(&whole, &chunked);
    free(fixed);
    buf_free(&scratch);
    return 0;
}
