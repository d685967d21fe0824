/* settings.h - brock's settings files, merged in Claude Code's way.
 *
 * Files, lowest to highest precedence (a missing file is fine):
 *
 *   user           $XDG_CONFIG_HOME/brock/settings.json (~/.config/brock/settings.json)
 *   project        .claude/settings.json, then .brock/settings.json
 *   local          .claude/settings.local.json, then .brock/settings.local.json
 *   command line   --allowedTools, --disallowedTools, --permission-mode, --add-dir
 *
 * The project root is the working directory brock was started in; brock does
 * not search parent directories for .brock/ (Claude Code does not either).
 *
 * Keys (Claude Code's names):
 *   permissions.allow / .ask / .deny   arrays of rule strings (perm.h); lists
 *                                      from every file are concatenated
 *   permissions.defaultMode            "default" | "acceptEdits" | "plan" |
 *                                      "bypassPermissions"; the highest file wins.
 *                                      bypassPermissions from a project file (which
 *                                      a cloned repository controls) is ignored
 *                                      with a warning; user, local and the flag count.
 *   permissions.additionalDirectories  array of directories (relative to the working
 *                                      directory, `~/` allowed); concatenated
 *   permissions.disableBypassPermissionsMode  "disable": bypassPermissions is refused
 *   env                                object of strings; merged key by key
 *   model                              string; the highest file wins
 *   hooks                              {"PreToolUse": [{matcher, hooks: [{type,
 *                                      command, timeout}]}], ...}: checked, then
 *                                      each event's array concatenated across files
 *   brock                              object kept as raw JSON; merged key by key
 *
 * Unknown keys are ignored (forward compatible). A known key with a value of
 * the wrong type is BROCK_ERR_CONFIG "PATH:LINE:COL: permissions.allow[2]:
 * expected a string, found number"; malformed JSON is BROCK_ERR_PARSE with
 * jansson's position; an unreadable file is BROCK_ERR_IO naming it. Values are
 * never quoted in messages (env may hold secrets). A malformed permission rule
 * is not an error: it is skipped and listed in `warnings` with its position,
 * as Claude Code does. An empty file counts as {}.
 *
 * Ownership: a `struct settings` owns everything it points to; read the fields,
 * don't change them. settings_free() releases it. Not locked: load it once,
 * then any number of threads may read it. After a failed call, discard it. */
#ifndef BROCK_AGENT_SETTINGS_H
#define BROCK_AGENT_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "perm.h"

#define SETTINGS_MAX_FILE_BYTES ((size_t)1024 * 1024) /* one settings file */
#define SETTINGS_MAX_RULES 4096                       /* rules in one file */
#define SETTINGS_MAX_DIRS 256                         /* additionalDirectories, all files */

enum settings_scope {
    SETTINGS_USER = 0,
    SETTINGS_PROJECT_CLAUDE, /* .claude/settings.json */
    SETTINGS_PROJECT,        /* .brock/settings.json */
    SETTINGS_LOCAL_CLAUDE,   /* .claude/settings.local.json */
    SETTINGS_LOCAL,          /* .brock/settings.local.json */
    SETTINGS_CLI,            /* command-line flags */
    SETTINGS_SCOPE_COUNT
};
const char *settings_scope_name(enum settings_scope s); /* "user", "project", "local", "command line" */

struct settings_source {
    char *path;    /* the file, or "command line" */
    char *anchor;  /* the directory "/x" path rules are relative to */
    bool present;  /* the file was there and loaded */
};

struct settings_rule {
    char *text;               /* as written */
    enum perm_list list;
    enum settings_scope scope;
    unsigned index;           /* position in its array, 0-based */
};

struct settings_dir {
    char *path;               /* as written */
    enum settings_scope scope;
};

struct settings {
    char *cwd;                /* working directory = project root (absolute) */
    char *home;               /* may be NULL */
    char *config_home;        /* $XDG_CONFIG_HOME or ~/.config; may be NULL */
    struct settings_source src[SETTINGS_SCOPE_COUNT];

    struct settings_rule *rules; /* in precedence order: user first, command line last */
    size_t nrules, caprules;
    struct settings_dir *dirs;
    size_t ndirs, capdirs;

    bool mode_set;
    enum perm_mode mode;
    enum settings_scope mode_scope;
    bool bypass_disabled;
    enum settings_scope bypass_disabled_scope;

    char *model;              /* NULL if no file sets it */
    enum settings_scope model_scope;
    json_t *env;              /* object of strings (never NULL) */
    json_t *hooks;            /* object: event -> array (never NULL) */
    json_t *brock;            /* object (never NULL) */

    char **warnings;          /* skipped rules, ignored values; for the user */
    size_t nwarnings;
};

struct settings_opts {
    const char *cwd;         /* NULL = getcwd() */
    const char *home;        /* NULL = fs_home_dir() */
    const char *user_file;   /* NULL = $XDG_CONFIG_HOME/brock/settings.json */
};

/* Empty settings with every file location worked out (no file is read). */
enum brock_status settings_new(const struct settings_opts *o, struct settings **out,
                               struct brock_err *e) BROCK_WUR;
/* settings_new, then every file in precedence order. */
enum brock_status settings_load(const struct settings_opts *o, struct settings **out,
                                struct brock_err *e) BROCK_WUR;
/* Read one scope's file and merge it (missing = fine). */
enum brock_status settings_load_file(struct settings *s, enum settings_scope scope,
                                     struct brock_err *e) BROCK_WUR;
/* Merge a document as if it were that scope's file (tests, fuzzing). */
enum brock_status settings_parse(struct settings *s, enum settings_scope scope, const char *text,
                                 size_t len, struct brock_err *e) BROCK_WUR;
void settings_free(struct settings *s); /* NULL is fine */

/* Command-line flags; they rank above every file. A malformed rule here is
 * BROCK_ERR_USAGE naming the flag (`flag`, e.g. "--allowedTools"). */
enum brock_status settings_cli_rules(struct settings *s, enum perm_list list, const char *flag,
                                     const char *value, struct brock_err *e) BROCK_WUR;
enum brock_status settings_cli_mode(struct settings *s, const char *value, struct brock_err *e) BROCK_WUR;
enum brock_status settings_cli_add_dir(struct settings *s, const char *path, struct brock_err *e) BROCK_WUR;

#endif
