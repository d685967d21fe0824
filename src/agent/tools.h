/* tools.h - the agent's tools: Read, Write, Edit, MultiEdit, Glob, Grep, Bash,
 * LS and TodoWrite, with Claude Code's names and input shapes.
 *
 * A tool is one row of a constant table (struct tool_def): its name, the
 * description and JSON schema the model sees, flags, and three functions: the
 * permission subject, a one-line summary for the UI, and run. The agent loop
 * calls, per tool_use block:
 *
 *     const struct tool_def *t = tool_find(name);       // NULL: unknown tool
 *     struct buf why = BUF_INIT(4096);
 *     if (tool_validate(t, input, &why) != BROCK_OK)    // "Edit: `old_string` is required"
 *         ... send why as an is_error result ...
 *     char *subject = tool_subject(t, ctx, input);      // for the permission engine
 *     ... permission check ...
 *     struct tool_result r;
 *     tool_result_init(&r);
 *     tool_call(ctx, t, input, &r);                     // validates again, then runs
 *     ... r.text (is_error) goes back to the model, r.summary/r.diff to the UI ...
 *     tool_result_cleanup(&r);
 *
 * Errors the model should see (bad input, missing file, not found, non-zero
 * exit) are results with is_error set, never statuses; tool_call() returns
 * BROCK_OK, or BROCK_ERR_INTERRUPTED when the cancel flag stopped the tool
 * (the result then says so too). Result text is always valid UTF-8 (invalid
 * bytes from files or commands become U+FFFD).
 *
 * Paths: every path parameter must be absolute. Tools operate on the resolved
 * path (symlinks and `..` followed as the kernel would, a missing tail taken
 * lexically), which is also what tool_subject() returns, so the permission
 * check and the action see the same file.
 *
 * The session context (struct tool_ctx, opaque) holds the working directory,
 * the limits, the cancel flag, the file-state table behind the "read before
 * edit" rule (path -> size, mtime, SHA-256 of the content when the file was
 * last read or written by a tool), the Bash tool's persistent directory and
 * the todo list.
 *
 * Threads: tools flagged TOOL_CONCURRENT (Read, Glob, Grep, LS) may run at the
 * same time on one context; the others need the context to themselves (the
 * loop runs them one at a time). The file-state table and the todo list are
 * locked inside, so tool_ctx_todos() may be called from a UI thread at any
 * time. The table of tools is constant; its parsed schemas are built once,
 * on first use, under pthread_once.
 *
 * Bash environment: the command inherits brock's environment minus the
 * variables named by tool_ctx_set_env_drop() (by default the AWS credentials
 * and Bedrock API key variables, so a command cannot read the secrets brock
 * itself signs with: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN, AWS_BEARER_TOKEN_BEDROCK), plus
 * GIT_EDITOR=true, GIT_PAGER=cat and PAGER=cat so nothing waits for a
 * terminal. brock never adds credentials it resolved itself. The command runs
 * in a new session (no controlling terminal), stdin is /dev/null. */
#ifndef BROCK_AGENT_TOOLS_H
#define BROCK_AGENT_TOOLS_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"

/* Hard caps on input from the model, checked before any work. */
#define TOOL_PATH_MAX 4096                        /* a path parameter, in bytes */
#define TOOL_PATTERN_MAX 4096                     /* a Glob/Grep pattern or glob filter */
#define TOOL_COMMAND_MAX ((size_t)127 * 1024)     /* a Bash command (exec takes 128 KiB per argument) */
#define TOOL_TODO_MAX 100                         /* items in a TodoWrite list */
#define TOOL_TODO_TEXT_MAX 2000                   /* content / activeForm / id of one item */
#define TOOL_EDIT_MAX_BYTES ((size_t)16 * 1024 * 1024) /* largest file Edit/Write handle */

/* Result buffer caps (each tool keeps well below its own limit). */
#define TOOL_TEXT_MAX ((size_t)4 * 1024 * 1024)
#define TOOL_DIFF_MAX ((size_t)2 * 1024 * 1024)
#define TOOL_SUMMARY_MAX 160 /* characters in the summary line */

/* Per-session limits; tool_limits_default() gives the values in brackets. */
struct tool_limits {
    size_t read_max_lines;    /* [2000] lines Read returns without `limit` */
    size_t read_max_bytes;    /* [256 KiB] file size Read takes whole; also its output cap */
    size_t line_max_chars;    /* [2000] characters per line in Read output */
    size_t bash_max_output;   /* [30000] bytes of Bash output kept (head + tail) */
    int64_t bash_timeout_ms;  /* [120000] default Bash timeout */
    int64_t bash_timeout_max; /* [600000] largest timeout the model may ask for */
    int64_t bash_grace_ms;    /* [2000] SIGTERM -> SIGKILL delay on timeout/cancel */
    size_t glob_max_results;  /* [100] paths Glob returns */
    size_t grep_max_output;   /* [30000] bytes of Grep output */
    size_t grep_max_columns;  /* [500] characters of a line Grep prints */
    size_t grep_max_file;     /* [16 MiB] larger files are skipped (and named) */
    size_t ls_max_entries;    /* [1000] entries LS lists */
    size_t walk_max_entries;  /* [200000] directory entries one walk visits */
};
void tool_limits_default(struct tool_limits *l);

/* --- Session context --------------------------------------------------- */

struct tool_ctx;

/* A new context for `cwd` (made absolute and realpath'd; must be a directory).
 * lim NULL = defaults. The Bash tool starts in cwd. */
enum brock_status tool_ctx_new(const char *cwd, const struct tool_limits *lim, struct tool_ctx **out,
                               struct brock_err *e) BROCK_WUR;
void tool_ctx_free(struct tool_ctx *ctx); /* NULL is fine */

/* The flag set by the SIGINT handler; tools poll it (Bash every 50 ms, walks
 * per entry). NULL = never cancelled. Borrowed: must outlive the context. */
void tool_ctx_set_cancel(struct tool_ctx *ctx, volatile sig_atomic_t *flag);
/* Environment variable names removed from Bash's environment (copied; NULL
 * or an empty list = remove nothing). Replaces the default list. */
void tool_ctx_set_env_drop(struct tool_ctx *ctx, const char *const *names, size_t n);

const char *tool_ctx_cwd(const struct tool_ctx *ctx); /* borrowed, for the context's life */
/* Where the next Bash command starts (a `cd` moves it). Borrowed: valid until
 * the next Bash call. */
const char *tool_ctx_shell_cwd(const struct tool_ctx *ctx);

/* Forget what was read (e.g. after /clear or compaction): Edit and Write
 * then require a new Read. */
void tool_ctx_forget_files(struct tool_ctx *ctx);

enum tool_todo_status { TOOL_TODO_PENDING = 0, TOOL_TODO_IN_PROGRESS, TOOL_TODO_COMPLETED };
const char *tool_todo_status_name(enum tool_todo_status s); /* "pending", ... */

struct tool_todo {
    char *content;
    char *active_form; /* NULL if not given */
    char *id;          /* NULL if not given */
    enum tool_todo_status status;
};
/* A copy of the current todo list in *out (free with tool_todos_free);
 * returns the count. Safe from any thread. */
size_t tool_ctx_todos(const struct tool_ctx *ctx, struct tool_todo **out);
void tool_todos_free(struct tool_todo *t, size_t n);

/* --- Results ----------------------------------------------------------- */

struct tool_result {
    struct buf text;    /* for the model (tool_result content); valid UTF-8 */
    struct buf diff;    /* unified diff of a file change (Edit, MultiEdit, Write), else empty */
    struct buf summary; /* one line for the UI, e.g. "Read src/main.c (120 lines)" */
    bool is_error;      /* the tool failed; text says why */
    bool interrupted;   /* stopped by the cancel flag */
};
void tool_result_init(struct tool_result *r);
void tool_result_cleanup(struct tool_result *r); /* back to the init state; zeroed is fine */

/* --- The table --------------------------------------------------------- */

#define TOOL_READ_ONLY 0x1u  /* never changes files or runs commands */
#define TOOL_CONCURRENT 0x2u /* may run alongside other TOOL_CONCURRENT tools */

struct tool_def {
    const char *name;         /* Claude Code's name: "Read", "Edit", ... */
    const char *description;  /* what the model reads */
    const char *input_schema; /* JSON Schema text (type object, additionalProperties false) */
    unsigned flags;
    /* What permission rules match on, malloc'd (NULL: nothing, e.g. TodoWrite):
     * the resolved file path (Read, Write, Edit, MultiEdit), the resolved
     * directory searched (Glob: `path` plus the literal directory part of the
     * pattern; Grep, LS), the command (Bash). Input must have passed
     * tool_validate(); a relative path is resolved against the cwd. */
    char *(*subject)(const struct tool_ctx *ctx, const json_t *input);
    /* A short line naming the call before it runs ("Edit src/a.c"). */
    void (*summary)(const struct tool_ctx *ctx, const json_t *input, struct buf *out);
    /* Run with validated input; fills out (text, is_error, diff, summary). */
    enum brock_status (*run)(struct tool_ctx *ctx, const json_t *input, struct tool_result *out);
};

/* All tools, in a stable order. */
const struct tool_def *tool_list(size_t *n);
/* By exact name; NULL if unknown. */
const struct tool_def *tool_find(const char *name);
/* The parsed input schema (borrowed, lives for the process). */
const json_t *tool_schema(const struct tool_def *t);
/* [{"name","description","input_schema"}, ...] for the Messages API "tools"
 * field (new reference). */
json_t *tool_specs_json(void);

/* Check input against the tool's schema: an object, required keys present,
 * no unknown keys, types, enums, ranges, lengths (JSON null for an optional
 * key counts as absent). On failure returns BROCK_ERR_USAGE with one line per
 * problem (at most 8) in msg, e.g. "Edit: `old_string` is required". */
enum brock_status tool_validate(const struct tool_def *t, const json_t *input, struct buf *msg);

/* t->subject / t->summary, tolerating a NULL function. */
char *tool_subject(const struct tool_def *t, const struct tool_ctx *ctx, const json_t *input);
void tool_summary(const struct tool_def *t, const struct tool_ctx *ctx, const json_t *input,
                  struct buf *out);

/* Validate, then run. A validation failure becomes an is_error result. When
 * the tool leaves no summary, the pre-run summary is used. */
enum brock_status tool_call(struct tool_ctx *ctx, const struct tool_def *t, const json_t *input,
                            struct tool_result *out);
/* The same by name; an unknown name is an is_error result naming the tools. */
enum brock_status tool_call_named(struct tool_ctx *ctx, const char *name, const json_t *input,
                                  struct tool_result *out);

#endif
