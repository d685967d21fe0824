/* Tests for the input side of `brock batch` (src/batch/batch_input.c): what a
 * line may be and the message for each kind of bad line, the streaming reader
 * (blank lines, CRLF, line numbers, a line over the cap, the input's
 * identity), prompt files, and preparing a record (defaults, overrides, the
 * body, the token estimate, the response-cache key). */
#include "../support/test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/agent/respcache.h"
#include "../../src/batch/batch_int.h"
#include "../../src/util/alloc.h"

struct line_case {
    const char *in;
    enum brock_status st;
    const char *want; /* ok: the prompt text (prompt lines) or NULL; error: a part of the message */
};

static void test_lines(void **state)
{
    (void)state;
    static const struct line_case cases[] = {
        {"hello there", BROCK_OK, "hello there"},
        {"  \"a JSON string\"  \r", BROCK_OK, "a JSON string"},
        {"[1, 2] is a plain line", BROCK_OK, "[1, 2] is a plain line"},
        {"{\"prompt\": \"p\", \"id\": 12}", BROCK_OK, "p"},
        {"{\"prompt\": \"p\", \"id\": \"a\\u0001b\"}", BROCK_ERR_PARSE, "in.jsonl:3: \"id\": expected an integer or a string"},
        {"{\"prompt\": \"p\", \"model\": \"\"}", BROCK_ERR_PARSE, "\"model\": expected a model"},
        {"{\"prompt\": \"p\", \"system\": 5}", BROCK_ERR_PARSE, "\"system\": expected a string or an array"},
        {"{\"prompt\": \"p\", \"temperature\": 1.5}", BROCK_ERR_PARSE, "\"temperature\": expected a number from 0 to 1"},
        {"{\"prompt\": \"p\", \"top_k\": -1}", BROCK_ERR_PARSE, "\"top_k\""},
        {"{\"prompt\": \"p\", \"stop_sequences\": [1]}", BROCK_ERR_PARSE, "item 0 is not a string"},
        {"{\"prompt\": \"p\", \"stream\": true}", BROCK_ERR_PARSE, "\"stream\": not allowed"},
        {"{\"prompt\": \"p\", \"tools\": []}", BROCK_OK, "p"},
        {"{\"prompt\": \"p\", \"prompt\": \"q\"}", BROCK_ERR_PARSE, "in.jsonl:3:"},
        {"{}", BROCK_ERR_PARSE, "needs \"prompt\""},
        {"{\"messages\": []}", BROCK_ERR_PARSE, "\"messages\": expected a non-empty array"},
        {"{\"messages\": [{\"role\": \"system\", \"content\": \"x\"}]}", BROCK_ERR_PARSE, "messages[0] must be"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"anthropic_version\": \"2023-06-01\"}", BROCK_ERR_PARSE,
         "expected \"bedrock-2023-05-31\""},
        {"{\"prompt\": \"\"}", BROCK_ERR_PARSE, "non-empty string"},
        {"\"\"", BROCK_ERR_PARSE, "the prompt is an empty string"},
        {"{\"prompt\": \"unterminated", BROCK_ERR_PARSE, "not valid JSON"},
        {"\"\\ud800\"", BROCK_ERR_PARSE, "not valid JSON"},
        {"bad \xff\xfe utf-8", BROCK_ERR_PARSE, "not valid UTF-8"},
        {"   \t  ", BROCK_ERR_NOT_FOUND, "blank line"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct batch_line l;
        struct brock_err e = {0};
        enum brock_status st = batch_parse_line(cases[i].in, strlen(cases[i].in), "in.jsonl", 3, &l, &e);
        if (st != cases[i].st)
            fail_msg("case %zu (%s): status %d, expected %d: %s", i, cases[i].in, st, cases[i].st, e.msg);
        if (st == BROCK_OK) {
            json_t *m0 = json_array_get(l.req.messages, 0);
            assert_string_equal(json_string_value(json_object_get(m0, "role")), "user");
            if (cases[i].want)
                assert_string_equal(json_string_value(json_object_get(m0, "content")), cases[i].want);
            batch_line_cleanup(&l);
        } else if (!strstr(e.msg, cases[i].want)) {
            fail_msg("case %zu (%s): message '%s' lacks '%s'", i, cases[i].in, e.msg, cases[i].want);
        }
    }
    /* a NUL in a plain line is binary data, not a prompt */
    struct batch_line l;
    struct brock_err e = {0};
    assert_int_equal(batch_parse_line("ab\0cd", 5, "in.jsonl", 9, &l, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "in.jsonl:9: the line holds a NUL byte"));
    /* fields land where they belong */
    const char *full = "{\"id\": \"x1\", \"model\": \"sonnet\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
                       "\"text\", \"text\": \"hi\"}]}], \"system\": \"be brief\", \"max_tokens\": 77, \"temperature\": 0, "
                       "\"top_p\": 0.5, \"top_k\": 3, \"metadata\": {\"user_id\": \"u\"}}";
    assert_int_equal(batch_parse_line(full, strlen(full), "in.jsonl", 1, &l, &e), BROCK_OK);
    assert_string_equal(l.id, "x1");
    assert_string_equal(l.model, "sonnet");
    assert_string_equal(json_string_value(l.req.system), "be brief");
    assert_int_equal(l.req.max_tokens, 77);
    assert_true(l.req.temperature == 0.0 && l.req.top_p == 0.5 && l.req.top_k == 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(l.req.extra, "metadata"), "user_id")), "u");
    batch_line_cleanup(&l);
}

static char *write_tmp(const char *dir, const char *name, const char *text, size_t n)
{
    size_t plen = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(plen);
    snprintf(p, plen, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(text, 1, n, f);
    fclose(f);
    return p;
}

static void test_reader(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    const char text[] = "first\r\n\r\n  \n{\"prompt\": \"second\"}\r\n{broken\n\"last, no newline\"";
    char *path = write_tmp(dir, "in.jsonl", text, sizeof text - 1);
    struct batch_options o = {.input_path = path};
    struct batch_reader *r;
    struct brock_err e = {0};
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_OK);
    assert_int_equal(batch_reader_total(r), 4);
    static const size_t lines[] = {1, 4, 5, 6};
    static const bool invalid[] = {false, false, true, false};
    for (size_t i = 0; i < 4; i++) {
        struct batch_item it;
        assert_int_equal(batch_reader_next(r, true, &it, &e), BROCK_OK);
        assert_int_equal(it.index, i);
        assert_int_equal(it.line, lines[i]);
        assert_int_equal(it.invalid, invalid[i]);
        if (it.invalid)
            assert_non_null(strstr(it.err, "in.jsonl:5:"));
        batch_item_cleanup(&it);
    }
    struct batch_item it;
    assert_int_equal(batch_reader_next(r, true, &it, &e), BROCK_ERR_NOT_FOUND);
    uint8_t id1[SHA256_LEN];
    memcpy(id1, batch_reader_identity(r), SHA256_LEN);
    batch_reader_free(r);
    /* the same bytes, the same identity; one byte more, another */
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_OK);
    assert_memory_equal(batch_reader_identity(r), id1, SHA256_LEN);
    batch_reader_free(r);
    free(write_tmp(dir, "in.jsonl", text, sizeof text - 2));
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_OK);
    assert_true(memcmp(batch_reader_identity(r), id1, SHA256_LEN) != 0);
    batch_reader_free(r);
    /* a line over the cap ends the run, naming the line */
    size_t big = BATCH_MAX_LINE + 10;
    char *huge = xmalloc(big + 16);
    memcpy(huge, "ok\n", 3);
    memset(huge + 3, 'x', big);
    free(write_tmp(dir, "in.jsonl", huge, big + 3));
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "in.jsonl:2: line longer than"));
    free(huge);
    /* missing input */
    o.input_path = "/nonexistent/brock/in.jsonl";
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_ERR_NOT_FOUND);
    o.input_path = NULL;
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_ERR_USAGE);
    free(path);
    free(dir);
}

static void test_prompt_files(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *prompt = write_tmp(dir, "p.txt", "Review:", 7);
    char *a = write_tmp(dir, "a.c", "int a;\n", 7);
    char *bin = write_tmp(dir, "b.bin", "\x7f" "ELF\0\0\x01", 7);
    const char *files[] = {a, bin, "/nonexistent/brock/c.c"};
    struct batch_options o = {.prompt_file = prompt, .files = files, .n_files = 3};
    struct batch_reader *r;
    struct brock_err e = {0};
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_OK);
    assert_int_equal(batch_reader_total(r), 3);
    struct batch_item it;
    assert_int_equal(batch_reader_next(r, true, &it, &e), BROCK_OK);
    assert_false(it.invalid);
    assert_string_equal(it.file, a);
    assert_string_equal(it.l.id, a);
    const char *text = json_string_value(json_object_get(json_array_get(it.l.req.messages, 0), "content"));
    char want[700];
    snprintf(want, sizeof want, "Review:\n\nFile: %s\n\nint a;\n", a);
    assert_string_equal(text, want);
    batch_item_cleanup(&it);
    assert_int_equal(batch_reader_next(r, true, &it, &e), BROCK_OK);
    assert_true(it.invalid);
    assert_non_null(strstr(it.err, "not UTF-8 text"));
    batch_item_cleanup(&it);
    assert_int_equal(batch_reader_next(r, true, &it, &e), BROCK_OK);
    assert_true(it.invalid);
    assert_int_equal(it.line, 3);
    batch_item_cleanup(&it);
    uint8_t id1[SHA256_LEN];
    memcpy(id1, batch_reader_identity(r), SHA256_LEN);
    batch_reader_free(r);
    free(write_tmp(dir, "a.c", "int A;\n", 7)); /* a file changed: another input */
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_OK);
    assert_true(memcmp(batch_reader_identity(r), id1, SHA256_LEN) != 0);
    batch_reader_free(r);
    o.input_path = "x.jsonl";
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_ERR_USAGE);
    o.input_path = NULL;
    o.n_files = 0;
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_ERR_USAGE);
    free(write_tmp(dir, "p.txt", " \n", 2));
    o.n_files = 1;
    assert_int_equal(batch_reader_open(&o, &r, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--prompt-file"));
    free(prompt);
    free(a);
    free(bin);
    free(dir);
}

static void test_prepare(void **state)
{
    (void)state;
    struct batch_defaults d = {.region = "us-east-1", .system = "Be brief.", .temperature = MODEL_UNSET};
    struct brock_err e = {0};
    assert_int_equal(catalog_resolve("haiku", "us-east-1", false, &d.model, &e), BROCK_OK);
    struct batch_item it = {.line = 4};
    const char *line = "{\"prompt\": \"hello\"}";
    assert_int_equal(batch_parse_line(line, strlen(line), "in", 4, &it.l, &e), BROCK_OK);
    struct batch_prepared p;
    batch_prepared_init(&p);
    assert_int_equal(batch_prepare(&d, &it, &p, &e), BROCK_OK);
    assert_string_equal(p.model.model_id, d.model.model_id);
    assert_int_equal(p.max_tokens, BATCH_DEFAULT_MAX_TOKENS);
    assert_string_equal(buf_cstr(&p.body), "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":4096,"
                                           "\"messages\":[{\"content\":\"hello\",\"role\":\"user\"}],\"system\":\"Be brief.\"}");
    assert_true(p.est_tokens > 4096);
    assert_string_equal(p.cache_key, ""); /* no cache policy */
    batch_item_cleanup(&it);
    /* the line's own model, system and max_tokens win; the default model's cap */
    it.line = 4;
    line = "{\"prompt\": \"hi\", \"model\": \"anthropic.claude-3-haiku-20240307-v1:0\", \"system\": \"S\"}";
    assert_int_equal(batch_parse_line(line, strlen(line), "in", 4, &it.l, &e), BROCK_OK);
    assert_int_equal(batch_prepare(&d, &it, &p, &e), BROCK_OK);
    assert_string_equal(p.model.model_id, "anthropic.claude-3-haiku-20240307-v1:0");
    assert_int_equal(p.max_tokens, 4096); /* Claude 3 Haiku's maximum */
    assert_non_null(strstr(buf_cstr(&p.body), "\"system\":\"S\""));
    batch_item_cleanup(&it);
    it.line = 4;
    line = "{\"prompt\": \"hi\", \"model\": \"gpt-4\"}";
    assert_int_equal(batch_parse_line(line, strlen(line), "in", 4, &it.l, &e), BROCK_OK);
    assert_int_equal(batch_prepare(&d, &it, &p, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "line 4: "));
    batch_item_cleanup(&it);
    /* with the cache's automatic policy, only temperature 0 gets a key */
    struct respcache_policy pol;
    assert_int_equal(respcache_policy_init(&pol, NULL, true, false, false, &e), BROCK_OK);
    d.cache = &pol;
    line = "{\"prompt\": \"hi\"}";
    assert_int_equal(batch_parse_line(line, strlen(line), "in", 4, &it.l, &e), BROCK_OK);
    assert_int_equal(batch_prepare(&d, &it, &p, &e), BROCK_OK);
    assert_string_equal(p.cache_key, "");
    d.temperature = 0;
    assert_int_equal(batch_prepare(&d, &it, &p, &e), BROCK_OK);
    assert_int_equal(strlen(p.cache_key), SHA256_HEX_LEN);
    char key1[SHA256_HEX_LEN + 1];
    snprintf(key1, sizeof key1, "%s", p.cache_key);
    d.system = "Other.";
    assert_int_equal(batch_prepare(&d, &it, &p, &e), BROCK_OK);
    assert_string_not_equal(p.cache_key, key1);
    batch_item_cleanup(&it);
    batch_prepared_cleanup(&p);
}

static void test_config_identity(void **state)
{
    (void)state;
    struct batch_options o = {0};
    struct batch_defaults d = {.region = "us-east-1", .temperature = MODEL_UNSET};
    struct brock_err e = {0};
    assert_int_equal(catalog_resolve("haiku", "us-east-1", false, &d.model, &e), BROCK_OK);
    char a[SHA256_HEX_LEN + 1], b[SHA256_HEX_LEN + 1];
    batch_config_identity(&o, &d, "local", a);
    batch_config_identity(&o, &d, "local", b);
    assert_string_equal(a, b);
    batch_config_identity(&o, &d, "bedrock", b);
    assert_string_not_equal(a, b);
    o.format = BATCH_FORMAT_TEXT;
    batch_config_identity(&o, &d, "local", b);
    assert_string_not_equal(a, b);
    o.format = BATCH_FORMAT_JSON;
    d.max_tokens = 10;
    batch_config_identity(&o, &d, "local", b);
    assert_string_not_equal(a, b);
    d.max_tokens = 0;
    d.system = "x";
    batch_config_identity(&o, &d, "local", b);
    assert_string_not_equal(a, b);
    /* concurrency and rate ceilings do not shape the results: the same */
    d.system = NULL;
    o.concurrency = 99;
    o.max_rpm = 5;
    batch_config_identity(&o, &d, "local", b);
    assert_string_equal(a, b);
}

int main(void)
{
    test_init();
    crypto_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_prompt_files),
        cmocka_unit_test(test_prepare),
        cmocka_unit_test(test_config_identity),
    };
    return cmocka_run_group_tests_name("batch_input", tests, NULL, NULL);
}
