/* Tests for answer parsing (src/bedrock/bedrock_answer.c): every recorded
 * Converse JSON answer of testdata/bedrock-recorded (expectations computed
 * here from the JSON with jansson), and hand-written InvokeModel and Converse
 * answers from wire reference 4.3 and 4.6. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/bedrock/bedrock_wire.h"

static json_t *J(const char *s)
{
    json_t *v = json_loads(s, 0, NULL);
    assert_non_null(v);
    return v;
}

static void assert_content(const struct model_result *r, const char *want_text)
{
    json_t *want = J(want_text);
    if (!json_equal(r->content, want)) {
        char *g = json_dumps(r->content, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "content differs:\n  got:  %s\n  want: %s\n", g, want_text);
        free(g);
        fail();
    }
    json_decref(want);
}

/* ---- recorded Converse answers ----------------------------------------------------------- */

static void test_recorded(void **state)
{
    const char *base = *state; /* .../extracted/<cassette>/<n> */
    char path[600];
    snprintf(path, sizeof path, "%s.meta.json", base);
    json_t *meta = json_load_file(path, 0, NULL);
    assert_non_null(meta);
    json_int_t status = json_integer_value(json_object_get(meta, "status"));
    snprintf(path, sizeof path, "%s.response.json", base);
    size_t n;
    char *body = test_read_file(path, &n);
    assert_non_null(body);
    json_t *doc = J(body);
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    enum brock_status st = bedrock_parse_converse_answer(body, n, &r, &e);

    if (status != 200) {
        /* an error body ({"message": ...}) is not an answer */
        assert_int_equal(st, BROCK_ERR_PARSE);
        assert_non_null(strstr(e.msg, "Converse answer: no output.message.content array"));
    } else {
        if (st != BROCK_OK)
            fprintf(stderr, "%s: %s\n", base, e.msg);
        assert_int_equal(st, BROCK_OK);
        json_t *content = json_object_get(json_object_get(json_object_get(doc, "output"), "message"), "content");
        size_t i, k = 0;
        json_t *blk;
        json_array_foreach(content, i, blk)
        {
            json_t *t = json_object_get(blk, "text"), *tu = json_object_get(blk, "toolUse");
            if (t && json_string_length(t) == 0)
                continue;
            json_t *got = json_array_get(r.content, k++);
            assert_non_null(got);
            if (t) {
                assert_string_equal(json_string_value(json_object_get(got, "type")), "text");
                assert_string_equal(json_string_value(json_object_get(got, "text")), json_string_value(t));
            } else if (tu) {
                assert_string_equal(json_string_value(json_object_get(got, "type")), "tool_use");
                assert_string_equal(json_string_value(json_object_get(got, "id")),
                                    json_string_value(json_object_get(tu, "toolUseId")));
                assert_string_equal(json_string_value(json_object_get(got, "name")),
                                    json_string_value(json_object_get(tu, "name")));
                assert_true(json_equal(json_object_get(got, "input"), json_object_get(tu, "input")));
            } else {
                fail_msg("unexpected block kind in %s", base);
            }
        }
        assert_int_equal(json_array_size(r.content), k);
        assert_string_equal(r.stop_reason, json_string_value(json_object_get(doc, "stopReason")));
        json_t *u = json_object_get(doc, "usage");
        assert_int_equal(r.usage.input_tokens, json_integer_value(json_object_get(u, "inputTokens")));
        assert_int_equal(r.usage.output_tokens, json_integer_value(json_object_get(u, "outputTokens")));
        assert_int_equal(r.usage.cache_read_tokens, 0);
        assert_int_equal(r.usage.cache_write_tokens, 0);
    }
    model_result_cleanup(&r);
    json_decref(doc);
    json_decref(meta);
    free(body);
}

/* ---- InvokeModel answers (reference 4.6) -------------------------------------------------- */

static void test_invoke_reference_answer(void **state)
{
    (void)state;
    const char *body =
        "{\"id\": \"msg_bdrk_01XYZ\", \"type\": \"message\", \"role\": \"assistant\", \"model\": "
        "\"claude-sonnet-4-5-20250929\","
        " \"content\": [{\"type\": \"text\", \"text\": \"Here are the files.\"}],"
        " \"stop_reason\": \"end_turn\", \"stop_sequence\": null,"
        " \"usage\": {\"input_tokens\": 42, \"output_tokens\": 128, \"cache_creation_input_tokens\": 1500,"
        "           \"cache_read_input_tokens\": 0, \"cache_creation\": {\"ephemeral_5m_input_tokens\": 0, "
        "\"ephemeral_1h_input_tokens\": 1500}}}";
    struct model_result r;
    model_result_init(&r);
    assert_int_equal(bedrock_parse_invoke_answer(body, strlen(body), &r, NULL), BROCK_OK);
    assert_content(&r, "[{\"type\": \"text\", \"text\": \"Here are the files.\"}]");
    assert_string_equal(r.stop_reason, "end_turn");
    assert_string_equal(r.stop_sequence, "");
    assert_string_equal(r.message_id, "msg_bdrk_01XYZ");
    assert_string_equal(r.model, "claude-sonnet-4-5-20250929");
    assert_int_equal(r.usage.input_tokens, 42);
    assert_int_equal(r.usage.output_tokens, 128);
    assert_int_equal(r.usage.cache_write_tokens, 1500);
    assert_int_equal(r.usage.cache_read_tokens, 0);
    char *text = model_result_text(&r);
    assert_string_equal(text, "Here are the files.");
    free(text);
    model_result_cleanup(&r);
}

static void test_invoke_tool_and_thinking_answer(void **state)
{
    (void)state;
    const char *body =
        "{\"id\": \"msg_2\", \"content\": ["
        " {\"type\": \"thinking\", \"thinking\": \"Need ls.\", \"signature\": \"EqQB\"},"
        " {\"type\": \"text\", \"text\": \"\"},"
        " {\"type\": \"text\", \"text\": \"Running it.\"},"
        " {\"type\": \"tool_use\", \"id\": \"toolu_bdrk_01A\", \"name\": \"bash\", \"input\": {\"cmd\": \"ls\"}}],"
        " \"stop_reason\": \"stop_sequence\", \"stop_sequence\": \"</done>\","
        " \"usage\": {\"input_tokens\": 5, \"output_tokens\": 6, \"cache_read_input_tokens\": 7}}";
    struct model_result r;
    model_result_init(&r);
    assert_int_equal(bedrock_parse_invoke_answer(body, strlen(body), &r, NULL), BROCK_OK);
    /* the empty text block is dropped */
    assert_content(&r, "[{\"type\": \"thinking\", \"thinking\": \"Need ls.\", \"signature\": \"EqQB\"},"
                        " {\"type\": \"text\", \"text\": \"Running it.\"},"
                        " {\"type\": \"tool_use\", \"id\": \"toolu_bdrk_01A\", \"name\": \"bash\", \"input\": "
                        "{\"cmd\": \"ls\"}}]");
    assert_string_equal(r.stop_reason, "stop_sequence");
    assert_string_equal(r.stop_sequence, "</done>");
    assert_int_equal(r.usage.cache_read_tokens, 7);
    assert_int_equal(r.usage.cache_write_tokens, 0);
    model_result_cleanup(&r);
}

static void test_invoke_bad_answers(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *want;
    } cases[] = {
        {"{\"content\": [", "InvokeModel answer:1:"},
        {"{\"type\": \"message\"}", "InvokeModel answer: no content array"},
        {"[]", "no content array"},
        {"{\"content\": [{\"type\": \"text\", \"text\": \"a\"}, {\"text\": \"b\"}]}", "content[1] is not a block with a type"},
        {"{\"content\": [{\"type\": \"text\"}]}", "content[0]: text block without text"},
        {"{\"content\": [{\"type\": \"tool_use\", \"id\": \"x\", \"name\": \"y\", \"input\": \"{}\"}]}",
         "content[0]: tool_use input is not an object"},
        {"{\"content\": [], \"content\": []}", "duplicate"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct model_result r;
        model_result_init(&r);
        struct brock_err e = {0};
        assert_int_equal(bedrock_parse_invoke_answer(cases[i].body, strlen(cases[i].body), &r, &e), BROCK_ERR_PARSE);
        if (!strstr(e.msg, cases[i].want))
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, e.msg, cases[i].want);
        assert_non_null(strstr(e.msg, cases[i].want));
        assert_int_equal(json_array_size(r.content), 0);
        model_result_cleanup(&r);
    }
}

/* ---- Converse answers (reference 4.3) ------------------------------------------------------ */

static void test_converse_reference_answer(void **state)
{
    (void)state;
    const char *body =
        "{\"output\": {\"message\": {\"role\": \"assistant\", \"content\": ["
        "   {\"reasoningContent\": {\"reasoningText\": {\"text\": \"...\", \"signature\": \"sig\"}}},"
        "   {\"text\": \"Here are the files.\"}]}},"
        " \"stopReason\": \"end_turn\","
        " \"usage\": {\"inputTokens\": 42, \"outputTokens\": 128, \"totalTokens\": 1670,"
        "           \"cacheReadInputTokens\": 0, \"cacheWriteInputTokens\": 1500,"
        "           \"cacheDetails\": [{\"ttl\": \"1h\", \"inputTokens\": 1500}]},"
        " \"metrics\": {\"latencyMs\": 812},"
        " \"additionalModelResponseFields\": {\"stop_sequence\": null},"
        " \"performanceConfig\": {\"latency\": \"standard\"}, \"serviceTier\": {\"type\": \"default\"}}";
    struct model_result r;
    model_result_init(&r);
    assert_int_equal(bedrock_parse_converse_answer(body, strlen(body), &r, NULL), BROCK_OK);
    assert_content(&r, "[{\"type\": \"thinking\", \"thinking\": \"...\", \"signature\": \"sig\"},"
                        " {\"type\": \"text\", \"text\": \"Here are the files.\"}]");
    assert_string_equal(r.stop_reason, "end_turn");
    assert_string_equal(r.stop_sequence, "");
    assert_int_equal(r.usage.input_tokens, 42);
    assert_int_equal(r.usage.output_tokens, 128);
    assert_int_equal(r.usage.cache_read_tokens, 0);
    assert_int_equal(r.usage.cache_write_tokens, 1500);
    model_result_cleanup(&r);
}

static void test_converse_other_blocks_and_reasons(void **state)
{
    (void)state;
    const char *body =
        "{\"output\": {\"message\": {\"content\": ["
        "   {\"reasoningContent\": {\"redactedContent\": \"EmwKAhgB\"}},"
        "   {\"image\": {\"format\": \"png\", \"source\": {\"bytes\": \"AAAA\"}}},"
        "   {\"toolUse\": {\"toolUseId\": \"s1\", \"name\": \"nova_code_interpreter\", \"type\": \"server_tool_use\", "
        "\"input\": {\"snippet\": \"1+1\"}}},"
        "   {\"toolResult\": {\"toolUseId\": \"s1\", \"status\": \"success\", \"content\": [{\"json\": {\"stdOut\": "
        "\"2\"}}]}},"
        "   {\"text\": \"two\"}]}},"
        " \"stopReason\": \"stop_sequence\", \"additionalModelResponseFields\": {\"stop_sequence\": \"</done>\"},"
        " \"usage\": {\"inputTokens\": 1, \"outputTokens\": 2}}";
    struct model_result r;
    model_result_init(&r);
    assert_int_equal(bedrock_parse_converse_answer(body, strlen(body), &r, NULL), BROCK_OK);
    /* the image has no Messages form in an answer and is skipped */
    assert_content(&r, "[{\"type\": \"redacted_thinking\", \"data\": \"EmwKAhgB\"},"
                        " {\"type\": \"server_tool_use\", \"id\": \"s1\", \"name\": \"nova_code_interpreter\", "
                        "\"input\": {\"snippet\": \"1+1\"}},"
                        " {\"type\": \"tool_result\", \"tool_use_id\": \"s1\", \"is_error\": false, \"content\": "
                        "[{\"type\": \"text\", \"text\": \"{\\\"stdOut\\\":\\\"2\\\"}\"}]},"
                        " {\"type\": \"text\", \"text\": \"two\"}]");
    assert_string_equal(r.stop_reason, "stop_sequence");
    assert_string_equal(r.stop_sequence, "</done>");
    model_result_cleanup(&r);

    static const char *const reasons[][2] = {{"content_filtered", "refusal"},
                                             {"guardrail_intervened", "guardrail_intervened"},
                                             {"malformed_tool_use", "malformed_tool_use"},
                                             {"model_context_window_exceeded", "model_context_window_exceeded"},
                                             {"max_tokens", "max_tokens"},
                                             {"tool_use", "tool_use"}};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(reasons); i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"output\":{\"message\":{\"content\":[]}},\"stopReason\":\"%s\"}", reasons[i][0]);
        model_result_init(&r);
        assert_int_equal(bedrock_parse_converse_answer(b, strlen(b), &r, NULL), BROCK_OK);
        assert_string_equal(r.stop_reason, reasons[i][1]);
        assert_string_equal(bedrock_stop_reason_from_converse(reasons[i][0]), reasons[i][1]);
        model_result_cleanup(&r);
    }
}

static void test_converse_bad_answers(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *want;
    } cases[] = {
        {"{\"output\": {}}", "Converse answer: no output.message.content array"},
        {"{\"output\": {\"message\": {\"content\": [1]}}}", "output.message.content[0] is not an object"},
        {"{\"output\": {\"message\": {\"content\": [{\"toolUse\": {\"name\": \"x\"}}]}}}",
         "content[0]: toolUse without toolUseId and name"},
        {"not json", "Converse answer:1:"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct model_result r;
        model_result_init(&r);
        struct brock_err e = {0};
        assert_int_equal(bedrock_parse_converse_answer(cases[i].body, strlen(cases[i].body), &r, &e),
                         BROCK_ERR_PARSE);
        if (!strstr(e.msg, cases[i].want))
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, e.msg, cases[i].want);
        assert_non_null(strstr(e.msg, cases[i].want));
        model_result_cleanup(&r);
    }
}

int main(void)
{
    test_init();
    struct test_list l = {0};
    char *dir = testdata_path("bedrock-recorded/extracted");
    char **cassettes;
    size_t nc = test_list_dir(dir, &cassettes), answers = 0;
    for (size_t i = 0; i < nc; i++) {
        char sub[400];
        snprintf(sub, sizeof sub, "%s/%s", dir, cassettes[i]);
        char **files;
        size_t nf = test_list_dir(sub, &files);
        for (size_t j = 0; j < nf; j++) {
            const char *suffix = ".response.json";
            size_t fl = strlen(files[j]);
            if (fl <= strlen(suffix) || strcmp(files[j] + fl - strlen(suffix), suffix))
                continue;
            answers++;
            char *base = malloc(512);
            int bl = snprintf(base, 512, "%s/%s", sub, files[j]);
            assert_true(bl > 0 && bl < 512);
            base[(size_t)bl - strlen(suffix)] = '\0';
            char name[300];
            snprintf(name, sizeof name, "recorded/%s/%.*s", cassettes[i], (int)(fl - strlen(suffix)), files[j]);
            test_list_add(&l, name, test_recorded, base);
        }
        test_free_list(files, nf);
    }
    test_free_list(cassettes, nc);
    free(dir);
    if (answers != 8) {
        printf("not ok 1 - expected the 8 recorded Converse JSON bodies, found %zu\n", answers);
        return 1;
    }
    test_list_add(&l, "invoke/reference_4_6_answer", test_invoke_reference_answer, NULL);
    test_list_add(&l, "invoke/tool_and_thinking", test_invoke_tool_and_thinking_answer, NULL);
    test_list_add(&l, "invoke/bad_answers", test_invoke_bad_answers, NULL);
    test_list_add(&l, "converse/reference_4_3_answer", test_converse_reference_answer, NULL);
    test_list_add(&l, "converse/other_blocks_and_reasons", test_converse_other_blocks_and_reasons, NULL);
    test_list_add(&l, "converse/bad_answers", test_converse_bad_answers, NULL);
    return test_list_run("bedrock_answer", &l);
}
