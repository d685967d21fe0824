/* agent_int.h - what the agent*.c files share: the agent's fields and the
 * helpers each file offers the others. Not for use outside src/agent/agent*. */
#ifndef BROCK_AGENT_AGENT_INT_H
#define BROCK_AGENT_AGENT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../store/store.h"
#include "agent.h"

struct agent {
    struct agent_config cfg; /* strings below replace the borrowed ones */
    char *model_id, *compact_model_id, *cwd, *region, *user;
    enum model_geo geo, compact_geo;

    char *system_text;
    json_t *system; /* [{"type": "text", "text": system_text}] or NULL */
    json_t *tools;  /* tool definitions (array, maybe empty) */
    int64_t system_tokens, tools_tokens;

    /* The conversation, and per message: the store's sequence number of the
     * last stored message merged into it (0 = not stored) and its estimated
     * tokens. */
    json_t *messages;
    int64_t *seqs, *toks;
    size_t cap_msgs;

    char session_id[STORE_SESSION_ID_LEN + 1];
    bool session_stored;      /* the session exists in the store */
    bool store_broken;        /* a store call failed: persistence is off */

    struct agent_totals totals;
    int64_t window;
    int64_t last_context;     /* context tokens of the last call */
    size_t last_context_n;    /* messages the last call was sent */
    size_t prev_end;          /* index of the message that ended the last request, SIZE_MAX none */
    int64_t last_cache_write; /* cache write tokens of the last call */
    bool cache_reset;         /* the prefix changed on purpose (compaction, clear) */

    json_t *denials;
    int stop_continues;       /* Stop-hook continuations this turn */
    bool stop_hook_active;
    size_t compact_failed_n;  /* messages when automatic compaction last failed (0 = never) */
};

/* agent.c */
void agent_emit(struct agent *a, const struct agent_event *ev);
void agent_warn(struct agent *a, const char *fmt, ...) BROCK_PRINTF(2, 3);
/* Append a message (steals msg) with its store sequence number. */
void agent_push(struct agent *a, json_t *msg, int64_t seq);
/* Estimated tokens of one message. */
int64_t agent_estimate_message(const json_t *msg);
/* One model call: through cfg.ledger when there is one (ledger_invoke:
 * routing, budget, cache, fallback, ledger row), else model_invoke. */
enum brock_status agent_model_invoke(struct agent *a, const char *purpose, struct model_request *req,
                                     const struct model_events *ev, struct model_result *res, struct brock_err *e);
/* Usage, cost and ledger bookkeeping of one model call; emits AGENT_EV_CALL. */
void agent_account(struct agent *a, const char *purpose, const char *model_id, const struct model_info *mi,
                   enum model_geo geo, const struct model_result *res, enum brock_status st, int cache_points,
                   const struct brock_err *e, struct agent_turn *turn);

/* agent_cache.c: the array with its last element marked (new reference). */
json_t *agent_cache_mark_last(const json_t *arr);

/* agent_session.c: all are no-ops without a store or after it broke; a
 * failure is reported once and turns persistence off. */
void agent_store_message(struct agent *a, const json_t *msg, const struct model_result *res, int64_t *seq);
void agent_store_tool_call(struct agent *a, const char *id, const char *name, const json_t *input,
                           const char *result, size_t len, bool is_error, int64_t duration_ms);
void agent_store_permission(struct agent *a, const char *tool, const char *subject, const char *decision,
                            const char *rule, const char *source);
void agent_store_ledger(struct agent *a, const char *model_id, const struct model_result *res,
                        enum brock_status st, const struct brock_err *e, double cost);
void agent_store_compaction(struct agent *a, int64_t upto_seq, const json_t *summary_content);
/* Create the session with this first prompt (title) if there is none yet. */
void agent_store_begin(struct agent *a, const char *first_prompt);

/* agent_session.c: agent_history_repair with a parallel array of sequence
 * numbers (seqs[i] for messages[i], n entries); *seqs_out gets the numbers
 * of the repaired messages (malloc'd; merged messages keep the largest). */
size_t agent_history_repair_seq(json_t *messages, const int64_t *seqs, int64_t **seqs_out);

/* agent_compact.c */
/* Compact if the context passed the threshold; BROCK_OK also when nothing
 * was done. */
enum brock_status agent_maybe_compact(struct agent *a, struct agent_turn *turn, struct brock_err *e);
enum brock_status agent_compact_now(struct agent *a, const char *instructions, struct agent_turn *turn,
                                    struct brock_err *e);

/* agent_tools.c: run the tool_use blocks of `content` and return the user
 * message with their results (new reference); *interrupted when Ctrl-C
 * stopped them, *hook_stop when a hook said "continue": false. */
json_t *agent_run_tools(struct agent *a, const json_t *content, bool *interrupted, bool *hook_stop);

/* agent_prompt.c: brock's system prompt for cwd at time `now_ms`, with or
 * without tools (malloc'd). */
char *agent_default_prompt(const char *cwd, int64_t now_ms, bool tools);

#endif
