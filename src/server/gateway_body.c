/* gateway_body.c - what the gateway reads and changes in bodies: the route,
 * translation per model (betas, fields, system messages), and the usage and
 * stop facts of answers and stream events (gateway.h). Pure functions.
 * Bodies and answers are read by a scanner that allocates nothing; what it
 * cannot decide goes to the same logic on a jansson tree (gw_*_json). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "gateway_int.h"

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
 * are Anthropic-API-only and are dropped for every known model.
 *
 * The catalog's `newer` models (Opus 4.7 on) take what the newest ones here
 * take: Claude Code's model table gives every one of them effort, adaptive
 * thinking, context management and a 1M context, and Claude Code sends them
 * the same flags as Opus 4.6. ("claude-opus-4" already covers 4.7 and 4.8.) */

#define C4 "claude-opus-4", "claude-sonnet-4", "claude-haiku-4"
#define C5 "claude-opus-5", "claude-sonnet-5", "claude-haiku-5", "claude-fable-5"
#define NEWEST "claude-opus-4-5", "claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-8", C5
#define MODELS_MAX 16

static const struct {
    const char *beta;
    const char *models[MODELS_MAX];
} betas[] = {
    {"interleaved-thinking-2025-05-14", {C4, C5}},
    {"fine-grained-tool-streaming-2025-05-14", {C4, C5}},
    {"dev-full-thinking-2025-05-14", {C4, C5}},
    {"token-efficient-tools-2025-02-19", {C4, C5, "claude-3-7-sonnet"}},
    {"computer-use-2025-01-24", {C4, "claude-3-7-sonnet"}},
    {"computer-use-2024-10-22", {"claude-3-5-sonnet-20241022"}},
    {"output-128k-2025-02-19", {"claude-3-7-sonnet"}},
    {"context-1m-2025-08-07",
     {"claude-sonnet-4-20250514", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-6", "claude-opus-4-7",
      "claude-opus-4-8", C5}},
    {"context-management-2025-06-27", {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", NEWEST}},
    {"effort-2025-11-24", {NEWEST}},
    {"tool-search-tool-2025-10-19", {NEWEST, "claude-sonnet-4-5"}},
    {"tool-examples-2025-10-29", {NEWEST, "claude-sonnet-4-5"}},
    {"computer-use-2025-11-24", {NEWEST}},
};

static bool model_in(const char *base_id, const char *const *models)
{
    for (size_t i = 0; i < MODELS_MAX && models[i]; i++)
        if (strstr(base_id, models[i]))
            return true;
    return false;
}

static const char *const effort_models[] = {NEWEST, NULL};
static const char *const adaptive_models[] = {"claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7",
                                              "claude-opus-4-8", C5, NULL};
static const char *const ctxmgmt_models[] = {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", NEWEST,
                                             NULL};
/* Newer models refuse what their migration guides removed (Anthropic's, for
 * Opus 4.7, Sonnet 5 and the 5.5 family): non-default temperature / top_p /
 * top_k (dropped: leaving them out is the default), thinking with a token
 * budget (made adaptive), and, for the catalog's always_thinks models (Claude
 * Code's table names them), thinking turned off (dropped). */

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

/* ---- a JSON scanner ---------------------------------------------------------
 *
 * Parsing a body with jansson builds a tree of every string, number and
 * object: about 12 us per KiB here, 1.2 ms for a 100 KiB Claude Code turn,
 * all of it to read a handful of top-level fields. The scanner below walks
 * the bytes once, allocates nothing, and validates as it goes; the readers
 * built on it fill the same facts and make the usual changes by splicing the
 * original bytes. Anything they are not sure of (escapes in a key or a value
 * they read, a duplicate key where it matters, \u0000, numbers jansson might
 * refuse, nesting past JS_MAX_DEPTH, a change other than dropping or
 * filtering) makes them give up, and the jansson code decides. So the scanner
 * only has to be at least as strict as jansson: what it accepts, jansson
 * accepts (tests/server/test_gateway.c and fuzz/fuzz_gateway.c compare the
 * two paths). */

#define JS_MAX_DEPTH 256

struct js {
    const char *p, *end;
};

struct span {
    const char *p;
    size_t n;
};

static bool span_is(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.p && s.n == n && !memcmp(s.p, lit, n);
}

static void js_ws(struct js *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int js_peek(const struct js *s)
{
    return s->p < s->end ? (unsigned char)*s->p : -1;
}

static bool hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* Length of the well-formed UTF-8 sequence at p (no overlongs, surrogates or
 * code points past U+10FFFF, as jansson), 0 if there is none. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* At '"': the raw bytes between the quotes, and whether escapes are in them. */
static bool js_string(struct js *s, struct span *out, bool *escaped)
{
    const unsigned char *p = (const unsigned char *)s->p + 1, *end = (const unsigned char *)s->end;
    const unsigned char *start = p;
    bool esc = false;
    while (p < end) {
        /* eight plain bytes at a time: none below 0x20, '"', '\\' or 0x80 and up */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t hit = (w | ((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20)) & highs;
            if (hit)
                break;
            p += 8;
        }
        if (p >= end)
            break;
        unsigned c = *p;
        if (c == '"') {
            out->p = (const char *)start;
            out->n = (size_t)(p - start);
            *escaped = esc;
            s->p = (const char *)p + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            esc = true;
            if (end - p < 2)
                return false;
            c = p[1];
            if (c == 'u') {
                unsigned v, w;
                if (!hex4(p + 2, end, &v))
                    return false;
                p += 6;
                if (v == 0 || (v >= 0xdc00 && v <= 0xdfff))
                    return false; /* NUL (refused by jansson by default), a lone low surrogate */
                if (v >= 0xd800 && v <= 0xdbff) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &w) || w < 0xdc00 ||
                        w > 0xdfff)
                        return false;
                    p += 6;
                }
                continue;
            }
            if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' && c != 'r' && c != 't')
                return false;
            p += 2;
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n = utf8_seq(p, end);
        if (!n)
            return false;
        p += n;
    }
    return false;
}

/* A number; *integer when it has no fraction or exponent. Integers of more
 * than 18 digits and exponents of more than 2 digits are left to jansson
 * (which refuses what overflows). */
static bool js_number(struct js *s, struct span *out, bool *integer)
{
    const char *p = s->p, *end = s->end;
    if (p < end && *p == '-')
        p++;
    const char *d0 = p;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return false;
    size_t digits = (size_t)(p - d0);
    bool real = false;
    if (p < end && *p == '.') {
        real = true;
        const char *f = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == f)
            return false;
        digits += (size_t)(p - f);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *x = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == x || p - x > 2)
            return false;
    }
    if ((!real && digits > 18) || digits > 200)
        return false;
    out->p = s->p;
    out->n = (size_t)(p - s->p);
    *integer = !real;
    s->p = p;
    return true;
}

static bool js_literal(struct js *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n))
        return false;
    s->p += n;
    return true;
}

/* Inside an object (after '{' or after a member's value): 1 with the next
 * member's key in *key and s at its value, 0 at the end ('}' consumed), -1
 * when the bytes are not JSON. */
static int js_member(struct js *s, bool *first, struct span *key, bool *kesc)
{
    js_ws(s);
    int c = js_peek(s);
    if (c == '}') {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (c != ',')
            return -1;
        s->p++;
        js_ws(s);
        c = js_peek(s);
    }
    *first = false;
    if (c != '"' || !js_string(s, key, kesc))
        return -1;
    js_ws(s);
    if (js_peek(s) != ':')
        return -1;
    s->p++;
    js_ws(s);
    return 1;
}

/* Inside an array: 1 with s at the next element, 0 at the end, -1. */
static int js_element(struct js *s, bool *first)
{
    js_ws(s);
    int c = js_peek(s);
    if (c == ']') {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (c != ',')
            return -1;
        s->p++;
        js_ws(s);
    }
    *first = false;
    return 1;
}

/* Validate and step over one value. */
static bool js_skip(struct js *s, int depth)
{
    if (depth > JS_MAX_DEPTH)
        return false;
    int c = js_peek(s), r;
    bool first = true, esc, integer;
    struct span sp;
    switch (c) {
    case '"': return js_string(s, &sp, &esc);
    case '{':
        s->p++;
        while ((r = js_member(s, &first, &sp, &esc)) == 1)
            if (!js_skip(s, depth + 1))
                return false;
        return r == 0;
    case '[':
        s->p++;
        while ((r = js_element(s, &first)) == 1)
            if (!js_skip(s, depth + 1))
                return false;
        return r == 0;
    case 't': return js_literal(s, "true");
    case 'f': return js_literal(s, "false");
    case 'n': return js_literal(s, "null");
    default: return (c == '-' || (c >= '0' && c <= '9')) && js_number(s, &sp, &integer);
    }
}

/* A string value without escapes into *out (NULL span for another type);
 * false when not JSON or when the string has escapes (give up). */
static bool js_plain_string_or_other(struct js *s, int depth, struct span *out)
{
    out->p = NULL;
    out->n = 0;
    if (js_peek(s) != '"')
        return js_skip(s, depth);
    bool esc;
    return js_string(s, out, &esc) && !esc;
}

/* A number value: *is_num and its span; other types are skipped. */
static bool js_number_or_other(struct js *s, int depth, bool *is_num, bool *integer, struct span *num)
{
    int c = js_peek(s);
    *is_num = false;
    if (c == '-' || (c >= '0' && c <= '9')) {
        *is_num = true;
        return js_number(s, num, integer);
    }
    return js_skip(s, depth);
}

static double span_double(struct span n)
{
    char tmp[256];
    if (n.n >= sizeof tmp)
        return 1;
    memcpy(tmp, n.p, n.n);
    tmp[n.n] = '\0';
    return strtod(tmp, NULL);
}

static int64_t span_int(struct span n)
{
    char tmp[32];
    if (n.n >= sizeof tmp)
        return 0;
    memcpy(tmp, n.p, n.n);
    tmp[n.n] = '\0';
    return strtoll(tmp, NULL, 10);
}

/* The end of the document: only whitespace may follow (jansson's EOF check). */
static bool js_at_end(struct js *s)
{
    js_ws(s);
    return s->p == s->end;
}

/* ---- the fast readers ------------------------------------------------------ */

#define FT_MAX_MEMBERS 64
#define FT_MAX_BETAS 64

/* A message's content: true in *tool when a block is a tool result (type
 * "tool_result", or a toolResult key as in Converse). */
static bool rd_content(struct js *s, int depth, bool *tool)
{
    *tool = false;
    if (js_peek(s) != '[')
        return js_skip(s, depth);
    s->p++;
    bool first = true;
    int r;
    while ((r = js_element(s, &first)) == 1) {
        if (js_peek(s) != '{') {
            if (!js_skip(s, depth + 1))
                return false;
            continue;
        }
        s->p++;
        bool f2 = true, kesc, has_tr = false, seen_type = false;
        struct span k, type = {0};
        int r2;
        while ((r2 = js_member(s, &f2, &k, &kesc)) == 1) {
            if (kesc)
                return false;
            if (span_is(k, "type")) {
                if (seen_type || !js_plain_string_or_other(s, depth + 2, &type))
                    return false;
                seen_type = true;
            } else {
                has_tr |= span_is(k, "toolResult");
                if (!js_skip(s, depth + 2))
                    return false;
            }
        }
        if (r2 < 0)
            return false;
        if (span_is(type, "tool_result") || has_tr)
            *tool = true;
    }
    return r == 0;
}

/* One entry of messages: its role (a NULL span if not a string) and whether
 * its content holds tool results. */
static bool rd_message(struct js *s, int depth, struct span *role, bool *tool)
{
    role->p = NULL;
    role->n = 0;
    *tool = false;
    if (js_peek(s) != '{')
        return js_skip(s, depth);
    s->p++;
    bool first = true, kesc, seen_role = false, seen_content = false;
    struct span k;
    int r;
    while ((r = js_member(s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        bool ok;
        if (span_is(k, "role")) {
            ok = !seen_role && js_plain_string_or_other(s, depth + 1, role);
            seen_role = true;
        } else if (span_is(k, "content")) {
            ok = !seen_content && rd_content(s, depth + 1, tool);
            seen_content = true;
        } else {
            ok = js_skip(s, depth + 1);
        }
        if (!ok)
            return false;
    }
    return r == 0;
}

static bool rd_messages(struct js *s, int depth, bool *any_system, bool *last_tool)
{
    *any_system = *last_tool = false;
    if (js_peek(s) != '[')
        return js_skip(s, depth);
    s->p++;
    bool first = true;
    int r;
    while ((r = js_element(s, &first)) == 1) {
        struct span role;
        bool tool;
        if (!rd_message(s, depth + 1, &role, &tool))
            return false;
        *any_system |= span_is(role, "system");
        *last_tool = span_is(role, "user") && tool;
    }
    return r == 0;
}

/* metadata.user_id, else metadata.session (Converse: requestMetadata). */
static bool rd_metadata(struct js *s, int depth, char *session, size_t cap)
{
    if (js_peek(s) != '{')
        return js_skip(s, depth);
    s->p++;
    bool first = true, kesc, seen_uid = false, seen_sess = false;
    struct span k, uid = {0}, sess = {0};
    int r;
    while ((r = js_member(s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        bool ok;
        if (span_is(k, "user_id")) {
            ok = !seen_uid && js_plain_string_or_other(s, depth + 1, &uid);
            seen_uid = true;
        } else if (span_is(k, "session")) {
            ok = !seen_sess && js_plain_string_or_other(s, depth + 1, &sess);
            seen_sess = true;
        } else {
            ok = js_skip(s, depth + 1);
        }
        if (!ok)
            return false;
    }
    if (r != 0)
        return false;
    struct span v = uid.p ? uid : sess;
    if (v.p) {
        size_t n = v.n < cap - 1 ? v.n : cap - 1;
        memcpy(session, v.p, n);
        session[n] = '\0';
    }
    return true;
}

/* A temperature value: *zero when it is a number equal to 0. */
static bool rd_temperature(struct js *s, int depth, bool *zero)
{
    bool is_num, integer;
    struct span n;
    if (!js_number_or_other(s, depth, &is_num, &integer, &n))
        return false;
    *zero = is_num && span_double(n) == 0.0;
    return true;
}

/* An object with one member of interest, `name`, read by `fn`. */
static bool rd_path(struct js *s, int depth, const char *name, bool (*fn)(struct js *, int, void *), void *arg)
{
    if (js_peek(s) != '{')
        return js_skip(s, depth);
    s->p++;
    bool first = true, kesc, seen = false;
    struct span k;
    int r;
    while ((r = js_member(s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        bool ok;
        if (span_is(k, name)) {
            ok = !seen && fn(s, depth + 1, arg);
            seen = true;
        } else {
            ok = js_skip(s, depth + 1);
        }
        if (!ok)
            return false;
    }
    return r == 0;
}

/* An object's member `name` as a plain string (NULL span otherwise). */
static bool rd_plain_string_cb(struct js *s, int depth, void *out)
{
    return js_plain_string_or_other(s, depth, out);
}

static bool rd_string_member(struct js *s, int depth, const char *name, struct span *out)
{
    out->p = NULL;
    out->n = 0;
    return rd_path(s, depth, name, rd_plain_string_cb, out);
}

/* thinking: its "type" when it is an object with a string type. */
static bool rd_thinking(struct js *s, int depth, struct span *type)
{
    return rd_string_member(s, depth, "type", type);
}

/* Converse's inferenceConfig: the temperature. */
static bool rd_temperature_cb(struct js *s, int depth, void *zero)
{
    return rd_temperature(s, depth, zero);
}

static bool rd_inference(struct js *s, int depth, bool *zero)
{
    *zero = false;
    return rd_path(s, depth, "temperature", rd_temperature_cb, zero);
}

/* Converse's additionalModelRequestFields: thinking, and whether it carries
 * anthropic_beta (then the jansson path filters it). */
static bool rd_amrf(struct js *s, int depth, bool *thinking, struct span *ttype, bool *beta)
{
    if (js_peek(s) != '{')
        return js_skip(s, depth);
    s->p++;
    bool first = true, kesc;
    struct span k;
    int r;
    while ((r = js_member(s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        bool ok;
        if (span_is(k, "thinking")) {
            ok = !*thinking && rd_thinking(s, depth + 1, ttype);
            *thinking = true;
        } else {
            *beta |= span_is(k, "anthropic_beta");
            ok = js_skip(s, depth + 1);
        }
        if (!ok)
            return false;
    }
    return r == 0;
}

/* anthropic_beta: each flag (a plain string) and whether `base` takes it. */
static bool rd_betas(struct js *s, int depth, const char *base, struct span *el, bool *keep, size_t *n,
                     bool *is_array)
{
    *n = 0;
    *is_array = js_peek(s) == '[';
    if (!*is_array)
        return js_skip(s, depth);
    s->p++;
    bool first = true;
    int r;
    while ((r = js_element(s, &first)) == 1) {
        struct span v;
        bool esc;
        if (*n == FT_MAX_BETAS || js_peek(s) != '"' || !js_string(s, &v, &esc) || esc)
            return false; /* not a plain string: the jansson path says what it dropped */
        bool k = false;
        for (size_t i = 0; i < BROCK_ARRAY_LEN(betas) && !k; i++)
            if (span_is(v, betas[i].beta))
                k = model_in(base, betas[i].models);
        el[*n] = v;
        keep[(*n)++] = k;
    }
    return r == 0;
}

enum {
    K_MODEL,
    K_STREAM,
    K_VERSION,
    K_BETA,
    K_OUTPUT,
    K_CTXMGMT,
    K_THINKING,
    K_MESSAGES,
    K_METADATA,
    K_TEMPERATURE, /* the Messages keys end here */
    K_REQMETA,
    K_INFCFG,
    K_AMRF,
    K_N
};
static const char *const k_names[K_N] = {
    "model",    "stream",   "anthropic_version", "anthropic_beta",  "output_config",   "context_management",
    "thinking", "messages", "metadata",          "temperature",     "requestMetadata", "inferenceConfig",
    "additionalModelRequestFields",
};

/* gateway_translate without jansson: true when it could decide (and did
 * everything), false to leave the body to the jansson path. */
static bool fast_translate(enum gateway_op op, const struct model_info *mi, const char *body, size_t len, char **out,
                           size_t *out_len, struct gateway_body_info *info)
{
    const char *base = mi ? mi->base_id : NULL;
    bool newer = mi && mi->newer;
    bool messages = op == GATEWAY_OP_INVOKE || op == GATEWAY_OP_INVOKE_STREAM;
    struct js s = {body, body + len};
    js_ws(&s);
    if (js_peek(&s) != '{')
        return false;
    s.p++;
    struct {
        const char *start, *end;
        struct span key;
        int kind;
    } m[FT_MAX_MEMBERS];
    size_t nm = 0;
    unsigned seen = 0;
    struct span beta_el[FT_MAX_BETAS], ttype = {0};
    bool beta_keep[FT_MAX_BETAS], beta_array = false;
    size_t nb = 0;
    bool any_system = false, last_tool = false, temp_zero = false, thinking = false, amrf_beta = false;
    bool first = true, kesc;
    struct span key;
    int r;
    while ((r = js_member(&s, &first, &key, &kesc)) == 1) {
        if (kesc || nm == FT_MAX_MEMBERS)
            return false;
        int kind = -1;
        for (int k = 0; k < K_N && kind < 0; k++)
            if (span_is(key, k_names[k]))
                kind = k;
        if (kind >= 0 && (messages ? kind > K_TEMPERATURE : kind != K_MESSAGES && kind < K_REQMETA))
            kind = -1; /* not one this operation reads */
        /* a newer model's sampling parameters and Converse's inference
         * settings: the jansson path drops them */
        if (newer && ((messages && (kind == K_TEMPERATURE || span_is(key, "top_p") || span_is(key, "top_k"))) ||
                      (!messages && kind == K_INFCFG)))
            return false;
        if (kind >= 0) {
            if (seen & (1u << kind))
                return false;
            seen |= 1u << kind;
        }
        bool ok;
        switch (kind) {
        case K_BETA:
            ok = base ? rd_betas(&s, 1, base, beta_el, beta_keep, &nb, &beta_array) : js_skip(&s, 1);
            break;
        case K_THINKING:
            thinking = true;
            ok = rd_thinking(&s, 1, &ttype);
            break;
        case K_MESSAGES: ok = rd_messages(&s, 1, &any_system, &last_tool); break;
        case K_METADATA:
        case K_REQMETA: ok = rd_metadata(&s, 1, info->session, sizeof info->session); break;
        case K_TEMPERATURE: ok = rd_temperature(&s, 1, &temp_zero); break;
        case K_INFCFG: ok = rd_inference(&s, 1, &temp_zero); break;
        case K_AMRF: ok = rd_amrf(&s, 1, &thinking, &ttype, &amrf_beta); break;
        default: ok = js_skip(&s, 1); break;
        }
        if (!ok)
            return false;
        m[nm].start = key.p - 1;
        m[nm].end = s.p;
        m[nm].key = key;
        m[nm++].kind = kind;
    }
    if (r != 0 || !js_at_end(&s))
        return false;
    /* what only the jansson path does: moving system messages, betas inside
     * Converse's fields, adaptive thinking */
    if (any_system || (amrf_beta && base))
        return false;
    if (messages && base && span_is(ttype, "adaptive") && !model_in(base, adaptive_models))
        return false;
    if (newer && (span_is(ttype, "enabled") || (span_is(ttype, "disabled") && mi->always_thinks)))
        return false;
    if (newer && !messages && (seen & (1u << K_AMRF)))
        return false; /* Converse: additionalModelRequestFields may hold thinking or top_k */

    info->parsed = true;
    info->deterministic = temp_zero && !(thinking && !span_is(ttype, "disabled"));
    info->tool_results = last_tool;
    if (!messages)
        return true; /* Converse: nothing else changes */

    bool drop_model = seen & (1u << K_MODEL), drop_stream = seen & (1u << K_STREAM);
    bool add_version = !(seen & (1u << K_VERSION));
    size_t kept = 0;
    for (size_t i = 0; i < nb; i++)
        kept += beta_keep[i];
    bool filter = beta_array && kept < nb;
    bool drop_output = base && (seen & (1u << K_OUTPUT)) && !model_in(base, effort_models);
    bool drop_ctx = base && (seen & (1u << K_CTXMGMT)) && !model_in(base, ctxmgmt_models);
    if (!drop_model && !drop_stream && !add_version && !filter && !drop_output && !drop_ctx)
        return true;
    /* a key twice: jansson keeps the last one; leave that to it */
    for (size_t i = 0; i < nm; i++)
        for (size_t k = i + 1; k < nm; k++)
            if (m[i].key.n == m[k].key.n && !memcmp(m[i].key.p, m[k].key.p, m[i].key.n))
                return false;

    /* the notes in the jansson path's order */
    if (drop_model)
        note(info, "dropped model%s", "");
    if (drop_stream)
        note(info, "dropped stream%s", "");
    if (add_version)
        note(info, "added anthropic_version%s", "");
    for (size_t i = 0; filter && i < nb; i++) {
        if (beta_keep[i])
            continue;
        char flag[81];
        size_t n = beta_el[i].n < 80 ? beta_el[i].n : 80;
        memcpy(flag, beta_el[i].p, n);
        flag[n] = '\0';
        note(info, "dropped beta %.80s", flag);
    }
    if (drop_output)
        note(info, "dropped output_config (not taken by %s)", base);
    if (drop_ctx)
        note(info, "dropped context_management (not taken by %s)", base);

    /* the members that stay, byte for byte */
    struct buf o = BUF_INIT(len + 64);
    bool any = false;
    buf_addc(&o, '{');
    for (size_t i = 0; i < nm; i++) {
        int kind = m[i].kind;
        if ((kind == K_MODEL) || (kind == K_STREAM) || (kind == K_OUTPUT && drop_output) ||
            (kind == K_CTXMGMT && drop_ctx) || (kind == K_BETA && filter && !kept))
            continue;
        if (any)
            buf_addc(&o, ',');
        any = true;
        if (kind == K_BETA && filter) {
            buf_addstr(&o, "\"anthropic_beta\":[");
            bool f = true;
            for (size_t k = 0; k < nb; k++) {
                if (!beta_keep[k])
                    continue;
                if (!f)
                    buf_addc(&o, ',');
                f = false;
                buf_add(&o, beta_el[k].p - 1, beta_el[k].n + 2);
            }
            buf_addc(&o, ']');
        } else {
            buf_add(&o, m[i].start, (size_t)(m[i].end - m[i].start));
        }
    }
    if (add_version)
        buf_addstr(&o, any ? ",\"anthropic_version\":\"bedrock-2023-05-31\"" : "\"anthropic_version\":\"bedrock-2023-05-31\"");
    buf_addc(&o, '}');
    *out_len = o.len;
    *out = buf_take(&o);
    return true;
}

/* ---- the usage of an answer, without jansson --------------------------------- */

/* Token counts: each named key that holds an integer (0 for another type,
 * as int_of); keys marked `always` are set (to 0) even when absent. */
struct count_key {
    const char *name;
    int64_t *dst;
    bool always;
};

static bool rd_counts(struct js *s, int depth, struct count_key *keys, size_t nk)
{
    if (js_peek(s) != '{')
        return js_skip(s, depth);
    s->p++;
    for (size_t i = 0; i < nk; i++)
        if (keys[i].always)
            *keys[i].dst = 0;
    unsigned seen = 0;
    bool first = true, kesc;
    struct span k;
    int r;
    while ((r = js_member(s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        size_t i = 0;
        while (i < nk && !span_is(k, keys[i].name))
            i++;
        if (i == nk) {
            if (!js_skip(s, depth + 1))
                return false;
            continue;
        }
        if (seen & (1u << i))
            return false;
        seen |= 1u << i;
        bool is_num, integer;
        struct span n;
        if (!js_number_or_other(s, depth + 1, &is_num, &integer, &n))
            return false;
        *keys[i].dst = is_num && integer ? span_int(n) : 0;
    }
    return r == 0;
}

/* Content blocks: *tool when one is a tool call (Messages: type tool_use or
 * server_tool_use; Converse: a toolUse key). */
static bool rd_blocks(struct js *s, int depth, bool converse, bool *tool)
{
    if (js_peek(s) != '[')
        return js_skip(s, depth);
    s->p++;
    bool first = true;
    int r;
    while ((r = js_element(s, &first)) == 1) {
        if (js_peek(s) != '{') {
            if (!js_skip(s, depth + 1))
                return false;
            continue;
        }
        s->p++;
        bool f2 = true, kesc, seen_type = false;
        struct span k, type = {0};
        int r2;
        while ((r2 = js_member(s, &f2, &k, &kesc)) == 1) {
            if (kesc)
                return false;
            if (!converse && span_is(k, "type")) {
                if (seen_type || !js_plain_string_or_other(s, depth + 2, &type))
                    return false;
                seen_type = true;
                continue;
            }
            if (converse && span_is(k, "toolUse"))
                *tool = true;
            if (!js_skip(s, depth + 2))
                return false;
        }
        if (r2 < 0)
            return false;
        if (span_is(type, "tool_use") || span_is(type, "server_tool_use"))
            *tool = true;
    }
    return r == 0;
}

/* For rd_path: the member is there (whatever its value). */
static bool rd_present(struct js *s, int depth, void *flag)
{
    *(bool *)flag = true;
    return js_skip(s, depth);
}

static bool rd_converse_blocks(struct js *s, int depth, void *tool)
{
    return rd_blocks(s, depth, true, tool);
}

static bool rd_converse_message(struct js *s, int depth, void *tool)
{
    return rd_path(s, depth, "content", rd_converse_blocks, tool);
}

static bool fast_usage(enum gateway_op op, const char *body, size_t len, struct gateway_usage *u)
{
    bool converse = op == GATEWAY_OP_CONVERSE;
    struct js s = {body, body + len};
    js_ws(&s);
    if (js_peek(&s) != '{')
        return false;
    s.p++;
    struct gateway_usage x = *u;
    struct span stop = {0};
    bool have_stop = false, seen_usage = false, seen_stop = false, seen_content = false;
    const char *usage_key = "usage", *stop_key = converse ? "stopReason" : "stop_reason",
               *content_key = converse ? "output" : "content";
    struct count_key mk[] = {
        {"input_tokens", &x.input, true},
        {"output_tokens", &x.output, false},
        {"cache_read_input_tokens", &x.cache_read, true},
        {"cache_creation_input_tokens", &x.cache_write, true},
    };
    struct count_key ck[] = {
        {"inputTokens", &x.input, true},
        {"outputTokens", &x.output, true},
        {"cacheReadInputTokens", &x.cache_read, true},
        {"cacheWriteInputTokens", &x.cache_write, true},
    };
    bool first = true, kesc;
    struct span k;
    int r;
    while ((r = js_member(&s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        bool ok;
        if (span_is(k, usage_key)) {
            ok = !seen_usage && (converse ? rd_counts(&s, 1, ck, BROCK_ARRAY_LEN(ck))
                                          : rd_counts(&s, 1, mk, BROCK_ARRAY_LEN(mk)));
            seen_usage = true;
        } else if (span_is(k, stop_key)) {
            ok = !seen_stop && js_plain_string_or_other(&s, 1, &stop);
            seen_stop = have_stop = true;
        } else if (span_is(k, content_key)) {
            ok = !seen_content && (converse ? rd_path(&s, 1, "message", rd_converse_message, &x.tool_use)
                                            : rd_blocks(&s, 1, false, &x.tool_use));
            seen_content = true;
        } else {
            ok = js_skip(&s, 1);
        }
        if (!ok)
            return false;
    }
    if (r != 0 || !js_at_end(&s))
        return false;
    if (have_stop && stop.p) {
        size_t n = stop.n < sizeof x.stop_reason - 1 ? stop.n : sizeof x.stop_reason - 1;
        memcpy(x.stop_reason, stop.p, n);
        x.stop_reason[n] = '\0';
    }
    x.complete = true;
    *u = x;
    return true;
}

/* ---- translation ------------------------------------------------------------ */

/* A newer model's fixes on obj (a Messages body, or Converse's
 * additionalModelRequestFields), then Converse's inferenceConfig (ic). */
static bool newer_fixes(json_t *obj, json_t *ic, const struct model_info *m, struct gateway_body_info *info)
{
    bool changed = false;
    static const char *const sampling[] = {"temperature", "top_p", "top_k"};
    for (size_t i = 0; json_is_object(obj) && i < BROCK_ARRAY_LEN(sampling); i++)
        if (json_object_get(obj, sampling[i])) {
            json_object_del(obj, sampling[i]);
            note(info, "dropped %s (the model takes no sampling parameters)", sampling[i]);
            changed = true;
        }
    static const char *const ic_sampling[] = {"temperature", "topP"};
    for (size_t i = 0; json_is_object(ic) && i < BROCK_ARRAY_LEN(ic_sampling); i++)
        if (json_object_get(ic, ic_sampling[i])) {
            json_object_del(ic, ic_sampling[i]);
            note(info, "dropped inferenceConfig.%s (the model takes no sampling parameters)", ic_sampling[i]);
            changed = true;
        }
    json_t *th = json_is_object(obj) ? json_object_get(obj, "thinking") : NULL;
    const char *tt = json_string_value(json_object_get(th, "type"));
    if (tt && !strcmp(tt, "enabled")) {
        /* a budget showed the thinking summarized; adaptive thinking on
         * these models omits it unless asked: ask, so the client sees what
         * it saw before */
        json_t *a = json_pack("{s:s}", "type", "adaptive");
        json_t *display = json_object_get(th, "display");
        json_object_set_new(a, "display", display ? json_incref(display) : json_string("summarized"));
        json_object_set_new(obj, "thinking", a);
        note(info, display ? "thinking budget -> adaptive (%s has no thinking budgets)"
                           : "thinking budget -> adaptive, display summarized (%s has no thinking budgets)",
             m->base_id);
        changed = true;
    } else if (tt && !strcmp(tt, "disabled") && m->always_thinks) {
        json_object_del(obj, "thinking");
        note(info, "dropped thinking disabled (%s always thinks)", m->base_id);
        changed = true;
    }
    return changed;
}

void gw_translate_json(enum gateway_op op, const char *model_id, const char *body, size_t len, char **out,
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
            if (m->newer)
                changed |= newer_fixes(root, NULL, m, info);
        }
    } else {
        changed |= move_system_messages(root, true, info);
        json_t *amrf = json_object_get(root, "additionalModelRequestFields");
        if (base && json_is_object(amrf)) {
            changed |= filter_betas(amrf, base, info);
        }
        if (base && m->newer)
            changed |= newer_fixes(amrf, json_object_get(root, "inferenceConfig"), m, info);
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

/* CountTokens carries the body it counts: input.invokeModel.body (base64 of
 * a Messages body) or input.converse (a Converse body's fields). Translated
 * as that body would be, so a count is asked of what the call would send. */
static void translate_count(const char *model_id, const char *body, size_t len, char **out, size_t *out_len,
                            struct gateway_body_info *info)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *input = json_object_get(root, "input");
    json_t *im = json_object_get(input, "invokeModel");
    json_t *cv = json_object_get(input, "converse");
    const char *b64 = json_string_value(json_object_get(im, "body"));
    bool changed = false;
    struct gateway_body_info inner;
    char *t = NULL;
    size_t tlen = 0;
    if (b64) {
        struct buf raw = BUF_INIT(len + 16); /* decoded: at most 3/4 of the request */
        if (base64_decode(&raw, b64, strlen(b64)) == BROCK_OK) {
            gw_translate_json(GATEWAY_OP_INVOKE, model_id, raw.ptr ? raw.ptr : "", raw.len, &t, &tlen, &inner);
            struct buf enc = BUF_INIT(2 * len + 4096);
            if (t && base64_encode(&enc, t, tlen) == BROCK_OK) {
                json_object_set_new(im, "body", json_stringn(enc.ptr, enc.len));
                changed = true;
            }
            buf_free(&enc);
        }
        buf_free(&raw);
    } else if (json_is_object(cv)) {
        char *c = json_dumps(cv, JSON_COMPACT);
        if (c) {
            gw_translate_json(GATEWAY_OP_CONVERSE, model_id, c, strlen(c), &t, &tlen, &inner);
            json_t *nc = t ? json_loadb(t, tlen, 0, NULL) : NULL;
            if (json_is_object(nc)) {
                json_object_set(input, "converse", nc);
                changed = true;
            }
            json_decref(nc);
            free(c);
        }
    }
    free(t);
    if (changed) {
        info->parsed = true;
        snprintf(info->changes, sizeof info->changes, "%s", inner.changes);
        *out = json_dumps(root, JSON_COMPACT);
        *out_len = *out ? strlen(*out) : 0;
    }
    json_decref(root);
}

void gateway_translate(enum gateway_op op, const char *model_id, const char *body, size_t len, char **out,
                       size_t *out_len, struct gateway_body_info *info)
{
    memset(info, 0, sizeof *info);
    *out = NULL;
    *out_len = 0;
    if (op == GATEWAY_OP_COUNT_TOKENS) {
        translate_count(model_id, body, len, out, out_len, info);
        return;
    }
    if (op != GATEWAY_OP_INVOKE && op != GATEWAY_OP_INVOKE_STREAM && op != GATEWAY_OP_CONVERSE &&
        op != GATEWAY_OP_CONVERSE_STREAM)
        return;
    const struct model_info *m = model_id ? catalog_find(model_id, NULL) : NULL;
    if (fast_translate(op, m, body, len, out, out_len, info))
        return;
    gw_translate_json(op, model_id, body, len, out, out_len, info);
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
    if ((op == GATEWAY_OP_INVOKE || op == GATEWAY_OP_CONVERSE) && fast_usage(op, body, len, u))
        return;
    gw_usage_from_answer_json(op, body, len, u);
}

void gw_usage_from_answer_json(enum gateway_op op, const char *body, size_t len, struct gateway_usage *u)
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

/* Up to four token counts of an object: each present key's integer (0 for
 * another type, as int_of), and whether the value was an object at all. */
struct counts {
    int64_t v[4];
    bool present[4];
    bool object;
};

static bool rd_counts4(struct js *s, int depth, const char *const names[4], struct counts *c)
{
    memset(c, 0, sizeof *c);
    if (js_peek(s) != '{')
        return js_skip(s, depth);
    s->p++;
    c->object = true;
    bool first = true, kesc;
    struct span k;
    int r;
    while ((r = js_member(s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        int i = 0;
        while (i < 4 && !span_is(k, names[i]))
            i++;
        if (i == 4) {
            if (!js_skip(s, depth + 1))
                return false;
            continue;
        }
        if (c->present[i])
            return false;
        c->present[i] = true;
        bool is_num, integer;
        struct span n;
        if (!js_number_or_other(s, depth + 1, &is_num, &integer, &n))
            return false;
        c->v[i] = is_num && integer ? span_int(n) : 0;
    }
    return r == 0;
}

/* As messages_usage / converse_usage (all: absent counts are 0), or only
 * the present ones (the invocation metrics). */
static void apply_counts(const struct counts *c, struct gateway_usage *u, bool all, bool output_always)
{
    if (!c->object)
        return;
    int64_t *dst[4] = {&u->input, &u->output, &u->cache_read, &u->cache_write};
    for (int i = 0; i < 4; i++)
        if (c->present[i] || (all && (i != 1 || output_always)))
            *dst[i] = c->v[i];
}

static void copy_stop(struct gateway_usage *u, struct span v)
{
    if (!v.p)
        return;
    size_t n = v.n < sizeof u->stop_reason - 1 ? v.n : sizeof u->stop_reason - 1;
    memcpy(u->stop_reason, v.p, n);
    u->stop_reason[n] = '\0';
}

/* An object's member `name` as counts. */
struct counts_arg {
    const char *const *names;
    struct counts *c;
};

static bool rd_counts_cb(struct js *s, int depth, void *arg)
{
    struct counts_arg *a = arg;
    return rd_counts4(s, depth, a->names, a->c);
}

static bool rd_counts_member(struct js *s, int depth, const char *name, const char *const names[4],
                             struct counts *c)
{
    memset(c, 0, sizeof *c);
    struct counts_arg a = {names, c};
    return rd_path(s, depth, name, rd_counts_cb, &a);
}

static const char *const msg_counts[4] = {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                          "cache_creation_input_tokens"};
static const char *const metric_counts[4] = {"inputTokenCount", "outputTokenCount", "cacheReadInputTokenCount",
                                             "cacheWriteInputTokenCount"};
static const char *const conv_counts[4] = {"inputTokens", "outputTokens", "cacheReadInputTokens",
                                           "cacheWriteInputTokens"};

/* invoke_chunk without jansson: one decoded Anthropic event. */
static bool fast_chunk(const char *json, size_t n, struct gateway_usage *u)
{
    struct js s = {json, json + n};
    js_ws(&s);
    if (js_peek(&s) != '{')
        return false;
    s.p++;
    struct span type = {0}, stop = {0}, block_type = {0};
    struct counts start = {0}, delta = {0}, metrics = {0};
    unsigned seen = 0;
    static const char *const keys[] = {"type", "message", "usage", "delta", "content_block",
                                       "amazon-bedrock-invocationMetrics"};
    bool first = true, kesc;
    struct span k;
    int r;
    while ((r = js_member(&s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        unsigned i = 0;
        while (i < BROCK_ARRAY_LEN(keys) && !span_is(k, keys[i]))
            i++;
        if (i < BROCK_ARRAY_LEN(keys)) {
            if (seen & (1u << i))
                return false;
            seen |= 1u << i;
        }
        bool ok;
        switch (i) {
        case 0: ok = js_plain_string_or_other(&s, 1, &type); break;
        case 1: ok = rd_counts_member(&s, 1, "usage", msg_counts, &start); break;
        case 2: ok = rd_counts4(&s, 1, msg_counts, &delta); break;
        case 3: ok = rd_string_member(&s, 1, "stop_reason", &stop); break;
        case 4: ok = rd_string_member(&s, 1, "type", &block_type); break;
        case 5: ok = rd_counts4(&s, 1, metric_counts, &metrics); break;
        default: ok = js_skip(&s, 1); break;
        }
        if (!ok)
            return false;
    }
    if (r != 0 || !js_at_end(&s))
        return false;
    if (span_is(type, "message_start")) {
        apply_counts(&start, u, true, false);
    } else if (span_is(type, "message_delta")) {
        apply_counts(&delta, u, false, false);
        copy_stop(u, stop);
    } else if (span_is(type, "content_block_start")) {
        if (span_is(block_type, "tool_use") || span_is(block_type, "server_tool_use"))
            u->tool_use = true;
    } else if (span_is(type, "message_stop")) {
        apply_counts(&metrics, u, false, false);
        u->complete = true;
    }
    return true;
}

/* A Converse stream event without jansson. */
static bool fast_converse_event(const char *et, size_t et_len, const char *json, size_t n, struct gateway_usage *u)
{
    struct js s = {json, json + n};
    js_ws(&s);
    if (js_peek(&s) != '{')
        return false;
    s.p++;
    struct span stop = {0};
    struct counts usage = {0};
    bool tool = false, seen_usage = false, seen_stop = false, seen_start = false;
    bool first = true, kesc;
    struct span k;
    int r;
    while ((r = js_member(&s, &first, &k, &kesc)) == 1) {
        if (kesc)
            return false;
        bool ok;
        if (span_is(k, "usage")) {
            ok = !seen_usage && rd_counts4(&s, 1, conv_counts, &usage);
            seen_usage = true;
        } else if (span_is(k, "stopReason")) {
            ok = !seen_stop && js_plain_string_or_other(&s, 1, &stop);
            seen_stop = true;
        } else if (span_is(k, "start")) {
            ok = !seen_start && rd_path(&s, 1, "toolUse", rd_present, &tool);
            seen_start = true;
        } else {
            ok = js_skip(&s, 1);
        }
        if (!ok)
            return false;
    }
    if (r != 0 || !js_at_end(&s))
        return false;
    if (et_is(et, et_len, "metadata")) {
        apply_counts(&usage, u, true, true);
        u->complete = true;
    } else if (et_is(et, et_len, "messageStop")) {
        copy_stop(u, stop);
    } else if (et_is(et, et_len, "contentBlockStart")) {
        if (tool)
            u->tool_use = true;
    }
    return true;
}

/* What the jansson path does with one decoded event. */
static void event_json(enum gateway_op op, const char *et, size_t et_len, const char *json, size_t n,
                       struct gateway_usage *u)
{
    json_t *ev = json_loadb(json, n, 0, NULL);
    if (op == GATEWAY_OP_INVOKE_STREAM) {
        invoke_chunk(ev, u);
    } else if (et_is(et, et_len, "metadata")) {
        converse_usage(json_object_get(ev, "usage"), u);
        u->complete = true;
    } else if (et_is(et, et_len, "messageStop")) {
        set_stop(u, json_string_value(json_object_get(ev, "stopReason")));
    } else if (et_is(et, et_len, "contentBlockStart")) {
        if (json_object_get(json_object_get(ev, "start"), "toolUse"))
            u->tool_use = true;
    }
    json_decref(ev);
}

static void usage_from_event(enum gateway_op op, const char *event_type, size_t et_len, const uint8_t *payload,
                             size_t len, struct gateway_usage *u, bool fast)
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
        if (base64_decode(&dec, b64, n) == BROCK_OK && !(fast && fast_chunk(buf_cstr(&dec), dec.len, u)))
            event_json(op, event_type, et_len, buf_cstr(&dec), dec.len, u);
        buf_free(&dec);
        return;
    }
    if (op != GATEWAY_OP_CONVERSE_STREAM)
        return;
    if (et_is(event_type, et_len, "contentBlockDelta"))
        return;
    if (!(fast && fast_converse_event(event_type, et_len, (const char *)payload, len, u)))
        event_json(op, event_type, et_len, (const char *)payload, len, u);
}

void gateway_usage_from_event(enum gateway_op op, const char *event_type, size_t et_len, const uint8_t *payload,
                              size_t len, struct gateway_usage *u)
{
    usage_from_event(op, event_type, et_len, payload, len, u, true);
}

void gw_usage_from_event_json(enum gateway_op op, const char *event_type, size_t et_len, const uint8_t *payload,
                              size_t len, struct gateway_usage *u)
{
    usage_from_event(op, event_type, et_len, payload, len, u, false);
}

