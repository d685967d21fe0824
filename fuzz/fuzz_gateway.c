/* fuzz_gateway.c - the gateway's readers of outside input, on arbitrary bytes.
 *
 * The first byte picks what the rest is:
 *   0  a keys file (--keys-file)
 *   1  a --key TOKEN=USER[/PROJECT] spec (NUL-terminated copy)
 *   2  a request path (the route and the decoded model id)
 *   3..8  a request body for invoke, invoke-stream, converse, converse-stream,
 *      count-tokens with one of several models (second byte): the
 *      translation per model, then its output translated again
 *   9, 10  an answer body (Messages / Converse): usage and stop facts; and
 *      the same bytes as GetInferenceProfile's answer (a profile's model)
 *   11, 12  an upstream event stream (invoke-stream / converse-stream) fed in
 *      pieces as the worker does: frames decoded, usage read per event; and
 *      the same bytes as one decoded event
 * Broken invariants trap: errors name the input and never quote a token,
 * translation keeps a JSON object and is idempotent, counts stay sane, and
 * the scanner's answers (translation, usage) are the jansson path's. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/eventstream.h"
#include "../src/bedrock/bedrock.h"
#include "../src/bedrock/catalog.h"
#include "../src/server/gateway.h"
#include "../src/server/gateway_int.h"
#include "../src/util/alloc.h"
#include "../src/util/buf.h"
#include "../src/util/codec.h"

#include "fuzz.h"

static const char *const models[] = {
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "global.anthropic.claude-opus-4-6-v1",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdefghijkl",
    "",
    "us.anthropic.claude-opus-4-7",
    "us.anthropic.claude-opus-5-5",
};

static void fuzz_keys(const char *p, size_t n)
{
    struct gateway_keys k = {0};
    struct brock_err e = {0};
    enum brock_status st = gateway_keys_parse(&k, p, n, "fuzz", &e);
    if (st == BROCK_OK) {
        for (size_t i = 0; i < k.n; i++) {
            CHECK(k.v[i].user && *k.v[i].user);
            CHECK(k.v[i].project);
            CHECK(!k.v[i].token != !k.v[i].access_key_id);
            CHECK(k.v[i].daily_usd >= 0 && k.v[i].monthly_usd >= 0);
        }
    } else {
        CHECK(k.n == 0);
        CHECK(!strncmp(e.msg, "fuzz", 4));
    }
    gateway_keys_free(&k);
}

static void fuzz_spec(const char *p, size_t n)
{
    char *s = xstrndup(p, n);
    struct gateway_keys k = {0};
    struct brock_err e = {0};
    if (gateway_keys_add_spec(&k, s, &e) == BROCK_OK) {
        CHECK(k.n == 1 && strlen(k.v[0].token) >= GATEWAY_MIN_TOKEN);
    } else {
        CHECK(k.n == 0);
        const char *eq = strrchr(s, '=');
        /* the token (what is before '=') is never quoted */
        if (eq && eq - s >= 8) {
            char *tok = xstrndup(s, (size_t)(eq - s));
            CHECK(!strstr(e.msg, tok));
            free(tok);
        }
    }
    gateway_keys_free(&k);
    free(s);
}

static void fuzz_route(const char *p, size_t n)
{
    char *s = xstrndup(p, n);
    char model[2049];
    enum gateway_op op = gateway_route(s, model, sizeof model);
    if (op != GATEWAY_OP_NONE) {
        CHECK(op >= GATEWAY_OP_INVOKE && op <= GATEWAY_OP_COUNT_TOKENS);
        CHECK(*model && strlen(model) < sizeof model);
    }
    free(s);
}

static bool same_usage(const struct gateway_usage *a, const struct gateway_usage *b)
{
    return a->input == b->input && a->output == b->output && a->cache_read == b->cache_read &&
           a->cache_write == b->cache_write && a->tool_use == b->tool_use && a->complete == b->complete &&
           !strcmp(a->stop_reason, b->stop_reason);
}

/* Both outputs NULL, or the same JSON. */
static bool same_json(const char *a, size_t an, const char *b, size_t bn)
{
    if (!a || !b)
        return !a && !b;
    json_t *x = json_loadb(a, an, 0, NULL), *y = json_loadb(b, bn, 0, NULL);
    bool same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

static void fuzz_translate(enum gateway_op op, const char *model, const char *p, size_t n)
{
    char *out = NULL, *slow = NULL;
    size_t len = 0, slen = 0;
    struct gateway_body_info info, si;
    gateway_translate(op, model, p, n, &out, &len, &info);
    CHECK(strlen(info.changes) < sizeof info.changes);
    if (op != GATEWAY_OP_COUNT_TOKENS) { /* the fast scanner and jansson agree (CountTokens: jansson only) */
        gw_translate_json(op, model, p, n, &slow, &slen, &si);
        CHECK(info.parsed == si.parsed && info.deterministic == si.deterministic &&
              info.tool_results == si.tool_results);
        CHECK(!strcmp(info.session, si.session) && !strcmp(info.changes, si.changes));
        CHECK(same_json(out, len, slow, slen));
        free(slow);
    }
    if (!out)
        return;
    CHECK(info.parsed && info.changes[0]);
    json_t *v = json_loadb(out, len, 0, NULL);
    CHECK(json_is_object(v));
    json_decref(v);
    /* translating again changes nothing more */
    char *again = NULL;
    size_t alen = 0;
    struct gateway_body_info i2;
    gateway_translate(op, model, out, len, &again, &alen, &i2);
    CHECK(!again);
    CHECK(i2.deterministic == info.deterministic && i2.tool_results == info.tool_results);
    free(out);
}

static void fuzz_stream(enum gateway_op op, const uint8_t *p, size_t n)
{
    struct es_decoder *d = es_decoder_new();
    struct gateway_usage u = {0}, ju = {0};
    struct brock_err e = {0};
    size_t at = 0;
    bool failed = false;
    while (at < n && !failed) {
        size_t piece = 1 + (p[at] % 97);
        if (piece > n - at)
            piece = n - at;
        if (es_decoder_feed(d, p + at, piece, &e) != BROCK_OK)
            break;
        for (;;) {
            struct es_message m;
            bool got = false;
            if (es_decoder_next(d, &m, &got, &e) != BROCK_OK) {
                failed = true;
                break;
            }
            if (!got)
                break;
            struct es_str et = es_message_event_type(&m);
            if (et.p) {
                gateway_usage_from_event(op, et.p, et.len, m.payload, m.payload_len, &u);
                gw_usage_from_event_json(op, et.p, et.len, m.payload, m.payload_len, &ju);
            }
        }
        at += piece;
    }
    CHECK(strlen(u.stop_reason) < sizeof u.stop_reason);
    CHECK(same_usage(&u, &ju));
    es_decoder_free(d);
}

/* The same bytes as one event's decoded payload, read by both paths. */
static void fuzz_event(enum gateway_op op, const uint8_t *p, size_t n)
{
    struct gateway_usage u = {0}, ju = {0};
    if (op == GATEWAY_OP_INVOKE_STREAM) {
        struct buf b64 = BUF_INIT(4 * n + 64), payload = BUF_INIT(4 * n + 128);
        (void)base64_encode(&b64, p, n);
        (void)buf_addf(&payload, "{\"bytes\":\"%s\",\"p\":\"abcd\"}", buf_cstr(&b64));
        gateway_usage_from_event(op, "chunk", 5, (const uint8_t *)payload.ptr, payload.len, &u);
        gw_usage_from_event_json(op, "chunk", 5, (const uint8_t *)payload.ptr, payload.len, &ju);
        buf_free(&b64);
        buf_free(&payload);
    } else if (n) {
        static const char *const types[] = {"metadata", "messageStop", "contentBlockStart", "messageStart"};
        const char *et = types[p[0] % 4];
        gateway_usage_from_event(op, et, strlen(et), p + 1, n - 1, &u);
        gw_usage_from_event_json(op, et, strlen(et), p + 1, n - 1, &ju);
    }
    CHECK(same_usage(&u, &ju));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 13) {
    case 0: fuzz_keys(p, n); break;
    case 1: fuzz_spec(p, n); break;
    case 2: fuzz_route(p, n); break;
    case 3: case 4: case 5: case 6: case 7: case 8: {
        static const enum gateway_op ops[] = {GATEWAY_OP_INVOKE,          GATEWAY_OP_INVOKE_STREAM,
                                              GATEWAY_OP_CONVERSE,        GATEWAY_OP_CONVERSE_STREAM,
                                              GATEWAY_OP_COUNT_TOKENS,    GATEWAY_OP_INVOKE};
        const char *model = models[(unsigned char)p[0] % (sizeof models / sizeof models[0])];
        fuzz_translate(ops[data[0] % 13 - 3], model, p + 1, n - 1);
        break;
    }
    case 9:
    case 10: {
        struct gateway_usage u = {0}, ju = {0};
        enum gateway_op op = data[0] % 13 == 9 ? GATEWAY_OP_INVOKE : GATEWAY_OP_CONVERSE;
        gateway_usage_from_answer(op, p, n, &u);
        CHECK(strlen(u.stop_reason) < sizeof u.stop_reason);
        gw_usage_from_answer_json(op, p, n, &ju);
        CHECK(same_usage(&u, &ju));
        const struct model_info *pm = bedrock_profile_model(p, n);
        size_t nm;
        const struct model_info *all = catalog_models(&nm);
        CHECK(!pm || (pm >= all && pm < all + nm));
        break;
    }
    default:
        fuzz_stream(data[0] % 13 == 11 ? GATEWAY_OP_INVOKE_STREAM : GATEWAY_OP_CONVERSE_STREAM, data + 1, n);
        fuzz_event(data[0] % 13 == 11 ? GATEWAY_OP_INVOKE_STREAM : GATEWAY_OP_CONVERSE_STREAM, data + 1, n);
        break;
    }
    return 0;
}
