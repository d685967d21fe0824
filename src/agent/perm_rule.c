/* perm_rule.c - rule syntax (Claude Code's) and matching: Bash patterns,
 * gitignore-style path patterns, MCP names, WebFetch domains. */
#include "perm_int.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/fs.h"

/* --- Tools ------------------------------------------------------------- */

static const struct {
    const char *name;
    enum perm_tool_class cls;
} tools[] = {
    {"Bash", PERM_TOOL_BASH},       {"Edit", PERM_TOOL_EDIT},
    {"Glob", PERM_TOOL_SEARCH},     {"Grep", PERM_TOOL_SEARCH},
    {"LS", PERM_TOOL_SEARCH},       {"MultiEdit", PERM_TOOL_EDIT},
    {"NotebookEdit", PERM_TOOL_EDIT}, {"Read", PERM_TOOL_READ},
    {"TodoWrite", PERM_TOOL_TODO},  {"WebFetch", PERM_TOOL_WEBFETCH},
    {"Write", PERM_TOOL_EDIT},
};
/* Other tool names Claude Code knows, for the "wrong case" check. */
static const char *const other_tools[] = {"WebSearch", "Task", "NotebookRead", "BashOutput", "KillShell"};

enum perm_tool_class perm_tool_class(const char *tool)
{
    if (!strncmp(tool, "mcp__", 5))
        return PERM_TOOL_MCP;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(tools); i++)
        if (!strcmp(tool, tools[i].name))
            return tools[i].cls;
    return PERM_TOOL_OTHER;
}

/* --- Glob matching ----------------------------------------------------- */

/* Match one pattern token at pat[*pi] against c; advances *pi on success. */
static bool token_match(const char *pat, size_t plen, size_t *pi, char c)
{
    size_t i = *pi;
    char pc = pat[i];
    if (pc == '?') {
        if (c == '/')
            return false;
        *pi = i + 1;
        return true;
    }
    if (pc == '[') {
        size_t j = i + 1;
        bool neg = false;
        if (j < plen && (pat[j] == '!' || pat[j] == '^')) {
            neg = true;
            j++;
        }
        bool hit = false, first = true;
        while (j < plen && (pat[j] != ']' || first)) {
            first = false;
            unsigned char lo = (unsigned char)pat[j];
            if (lo == '\\' && j + 1 < plen)
                lo = (unsigned char)pat[++j];
            unsigned char hi = lo;
            if (j + 2 < plen && pat[j + 1] == '-' && pat[j + 2] != ']') {
                hi = (unsigned char)pat[j + 2];
                if (hi == '\\' && j + 3 < plen) {
                    hi = (unsigned char)pat[j + 3];
                    j++;
                }
                j += 2;
            }
            if ((unsigned char)c >= lo && (unsigned char)c <= hi)
                hit = true;
            j++;
        }
        if (j >= plen) {
            /* no closing ']': a literal '[' */
            if (c != '[')
                return false;
            *pi = i + 1;
            return true;
        }
        if (hit == neg || c == '/')
            return false;
        *pi = j + 1;
        return true;
    }
    if (pc == '\\' && i + 1 < plen) {
        if (pat[i + 1] != c)
            return false;
        *pi = i + 2;
        return true;
    }
    if (pc != c)
        return false;
    *pi = i + 1;
    return true;
}

bool perm_glob_segment(const char *pat, size_t plen, const char *s, size_t slen)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*')
                pi++;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < plen && token_match(pat, plen, &pi, s[si])) {
            si++;
            continue;
        }
        if (star_p != SIZE_MAX && s[star_s] != '/') {
            pi = star_p;
            si = ++star_s;
            continue;
        }
        return false;
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

static bool glob_text_n(const char *pat, size_t plen, const char *s)
{
    size_t slen = strlen(s);
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            char pc = pat[pi];
            size_t adv = 1;
            if (pc == '\\' && pi + 1 < plen) {
                pc = pat[pi + 1];
                adv = 2;
            }
            if (pc == s[si]) {
                pi += adv;
                si++;
                continue;
            }
        }
        if (star_p != SIZE_MAX) {
            pi = star_p;
            si = ++star_s;
            continue;
        }
        return false;
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

bool perm_glob_text(const char *pat, const char *s)
{
    return glob_text_n(pat, strlen(pat), s);
}

/* Segments: "**" matches zero or more path segments. */
struct seg {
    const char *p;
    size_t n;
};

static bool is_dstar(const char *p, size_t n)
{
    return n == 2 && p[0] == '*' && p[1] == '*';
}

static bool match_segs(char *const *pat, size_t np, const struct seg *str, size_t ns)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < ns) {
        if (pi < np && is_dstar(pat[pi], strlen(pat[pi]))) {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < np && perm_glob_segment(pat[pi], strlen(pat[pi]), str[si].p, str[si].n)) {
            pi++;
            si++;
            continue;
        }
        if (star_p != SIZE_MAX) {
            pi = star_p;
            si = ++star_s;
            continue;
        }
        return false;
    }
    while (pi < np && is_dstar(pat[pi], strlen(pat[pi])))
        pi++;
    return pi == np;
}

static bool all_stars(const char *p)
{
    if (!*p)
        return false;
    for (; *p; p++)
        if (*p != '*')
            return false;
    return true;
}

/* --- Rule parsing ------------------------------------------------------ */

static bool has_glob(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '*' || p[i] == '?' || p[i] == '[' || p[i] == '\\')
            return true;
    return false;
}

/* Collapse runs of blanks outside quotes to one space; trim. */
static char *collapse_blanks(const char *p, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    char q = 0;
    bool pend = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!q && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            pend = o > 0;
            continue;
        }
        if (pend) {
            out[o++] = ' ';
            pend = false;
        }
        out[o++] = c;
        if (c == '\\' && q != '\'' && i + 1 < n) {
            out[o++] = p[++i];
            continue;
        }
        if (!q && (c == '\'' || c == '"'))
            q = c;
        else if (q == c)
            q = 0;
    }
    out[o] = '\0';
    return out;
}

void perm_rule_free(struct perm_rule *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->tool);
    free(r->pat);
    free(r->base);
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    free(r->segs);
    free(r);
}

static enum brock_status bad(struct brock_err *e, const char *why)
{
    return err_set(e, BROCK_ERR_PARSE, "%s", why);
}

/* Bash(spec): `:*` only at the end; a lone trailing " *" is optional. */
static enum brock_status parse_bash(struct perm_rule *r, const char *spec, size_t n, struct brock_err *e)
{
    bool legacy = false;
    size_t stars = 0;
    for (size_t i = 0; i < n; i++) {
        if (spec[i] == '\\') {
            i++;
            continue;
        }
        if (spec[i] == '*')
            stars++;
        if (spec[i] == ':' && i + 1 < n && spec[i + 1] == '*') {
            if (i + 2 != n)
                return bad(e, "`:*` must be at the end of a Bash rule (use `*` for a wildcard inside)");
            legacy = true;
        }
    }
    if (legacy) {
        char *p = collapse_blanks(spec, n - 2);
        if (!p[0]) {
            free(p);
            return bad(e, "`:*` needs a command in front of it");
        }
        size_t l = strlen(p);
        r->pat = xmalloc(l + 3);
        memcpy(r->pat, p, l);
        memcpy(r->pat + l, " *", 3);
        free(p);
        r->optional_tail = true;
        return BROCK_OK;
    }
    r->pat = collapse_blanks(spec, n);
    size_t l = strlen(r->pat);
    if (l >= 2 && r->pat[l - 1] == '*' && r->pat[l - 2] == ' ' && stars == 1)
        r->optional_tail = true;
    return BROCK_OK;
}

/* Read/Edit(spec): Claude Code's prefixes, then gitignore rules. */
static enum brock_status parse_path(struct perm_rule *r, const char *spec, const struct perm_rule_ctx *ctx,
                                    bool resolve, struct brock_err *e)
{
    const char *base;
    const char *rest;
    bool anchored = true;
    if (spec[0] == '!')
        return bad(e, "negated patterns ('!') are not supported; use a deny or ask rule");
    if (spec[0] == '/' && spec[1] == '/') {
        base = "/";
        rest = spec + 2;
    } else if (spec[0] == '~' && (spec[1] == '/' || spec[1] == '\0')) {
        if (!ctx->home)
            return bad(e, "`~` needs a home directory, and none is known");
        base = ctx->home;
        rest = spec + 1;
    } else if (spec[0] == '~') {
        return bad(e, "`~user` paths are not supported; write the absolute path with `//`");
    } else if (spec[0] == '/') {
        base = ctx->anchor;
        rest = spec + 1;
    } else if (spec[0] == '.' && spec[1] == '/') {
        base = ctx->cwd;
        rest = spec + 2;
    } else {
        base = ctx->cwd;
        rest = spec;
        anchored = false;
    }
    while (*rest == '/')
        rest++;
    size_t rl = strlen(rest);
    while (rl > 0 && rest[rl - 1] == '/') {
        r->dir_only = true;
        rl--;
    }
    if (!anchored && memchr(rest, '/', rl))
        anchored = true; /* gitignore: a slash in the middle anchors */

    /* split into segments; literal leading ones go into the base */
    struct buf lit = BUF_INIT(PERM_PATH_MAX);
    buf_addstr(&lit, base);
    size_t i = 0;
    bool globbing = false;
    enum brock_status st = BROCK_OK;
    while (i < rl) {
        size_t j = i;
        while (j < rl && rest[j] != '/')
            j++;
        size_t sn = j - i;
        const char *sp = rest + i;
        i = j + 1;
        if (sn == 0 || (sn == 1 && sp[0] == '.'))
            continue;
        bool dots = sn == 2 && sp[0] == '.' && sp[1] == '.';
        if (!globbing && anchored && !has_glob(sp, sn)) {
            buf_addc(&lit, '/');
            buf_add(&lit, sp, sn);
            continue;
        }
        if (dots) {
            st = bad(e, "`..` after a wildcard is not supported in a path rule");
            goto out;
        }
        globbing = true;
        r->segs = xrealloc(r->segs, (r->nsegs + 1) * sizeof *r->segs);
        r->segs[r->nsegs++] = xmemdup(sp, sn);
    }
    if (buf_status(&lit) != BROCK_OK) {
        st = bad(e, "path rule longer than the path limit");
        goto out;
    }
    r->anywhere = !anchored;
    r->exact = anchored && r->nsegs == 0;
    if (resolve) {
        char res[PERM_PATH_MAX];
        bool is_dir;
        struct brock_err e2 = {0};
        if (perm_resolve_path("/", buf_cstr(&lit), res, &is_dir, &e2) != BROCK_OK) {
            st = err_set(e, BROCK_ERR_PARSE, "cannot resolve the path: %s", e2.msg);
            goto out;
        }
        r->base = xstrdup(res);
    } else {
        r->base = xstrdup(buf_cstr(&lit));
    }
out:
    buf_free(&lit);
    return st;
}

/* The blanks rules are trimmed of: the shell reader's blanks plus newline
 * (\v and \f are word characters to the shell, so they are kept). */
static bool rule_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool valid_tool_name(const char *p, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)p[0]) || p[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '-' || p[i] == '.'))
            return false;
    return true;
}

static enum brock_status rule_parse(const char *text, const struct perm_rule_ctx *ctx, bool resolve,
                                    struct perm_rule **out, struct brock_err *e)
{
    *out = NULL;
    size_t len = strnlen(text, PERM_RULE_MAX_BYTES + 1);
    if (len > PERM_RULE_MAX_BYTES)
        return err_set(e, BROCK_ERR_PARSE, "rule longer than %d bytes", PERM_RULE_MAX_BYTES);
    while (len && rule_blank(*text)) {
        text++;
        len--;
    }
    while (len && rule_blank(text[len - 1]))
        len--;
    if (!len)
        return bad(e, "empty rule");
    const char *open = memchr(text, '(', len);
    size_t nlen = open ? (size_t)(open - text) : len;
    const char *spec = NULL;
    size_t slen = 0;
    if (open) {
        if (text[len - 1] != ')')
            return bad(e, "malformed rule: write Tool or Tool(specifier), ending at the closing ')'");
        spec = open + 1;
        slen = (size_t)(text + len - 1 - spec);
        while (slen && rule_blank(*spec)) {
            spec++;
            slen--;
        }
        while (slen && rule_blank(spec[slen - 1]))
            slen--;
    } else if (memchr(text, ')', len)) {
        return bad(e, "malformed rule: ')' without '('");
    }
    if (memchr(text, '\0', len) || (spec && memchr(spec, '\0', slen)))
        return bad(e, "NUL byte in rule");
    /* mcp__server__* is the one name with a star */
    bool mcp_star = nlen > 8 && !strncmp(text, "mcp__", 5) && !memcmp(text + nlen - 3, "__*", 3);
    if (!valid_tool_name(text, mcp_star ? nlen - 1 : nlen))
        return bad(e, "invalid tool name: expected a name like Bash, Read, Edit or mcp__server__tool");

    struct perm_rule *r = xcalloc(1, sizeof *r);
    r->text = xmemdup(text, len);
    r->tool = xmemdup(text, nlen);
    enum perm_tool_class cls = perm_tool_class(r->tool);
    enum brock_status st = BROCK_OK;

    if (cls == PERM_TOOL_OTHER) {
        const char *known = NULL;
        for (size_t i = 0; i < BROCK_ARRAY_LEN(tools) && !known; i++)
            if (!strcasecmp(r->tool, tools[i].name))
                known = tools[i].name;
        for (size_t i = 0; i < BROCK_ARRAY_LEN(other_tools) && !known; i++)
            if (!strcasecmp(r->tool, other_tools[i]) && strcmp(r->tool, other_tools[i]))
                known = other_tools[i];
        if (known) {
            st = err_set(e, BROCK_ERR_PARSE, "unknown tool \"%s\": tool names are case-sensitive (did you mean %s?)",
                         r->tool, known);
            goto fail;
        }
    }

    bool whole = !spec || slen == 0 || (slen == 1 && spec[0] == '*' && cls != PERM_TOOL_READ &&
                                        cls != PERM_TOOL_EDIT && cls != PERM_TOOL_SEARCH);
    if (cls == PERM_TOOL_MCP) {
        if (spec) {
            st = bad(e, "MCP rules take no parentheses: write mcp__server or mcp__server__tool");
            goto fail;
        }
        r->kind = PERM_RULE_MCP;
        const char *srv = r->tool + 5;
        const char *sep = strstr(srv, "__");
        if (!*srv || sep == srv) {
            st = bad(e, "MCP rule without a server name");
            goto fail;
        }
        if (!sep || !strcmp(sep, "__*")) {
            size_t sl = sep ? (size_t)(sep - r->tool) : strlen(r->tool);
            r->pat = xmalloc(sl + 3);
            memcpy(r->pat, r->tool, sl);
            memcpy(r->pat + sl, "__", 3);
            r->optional_tail = true; /* a prefix */
        } else {
            if (!sep[2]) {
                st = bad(e, "MCP rule ends in `__`: write mcp__server or mcp__server__tool");
                goto fail;
            }
            r->pat = xstrdup(r->tool);
        }
        *out = r;
        return BROCK_OK;
    }
    if (whole) {
        r->kind = PERM_RULE_TOOL;
        *out = r;
        return BROCK_OK;
    }
    char *sp = xmemdup(spec, slen);
    switch (cls) {
    case PERM_TOOL_BASH:
        r->kind = PERM_RULE_BASH;
        st = parse_bash(r, sp, slen, e);
        break;
    case PERM_TOOL_READ:
        r->kind = PERM_RULE_READ;
        st = parse_path(r, sp, ctx, resolve, e);
        break;
    case PERM_TOOL_EDIT:
        if (strcmp(r->tool, "Edit")) {
            st = err_set(e, BROCK_ERR_PARSE,
                         "%s(path) rules are not used by file checks: write Edit(...) instead "
                         "(Edit rules cover Write, MultiEdit and NotebookEdit)",
                         r->tool);
            break;
        }
        r->kind = PERM_RULE_EDIT;
        st = parse_path(r, sp, ctx, resolve, e);
        break;
    case PERM_TOOL_SEARCH:
        st = err_set(e, BROCK_ERR_PARSE,
                     "%s(path) rules are not used by file checks: write Read(...) instead "
                     "(Read rules cover Glob, Grep and LS)",
                     r->tool);
        break;
    case PERM_TOOL_TODO:
        st = bad(e, "TodoWrite takes no specifier");
        break;
    case PERM_TOOL_WEBFETCH:
        if (!strncmp(sp, "domain:", 7)) {
            if (!sp[7]) {
                st = bad(e, "WebFetch(domain:...) needs a host name");
                break;
            }
            r->kind = PERM_RULE_DOMAIN;
            r->pat = xstrdup(sp + 7);
            for (char *c = r->pat; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            break;
        }
        r->kind = PERM_RULE_SPEC;
        r->pat = xstrdup(sp);
        break;
    default:
        r->kind = PERM_RULE_SPEC;
        r->pat = xstrdup(sp);
        break;
    }
    free(sp);
    if (st != BROCK_OK)
        goto fail;
    *out = r;
    return BROCK_OK;
fail:
    perm_rule_free(r);
    return st;
}

enum brock_status perm_rule_parse(const char *text, const struct perm_rule_ctx *ctx, struct perm_rule **out,
                                  struct brock_err *e)
{
    return rule_parse(text, ctx, true, out, e);
}

enum brock_status perm_rule_check(const char *rule, struct brock_err *e)
{
    static const struct perm_rule_ctx ctx = {"/", "/", "/"};
    struct perm_rule *r;
    struct brock_err e2 = {0};
    enum brock_status st = rule_parse(rule, &ctx, false, &r, &e2);
    if (st != BROCK_OK) {
        size_t l = strnlen(rule, 201);
        return err_set(e, st, "rule \"%.200s%s\": %s", rule, l > 200 ? "..." : "", e2.msg);
    }
    perm_rule_free(r);
    return BROCK_OK;
}

/* --- Matching ---------------------------------------------------------- */

bool perm_rule_covers_tool(const struct perm_rule *r, const char *tool, enum perm_tool_class cls)
{
    switch (r->kind) {
    case PERM_RULE_TOOL:
        if (!strcmp(r->tool, tool))
            return true;
        if (!strcmp(r->tool, "Edit"))
            return cls == PERM_TOOL_EDIT;
        if (!strcmp(r->tool, "Read"))
            return cls == PERM_TOOL_READ || cls == PERM_TOOL_SEARCH;
        return false;
    case PERM_RULE_READ:
        return cls == PERM_TOOL_READ || cls == PERM_TOOL_SEARCH;
    case PERM_RULE_EDIT:
        return cls == PERM_TOOL_EDIT;
    case PERM_RULE_MCP:
        if (r->optional_tail)
            return !strncmp(tool, r->pat, strlen(r->pat)) && tool[strlen(r->pat)] != '\0';
        return !strcmp(tool, r->pat);
    case PERM_RULE_BASH:
        return cls == PERM_TOOL_BASH;
    case PERM_RULE_DOMAIN:
    case PERM_RULE_SPEC:
        return !strcmp(r->tool, tool);
    }
    return false;
}

#define MAX_SEGS (PERM_PATH_MAX / 2)

bool perm_rule_match_path(const struct perm_rule *r, const char *path, bool is_dir, bool search)
{
    if (r->kind != PERM_RULE_READ && r->kind != PERM_RULE_EDIT)
        return false;
    if (!perm_path_under(path, r->base))
        return false;
    const char *rel = path + strlen(r->base);
    while (*rel == '/')
        rel++;
    if (r->nsegs == 0)
        return !r->dir_only || is_dir || *rel;
    struct seg comps[MAX_SEGS + 1];
    size_t nc = 0;
    for (const char *p = rel; *p;) {
        const char *q = strchrnul(p, '/');
        if (q > p) {
            if (nc >= MAX_SEGS)
                return false;
            comps[nc].p = p;
            comps[nc].n = (size_t)(q - p);
            nc++;
        }
        p = *q ? q + 1 : q;
    }
    for (size_t k = 1; k <= nc; k++) {
        bool dir = k < nc || is_dir;
        if (r->dir_only && !dir)
            continue;
        if (r->anywhere) {
            if (perm_glob_segment(r->segs[0], strlen(r->segs[0]), comps[k - 1].p, comps[k - 1].n))
                return true;
        } else if (match_segs(r->segs, r->nsegs, comps, k)) {
            return true;
        }
    }
    if (search && is_dir && all_stars(r->segs[r->nsegs - 1])) {
        /* the rule covers every entry of the searched directory */
        if (r->anywhere || match_segs(r->segs, r->nsegs - 1, comps, nc))
            return true;
    }
    return false;
}

bool perm_rule_match_command(const struct perm_rule *r, const char *cmd)
{
    if (r->kind != PERM_RULE_BASH)
        return false;
    size_t pl = strlen(r->pat);
    if (r->optional_tail && glob_text_n(r->pat, pl - 2, cmd))
        return true;
    return glob_text_n(r->pat, pl, cmd);
}

/* The host of a URL, lower-cased, into out. */
static bool url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    const char *h = p;
    size_t n;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        n = rb ? (size_t)(rb - h) + 1 : (size_t)(end - h);
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        n = colon ? (size_t)(colon - h) : (size_t)(end - h);
    }
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)h[i]);
    out[n] = '\0';
    return true;
}

bool perm_rule_match_subject(const struct perm_rule *r, const char *subject)
{
    if (!subject)
        return false;
    if (r->kind == PERM_RULE_SPEC)
        return perm_glob_text(r->pat, subject);
    if (r->kind != PERM_RULE_DOMAIN)
        return false;
    char host[256];
    if (!url_host(subject, host, sizeof host))
        return false;
    if (r->pat[0] == '*' && r->pat[1] == '.') {
        size_t hl = strlen(host), dl = strlen(r->pat + 1);
        return hl > dl && !strcmp(host + hl - dl, r->pat + 1);
    }
    return !strcmp(host, r->pat);
}

/* Used by perm.c for the --allowedTools flags. */
enum brock_status perm_split_rule_list(const char *text,
                                       enum brock_status (*fn)(void *ctx, const char *rule,
                                                               struct brock_err *e),
                                       void *ctx, struct brock_err *e)
{
    size_t n = strlen(text);
    size_t i = 0;
    while (i < n) {
        while (i < n && (text[i] == ',' || isspace((unsigned char)text[i])))
            i++;
        if (i >= n)
            break;
        size_t start = i;
        int depth = 0;
        while (i < n) {
            char c = text[i];
            if (c == '(')
                depth++;
            else if (c == ')') {
                if (depth == 0)
                    return err_set(e, BROCK_ERR_USAGE, "unbalanced ')' in tool list at offset %zu", i);
                depth--;
            } else if (depth == 0 && (c == ',' || isspace((unsigned char)c)))
                break;
            i++;
        }
        if (depth > 0)
            return err_set(e, BROCK_ERR_USAGE, "missing ')' in tool list (rule starting at offset %zu)", start);
        if (i - start > PERM_RULE_MAX_BYTES)
            return err_set(e, BROCK_ERR_USAGE, "rule at offset %zu longer than %d bytes", start,
                           PERM_RULE_MAX_BYTES);
        char *rule = xmemdup(text + start, i - start);
        enum brock_status st = fn(ctx, rule, e);
        free(rule);
        if (st != BROCK_OK)
            return st;
    }
    return BROCK_OK;
}
