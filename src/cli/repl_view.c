/* repl_view.c - one turn on the screen (repl_int.h): the agent's events as
 * a spinner, the streamed answer, tool-call lines, diffs and notes.
 *
 * Order on the screen, per model call: the spinner ("Thinking… 2.1s · 340
 * tokens") until the first text; "✻ Thought for 2.1s" when thinking came
 * first (its text only with --verbose, dimmed); the answer through the
 * Markdown renderer; then per tool call, once it finished:
 *
 *     ● Read(src/main.c)
 *       ⎿  Read src/main.c (120 lines)
 *
 * with the coloured diff under edits. While tools run the spinner names
 * them. Blocks are separated by one blank line. Everything from outside goes
 * through the renderer or term_sanitize. The spinner (stderr) and the
 * renderer's live tail never show at the same time (render.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/timeutil.h"
#include "repl_int.h"

static bool md_write(void *ctx, const char *p, size_t n)
{
    struct repl *r = ctx;
    return fwrite(p, 1, n, r->out) == n && fflush(r->out) == 0;
}

void repl_view_init(struct repl *r)
{
    r->look = (struct render_look){.color = r->caps.color, .unicode = r->caps.unicode,
                                   .width = r->caps.out_tty ? r->caps.width : 0};
    struct render_opts o = {
        .color = r->caps.color,
        .unicode = r->caps.unicode,
        /* --verbose logs from other threads: a live tail would be drawn over */
        .live = r->caps.live && !(r->cfg && r->cfg->verbose),
        .width = r->caps.out_tty ? r->caps.width : 0,
        .height = r->caps.height,
        .preview_ms = 30,
        .write = md_write,
        .write_ctx = r,
    };
    r->md = render_md_new(&o);
    struct spinner_opts so = {.fd = STDERR_FILENO, .unicode = r->caps.unicode, .color = r->caps.err_color};
    r->sp = spinner_new(&so);
    r->view.asked = json_array();
    r->view.previewed = json_array();
}

void repl_view_cleanup(struct repl *r)
{
    spinner_free(r->sp);
    render_md_free(r->md);
    json_decref(r->view.answer);
    json_decref(r->view.asked);
    json_decref(r->view.previewed);
    r->sp = NULL;
    r->md = NULL;
    r->view.answer = r->view.asked = r->view.previewed = NULL;
}

static void spin(struct repl *r, const char *label, const char *unit)
{
    if (!r->sp)
        return;
    spinner_start(r->sp, label, unit);
    r->view.spinning = true;
}

static void stop_spin(struct repl *r)
{
    if (r->view.spinning && r->sp)
        spinner_stop(r->sp);
    r->view.spinning = false;
}

/* Make room for a block: a blank line after earlier output of the turn. */
static void block_gap(struct repl *r)
{
    if (r->view.wrote)
        repl_write(r, "\n", 1);
    r->view.wrote = true;
}

static void think_done(struct repl *r)
{
    struct repl_view *v = &r->view;
    if (!v->thinking)
        return;
    v->thinking = false;
    if (r->cfg && r->cfg->verbose) /* the text was shown as it came */
        return;
    char d[32];
    repl_format_duration(d, sizeof d, time_mono_ms() - v->think_t0);
    block_gap(r);
    repl_note(r, "%s Thought for %s", r->caps.unicode ? "\xe2\x9c\xbb" : "*", d);
}

void repl_view_quiet(struct repl *r)
{
    stop_spin(r);
    if (r->view.md_open) {
        render_md_finish(r->md, NULL);
        r->view.md_open = false;
    }
}

/* Something else must write now; the answer goes on after it. */
static bool pause_screen(struct repl *r)
{
    bool was = r->view.spinning;
    stop_spin(r);
    if (r->view.md_open)
        render_md_pause(r->md, NULL);
    return was;
}

void repl_view_turn_start(struct repl *r, const char *label)
{
    struct repl_view *v = &r->view;
    v->md_open = v->wrote = v->thinking = false;
    v->tokens = 0;
    v->running = 0;
    v->call_t0 = time_mono_ms();
    json_decref(v->answer);
    v->answer = NULL;
    json_array_clear(v->asked);
    json_array_clear(v->previewed);
    spin(r, label, "tokens");
}

void repl_view_turn_end(struct repl *r)
{
    repl_view_quiet(r);
    think_done(r);
    r->view.running = 0;
}

static bool was_previewed(const struct repl_view *v, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(v->previewed, i, x)
    {
        if (!strcmp(json_string_value(x), id))
            return true;
    }
    return false;
}

/* The tool call, when it finished: the line, the result, the diff. */
static void show_tool(struct repl *r, const struct agent_event *ev)
{
    struct buf arg = BUF_INIT(BUF_MAX_SMALL), out = BUF_INIT(BUF_MAX_BODY);
    const char *cwd = r->ca ? r->ca->cwd : NULL;
    if (ev->input)
        repl_tool_arg(ev->tool_name, ev->input, cwd, &arg);
    render_tool_line(&out, &r->look, ev->is_error ? RENDER_TOOL_ERROR : RENDER_TOOL_OK, ev->tool_name,
                     arg.len ? buf_cstr(&arg) : NULL, NULL);
    /* the result: the summary, or for an error its first line */
    const char *res = ev->summary && *ev->summary ? ev->summary : "";
    size_t rn = strlen(res);
    if (ev->is_error && ev->text && *ev->text) {
        res = ev->text;
        rn = strcspn(res, "\n");
    }
    const char *elbow = r->caps.unicode ? "  \xe2\x8e\xbf  " : "  -> ";
    if (r->caps.color)
        term_sgr(&out, ev->is_error ? TERM_FG(TERM_RED) : TERM_DIM);
    buf_addstr(&out, elbow);
    size_t room = r->look.width > 10 ? (size_t)r->look.width - 5 : (size_t)-1 / 4;
    term_fit(&out, res, rn, room, r->caps.unicode);
    if (r->caps.color)
        term_sgr(&out, 0);
    buf_addc(&out, '\n');
    /* an edit the user approved was shown with its diff in the question */
    bool seen = ev->tool_use_id && was_previewed(&r->view, ev->tool_use_id);
    if (!ev->is_error && ev->diff && *ev->diff && !seen) {
        struct buf d = BUF_INIT(BUF_MAX_BODY);
        render_diff(&d, &r->look, ev->diff, strlen(ev->diff));
        const char *p = buf_cstr(&d), *end = p + d.len;
        size_t lines = 0, hidden = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (lines < REPL_DIFF_LINES) {
                buf_addstr(&out, "     ");
                buf_add(&out, p, n);
                buf_addc(&out, '\n');
            } else {
                hidden++;
            }
            lines++;
            p += n + 1;
        }
        if (hidden) {
            if (r->caps.color)
                term_sgr(&out, TERM_DIM);
            buf_addf(&out, "     %s %zu more line%s\n", r->caps.unicode ? "\xe2\x80\xa6" : "...", hidden,
                     hidden == 1 ? "" : "s");
            if (r->caps.color)
                term_sgr(&out, 0);
        }
        buf_free(&d);
    }
    block_gap(r);
    repl_write(r, buf_cstr(&out), out.len);
    buf_free(&arg);
    buf_free(&out);
}

static void on_message(struct repl *r, const json_t *msg)
{
    struct repl_view *v = &r->view;
    const char *role = json_string_value(json_object_get(msg, "role"));
    if (role && !strcmp(role, "assistant")) {
        repl_view_quiet(r);
        think_done(r);
        json_decref(v->answer);
        v->answer = json_incref((json_t *)msg);
        json_array_clear(v->asked);
        json_array_clear(v->previewed);
        return;
    }
    /* tool results went in: the next model call starts */
    v->tokens = 0;
    v->call_t0 = time_mono_ms();
    stop_spin(r);
    spin(r, "Thinking", "tokens");
}

static void on_thinking(struct repl *r, const struct agent_event *ev)
{
    struct repl_view *v = &r->view;
    if (!v->thinking) {
        v->thinking = true;
        v->think_t0 = time_mono_ms();
        if (r->cfg && r->cfg->verbose) {
            stop_spin(r);
            block_gap(r);
        }
    }
    v->tokens += (ev->len + 3) / 4;
    if (r->cfg && r->cfg->verbose) {
        struct buf b = BUF_INIT(BUF_MAX_BODY);
        if (r->caps.color)
            term_sgr(&b, TERM_DIM | TERM_ITALIC);
        term_sanitize(&b, ev->text, ev->len, 0);
        if (r->caps.color)
            term_sgr(&b, 0);
        repl_write(r, buf_cstr(&b), b.len);
        buf_free(&b);
        return;
    }
    if (r->sp)
        spinner_set_count(r->sp, v->tokens);
}

static void on_text(struct repl *r, const struct agent_event *ev)
{
    struct repl_view *v = &r->view;
    if (!ev->len)
        return;
    stop_spin(r);
    if (v->thinking && r->cfg && r->cfg->verbose)
        repl_write(r, "\n", 1);
    think_done(r);
    if (!v->md_open) {
        block_gap(r);
        v->md_open = true;
    }
    v->tokens += (ev->len + 3) / 4;
    render_md_feed(r->md, ev->text, ev->len, NULL);
}

static void on_call(struct repl *r, const struct agent_call *c)
{
    if (!r->cfg || !r->cfg->verbose)
        return;
    bool spinning = pause_screen(r);
    char in[32], out[32];
    repl_format_count(in, sizeof in, c->usage.input_tokens + c->usage.cache_read_tokens + c->usage.cache_write_tokens);
    repl_format_count(out, sizeof out, c->usage.output_tokens);
    repl_note(r, "%s%s · %s · request %s · %.0f ms (first token %.0f ms) · %s in · %s out · $%.4f",
              strcmp(c->purpose, "turn") ? "compaction: " : "", c->model_id, c->region && *c->region ? c->region : "-",
              c->request_id && *c->request_id ? c->request_id : "-", c->latency_ms, c->ttft_ms, in, out, c->cost_usd);
    if (spinning)
        spin(r, "Thinking", "tokens");
}

void repl_on_event(void *ctx, const struct agent_event *ev)
{
    struct repl *r = ctx;
    struct repl_view *v = &r->view;
    switch (ev->type) {
    case AGENT_EV_TEXT:
        on_text(r, ev);
        return;
    case AGENT_EV_THINKING:
        on_thinking(r, ev);
        return;
    case AGENT_EV_MESSAGE:
        on_message(r, ev->input);
        return;
    case AGENT_EV_TOOL_START: {
        repl_view_quiet(r);
        v->running++;
        struct buf label = BUF_INIT(BUF_MAX_SMALL);
        buf_addstr(&label, ev->tool_name);
        struct buf arg = BUF_INIT(BUF_MAX_SMALL);
        if (ev->input)
            repl_tool_arg(ev->tool_name, ev->input, r->ca ? r->ca->cwd : NULL, &arg);
        if (arg.len)
            buf_addf(&label, "(%s)", buf_cstr(&arg));
        spin(r, buf_cstr(&label), NULL);
        buf_free(&arg);
        buf_free(&label);
        return;
    }
    case AGENT_EV_TOOL_RESULT:
        repl_view_quiet(r);
        if (v->running)
            v->running--;
        show_tool(r, ev);
        if (v->running)
            spin(r, "Running", NULL);
        return;
    case AGENT_EV_PERMISSION: {
        const struct perm_decision *d = ev->decision;
        if (!r->cfg || !r->cfg->verbose || d->verdict != PERM_ALLOW || d->answer != PERM_ANSWER_NONE)
            return;
        bool spinning = pause_screen(r);
        repl_note(r, "allowed %s (%s%s%s)", d->tool, perm_why_name(d->why), d->rule ? ": " : "", d->rule ? d->rule : "");
        if (spinning)
            spin(r, "Running", NULL);
        return;
    }
    case AGENT_EV_CALL:
        on_call(r, ev->call);
        return;
    case AGENT_EV_RETRY:
    case AGENT_EV_COMPACT:
    case AGENT_EV_HOOK:
    case AGENT_EV_WARNING: {
        bool spinning = pause_screen(r);
        if (ev->type == AGENT_EV_WARNING)
            repl_error(r, "warning: %s", ev->text);
        else
            repl_note(r, "%s%s", ev->type == AGENT_EV_COMPACT ? (r->caps.unicode ? "\xe2\x9c\xbb " : "* ") : "",
                      ev->text);
        if (spinning)
            spin(r, ev->type == AGENT_EV_RETRY ? "Retrying" : "Thinking", "tokens");
        return;
    }
    }
}
