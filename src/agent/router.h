/* router.h - which model answers a request: `--model auto`, pins per task
 * kind, the user's own routing rules.
 *
 * Settings (`brock` section):
 *
 *   router.rules     [{"match": "regex", "model": "opus"}, ...]: PCRE2,
 *                    case-insensitive, tried in order on the request's text;
 *                    the first match wins (before the built-in rules)
 *   router.classify  true: when no cheap rule decides, ask the Haiku-class
 *                    model to classify the request (one short extra call,
 *                    recorded in the ledger as background work)
 *   router.pin.main / .compaction / .title / .classify
 *                    a model for that kind of work, always (main: only with
 *                    --model auto; an explicit --model wins)
 *
 * Decisions, first that applies (router_decide):
 *   1. a pin for the task kind
 *   2. background work (compaction, titles, classification): "haiku"
 *   3. not auto: the caller's model, unchanged
 *   4. the user's rules
 *   5. planning or hard-reasoning words ("architecture", "design a",
 *      "prove", "refactor the whole", "race condition", ...): "opus"
 *   6. a context too big for Haiku (ROUTER_HAIKU_MAX_CONTEXT): "sonnet"
 *   7. small mechanical work ("typo", "rename", "commit message", ...) or a
 *      short question that needs no tools ("what is", "how do I", ...):
 *      "haiku"
 *   8. classification, when enabled (ROUTER_VIA_CLASSIFY: the caller makes
 *      the call and hands the answer to router_apply_classification)
 *   9. "sonnet"
 * Words are matched at word starts in the first ROUTER_SCAN_BYTES of the
 * request, ASCII case-folded. Each decision carries a one-line reason for
 * --verbose and the ledger ("auto: opus (planning/hard-reasoning word
 * 'architecture')").
 *
 * A request whose last user message carries tool results continues the
 * turn; the caller keeps the turn's model for it (switching models mid-turn
 * would throw away the prompt cache).
 *
 * Ownership: the router copies what it keeps. Threads: a router is
 * read-only after router_new and may be shared (the PCRE2 match data is
 * made per call). */
#ifndef BROCK_AGENT_ROUTER_H
#define BROCK_AGENT_ROUTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bedrock/model.h"
#include "../util/compiler.h"
#include "../util/err.h"

#define ROUTER_MAX_RULES 64
#define ROUTER_PATTERN_MAX 1024
#define ROUTER_SCAN_BYTES ((size_t)16 * 1024)       /* of the request's text */
#define ROUTER_HAIKU_MAX_CONTEXT ((int64_t)150000)  /* tokens; Haiku's window is 200K */
#define ROUTER_SHORT_PROMPT 400                     /* bytes: a "short question" */
#define ROUTER_SIMPLE_PROMPT 2000                   /* bytes: small mechanical work */
#define ROUTER_SPEC_MAX 256

enum router_task {
    ROUTER_MAIN = 0,    /* the user's request */
    ROUTER_COMPACTION,  /* summarising the conversation */
    ROUTER_TITLE,       /* naming a session */
    ROUTER_CLASSIFY,    /* the classification call itself */
    ROUTER_TASK_COUNT
};
const char *router_task_name(enum router_task t); /* "main", "compaction", ... */

enum router_via {
    ROUTER_VIA_FIXED = 0, /* not auto: the caller's model */
    ROUTER_VIA_PIN,
    ROUTER_VIA_BACKGROUND,
    ROUTER_VIA_RULE,
    ROUTER_VIA_KEYWORD,
    ROUTER_VIA_SIZE,
    ROUTER_VIA_SIMPLE,
    ROUTER_VIA_CLASSIFY, /* ask the classifier; spec holds the fallback ("sonnet") */
    ROUTER_VIA_DEFAULT,
};

struct router;

struct router_input {
    const char *text;       /* the user's request (text blocks of the last user message) */
    size_t len;
    int64_t context_tokens; /* estimate of the whole request */
    size_t n_tools;         /* tool definitions offered */
    bool continuing;        /* the last user message holds tool results */
};

struct router_choice {
    enum router_via via;
    char spec[ROUTER_SPEC_MAX]; /* "haiku", "sonnet", "opus", or a model id / alias from settings; "" = keep */
    char why[256];
};

/* `brock` is the settings' brock object (NULL: no rules, pins or
 * classification). BROCK_ERR_CONFIG names the key for a bad value or a
 * regex that does not compile (with PCRE2's words and offset). */
enum brock_status router_new(const json_t *brock, bool auto_mode, struct router **out, struct brock_err *e) BROCK_WUR;
void router_free(struct router *r); /* NULL is fine */
bool router_auto(const struct router *r);
bool router_classify_enabled(const struct router *r);
/* The pin for a task kind, or NULL. */
const char *router_pin(const struct router *r, enum router_task t);

void router_decide(const struct router *r, enum router_task task, const struct router_input *in,
                   struct router_choice *out);

/* The text of the last user message of req->messages (text blocks joined by
 * newlines, at most ROUTER_SCAN_BYTES), malloc'd into *text, and whether it
 * carries tool results. Fills in->text/len/continuing/n_tools; the caller
 * sets context_tokens if it wants the size rule. */
void router_input_from_request(const struct model_request *req, struct router_input *in, char **text);

/* The classification request: system prompt and the user message for
 * `text` (malloc'd). The answer is one word: simple, standard or complex. */
const char *router_classify_system(void);
char *router_classify_prompt(const char *text, size_t len);
/* Map the classifier's answer onto out (haiku / sonnet / opus); false if
 * the answer is not one of the three words (out is then left alone). */
bool router_apply_classification(const char *answer, struct router_choice *out);

#endif
