/* repl_prompt.c - the permission question (the agent's ask callback).
 *
 *     ● Edit(src/main.c)
 *          --- a/src/main.c
 *          +++ b/src/main.c
 *          @@ -1,4 +1,4 @@ ...
 *       Do you want to make this edit to src/main.c?
 *       ❯ 1. Yes
 *         2. Yes, and don't ask again for Edit(/work/src/main.c)
 *         3. No, and tell Claude what to do differently (esc)
 *
 * Keys: 1/y, 2, 3/n, arrows (or Ctrl-P/N, j/k, Tab) and Enter; Esc or
 * Ctrl-D = no; Ctrl-C = no and stop the turn. Keys typed before the question
 * appeared are dropped, so a stray "1" cannot approve anything. "No" (3/n)
 * asks for a line of feedback, which the model gets as the refusal reason;
 * "don't ask again" adds the engine's suggested rules (perm_answer writes
 * .brock/settings.local.json).
 *
 * The agent's question carries the decision, not the tool input; the input
 * (for the diff and the full command) is the tool_use block of the last
 * answer with that tool name whose path or command is the decision's
 * subject, each block matched once. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../agent/perm.h"
#include "../util/alloc.h"
#include "repl_int.h"
#include "runtime.h"

static bool same_subject(struct repl *r, const json_t *input, const struct perm_decision *d)
{
    const char *cmd = json_string_value(json_object_get(input, "command"));
    if (cmd)
        return d->subject && !strcmp(cmd, d->subject);
    const char *path = json_string_value(json_object_get(input, "file_path"));
    if (!path)
        path = json_string_value(json_object_get(input, "notebook_path"));
    if (!path)
        path = json_string_value(json_object_get(input, "path"));
    if (!path)
        return false;
    if ((d->subject && !strcmp(path, d->subject)) || (d->resolved && !strcmp(path, d->resolved)))
        return true;
    char res[PERM_PATH_MAX];
    const char *cwd = r->ca ? r->ca->cwd : "/";
    if (perm_resolve_path(cwd, path, res, NULL, NULL) != BROCK_OK)
        return false;
    return (d->subject && !strcmp(res, d->subject)) || (d->resolved && !strcmp(res, d->resolved));
}

static bool was_asked(const json_t *asked, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(asked, i, v)
    {
        if (!strcmp(json_string_value(v), id))
            return true;
    }
    return false;
}

const json_t *repl_find_tool_use(struct repl *r, const struct perm_decision *d)
{
    const json_t *content = json_object_get(r->view.answer, "content"), *first = NULL, *pick = NULL;
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *name = json_string_value(json_object_get(b, "name"));
        const char *id = json_string_value(json_object_get(b, "id"));
        if (!type || strcmp(type, "tool_use") || !name || strcmp(name, d->tool) || !id || was_asked(r->view.asked, id))
            continue;
        if (!first)
            first = b;
        if (same_subject(r, json_object_get(b, "input"), d)) {
            pick = b;
            break;
        }
    }
    if (!pick)
        pick = first;
    if (pick)
        json_array_append_new(r->view.asked, json_string(json_string_value(json_object_get(pick, "id"))));
    return pick;
}

/* Indent every line of s[0..n) and append it, at most `max` lines. */
static void add_indented(struct buf *out, const char *s, size_t n, const char *indent, size_t max, bool color,
                         bool unicode)
{
    const char *p = s, *end = s + n;
    size_t lines = 0, hidden = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (lines++ < max) {
            buf_addstr(out, indent);
            buf_add(out, p, len);
            buf_addc(out, '\n');
        } else {
            hidden++;
        }
        p += len + 1;
    }
    if (hidden) {
        if (color)
            term_sgr(out, TERM_DIM);
        buf_addf(out, "%s%s %zu more line%s\n", indent, unicode ? "\xe2\x80\xa6" : "...", hidden, hidden == 1 ? "" : "s");
        if (color)
            term_sgr(out, 0);
    }
}

/* What the question is about: the tool line, the command or the diff, why. */
static void show_subject(struct repl *r, const struct perm_decision *d, const json_t *input, const char *tu_id,
                         struct buf *out, struct buf *label)
{
    const char *cwd = r->ca ? r->ca->cwd : NULL;
    struct buf arg = BUF_INIT(BUF_MAX_SMALL);
    if (input)
        repl_tool_arg(d->tool, input, cwd, &arg);
    else if (d->subject)
        repl_rel_path(&arg, d->subject, cwd);
    render_tool_line(out, &r->look, RENDER_TOOL_RUNNING, d->tool, arg.len ? buf_cstr(&arg) : NULL, NULL);
    bool bash = !strcmp(d->tool, "Bash");
    bool edit = !strcmp(d->tool, "Edit") || !strcmp(d->tool, "MultiEdit") || !strcmp(d->tool, "Write");
    if (bash && input) {
        const char *cmd = json_string_value(json_object_get(input, "command"));
        const char *desc = json_string_value(json_object_get(input, "description"));
        struct buf s = BUF_INIT(BUF_MAX_BODY);
        if (cmd)
            term_sanitize(&s, cmd, strlen(cmd), 0);
        add_indented(out, buf_cstr(&s), s.len, "     ", REPL_DIFF_LINES, r->look.color, r->look.unicode);
        if (desc) {
            buf_reset(&s);
            term_sanitize(&s, desc, strlen(desc), TERM_SAN_ONELINE);
            if (r->look.color)
                term_sgr(out, TERM_DIM);
            buf_addf(out, "     %s\n", buf_cstr(&s));
            if (r->look.color)
                term_sgr(out, 0);
        }
        buf_free(&s);
    } else if (edit && input) {
        const char *path = d->resolved ? d->resolved : d->subject;
        struct buf rel = BUF_INIT(BUF_MAX_SMALL), diff = BUF_INIT(BUF_MAX_BODY), drawn = BUF_INIT(BUF_MAX_BODY);
        if (path)
            repl_rel_path(&rel, path, cwd);
        struct brock_err e = {0};
        if (path && repl_edit_preview(d->tool, input, path, buf_cstr(&rel), &diff, &e) == BROCK_OK) {
            if (tu_id)
                json_array_append_new(r->view.previewed, json_string(tu_id));
            render_diff(&drawn, &r->look, buf_cstr(&diff), diff.len);
            add_indented(out, buf_cstr(&drawn), drawn.len, "     ", REPL_DIFF_LINES, r->look.color, r->look.unicode);
        } else {
            struct buf s = BUF_INIT(BUF_MAX_SMALL);
            term_sanitize(&s, e.msg, strlen(e.msg), TERM_SAN_ONELINE);
            if (r->look.color)
                term_sgr(out, TERM_DIM);
            buf_addf(out, "     (no preview: %s)\n", buf_cstr(&s));
            if (r->look.color)
                term_sgr(out, 0);
            buf_free(&s);
        }
        buf_free(&rel);
        buf_free(&diff);
        buf_free(&drawn);
    }
    if (d->message && *d->message) {
        struct buf s = BUF_INIT(BUF_MAX_SMALL);
        term_sanitize(&s, d->message, strlen(d->message), TERM_SAN_ONELINE);
        if (r->look.color)
            term_sgr(out, TERM_DIM);
        buf_addf(out, "  %s\n", buf_cstr(&s));
        if (r->look.color)
            term_sgr(out, 0);
        buf_free(&s);
    }
    if (arg.len)
        term_sanitize(label, buf_cstr(&arg), arg.len, TERM_SAN_ONELINE);
    buf_free(&arg);
}

/* Append the menu; returns the terminal rows it takes (lines may wrap). */
static int draw_menu(struct repl *r, const struct perm_decision *d, int sel, struct buf *out)
{
    bool always = d->nsuggest > 0;
    int n = repl_menu_size(always), rows = 0;
    const char *arrow = r->look.unicode ? "\xe2\x9d\xaf" : ">";
    for (int i = 0; i < n; i++) {
        enum repl_key k = repl_menu_choice(i, always);
        bool on = i == sel;
        size_t start = out->len;
        buf_addf(out, "  %s ", on ? arrow : " ");
        if (on && r->look.color)
            term_sgr(out, TERM_BOLD | TERM_FG(TERM_CYAN));
        buf_addf(out, "%d. ", i + 1);
        if (k == REPL_KEY_YES) {
            buf_addstr(out, "Yes");
        } else if (k == REPL_KEY_ALWAYS) {
            buf_addstr(out, "Yes, and don't ask again for ");
            struct buf rules = BUF_INIT(BUF_MAX_SMALL);
            for (size_t s = 0; s < d->nsuggest; s++)
                buf_addf(&rules, "%s%s", s ? ", " : "", d->suggest[s]);
            size_t room = r->look.width > 40 ? (size_t)r->look.width - 38 : 60;
            term_fit(out, buf_cstr(&rules), rules.len, room, r->look.unicode);
            buf_free(&rules);
        } else {
            buf_addstr(out, "No, and tell Claude what to do differently (esc)");
        }
        if (on && r->look.color)
            term_sgr(out, 0);
        size_t w = term_styled_width(buf_cstr(out) + start, out->len - start);
        rows += r->look.width > 0 && w > (size_t)r->look.width ? (int)((w + (size_t)r->look.width - 1) / (size_t)r->look.width) : 1;
        buf_addc(out, '\n');
    }
    return rows;
}

/* One key press: a byte, or an escape sequence read together. 0 at EOF. */
static size_t read_key(char *seq, size_t cap)
{
    ssize_t n;
    do
        n = read(STDIN_FILENO, seq, 1);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    if (seq[0] != 0x1b)
        return 1;
    size_t len = 1;
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    while (len < cap && poll(&p, 1, 40) > 0) {
        n = read(STDIN_FILENO, seq + len, 1);
        if (n <= 0)
            break;
        len++;
        if (len >= 3 && ((seq[len - 1] >= 'A' && seq[len - 1] <= 'Z') || seq[len - 1] == '~'))
            break;
    }
    return len;
}

enum perm_answer repl_ask(void *ctx, const struct perm_decision *d, char **feedback)
{
    struct repl *r = ctx;
    *feedback = NULL;
    repl_view_quiet(r);
    const json_t *tu = repl_find_tool_use(r, d);
    const json_t *input = tu ? json_object_get(tu, "input") : NULL;

    struct buf out = BUF_INIT(BUF_MAX_BODY), label = BUF_INIT(BUF_MAX_SMALL);
    if (r->view.wrote)
        buf_addc(&out, '\n');
    r->view.wrote = true;
    show_subject(r, d, input, tu ? json_string_value(json_object_get(tu, "id")) : NULL, &out, &label);
    if (r->look.color)
        term_sgr(&out, TERM_BOLD);
    if (!strcmp(d->tool, "Bash"))
        buf_addstr(&out, "  Do you want to run this command?\n");
    else if (label.len && !strcmp(d->tool, "Write"))
        buf_addf(&out, "  Do you want to write %s?\n", buf_cstr(&label));
    else if (label.len && (!strcmp(d->tool, "Edit") || !strcmp(d->tool, "MultiEdit")))
        buf_addf(&out, "  Do you want to make this edit to %s?\n", buf_cstr(&label));
    else
        buf_addstr(&out, "  Do you want to proceed?\n");
    if (r->look.color)
        term_sgr(&out, 0);
    bool always = d->nsuggest > 0;
    int sel = 0, n = repl_menu_size(always);
    int rows = draw_menu(r, d, sel, &out);
    repl_write(r, buf_cstr(&out), out.len);

    bool live = r->caps.live;
    bool raw = repl_tty_raw(true);
    tcflush(STDIN_FILENO, TCIFLUSH); /* keys typed before the question do not answer it */
    enum repl_key k = REPL_KEY_NONE;
    for (;;) {
        char seq[8];
        size_t len = read_key(seq, sizeof seq);
        if (!len) {
            k = REPL_KEY_ESCAPE;
            break;
        }
        k = repl_key_decode(seq, len, always);
        if (k == REPL_KEY_UP || k == REPL_KEY_DOWN) {
            if (!live) /* the highlight cannot move: only the keys choose */
                continue;
            sel = k == REPL_KEY_UP ? (sel + n - 1) % n : (sel + 1) % n;
            buf_reset(&out);
            buf_addf(&out, "\033[%dA\033[J", rows);
            rows = draw_menu(r, d, sel, &out);
            repl_write(r, buf_cstr(&out), out.len);
            continue;
        }
        if (k == REPL_KEY_ENTER)
            k = repl_menu_choice(sel, always);
        if (k != REPL_KEY_NONE)
            break;
    }
    if (raw)
        repl_tty_raw(false);

    /* the menu gives way to the answer */
    buf_reset(&out);
    if (live)
        buf_addf(&out, "\033[%dA\033[J", rows);
    const char *elbow = r->look.unicode ? "  \xe2\x8e\xbf  " : "  -> ";
    if (k == REPL_KEY_YES)
        buf_addf(&out, "%sYes\n", elbow);
    else if (k == REPL_KEY_ALWAYS)
        buf_addf(&out, "%sYes, and don't ask again\n", elbow);
    else if (k == REPL_KEY_INTERRUPT)
        buf_addf(&out, "%sNo (interrupted)\n", elbow);
    else
        buf_addf(&out, "%sNo\n", elbow);
    repl_write(r, buf_cstr(&out), out.len);

    if (k == REPL_KEY_INTERRUPT) {
        runtime_cancel = 1;
    } else if (k == REPL_KEY_NO && r->ed) {
        repl_note(r, "  Tell Claude what to do differently (Enter to just refuse):");
        repl_tty_turn(false);
        char *fb = repl_edit_ask(r->ed, "  > ");
        repl_tty_turn(true);
        if (!fb)
            runtime_cancel = 1; /* Ctrl-C at the feedback: stop the turn too */
        else if (repl_blank(fb))
            free(fb);
        else
            *feedback = fb;
    }
    buf_free(&out);
    buf_free(&label);
    return repl_key_answer(k);
}
