/* agent_compact.c - summarising the older part of the conversation when the
 * context fills up (see agent.h).
 *
 * The summariser gets the older messages as a plain-text transcript (tool
 * calls and results cut short), not as Messages-API turns: it needs no tool
 * definitions, the request cannot be invalid whatever the history holds,
 * and its size is bounded. The conversation then starts with one user
 * message: a note that it continues, the summary, the files read or edited
 * (their contents are gone, so the model should read them again before
 * editing; the tool context still knows them, so an Edit of an unchanged
 * file works), and the user's request that the kept part answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bedrock/bedrock_wire.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "agent_int.h"
#include "tools.h"

#define TRANSCRIPT_TEXT_MAX 20000    /* bytes of one text block in the transcript */
#define TRANSCRIPT_TOOL_MAX 2000     /* bytes of one tool input or result */
#define TRANSCRIPT_MAX ((size_t)400 * 1024) /* the whole transcript (the newest part is kept) */
#define FILES_MAX 100                /* files listed in the summary */

static const char summariser_prompt[] =
    "You summarise a conversation between a user and brock, a coding assistant that works in the user's "
    "terminal with tools (reading and editing files, searching, running commands). The conversation is too "
    "long to continue, so your summary replaces its older part: the assistant will continue from it "
    "without seeing the original.\n\n"
    "Write the summary with these sections:\n"
    "1. Requests: what the user asked for and wants, with their own words where they matter "
    "(constraints, preferences, corrections).\n"
    "2. Work done: files read, created or changed (absolute paths) and what changed, commands run and "
    "what they showed, decisions made and why.\n"
    "3. Facts to keep: names, paths, error messages, commands, short code snippets that will be needed "
    "again.\n"
    "4. Open items: problems not solved yet, and the next step that was planned.\n\n"
    "Be specific and factual; never invent anything that is not in the conversation. Do not address the "
    "user. At most about 1500 words.";

static bool is_role(const json_t *m, const char *role)
{
    const char *r = json_string_value(json_object_get(m, "role"));
    return r && !strcmp(r, role);
}

size_t agent_compact_cut(const json_t *messages, const int64_t *msg_tokens, int64_t keep_tokens)
{
    size_t n = json_array_size(messages);
    size_t last = SIZE_MAX;
    for (size_t i = n; i-- > 0;)
        if (is_role(json_array_get(messages, i), "assistant")) {
            last = i;
            break;
        }
    if (last == SIZE_MAX)
        return 0;
    int64_t suffix = 0;
    for (size_t i = last; i < n; i++)
        suffix += msg_tokens[i] > 0 ? msg_tokens[i] : 0;
    size_t k = last;
    for (size_t i = last; i-- > 1;) {
        suffix += msg_tokens[i] > 0 ? msg_tokens[i] : 0;
        if (suffix > keep_tokens)
            break;
        if (is_role(json_array_get(messages, i), "assistant"))
            k = i;
    }
    return k >= 2 ? k : 0;
}

/* Append s (n bytes) cut to max bytes on a character boundary. */
static void add_cut(struct buf *b, const char *s, size_t n, size_t max)
{
    if (n <= max) {
        buf_add(b, s, n);
        return;
    }
    size_t l = max;
    while (l > 0 && ((unsigned char)s[l] & 0xC0) == 0x80)
        l--;
    buf_add(b, s, l);
    buf_addf(b, " [... %zu more bytes]", n - l);
}

static void add_json_cut(struct buf *b, const json_t *v, size_t max)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        add_cut(b, s, strlen(s), max);
        free(s);
    }
}

static void render_block(struct buf *b, const json_t *blk)
{
    const char *type = json_string_value(json_object_get(blk, "type"));
    if (!type)
        return;
    if (!strcmp(type, "text")) {
        const json_t *t = json_object_get(blk, "text");
        add_cut(b, json_string_value(t) ? json_string_value(t) : "", json_string_length(t), TRANSCRIPT_TEXT_MAX);
        buf_addc(b, '\n');
    } else if (!strcmp(type, "tool_use")) {
        buf_addf(b, "[tool call %s] ", json_string_value(json_object_get(blk, "name")));
        add_json_cut(b, json_object_get(blk, "input"), TRANSCRIPT_TOOL_MAX);
        buf_addc(b, '\n');
    } else if (!strcmp(type, "tool_result")) {
        bool err = json_is_true(json_object_get(blk, "is_error"));
        buf_addstr(b, err ? "[tool result, error] " : "[tool result] ");
        const json_t *c = json_object_get(blk, "content");
        if (json_is_string(c))
            add_cut(b, json_string_value(c), json_string_length(c), TRANSCRIPT_TOOL_MAX);
        else
            add_json_cut(b, c, TRANSCRIPT_TOOL_MAX);
        buf_addc(b, '\n');
    } else if (strcmp(type, "thinking") && strcmp(type, "redacted_thinking")) {
        buf_addf(b, "[%s block]\n", type);
    }
}

/* The transcript of messages[0..k): the newest TRANSCRIPT_MAX bytes. */
static char *render_transcript(const json_t *messages, size_t k)
{
    struct buf b = BUF_INIT((size_t)64 * 1024 * 1024);
    for (size_t i = 0; i < k; i++) {
        const json_t *m = json_array_get(messages, i);
        buf_addstr(&b, is_role(m, "user") ? "\n## User\n" : "\n## Assistant\n");
        const json_t *c = json_object_get(m, "content");
        if (json_is_string(c)) {
            add_cut(&b, json_string_value(c), json_string_length(c), TRANSCRIPT_TEXT_MAX);
            buf_addc(&b, '\n');
        }
        size_t j;
        json_t *blk;
        json_array_foreach(c, j, blk) render_block(&b, blk);
    }
    if (b.len <= TRANSCRIPT_MAX)
        return buf_take(&b);
    size_t from = b.len - TRANSCRIPT_MAX;
    while (from < b.len && ((unsigned char)b.ptr[from] & 0xC0) == 0x80)
        from++;
    struct buf o = BUF_INIT(TRANSCRIPT_MAX + 128);
    buf_addstr(&o, "[the beginning of the conversation is left out]\n");
    buf_add(&o, b.ptr + from, b.len - from);
    buf_free(&b);
    return buf_take(&o);
}

/* Files the summarised part read or changed, newest use last. */
static void list_files(const json_t *messages, size_t k, struct buf *out)
{
    json_t *seen = json_object(); /* path -> "read" | "edited" */
    for (size_t i = 0; i < k; i++) {
        size_t j;
        json_t *blk;
        json_array_foreach(json_object_get(json_array_get(messages, i), "content"), j, blk)
        {
            const char *type = json_string_value(json_object_get(blk, "type"));
            const char *name = json_string_value(json_object_get(blk, "name"));
            if (!type || strcmp(type, "tool_use") || !name)
                continue;
            const json_t *in = json_object_get(blk, "input");
            const char *path = json_string_value(json_object_get(in, "file_path"));
            if (!path)
                path = json_string_value(json_object_get(in, "notebook_path"));
            if (!path || strlen(path) > TOOL_PATH_MAX)
                continue;
            bool edit = strcmp(name, "Read") != 0;
            if (!strcmp(name, "Read") || !strcmp(name, "Edit") || !strcmp(name, "MultiEdit") ||
                !strcmp(name, "Write") || !strcmp(name, "NotebookEdit")) {
                const char *was = json_string_value(json_object_get(seen, path));
                bool edited = edit || (was && !strcmp(was, "edited"));
                json_object_del(seen, path); /* re-insert: newest last */
                if (json_object_size(seen) < FILES_MAX)
                    json_object_set_new(seen, path, json_string(edited ? "edited" : "read"));
            }
        }
    }
    const char *path;
    json_t *v;
    json_object_foreach(seen, path, v) buf_addf(out, "- %s (%s)\n", path, json_string_value(v));
    json_decref(seen);
}

enum brock_status agent_compact_now(struct agent *a, const char *instructions, struct agent_turn *turn,
                                    struct brock_err *e)
{
    size_t n = json_array_size(a->messages);
    /* keep about a quarter of the window, and never more than half of the
     * conversation: compaction must free something even when the estimate of
     * the messages is far below what the model counted */
    int64_t keep = (int64_t)((double)a->window * AGENT_COMPACT_KEEP), total = 0;
    for (size_t i = 0; i < n; i++)
        total += a->toks[i];
    if (keep > total / 2)
        keep = total / 2;
    size_t k = agent_compact_cut(a->messages, a->toks, keep);
    if (!k)
        return err_set(e, BROCK_ERR_USAGE, "there is not enough conversation to compact yet");

    char *transcript = render_transcript(a->messages, k);
    struct buf ask = BUF_INIT((size_t)1024 * 1024);
    buf_addstr(&ask, "Here is the conversation so far:\n\n<conversation>\n");
    buf_addstr(&ask, transcript);
    buf_addstr(&ask, "\n</conversation>\n\nSummarise it as instructed.");
    if (instructions && *instructions) {
        buf_addstr(&ask, " Pay special attention to: ");
        add_cut(&ask, instructions, strlen(instructions), 8192);
    }
    free(transcript);
    json_t *msgs = json_pack("[{s:s,s:[{s:s,s:s%}]}]", "role", "user", "content", "type", "text", "text",
                             buf_cstr(&ask), ask.len);
    json_t *system = json_pack("[{s:s,s:s}]", "type", "text", "text", summariser_prompt);
    buf_free(&ask);
    const struct model_info *cmi = a->cfg.compact_model_info;
    int max_tokens = AGENT_COMPACT_SUMMARY_TOKENS;
    if (cmi && cmi->max_output < (uint32_t)max_tokens)
        max_tokens = (int)cmi->max_output;
    struct model_request req = {
        .model_id = a->compact_model_id,
        .api = a->cfg.api,
        .stream = a->cfg.stream,
        .system = system,
        .messages = msgs,
        .max_tokens = max_tokens,
        .temperature = MODEL_UNSET,
        .top_p = MODEL_UNSET,
        .top_k = MODEL_UNSET,
    };
    struct model_result res;
    model_result_init(&res);
    enum brock_status st = agent_model_invoke(a, "compact", &req, NULL, &res, e);
    agent_account(a, "compact", a->compact_model_id, cmi, a->compact_geo, &res, st, 0, e, turn);
    json_decref(msgs);
    json_decref(system);
    char *summary = st == BROCK_OK ? model_result_text(&res) : NULL;
    model_result_cleanup(&res);
    if (st != BROCK_OK) {
        err_prefix(e, "compacting the conversation with %s", a->compact_model_id);
        return st;
    }
    if (!summary || !*summary) {
        free(summary);
        return err_set(e, BROCK_ERR_PARSE, "compacting the conversation: %s gave an empty summary",
                       a->compact_model_id);
    }

    /* The new first message. */
    struct buf t = BUF_INIT(BEDROCK_MAX_CONTENT_BYTES);
    buf_addstr(&t, "This session continues an earlier conversation that grew too long for the context. A "
                   "summary of the earlier part:\n\n");
    buf_addstr(&t, summary);
    free(summary);
    struct buf files = BUF_INIT(FILES_MAX * (TOOL_PATH_MAX + 16));
    list_files(a->messages, k, &files);
    if (files.len) {
        buf_addstr(&t, "\n\nFiles read or changed earlier (their contents are no longer in this conversation: "
                       "Read a file again before relying on its exact text or editing it):\n");
        buf_add(&t, files.ptr, files.len);
    }
    buf_free(&files);
    json_t *content = json_array();
    json_array_append_new(content, json_pack("{s:s,s:s%}", "type", "text", "text", buf_cstr(&t), t.len));
    buf_free(&t);
    /* the user's words that the kept part answers */
    const json_t *before = json_array_get(a->messages, k - 1);
    size_t j;
    json_t *blk;
    bool intro = false;
    json_array_foreach(json_object_get(before, "content"), j, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        if (type && !strcmp(type, "text")) {
            if (!intro) {
                json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text",
                                                         "The user's latest message before this point:"));
                intro = true;
            }
            json_array_append(content, blk);
        }
    }

    int64_t upto = 0;
    for (size_t i = 0; i < k; i++)
        if (a->seqs[i] > upto)
            upto = a->seqs[i];
    agent_store_compaction(a, upto, content);

    /* Replace messages[0..k) by the summary message. */
    json_t *kept = json_array();
    for (size_t i = k; i < n; i++)
        json_array_append(kept, json_array_get(a->messages, i));
    int64_t *seqs = xmalloc((n - k + 1) * sizeof *seqs);
    memcpy(seqs, a->seqs + k, (n - k) * sizeof *seqs);
    int64_t old_tokens = 0;
    for (size_t i = 0; i < k; i++)
        old_tokens += a->toks[i];
    json_array_clear(a->messages);
    agent_push(a, json_pack("{s:s,s:o}", "role", "user", "content", content), upto);
    size_t i;
    json_t *m;
    json_array_foreach(kept, i, m) agent_push(a, json_incref(m), seqs[i]);
    json_decref(kept);
    free(seqs);

    int64_t now = a->tools_tokens + a->system_tokens;
    for (i = 0; i < json_array_size(a->messages); i++)
        now += a->toks[i];
    a->last_context = now;
    a->last_context_n = json_array_size(a->messages);
    a->totals.context_tokens = now;
    a->prev_end = SIZE_MAX;
    a->cache_reset = true;
    a->totals.compactions++;

    char msg[512];
    snprintf(msg, sizeof msg,
             "compacted the conversation: %zu older messages (about %lld tokens) summarised by %s; %zu kept; "
             "the context is now about %lld tokens of %lld",
             k, (long long)old_tokens, a->compact_model_id, n - k, (long long)now, (long long)a->window);
    struct agent_event ev = {.type = AGENT_EV_COMPACT, .text = msg, .len = strlen(msg)};
    agent_emit(a, &ev);
    return BROCK_OK;
}

enum brock_status agent_maybe_compact(struct agent *a, struct agent_turn *turn, struct brock_err *e)
{
    if (!a->cfg.auto_compact)
        return BROCK_OK;
    size_t n = json_array_size(a->messages);
    int64_t ctx;
    size_t from;
    if (a->last_context > 0 && a->last_context_n <= n) {
        ctx = a->last_context;
        from = a->last_context_n;
    } else {
        ctx = a->tools_tokens + a->system_tokens;
        from = 0;
    }
    for (size_t i = from; i < n; i++)
        ctx += a->toks[i];
    int64_t threshold = (int64_t)((double)a->window * a->cfg.compact_threshold);
    if (ctx <= threshold)
        return BROCK_OK;
    /* after a failure, wait for two more messages (a new exchange) before trying again */
    if (a->compact_failed_n && n < a->compact_failed_n + 2)
        return BROCK_OK;
    struct brock_err ce = {0};
    enum brock_status st = agent_compact_now(a, NULL, turn, &ce);
    if (st == BROCK_ERR_INTERRUPTED)
        return err_set(e, st, "interrupted");
    a->compact_failed_n = st == BROCK_OK ? 0 : n;
    if (st != BROCK_OK)
        agent_warn(a, "the context is at about %lld of %lld tokens, but compaction failed: %s", (long long)ctx,
                   (long long)a->window, ce.msg);
    return BROCK_OK;
}
