/* agent_session.c - the agent's session on top of store.h, and the repair
 * of a stored conversation (see agent.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/json.h"
#include "agent_int.h"

/* ---- persistence ---------------------------------------------------------- */

static bool usable(const struct agent *a)
{
    return a->cfg.store && !a->store_broken;
}

static void broken(struct agent *a, const char *what, const struct brock_err *e)
{
    a->store_broken = true;
    agent_warn(a, "the session store failed while %s (%s); this session is no longer saved", what, e->msg);
}

/* A one-line title: the first characters of the prompt, blanks squeezed,
 * cut on a character boundary. */
static void make_title(const char *prompt, char *out, size_t outlen)
{
    size_t o = 0, chars = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)prompt; *p && chars < AGENT_TITLE_MAX; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            space = o > 0;
            continue;
        }
        size_t len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 1;
        if (o + len + 2 >= outlen)
            break;
        if (space) {
            out[o++] = ' ';
            chars++;
            space = false;
        }
        for (size_t k = 0; k < len && p[k]; k++)
            out[o++] = (char)p[k];
        p += len - 1;
        chars++;
    }
    out[o] = '\0';
}

void agent_store_begin(struct agent *a, const char *first_prompt)
{
    if (!usable(a) || a->session_stored)
        return;
    char title[AGENT_TITLE_MAX * 4 + 8];
    make_title(first_prompt, title, sizeof title);
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    if (store_session_create(a->cfg.store, a->cwd, title, a->model_id, id, &e) != BROCK_OK) {
        broken(a, "creating the session", &e);
        return;
    }
    memcpy(a->session_id, id, sizeof id);
    a->session_stored = true;
}

void agent_store_message(struct agent *a, const json_t *msg, const struct model_result *res, int64_t *seq)
{
    *seq = 0;
    if (!usable(a) || !a->session_stored)
        return;
    char *content = json_dump_compact(json_object_get(msg, "content"));
    struct store_message m = {
        .role = json_string_value(json_object_get(msg, "role")),
        .content_json = content,
        .model = res ? (res->model_id[0] ? res->model_id : a->model_id) : NULL,
        .request_id = res && res->request_id[0] ? res->request_id : NULL,
    };
    if (res)
        m.usage = res->usage;
    struct brock_err e = {0};
    if (store_session_append(a->cfg.store, a->session_id, &m, seq, &e) != BROCK_OK)
        broken(a, "saving a message", &e);
    free(content);
}

void agent_store_tool_call(struct agent *a, const char *id, const char *name, const json_t *input,
                           const char *result, size_t len, bool is_error, int64_t duration_ms)
{
    if (!usable(a) || !a->session_stored)
        return;
    char *in = json_dump_compact(input);
    struct store_tool_call t = {
        .tool_use_id = id && *id ? id : NULL,
        .name = name,
        .input_json = in,
        .result = result ? result : "",
        .result_len = result ? len : 0,
        .is_error = is_error,
        .duration_ms = duration_ms,
    };
    struct brock_err e = {0};
    if (store_session_tool_call(a->cfg.store, a->session_id, &t, &e) != BROCK_OK)
        broken(a, "saving a tool call", &e);
    free(in);
}

void agent_store_permission(struct agent *a, const char *tool, const char *subject, const char *decision,
                            const char *rule, const char *source)
{
    if (!usable(a) || !a->session_stored)
        return;
    /* keep stored fields within the store's cap (a Bash command may be long) */
    char *subj = subject && strlen(subject) >= STORE_TEXT_MAX ? xstrndup(subject, STORE_TEXT_MAX - 1) : NULL;
    if (subj) { /* do not end inside a UTF-8 sequence */
        size_t l = strlen(subj);
        while (l > 0 && ((unsigned char)subj[l - 1] & 0xC0) == 0x80)
            l--;
        if (l > 0 && (unsigned char)subj[l - 1] >= 0xC0)
            l--;
        subj[l] = '\0';
    }
    struct store_permission p = {.tool = tool, .subject = subj ? subj : subject, .decision = decision,
                                 .rule = rule, .source = source};
    struct brock_err e = {0};
    if (store_session_permission(a->cfg.store, a->session_id, &p, &e) != BROCK_OK)
        broken(a, "saving a permission decision", &e);
    free(subj);
}

void agent_store_ledger(struct agent *a, const char *model_id, const struct model_result *res,
                        enum brock_status st, const struct brock_err *e, double cost)
{
    if (!usable(a))
        return;
    const char *status = "ok";
    if (st != BROCK_OK)
        status = st == BROCK_ERR_INTERRUPTED ? "interrupted" : e && e->aws_code[0] ? e->aws_code : brock_status_name(st);
    struct store_ledger_row r = {
        .session_id = a->session_stored ? a->session_id : NULL,
        .user = a->user,
        .project = a->cwd,
        .model = model_id,
        .profile = res->model_id[0] ? res->model_id : model_id,
        .region = res->region[0] ? res->region : a->region,
        .api = a->cfg.api == MODEL_API_CONVERSE ? "converse" : "messages",
        .usage = res->usage,
        .latency_ms = res->latency_ms,
        .ttft_ms = res->ttft_ms,
        .retries = res->attempts > 1 ? res->attempts - 1 : 0,
        .status = status,
        .request_id = res->request_id[0] ? res->request_id : NULL,
        .cost_usd = cost >= 0 ? cost : 0,
    };
    struct brock_err le = {0};
    if (store_ledger_insert(a->cfg.store, &r, NULL, &le) != BROCK_OK)
        broken(a, "recording usage", &le);
}

void agent_store_compaction(struct agent *a, int64_t upto_seq, const json_t *summary_content)
{
    if (!usable(a) || !a->session_stored || upto_seq <= 0)
        return;
    char *s = json_dump_compact(summary_content);
    struct brock_err e = {0};
    if (store_session_compact(a->cfg.store, a->session_id, upto_seq, s, &e) != BROCK_OK)
        broken(a, "saving the compaction summary", &e);
    free(s);
}

/* ---- repair --------------------------------------------------------------- */

struct rmsg {
    bool user;
    json_t *content; /* array of blocks (own reference) */
    int64_t seq;
};

static const char *btype(const json_t *blk)
{
    const char *t = json_string_value(json_object_get(blk, "type"));
    return t ? t : "";
}

static bool has_cache_control(const json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) if (!strcmp(k, "cache_control") || has_cache_control(x)) return true;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (has_cache_control(x)) return true;
    }
    return false;
}

static void drop_cache_control(json_t *v)
{
    if (json_is_object(v)) {
        json_object_del(v, "cache_control");
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) drop_cache_control(x);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) drop_cache_control(x);
    }
}

/* A block we can send, or NULL (dropped). New reference. */
static json_t *clean_block(json_t *blk, bool user, size_t *changes)
{
    if (!json_is_object(blk)) {
        ++*changes;
        return NULL;
    }
    const char *t = btype(blk);
    bool ok;
    if (!strcmp(t, "text"))
        ok = json_is_string(json_object_get(blk, "text")) && json_string_length(json_object_get(blk, "text")) > 0;
    else if (!strcmp(t, "tool_use"))
        ok = !user && json_is_string(json_object_get(blk, "id")) && json_string_length(json_object_get(blk, "id")) &&
             json_is_string(json_object_get(blk, "name")) && json_is_object(json_object_get(blk, "input"));
    else if (!strcmp(t, "tool_result"))
        ok = user && json_is_string(json_object_get(blk, "tool_use_id"));
    else if (!strcmp(t, "thinking") || !strcmp(t, "redacted_thinking"))
        ok = !user;
    else
        ok = !strcmp(t, "image") || !strcmp(t, "document"); /* unknown types would be refused */
    if (!ok) {
        ++*changes;
        return NULL;
    }
    if (has_cache_control(blk)) { /* markers belong to requests, never to the history */
        ++*changes;
        json_t *c = json_deep_copy(blk);
        drop_cache_control(c);
        return c;
    }
    return json_incref(blk);
}

static bool rmsg_from_json(json_t *m, struct rmsg *out, size_t *changes)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    if (!json_is_object(m) || !role || (strcmp(role, "user") && strcmp(role, "assistant"))) {
        ++*changes;
        return false;
    }
    out->user = !strcmp(role, "user");
    out->content = json_array();
    json_t *c = json_object_get(m, "content");
    if (json_is_string(c)) {
        ++*changes; /* normalised to a block */
        if (json_string_length(c))
            json_array_append_new(out->content, json_pack("{s:s,s:O}", "type", "text", "text", c));
    } else if (json_is_array(c)) {
        size_t i;
        json_t *b;
        json_array_foreach(c, i, b)
        {
            json_t *x = clean_block(b, out->user, changes);
            if (x)
                json_array_append_new(out->content, x);
        }
    } else {
        ++*changes;
    }
    if (!json_array_size(out->content)) {
        json_decref(out->content);
        ++*changes;
        return false;
    }
    return true;
}

/* Merge runs of one role (in place over v[0..n)); returns the new count. */
static size_t merge_roles(struct rmsg *v, size_t n, size_t *changes)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o && v[o - 1].user == v[i].user) {
            json_array_extend(v[o - 1].content, v[i].content);
            json_decref(v[i].content);
            if (v[i].seq > v[o - 1].seq)
                v[o - 1].seq = v[i].seq;
            ++*changes;
        } else {
            v[o++] = v[i];
        }
    }
    return o;
}

/* One pass of the pairing rules; returns the new count (the array has room
 * for 2n + 1 entries). */
static size_t pair_tools(struct rmsg *v, size_t n, size_t *changes)
{
    /* a leading assistant message cannot be sent */
    size_t start = 0;
    while (start < n && !v[start].user) {
        json_decref(v[start].content);
        start++;
        ++*changes;
    }
    if (start) {
        memmove(v, v + start, (n - start) * sizeof *v);
        n -= start;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].user) { /* not after tool uses (those are handled with their answer): no results */
            json_t *keep = json_array();
            size_t k;
            json_t *b;
            json_array_foreach(v[i].content, k, b)
            {
                if (!strcmp(btype(b), "tool_result"))
                    ++*changes;
                else
                    json_array_append(keep, b);
            }
            json_decref(v[i].content);
            v[i].content = keep;
            continue;
        }
        /* assistant: unique tool_use ids, in order (a set for lookups) */
        json_t *ids = json_array(), *idset = json_object(), *content = json_array();
        size_t k;
        json_t *b;
        json_array_foreach(v[i].content, k, b)
        {
            if (!strcmp(btype(b), "tool_use")) {
                const char *id = json_string_value(json_object_get(b, "id"));
                if (json_object_get(idset, id)) {
                    ++*changes;
                    continue;
                }
                json_object_set_new(idset, id, json_true());
                json_array_append_new(ids, json_string(id));
            }
            json_array_append(content, b);
        }
        json_decref(v[i].content);
        v[i].content = content;
        if (!json_array_size(ids)) {
            json_decref(ids);
            json_decref(idset);
            continue;
        }
        if (i + 1 == n || !v[i + 1].user) { /* make room for a user message */
            memmove(v + i + 2, v + i + 1, (n - i - 1) * sizeof *v);
            v[i + 1] = (struct rmsg){.user = true, .content = json_array(), .seq = 0};
            n++;
            ++*changes;
        }
        /* the next user message: this turn's results first, in tool_use order */
        json_t *found = json_object(), *rest = json_array();
        json_array_foreach(v[i + 1].content, k, b)
        {
            if (strcmp(btype(b), "tool_result")) {
                json_array_append(rest, b);
                continue;
            }
            const char *id = json_string_value(json_object_get(b, "tool_use_id"));
            if (!json_object_get(idset, id) || json_object_get(found, id))
                ++*changes; /* not this turn's, or a second result */
            else
                json_object_set(found, id, b);
        }
        json_t *results = json_array();
        size_t x;
        json_t *id;
        json_array_foreach(ids, x, id)
        {
            json_t *r = json_object_get(found, json_string_value(id));
            if (r) {
                json_array_append(results, r);
            } else {
                json_array_append_new(results,
                                      json_pack("{s:s,s:s,s:s,s:b}", "type", "tool_result", "tool_use_id",
                                                json_string_value(id), "content",
                                                "Interrupted: no result was recorded for this tool call.",
                                                "is_error", 1));
                ++*changes;
            }
        }
        /* was the order already right? */
        size_t nres = json_array_size(results);
        for (k = 0; k < nres; k++)
            if (json_array_get(v[i + 1].content, k) != json_array_get(results, k)) {
                ++*changes;
                break;
            }
        json_array_extend(results, rest);
        json_decref(v[i + 1].content);
        v[i + 1].content = results;
        json_decref(rest);
        json_decref(found);
        json_decref(idset);
        json_decref(ids);
        i++; /* the user message is done */
    }
    /* drop messages left empty */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (!json_array_size(v[i].content)) {
            json_decref(v[i].content);
            ++*changes;
        } else {
            v[o++] = v[i];
        }
    }
    return o;
}

size_t agent_history_repair_seq(json_t *messages, const int64_t *seqs, int64_t **seqs_out)
{
    size_t n = json_array_size(messages), changes = 0;
    struct rmsg *v = xcalloc(2 * n + 2, sizeof *v);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (rmsg_from_json(json_array_get(messages, i), &v[m], &changes)) {
            v[m].seq = seqs ? seqs[i] : 0;
            m++;
        }
    }
    /* Each pass either changes nothing or removes or merges a message (an
     * inserted result message cannot be removed again), so this ends. */
    for (size_t pass = 0; pass < 2 * n + 4; pass++) {
        size_t before = changes;
        m = merge_roles(v, m, &changes);
        m = pair_tools(v, m, &changes);
        if (changes == before)
            break;
    }
    json_array_clear(messages);
    int64_t *so = seqs_out ? xcalloc(m + 1, sizeof *so) : NULL;
    for (size_t i = 0; i < m; i++) {
        json_array_append_new(messages, json_pack("{s:s,s:o}", "role", v[i].user ? "user" : "assistant", "content",
                                                  v[i].content));
        if (so)
            so[i] = v[i].seq;
    }
    if (seqs_out)
        *seqs_out = so;
    free(v);
    return changes;
}

size_t agent_history_repair(json_t *messages)
{
    if (!json_is_array(messages))
        return 0;
    return agent_history_repair_seq(messages, NULL, NULL);
}

/* ---- resume --------------------------------------------------------------- */

enum brock_status agent_resume(struct agent *a, const char *session_id, struct brock_err *e)
{
    if (!a->cfg.store)
        return err_set(e, BROCK_ERR_USAGE, "resuming a session needs the session store");
    if (json_array_size(a->messages))
        return err_set(e, BROCK_ERR_USAGE, "resume: the conversation is not empty");
    struct store_transcript t;
    memset(&t, 0, sizeof t);
    enum brock_status st = store_session_load(a->cfg.store, session_id, false, &t, e);
    if (st != BROCK_OK)
        return st;
    size_t first = t.n > AGENT_MAX_MESSAGES ? t.n - AGENT_MAX_MESSAGES : 0;
    json_t *msgs = json_array();
    int64_t *seqs = xcalloc(t.n + 2, sizeof *seqs);
    size_t n = 0, bad = 0;
    if (t.summary_json && !first) {
        json_t *c = NULL;
        if (json_parse(t.summary_json, strlen(t.summary_json), "the session's summary", &c, NULL) == BROCK_OK) {
            json_array_append_new(msgs, json_pack("{s:s,s:o}", "role", "user", "content", c));
            seqs[n++] = t.summary_upto;
        } else {
            bad++;
        }
    }
    for (size_t i = first; i < t.n; i++) {
        const struct store_loaded_message *m = &t.messages[i];
        json_t *c = NULL;
        if (json_parse(m->content_json, strlen(m->content_json), "a stored message", &c, NULL) != BROCK_OK) {
            bad++;
            continue;
        }
        json_array_append_new(msgs, json_pack("{s:s,s:o}", "role", m->role, "content", c));
        seqs[n++] = m->seq;
    }
    int64_t *fixed = NULL;
    size_t changes = agent_history_repair_seq(msgs, seqs, &fixed);
    free(seqs);
    if (bad)
        agent_warn(a, "session %s: %zu stored message%s could not be read and were left out", t.info.id, bad,
                   bad == 1 ? "" : "s");
    if (changes)
        agent_warn(a, "session %s: the stored conversation was repaired (%zu change%s, e.g. a tool call "
                                   "cut short)",
                                t.info.id, changes, changes == 1 ? "" : "s");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) agent_push(a, json_incref(m), fixed[i]);
    free(fixed);
    json_decref(msgs);
    memcpy(a->session_id, t.info.id, sizeof a->session_id);
    a->session_stored = true;
    a->last_context = 0;
    a->last_context_n = 0;
    a->prev_end = SIZE_MAX;
    a->cache_reset = true;
    store_transcript_cleanup(&t);
    return BROCK_OK;
}
