/* memory.c - gather BROCK.md / CLAUDE.md / AGENTS.md files and their @imports
 * into one system-prompt section (memory.h). */
#include "memory.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/fs.h"
#include "perm_int.h"

#define MAX_IMPORTS_PER_FILE 64

struct seen {
    unsigned long long dev, ino;
};

struct collector {
    struct memory_set *set;
    char *cwd, *home, *config_home; /* resolved; home/config_home may be NULL */
    char *claude_dir, *brock_dir;   /* ~/.claude and $XDG_CONFIG_HOME/brock */
    struct seen *seen;
    size_t nseen;
};

static void note(struct memory_set *set, const char *f, ...) BROCK_PRINTF(2, 3);
static void note(struct memory_set *set, const char *f, ...)
{
    struct buf b = BUF_INIT(8192);
    va_list ap;
    va_start(ap, f);
    buf_addvf(&b, f, ap);
    va_end(ap);
    set->notes = xrealloc(set->notes, (set->nnotes + 1) * sizeof *set->notes);
    set->notes[set->nnotes++] = buf_take(&b);
    buf_free(&b);
}

/* Where to cut `len` bytes down to at most `limit`: never inside a UTF-8
 * sequence, and after a newline if one is in the last KiB. `more`: the text
 * was already cut by the reader, so its end may split a character. */
static size_t cut_point(const char *t, size_t len, size_t limit, bool more)
{
    if (!more && len <= limit)
        return len;
    size_t p = len < limit ? len : limit;
    if (p < len || more) {
        /* t[p] would start the dropped part: back up to a lead byte */
        size_t q = p;
        while (q > 0 && ((unsigned char)t[q - 1] & 0xC0) == 0x80)
            q--;
        if (q > 0 && (unsigned char)t[q - 1] >= 0xC0)
            p = q - 1; /* t[q-1] leads a sequence that may be incomplete */
        else if (q < p && q > 0)
            p = q;
        size_t lo = p > 1024 ? p - 1024 : 0;
        for (size_t k = p; k > lo; k--)
            if (t[k - 1] == '\n')
                return k;
    }
    return p;
}

/* Replace NULs and bytes that are not valid UTF-8 with '?', in place. */
static void sanitize_utf8(char *t, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)t[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0) {
            t[i++] = '?';
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            t[i++] = '?';
            continue;
        }
        bool ok = i + need < n;
        for (size_t k = 1; ok && k <= need; k++) {
            unsigned char x = (unsigned char)t[i + k];
            unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (x < l || x > h)
                ok = false;
        }
        if (!ok) {
            t[i++] = '?';
            continue;
        }
        i += need + 1;
    }
}

static bool in_any(const char *path, const char *const *roots, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (roots[i] && perm_path_under(path, roots[i]))
            return true;
    return false;
}

static char *dir_of(const char *path)
{
    const char *sl = strrchr(path, '/');
    if (!sl || sl == path)
        return xstrdup("/");
    return xmemdup(path, (size_t)(sl - path));
}

/* The chain of imports under one top-level file. */
struct chain {
    const char *root; /* the directory the top-level file was found in */
    bool user;        /* a user memory file: imports may come from anywhere in home */
};

static void add_file(struct collector *c, const char *path, enum memory_kind kind, size_t parent, unsigned depth,
                     const struct chain *ch);

/* Resolve one import token; add the file if it passes the checks. */
static bool try_import(struct collector *c, size_t idx, const char *tok, size_t tn, const struct chain *ch,
                       bool last_try)
{
    struct memory_set *set = c->set;
    const char *importer = set->files[idx].path;
    char *spec = xmemdup(tok, tn);
    char *p;
    if (spec[0] == '~' && (spec[1] == '/' || spec[1] == '\0')) {
        p = c->home ? (spec[1] ? fs_join(c->home, spec + 2) : xstrdup(c->home)) : NULL;
    } else if (spec[0] == '/') {
        p = xstrdup(spec);
    } else {
        char *d = dir_of(importer);
        p = fs_join(d, spec);
        free(d);
    }
    char res[PERM_PATH_MAX];
    bool is_dir = false;
    bool ok = p && perm_resolve_path("/", p, res, &is_dir, NULL) == BROCK_OK;
    free(p);
    if (!ok || is_dir || !fs_exists(res)) {
        if (last_try)
            note(set, "%s: import @%s not found; skipped", importer, spec);
        free(spec);
        return false;
    }
    if (perm_path_is_secret(res, c->home, c->config_home)) {
        note(set, "%s: import @%s is a protected secret location; skipped", importer, spec);
        free(spec);
        return true;
    }
    const char *roots_project[] = {c->cwd, ch->root, c->claude_dir, c->brock_dir};
    const char *roots_user[] = {c->cwd, ch->root, c->home, c->brock_dir};
    if (!in_any(res, ch->user ? roots_user : roots_project, 4)) {
        note(set, "%s: import @%s is outside the project and the memory directories; skipped", importer, spec);
        free(spec);
        return true;
    }
    free(spec);
    add_file(c, res, MEMORY_IMPORT, idx, set->files[idx].depth + 1, ch);
    return true;
}

static void scan_imports(struct collector *c, size_t idx, const struct chain *ch)
{
    /* copy what we need: the array may move while imports are added */
    const char *t = c->set->files[idx].text;
    size_t n = c->set->files[idx].used;
    bool fence = false;
    unsigned count = 0;
    size_t i = 0;
    while (i < n && count < MAX_IMPORTS_PER_FILE) {
        const char *nl = memchr(t + i, '\n', n - i);
        size_t le = nl ? (size_t)(nl - t) : n;
        size_t k = i;
        while (k < le && k - i < 3 && t[k] == ' ')
            k++;
        if (le - k >= 3 && (!memcmp(t + k, "```", 3) || !memcmp(t + k, "~~~", 3))) {
            fence = !fence;
            i = le + 1;
            continue;
        }
        if (!fence) {
            size_t code = 0; /* length of the open code span's backtick run */
            for (k = i; k < le && count < MAX_IMPORTS_PER_FILE;) {
                if (t[k] == '`') {
                    size_t r = 0;
                    while (k + r < le && t[k + r] == '`')
                        r++;
                    if (!code)
                        code = r;
                    else if (r == code)
                        code = 0;
                    k += r;
                    continue;
                }
                if (!code && t[k] == '@' && (k == i || t[k - 1] == ' ' || t[k - 1] == '\t')) {
                    size_t s = k + 1, e = s;
                    while (e < le && t[e] != ' ' && t[e] != '\t' && t[e] != '\r')
                        e++;
                    if (e > s && t[s] != '@' && e - s < PERM_PATH_MAX) {
                        count++;
                        size_t stripped = e;
                        while (stripped > s && strchr(".,;:!?)]}'\"", t[stripped - 1]))
                            stripped--;
                        bool done = try_import(c, idx, t + s, e - s, ch, stripped == e);
                        if (!done && stripped > s && stripped < e)
                            try_import(c, idx, t + s, stripped - s, ch, true);
                    }
                    k = e;
                    continue;
                }
                k++;
            }
        }
        i = le + 1;
    }
}

static void add_file(struct collector *c, const char *path, enum memory_kind kind, size_t parent, unsigned depth,
                     const struct chain *ch)
{
    struct memory_set *set = c->set;
    if (set->nfiles >= MEMORY_MAX_FILES) {
        note(set, "%s: skipped: more than %d memory files", path, MEMORY_MAX_FILES);
        return;
    }
    struct buf b = BUF_INIT(set->max_file_bytes);
    size_t full = 0;
    unsigned long long dev = 0, ino = 0;
    struct brock_err e = {0};
    enum brock_status rc = perm_read_regular(path, set->max_file_bytes, true, &b, &full, &dev, &ino, &e);
    if (rc == BROCK_ERR_NOT_FOUND) {
        if (kind == MEMORY_IMPORT)
            note(set, "%s: imported file not found; skipped", path);
        buf_free(&b);
        return;
    }
    if (rc != BROCK_OK) {
        note(set, "%s; skipped", e.msg);
        buf_free(&b);
        return;
    }
    for (size_t i = 0; i < c->nseen; i++)
        if (c->seen[i].dev == dev && c->seen[i].ino == ino) {
            buf_free(&b);
            return; /* already included (another name, a link, an import cycle) */
        }
    c->seen = xrealloc(c->seen, (c->nseen + 1) * sizeof *c->seen);
    c->seen[c->nseen].dev = dev;
    c->seen[c->nseen].ino = ino;
    c->nseen++;

    size_t used = cut_point(buf_cstr(&b), b.len, set->max_file_bytes, full > b.len);
    char *text = xmemdup(buf_cstr(&b), used);
    buf_free(&b);
    sanitize_utf8(text, used);
    if (used < full)
        note(set, "%s: cut to %zu of %zu bytes (per-file limit %zu)", path, used, full, set->max_file_bytes);

    set->files = xrealloc(set->files, (set->nfiles + 1) * sizeof *set->files);
    struct memory_file *f = &set->files[set->nfiles++];
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    f->kind = kind;
    f->parent = parent;
    f->depth = depth;
    f->size = full;
    f->used = used;
    f->text = text;
    if (depth < MEMORY_MAX_IMPORT_DEPTH)
        scan_imports(c, set->nfiles - 1, ch);
}

/* A top-level candidate: resolve it (links) and add it. */
static void add_top(struct collector *c, const char *dir, const char *name, enum memory_kind kind)
{
    char *p = fs_join(dir, name);
    char res[PERM_PATH_MAX], root[PERM_PATH_MAX];
    if (perm_resolve_path("/", p, res, NULL, NULL) == BROCK_OK && fs_exists(res) &&
        perm_resolve_path("/", dir, root, NULL, NULL) == BROCK_OK) {
        struct chain ch = {root, kind == MEMORY_USER};
        add_file(c, res, kind, SIZE_MAX, 0, &ch);
    }
    free(p);
}

static char *resolve_opt(const char *p)
{
    char res[PERM_PATH_MAX];
    if (!p || p[0] != '/' || perm_resolve_path("/", p, res, NULL, NULL) != BROCK_OK)
        return NULL;
    return xstrdup(res);
}

enum brock_status memory_collect(const struct memory_opts *o, struct memory_set **out, struct brock_err *e)
{
    static const struct memory_opts none = {0};
    if (!o)
        o = &none;
    *out = NULL;
    struct collector c = {0};
    char *cwd = o->cwd ? xstrdup(o->cwd) : getcwd(NULL, 0);
    if (!cwd)
        return err_set(e, BROCK_ERR_IO, "cannot get the working directory");
    if (cwd[0] != '/') {
        free(cwd);
        return err_set(e, BROCK_ERR_USAGE, "the working directory must be absolute");
    }
    c.cwd = resolve_opt(cwd);
    free(cwd);
    if (!c.cwd)
        return err_set(e, BROCK_ERR_USAGE, "the working directory cannot be resolved");
    const char *home = o->home ? o->home : fs_home_dir();
    c.home = resolve_opt(home);
    if (o->config_home) {
        c.config_home = resolve_opt(o->config_home);
    } else {
        char *ch = perm_config_home(home);
        c.config_home = resolve_opt(ch);
        free(ch);
    }
    if (c.home) {
        char *d = fs_join(c.home, ".claude");
        c.claude_dir = resolve_opt(d);
        free(d);
    }
    if (c.config_home) {
        char *d = fs_join(c.config_home, "brock");
        c.brock_dir = resolve_opt(d);
        free(d);
    }
    struct memory_set *set = xcalloc(1, sizeof *set);
    set->max_file_bytes = o->max_file_bytes ? o->max_file_bytes : MEMORY_MAX_FILE_BYTES;
    set->max_total_bytes = o->max_total_bytes ? o->max_total_bytes : MEMORY_MAX_TOTAL_BYTES;
    c.set = set;

    if (!o->skip_user) {
        if (c.brock_dir)
            add_top(&c, c.brock_dir, "BROCK.md", MEMORY_USER);
        if (c.claude_dir)
            add_top(&c, c.claude_dir, "CLAUDE.md", MEMORY_USER);
    }
    /* the directories from below the root down to cwd */
    static const char *const names[] = {"BROCK.md", "CLAUDE.md", ".claude/CLAUDE.md", "AGENTS.md"};
    size_t cl = strlen(c.cwd);
    for (size_t i = 1; i <= cl; i++) {
        if (i < cl && c.cwd[i] != '/')
            continue;
        char *dir = xmemdup(c.cwd, i);
        for (size_t k = 0; k < BROCK_ARRAY_LEN(names); k++)
            add_top(&c, dir, names[k], MEMORY_PROJECT);
        free(dir);
    }

    /* the total cap: the files nearest the working directory first */
    size_t left = set->max_total_bytes;
    for (size_t i = set->nfiles; i-- > 0;) {
        struct memory_file *f = &set->files[i];
        if (f->used <= left) {
            left -= f->used;
            continue;
        }
        size_t keep = cut_point(f->text, f->used, left, false);
        note(set, "%s: cut to %zu of %zu bytes (total memory limit %zu)", f->path, keep, f->size,
             set->max_total_bytes);
        f->text[keep] = '\0';
        f->used = keep;
        f->cut_total = true;
        left -= keep;
    }

    free(c.cwd);
    free(c.home);
    free(c.config_home);
    free(c.claude_dir);
    free(c.brock_dir);
    free(c.seen);
    *out = set;
    return BROCK_OK;
}

static const char *kind_text(const struct memory_set *set, const struct memory_file *f)
{
    (void)set;
    switch (f->kind) {
    case MEMORY_USER:
        return "user memory: the user's own instructions for every project";
    case MEMORY_PROJECT:
        return "project memory: instructions for this codebase";
    case MEMORY_IMPORT:
        return "imported";
    }
    return "";
}

enum brock_status memory_render(const struct memory_set *set, struct buf *out)
{
    if (!set || !set->nfiles)
        return buf_status(out);
    buf_addstr(out, "# Memory files\n\n"
                    "The following files hold instructions from the user and for this project "
                    "(BROCK.md, CLAUDE.md, AGENTS.md). Follow them; later files are closer to the "
                    "working directory and more specific than earlier ones.\n");
    for (size_t i = 0; i < set->nfiles; i++) {
        const struct memory_file *f = &set->files[i];
        buf_addf(out, "\n## %s (%s", f->path, kind_text(set, f));
        if (f->kind == MEMORY_IMPORT && f->parent < set->nfiles)
            buf_addf(out, " by %s", set->files[f->parent].path);
        buf_addstr(out, ")\n\n");
        buf_add(out, f->text, f->used);
        if (f->used && f->text[f->used - 1] != '\n')
            buf_addc(out, '\n');
        if (f->used < f->size)
            buf_addf(out, "\n[brock: %zu of %zu bytes of this file shown; the rest was cut by the %s limit of %zu bytes]\n",
                     f->used, f->size, f->cut_total ? "total memory" : "per-file",
                     f->cut_total ? set->max_total_bytes : set->max_file_bytes);
    }
    return buf_status(out);
}

void memory_set_free(struct memory_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nfiles; i++) {
        free(set->files[i].path);
        free(set->files[i].text);
    }
    free(set->files);
    for (size_t i = 0; i < set->nnotes; i++)
        free(set->notes[i]);
    free(set->notes);
    free(set);
}
