/* scenario.c - scenario, fault and keys files for `brock emulate`.
 *
 * One small JSON reader that remembers where every value starts (line and
 * column), then one schema walk per document type that turns the values into
 * the structs of scenario.h, naming the field path and position of anything
 * wrong. The reader is strict RFC 8259 JSON (UTF-8 checked, no NUL in
 * strings, duplicate keys refused) with the caps of scenario.h. */
#include "scenario.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "../util/timeutil.h"

/* ------------------------------------------------------------------ */
/* the positioned JSON reader                                           */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jmem;

struct jv {
    enum jt t;
    int line, col;
    bool b;
    bool is_int;      /* J_NUM: an integer that fits int64 */
    int64_t i;
    const char *lex;  /* J_NUM: the lexeme, in the source text */
    size_t lexlen;
    char *s;          /* J_STR (NUL-terminated) */
    size_t len;
    struct jv *a;     /* J_ARR items */
    struct jmem *m;   /* J_OBJ members */
    size_t n;         /* items or members */
};

struct jmem {
    char *k;
    size_t klen;
    int line, col;
    struct jv v;
};

struct reader {
    const char *p, *end;
    const char *line_start;
    int line;
    size_t values;
    bool secret; /* wipe strings, never echo input */
    const char *what;
    struct brock_err *e;
};

static void jv_free(struct jv *v, bool secret)
{
    switch (v->t) {
    case J_STR:
        if (secret && v->s)
            secure_wipe(v->s, v->len);
        free(v->s);
        break;
    case J_ARR:
        for (size_t i = 0; i < v->n; i++)
            jv_free(&v->a[i], secret);
        free(v->a);
        break;
    case J_OBJ:
        for (size_t i = 0; i < v->n; i++) {
            if (secret)
                secure_wipe(v->m[i].k, v->m[i].klen);
            free(v->m[i].k);
            jv_free(&v->m[i].v, secret);
        }
        free(v->m);
        break;
    default:
        break;
    }
    memset(v, 0, sizeof *v);
}

static int col_of(const struct reader *r, const char *at)
{
    return (int)(at - r->line_start) + 1;
}

static enum brock_status rbad(struct reader *r, const char *at, const char *fmt, ...) BROCK_PRINTF(3, 4);

static enum brock_status rbad(struct reader *r, const char *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(r->e, BROCK_ERR_PARSE, "%s:%d:%d: invalid JSON: %s", r->what, r->line, col_of(r, at), msg);
}

static void skip_ws(struct reader *r)
{
    while (r->p < r->end) {
        char c = *r->p;
        if (c == '\n') {
            r->line++;
            r->line_start = ++r->p;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            r->p++;
        } else {
            break;
        }
    }
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xc0 | cp >> 6);
        t[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xe0 | cp >> 12);
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        t[0] = (char)(0xf0 | cp >> 18);
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_add(b, t, n);
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* Read a string at r->p (the opening quote) into a new NUL-terminated copy. */
static enum brock_status read_string(struct reader *r, char **out, size_t *outlen)
{
    const char *start = r->p++;
    struct buf b = BUF_INIT(SCENARIO_MAX_STRING);
    enum brock_status st = BROCK_OK;
    for (;;) {
        if (r->p >= r->end) {
            st = rbad(r, start, "string not closed");
            break;
        }
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            break;
        }
        if (c < 0x20) {
            st = rbad(r, r->p, "control character 0x%02x in a string (escape it)", c);
            break;
        }
        if (c == '\\') {
            if (r->end - r->p < 2) {
                st = rbad(r, r->p, "string not closed");
                break;
            }
            char x = r->p[1];
            const char *simple = strchr("\"\\/bfnrt", x);
            if (x && simple) {
                static const char repl[] = "\"\\/\b\f\n\r\t";
                buf_addc(&b, repl[simple - "\"\\/bfnrt"]);
                r->p += 2;
                continue;
            }
            if (x != 'u') {
                st = rbad(r, r->p, "unknown escape in a string");
                break;
            }
            int u = r->end - r->p >= 6 ? hex4(r->p + 2) : -1;
            if (u < 0) {
                st = rbad(r, r->p, "\\u needs four hex digits");
                break;
            }
            uint32_t cp = (uint32_t)u;
            const char *esc = r->p;
            r->p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' ? hex4(r->p + 2) : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    st = rbad(r, esc, "unpaired UTF-16 surrogate in \\u escape");
                    break;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
                r->p += 6;
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                st = rbad(r, esc, "unpaired UTF-16 surrogate in \\u escape");
                break;
            } else if (cp == 0) {
                st = rbad(r, esc, "\\u0000 is not allowed in a string");
                break;
            }
            put_utf8(&b, cp);
            continue;
        }
        size_t n = utf8_len((const unsigned char *)r->p, (const unsigned char *)r->end);
        if (!n) {
            st = rbad(r, r->p, "invalid UTF-8 in a string");
            break;
        }
        buf_add(&b, r->p, n);
        r->p += n;
        if (b.overflow)
            break;
    }
    if (st == BROCK_OK && buf_status(&b) != BROCK_OK)
        st = err_set(r->e, BROCK_ERR_TOO_LARGE, "%s:%d:%d: a string is longer than %zu bytes", r->what,
                     r->line, col_of(r, start), SCENARIO_MAX_STRING);
    if (st != BROCK_OK) {
        if (r->secret)
            buf_free_secure(&b);
        else
            buf_free(&b);
        return st;
    }
    *outlen = b.len;
    *out = buf_take(&b);
    return BROCK_OK;
}

static enum brock_status read_number(struct reader *r, struct jv *v)
{
    const char *s = r->p, *p = r->p;
    if (p < r->end && *p == '-')
        p++;
    if (p >= r->end || !isdigit((unsigned char)*p))
        return rbad(r, s, "bad number");
    if (*p == '0')
        p++;
    else
        while (p < r->end && isdigit((unsigned char)*p))
            p++;
    bool is_int = true;
    if (p < r->end && *p == '.') {
        is_int = false;
        p++;
        if (p >= r->end || !isdigit((unsigned char)*p))
            return rbad(r, s, "bad number: digits must follow '.'");
        while (p < r->end && isdigit((unsigned char)*p))
            p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        is_int = false;
        p++;
        if (p < r->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= r->end || !isdigit((unsigned char)*p))
            return rbad(r, s, "bad number: digits must follow the exponent");
        while (p < r->end && isdigit((unsigned char)*p))
            p++;
    }
    v->t = J_NUM;
    v->lex = s;
    v->lexlen = (size_t)(p - s);
    if (is_int && v->lexlen <= 19) {
        /* at most 18 digits (+ sign) always fits; 19 digits might not */
        bool neg = *s == '-';
        uint64_t acc = 0;
        bool fits = true;
        for (const char *q = s + neg; q < p; q++) {
            if (acc > (UINT64_MAX - 9) / 10) {
                fits = false;
                break;
            }
            acc = acc * 10 + (uint64_t)(*q - '0');
        }
        if (fits && acc <= (uint64_t)INT64_MAX) {
            v->is_int = true;
            v->i = neg ? -(int64_t)acc : (int64_t)acc;
        }
    }
    r->p = p;
    return BROCK_OK;
}

static enum brock_status read_value(struct reader *r, struct jv *v, int depth);

static enum brock_status read_array(struct reader *r, struct jv *v, int depth)
{
    v->t = J_ARR;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return BROCK_OK;
    }
    size_t cap = 0;
    for (;;) {
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->a = xrealloc(v->a, cap * sizeof *v->a);
        }
        struct jv *item = &v->a[v->n];
        memset(item, 0, sizeof *item);
        enum brock_status st = read_value(r, item, depth + 1);
        v->n++; /* even on error, so jv_free releases what was read */
        if (st != BROCK_OK)
            return st;
        skip_ws(r);
        if (r->p >= r->end)
            return rbad(r, r->p, "array not closed (expected ',' or ']')");
        if (*r->p == ']') {
            r->p++;
            return BROCK_OK;
        }
        if (*r->p != ',')
            return rbad(r, r->p, "expected ',' or ']' in an array");
        r->p++;
    }
}

static enum brock_status read_object(struct reader *r, struct jv *v, int depth)
{
    v->t = J_OBJ;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return BROCK_OK;
    }
    size_t cap = 0;
    for (;;) {
        skip_ws(r);
        if (r->p >= r->end || *r->p != '"')
            return rbad(r, r->p, "expected a member name in double quotes");
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->m = xrealloc(v->m, cap * sizeof *v->m);
        }
        struct jmem *m = &v->m[v->n];
        memset(m, 0, sizeof *m);
        m->line = r->line;
        m->col = col_of(r, r->p);
        const char *kat = r->p;
        enum brock_status st = read_string(r, &m->k, &m->klen);
        if (st != BROCK_OK)
            return st;
        v->n++;
        for (size_t i = 0; i + 1 < v->n; i++) {
            if (v->m[i].klen == m->klen && !memcmp(v->m[i].k, m->k, m->klen)) {
                if (r->secret)
                    return rbad(r, kat, "duplicate member name");
                return rbad(r, kat, "duplicate member \"%.60s\"", m->k);
            }
        }
        skip_ws(r);
        if (r->p >= r->end || *r->p != ':')
            return rbad(r, r->p, "expected ':' after a member name");
        r->p++;
        st = read_value(r, &m->v, depth + 1);
        if (st != BROCK_OK)
            return st;
        skip_ws(r);
        if (r->p >= r->end)
            return rbad(r, r->p, "object not closed (expected ',' or '}')");
        if (*r->p == '}') {
            r->p++;
            return BROCK_OK;
        }
        if (*r->p != ',')
            return rbad(r, r->p, "expected ',' or '}' in an object");
        r->p++;
    }
}

static bool lit(struct reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static enum brock_status read_value(struct reader *r, struct jv *v, int depth)
{
    skip_ws(r);
    if (r->p >= r->end)
        return rbad(r, r->p, "unexpected end of input (expected a value)");
    if (depth > SCENARIO_MAX_DEPTH)
        return rbad(r, r->p, "nested deeper than %d levels", SCENARIO_MAX_DEPTH);
    if (++r->values > SCENARIO_MAX_VALUES)
        return err_set(r->e, BROCK_ERR_TOO_LARGE, "%s:%d:%d: more than %d JSON values", r->what, r->line,
                       col_of(r, r->p), SCENARIO_MAX_VALUES);
    v->line = r->line;
    v->col = col_of(r, r->p);
    char c = *r->p;
    switch (c) {
    case '{':
        return read_object(r, v, depth);
    case '[':
        return read_array(r, v, depth);
    case '"':
        v->t = J_STR;
        return read_string(r, &v->s, &v->len);
    case 't':
    case 'f':
    case 'n':
        if (lit(r, "true")) {
            v->t = J_BOOL;
            v->b = true;
            return BROCK_OK;
        }
        if (lit(r, "false")) {
            v->t = J_BOOL;
            return BROCK_OK;
        }
        if (lit(r, "null")) {
            v->t = J_NULL;
            return BROCK_OK;
        }
        break;
    default:
        if (c == '-' || isdigit((unsigned char)c))
            return read_number(r, v);
        break;
    }
    if (!r->secret && c > 0x20 && c < 0x7f)
        return rbad(r, r->p, "unexpected character '%c' (expected a value)", c);
    return rbad(r, r->p, "unexpected character (expected a value)");
}

/* Parse a whole document into *root. */
static enum brock_status read_doc(const char *text, size_t n, const char *what, bool secret, struct jv *root,
                                  struct brock_err *e)
{
    memset(root, 0, sizeof *root);
    if (n > SCENARIO_MAX_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu bytes", what, SCENARIO_MAX_BYTES);
    struct reader r = {text, text + n, text, 1, 0, secret, what, e};
    if (n >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
        r.p = r.line_start = text + 3;
    enum brock_status st = read_value(&r, root, 0);
    if (st == BROCK_OK) {
        skip_ws(&r);
        if (r.p < r.end)
            st = rbad(&r, r.p, "unexpected text after the end of the document");
    }
    if (st != BROCK_OK)
        jv_free(root, secret);
    return st;
}

/* ------------------------------------------------------------------ */
/* schema walking: field paths and typed getters                        */

struct sctx {
    const char *what;
    struct brock_err *e;
    bool secret;
    char path[200];
    size_t plen;
};

static size_t path_key(struct sctx *c, const char *key)
{
    size_t old = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s%s", c->plen ? "." : "", key);
    if (n > 0)
        c->plen = c->plen + (size_t)n < sizeof c->path ? c->plen + (size_t)n : sizeof c->path - 1;
    return old;
}

static size_t path_idx(struct sctx *c, size_t i)
{
    size_t old = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%zu]", i);
    if (n > 0)
        c->plen = c->plen + (size_t)n < sizeof c->path ? c->plen + (size_t)n : sizeof c->path - 1;
    return old;
}

static void path_pop(struct sctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static enum brock_status sbad(struct sctx *c, int line, int col, const char *fmt, ...) BROCK_PRINTF(4, 5);

static enum brock_status sbad(struct sctx *c, int line, int col, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->e, BROCK_ERR_PARSE, "%s:%d:%d: %s%s%s", c->what, line, col, c->path, c->plen ? ": " : "", msg);
}

static const char *type_name(enum jt t)
{
    static const char *const names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    return names[t];
}

static enum brock_status want(struct sctx *c, const struct jv *v, enum jt t)
{
    if (v->t == t)
        return BROCK_OK;
    return sbad(c, v->line, v->col, "expected %s, found %s", type_name(t), type_name(v->t));
}

static const struct jv *get(const struct jv *obj, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->m[i].klen == kl && !memcmp(obj->m[i].k, key, kl))
            return &obj->m[i].v;
    return NULL;
}

/* Every member name must be in `allowed` (NULL-terminated). */
static enum brock_status check_keys(struct sctx *c, const struct jv *obj, const char *const *allowed)
{
    for (size_t i = 0; i < obj->n; i++) {
        const struct jmem *m = &obj->m[i];
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strlen(*a) == m->klen && !memcmp(*a, m->k, m->klen);
        if (ok)
            continue;
        char list[300] = "";
        size_t l = 0;
        for (const char *const *a = allowed; *a && l < sizeof list; a++) {
            int w = snprintf(list + l, sizeof list - l, "%s%s", a == allowed ? "" : ", ", *a);
            if (w > 0)
                l += (size_t)w;
        }
        if (c->secret)
            return sbad(c, m->line, m->col, "unknown field (expected one of: %s)", list);
        return sbad(c, m->line, m->col, "unknown field \"%.60s\" (expected one of: %s)", m->k, list);
    }
    return BROCK_OK;
}

/* Optional string member: *out stays NULL when absent. */
static enum brock_status opt_str(struct sctx *c, const struct jv *obj, const char *key, char **out)
{
    const struct jv *v = get(obj, key);
    if (!v)
        return BROCK_OK;
    size_t old = path_key(c, key);
    enum brock_status st = want(c, v, J_STR);
    path_pop(c, old);
    if (st == BROCK_OK)
        *out = xmemdup(v->s, v->len);
    return st;
}

static enum brock_status opt_int(struct sctx *c, const struct jv *obj, const char *key, int64_t min, int64_t max,
                                 int64_t *out)
{
    const struct jv *v = get(obj, key);
    if (!v)
        return BROCK_OK;
    size_t old = path_key(c, key);
    enum brock_status st = BROCK_OK;
    if (v->t != J_NUM || !v->is_int)
        st = sbad(c, v->line, v->col, "expected an integer, found %s", v->t == J_NUM ? "a fraction" : type_name(v->t));
    else if (v->i < min || v->i > max)
        st = sbad(c, v->line, v->col, "%lld is out of range %lld..%lld", (long long)v->i, (long long)min,
                  (long long)max);
    else
        *out = v->i;
    path_pop(c, old);
    return st;
}

static enum brock_status opt_bool(struct sctx *c, const struct jv *obj, const char *key, bool *out)
{
    const struct jv *v = get(obj, key);
    if (!v)
        return BROCK_OK;
    size_t old = path_key(c, key);
    enum brock_status st = want(c, v, J_BOOL);
    if (st == BROCK_OK)
        *out = v->b;
    path_pop(c, old);
    return st;
}

/* A string member restricted to one of `names`; returns its index in *out. */
static enum brock_status opt_enum(struct sctx *c, const struct jv *obj, const char *key, const char *const *names,
                                  int *out)
{
    const struct jv *v = get(obj, key);
    if (!v)
        return BROCK_OK;
    size_t old = path_key(c, key);
    enum brock_status st = want(c, v, J_STR);
    if (st == BROCK_OK) {
        int i = 0;
        for (; names[i]; i++)
            if (!strcmp(names[i], v->s))
                break;
        if (names[i]) {
            *out = i;
        } else {
            char list[200] = "";
            size_t l = 0;
            for (int j = 0; names[j] && l < sizeof list; j++) {
                int w = snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", names[j]);
                if (w > 0)
                    l += (size_t)w;
            }
            st = sbad(c, v->line, v->col, "\"%.60s\" is not one of: %s", v->s, list);
        }
    }
    path_pop(c, old);
    return st;
}

/* Serialise a value as compact JSON (for tool_use inputs). */
void scenario_json_quote(struct buf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    buf_addc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hexd[ch >> 4];
            esc[5] = hexd[ch & 15];
            buf_add(b, esc, 6);
            continue;
        }
        buf_add(b, esc, 2);
    }
    buf_add(b, s + run, n - run);
    buf_addc(b, '"');
}

static void jv_dump(struct buf *b, const struct jv *v)
{
    switch (v->t) {
    case J_NULL: buf_addstr(b, "null"); break;
    case J_BOOL: buf_addstr(b, v->b ? "true" : "false"); break;
    case J_NUM: buf_add(b, v->lex, v->lexlen); break;
    case J_STR: scenario_json_quote(b, v->s, v->len); break;
    case J_ARR:
        buf_addc(b, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                buf_addc(b, ',');
            jv_dump(b, &v->a[i]);
        }
        buf_addc(b, ']');
        break;
    case J_OBJ:
        buf_addc(b, '{');
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                buf_addc(b, ',');
            scenario_json_quote(b, v->m[i].k, v->m[i].klen);
            buf_addc(b, ':');
            jv_dump(b, &v->m[i].v);
        }
        buf_addc(b, '}');
        break;
    }
}

/* ------------------------------------------------------------------ */
/* operations                                                           */

static const char *const op_names[] = {"invoke", "invoke-with-response-stream", "converse", "converse-stream",
                                       "count-tokens", "sts", "logs", "cloudwatch", "bedrock-control", "iam"};

const char *scenario_op_name(unsigned op)
{
    for (unsigned i = 0; i < BROCK_ARRAY_LEN(op_names); i++)
        if (op == 1u << i)
            return op_names[i];
    return NULL;
}

unsigned scenario_op_parse(const char *name, size_t len)
{
    for (unsigned i = 0; i < BROCK_ARRAY_LEN(op_names); i++)
        if (strlen(op_names[i]) == len && !memcmp(op_names[i], name, len))
            return 1u << i;
    return 0;
}

/* "operations": a name or an array of names, limited to `allowed` bits. */
static enum brock_status opt_ops(struct sctx *c, const struct jv *obj, unsigned allowed, unsigned *out)
{
    const struct jv *v = get(obj, "operations");
    if (!v)
        return BROCK_OK;
    size_t old = path_key(c, "operations");
    enum brock_status st = BROCK_OK;
    unsigned ops = 0;
    size_t n = v->t == J_ARR ? v->n : 1;
    if (v->t != J_ARR && v->t != J_STR)
        st = sbad(c, v->line, v->col, "expected an operation name or an array of them");
    else if (v->t == J_ARR && !v->n)
        st = sbad(c, v->line, v->col, "empty list of operations");
    for (size_t i = 0; st == BROCK_OK && i < n; i++) {
        const struct jv *it = v->t == J_ARR ? &v->a[i] : v;
        size_t o2 = v->t == J_ARR ? path_idx(c, i) : c->plen;
        st = want(c, it, J_STR);
        if (st == BROCK_OK) {
            unsigned bit = scenario_op_parse(it->s, it->len);
            if (!bit || !(bit & allowed)) {
                char list[200] = "";
                size_t l = 0;
                for (unsigned j = 0; j < BROCK_ARRAY_LEN(op_names) && l < sizeof list; j++) {
                    if (!(allowed & (1u << j)))
                        continue;
                    int w = snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", op_names[j]);
                    if (w > 0)
                        l += (size_t)w;
                }
                st = sbad(c, it->line, it->col, "\"%.60s\" is not an operation here (expected %s)", it->s, list);
            }
            ops |= bit;
        }
        path_pop(c, o2);
    }
    path_pop(c, old);
    if (st == BROCK_OK)
        *out = ops;
    return st;
}

/* ------------------------------------------------------------------ */
/* faults                                                               */

static const struct fault_preset {
    const char *type, *code;
    int status;
    const char *message;
} presets[] = {
    {"throttling", "ThrottlingException", 429, "Too many requests, please wait before trying again."},
    {"internal", "InternalServerException", 500,
     "The system encountered an unexpected error during processing. Try your request again."},
    {"unavailable", "ServiceUnavailableException", 503,
     "The service is temporarily unable to handle the request. Try your request again later."},
    {"model_not_ready", "ModelNotReadyException", 429,
     "Model is not ready to serve inference requests. The model may be loading or scaling. Try your request "
     "again later."},
    {"model_timeout", "ModelTimeoutException", 408,
     "Model has timed out in processing the request. Try your request again."},
    {"model_error", "ModelErrorException", 424, "The model returned an error. Try your request again."},
    {"access_denied", "AccessDeniedException", 403, "You don't have access to the model with the specified model ID."},
    {"validation", "ValidationException", 400, "The request failed validation (injected by brock emulate)."},
    {"service_quota", "ServiceQuotaExceededException", 400,
     "Your request exceeds the service quota for your account. You can view your quotas at "
     "https://docs.aws.amazon.com/servicequotas/latest/userguide/gs-request-quota.html."},
    {"not_found", "ResourceNotFoundException", 404, "The requested resource could not be found."},
};

static const struct stream_exc {
    const char *name;
    const char *message;
} stream_excs[] = {
    {"throttlingException", "Too many tokens, please wait before trying again."},
    {"modelStreamErrorException", "The model stream was interrupted by an error."},
    {"internalServerException",
     "The system encountered an unexpected error during processing. Try your request again."},
    {"serviceUnavailableException", "The service is temporarily unable to handle the request."},
    {"validationException", "The request failed validation during streaming."},
    {"modelTimeoutException", "Model has timed out in processing the request."},
};

void scenario_fault_cleanup(struct scenario_fault *f)
{
    free(f->model);
    free(f->code);
    free(f->message);
    free(f->access_key_id);
    memset(f, 0, sizeof *f);
}

void scenario_faults_free(struct scenario_faults *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        scenario_fault_cleanup(&fs->v[i]);
    free(fs->v);
    fs->v = NULL;
    fs->n = 0;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void scenario_fault_copy(struct scenario_fault *dst, const struct scenario_fault *src)
{
    *dst = *src;
    dst->model = dup_or_null(src->model);
    dst->code = dup_or_null(src->code);
    dst->message = dup_or_null(src->message);
    dst->access_key_id = dup_or_null(src->access_key_id);
}

static bool is_code_name(const char *s)
{
    if (!*s || strlen(s) > 60)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s))
            return false;
    return true;
}

/* "probability": a number in (0, 1]. */
static enum brock_status opt_probability(struct sctx *c, const struct jv *obj, double *out)
{
    const struct jv *v = get(obj, "probability");
    if (!v)
        return BROCK_OK;
    size_t old = path_key(c, "probability");
    enum brock_status st = want(c, v, J_NUM);
    if (st == BROCK_OK) {
        char tmp[64];
        double d = -1;
        if (v->lexlen < sizeof tmp) {
            memcpy(tmp, v->lex, v->lexlen);
            tmp[v->lexlen] = '\0';
            d = strtod(tmp, NULL);
        }
        if (!(d > 0.0 && d <= 1.0))
            st = sbad(c, v->line, v->col, "expected a number greater than 0 and at most 1");
        else
            *out = d;
    }
    path_pop(c, old);
    return st;
}

static enum brock_status parse_fault(struct sctx *c, const struct jv *v, struct scenario_fault *f)
{
    memset(f, 0, sizeof *f);
    f->line = v->line;
    f->col = v->col;
    f->retry_after_ms = -1;
    f->count = 1;
    f->probability = 1.0;
    enum brock_status st = want(c, v, J_OBJ);
    if (st != BROCK_OK)
        return st;
    const struct jv *t = get(v, "type");
    if (!t)
        return sbad(c, v->line, v->col, "a fault needs a \"type\"");
    size_t old = path_key(c, "type");
    st = want(c, t, J_STR);
    path_pop(c, old);
    if (st != BROCK_OK)
        return st;

    const struct fault_preset *preset = NULL;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(presets); i++)
        if (!strcmp(presets[i].type, t->s))
            preset = &presets[i];
    static const char *const k_err[] = {"type", "count", "operations", "model", "message", "retry_after_ms",
                                        "probability", NULL};
    static const char *const k_generic[] = {"type", "count", "operations", "model", "code",
                                            "status", "message", "retry_after_ms", "probability", NULL};
    static const char *const k_drop[] = {"type", "count", "operations", "model", "probability", NULL};
    static const char *const k_slow[] = {"type", "count", "operations", "model", "delay_ms", "probability", NULL};
    static const char *const k_exc[] = {"type", "count", "operations", "model", "exception",
                                        "after", "message", "status", "probability", NULL};
    static const char *const k_trunc[] = {"type", "count", "operations", "model", "after", "abort", "probability", NULL};
    static const char *const k_crc[] = {"type", "count", "operations", "model", "frame", "which", "probability", NULL};
    static const char *const k_key[] = {"type", "count", "access_key_id", "probability", NULL};
    const char *const *keys;
    unsigned allowed_ops = SCENARIO_OPS_MODEL;
    snprintf(f->type, sizeof f->type, "%s", t->s);
    if (preset) {
        f->kind = SCENARIO_FAULT_ERROR;
        keys = k_err;
    } else if (!strcmp(t->s, "error")) {
        f->kind = SCENARIO_FAULT_ERROR;
        keys = k_generic;
    } else if (!strcmp(t->s, "drop")) {
        f->kind = SCENARIO_FAULT_DROP;
        keys = k_drop;
    } else if (!strcmp(t->s, "slow")) {
        f->kind = SCENARIO_FAULT_SLOW;
        keys = k_slow;
    } else if (!strcmp(t->s, "stream_exception")) {
        f->kind = SCENARIO_FAULT_STREAM_EXCEPTION;
        keys = k_exc;
        allowed_ops = SCENARIO_OPS_STREAM;
    } else if (!strcmp(t->s, "truncate")) {
        f->kind = SCENARIO_FAULT_TRUNCATE;
        keys = k_trunc;
        allowed_ops = SCENARIO_OPS_STREAM;
    } else if (!strcmp(t->s, "bad_crc")) {
        f->kind = SCENARIO_FAULT_BAD_CRC;
        keys = k_crc;
        allowed_ops = SCENARIO_OPS_STREAM;
    } else if (!strcmp(t->s, "expire_key")) {
        f->kind = SCENARIO_FAULT_EXPIRE_KEY;
        keys = k_key;
        allowed_ops = SCENARIO_OPS_MODEL | SCENARIO_OP_STS | SCENARIO_OPS_AWS;
        f->count = -1;
    } else {
        old = path_key(c, "type");
        st = sbad(c, t->line, t->col,
                  "unknown fault type \"%.40s\" (expected throttling, internal, unavailable, model_not_ready, "
                  "model_timeout, model_error, access_denied, validation, service_quota, not_found, error, drop, "
                  "slow, stream_exception, truncate, bad_crc or expire_key)",
                  t->s);
        path_pop(c, old);
        return st;
    }
    f->ops = allowed_ops;
    if (f->kind == SCENARIO_FAULT_ERROR || f->kind == SCENARIO_FAULT_DROP || f->kind == SCENARIO_FAULT_SLOW)
        allowed_ops |= SCENARIO_OPS_AWS; /* when named; the default stays the model operations */
    if ((st = check_keys(c, v, keys)) != BROCK_OK)
        return st;

    const struct jv *cnt = get(v, "count");
    if (cnt && cnt->t == J_NUM && cnt->is_int && cnt->i == -1)
        f->count = -1;
    else if ((st = opt_int(c, v, "count", 1, SCENARIO_MAX_COUNT, &f->count)) != BROCK_OK)
        return st;
    if ((st = opt_probability(c, v, &f->probability)) != BROCK_OK ||
        (st = opt_ops(c, v, allowed_ops, &f->ops)) != BROCK_OK ||
        (st = opt_str(c, v, "model", &f->model)) != BROCK_OK ||
        (st = opt_str(c, v, "message", &f->message)) != BROCK_OK)
        return st;

    switch (f->kind) {
    case SCENARIO_FAULT_ERROR: {
        int64_t status = preset ? preset->status : 0;
        if ((st = opt_str(c, v, "code", &f->code)) != BROCK_OK ||
            (st = opt_int(c, v, "status", 400, 599, &status)) != BROCK_OK ||
            (st = opt_int(c, v, "retry_after_ms", 0, SCENARIO_MAX_DELAY_MS, &f->retry_after_ms)) != BROCK_OK)
            return st;
        if (preset) {
            f->code = xstrdup(preset->code);
            if (!f->message)
                f->message = xstrdup(preset->message);
        } else {
            if (!f->code)
                return sbad(c, v->line, v->col, "an \"error\" fault needs a \"code\" (e.g. \"ModelErrorException\")");
            if (!is_code_name(f->code)) {
                old = path_key(c, "code");
                st = sbad(c, get(v, "code")->line, get(v, "code")->col, "an error code is letters and digits only");
                path_pop(c, old);
                return st;
            }
            if (!status) {
                status = 400;
                for (size_t i = 0; i < BROCK_ARRAY_LEN(presets); i++)
                    if (!strcmp(presets[i].code, f->code))
                        status = presets[i].status;
            }
            if (!f->message)
                f->message = xstrdup("Error injected by brock emulate.");
        }
        f->status = (int)status;
        break;
    }
    case SCENARIO_FAULT_SLOW:
        if (!get(v, "delay_ms"))
            return sbad(c, v->line, v->col, "a \"slow\" fault needs \"delay_ms\"");
        st = opt_int(c, v, "delay_ms", 0, SCENARIO_MAX_DELAY_MS, &f->delay_ms);
        break;
    case SCENARIO_FAULT_STREAM_EXCEPTION: {
        int which = 0;
        static const char *const names[] = {"throttlingException", "modelStreamErrorException",
                                            "internalServerException", "serviceUnavailableException",
                                            "validationException", "modelTimeoutException", NULL};
        int64_t status = 500;
        if ((st = opt_enum(c, v, "exception", names, &which)) != BROCK_OK ||
            (st = opt_int(c, v, "after", 0, SCENARIO_MAX_COUNT, &f->after)) != BROCK_OK ||
            (st = opt_int(c, v, "status", 100, 599, &status)) != BROCK_OK)
            return st;
        f->code = xstrdup(stream_excs[which].name);
        if (!f->message)
            f->message = xstrdup(stream_excs[which].message);
        f->status = (int)status;
        break;
    }
    case SCENARIO_FAULT_TRUNCATE:
        if ((st = opt_int(c, v, "after", 0, SCENARIO_MAX_COUNT, &f->after)) != BROCK_OK)
            return st;
        st = opt_bool(c, v, "abort", &f->abort);
        break;
    case SCENARIO_FAULT_BAD_CRC: {
        int which = 0;
        static const char *const names[] = {"message", "prelude", NULL};
        if ((st = opt_int(c, v, "frame", 0, SCENARIO_MAX_COUNT, &f->after)) != BROCK_OK ||
            (st = opt_enum(c, v, "which", names, &which)) != BROCK_OK)
            return st;
        f->prelude = which == 1;
        break;
    }
    case SCENARIO_FAULT_EXPIRE_KEY:
        if (!get(v, "access_key_id"))
            return sbad(c, v->line, v->col, "an \"expire_key\" fault needs \"access_key_id\"");
        st = opt_str(c, v, "access_key_id", &f->access_key_id);
        break;
    case SCENARIO_FAULT_DROP:
        break;
    }
    return st;
}

/* A fault object or an array of them, appended to out. */
static enum brock_status parse_fault_list(struct sctx *c, const struct jv *v, struct scenario_faults *out)
{
    size_t n = v->t == J_ARR ? v->n : 1;
    if (v->t != J_ARR && v->t != J_OBJ)
        return sbad(c, v->line, v->col, "expected a fault object or an array of them");
    if (out->n + n > SCENARIO_MAX_FAULTS)
        return sbad(c, v->line, v->col, "more than %d faults", SCENARIO_MAX_FAULTS);
    out->v = xrealloc(out->v, (out->n + n + 1) * sizeof *out->v);
    for (size_t i = 0; i < n; i++) {
        size_t old = v->t == J_ARR ? path_idx(c, i) : c->plen;
        enum brock_status st = parse_fault(c, v->t == J_ARR ? &v->a[i] : v, &out->v[out->n]);
        path_pop(c, old);
        if (st != BROCK_OK) {
            scenario_fault_cleanup(&out->v[out->n]);
            return st;
        }
        out->n++;
    }
    return BROCK_OK;
}

enum brock_status scenario_faults_parse(const char *text, size_t n, const char *what, struct scenario_faults *out,
                                        struct brock_err *e)
{
    struct jv root;
    enum brock_status st = read_doc(text, n, what, false, &root, e);
    if (st != BROCK_OK)
        return st;
    struct sctx c = {.what = what, .e = e};
    const struct jv *list = &root;
    if (root.t == J_OBJ && get(&root, "faults")) {
        static const char *const k[] = {"faults", NULL};
        st = check_keys(&c, &root, k);
        list = get(&root, "faults");
        path_key(&c, "faults");
    }
    size_t first = out->n;
    if (st == BROCK_OK)
        st = parse_fault_list(&c, list, out);
    if (st != BROCK_OK) {
        while (out->n > first)
            scenario_fault_cleanup(&out->v[--out->n]);
    }
    jv_free(&root, false);
    return st;
}

/* ------------------------------------------------------------------ */
/* responses                                                            */

static bool name_ok(const char *s, size_t n, const char *extra)
{
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
            return false;
    return true;
}

static void block_cleanup(struct scenario_block *b)
{
    free(b->text);
    free(b->signature);
    free(b->id);
    free(b->name);
    free(b->input);
}

static void response_cleanup(struct scenario_response *r)
{
    for (size_t i = 0; i < r->n_blocks; i++)
        block_cleanup(&r->blocks[i]);
    free(r->blocks);
    free(r->stop_reason);
    free(r->stop_sequence);
    scenario_faults_free(&r->faults);
    memset(r, 0, sizeof *r);
}

static struct scenario_block *add_block(struct scenario_response *r, enum scenario_block_type t)
{
    r->blocks = xrealloc(r->blocks, (r->n_blocks + 1) * sizeof *r->blocks);
    struct scenario_block *b = &r->blocks[r->n_blocks++];
    memset(b, 0, sizeof *b);
    b->type = t;
    return b;
}

static enum brock_status parse_tool_use(struct sctx *c, const struct jv *v, struct scenario_block *b, bool typed)
{
    static const char *const k_plain[] = {"name", "input", "id", NULL};
    static const char *const k_typed[] = {"type", "name", "input", "id", NULL};
    enum brock_status st = want(c, v, J_OBJ);
    if (st == BROCK_OK)
        st = check_keys(c, v, typed ? k_typed : k_plain);
    if (st != BROCK_OK)
        return st;
    const struct jv *name = get(v, "name"), *input = get(v, "input"), *id = get(v, "id");
    if (!name)
        return sbad(c, v->line, v->col, "a tool_use needs a \"name\"");
    size_t old = path_key(c, "name");
    st = want(c, name, J_STR);
    if (st == BROCK_OK && !name_ok(name->s, name->len, "_-"))
        st = sbad(c, name->line, name->col, "a tool name is 1-64 characters of [a-zA-Z0-9_-]");
    path_pop(c, old);
    if (st != BROCK_OK)
        return st;
    b->name = xmemdup(name->s, name->len);
    if (id) {
        old = path_key(c, "id");
        st = want(c, id, J_STR);
        if (st == BROCK_OK && !name_ok(id->s, id->len, "_.:-"))
            st = sbad(c, id->line, id->col, "a tool_use id is 1-64 characters of [a-zA-Z0-9_.:-]");
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
        b->id = xmemdup(id->s, id->len);
    }
    if (input) {
        old = path_key(c, "input");
        st = want(c, input, J_OBJ);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
        struct buf out = BUF_INIT(SCENARIO_MAX_BYTES);
        jv_dump(&out, input);
        b->input = buf_take(&out);
    } else {
        b->input = xstrdup("{}");
    }
    return BROCK_OK;
}

static enum brock_status parse_content(struct sctx *c, const struct jv *v, struct scenario_response *r)
{
    enum brock_status st = want(c, v, J_ARR);
    if (st != BROCK_OK)
        return st;
    if (v->n > SCENARIO_MAX_BLOCKS)
        return sbad(c, v->line, v->col, "more than %d content blocks", SCENARIO_MAX_BLOCKS);
    for (size_t i = 0; i < v->n && st == BROCK_OK; i++) {
        const struct jv *b = &v->a[i];
        size_t old = path_idx(c, i);
        st = want(c, b, J_OBJ);
        const struct jv *t = st == BROCK_OK ? get(b, "type") : NULL;
        if (st == BROCK_OK && (!t || t->t != J_STR))
            st = sbad(c, b->line, b->col, "a content block needs a \"type\": text, thinking or tool_use");
        if (st == BROCK_OK && !strcmp(t->s, "text")) {
            static const char *const k[] = {"type", "text", NULL};
            struct scenario_block *blk = add_block(r, SCENARIO_TEXT);
            if ((st = check_keys(c, b, k)) == BROCK_OK && (st = opt_str(c, b, "text", &blk->text)) == BROCK_OK &&
                !blk->text)
                st = sbad(c, b->line, b->col, "a text block needs \"text\"");
        } else if (st == BROCK_OK && !strcmp(t->s, "thinking")) {
            static const char *const k[] = {"type", "thinking", "signature", NULL};
            struct scenario_block *blk = add_block(r, SCENARIO_THINKING);
            if ((st = check_keys(c, b, k)) == BROCK_OK && (st = opt_str(c, b, "thinking", &blk->text)) == BROCK_OK &&
                (st = opt_str(c, b, "signature", &blk->signature)) == BROCK_OK && !blk->text)
                st = sbad(c, b->line, b->col, "a thinking block needs \"thinking\"");
        } else if (st == BROCK_OK && !strcmp(t->s, "tool_use")) {
            st = parse_tool_use(c, b, add_block(r, SCENARIO_TOOL_USE), true);
        } else if (st == BROCK_OK) {
            size_t o2 = path_key(c, "type");
            st = sbad(c, t->line, t->col, "unknown block type \"%.40s\" (expected text, thinking or tool_use)", t->s);
            path_pop(c, o2);
        }
        path_pop(c, old);
    }
    return st;
}

static const char *const stop_reasons[] = {"end_turn",
                                           "tool_use",
                                           "max_tokens",
                                           "stop_sequence",
                                           "pause_turn",
                                           "refusal",
                                           "model_context_window_exceeded",
                                           "guardrail_intervened",
                                           "content_filtered",
                                           NULL};

static enum brock_status parse_response(struct sctx *c, const struct jv *v, struct scenario_response *r)
{
    static const char *const keys[] = {"text",  "thinking",    "signature", "tool_use",           "content",
                                       "stop_reason", "stop_sequence", "usage", "first_byte_delay_ms",
                                       "event_delay_ms", "fault", NULL};
    memset(r, 0, sizeof *r);
    r->line = v->line;
    r->col = v->col;
    r->usage = (struct scenario_usage){-1, -1, -1, -1};
    enum brock_status st = want(c, v, J_OBJ);
    if (st == BROCK_OK)
        st = check_keys(c, v, keys);
    if (st != BROCK_OK)
        return st;

    const struct jv *content = get(v, "content");
    const struct jv *thinking = get(v, "thinking"), *text = get(v, "text"), *tools = get(v, "tool_use"),
                    *sig = get(v, "signature");
    if (content && (thinking || text || tools || sig))
        return sbad(c, content->line, content->col,
                    "\"content\" lists the blocks itself: use it without \"text\", \"thinking\", \"signature\" "
                    "and \"tool_use\"");
    if (sig && !thinking)
        return sbad(c, sig->line, sig->col, "\"signature\" belongs to \"thinking\", which is missing");
    if (content) {
        size_t old = path_key(c, "content");
        st = parse_content(c, content, r);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    if (thinking) {
        struct scenario_block *b = add_block(r, SCENARIO_THINKING);
        if ((st = opt_str(c, v, "thinking", &b->text)) != BROCK_OK ||
            (st = opt_str(c, v, "signature", &b->signature)) != BROCK_OK)
            return st;
    }
    if (text) {
        struct scenario_block *b = add_block(r, SCENARIO_TEXT);
        if ((st = opt_str(c, v, "text", &b->text)) != BROCK_OK)
            return st;
    }
    if (tools) {
        size_t old = path_key(c, "tool_use");
        size_t n = tools->t == J_ARR ? tools->n : 1;
        if (tools->t != J_ARR && tools->t != J_OBJ)
            st = sbad(c, tools->line, tools->col, "expected a tool_use object or an array of them");
        else if (n + r->n_blocks > SCENARIO_MAX_BLOCKS)
            st = sbad(c, tools->line, tools->col, "more than %d content blocks", SCENARIO_MAX_BLOCKS);
        for (size_t i = 0; st == BROCK_OK && i < n; i++) {
            size_t o2 = tools->t == J_ARR ? path_idx(c, i) : c->plen;
            st = parse_tool_use(c, tools->t == J_ARR ? &tools->a[i] : tools, add_block(r, SCENARIO_TOOL_USE), false);
            path_pop(c, o2);
        }
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }

    int reason = -1;
    if ((st = opt_enum(c, v, "stop_reason", stop_reasons, &reason)) != BROCK_OK ||
        (st = opt_str(c, v, "stop_sequence", &r->stop_sequence)) != BROCK_OK ||
        (st = opt_int(c, v, "first_byte_delay_ms", 0, SCENARIO_MAX_DELAY_MS, &r->first_byte_delay_ms)) != BROCK_OK ||
        (st = opt_int(c, v, "event_delay_ms", 0, SCENARIO_MAX_DELAY_MS, &r->event_delay_ms)) != BROCK_OK)
        return st;
    if (reason >= 0)
        r->stop_reason = xstrdup(stop_reasons[reason]);

    const struct jv *usage = get(v, "usage");
    if (usage) {
        static const char *const uk[] = {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                         "cache_creation_input_tokens", NULL};
        size_t old = path_key(c, "usage");
        if ((st = want(c, usage, J_OBJ)) == BROCK_OK && (st = check_keys(c, usage, uk)) == BROCK_OK &&
            (st = opt_int(c, usage, uk[0], 0, SCENARIO_MAX_COUNT, &r->usage.input)) == BROCK_OK &&
            (st = opt_int(c, usage, uk[1], 0, SCENARIO_MAX_COUNT, &r->usage.output)) == BROCK_OK &&
            (st = opt_int(c, usage, uk[2], 0, SCENARIO_MAX_COUNT, &r->usage.cache_read)) == BROCK_OK)
            st = opt_int(c, usage, uk[3], 0, SCENARIO_MAX_COUNT, &r->usage.cache_write);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }

    const struct jv *fault = get(v, "fault");
    if (fault) {
        size_t old = path_key(c, "fault");
        st = parse_fault_list(c, fault, &r->faults);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    if (!r->n_blocks && !content) {
        bool ends = false;
        for (size_t i = 0; i < r->faults.n; i++)
            ends |= r->faults.v[i].kind == SCENARIO_FAULT_ERROR || r->faults.v[i].kind == SCENARIO_FAULT_DROP;
        if (!ends)
            return sbad(
                c, v->line, v->col,
                "a response needs \"text\", \"thinking\", \"tool_use\", \"content\" or an error/drop \"fault\"");
    }
    return BROCK_OK;
}

/* ------------------------------------------------------------------ */
/* rules and the scenario                                               */

/* Scenario regexes are PCRE2, matched with limits (steps, backtracking depth,
 * heap), so a pattern like (a+)+$ cannot stall the emulator: a match that hits
 * a limit counts as no match and is logged. */
#define SCENARIO_REGEX_MATCH_LIMIT 200000
#define SCENARIO_REGEX_DEPTH_LIMIT 2000
#define SCENARIO_REGEX_HEAP_KIB 4096

static void rule_cleanup(struct scenario_rule *r)
{
    free(r->name);
    free(r->pattern);
    if (r->kind == SCENARIO_MATCH_REGEX && r->pattern)
        pcre2_code_free(r->re);
    free(r->model);
    for (size_t i = 0; i < r->n_responses; i++)
        response_cleanup(&r->responses[i]);
    free(r->responses);
    memset(r, 0, sizeof *r);
}

static enum brock_status parse_match(struct sctx *c, const struct jv *m, struct scenario_rule *r)
{
    static const char *const keys[] = {"any", "contains", "equals", "regex", "in", "ignore_case", NULL};
    enum brock_status st = want(c, m, J_OBJ);
    if (st == BROCK_OK)
        st = check_keys(c, m, keys);
    if (st != BROCK_OK)
        return st;
    int kinds = 0;
    const struct jv *any = get(m, "any");
    if (any) {
        size_t old = path_key(c, "any");
        st = want(c, any, J_BOOL);
        if (st == BROCK_OK && !any->b)
            st = sbad(c, any->line, any->col, "\"any\" can only be true");
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
        kinds++;
    }
    static const char *const pkeys[] = {"contains", "equals", "regex"};
    static const enum scenario_match_kind pk[] = {SCENARIO_MATCH_CONTAINS, SCENARIO_MATCH_EQUALS, SCENARIO_MATCH_REGEX};
    const struct jv *pat = NULL;
    for (size_t i = 0; i < 3; i++) {
        const struct jv *p = get(m, pkeys[i]);
        if (!p)
            continue;
        kinds++;
        pat = p;
        r->kind = pk[i];
        size_t old = path_key(c, pkeys[i]);
        st = want(c, p, J_STR);
        if (st == BROCK_OK && p->len > SCENARIO_MAX_PATTERN)
            st = sbad(c, p->line, p->col, "a pattern is at most %d bytes", SCENARIO_MAX_PATTERN);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    if (kinds != 1)
        return sbad(c, m->line, m->col, "a match needs exactly one of \"any\", \"contains\", \"equals\", \"regex\"");
    int in = 0;
    static const char *const ins[] = {"all", "text", "tool_result", NULL};
    if ((st = opt_enum(c, m, "in", ins, &in)) != BROCK_OK ||
        (st = opt_bool(c, m, "ignore_case", &r->ignore_case)) != BROCK_OK)
        return st;
    r->in = (enum scenario_match_in)in;
    if (!pat)
        return BROCK_OK;
    if (r->kind == SCENARIO_MATCH_REGEX) {
        size_t old = path_key(c, "regex");
        int rc;
        PCRE2_SIZE at;
        r->re = pcre2_compile((PCRE2_SPTR)pat->s, pat->len, r->ignore_case ? PCRE2_CASELESS : 0, &rc, &at, NULL);
        if (!r->re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            st = sbad(c, pat->line, pat->col, "bad regular expression at offset %zu: %s", (size_t)at, (char *)msg);
        }
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    r->pattern = xmemdup(pat->s, pat->len);
    return BROCK_OK;
}

static enum brock_status parse_rule(struct sctx *c, const struct jv *v, struct scenario_rule *r)
{
    static const char *const keys[] = {"name", "description", "match", "model", "operations",
                                       "response", "responses", "then", NULL};
    memset(r, 0, sizeof *r);
    r->line = v->line;
    r->col = v->col;
    enum brock_status st = want(c, v, J_OBJ);
    if (st == BROCK_OK)
        st = check_keys(c, v, keys);
    if (st != BROCK_OK)
        return st;
    char *desc = NULL;
    st = opt_str(c, v, "description", &desc);
    free(desc);
    if (st != BROCK_OK || (st = opt_str(c, v, "name", &r->name)) != BROCK_OK ||
        (st = opt_str(c, v, "model", &r->model)) != BROCK_OK ||
        (st = opt_ops(c, v, SCENARIO_OPS_MODEL, &r->ops)) != BROCK_OK)
        return st;
    const struct jv *m = get(v, "match");
    if (m) {
        size_t old = path_key(c, "match");
        st = parse_match(c, m, r);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    int then = 0;
    static const char *const thens[] = {"repeat_last", "cycle", "next_rule", NULL};
    if ((st = opt_enum(c, v, "then", thens, &then)) != BROCK_OK)
        return st;
    r->then = (enum scenario_then)then;

    const struct jv *one = get(v, "response"), *many = get(v, "responses");
    if ((one != NULL) == (many != NULL))
        return sbad(c, v->line, v->col, "a rule needs exactly one of \"response\" and \"responses\"");
    if (one) {
        r->responses = xcalloc(1, sizeof *r->responses);
        size_t old = path_key(c, "response");
        st = parse_response(c, one, &r->responses[0]);
        r->n_responses = 1;
        path_pop(c, old);
        return st;
    }
    size_t old = path_key(c, "responses");
    st = want(c, many, J_ARR);
    if (st == BROCK_OK && (!many->n || many->n > SCENARIO_MAX_RESPONSES))
        st = sbad(c, many->line, many->col, "expected 1 to %d responses", SCENARIO_MAX_RESPONSES);
    if (st == BROCK_OK)
        r->responses = xcalloc(many->n, sizeof *r->responses);
    for (size_t i = 0; st == BROCK_OK && i < many->n; i++) {
        size_t o2 = path_idx(c, i);
        st = parse_response(c, &many->a[i], &r->responses[i]);
        r->n_responses = i + 1;
        path_pop(c, o2);
    }
    path_pop(c, old);
    return st;
}

void scenario_free(struct scenario *s)
{
    if (!s)
        return;
    free(s->what);
    free(s->description);
    for (size_t i = 0; i < s->n_rules; i++)
        rule_cleanup(&s->rules[i]);
    free(s->rules);
    if (s->fallback) {
        response_cleanup(s->fallback);
        free(s->fallback);
    }
    for (size_t i = 0; i < s->n_deny_models; i++)
        free(s->deny_models[i]);
    free(s->deny_models);
    scenario_faults_free(&s->faults);
    memset(s, 0, sizeof *s);
}

static enum brock_status parse_scenario(struct sctx *c, const struct jv *root, struct scenario *s)
{
    static const char *const keys[] = {"description", "rules", "default", "deny_models", "faults", NULL};
    enum brock_status st = want(c, root, J_OBJ);
    if (st == BROCK_OK)
        st = check_keys(c, root, keys);
    if (st != BROCK_OK || (st = opt_str(c, root, "description", &s->description)) != BROCK_OK)
        return st;

    const struct jv *rules = get(root, "rules");
    if (rules) {
        size_t old = path_key(c, "rules");
        st = want(c, rules, J_ARR);
        if (st == BROCK_OK && rules->n > SCENARIO_MAX_RULES)
            st = sbad(c, rules->line, rules->col, "more than %d rules", SCENARIO_MAX_RULES);
        if (st == BROCK_OK && rules->n)
            s->rules = xcalloc(rules->n, sizeof *s->rules);
        for (size_t i = 0; st == BROCK_OK && i < rules->n; i++) {
            size_t o2 = path_idx(c, i);
            st = parse_rule(c, &rules->a[i], &s->rules[i]);
            s->n_rules = i + 1;
            path_pop(c, o2);
        }
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    const struct jv *def = get(root, "default");
    if (def) {
        s->fallback = xcalloc(1, sizeof *s->fallback);
        size_t old = path_key(c, "default");
        st = parse_response(c, def, s->fallback);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    const struct jv *deny = get(root, "deny_models");
    if (deny) {
        size_t old = path_key(c, "deny_models");
        st = want(c, deny, J_ARR);
        if (st == BROCK_OK && deny->n > SCENARIO_MAX_RULES)
            st = sbad(c, deny->line, deny->col, "more than %d models", SCENARIO_MAX_RULES);
        if (st == BROCK_OK && deny->n)
            s->deny_models = xcalloc(deny->n, sizeof *s->deny_models);
        for (size_t i = 0; st == BROCK_OK && i < deny->n; i++) {
            size_t o2 = path_idx(c, i);
            st = want(c, &deny->a[i], J_STR);
            if (st == BROCK_OK && !deny->a[i].len)
                st = sbad(c, deny->a[i].line, deny->a[i].col, "empty model id");
            if (st == BROCK_OK)
                s->deny_models[s->n_deny_models++] = xmemdup(deny->a[i].s, deny->a[i].len);
            path_pop(c, o2);
        }
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    const struct jv *faults = get(root, "faults");
    if (faults) {
        size_t old = path_key(c, "faults");
        st = parse_fault_list(c, faults, &s->faults);
        path_pop(c, old);
    }
    return st;
}

enum brock_status scenario_parse(const char *text, size_t n, const char *what, struct scenario *out,
                                 struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    struct jv root;
    enum brock_status st = read_doc(text, n, what, false, &root, e);
    if (st != BROCK_OK)
        return st;
    struct sctx c = {.what = what, .e = e};
    st = parse_scenario(&c, &root, out);
    jv_free(&root, false);
    if (st != BROCK_OK) {
        scenario_free(out);
        return st;
    }
    out->what = xstrdup(what);
    return BROCK_OK;
}

enum brock_status scenario_load(const char *path, struct scenario *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    struct buf b = BUF_INIT(SCENARIO_MAX_BYTES);
    enum brock_status st = fs_read_file(path, SCENARIO_MAX_BYTES, &b, e);
    if (st == BROCK_OK)
        st = scenario_parse(buf_cstr(&b), b.len, path, out, e);
    else
        err_prefix(e, "scenario");
    buf_free(&b);
    return st;
}

void scenario_reset(struct scenario *s)
{
    for (size_t i = 0; i < s->n_rules; i++) {
        s->rules[i].next = 0;
        s->rules[i].hits = 0;
    }
}

/* ------------------------------------------------------------------ */
/* matching                                                             */

static bool find_icase(const char *h, size_t hn, const char *nd, size_t nn)
{
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t j = 0;
        while (j < nn && tolower((unsigned char)h[i + j]) == tolower((unsigned char)nd[j]))
            j++;
        if (j == nn)
            return true;
    }
    return false;
}

static bool match_text(const struct scenario_rule *r, const char *s, size_t n)
{
    size_t pl = r->pattern ? strlen(r->pattern) : 0;
    switch (r->kind) {
    case SCENARIO_MATCH_ANY:
        return true;
    case SCENARIO_MATCH_CONTAINS:
        return r->ignore_case ? find_icase(s, n, r->pattern, pl) : memmem(s, n, r->pattern, pl) != NULL || !pl;
    case SCENARIO_MATCH_EQUALS:
        if (n != pl)
            return false;
        return r->ignore_case ? find_icase(s, n, r->pattern, pl) : !memcmp(s, r->pattern, n);
    case SCENARIO_MATCH_REGEX: {
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        if (!mc || !md) {
            pcre2_match_context_free(mc);
            pcre2_match_data_free(md);
            return false;
        }
        pcre2_set_match_limit(mc, SCENARIO_REGEX_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, SCENARIO_REGEX_DEPTH_LIMIT);
        pcre2_set_heap_limit(mc, SCENARIO_REGEX_HEAP_KIB);
        int rc = pcre2_match(r->re, (PCRE2_SPTR)(s ? s : ""), s ? n : 0, 0, 0, md, mc);
        pcre2_match_data_free(md);
        pcre2_match_context_free(mc);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
            log_info("scenario: rule %s: regex gave up (PCRE2 error %d); counted as no match",
                     r->name ? r->name : "?", rc);
        return rc >= 0;
    }
    }
    return false;
}

static bool same_model(const char *want, const char *model_id, const char *base_id)
{
    return (model_id && !strcmp(want, model_id)) || (base_id && !strcmp(want, base_id));
}

static bool rule_matches(const struct scenario_rule *r, const struct scenario_input *in)
{
    if (r->ops && !(r->ops & in->op))
        return false;
    if (r->model && !same_model(r->model, in->model_id, in->base_id))
        return false;
    const char *t = in->text ? in->text : "";
    const char *tr = in->tool_results ? in->tool_results : "";
    switch (r->in) {
    case SCENARIO_IN_TEXT:
        return in->has_text && match_text(r, t, in->text_len);
    case SCENARIO_IN_TOOL_RESULT:
        return in->has_tool_results && match_text(r, tr, in->tool_results_len);
    case SCENARIO_IN_ALL:
        break;
    }
    if (r->kind == SCENARIO_MATCH_ANY)
        return true;
    return (in->has_text && match_text(r, t, in->text_len)) ||
           (in->has_tool_results && match_text(r, tr, in->tool_results_len));
}

const struct scenario_response *scenario_match(struct scenario *s, const struct scenario_input *in,
                                               const struct scenario_rule **rule, size_t *step)
{
    if (rule)
        *rule = NULL;
    if (step)
        *step = 0;
    for (size_t i = 0; i < s->n_rules; i++) {
        struct scenario_rule *r = &s->rules[i];
        if (r->then == SCENARIO_THEN_NEXT_RULE && r->next >= r->n_responses)
            continue;
        if (!rule_matches(r, in))
            continue;
        size_t idx = r->next;
        if (idx >= r->n_responses)
            idx = r->then == SCENARIO_THEN_CYCLE ? 0 : r->n_responses - 1;
        r->next = idx + 1;
        r->hits++;
        if (rule)
            *rule = r;
        if (step)
            *step = idx;
        return &r->responses[idx];
    }
    return s->fallback;
}

bool scenario_denies(const struct scenario *s, const char *model_id, const char *base_id)
{
    for (size_t i = 0; i < s->n_deny_models; i++)
        if (same_model(s->deny_models[i], model_id, base_id))
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* keys files                                                           */

static void key_cleanup(struct scenario_key *k)
{
    free(k->access_key_id);
    xfree_secret(k->secret_access_key);
    xfree_secret(k->session_token);
    xfree_secret(k->api_key);
    free(k->arn);
    memset(k, 0, sizeof *k);
}

void scenario_keys_free(struct scenario_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        key_cleanup(&k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
            return false;
    return n > 0;
}

static enum brock_status parse_key(struct sctx *c, const struct jv *v, struct scenario_key *k)
{
    static const char *const keys[] = {"AccessKeyId", "SecretAccessKey", "SessionToken", "ApiKey",
                                       "Expiration",  "Arn",             "Version",      NULL};
    enum brock_status st = want(c, v, J_OBJ);
    if (st == BROCK_OK)
        st = check_keys(c, v, keys);
    if (st != BROCK_OK)
        return st;
    static const struct {
        const char *key;
        size_t max;
    } fields[] = {{"AccessKeyId", 128}, {"SecretAccessKey", 512}, {"SessionToken", 16384}, {"ApiKey", 65536},
                  {"Arn", 2048}};
    char **dst[] = {&k->access_key_id, &k->secret_access_key, &k->session_token, &k->api_key, &k->arn};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(fields); i++) {
        const struct jv *f = get(v, fields[i].key);
        if (!f)
            continue;
        size_t old = path_key(c, fields[i].key);
        st = want(c, f, J_STR);
        if (st == BROCK_OK && (!printable(f->s, f->len) || f->len > fields[i].max))
            st = sbad(c, f->line, f->col, "expected 1 to %zu printable characters without spaces", fields[i].max);
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
        *dst[i] = xmemdup(f->s, f->len);
    }
    const struct jv *ver = get(v, "Version");
    if (ver && (ver->t != J_NUM || !ver->is_int || ver->i != 1)) {
        size_t old = path_key(c, "Version");
        st = sbad(c, ver->line, ver->col, "expected 1");
        path_pop(c, old);
        return st;
    }
    const struct jv *exp = get(v, "Expiration");
    if (exp) {
        size_t old = path_key(c, "Expiration");
        st = want(c, exp, J_STR);
        if (st == BROCK_OK && !time_parse_iso8601(exp->s, &k->expires_ms))
            st = sbad(c, exp->line, exp->col, "expected an ISO 8601 time such as 2030-01-01T00:00:00Z");
        path_pop(c, old);
        if (st != BROCK_OK)
            return st;
    }
    if (k->arn && strncmp(k->arn, "arn:", 4) != 0) {
        size_t old = path_key(c, "Arn");
        st = sbad(c, get(v, "Arn")->line, get(v, "Arn")->col, "expected an ARN (arn:aws:iam::123456789012:user/name)");
        path_pop(c, old);
        return st;
    }
    if (k->api_key) {
        if (k->access_key_id || k->secret_access_key || k->session_token)
            return sbad(c, v->line, v->col, "an entry is either an ApiKey or an AccessKeyId with its SecretAccessKey");
        return BROCK_OK;
    }
    if (!k->access_key_id || !k->secret_access_key)
        return sbad(c, v->line, v->col, "an entry needs AccessKeyId and SecretAccessKey (or ApiKey)");
    for (const char *p = k->access_key_id; *p; p++)
        if (!isalnum((unsigned char)*p)) {
            size_t old = path_key(c, "AccessKeyId");
            st = sbad(c, get(v, "AccessKeyId")->line, get(v, "AccessKeyId")->col,
                      "an access key id is letters and digits");
            path_pop(c, old);
            return st;
        }
    return BROCK_OK;
}

enum brock_status scenario_keys_parse(const char *text, size_t n, const char *what, struct scenario_keys *out,
                                      struct brock_err *e)
{
    struct jv root;
    enum brock_status st = read_doc(text, n, what, true, &root, e);
    if (st != BROCK_OK)
        return st;
    struct sctx c = {.what = what, .e = e, .secret = true};
    const struct jv *list = &root;
    if (root.t == J_OBJ) {
        static const char *const k[] = {"keys", NULL};
        st = check_keys(&c, &root, k);
        list = get(&root, "keys");
        if (st == BROCK_OK && !list)
            st = sbad(&c, root.line, root.col, "expected {\"keys\": [...]}");
        path_key(&c, "keys");
    }
    if (st == BROCK_OK)
        st = want(&c, list, J_ARR);
    if (st == BROCK_OK && out->n + list->n > SCENARIO_MAX_KEYS)
        st = sbad(&c, list->line, list->col, "more than %d keys", SCENARIO_MAX_KEYS);
    size_t first = out->n;
    if (st == BROCK_OK && list->n)
        out->v = xrealloc(out->v, (out->n + list->n) * sizeof *out->v);
    for (size_t i = 0; st == BROCK_OK && i < list->n; i++) {
        size_t old = path_idx(&c, i);
        struct scenario_key *k = &out->v[out->n];
        memset(k, 0, sizeof *k);
        st = parse_key(&c, &list->a[i], k);
        if (st == BROCK_OK) {
            for (size_t j = 0; j < out->n && st == BROCK_OK; j++) {
                const struct scenario_key *o = &out->v[j];
                if ((k->access_key_id && o->access_key_id && !strcmp(k->access_key_id, o->access_key_id)) ||
                    (k->api_key && o->api_key && !strcmp(k->api_key, o->api_key)))
                    st = sbad(&c, list->a[i].line, list->a[i].col, "the same key as an earlier entry");
            }
        }
        if (st != BROCK_OK)
            key_cleanup(k);
        else
            out->n++;
        path_pop(&c, old);
    }
    if (st != BROCK_OK) {
        while (out->n > first)
            key_cleanup(&out->v[--out->n]);
    }
    jv_free(&root, true);
    return st;
}

enum brock_status scenario_keys_load(const char *path, struct scenario_keys *out, struct brock_err *e)
{
    struct buf b = BUF_INIT(SCENARIO_KEYS_MAX_BYTES);
    enum brock_status st = fs_read_file(path, SCENARIO_KEYS_MAX_BYTES, &b, e);
    if (st == BROCK_OK)
        st = scenario_keys_parse(buf_cstr(&b), b.len, path, out, e);
    else
        err_prefix(e, "keys file");
    buf_free_secure(&b);
    return st;
}
