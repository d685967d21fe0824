/* Tests for src/aws/eventstream: AWS's event-stream vectors (aws-sdk-go and
 * smithy-rs sets), the recorded Bedrock streams, the worked examples of the
 * wire reference (section 5.3), size caps, truncation, error messages and the
 * encoder.
 *
 * Run with arguments, the binary is also the brock side of
 * tests/e2e/eventstream_js_cross.sh:
 *   test_eventstream --es-write-samples OUT.bin OUT.json
 *       encode the sample messages below; describe them (from the tables, not
 *       by decoding) in OUT.json
 *   test_eventstream --es-dump IN.bin
 *       decode a stream and print the same description on stdout */
#include "../support/test.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../src/aws/eventstream.h"
#include "../../src/util/buf.h"
#include "../../src/util/codec.h"

#define GO_DIR "eventstream/aws-sdk-go/testdata"
#define SMITHY_DIR "eventstream/smithy-rs/test_data"
#define RECORDED_DIR "bedrock-recorded/extracted"

/* ---- helpers (test side; framing done with zlib directly, never with the
 * code under test) ---- */

struct blob {
    uint8_t *p;
    size_t n;
};

static struct blob read_vector(const char *rel)
{
    char *path = testdata_path(rel);
    struct blob b = {0};
    b.p = (uint8_t *)test_read_file(path, &b.n);
    if (!b.p)
        fail_msg("cannot read test vector %s", path);
    free(path);
    return b;
}

static json_t *read_json(const char *rel)
{
    char *path = testdata_path(rel);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    free(path);
    return j;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t zcrc(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32(crc, p, (uInt)n);
}

/* Frame a raw header section and payload with the given length fields and
 * correct CRCs. Returns a malloc'd message of 16 + hlen + plen bytes. */
static uint8_t *frame_raw(uint32_t total, uint32_t hlen_field, const void *hdr, size_t hlen,
                          const void *payload, size_t plen, size_t *outlen)
{
    size_t n = 16 + hlen + plen;
    uint8_t *m = malloc(n);
    put32(m, total);
    put32(m + 4, hlen_field);
    put32(m + 8, zcrc(0, m, 8));
    if (hlen)
        memcpy(m + 12, hdr, hlen);
    if (plen)
        memcpy(m + 12 + hlen, payload, plen);
    put32(m + n - 4, zcrc(0, m, n - 4));
    *outlen = n;
    return m;
}

static uint8_t *frame(const void *hdr, size_t hlen, const void *payload, size_t plen,
                      size_t *outlen)
{
    return frame_raw((uint32_t)(16 + hlen + plen), (uint32_t)hlen, hdr, hlen, payload, plen,
                     outlen);
}

/* Recompute the message CRC of a message in place (for "repaired" vectors). */
static void fix_message_crc(uint8_t *m, size_t total)
{
    put32(m + total - 4, zcrc(0, m, total - 4));
}

/* One decoding run over a byte string fed in pieces. */
typedef void msg_fn(const struct es_message *m, size_t index, void *ctx);

struct run {
    size_t count;
    uint8_t **raw; /* copies of each message's bytes */
    size_t *len;
    enum brock_status st;
    enum es_fault fault;
    struct brock_err err;
};

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->raw[i]);
    free(r->raw);
    free(r->len);
    memset(r, 0, sizeof *r);
}

/* Feed p[0..n) in pieces of `piece` bytes (0: all at once), each piece in its
 * own exact-size allocation so ASan sees any read past it; call fn for each
 * message; end with es_decoder_finish. Checks the offsets are contiguous. */
static void run_decode(struct run *r, const uint8_t *p, size_t n, size_t piece, msg_fn *fn,
                       void *ctx)
{
    memset(r, 0, sizeof *r);
    struct es_decoder *d = es_decoder_new();
    size_t pos = 0;
    uint64_t next_off = 0;
    if (piece == 0)
        piece = n ? n : 1;
    do {
        size_t k = n - pos < piece ? n - pos : piece;
        uint8_t *copy = malloc(k ? k : 1);
        if (k)
            memcpy(copy, p + pos, k);
        r->st = es_decoder_feed(d, copy, k, &r->err);
        while (r->st == BROCK_OK) {
            struct es_message m;
            bool got;
            r->st = es_decoder_next(d, &m, &got, &r->err);
            if (r->st != BROCK_OK || !got)
                break;
            assert_int_equal(m.offset, next_off);
            next_off += m.total_len;
            assert_int_equal(m.header_count == 0, m.headers_len == 0);
            assert_true(m.payload == m.raw + 12 + m.headers_len);
            r->raw = realloc(r->raw, (r->count + 1) * sizeof *r->raw);
            r->len = realloc(r->len, (r->count + 1) * sizeof *r->len);
            r->raw[r->count] = malloc(m.total_len);
            memcpy(r->raw[r->count], m.raw, m.total_len);
            r->len[r->count] = m.total_len;
            if (fn)
                fn(&m, r->count, ctx);
            r->count++;
        }
        free(copy);
        pos += k;
    } while (r->st == BROCK_OK && pos < n);
    if (r->st == BROCK_OK)
        r->st = es_decoder_finish(d, &r->err);
    r->fault = es_decoder_fault(d);
    es_decoder_free(d);
}

/* Re-encode a decoded message and check it gives back its bytes. */
static void check_reencode(const struct es_message *m)
{
    struct buf b = BUF_INIT(ES_MAX_MESSAGE_LEN);
    struct brock_err e = {0};
    assert_int_equal(es_encode(&b, m->headers, m->header_count, m->payload, m->payload_len, &e),
                     BROCK_OK);
    assert_int_equal(b.len, m->total_len);
    assert_memory_equal(b.ptr, m->raw, m->total_len);
    buf_free(&b);
}

static char *name_of(const struct es_header *h)
{
    char *s = malloc(h->name_len + 1);
    memcpy(s, h->name, h->name_len);
    s[h->name_len] = '\0';
    return s;
}

/* ---- aws-sdk-go vectors ---- */

static void b64(struct buf *out, const char *s)
{
    buf_init(out, 1 << 20);
    assert_int_equal(base64_decode(out, s, strlen(s)), BROCK_OK);
}

/* Compare a decoded header with its JSON description {name, type, value}. */
static void check_go_header(const struct es_header *h, json_t *jh)
{
    const char *name = json_string_value(json_object_get(jh, "name"));
    json_int_t type = json_integer_value(json_object_get(jh, "type"));
    json_t *v = json_object_get(jh, "value");
    assert_non_null(name);
    assert_int_equal(h->name_len, strlen(name));
    assert_memory_equal(h->name, name, h->name_len);
    assert_int_equal(h->type, type);
    switch (h->type) {
    case ES_BOOL_TRUE:
    case ES_BOOL_FALSE:
        assert_true(json_is_boolean(v));
        assert_int_equal(h->num, json_is_true(v));
        assert_int_equal(h->type == ES_BOOL_TRUE, json_is_true(v));
        break;
    case ES_BYTES:
    case ES_STRING:
    case ES_UUID: {
        struct buf want;
        b64(&want, json_string_value(v));
        assert_int_equal(h->len, want.len);
        assert_memory_equal(h->data, want.ptr, want.len);
        buf_free(&want);
        break;
    }
    default:
        assert_true(json_is_integer(v));
        assert_int_equal(h->num, json_integer_value(v));
    }
}

static void go_positive_cb(const struct es_message *m, size_t index, void *ctx)
{
    json_t *j = ctx;
    assert_int_equal(index, 0);
    assert_int_equal(m->total_len, json_integer_value(json_object_get(j, "total_length")));
    assert_int_equal(m->headers_len, json_integer_value(json_object_get(j, "headers_length")));
    /* CRCs are stored signed when the high bit is set (README quirk) */
    assert_int_equal(
        m->prelude_crc,
        (uint32_t)(json_integer_value(json_object_get(j, "prelude_crc")) & 0xffffffff));
    assert_int_equal(
        m->message_crc,
        (uint32_t)(json_integer_value(json_object_get(j, "message_crc")) & 0xffffffff));
    json_t *hs = json_object_get(j, "headers");
    assert_int_equal(m->header_count, json_array_size(hs));
    for (size_t i = 0; i < m->header_count; i++)
        check_go_header(&m->headers[i], json_array_get(hs, i));
    struct buf payload;
    b64(&payload, json_string_value(json_object_get(j, "payload")));
    assert_int_equal(m->payload_len, payload.len);
    if (payload.len)
        assert_memory_equal(m->payload, payload.ptr, payload.len);
    buf_free(&payload);
    check_reencode(m);
}

/* Encode the message described by the JSON, independently of any decoding. */
static void go_encode_from_json(json_t *j, struct buf *out)
{
    json_t *hs = json_object_get(j, "headers");
    size_t n = json_array_size(hs);
    struct es_header *h = calloc(n + 1, sizeof *h);
    struct buf *vals = calloc(n + 1, sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        json_t *jh = json_array_get(hs, i);
        const char *name = json_string_value(json_object_get(jh, "name"));
        h[i].name = name;
        h[i].name_len = strlen(name);
        h[i].type = (enum es_type)json_integer_value(json_object_get(jh, "type"));
        json_t *v = json_object_get(jh, "value");
        if (json_is_string(v)) {
            b64(&vals[i], json_string_value(v));
            h[i].data = vals[i].ptr ? vals[i].ptr : "";
            h[i].len = vals[i].len;
        } else if (json_is_boolean(v)) {
            h[i].num = json_is_true(v);
        } else {
            h[i].num = json_integer_value(v);
        }
    }
    struct buf payload;
    b64(&payload, json_string_value(json_object_get(j, "payload")));
    struct brock_err e = {0};
    enum brock_status st = es_encode(out, h, n, payload.ptr, payload.len, &e);
    if (st != BROCK_OK)
        fail_msg("encode: %s", e.msg);
    for (size_t i = 0; i < n; i++)
        buf_free(&vals[i]);
    free(vals);
    free(h);
    buf_free(&payload);
}

static void test_go_positive(void **state)
{
    const char *name = *state;
    char rel[256];
    snprintf(rel, sizeof rel, GO_DIR "/encoded/positive/%s", name);
    struct blob enc = read_vector(rel);
    snprintf(rel, sizeof rel, GO_DIR "/decoded/positive/%s", name);
    json_t *j = read_json(rel);

    static const size_t pieces[] = {0, 1, 7};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(pieces); i++) {
        struct run r;
        run_decode(&r, enc.p, enc.n, pieces[i], go_positive_cb, j);
        if (r.st != BROCK_OK)
            fail_msg("piece %zu: %s", pieces[i], r.err.msg);
        assert_int_equal(r.count, 1);
        run_free(&r);
    }
    struct buf out = BUF_INIT(1 << 20);
    go_encode_from_json(j, &out);
    assert_int_equal(out.len, enc.n);
    assert_memory_equal(out.ptr, enc.p, enc.n);
    buf_free(&out);
    json_decref(j);
    free(enc.p);
}

static enum es_fault fault_from_text(const char *text)
{
    if (!strcmp(text, "Prelude checksum mismatch"))
        return ES_FAULT_PRELUDE_CRC;
    if (!strcmp(text, "Message checksum mismatch"))
        return ES_FAULT_MESSAGE_CRC;
    fail_msg("unknown expected error '%s'", text);
    return ES_FAULT_NONE;
}

static void test_go_negative(void **state)
{
    const char *name = *state;
    char rel[256];
    snprintf(rel, sizeof rel, GO_DIR "/encoded/negative/%s", name);
    struct blob enc = read_vector(rel);
    snprintf(rel, sizeof rel, GO_DIR "/decoded/negative/%s", name);
    struct blob want = read_vector(rel);
    enum es_fault fault = fault_from_text((const char *)want.p);
    static const size_t pieces[] = {0, 1, 7};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(pieces); i++) {
        struct run r;
        run_decode(&r, enc.p, enc.n, pieces[i], NULL, NULL);
        assert_int_equal(r.count, 0);
        assert_int_equal(r.st, BROCK_ERR_PARSE);
        assert_int_equal(r.fault, fault);
        assert_non_null(strstr(r.err.msg, "event-stream: message at offset 0: "));
        assert_non_null(strstr(r.err.msg, fault == ES_FAULT_PRELUDE_CRC ? "prelude CRC mismatch"
                                                                        : "message CRC mismatch"));
        run_free(&r);
    }
    free(want.p);
    free(enc.p);
}

/* The README lists 5 positive and 4 negative cases; a vector added upstream
 * (or a file missing here) must not go unnoticed. */
static const char *const go_positive[] = {"empty_message", "payload_no_headers",
                                          "payload_one_str_header", "int32_header", "all_headers"};
static const char *const go_negative[] = {"corrupted_length", "corrupted_header_len",
                                          "corrupted_headers", "corrupted_payload"};

static void check_dir_matches(const char *rel, const char *const *names, size_t n)
{
    char *dir = testdata_path(rel);
    char **files;
    size_t nf = test_list_dir(dir, &files);
    for (size_t i = 0; i < nf; i++) {
        bool known = false;
        for (size_t k = 0; k < n; k++)
            known |= !strcmp(files[i], names[k]);
        if (!known)
            fail_msg("%s/%s is not covered by a test", dir, files[i]);
    }
    assert_int_equal(nf, n);
    test_free_list(files, nf);
    free(dir);
}

static void test_go_set_complete(void **state)
{
    (void)state;
    check_dir_matches(GO_DIR "/encoded/positive", go_positive, BROCK_ARRAY_LEN(go_positive));
    check_dir_matches(GO_DIR "/decoded/positive", go_positive, BROCK_ARRAY_LEN(go_positive));
    check_dir_matches(GO_DIR "/encoded/negative", go_negative, BROCK_ARRAY_LEN(go_negative));
    check_dir_matches(GO_DIR "/decoded/negative", go_negative, BROCK_ARRAY_LEN(go_negative));
}

/* ---- smithy-rs vectors (expected values from the set's README) ---- */

static void smithy_all_cb(const struct es_message *m, size_t index, void *ctx)
{
    (void)index;
    (void)ctx;
    static const uint8_t uuid[16] = {0xb7, 0x9b, 0xc9, 0x14, 0xde, 0x21, 0x4e, 0x13,
                                     0xb8, 0xb2, 0xbc, 0x47, 0xe8, 0x5b, 0x7f, 0x0b};
    assert_int_equal(m->header_count, 10);
    const struct es_header *h = m->headers;
    const char *names[] = {"true", "false", "byte", "short", "int",
                           "long", "bytes", "str",  "time",  "uuid"};
    static const enum es_type types[] = {ES_BOOL_TRUE, ES_BOOL_FALSE, ES_BYTE,  ES_INT16,
                                         ES_INT32,     ES_INT64,      ES_BYTES, ES_STRING,
                                         ES_TIMESTAMP, ES_UUID};
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(h[i].name_len, strlen(names[i]));
        assert_memory_equal(h[i].name, names[i], h[i].name_len);
        assert_int_equal(h[i].type, types[i]);
    }
    assert_int_equal(h[0].num, 1);
    assert_int_equal(h[1].num, 0);
    assert_int_equal(h[2].num, 50);
    assert_int_equal(h[3].num, 20000);
    assert_int_equal(h[4].num, 500000);
    assert_int_equal(h[5].num, 50000000000LL);
    assert_int_equal(h[6].len, 10);
    assert_memory_equal(h[6].data, "some bytes", 10);
    assert_int_equal(h[7].len, 8);
    assert_memory_equal(h[7].data, "some str", 8);
    assert_int_equal(h[8].num, 5000000000LL); /* 5,000,000 s in ms */
    assert_int_equal(h[9].len, 16);
    assert_memory_equal(h[9].data, uuid, 16);
    assert_int_equal(m->payload_len, 12);
    assert_memory_equal(m->payload, "some payload", 12);
    assert_ptr_equal(es_message_header(m, "str"), &h[7]);
    assert_null(es_message_header(m, "st"));
    assert_true(es_str_eq(es_message_string(m, "str"), "some str"));
    assert_null(es_message_string(m, "bytes").p); /* not a string header */
    check_reencode(m);
}

static void test_smithy_valid_all_headers(void **state)
{
    (void)state;
    struct blob b = read_vector(SMITHY_DIR "/valid_with_all_headers_and_payload");
    assert_int_equal(b.n, 150);
    struct run r;
    run_decode(&r, b.p, b.n, 0, smithy_all_cb, NULL);
    assert_int_equal(r.st, BROCK_OK);
    assert_int_equal(r.count, 1);
    run_free(&r);

    /* Re-encoding the README's headers and payload reproduces the file. */
    static const uint8_t uuid[16] = {0xb7, 0x9b, 0xc9, 0x14, 0xde, 0x21, 0x4e, 0x13,
                                     0xb8, 0xb2, 0xbc, 0x47, 0xe8, 0x5b, 0x7f, 0x0b};
    const struct es_header hs[] = {
        es_hdr_bool("true", true),
        es_hdr_bool("false", false),
        es_hdr_int("byte", ES_BYTE, 50),
        es_hdr_int("short", ES_INT16, 20000),
        es_hdr_int("int", ES_INT32, 500000),
        es_hdr_int("long", ES_INT64, 50000000000LL),
        es_hdr_bytes("bytes", "some bytes", 10),
        es_hdr_string("str", "some str"),
        es_hdr_int("time", ES_TIMESTAMP, 5000000000LL),
        es_hdr_uuid("uuid", uuid),
    };
    struct buf out = BUF_INIT(4096);
    struct brock_err e = {0};
    assert_int_equal(es_encode(&out, hs, BROCK_ARRAY_LEN(hs), "some payload", 12, &e), BROCK_OK);
    assert_int_equal(out.len, b.n);
    assert_memory_equal(out.ptr, b.p, b.n);
    buf_free(&out);
    free(b.p);
}

static void smithy_empty_payload_cb(const struct es_message *m, size_t index, void *ctx)
{
    (void)index;
    (void)ctx;
    assert_int_equal(m->header_count, 1);
    assert_int_equal(m->headers[0].name_len, 11);
    assert_memory_equal(m->headers[0].name, "some-header", 11);
    assert_int_equal(m->headers[0].type, ES_INT16);
    assert_int_equal(m->headers[0].num, 500);
    assert_int_equal(m->payload_len, 0);
    check_reencode(m);
}

static void smithy_no_headers_cb(const struct es_message *m, size_t index, void *ctx)
{
    (void)index;
    (void)ctx;
    assert_int_equal(m->header_count, 0);
    assert_int_equal(m->payload_len, 20);
    assert_memory_equal(m->payload, "another test payload", 20);
    check_reencode(m);
}

static void test_smithy_valid_small(void **state)
{
    (void)state;
    struct blob a = read_vector(SMITHY_DIR "/valid_empty_payload");
    struct blob b = read_vector(SMITHY_DIR "/valid_no_headers");
    assert_int_equal(a.n, 31);
    assert_int_equal(b.n, 36);
    struct run r;
    run_decode(&r, a.p, a.n, 0, smithy_empty_payload_cb, NULL);
    assert_int_equal(r.st, BROCK_OK);
    assert_int_equal(r.count, 1);
    run_free(&r);
    run_decode(&r, b.p, b.n, 0, smithy_no_headers_cb, NULL);
    assert_int_equal(r.st, BROCK_OK);
    assert_int_equal(r.count, 1);
    run_free(&r);
    free(a.p);
    free(b.p);
}

/* smithy-rs streaming test: the three valid files back to back, fed in
 * chunks of every size 1..11 (and whole), give exactly the three messages. */
static void test_smithy_streaming(void **state)
{
    (void)state;
    const char *files[] = {SMITHY_DIR "/valid_with_all_headers_and_payload",
                           SMITHY_DIR "/valid_empty_payload", SMITHY_DIR "/valid_no_headers"};
    struct blob parts[3];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        parts[i] = read_vector(files[i]);
        n += parts[i].n;
    }
    uint8_t *all = malloc(n);
    for (size_t i = 0, o = 0; i < 3; o += parts[i].n, i++)
        memcpy(all + o, parts[i].p, parts[i].n);
    for (size_t piece = 0; piece <= 11; piece++) {
        struct run r;
        run_decode(&r, all, n, piece, NULL, NULL);
        if (r.st != BROCK_OK)
            fail_msg("chunks of %zu: %s", piece, r.err.msg);
        assert_int_equal(r.count, 3);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(r.len[i], parts[i].n);
            assert_memory_equal(r.raw[i], parts[i].p, parts[i].n);
        }
        run_free(&r);
    }
    free(all);
    for (int i = 0; i < 3; i++)
        free(parts[i].p);
}

struct smithy_bad {
    const char *file;
    enum es_fault fault;    /* expected class as the file is (NONE: any error, README quirk) */
    enum es_fault repaired; /* class once its message CRC is recomputed (NONE: not applicable) */
    enum es_fault repaired_alt;
    const char *text; /* expected in the message, or NULL */
};

static const struct smithy_bad smithy_bad[] = {
    {"invalid_header_string_value_length", ES_FAULT_NONE, ES_FAULT_HEADER, ES_FAULT_HEADER, NULL},
    {"invalid_header_string_length_cut_off", ES_FAULT_NONE, ES_FAULT_HEADER, ES_FAULT_HEADER, NULL},
    {"invalid_header_value_type", ES_FAULT_NONE, ES_FAULT_HEADER_TYPE, ES_FAULT_HEADER_TYPE,
     "unknown value type 0x60"},
    {"invalid_header_name_length", ES_FAULT_NONE, ES_FAULT_HEADER, ES_FAULT_HEADER, NULL},
    {"invalid_headers_length", ES_FAULT_LENGTH, ES_FAULT_NONE, ES_FAULT_NONE,
     "headers length 77 does not fit in total length 89"},
    {"invalid_prelude_checksum", ES_FAULT_PRELUDE_CRC, ES_FAULT_NONE, ES_FAULT_NONE,
     "prelude CRC mismatch (computed 0x8bb495fb, found 0xdeadbeef)"},
    {"invalid_message_checksum", ES_FAULT_MESSAGE_CRC, ES_FAULT_NONE, ES_FAULT_NONE,
     "message CRC mismatch (computed 0x01a05860, found 0xdeadbeef)"},
    /* smithy-rs: "invalid UTF-8 in a header name"; the name length also runs
     * past the section, which brock checks first */
    {"invalid_header_name_length_too_long", ES_FAULT_NONE, ES_FAULT_HEADER, ES_FAULT_UTF8, NULL},
};

static void test_smithy_set_complete(void **state)
{
    (void)state;
    const char *names[BROCK_ARRAY_LEN(smithy_bad) + 3] = {
        "valid_with_all_headers_and_payload", "valid_empty_payload", "valid_no_headers"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(smithy_bad); i++)
        names[3 + i] = smithy_bad[i].file;
    check_dir_matches(SMITHY_DIR, names, BROCK_ARRAY_LEN(names));
}

static void test_smithy_invalid(void **state)
{
    const struct smithy_bad *c = &smithy_bad[*(size_t *)*state];
    char rel[256];
    snprintf(rel, sizeof rel, SMITHY_DIR "/%s", c->file);
    struct blob b = read_vector(rel);
    static const size_t pieces[] = {0, 1, 7};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(pieces); i++) {
        struct run r;
        run_decode(&r, b.p, b.n, pieces[i], NULL, NULL);
        assert_int_not_equal(r.st, BROCK_OK);
        assert_int_equal(r.count, 0);
        assert_int_not_equal(r.fault, ES_FAULT_NONE);
        if (c->fault != ES_FAULT_NONE) {
            assert_int_equal(r.fault, c->fault);
            if (c->text && !strstr(r.err.msg, c->text))
                fail_msg("'%s' not in '%s'", c->text, r.err.msg);
        } else if (i == 0) {
            /* README: the error kind is advisory for these (validation order) */
            printf("# %s: rejected as %s: %s\n", c->file, es_fault_name(r.fault), r.err.msg);
        }
        run_free(&r);
    }
    if (c->repaired != ES_FAULT_NONE) {
        /* With a correct message CRC the header check itself must catch it. */
        uint32_t total = get32(b.p);
        assert_true(total <= b.n);
        fix_message_crc(b.p, total);
        struct run r;
        run_decode(&r, b.p, total, 0, NULL, NULL);
        assert_int_equal(r.st, BROCK_ERR_PARSE);
        if (r.fault != c->repaired && r.fault != c->repaired_alt)
            fail_msg("repaired %s: got %s: %s", c->file, es_fault_name(r.fault), r.err.msg);
        if (c->text && !strstr(r.err.msg, c->text))
            fail_msg("'%s' not in '%s'", c->text, r.err.msg);
        printf("# %s with its message CRC repaired: %s\n", c->file, r.err.msg);
        run_free(&r);
    }
    free(b.p);
}

/* ---- recorded Bedrock streams ---- */

struct recorded_ctx {
    json_t *frames; /* the .response.decoded.json list */
    json_t *types;  /* meta event_types */
};

static void recorded_cb(const struct es_message *m, size_t index, void *ctx)
{
    struct recorded_ctx *rc = ctx;
    json_t *want = json_array_get(rc->frames, index);
    if (!want)
        fail_msg("frame %zu beyond the %zu expected", index, json_array_size(rc->frames));
    json_t *wh = json_object_get(want, "headers");
    assert_int_equal(m->header_count, json_object_size(wh));
    for (size_t i = 0; i < m->header_count; i++) {
        const struct es_header *h = &m->headers[i];
        char *name = name_of(h);
        const char *v = json_string_value(json_object_get(wh, name));
        if (!v)
            fail_msg("frame %zu: unexpected header %s", index, name);
        assert_int_equal(h->type, ES_STRING);
        assert_int_equal(h->len, strlen(v));
        assert_memory_equal(h->data, v, h->len);
        free(name);
    }
    assert_int_equal(es_message_kind(m), ES_KIND_EVENT);
    assert_true(es_str_eq(es_message_content_type(m), "application/json"));
    const char *type = json_string_value(json_array_get(rc->types, index));
    assert_non_null(type);
    assert_true(es_str_eq(es_message_event_type(m), type));
    assert_null(es_message_exception_type(m).p);
    json_error_t je;
    json_t *payload = json_loadb((const char *)m->payload, m->payload_len, 0, &je);
    if (!payload)
        fail_msg("frame %zu: payload is not JSON: %s", index, je.text);
    if (!json_equal(payload, json_object_get(want, "payload")))
        fail_msg("frame %zu: payload differs from the decoded JSON", index);
    json_decref(payload);
    check_reencode(m);
}

static void test_recorded(void **state)
{
    const char *stem = *state; /* "<dir>/<n>" */
    char rel[512];
    snprintf(rel, sizeof rel, RECORDED_DIR "/%s.response.eventstream", stem);
    struct blob b = read_vector(rel);
    snprintf(rel, sizeof rel, RECORDED_DIR "/%s.response.decoded.json", stem);
    json_t *frames = read_json(rel);
    snprintf(rel, sizeof rel, RECORDED_DIR "/%s.meta.json", stem);
    json_t *meta = read_json(rel);
    json_int_t nframes = json_integer_value(json_object_get(meta, "frames"));
    assert_true(nframes > 0);
    assert_int_equal(json_array_size(frames), nframes);
    assert_int_equal(json_integer_value(json_object_get(meta, "response_body_bytes")), b.n);
    struct recorded_ctx rc = {frames, json_object_get(meta, "event_types")};
    static const size_t pieces[] = {0, 7, 1};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(pieces); i++) {
        struct run r;
        run_decode(&r, b.p, b.n, pieces[i], recorded_cb, &rc);
        if (r.st != BROCK_OK)
            fail_msg("pieces of %zu: %s", pieces[i], r.err.msg);
        assert_int_equal(r.count, nframes);
        run_free(&r);
    }
    json_decref(meta);
    json_decref(frames);
    free(b.p);
}

/* The README promises 6 streams with 115 frames; a partial copy must fail. */
static void test_recorded_set_complete(void **state)
{
    size_t streams = *(size_t *)*state;
    char *dir = testdata_path(RECORDED_DIR);
    char **subs;
    size_t nsub = test_list_dir(dir, &subs);
    json_int_t frames = 0;
    for (size_t i = 0; i < nsub; i++) {
        char rel[512];
        for (int k = 0; k < 10; k++) {
            snprintf(rel, sizeof rel, "%s/%s/%d.response.eventstream", dir, subs[i], k);
            FILE *f = fopen(rel, "rb");
            if (!f)
                continue;
            fclose(f);
            snprintf(rel, sizeof rel, RECORDED_DIR "/%s/%d.meta.json", subs[i], k);
            json_t *meta = read_json(rel);
            frames += json_integer_value(json_object_get(meta, "frames"));
            json_decref(meta);
        }
    }
    test_free_list(subs, nsub);
    free(dir);
    assert_int_equal(streams, 6);
    assert_int_equal(frames, 115);
}

/* ---- reference section 5.3 worked examples ---- */

static void test_worked_examples(void **state)
{
    (void)state;
    static const char hex[] =
        "0000009f00000057c37babff0b3a6576656e742d747970650700116"
        "36f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c6963"
        "6174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e"
        "74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a224869227d2c227022"
        "3a2261626364227df2ace5ff";
    uint8_t want[159];
    assert_int_equal(strlen(hex), 2 * sizeof want);
    assert_true(hex_decode(hex, strlen(hex), want));

    struct buf b = BUF_INIT(4096);
    struct brock_err e = {0};
    const char *p1 = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},\"p\":\"abcd\"}";
    assert_int_equal(strlen(p1), 56);
    assert_int_equal(es_encode_event(&b, "contentBlockDelta", NULL, p1, strlen(p1), &e), BROCK_OK);
    assert_int_equal(b.len, 159);
    assert_memory_equal(b.ptr, want, sizeof want);
    const uint8_t *m = (const uint8_t *)b.ptr;
    assert_int_equal(get32(m + 4), 87);
    assert_int_equal(get32(m + 8), 0xc37babff);
    assert_int_equal(get32(m + 155), 0xf2ace5ff);

    buf_reset(&b);
    const char *p2 =
        "{\"bytes\":\"eyJ0eXBlIjoiY29udGVudF9ibG9ja19kZWx0YSIsImluZGV4IjowLCJkZWx0YSI6eyJ0"
        "eXBlIjoidGV4dF9kZWx0YSIsInRleHQiOiJIaSJ9fQ==\",\"p\":\"abcdefgh\"}";
    assert_int_equal(es_encode_event(&b, "chunk", "application/json", p2, strlen(p2), &e),
                     BROCK_OK);
    m = (const uint8_t *)b.ptr;
    assert_int_equal(b.len, 230);
    assert_int_equal(get32(m), 230);
    assert_int_equal(get32(m + 4), 75);
    assert_int_equal(get32(m + 8), 0x23b8750e);
    assert_int_equal(get32(m + 226), 0x8ec56ae9);

    buf_reset(&b);
    const char *p3 = "{\"message\":\"Too many tokens, please wait before trying again.\"}";
    assert_int_equal(es_encode_exception(&b, "throttlingException", NULL, p3, strlen(p3), &e),
                     BROCK_OK);
    m = (const uint8_t *)b.ptr;
    assert_int_equal(b.len, 176);
    assert_int_equal(get32(m + 4), 97);
    assert_int_equal(get32(m + 8), 0x4f5086b3);
    assert_int_equal(get32(m + 172), 0xf70ae57f);

    /* and they decode to what Bedrock's next layer asks for */
    struct es_decoder *d = es_decoder_new();
    struct es_message msg;
    bool got;
    assert_int_equal(es_decoder_feed(d, b.ptr, b.len, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &msg, &got, &e), BROCK_OK);
    assert_true(got);
    assert_ptr_equal(msg.raw, (const uint8_t *)b.ptr); /* zero-copy */
    assert_int_equal(es_message_kind(&msg), ES_KIND_EXCEPTION);
    assert_true(es_str_eq(es_message_exception_type(&msg), "throttlingException"));
    assert_null(es_message_event_type(&msg).p);
    assert_int_equal(es_decoder_next(d, &msg, &got, &e), BROCK_OK);
    assert_false(got);
    assert_int_equal(es_decoder_finish(d, &e), BROCK_OK);
    es_decoder_free(d);
    buf_free(&b);
}

/* ---- caps, lengths, truncation ---- */

static void prelude(uint8_t p[12], uint32_t total, uint32_t hlen)
{
    put32(p, total);
    put32(p + 4, hlen);
    put32(p + 8, zcrc(0, p, 8));
}

/* Decode bytes fed whole and expect an error; returns the decoder for more checks. */
static struct es_decoder *expect_error(const uint8_t *p, size_t n, enum brock_status st,
                                       enum es_fault fault, const char *text, struct brock_err *e)
{
    struct es_decoder *d = es_decoder_new();
    struct es_message m;
    bool got;
    assert_int_equal(es_decoder_feed(d, p, n, e), BROCK_OK);
    enum brock_status r = es_decoder_next(d, &m, &got, e);
    if (r == BROCK_OK && !got)
        r = es_decoder_finish(d, e);
    if (r != st || es_decoder_fault(d) != fault)
        fail_msg("expected %s/%s, got %s/%s: %s", brock_status_name(st), es_fault_name(fault),
                 brock_status_name(r), es_fault_name(es_decoder_fault(d)), e->msg);
    if (text && !strstr(e->msg, text))
        fail_msg("'%s' not in '%s'", text, e->msg);
    assert_false(got);
    return d;
}

static void test_prelude_2gib_rejected_without_allocating(void **state)
{
    (void)state;
    uint8_t p[12];
    prelude(p, 0x80000000u, 0);
    struct brock_err e = {0};
    struct es_decoder *d =
        expect_error(p, sizeof p, BROCK_ERR_TOO_LARGE, ES_FAULT_TOO_LARGE,
                     "total length 2147483648 exceeds the 16777216-byte cap", &e);
    assert_int_equal(es_decoder_memory(d), 0);
    es_decoder_free(d);

    /* One byte at a time: only the 12-byte prelude is ever buffered. */
    d = es_decoder_new();
    enum brock_status st = BROCK_OK;
    for (size_t i = 0; i < sizeof p && st == BROCK_OK; i++) {
        struct es_message m;
        bool got;
        st = es_decoder_feed(d, p + i, 1, &e);
        if (st == BROCK_OK)
            st = es_decoder_next(d, &m, &got, &e);
    }
    assert_int_equal(st, BROCK_ERR_TOO_LARGE);
    assert_int_equal(es_decoder_fault(d), ES_FAULT_TOO_LARGE);
    assert_true(es_decoder_memory(d) <= 256);
    es_decoder_free(d);

    /* A valid 16 MiB announcement that stalls costs what arrived, not 16 MiB. */
    uint8_t start[112] = {0};
    prelude(start, ES_MAX_MESSAGE_LEN, 0);
    d = es_decoder_new();
    struct es_message m;
    bool got;
    assert_int_equal(es_decoder_feed(d, start, sizeof start, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);
    assert_true(es_decoder_memory(d) <= 1024);
    assert_int_equal(es_decoder_finish(d, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "truncated: 112 of its 16777216 bytes received"));
    es_decoder_free(d);
}

static void test_length_checks(void **state)
{
    (void)state;
    struct brock_err e = {0};
    uint8_t p[16] = {0};
    prelude(p, 15, 0);
    es_decoder_free(expect_error(p, 16, BROCK_ERR_PARSE, ES_FAULT_LENGTH,
                                 "total length 15 is less than the 16-byte minimum", &e));
    prelude(p, 0, 0);
    es_decoder_free(expect_error(p, 16, BROCK_ERR_PARSE, ES_FAULT_LENGTH, "total length 0", &e));
    prelude(p, 100, 85);
    es_decoder_free(expect_error(p, 16, BROCK_ERR_PARSE, ES_FAULT_LENGTH,
                                 "headers length 85 does not fit in total length 100 (at most 84)",
                                 &e));
    prelude(p, 100, 0xffffffffu);
    es_decoder_free(
        expect_error(p, 16, BROCK_ERR_PARSE, ES_FAULT_LENGTH, "headers length 4294967295", &e));
    prelude(p, ES_MAX_MESSAGE_LEN, ES_MAX_HEADERS_LEN + 1);
    es_decoder_free(expect_error(p, 16, BROCK_ERR_TOO_LARGE, ES_FAULT_TOO_LARGE,
                                 "headers length 131073 exceeds the 131072-byte cap", &e));
    prelude(p, ES_MAX_MESSAGE_LEN + 1, 0);
    es_decoder_free(expect_error(p, 16, BROCK_ERR_TOO_LARGE, ES_FAULT_TOO_LARGE,
                                 "total length 16777217 exceeds", &e));
}

/* A message of exactly the cap decodes, straddling 1 MiB pieces. */
static void test_message_at_cap(void **state)
{
    (void)state;
    size_t plen = ES_MAX_MESSAGE_LEN - 16;
    uint8_t *payload = malloc(plen);
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)(i * 131 + 7);
    size_t n;
    uint8_t *msg = frame(NULL, 0, payload, plen, &n);
    assert_int_equal(n, ES_MAX_MESSAGE_LEN);
    struct run r;
    run_decode(&r, msg, n, 1 << 20, NULL, NULL);
    if (r.st != BROCK_OK)
        fail_msg("%s", r.err.msg);
    assert_int_equal(r.count, 1);
    assert_memory_equal(r.raw[0], msg, n);
    run_free(&r);

    /* The big straddle buffer is given back once the message is handed out. */
    struct es_decoder *d = es_decoder_new();
    struct brock_err e0 = {0};
    struct es_message m;
    bool got = false;
    for (size_t pos = 0; pos < n && !got; pos += n / 2) {
        assert_int_equal(es_decoder_feed(d, msg + pos, n / 2, &e0), BROCK_OK);
        assert_int_equal(es_decoder_next(d, &m, &got, &e0), BROCK_OK);
    }
    assert_true(got);
    assert_int_equal(m.payload_len, plen);
    assert_true(es_decoder_memory(d) >= n);
    assert_int_equal(es_decoder_next(d, &m, &got, &e0), BROCK_OK);
    assert_false(got);
    assert_int_equal(es_decoder_memory(d), 0);
    es_decoder_free(d);
    free(msg);
    free(payload);

    /* The encoder refuses one byte more. */
    struct buf b = BUF_INIT(ES_MAX_MESSAGE_LEN * 2);
    struct brock_err e = {0};
    static const char one[1];
    assert_int_equal(es_encode(&b, NULL, 0, one, ES_MAX_MESSAGE_LEN - 15, &e), BROCK_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_null(b.ptr);
    buf_free(&b);
}

static void test_truncation(void **state)
{
    (void)state;
    struct blob b = read_vector(SMITHY_DIR "/valid_with_all_headers_and_payload");
    struct brock_err e = {0};
    struct es_message m;
    bool got;
    /* cut inside the payload */
    struct es_decoder *d = es_decoder_new();
    assert_int_equal(es_decoder_feed(d, b.p, 100, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got); /* need more */
    assert_int_equal(es_decoder_finish(d, &e), BROCK_ERR_PARSE);
    assert_int_equal(es_decoder_fault(d), ES_FAULT_TRUNCATED);
    assert_string_equal(e.msg, "event-stream: message at offset 0: stream ended inside the message "
                               "(truncated: 100 of its 150 bytes received)");
    /* sticky: every later call reports the same */
    struct brock_err e2 = {0};
    assert_int_equal(es_decoder_feed(d, b.p, 10, &e2), BROCK_ERR_PARSE);
    assert_string_equal(e2.msg, e.msg);
    assert_int_equal(es_decoder_next(d, &m, &got, &e2), BROCK_ERR_PARSE);
    assert_false(got);
    /* reset starts a new stream */
    es_decoder_reset(d);
    assert_int_equal(es_decoder_fault(d), ES_FAULT_NONE);
    assert_int_equal(es_decoder_feed(d, b.p, b.n, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_int_equal(m.offset, 0);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);

    /* a second message cut inside its prelude, after a whole one */
    assert_int_equal(es_decoder_feed(d, b.p, 5, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);
    assert_int_equal(es_decoder_finish(d, &e), BROCK_ERR_PARSE);
    assert_string_equal(e.msg, "event-stream: message at offset 150: stream ended inside the "
                               "message prelude (truncated: 5 of 12 bytes received)");
    es_decoder_free(d);

    /* empty stream and a clean end are fine */
    d = es_decoder_new();
    assert_int_equal(es_decoder_feed(d, NULL, 0, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);
    assert_int_equal(es_decoder_finish(d, &e), BROCK_OK);
    es_decoder_free(d);
    free(b.p);
}

static void test_api_misuse(void **state)
{
    (void)state;
    struct blob b = read_vector(SMITHY_DIR "/valid_no_headers");
    struct brock_err e = {0};
    struct es_decoder *d = es_decoder_new();
    assert_int_equal(es_decoder_feed(d, b.p, b.n, &e), BROCK_OK);
    assert_int_equal(es_decoder_feed(d, b.p, b.n, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "36 bytes not yet decoded"));
    assert_int_equal(es_decoder_finish(d, &e), BROCK_ERR_USAGE);
    /* misuse does not break the stream */
    struct es_message m;
    bool got;
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);
    assert_int_equal(es_decoder_finish(d, &e), BROCK_OK);
    assert_int_equal(es_decoder_feed(d, NULL, 5, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "given NULL and 5 bytes"));
    es_decoder_free(d);
    es_decoder_free(NULL);
    free(b.p);
}

/* Zero-copy where a message lies in the piece; the straddling one is copied
 * and later ones point into the piece again. */
static void test_zero_copy_and_straddle(void **state)
{
    (void)state;
    struct blob a = read_vector(SMITHY_DIR "/valid_empty_payload"); /* 31 bytes */
    struct blob b = read_vector(SMITHY_DIR "/valid_no_headers");    /* 36 bytes */
    uint8_t s[31 + 36 + 31];
    memcpy(s, a.p, 31);
    memcpy(s + 31, b.p, 36);
    memcpy(s + 67, a.p, 31);
    struct brock_err e = {0};
    struct es_decoder *d = es_decoder_new();
    struct es_message m;
    bool got;
    assert_int_equal(es_decoder_feed(d, s, 40, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_ptr_equal(m.raw, s);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);
    assert_int_equal(es_decoder_feed(d, s + 40, sizeof s - 40, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_int_equal(m.offset, 31);
    assert_true(m.raw < s || m.raw >= s + sizeof s); /* from the decoder's buffer */
    assert_memory_equal(m.payload, "another test payload", 20);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_ptr_equal(m.raw, s + 67);
    assert_int_equal(m.offset, 67);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);
    assert_int_equal(es_decoder_finish(d, &e), BROCK_OK);
    es_decoder_free(d);
    free(a.p);
    free(b.p);
}

/* ---- malformed headers (built with zlib-framed raw bytes) ---- */

static void test_header_errors(void **state)
{
    (void)state;
    struct brock_err e = {0};
    size_t n;
    uint8_t *m;
    /* a good message first, so offsets are not 0 */
    uint8_t good[16];
    size_t gn;
    uint8_t *g = frame(NULL, 0, NULL, 0, &gn);
    memcpy(good, g, 16);
    free(g);

#define BAD(hdr, st, fault, text)                                                                  \
    do {                                                                                           \
        m = frame(hdr, sizeof(hdr) - 1, "x", 1, &n);                                               \
        uint8_t *two = malloc(16 + n);                                                             \
        memcpy(two, good, 16);                                                                     \
        memcpy(two + 16, m, n);                                                                    \
        struct es_decoder *d_ = es_decoder_new();                                                  \
        struct es_message m_;                                                                      \
        bool got_;                                                                                 \
        assert_int_equal(es_decoder_feed(d_, two, 16 + n, &e), BROCK_OK);                          \
        assert_int_equal(es_decoder_next(d_, &m_, &got_, &e), BROCK_OK);                           \
        assert_true(got_);                                                                         \
        assert_int_equal(es_decoder_next(d_, &m_, &got_, &e), st);                                 \
        assert_int_equal(es_decoder_fault(d_), fault);                                             \
        if (!strstr(e.msg, text))                                                                  \
            fail_msg("'%s' not in '%s'", text, e.msg);                                             \
        es_decoder_free(d_);                                                                       \
        free(two);                                                                                 \
        free(m);                                                                                   \
    } while (0)

    BAD("\x00\x07\x00\x01x", BROCK_ERR_PARSE, ES_FAULT_HEADER,
        "event-stream: message at offset 16: header 0 at offset 28: empty header name");
    BAD("\x01"
        "a\x0a",
        BROCK_ERR_PARSE, ES_FAULT_HEADER_TYPE, "header 'a' at offset 28: unknown value type 0x0a");
    BAD("\x01"
        "a\xff",
        BROCK_ERR_PARSE, ES_FAULT_HEADER_TYPE, "unknown value type 0xff");
    BAD("\x01"
        "a\x00\x01"
        "a\x01",
        BROCK_ERR_PARSE, ES_FAULT_DUPLICATE,
        "header 'a' at offset 31: duplicate name (also header 0)");
    BAD("\x05"
        "ab",
        BROCK_ERR_PARSE, ES_FAULT_HEADER, "name length 5 runs past the end of the header section");
    BAD("\x01"
        "a",
        BROCK_ERR_PARSE, ES_FAULT_HEADER, "name length 1 runs past");
    BAD("\x01"
        "a\x04\x00\x00",
        BROCK_ERR_PARSE, ES_FAULT_HEADER,
        "int32 value needs 4 bytes, the header section has 2 left");
    BAD("\x01"
        "a\x09\x00",
        BROCK_ERR_PARSE, ES_FAULT_HEADER, "uuid value needs 16 bytes");
    BAD("\x01"
        "a\x07\x00",
        BROCK_ERR_PARSE, ES_FAULT_HEADER, "string length runs past");
    BAD("\x01"
        "a\x06\x00\x03xy",
        BROCK_ERR_PARSE, ES_FAULT_HEADER,
        "byte array value of 3 bytes runs past the end of the header "
        "section (2 bytes left)");
    BAD("\x02\xc3\x28\x00", BROCK_ERR_PARSE, ES_FAULT_UTF8, "name '\\xc3(' is not valid UTF-8");
    BAD("\x02\xed\xa0\x00", BROCK_ERR_PARSE, ES_FAULT_UTF8, "is not valid UTF-8"); /* surrogate */
    BAD("\x02\xc0\x80\x00", BROCK_ERR_PARSE, ES_FAULT_UTF8, "is not valid UTF-8"); /* overlong */
    BAD("\x01"
        "s\x07\x00\x03\xf4\x90\x80",
        BROCK_ERR_PARSE, ES_FAULT_UTF8, "header 's' at offset 28: string value is not valid UTF-8");
#undef BAD

    /* 256 headers are fine, 257 are too many */
    for (int count = 256; count <= 257; count++) {
        struct buf h = BUF_INIT(1 << 20);
        for (int i = 0; i < count; i++) {
            char nm[8];
            int k = snprintf(nm, sizeof nm, "h%d", i);
            assert_int_equal(buf_addc(&h, (char)k), BROCK_OK);
            assert_int_equal(buf_add(&h, nm, (size_t)k), BROCK_OK);
            assert_int_equal(buf_addc(&h, ES_BOOL_TRUE), BROCK_OK);
        }
        m = frame(h.ptr, h.len, NULL, 0, &n);
        struct run r;
        run_decode(&r, m, n, 0, NULL, NULL);
        if (count == 256) {
            assert_int_equal(r.st, BROCK_OK);
            assert_int_equal(r.count, 1);
        } else {
            assert_int_equal(r.st, BROCK_ERR_TOO_LARGE);
            assert_int_equal(r.fault, ES_FAULT_TOO_LARGE);
            assert_non_null(strstr(r.err.msg, "header 256 at offset "));
            assert_non_null(strstr(r.err.msg, "more than 256 headers"));
        }
        run_free(&r);
        free(m);
        buf_free(&h);
    }
}

/* Valid UTF-8 of every length class passes, and a name is shown escaped. */
static void test_utf8_names_and_values(void **state)
{
    (void)state;
    const char *name = "\xc3\xa9t\xe2\x82\xac\xf0\x9f\x98\x80"; /* é, t, €, 😀 */
    const char *val = "30\xc2\xb0"
                      "C \xe4\xb8\xad\xe6\x96\x87 \xf4\x8f\xbf\xbf";
    const struct es_header hs[] = {es_hdr_string(name, val)};
    struct buf b = BUF_INIT(4096);
    struct brock_err e = {0};
    assert_int_equal(es_encode(&b, hs, 1, NULL, 0, &e), BROCK_OK);
    struct run r;
    run_decode(&r, (const uint8_t *)b.ptr, b.len, 1, NULL, NULL);
    assert_int_equal(r.st, BROCK_OK);
    assert_int_equal(r.count, 1);
    run_free(&r);
    buf_free(&b);
}

/* Header values never reach error messages: signed event streams carry
 * signatures in them (:chunk-signature). */
static void test_errors_do_not_leak_header_values(void **state)
{
    (void)state;
    const char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    struct buf h = BUF_INIT(4096);
    /* :chunk-signature (bytes) = secret, then the same name again */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(buf_addc(&h, 16), BROCK_OK);
        assert_int_equal(buf_addstr(&h, ":chunk-signature"), BROCK_OK);
        assert_int_equal(buf_addc(&h, ES_BYTES), BROCK_OK);
        assert_int_equal(buf_addc(&h, 0), BROCK_OK);
        assert_int_equal(buf_addc(&h, (char)(sizeof secret - 1)), BROCK_OK);
        assert_int_equal(buf_add(&h, secret, sizeof secret - 1), BROCK_OK);
    }
    size_t n;
    uint8_t *m = frame(h.ptr, h.len, NULL, 0, &n);
    struct run r;
    run_decode(&r, m, n, 0, NULL, NULL);
    assert_int_equal(r.fault, ES_FAULT_DUPLICATE);
    assert_non_null(strstr(r.err.msg, ":chunk-signature"));
    assert_null(strstr(r.err.msg, "wJalr"));
    assert_null(strstr(r.err.msg, "EXAMPLEKEY"));
    run_free(&r);
    free(m);

    /* a string value that is not UTF-8 (secret + a stray byte) */
    buf_reset(&h);
    assert_int_equal(buf_addc(&h, 15), BROCK_OK);
    assert_int_equal(buf_addstr(&h, ":session-token1"), BROCK_OK);
    assert_int_equal(buf_addc(&h, ES_STRING), BROCK_OK);
    assert_int_equal(buf_addc(&h, 0), BROCK_OK);
    assert_int_equal(buf_addc(&h, (char)sizeof secret), BROCK_OK);
    assert_int_equal(buf_add(&h, secret, sizeof secret - 1), BROCK_OK);
    assert_int_equal(buf_addc(&h, (char)0xff), BROCK_OK);
    m = frame(h.ptr, h.len, NULL, 0, &n);
    run_decode(&r, m, n, 0, NULL, NULL);
    assert_int_equal(r.fault, ES_FAULT_UTF8);
    assert_null(strstr(r.err.msg, "wJalr"));
    run_free(&r);
    free(m);

    /* nor the encoder's */
    struct es_header hs[2] = {es_hdr_bytes(":chunk-signature", secret, sizeof secret - 1),
                              es_hdr_bytes(":chunk-signature", secret, sizeof secret - 1)};
    struct buf out = BUF_INIT(4096);
    struct brock_err e = {0};
    assert_int_equal(es_encode(&out, hs, 2, NULL, 0, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "duplicate"));
    assert_null(strstr(e.msg, "wJalr"));
    hs[1] = es_hdr_string(":x", "\xff"
                                "wJalrXUtnFEMI");
    assert_int_equal(es_encode(&out, hs, 2, NULL, 0, &e), BROCK_ERR_USAGE);
    assert_null(strstr(e.msg, "wJalr"));
    buf_free(&out);
    buf_free(&h);
}

/* A corrupt third message: offsets in the message, CRC values, stickiness. */
static void test_error_offsets_in_stream(void **state)
{
    (void)state;
    struct blob a = read_vector(SMITHY_DIR "/valid_with_all_headers_and_payload");
    struct blob c = read_vector(SMITHY_DIR "/invalid_message_checksum");
    size_t n = 2 * a.n + c.n;
    uint8_t *s = malloc(n);
    memcpy(s, a.p, a.n);
    memcpy(s + a.n, a.p, a.n);
    memcpy(s + 2 * a.n, c.p, c.n);
    for (size_t piece = 0; piece <= 13; piece += 13) {
        struct run r;
        run_decode(&r, s, n, piece, NULL, NULL);
        assert_int_equal(r.count, 2);
        assert_int_equal(r.st, BROCK_ERR_PARSE);
        assert_int_equal(r.fault, ES_FAULT_MESSAGE_CRC);
        assert_string_equal(r.err.msg, "event-stream: message at offset 300: message CRC mismatch "
                                       "(computed 0x01a05860, found 0xdeadbeef)");
        run_free(&r);
    }
    free(s);
    free(a.p);
    free(c.p);
}

/* ---- encoder ---- */

static void test_encode_all_types_roundtrip(void **state)
{
    (void)state;
    static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char longname[256];
    memset(longname, 'n', 255);
    longname[255] = '\0';
    const struct es_header hs[] = {
        es_hdr_bool("t", true),
        es_hdr_bool("f", false),
        es_hdr_int("b-min", ES_BYTE, INT8_MIN),
        es_hdr_int("b-max", ES_BYTE, INT8_MAX),
        es_hdr_int("s-min", ES_INT16, INT16_MIN),
        es_hdr_int("s-max", ES_INT16, INT16_MAX),
        es_hdr_int("i-min", ES_INT32, INT32_MIN),
        es_hdr_int("i-max", ES_INT32, INT32_MAX),
        es_hdr_int("l-min", ES_INT64, INT64_MIN),
        es_hdr_int("l-max", ES_INT64, INT64_MAX),
        es_hdr_int("l-neg", ES_INT64, -1),
        es_hdr_int("ts", ES_TIMESTAMP, -1234567890123LL),
        es_hdr_bytes("empty-bytes", NULL, 0),
        es_hdr_bytes("bin", "\x00\x01\xff", 3),
        es_hdr_string("empty-str", ""),
        es_hdr_uuid("u", uuid),
        es_hdr_string(longname, "max name"),
    };
    size_t count = BROCK_ARRAY_LEN(hs);
    struct buf b = BUF_INIT(1 << 20);
    struct brock_err e = {0};
    assert_int_equal(es_encode(&b, hs, count, "\x00payload", 8, &e), BROCK_OK);
    assert_int_equal(es_encode(&b, NULL, 0, NULL, 0, &e), BROCK_OK); /* empty message */
    size_t first = b.len - 16;
    const uint8_t *p = (const uint8_t *)b.ptr;
    assert_int_equal(get32(p), first);
    assert_int_equal(get32(p + 8), zcrc(0, p, 8));
    assert_int_equal(get32(p + first - 4), zcrc(0, p, first - 4));
    assert_int_equal(b.ptr[b.len], '\0');

    struct es_decoder *d = es_decoder_new();
    struct es_message m;
    bool got;
    assert_int_equal(es_decoder_feed(d, b.ptr, b.len, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_int_equal(m.header_count, count);
    for (size_t i = 0; i < count; i++) {
        const struct es_header *h = &m.headers[i];
        assert_int_equal(h->name_len, hs[i].name_len);
        assert_memory_equal(h->name, hs[i].name, h->name_len);
        assert_int_equal(h->type, hs[i].type);
        assert_int_equal(h->num, hs[i].num);
        assert_int_equal(h->len, hs[i].len);
        if (h->len)
            assert_memory_equal(h->data, hs[i].data, h->len);
    }
    assert_int_equal(m.payload_len, 8);
    assert_memory_equal(m.payload, "\x00payload", 8);
    assert_int_equal(es_message_kind(&m), ES_KIND_OTHER);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_int_equal(m.total_len, 16);
    assert_int_equal(m.header_count, 0);
    assert_int_equal(m.payload_len, 0);
    assert_int_equal(get32(m.raw + 12), 0x7d98c8ff); /* empty_message's CRC in the aws-sdk-go set */
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_false(got);
    es_decoder_free(d);
    buf_free(&b);
}

static void test_encode_rejects(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1 << 20);
    struct brock_err e = {0};
    char big[ES_MAX_HEADER_VALUE_LEN + 1];
    memset(big, 'v', sizeof big);
    char name256[257];
    memset(name256, 'n', 256);
    name256[256] = '\0';
    struct {
        struct es_header h;
        const char *text;
    } bad[] = {
        {es_hdr_int("b", ES_BYTE, 128), "128 does not fit in a byte"},
        {es_hdr_int("b", ES_BYTE, -129), "-129 does not fit in a byte"},
        {es_hdr_int("s", ES_INT16, 32768), "does not fit in a int16"},
        {es_hdr_int("i", ES_INT32, (int64_t)INT32_MIN - 1), "does not fit in a int32"},
        {es_hdr_string("", "x"), "name length 0 is outside 1..255"},
        {es_hdr_string(name256, "x"), "name length 256 is outside 1..255"},
        {es_hdr_string("\xc3", "x"), "is not UTF-8"},
        {es_hdr_string("s", "\xc3"), "string value is not UTF-8"},
        {es_hdr_bytes("big", big, sizeof big), "byte array value of 65536 bytes (at most 65535)"},
        {es_hdr_int("t", (enum es_type)10, 0), "unknown type 10"},
        {{"u", 1, ES_UUID, 0, "short", 5}, "a uuid is 16 bytes, not 5"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        assert_int_equal(es_encode(&b, &bad[i].h, 1, NULL, 0, &e), BROCK_ERR_USAGE);
        if (!strstr(e.msg, bad[i].text))
            fail_msg("case %zu: '%s' not in '%s'", i, bad[i].text, e.msg);
        assert_int_equal(b.len, 0);
    }
    /* duplicate */
    const struct es_header dup[] = {es_hdr_bool("a", true), es_hdr_bool("b", true),
                                    es_hdr_bool("a", false)};
    assert_int_equal(es_encode(&b, dup, 3, NULL, 0, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "header 'a': duplicate name (also header 0)"));
    /* a 65535-byte value is fine */
    struct es_header ok = es_hdr_bytes("big", big, ES_MAX_HEADER_VALUE_LEN);
    assert_int_equal(es_encode(&b, &ok, 1, NULL, 0, &e), BROCK_OK);
    buf_reset(&b);
    /* headers over 128 KiB */
    struct es_header three[3];
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        three[i] = es_hdr_bytes(names[i], big, ES_MAX_HEADER_VALUE_LEN);
    assert_int_equal(es_encode(&b, three, 3, NULL, 0, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "headers take more than 131072 bytes"));
    /* too many headers */
    assert_int_equal(es_encode(&b, three, ES_MAX_HEADER_COUNT + 1, NULL, 0, &e),
                     BROCK_ERR_TOO_LARGE);
    assert_int_equal(es_encode_event(&b, NULL, NULL, "x", 1, &e), BROCK_ERR_USAGE);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    /* a full output buffer: nothing appended, overflow sticks */
    struct buf small = BUF_INIT(40);
    assert_int_equal(es_encode_event(&small, "e", NULL, "{}", 2, &e), BROCK_ERR_TOO_LARGE);
    assert_int_equal(small.len, 0);
    assert_int_equal(buf_status(&small), BROCK_ERR_TOO_LARGE);
    assert_int_equal(es_encode(&small, NULL, 0, NULL, 0, &e), BROCK_ERR_TOO_LARGE);
    buf_free(&small);
}

static void test_encode_error_shape_and_accessors(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(4096);
    struct brock_err e = {0};
    assert_int_equal(es_encode_error(&b, "InternalFailure", "it broke", &e), BROCK_OK);
    assert_int_equal(es_encode_event(&b, "messageStop", "text/plain", "x", 1, &e), BROCK_OK);
    struct es_decoder *d = es_decoder_new();
    struct es_message m;
    bool got;
    assert_int_equal(es_decoder_feed(d, b.ptr, b.len, &e), BROCK_OK);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_int_equal(es_message_kind(&m), ES_KIND_ERROR);
    assert_true(es_str_eq(es_message_error_code(&m), "InternalFailure"));
    assert_true(es_str_eq(es_message_error_message(&m), "it broke"));
    assert_false(es_str_eq(es_message_error_message(&m), "it broke!"));
    assert_int_equal(m.payload_len, 0);
    assert_int_equal(es_decoder_next(d, &m, &got, &e), BROCK_OK);
    assert_true(got);
    assert_int_equal(es_message_kind(&m), ES_KIND_EVENT);
    assert_true(es_str_eq(es_message_event_type(&m), "messageStop"));
    assert_true(es_str_eq(es_message_content_type(&m), "text/plain"));
    assert_null(es_message_error_code(&m).p);
    assert_string_equal(es_fault_name(ES_FAULT_PRELUDE_CRC), "prelude-crc");
    assert_string_equal(es_fault_name((enum es_fault)99), "unknown");
    es_decoder_free(d);
    buf_free(&b);
}

/* ---- helper mode for tests/e2e/eventstream_js_cross.sh ---- */

/* Names of the types as @smithy/eventstream-codec spells them. */
static const char *js_type(enum es_type t)
{
    static const char *const n[ES_TYPE_COUNT] = {"boolean",   "boolean", "byte",   "short",
                                                 "integer",   "long",    "binary", "string",
                                                 "timestamp", "uuid"};
    return n[t];
}

static char *hexdup(const void *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    hex_encode(p, n, s);
    return s;
}

/* {"headers":[{"name","type","value"}...],"payload":"<hex>"}; long values
 * as decimal strings (beyond 2^53), bytes and uuids as hex. */
static json_t *describe(const struct es_header *hs, size_t count, const void *payload, size_t plen)
{
    json_t *jh = json_array();
    for (size_t i = 0; i < count; i++) {
        const struct es_header *h = &hs[i];
        json_t *v;
        char *s = NULL;
        switch (h->type) {
        case ES_BOOL_TRUE:
        case ES_BOOL_FALSE:
            v = json_boolean(h->type == ES_BOOL_TRUE);
            break;
        case ES_INT64: {
            char num[24];
            snprintf(num, sizeof num, "%" PRId64, h->num);
            v = json_string(num);
            break;
        }
        case ES_BYTES:
        case ES_UUID:
            s = hexdup(h->data, h->len);
            v = json_string(s);
            break;
        case ES_STRING:
            v = json_stringn(h->len ? h->data : "", h->len);
            break;
        default:
            v = json_integer(h->num);
        }
        free(s);
        json_array_append_new(jh, json_pack("{s:s%,s:s,s:o}", "name", h->name, h->name_len, "type",
                                            js_type(h->type), "value", v));
    }
    char *ph = hexdup(payload, plen);
    json_t *o = json_pack("{s:o,s:s}", "headers", jh, "payload", ph);
    free(ph);
    return o;
}

static int helper_write_samples(const char *bin, const char *desc)
{
    static const uint8_t uuid[16] = {0xb7, 0x9b, 0xc9, 0x14, 0xde, 0x21, 0x4e, 0x13,
                                     0xb8, 0xb2, 0xbc, 0x47, 0xe8, 0x5b, 0x7f, 0x0b};
    static const uint8_t bin3[] = {0x00, 0xff, 0x7f};
    char longname[256];
    memset(longname, 'N', 255);
    longname[255] = '\0';
    const struct es_header all[] = {
        es_hdr_bool("yes", true),
        es_hdr_bool("no", false),
        es_hdr_int("byte", ES_BYTE, -128),
        es_hdr_int("short", ES_INT16, -32768),
        es_hdr_int("int", ES_INT32, 2147483647),
        es_hdr_int("long", ES_INT64, INT64_MIN),
        es_hdr_bytes("bytes", bin3, sizeof bin3),
        es_hdr_string("str", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
        es_hdr_int("time", ES_TIMESTAMP, 1700000000123LL),
        es_hdr_uuid("uuid", uuid),
    };
    const struct es_header edge[] = {
        es_hdr_int("long-max", ES_INT64, INT64_MAX),
        es_hdr_int("long-neg", ES_INT64, -2),
        es_hdr_int("time-neg", ES_TIMESTAMP, -86400000),
        es_hdr_bytes("empty", NULL, 0),
        es_hdr_string("empty-str", ""),
        es_hdr_string(longname, "a 255-byte name"),
    };
    const struct es_header ev[] = {
        es_hdr_string(":event-type", "chunk"),
        es_hdr_string(":content-type", "application/json"),
        es_hdr_string(":message-type", "event"),
    };
    static const char json_payload[] = "{\"bytes\":\"eyJ0eXBlIjoicGluZyJ9\",\"p\":\"abc\"}";
    static const uint8_t zeros[5] = {0};
    struct {
        const struct es_header *h;
        size_t n;
        const void *payload;
        size_t plen;
    } samples[] = {
        {all, BROCK_ARRAY_LEN(all), "some payload", 12},
        {edge, BROCK_ARRAY_LEN(edge), zeros, sizeof zeros},
        {ev, BROCK_ARRAY_LEN(ev), json_payload, sizeof json_payload - 1},
        {NULL, 0, NULL, 0},
    };
    struct buf out = BUF_INIT(1 << 20);
    json_t *list = json_array();
    struct brock_err e = {0};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(samples); i++) {
        if (es_encode(&out, samples[i].h, samples[i].n, samples[i].payload, samples[i].plen, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        json_array_append_new(
            list, describe(samples[i].h, samples[i].n, samples[i].payload, samples[i].plen));
    }
    FILE *f = fopen(bin, "wb");
    if (!f || fwrite(out.ptr, 1, out.len, f) != out.len || fclose(f) != 0) {
        perror(bin);
        return 1;
    }
    int rc = json_dump_file(list, desc, JSON_INDENT(1)) == 0 ? 0 : 1;
    json_decref(list);
    buf_free(&out);
    return rc;
}

static int helper_dump(const char *path)
{
    size_t n;
    char *data = test_read_file(path, &n);
    if (!data) {
        perror(path);
        return 1;
    }
    struct es_decoder *d = es_decoder_new();
    struct brock_err e = {0};
    json_t *list = json_array();
    enum brock_status st = es_decoder_feed(d, data, n, &e);
    for (;;) {
        struct es_message m;
        bool got = false;
        if (st == BROCK_OK)
            st = es_decoder_next(d, &m, &got, &e);
        if (st != BROCK_OK || !got)
            break;
        json_array_append_new(list, describe(m.headers, m.header_count, m.payload, m.payload_len));
    }
    if (st == BROCK_OK)
        st = es_decoder_finish(d, &e);
    int rc = 0;
    if (st != BROCK_OK) {
        fprintf(stderr, "%s (%s)\n", e.msg, es_fault_name(es_decoder_fault(d)));
        rc = 1;
    } else {
        json_dumpf(list, stdout, JSON_INDENT(1));
        putchar('\n');
    }
    json_decref(list);
    es_decoder_free(d);
    free(data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--es-write-samples"))
        return helper_write_samples(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "--es-dump"))
        return helper_dump(argv[2]);
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--es-write-samples OUT.bin OUT.json | --es-dump IN.bin]\n",
                argv[0]);
        return 2;
    }

    test_init();
    struct test_list l = {0};
    char name[512];

    for (size_t i = 0; i < BROCK_ARRAY_LEN(go_positive); i++) {
        snprintf(name, sizeof name, "go_positive/%s", go_positive[i]);
        test_list_add(&l, name, test_go_positive, strdup(go_positive[i]));
    }
    for (size_t i = 0; i < BROCK_ARRAY_LEN(go_negative); i++) {
        snprintf(name, sizeof name, "go_negative/%s", go_negative[i]);
        test_list_add(&l, name, test_go_negative, strdup(go_negative[i]));
    }
    test_list_add(&l, "go/no_vector_left_out", test_go_set_complete, NULL);

    test_list_add(&l, "smithy/valid_with_all_headers_and_payload", test_smithy_valid_all_headers,
                  NULL);
    test_list_add(&l, "smithy/valid_empty_payload+valid_no_headers", test_smithy_valid_small, NULL);
    test_list_add(&l, "smithy/streaming_chunks_1_to_11", test_smithy_streaming, NULL);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(smithy_bad); i++) {
        size_t *idx = malloc(sizeof *idx);
        *idx = i;
        snprintf(name, sizeof name, "smithy/%s", smithy_bad[i].file);
        test_list_add(&l, name, test_smithy_invalid, idx);
    }

    test_list_add(&l, "smithy/no_vector_left_out", test_smithy_set_complete, NULL);

    /* recorded Bedrock streams: every <dir>/<n>.response.eventstream */
    char *dir = testdata_path(RECORDED_DIR);
    char **files;
    size_t nf;
    char **subs;
    size_t nsub = test_list_dir(dir, &subs);
    size_t streams = 0;
    for (size_t i = 0; i < nsub; i++) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
        nf = test_list_dir(sub, &files);
        for (size_t k = 0; k < nf; k++) {
            const char *suffix = ".response.eventstream";
            size_t fl = strlen(files[k]), sl = strlen(suffix);
            if (fl <= sl || strcmp(files[k] + fl - sl, suffix) != 0)
                continue;
            snprintf(name, sizeof name, "%s/%.*s", subs[i], (int)(fl - sl), files[k]);
            char tname[600];
            snprintf(tname, sizeof tname, "recorded/%s", name);
            test_list_add(&l, tname, test_recorded, strdup(name));
            streams++;
        }
        test_free_list(files, nf);
    }
    test_free_list(subs, nsub);
    free(dir);
    size_t *ns = malloc(sizeof *ns);
    *ns = streams;
    test_list_add(&l, "recorded/set_complete_6_streams_115_frames", test_recorded_set_complete, ns);

    test_list_add(&l, "reference_5_3_worked_examples", test_worked_examples, NULL);
    test_list_add(&l, "cap/prelude_2gib_rejected_without_allocating",
                  test_prelude_2gib_rejected_without_allocating, NULL);
    test_list_add(&l, "cap/length_checks", test_length_checks, NULL);
    test_list_add(&l, "cap/message_of_exactly_16mib", test_message_at_cap, NULL);
    test_list_add(&l, "stream/truncation_and_sticky_errors", test_truncation, NULL);
    test_list_add(&l, "stream/api_misuse", test_api_misuse, NULL);
    test_list_add(&l, "stream/zero_copy_and_straddle", test_zero_copy_and_straddle, NULL);
    test_list_add(&l, "stream/error_offsets", test_error_offsets_in_stream, NULL);
    test_list_add(&l, "headers/malformed", test_header_errors, NULL);
    test_list_add(&l, "headers/utf8", test_utf8_names_and_values, NULL);
    test_list_add(&l, "secrets/errors_do_not_leak_header_values",
                  test_errors_do_not_leak_header_values, NULL);
    test_list_add(&l, "encode/all_types_roundtrip", test_encode_all_types_roundtrip, NULL);
    test_list_add(&l, "encode/rejects", test_encode_rejects, NULL);
    test_list_add(&l, "encode/error_shape_and_accessors", test_encode_error_shape_and_accessors,
                  NULL);
    return test_list_run("eventstream", &l) ? 1 : 0;
}
