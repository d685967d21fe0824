/* repl_util.c - the REPL's pieces that need no terminal (repl.h): input
 * continuation, the slash-command line, key answers, /cost text, the
 * history file, tool-call arguments and edit previews. Pure functions of
 * their input (and the files they name); fuzz/fuzz_repl_input.c compiles
 * this file in. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../agent/tools.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "render.h"
#include "repl.h"

/* ---- input ------------------------------------------------------------------ */

size_t repl_chomp(const char *line, size_t len)
{
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    return len;
}

bool repl_line_continues(const char *line, size_t len, size_t *keep)
{
    size_t n = 0;
    while (n < len && line[len - 1 - n] == '\\')
        n++;
    *keep = len;
    if (n % 2 == 0)
        return false;
    *keep = len - 1;
    return true;
}

bool repl_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* ---- slash commands ---------------------------------------------------------- */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool repl_slash_parse(const char *line, char *name, size_t cap, char **args)
{
    *args = NULL;
    if (line[0] != '/')
        return false;
    const char *p = line + 1;
    if (*p && !is_blank(*p) && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    size_t n = 0;
    while (is_name_char(p[n]))
        n++;
    if (p[n] && !is_blank(p[n]))
        return false; /* "/etc/hosts", "/usr." */
    size_t k = 0;
    for (; k < n && k + 1 < cap; k++)
        name[k] = (char)(p[k] >= 'A' && p[k] <= 'Z' ? p[k] - 'A' + 'a' : p[k]);
    if (cap)
        name[k] = '\0';
    const char *a = p + n;
    while (is_blank(*a))
        a++;
    size_t an = strlen(a);
    while (an && is_blank(a[an - 1]))
        an--;
    *args = xmemdup(a, an);
    return true;
}

/* ---- permission answers ------------------------------------------------------ */

enum repl_key repl_key_decode(const char *seq, size_t n, bool can_always)
{
    if (n == 0)
        return REPL_KEY_NONE;
    if (n == 1) {
        switch (seq[0]) {
        case '1':
        case 'y':
        case 'Y':
            return REPL_KEY_YES;
        case '2': /* without the "always" line the menu is Yes / No */
            return can_always ? REPL_KEY_ALWAYS : REPL_KEY_NO;
        case '3':
        case 'n':
        case 'N':
            return REPL_KEY_NO;
        case 0x1b: /* Esc */
        case 0x04: /* Ctrl-D */
            return REPL_KEY_ESCAPE;
        case 0x03:
            return REPL_KEY_INTERRUPT;
        case '\r':
        case '\n':
            return REPL_KEY_ENTER;
        case 0x10: /* Ctrl-P */
        case 'k':
            return REPL_KEY_UP;
        case 0x0e: /* Ctrl-N */
        case 'j':
        case '\t':
            return REPL_KEY_DOWN;
        default:
            return REPL_KEY_NONE;
        }
    }
    /* CSI / SS3 arrows: ESC [ A, ESC O A (application cursor mode) */
    if (n == 3 && seq[0] == 0x1b && (seq[1] == '[' || seq[1] == 'O')) {
        if (seq[2] == 'A')
            return REPL_KEY_UP;
        if (seq[2] == 'B')
            return REPL_KEY_DOWN;
    }
    return REPL_KEY_NONE;
}

int repl_menu_size(bool can_always)
{
    return can_always ? 3 : 2;
}

enum repl_key repl_menu_choice(int sel, bool can_always)
{
    if (sel <= 0)
        return REPL_KEY_YES;
    if (can_always)
        return sel == 1 ? REPL_KEY_ALWAYS : REPL_KEY_NO;
    return REPL_KEY_NO;
}

enum perm_answer repl_key_answer(enum repl_key k)
{
    switch (k) {
    case REPL_KEY_YES:
        return PERM_ANSWER_YES;
    case REPL_KEY_ALWAYS:
        return PERM_ANSWER_ALWAYS;
    case REPL_KEY_NO:
    case REPL_KEY_ESCAPE:
    case REPL_KEY_INTERRUPT:
        return PERM_ANSWER_NO;
    default:
        return PERM_ANSWER_NONE;
    }
}

/* ---- /cost ------------------------------------------------------------------------ */

void repl_format_duration(char *out, size_t cap, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 60000) {
        snprintf(out, cap, "%.1fs", (double)ms / 1000.0);
    } else if (ms < 3600000) {
        snprintf(out, cap, "%lldm %llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
    } else {
        snprintf(out, cap, "%lldh %lldm", (long long)(ms / 3600000), (long long)(ms % 3600000 / 60000));
    }
}

void repl_format_count(char *out, size_t cap, int64_t n)
{
    char digits[32];
    bool neg = n < 0;
    unsigned long long v = neg ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    int len = snprintf(digits, sizeof digits, "%llu", v);
    char tmp[48];
    size_t k = 0;
    if (neg)
        tmp[k++] = '-';
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            tmp[k++] = ',';
        tmp[k++] = digits[i];
    }
    tmp[k] = '\0';
    snprintf(out, cap, "%s", tmp);
}

void repl_format_cost(struct buf *out, const struct repl_cost *c)
{
    const struct agent_totals *t = &c->totals;
    char in[32], o[32], cr[32], cw[32], api[32], wall[32];
    repl_format_count(in, sizeof in, t->usage.input_tokens);
    repl_format_count(o, sizeof o, t->usage.output_tokens);
    repl_format_count(cr, sizeof cr, t->usage.cache_read_tokens);
    repl_format_count(cw, sizeof cw, t->usage.cache_write_tokens);
    repl_format_duration(api, sizeof api, c->api_ms);
    repl_format_duration(wall, sizeof wall, c->wall_ms);
    if (c->priced)
        buf_addf(out, "Total cost:            $%.4f\n", t->cost_usd);
    else
        buf_addf(out, "Total cost:            $%.4f (the model's prices are unknown: not counted)\n", t->cost_usd);
    buf_addf(out, "Total duration (API):  %s\n", api);
    buf_addf(out, "Total duration (wall): %s\n", wall);
    buf_addf(out, "Model calls:           %d (%d turn%s%s)\n", t->model_calls, c->turns, c->turns == 1 ? "" : "s",
             t->compactions ? ", compactions included" : "");
    buf_addf(out, "Tokens:                %s in, %s out, %s cache read, %s cache write\n", in, o, cr, cw);
    if (t->context_window > 0) {
        char ctx[32], win[32];
        repl_format_count(ctx, sizeof ctx, t->context_tokens);
        repl_format_count(win, sizeof win, t->context_window);
        buf_addf(out, "Context:               %s of %s tokens (%.0f%%)\n", ctx, win,
                 100.0 * (double)t->context_tokens / (double)t->context_window);
    }
    if (t->compactions)
        buf_addf(out, "Compactions:           %d\n", t->compactions);
}

void repl_format_turn(struct buf *out, const struct agent_turn *t)
{
    char in[32], o[32], cr[32], cw[32], api[32];
    repl_format_count(in, sizeof in, t->usage.input_tokens);
    repl_format_count(o, sizeof o, t->usage.output_tokens);
    repl_format_count(cr, sizeof cr, t->usage.cache_read_tokens);
    repl_format_count(cw, sizeof cw, t->usage.cache_write_tokens);
    repl_format_duration(api, sizeof api, t->api_ms);
    buf_addf(out, "%d call%s · %s in · %s out · %s cache read · %s cache write · $%.4f · %s\n", t->model_calls,
             t->model_calls == 1 ? "" : "s", in, o, cr, cw, t->cost_usd, api);
}

/* ---- history file ------------------------------------------------------------------ */

enum brock_status repl_history_path(char **out, struct brock_err *e)
{
    char *dir = NULL;
    enum brock_status st = store_default_dir(&dir, e);
    if (st != BROCK_OK)
        return st;
    *out = fs_join(dir, REPL_HISTORY_FILE);
    free(dir);
    return BROCK_OK;
}

void repl_history_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_addstr(out, "\\\\");
        else if (*s == '\n')
            buf_addstr(out, "\\n");
        else if (*s == '\r')
            buf_addstr(out, "\\r");
        else
            buf_addc(out, *s);
    }
}

void repl_history_unescape(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '\\' || s[i + 1] == 'n' || s[i + 1] == 'r')) {
            buf_addc(out, s[i + 1] == 'n' ? '\n' : s[i + 1] == 'r' ? '\r' : '\\');
            i++;
        } else {
            buf_addc(out, s[i]);
        }
    }
}

/* Lines of the file (NUL-free, non-empty), the last `keep` of them. */
struct hist_lines {
    const char **start;
    size_t *len;
    size_t n;
};

static void split_lines(const struct buf *b, struct hist_lines *l)
{
    size_t total = 0;
    for (size_t i = 0; i < b->len; i++)
        total += buf_cstr(b)[i] == '\n';
    total++;
    l->start = xcalloc(total, sizeof *l->start);
    l->len = xcalloc(total, sizeof *l->len);
    l->n = 0;
    const char *p = buf_cstr(b), *end = p + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n && !memchr(p, '\0', n)) {
            l->start[l->n] = p;
            l->len[l->n++] = n;
        }
        p += n + 1;
    }
}

static void free_lines(struct hist_lines *l)
{
    free(l->start);
    free(l->len);
}

/* Rewrite the file with its last REPL_HISTORY_MAX lines. */
static enum brock_status history_rewrite(const char *path, const struct hist_lines *l, struct brock_err *e)
{
    struct buf out = BUF_INIT(REPL_HISTORY_FILE_MAX);
    for (size_t i = l->n > REPL_HISTORY_MAX ? l->n - REPL_HISTORY_MAX : 0; i < l->n; i++) {
        buf_add(&out, l->start[i], l->len[i]);
        buf_addc(&out, '\n');
    }
    enum brock_status st = fs_write_atomic(path, buf_cstr(&out), out.len, 0600, e);
    buf_free(&out);
    return st;
}

size_t repl_history_parse(const char *text, size_t n, void (*fn)(void *ctx, const char *entry), void *ctx)
{
    struct buf b = {(char *)text, n, n, n, false};
    struct hist_lines l;
    split_lines(&b, &l);
    size_t from = l.n > REPL_HISTORY_MAX ? l.n - REPL_HISTORY_MAX : 0;
    struct buf ent = BUF_INIT(n + 1);
    for (size_t i = from; i < l.n; i++) {
        buf_reset(&ent);
        repl_history_unescape(&ent, l.start[i], l.len[i]);
        fn(ctx, buf_cstr(&ent));
    }
    buf_free(&ent);
    size_t lines = l.n;
    free_lines(&l);
    return lines;
}

enum brock_status repl_history_load(const char *path, void (*fn)(void *ctx, const char *entry), void *ctx,
                                    struct brock_err *e)
{
    struct buf b = BUF_INIT(REPL_HISTORY_FILE_MAX);
    struct brock_err fe = {0};
    enum brock_status st = fs_read_file(path, REPL_HISTORY_FILE_MAX, &b, &fe);
    if (st == BROCK_ERR_NOT_FOUND) {
        buf_free(&b);
        return BROCK_OK;
    }
    if (st != BROCK_OK) {
        buf_free(&b);
        if (e)
            *e = fe;
        return st;
    }
    if (repl_history_parse(buf_cstr(&b), b.len, fn, ctx) > 2 * REPL_HISTORY_MAX) {
        struct hist_lines l;
        split_lines(&b, &l);
        st = history_rewrite(path, &l, e);
        free_lines(&l);
    }
    buf_free(&b);
    return st;
}

enum brock_status repl_history_append(const char *path, const char *entry, struct brock_err *e)
{
    if (strlen(entry) > REPL_HISTORY_ENTRY_MAX || repl_blank(entry))
        return BROCK_OK;
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    enum brock_status st = BROCK_OK;
    if (slash && slash != dir) {
        *slash = '\0';
        st = fs_mkdirs(dir, 0700, e);
    }
    free(dir);
    if (st != BROCK_OK)
        return st;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
        (void)fchmod(fd, sb.st_mode & 0700);
    struct buf line = BUF_INIT(REPL_HISTORY_ENTRY_MAX * 2 + 2);
    repl_history_escape(&line, entry);
    buf_addc(&line, '\n');
    const char *p = buf_cstr(&line);
    size_t left = line.len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    buf_free(&line);
    /* a file grown big within one session is cut back now (else at the next load) */
    bool big = fstat(fd, &sb) == 0 && (size_t)sb.st_size > REPL_HISTORY_FILE_MAX / 2;
    close(fd);
    if (st == BROCK_OK && big) {
        struct buf b = BUF_INIT(REPL_HISTORY_FILE_MAX);
        st = fs_read_file(path, REPL_HISTORY_FILE_MAX, &b, e);
        if (st == BROCK_OK) {
            struct hist_lines l;
            split_lines(&b, &l);
            st = history_rewrite(path, &l, e);
            free_lines(&l);
        }
        buf_free(&b);
    }
    return st;
}

/* ---- tool calls --------------------------------------------------------------------- */

void repl_rel_path(struct buf *out, const char *path, const char *cwd)
{
    size_t n = cwd ? strlen(cwd) : 0;
    while (n > 1 && cwd[n - 1] == '/')
        n--;
    if (n && !strncmp(path, cwd, n) && path[n] == '/' && path[n + 1]) {
        buf_addstr(out, path + n + 1);
        return;
    }
    if (n && !strncmp(path, cwd, n) && path[n] == '\0') {
        buf_addc(out, '.');
        return;
    }
    buf_addstr(out, path);
}

void repl_tool_arg(const char *tool, const json_t *input, const char *cwd, struct buf *out)
{
    static const char *const path_keys[] = {"file_path", "notebook_path", "path"};
    const char *s;
    if (!strcmp(tool, "TodoWrite"))
        return;
    if (!strcmp(tool, "Bash")) {
        if ((s = json_string_value(json_object_get(input, "command"))))
            buf_addstr(out, s);
        return;
    }
    if (!strcmp(tool, "Glob") || !strcmp(tool, "Grep")) {
        if ((s = json_string_value(json_object_get(input, "pattern")))) {
            buf_addstr(out, s);
            const char *p = json_string_value(json_object_get(input, "path"));
            if (p) {
                buf_addstr(out, " in ");
                repl_rel_path(out, p, cwd);
            }
        }
        return;
    }
    for (size_t i = 0; i < BROCK_ARRAY_LEN(path_keys); i++) {
        if ((s = json_string_value(json_object_get(input, path_keys[i])))) {
            repl_rel_path(out, s, cwd);
            return;
        }
    }
    if ((s = json_string_value(json_object_get(input, "url")))) {
        buf_addstr(out, s);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)input, k, v)
    {
        if (json_is_string(v)) {
            buf_addstr(out, json_string_value(v));
            return;
        }
    }
}

/* Replace in cur -> next as the Edit tool does (non-overlapping, left to
 * right); false when old is missing (or found more than once without all). */
static bool apply_edit(const struct buf *cur, const char *old, size_t on, const char *new_, size_t nn, bool all,
                       struct buf *next)
{
    const char *h = buf_cstr(cur);
    size_t hn = cur->len;
    if (on == 0) {
        if (hn)
            return false;
        buf_add(next, new_, nn);
        return true;
    }
    size_t count = 0;
    for (const char *q = h; (size_t)(q - h) + on <= hn;) {
        const char *m = memmem(q, hn - (size_t)(q - h), old, on);
        if (!m)
            break;
        count++;
        q = m + on;
    }
    if (!count || (count > 1 && !all))
        return false;
    size_t i = 0;
    for (size_t k = 0; k < count; k++) {
        const char *m = memmem(h + i, hn - i, old, on);
        size_t at = (size_t)(m - h);
        buf_add(next, h + i, at - i);
        buf_add(next, new_, nn);
        i = at + on;
    }
    buf_add(next, h + i, hn - i);
    return buf_status(next) == BROCK_OK;
}

/* "\r\n" -> "\n" when every "\n" has its "\r" (the Edit tool's CRLF rule). */
static void crlf_to_lf(struct buf *b)
{
    size_t lf = 0, crlf = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->ptr[i] == '\n') {
            lf++;
            crlf += i && b->ptr[i - 1] == '\r';
        }
    }
    if (!lf || lf != crlf)
        return;
    size_t k = 0;
    for (size_t i = 0; i < b->len; i++)
        if (!(b->ptr[i] == '\r' && i + 1 < b->len && b->ptr[i + 1] == '\n'))
            b->ptr[k++] = b->ptr[i];
    buf_truncate(b, k);
}

enum brock_status repl_edit_preview(const char *tool, const json_t *input, const char *path, const char *label,
                                    struct buf *out, struct brock_err *e)
{
    if (!path)
        return err_set(e, BROCK_ERR_USAGE, "%s: no file", tool);
    struct buf old = BUF_INIT(TOOL_EDIT_MAX_BYTES);
    enum brock_status st = fs_read_file(path, TOOL_EDIT_MAX_BYTES, &old, e);
    if (st == BROCK_ERR_NOT_FOUND) {
        err_clear(e);
        st = BROCK_OK;
    }
    if (st == BROCK_OK)
        st = repl_edit_preview_text(tool, input, buf_cstr(&old), old.len, label, out, e);
    buf_free(&old);
    return st;
}

enum brock_status repl_edit_preview_text(const char *tool, const json_t *input, const char *text, size_t n,
                                         const char *label, struct buf *out, struct brock_err *e)
{
    bool write = !strcmp(tool, "Write"), multi = !strcmp(tool, "MultiEdit"), edit = !strcmp(tool, "Edit");
    if (!write && !multi && !edit)
        return err_set(e, BROCK_ERR_USAGE, "%s: no preview for this tool", tool);
    if (!json_is_object(input))
        return err_set(e, BROCK_ERR_USAGE, "%s: malformed input", tool);
    if (n > TOOL_EDIT_MAX_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: the file is larger than %zu bytes", tool, TOOL_EDIT_MAX_BYTES);
    struct buf old = BUF_INIT(TOOL_EDIT_MAX_BYTES), cur = BUF_INIT(TOOL_EDIT_MAX_BYTES),
               next = BUF_INIT(TOOL_EDIT_MAX_BYTES);
    enum brock_status st = BROCK_OK;
    buf_add(&old, text, n);
    if (write) {
        const char *content = json_string_value(json_object_get(input, "content"));
        if (!content) {
            st = err_set(e, BROCK_ERR_USAGE, "Write: `content` is missing");
            goto done;
        }
        buf_add(&cur, content, json_string_length(json_object_get(input, "content")));
    } else {
        buf_add(&cur, buf_cstr(&old), old.len);
        crlf_to_lf(&cur);
        const json_t *edits = edit ? input : json_object_get(input, "edits");
        size_t nops = edit ? 1 : json_array_size(edits);
        if (!nops) {
            st = err_set(e, BROCK_ERR_USAGE, "%s: no edits", tool);
            goto done;
        }
        for (size_t i = 0; i < nops; i++) {
            const json_t *op = edit ? input : json_array_get(edits, i);
            const json_t *o = json_object_get(op, "old_string"), *nw = json_object_get(op, "new_string");
            if (!json_is_string(o) || !json_is_string(nw)) {
                st = err_set(e, BROCK_ERR_USAGE, "%s: edit %zu lacks old_string or new_string", tool, i + 1);
                goto done;
            }
            buf_reset(&next);
            if (!apply_edit(&cur, json_string_value(o), json_string_length(o), json_string_value(nw),
                            json_string_length(nw), json_is_true(json_object_get(op, "replace_all")), &next)) {
                st = err_set(e, BROCK_ERR_NOT_FOUND, "%s: edit %zu does not apply to %s", tool, i + 1,
                             label ? label : "the file");
                goto done;
            }
            struct buf t = cur;
            cur = next;
            next = t;
        }
        crlf_to_lf(&old);
    }
    if (buf_status(&cur) != BROCK_OK) {
        st = err_set(e, BROCK_ERR_TOO_LARGE, "%s: the result would be larger than %zu bytes", tool,
                     TOOL_EDIT_MAX_BYTES);
        goto done;
    }
    render_diff_make(out, label, buf_cstr(&old), old.len, buf_cstr(&cur), cur.len, 3);
done:
    buf_free(&old);
    buf_free(&cur);
    buf_free(&next);
    return st;
}
