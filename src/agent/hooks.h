/* hooks.h - Claude Code's command hooks: PreToolUse, PostToolUse and Stop.
 *
 * Configuration is settings.h's merged `hooks` object:
 *
 *     {"PreToolUse": [{"matcher": "Bash|Edit",
 *                      "hooks": [{"type": "command", "command": "...", "timeout": 60}]}],
 *      "PostToolUse": [...], "Stop": [...]}
 *
 * Matchers (tool events only; Stop runs every entry): absent, "" or "*"
 * match every tool; a matcher of only letters, digits, '_' and '|' is a list
 * of exact names ("Bash" does not match "BashOutput"); anything else is a
 * regular expression searched anywhere in the name, case-sensitively
 * ("mcp__memory__.*", "^Notebook"). A regex that does not compile is a
 * warning and matches nothing. Entries whose type is not "command", and
 * events other than the three, are warnings and are not run.
 *
 * Running: every matching command (identical command strings once) runs at
 * the same time as `/bin/sh -c COMMAND` in the project directory, in its own
 * session and process group, with the JSON input on stdin:
 *
 *     {"session_id", "transcript_path" (may be ""), "cwd", ["permission_mode"],
 *      "hook_event_name", "tool_name", "tool_input", ["tool_use_id"],
 *      "tool_response" (PostToolUse), "stop_hook_active" (Stop)}
 *
 * and brock's environment (minus `env_drop`) plus CLAUDE_PROJECT_DIR and its
 * alias BROCK_PROJECT_DIR. Each has its own timeout (`timeout` seconds,
 * default 60): on expiry, or when the cancel flag is set, its process group
 * gets SIGTERM and, grace_ms later, SIGKILL. HOOKS_OUTPUT_MAX bytes of stdout
 * and of stderr are kept; the rest is read and dropped.
 *
 * Results, per hook (Claude Code's rules):
 *   exit 0  success. stdout is for the transcript (`verbose`) unless it is a
 *           JSON object, which is read:
 *             continue: false     -> `stop` (+ stopReason in `stop_reason`);
 *                                    it wins over every decision
 *             suppressOutput      -> stdout kept out of `verbose`
 *             systemMessage       -> `user`
 *             PreToolUse: hookSpecificOutput.permissionDecision
 *               "allow" | "deny" | "ask" with permissionDecisionReason (deny:
 *               for the model; allow/ask: for the user), and updatedInput;
 *               else the older decision "approve" (= allow) | "block" (= deny)
 *               with reason
 *             PostToolUse: decision "block" + reason (for the model);
 *               hookSpecificOutput.additionalContext (for the model)
 *             Stop: decision "block" + reason: do not stop; the reason tells
 *               the model how to go on
 *           stdout that does not parse as a JSON object is plain text.
 *   exit 2  blocking: stderr goes to the model. PreToolUse: the call is
 *           denied; PostToolUse: stderr is feedback on the result (the tool
 *           already ran); Stop: the stop is prevented.
 *   other   (and signals, timeouts, failure to start): a non-blocking error
 *           for the user (`user`); the action goes on.
 * Several hooks combine: deny beats ask beats allow; texts are joined with
 * newlines in configuration order; the last updatedInput wins.
 *
 * Messages name a hook by event and program ("PreToolUse hook ./check.sh"),
 * never by its whole command line, which may carry tokens. Texts are valid
 * UTF-8 (bad bytes become U+FFFD).
 *
 * Ownership: hooks_new() copies what it needs from the configuration.
 * Thread-safety: a `struct hooks` is read-only after hooks_new(); any number
 * of threads may call hooks_run() at once, each with its own outcome. */
#ifndef BROCK_AGENT_HOOKS_H
#define BROCK_AGENT_HOOKS_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"

#define HOOKS_OUTPUT_MAX ((size_t)256 * 1024) /* stdout, and stderr, kept per hook */
#define HOOKS_TEXT_MAX ((size_t)256 * 1024)   /* each text of an outcome */
#define HOOKS_MAX_COMMANDS 256                /* hooks per event */
#define HOOKS_TIMEOUT_DEFAULT_MS ((int64_t)60000)
#define HOOKS_TIMEOUT_MAX_MS ((int64_t)24 * 3600 * 1000)

enum hooks_event { HOOKS_PRE_TOOL_USE = 0, HOOKS_POST_TOOL_USE, HOOKS_STOP, HOOKS_EVENT_COUNT };
const char *hooks_event_name(enum hooks_event ev); /* "PreToolUse", ... */

struct hooks_opts {
    const char *project_dir;       /* required: where hooks run, CLAUDE_PROJECT_DIR */
    const char *cwd;               /* "cwd" in the input; NULL = project_dir */
    const char *session_id;        /* NULL = "" */
    const char *transcript_path;   /* NULL = "" */
    const char *permission_mode;   /* added to the input when not NULL */
    const char *shell;             /* [/bin/sh] */
    volatile sig_atomic_t *cancel; /* the SIGINT flag; NULL = never */
    int64_t grace_ms;              /* [1000] SIGTERM -> SIGKILL */
    const char *const *env_drop;   /* names removed from the hooks' environment */
    size_t n_env_drop;
};
void hooks_opts_default(struct hooks_opts *o);

struct hooks;

/* Compile a `hooks` object (NULL = no hooks). A value of the wrong shape is
 * BROCK_ERR_CONFIG naming it ("hooks.PreToolUse[0].hooks[1].command:
 * expected a string"); BROCK_ERR_USAGE without a project_dir. */
enum brock_status hooks_new(const json_t *config, const struct hooks_opts *o, struct hooks **out,
                            struct brock_err *e) BROCK_WUR;
void hooks_free(struct hooks *h); /* NULL is fine */

/* Things the user should know: unsupported events and types, bad regexes. */
size_t hooks_warnings(const struct hooks *h, const char *const **out);

/* How many distinct commands would run for this event and tool (tool_name
 * is ignored for Stop). Cheap: lets the caller skip building the input. */
size_t hooks_matching(const struct hooks *h, enum hooks_event ev, const char *tool_name);

struct hooks_input {
    enum hooks_event event;
    const char *tool_name;       /* tool events */
    const char *tool_use_id;     /* optional */
    const json_t *tool_input;    /* tool events; NULL = {} */
    const json_t *tool_response; /* PostToolUse; NULL = null */
    bool stop_hook_active;       /* Stop: brock is already continuing because of a Stop hook */
};

enum hooks_decision { HOOKS_NONE = 0, HOOKS_ALLOW, HOOKS_ASK, HOOKS_DENY };

struct hooks_outcome {
    enum hooks_decision decision; /* PreToolUse */
    bool block;          /* Pre: the call must not run; Post: `reason` is feedback for the
                            model; Stop: do not stop, send `reason` to the model */
    bool stop;           /* a hook said "continue": false: end the turn (wins over all) */
    struct buf reason;   /* for the model (block / deny) */
    struct buf context;  /* additionalContext for the model */
    struct buf user;     /* for the user: errors, systemMessage, allow/ask reasons */
    struct buf verbose;  /* successful hooks' stdout, for the transcript view */
    struct buf stop_reason; /* stopReason, for the user */
    json_t *updated_input;  /* PreToolUse updatedInput (owned), or NULL */
    unsigned ran;        /* hooks run */
    unsigned failed;     /* non-blocking failures, timeouts included */
    unsigned timed_out;
    bool interrupted;    /* the cancel flag stopped the hooks */
};
void hooks_outcome_init(struct hooks_outcome *o);
void hooks_outcome_cleanup(struct hooks_outcome *o); /* back to the init state */

/* Run the hooks for one event and fold their results into out (which may
 * already hold results; it is not reset). BROCK_OK also when hooks fail (see
 * out->failed, and a hook that cannot be started is one of those);
 * BROCK_ERR_INTERRUPTED when the cancel flag stopped them (their results are
 * dropped; hooks that had already finished still count). */
enum brock_status hooks_run(const struct hooks *h, const struct hooks_input *in,
                            struct hooks_outcome *out, struct brock_err *e);

/* One finished hook folded into an outcome by the rules above: `label`
 * names it for messages, `code` is its exit status (0, 2, other). Used by
 * hooks_run; exposed for tests and fuzzing. */
void hooks_interpret(enum hooks_event ev, const char *label, int code, const char *out, size_t outn,
                     const char *err, size_t errn, struct hooks_outcome *acc);

#endif
