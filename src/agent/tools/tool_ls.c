/* tool_ls.c - LS {path, ignore?}: a tree of a directory, breadth first.
 *
 * Entries are gathered level by level (iterative deepening over the walker:
 * pass d collects depth d), so when the ls_max_entries cap cuts the listing
 * the top of the tree is complete rather than one deep branch. Each pass
 * visits at most the cap's worth of shallower entries again, so the cost is
 * O(depth * cap). .gitignore rules and `ignore` globs apply; .git and friends
 * are skipped. The tree prints directories with a trailing '/', symbolic
 * links with their target. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/alloc.h"
#include "tool_int.h"

#define LS_MAX_DEPTH 64

const char tool_ls_desc[] =
    "Lists the files and directories under a path as a tree (directories end with '/').\n"
    "\n"
    "Usage:\n"
    "- path must be an absolute path to a directory.\n"
    "- ignore: glob patterns of names or relative paths to leave out, e.g. [\"*.log\", "
    "\"node_modules\"].\n"
    "- .gitignore rules apply and .git is skipped. At most 1000 entries are listed, the "
    "shallowest first; a note says when the listing was cut.\n"
    "- Prefer Glob and Grep when you know what you are looking for.";

const char tool_ls_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
    "\"description\":\"The absolute path of the directory to list\"},"
    "\"ignore\":{\"type\":\"array\",\"maxItems\":100,\"items\":{\"type\":\"string\","
    "\"maxLength\":4096},\"description\":\"Glob patterns to leave out\"}},"
    "\"required\":[\"path\"],\"additionalProperties\":false}";

struct lsent {
    char *rel;
    bool dir;
    char *link; /* symlink target or NULL */
};

struct lister {
    const json_t *ignore;
    int depth; /* the depth collected by this pass */
    size_t max;
    struct lsent *e;
    size_t n, cap;
    bool full, added;
};

static bool ignored(const struct lister *ls, const char *rel, size_t rl)
{
    const char *slash = memrchr(rel, '/', rl);
    const char *name = slash ? slash + 1 : rel;
    size_t nn = rl - (size_t)(name - rel);
    size_t i;
    const json_t *v;
    json_array_foreach(ls->ignore, i, v) {
        const char *p = json_string_value(v);
        size_t pl = json_string_length(v);
        if (!p || !pl)
            continue;
        if (memchr(p, '/', pl) ? tool_wild_path(p, pl, rel, rl, false)
                               : tool_wild_seg(p, pl, name, nn))
            return true;
    }
    return false;
}

static enum tool_walk_verdict visit(void *ud, const char *abs, const char *rel, size_t rl,
                                    enum tool_walk_kind kind, int depth)
{
    struct lister *ls = ud;
    if (ignored(ls, rel, rl))
        return TOOL_WALK_SKIP;
    if (depth < ls->depth)
        return TOOL_WALK_CONTINUE;
    if (ls->n == ls->max) {
        ls->full = true;
        return TOOL_WALK_STOP;
    }
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 64;
        ls->e = xrealloc(ls->e, ls->cap * sizeof *ls->e);
    }
    struct lsent *e = &ls->e[ls->n++];
    e->rel = xmemdup(rel, rl);
    e->dir = kind == TOOL_WALK_DIR;
    e->link = NULL;
    if (kind == TOOL_WALK_LINK) {
        char target[4096];
        ssize_t t = readlink(abs, target, sizeof target - 1);
        if (t > 0)
            e->link = xmemdup(target, (size_t)t);
    }
    ls->added = true;
    return TOOL_WALK_CONTINUE;
}

/* Path order where '/' sorts before every other byte, so a directory's
 * entries follow it directly. */
static int cmp_tree(const void *a, const void *b)
{
    const unsigned char *x = (const unsigned char *)((const struct lsent *)a)->rel;
    const unsigned char *y = (const unsigned char *)((const struct lsent *)b)->rel;
    while (*x && *x == *y) {
        x++;
        y++;
    }
    if (*x == *y)
        return 0;
    if (!*x || *x == '/')
        return -1;
    if (!*y || *y == '/')
        return 1;
    return *x < *y ? -1 : 1;
}

char *tool_ls_subject(const struct tool_ctx *ctx, const json_t *input)
{
    return tool_subject_dir_path(ctx, input);
}

void tool_ls_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    char *p = tool_subject_dir_path(ctx, input);
    buf_addf(out, "LS %s", tool_path_show(ctx, p));
    free(p);
}

enum brock_status tool_ls_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    size_t plen;
    const char *path = tool_arg_str(input, "path", &plen);
    if (!tool_check_path(ctx, "LS", "path", path, plen, out))
        return BROCK_OK;
    char *real = tool_path_resolve(ctx->cwd, path);
    struct lister ls = {.ignore = json_object_get(input, "ignore"), .max = ctx->lim.ls_max_entries};
    struct stat st;
    if (stat(real, &st) != 0) {
        tool_fail(out, "Directory does not exist: %s", real);
        goto done;
    }
    if (!S_ISDIR(st.st_mode)) {
        tool_fail(out, "%s is not a directory. Use Read to read a file.", real);
        goto done;
    }
    for (int d = 1; d <= LS_MAX_DEPTH && !ls.full; d++) {
        ls.depth = d;
        ls.added = false;
        struct tool_walk w = {
            .root = real,
            .gitignore = true,
            .max_depth = d,
            .max_entries = ctx->lim.walk_max_entries,
            .cancel = ctx->cancel,
            .visit = visit,
            .ud = &ls,
        };
        struct brock_err e;
        if (tool_walk_run(&w, &e) != BROCK_OK) {
            tool_fail(out, "LS: %s", e.msg);
            goto done;
        }
        if (w.cancelled) {
            out->interrupted = true;
            tool_fail(out, "LS was interrupted by the user.");
            goto done;
        }
        if (!ls.added)
            break;
    }
    if (ls.full)
        buf_addf(&out->text,
                 "There are more than %zu entries under %s; the first %zu (shallowest first) "
                 "are shown. Use LS on a subdirectory, or Glob and Grep, to look further.\n\n",
                 ls.max, real, ls.n);
    if (ls.n)
        qsort(ls.e, ls.n, sizeof *ls.e, cmp_tree);
    buf_addstr(&out->text, "- ");
    tool_utf8_add(&out->text, real, strlen(real));
    buf_addstr(&out->text, strcmp(real, "/") ? "/\n" : "\n");
    for (size_t i = 0; i < ls.n; i++) {
        const char *rel = ls.e[i].rel;
        size_t depth = 1;
        for (const char *q = rel; *q; q++)
            depth += *q == '/';
        const char *name = strrchr(rel, '/');
        name = name ? name + 1 : rel;
        for (size_t k = 0; k < depth; k++)
            buf_addstr(&out->text, "  ");
        buf_addstr(&out->text, "- ");
        tool_utf8_add(&out->text, name, strlen(name));
        if (ls.e[i].dir)
            buf_addc(&out->text, '/');
        if (ls.e[i].link) {
            buf_addstr(&out->text, " -> ");
            tool_utf8_add(&out->text, ls.e[i].link, strlen(ls.e[i].link));
        }
        buf_addc(&out->text, '\n');
    }
    if (!ls.n)
        buf_addstr(&out->text, "(The directory is empty.)\n");
    tool_set_summary(out, "LS %s (%zu entr%s%s)", tool_path_show(ctx, real), ls.n,
                     ls.n == 1 ? "y" : "ies", ls.full ? ", cut" : "");
done:
    for (size_t i = 0; i < ls.n; i++) {
        free(ls.e[i].rel);
        free(ls.e[i].link);
    }
    free(ls.e);
    free(real);
    return BROCK_OK;
}
