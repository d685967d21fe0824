/* emulator_bedrock.c - the Bedrock Runtime operations of `brock emulate`:
 * model checks, body validation (Anthropic Messages and Converse shapes),
 * scenario answers, usage with emulated prompt caching, and the answers
 * themselves: Messages JSON, Converse JSON, `chunk` event streams, Converse
 * event streams and CountTokens, with faults applied on the way out.
 *
 * Everything here runs on the server's loop thread with the emulator's lock
 * held (handler, timers and response callbacks take it). */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/crypto.h"
#include "../aws/eventstream.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "../util/log.h"

#define STREAM_HIGH_WATER ((size_t)256 * 1024) /* buffered bytes before waiting for drain */
#define STREAM_LOW_WATER ((size_t)64 * 1024)
#define MAX_DELTAS 512 /* text deltas per block; words are grouped beyond */
#define QUOTE_MAX 200  /* bytes of the user's message quoted by the echo reply */

static const char k_invalid_model[] = "The provided model identifier is invalid.";

/* ------------------------------------------------------------------ */
/* the normalised request                                               */

struct cache_point {
    int64_t tokens; /* estimated prefix tokens up to and including the point */
    uint64_t hash;  /* hash of that prefix */
    int ttl_s;
};

struct norm {
    struct buf text;         /* text blocks of the last user message */
    struct buf tool_results; /* text of its tool_result blocks */
    bool has_text, has_tool_results;
    int n_tool_results;
    bool thinking;        /* extended thinking requested */
    int thinking_display; /* 0 not given, 1 "summarized", 2 "omitted" (or anything else) */
    int64_t max_tokens;   /* 0 = not given */
    int64_t tokens;       /* input estimate */
    uint64_t hash;        /* rolling hash of the prefix so far */
    struct cache_point cps[EMULATOR_MAX_CACHE_POINTS];
    int n_cps;            /* cache points seen (may exceed the array) */
    bool has_tool_blocks; /* toolUse / toolResult anywhere (Converse check) */
    char err[700];        /* why the body is invalid */
};

static void norm_init(struct norm *n)
{
    memset(n, 0, sizeof *n);
    buf_init(&n->text, BUF_MAX_BODY);
    buf_init(&n->tool_results, BUF_MAX_BODY);
    n->hash = FNV1A64_INIT;
}

static void norm_cleanup(struct norm *n)
{
    buf_free(&n->text);
    buf_free(&n->tool_results);
}

/* One piece of input: counts its tokens (about 4 bytes each) and extends
 * the prefix hash. The same conversation gives the same pieces whether it
 * came as a Messages or a Converse body. */
static void piece(struct norm *n, char tag, const char *s, size_t len)
{
    uint64_t l = len;
    n->hash = fnv1a64(n->hash, &tag, 1);
    n->hash = fnv1a64(n->hash, &l, sizeof l);
    n->hash = fnv1a64(n->hash, s, len);
    n->tokens += (int64_t)((len + 3) / 4);
}

static void piece_json(struct norm *n, char tag, const json_t *v)
{
    char *s = json_dump_compact(v);
    piece(n, tag, s, strlen(s));
    free(s);
}

static void cache_point(struct norm *n, const char *ttl)
{
    if (n->n_cps < EMULATOR_MAX_CACHE_POINTS)
        n->cps[n->n_cps] = (struct cache_point){n->tokens, n->hash, ttl && !strcmp(ttl, "1h") ? 3600 : 300};
    n->n_cps++;
}

static bool invalid(struct norm *n, const char *fmt, ...) BROCK_PRINTF(2, 3);

static bool invalid(struct norm *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->err, sizeof n->err, fmt, ap);
    va_end(ap);
    return false;
}

static void join(struct buf *b, const char *s, size_t len)
{
    if (b->len)
        buf_addc(b, '\n');
    buf_add(b, s, len);
}

static const char *str_or_null(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Anthropic's schema validator names types like this. */
static const char *everit_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "JSONObject";
    case JSON_ARRAY: return "JSONArray";
    case JSON_STRING: return "String";
    case JSON_INTEGER: return "Integer";
    case JSON_REAL: return "BigDecimal";
    case JSON_TRUE:
    case JSON_FALSE: return "Boolean";
    default: return "Null";
    }
}

/* ---- Anthropic Messages bodies (InvokeModel*, CountTokens invokeModel) ---- */

static bool malformed(struct norm *n, const char *violation, int count)
{
    if (count > 1)
        return invalid(
            n, "Malformed input request: #: %d schema violations found, please reformat your input and try again.",
            count);
    return invalid(n, "Malformed input request: %s, please reformat your input and try again.", violation);
}

/* Top-level schema: required keys, no extraneous keys, member types. */
static bool messages_schema(struct norm *n, const json_t *body)
{
    static const char *const required[] = {"anthropic_version", "max_tokens", "messages"};
    static const struct {
        const char *key;
        unsigned types;     /* bits of json_type */
        const char *expect; /* for the message */
    } known[] = {
        {"anthropic_version", 1u << JSON_STRING, "String"},
        {"anthropic_beta", 1u << JSON_ARRAY, "JSONArray"},
        {"max_tokens", 1u << JSON_INTEGER, "Integer"},
        {"messages", 1u << JSON_ARRAY, "JSONArray"},
        {"system", 1u << JSON_STRING | 1u << JSON_ARRAY, "String or JSONArray"},
        {"temperature", 1u << JSON_INTEGER | 1u << JSON_REAL, "Number"},
        {"top_p", 1u << JSON_INTEGER | 1u << JSON_REAL, "Number"},
        {"top_k", 1u << JSON_INTEGER, "Integer"},
        {"stop_sequences", 1u << JSON_ARRAY, "JSONArray"},
        {"tools", 1u << JSON_ARRAY, "JSONArray"},
        {"tool_choice", 1u << JSON_OBJECT, "JSONObject"},
        {"thinking", 1u << JSON_OBJECT, "JSONObject"},
        {"metadata", 1u << JSON_OBJECT, "JSONObject"},
        {"output_config", 1u << JSON_OBJECT, "JSONObject"},
        {"output_format", 1u << JSON_OBJECT, "JSONObject"},
        {"context_management", 1u << JSON_OBJECT, "JSONObject"},
        {"service_tier", 1u << JSON_STRING, "String"},
    };
    char first[300] = "";
    int count = 0;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(required); i++)
        if (!json_object_get(body, required[i])) {
            if (!count++)
                snprintf(first, sizeof first, "#: required key [%s] not found", required[i]);
        }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val) {
        size_t k = 0;
        while (k < BROCK_ARRAY_LEN(known) && strcmp(known[k].key, key))
            k++;
        if (k == BROCK_ARRAY_LEN(known)) {
            if (!count++)
                snprintf(first, sizeof first, "#: extraneous key [%.100s] is not permitted", key);
        } else if (!(known[k].types & (1u << json_typeof(val)))) {
            if (!count++)
                snprintf(first, sizeof first, "#/%s: expected type: %s, found: %s", key, known[k].expect,
                         everit_type(val));
        }
    }
    int64_t mt = 0;
    if (!count && json_int(body, "max_tokens", &mt) && mt < 1) {
        count++;
        snprintf(first, sizeof first, "#/max_tokens: %lld is not greater or equal to 1", (long long)mt);
    }
    if (count)
        return malformed(n, first, count);
    return true;
}

static bool cache_control(struct norm *n, const json_t *block)
{
    const json_t *cc = json_object_get(block, "cache_control");
    if (!cc)
        return false;
    cache_point(n, str_or_null(json_object_get(cc, "ttl")));
    return true;
}

/* The tool_use ids of an assistant message (for the pairing check). */
struct ids {
    const char *v[256];
    size_t n;
    bool over;
};

static const struct ids no_ids;

static void ids_add(struct ids *ids, const char *id)
{
    if (ids->n < BROCK_ARRAY_LEN(ids->v))
        ids->v[ids->n++] = id;
    else
        ids->over = true;
}

static bool ids_has(const struct ids *ids, const char *id)
{
    for (size_t i = 0; i < ids->n; i++)
        if (!strcmp(ids->v[i], id))
            return true;
    return ids->over;
}

static void tool_result_text(struct norm *n, const json_t *content, bool last_user)
{
    if (json_is_string(content)) {
        piece(n, 'r', json_string_value(content), json_string_length(content));
        if (last_user)
            join(&n->tool_results, json_string_value(content), json_string_length(content));
        return;
    }
    size_t i;
    const json_t *b;
    json_array_foreach(content, i, b) {
        const char *t = str_or_null(json_object_get(b, "text"));
        if (t) {
            size_t len = json_string_length(json_object_get(b, "text"));
            piece(n, 'r', t, len);
            if (last_user)
                join(&n->tool_results, t, len);
        } else if (json_object_get(b, "json")) {
            char *s = json_dump_compact(json_object_get(b, "json"));
            piece(n, 'r', s, strlen(s));
            if (last_user)
                join(&n->tool_results, s, strlen(s));
            free(s);
        } else {
            piece_json(n, 'r', b);
        }
    }
}

static bool messages_block(struct norm *n, size_t mi, size_t bi, const json_t *b, bool assistant, bool last_user,
                           struct ids *uses, const struct ids *prev_uses, struct ids *results)
{
    const char *type = str_or_null(json_object_get(b, "type"));
    if (!json_is_object(b) || !type)
        return invalid(n, "messages.%zu.content.%zu.type: Field required", mi, bi);
    if (!strcmp(type, "text")) {
        const json_t *t = json_object_get(b, "text");
        if (!json_is_string(t))
            return invalid(n, "messages.%zu.content.%zu.text: Field required", mi, bi);
        if (!json_string_length(t))
            return invalid(n, "messages: text content blocks must be non-empty");
        piece(n, 't', json_string_value(t), json_string_length(t));
        if (last_user) {
            join(&n->text, json_string_value(t), json_string_length(t));
            n->has_text = true;
        }
    } else if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use")) {
        const char *id = str_or_null(json_object_get(b, "id")), *name = str_or_null(json_object_get(b, "name"));
        if (!id || !name)
            return invalid(n, "messages.%zu.content.%zu.%s: Field required", mi, bi, id ? "name" : "id");
        if (!assistant)
            return invalid(n, "messages.%zu.content.%zu: tool_use blocks may only appear in assistant messages", mi,
                           bi);
        piece(n, 'u', name, strlen(name));
        piece_json(n, 'j', json_object_get(b, "input") ? json_object_get(b, "input") : json_null());
        ids_add(uses, id);
    } else if (!strcmp(type, "tool_result")) {
        const char *id = str_or_null(json_object_get(b, "tool_use_id"));
        if (!id)
            return invalid(n, "messages.%zu.content.%zu.tool_use_id: Field required", mi, bi);
        if (assistant)
            return invalid(n, "messages.%zu.content.%zu: tool_result blocks may only appear in user messages", mi, bi);
        if (!ids_has(prev_uses, id))
            return invalid(
                n,
                "messages.%zu.content.%zu: unexpected `tool_use_id` found in `tool_result` blocks: %.80s. "
                "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
                mi, bi, id);
        ids_add(results, id);
        const json_t *content = json_object_get(b, "content");
        if (content && !json_is_string(content) && !json_is_array(content))
            return invalid(n, "messages.%zu.content.%zu.content: Input should be a valid string or list", mi, bi);
        if (last_user) {
            n->has_tool_results = true;
            n->n_tool_results++;
        }
        if (content)
            tool_result_text(n, content, last_user);
        n->has_tool_blocks = true;
    } else if (!strcmp(type, "thinking")) {
        const char *t = str_or_null(json_object_get(b, "thinking"));
        if (!t || !str_or_null(json_object_get(b, "signature")))
            return invalid(n, "messages.%zu.content.%zu.%s: Field required", mi, bi, t ? "signature" : "thinking");
        piece(n, 'k', t, strlen(t));
    } else if (!strcmp(type, "redacted_thinking")) {
        const char *d = str_or_null(json_object_get(b, "data"));
        if (!d)
            return invalid(n, "messages.%zu.content.%zu.data: Field required", mi, bi);
        piece(n, 'k', d, strlen(d));
    } else if (!strcmp(type, "image") || !strcmp(type, "document")) {
        const json_t *src = json_object_get(b, "source");
        const char *data = str_or_null(json_object_get(src, "data"));
        if (!json_is_object(src))
            return invalid(n, "messages.%zu.content.%zu.source: Field required", mi, bi);
        if (!strcmp(type, "image")) {
            piece(n, 'i', data ? data : "", data ? strlen(data) : 0);
            n->tokens += 1000 - (int64_t)((data ? strlen(data) : 0) + 3) / 4; /* an image costs ~1000 */
        } else {
            piece(n, 'd', data ? data : "", data ? strlen(data) : 0);
        }
    } else if (!strcmp(type, "search_result") || !strcmp(type, "web_search_tool_result") ||
               !strcmp(type, "container_upload")) {
        piece_json(n, 'x', b);
    } else {
        return invalid(n,
                       "messages.%zu.content.%zu.type: Input tag '%.40s' found using 'type' does not match any of the "
                       "expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', "
                       "'redacted_thinking', 'search_result', 'server_tool_use', 'web_search_tool_result'",
                       mi, bi, type);
    }
    cache_control(n, b);
    return true;
}

/* What the newer models refuse (their migration guides): sampling
 * parameters other than the default temperature (names: the body's own),
 * thinking with a budget, and thinking turned off on those that always think. */
static bool check_newer(struct norm *n, const struct model_info *m, const json_t *obj, const char *const names[3],
                        const char *prefix)
{
    if (!m || !m->newer)
        return true;
    for (size_t i = 0; i < 3 && json_is_object(obj); i++) {
        const json_t *v = names[i] ? json_object_get(obj, names[i]) : NULL;
        if (v && !(i == 0 && json_number_value(v) == 1.0))
            return invalid(n, "%s`%s` is not supported for this model.", prefix, names[i]);
    }
    return true;
}

static bool check_thinking_newer(struct norm *n, const struct model_info *m, const json_t *thinking,
                                 const char *prefix)
{
    const char *type = str_or_null(json_object_get(thinking, "type"));
    if (!m || !m->newer || !type)
        return true;
    if (!strcmp(type, "enabled"))
        return invalid(n,
                       "%s\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" "
                       "and \"output_config.effort\" to control thinking behavior.",
                       prefix);
    if (!strcmp(type, "disabled") && m->always_thinks)
        return invalid(n, "%s\"thinking.type.disabled\" is not supported for this model: it always thinks.", prefix);
    return true;
}

static bool check_thinking(struct norm *n, const json_t *thinking, int64_t max_tokens, const char *prefix)
{
    if (!thinking)
        return true;
    const char *type = str_or_null(json_object_get(thinking, "type"));
    if (!type || (strcmp(type, "enabled") && strcmp(type, "disabled") && strcmp(type, "adaptive")))
        return invalid(n,
                       "%sthinking: Input tag '%.40s' found using 'type' does not match any of the expected tags: "
                       "'adaptive', 'disabled', 'enabled'",
                       prefix, type ? type : "");
    if (!strcmp(type, "enabled")) {
        int64_t budget = 0;
        if (!json_int(thinking, "budget_tokens", &budget))
            return invalid(n, "%sthinking.enabled.budget_tokens: Field required", prefix);
        if (budget < 1024)
            return invalid(n, "%sthinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                           prefix);
        if (max_tokens && budget >= max_tokens)
            return invalid(n,
                           "%s`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                           "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                           "#max-tokens-and-context-window-size",
                           prefix);
    }
    n->thinking = strcmp(type, "disabled") != 0;
    const char *display = str_or_null(json_object_get(thinking, "display"));
    n->thinking_display = !display ? 0 : !strcmp(display, "summarized") ? 1 : 2;
    return true;
}

static const char *model_display(const struct model_info *m, char *out, size_t len);

/* The 4.6 models on refuse a prefill: a conversation that ends with the
 * assistant's message (Anthropic's migration guide; its 400's words).
 * Model calls only: CountTokens counts such a body. */
static bool check_prefill(struct norm *n, const struct model_info *m, const json_t *body, bool converse)
{
    const json_t *msgs = json_object_get(body, "messages");
    size_t nm = json_array_size(msgs);
    if (!m || !m->no_prefill || !nm)
        return true;
    const char *role = str_or_null(json_object_get(json_array_get(msgs, nm - 1), "role"));
    if (!role || strcmp(role, "assistant"))
        return true;
    return invalid(n,
                   "%sThis model does not support assistant message prefill. The conversation must end with a user "
                   "message.",
                   converse ? "The model returned the following errors: " : "");
}

static bool norm_messages(struct norm *n, const json_t *body, const struct model_info *m)
{
    if (!json_is_object(body))
        return malformed(n, body ? "#: expected type: JSONObject" : "#: expected a JSON object", 1);
    if (!messages_schema(n, body))
        return false;
    json_int(body, "max_tokens", &n->max_tokens);
    char disp[160];
    if (m && n->max_tokens > (int64_t)m->max_output)
        return invalid(n, "max_tokens: %lld > %u, which is the maximum allowed number of output tokens for %s",
                       (long long)n->max_tokens, m->max_output, model_display(m, disp, sizeof disp));
    const json_t *temp = json_object_get(body, "temperature");
    if (temp && (json_number_value(temp) < 0 || json_number_value(temp) > 1))
        return invalid(n, "temperature: range: 0..1");
    if (!check_thinking(n, json_object_get(body, "thinking"), n->max_tokens, ""))
        return false;
    static const char *const sampling[3] = {"temperature", "top_p", "top_k"};
    if (!check_newer(n, m, body, sampling, "") || !check_thinking_newer(n, m, json_object_get(body, "thinking"), ""))
        return false;

    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(body, "tools"), i, v) {
        const char *name = str_or_null(json_object_get(v, "name"));
        if (!json_is_object(v) || !name)
            return invalid(n, "tools.%zu.name: Field required", i);
        const json_t *schema = json_object_get(v, "input_schema");
        if (!json_object_get(v, "type") && !json_is_object(schema))
            return invalid(n, "tools.%zu.custom.input_schema: Field required", i);
        piece(n, 'n', name, strlen(name));
        const char *desc = str_or_null(json_object_get(v, "description"));
        if (desc)
            piece(n, 'd', desc, strlen(desc));
        if (schema)
            piece_json(n, 's', schema);
        cache_control(n, v);
    }
    const json_t *system = json_object_get(body, "system");
    if (json_is_string(system)) {
        piece(n, 'y', json_string_value(system), json_string_length(system));
    } else {
        json_array_foreach(system, i, v) {
            const char *t = str_or_null(json_object_get(v, "text"));
            if (!t)
                return invalid(n, "system.%zu.text: Field required", i);
            piece(n, 'y', t, strlen(t));
            cache_control(n, v);
        }
    }

    const json_t *msgs = json_object_get(body, "messages");
    size_t nm = json_array_size(msgs), last_user = (size_t)-1;
    if (!nm)
        return invalid(n, "messages: at least one message is required");
    json_array_foreach(msgs, i, v) {
        const char *role = str_or_null(json_object_get(v, "role"));
        if (role && !strcmp(role, "user"))
            last_user = i;
    }
    struct ids uses = no_ids, prev = no_ids, results = no_ids;
    bool prev_assistant = false;
    json_array_foreach(msgs, i, v) {
        const char *role = str_or_null(json_object_get(v, "role"));
        if (!json_is_object(v))
            return invalid(n, "messages.%zu: Input should be a valid dictionary", i);
        if (!role || (strcmp(role, "user") && strcmp(role, "assistant")))
            return invalid(n, "messages.%zu.role: Input should be 'user' or 'assistant'", i);
        bool assistant = !strcmp(role, "assistant");
        const json_t *content = json_object_get(v, "content");
        piece(n, 'R', role, strlen(role));
        results.n = 0;
        results.over = false;
        uses.n = 0;
        uses.over = false;
        if (json_is_string(content)) {
            if (!json_string_length(content) && !(assistant && i + 1 == nm))
                return invalid(n, "messages: text content blocks must be non-empty");
            piece(n, 't', json_string_value(content), json_string_length(content));
            if (i == last_user) {
                join(&n->text, json_string_value(content), json_string_length(content));
                n->has_text = true;
            }
        } else if (json_is_array(content)) {
            size_t bi;
            const json_t *b;
            json_array_foreach(content, bi, b) {
                if (!messages_block(n, i, bi, b, assistant, i == last_user, &uses, prev_assistant ? &prev : &no_ids,
                                    &results))
                    return false;
            }
        } else {
            return invalid(n, "messages.%zu.content: Field required", i);
        }
        /* every tool_use of the previous (assistant) message needs a result here */
        if (prev_assistant && prev.n) {
            char missing[300] = "";
            size_t ml = 0;
            for (size_t k = 0; k < prev.n; k++) {
                bool found = false;
                for (size_t r = 0; r < results.n && !found; r++)
                    found = !strcmp(prev.v[k], results.v[r]);
                if (!found && ml < sizeof missing) {
                    int w = snprintf(missing + ml, sizeof missing - ml, "%s%.80s", ml ? ", " : "", prev.v[k]);
                    if (w > 0)
                        ml += (size_t)w;
                }
            }
            if (ml)
                return invalid(n,
                               "messages.%zu: `tool_use` ids were found without `tool_result` blocks immediately "
                               "after: %s. Each `tool_use` block must have a corresponding `tool_result` block in "
                               "the next message.",
                               i - 1, missing);
        }
        prev = uses;
        prev_assistant = assistant;
    }
    if (n->n_cps > EMULATOR_MAX_CACHE_POINTS)
        return invalid(n, "A maximum of %d blocks with cache_control may be provided. Found %d.",
                       EMULATOR_MAX_CACHE_POINTS, n->n_cps);
    return true;
}

/* ---- Converse bodies (Converse*, CountTokens converse) ---- */

static const char *const converse_members[] = {"text",         "image",           "document",    "video",
                                               "audio",        "toolUse",         "toolResult",  "guardContent",
                                               "cachePoint",   "reasoningContent", "citationsContent",
                                               "searchResult", "toolAddition",    "toolRemoval", NULL};

static bool converse_block(struct norm *n, size_t mi, size_t bi, const json_t *b, bool assistant, bool last_user,
                           struct ids *uses, const struct ids *prev_uses, struct ids *results)
{
    const char *member = NULL;
    size_t count = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)b, key, val) {
        count++;
        member = key;
    }
    bool known = false;
    for (size_t k = 0; member && converse_members[k] && !known; k++)
        known = !strcmp(member, converse_members[k]);
    if (!json_is_object(b) || count != 1 || !known)
        return invalid(n,
                       "The content block at messages.%zu.content.%zu must set exactly one of text, image, document, "
                       "video, audio, toolUse, toolResult, guardContent, cachePoint, reasoningContent, "
                       "citationsContent, searchResult.",
                       mi, bi);
    const json_t *v = json_object_get(b, member);
    if (!strcmp(member, "text")) {
        if (!json_is_string(v) || !json_string_length(v) ||
            strspn(json_string_value(v), " \t\r\n") == json_string_length(v))
            return invalid(
                n,
                "The text field in the ContentBlock object at messages.%zu.content.%zu is blank. Add text to "
                "the text field, and try again.",
                mi, bi);
        piece(n, 't', json_string_value(v), json_string_length(v));
        if (last_user) {
            join(&n->text, json_string_value(v), json_string_length(v));
            n->has_text = true;
        }
    } else if (!strcmp(member, "toolUse")) {
        const char *id = str_or_null(json_object_get(v, "toolUseId")), *name = str_or_null(json_object_get(v, "name"));
        if (!id || !name || !json_object_get(v, "input"))
            return invalid(
                n,
                "1 validation error detected: Value null at 'messages.%zu.member.content.%zu.member.toolUse.%s' "
                "failed to satisfy constraint: Member must not be null",
                mi + 1, bi + 1,
                !id     ? "toolUseId"
                : !name ? "name"
                        : "input");
        if (!assistant)
            return invalid(n, "The toolUse block at messages.%zu.content.%zu can only be used in an assistant turn.",
                           mi, bi);
        piece(n, 'u', name, strlen(name));
        piece_json(n, 'j', json_object_get(v, "input"));
        ids_add(uses, id);
        n->has_tool_blocks = true;
    } else if (!strcmp(member, "toolResult")) {
        const char *id = str_or_null(json_object_get(v, "toolUseId"));
        const json_t *content = json_object_get(v, "content");
        if (!id || !json_is_array(content))
            return invalid(
                n,
                "1 validation error detected: Value null at 'messages.%zu.member.content.%zu.member.toolResult.%s' "
                "failed to satisfy constraint: Member must not be null",
                mi + 1, bi + 1, !id ? "toolUseId" : "content");
        if (assistant)
            return invalid(n, "The toolResult block at messages.%zu.content.%zu can only be used in a user turn.", mi,
                           bi);
        if (!ids_has(prev_uses, id))
            return invalid(
                n,
                "The toolResult block at messages.%zu.content.%zu has a toolUseId (%.80s) that does not match "
                "a toolUse block of the previous turn.",
                mi, bi, id);
        ids_add(results, id);
        if (last_user) {
            n->has_tool_results = true;
            n->n_tool_results++;
        }
        tool_result_text(n, content, last_user);
        n->has_tool_blocks = true;
    } else if (!strcmp(member, "reasoningContent")) {
        const json_t *rt = json_object_get(v, "reasoningText");
        const char *t = str_or_null(json_object_get(rt, "text"));
        const char *red = str_or_null(json_object_get(v, "redactedContent"));
        if (!t && !red)
            return invalid(n, "The reasoningContent block at messages.%zu.content.%zu needs reasoningText or "
                              "redactedContent.", mi, bi);
        piece(n, 'k', t ? t : red, strlen(t ? t : red));
    } else if (!strcmp(member, "cachePoint")) {
        cache_point(n, str_or_null(json_object_get(v, "ttl")));
    } else if (!strcmp(member, "image")) {
        const char *bytes = str_or_null(json_object_get(json_object_get(v, "source"), "bytes"));
        piece(n, 'i', bytes ? bytes : "", bytes ? strlen(bytes) : 0);
        n->tokens += 1000 - (int64_t)((bytes ? strlen(bytes) : 0) + 3) / 4;
    } else if (!strcmp(member, "document")) {
        const char *bytes = str_or_null(json_object_get(json_object_get(v, "source"), "bytes"));
        piece(n, 'd', bytes ? bytes : "", bytes ? strlen(bytes) : 0);
    } else {
        piece_json(n, 'x', v);
    }
    return true;
}

static bool norm_converse(struct norm *n, const json_t *body, const struct model_info *m, bool count_tokens)
{
    if (!json_is_object(body))
        return invalid(n, "Malformed input request: the request body must be a JSON object, please reformat your "
                          "input and try again.");
    const json_t *msgs = json_object_get(body, "messages");
    if (!msgs)
        return invalid(n, "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member "
                          "must not be null");
    if (!json_is_array(msgs))
        return invalid(n,
                       "Malformed input request: messages must be an array, please reformat your input and try again.");

    const json_t *ic = json_object_get(body, "inferenceConfig");
    int64_t mt = 0;
    if (ic && json_object_get(ic, "maxTokens")) {
        if (!json_int(ic, "maxTokens", &mt) || mt < 1)
            return invalid(n, "1 validation error detected: Value '%lld' at 'inferenceConfig.maxTokens' failed to "
                              "satisfy constraint: Member must have value greater than or equal to 1",
                           (long long)mt);
        if (m && mt > (int64_t)m->max_output)
            return invalid(n,
                           "The maximum tokens you requested exceeds the model limit of %u. Try again with a maximum "
                           "tokens value that is lower than %u.",
                           m->max_output, m->max_output);
        n->max_tokens = mt;
    }
    const json_t *temp = json_object_get(ic, "temperature");
    if (temp && (json_number_value(temp) < 0 || json_number_value(temp) > 1))
        return invalid(n,
                       "1 validation error detected: Value '%g' at 'inferenceConfig.temperature' failed to satisfy "
                       "constraint: Member must have value %s",
                       json_number_value(temp),
                       json_number_value(temp) < 0 ? "greater than or equal to 0" : "less than or equal to 1");
    const json_t *amrf = json_object_get(body, "additionalModelRequestFields");
    if (!check_thinking(n, json_object_get(amrf, "thinking"), mt ? mt : (m ? (int64_t)m->max_output : 0),
                        "The model returned the following errors: "))
        return false;
    static const char *const ic_sampling[3] = {"temperature", "topP", NULL};
    static const char *const amrf_sampling[3] = {NULL, NULL, "top_k"};
    const char *said = "The model returned the following errors: ";
    if (!check_newer(n, m, ic, ic_sampling, "") || !check_newer(n, m, amrf, amrf_sampling, said) ||
        !check_thinking_newer(n, m, json_object_get(amrf, "thinking"), said))
        return false;

    size_t i;
    const json_t *v;
    const json_t *tc = json_object_get(body, "toolConfig");
    json_array_foreach(json_object_get(tc, "tools"), i, v) {
        const json_t *spec = json_object_get(v, "toolSpec");
        if (json_object_get(v, "cachePoint")) {
            cache_point(n, str_or_null(json_object_get(json_object_get(v, "cachePoint"), "ttl")));
            continue;
        }
        if (!spec) {
            piece_json(n, 'x', v);
            continue;
        }
        const char *name = str_or_null(json_object_get(spec, "name"));
        const json_t *schema = json_object_get(json_object_get(spec, "inputSchema"), "json");
        if (!name || !schema)
            return invalid(n, "1 validation error detected: Value null at 'toolConfig.tools.%zu.member.toolSpec.%s' "
                              "failed to satisfy constraint: Member must not be null",
                           i + 1, name ? "inputSchema" : "name");
        piece(n, 'n', name, strlen(name));
        const char *desc = str_or_null(json_object_get(spec, "description"));
        if (desc)
            piece(n, 'd', desc, strlen(desc));
        piece_json(n, 's', schema);
    }
    json_array_foreach(json_object_get(body, "system"), i, v) {
        const char *t = str_or_null(json_object_get(v, "text"));
        if (t)
            piece(n, 'y', t, strlen(t));
        else if (json_object_get(v, "cachePoint"))
            cache_point(n, str_or_null(json_object_get(json_object_get(v, "cachePoint"), "ttl")));
        else
            piece_json(n, 'x', v);
    }

    size_t nm = json_array_size(msgs), last_user = (size_t)-1;
    json_array_foreach(msgs, i, v) {
        const char *role = str_or_null(json_object_get(v, "role"));
        if (role && !strcmp(role, "user"))
            last_user = i;
    }
    if (!nm && !count_tokens)
        return invalid(n, "A conversation must start with a user message. Try again with a conversation that starts "
                          "with a user message.");
    struct ids uses = no_ids, prev = no_ids, results = no_ids;
    const char *prev_role = NULL;
    json_array_foreach(msgs, i, v) {
        const char *role = str_or_null(json_object_get(v, "role"));
        if (!json_is_object(v) || !role || (strcmp(role, "user") && strcmp(role, "assistant")))
            return invalid(n,
                           "1 validation error detected: Value '%.40s' at 'messages.%zu.member.role' failed to satisfy "
                           "constraint: Member must satisfy enum value set: [user, assistant]",
                           role ? role : "null", i + 1);
        if (i == 0 && strcmp(role, "user"))
            return invalid(n,
                           "A conversation must start with a user message. Try again with a conversation that starts "
                           "with a user message.");
        if (prev_role && !strcmp(prev_role, role))
            return invalid(n, "A conversation must alternate between user and assistant roles. Make sure the "
                              "conversation alternates between user and assistant roles and try again.");
        const json_t *content = json_object_get(v, "content");
        if (!json_is_array(content))
            return invalid(n, "1 validation error detected: Value null at 'messages.%zu.member.content' failed to "
                              "satisfy constraint: Member must not be null",
                           i + 1);
        bool assistant = !strcmp(role, "assistant");
        piece(n, 'R', role, strlen(role));
        uses.n = results.n = 0;
        uses.over = results.over = false;
        size_t bi;
        const json_t *b;
        json_array_foreach(content, bi, b) {
            if (!converse_block(n, i, bi, b, assistant, i == last_user, &uses, &prev, &results))
                return false;
        }
        if (!assistant && prev.n) {
            if (results.n > prev.n)
                return invalid(n, "The number of toolResult blocks at messages.%zu.content exceeds the number of "
                                  "toolUse blocks of previous turn.",
                               i);
            char missing[300] = "";
            size_t ml = 0;
            for (size_t k = 0; k < prev.n; k++) {
                bool found = false;
                for (size_t r = 0; r < results.n && !found; r++)
                    found = !strcmp(prev.v[k], results.v[r]);
                if (!found && ml < sizeof missing) {
                    int w = snprintf(missing + ml, sizeof missing - ml, "%s%.80s", ml ? ", " : "", prev.v[k]);
                    if (w > 0)
                        ml += (size_t)w;
                }
            }
            if (ml)
                return invalid(n, "Expected toolResult blocks at messages.%zu.content for the following Ids: %s", i,
                               missing);
        }
        prev = assistant ? uses : no_ids;
        prev_role = role;
    }
    if (n->has_tool_blocks && !json_is_array(json_object_get(tc, "tools")))
        return invalid(n, "The toolConfig field must be defined when using toolUse and toolResult content blocks.");
    if (n->n_cps > EMULATOR_MAX_CACHE_POINTS)
        return invalid(n, "A maximum of %d cachePoint blocks may be provided. Found %d.", EMULATOR_MAX_CACHE_POINTS,
                       n->n_cps);
    return true;
}

/* ------------------------------------------------------------------ */
/* models                                                               */

/* "claude-sonnet-4-5-20250929" from "anthropic.claude-sonnet-4-5-20250929-v1:0". */
static const char *model_display(const struct model_info *m, char *out, size_t len)
{
    if (!m) {
        snprintf(out, len, "claude");
        return out;
    }
    const char *id = m->base_id;
    if (!strncmp(id, "anthropic.", 10))
        id += 10;
    snprintf(out, len, "%s", id);
    char *v = strrchr(out, '-');
    if (v && v[1] == 'v' && v[2] >= '0' && v[2] <= '9')
        *v = '\0';
    return out;
}

static bool denied(const struct emu_call *c)
{
    for (size_t i = 0; i < c->em->n_deny; i++)
        if (!strcmp(c->em->deny[i], c->model_id) || (c->base_id && !strcmp(c->em->deny[i], c->base_id)))
            return true;
    return false;
}

/* Resolve and check the model id; false (answered) when not usable. */
static bool check_model(struct emu_call *c, const struct model_info **out)
{
    enum model_geo geo = GEO_NONE;
    const struct model_info *m = catalog_find(c->model_id, &geo);
    c->base_id = m ? m->base_id : NULL;
    *out = m;
    if (denied(c)) {
        emu_send_error(c, 403, "AccessDeniedException",
                       "You don't have access to the model with the specified model ID.", -1);
        return false;
    }
    if (!m) {
        if (catalog_is_app_profile(c->model_id))
            return true;
        emu_send_error(c, 400, "ValidationException", k_invalid_model, -1);
        return false;
    }
    if (geo != GEO_NONE && !(m->geos & geo)) {
        emu_send_error(c, 400, "ValidationException", k_invalid_model, -1);
        return false;
    }
    if (geo == GEO_NONE && !m->in_region && c->op != SCENARIO_OP_COUNT_TOKENS) {
        char msg[EMULATOR_MAX_MODEL_ID + 200];
        snprintf(msg, sizeof msg,
                 "Invocation of model ID %s with on-demand throughput isn\u2019t supported. Retry your request with "
                 "the ID or ARN of an inference profile that contains this model.",
                 m->base_id);
        emu_send_error(c, 400, "ValidationException", msg, -1);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* emulated prompt cache                                                */

static bool cache_hit(struct emulator *em, uint64_t key, int64_t now)
{
    for (size_t i = 0; i < em->n_cache; i++)
        if (em->cache[i].key == key && em->cache[i].expires_ms > now)
            return true;
    return false;
}

static void cache_put(struct emulator *em, uint64_t key, int64_t expires)
{
    size_t slot = em->n_cache, oldest = 0;
    for (size_t i = 0; i < em->n_cache; i++) {
        if (em->cache[i].key == key) {
            slot = i;
            break;
        }
        if (em->cache[i].expires_ms < em->cache[oldest].expires_ms)
            oldest = i;
    }
    if (slot == em->n_cache) {
        if (em->n_cache == EMULATOR_MAX_CACHE) {
            slot = oldest;
        } else {
            if (!em->cache)
                em->cache = xcalloc(EMULATOR_MAX_CACHE, sizeof *em->cache);
            em->n_cache++;
        }
    }
    em->cache[slot] = (struct emu_cache_entry){key, expires};
}

struct usage {
    int64_t input, output, cache_read, cache_write, write_5m, write_1h;
    bool cache_fields; /* Converse: report the cache counts (the request had cache points) */
};

/* Reads: the longest cached prefix; writes: the rest up to the last cache
 * point long enough to be cached (the model's minimum). */
static void cache_account(struct emu_call *c, const struct norm *n, const struct model_info *m, struct usage *u)
{
    struct emulator *em = c->em;
    uint32_t min = m ? m->min_cache_tokens : 1024;
    int np = n->n_cps < EMULATOR_MAX_CACHE_POINTS ? n->n_cps : EMULATOR_MAX_CACHE_POINTS;
    if (!min || !np)
        return;
    const char *mk = c->base_id ? c->base_id : c->model_id;
    uint64_t model_key = fnv1a64(FNV1A64_INIT, mk, strlen(mk));
    int64_t now = emu_now_ms(em);
    for (int i = np - 1; i >= 0; i--)
        if (n->cps[i].tokens >= (int64_t)min && cache_hit(em, model_key ^ n->cps[i].hash, now)) {
            u->cache_read = n->cps[i].tokens;
            break;
        }
    for (int i = np - 1; i >= 0; i--)
        if (n->cps[i].tokens >= (int64_t)min) {
            if (n->cps[i].tokens > u->cache_read) {
                u->cache_write = n->cps[i].tokens - u->cache_read;
                if (n->cps[i].ttl_s == 3600)
                    u->write_1h = u->cache_write;
                else
                    u->write_5m = u->cache_write;
            }
            break;
        }
    for (int i = 0; i < np; i++)
        if (n->cps[i].tokens >= (int64_t)min)
            cache_put(em, model_key ^ n->cps[i].hash, now + (int64_t)n->cps[i].ttl_s * 1000);
}

/* ------------------------------------------------------------------ */
/* the answer                                                           */

struct ablock {
    enum scenario_block_type type;
    const char *text;
    const char *signature;
    const char *name;
    const char *input;
    char id[64];
    char *own_text; /* made-up text (echo replies) */
    char sig[64];   /* made-up signature */
};

struct answer {
    struct ablock blocks[SCENARIO_MAX_BLOCKS + 1];
    size_t n;
    const char *stop_reason;
    const char *stop_sequence;
    struct usage usage;
    char model[160];
    char msg_id[48];
    int64_t first_byte_delay_ms, event_delay_ms;
};

static void answer_cleanup(struct answer *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i].own_text);
}

static void base62(const uint8_t *d, size_t n, char *out, size_t len)
{
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t i = 0;
    for (; i + 1 < len && i < n; i++)
        out[i] = alpha[d[i] % 62];
    out[i] = '\0';
}

/* Deterministic ids and signatures: the same request gets the same answer. */
static void make_tool_id(const struct norm *n, size_t idx, const char *name, bool converse, char out[64])
{
    struct buf seed = BUF_INIT(BUF_MAX_BODY * 2 + 256);
    buf_addf(&seed, "%zu\n%s\n", idx, name);
    buf_add(&seed, buf_cstr(&n->text), n->text.len);
    buf_addc(&seed, '\n');
    buf_add(&seed, buf_cstr(&n->tool_results), n->tool_results.len);
    uint8_t d[SHA256_LEN];
    crypto_sha256(buf_cstr(&seed), seed.len, d);
    buf_free(&seed);
    char tail[23];
    base62(d, SHA256_LEN, tail, sizeof tail);
    snprintf(out, 64, "%s%s", converse ? "tooluse_" : "toolu_bdrk_01", tail);
}

static void make_signature(const char *text, char out[64])
{
    struct buf in = BUF_INIT(BUF_MAX_BODY);
    buf_addstr(&in, "brock-emulate-thinking:");
    buf_addstr(&in, text);
    uint8_t d[SHA256_LEN];
    crypto_sha256(buf_cstr(&in), in.len, d);
    buf_free(&in);
    struct buf b = BUF_INIT(64);
    (void)base64_encode(&b, d, sizeof d);
    snprintf(out, 64, "%s", buf_cstr(&b));
    buf_free(&b);
}

/* A one-line quote of the user's words, at most QUOTE_MAX bytes. */
static char *quote_of(const struct buf *src)
{
    struct buf q = BUF_INIT(QUOTE_MAX + 8);
    bool space = false;
    for (size_t i = 0; i < src->len; i++) {
        unsigned char ch = (unsigned char)src->ptr[i];
        bool ws = ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
        if (ws) {
            space = q.len > 0;
            continue;
        }
        size_t need = 1;
        if (ch >= 0xc0)
            need = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;
        if (q.len + space + need > QUOTE_MAX) {
            buf_addstr(&q, "\xe2\x80\xa6"); /* … */
            break;
        }
        if (space)
            buf_addc(&q, ' ');
        space = false;
        buf_add(&q, src->ptr + i, need <= src->len - i ? need : src->len - i);
        i += need - 1;
    }
    return buf_take(&q);
}

static void echo_answer(const struct norm *n, struct answer *a)
{
    if (n->thinking) {
        struct ablock *t = &a->blocks[a->n++];
        t->type = SCENARIO_THINKING;
        if (asprintf(&t->own_text, "The user wrote %zu characters. A short, deterministic reply will do.",
                     n->text.len + n->tool_results.len) < 0)
            t->own_text = NULL;
        t->text = t->own_text ? t->own_text : "";
        make_signature(t->text, t->sig);
        t->signature = t->sig;
    }
    struct ablock *b = &a->blocks[a->n++];
    b->type = SCENARIO_TEXT;
    char *quote = quote_of(n->has_text ? &n->text : &n->tool_results);
    int rc;
    if (n->has_text)
        rc = asprintf(&b->own_text, "Hello from brock emulate. You said: \"%s\"", quote);
    else if (n->has_tool_results)
        rc = asprintf(&b->own_text, "brock emulate received %d tool result%s: \"%s\"", n->n_tool_results,
                      n->n_tool_results == 1 ? "" : "s", quote);
    else
        rc = asprintf(&b->own_text, "Hello from brock emulate.");
    free(quote);
    if (rc < 0)
        b->own_text = NULL;
    b->text = b->own_text ? b->own_text : "";
    a->stop_reason = "end_turn";
}

static void scenario_answer(const struct scenario_response *r, const struct norm *n, bool converse, struct answer *a)
{
    bool tool = false;
    for (size_t i = 0; i < r->n_blocks; i++) {
        const struct scenario_block *sb = &r->blocks[i];
        struct ablock *b = &a->blocks[a->n++];
        b->type = sb->type;
        b->text = sb->text;
        b->name = sb->name;
        b->input = sb->input;
        if (sb->type == SCENARIO_THINKING) {
            if (sb->signature) {
                b->signature = sb->signature;
            } else {
                make_signature(sb->text, b->sig);
                b->signature = b->sig;
            }
        } else if (sb->type == SCENARIO_TOOL_USE) {
            tool = true;
            if (sb->id)
                snprintf(b->id, sizeof b->id, "%s", sb->id);
            else
                make_tool_id(n, i, sb->name, converse, b->id);
        }
    }
    a->stop_reason = r->stop_reason ? r->stop_reason : tool ? "tool_use" : "end_turn";
    a->stop_sequence = r->stop_sequence;
    a->first_byte_delay_ms = r->first_byte_delay_ms;
    a->event_delay_ms = r->event_delay_ms;
}

static int64_t output_estimate(const struct answer *a)
{
    size_t bytes = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct ablock *b = &a->blocks[i];
        bytes += b->text ? strlen(b->text) : 0;
        bytes += b->name ? strlen(b->name) : 0;
        bytes += b->input ? strlen(b->input) : 0;
    }
    int64_t t = (int64_t)((bytes + 3) / 4);
    return t ? t : 1;
}

/* ---- JSON writers ---- */

static void jstr(struct buf *b, const char *s)
{
    scenario_json_quote(b, s, strlen(s));
}

static void messages_block_json(struct buf *b, const struct ablock *k)
{
    switch (k->type) {
    case SCENARIO_THINKING:
        buf_addstr(b, "{\"type\":\"thinking\",\"thinking\":");
        jstr(b, k->text);
        buf_addstr(b, ",\"signature\":");
        jstr(b, k->signature);
        buf_addc(b, '}');
        break;
    case SCENARIO_TEXT:
        buf_addstr(b, "{\"type\":\"text\",\"text\":");
        jstr(b, k->text);
        buf_addc(b, '}');
        break;
    case SCENARIO_TOOL_USE:
        buf_addstr(b, "{\"type\":\"tool_use\",\"id\":");
        jstr(b, k->id);
        buf_addstr(b, ",\"name\":");
        jstr(b, k->name);
        buf_addf(b, ",\"input\":%s}", k->input);
        break;
    }
}

static void messages_usage_json(struct buf *b, const struct usage *u, bool with_output)
{
    buf_addf(b,
             "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,\"cache_read_input_tokens\":%lld,"
             "\"cache_creation\":{\"ephemeral_5m_input_tokens\":%lld,\"ephemeral_1h_input_tokens\":%lld},"
             "\"output_tokens\":%lld}",
             (long long)u->input, (long long)u->cache_write, (long long)u->cache_read, (long long)u->write_5m,
             (long long)u->write_1h, (long long)(with_output ? u->output : 1));
}

static void render_messages(struct buf *b, const struct answer *a)
{
    buf_addf(b, "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", a->msg_id);
    jstr(b, a->model);
    buf_addstr(b, ",\"content\":[");
    for (size_t i = 0; i < a->n; i++) {
        if (i)
            buf_addc(b, ',');
        messages_block_json(b, &a->blocks[i]);
    }
    buf_addf(b, "],\"stop_reason\":\"%s\",\"stop_sequence\":", a->stop_reason);
    if (a->stop_sequence)
        jstr(b, a->stop_sequence);
    else
        buf_addstr(b, "null");
    buf_addstr(b, ",\"usage\":");
    messages_usage_json(b, &a->usage, true);
    buf_addc(b, '}');
}

static void converse_usage_json(struct buf *b, const struct usage *u)
{
    buf_addf(b, "{\"inputTokens\":%lld,\"outputTokens\":%lld,\"totalTokens\":%lld", (long long)u->input,
             (long long)u->output, (long long)(u->input + u->output + u->cache_read + u->cache_write));
    if (u->cache_fields || u->cache_read || u->cache_write)
        buf_addf(b, ",\"cacheReadInputTokens\":%lld,\"cacheWriteInputTokens\":%lld", (long long)u->cache_read,
                 (long long)u->cache_write);
    buf_addc(b, '}');
}

static void render_converse(struct buf *b, const struct answer *a, int64_t latency_ms)
{
    buf_addstr(b, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[");
    for (size_t i = 0; i < a->n; i++) {
        const struct ablock *k = &a->blocks[i];
        if (i)
            buf_addc(b, ',');
        switch (k->type) {
        case SCENARIO_THINKING:
            buf_addstr(b, "{\"reasoningContent\":{\"reasoningText\":{\"text\":");
            jstr(b, k->text);
            buf_addstr(b, ",\"signature\":");
            jstr(b, k->signature);
            buf_addstr(b, "}}}");
            break;
        case SCENARIO_TEXT:
            buf_addstr(b, "{\"text\":");
            jstr(b, k->text);
            buf_addc(b, '}');
            break;
        case SCENARIO_TOOL_USE:
            buf_addstr(b, "{\"toolUse\":{\"toolUseId\":");
            jstr(b, k->id);
            buf_addstr(b, ",\"name\":");
            jstr(b, k->name);
            buf_addf(b, ",\"input\":%s}}", k->input);
            break;
        }
    }
    buf_addf(b, "]}},\"stopReason\":\"%s\",\"usage\":", a->stop_reason);
    converse_usage_json(b, &a->usage);
    buf_addf(b, ",\"metrics\":{\"latencyMs\":%lld}", (long long)latency_ms);
    if (a->stop_sequence) {
        buf_addstr(b, ",\"additionalModelResponseFields\":{\"stop_sequence\":");
        jstr(b, a->stop_sequence);
        buf_addc(b, '}');
    }
    buf_addc(b, '}');
}

/* ------------------------------------------------------------------ */
/* event streams                                                        */

struct frames {
    struct buf bytes;
    size_t *ends; /* end offset of each frame */
    size_t n, cap;
    bool invoke;  /* wrap events as `chunk` */
    struct buf payload, b64, wrap;
    bool failed;
};

static void frames_init(struct frames *f, bool invoke)
{
    memset(f, 0, sizeof *f);
    buf_init(&f->bytes, EMULATOR_MAX_FRAMES);
    buf_init(&f->payload, EMULATOR_MAX_FRAMES);
    buf_init(&f->b64, EMULATOR_MAX_FRAMES);
    buf_init(&f->wrap, EMULATOR_MAX_FRAMES);
    f->invoke = invoke;
}

static void frames_cleanup(struct frames *f)
{
    buf_free(&f->bytes);
    buf_free(&f->payload);
    buf_free(&f->b64);
    buf_free(&f->wrap);
    free(f->ends);
}

static void frames_mark(struct frames *f)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 32;
        f->ends = xrealloc(f->ends, f->cap * sizeof *f->ends);
    }
    f->ends[f->n++] = f->bytes.len;
}

/* AWS pads event payloads with a "p" member of varying length. */
static void pad(struct buf *b, size_t idx)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = 1 + (idx * 7) % 30;
    buf_addstr(b, ",\"p\":\"");
    buf_add(b, alpha, n);
    buf_addstr(b, "\"}");
}

/* Emit the event in f->payload (a JSON object without its closing brace for
 * Converse; a complete Anthropic event for `chunk`). */
static void emit(struct frames *f, const char *event_type)
{
    if (f->failed)
        return;
    struct brock_err e = {0};
    enum brock_status st;
    if (f->invoke) {
        buf_reset(&f->b64);
        buf_reset(&f->wrap);
        (void)base64_encode(&f->b64, f->payload.ptr, f->payload.len);
        buf_addstr(&f->wrap, "{\"bytes\":\"");
        buf_add(&f->wrap, buf_cstr(&f->b64), f->b64.len);
        buf_addc(&f->wrap, '"');
        pad(&f->wrap, f->n);
        st = buf_status(&f->wrap);
        if (st == BROCK_OK)
            st = es_encode_event(&f->bytes, "chunk", NULL, f->wrap.ptr, f->wrap.len, &e);
    } else {
        pad(&f->payload, f->n);
        st = buf_status(&f->payload);
        if (st == BROCK_OK)
            st = es_encode_event(&f->bytes, event_type, NULL, f->payload.ptr, f->payload.len, &e);
    }
    if (st != BROCK_OK) {
        f->failed = true;
        return;
    }
    frames_mark(f);
    buf_reset(&f->payload);
}

/* Split text into word pieces (a word and the spaces after it), grouped so
 * there are at most MAX_DELTAS. */
static size_t next_piece(const char *s, size_t len, size_t pos, size_t words_per)
{
    size_t p = pos;
    for (size_t w = 0; w < words_per && p < len; w++) {
        while (p < len && !(s[p] == ' ' || s[p] == '\n' || s[p] == '\t'))
            p++;
        while (p < len && (s[p] == ' ' || s[p] == '\n' || s[p] == '\t'))
            p++;
    }
    return p;
}

static size_t words_per_piece(const char *s, size_t len)
{
    size_t words = 0;
    for (size_t p = 0; p < len; words++)
        p = next_piece(s, len, p, 1);
    return words <= MAX_DELTAS ? 1 : (words + MAX_DELTAS - 1) / MAX_DELTAS;
}

/* Split JSON text mid-token into about four pieces, on UTF-8 boundaries. */
static size_t next_json_piece(const char *s, size_t len, size_t pos)
{
    size_t step = len / 4;
    if (step < 5)
        step = 5;
    if (step > 256)
        step = 256;
    size_t p = pos + step < len ? pos + step : len;
    while (p < len && ((unsigned char)s[p] & 0xc0) == 0x80)
        p++;
    return p;
}

static void build_invoke_stream(struct frames *f, const struct answer *a)
{
    struct buf *p = &f->payload;
    buf_addf(
        p,
        "{\"type\":\"message_start\",\"message\":{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":",
        a->msg_id);
    jstr(p, a->model);
    buf_addstr(p, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
    messages_usage_json(p, &a->usage, false);
    buf_addstr(p, "}}");
    emit(f, NULL);
    for (size_t i = 0; i < a->n; i++) {
        const struct ablock *k = &a->blocks[i];
        buf_addf(p, "{\"type\":\"content_block_start\",\"index\":%zu,\"content_block\":", i);
        if (k->type == SCENARIO_THINKING)
            buf_addstr(p, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}");
        else if (k->type == SCENARIO_TEXT)
            buf_addstr(p, "{\"type\":\"text\",\"text\":\"\"}}");
        if (k->type == SCENARIO_TOOL_USE) {
            buf_addstr(p, "{\"type\":\"tool_use\",\"id\":");
            jstr(p, k->id);
            buf_addstr(p, ",\"name\":");
            jstr(p, k->name);
            buf_addstr(p, ",\"input\":{}}}");
        }
        emit(f, NULL);
        if (k->type == SCENARIO_TOOL_USE) {
            const char *s = k->input;
            size_t len = strlen(s);
            buf_addf(p, "{\"type\":\"content_block_delta\",\"index\":%zu,\"delta\":{\"type\":\"input_json_delta\","
                        "\"partial_json\":\"\"}}", i);
            emit(f, NULL);
            for (size_t pos = 0; pos < len;) {
                size_t end = next_json_piece(s, len, pos);
                buf_addf(p, "{\"type\":\"content_block_delta\",\"index\":%zu,\"delta\":{\"type\":\"input_json_delta\","
                            "\"partial_json\":", i);
                scenario_json_quote(p, s + pos, end - pos);
                buf_addstr(p, "}}");
                emit(f, NULL);
                pos = end;
            }
        } else {
            const char *s = k->text;
            size_t len = strlen(s), per = words_per_piece(s, len);
            bool thinking = k->type == SCENARIO_THINKING;
            size_t pos = 0;
            do { /* an empty text still gets one (empty) delta, as Bedrock sends */
                size_t end = next_piece(s, len, pos, per);
                buf_addf(p, "{\"type\":\"content_block_delta\",\"index\":%zu,\"delta\":{\"type\":\"%s\",\"%s\":", i,
                         thinking ? "thinking_delta" : "text_delta", thinking ? "thinking" : "text");
                scenario_json_quote(p, s + pos, end - pos);
                buf_addstr(p, "}}");
                emit(f, NULL);
                pos = end;
            } while (pos < len);
            if (thinking) {
                buf_addf(p, "{\"type\":\"content_block_delta\",\"index\":%zu,\"delta\":{\"type\":\"signature_delta\","
                            "\"signature\":", i);
                jstr(p, k->signature);
                buf_addstr(p, "}}");
                emit(f, NULL);
            }
        }
        buf_addf(p, "{\"type\":\"content_block_stop\",\"index\":%zu}", i);
        emit(f, NULL);
    }
    buf_addf(p, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":", a->stop_reason);
    if (a->stop_sequence)
        jstr(p, a->stop_sequence);
    else
        buf_addstr(p, "null");
    buf_addf(p, "},\"usage\":{\"output_tokens\":%lld}}", (long long)a->usage.output);
    emit(f, NULL);
    int64_t latency = a->first_byte_delay_ms + (int64_t)(f->n + 1) * a->event_delay_ms;
    buf_addf(p,
             "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":%lld,"
             "\"outputTokenCount\":%lld,\"invocationLatency\":%lld,\"firstByteLatency\":%lld,"
             "\"cacheReadInputTokenCount\":%lld,\"cacheWriteInputTokenCount\":%lld}}",
             (long long)a->usage.input, (long long)a->usage.output, (long long)latency,
             (long long)a->first_byte_delay_ms, (long long)a->usage.cache_read, (long long)a->usage.cache_write);
    emit(f, NULL);
}

static void build_converse_stream(struct frames *f, const struct answer *a)
{
    struct buf *p = &f->payload;
    buf_addstr(p, "{\"role\":\"assistant\"");
    emit(f, "messageStart");
    for (size_t i = 0; i < a->n; i++) {
        const struct ablock *k = &a->blocks[i];
        if (k->type == SCENARIO_TOOL_USE) {
            buf_addf(p, "{\"contentBlockIndex\":%zu,\"start\":{\"toolUse\":{\"toolUseId\":", i);
            jstr(p, k->id);
            buf_addstr(p, ",\"name\":");
            jstr(p, k->name);
            buf_addstr(p, "}}");
            emit(f, "contentBlockStart");
            const char *s = k->input;
            size_t len = strlen(s);
            for (size_t pos = 0; pos < len;) {
                size_t end = next_json_piece(s, len, pos);
                buf_addf(p, "{\"contentBlockIndex\":%zu,\"delta\":{\"toolUse\":{\"input\":", i);
                scenario_json_quote(p, s + pos, end - pos);
                buf_addstr(p, "}}");
                emit(f, "contentBlockDelta");
                pos = end;
            }
        } else {
            const char *s = k->text;
            size_t len = strlen(s), per = words_per_piece(s, len);
            bool thinking = k->type == SCENARIO_THINKING;
            size_t pos = 0;
            do {
                size_t end = next_piece(s, len, pos, per);
                buf_addf(p, "{\"contentBlockIndex\":%zu,\"delta\":{%s", i,
                         thinking ? "\"reasoningContent\":{\"text\":" : "\"text\":");
                scenario_json_quote(p, s + pos, end - pos);
                buf_addstr(p, thinking ? "}}" : "}");
                emit(f, "contentBlockDelta");
                pos = end;
            } while (pos < len);
            if (thinking) {
                buf_addf(p, "{\"contentBlockIndex\":%zu,\"delta\":{\"reasoningContent\":{\"signature\":", i);
                jstr(p, k->signature);
                buf_addstr(p, "}}");
                emit(f, "contentBlockDelta");
            }
        }
        buf_addf(p, "{\"contentBlockIndex\":%zu", i);
        emit(f, "contentBlockStop");
    }
    buf_addf(p, "{\"stopReason\":\"%s\"", a->stop_reason);
    if (a->stop_sequence) {
        buf_addstr(p, ",\"additionalModelResponseFields\":{\"stop_sequence\":");
        jstr(p, a->stop_sequence);
        buf_addc(p, '}');
    }
    emit(f, "messageStop");
    int64_t latency = a->first_byte_delay_ms + (int64_t)(f->n + 1) * a->event_delay_ms;
    buf_addstr(p, "{\"usage\":");
    converse_usage_json(p, &a->usage);
    buf_addf(p, ",\"metrics\":{\"latencyMs\":%lld}", (long long)latency);
    emit(f, "metadata");
}

/* Apply stream faults: cut after K events (exception or truncation), bad CRC. */
static void apply_stream_faults(struct frames *f, const struct scenario_fault *cut, const struct scenario_fault *crc)
{
    if (cut && (size_t)cut->after < f->n) {
        f->n = (size_t)cut->after;
        buf_truncate(&f->bytes, f->n ? f->ends[f->n - 1] : 0);
    }
    if (cut && cut->kind == SCENARIO_FAULT_STREAM_EXCEPTION) {
        struct buf pl = BUF_INIT(BUF_MAX_SMALL);
        buf_addstr(&pl, "{\"message\":");
        jstr(&pl, cut->message);
        if (!strcmp(cut->code, "modelStreamErrorException")) {
            buf_addf(&pl, ",\"originalStatusCode\":%d,\"originalMessage\":", cut->status);
            jstr(&pl, cut->message);
        }
        buf_addc(&pl, '}');
        struct brock_err e = {0};
        if (buf_status(&pl) == BROCK_OK &&
            es_encode_exception(&f->bytes, cut->code, NULL, pl.ptr, pl.len, &e) == BROCK_OK)
            frames_mark(f);
        buf_free(&pl);
    }
    if (crc && (size_t)crc->after < f->n) {
        size_t start = crc->after ? f->ends[crc->after - 1] : 0;
        size_t at = crc->prelude ? start + 11 : f->ends[crc->after] - 1;
        f->bytes.ptr[at] ^= 0x01;
    }
}

/* ---- delivering: a job writes frames (or a whole body) on the loop ---- */

struct job {
    struct emu_call *c;
    struct frames f;
    bool stream;
    struct buf body;   /* whole answer (non-stream) */
    const char *ctype;
    const char *hdr_name[6]; /* non-stream extra headers (static names) */
    char hdr_value[6][24];
    size_t n_hdr;
    int64_t event_delay_ms;
    bool abort_at_end;
    size_t next;
    struct httpd_timer *timer;
};

static void job_free(struct job *j)
{
    if (j->f.bytes.ptr || j->f.ends)
        frames_cleanup(&j->f);
    buf_free(&j->body);
    emu_call_free(j->c);
    free(j);
}

static void job_pump(struct job *j);

static void job_closed(struct httpd_resp *resp, void *arg)
{
    struct job *j = arg;
    struct emulator *em = j->c->em;
    pthread_mutex_lock(&em->mu);
    httpd_timer_cancel(j->timer);
    j->timer = NULL;
    emu_note(j->c, "clientGone", json_true());
    httpd_resp_abort(resp);
    job_free(j);
    pthread_mutex_unlock(&em->mu);
}

static void job_finish(struct job *j)
{
    emu_note(j->c, "framesSent", json_integer((json_int_t)j->next));
    if (j->abort_at_end)
        httpd_resp_abort(j->c->resp);
    else
        (void)httpd_stream_end(j->c->resp);
    job_free(j);
}

static void job_tick(void *arg)
{
    struct job *j = arg;
    struct emulator *em = j->c->em;
    pthread_mutex_lock(&em->mu);
    j->timer = NULL;
    job_pump(j);
    pthread_mutex_unlock(&em->mu);
}

static void job_drained(struct httpd_resp *resp, void *arg)
{
    (void)resp;
    job_tick(arg);
}

static void job_pump(struct job *j)
{
    struct httpd_resp *resp = j->c->resp;
    while (j->next < j->f.n) {
        size_t start = j->next ? j->f.ends[j->next - 1] : 0, end = j->f.ends[j->next];
        if (httpd_stream_write(resp, j->f.bytes.ptr + start, end - start) != BROCK_OK) {
            /* the client is gone or not reading */
            httpd_resp_abort(resp);
            job_free(j);
            return;
        }
        j->next++;
        if (j->event_delay_ms > 0 && j->next < j->f.n) {
            j->timer = httpd_timer_add(httpd_resp_server(resp), j->event_delay_ms, job_tick, j);
            return;
        }
        if (httpd_resp_buffered(resp) > STREAM_HIGH_WATER) {
            httpd_resp_on_drain(resp, STREAM_LOW_WATER, job_drained, j);
            return;
        }
    }
    job_finish(j);
}

static void job_start(void *arg)
{
    struct job *j = arg;
    struct emulator *em = j->c->em;
    pthread_mutex_lock(&em->mu);
    j->timer = NULL;
    struct emu_call *c = j->c;
    if (!j->stream) {
        const char *extra[2 * 6 + 1] = {NULL};
        for (size_t i = 0; i < j->n_hdr; i++) {
            extra[2 * i] = j->hdr_name[i];
            extra[2 * i + 1] = j->hdr_value[i];
        }
        emu_send_body(c, 200, j->ctype, extra, buf_cstr(&j->body), j->body.len);
        job_free(j);
        pthread_mutex_unlock(&em->mu);
        return;
    }
    (void)httpd_resp_set_status(c->resp, 200);
    (void)httpd_resp_add_header(c->resp, "x-amzn-RequestId", c->id);
    (void)httpd_resp_add_header(c->resp, "Content-Type", "application/vnd.amazon.eventstream");
    if (c->op == SCENARIO_OP_INVOKE_STREAM)
        (void)httpd_resp_add_header(c->resp, "X-Amzn-Bedrock-Content-Type", "application/json");
    if (httpd_stream_start(c->resp) != BROCK_OK) {
        httpd_resp_abort(c->resp);
        job_free(j);
        pthread_mutex_unlock(&em->mu);
        return;
    }
    c->finished = true;
    job_pump(j);
    pthread_mutex_unlock(&em->mu);
}

/* Hand the call to a job that answers after `delay_ms` (0: now). */
static void job_run(struct job *j, int64_t delay_ms)
{
    struct emu_call *c = j->c;
    c->detached = true;
    httpd_resp_on_close(c->resp, job_closed, j);
    if (delay_ms > 0) {
        j->timer = httpd_timer_add(httpd_resp_server(c->resp), delay_ms, job_start, j);
        return;
    }
    /* job_start takes the lock the handler holds: run it on the next turn */
    j->timer = httpd_timer_add(httpd_resp_server(c->resp), 0, job_start, j);
}

/* ------------------------------------------------------------------ */
/* the operations                                                       */

static json_t *usage_note(const struct usage *u)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "input", (json_int_t)u->input, "output", (json_int_t)u->output,
                     "cacheRead", (json_int_t)u->cache_read, "cacheWrite", (json_int_t)u->cache_write);
}

/* CountTokens input: the Messages body (base64) or the Converse input. */
static bool count_input(struct norm *n, const json_t *body, const char *body_error, const struct model_info *m)
{
    const json_t *input = json_object_get(body, "input");
    if (!body)
        return invalid(n, "Malformed input request: %s", body_error && *body_error ? body_error : "empty body");
    if (!json_is_object(input))
        return invalid(n,
                       "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must "
                       "not be null");
    if (json_object_get(input, "converse"))
        return norm_converse(n, json_object_get(input, "converse"), m, true);
    if (!json_object_get(input, "invokeModel"))
        return invalid(n, "input must set exactly one of converse, invokeModel.");
    const char *b64 = str_or_null(json_object_get(json_object_get(input, "invokeModel"), "body"));
    if (!b64)
        return invalid(n, "1 validation error detected: Value null at 'input.invokeModel.body' failed to satisfy "
                          "constraint: Member must not be null");
    struct buf raw = BUF_INIT(BUF_MAX_BODY);
    json_t *inner = NULL;
    struct brock_err e = {0};
    bool ok;
    if (base64_decode(&raw, b64, strlen(b64)) != BROCK_OK)
        ok = invalid(n, "input.invokeModel.body is not valid base64.");
    else if (json_parse(buf_cstr(&raw), raw.len, "input.invokeModel.body", &inner, &e) != BROCK_OK)
        ok = invalid(n, "Malformed input request: %s, please reformat your input and try again.", e.msg);
    else
        ok = norm_messages(n, inner, m);
    json_decref(inner);
    buf_free(&raw);
    return ok;
}

static void count_tokens(struct emu_call *c, const struct model_info *m)
{
    struct norm n;
    norm_init(&n);
    if (!count_input(&n, c->body, c->body_error, m)) {
        emu_send_error(c, 400, "ValidationException", n.err, -1);
    } else {
        char body[64];
        snprintf(body, sizeof body, "{\"inputTokens\":%lld}", (long long)n.tokens);
        emu_note(c, "inputTokens", json_integer(n.tokens));
        emu_note_status(c, 200, NULL);
        emu_send_body(c, 200, "application/json", NULL, body, strlen(body));
    }
    norm_cleanup(&n);
}

/* Validation alone, for the fuzz target (emulator.h). */
bool emu_validate(unsigned op, const char *model_id, const char *body, size_t len, char *why, size_t whylen,
                  int64_t *tokens)
{
    const struct model_info *m = catalog_find(model_id, NULL);
    json_t *v = NULL;
    struct brock_err e = {0};
    char body_error[256] = "";
    if (len && json_parse(body, len, "request body", &v, &e) != BROCK_OK)
        snprintf(body_error, sizeof body_error, "%.250s", e.msg);
    struct norm n;
    norm_init(&n);
    bool ok;
    if (op == SCENARIO_OP_COUNT_TOKENS)
        ok = count_input(&n, v, body_error, m);
    else if (!v)
        ok = invalid(&n, "Malformed input request: %s", body_error[0] ? body_error : "the body is empty");
    else if (op == SCENARIO_OP_CONVERSE || op == SCENARIO_OP_CONVERSE_STREAM)
        ok = norm_converse(&n, v, m, false) && check_prefill(&n, m, v, true);
    else
        ok = norm_messages(&n, v, m) && check_prefill(&n, m, v, false);
    if (why)
        snprintf(why, whylen, "%s", ok ? "" : n.err);
    if (tokens)
        *tokens = n.tokens;
    norm_cleanup(&n);
    json_decref(v);
    return ok;
}

/* Apply an error/drop fault; true if it answered. */
static bool apply_fatal(struct emu_call *c, const struct scenario_fault *f)
{
    emu_note(c, "fault", json_string(f->type));
    if (f->kind == SCENARIO_FAULT_DROP) {
        emu_note_status(c, 0, "dropped");
        httpd_resp_abort(c->resp);
        c->finished = true;
        return true;
    }
    emu_send_error(c, f->status, f->code, f->message, f->retry_after_ms);
    return true;
}

void emu_bedrock(struct emu_call *c)
{
    const struct model_info *m = NULL;
    if (!check_model(c, &m))
        return;

    /* request-level faults, before the body is looked at (as AWS throttles) */
    struct scenario_fault f;
    int64_t slow_ms = 0;
    if (emu_take_fault(c, 1u << SCENARIO_FAULT_ERROR | 1u << SCENARIO_FAULT_DROP, &f)) {
        apply_fatal(c, &f);
        scenario_fault_cleanup(&f);
        return;
    }
    if (emu_take_fault(c, 1u << SCENARIO_FAULT_SLOW, &f)) {
        slow_ms = f.delay_ms;
        emu_note(c, "fault", json_string(f.type));
        scenario_fault_cleanup(&f);
    }

    if (c->op == SCENARIO_OP_COUNT_TOKENS) {
        count_tokens(c, m);
        return;
    }
    bool converse = c->op == SCENARIO_OP_CONVERSE || c->op == SCENARIO_OP_CONVERSE_STREAM;
    bool stream = c->op == SCENARIO_OP_INVOKE_STREAM || c->op == SCENARIO_OP_CONVERSE_STREAM;
    struct norm n;
    norm_init(&n);
    bool ok;
    if (!c->body)
        ok = converse ? invalid(&n, "Malformed input request: %s, please reformat your input and try again.",
                                c->body_error[0] ? c->body_error : "the body is empty")
                      : invalid(&n, "Malformed input request: %s, please reformat your input and try again.",
                                c->body_error[0] ? c->body_error : "#: expected type: JSONObject, found: Null");
    else
        ok = (converse ? norm_converse(&n, c->body, m, false) : norm_messages(&n, c->body, m)) &&
             check_prefill(&n, m, c->body, converse);
    if (!ok) {
        emu_send_error(c, 400, "ValidationException", n.err, -1);
        norm_cleanup(&n);
        return;
    }

    /* the scenario's answer, or the echo */
    const struct scenario_response *r = NULL;
    if (c->em->has_scenario) {
        const struct scenario_rule *rule = NULL;
        size_t step = 0;
        struct scenario_input in = {.op = c->op,
                                    .model_id = c->model_id,
                                    .base_id = c->base_id,
                                    .text = buf_cstr(&n.text),
                                    .text_len = n.text.len,
                                    .tool_results = buf_cstr(&n.tool_results),
                                    .tool_results_len = n.tool_results.len,
                                    .has_text = n.has_text,
                                    .has_tool_results = n.has_tool_results};
        r = scenario_match(&c->em->scenario, &in, &rule, &step);
        if (rule) {
            char name[64];
            if (!rule->name)
                snprintf(name, sizeof name, "rules[%zu]", (size_t)(rule - c->em->scenario.rules));
            emu_note(c, "rule", json_string(rule->name ? rule->name : name));
            emu_note(c, "step", json_integer((json_int_t)step));
        } else if (r) {
            emu_note(c, "rule", json_string("default"));
        }
    }

    /* faults the response asks for, then stream faults from the active list */
    struct scenario_fault cut = {0}, crc = {0};
    bool have_cut = false, have_crc = false;
    for (size_t i = 0; r && i < r->faults.n; i++) {
        const struct scenario_fault *rf = &r->faults.v[i];
        if (rf->kind == SCENARIO_FAULT_ERROR || rf->kind == SCENARIO_FAULT_DROP) {
            apply_fatal(c, rf);
            norm_cleanup(&n);
            return;
        }
        if (rf->kind == SCENARIO_FAULT_SLOW) {
            slow_ms += rf->delay_ms;
            emu_note(c, "fault", json_string(rf->type));
        } else if (stream && !have_cut &&
                   (rf->kind == SCENARIO_FAULT_STREAM_EXCEPTION || rf->kind == SCENARIO_FAULT_TRUNCATE)) {
            scenario_fault_copy(&cut, rf);
            have_cut = true;
        } else if (stream && !have_crc && rf->kind == SCENARIO_FAULT_BAD_CRC) {
            scenario_fault_copy(&crc, rf);
            have_crc = true;
        }
    }
    if (stream && !have_cut)
        have_cut = emu_take_fault(c, 1u << SCENARIO_FAULT_STREAM_EXCEPTION | 1u << SCENARIO_FAULT_TRUNCATE, &cut);
    if (stream && !have_crc)
        have_crc = emu_take_fault(c, 1u << SCENARIO_FAULT_BAD_CRC, &crc);
    if (have_cut)
        emu_note(c, "streamFault", json_string(cut.type));
    if (have_crc)
        emu_note(c, "crcFault", json_integer(crc.after));

    struct answer *a = xcalloc(1, sizeof *a);
    if (r)
        scenario_answer(r, &n, converse, a);
    else
        echo_answer(&n, a);
    /* thinking shown or not: "omitted" leaves only the signature; the newer
     * models (Opus 4.7 on) omit it unless "summarized" was asked */
    if (n.thinking_display == 2 || (n.thinking_display == 0 && m && m->newer))
        for (size_t i = 0; i < a->n; i++)
            if (a->blocks[i].type == SCENARIO_THINKING)
                a->blocks[i].text = "";
    model_display(m, a->model, sizeof a->model);
    {
        uint8_t d[SHA256_LEN];
        crypto_sha256(c->id, strlen(c->id), d);
        char tail[23];
        base62(d, sizeof d, tail, sizeof tail);
        snprintf(a->msg_id, sizeof a->msg_id, "msg_bdrk_01%s", tail);
    }
    struct usage *u = &a->usage;
    u->cache_fields = n.n_cps > 0;
    cache_account(c, &n, m, u);
    u->input = n.tokens - u->cache_read - u->cache_write;
    if (u->input < 0)
        u->input = 0;
    u->output = output_estimate(a);
    if (r) {
        if (r->usage.input >= 0)
            u->input = r->usage.input;
        if (r->usage.output >= 0)
            u->output = r->usage.output;
        if (r->usage.cache_read >= 0)
            u->cache_read = r->usage.cache_read;
        if (r->usage.cache_write >= 0) {
            u->cache_write = r->usage.cache_write;
            if (u->write_1h)
                u->write_1h = u->cache_write;
            else
                u->write_5m = u->cache_write;
        }
    }
    emu_note(c, "usage", usage_note(u));
    int64_t delay = a->first_byte_delay_ms + slow_ms;
    if (delay > SCENARIO_MAX_DELAY_MS)
        delay = SCENARIO_MAX_DELAY_MS;

    struct job *j = xcalloc(1, sizeof *j);
    j->c = c;
    j->stream = stream;
    buf_init(&j->body, EMULATOR_MAX_FRAMES);
    bool built = true;
    if (stream) {
        frames_init(&j->f, c->op == SCENARIO_OP_INVOKE_STREAM);
        if (converse)
            build_converse_stream(&j->f, a);
        else
            build_invoke_stream(&j->f, a);
        built = !j->f.failed && buf_status(&j->f.bytes) == BROCK_OK;
        if (built)
            apply_stream_faults(&j->f, have_cut ? &cut : NULL, have_crc ? &crc : NULL);
        j->event_delay_ms = a->event_delay_ms;
        j->abort_at_end = have_cut && cut.kind == SCENARIO_FAULT_TRUNCATE && cut.abort;
        emu_note(c, "frames", json_integer((json_int_t)j->f.n));
    } else if (converse) {
        render_converse(&j->body, a, delay + 1);
        j->ctype = "application/json";
    } else {
        render_messages(&j->body, a);
        j->ctype = "application/json";
        static const char *const names[] = {"X-Amzn-Bedrock-Input-Token-Count", "X-Amzn-Bedrock-Output-Token-Count",
                                            "X-Amzn-Bedrock-Cache-Read-Input-Token-Count",
                                            "X-Amzn-Bedrock-Cache-Write-Input-Token-Count",
                                            "X-Amzn-Bedrock-Invocation-Latency"};
        const int64_t vals[] = {u->input, u->output, u->cache_read, u->cache_write, delay + 1};
        _Static_assert(BROCK_ARRAY_LEN(names) <= BROCK_ARRAY_LEN(j->hdr_name), "header slots");
        for (size_t i = 0; i < BROCK_ARRAY_LEN(names); i++) {
            j->hdr_name[i] = names[i];
            snprintf(j->hdr_value[i], sizeof j->hdr_value[i], "%lld", (long long)vals[i]);
        }
        j->n_hdr = BROCK_ARRAY_LEN(names);
    }
    if (!stream)
        built = buf_status(&j->body) == BROCK_OK;
    answer_cleanup(a);
    free(a);
    norm_cleanup(&n);
    if (have_cut)
        scenario_fault_cleanup(&cut);
    if (have_crc)
        scenario_fault_cleanup(&crc);
    if (!built) {
        j->c = NULL;
        job_free(j);
        emu_send_error(c, 500, "InternalServerException", "The answer is larger than brock emulate can stream.", -1);
        return;
    }
    emu_note_status(c, 200, NULL);
    job_run(j, delay);
}
