/* perm_int.h - the matching layer under perm.h: compiled rules, shell-command
 * analysis, glob matching and file reading. Shared by src/agent/perm*.c,
 * settings.c, memory.c, their tests and fuzz targets; not a public API.
 *
 * Ownership: every struct here owns its strings; the _free/_cleanup functions
 * release them and accept NULL / zeroed structs. */
#ifndef BROCK_AGENT_PERM_INT_H
#define BROCK_AGENT_PERM_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"
#include "../util/err.h"
#include "perm.h"

/* --- Tools ------------------------------------------------------------- */

enum perm_tool_class {
    PERM_TOOL_READ = 0, /* Read: a file */
    PERM_TOOL_SEARCH,   /* Glob, Grep, LS: a directory, governed by Read rules */
    PERM_TOOL_EDIT,     /* Edit, Write, MultiEdit, NotebookEdit: governed by Edit rules */
    PERM_TOOL_BASH,
    PERM_TOOL_TODO,     /* TodoWrite: always allowed */
    PERM_TOOL_MCP,      /* mcp__server__tool */
    PERM_TOOL_WEBFETCH, /* WebFetch: the URL's host vs domain: rules */
    PERM_TOOL_OTHER,
};
enum perm_tool_class perm_tool_class(const char *tool);

/* --- Rules ------------------------------------------------------------- */

enum perm_rule_kind {
    PERM_RULE_TOOL = 0, /* the bare tool name (or an empty / "*" specifier) */
    PERM_RULE_BASH,     /* Bash(pattern) */
    PERM_RULE_READ,     /* Read(path-pattern) */
    PERM_RULE_EDIT,     /* Edit(path-pattern) */
    PERM_RULE_MCP,      /* mcp__server, mcp__server__*, mcp__server__tool */
    PERM_RULE_DOMAIN,   /* WebFetch(domain:host) */
    PERM_RULE_SPEC,     /* any other Tool(spec): glob on the subject */
};

/* Where the path conventions point. All absolute and already resolved. */
struct perm_rule_ctx {
    const char *cwd;    /* "./x" and "x" */
    const char *home;   /* "~/x" (NULL: such rules are skipped) */
    const char *anchor; /* "/x": the settings file's root */
};

struct perm_rule {
    char *text;  /* as written, trimmed */
    char *tool;  /* "Bash", "mcp__github", ... */
    enum perm_rule_kind kind;
    char *pat;   /* Bash: collapsed pattern; SPEC/DOMAIN: specifier; MCP: server prefix */
    bool optional_tail; /* Bash: pattern ends in " *" that may also match nothing */
    /* Read / Edit */
    char *base;     /* resolved absolute directory the pattern is under */
    char **segs;    /* the remaining glob, split at '/' ("**" = any depth) */
    size_t nsegs;
    bool anywhere;  /* gitignore pattern without a slash: matches the name at any depth */
    bool dir_only;  /* trailing '/' */
    bool exact;     /* no wildcard at all: names one path (base) */
};

/* Parse one rule. BROCK_ERR_PARSE with the reason for a malformed rule. */
enum brock_status perm_rule_parse(const char *text, const struct perm_rule_ctx *ctx,
                                  struct perm_rule **out, struct brock_err *e);
void perm_rule_free(struct perm_rule *r);

/* Does a whole-tool rule, an MCP rule or a Read/Edit rule cover `tool`? For
 * path rules this only checks the family; the path is matched separately. */
bool perm_rule_covers_tool(const struct perm_rule *r, const char *tool, enum perm_tool_class cls);
/* Path rule vs a resolved absolute path. `is_dir`: the path is a directory;
 * `search`: it is the root of a search, so a rule whose last segment is all
 * stars (covering every entry in the directory) also counts. */
bool perm_rule_match_path(const struct perm_rule *r, const char *path, bool is_dir, bool search);
/* Bash pattern vs one canonical command string. */
bool perm_rule_match_command(const struct perm_rule *r, const char *cmd);
/* Generic specifier vs subject (SPEC, DOMAIN). */
bool perm_rule_match_subject(const struct perm_rule *r, const char *subject);

/* --- Glob matching ----------------------------------------------------- */

/* One path segment: `*` `?` `[...]` (`!`/`^` negates, ranges) and `\` escapes;
 * nothing matches '/'. */
bool perm_glob_segment(const char *pat, size_t plen, const char *s, size_t slen);
/* Whole strings where `*` matches anything (spaces and '/' included) and `\*`
 * is a literal star: the Bash rule matcher. */
bool perm_glob_text(const char *pat, const char *s);

/* --- Shell commands ---------------------------------------------------- */

struct perm_word {
    char *raw;      /* as written (quotes kept, line continuations removed) */
    char *val;      /* quotes removed, escapes applied */
    bool assign;    /* NAME=value */
    bool expands;   /* unquoted $, `, *, ?, [ or a leading ~ : the value is not literal */
};

struct perm_redirect {
    char *target;   /* the word after the operator, quotes removed */
    bool output;    /* >, >>, >|, &>, <> : writes */
    bool expands;
    size_t part;    /* index of the part it belongs to */
};

/* A simple command: words[first .. first+n). */
struct perm_part {
    size_t first, n;
};

struct perm_shell {
    struct perm_word *words;
    size_t nwords, capwords;
    struct perm_part *parts;
    size_t nparts, capparts;
    struct perm_redirect *redirs;
    size_t nredirs, capredirs;
    bool subst;        /* $( ), ` `, <( ), >( ), $(( )) anywhere (also in here-docs) */
    bool control;      /* for/case/select/function, [[ ]], (( )): structure we don't model */
    bool unchecked;    /* unterminated quote or here-doc, or a cap was hit */
};

#define PERM_SHELL_MAX_PARTS 512
#define PERM_SHELL_MAX_WORDS 8192
#define PERM_SHELL_MAX_DEPTH 64 /* nested $( ` " contexts */

/* Analyse a command. Never fails: problems set `unchecked`. Commands over
 * PERM_COMMAND_MAX_BYTES are only marked unchecked. Control keywords at the
 * start of a command (if then else elif do while until ! { time) are dropped,
 * closing ones (fi done } esac) end up as empty parts and are dropped. */
void perm_shell_parse(const char *cmd, size_t len, struct perm_shell *sh);
void perm_shell_cleanup(struct perm_shell *sh);

/* Canonical text of words [from, to) of the shell: raw (or val) words joined
 * by one space. `base_cmd`: the first word is reduced to its basename. */
char *perm_shell_join(const struct perm_shell *sh, size_t from, size_t to, bool use_val, bool base_cmd);

/* Where the command proper starts in a part, after NAME=value words and
 * wrapper commands. `deny`: also skip env, exec, command, builtin, sudo, doas
 * and every assignment (for deny/ask matching, where over-matching is safe);
 * otherwise only the harmless wrappers (timeout, time, nice, nohup, stdbuf)
 * and assignments to a short list of harmless variables (NODE_ENV, CI, ...).
 * Returns the word index (== end of part if nothing is left). */
size_t perm_shell_command_start(const struct perm_shell *sh, const struct perm_part *p, bool deny);

/* The rule "always allow" would propose for one part, e.g. "Bash(npm run test:*)"
 * or "Bash(rm -rf build)". NULL if none is safe to propose (assignments, an
 * expanded command name, or a command with a substitution or left unchecked). */
char *perm_shell_suggest(const struct perm_shell *sh, const struct perm_part *p);

/* --- Files ------------------------------------------------------------- */

/* Read a regular file (FIFOs, devices and directories are refused without
 * blocking) into out, at most `max` bytes. BROCK_ERR_NOT_FOUND if missing,
 * BROCK_ERR_TOO_LARGE over max (out then holds nothing), BROCK_ERR_IO
 * otherwise. With `trunc_ok` a larger file is read up to max and *full_size
 * says how big it was. dev/ino (may be NULL) identify the file. */
enum brock_status perm_read_regular(const char *path, size_t max, bool trunc_ok, struct buf *out,
                                    size_t *full_size, unsigned long long *dev,
                                    unsigned long long *ino, struct brock_err *e);

/* Parse JSON like json_parse() (util/json.h), but with messages that never
 * quote the input ("near 'token'" is dropped: the token may be a secret) and
 * with "\u0000" in strings refused. */
enum brock_status perm_json_load(const char *text, size_t len, const char *what, json_t **out,
                                 struct brock_err *e);

/* perm_resolve_path() for a `real_dir` that is already resolved (no symlinks,
 * no `..`): its components are not looked at again. */
enum brock_status perm_resolve_from(const char *real_dir, const char *path, char out[PERM_PATH_MAX],
                                    bool *is_dir, struct brock_err *e);

/* $XDG_CONFIG_HOME if absolute, else home + "/.config". New string or NULL. */
char *perm_config_home(const char *home);

/* True if `path` is `dir` or below it (both absolute, normalised). */
bool perm_path_under(const char *path, const char *dir);

#endif
