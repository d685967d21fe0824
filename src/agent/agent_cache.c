/* agent_cache.c - where prompt-cache points go (see agent.h).
 *
 * Bedrock (like Anthropic's API) caches the prefix of a request up to a
 * block marked cache_control, if that prefix is at least the model's
 * minimum cacheable length, and allows four markers per request. The
 * prefix order is tools, system, messages. brock marks:
 *   1. the last tool definition (tools rarely change),
 *   2. the system prompt (memory files change it now and then),
 *   3. the last block of the last message: written now, read next call,
 *   4. the last block of the message that ended the previous request:
 *      that prefix was written by the previous call, so it is read now
 *      even when the new end is not cached yet.
 * Each only when the estimated prefix up to it reaches the minimum. */
#include <string.h>

#include "agent_int.h"

void agent_cache_plan(uint32_t min_tokens, bool disabled, int64_t tools_tokens, int64_t system_tokens,
                      const int64_t *msg_tokens, size_t n_msgs, size_t prev_end, struct agent_cache_plan *out)
{
    memset(out, 0, sizeof *out);
    out->msg[0] = out->msg[1] = SIZE_MAX;
    if (disabled || min_tokens == 0)
        return;
    int64_t prefix = tools_tokens;
    if (tools_tokens > 0 && prefix >= (int64_t)min_tokens) {
        out->tools = true;
        out->count++;
    }
    prefix += system_tokens;
    if (system_tokens > 0 && prefix >= (int64_t)min_tokens) {
        out->system = true;
        out->count++;
    }
    if (n_msgs == 0)
        return;
    int64_t at_prev = -1;
    for (size_t i = 0; i < n_msgs; i++) {
        prefix += msg_tokens[i] > 0 ? msg_tokens[i] : 0;
        if (i == prev_end)
            at_prev = prefix;
    }
    if (prev_end < n_msgs - 1 && at_prev >= (int64_t)min_tokens) {
        out->msg[out->n_msg++] = prev_end;
        out->count++;
    }
    if (prefix >= (int64_t)min_tokens) {
        out->msg[out->n_msg++] = n_msgs - 1;
        out->count++;
    }
}

static bool planned(const struct agent_cache_plan *p, size_t i)
{
    for (size_t k = 0; k < p->n_msg; k++)
        if (p->msg[k] == i)
            return true;
    return false;
}

/* A copy of `blk` (an object) with the marker. */
static json_t *marked_block(const json_t *blk)
{
    json_t *b = json_copy((json_t *)blk);
    json_object_set_new(b, "cache_control", json_pack("{s:s}", "type", "ephemeral"));
    return b;
}

static json_t *marked_message(json_t *m)
{
    json_t *content = json_object_get(m, "content");
    json_t *nc;
    if (json_is_string(content)) {
        if (!json_string_length(content))
            return json_incref(m);
        nc = json_array();
        json_t *t = json_pack("{s:s,s:O}", "type", "text", "text", content);
        json_array_append_new(nc, marked_block(t));
        json_decref(t);
    } else {
        size_t n = json_array_size(content);
        if (!n)
            return json_incref(m);
        json_t *last = json_array_get(content, n - 1);
        const char *type = json_string_value(json_object_get(last, "type"));
        if (!json_is_object(last) || !type || !strcmp(type, "thinking") || !strcmp(type, "redacted_thinking"))
            return json_incref(m); /* cache_control is not allowed on thinking blocks */
        nc = json_array();
        for (size_t i = 0; i + 1 < n; i++)
            json_array_append(nc, json_array_get(content, i));
        json_array_append_new(nc, marked_block(last));
    }
    json_t *copy = json_copy(m);
    json_object_set_new(copy, "content", nc);
    return copy;
}

json_t *agent_cache_messages(const json_t *messages, const struct agent_cache_plan *p)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        if (planned(p, i))
            json_array_append_new(out, marked_message(m));
        else
            json_array_append(out, m);
    }
    return out;
}

json_t *agent_cache_mark_last(const json_t *arr)
{
    json_t *out = json_array();
    size_t n = json_array_size(arr);
    for (size_t i = 0; i + 1 < n; i++)
        json_array_append(out, json_array_get(arr, i));
    if (n)
        json_array_append_new(out, marked_block(json_array_get(arr, n - 1)));
    return out;
}
