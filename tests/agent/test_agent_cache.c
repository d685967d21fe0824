/* Tests for prompt-cache points (src/agent/agent_cache.c): the plan (at most
 * four, the moving end, the previous request's end, the minimum cacheable
 * length), the request bodies the model client receives (Messages and
 * Converse), DISABLE_PROMPT_CACHING, and the warning when a cache write is
 * not read back. */
#include "test_agent_fake.h"

static void test_plan_table(void **state)
{
    (void)state;
    struct {
        uint32_t min;
        bool disabled;
        int64_t tools, system;
        int64_t msgs[6];
        size_t n, prev;
        bool want_tools, want_system;
        size_t want_msg[2], want_n;
    } cases[] = {
        /* everything long enough: tools, system, the end */
        {1024, false, 2000, 100, {50, 30}, 2, SIZE_MAX, true, true, {1, 0}, 1},
        /* disabled, or a model without caching */
        {1024, true, 2000, 100, {50, 30}, 2, SIZE_MAX, false, false, {0, 0}, 0},
        {0, false, 2000, 100, {50, 30}, 2, SIZE_MAX, false, false, {0, 0}, 0},
        /* short tools and system: only the end reaches the minimum */
        {1024, false, 100, 200, {300, 500}, 2, SIZE_MAX, false, false, {1, 0}, 1},
        /* too short everywhere */
        {4096, false, 100, 200, {300, 500}, 2, SIZE_MAX, false, false, {0, 0}, 0},
        /* the previous end below the minimum, the new end above */
        {1024, false, 0, 0, {400, 400, 400, 400}, 4, 1, false, false, {3, 0}, 1},
        /* both ends */
        {1024, false, 0, 0, {400, 400, 400, 400}, 4, 2, false, false, {2, 3}, 2},
        /* four at most: tools, system, previous end, new end */
        {1024, false, 3000, 500, {400, 400, 400, 400, 400}, 5, 2, true, true, {2, 4}, 2},
        /* the previous end is the last message: one marker */
        {1024, false, 0, 0, {800, 800}, 2, 1, false, false, {1, 0}, 1},
        /* a prev_end past the end is ignored */
        {1024, false, 0, 0, {800, 800}, 2, 7, false, false, {1, 0}, 1},
        /* no messages */
        {1024, false, 3000, 0, {0}, 0, SIZE_MAX, true, false, {0, 0}, 0},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct agent_cache_plan p;
        agent_cache_plan(cases[i].min, cases[i].disabled, cases[i].tools, cases[i].system, cases[i].msgs, cases[i].n,
                         cases[i].prev, &p);
        if (p.tools != cases[i].want_tools || p.system != cases[i].want_system || p.n_msg != cases[i].want_n)
            fail_msg("case %zu: tools %d system %d n_msg %zu", i, p.tools, p.system, p.n_msg);
        for (size_t k = 0; k < p.n_msg; k++)
            if (p.msg[k] != cases[i].want_msg[k])
                fail_msg("case %zu: msg[%zu] = %zu, want %zu", i, k, p.msg[k], cases[i].want_msg[k]);
        assert_int_equal(p.count, (int)p.tools + (int)p.system + (int)p.n_msg);
    }
}

/* Random plans: never more than four, each point's prefix reaches the minimum. */
static void test_plan_properties(void **state)
{
    (void)state;
    uint64_t r = 88172645463325252ull;
    for (int iter = 0; iter < 20000; iter++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        uint32_t min = (uint32_t)(r % 5000);
        int64_t tools = (int64_t)((r >> 8) % 4000), system = (int64_t)((r >> 20) % 3000);
        int64_t msgs[8];
        size_t n = (size_t)((r >> 32) % 9);
        for (size_t i = 0; i < n; i++)
            msgs[i] = (int64_t)((r >> (i * 5 + 3)) % 1500);
        size_t prev = (r >> 40) % 10 == 0 ? SIZE_MAX : (size_t)((r >> 44) % 10);
        struct agent_cache_plan p;
        agent_cache_plan(min, false, tools, system, msgs, n, prev, &p);
        assert_true(p.count <= AGENT_MAX_CACHE_POINTS);
        if (p.tools)
            assert_true(tools >= min && tools > 0);
        if (p.system)
            assert_true(tools + system >= min);
        int64_t prefix = tools + system;
        for (size_t k = 0; k < p.n_msg; k++) {
            int64_t at = prefix;
            for (size_t i = 0; i <= p.msg[k]; i++)
                at += msgs[i];
            assert_true(at >= min);
            assert_true(p.msg[k] < n);
            if (k)
                assert_true(p.msg[k] > p.msg[k - 1]);
        }
        if (n && p.n_msg)
            assert_int_equal(p.msg[p.n_msg - 1], n - 1); /* the moving end is always the last message */
    }
}

static void test_cache_messages_copies(void **state)
{
    (void)state;
    json_t *msgs = json_loads("[{\"role\": \"user\", \"content\": \"plain string\"},"
                              " {\"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"a\"},"
                              "   {\"type\": \"thinking\", \"thinking\": \"t\", \"signature\": \"s\"}]},"
                              " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"x\"},"
                              "   {\"type\": \"tool_result\", \"tool_use_id\": \"q\", \"content\": \"r\"}]}]",
                              0, NULL);
    char *before = json_dumps(msgs, JSON_SORT_KEYS);
    struct agent_cache_plan p = {.msg = {0, 2}, .n_msg = 2, .count = 2};
    json_t *out = agent_cache_messages(msgs, &p);
    char *after = json_dumps(msgs, JSON_SORT_KEYS);
    assert_string_equal(before, after); /* the conversation is untouched */
    json_t *m0 = json_object_get(json_array_get(out, 0), "content");
    assert_true(json_is_array(m0));
    assert_string_equal(json_string_value(json_object_get(json_array_get(m0, 0), "text")), "plain string");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(m0, 0), "cache_control"),
                                                          "type")),
                        "ephemeral");
    json_t *m2 = json_object_get(json_array_get(out, 2), "content");
    assert_null(json_object_get(json_array_get(m2, 0), "cache_control"));
    assert_non_null(json_object_get(json_array_get(m2, 1), "cache_control"));
    /* a message ending in thinking is left alone */
    struct agent_cache_plan p1 = {.msg = {1}, .n_msg = 1, .count = 1};
    json_t *out1 = agent_cache_messages(msgs, &p1);
    char *s1 = json_dumps(out1, JSON_SORT_KEYS);
    assert_string_equal(s1, before);
    free(s1);
    json_decref(out1);
    free(before);
    free(after);
    json_decref(out);
    json_decref(msgs);
}

/* Count "cache_control" keys anywhere in v. */
static int count_key(const json_t *v, const char *key)
{
    int n = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            n += !strcmp(k, key);
            n += count_key(x, key);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) n += count_key(x, key);
    }
    return n;
}

static bool last_block_marked(const json_t *msgs, size_t i)
{
    json_t *c = json_object_get(json_array_get(msgs, i), "content");
    return json_object_get(json_array_get(c, json_array_size(c) - 1), "cache_control") != NULL;
}

static void loop_with_three_calls(struct fx *x)
{
    fx_write(x, "a.txt", "a\n");
    char *a = fx_path(x, "a.txt");
    fake_step(&x->fm, "{\"tool_use\": [{\"id\": \"t1\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}", a);
    fake_step(&x->fm, "{\"tool_use\": [{\"id\": \"t2\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}", a);
    fake_step(&x->fm, "{\"text\": \"done\"}");
    free(a);
    fx_agent(x);
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x->a, "read a twice", &t, &e), BROCK_OK);
    assert_int_equal(t.model_calls, 3);
    agent_turn_cleanup(&t);
}

static void test_cache_points_in_requests(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    loop_with_three_calls(&x);
    for (size_t i = 0; i < 3; i++) {
        json_t *body = json_object_get(json_array_get(x.fm.requests, i), "body");
        json_t *tools = json_object_get(body, "tools"), *sys = json_object_get(body, "system");
        json_t *msgs = json_object_get(body, "messages");
        size_t n = json_array_size(msgs);
        assert_non_null(json_object_get(json_array_get(tools, json_array_size(tools) - 1), "cache_control"));
        assert_null(json_object_get(json_array_get(tools, 0), "cache_control"));
        assert_non_null(json_object_get(json_array_get(sys, json_array_size(sys) - 1), "cache_control"));
        assert_true(last_block_marked(msgs, n - 1)); /* the moving end */
        int want = i == 0 ? 3 : 4;                   /* + the previous request's end */
        assert_int_equal(count_key(body, "cache_control"), want);
        if (i > 0) {
            assert_true(last_block_marked(msgs, n - 3));
            for (size_t k = 0; k + 3 < n; k++)
                assert_false(last_block_marked(msgs, k));
        }
    }
    assert_int_equal(count_key(agent_messages(x.a), "cache_control"), 0);
    json_t *calls = fx_events(&x, "call");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(calls, 0), "cache_points")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(calls, 2), "cache_points")), 4);
    json_decref(calls);
    fx_free(&x);

    /* Converse: the same points as cachePoint blocks */
    fx_init(&x, NULL, NULL, NULL);
    x.cfg.api = MODEL_API_CONVERSE;
    loop_with_three_calls(&x);
    for (size_t i = 0; i < 3; i++) {
        json_t *rec = json_array_get(x.fm.requests, i);
        assert_null(json_object_get(rec, "body_error"));
        json_t *conv = json_object_get(rec, "converse");
        assert_int_equal(count_key(conv, "cachePoint"), i == 0 ? 3 : 4);
        json_t *tools = json_object_get(json_object_get(conv, "toolConfig"), "tools");
        assert_non_null(json_object_get(json_array_get(tools, json_array_size(tools) - 1), "cachePoint"));
        json_t *sys = json_object_get(conv, "system");
        assert_non_null(json_object_get(json_array_get(sys, json_array_size(sys) - 1), "cachePoint"));
        json_t *msgs = json_object_get(conv, "messages");
        json_t *c = json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content");
        assert_non_null(json_object_get(json_array_get(c, json_array_size(c) - 1), "cachePoint"));
    }
    fx_free(&x);
}

static void test_cache_minimum_length(void **state)
{
    (void)state;
    /* Haiku 4.5 caches from 4096 tokens: a short conversation without tools gets none */
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    x.cfg.model_id = HAIKU_ID;
    x.cfg.model_info = catalog_find(HAIKU_ID, NULL);
    x.cfg.tools = NULL;
    fake_step(&x.fm, "{\"text\": \"short\"}");
    fake_step(&x.fm, "{\"text\": \"long\"}");
    fx_agent(&x);
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x.a, "a short question", &t, &e), BROCK_OK);
    agent_turn_cleanup(&t);
    assert_int_equal(count_key(json_object_get(json_array_get(x.fm.requests, 0), "body"), "cache_control"), 0);
    /* a long prompt (about 6000 tokens): only the moving end qualifies */
    size_t len = 24000;
    char *big = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        big[i] = (char)('a' + i % 26);
    big[len] = '\0';
    assert_int_equal(agent_run_turn(x.a, big, &t, &e), BROCK_OK);
    agent_turn_cleanup(&t);
    json_t *body = json_object_get(json_array_get(x.fm.requests, 1), "body");
    assert_int_equal(count_key(body, "cache_control"), 1);
    json_t *msgs = json_object_get(body, "messages");
    assert_true(last_block_marked(msgs, json_array_size(msgs) - 1));
    free(big);
    fx_free(&x);

    /* a model without caching (Claude 3.5 Sonnet v2): none */
    fx_init(&x, NULL, NULL, NULL);
    x.cfg.model_id = "anthropic.claude-3-5-sonnet-20241022-v2:0";
    x.cfg.model_info = catalog_find(x.cfg.model_id, NULL);
    assert_int_equal(x.cfg.model_info->min_cache_tokens, 0);
    fake_step(&x.fm, "{\"text\": \"no caching\"}");
    fx_agent(&x);
    assert_int_equal(agent_run_turn(x.a, "hello", &t, &e), BROCK_OK);
    agent_turn_cleanup(&t);
    assert_int_equal(count_key(json_object_get(json_array_get(x.fm.requests, 0), "body"), "cache_control"), 0);
    fx_free(&x);
}

static void test_disable_prompt_caching(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    setenv("DISABLE_PROMPT_CACHING", "1", 1);
    struct brock_err e = {0};
    assert_int_equal(agent_config_env(&x.cfg, &e), BROCK_OK);
    unsetenv("DISABLE_PROMPT_CACHING");
    assert_true(x.cfg.disable_cache);
    loop_with_three_calls(&x);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(count_key(json_object_get(json_array_get(x.fm.requests, i), "body"), "cache_control"), 0);
    fx_free(&x);

    /* per family */
    struct agent_config c;
    agent_config_init(&c);
    c.model_info = catalog_find(SONNET_ID, NULL);
    setenv("DISABLE_PROMPT_CACHING_SONNET", "true", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_OK);
    assert_true(c.disable_cache);
    agent_config_init(&c);
    c.model_info = catalog_find(HAIKU_ID, NULL);
    assert_int_equal(agent_config_env(&c, &e), BROCK_OK);
    assert_false(c.disable_cache);
    unsetenv("DISABLE_PROMPT_CACHING_SONNET");
    setenv("DISABLE_PROMPT_CACHING", "0", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_OK);
    assert_false(c.disable_cache);
    unsetenv("DISABLE_PROMPT_CACHING");

    /* the other variables */
    setenv("BROCK_CONTEXT_WINDOW", "5000", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_OK);
    assert_int_equal(c.context_window, 5000);
    setenv("BROCK_CONTEXT_WINDOW", "12k", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "BROCK_CONTEXT_WINDOW"));
    setenv("BROCK_CONTEXT_WINDOW", "10", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_ERR_USAGE);
    unsetenv("BROCK_CONTEXT_WINDOW");
    setenv("BROCK_COMPACT_THRESHOLD", "1.5", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "BROCK_COMPACT_THRESHOLD"));
    setenv("BROCK_COMPACT_THRESHOLD", "0.5", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_OK);
    assert_true(c.compact_threshold == 0.5);
    unsetenv("BROCK_COMPACT_THRESHOLD");
    setenv("BROCK_AUTO_COMPACT", "0", 1);
    assert_int_equal(agent_config_env(&c, &e), BROCK_OK);
    assert_false(c.auto_compact);
    unsetenv("BROCK_AUTO_COMPACT");
}

static void test_cache_miss_warning(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fx_write(&x, "a.txt", "a\n");
    char *a = fx_path(&x, "a.txt");
    const char *use = "\"tool_use\": [{\"id\": \"t%d\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]";
    char fmt[512];
    /* 1: writes 5000; 2: reads nothing (warn); 3: reads (no warning); 4: writes 500 (< min); 5: reads 0 (no warning) */
    snprintf(fmt, sizeof fmt, "{%s, \"usage\": {\"input\": 20, \"output\": 5, \"cache_write\": 5000}}", use);
    fake_step(&x.fm, fmt, 1, a);
    snprintf(fmt, sizeof fmt, "{%s, \"usage\": {\"input\": 5100, \"output\": 5, \"cache_write\": 5000}}", use);
    fake_step(&x.fm, fmt, 2, a);
    snprintf(fmt, sizeof fmt, "{%s, \"usage\": {\"input\": 20, \"output\": 5, \"cache_read\": 5000, \"cache_write\": 500}}",
             use);
    fake_step(&x.fm, fmt, 3, a);
    snprintf(fmt, sizeof fmt, "{%s, \"usage\": {\"input\": 700, \"output\": 5}}", use);
    fake_step(&x.fm, fmt, 4, a);
    fake_step(&x.fm, "{\"text\": \"done\", \"usage\": {\"input\": 900, \"output\": 5}}");
    free(a);
    fx_agent(&x);
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x.a, "go", &t, &e), BROCK_OK);
    assert_int_equal(t.model_calls, 5);
    assert_int_equal(t.usage.cache_read_tokens, 5000);
    assert_int_equal(t.usage.cache_write_tokens, 10500);
    json_t *w = fx_events(&x, "warning");
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(w, 0), "text")), "wrote 5000 tokens"));
    json_decref(w);
    struct agent_totals tot;
    agent_totals(x.a, &tot);
    assert_int_equal(tot.cache_misses, 1);
    /* cost counts cache reads and writes at their prices */
    const struct model_info *mi = catalog_find(SONNET_ID, NULL);
    enum model_geo geo;
    catalog_find(SONNET_ID, &geo);
    double want = catalog_cost(mi, geo, 20, 5, 0, 5000, 0, false) + catalog_cost(mi, geo, 5100, 5, 0, 5000, 0, false) +
                  catalog_cost(mi, geo, 20, 5, 5000, 500, 0, false) + catalog_cost(mi, geo, 700, 5, 0, 0, 0, false) +
                  catalog_cost(mi, geo, 900, 5, 0, 0, 0, false);
    assert_true(t.cost_usd > 0 && t.cost_usd - want < 1e-12 && want - t.cost_usd < 1e-12);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_table),
        cmocka_unit_test(test_plan_properties),
        cmocka_unit_test(test_cache_messages_copies),
        cmocka_unit_test(test_cache_points_in_requests),
        cmocka_unit_test(test_cache_minimum_length),
        cmocka_unit_test(test_disable_prompt_caching),
        cmocka_unit_test(test_cache_miss_warning),
    };
    return cmocka_run_group_tests_name("agent_cache", tests, NULL, NULL);
}
