/* tool_match.c - glob matching for Glob, Grep's filters, LS's ignore list
 * and .gitignore files.
 *
 * Rules (gitignore(5) and POSIX fnmatch): `*` matches any run of characters
 * but '/', `?` one character, `[...]` one character from a set (ranges,
 * leading `!` or `^` negates, `]` first is literal, [:alpha:]-style classes),
 * `\x` the character x. A whole segment `**` matches any number of segments:
 * leading `**` / middle `/` `**` `/` zero or more, trailing `/` `**` one or
 * more (everything inside). Characters are UTF-8 code points.
 *
 * Cost: a segment match is the classic backtrack-to-the-last-star loop,
 * O(len(pattern) * len(name)); a path match is a dynamic programme over
 * (pattern segment, path segment) pairs, so no input is exponential. */
#include <string.h>

#include "../../util/alloc.h"
#include "tool_int.h"

#define SEG_MAX 256 /* segments in a pattern or path; deeper never matches */

static bool posix_class(const char *name, size_t n, uint32_t c)
{
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
    bool lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';
    if (IS("alpha"))
        return lower || upper;
    if (IS("digit"))
        return digit;
    if (IS("alnum"))
        return lower || upper || digit;
    if (IS("lower"))
        return lower;
    if (IS("upper"))
        return upper;
    if (IS("space"))
        return c == ' ' || (c >= '\t' && c <= '\r');
    if (IS("blank"))
        return c == ' ' || c == '\t';
    if (IS("xdigit"))
        return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (IS("punct"))
        return c > 32 && c < 127 && !lower && !upper && !digit;
    if (IS("cntrl"))
        return c < 32 || c == 127;
    if (IS("print"))
        return c >= 32 && c != 127;
    if (IS("graph"))
        return c > 32 && c != 127;
    return false;
#undef IS
}

/* A bracket expression at p[i] == '['. Returns the index after its ']', or 0
 * when there is no closing bracket (then '[' is an ordinary character). */
static size_t bracket(const char *p, size_t pn, size_t i, uint32_t c, bool *hit)
{
    size_t j = i + 1;
    bool neg = false, match = false, first = true;
    if (j < pn && (p[j] == '!' || p[j] == '^')) {
        neg = true;
        j++;
    }
    while (j < pn) {
        if (p[j] == ']' && !first) {
            *hit = match != neg;
            return j + 1;
        }
        first = false;
        if (p[j] == '[' && j + 1 < pn && p[j + 1] == ':') {
            size_t k = j + 2;
            while (k + 1 < pn && !(p[k] == ':' && p[k + 1] == ']'))
                k++;
            if (k + 1 < pn) {
                match = match || posix_class(p + j + 2, k - j - 2, c);
                j = k + 2;
                continue;
            }
        }
        uint32_t lo, hi;
        if (p[j] == '\\' && j + 1 < pn)
            j++;
        j += tool_utf8_dec(p + j, pn - j, &lo);
        hi = lo;
        if (j + 1 < pn && p[j] == '-' && p[j + 1] != ']') {
            j++;
            if (p[j] == '\\' && j + 1 < pn)
                j++;
            j += tool_utf8_dec(p + j, pn - j, &hi);
        }
        if (c >= lo && c <= hi)
            match = true;
    }
    return 0;
}

bool tool_wild_seg(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < sn) {
        if (pi < pn) {
            char c = p[pi];
            if (c == '*') {
                while (pi < pn && p[pi] == '*')
                    pi++;
                star_p = pi;
                star_s = si;
                continue;
            }
            uint32_t cp;
            size_t l = tool_utf8_dec(s + si, sn - si, &cp);
            if (c == '?') {
                pi++;
                si += l;
                continue;
            }
            if (c == '[') {
                bool hit = false;
                size_t e = bracket(p, pn, pi, cp, &hit);
                if (e) {
                    if (!hit)
                        goto backtrack;
                    pi = e;
                    si += l;
                    continue;
                }
            }
            if (c == '\\' && pi + 1 < pn) {
                if (p[pi + 1] != s[si])
                    goto backtrack;
                pi += 2;
                si++;
                continue;
            }
            if (c == s[si]) {
                pi++;
                si++;
                continue;
            }
        }
    backtrack:
        if (star_p == SIZE_MAX)
            return false;
        uint32_t cp;
        star_s += tool_utf8_dec(s + star_s, sn - star_s, &cp);
        si = star_s;
        pi = star_p;
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

struct seg {
    const char *p;
    size_t n;
};

/* Split on '/', dropping empty segments. Returns the count, or SEG_MAX + 1. */
static size_t split(const char *s, size_t n, struct seg *out)
{
    size_t k = 0, i = 0;
    while (i < n) {
        while (i < n && s[i] == '/')
            i++;
        if (i == n)
            break;
        size_t b = i;
        while (i < n && s[i] != '/')
            i++;
        if (k == SEG_MAX)
            return SEG_MAX + 1;
        out[k++] = (struct seg){s + b, i - b};
    }
    return k;
}

static bool is_globstar(const struct seg *s)
{
    return s->n == 2 && s->p[0] == '*' && s->p[1] == '*';
}

bool tool_wild_path(const char *pat, size_t pn, const char *s, size_t sn, bool prefix)
{
    struct seg ps[SEG_MAX], ts[SEG_MAX];
    size_t P = split(pat, pn, ps), T = split(s, sn, ts);
    if (P > SEG_MAX || T > SEG_MAX)
        return false;
    /* m[i][j]: pattern segments i.. match path segments j.. (prefix mode:
     * path segments j.. followed by at least one more). Two rows suffice. */
    bool rows[2][SEG_MAX + 1];
    bool *nxt = rows[0], *cur = rows[1];
    for (size_t j = 0; j <= T; j++)
        nxt[j] = !prefix && j == T;
    for (size_t i = P; i-- > 0;) {
        bool star = is_globstar(&ps[i]);
        for (size_t j = T + 1; j-- > 0;) {
            bool v;
            if (j == T && prefix)
                v = true; /* a longer path can use the rest of the pattern */
            else if (star && i == P - 1)
                v = prefix || j < T;
            else if (star)
                v = nxt[j] || (j < T && cur[j + 1]);
            else
                v = j < T && nxt[j + 1] && tool_wild_seg(ps[i].p, ps[i].n, ts[j].p, ts[j].n);
            cur[j] = v;
        }
        bool *t = nxt;
        nxt = cur;
        cur = t;
    }
    return nxt[0];
}

bool tool_has_glob_meta(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '{')
            return true;
    return false;
}

/* --- Braces ------------------------------------------------------------ */

struct strv {
    char **v;
    size_t n, cap;
};

static enum brock_status expand(const char *p, size_t pn, struct strv *out, struct brock_err *e)
{
    /* the first '{' that has a matching '}' with a top-level ',' inside */
    for (size_t i = 0; i < pn; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (p[i] != '{')
            continue;
        size_t depth = 0, close = 0;
        bool comma = false;
        for (size_t j = i; j < pn; j++) {
            if (p[j] == '\\') {
                j++;
                continue;
            }
            if (p[j] == '{')
                depth++;
            else if (p[j] == '}' && --depth == 0) {
                close = j;
                break;
            } else if (p[j] == ',' && depth == 1)
                comma = true;
        }
        if (!close || !comma)
            continue;
        /* prefix p[0..i), alternatives inside, suffix p(close..pn) */
        size_t a = i + 1;
        depth = 0;
        for (size_t j = i + 1; j <= close; j++) {
            if (j < close && p[j] == '\\') {
                j++;
                continue;
            }
            if (j < close && p[j] == '{') {
                depth++;
                continue;
            }
            if (j < close && p[j] == '}') {
                depth--;
                continue;
            }
            if (j == close || (p[j] == ',' && depth == 0)) {
                size_t n = i + (j - a) + (pn - close - 1);
                char *alt = xmalloc(n + 1);
                memcpy(alt, p, i);
                memcpy(alt + i, p + a, j - a);
                memcpy(alt + i + (j - a), p + close + 1, pn - close - 1);
                alt[n] = '\0';
                enum brock_status s = expand(alt, n, out, e);
                free(alt);
                if (s != BROCK_OK)
                    return s;
                a = j + 1;
            }
        }
        return BROCK_OK;
    }
    if (out->n == TOOL_BRACE_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "the pattern expands to more than %d alternatives",
                       TOOL_BRACE_MAX);
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 4;
        out->v = xrealloc(out->v, out->cap * sizeof *out->v);
    }
    out->v[out->n++] = xmemdup(p, pn);
    return BROCK_OK;
}

enum brock_status tool_brace_expand(const char *pat, size_t pn, char ***out, size_t *n,
                                    struct brock_err *e)
{
    struct strv sv = {*out, *n, *n};
    enum brock_status s = expand(pat, pn, &sv, e);
    *out = sv.v;
    *n = sv.n;
    return s;
}

/* --- .gitignore -------------------------------------------------------- */

struct tool_ignore *tool_ignore_parse(const char *text, size_t n, const char *base)
{
    struct tool_ignore *ig = xcalloc(1, sizeof *ig);
    ig->text = xmemdup(text, n);
    size_t cap = 0;
    const char *p = ig->text, *end = ig->text + n;
    while (p < end && ig->n < TOOL_IGNORE_RULES_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        size_t l = (size_t)(le - s);
        p = nl ? nl + 1 : end;
        if (l && s[l - 1] == '\r')
            l--;
        if (!l || s[0] == '#')
            continue;
        while (l && s[l - 1] == ' ' && !(l >= 2 && s[l - 2] == '\\'))
            l--;
        unsigned flags = 0;
        if (l && s[0] == '!') {
            flags |= TOOL_IGN_NEGATE;
            s++;
            l--;
        }
        if (l && s[l - 1] == '/') {
            flags |= TOOL_IGN_DIR;
            while (l && s[l - 1] == '/')
                l--;
        }
        if (l && s[0] == '/') {
            flags |= TOOL_IGN_ANCHORED;
            s++;
            l--;
        } else if (memchr(s, '/', l)) {
            flags |= TOOL_IGN_ANCHORED;
        }
        if (!l)
            continue;
        if (ig->n == cap) {
            cap = cap ? cap * 2 : 16;
            ig->rules = xrealloc(ig->rules, cap * sizeof *ig->rules);
        }
        ig->rules[ig->n++] = (struct tool_ign_rule){s, l, flags};
    }
    if (!ig->n) {
        tool_ignore_free(ig);
        return NULL;
    }
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    ig->base = xmemdup(base, bl);
    ig->base_len = bl;
    return ig;
}

void tool_ignore_free(struct tool_ignore *ig)
{
    if (!ig)
        return;
    free(ig->rules);
    free(ig->text);
    free(ig->base);
    free(ig);
}

int tool_ignore_match(const struct tool_ignore *ig, const char *rel, size_t rn, bool is_dir)
{
    const char *slash = rn ? memrchr(rel, '/', rn) : NULL;
    const char *name = slash ? slash + 1 : rel;
    size_t nn = rn - (size_t)(name - rel);
    for (size_t k = ig->n; k-- > 0;) {
        const struct tool_ign_rule *r = &ig->rules[k];
        if ((r->flags & TOOL_IGN_DIR) && !is_dir)
            continue;
        bool hit = (r->flags & TOOL_IGN_ANCHORED) ? tool_wild_path(r->pat, r->len, rel, rn, false)
                                                  : tool_wild_seg(r->pat, r->len, name, nn);
        if (hit)
            return (r->flags & TOOL_IGN_NEGATE) ? -1 : 1;
    }
    return 0;
}
