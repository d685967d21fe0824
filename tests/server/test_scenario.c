/* Tests for src/server/scenario: the scenario, fault and keys file readers
 * (every field, every error with its file:line:col and field path, limits,
 * secrets kept out of messages) and rule matching with sequences. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/server/scenario.h"
#include "../../src/util/alloc.h"
#include "../../src/util/timeutil.h"
#include "../../src/util/err.h"

static enum brock_status parse(const char *text, struct scenario *s, struct brock_err *e)
{
    return scenario_parse(text, strlen(text), "t.json", s, e);
}

/* ------------------------------------------------------------------ */

static const char full[] =
    "{\n"
    "  \"description\": \"all the features\",\n"
    "  \"deny_models\": [\"anthropic.claude-opus-4-1-20250805-v1:0\"],\n"
    "  \"faults\": [{\"type\": \"throttling\", \"count\": 2, \"operations\": \"converse\"}],\n"
    "  \"rules\": [\n"
    "    {\"name\": \"loop\", \"match\": {\"regex\": \"fix (the|a) bug\", \"ignore_case\": true},\n"
    "     \"model\": \"anthropic.claude-sonnet-4-5-20250929-v1:0\",\n"
    "     \"operations\": [\"converse\", \"converse-stream\"],\n"
    "     \"responses\": [\n"
    "       {\"thinking\": \"hmm\", \"signature\": \"c2ln\", \"text\": \"Reading.\",\n"
    "        \"tool_use\": {\"name\": \"Read\", \"input\": {\"path\": \"a\\u00e9.c\", \"n\": [1, 2.5e3, true, "
    "null]}}},\n"
    "       {\"content\": [{\"type\": \"tool_use\", \"name\": \"Edit\", \"id\": \"toolu_1\"},\n"
    "                    {\"type\": \"text\", \"text\": \"\"}],\n"
    "        \"stop_reason\": \"max_tokens\", \"stop_sequence\": \"END\",\n"
    "        \"usage\": {\"input_tokens\": 10, \"output_tokens\": 20, \"cache_read_input_tokens\": 30,\n"
    "                  \"cache_creation_input_tokens\": 40},\n"
    "        \"first_byte_delay_ms\": 5, \"event_delay_ms\": 7,\n"
    "        \"fault\": [{\"type\": \"truncate\", \"after\": 3, \"abort\": true}, {\"type\": \"bad_crc\", \"frame\": "
    "2, "
    "\"which\": \"prelude\"}]}\n"
    "     ], \"then\": \"cycle\"},\n"
    "    {\"match\": {\"contains\": \"done\", \"in\": \"tool_result\"}, \"response\": {\"fault\": {\"type\": "
    "\"drop\"}}},\n"
    "    {\"response\": {\"text\": \"any\"}, \"then\": \"next_rule\"}\n"
    "  ],\n"
    "  \"default\": {\"text\": \"fallback\"}\n"
    "}\n";

static void test_parse_every_field(void **state)
{
    (void)state;
    struct scenario s;
    struct brock_err e = {0};
    assert_int_equal(parse(full, &s, &e), BROCK_OK);
    assert_string_equal(s.what, "t.json");
    assert_string_equal(s.description, "all the features");
    assert_int_equal(s.n_deny_models, 1);
    assert_string_equal(s.deny_models[0], "anthropic.claude-opus-4-1-20250805-v1:0");
    assert_int_equal(s.faults.n, 1);
    assert_int_equal(s.faults.v[0].kind, SCENARIO_FAULT_ERROR);
    assert_string_equal(s.faults.v[0].code, "ThrottlingException");
    assert_int_equal(s.faults.v[0].status, 429);
    assert_int_equal(s.faults.v[0].count, 2);
    assert_int_equal(s.faults.v[0].ops, SCENARIO_OP_CONVERSE);
    assert_int_equal(s.faults.v[0].line, 4);
    assert_int_equal(s.faults.v[0].col, 14);

    assert_int_equal(s.n_rules, 3);
    const struct scenario_rule *r = &s.rules[0];
    assert_string_equal(r->name, "loop");
    assert_int_equal(r->kind, SCENARIO_MATCH_REGEX);
    assert_true(r->ignore_case);
    assert_string_equal(r->pattern, "fix (the|a) bug");
    assert_string_equal(r->model, "anthropic.claude-sonnet-4-5-20250929-v1:0");
    assert_int_equal(r->ops, SCENARIO_OP_CONVERSE | SCENARIO_OP_CONVERSE_STREAM);
    assert_int_equal(r->then, SCENARIO_THEN_CYCLE);
    assert_int_equal(r->n_responses, 2);
    assert_int_equal(r->line, 6);
    assert_int_equal(r->col, 5);

    /* shorthand keys give thinking, text, tool_use in that order */
    const struct scenario_response *a = &r->responses[0];
    assert_int_equal(a->n_blocks, 3);
    assert_int_equal(a->blocks[0].type, SCENARIO_THINKING);
    assert_string_equal(a->blocks[0].text, "hmm");
    assert_string_equal(a->blocks[0].signature, "c2ln");
    assert_int_equal(a->blocks[1].type, SCENARIO_TEXT);
    assert_string_equal(a->blocks[1].text, "Reading.");
    assert_int_equal(a->blocks[2].type, SCENARIO_TOOL_USE);
    assert_string_equal(a->blocks[2].name, "Read");
    assert_null(a->blocks[2].id);
    /* the input is kept as compact JSON: escapes decoded, numbers as written */
    assert_string_equal(a->blocks[2].input, "{\"path\":\"a\xc3\xa9.c\",\"n\":[1,2.5e3,true,null]}");
    assert_null(a->stop_reason);
    assert_int_equal(a->usage.input, -1);
    assert_int_equal(a->usage.cache_write, -1);

    const struct scenario_response *b = &r->responses[1];
    assert_int_equal(b->n_blocks, 2);
    assert_int_equal(b->blocks[0].type, SCENARIO_TOOL_USE);
    assert_string_equal(b->blocks[0].name, "Edit");
    assert_string_equal(b->blocks[0].id, "toolu_1");
    assert_string_equal(b->blocks[0].input, "{}");
    assert_string_equal(b->blocks[1].text, "");
    assert_string_equal(b->stop_reason, "max_tokens");
    assert_string_equal(b->stop_sequence, "END");
    assert_int_equal(b->usage.input, 10);
    assert_int_equal(b->usage.output, 20);
    assert_int_equal(b->usage.cache_read, 30);
    assert_int_equal(b->usage.cache_write, 40);
    assert_int_equal(b->first_byte_delay_ms, 5);
    assert_int_equal(b->event_delay_ms, 7);
    assert_int_equal(b->faults.n, 2);
    assert_int_equal(b->faults.v[0].kind, SCENARIO_FAULT_TRUNCATE);
    assert_int_equal(b->faults.v[0].after, 3);
    assert_true(b->faults.v[0].abort);
    assert_int_equal(b->faults.v[0].ops, SCENARIO_OPS_STREAM);
    assert_int_equal(b->faults.v[1].kind, SCENARIO_FAULT_BAD_CRC);
    assert_int_equal(b->faults.v[1].after, 2);
    assert_true(b->faults.v[1].prelude);

    assert_int_equal(s.rules[1].kind, SCENARIO_MATCH_CONTAINS);
    assert_int_equal(s.rules[1].in, SCENARIO_IN_TOOL_RESULT);
    assert_int_equal(s.rules[1].responses[0].n_blocks, 0);
    assert_int_equal(s.rules[1].responses[0].faults.v[0].kind, SCENARIO_FAULT_DROP);
    assert_int_equal(s.rules[2].kind, SCENARIO_MATCH_ANY);
    assert_null(s.rules[2].name);
    assert_int_equal(s.rules[2].then, SCENARIO_THEN_NEXT_RULE);
    assert_non_null(s.fallback);
    assert_string_equal(s.fallback->blocks[0].text, "fallback");
    scenario_free(&s);
}

/* ------------------------------------------------------------------ */
/* every error says where: one case per line, positions counted by hand */

struct bad_case {
    const char *doc;
    const char *want; /* the whole message starts with this */
};

static const struct bad_case bad_cases[] = {
    /* syntax */
    {"{\n  \"rules\": []\n  \"default\": {}\n}", "t.json:3:3: invalid JSON: expected ',' or '}' in an object"},
    {"{\"rules\": [1,]}", "t.json:1:14: invalid JSON: unexpected character ']' (expected a value)"},
    {"{\"rules\": [], \"rules\": []}", "t.json:1:15: invalid JSON: duplicate member \"rules\""},
    {"{\"description\": \"a\x01\"}", "t.json:1:19: invalid JSON: control character 0x01 in a string"},
    {"{\"description\": \"\\ud800x\"}", "t.json:1:18: invalid JSON: unpaired UTF-16 surrogate"},
    {"{\"description\": \"\\u0000\"}", "t.json:1:18: invalid JSON: \\u0000 is not allowed in a string"},
    {"{\"description\": \"\xc3\x28\"}", "t.json:1:18: invalid JSON: invalid UTF-8 in a string"},
    {"{\"description\": \"\xed\xa0\x80\"}", "t.json:1:18: invalid JSON: invalid UTF-8 in a string"},
    {"{\"description\": \"x\\q\"}", "t.json:1:19: invalid JSON: unknown escape in a string"},
    {"{\"rules\": [{\"response\": {\"usage\": {\"input_tokens\": 01}}}]}",
     "t.json:1:53: invalid JSON: expected ',' or '}' in an object"},
    {"{\"rules\": []} x", "t.json:1:15: invalid JSON: unexpected text after the end of the document"},
    {"", "t.json:1:1: invalid JSON: unexpected end of input (expected a value)"},
    {"{\"description\": \"open", "t.json:1:17: invalid JSON: string not closed"},
    /* shape */
    {"[]", "t.json:1:1: expected an object, found an array"},
    {"{\n  \"rule\": []\n}",
     "t.json:2:3: unknown field \"rule\" (expected one of: description, rules, default, deny_models, faults)"},
    {"{\"rules\": {}}", "t.json:1:11: rules: expected an array, found an object"},
    {"{\"rules\": [\n  {\"match\": {\"contians\": \"x\"}, \"response\": {\"text\": \"y\"}}\n]}",
     "t.json:2:14: rules[0].match: unknown field \"contians\""},
    {"{\"rules\": [{\"match\": {}, \"response\": {\"text\": \"y\"}}]}",
     "t.json:1:22: rules[0].match: a match needs exactly one of \"any\", \"contains\", \"equals\", \"regex\""},
    {"{\"rules\": [{\"match\": {\"any\": false}, \"response\": {\"text\": \"y\"}}]}",
     "t.json:1:30: rules[0].match.any: \"any\" can only be true"},
    {"{\"rules\": [{\"match\": {\"regex\": \"(a\"}, \"response\": {\"text\": \"y\"}}]}",
     "t.json:1:32: rules[0].match.regex: bad regular expression at offset 2: missing closing parenthesis"},
    {"{\"rules\": [{\"match\": {\"regex\": \"x(a++++)\"}, \"response\": {\"text\": \"y\"}}]}",
     "t.json:1:32: rules[0].match.regex: bad regular expression at offset"},
    {"{\"rules\": [{\"match\": {\"contains\": \"x\", \"in\": \"body\"}, \"response\": {\"text\": \"y\"}}]}",
     "t.json:1:46: rules[0].match.in: \"body\" is not one of: all, text, tool_result"},
    {"{\"rules\": [{\"match\": {\"any\": true}}]}",
     "t.json:1:12: rules[0]: a rule needs exactly one of \"response\" and \"responses\""},
    {"{\"rules\": [{\"response\": {\"text\": \"a\"}, \"responses\": []}]}",
     "t.json:1:12: rules[0]: a rule needs exactly one of \"response\" and \"responses\""},
    {"{\"rules\": [{\"responses\": []}]}", "t.json:1:26: rules[0].responses: expected 1 to 1024 responses"},
    {"{\"rules\": [{\"response\": {\"text\": \"y\"}, \"then\": \"again\"}]}",
     "t.json:1:48: rules[0].then: \"again\" is not one of: repeat_last, cycle, next_rule"},
    {"{\"rules\": [{\"operations\": [\"invoke\", \"chat\"], \"response\": {\"text\": \"y\"}}]}",
     "t.json:1:38: rules[0].operations[1]: \"chat\" is not an operation here"},
    {"{\"rules\": [{\"response\": {}}]}", "t.json:1:25: rules[0].response: a response needs \"text\", \"thinking\", "
                                          "\"tool_use\", \"content\" or an error/drop "
                                          "\"fault\""},
    {"{\"rules\": [{\"response\": {\"text\": \"a\", \"content\": []}}]}",
     "t.json:1:50: rules[0].response: \"content\" lists the blocks itself"},
    {"{\"rules\": [{\"response\": {\"text\": \"a\", \"signature\": \"s\"}}]}",
     "t.json:1:52: rules[0].response: \"signature\" belongs to \"thinking\", which is missing"},
    {"{\"rules\": [{\"response\": {\"tool_use\": {\"name\": \"read file\"}}}]}",
     "t.json:1:47: rules[0].response.tool_use.name: a tool name is 1-64 characters of [a-zA-Z0-9_-]"},
    {"{\"rules\": [{\"response\": {\"tool_use\": [{\"name\": \"R\", \"input\": [1]}]}}]}",
     "t.json:1:62: rules[0].response.tool_use[0].input: expected an object, found an array"},
    {"{\"rules\": [{\"response\": {\"content\": [{\"type\": \"image\"}]}}]}",
     "t.json:1:47: rules[0].response.content[0].type: unknown block type \"image\""},
    {"{\"rules\": [{\"response\": {\"text\": \"y\", \"stop_reason\": \"done\"}}]}",
     "t.json:1:54: rules[0].response.stop_reason: \"done\" is not one of: end_turn, tool_use"},
    {"{\"rules\": [{\"response\": {\"text\": \"y\", \"usage\": {\"output_tokens\": -1}}}]}",
     "t.json:1:66: rules[0].response.usage.output_tokens: -1 is out of range 0..1000000000"},
    {"{\"rules\": [{\"response\": {\"text\": \"y\", \"usage\": {\"output_tokens\": 1.5}}}]}",
     "t.json:1:66: rules[0].response.usage.output_tokens: expected an integer, found a fraction"},
    {"{\"rules\": [{\"response\": {\"text\": \"y\", \"event_delay_ms\": 600001}}]}",
     "t.json:1:57: rules[0].response.event_delay_ms: 600001 is out of range 0..600000"},
    /* faults */
    {"{\"faults\": [{\"type\": \"gremlins\"}]}", "t.json:1:22: faults[0].type: unknown fault type \"gremlins\""},
    {"{\"faults\": {\"count\": 1}}", "t.json:1:12: faults: a fault needs a \"type\""},
    {"{\"faults\": [{\"type\": \"slow\"}]}", "t.json:1:13: faults[0]: a \"slow\" fault needs \"delay_ms\""},
    {"{\"faults\": [{\"type\": \"error\", \"status\": 500}]}",
     "t.json:1:13: faults[0]: an \"error\" fault needs a \"code\""},
    {"{\"faults\": [{\"type\": \"error\", \"code\": \"Bad Code\"}]}",
     "t.json:1:39: faults[0].code: an error code is letters and digits only"},
    {"{\"faults\": [{\"type\": \"throttling\", \"count\": 0}]}",
     "t.json:1:45: faults[0].count: 0 is out of range 1..1000000000"},
    {"{\"faults\": [{\"type\": \"throttling\", \"after\": 2}]}",
     "t.json:1:36: faults[0]: unknown field \"after\" (expected one of: type, count, operations, model, message, "
     "retry_after_ms, probability)"},
    {"{\"faults\": [{\"type\": \"truncate\", \"operations\": [\"converse\"]}]}",
     "t.json:1:49: faults[0].operations[0]: \"converse\" is not an operation here (expected "
     "invoke-with-response-stream, converse-stream)"},
    {"{\"faults\": [{\"type\": \"stream_exception\", \"exception\": \"oops\"}]}",
     "t.json:1:55: faults[0].exception: \"oops\" is not one of: throttlingException"},
    {"{\"faults\": [{\"type\": \"expire_key\"}]}",
     "t.json:1:13: faults[0]: an \"expire_key\" fault needs \"access_key_id\""},
    {"{\"deny_models\": [\"\"]}", "t.json:1:18: deny_models[0]: empty model id"},
};

static void test_errors_say_where(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct scenario s;
        struct brock_err e = {0};
        enum brock_status st = parse(bad_cases[i].doc, &s, &e);
        if (st == BROCK_OK || strncmp(e.msg, bad_cases[i].want, strlen(bad_cases[i].want)) != 0)
            fail_msg("case %zu: %s\n  want: %s...\n  got:  %s (status %s)", i, bad_cases[i].doc, bad_cases[i].want,
                     e.msg, brock_status_name(st));
        assert_int_equal(st, BROCK_ERR_PARSE);
        assert_int_equal(e.status, st);
        assert_int_equal(s.n_rules, 0); /* left empty */
        scenario_free(&s);
    }
}

static void test_limits(void **state)
{
    (void)state;
    struct scenario s;
    struct brock_err e = {0};
    /* nesting */
    char deep[200];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"description\":");
    for (int i = 0; i < SCENARIO_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    assert_int_equal(parse(deep, &s, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "nested deeper than 64 levels"));
    assert_int_equal(strncmp(e.msg, "t.json:1:80:", 12), 0); /* 15 bytes, then the 65th bracket */

    /* a string over the cap */
    size_t big = SCENARIO_MAX_STRING + 100;
    char *doc = malloc(big + 64);
    n = (size_t)sprintf(doc, "{\"description\": \"");
    memset(doc + n, 'a', SCENARIO_MAX_STRING + 1);
    n += SCENARIO_MAX_STRING + 1;
    strcpy(doc + n, "\"}");
    assert_int_equal(parse(doc, &s, &e), BROCK_ERR_TOO_LARGE);
    assert_int_equal(strncmp(e.msg, "t.json:1:17: a string is longer than 1048576 bytes", 50), 0);

    /* too many values */
    size_t vals = SCENARIO_MAX_VALUES + 1;
    doc = xrealloc(doc, vals * 2 + 64);
    n = (size_t)sprintf(doc, "{\"deny_models\": [");
    for (size_t i = 0; i < vals; i++) {
        doc[n++] = '0';
        doc[n++] = ',';
    }
    doc[n - 1] = ']';
    doc[n++] = '}';
    doc[n] = '\0';
    assert_int_equal(parse(doc, &s, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "more than 200000 JSON values"));

    /* the whole document */
    assert_int_equal(scenario_parse(doc, SCENARIO_MAX_BYTES + 1, "big.json", &s, &e), BROCK_ERR_TOO_LARGE);
    assert_string_equal(e.msg, "big.json: larger than 16777216 bytes");
    free(doc);

    /* a missing file names itself */
    assert_int_equal(scenario_load("/nonexistent/brock/scenario.json", &s, &e), BROCK_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "scenario"));
    assert_non_null(strstr(e.msg, "/nonexistent/brock/scenario.json"));
}

/* A BOM and CRLF line ends are fine; positions count from the BOM's end. */
static void test_bom_and_crlf(void **state)
{
    (void)state;
    struct scenario s;
    struct brock_err e = {0};
    const char *doc =
        "\xef\xbb\xbf{\r\n  \"rules\": [\r\n    {\"response\": {\"text\": \"hi\"}, \"bogus\": 1}\r\n  ]\r\n}\r\n";
    assert_int_equal(parse(doc, &s, &e), BROCK_ERR_PARSE);
    assert_int_equal(strncmp(e.msg, "t.json:3:34: rules[0]: unknown field \"bogus\"", 44), 0);
    assert_int_equal(parse("\xef\xbb\xbf{\r\n\"rules\":[]\r\n}", &s, &e), BROCK_OK);
    scenario_free(&s);
}

/* ------------------------------------------------------------------ */
/* matching                                                             */

static const struct scenario_response *ask(struct scenario *s, unsigned op, const char *text, const char *results,
                                           const char **rule_name, size_t *step)
{
    struct scenario_input in = {
        .op = op,
        .model_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        .base_id = "anthropic.claude-sonnet-4-5-20250929-v1:0",
        .text = text,
        .text_len = text ? strlen(text) : 0,
        .tool_results = results,
        .tool_results_len = results ? strlen(results) : 0,
        .has_text = text != NULL,
        .has_tool_results = results != NULL,
    };
    const struct scenario_rule *r = NULL;
    const struct scenario_response *resp = scenario_match(s, &in, &r, step);
    *rule_name = r ? r->name : NULL;
    return resp;
}

static const char *first_text(const struct scenario_response *r)
{
    return r && r->n_blocks && r->blocks[0].text ? r->blocks[0].text : "(none)";
}

/* A pattern with catastrophic backtracking gives up within the match limits
 * (no match) instead of stalling the emulator; an ordinary match still works. */
static void test_regex_backtracking_is_bounded(void **state)
{
    (void)state;
    static const char doc[] = "{\"rules\": [{\"name\": \"evil\", \"match\": {\"regex\": \"^(a+)+$\"}, "
                              "\"response\": {\"text\": \"matched\"}}]}";
    struct scenario s;
    struct brock_err e = {0};
    assert_int_equal(parse(doc, &s, &e), BROCK_OK);
    char text[64];
    memset(text, 'a', 40);
    strcpy(text + 40, "!");
    const char *name = NULL;
    size_t step;
    int64_t t0 = time_mono_ms();
    const struct scenario_response *r = ask(&s, SCENARIO_OP_CONVERSE, text, NULL, &name, &step);
    int64_t took = time_mono_ms() - t0;
    assert_null(r);
    assert_true(took < 2000);
    text[40] = '\0'; /* now it matches, and quickly */
    r = ask(&s, SCENARIO_OP_CONVERSE, text, NULL, &name, &step);
    assert_non_null(r);
    assert_string_equal(name, "evil");
    scenario_free(&s);
}

static void test_matching_and_sequences(void **state)
{
    (void)state;
    const char *doc =
        "{\"rules\": [\n"
        " {\"name\": \"loop\", \"match\": {\"regex\": \"^fix|main\\\\(\"}, \"operations\": \"converse\",\n"
        "  \"responses\": [{\"text\": \"1\"}, {\"text\": \"2\"}, {\"text\": \"3\"}]},\n"
        " {\"name\": \"cycle\", \"match\": {\"equals\": \"PING\", \"ignore_case\": true, \"in\": \"text\"},\n"
        "  \"responses\": [{\"text\": \"a\"}, {\"text\": \"b\"}], \"then\": \"cycle\"},\n"
        " {\"name\": \"once\", \"match\": {\"contains\": \"once\"}, \"response\": {\"text\": \"first\"}, \"then\": "
        "\"next_rule\"},\n"
        " {\"name\": \"results\", \"match\": {\"contains\": \"exit 1\", \"in\": \"tool_result\"}, \"response\": "
        "{\"text\": \"failed\"}},\n"
        " {\"name\": \"any-result\", \"match\": {\"any\": true, \"in\": \"tool_result\"}, \"response\": {\"text\": "
        "\"result\"}},\n"
        " {\"name\": \"opus\", \"model\": \"anthropic.claude-opus-4-6-v1\", \"response\": {\"text\": \"opus\"}},\n"
        " {\"name\": \"sonnet\", \"model\": \"anthropic.claude-sonnet-4-5-20250929-v1:0\", \"match\": {\"contains\": "
        "\"model?\"},\n"
        "  \"response\": {\"text\": \"sonnet\"}}\n"
        "], \"default\": {\"text\": \"default\"}}";
    struct scenario s;
    struct brock_err e = {0};
    if (parse(doc, &s, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    const char *name;
    size_t step;

    /* a sequence advances on each match, then repeats its last step */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_CONVERSE, "fix it", NULL, &name, &step)), "1");
    assert_string_equal(name, "loop");
    assert_int_equal(step, 0);
    /* the tool_result comes back: the regex finds it there */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_CONVERSE, NULL, "int main(void)", &name, &step)), "2");
    assert_int_equal(step, 1);
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_CONVERSE, "fix more", NULL, &name, &step)), "3");
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_CONVERSE, "fix more", NULL, &name, &step)), "3");
    assert_int_equal(step, 2);
    /* the operation filter: the same words on invoke go elsewhere */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "fix it", NULL, &name, &step)), "default");
    assert_null(name);

    /* equals, ignoring case, cycling */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "ping", NULL, &name, &step)), "a");
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "PiNg", NULL, &name, &step)), "b");
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "ping", NULL, &name, &step)), "a");
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "ping!", NULL, &name, &step)), "default");
    /* "in": "text" does not look at tool results */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, NULL, "ping", &name, &step)), "result");

    /* used up: the next match falls through to later rules / the default */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "just once", NULL, &name, &step)), "first");
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "just once", NULL, &name, &step)), "default");

    /* tool results */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "x", "make: exit 1", &name, &step)), "failed");
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "x", "", &name, &step)), "result");
    assert_string_equal(name, "any-result");

    /* the model filter compares the base id too */
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "which model?", NULL, &name, &step)), "sonnet");

    /* reset rewinds the sequences */
    scenario_reset(&s);
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_CONVERSE, "fix it", NULL, &name, &step)), "1");
    assert_string_equal(first_text(ask(&s, SCENARIO_OP_INVOKE, "once again", NULL, &name, &step)), "first");

    assert_true(scenario_denies(
        &(struct scenario){.deny_models = (char *[]){"anthropic.claude-opus-4-6-v1"}, .n_deny_models = 1},
        "us.anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-6-v1"));
    assert_false(scenario_denies(&s, "us.anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-6-v1"));
    scenario_free(&s);

    /* no rule and no default: nothing */
    assert_int_equal(
        parse("{\"rules\": [{\"match\": {\"contains\": \"x\"}, \"response\": {\"text\": \"x\"}}]}", &s, &e), BROCK_OK);
    assert_null(ask(&s, SCENARIO_OP_INVOKE, "y", NULL, &name, &step));
    scenario_free(&s);
}

/* ------------------------------------------------------------------ */
/* faults on their own (POST /_emulator/faults)                         */

static void test_fault_forms_and_defaults(void **state)
{
    (void)state;
    struct scenario_faults fs = {NULL, 0};
    struct brock_err e = {0};
    const char *one = "{\"type\": \"model_not_ready\"}";
    assert_int_equal(scenario_faults_parse(one, strlen(one), "body", &fs, &e), BROCK_OK);
    assert_int_equal(fs.n, 1);
    assert_string_equal(fs.v[0].code, "ModelNotReadyException");
    assert_int_equal(fs.v[0].status, 429);
    assert_int_equal(fs.v[0].count, 1);
    assert_int_equal(fs.v[0].ops, SCENARIO_OPS_MODEL);
    assert_int_equal(fs.v[0].retry_after_ms, -1);
    assert_non_null(fs.v[0].message);

    const char *list =
        "[{\"type\": \"error\", \"code\": \"ModelErrorException\", \"message\": \"boom\", \"count\": -1},"
        " {\"type\": \"unavailable\", \"retry_after_ms\": 250, \"model\": \"m\"},"
        " {\"type\": \"stream_exception\"}, {\"type\": \"expire_key\", \"access_key_id\": \"AKID\"}]";
    assert_int_equal(scenario_faults_parse(list, strlen(list), "body", &fs, &e), BROCK_OK);
    assert_int_equal(fs.n, 5);
    assert_string_equal(fs.v[1].code, "ModelErrorException");
    assert_int_equal(fs.v[1].status, 424); /* the modelled status for the code */
    assert_string_equal(fs.v[1].message, "boom");
    assert_int_equal(fs.v[1].count, -1);
    assert_int_equal(fs.v[2].status, 503);
    assert_int_equal(fs.v[2].retry_after_ms, 250);
    assert_string_equal(fs.v[2].model, "m");
    assert_int_equal(fs.v[3].kind, SCENARIO_FAULT_STREAM_EXCEPTION);
    assert_string_equal(fs.v[3].code, "throttlingException");
    assert_int_equal(fs.v[3].after, 0);
    assert_int_equal(fs.v[3].ops, SCENARIO_OPS_STREAM);
    assert_int_equal(fs.v[4].kind, SCENARIO_FAULT_EXPIRE_KEY);
    assert_int_equal(fs.v[4].count, -1); /* until cleared */
    assert_true(fs.v[4].ops & SCENARIO_OP_STS);

    struct scenario_fault copy;
    scenario_fault_copy(&copy, &fs.v[2]);
    assert_string_equal(copy.model, "m");
    assert_ptr_not_equal(copy.model, fs.v[2].model);
    scenario_fault_cleanup(&copy);

    const char *wrapped = "{\"faults\": [{\"type\": \"drop\", \"operations\": [\"count-tokens\"]}]}";
    assert_int_equal(scenario_faults_parse(wrapped, strlen(wrapped), "body", &fs, &e), BROCK_OK);
    assert_int_equal(fs.n, 6);
    assert_int_equal(fs.v[5].ops, SCENARIO_OP_COUNT_TOKENS);

    const char *bad = "{\n\"faults\": [{\"type\": \"slow\", \"delay_ms\": \"5\"}]}";
    assert_int_equal(scenario_faults_parse(bad, strlen(bad), "request body", &fs, &e), BROCK_ERR_PARSE);
    assert_string_equal(e.msg, "request body:2:41: faults[0].delay_ms: expected an integer, found a string");
    scenario_faults_free(&fs);
    assert_int_equal(fs.n, 0);

    assert_int_equal(scenario_op_parse("converse-stream", 15), SCENARIO_OP_CONVERSE_STREAM);
    assert_string_equal(scenario_op_name(SCENARIO_OP_COUNT_TOKENS), "count-tokens");
    assert_null(scenario_op_name(3));
}

/* ------------------------------------------------------------------ */
/* keys files                                                           */

static void test_keys(void **state)
{
    (void)state;
    struct scenario_keys k = {NULL, 0};
    struct brock_err e = {0};
    const char *doc = "{\"keys\": [\n"
                      " {\"AccessKeyId\": \"ASIATESTKEY0001\", \"SecretAccessKey\": \"sec/ret+1\",\n"
                      "  \"SessionToken\": \"tok==\", \"Expiration\": \"2030-01-02T03:04:05Z\",\n"
                      "  \"Arn\": \"arn:aws:sts::111122223333:assumed-role/dev/alice\", \"Version\": 1},\n"
                      " {\"ApiKey\": \"ABSKlongtermkey\"}\n"
                      "]}";
    assert_int_equal(scenario_keys_parse(doc, strlen(doc), "keys.json", &k, &e), BROCK_OK);
    assert_int_equal(k.n, 2);
    assert_string_equal(k.v[0].access_key_id, "ASIATESTKEY0001");
    assert_string_equal(k.v[0].secret_access_key, "sec/ret+1");
    assert_string_equal(k.v[0].session_token, "tok==");
    assert_string_equal(k.v[0].arn, "arn:aws:sts::111122223333:assumed-role/dev/alice");
    assert_int_equal(k.v[0].expires_ms, 1893553445000LL);
    assert_null(k.v[0].api_key);
    assert_string_equal(k.v[1].api_key, "ABSKlongtermkey");
    assert_int_equal(k.v[1].expires_ms, 0);
    scenario_keys_free(&k);
    assert_int_equal(k.n, 0);

    /* errors say where, never what: each case hides a secret-looking value */
    static const struct {
        const char *doc, *want;
    } bad[] = {
        {"[{\"AccessKeyId\": \"AKIDX\", \"SecretAccessKey\": 12345678}]",
         "k.json:1:46: [0].SecretAccessKey: expected a string, found a number"},
        {"[{\"AccessKeyId\": \"AKIDX\", \"SECRETSECRET\": \"SECRETSECRET\"}]",
         "k.json:1:27: [0]: unknown field (expected one of:"},
        {"[{\"AccessKeyId\": \"AKIDX\"}]",
         "k.json:1:2: [0]: an entry needs AccessKeyId and SecretAccessKey (or ApiKey)"},
        {"[{\"ApiKey\": \"SECRETSECRET\", \"AccessKeyId\": \"AKIDX\"}]",
         "k.json:1:2: [0]: an entry is either an ApiKey or an AccessKeyId"},
        {"[{\"ApiKey\": \"SECRET SECRET\"}]", "k.json:1:13: [0].ApiKey: expected 1 to 65536 printable characters"},
        {"[{\"ApiKey\": \"SECRETSECRET\"}, {\"ApiKey\": \"SECRETSECRET\"}]",
         "k.json:1:30: [1]: the same key as an earlier entry"},
        {"[{\"AccessKeyId\": \"AKID-X\", \"SecretAccessKey\": \"SECRETSECRET\"}]",
         "k.json:1:18: [0].AccessKeyId: an access key id is letters and digits"},
        {"[{\"ApiKey\": \"SECRETSECRET\", \"Expiration\": \"SECRETSECRET\"}]",
         "k.json:1:43: [0].Expiration: expected an ISO 8601 time"},
        {"{\"keys\": [{\"ApiKey\": \"SECRETSECRET\", \"SECRETSECRET\": 1}]}",
         "k.json:1:38: keys[0]: unknown field (expected one of:"},
        {"[{\"ApiKey\": \"SECRETSECRET\", \"ApiKey\": \"SECRETSECRET\"}]",
         "k.json:1:29: invalid JSON: duplicate member name"},
        {"[{\"ApiKey\": SECRETSECRET}]", "k.json:1:13: invalid JSON: unexpected character (expected a value)"},
        {"{\"SECRETSECRET\": []}", "k.json:1:2: unknown field (expected one of: keys)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scenario_keys kk = {NULL, 0};
        enum brock_status st = scenario_keys_parse(bad[i].doc, strlen(bad[i].doc), "k.json", &kk, &e);
        if (st == BROCK_OK || strncmp(e.msg, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("keys case %zu: %s\n  want: %s...\n  got:  %s", i, bad[i].doc, bad[i].want, e.msg);
        if (strstr(e.msg, "SECRET") || strstr(e.msg, "12345678"))
            fail_msg("keys case %zu leaks a value: %s", i, e.msg);
        assert_int_equal(kk.n, 0);
        scenario_keys_free(&kk);
    }
    assert_int_equal(scenario_keys_load("/nonexistent/keys.json", &k, &e), BROCK_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "keys file"));
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_every_field),
        cmocka_unit_test(test_errors_say_where),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bom_and_crlf),
        cmocka_unit_test(test_matching_and_sequences),
        cmocka_unit_test(test_regex_backtracking_is_bounded),
        cmocka_unit_test(test_fault_forms_and_defaults),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests_name("scenario", tests, NULL, NULL);
}
