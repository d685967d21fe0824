/* tool_diff.c - unified diffs of file changes, for the UI and the session log.
 *
 * The common head and tail are cut off by bytes first (an edit in a large
 * file costs a memcmp, not a line table of the file). The rest is split into
 * lines and compared with Myers' O(ND) greedy algorithm (Myers 1986, "An
 * O(ND) Difference Algorithm and Its Variations"), keeping each round's
 * furthest-reaching diagonals to walk the path back. Past a work budget the
 * changed region is shown as one block of deletions and insertions, still a
 * correct diff, just not a minimal one. Hunks carry three lines of context
 * and merge when at most six common lines separate them, as GNU diff does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/alloc.h"
#include "tool_int.h"

#define DIFF_MAX_D 1000 /* edit distance explored before giving up */
#define DIFF_BUDGET ((uint64_t)40 * 1000 * 1000) /* comparisons + diagonal steps */

struct line {
    const char *p;
    size_t n; /* with the '\n' when there is one */
    uint64_t h;
};

static uint64_t hash_line(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static size_t split_lines(const char *p, size_t n, struct line **out)
{
    size_t cnt = tool_count_lines(p, n);
    struct line *l = xmalloc((cnt + 1) * sizeof *l); /* never NULL: callers offset it */
    size_t i = 0, k = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - p) + 1 : n;
        l[k].p = p + i;
        l[k].n = e - i;
        l[k].h = hash_line(p + i, e - i);
        k++;
        i = e;
    }
    *out = l;
    return k;
}

static bool line_eq(const struct line *a, const struct line *b)
{
    return a->h == b->h && a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* Mark deleted lines of a and inserted lines of b (flags preset to false).
 * Returns false when the budget ran out (the caller marks everything). */
static bool myers(const struct line *a, size_t N, const struct line *b, size_t M, bool *del,
                  bool *ins)
{
    size_t maxd = N + M < DIFF_MAX_D ? N + M : DIFF_MAX_D;
    size_t off = maxd + 1;
    /* v[k + off]: furthest x on diagonal k; trace[d] holds v after round d
     * for k in [-d, d] */
    int64_t *v = xcalloc(2 * off + 1, sizeof *v);
    int64_t **trace = xcalloc(maxd + 1, sizeof *trace);
    uint64_t work = 0;
    size_t dfound = SIZE_MAX;
    for (size_t d = 0; d <= maxd && dfound == SIZE_MAX; d++) {
        int64_t D = (int64_t)d;
        for (int64_t k = -D; k <= D; k += 2) {
            int64_t x;
            if (k == -D || (k != D && v[k - 1 + (int64_t)off] < v[k + 1 + (int64_t)off]))
                x = v[k + 1 + (int64_t)off];
            else
                x = v[k - 1 + (int64_t)off] + 1;
            int64_t y = x - k;
            while (x < (int64_t)N && y < (int64_t)M && line_eq(&a[x], &b[y])) {
                x++;
                y++;
                work++;
            }
            v[k + (int64_t)off] = x;
            work++;
            if (x >= (int64_t)N && y >= (int64_t)M) {
                dfound = d;
                break;
            }
        }
        trace[d] = xmalloc((2 * d + 1) * sizeof **trace);
        memcpy(trace[d], v + off - d, (2 * d + 1) * sizeof **trace);
        if (work > DIFF_BUDGET)
            break;
    }
    bool ok = dfound != SIZE_MAX;
    if (ok) {
        /* walk back: each round is one move (down = insert a line of b,
         * right = delete a line of a) followed by a diagonal snake */
        int64_t x = (int64_t)N, y = (int64_t)M;
        for (size_t d = dfound; d > 0; d--) {
            int64_t D = (int64_t)d, k = x - y;
            const int64_t *pv = trace[d - 1] + (D - 1); /* pv[k'] for k' in [-(d-1), d-1] */
            bool down = k == -D || (k != D && pv[k - 1] < pv[k + 1]);
            int64_t pk = down ? k + 1 : k - 1;
            int64_t px = pv[pk], py = px - pk;
            int64_t mx = down ? px : px + 1, my = down ? py + 1 : py;
            while (x > mx && y > my) {
                x--;
                y--;
            }
            if (down)
                ins[py] = true;
            else
                del[px] = true;
            x = px;
            y = py;
        }
    }
    for (size_t d = 0; d <= maxd; d++)
        free(trace[d]);
    free(trace);
    free(v);
    return ok;
}

static void add_line(struct buf *out, char tag, const struct line *l)
{
    buf_addc(out, tag);
    buf_add(out, l->p, l->n);
    if (!l->n || l->p[l->n - 1] != '\n')
        buf_addstr(out, "\n\\ No newline at end of file\n");
}

static void hunk_range(struct buf *out, char sign, size_t start, size_t len)
{
    /* GNU style: an empty range names the line before it; a length of 1 is
     * left out */
    if (len == 0)
        buf_addf(out, "%c%zu,0", sign, start);
    else if (len == 1)
        buf_addf(out, "%c%zu", sign, start + 1);
    else
        buf_addf(out, "%c%zu,%zu", sign, start + 1, len);
}

void tool_diff_unified(struct buf *out, const char *a, size_t an, const char *b, size_t bn,
                       const char *label_a, const char *label_b, size_t *added, size_t *removed)
{
    if (added)
        *added = 0;
    if (removed)
        *removed = 0;
    if (an == bn && memcmp(a, b, an) == 0)
        return;
    /* common head, cut back to a line start */
    size_t m = an < bn ? an : bn, p = 0;
    while (p < m && a[p] == b[p])
        p++;
    while (p > 0 && a[p - 1] != '\n')
        p--;
    /* common tail, not overlapping the head, moved forward to a line start */
    size_t s = 0;
    while (s < an - p && s < bn - p && a[an - 1 - s] == b[bn - 1 - s])
        s++;
    size_t ta = an - s, tb = bn - s;
    bool starts = (ta == 0 || a[ta - 1] == '\n') && (tb == 0 || b[tb - 1] == '\n');
    if (!starts) {
        const char *nl = memchr(a + ta, '\n', s);
        size_t t = nl ? (size_t)(nl - (a + ta)) + 1 : s;
        ta += t;
        tb += t;
    }
    /* up to CONTEXT lines on each side of the changed middle */
    size_t head_lines = tool_count_lines(a, p);
    size_t cb = 0, q = p;
    while (cb < TOOL_DIFF_CONTEXT && q > 0) {
        q--;
        while (q > 0 && a[q - 1] != '\n')
            q--;
        cb++;
    }
    size_t ea = ta, ca = 0;
    while (ca < TOOL_DIFF_CONTEXT && ea < an) {
        const char *nl = memchr(a + ea, '\n', an - ea);
        ea = nl ? (size_t)(nl - a) + 1 : an;
        ca++;
    }
    size_t eb = tb + (ea - ta);
    /* lines: context before (from a), middle of a/b, context after */
    struct line *la, *lb;
    size_t A = split_lines(a + q, ea - q, &la);
    size_t B = split_lines(b + q, eb - q, &lb);
    bool *del = xcalloc(A + 1, 1), *ins = xcalloc(B + 1, 1);
    size_t N = A - cb - ca, M = B - cb - ca;
    if (!myers(la + cb, N, lb + cb, M, del + cb, ins + cb)) {
        memset(del + cb, 1, N);
        memset(ins + cb, 1, M);
    }
    size_t first = head_lines - cb; /* 0-based line number of la[0] and lb[0] */

    buf_addf(out, "--- %s\n+++ %s\n", label_a, label_b);
    /* walk the changes, grouping them into hunks */
    size_t i = 0, j = 0;
    while (i < A || j < B) {
        if (i < A && j < B && !del[i] && !ins[j]) {
            i++;
            j++;
            continue;
        }
        /* a hunk starts at the change at (i, j); find where it ends */
        size_t hi = i, hj = j, ei = i, ej = j;
        for (;;) {
            while (ei < A && del[ei])
                ei++;
            while (ej < B && ins[ej])
                ej++;
            /* common lines up to the next change */
            size_t gi = ei, gj = ej, gap = 0;
            while (gi < A && gj < B && !del[gi] && !ins[gj]) {
                gi++;
                gj++;
                gap++;
            }
            bool more = gi < A || gj < B;
            if (more && gap <= 2 * TOOL_DIFF_CONTEXT) {
                ei = gi;
                ej = gj;
                continue;
            }
            break;
        }
        size_t ctx_before = hi < TOOL_DIFF_CONTEXT ? hi : TOOL_DIFF_CONTEXT;
        size_t sa = hi - ctx_before, sb = hj - ctx_before;
        size_t after = 0;
        while (after < TOOL_DIFF_CONTEXT && ei + after < A && ej + after < B &&
               !del[ei + after] && !ins[ej + after])
            after++;
        size_t enda = ei + after, endb = ej + after;
        buf_addstr(out, "@@ ");
        hunk_range(out, '-', first + sa, enda - sa);
        buf_addc(out, ' ');
        hunk_range(out, '+', first + sb, endb - sb);
        buf_addstr(out, " @@\n");
        size_t x = sa, y = sb;
        while (x < enda || y < endb) {
            if (x < enda && y < endb && !del[x] && !ins[y]) {
                add_line(out, ' ', &la[x]);
                x++;
                y++;
                continue;
            }
            while (x < enda && del[x]) {
                add_line(out, '-', &la[x++]);
                if (removed)
                    (*removed)++;
            }
            while (y < endb && ins[y]) {
                add_line(out, '+', &lb[y++]);
                if (added)
                    (*added)++;
            }
        }
        i = enda;
        j = endb;
    }
    free(del);
    free(ins);
    free(la);
    free(lb);
}
