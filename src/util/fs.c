#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

enum brock_status fs_read_file(const char *path, size_t max, struct buf *out, struct brock_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return err_set(e, err == ENOENT ? BROCK_ERR_NOT_FOUND : BROCK_ERR_IO, "%s: %s", path,
                       strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return err_set(e, BROCK_ERR_IO, "%s: is a directory", path);
    }
    size_t total = 0;
    char chunk[16384];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            close(fd);
            secure_wipe(chunk, sizeof chunk);
            return err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(err));
        }
        if (r == 0)
            break;
        total += (size_t)r;
        if (total > max || buf_add(out, chunk, (size_t)r) != BROCK_OK) {
            close(fd);
            secure_wipe(chunk, sizeof chunk);
            return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than the %zu-byte limit", path, max);
        }
    }
    close(fd);
    /* the chunk may have held secrets (credentials files) */
    secure_wipe(chunk, sizeof chunk);
    return BROCK_OK;
}

enum brock_status fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode,
                                  struct brock_err *e)
{
    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + 16);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return err_set(e, BROCK_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(err));
    }
    enum brock_status st = BROCK_OK;
    if (fchmod(fd, mode) != 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: chmod: %s", path, strerror(errno));
        goto fail;
    }
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            st = err_set(e, BROCK_ERR_IO, "%s: write: %s", path, strerror(errno));
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: fsync: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = err_set(e, BROCK_ERR_IO, "%s: close: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: rename: %s", path, strerror(errno));
        goto fail;
    }
    free(tmp);
    return BROCK_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return st;
}

const char *fs_home_dir(void)
{
    const char *h = getenv("HOME");
    if (h && *h)
        return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

char *fs_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *s = xmalloc(dl + nl + 2);
    memcpy(s, dir, dl);
    size_t o = dl;
    if (!(dl == 1 && dir[0] == '/'))
        s[o++] = '/';
    memcpy(s + o, name, nl + 1);
    return s;
}

char *fs_expand_home(const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = fs_home_dir();
        if (home)
            return path[1] ? fs_join(home, path + 2) : xstrdup(home);
    }
    return xstrdup(path);
}

enum brock_status fs_mkdirs(const char *path, mode_t mode, struct brock_err *e)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            int err = errno;
            enum brock_status st = err_set(e, BROCK_ERR_IO, "%s: mkdir: %s", p, strerror(err));
            free(p);
            return st;
        }
        *s = '/';
    }
    if (mkdir(p, mode) != 0 && errno != EEXIST) {
        int err = errno;
        enum brock_status st = err_set(e, BROCK_ERR_IO, "%s: mkdir: %s", p, strerror(err));
        free(p);
        return st;
    }
    free(p);
    return BROCK_OK;
}

bool fs_exists(const char *path)
{
    return access(path, F_OK) == 0;
}
