/* fuzz_agent_history.c - a stored conversation (the session database is
 * outside input: a crash, a bug or a person may have damaged it) through
 * agent_history_repair, then the cache plan and the compaction cut on the
 * repaired conversation. The invariants are checked and a violation aborts:
 * roles alternate starting with the user, every tool_use is answered by
 * exactly one tool_result first in the next message, no cache_control is
 * left, a second repair changes nothing, at most four cache points, and the
 * compaction cut never separates a tool_use from its result.
 *
 * Input: the first byte picks the minimum cacheable length and the share
 * kept by compaction; the rest is JSON (an array of messages, or an object
 * with "messages"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/agent.h"
#include "../src/bedrock/bedrock_wire.h"
#include "../src/util/json.h"

#define MAX_INPUT (256 * 1024)

static const char *type_of(const json_t *b)
{
    const char *t = json_string_value(json_object_get(b, "type"));
    return t ? t : "";
}

static int count_key(const json_t *v, const char *key)
{
    int n = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) n += !strcmp(k, key) + count_key(x, key);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) n += count_key(x, key);
    }
    return n;
}

/* Valid as the loop sends it, starting at message `from` (0 or 1). */
static void check_valid(const json_t *m, size_t from)
{
    size_t n = json_array_size(m);
    for (size_t i = from; i < n; i++) {
        const json_t *msg = json_array_get(m, i);
        const char *role = json_string_value(json_object_get(msg, "role"));
        const json_t *c = json_object_get(msg, "content");
        if (!role || strcmp(role, (i % 2) ? "assistant" : "user") || !json_array_size(c))
            abort();
        if (!(i % 2))
            continue;
        const json_t *next = json_object_get(json_array_get(m, i + 1), "content");
        size_t k, nuse = 0, nres = 0;
        json_t *b;
        json_array_foreach(c, k, b)
        {
            if (strcmp(type_of(b), "tool_use"))
                continue;
            const json_t *r = json_array_get(next, nuse++);
            if (!r || strcmp(type_of(r), "tool_result") ||
                strcmp(json_string_value(json_object_get(r, "tool_use_id")), json_string_value(json_object_get(b, "id"))))
                abort();
        }
        json_array_foreach(next, k, b) nres += !strcmp(type_of(b), "tool_result");
        if (nres != nuse)
            abort();
    }
    /* a user message after a message without tool uses holds no results */
    for (size_t i = 0; i < n; i += 2) {
        const json_t *prev = i ? json_object_get(json_array_get(m, i - 1), "content") : NULL;
        size_t k, uses = 0;
        json_t *b;
        json_array_foreach(prev, k, b) uses += !strcmp(type_of(b), "tool_use");
        if (uses)
            continue;
        json_array_foreach(json_object_get(json_array_get(m, i), "content"), k, b) if (!strcmp(type_of(b), "tool_result"))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    uint8_t knob = data[0];
    json_t *doc = NULL;
    if (json_parse((const char *)data + 1, size - 1, "fuzz", &doc, NULL) != BROCK_OK)
        return 0;
    json_t *m = json_is_object(doc) ? json_incref(json_object_get(doc, "messages")) : json_incref(doc);
    json_decref(doc);
    if (!json_is_array(m)) {
        json_decref(m);
        return 0;
    }
    agent_history_repair(m);
    check_valid(m, 0);
    if (count_key(m, "cache_control"))
        abort();
    if (agent_history_repair(m) != 0) /* idempotent */
        abort();

    size_t n = json_array_size(m);
    int64_t *toks = calloc(n + 1, sizeof *toks);
    for (size_t i = 0; i < n; i++) {
        json_t *one = json_array();
        json_array_append(one, json_array_get(m, i));
        struct model_request r = {.messages = one};
        toks[i] = bedrock_estimate_tokens(&r);
        json_decref(one);
    }
    static const uint32_t mins[] = {0, 1, 1024, 2048, 4096};
    struct agent_cache_plan p;
    agent_cache_plan(mins[knob % 5], false, (knob & 8) ? 5000 : 0, (knob & 16) ? 300 : 0, toks, n,
                     n ? (knob >> 5) % (n + 1) : SIZE_MAX, &p);
    if (p.count > 4)
        abort();
    json_t *marked = agent_cache_messages(m, &p);
    if (count_key(marked, "cache_control") > (int)p.n_msg)
        abort();
    json_decref(marked);

    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += toks[i];
    size_t k = agent_compact_cut(m, toks, total * (knob % 7) / 8);
    if (k) {
        if (k < 2 || k >= n || strcmp(json_string_value(json_object_get(json_array_get(m, k), "role")), "assistant"))
            abort();
        json_t *kept = json_array();
        json_array_append_new(kept, json_pack("{s:s,s:[{s:s,s:s}]}", "role", "user", "content", "type", "text", "text",
                                              "summary"));
        for (size_t i = k; i < n; i++)
            json_array_append(kept, json_array_get(m, i));
        check_valid(kept, 0);
        json_decref(kept);
    }
    free(toks);
    json_decref(m);
    return 0;
}
