/* repl_int.h - what the repl*.c files share: the REPL's state and the
 * functions each file offers the others. Not for use outside src/cli/repl*
 * (and its tests). One thread: everything runs on the REPL's thread, agent
 * events and permission questions included. */
#ifndef BROCK_CLI_REPL_INT_H
#define BROCK_CLI_REPL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../agent/agent.h"
#include "../util/buf.h"
#include "cli.h"
#include "render.h"
#include "render_md.h"
#include "repl.h"
#include "spinner.h"
#include "term.h"

struct repl_edit; /* repl_edit.c: libedit, history */

/* What the screen shows of a turn (repl_view.c). */
struct repl_view {
    bool spinning;        /* the spinner runs (nothing else may write) */
    bool md_open;         /* text went into the renderer since its last finish */
    bool wrote;           /* anything was written this turn */
    bool thinking;        /* thinking arrived and is not shown yet */
    int64_t think_t0;     /* first thinking delta, ms (monotonic) */
    int64_t call_t0;      /* when the current model call started */
    uint64_t tokens;      /* estimated output tokens of the current call */
    int running;          /* tools started and not finished */
    json_t *answer;       /* the last assistant message (tool_use blocks for the permission preview) */
    json_t *asked;        /* tool_use ids already matched to a question */
    json_t *previewed;    /* tool_use ids whose diff the question showed */
};

struct repl {
    const struct cli_config *cfg;
    struct cli_agent *ca;       /* NULL in unit tests of the pieces that need no agent */
    FILE *out;                  /* the screen (stdout), or a test's stream */
    struct term_caps caps;
    struct render_look look;
    struct render_md *md;
    struct spinner *sp;
    struct repl_edit *ed;
    struct repl_view view;
    struct buf mem_text;        /* the memory section the agent was made with (after /memory edit) */

    bool quit;                  /* /exit, Ctrl-D, second Ctrl-C */
    bool in_turn;               /* agent_run_turn or agent_compact is running */
    int64_t t_start;            /* monotonic ms at start */
    int turns;
    int64_t api_ms;
    struct agent_totals past;   /* totals of agents replaced by /model, /resume */
    char model_id[256];         /* the model in use (ca->ac->model_id points here) */
};

/* ---- repl.c ---- */
/* Print a line to the screen (a note, dim with colour). */
void repl_note(struct repl *r, const char *fmt, ...) BROCK_PRINTF(2, 3);
/* Print an error line ("brock: ..." in red with colour). */
void repl_error(struct repl *r, const char *fmt, ...) BROCK_PRINTF(2, 3);
/* Write text as is (already safe: ours or sanitised). */
void repl_write(struct repl *r, const char *s, size_t n);
/* The session's totals: the current agent's plus those replaced. */
void repl_totals(const struct repl *r, struct agent_totals *out);
/* Make the agent again from ca->ac (after a model change), continuing
 * session `resume_id` (NULL: a new conversation). On failure the old agent
 * stays. */
enum brock_status repl_remake_agent(struct repl *r, const char *resume_id, struct brock_err *e);
/* Run one agent turn, or a compaction (text NULL: compact with `instr`). */
void repl_run_turn(struct repl *r, const char *text);
void repl_run_compact(struct repl *r, const char *instr);
/* Terminal modes: while a turn runs no echo and no line editing (Ctrl-C
 * still signals); raw keys for a question; restore. */
void repl_tty_turn(bool on);
bool repl_tty_raw(bool on);

/* ---- repl_edit.c ---- */
struct repl_edit *repl_edit_new(struct repl *r, const char *history_path);
void repl_edit_free(struct repl_edit *ed);
/* One message: a line, or lines joined by a trailing "\\" or pasted
 * together. NULL at Ctrl-D on an empty prompt, or a second Ctrl-C there.
 * malloc'd. */
char *repl_edit_read(struct repl_edit *ed);
/* One line of an answer (feedback, a /resume choice) with its own prompt;
 * NULL on Ctrl-C, Ctrl-D or error. Not added to the history. malloc'd. */
char *repl_edit_ask(struct repl_edit *ed, const char *prompt);
/* Add to the history (memory and file). */
void repl_edit_remember(struct repl_edit *ed, const char *entry);
/* The terminal was resized. */
void repl_edit_resized(struct repl_edit *ed);

/* ---- repl_view.c ---- */
void repl_view_init(struct repl *r);
void repl_view_cleanup(struct repl *r);
void repl_view_turn_start(struct repl *r, const char *label);
void repl_view_turn_end(struct repl *r);
/* Stop the spinner and finish the renderer: the screen is ours. */
void repl_view_quiet(struct repl *r);
void repl_on_event(void *ctx, const struct agent_event *ev);

/* ---- repl_prompt.c ---- */
enum perm_answer repl_ask(void *ctx, const struct perm_decision *d, char **feedback);
/* The tool_use block of the last answer a question is about (borrowed), or NULL. */
const json_t *repl_find_tool_use(struct repl *r, const struct perm_decision *d);

/* ---- repl_slash.c ---- */
/* Run a slash command line (repl_slash_parse said yes). */
void repl_slash_run(struct repl *r, const char *name, const char *args);

#endif
