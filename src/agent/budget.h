/* budget.h - spend limits, checked before each model call from the ledger.
 *
 * Limits, all in USD (0 or absent = none):
 *
 *   brock.budget.daily_usd                      spend in the current UTC day, every project
 *   brock.budget.monthly_usd                    spend in the current UTC month, every project
 *   brock.budget.projects.<name>.daily_usd      the same for one project
 *   brock.budget.projects.<name>.monthly_usd
 *   brock.budget.warn_at                        fraction that warns, default 0.8
 *   --max-budget-usd N                          spend of this run (process)
 *
 * <name> is the project as the ledger records it (settings `brock.project`,
 * else the working directory) or the last component of that path, so both
 * {"projects": {"/home/me/src/app": ...}} and {"projects": {"app": ...}}
 * work. Days and months are UTC, as AWS bills.
 *
 * budget_check() reads the day's and month's spend from the store's daily
 * rollup (store_ledger_budget: one indexed query over at most a month of
 * rollup rows) and adds the run's own spend for --max-budget-usd. At or past
 * 100 % of any limit it refuses with BROCK_ERR_BUDGET and a message that says
 * which limit, how much was spent, where the limit is set (the settings file,
 * or the flag) and how to override (--ignore-budget, or raising it). Past
 * the warn_at fraction it reports a warning once per limit per run (the
 * `struct budget` remembers). With `ignore` (--ignore-budget) the settings'
 * limits refuse nothing, but their warnings still come (once);
 * --max-budget-usd, which the user gave for this run, still refuses.
 *
 * A ledger that cannot be read is not a pass: the check fails with the
 * store's error, naming --ignore-budget as the way round.
 *
 * Ownership: budget_init copies what it keeps; budget_cleanup frees it.
 * Threads: one struct budget per thread (it remembers warnings). */
#ifndef BROCK_AGENT_BUDGET_H
#define BROCK_AGENT_BUDGET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"

struct settings;
struct store;

#define BUDGET_WARN_DEFAULT 0.80
#define BUDGET_USD_MAX 1e9 /* larger limits are typos */

enum budget_kind {
    BUDGET_RUN = 0,       /* --max-budget-usd */
    BUDGET_PROJECT_DAILY,
    BUDGET_DAILY,
    BUDGET_PROJECT_MONTHLY,
    BUDGET_MONTHLY,
    BUDGET_KIND_COUNT
};

struct budget_limit {
    double usd;       /* > 0 when set */
    char where[384];  /* "brock.budget.daily_usd in /home/me/.config/brock/settings.json" */
};

struct budget {
    struct budget_limit limit[BUDGET_KIND_COUNT];
    double warn_at;   /* fraction */
    char *project;    /* the ledger's project, for the per-project figures */
    bool ignore;      /* --ignore-budget */
    unsigned warned;  /* bit per kind: warned this run */
};

/* Read the limits. `brock` is the settings' brock object (NULL = none);
 * `s` (may be NULL) only serves to name the file that sets each limit.
 * run_usd: --max-budget-usd (0 = none). BROCK_ERR_CONFIG for a bad value,
 * naming the key. */
enum brock_status budget_init(struct budget *b, const json_t *brock, const struct settings *s, const char *project,
                              double run_usd, bool ignore, struct brock_err *e) BROCK_WUR;
void budget_cleanup(struct budget *b);
/* True when any limit is set. */
bool budget_active(const struct budget *b);

/* The outcome of one check. */
struct budget_report {
    double today_usd, month_usd, project_today_usd, project_month_usd, run_usd;
    bool warn;         /* a limit passed warn_at for the first time this run */
    char warning[512]; /* then: what to tell the user */
    double worst;      /* the highest spent/limit fraction */
};

/* Check before a call at now_ms (0 = now). `store` may be NULL (then only
 * --max-budget-usd is checked). run_spent: USD spent by this run so far. */
enum brock_status budget_check(struct budget *b, struct store *store, int64_t now_ms, double run_spent,
                               struct budget_report *out, struct brock_err *e) BROCK_WUR;

/* Human name of a limit: "daily", "monthly", "project daily", ... */
const char *budget_kind_name(enum budget_kind k);

#endif
