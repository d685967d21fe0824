/* render_md.c - streaming Markdown to the terminal (render_md.h).
 *
 * Three parts:
 *   layout   md4c callbacks -> styled, wrapped lines with container prefixes
 *            (struct lay); one md_parse per committed piece of source.
 *   scanner  cuts the incoming text into lines and finds, per line, where the
 *            pending top-level block ends (struct render_md, scan_line).
 *   screen   writes committed lines and, in live mode, keeps the provisional
 *            tail on screen up to date (flush). */
#include "render_md.h"

#include <errno.h>
#include <md4c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../util/alloc.h"
#include "term.h"

/* Inline text may grow past the source when sanitised ("<U+202E>"). */
#define INL_MAX (4 * (RENDER_MD_MAX_BLOCK + RENDER_MD_MAX_LINE))
#define OUT_MAX ((size_t)256 * 1024 * 1024)

#define ST_H1 (TERM_BOLD | TERM_UNDERLINE | TERM_FG(TERM_MAGENTA))
#define ST_H2 (TERM_BOLD | TERM_UNDERLINE)
#define ST_H3 TERM_BOLD
#define ST_CODE TERM_FG(TERM_CYAN)
#define ST_LINK (TERM_UNDERLINE | TERM_FG(TERM_BLUE))
#define ST_DECO TERM_DIM
#define ST_DONE TERM_FG(TERM_GREEN)
#define FG_MASK TERM_FG(0x0f)
#define VISIBLE_ON_SPACE (TERM_UNDERLINE | TERM_STRIKE)

/* The look: colour or plain, box drawing or ASCII, width. */
struct look {
    bool color, unicode;
    size_t width; /* 0 = no wrapping */
};

static const char *glyph(const struct look *lk, const char *uni, const char *ascii)
{
    return lk->color && lk->unicode ? uni : ascii;
}

/* ------------------------------------------------------------------ */
/* Inline text: bytes plus one style per byte.                         */

struct inl {
    struct buf text;
    uint16_t *sty;
    size_t sty_cap;
};

static void inl_init(struct inl *in)
{
    buf_init(&in->text, INL_MAX);
    in->sty = NULL;
    in->sty_cap = 0;
}

static void inl_free(struct inl *in)
{
    buf_free(&in->text);
    free(in->sty);
    in->sty = NULL;
    in->sty_cap = 0;
}

/* Give the bytes appended since `from` the style `style`. */
static void inl_style_from(struct inl *in, size_t from, unsigned style)
{
    size_t len = in->text.len;
    if (len > in->sty_cap) {
        size_t cap = in->sty_cap ? in->sty_cap : 256;
        while (cap < len)
            cap *= 2;
        in->sty = xrealloc(in->sty, cap * sizeof *in->sty);
        in->sty_cap = cap;
    }
    for (size_t i = from; i < len; i++)
        in->sty[i] = (uint16_t)style;
}

static void inl_raw(struct inl *in, const char *p, size_t n, unsigned style)
{
    size_t from = in->text.len;
    buf_add(&in->text, p, n);
    inl_style_from(in, from, style);
}

/* Untrusted text: sanitised, newlines and tabs become spaces. */
static void inl_text(struct inl *in, const char *p, size_t n, unsigned style)
{
    size_t from = in->text.len;
    term_sanitize(&in->text, p, n, TERM_SAN_ONELINE);
    inl_style_from(in, from, style);
}

/* ------------------------------------------------------------------ */
/* Word wrap.                                                           */

struct wl {
    struct buf *out; /* NULL: measure only */
    bool color;
    unsigned cur;    /* style in effect on the line */
    size_t w;        /* columns on the line */
    bool has;        /* the line has a word */
    size_t maxw;     /* widest line so far */
};

static void wl_put(struct wl *l, const struct inl *in, size_t a, size_t b)
{
    if (!l->out)
        return;
    const char *t = in->text.ptr;
    size_t i = a;
    while (i < b) {
        unsigned s = in->sty[i];
        size_t j = i + 1;
        while (j < b && in->sty[j] == s)
            j++;
        if (l->color && s != l->cur) {
            term_sgr(l->out, s);
            l->cur = s;
        }
        buf_add(l->out, t + i, j - i);
        i = j;
    }
}

static void wl_space(struct wl *l, unsigned style)
{
    l->w++;
    if (!l->out)
        return;
    if (l->color && ((style ^ l->cur) & VISIBLE_ON_SPACE)) {
        term_sgr(l->out, style);
        l->cur = style;
    }
    buf_addc(l->out, ' ');
}

static void wl_end(struct wl *l)
{
    if (l->w > l->maxw)
        l->maxw = l->w;
    if (l->out) {
        if (l->color && l->cur) {
            term_sgr(l->out, 0);
            l->cur = 0;
        }
        buf_addc(l->out, '\n');
    }
    l->w = 0;
    l->has = false;
}

/* Lay out in[from..to) in lines of at most `avail` columns (0 = unlimited),
 * each ended by '\n', appended to out (NULL = only measure). Spaces collapse,
 * '\n' is a hard break, a word wider than the line is cut between clusters.
 * Returns the widest line's width. */
static size_t wrap(const struct look *lk, const struct inl *in, size_t from, size_t to, size_t avail,
                   struct buf *out)
{
    struct wl l = {out, lk->color, 0, 0, false, 0};
    const char *t = in->text.ptr;
    bool sep = false;
    unsigned sep_style = 0;
    size_t i = from;
    while (i < to) {
        if (t[i] == '\n') {
            wl_end(&l);
            sep = false;
            i++;
            continue;
        }
        if (t[i] == ' ') {
            if (!sep)
                sep_style = in->sty[i];
            sep = true;
            i++;
            continue;
        }
        size_t j = i, ww = 0;
        while (j < to && t[j] != ' ' && t[j] != '\n') {
            if ((unsigned char)t[j] > 0x20 && (unsigned char)t[j] < 0x7f && j + 1 < to &&
                (unsigned char)t[j + 1] < 0x80) {
                j++; /* printable ASCII, no combining mark after it */
                ww++;
                continue;
            }
            size_t cw;
            j += term_next_cluster(t + j, to - j, &cw);
            ww += cw;
        }
        if (l.has && sep && (avail == 0 || l.w + 1 + ww <= avail)) {
            wl_space(&l, sep_style);
        } else if (l.has) {
            wl_end(&l);
        }
        if (avail == 0 || l.w + ww <= avail) {
            wl_put(&l, in, i, j);
            l.w += ww;
        } else {
            /* Wider than a whole line: cut it, at least one cluster a line. */
            size_t k = i;
            while (k < j) {
                size_t e = k, w = 0;
                while (e < j) {
                    size_t cw, cl = term_next_cluster(t + e, j - e, &cw);
                    if (w > 0 && l.w + w + cw > avail)
                        break;
                    w += cw;
                    e += cl;
                }
                wl_put(&l, in, k, e);
                l.w += w;
                k = e;
                if (k < j)
                    wl_end(&l);
            }
        }
        l.has = true;
        sep = false;
        i = j;
    }
    if (l.has)
        wl_end(&l);
    return l.maxw;
}

/* ------------------------------------------------------------------ */
/* Layout: containers, blocks, md4c callbacks.                          */

enum ckind { C_DOC, C_QUOTE, C_LIST, C_ITEM };

struct cont {
    enum ckind kind;
    bool tight;        /* lists and items: no blank lines between blocks */
    bool has_content;  /* a block started here (the next one is separated) */
    bool ordered;      /* lists */
    char delim;        /* '.' or ')' */
    unsigned next;     /* next number of an ordered list */
    int level;         /* list nesting level, for the bullet */
    int first_sep;     /* list continued from the previous piece: -1 no, 0/1 blank line before first item */
    bool marker_used;  /* items: the marker has been drawn */
    size_t marker_w;
    size_t marker_len;
    char marker[64];   /* items: the styled marker */
};

enum leaf { LEAF_NONE, LEAF_PARA, LEAF_HEAD, LEAF_CODE, LEAF_CELL };

struct link {
    size_t text_from; /* where the link text starts in the inline buffer */
    bool img;
    struct buf href;
};

#define MAX_LINKS 4

struct tcell {
    size_t from, to;
};

struct table {
    struct inl in;
    struct tcell *cells;
    size_t ncells, ccap;
    size_t *rows; /* index of the first cell of each row */
    size_t nrows, rcap;
    size_t head_rows;
    bool in_head;
    size_t cell_from;
    unsigned ncols;
    MD_ALIGN align[RENDER_MD_MAX_COLS];
};

struct lay {
    struct look lk;
    struct buf *out;
    struct cont stack[RENDER_MD_MAX_DEPTH + 1];
    int depth;   /* index of the innermost container drawn */
    int skipped; /* containers nested past the cap */
    int lists;   /* open lists */
    enum leaf leaf;
    bool implicit; /* a paragraph md4c did not announce (tight list item) */
    unsigned head_level;
    unsigned base; /* style under the inline text (headings, header cells) */
    struct inl in;
    struct inl *tgt; /* where inline text goes: &in, or the table's */
    int em, strong, del, code, link_depth;
    struct link links[MAX_LINKS];
    struct buf code_part; /* a code line cut between text callbacks */
    struct table tbl;
    bool in_table;
    /* a top-level list continued from the previous piece */
    bool cont;
    bool cont_blank;
    unsigned cont_next;
    unsigned top_next; /* the next number after the last top-level ordered list */
    struct buf tmp;
};

static void lay_init(struct lay *L, const struct look *lk, struct buf *out)
{
    memset(L, 0, sizeof *L);
    L->lk = *lk;
    L->out = out;
    L->stack[0].kind = C_DOC;
    L->stack[0].first_sep = -1;
    inl_init(&L->in);
    inl_init(&L->tbl.in);
    L->tgt = &L->in;
    for (int i = 0; i < MAX_LINKS; i++)
        buf_init(&L->links[i].href, BUF_MAX_SMALL);
    buf_init(&L->code_part, RENDER_MD_MAX_BLOCK + RENDER_MD_MAX_LINE);
    buf_init(&L->tmp, INL_MAX);
}

static void table_reset(struct table *t)
{
    buf_reset(&t->in.text);
    t->ncells = t->nrows = t->head_rows = 0;
    t->ncols = 0;
    t->in_head = false;
}

static void lay_free(struct lay *L)
{
    inl_free(&L->in);
    inl_free(&L->tbl.in);
    free(L->tbl.cells);
    free(L->tbl.rows);
    for (int i = 0; i < MAX_LINKS; i++)
        buf_free(&L->links[i].href);
    buf_free(&L->code_part);
    buf_free(&L->tmp);
}

static struct cont *top(struct lay *L)
{
    return &L->stack[L->depth];
}

static struct cont *push(struct lay *L, enum ckind kind)
{
    if (L->depth == RENDER_MD_MAX_DEPTH) {
        L->skipped++;
        return NULL;
    }
    struct cont *c = &L->stack[++L->depth];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->first_sep = -1;
    return c;
}

static void pop(struct lay *L)
{
    if (L->skipped > 0)
        L->skipped--;
    else if (L->depth > 0)
        L->depth--;
}

static size_t prefix_width(const struct lay *L)
{
    size_t w = 0;
    for (int d = 1; d <= L->depth; d++) {
        const struct cont *c = &L->stack[d];
        if (c->kind == C_QUOTE)
            w += 2;
        else if (c->kind == C_ITEM)
            w += c->marker_w;
    }
    return w;
}

/* Columns left for text after the prefix; 0 = unlimited. Never below 10,
 * so deep nesting in a narrow terminal overflows instead of looping. */
static size_t avail(const struct lay *L)
{
    if (L->lk.width == 0)
        return 0;
    size_t pw = prefix_width(L);
    return L->lk.width > pw + 10 ? L->lk.width - pw : 10;
}

static void put_prefix(struct lay *L, bool blank)
{
    struct buf *o = L->out;
    size_t start = o->len;
    for (int d = 1; d <= L->depth; d++) {
        struct cont *c = &L->stack[d];
        if (c->kind == C_QUOTE) {
            if (L->lk.color) {
                term_sgr(o, ST_DECO);
                buf_addstr(o, glyph(&L->lk, "\xe2\x94\x82", "|"));
                term_sgr(o, 0);
                buf_addc(o, ' ');
            } else {
                buf_add(o, "> ", 2);
            }
        } else if (c->kind == C_ITEM) {
            if (!c->marker_used && !blank) {
                buf_add(o, c->marker, c->marker_len);
                c->marker_used = true;
            } else {
                for (size_t i = 0; i < c->marker_w; i++)
                    buf_addc(o, ' ');
            }
        }
    }
    if (blank) {
        while (o->len > start && o->ptr[o->len - 1] == ' ')
            buf_truncate(o, o->len - 1);
    }
}

static void emit_blank(struct lay *L)
{
    put_prefix(L, true);
    buf_addc(L->out, '\n');
}

/* Emit '\n'-terminated lines, each behind the prefix. */
static void emit_lines(struct lay *L, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        put_prefix(L, e == i);
        buf_add(L->out, s + i, e - i);
        buf_addc(L->out, '\n');
        i = e + 1;
    }
}

/* A block starts in the innermost container: separate it from the last one. */
static void block_start(struct lay *L)
{
    struct cont *c = top(L);
    if (c->has_content && !c->tight)
        emit_blank(L);
    c->has_content = true;
}

static void rule(struct lay *L, size_t n, const char *g)
{
    for (size_t i = 0; i < n; i++)
        buf_addstr(L->out, g);
}

/* ---- code blocks (also used by the streaming path) ---- */

static void code_open(struct lay *L, const char *lang, size_t n)
{
    struct buf *o = L->out;
    if (L->lk.color) {
        if (n == 0)
            return;
        put_prefix(L, false);
        term_sgr(o, ST_DECO);
        buf_addstr(o, glyph(&L->lk, "\xe2\x95\xad\xe2\x94\x80 ", "+- "));
        term_sanitize(o, lang, n, TERM_SAN_ONELINE);
        term_sgr(o, 0);
        buf_addc(o, '\n');
    } else {
        put_prefix(L, false);
        buf_add(o, "```", 3);
        term_sanitize(o, lang, n, TERM_SAN_ONELINE);
        buf_addc(o, '\n');
    }
}

/* One line of code (no '\n'): sanitised, tabs expanded to stops of 4. */
static void code_line(struct lay *L, const char *s, size_t n)
{
    struct buf *t = &L->tmp;
    buf_reset(t);
    term_sanitize(t, s, n, 0);
    struct buf *o = L->out;
    put_prefix(L, !L->lk.color && t->len == 0);
    if (L->lk.color) {
        term_sgr(o, ST_DECO);
        buf_addstr(o, glyph(&L->lk, "\xe2\x94\x82", "|"));
        term_sgr(o, 0);
        if (t->len)
            buf_addc(o, ' ');
    }
    size_t col = 0, i = 0;
    while (i < t->len) {
        if (t->ptr[i] == '\t') {
            size_t k = 4 - col % 4;
            for (size_t j = 0; j < k; j++)
                buf_addc(o, ' ');
            col += k;
            i++;
            continue;
        }
        size_t w, l = term_next_cluster(t->ptr + i, t->len - i, &w);
        buf_add(o, t->ptr + i, l);
        col += w;
        i += l;
    }
    buf_addc(o, '\n');
}

static void code_close(struct lay *L)
{
    if (!L->lk.color) {
        put_prefix(L, false);
        buf_add(L->out, "```\n", 4);
    }
}

/* ---- paragraphs and headings ---- */

static void inline_begin(struct lay *L, enum leaf leaf, unsigned base)
{
    L->leaf = leaf;
    L->base = L->lk.color ? base : 0;
    L->tgt = &L->in;
    buf_reset(&L->in.text);
    L->em = L->strong = L->del = L->code = L->link_depth = 0;
}

static void inline_flush(struct lay *L)
{
    struct buf *t = &L->tmp;
    buf_reset(t);
    size_t a = avail(L);
    size_t maxw = wrap(&L->lk, &L->in, 0, L->in.text.len, a, t);
    emit_lines(L, t->ptr ? t->ptr : "", t->len);
    if (L->leaf == LEAF_HEAD && !L->lk.color && L->head_level <= 2 && maxw > 0) {
        put_prefix(L, false);
        for (size_t i = 0; i < maxw; i++)
            buf_addc(L->out, L->head_level == 1 ? '=' : '-');
        buf_addc(L->out, '\n');
    }
    buf_reset(&L->in.text);
    L->leaf = LEAF_NONE;
    L->implicit = false;
}

static void end_implicit(struct lay *L)
{
    if (L->leaf == LEAF_PARA && L->implicit)
        inline_flush(L);
}

/* ---- tables ---- */

static void table_add_cell(struct lay *L)
{
    struct table *t = &L->tbl;
    if (t->nrows == 0)
        return;
    size_t in_row = t->ncells - t->rows[t->nrows - 1];
    if (in_row >= RENDER_MD_MAX_COLS)
        return;
    if (t->ncells == t->ccap) {
        t->ccap = t->ccap ? t->ccap * 2 : 16;
        t->cells = xrealloc(t->cells, t->ccap * sizeof *t->cells);
    }
    t->cells[t->ncells].from = t->cell_from;
    t->cells[t->ncells].to = t->in.text.len;
    t->ncells++;
    if (in_row + 1 > t->ncols)
        t->ncols = (unsigned)(in_row + 1);
}

static void table_add_row(struct table *t)
{
    if (t->nrows == t->rcap) {
        t->rcap = t->rcap ? t->rcap * 2 : 16;
        t->rows = xrealloc(t->rows, t->rcap * sizeof *t->rows);
    }
    t->rows[t->nrows++] = t->ncells;
    if (t->in_head)
        t->head_rows = t->nrows;
}

/* Column widths: natural widths, cut down (widest first, "water level") to
 * fit `room` columns of text; no column below 3 unless narrower by nature. */
static void table_widths(const size_t *nat, size_t *w, unsigned n, size_t room)
{
    size_t sum = 0, hi = 0;
    for (unsigned c = 0; c < n; c++) {
        w[c] = nat[c];
        sum += nat[c];
        if (nat[c] > hi)
            hi = nat[c];
    }
    if (room == 0 || sum <= room)
        return;
    size_t lo = 3, best = 3;
    while (lo <= hi) { /* largest level whose sum fits */
        size_t mid = lo + (hi - lo) / 2, s = 0;
        for (unsigned c = 0; c < n; c++)
            s += nat[c] < mid ? nat[c] : mid;
        if (s <= room) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    size_t s = 0;
    for (unsigned c = 0; c < n; c++) {
        w[c] = nat[c] < best ? nat[c] : best;
        s += w[c];
    }
    for (unsigned c = 0; c < n && s < room; c++) {
        if (w[c] < nat[c]) {
            w[c]++;
            s++;
        }
    }
}

/* Start offsets of the '\n'-terminated lines in b (at most max). */
static size_t split_lines(const struct buf *b, size_t *starts, size_t max)
{
    size_t k = 0, i = 0;
    while (i < b->len && k < max) {
        starts[k++] = i;
        const char *nl = memchr(b->ptr + i, '\n', b->len - i);
        i = nl ? (size_t)(nl - b->ptr) + 1 : b->len;
    }
    return k;
}

static void pad(struct buf *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_addc(o, ' ');
}

static void table_emit(struct lay *L)
{
    struct table *t = &L->tbl;
    unsigned nc = t->ncols;
    if (nc == 0 || t->nrows == 0)
        return;
    size_t nat[RENDER_MD_MAX_COLS] = {0}, w[RENDER_MD_MAX_COLS];
    for (size_t r = 0; r < t->nrows; r++) {
        size_t end = r + 1 < t->nrows ? t->rows[r + 1] : t->ncells;
        for (size_t i = t->rows[r]; i < end; i++) {
            size_t cw = wrap(&L->lk, &t->in, t->cells[i].from, t->cells[i].to, 0, NULL);
            size_t c = i - t->rows[r];
            if (cw > nat[c])
                nat[c] = cw;
        }
    }
    size_t a = avail(L), seps = 3 * (nc - 1);
    table_widths(nat, w, nc, a == 0 ? 0 : a > seps + nc ? a - seps : nc);
    const char *vbar = glyph(&L->lk, "\xe2\x94\x82", "|");
    const char *hbar = glyph(&L->lk, "\xe2\x94\x80", "-");
    const char *cross = glyph(&L->lk, "\xe2\x94\xbc", "+");

    struct buf cellbuf[RENDER_MD_MAX_COLS];
    size_t *starts[RENDER_MD_MAX_COLS];
    size_t nlines[RENDER_MD_MAX_COLS];
    for (unsigned c = 0; c < nc; c++) {
        buf_init(&cellbuf[c], INL_MAX);
        starts[c] = NULL;
    }
    struct buf *o = L->out;
    for (size_t r = 0; r < t->nrows; r++) {
        size_t first = t->rows[r];
        size_t end = r + 1 < t->nrows ? t->rows[r + 1] : t->ncells;
        size_t height = 1;
        for (unsigned c = 0; c < nc; c++) {
            buf_reset(&cellbuf[c]);
            nlines[c] = 0;
            if (first + c < end) {
                const struct tcell *cell = &t->cells[first + c];
                wrap(&L->lk, &t->in, cell->from, cell->to, w[c], &cellbuf[c]);
            }
            size_t cnt = 0;
            for (size_t i = 0; i < cellbuf[c].len; i++)
                cnt += cellbuf[c].ptr[i] == '\n';
            free(starts[c]);
            starts[c] = xmalloc((cnt + 1) * sizeof(size_t));
            nlines[c] = split_lines(&cellbuf[c], starts[c], cnt);
            if (nlines[c] > height)
                height = nlines[c];
        }
        for (size_t k = 0; k < height; k++) {
            put_prefix(L, false);
            size_t line_start = o->len;
            for (unsigned c = 0; c < nc; c++) {
                const char *s = "";
                size_t sl = 0;
                if (k < nlines[c]) {
                    s = cellbuf[c].ptr + starts[c][k];
                    const char *nl = memchr(s, '\n', cellbuf[c].len - starts[c][k]);
                    sl = (size_t)(nl - s);
                }
                size_t cw = term_styled_width(s, sl);
                size_t room = w[c] > cw ? w[c] - cw : 0;
                size_t left = 0;
                MD_ALIGN al = c < RENDER_MD_MAX_COLS ? t->align[c] : MD_ALIGN_DEFAULT;
                if (al == MD_ALIGN_RIGHT)
                    left = room;
                else if (al == MD_ALIGN_CENTER)
                    left = room / 2;
                if (c > 0) {
                    buf_addc(o, ' ');
                    if (L->lk.color)
                        term_sgr(o, ST_DECO);
                    buf_addstr(o, vbar);
                    if (L->lk.color)
                        term_sgr(o, 0);
                    buf_addc(o, ' ');
                }
                pad(o, left);
                buf_add(o, s, sl);
                if (c + 1 < nc)
                    pad(o, room - left);
            }
            while (o->len > line_start && o->ptr[o->len - 1] == ' ')
                buf_truncate(o, o->len - 1);
            buf_addc(o, '\n');
        }
        if (r + 1 == t->head_rows && t->nrows > t->head_rows) {
            put_prefix(L, false);
            if (L->lk.color)
                term_sgr(o, ST_DECO);
            for (unsigned c = 0; c < nc; c++) {
                if (c > 0) {
                    buf_addstr(o, hbar);
                    buf_addstr(o, cross);
                    buf_addstr(o, hbar);
                }
                rule(L, w[c], hbar);
            }
            if (L->lk.color)
                term_sgr(o, 0);
            buf_addc(o, '\n');
        }
    }
    for (unsigned c = 0; c < nc; c++) {
        buf_free(&cellbuf[c]);
        free(starts[c]);
    }
}

/* ---- entities and attributes ---- */

static const struct {
    const char *name;
    const char *text;
} entities[] = {
    {"amp", "&"},          {"lt", "<"},           {"gt", ">"},           {"quot", "\""},
    {"apos", "'"},         {"nbsp", "\xc2\xa0"},  {"copy", "\xc2\xa9"},  {"reg", "\xc2\xae"},
    {"trade", "\xe2\x84\xa2"}, {"mdash", "\xe2\x80\x94"}, {"ndash", "\xe2\x80\x93"},
    {"hellip", "\xe2\x80\xa6"}, {"laquo", "\xc2\xab"}, {"raquo", "\xc2\xbb"},
    {"lsquo", "\xe2\x80\x98"}, {"rsquo", "\xe2\x80\x99"}, {"ldquo", "\xe2\x80\x9c"},
    {"rdquo", "\xe2\x80\x9d"}, {"bull", "\xe2\x80\xa2"}, {"middot", "\xc2\xb7"},
    {"times", "\xc3\x97"}, {"divide", "\xc3\xb7"}, {"deg", "\xc2\xb0"}, {"plusmn", "\xc2\xb1"},
    {"larr", "\xe2\x86\x90"}, {"rarr", "\xe2\x86\x92"}, {"uarr", "\xe2\x86\x91"},
    {"darr", "\xe2\x86\x93"}, {"harr", "\xe2\x86\x94"}, {"rArr", "\xe2\x87\x92"},
    {"le", "\xe2\x89\xa4"}, {"ge", "\xe2\x89\xa5"}, {"ne", "\xe2\x89\xa0"}, {"minus", "\xe2\x88\x92"},
    {"infin", "\xe2\x88\x9e"}, {"euro", "\xe2\x82\xac"}, {"pound", "\xc2\xa3"}, {"yen", "\xc2\xa5"},
    {"cent", "\xc2\xa2"}, {"sect", "\xc2\xa7"}, {"para", "\xc2\xb6"}, {"check", "\xe2\x9c\x93"},
};

/* Decode an entity ("&amp;", "&#27;", "&#x1F600;") into out; unknown names
 * are kept as written. The result is still untrusted (sanitise it). */
static void entity(struct buf *out, const char *s, size_t n)
{
    if (n >= 4 && s[1] == '#') {
        bool hex = s[2] == 'x' || s[2] == 'X';
        uint32_t cp = 0;
        size_t i = hex ? 3 : 2, digits = 0;
        for (; i < n - 1; i++, digits++) {
            char c = s[i];
            unsigned v = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : hex && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : hex && c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                        : 99;
            if (v == 99 || digits >= 8)
                break;
            cp = cp * (hex ? 16 : 10) + v;
        }
        if (i == n - 1 && digits > 0) {
            if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                cp = 0xfffd;
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)cp, enc);
            buf_add(out, enc, (size_t)k);
            return;
        }
    } else if (n >= 3) {
        for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
            if (strlen(entities[i].name) == n - 2 && memcmp(entities[i].name, s + 1, n - 2) == 0) {
                buf_addstr(out, entities[i].text);
                return;
            }
        }
    }
    buf_add(out, s, n);
}

/* An md4c attribute (href, info string) with its entities decoded. */
static void attr(struct buf *out, const MD_ATTRIBUTE *a)
{
    if (!a->text || a->size == 0)
        return;
    if (!a->substr_offsets) {
        buf_add(out, a->text, a->size);
        return;
    }
    for (size_t i = 0; a->substr_offsets[i] < a->size; i++) {
        size_t from = a->substr_offsets[i], to = a->substr_offsets[i + 1];
        if (a->substr_types[i] == MD_TEXT_ENTITY)
            entity(out, a->text + from, to - from);
        else if (a->substr_types[i] == MD_TEXT_NULLCHAR)
            buf_addstr(out, "\xef\xbf\xbd");
        else
            buf_add(out, a->text + from, to - from);
    }
}

/* ---- md4c callbacks ---- */

static unsigned span_style(const struct lay *L)
{
    if (!L->lk.color)
        return 0;
    unsigned s = L->base;
    if (L->em)
        s |= TERM_ITALIC;
    if (L->strong)
        s |= TERM_BOLD;
    if (L->del)
        s |= TERM_STRIKE;
    if (L->link_depth)
        s = (s & ~FG_MASK) | ST_LINK;
    if (L->code)
        s = (s & ~FG_MASK) | ST_CODE;
    return s;
}

static void item_marker(struct lay *L, struct cont *item, const MD_BLOCK_LI_DETAIL *d)
{
    const struct cont *list = L->depth > 0 ? &L->stack[L->depth - 1] : NULL;
    char vis[48];
    size_t vn = 0;
    bool color = L->lk.color;
    bool ordered = list && list->kind == C_LIST && list->ordered;
    if (ordered) {
        int k = snprintf(vis, sizeof vis, "%u%c ", list->next, list->delim);
        vn = k > 0 && (size_t)k < sizeof vis ? (size_t)k : 0;
    } else if (!(color && d->is_task)) {
        static const char *uni[] = {"\xe2\x80\xa2", "\xe2\x97\xa6", "\xe2\x96\xaa"};
        static const char *ascii[] = {"*", "-", "+"};
        int lv = list ? list->level % 3 : 0;
        const char *b = !color ? "-" : L->lk.unicode ? uni[lv] : ascii[lv];
        vn = strlen(b);
        memcpy(vis, b, vn);
        vis[vn++] = ' ';
    }
    struct buf m = BUF_INIT(sizeof item->marker - 1);
    buf_add(&m, vis, vn);
    item->marker_w = term_display_width(vis, vn);
    if (d->is_task) {
        bool done = d->task_mark == 'x' || d->task_mark == 'X';
        const char *box = color && L->lk.unicode ? (done ? "\xe2\x98\x91 " : "\xe2\x98\x90 ")
                                                 : (done ? "[x] " : "[ ] ");
        if (color && done)
            term_sgr(&m, ST_DONE);
        buf_addstr(&m, box);
        if (color && done)
            term_sgr(&m, 0);
        item->marker_w += term_display_width(box, strlen(box));
    }
    memcpy(item->marker, buf_cstr(&m), m.len);
    item->marker_len = m.len;
    buf_free(&m);
}

static int cb_enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct lay *L = ud;
    if (L->in_table && type != MD_BLOCK_TABLE) {
        struct table *t = &L->tbl;
        if (type == MD_BLOCK_THEAD)
            t->in_head = true;
        else if (type == MD_BLOCK_TBODY)
            t->in_head = false;
        else if (type == MD_BLOCK_TR)
            table_add_row(t);
        else if (type == MD_BLOCK_TH || type == MD_BLOCK_TD) {
            L->leaf = LEAF_CELL;
            L->base = L->lk.color && type == MD_BLOCK_TH ? TERM_BOLD : 0;
            L->tgt = &t->in;
            L->em = L->strong = L->del = L->code = L->link_depth = 0;
            t->cell_from = t->in.text.len;
            if (t->nrows > 0) {
                size_t c = t->ncells - t->rows[t->nrows - 1];
                if (c < RENDER_MD_MAX_COLS)
                    t->align[c] = ((MD_BLOCK_TD_DETAIL *)detail)->align;
            }
        }
        return 0;
    }
    switch (type) {
    case MD_BLOCK_DOC:
        break;
    case MD_BLOCK_QUOTE:
        end_implicit(L);
        if (L->depth < RENDER_MD_MAX_DEPTH) /* past the cap, containers are drawn flat */
            block_start(L);
        push(L, C_QUOTE);
        break;
    case MD_BLOCK_UL:
    case MD_BLOCK_OL: {
        end_implicit(L);
        bool cont = L->cont && L->depth == 0 && L->skipped == 0;
        if (cont) {
            top(L)->has_content = true;
            L->cont = false;
        } else if (L->depth < RENDER_MD_MAX_DEPTH) {
            block_start(L);
        }
        struct cont *c = push(L, C_LIST);
        if (c) {
            c->level = L->lists;
            if (type == MD_BLOCK_OL) {
                const MD_BLOCK_OL_DETAIL *d = detail;
                c->ordered = true;
                c->tight = d->is_tight;
                c->delim = d->mark_delimiter;
                c->next = cont && L->cont_next ? L->cont_next : d->start;
            } else {
                c->tight = ((MD_BLOCK_UL_DETAIL *)detail)->is_tight;
            }
            if (cont)
                c->first_sep = L->cont_blank;
        }
        L->lists++;
        break;
    }
    case MD_BLOCK_LI: {
        end_implicit(L);
        struct cont *list = top(L);
        if (list->kind == C_LIST && list->first_sep >= 0) {
            if (list->first_sep)
                emit_blank(L);
            list->has_content = true;
            list->first_sep = -1;
        } else if (L->depth < RENDER_MD_MAX_DEPTH) {
            block_start(L);
        }
        bool tight = list->kind == C_LIST ? list->tight : true;
        struct cont *item = push(L, C_ITEM);
        if (item) {
            item->tight = tight;
            item_marker(L, item, detail);
            if (list->kind == C_LIST && list->ordered)
                list->next++;
        }
        break;
    }
    case MD_BLOCK_HR: {
        end_implicit(L);
        block_start(L);
        put_prefix(L, false);
        if (L->lk.color) {
            size_t a = avail(L);
            term_sgr(L->out, ST_DECO);
            rule(L, a ? a : 40, glyph(&L->lk, "\xe2\x94\x80", "-"));
            term_sgr(L->out, 0);
        } else {
            buf_add(L->out, "---", 3);
        }
        buf_addc(L->out, '\n');
        break;
    }
    case MD_BLOCK_H: {
        end_implicit(L);
        block_start(L);
        unsigned lv = ((MD_BLOCK_H_DETAIL *)detail)->level;
        inline_begin(L, LEAF_HEAD, lv == 1 ? ST_H1 : lv == 2 ? ST_H2 : ST_H3);
        L->head_level = lv;
        if (!L->lk.color && lv >= 3) {
            char h[8] = "#######";
            inl_raw(&L->in, h, lv, 0);
            inl_raw(&L->in, " ", 1, 0);
        }
        break;
    }
    case MD_BLOCK_CODE: {
        end_implicit(L);
        block_start(L);
        L->leaf = LEAF_CODE;
        buf_reset(&L->code_part);
        struct buf lang = BUF_INIT(BUF_MAX_SMALL);
        attr(&lang, &((MD_BLOCK_CODE_DETAIL *)detail)->lang);
        code_open(L, buf_cstr(&lang), lang.len);
        buf_free(&lang);
        break;
    }
    case MD_BLOCK_HTML:
    case MD_BLOCK_P:
        end_implicit(L);
        block_start(L);
        inline_begin(L, LEAF_PARA, 0);
        break;
    case MD_BLOCK_TABLE:
        end_implicit(L);
        block_start(L);
        table_reset(&L->tbl);
        memset(L->tbl.align, 0, sizeof L->tbl.align);
        L->in_table = true;
        break;
    default:
        break;
    }
    return 0;
}

static int cb_leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    (void)detail;
    struct lay *L = ud;
    switch (type) {
    case MD_BLOCK_QUOTE:
        end_implicit(L);
        pop(L);
        break;
    case MD_BLOCK_UL:
    case MD_BLOCK_OL:
        if (L->skipped == 0 && L->depth == 1 && top(L)->kind == C_LIST && top(L)->ordered)
            L->top_next = top(L)->next;
        pop(L);
        L->lists--;
        break;
    case MD_BLOCK_LI: {
        end_implicit(L);
        struct cont *c = top(L);
        if (L->skipped == 0 && c->kind == C_ITEM && !c->marker_used) {
            put_prefix(L, false);
            while (L->out->len && L->out->ptr[L->out->len - 1] == ' ')
                buf_truncate(L->out, L->out->len - 1);
            buf_addc(L->out, '\n');
        }
        pop(L);
        break;
    }
    case MD_BLOCK_H:
    case MD_BLOCK_P:
    case MD_BLOCK_HTML:
        if (L->leaf == LEAF_PARA || L->leaf == LEAF_HEAD)
            inline_flush(L);
        break;
    case MD_BLOCK_CODE:
        if (L->code_part.len)
            code_line(L, L->code_part.ptr, L->code_part.len);
        buf_reset(&L->code_part);
        code_close(L);
        L->leaf = LEAF_NONE;
        break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
        if (L->in_table) {
            table_add_cell(L);
            L->leaf = LEAF_NONE;
            L->tgt = &L->in;
        }
        break;
    case MD_BLOCK_TABLE:
        if (L->in_table) {
            L->in_table = false;
            table_emit(L);
            table_reset(&L->tbl);
        }
        break;
    default:
        break;
    }
    return 0;
}

/* Inline text outside any leaf (tight list items) starts an implicit paragraph. */
static struct inl *inline_target(struct lay *L)
{
    if (L->leaf == LEAF_NONE) {
        block_start(L);
        inline_begin(L, LEAF_PARA, 0);
        L->implicit = true;
    }
    return L->tgt;
}

static int cb_enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
    struct lay *L = ud;
    if (L->leaf == LEAF_CODE)
        return 0;
    struct inl *in = inline_target(L);
    switch (type) {
    case MD_SPAN_EM:
        L->em++;
        break;
    case MD_SPAN_STRONG:
        L->strong++;
        break;
    case MD_SPAN_DEL:
        if (!L->lk.color)
            inl_raw(in, "~~", 2, 0);
        L->del++;
        break;
    case MD_SPAN_CODE:
        if (!L->lk.color)
            inl_raw(in, "`", 1, 0);
        L->code++;
        break;
    case MD_SPAN_A:
    case MD_SPAN_IMG: {
        bool img = type == MD_SPAN_IMG;
        if (img)
            inl_raw(in, "[image: ", 8, span_style(L) & ~(unsigned)VISIBLE_ON_SPACE);
        if (L->link_depth < MAX_LINKS) {
            struct link *k = &L->links[L->link_depth];
            k->img = img;
            k->text_from = in->text.len;
            buf_reset(&k->href);
            attr(&k->href, img ? &((MD_SPAN_IMG_DETAIL *)detail)->src : &((MD_SPAN_A_DETAIL *)detail)->href);
        }
        L->link_depth++;
        break;
    }
    default:
        break;
    }
    return 0;
}

/* Is the link text just the URL (autolinks: "www.x.com" for "http://www.x.com")? */
static bool same_as_url(const char *text, size_t tn, const char *url, size_t un)
{
    static const char *schemes[] = {"", "http://", "https://", "mailto:"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t sl = strlen(schemes[i]);
        if (un == sl + tn && memcmp(url, schemes[i], sl) == 0 && memcmp(url + sl, text, tn) == 0)
            return true;
    }
    return false;
}

static int cb_leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
    (void)detail;
    struct lay *L = ud;
    if (L->leaf == LEAF_CODE)
        return 0;
    struct inl *in = inline_target(L);
    /* md4c 0.4.8 can close a span it never opened (seen with a link
     * reference definition cut short): ignore such a close. */
    switch (type) {
    case MD_SPAN_EM:
        if (L->em > 0)
            L->em--;
        break;
    case MD_SPAN_STRONG:
        if (L->strong > 0)
            L->strong--;
        break;
    case MD_SPAN_DEL:
        if (L->del == 0)
            break;
        L->del--;
        if (!L->lk.color)
            inl_raw(in, "~~", 2, 0);
        break;
    case MD_SPAN_CODE:
        if (L->code == 0)
            break;
        L->code--;
        if (!L->lk.color)
            inl_raw(in, "`", 1, 0);
        break;
    case MD_SPAN_A:
    case MD_SPAN_IMG: {
        if (L->link_depth == 0)
            break;
        L->link_depth--;
        if (L->link_depth < MAX_LINKS) {
            struct link *k = &L->links[L->link_depth];
            unsigned deco = span_style(L) & ~(unsigned)VISIBLE_ON_SPACE;
            if (k->img)
                inl_raw(in, "]", 1, deco);
            size_t from = k->text_from <= in->text.len ? k->text_from : in->text.len;
            const char *tx = in->text.ptr ? in->text.ptr + from : "";
            size_t tn = in->text.len - from;
            if (k->href.len && !same_as_url(tx, tn, k->href.ptr, k->href.len)) {
                inl_raw(in, " (", 2, deco);
                inl_text(in, k->href.ptr, k->href.len, L->lk.color ? (deco | TERM_DIM) : 0);
                inl_raw(in, ")", 1, deco);
            }
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

static int cb_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *ud)
{
    struct lay *L = ud;
    if (L->leaf == LEAF_CODE) {
        /* Code arrives in pieces; draw each complete line. */
        struct buf *p = &L->code_part;
        size_t i = 0;
        while (i < size) {
            const char *nl = memchr(text + i, '\n', size - i);
            size_t e = nl ? (size_t)(nl - text) : size;
            if (!nl) {
                buf_add(p, text + i, e - i);
                break;
            }
            if (p->len) {
                buf_add(p, text + i, e - i);
                code_line(L, p->ptr, p->len);
                buf_reset(p);
            } else {
                code_line(L, text + i, e - i);
            }
            i = e + 1;
        }
        return 0;
    }
    struct inl *in = inline_target(L);
    unsigned st = span_style(L);
    switch (type) {
    case MD_TEXT_NULLCHAR:
        inl_raw(in, "\xef\xbf\xbd", 3, st);
        break;
    case MD_TEXT_BR:
        inl_raw(in, "\n", 1, 0);
        break;
    case MD_TEXT_SOFTBR:
        inl_raw(in, " ", 1, st);
        break;
    case MD_TEXT_ENTITY: {
        struct buf *t = &L->tmp;
        buf_reset(t);
        entity(t, text, size);
        inl_text(in, buf_cstr(t), t->len, st);
        break;
    }
    default:
        inl_text(in, text, size, st);
        break;
    }
    return 0;
}

#define MD_FLAGS                                                                                   \
    (MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_TASKLISTS | MD_FLAG_PERMISSIVEURLAUTOLINKS | \
     MD_FLAG_PERMISSIVEWWWAUTOLINKS | MD_FLAG_NOHTML)

static const MD_PARSER parser = {
    .abi_version = 0,
    .flags = MD_FLAGS,
    .enter_block = cb_enter_block,
    .leave_block = cb_leave_block,
    .enter_span = cb_enter_span,
    .leave_span = cb_leave_span,
    .text = cb_text,
    .debug_log = NULL,
    .syntax = NULL,
};

/* ------------------------------------------------------------------ */
/* The renderer: lines in, blocks committed.                           */

enum scan { S_NONE, S_PARA, S_LIST, S_QUOTE, S_ICODE, S_FENCE };

struct render_md {
    struct render_opts o;
    struct look lk;
    struct buf line;  /* the line being received */
    bool cr;          /* the last byte was CR (a following LF belongs to it) */
    struct buf pend;  /* source of the uncommitted block */
    enum scan st;
    /* S_LIST: the open top-level list item */
    char lkind;       /* '-', '+', '*' or '.', ')' */
    size_t ci;        /* its content column */
    bool blank_before;
    bool uncertain;   /* a lazy line: a list or a paragraph, cannot tell */
    bool nfence;      /* inside a fence nested in the item */
    bool last_para;   /* the item's innermost open block is a paragraph */
    char nf_ch;
    size_t nf_len;
    /* S_QUOTE */
    bool q_lazy;
    /* S_FENCE */
    char f_ch;
    size_t f_len, f_ind;
    /* the next piece continues the committed top-level list */
    bool cont, cont_blank;
    unsigned cont_next, last_next;
    bool any;         /* something was drawn in this document */
    struct buf out;   /* committed output not yet written */
    struct buf seq;   /* scratch: committed + tail */
    struct buf tail;  /* scratch: the tail being drawn */
    struct buf shown; /* tail lines on screen ('\n'-terminated) */
    size_t shown_width; /* the width they were drawn at */
    struct buf src;   /* scratch: tail source */
    int64_t last_ms;
    enum brock_status failed;
    char why[160]; /* what failed, repeated by every later call */
};

static void render_chunk(struct render_md *r, const char *src, size_t n, struct buf *out, bool preview)
{
    struct lay L;
    lay_init(&L, &r->lk, out);
    L.stack[0].has_content = r->any;
    L.cont = r->cont;
    L.cont_blank = r->cont_blank;
    L.cont_next = r->cont_next;
    int rc = md_parse(src, (MD_SIZE)n, &parser, &L);
    if (rc != 0) {
        /* md4c failed (out of memory): show the source, safely. */
        term_sanitize(out, src, n, 0);
        if (n && src[n - 1] != '\n')
            buf_addc(out, '\n');
    }
    if (!preview) {
        if (L.stack[0].has_content)
            r->any = true;
        r->last_next = L.top_next;
        r->cont = false;
    }
    lay_free(&L);
}

/* Draw committed code lines of a top-level fence without md4c. */
enum fence_op { F_OPEN, F_LINE, F_CLOSE };

static void fence_emit(struct render_md *r, struct buf *out, enum fence_op op, const char *s, size_t n)
{
    struct lay L;
    lay_init(&L, &r->lk, out);
    L.stack[0].has_content = r->any;
    if (op == F_OPEN) {
        block_start(&L);
        code_open(&L, s, n);
        r->any = true;
        r->cont = false;
    } else if (op == F_LINE) {
        code_line(&L, s, n);
    } else {
        code_close(&L);
    }
    lay_free(&L);
}

static void commit(struct render_md *r)
{
    if (r->pend.len)
        render_chunk(r, r->pend.ptr, r->pend.len, &r->out, false);
    buf_reset(&r->pend);
    r->st = S_NONE;
    r->cont = false;
}

/* ---- line classification (CommonMark block starts) ---- */

/* Columns of leading white space (tabs to stops of 4) and where text starts. */
static size_t indent(const char *s, size_t n, size_t *pos)
{
    size_t col = 0, i = 0;
    for (; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
        col = s[i] == '\t' ? col + 4 - col % 4 : col + 1;
    if (pos)
        *pos = i;
    return col;
}

static bool is_blank(const char *s, size_t n)
{
    size_t p;
    indent(s, n, &p);
    return p == n;
}

static bool only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    }
    return true;
}

/* ```lang or ~~~ with at most 3 columns of indent. */
static bool fence_open(const char *s, size_t n, char *ch, size_t *len, size_t *ind, size_t *info)
{
    size_t p, col = indent(s, n, &p);
    if (col > 3 || p == n || (s[p] != '`' && s[p] != '~'))
        return false;
    size_t k = p;
    while (k < n && s[k] == s[p])
        k++;
    if (k - p < 3)
        return false;
    if (s[p] == '`' && memchr(s + k, '`', n - k))
        return false;
    *ch = s[p];
    *len = k - p;
    *ind = col;
    *info = k;
    return true;
}

static bool fence_close(const char *s, size_t n, char ch, size_t len)
{
    size_t p, col = indent(s, n, &p);
    if (col > 3)
        return false;
    size_t k = p;
    while (k < n && s[k] == ch)
        k++;
    return k - p >= len && only_space(s + k, n - k);
}

static bool is_atx(const char *s, size_t n)
{
    size_t p, col = indent(s, n, &p);
    if (col > 3)
        return false;
    size_t k = p;
    while (k < n && s[k] == '#')
        k++;
    return k > p && k - p <= 6 && (k == n || s[k] == ' ' || s[k] == '\t');
}

/* A thematic break; *setext is set when it could underline a paragraph. */
static bool is_hr(const char *s, size_t n, bool *setext)
{
    size_t p, col = indent(s, n, &p);
    *setext = false;
    if (col > 3 || p == n || (s[p] != '*' && s[p] != '-' && s[p] != '_'))
        return false;
    char c = s[p];
    size_t count = 0, k = p;
    for (; k < n; k++) {
        if (s[k] == c)
            count++;
        else if (s[k] != ' ' && s[k] != '\t')
            return false;
    }
    if (count < 3)
        return false;
    if (c == '-') {
        size_t e = p;
        while (e < n && s[e] == '-')
            e++;
        *setext = only_space(s + e, n - e);
    }
    return true;
}

static bool is_quote(const char *s, size_t n)
{
    size_t p, col = indent(s, n, &p);
    return col <= 3 && p < n && s[p] == '>';
}

struct marker {
    char kind;      /* '-', '+', '*', '.', ')' */
    unsigned long num;
    bool one;       /* ordered, written "1" */
    bool empty;     /* nothing after the marker */
    size_t ci;      /* content column */
    size_t content; /* byte where the content starts */
};

static bool list_marker(const char *s, size_t n, struct marker *m)
{
    size_t p, col = indent(s, n, &p);
    if (col > 3 || p == n)
        return false;
    size_t k = p;
    if (s[p] == '-' || s[p] == '+' || s[p] == '*') {
        m->kind = s[p];
        m->one = false;
        k = p + 1;
    } else {
        unsigned long v = 0;
        while (k < n && k - p < 9 && s[k] >= '0' && s[k] <= '9')
            v = v * 10 + (unsigned long)(s[k++] - '0');
        if (k == p || k == n || (s[k] != '.' && s[k] != ')'))
            return false;
        m->kind = s[k];
        m->num = v;
        m->one = k - p == 1 && s[p] == '1';
        k++;
    }
    if (k < n && s[k] != ' ' && s[k] != '\t')
        return false;
    size_t mcol = col + (k - p); /* the column after the marker */
    size_t q = k, c2 = mcol;
    while (q < n && (s[q] == ' ' || s[q] == '\t')) {
        c2 = s[q] == '\t' ? c2 + 4 - c2 % 4 : c2 + 1;
        q++;
    }
    m->empty = q == n;
    m->content = q;
    if (m->empty || c2 - mcol > 4)
        m->ci = mcol + 1;
    else
        m->ci = c2;
    return true;
}

/* Does the line start a block that interrupts a paragraph, for sure? */
static bool interrupts(const char *s, size_t n, bool setext_ok)
{
    bool setext;
    char ch;
    size_t len, ind, info;
    struct marker m;
    if (is_atx(s, n) || fence_open(s, n, &ch, &len, &ind, &info) || is_quote(s, n))
        return true;
    if (is_hr(s, n, &setext))
        return !(setext && setext_ok);
    if (list_marker(s, n, &m))
        return !m.empty && (m.kind == '-' || m.kind == '+' || m.kind == '*' || m.one);
    return false;
}

/* Is the text (after a list item's indent) paragraph text, through any
 * nested list markers and quote markers? Then a following unindented line
 * is a lazy continuation of it. */
static bool para_text(const char *s, size_t n)
{
    bool setext;
    char ch;
    size_t len, ind, info;
    struct marker m;
    for (;;) {
        size_t p, col = indent(s, n, &p);
        if (p == n || col >= 4)
            return false;
        if (s[p] == '>') {
            p++;
            if (p < n && s[p] == ' ')
                p++;
            s += p;
            n -= p;
            continue;
        }
        if (is_hr(s, n, &setext) || is_atx(s, n) || fence_open(s, n, &ch, &len, &ind, &info))
            return false;
        if (list_marker(s, n, &m)) {
            if (m.empty)
                return false;
            s += m.content;
            n -= m.content;
            continue;
        }
        return true;
    }
}

static void pend_add(struct render_md *r, const char *s, size_t n)
{
    buf_add(&r->pend, s, n);
    buf_addc(&r->pend, '\n');
}

static void list_open(struct render_md *r, const struct marker *m, const char *s, size_t n)
{
    r->st = S_LIST;
    r->lkind = m->kind;
    r->ci = m->ci;
    r->blank_before = false;
    r->uncertain = false;
    char ch;
    size_t len, ind, info;
    r->nfence = !m->empty && fence_open(s + m->content, n - m->content, &ch, &len, &ind, &info);
    if (r->nfence) {
        r->nf_ch = ch;
        r->nf_len = len;
    }
    r->last_para = !m->empty && para_text(s + m->content, n - m->content);
}

/* A line with nothing pending: which block does it open? */
static void open_block(struct render_md *r, const char *s, size_t n)
{
    bool setext;
    char ch;
    size_t len, ind, info;
    struct marker m;
    if (is_blank(s, n))
        return;
    if (indent(s, n, NULL) >= 4) {
        r->st = S_ICODE;
        pend_add(r, s, n);
    } else if (fence_open(s, n, &ch, &len, &ind, &info)) {
        r->st = S_FENCE;
        r->f_ch = ch;
        r->f_len = len;
        r->f_ind = ind;
        size_t a = info, b;
        while (a < n && (s[a] == ' ' || s[a] == '\t'))
            a++;
        for (b = a; b < n && s[b] != ' ' && s[b] != '\t';)
            b++;
        fence_emit(r, &r->out, F_OPEN, s + a, b - a);
    } else if (is_atx(s, n) || is_hr(s, n, &setext)) {
        pend_add(r, s, n);
        commit(r);
    } else if (is_quote(s, n)) {
        r->st = S_QUOTE;
        r->q_lazy = false;
        pend_add(r, s, n);
    } else if (list_marker(s, n, &m)) {
        list_open(r, &m, s, n);
        pend_add(r, s, n);
    } else {
        r->st = S_PARA;
        pend_add(r, s, n);
    }
}

/* Commit what is pending and let the line open the next block. */
static void split(struct render_md *r, const char *s, size_t n)
{
    commit(r);
    open_block(r, s, n);
}

static void scan_list(struct render_md *r, const char *s, size_t n)
{
    if (is_blank(s, n)) {
        pend_add(r, s, n);
        r->blank_before = true;
        r->last_para = false;
        r->uncertain = false;
        return;
    }
    size_t col = indent(s, n, NULL);
    struct marker m;
    bool setext;
    if (col >= r->ci) {
        /* nested content; follow fences so their lines are not misread */
        size_t p = 0, c = 0;
        while (p < n && c < r->ci && (s[p] == ' ' || s[p] == '\t')) {
            c = s[p] == '\t' ? c + 4 - c % 4 : c + 1;
            p++;
        }
        char ch;
        size_t len, ind, info;
        if (r->nfence) {
            if (fence_close(s + p, n - p, r->nf_ch, r->nf_len))
                r->nfence = false;
            r->last_para = false;
        } else if (c == r->ci && fence_open(s + p, n - p, &ch, &len, &ind, &info)) {
            r->nfence = true;
            r->nf_ch = ch;
            r->nf_len = len;
            r->last_para = false;
        } else {
            r->last_para = para_text(s + p, n - p);
        }
        pend_add(r, s, n);
        r->blank_before = false;
        return;
    }
    bool sibling = list_marker(s, n, &m) && !is_hr(s, n, &setext);
    if (sibling && m.kind == r->lkind && !r->uncertain) {
        /* the next item of the same list */
        bool blank = r->blank_before;
        commit(r);
        r->cont = true;
        r->cont_blank = blank;
        r->cont_next = r->last_next;
        list_open(r, &m, s, n);
        pend_add(r, s, n);
        return;
    }
    if (r->blank_before || r->nfence || interrupts(s, n, r->uncertain)) {
        split(r, s, n);
        return;
    }
    /* a lazy continuation line of the item's paragraph; or, when the item
     * does not end in a paragraph, a paragraph after the list */
    pend_add(r, s, n);
    if (!r->last_para)
        r->uncertain = true;
}

static void scan_line(struct render_md *r, const char *s, size_t n)
{
    if (r->pend.len + n + 1 > RENDER_MD_MAX_BLOCK)
        commit(r); /* cap: a huge block is drawn in parts */
    switch (r->st) {
    case S_NONE:
        open_block(r, s, n);
        break;
    case S_FENCE:
        if (fence_close(s, n, r->f_ch, r->f_len)) {
            fence_emit(r, &r->out, F_CLOSE, NULL, 0);
            r->st = S_NONE;
        } else {
            size_t k = 0;
            while (k < n && k < r->f_ind && s[k] == ' ')
                k++;
            fence_emit(r, &r->out, F_LINE, s + k, n - k);
        }
        break;
    case S_PARA:
        if (is_blank(s, n))
            commit(r);
        else if (interrupts(s, n, true))
            split(r, s, n);
        else {
            struct marker m;
            pend_add(r, s, n);
            if (list_marker(s, n, &m)) {
                /* "2. x" continues a paragraph but may start a list: hold
                 * it over blank lines like a list */
                list_open(r, &m, s, n);
                r->uncertain = true;
            }
        }
        break;
    case S_QUOTE:
        if (is_blank(s, n))
            commit(r);
        else if (is_quote(s, n)) {
            pend_add(r, s, n);
            r->q_lazy = false;
        } else if (interrupts(s, n, r->q_lazy))
            split(r, s, n);
        else {
            struct marker m;
            pend_add(r, s, n);
            r->q_lazy = true;
            if (list_marker(s, n, &m)) {
                list_open(r, &m, s, n);
                r->uncertain = true;
            }
        }
        break;
    case S_ICODE:
        if (is_blank(s, n) || indent(s, n, NULL) >= 4)
            pend_add(r, s, n);
        else
            split(r, s, n);
        break;
    case S_LIST:
        scan_list(r, s, n);
        break;
    }
}

/* ---- input: pieces to lines ---- */

static void line_done(struct render_md *r)
{
    scan_line(r, r->line.ptr ? r->line.ptr : "", r->line.len);
    buf_reset(&r->line);
}

static void take(struct render_md *r, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (r->cr) {
            r->cr = false;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t k = i;
        while (k < n && p[k] != '\n' && p[k] != '\r')
            k++;
        if (r->line.len + (k - i) > RENDER_MD_MAX_LINE) {
            /* The line cap: cut at byte MAX_LINE of the line, moved back to
             * the start of a character, wherever the pieces ended. */
            size_t have = r->line.len, j = RENDER_MD_MAX_LINE;
#define BYTE_AT(x) ((unsigned char)((x) < have ? r->line.ptr[(x)] : p[i + (x) - have]))
            for (int step = 0; step < 3 && j > 0 && (BYTE_AT(j) & 0xc0) == 0x80; step++)
                j--;
            if (j == 0 || (BYTE_AT(j) & 0xc0) == 0x80)
                j = RENDER_MD_MAX_LINE; /* not UTF-8 anyway */
#undef BYTE_AT
            if (j >= have) {
                buf_add(&r->line, p + i, j - have);
                i += j - have;
                line_done(r);
            } else {
                char carry[4];
                size_t c = have - j;
                memcpy(carry, r->line.ptr + j, c);
                buf_truncate(&r->line, j);
                line_done(r);
                buf_add(&r->line, carry, c);
            }
            continue;
        }
        buf_add(&r->line, p + i, k - i);
        i = k;
        if (i < n) {
            r->cr = p[i] == '\r';
            line_done(r);
            i++;
        }
    }
}

/* ---- screen ---- */

static bool write_stdout(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    /* with a line-buffered stdout a failed write can hide behind fwrite's
     * count and an empty fflush: the error flag tells */
    return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0 && !ferror(stdout);
}

static enum brock_status failed(const struct render_md *r, struct brock_err *e)
{
    return err_set(e, r->failed, "%s", r->why);
}

static enum brock_status out_write(struct render_md *r, const char *p, size_t n, struct brock_err *e)
{
    if (r->failed)
        return failed(r, e);
    if (n == 0)
        return BROCK_OK;
    errno = 0;
    bool ok = r->o.write ? r->o.write(r->o.write_ctx, p, n) : write_stdout(NULL, p, n);
    if (!ok) {
        r->failed = BROCK_ERR_IO;
        if (r->o.write)
            snprintf(r->why, sizeof r->why, "writing the answer failed (the output refused %zu bytes)", n);
        else
            snprintf(r->why, sizeof r->why, "writing the answer to stdout failed: %s",
                     errno ? strerror(errno) : "short write");
        return failed(r, e);
    }
    return BROCK_OK;
}

/* Terminal rows a line takes at width W (the terminal wraps long lines). */
static size_t rows_of(size_t W, const char *s, size_t n)
{
    size_t w = term_styled_width(s, n);
    return w == 0 || W == 0 ? 1 : (w + W - 1) / W;
}

/* The provisional tail, its last rows only, into r->tail. */
static void draw_tail(struct render_md *r)
{
    struct buf *t = &r->tail;
    buf_reset(t);
    if (r->st == S_FENCE) {
        if (r->line.len) {
            size_t k = 0;
            while (k < r->line.len && k < r->f_ind && r->line.ptr[k] == ' ')
                k++;
            bool any = r->any;
            fence_emit(r, t, F_LINE, r->line.ptr + k, r->line.len - k);
            r->any = any;
        }
    } else if (r->pend.len || r->line.len) {
        struct buf *src = &r->src;
        buf_reset(src);
        size_t from = 0;
        size_t total = r->pend.len + r->line.len;
        if (total > RENDER_MD_PREVIEW_WINDOW) {
            from = r->pend.len > RENDER_MD_PREVIEW_WINDOW ? r->pend.len - RENDER_MD_PREVIEW_WINDOW : 0;
            const char *nl = r->pend.len > from ? memchr(r->pend.ptr + from, '\n', r->pend.len - from) : NULL;
            from = nl ? (size_t)(nl - r->pend.ptr) + 1 : r->pend.len;
        }
        buf_add(src, r->pend.ptr ? r->pend.ptr + from : "", r->pend.len - from);
        /* the line so far, less a UTF-8 character still arriving, at most
         * the last window's worth, starting at a character */
        const unsigned char *lp = (const unsigned char *)(r->line.ptr ? r->line.ptr : "");
        size_t end = r->line.len, k = end, back = 0;
        while (k > 0 && back < 3 && (lp[k - 1] & 0xc0) == 0x80) {
            k--;
            back++;
        }
        if (k > 0 && lp[k - 1] >= 0xc0) {
            size_t need = lp[k - 1] >= 0xf0 ? 4 : lp[k - 1] >= 0xe0 ? 3 : 2;
            if (back + 1 < need)
                end = k - 1;
        }
        size_t begin = end > RENDER_MD_PREVIEW_WINDOW ? end - RENDER_MD_PREVIEW_WINDOW : 0;
        for (int step = 0; step < 3 && begin > 0 && begin < end && (lp[begin] & 0xc0) == 0x80; step++)
            begin++;
        buf_add(src, lp + begin, end - begin);
        bool cont = r->cont;
        render_chunk(r, buf_cstr(src), src->len, t, true);
        r->cont = cont;
    }
    /* keep the last rows that fit, so the tail can always be erased */
    size_t maxrows = r->o.height > 3 ? (size_t)r->o.height - 2 : 1, rows = 0;
    size_t start = t->len;
    while (start > 0) {
        size_t e = start - 1; /* the '\n' ending the line before `start` */
        size_t b = e;
        while (b > 0 && t->ptr[b - 1] != '\n')
            b--;
        size_t lr = rows_of(r->lk.width, t->ptr + b, e - b);
        if (rows + lr > maxrows)
            break;
        rows += lr;
        start = b;
    }
    if (start > 0) {
        memmove(t->ptr, t->ptr + start, t->len - start);
        buf_truncate(t, t->len - start);
    }
}

/* Put r->out (and, live, the tail) on the screen. */
static enum brock_status flush(struct render_md *r, bool tail, struct brock_err *e)
{
    if (!r->o.live || r->lk.width == 0) {
        enum brock_status st = out_write(r, r->out.ptr, r->out.len, e);
        buf_reset(&r->out);
        return st;
    }
    if (tail)
        draw_tail(r);
    else
        buf_reset(&r->tail);
    struct buf *q = &r->seq;
    buf_reset(q);
    buf_add(q, r->out.ptr ? r->out.ptr : "", r->out.len);
    buf_add(q, r->tail.ptr ? r->tail.ptr : "", r->tail.len);
    /* skip the lines already on screen */
    const char *sh = r->shown.ptr ? r->shown.ptr : "";
    size_t so = 0, qo = 0;
    while (so < r->shown.len && qo < q->len) {
        const char *a = memchr(sh + so, '\n', r->shown.len - so);
        const char *b = memchr(q->ptr + qo, '\n', q->len - qo);
        size_t la = (size_t)(a - (sh + so)), lb = b ? (size_t)(b - (q->ptr + qo)) : q->len - qo;
        if (!b || la != lb || memcmp(sh + so, q->ptr + qo, la) != 0)
            break;
        so += la + 1;
        qo += lb + 1;
    }
    size_t up = 0;
    for (size_t i = so; i < r->shown.len;) {
        const char *a = memchr(sh + i, '\n', r->shown.len - i);
        size_t l = (size_t)(a - (sh + i));
        up += rows_of(r->shown_width, sh + i, l);
        i += l + 1;
    }
    struct buf *o = &r->src;
    buf_reset(o);
    if (up > 0)
        buf_addf(o, "\x1b[%zuA\x1b[J", up);
    buf_add(o, q->ptr ? q->ptr + qo : "", q->len - qo);
    enum brock_status st = out_write(r, o->ptr, o->len, e);
    buf_reset(&r->shown);
    buf_add(&r->shown, r->tail.ptr ? r->tail.ptr : "", r->tail.len);
    r->shown_width = r->lk.width;
    buf_reset(&r->out);
    return st;
}

/* ---- API ---- */

struct render_md *render_md_new(const struct render_opts *opts)
{
    struct render_md *r = xcalloc(1, sizeof *r);
    r->o = *opts;
    r->lk.color = opts->color;
    r->lk.unicode = opts->unicode;
    r->lk.width = opts->width > 0 ? (size_t)opts->width : 0;
    buf_init(&r->line, RENDER_MD_MAX_LINE + 4);
    buf_init(&r->pend, RENDER_MD_MAX_BLOCK + RENDER_MD_MAX_LINE + 4);
    buf_init(&r->out, OUT_MAX);
    buf_init(&r->seq, OUT_MAX);
    buf_init(&r->tail, OUT_MAX);
    buf_init(&r->shown, OUT_MAX);
    buf_init(&r->src, OUT_MAX);
    return r;
}

void render_md_free(struct render_md *r)
{
    if (!r)
        return;
    buf_free(&r->line);
    buf_free(&r->pend);
    buf_free(&r->out);
    buf_free(&r->seq);
    buf_free(&r->tail);
    buf_free(&r->shown);
    buf_free(&r->src);
    free(r);
}

enum brock_status render_md_feed(struct render_md *r, const char *p, size_t n, struct brock_err *e)
{
    if (r->failed)
        return failed(r, e);
    take(r, p, n);
    if (r->out.len == 0 && r->o.live && r->o.preview_ms > 0) {
        int64_t now = clock_now_ms(r->o.clock);
        if (now - r->last_ms < r->o.preview_ms)
            return BROCK_OK;
        r->last_ms = now;
    }
    if (r->out.len == 0 && !r->o.live)
        return BROCK_OK;
    return flush(r, true, e);
}

enum brock_status render_md_finish(struct render_md *r, struct brock_err *e)
{
    if (r->failed)
        return failed(r, e);
    if (r->line.len)
        line_done(r);
    r->cr = false;
    if (r->st == S_FENCE)
        fence_emit(r, &r->out, F_CLOSE, NULL, 0);
    commit(r);
    enum brock_status st = flush(r, false, e);
    r->any = false;
    r->cont = false;
    r->last_next = 0;
    return st;
}

enum brock_status render_md_pause(struct render_md *r, struct brock_err *e)
{
    if (r->failed)
        return failed(r, e);
    return flush(r, false, e);
}

void render_md_set_width(struct render_md *r, int width, int height)
{
    r->o.width = width;
    r->o.height = height;
    r->lk.width = width > 0 ? (size_t)width : 0;
}

static bool write_buf(void *ctx, const char *p, size_t n)
{
    return buf_add(ctx, p, n) == BROCK_OK;
}

void render_md_string(struct buf *out, const struct render_opts *opts, const char *md, size_t n)
{
    struct render_opts o = *opts;
    o.live = false;
    o.write = write_buf;
    o.write_ctx = out;
    o.clock = NULL;
    struct render_md *r = render_md_new(&o);
    (void)render_md_feed(r, md, n, NULL);
    (void)render_md_finish(r, NULL);
    render_md_free(r);
}
