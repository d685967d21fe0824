/* agent_tools.c - running the tool_use blocks of one answer (see agent.h):
 * checks in order on the agent's thread, read-only batches on threads,
 * results in the order of the tool_use blocks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/timeutil.h"
#include "agent_int.h"
#include "hooks.h"
#include "mcp.h"
#include "tools.h"

#define NOT_RUN_INTERRUPTED "Interrupted by the user: this tool call was not run."
#define RESULT_MAX (TOOL_TEXT_MAX + HOOKS_TEXT_MAX * 2 + 4096)

struct job {
    struct agent *a;
    const char *id, *name; /* borrowed from the answer */
    json_t *input;         /* own reference */
    const struct tool_def *def;
    const struct mcp_tool *mt;
    bool runnable;  /* passed every check; runs next */
    bool ran;       /* ran (post hooks apply) */
    bool is_error, interrupted;
    struct buf text, summary, diff;
    struct buf context; /* PreToolUse additionalContext, added to the result */
    int64_t t0, dur_ms;
};

static void job_init(struct job *j, struct agent *a, const json_t *blk)
{
    memset(j, 0, sizeof *j);
    j->a = a;
    j->id = json_string_value(json_object_get(blk, "id"));
    j->name = json_string_value(json_object_get(blk, "name"));
    if (!j->id)
        j->id = "";
    if (!j->name)
        j->name = "";
    json_t *in = json_object_get(blk, "input");
    j->input = in ? json_incref(in) : json_object();
    buf_init(&j->text, RESULT_MAX);
    buf_init(&j->summary, TOOL_SUMMARY_MAX * 4 + 64);
    buf_init(&j->diff, TOOL_DIFF_MAX);
    buf_init(&j->context, HOOKS_TEXT_MAX + 64);
}

static void job_cleanup(struct job *j)
{
    json_decref(j->input);
    buf_free(&j->text);
    buf_free(&j->summary);
    buf_free(&j->diff);
    buf_free(&j->context);
}

/* Give the job its final result without running it. */
static void job_fail(struct job *j, const char *text)
{
    buf_reset(&j->text);
    buf_addstr(&j->text, text);
    j->is_error = true;
    j->runnable = false;
}

/* Length of the valid UTF-8 sequence at p[i] (no overlong forms,
 * surrogates or values past U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t i, size_t n)
{
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n)
        return 0;
    if (len == 1)
        return 1;
    unsigned v = c & (0x7Fu >> len);
    for (size_t k = 1; k < len; k++) {
        if ((p[i + k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (p[i + k] & 0x3Fu);
    }
    bool ok = (len == 2 && v >= 0x80) || (len == 3 && v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) ||
              (len == 4 && v >= 0x10000 && v <= 0x10FFFF);
    return ok ? len : 0;
}

/* Replace bytes that are not UTF-8 with U+FFFD, in place (jansson refuses
 * invalid strings, and a result must never be lost). */
static void utf8_clean(struct buf *b)
{
    const unsigned char *p = (const unsigned char *)b->ptr;
    size_t n = b->len, i = 0, l;
    while (i < n && (l = utf8_len(p, i, n)) != 0)
        i += l;
    if (i == n)
        return;
    struct buf out = BUF_INIT(b->max + (n - i) * 2);
    buf_add(&out, b->ptr, i);
    while (i < n) {
        if ((l = utf8_len(p, i, n)) != 0) {
            buf_add(&out, p + i, l);
            i += l;
        } else {
            buf_add(&out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    buf_free(b);
    *b = out;
}

static bool is_offered(const struct agent *a, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(a->tools, i, t)
    {
        const char *n = json_string_value(json_object_get(t, "name"));
        if (n && !strcmp(n, name))
            return true;
    }
    return false;
}

static void unknown_tool(struct job *j)
{
    struct buf b = BUF_INIT(64 * 1024);
    buf_addf(&b, "Error: no tool named `%.200s`.", j->name);
    size_t n = json_array_size(j->a->tools), i;
    json_t *t;
    if (n) {
        buf_addstr(&b, " The available tools are: ");
        json_array_foreach(j->a->tools, i, t)
            buf_addf(&b, "%s%s", i ? ", " : "", json_string_value(json_object_get(t, "name")));
        buf_addc(&b, '.');
    } else {
        buf_addstr(&b, " No tools are available in this session.");
    }
    job_fail(j, buf_cstr(&b));
    buf_free(&b);
}

static void deny(struct job *j, const char *message)
{
    job_fail(j, message);
    json_array_append_new(j->a->denials, json_pack("{s:s,s:s,s:O}", "tool_name", j->name, "tool_use_id", j->id,
                                                    "tool_input", j->input));
}

static void record_decision(struct agent *a, const struct perm_decision *d)
{
    const char *decision = perm_verdict_name(d->verdict);
    char src[160];
    const char *source = d->rule_source;
    if (!source) {
        if (d->answer != PERM_ANSWER_NONE)
            snprintf(src, sizeof src, "user: %s", perm_answer_name(d->answer));
        else
            snprintf(src, sizeof src, "%s", perm_why_name(d->why));
        source = src;
    }
    agent_store_permission(a, d->tool, d->subject, decision, d->rule, source);
    struct agent_event ev = {.type = AGENT_EV_PERMISSION, .decision = d, .tool_name = d->tool};
    agent_emit(a, &ev);
}

/* The permission engine's verdict for the job's current input; asks when
 * the engine says ask and someone can answer. True = allowed. */
static bool permitted(struct job *j)
{
    struct agent *a = j->a;
    char *subject = j->def ? tool_subject(j->def, a->cfg.tools, j->input) : NULL;
    struct perm_decision d;
    perm_check(a->cfg.perm, j->name, subject, &d);
    free(subject);
    if (d.verdict == PERM_ASK) {
        if (a->cfg.ask) {
            char *feedback = NULL;
            enum perm_answer ans = a->cfg.ask(a->cfg.ask_ctx, &d, &feedback);
            if (ans == PERM_ANSWER_NONE)
                ans = PERM_ANSWER_NO;
            struct brock_err pe = {0};
            if (perm_answer(a->cfg.perm, &d, ans, feedback, &pe) != BROCK_OK) {
                if (ans == PERM_ANSWER_ALWAYS && perm_answer(a->cfg.perm, &d, PERM_ANSWER_YES, NULL, &pe) == BROCK_OK)
                    agent_warn(a, "could not save the rule: %s", pe.msg);
                else
                    agent_warn(a, "permission answer: %s", pe.msg);
            }
            free(feedback);
        }
        if (d.verdict == PERM_ASK) { /* nobody to ask, or the answer failed */
            d.verdict = PERM_DENY;
            char *m = NULL;
            if (asprintf(&m, "%s Nobody could be asked, so it was refused.", d.message ? d.message : "") >= 0) {
                free(d.message);
                d.message = m;
            }
        }
    }
    record_decision(a, &d);
    bool ok = d.verdict == PERM_ALLOW;
    if (!ok)
        deny(j, d.message ? d.message : "Permission denied.");
    perm_decision_cleanup(&d);
    return ok;
}

static void hook_user_text(struct agent *a, const struct hooks_outcome *o)
{
    if (o->user.len) {
        struct agent_event ev = {.type = AGENT_EV_HOOK, .text = buf_cstr(&o->user), .len = o->user.len};
        agent_emit(a, &ev);
    }
}

static void record_hook_denial(struct agent *a, struct job *j, const char *what)
{
    agent_store_permission(a, j->name, NULL, "deny", NULL, what);
}

/* PreToolUse hooks. False when the call must not run (the job has its result). */
static bool pre_hooks(struct job *j, bool *hook_stop)
{
    struct agent *a = j->a;
    if (!a->cfg.hooks || !hooks_matching(a->cfg.hooks, HOOKS_PRE_TOOL_USE, j->name))
        return true;
    struct hooks_input in = {.event = HOOKS_PRE_TOOL_USE, .tool_name = j->name, .tool_use_id = j->id,
                             .tool_input = j->input};
    struct hooks_outcome o;
    hooks_outcome_init(&o);
    struct brock_err he = {0};
    enum brock_status st = hooks_run(a->cfg.hooks, &in, &o, &he);
    hook_user_text(a, &o);
    bool go = true;
    if (st == BROCK_ERR_INTERRUPTED) {
        j->interrupted = true;
        job_fail(j, NOT_RUN_INTERRUPTED);
        go = false;
    } else if (o.stop) {
        *hook_stop = true;
        struct buf b = BUF_INIT(HOOKS_TEXT_MAX + 256);
        buf_addstr(&b, "A PreToolUse hook stopped the session; this tool call was not run.");
        if (o.stop_reason.len)
            buf_addf(&b, " Reason: %s", buf_cstr(&o.stop_reason));
        job_fail(j, buf_cstr(&b));
        buf_free(&b);
        go = false;
    } else if (o.block || o.decision == HOOKS_DENY) {
        struct buf b = BUF_INIT(HOOKS_TEXT_MAX + 256);
        buf_addstr(&b, "A PreToolUse hook blocked this tool call");
        if (o.reason.len)
            buf_addf(&b, ": %s", buf_cstr(&o.reason));
        else
            buf_addc(&b, '.');
        record_hook_denial(a, j, "PreToolUse hook");
        deny(j, buf_cstr(&b));
        buf_free(&b);
        go = false;
    } else if (o.decision == HOOKS_ASK && !a->cfg.ask) {
        record_hook_denial(a, j, "PreToolUse hook (ask)");
        deny(j, "A PreToolUse hook asked for the user's approval of this tool call, and nobody can be asked in "
                "this mode, so it was refused.");
        go = false;
    } else if (o.decision == HOOKS_ASK) {
        struct perm_decision d = {0};
        d.tool = xstrdup(j->name);
        d.verdict = PERM_ASK;
        d.asked = true;
        d.mode = perm_engine_mode(a->cfg.perm);
        d.message = xstrdup(o.user.len ? buf_cstr(&o.user) : "A PreToolUse hook asks for approval.");
        char *feedback = NULL;
        enum perm_answer ans = a->cfg.ask(a->cfg.ask_ctx, &d, &feedback);
        d.answer = ans;
        d.verdict = ans == PERM_ANSWER_YES || ans == PERM_ANSWER_ALWAYS ? PERM_ALLOW : PERM_DENY;
        free(d.rule_source);
        d.rule_source = xstrdup("PreToolUse hook");
        record_decision(a, &d);
        if (d.verdict != PERM_ALLOW) {
            struct buf b = BUF_INIT(8192);
            buf_addstr(&b, "The user refused this tool call");
            if (feedback && *feedback)
                buf_addf(&b, " and said: %.4000s", feedback);
            else
                buf_addc(&b, '.');
            deny(j, buf_cstr(&b));
            buf_free(&b);
            go = false;
        }
        free(feedback);
        perm_decision_cleanup(&d);
    }
    if (go && o.updated_input) {
        struct buf why = BUF_INIT(8192);
        if (!json_is_object(o.updated_input) || (j->def && tool_validate(j->def, o.updated_input, &why) != BROCK_OK)) {
            struct buf b = BUF_INIT(16384);
            buf_addf(&b, "A PreToolUse hook changed the input into something invalid: %s",
                     why.len ? buf_cstr(&why) : "not an object");
            job_fail(j, buf_cstr(&b));
            buf_free(&b);
            go = false;
        } else {
            json_decref(j->input);
            j->input = json_incref(o.updated_input);
            go = permitted(j); /* the new input gets its own verdict */
        }
        buf_free(&why);
    }
    if (go && o.context.len)
        buf_add(&j->context, o.context.ptr, o.context.len);
    hooks_outcome_cleanup(&o);
    return go;
}

/* Everything before running, on the agent's thread. */
static void prepare(struct job *j, bool *hook_stop)
{
    struct agent *a = j->a;
    if (!*j->name || !is_offered(a, j->name)) {
        unknown_tool(j);
        return;
    }
    j->def = tool_find(j->name);
    if (!j->def) {
        j->mt = a->cfg.mcp ? mcp_client_find(a->cfg.mcp, j->name) : NULL;
        if (!j->mt) {
            unknown_tool(j);
            return;
        }
    }
    if (j->def) {
        if (!a->cfg.tools) {
            unknown_tool(j);
            return;
        }
        struct buf why = BUF_INIT(8192);
        if (tool_validate(j->def, j->input, &why) != BROCK_OK) {
            job_fail(j, buf_cstr(&why));
            buf_free(&why);
            return;
        }
        buf_free(&why);
    } else if (!json_is_object(j->input)) {
        job_fail(j, "Error: the tool input must be a JSON object.");
        return;
    }
    if (!permitted(j))
        return;
    if (!pre_hooks(j, hook_stop))
        return;
    j->runnable = true;
    struct buf line = BUF_INIT(TOOL_SUMMARY_MAX * 4 + 64);
    if (j->def)
        tool_summary(j->def, a->cfg.tools, j->input, &line);
    else
        buf_addf(&line, "%s (MCP server %s)", j->mt->tool, j->mt->server);
    struct agent_event ev = {.type = AGENT_EV_TOOL_START, .tool_use_id = j->id, .tool_name = j->name,
                             .input = j->input, .text = buf_cstr(&line), .len = line.len};
    agent_emit(a, &ev);
    buf_free(&line);
}

static void move_buf(struct buf *dst, struct buf *src)
{
    buf_reset(dst);
    buf_add(dst, src->ptr ? src->ptr : "", src->len);
}

/* Run one job (any thread). */
static void run_job(struct job *j)
{
    struct agent *a = j->a;
    j->t0 = time_mono_ms();
    if (j->def) {
        struct tool_result r;
        tool_result_init(&r);
        enum brock_status st = tool_call(a->cfg.tools, j->def, j->input, &r);
        move_buf(&j->text, &r.text);
        move_buf(&j->summary, &r.summary);
        move_buf(&j->diff, &r.diff);
        j->is_error = r.is_error;
        j->interrupted = r.interrupted || st == BROCK_ERR_INTERRUPTED;
        tool_result_cleanup(&r);
    } else {
        struct mcp_result r;
        mcp_result_init(&r);
        enum brock_status st = mcp_client_call(a->cfg.mcp, j->name, j->input, &r);
        move_buf(&j->text, &r.text);
        j->is_error = r.is_error || st != BROCK_OK;
        j->interrupted = r.interrupted || st == BROCK_ERR_INTERRUPTED;
        if (!j->text.len && st != BROCK_OK)
            buf_addf(&j->text, "Error: the MCP call failed (%s).", brock_status_name(st));
        buf_addf(&j->summary, "%s (MCP %s)%s", j->mt->tool, j->mt->server, j->is_error ? ": error" : "");
        mcp_result_cleanup(&r);
    }
    if (j->interrupted) {
        j->is_error = true;
        if (!j->text.len)
            buf_addstr(&j->text, "Interrupted by the user.");
    }
    j->dur_ms = time_mono_ms() - j->t0;
    j->ran = true;
}

static void *run_thread(void *arg)
{
    run_job(arg);
    return NULL;
}

/* Run the runnable jobs of a batch, concurrently when there are several. */
static void run_batch(struct job **batch, size_t n)
{
    for (size_t off = 0; off < n; off += AGENT_MAX_PARALLEL) {
        size_t m = n - off < AGENT_MAX_PARALLEL ? n - off : AGENT_MAX_PARALLEL;
        if (m == 1) {
            run_job(batch[off]);
            continue;
        }
        pthread_t th[AGENT_MAX_PARALLEL];
        bool started[AGENT_MAX_PARALLEL] = {false};
        for (size_t i = 0; i < m; i++)
            started[i] = pthread_create(&th[i], NULL, run_thread, batch[off + i]) == 0;
        for (size_t i = 0; i < m; i++) {
            if (started[i])
                pthread_join(th[i], NULL);
            else
                run_job(batch[off + i]); /* no thread: run it here */
        }
    }
}

/* After running, on the agent's thread: PostToolUse hooks, the record, the event. */
static void finish(struct job *j, bool *hook_stop)
{
    struct agent *a = j->a;
    if (j->ran && !j->interrupted && a->cfg.hooks && hooks_matching(a->cfg.hooks, HOOKS_POST_TOOL_USE, j->name)) {
        json_t *resp = json_pack("{s:s%,s:b}", "output", buf_cstr(&j->text), j->text.len, "is_error", j->is_error);
        struct hooks_input in = {.event = HOOKS_POST_TOOL_USE, .tool_name = j->name, .tool_use_id = j->id,
                                 .tool_input = j->input, .tool_response = resp};
        struct hooks_outcome o;
        hooks_outcome_init(&o);
        struct brock_err he = {0};
        if (hooks_run(a->cfg.hooks, &in, &o, &he) == BROCK_OK) {
            hook_user_text(a, &o);
            if (o.block && o.reason.len)
                buf_addf(&j->text, "\n\nPostToolUse hook feedback:\n%s", buf_cstr(&o.reason));
            if (o.context.len)
                buf_addf(&j->text, "\n\n%s", buf_cstr(&o.context));
            if (o.stop)
                *hook_stop = true;
        }
        hooks_outcome_cleanup(&o);
        json_decref(resp);
    }
    if (j->context.len)
        buf_addf(&j->text, "\n\n%s", buf_cstr(&j->context));
    if (!j->text.len)
        buf_addstr(&j->text, "(no output)");
    utf8_clean(&j->text);
    if (buf_status(&j->text) != BROCK_OK) /* hook feedback past the cap: keep what fits */
        j->text.overflow = false;
    if (!j->summary.len)
        buf_addf(&j->summary, "%s%s", j->name, j->is_error ? ": error" : "");
    /* every call the model asked for, run or refused */
    agent_store_tool_call(a, j->id, j->name, j->input, j->text.ptr, j->text.len, j->is_error, j->dur_ms);
    struct agent_event ev = {.type = AGENT_EV_TOOL_RESULT,
                             .tool_use_id = j->id,
                             .tool_name = j->name,
                             .input = j->input,
                             .text = buf_cstr(&j->text),
                             .len = j->text.len,
                             .summary = buf_cstr(&j->summary),
                             .diff = buf_cstr(&j->diff),
                             .is_error = j->is_error};
    agent_emit(a, &ev);
}

static bool concurrent(const struct agent *a, const struct job *j)
{
    const struct tool_def *d = tool_find(j->name);
    return a->cfg.tools && d && (d->flags & TOOL_CONCURRENT) && is_offered(a, j->name);
}

json_t *agent_run_tools(struct agent *a, const json_t *content, bool *interrupted, bool *hook_stop)
{
    *interrupted = *hook_stop = false;
    size_t n = 0, i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        n += type && !strcmp(type, "tool_use");
    }
    struct job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
    struct job **batch = xcalloc(n ? n : 1, sizeof *batch);
    size_t k = 0;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        if (type && !strcmp(type, "tool_use"))
            job_init(&jobs[k++], a, blk);
    }
    bool stop = false; /* interrupted or stopped by a hook: the rest is not run */
    for (i = 0; i < n;) {
        struct job *j = &jobs[i];
        if (stop || (a->cfg.cancel && *a->cfg.cancel)) {
            if (!stop && a->cfg.cancel && *a->cfg.cancel)
                *interrupted = true;
            stop = true;
            j->interrupted = *interrupted;
            job_fail(j, *interrupted ? NOT_RUN_INTERRUPTED
                                     : "Not run: a hook stopped the session before this tool call.");
            finish(j, hook_stop);
            i++;
            continue;
        }
        if (i >= AGENT_MAX_TOOL_USES) {
            char msg[128];
            snprintf(msg, sizeof msg, "Not run: at most %d tool calls from one answer are run.", AGENT_MAX_TOOL_USES);
            job_fail(j, msg);
            finish(j, hook_stop);
            i++;
            continue;
        }
        /* A batch: this job, or the run of concurrent jobs starting here. */
        size_t end = i + 1;
        if (concurrent(a, j))
            while (end < n && end < AGENT_MAX_TOOL_USES && concurrent(a, &jobs[end]))
                end++;
        size_t nb = 0;
        for (size_t x = i; x < end; x++) {
            if (a->cfg.cancel && *a->cfg.cancel) {
                end = x;
                break;
            }
            prepare(&jobs[x], hook_stop);
            if (jobs[x].interrupted)
                *interrupted = true;
            if (jobs[x].runnable)
                batch[nb++] = &jobs[x];
            if (*hook_stop || *interrupted) {
                end = x + 1;
                break;
            }
        }
        run_batch(batch, nb);
        for (size_t x = i; x < end; x++) {
            if (jobs[x].interrupted)
                *interrupted = true;
            finish(&jobs[x], hook_stop);
        }
        if (*interrupted || *hook_stop)
            stop = true;
        i = end;
    }
    json_t *results = json_array();
    for (i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        json_t *r = json_pack("{s:s,s:s,s:s%}", "type", "tool_result", "tool_use_id", j->id, "content",
                              buf_cstr(&j->text), j->text.len);
        if (!r) /* cannot happen (finish() cleans the text), but never lose the pairing */
            r = json_pack("{s:s,s:s,s:s}", "type", "tool_result", "tool_use_id", j->id, "content",
                          "(the result could not be encoded)");
        if (j->is_error)
            json_object_set_new(r, "is_error", json_true());
        json_array_append_new(results, r);
        job_cleanup(j);
    }
    free(jobs);
    free(batch);
    return json_pack("{s:s,s:o}", "role", "user", "content", results);
}
