/* render.c - unified diffs and the tool-call line (render.h). */
#include "render.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "term.h"

/* ------------------------------------------------------------------ */
/* Drawing a unified diff.                                              */

#define NUM_MAX 1000000000UL

static bool parse_num(const char **p, const char *end, unsigned long *v)
{
    const char *s = *p;
    unsigned long x = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        x = x * 10 + (unsigned long)(*s - '0');
        if (x > NUM_MAX)
            return false;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *v = x;
    return true;
}

/* "@@ -a[,b] +c[,d] @@..." */
static bool parse_hunk(const char *s, size_t n, unsigned long v[4])
{
    const char *p = s, *end = s + n;
    if (n < 4 || memcmp(p, "@@ -", 4) != 0)
        return false;
    p += 4;
    v[1] = v[3] = 1;
    if (!parse_num(&p, end, &v[0]))
        return false;
    if (p < end && *p == ',' && (++p, !parse_num(&p, end, &v[1])))
        return false;
    if (end - p < 2 || p[0] != ' ' || p[1] != '+')
        return false;
    p += 2;
    if (!parse_num(&p, end, &v[2]))
        return false;
    if (p < end && *p == ',' && (++p, !parse_num(&p, end, &v[3])))
        return false;
    return end - p >= 3 && memcmp(p, " @@", 3) == 0;
}

static int digits(unsigned long v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

struct dstate {
    bool in_hunk;   /* inside a hunk whose counts we follow */
    bool loose;     /* inside a hunk without usable counts */
    unsigned long old_left, new_left, old_no, new_no;
    int numw;
};

static void styled(struct buf *out, unsigned style, const char *s, size_t n)
{
    term_sgr(out, style);
    term_sanitize(out, s, n, TERM_SAN_ONELINE);
    term_sgr(out, 0);
}

static void numbered(struct buf *out, const struct dstate *d, unsigned long no, bool show, unsigned style,
                     const char *s, size_t n)
{
    term_sgr(out, TERM_DIM);
    if (show)
        buf_addf(out, "%*lu", d->numw, no);
    else
        buf_addf(out, "%*s", d->numw, "");
    term_sgr(out, 0);
    buf_addc(out, ' ');
    if (style)
        styled(out, style, s, n);
    else
        term_sanitize(out, s, n, TERM_SAN_ONELINE);
}

static void diff_line(struct buf *out, struct dstate *d, const char *s, size_t n)
{
    char c = n ? s[0] : ' ';
    if (d->in_hunk && (d->old_left > 0 || d->new_left > 0)) {
        if (c == '-' && d->old_left > 0) {
            d->old_left--;
            numbered(out, d, d->old_no++, true, TERM_FG(TERM_RED), s, n);
            return;
        }
        if (c == '+' && d->new_left > 0) {
            d->new_left--;
            numbered(out, d, d->new_no++, true, TERM_FG(TERM_GREEN), s, n);
            return;
        }
        if (c == ' ' && d->old_left > 0 && d->new_left > 0) {
            d->old_left--;
            d->new_left--;
            d->old_no++;
            numbered(out, d, d->new_no++, true, 0, s, n);
            return;
        }
        if (c == '\\') {
            numbered(out, d, 0, false, TERM_DIM, s, n);
            return;
        }
        d->in_hunk = false; /* counts do not match the lines: stop following */
    }
    if (c == '\\' && (d->in_hunk || d->loose)) {
        numbered(out, d, 0, false, TERM_DIM, s, n);
        return;
    }
    if (d->loose && (c == '-' || c == '+')) {
        styled(out, c == '-' ? TERM_FG(TERM_RED) : TERM_FG(TERM_GREEN), s, n);
        return;
    }
    if (d->loose && c == ' ') {
        term_sanitize(out, s, n, TERM_SAN_ONELINE);
        return;
    }
    d->loose = false;
    unsigned long v[4];
    if (n >= 2 && s[0] == '@' && s[1] == '@') {
        if (parse_hunk(s, n, v)) {
            d->in_hunk = true;
            d->old_no = v[0];
            d->old_left = v[1];
            d->new_no = v[2];
            d->new_left = v[3];
            unsigned long hi = v[0] + v[1] > v[2] + v[3] ? v[0] + v[1] : v[2] + v[3];
            d->numw = digits(hi);
        } else {
            d->loose = true;
            d->numw = 0;
        }
        styled(out, TERM_FG(TERM_CYAN) | TERM_DIM, s, n);
        return;
    }
    if ((n >= 4 && (memcmp(s, "--- ", 4) == 0 || memcmp(s, "+++ ", 4) == 0)) ||
        (n >= 5 && memcmp(s, "diff ", 5) == 0)) {
        styled(out, TERM_BOLD, s, n);
        return;
    }
    term_sanitize(out, s, n, TERM_SAN_ONELINE);
}

void render_diff(struct buf *out, const struct render_look *look, const char *diff, size_t n)
{
    if (!look->color) {
        term_sanitize(out, diff, n, 0);
        if (n && diff[n - 1] != '\n')
            buf_addc(out, '\n');
        return;
    }
    struct dstate d = {0};
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(diff + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - diff) : n;
        size_t len = e - i;
        if (len && diff[i + len - 1] == '\r')
            len--;
        diff_line(out, &d, diff + i, len);
        buf_addc(out, '\n');
        i = e + 1;
    }
}

/* ------------------------------------------------------------------ */
/* Making a unified diff: Myers on lines.                               */

struct line {
    const char *p;
    size_t n;   /* without the '\n' */
    bool nl;    /* ended by '\n' */
    uint64_t h; /* FNV-1a of the bytes, to compare quickly */
};

static size_t diff_lines(const char *s, size_t n, struct line **out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += s[i] == '\n';
    count += n > 0 && s[n - 1] != '\n';
    struct line *l = xcalloc(count ? count : 1, sizeof *l);
    size_t k = 0, i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        uint64_t h = 1469598103934665603ULL;
        for (size_t j = i; j < e; j++)
            h = (h ^ (unsigned char)s[j]) * 1099511628211ULL;
        l[k++] = (struct line){s + i, e - i, nl != NULL, h};
        i = e + 1;
    }
    *out = l;
    return k;
}

static bool same(const struct line *x, const struct line *y)
{
    return x->h == y->h && x->n == y->n && x->nl == y->nl && memcmp(x->p, y->p, x->n) == 0;
}

/* The edit script of a[0..na) -> b[0..nb) into ops ('=', '-', '+'), or
 * false if it needs more than RENDER_DIFF_MAX_EDITS edits. */
static bool myers(const struct line *a, size_t na, const struct line *b, size_t nb, char *ops, size_t *nops)
{
    long N = (long)na, M = (long)nb, max = N + M;
    if (max > RENDER_DIFF_MAX_EDITS)
        max = RENDER_DIFF_MAX_EDITS;
    long off = max + 1;
    int *v = xcalloc((size_t)(2 * max + 3), sizeof *v);
    /* trace[d] holds v[-d..d] as it was when step d began */
    size_t tcap = 1024, tlen = 0;
    int *trace = xmalloc(tcap * sizeof *trace);
    size_t *tstart = xmalloc((size_t)(max + 1) * sizeof *tstart);
    long D = -1;
    for (long d = 0; d <= max && D < 0; d++) {
        size_t need = (size_t)(2 * d + 1);
        if (tlen + need > tcap) {
            while (tlen + need > tcap)
                tcap *= 2;
            trace = xrealloc(trace, tcap * sizeof *trace);
        }
        tstart[d] = tlen;
        memcpy(trace + tlen, v + off - d, need * sizeof *v);
        tlen += need;
        for (long k = -d; k <= d; k += 2) {
            long x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1] : v[off + k - 1] + 1;
            long y = x - k;
            while (x < N && y < M && same(&a[x], &b[y])) {
                x++;
                y++;
            }
            v[off + k] = (int)x;
            if (x >= N && y >= M) {
                D = d;
                break;
            }
        }
    }
    bool ok = D >= 0;
    if (ok) {
        /* walk back from (N, M), writing ops from the end */
        size_t pos = (size_t)(N + M);
        long x = N, y = M;
        for (long d = D; d > 0; d--) {
            const int *vd = trace + tstart[d] + d; /* vd[k] for k in [-d, d] */
            long k = x - y;
            long pk = (k == -d || (k != d && vd[k - 1] < vd[k + 1])) ? k + 1 : k - 1;
            long px = vd[pk], py = px - pk;
            while (x > px && y > py) { /* the snake after the edit */
                ops[--pos] = '=';
                x--;
                y--;
            }
            ops[--pos] = pk == k + 1 ? '+' : '-';
            if (pk == k + 1)
                y--;
            else
                x--;
        }
        while (x > 0 && y > 0) {
            ops[--pos] = '=';
            x--;
            y--;
        }
        /* ops now occupy [pos, N + M) */
        *nops = (size_t)(N + M) - pos;
        memmove(ops, ops + pos, *nops);
    }
    free(v);
    free(trace);
    free(tstart);
    return ok;
}

static void hunk_range(struct buf *out, size_t start, size_t len)
{
    if (len == 1)
        buf_addf(out, "%zu", start + 1);
    else
        buf_addf(out, "%zu,%zu", len ? start + 1 : start, len);
}

static void diff_text(struct buf *out, char sign, const struct line *l)
{
    buf_addc(out, sign);
    buf_add(out, l->p, l->n);
    buf_addc(out, '\n');
    if (!l->nl)
        buf_addstr(out, "\\ No newline at end of file\n");
}

void render_diff_make(struct buf *out, const char *path, const char *a, size_t an, const char *b, size_t bn,
                      int context)
{
    struct line *la, *lb;
    size_t na = diff_lines(a, an, &la), nb = diff_lines(b, bn, &lb);
    size_t ctx = context > 0 ? (size_t)context : 0;
    size_t head = 0, tail = 0;
    while (head < na && head < nb && same(&la[head], &lb[head]))
        head++;
    while (tail < na - head && tail < nb - head && same(&la[na - 1 - tail], &lb[nb - 1 - tail]))
        tail++;
    size_t ma = na - head - tail, mb = nb - head - tail;
    char *ops = xmalloc(head + tail + ma + mb + 1);
    size_t nops = 0;
    memset(ops, '=', head);
    nops = head;
    size_t mid = 0;
    if (ma + mb > 0 && (ma > RENDER_DIFF_MAX_LINES || mb > RENDER_DIFF_MAX_LINES ||
                        !myers(la + head, ma, lb + head, mb, ops + head, &mid))) {
        memset(ops + head, '-', ma);
        memset(ops + head + ma, '+', mb);
        mid = ma + mb;
    }
    nops += mid;
    memset(ops + nops, '=', tail);
    nops += tail;

    bool headers = false;
    size_t i = 0, ai = 0, bi = 0; /* op index, lines of a and b before it */
    while (i < nops) {
        size_t c = i;
        while (c < nops && ops[c] == '=')
            c++;
        if (c == nops)
            break;
        /* a hunk: context before the first change, changes closer than 2*ctx merged */
        size_t hs = c - (c - i < ctx ? c - i : ctx);
        size_t ha = ai + (hs - i), hb = bi + (hs - i);
        size_t he = c;
        for (;;) {
            while (he < nops && ops[he] != '=')
                he++;
            size_t nx = he;
            while (nx < nops && ops[nx] == '=')
                nx++;
            if (nx < nops && nx - he <= 2 * ctx)
                he = nx;
            else
                break;
        }
        size_t hend = he + (nops - he < ctx ? nops - he : ctx);
        size_t olen = 0, nlen = 0;
        for (size_t k = hs; k < hend; k++) {
            olen += ops[k] != '+';
            nlen += ops[k] != '-';
        }
        if (!headers && path) {
            buf_addf(out, "--- a/%s\n+++ b/%s\n", path, path);
        }
        headers = true;
        buf_addstr(out, "@@ -");
        hunk_range(out, ha, olen);
        buf_addstr(out, " +");
        hunk_range(out, hb, nlen);
        buf_addstr(out, " @@\n");
        size_t x = ha, y = hb;
        for (size_t k = hs; k < hend; k++) {
            if (ops[k] == '=') {
                diff_text(out, ' ', &la[x++]);
                y++;
            } else if (ops[k] == '-') {
                diff_text(out, '-', &la[x++]);
            } else {
                diff_text(out, '+', &lb[y++]);
            }
        }
        i = hend;
        ai = x;
        bi = y;
    }
    free(ops);
    free(la);
    free(lb);
}

/* ------------------------------------------------------------------ */
/* The tool-call line.                                                  */

void render_tool_line(struct buf *out, const struct render_look *look, enum render_tool_state state,
                      const char *name, const char *arg, const char *result)
{
    bool c = look->color, u = look->unicode;
    size_t W = look->width > 0 ? (size_t)look->width : 0;
    struct buf nm = BUF_INIT(BUF_MAX_SMALL), ar = BUF_INIT(BUF_MAX_SMALL), rs = BUF_INIT(BUF_MAX_SMALL);
    const size_t unlimited = (size_t)-1 / 4;
    term_fit(&nm, name ? name : "", name ? strlen(name) : 0, W ? 40 : unlimited, u);
    size_t used = 2 + term_display_width(nm.ptr ? nm.ptr : "", nm.len);
    const char *sep = u ? " \xe2\x8e\xbf " : " -> ";
    size_t sep_w = u ? 3 : 4;
    size_t res_w = 0;
    if (result) {
        struct buf tmp = BUF_INIT(BUF_MAX_SMALL);
        term_fit(&tmp, result, strlen(result), unlimited, u);
        res_w = term_display_width(tmp.ptr ? tmp.ptr : "", tmp.len);
        buf_free(&tmp);
        size_t cap = W / 3 > 20 ? W / 3 : 20;
        if (W && res_w > cap)
            res_w = cap;
    }
    if (arg) {
        size_t room = unlimited;
        if (W) {
            size_t fixed = used + 2 + (result ? sep_w + res_w : 0);
            room = W > fixed ? W - fixed : 0;
        }
        term_fit(&ar, arg, strlen(arg), room, u);
        used += 2 + term_display_width(ar.ptr ? ar.ptr : "", ar.len);
    }
    if (result) {
        size_t room = W ? (W > used + sep_w ? W - used - sep_w : 0) : unlimited;
        term_fit(&rs, result, strlen(result), room, u);
    }

    unsigned dot = state == RENDER_TOOL_OK ? TERM_FG(TERM_GREEN) : state == RENDER_TOOL_ERROR ? TERM_FG(TERM_RED) : TERM_DIM;
    if (c)
        term_sgr(out, dot);
    buf_addstr(out, u ? "\xe2\x97\x8f" : "*");
    if (c)
        term_sgr(out, 0);
    buf_addc(out, ' ');
    if (c)
        term_sgr(out, TERM_BOLD);
    buf_add(out, buf_cstr(&nm), nm.len);
    if (c)
        term_sgr(out, 0);
    if (arg) {
        buf_addc(out, '(');
        buf_add(out, buf_cstr(&ar), ar.len);
        buf_addc(out, ')');
    }
    if (result) {
        if (c)
            term_sgr(out, state == RENDER_TOOL_ERROR ? TERM_FG(TERM_RED) : TERM_DIM);
        buf_addstr(out, sep);
        buf_add(out, buf_cstr(&rs), rs.len);
        if (c)
            term_sgr(out, 0);
    }
    buf_addc(out, '\n');
    buf_free(&nm);
    buf_free(&ar);
    buf_free(&rs);
}
