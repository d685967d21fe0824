/* Tests for compaction (src/agent/agent_compact.c): where the cut goes (never
 * between a tool_use and its tool_result), automatic compaction with a small
 * window (the summary call goes to the Haiku model, recent turns are kept,
 * the conversation goes on), /compact on demand with instructions and its
 * record in the session, and a failing summary call. */
#include "test_agent_fake.h"

static json_t *conv(const char *roles)
{
    json_t *m = json_array();
    for (const char *r = roles; *r; r++)
        json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s}]}", "role", *r == 'u' ? "user" : "assistant",
                                           "content", "type", "text", "text", "x"));
    return m;
}

static void test_cut_table(void **state)
{
    (void)state;
    struct {
        const char *roles;
        int64_t toks[9];
        int64_t keep;
        size_t want;
    } cases[] = {
        {"uauau", {100, 100, 100, 100, 100}, 250, 3},
        {"uauau", {100, 100, 100, 100, 100}, 10000, 0}, /* everything fits: nothing before the first answer */
        {"uauau", {100, 100, 100, 100, 100}, 0, 3},     /* always keep the last answer */
        {"uauauau", {10, 10, 10, 10, 10, 10, 10}, 35, 5},
        {"uauauau", {10, 10, 10, 10, 10, 10, 10}, 45, 3},
        {"uauauau", {10, 10, 10, 10, 10, 10, 5000}, 35, 5},
        {"ua", {100, 100}, 0, 0},
        {"u", {100}, 0, 0},
        {"", {0}, 0, 0},
        {"uauaua", {10, 10, 10, 10, 10, 10}, 20, 5}, /* ends with an answer */
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        json_t *m = conv(cases[i].roles);
        size_t k = agent_compact_cut(m, cases[i].toks, cases[i].keep);
        if (k != cases[i].want)
            fail_msg("case %zu (%s keep %lld): cut %zu, want %zu", i, cases[i].roles, (long long)cases[i].keep, k,
                     cases[i].want);
        json_decref(m);
    }
}

/* Random tool loops: the kept part never holds a tool_result without its tool_use. */
static void test_cut_never_splits_pairs(void **state)
{
    (void)state;
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 3000; iter++) {
        json_t *m = json_array();
        int64_t toks[64];
        size_t n = 0;
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        size_t turns = 1 + r % 20;
        json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s}]}", "role", "user", "content", "type", "text", "text",
                                           "go"));
        toks[n++] = (int64_t)(r % 300);
        for (size_t t = 0; t < turns && n + 2 < 64; t++) {
            char id[32];
            snprintf(id, sizeof id, "t%zu", t);
            json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s,s:s,s:{}}]}", "role", "assistant", "content", "type",
                                               "tool_use", "id", id, "name", "Read", "input"));
            toks[n++] = (int64_t)((r >> (t % 50)) % 500);
            json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "role", "user", "content", "type",
                                               "tool_result", "tool_use_id", id, "content", "r"));
            toks[n++] = (int64_t)((r >> ((t + 7) % 50)) % 3000);
        }
        size_t k = agent_compact_cut(m, toks, (int64_t)((r >> 30) % 4000));
        if (k) {
            assert_true(k >= 2 && k < n);
            assert_string_equal(json_string_value(json_object_get(json_array_get(m, k), "role")), "assistant");
            /* kept: [summary user] + m[k..]: must be well formed */
            json_t *kept = json_array();
            json_array_append_new(kept, json_pack("{s:s,s:[{s:s,s:s}]}", "role", "user", "content", "type", "text",
                                                  "text", "summary"));
            for (size_t i = k; i < n; i++)
                json_array_append(kept, json_array_get(m, i));
            assert_well_formed(kept);
            json_decref(kept);
        }
        json_decref(m);
    }
}

static const char *first_text(const json_t *msgs)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(msgs, 0), "content"), 0),
                                             "text"));
}

static bool mentions(const json_t *v, const char *s)
{
    char *d = json_dumps(v, 0);
    bool found = strstr(d, s) != NULL;
    free(d);
    return found;
}

static void three_reads(struct fx *x, int64_t last_input)
{
    fx_write(x, "a.txt", "alpha\n");
    fx_write(x, "b.txt", "beta\n");
    fx_write(x, "c.txt", "gamma\n");
    char *a = fx_path(x, "a.txt"), *b = fx_path(x, "b.txt"), *c = fx_path(x, "c.txt");
    fake_step(&x->fm, "{\"tool_use\": [{\"id\": \"t1\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}], "
                      "\"usage\": {\"input\": 3000, \"output\": 20}}", a);
    fake_step(&x->fm, "{\"tool_use\": [{\"id\": \"t2\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}], "
                      "\"usage\": {\"input\": 9000, \"output\": 20}}", b);
    fake_step(&x->fm, "{\"tool_use\": [{\"id\": \"t3\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}], "
                      "\"usage\": {\"input\": %lld, \"output\": 20}}", c, (long long)last_input);
    free(a);
    free(b);
    free(c);
}

static void test_auto_compaction_small_window(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    x.cfg.context_window = 20000; /* threshold 16000 */
    three_reads(&x, 17000);
    fake_step(&x.fm, "{\"text\": \"SUMMARY-OF-EARLIER-WORK: read a.txt and b.txt\", \"usage\": {\"input\": 800, "
                     "\"output\": 100}}");
    fake_step(&x.fm, "{\"text\": \"all read\", \"usage\": {\"input\": 2000, \"output\": 10}}");
    fx_agent(&x);
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x.a, "read the three files", &t, &e), BROCK_OK);
    assert_string_equal(t.text, "all read");
    assert_int_equal(t.model_calls, 4); /* the summary call is not a turn */
    assert_int_equal(json_array_size(x.fm.requests), 5);

    /* the summary call: Haiku, the summariser prompt, a transcript */
    json_t *sum = json_array_get(x.fm.requests, 3);
    assert_string_equal(json_string_value(json_object_get(sum, "model_id")), HAIKU_ID);
    json_t *sbody = json_object_get(sum, "body");
    assert_null(json_object_get(sbody, "tools"));
    assert_true(mentions(json_object_get(sbody, "system"), "You summarise a conversation"));
    const char *tr = first_text(json_object_get(sbody, "messages"));
    assert_non_null(strstr(tr, "<conversation>"));
    assert_non_null(strstr(tr, "read the three files"));
    assert_non_null(strstr(tr, "[tool call Read]"));
    assert_non_null(strstr(tr, "alpha"));

    /* the next turn call: summary first, recent exchange kept, pairs intact */
    json_t *next = req_messages(&x.fm, 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(x.fm.requests, 4), "model_id")), SONNET_ID);
    assert_well_formed(next);
    assert_int_equal(json_array_size(next), 3);
    const char *first = first_text(next);
    assert_non_null(strstr(first, "This session continues"));
    assert_non_null(strstr(first, "SUMMARY-OF-EARLIER-WORK"));
    assert_non_null(strstr(first, "Files read or changed earlier"));
    assert_non_null(strstr(first, "a.txt (read)"));
    assert_non_null(strstr(first, "b.txt (read)"));
    assert_false(mentions(next, "\"t1\""));
    assert_false(mentions(next, "\"t2\""));
    assert_non_null(find_result(next, "t3"));
    assert_non_null(strstr(result_text(find_result(next, "t3")), "gamma"));

    json_t *c = fx_events(&x, "compact");
    assert_int_equal(json_array_size(c), 1);
    json_decref(c);
    struct agent_totals tot;
    agent_totals(x.a, &tot);
    assert_int_equal(tot.compactions, 1);
    assert_int_equal(tot.model_calls, 5);
    assert_int_equal(t.usage.input_tokens, 3000 + 9000 + 17000 + 800 + 2000);
    /* the cost of the summary is Haiku's */
    json_t *calls = fx_events(&x, "call");
    json_t *sc = json_array_get(calls, 3);
    assert_string_equal(json_string_value(json_object_get(sc, "purpose")), "compact");
    const struct model_info *hm = catalog_find(HAIKU_ID, NULL);
    enum model_geo g;
    catalog_find(HAIKU_ID, &g);
    double want = catalog_cost(hm, g, 800, 100, 0, 0, 0, false);
    double got = json_real_value(json_object_get(sc, "cost"));
    assert_true(got - want < 1e-12 && want - got < 1e-12);
    json_decref(calls);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void test_compact_on_demand_and_resume(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fx_store(&x);
    three_reads(&x, 5000);
    fake_step(&x.fm, "{\"text\": \"first turn done\"}");
    fx_agent(&x);
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x.a, "read them", &t, &e), BROCK_OK);
    agent_turn_cleanup(&t);
    /* a second human turn with a long answer: the cut keeps only that answer,
     * so the typed request before it moves into the summary message */
    char big[6100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "second answer", 13);
    fake_step(&x.fm, "{\"text\": \"%s\"}", big);
    assert_int_equal(agent_run_turn(x.a, "and now the second question", &t, &e), BROCK_OK);
    agent_turn_cleanup(&t);
    size_t before = json_array_size(agent_messages(x.a));
    assert_int_equal(before, 10);

    fake_step(&x.fm, "{\"text\": \"SUMMARY-ON-DEMAND\"}");
    assert_int_equal(agent_compact(x.a, "the file names", &e), BROCK_OK);
    json_t *sreq = json_array_get(x.fm.requests, json_array_size(x.fm.requests) - 1);
    assert_string_equal(json_string_value(json_object_get(sreq, "model_id")), HAIKU_ID);
    assert_non_null(strstr(first_text(json_object_get(json_object_get(sreq, "body"), "messages")),
                           "Pay special attention to: the file names"));
    const json_t *m = agent_messages(x.a);
    assert_true(json_array_size(m) < before);
    assert_well_formed(m);
    assert_non_null(strstr(first_text(m), "SUMMARY-ON-DEMAND"));
    /* the typed request that the kept answer responds to is kept word for word */
    assert_true(mentions(json_array_get(m, 0), "and now the second question"));
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(m, 1), "content"), 0), "text")),
                        big);

    /* the summary is in the session; a resumed agent starts from it */
    struct store_transcript tr;
    assert_int_equal(store_session_load(x.store, agent_session_id(x.a), false, &tr, &e), BROCK_OK);
    assert_non_null(tr.summary_json);
    assert_non_null(strstr(tr.summary_json, "SUMMARY-ON-DEMAND"));
    assert_int_equal(tr.summary_upto, 9);
    assert_int_equal(tr.n, 1);
    store_transcript_cleanup(&tr);
    char id[STORE_SESSION_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", agent_session_id(x.a));
    char *was = json_dumps(agent_messages(x.a), JSON_SORT_KEYS);
    agent_free(x.a);
    x.a = NULL;
    fx_agent(&x);
    assert_int_equal(agent_resume(x.a, id, &e), BROCK_OK);
    char *now = json_dumps(agent_messages(x.a), JSON_SORT_KEYS);
    assert_string_equal(now, was);
    free(was);
    free(now);
    fake_step(&x.fm, "{\"text\": \"third\"}");
    assert_int_equal(agent_run_turn(x.a, "third question", &t, &e), BROCK_OK);
    json_t *last = req_messages(&x.fm, json_array_size(x.fm.requests) - 1);
    assert_well_formed(last);
    assert_non_null(strstr(first_text(last), "SUMMARY-ON-DEMAND"));
    agent_turn_cleanup(&t);
    fx_free(&x);

    /* too little to compact; and without a Haiku model the session's model summarises */
    fx_init(&x, NULL, NULL, NULL);
    x.cfg.compact_model_id = NULL;
    x.cfg.compact_model_info = NULL;
    fake_step(&x.fm, "{\"text\": \"hi\"}");
    fx_agent(&x);
    assert_int_equal(agent_compact(x.a, NULL, &e), BROCK_ERR_USAGE);
    assert_int_equal(agent_run_turn(x.a, "one", &t, &e), BROCK_OK);
    agent_turn_cleanup(&t);
    assert_int_equal(agent_compact(x.a, NULL, &e), BROCK_ERR_USAGE);
    fake_step(&x.fm, "{\"text\": \"two\"}");
    assert_int_equal(agent_run_turn(x.a, "two", &t, &e), BROCK_OK);
    agent_turn_cleanup(&t);
    fake_step(&x.fm, "{\"text\": \"S\"}");
    assert_int_equal(agent_compact(x.a, NULL, &e), BROCK_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(x.fm.requests, 2), "model_id")), SONNET_ID);
    fx_free(&x);
}

static void test_compaction_failure_goes_on(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    x.cfg.context_window = 20000;
    three_reads(&x, 17000);
    fake_step(&x.fm, "{\"error\": \"throttled\"}"); /* the summary call */
    char *d = fx_path(&x, "a.txt");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"t4\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}], "
                     "\"usage\": {\"input\": 17500, \"output\": 20}}", d);
    free(d);
    fake_step(&x.fm, "{\"text\": \"SUMMARY-SECOND-TRY\"}"); /* tried again after a new exchange */
    fake_step(&x.fm, "{\"text\": \"carried on\"}");
    fx_agent(&x);
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x.a, "go", &t, &e), BROCK_OK);
    assert_string_equal(t.text, "carried on");
    json_t *w = fx_events(&x, "warning");
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(w, 0), "text")), "compaction failed"));
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(w, 0), "text")), "ThrottlingException"));
    json_decref(w);
    assert_int_equal(json_array_size(req_messages(&x.fm, 4)), 7); /* nothing was dropped */
    assert_string_equal(json_string_value(json_object_get(json_array_get(x.fm.requests, 5), "model_id")), HAIKU_ID);
    assert_non_null(strstr(first_text(req_messages(&x.fm, 6)), "SUMMARY-SECOND-TRY"));
    assert_well_formed(req_messages(&x.fm, 6));
    agent_turn_cleanup(&t);
    fx_free(&x);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_table),
        cmocka_unit_test(test_cut_never_splits_pairs),
        cmocka_unit_test(test_auto_compaction_small_window),
        cmocka_unit_test(test_compact_on_demand_and_resume),
        cmocka_unit_test(test_compaction_failure_goes_on),
    };
    return cmocka_run_group_tests_name("agent_compact", tests, NULL, NULL);
}
