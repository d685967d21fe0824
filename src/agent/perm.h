/* perm.h - may this tool call run? Claude Code's permission rules and modes.
 *
 * Rules are Claude Code's: `Tool` (every use) or `Tool(specifier)`; see the
 * examples just below (written as // lines: they contain slash-stars). */
//
//   Bash(npm run test:*)   prefix with a word boundary: "npm run test", "npm run test -- -w"
//   Bash(git * main)       `*` matches any text, spaces included; a lone trailing " *"
//                          is optional ("ls *" matches "ls" and "ls -la", not "lsof")
//   Bash(git diff)         exactly that command (after redirections are set aside)
//   Read(src/**) Edit(//abs/**) Edit(~/notes/*.md) Edit(/docs/**)
//                          gitignore-style; `//` absolute, `~/` home, `/` the settings
//                          file's anchor (project root; ~/.config/brock for the user
//                          file), `./x` or `x/y` the working directory; a pattern with no
//                          slash (`*.env`) matches at any depth. Edit rules also cover
//                          Write, MultiEdit and NotebookEdit; Read rules cover Glob,
//                          Grep and LS (on the directory they search).
//   mcp__github            every tool of that MCP server; mcp__github__create_issue one.
//
/*
 * A malformed rule is skipped with a warning naming its file and position (as
 * Claude Code does); the run goes on. docs/permissions.md has the details.
 *
 * Evaluation of one call, first match wins:
 *   1. a deny rule                                  -> deny
 *   2. a built-in secret path (perm_path_is_secret)  -> deny, unless an allow rule
 *      names exactly that path (no wildcard)
 *   3. plan mode and the tool is not read-only      -> deny ("plan mode is read-only")
 *   4. an ask rule                                  -> ask
 *   5. an allow rule (Bash: every part of a compound command; never for a command
 *      with $(...), `...`, <(...) unless the rule is the bare tool name) -> allow
 *   6. the mode: bypassPermissions allows; otherwise read-only tools inside the
 *      workspace (working directory + additional directories) are allowed, edits
 *      inside it are allowed in acceptEdits mode (never under .git, .brock,
 *      .claude, .vscode, .idea), everything else asks.
 *   7. non-interactive (-p): ask becomes deny, with a message saying how to
 *      allow it.
 * Every path is resolved first (perm_resolve_path): `..` and symlinks cannot
 * leave the workspace unnoticed.
 *
 * Ownership: the engine copies what it needs from the settings (which may be
 * freed afterwards). A decision owns its strings; perm_decision_cleanup()
 * frees them. Thread-safety: perm_check() only reads the engine; perm_answer()
 * with PERM_ANSWER_ALWAYS and perm_engine_set_mode() write it. Use one engine
 * from one thread at a time, or lock around those two. */
#ifndef BROCK_AGENT_PERM_H
#define BROCK_AGENT_PERM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"

struct settings;

/* Caps on input from outside (rules, commands and paths come from files and
 * from the model). */
#define PERM_RULE_MAX_BYTES 4096             /* one rule string */
#define PERM_MAX_RULES 10000                 /* rules in one engine */
#define PERM_COMMAND_MAX_BYTES (256 * 1024)  /* a Bash command; longer ones always ask */
#define PERM_PATH_MAX 4096                   /* a path, before and after resolution */
#define PERM_MAX_SUGGEST 8                   /* rules one "always" answer may add */

enum perm_mode {
    PERM_MODE_DEFAULT = 0, /* "default" */
    PERM_MODE_ACCEPT_EDITS, /* "acceptEdits" */
    PERM_MODE_PLAN,         /* "plan" */
    PERM_MODE_BYPASS,       /* "bypassPermissions" */
    PERM_MODE_COUNT
};

/* Claude Code's names. perm_mode_parse() is exact (case-sensitive). */
const char *perm_mode_name(enum perm_mode m);
bool perm_mode_parse(const char *s, enum perm_mode *out);

/* Which list a rule is in. */
enum perm_list { PERM_LIST_ALLOW = 0, PERM_LIST_ASK, PERM_LIST_DENY, PERM_LIST_COUNT };
const char *perm_list_name(enum perm_list l); /* "allow", "ask", "deny" */

/* --- Rule syntax ------------------------------------------------------- */

/* Check one rule string without an engine. BROCK_OK, or BROCK_ERR_PARSE with
 * a message saying what is wrong ("`:*` must be at the end of a Bash rule").
 * The message quotes at most the first 200 bytes of the rule. */
enum brock_status perm_rule_check(const char *rule, struct brock_err *e);

/* Split a --allowedTools / --disallowedTools value into rules: commas and
 * blanks separate rules, except inside parentheses ("Bash(git log:*) Edit" is
 * two rules, "Bash(npm run test:*)" one). Calls `fn` for each rule with a
 * NUL-terminated copy; stops at the first non-OK status and returns it. An
 * unbalanced ')' or a missing ')' is BROCK_ERR_USAGE. */
enum brock_status perm_split_rule_list(const char *text,
                                       enum brock_status (*fn)(void *ctx, const char *rule,
                                                               struct brock_err *e),
                                       void *ctx, struct brock_err *e);

/* --- Paths ------------------------------------------------------------- */

/* Resolve `path` (relative to `cwd`, which must be absolute) the way the
 * kernel would: symlinks followed, `.` and `..` applied to the real
 * directories, and the part that does not exist yet taken lexically. Writes
 * the absolute result into out (a PERM_PATH_MAX buffer). *is_dir (may be NULL)
 * tells whether the result is an existing directory. Errors: BROCK_ERR_USAGE
 * for an empty path or a relative cwd, BROCK_ERR_TOO_LARGE past PERM_PATH_MAX,
 * BROCK_ERR_IO for a symlink loop (more than 40 links). "~" is not expanded. */
enum brock_status perm_resolve_path(const char *cwd, const char *path, char out[PERM_PATH_MAX],
                                    bool *is_dir, struct brock_err *e);

/* True if the resolved absolute `path` is one of brock's built-in secret
 * locations: ~/.aws, ~/.ssh, ~/.gnupg, ~/.config/gcloud, ~/.azure, ~/.kube
 * (the directories and everything in them), ~/.docker/config.json, ~/.netrc,
 * ~/.git-credentials, ~/.npmrc, ~/.pypirc, ~/.config/gh/hosts.yml,
 * ~/.claude/.credentials.json, $XDG_CONFIG_HOME/brock/credentials*, and any
 * file (not directory) named .env or .env.* except .env.example, .sample,
 * .template, .dist, .defaults. `home` and `config_home` must be resolved
 * (NULL = not known). May stat(2) the path. */
bool perm_path_is_secret(const char *path, const char *home, const char *config_home);

/* --- The engine -------------------------------------------------------- */

struct perm_env {
    const char *cwd;         /* working directory = project root; NULL = getcwd() */
    const char *home;        /* NULL = fs_home_dir() */
    const char *config_home; /* NULL = $XDG_CONFIG_HOME, else ~/.config */
    bool interactive;        /* false for -p: nothing is asked */
    const struct clock *clock; /* decision times; NULL = the real clock */
};

struct perm_engine;

/* Build an engine from merged settings (settings.h): rules in file order,
 * mode, additional directories. Malformed rules are skipped and listed in
 * perm_engine_warning(). Fails (BROCK_ERR_CONFIG) if bypassPermissions was
 * requested while a settings file disables it. */
enum brock_status perm_engine_new(const struct settings *s, const struct perm_env *env,
                                  struct perm_engine **out, struct brock_err *e) BROCK_WUR;
void perm_engine_free(struct perm_engine *pe); /* NULL is fine */

enum perm_mode perm_engine_mode(const struct perm_engine *pe);
/* Switch modes during a session (e.g. the REPL's mode key). Switching to
 * bypassPermissions is refused (BROCK_ERR_USAGE) unless it was enabled at
 * start (by flag or setting) and not disabled by a settings file. */
enum brock_status perm_engine_set_mode(struct perm_engine *pe, enum perm_mode m, struct brock_err *e);

/* The working directory and additional directories, resolved. */
const char *perm_engine_cwd(const struct perm_engine *pe);
size_t perm_engine_dir_count(const struct perm_engine *pe);
const char *perm_engine_dir(const struct perm_engine *pe, size_t i);

/* Warnings about skipped rules and directories, for the user. Borrowed. */
size_t perm_engine_warning_count(const struct perm_engine *pe);
const char *perm_engine_warning(const struct perm_engine *pe, size_t i);

/* The active rules, for /permissions. Borrowed until the engine changes. */
struct perm_rule_info {
    const char *text;   /* as written */
    enum perm_list list;
    const char *source; /* settings file path, "command line" or "session" */
};
size_t perm_engine_rule_count(const struct perm_engine *pe);
bool perm_engine_rule(const struct perm_engine *pe, size_t i, struct perm_rule_info *out);

/* --- Decisions --------------------------------------------------------- */

enum perm_verdict { PERM_ALLOW = 0, PERM_ASK, PERM_DENY };
const char *perm_verdict_name(enum perm_verdict v); /* "allow", "ask", "deny" */

/* What decided. */
enum perm_why {
    PERM_WHY_RULE = 0,      /* rule / rule_list / rule_source say which */
    PERM_WHY_SECRET,        /* a built-in secret path */
    PERM_WHY_PLAN,          /* plan mode is read-only */
    PERM_WHY_MODE,          /* the mode's default (see mode) */
    PERM_WHY_OUTSIDE,       /* a path outside the workspace */
    PERM_WHY_SUBSTITUTION,  /* command substitution: no allow rule can match */
    PERM_WHY_UNCHECKABLE,   /* a command too long or too complex to check, or a bad path */
    PERM_WHY_NONINTERACTIVE,/* would ask, but nothing can be asked (-p) */
    PERM_WHY_USER,          /* the user answered */
};
const char *perm_why_name(enum perm_why w);

enum perm_answer {
    PERM_ANSWER_NONE = 0, /* not asked (or not answered yet) */
    PERM_ANSWER_YES,      /* yes, this once */
    PERM_ANSWER_ALWAYS,   /* yes, and don't ask again: adds the suggested rules */
    PERM_ANSWER_NO,       /* no (feedback goes back to the model) */
};
const char *perm_answer_name(enum perm_answer a);

/* A decision record: what the session store persists. All strings are owned
 * (NULL when not applicable). */
struct perm_decision {
    char *tool;
    char *subject;     /* the command, path or URL as given; NULL if none */
    char *resolved;    /* the resolved path for file tools (operate on this one) */
    enum perm_verdict verdict; /* final: ASK until answered, then ALLOW or DENY */
    enum perm_why why;
    bool asked;        /* the rules said ask (in -p mode: refused instead) */
    char *rule;        /* the deciding rule, as written */
    enum perm_list rule_list;
    char *rule_source; /* its file, "command line", "session" or "built-in" */
    enum perm_mode mode;
    char *message;     /* one paragraph for the user / the model: what and why */
    char *suggest[PERM_MAX_SUGGEST]; /* rules "always" would add (may be 0) */
    size_t nsuggest;
    enum perm_answer answer;
    char *feedback;    /* the user's words with a "no" */
    int64_t time_ms;   /* when it was decided (and updated when answered) */
};

/* Decide one call. `subject` is the Bash command, the file path (Read, Edit,
 * Write, MultiEdit, NotebookEdit), the directory searched (Glob, Grep, LS;
 * NULL = the working directory), the URL (WebFetch), or NULL. Always fills
 * `d` (call perm_decision_cleanup() later) and returns d->verdict. */
enum perm_verdict perm_check(const struct perm_engine *pe, const char *tool, const char *subject,
                             struct perm_decision *d);

/* The same, with the subject taken from the tool's input object as Claude
 * Code's tools name it: command, file_path, notebook_path, path (+ the
 * literal directory part of Glob's pattern), url. */
enum perm_verdict perm_check_input(const struct perm_engine *pe, const char *tool,
                                   const json_t *input, struct perm_decision *d);

/* Record the user's answer to an ASK decision. YES and ALWAYS make it ALLOW,
 * NO makes it DENY (feedback may be NULL). ALWAYS adds d->suggest to the
 * engine's allow list and to `.brock/settings.local.json` in the working
 * directory (created 0600 if new, else its mode is kept; written atomically
 * under a lock, other content preserved). With no suggestion ALWAYS is
 * BROCK_ERR_USAGE and nothing changes. */
enum brock_status perm_answer(struct perm_engine *pe, struct perm_decision *d, enum perm_answer a,
                              const char *feedback, struct brock_err *e) BROCK_WUR;

void perm_decision_cleanup(struct perm_decision *d); /* NULL and zeroed are fine */

/* The record as JSON (new reference): {"tool","subject","resolved","decision",
 * "why","asked","rule","rule_list","rule_source","mode","message","suggest",
 * "answer","feedback","time_ms"}, absent strings omitted. */
json_t *perm_decision_json(const struct perm_decision *d);

/* Add an allow rule to an existing settings file's permissions.allow (kept
 * once), creating the file (mode 0600) and its directory if needed. Other
 * keys are preserved (formatting is not: the file is rewritten with two-space
 * indentation). Atomic, under an flock on the directory. */
enum brock_status perm_settings_add_allow(const char *path, const char *const *rules, size_t n,
                                          struct brock_err *e) BROCK_WUR;

#endif
