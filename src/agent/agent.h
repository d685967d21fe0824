/* agent.h - the coding agent's loop: model calls, tools under permissions and
 * hooks, MCP tools, sessions, compaction and prompt-cache points.
 *
 *     struct agent_config c;
 *     agent_config_init(&c);                  // defaults, then the environment:
 *     agent_config_env(&c);                   // DISABLE_PROMPT_CACHING, BROCK_CONTEXT_WINDOW
 *     c.model = client; c.model_id = id; c.model_info = info; c.tools = tctx; c.perm = pe; ...
 *     struct agent *a;
 *     agent_new(&c, &a, &e);
 *     agent_resume(a, id, &e);                // optional: --continue / --resume
 *     struct agent_turn t;
 *     agent_run_turn(a, "fix the failing test", &t, &e);
 *     ... t.stop, t.text, t.model_calls, t.usage, t.cost_usd ...
 *     agent_turn_cleanup(&t);
 *     agent_free(a);
 *
 * One turn (agent_run_turn) is one user message and as many model calls as
 * it takes: the conversation goes out with the tool definitions; when the
 * answer holds tool_use blocks each is run and answered with a tool_result
 * (in the order of the tool_use blocks), and the loop goes on until the
 * model ends its turn, max_turns model calls were made, the cancel flag is
 * set, or a call fails.
 *
 * One tool call: unknown tool -> is_error result naming the tools; input
 * checked against the schema (tool_validate) -> is_error with the problems;
 * the permission engine decides (an ASK goes to cfg.ask when given, else it
 * is a refusal; every decision is recorded in the session and sent as an
 * event) -> refusals are is_error results carrying the engine's message
 * (what, why and how to allow it), and are listed in agent_permission_denials();
 * PreToolUse hooks (exit 2 or a "deny" blocks: the hook's words go to the
 * model; updatedInput replaces the input, validated again) -> the tool runs
 * (tools.h, or the MCP client for mcp__SERVER__TOOL names) -> PostToolUse
 * hooks (their feedback is appended to the result). Consecutive tool_use
 * blocks of tools flagged TOOL_CONCURRENT (Read, Glob, Grep, LS) are checked
 * one by one, then run at the same time on threads (at most
 * AGENT_MAX_PARALLEL); everything else runs alone, in order.
 *
 * Ctrl-C (the cancel flag): a running model call or tool stops; every
 * tool_use of the answer still gets a tool_result ("Interrupted by the
 * user"), so the conversation stays valid; the turn ends with
 * AGENT_STOP_INTERRUPTED and BROCK_ERR_INTERRUPTED. The caller clears the
 * flag before the next turn.
 *
 * Stop hooks: when the model ends its turn, Stop hooks run; a block (exit 2
 * or decision "block") sends the hook's words as a user message and the
 * loop goes on, with stop_hook_active set in the hooks' input from then on;
 * after AGENT_MAX_STOP_CONTINUES such continuations in one turn the turn
 * ends anyway.
 *
 * Prompt caching (agent_cache.c): cache_control {"type": "ephemeral"} on the
 * last tool definition, on the system prompt, on the last block of the last
 * message (the moving end) and on the last block of the message that ended
 * the previous request (so its prefix is read while the new end is written):
 * at most AGENT_MAX_CACHE_POINTS, each only when the estimated prefix before
 * it reaches the model's minimum cacheable length, none when the model
 * offers no caching or caching is disabled. The conversation itself never
 * holds cache_control: markers go on copies in each request.
 *
 * Compaction (agent_compact.c): after each call the context size is the
 * answer's input + cache read + cache write + output tokens; before the next
 * call, when that plus the estimate of what was added since passes
 * compact_threshold of the window, the older part of the conversation is
 * summarised by the compaction model (Haiku-class) and replaced by one user
 * message holding the summary, the files read or edited, and the last user
 * request; the most recent exchanges (about AGENT_COMPACT_KEEP of the window,
 * at most half of the conversation, at least the last answer and its
 * results) are kept verbatim. The cut is always before an assistant message, so a
 * tool_use and its tool_result are never separated. agent_compact() does it
 * on demand (/compact).
 *
 * Sessions (agent_session.c): with a store, the session is created with the
 * first user message; every message is appended as it completes (user text,
 * assistant answer with its usage, tool results), each in its own
 * transaction, so a kill loses at most the message in flight; tool calls,
 * permission decisions, compaction summaries, and one ledger row per model
 * call (tokens, cost from catalog_cost, request id) are recorded too. A
 * store that fails is reported once (AGENT_EV_WARNING) and then left alone:
 * the conversation goes on. agent_resume() reloads a session: the latest
 * summary and the messages after it, repaired (agent_history_repair) so that
 * a session cut by a kill is a valid conversation again.
 *
 * Ownership: the agent copies the config's strings; the model client, tool
 * context, permission engine, hooks, MCP client, store and cancel flag are
 * borrowed and must outlive it. Events carry borrowed pointers valid during
 * the callback only.
 *
 * Threads: an agent belongs to one thread. Events and `ask` are called on
 * that thread, synchronously, while agent_run_turn() runs (never from the
 * tool threads). The tool context must not be used by anyone else during a
 * turn. */
#ifndef BROCK_AGENT_AGENT_H
#define BROCK_AGENT_AGENT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bedrock/catalog.h"
#include "../bedrock/model.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"
#include "perm.h"

struct tool_ctx;
struct hooks;
struct mcp_client;
struct store;
struct ledger;

#define AGENT_MAX_TOOL_USES 64         /* tool_use blocks run from one answer; the rest get is_error */
#define AGENT_MAX_PARALLEL 8           /* read-only tools running at once */
#define AGENT_MAX_STOP_CONTINUES 8     /* Stop-hook continuations in one turn */
#define AGENT_MAX_CACHE_POINTS 4       /* Bedrock's limit per request */
#define AGENT_MAX_MESSAGES 100000      /* messages in a conversation (a resumed one is cut to the newest) */
#define AGENT_PROMPT_MAX ((size_t)24 * 1024 * 1024) /* one user message */
#define AGENT_SYSTEM_MAX ((size_t)1024 * 1024)      /* --system / --append-system-prompt, each */
#define AGENT_TITLE_MAX 80             /* characters of the first prompt kept as the session title */
#define AGENT_COMPACT_THRESHOLD 0.80   /* default share of the window that triggers compaction */
#define AGENT_COMPACT_KEEP 0.25        /* share of the window kept verbatim by compaction */
#define AGENT_COMPACT_SUMMARY_TOKENS 4096 /* max_tokens of the summary call */
#define AGENT_MIN_WINDOW 1000          /* smallest context window accepted (BROCK_CONTEXT_WINDOW) */

/* --- Events ------------------------------------------------------------ */

enum agent_event_type {
    AGENT_EV_TEXT,        /* text delta: text, len */
    AGENT_EV_THINKING,    /* thinking delta: text, len */
    AGENT_EV_MESSAGE,     /* a message joined the conversation: message (role, content) */
    AGENT_EV_TOOL_START,  /* a tool is about to run: tool_use_id, tool_name, input, text = summary line */
    AGENT_EV_TOOL_RESULT, /* tool_use_id, tool_name, is_error, text = result, summary, diff (may be "") */
    AGENT_EV_PERMISSION,  /* decision (every decision, allowed or not) */
    AGENT_EV_CALL,        /* a model call finished (or failed): call */
    AGENT_EV_RETRY,       /* text: a retry or region failover is about to happen */
    AGENT_EV_COMPACT,     /* text: what was compacted */
    AGENT_EV_HOOK,        /* text: hook output meant for the user (errors, systemMessage) */
    AGENT_EV_WARNING,     /* text: something the user should know (cache miss, store failure) */
};

/* One model call, for --verbose and /cost. */
struct agent_call {
    const char *model_id;   /* the id the call was made with */
    const char *region;     /* the region that served it ("" if unknown) */
    const char *request_id; /* "" if none */
    const char *message_id; /* the answer's id ("" if none) */
    const char *model;      /* the model that answered, as it says ("" if not said) */
    const char *stop_reason;
    const char *purpose;    /* "turn" or "compact" */
    enum brock_status status;
    int attempts;
    double latency_ms, ttft_ms;
    struct model_usage usage;
    double cost_usd;
    int cache_points;       /* cache_control markers sent */
    int64_t context_tokens; /* input + cache read + cache write + output */
};

struct agent_event {
    enum agent_event_type type;
    const char *text; /* NUL-terminated; len is its length */
    size_t len;
    const char *tool_use_id, *tool_name;
    const json_t *input;   /* TOOL_START: the tool input; MESSAGE: the message */
    const char *summary;   /* TOOL_RESULT */
    const char *diff;      /* TOOL_RESULT */
    bool is_error;         /* TOOL_RESULT */
    const struct perm_decision *decision; /* PERMISSION */
    const struct agent_call *call;        /* CALL */
};

typedef void agent_event_fn(void *ctx, const struct agent_event *ev);

/* Asked for a PERM_ASK decision (interactive use only). Return the answer;
 * *feedback may be set to a malloc'd note for a NO (the agent frees it).
 * The agent records the answer with perm_answer(). */
typedef enum perm_answer agent_ask_fn(void *ctx, const struct perm_decision *d, char **feedback);

/* --- Configuration ----------------------------------------------------- */

struct agent_config {
    struct model_client *model;          /* required */
    const char *model_id;                /* required: what goes in /model/{id}/ */
    const struct model_info *model_info; /* catalog entry; NULL = unknown (no caching, window 200k) */
    enum model_api api;
    bool stream;                         /* [true] */
    int max_tokens;                      /* [0] = the model's max output, at most 16384 */
    double temperature;                  /* [MODEL_UNSET] */
    json_t *thinking;                    /* borrowed; NULL = none */
    const char *region;                  /* for the ledger when the result does not say; may be NULL */

    /* compaction: the summariser (NULL = the session's model) */
    const char *compact_model_id;
    const struct model_info *compact_model_info;
    int64_t context_window;    /* [0] = the model's; BROCK_CONTEXT_WINDOW via agent_config_env */
    double compact_threshold;  /* [AGENT_COMPACT_THRESHOLD]; 0 < x <= 1 */
    bool auto_compact;         /* [true] */

    /* prompt caching */
    bool disable_cache;        /* DISABLE_PROMPT_CACHING(_<FAMILY>) via agent_config_env */

    /* tools: built-ins, MCP, permissions, hooks (all may be NULL: no tools) */
    struct tool_ctx *tools;
    const char *const *tool_names; /* built-in tools offered; NULL = all */
    size_t n_tool_names;
    struct mcp_client *mcp;
    struct perm_engine *perm;      /* required when tools or mcp are given */
    agent_ask_fn *ask;             /* NULL = nothing is asked (-p): ASK is refused */
    void *ask_ctx;
    struct hooks *hooks;

    /* system prompt: brock's own (replaced by `system` when given), then the
     * memory section, then `append_system` */
    const char *system;
    const char *memory;            /* memory_render() output; NULL = none */
    const char *append_system;
    const char *cwd;               /* required: shown to the model, session directory */

    /* sessions (NULL store = no persistence) */
    struct store *store;
    const char *user;              /* ledger user; NULL = none */
    /* Cost bookkeeping (ledger.h): routing (--model auto), budget checks,
     * the response cache, fallback on throttling, and the ledger row and
     * audit event of every call, with the ledger's prices. NULL = the
     * store's ledger row with catalog prices, as above. Borrowed. */
    struct ledger *ledger;

    int max_turns;                 /* [0] = no limit: model calls per agent_run_turn */
    volatile sig_atomic_t *cancel; /* NULL = never */
    agent_event_fn *on_event;      /* NULL = none */
    void *event_ctx;
    const struct clock *clock;     /* NULL = the real clock (the date in the prompt) */
};

/* Defaults (see the brackets above). */
void agent_config_init(struct agent_config *c);
/* Read the environment into c: DISABLE_PROMPT_CACHING=1 (and
 * DISABLE_PROMPT_CACHING_HAIKU / _SONNET / _OPUS for the model's family),
 * BROCK_CONTEXT_WINDOW=N (tokens, >= AGENT_MIN_WINDOW), BROCK_COMPACT_THRESHOLD=0.x,
 * BROCK_AUTO_COMPACT=0. Call after model_info is set. BROCK_ERR_USAGE for a
 * malformed value, naming the variable. */
enum brock_status agent_config_env(struct agent_config *c, struct brock_err *e) BROCK_WUR;

struct agent;

/* BROCK_ERR_USAGE for a config missing what it needs. */
enum brock_status agent_new(const struct agent_config *cfg, struct agent **out, struct brock_err *e) BROCK_WUR;
void agent_free(struct agent *a); /* NULL is fine */

/* --- Turns ------------------------------------------------------------- */

enum agent_stop {
    AGENT_STOP_END_TURN = 0, /* the model ended its turn */
    AGENT_STOP_MAX_TURNS,    /* max_turns model calls were made */
    AGENT_STOP_MAX_TOKENS,   /* the answer hit max_tokens (no tool use to go on with) */
    AGENT_STOP_REFUSAL,      /* the model refused or a guardrail intervened */
    AGENT_STOP_HOOK,         /* a hook said "continue": false */
    AGENT_STOP_INTERRUPTED,  /* the cancel flag */
    AGENT_STOP_ERROR,        /* a model call failed */
};
const char *agent_stop_name(enum agent_stop s); /* "end_turn", "max_turns", ... */

struct agent_turn {
    enum agent_stop stop;
    char stop_reason[40];    /* the last answer's stop_reason ("" if none) */
    int model_calls;         /* calls in this turn (compaction calls not counted) */
    struct model_usage usage; /* summed over the turn's calls, compaction included */
    double cost_usd;
    int64_t api_ms;          /* time spent in model calls */
    char *text;              /* the text of the last assistant answer, malloc'd ("" if none) */
    bool partial;            /* the last call failed after output began */
};
void agent_turn_cleanup(struct agent_turn *t); /* zeroed is fine */

/* Run one user turn to its end (see the top). BROCK_OK when the turn ended
 * normally (out->stop END_TURN, MAX_TURNS, MAX_TOKENS, REFUSAL, HOOK); the
 * failing call's status and message for AGENT_STOP_ERROR (the user message
 * stays in the conversation; the next turn's text joins it);
 * BROCK_ERR_INTERRUPTED for Ctrl-C. `out` is always filled. */
enum brock_status agent_run_turn(struct agent *a, const char *user_text, struct agent_turn *out,
                                 struct brock_err *e) BROCK_WUR;

/* Summarise the conversation now (/compact); `instructions` (may be NULL)
 * tell the summariser what to focus on. BROCK_ERR_USAGE when there is too
 * little to compact. */
enum brock_status agent_compact(struct agent *a, const char *instructions, struct brock_err *e) BROCK_WUR;

/* Start over (/clear): an empty conversation, a new session with the next
 * turn, the tool context's file state forgotten. Totals are kept. */
void agent_clear(struct agent *a);

/* --- Sessions ---------------------------------------------------------- */

/* Load a stored session (full id) into an empty agent and continue it:
 * the latest compaction summary and the messages after it, repaired. */
enum brock_status agent_resume(struct agent *a, const char *session_id, struct brock_err *e) BROCK_WUR;

/* Create the stored session now (normally the first turn does), titled
 * after `first_prompt`, so its id is known before the turn starts (hooks,
 * stream-json's init line). No-op without a store or when one exists. */
void agent_session_begin(struct agent *a, const char *first_prompt);

/* Set the hooks after agent_new (they want the session id); NULL = none. */
void agent_set_hooks(struct agent *a, struct hooks *h);

/* The session id ("" before the first turn when persisting; without a store,
 * a random id made at agent_new). Borrowed. */
const char *agent_session_id(const struct agent *a);

/* Make a stored conversation valid again, in place: messages that are not
 * objects with role user/assistant are dropped, string content becomes a
 * text block, empty text blocks, malformed blocks and blocks of unknown
 * types are dropped, cache_control markers are removed, messages
 * of the same role are merged, a leading assistant message is dropped, and
 * every tool_use gets exactly one tool_result in the next user message
 * (missing ones are added as is_error "no result was recorded"; results
 * without their tool_use are dropped; results come first in their message).
 * `messages` must be an array. Returns the number of changes made. */
size_t agent_history_repair(json_t *messages);

/* --- State ------------------------------------------------------------- */

struct agent_totals {
    int model_calls;          /* all calls, compaction included */
    struct model_usage usage;
    double cost_usd;
    int64_t context_tokens;   /* of the last call */
    int64_t context_window;   /* in use */
    int compactions;
    int cache_misses;         /* warnings given (a write not read back) */
};
void agent_totals(const struct agent *a, struct agent_totals *out);

/* The conversation (borrowed; valid until the agent changes it). */
const json_t *agent_messages(const struct agent *a);
/* The system prompt text (borrowed). */
const char *agent_system_prompt(const struct agent *a);
/* The tool definitions offered to the model (borrowed array). */
const json_t *agent_tool_specs(const struct agent *a);
/* Refused tool calls of the agent's life, as Claude Code's print mode lists
 * them: [{"tool_name", "tool_use_id", "tool_input"}] (borrowed). */
const json_t *agent_permission_denials(const struct agent *a);

/* --- Pieces, exposed for tests and fuzzing ----------------------------- */

/* Where cache points go for a request (agent_cache.c). Token counts are
 * estimates of each part; msg_tokens[i] for messages[i]. prev_end is the
 * index of the message that ended the previous request (SIZE_MAX: none). */
struct agent_cache_plan {
    bool tools, system;
    size_t msg[2];  /* indexes of messages whose last block gets a marker */
    size_t n_msg;
    int count;
};
void agent_cache_plan(uint32_t min_tokens, bool disabled, int64_t tools_tokens, int64_t system_tokens,
                      const int64_t *msg_tokens, size_t n_msgs, size_t prev_end, struct agent_cache_plan *out);
/* A shallow copy of messages with {"cache_control": {"type": "ephemeral"}}
 * on the last block of each planned message (those messages and blocks are
 * copied; the rest is shared). New reference. */
json_t *agent_cache_messages(const json_t *messages, const struct agent_cache_plan *p);

/* The compaction cut (agent_compact.c): the index k of an assistant message
 * such that messages[k..] are kept (their estimated tokens within keep_tokens
 * if possible, always at least the last assistant message); 0 when nothing
 * can be compacted (fewer than two messages before the cut). */
size_t agent_compact_cut(const json_t *messages, const int64_t *msg_tokens, int64_t keep_tokens);

#endif
