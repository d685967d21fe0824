/* fuzz_bedrock_stream.c - the Bedrock stream assembler on arbitrary input.
 *
 * The first byte chooses: bit 0 the stream kind (InvokeModelWithResponseStream
 * or ConverseStream), bit 1 the mode.
 *
 *  raw mode   the rest is the event stream itself, fed whole and then in
 *             pieces whose sizes come from the input; both runs must end
 *             with the same status, message and assembled result.
 *  JSON mode  the rest is lines "<t><json>"; each becomes one well-formed
 *             frame, so the JSON paths are reached without fighting CRCs.
 *             <t> picks the frame: '0'..'5' the events (Converse:
 *             messageStart, contentBlockStart, contentBlockDelta,
 *             contentBlockStop, messageStop, metadata; Invoke: a chunk whose
 *             bytes are the base64 of <json>), '6' an exception frame
 *             (throttlingException, payload <json>), '7' an error frame,
 *             '8' an unknown event type, '9' a chunk with <json> as the raw
 *             payload.
 *
 * Every successful parse is also turned back into request bodies (the
 * content as an assistant turn), which must not crash either. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/eventstream.h"
#include "../src/bedrock/bedrock_wire.h"
#include "../src/util/codec.h"

struct run {
    enum brock_status st;
    struct brock_err err;
    char *content; /* the assembled content, dumped */
    char stop_reason[40];
    struct model_usage usage;
    size_t text_bytes;
};

static void on_text(void *ctx, int index, const char *p, size_t n)
{
    (void)index;
    (void)p;
    ((struct run *)ctx)->text_bytes += n;
}
static void on_tool_use(void *ctx, int index, const char *id, const char *name)
{
    (void)ctx;
    (void)index;
    if (!id || !name)
        abort(); /* a tool_use start always has both */
}

/* A body that was built must be one valid JSON object. */
static void check_body(enum brock_status st, struct buf *b)
{
    if (st == BROCK_OK) {
        json_t *v = json_loadb(b->ptr, b->len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(v))
            abort();
        json_decref(v);
    }
    buf_reset(b);
}

static void roundtrip(const json_t *content)
{
    struct model_request req;
    memset(&req, 0, sizeof req);
    req.model_id = "m";
    req.max_tokens = 16;
    req.temperature = req.top_p = MODEL_UNSET;
    req.top_k = MODEL_UNSET;
    req.messages = json_pack("[{s:s,s:s},{s:s,s:O}]", "role", "user", "content", "hi", "role", "assistant", "content",
                             content);
    struct buf b = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
    check_body(bedrock_invoke_body(&req, &b, NULL), &b);
    check_body(bedrock_converse_body(&req, &b, NULL), &b);
    buf_free(&b);
    (void)bedrock_estimate_tokens(&req);
    json_decref(req.messages);
}

static void assemble(enum bedrock_stream_kind kind, const uint8_t *data, size_t size, int chunked, struct run *r)
{
    memset(r, 0, sizeof *r);
    struct model_events ev = {.on_text = on_text, .on_thinking = on_text, .on_tool_input = on_text,
                              .on_tool_use = on_tool_use, .ctx = r};
    struct bedrock_stream *s = bedrock_stream_new(kind, &ev);
    size_t pos = 0, step = 0;
    r->st = BROCK_OK;
    while (r->st == BROCK_OK && pos < size) {
        size_t k = size - pos;
        if (chunked) {
            uint8_t b = data[step++ % size];
            size_t want = (size_t)(b & 31) + 1;
            if (want < k)
                k = want;
        }
        uint8_t *piece = malloc(k);
        memcpy(piece, data + pos, k);
        r->st = bedrock_stream_feed(s, piece, k, &r->err);
        free(piece);
        pos += k;
    }
    if (r->st == BROCK_OK)
        r->st = bedrock_stream_finish(s, &r->err);
    if (r->st != BROCK_OK && r->err.msg[0] == '\0')
        abort(); /* every error says why */
    struct model_result res;
    model_result_init(&res);
    bedrock_stream_result(s, &res);
    if (!json_is_array(res.content))
        abort();
    r->content = json_dumps(res.content, JSON_COMPACT | JSON_SORT_KEYS);
    memcpy(r->stop_reason, res.stop_reason, sizeof r->stop_reason);
    r->usage = res.usage;
    if (r->st == BROCK_OK)
        roundtrip(res.content);
    char *text = model_result_text(&res);
    free(text);
    model_result_cleanup(&res);
    bedrock_stream_free(s);
}

static void compare(const struct run *a, const struct run *b)
{
    if (a->st != b->st || strcmp(a->err.msg, b->err.msg) || strcmp(a->content, b->content) ||
        strcmp(a->stop_reason, b->stop_reason) || memcmp(&a->usage, &b->usage, sizeof a->usage) ||
        a->text_bytes != b->text_bytes) {
        fprintf(stderr, "whole and chunked runs disagree:\n  %d %s\n  %d %s\n", a->st, a->err.msg, b->st,
                b->err.msg);
        abort();
    }
}

/* JSON mode: build the frames. */
static void frames_from_lines(enum bedrock_stream_kind kind, const uint8_t *p, size_t n, struct buf *out)
{
    static const char *const converse_types[] = {"messageStart",     "contentBlockStart", "contentBlockDelta",
                                                 "contentBlockStop", "messageStop",       "metadata"};
    struct buf tmp = BUF_INIT(ES_MAX_MESSAGE_LEN);
    size_t pos = 0;
    int skipped = 0; /* frames the encoder refused (bad UTF-8, too large): left out */
    while (pos < n) {
        const uint8_t *nl = memchr(p + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - p) : n;
        if (end > pos) {
            char t = (char)p[pos];
            const char *json = (const char *)p + pos + 1;
            size_t len = end - pos - 1;
            buf_reset(&tmp);
            if (t >= '0' && t <= '5') {
                if (kind == BEDROCK_STREAM_CONVERSE) {
                    skipped += es_encode_event(out, converse_types[t - '0'], NULL, json, len, NULL) != BROCK_OK;
                } else {
                    buf_addstr(&tmp, "{\"bytes\":\"");
                    (void)base64_encode(&tmp, json, len);
                    buf_addstr(&tmp, "\",\"p\":\"abc\"}");
                    if (buf_status(&tmp) == BROCK_OK)
                        skipped += es_encode_event(out, "chunk", NULL, tmp.ptr, tmp.len, NULL) != BROCK_OK;
                }
            } else if (t == '6') {
                skipped += es_encode_exception(out, "throttlingException", NULL, json, len, NULL) != BROCK_OK;
            } else if (t == '7') {
                buf_add(&tmp, json, len); /* NUL-terminated copy; invalid UTF-8 is refused by the encoder */
                skipped += es_encode_error(out, "InternalFailure", buf_cstr(&tmp), NULL) != BROCK_OK;
            } else if (t == '8') {
                skipped += es_encode_event(out, "someFutureEvent", NULL, json, len, NULL) != BROCK_OK;
            } else {
                skipped += es_encode_event(out, "chunk", NULL, json, len, NULL) != BROCK_OK;
            }
        }
        pos = end + 1;
    }
    (void)skipped;
    buf_free(&tmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum bedrock_stream_kind kind = (data[0] & 1) ? BEDROCK_STREAM_CONVERSE : BEDROCK_STREAM_INVOKE;
    bool json_mode = (data[0] & 2) != 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct buf frames = BUF_INIT((size_t)64 * 1024 * 1024);
    if (json_mode) {
        frames_from_lines(kind, p, n, &frames);
        p = (const uint8_t *)frames.ptr;
        n = frames.len;
    }
    struct run whole, chunked;
    assemble(kind, p, n, 0, &whole);
    if (n > 0) {
        assemble(kind, p, n, 1, &chunked);
        compare(&whole, &chunked);
        free(chunked.content);
    }
    free(whole.content);
    buf_free(&frames);
    return 0;
}
