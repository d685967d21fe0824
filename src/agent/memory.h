/* memory.h - memory files (BROCK.md, CLAUDE.md, AGENTS.md) gathered into one
 * section of the system prompt.
 *
 * Order (each file once, however many names or links lead to it):
 *   1. user:    $XDG_CONFIG_HOME/brock/BROCK.md, then ~/.claude/CLAUDE.md
 *   2. project: from the directory below the filesystem root down to the
 *               working directory, in each directory BROCK.md, CLAUDE.md,
 *               .claude/CLAUDE.md, AGENTS.md. The root directory itself is not
 *               read (as in Claude Code); the home directory is read like any
 *               other directory on the way.
 * A file's imports come right after it (depth first).
 *
 * Imports: `@path` at the start of a line or after a blank, outside code spans
 * and fenced code blocks, names a file relative to the importing file (`@~/x`
 * home, `@/abs` absolute). At most MEMORY_MAX_IMPORT_DEPTH hops; a file
 * already included is not included again (so cycles end). An import must stay
 * inside the working directory, the importing chain's top directory,
 * ~/.claude or $XDG_CONFIG_HOME/brock, and must not be a built-in secret path
 * (perm_path_is_secret): a memory file in a cloned repository must not pull
 * ~/.ssh/id_rsa into a prompt. Imports that fail these checks, or do not
 * exist, are skipped with a note.
 *
 * Caps: each file is cut to max_file_bytes; all files together to
 * max_total_bytes, giving the budget to the files closest to the working
 * directory first (then the user's files). Cuts happen at a line end where
 * possible and never inside a UTF-8 sequence; the rendered section says what
 * was cut, and `notes` lists it too.
 *
 * Only regular files are read (a FIFO named CLAUDE.md cannot block brock).
 * Unreadable files are skipped with a note, not an error.
 *
 * Ownership: the set owns everything; memory_set_free() releases it.
 * Thread-safety: a set is read-only after memory_collect(). */
#ifndef BROCK_AGENT_MEMORY_H
#define BROCK_AGENT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"

#define MEMORY_MAX_FILE_BYTES ((size_t)64 * 1024)    /* default per-file cap */
#define MEMORY_MAX_TOTAL_BYTES ((size_t)256 * 1024)  /* default cap on all files */
#define MEMORY_MAX_IMPORT_DEPTH 5
#define MEMORY_MAX_FILES 256                         /* files in one set, imports included */

enum memory_kind { MEMORY_USER = 0, MEMORY_PROJECT, MEMORY_IMPORT };

struct memory_file {
    char *path;          /* absolute, resolved */
    enum memory_kind kind;
    size_t parent;       /* index of the importing file, or SIZE_MAX */
    unsigned depth;      /* 0 for user/project files, 1.. for imports */
    size_t size;         /* bytes on disk */
    size_t used;         /* bytes included (== size unless cut) */
    bool cut_total;      /* cut by the total cap (else by the per-file cap) */
    char *text;          /* the included bytes, NUL-terminated; valid UTF-8 (bad
                          * bytes and NULs became '?') */
};

struct memory_set {
    struct memory_file *files;
    size_t nfiles;
    char **notes;        /* "PATH: what happened" for cuts and skips */
    size_t nnotes;
    size_t max_file_bytes, max_total_bytes; /* the caps used */
};

struct memory_opts {
    const char *cwd;          /* NULL = getcwd() */
    const char *home;         /* NULL = fs_home_dir() */
    const char *config_home;  /* NULL = $XDG_CONFIG_HOME, else ~/.config */
    size_t max_file_bytes;    /* 0 = MEMORY_MAX_FILE_BYTES */
    size_t max_total_bytes;   /* 0 = MEMORY_MAX_TOTAL_BYTES */
    bool skip_user;           /* leave out the user's files */
};

/* Find and read the files. Fails only for a working directory that cannot be
 * found (BROCK_ERR_USAGE / BROCK_ERR_IO); an empty set is a valid result. */
enum brock_status memory_collect(const struct memory_opts *o, struct memory_set **out,
                                 struct brock_err *e) BROCK_WUR;

/* Append the system-prompt section: an introduction, then per file a header
 * naming its path and kind, its text, and a line saying what was cut.
 * Nothing is appended for an empty set. BROCK_ERR_TOO_LARGE if `out` fills. */
enum brock_status memory_render(const struct memory_set *set, struct buf *out);

void memory_set_free(struct memory_set *set); /* NULL is fine */

#endif
