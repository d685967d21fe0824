/* tool_int.h - what the tool files share: the context layout, argument
 * getters, result helpers, paths, UTF-8, the file-state table, glob and
 * gitignore matching, the directory walker and the unified diff.
 *
 * Not a public header: only src/agent/tools.c, src/agent/tools/tool_*.c, the
 * tool tests and the tool fuzz targets include it. */
#ifndef BROCK_AGENT_TOOL_INT_H
#define BROCK_AGENT_TOOL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../../aws/crypto.h"
#include "../tools.h"

/* --- Context ----------------------------------------------------------- */

struct tool_fstate {
    char *path;             /* resolved absolute path */
    off_t size;
    struct timespec mtime;
    dev_t dev;
    ino_t ino;
    bool has_hash;          /* false when the file was too big to hash */
    uint8_t hash[SHA256_LEN];
    uint64_t stamp;         /* for eviction: larger = more recent */
};

#define TOOL_FSTATE_MAX 4096 /* files remembered; the oldest is forgotten */

struct tool_ctx {
    char *cwd;
    size_t cwd_len;
    struct tool_limits lim;
    volatile sig_atomic_t *cancel;
    mode_t umask;           /* the process umask, read once */
    pthread_mutex_t mu;     /* guards files and todos */
    struct tool_fstate *files;
    size_t nfiles, capfiles;
    uint64_t stamp;
    struct tool_todo *todos;
    size_t ntodos;
    char *shell_cwd;        /* Bash's persistent directory */
    const char *shell;      /* "/bin/bash", else "/bin/sh" */
    char **env_drop;
    size_t n_env_drop;
};

static inline bool tool_cancelled(const struct tool_ctx *ctx)
{
    return ctx->cancel && *ctx->cancel;
}

/* --- Arguments (input already validated) ------------------------------- */

/* String member, NULL if absent or null. *len (may be NULL) gets the length,
 * which may exceed strlen when the string holds NUL bytes. */
const char *tool_arg_str(const json_t *in, const char *key, size_t *len);
bool tool_arg_bool(const json_t *in, const char *key, bool dflt);
int64_t tool_arg_int(const json_t *in, const char *key, int64_t dflt);
bool tool_arg_has(const json_t *in, const char *key);

/* --- Results ----------------------------------------------------------- */

/* Set an is_error result with the formatted text; returns BROCK_OK. */
enum brock_status tool_fail(struct tool_result *r, const char *fmt, ...) BROCK_PRINTF(2, 3);
/* Set the summary line (truncated to TOOL_SUMMARY_MAX characters, one line). */
void tool_set_summary(struct tool_result *r, const char *fmt, ...) BROCK_PRINTF(2, 3);
/* Append to a summary-like buffer, flattening newlines and cutting at
 * `max` characters with an ellipsis. */
void tool_add_short(struct buf *b, const char *s, size_t n, size_t max);

/* --- Paths ------------------------------------------------------------- */

/* The absolute, resolved form of `path` (relative ones are joined to cwd):
 * symlinks and `..` of existing directories followed (realpath), the part
 * that does not exist yet normalised lexically. Always succeeds (malloc'd). */
char *tool_path_resolve(const char *cwd, const char *path);
/* Check a path parameter: present, absolute, no NUL, within TOOL_PATH_MAX.
 * On failure fills r with an is_error result and returns false. */
bool tool_check_path(const struct tool_ctx *ctx, const char *tool, const char *param,
                     const char *path, size_t len, struct tool_result *r);
/* `abs` shown relative to the working directory when inside it ("." for the
 * cwd itself), else as is. Points into abs or to a literal. */
const char *tool_path_show(const struct tool_ctx *ctx, const char *abs);

/* --- UTF-8 ------------------------------------------------------------- */

/* Length of the longest valid UTF-8 prefix of p[0..n). */
size_t tool_utf8_valid(const char *p, size_t n);
/* Append p[0..n) with every invalid sequence replaced by U+FFFD. */
void tool_utf8_add(struct buf *b, const char *p, size_t n);
/* Decode one code point at s (n > 0 bytes left); returns its length (1 for an
 * invalid byte, whose value is then returned in *cp). */
size_t tool_utf8_dec(const char *s, size_t n, uint32_t *cp);

/* --- Files ------------------------------------------------------------- */

/* Read a regular file whole (at most max bytes, else BROCK_ERR_TOO_LARGE);
 * st gets its fstat. Errors: BROCK_ERR_NOT_FOUND, BROCK_ERR_IO ("is a
 * directory", permission), with the path in the message. */
enum brock_status tool_load_file(const char *path, size_t max, struct buf *out, struct stat *st,
                                 struct brock_err *e);

/* Remember a file as read or written: its stat and, if content is non-NULL,
 * the SHA-256 of content[0..n). */
void tool_fstate_record(struct tool_ctx *ctx, const char *path, const struct stat *st,
                        const uint8_t *hash);

enum tool_fcheck { TOOL_FCHECK_OK = 0, TOOL_FCHECK_NOT_READ, TOOL_FCHECK_CHANGED };
/* May a tool change `path` now? Compared with what was recorded: the same
 * content hash (when both are known), else the same size, mtime and inode.
 * content (may be NULL) is the file as it is now. */
enum tool_fcheck tool_fstate_check(struct tool_ctx *ctx, const char *path, const struct stat *st,
                                   const char *content, size_t n);
/* The messages the model gets for NOT_READ / CHANGED. */
const char *tool_fcheck_message(enum tool_fcheck c);

/* Write data to the resolved path atomically (temp file in the same
 * directory, fsync, rename). Keeps the mode of an existing file (st non-NULL),
 * else 0666 & ~umask; creates missing parent directories. Records the new
 * file state. */
enum brock_status tool_write_file(struct tool_ctx *ctx, const char *path, const char *data,
                                  size_t n, const struct stat *old, struct brock_err *e);

/* Lines of text as `cat -n` does: "%6zu\t<line>\n", lines [first, last]
 * (1-based, inclusive), each cut at max_chars characters. '\r' before '\n' is
 * dropped. Output stays valid UTF-8. */
void tool_cat_n(struct buf *out, const char *p, size_t n, size_t first, size_t last,
                size_t max_chars);
/* Number of lines (a last line without '\n' counts). */
size_t tool_count_lines(const char *p, size_t n);
/* True if the first block (8 KiB) looks binary: a NUL byte or invalid UTF-8
 * (a sequence cut by the end of the block is fine). */
bool tool_looks_binary(const char *p, size_t n);

/* --- Matching (tool_match.c) ------------------------------------------- */

/* One path segment against one pattern segment: `*`, `?`, `[...]` (ranges,
 * `!`/`^` negation, [:alpha:]-style classes), `\` escapes. Code points, not
 * bytes. No special meaning for '/'. */
bool tool_wild_seg(const char *pat, size_t pn, const char *s, size_t sn);
/* A '/'-separated pattern against a '/'-separated path: `*`, `?` and classes
 * stay within a segment; a segment that is exactly `**` matches any number of
 * segments (at least one when it is the last). prefix: true if some path
 * *below* s could match (for pruning directories). */
bool tool_wild_path(const char *pat, size_t pn, const char *s, size_t sn, bool prefix);
/* True if the text has a glob metacharacter (* ? [ {). */
bool tool_has_glob_meta(const char *s, size_t n);

#define TOOL_BRACE_MAX 256 /* alternatives one pattern may expand to */
/* Expand {a,b} alternatives (nested, `\` escapes kept). A brace without a
 * comma or without its closing brace is literal. Appends malloc'd strings to
 * *out and *n. BROCK_ERR_TOO_LARGE past TOOL_BRACE_MAX. */
enum brock_status tool_brace_expand(const char *pat, size_t pn, char ***out, size_t *n,
                                    struct brock_err *e);
void tool_strv_free(char **v, size_t n);

/* A parsed .gitignore (or .git/info/exclude). */
#define TOOL_IGNORE_FILE_MAX ((size_t)1024 * 1024)
#define TOOL_IGNORE_RULES_MAX 10000

#define TOOL_IGN_NEGATE 0x1u
#define TOOL_IGN_DIR 0x2u
#define TOOL_IGN_ANCHORED 0x4u
struct tool_ign_rule {
    const char *pat; /* into text */
    size_t len;
    unsigned flags;
};
struct tool_ignore {
    char *base;      /* the directory the file applies to (absolute, no trailing '/') */
    size_t base_len;
    char *text;      /* owned copy of the file, patterns point into it */
    struct tool_ign_rule *rules;
    size_t n;
};
/* Parse gitignore text for directory `base`. NULL if it holds no rule. */
struct tool_ignore *tool_ignore_parse(const char *text, size_t n, const char *base);
void tool_ignore_free(struct tool_ignore *ig);
/* rel: the path relative to ig->base. 1 ignored, -1 re-included by a `!`
 * rule, 0 no rule matched. The last matching rule decides. */
int tool_ignore_match(const struct tool_ignore *ig, const char *rel, size_t rn, bool is_dir);

/* --- Walker (tool_walk.c) ---------------------------------------------- */

enum tool_walk_kind { TOOL_WALK_FILE = 0, TOOL_WALK_DIR, TOOL_WALK_LINK, TOOL_WALK_OTHER };
enum tool_walk_verdict { TOOL_WALK_CONTINUE = 0, TOOL_WALK_SKIP, TOOL_WALK_STOP };

struct tool_walk {
    const char *root;        /* absolute directory */
    bool gitignore;          /* honour .gitignore files (and the repo's info/exclude) */
    int max_depth;           /* 0 = unlimited; 1 = the root's entries only */
    size_t max_entries;      /* stop after this many entries (truncated = true) */
    volatile sig_atomic_t *cancel;
    /* Each entry except the root, in name order, depth-first; a directory is
     * visited before its contents and entered unless SKIP is returned. rel is
     * relative to root; abs is valid for the call only. */
    enum tool_walk_verdict (*visit)(void *ud, const char *abs, const char *rel, size_t rel_len,
                                    enum tool_walk_kind kind, int depth);
    void *ud;
    /* out */
    size_t visited;
    bool truncated, cancelled;
};
/* VCS metadata directories (.git, .hg, .svn, .bzr, .jj, .sl) are never
 * visited; ignored entries are not visited. Unreadable directories are
 * skipped silently. Fails only if root cannot be opened. */
enum brock_status tool_walk_run(struct tool_walk *w, struct brock_err *e);

/* --- Diff (tool_diff.c) ------------------------------------------------ */

#define TOOL_DIFF_CONTEXT 3
/* Line diff of a -> b as a unified diff ("--- label_a", "+++ label_b", hunks
 * with 3 lines of context, "\ No newline at end of file" where needed).
 * Nothing is appended when a and b are equal. *added / *removed (may be NULL)
 * get the changed line counts. */
void tool_diff_unified(struct buf *out, const char *a, size_t an, const char *b, size_t bn,
                       const char *label_a, const char *label_b, size_t *added, size_t *removed);

/* "a/rel" (side "a/" or "b/") for a path inside the working directory, else
 * the path itself; malloc'd, valid UTF-8. */
char *tool_diff_label(const struct tool_ctx *ctx, const char *real, const char *side);

/* --- The tools --------------------------------------------------------- */

#define TOOL_DECL(x)                                                                               \
    extern const char tool_##x##_desc[];                                                           \
    extern const char tool_##x##_schema[];                                                         \
    char *tool_##x##_subject(const struct tool_ctx *ctx, const json_t *input);                     \
    void tool_##x##_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out);     \
    enum brock_status tool_##x##_run(struct tool_ctx *ctx, const json_t *input,                    \
                                     struct tool_result *out)

TOOL_DECL(read);
TOOL_DECL(write);
TOOL_DECL(edit);
TOOL_DECL(multiedit);
TOOL_DECL(glob);
TOOL_DECL(grep);
TOOL_DECL(bash);
TOOL_DECL(ls);
TOOL_DECL(todo);

/* Subject helpers shared by the file tools. */
char *tool_subject_file_path(const struct tool_ctx *ctx, const json_t *input);
char *tool_subject_dir_path(const struct tool_ctx *ctx, const json_t *input);

#endif
