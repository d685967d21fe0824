/* End-to-end tests of the Bedrock client (src/bedrock/bedrock_client.c,
 * bedrock_counttokens.c) through aws_client_send against the loopback fake
 * server: the four operations on the wire, retries of HTTP errors and of
 * streams that fail before any content, partial results after output began,
 * truncation and bad CRCs, errors with a fix in them, region failover, API
 * keys, CountTokens and its estimate, the cancel flag, and no secret in any
 * message. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/eventstream.h"
#include "../../src/aws/sigv4.h"
#include "../../src/bedrock/bedrock.h"
#include "../../src/bedrock/bedrock_wire.h"
#include "../../src/util/codec.h"
#include "../../src/util/timeutil.h"
#include "../support/fakesrv.h"

#define AKID "AKIDBROCKTESTBEDROCK"
#define SECRET "SecretBrockDistinctive/K7MDENG+bPxRfiCYEXAMPLE"
#define TOKEN "TokenBrockDistinctiveSessionValue0123456789"
#define BEARER "bedrock-api-key-BearerBrockDistinctiveValue42"
#define PROFILE_ID "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
#define PROFILE_PATH "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
#define ES_HEADERS "Content-Type: application/vnd.amazon.eventstream\r\nx-amzn-RequestId: rid-stream\r\n"

/* ---- fixture -------------------------------------------------------------------------- */

struct fake_time {
    int64_t now_ms, slept_ms;
    int sleeps;
};
static int64_t ft_now(void *ctx)
{
    return ((struct fake_time *)ctx)->now_ms;
}
static void ft_sleep(void *ctx, int64_t ms)
{
    struct fake_time *t = ctx;
    t->now_ms += ms;
    t->slept_ms += ms;
    t->sleeps++;
}
static double half(void *ctx)
{
    (void)ctx;
    return 0.5;
}
static const char *no_env(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

struct creds_count {
    struct aws_credentials *c;
    int gets;
};
static enum brock_status cc_get(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    (void)e;
    struct creds_count *cc = ctx;
    cc->gets++;
    *out = aws_credentials_acquire(cc->c);
    return BROCK_OK;
}

struct fixture {
    struct fakesrv *srv, *srv2;
    struct fake_time t;
    struct clock clk;
    struct retry_policy *retry;
    struct creds_count creds;
    struct endpoint_lookup lk;
    volatile sig_atomic_t cancel;
    struct model_client *mc;
    char notes[8][512];
    int nnotes;
    struct buf text;
    int cancel_after_text; /* set the cancel flag on this text callback (0 = never) */
    int texts;
};

static void on_retry(void *ctx, const char *why)
{
    struct fixture *f = ctx;
    if (f->nnotes < 8)
        snprintf(f->notes[f->nnotes], sizeof f->notes[0], "%s", why);
    f->nnotes++;
}
static void on_text(void *ctx, int index, const char *p, size_t n)
{
    (void)index;
    struct fixture *f = ctx;
    buf_add(&f->text, p, n);
    if (f->cancel_after_text && ++f->texts >= f->cancel_after_text)
        f->cancel = 1;
}

static void fixture_client(struct fixture *f, const char *bearer, const char *url1, const char *url2)
{
    model_client_free(f->mc);
    struct bedrock_region regions[2] = {{"us-west-2", url1}, {"us-east-1", url2}};
    struct bedrock_config cfg = {
        .regions = regions,
        .n_regions = url2 ? 2 : 1,
        .creds = {cc_get, NULL, &f->creds},
        .bearer_token = bearer,
        .retry = f->retry,
        .http = {.cancel = &f->cancel},
        .lookup = &f->lk,
        .clock = &f->clk,
    };
    f->mc = bedrock_client_new(&cfg);
}

static void fixture_start(struct fixture *f, const char *bearer)
{
    memset(f, 0, sizeof *f);
    f->srv = fakesrv_start(NULL);
    f->srv2 = fakesrv_start(NULL);
    f->t.now_ms = 1735689600000LL;
    f->clk = (struct clock){.now_ms = ft_now, .sleep_ms = ft_sleep, .ctx = &f->t};
    struct retry_config rc;
    retry_config_init(&rc);
    rc.clock = &f->clk;
    rc.random = half;
    f->retry = retry_policy_new(&rc);
    f->creds.c = aws_credentials_new(AKID, SECRET, TOKEN, 0, "test");
    f->lk = (struct endpoint_lookup){.getenv = no_env};
    buf_init(&f->text, 1 << 20);
    fixture_client(f, bearer, fakesrv_url(f->srv), fakesrv_url(f->srv2));
}

static void fixture_stop(struct fixture *f)
{
    model_client_free(f->mc);
    retry_policy_free(f->retry);
    aws_credentials_release(f->creds.c);
    fakesrv_stop(f->srv);
    fakesrv_stop(f->srv2);
    buf_free(&f->text);
}

static struct model_events events(struct fixture *f)
{
    return (struct model_events){.on_text = on_text, .on_retry = on_retry, .ctx = f};
}

static void assert_no_secret(const char *s)
{
    assert_null(strstr(s, SECRET));
    assert_null(strstr(s, TOKEN));
    assert_null(strstr(s, "BearerBrockDistinctive"));
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' does not contain '%s'", hay, needle);
}

static void request_init(struct model_request *r, enum model_api api, bool stream)
{
    memset(r, 0, sizeof *r);
    r->model_id = PROFILE_ID;
    r->api = api;
    r->stream = stream;
    r->max_tokens = 256;
    r->temperature = MODEL_UNSET;
    r->top_p = MODEL_UNSET;
    r->top_k = MODEL_UNSET;
    r->messages = json_loads("[{\"role\":\"user\",\"content\":\"Hello\"}]", 0, NULL);
}

/* ---- stream bodies ---------------------------------------------------------------------- */

static void add_chunk(struct buf *out, const char *event_json)
{
    struct buf b64 = BUF_INIT(1 << 20), payload = BUF_INIT(1 << 20);
    assert_int_equal(base64_encode(&b64, event_json, strlen(event_json)), BROCK_OK);
    buf_addf(&payload, "{\"bytes\":\"%s\",\"p\":\"abcd\"}", buf_cstr(&b64));
    assert_int_equal(es_encode_event(out, "chunk", NULL, payload.ptr, payload.len, NULL), BROCK_OK);
    buf_free(&b64);
    buf_free(&payload);
}

static void add_event(struct buf *out, const char *type, const char *payload_json)
{
    assert_int_equal(es_encode_event(out, type, NULL, payload_json, strlen(payload_json), NULL), BROCK_OK);
}

static void add_exception(struct buf *out, const char *type, const char *message)
{
    char payload[256];
    snprintf(payload, sizeof payload, "{\"message\":\"%s\"}", message);
    assert_int_equal(es_encode_exception(out, type, NULL, payload, strlen(payload), NULL), BROCK_OK);
}

#define EV_START                                                                                                  \
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_e2e\",\"model\":\"claude-sonnet-4-5-20250929\","  \
    "\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}"
#define EV_TEXT_START "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"
#define EV_TEXT(t) "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" t "\"}}"
#define EV_TEXT_STOP "{\"type\":\"content_block_stop\",\"index\":0}"
#define EV_DELTA "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}"
#define EV_STOP "{\"type\":\"message_stop\"}"

/* A whole InvokeModelWithResponseStream answer: "Hello, world". */
static void good_stream(struct buf *out)
{
    add_chunk(out, EV_START);
    add_chunk(out, EV_TEXT_START);
    add_chunk(out, EV_TEXT("Hello"));
    add_chunk(out, EV_TEXT(", world"));
    add_chunk(out, EV_TEXT_STOP);
    add_chunk(out, EV_DELTA);
    add_chunk(out, EV_STOP);
}

static void push_stream(struct fakesrv *s, const struct buf *b, size_t piece)
{
    fakesrv_push(s, &(struct fakesrv_response){
                        .headers = ES_HEADERS, .body = b->ptr, .body_len = b->len, .chunked = true, .piece = piece});
}

static void push_json(struct fakesrv *s, int status, const char *headers, const char *body)
{
    fakesrv_push(s, &(struct fakesrv_response){.status = status, .headers = headers, .body = body});
}

/* ---- SigV4 on the wire -------------------------------------------------------------------- */

static bool lookup_secret(void *ctx, const char *akid, struct sigv4_secret *out)
{
    (void)ctx;
    if (strcmp(akid, AKID))
        return false;
    out->secret_access_key = SECRET;
    out->session_token = TOKEN;
    return true;
}

static void assert_signed(const struct fakesrv_request *r, int64_t now_s, const char *region)
{
    struct sigv4_header hs[64];
    size_t n = r->nheaders < 64 ? r->nheaders : 64;
    for (size_t i = 0; i < n; i++)
        hs[i] = (struct sigv4_header){r->headers[i].name, strlen(r->headers[i].name), r->headers[i].value,
                                      strlen(r->headers[i].value)};
    struct sigv4_request sr = {.method = r->method, .path = r->target, .path_len = strlen(r->target),
                               .headers = hs, .n_headers = n, .body = r->body, .body_len = r->body_len};
    struct sigv4_verify_params p = {.lookup = lookup_secret, .now_s = now_s};
    struct sigv4_verified v;
    struct sigv4_signer *s = sigv4_signer_new();
    struct brock_err e = {0};
    assert_int_equal(sigv4_verify(s, &sr, &p, &v, &e), BROCK_OK);
    sigv4_signer_free(s);
    assert_int_equal(v.verdict, SIGV4_VALID);
    assert_string_equal(v.service, "bedrock");
    assert_string_equal(v.region, region);
}

/* ---- the four operations ------------------------------------------------------------------ */

static void test_invoke_model(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 200, "Content-Type: application/json\r\nx-amzn-RequestId: rid-invoke\r\n",
              "{\"id\":\"msg_bdrk_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
              "\"content\":[{\"type\":\"text\",\"text\":\"Hi there\"}],\"stop_reason\":\"end_turn\","
              "\"usage\":{\"input_tokens\":9,\"output_tokens\":3}}");
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, false);
    req.extra = json_loads("{\"anthropic_beta\":[\"context-1m-2025-08-07\"]}", 0, NULL);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_OK);
    char *text = model_result_text(&r);
    assert_string_equal(text, "Hi there");
    free(text);
    assert_string_equal(r.stop_reason, "end_turn");
    assert_string_equal(r.message_id, "msg_bdrk_1");
    assert_string_equal(r.request_id, "rid-invoke");
    assert_string_equal(r.region, "us-west-2");
    assert_string_equal(r.model_id, PROFILE_ID);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.usage.input_tokens, 9);
    assert_true(r.latency_ms > 0);
    assert_false(r.partial);

    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->target, PROFILE_PATH "/invoke");
    assert_string_equal(fakesrv_header(q, "content-type"), "application/json");
    assert_string_equal(fakesrv_header(q, "accept"), "application/json");
    assert_null(fakesrv_header(q, "x-amzn-bedrock-accept"));
    assert_signed(q, f.t.now_ms / 1000, "us-west-2");
    json_t *body = json_loadb(q->body, q->body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "anthropic_version")), "bedrock-2023-05-31");
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 256);
    assert_non_null(json_object_get(body, "anthropic_beta"));
    assert_null(json_object_get(body, "model"));
    assert_null(json_object_get(body, "stream"));
    json_decref(body);
    assert_int_equal(fakesrv_request_count(f.srv2), 0);
    model_result_cleanup(&r);
    json_decref(req.messages);
    json_decref(req.extra);
    fixture_stop(&f);
}

static void test_converse_recorded(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    char *path = testdata_path("bedrock-recorded/extracted/test_bedrock_model/0.response.json");
    char *body = test_read_file(path, NULL);
    assert_non_null(body);
    push_json(f.srv, 200, "Content-Type: application/json\r\n", body);
    struct model_request req;
    request_init(&req, MODEL_API_CONVERSE, false);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_OK);
    json_t *doc = json_loads(body, 0, NULL);
    const char *want = json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(json_object_get(doc, "output"), "message"), "content"), 0),
        "text"));
    char *text = model_result_text(&r);
    assert_string_equal(text, want);
    free(text);
    assert_int_equal(r.usage.input_tokens, json_integer_value(json_object_get(json_object_get(doc, "usage"), "inputTokens")));
    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    assert_string_equal(q->target, PROFILE_PATH "/converse");
    assert_null(fakesrv_header(q, "x-amzn-bedrock-accept"));
    json_t *sent = json_loadb(q->body, q->body_len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(sent, "inferenceConfig"), "maxTokens")), 256);
    json_decref(sent);
    json_decref(doc);
    free(body);
    free(path);
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

static void test_invoke_stream(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct buf b = BUF_INIT(1 << 20);
    good_stream(&b);
    push_stream(f.srv, &b, 13);
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&f.text), "Hello, world");
    char *text = model_result_text(&r);
    assert_string_equal(text, "Hello, world");
    free(text);
    assert_string_equal(r.stop_reason, "end_turn");
    assert_string_equal(r.request_id, "rid-stream");
    assert_string_equal(r.message_id, "msg_bdrk_e2e");
    assert_int_equal(r.usage.output_tokens, 5);
    assert_true(r.ttft_ms > 0 && r.ttft_ms <= r.latency_ms);
    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    assert_string_equal(q->target, PROFILE_PATH "/invoke-with-response-stream");
    assert_string_equal(fakesrv_header(q, "x-amzn-bedrock-accept"), "application/json");
    assert_null(fakesrv_header(q, "accept"));
    assert_signed(q, f.t.now_ms / 1000, "us-west-2");
    assert_int_equal(f.nnotes, 0);
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    fixture_stop(&f);
}

static void test_converse_stream_recorded(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    char *path = testdata_path("bedrock-recorded/extracted/test_bedrock_model_thinking_part_stream/0.response.eventstream");
    size_t n;
    char *raw = test_read_file(path, &n);
    assert_non_null(raw);
    fakesrv_push(f.srv, &(struct fakesrv_response){.headers = ES_HEADERS, .body = raw, .body_len = n,
                                                   .chunked = true, .piece = 100});
    /* the expected text, from the decoded frames */
    char *dpath = testdata_path("bedrock-recorded/extracted/test_bedrock_model_thinking_part_stream/0.response.decoded.json");
    json_t *frames = json_load_file(dpath, 0, NULL);
    struct buf want = BUF_INIT(1 << 16);
    size_t i;
    json_t *fr;
    json_array_foreach(frames, i, fr)
    {
        json_t *t = json_object_get(json_object_get(json_object_get(fr, "payload"), "delta"), "text");
        if (json_is_string(t))
            buf_addstr(&want, json_string_value(t));
    }
    assert_true(want.len > 0);
    struct model_request req;
    request_init(&req, MODEL_API_CONVERSE, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&f.text), buf_cstr(&want));
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.content, 0), "type")), "thinking");
    assert_non_null(json_object_get(json_array_get(r.content, 0), "signature"));
    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    assert_string_equal(q->target, PROFILE_PATH "/converse-stream");
    assert_null(fakesrv_header(q, "accept"));
    assert_null(fakesrv_header(q, "x-amzn-bedrock-accept"));
    model_result_cleanup(&r);
    json_decref(req.messages);
    json_decref(frames);
    buf_free(&want);
    free(raw);
    free(path);
    free(dpath);
    fixture_stop(&f);
}

/* ---- retries ------------------------------------------------------------------------------- */

static const char *throttle_headers =
    "x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/\r\n"
    "x-amzn-RequestId: rid-thr\r\n";
static const char *throttle_body = "{\"message\":\"Too many requests, please wait before trying again.\"}";

static void test_http_throttling_then_success(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 429, throttle_headers, throttle_body);
    struct buf b = BUF_INIT(1 << 20);
    good_stream(&b);
    push_stream(f.srv, &b, 0);
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(f.t.slept_ms, 500);
    assert_string_equal(r.region, "us-west-2");
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    fixture_stop(&f);
}

static void test_exception_before_content_is_retried(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct buf bad = BUF_INIT(1 << 16), good = BUF_INIT(1 << 20);
    add_chunk(&bad, EV_START);
    add_exception(&bad, "throttlingException", "Too many tokens, please wait before trying again.");
    push_stream(f.srv, &bad, 0);
    good_stream(&good);
    push_stream(f.srv, &good, 0);
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(fakesrv_request_count(f.srv), 2);
    assert_string_equal(buf_cstr(&f.text), "Hello, world"); /* once, not twice */
    assert_int_equal(f.nnotes, 1);
    assert_contains(f.notes[0], "ThrottlingException in us-west-2 before any output (attempt 1); retrying in 500 ms");
    assert_int_equal(f.t.slept_ms, 500);
    assert_false(r.partial);
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&bad);
    buf_free(&good);
    fixture_stop(&f);
}

static void test_exception_after_content_is_partial(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct buf b = BUF_INIT(1 << 16), good = BUF_INIT(1 << 20);
    add_chunk(&b, EV_START);
    add_chunk(&b, EV_TEXT_START);
    add_chunk(&b, EV_TEXT("Hello"));
    add_exception(&b, "internalServerException", "The model failed mid-answer.");
    push_stream(f.srv, &b, 0);
    good_stream(&good);
    push_stream(f.srv, &good, 0); /* must not be asked for */
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_ERR_AWS);
    assert_true(r.partial);
    char *text = model_result_text(&r);
    assert_string_equal(text, "Hello");
    free(text);
    assert_string_equal(buf_cstr(&f.text), "Hello");
    assert_string_equal(e.aws_code, "InternalServerException");
    assert_int_equal(e.http_status, 500);
    assert_string_equal(e.request_id, "rid-stream");
    assert_contains(e.msg, "cut short after output began");
    assert_contains(e.msg, "The model failed mid-answer.");
    assert_no_secret(e.msg);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(fakesrv_pending(f.srv), 1);
    /* and no failover after output either, even for a 5xx */
    assert_int_equal(fakesrv_request_count(f.srv2), 0);
    assert_int_equal(f.nnotes, 0);
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    buf_free(&good);
    fixture_stop(&f);
}

static void test_truncated_streams(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);

    /* after content: an error, with what arrived */
    struct buf b = BUF_INIT(1 << 16);
    add_chunk(&b, EV_START);
    add_chunk(&b, EV_TEXT_START);
    add_chunk(&b, EV_TEXT("Hel"));
    push_stream(f.srv, &b, 0);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_ERR_NETWORK);
    assert_true(r.partial);
    char want[96];
    snprintf(want, sizeof want, "stream ended early after %zu bytes: no message_stop", b.len);
    assert_contains(e.msg, want);
    assert_int_equal(r.attempts, 1);

    /* the connection dropped mid-frame after content */
    size_t cut = b.len + 20;
    add_chunk(&b, EV_TEXT_STOP);
    fakesrv_push(f.srv, &(struct fakesrv_response){.headers = ES_HEADERS, .body = b.ptr, .body_len = b.len,
                                                   .chunked = true, .piece = 40, .drop = true, .drop_after = cut});
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_ERR_NETWORK);
    assert_true(r.partial);
    assert_contains(e.msg, "stream ended early");
    assert_int_equal(r.attempts, 1);
    assert_int_equal(fakesrv_pending(f.srv), 0);

    /* before any content, every time: retried, then given up */
    buf_reset(&b);
    add_chunk(&b, EV_START);
    for (int i = 0; i < 3; i++)
        push_stream(f.srv, &b, 0);
    f.nnotes = 0;
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_ERR_NETWORK);
    assert_false(r.partial);
    assert_int_equal(r.attempts, 3);
    assert_contains(e.msg, "giving up after 3 attempts");
    assert_contains(e.msg, "no message_stop");
    assert_int_equal(f.nnotes, 2);
    /* a network error is not a reason to change region */
    assert_int_equal(fakesrv_request_count(f.srv2), 0);
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    fixture_stop(&f);
}

static void test_bad_crc(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct buf b = BUF_INIT(1 << 16);
    add_chunk(&b, EV_START);
    add_chunk(&b, EV_TEXT_START);
    add_chunk(&b, EV_TEXT("Hi"));
    size_t at = b.len;
    add_chunk(&b, EV_TEXT(" again"));
    b.ptr[at + b.len / 20 + 30] ^= 0x40; /* inside the last frame */
    push_stream(f.srv, &b, 0);
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_PARSE);
    char want[48];
    snprintf(want, sizeof want, "message at offset %zu", at);
    assert_contains(e.msg, want);
    assert_contains(e.msg, "CRC");
    assert_true(r.partial);
    char *text = model_result_text(&r);
    assert_string_equal(text, "Hi");
    free(text);
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    fixture_stop(&f);
}

static void test_stream_answered_with_json(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 200, "Content-Type: application/json\r\n", "{\"output\":{}}");
    struct model_request req;
    request_init(&req, MODEL_API_CONVERSE, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_PARSE);
    assert_contains(e.msg, "ConverseStream answered HTTP 200 with Content-Type 'application/json' instead of an event "
                           "stream");
    assert_int_equal(r.attempts, 1);
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

/* ---- errors a person can act on ------------------------------------------------------------- */

static void test_access_denied(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 403, "x-amzn-ErrorType: AccessDeniedException\r\nx-amzn-RequestId: rid-denied\r\n",
              "{\"message\":\"You don't have access to the model with the specified model ID.\"}");
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_AUTH);
    assert_string_equal(e.aws_code, "AccessDeniedException");
    assert_string_equal(e.request_id, "rid-denied");
    assert_int_equal(e.http_status, 403);
    assert_contains(e.msg, "You don't have access");
    assert_contains(e.msg, "Model " PROFILE_ID " in us-west-2");
    assert_contains(e.msg, "Bedrock console (Model access) for us-west-2");
    assert_contains(e.msg, "bedrock:InvokeModelWithResponseStream");
    assert_no_secret(e.msg);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(fakesrv_request_count(f.srv2), 0);
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

static void test_on_demand_suggests_profile(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 400, "x-amzn-ErrorType: ValidationException\r\n",
              "{\"message\":\"Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand "
              "throughput isn\\u2019t supported. Retry your request with the ID or ARN of an inference profile that "
              "contains this model.\"}");
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, false);
    req.model_id = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "ValidationException");
    assert_contains(e.msg, "Use the inference profile id us.anthropic.claude-sonnet-4-5-20250929-v1:0 in us-west-2");
    assert_string_equal(fakesrv_request(f.srv, 0)->target, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke");
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

static void test_invalid_model_recorded(void **state)
{
    (void)state;
    static const char *const cassettes[] = {"test_bedrock_error", "test_bedrock_streaming_error"};
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        fixture_start(&f, NULL);
        char rel[128];
        snprintf(rel, sizeof rel, "bedrock-recorded/extracted/%s/0.response.json", cassettes[i]);
        char *path = testdata_path(rel);
        char *body = test_read_file(path, NULL);
        assert_non_null(body);
        push_json(f.srv, 400, "Content-Type: application/json\r\n", body);
        struct model_request req;
        request_init(&req, MODEL_API_CONVERSE, i == 1);
        req.model_id = "us.does-not-exist-model-v1:0";
        struct model_result r;
        model_result_init(&r);
        struct brock_err e = {0};
        assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_AWS);
        assert_int_equal(e.http_status, 400);
        assert_contains(e.msg, "The provided model identifier is invalid.");
        assert_contains(e.msg, "Model id 'us.does-not-exist-model-v1:0' is not valid in us-west-2; run `brock models`");
        assert_string_equal(fakesrv_request(f.srv, 0)->target,
                            i ? "/model/us.does-not-exist-model-v1%3A0/converse-stream"
                              : "/model/us.does-not-exist-model-v1%3A0/converse");
        assert_int_equal(r.attempts, 1);
        model_result_cleanup(&r);
        json_decref(req.messages);
        free(body);
        free(path);
        fixture_stop(&f);
    }
}

static void test_resource_not_found(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 404, "x-amzn-ErrorType: ResourceNotFoundException\r\n", "{\"message\":\"Model not found.\"}");
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, false);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_AWS);
    assert_contains(e.msg, "Model " PROFILE_ID " was not found in us-west-2");
    assert_contains(e.msg, "brock models");
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

/* ---- region failover ------------------------------------------------------------------------ */

static void test_failover_after_throttling(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    for (int i = 0; i < 3; i++)
        push_json(f.srv, 429, throttle_headers, throttle_body);
    struct buf b = BUF_INIT(1 << 20);
    good_stream(&b);
    push_stream(f.srv2, &b, 0);
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "us-east-1");
    assert_int_equal(r.attempts, 4);
    assert_int_equal(f.nnotes, 1);
    assert_string_equal(f.notes[0], "ThrottlingException in us-west-2 after 3 attempts; trying us-east-1");
    assert_int_equal(fakesrv_request_count(f.srv2), 1);
    assert_signed(fakesrv_request(f.srv2, 0), f.t.now_ms / 1000, "us-east-1");
    assert_string_equal(buf_cstr(&f.text), "Hello, world");
    model_result_cleanup(&r);

    /* the second region's client is kept: the next call that fails over reuses it */
    for (int i = 0; i < 3; i++)
        push_json(f.srv, 503, "x-amzn-ErrorType: ServiceUnavailableException\r\n", "{\"message\":\"down\"}");
    push_stream(f.srv2, &b, 0);
    f.nnotes = 0;
    model_result_init(&r);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "us-east-1");
    assert_string_equal(f.notes[0], "ServiceUnavailableException in us-west-2 after 3 attempts; trying us-east-1");
    assert_int_equal(fakesrv_accepts(f.srv2), 1); /* the same connection */
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    fixture_stop(&f);
}

static void test_failover_after_stream_exceptions(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct buf bad = BUF_INIT(1 << 16), good = BUF_INIT(1 << 20);
    add_event(&bad, "messageStart", "{\"role\":\"assistant\"}");
    add_exception(&bad, "throttlingException", "Too many tokens, please wait before trying again.");
    for (int i = 0; i < 3; i++)
        push_stream(f.srv, &bad, 0);
    add_event(&good, "messageStart", "{\"role\":\"assistant\"}");
    add_event(&good, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Bonjour\"}}");
    add_event(&good, "contentBlockStop", "{\"contentBlockIndex\":0}");
    add_event(&good, "messageStop", "{\"stopReason\":\"end_turn\"}");
    add_event(&good, "metadata", "{\"usage\":{\"inputTokens\":1,\"outputTokens\":2},\"metrics\":{\"latencyMs\":5}}");
    push_stream(f.srv2, &good, 0);
    struct model_request req;
    request_init(&req, MODEL_API_CONVERSE, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "us-east-1");
    assert_int_equal(r.attempts, 4);
    assert_int_equal(f.nnotes, 3); /* two retries, one failover */
    assert_contains(f.notes[1], "attempt 2");
    assert_string_equal(f.notes[2], "ThrottlingException in us-west-2 after 3 attempts; trying us-east-1");
    assert_string_equal(buf_cstr(&f.text), "Bonjour");
    for (int i = 0; i < 3; i++)
        assert_no_secret(f.notes[i]);
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&bad);
    buf_free(&good);
    fixture_stop(&f);
}

static void test_no_failover_for_client_errors(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 400, "x-amzn-ErrorType: ValidationException\r\n", "{\"message\":\"Malformed input request\"}");
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, false);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_ERR_AWS);
    assert_int_equal(fakesrv_request_count(f.srv2), 0);
    assert_int_equal(f.nnotes, 0);
    /* and all regions throttled: the last error stands */
    for (int i = 0; i < 3; i++) {
        push_json(f.srv, 429, throttle_headers, throttle_body);
        push_json(f.srv2, 429, throttle_headers, throttle_body);
    }
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_ERR_THROTTLED);
    assert_string_equal(r.region, "us-east-1");
    assert_int_equal(r.attempts, 6);
    assert_contains(e.msg, "Too many requests");
    assert_no_secret(e.msg);
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

/* ---- API keys -------------------------------------------------------------------------------- */

static void test_bearer_key(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, BEARER);
    struct buf b = BUF_INIT(1 << 20);
    good_stream(&b);
    push_stream(f.srv, &b, 0);
    push_json(f.srv, 403, "x-amzn-ErrorType: AccessDeniedException\r\n",
              "{\"message\":\"Authentication failed: Bearer " BEARER "\"}");
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_OK);
    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    assert_string_equal(fakesrv_header(q, "authorization"), "Bearer " BEARER);
    assert_null(fakesrv_header(q, "x-amz-date"));
    assert_null(fakesrv_header(q, "x-amz-security-token"));
    assert_int_equal(f.creds.gets, 0);
    /* an error that echoes the key never shows it */
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_AUTH);
    assert_no_secret(e.msg);
    assert_contains(e.msg, "Authentication failed: Bearer [redacted]");
    /* and a key that is not ours but looks like one */
    push_json(f.srv, 403, "x-amzn-ErrorType: AccessDeniedException\r\n",
              "{\"message\":\"bad key bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t, try again\"}");
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_AUTH);
    assert_contains(e.msg, "bad key bedrock-api-key-[redacted], try again");
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    fixture_stop(&f);
}

/* ---- CountTokens ----------------------------------------------------------------------------- */

static void test_count_tokens(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    push_json(f.srv, 200, "Content-Type: application/json\r\n", "{\"inputTokens\":1234}");
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    int64_t n = -1;
    bool est = true;
    struct brock_err e = {0};
    assert_int_equal(model_count_tokens(f.mc, &req, &n, &est, &e), BROCK_OK);
    assert_int_equal(n, 1234);
    assert_false(est);
    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    /* the profile id maps to its foundation model */
    assert_string_equal(q->target, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens");
    json_t *sent = json_loadb(q->body, q->body_len, 0, NULL);
    const char *b64 = json_string_value(
        json_object_get(json_object_get(json_object_get(sent, "input"), "invokeModel"), "body"));
    assert_non_null(b64);
    struct buf dec = BUF_INIT(1 << 16);
    assert_int_equal(base64_decode(&dec, b64, strlen(b64)), BROCK_OK);
    json_t *inner = json_loads(buf_cstr(&dec), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(inner, "anthropic_version")), "bedrock-2023-05-31");
    json_decref(inner);
    json_decref(sent);
    buf_free(&dec);

    /* the converse form */
    req.api = MODEL_API_CONVERSE;
    push_json(f.srv, 200, NULL, "{\"inputTokens\":7}");
    assert_int_equal(model_count_tokens(f.mc, &req, &n, &est, &e), BROCK_OK);
    assert_int_equal(n, 7);
    sent = json_loadb(fakesrv_request(f.srv, 1)->body, fakesrv_request(f.srv, 1)->body_len, 0, NULL);
    assert_non_null(json_object_get(json_object_get(json_object_get(sent, "input"), "converse"), "messages"));
    json_decref(sent);
    json_decref(req.messages);
    fixture_stop(&f);
}

static void test_count_tokens_fallback(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, false);
    int64_t want = bedrock_estimate_tokens(&req), n;
    bool est;
    struct brock_err e = {0};
    static const struct {
        int status;
        const char *headers, *body;
    } unavailable[] = {
        {403, "x-amzn-ErrorType: AccessDeniedException\r\n", "{\"message\":\"not authorized to perform: bedrock:CountTokens\"}"},
        {404, "x-amzn-ErrorType: ResourceNotFoundException\r\n", "{\"message\":\"no such model\"}"},
        {400, "x-amzn-ErrorType: ValidationException\r\n", "{\"message\":\"The provided model doesn't support counting tokens.\"}"},
        {400, "x-amzn-ErrorType: ValidationException\r\n", "{\"message\":\"CountTokens is not supported for this model\"}"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(unavailable); i++) {
        push_json(f.srv, unavailable[i].status, unavailable[i].headers, unavailable[i].body);
        n = -1;
        est = false;
        assert_int_equal(model_count_tokens(f.mc, &req, &n, &est, &e), BROCK_OK);
        assert_true(est);
        assert_int_equal(n, want);
    }
    /* a request that is wrong is an error, not an estimate */
    push_json(f.srv, 400, "x-amzn-ErrorType: ValidationException\r\n", "{\"message\":\"Malformed input request\"}");
    assert_int_equal(model_count_tokens(f.mc, &req, &n, &est, &e), BROCK_ERR_AWS);
    assert_false(est);
    assert_contains(e.msg, "Malformed input request");

    /* nothing listening: estimate */
    struct fakesrv *dead = fakesrv_start(NULL);
    char url[64];
    snprintf(url, sizeof url, "%s", fakesrv_url(dead));
    fakesrv_stop(dead);
    fixture_client(&f, NULL, url, NULL);
    assert_int_equal(model_count_tokens(f.mc, &req, &n, &est, &e), BROCK_OK);
    assert_true(est);
    assert_int_equal(n, want);
    json_decref(req.messages);
    fixture_stop(&f);
}

/* ---- cancel ------------------------------------------------------------------------------------- */

static void test_cancel_stops_slow_stream(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct buf b = BUF_INIT(1 << 20);
    add_chunk(&b, EV_START);
    add_chunk(&b, EV_TEXT_START);
    for (int i = 0; i < 40; i++)
        add_chunk(&b, EV_TEXT("tick "));
    add_chunk(&b, EV_STOP);
    size_t frame = b.len / 43;
    fakesrv_push(f.srv, &(struct fakesrv_response){.headers = ES_HEADERS, .body = b.ptr, .body_len = b.len,
                                                   .chunked = true, .piece = frame, .piece_delay_ms = 100});
    f.cancel_after_text = 2;
    struct model_request req;
    request_init(&req, MODEL_API_MESSAGES, true);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    struct model_events ev = events(&f);
    int64_t t0 = time_mono_ms();
    assert_int_equal(model_invoke(f.mc, &req, &ev, &r, &e), BROCK_ERR_INTERRUPTED);
    int64_t took = time_mono_ms() - t0;
    assert_true(took < 2000); /* the whole stream would take over 4 s */
    assert_true(r.partial);
    char *text = model_result_text(&r);
    assert_true(strlen(text) >= 10 && strlen(text) < 200);
    free(text);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(fakesrv_request_count(f.srv2), 0);
    model_result_cleanup(&r);
    json_decref(req.messages);
    buf_free(&b);
    fixture_stop(&f);
}

static void test_bad_request_is_usage(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct model_request req;
    request_init(&req, MODEL_API_CONVERSE, false);
    json_decref(req.messages);
    req.messages = json_loads("[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"url\","
                              "\"url\":\"https://example.com/a.png\"}}]}]",
                              0, NULL);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_USAGE);
    assert_contains(e.msg, "image source type 'url'");
    assert_int_equal(fakesrv_request_count(f.srv), 0);
    req.model_id = "";
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_USAGE);
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

/* ---- settings as the source of region, API key and endpoint lookup ---------------------------- */

static void test_settings_defaults(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL);
    struct aws_settings st;
    memset(&st, 0, sizeof st);
    snprintf(st.region.region, sizeof st.region.region, "eu-west-1");
    st.lookup.getenv = no_env;
    char key[] = BEARER;
    st.bearer_token = key;
    model_client_free(f.mc);
    struct bedrock_config cfg = {.settings = &st, .endpoint_url = fakesrv_url(f.srv), .retry = f.retry,
                                 .clock = &f.clk};
    f.mc = bedrock_client_new(&cfg);
    push_json(f.srv, 400, "x-amzn-ErrorType: ValidationException\r\n",
              "{\"message\":\"Invocation of model ID anthropic.claude-haiku-4-5-20251001-v1:0 with on-demand "
              "throughput isn't supported.\"}");
    struct model_request req;
    request_init(&req, MODEL_API_CONVERSE, false);
    req.model_id = "anthropic.claude-haiku-4-5-20251001-v1:0";
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    assert_int_equal(model_invoke(f.mc, &req, NULL, &r, &e), BROCK_ERR_AWS);
    assert_string_equal(r.region, "eu-west-1");
    /* the profile for the settings' region */
    assert_contains(e.msg, "Use the inference profile id eu.anthropic.claude-haiku-4-5-20251001-v1:0 in eu-west-1");
    assert_string_equal(fakesrv_header(fakesrv_request(f.srv, 0), "authorization"), "Bearer " BEARER);
    assert_no_secret(e.msg);
    model_result_cleanup(&r);
    json_decref(req.messages);
    fixture_stop(&f);
}

int main(void)
{
    test_init();
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invoke_model),
        cmocka_unit_test(test_converse_recorded),
        cmocka_unit_test(test_invoke_stream),
        cmocka_unit_test(test_converse_stream_recorded),
        cmocka_unit_test(test_http_throttling_then_success),
        cmocka_unit_test(test_exception_before_content_is_retried),
        cmocka_unit_test(test_exception_after_content_is_partial),
        cmocka_unit_test(test_truncated_streams),
        cmocka_unit_test(test_bad_crc),
        cmocka_unit_test(test_stream_answered_with_json),
        cmocka_unit_test(test_access_denied),
        cmocka_unit_test(test_on_demand_suggests_profile),
        cmocka_unit_test(test_invalid_model_recorded),
        cmocka_unit_test(test_resource_not_found),
        cmocka_unit_test(test_failover_after_throttling),
        cmocka_unit_test(test_failover_after_stream_exceptions),
        cmocka_unit_test(test_no_failover_for_client_errors),
        cmocka_unit_test(test_bearer_key),
        cmocka_unit_test(test_count_tokens),
        cmocka_unit_test(test_count_tokens_fallback),
        cmocka_unit_test(test_cancel_stops_slow_stream),
        cmocka_unit_test(test_bad_request_is_usage),
        cmocka_unit_test(test_settings_defaults),
    };
    int rc = cmocka_run_group_tests_name("bedrock_client", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
