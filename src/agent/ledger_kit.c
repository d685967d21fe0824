/* ledger_kit.c - a run's cost set-up from the settings: project, prices,
 * budget, router, response cache, fallback, and the ledger on top (see
 * ledger.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bedrock/pricing.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "budget.h"
#include "ledger.h"
#include "router.h"
#include "settings.h"

struct ledger_kit {
    char *project;
    struct pricing *pricing;
    struct budget budget;
    bool budget_ok;
    struct router *router;
    struct ledger_fallback fb[LEDGER_MAX_FALLBACK];
    size_t nfb;
    struct ledger *ledger;
};

void ledger_kit_free(struct ledger_kit *k)
{
    if (!k)
        return;
    ledger_free(k->ledger);
    router_free(k->router);
    if (k->budget_ok)
        budget_cleanup(&k->budget);
    pricing_free(k->pricing);
    free(k->project);
    free(k);
}

struct ledger *ledger_kit_ledger(const struct ledger_kit *k)
{
    return k ? k->ledger : NULL;
}

const char *ledger_kit_project(const struct ledger_kit *k)
{
    return k->project;
}

const struct pricing *ledger_kit_pricing(const struct ledger_kit *k)
{
    return k->pricing;
}

static enum brock_status load_prices(struct ledger_kit *k, const json_t *brock, struct brock_err *e)
{
    json_t *pf = json_object_get(brock, "prices_file");
    if (pf && !json_is_null(pf)) {
        if (!json_is_string(pf) || !json_string_length(pf) || json_string_length(pf) > 4096)
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.prices_file: expected a file path");
        char *path = fs_expand_home(json_string_value(pf));
        enum brock_status st = pricing_load_file(k->pricing, path, e);
        if (st == BROCK_ERR_NOT_FOUND)
            err_set(e, BROCK_ERR_CONFIG, "settings: brock.prices_file: %s does not exist", path);
        free(path);
        return st == BROCK_ERR_NOT_FOUND ? BROCK_ERR_CONFIG : st;
    }
    char *def = pricing_default_path();
    enum brock_status st = def ? pricing_load_file(k->pricing, def, e) : BROCK_OK;
    free(def);
    if (st == BROCK_ERR_NOT_FOUND) {
        err_clear(e);
        st = BROCK_OK;
    }
    return st;
}

enum brock_status ledger_kit_new(const struct ledger_kit_options *o, struct ledger_kit **out, struct brock_err *e)
{
    *out = NULL;
    struct ledger_kit *k = xcalloc(1, sizeof *k);
    const json_t *brock = o->settings ? o->settings->brock : NULL;
    enum brock_status st = BROCK_OK;
    json_t *proj = brock ? json_object_get(brock, "project") : NULL;
    if (proj && !json_is_null(proj)) {
        if (!json_is_string(proj) || !json_string_length(proj) || json_string_length(proj) > STORE_TEXT_MAX) {
            st = err_set(e, BROCK_ERR_CONFIG, "settings: brock.project: expected a name for the project");
            goto fail;
        }
        k->project = xstrdup(json_string_value(proj));
    } else {
        k->project = xstrdup(o->cwd ? o->cwd : "");
    }
    k->pricing = pricing_new();
    if ((st = load_prices(k, brock, e)) != BROCK_OK)
        goto fail;
    if ((st = budget_init(&k->budget, brock, o->settings, k->project, o->max_budget_usd, o->ignore_budget, e)) !=
        BROCK_OK) {
        budget_cleanup(&k->budget);
        goto fail;
    }
    k->budget_ok = true;
    if ((st = router_new(brock, o->auto_model, &k->router, e)) != BROCK_OK)
        goto fail;
    struct ledger_config lc = {
        .store = o->store,
        .pricing = k->pricing,
        .budget = &k->budget,
        .router = k->router,
        .user = o->user,
        .project = k->project,
        .region = o->region,
        .main_model_id = o->main_model_id,
        .client_for_region = o->client_for_region,
        .client_ctx = o->client_ctx,
        .audit = o->audit,
        .audit_ctx = o->audit_ctx,
        .note = o->note,
        .note_ctx = o->note_ctx,
    };
    if ((st = respcache_policy_init(&lc.cache, brock, o->print_mode, o->cache, o->no_cache, e)) != BROCK_OK)
        goto fail;
    if ((st = ledger_fallback_parse(brock, k->fb, &k->nfb, e)) != BROCK_OK)
        goto fail;
    lc.fallback = k->fb;
    lc.n_fallback = k->nfb;
    if (o->store && lc.cache.mode != RESPCACHE_OFF)
        store_cache_set_limit(o->store, lc.cache.max_bytes);
    k->ledger = ledger_new(&lc);
    *out = k;
    return BROCK_OK;
fail:
    ledger_kit_free(k);
    return st;
}
