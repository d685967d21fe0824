/* Tests for src/agent/respcache.c: the key (SHA-256 of the documented
 * construction, recomputed here from the bedrock layer's body; sensitive to
 * every part of the request, blind to credentials and the stream flag),
 * which requests and answers are cached, entries round-tripping exactly,
 * expiry by TTL, LRU eviction by size, the settings. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/agent/respcache.h"
#include "../../src/aws/crypto.h"
#include "../../src/bedrock/bedrock_wire.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"
#include "../../src/util/codec.h"
#include "../../src/util/json.h"

static json_t *msgs_of(const char *text)
{
    return json_pack("[{s:s,s:[{s:s,s:s}]}]", "role", "user", "content", "type", "text", "text", text);
}

static struct model_request base_req(json_t *msgs)
{
    struct model_request r = {.model_id = "us.anthropic.claude-sonnet-4-6",
                              .messages = msgs,
                              .max_tokens = 512,
                              .temperature = 0,
                              .top_p = MODEL_UNSET,
                              .top_k = MODEL_UNSET};
    return r;
}

static void key_of(const struct model_request *r, char out[65])
{
    struct brock_err e = {0};
    if (respcache_key(r, out, &e) != BROCK_OK)
        fail_msg("key: %s", e.msg);
}

static void test_respcache_key_construction(void **state)
{
    (void)state;
    json_t *m = msgs_of("what is 2+2?");
    struct model_request r = base_req(m);
    char k[65];
    key_of(&r, k);
    /* recompute: "brock-respcache-1\nmessages\n<model>\n<canonical body>" */
    struct buf body = BUF_INIT(1 << 20), all = BUF_INIT(1 << 20);
    struct brock_err e = {0};
    assert_int_equal(bedrock_invoke_body(&r, &body, &e), BROCK_OK);
    buf_addf(&all, "brock-respcache-1\nmessages\n%s\n", r.model_id);
    buf_add(&all, body.ptr, body.len);
    char want[65];
    crypto_sha256_hex(all.ptr, all.len, want);
    assert_string_equal(k, want);
    /* the Converse API hashes its own body */
    r.api = MODEL_API_CONVERSE;
    char kc[65];
    key_of(&r, kc);
    buf_reset(&body);
    buf_reset(&all);
    assert_int_equal(bedrock_converse_body(&r, &body, &e), BROCK_OK);
    buf_addf(&all, "brock-respcache-1\nconverse\n%s\n", r.model_id);
    buf_add(&all, body.ptr, body.len);
    crypto_sha256_hex(all.ptr, all.len, want);
    assert_string_equal(kc, want);
    buf_free(&body);
    buf_free(&all);
    json_decref(m);
}

static void test_respcache_key_sensitivity(void **state)
{
    (void)state;
    json_t *m = msgs_of("what is 2+2?"), *m2 = msgs_of("what is 2+3?");
    json_t *sys = json_string("be brief"), *tools = json_pack("[{s:s,s:s,s:{s:s}}]", "name", "Read", "description",
                                                              "read a file", "input_schema", "type", "object");
    struct model_request r = base_req(m);
    char k0[65], k[65];
    key_of(&r, k0);
    assert_int_equal(strlen(k0), 64);
    /* the same request: the same key, also from an equal copy */
    json_t *copy = json_deep_copy(m);
    struct model_request rc = base_req(copy);
    key_of(&rc, k);
    assert_string_equal(k, k0);
    json_decref(copy);
    /* the stream flag does not change the answer, nor the key */
    r.stream = true;
    key_of(&r, k);
    assert_string_equal(k, k0);
    r.stream = false;
    /* credentials are not part of it (they are nowhere in the request) */
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY-OTHER", 1);
    key_of(&r, k);
    assert_string_equal(k, k0);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    /* every part of the request changes it */
    struct model_request v;
#define DIFFERS(what)                                                                                                \
    do {                                                                                                             \
        key_of(&v, k);                                                                                               \
        if (!strcmp(k, k0))                                                                                          \
            fail_msg("changing %s did not change the key", what);                                                   \
    } while (0)
    v = r;
    v.model_id = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
    DIFFERS("the model");
    v = r;
    v.messages = m2;
    DIFFERS("the messages");
    v = r;
    v.system = sys;
    DIFFERS("the system prompt");
    v = r;
    v.tools = tools;
    DIFFERS("the tools");
    v = r;
    v.temperature = 0.5;
    DIFFERS("the temperature");
    v = r;
    v.max_tokens = 513;
    DIFFERS("max_tokens");
    v = r;
    v.api = MODEL_API_CONVERSE;
    DIFFERS("the API");
#undef DIFFERS
    json_decref(m);
    json_decref(m2);
    json_decref(sys);
    json_decref(tools);
}

static void test_respcache_eligibility(void **state)
{
    (void)state;
    struct respcache_policy p;
    struct brock_err e = {0};
    json_t *m = msgs_of("hi");
    struct model_request r = base_req(m);
    /* -p with temperature 0 */
    assert_int_equal(respcache_policy_init(&p, NULL, true, false, false, &e), BROCK_OK);
    assert_int_equal(p.mode, RESPCACHE_AUTO);
    assert_true(respcache_eligible(&p, &r));
    r.temperature = MODEL_UNSET;
    assert_false(respcache_eligible(&p, &r));
    r.temperature = 0.2;
    assert_false(respcache_eligible(&p, &r));
    r.temperature = 0;
    json_t *think = json_pack("{s:s,s:i}", "type", "enabled", "budget_tokens", 2048);
    r.thinking = think;
    assert_false(respcache_eligible(&p, &r));
    r.thinking = NULL;
    /* not -p: only with --cache */
    assert_int_equal(respcache_policy_init(&p, NULL, false, false, false, &e), BROCK_OK);
    assert_false(respcache_eligible(&p, &r));
    assert_int_equal(respcache_policy_init(&p, NULL, false, true, false, &e), BROCK_OK);
    assert_int_equal(p.mode, RESPCACHE_ON);
    r.temperature = 1;
    assert_true(respcache_eligible(&p, &r));
    /* --no-cache wins over everything */
    assert_int_equal(respcache_policy_init(&p, NULL, true, true, true, &e), BROCK_OK);
    assert_false(respcache_eligible(&p, &r));
    /* tools ran in this turn: never */
    assert_int_equal(respcache_policy_init(&p, NULL, false, true, false, &e), BROCK_OK);
    json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s,s:s,s:{}}]}", "role", "assistant", "content", "type",
                                       "tool_use", "id", "t1", "name", "Read", "input"));
    json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "role", "user", "content", "type", "tool_result",
                                       "tool_use_id", "t1", "content", "x"));
    assert_false(respcache_eligible(&p, &r));
    json_decref(m);
    json_decref(think);
}

static void test_respcache_storable(void **state)
{
    (void)state;
    struct model_result r;
    model_result_init(&r);
    assert_false(respcache_storable(&r)); /* no content */
    json_decref(r.content);
    r.content = json_pack("[{s:s,s:s}]", "type", "text", "text", "4");
    snprintf(r.stop_reason, sizeof r.stop_reason, "end_turn");
    assert_true(respcache_storable(&r));
    snprintf(r.stop_reason, sizeof r.stop_reason, "max_tokens");
    assert_true(respcache_storable(&r));
    snprintf(r.stop_reason, sizeof r.stop_reason, "refusal");
    assert_false(respcache_storable(&r));
    snprintf(r.stop_reason, sizeof r.stop_reason, "end_turn");
    r.partial = true;
    assert_false(respcache_storable(&r));
    r.partial = false;
    json_array_append_new(r.content, json_pack("{s:s,s:s,s:s,s:{}}", "type", "tool_use", "id", "t", "name", "Read",
                                               "input"));
    assert_false(respcache_storable(&r));
    model_result_cleanup(&r);
}

static int64_t now_of(void *ctx)
{
    return *(int64_t *)ctx;
}

static void fill(struct model_result *r, const char *text, int64_t in, int64_t out)
{
    model_result_init(r);
    json_decref(r->content);
    r->content = json_pack("[{s:s,s:s},{s:s,s:s}]", "type", "thinking", "thinking", "hmm", "type", "text", "text",
                           text);
    snprintf(r->stop_reason, sizeof r->stop_reason, "end_turn");
    snprintf(r->model_id, sizeof r->model_id, "us.anthropic.claude-sonnet-4-6");
    snprintf(r->region, sizeof r->region, "us-west-2");
    snprintf(r->request_id, sizeof r->request_id, "req-abc");
    snprintf(r->message_id, sizeof r->message_id, "msg_1");
    r->usage = (struct model_usage){in, out, 0, 0};
}

static size_t n_text;
static void on_text(void *ctx, int index, const char *t, size_t n)
{
    (void)ctx;
    (void)index;
    n_text += n;
    assert_memory_equal(t, "answer \xc3\xa9 \"quoted\"\n", n);
}

static void test_respcache_store_expire_evict(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    int64_t now = 1787054400000LL;
    struct clock ck = {.now_ms = now_of, .ctx = &now};
    struct store_options o = {.dir = dir, .clock = &ck};
    struct store *s;
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &s, &e), BROCK_OK);
    const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    struct model_result a, b;
    fill(&a, "answer \xc3\xa9 \"quoted\"\n", 1234, 56);
    if (respcache_put(s, key, &a, 0.0123, 60, now, &e) != BROCK_OK)
        fail_msg("put: %s", e.msg);
    model_result_init(&b);
    struct respcache_meta meta;
    bool hit;
    assert_int_equal(respcache_get(s, key, &b, &meta, &hit, &e), BROCK_OK);
    assert_true(hit);
    assert_true(json_equal(a.content, b.content));
    assert_string_equal(b.stop_reason, "end_turn");
    assert_string_equal(b.message_id, "msg_1");
    assert_string_equal(b.model_id, "us.anthropic.claude-sonnet-4-6");
    assert_int_equal(b.usage.input_tokens, 0); /* a hit bills nothing */
    assert_int_equal(meta.usage.input_tokens, 1234);
    assert_int_equal(meta.usage.output_tokens, 56);
    assert_true(meta.cost_usd == 0.0123);
    assert_string_equal(meta.request_id, "req-abc");
    assert_string_equal(meta.region, "us-west-2");
    assert_int_equal(meta.created_ms, now);
    /* the replay gives the text, exactly */
    struct model_events ev = {.on_text = on_text};
    n_text = 0;
    respcache_replay(&b, &ev);
    assert_int_equal(n_text, strlen("answer \xc3\xa9 \"quoted\"\n"));
    /* a different key misses */
    assert_int_equal(respcache_get(s, "ff23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &b, &meta,
                                   &hit, &e),
                     BROCK_OK);
    assert_false(hit);
    /* past the TTL: a miss, counted as an expiration */
    now += 61000;
    assert_int_equal(respcache_get(s, key, &b, &meta, &hit, &e), BROCK_OK);
    assert_false(hit);
    struct store_cache_stats st;
    assert_int_equal(store_cache_stats(s, &st, &e), BROCK_OK);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.expirations, 1);
    /* a size limit that holds two entries and a half: the least recently used goes */
    char keys[3][65];
    for (int i = 0; i < 3; i++) {
        snprintf(keys[i], sizeof keys[i], "%064d", i + 1);
        struct model_result x;
        char text[300];
        memset(text, 'a' + i, sizeof text - 1);
        text[sizeof text - 1] = '\0';
        fill(&x, text, 1, 1);
        assert_int_equal(respcache_put(s, keys[i], &x, 0.001, 3600, now, &e), BROCK_OK);
        model_result_cleanup(&x);
        if (i == 0) {
            assert_int_equal(store_cache_stats(s, &st, &e), BROCK_OK);
            assert_int_equal(st.entries, 1);
            store_cache_set_limit(s, st.bytes * 5 / 2);
        }
        if (i == 1) { /* touch the first: the second is now the least recently used */
            now += 1000;
            assert_int_equal(respcache_get(s, keys[0], &b, &meta, &hit, &e), BROCK_OK);
            assert_true(hit);
        }
        now += 1000;
    }
    assert_int_equal(respcache_get(s, keys[1], &b, &meta, &hit, &e), BROCK_OK);
    assert_false(hit);
    assert_int_equal(respcache_get(s, keys[0], &b, &meta, &hit, &e), BROCK_OK);
    assert_true(hit);
    assert_int_equal(respcache_get(s, keys[2], &b, &meta, &hit, &e), BROCK_OK);
    assert_true(hit);
    assert_int_equal(store_cache_stats(s, &st, &e), BROCK_OK);
    assert_true(st.evictions >= 1);
    model_result_cleanup(&a);
    model_result_cleanup(&b);
    store_close(s);
    free(dir);
}

static void test_respcache_settings(void **state)
{
    (void)state;
    struct respcache_policy p;
    struct brock_err e = {0};
    json_t *b = json_pack("{s:{s:b,s:i,s:f}}", "cache", "enabled", 0, "ttl_s", 600, "max_mb", 0.5);
    assert_int_equal(respcache_policy_init(&p, b, true, false, false, &e), BROCK_OK);
    assert_int_equal(p.mode, RESPCACHE_OFF);
    assert_int_equal(p.ttl_s, 600);
    assert_int_equal(p.max_bytes, 512 * 1024);
    /* --cache is explicit: it turns the cache on for this run */
    assert_int_equal(respcache_policy_init(&p, b, true, true, false, &e), BROCK_OK);
    assert_int_equal(p.mode, RESPCACHE_ON);
    json_decref(b);
    const char *bad[][2] = {
        {"{\"cache\": true}", "brock.cache: expected an object"},
        {"{\"cache\": {\"ttl\": 5}}", "brock.cache: unknown field"},
        {"{\"cache\": {\"ttl_s\": 0}}", "brock.cache.ttl_s: expected whole seconds"},
        {"{\"cache\": {\"ttl_s\": 1.5}}", "brock.cache.ttl_s"},
        {"{\"cache\": {\"max_mb\": -3}}", "brock.cache.max_mb"},
        {"{\"cache\": {\"enabled\": \"no\"}}", "brock.cache.enabled: expected true or false"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        json_t *x = NULL;
        assert_int_equal(json_parse(bad[i][0], strlen(bad[i][0]), "t", &x, &e), BROCK_OK);
        if (respcache_policy_init(&p, x, true, false, false, &e) != BROCK_ERR_CONFIG || !strstr(e.msg, bad[i][1]))
            fail_msg("%s: %s", bad[i][0], e.msg);
        json_decref(x);
    }
}

int main(void)
{
    test_init();
    crypto_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_respcache_key_construction), cmocka_unit_test(test_respcache_key_sensitivity),
        cmocka_unit_test(test_respcache_eligibility),      cmocka_unit_test(test_respcache_storable),
        cmocka_unit_test(test_respcache_store_expire_evict), cmocka_unit_test(test_respcache_settings),
    };
    return cmocka_run_group_tests_name("respcache", tests, NULL, NULL);
}
