/* Tests for audit events (src/monitor/audit.c) and the monitoring settings
 * (src/monitor/monitor.c): every field of an event, the three log_content
 * levels, EMF validity checked against the rules of the EMF specification
 * (aws-wire-reference 9.2) by an independent validator, dimension sets,
 * metrics modes, truncation, hostile text, no secret in any event or spool
 * row, and the settings/environment precedence with its error messages. */
#include "../support/test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/monitor/audit.h"
#include "../../src/monitor/monitor.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"

#define T0 1735689600123LL /* 2025-01-01T00:00:00.123Z */

/* Distinctive secrets: none may ever appear in an event or the spool. */
static const char *const secrets[] = {
    "AKIAZZZZSECRETTEST01",
    "zX9secretKEYmaterial/0123456789abcdefABCD",
    "IQoJb3JpZ2luX2VjSESSIONtokenSECRETmaterial0123456789abcdefghijklmnopqrstuvwxyz",
    "bedrock-api-key-U0VDUkVUQkVEUk9DS0tFWU1BVEVSSUFM",
    "ghp_SECRETgithubTOKEN0123456789abcdefghij",
    "hunter2secretpass",
    "MIIEsecretPRIVATEkeyBODY",
};

static const char *prompt_with_secrets =
    "Deploy with AKIAZZZZSECRETTEST01 and aws_secret_access_key=zX9secretKEYmaterial/0123456789abcdefABCD\n"
    "export AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjSESSIONtokenSECRETmaterial0123456789abcdefghijklmnopqrstuvwxyz\n"
    "AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-U0VDUkVUQkVEUk9DS0tFWU1BVEVSSUFM\n"
    "GITHUB_TOKEN=ghp_SECRETgithubTOKEN0123456789abcdefghij password: hunter2secretpass\n"
    "-----BEGIN EC PRIVATE KEY-----\nMIIEsecretPRIVATEkeyBODY\n-----END EC PRIVATE KEY-----\nthanks";

static struct audit_call base_call(void)
{
    static const char *tools[] = {"Read", "Bash"};
    return (struct audit_call){
        .time_ms = T0,
        .session_id = "3f2b0c9e-1111-4222-8333-444455556666",
        .project = "brock",
        .caller_arn = "arn:aws:sts::123456789012:assumed-role/Dev/alice",
        .account = "123456789012",
        .model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        .profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        .region = "us-west-2",
        .api = "messages",
        .purpose = "turn",
        .usage = {.input_tokens = 1234, .output_tokens = 56, .cache_read_tokens = 7890, .cache_write_tokens = 12},
        .cost_usd = 0.0123,
        .latency_ms = 1500.5,
        .ttft_ms = 320,
        .retries = 1,
        .status = "ok",
        .request_id = "c0ffee00-1234-4abc-8def-0123456789ab",
        .routing = "auto: sonnet (tools needed)",
        .prompt = "Say hello",
        .prompt_len = 9,
        .answer = "Hello!",
        .answer_len = 6,
        .tools = tools,
        .n_tools = 2,
    };
}

static json_t *build(const struct monitor_config *cfg, const struct audit_call *c, size_t *redactions)
{
    struct buf b = BUF_INIT(AUDIT_EVENT_MAX);
    struct brock_err e = {0};
    if (audit_build(cfg, c, T0, &b, redactions, &e) != BROCK_OK)
        fail_msg("audit_build: %s", e.msg);
    json_error_t je;
    json_t *v = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        fail_msg("event is not JSON (%s): %.300s", je.text, b.ptr);
    buf_free(&b);
    return v;
}

static const char *S(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("member %s is not a string", k);
    return json_string_value(v);
}
static json_int_t I(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("member %s is not an integer", k);
    return json_integer_value(v);
}
static double D(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        fail_msg("member %s is not a number", k);
    return json_number_value(v);
}

/* ---- an EMF validator written from the specification, not from the code ---- */

static bool emf_unit_ok(const char *u)
{
    static const char *const units[] = {"Seconds",
                                        "Microseconds",
                                        "Milliseconds",
                                        "Bytes",
                                        "Kilobytes",
                                        "Megabytes",
                                        "Gigabytes",
                                        "Terabytes",
                                        "Bits",
                                        "Kilobits",
                                        "Megabits",
                                        "Gigabits",
                                        "Terabits",
                                        "Percent",
                                        "Count",
                                        "Bytes/Second",
                                        "Kilobytes/Second",
                                        "Megabytes/Second",
                                        "Gigabytes/Second",
                                        "Terabytes/Second",
                                        "Bits/Second",
                                        "Kilobits/Second",
                                        "Megabits/Second",
                                        "Gigabits/Second",
                                        "Terabits/Second",
                                        "Count/Second",
                                        "None"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(u, units[i]))
            return true;
    return false;
}

/* NULL if `ev` is valid EMF, else why not. */
static const char *emf_invalid(json_t *ev)
{
    if (!json_is_object(ev))
        return "not an object";
    json_t *aws = json_object_get(ev, "_aws");
    if (!json_is_object(aws))
        return "_aws is not an object";
    json_t *ts = json_object_get(aws, "Timestamp");
    if (!json_is_integer(ts) || json_integer_value(ts) < 0)
        return "_aws.Timestamp is not a whole number of ms";
    json_t *dirs = json_object_get(aws, "CloudWatchMetrics");
    if (!json_is_array(dirs) || json_array_size(dirs) == 0)
        return "CloudWatchMetrics is not a non-empty array";
    size_t i, j, k;
    json_t *d, *set, *name, *m;
    json_array_foreach(dirs, i, d)
    {
        json_t *ns = json_object_get(d, "Namespace");
        if (!json_is_string(ns) || json_string_length(ns) < 1 || json_string_length(ns) > 255)
            return "Namespace is not 1-255 characters";
        json_t *dims = json_object_get(d, "Dimensions");
        if (!json_is_array(dims))
            return "Dimensions is not an array";
        json_array_foreach(dims, j, set)
        {
            if (!json_is_array(set) || json_array_size(set) > 30)
                return "a dimension set is not an array of at most 30 names";
            json_array_foreach(set, k, name)
            {
                if (!json_is_string(name))
                    return "a dimension name is not a string";
                json_t *val = json_object_get(ev, json_string_value(name));
                if (!json_is_string(val))
                    return "a dimension is not a top-level string member";
                if (json_string_length(val) > 1024 || json_string_length(val) == 0)
                    return "a dimension value is not 1-1024 characters";
            }
        }
        json_t *ms = json_object_get(d, "Metrics");
        if (!json_is_array(ms) || json_array_size(ms) > 100)
            return "Metrics is not an array of at most 100";
        json_array_foreach(ms, j, m)
        {
            json_t *nm = json_object_get(m, "Name");
            if (!json_is_string(nm) || json_string_length(nm) < 1 || json_string_length(nm) > 255)
                return "a metric Name is not 1-255 characters";
            json_t *unit = json_object_get(m, "Unit");
            if (unit && (!json_is_string(unit) || !emf_unit_ok(json_string_value(unit))))
                return "a metric Unit is not a CloudWatch unit";
            json_t *res = json_object_get(m, "StorageResolution");
            if (res && (!json_is_integer(res) || (json_integer_value(res) != 1 && json_integer_value(res) != 60)))
                return "StorageResolution is not 1 or 60";
            json_t *val = json_object_get(ev, json_string_value(nm));
            if (json_is_array(val)) {
                if (json_array_size(val) > 100)
                    return "a metric array has more than 100 values";
                json_t *x;
                json_array_foreach(val, k, x)
                {
                    if (!json_is_number(x))
                        return "a metric array holds a non-number";
                }
            } else if (!json_is_number(val)) {
                return "a metric member is not a number";
            }
        }
    }
    return NULL;
}

/* ---- events ------------------------------------------------------------------ */

static void test_event_fields(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();
    json_t *ev = build(&cfg, &c, NULL);
    assert_string_equal(S(ev, "schema"), "brock.audit.v1");
    assert_string_equal(S(ev, "event"), "model_call");
    assert_string_equal(S(ev, "time"), "2025-01-01T00:00:00.123Z");
    assert_int_equal(I(ev, "timestamp"), T0);
    json_t *who = json_object_get(ev, "who");
    assert_string_equal(S(who, "arn"), "arn:aws:sts::123456789012:assumed-role/Dev/alice");
    assert_string_equal(S(who, "account"), "123456789012");
    assert_string_equal(S(who, "user"), "alice");
    assert_string_equal(S(ev, "User"), "alice");
    /* one series per model: the profile's base model id */
    assert_string_equal(S(ev, "Model"), "anthropic.claude-sonnet-4-5-20250929-v1:0");
    assert_string_equal(S(ev, "Project"), "brock");
    assert_string_equal(S(ev, "project"), "brock");
    assert_string_equal(S(ev, "session"), "3f2b0c9e-1111-4222-8333-444455556666");
    assert_string_equal(S(ev, "model"), c.model);
    assert_string_equal(S(ev, "profile"), c.profile);
    assert_string_equal(S(ev, "region"), "us-west-2");
    assert_string_equal(S(ev, "api"), "messages");
    assert_string_equal(S(ev, "purpose"), "turn");
    assert_int_equal(I(ev, "InputTokens"), 1234);
    assert_int_equal(I(ev, "OutputTokens"), 56);
    assert_int_equal(I(ev, "CacheReadTokens"), 7890);
    assert_int_equal(I(ev, "CacheWriteTokens"), 12);
    assert_true(D(ev, "CostUSD") > 0.01229 && D(ev, "CostUSD") < 0.01231);
    assert_true(D(ev, "LatencyMs") > 1500.4 && D(ev, "LatencyMs") < 1500.6);
    assert_true(D(ev, "ttft_ms") == 320);
    assert_int_equal(I(ev, "retries"), 1);
    assert_int_equal(I(ev, "Throttles"), 0);
    assert_int_equal(I(ev, "Errors"), 0);
    assert_int_equal(I(ev, "CacheHits"), 0);
    assert_string_equal(S(ev, "status"), "ok");
    assert_true(json_is_null(json_object_get(ev, "error_code")));
    assert_string_equal(S(ev, "request_id"), c.request_id);
    assert_true(json_is_false(json_object_get(ev, "cache_hit")));
    assert_string_equal(S(ev, "routing"), "auto: sonnet (tools needed)");
    assert_string_equal(S(ev, "log_content"), "metadata");
    json_t *tools = json_object_get(ev, "tools");
    assert_int_equal(json_array_size(tools), 2);
    assert_string_equal(json_string_value(json_array_get(tools, 1)), "Bash");
    /* the first member is the EMF directive */
    assert_string_equal(json_object_iter_key(json_object_iter(ev)), "_aws");
    json_decref(ev);
}

static void test_event_errors_and_throttles(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();
    c.status = NULL;
    c.error_code = "ThrottlingException";
    c.error_message = "Too many requests, please wait before trying again.";
    c.cache_hit = true;
    json_t *ev = build(&cfg, &c, NULL);
    assert_string_equal(S(ev, "status"), "ThrottlingException");
    assert_string_equal(S(ev, "error_code"), "ThrottlingException");
    assert_string_equal(S(ev, "error_message"), c.error_message);
    assert_int_equal(I(ev, "Errors"), 1);
    assert_int_equal(I(ev, "Throttles"), 1);
    assert_int_equal(I(ev, "CacheHits"), 1);
    assert_true(json_is_true(json_object_get(ev, "cache_hit")));
    json_decref(ev);

    c.throttles = 3; /* throttled three times, then succeeded */
    c.status = "ok";
    c.error_code = NULL;
    ev = build(&cfg, &c, NULL);
    assert_int_equal(I(ev, "Throttles"), 3);
    assert_int_equal(I(ev, "Errors"), 0);
    json_decref(ev);
}

static void test_event_content_levels(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();

    cfg.content = MONITOR_CONTENT_NONE;
    json_t *ev = build(&cfg, &c, NULL);
    assert_string_equal(S(ev, "log_content"), "none");
    const char *absent_none[] = {"prompt",        "answer",  "prompt_bytes",  "answer_bytes",
                                 "prompt_sha256", "routing", "error_message", "tools"};
    for (size_t i = 0; i < sizeof absent_none / sizeof absent_none[0]; i++)
        if (json_object_get(ev, absent_none[i]))
            fail_msg("log_content none has %s", absent_none[i]);
    assert_int_equal(I(ev, "InputTokens"), 1234); /* metadata of the call itself stays */
    json_decref(ev);

    cfg.content = MONITOR_CONTENT_METADATA;
    ev = build(&cfg, &c, NULL);
    assert_null(json_object_get(ev, "prompt"));
    assert_null(json_object_get(ev, "answer"));
    assert_int_equal(I(ev, "prompt_bytes"), 9);
    assert_int_equal(I(ev, "answer_bytes"), 6);
    /* sha256("Say hello"), computed with Python's hashlib */
    assert_string_equal(S(ev, "prompt_sha256"), "6d995dba1af0373913b98421f7b825327673d9870e4227386600e9d929f2c90c");
    json_decref(ev);

    cfg.content = MONITOR_CONTENT_FULL;
    ev = build(&cfg, &c, NULL);
    assert_string_equal(S(ev, "prompt"), "Say hello");
    assert_string_equal(S(ev, "answer"), "Hello!");
    assert_string_equal(S(ev, "log_content"), "full");
    json_decref(ev);
}

static void test_event_prompt_hash(void **state)
{
    (void)state;
    /* the hash is of the redacted prompt: two prompts differing only in the
     * secret hash alike, and the hash equals sha256 of the marker text */
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call a = base_call(), b = base_call();
    a.prompt = "key AKIAIOSFODNN7EXAMPLE";
    a.prompt_len = strlen(a.prompt);
    b.prompt = "key AKIAZZZZZZZZZZZZZZZZ";
    b.prompt_len = strlen(b.prompt);
    json_t *ea = build(&cfg, &a, NULL), *eb = build(&cfg, &b, NULL);
    assert_string_equal(S(ea, "prompt_sha256"), S(eb, "prompt_sha256"));
    assert_int_equal(strlen(S(ea, "prompt_sha256")), 64);
    json_decref(ea);
    json_decref(eb);
}

static void test_event_is_valid_emf(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();
    json_t *ev = build(&cfg, &c, NULL);
    const char *why = emf_invalid(ev);
    if (why)
        fail_msg("invalid EMF: %s", why);
    json_t *aws = json_object_get(ev, "_aws");
    assert_int_equal(I(aws, "Timestamp"), T0);
    json_t *d = json_array_get(json_object_get(aws, "CloudWatchMetrics"), 0);
    assert_string_equal(S(d, "Namespace"), "Brock");
    json_t *dims = json_object_get(d, "Dimensions");
    assert_int_equal(json_array_size(dims), 2);
    assert_int_equal(json_array_size(json_array_get(dims, 0)), 0); /* totals */
    assert_string_equal(json_string_value(json_array_get(json_array_get(dims, 1), 0)), "Model");
    json_t *ms = json_object_get(d, "Metrics");
    assert_int_equal(json_array_size(ms), 9);
    const char *want[] = {"InputTokens", "OutputTokens", "CacheReadTokens", "CacheWriteTokens", "CostUSD",
                          "LatencyMs",   "Throttles",    "Errors",          "CacheHits"};
    for (size_t i = 0; i < 9; i++)
        assert_string_equal(S(json_array_get(ms, i), "Name"), want[i]);
    assert_string_equal(S(json_array_get(ms, 5), "Unit"), "Milliseconds");
    assert_string_equal(S(json_array_get(ms, 4), "Unit"), "None");
    json_decref(ev);

    /* configured namespace and dimension sets; empty values become "unknown" */
    json_t *brock = json_loads("{\"monitoring\": {\"namespace\": \"Team/CLI\", \"dimensions\": [[\"Model\"], "
                               "[\"Model\", \"Project\", \"User\"], [\"User\"]]}}",
                               0, NULL);
    struct brock_err e = {0};
    assert_int_equal(monitor_config_load(&cfg, brock, NULL, NULL, &e), BROCK_OK);
    json_decref(brock);
    c.project = NULL;
    c.caller_arn = NULL;
    ev = build(&cfg, &c, NULL);
    why = emf_invalid(ev);
    if (why)
        fail_msg("invalid EMF: %s", why);
    d = json_array_get(json_object_get(json_object_get(ev, "_aws"), "CloudWatchMetrics"), 0);
    assert_string_equal(S(d, "Namespace"), "Team/CLI");
    dims = json_object_get(d, "Dimensions");
    assert_int_equal(json_array_size(dims), 4);
    assert_int_equal(json_array_size(json_array_get(dims, 2)), 3);
    assert_string_equal(S(ev, "Project"), "unknown");
    assert_string_equal(S(ev, "User"), "unknown");
    json_decref(ev);

    /* a long model id is cut to the 1024 limit of a dimension value */
    char longid[3000];
    memset(longid, 'm', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    c.model = longid;
    c.profile = NULL;
    ev = build(&cfg, &c, NULL);
    assert_null(emf_invalid(ev));
    assert_int_equal(strlen(S(ev, "Model")), 1024);
    json_decref(ev);
}

static void test_event_model_dimension(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();
    static const struct {
        const char *model, *profile, *want;
    } cases[] = {
        {"us.anthropic.claude-sonnet-4-6", NULL, "anthropic.claude-sonnet-4-6"},
        {"sonnet-as-asked", "global.anthropic.claude-haiku-4-5-20251001-v1:0",
         "anthropic.claude-haiku-4-5-20251001-v1:0"},
        {"arn:aws:bedrock:us-west-2:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6", "",
         "anthropic.claude-sonnet-4-6"},
        {"arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6", NULL,
         "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"},
        {NULL, NULL, "unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c.model = cases[i].model;
        c.profile = cases[i].profile;
        json_t *ev = build(&cfg, &c, NULL);
        if (strcmp(S(ev, "Model"), cases[i].want))
            fail_msg("case %zu: Model %s, want %s", i, S(ev, "Model"), cases[i].want);
        json_decref(ev);
    }
}

static void test_event_metrics_modes(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();
    cfg.metrics = MONITOR_METRICS_NONE;
    json_t *ev = build(&cfg, &c, NULL);
    assert_null(json_object_get(ev, "_aws"));
    assert_int_equal(I(ev, "InputTokens"), 1234); /* members stay: they are log fields */
    assert_string_equal(json_object_iter_key(json_object_iter(ev)), "Model");
    json_decref(ev);
    cfg.metrics = MONITOR_METRICS_PUT_METRIC_DATA;
    ev = build(&cfg, &c, NULL);
    assert_null(json_object_get(ev, "_aws"));
    json_decref(ev);
}

static void test_event_full_content_truncated(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    cfg.content = MONITOR_CONTENT_FULL;
    struct audit_call c = base_call();
    /* 100 KB of a 3-byte character: the cut falls inside one */
    size_t n = 100 * 1024 + 1;
    char *big = xmalloc(n + 1);
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(big + i, "\xe2\x82\xac", 3);
    n -= n % 3;
    big[n] = '\0';
    c.prompt = big;
    c.prompt_len = n;
    json_t *ev = build(&cfg, &c, NULL);
    const char *p = S(ev, "prompt");
    const char *mark = strstr(p, "[... truncated by brock: ");
    assert_non_null(mark);
    assert_true((size_t)(mark - p) <= AUDIT_CONTENT_MAX);
    assert_int_equal((size_t)(mark - p) % 3, 0); /* whole characters only */
    char want[64];
    snprintf(want, sizeof want, "[... truncated by brock: %zu bytes]", n);
    assert_string_equal(mark, want);
    assert_int_equal(I(ev, "prompt_bytes"), (json_int_t)n);
    json_decref(ev);
    free(big);
}

static void test_event_hostile_text(void **state)
{
    (void)state;
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    cfg.content = MONITOR_CONTENT_FULL;
    struct audit_call c = base_call();
    static const char bad[] = "quote\" backslash\\ nul\0 ctl\x01\x1f bad\xff\xfe utf8 \xc0\xaf surrogate \xed\xa0\x80";
    c.prompt = bad;
    c.prompt_len = sizeof bad - 1;
    c.answer = bad;
    c.answer_len = sizeof bad - 1;
    c.project = "proj\xff";
    c.error_message = "line1\nline2\t\"quoted\"";
    json_t *ev = build(&cfg, &c, NULL); /* jansson parses it: valid JSON and UTF-8 */
    const char *p = S(ev, "prompt");
    assert_non_null(strstr(p, "quote\" backslash\\ nul"));
    assert_non_null(strstr(p, "\xef\xbf\xbd")); /* replacement characters */
    assert_null(emf_invalid(ev));
    assert_string_equal(S(ev, "Project"), "proj\xef\xbf\xbd");
    json_decref(ev);
}

static void check_no_secret(const char *text, size_t n, const char *where)
{
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (memmem(text, n, secrets[i], strlen(secrets[i])))
            fail_msg("%s holds the secret %.8s...", where, secrets[i]);
}

/* A store in a new temporary directory (*dir: free it after closing). */
static struct store *tmp_store(char **dir)
{
    *dir = test_tmpdir();
    struct store_options so = {.dir = *dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&so, &s, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    return s;
}

static void test_no_secret_in_events_or_spool(void **state)
{
    (void)state;
    char *dir = NULL;
    struct store *s = tmp_store(&dir);
    struct brock_err e = {0};
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();
    c.prompt = prompt_with_secrets;
    c.prompt_len = strlen(prompt_with_secrets);
    c.answer = prompt_with_secrets; /* the model echoes it back */
    c.answer_len = c.prompt_len;
    c.error_message = "AccessDenied for AKIAZZZZSECRETTEST01 with password: hunter2secretpass";
    c.routing = "rule matched ghp_SECRETgithubTOKEN0123456789abcdefghij";
    const char *tools[] = {"mcp__x__AKIAZZZZSECRETTEST01"};
    c.tools = tools;
    c.n_tools = 1;
    for (int level = MONITOR_CONTENT_NONE; level <= MONITOR_CONTENT_FULL; level++) {
        cfg.content = (enum monitor_content)level;
        struct buf b = BUF_INIT(AUDIT_EVENT_MAX);
        size_t red = 0;
        assert_int_equal(audit_build(&cfg, &c, T0, &b, &red, &e), BROCK_OK);
        check_no_secret(b.ptr, b.len, "event");
        if (level == MONITOR_CONTENT_FULL) {
            assert_true(red >= 14);
            assert_non_null(strstr(b.ptr, "[REDACTED:aws-access-key-id]"));
            assert_non_null(strstr(b.ptr, "[REDACTED:private-key]"));
            assert_non_null(strstr(b.ptr, "thanks")); /* the rest of the text stays */
        }
        buf_free(&b);
        c.time_ms = T0 + level;
        assert_int_equal(audit_record(s, &cfg, &c, 0, &e), BROCK_OK);
    }
    struct store_spool_batch batch;
    assert_int_equal(store_spool_read(s, NULL, &batch, &e), BROCK_OK);
    assert_int_equal(batch.n, 3);
    for (size_t i = 0; i < batch.n; i++) {
        check_no_secret(batch.ev[i].message, batch.ev[i].len, "spool row");
        assert_int_equal(batch.ev[i].ts_ms, T0 + (int64_t)i);
    }
    store_spool_batch_free(&batch);
    store_close(s);
    /* and nothing in the database file at all */
    char *db = NULL;
    size_t dblen = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/brock.db", dir);
    db = test_read_file(path, &dblen);
    assert_non_null(db);
    check_no_secret(db, dblen, "database file");
    free(db);
    snprintf(path, sizeof path, "%s/brock.db-wal", dir);
    db = test_read_file(path, &dblen);
    if (db)
        check_no_secret(db, dblen, "WAL file");
    free(db);
    free(dir);
}

static void test_record_uses_now(void **state)
{
    (void)state;
    char *dir = NULL;
    struct store *s = tmp_store(&dir);
    struct brock_err e = {0};
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    struct audit_call c = base_call();
    c.time_ms = 0;
    assert_int_equal(audit_record(s, &cfg, &c, 1700000000000LL, &e), BROCK_OK);
    struct store_spool_batch b;
    assert_int_equal(store_spool_read(s, NULL, &b, &e), BROCK_OK);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.ev[0].ts_ms, 1700000000000LL);
    json_t *ev = json_loadb(b.ev[0].message, b.ev[0].len, 0, NULL);
    assert_int_equal(I(ev, "timestamp"), 1700000000000LL);
    json_decref(ev);
    store_spool_batch_free(&b);
    assert_int_equal(audit_record(NULL, &cfg, &c, 0, &e), BROCK_ERR_USAGE);
    store_close(s);
    free(dir);
}

/* With shipping off, events CloudWatch Logs would refuse (older than 14
 * days) are dropped from the spool; one a minute younger stays. */
static void test_spool_prune_age(void **state)
{
    (void)state;
    char *dir = NULL;
    struct store *s = tmp_store(&dir);
    struct brock_err e = {0};
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    const int64_t now = 1800000000000LL, minute = 60000;
    struct audit_call c = base_call();
    int64_t times[] = {now - AUDIT_SPOOL_MAX_AGE_MS - minute, now - AUDIT_SPOOL_MAX_AGE_MS + minute, now - 30 * minute};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(times); i++) {
        c.time_ms = times[i];
        assert_int_equal(audit_record(s, &cfg, &c, now, &e), BROCK_OK);
    }
    size_t dropped = 0;
    assert_int_equal(audit_spool_prune(s, now, &dropped, &e), BROCK_OK);
    assert_int_equal(dropped, 1);
    struct store_spool_limits lim = {.max_span_ms = 0};
    struct store_spool_batch b;
    assert_int_equal(store_spool_read(s, &lim, &b, &e), BROCK_OK);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.ev[0].ts_ms, times[1]);
    assert_int_equal(b.ev[1].ts_ms, times[2]);
    store_spool_batch_free(&b);
    assert_int_equal(audit_spool_prune(s, now, &dropped, &e), BROCK_OK);
    assert_int_equal(dropped, 0);
    assert_int_equal(audit_spool_prune(NULL, now, &dropped, &e), BROCK_ERR_USAGE);
    store_close(s);
    free(dir);
}

/* ---- settings ------------------------------------------------------------------ */

struct envmap {
    const char *k[6], *v[6];
};
static const char *env_get(void *ctx, const char *name)
{
    struct envmap *m = ctx;
    for (int i = 0; i < 6 && m->k[i]; i++)
        if (!strcmp(m->k[i], name))
            return m->v[i];
    return NULL;
}

static enum brock_status load(const char *json, struct envmap *env, struct monitor_config *c, struct brock_err *e)
{
    json_t *doc = json ? json_loads(json, 0, NULL) : NULL;
    if (json && !doc)
        fail_msg("bad test JSON %s", json);
    struct envmap none = {{0}, {0}};
    enum brock_status st = monitor_config_load(c, doc, env_get, env ? env : &none, e);
    json_decref(doc);
    return st;
}

static void test_config_defaults_and_precedence(void **state)
{
    (void)state;
    struct monitor_config c;
    struct brock_err e = {0};
    assert_int_equal(load(NULL, NULL, &c, &e), BROCK_OK);
    assert_false(monitor_shipping_enabled(&c));
    assert_int_equal(c.content, MONITOR_CONTENT_METADATA);
    assert_int_equal(c.metrics, MONITOR_METRICS_EMF);
    assert_string_equal(c.metric_namespace, "Brock");
    assert_string_equal(c.log_stream, "{host}/{user}/{date}");
    assert_int_equal(c.n_dim_sets, 2);
    assert_int_equal(c.retention_days, 30);
    assert_int_equal(c.exit_deadline_ms, 2000);

    assert_int_equal(load("{\"monitoring\": {\"log_group\": \"/brock/audit\", \"log_content\": \"full\", "
                          "\"metrics\": \"put-metric-data\", \"retention_days\": 90, \"ship_interval_s\": 10}}",
                          NULL, &c, &e),
                     BROCK_OK);
    assert_true(monitor_shipping_enabled(&c));
    assert_string_equal(c.log_group, "/brock/audit");
    assert_string_equal(c.log_group_source, "settings");
    assert_int_equal(c.content, MONITOR_CONTENT_FULL);
    assert_int_equal(c.metrics, MONITOR_METRICS_PUT_METRIC_DATA);
    assert_int_equal(c.retention_days, 90);
    assert_int_equal(c.interval_ms, 10000);

    struct envmap env = {{"BROCK_LOG_GROUP", "BROCK_LOG_CONTENT", "BROCK_METRICS"}, {"/env/group", "none", "none"}};
    assert_int_equal(
        load("{\"monitoring\": {\"log_group\": \"/brock/audit\", \"log_content\": \"full\"}}", &env, &c, &e), BROCK_OK);
    assert_string_equal(c.log_group, "/env/group");
    assert_string_equal(c.log_group_source, "BROCK_LOG_GROUP");
    assert_int_equal(c.content, MONITOR_CONTENT_NONE);
    assert_int_equal(c.metrics, MONITOR_METRICS_NONE);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *env_k, *env_v;
        const char *msg;
    } cases[] = {
        {"{\"monitoring\": 3}", NULL, NULL, "settings brock.monitoring: expected an object, found a number"},
        {"{\"monitoring\": {\"log_content\": \"everything\"}}", NULL, NULL,
         "settings brock.monitoring.log_content: expected none, metadata or full, found 'everything'"},
        {"{\"monitoring\": {\"log_content\": 1}}", NULL, NULL,
         "settings brock.monitoring.log_content: expected a string, found a number"},
        {NULL, "BROCK_LOG_CONTENT", "verbose", "BROCK_LOG_CONTENT: expected none, metadata or full, found 'verbose'"},
        {"{\"monitoring\": {\"metrics\": \"statsd\"}}", NULL, NULL,
         "settings brock.monitoring.metrics: expected emf, put-metric-data or none, found 'statsd'"},
        {"{\"monitoring\": {\"log_group\": \"aws/bedrock\"}}", NULL, NULL,
         "settings brock.monitoring.log_group: the log group name must not start with aws/ (reserved for AWS "
         "services)"},
        {NULL, "BROCK_LOG_GROUP", "bad group!",
         "BROCK_LOG_GROUP: the log group name may only hold letters, digits and . - _ / #"},
        {"{\"monitoring\": {\"namespace\": \"AWS/Bedrock\"}}", NULL, NULL,
         "settings brock.monitoring.namespace: the metric namespace must not start with AWS/ (reserved for AWS "
         "services)"},
        {"{\"monitoring\": {\"retention_days\": 31}}", NULL, NULL,
         "settings brock.monitoring.retention_days: 31 is not allowed"},
        {"{\"monitoring\": {\"retention_days\": \"30\"}}", NULL, NULL,
         "settings brock.monitoring.retention_days: expected a whole number from 0 to 3653, found a string"},
        {"{\"monitoring\": {\"dimensions\": [\"Model\", \"Region\"]}}", NULL, NULL,
         "settings brock.monitoring.dimensions: 'Region' is not a dimension (use Model, Project or User)"},
        {"{\"monitoring\": {\"dimensions\": \"Model\"}}", NULL, NULL,
         "settings brock.monitoring.dimensions: expected an array of names or of arrays of names, found a string"},
        {"{\"monitoring\": {\"log_stream\": \"a:{date}\"}}", NULL, NULL,
         "settings brock.monitoring.log_stream: the log stream name must not contain ':' or '*'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct envmap env = {{cases[i].env_k}, {cases[i].env_v}};
        struct monitor_config c;
        struct brock_err e = {0};
        enum brock_status st = load(cases[i].json, &env, &c, &e);
        if (st != BROCK_ERR_CONFIG || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
            fail_msg("case %zu: status %d, message '%s'", i, st, e.msg);
    }
}

static void test_stream_names(void **state)
{
    (void)state;
    struct monitor_config c;
    monitor_config_init(&c);
    char out[MONITOR_LOG_STREAM_MAX + 1];
    struct brock_err e = {0};
    assert_int_equal(monitor_stream_name(&c, "dev-box", "alice", T0, out, &e), BROCK_OK);
    assert_string_equal(out, "dev-box/alice/2025-01-01");
    assert_int_equal(monitor_stream_name(&c, "h:1", "a*b", T0 - 1000, out, &e), BROCK_OK);
    assert_string_equal(out, "h_1/a_b/2024-12-31");
    assert_true(monitor_stream_per_day(&c));
    snprintf(c.log_stream, sizeof c.log_stream, "cli-{user}");
    assert_int_equal(monitor_stream_name(&c, "h", "bob", T0, out, &e), BROCK_OK);
    assert_string_equal(out, "cli-bob");
    assert_false(monitor_stream_per_day(&c));
    assert_int_equal(monitor_stream_name(&c, NULL, NULL, T0, out, &e), BROCK_OK);
    assert_true(strlen(out) > 4);
}

static void test_names_and_retention(void **state)
{
    (void)state;
    char w[96];
    assert_true(monitor_log_group_valid("/brock/audit#1", w, sizeof w));
    assert_false(monitor_log_group_valid("", w, sizeof w));
    char long_name[600];
    memset(long_name, 'a', 513);
    long_name[513] = '\0';
    assert_false(monitor_log_group_valid(long_name, w, sizeof w));
    long_name[512] = '\0';
    assert_true(monitor_log_group_valid(long_name, w, sizeof w));
    assert_false(monitor_log_stream_valid("a*b", w, sizeof w));
    assert_true(monitor_log_stream_valid("host/user/2025-01-01", w, sizeof w));
    const int ok[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                      365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(monitor_retention_valid(ok[i]));
    const int bad[] = {0, 2, 4, 31, 366, 3654, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(monitor_retention_valid(bad[i]));
    assert_true(monitor_namespace_valid("Brock", w, sizeof w));
    assert_false(monitor_namespace_valid(":x", w, sizeof w));
    assert_false(monitor_namespace_valid("tab\there", w, sizeof w));
}

static void test_utf8_helpers(void **state)
{
    (void)state;
    assert_true(monitor_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
    assert_false(monitor_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(monitor_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(monitor_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(monitor_utf8_valid("\xe2\x82", 2));         /* cut short */
    assert_int_equal(monitor_utf8_clean_len("a\xffz", 3), 5);
    struct buf b = BUF_INIT(64);
    assert_int_equal(monitor_utf8_clean(&b, "a\xff\xfez", 4), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "a\xef\xbf\xbd\xef\xbf\xbdz");
    buf_reset(&b);
    assert_int_equal(monitor_utf8_cut("\xe2\x82\xac\xe2\x82\xac", 6, 4), 3);
    assert_int_equal(monitor_utf8_cut("abc", 3, 10), 3);
    assert_int_equal(monitor_utf8_cut("ab\xf0\x9f\x98\x80", 6, 5), 2);       /* inside a 4-byte character */
    assert_int_equal(monitor_utf8_cut("\x80\x80\x80\x80\x80\x80", 6, 4), 4); /* invalid bytes: anywhere */
    assert_int_equal(monitor_json_str(&b, "a\"b\\c\n\x01\xff", 8), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\"");
    buf_reset(&b);
    monitor_json_num(&b, 3.0);
    buf_addc(&b, ' ');
    monitor_json_num(&b, 0.0123);
    buf_addc(&b, ' ');
    monitor_json_num(&b, 1.0 / 0.0);
    assert_string_equal(buf_cstr(&b), "3 0.0123 0");
    buf_free(&b);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_fields),         cmocka_unit_test(test_event_errors_and_throttles),
        cmocka_unit_test(test_event_content_levels), cmocka_unit_test(test_event_prompt_hash),
        cmocka_unit_test(test_event_is_valid_emf),   cmocka_unit_test(test_event_model_dimension),
        cmocka_unit_test(test_event_metrics_modes),  cmocka_unit_test(test_event_full_content_truncated),
        cmocka_unit_test(test_event_hostile_text),   cmocka_unit_test(test_no_secret_in_events_or_spool),
        cmocka_unit_test(test_record_uses_now),      cmocka_unit_test(test_spool_prune_age),      cmocka_unit_test(test_config_defaults_and_precedence),
        cmocka_unit_test(test_config_errors),        cmocka_unit_test(test_stream_names),
        cmocka_unit_test(test_names_and_retention),  cmocka_unit_test(test_utf8_helpers),
    };
    return cmocka_run_group_tests_name("monitor_audit", tests, NULL, NULL);
}
