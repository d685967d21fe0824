/* repl_edit.c - the REPL's input line on libedit (repl_int.h).
 *
 * Emacs key bindings as libedit has them, plus:
 *   Ctrl-C   with text: clear the line; on an empty line: the first press
 *            prints a hint, the next one (nothing typed in between) quits.
 *            The terminal's ISIG is off while editing (libedit's "setty -d
 *            -isig"), so Ctrl-C arrives as a key, not a signal: libedit
 *            would restart its read after a signal and never return.
 *   Ctrl-D   on an empty line: quit (libedit's em-delete-or-list gives EOF).
 *   Ctrl-R   incremental history search backwards (em-inc-search-prev).
 *   Tab      completes a slash command name at the start of the line;
 *            anywhere else it inserts a tab (pasted code keeps its tabs).
 *   "\" at the end of a line continues the message on the next line.
 * Pasted text with newlines: libedit ends the line at each newline; when more
 * input is already waiting at that moment (a paste, not a person typing),
 * the next line is joined to the message instead of sending it.
 *
 * History: libedit's in memory (REPL_HISTORY_MAX entries, no consecutive
 * duplicates), and the history file (repl_history_*), appended per entry. */
#include <errno.h>
#include <histedit.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "../util/alloc.h"
#include "repl_int.h"

struct repl_edit {
    struct repl *r;
    EditLine *el;
    History *hist;
    HistEvent hev;
    char *path;        /* history file; NULL = none */
    bool warned;       /* a history file error was reported */
    const char *prompt;
    char main_prompt[48], cont_prompt[48];
    /* set by the key functions during one el_gets */
    bool ctrl_c;       /* Ctrl-C on an empty line */
    bool cleared;      /* Ctrl-C cleared the line */
    bool armed;        /* the last input was Ctrl-C on an empty prompt */
};

static struct repl_edit *edit_of(EditLine *el)
{
    void *p = NULL;
    el_get(el, EL_CLIENTDATA, &p);
    return p;
}

static char *prompt_fn(EditLine *el)
{
    return (char *)edit_of(el)->prompt;
}

static unsigned char key_ctrl_c(EditLine *el, int ch)
{
    (void)ch;
    struct repl_edit *ed = edit_of(el);
    const LineInfoW *li = el_wline(el);
    int len = (int)(li->lastchar - li->buffer);
    if (len > 0) {
        el_cursor(el, (int)(li->lastchar - li->cursor));
        el_deletestr(el, len);
        ed->cleared = true;
        return CC_REFRESH;
    }
    ed->ctrl_c = true;
    return CC_NEWLINE;
}

static unsigned char key_tab(EditLine *el, int ch)
{
    (void)ch;
    struct repl_edit *ed = edit_of(el);
    const LineInfo *li = el_line(el);
    size_t n = (size_t)(li->cursor - li->buffer);
    bool word = n > 0 && li->buffer[0] == '/' && li->cursor == li->lastchar;
    for (size_t i = 1; word && i < n; i++)
        word = li->buffer[i] != ' ' && li->buffer[i] != '\t';
    if (!word) {
        el_insertstr(el, "\t");
        return CC_REFRESH;
    }
    char prefix[REPL_COMMAND_NAME_MAX + 1];
    size_t pn = n - 1 < REPL_COMMAND_NAME_MAX ? n - 1 : REPL_COMMAND_NAME_MAX;
    memcpy(prefix, li->buffer + 1, pn);
    prefix[pn] = '\0';
    const char *m[32];
    size_t k = repl_command_complete(prefix, m, BROCK_ARRAY_LEN(m));
    if (k == 0)
        return CC_REFRESH_BEEP;
    if (k == 1) {
        el_insertstr(el, m[0] + pn);
        el_insertstr(el, " ");
        return CC_REFRESH;
    }
    /* the common prefix of the matches, else list them */
    size_t common = strlen(m[0]);
    for (size_t i = 1; i < k && i < BROCK_ARRAY_LEN(m); i++) {
        size_t c = 0;
        while (c < common && m[i][c] == m[0][c])
            c++;
        common = c;
    }
    if (common > pn) {
        char add[REPL_COMMAND_NAME_MAX + 1];
        size_t an = common - pn < REPL_COMMAND_NAME_MAX ? common - pn : REPL_COMMAND_NAME_MAX;
        memcpy(add, m[0] + pn, an);
        add[an] = '\0';
        el_insertstr(el, add);
        return CC_REFRESH;
    }
    FILE *f = ed->r->out;
    fputc('\n', f);
    for (size_t i = 0; i < k && i < BROCK_ARRAY_LEN(m); i++)
        fprintf(f, "%s/%s", i ? "  " : "", m[i]);
    fputc('\n', f);
    fflush(f);
    return CC_REDISPLAY;
}

static void hist_add(void *ctx, const char *entry)
{
    struct repl_edit *ed = ctx;
    history(ed->hist, &ed->hev, H_ENTER, entry);
}

struct repl_edit *repl_edit_new(struct repl *r, const char *history_path)
{
    struct repl_edit *ed = xcalloc(1, sizeof *ed);
    ed->r = r;
    ed->path = history_path ? xstrdup(history_path) : NULL;
    bool c = r->caps.color;
    /* the \1 pairs fence escape sequences off from the prompt's width */
    /* (libedit drops an escape at the very end of the prompt: the reset goes before the blank) */
    snprintf(ed->main_prompt, sizeof ed->main_prompt, "%s>%s ", c ? "\1\033[1m\1" : "", c ? "\1\033[0m\1" : "");
    snprintf(ed->cont_prompt, sizeof ed->cont_prompt, "%s%s%s ", c ? "\1\033[2m\1" : "",
             r->caps.unicode ? "\xe2\x80\xa6" : ".", c ? "\1\033[0m\1" : "");
    ed->prompt = ed->main_prompt;

    ed->hist = history_init();
    history(ed->hist, &ed->hev, H_SETSIZE, REPL_HISTORY_MAX);
    history(ed->hist, &ed->hev, H_SETUNIQUE, 1);

    ed->el = el_init("brock", stdin, stdout, stderr);
    el_set(ed->el, EL_CLIENTDATA, ed);
    el_set(ed->el, EL_EDITOR, "emacs");
    el_set(ed->el, EL_SIGNAL, 0);
    el_set(ed->el, EL_HIST, history, ed->hist);
    el_set(ed->el, EL_PROMPT_ESC, prompt_fn, '\1');
    el_set(ed->el, EL_SETTY, "-d", "-isig", NULL);
    /* el_wset: the narrow EL_ADDFN copies the names and never frees them */
    el_wset(ed->el, EL_ADDFN, L"brock-ctrl-c", L"clear the line, or quit on an empty one", key_ctrl_c);
    el_set(ed->el, EL_BIND, "^C", "brock-ctrl-c", NULL);
    el_wset(ed->el, EL_ADDFN, L"brock-complete", L"complete a slash command", key_tab);
    el_set(ed->el, EL_BIND, "^I", "brock-complete", NULL);
    el_set(ed->el, EL_BIND, "^R", "em-inc-search-prev", NULL);
    /* the user's ~/.editrc, as every libedit program */
    el_source(ed->el, NULL);

    if (ed->path) {
        struct brock_err e = {0};
        if (repl_history_load(ed->path, hist_add, ed, &e) != BROCK_OK)
            repl_error(r, "the history was not loaded: %s", e.msg);
    }
    return ed;
}

void repl_edit_free(struct repl_edit *ed)
{
    if (!ed)
        return;
    if (ed->el)
        el_end(ed->el);
    if (ed->hist)
        history_end(ed->hist);
    free(ed->path);
    free(ed);
}

void repl_edit_resized(struct repl_edit *ed)
{
    el_resize(ed->el);
}

void repl_edit_remember(struct repl_edit *ed, const char *entry)
{
    if (repl_blank(entry))
        return;
    history(ed->hist, &ed->hev, H_ENTER, entry);
    if (!ed->path)
        return;
    struct brock_err e = {0};
    if (repl_history_append(ed->path, entry, &e) != BROCK_OK && !ed->warned) {
        ed->warned = true;
        repl_error(ed->r, "the history file cannot be written: %s", e.msg);
    }
}

/* More input is already waiting (a paste in progress). */
static bool input_waiting(void)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

char *repl_edit_read(struct repl_edit *ed)
{
    struct buf msg = BUF_INIT(REPL_INPUT_MAX);
    bool cont = false;
    for (;;) {
        ed->prompt = cont ? ed->cont_prompt : ed->main_prompt;
        ed->ctrl_c = ed->cleared = false;
        int count = 0;
        const char *line = el_gets(ed->el, &count);
        if (ed->cleared)
            ed->armed = false;
        if (ed->ctrl_c) {
            /* libedit ends a line with a newline only for its own Enter */
            fputc('\n', ed->r->out);
            fflush(ed->r->out);
            if (cont) { /* drop the message being continued */
                buf_reset(&msg);
                cont = false;
                ed->armed = false;
                continue;
            }
            if (ed->armed) {
                buf_free(&msg);
                return NULL;
            }
            ed->armed = true;
            repl_note(ed->r, "(press Ctrl-C again to exit)");
            continue;
        }
        if (!line || count <= 0) { /* Ctrl-D on an empty line, or the input ended */
            if (cont && msg.len)
                break;
            if (line == NULL && count < 0 && errno == EINTR)
                continue;
            fputc('\n', ed->r->out);
            fflush(ed->r->out);
            buf_free(&msg);
            return NULL;
        }
        ed->armed = false;
        size_t len = repl_chomp(line, (size_t)count), keep;
        bool more = repl_line_continues(line, len, &keep);
        buf_add(&msg, line, more ? keep : len);
        if (more || input_waiting()) {
            buf_addc(&msg, '\n');
            cont = true;
            continue;
        }
        break;
    }
    if (buf_status(&msg) != BROCK_OK) {
        repl_error(ed->r, "the message is longer than %zu KiB and was not sent", REPL_INPUT_MAX >> 10);
        buf_reset(&msg);
    }
    return buf_take(&msg);
}

char *repl_edit_ask(struct repl_edit *ed, const char *prompt)
{
    ed->prompt = prompt;
    ed->ctrl_c = ed->cleared = false;
    int count = 0;
    const char *line = el_gets(ed->el, &count);
    ed->prompt = ed->main_prompt;
    if (ed->ctrl_c || !line || count <= 0) {
        fputc('\n', ed->r->out);
        fflush(ed->r->out);
        return NULL;
    }
    return xmemdup(line, repl_chomp(line, (size_t)count));
}
