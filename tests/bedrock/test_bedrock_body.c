/* Tests for the request bodies (src/bedrock/bedrock_body.c): InvokeModel and
 * Converse bodies checked against JSON written by hand from the examples of
 * wire reference 4.2 and 4.6, every translation rule, the errors for what
 * cannot be expressed, canonical bytes, CountTokens bodies and the estimate. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/bedrock/bedrock_wire.h"
#include "../../src/util/codec.h"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, 0, &je);
    if (!v)
        fprintf(stderr, "bad test JSON at %d:%d: %s\n", je.line, je.column, je.text);
    assert_non_null(v);
    return v;
}

static void request_init(struct model_request *r)
{
    memset(r, 0, sizeof *r);
    r->model_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    r->max_tokens = 1024;
    r->temperature = MODEL_UNSET;
    r->top_p = MODEL_UNSET;
    r->top_k = MODEL_UNSET;
}

static void request_free(struct model_request *r)
{
    json_decref(r->system);
    json_decref(r->messages);
    json_decref(r->tools);
    json_decref(r->tool_choice);
    json_decref(r->thinking);
    json_decref(r->stop_sequences);
    json_decref(r->extra);
}

static void assert_same_json(const char *got_text, const char *want_text)
{
    json_t *got = J(got_text), *want = J(want_text);
    if (!json_equal(got, want)) {
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "JSON differs:\n  got:  %s\n  want: %s\n", got_text, w);
        free(w);
        fail();
    }
    json_decref(got);
    json_decref(want);
}

typedef enum brock_status body_fn(const struct model_request *, struct buf *, struct brock_err *);

static void assert_body(body_fn *fn, const struct model_request *r, const char *want)
{
    struct buf b = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
    struct brock_err e = {0};
    enum brock_status st = fn(r, &b, &e);
    if (st != BROCK_OK)
        fprintf(stderr, "body failed: %s\n", e.msg);
    assert_int_equal(st, BROCK_OK);
    assert_same_json(buf_cstr(&b), want);
    buf_free(&b);
}

static void assert_rejected(body_fn *fn, const struct model_request *r, const char *want_in_msg)
{
    struct buf b = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
    struct brock_err e = {0};
    assert_int_equal(fn(r, &b, &e), BROCK_ERR_USAGE);
    if (!strstr(e.msg, want_in_msg))
        fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, want_in_msg);
    assert_non_null(strstr(e.msg, want_in_msg));
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* ---- the reference 4.6 example ---------------------------------------------------------- */

static void reference_request(struct model_request *r)
{
    request_init(r);
    r->max_tokens = 8192;
    r->system = J("[{\"type\": \"text\", \"text\": \"You are a coding assistant.\", \"cache_control\": {\"type\": "
                  "\"ephemeral\", \"ttl\": \"1h\"}}]");
    r->messages = J("["
                    "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"List the files\"}]},"
                    "{\"role\": \"assistant\", \"content\": ["
                    "  {\"type\": \"thinking\", \"thinking\": \"...\", \"signature\": \"EqQB...\"},"
                    "  {\"type\": \"tool_use\", \"id\": \"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\", \"name\": \"bash\", "
                    "   \"input\": {\"cmd\": \"ls\"}}]},"
                    "{\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": "
                    "\"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\", \"content\": \"a.c\\nb.c\", \"is_error\": false, "
                    "\"cache_control\": {\"type\": \"ephemeral\"}}]}]");
    r->tools = J("[{\"name\": \"bash\", \"description\": \"Run a shell command\", \"input_schema\": {\"type\": "
                 "\"object\", \"properties\": {\"cmd\": {\"type\": \"string\"}}, \"required\": [\"cmd\"]}, "
                 "\"cache_control\": {\"type\": \"ephemeral\"}}]");
    r->tool_choice = J("{\"type\": \"auto\"}");
    r->thinking = J("{\"type\": \"enabled\", \"budget_tokens\": 4096}");
    r->temperature = 1;
    r->stop_sequences = J("[\"</done>\"]");
}

static void test_invoke_reference_example(void **state)
{
    (void)state;
    struct model_request r;
    reference_request(&r);
    r.extra = J("{\"anthropic_beta\": [\"context-1m-2025-08-07\"], \"metadata\": {\"user_id\": \"u-1\"}}");
    assert_body(bedrock_invoke_body, &r,
                "{\"anthropic_version\": \"bedrock-2023-05-31\","
                " \"anthropic_beta\": [\"context-1m-2025-08-07\"],"
                " \"metadata\": {\"user_id\": \"u-1\"},"
                " \"max_tokens\": 8192,"
                " \"system\": [{\"type\": \"text\", \"text\": \"You are a coding assistant.\", \"cache_control\": "
                "{\"type\": \"ephemeral\", \"ttl\": \"1h\"}}],"
                " \"messages\": ["
                "   {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"List the files\"}]},"
                "   {\"role\": \"assistant\", \"content\": [{\"type\": \"thinking\", \"thinking\": \"...\", "
                "\"signature\": \"EqQB...\"}, {\"type\": \"tool_use\", \"id\": \"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\", "
                "\"name\": \"bash\", \"input\": {\"cmd\": \"ls\"}}]},"
                "   {\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": "
                "\"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\", \"content\": \"a.c\\nb.c\", \"is_error\": false,"
                " \"cache_control\": {\"type\": \"ephemeral\"}}]}],"
                " \"tools\": [{\"name\": \"bash\", \"description\": \"Run a shell command\", \"input_schema\": "
                "{\"type\": \"object\", \"properties\": {\"cmd\": {\"type\": \"string\"}}, \"required\": [\"cmd\"]}, "
                "\"cache_control\": {\"type\": \"ephemeral\"}}],"
                " \"tool_choice\": {\"type\": \"auto\"},"
                " \"thinking\": {\"type\": \"enabled\", \"budget_tokens\": 4096},"
                " \"temperature\": 1, \"stop_sequences\": [\"</done>\"]}");
    request_free(&r);
}

static void test_invoke_sampling_and_strings(void **state)
{
    (void)state;
    struct model_request r;
    request_init(&r);
    r.max_tokens = 100;
    r.system = json_string("Be brief.");
    r.messages = J("[{\"role\": \"user\", \"content\": \"Hi\"}]");
    r.temperature = 0.7;
    r.top_p = 0.95;
    r.top_k = 250;
    r.tool_choice = J("{\"type\": \"none\"}");
    assert_body(bedrock_invoke_body, &r,
                "{\"anthropic_version\": \"bedrock-2023-05-31\", \"max_tokens\": 100, \"system\": \"Be brief.\","
                " \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"temperature\": 0.7, \"top_p\": 0.95,"
                " \"top_k\": 250, \"tool_choice\": {\"type\": \"none\"}}");
    /* an empty system string and empty lists are left out */
    json_decref(r.system);
    r.system = json_string("");
    r.temperature = r.top_p = MODEL_UNSET;
    r.top_k = MODEL_UNSET;
    json_decref(r.tool_choice);
    r.tool_choice = NULL;
    r.tools = json_array();
    r.stop_sequences = json_array();
    assert_body(bedrock_invoke_body, &r,
                "{\"anthropic_version\": \"bedrock-2023-05-31\", \"max_tokens\": 100,"
                " \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
    request_free(&r);
}

/* Messages blocks go to InvokeModel untouched: images, documents, errors,
 * redacted thinking, cache_control. */
static void test_invoke_blocks_pass_through(void **state)
{
    (void)state;
    static const char content[] =
        "[{\"type\": \"image\", \"source\": {\"type\": \"base64\", \"media_type\": \"image/png\", \"data\": "
        "\"iVBORw0KGgo=\"}},"
        " {\"type\": \"document\", \"title\": \"Q3 report.pdf\", \"source\": {\"type\": \"base64\", "
        "\"media_type\": \"application/pdf\", \"data\": \"JVBERi0=\"}, \"cache_control\": {\"type\": "
        "\"ephemeral\"}},"
        " {\"type\": \"tool_result\", \"tool_use_id\": \"t1\", \"is_error\": true, \"content\": [{\"type\": "
        "\"text\", \"text\": \"no such file\"}]}]";
    struct model_request r;
    request_init(&r);
    r.messages = json_pack("[{s:s,s:o},{s:s,s:[{s:s,s:s}]}]", "role", "user", "content", J(content), "role",
                           "assistant", "content", "type", "redacted_thinking", "data", "EmwKAhgB");
    assert_body(bedrock_invoke_body, &r,
                "{\"anthropic_version\": \"bedrock-2023-05-31\", \"max_tokens\": 1024, \"messages\": ["
                " {\"role\": \"user\", \"content\": [{\"type\": \"image\", \"source\": {\"type\": \"base64\", "
                "\"media_type\": \"image/png\", \"data\": \"iVBORw0KGgo=\"}},"
                "  {\"type\": \"document\", \"title\": \"Q3 report.pdf\", \"source\": {\"type\": \"base64\", "
                "\"media_type\": \"application/pdf\", \"data\": \"JVBERi0=\"}, \"cache_control\": {\"type\": "
                "\"ephemeral\"}},"
                "  {\"type\": \"tool_result\", \"tool_use_id\": \"t1\", \"is_error\": true, \"content\": "
                "[{\"type\": \"text\", \"text\": \"no such file\"}]}]},"
                " {\"role\": \"assistant\", \"content\": [{\"type\": \"redacted_thinking\", \"data\": "
                "\"EmwKAhgB\"}]}]}");
    request_free(&r);
}

/* Compact, keys sorted, reals short: written out by hand. */
static void test_canonical_bytes(void **state)
{
    (void)state;
    struct model_request r;
    request_init(&r);
    r.max_tokens = 100;
    r.messages = J("[{\"role\": \"user\", \"content\": [{\"text\": \"h\\u00e9/\\\"\", \"type\": \"text\"}]}]");
    r.temperature = 0.7;
    struct buf b = BUF_INIT(4096);
    assert_int_equal(bedrock_invoke_body(&r, &b, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":100,"
                                      "\"messages\":[{\"content\":[{\"text\":\"h\xc3\xa9/\\\"\",\"type\":\"text\"}],"
                                      "\"role\":\"user\"}],\"temperature\":0.7}");
    buf_reset(&b);
    r.api = MODEL_API_CONVERSE;
    assert_int_equal(bedrock_converse_body(&r, &b, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "{\"inferenceConfig\":{\"maxTokens\":100,\"temperature\":0.7},"
                                      "\"messages\":[{\"content\":[{\"text\":\"h\xc3\xa9/\\\"\"}],\"role\":\"user\"}]}");
    buf_free(&b);
    request_free(&r);
}

/* The same request built in a different member order gives the same bytes. */
static void test_deterministic(void **state)
{
    (void)state;
    for (int api = 0; api < 2; api++) {
        struct model_request a, b;
        reference_request(&a);
        reference_request(&b);
        a.api = b.api = (enum model_api)api;
        json_decref(b.tools);
        b.tools = J("[{\"cache_control\": {\"type\": \"ephemeral\"}, \"input_schema\": {\"required\": [\"cmd\"], "
                    "\"properties\": {\"cmd\": {\"type\": \"string\"}}, \"type\": \"object\"}, \"description\": "
                    "\"Run a shell command\", \"name\": \"bash\"}]");
        json_decref(b.thinking);
        b.thinking = J("{\"budget_tokens\": 4096, \"type\": \"enabled\"}");
        body_fn *fn = api ? bedrock_converse_body : bedrock_invoke_body;
        struct buf x = BUF_INIT(1 << 20), y = BUF_INIT(1 << 20), z = BUF_INIT(1 << 20);
        assert_int_equal(fn(&a, &x, NULL), BROCK_OK);
        assert_int_equal(fn(&b, &y, NULL), BROCK_OK);
        assert_int_equal(fn(&a, &z, NULL), BROCK_OK);
        assert_string_equal(buf_cstr(&x), buf_cstr(&y));
        assert_string_equal(buf_cstr(&x), buf_cstr(&z));
        assert_null(strchr(buf_cstr(&x), '\n'));
        assert_null(strstr(buf_cstr(&x), ", "));
        buf_free(&x);
        buf_free(&y);
        buf_free(&z);
        request_free(&a);
        request_free(&b);
    }
}

static void test_invoke_rejects(void **state)
{
    (void)state;
    struct model_request r;
    request_init(&r);
    r.messages = J("[{\"role\": \"user\", \"content\": \"Hi\"}]");
    r.extra = J("{\"model\": \"x\"}");
    assert_rejected(bedrock_invoke_body, &r, "extra field 'model' is not allowed");
    json_decref(r.extra);
    r.extra = J("{\"stream\": true}");
    assert_rejected(bedrock_invoke_body, &r, "extra field 'stream' is not allowed");
    json_decref(r.extra);
    r.extra = J("{\"max_tokens\": 5}");
    assert_rejected(bedrock_invoke_body, &r, "extra field 'max_tokens' duplicates");
    json_decref(r.extra);
    r.extra = NULL;
    r.max_tokens = 0;
    assert_rejected(bedrock_invoke_body, &r, "max_tokens must be positive");
    r.max_tokens = 10;
    r.temperature = 1.5;
    assert_rejected(bedrock_invoke_body, &r, "temperature must be between 0 and 1");
    r.temperature = MODEL_UNSET;
    r.top_p = -0.5;
    assert_rejected(bedrock_invoke_body, &r, "top_p");
    r.top_p = MODEL_UNSET;
    r.top_k = -3;
    assert_rejected(bedrock_invoke_body, &r, "top_k");
    r.top_k = MODEL_UNSET;
    /* a prefill (the last message the assistant's): refused from the 4.6 models on, fine before */
    json_t *pre = J("[{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Sure:\"}]");
    json_t *keep = r.messages;
    r.messages = pre;
    r.model_id = "us.anthropic.claude-sonnet-4-6";
    assert_rejected(bedrock_invoke_body, &r, "Claude Sonnet 4.6 takes no prefill");
    assert_rejected(bedrock_converse_body, &r, "takes no prefill");
    r.model_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    struct buf pb = BUF_INIT(1 << 20);
    assert_int_equal(bedrock_invoke_body(&r, &pb, NULL), BROCK_OK);
    buf_free(&pb);
    r.messages = keep;
    json_decref(pre);
    /* the models from Opus 4.7 on take no sampling parameters (temperature 1, the default, is fine) */
    r.model_id = "us.anthropic.claude-opus-4-7";
    r.temperature = 0;
    assert_rejected(bedrock_invoke_body, &r, "Claude Opus 4.7 does not take temperature");
    assert_rejected(bedrock_converse_body, &r, "Claude Opus 4.7 does not take temperature");
    r.temperature = MODEL_UNSET;
    r.top_p = 0.9;
    assert_rejected(bedrock_invoke_body, &r, "does not take top_p");
    r.top_p = MODEL_UNSET;
    r.top_k = 5;
    assert_rejected(bedrock_invoke_body, &r, "does not take top_k");
    r.top_k = MODEL_UNSET;
    r.temperature = 1;
    struct buf ok = BUF_INIT(1 << 20);
    assert_int_equal(bedrock_invoke_body(&r, &ok, NULL), BROCK_OK);
    buf_free(&ok);
    r.temperature = MODEL_UNSET;
    r.model_id = "us.anthropic.claude-opus-4-6-v1"; /* the same sampling is fine before 4.7 */
    r.top_k = 5;
    ok = (struct buf)BUF_INIT(1 << 20);
    assert_int_equal(bedrock_invoke_body(&r, &ok, NULL), BROCK_OK);
    buf_free(&ok);
    r.top_k = MODEL_UNSET;
    r.stop_sequences = J("[\"ok\", 5]");
    assert_rejected(bedrock_invoke_body, &r, "stop_sequences[1]");
    json_decref(r.stop_sequences);
    r.stop_sequences = NULL;
    json_decref(r.messages);
    r.messages = J("[]");
    assert_rejected(bedrock_invoke_body, &r, "messages must be a non-empty array");
    json_decref(r.messages);
    r.messages = J("[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"system\", \"content\": \"b\"}]");
    assert_rejected(bedrock_invoke_body, &r, "messages[1]: role");
    json_decref(r.messages);
    r.messages = J("[{\"role\": \"user\", \"content\": 7}]");
    assert_rejected(bedrock_invoke_body, &r, "messages[0]: content");
    request_free(&r);
}

/* ---- Converse (reference 4.2) ------------------------------------------------------------ */

static void test_converse_reference_example(void **state)
{
    (void)state;
    struct model_request r;
    reference_request(&r);
    r.api = MODEL_API_CONVERSE;
    r.extra = J("{\"anthropic_beta\": [\"interleaved-thinking-2025-05-14\"]}");
    assert_body(
        bedrock_converse_body, &r,
        "{\"messages\": ["
        "  {\"role\": \"user\", \"content\": [{\"text\": \"List the files\"}]},"
        "  {\"role\": \"assistant\", \"content\": ["
        "    {\"reasoningContent\": {\"reasoningText\": {\"text\": \"...\", \"signature\": \"EqQB...\"}}},"
        "    {\"toolUse\": {\"toolUseId\": \"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\", \"name\": \"bash\", \"input\": {\"cmd\": "
        "\"ls\"}}}]},"
        "  {\"role\": \"user\", \"content\": ["
        "    {\"toolResult\": {\"toolUseId\": \"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\", \"content\": [{\"text\": "
        "\"a.c\\nb.c\"}]}},"
        "    {\"cachePoint\": {\"type\": \"default\"}}]}"
        "],"
        " \"system\": [{\"text\": \"You are a coding assistant.\"}, {\"cachePoint\": {\"type\": \"default\", \"ttl\": "
        "\"1h\"}}],"
        " \"inferenceConfig\": {\"maxTokens\": 8192, \"temperature\": 1, \"stopSequences\": [\"</done>\"]},"
        " \"toolConfig\": {"
        "   \"tools\": ["
        "     {\"toolSpec\": {\"name\": \"bash\", \"description\": \"Run a shell command\","
        "                   \"inputSchema\": {\"json\": {\"type\": \"object\", \"properties\": {\"cmd\": {\"type\": "
        "\"string\"}}, \"required\": [\"cmd\"]}}}},"
        "     {\"cachePoint\": {\"type\": \"default\"}}],"
        "   \"toolChoice\": {\"auto\": {}}},"
        " \"additionalModelRequestFields\": {\"thinking\": {\"type\": \"enabled\", \"budget_tokens\": 4096},"
        "                                  \"anthropic_beta\": [\"interleaved-thinking-2025-05-14\"]},"
        " \"additionalModelResponseFieldPaths\": [\"/stop_sequence\"]}");
    request_free(&r);
}

static void test_converse_blocks(void **state)
{
    (void)state;
    struct model_request r;
    request_init(&r);
    r.api = MODEL_API_CONVERSE;
    r.max_tokens = 512;
    r.top_p = 0.9;
    r.top_k = 40;
    r.extra = J("{\"output_config\": {\"effort\": \"high\"}}");
    r.messages = J(
        "[{\"role\": \"user\", \"content\": ["
        "  {\"type\": \"image\", \"source\": {\"type\": \"base64\", \"media_type\": \"image/png\", \"data\": "
        "\"iVBORw0KGgo=\"}},"
        "  {\"type\": \"document\", \"title\": \"Q3 report.pdf\", \"context\": \"finance\", \"citations\": "
        "{\"enabled\": true},"
        "   \"source\": {\"type\": \"base64\", \"media_type\": \"application/pdf\", \"data\": \"JVBERi0=\"}},"
        "  {\"type\": \"document\", \"source\": {\"type\": \"text\", \"media_type\": \"text/plain\", \"data\": "
        "\"plain words\"}},"
        "  {\"type\": \"text\", \"text\": \"Compare them\", \"cache_control\": {\"type\": \"ephemeral\", \"ttl\": "
        "\"5m\"}}]},"
        " {\"role\": \"assistant\", \"content\": ["
        "  {\"type\": \"redacted_thinking\", \"data\": \"EmwKAhgB\"},"
        "  {\"type\": \"tool_use\", \"id\": \"t1\", \"name\": \"read\", \"input\": {\"path\": \"a\"}},"
        "  {\"type\": \"tool_use\", \"id\": \"t2\", \"name\": \"noargs\"}]},"
        " {\"role\": \"user\", \"content\": ["
        "  {\"type\": \"tool_result\", \"tool_use_id\": \"t1\", \"is_error\": true, \"content\": ["
        "    {\"type\": \"text\", \"text\": \"no such file\"},"
        "    {\"type\": \"image\", \"source\": {\"type\": \"base64\", \"media_type\": \"image/jpeg\", \"data\": "
        "\"/9j/\"}}]},"
        "  {\"type\": \"tool_result\", \"tool_use_id\": \"t2\", \"content\": \"\"}]},"
        " {\"role\": \"assistant\", \"content\": \"Done.\"}]");
    r.tools = J("[{\"name\": \"read\", \"input_schema\": {\"type\": \"object\"}}, {\"type\": \"custom\", \"name\": "
                "\"noargs\", \"description\": \"d\", \"input_schema\": {\"type\": \"object\"}}]");
    r.tool_choice = J("{\"type\": \"tool\", \"name\": \"read\"}");
    assert_body(bedrock_converse_body, &r,
                "{\"messages\": ["
                " {\"role\": \"user\", \"content\": ["
                "   {\"image\": {\"format\": \"png\", \"source\": {\"bytes\": \"iVBORw0KGgo=\"}}},"
                "   {\"document\": {\"format\": \"pdf\", \"name\": \"Q3 report-pdf\", \"context\": \"finance\","
                "                  \"citations\": {\"enabled\": true}, \"source\": {\"bytes\": \"JVBERi0=\"}}},"
                "   {\"document\": {\"format\": \"txt\", \"name\": \"document-2\", \"source\": {\"text\": \"plain "
                "words\"}}},"
                "   {\"text\": \"Compare them\"}, {\"cachePoint\": {\"type\": \"default\", \"ttl\": \"5m\"}}]},"
                " {\"role\": \"assistant\", \"content\": ["
                "   {\"reasoningContent\": {\"redactedContent\": \"EmwKAhgB\"}},"
                "   {\"toolUse\": {\"toolUseId\": \"t1\", \"name\": \"read\", \"input\": {\"path\": \"a\"}}},"
                "   {\"toolUse\": {\"toolUseId\": \"t2\", \"name\": \"noargs\", \"input\": {}}}]},"
                " {\"role\": \"user\", \"content\": ["
                "   {\"toolResult\": {\"toolUseId\": \"t1\", \"status\": \"error\", \"content\": ["
                "      {\"text\": \"no such file\"}, {\"image\": {\"format\": \"jpeg\", \"source\": {\"bytes\": "
                "\"/9j/\"}}}]}},"
                "   {\"toolResult\": {\"toolUseId\": \"t2\", \"content\": []}}]},"
                " {\"role\": \"assistant\", \"content\": [{\"text\": \"Done.\"}]}],"
                " \"inferenceConfig\": {\"maxTokens\": 512, \"topP\": 0.9},"
                " \"toolConfig\": {\"tools\": ["
                "   {\"toolSpec\": {\"name\": \"read\", \"inputSchema\": {\"json\": {\"type\": \"object\"}}}},"
                "   {\"toolSpec\": {\"name\": \"noargs\", \"description\": \"d\", \"inputSchema\": {\"json\": "
                "{\"type\": \"object\"}}}}],"
                "  \"toolChoice\": {\"tool\": {\"name\": \"read\"}}},"
                " \"additionalModelRequestFields\": {\"top_k\": 40, \"output_config\": {\"effort\": \"high\"}}}");

    /* any, and none (which sends no tools at all) */
    json_decref(r.tool_choice);
    r.tool_choice = J("{\"type\": \"any\"}");
    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(bedrock_converse_body(&r, &b, NULL), BROCK_OK);
    assert_non_null(strstr(buf_cstr(&b), "\"toolChoice\":{\"any\":{}}"));
    json_decref(r.tool_choice);
    r.tool_choice = J("{\"type\": \"none\"}");
    buf_reset(&b);
    assert_int_equal(bedrock_converse_body(&r, &b, NULL), BROCK_OK);
    assert_null(strstr(buf_cstr(&b), "toolConfig"));
    buf_free(&b);
    request_free(&r);
}

static void test_converse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *content; /* one user message's blocks */
        const char *want;
    } cases[] = {
        {"[{\"type\": \"image\", \"source\": {\"type\": \"url\", \"url\": \"https://x/y.png\"}}]",
         "messages[0].content[0]: image source type 'url' has no Converse form"},
        {"[{\"type\": \"image\", \"source\": {\"type\": \"base64\", \"media_type\": \"image/bmp\", \"data\": \"x\"}}]",
         "image/bmp"},
        {"[{\"type\": \"document\", \"source\": {\"type\": \"url\", \"url\": \"https://x/y.pdf\"}}]",
         "document source type 'url'"},
        {"[{\"type\": \"text\", \"text\": \"a\"}, {\"type\": \"search_result\", \"source\": \"s\"}]",
         "messages[0].content[1]: block type 'search_result' has no Converse form"},
        {"[{\"type\": \"tool_result\", \"tool_use_id\": \"t\", \"content\": [{\"type\": \"text\", \"text\": \"x\", "
         "\"cache_control\": {\"type\": \"ephemeral\"}}]}]",
         "messages[0].content[0].content[0]: cache_control inside a tool_result"},
        {"[{\"type\": \"text\", \"text\": \"x\", \"cache_control\": {\"type\": \"persistent\"}}]",
         "cache_control must be"},
        {"[{\"type\": \"tool_result\", \"content\": \"x\"}]", "tool_result without a tool_use_id"},
        {"[{\"type\": \"tool_use\", \"name\": \"x\"}]", "tool_use needs a string id and name"},
        {"[\"just text\"]", "content block is not an object"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct model_request r;
        request_init(&r);
        r.api = MODEL_API_CONVERSE;
        json_t *content = J(cases[i].content);
        r.messages = json_pack("[{s:s,s:o}]", "role", "user", "content", content);
        assert_rejected(bedrock_converse_body, &r, cases[i].want);
        request_free(&r);
    }

    struct model_request r;
    request_init(&r);
    r.api = MODEL_API_CONVERSE;
    r.messages = J("[{\"role\": \"user\", \"content\": \"Hi\"}]");
    r.tools = J("[{\"type\": \"web_search_20250305\", \"name\": \"web_search\"}]");
    assert_rejected(bedrock_converse_body, &r, "tools[0]: server tool type 'web_search_20250305'");
    json_decref(r.tools);
    r.tools = J("[{\"name\": \"t\"}]");
    assert_rejected(bedrock_converse_body, &r, "tools[0]: a tool needs a string name and an input_schema");
    json_decref(r.tools);
    r.tools = J("[{\"name\": \"t\", \"input_schema\": {}}]");
    r.tool_choice = J("{\"type\": \"auto\", \"disable_parallel_tool_use\": true}");
    assert_rejected(bedrock_converse_body, &r, "disable_parallel_tool_use");
    json_decref(r.tool_choice);
    r.tool_choice = J("{\"type\": \"tool\"}");
    assert_rejected(bedrock_converse_body, &r, "tool_choice: type 'tool'");
    json_decref(r.tool_choice);
    r.tool_choice = NULL;
    r.system = J("[{\"type\": \"image\", \"source\": {}}]");
    assert_rejected(bedrock_converse_body, &r, "system[0]: system blocks must be text blocks");
    json_decref(r.system);
    r.system = NULL;
    r.thinking = J("{\"type\": \"enabled\", \"budget_tokens\": 2048}");
    r.extra = J("{\"thinking\": {\"type\": \"disabled\"}}");
    assert_rejected(bedrock_converse_body, &r, "extra field 'thinking' duplicates a field brock sets in "
                                               "additionalModelRequestFields");
    request_free(&r);
}

/* ---- CountTokens and the estimate ------------------------------------------------------------ */

static void test_count_tokens_bodies(void **state)
{
    (void)state;
    struct model_request r;
    reference_request(&r);
    struct buf ct = BUF_INIT(1 << 20), inv = BUF_INIT(1 << 20), dec = BUF_INIT(1 << 20);
    assert_int_equal(bedrock_count_tokens_body(&r, &ct, NULL), BROCK_OK);
    assert_int_equal(bedrock_invoke_body(&r, &inv, NULL), BROCK_OK);
    json_t *root = J(buf_cstr(&ct));
    const char *b64 = json_string_value(json_object_get(json_object_get(json_object_get(root, "input"),
                                                                        "invokeModel"),
                                                        "body"));
    assert_non_null(b64);
    assert_int_equal(json_object_size(root), 1);
    assert_int_equal(base64_decode(&dec, b64, strlen(b64)), BROCK_OK);
    /* the body CountTokens counts is exactly the body InvokeModel would send */
    assert_string_equal(buf_cstr(&dec), buf_cstr(&inv));
    json_decref(root);

    buf_reset(&ct);
    r.api = MODEL_API_CONVERSE;
    assert_int_equal(bedrock_count_tokens_body(&r, &ct, NULL), BROCK_OK);
    root = J(buf_cstr(&ct));
    json_t *in = json_object_get(json_object_get(root, "input"), "converse");
    assert_non_null(json_object_get(in, "messages"));
    assert_non_null(json_object_get(in, "system"));
    assert_non_null(json_object_get(in, "toolConfig"));
    assert_non_null(json_object_get(in, "additionalModelRequestFields"));
    assert_null(json_object_get(in, "inferenceConfig"));
    assert_null(json_object_get(in, "additionalModelResponseFieldPaths"));
    assert_int_equal(json_object_size(in), 4);
    json_decref(root);
    buf_free(&ct);
    buf_free(&inv);
    buf_free(&dec);
    request_free(&r);
}

static void test_estimate(void **state)
{
    (void)state;
    struct model_request r;
    request_init(&r);
    char sys[41], text[401];
    memset(sys, 's', 40);
    sys[40] = '\0';
    memset(text, 't', 400);
    text[400] = '\0';
    r.system = json_string(sys);
    r.messages = json_pack("[{s:s,s:[{s:s,s:s},{s:s,s:{s:s,s:s,s:s}}]},{s:s,s:[{s:s,s:s,s:s,s:{s:s}}]}]", "role",
                           "user", "content", "type", "text", "text", text, "type", "image", "source", "type",
                           "base64", "media_type", "image/png", "data", "AAAA", "role", "assistant", "content",
                           "type", "tool_use", "id", "t1", "name", "bash", "input", "cmd", "ls");
    /* text: 40 + 400 + "bash" 4 + {"cmd":"ls"} 12 = 456 bytes -> 114;
     * fixed: 2 messages x 4 + 1 image x 1600 = 1608 */
    assert_int_equal(bedrock_estimate_tokens(&r), 114 + 1608);
    /* one tool: 350 + 50, and its JSON {"name":"t","input_schema":{}} is 30 bytes:
     * (456 + 30) / 4 rounds up to 122 */
    r.tools = J("[{\"name\":\"t\",\"input_schema\":{}}]");
    assert_int_equal(bedrock_estimate_tokens(&r), 122 + 1608 + 400);
    request_free(&r);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invoke_reference_example),
        cmocka_unit_test(test_invoke_sampling_and_strings),
        cmocka_unit_test(test_invoke_blocks_pass_through),
        cmocka_unit_test(test_canonical_bytes),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_invoke_rejects),
        cmocka_unit_test(test_converse_reference_example),
        cmocka_unit_test(test_converse_blocks),
        cmocka_unit_test(test_converse_rejects),
        cmocka_unit_test(test_count_tokens_bodies),
        cmocka_unit_test(test_estimate),
    };
    return cmocka_run_group_tests_name("bedrock_body", tests, NULL, NULL);
}
