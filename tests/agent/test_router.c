/* Tests for src/agent/router.c: `--model auto` on a table of labelled
 * prompts (the label is the model a careful person would pick for the task:
 * haiku for lookups and small mechanical edits, sonnet for ordinary coding
 * work, opus for design, planning, proofs and hard debugging; the labels
 * were written before the rules were tuned and include prompts the rules
 * get wrong), the user's rules, pins, background work, the classifier's
 * answers, and settings errors. The accuracy is printed as a TAP comment. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/agent/router.h"
#include "../../src/util/alloc.h"
#include "../../src/util/json.h"

static const struct {
    const char *prompt, *want;
} labelled[] = {
    /* lookups, questions, small mechanical work */
    {"what is the difference between git merge and git rebase?", "haiku"},
    {"fix the typo in README.md", "haiku"},
    {"rename the variable cnt to count in src/main.c", "haiku"},
    {"write a commit message for the staged changes", "haiku"},
    {"how do I list open ports on linux?", "haiku"},
    {"what does the -z flag of tar do?", "haiku"},
    {"add a docstring to parse_args", "haiku"},
    {"convert this JSON to YAML: {\"a\": 1, \"b\": [1, 2]}", "haiku"},
    {"translate the error messages in errors.go to French", "haiku"},
    {"summarize the README", "haiku"},
    {"regex for matching an IPv4 address", "haiku"},
    {"hi", "haiku"},
    {"reformat config.json with 2-space indentation", "haiku"},
    {"what's the default port of postgres?", "haiku"},
    {"sort the imports in app.py", "haiku"},
    {"list all TODO comments in the src directory", "haiku"},
    {"explain what this shell one-liner does: find . -name '*.o' -delete", "haiku"},
    {"bump the version to 1.4.2 in package.json", "haiku"},
    {"what is wrong with this function? def f(x): return x + 1 if x else None", "haiku"},
    {"fix the spelling mistakes in the comments of utils.c", "haiku"},
    {"add a comment explaining the retry loop in client.c", "haiku"},
    /* ordinary coding work */
    {"fix the failing test in tests/test_parser.py", "sonnet"},
    {"implement a --verbose flag for the CLI", "sonnet"},
    {"add unit tests for the date parsing helpers", "sonnet"},
    {"the build fails with 'undefined reference to curl_easy_init', fix it", "sonnet"},
    {"write a function that validates email addresses and use it in the signup handler", "sonnet"},
    {"refactor handle_request into smaller functions", "sonnet"},
    {"add pagination to the /users endpoint", "sonnet"},
    {"why does this code segfault when the input is empty?", "sonnet"},
    {"update the Dockerfile to use python 3.12 and make sure the tests still pass", "sonnet"},
    {"create a GitHub Actions workflow that runs make test", "sonnet"},
    {"review my changes in the current diff and point out bugs", "sonnet"},
    {"port the bash script deploy.sh to python", "sonnet"},
    {"add error handling to the file upload code", "sonnet"},
    {"make the tests pass", "sonnet"},
    {"optimize the slow SQL query in reports.py", "sonnet"},
    {"convert the callbacks in api.js to async/await", "sonnet"},
    {"write a Makefile for this project", "sonnet"},
    {"explain how the authentication middleware works in this repo", "sonnet"},
    {"add a --json output option to the list command", "sonnet"},
    {"set up eslint with the airbnb config", "sonnet"},
    {"there is a memory leak in the image cache; find and fix it", "sonnet"},
    {"hello, can you help me design a REST API for a todo app?", "sonnet"},
    /* design, planning, proofs, hard debugging */
    {"design the architecture for a multi-tenant job queue with retries and priorities", "opus"},
    {"plan the migration of our monolith to services, step by step", "opus"},
    {"refactor the whole codebase to use dependency injection", "opus"},
    {"prove that this lock-free queue is linearizable", "opus"},
    {"find the root cause of the intermittent deadlock in the worker pool", "opus"},
    {"what are the trade-offs between event sourcing and CRUD for our billing system?", "opus"},
    {"review the threat model of our OAuth flow and find security holes", "opus"},
    {"write an algorithm to schedule meetings across time zones minimizing conflicts", "opus"},
    {"we see a data race under load in the connection pool; investigate", "opus"},
    {"design a schema for storing versioned documents with branching", "opus"},
    {"how should we restructure the repository into packages so that builds are incremental?", "opus"},
    {"come up with an implementation plan for offline sync in the mobile app", "opus"},
    {"think hard about why the cache hit rate dropped after the last release", "opus"},
    {"rewrite the whole parser from scratch using a Pratt parser", "opus"},
    {"make the system scale to 10x traffic", "opus"},
    {"evaluate whether we should switch from REST to gRPC for internal services", "opus"},
    {"our p99 latency doubled after upgrading the JVM; figure out why", "opus"},
};

static struct router_input input(const char *text)
{
    struct router_input in = {.text = text, .len = strlen(text), .n_tools = 9};
    return in;
}

static void test_router_labelled_prompts(void **state)
{
    (void)state;
    struct router *r;
    struct brock_err e = {0};
    assert_int_equal(router_new(NULL, true, &r, &e), BROCK_OK);
    size_t right = 0, n = BROCK_ARRAY_LEN(labelled);
    size_t per[3][3] = {{0}}; /* [want][got] haiku, sonnet, opus */
    const char *names[] = {"haiku", "sonnet", "opus"};
    for (size_t i = 0; i < n; i++) {
        struct router_input in = input(labelled[i].prompt);
        struct router_choice c;
        router_decide(r, ROUTER_MAIN, &in, &c);
        int w = -1, g = -1;
        for (int k = 0; k < 3; k++) {
            if (!strcmp(labelled[i].want, names[k]))
                w = k;
            if (!strcmp(c.spec, names[k]))
                g = k;
        }
        assert_true(w >= 0 && g >= 0);
        assert_true(c.why[0] != '\0'); /* every decision explains itself */
        per[w][g]++;
        if (w == g)
            right++;
        else
            printf("# router miss: \"%s\" -> %s (%s), labelled %s\n", labelled[i].prompt, c.spec, c.why,
                   labelled[i].want);
    }
    printf("# router accuracy: %zu/%zu labelled prompts (%.0f%%)\n", right, n, 100.0 * (double)right / (double)n);
    printf("# router confusion (rows labelled, columns chosen: haiku sonnet opus): haiku %zu %zu %zu; sonnet %zu "
           "%zu %zu; opus %zu %zu %zu\n",
           per[0][0], per[0][1], per[0][2], per[1][0], per[1][1], per[1][2], per[2][0], per[2][1], per[2][2]);
    /* the rules must be right on most prompts, and never send design work to Haiku */
    assert_true(right * 100 >= n * 85);
    assert_int_equal(per[2][0], 0);
    router_free(r);
}

static void test_router_size_beats_simple_words(void **state)
{
    (void)state;
    struct router *r;
    assert_int_equal(router_new(NULL, true, &r, NULL), BROCK_OK);
    struct router_input in = input("fix the typo in README.md");
    in.context_tokens = 180000; /* past what Haiku's window takes with room to answer */
    struct router_choice c;
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_string_equal(c.spec, "sonnet");
    assert_int_equal(c.via, ROUTER_VIA_SIZE);
    assert_non_null(strstr(c.why, "180000 tokens"));
    /* long pasted text is not a "short question" */
    char *big = xmalloc(3000);
    memset(big, 'x', 2999);
    memcpy(big, "what is ", 8);
    big[2999] = '\0';
    in = input(big);
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_string_equal(c.spec, "sonnet");
    free(big);
    router_free(r);
}

static void test_router_rules_pins_background(void **state)
{
    (void)state;
    const char *cfg = "{\"router\": {\"rules\": [{\"match\": \"\\\\bmigrations?/\", \"model\": \"haiku\"},"
                      " {\"match\": \"kernel\", \"model\": \"us.anthropic.claude-opus-4-1-20250805-v1:0\"}],"
                      " \"pin\": {\"compaction\": \"sonnet\", \"title\": \"haiku\"}}}";
    json_t *b = NULL;
    struct brock_err e = {0};
    assert_int_equal(json_parse(cfg, strlen(cfg), "t", &b, &e), BROCK_OK);
    struct router *r;
    if (router_new(b, true, &r, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    struct router_choice c;
    /* the user's rule beats the built-in words (case-insensitive) */
    struct router_input in = input("design the schema in Migrations/0042.sql");
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_int_equal(c.via, ROUTER_VIA_RULE);
    assert_string_equal(c.spec, "haiku");
    assert_string_equal(c.why, "brock.router.rules[0] matched");
    in = input("tune the KERNEL scheduler");
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_string_equal(c.spec, "us.anthropic.claude-opus-4-1-20250805-v1:0");
    /* pins for background kinds; no pin: Haiku */
    router_decide(r, ROUTER_COMPACTION, &in, &c);
    assert_int_equal(c.via, ROUTER_VIA_PIN);
    assert_string_equal(c.spec, "sonnet");
    router_decide(r, ROUTER_CLASSIFY, &in, &c);
    assert_int_equal(c.via, ROUTER_VIA_BACKGROUND);
    assert_string_equal(c.spec, "haiku");
    router_free(r);
    /* not auto: the main model is left alone, background pins still apply */
    assert_int_equal(router_new(b, false, &r, &e), BROCK_OK);
    in = input("design the architecture");
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_int_equal(c.via, ROUTER_VIA_FIXED);
    assert_string_equal(c.spec, "");
    router_decide(r, ROUTER_COMPACTION, &in, &c);
    assert_string_equal(c.spec, "sonnet");
    router_free(r);
    json_decref(b);
    /* pin.main wins over the rules in auto mode */
    b = json_pack("{s:{s:{s:s}}}", "router", "pin", "main", "opus");
    assert_int_equal(router_new(b, true, &r, &e), BROCK_OK);
    in = input("hi");
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_int_equal(c.via, ROUTER_VIA_PIN);
    assert_string_equal(c.spec, "opus");
    router_free(r);
    json_decref(b);
}

static void test_router_classification(void **state)
{
    (void)state;
    json_t *b = json_pack("{s:{s:b}}", "router", "classify", 1);
    struct router *r;
    assert_int_equal(router_new(b, true, &r, NULL), BROCK_OK);
    assert_true(router_classify_enabled(r));
    struct router_input in = input("make the parser handle nested comments");
    struct router_choice c;
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_int_equal(c.via, ROUTER_VIA_CLASSIFY);
    assert_string_equal(c.spec, "sonnet"); /* what to use if the classifier fails */
    /* the cheap rules still go first */
    in = input("fix the typo");
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_int_equal(c.via, ROUTER_VIA_SIMPLE);
    const struct {
        const char *answer, *spec;
    } answers[] = {{"simple", "haiku"}, {"Standard.", "sonnet"}, {" complex\n", "opus"}, {"COMPLEX", "opus"}};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(answers); i++) {
        struct router_choice x = {0};
        assert_true(router_apply_classification(answers[i].answer, &x));
        assert_string_equal(x.spec, answers[i].spec);
    }
    struct router_choice x = {.spec = "sonnet"};
    assert_false(router_apply_classification("simpler", &x));
    assert_false(router_apply_classification("I think it is complex", &x));
    assert_false(router_apply_classification(NULL, &x));
    assert_string_equal(x.spec, "sonnet");
    char *p = router_classify_prompt("fix it", 6);
    assert_non_null(strstr(p, "<request>\nfix it\n</request>"));
    free(p);
    assert_non_null(strstr(router_classify_system(), "simple"));
    router_free(r);
    json_decref(b);
}

static void test_router_input_from_request(void **state)
{
    (void)state;
    json_t *msgs = json_pack("[{s:s,s:s}, {s:s,s:[{s:s,s:s}]}, {s:s,s:[{s:s,s:s},{s:s,s:s}]}]", "role", "user",
                             "content", "first", "role", "assistant", "content", "type", "text", "text", "ok", "role",
                             "user", "content", "type", "text", "text", "line one", "type", "text", "text", "line two");
    json_t *tools = json_pack("[{s:s},{s:s}]", "name", "Read", "name", "Bash");
    struct model_request req = {.messages = msgs, .tools = tools};
    struct router_input in;
    char *text;
    router_input_from_request(&req, &in, &text);
    assert_string_equal(in.text, "line one\nline two");
    assert_false(in.continuing);
    assert_int_equal(in.n_tools, 2);
    free(text);
    json_array_append_new(msgs, json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "role", "assistant", "content", "type",
                                          "tool_use", "id", "t", "name", "Read"));
    json_array_append_new(msgs, json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "role", "user", "content", "type",
                                          "tool_result", "tool_use_id", "t", "content", "x"));
    router_input_from_request(&req, &in, &text);
    assert_true(in.continuing);
    assert_string_equal(in.text, "");
    free(text);
    json_decref(msgs);
    json_decref(tools);
}

static void test_router_settings_errors(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"{\"router\": []}", "brock.router: expected an object"},
        {"{\"router\": {\"rulez\": []}}", "brock.router: unknown field"},
        {"{\"router\": {\"rules\": {}}}", "brock.router.rules: expected an array"},
        {"{\"router\": {\"rules\": [{\"match\": \"(\", \"model\": \"opus\"}]}}",
         "brock.router.rules[0].match: bad regular expression at offset 1"},
        {"{\"router\": {\"rules\": [{\"match\": \"x\"}]}}", "brock.router.rules[0].model: expected"},
        {"{\"router\": {\"rules\": [{\"match\": \"x\", \"model\": \"o p\"}]}}", "rules[0].model"},
        {"{\"router\": {\"rules\": [{\"match\": \"\", \"model\": \"opus\"}]}}", "rules[0].match: expected"},
        {"{\"router\": {\"rules\": [{\"match\": \"x\", \"model\": \"opus\", \"when\": 1}]}}", "unknown field"},
        {"{\"router\": {\"classify\": \"yes\"}}", "brock.router.classify: expected true or false"},
        {"{\"router\": {\"pin\": {\"summary\": \"haiku\"}}}", "brock.router.pin: unknown task"},
        {"{\"router\": {\"pin\": {\"main\": 3}}}", "brock.router.pin.main: expected"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        json_t *b = NULL;
        struct brock_err e = {0};
        assert_int_equal(json_parse(bad[i][0], strlen(bad[i][0]), "t", &b, &e), BROCK_OK);
        struct router *r = (struct router *)1;
        if (router_new(b, true, &r, &e) != BROCK_ERR_CONFIG || !strstr(e.msg, bad[i][1]))
            fail_msg("%s: got '%s', want '%s'", bad[i][0], e.msg, bad[i][1]);
        assert_null(r);
        json_decref(b);
    }
    /* a pathological user pattern hits the match limit and simply does not match */
    json_t *b = json_pack("{s:{s:[{s:s,s:s}]}}", "router", "rules", "match", "(a+)+$", "model", "haiku");
    struct router *r;
    assert_int_equal(router_new(b, true, &r, NULL), BROCK_OK);
    char text[64];
    memset(text, 'a', 40);
    memcpy(text + 40, "b design a thing", sizeof "b design a thing");
    struct router_input in = input(text);
    struct router_choice c;
    router_decide(r, ROUTER_MAIN, &in, &c);
    assert_string_equal(c.spec, "opus");
    router_free(r);
    json_decref(b);
    assert_string_equal(router_task_name(ROUTER_COMPACTION), "compaction");
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_labelled_prompts),      cmocka_unit_test(test_router_size_beats_simple_words),
        cmocka_unit_test(test_router_rules_pins_background), cmocka_unit_test(test_router_classification),
        cmocka_unit_test(test_router_input_from_request),    cmocka_unit_test(test_router_settings_errors),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
