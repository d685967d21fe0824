/* tool_walk.c - depth-first directory walk for Glob, Grep and LS.
 *
 * Entries come in byte order of their names (deterministic output); each
 * directory is read whole and closed before its subdirectories are entered,
 * so open descriptors stay at one however deep the tree. .gitignore files are
 * kept on a stack: the innermost file with a matching rule decides, and in a
 * file the last matching rule (gitignore(5)). The repository's ancestors of
 * the root contribute their .gitignore files and .git/info/exclude, so a
 * search in a subdirectory honours the project's rules. Symbolic links are
 * reported but never followed. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../util/alloc.h"
#include "../../util/fs.h"
#include "tool_int.h"

#define WALK_MAX_DEPTH 128
#define WALK_DIR_MAX_ENTRIES 1000000 /* names read from one directory */

struct walker {
    struct tool_walk *w;
    struct buf path; /* absolute path of the current entry ("" for "/") */
    size_t root_len;
    struct tool_ignore **ign;
    size_t nign, capign;
    bool stop;
};

static bool is_vcs_dir(const char *n)
{
    return !strcmp(n, ".git") || !strcmp(n, ".hg") || !strcmp(n, ".svn") || !strcmp(n, ".bzr") ||
           !strcmp(n, ".jj") || !strcmp(n, ".sl");
}

static void push_ignore_file(struct walker *wk, const char *file, const char *base)
{
    struct buf text = BUF_INIT(TOOL_IGNORE_FILE_MAX);
    struct stat st;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode) ||
        fs_read_file(file, TOOL_IGNORE_FILE_MAX, &text, NULL) != BROCK_OK) {
        buf_free(&text);
        return;
    }
    struct tool_ignore *ig = tool_ignore_parse(buf_cstr(&text), text.len, base);
    buf_free(&text);
    if (!ig)
        return;
    if (wk->nign == wk->capign) {
        wk->capign = wk->capign ? wk->capign * 2 : 8;
        wk->ign = xrealloc(wk->ign, wk->capign * sizeof *wk->ign);
    }
    wk->ign[wk->nign++] = ig;
}

/* Push the .gitignore of the directory in wk->path; true if one was pushed. */
static bool push_dir_ignore(struct walker *wk)
{
    size_t n = wk->nign, l = wk->path.len;
    buf_addstr(&wk->path, "/.gitignore");
    if (buf_status(&wk->path) == BROCK_OK) {
        char *base = xmemdup(wk->path.ptr, l);
        push_ignore_file(wk, wk->path.ptr, base);
        free(base);
    }
    buf_truncate(&wk->path, l);
    wk->path.overflow = false;
    return wk->nign > n;
}

static bool ignored(const struct walker *wk, bool is_dir)
{
    for (size_t k = wk->nign; k-- > 0;) {
        const struct tool_ignore *ig = wk->ign[k];
        if (wk->path.len <= ig->base_len + 1)
            continue;
        const char *rel = wk->path.ptr + ig->base_len + 1;
        int m = tool_ignore_match(ig, rel, wk->path.len - ig->base_len - 1, is_dir);
        if (m)
            return m > 0;
    }
    return false;
}

struct ent {
    size_t off; /* name offset in the names buffer */
    unsigned char type;
};

static int cmp_ent(const void *a, const void *b, void *names)
{
    const struct ent *x = a, *y = b;
    return strcmp((const char *)names + x->off, (const char *)names + y->off);
}

static enum tool_walk_kind kind_of(unsigned char t, const char *abs)
{
    switch (t) {
    case DT_REG: return TOOL_WALK_FILE;
    case DT_DIR: return TOOL_WALK_DIR;
    case DT_LNK: return TOOL_WALK_LINK;
    case DT_UNKNOWN: break;
    default: return TOOL_WALK_OTHER;
    }
    struct stat st;
    if (lstat(abs, &st) != 0)
        return TOOL_WALK_OTHER;
    if (S_ISREG(st.st_mode))
        return TOOL_WALK_FILE;
    if (S_ISDIR(st.st_mode))
        return TOOL_WALK_DIR;
    if (S_ISLNK(st.st_mode))
        return TOOL_WALK_LINK;
    return TOOL_WALK_OTHER;
}

static void walk_dir(struct walker *wk, int depth)
{
    struct tool_walk *w = wk->w;
    DIR *d = opendir(wk->path.len ? wk->path.ptr : "/");
    if (!d)
        return;
    struct buf names = BUF_INIT((size_t)256 * 1024 * 1024);
    struct ent *ents = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < WALK_DIR_MAX_ENTRIES) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            ents = xrealloc(ents, cap * sizeof *ents);
        }
        ents[n].off = names.len;
        ents[n].type = de->d_type;
        if (buf_add(&names, nm, strlen(nm) + 1) != BROCK_OK)
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort_r(ents, n, sizeof *ents, cmp_ent, names.ptr);
    bool pushed = w->gitignore && push_dir_ignore(wk);
    size_t dl = wk->path.len;
    for (size_t i = 0; i < n && !wk->stop; i++) {
        if (w->cancel && *w->cancel) {
            w->cancelled = true;
            wk->stop = true;
            break;
        }
        if (w->visited >= w->max_entries) {
            w->truncated = true;
            wk->stop = true;
            break;
        }
        const char *nm = names.ptr + ents[i].off;
        buf_addc(&wk->path, '/');
        buf_addstr(&wk->path, nm);
        if (buf_status(&wk->path) != BROCK_OK) {
            /* a path longer than the buffer: skip it */
            buf_truncate(&wk->path, dl);
            wk->path.overflow = false;
            continue;
        }
        enum tool_walk_kind k = kind_of(ents[i].type, wk->path.ptr);
        bool skip = (k == TOOL_WALK_DIR && is_vcs_dir(nm)) ||
                    (w->gitignore && ignored(wk, k == TOOL_WALK_DIR));
        if (!skip) {
            w->visited++;
            const char *rel = wk->path.ptr + wk->root_len + 1;
            size_t rl = wk->path.len - wk->root_len - 1;
            enum tool_walk_verdict v = w->visit(w->ud, wk->path.ptr, rel, rl, k, depth);
            if (v == TOOL_WALK_STOP)
                wk->stop = true;
            else if (k == TOOL_WALK_DIR && v == TOOL_WALK_CONTINUE && depth < WALK_MAX_DEPTH &&
                     (w->max_depth == 0 || depth < w->max_depth))
                walk_dir(wk, depth + 1);
        }
        buf_truncate(&wk->path, dl);
    }
    if (pushed)
        tool_ignore_free(wk->ign[--wk->nign]);
    free(ents);
    buf_free(&names);
}

/* Load the rules that apply from above the root: walk up to the repository
 * top (a directory holding .git) and push its info/exclude, then each
 * .gitignore from the top down to the root's parent. */
static void push_ancestors(struct walker *wk, const char *root)
{
    char *dir = xstrdup(root);
    size_t len = strlen(dir);
    char *top = NULL;
    for (;;) {
        char *probe = fs_join(len ? dir : "/", ".git");
        struct stat st;
        bool found = lstat(probe, &st) == 0;
        free(probe);
        if (found) {
            top = xmemdup(dir, len);
            break;
        }
        char *slash = len ? memrchr(dir, '/', len) : NULL;
        if (!slash)
            break;
        len = (size_t)(slash - dir);
        dir[len] = '\0';
    }
    free(dir);
    if (!top)
        return;
    size_t tl = strlen(top);
    char *excl = fs_join(tl ? top : "/", ".git/info/exclude");
    push_ignore_file(wk, excl, top);
    free(excl);
    /* each directory from the top down to the root's parent */
    size_t rl = strlen(root);
    size_t pos = tl;
    while (pos < rl) {
        char *base = xmemdup(root, pos);
        char *gi = fs_join(pos ? base : "/", ".gitignore");
        push_ignore_file(wk, gi, base);
        free(gi);
        free(base);
        pos++;
        while (pos < rl && root[pos] != '/')
            pos++;
    }
    free(top);
}

enum brock_status tool_walk_run(struct tool_walk *w, struct brock_err *e)
{
    struct walker wk = {.w = w};
    buf_init(&wk.path, 64 * 1024);
    size_t rl = strlen(w->root);
    while (rl && w->root[rl - 1] == '/')
        rl--;
    buf_add(&wk.path, w->root, rl);
    wk.root_len = rl;
    w->visited = 0;
    w->truncated = w->cancelled = false;
    DIR *d = opendir(rl ? buf_cstr(&wk.path) : "/");
    if (!d) {
        enum brock_status s = err_set(e, errno == ENOENT ? BROCK_ERR_NOT_FOUND : BROCK_ERR_IO,
                                      "%s: %s", w->root, strerror(errno));
        buf_free(&wk.path);
        return s;
    }
    closedir(d);
    if (w->gitignore) {
        char *r = xmemdup(w->root, rl);
        push_ancestors(&wk, r);
        free(r);
    }
    walk_dir(&wk, 1);
    for (size_t i = 0; i < wk.nign; i++)
        tool_ignore_free(wk.ign[i]);
    free(wk.ign);
    buf_free(&wk.path);
    return BROCK_OK;
}
