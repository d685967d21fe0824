/* budget.c - spend limits from the settings files, checked from the ledger
 * (see budget.h).
 *
 * Limits are read from each settings file on its own, not only from the
 * merged `brock` object: the merge replaces brock.budget wholesale, so a
 * project file (which a cloned repository controls) could otherwise remove
 * the user's limits. Here every file can add or tighten a limit; the lowest
 * value of each wins, and its file is named in messages. */
#include "budget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "settings.h"

#define BUDGET_EPSILON 1e-9

static const char *const kind_names[BUDGET_KIND_COUNT] = {
    [BUDGET_RUN] = "--max-budget-usd",
    [BUDGET_PROJECT_DAILY] = "project daily",
    [BUDGET_DAILY] = "daily",
    [BUDGET_PROJECT_MONTHLY] = "project monthly",
    [BUDGET_MONTHLY] = "monthly",
};

const char *budget_kind_name(enum budget_kind k)
{
    return (unsigned)k < BUDGET_KIND_COUNT ? kind_names[k] : "unknown";
}

bool budget_active(const struct budget *b)
{
    for (int k = 0; k < BUDGET_KIND_COUNT; k++)
        if (b->limit[k].usd > 0)
            return true;
    return false;
}

void budget_cleanup(struct budget *b)
{
    if (!b)
        return;
    free(b->project);
    memset(b, 0, sizeof *b);
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s && s[1] ? s + 1 : p;
}

/* Take a limit: the lowest value wins. */
static void offer(struct budget *b, enum budget_kind k, double usd, const char *key, const char *origin)
{
    if (!(usd > 0))
        return;
    if (b->limit[k].usd > 0 && b->limit[k].usd <= usd)
        return;
    b->limit[k].usd = usd;
    snprintf(b->limit[k].where, sizeof b->limit[k].where, "%s in %s", key, origin);
}

static enum brock_status usd_value(const json_t *obj, const char *name, const char *key, const char *origin,
                                   double *out, struct brock_err *e)
{
    json_t *v = json_object_get(obj, name);
    *out = 0;
    if (!v || json_is_null(v))
        return BROCK_OK;
    double d = json_is_number(v) ? json_number_value(v) : -1;
    if (!isfinite(d) || d < 0 || d > BUDGET_USD_MAX)
        return err_set(e, BROCK_ERR_CONFIG, "%s: %s: expected a number of US dollars from 0 to %g", origin, key,
                       BUDGET_USD_MAX);
    *out = d;
    return BROCK_OK;
}

/* One `budget` object from `origin` (a file path, or "settings"). */
static enum brock_status parse_budget(struct budget *b, const json_t *budget, const char *origin, struct brock_err *e)
{
    if (!budget || json_is_null(budget))
        return BROCK_OK;
    if (!json_is_object(budget))
        return err_set(e, BROCK_ERR_CONFIG, "%s: brock.budget: expected an object", origin);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)budget, k, v)
    {
        if (strcmp(k, "daily_usd") && strcmp(k, "monthly_usd") && strcmp(k, "projects") && strcmp(k, "warn_at"))
            return err_set(e, BROCK_ERR_CONFIG,
                           "%s: brock.budget: unknown field (expected daily_usd, monthly_usd, warn_at, projects)",
                           origin);
    }
    double d;
    enum brock_status st;
    if ((st = usd_value(budget, "daily_usd", "brock.budget.daily_usd", origin, &d, e)) != BROCK_OK)
        return st;
    offer(b, BUDGET_DAILY, d, "brock.budget.daily_usd", origin);
    if ((st = usd_value(budget, "monthly_usd", "brock.budget.monthly_usd", origin, &d, e)) != BROCK_OK)
        return st;
    offer(b, BUDGET_MONTHLY, d, "brock.budget.monthly_usd", origin);
    json_t *w = json_object_get(budget, "warn_at");
    if (w) {
        double f = json_is_number(w) ? json_number_value(w) : -1;
        if (!(f > 0 && f <= 1))
            return err_set(e, BROCK_ERR_CONFIG, "%s: brock.budget.warn_at: expected a fraction above 0 and at most 1",
                           origin);
        if (f < b->warn_at)
            b->warn_at = f;
    }
    json_t *projects = json_object_get(budget, "projects");
    if (!projects || json_is_null(projects))
        return BROCK_OK;
    if (!json_is_object(projects))
        return err_set(e, BROCK_ERR_CONFIG, "%s: brock.budget.projects: expected an object: project -> limits", origin);
    json_object_foreach(projects, k, v)
    {
        if (!json_is_object(v))
            return err_set(e, BROCK_ERR_CONFIG, "%s: brock.budget.projects.%.200s: expected an object", origin, k);
        const char *k2;
        json_t *v2;
        json_object_foreach(v, k2, v2)
        {
            if (strcmp(k2, "daily_usd") && strcmp(k2, "monthly_usd"))
                return err_set(e, BROCK_ERR_CONFIG,
                               "%s: brock.budget.projects.%.200s: unknown field (expected daily_usd, monthly_usd)",
                               origin, k);
        }
        bool mine = b->project && (!strcmp(k, b->project) || !strcmp(k, basename_of(b->project)));
        char key[320];
        snprintf(key, sizeof key, "brock.budget.projects.%.200s.daily_usd", k);
        if ((st = usd_value(v, "daily_usd", key, origin, &d, e)) != BROCK_OK)
            return st;
        if (mine)
            offer(b, BUDGET_PROJECT_DAILY, d, key, origin);
        snprintf(key, sizeof key, "brock.budget.projects.%.200s.monthly_usd", k);
        if ((st = usd_value(v, "monthly_usd", key, origin, &d, e)) != BROCK_OK)
            return st;
        if (mine)
            offer(b, BUDGET_PROJECT_MONTHLY, d, key, origin);
    }
    return BROCK_OK;
}

/* brock.budget of one settings file. */
static enum brock_status from_file(struct budget *b, const char *path, struct brock_err *e)
{
    struct buf t = BUF_INIT(SETTINGS_MAX_FILE_BYTES);
    json_t *doc = NULL;
    enum brock_status st = fs_read_file(path, SETTINGS_MAX_FILE_BYTES, &t, e);
    if (st == BROCK_ERR_NOT_FOUND) { /* removed since it was loaded */
        st = BROCK_OK;
        goto done;
    }
    if (st != BROCK_OK || !t.len)
        goto done;
    if ((st = json_parse(t.ptr, t.len, path, &doc, e)) != BROCK_OK)
        goto done;
    json_t *brock = json_object_get(doc, "brock");
    if (json_is_object(brock))
        st = parse_budget(b, json_object_get(brock, "budget"), path, e);
done:
    json_decref(doc);
    buf_free(&t);
    return st;
}

enum brock_status budget_init(struct budget *b, const json_t *brock, const struct settings *s, const char *project,
                              double run_usd, bool ignore, struct brock_err *e)
{
    memset(b, 0, sizeof *b);
    b->warn_at = BUDGET_WARN_DEFAULT;
    b->project = project ? xstrdup(project) : NULL;
    b->ignore = ignore;
    if (!isfinite(run_usd) || run_usd < 0 || run_usd > BUDGET_USD_MAX)
        return err_set(e, BROCK_ERR_USAGE, "--max-budget-usd: expected a number of US dollars above 0");
    if (run_usd > 0) {
        b->limit[BUDGET_RUN].usd = run_usd;
        snprintf(b->limit[BUDGET_RUN].where, sizeof b->limit[BUDGET_RUN].where, "--max-budget-usd");
    }
    enum brock_status st = BROCK_OK;
    bool from_files = false;
    if (s) {
        for (int sc = SETTINGS_USER; sc < SETTINGS_CLI && st == BROCK_OK; sc++) {
            if (!s->src[sc].present || !s->src[sc].path)
                continue;
            from_files = true;
            st = from_file(b, s->src[sc].path, e);
        }
    }
    if (st == BROCK_OK && !from_files && brock)
        st = parse_budget(b, json_object_get(brock, "budget"), "settings", e);
    return st;
}

/* ---- the check ---------------------------------------------------------------- */

static void money(char *out, size_t n, double usd)
{
    snprintf(out, n, usd < 10 ? "$%.4f" : "$%.2f", usd);
}

static const char *period(enum budget_kind k)
{
    switch (k) {
    case BUDGET_RUN:
        return "in this run";
    case BUDGET_DAILY:
    case BUDGET_PROJECT_DAILY:
        return "today (UTC)";
    default:
        return "this month (UTC)";
    }
}

static const char *how_to(enum budget_kind k)
{
    switch (k) {
    case BUDGET_RUN:
        return "raise --max-budget-usd, or leave it out";
    case BUDGET_DAILY:
    case BUDGET_PROJECT_DAILY:
        return "raise the limit there, wait for the next UTC day, or run with --ignore-budget";
    default:
        return "raise the limit there, wait for the next UTC month, or run with --ignore-budget";
    }
}

enum brock_status budget_check(struct budget *b, struct store *store, int64_t now_ms, double run_spent,
                               struct budget_report *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    out->run_usd = run_spent;
    if (!budget_active(b))
        return BROCK_OK;
    bool need_all = b->limit[BUDGET_DAILY].usd > 0 || b->limit[BUDGET_MONTHLY].usd > 0;
    bool need_proj = b->limit[BUDGET_PROJECT_DAILY].usd > 0 || b->limit[BUDGET_PROJECT_MONTHLY].usd > 0;
    if (!store && (need_all || need_proj) && !b->ignore)
        return err_set(e, BROCK_ERR_BUDGET,
                       "budget: the usage ledger is not available, so the daily and monthly limits cannot be "
                       "checked; the request was not sent (--ignore-budget goes on without them)");
    if (store && need_all) {
        enum brock_status st = store_ledger_budget(store, now_ms, NULL, NULL, &out->today_usd, &out->month_usd, e);
        if (st != BROCK_OK) {
            err_prefix(e, "budget: cannot read the spend from the ledger (--ignore-budget goes on without it)");
            return st;
        }
    }
    if (store && need_proj) {
        enum brock_status st = store_ledger_budget(store, now_ms, b->project ? b->project : "", NULL,
                                                   &out->project_today_usd, &out->project_month_usd, e);
        if (st != BROCK_OK) {
            err_prefix(e, "budget: cannot read the project's spend from the ledger (--ignore-budget goes on "
                          "without it)");
            return st;
        }
    }
    const double spent[BUDGET_KIND_COUNT] = {
        [BUDGET_RUN] = run_spent,
        [BUDGET_PROJECT_DAILY] = out->project_today_usd,
        [BUDGET_DAILY] = out->today_usd,
        [BUDGET_PROJECT_MONTHLY] = out->project_month_usd,
        [BUDGET_MONTHLY] = out->month_usd,
    };
    int refuse = -1;
    for (int k = 0; k < BUDGET_KIND_COUNT; k++) {
        double lim = b->limit[k].usd;
        if (!(lim > 0))
            continue;
        if (k != BUDGET_RUN && !store)
            continue;
        double f = spent[k] / lim;
        if (f > out->worst)
            out->worst = f;
        /* sums of cents are not exact in binary: 0.04 / 0.05 is 0.7999... */
        if (f + BUDGET_EPSILON >= 1.0 && refuse < 0 && (k == BUDGET_RUN || !b->ignore))
            refuse = k; /* --ignore-budget lifts the settings' limits, not the run's own */
        if (f + BUDGET_EPSILON >= b->warn_at && !(b->warned & (1u << k)) && !out->warn) {
            char s[32], l[32];
            money(s, sizeof s, spent[k]);
            money(l, sizeof l, lim);
            b->warned |= 1u << k;
            out->warn = true;
            snprintf(out->warning, sizeof out->warning, "budget: %.0f%% of the %s limit used: %s of %s %s (%s)",
                     floor(f * 100), budget_kind_name((enum budget_kind)k), s, l, period((enum budget_kind)k),
                     b->limit[k].where);
        }
    }
    if (refuse < 0)
        return BROCK_OK;
    out->warn = false; /* the refusal says it all */
    out->warning[0] = '\0';
    char s[32], l[32];
    money(s, sizeof s, spent[refuse]);
    money(l, sizeof l, b->limit[refuse].usd);
    if (refuse == BUDGET_RUN)
        return err_set(e, BROCK_ERR_BUDGET,
                       "budget: the --max-budget-usd limit of %s is reached: %s spent in this run; the request "
                       "was not sent (%s)",
                       l, s, how_to(BUDGET_RUN));
    return err_set(e, BROCK_ERR_BUDGET,
                   "budget: the %s limit of %s is reached: %s spent %s%s%s; the request was not sent. The limit is "
                   "set by %s: %s",
                   budget_kind_name((enum budget_kind)refuse), l, s, period((enum budget_kind)refuse),
                   refuse == BUDGET_PROJECT_DAILY || refuse == BUDGET_PROJECT_MONTHLY ? " in project " : "",
                   refuse == BUDGET_PROJECT_DAILY || refuse == BUDGET_PROJECT_MONTHLY ? (b->project ? b->project : "")
                                                                                      : "",
                   b->limit[refuse].where, how_to((enum budget_kind)refuse));
}
