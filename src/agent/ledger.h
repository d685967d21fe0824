/* ledger.h - the bookkeeping around every model call: routing, the budget
 * check, the response cache, fallback on throttling, the cost, the ledger
 * row and the audit event.
 *
 *     struct ledger_config lc = {.store = store, .pricing = prices, .budget = &budget,
 *                                .router = router, .cache = policy, .user = id.arn,
 *                                .project = project, .region = region, .main_model_id = mc.model_id};
 *     struct ledger *l = ledger_new(&lc);
 *     ... the agent calls ledger_invoke() instead of model_invoke() ...
 *     ledger_free(l);
 *
 * ledger_invoke(), in order:
 *  1. Routing: for the purpose's task kind (router.h): pins, background work,
 *     `--model auto` rules, the optional classification call. A request
 *     that continues a turn (tool results) keeps the turn's model. The
 *     chosen id replaces req->model_id for this call (req is restored
 *     before returning).
 *  2. Response cache: for an eligible request, a hit fills `res` from the
 *     store, replays it through the events, writes a row with cache_hit set
 *     and cost 0 (the tokens as first billed are shown as saved) and
 *     returns BROCK_OK without calling the model (a hit costs nothing, so
 *     it comes before the budget).
 *  3. Budget: budget_check() with this run's spend; a refusal returns
 *     BROCK_ERR_BUDGET before anything is sent (no row: nothing was called).
 *     The 80 % warning goes to the note callback once per limit and run.
 *  4. The call, on the current target: the routed model in the primary
 *     region, or the fallback target a throttle moved the run to. A call
 *     that ends BROCK_ERR_THROTTLED (the retry policy and --regions already
 *     spent) before any output moves the run to the next entry of
 *     brock.fallback and tries again; the run then stays there (one region
 *     per session keeps the prompt cache warm) until that target throttles.
 *     A background call refused with AccessDenied on a model other than the
 *     main one (the Haiku-class model not enabled) is repeated on the main
 *     model, and background work uses the main model from then on.
 *  5. The cost (pricing.h) of what the call billed, even for a failed call
 *     that reported usage.
 *  6. One ledger row (store.h) with every fact of the call, and the audit
 *     callback with the same facts. A store that fails is reported once
 *     through the note callback and then left alone: the call's result
 *     stands.
 *  7. A complete, cacheable answer is put in the response cache.
 *
 * The routing text in the row and the note says what was decided and why:
 * "turn: auto -> opus (planning/hard-reasoning words ('design a'))",
 * "compact (background): model given", "...; cache hit, saved $0.0123
 * (1200 in, 40 out tokens)", "...; fallback -> us-east-1 after throttling".
 *
 * brock.fallback is an array of targets tried in order after throttling:
 * "us-east-1" (a region: the same model there, its profile re-chosen for
 * that geography), "haiku" or a model id (another model, same region),
 * "opus@eu-west-1", or {"model": "...", "region": "..."}. At most
 * LEDGER_MAX_FALLBACK. Another region needs client_for_region.
 *
 * Ownership: the config's strings are copied; store, pricing, budget,
 * router, clients and callbacks' contexts are borrowed and must outlive the
 * ledger. Clients made by client_for_region are the ledger's (freed by
 * ledger_free). Threads: one thread at a time (the agent's). */
#ifndef BROCK_AGENT_LEDGER_H
#define BROCK_AGENT_LEDGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bedrock/model.h"
#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"
#include "respcache.h"

struct store;
struct pricing;
struct budget;
struct router;
struct model_info;

#define LEDGER_MAX_FALLBACK 8
#define LEDGER_MAX_MODELS 16 /* distinct models counted per session for /cost */
#define LEDGER_ROUTING_MAX 512

/* The facts of one model call, for the row and the audit event. Strings
 * are never NULL ("" when unknown) and valid during the callback only. */
struct ledger_record {
    int64_t time_ms;
    const char *session_id, *user, *project;
    const char *purpose;     /* "turn", "compact", "classify", ... */
    bool background;         /* not the user's own request */
    const char *model;       /* the base model id (or the id, if unknown) */
    const char *profile;     /* the id the call was served with: profile, base id or ARN */
    const char *region, *api;
    struct model_usage usage;
    double latency_ms, ttft_ms;
    int retries;
    const char *status;      /* "ok", or the AWS error code, "interrupted", ... */
    const char *error;       /* the error message ("" if none); never holds a secret */
    const char *request_id;
    double cost_usd;
    bool cache_hit;
    double saved_usd;        /* cache hit: what the answer cost when first billed */
    const char *routing;     /* see the top */
    const struct model_request *req;  /* what was sent (for log_content), NULL on a refusal */
    const struct model_result *res;   /* what came back */
};

typedef void ledger_audit_fn(void *ctx, const struct ledger_record *r);

enum ledger_note_kind {
    LEDGER_NOTE_INFO = 0, /* for --verbose: routing, cache hits, fallback */
    LEDGER_NOTE_WARNING,  /* always shown: budget at 80 %, store failure, unknown price */
};
typedef void ledger_note_fn(void *ctx, enum ledger_note_kind kind, const char *text);

/* A client for another region (fallback). Return NULL if none can be made. */
typedef struct model_client *ledger_client_fn(void *ctx, const char *region);

struct ledger_fallback {
    char model[256];  /* "" = the same model */
    char region[32];  /* "" = the same region */
};

struct ledger_config {
    struct store *store;            /* NULL: no rows, no cache, only --max-budget-usd */
    const struct pricing *pricing;  /* NULL: the catalog's prices */
    struct budget *budget;          /* NULL: no limits */
    const struct router *router;    /* NULL: no routing */
    struct respcache_policy cache;  /* mode RESPCACHE_OFF (zero) = no cache */
    const char *user;               /* caller identity (ARN) or local user; NULL = "" */
    const char *project;            /* NULL = "" */
    const char *region;             /* primary region (resolving routed aliases); NULL = us-west-2 */
    const char *main_model_id;      /* the session's model when routing does not choose; required */
    const struct ledger_fallback *fallback;
    size_t n_fallback;
    ledger_client_fn *client_for_region;
    void *client_ctx;
    ledger_audit_fn *audit;
    void *audit_ctx;
    ledger_note_fn *note;
    void *note_ctx;
    const struct clock *clock;      /* NULL = real time */
};

struct ledger;

struct ledger *ledger_new(const struct ledger_config *cfg);
void ledger_free(struct ledger *l); /* NULL is fine */

/* One call's context. */
struct ledger_call {
    const char *purpose;    /* "turn" (the user's request), "compact", "title" */
    const char *session_id; /* NULL or "" before the session exists */
};

/* What ledger_invoke decided and spent. */
struct ledger_outcome {
    double cost_usd;     /* 0 for a cache hit or a refusal */
    bool cache_hit;
    double saved_usd;
    bool refused;        /* the budget refused: nothing was sent */
    char model_id[256];  /* the id the call was made with */
    char routing[LEDGER_ROUTING_MAX];
};

/* The steps at the top, around model_invoke(mc, ...). `req` may be changed
 * during the call and is restored. `out` may be NULL. */
enum brock_status ledger_invoke(struct ledger *l, struct model_client *mc, const struct ledger_call *call,
                                struct model_request *req, const struct model_events *ev, struct model_result *res,
                                struct ledger_outcome *out, struct brock_err *e) BROCK_WUR;

/* The outcome of the latest ledger_invoke (for callers that cannot take an
 * out parameter). */
const struct ledger_outcome *ledger_last(const struct ledger *l);

/* Spend so far. */
struct ledger_model_stat {
    char model_id[256];
    int calls;
    double cost_usd;
};
struct ledger_totals {
    int calls, background_calls, cache_hits, errors;
    struct model_usage usage;
    double cost_usd, saved_usd;
    struct ledger_model_stat models[LEDGER_MAX_MODELS];
    size_t n_models;
};
/* run: the whole process; session: the calls of the current session id. */
void ledger_run_totals(const struct ledger *l, struct ledger_totals *out);
void ledger_session_totals(const struct ledger *l, struct ledger_totals *out);

/* The REPL's /cost: the session's calls, tokens, cost, savings, models,
 * and the budget figures (read from the store), as a few lines of text. */
void ledger_format_cost(struct ledger *l, struct buf *out);

/* brock.fallback from the settings' brock object into out (at most
 * LEDGER_MAX_FALLBACK). BROCK_ERR_CONFIG names the entry. */
enum brock_status ledger_fallback_parse(const json_t *brock, struct ledger_fallback *out, size_t *n,
                                        struct brock_err *e) BROCK_WUR;

/* The model id for `model_id`'s model in another region: the profile of
 * that region's geography (or global./the base id where there is none).
 * An id the catalog does not know is returned unchanged. */
void ledger_model_for_region(const char *model_id, const char *region, char *out, size_t cap);

/* An application inference profile ARN's model, as Bedrock named it
 * (bedrock_profile_lookup): calls made with the ARN are priced as that
 * model from then on. At most LEDGER_MAX_PROFILES; a later entry for the
 * same ARN replaces the earlier. A call the ledger cannot price (an unknown
 * model, or a profile not named here) is booked at the catalog's highest
 * prices (catalog_ceiling_prices) so budgets hold, its routing text says
 * "price estimated", and a warning says so once per model id. */
#define LEDGER_MAX_PROFILES 8
void ledger_set_profile_model(struct ledger *l, const char *arn, const struct model_info *m);

/* Replace the note callback (the REPL shows notes its own way). */
void ledger_set_note(struct ledger *l, ledger_note_fn *note, void *ctx);

/* ---- a run's whole cost set-up from the settings (ledger_kit.c) --------- *
 *
 * Reads the settings' brock section: `project` (a name for the ledger,
 * else the working directory), `prices_file` (else ~/.config/brock/
 * prices.json when it exists), `budget`, `router`, `cache`, `fallback`;
 * makes the pricing, budget, router and ledger, and sets the store's cache
 * size limit. Errors name the setting (BROCK_ERR_CONFIG) or the prices file
 * (file:line:col). */

struct settings;

struct ledger_kit_options {
    const struct settings *settings; /* NULL: defaults only */
    struct store *store;             /* NULL: nothing is recorded */
    const char *cwd;                 /* the project when brock.project is not set */
    const char *region;
    const char *main_model_id;       /* required */
    const char *user;                /* ledger_identity_resolve()'s arn */
    bool print_mode;                 /* -p (the response cache's automatic mode) */
    bool auto_model;                 /* --model auto */
    double max_budget_usd;           /* 0 = none */
    bool ignore_budget, cache, no_cache;
    ledger_client_fn *client_for_region;
    void *client_ctx;
    ledger_note_fn *note;
    void *note_ctx;
    ledger_audit_fn *audit;
    void *audit_ctx;
};

struct ledger_kit;

enum brock_status ledger_kit_new(const struct ledger_kit_options *o, struct ledger_kit **out,
                                 struct brock_err *e) BROCK_WUR;
void ledger_kit_free(struct ledger_kit *k); /* NULL is fine; frees the ledger */
struct ledger *ledger_kit_ledger(const struct ledger_kit *k);
const char *ledger_kit_project(const struct ledger_kit *k);
const struct pricing *ledger_kit_pricing(const struct ledger_kit *k);

/* ---- the caller's identity (ledger_identity.c) ------------------------- */

struct ledger_identity {
    char arn[2049];
    char account[16];
    char source[16]; /* "sts", "cache", "local" */
};

/* Calls STS GetCallerIdentity (the caller supplies it as a function). */
typedef enum brock_status ledger_sts_fn(void *ctx, char *arn, size_t arn_cap, char *account, size_t account_cap,
                                        struct brock_err *e);

#define LEDGER_IDENTITY_FILE "identity.json"
#define LEDGER_IDENTITY_TTL_MS ((int64_t)7 * 86400 * 1000)
#define LEDGER_IDENTITY_MAX_ENTRIES 32

/* Who is calling, once per run: from `dir`/identity.json (0600) when a
 * fresh entry for `cache_key` exists, else from sts (then saved there),
 * else "local:$USER" (source "local"). cache_key identifies the
 * credentials without being secret (the caller hashes the access key id,
 * profile and endpoint); NULL or sts NULL skips STS. dir NULL = no cache.
 * Never fails: an error from STS or the file only means source "local";
 * *why (may be NULL) gets the reason. */
void ledger_identity_resolve(const char *dir, const char *cache_key, ledger_sts_fn *sts, void *sts_ctx,
                             int64_t now_ms, struct ledger_identity *out, struct brock_err *why);

#endif
