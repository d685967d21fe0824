/* fs.h - whole-file reads with a cap, and atomic writes (temp file + rename). */
#ifndef BROCK_UTIL_FS_H
#define BROCK_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Read all of `path` into out (appending). Files larger than `max` bytes give
 * BROCK_ERR_TOO_LARGE; a missing file gives BROCK_ERR_NOT_FOUND. The message
 * names the path and the OS error. */
enum brock_status fs_read_file(const char *path, size_t max, struct buf *out, struct brock_err *e);

/* Write data to path atomically: a temporary file in the same directory,
 * fsync, chmod to `mode`, rename over. On failure the old file is untouched and
 * the temporary is removed. */
enum brock_status fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode,
                                  struct brock_err *e);

/* $HOME, or the passwd entry's home; NULL if neither is known. */
const char *fs_home_dir(void);
/* Expand a leading "~" or "~/" using fs_home_dir(). Returns a new string. */
char *fs_expand_home(const char *path);
/* Join directory and name with one '/'. Returns a new string. */
char *fs_join(const char *dir, const char *name);
/* mkdir -p with the given mode for created directories. */
enum brock_status fs_mkdirs(const char *path, mode_t mode, struct brock_err *e);
bool fs_exists(const char *path);

#endif
