/* perm_shell.c - split a shell command into simple commands, quote-aware, so
 * that every part of `a && b | c; d` can be checked against the Bash rules.
 *
 * This is not a shell: it is a conservative reader. It finds the separators
 * (&& || ; | |& & newline and the parentheses of subshells and substitutions),
 * words with their quoting, redirections and here-documents, and it flags
 * what it cannot judge: any command substitution ($( ), ` `, <( ), >( ),
 * $(( ))) and anything unterminated. The commands inside substitutions are
 * still split out (so deny rules see them); the engine never lets an allow
 * rule approve a command that has a substitution. */
#include "perm_int.h"

#include <string.h>

#include "../util/alloc.h"

struct wlist {
    struct perm_word *w;
    size_t n, cap;
};

struct heredoc {
    char *delim;
    bool quoted;
    bool strip_tabs;
};

#define MAX_HEREDOCS 16

struct scanner {
    const char *s;
    struct perm_shell *sh;
    int depth;
};

static size_t scan_list(struct scanner *sc, size_t i, size_t end, bool paren_term);

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool is_meta(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '&' || c == '|' ||
           c == '(' || c == ')' || c == '<' || c == '>';
}

static void word_free(struct perm_word *w)
{
    free(w->raw);
    free(w->val);
    w->raw = w->val = NULL;
}

/* --- Words ------------------------------------------------------------- */

struct wb {
    struct buf raw, val;
    bool expands;
    bool tilde;
};

static void wb_add(struct wb *b, const char *p, size_t n)
{
    buf_add(&b->raw, p, n);
    buf_add(&b->val, p, n);
}

/* Find the closing backtick of `...` starting after the opening one; returns
 * its index or `end` when there is none. */
static size_t find_backtick(const char *s, size_t i, size_t end)
{
    while (i < end) {
        if (s[i] == '\\' && i + 1 < end) {
            i += 2;
            continue;
        }
        if (s[i] == '`')
            return i;
        i++;
    }
    return end;
}

/* A substitution starting at s[i] ("$(" or "`"); appends its text to the word
 * and returns the index after it. */
static size_t scan_subst(struct scanner *sc, size_t i, size_t end, struct wb *b)
{
    const char *s = sc->s;
    size_t j;
    sc->sh->subst = true;
    b->expands = true;
    if (s[i] == '`') {
        size_t close = find_backtick(s, i + 1, end);
        scan_list(sc, i + 1, close, false);
        if (close >= end) {
            sc->sh->unchecked = true;
            j = end;
        } else {
            j = close + 1;
        }
    } else {
        j = scan_list(sc, i + 2, end, true);
    }
    wb_add(b, s + i, j - i);
    return j;
}

/* Double-quoted text starting at s[i] == '"'. */
static size_t scan_dquote(struct scanner *sc, size_t i, size_t end, struct wb *b)
{
    const char *s = sc->s;
    buf_addc(&b->raw, '"');
    i++;
    while (i < end) {
        char c = s[i];
        if (c == '"') {
            buf_addc(&b->raw, '"');
            return i + 1;
        }
        if (c == '\\' && i + 1 < end) {
            char n = s[i + 1];
            if (n == '\n') {
                i += 2;
                continue;
            }
            if (n == '$' || n == '`' || n == '"' || n == '\\') {
                buf_add(&b->raw, s + i, 2);
                buf_addc(&b->val, n);
                i += 2;
                continue;
            }
            wb_add(b, s + i, 1);
            i++;
            continue;
        }
        if (c == '`' || (c == '$' && i + 1 < end && s[i + 1] == '(')) {
            i = scan_subst(sc, i, end, b);
            continue;
        }
        if (c == '$')
            b->expands = true;
        wb_add(b, s + i, 1);
        i++;
    }
    sc->sh->unchecked = true; /* unterminated */
    return end;
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* One word starting at s[i] (not a blank or an operator). */
static size_t scan_word(struct scanner *sc, size_t i, size_t end, struct perm_word *out)
{
    const char *s = sc->s;
    struct wb b = {BUF_INIT(PERM_COMMAND_MAX_BYTES), BUF_INIT(PERM_COMMAND_MAX_BYTES), false, false};
    if (s[i] == '~')
        b.tilde = true;
    while (i < end) {
        char c = s[i];
        if (is_meta(c))
            break;
        if (c == '\\') {
            if (i + 1 >= end) {
                wb_add(&b, s + i, 1);
                i++;
                continue;
            }
            if (s[i + 1] == '\n') {
                i += 2;
                continue;
            }
            buf_add(&b.raw, s + i, 2);
            buf_addc(&b.val, s[i + 1]);
            i += 2;
            continue;
        }
        if (c == '\'') {
            const char *q = memchr(s + i + 1, '\'', end - i - 1);
            if (!q) {
                sc->sh->unchecked = true;
                wb_add(&b, s + i, end - i);
                i = end;
                break;
            }
            size_t close = (size_t)(q - s);
            buf_add(&b.raw, s + i, close + 1 - i);
            buf_add(&b.val, s + i + 1, close - i - 1);
            i = close + 1;
            continue;
        }
        if (c == '"') {
            i = scan_dquote(sc, i, end, &b);
            continue;
        }
        if (c == '`' || (c == '$' && i + 1 < end && s[i + 1] == '(')) {
            i = scan_subst(sc, i, end, &b);
            continue;
        }
        if (c == '$' && i + 1 < end && s[i + 1] == '\'') {
            /* $'...' (ANSI-C quoting): escapes we do not decode */
            size_t j = i + 2;
            while (j < end && s[j] != '\'')
                j += (s[j] == '\\' && j + 1 < end) ? 2 : 1;
            if (j >= end) {
                sc->sh->unchecked = true;
                j = end;
            } else {
                j++;
            }
            wb_add(&b, s + i, j - i);
            b.expands = true;
            i = j;
            continue;
        }
        if (c == '$' || c == '*' || c == '?' || c == '[')
            b.expands = true;
        wb_add(&b, s + i, 1);
        i++;
    }
    if (buf_status(&b.raw) != BROCK_OK || buf_status(&b.val) != BROCK_OK)
        sc->sh->unchecked = true;
    out->raw = buf_take(&b.raw);
    out->val = buf_take(&b.val);
    out->expands = b.expands;
    /* tilde expansion only for an unquoted "~" or "~/..." */
    out->expands |= b.tilde && !(out->raw[1] == '\0' || out->raw[1] == '/');
    out->assign = false;
    const char *r = out->raw;
    if (is_name_start(r[0])) {
        size_t k = 1;
        while (is_name_char(r[k]))
            k++;
        out->assign = r[k] == '=' || (r[k] == '+' && r[k + 1] == '=');
    }
    buf_free(&b.raw);
    buf_free(&b.val);
    return i;
}

/* --- Commands ---------------------------------------------------------- */

static bool word_is(const struct perm_word *w, const char *kw)
{
    return !strcmp(w->raw, kw);
}

static bool is_lead_kw(const struct perm_word *w)
{
    static const char *const kw[] = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "coproc"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(kw); i++)
        if (word_is(w, kw[i]))
            return true;
    return false;
}

/* Headers that run nothing themselves (their substitutions are flagged). */
static bool is_header_kw(const struct perm_word *w)
{
    static const char *const kw[] = {"for", "select", "case", "function", "[["};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(kw); i++)
        if (word_is(w, kw[i]))
            return true;
    return false;
}

static bool is_close_kw(const struct perm_word *w)
{
    return word_is(w, "fi") || word_is(w, "done") || word_is(w, "}") || word_is(w, "esac");
}

static void wlist_push(struct wlist *l, struct perm_word *w)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->w = xrealloc(l->w, l->cap * sizeof *l->w);
    }
    l->w[l->n++] = *w;
}

static void end_cmd(struct scanner *sc, struct wlist *cur)
{
    struct perm_shell *sh = sc->sh;
    size_t i = 0;
    while (i < cur->n && is_lead_kw(&cur->w[i]))
        i++;
    size_t rest = cur->n - i;
    bool keep = rest > 0 && !is_header_kw(&cur->w[i]) && !(rest == 1 && is_close_kw(&cur->w[i]));
    if (keep && (sh->nparts >= PERM_SHELL_MAX_PARTS || sh->nwords + rest > PERM_SHELL_MAX_WORDS)) {
        sh->unchecked = true;
        keep = false;
    }
    if (keep) {
        if (sh->nwords + rest > sh->capwords) {
            while (sh->nwords + rest > sh->capwords)
                sh->capwords = sh->capwords ? sh->capwords * 2 : 16;
            sh->words = xrealloc(sh->words, sh->capwords * sizeof *sh->words);
        }
        if (sh->nparts == sh->capparts) {
            sh->capparts = sh->capparts ? sh->capparts * 2 : 8;
            sh->parts = xrealloc(sh->parts, sh->capparts * sizeof *sh->parts);
        }
        memcpy(sh->words + sh->nwords, cur->w + i, rest * sizeof *cur->w);
        sh->parts[sh->nparts].first = sh->nwords;
        sh->parts[sh->nparts].n = rest;
        sh->nparts++;
        sh->nwords += rest;
        for (size_t k = 0; k < i; k++)
            word_free(&cur->w[k]);
    } else {
        for (size_t k = 0; k < cur->n; k++)
            word_free(&cur->w[k]);
    }
    cur->n = 0;
}

static void add_redirect(struct perm_shell *sh, const struct perm_word *w, bool output)
{
    if (sh->nredirs >= PERM_SHELL_MAX_PARTS) {
        sh->unchecked = true;
        return;
    }
    if (sh->nredirs == sh->capredirs) {
        sh->capredirs = sh->capredirs ? sh->capredirs * 2 : 4;
        sh->redirs = xrealloc(sh->redirs, sh->capredirs * sizeof *sh->redirs);
    }
    struct perm_redirect *r = &sh->redirs[sh->nredirs++];
    r->target = xstrdup(w->val);
    r->output = output;
    r->expands = w->expands;
    r->part = sh->nparts;
}

static size_t skip_blanks(const char *s, size_t i, size_t end)
{
    for (;;) {
        if (i < end && is_blank(s[i]))
            i++;
        else if (i + 1 < end && s[i] == '\\' && s[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

static bool all_digits_or_dash(const char *v)
{
    if (!strcmp(v, "-"))
        return true;
    if (!*v)
        return false;
    for (; *v; v++)
        if (*v < '0' || *v > '9')
            return false;
    return true;
}

/* A redirection operator at s[i] ('<', '>' or "&>"). */
static size_t scan_redirect(struct scanner *sc, size_t i, size_t end, struct heredoc *hd, size_t *nhd)
{
    const char *s = sc->s;
    bool out = false, dup = false, heredoc = false, strip = false, herestr = false;
    if (s[i] == '&') {
        i += 2; /* &> */
        if (i < end && s[i] == '>')
            i++;
        out = true;
    } else if (s[i] == '>') {
        i++;
        if (i < end && (s[i] == '>' || s[i] == '|'))
            i++;
        else if (i < end && s[i] == '&') {
            i++;
            dup = true;
        }
        out = true;
    } else {
        i++;
        if (i < end && s[i] == '<') {
            i++;
            if (i < end && s[i] == '<') {
                i++;
                herestr = true;
            } else {
                heredoc = true;
                if (i < end && s[i] == '-') {
                    i++;
                    strip = true;
                }
            }
        } else if (i < end && s[i] == '&') {
            i++;
            dup = true;
        } else if (i < end && s[i] == '>') {
            i++;
            out = true;
        }
    }
    i = skip_blanks(s, i, end);
    if (i >= end || is_meta(s[i])) {
        sc->sh->unchecked = true; /* a redirection without its word */
        return i;
    }
    struct perm_word w;
    i = scan_word(sc, i, end, &w);
    if (heredoc) {
        if (*nhd < MAX_HEREDOCS) {
            hd[*nhd].delim = xstrdup(w.val);
            hd[*nhd].quoted = strpbrk(w.raw, "'\"\\") != NULL;
            hd[*nhd].strip_tabs = strip;
            (*nhd)++;
        } else {
            sc->sh->unchecked = true;
        }
    } else if (!herestr && !(dup && all_digits_or_dash(w.val))) {
        /* >&file writes like &>file; <file and <&file read */
        add_redirect(sc->sh, &w, out);
    }
    word_free(&w);
    return i;
}

/* Here-document bodies start after the newline that ends their command. */
static size_t read_heredocs(struct scanner *sc, size_t i, size_t end, struct heredoc *hd, size_t *nhd)
{
    const char *s = sc->s;
    for (size_t h = 0; h < *nhd; h++) {
        bool found = false;
        size_t dl = strlen(hd[h].delim);
        while (i < end) {
            size_t ls = i;
            const char *nl = memchr(s + i, '\n', end - i);
            size_t le = nl ? (size_t)(nl - s) : end;
            size_t p = ls;
            if (hd[h].strip_tabs)
                while (p < le && s[p] == '\t')
                    p++;
            if (le - p == dl && !memcmp(s + p, hd[h].delim, dl)) {
                i = le < end ? le + 1 : end;
                found = true;
                break;
            }
            if (!hd[h].quoted) {
                /* an unquoted body expands $( ) and ` ` */
                size_t k = ls;
                size_t next = le < end ? le + 1 : end;
                while (k < le) {
                    if (s[k] == '\\') {
                        k += 2;
                        continue;
                    }
                    if (s[k] == '`' || (s[k] == '$' && k + 1 < le && s[k + 1] == '(')) {
                        struct wb b = {BUF_INIT(PERM_COMMAND_MAX_BYTES), BUF_INIT(PERM_COMMAND_MAX_BYTES), false, false};
                        k = scan_subst(sc, k, end, &b);
                        buf_free(&b.raw);
                        buf_free(&b.val);
                        if (k > le) {
                            /* the substitution ran over the line: continue after it */
                            const char *nl2 = memchr(s + k, '\n', end - k);
                            next = nl2 ? (size_t)(nl2 - s) + 1 : end;
                            break;
                        }
                        continue;
                    }
                    k++;
                }
                i = next;
                continue;
            }
            i = le < end ? le + 1 : end;
        }
        if (!found)
            sc->sh->unchecked = true;
    }
    for (size_t h = 0; h < *nhd; h++)
        free(hd[h].delim);
    *nhd = 0;
    return i;
}

static size_t scan_list(struct scanner *sc, size_t i, size_t end, bool paren_term)
{
    const char *s = sc->s;
    struct perm_shell *sh = sc->sh;
    if (++sc->depth > PERM_SHELL_MAX_DEPTH) {
        sh->unchecked = true;
        sc->depth--;
        return end;
    }
    struct wlist cur = {0};
    struct heredoc hd[MAX_HEREDOCS];
    size_t nhd = 0;
    int paren = 0;
    bool closed = false;
    while (i < end) {
        char c = s[i];
        if (is_blank(c)) {
            i++;
            continue;
        }
        if (c == '\\' && i + 1 < end && s[i + 1] == '\n') {
            i += 2;
            continue;
        }
        if (c == '\n') {
            end_cmd(sc, &cur);
            i++;
            if (nhd)
                i = read_heredocs(sc, i, end, hd, &nhd);
            continue;
        }
        if (c == '#') {
            const char *nl = memchr(s + i, '\n', end - i);
            i = nl ? (size_t)(nl - s) : end;
            continue;
        }
        if (c == ';') {
            end_cmd(sc, &cur);
            i++;
            if (i < end && (s[i] == ';' || s[i] == '&'))
                i++; /* ;; ;& in case */
            continue;
        }
        if (c == '&') {
            if (i + 1 < end && s[i + 1] == '>') {
                i = scan_redirect(sc, i, end, hd, &nhd);
                continue;
            }
            end_cmd(sc, &cur);
            i += (i + 1 < end && s[i + 1] == '&') ? 2 : 1;
            continue;
        }
        if (c == '|') {
            end_cmd(sc, &cur);
            i += (i + 1 < end && (s[i + 1] == '|' || s[i + 1] == '&')) ? 2 : 1;
            continue;
        }
        if (c == '(') {
            end_cmd(sc, &cur);
            paren++;
            i++;
            continue;
        }
        if (c == ')') {
            end_cmd(sc, &cur);
            i++;
            if (paren_term && paren == 0) {
                closed = true;
                break;
            }
            if (paren > 0)
                paren--;
            continue;
        }
        if ((c == '<' || c == '>') && i + 1 < end && s[i + 1] == '(') {
            /* process substitution: an argument produced by a command */
            struct wb b = {BUF_INIT(PERM_COMMAND_MAX_BYTES), BUF_INIT(PERM_COMMAND_MAX_BYTES), false, false};
            sh->subst = true;
            size_t j = scan_list(sc, i + 2, end, true);
            wb_add(&b, s + i, j - i);
            struct perm_word w = {buf_take(&b.raw), buf_take(&b.val), false, true};
            buf_free(&b.raw);
            buf_free(&b.val);
            wlist_push(&cur, &w);
            i = j;
            continue;
        }
        if (c == '<' || c == '>') {
            i = scan_redirect(sc, i, end, hd, &nhd);
            continue;
        }
        if (c >= '0' && c <= '9') {
            size_t j = i;
            while (j < end && s[j] >= '0' && s[j] <= '9')
                j++;
            if (j < end && (s[j] == '<' || s[j] == '>') && !(j + 1 < end && s[j + 1] == '(')) {
                i = scan_redirect(sc, j, end, hd, &nhd);
                continue;
            }
        }
        struct perm_word w;
        i = scan_word(sc, i, end, &w);
        wlist_push(&cur, &w);
    }
    end_cmd(sc, &cur);
    if (nhd) {
        /* here-documents with no newline after their command */
        sh->unchecked = true;
        for (size_t h = 0; h < nhd; h++)
            free(hd[h].delim);
    }
    if (paren_term && !closed)
        sh->unchecked = true;
    free(cur.w);
    sc->depth--;
    return i;
}

void perm_shell_parse(const char *cmd, size_t len, struct perm_shell *sh)
{
    memset(sh, 0, sizeof *sh);
    if (len > PERM_COMMAND_MAX_BYTES || memchr(cmd, '\0', len)) {
        sh->unchecked = true;
        return;
    }
    struct scanner sc = {cmd, sh, 0};
    scan_list(&sc, 0, len, false);
}

void perm_shell_cleanup(struct perm_shell *sh)
{
    if (!sh)
        return;
    for (size_t i = 0; i < sh->nwords; i++)
        word_free(&sh->words[i]);
    for (size_t i = 0; i < sh->nredirs; i++)
        free(sh->redirs[i].target);
    free(sh->words);
    free(sh->parts);
    free(sh->redirs);
    memset(sh, 0, sizeof *sh);
}

char *perm_shell_join(const struct perm_shell *sh, size_t from, size_t to, bool use_val, bool base_cmd)
{
    size_t n = 1;
    for (size_t i = from; i < to; i++)
        n += strlen(use_val ? sh->words[i].val : sh->words[i].raw) + 1;
    char *out = xmalloc(n);
    size_t o = 0;
    for (size_t i = from; i < to; i++) {
        const char *w = use_val ? sh->words[i].val : sh->words[i].raw;
        if (i == from && base_cmd) {
            const char *sl = strrchr(w, '/');
            if (sl && sl[1])
                w = sl + 1;
        }
        size_t l = strlen(w);
        if (o)
            out[o++] = ' ';
        memcpy(out + o, w, l);
        o += l;
    }
    out[o] = '\0';
    return out;
}

/* --- Command start: assignments and wrappers --------------------------- */

static const char *base_name(const char *w)
{
    const char *sl = strrchr(w, '/');
    return sl && sl[1] ? sl + 1 : w;
}

/* Variables a command may set in front of itself without changing what runs. */
static bool safe_assign(const struct perm_word *w)
{
    static const char *const names[] = {
        "CI", "DEBUG", "FORCE_COLOR", "NO_COLOR", "NODE_ENV", "RUST_BACKTRACE", "RUST_LOG",
        "LANG", "LC_ALL", "TZ", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "GOOS", "GOARCH",
        "CGO_ENABLED", "TERM", "COLUMNS", "VERBOSE",
    };
    if (w->expands)
        return false;
    const char *eq = strchr(w->raw, '=');
    size_t nl = (size_t)(eq - w->raw);
    if (nl && w->raw[nl - 1] == '+')
        return false;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == nl && !memcmp(names[i], w->raw, nl))
            return true;
    return false;
}

static bool opt_is(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, list[i]))
            return true;
    return false;
}

/* Skip options of a wrapper: words starting with '-' ("--" ends them); those
 * in `with_arg` take the next word too. */
static size_t skip_opts(const struct perm_shell *sh, size_t i, size_t end, const char *const *with_arg,
                        size_t nwith)
{
    while (i < end) {
        const char *v = sh->words[i].val;
        if (v[0] != '-' || !v[1])
            break;
        i++;
        if (!strcmp(v, "--"))
            break;
        if (opt_is(v, with_arg, nwith))
            i++;
    }
    return i < end ? i : end;
}

size_t perm_shell_command_start(const struct perm_shell *sh, const struct perm_part *p, bool deny)
{
    size_t i = p->first, end = p->first + p->n;
    for (int guard = 0; guard < 64 && i < end; guard++) {
        while (i < end && sh->words[i].assign) {
            if (!deny && !safe_assign(&sh->words[i]))
                return i;
            i++;
        }
        if (i >= end)
            break;
        const char *v = sh->words[i].val;
        if (deny)
            v = base_name(v);
        if (!strcmp(v, "timeout")) {
            static const char *const a[] = {"-s", "-k", "--signal", "--kill-after"};
            i = skip_opts(sh, i + 1, end, a, BROCK_ARRAY_LEN(a));
            if (i < end)
                i++; /* the duration */
        } else if (!strcmp(v, "time")) {
            i = skip_opts(sh, i + 1, end, NULL, 0);
        } else if (!strcmp(v, "nice")) {
            static const char *const a[] = {"-n"};
            i = skip_opts(sh, i + 1, end, a, BROCK_ARRAY_LEN(a));
        } else if (!strcmp(v, "nohup")) {
            i++;
        } else if (!strcmp(v, "stdbuf")) {
            static const char *const a[] = {"-i", "-o", "-e"};
            i = skip_opts(sh, i + 1, end, a, BROCK_ARRAY_LEN(a));
        } else if (deny && !strcmp(v, "env")) {
            static const char *const a[] = {"-u", "--unset", "-C", "--chdir", "-S", "--split-string"};
            i = skip_opts(sh, i + 1, end, a, BROCK_ARRAY_LEN(a));
        } else if (deny && !strcmp(v, "exec")) {
            static const char *const a[] = {"-a"};
            i = skip_opts(sh, i + 1, end, a, BROCK_ARRAY_LEN(a));
        } else if (deny && (!strcmp(v, "command") || !strcmp(v, "builtin"))) {
            i = skip_opts(sh, i + 1, end, NULL, 0);
        } else if (deny && (!strcmp(v, "sudo") || !strcmp(v, "doas"))) {
            static const char *const a[] = {"-u", "-g", "-C", "-h", "-p", "-U", "-r", "-t", "-T", "-D"};
            i = skip_opts(sh, i + 1, end, a, BROCK_ARRAY_LEN(a));
        } else {
            break;
        }
    }
    return i < end ? i : end;
}

/* --- "Always allow" proposals ------------------------------------------ */

/* Commands whose prefix rule would allow far more than the user saw: propose
 * the exact command instead. */
static const char *const broad_cmds[] = {
    "rm", "rmdir", "sudo", "su", "doas", "dd", "mkfs", "chmod", "chown", "chgrp", "curl", "wget",
    "ssh", "scp", "sftp", "rsync", "nc", "ncat", "sh", "bash", "zsh", "fish", "dash", "ksh", "eval",
    "exec", "env", "xargs", "find", "python", "python3", "python2", "node", "perl", "ruby", "php",
    "kill", "pkill", "killall", "shutdown", "reboot", "mv", "cp", "ln", "tee", "truncate", "shred",
    "crontab", "source", ".", "git",
};
/* Commands whose first argument is a subcommand ("git status", "npm test"). */
static const char *const sub_cmds[] = {
    "npm", "pnpm", "yarn", "bun", "npx", "cargo", "go", "docker", "podman", "kubectl", "helm",
    "make", "gh", "pip", "pip3", "uv", "poetry", "bundle", "rake", "mvn", "gradle", "dotnet", "brew",
    "systemctl", "terraform", "cmake", "ctest", "swift", "mix", "composer", "rustup", "deno", "conda",
    "just", "tox", "nox", "ninja", "meson", "pytest", "jest", "vitest",
};
/* Subcommands of git that only look (prefix rules are proposed for these). */
static const char *const git_read[] = {
    "status", "diff", "log", "show", "branch", "blame", "grep", "ls-files", "rev-parse", "describe", "remote",
};

static bool in_list(const char *v, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, l[i]))
            return true;
    return false;
}

/* A plain subcommand word: letters, digits, '-', '_', ':', '.'; starts with a letter. */
static bool plain_word(const struct perm_word *w)
{
    const char *v = w->raw;
    if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
        return false;
    for (; *v; v++) {
        char c = *v;
        if (!(is_name_char(c) || c == '-' || c == ':' || c == '.'))
            return false;
    }
    return true;
}

static bool plain_cmd(const struct perm_word *w)
{
    const char *v = w->raw;
    if (!*v || w->expands || w->assign)
        return false;
    for (; *v; v++) {
        char c = *v;
        if (!(is_name_char(c) || c == '-' || c == '.' || c == '/' || c == '+'))
            return false;
    }
    return true;
}

/* "Bash(" + text with '*' escaped (+ ":*" when a prefix) + ")" */
static char *make_bash_rule(const char *text, bool prefix)
{
    struct buf b = BUF_INIT(PERM_RULE_MAX_BYTES);
    buf_addstr(&b, "Bash(");
    for (const char *p = text; *p; p++) {
        if (*p == '*' || *p == '\\')
            buf_addc(&b, '\\');
        buf_addc(&b, *p);
    }
    if (prefix)
        buf_addstr(&b, ":*");
    buf_addc(&b, ')');
    if (buf_status(&b) != BROCK_OK) {
        buf_free(&b);
        return NULL;
    }
    char *r = buf_take(&b);
    buf_free(&b);
    return r;
}

char *perm_shell_suggest(const struct perm_shell *sh, const struct perm_part *p)
{
    size_t end = p->first + p->n;
    /* no allow rule can match a command with a substitution, and an
     * unchecked one may be cut anywhere */
    if (sh->subst || sh->unchecked)
        return NULL;
    size_t i = perm_shell_command_start(sh, p, false);
    if (i >= end || sh->words[i].assign || sh->words[i].expands)
        return NULL;
    const struct perm_word *w0 = &sh->words[i];
    size_t k = 0; /* words in a prefix rule; 0 = propose the exact command */
    if (plain_cmd(w0) && !in_list(w0->val, broad_cmds, BROCK_ARRAY_LEN(broad_cmds))) {
        if (in_list(w0->val, sub_cmds, BROCK_ARRAY_LEN(sub_cmds))) {
            if (i + 1 < end && plain_word(&sh->words[i + 1])) {
                k = 2;
                const char *sub = sh->words[i + 1].val;
                if ((!strcmp(w0->val, "npm") || !strcmp(w0->val, "pnpm") || !strcmp(w0->val, "yarn") ||
                     !strcmp(w0->val, "bun")) &&
                    !strcmp(sub, "run")) {
                    k = i + 2 < end && plain_word(&sh->words[i + 2]) ? 3 : 0;
                }
            }
        } else {
            k = 1;
        }
    } else if (!strcmp(w0->val, "git") && i + 1 < end && plain_word(&sh->words[i + 1]) &&
               in_list(sh->words[i + 1].val, git_read, BROCK_ARRAY_LEN(git_read))) {
        k = 2;
    }
    char *text = perm_shell_join(sh, i, k ? i + k : end, false, false);
    char *rule = make_bash_rule(text, k != 0);
    free(text);
    /* propose only a rule that really matches this command: quoting corner
     * cases (ANSI-C quotes, escaped quotes next to blanks) could otherwise
     * give a rule that never stops the question */
    static const struct perm_rule_ctx ctx = {"/", "/", "/"};
    struct perm_rule *r = NULL;
    char *whole = perm_shell_join(sh, i, end, false, false);
    if (!rule || perm_rule_parse(rule, &ctx, &r, NULL) != BROCK_OK || !perm_rule_match_command(r, whole)) {
        free(rule);
        rule = NULL;
    }
    perm_rule_free(r);
    free(whole);
    return rule;
}
