/* term.c - terminal capabilities, display widths and safe output (term.h). */
#include "term.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <utf8proc.h>

/* ---- environment and decisions ---- */

void term_env_load(struct term_env *env)
{
    env->no_color = getenv("NO_COLOR");
    env->force_color = getenv("FORCE_COLOR");
    env->clicolor_force = getenv("CLICOLOR_FORCE");
    env->clicolor = getenv("CLICOLOR");
    env->term = getenv("TERM");
    env->lc_all = getenv("LC_ALL");
    env->lc_ctype = getenv("LC_CTYPE");
    env->lang = getenv("LANG");
    env->columns = getenv("COLUMNS");
    env->lines = getenv("LINES");
}

static bool set(const char *v)
{
    return v && *v;
}

bool term_color_decide(const struct term_env *env, bool is_tty, bool flag_no_color)
{
    if (flag_no_color || set(env->no_color))
        return false;
    if (set(env->force_color))
        return !(strcmp(env->force_color, "0") == 0 || strcasecmp(env->force_color, "false") == 0);
    if (set(env->clicolor_force) && strcmp(env->clicolor_force, "0") != 0)
        return true;
    if (env->term && strcmp(env->term, "dumb") == 0)
        return false;
    if (!is_tty)
        return false;
    if (env->clicolor && strcmp(env->clicolor, "0") == 0)
        return false;
    return true;
}

bool term_live_decide(const struct term_env *env, bool is_tty)
{
    return is_tty && set(env->term) && strcmp(env->term, "dumb") != 0;
}

bool term_utf8_decide(const struct term_env *env)
{
    const char *v = set(env->lc_all) ? env->lc_all : set(env->lc_ctype) ? env->lc_ctype : env->lang;
    if (!set(v))
        return false;
    /* "en_US.UTF-8", "C.UTF-8", "de_DE.utf8", "UTF-8" */
    return strcasestr(v, "utf-8") != NULL || strcasestr(v, "utf8") != NULL;
}

static int size_decide(int from_ioctl, const char *env, int fallback)
{
    if (from_ioctl > 0)
        return from_ioctl;
    if (set(env)) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 10000)
            return (int)v;
    }
    return fallback;
}

int term_width_decide(int ioctl_cols, const char *columns, int fallback)
{
    return size_decide(ioctl_cols, columns, fallback);
}

int term_height_decide(int ioctl_rows, const char *lines, int fallback)
{
    return size_decide(ioctl_rows, lines, fallback);
}

bool term_isatty(int fd)
{
    return fd >= 0 && isatty(fd) == 1;
}

static void winsize(int fd, int *cols, int *rows)
{
    struct winsize ws;
    *cols = *rows = 0;
    if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
}

int term_width(int fd)
{
    int cols, rows;
    winsize(fd, &cols, &rows);
    return term_width_decide(cols, getenv("COLUMNS"), 80);
}

int term_height(int fd)
{
    int cols, rows;
    winsize(fd, &cols, &rows);
    return term_height_decide(rows, getenv("LINES"), 24);
}

void term_caps_detect(struct term_caps *caps, bool flag_no_color)
{
    struct term_env env;
    term_env_load(&env);
    caps->out_tty = term_isatty(STDOUT_FILENO);
    caps->err_tty = term_isatty(STDERR_FILENO);
    caps->color = term_color_decide(&env, caps->out_tty, flag_no_color);
    caps->err_color = term_color_decide(&env, caps->err_tty, flag_no_color);
    caps->live = term_live_decide(&env, caps->out_tty);
    caps->unicode = term_utf8_decide(&env);
    int cols, rows;
    winsize(STDOUT_FILENO, &cols, &rows);
    caps->width = term_width_decide(cols, env.columns, 80);
    caps->height = term_height_decide(rows, env.lines, 24);
}

static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

void term_watch_resize(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, NULL);
}

bool term_take_resize(void)
{
    if (!resized)
        return false;
    resized = 0;
    return true;
}

/* ---- display width ---- */

/* Decode one code point; its length, or 0 if s does not start with valid UTF-8. */
static size_t decode(const unsigned char *s, size_t n, int32_t *cp)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t len = utf8proc_iterate(s, n > 4 ? 4 : (utf8proc_ssize_t)n, &c);
    if (len <= 0)
        return 0;
    *cp = c;
    return (size_t)len;
}

static bool is_regional_indicator(int32_t cp)
{
    return cp >= 0x1F1E6 && cp <= 0x1F1FF;
}

size_t term_next_cluster(const char *str, size_t n, size_t *width)
{
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0) {
        *width = 0;
        return 0;
    }
    if (s[0] < 0x80 && (n == 1 || s[1] < 0x80)) {
        *width = s[0] >= 0x20 && s[0] != 0x7f;
        return 1;
    }
    int32_t first, prev, cp;
    size_t len = decode(s, n, &first);
    if (len == 0) {
        *width = 1;
        return 1;
    }
    int w = utf8proc_charwidth(first);
    size_t count = 1;
    utf8proc_int32_t state = 0;
    prev = first;
    while (len < n) {
        size_t l = decode(s + len, n - len, &cp);
        if (l == 0 || utf8proc_grapheme_break_stateful(prev, cp, &state))
            break;
        int cw = utf8proc_charwidth(cp);
        if (cw > w)
            w = cw;
        prev = cp;
        len += l;
        count++;
    }
    if (count >= 2 && is_regional_indicator(first))
        w = 2;
    *width = w < 0 ? 0 : w > 2 ? 2 : (size_t)w;
    return len;
}

size_t term_display_width(const char *s, size_t n)
{
    size_t total = 0, i = 0;
    while (i < n) {
        /* printable ASCII not followed by a combining mark: one column each */
        while (i + 1 < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f &&
               (unsigned char)s[i + 1] < 0x80) {
            i++;
            total++;
        }
        if (i == n)
            break;
        size_t w;
        i += term_next_cluster(s + i, n - i, &w);
        total += w;
    }
    return total;
}

size_t term_styled_width(const char *s, size_t n)
{
    size_t total = 0, i = 0;
    while (i < n) {
        if (s[i] == '\x1b' && i + 1 < n && s[i + 1] == '[') {
            i += 2;
            while (i < n && !((unsigned char)s[i] >= 0x40 && (unsigned char)s[i] <= 0x7e))
                i++;
            if (i < n)
                i++;
            continue;
        }
        size_t start = i;
        while (i < n && s[i] != '\x1b')
            i++;
        total += term_display_width(s + start, i - start);
    }
    return total;
}

/* ---- styles ---- */

void term_sgr(struct buf *out, unsigned style)
{
    char seq[40];
    size_t k = 0;
    memcpy(seq, "\x1b[0", 3);
    k = 3;
    static const struct {
        unsigned bit;
        char code;
    } attrs[] = {{TERM_BOLD, '1'}, {TERM_DIM, '2'}, {TERM_ITALIC, '3'}, {TERM_UNDERLINE, '4'}, {TERM_STRIKE, '9'}};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        if (style & attrs[i].bit) {
            seq[k++] = ';';
            seq[k++] = attrs[i].code;
        }
    }
    unsigned fg = TERM_FG_OF(style);
    if (fg >= 1 && fg <= 6) {
        seq[k++] = ';';
        seq[k++] = '3';
        seq[k++] = (char)('0' + fg);
    } else if (fg == TERM_GREY) {
        memcpy(seq + k, ";90", 3);
        k += 3;
    }
    seq[k++] = 'm';
    buf_add(out, seq, k);
}

/* ---- sanitising ---- */

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

static bool is_hidden_format(int32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) ||       /* C1 controls */
           (cp >= 0x202a && cp <= 0x202e) ||   /* bidi embedding / override */
           (cp >= 0x2066 && cp <= 0x2069) ||   /* bidi isolates */
           (cp >= 0xe0000 && cp <= 0xe007f);   /* tag characters */
}

/* Bytes a UTF-8 lead byte announces (0 = cannot start a character). */
static size_t utf8_need(unsigned char c)
{
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

/* Could s[0..n) (n < need) still become a valid character? */
static bool utf8_prefix_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return false;
    }
    if (n >= 2) {
        unsigned char a = s[0], b = s[1];
        if ((a == 0xe0 && b < 0xa0) || (a == 0xed && b > 0x9f) || (a == 0xf0 && b < 0x90) ||
            (a == 0xf4 && b > 0x8f))
            return false;
    }
    return true;
}

static void put_sep(struct buf *out, char c, unsigned flags)
{
    buf_addc(out, (flags & TERM_SAN_ONELINE) ? ' ' : c);
}

/* Handle the unit at s[0] (not printable ASCII): emit its safe form and return
 * its length, or 0 when it may continue past n and more input will come. */
static size_t san_unit(struct buf *out, const unsigned char *s, size_t n, unsigned flags, bool final)
{
    unsigned char c = s[0];
    if (c == '\n' || c == '\t') {
        put_sep(out, (char)c, flags);
        return 1;
    }
    if (c == '\r') {
        if (n < 2 && !final)
            return 0;
        if (n >= 2 && s[1] == '\n') {
            put_sep(out, '\n', flags);
            return 2;
        }
        buf_add(out, "^M", 2);
        return 1;
    }
    if (c == 0x1b && (flags & TERM_SAN_DROP_SGR)) {
        /* ESC [ [0-9;:]{0,32} m */
        size_t i = 1;
        if (i < n && s[i] == '[') {
            for (i = 2; i < n && i < 34 && ((s[i] >= '0' && s[i] <= '9') || s[i] == ';' || s[i] == ':'); i++)
                ;
            if (i < n && s[i] == 'm')
                return i + 1;
        }
        if (i >= n && i < 34 && !final)
            return 0;
    }
    if (c < 0x20 || c == 0x7f) {
        char caret[2] = {'^', c == 0x7f ? '?' : (char)(c + 0x40)};
        buf_add(out, caret, 2);
        return 1;
    }
    /* c >= 0x80 */
    size_t need = utf8_need(c);
    if (need == 0) {
        buf_add(out, replacement, 3);
        return 1;
    }
    if (n < need) {
        if (!final && utf8_prefix_ok(s, n))
            return 0;
        buf_add(out, replacement, 3);
        return 1;
    }
    int32_t cp;
    size_t len = decode(s, need, &cp);
    if (len != need) {
        buf_add(out, replacement, 3);
        return 1;
    }
    if (is_hidden_format(cp))
        buf_addf(out, "<U+%04X>", (unsigned)cp);
    else
        buf_add(out, s, len);
    return len;
}

/* Sanitise as much of s[0..n) as possible; returns the bytes consumed (all of
 * them when final). */
static size_t san_run(struct buf *out, const unsigned char *s, size_t n, unsigned flags, bool final)
{
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && s[i] >= 0x20 && s[i] < 0x7f)
            i++;
        if (i > start)
            buf_add(out, s + start, i - start);
        if (i == n)
            break;
        size_t u = san_unit(out, s + i, n - i, flags, final);
        if (u == 0)
            break;
        i += u;
    }
    return i;
}

void term_sanitize(struct buf *out, const char *s, size_t n, unsigned flags)
{
    san_run(out, (const unsigned char *)s, n, flags, true);
}

void term_san_init(struct term_san *st, unsigned flags)
{
    st->flags = flags;
    st->nhold = 0;
}

void term_san_feed(struct term_san *st, struct buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Finish a held unit a byte at a time; units are at most 35 bytes. */
    while (st->nhold > 0 && n > 0) {
        st->hold[st->nhold++] = (char)*s++;
        n--;
        size_t used = san_run(out, (const unsigned char *)st->hold, st->nhold, st->flags,
                              st->nhold == sizeof st->hold);
        memmove(st->hold, st->hold + used, st->nhold - used);
        st->nhold -= used;
    }
    size_t used = san_run(out, s, n, st->flags, false);
    memcpy(st->hold + st->nhold, s + used, n - used); /* n - used < 35 */
    st->nhold += n - used;
}

void term_san_finish(struct term_san *st, struct buf *out)
{
    san_run(out, (const unsigned char *)st->hold, st->nhold, st->flags, true);
    st->nhold = 0;
}

void term_fit(struct buf *out, const char *s, size_t n, size_t max_cols, bool unicode)
{
    struct buf tmp = BUF_INIT(out->max);
    term_sanitize(&tmp, s, n, TERM_SAN_ONELINE);
    const char *t = buf_cstr(&tmp);
    size_t tn = tmp.len;
    if (term_display_width(t, tn) <= max_cols) {
        buf_add(out, t, tn);
        buf_free(&tmp);
        return;
    }
    const char *ell = unicode ? "\xe2\x80\xa6" : "...";
    size_t ell_w = unicode ? 1 : 3;
    if (max_cols < ell_w) {
        buf_free(&tmp);
        return;
    }
    size_t used = 0, i = 0;
    while (i < tn) {
        size_t w, l = term_next_cluster(t + i, tn - i, &w);
        if (used + w > max_cols - ell_w)
            break;
        used += w;
        i += l;
    }
    buf_add(out, t, i);
    buf_addstr(out, ell);
    buf_free(&tmp);
}
