/* Tests for the stream assembler (src/bedrock/bedrock_stream.c):
 *  - every recorded ConverseStream body of testdata/bedrock-recorded, fed
 *    whole and in 1- and 7-byte pieces, against what the decoded frames
 *    (*.response.decoded.json) say, computed here with jansson;
 *  - InvokeModelWithResponseStream bodies built with the event-stream encoder
 *    from the example events of wire reference 4.7;
 *  - exception and error frames, truncation, bad CRCs, partial results. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/eventstream.h"
#include "../../src/bedrock/bedrock_wire.h"
#include "../../src/util/codec.h"
#include "../../src/util/json.h"

/* ---- helpers ----------------------------------------------------------------------- */

struct seen {
    struct buf text, thinking, tool_input;
    char tool_ids[8][64];
    int tools, stops, retries;
    int last_text_index;
};

static void on_text(void *ctx, int index, const char *p, size_t n)
{
    struct seen *s = ctx;
    s->last_text_index = index;
    buf_add(&s->text, p, n);
}
static void on_thinking(void *ctx, int index, const char *p, size_t n)
{
    (void)index;
    buf_add(&((struct seen *)ctx)->thinking, p, n);
}
static void on_tool_use(void *ctx, int index, const char *id, const char *name)
{
    (void)index;
    (void)name;
    struct seen *s = ctx;
    if (s->tools < 8)
        snprintf(s->tool_ids[s->tools], sizeof s->tool_ids[0], "%s", id);
    s->tools++;
}
static void on_tool_input(void *ctx, int index, const char *p, size_t n)
{
    (void)index;
    buf_add(&((struct seen *)ctx)->tool_input, p, n);
}
static void on_block_stop(void *ctx, int index)
{
    (void)index;
    ((struct seen *)ctx)->stops++;
}

static void seen_init(struct seen *s)
{
    memset(s, 0, sizeof *s);
    buf_init(&s->text, BUF_MAX_BODY);
    buf_init(&s->thinking, BUF_MAX_BODY);
    buf_init(&s->tool_input, BUF_MAX_BODY);
}
static void seen_free(struct seen *s)
{
    buf_free(&s->text);
    buf_free(&s->thinking);
    buf_free(&s->tool_input);
}

static struct model_events events_for(struct seen *s)
{
    return (struct model_events){.on_text = on_text,
                                 .on_thinking = on_thinking,
                                 .on_tool_use = on_tool_use,
                                 .on_tool_input = on_tool_input,
                                 .on_block_stop = on_block_stop,
                                 .ctx = s};
}

/* Feed `data` in pieces of `piece` bytes (0 = whole), each in its own
 * exact-size allocation, then finish. Stops at the first error. */
static enum brock_status feed_all(struct bedrock_stream *s, const void *data, size_t n, size_t piece,
                                  struct brock_err *e)
{
    size_t pos = 0;
    do {
        size_t k = piece && piece < n - pos ? piece : n - pos;
        char *p = malloc(k ? k : 1);
        memcpy(p, (const char *)data + pos, k);
        enum brock_status st = bedrock_stream_feed(s, p, k, e);
        free(p);
        if (st != BROCK_OK)
            return st;
        pos += k;
    } while (pos < n);
    return bedrock_stream_finish(s, e);
}

/* One `chunk` frame holding an Anthropic event, with Bedrock's "p" padding. */
static void add_chunk(struct buf *out, const char *event_json)
{
    struct buf b64 = BUF_INIT(1 << 20), payload = BUF_INIT(1 << 20);
    assert_int_equal(base64_encode(&b64, event_json, strlen(event_json)), BROCK_OK);
    buf_addf(&payload, "{\"bytes\":\"%s\",\"p\":\"abcdefgh\"}", buf_cstr(&b64));
    assert_int_equal(es_encode_event(out, "chunk", NULL, payload.ptr, payload.len, NULL), BROCK_OK);
    buf_free(&b64);
    buf_free(&payload);
}

static void add_event(struct buf *out, const char *type, const char *payload_json)
{
    assert_int_equal(es_encode_event(out, type, NULL, payload_json, strlen(payload_json), NULL), BROCK_OK);
}

static json_t *parse(const char *s)
{
    json_t *v = json_loads(s, 0, NULL);
    assert_non_null(v);
    return v;
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fprintf(stderr, "JSON differs:\n  got:  %s\n  want: %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
    json_decref(want);
}

/* ---- recorded ConverseStream bodies ------------------------------------------------ */

struct recorded {
    char base[512]; /* .../extracted/<cassette>/<n> */
    size_t piece;
};

/* What the decoded frames say, computed without the assembler. */
struct expect_block {
    char kind[24]; /* text, thinking, tool_use, server_tool_use, tool_result */
    struct buf text, sig, input;
    char id[96], name[96];
};

static void test_recorded(void **state)
{
    const struct recorded *rc = *state;
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s.response.eventstream", rc->base);
    char *raw = test_read_file(path, &n);
    assert_non_null(raw);
    snprintf(path, sizeof path, "%s.response.decoded.json", rc->base);
    json_t *frames = json_load_file(path, 0, NULL);
    assert_true(json_is_array(frames));

    /* the expectation */
    struct expect_block xb[16];
    size_t nx = 0;
    memset(xb, 0, sizeof xb);
    const char *stop_reason = NULL;
    json_int_t in_tokens = -1, out_tokens = -1;
    size_t i;
    json_t *f;
    json_array_foreach(frames, i, f)
    {
        const char *type = json_string_value(json_object_get(json_object_get(f, "headers"), ":event-type"));
        json_t *p = json_object_get(f, "payload");
        json_int_t idx = json_integer_value(json_object_get(p, "contentBlockIndex"));
        assert_true(idx >= 0 && idx < 16);
        if ((size_t)idx >= nx && (!strcmp(type, "contentBlockStart") || !strcmp(type, "contentBlockDelta"))) {
            nx = (size_t)idx + 1;
            buf_init(&xb[idx].text, 1 << 20);
            buf_init(&xb[idx].sig, 1 << 20);
            buf_init(&xb[idx].input, 1 << 20);
        }
        if (!strcmp(type, "contentBlockStart")) {
            json_t *tu = json_object_get(json_object_get(p, "start"), "toolUse");
            json_t *tr = json_object_get(json_object_get(p, "start"), "toolResult");
            if (tu) {
                const char *t = json_string_value(json_object_get(tu, "type"));
                snprintf(xb[idx].kind, sizeof xb[idx].kind, "%s",
                         t && !strcmp(t, "server_tool_use") ? "server_tool_use" : "tool_use");
                snprintf(xb[idx].id, sizeof xb[idx].id, "%s", json_string_value(json_object_get(tu, "toolUseId")));
                snprintf(xb[idx].name, sizeof xb[idx].name, "%s", json_string_value(json_object_get(tu, "name")));
            } else if (tr) {
                snprintf(xb[idx].kind, sizeof xb[idx].kind, "tool_result");
                snprintf(xb[idx].id, sizeof xb[idx].id, "%s", json_string_value(json_object_get(tr, "toolUseId")));
            }
        } else if (!strcmp(type, "contentBlockDelta")) {
            json_t *d = json_object_get(p, "delta"), *v;
            if ((v = json_object_get(d, "text"))) {
                snprintf(xb[idx].kind, sizeof xb[idx].kind, "text");
                buf_addstr(&xb[idx].text, json_string_value(v));
            } else if ((v = json_object_get(d, "reasoningContent"))) {
                snprintf(xb[idx].kind, sizeof xb[idx].kind, "thinking");
                if (json_object_get(v, "text"))
                    buf_addstr(&xb[idx].text, json_string_value(json_object_get(v, "text")));
                if (json_object_get(v, "signature"))
                    buf_addstr(&xb[idx].sig, json_string_value(json_object_get(v, "signature")));
            } else if ((v = json_object_get(d, "toolUse"))) {
                buf_addstr(&xb[idx].input, json_string_value(json_object_get(v, "input")));
            }
        } else if (!strcmp(type, "messageStop")) {
            stop_reason = json_string_value(json_object_get(p, "stopReason"));
        } else if (!strcmp(type, "metadata")) {
            json_t *u = json_object_get(p, "usage");
            in_tokens = json_integer_value(json_object_get(u, "inputTokens"));
            out_tokens = json_integer_value(json_object_get(u, "outputTokens"));
        }
    }
    assert_non_null(stop_reason);
    assert_true(in_tokens >= 0 && out_tokens >= 0);

    /* the assembler */
    struct seen sn;
    seen_init(&sn);
    struct model_events ev = events_for(&sn);
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_CONVERSE, &ev);
    struct brock_err e = {0};
    enum brock_status st = feed_all(s, raw, n, rc->piece, &e);
    if (st != BROCK_OK)
        fprintf(stderr, "%s: %s\n", rc->base, e.msg);
    assert_int_equal(st, BROCK_OK);
    assert_int_equal(bedrock_stream_bytes(s), n);
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    assert_string_equal(r.stop_reason, stop_reason);
    assert_int_equal(r.usage.input_tokens, in_tokens);
    assert_int_equal(r.usage.output_tokens, out_tokens);

    /* block by block; empty text blocks are dropped */
    size_t k = 0;
    struct buf all_text = BUF_INIT(1 << 20);
    for (size_t x = 0; x < nx; x++) {
        if (!strcmp(xb[x].kind, "text") && xb[x].text.len == 0)
            continue;
        json_t *blk = json_array_get(r.content, k++);
        assert_non_null(blk);
        assert_string_equal(json_string_value(json_object_get(blk, "type")), xb[x].kind);
        if (!strcmp(xb[x].kind, "text")) {
            assert_string_equal(json_string_value(json_object_get(blk, "text")), buf_cstr(&xb[x].text));
            buf_addstr(&all_text, buf_cstr(&xb[x].text));
        } else if (!strcmp(xb[x].kind, "thinking")) {
            assert_string_equal(json_string_value(json_object_get(blk, "thinking")), buf_cstr(&xb[x].text));
            if (xb[x].sig.len)
                assert_string_equal(json_string_value(json_object_get(blk, "signature")), buf_cstr(&xb[x].sig));
            else
                assert_null(json_object_get(blk, "signature"));
        } else if (!strcmp(xb[x].kind, "tool_use") || !strcmp(xb[x].kind, "server_tool_use")) {
            assert_string_equal(json_string_value(json_object_get(blk, "id")), xb[x].id);
            assert_string_equal(json_string_value(json_object_get(blk, "name")), xb[x].name);
            json_t *want = xb[x].input.len ? parse(buf_cstr(&xb[x].input)) : json_object();
            assert_true(json_equal(json_object_get(blk, "input"), want));
            json_decref(want);
        } else if (!strcmp(xb[x].kind, "tool_result")) {
            assert_string_equal(json_string_value(json_object_get(blk, "tool_use_id")), xb[x].id);
        }
    }
    assert_int_equal(json_array_size(r.content), k);
    /* the callbacks saw the same text, in order */
    assert_string_equal(buf_cstr(&sn.text), buf_cstr(&all_text));
    assert_true(bedrock_stream_started(s));
    assert_true(bedrock_stream_first_content_ns(s) > 0);

    for (size_t x = 0; x < nx; x++) {
        buf_free(&xb[x].text);
        buf_free(&xb[x].sig);
        buf_free(&xb[x].input);
    }
    buf_free(&all_text);
    model_result_cleanup(&r);
    bedrock_stream_free(s);
    seen_free(&sn);
    json_decref(frames);
    free(raw);
}

/* ---- InvokeModelWithResponseStream (wire reference 4.7) ------------------------------ */

static const char *const invoke_events[] = {
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_01Ab\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":42,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1500,"
    "\"output_tokens\":1}}}",
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}",
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me\"}}",
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\" look.\"}}",
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB..\"}}",
    "{\"type\":\"content_block_stop\",\"index\":0}",
    "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}",
    "{\"type\":\"ping\"}",
    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\" th\\u00e9re\"}}",
    "{\"type\":\"content_block_stop\",\"index\":1}",
    "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_bdrk_01X\","
    "\"name\":\"bash\",\"input\":{}}}",
    /* the input JSON split inside a key and inside a string */
    "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"cm\"}}",
    "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"d\\\": "
    "\\\"l\"}}",
    "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"s "
    "-la\\\"}\"}}",
    "{\"type\":\"content_block_stop\",\"index\":2}",
    "{\"type\":\"some_future_event\",\"index\":9}",
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{"
    "\"output_tokens\":87}}",
    "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":42,\"outputTokenCount\":87,"
    "\"invocationLatency\":2310,\"firstByteLatency\":402,\"cacheReadInputTokenCount\":1500,"
    "\"cacheWriteInputTokenCount\":0}}",
};

static void build_invoke_stream(struct buf *out, size_t upto)
{
    for (size_t i = 0; i < upto && i < BROCK_ARRAY_LEN(invoke_events); i++)
        add_chunk(out, invoke_events[i]);
}

static void test_invoke_stream(void **state)
{
    size_t piece = *(size_t *)*state;
    struct buf wire = BUF_INIT(1 << 20);
    build_invoke_stream(&wire, SIZE_MAX);
    /* an unknown event type between frames is skipped */
    add_event(&wire, "someFutureEvent", "{}");
    struct seen sn;
    seen_init(&sn);
    struct model_events ev = events_for(&sn);
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, &ev);
    struct brock_err e = {0};
    enum brock_status st = feed_all(s, wire.ptr, wire.len, piece, &e);
    if (st != BROCK_OK)
        fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(st, BROCK_OK);
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    assert_json_eq(r.content, "[{\"type\":\"thinking\",\"thinking\":\"Let me look.\",\"signature\":\"EqQB..\"},"
                              "{\"type\":\"text\",\"text\":\"Hi th\\u00e9re\"},"
                              "{\"type\":\"tool_use\",\"id\":\"toolu_bdrk_01X\",\"name\":\"bash\","
                              "\"input\":{\"cmd\":\"ls -la\"}}]");
    assert_string_equal(r.stop_reason, "tool_use");
    assert_string_equal(r.stop_sequence, "");
    assert_string_equal(r.message_id, "msg_bdrk_01Ab");
    assert_string_equal(r.model, "claude-sonnet-4-5-20250929");
    assert_int_equal(r.usage.input_tokens, 42);
    assert_int_equal(r.usage.output_tokens, 87);
    assert_int_equal(r.usage.cache_read_tokens, 1500);
    assert_int_equal(r.usage.cache_write_tokens, 0);
    /* callbacks */
    assert_string_equal(buf_cstr(&sn.text), "Hi th\xc3\xa9re");
    assert_int_equal(sn.last_text_index, 1);
    assert_string_equal(buf_cstr(&sn.thinking), "Let me look.");
    assert_string_equal(buf_cstr(&sn.tool_input), "{\"cmd\": \"ls -la\"}");
    assert_int_equal(sn.tools, 1);
    assert_string_equal(sn.tool_ids[0], "toolu_bdrk_01X");
    assert_int_equal(sn.stops, 3);
    model_result_cleanup(&r);
    bedrock_stream_free(s);
    seen_free(&sn);
    buf_free(&wire);
}

static void test_invoke_metrics_fill_missing_usage(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 16);
    add_chunk(&wire, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"ok\"}}");
    add_chunk(&wire, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"</done>\"}}");
    add_chunk(&wire, "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":7,"
                     "\"outputTokenCount\":3,\"cacheReadInputTokenCount\":5,\"cacheWriteInputTokenCount\":11}}");
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, NULL), BROCK_OK);
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    /* the block was never stopped: closed at the end, text kept */
    assert_json_eq(r.content, "[{\"type\":\"text\",\"text\":\"ok\"}]");
    assert_string_equal(r.stop_reason, "stop_sequence");
    assert_string_equal(r.stop_sequence, "</done>");
    assert_int_equal(r.usage.input_tokens, 7);
    assert_int_equal(r.usage.output_tokens, 3);
    assert_int_equal(r.usage.cache_read_tokens, 5);
    assert_int_equal(r.usage.cache_write_tokens, 11);
    model_result_cleanup(&r);
    bedrock_stream_free(s);
    buf_free(&wire);
}

static void test_invoke_other_blocks_and_citations(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 16);
    add_chunk(&wire, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"redacted_thinking\","
                     "\"data\":\"EmwKAhgBEgy\"}}");
    add_chunk(&wire, "{\"type\":\"content_block_stop\",\"index\":0}");
    add_chunk(&wire, "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
    add_chunk(&wire, "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"citations_delta\","
                     "\"citation\":{\"type\":\"char_location\",\"cited_text\":\"x\",\"document_index\":0}}}");
    add_chunk(&wire, "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"cited\"}}");
    add_chunk(&wire, "{\"type\":\"content_block_stop\",\"index\":1}");
    /* a tool_use with no input deltas has input {} */
    add_chunk(&wire, "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
                     "\"id\":\"t1\",\"name\":\"noargs\",\"input\":{}}}");
    add_chunk(&wire, "{\"type\":\"content_block_stop\",\"index\":2}");
    add_chunk(&wire, "{\"type\":\"message_stop\"}");
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    struct brock_err e = {0};
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 3, &e), BROCK_OK);
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    assert_json_eq(r.content,
                   "[{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgBEgy\"},"
                   "{\"type\":\"text\",\"text\":\"cited\",\"citations\":[{\"type\":\"char_location\",\"cited_text\":\"x\","
                   "\"document_index\":0}]},"
                   "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"noargs\",\"input\":{}}]");
    model_result_cleanup(&r);
    bedrock_stream_free(s);
    buf_free(&wire);
}

/* ---- ConverseStream shapes the recordings lack ------------------------------------------ */

static void test_converse_redacted_and_stop_mapping(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 16);
    add_event(&wire, "messageStart", "{\"role\":\"assistant\",\"p\":\"abc\"}");
    /* "hello " and "world" as two base64 pieces: the block holds the bytes */
    add_event(&wire, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"redactedContent\":\"aGVsbG8g\"}}}");
    add_event(&wire, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"redactedContent\":\"d29ybGQ=\"}}}");
    add_event(&wire, "contentBlockStop", "{\"contentBlockIndex\":0}");
    /* a block kind brock does not know (an image) leaves a gap; the next block follows it */
    add_event(&wire, "contentBlockStart", "{\"contentBlockIndex\":1,\"start\":{\"image\":{\"format\":\"png\"}}}");
    add_event(&wire, "contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"image\":{}}}");
    add_event(&wire, "contentBlockStop", "{\"contentBlockIndex\":1}");
    add_event(&wire, "contentBlockDelta", "{\"contentBlockIndex\":2,\"delta\":{\"text\":\"no\"}}");
    add_event(&wire, "contentBlockStop", "{\"contentBlockIndex\":2}");
    add_event(&wire, "messageStop", "{\"stopReason\":\"content_filtered\"}");
    add_event(&wire, "metadata", "{\"usage\":{\"inputTokens\":3,\"outputTokens\":4,\"cacheReadInputTokens\":100,"
                                 "\"cacheWriteInputTokens\":200,\"totalTokens\":307},\"metrics\":{\"latencyMs\":9}}");
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_CONVERSE, NULL);
    struct brock_err e = {0};
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 1, &e), BROCK_OK);
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    /* base64("hello world") */
    assert_json_eq(r.content, "[{\"type\":\"redacted_thinking\",\"data\":\"aGVsbG8gd29ybGQ=\"},"
                              "{\"type\":\"text\",\"text\":\"no\"}]");
    assert_string_equal(r.stop_reason, "refusal");
    assert_int_equal(r.usage.cache_read_tokens, 100);
    assert_int_equal(r.usage.cache_write_tokens, 200);
    assert_int_equal(r.usage.input_tokens, 3);
    model_result_cleanup(&r);
    bedrock_stream_free(s);
    buf_free(&wire);
}

/* ---- exceptions and errors ---------------------------------------------------------------- */

static const struct {
    const char *type;
    int http;
    enum brock_status st;
    const char *code;
} exceptions[] = {
    {"throttlingException", 429, BROCK_ERR_THROTTLED, "ThrottlingException"},
    {"modelStreamErrorException", 424, BROCK_ERR_AWS, "ModelStreamErrorException"},
    {"internalServerException", 500, BROCK_ERR_AWS, "InternalServerException"},
    {"validationException", 400, BROCK_ERR_AWS, "ValidationException"},
    {"serviceUnavailableException", 503, BROCK_ERR_AWS, "ServiceUnavailableException"},
    {"modelTimeoutException", 408, BROCK_ERR_AWS, "ModelTimeoutException"},
    {"accessDeniedException", 403, BROCK_ERR_AUTH, "AccessDeniedException"},
};

static void test_exception_frames(void **state)
{
    (void)state;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(exceptions); i++) {
        for (int kind = 0; kind < 2; kind++) {
            struct buf wire = BUF_INIT(1 << 16);
            if (kind == 0) {
                build_invoke_stream(&wire, 1); /* message_start only: no content yet */
            } else {
                add_event(&wire, "messageStart", "{\"role\":\"assistant\"}");
            }
            size_t at = wire.len;
            const char *payload = "{\"message\":\"Too many tokens, please wait before trying again.\","
                                  "\"originalStatusCode\":429,\"originalMessage\":\"overloaded\"}";
            assert_int_equal(es_encode_exception(&wire, exceptions[i].type, NULL, payload, strlen(payload), NULL),
                             BROCK_OK);
            struct bedrock_stream *s =
                bedrock_stream_new(kind == 0 ? BEDROCK_STREAM_INVOKE : BEDROCK_STREAM_CONVERSE, NULL);
            bedrock_stream_set_request_id(s, "rid-exc-1");
            struct brock_err e = {0};
            assert_int_equal(feed_all(s, wire.ptr, wire.len, 7, &e), exceptions[i].st);
            assert_int_equal(e.status, exceptions[i].st);
            assert_int_equal(e.http_status, exceptions[i].http);
            assert_string_equal(e.aws_code, exceptions[i].code);
            assert_string_equal(e.request_id, "rid-exc-1");
            assert_non_null(strstr(e.msg, "Too many tokens, please wait"));
            assert_non_null(strstr(e.msg, "rid-exc-1"));
            assert_non_null(strstr(e.msg, "model status 429: overloaded"));
            char off[32];
            snprintf(off, sizeof off, "after %zu bytes", at);
            assert_non_null(strstr(e.msg, off));
            assert_false(bedrock_stream_started(s));
            /* sticky */
            struct brock_err e2 = {0};
            assert_int_equal(bedrock_stream_feed(s, "x", 1, &e2), exceptions[i].st);
            assert_string_equal(e2.msg, e.msg);
            bedrock_stream_free(s);
            buf_free(&wire);
        }
    }
}

static void test_error_frame(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 16);
    add_event(&wire, "messageStart", "{\"role\":\"assistant\"}");
    assert_int_equal(es_encode_error(&wire, "InternalFailure", "We encountered an\ninternal error", NULL), BROCK_OK);
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_CONVERSE, NULL);
    struct brock_err e = {0};
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "InternalFailure");
    assert_int_equal(e.http_status, 500);
    /* control characters from outside never reach the message */
    assert_non_null(strstr(e.msg, "We encountered an internal error"));
    bedrock_stream_free(s);

    /* throttling spelled as an error frame is still throttling */
    buf_reset(&wire);
    assert_int_equal(es_encode_error(&wire, "ThrottlingException", "slow down", NULL), BROCK_OK);
    s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_THROTTLED);
    assert_int_equal(e.http_status, 429);
    bedrock_stream_free(s);
    buf_free(&wire);
}

static void test_exception_after_content_keeps_partial(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 16);
    build_invoke_stream(&wire, 8); /* thinking done, text "Hi" started */
    add_chunk(&wire, "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
                     "\"id\":\"t9\",\"name\":\"bash\",\"input\":{}}}");
    add_chunk(&wire, "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
                     "\"partial_json\":\"{\\\"cmd\\\": \\\"rm\"}}");
    const char *payload = "{\"message\":\"stream error\"}";
    assert_int_equal(es_encode_exception(&wire, "modelStreamErrorException", NULL, payload, strlen(payload), NULL),
                     BROCK_OK);
    struct seen sn;
    seen_init(&sn);
    struct model_events ev = events_for(&sn);
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, &ev);
    struct brock_err e = {0};
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_AWS);
    assert_true(bedrock_stream_started(s));
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    /* the finished thinking block and the text so far; the half tool call is dropped */
    assert_json_eq(r.content, "[{\"type\":\"thinking\",\"thinking\":\"Let me look.\",\"signature\":\"EqQB..\"},"
                              "{\"type\":\"text\",\"text\":\"Hi\"}]");
    assert_string_equal(buf_cstr(&sn.text), "Hi");
    model_result_cleanup(&r);
    bedrock_stream_free(s);
    seen_free(&sn);
    buf_free(&wire);
}

/* ---- truncation and broken frames ----------------------------------------------------------- */

static void test_truncated_streams(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 20);
    build_invoke_stream(&wire, BROCK_ARRAY_LEN(invoke_events) - 1); /* all but message_stop */
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    struct brock_err e = {0};
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_NETWORK);
    char want[128];
    snprintf(want, sizeof want, "stream ended early after %zu bytes: no message_stop", wire.len);
    assert_non_null(strstr(e.msg, want));
    /* what arrived is still there */
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    assert_int_equal(json_array_size(r.content), 3);
    model_result_cleanup(&r);

    /* cut inside a frame */
    bedrock_stream_reset(s);
    assert_int_equal(feed_all(s, wire.ptr, wire.len - 5, 0, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "stream ended early"));
    bedrock_stream_free(s);

    /* Converse: messageStop without metadata, and nothing at all */
    buf_reset(&wire);
    add_event(&wire, "messageStart", "{\"role\":\"assistant\"}");
    add_event(&wire, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
    add_event(&wire, "messageStop", "{\"stopReason\":\"end_turn\"}");
    s = bedrock_stream_new(BEDROCK_STREAM_CONVERSE, NULL);
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "no metadata"));
    bedrock_stream_reset(s);
    assert_int_equal(feed_all(s, "", 0, 0, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "stream ended early after 0 bytes: no messageStop"));
    bedrock_stream_free(s);
    buf_free(&wire);
}

static void test_bad_crc_names_offset(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 20);
    build_invoke_stream(&wire, 3);
    size_t third = wire.len;
    add_chunk(&wire, invoke_events[3]);
    wire.ptr[third + 20] ^= 0x01; /* inside the 4th frame's headers */
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    struct brock_err e = {0};
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 7, &e), BROCK_ERR_PARSE);
    char want[64];
    snprintf(want, sizeof want, "offset %zu", third);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, "CRC"));
    bedrock_stream_free(s);
    buf_free(&wire);
}

static void test_protocol_errors(void **state)
{
    (void)state;
    static const struct {
        int kind; /* 0 invoke chunk, 1 converse event */
        const char *type;
        const char *json;
        const char *want;
    } cases[] = {
        {0, NULL, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}",
         "before its start"},
        {0, NULL, "{\"type\":\"content_block_start\",\"index\":99999,\"content_block\":{\"type\":\"text\"}}",
         "out of range"},
        {0, NULL, "[1,2]", "not an object with a type"},
        {0, NULL, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\"}}",
         "without a string id and name"},
        {1, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":\"{}\"}}}",
         "before its start"},
        {1, "contentBlockDelta", "{\"contentBlockIndex\":\"0\",\"delta\":{\"text\":\"x\"}}", "contentBlockIndex"},
        {1, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":5}}", "not a string"},
        {1, "contentBlockDelta", "not json", "invalid JSON"},
        {1, "messageStop", "[\"an array\"]", "not a JSON object"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct buf wire = BUF_INIT(1 << 16);
        if (cases[i].kind == 0)
            add_chunk(&wire, cases[i].json);
        else
            add_event(&wire, cases[i].type, cases[i].json);
        struct bedrock_stream *s =
            bedrock_stream_new(cases[i].kind == 0 ? BEDROCK_STREAM_INVOKE : BEDROCK_STREAM_CONVERSE, NULL);
        struct brock_err e = {0};
        assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_PARSE);
        if (!strstr(e.msg, cases[i].want))
            fprintf(stderr, "case %zu: %s\n", i, e.msg);
        assert_non_null(strstr(e.msg, cases[i].want));
        assert_non_null(strstr(e.msg, "offset 0"));
        bedrock_stream_free(s);
        buf_free(&wire);
    }

    /* a chunk whose bytes are not base64 */
    struct buf wire = BUF_INIT(1 << 16);
    add_event(&wire, "chunk", "{\"bytes\":\"@@@@\"}");
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    struct brock_err e = {0};
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "not valid base64"));
    bedrock_stream_free(s);

    /* tool input that is not JSON when the block stops */
    buf_reset(&wire);
    add_chunk(&wire, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\","
                     "\"id\":\"t\",\"name\":\"edit\",\"input\":{}}}");
    add_chunk(&wire, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
                     "\"partial_json\":\"{\\\"a\\\":\"}}");
    add_chunk(&wire, "{\"type\":\"content_block_stop\",\"index\":0}");
    s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "tool edit"));
    assert_non_null(strstr(e.msg, "not valid JSON"));
    bedrock_stream_free(s);
    buf_free(&wire);
}

static void test_reset_reuses(void **state)
{
    (void)state;
    struct buf wire = BUF_INIT(1 << 20);
    build_invoke_stream(&wire, SIZE_MAX);
    struct bedrock_stream *s = bedrock_stream_new(BEDROCK_STREAM_INVOKE, NULL);
    /* 16 bytes whose prelude CRC is wrong */
    assert_int_equal(feed_all(s, "\0\0\0\x10\0\0\0\0\xde\xad\xbe\xefzzzz", 16, 0, NULL), BROCK_ERR_PARSE);
    bedrock_stream_reset(s);
    assert_false(bedrock_stream_started(s));
    assert_int_equal(feed_all(s, wire.ptr, wire.len, 0, NULL), BROCK_OK);
    struct model_result r;
    model_result_init(&r);
    bedrock_stream_result(s, &r);
    char *text = model_result_text(&r);
    assert_string_equal(text, "Hi th\xc3\xa9re");
    free(text);
    model_result_cleanup(&r);
    bedrock_stream_free(s);
    buf_free(&wire);
}

int main(void)
{
    test_init();
    struct test_list l = {0};

    char *dir = testdata_path("bedrock-recorded/extracted");
    char **cassettes;
    size_t nc = test_list_dir(dir, &cassettes), streams = 0;
    assert_true(nc > 0);
    for (size_t i = 0; i < nc; i++) {
        char sub[400];
        snprintf(sub, sizeof sub, "%s/%s", dir, cassettes[i]);
        char **files;
        size_t nf = test_list_dir(sub, &files);
        for (size_t j = 0; j < nf; j++) {
            size_t fl = strlen(files[j]);
            const char *suffix = ".response.eventstream";
            if (fl <= strlen(suffix) || strcmp(files[j] + fl - strlen(suffix), suffix))
                continue;
            streams++;
            static const size_t pieces[] = {0, 1, 7};
            for (size_t p = 0; p < 3; p++) {
                struct recorded *rc = calloc(1, sizeof *rc);
                int bl = snprintf(rc->base, sizeof rc->base, "%s/%s", sub, files[j]);
                assert_true(bl > 0 && (size_t)bl < sizeof rc->base);
                rc->base[(size_t)bl - strlen(suffix)] = '\0';
                rc->piece = pieces[p];
                char name[300];
                snprintf(name, sizeof name, "recorded/%s/%.*s/%s", cassettes[i], (int)(fl - strlen(suffix)),
                         files[j], p == 0 ? "whole" : p == 1 ? "1-byte" : "7-byte");
                test_list_add(&l, name, test_recorded, rc);
            }
        }
        test_free_list(files, nf);
    }
    test_free_list(cassettes, nc);
    free(dir);
    if (streams != 6) {
        printf("not ok 1 - expected the 6 recorded ConverseStream bodies, found %zu\n", streams);
        return 1;
    }

    static const size_t invoke_pieces[] = {0, 1, 7};
    for (size_t p = 0; p < 3; p++) {
        size_t *piece = malloc(sizeof *piece);
        *piece = invoke_pieces[p];
        char name[64];
        snprintf(name, sizeof name, "invoke/reference_4_7_%s", p == 0 ? "whole" : p == 1 ? "1-byte" : "7-byte");
        test_list_add(&l, name, test_invoke_stream, piece);
    }
    test_list_add(&l, "invoke/metrics_fill_missing_usage", test_invoke_metrics_fill_missing_usage, NULL);
    test_list_add(&l, "invoke/redacted_citations_empty_input", test_invoke_other_blocks_and_citations, NULL);
    test_list_add(&l, "converse/redacted_bytes_and_refusal", test_converse_redacted_and_stop_mapping, NULL);
    test_list_add(&l, "errors/exception_frames_typed", test_exception_frames, NULL);
    test_list_add(&l, "errors/error_frame", test_error_frame, NULL);
    test_list_add(&l, "errors/exception_after_content_partial", test_exception_after_content_keeps_partial, NULL);
    test_list_add(&l, "errors/truncated_streams", test_truncated_streams, NULL);
    test_list_add(&l, "errors/bad_crc_names_offset", test_bad_crc_names_offset, NULL);
    test_list_add(&l, "errors/protocol_errors", test_protocol_errors, NULL);
    test_list_add(&l, "reset_reuses", test_reset_reuses, NULL);
    return test_list_run("bedrock_stream", &l);
}
