/* Tests for src/server/emulator*: the local Bedrock Runtime, driven in-process
 * with libcurl (HTTP/1.1 and h2c) and brock's own SigV4 signer and Bedrock
 * API-key minting: every route, the answers (checked by decoding the event
 * streams with the event-stream decoder: CRCs, headers, event order), Bedrock's
 * validation, authentication failures, STS, faults, scenarios, emulated
 * prompt caching, the control endpoints and the request log, and that no
 * secret ever reaches a log line, an answer or the request log.
 *
 * The recorded real Bedrock traffic in the shared test data
 * (bedrock-recorded/) is the reference for shapes: every recorded request is
 * accepted, every recorded stream's event sequence, frame headers and payload
 * fields are reproduced, and the recorded error is answered byte for byte. */
#define EMULATOR_INTERNAL
#include "../support/test.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../src/aws/bearer.h"
#include "../../src/aws/credentials.h"
#include "../../src/aws/crypto.h"
#include "../../src/aws/eventstream.h"
#include "../../src/aws/sigv4.h"
#include "../../src/server/emulator.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"
#include "../../src/util/codec.h"
#include "../../src/util/log.h"
#include "../../src/util/timeutil.h"

#define EX_AKID "AKIDEXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EX2_AKID "AKIAIOSFODNN7EXAMPLE"
#define EX2_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SONNET "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
#define SONNET_BASE "anthropic.claude-sonnet-4-5-20250929-v1:0"
#define RECORDED "bedrock-recorded/extracted"

/* Secrets used below; none may ever show up in a log line or an answer. */
#define TOKEN_SECRET "FQoGZXIvYXdzEBogSessionTokenSecretValue0123456789"
#define API_KEY_SECRET "ABSKbrockLongTermApiKeySecret0123456789"
#define SESSION_SECRET "sessionSecretAccessKey/ABCDEFGHIJ0123456789"
#define WRONG_SECRET "wrongSecretAccessKeyWRONGWRONG0123456789"

/* ------------------------------------------------------------------ */
/* clock, log capture                                                   */

static _Atomic int64_t clock_offset_ms;

static int64_t test_now(void *ctx)
{
    (void)ctx;
    return time_now_ms() + atomic_load(&clock_offset_ms);
}

static const struct clock test_clock = {test_now, NULL, NULL};

static int64_t now_s(void)
{
    return test_now(NULL) / 1000;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct buf log_text = BUF_INIT((size_t)256 * 1024 * 1024);

static void log_sink(void *ctx, enum log_level level, const char *line)
{
    (void)ctx;
    (void)level;
    pthread_mutex_lock(&log_mu);
    buf_addstr(&log_text, line);
    buf_addc(&log_text, '\n');
    pthread_mutex_unlock(&log_mu);
}

/* ------------------------------------------------------------------ */
/* the emulator under test                                              */

struct emu {
    struct emulator *em;
    char url[80];
    char host[64];
};

static void emu_up(struct emu *u, const struct emulator_options *given)
{
    struct emulator_options o = {0};
    if (given)
        o = *given;
    if (!o.clock)
        o.clock = &test_clock;
    struct brock_err e = {0};
    if (emulator_start(&o, &u->em, &e) != BROCK_OK)
        fail_msg("emulator_start: %s", e.msg);
    snprintf(u->url, sizeof u->url, "%s", emulator_url(u->em));
    snprintf(u->host, sizeof u->host, "127.0.0.1:%u", (unsigned)emulator_port(u->em));
}

static void emu_down(struct emu *u)
{
    emulator_stop(u->em);
    u->em = NULL;
}

/* The request log, parsed. */
static json_t *requests_log(const struct emu *u)
{
    char *s = emulator_requests_json(u->em);
    json_t *v = json_loads(s, 0, NULL);
    free(s);
    if (!v)
        fail_msg("the request log is not JSON");
    return v;
}

static void emu_scenario(struct emu *u, const char *scenario)
{
    struct emulator_options o = {
        .scenario_text = scenario, .scenario_len = strlen(scenario), .scenario_path = "test.json"};
    emu_up(u, &o);
}

/* ------------------------------------------------------------------ */
/* HTTP with libcurl                                                    */

enum auth { AUTH_SIGV4 = 0, AUTH_NONE, AUTH_BEARER };

struct req {
    const char *method; /* NULL = POST */
    const char *path;
    const char *query;
    const char *body; /* NULL = empty */
    bool h2;
    enum auth auth;
    const char *akid, *secret, *token; /* NULL = the first example key */
    const char *service;               /* NULL = "bedrock" */
    const char *region;                /* NULL = "us-east-1" */
    int64_t skew_s;                    /* sign this far off the clock */
    const char *bearer;
    const char *content_type;          /* NULL = application/json */
    const char *tamper;                /* replace the body with this after signing */
};

struct resp {
    long status;
    CURLcode rc;
    struct buf body;
    struct buf head;
    double secs;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    buf_add(&r->body, p, size * n);
    return size * n;
}

static size_t on_head(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    buf_add(&r->head, p, size * n);
    return size * n;
}

static void resp_free(struct resp *r)
{
    buf_free(&r->body);
    buf_free(&r->head);
}

/* A response header (the last one of that name), or "" */
static const char *header(const struct resp *r, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    const char *p = buf_cstr(&r->head);
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, len, "%.*s", (int)(ll - (size_t)(v - p)), v);
        }
        p += ll + (eol ? 2 : 0);
    }
    return out;
}

static void send_req(const struct emu *u, const struct req *q, struct resp *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, (size_t)64 * 1024 * 1024);
    buf_init(&r->head, (size_t)1024 * 1024);
    const char *method = q->method ? q->method : "POST";
    const char *body = q->body ? q->body : "";
    const char *ctype = q->content_type ? q->content_type : "application/json";
    struct curl_slist *hl = NULL;
    char line[20000];
    snprintf(line, sizeof line, "Content-Type: %s", ctype);
    hl = curl_slist_append(hl, line);
    hl = curl_slist_append(hl, "Expect:");
    if (q->auth == AUTH_SIGV4) {
        struct aws_credentials *cr = aws_credentials_new(q->akid ? q->akid : EX_AKID, q->secret ? q->secret : EX_SECRET,
                                                         q->token, 0, "test");
        const struct sigv4_header hs[] = {
            {"host", 4, u->host, strlen(u->host)},
            {"content-type", 12, ctype, strlen(ctype)},
        };
        struct sigv4_request sr = {.method = method,
                                   .path = q->path,
                                   .path_len = strlen(q->path),
                                   .query = q->query,
                                   .query_len = q->query ? strlen(q->query) : 0,
                                   .headers = hs,
                                   .n_headers = 2,
                                   .body = body,
                                   .body_len = strlen(body)};
        struct sigv4_params p = {.creds = cr,
                                 .region = q->region ? q->region : "us-east-1",
                                 .service = q->service ? q->service : "bedrock",
                                 .time_s = now_s() + q->skew_s};
        struct sigv4_signer *s = sigv4_signer_new();
        const struct sigv4_output *o = NULL;
        struct brock_err e = {0};
        if (sigv4_sign_headers(s, &sr, &p, &o, &e) != BROCK_OK)
            fail_msg("signing: %s", e.msg);
        for (size_t i = 0; i < o->n_headers; i++) {
            snprintf(line, sizeof line, "%.*s: %.*s", (int)o->headers[i].name_len, o->headers[i].name,
                     (int)o->headers[i].value_len, o->headers[i].value);
            hl = curl_slist_append(hl, line);
        }
        sigv4_signer_free(s);
        aws_credentials_release(cr);
    } else if (q->auth == AUTH_BEARER) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", q->bearer);
        hl = curl_slist_append(hl, line);
    }
    if (q->tamper)
        body = q->tamper;

    char url[4096];
    snprintf(url, sizeof url, "%s%s%s%s", u->url, q->path, q->query ? "?" : "", q->query ? q->query : "");
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "GET") && strcmp(method, "DELETE")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, q->h2 ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->secs);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
}

static char *model_path(const char *model, const char *op)
{
    struct buf b = BUF_INIT(8192);
    buf_addstr(&b, "/model/");
    uri_encode(&b, model, strlen(model), false);
    buf_addf(&b, "/%s", op);
    return buf_take(&b);
}

/* POST a body to /model/{model}/{op}, signed with the example key. */
static void call(const struct emu *u, const char *model, const char *op, const char *body, bool h2, struct resp *r)
{
    char *path = model_path(model, op);
    struct req q = {.path = path, .body = body, .h2 = h2};
    send_req(u, &q, r);
    free(path);
}

static json_t *body_json(const struct resp *r)
{
    json_error_t je;
    json_t *v = json_loadb(buf_cstr(&r->body), r->body.len, 0, &je);
    if (!v)
        fail_msg("answer is not JSON (%s): %.300s", je.text, buf_cstr(&r->body));
    return v;
}

static const char *jpath_str(json_t *root, const char *path)
{
    json_t *v = root;
    char key[128];
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        char *end;
        long idx = strtol(key, &end, 10);
        v = *end == '\0' && json_is_array(v) ? json_array_get(v, (size_t)idx) : json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_int_t jpath_int(json_t *root, const char *path)
{
    json_t *v = root;
    char key[128];
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        char *end;
        long idx = strtol(key, &end, 10);
        v = *end == '\0' && json_is_array(v) ? json_array_get(v, (size_t)idx) : json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return json_integer_value(v);
}

static char *messages_body(const char *text)
{
    json_t *v = json_pack("{s:s,s:i,s:[{s:s,s:[{s:s,s:s}]}]}", "anthropic_version", "bedrock-2023-05-31", "max_tokens",
                          512, "messages", "role", "user", "content", "type", "text", "text", text);
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

static char *converse_body(const char *text)
{
    json_t *v = json_pack("{s:[{s:s,s:[{s:s}]}]}", "messages", "role", "user", "content", "text", text);
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

/* An AWS error answer: status, x-amzn-ErrorType code, {"message"}, a request id. */
static void expect_error(const struct resp *r, long status, const char *code, const char *message)
{
    char et[256], rid[128];
    header(r, "x-amzn-ErrorType", et, sizeof et);
    header(r, "x-amzn-RequestId", rid, sizeof rid);
    if (r->status != status || strncmp(et, code, strlen(code)) || et[strlen(code)] != ':')
        fail_msg("wanted %ld %s, got %ld %s: %s", status, code, r->status, et, buf_cstr(&r->body));
    assert_int_equal(strlen(rid), 36);
    json_t *v = body_json(r);
    const char *m = json_string_value(json_object_get(v, "message"));
    assert_non_null(m);
    if (message && strncmp(m, message, strlen(message)))
        fail_msg("message\n  want: %s\n  got:  %s", message, m);
    json_decref(v);
}

/* ------------------------------------------------------------------ */
/* event streams                                                        */

struct ev {
    char type[64];  /* :event-type, or :exception-type for exceptions */
    char kind[16];  /* :message-type */
    char ctype[48]; /* :content-type */
    size_t n_headers;
    json_t *payload;
    uint64_t offset;
};

struct evs {
    struct ev *v;
    size_t n;
    bool ok; /* decoded and finished cleanly */
    enum es_fault fault;
    char err[768];
};

static void str_copy(char *dst, size_t len, struct es_str s)
{
    snprintf(dst, len, "%.*s", s.p ? (int)s.len : 0, s.p ? s.p : "");
}

/* Decode in 7-byte pieces, as a slow network would deliver it. */
static void decode(const struct buf *b, struct evs *out)
{
    memset(out, 0, sizeof *out);
    struct es_decoder *d = es_decoder_new();
    struct brock_err e = {0};
    enum brock_status st = BROCK_OK;
    for (size_t pos = 0; st == BROCK_OK && pos < b->len; pos += 7) {
        size_t n = b->len - pos < 7 ? b->len - pos : 7;
        st = es_decoder_feed(d, b->ptr + pos, n, &e);
        bool got = true;
        while (st == BROCK_OK && got) {
            struct es_message m;
            st = es_decoder_next(d, &m, &got, &e);
            if (st != BROCK_OK || !got)
                break;
            out->v = realloc(out->v, (out->n + 1) * sizeof *out->v);
            struct ev *x = &out->v[out->n++];
            memset(x, 0, sizeof *x);
            x->offset = m.offset;
            x->n_headers = m.header_count;
            enum es_kind k = es_message_kind(&m);
            str_copy(x->kind, sizeof x->kind, es_message_string(&m, ":message-type"));
            str_copy(x->type, sizeof x->type,
                     k == ES_KIND_EXCEPTION ? es_message_exception_type(&m) : es_message_event_type(&m));
            str_copy(x->ctype, sizeof x->ctype, es_message_content_type(&m));
            x->payload = json_loadb((const char *)m.payload, m.payload_len, 0, NULL);
        }
    }
    if (st == BROCK_OK)
        st = es_decoder_finish(d, &e);
    out->ok = st == BROCK_OK;
    out->fault = es_decoder_fault(d);
    snprintf(out->err, sizeof out->err, "%s", st == BROCK_OK ? "" : e.msg);
    es_decoder_free(d);
}

static void evs_free(struct evs *x)
{
    for (size_t i = 0; i < x->n; i++)
        json_decref(x->v[i].payload);
    free(x->v);
}

/* The Anthropic event inside a `chunk`. */
static json_t *chunk_event(const struct ev *e)
{
    const char *b64 = json_string_value(json_object_get(e->payload, "bytes"));
    if (!b64)
        fail_msg("chunk without bytes");
    struct buf raw = BUF_INIT(1 << 24);
    if (base64_decode(&raw, b64, strlen(b64)) != BROCK_OK)
        fail_msg("chunk bytes are not base64");
    json_t *v = json_loadb(buf_cstr(&raw), raw.len, 0, NULL);
    buf_free(&raw);
    if (!v)
        fail_msg("chunk bytes are not JSON");
    return v;
}

static char *chunk_types(const struct evs *x, struct buf *text)
{
    struct buf seq = BUF_INIT(1 << 20);
    for (size_t i = 0; i < x->n; i++) {
        if (strcmp(x->v[i].type, "chunk"))
            continue;
        json_t *e = chunk_event(&x->v[i]);
        const char *t = json_string_value(json_object_get(e, "type"));
        if (seq.len == 0 || strcmp(strrchr(seq.ptr, ',') ? strrchr(seq.ptr, ',') + 1 : seq.ptr, t))
            buf_addf(&seq, "%s%s", seq.len ? "," : "", t);
        const char *d = jpath_str(e, "delta.text");
        if (d && text)
            buf_addstr(text, d);
        json_decref(e);
    }
    return buf_take(&seq);
}

static char *event_types(const struct evs *x)
{
    struct buf seq = BUF_INIT(1 << 20);
    const char *last = "";
    for (size_t i = 0; i < x->n; i++) {
        if (strcmp(x->v[i].type, last))
            buf_addf(&seq, "%s%s", seq.len ? "," : "", x->v[i].type);
        last = x->v[i].type;
    }
    return buf_take(&seq);
}

/* ------------------------------------------------------------------ */
/* the operations                                                       */

static void test_converse_http1_and_h2(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *body = converse_body("Hi there,\n  how   are you?");
    for (int h2 = 0; h2 < 2; h2++) {
        struct resp r;
        call(&u, SONNET, "converse", body, h2, &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.status, 200);
        char ct[64], rid[64];
        assert_string_equal(header(&r, "content-type", ct, sizeof ct), "application/json");
        assert_int_equal(strlen(header(&r, "x-amzn-RequestId", rid, sizeof rid)), 36);
        json_t *v = body_json(&r);
        assert_string_equal(jpath_str(v, "output.message.role"), "assistant");
        /* the reply quotes the user's words on one line */
        assert_string_equal(jpath_str(v, "output.message.content.0.text"),
                            "Hello from brock emulate. You said: \"Hi there, how are you?\"");
        assert_string_equal(jpath_str(v, "stopReason"), "end_turn");
        json_int_t in = jpath_int(v, "usage.inputTokens"), out = jpath_int(v, "usage.outputTokens");
        assert_true(in > 0);
        /* output estimate: about 4 bytes a token */
        assert_int_equal(out, (json_int_t)(strlen(jpath_str(v, "output.message.content.0.text")) + 3) / 4);
        assert_int_equal(jpath_int(v, "usage.totalTokens"), in + out);
        assert_null(json_object_get(json_object_get(v, "usage"), "cacheReadInputTokens"));
        assert_true(jpath_int(v, "metrics.latencyMs") >= 1);
        json_decref(v);
        resp_free(&r);
    }
    /* deterministic: the same prompt gives the same answer */
    struct resp a, b;
    call(&u, SONNET, "converse", body, false, &a);
    call(&u, SONNET, "converse", body, true, &b);
    assert_string_equal(buf_cstr(&a.body), buf_cstr(&b.body));
    resp_free(&a);
    resp_free(&b);
    /* the request log says which protocol each call spoke */
    json_t *log = requests_log(&u);
    json_t *reqs = json_object_get(log, "requests");
    assert_int_equal(json_array_size(reqs), 4);
    assert_string_equal(jpath_str(reqs, "0.protocol"), "HTTP/1.1");
    assert_string_equal(jpath_str(reqs, "1.protocol"), "HTTP/2");
    assert_string_equal(jpath_str(reqs, "1.operation"), "converse");
    assert_string_equal(jpath_str(reqs, "1.modelId"), SONNET);
    assert_string_equal(jpath_str(reqs, "1.body.messages.0.content.0.text"), "Hi there,\n  how   are you?");
    json_decref(log);
    free(body);
    emu_down(&u);
}

static void test_invoke_model(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *body = messages_body("List the files");
    struct resp r;
    call(&u, SONNET, "invoke", body, false, &r);
    assert_int_equal(r.status, 200);
    json_t *v = body_json(&r);
    assert_string_equal(jpath_str(v, "type"), "message");
    assert_string_equal(jpath_str(v, "role"), "assistant");
    assert_string_equal(jpath_str(v, "model"), "claude-sonnet-4-5-20250929");
    assert_int_equal(strncmp(jpath_str(v, "id"), "msg_bdrk_01", 11), 0);
    assert_string_equal(jpath_str(v, "content.0.type"), "text");
    assert_string_equal(jpath_str(v, "content.0.text"), "Hello from brock emulate. You said: \"List the files\"");
    assert_string_equal(jpath_str(v, "stop_reason"), "end_turn");
    assert_true(json_is_null(json_object_get(v, "stop_sequence")));
    char h[64];
    assert_int_equal(atoll(header(&r, "X-Amzn-Bedrock-Input-Token-Count", h, sizeof h)),
                     jpath_int(v, "usage.input_tokens"));
    assert_int_equal(atoll(header(&r, "X-Amzn-Bedrock-Output-Token-Count", h, sizeof h)),
                     jpath_int(v, "usage.output_tokens"));
    assert_string_equal(header(&r, "X-Amzn-Bedrock-Cache-Read-Input-Token-Count", h, sizeof h), "0");
    assert_string_equal(header(&r, "X-Amzn-Bedrock-Cache-Write-Input-Token-Count", h, sizeof h), "0");
    assert_true(atoll(header(&r, "X-Amzn-Bedrock-Invocation-Latency", h, sizeof h)) >= 1);
    assert_int_equal(jpath_int(v, "usage.cache_read_input_tokens"), 0);
    assert_int_equal(jpath_int(v, "usage.cache_creation.ephemeral_1h_input_tokens"), 0);
    json_decref(v);
    resp_free(&r);
    free(body);
    emu_down(&u);
}

static void test_invoke_stream(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *body = messages_body("stream the words of this sentence back to me");
    struct resp whole, r;
    call(&u, SONNET, "invoke", body, false, &whole);
    json_t *w = body_json(&whole);
    for (int h2 = 0; h2 < 2; h2++) {
        call(&u, SONNET, "invoke-with-response-stream", body, h2, &r);
        assert_int_equal(r.status, 200);
        char h[128];
        assert_string_equal(header(&r, "content-type", h, sizeof h), "application/vnd.amazon.eventstream");
        assert_string_equal(header(&r, "X-Amzn-Bedrock-Content-Type", h, sizeof h), "application/json");
        struct evs x;
        decode(&r.body, &x);
        if (!x.ok)
            fail_msg("stream does not decode: %s", x.err);
        size_t deltas = 0;
        for (size_t i = 0; i < x.n; i++) {
            assert_string_equal(x.v[i].type, "chunk");
            assert_string_equal(x.v[i].kind, "event");
            assert_string_equal(x.v[i].ctype, "application/json");
            assert_int_equal(x.v[i].n_headers, 3);
            assert_non_null(json_object_get(x.v[i].payload, "p")); /* padding, as AWS sends */
            json_t *e = chunk_event(&x.v[i]);
            deltas += !strcmp(json_string_value(json_object_get(e, "type")), "content_block_delta");
            json_decref(e);
        }
        struct buf text = BUF_INIT(1 << 20);
        char *seq = chunk_types(&x, &text);
        assert_string_equal(seq,
                            "message_start,content_block_start,content_block_delta,content_block_stop,message_delta,"
                            "message_stop");
        /* split by words: one delta per word */
        assert_int_equal(deltas, 15);
        assert_string_equal(buf_cstr(&text), jpath_str(w, "content.0.text"));
        json_t *start = chunk_event(&x.v[0]), *stop = chunk_event(&x.v[x.n - 1]), *md = chunk_event(&x.v[x.n - 2]);
        assert_int_equal(jpath_int(start, "message.usage.input_tokens"), jpath_int(w, "usage.input_tokens"));
        assert_int_equal(jpath_int(start, "message.usage.output_tokens"), 1);
        assert_string_equal(jpath_str(md, "delta.stop_reason"), "end_turn");
        assert_int_equal(jpath_int(md, "usage.output_tokens"), jpath_int(w, "usage.output_tokens"));
        assert_int_equal(jpath_int(stop, "amazon-bedrock-invocationMetrics.inputTokenCount"),
                         jpath_int(w, "usage.input_tokens"));
        assert_int_equal(jpath_int(stop, "amazon-bedrock-invocationMetrics.outputTokenCount"),
                         jpath_int(w, "usage.output_tokens"));
        assert_int_equal(jpath_int(stop, "amazon-bedrock-invocationMetrics.cacheReadInputTokenCount"), 0);
        json_decref(start);
        json_decref(stop);
        json_decref(md);
        free(seq);
        buf_free(&text);
        evs_free(&x);
        resp_free(&r);
    }
    json_decref(w);
    resp_free(&whole);
    free(body);
    emu_down(&u);
}

static void test_converse_stream(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *body = converse_body("three little words");
    struct resp r;
    call(&u, SONNET, "converse-stream", body, true, &r);
    assert_int_equal(r.status, 200);
    struct evs x;
    decode(&r.body, &x);
    assert_true(x.ok);
    char *seq = event_types(&x);
    assert_string_equal(seq, "messageStart,contentBlockDelta,contentBlockStop,messageStop,metadata");
    struct buf text = BUF_INIT(4096);
    for (size_t i = 0; i < x.n; i++) {
        assert_string_equal(x.v[i].kind, "event");
        assert_string_equal(x.v[i].ctype, "application/json");
        assert_int_equal(x.v[i].n_headers, 3);
        const char *t = jpath_str(x.v[i].payload, "delta.text");
        if (t)
            buf_addstr(&text, t);
    }
    assert_string_equal(buf_cstr(&text), "Hello from brock emulate. You said: \"three little words\"");
    assert_string_equal(jpath_str(x.v[0].payload, "role"), "assistant");
    assert_string_equal(jpath_str(x.v[x.n - 2].payload, "stopReason"), "end_turn");
    json_t *md = x.v[x.n - 1].payload;
    assert_int_equal(jpath_int(md, "usage.totalTokens"),
                     jpath_int(md, "usage.inputTokens") + jpath_int(md, "usage.outputTokens"));
    assert_true(jpath_int(md, "metrics.latencyMs") >= 0);
    buf_free(&text);
    free(seq);
    evs_free(&x);
    resp_free(&r);
    free(body);
    emu_down(&u);
}

/* thinking, text and tool_use, streamed in both shapes */
static const char tool_scenario[] =
    "{\"rules\": [{\"match\": {\"contains\": \"edit\"},\n"
    " \"response\": {\"thinking\": \"I should edit the file.\", \"signature\": \"c2lnbmF0dXJl\",\n"
    "  \"text\": \"Editing now.\",\n"
    "  \"tool_use\": {\"name\": \"Edit\", \"id\": \"toolu_fixed\", \"input\": {\"path\": \"src/a.c\", \"old\": \"x = "
    "1;\",\n"
    "               \"new\": \"x = 2; // \\u00e9t\\u00e9 \\\"quoted\\\"\", \"count\": 1}}}}]}";

static const char tool_input[] =
    "{\"path\":\"src/a.c\",\"old\":\"x = 1;\",\"new\":\"x = 2; // \xc3\xa9t\xc3\xa9 \\\"quoted\\\"\",\"count\":1}";

static void test_thinking_and_tool_use_streams(void **state)
{
    (void)state;
    struct emu u;
    emu_scenario(&u, tool_scenario);
    char *mbody = messages_body("please edit a.c");
    struct resp r;
    call(&u, SONNET, "invoke-with-response-stream", mbody, true, &r);
    assert_int_equal(r.status, 200);
    struct evs x;
    decode(&r.body, &x);
    assert_true(x.ok);
    struct buf thinking = BUF_INIT(4096), input = BUF_INIT(4096), seq = BUF_INIT(8192);
    const char *sig = NULL;
    size_t input_pieces = 0;
    json_t *keep[4] = {NULL};
    for (size_t i = 0; i < x.n; i++) {
        json_t *e = chunk_event(&x.v[i]);
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *dt = jpath_str(e, "delta.type");
        buf_addf(&seq, "%s%s", seq.len ? " " : "", dt ? dt : t);
        if (dt && !strcmp(dt, "thinking_delta"))
            buf_addstr(&thinking, jpath_str(e, "delta.thinking"));
        if (dt && !strcmp(dt, "signature_delta")) {
            keep[0] = json_incref(e);
            sig = jpath_str(e, "delta.signature");
        }
        if (dt && !strcmp(dt, "input_json_delta")) {
            buf_addstr(&input, jpath_str(e, "delta.partial_json"));
            input_pieces++;
        }
        if (!strcmp(t, "content_block_start") && jpath_int(e, "index") == 2) {
            assert_string_equal(jpath_str(e, "content_block.type"), "tool_use");
            assert_string_equal(jpath_str(e, "content_block.id"), "toolu_fixed");
            assert_string_equal(jpath_str(e, "content_block.name"), "Edit");
        }
        if (!strcmp(t, "message_delta"))
            assert_string_equal(jpath_str(e, "delta.stop_reason"), "tool_use");
        json_decref(e);
    }
    assert_string_equal(
        buf_cstr(&seq),
        "message_start content_block_start thinking_delta thinking_delta thinking_delta thinking_delta "
        "thinking_delta signature_delta content_block_stop content_block_start text_delta text_delta "
        "content_block_stop content_block_start input_json_delta input_json_delta input_json_delta "
        "input_json_delta input_json_delta input_json_delta content_block_stop message_delta message_stop");
    assert_string_equal(buf_cstr(&thinking), "I should edit the file.");
    assert_string_equal(sig, "c2lnbmF0dXJl");
    /* the first input delta is empty, the rest split mid-token */
    assert_true(input_pieces >= 3);
    assert_string_equal(buf_cstr(&input), tool_input);
    json_decref(keep[0]);
    evs_free(&x);
    resp_free(&r);

    /* Converse: reasoningContent deltas, then a signature delta; toolUse starts with contentBlockStart */
    char *cbody = converse_body("edit it");
    call(&u, SONNET, "converse-stream", cbody, false, &r);
    decode(&r.body, &x);
    assert_true(x.ok);
    char *types = event_types(&x);
    assert_string_equal(types, "messageStart,contentBlockDelta,contentBlockStop,contentBlockDelta,contentBlockStop,"
                               "contentBlockStart,contentBlockDelta,contentBlockStop,messageStop,metadata");
    buf_reset(&thinking);
    buf_reset(&input);
    const char *csig = NULL, *tid = NULL;
    for (size_t i = 0; i < x.n; i++) {
        json_t *p = x.v[i].payload;
        const char *t = jpath_str(p, "delta.reasoningContent.text");
        if (t)
            buf_addstr(&thinking, t);
        if (jpath_str(p, "delta.reasoningContent.signature"))
            csig = jpath_str(p, "delta.reasoningContent.signature");
        if (jpath_str(p, "delta.toolUse.input"))
            buf_addstr(&input, jpath_str(p, "delta.toolUse.input"));
        if (jpath_str(p, "start.toolUse.toolUseId"))
            tid = jpath_str(p, "start.toolUse.toolUseId");
    }
    assert_string_equal(buf_cstr(&thinking), "I should edit the file.");
    assert_string_equal(csig, "c2lnbmF0dXJl");
    assert_string_equal(tid, "toolu_fixed");
    assert_string_equal(buf_cstr(&input), tool_input);
    assert_string_equal(jpath_str(x.v[x.n - 2].payload, "stopReason"), "tool_use");
    free(types);
    evs_free(&x);
    resp_free(&r);

    /* the whole Converse answer has the same blocks */
    call(&u, SONNET, "converse", cbody, false, &r);
    json_t *v = body_json(&r);
    assert_string_equal(jpath_str(v, "output.message.content.0.reasoningContent.reasoningText.text"),
                        "I should edit the file.");
    assert_string_equal(jpath_str(v, "output.message.content.1.text"), "Editing now.");
    assert_string_equal(jpath_str(v, "output.message.content.2.toolUse.name"), "Edit");
    json_t *blocks = json_object_get(json_object_get(json_object_get(v, "output"), "message"), "content");
    json_t *tinput = json_object_get(json_object_get(json_array_get(blocks, 2), "toolUse"), "input");
    char *in = json_dumps(tinput, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(in, tool_input);
    free(in);
    assert_string_equal(jpath_str(v, "stopReason"), "tool_use");
    json_decref(v);
    resp_free(&r);
    buf_free(&thinking);
    buf_free(&input);
    buf_free(&seq);
    free(mbody);
    free(cbody);
    emu_down(&u);
}

/* Without a scenario, a request asking for thinking gets a thinking block
 * with a signature, and made-up tool ids are stable. */
static void test_echo_thinking(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    const char *body = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":4096,"
                       "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"think first\"}]}";
    struct resp a, b;
    call(&u, SONNET, "invoke", body, false, &a);
    call(&u, SONNET, "invoke", body, false, &b);
    json_t *v = body_json(&a);
    assert_string_equal(jpath_str(v, "content.0.type"), "thinking");
    assert_true(strlen(jpath_str(v, "content.0.signature")) > 20);
    assert_string_equal(jpath_str(v, "content.1.text"), "Hello from brock emulate. You said: \"think first\"");
    json_t *w = body_json(&b);
    assert_string_equal(jpath_str(v, "content.0.signature"), jpath_str(w, "content.0.signature"));
    json_decref(v);
    json_decref(w);
    resp_free(&a);
    resp_free(&b);
    emu_down(&u);
}

static void test_count_tokens(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    /* the same conversation as a Messages body and as Converse input */
    char *mbody = messages_body("count the tokens of this prompt, please");
    struct buf b64 = BUF_INIT(1 << 16), req = BUF_INIT(1 << 16);
    assert_int_equal(base64_encode(&b64, mbody, strlen(mbody)), BROCK_OK);
    buf_addf(&req, "{\"input\":{\"invokeModel\":{\"body\":\"%s\"}}}", buf_cstr(&b64));
    struct resp r1, r2, r3;
    call(&u, SONNET_BASE, "count-tokens", buf_cstr(&req), false, &r1);
    assert_int_equal(r1.status, 200);
    json_t *v1 = body_json(&r1);
    const char *conv = "{\"input\":{\"converse\":{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
                       "\"count the tokens of this prompt, please\"}]}]}}}";
    call(&u, SONNET_BASE, "count-tokens", conv, true, &r2);
    json_t *v2 = body_json(&r2);
    assert_true(jpath_int(v1, "inputTokens") > 0);
    assert_int_equal(jpath_int(v1, "inputTokens"), jpath_int(v2, "inputTokens"));
    /* and what InvokeModel bills for it */
    call(&u, SONNET, "invoke", mbody, false, &r3);
    json_t *v3 = body_json(&r3);
    assert_int_equal(jpath_int(v3, "usage.input_tokens"), jpath_int(v1, "inputTokens"));
    json_decref(v1);
    json_decref(v2);
    json_decref(v3);
    resp_free(&r1);
    resp_free(&r2);
    resp_free(&r3);

    call(&u, SONNET_BASE, "count-tokens", "{\"input\":{\"invokeModel\":{\"body\":\"!!not base64\"}}}", false, &r1);
    expect_error(&r1, 400, "ValidationException", "input.invokeModel.body is not valid base64.");
    resp_free(&r1);
    call(&u, SONNET_BASE, "count-tokens", "{}", false, &r1);
    expect_error(
        &r1, 400, "ValidationException",
        "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null");
    resp_free(&r1);
    buf_free(&b64);
    buf_free(&req);
    free(mbody);
    emu_down(&u);
}

/* ------------------------------------------------------------------ */
/* model ids                                                            */

static void test_model_ids(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *body = converse_body("hi");
    struct resp r;
    static const struct {
        const char *raw_path; /* sent as is */
        long status;
        const char *message;
    } cases[] = {
        {"/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", 200, NULL},
        {"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse", 200, NULL},
        /* decoded once: %253A is the literal "%3A" */
        {"/model/us.anthropic.claude-sonnet-4-5-20250929-v1%253A0/converse", 400,
         "The provided model identifier is invalid."},
        {"/model/us.does-not-exist-model-v1%3A0/converse", 400, "The provided model identifier is invalid."},
        {"/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", 400,
         "Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn\xe2\x80\x99t "
         "supported. Retry your request with the ID or ARN of an inference profile that contains this model."},
        {"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fanthropic.claude-sonnet-4-5-20250929-v1%3A0/"
         "converse",
         400, "Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput"},
        {"/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", 200, NULL}, /* an in-region model */
        {"/model/jp.anthropic.claude-opus-4-5-20251101-v1%3A0/converse", 400,
         "The provided model identifier is invalid."},
        {"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A111122223333%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-5-"
         "20250929-v1%3A0/converse",
         200, NULL},
        {"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A111122223333%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/"
         "converse",
         200, NULL},
        {"/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens", 400, "1 validation error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct req q = {.path = cases[i].raw_path, .body = body};
        send_req(&u, &q, &r);
        if (r.status != cases[i].status)
            fail_msg("case %zu %s: %ld %s", i, cases[i].raw_path, r.status, buf_cstr(&r.body));
        if (cases[i].message)
            expect_error(&r, cases[i].status, "ValidationException", cases[i].message);
        resp_free(&r);
    }
    /* the log keeps the decoded id */
    json_t *log = requests_log(&u);
    assert_string_equal(jpath_str(log, "requests.0.modelId"), SONNET);
    assert_string_equal(jpath_str(log, "requests.1.modelId"), SONNET);
    assert_string_equal(jpath_str(log, "requests.2.modelId"), "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0");
    json_decref(log);
    free(body);
    emu_down(&u);
}

/* What the newer models refuse, as their migration guides say Bedrock does:
 * sampling parameters, a thinking budget, and (for those that always think)
 * thinking turned off; the same bodies are fine for Opus 4.6. */
/* Adaptive thinking's display: "omitted" leaves the signature only; the
 * newer models (Opus 4.7 on) omit unless "summarized" is asked, older ones
 * show it. */
static void test_thinking_display(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    static const struct {
        const char *model, *display;
        bool shown;
    } cases[] = {
        {"us.anthropic.claude-opus-4-7", NULL, false},
        {"us.anthropic.claude-opus-4-7", "\"summarized\"", true},
        {"us.anthropic.claude-opus-4-6-v1", NULL, true},
        {"us.anthropic.claude-opus-4-6-v1", "\"omitted\"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":2000,\"thinking\":{\"type\":"
                 "\"adaptive\"%s%s},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                 cases[i].display ? ",\"display\":" : "", cases[i].display ? cases[i].display : "");
        struct resp r;
        call(&u, cases[i].model, "invoke", body, false, &r);
        if (r.status != 200)
            fail_msg("case %zu: %ld %s", i, r.status, buf_cstr(&r.body));
        json_t *v = json_loads(buf_cstr(&r.body), 0, NULL);
        json_t *b0 = json_array_get(json_object_get(v, "content"), 0);
        assert_string_equal(json_string_value(json_object_get(b0, "type")), "thinking");
        const char *t = json_string_value(json_object_get(b0, "thinking"));
        assert_non_null(t);
        if (cases[i].shown != (*t != '\0'))
            fail_msg("case %zu (%s, display %s): thinking '%s'", i, cases[i].model,
                     cases[i].display ? cases[i].display : "none", t);
        assert_true(json_string_length(json_object_get(b0, "signature")) > 0);
        json_decref(v);
        resp_free(&r);
    }
    emu_down(&u);
}

static void test_newer_model_refusals(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    static const struct {
        const char *model, *op, *body;
        long status;
        const char *message;
    } cases[] = {
        {"us.anthropic.claude-opus-4-7", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,\"temperature\":0.5,\"messages\":"
         "[{\"role\":\"user\",\"content\":\"hi\"}]}",
         400, "`temperature` is not supported for this model."},
        {"us.anthropic.claude-opus-4-7", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,\"temperature\":1,\"messages\":"
         "[{\"role\":\"user\",\"content\":\"hi\"}]}",
         200, NULL},
        {"us.anthropic.claude-sonnet-5", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,\"top_k\":5,\"messages\":"
         "[{\"role\":\"user\",\"content\":\"hi\"}]}",
         400, "`top_k` is not supported for this model."},
        {"us.anthropic.claude-opus-5", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":3000,\"thinking\":{\"type\":\"enabled\","
         "\"budget_tokens\":1024},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
         400, "\"thinking.type.enabled\" is not supported for this model."},
        {"us.anthropic.claude-opus-5-5", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,\"thinking\":{\"type\":\"disabled\"},"
         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
         400, "\"thinking.type.disabled\" is not supported for this model"},
        {"us.anthropic.claude-opus-5", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,\"thinking\":{\"type\":\"disabled\"},"
         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
         200, NULL},
        {"us.anthropic.claude-opus-4-6-v1", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":3000,\"temperature\":0.5,\"top_k\":5,"
         "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},\"messages\":[{\"role\":\"user\","
         "\"content\":\"hi\"}]}",
         200, NULL},
        {"us.anthropic.claude-opus-4-8", "converse",
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],\"inferenceConfig\":"
         "{\"maxTokens\":50,\"topP\":0.5}}",
         400, "`topP` is not supported for this model."},
        {"us.anthropic.claude-opus-4-8", "converse",
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],\"inferenceConfig\":"
         "{\"maxTokens\":3000},\"additionalModelRequestFields\":{\"thinking\":{\"type\":\"enabled\","
         "\"budget_tokens\":1024}}}",
         400, "The model returned the following errors: \"thinking.type.enabled\""},
        /* a prefill (the last message the assistant's): refused from the 4.6 models on */
        {"us.anthropic.claude-sonnet-4-6", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\","
         "\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"Sure:\"}]}",
         400, "This model does not support assistant message prefill. The conversation must end with a user message."},
        {"us.anthropic.claude-opus-4-6-v1", "converse",
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]},{\"role\":\"assistant\","
         "\"content\":[{\"text\":\"Sure:\"}]}]}",
         400, "The model returned the following errors: This model does not support assistant message prefill."},
        {"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "invoke",
         "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\","
         "\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"Sure:\"}]}",
         200, NULL},
        {"us.anthropic.claude-haiku-4-5-20251001-v1:0", "converse",
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]},{\"role\":\"assistant\","
         "\"content\":[{\"text\":\"Sure:\"}]}]}",
         200, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        call(&u, cases[i].model, cases[i].op, cases[i].body, false, &r);
        if (r.status != cases[i].status)
            fail_msg("case %zu %s: %ld %s", i, cases[i].model, r.status, buf_cstr(&r.body));
        if (cases[i].message)
            expect_error(&r, cases[i].status, "ValidationException", cases[i].message);
        resp_free(&r);
    }
    emu_down(&u);
}

static void test_deny_models(void **state)
{
    (void)state;
    const char *deny[] = {"anthropic.claude-opus-4-6-v1"};
    struct emulator_options o = {.deny_models = deny, .n_deny_models = 1};
    struct emu u;
    emu_up(&u, &o);
    char *body = converse_body("hi");
    struct resp r;
    call(&u, "us.anthropic.claude-opus-4-6-v1", "converse", body, false, &r);
    expect_error(&r, 403, "AccessDeniedException", "You don't have access to the model with the specified model ID.");
    resp_free(&r);
    call(&u, SONNET, "converse", body, false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    emu_down(&u);
    /* from the scenario */
    emu_scenario(&u, "{\"deny_models\": [\"" SONNET "\"]}");
    call(&u, SONNET, "converse", body, false, &r);
    expect_error(&r, 403, "AccessDeniedException", NULL);
    resp_free(&r);
    call(&u, "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "converse", body, false, &r);
    assert_int_equal(r.status, 200); /* only that profile id was denied */
    resp_free(&r);
    free(body);
    emu_down(&u);
}

/* ------------------------------------------------------------------ */
/* validation                                                           */

struct vcase {
    const char *body;
    const char *message;
};

static const struct vcase invoke_cases[] = {
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10}",
     "Malformed input request: #: required key [messages] not found, please reformat your input and try again."},
    {"{\"messages\":[]}",
     "Malformed input request: #: 2 schema violations found, please reformat your input and try again."},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[],\"model\":\"claude\"}",
     "Malformed input request: #: extraneous key [model] is not permitted, please reformat your input and try again."},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":\"10\",\"messages\":[]}",
     "Malformed input request: #/max_tokens: expected type: Integer, found: String, please reformat your input and try "
     "again."},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":0,\"messages\":[]}",
     "Malformed input request: #/max_tokens: 0 is not greater or equal to 1, please reformat"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[]}",
     "messages: at least one message is required"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64001,\"messages\":[{\"role\":\"user\",\"content\":"
     "\"x\"}]}",
     "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[{\"role\":\"system\",\"content\":"
     "\"x\"}]}",
     "messages.0.role: Input should be 'user' or 'assistant'"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"\"}]}]}",
     "messages: text content blocks must be non-empty"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"movie\"}]}]}",
     "messages.0.content.0.type: Input tag 'movie' found using 'type' does not match any of the expected tags"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":"
     "\"x\"},"
     "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Read\",\"input\":{}}]},"
     "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t2\",\"content\":\"x\"}]}]}",
     "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: t2. Each `tool_result` block must "
     "have "
     "a corresponding `tool_use` block in the previous message."},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":"
     "\"x\"},"
     "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Read\",\"input\":{}},"
     "{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"Read\",\"input\":{}}]},"
     "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"x\"}]}]}",
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: t2. Each `tool_use` block "
     "must have a corresponding `tool_result` block in the next message."},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":2000,\"thinking\":{\"type\":\"enabled\","
     "\"budget_tokens\":1000},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":2000,\"thinking\":{\"type\":\"enabled\","
     "\"budget_tokens\":2000},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "`max_tokens` must be greater than `thinking.budget_tokens`."},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"temperature\":1.5,\"messages\":[{\"role\":"
     "\"user\","
     "\"content\":\"x\"}]}",
     "temperature: range: 0..1"},
    {"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"system\":["
     "{\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}},"
     "{\"type\":\"text\",\"text\":\"b\",\"cache_control\":{\"type\":\"ephemeral\"}},"
     "{\"type\":\"text\",\"text\":\"c\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
     "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"d\",\"cache_control\":{\"type\":"
     "\"ephemeral\"}},"
     "{\"type\":\"text\",\"text\":\"e\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}",
     "A maximum of 4 blocks with cache_control may be provided. Found 5."},
    {"{\"anthropic_version\":", "Malformed input request: request body:1:"},
    {"[1]", "Malformed input request: #: expected type: JSONObject"},
};

static const struct vcase converse_cases[] = {
    {"{}",
     "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null"},
    {"{\"messages\":[]}",
     "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
    {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"text\":\"x\"}]}]}",
     "A conversation must start with a user message."},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]},{\"role\":\"user\",\"content\":[{\"text\":"
     "\"y\"}]}]}",
     "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between "
     "user "
     "and assistant roles and try again."},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"  \"}]}]}",
     "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try "
     "again."},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\",\"image\":{}}]}]}",
     "The content block at messages.0.content.0 must set exactly one of text, image"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]},{\"role\":\"assistant\",\"content\":[{"
     "\"toolUse\":"
     "{\"toolUseId\":\"t1\",\"name\":\"Read\",\"input\":{}}}]},{\"role\":\"user\",\"content\":[{\"toolResult\":"
     "{\"toolUseId\":\"t1\",\"content\":[{\"text\":\"ok\"}]}}]}]}",
     "The toolConfig field must be defined when using toolUse and toolResult content blocks."},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]},{\"role\":\"assistant\",\"content\":[{"
     "\"toolUse\":"
     "{\"toolUseId\":\"t1\",\"name\":\"Read\",\"input\":{}}},{\"toolUse\":{\"toolUseId\":\"t2\",\"name\":\"Read\","
     "\"input\":{}}}]},{\"role\":\"user\",\"content\":[{\"toolResult\":{\"toolUseId\":\"t2\",\"content\":[{\"text\":"
     "\"ok\"}]}}]}],"
     "\"toolConfig\":{\"tools\":[{\"toolSpec\":{\"name\":\"Read\",\"inputSchema\":{\"json\":{}}}}]}}",
     "Expected toolResult blocks at messages.2.content for the following Ids: t1"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}],\"inferenceConfig\":{\"maxTokens\":0}}",
     "1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must "
     "have value greater than or equal to 1"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}],\"inferenceConfig\":{\"maxTokens\":64001}}",
     "The maximum tokens you requested exceeds the model limit of 64000. Try again with a maximum tokens value that is "
     "lower than 64000."},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}],\"additionalModelRequestFields\":"
     "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":100}}}",
     "The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal "
     "to "
     "1024"},
    {"{\"messages\":[{\"role\":\"bot\",\"content\":[]}]}",
     "1 validation error detected: Value 'bot' at 'messages.1.member.role' failed to satisfy constraint: Member must "
     "satisfy enum value set: [user, assistant]"},
};

static void run_vcases(const struct emu *u, const char *op, const struct vcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct resp r;
        call(u, SONNET, op, cases[i].body, i % 2, &r);
        char et[256];
        header(&r, "x-amzn-ErrorType", et, sizeof et);
        json_t *v = r.status == 400 ? json_loadb(buf_cstr(&r.body), r.body.len, 0, NULL) : NULL;
        const char *m = v ? json_string_value(json_object_get(v, "message")) : NULL;
        if (r.status != 400 || strncmp(et, "ValidationException:", 20) || !m ||
            strncmp(m, cases[i].message, strlen(cases[i].message)))
            fail_msg("%s case %zu: %s\n  want 400 %s\n  got  %ld %s %s", op, i, cases[i].body, cases[i].message,
                     r.status, et, buf_cstr(&r.body));
        json_decref(v);
        resp_free(&r);
    }
}

static void test_validation(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    run_vcases(&u, "invoke", invoke_cases, sizeof invoke_cases / sizeof invoke_cases[0]);
    run_vcases(&u, "invoke-with-response-stream", invoke_cases, 3);
    run_vcases(&u, "converse", converse_cases, sizeof converse_cases / sizeof converse_cases[0]);
    run_vcases(&u, "converse-stream", converse_cases, 3);
    /* a valid tool loop passes every check */
    const char *loop =
        "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":["
        "{\"role\":\"user\",\"content\":\"x\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"},"
        "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Read\",\"input\":{\"p\":1}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
        "\"content\":[{\"type\":\"text\",\"text\":\"file body\"}]},{\"type\":\"text\",\"text\":\"go on\"}]}]}";
    struct resp r;
    call(&u, SONNET, "invoke", loop, false, &r);
    assert_int_equal(r.status, 200);
    json_t *v = body_json(&r);
    assert_string_equal(jpath_str(v, "content.0.text"), "Hello from brock emulate. You said: \"go on\"");
    json_decref(v);
    resp_free(&r);
    emu_down(&u);
}

/* ------------------------------------------------------------------ */
/* recorded real Bedrock traffic                                        */

static char *read_rec(const char *dir, const char *name, size_t *len)
{
    char rel[512];
    snprintf(rel, sizeof rel, RECORDED "/%s/%s", dir, name);
    char *path = testdata_path(rel);
    char *s = test_read_file(path, len);
    free(path);
    return s;
}

/* Every recorded Converse request (nova, gpt-oss and Claude models) is a
 * valid request: sent to a Claude model here, each is accepted. */
static void test_recorded_requests_accepted(void **state)
{
    (void)state;
    char *dir = testdata_path(RECORDED);
    char **names;
    size_t n = test_list_dir(dir, &names);
    assert_true(n >= 10);
    struct emu u;
    emu_up(&u, NULL);
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) {
            char f[32];
            snprintf(f, sizeof f, "%d.request.json", k);
            size_t len;
            char *body = read_rec(names[i], f, &len);
            if (!body)
                continue;
            char *meta_name = NULL;
            if (asprintf(&meta_name, "%d.meta.json", k) < 0)
                abort();
            char *meta = read_rec(names[i], meta_name, NULL);
            free(meta_name);
            bool stream = meta && strstr(meta, "/converse-stream\"");
            struct resp r;
            call(&u, SONNET, stream ? "converse-stream" : "converse", body, k % 2, &r);
            if (r.status != 200)
                fail_msg("%s/%d: %ld %s", names[i], k, r.status, buf_cstr(&r.body));
            if (stream) {
                struct evs x;
                decode(&r.body, &x);
                assert_true(x.ok);
                evs_free(&x);
            }
            resp_free(&r);
            free(body);
            free(meta);
            sent++;
        }
    }
    print_message("# %zu recorded requests accepted\n", sent);
    assert_true(sent >= 14);
    emu_down(&u);
    test_free_list(names, n);
    free(dir);
}

/* The recorded unknown-model answer, byte for byte. */
static void test_recorded_error(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    const char *dirs[] = {"test_bedrock_error", "test_bedrock_streaming_error"};
    for (size_t i = 0; i < 2; i++) {
        size_t blen, rlen;
        char *body = read_rec(dirs[i], "0.request.json", &blen);
        char *want = read_rec(dirs[i], "0.response.json", &rlen);
        char *meta = read_rec(dirs[i], "0.meta.json", NULL);
        assert_non_null(body);
        assert_non_null(want);
        /* the recorded URI's path, as sent */
        const char *p = strstr(meta, "amazonaws.com/model/");
        assert_non_null(p);
        p += strlen("amazonaws.com");
        char path[256];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(p, "\""), p);
        struct req q = {.path = path, .body = body, .h2 = i == 1};
        struct resp r;
        send_req(&u, &q, &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(buf_cstr(&r.body), want);
        char ct[64];
        assert_string_equal(header(&r, "content-type", ct, sizeof ct), "application/json");
        resp_free(&r);
        free(body);
        free(want);
        free(meta);
    }
    emu_down(&u);
}

/* Collapse a recorded or emulated stream into "type@index" steps. */
static void step_list(json_t *frames_or_null, const struct evs *x, struct buf *out)
{
    const char *last = "";
    char step[96];
    size_t n = x ? x->n : json_array_size(frames_or_null);
    for (size_t i = 0; i < n; i++) {
        json_t *payload = x ? x->v[i].payload : json_object_get(json_array_get(frames_or_null, i), "payload");
        const char *et = x ? x->v[i].type
                           : jpath_str(json_object_get(json_array_get(frames_or_null, i), "headers"), ":event-type");
        json_t *d = json_object_get(payload, "delta");
        const char *sub = "";
        if (d) {
            void *it = json_object_iter(d);
            sub = it ? json_object_iter_key(it) : "";
        }
        json_t *idx = json_object_get(payload, "contentBlockIndex");
        snprintf(step, sizeof step, "%s%s%s@%lld", et, *sub ? "." : "", sub,
                 idx ? (long long)json_integer_value(idx) : -1LL);
        if (strcmp(step, last)) {
            buf_addf(out, "%s%s", out->len ? "," : "", step);
            last = strrchr(out->ptr, ',') ? strrchr(out->ptr, ',') + 1 : out->ptr;
        }
    }
}

/* Every key path in `want` (but "p" and serverToolUsage) exists in `got`. */
static bool has_keys(json_t *want, json_t *got, char *missing, size_t len)
{
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v) {
        if (!strcmp(k, "p") || !strcmp(k, "serverToolUsage"))
            continue;
        json_t *g = json_object_get(got, k);
        if (!g) {
            snprintf(missing, len, "%s", k);
            return false;
        }
        if (json_is_object(v) && !has_keys(v, g, missing, len))
            return false;
    }
    return true;
}

/* Build a scenario answering what a recorded stream answered, replay the
 * recorded request, and compare the streams' shapes. */
static void test_recorded_stream_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *dir;
        int k;
        const char *skip; /* why it cannot be reproduced */
    } recs[] = {
        {"test_bedrock_model_stream", 0, NULL},
        {"test_bedrock_model_iter_stream", 0, NULL},
        {"test_bedrock_model_iter_stream", 1, NULL},
        {"test_bedrock_model_thinking_part_stream", 0, NULL},
        {"test_bedrock_model_stream_empty_text_delta", 0, NULL},
        {"test_bedrock_model_code_execution_tool_stream", 0,
         "server-side tool results (toolResult blocks streamed by the service) cannot be scripted"},
    };
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        if (recs[i].skip) {
            print_message("# skipped %s/%d: %s\n", recs[i].dir, recs[i].k, recs[i].skip);
            continue;
        }
        char f[64];
        snprintf(f, sizeof f, "%d.response.decoded.json", recs[i].k);
        char *dec = read_rec(recs[i].dir, f, NULL);
        snprintf(f, sizeof f, "%d.request.json", recs[i].k);
        char *body = read_rec(recs[i].dir, f, NULL);
        assert_non_null(dec);
        assert_non_null(body);
        json_t *frames = json_loads(dec, 0, NULL);
        assert_non_null(frames);

        /* the recorded content, block by block, as a scenario "content" list */
        json_t *blocks = json_array(), *stop = NULL;
        size_t fi;
        json_t *fr;
        json_array_foreach(frames, fi, fr) {
            json_t *p = json_object_get(fr, "payload");
            const char *et = jpath_str(json_object_get(fr, "headers"), ":event-type");
            json_int_t idx = json_integer_value(json_object_get(p, "contentBlockIndex"));
            while (json_object_get(p, "contentBlockIndex") && json_array_size(blocks) <= (size_t)idx)
                json_array_append_new(blocks, json_object());
            json_t *b = json_array_get(blocks, (size_t)idx);
            if (!strcmp(et, "contentBlockStart")) {
                json_object_set_new(b, "type", json_string("tool_use"));
                json_object_set_new(b, "name", json_string(jpath_str(p, "start.toolUse.name")));
                json_object_set_new(b, "id", json_string(jpath_str(p, "start.toolUse.toolUseId")));
                json_object_set_new(b, "input", json_string(""));
            } else if (!strcmp(et, "contentBlockDelta")) {
                const char *key = jpath_str(p, "delta.text")                    ? "text"
                                  : jpath_str(p, "delta.reasoningContent.text") ? "thinking"
                                                                                : NULL;
                const char *piece = key && !strcmp(key, "text") ? jpath_str(p, "delta.text")
                                                                : jpath_str(p, "delta.reasoningContent.text");
                if (jpath_str(p, "delta.toolUse.input")) {
                    key = "input";
                    piece = jpath_str(p, "delta.toolUse.input");
                }
                if (jpath_str(p, "delta.reasoningContent.signature")) {
                    json_object_set_new(b, "signature", json_string(jpath_str(p, "delta.reasoningContent.signature")));
                    continue;
                }
                if (!json_object_get(b, "type"))
                    json_object_set_new(b, "type", json_string(!strcmp(key, "text") ? "text" : "thinking"));
                const char *have = jpath_str(b, key);
                char *joined = NULL;
                if (asprintf(&joined, "%s%s", have ? have : "", piece) < 0)
                    abort();
                json_object_set_new(b, key, json_string(joined));
                free(joined);
            } else if (!strcmp(et, "messageStop")) {
                stop = json_object_get(p, "stopReason");
            }
        }
        json_array_foreach(blocks, fi, fr) {
            json_t *in = json_object_get(fr, "input");
            if (in)
                json_object_set_new(fr, "input", json_loads(json_string_value(in), 0, NULL));
        }
        json_t *scen = json_pack("{s:[{s:{s:o,s:O}}]}", "rules", "response", "content", blocks, "stop_reason", stop);
        char *scen_text = json_dumps(scen, JSON_COMPACT);
        struct emu u;
        emu_scenario(&u, scen_text);
        struct resp r;
        call(&u, SONNET, "converse-stream", body, true, &r);
        assert_int_equal(r.status, 200);
        struct evs x;
        decode(&r.body, &x);
        assert_true(x.ok);

        struct buf want = BUF_INIT(1 << 16), got = BUF_INIT(1 << 16);
        step_list(frames, NULL, &want);
        step_list(NULL, &x, &got);
        if (strcmp(buf_cstr(&want), buf_cstr(&got)))
            fail_msg("%s/%d: event steps differ\n  recorded: %s\n  emulated: %s", recs[i].dir, recs[i].k,
                     buf_cstr(&want), buf_cstr(&got));
        /* same three headers on every frame; every recorded field present */
        for (size_t j = 0; j < x.n; j++) {
            assert_int_equal(x.v[j].n_headers, 3);
            assert_string_equal(x.v[j].kind, "event");
            assert_string_equal(x.v[j].ctype, "application/json");
        }
        json_array_foreach(frames, fi, fr) {
            const char *et = jpath_str(json_object_get(fr, "headers"), ":event-type");
            json_t *ep = NULL;
            for (size_t j = 0; j < x.n && !ep; j++)
                if (!strcmp(x.v[j].type, et))
                    ep = x.v[j].payload;
            char missing[128];
            json_t *rp = json_object_get(fr, "payload");
            /* compare like with like: a delta of the same kind */
            for (size_t j = 0; j < x.n && json_object_get(rp, "delta"); j++) {
                json_t *d = json_object_get(x.v[j].payload, "delta");
                void *a = d ? json_object_iter(d) : NULL, *b = json_object_iter(json_object_get(rp, "delta"));
                bool sa = json_object_get(a ? json_object_iter_value(a) : NULL, "signature") != NULL;
                bool sb = json_object_get(b ? json_object_iter_value(b) : NULL, "signature") != NULL;
                if (a && b && !strcmp(json_object_iter_key(a), json_object_iter_key(b)) && sa == sb) {
                    ep = x.v[j].payload;
                    break;
                }
            }
            if (!ep || !has_keys(rp, ep, missing, sizeof missing))
                fail_msg("%s/%d: frame %zu (%s): field '%s' missing", recs[i].dir, recs[i].k, fi, et,
                         ep ? missing : "(event)");
        }
        buf_free(&want);
        buf_free(&got);
        evs_free(&x);
        resp_free(&r);
        emu_down(&u);
        free(scen_text);
        json_decref(scen);
        json_decref(frames);
        free(dec);
        free(body);
    }
}

/* The recorded non-streaming answers' fields all appear in ours. */
static void test_recorded_converse_fields(void **state)
{
    (void)state;
    const char *dirs[] = {"test_bedrock_model", "test_bedrock_model_retry", "test_bedrock_model_structured_output"};
    struct emu u;
    emu_scenario(&u, "{\"rules\": [{\"match\": {\"contains\": \"capital\"}, \"response\": {\"text\": \"Checking.\","
                     "\"tool_use\": {\"name\": \"get_capital\", \"input\": {\"country\": \"France\"}}}}]}");
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        char *body = read_rec(dirs[i], "0.request.json", &len);
        char *want = read_rec(dirs[i], "0.response.json", NULL);
        assert_non_null(body);
        assert_non_null(want);
        struct resp r;
        call(&u, SONNET, "converse", body, false, &r);
        assert_int_equal(r.status, 200);
        json_t *w = json_loads(want, 0, NULL), *g = body_json(&r);
        char missing[128];
        if (!has_keys(w, g, missing, sizeof missing))
            fail_msg("%s: field '%s' of the recorded answer is missing: %s", dirs[i], missing, buf_cstr(&r.body));
        json_decref(w);
        json_decref(g);
        resp_free(&r);
        free(body);
        free(want);
    }
    emu_down(&u);
}

/* ------------------------------------------------------------------ */
/* authentication                                                       */

static void test_sigv4_failures(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *path = model_path(SONNET, "converse");
    char *body = converse_body("hi");
    struct resp r;
    static const char mismatch[] = "The request signature we calculated does not match the signature you provided. "
                                   "Check your AWS Secret Access Key and signing method.";
    for (int h2 = 0; h2 < 2; h2++) {
        struct req q = {.path = path, .body = body, .h2 = h2, .secret = WRONG_SECRET};
        send_req(&u, &q, &r);
        expect_error(&r, 403, "InvalidSignatureException", mismatch);
        resp_free(&r);
    }
    struct req unknown = {.path = path, .body = body, .akid = "AKIDUNKNOWN", .secret = EX_SECRET};
    send_req(&u, &unknown, &r);
    expect_error(&r, 403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    resp_free(&r);
    struct req none = {.path = path, .body = body, .auth = AUTH_NONE};
    send_req(&u, &none, &r);
    expect_error(&r, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    resp_free(&r);
    struct req sts = {.path = path, .body = body, .service = "sts"};
    send_req(&u, &sts, &r);
    expect_error(&r, 403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'.");
    resp_free(&r);
    struct req old = {.path = path, .body = body, .skew_s = -3600};
    send_req(&u, &old, &r);
    expect_error(&r, 403, "InvalidSignatureException", "Signature expired: ");
    resp_free(&r);
    struct req tampered = {.path = path, .body = body, .tamper = "{\"messages\":[]}"};
    send_req(&u, &tampered, &r);
    expect_error(&r, 403, "InvalidSignatureException", mismatch);
    resp_free(&r);
    /* the second example key works too, in any region */
    struct req other = {.path = path, .body = body, .akid = EX2_AKID, .secret = EX2_SECRET, .region = "eu-west-3"};
    send_req(&u, &other, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *log = requests_log(&u);
    json_t *reqs = json_object_get(log, "requests");
    json_t *last = json_array_get(reqs, json_array_size(reqs) - 1);
    assert_string_equal(jpath_str(last, "auth.accessKeyId"), EX2_AKID);
    assert_string_equal(jpath_str(last, "auth.region"), "eu-west-3");
    assert_string_equal(jpath_str(last, "auth.signingName"), "bedrock");
    json_decref(log);
    free(path);
    free(body);
    emu_down(&u);
}

static char *write_keys(const char *dir)
{
    char *path = NULL;
    if (asprintf(&path, "%s/keys.json", dir) < 0)
        abort();
    char doc[2048];
    snprintf(doc, sizeof doc,
             "{\"keys\": [\n"
             " {\"AccessKeyId\": \"ASIASESSIONKEY01\", \"SecretAccessKey\": \"" SESSION_SECRET "\",\n"
             "  \"SessionToken\": \"" TOKEN_SECRET
             "\", \"Arn\": \"arn:aws:sts::111122223333:assumed-role/dev/alice\"},\n"
             " {\"AccessKeyId\": \"ASIAEXPIREDKEY01\", \"SecretAccessKey\": \"" SESSION_SECRET "\",\n"
             "  \"SessionToken\": \"" TOKEN_SECRET "\", \"Expiration\": \"2020-01-01T00:00:00Z\"},\n"
             " {\"ApiKey\": \"" API_KEY_SECRET "\"},\n"
             " {\"ApiKey\": \"" API_KEY_SECRET "-old\", \"Expiration\": \"2020-01-01T00:00:00Z\"}\n"
             "]}\n");
    test_write_file(path, doc);
    return path;
}

static void test_session_tokens_and_expiry(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *keys = write_keys(dir);
    struct emulator_options o = {.keys_path = keys};
    struct emu u;
    emu_up(&u, &o);
    char *path = model_path(SONNET, "converse");
    char *body = converse_body("hi");
    struct resp r;
    struct req good = {.path = path, .body = body, .h2 = true, .akid = "ASIASESSIONKEY01", .secret = SESSION_SECRET,
                       .token = TOKEN_SECRET};
    send_req(&u, &good, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    struct req notoken = good;
    notoken.token = NULL;
    send_req(&u, &notoken, &r);
    expect_error(&r, 403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    resp_free(&r);
    struct req badtoken = good;
    badtoken.token = "AnotherTokenThatIsNotRight";
    send_req(&u, &badtoken, &r);
    expect_error(&r, 403, "UnrecognizedClientException", NULL);
    resp_free(&r);
    struct req expired = good;
    expired.akid = "ASIAEXPIREDKEY01";
    send_req(&u, &expired, &r);
    expect_error(&r, 403, "ExpiredTokenException", "The security token included in the request is expired");
    resp_free(&r);

    /* expire a key on demand: only that key, until the faults are cleared */
    struct brock_err e = {0};
    const char *f = "{\"type\": \"expire_key\", \"access_key_id\": \"ASIASESSIONKEY01\"}";
    assert_int_equal(emulator_add_faults(u.em, f, strlen(f), &e), BROCK_OK);
    for (int i = 0; i < 2; i++) {
        send_req(&u, &good, &r);
        expect_error(&r, 403, "ExpiredTokenException", NULL);
        resp_free(&r);
    }
    call(&u, SONNET, "converse", body, false, &r);
    assert_int_equal(r.status, 200); /* the example key is fine */
    resp_free(&r);
    emulator_clear_faults(u.em);
    send_req(&u, &good, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(path);
    free(body);
    emu_down(&u);

    /* without the example keys, only the file's keys work */
    o.no_example_keys = true;
    emu_up(&u, &o);
    call(&u, SONNET, "converse", "{}", false, &r);
    expect_error(&r, 403, "UnrecognizedClientException", NULL);
    resp_free(&r);
    emu_down(&u);
    free(keys);
    free(dir);
}

static void test_bearer_keys(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *keys = write_keys(dir);
    struct emulator_options o = {.keys_path = keys};
    struct emu u;
    emu_up(&u, &o);
    char *path = model_path(SONNET, "converse");
    char *body = converse_body("bearer");
    struct resp r;
    struct brock_err e = {0};

    struct aws_credentials *ex = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "test");
    char *tok = NULL;
    assert_int_equal(bearer_mint(ex, "us-east-1", now_s(), 3600, &tok, NULL, &e), BROCK_OK);
    struct req q = {.path = path, .body = body, .auth = AUTH_BEARER, .bearer = tok};
    for (int h2 = 0; h2 < 2; h2++) {
        q.h2 = h2;
        send_req(&u, &q, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    json_t *log = requests_log(&u);
    assert_string_equal(jpath_str(log, "requests.0.auth.type"), "bearer");
    assert_string_equal(jpath_str(log, "requests.0.auth.kind"), "short-term");
    assert_string_equal(jpath_str(log, "requests.0.auth.accessKeyId"), EX_AKID);
    json_decref(log);
    char *all = emulator_requests_json(u.em);
    assert_null(strstr(all, tok + 20));
    free(all);

    /* a key whose signature was altered */
    char *bad = strdup(tok);
    size_t bl = strlen(bad);
    bad[bl - 6] = bad[bl - 6] == 'A' ? 'B' : 'A';
    q.bearer = bad;
    send_req(&u, &q, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    free(bad);
    xfree_secret(tok);

    /* expired: minted 13 hours ago for 12 */
    assert_int_equal(bearer_mint(ex, "us-east-1", now_s() - 13 * 3600, 43200, &tok, NULL, &e), BROCK_OK);
    q.bearer = tok;
    send_req(&u, &q, &r);
    expect_error(&r, 403, "InvalidSignatureException", "Request has expired");
    resp_free(&r);
    xfree_secret(tok);
    aws_credentials_release(ex);

    /* signed with a key the emulator does not know */
    struct aws_credentials *stranger = aws_credentials_new("AKIDSTRANGER", "strangerSecret0123456789", NULL, 0, "test");
    assert_int_equal(bearer_mint(stranger, "us-east-1", now_s(), 3600, &tok, NULL, &e), BROCK_OK);
    q.bearer = tok;
    send_req(&u, &q, &r);
    expect_error(&r, 403, "UnrecognizedClientException", NULL);
    resp_free(&r);
    xfree_secret(tok);
    aws_credentials_release(stranger);

    /* not base64 after the prefix */
    q.bearer = "bedrock-api-key-!!!!";
    send_req(&u, &q, &r);
    expect_error(&r, 403, "UnrecognizedClientException", "Invalid API key: ");
    resp_free(&r);

    /* long-term keys from the keys file */
    q.bearer = API_KEY_SECRET;
    send_req(&u, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    q.bearer = API_KEY_SECRET "-old";
    send_req(&u, &q, &r);
    expect_error(&r, 403, "ExpiredTokenException", NULL);
    resp_free(&r);
    q.bearer = "ABSKsomethingelse";
    send_req(&u, &q, &r);
    expect_error(&r, 403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    resp_free(&r);

    /* STS takes SigV4 only */
    struct req sts = {.path = "/", .body = "Action=GetCallerIdentity&Version=2011-06-15", .auth = AUTH_BEARER,
                      .bearer = API_KEY_SECRET, .content_type = "application/x-www-form-urlencoded"};
    send_req(&u, &sts, &r);
    assert_true(r.status == 400 || r.status == 403);
    assert_non_null(strstr(buf_cstr(&r.body), "<Code>IncompleteSignature</Code>"));
    resp_free(&r);
    free(path);
    free(body);
    emu_down(&u);
    free(keys);
    free(dir);
}

static void test_sts(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *keys = write_keys(dir);
    struct emulator_options o = {.keys_path = keys};
    struct emu u;
    emu_up(&u, &o);
    const char *form = "Action=GetCallerIdentity&Version=2011-06-15";
    struct req q = {.path = "/",
                    .body = form,
                    .service = "sts",
                    .content_type = "application/x-www-form-urlencoded; charset=utf-8"};
    struct resp r;
    send_req(&u, &q, &r);
    assert_int_equal(r.status, 200);
    char rid[64], ct[64];
    header(&r, "x-amzn-RequestId", rid, sizeof rid);
    assert_string_equal(header(&r, "content-type", ct, sizeof ct), "text/xml");
    const char *x = buf_cstr(&r.body);
    assert_non_null(strstr(x, "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"));
    assert_non_null(strstr(x, "<Arn>arn:aws:iam::123456789012:user/emulator</Arn>"));
    assert_non_null(strstr(x, "<Account>123456789012</Account>"));
    assert_non_null(strstr(x, "<UserId>AIDA"));
    char want_rid[128];
    snprintf(want_rid, sizeof want_rid, "<RequestId>%s</RequestId>", rid);
    assert_non_null(strstr(x, want_rid));
    resp_free(&r);

    /* an assumed-role session from the keys file */
    struct req role = q;
    role.akid = "ASIASESSIONKEY01";
    role.secret = SESSION_SECRET;
    role.token = TOKEN_SECRET;
    role.h2 = true;
    send_req(&u, &role, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(buf_cstr(&r.body), "<Arn>arn:aws:sts::111122223333:assumed-role/dev/alice</Arn>"));
    assert_non_null(strstr(buf_cstr(&r.body), "<Account>111122223333</Account>"));
    assert_non_null(strstr(buf_cstr(&r.body), ":alice</UserId>"));
    resp_free(&r);

    /* the query form */
    struct req get = {
        .method = "GET", .path = "/", .query = "Action=GetCallerIdentity&Version=2011-06-15", .service = "sts"};
    send_req(&u, &get, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    struct req wrong = q;
    wrong.secret = WRONG_SECRET;
    send_req(&u, &wrong, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(buf_cstr(&r.body), "<Type>Sender</Type>"));
    assert_non_null(strstr(buf_cstr(&r.body), "<Code>SignatureDoesNotMatch</Code>"));
    resp_free(&r);
    struct req scope = q;
    scope.service = "bedrock";
    send_req(&u, &scope, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(buf_cstr(&r.body), "Credential should be scoped to correct service: &apos;sts&apos;."));
    resp_free(&r);
    struct req other = q;
    other.body = "Action=AssumeRole&Version=2011-06-15";
    send_req(&u, &other, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(buf_cstr(&r.body), "<Code>InvalidAction</Code>"));
    resp_free(&r);
    emu_down(&u);
    free(keys);
    free(dir);
}

/* ------------------------------------------------------------------ */
/* faults                                                               */

static void post_faults(const struct emu *u, const char *json)
{
    struct req q = {.path = "/_emulator/faults", .body = json, .auth = AUTH_NONE};
    struct resp r;
    send_req(u, &q, &r);
    if (r.status != 200)
        fail_msg("POST /_emulator/faults: %ld %s", r.status, buf_cstr(&r.body));
    resp_free(&r);
}

static void test_http_faults(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *body = converse_body("x");
    struct resp r;
    post_faults(&u, "{\"type\": \"throttling\", \"count\": 2, \"retry_after_ms\": 250}");
    for (int i = 0; i < 2; i++) {
        call(&u, SONNET, "converse", body, i, &r);
        expect_error(&r, 429, "ThrottlingException", "Too many requests, please wait before trying again.");
        char h[32];
        assert_string_equal(header(&r, "x-amz-retry-after", h, sizeof h), "250");
        resp_free(&r);
    }
    call(&u, SONNET, "converse", body, false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    static const struct {
        const char *fault;
        long status;
        const char *code;
    } one[] = {
        {"{\"type\": \"internal\"}", 500, "InternalServerException"},
        {"{\"type\": \"unavailable\"}", 503, "ServiceUnavailableException"},
        {"{\"type\": \"model_not_ready\"}", 429, "ModelNotReadyException"},
        {"{\"type\": \"model_timeout\"}", 408, "ModelTimeoutException"},
        {"{\"type\": \"error\", \"code\": \"ModelErrorException\", \"message\": \"boom\"}", 424, "ModelErrorException"},
        {"{\"type\": \"error\", \"code\": \"ServiceQuotaExceededException\", \"status\": 400}", 400,
         "ServiceQuotaExceededException"},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        post_faults(&u, one[i].fault);
        call(&u, SONNET, "invoke-with-response-stream", "{}", i % 2, &r);
        expect_error(&r, one[i].status, one[i].code, NULL);
        resp_free(&r);
    }

    /* operation and model filters */
    post_faults(&u, "[{\"type\": \"internal\", \"operations\": [\"invoke\"]},"
                    " {\"type\": \"unavailable\", \"model\": \"anthropic.claude-haiku-4-5-20251001-v1:0\"}]");
    call(&u, SONNET, "converse", body, false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    call(&u, "global.anthropic.claude-haiku-4-5-20251001-v1:0", "converse", body, false, &r);
    expect_error(&r, 503, "ServiceUnavailableException", NULL); /* matched through the base id */
    resp_free(&r);
    char *mbody = messages_body("x");
    call(&u, SONNET, "invoke", mbody, false, &r);
    expect_error(&r, 500, "InternalServerException", NULL);
    resp_free(&r);
    free(mbody);

    /* until cleared, and what GET shows */
    post_faults(&u, "{\"type\": \"model_not_ready\", \"count\": -1}");
    for (int i = 0; i < 3; i++) {
        call(&u, SONNET, "converse", body, false, &r);
        expect_error(&r, 429, "ModelNotReadyException", NULL);
        resp_free(&r);
    }
    struct req get = {.method = "GET", .path = "/_emulator/faults", .auth = AUTH_NONE};
    send_req(&u, &get, &r);
    json_t *v = body_json(&r);
    assert_int_equal(json_array_size(json_object_get(v, "faults")), 1);
    assert_string_equal(jpath_str(v, "faults.0.type"), "model_not_ready");
    assert_int_equal(jpath_int(v, "faults.0.count"), -1);
    assert_string_equal(jpath_str(v, "faults.0.code"), "ModelNotReadyException");
    json_decref(v);
    resp_free(&r);
    struct req del = {.method = "DELETE", .path = "/_emulator/faults", .auth = AUTH_NONE};
    send_req(&u, &del, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    call(&u, SONNET, "converse", body, false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* drop: the connection closes without an answer */
    post_faults(&u, "{\"type\": \"drop\", \"count\": 2}");
    call(&u, SONNET, "converse", body, false, &r);
    assert_int_equal(r.rc, CURLE_GOT_NOTHING);
    resp_free(&r);
    call(&u, SONNET, "converse", body, true, &r);
    assert_true(r.rc != CURLE_OK);
    resp_free(&r);

    /* slow first byte */
    post_faults(&u, "{\"type\": \"slow\", \"delay_ms\": 300}");
    call(&u, SONNET, "converse", body, false, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.secs >= 0.29);
    resp_free(&r);

    /* a bad faults body says where */
    struct req bad = {
        .path = "/_emulator/faults", .body = "{\"type\": \"throttling\",\n \"count\": \"2\"}", .auth = AUTH_NONE};
    send_req(&u, &bad, &r);
    expect_error(&r, 400, "ValidationException", "request body:2:11: count: expected an integer, found a string");
    resp_free(&r);
    free(body);
    emu_down(&u);
}

static void test_stream_faults(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    char *cbody = converse_body("one two three four five six");
    char *mbody = messages_body("one two three four five six");
    struct resp r;
    struct evs x;

    /* an exception event after 3 events, then nothing */
    post_faults(&u, "{\"type\": \"stream_exception\", \"after\": 3}");
    call(&u, SONNET, "converse-stream", cbody, true, &r);
    assert_int_equal(r.status, 200);
    decode(&r.body, &x);
    assert_true(x.ok);
    assert_int_equal(x.n, 4);
    assert_string_equal(x.v[3].kind, "exception");
    assert_string_equal(x.v[3].type, "throttlingException");
    assert_string_equal(jpath_str(x.v[3].payload, "message"), "Too many tokens, please wait before trying again.");
    evs_free(&x);
    resp_free(&r);

    post_faults(&u, "{\"type\": \"stream_exception\", \"exception\": \"modelStreamErrorException\", \"after\": 2, "
                    "\"status\": 503, \"message\": \"upstream went away\"}");
    call(&u, SONNET, "invoke-with-response-stream", mbody, false, &r);
    decode(&r.body, &x);
    assert_int_equal(x.n, 3);
    assert_string_equal(x.v[2].type, "modelStreamErrorException");
    assert_int_equal(jpath_int(x.v[2].payload, "originalStatusCode"), 503);
    assert_string_equal(jpath_str(x.v[2].payload, "originalMessage"), "upstream went away");
    evs_free(&x);
    resp_free(&r);

    /* truncated: the stream ends cleanly without messageStop */
    post_faults(&u, "{\"type\": \"truncate\", \"after\": 2}");
    call(&u, SONNET, "converse-stream", cbody, false, &r);
    assert_int_equal(r.rc, CURLE_OK);
    decode(&r.body, &x);
    assert_true(x.ok);
    assert_int_equal(x.n, 2);
    char *seq = event_types(&x);
    assert_string_equal(seq, "messageStart,contentBlockDelta");
    free(seq);
    evs_free(&x);
    resp_free(&r);

    /* truncated by closing the connection / resetting the stream */
    for (int h2 = 0; h2 < 2; h2++) {
        post_faults(&u, "{\"type\": \"truncate\", \"after\": 2, \"abort\": true}");
        call(&u, SONNET, "invoke-with-response-stream", mbody, h2, &r);
        assert_true(r.rc != CURLE_OK);
        decode(&r.body, &x);
        assert_true(x.n <= 2);
        evs_free(&x);
        resp_free(&r);
    }

    /* a bad CRC on frame 1 (message CRC), then frame 2 (prelude CRC) */
    post_faults(&u, "{\"type\": \"bad_crc\", \"frame\": 1}");
    call(&u, SONNET, "converse-stream", cbody, true, &r);
    decode(&r.body, &x);
    assert_false(x.ok);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.fault, ES_FAULT_MESSAGE_CRC);
    evs_free(&x);
    resp_free(&r);
    post_faults(&u, "{\"type\": \"bad_crc\", \"frame\": 2, \"which\": \"prelude\"}");
    call(&u, SONNET, "invoke-with-response-stream", mbody, false, &r);
    decode(&r.body, &x);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.fault, ES_FAULT_PRELUDE_CRC);
    evs_free(&x);
    resp_free(&r);

    /* stream faults wait for a stream: a plain Converse leaves them be */
    post_faults(&u, "{\"type\": \"truncate\", \"after\": 1}");
    call(&u, SONNET, "converse", cbody, false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    call(&u, SONNET, "converse-stream", cbody, false, &r);
    decode(&r.body, &x);
    assert_int_equal(x.n, 1);
    evs_free(&x);
    resp_free(&r);

    /* the request log notes what was applied */
    json_t *log = requests_log(&u);
    json_t *reqs = json_object_get(log, "requests");
    assert_string_equal(jpath_str(json_array_get(reqs, 0), "streamFault"), "stream_exception");
    assert_int_equal(jpath_int(json_array_get(reqs, 0), "framesSent"), 4);
    json_decref(log);
    free(cbody);
    free(mbody);
    emu_down(&u);
}

/* ------------------------------------------------------------------ */
/* scenarios over HTTP                                                  */

static const char loop_scenario[] =
    "{\"description\": \"a three-step tool loop\",\n"
    " \"rules\": [\n"
    "  {\"name\": \"loop\", \"match\": {\"regex\": \"fix the bug|int main|patched\"}, \"operations\": [\"invoke\", "
    "\"invoke-with-response-stream\"],\n"
    "   \"responses\": [\n"
    "     {\"tool_use\": {\"name\": \"Read\", \"input\": {\"path\": \"main.c\"}}, \"usage\": {\"input_tokens\": 100, "
    "\"output_tokens\": 7}},\n"
    "     {\"text\": \"Found it.\", \"tool_use\": {\"name\": \"Edit\", \"input\": {\"path\": \"main.c\", \"new\": "
    "\"int main(void)\"}}},\n"
    "     {\"text\": \"The bug is fixed.\", \"usage\": {\"input_tokens\": 300, \"output_tokens\": 9, "
    "\"cache_read_input_tokens\": 250, \"cache_creation_input_tokens\": 12}}\n"
    "   ]},\n"
    "  {\"name\": \"broken\", \"match\": {\"equals\": \"break\"}, \"response\": {\"fault\": {\"type\": \"error\", "
    "\"code\": "
    "\"ModelErrorException\", \"message\": \"scripted\"}}},\n"
    "  {\"name\": \"slow\", \"match\": {\"equals\": \"slowly\"}, \"response\": {\"text\": \"a b c d\", "
    "\"first_byte_delay_ms\": 150, \"event_delay_ms\": 40}}\n"
    " ],\n"
    " \"default\": {\"text\": \"default answer\", \"stop_reason\": \"max_tokens\"}\n"
    "}";

static char *with_turns(json_t *msgs)
{
    json_t *b =
        json_pack("{s:s,s:i,s:O}", "anthropic_version", "bedrock-2023-05-31", "max_tokens", 1024, "messages", msgs);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

static void test_scenario_tool_loop(void **state)
{
    (void)state;
    struct emu u;
    emu_scenario(&u, loop_scenario);
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "please fix the bug");
    struct resp r;

    /* step 1: Read */
    char *b = with_turns(msgs);
    call(&u, SONNET, "invoke", b, false, &r);
    free(b);
    json_t *v = body_json(&r);
    assert_string_equal(jpath_str(v, "stop_reason"), "tool_use");
    assert_string_equal(jpath_str(v, "content.0.name"), "Read");
    assert_string_equal(jpath_str(v, "content.0.input.path"), "main.c");
    const char *id = jpath_str(v, "content.0.id");
    assert_int_equal(strncmp(id, "toolu_bdrk_01", 13), 0);
    assert_int_equal(jpath_int(v, "usage.input_tokens"), 100);
    assert_int_equal(jpath_int(v, "usage.output_tokens"), 7);
    char h[32];
    assert_string_equal(header(&r, "X-Amzn-Bedrock-Input-Token-Count", h, sizeof h), "100");
    json_array_append_new(msgs, json_pack("{s:s,s:O}", "role", "assistant", "content", json_object_get(v, "content")));
    json_array_append_new(msgs, json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "role", "user", "content", "type", "tool_result",
                                          "tool_use_id", id, "content", "int main() { return 1 }"));
    json_decref(v);
    resp_free(&r);

    /* step 2: the tool result comes back, Edit (streamed this time) */
    b = with_turns(msgs);
    call(&u, SONNET, "invoke-with-response-stream", b, true, &r);
    free(b);
    struct evs x;
    decode(&r.body, &x);
    assert_true(x.ok);
    json_t *content = json_array();
    struct buf input = BUF_INIT(4096);
    for (size_t i = 0; i < x.n; i++) {
        json_t *e = chunk_event(&x.v[i]);
        if (!strcmp(jpath_str(e, "type"), "content_block_start") && jpath_str(e, "content_block.id"))
            json_array_append_new(content,
                                  json_pack("{s:s,s:s,s:s}", "type", "tool_use", "id", jpath_str(e, "content_block.id"),
                                            "name", jpath_str(e, "content_block.name")));
        if (jpath_str(e, "delta.partial_json"))
            buf_addstr(&input, jpath_str(e, "delta.partial_json"));
        if (!strcmp(jpath_str(e, "type"), "message_delta"))
            assert_string_equal(jpath_str(e, "delta.stop_reason"), "tool_use");
        json_decref(e);
    }
    assert_int_equal(json_array_size(content), 1);
    assert_string_equal(jpath_str(content, "0.name"), "Edit");
    json_object_set_new(json_array_get(content, 0), "input", json_loads(buf_cstr(&input), 0, NULL));
    assert_string_equal(jpath_str(content, "0.input.new"), "int main(void)");
    json_array_append_new(msgs, json_pack("{s:s,s:o}", "role", "assistant", "content", content));
    json_array_append_new(msgs, json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "role", "user", "content", "type", "tool_result",
                                          "tool_use_id", jpath_str(content, "0.id"), "content", "patched"));
    buf_free(&input);
    evs_free(&x);
    resp_free(&r);

    /* step 3: the answer, with the scripted usage */
    b = with_turns(msgs);
    call(&u, SONNET, "invoke", b, false, &r);
    v = body_json(&r);
    assert_string_equal(jpath_str(v, "content.0.text"), "The bug is fixed.");
    assert_string_equal(jpath_str(v, "stop_reason"), "end_turn");
    assert_int_equal(jpath_int(v, "usage.input_tokens"), 300);
    assert_int_equal(jpath_int(v, "usage.cache_read_input_tokens"), 250);
    assert_int_equal(jpath_int(v, "usage.cache_creation_input_tokens"), 12);
    json_decref(v);
    resp_free(&r);
    /* step 3 again: the last response repeats */
    call(&u, SONNET, "invoke", b, false, &r);
    v = body_json(&r);
    assert_string_equal(jpath_str(v, "content.0.text"), "The bug is fixed.");
    json_decref(v);
    resp_free(&r);
    free(b);

    /* Converse is not in the rule's operations: the default answers */
    char *cb = converse_body("please fix the bug");
    call(&u, SONNET, "converse", cb, false, &r);
    v = body_json(&r);
    assert_string_equal(jpath_str(v, "output.message.content.0.text"), "default answer");
    assert_string_equal(jpath_str(v, "stopReason"), "max_tokens");
    json_decref(v);
    resp_free(&r);
    free(cb);

    /* a response that is a fault */
    cb = converse_body("break");
    call(&u, SONNET, "converse", cb, false, &r);
    expect_error(&r, 424, "ModelErrorException", "scripted");
    resp_free(&r);
    free(cb);

    /* delays: 150 ms before the head, 40 ms between events */
    cb = converse_body("slowly");
    call(&u, SONNET, "converse-stream", cb, false, &r);
    decode(&r.body, &x);
    assert_true(x.ok);
    assert_true(r.secs >= 0.15 + 0.04 * (double)(x.n - 1) - 0.01);
    evs_free(&x);
    resp_free(&r);
    free(cb);

    /* the log names the rule and step */
    json_t *log = requests_log(&u);
    json_t *reqs = json_object_get(log, "requests");
    assert_string_equal(jpath_str(json_array_get(reqs, 1), "rule"), "loop");
    assert_int_equal(jpath_int(json_array_get(reqs, 1), "step"), 1);
    assert_string_equal(jpath_str(json_array_get(reqs, 4), "rule"), "default");
    json_decref(log);

    /* reset rewinds the sequence */
    struct req reset = {.path = "/_emulator/reset", .auth = AUTH_NONE};
    send_req(&u, &reset, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    b = with_turns(msgs);
    call(&u, SONNET, "invoke", b, false, &r);
    v = body_json(&r);
    assert_string_equal(jpath_str(v, "content.0.name"), "Read");
    json_decref(v);
    resp_free(&r);
    free(b);
    json_decref(msgs);
    log = requests_log(&u);
    assert_int_equal(json_array_size(json_object_get(log, "requests")), 1);
    json_decref(log);
    emu_down(&u);
}

static void test_scenario_faults_at_start(void **state)
{
    (void)state;
    struct emu u;
    emu_scenario(&u, "{\"faults\": [{\"type\": \"throttling\", \"count\": 1}]}");
    char *b = converse_body("x");
    struct resp r;
    call(&u, SONNET, "converse", b, false, &r);
    expect_error(&r, 429, "ThrottlingException", NULL);
    resp_free(&r);
    call(&u, SONNET, "converse", b, false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    emulator_reset(u.em); /* the scenario's faults come back */
    call(&u, SONNET, "converse", b, false, &r);
    expect_error(&r, 429, "ThrottlingException", NULL);
    resp_free(&r);
    free(b);
    emu_down(&u);

    /* bad scenario / keys: emulator_new names the place */
    struct emulator *em = NULL;
    struct brock_err e = {0};
    const char *bad = "{\"rules\": [{\"response\": {\"txt\": \"x\"}}]}";
    struct emulator_options o = {.scenario_text = bad, .scenario_len = strlen(bad), .scenario_path = "s.json"};
    assert_int_equal(emulator_new(&o, &em, &e), BROCK_ERR_PARSE);
    assert_null(em);
    assert_int_equal(strncmp(e.msg, "s.json:1:26: rules[0].response: unknown field \"txt\"", 51), 0);
    struct emulator_options o2 = {.keys_path = "/nonexistent/keys.json"};
    assert_int_equal(emulator_new(&o2, &em, &e), BROCK_ERR_NOT_FOUND);
    struct emulator_options o3 = {.host = "0.0.0.0"};
    assert_int_equal(emulator_new(&o3, &em, &e), BROCK_ERR_USAGE);
}

/* ------------------------------------------------------------------ */
/* emulated prompt caching                                              */

static char *cached_converse(const char *system, const char *ttl, const char *user)
{
    json_t *cp = json_pack("{s:s}", "type", "default");
    if (ttl)
        json_object_set_new(cp, "ttl", json_string(ttl));
    json_t *b = json_pack("{s:[{s:s},{s:o}],s:[{s:s,s:[{s:s}]}]}", "system", "text", system, "cachePoint", cp,
                          "messages", "role", "user", "content", "text", user);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

static void usage_of(const struct resp *r, json_int_t *in, json_int_t *rd, json_int_t *wr)
{
    json_t *v = body_json(r);
    *in = jpath_int(v, "usage.inputTokens");
    *rd = jpath_int(v, "usage.cacheReadInputTokens");
    *wr = jpath_int(v, "usage.cacheWriteInputTokens");
    json_decref(v);
}

static void test_prompt_cache(void **state)
{
    (void)state;
    atomic_store(&clock_offset_ms, 0);
    struct emu u;
    emu_up(&u, NULL);
    /* 8000 bytes of system prompt: ~2000 tokens, over Sonnet 4.5's 1024 minimum */
    char *sys = malloc(8001);
    for (int i = 0; i < 8000; i++)
        sys[i] = (char)('a' + i % 26);
    sys[8000] = '\0';
    char *b = cached_converse(sys, NULL, "first question");
    struct resp r;
    json_int_t in1, rd1, wr1, in2, rd2, wr2;
    call(&u, SONNET, "converse", b, false, &r);
    usage_of(&r, &in1, &rd1, &wr1);
    resp_free(&r);
    assert_int_equal(rd1, 0);
    assert_int_equal(wr1, 2000);
    char *b2 = cached_converse(sys, NULL, "second question, longer");
    call(&u, SONNET, "converse", b2, false, &r);
    usage_of(&r, &in2, &rd2, &wr2);
    resp_free(&r);
    assert_int_equal(rd2, 2000); /* the prefix is read back */
    assert_int_equal(wr2, 0);
    assert_true(in2 > 0 && in2 < 20); /* only the uncached tail */

    /* the same prefix as a Messages body reads the same cache */
    char *mb = NULL;
    if (asprintf(&mb, "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"system\":[{\"type\":\"text\","
                      "\"text\":\"%s\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\","
                      "\"content\":\"third\"}]}", sys) < 0)
        abort();
    call(&u, SONNET, "invoke", mb, false, &r);
    json_t *v = body_json(&r);
    assert_int_equal(jpath_int(v, "usage.cache_read_input_tokens"), 2000);
    assert_int_equal(jpath_int(v, "usage.cache_creation_input_tokens"), 0);
    json_decref(v);
    resp_free(&r);

    /* 5 minutes later the entry is gone; a 1h point survives */
    atomic_store(&clock_offset_ms, 6 * 60 * 1000);
    call(&u, SONNET, "converse", b, false, &r);
    usage_of(&r, &in2, &rd2, &wr2);
    resp_free(&r);
    assert_int_equal(rd2, 0);
    assert_int_equal(wr2, 2000);
    free(b);
    sys[0] = 'Z'; /* a new prefix, cached for an hour */
    b = cached_converse(sys, "1h", "q");
    call(&u, SONNET, "converse", b, false, &r);
    usage_of(&r, &in2, &rd2, &wr2);
    resp_free(&r);
    assert_int_equal(wr2, 2000);
    atomic_store(&clock_offset_ms, 40 * 60 * 1000);
    call(&u, SONNET, "converse", b, false, &r);
    usage_of(&r, &in2, &rd2, &wr2);
    resp_free(&r);
    assert_int_equal(rd2, 2000);

    /* a prefix under the model's minimum is not cached */
    free(b);
    b = cached_converse("short system prompt", NULL, "q");
    for (int i = 0; i < 2; i++) {
        call(&u, SONNET, "converse", b, false, &r);
        usage_of(&r, &in2, &rd2, &wr2);
        resp_free(&r);
        assert_int_equal(rd2 + wr2, 0);
    }
    atomic_store(&clock_offset_ms, 0);
    free(b);
    free(b2);
    free(mb);
    free(sys);
    emu_down(&u);
}

/* ------------------------------------------------------------------ */
/* routes, control endpoints, the request log                           */

static void test_unknown_routes(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    struct resp r;
    struct req q = {.method = "GET", .path = "/", .auth = AUTH_NONE};
    send_req(&u, &q, &r);
    expect_error(&r, 404, "UnknownOperationException", NULL);
    resp_free(&r);
    struct req chat = {.path = "/model/x/chat", .body = "{}"};
    send_req(&u, &chat, &r);
    expect_error(&r, 404, "UnknownOperationException",
                 "The requested operation is not recognized by the service: POST /model/x/chat");
    resp_free(&r);
    struct req get = {.method = "GET", .path = "/model/x/converse"};
    send_req(&u, &get, &r);
    expect_error(&r, 404, "UnknownOperationException", NULL);
    resp_free(&r);
    /* CloudWatch over rpc-v2-cbor is recognised, not implemented */
    struct req cbor = {.path = "/service/GraniteServiceVersion20100801/operation/PutMetricData", .body = "{}"};
    send_req(&u, &cbor, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(buf_cstr(&r.body), "\"__type\":\"UnknownOperationException\""));
    resp_free(&r);
    /* the other AWS services answer in their own error shapes (emulator_aws.h;
     * their operations are tested in test_emulator_aws.c) */
    struct curl_slist *hl = curl_slist_append(NULL, "X-Amz-Target: Logs_20140328.PutLogEvents");
    hl = curl_slist_append(hl, "Content-Type: application/x-amz-json-1.1");
    CURL *c = curl_easy_init();
    struct resp lr;
    memset(&lr, 0, sizeof lr);
    buf_init(&lr.body, 1 << 20);
    buf_init(&lr.head, 1 << 20);
    char url[128];
    snprintf(url, sizeof url, "%s/", u.url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &lr);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &lr.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    assert_int_equal(lr.status, 403); /* unsigned */
    json_t *v = body_json(&lr);
    assert_string_equal(jpath_str(v, "__type"), "MissingAuthenticationTokenException");
    json_decref(v);
    resp_free(&lr);
    struct req cw = {.path = "/",
                     .body = "Action=PutMetricData&Version=2010-08-01",
                     .content_type = "application/x-www-form-urlencoded"};
    send_req(&u, &cw, &r); /* signed for bedrock, not monitoring */
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(buf_cstr(&r.body), "<Code>SignatureDoesNotMatch</Code>"));
    resp_free(&r);
    struct req ctl = {.method = "GET", .path = "/_emulator/nothing", .auth = AUTH_NONE};
    send_req(&u, &ctl, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    struct req health = {.method = "GET", .path = "/_emulator/health", .auth = AUTH_NONE};
    send_req(&u, &health, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    emu_down(&u);
}

static void test_request_log(void **state)
{
    (void)state;
    struct emu u;
    emu_up(&u, NULL);
    struct resp r;
    /* cache points and the whole body are visible; credentials are not */
    char *b = cached_converse("be brief", "1h", "hello");
    char *path = model_path(SONNET, "converse");
    struct req q = {.path = path, .body = b, .token = TOKEN_SECRET, .h2 = true};
    send_req(&u, &q, &r); /* the example key has no token on file: any token is accepted */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* a presigned-style query is redacted */
    struct req pq = {
        .path = path,
        .body = b,
        .auth = AUTH_NONE,
        .query =
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123456789abcdef&X-Amz-Security-Token=" TOKEN_SECRET};
    send_req(&u, &pq, &r);
    assert_int_equal(r.status, 400); /* IncompleteSignatureException: no X-Amz-Credential */
    resp_free(&r);
    struct req get = {.method = "GET", .path = "/_emulator/requests", .auth = AUTH_NONE};
    send_req(&u, &get, &r);
    const char *text = buf_cstr(&r.body);
    assert_null(strstr(text, TOKEN_SECRET));
    assert_null(strstr(text, "0123456789abcdef"));
    assert_null(strstr(text, "authorization"));
    json_t *v = body_json(&r);
    json_t *e0 = json_array_get(json_object_get(v, "requests"), 0);
    assert_string_equal(jpath_str(e0, "body.system.1.cachePoint.ttl"), "1h");
    assert_string_equal(jpath_str(e0, "auth.accessKeyId"), EX_AKID);
    assert_true(json_is_true(json_object_get(json_object_get(e0, "auth"), "sessionToken")));
    assert_non_null(jpath_str(e0, "headers.x-amz-date"));
    assert_int_equal(jpath_int(e0, "status"), 200);
    assert_int_equal(jpath_int(e0, "usage.cacheWrite"), 0); /* under the minimum */
    json_t *e1 = json_array_get(json_object_get(v, "requests"), 1);
    assert_string_equal(jpath_str(e1, "query"),
                        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=[redacted]&X-Amz-Security-Token=[redacted]");
    assert_string_equal(jpath_str(e1, "error"), "IncompleteSignatureException");
    json_decref(v);
    resp_free(&r);
    struct req del = {.method = "DELETE", .path = "/_emulator/requests", .auth = AUTH_NONE};
    send_req(&u, &del, &r);
    resp_free(&r);
    v = requests_log(&u);
    assert_int_equal(json_array_size(json_object_get(v, "requests")), 0);
    json_decref(v);
    free(b);
    free(path);
    emu_down(&u);
}

/* Many streams at once, some slow, some cut short. */
static void test_concurrent_streams(void **state)
{
    (void)state;
    struct emu u;
    emu_scenario(&u, "{\"rules\": [{\"match\": {\"contains\": \"slow\"}, \"response\": {\"text\": \"s l o w\", "
                     "\"event_delay_ms\": 20}}]}");
    post_faults(&u, "{\"type\": \"stream_exception\", \"after\": 1, \"count\": 3}");
    enum { N = 12 };
    /* One h2c connection per stream: libcurl 7.88 (Debian 12) fails to
     * multiplex prior-knowledge h2 transfers with any server ("Error in the
     * HTTP2 framing layer"; Node's http2 server too), so multiplexing on one
     * connection is exercised by tests/js/emulator_sdk.mjs instead. */
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
    CURL *easy[N];
    struct resp rs[N];
    char *bodies[N];
    struct curl_slist *hls[N];
    char *path = model_path(SONNET, "converse-stream");
    for (int i = 0; i < N; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        buf_init(&rs[i].body, 1 << 20);
        buf_init(&rs[i].head, 1 << 20);
        bodies[i] = converse_body(i % 2 ? "go slow please" : "quick one");
        /* sign each */
        struct aws_credentials *cr = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "t");
        const struct sigv4_header hs[] = {{"host", 4, u.host, strlen(u.host)},
                                          SIGV4_HEADER("content-type", "application/json")};
        struct sigv4_request sr = {.method = "POST",
                                   .path = path,
                                   .path_len = strlen(path),
                                   .headers = hs,
                                   .n_headers = 2,
                                   .body = bodies[i],
                                   .body_len = strlen(bodies[i])};
        struct sigv4_params p = {.creds = cr, .region = "us-east-1", .service = "bedrock", .time_s = now_s()};
        struct sigv4_signer *s = sigv4_signer_new();
        const struct sigv4_output *o;
        assert_int_equal(sigv4_sign_headers(s, &sr, &p, &o, NULL), BROCK_OK);
        hls[i] = curl_slist_append(NULL, "Content-Type: application/json");
        for (size_t k = 0; k < o->n_headers; k++) {
            char line[1024];
            snprintf(line, sizeof line, "%.*s: %.*s", (int)o->headers[k].name_len, o->headers[k].name,
                     (int)o->headers[k].value_len, o->headers[k].value);
            hls[i] = curl_slist_append(hls[i], line);
        }
        sigv4_signer_free(s);
        aws_credentials_release(cr);
        char url[256];
        snprintf(url, sizeof url, "%s%s", u.url, path);
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, bodies[i]);
        curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hls[i]);
        curl_easy_setopt(easy[i], CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &rs[i]);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 30L);
    }
    for (int i = 0; i < N; i++)
        curl_multi_add_handle(m, easy[i]);
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int exceptions = 0, complete = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)))
        if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
            fail_msg("a stream failed: %s", curl_easy_strerror(msg->data.result));
    for (int i = 0; i < N; i++) {
        long st = 0;
        curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &st);
        assert_int_equal(st, 200);
        struct evs x;
        decode(&rs[i].body, &x);
        assert_true(x.ok);
        if (x.n == 2 && !strcmp(x.v[1].kind, "exception"))
            exceptions++;
        else if (!strcmp(x.v[x.n - 1].type, "metadata"))
            complete++;
        evs_free(&x);
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        curl_slist_free_all(hls[i]);
        resp_free(&rs[i]);
        free(bodies[i]);
    }
    curl_multi_cleanup(m);
    assert_int_equal(exceptions, 3);
    assert_int_equal(complete, N - 3);
    free(path);
    emu_down(&u);
}

/* Stopping with slow streams in flight releases everything (ASan checks). */
struct bg {
    const struct emu *u;
    struct resp r;
};

static void *bg_call(void *arg)
{
    struct bg *b = arg;
    char *body = converse_body("slow");
    call(b->u, SONNET, "converse-stream", body, true, &b->r);
    free(body);
    return NULL;
}

static void test_stop_with_streams_in_flight(void **state)
{
    (void)state;
    struct emu u;
    emu_scenario(
        &u, "{\"rules\": [{\"response\": {\"text\": \"a b c d e f g h i j k l m n o p\", \"event_delay_ms\": 200}}]}");
    struct bg b = {&u, {0}};
    pthread_t t;
    pthread_create(&t, NULL, bg_call, &b);
    usleep(400 * 1000);
    int64_t t0 = time_mono_ms();
    emu_down(&u);
    assert_true(time_mono_ms() - t0 < 5000);
    pthread_join(t, NULL);
    struct evs x;
    decode(&b.r.body, &x);
    assert_true(x.n >= 1 && x.n < 10); /* cut off mid-stream */
    evs_free(&x);
    resp_free(&b.r);
}

/* SigV4 with ":authority" signed, as the AWS SDK for JavaScript signs over
 * HTTP/2: a request signed by AWS's own signer (@smithy/signature-v4, for
 * the fuzz corpus: fuzz/corpus/scenario/h2sig-js-sdk) verifies, and every
 * change to it is caught. */
#define H2_SECRET "fuzzSecretAccessKeyValue0123456789"

static const char *h2_secret = H2_SECRET;

static bool h2_lookup(void *ctx, const char *akid, struct sigv4_secret *out)
{
    (void)ctx;
    if (strcmp(akid, EX_AKID))
        return false;
    out->secret_access_key = h2_secret;
    out->session_token = NULL;
    return true;
}

static enum brock_status h2_verify(const char *text, int64_t now, struct sigv4_verified *ver, struct brock_err *e)
{
    char *copy = strdup(text);
    char *line[4], *s = copy;
    for (int i = 0; i < 4; i++) {
        line[i] = s;
        s = strchr(s, '\n');
        *s++ = '\0';
    }
    struct sigv4_header hs[16];
    size_t nh = 0;
    while (*s != '\n') {
        char *nl = strchr(s, '\n'), *colon = strchr(s, ':');
        *nl = '\0';
        hs[nh++] = (struct sigv4_header){s, (size_t)(colon - s), colon + 2, strlen(colon + 2)};
        s = nl + 1;
    }
    const char *body = s + 1;
    /* the server hands the HTTP/2 :authority over as a header of that name */
    hs[nh++] = (struct sigv4_header){":authority", 10, line[3], strlen(line[3])};
    struct sigv4_request r = {.method = line[0], .path = line[1], .path_len = strlen(line[1]), .query = line[2],
                              .query_len = strlen(line[2]), .headers = hs, .n_headers = nh, .body = body,
                              .body_len = strlen(body)};
    struct sigv4_verify_params p = {.lookup = h2_lookup, .now_s = now};
    struct sigv4_signer *signer = sigv4_signer_new();
    enum brock_status st = sigv4_verify(signer, &r, &p, ver, e);
    sigv4_signer_free(signer);
    free(copy);
    return st;
}

static char *replace1(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at)
        fail_msg("'%s' not in the signed request", from);
    char *out = NULL;
    if (asprintf(&out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from)) < 0)
        abort();
    return out;
}

static void test_h2_pseudo_header_signature(void **state)
{
    (void)state;
    const char *top = getenv("BROCK_TOP");
    char path[4096];
    snprintf(path, sizeof path, "%s/fuzz/corpus/scenario/h2sig-js-sdk", top ? top : ".");
    char *raw = test_read_file(path, NULL);
    if (!raw)
        fail_msg("cannot read %s", path);
    const char *text = raw + 1; /* the fuzz target's mode byte */
    const int64_t t0 = 1735689600; /* 2025-01-01T00:00:00Z, when it was signed */
    struct sigv4_verified ver;
    struct brock_err e = {0};
    assert_int_equal(h2_verify(text, t0, &ver, &e), BROCK_OK);
    assert_int_equal(ver.verdict, SIGV4_VALID);
    assert_string_equal(ver.service, "bedrock");
    assert_string_equal(ver.region, "us-east-1");
    assert_int_equal(h2_verify(text, t0 + 600, &ver, &e), BROCK_OK); /* within 15 minutes */

    static const struct {
        const char *from, *to;
        enum sigv4_verdict verdict;
    } changes[] = {
        {"\"hi\"", "\"ho\"", SIGV4_MISMATCH},                      /* the body */
        {"127.0.0.1:8910\n", "127.0.0.1:8911\n", SIGV4_MISMATCH},  /* :authority */
        {"%3A0/converse", "%3A0/converse-stream", SIGV4_MISMATCH}, /* the path */
        {"application/json", "application/xml", SIGV4_MISMATCH},   /* a signed header */
        {"Credential=AKIDEXAMPLE", "Credential=AKIDOTHER", SIGV4_UNKNOWN_KEY},
        {"x-amz-date: 20250101T000000Z", "x-amz-date: 20250101T000001Z", SIGV4_MISMATCH},
        {"x-amz-date: 20250101T000000Z", "x-amz-datum: 20250101T000000Z", SIGV4_INCOMPLETE},
        {", Signature=", ", Sig=", SIGV4_INCOMPLETE},
        {"SignedHeaders=:authority;", "SignedHeaders=:authority;;", SIGV4_INCOMPLETE},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        char *t = replace1(text, changes[i].from, changes[i].to);
        enum brock_status st = h2_verify(t, t0, &ver, &e);
        if (st != BROCK_ERR_AUTH || ver.verdict != changes[i].verdict)
            fail_msg("change %zu (%s): status %d verdict %d, wanted verdict %d: %s", i, changes[i].to, st, ver.verdict,
                     changes[i].verdict, e.msg);
        assert_string_equal(e.aws_code, sigv4_verdict_code(changes[i].verdict));
        free(t);
    }
    assert_int_equal(h2_verify(text, t0 + 3600, &ver, &e), BROCK_ERR_AUTH);
    assert_int_equal(ver.verdict, SIGV4_EXPIRED);
    h2_secret = "another secret";
    assert_int_equal(h2_verify(text, t0, &ver, &e), BROCK_ERR_AUTH);
    assert_int_equal(ver.verdict, SIGV4_MISMATCH);
    assert_null(strstr(e.msg, "another secret"));
    h2_secret = H2_SECRET;
    free(raw);
}

/* Nothing secret in anything the emulator logged during this run. */
static void test_no_secret_in_logs(void **state)
{
    (void)state;
    pthread_mutex_lock(&log_mu);
    const char *text = buf_cstr(&log_text);
    static const char *const secrets[] = {EX_SECRET,          EX2_SECRET,     TOKEN_SECRET,
                                          API_KEY_SECRET,     SESSION_SECRET, WRONG_SECRET,
                                          "bedrock-api-key-", "Signature=",   "Credential="};
    assert_true(log_text.len > 1000); /* requests were logged */
    assert_non_null(strstr(text, "emulate: POST /model/"));
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(text, secrets[i]))
            fail_msg("a log line shows '%s'", secrets[i]);
    pthread_mutex_unlock(&log_mu);
}

int main(void)
{
    test_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_setup(LOG_DEBUG, log_sink, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converse_http1_and_h2),
        cmocka_unit_test(test_invoke_model),
        cmocka_unit_test(test_invoke_stream),
        cmocka_unit_test(test_converse_stream),
        cmocka_unit_test(test_thinking_and_tool_use_streams),
        cmocka_unit_test(test_echo_thinking),
        cmocka_unit_test(test_count_tokens),
        cmocka_unit_test(test_model_ids),
        cmocka_unit_test(test_newer_model_refusals),
        cmocka_unit_test(test_thinking_display),
        cmocka_unit_test(test_deny_models),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_recorded_requests_accepted),
        cmocka_unit_test(test_recorded_error),
        cmocka_unit_test(test_recorded_stream_shapes),
        cmocka_unit_test(test_recorded_converse_fields),
        cmocka_unit_test(test_sigv4_failures),
        cmocka_unit_test(test_session_tokens_and_expiry),
        cmocka_unit_test(test_bearer_keys),
        cmocka_unit_test(test_sts),
        cmocka_unit_test(test_http_faults),
        cmocka_unit_test(test_stream_faults),
        cmocka_unit_test(test_scenario_tool_loop),
        cmocka_unit_test(test_scenario_faults_at_start),
        cmocka_unit_test(test_prompt_cache),
        cmocka_unit_test(test_unknown_routes),
        cmocka_unit_test(test_request_log),
        cmocka_unit_test(test_concurrent_streams),
        cmocka_unit_test(test_stop_with_streams_in_flight),
        cmocka_unit_test(test_h2_pseudo_header_signature),
        cmocka_unit_test(test_no_secret_in_logs),
    };
    int rc = cmocka_run_group_tests_name("emulator", tests, NULL, NULL);
    log_setup(LOG_WARN, NULL, NULL);
    buf_free(&log_text);
    curl_global_cleanup();
    return rc;
}
