/* repl.h - the interactive REPL (`brock` in a terminal): the pieces that need
 * no terminal, so they can be tested alone.
 *
 * The REPL itself is cmd_repl() (cli.h): a banner, then a loop of libedit
 * input lines, each either a slash command or one agent turn (agent.h) shown
 * as it happens: a spinner while waiting, the answer through the streaming
 * Markdown renderer, one line per tool call with its result, diffs of edits,
 * permission questions. docs/repl.md is the user's guide,
 * docs/internals/repl.md the design.
 *
 * Files: repl.c (start-up, the loop, signals, terminal modes), repl_edit.c
 * (libedit: prompt, history, continuation lines, Ctrl-C key, completion),
 * repl_view.c (agent events to the screen), repl_prompt.c (permission
 * questions), repl_slash.c (slash commands: the table, lookup, suggestions,
 * completion), repl_util.c (the other pure helpers: the command line, keys,
 * cost text, the history file, tool arguments, edit previews).
 *
 * Ownership: inputs are borrowed; results go into the caller's buffers or
 * are malloc'd where said. Everything here is reentrant (no state), except
 * the history file functions, which touch the file system. */
#ifndef BROCK_CLI_REPL_H
#define BROCK_CLI_REPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../agent/agent.h"
#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"

#define REPL_INPUT_MAX ((size_t)1024 * 1024)    /* one message typed or pasted (continued lines joined) */
#define REPL_HISTORY_MAX 1000                   /* history entries kept in memory and on disk */
#define REPL_HISTORY_ENTRY_MAX ((size_t)4096)   /* longer entries are not saved to the file */
#define REPL_HISTORY_FILE_MAX ((size_t)32 * 1024 * 1024) /* a bigger history file is not read */
#define REPL_HISTORY_FILE "history"             /* in the data directory (store_default_dir) */
#define REPL_DIFF_LINES 60                      /* diff lines shown per edit; the rest is counted */
#define REPL_RESUME_LIST 10                     /* sessions /resume lists */
#define REPL_COMMAND_NAME_MAX 32

/* ---- input ---------------------------------------------------------------- */

/* True when `line` (without its newline) ends in a backslash that continues
 * the message on the next line: an odd number of trailing backslashes. *keep
 * gets the length to keep (without that backslash). */
bool repl_line_continues(const char *line, size_t len, size_t *keep);

/* Strip one trailing "\n" (and a "\r" before it) from el_gets' line: the length left. */
size_t repl_chomp(const char *line, size_t len);

/* True when the text is only blanks (nothing to send). */
bool repl_blank(const char *s);

/* ---- slash commands ------------------------------------------------------- */

struct repl;

/* What a command does; `args` is the rest of the line, trimmed ("" if none). */
typedef void repl_command_fn(struct repl *r, const char *args);

struct repl_command {
    const char *name;   /* without the slash */
    const char *alias;  /* another name, or NULL */
    const char *usage;  /* "[NAME]" or "" */
    const char *help;
    repl_command_fn *fn;
};

/* The commands, sorted by name; *n gets the count. */
const struct repl_command *repl_commands(size_t *n);

/* Is `line` a slash command? A line starting with "/" (a leading blank
 * makes it a message) followed by a letter, then letters, digits, '-' or '_', then a blank or
 * the end ("/etc/hosts ..." is not: the name runs into a "/"). The name
 * (lowercased) goes to name[cap] (a longer one is still a command, cut),
 * the rest of the line, trimmed, to *args (malloc'd; free it). A line of
 * just "/" is the command "" (help). *args is NULL when not a command. */
bool repl_slash_parse(const char *line, char *name, size_t cap, char **args);

/* By name or alias (exact); NULL if unknown. */
const struct repl_command *repl_command_find(const char *name);
/* The command closest to a mistyped name (an alias counts), NULL when none is
 * close (edit distance at most 2, and less than the name's length). */
const struct repl_command *repl_command_suggest(const char *name);
/* Names (and aliases) starting with prefix, into out[max]; returns how many
 * match (may exceed max). */
size_t repl_command_complete(const char *prefix, const char **out, size_t max);

/* Edit distance of two short strings, a swap of neighbours counting one
 * (optimal string alignment); strings over 64 bytes count as far apart. */
size_t repl_edit_distance(const char *a, const char *b);

/* `brock WORD`: the command name WORD is probably a typo of, or NULL. Only
 * single words of letters and '-', at distance 1 (2 for names of 6 or more
 * letters), so `brock hello` is a prompt, `brock doctr` a typo. */
const char *repl_near_command(const char *word);

/* ---- permission answers --------------------------------------------------- */

enum repl_key {
    REPL_KEY_NONE = 0,   /* ignored key */
    REPL_KEY_YES,        /* 1, y, Y */
    REPL_KEY_ALWAYS,     /* 2, when a rule can be added */
    REPL_KEY_NO,         /* 3, n, N (and 2 without the "always" line): no, then ask for feedback */
    REPL_KEY_ESCAPE,     /* Esc, Ctrl-D: no, without feedback */
    REPL_KEY_INTERRUPT,  /* Ctrl-C: no, and stop the turn */
    REPL_KEY_UP,         /* arrow up, Ctrl-P, k */
    REPL_KEY_DOWN,       /* arrow down, Ctrl-N, j, Tab */
    REPL_KEY_ENTER,      /* Enter: the highlighted choice */
};

/* Map the bytes of one key press (a character or an escape sequence) to a
 * choice. The menu is "1. Yes  2. Yes, and don't ask again for RULE  3. No"
 * when a rule can be added (can_always), else "1. Yes  2. No". */
enum repl_key repl_key_decode(const char *seq, size_t n, bool can_always);

/* The choice at line `sel` (0-based) of that menu, and its length. */
enum repl_key repl_menu_choice(int sel, bool can_always);
int repl_menu_size(bool can_always);

/* What the agent is told for a final choice (YES, ALWAYS, NO, ESCAPE,
 * INTERRUPT); anything else is PERM_ANSWER_NONE. */
enum perm_answer repl_key_answer(enum repl_key k);

/* ---- /cost ------------------------------------------------------------------ */

struct repl_cost {
    struct agent_totals totals; /* summed over the session's agents */
    int64_t api_ms;             /* time in model calls */
    int64_t wall_ms;            /* since the REPL started */
    int turns;                  /* user turns */
    bool priced;                /* the model's prices are known */
};

/* "1.2s", "2m 3s", "1h 2m". */
void repl_format_duration(char *out, size_t cap, int64_t ms);
/* "950", "12,345". */
void repl_format_count(char *out, size_t cap, int64_t n);
/* The /cost text, several lines, each ending in "\n". */
void repl_format_cost(struct buf *out, const struct repl_cost *c);
/* One dim line after a turn with --verbose: "3 calls · 1,200 in · ..." */
void repl_format_turn(struct buf *out, const struct agent_turn *t);

/* ---- history file ----------------------------------------------------------- */

/* <data dir>/history: $BROCK_DATA_DIR, $XDG_DATA_HOME/brock or
 * ~/.local/share/brock (as the store). malloc'd. */
enum brock_status repl_history_path(char **out, struct brock_err *e) BROCK_WUR;

/* Read the file and call fn(ctx, entry) for its last REPL_HISTORY_MAX
 * entries, oldest first. A missing file is fine. One entry per line, with
 * "\\" and "\n" escaped as "\\\\" and "\\n" (other escapes are kept as
 * written). A file of more than twice REPL_HISTORY_MAX entries is rewritten
 * (atomically, 0600) with the last REPL_HISTORY_MAX. BROCK_ERR_TOO_LARGE past
 * REPL_HISTORY_FILE_MAX. */
enum brock_status repl_history_load(const char *path, void (*fn)(void *ctx, const char *entry), void *ctx,
                                    struct brock_err *e) BROCK_WUR;

/* Append one entry (escaped as above). The file and its directory are made
 * when missing (0600 / 0700); an existing file with group or other bits is
 * narrowed to 0600. Entries longer than REPL_HISTORY_ENTRY_MAX are skipped
 * (BROCK_OK), as are blank ones. A file past half REPL_HISTORY_FILE_MAX is cut
 * back to the last REPL_HISTORY_MAX entries at once. Concurrent REPLs append
 * whole lines (O_APPEND), so their entries interleave but never mix. */
enum brock_status repl_history_append(const char *path, const char *entry, struct brock_err *e) BROCK_WUR;

/* The entries of a history file's text, as repl_history_load: fn gets the
 * last REPL_HISTORY_MAX, oldest first. Returns the number of entries. */
size_t repl_history_parse(const char *text, size_t n, void (*fn)(void *ctx, const char *entry), void *ctx);

/* Escape / unescape one entry (appended to out). */
void repl_history_escape(struct buf *out, const char *s);
void repl_history_unescape(struct buf *out, const char *s, size_t n);

/* ---- tool calls ---------------------------------------------------------------- */

/* The argument shown in a tool-call line: the path (relative to cwd when
 * inside it) for file tools, the command for Bash, the pattern for Glob and
 * Grep, nothing for TodoWrite; for other tools the first string member.
 * Appended to out (raw: the renderer sanitises). */
void repl_tool_arg(const char *tool, const json_t *input, const char *cwd, struct buf *out);

/* `path` relative to `cwd` when inside it, else as is. Appended to out. */
void repl_rel_path(struct buf *out, const char *path, const char *cwd);

/* The unified diff an Edit, MultiEdit or Write would make (for the
 * permission question), appended to out, with `label` in the headers.
 * BROCK_ERR_NOT_FOUND when the edit cannot apply (old_string missing: the
 * tool will say so), BROCK_ERR_USAGE for another tool or a malformed input,
 * BROCK_ERR_TOO_LARGE for a file over TOOL_EDIT_MAX_BYTES. `path` is the
 * file to read (resolved); a missing file is empty (Write creates it). */
enum brock_status repl_edit_preview(const char *tool, const json_t *input, const char *path, const char *label,
                                    struct buf *out, struct brock_err *e) BROCK_WUR;
/* The same on the file's text (n bytes; "" for a file that does not exist). */
enum brock_status repl_edit_preview_text(const char *tool, const json_t *input, const char *text, size_t n,
                                         const char *label, struct buf *out, struct brock_err *e) BROCK_WUR;

#endif
