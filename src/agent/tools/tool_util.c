/* tool_util.c - helpers every tool uses: arguments, results, paths, UTF-8,
 * whole-file loads, the file-state table and atomic writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/alloc.h"
#include "../../util/fs.h"
#include "../../util/json.h"
#include "tool_int.h"

/* --- Arguments --------------------------------------------------------- */

const char *tool_arg_str(const json_t *in, const char *key, size_t *len)
{
    const json_t *v = json_object_get(in, key);
    if (!json_is_string(v)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

bool tool_arg_bool(const json_t *in, const char *key, bool dflt)
{
    const json_t *v = json_object_get(in, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

int64_t tool_arg_int(const json_t *in, const char *key, int64_t dflt)
{
    int64_t v;
    return json_int(in, key, &v) ? v : dflt;
}

bool tool_arg_has(const json_t *in, const char *key)
{
    const json_t *v = json_object_get(in, key);
    return v && !json_is_null(v);
}

/* --- Results ----------------------------------------------------------- */

enum brock_status tool_fail(struct tool_result *r, const char *fmt, ...)
{
    struct buf tmp = BUF_INIT(TOOL_TEXT_MAX / 2);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&tmp, fmt, ap);
    va_end(ap);
    buf_reset(&r->text);
    tool_utf8_add(&r->text, tmp.ptr ? tmp.ptr : "", tmp.len);
    buf_free(&tmp);
    r->is_error = true;
    return BROCK_OK;
}

void tool_add_short(struct buf *b, const char *s, size_t n, size_t max)
{
    size_t i = 0, chars = 0;
    while (i < n) {
        if (chars == max) {
            buf_addstr(b, "\xE2\x80\xA6"); /* … */
            return;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            buf_addc(b, ' ');
            i++;
        } else {
            uint32_t cp;
            size_t l = tool_utf8_dec(s + i, n - i, &cp);
            if (cp > 0x10FFFF)
                buf_addstr(b, "\xEF\xBF\xBD");
            else
                buf_add(b, s + i, l);
            i += l;
        }
        chars++;
    }
}

void tool_set_summary(struct tool_result *r, const char *fmt, ...)
{
    struct buf tmp = BUF_INIT(64 * 1024);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&tmp, fmt, ap);
    va_end(ap);
    buf_reset(&r->summary);
    tool_add_short(&r->summary, buf_cstr(&tmp), tmp.len, TOOL_SUMMARY_MAX);
    buf_free(&tmp);
}

/* --- Paths ------------------------------------------------------------- */

/* Apply the components of rest (not resolved: they do not exist) to out. */
static void lexical_append(struct buf *out, const char *rest)
{
    const char *p = rest;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t l = (size_t)(p - s);
        if (l == 0 || (l == 1 && s[0] == '.'))
            continue;
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            char *slash = out->len ? strrchr(out->ptr, '/') : NULL;
            buf_truncate(out, slash && slash != out->ptr ? (size_t)(slash - out->ptr) : 1);
            continue;
        }
        if (!(out->len == 1 && out->ptr[0] == '/'))
            buf_addc(out, '/');
        buf_add(out, s, l);
    }
}

char *tool_path_resolve(const char *cwd, const char *path)
{
    char *full = path[0] == '/' ? xstrdup(path) : fs_join(cwd, path);
    size_t cut = strlen(full);
    char *real = NULL;
    for (;;) {
        char save = full[cut];
        full[cut] = '\0';
        real = realpath(cut ? full : "/", NULL);
        full[cut] = save;
        if (real || cut == 0)
            break;
        while (cut > 0 && full[cut - 1] == '/')
            cut--;
        while (cut > 0 && full[cut - 1] != '/')
            cut--;
    }
    struct buf out = BUF_INIT((size_t)1 << 20);
    buf_addstr(&out, real ? real : "/");
    free(real);
    lexical_append(&out, full + cut);
    free(full);
    return buf_take(&out);
}

bool tool_check_path(const struct tool_ctx *ctx, const char *tool, const char *param,
                     const char *path, size_t len, struct tool_result *r)
{
    if (!path || !len) {
        tool_fail(r, "%s: `%s` is required", tool, param);
        return false;
    }
    if (strlen(path) != len) {
        tool_fail(r, "%s: `%s` contains a NUL byte", tool, param);
        return false;
    }
    if (len > TOOL_PATH_MAX) {
        tool_fail(r, "%s: `%s` is too long (%zu bytes; the limit is %d)", tool, param, len,
                  TOOL_PATH_MAX);
        return false;
    }
    if (path[0] != '/') {
        char *guess = fs_join(ctx->cwd, path[0] == '.' && path[1] == '/' ? path + 2 : path);
        tool_fail(r,
                  "%s: `%s` must be an absolute path, not \"%s\". The working directory is %s, "
                  "so you may mean %s",
                  tool, param, path, ctx->cwd, guess);
        free(guess);
        return false;
    }
    return true;
}

const char *tool_path_show(const struct tool_ctx *ctx, const char *abs)
{
    size_t n = ctx->cwd_len;
    if (n == 1)
        return abs[0] == '/' && abs[1] ? abs + 1 : abs[0] == '/' ? "." : abs;
    if (strncmp(abs, ctx->cwd, n) == 0) {
        if (abs[n] == '\0')
            return ".";
        if (abs[n] == '/' && abs[n + 1])
            return abs + n + 1;
    }
    return abs;
}

char *tool_diff_label(const struct tool_ctx *ctx, const char *real, const char *side)
{
    const char *show = tool_path_show(ctx, real);
    struct buf b = BUF_INIT((size_t)1 << 20);
    if (show != real || !strcmp(show, "."))
        buf_addstr(&b, side);
    tool_utf8_add(&b, show, strlen(show));
    return buf_take(&b);
}

char *tool_subject_file_path(const struct tool_ctx *ctx, const json_t *input)
{
    size_t n;
    const char *p = tool_arg_str(input, "file_path", &n);
    if (!p || !n || strlen(p) != n)
        return NULL;
    return tool_path_resolve(ctx->cwd, p);
}

char *tool_subject_dir_path(const struct tool_ctx *ctx, const json_t *input)
{
    size_t n;
    const char *p = tool_arg_str(input, "path", &n);
    if (!p || !n || strlen(p) != n)
        return xstrdup(ctx->cwd);
    return tool_path_resolve(ctx->cwd, p);
}

/* --- UTF-8 ------------------------------------------------------------- */

size_t tool_utf8_dec(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        goto bad;
    }
    if (n < need + 1)
        goto bad;
    if (u[1] < lo || u[1] > hi)
        goto bad;
    v = (v << 6) | (u[1] & 0x3F);
    for (size_t i = 2; i <= need; i++) {
        if ((u[i] & 0xC0) != 0x80)
            goto bad;
        v = (v << 6) | (u[i] & 0x3F);
    }
    *cp = v;
    return need + 1;
bad:
    *cp = 0x110000u + c; /* outside Unicode: marks the invalid byte */
    return 1;
}

size_t tool_utf8_valid(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = tool_utf8_dec(p + i, n - i, &cp);
        if (cp > 0x10FFFF)
            return i;
        i += l;
    }
    return n;
}

void tool_utf8_add(struct buf *b, const char *p, size_t n)
{
    while (n) {
        size_t ok = tool_utf8_valid(p, n);
        buf_add(b, p, ok);
        if (ok == n)
            return;
        buf_addstr(b, "\xEF\xBF\xBD");
        p += ok + 1;
        n -= ok + 1;
    }
}

/* --- Files ------------------------------------------------------------- */

enum brock_status tool_load_file(const char *path, size_t max, struct buf *out, struct stat *st,
                                 struct brock_err *e)
{
    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            return err_set(e, BROCK_ERR_NOT_FOUND, "%s: no such file", path);
        return err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(err));
    }
    enum brock_status s = BROCK_OK;
    if (fstat(fd, st) != 0) {
        s = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st->st_mode)) {
        s = err_set(e, BROCK_ERR_IO, "%s: is a directory", path);
        goto done;
    }
    if (!S_ISREG(st->st_mode)) {
        s = err_set(e, BROCK_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    if ((uint64_t)st->st_size > max) {
        s = err_set(e, BROCK_ERR_TOO_LARGE, "%s: %lld bytes, over the %zu-byte limit", path,
                    (long long)st->st_size, max);
        goto done;
    }
    if (!buf_reserve(out, (size_t)st->st_size + 1)) {
        s = err_set(e, BROCK_ERR_TOO_LARGE, "%s: too large", path);
        goto done;
    }
    char chunk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            s = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        total += (size_t)r;
        if (total > max || buf_add(out, chunk, (size_t)r) != BROCK_OK) {
            s = err_set(e, BROCK_ERR_TOO_LARGE, "%s: over the %zu-byte limit", path, max);
            goto done;
        }
    }
done:
    close(fd);
    return s;
}

static struct tool_fstate *fstate_find(struct tool_ctx *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->nfiles; i++)
        if (strcmp(ctx->files[i].path, path) == 0)
            return &ctx->files[i];
    return NULL;
}

void tool_fstate_record(struct tool_ctx *ctx, const char *path, const struct stat *st,
                        const uint8_t *hash)
{
    pthread_mutex_lock(&ctx->mu);
    struct tool_fstate *f = fstate_find(ctx, path);
    if (!f) {
        if (ctx->nfiles == TOOL_FSTATE_MAX) {
            size_t old = 0;
            for (size_t i = 1; i < ctx->nfiles; i++)
                if (ctx->files[i].stamp < ctx->files[old].stamp)
                    old = i;
            free(ctx->files[old].path);
            ctx->files[old] = ctx->files[--ctx->nfiles];
        }
        if (ctx->nfiles == ctx->capfiles) {
            ctx->capfiles = ctx->capfiles ? ctx->capfiles * 2 : 16;
            ctx->files = xrealloc(ctx->files, ctx->capfiles * sizeof *ctx->files);
        }
        f = &ctx->files[ctx->nfiles++];
        f->path = xstrdup(path);
    }
    f->size = st->st_size;
    f->mtime = st->st_mtim;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->has_hash = hash != NULL;
    if (hash)
        memcpy(f->hash, hash, SHA256_LEN);
    f->stamp = ++ctx->stamp;
    pthread_mutex_unlock(&ctx->mu);
}

enum tool_fcheck tool_fstate_check(struct tool_ctx *ctx, const char *path, const struct stat *st,
                                   const char *content, size_t n)
{
    uint8_t h[SHA256_LEN];
    if (content)
        crypto_sha256(content, n, h);
    pthread_mutex_lock(&ctx->mu);
    struct tool_fstate *f = fstate_find(ctx, path);
    enum tool_fcheck r;
    if (!f) {
        r = TOOL_FCHECK_NOT_READ;
    } else if (f->has_hash && content) {
        r = memcmp(f->hash, h, SHA256_LEN) == 0 ? TOOL_FCHECK_OK : TOOL_FCHECK_CHANGED;
    } else {
        bool same = f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
                    f->mtime.tv_nsec == st->st_mtim.tv_nsec && f->ino == st->st_ino &&
                    f->dev == st->st_dev;
        r = same ? TOOL_FCHECK_OK : TOOL_FCHECK_CHANGED;
    }
    pthread_mutex_unlock(&ctx->mu);
    return r;
}

const char *tool_fcheck_message(enum tool_fcheck c)
{
    switch (c) {
    case TOOL_FCHECK_NOT_READ:
        return "File has not been read yet. Read it first before writing to it.";
    case TOOL_FCHECK_CHANGED:
        return "File has been modified since it was last read (by the user, a formatter or "
               "another program). Read it again before writing to it.";
    case TOOL_FCHECK_OK: break;
    }
    return "";
}

enum brock_status tool_write_file(struct tool_ctx *ctx, const char *path, const char *data,
                                  size_t n, const struct stat *old, struct brock_err *e)
{
    mode_t mode = old ? (old->st_mode & 07777) : (0666 & ~ctx->umask);
    if (!old) {
        char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            struct stat ds;
            if (stat(dir, &ds) != 0) {
                enum brock_status s = fs_mkdirs(dir, 0777, e);
                if (s != BROCK_OK) {
                    free(dir);
                    return s;
                }
            } else if (!S_ISDIR(ds.st_mode)) {
                enum brock_status s = err_set(e, BROCK_ERR_IO, "%s: not a directory", dir);
                free(dir);
                return s;
            }
        }
        free(dir);
    }
    enum brock_status s = fs_write_atomic(path, data, n, mode, e);
    if (s != BROCK_OK)
        return s;
    struct stat st;
    if (stat(path, &st) == 0) {
        uint8_t h[SHA256_LEN];
        crypto_sha256(data, n, h);
        tool_fstate_record(ctx, path, &st, h);
    }
    return BROCK_OK;
}

/* --- Text -------------------------------------------------------------- */

size_t tool_count_lines(const char *p, size_t n)
{
    size_t c = 0;
    const char *end = p + n;
    for (const char *q = p; q < end; q++) {
        q = memchr(q, '\n', (size_t)(end - q));
        if (!q)
            break;
        c++;
    }
    return c + (n && p[n - 1] != '\n');
}

void tool_cat_n(struct buf *out, const char *p, size_t n, size_t first, size_t last,
                size_t max_chars)
{
    size_t ln = 1, i = 0;
    while (i < n && ln <= last) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - p) : n;
        if (ln >= first) {
            size_t l = e - i;
            if (l && p[i + l - 1] == '\r')
                l--;
            /* cut at max_chars code points */
            size_t b = 0, chars = 0;
            while (b < l && chars < max_chars) {
                b++;
                while (b < l && ((unsigned char)p[i + b] & 0xC0) == 0x80)
                    b++;
                chars++;
            }
            buf_addf(out, "%6zu\t", ln);
            tool_utf8_add(out, p + i, b);
            buf_addc(out, '\n');
        }
        i = e + 1;
        ln++;
    }
}

bool tool_looks_binary(const char *p, size_t n)
{
    size_t m = n < 8192 ? n : 8192;
    if (memchr(p, '\0', m))
        return true;
    size_t ok = tool_utf8_valid(p, m);
    if (ok == m)
        return false;
    if (m == n)
        return true; /* the whole file is in the block: invalid is invalid */
    /* a sequence cut by the end of the block: a lead byte and continuations */
    unsigned char c = (unsigned char)p[ok];
    size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!need || m - ok >= need)
        return true;
    for (size_t i = ok + 1; i < m; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            return true;
    return false;
}

void tool_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
