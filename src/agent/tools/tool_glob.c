/* tool_glob.c - Glob {pattern, path?}: files by name pattern, newest first.
 *
 * The pattern is brace-expanded; the leading literal directories of each
 * alternative (the "src/lib/" of "src/lib/x*.c") move into the walk root, so
 * a walk only visits what could match, and directories that no pattern can
 * reach are pruned. Patterns are anchored at the search directory ("*.c"
 * matches only there; a leading "**" segment matches at any depth) and match
 * hidden files too. .git and friends are skipped, .gitignore rules apply,
 * symbolic links are not listed. Results are absolute paths sorted by
 * modification time, newest first (ties by path), cut at glob_max_results. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../util/alloc.h"
#include "../../util/fs.h"
#include "tool_int.h"

#define GLOB_COLLECT_MAX 100000 /* matches gathered before sorting */

const char tool_glob_desc[] =
    "Finds files by name with a glob pattern, in a directory tree of any size.\n"
    "\n"
    "Usage:\n"
    "- Patterns: `*` (any characters but '/'), `**` (any number of directories), `?`, "
    "`[abc]`, `{a,b}`. Examples: \"**/*.js\", \"src/**/*.{ts,tsx}\", \"*.md\" (the top "
    "directory only).\n"
    "- path is the absolute directory to search; it defaults to the working directory. Omit "
    "it rather than passing \"null\" or \"undefined\".\n"
    "- Returns absolute paths of matching files, most recently modified first, at most 100; "
    "a note says when there were more.\n"
    "- Files ignored by .gitignore and version-control directories (.git) are skipped.\n"
    "- To search file contents, use Grep. For open-ended searches needing several rounds, "
    "run several Glob and Grep calls in one response.";

const char tool_glob_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"pattern\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
    "\"description\":\"The glob pattern to match files against\"},"
    "\"path\":{\"type\":\"string\",\"maxLength\":4096,\"description\":\"The directory to "
    "search in (absolute). Defaults to the working directory; omit it for the default\"}},"
    "\"required\":[\"pattern\"],\"additionalProperties\":false}";

/* One walk: a root and the patterns relative to it. */
struct group {
    char *root;
    char **pats;
    size_t npats;
    bool deep; /* some pattern has ** */
    int depth; /* else: the most segments of any pattern */
};

struct hit {
    char *path;
    struct timespec mtime;
};

struct globber {
    struct group *g;
    struct hit *hits;
    size_t n, cap;
    bool full;
};

/* Split an alternative into a root (path + its literal directories) and the
 * rest of the pattern. */
static void split_alt(const char *base, const char *alt, char **root, char **rest)
{
    const char *p = alt;
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    const char *lit_end = p; /* end of the literal directory prefix */
    for (const char *q = p;;) {
        const char *slash = strchr(q, '/');
        if (!slash)
            break;
        if (tool_has_glob_meta(q, (size_t)(slash - q)))
            break;
        lit_end = slash + 1;
        q = slash + 1;
    }
    char *lit = xmemdup(p, (size_t)(lit_end - p));
    *root = tool_path_resolve(base, lit[0] ? lit : ".");
    free(lit);
    *rest = xstrdup(lit_end);
}

static int count_segments(const char *p)
{
    int n = 0;
    for (const char *q = p; *q;) {
        while (*q == '/')
            q++;
        if (!*q)
            break;
        n++;
        while (*q && *q != '/')
            q++;
    }
    return n;
}

static enum tool_walk_verdict visit(void *ud, const char *abs, const char *rel, size_t rl,
                                    enum tool_walk_kind kind, int depth)
{
    (void)depth;
    struct globber *gb = ud;
    struct group *g = gb->g;
    if (kind == TOOL_WALK_DIR) {
        for (size_t i = 0; i < g->npats; i++)
            if (tool_wild_path(g->pats[i], strlen(g->pats[i]), rel, rl, true))
                return TOOL_WALK_CONTINUE;
        return TOOL_WALK_SKIP;
    }
    if (kind != TOOL_WALK_FILE)
        return TOOL_WALK_CONTINUE;
    for (size_t i = 0; i < g->npats; i++) {
        if (!tool_wild_path(g->pats[i], strlen(g->pats[i]), rel, rl, false))
            continue;
        if (gb->n == GLOB_COLLECT_MAX) {
            gb->full = true;
            return TOOL_WALK_STOP;
        }
        struct stat st;
        if (lstat(abs, &st) != 0)
            return TOOL_WALK_CONTINUE;
        if (gb->n == gb->cap) {
            gb->cap = gb->cap ? gb->cap * 2 : 64;
            gb->hits = xrealloc(gb->hits, gb->cap * sizeof *gb->hits);
        }
        gb->hits[gb->n++] = (struct hit){xstrdup(abs), st.st_mtim};
        break;
    }
    return TOOL_WALK_CONTINUE;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct hit *)a)->path, ((const struct hit *)b)->path);
}

static int cmp_mtime(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec > y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec > y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* The search base: `path` or the working directory, resolved. */
static char *search_base(const struct tool_ctx *ctx, const json_t *input)
{
    return tool_subject_dir_path(ctx, input);
}

char *tool_glob_subject(const struct tool_ctx *ctx, const json_t *input)
{
    char *base = search_base(ctx, input);
    const char *pat = tool_arg_str(input, "pattern", NULL);
    if (!pat)
        return base;
    /* the literal directory part of the pattern, when it is the only one */
    char **alts = NULL;
    size_t n = 0;
    char *subject = NULL;
    if (tool_brace_expand(pat, strlen(pat), &alts, &n, NULL) == BROCK_OK && n) {
        char *rest;
        split_alt(base, alts[0], &subject, &rest);
        free(rest);
        for (size_t i = 1; i < n && subject; i++) {
            char *r, *x;
            split_alt(base, alts[i], &r, &x);
            if (strcmp(r, subject) != 0) {
                free(subject);
                subject = NULL;
            }
            free(r);
            free(x);
        }
    }
    tool_strv_free(alts, n);
    if (subject) {
        free(base);
        return subject;
    }
    return base;
}

void tool_glob_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    (void)ctx;
    size_t n;
    const char *pat = tool_arg_str(input, "pattern", &n);
    buf_addstr(out, "Glob ");
    tool_add_short(out, pat ? pat : "?", pat ? n : 1, 80);
}

enum brock_status tool_glob_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    size_t patlen, plen = 0;
    const char *pat = tool_arg_str(input, "pattern", &patlen);
    const char *path = tool_arg_str(input, "path", &plen);
    if (!pat || !patlen || strlen(pat) != patlen)
        return tool_fail(out, "Glob: `pattern` must be a non-empty string without NUL bytes");
    if (path && plen && !tool_check_path(ctx, "Glob", "path", path, plen, out))
        return BROCK_OK;
    char *base = search_base(ctx, input);
    struct stat st;
    char **alts = NULL;
    size_t nalts = 0;
    struct group *groups = NULL;
    size_t ngroups = 0;
    struct globber gb = {0};
    struct brock_err e;
    bool truncated_walk = false;
    size_t visited = 0;
    if (stat(base, &st) != 0) {
        tool_fail(out, "Directory does not exist: %s", base);
        goto done;
    }
    if (!S_ISDIR(st.st_mode)) {
        tool_fail(out, "%s is not a directory; `path` must be the directory to search in.", base);
        goto done;
    }
    if (tool_brace_expand(pat, patlen, &alts, &nalts, &e) != BROCK_OK) {
        tool_fail(out, "Glob: %s", e.msg);
        goto done;
    }
    groups = xcalloc(nalts, sizeof *groups);
    for (size_t i = 0; i < nalts; i++) {
        char *root, *rest;
        split_alt(base, alts[i], &root, &rest);
        struct group *g = NULL;
        for (size_t k = 0; k < ngroups && !g; k++)
            if (!strcmp(groups[k].root, root))
                g = &groups[k];
        if (!g) {
            g = &groups[ngroups++];
            g->root = root;
            g->pats = xcalloc(nalts, sizeof *g->pats);
        } else {
            free(root);
        }
        if (strstr(rest, "**"))
            g->deep = true;
        int segs = count_segments(rest);
        if (segs > g->depth)
            g->depth = segs;
        g->pats[g->npats++] = rest;
    }
    for (size_t k = 0; k < ngroups && !gb.full; k++) {
        struct group *g = &groups[k];
        struct stat rs;
        if (stat(g->root, &rs) != 0 || !S_ISDIR(rs.st_mode))
            continue;
        gb.g = g;
        /* one budget of entries for all the walks */
        size_t budget = ctx->lim.walk_max_entries > visited ? ctx->lim.walk_max_entries - visited
                                                             : 0;
        struct tool_walk w = {
            .root = g->root,
            .gitignore = true,
            .max_depth = g->deep ? 0 : g->depth,
            .max_entries = budget,
            .cancel = ctx->cancel,
            .visit = visit,
            .ud = &gb,
        };
        if (tool_walk_run(&w, NULL) != BROCK_OK)
            continue;
        visited += w.visited;
        truncated_walk = truncated_walk || w.truncated;
        if (w.cancelled) {
            out->interrupted = true;
            tool_fail(out, "Glob was interrupted by the user.");
            goto done;
        }
    }
    /* one entry per path (alternatives may overlap), newest first */
    if (gb.n) {
        qsort(gb.hits, gb.n, sizeof *gb.hits, cmp_path);
        size_t u = 1;
        for (size_t i = 1; i < gb.n; i++) {
            if (strcmp(gb.hits[i].path, gb.hits[u - 1].path) == 0)
                free(gb.hits[i].path);
            else
                gb.hits[u++] = gb.hits[i];
        }
        gb.n = u;
        qsort(gb.hits, gb.n, sizeof *gb.hits, cmp_mtime);
    }
    if (!gb.n) {
        buf_addstr(&out->text, "No files found");
    } else {
        size_t show = gb.n < ctx->lim.glob_max_results ? gb.n : ctx->lim.glob_max_results;
        for (size_t i = 0; i < show; i++) {
            tool_utf8_add(&out->text, gb.hits[i].path, strlen(gb.hits[i].path));
            buf_addc(&out->text, '\n');
        }
        if (show < gb.n || gb.full)
            buf_addf(&out->text,
                     "(Results are truncated: showing the %zu most recently modified of %s%zu "
                     "matches. Use a more specific path or pattern.)\n",
                     show, gb.full ? "more than " : "", gb.n);
    }
    if (truncated_walk)
        buf_addf(&out->text, "(The search stopped after %zu directory entries; use a narrower "
                             "path.)\n", ctx->lim.walk_max_entries);
    tool_set_summary(out, "Glob %s (%zu file%s)", pat, gb.n, gb.n == 1 ? "" : "s");
done:
    for (size_t i = 0; i < gb.n; i++)
        free(gb.hits[i].path);
    free(gb.hits);
    for (size_t k = 0; k < ngroups; k++) {
        free(groups[k].root);
        tool_strv_free(groups[k].pats, groups[k].npats);
    }
    free(groups);
    tool_strv_free(alts, nalts);
    free(base);
    return BROCK_OK;
}
