/* test_agent_fake.h - what the agent tests share (included by each
 * tests/agent/test_agent*.c; everything is static):
 *
 *   - a scripted struct model_client: each invoke() records the request
 *     (model id, API, and the real InvokeModel / Converse body that the
 *     bedrock layer builds from it, so the tests check what would go on the
 *     wire) and answers with the next step of a script:
 *       {"content": [blocks]} or {"text": "...", "tool_use": [{id, name, input}]},
 *       "stop_reason", "usage": {"input", "output", "cache_read", "cache_write"},
 *       "error": "throttled" | "interrupted" | "validation" (no answer),
 *       "partial_text": "..." (with error: text that streamed before it)
 *     Without usage the input tokens are bedrock_estimate_tokens(request).
 *   - a fixture: a temporary workspace and home, settings with optional
 *     command-line rules and mode, a non-interactive permission engine, a
 *     tool context, an optional store, and an event log as JSON. */
#ifndef BROCK_TESTS_AGENT_FAKE_H
#define BROCK_TESTS_AGENT_FAKE_H

#include "../support/test.h"

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/agent.h"
#include "../../src/agent/hooks.h"
#include "../../src/agent/perm.h"
#include "../../src/agent/settings.h"
#include "../../src/agent/tools.h"
#include "../../src/bedrock/bedrock_wire.h"
#include "../../src/bedrock/catalog.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/fs.h"
#include "../../src/util/json.h"

/* Each test file uses some of the helpers below. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define SONNET_ID "us.anthropic.claude-sonnet-4-5-20250929-v1:0" /* min cache 1024, window 200k */
#define HAIKU_ID "us.anthropic.claude-haiku-4-5-20251001-v1:0"   /* min cache 4096 */

struct fake_model {
    struct model_client mc;
    json_t *script;   /* steps */
    size_t next;
    json_t *requests; /* one object per invoke */
    volatile sig_atomic_t *cancel;
    /* called before answering call `n` (0-based) */
    void (*before)(struct fake_model *f, size_t n);
    void *ctx;
};

static enum brock_status fake_invoke(struct model_client *mc, const struct model_request *req,
                                     const struct model_events *ev, struct model_result *out, struct brock_err *e)
{
    struct fake_model *f = mc->impl;
    model_result_cleanup(out);
    model_result_init(out);
    json_decref(out->content); /* set below */
    out->content = NULL;
    size_t n = json_array_size(f->requests);
    json_t *rec = json_pack("{s:s,s:s,s:b}", "model_id", req->model_id, "api",
                            req->api == MODEL_API_CONVERSE ? "converse" : "messages", "stream", req->stream);
    struct buf body = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
    struct brock_err be = {0};
    if (bedrock_invoke_body(req, &body, &be) == BROCK_OK)
        json_object_set_new(rec, "body", json_loads(body.ptr, 0, NULL));
    else
        json_object_set_new(rec, "body_error", json_string(be.msg));
    buf_reset(&body);
    if (req->api == MODEL_API_CONVERSE) {
        if (bedrock_converse_body(req, &body, &be) == BROCK_OK)
            json_object_set_new(rec, "converse", json_loads(body.ptr, 0, NULL));
        else
            json_object_set_new(rec, "body_error", json_string(be.msg));
    }
    buf_free(&body);
    json_object_set_new(rec, "estimate", json_integer(bedrock_estimate_tokens(req)));
    json_array_append_new(f->requests, rec);
    if (f->before)
        f->before(f, n);

    json_t *step = json_array_get(f->script, f->next);
    if (!step) {
        out->content = json_array();
        return err_set(e, BROCK_ERR_INTERNAL, "fake model: the script has no step %zu", f->next);
    }
    f->next++;
    snprintf(out->model_id, sizeof out->model_id, "%s", req->model_id);
    snprintf(out->region, sizeof out->region, "us-west-2");
    snprintf(out->request_id, sizeof out->request_id, "req-%zu", n);
    snprintf(out->message_id, sizeof out->message_id, "msg_%zu", n);
    out->attempts = 1;
    const char *err = json_string_value(json_object_get(step, "error"));
    const char *partial = json_string_value(json_object_get(step, "partial_text"));
    if (partial && ev && ev->on_text)
        ev->on_text(ev->ctx, 0, partial, strlen(partial));
    if (err) {
        out->content = partial ? json_pack("[{s:s,s:s}]", "type", "text", "text", partial) : json_array();
        out->partial = partial != NULL;
        if (!strcmp(err, "interrupted")) {
            if (f->cancel)
                *f->cancel = 1;
            return err_set(e, BROCK_ERR_INTERRUPTED, "interrupted");
        }
        if (!strcmp(err, "validation")) {
            snprintf(e->aws_code, sizeof e->aws_code, "ValidationException");
            return err_set(e, BROCK_ERR_AWS, "ValidationException: the fake said no");
        }
        snprintf(e->aws_code, sizeof e->aws_code, "ThrottlingException");
        return err_set(e, BROCK_ERR_THROTTLED, "ThrottlingException: Too many requests (fake)");
    }
    json_t *content = json_object_get(step, "content");
    if (content) {
        out->content = json_deep_copy(content);
    } else {
        out->content = json_array();
        const char *text = json_string_value(json_object_get(step, "text"));
        if (text)
            json_array_append_new(out->content, json_pack("{s:s,s:s}", "type", "text", "text", text));
        size_t i;
        json_t *tu;
        json_array_foreach(json_object_get(step, "tool_use"), i, tu)
        {
            json_t *b = json_deep_copy(tu);
            json_object_set_new(b, "type", json_string("tool_use"));
            if (!json_object_get(b, "input"))
                json_object_set_new(b, "input", json_object());
            json_array_append_new(out->content, b);
        }
    }
    size_t i;
    json_t *b;
    bool tools = false;
    json_array_foreach(out->content, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *t = json_string_value(json_object_get(b, "text"));
        if (type && !strcmp(type, "text") && t && ev && ev->on_text)
            ev->on_text(ev->ctx, (int)i, t, strlen(t));
        tools |= type && !strcmp(type, "tool_use");
    }
    const char *sr = json_string_value(json_object_get(step, "stop_reason"));
    snprintf(out->stop_reason, sizeof out->stop_reason, "%s", sr ? sr : tools ? "tool_use" : "end_turn");
    json_t *u = json_object_get(step, "usage");
    if (u) {
        json_int(u, "input", &out->usage.input_tokens);
        json_int(u, "output", &out->usage.output_tokens);
        json_int(u, "cache_read", &out->usage.cache_read_tokens);
        json_int(u, "cache_write", &out->usage.cache_write_tokens);
    } else {
        out->usage.input_tokens = bedrock_estimate_tokens(req);
        out->usage.output_tokens = 10;
    }
    out->latency_ms = 1;
    return BROCK_OK;
}

static enum brock_status fake_count(struct model_client *mc, const struct model_request *req, int64_t *tokens,
                                    bool *estimated, struct brock_err *e)
{
    (void)mc;
    (void)e;
    *tokens = bedrock_estimate_tokens(req);
    *estimated = true;
    return BROCK_OK;
}

static void fake_free(struct model_client *mc)
{
    (void)mc;
}

static const struct model_client_vtable fake_vtable = {fake_invoke, fake_count, fake_free};

static void fake_init(struct fake_model *f)
{
    memset(f, 0, sizeof *f);
    f->mc.vtable = &fake_vtable;
    f->mc.impl = f;
    f->script = json_array();
    f->requests = json_array();
}

static void fake_cleanup(struct fake_model *f)
{
    json_decref(f->script);
    json_decref(f->requests);
}

/* Add a step written as JSON with printf formatting. */
static void fake_step(struct fake_model *f, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void fake_step(struct fake_model *f, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    json_error_t je;
    json_t *v = s ? json_loads(s, 0, &je) : NULL;
    if (!v)
        fail_msg("bad fake step: %s (%s)", s ? s : "?", s ? je.text : "");
    json_array_append_new(f->script, v);
    free(s);
}

/* The messages of request n (borrowed). */
static json_t *req_messages(struct fake_model *f, size_t n)
{
    return json_object_get(json_object_get(json_array_get(f->requests, n), "body"), "messages");
}

/* --- fixture ------------------------------------------------------------ */

struct fx {
    char *T, *ws, *home, *cfgdir, *storedir;
    struct settings *s;
    struct perm_engine *pe;
    struct tool_ctx *tc;
    struct fake_model fm;
    struct store *store;
    struct hooks *hooks;
    struct agent_config cfg;
    struct agent *a;
    json_t *events;
    volatile sig_atomic_t cancel;
};

static void fx_event(void *ctx, const struct agent_event *ev)
{
    struct fx *x = ctx;
    static const char *const names[] = {"text", "thinking", "message", "tool_start", "tool_result", "permission",
                                        "call", "retry", "compact", "hook", "warning"};
    json_t *o = json_pack("{s:s}", "type", names[ev->type]);
    if (ev->text)
        json_object_set_new(o, "text", json_stringn(ev->text, ev->len));
    if (ev->tool_name)
        json_object_set_new(o, "tool", json_string(ev->tool_name));
    if (ev->tool_use_id)
        json_object_set_new(o, "id", json_string(ev->tool_use_id));
    if (ev->type == AGENT_EV_TOOL_RESULT)
        json_object_set_new(o, "is_error", json_boolean(ev->is_error));
    if (ev->type == AGENT_EV_MESSAGE)
        json_object_set_new(o, "message", json_deep_copy(ev->input));
    if (ev->decision)
        json_object_set_new(o, "verdict", json_string(perm_verdict_name(ev->decision->verdict)));
    if (ev->call) {
        json_object_set_new(o, "model", json_string(ev->call->model_id));
        json_object_set_new(o, "purpose", json_string(ev->call->purpose));
        json_object_set_new(o, "cache_points", json_integer(ev->call->cache_points));
        json_object_set_new(o, "cost", json_real(ev->call->cost_usd));
    }
    json_array_append_new(x->events, o);
}

static char *fx_path(struct fx *x, const char *rel)
{
    return fs_join(x->ws, rel);
}

static void fx_write(struct fx *x, const char *rel, const char *content)
{
    char *p = fx_path(x, rel);
    test_write_file(p, content);
    free(p);
}

static char *fx_read(struct fx *x, const char *rel)
{
    char *p = fx_path(x, rel);
    char *s = test_read_file(p, NULL);
    free(p);
    return s;
}

/* rules: allow rules for --allowedTools (NULL = none); mode NULL = default. */
static void fx_init(struct fx *x, const char *allow, const char *deny, const char *mode)
{
    memset(x, 0, sizeof *x);
    x->T = test_tmpdir();
    x->ws = fs_join(x->T, "ws");
    x->home = fs_join(x->T, "home");
    x->cfgdir = fs_join(x->T, "cfg");
    x->storedir = fs_join(x->T, "store");
    assert_int_equal(fs_mkdirs(x->ws, 0755, NULL), BROCK_OK);
    assert_int_equal(fs_mkdirs(x->home, 0755, NULL), BROCK_OK);
    assert_int_equal(fs_mkdirs(x->cfgdir, 0755, NULL), BROCK_OK);
    char *real = realpath(x->ws, NULL);
    free(x->ws);
    x->ws = real;
    struct brock_err e = {0};
    struct settings_opts so = {.cwd = x->ws, .home = x->home, .user_file = "/nonexistent/brock-test/settings.json"};
    assert_int_equal(settings_new(&so, &x->s, &e), BROCK_OK);
    if (allow)
        assert_int_equal(settings_cli_rules(x->s, PERM_LIST_ALLOW, "--allowedTools", allow, &e), BROCK_OK);
    if (deny)
        assert_int_equal(settings_cli_rules(x->s, PERM_LIST_DENY, "--disallowedTools", deny, &e), BROCK_OK);
    if (mode)
        assert_int_equal(settings_cli_mode(x->s, mode, &e), BROCK_OK);
    struct perm_env pe = {.cwd = x->ws, .home = x->home, .config_home = x->cfgdir, .interactive = false};
    if (perm_engine_new(x->s, &pe, &x->pe, &e) != BROCK_OK)
        fail_msg("perm engine: %s", e.msg);
    assert_int_equal(tool_ctx_new(x->ws, NULL, &x->tc, &e), BROCK_OK);
    tool_ctx_set_cancel(x->tc, &x->cancel);
    fake_init(&x->fm);
    x->fm.cancel = &x->cancel;
    x->events = json_array();
    agent_config_init(&x->cfg);
    x->cfg.model = &x->fm.mc;
    x->cfg.model_id = SONNET_ID;
    x->cfg.model_info = catalog_find(SONNET_ID, NULL);
    x->cfg.compact_model_id = HAIKU_ID;
    x->cfg.compact_model_info = catalog_find(HAIKU_ID, NULL);
    x->cfg.tools = x->tc;
    x->cfg.perm = x->pe;
    x->cfg.cwd = x->ws;
    x->cfg.cancel = &x->cancel;
    x->cfg.on_event = fx_event;
    x->cfg.event_ctx = x;
    x->cfg.stream = true;
}

static void fx_store(struct fx *x)
{
    struct brock_err e = {0};
    struct store_options so = {.dir = x->storedir};
    if (store_open(&so, &x->store, &e) != BROCK_OK)
        fail_msg("store: %s", e.msg);
    x->cfg.store = x->store;
}

/* Hooks from a JSON text (the settings' `hooks` object). */
static void fx_hooks(struct fx *x, const char *json)
{
    json_t *h = json_loads(json, 0, NULL);
    assert_non_null(h);
    struct hooks_opts o;
    hooks_opts_default(&o);
    o.project_dir = x->ws;
    o.cancel = &x->cancel;
    struct brock_err e = {0};
    if (hooks_new(h, &o, &x->hooks, &e) != BROCK_OK)
        fail_msg("hooks: %s", e.msg);
    json_decref(h);
    x->cfg.hooks = x->hooks;
}

static void fx_agent(struct fx *x)
{
    struct brock_err e = {0};
    if (agent_new(&x->cfg, &x->a, &e) != BROCK_OK)
        fail_msg("agent_new: %s", e.msg);
}

static void fx_free(struct fx *x)
{
    agent_free(x->a);
    hooks_free(x->hooks);
    store_close(x->store);
    tool_ctx_free(x->tc);
    perm_engine_free(x->pe);
    settings_free(x->s);
    fake_cleanup(&x->fm);
    json_decref(x->events);
    free(x->T);
    free(x->ws);
    free(x->home);
    free(x->cfgdir);
    free(x->storedir);
}

/* Events of a type, in order (new reference). */
static json_t *fx_events(struct fx *x, const char *type)
{
    json_t *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(x->events, i, ev) if (!strcmp(json_string_value(json_object_get(ev, "type")), type))
        json_array_append(out, ev);
    return out;
}

/* The tool_result block for `id` in the last user message of `msgs` (borrowed). */
static json_t *find_result(const json_t *msgs, const char *id)
{
    for (size_t i = json_array_size(msgs); i-- > 0;) {
        json_t *m = json_array_get(msgs, i);
        size_t k;
        json_t *b;
        json_array_foreach(json_object_get(m, "content"), k, b)
        {
            const char *t = json_string_value(json_object_get(b, "type"));
            const char *bid = json_string_value(json_object_get(b, "tool_use_id"));
            if (t && !strcmp(t, "tool_result") && bid && !strcmp(bid, id))
                return b;
        }
    }
    return NULL;
}

static const char *result_text(const json_t *r)
{
    return json_string_value(json_object_get(r, "content"));
}

/* Every tool_use in msgs has exactly one tool_result in the next message,
 * first in it, in order; roles alternate starting with user. */
static void assert_well_formed(const json_t *msgs)
{
    size_t n = json_array_size(msgs);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        assert_non_null(role);
        assert_string_equal(role, i % 2 ? "assistant" : "user");
        assert_true(json_array_size(json_object_get(m, "content")) > 0);
        if (i % 2 == 0)
            continue;
        size_t k, nuse = 0;
        json_t *b;
        json_t *next = json_object_get(json_array_get(msgs, i + 1), "content");
        json_array_foreach(json_object_get(m, "content"), k, b)
        {
            if (strcmp(json_string_value(json_object_get(b, "type")), "tool_use"))
                continue;
            assert_true(i + 1 < n);
            json_t *r = json_array_get(next, nuse);
            assert_non_null(r);
            assert_string_equal(json_string_value(json_object_get(r, "type")), "tool_result");
            assert_string_equal(json_string_value(json_object_get(r, "tool_use_id")),
                                json_string_value(json_object_get(b, "id")));
            nuse++;
        }
        /* no other results in the next message */
        size_t nres = 0;
        json_array_foreach(next, k, b) nres += !strcmp(json_string_value(json_object_get(b, "type")), "tool_result");
        assert_int_equal(nres, nuse);
    }
}

#endif
