/* perm_path.c - path resolution as the kernel sees it, the built-in secret
 * locations, and reading regular files without blocking on FIFOs. */
#include "perm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/json.h"

#define PERM_MAX_SYMLINKS 40

bool perm_path_under(const char *path, const char *dir)
{
    size_t dl = strlen(dir);
    if (dl == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, dl) == 0 && (path[dl] == '\0' || path[dl] == '/');
}

char *perm_config_home(const char *home)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && x[0] == '/')
        return xstrdup(x);
    return home ? fs_join(home, ".config") : NULL;
}

static enum brock_status resolve(const char *cwd, bool cwd_real, const char *path, char out[PERM_PATH_MAX],
                                 bool *is_dir, struct brock_err *e)
{
    if (is_dir)
        *is_dir = false;
    out[0] = '\0';
    if (!path || !path[0])
        return err_set(e, BROCK_ERR_USAGE, "empty path");
    if (path[0] != '/' && (!cwd || cwd[0] != '/'))
        return err_set(e, BROCK_ERR_USAGE, "relative path without an absolute working directory");
    size_t plen = strnlen(path, PERM_PATH_MAX + 1);
    if (plen > PERM_PATH_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "path longer than %d bytes", PERM_PATH_MAX);

    /* `rest` is what is still to walk; a symlink replaces its component with
     * the link's target. */
    char *rest;
    char res[PERM_PATH_MAX];
    size_t rlen = 0; /* res[0..rlen) without a trailing '/'; 0 = the root */
    if (path[0] == '/') {
        rest = xstrdup(path);
    } else if (cwd_real) {
        /* the working directory is already real: start there */
        size_t cl = strlen(cwd);
        while (cl > 0 && cwd[cl - 1] == '/')
            cl--;
        if (cl >= PERM_PATH_MAX)
            return err_set(e, BROCK_ERR_TOO_LARGE, "path longer than %d bytes once resolved", PERM_PATH_MAX);
        memcpy(res, cwd, cl);
        rlen = cl;
        rest = xstrdup(path);
    } else {
        size_t cl = strlen(cwd);
        rest = xmalloc(cl + plen + 2);
        memcpy(rest, cwd, cl);
        rest[cl] = '/';
        memcpy(rest + cl + 1, path, plen + 1);
    }
    int links = 0;
    enum brock_status st = BROCK_OK;
    const char *p = rest;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *q = strchrnul(p, '/');
        size_t clen = (size_t)(q - p);
        if (clen == 1 && p[0] == '.') {
            p = q;
            continue;
        }
        if (clen == 2 && p[0] == '.' && p[1] == '.') {
            while (rlen > 0 && res[rlen - 1] != '/')
                rlen--;
            if (rlen > 0)
                rlen--;
            p = q;
            continue;
        }
        if (rlen + 1 + clen >= PERM_PATH_MAX) {
            st = err_set(e, BROCK_ERR_TOO_LARGE, "path longer than %d bytes once resolved", PERM_PATH_MAX);
            goto out;
        }
        res[rlen] = '/';
        memcpy(res + rlen + 1, p, clen);
        res[rlen + 1 + clen] = '\0';
        struct stat sb;
        if (lstat(res, &sb) == 0 && S_ISLNK(sb.st_mode)) {
            if (++links > PERM_MAX_SYMLINKS) {
                st = err_set(e, BROCK_ERR_IO, "too many levels of symbolic links");
                goto out;
            }
            char target[PERM_PATH_MAX];
            ssize_t n = readlink(res, target, sizeof target - 1);
            if (n <= 0) {
                /* unreadable link: keep it as a name (the operation will fail) */
                rlen += 1 + clen;
                p = q;
                continue;
            }
            target[n] = '\0';
            size_t ql = strlen(q);
            if ((size_t)n + ql > 2 * PERM_PATH_MAX) {
                st = err_set(e, BROCK_ERR_TOO_LARGE, "path longer than %d bytes once resolved", PERM_PATH_MAX);
                goto out;
            }
            char *nr = xmalloc((size_t)n + ql + 2);
            memcpy(nr, target, (size_t)n);
            nr[n] = '/';
            memcpy(nr + n + 1, q, ql + 1);
            free(rest);
            rest = nr;
            p = rest;
            if (target[0] == '/')
                rlen = 0;
            continue;
        }
        rlen += 1 + clen;
        p = q;
    }
    if (rlen == 0) {
        out[0] = '/';
        out[1] = '\0';
    } else {
        memcpy(out, res, rlen);
        out[rlen] = '\0';
    }
    if (is_dir) {
        struct stat sb;
        *is_dir = stat(out, &sb) == 0 && S_ISDIR(sb.st_mode);
    }
out:
    free(rest);
    return st;
}

enum brock_status perm_resolve_path(const char *cwd, const char *path, char out[PERM_PATH_MAX], bool *is_dir,
                                    struct brock_err *e)
{
    return resolve(cwd, false, path, out, is_dir, e);
}

enum brock_status perm_resolve_from(const char *real_dir, const char *path, char out[PERM_PATH_MAX], bool *is_dir,
                                    struct brock_err *e)
{
    if (!real_dir || real_dir[0] != '/')
        return err_set(e, BROCK_ERR_USAGE, "relative path without an absolute working directory");
    return resolve(real_dir, true, path, out, is_dir, e);
}

/* Below home: whole directories, and single files. */
static const char *const secret_home_dirs[] = {
    ".aws", ".ssh", ".gnupg", ".config/gcloud", ".azure", ".kube",
};
static const char *const secret_home_files[] = {
    ".docker/config.json", ".netrc", ".git-credentials", ".npmrc", ".pypirc",
    ".config/gh/hosts.yml", ".claude/.credentials.json",
};
/* .env.<suffix> files that hold examples, not secrets. */
static const char *const env_examples[] = {"example", "sample", "template", "dist", "defaults"};

static bool under_rel(const char *path, const char *base, const char *rel, bool dir)
{
    size_t bl = strlen(base), rl = strlen(rel);
    while (bl > 1 && base[bl - 1] == '/')
        bl--;
    if (strncmp(path, base, bl) != 0 || path[bl] != '/' || strncmp(path + bl + 1, rel, rl) != 0)
        return false;
    char c = path[bl + 1 + rl];
    return c == '\0' || (dir && c == '/');
}

bool perm_path_is_secret(const char *path, const char *home, const char *config_home)
{
    if (home && home[0] == '/') {
        for (size_t i = 0; i < BROCK_ARRAY_LEN(secret_home_dirs); i++)
            if (under_rel(path, home, secret_home_dirs[i], true))
                return true;
        for (size_t i = 0; i < BROCK_ARRAY_LEN(secret_home_files); i++)
            if (under_rel(path, home, secret_home_files[i], false))
                return true;
    }
    if (config_home && config_home[0] == '/') {
        size_t cl = strlen(config_home);
        while (cl > 1 && config_home[cl - 1] == '/')
            cl--;
        if (strncmp(path, config_home, cl) == 0 && !strncmp(path + cl, "/brock/credentials", 18) &&
            !strchr(path + cl + 18, '/'))
            return true;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, ".env", 4) != 0 || (base[4] != '\0' && base[4] != '.'))
        return false;
    if (base[4] == '.') {
        for (size_t i = 0; i < BROCK_ARRAY_LEN(env_examples); i++)
            if (!strcmp(base + 5, env_examples[i]))
                return false;
    }
    /* a directory named .env (an old virtualenv habit) is not a secret file */
    struct stat sb;
    return !(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
}

enum brock_status perm_read_regular(const char *path, size_t max, bool trunc_ok, struct buf *out,
                                    size_t *full_size, unsigned long long *dev,
                                    unsigned long long *ino, struct brock_err *e)
{
    if (full_size)
        *full_size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        return err_set(e, err == ENOENT || err == ENOTDIR ? BROCK_ERR_NOT_FOUND : BROCK_ERR_IO,
                       "%s: %s", path, strerror(err));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(e, BROCK_ERR_IO, "%s: not a regular file", path);
    }
    if (dev)
        *dev = (unsigned long long)sb.st_dev;
    if (ino)
        *ino = (unsigned long long)sb.st_ino;
    size_t size = (size_t)sb.st_size;
    if (size > max && !trunc_ok) {
        close(fd);
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: %zu bytes, over the %zu-byte limit", path, size, max);
    }
    size_t want = size < max ? size : max;
    if (want && !buf_reserve(out, want)) {
        close(fd);
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: over the %zu-byte limit", path, max);
    }
    size_t got = 0;
    char chunk[16384];
    enum brock_status st = BROCK_OK;
    for (;;) {
        size_t room = max + 1 - got; /* one more than max tells "larger" */
        ssize_t r = read(fd, chunk, room < sizeof chunk ? room : sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            st = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        size_t take = (size_t)r;
        if (got + take > max) {
            if (!trunc_ok) {
                buf_truncate(out, out->len - got);
                st = err_set(e, BROCK_ERR_TOO_LARGE, "%s: over the %zu-byte limit", path, max);
                break;
            }
            take = max - got;
        }
        if (buf_add(out, chunk, take) != BROCK_OK) {
            buf_truncate(out, out->len - got);
            st = err_set(e, BROCK_ERR_TOO_LARGE, "%s: over the %zu-byte limit", path, max);
            break;
        }
        got += take;
        if (got >= max && trunc_ok)
            break;
    }
    close(fd);
    if (full_size)
        *full_size = got < size ? size : got;
    return st;
}

enum brock_status perm_json_load(const char *text, size_t len, const char *what, json_t **out,
                                 struct brock_err *e)
{
    *out = NULL;
    if (len > JSON_MAX_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: JSON larger than %zu bytes", what, JSON_MAX_BYTES);
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        /* jansson ends many messages with "near '<token>'": the token may be
         * a secret (an unquoted value), so it is cut off */
        char *near = strstr(je.text, " near ");
        if (near)
            *near = '\0';
        return err_set(e, BROCK_ERR_PARSE, "%s:%d:%d: invalid JSON: %s", what, je.line, je.column, je.text);
    }
    *out = v;
    return BROCK_OK;
}
