/* Tests for src/server/gateway*: `brock serve` in-process, with the emulator
 * in-process as its upstream, driven by libcurl over HTTP/1.1 and h2c.
 *
 * The pure parts first (keys, routes, translation per model, usage from
 * answers and events), then the gateway live: every Bedrock Runtime
 * operation and the control-plane reads pass through (status, Bedrock's
 * headers, bodies, frame-by-frame streams checked with the event-stream
 * decoder), client identity (bearer keys, issued SigV4 keys, unknown clients
 * in Bedrock's 403 shape), translation seen by the upstream (the emulator's
 * request log), budgets refused in Bedrock's shape, the response cache,
 * throttling failover that sticks to the session, upstream cuts that reach
 * the client as exception frames, a client that leaves mid-stream, fair
 * admission between clients, graceful stop draining a stream, the ledger
 * rows, and that no key or secret reaches a log line or an answer. */
#define EMULATOR_INTERNAL
#include "../support/test.h"

#include <curl/curl.h>
#include <dirent.h>
#include <sched.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../../src/aws/credentials.h"
#include "../../src/aws/creds.h"
#include "../../src/aws/crypto.h"
#include "../../src/aws/eventstream.h"
#include "../../src/aws/http.h"
#include "../../src/aws/sigv4.h"
#include "../../src/server/emulator.h"
#include "../../src/server/gateway.h"
#include "../../src/server/gateway_int.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"
#include "../../src/util/codec.h"
#include "../../src/util/log.h"
#include "../../src/util/timeutil.h"

#define EX_AKID "AKIAIOSFODNN7EXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SONNET "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
#define SONNET_ENC "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
#define HAIKU3 "anthropic.claude-3-haiku-20240307-v1:0"

/* Client secrets: none may show up in a log line or an answer. */
#define TOK_ALICE "tok-alice-SECRET-0123456789abcdef"
#define TOK_BOB "tok-bob-SECRET-0123456789abcdefgh"
#define TOK_CAROL "tok-carol-SECRET-0123456789abcdef"
#define GW_AKID "BRGWGATEWAYISSUED0001"
#define GW_SECRET "gatewayIssuedSecret/0123456789ABCDEFabcdef"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct buf log_text = BUF_INIT((size_t)64 * 1024 * 1024);

static void log_sink(void *ctx, enum log_level level, const char *line)
{
    (void)ctx;
    (void)level;
    pthread_mutex_lock(&log_mu);
    buf_addstr(&log_text, line);
    buf_addc(&log_text, '\n');
    pthread_mutex_unlock(&log_mu);
}

static bool log_has(const char *s)
{
    pthread_mutex_lock(&log_mu);
    bool r = strstr(buf_cstr(&log_text), s) != NULL;
    pthread_mutex_unlock(&log_mu);
    return r;
}

/* ------------------------------------------------------------------ */
/* pure parts                                                           */

static void test_keys(void **state)
{
    (void)state;
    struct gateway_keys k = {0};
    struct brock_err e = {0};
    assert_int_equal(gateway_keys_add_spec(&k, TOK_ALICE "=alice/app", &e), BROCK_OK);
    assert_int_equal(gateway_keys_add_spec(&k, TOK_BOB "=bob", &e), BROCK_OK);
    assert_int_equal(k.n, 2);
    assert_string_equal(k.v[0].user, "alice");
    assert_string_equal(k.v[0].project, "app");
    assert_string_equal(k.v[1].project, "");
    /* bad specs: each names the part, none quotes the token */
    static const struct {
        const char *spec, *want;
    } bad[] = {
        {"short=alice", "token must be"},
        {TOK_CAROL, "no '=' found"},
        {TOK_CAROL "=", "user after '='"},
        {TOK_CAROL "=al ice", "user after '='"},
        {TOK_CAROL "=alice/", "project after '/'"},
        {TOK_ALICE "=carol", "same token is given twice"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        memset(&e, 0, sizeof e);
        assert_int_not_equal(gateway_keys_add_spec(&k, bad[i].spec, &e), BROCK_OK);
        if (!strstr(e.msg, bad[i].want))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].want, e.msg, bad[i].want);
        assert_null(strstr(e.msg, "SECRET"));
    }
    /* the file */
    const char *good = "{\"keys\": [{\"token\": \"" TOK_CAROL "\", \"user\": \"carol\", \"project\": \"web\", "
                       "\"daily_usd\": 2.5},\n {\"access_key_id\": \"" GW_AKID "\", \"secret_access_key\": \"" GW_SECRET
                       "\", \"user\": \"ci\", \"monthly_usd\": 10, \"max_rpm\": 1200}]}";
    assert_int_equal(gateway_keys_parse(&k, good, strlen(good), "keys.json", &e), BROCK_OK);
    assert_int_equal(k.n, 4);
    assert_true(k.v[2].daily_usd == 2.5);
    assert_int_equal(k.v[2].max_rpm, 0);
    assert_int_equal(k.v[3].max_rpm, 1200);
    assert_string_equal(k.v[3].access_key_id, GW_AKID);
    assert_true(k.v[3].monthly_usd == 10);
    static const struct {
        const char *text, *want;
    } badf[] = {
        {"{\"keys\": [{\"token\": \"tok-SECRET-zzzzzzzzzzzz\", \"user\": \"x\",}]}", "keys.json:1:"},
        {"{\"keys\": {}}", "expected {\"keys\": [...]}"},
        {"{\"keys\": [{\"token\": \"tok-SECRET-zzzzzzzzzzzz\"}]}", "keys[0]: \"user\" is required"},
        {"{\"keys\": [{\"user\": \"x\"}]}", "keys[0]: give either"},
        {"{\"keys\": [{\"token\": \"tok-SECRET-zzzzzzzzzzzz\", \"user\": \"x\", \"colour\": 1}]}",
         "unknown field 'colour'"},
        {"{\"keys\": [{\"token\": \"tok-SECRET-zzzzzzzzzzzz\", \"user\": \"x\", \"daily_usd\": -1}]}",
         "\"daily_usd\" and \"monthly_usd\""},
        {"{\"keys\": [{\"access_key_id\": \"AKIAZZZZZZZZZZZZZZZZ\", \"user\": \"x\"}]}", "\"secret_access_key\""},
        {"{\"keys\": [{\"token\": \"tok-SECRET-zzzzzzzzzzzz\", \"user\": \"x\", \"max_rpm\": 0}]}", "keys[0]: \"max_rpm\""},
        {"{\"keys\": [{\"token\": \"tok-SECRET-zzzzzzzzzzzz\", \"user\": \"x\", \"max_rpm\": 2.5}]}", "whole number"},
        {"{\"keys\": [{\"token\": \"tok-SECRET-zzzzzzzzzzzz\", \"user\": \"x\", \"max_rpm\": 1000001}]}", "1 to 1000000"},
        {"{\"keys\": [{\"token\": \"" TOK_ALICE "\", \"user\": \"x\"}]}", "token is given twice"},
        {"{\"keys\": [{\"token\": \"tok-SECRET-aaaaaaaaaaaa\", \"user\": \"x\"}, {\"token\": "
         "\"tok-SECRET-bbbbbbbbbbbb\", \"user\": \"y\"}, {\"token\": \"tok-SECRET-aaaaaaaaaaaa\", \"user\": \"z\"}]}",
         "keys[2]: the same token is given twice"},
        {"{\"keys\": [{\"access_key_id\": \"" GW_AKID "\", \"secret_access_key\": \"SECRETzzzzzzzzzzzzzz\", "
         "\"user\": \"x\"}]}",
         "keys[0]: the same access key id is given twice"},
        {"{\"keys\": [{\"access_key_id\": \"AKIAYYYYYYYYYYYYYYYY\", \"secret_access_key\": \"SECRETzzzzzzzzzzzzzz\", "
         "\"user\": \"x\"}, {\"access_key_id\": \"AKIAYYYYYYYYYYYYYYYY\", \"secret_access_key\": "
         "\"SECRETyyyyyyyyyyyyyy\", \"user\": \"y\"}]}",
         "keys[1]: the same access key id is given twice"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(badf); i++) {
        memset(&e, 0, sizeof e);
        size_t before = k.n;
        assert_int_not_equal(gateway_keys_parse(&k, badf[i].text, strlen(badf[i].text), "keys.json", &e), BROCK_OK);
        assert_int_equal(k.n, before);
        if (!strstr(e.msg, badf[i].want))
            fail_msg("file %zu: message '%s' lacks '%s'", i, e.msg, badf[i].want);
        assert_null(strstr(e.msg, "SECRET"));
    }
    /* many keys: a duplicate is found among thousands, and a token may
     * equal another key's access key id (different kinds) */
    gateway_keys_free(&k);
    struct buf big = BUF_INIT(GATEWAY_KEYS_FILE_MAX);
    buf_addstr(&big, "{\"keys\": [");
    for (int i = 0; i < 4000; i++)
        buf_addf(&big, "%s{\"token\": \"tok-SECRET-%06d-zz\", \"user\": \"u%d\"}", i ? ", " : "", i, i);
    buf_addstr(&big, ", {\"access_key_id\": \"AKIAXXXXXXXXXXXXXXXX\", \"secret_access_key\": \"SECRETxxxxxxxxxxxxxx\", "
                     "\"user\": \"ci\"}, {\"token\": \"AKIAXXXXXXXXXXXXXXXX\", \"user\": \"t\"}]}");
    assert_int_equal(gateway_keys_parse(&k, buf_cstr(&big), big.len, "keys.json", &e), BROCK_OK);
    assert_int_equal(k.n, 4002);
    const char *again = "{\"keys\": [{\"token\": \"tok-SECRET-new-zzzzz\", \"user\": \"n\"}, "
                        "{\"token\": \"tok-SECRET-003999-zz\", \"user\": \"m\"}]}";
    memset(&e, 0, sizeof e);
    assert_int_equal(gateway_keys_parse(&k, again, strlen(again), "more.json", &e), BROCK_ERR_PARSE);
    assert_string_equal(e.msg, "more.json: keys[1]: the same token is given twice");
    assert_int_equal(k.n, 4002);
    buf_free(&big);
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(gateway_keys_load(&k, path, &e), BROCK_ERR_NOT_FOUND);
    free(dir);
    gateway_keys_free(&k);
    assert_int_equal(k.n, 0);
}

static void test_route(void **state)
{
    (void)state;
    char m[256];
    assert_int_equal(gateway_route("/model/" SONNET_ENC "/invoke", m, sizeof m), GATEWAY_OP_INVOKE);
    assert_string_equal(m, SONNET);
    assert_int_equal(gateway_route("/model/" SONNET "/converse-stream", m, sizeof m), GATEWAY_OP_CONVERSE_STREAM);
    assert_int_equal(gateway_route("/model/x/invoke-with-response-stream", m, sizeof m), GATEWAY_OP_INVOKE_STREAM);
    assert_int_equal(gateway_route("/model/x/count-tokens", m, sizeof m), GATEWAY_OP_COUNT_TOKENS);
    assert_int_equal(gateway_route("/model/x/converse", m, sizeof m), GATEWAY_OP_CONVERSE);
    assert_int_equal(gateway_route("/model/x/invoke/extra", m, sizeof m), GATEWAY_OP_NONE);
    assert_int_equal(gateway_route("/model/x/chat", m, sizeof m), GATEWAY_OP_NONE);
    assert_int_equal(gateway_route("/model//invoke", m, sizeof m), GATEWAY_OP_NONE);
    assert_int_equal(gateway_route("/model/a%00b/invoke", m, sizeof m), GATEWAY_OP_NONE);
    assert_int_equal(gateway_route("/models/x/invoke", m, sizeof m), GATEWAY_OP_NONE);
    char small[4];
    assert_int_equal(gateway_route("/model/abcdef/invoke", small, sizeof small), GATEWAY_OP_NONE);
}

static json_t *translated(enum gateway_op op, const char *model, const char *body, struct gateway_body_info *info)
{
    char *out = NULL;
    size_t n = 0;
    gateway_translate(op, model, body, strlen(body), &out, &n, info);
    if (!out)
        return NULL;
    json_t *v = json_loadb(out, n, 0, NULL);
    assert_non_null(v);
    free(out);
    return v;
}

static bool arr_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

static void test_translate(void **state)
{
    (void)state;
    struct gateway_body_info info;
    /* Claude Code's streaming body for Sonnet 4.5 */
    const char *cc =
        "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":32000,"
        "\"anthropic_beta\":[\"claude-code-20250219\",\"interleaved-thinking-2025-05-14\","
        "\"fine-grained-tool-streaming-2025-05-14\",\"prompt-caching-scope-2026-01-05\",\"context-1m-2025-08-07\"],"
        "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":4000},\"output_config\":{\"effort\":\"high\"},"
        "\"metadata\":{\"user_id\":\"user_abc_account__session_1234\"},"
        "\"system\":[{\"type\":\"text\",\"text\":\"You are Claude Code.\"}],"
        "\"messages\":[{\"role\":\"system\",\"content\":\"Extra rules.\"},{\"role\":\"user\",\"content\":\"hi\"}]}";
    json_t *v = translated(GATEWAY_OP_INVOKE_STREAM, SONNET, cc, &info);
    assert_non_null(v);
    const json_t *betas = json_object_get(v, "anthropic_beta");
    assert_true(arr_has(betas, "interleaved-thinking-2025-05-14"));
    assert_true(arr_has(betas, "fine-grained-tool-streaming-2025-05-14"));
    assert_true(arr_has(betas, "context-1m-2025-08-07"));
    assert_false(arr_has(betas, "claude-code-20250219"));
    assert_false(arr_has(betas, "prompt-caching-scope-2026-01-05"));
    assert_null(json_object_get(v, "output_config")); /* Sonnet 4.5 takes no effort */
    assert_non_null(json_object_get(v, "thinking"));
    assert_non_null(json_object_get(v, "metadata"));
    const json_t *msgs = json_object_get(v, "messages");
    assert_int_equal(json_array_size(msgs), 1);
    const json_t *sys = json_object_get(v, "system");
    assert_int_equal(json_array_size(sys), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sys, 1), "text")), "Extra rules.");
    assert_string_equal(info.session, "user_abc_account__session_1234");
    assert_false(info.deterministic);
    assert_non_null(strstr(info.changes, "dropped beta claude-code-20250219"));
    assert_non_null(strstr(info.changes, "moved role:system"));
    assert_non_null(strstr(info.changes, "dropped output_config"));
    json_decref(v);

    /* the same flags on Opus 4.6: effort stays, context-1m stays */
    const char *opus = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,\"messages\":[],"
                       "\"anthropic_beta\":[\"effort-2025-11-24\",\"claude-code-20250219\"],"
                       "\"output_config\":{\"effort\":\"low\"},\"thinking\":{\"type\":\"adaptive\"}}";
    v = translated(GATEWAY_OP_INVOKE, "global.anthropic.claude-opus-4-6-v1", opus, &info);
    assert_non_null(v);
    assert_true(arr_has(json_object_get(v, "anthropic_beta"), "effort-2025-11-24"));
    assert_non_null(json_object_get(v, "output_config"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "thinking"), "type")), "adaptive");
    json_decref(v);

    /* Claude Code 2.1.332's streamed body for the newer models its table
     * names: they take what Opus 4.6 takes (effort, adaptive thinking, the
     * Bedrock betas); only the Anthropic-API-only flag goes */
    static const char *const newer[] = {"us.anthropic.claude-opus-4-7", "us.anthropic.claude-opus-4-8",
                                        "us.anthropic.claude-opus-5",   "us.anthropic.claude-opus-5-5",
                                        "us.anthropic.claude-sonnet-5", "us.anthropic.claude-sonnet-5-5",
                                        "us.anthropic.claude-haiku-5-5", "us.anthropic.claude-fable-5-2"};
    const char *cc5 = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64000,\"messages\":[],"
                      "\"anthropic_beta\":[\"claude-code-20250219\",\"interleaved-thinking-2025-05-14\","
                      "\"tool-search-tool-2025-10-19\",\"context-1m-2025-08-07\",\"context-management-2025-06-27\","
                      "\"effort-2025-11-24\"],\"output_config\":{\"effort\":\"xhigh\"},"
                      "\"context_management\":{\"edits\":[]},\"thinking\":{\"type\":\"adaptive\"}}";
    for (size_t i = 0; i < BROCK_ARRAY_LEN(newer); i++) {
        v = translated(GATEWAY_OP_INVOKE_STREAM, newer[i], cc5, &info);
        if (!v)
            fail_msg("%s: the Anthropic-only beta was not dropped", newer[i]);
        betas = json_object_get(v, "anthropic_beta");
        assert_false(arr_has(betas, "claude-code-20250219"));
        assert_int_equal(json_array_size(betas), 5);
        assert_non_null(json_object_get(v, "output_config"));
        assert_non_null(json_object_get(v, "context_management"));
        assert_string_equal(json_string_value(json_object_get(json_object_get(v, "thinking"), "type")), "adaptive");
        assert_string_equal(info.changes, "dropped beta claude-code-20250219");
        json_decref(v);
    }

    /* what the newer models refuse (their migration guides): sampling
     * parameters go, a thinking budget becomes adaptive; the 5.5 models
     * always think, so "disabled" goes too (Opus 5 keeps it) */
    const char *old_style = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":9000,\"temperature\":0,"
                            "\"top_p\":0.9,\"top_k\":40,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":4000,"
                            "\"display\":\"summarized\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    v = translated(GATEWAY_OP_INVOKE, "us.anthropic.claude-opus-4-7", old_style, &info);
    assert_non_null(v);
    assert_null(json_object_get(v, "temperature"));
    assert_null(json_object_get(v, "top_p"));
    assert_null(json_object_get(v, "top_k"));
    json_t *th = json_object_get(v, "thinking");
    assert_string_equal(json_string_value(json_object_get(th, "type")), "adaptive");
    assert_null(json_object_get(th, "budget_tokens"));
    assert_string_equal(json_string_value(json_object_get(th, "display")), "summarized");
    assert_false(info.deterministic); /* temperature 0 did not go upstream */
    assert_non_null(strstr(info.changes, "dropped temperature (the model takes no sampling parameters)"));
    assert_non_null(strstr(info.changes, "thinking budget -> adaptive"));
    json_decref(v);
    /* the same body on Opus 4.6: untouched */
    assert_null(translated(GATEWAY_OP_INVOKE, "us.anthropic.claude-opus-4-6-v1", old_style, &info));
    assert_true(info.deterministic == false);
    const char *off = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":5,\"thinking\":{\"type\":"
                      "\"disabled\"},\"messages\":[]}";
    v = translated(GATEWAY_OP_INVOKE, "us.anthropic.claude-opus-5-5", off, &info);
    assert_non_null(v);
    assert_null(json_object_get(v, "thinking"));
    assert_non_null(strstr(info.changes, "always thinks"));
    json_decref(v);
    assert_null(translated(GATEWAY_OP_INVOKE, "us.anthropic.claude-opus-5", off, &info));
    /* Converse: inferenceConfig's temperature and topP, the fields' top_k and budget */
    const char *conv5 = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],"
                        "\"inferenceConfig\":{\"maxTokens\":100,\"temperature\":0.2,\"topP\":0.5},"
                        "\"additionalModelRequestFields\":{\"top_k\":3,\"thinking\":{\"type\":\"enabled\","
                        "\"budget_tokens\":1024}}}";
    v = translated(GATEWAY_OP_CONVERSE, "us.anthropic.claude-sonnet-5", conv5, &info);
    assert_non_null(v);
    json_t *ic = json_object_get(v, "inferenceConfig");
    assert_int_equal(json_integer_value(json_object_get(ic, "maxTokens")), 100);
    assert_null(json_object_get(ic, "temperature"));
    assert_null(json_object_get(ic, "topP"));
    json_t *amrf = json_object_get(v, "additionalModelRequestFields");
    assert_null(json_object_get(amrf, "top_k"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(amrf, "thinking"), "type")), "adaptive");
    /* no display given: summarized, as the budget showed it (these models omit it by default) */
    assert_string_equal(json_string_value(json_object_get(json_object_get(amrf, "thinking"), "display")),
                        "summarized");
    assert_non_null(strstr(info.changes, "thinking budget -> adaptive, display summarized"));
    json_decref(v);
    assert_null(translated(GATEWAY_OP_CONVERSE, SONNET, conv5, &info));

    /* CountTokens: the body it counts is translated as the call's would be:
     * input.invokeModel.body (base64 of a Messages body) ... */
    const char *inner = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":100,\"temperature\":0.3,"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"count me\"}]}";
    struct buf ib = BUF_INIT(4096);
    assert_int_equal(base64_encode(&ib, inner, strlen(inner)), BROCK_OK);
    char ct[8192];
    snprintf(ct, sizeof ct, "{\"input\":{\"invokeModel\":{\"body\":\"%s\"}}}", buf_cstr(&ib));
    buf_free(&ib);
    v = translated(GATEWAY_OP_COUNT_TOKENS, "us.anthropic.claude-opus-4-7", ct, &info);
    assert_non_null(v);
    const char *nb = json_string_value(json_object_get(json_object_get(json_object_get(v, "input"), "invokeModel"),
                                                       "body"));
    assert_non_null(nb);
    struct buf dec = BUF_INIT(8192);
    assert_int_equal(base64_decode(&dec, nb, strlen(nb)), BROCK_OK);
    json_t *ij = json_loadb(dec.ptr, dec.len, 0, NULL);
    assert_non_null(ij);
    assert_null(json_object_get(ij, "temperature"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(ij, "messages"), 0),
                                                          "content")),
                        "count me");
    assert_non_null(strstr(info.changes, "dropped temperature"));
    json_decref(ij);
    buf_free(&dec);
    json_decref(v);
    /* ... unchanged for a model that takes it, so the original bytes go */
    assert_null(translated(GATEWAY_OP_COUNT_TOKENS, "us.anthropic.claude-opus-4-6-v1", ct, &info));
    /* ... and input.converse */
    const char *ctc = "{\"input\":{\"converse\":{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],"
                      "\"additionalModelRequestFields\":{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}}}}}";
    v = translated(GATEWAY_OP_COUNT_TOKENS, "us.anthropic.claude-sonnet-5", ctc, &info);
    assert_non_null(v);
    json_t *cth = json_object_get(
        json_object_get(json_object_get(json_object_get(v, "input"), "converse"), "additionalModelRequestFields"),
        "thinking");
    assert_string_equal(json_string_value(json_object_get(cth, "type")), "adaptive");
    json_decref(v);
    /* not JSON, or no body to count: left alone */
    assert_null(translated(GATEWAY_OP_COUNT_TOKENS, "us.anthropic.claude-opus-4-7", "{\"input\":{}}", &info));
    assert_null(translated(GATEWAY_OP_COUNT_TOKENS, "us.anthropic.claude-opus-4-7", "nope", &info));
    assert_null(translated(GATEWAY_OP_COUNT_TOKENS, "us.anthropic.claude-opus-4-7",
                           "{\"input\":{\"invokeModel\":{\"body\":\"!!!\"}}}", &info));

    /* adaptive thinking on a model without it: enabled with a budget */
    const char *adapt = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":8000,\"messages\":[],"
                        "\"thinking\":{\"type\":\"adaptive\"}}";
    v = translated(GATEWAY_OP_INVOKE, SONNET, adapt, &info);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "thinking"), "type")), "enabled");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "thinking"), "budget_tokens")), 4000);
    json_decref(v);

    /* Claude 3 Haiku: every beta goes, and the key with them */
    const char *h = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":1,\"messages\":[],"
                    "\"anthropic_beta\":[\"interleaved-thinking-2025-05-14\"],\"model\":\"x\",\"stream\":true}";
    v = translated(GATEWAY_OP_INVOKE, HAIKU3, h, &info);
    assert_non_null(v);
    assert_null(json_object_get(v, "anthropic_beta"));
    assert_null(json_object_get(v, "model"));
    assert_null(json_object_get(v, "stream"));
    json_decref(v);

    /* nothing to change: no new body (the original bytes go up untouched) */
    const char *plain = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":5,\"temperature\":0,"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assert_null(translated(GATEWAY_OP_INVOKE, SONNET, plain, &info));
    assert_true(info.parsed);
    assert_true(info.deterministic);
    assert_false(info.tool_results);
    assert_string_equal(info.changes, "");
    /* an unknown model (application profile ARN): betas left alone */
    const char *arn_body = "{\"anthropic_version\":\"v\",\"max_tokens\":5,\"messages\":[],"
                           "\"anthropic_beta\":[\"claude-code-20250219\"]}";
    assert_null(translated(GATEWAY_OP_INVOKE,
                           "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdefghijkl",
                           arn_body, &info));
    /* not JSON, count-tokens, control: untouched */
    assert_null(translated(GATEWAY_OP_INVOKE, SONNET, "not json", &info));
    assert_false(info.parsed);
    assert_null(translated(GATEWAY_OP_COUNT_TOKENS, SONNET, cc, &info));

    /* tool results in the last user message: not cacheable */
    const char *tr = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":5,\"temperature\":0,"
                     "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\"}]}]}";
    assert_null(translated(GATEWAY_OP_INVOKE, SONNET, tr, &info));
    assert_true(info.tool_results);

    /* Converse: betas in additionalModelRequestFields, system messages */
    const char *conv = "{\"messages\":[{\"role\":\"system\",\"content\":[{\"text\":\"be brief\"}]},"
                       "{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],\"inferenceConfig\":{\"temperature\":0},"
                       "\"additionalModelRequestFields\":{\"anthropic_beta\":[\"claude-code-20250219\"]}}";
    v = translated(GATEWAY_OP_CONVERSE, SONNET, conv, &info);
    assert_non_null(v);
    assert_null(json_object_get(json_object_get(v, "additionalModelRequestFields"), "anthropic_beta"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(v, "system"), 0), "text")),
                        "be brief");
    assert_true(info.deterministic);
    json_decref(v);
}

/* The scanner (gateway_translate, gateway_usage_from_answer) and the jansson
 * path (gw_*_json) agree on every body: the same facts, the same notes, the
 * same JSON out; what the scanner is unsure of it leaves to jansson. */
static void same_translation(enum gateway_op op, const char *model, const char *body, size_t n)
{
    char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    struct gateway_body_info ia, ib;
    gateway_translate(op, model, body, n, &a, &an, &ia);
    gw_translate_json(op, model, body, n, &b, &bn, &ib);
    if (ia.parsed != ib.parsed || ia.deterministic != ib.deterministic || ia.tool_results != ib.tool_results ||
        strcmp(ia.session, ib.session) || strcmp(ia.changes, ib.changes) || !a != !b)
        fail_msg("translation differs for %s: %.200s", gateway_op_name(op), body);
    if (a) {
        json_t *x = json_loadb(a, an, 0, NULL), *y = json_loadb(b, bn, 0, NULL);
        if (!x || !y || !json_equal(x, y))
            fail_msg("translated bodies differ for %.200s:\n%.300s\n%.300s", body, a, b);
        json_decref(x);
        json_decref(y);
    }
    free(a);
    free(b);
}

static void test_translate_scanner(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":32000,"
        "\"anthropic_beta\":[\"claude-code-20250219\",\"interleaved-thinking-2025-05-14\",\"context-1m-2025-08-07\"],"
        "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":4000},\"output_config\":{\"effort\":\"high\"},"
        "\"context_management\":{\"edits\":[]},\"metadata\":{\"user_id\":\"user_abc_session_1\"},"
        "\"system\":[{\"type\":\"text\",\"text\":\"You are Claude Code.\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a \\\"quoted\\\" \\u00e9 line\\n\"}]}]}",
        "{\"model\":\"claude\",\"stream\":true,\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        " { \"anthropic_version\" : \"v\" , \"temperature\" : 0.0 , \"messages\" : [ ] } \n",
        "{\"anthropic_version\":\"v\",\"temperature\":-0,\"thinking\":{\"type\":\"disabled\"},\"messages\":[]}",
        "{\"anthropic_version\":\"v\",\"temperature\":0,\"thinking\":null,\"messages\":[]}",
        "{\"anthropic_version\":\"v\",\"temperature\":1e-400,\"messages\":[]}",
        "{\"anthropic_version\":\"v\",\"temperature\":1e400,\"messages\":[]}",
        "{\"anthropic_version\":\"v\",\"max_tokens\":123456789012345678901234,\"messages\":[]}",
        "{\"anthropic_version\":\"v\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\"}]}]}",
        "{\"anthropic_version\":\"v\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"tool\\u005fresult\"}]}]}",
        "{\"anthropic_version\":\"v\",\"messages\":[{\"role\":\"user\",\"content\":[{\"toolResult\":{}}]},5]}",
        "{\"anthropic_version\":\"v\",\"messages\":[{\"role\":\"system\",\"content\":\"rules\"},"
        "{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"anthropic_version\":\"v\",\"metadata\":{\"user_id\":42,\"session\":\"s1\"},\"messages\":[]}",
        "{\"anthropic_version\":\"v\",\"metadata\":{\"user_id\":\"a\\\"b\"},\"messages\":[]}",
        "{\"mo\\u0064el\":\"x\",\"messages\":[]}",
        "{\"model\":\"x\",\"model\":\"y\",\"messages\":[]}",
        "{\"anthropic_beta\":[\"claude-code-20250219\"],\"messages\":[]}",
        "{\"anthropic_beta\":[\"claude-code-20250219\",5],\"anthropic_version\":\"v\"}",
        "{\"anthropic_beta\":\"claude-code-20250219\",\"anthropic_version\":\"v\"}",
        "{\"thinking\":{\"type\":\"adaptive\"},\"max_tokens\":8000,\"anthropic_version\":\"v\",\"messages\":[]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],\"inferenceConfig\":{\"temperature\":0},"
        "\"requestMetadata\":{\"session\":\"abc\"},\"additionalModelRequestFields\":{\"thinking\":{\"type\":\"enabled\"}}}",
        "{\"messages\":[],\"additionalModelRequestFields\":{\"anthropic_beta\":[\"claude-code-20250219\"]}}",
        "{\"anthropic_version\":\"v\",\"messages\":[]} x",
        "{\"anthropic_version\":\"v\",\"messages\":[],}",
        "{\"a\":01,\"model\":1}",
        "{\"a\":\"\\u0000\",\"model\":1}",
        "{\"a\":\"\\ud800\",\"model\":1}",
        "{\"a\":\"\\ud83d\\ude00\",\"model\":1}",
        "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"model\":1}",
        "{\"a\":\"\xc0\xaf\",\"model\":1}",
        "{\"a\":\"\xed\xa0\x80\",\"model\":1}",
        "{\"a\":\"tab\there\",\"model\":1}",
        "[1]",
        "",
        "{}",
        /* what a newer model refuses */
        "{\"anthropic_version\":\"v\",\"top_p\":0.9,\"top_k\":5,\"messages\":[]}",
        "{\"anthropic_version\":\"v\",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000,\"display\":\"omitted\"},"
        "\"messages\":[]}",
        "{\"messages\":[],\"inferenceConfig\":{\"maxTokens\":5,\"topP\":0.5},"
        "\"additionalModelRequestFields\":{\"top_k\":3}}",
        "{\"messages\":[],\"additionalModelRequestFields\":{\"thinking\":{\"type\":\"disabled\"}}}",
    };
    static const enum gateway_op ops[] = {GATEWAY_OP_INVOKE, GATEWAY_OP_INVOKE_STREAM, GATEWAY_OP_CONVERSE,
                                          GATEWAY_OP_COUNT_TOKENS};
    static const char *const models[] = {SONNET,
                                         HAIKU3,
                                         "global.anthropic.claude-opus-4-6-v1",
                                         "us.anthropic.claude-opus-4-7",
                                         "us.anthropic.claude-opus-5-5",
                                         "unknown"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bodies); i++)
        for (size_t o = 0; o < BROCK_ARRAY_LEN(ops); o++)
            for (size_t m = 0; m < BROCK_ARRAY_LEN(models); m++)
                same_translation(ops[o], models[m], bodies[i], strlen(bodies[i]));
    /* deep nesting: the scanner leaves it to jansson */
    struct buf deep = BUF_INIT(BUF_MAX_SMALL);
    buf_addstr(&deep, "{\"model\":1,\"a\":");
    for (int i = 0; i < 1000; i++)
        buf_addc(&deep, '[');
    for (int i = 0; i < 1000; i++)
        buf_addc(&deep, ']');
    buf_addc(&deep, '}');
    same_translation(GATEWAY_OP_INVOKE, SONNET, deep.ptr, deep.len);
    buf_free(&deep);
    /* the Claude Code body keeps every member it does not change, byte for byte */
    char *out = NULL;
    size_t n = 0;
    struct gateway_body_info info;
    gateway_translate(GATEWAY_OP_INVOKE, SONNET, bodies[0], strlen(bodies[0]), &out, &n, &info);
    assert_non_null(out);
    assert_non_null(strstr(out, "\"anthropic_beta\":[\"interleaved-thinking-2025-05-14\",\"context-1m-2025-08-07\"]"));
    assert_non_null(strstr(out, "\"text\":\"a \\\"quoted\\\" \\u00e9 line\\n\""));
    assert_null(strstr(out, "output_config"));
    free(out);

    static const char *const answers[] = {
        "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":42,"
        "\"output_tokens\":7,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":5}}",
        "{\"content\":[{\"type\":\"server_tool_use\"}],\"stop_reason\":null,\"usage\":{\"input_tokens\":1.5}}",
        "{\"usage\":{\"input_tokens\":1,\"input_tokens\":2}}",
        "{\"stop_reason\":\"a\\\"b\",\"usage\":5}",
        "{\"output\":{\"message\":{\"content\":[{\"toolUse\":{}}]}},\"stopReason\":\"tool_use\","
        "\"usage\":{\"inputTokens\":3,\"outputTokens\":4}}",
        "{\"content\":[]} trailing",
        "not json",
    };
    static const char *const events[] = {
        "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}",
        "{\"usage\":{\"output_tokens\":2.5},\"type\":\"message_delta\"}",
        "{\"type\":\"content_block_start\",\"content_block\":{\"type\":\"tool_use\",\"input\":{}}}",
        "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":7,\"outputTokenCount\":15}}",
        "{\"type\":\"message_stop\",\"type\":\"x\"}",
        "{\"usage\":{\"inputTokens\":3,\"outputTokens\":4},\"stopReason\":\"end_turn\",\"start\":{\"toolUse\":{}}}",
        "not json",
    };
    static const char *const conv_types[] = {"metadata", "messageStop", "contentBlockStart"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(events); i++) {
        struct buf b64 = BUF_INIT(4096), payload = BUF_INIT(8192);
        assert_int_equal(base64_encode(&b64, events[i], strlen(events[i])), BROCK_OK);
        buf_addf(&payload, "{\"bytes\":\"%s\",\"p\":\"abc\"}", buf_cstr(&b64));
        for (size_t t = 0; t <= BROCK_ARRAY_LEN(conv_types); t++) {
            struct gateway_usage a = {0}, b = {0};
            if (t == BROCK_ARRAY_LEN(conv_types)) {
                gateway_usage_from_event(GATEWAY_OP_INVOKE_STREAM, "chunk", 5, (const uint8_t *)payload.ptr,
                                         payload.len, &a);
                gw_usage_from_event_json(GATEWAY_OP_INVOKE_STREAM, "chunk", 5, (const uint8_t *)payload.ptr,
                                         payload.len, &b);
            } else {
                const char *et = conv_types[t];
                gateway_usage_from_event(GATEWAY_OP_CONVERSE_STREAM, et, strlen(et), (const uint8_t *)events[i],
                                         strlen(events[i]), &a);
                gw_usage_from_event_json(GATEWAY_OP_CONVERSE_STREAM, et, strlen(et), (const uint8_t *)events[i],
                                         strlen(events[i]), &b);
            }
            if (a.input != b.input || a.output != b.output || a.cache_read != b.cache_read ||
                a.cache_write != b.cache_write || strcmp(a.stop_reason, b.stop_reason) || a.tool_use != b.tool_use ||
                a.complete != b.complete)
                fail_msg("event usage differs for %s", events[i]);
        }
        buf_free(&b64);
        buf_free(&payload);
    }
    for (size_t i = 0; i < BROCK_ARRAY_LEN(answers); i++)
        for (int c = 0; c < 2; c++) {
            enum gateway_op op = c ? GATEWAY_OP_CONVERSE : GATEWAY_OP_INVOKE;
            struct gateway_usage a = {0}, b = {0};
            gateway_usage_from_answer(op, answers[i], strlen(answers[i]), &a);
            gw_usage_from_answer_json(op, answers[i], strlen(answers[i]), &b);
            if (a.input != b.input || a.output != b.output || a.cache_read != b.cache_read ||
                a.cache_write != b.cache_write || strcmp(a.stop_reason, b.stop_reason) || a.tool_use != b.tool_use ||
                a.complete != b.complete)
                fail_msg("usage differs for %s", answers[i]);
        }
}

static void test_usage(void **state)
{
    (void)state;
    struct gateway_usage u = {0};
    const char *inv = "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"end_turn\",\"usage\":"
                      "{\"input_tokens\":42,\"output_tokens\":7,\"cache_creation_input_tokens\":100,"
                      "\"cache_read_input_tokens\":5}}";
    gateway_usage_from_answer(GATEWAY_OP_INVOKE, inv, strlen(inv), &u);
    assert_int_equal(u.input, 42);
    assert_int_equal(u.output, 7);
    assert_int_equal(u.cache_write, 100);
    assert_int_equal(u.cache_read, 5);
    assert_string_equal(u.stop_reason, "end_turn");
    assert_false(u.tool_use);
    assert_true(u.complete);
    memset(&u, 0, sizeof u);
    const char *conv = "{\"output\":{\"message\":{\"content\":[{\"toolUse\":{\"name\":\"x\"}}]}},\"stopReason\":"
                       "\"tool_use\",\"usage\":{\"inputTokens\":3,\"outputTokens\":4,\"cacheReadInputTokens\":1,"
                       "\"cacheWriteInputTokens\":2}}";
    gateway_usage_from_answer(GATEWAY_OP_CONVERSE, conv, strlen(conv), &u);
    assert_int_equal(u.input + u.output + u.cache_read + u.cache_write, 10);
    assert_true(u.tool_use);
    /* stream events: a chunk holding message_start, one holding message_delta */
    memset(&u, 0, sizeof u);
    const char *ev[] = {
        "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":11,\"cache_read_input_tokens\":3,"
        "\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi there, a long one\"}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}",
        "{\"type\":\"message_stop\"}",
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(ev); i++) {
        struct buf b64 = BUF_INIT(4096), payload = BUF_INIT(8192);
        assert_int_equal(base64_encode(&b64, ev[i], strlen(ev[i])), BROCK_OK);
        buf_addf(&payload, "{\"bytes\":\"%s\",\"p\":\"abc\"}", buf_cstr(&b64));
        gateway_usage_from_event(GATEWAY_OP_INVOKE_STREAM, "chunk", 5, (const uint8_t *)payload.ptr, payload.len, &u);
        buf_free(&b64);
        buf_free(&payload);
    }
    assert_int_equal(u.input, 11);
    assert_int_equal(u.cache_read, 3);
    assert_int_equal(u.output, 9);
    assert_string_equal(u.stop_reason, "end_turn");
    assert_true(u.complete);
    memset(&u, 0, sizeof u);
    const char *md = "{\"usage\":{\"inputTokens\":5,\"outputTokens\":6},\"metrics\":{\"latencyMs\":1}}";
    gateway_usage_from_event(GATEWAY_OP_CONVERSE_STREAM, "metadata", 8, (const uint8_t *)md, strlen(md), &u);
    assert_int_equal(u.output, 6);
    assert_true(u.complete);
}

/* ------------------------------------------------------------------ */
/* the live fixture                                                     */

struct fx {
    struct emulator *em;
    struct gateway *gw;
    struct aws_credentials *creds;
    struct gateway_keys keys;
    char *dir;
    char url[80];
};

#define SLOW_SCENARIO                                                                                              \
    "{\"rules\": [{\"match\": {\"contains\": \"slow stream\"}, \"response\": {\"text\": \"one two three four five "  \
    "six seven eight nine ten eleven twelve\", \"event_delay_ms\": 150}}]}"

struct fx_opts {
    const char *const *regions;
    size_t n_regions;
    size_t max_upstream, max_per_client;
    int queue_timeout_ms;
    const struct gateway_target *fallback;
    size_t n_fallback;
    bool no_cache, no_translate;
    const char *scenario;
    const struct aws_creds_source *creds; /* NULL = the static test set */
    int creds_check_ms;
    gateway_record_fn *record;
    void *record_ctx;
    bool realtime;
    int write_timeout_ms;
    long rpm_per_client;
    enum brock_status (*reload_keys)(void *ctx, struct gateway_keys *out, struct brock_err *e);
    void *reload_ctx;
    long max_idle_upstream;
    int emu_keepalive_ms;
};

static void fx_up(struct fx *f, const struct fx_opts *fo)
{
    memset(f, 0, sizeof *f);
    struct brock_err e = {0};
    const char *scen = fo && fo->scenario ? fo->scenario : SLOW_SCENARIO;
    struct emulator_options eo = {.scenario_text = scen, .scenario_len = strlen(scen), .scenario_path = "test.json",
                                  .keepalive_timeout_ms = fo ? fo->emu_keepalive_ms : 0};
    if (emulator_start(&eo, &f->em, &e) != BROCK_OK)
        fail_msg("emulator_start: %s", e.msg);
    f->creds = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "test");
    assert_int_equal(gateway_keys_add_spec(&f->keys, TOK_ALICE "=alice/app", &e), BROCK_OK);
    assert_int_equal(gateway_keys_add_spec(&f->keys, TOK_BOB "=bob/web", &e), BROCK_OK);
    const char *kf = "{\"keys\": [{\"access_key_id\": \"" GW_AKID "\", \"secret_access_key\": \"" GW_SECRET
                     "\", \"user\": \"ci\"}, {\"token\": \"" TOK_CAROL "\", \"user\": \"carol\", \"daily_usd\": 0.0001, "
                     "\"max_rpm\": 120}]}";
    assert_int_equal(gateway_keys_parse(&f->keys, kf, strlen(kf), "keys", &e), BROCK_OK);
    f->dir = test_tmpdir();
    struct gateway_options o;
    gateway_options_init(&o);
    o.port = 0;
    o.keys = &f->keys;
    o.upstream = (struct aws_client_config){
        .region = "us-west-2",
        .endpoint_url = emulator_url(f->em),
        .endpoint_label = "test emulator",
        .creds = aws_creds_source_static(f->creds),
    };
    o.store_dir = f->dir;
    if (fo) {
        o.max_upstream = fo->max_upstream;
        o.max_per_client = fo->max_per_client;
        o.queue_timeout_ms = fo->queue_timeout_ms;
        o.fallback = fo->fallback;
        o.n_fallback = fo->n_fallback;
        o.regions = fo->regions;
        o.n_regions = fo->n_regions;
        o.no_cache = fo->no_cache;
        o.no_translate = fo->no_translate;
        if (fo->creds)
            o.upstream.creds = *fo->creds;
        o.creds_check_ms = fo->creds_check_ms;
        o.record = fo->record;
        o.record_ctx = fo->record_ctx;
        o.realtime = fo->realtime;
        o.write_timeout_ms = fo->write_timeout_ms;
        o.rpm_per_client = fo->rpm_per_client;
        o.reload_keys = fo->reload_keys;
        o.reload_ctx = fo->reload_ctx;
        o.max_idle_upstream = fo->max_idle_upstream;
    }
    if (gateway_new(&o, &f->gw, &e) != BROCK_OK)
        fail_msg("gateway_new: %s", e.msg);
    assert_int_equal(gateway_start_thread(f->gw, &e), BROCK_OK);
    snprintf(f->url, sizeof f->url, "%s", gateway_url(f->gw));
}

static void fx_down(struct fx *f)
{
    gateway_free(f->gw);
    emulator_stop(f->em);
    aws_credentials_release(f->creds);
    gateway_keys_free(&f->keys);
    /* f->dir stays for the ledger checks; the test frees it */
}

/* ---- HTTP ---- */

struct req {
    const char *method; /* NULL = POST */
    const char *path;
    const char *body;
    const char *bearer; /* NULL: none (unless sigv4) */
    bool sigv4;
    const char *secret; /* sigv4: NULL = GW_SECRET */
    bool h2;
    size_t abort_after; /* stop reading after this many body bytes (0 = never) */
    void (*stall)(void *arg); /* called once at the first body bytes, which wait for it */
    void *stall_arg;
};

struct resp {
    long status;
    CURLcode rc;
    struct buf body, head;
};

struct wctx {
    struct resp *r;
    const struct req *q;
    bool stalled;
};

static size_t w_body(char *p, size_t size, size_t n, void *ud)
{
    struct wctx *c = ud;
    if (c->q->stall && !c->stalled) {
        c->stalled = true;
        c->q->stall(c->q->stall_arg);
    }
    buf_add(&c->r->body, p, size * n);
    if (c->q->abort_after && c->r->body.len >= c->q->abort_after)
        return 0;
    return size * n;
}

static size_t w_head(char *p, size_t size, size_t n, void *ud)
{
    buf_add(&((struct resp *)ud)->head, p, size * n);
    return size * n;
}

static const char *hdr(const struct resp *r, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = buf_cstr(&r->head); *p;) {
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

static void send_req(const struct fx *f, const struct req *q, struct resp *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, (size_t)64 * 1024 * 1024);
    buf_init(&r->head, 1 << 20);
    CURL *h = curl_easy_init();
    char url[2048];
    snprintf(url, sizeof url, "%s%s", f->url, q->path);
    const char *method = q->method ? q->method : "POST";
    const char *body = q->body ? q->body : "";
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    char line[4096];
    if (q->bearer) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", q->bearer);
        hl = curl_slist_append(hl, line);
    }
    if (q->sigv4) {
        char host[80];
        snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)gateway_port(f->gw));
        struct aws_credentials *c = aws_credentials_new(GW_AKID, q->secret ? q->secret : GW_SECRET, NULL, 0, "t");
        const char *qm = strchr(q->path, '?');
        struct sigv4_header hs[] = {{"host", 4, host, strlen(host)},
                                    SIGV4_HEADER("content-type", "application/json")};
        struct sigv4_request sr = {.method = method,
                                   .path = q->path,
                                   .path_len = qm ? (size_t)(qm - q->path) : strlen(q->path),
                                   .query = qm ? qm + 1 : NULL,
                                   .query_len = qm ? strlen(qm + 1) : 0,
                                   .headers = hs,
                                   .n_headers = 2,
                                   .body = body,
                                   .body_len = strlen(body)};
        struct sigv4_params sp = {.creds = c, .region = "eu-west-1", .service = "bedrock",
                                  .time_s = time_now_ms() / 1000};
        struct sigv4_signer *s = sigv4_signer_new();
        const struct sigv4_output *so;
        struct brock_err e = {0};
        if (sigv4_sign_headers(s, &sr, &sp, &so, &e) != BROCK_OK)
            fail_msg("sign: %s", e.msg);
        for (size_t i = 0; i < so->n_headers; i++) {
            snprintf(line, sizeof line, "%.*s: %.*s", (int)so->headers[i].name_len, so->headers[i].name,
                     (int)so->headers[i].value_len, so->headers[i].value);
            hl = curl_slist_append(hl, line);
        }
        sigv4_signer_free(s);
        aws_credentials_release(c);
    }
    struct wctx wc = {r, q, false};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, w_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &wc);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, w_head);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    if (q->h2)
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    r->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
}

static void resp_free(struct resp *r)
{
    buf_free(&r->body);
    buf_free(&r->head);
}

/* Decode an event stream: event/exception types in order, "|"-joined. */
static bool frames(const struct buf *b, char *out, size_t len)
{
    out[0] = '\0';
    struct es_decoder *d = es_decoder_new();
    struct brock_err e = {0};
    bool ok = es_decoder_feed(d, b->ptr, b->len, &e) == BROCK_OK;
    for (;;) {
        struct es_message m;
        bool got = false;
        if (!ok || es_decoder_next(d, &m, &got, &e) != BROCK_OK) {
            ok = false;
            break;
        }
        if (!got)
            break;
        struct es_str t = es_message_kind(&m) == ES_KIND_EXCEPTION ? es_message_exception_type(&m)
                                                                   : es_message_event_type(&m);
        size_t u = strlen(out);
        snprintf(out + u, len - u, "%s%.*s", u ? "|" : "", (int)t.len, t.p ? t.p : "");
    }
    if (ok && es_decoder_finish(d, &e) != BROCK_OK)
        ok = false;
    es_decoder_free(d);
    return ok;
}

static const char *invoke_body(const char *text, bool deterministic)
{
    static char b[1024];
    snprintf(b, sizeof b,
             "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":100,%s\"messages\":"
             "[{\"role\":\"user\",\"content\":\"%s\"}]}",
             deterministic ? "\"temperature\":0," : "", text);
    return b;
}

static const char *converse_body(const char *text)
{
    static char b[1024];
    snprintf(b, sizeof b, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"%s\"}]}]}", text);
    return b;
}

static json_t *emu_log(const struct fx *f)
{
    char *s = emulator_requests_json(f->em);
    json_t *v = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(v);
    return v;
}

/* ------------------------------------------------------------------ */
/* live tests                                                           */

static void test_passthrough(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    char v[256], fr[4096];
    for (int h2 = 0; h2 <= 1; h2++) {
        struct resp r;
        struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("hello gateway", false),
                        .bearer = TOK_ALICE, .h2 = h2};
        send_req(&f, &q, &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(buf_cstr(&r.body), "hello gateway"));
        assert_string_equal(hdr(&r, "content-type", v, sizeof v), "application/json");
        assert_string_not_equal(hdr(&r, "x-amzn-bedrock-input-token-count", v, sizeof v), "");
        assert_string_not_equal(hdr(&r, "x-amzn-requestid", v, sizeof v), "");
        resp_free(&r);

        q.path = "/model/" SONNET_ENC "/invoke-with-response-stream";
        send_req(&f, &q, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(hdr(&r, "content-type", v, sizeof v), "application/vnd.amazon.eventstream");
        assert_string_equal(hdr(&r, "x-amzn-bedrock-content-type", v, sizeof v), "application/json");
        assert_true(frames(&r.body, fr, sizeof fr));
        assert_non_null(strstr(fr, "chunk|chunk"));
        resp_free(&r);

        q.path = "/model/" SONNET_ENC "/converse";
        q.body = converse_body("conversing");
        send_req(&f, &q, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(buf_cstr(&r.body), "\"stopReason\""));
        resp_free(&r);

        q.path = "/model/" SONNET_ENC "/converse-stream";
        send_req(&f, &q, &r);
        assert_int_equal(r.status, 200);
        assert_true(frames(&r.body, fr, sizeof fr));
        assert_non_null(strstr(fr, "messageStart|"));
        assert_non_null(strstr(fr, "|messageStop|metadata"));
        resp_free(&r);

        q.path = "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens";
        q.body = "{\"input\":{\"converse\":{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"count me\"}]}]}}}";
        send_req(&f, &q, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(buf_cstr(&r.body), "inputTokens"));
        resp_free(&r);

        /* Claude Code's start-up read, sent to the runtime URL */
        struct req c = {.method = "GET", .path = "/inference-profiles?type=SYSTEM_DEFINED", .bearer = TOK_ALICE, .h2 = h2};
        send_req(&f, &c, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(buf_cstr(&r.body), "inferenceProfileSummaries"));
        resp_free(&r);
        c.path = "/inference-profiles/" SONNET_ENC;
        send_req(&f, &c, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(buf_cstr(&r.body), "inferenceProfileArn"));
        resp_free(&r);
        c.path = "/foundation-models";
        send_req(&f, &c, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    /* Bedrock's own errors come back as they were sent */
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke",
                    .body = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":1}", .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "ValidationException"));
    assert_non_null(strstr(buf_cstr(&r.body), "required key [messages] not found"));
    resp_free(&r);
    /* the upstream was signed with the gateway's credentials, not the client's */
    json_t *log = emu_log(&f);
    size_t i;
    const json_t *ent;
    size_t signed_ok = 0;
    json_array_foreach(json_object_get(log, "requests"), i, ent) {
        const json_t *auth = json_object_get(ent, "auth");
        const char *akid = json_string_value(json_object_get(auth, "accessKeyId"));
        if (akid && !strcmp(akid, EX_AKID))
            signed_ok++;
    }
    assert_true(signed_ok >= 14);
    json_decref(log);
    fx_down(&f);
    free(f.dir);
}

static void test_auth(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    char v[256];
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/converse", .body = converse_body("who am i")};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "MissingAuthenticationTokenException"));
    resp_free(&r);
    q.bearer = "tok-unknown-0123456789abcdef";
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "UnrecognizedClientException"));
    assert_string_equal(buf_cstr(&r.body), "{\"message\":\"The security token included in the request is invalid.\"}");
    resp_free(&r);
    /* SigV4 with a key the gateway issued (any region) */
    q.bearer = NULL;
    q.sigv4 = true;
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    q.h2 = true;
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    q.secret = "wrongSecretWRONGWRONGWRONG0123456789";
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "InvalidSignatureException"));
    resp_free(&r);
    /* an unknown route is 404 in Bedrock's words, after authentication */
    struct req u = {.path = "/model/x/chat", .body = "{}", .bearer = TOK_ALICE};
    send_req(&f, &u, &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "UnknownOperationException"));
    resp_free(&r);
    /* health needs no key, GET or HEAD */
    struct req hq = {.method = "GET", .path = "/_gateway/health"};
    send_req(&f, &hq, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(buf_cstr(&r.body), "\"status\":\"ok\""));
    resp_free(&r);
    hq.method = "HEAD";
    send_req(&f, &hq, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.refused_auth, 3);
    fx_down(&f);
    free(f.dir);
    /* no client secret in any log line */
    assert_false(log_has("SECRET"));
    assert_false(log_has(GW_SECRET));
}

/* A new connection to the gateway on loopback. */
static int loopback_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Read from fd into out (NUL-terminated) until done(out), timeout_ms, or
 * the peer closing (*closed). Returns the bytes read. */
static size_t read_until(int fd, char *out, size_t cap, int timeout_ms, bool (*done)(const char *), bool *closed)
{
    size_t n = 0;
    *closed = false;
    int64_t end = time_mono_ms() + timeout_ms;
    while (n + 1 < cap && time_mono_ms() < end) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0) {
            *closed = true;
            break;
        }
        n += (size_t)r;
        out[n] = '\0';
        if (done(out))
            break;
    }
    out[n] = '\0';
    return n;
}

static bool got_continue(const char *s)
{
    return strstr(s, "HTTP/1.1 100 Continue\r\n\r\n") != NULL;
}

/* Send a request head (no body) on a new connection; read what comes back
 * within timeout_ms. Returns the bytes read (NUL-terminated in out). */
static size_t head_exchange(uint16_t port, const char *head, char *out, size_t cap, int timeout_ms, bool *closed)
{
    int fd = loopback_connect(port);
    assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
    size_t n = read_until(fd, out, cap, timeout_ms, got_continue, closed);
    close(fd);
    return n;
}

/* A client the gateway does not know is refused on its head: the 403 comes
 * before any of the body is sent (no 100 Continue, nothing buffered), in
 * the same words as when the body came first; a known client gets its
 * 100 Continue. */
static void test_auth_before_body(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    uint16_t port = gateway_port(f.gw);
    char amz[17];
    time_fmt_amz(time_now_ms() / 1000, amz);
    char sigv4[512];
    snprintf(sigv4, sizeof sigv4,
             "Authorization: AWS4-HMAC-SHA256 Credential=AKIDNOTISSUED0000/%.8s/us-west-2/bedrock/aws4_request, "
             "SignedHeaders=host;x-amz-date, Signature=%064d\r\nX-Amz-Date: %s\r\n", amz, 0, amz);
    const struct {
        const char *auth, *type;
    } cases[] = {
        {"", "MissingAuthenticationTokenException"},
        {"Authorization: Bearer tok-unknown-0123456789abcdef\r\n", "UnrecognizedClientException"},
        {sigv4, "UnrecognizedClientException"},
    };
    struct gateway_stats st0, st1;
    gateway_stats(f.gw, &st0);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        char head[1024], got[4096];
        snprintf(head, sizeof head,
                 "POST /model/%s/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\n"
                 "Content-Length: 20000000\r\nExpect: 100-continue\r\n\r\n",
                 SONNET_ENC, cases[i].auth);
        bool closed;
        int64_t t0 = time_mono_ms();
        head_exchange(port, head, got, sizeof got, 2000, &closed);
        if (strncmp(got, "HTTP/1.1 403 ", 13) || !strcasestr(got, cases[i].type) ||
            !strcasestr(got, "\r\nConnection: close\r\n") || !closed)
            fail_msg("case %zu: %s", i, got);
        assert_true(time_mono_ms() - t0 < 1000);
    }
    gateway_stats(f.gw, &st1);
    assert_int_equal(st1.refused_auth - st0.refused_auth, BROCK_ARRAY_LEN(cases));
    /* a known client is asked for its body */
    char head[512], got[4096];
    bool closed;
    snprintf(head, sizeof head,
             "POST /model/%s/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n",
             SONNET_ENC, TOK_ALICE);
    head_exchange(port, head, got, sizeof got, 2000, &closed);
    if (strncmp(got, "HTTP/1.1 100 Continue\r\n", 23))
        fail_msg("known client: %s", got);
    fx_down(&f);
    free(f.dir);
}

static void test_translation_upstream(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    struct resp r;
    const char *body = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,"
                       "\"anthropic_beta\":[\"claude-code-20250219\",\"interleaved-thinking-2025-05-14\"],"
                       "\"metadata\":{\"user_id\":\"sess-1\"},\"messages\":[{\"role\":\"system\",\"content\":\"rules\"},"
                       "{\"role\":\"user\",\"content\":\"translate me\"}]}";
    struct req q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream", .body = body, .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *log = emu_log(&f);
    const json_t *reqs = json_object_get(log, "requests");
    const json_t *last = json_array_get(reqs, json_array_size(reqs) - 1);
    const json_t *sent = json_object_get(last, "body");
    char *s = json_is_string(sent) ? xstrdup(json_string_value(sent)) : json_dumps(sent, JSON_COMPACT);
    assert_non_null(s);
    assert_null(strstr(s, "claude-code-20250219"));
    assert_non_null(strstr(s, "interleaved-thinking-2025-05-14"));
    assert_null(strstr(s, "\"role\":\"system\""));
    free(s);
    json_decref(log);
    assert_true(log_has("dropped beta claude-code-20250219"));
    /* an Opus 4.6-era body for Opus 4.7 (temperature, a thinking budget),
     * which the emulator refuses as Bedrock does: translated, it is answered */
    const char *old_style = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":3000,\"temperature\":0.5,"
                            "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
                            "\"messages\":[{\"role\":\"user\",\"content\":\"old habits\"}]}";
    struct req q47 = {.path = "/model/us.anthropic.claude-opus-4-7/invoke", .body = old_style, .bearer = TOK_ALICE};
    send_req(&f, &q47, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* CountTokens of that body (base64 in input.invokeModel.body): translated too, so counted */
    struct buf b64 = BUF_INIT(8192);
    assert_int_equal(base64_encode(&b64, old_style, strlen(old_style)), BROCK_OK);
    char ctb[8192];
    snprintf(ctb, sizeof ctb, "{\"input\":{\"invokeModel\":{\"body\":\"%s\"}}}", buf_cstr(&b64));
    buf_free(&b64);
    struct req qct = {.path = "/model/us.anthropic.claude-opus-4-7/count-tokens", .body = ctb, .bearer = TOK_ALICE};
    send_req(&f, &qct, &r);
    if (r.status != 200)
        fail_msg("count-tokens: %ld %s", r.status, buf_cstr(&r.body));
    resp_free(&r);
    fx_down(&f);
    free(f.dir);

    /* --no-translate: the client's bytes go upstream as they came */
    struct fx_opts fo = {.no_translate = true};
    fx_up(&f, &fo);
    send_req(&f, &q47, &r);
    assert_int_equal(r.status, 400); /* and Opus 4.7 refuses that body */
    resp_free(&r);
    send_req(&f, &qct, &r);
    assert_int_equal(r.status, 400); /* its count too */
    resp_free(&r);
    send_req(&f, &q, &r);
    resp_free(&r);
    log = emu_log(&f);
    reqs = json_object_get(log, "requests");
    last = json_array_get(reqs, json_array_size(reqs) - 1);
    sent = json_object_get(last, "body");
    s = json_is_string(sent) ? xstrdup(json_string_value(sent)) : json_dumps(sent, JSON_COMPACT);
    assert_non_null(s);
    if (json_is_string(sent))
        assert_string_equal(s, body);
    assert_non_null(strstr(s, "claude-code-20250219"));
    assert_non_null(strstr(s, "\"role\":\"system\""));
    free(s);
    json_decref(log);
    fx_down(&f);
    free(f.dir);
}

static void ledger_for(const char *dir, const char *user, struct store_usage *u)
{
    struct store *s = NULL;
    struct brock_err e = {0};
    struct store_options so = {.dir = dir};
    assert_int_equal(store_open(&so, &s, &e), BROCK_OK);
    struct store_ledger_filter flt = {.user = user};
    assert_int_equal(store_ledger_usage(s, STORE_BY_USER, &flt, u, &e), BROCK_OK);
    store_close(s);
}

/* Send q and give its status (the answer is dropped). */
static long status_of(struct fx *f, const struct req *q)
{
    struct resp r;
    send_req(f, q, &r);
    long st = r.status;
    resp_free(&r);
    return st;
}

/* The ledger's count of calls booked to `user` in dir. */
static int64_t calls_of(const char *dir, const char *user)
{
    struct store_usage u;
    ledger_for(dir, user, &u);
    int64_t n = u.total.calls;
    store_usage_free(&u);
    return n;
}

/* Each thread's /proc/self/task/TID/<file>, opened and given to fn; the
 * sum of what fn returns, or -1 without /proc. */
static int each_task_file(const char *file, int (*fn)(FILE *fp, void *ctx), void *ctx)
{
    int sum = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/%s", de->d_name, file);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue;
        sum += fn(fp, ctx);
        fclose(fp);
    }
    closedir(d);
    return sum;
}

struct sched_want {
    int policy, nice;
};

static int stat_matches(FILE *fp, void *ctx)
{
    const struct sched_want *w = ctx;
    char line[1024];
    size_t n = fread(line, 1, sizeof line - 1, fp);
    line[n] = '\0';
    char *p = strrchr(line, ')'); /* the name may hold spaces */
    if (!p)
        return 0;
    int field = 2, t_nice = 0, t_policy = -1;
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 19)
            t_nice = atoi(tok);
        else if (field == 41)
            t_policy = atoi(tok);
    }
    return t_policy == w->policy && t_nice == w->nice;
}

static int comm_is(FILE *fp, void *ctx)
{
    char name[32] = "";
    if (!fgets(name, sizeof name, fp))
        return 0;
    name[strcspn(name, "\n")] = '\0';
    return !strcmp(name, ctx);
}

/* Threads of this process named `name` (/proc/self/task/TID/comm). */
static int threads_named(const char *name)
{
    return each_task_file("comm", comm_is, (void *)name);
}

/* Threads of this process running with this scheduling policy and nice
 * value (/proc/self/task/TID/stat: field 19 is nice, 41 the policy). */
static int threads_scheduled(int policy, int nice)
{
    struct sched_want w = {policy, nice};
    return each_task_file("stat", stat_matches, &w);
}

static void test_books_budget_cache(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    char v[256], fr[4096];
    /* carol's daily budget is $0.0001: the first call spends it */
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("spend it", false), .bearer = TOK_CAROL};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    bool refused = false;
    for (int i = 0; i < 100 && !refused; i++) { /* the books thread adds the spend */
        send_req(&f, &q, &r);
        refused = r.status == 400;
        if (refused) {
            assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "ServiceQuotaExceededException"));
            assert_non_null(strstr(buf_cstr(&r.body), "daily budget of user carol"));
            assert_non_null(strstr(buf_cstr(&r.body), "keys file"));
        }
        resp_free(&r);
        if (!refused)
            usleep(20000);
    }
    assert_true(refused);
    /* alice is not affected */
    q.bearer = TOK_ALICE;
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* the cache: a deterministic request answered twice, the second from memory */
    struct req c = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("cache me", true), .bearer = TOK_BOB};
    struct resp a, b;
    send_req(&f, &c, &a);
    send_req(&f, &c, &b);
    assert_int_equal(a.status, 200);
    assert_int_equal(b.status, 200);
    assert_int_equal(a.body.len, b.body.len);
    assert_memory_equal(a.body.ptr, b.body.ptr, a.body.len);
    resp_free(&a);
    resp_free(&b);
    c.path = "/model/" SONNET_ENC "/invoke-with-response-stream";
    c.h2 = true;
    send_req(&f, &c, &a);
    send_req(&f, &c, &b);
    assert_int_equal(a.body.len, b.body.len);
    assert_memory_equal(a.body.ptr, b.body.ptr, a.body.len);
    assert_true(frames(&b.body, fr, sizeof fr));
    assert_non_null(strstr(fr, "chunk"));
    resp_free(&a);
    resp_free(&b);
    /* not deterministic: never cached */
    c.body = invoke_body("cache me", false);
    c.path = "/model/" SONNET_ENC "/invoke";
    send_req(&f, &c, &a);
    send_req(&f, &c, &b);
    assert_string_not_equal(hdr(&a, "x-amzn-requestid", v, sizeof v), hdr(&b, "x-amzn-requestid", fr, sizeof fr));
    resp_free(&a);
    resp_free(&b);
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.cache_hits, 2);
    assert_true(st.refused_budget >= 1);
    /* the books thread is background work: batch policy, nice 10, so its
     * batches never keep the loop off a core (the loop stays at nice 0) */
    assert_int_equal(threads_scheduled(SCHED_BATCH, 10), 1);
    /* named for `top -H` / `ps -L`: the loop and the books */
    assert_int_equal(threads_named("brock-books"), 1);
    assert_true(threads_named("brock-httpd") >= 1);
    fx_down(&f);
    assert_int_equal(threads_scheduled(SCHED_BATCH, 10), 0);
    assert_int_equal(threads_named("brock-books"), 0);

    /* every call has its row, with the client's user and project; the
     * persistent cache answers a new gateway on the same store */
    struct store_usage u;
    ledger_for(f.dir, "bob", &u);
    assert_int_equal(u.total.calls, 6);
    assert_int_equal(u.total.cache_hits, 2);
    store_usage_free(&u);
    ledger_for(f.dir, "carol", &u);
    /* the refusal comes once the spend is booked: calls that finished just
     * before may slip through (the books thread is asynchronous) */
    assert_true(u.total.calls >= 1 && u.total.calls <= 3);
    assert_true(u.total.cost_usd > 0);
    store_usage_free(&u);
    free(f.dir);
}

/* An application inference profile copied from Haiku 4.5's us. profile, made
 * in the fixture's emulator (CreateInferenceProfile, signed as the gateway
 * signs): its ARN, and the same URI-encoded for a path. */
static void make_profile(struct fx *f, const char *name, char **arn, char **enc)
{
    struct aws_client_config cfg = {.region = "us-west-2",
                                    .endpoint_url = emulator_url(f->em),
                                    .endpoint_label = "test emulator",
                                    .creds = aws_creds_source_static(f->creds)};
    struct aws_client *c = aws_client_new(&cfg);
    char body[512];
    snprintf(body, sizeof body,
             "{\"inferenceProfileName\":\"%s\",\"modelSource\":{\"copyFrom\":\"arn:aws:bedrock:us-west-2:"
             "123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0\"}}",
             name);
    struct http_headers h = HTTP_HEADERS_INIT;
    assert_int_equal(http_headers_add(&h, "Content-Type", "application/json", NULL), BROCK_OK);
    struct aws_request r = {.service = ENDPOINT_SVC_BEDROCK, .method = "POST", .path = "/inference-profiles",
                            .headers = &h, .body = body, .body_len = strlen(body), .protocol = AWSERR_REST_JSON};
    struct aws_response out;
    aws_response_init(&out);
    struct brock_err e = {0};
    if (aws_client_send(c, &r, &out, &e) != BROCK_OK)
        fail_msg("CreateInferenceProfile: %s", e.msg);
    json_t *v = json_loadb(out.http.body.ptr, out.http.body.len, 0, NULL);
    *arn = xstrdup(json_string_value(json_object_get(v, "inferenceProfileArn")));
    struct buf b = BUF_INIT(4096);
    assert_int_equal(uri_encode(&b, *arn, strlen(*arn), false), BROCK_OK);
    *enc = xstrdup(buf_cstr(&b));
    buf_free(&b);
    json_decref(v);
    aws_response_free(&out);
    http_headers_cleanup(&h);
    aws_client_free(c);
}

static uint64_t profiles_known(struct fx *f)
{
    struct gateway_stats st;
    gateway_stats(f->gw, &st);
    return st.profiles_known;
}

/* A model the catalog does not price (an application inference profile,
 * whose model only Bedrock knows) must not be free to a budget: it is booked
 * at the catalog's highest prices and its row says so. A profile whose model
 * Bedrock names (GetInferenceProfile: asked by the gateway, or seen in a
 * client's own call) is translated and priced as that model. A newer model
 * Claude Code sends (Opus 5) is booked at its catalog price. */
#define APP_PROFILE_ENC "arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6"
static void test_cost_unknown_model(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    struct resp r;
    struct req q = {.path = "/model/" APP_PROFILE_ENC "/invoke", .body = invoke_body("estimate me", false),
                    .bearer = TOK_CAROL};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    bool refused = false; /* carol's $0.0001 a day is spent by that call */
    for (int i = 0; i < 100 && !refused; i++) {
        send_req(&f, &q, &r);
        refused = r.status == 400;
        resp_free(&r);
        if (!refused)
            usleep(20000);
    }
    assert_true(refused);
    q = (struct req){.path = "/model/us.anthropic.claude-opus-5/invoke", .body = invoke_body("opus five", false),
                     .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    struct gateway_stats gs;
    gateway_stats(f.gw, &gs);
    assert_int_equal(gs.profiles_unknown, 1); /* the emulator has no a1b2c3d4e5f6 */

    /* profile A: a client asks GetInferenceProfile through the gateway first
     * (as Claude Code does), so the gateway knows it before any call */
    char *arn_a, *enc_a, *arn_b, *enc_b, path[1024];
    make_profile(&f, "team-a", &arn_a, &enc_a);
    make_profile(&f, "team-b", &arn_b, &enc_b);
    snprintf(path, sizeof path, "/inference-profiles/%s", enc_a);
    q = (struct req){.method = "GET", .path = path, .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(profiles_known(&f), 1);
    snprintf(path, sizeof path, "/model/%s/invoke", enc_a);
    q = (struct req){.path = path, .body = invoke_body("team a", false), .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* profile B: the first call has the gateway ask; later calls know */
    snprintf(path, sizeof path, "/model/%s/invoke", enc_b);
    q = (struct req){.path = path, .body = invoke_body("team b", false), .bearer = TOK_BOB};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    for (int i = 0; i < 200 && profiles_known(&f) < 2; i++)
        usleep(10000);
    assert_int_equal(profiles_known(&f), 2);
    q.body = invoke_body("team b again", false);
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    q = (struct req){.method = "GET", .path = "/_gateway/health"};
    send_req(&f, &q, &r);
    assert_non_null(strstr(buf_cstr(&r.body), "\"profiles_known\":2,\"profiles_unknown\":1}"));
    resp_free(&r);
    fx_down(&f);

    struct store *st = NULL;
    struct brock_err e = {0};
    struct store_options so = {.dir = f.dir};
    assert_int_equal(store_open(&so, &st, &e), BROCK_OK);
    struct buf out = BUF_INIT(1 << 20);
    struct store_ledger_filter flt = {0};
    assert_int_equal(store_ledger_export_json(st, &flt, &out, &e), BROCK_OK);
    store_close(st);
    json_t *rows = json_loadb(out.ptr, out.len, 0, NULL);
    assert_non_null(rows);
    size_t i, estimated = 0, opus = 0, as_haiku = 0, b_rows = 0;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *model = json_string_value(json_object_get(row, "model"));
        const char *routing = json_string_value(json_object_get(row, "routing"));
        double cost = json_real_value(json_object_get(row, "cost_usd"));
        int64_t in = json_integer_value(json_object_get(row, "input_tokens"));
        int64_t outt = json_integer_value(json_object_get(row, "output_tokens"));
        assert_non_null(model);
        /* Haiku 4.5 through a profile: $1 / $5, 10 % more off the global price */
        double haiku = ((double)in * 1.1 + (double)outt * 5.5) / 1e6;
        if (!strcmp(model, arn_a)) {
            as_haiku++;
            assert_true(fabs(cost - haiku) < 1e-9);
            assert_non_null(strstr(routing, "priced as Claude Haiku 4.5 (application inference profile)"));
        } else if (!strcmp(model, arn_b)) {
            /* the first may have been booked before the answer came: then at the ceiling */
            b_rows++;
            if (strstr(routing, "price estimated")) {
                assert_true(b_rows == 1 && cost > haiku);
            } else {
                assert_true(fabs(cost - haiku) < 1e-9);
                as_haiku++;
            }
        } else if (strstr(model, "application-inference-profile") && in + outt > 0) {
            estimated++;
            /* the ceiling: Opus 4.1's $15 / $75 a million */
            assert_true(fabs(cost - ((double)in * 15 + (double)outt * 75) / 1e6) < 1e-9);
            assert_non_null(routing);
            assert_non_null(strstr(routing, "price estimated"));
        } else if (!strcmp(model, "us.anthropic.claude-opus-5")) {
            opus++;
            assert_true(in > 0 && outt > 0);
            /* $5 / $25 global, 10 % more on the us. profile */
            assert_true(fabs(cost - ((double)in * 5.5 + (double)outt * 27.5) / 1e6) < 1e-9);
            assert_null(strstr(routing ? routing : "", "price estimated"));
        }
    }
    assert_true(estimated >= 1);
    assert_int_equal(opus, 1);
    assert_int_equal(b_rows, 2);
    assert_true(as_haiku >= 2);
    json_decref(rows);
    buf_free(&out);
    free(arn_a);
    free(enc_a);
    free(arn_b);
    free(enc_b);
    free(f.dir);
}

/* The profile table is bounded; ARNs whose lookups failed (made up, or a
 * typo) give their places to the next ones, so a real profile is still
 * learned once the table is full of them. */
static void test_profiles_bounded(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    struct resp r;
    char path[512];
    for (int i = 0; i < GW_MAX_PROFILES + 8; i++) {
        snprintf(path, sizeof path,
                 "/model/arn%%3Aaws%%3Abedrock%%3Aus-west-2%%3A123456789012%%3Aapplication-inference-profile%%2Fmadeup%06d/"
                 "invoke",
                 i);
        struct req q = {.path = path, .body = invoke_body("x", false), .bearer = TOK_ALICE};
        send_req(&f, &q, &r);
        assert_int_equal(r.status, 200); /* the emulator answers any profile */
        resp_free(&r);
    }
    struct gateway_stats st;
    for (int i = 0; i < 300; i++) {
        gateway_stats(f.gw, &st);
        if (st.profiles_unknown >= GW_MAX_PROFILES + 8)
            break;
        usleep(10000);
    }
    assert_int_equal(st.profiles_unknown, GW_MAX_PROFILES + 8); /* the last 8 took failed places */
    char *arn, *enc;
    make_profile(&f, "after-the-flood", &arn, &enc);
    snprintf(path, sizeof path, "/model/%s/invoke", enc);
    struct req q = {.path = path, .body = invoke_body("real", false), .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    for (int i = 0; i < 200 && profiles_known(&f) < 1; i++)
        usleep(10000);
    assert_int_equal(profiles_known(&f), 1);
    free(arn);
    free(enc);
    fx_down(&f);
    free(f.dir);
}

#define TOK_ALICE2 "tok-alice-TWO-SECRET-0123456789ab"
#define TOK_CAROL_B "tok-carol-B-SECRET-0123456789abcd"

static void seed_spend(struct store *s, int64_t t, const char *project, const char *user, double usd)
{
    struct store_ledger_row r = {.time_ms = t, .session_id = "seed", .project = project, .user = user,
                                 .model = SONNET, .status = "ok", .cost_usd = usd};
    struct brock_err e = {0};
    if (store_ledger_insert(s, &r, NULL, &e) != BROCK_OK)
        fail_msg("seeding the ledger: %s", e.msg);
}

/* Spend is a user's, whichever key spent it and in whichever project: read
 * for every user from the ledger at start (one query, users with no key
 * left out, other months not counted), and added to by any of their keys. */
/* Records posted together are booked in one batch. One the ledger refuses
 * (a request id longer than the store takes) must not cost the others their
 * rows: the batch's one insert is refused whole, and then goes row by row. */
static void test_books_bad_row(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    char *big = xmalloc(STORE_TEXT_MAX + 2);
    memset(big, 'r', STORE_TEXT_MAX + 1);
    big[STORE_TEXT_MAX + 1] = '\0';
    for (int i = 0; i < 21; i++) {
        struct gateway_record r = {
            .time_ms = time_now_ms(),
            .user = "batcher",
            .project = "rows",
            .session = "",
            .model = "anthropic.claude-sonnet-4-5-20250929-v1:0",
            .profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            .region = "us-west-2",
            .api = "invoke",
            .input = 10,
            .output = 5,
            .cost_usd = 0.0001,
            .status = "ok",
            .request_id = i == 10 ? big : "a-request-id",
            .routing = "",
        };
        gw_books_post(f.gw, &r, NULL);
    }
    fx_down(&f); /* the books write what is queued before they stop */
    assert_int_equal(calls_of(f.dir, "batcher"), 20);
    free(big);
    free(f.dir);
}

static void test_budget_per_user(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    gateway_free(f.gw);
    struct brock_err e = {0};
    assert_int_equal(gateway_keys_add_spec(&f.keys, TOK_ALICE2 "=alice/other", &e), BROCK_OK);
    const char *kf = "{\"keys\": [{\"token\": \"" TOK_CAROL_B "\", \"user\": \"carol\", \"daily_usd\": 0.0001}]}";
    assert_int_equal(gateway_keys_parse(&f.keys, kf, strlen(kf), "keys2", &e), BROCK_OK);
    struct store *st;
    struct store_options so = {.dir = f.dir};
    assert_int_equal(store_open(&so, &st, &e), BROCK_OK);
    int64_t now = time_now_ms();
    int64_t last_month = store_utc_month_start(now) - 1;
    seed_spend(st, now, "app", "alice", 0.70);
    seed_spend(st, now, "other", "alice", 0.40); /* 1.10 in all: over the $1 */
    seed_spend(st, now, "web", "bob", 0.90);
    seed_spend(st, last_month, "web", "bob", 5.00); /* another month */
    seed_spend(st, now, "x", "zed", 50.00);         /* no key of theirs */
    store_close(st);

    struct gateway_options o;
    gateway_options_init(&o);
    o.keys = &f.keys;
    o.upstream = (struct aws_client_config){.region = "us-west-2", .endpoint_url = emulator_url(f.em),
                                            .creds = aws_creds_source_static(f.creds)};
    o.store_dir = f.dir;
    o.budget.user_daily_usd = 1.0;
    assert_int_equal(gateway_new(&o, &f.gw, &e), BROCK_OK);
    assert_int_equal(gateway_start_thread(f.gw, &e), BROCK_OK);
    snprintf(f.url, sizeof f.url, "%s", gateway_url(f.gw));

    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("per user", false), .bearer = TOK_ALICE};
    struct resp r;
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(buf_cstr(&r.body), "daily budget of user alice"));
    resp_free(&r);
    assert_int_equal((q.bearer = TOK_ALICE2, status_of(&f, &q)), 400); /* her other key, her other project */
    assert_int_equal((q.bearer = TOK_BOB, status_of(&f, &q)), 200);    /* $0.90 of $1; last month's $5 not counted */

    /* carol's keys each allow $0.0001 of her spend: what one spends, the
     * other is refused for, without waiting for a ledger read */
    q.bearer = TOK_CAROL;
    assert_int_equal(status_of(&f, &q), 200);
    q.bearer = TOK_CAROL_B;
    long st_b = 200;
    for (int i = 0; i < 100 && st_b == 200; i++) { /* the books thread adds the spend */
        st_b = status_of(&f, &q);
        if (st_b == 200)
            usleep(20000);
    }
    assert_int_equal(st_b, 400);
    q.bearer = TOK_CAROL;
    assert_int_equal(status_of(&f, &q), 400);
    fx_down(&f);
    free(f.dir);
}

static void test_persistent_cache(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    struct req c = {.path = "/model/" SONNET_ENC "/converse", .body = "{\"messages\":[{\"role\":\"user\",\"content\":"
                    "[{\"text\":\"persist\"}]}],\"inferenceConfig\":{\"temperature\":0}}", .bearer = TOK_BOB};
    struct resp a, b;
    send_req(&f, &c, &a);
    assert_int_equal(a.status, 200);
    /* a second gateway on the same store (its memory tier is empty) */
    char *dir = xstrdup(f.dir);
    gateway_free(f.gw);
    struct gateway_options o;
    gateway_options_init(&o);
    o.keys = &f.keys;
    o.upstream = (struct aws_client_config){.region = "us-west-2", .endpoint_url = emulator_url(f.em),
                                            .creds = aws_creds_source_static(f.creds)};
    o.store_dir = dir;
    struct brock_err e = {0};
    assert_int_equal(gateway_new(&o, &f.gw, &e), BROCK_OK);
    assert_int_equal(gateway_start_thread(f.gw, &e), BROCK_OK);
    snprintf(f.url, sizeof f.url, "%s", gateway_url(f.gw));
    emulator_reset(f.em);
    send_req(&f, &c, &b);
    assert_int_equal(b.status, 200);
    assert_int_equal(a.body.len, b.body.len);
    assert_memory_equal(a.body.ptr, b.body.ptr, a.body.len);
    json_t *log = emu_log(&f);
    assert_int_equal(json_array_size(json_object_get(log, "requests")), 0); /* upstream never asked */
    json_decref(log);
    resp_free(&a);
    resp_free(&b);
    free(dir);
    fx_down(&f);
    free(f.dir);
}

static void test_failover_sticky(void **state)
{
    (void)state;
    struct gateway_target fb[] = {{.model = "anthropic.claude-3-haiku-20240307-v1:0", .region = ""}};
    struct fx_opts fo = {.fallback = fb, .n_fallback = 1, .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    struct brock_err e = {0};
    const char *fault = "{\"type\": \"throttling\", \"count\": 1, \"model\": \"" SONNET "\"}";
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    const char *body = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,"
                       "\"metadata\":{\"user_id\":\"session-A\"},\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = body, .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* the session stays on the fallback model: the next call goes there first */
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* another session starts on the request's own model */
    const char *other = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,"
                        "\"metadata\":{\"user_id\":\"session-B\"},\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
    q.body = other;
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *log = emu_log(&f);
    const json_t *reqs = json_object_get(log, "requests");
    assert_int_equal(json_array_size(reqs), 4);
    const char *want[] = {SONNET, HAIKU3, HAIKU3, SONNET};
    for (size_t i = 0; i < 4; i++) {
        const char *mid = json_string_value(json_object_get(json_array_get(reqs, i), "modelId"));
        if (!mid || strcmp(mid, want[i]))
            fail_msg("upstream call %zu went to %s, expected %s", i, mid ? mid : "?", want[i]);
    }
    json_decref(log);
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.failovers, 1);
    fx_down(&f);
    free(f.dir);
}

static void test_region_failover(void **state)
{
    (void)state;
    /* throttled in us-west-2: the session moves to eu-west-1, with the
     * model's profile re-chosen for that geography (us. -> eu.) */
    static const char *const regions[] = {"eu-west-1"};
    struct fx_opts fo = {.regions = regions, .n_regions = 1, .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    struct brock_err e = {0};
    const char *fault = "{\"type\": \"throttling\", \"count\": 1}";
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/converse-stream", .body = converse_body("fail over"),
                    .bearer = TOK_BOB};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    send_req(&f, &q, &r); /* sticky */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *log = emu_log(&f);
    const json_t *reqs = json_object_get(log, "requests");
    assert_int_equal(json_array_size(reqs), 3);
    static const char *const want_region[] = {"us-west-2", "eu-west-1", "eu-west-1"};
    static const char *const want_model[] = {SONNET, "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                             "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *ent = json_array_get(reqs, i);
        const char *reg = json_string_value(json_object_get(json_object_get(ent, "auth"), "region"));
        const char *mid = json_string_value(json_object_get(ent, "modelId"));
        if (!reg || strcmp(reg, want_region[i]) || !mid || strcmp(mid, want_model[i]))
            fail_msg("call %zu: %s in %s, expected %s in %s", i, mid ? mid : "?", reg ? reg : "?", want_model[i],
                     want_region[i]);
    }
    json_decref(log);
    fx_down(&f);
    struct store_usage u;
    ledger_for(f.dir, "bob", &u);
    assert_int_equal(u.total.calls, 2);
    assert_int_equal(u.total.errors, 0);
    store_usage_free(&u);
    free(f.dir);
}

static void test_stream_cuts(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    char fr[4096];
    struct brock_err e = {0};
    static const struct {
        const char *fault, *want;
    } cases[] = {
        {"{\"type\": \"truncate\", \"after\": 2, \"abort\": true}", "chunk|chunk|internalServerException"},
        {"{\"type\": \"truncate\", \"after\": 2}", "chunk|chunk|internalServerException"},
        {"{\"type\": \"bad_crc\", \"frame\": 1}", "chunk|internalServerException"},
        {"{\"type\": \"stream_exception\", \"after\": 1, \"exception\": \"throttlingException\"}",
         "chunk|throttlingException"},
    };
    for (int h2 = 0; h2 <= 1; h2++)
        for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
            assert_int_equal(emulator_add_faults(f.em, cases[i].fault, strlen(cases[i].fault), &e), BROCK_OK);
            struct resp r;
            struct req q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream",
                            .body = invoke_body("cut me please now", false), .bearer = TOK_ALICE, .h2 = h2};
            send_req(&f, &q, &r);
            assert_int_equal(r.status, 200);
            if (!frames(&r.body, fr, sizeof fr))
                fail_msg("case %zu: the client's stream does not decode: %s", i, fr);
            if (strcmp(fr, cases[i].want))
                fail_msg("case %zu (h2 %d): frames %s, expected %s", i, h2, fr, cases[i].want);
            resp_free(&r);
        }
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.cut_streams, 6);
    fx_down(&f);
    free(f.dir);
}

static uint64_t stat_gone(struct fx *f)
{
    struct gateway_stats st;
    gateway_stats(f->gw, &st);
    return st.client_gone;
}

static void test_client_gone(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    for (int h2 = 0; h2 <= 1; h2++) {
        struct resp r;
        struct req q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream",
                        .body = invoke_body("slow stream please", false), .bearer = TOK_ALICE, .h2 = h2,
                        .abort_after = 1};
        int64_t t0 = time_mono_ms();
        send_req(&f, &q, &r);
        assert_int_equal(r.rc, CURLE_WRITE_ERROR);
        resp_free(&r);
        /* the upstream call is freed soon: nothing in flight */
        bool idle = false;
        for (int i = 0; i < 200 && !idle; i++) {
            struct resp h;
            struct req hq = {.method = "GET", .path = "/_gateway/health"};
            send_req(&f, &hq, &h);
            idle = strstr(buf_cstr(&h.body), "\"inflight\":0") != NULL && stat_gone(&f) == (uint64_t)h2 + 1;
            resp_free(&h);
            if (!idle)
                usleep(10000);
        }
        assert_true(idle);
        /* well before the 12 events x 150 ms the answer would take */
        assert_true(time_mono_ms() - t0 < 1500);
    }
    fx_down(&f);
    free(f.dir);
}

/* An h2c client that asks for a stream and never opens its window
 * (SETTINGS_INITIAL_WINDOW_SIZE 0, no WINDOW_UPDATE): curl cannot do that, so
 * a few lines of nghttp2. */
struct stall_cli {
    int fd;
    nghttp2_session *s;
    int status;
    bool closed;
    uint32_t err;
};

static ssize_t stall_send(nghttp2_session *s, const uint8_t *d, size_t n, int fl, void *u)
{
    (void)s;
    (void)fl;
    ssize_t w = send(((struct stall_cli *)u)->fd, d, n, MSG_NOSIGNAL);
    return w < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : w;
}

static int stall_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t fl, void *u)
{
    (void)s;
    (void)f;
    (void)vl;
    (void)fl;
    if (nl == 7 && !memcmp(name, ":status", 7))
        ((struct stall_cli *)u)->status = atoi((const char *)value);
    return 0;
}

static int stall_close(nghttp2_session *s, int32_t id, uint32_t err, void *u)
{
    (void)s;
    (void)id;
    struct stall_cli *c = u;
    c->closed = true;
    c->err = err;
    return 0;
}

static ssize_t stall_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                          nghttp2_data_source *src, void *u)
{
    (void)s;
    (void)id;
    (void)u;
    const char *b = src->ptr;
    size_t n = strlen(b);
    assert_true(n <= len);
    memcpy(buf, b, n);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void stall_open(struct stall_cli *c, uint16_t port, const char *path, const char *body)
{
    memset(c, 0, sizeof *c);
    c->fd = loopback_connect(port);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, stall_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, stall_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, stall_close);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&c->s, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}};
    nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 1);
    const char *auth = "Bearer " TOK_ALICE;
    nghttp2_nv nva[] = {
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
        NV(":method", "POST"), NV(":scheme", "http"), NV(":path", path), NV(":authority", "127.0.0.1"),
        NV("content-type", "application/json"), NV("authorization", auth),
#undef NV
    };
    nghttp2_data_provider prd = {.source.ptr = (void *)body, .read_callback = stall_body};
    assert_true(nghttp2_submit_request(c->s, NULL, nva, BROCK_ARRAY_LEN(nva), &prd, NULL) > 0);
}

static void stall_pump(struct stall_cli *c, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    uint8_t buf[16384];
    while (!c->closed && time_mono_ms() < end) {
        nghttp2_session_send(c->s);
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        assert_true(nghttp2_session_mem_recv(c->s, buf, (size_t)r) == r);
    }
}

/* The client's window stays shut: httpd resets the stream after the write
 * timeout, and the gateway frees the upstream call then, well before the
 * 12 events x 150 ms the upstream answer takes. */
static void test_client_stalls_h2(void **state)
{
    (void)state;
    struct fx_opts fo = {.write_timeout_ms = 300, .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    struct stall_cli c;
    int64_t t0 = time_mono_ms();
    stall_open(&c, gateway_port(f.gw), "/model/" SONNET_ENC "/invoke-with-response-stream",
               invoke_body("slow stream please", false));
    stall_pump(&c, 5000);
    int64_t reset_ms = time_mono_ms() - t0;
    if (!c.closed)
        fail_msg("the stalled stream is still open after %lld ms", (long long)reset_ms);
    assert_int_equal(c.status, 200);
    assert_int_equal(c.err, NGHTTP2_CANCEL);
    assert_true(reset_ms < 1500);
    bool idle = false;
    for (int i = 0; i < 100 && !idle; i++) {
        struct gateway_stats st;
        gateway_stats(f.gw, &st);
        idle = st.inflight == 0 && st.client_gone == 1;
        if (!idle)
            usleep(10000);
    }
    assert_true(idle);
    assert_true(time_mono_ms() - t0 < 1700);
    /* another user's call goes through */
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("hello", false),
                    .bearer = TOK_BOB, .h2 = true};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    nghttp2_session_del(c.s);
    close(c.fd);
    fx_down(&f);
    free(f.dir);
}

/* A client that stops reading: the gateway holds the upstream transfer
 * (health says "held") instead of piling frames up, and the stream arrives
 * whole once the client reads again. HTTP/1.1 only: libcurl 7.88's HTTP/2
 * client now and then misses END_STREAM after its write callback stalled
 * (3 runs in 25 here, all bytes in, the gateway done), while Node's http2
 * never did; tests/e2e/gateway_backpressure.sh checks both with Node. */
struct held_probe {
    const struct fx *f;
    bool saw_held;
};

static void wait_held(void *arg)
{
    struct held_probe *p = arg;
    for (int i = 0; i < 500 && !p->saw_held; i++) {
        struct resp h;
        struct req hq = {.method = "GET", .path = "/_gateway/health"};
        send_req(p->f, &hq, &h);
        p->saw_held = strstr(buf_cstr(&h.body), "\"held\":1,") != NULL;
        resp_free(&h);
        if (!p->saw_held)
            usleep(10000);
    }
}

static void test_stream_backpressure(void **state)
{
    (void)state;
    /* sixteen text blocks of ~0.85 MB (a scenario string is at most 1 MB,
     * the file 16 MB): ~18 MB of frames, well past what the socket buffers
     * take while the client does not read (the gateway's send buffer grows
     * to tcp_wmem's cap, 4 MiB by default), so the gateway has to hold */
    struct buf sc = BUF_INIT(SCENARIO_MAX_BYTES);
    buf_addstr(&sc, "{\"rules\": [{\"match\": {\"contains\": \"big stream\"}, \"response\": {\"content\": [");
    for (int b = 0; b < 16; b++) {
        buf_addstr(&sc, b ? ", {\"type\": \"text\", \"text\": \"" : "{\"type\": \"text\", \"text\": \"");
        for (int i = 0; i < 110000; i++)
            buf_addf(&sc, "w%d ", i);
        buf_addstr(&sc, "end\"}");
    }
    buf_addstr(&sc, "]}}]}");
    assert_int_equal(buf_status(&sc), BROCK_OK);
    struct fx_opts fo = {.scenario = buf_cstr(&sc), .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    struct held_probe hp = {.f = &f};
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream",
                    .body = invoke_body("a big stream please", false), .bearer = TOK_ALICE,
                    .stall = wait_held, .stall_arg = &hp};
    send_req(&f, &q, &r);
    if (r.rc != CURLE_OK) {
        struct resp h;
        struct req hq = {.method = "GET", .path = "/_gateway/health"};
        send_req(&f, &hq, &h);
        fail_msg("%s after %zu bytes (held seen: %d); health %s", curl_easy_strerror(r.rc),
                 r.body.len, hp.saw_held, buf_cstr(&h.body));
    }
    assert_int_equal(r.status, 200);
    if (!hp.saw_held)
        fail_msg("the upstream transfer was never held while the client did not read");
    char *fr = xmalloc(64 * 1024);
    if (!frames(&r.body, fr, 64 * 1024))
        fail_msg("the stream does not decode");
    size_t chunks = 0;
    for (const char *p = fr; (p = strstr(p, "chunk")); p += 5)
        chunks++;
    assert_null(strstr(fr, "Exception"));
    assert_true(chunks >= 500);
    assert_true(r.body.len > (size_t)16 * 1024 * 1024);
    free(fr);
    resp_free(&r);
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.cut_streams, 0);
    struct resp h;
    struct req hq = {.method = "GET", .path = "/_gateway/health"};
    send_req(&f, &hq, &h);
    assert_non_null(strstr(buf_cstr(&h.body), "\"upstream\":0,\"held\":0,"));
    resp_free(&h);
    fx_down(&f);
    free(f.dir);
    buf_free(&sc);
}

struct bg_req {
    struct fx *f;
    struct req q;
    struct resp r;
    int64_t done_ms;
    pthread_t th;
};

static void *bg_run(void *arg)
{
    struct bg_req *b = arg;
    send_req(b->f, &b->q, &b->r);
    b->done_ms = time_mono_ms();
    return NULL;
}

/* A streamed InvokeModel on a thread of its own (body must outlive it). */
static void bg_stream(struct bg_req *b, struct fx *f, const char *body, const char *bearer)
{
    *b = (struct bg_req){.f = f,
                         .q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream", .body = body,
                               .bearer = bearer}};
    assert_int_equal(pthread_create(&b->th, NULL, bg_run, b), 0);
}

/* Wait up to ms for the gateway to hold registrations for `want` upstream
 * sockets; the count last seen. */
static uint64_t wait_up_sockets(struct fx *f, uint64_t want, int ms)
{
    struct gateway_stats st;
    for (int64_t end = time_mono_ms() + ms;;) {
        gateway_stats(f->gw, &st);
        if (st.upstream_sockets == want || time_mono_ms() >= end)
            return st.upstream_sockets;
        usleep(10000);
    }
}

static void stream_ok(struct fx *f, const char *text)
{
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream",
                    .body = invoke_body(text, false), .bearer = TOK_ALICE};
    send_req(f, &q, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    char fr[8192];
    assert_true(frames(&r.body, fr, sizeof fr)); /* whole frames to the end */
    assert_non_null(strstr(fr, "chunk"));
    assert_null(strstr(fr, "Exception"));
    resp_free(&r);
}

static void test_upstream_idle_sockets(void **state)
{
    (void)state;
    /* An idle upstream connection's socket stays registered with the loop
     * between calls (no epoll_ctl a call), so the gateway must drop that
     * registration whenever the socket goes: libcurl closing it, or the
     * upstream closing it while idle. One idle connection kept; the
     * emulator closes connections idle for 1 s. */
    struct fx_opts fo = {.scenario = "{\"rules\": [{\"match\": {\"contains\": \"slow stream\"}, \"response\": "
                                     "{\"text\": \"one two three four five six\", \"event_delay_ms\": 25}}]}",
                         .no_cache = true, .max_idle_upstream = 1, .emu_keepalive_ms = 1000};
    struct fx f;
    fx_up(&f, &fo);
    /* a call: its connection idles in the pool, still registered */
    stream_ok(&f, "slow stream 1");
    assert_int_equal(wait_up_sockets(&f, 1, 0), 1);
    /* four at once: four connections, of which libcurl keeps one and closes
     * three; their registrations go with them */
    struct bg_req b[4];
    char body[1024]; /* invoke_body's buffer is shared: a copy for the threads */
    snprintf(body, sizeof body, "%s", invoke_body("slow stream 2", false));
    for (int i = 0; i < 4; i++) {
        bg_stream(&b[i], &f, body, TOK_ALICE);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(b[i].th, NULL);
        assert_int_equal(b[i].r.status, 200);
        char fr[8192];
        assert_true(frames(&b[i].r.body, fr, sizeof fr));
        assert_non_null(strstr(fr, "chunk"));
        assert_null(strstr(fr, "Exception"));
        resp_free(&b[i].r);
    }
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.upstream, 5);
    assert_int_equal(wait_up_sockets(&f, 1, 200), 1);
    /* the emulator closes the idle connection: the socket turns readable
     * and its registration goes, before libcurl looks at it again */
    assert_int_equal(wait_up_sockets(&f, 0, 5000), 0);
    /* calls go on: libcurl finds that connection closed and opens another,
     * often under the same number */
    for (int i = 0; i < 3; i++)
        stream_ok(&f, "slow stream 3");
    assert_int_equal(wait_up_sockets(&f, 1, 200), 1);
    gateway_stats(f.gw, &st);
    assert_int_equal(st.upstream_errors, 0);
    assert_int_equal(st.upstream, 8);
    fx_down(&f);
    free(f.dir);
}

static long health_field(struct fx *f, const char *name);

static void test_admission_fair(void **state)
{
    (void)state;
    /* two upstream slots, one per client: alice's burst of four cannot
     * hold bob's request behind all of hers */
    struct fx_opts fo = {.max_upstream = 2, .max_per_client = 1, .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    struct bg_req a[4], b;
    char body_a[1024], body_b[1024]; /* invoke_body's buffer is shared: copies for the threads */
    snprintf(body_a, sizeof body_a, "%s", invoke_body("slow stream A", false));
    snprintf(body_b, sizeof body_b, "%s", invoke_body("slow stream B", false));
    for (int i = 0; i < 4; i++) {
        bg_stream(&a[i], &f, body_a, TOK_ALICE);
    }
    usleep(100000);
    bg_stream(&b, &f, body_b, TOK_BOB);
    for (int i = 0; i < 4; i++)
        pthread_join(a[i].th, NULL);
    pthread_join(b.th, NULL);
    int later = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a[i].r.status, 200);
        later += a[i].done_ms > b.done_ms + 500;
        resp_free(&a[i].r);
    }
    assert_int_equal(b.r.status, 200);
    resp_free(&b.r);
    assert_true(later >= 2); /* bob finished before most of alice's burst */
    fx_down(&f);
    free(f.dir);
}

/* A POST of a slow stream on a raw connection, left open: the caller reads
 * or closes it. */
static int queued_post(uint16_t port, const char *token, const char *body)
{
    int fd = loopback_connect(port);
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     "/model/" SONNET_ENC "/invoke-with-response-stream", token, strlen(body), body);
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

/* An answer's head and a JSON body have come in. */
static bool got_answer(const char *s)
{
    return strstr(s, "\r\n\r\n") && strchr(s, '}');
}

static void wait_health(struct fx *f, const char *name, long want)
{
    long v = -1;
    for (int i = 0; i < 300 && v != want; i++) {
        v = health_field(f, name);
        if (v != want)
            usleep(10000);
    }
    assert_int_equal(v, want);
}

/* The admission queue: one slot, held by alice's slow stream; three more
 * of hers and one of bob's wait. One of alice's leaves from the middle of
 * her queue and one from its head; the two left and bob's are refused with
 * Bedrock's 429 when they have waited too long; then both are served again
 * (run under ASan: a queue or the ring of waiting clients left pointing at
 * a freed call would show). */
static void test_admission_queue(void **state)
{
    (void)state;
    struct fx_opts fo = {.max_upstream = 1, .max_per_client = 1, .no_cache = true, .queue_timeout_ms = 700};
    struct fx f;
    fx_up(&f, &fo);
    uint16_t port = gateway_port(f.gw);
    char body[1024];
    snprintf(body, sizeof body, "%s", invoke_body("slow stream Q", false));
    struct bg_req s1 = {.f = &f,
                        .q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream", .body = body,
                              .bearer = TOK_ALICE}};
    pthread_create(&s1.th, NULL, bg_run, &s1);
    wait_health(&f, "inflight", 1);
    int a2 = queued_post(port, TOK_ALICE, body);
    int a3 = queued_post(port, TOK_ALICE, body);
    int a4 = queued_post(port, TOK_ALICE, body);
    int b1 = queued_post(port, TOK_BOB, body);
    wait_health(&f, "queued", 4);
    close(a3); /* the middle of alice's queue */
    wait_health(&f, "queued", 3);
    close(a2); /* its head */
    wait_health(&f, "queued", 2);
    char out[4096];
    bool closed;
    read_until(a4, out, sizeof out, 5000, got_answer, &closed);
    assert_non_null(strstr(out, "HTTP/1.1 429"));
    assert_non_null(strstr(out, "ThrottlingException"));
    assert_non_null(strstr(out, "no upstream slot free"));
    read_until(b1, out, sizeof out, 5000, got_answer, &closed);
    assert_non_null(strstr(out, "HTTP/1.1 429"));
    close(a4);
    close(b1);
    assert_int_equal(health_field(&f, "queued"), 0);
    pthread_join(s1.th, NULL);
    assert_int_equal(s1.r.status, 200);
    resp_free(&s1.r);
    /* served again, one after the other through the same slot */
    struct bg_req again[2];
    for (int i = 0; i < 2; i++) {
        again[i] = (struct bg_req){.f = &f,
                                   .q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("quick", false),
                                         .bearer = i ? TOK_BOB : TOK_ALICE}};
        pthread_create(&again[i].th, NULL, bg_run, &again[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(again[i].th, NULL);
        assert_int_equal(again[i].r.status, 200);
        resp_free(&again[i].r);
    }
    fx_down(&f);
    free(f.dir);
}

/* Without max_per_client, one key holds at most a quarter of the slots:
 * alice's four slow streams take 2 of 8 and wait for the rest, and bob's
 * call starts at once. */
static void test_admission_default_share(void **state)
{
    (void)state;
    struct fx_opts fo = {.max_upstream = 8, .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    assert_int_equal(f.gw->max_per_client, 2);
    struct bg_req a[4], b;
    char body_a[1024], body_b[1024];
    snprintf(body_a, sizeof body_a, "%s", invoke_body("slow stream A", false));
    snprintf(body_b, sizeof body_b, "%s", invoke_body("slow stream B", false));
    for (int i = 0; i < 4; i++) {
        bg_stream(&a[i], &f, body_a, TOK_ALICE);
    }
    long inflight = 0, queued = 0;
    for (int i = 0; i < 100 && (inflight != 2 || queued != 2); i++) {
        usleep(10000);
        inflight = health_field(&f, "inflight");
        queued = health_field(&f, "queued");
    }
    assert_int_equal(inflight, 2);
    assert_int_equal(queued, 2);
    bg_stream(&b, &f, body_b, TOK_BOB);
    for (int i = 0; i < 100 && inflight != 3; i++) {
        usleep(10000);
        inflight = health_field(&f, "inflight");
    }
    assert_int_equal(inflight, 3);
    assert_int_equal(health_field(&f, "queued"), 2);
    for (int i = 0; i < 4; i++) {
        pthread_join(a[i].th, NULL);
        assert_int_equal(a[i].r.status, 200);
        resp_free(&a[i].r);
    }
    pthread_join(b.th, NULL);
    assert_int_equal(b.r.status, 200);
    resp_free(&b.r);
    fx_down(&f);
    free(f.dir);
}

/* A record callback (the books thread) that waits until released. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int seen;
};

static void gate_record(void *ctx, struct store *s, const struct gateway_record *r)
{
    (void)s;
    (void)r;
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->seen++;
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static long health_field(struct fx *f, const char *name)
{
    struct resp h;
    struct req hq = {.method = "GET", .path = "/_gateway/health"};
    send_req(f, &hq, &h);
    assert_int_equal(h.status, 200);
    json_t *v = json_loadb(h.body.ptr, h.body.len, 0, NULL);
    assert_non_null(v);
    json_t *x = json_object_get(v, name);
    assert_true(json_is_integer(x) || json_is_boolean(x));
    long n = json_is_boolean(x) ? json_is_true(x) : (long)json_integer_value(x);
    json_decref(v);
    resp_free(&h);
    return n;
}

/* Send q every 100 ms, at most `tries` times, until the answer is `want`:
 * the last status. */
static long status_within(struct fx *f, const struct req *q, long want, int tries)
{
    long status = 0;
    for (int i = 0; i < tries && status != want; i++) {
        usleep(100 * 1000);
        struct resp r;
        send_req(f, q, &r);
        status = r.status;
        resp_free(&r);
    }
    return status;
}

/* Read a health field every 10 ms, at most `tries` times, until it is
 * `want`: the last value. Each read must take less than max_ms (0: any). */
static long health_within(struct fx *f, const char *name, long want, int tries, int64_t max_ms)
{
    long v = -1;
    for (int i = 0; i < tries && v != want; i++) {
        usleep(10 * 1000);
        int64_t t0 = time_mono_ms();
        v = health_field(f, name);
        if (max_ms > 0)
            assert_true(time_mono_ms() - t0 < max_ms);
    }
    return v;
}

struct slice_want {
    long long ns;
    bool shown;
};

static int slice_matches(FILE *fp, void *ctx)
{
    struct slice_want *w = ctx;
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, fp)) {
        long long v;
        if (sscanf(line, "se.slice : %lld", &v) == 1) {
            w->shown = true;
            found += v == w->ns;
        }
    }
    return found;
}

/* Threads of this process whose scheduler slice is `ns` (/proc/.../sched,
 * "se.slice"); -1 when the kernel shows no slices there. */
static int threads_with_slice(long long ns)
{
    struct slice_want w = {ns, false};
    int found = each_task_file("sched", slice_matches, &w);
    return w.shown ? found : -1;
}

/* Whether this kernel lets a thread set its own slice (a throwaway thread
 * tries what the gateway's loop does). */
static void *slice_probe(void *arg)
{
    struct gw_sched_attr a = {
        .size = sizeof a, .policy = SCHED_OTHER, .nice = getpriority(PRIO_PROCESS, 0), .runtime = 200000};
    *(bool *)arg = syscall(SYS_sched_setattr, 0, &a, 0u) == 0;
    return NULL;
}

static void test_loop_slice(void **state)
{
    (void)state;
    /* EEVDF custom slices for SCHED_OTHER came with Linux 6.12; a seccomp
     * filter may refuse the call */
    struct utsname u;
    int major = 0, minor = 0;
    bool settable = false;
    pthread_t t;
    if (pthread_create(&t, NULL, slice_probe, &settable) == 0)
        pthread_join(t, NULL);
    if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2 || major * 100 + minor < 612 ||
        !settable || threads_with_slice(1) < 0) {
        fprintf(stderr, "# skipped: no EEVDF custom slices here\n");
        skip();
    }
    long long ns = (long long)GATEWAY_LOOP_SLICE_US * 1000;
    int before = threads_with_slice(ns);
    struct fx f;
    fx_up(&f, NULL);
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("slice", false), .bearer = TOK_ALICE};
    struct resp r;
    send_req(&f, &q, &r); /* the loop has run a round */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* the loop thread, and only it: the books, the helper and the
     * emulator's threads keep the default */
    assert_int_equal(threads_with_slice(ns), before + 1);
    fx_down(&f);
    assert_int_equal(threads_with_slice(ns), before);
    free(f.dir);
}

/* Whether this process may make a thread SCHED_FIFO (a throwaway thread
 * tries what --realtime does). */
static void *fifo_probe(void *arg)
{
    struct sched_param sp = {.sched_priority = 1};
    *(bool *)arg = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    return NULL;
}

/* Threads of this process whose sched_getscheduler() is exactly `want`
 * (which shows SCHED_RESET_ON_FORK too). */
static int threads_with_policy(int want)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && sched_getscheduler((pid_t)atoi(de->d_name)) == want)
            n++;
    closedir(d);
    return n;
}

/* --realtime: the loop thread, and only it, runs SCHED_FIFO (reset for any
 * thread it starts), and health says so; where that is not allowed the gateway serves all the same and
 * health says it is not real-time. */
static void test_loop_realtime(void **state)
{
    (void)state;
    bool allowed = false;
    pthread_t t;
    if (pthread_create(&t, NULL, fifo_probe, &allowed) == 0)
        pthread_join(t, NULL);
    int nice_now = getpriority(PRIO_PROCESS, 0);
    int before = threads_scheduled(SCHED_FIFO, nice_now);
    assert_true(before >= 0);
    struct fx_opts fo = {.realtime = true};
    struct fx f;
    fx_up(&f, &fo);
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("realtime", false), .bearer = TOK_ALICE};
    struct resp r;
    send_req(&f, &q, &r); /* the loop has run a round */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    if (allowed) {
        assert_int_equal(threads_scheduled(SCHED_FIFO, nice_now), before + 1);
        assert_int_equal(threads_with_policy(SCHED_FIFO | SCHED_RESET_ON_FORK), 1);
        assert_int_equal(health_field(&f, "realtime"), 1);
    } else {
        fprintf(stderr, "# SCHED_FIFO not allowed here: checked the refusal path\n");
        assert_int_equal(threads_scheduled(SCHED_FIFO, nice_now), before);
        assert_int_equal(health_field(&f, "realtime"), 0);
    }
    fx_down(&f);
    assert_int_equal(threads_scheduled(SCHED_FIFO, nice_now), before);
    free(f.dir);
    /* without the option: no real-time thread */
    fx_up(&f, NULL);
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(threads_scheduled(SCHED_FIFO, nice_now), before);
    assert_int_equal(health_field(&f, "realtime"), 0);
    fx_down(&f);
    free(f.dir);
}

/* Each key may send so many requests a minute, a sixth of them at once:
 * past that, Bedrock's 429 ThrottlingException before any work (no upstream
 * call, no ledger row); the bucket refills at rpm / 60 a second. A key's
 * "max_rpm" in the keys file overrides the gateway's. */
/* gateway_reload() (brock serve's SIGHUP) reads the keys again: a key that
 * stays keeps working, a new one works from then on, a removed one is
 * refused while its call in flight runs to its end and is booked as its
 * user's; a new key of a user who spent their budget is refused (the spend
 * is read again at once); a keys file that does not load, or has no key,
 * leaves the keys in use. */
struct reload_src {
    const char *text;
};

static enum brock_status reload_read(void *ctx, struct gateway_keys *out, struct brock_err *e)
{
    const struct reload_src *src = ctx;
    return gateway_keys_parse(out, src->text, strlen(src->text), "reloaded.json", e);
}

#define TOK_DAVE "tok-dave-SECRET-0123456789abcdefg"
#define TOK_CAROL2 "tok-carol-NEW-SECRET-0123456789ab"

static void test_keys_reload(void **state)
{
    (void)state;
    struct reload_src src = {0};
    struct fx_opts fo = {.reload_keys = reload_read, .reload_ctx = &src, .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    struct resp r;
    char v[256];
    struct req qa = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("reload", false), .bearer = TOK_ALICE};
    struct req qd = qa, qc = qa, qc2 = qa;
    qd.bearer = TOK_DAVE;
    qc.bearer = TOK_CAROL;
    qc2.bearer = TOK_CAROL2;
    assert_int_equal(status_of(&f, &qd), 403); /* not yet */
    /* carol spends her $0.0001 a day */
    assert_int_equal(status_of(&f, &qc), 200);
    assert_int_equal(status_within(&f, &qc, 400, 50), 400);

    /* bob's slow stream (12 events, 150 ms apart) runs across the reload */
    struct bg_req bob;
    bg_stream(&bob, &f, invoke_body("a slow stream for bob", false), TOK_BOB);
    assert_int_equal(health_within(&f, "streaming", 1, 300, 0), 1);

    /* alice stays; dave is new; bob, ci and carol are gone */
    src.text = "{\"keys\": [{\"token\": \"" TOK_ALICE "\", \"user\": \"alice\", \"project\": \"app\"},"
               " {\"token\": \"" TOK_DAVE "\", \"user\": \"dave\", \"project\": \"ops\"}]}";
    gateway_reload(f.gw);
    assert_int_equal(health_within(&f, "keys_reloads", 1, 300, 0), 1);
    /* alice and dave; bob's client is kept while his stream runs (ci's and
     * carol's, with nothing running, are gone) */
    assert_int_equal(health_field(&f, "keys"), 2);
    assert_int_equal(health_field(&f, "keys_retired"), 1);
    assert_int_equal(status_of(&f, &qd), 200);
    assert_int_equal(status_of(&f, &qa), 200);
    struct req qb = qa;
    qb.bearer = TOK_BOB;
    send_req(&f, &qb, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "UnrecognizedClientException"));
    resp_free(&r);
    assert_int_equal(status_of(&f, &qc), 403);
    struct req qs = qa;
    qs.bearer = NULL;
    qs.sigv4 = true;
    assert_int_equal(status_of(&f, &qs), 403); /* ci's SigV4 key is gone too */

    /* carol is back with a new key: no other key of hers is left to take
     * her spend from, so the books thread reads it from the ledger at once
     * (its own refresh comes only every GATEWAY_SPEND_REFRESH_MS) */
    src.text = "{\"keys\": [{\"token\": \"" TOK_ALICE "\", \"user\": \"alice\", \"project\": \"app\"},"
               " {\"token\": \"" TOK_DAVE "\", \"user\": \"dave\", \"project\": \"ops\"},"
               " {\"token\": \"" TOK_CAROL2 "\", \"user\": \"carol\", \"daily_usd\": 0.0001}]}";
    gateway_reload(f.gw);
    assert_int_equal(health_within(&f, "keys_reloads", 2, 300, 0), 2);
    usleep(500 * 1000);
    send_req(&f, &qc2, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(buf_cstr(&r.body), "daily budget of user carol"));
    resp_free(&r);
    /* bob's stream, begun before, ends whole */
    pthread_join(bob.th, NULL);
    assert_int_equal(bob.r.status, 200);
    char fr[4096];
    assert_true(frames(&bob.r.body, fr, sizeof fr));
    assert_null(strstr(fr, "Exception"));
    assert_non_null(strstr(fr, "chunk"));
    resp_free(&bob.r);

    /* a file that does not load, then one with no key: the keys stay */
    src.text = "{\"keys\": [{\"token\": \"short\", \"user\": \"eve\"}]}";
    gateway_reload(f.gw);
    assert_int_equal(health_within(&f, "keys_reload_errors", 1, 300, 0), 1);
    src.text = "{\"keys\": []}";
    gateway_reload(f.gw);
    assert_int_equal(health_within(&f, "keys_reload_errors", 2, 300, 0), 2);
    assert_true(log_has("reloaded.json"));
    assert_true(log_has("the keys read before stay in use"));
    assert_false(log_has(TOK_DAVE));
    assert_int_equal(status_of(&f, &qd), 200);
    /* the most keys a file may hold: each is found (the index, not a scan),
     * a token one character off is not */
    struct buf many = BUF_INIT((size_t)1 << 20);
    buf_addstr(&many, "{\"keys\": [");
    for (int i = 0; i < GATEWAY_MAX_KEYS; i++)
        buf_addf(&many, "%s{\"token\": \"many-key-%04d-0123456789abcdef\", \"user\": \"m%d\"}", i ? "," : "", i, i % 97);
    buf_addstr(&many, "]}");
    src.text = buf_cstr(&many);
    gateway_reload(f.gw);
    assert_int_equal(health_within(&f, "keys_reloads", 3, 300, 0), 3);
    /* bob's stream is over: his client went with this reload */
    assert_int_equal(health_field(&f, "keys"), GATEWAY_MAX_KEYS);
    assert_int_equal(health_field(&f, "keys_retired"), 0);
    static const int pick[] = {0, 1, 2047, 4094, GATEWAY_MAX_KEYS - 1};
    char tok[64];
    struct req qm = qa;
    qm.bearer = tok;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(pick); i++) {
        snprintf(tok, sizeof tok, "many-key-%04d-0123456789abcdef", pick[i]);
        assert_int_equal(status_of(&f, &qm), 200);
    }
    snprintf(tok, sizeof tok, "many-key-%04d-0123456789abcdeF", 7);
    assert_int_equal(status_of(&f, &qm), 403);
    assert_int_equal(status_of(&f, &qd), 403); /* dave is not in this file */
    buf_free(&many);
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.keys_reloads, 3);
    assert_int_equal(st.keys_reload_errors, 2);
    fx_down(&f);

    struct store_usage u;
    ledger_for(f.dir, "bob", &u);
    assert_int_equal(u.total.calls, 1); /* the stream that outlived bob's key */
    assert_true(u.total.output_tokens > 0);
    store_usage_free(&u);
    assert_int_equal(calls_of(f.dir, "dave"), 2);
    assert_int_equal(calls_of(f.dir, "m10"), 1); /* key 2047's user (2047 % 97): its call is booked as theirs */
    free(f.dir);
}

/* The keys are read on the helper thread, not on the loop: calls are
 * answered while a slow read runs, and the new keys apply once it is done.
 * A reload asked while another is being read is read after it, so the
 * file as it is last is what stays. */
struct slow_src {
    const char *_Atomic text;
    int sleep_ms;
};

static enum brock_status reload_read_slow(void *ctx, struct gateway_keys *out, struct brock_err *e)
{
    struct slow_src *src = ctx;
    usleep((useconds_t)src->sleep_ms * 1000);
    const char *t = atomic_load(&src->text);
    return gateway_keys_parse(out, t, strlen(t), "slow.json", e);
}

static void test_keys_reload_off_loop(void **state)
{
    (void)state;
    struct slow_src src = {.sleep_ms = 600};
    atomic_store(&src.text, "{\"keys\": [{\"token\": \"" TOK_ALICE "\", \"user\": \"alice\", \"project\": \"app\"},"
                            " {\"token\": \"" TOK_DAVE "\", \"user\": \"dave\"}]}");
    struct fx_opts fo = {.reload_keys = reload_read_slow, .reload_ctx = &src, .no_cache = true};
    struct fx f;
    fx_up(&f, &fo);
    struct req qa = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("off the loop", false),
                     .bearer = TOK_ALICE};
    struct req qd = qa;
    qd.bearer = TOK_DAVE;
    assert_int_equal(status_of(&f, &qd), 403);
    gateway_reload(f.gw);
    usleep(100 * 1000); /* the helper is reading now */
    int64_t t0 = time_mono_ms();
    assert_int_equal(status_of(&f, &qa), 200);
    int64_t took = time_mono_ms() - t0;
    if (took >= 300)
        fail_msg("a call took %lld ms while the keys were being read", (long long)took);
    assert_int_equal(health_field(&f, "keys_reloads"), 0);
    assert_int_equal(health_within(&f, "keys_reloads", 1, 300, 0), 1);
    assert_int_equal(status_of(&f, &qd), 200);
    /* a second reload, then a third while it is read (the file changed
     * meanwhile): both are read and applied; dave goes */
    gateway_reload(f.gw);
    usleep(100 * 1000);
    atomic_store(&src.text, "{\"keys\": [{\"token\": \"" TOK_ALICE "\", \"user\": \"alice\", \"project\": \"app\"}]}");
    gateway_reload(f.gw);
    assert_int_equal(health_within(&f, "keys_reloads", 3, 300, 0), 3);
    assert_int_equal(health_field(&f, "keys"), 1);
    assert_int_equal(status_of(&f, &qd), 403);
    assert_int_equal(status_of(&f, &qa), 200);
    fx_down(&f);
    free(f.dir);
}

static void test_rate_per_key(void **state)
{
    (void)state;
    struct fx f;
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("rate", false), .bearer = TOK_ALICE};
    /* no limit unless one is set: 150 at once all pass */
    struct fx_opts fo0 = {.no_cache = true};
    fx_up(&f, &fo0);
    for (int i = 0; i < 150; i++) {
        send_req(&f, &q, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    fx_down(&f);
    free(f.dir);

    struct fx_opts fo = {.rpm_per_client = 60, .no_cache = true};
    fx_up(&f, &fo);
    char v[256];
    int ok = 0, refused = 0;
    for (int i = 0; i < 14; i++) {
        send_req(&f, &q, &r);
        if (r.status == 200) {
            ok++;
        } else {
            assert_int_equal(r.status, 429);
            assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "ThrottlingException"));
            assert_non_null(strstr(buf_cstr(&r.body), "60 requests a minute"));
            assert_non_null(strstr(buf_cstr(&r.body), "user alice"));
            refused++;
        }
        resp_free(&r);
    }
    /* 10 at once; the run above takes well under the second a new one needs */
    assert_int_equal(ok, 10);
    assert_int_equal(refused, 4);
    /* other keys have buckets of their own: carol's keys-file 120 (20 at
     * once; her tiny budget answers 400 after the first, which counts) */
    struct req qc = q;
    qc.bearer = TOK_CAROL;
    int carol_ok = 0;
    for (int i = 0; i < 24; i++) {
        send_req(&f, &qc, &r);
        carol_ok += r.status != 429;
        resp_free(&r);
    }
    assert_int_equal(carol_ok, 20);
    usleep(1100 * 1000); /* one more for alice */
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 429);
    resp_free(&r);
    struct gateway_stats st;
    gateway_stats(f.gw, &st);
    assert_int_equal(st.refused_rate, 4 + 4 + 1);
    assert_int_equal(health_field(&f, "refused_rate"), 4 + 4 + 1); /* for whoever watches the gateway */
    assert_int_equal(health_field(&f, "refused_budget"), (long)st.refused_budget);
    fx_down(&f);
    struct store_usage u;
    ledger_for(f.dir, "alice", &u);
    assert_int_equal(u.total.calls, 11); /* refusals book nothing */
    store_usage_free(&u);
    free(f.dir);
}

/* Health shows the book-keeping backlog: records answered but not yet
 * taken for writing (what budgets and the ledger lag behind). */
static void test_health_books_pending(void **state)
{
    (void)state;
    struct gate gt = {.open = false};
    pthread_mutex_init(&gt.mu, NULL);
    pthread_cond_init(&gt.cv, NULL);
    struct fx_opts fo = {.record = gate_record, .record_ctx = &gt};
    struct fx f;
    fx_up(&f, &fo);
    assert_int_equal(health_field(&f, "books_pending"), 0);
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("pending", false), .bearer = TOK_ALICE};
    struct resp r;
    for (int i = 0; i < 4; i++) {
        send_req(&f, &q, &r);
        assert_int_equal(r.status, 200); /* answered: the books never hold a call up */
        resp_free(&r);
    }
    /* the thread is stuck in the first record; the others wait (a batch
     * may have taken some before the first reached the callback) */
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++) {
        pthread_mutex_lock(&gt.mu);
        seen = gt.seen;
        pthread_mutex_unlock(&gt.mu);
        if (!seen)
            usleep(10000);
    }
    assert_int_equal(seen, 1);
    long pending = health_field(&f, "books_pending"); /* steady while the thread is stuck */
    assert_true(pending >= 0 && pending <= 3);
    /* one more call queues behind the stuck batch */
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(health_field(&f, "books_pending"), pending + 1);
    pthread_mutex_lock(&gt.mu);
    gt.open = true;
    pthread_cond_broadcast(&gt.cv);
    pthread_mutex_unlock(&gt.mu);
    long left = -1;
    for (int i = 0; i < 200 && left != 0; i++) {
        left = health_field(&f, "books_pending");
        if (left)
            usleep(10000);
    }
    assert_int_equal(left, 0);
    fx_down(&f);
    assert_int_equal(gt.seen, 5);
    free(f.dir);
    pthread_cond_destroy(&gt.cv);
    pthread_mutex_destroy(&gt.mu);
}

/* A credential source that counts who asks: get (a provider call from
 * the loop: never, once the source offers peek), peek (the loop, per call)
 * and get_ahead (the helper thread, refreshing ahead of expiry). While
 * `failing`, get_ahead fails like a provider that is down; `usable` is
 * what peek sees (a refresh sets it, invalidate clears it). */
struct counting_creds {
    struct aws_credentials *set;
    pthread_mutex_t mu;
    int gets, aheads, peeks;
    bool failing, usable;
    int delay_ms; /* a slow provider: get_ahead takes this long */
    int in_flight; /* get_ahead calls running */
    int64_t ahead_ms;
    pthread_t peek_thread, ahead_thread;
};

static enum brock_status cc_get(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    (void)e;
    struct counting_creds *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->gets++;
    pthread_mutex_unlock(&c->mu);
    *out = aws_credentials_acquire(c->set);
    return BROCK_OK;
}

static enum brock_status cc_peek(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    struct counting_creds *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->peeks++;
    c->peek_thread = pthread_self();
    bool usable = c->usable;
    pthread_mutex_unlock(&c->mu);
    if (!usable) {
        *out = NULL;
        return err_set(e, BROCK_ERR_CREDENTIALS, "no usable AWS credentials at the moment (fake)");
    }
    *out = aws_credentials_acquire(c->set);
    return BROCK_OK;
}

static enum brock_status cc_get_ahead(void *ctx, int64_t ahead_ms, struct aws_credentials **out, struct brock_err *e)
{
    struct counting_creds *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->aheads++;
    c->in_flight++;
    c->ahead_ms = ahead_ms;
    c->ahead_thread = pthread_self();
    bool failing = c->failing;
    int delay_ms = c->delay_ms;
    pthread_mutex_unlock(&c->mu);
    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000);
    pthread_mutex_lock(&c->mu);
    if (!failing)
        c->usable = true;
    c->in_flight--;
    pthread_mutex_unlock(&c->mu);
    if (failing) {
        *out = NULL;
        return err_set(e, BROCK_ERR_CREDENTIALS, "the fake provider is down");
    }
    *out = aws_credentials_acquire(c->set);
    return BROCK_OK;
}

/* Wait until a refresh is running (running) or none is (!running): the
 * latter so that one begun under the old provider behaviour cannot land
 * after a test has changed it. */
static bool cc_wait(struct counting_creds *c, bool running, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool now = c->in_flight > 0;
        pthread_mutex_unlock(&c->mu);
        if (now == running)
            return true;
        if (time_mono_ms() >= end)
            return false;
        usleep(2000);
    }
}

static void cc_invalidate(void *ctx)
{
    struct counting_creds *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->usable = false;
    pthread_mutex_unlock(&c->mu);
}

static void cc_init(struct counting_creds *c, bool failing)
{
    memset(c, 0, sizeof *c);
    c->set = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "counting");
    c->failing = failing;
    pthread_mutex_init(&c->mu, NULL);
}

/* The gateway's credential source backed by c; invalidate only if asked. */
static struct aws_creds_source cc_source(struct counting_creds *c, bool invalidate)
{
    return (struct aws_creds_source){.get = cc_get,
                                     .get_ahead = cc_get_ahead,
                                     .peek = cc_peek,
                                     .invalidate = invalidate ? cc_invalidate : NULL,
                                     .ctx = c};
}

static void cc_free(struct counting_creds *c)
{
    pthread_mutex_destroy(&c->mu);
    aws_credentials_release(c->set);
}

/* The helper thread refreshes the upstream credentials ahead of expiry on
 * its own clock, with no call in flight and without the cache; the gateway
 * fetched the first set before serving; the loop only peeks at the current
 * set and never calls the provider. */
static void test_creds_ahead(void **state)
{
    (void)state;
    struct counting_creds cc;
    cc_init(&cc, false);
    struct aws_creds_source src = cc_source(&cc, false);
    struct fx_opts fo = {.no_cache = true, .creds = &src, .creds_check_ms = 50};
    struct fx f;
    fx_up(&f, &fo);
    pthread_mutex_lock(&cc.mu);
    assert_true(cc.aheads >= 1); /* the first set, fetched by gateway_new on this thread */
    assert_true(cc.usable);
    pthread_mutex_unlock(&cc.mu);
    usleep(400 * 1000);
    pthread_mutex_lock(&cc.mu);
    int aheads = cc.aheads, gets = cc.gets;
    int64_t ahead_ms = cc.ahead_ms;
    pthread_mutex_unlock(&cc.mu);
    assert_true(aheads >= 3); /* at start, then every 50 ms */
    assert_true(aheads <= 12);
    assert_int_equal(gets, 0);
    assert_int_equal(ahead_ms, CREDS_ADVISORY_REFRESH_MS + 2 * 50);
    struct resp r;
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("creds", false), .bearer = TOK_ALICE};
    send_req(&f, &q, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    pthread_mutex_lock(&cc.mu);
    assert_int_equal(cc.gets, 0);
    assert_int_equal(cc.peeks, 1);
    assert_false(pthread_equal(cc.peek_thread, cc.ahead_thread));
    assert_false(pthread_equal(cc.ahead_thread, pthread_self()));
    pthread_mutex_unlock(&cc.mu);
    fx_down(&f);
    free(f.dir);
    cc_free(&cc);
}

/* Calls that find no usable set while a refresh is running ask for one too;
 * that refresh answers them all: the provider is called once, not again the
 * moment it has succeeded. */
static void test_creds_nudges_during_refresh(void **state)
{
    (void)state;
    struct counting_creds cc;
    cc_init(&cc, false);
    struct aws_creds_source src = cc_source(&cc, true);
    struct fx_opts fo = {.no_cache = true, .creds = &src, .creds_check_ms = 600000};
    struct fx f;
    fx_up(&f, &fo);
    assert_true(cc_wait(&cc, false, 3000));
    pthread_mutex_lock(&cc.mu);
    assert_true(cc.usable);
    cc.delay_ms = 500;
    int aheads = cc.aheads;
    pthread_mutex_unlock(&cc.mu);
    /* Bedrock rejects the set: the call waits for the refresh (500 ms) */
    const char *fault = "{\"type\": \"expire_key\", \"access_key_id\": \"" EX_AKID "\", \"count\": 1}";
    struct brock_err e = {0};
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("nudge", false), .bearer = TOK_ALICE};
    struct bg_req b1 = {.f = &f, .q = q};
    pthread_create(&b1.th, NULL, bg_run, &b1);
    /* once the refresh runs, a second call finds no usable set and asks again */
    assert_true(cc_wait(&cc, true, 3000));
    struct bg_req b2 = {.f = &f, .q = q};
    pthread_create(&b2.th, NULL, bg_run, &b2);
    pthread_join(b1.th, NULL);
    pthread_join(b2.th, NULL);
    assert_int_equal(b1.r.status, 200);
    assert_int_equal(b2.r.status, 200);
    resp_free(&b1.r);
    resp_free(&b2.r);
    /* longer than a refresh takes: no second one started */
    usleep(800 * 1000);
    pthread_mutex_lock(&cc.mu);
    int refreshes = cc.aheads - aheads, running = cc.in_flight;
    pthread_mutex_unlock(&cc.mu);
    assert_int_equal(refreshes, 1);
    assert_int_equal(running, 0);
    fx_down(&f);
    free(f.dir);
    cc_free(&cc);
}

/* With no usable upstream credentials because the provider is down, calls
 * are answered 503 at once (the reason goes to the log) instead of the loop
 * waiting for a provider; the helper, asked by the loop, refreshes (at most
 * once a GATEWAY_CREDS_RETRY_MS) and calls go through again. A set Bedrock
 * rejects makes the call wait for the refresh, off the loop. */
static void test_creds_refused_fast(void **state)
{
    (void)state;
    struct counting_creds cc;
    cc_init(&cc, true);
    struct aws_creds_source src = cc_source(&cc, true);
    struct fx_opts fo = {.no_cache = true, .creds = &src, .creds_check_ms = 600000};
    struct fx f;
    fx_up(&f, &fo); /* starts all the same: the first fetch failed, with a warning */
    assert_int_equal(health_field(&f, "credentials_usable"), 0);
    struct req q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("no creds", false), .bearer = TOK_ALICE};
    struct resp r;
    char v[256];
    int64_t t0 = time_mono_ms();
    send_req(&f, &q, &r);
    assert_true(time_mono_ms() - t0 < 1000);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(hdr(&r, "x-amzn-errortype", v, sizeof v), "ServiceUnavailableException"));
    assert_non_null(strstr(buf_cstr(&r.body), "cannot sign the upstream call"));
    assert_null(strstr(buf_cstr(&r.body), EX_SECRET));
    /* why goes to the gateway's log, not to the client */
    assert_null(strstr(buf_cstr(&r.body), "fake"));
    resp_free(&r);
    /* the provider comes back: the loop's nudge gets a refresh within the
     * retry interval (the periodic check is 10 minutes away) */
    pthread_mutex_lock(&cc.mu);
    cc.failing = false;
    int aheads = cc.aheads;
    pthread_mutex_unlock(&cc.mu);
    assert_int_equal(status_within(&f, &q, 200, 40), 200);
    assert_int_equal(health_field(&f, "credentials_usable"), 1);
    pthread_mutex_lock(&cc.mu);
    assert_true(cc.aheads > aheads);
    assert_int_equal(cc.gets, 0);
    pthread_mutex_unlock(&cc.mu);
    /* Bedrock rejects the set (ExpiredTokenException): the client
     * invalidates it and finds none usable; the call waits while the
     * helper refreshes (the provider now takes 600 ms) and then goes
     * through, and the loop serves others meanwhile */
    assert_true(cc_wait(&cc, false, 3000));
    pthread_mutex_lock(&cc.mu);
    cc.delay_ms = 600;
    pthread_mutex_unlock(&cc.mu);
    const char *fault = "{\"type\": \"expire_key\", \"access_key_id\": \"" EX_AKID "\", \"count\": 1}";
    struct brock_err e = {0};
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    struct bg_req b = {.f = &f, .q = q};
    t0 = time_mono_ms();
    pthread_create(&b.th, NULL, bg_run, &b);
    /* the loop is not waiting for the provider: health answers at once */
    assert_int_equal(health_within(&f, "credentials_wait", 1, 40, 300), 1);
    pthread_join(b.th, NULL);
    int64_t took = time_mono_ms() - t0;
    assert_int_equal(b.r.status, 200);
    assert_true(took >= 500);  /* it waited for the refresh ... */
    assert_true(took < 3000);  /* ... and not for the park limit */
    resp_free(&b.r);
    assert_int_equal(health_field(&f, "credentials_wait"), 0);
    /* rejected again and the refresh fails: the waiting call is answered
     * 503 as soon as the refresh has failed, not at the park limit */
    assert_true(cc_wait(&cc, false, 3000));
    pthread_mutex_lock(&cc.mu);
    cc.delay_ms = 300;
    cc.failing = true;
    pthread_mutex_unlock(&cc.mu);
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    t0 = time_mono_ms();
    send_req(&f, &q, &r);
    took = time_mono_ms() - t0;
    assert_int_equal(r.status, 503);
    assert_true(took >= 250);
    assert_true(took < GATEWAY_CREDS_PARK_MS - 1000);
    assert_non_null(strstr(buf_cstr(&r.body), "cannot sign the upstream call"));
    assert_null(strstr(buf_cstr(&r.body), "fake"));
    resp_free(&r);
    assert_int_equal(health_field(&f, "credentials_usable"), 0);
    pthread_mutex_lock(&cc.mu);
    cc.failing = false;
    cc.delay_ms = 0;
    pthread_mutex_unlock(&cc.mu);
    assert_int_equal(status_within(&f, &q, 200, 40), 200);
    fx_down(&f);
    free(f.dir);
    cc_free(&cc);
}

struct status_log {
    pthread_mutex_t mu;
    char status[8][64];
    char msg[8][128];
    int n;
};

static void status_record(void *ctx, struct store *s, const struct gateway_record *r)
{
    (void)s;
    struct status_log *l = ctx;
    pthread_mutex_lock(&l->mu);
    if (l->n < 8) {
        snprintf(l->status[l->n], sizeof l->status[0], "%s", r->status);
        snprintf(l->msg[l->n], sizeof l->msg[0], "%s", r->error_message ? r->error_message : "");
        l->n++;
    }
    pthread_mutex_unlock(&l->mu);
}

/* A call parked for credentials when the gateway stops: answered (and
 * booked) 503 "shutting down", never left behind or sent. */
static void test_creds_wait_at_stop(void **state)
{
    (void)state;
    struct counting_creds cc;
    cc_init(&cc, false);
    struct aws_creds_source src = cc_source(&cc, true);
    struct status_log sl = {.n = 0};
    pthread_mutex_init(&sl.mu, NULL);
    struct fx_opts fo = {
        .no_cache = true, .creds = &src, .creds_check_ms = 600000, .record = status_record, .record_ctx = &sl};
    struct fx f;
    fx_up(&f, &fo);
    pthread_mutex_lock(&cc.mu);
    cc.delay_ms = 1500; /* the refresh outlasts the stop */
    pthread_mutex_unlock(&cc.mu);
    const char *fault = "{\"type\": \"expire_key\", \"access_key_id\": \"" EX_AKID "\", \"count\": 1}";
    struct brock_err e = {0};
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    struct bg_req b = {.f = &f, .q = {.path = "/model/" SONNET_ENC "/invoke", .body = invoke_body("parked at stop", false),
                                      .bearer = TOK_ALICE}};
    pthread_create(&b.th, NULL, bg_run, &b);
    assert_int_equal(health_within(&f, "credentials_wait", 1, 100, 0), 1);
    fx_down(&f); /* stops at once: the parked call is ended, then booked */
    pthread_join(b.th, NULL);
    assert_true(b.r.status == 0 || b.r.status == 503); /* the connection closed, or the answer got out */
    resp_free(&b.r);
    pthread_mutex_lock(&sl.mu);
    assert_int_equal(sl.n, 1);
    assert_string_equal(sl.status[0], "ServiceUnavailableException");
    assert_non_null(strstr(sl.msg[0], "shutting down"));
    pthread_mutex_unlock(&sl.mu);
    free(f.dir);
    pthread_mutex_destroy(&sl.mu);
    cc_free(&cc);
}

static void test_graceful_stop(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f, NULL);
    char fr[4096];
    struct bg_req b = {.f = &f,
                       .q = {.path = "/model/" SONNET_ENC "/invoke-with-response-stream",
                             .body = invoke_body("slow stream stop", false), .bearer = TOK_ALICE}};
    pthread_create(&b.th, NULL, bg_run, &b);
    usleep(300000);
    gateway_stop(f.gw, 10000);
    pthread_join(b.th, NULL);
    assert_int_equal(b.r.status, 200);
    assert_true(frames(&b.r.body, fr, sizeof fr));
    /* the stream in flight finished whole */
    assert_int_equal(b.r.rc, CURLE_OK);
    resp_free(&b.r);
    fx_down(&f);
    struct store_usage u;
    ledger_for(f.dir, "alice", &u);
    assert_int_equal(u.total.calls, 1);
    assert_int_equal(u.total.errors, 0);
    store_usage_free(&u);
    free(f.dir);
}

static void test_options(void **state)
{
    (void)state;
    struct gateway_options o;
    gateway_options_init(&o);
    struct gateway *g = NULL;
    struct brock_err e = {0};
    assert_int_equal(gateway_new(&o, &g, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--key"));
    struct gateway_keys k = {0};
    assert_int_equal(gateway_keys_add_spec(&k, TOK_ALICE "=alice", &e), BROCK_OK);
    o.keys = &k;
    o.host = "0.0.0.0";
    o.no_store = true;
    assert_int_equal(gateway_new(&o, &g, &e), BROCK_ERR_USAGE);
    assert_null(g);
    gateway_keys_free(&k);
}

int main(void)
{
    test_init();
    struct brock_err e;
    if (http_global_init(&e) != BROCK_OK)
        return 1;
    crypto_global_init();
    log_setup(LOG_DEBUG, log_sink, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_translate),
        cmocka_unit_test(test_translate_scanner),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_passthrough),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_auth_before_body),
        cmocka_unit_test(test_translation_upstream),
        cmocka_unit_test(test_books_budget_cache),
        cmocka_unit_test(test_budget_per_user),
        cmocka_unit_test(test_books_bad_row), cmocka_unit_test(test_cost_unknown_model),
        cmocka_unit_test(test_profiles_bounded),
        cmocka_unit_test(test_persistent_cache),
        cmocka_unit_test(test_failover_sticky),
        cmocka_unit_test(test_region_failover),
        cmocka_unit_test(test_stream_cuts),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_client_stalls_h2),
        cmocka_unit_test(test_stream_backpressure),
        cmocka_unit_test(test_upstream_idle_sockets),
        cmocka_unit_test(test_keys_reload_off_loop),
        cmocka_unit_test(test_admission_fair),
        cmocka_unit_test(test_admission_queue),
        cmocka_unit_test(test_admission_default_share),
        cmocka_unit_test(test_creds_ahead),
        cmocka_unit_test(test_creds_refused_fast),
        cmocka_unit_test(test_creds_nudges_during_refresh),
        cmocka_unit_test(test_creds_wait_at_stop),
        cmocka_unit_test(test_health_books_pending),
        cmocka_unit_test(test_rate_per_key),
        cmocka_unit_test(test_keys_reload),
        cmocka_unit_test(test_loop_slice),
        cmocka_unit_test(test_loop_realtime),
        cmocka_unit_test(test_graceful_stop),
    };
    /* TEST_CASE=pattern runs only the matching tests (TEST_FILTER is
     * tests/run.sh's, a binary or script name) */
    if (getenv("TEST_CASE"))
        cmocka_set_test_filter(getenv("TEST_CASE"));
    int rc = cmocka_run_group_tests_name("gateway", tests, NULL, NULL);
    buf_free(&log_text);
    return rc;
}
