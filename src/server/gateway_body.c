/* gateway_body.c - what the gateway reads and changes in bodies: the route,
 * translation per model (betas, fields, system messages), and the usage and
 * stop facts of answers and stream events (gateway.h). Pure functions. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "gateway.h"
#include "httpd.h"

const char *gateway_op_name(enum gateway_op op)
{
    switch (op) {
    case GATEWAY_OP_INVOKE: return "invoke";
    case GATEWAY_OP_INVOKE_STREAM: return "invoke-with-response-stream";
    case GATEWAY_OP_CONVERSE: return "converse";
    case GATEWAY_OP_CONVERSE_STREAM: return "converse-stream";
    case GATEWAY_OP_COUNT_TOKENS: return "count-tokens";
    case GATEWAY_OP_CONTROL: return "control";
    default: return "none";
    }
}

enum gateway_op gateway_route(const char *path, char *model_id, size_t cap)
{
    static const struct {
        const char *name;
        enum gateway_op op;
    } ops[] = {
        {"invoke", GATEWAY_OP_INVOKE},
        {"invoke-with-response-stream", GATEWAY_OP_INVOKE_STREAM},
        {"converse", GATEWAY_OP_CONVERSE},
        {"converse-stream", GATEWAY_OP_CONVERSE_STREAM},
        {"count-tokens", GATEWAY_OP_COUNT_TOKENS},
    };
    if (strncmp(path, "/model/", 7) || cap == 0)
        return GATEWAY_OP_NONE;
    struct buf seg = BUF_INIT(cap * 3 + 64);
    enum gateway_op op = GATEWAY_OP_NONE;
    if (httpd_path_segment(path, 2, &seg, NULL) == BROCK_OK) {
        for (size_t i = 0; i < BROCK_ARRAY_LEN(ops); i++)
            if (!strcmp(buf_cstr(&seg), ops[i].name))
                op = ops[i].op;
    }
    buf_reset(&seg);
    if (op != GATEWAY_OP_NONE && httpd_path_segment(path, 3, &seg, NULL) != BROCK_ERR_NOT_FOUND)
        op = GATEWAY_OP_NONE;
    buf_reset(&seg);
    if (op != GATEWAY_OP_NONE) {
        if (httpd_path_segment(path, 1, &seg, NULL) != BROCK_OK || seg.len < 1 || seg.len >= cap ||
            strlen(buf_cstr(&seg)) != seg.len)
            op = GATEWAY_OP_NONE;
        else
            memcpy(model_id, seg.ptr, seg.len + 1);
    }
    buf_free(&seg);
    return op;
}

/* ---- what each model takes --------------------------------------------------
 *
 * Beta flags Bedrock accepts per model (AWS's "Anthropic Claude Messages API"
 * parameter page and Anthropic's per-feature pages; a best estimate, see
 * docs/internals/gateway.md). A model is named by a piece of its base id;
 * "claude-sonnet-4" also covers 4.5 and 4.6. Flags not listed at all (Claude
 * Code's claude-code-*, prompt-caching-scope-*, adaptive-thinking-*, oauth-*)
 * are Anthropic-API-only and are dropped for every known model. */

#define C4 "claude-opus-4", "claude-sonnet-4", "claude-haiku-4"
#define NEWEST "claude-opus-4-5", "claude-opus-4-6", "claude-sonnet-4-6"

static const struct {
    const char *beta;
    const char *models[8];
} betas[] = {
    {"interleaved-thinking-2025-05-14", {C4}},
    {"fine-grained-tool-streaming-2025-05-14", {C4}},
    {"dev-full-thinking-2025-05-14", {C4}},
    {"token-efficient-tools-2025-02-19", {C4, "claude-3-7-sonnet"}},
    {"computer-use-2025-01-24", {C4, "claude-3-7-sonnet"}},
    {"computer-use-2024-10-22", {"claude-3-5-sonnet-20241022"}},
    {"output-128k-2025-02-19", {"claude-3-7-sonnet"}},
    {"context-1m-2025-08-07", {"claude-sonnet-4-20250514", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-6"}},
    {"context-management-2025-06-27",
     {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", NEWEST}},
    {"effort-2025-11-24", {NEWEST}},
    {"tool-search-tool-2025-10-19", {NEWEST, "claude-sonnet-4-5"}},
    {"tool-examples-2025-10-29", {NEWEST, "claude-sonnet-4-5"}},
    {"computer-use-2025-11-24", {NEWEST}},
};

static bool model_in(const char *base_id, const char *const *models)
{
    for (size_t i = 0; i < 8 && models[i]; i++)
        if (strstr(base_id, models[i]))
            return true;
    return false;
}

static const char *const effort_models[] = {NEWEST, NULL};
static const char *const adaptive_models[] = {"claude-opus-4-6", "claude-sonnet-4-6", NULL};
static const char *const ctxmgmt_models[] = {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", NEWEST,
                                             NULL};

static void note(struct gateway_body_info *info, const char *fmt, const char *arg)
{
    size_t used = strlen(info->changes);
    if (used + 4 >= sizeof info->changes)
        return;
    int n = snprintf(info->changes + used, sizeof info->changes - used, "%s", used ? "; " : "");
    if (n > 0)
        used += (size_t)n;
    snprintf(info->changes + used, sizeof info->changes - used, fmt, arg ? arg : "");
}

/* Drop the flags `base_id` does not take from an anthropic_beta array.
 * Returns true if the array changed (and removes the key when it empties). */
static bool filter_betas(json_t *obj, const char *base_id, struct gateway_body_info *info)
{
    json_t *arr = json_object_get(obj, "anthropic_beta");
    if (!json_is_array(arr))
        return false;
    bool changed = false;
    for (size_t i = 0; i < json_array_size(arr);) {
        const char *b = json_string_value(json_array_get(arr, i));
        bool keep = false;
        for (size_t k = 0; b && k < BROCK_ARRAY_LEN(betas) && !keep; k++)
            if (!strcmp(b, betas[k].beta))
                keep = model_in(base_id, betas[k].models);
        if (keep) {
            i++;
            continue;
        }
        note(info, "dropped beta %.80s", b ? b : "(not a string)");
        json_array_remove(arr, i);
        changed = true;
    }
    if (changed && json_array_size(arr) == 0)
        json_object_del(obj, "anthropic_beta");
    return changed;
}

/* Text of a system message's content (string or text blocks), as blocks. */
static void system_blocks(const json_t *content, json_t *into, bool converse)
{
    if (json_is_string(content)) {
        if (json_string_length(content))
            json_array_append_new(into, converse ? json_pack("{s:O}", "text", content)
                                                 : json_pack("{s:s,s:O}", "type", "text", "text", content));
        return;
    }
    size_t i;
    const json_t *b;
    json_array_foreach(content, i, b) {
        const json_t *t = json_object_get(b, "text");
        if (json_is_string(t) && json_string_length(t))
            json_array_append_new(into, converse ? json_pack("{s:O}", "text", t)
                                                 : json_pack("{s:s,s:O}", "type", "text", "text", t));
    }
}

/* Move `role: system` messages into the top-level system (Bedrock takes only
 * user and assistant in messages). */
static bool move_system_messages(json_t *body, bool converse, struct gateway_body_info *info)
{
    json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs))
        return false;
    json_t *moved = NULL;
    for (size_t i = 0; i < json_array_size(msgs);) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || strcmp(role, "system")) {
            i++;
            continue;
        }
        if (!moved)
            moved = json_array();
        system_blocks(json_object_get(m, "content"), moved, converse);
        json_array_remove(msgs, i);
    }
    if (!moved)
        return false;
    json_t *sys = json_object_get(body, "system");
    json_t *merged = json_array();
    if (json_is_string(sys) && json_string_length(sys))
        system_blocks(sys, merged, converse);
    else if (json_is_array(sys))
        json_array_extend(merged, sys);
    json_array_extend(merged, moved);
    json_decref(moved);
    json_object_set_new(body, "system", merged);
    note(info, "moved role:system messages into system%s", "");
    return true;
}

static void read_facts(const json_t *body, bool converse, struct gateway_body_info *info)
{
    const json_t *md = converse ? json_object_get(body, "requestMetadata") : json_object_get(body, "metadata");
    const char *sess = json_string_value(json_object_get(md, "user_id"));
    if (!sess)
        sess = json_string_value(json_object_get(md, "session"));
    if (sess)
        snprintf(info->session, sizeof info->session, "%s", sess);

    const json_t *temp = converse ? json_object_get(json_object_get(body, "inferenceConfig"), "temperature")
                                  : json_object_get(body, "temperature");
    const json_t *extra = converse ? json_object_get(body, "additionalModelRequestFields") : body;
    const char *ttype = json_string_value(json_object_get(json_object_get(extra, "thinking"), "type"));
    bool thinking = json_object_get(extra, "thinking") && !(ttype && !strcmp(ttype, "disabled"));
    info->deterministic = json_is_number(temp) && json_number_value(temp) == 0.0 && !thinking;

    const json_t *msgs = json_object_get(body, "messages");
    const json_t *last = json_array_get(msgs, json_array_size(msgs) ? json_array_size(msgs) - 1 : 0);
    const char *role = json_string_value(json_object_get(last, "role"));
    if (role && !strcmp(role, "user")) {
        size_t i;
        const json_t *b;
        json_array_foreach(json_object_get(last, "content"), i, b) {
            const char *t = json_string_value(json_object_get(b, "type"));
            if ((t && !strcmp(t, "tool_result")) || json_object_get(b, "toolResult"))
                info->tool_results = true;
        }
    }
}

void gateway_translate(enum gateway_op op, const char *model_id, const char *body, size_t len, char **out,
                       size_t *out_len, struct gateway_body_info *info)
{
    memset(info, 0, sizeof *info);
    *out = NULL;
    *out_len = 0;
    bool messages = op == GATEWAY_OP_INVOKE || op == GATEWAY_OP_INVOKE_STREAM;
    bool converse = op == GATEWAY_OP_CONVERSE || op == GATEWAY_OP_CONVERSE_STREAM;
    if (!messages && !converse)
        return;
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    info->parsed = true;

    const struct model_info *m = model_id ? catalog_find(model_id, NULL) : NULL;
    const char *base = m ? m->base_id : NULL;
    bool changed = false;
    if (messages) {
        if (json_object_get(root, "model")) {
            json_object_del(root, "model");
            note(info, "dropped model%s", "");
            changed = true;
        }
        if (json_object_get(root, "stream")) {
            json_object_del(root, "stream");
            note(info, "dropped stream%s", "");
            changed = true;
        }
        if (!json_object_get(root, "anthropic_version")) {
            json_object_set_new(root, "anthropic_version", json_string("bedrock-2023-05-31"));
            note(info, "added anthropic_version%s", "");
            changed = true;
        }
        changed |= move_system_messages(root, false, info);
        if (base) {
            changed |= filter_betas(root, base, info);
            if (json_object_get(root, "output_config") && !model_in(base, effort_models)) {
                json_object_del(root, "output_config");
                note(info, "dropped output_config (not taken by %s)", base);
                changed = true;
            }
            if (json_object_get(root, "context_management") && !model_in(base, ctxmgmt_models)) {
                json_object_del(root, "context_management");
                note(info, "dropped context_management (not taken by %s)", base);
                changed = true;
            }
            json_t *th = json_object_get(root, "thinking");
            const char *tt = json_string_value(json_object_get(th, "type"));
            if (tt && !strcmp(tt, "adaptive") && !model_in(base, adaptive_models)) {
                json_int_t mt = json_integer_value(json_object_get(root, "max_tokens"));
                if (mt > 1024) {
                    json_int_t budget = mt / 2 < 1024 ? 1024 : mt / 2;
                    json_object_set_new(root, "thinking",
                                        json_pack("{s:s,s:I}", "type", "enabled", "budget_tokens", budget));
                    note(info, "adaptive thinking -> enabled with a budget of half max_tokens%s", "");
                } else {
                    json_object_del(root, "thinking");
                    note(info, "dropped adaptive thinking (max_tokens too small for a budget)%s", "");
                }
                changed = true;
            }
        }
    } else {
        changed |= move_system_messages(root, true, info);
        json_t *amrf = json_object_get(root, "additionalModelRequestFields");
        if (base && json_is_object(amrf)) {
            changed |= filter_betas(amrf, base, info);
        }
    }
    read_facts(root, converse, info); /* of what goes upstream */
    if (changed) {
        size_t need = json_dumpb(root, NULL, 0, JSON_COMPACT);
        if (need > 0) {
            char *p = xmalloc(need + 1);
            *out_len = json_dumpb(root, p, need, JSON_COMPACT);
            p[*out_len] = '\0';
            *out = p;
        }
    }
    json_decref(root);
}

/* ---- usage -------------------------------------------------------------------- */

static int64_t int_of(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void messages_usage(const json_t *usage, struct gateway_usage *u, bool all)
{
    if (!json_is_object(usage))
        return;
    if (all || json_object_get(usage, "input_tokens"))
        u->input = int_of(usage, "input_tokens");
    if (json_object_get(usage, "output_tokens"))
        u->output = int_of(usage, "output_tokens");
    if (all || json_object_get(usage, "cache_read_input_tokens"))
        u->cache_read = int_of(usage, "cache_read_input_tokens");
    if (all || json_object_get(usage, "cache_creation_input_tokens"))
        u->cache_write = int_of(usage, "cache_creation_input_tokens");
}

static void converse_usage(const json_t *usage, struct gateway_usage *u)
{
    if (!json_is_object(usage))
        return;
    u->input = int_of(usage, "inputTokens");
    u->output = int_of(usage, "outputTokens");
    u->cache_read = int_of(usage, "cacheReadInputTokens");
    u->cache_write = int_of(usage, "cacheWriteInputTokens");
}

static void set_stop(struct gateway_usage *u, const char *s)
{
    if (s)
        snprintf(u->stop_reason, sizeof u->stop_reason, "%s", s);
}

void gateway_usage_from_answer(enum gateway_op op, const char *body, size_t len, struct gateway_usage *u)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    size_t i;
    const json_t *b;
    if (op == GATEWAY_OP_INVOKE) {
        messages_usage(json_object_get(root, "usage"), u, true);
        set_stop(u, json_string_value(json_object_get(root, "stop_reason")));
        json_array_foreach(json_object_get(root, "content"), i, b) {
            const char *t = json_string_value(json_object_get(b, "type"));
            if (t && (!strcmp(t, "tool_use") || !strcmp(t, "server_tool_use")))
                u->tool_use = true;
        }
        u->complete = true;
    } else if (op == GATEWAY_OP_CONVERSE) {
        converse_usage(json_object_get(root, "usage"), u);
        set_stop(u, json_string_value(json_object_get(root, "stopReason")));
        json_array_foreach(json_object_get(json_object_get(json_object_get(root, "output"), "message"), "content"),
                           i, b) {
            if (json_object_get(b, "toolUse"))
                u->tool_use = true;
        }
        u->complete = true;
    }
    json_decref(root);
}

static bool et_is(const char *et, size_t n, const char *lit)
{
    return strlen(lit) == n && !memcmp(et, lit, n);
}

/* One decoded `chunk` of InvokeModelWithResponseStream (an Anthropic event). */
static void invoke_chunk(const json_t *ev, struct gateway_usage *u)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type)
        return;
    if (!strcmp(type, "message_start")) {
        messages_usage(json_object_get(json_object_get(ev, "message"), "usage"), u, true);
    } else if (!strcmp(type, "message_delta")) {
        messages_usage(json_object_get(ev, "usage"), u, false);
        set_stop(u, json_string_value(json_object_get(json_object_get(ev, "delta"), "stop_reason")));
    } else if (!strcmp(type, "content_block_start")) {
        const char *bt = json_string_value(json_object_get(json_object_get(ev, "content_block"), "type"));
        if (bt && (!strcmp(bt, "tool_use") || !strcmp(bt, "server_tool_use")))
            u->tool_use = true;
    } else if (!strcmp(type, "message_stop")) {
        const json_t *im = json_object_get(ev, "amazon-bedrock-invocationMetrics");
        if (json_is_object(im)) {
            if (json_object_get(im, "inputTokenCount"))
                u->input = int_of(im, "inputTokenCount");
            if (json_object_get(im, "outputTokenCount"))
                u->output = int_of(im, "outputTokenCount");
            if (json_object_get(im, "cacheReadInputTokenCount"))
                u->cache_read = int_of(im, "cacheReadInputTokenCount");
            if (json_object_get(im, "cacheWriteInputTokenCount"))
                u->cache_write = int_of(im, "cacheWriteInputTokenCount");
        }
        u->complete = true;
    }
}

void gateway_usage_from_event(enum gateway_op op, const char *event_type, size_t et_len, const uint8_t *payload,
                              size_t len, struct gateway_usage *u)
{
    if (op == GATEWAY_OP_INVOKE_STREAM) {
        if (!et_is(event_type, et_len, "chunk"))
            return;
        /* {"bytes":"<base64>",...}: most chunks are content_block_delta, told
         * apart from the first decoded bytes without parsing. */
        const char *p = (const char *)payload, *end = p + len;
        const char *k = len > 10 ? memmem(p, len, "\"bytes\":\"", 9) : NULL;
        if (!k)
            return;
        const char *b64 = k + 9, *q = memchr(b64, '"', (size_t)(end - b64));
        if (!q)
            return;
        size_t n = (size_t)(q - b64);
        struct buf dec = BUF_INIT(len);
        if (n >= 40) {
            if (base64_decode(&dec, b64, 40) == BROCK_OK && dec.len >= 29 &&
                !memcmp(dec.ptr, "{\"type\":\"content_block_delta\"", 29)) {
                buf_free(&dec);
                return;
            }
            buf_reset(&dec);
        }
        if (base64_decode(&dec, b64, n) == BROCK_OK) {
            json_t *ev = json_loadb(buf_cstr(&dec), dec.len, 0, NULL);
            invoke_chunk(ev, u);
            json_decref(ev);
        }
        buf_free(&dec);
        return;
    }
    if (op != GATEWAY_OP_CONVERSE_STREAM)
        return;
    if (et_is(event_type, et_len, "contentBlockDelta"))
        return;
    json_t *ev = json_loadb((const char *)payload, len, 0, NULL);
    if (et_is(event_type, et_len, "metadata")) {
        converse_usage(json_object_get(ev, "usage"), u);
        u->complete = true;
    } else if (et_is(event_type, et_len, "messageStop")) {
        set_stop(u, json_string_value(json_object_get(ev, "stopReason")));
    } else if (et_is(event_type, et_len, "contentBlockStart")) {
        if (json_object_get(json_object_get(ev, "start"), "toolUse"))
            u->tool_use = true;
    }
    json_decref(ev);
}
