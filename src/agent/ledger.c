/* ledger.c - routing, budget, cache, fallback, cost, ledger row and audit
 * around each model call (see ledger.h). */
#include "ledger.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bedrock/bedrock_wire.h"
#include "../bedrock/catalog.h"
#include "../bedrock/pricing.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/json.h"
#include "budget.h"
#include "router.h"

#define CLASSIFY_MAX_TOKENS 8
#define MAX_WARNED_PRICES 16

struct region_client {
    char region[32];
    struct model_client *mc;
};

struct ledger {
    struct ledger_config cfg;
    char *user, *project, *region, *main_model_id;
    struct ledger_fallback fb[LEDGER_MAX_FALLBACK];
    size_t nfb;
    size_t target; /* 0: the primary; i: fb[i - 1] (sticky) */
    struct region_client rc[LEDGER_MAX_FALLBACK];
    size_t nrc;
    bool haiku_off;    /* background work fell back to the main model */
    bool store_broken; /* reported once, then rows are not written */
    char warned_price[MAX_WARNED_PRICES][128];
    size_t n_warned_price;
    struct {
        char arn[256];
        const struct model_info *m;
    } profiles[LEDGER_MAX_PROFILES];
    size_t n_profiles;
    /* the current turn's routing (kept while the turn continues) */
    bool have_turn;
    char turn_model[256];
    char turn_routing[LEDGER_ROUTING_MAX];
    char sess_id[STORE_SESSION_ID_LEN + 1];
    struct ledger_totals run, sess;
    struct ledger_outcome last;
};

static void note(struct ledger *l, enum ledger_note_kind kind, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void note(struct ledger *l, enum ledger_note_kind kind, const char *fmt, ...)
{
    if (!l->cfg.note)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    l->cfg.note(l->cfg.note_ctx, kind, msg);
}

/* snprintf for messages that may be cut (a long model id): cutting is fine. */
static void sfmt(char *out, size_t cap, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void sfmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

struct ledger *ledger_new(const struct ledger_config *cfg)
{
    struct ledger *l = xcalloc(1, sizeof *l);
    l->cfg = *cfg;
    l->user = xstrdup(cfg->user ? cfg->user : "");
    l->project = xstrdup(cfg->project ? cfg->project : "");
    l->region = xstrdup(cfg->region && *cfg->region ? cfg->region : "us-west-2");
    l->main_model_id = xstrdup(cfg->main_model_id ? cfg->main_model_id : "");
    l->cfg.user = l->user;
    l->cfg.project = l->project;
    l->cfg.region = l->region;
    l->cfg.main_model_id = l->main_model_id;
    l->nfb = cfg->n_fallback < LEDGER_MAX_FALLBACK ? cfg->n_fallback : LEDGER_MAX_FALLBACK;
    for (size_t i = 0; i < l->nfb; i++)
        l->fb[i] = cfg->fallback[i];
    l->cfg.fallback = NULL;
    l->cfg.n_fallback = 0;
    return l;
}

void ledger_free(struct ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nrc; i++)
        model_client_free(l->rc[i].mc);
    free(l->user);
    free(l->project);
    free(l->region);
    free(l->main_model_id);
    free(l);
}

void ledger_set_note(struct ledger *l, ledger_note_fn *note_fn, void *ctx)
{
    l->cfg.note = note_fn;
    l->cfg.note_ctx = ctx;
}

const struct ledger_outcome *ledger_last(const struct ledger *l)
{
    return &l->last;
}

void ledger_run_totals(const struct ledger *l, struct ledger_totals *out)
{
    *out = l->run;
}

void ledger_session_totals(const struct ledger *l, struct ledger_totals *out)
{
    *out = l->sess;
}

/* ---- ids and regions --------------------------------------------------------- */

void ledger_model_for_region(const char *model_id, const char *region, char *out, size_t cap)
{
    enum model_geo geo = GEO_NONE;
    const struct model_info *m = catalog_find(model_id, &geo);
    if (!m || geo == GEO_GLOBAL || !strncmp(model_id, "arn:", 4)) {
        snprintf(out, cap, "%s", model_id);
        return;
    }
    if (geo == GEO_NONE && m->in_region) {
        snprintf(out, cap, "%s", model_id);
        return;
    }
    enum model_geo want = catalog_geo_for_region(region);
    enum model_geo use = GEO_NONE;
    if (want != GEO_NONE && (m->geos & want))
        use = want;
    else if ((want == GEO_JP || want == GEO_AU) && (m->geos & GEO_APAC))
        use = GEO_APAC;
    else if (m->geos & GEO_GLOBAL)
        use = GEO_GLOBAL;
    if (use == GEO_NONE)
        snprintf(out, cap, "%s", m->base_id);
    else
        snprintf(out, cap, "%s.%s", catalog_geo_prefix(use), m->base_id);
}

static const char *target_region(const struct ledger *l, size_t t)
{
    for (size_t i = t; i > 0; i--)
        if (l->fb[i - 1].region[0])
            return l->fb[i - 1].region;
    return l->region;
}

/* The model id to use on target t for a call that routing sent to `model`. */
static void target_model(const struct ledger *l, size_t t, const char *model, char *out, size_t cap)
{
    char m[256];
    snprintf(m, sizeof m, "%s", model);
    for (size_t i = 1; i <= t; i++) {
        const struct ledger_fallback *f = &l->fb[i - 1];
        if (f->model[0]) {
            struct model_choice ch;
            if (catalog_resolve(f->model, target_region(l, i), false, &ch, NULL) == BROCK_OK)
                snprintf(m, sizeof m, "%s", ch.model_id);
        } else if (f->region[0]) {
            char tmp[256];
            ledger_model_for_region(m, f->region, tmp, sizeof tmp);
            snprintf(m, sizeof m, "%s", tmp);
        }
    }
    snprintf(out, cap, "%s", m);
}

static struct model_client *target_client(struct ledger *l, size_t t, struct model_client *primary)
{
    const char *r = target_region(l, t);
    if (!strcmp(r, l->region))
        return primary;
    for (size_t i = 0; i < l->nrc; i++)
        if (!strcmp(l->rc[i].region, r))
            return l->rc[i].mc;
    if (!l->cfg.client_for_region || l->nrc >= LEDGER_MAX_FALLBACK)
        return NULL;
    struct model_client *mc = l->cfg.client_for_region(l->cfg.client_ctx, r);
    if (!mc)
        return NULL;
    snprintf(l->rc[l->nrc].region, sizeof l->rc[l->nrc].region, "%s", r);
    l->rc[l->nrc++].mc = mc;
    return mc;
}

static const char *base_model(const char *id, char *buf, size_t cap)
{
    const struct model_info *m = catalog_find(id, NULL);
    snprintf(buf, cap, "%s", m ? m->base_id : id);
    return buf;
}

static bool is_haiku(const char *id)
{
    const struct model_info *m = catalog_find(id, NULL);
    return m && m->family == FAMILY_HAIKU;
}

/* ---- totals -------------------------------------------------------------------- */

static void add_totals(struct ledger_totals *t, const char *model_id, const struct model_usage *u, double cost,
                       bool background, bool hit, double saved, bool failed)
{
    t->calls++;
    t->background_calls += background;
    t->cache_hits += hit;
    t->errors += failed;
    t->usage.input_tokens += u->input_tokens;
    t->usage.output_tokens += u->output_tokens;
    t->usage.cache_read_tokens += u->cache_read_tokens;
    t->usage.cache_write_tokens += u->cache_write_tokens;
    t->cost_usd += cost;
    t->saved_usd += saved;
    for (size_t i = 0; i < t->n_models; i++) {
        if (!strcmp(t->models[i].model_id, model_id)) {
            t->models[i].calls++;
            t->models[i].cost_usd += cost;
            return;
        }
    }
    if (t->n_models < LEDGER_MAX_MODELS) {
        struct ledger_model_stat *s = &t->models[t->n_models++];
        snprintf(s->model_id, sizeof s->model_id, "%s", model_id);
        s->calls = 1;
        s->cost_usd = cost;
    }
}

/* ---- the row ------------------------------------------------------------------------ */

struct rec_in {
    const char *session_id, *purpose, *routing;
    bool background, cache_hit;
    double cost, saved;
    const char *model_id; /* asked for */
    const struct model_request *req;
    const struct model_result *res;
    enum brock_status st;
    const struct brock_err *e;
    const char *region;
};

static void record(struct ledger *l, const struct rec_in *in)
{
    const struct model_result *res = in->res;
    char status[96];
    if (in->st == BROCK_OK)
        snprintf(status, sizeof status, "ok");
    else if (in->st == BROCK_ERR_INTERRUPTED)
        snprintf(status, sizeof status, "interrupted");
    else if (in->e && in->e->aws_code[0])
        snprintf(status, sizeof status, "%s", in->e->aws_code);
    else
        snprintf(status, sizeof status, "%s", brock_status_name(in->st));
    const char *served = res->model_id[0] ? res->model_id : in->model_id;
    char base[256];
    base_model(served, base, sizeof base);
    struct ledger_record r = {
        .time_ms = clock_now_ms(l->cfg.clock),
        .session_id = in->session_id ? in->session_id : "",
        .user = l->user,
        .project = l->project,
        .purpose = in->purpose,
        .background = in->background,
        .model = base,
        .profile = served,
        .region = res->region[0] ? res->region : in->region ? in->region : "",
        .api = in->req && in->req->api == MODEL_API_CONVERSE ? "converse" : "messages",
        .usage = res->usage,
        .latency_ms = in->cache_hit ? 0 : res->latency_ms,
        .ttft_ms = in->cache_hit ? 0 : res->ttft_ms,
        .retries = res->attempts > 1 ? res->attempts - 1 : 0,
        .status = status,
        .error = in->st != BROCK_OK && in->e ? in->e->msg : "",
        .request_id = in->cache_hit ? "" : res->request_id,
        .cost_usd = in->cost,
        .cache_hit = in->cache_hit,
        .saved_usd = in->saved,
        .routing = in->routing ? in->routing : "",
        .req = in->req,
        .res = res,
    };
    if (in->cache_hit) /* a cached answer used no model tokens */
        r.usage = (struct model_usage){0};
    add_totals(&l->run, served, &r.usage, in->cost, in->background, in->cache_hit, in->saved, in->st != BROCK_OK);
    add_totals(&l->sess, served, &r.usage, in->cost, in->background, in->cache_hit, in->saved, in->st != BROCK_OK);
    if (l->cfg.store && !l->store_broken) {
        struct store_ledger_row row = {
            .time_ms = r.time_ms,
            .session_id = r.session_id[0] ? r.session_id : NULL,
            .user = r.user,
            .project = r.project,
            .model = r.model,
            .profile = r.profile,
            .region = r.region,
            .api = r.api,
            .usage = r.usage,
            .latency_ms = isfinite(r.latency_ms) && r.latency_ms > 0 ? r.latency_ms : 0,
            .ttft_ms = isfinite(r.ttft_ms) && r.ttft_ms > 0 ? r.ttft_ms : 0,
            .retries = r.retries,
            .status = r.status,
            .request_id = r.request_id,
            .cost_usd = isfinite(r.cost_usd) && r.cost_usd > 0 ? r.cost_usd : 0,
            .cache_hit = r.cache_hit,
            .routing = r.routing,
        };
        struct brock_err se = {0};
        if (store_ledger_insert(l->cfg.store, &row, NULL, &se) != BROCK_OK) {
            l->store_broken = true;
            note(l, LEDGER_NOTE_WARNING, "usage is not being recorded in the ledger: %s", se.msg);
        }
    }
    if (l->cfg.audit)
        l->cfg.audit(l->cfg.audit_ctx, &r);
}

/* The price of model_id from the prices file, else the catalog. */
static bool rate_of(const struct ledger *l, const char *model_id, struct pricing_rate *rate)
{
    if (l->cfg.pricing)
        return pricing_rate(l->cfg.pricing, model_id, rate);
    memset(rate, 0, sizeof *rate);
    enum model_geo geo;
    rate->model = catalog_find(model_id, &geo);
    if (!rate->model)
        return false;
    rate->p = catalog_prices(rate->model, geo);
    rate->batch_discount = 0.5;
    return true;
}

static const struct model_info *profile_model(const struct ledger *l, const char *id)
{
    for (size_t i = 0; i < l->n_profiles; i++)
        if (!strcmp(l->profiles[i].arn, id))
            return l->profiles[i].m;
    return NULL;
}

void ledger_set_profile_model(struct ledger *l, const char *arn, const struct model_info *m)
{
    if (!l || !arn || !m || strlen(arn) >= sizeof l->profiles[0].arn)
        return;
    size_t i = 0;
    while (i < l->n_profiles && strcmp(l->profiles[i].arn, arn))
        i++;
    if (i == LEDGER_MAX_PROFILES)
        return;
    if (i == l->n_profiles) {
        snprintf(l->profiles[i].arn, sizeof l->profiles[i].arn, "%s", arn);
        l->n_profiles++;
    }
    l->profiles[i].m = m;
}

/* A price for what the call billed: its own (the prices file's entry for
 * the id wins), its profile's model's, else the ceiling with *estimated
 * set (a call that billed nothing is 0, not an estimate). */
static double cost_of(struct ledger *l, const char *model_id, const struct model_usage *u, bool *estimated)
{
    struct pricing_rate rate;
    *estimated = false;
    if (rate_of(l, model_id, &rate))
        return pricing_rate_cost(&rate, u, 0, false);
    bool billed = u->input_tokens || u->output_tokens || u->cache_read_tokens || u->cache_write_tokens;
    if (!billed)
        return 0;
    const struct model_info *pm = profile_model(l, model_id);
    if (pm && rate_of(l, pm->base_id, &rate))
        return pricing_rate_cost(&rate, u, 0, false);
    *estimated = true;
    memset(&rate, 0, sizeof rate);
    rate.p = catalog_ceiling_prices();
    for (size_t i = 0; i < l->n_warned_price; i++)
        if (!strcmp(l->warned_price[i], model_id))
            return pricing_rate_cost(&rate, u, 0, false);
    if (l->n_warned_price < MAX_WARNED_PRICES)
        snprintf(l->warned_price[l->n_warned_price++], sizeof l->warned_price[0], "%s", model_id);
    note(l, LEDGER_NOTE_WARNING,
         "no price is known for %.300s: its calls are booked at the catalog's highest prices ($%g in, $%g out "
         "per million tokens) so budgets hold; give its price in %s",
         model_id, rate.p.input, rate.p.output, "~/.config/brock/prices.json (see docs/cost.md)");
    return pricing_rate_cost(&rate, u, 0, false);
}

/* ---- routing ------------------------------------------------------------------------ */

static enum router_task task_of(const char *purpose)
{
    if (!strcmp(purpose, "compact"))
        return ROUTER_COMPACTION;
    if (!strcmp(purpose, "title"))
        return ROUTER_TITLE;
    if (!strcmp(purpose, "classify"))
        return ROUTER_CLASSIFY;
    return ROUTER_MAIN;
}

static void label(char *out, size_t cap, const char *purpose, bool background)
{
    snprintf(out, cap, "%s%s", purpose, background ? " (background)" : "");
}

/* A spec from the router as a model id for the primary region. */
static bool resolve_spec(struct ledger *l, const char *spec, char *out, size_t cap)
{
    struct model_choice ch;
    struct brock_err re = {0};
    if (catalog_resolve(spec, l->region, false, &ch, &re) != BROCK_OK) {
        note(l, LEDGER_NOTE_WARNING, "routing: %s", re.msg);
        return false;
    }
    snprintf(out, cap, "%s", ch.model_id);
    return true;
}

static void call_classifier(struct ledger *l, struct model_client *mc, const struct ledger_call *call,
                            const struct model_request *req, const struct router_input *in, struct router_choice *ch);

/* Background work on the Haiku-class model goes to the main model once
 * Haiku turned out not to be enabled. */
static void haiku_check(const struct ledger *l, char *model, size_t mcap, char *why, size_t wcap)
{
    if (l->haiku_off && is_haiku(model) && l->main_model_id[0] && !is_haiku(l->main_model_id)) {
        snprintf(model, mcap, "%s", l->main_model_id);
        size_t n = strlen(why);
        if (n + 1 < wcap)
            snprintf(why + n, wcap - n, "; the Haiku-class model is not enabled: %s", l->main_model_id);
    }
}

/* Decide the model of this call: `model` in/out, `why` out. */
static void route(struct ledger *l, struct model_client *mc, const struct ledger_call *call, enum router_task task,
                  struct model_request *req, char *model, size_t mcap, char *why, size_t wcap)
{
    char lab[64];
    const char *purpose = call && call->purpose ? call->purpose : "turn";
    label(lab, sizeof lab, purpose, task != ROUTER_MAIN);
    const struct router *r = l->cfg.router;
    if (!r) {
        snprintf(why, wcap, "%s: model given", lab);
        haiku_check(l, model, mcap, why, wcap);
        return;
    }
    struct router_input in;
    char *text = NULL;
    router_input_from_request(req, &in, &text);
    if (task == ROUTER_MAIN && router_auto(r) && in.continuing && l->have_turn) {
        snprintf(model, mcap, "%s", l->turn_model);
        sfmt(why, wcap, "%s (the turn goes on)", l->turn_routing);
        free(text);
        return;
    }
    if (task == ROUTER_MAIN && router_auto(r))
        in.context_tokens = bedrock_estimate_tokens(req);
    struct router_choice ch;
    router_decide(r, task, &in, &ch);
    if (ch.via == ROUTER_VIA_CLASSIFY)
        call_classifier(l, mc, call, req, &in, &ch);
    free(text);
    char id[256];
    if (ch.spec[0] && ch.via != ROUTER_VIA_BACKGROUND && resolve_spec(l, ch.spec, id, sizeof id))
        snprintf(model, mcap, "%s", id);
    if (ch.via == ROUTER_VIA_FIXED || ch.via == ROUTER_VIA_BACKGROUND)
        snprintf(why, wcap, "%s: %s", lab,
                 ch.via == ROUTER_VIA_FIXED ? "model given"
                 : is_haiku(model)          ? "Haiku-class model for background work"
                                            : "model given (no Haiku-class model)");
    else if (ch.via == ROUTER_VIA_PIN)
        sfmt(why, wcap, "%s: %s -> %s", lab, ch.why, ch.spec);
    else
        sfmt(why, wcap, "%s: auto -> %s (%s)", lab, ch.spec, ch.why);
    haiku_check(l, model, mcap, why, wcap);
    if (task == ROUTER_MAIN && router_auto(r)) {
        l->have_turn = true;
        snprintf(l->turn_model, sizeof l->turn_model, "%s", model);
        snprintf(l->turn_routing, sizeof l->turn_routing, "%s", why);
    }
}

/* ---- the call ------------------------------------------------------------------------- */

static void add_routing(char *routing, size_t cap, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void add_routing(char *routing, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(routing);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(routing + n, cap - n, fmt, ap);
    va_end(ap);
}

static bool try_cache(struct ledger *l, const struct ledger_call *call, const char *purpose, bool background,
                      struct model_request *req, const struct model_events *ev, struct model_result *res,
                      struct ledger_outcome *lo, char key[SHA256_HEX_LEN + 1], bool *eligible)
{
    *eligible = false;
    if (!l->cfg.store || !respcache_eligible(&l->cfg.cache, req))
        return false;
    struct brock_err ce = {0};
    if (respcache_key(req, key, &ce) != BROCK_OK)
        return false;
    *eligible = true;
    struct respcache_meta meta;
    bool hit = false;
    if (respcache_get(l->cfg.store, key, res, &meta, &hit, &ce) != BROCK_OK) {
        note(l, LEDGER_NOTE_WARNING, "response cache: %s", ce.msg);
        return false;
    }
    if (!hit)
        return false;
    respcache_replay(res, ev);
    lo->cache_hit = true;
    lo->saved_usd = meta.cost_usd;
    add_routing(lo->routing, sizeof lo->routing,
                "; cache hit, saved $%.6f (%lld in, %lld out, %lld cache read, %lld cache write tokens%s%s)",
                meta.cost_usd, (long long)meta.usage.input_tokens, (long long)meta.usage.output_tokens,
                (long long)meta.usage.cache_read_tokens, (long long)meta.usage.cache_write_tokens,
                meta.request_id[0] ? "; first answered by request " : "", meta.request_id);
    note(l, LEDGER_NOTE_INFO, "response cache: hit for %s: the stored answer, no request sent; saved $%.6f "
                              "(%lld in, %lld out tokens as first billed)",
         req->model_id, meta.cost_usd, (long long)meta.usage.input_tokens, (long long)meta.usage.output_tokens);
    if (!res->model_id[0])
        snprintf(res->model_id, sizeof res->model_id, "%s", req->model_id);
    struct rec_in ri = {
        .session_id = call ? call->session_id : NULL,
        .purpose = purpose,
        .routing = lo->routing,
        .background = background,
        .cache_hit = true,
        .saved = meta.cost_usd,
        .model_id = req->model_id,
        .req = req,
        .res = res,
        .st = BROCK_OK,
        .region = "",
    };
    record(l, &ri);
    return true;
}

static void begin_session(struct ledger *l, const struct ledger_call *call)
{
    const char *sid = call && call->session_id ? call->session_id : "";
    if (!strcmp(sid, l->sess_id))
        return;
    /* the first id of a session that was just created keeps the calls made before it existed */
    if (l->sess_id[0] || !*sid)
        memset(&l->sess, 0, sizeof l->sess);
    if (l->sess_id[0])
        l->have_turn = false;
    snprintf(l->sess_id, sizeof l->sess_id, "%s", sid);
}

enum brock_status ledger_invoke(struct ledger *l, struct model_client *mc, const struct ledger_call *call,
                                struct model_request *req, const struct model_events *ev, struct model_result *res,
                                struct ledger_outcome *out, struct brock_err *e)
{
    struct ledger_outcome lo;
    memset(&lo, 0, sizeof lo);
    const char *orig_model = req->model_id;
    const char *purpose = call && call->purpose && *call->purpose ? call->purpose : "turn";
    enum router_task task = task_of(purpose);
    bool background = task != ROUTER_MAIN;
    begin_session(l, call);

    char routed[256];
    snprintf(routed, sizeof routed, "%s", req->model_id ? req->model_id : "");
    route(l, mc, call, task, req, routed, sizeof routed, lo.routing, sizeof lo.routing);

    char model[256];
    target_model(l, l->target, routed, model, sizeof model);
    struct model_client *client = target_client(l, l->target, mc);
    if (!client) { /* the region's client could not be made: stay in the primary */
        client = mc;
        snprintf(model, sizeof model, "%s", routed);
    }
    if (l->target)
        add_routing(lo.routing, sizeof lo.routing, "; fallback target %zu: %s in %s", l->target, model,
                    target_region(l, l->target));
    req->model_id = model;
    note(l, LEDGER_NOTE_INFO, "routing: %s = %s", lo.routing, model);

    enum brock_status st;
    char key[SHA256_HEX_LEN + 1] = "";
    bool eligible = false;
    if (try_cache(l, call, purpose, background, req, ev, res, &lo, key, &eligible)) {
        st = BROCK_OK;
        snprintf(lo.model_id, sizeof lo.model_id, "%s", model);
        goto done;
    }

    if (l->cfg.budget) {
        struct budget_report br;
        st = budget_check(l->cfg.budget, l->cfg.store, clock_now_ms(l->cfg.clock), l->run.cost_usd, &br, e);
        if (br.warn)
            note(l, LEDGER_NOTE_WARNING, "%s", br.warning);
        if (st != BROCK_OK) {
            lo.refused = true;
            snprintf(lo.model_id, sizeof lo.model_id, "%s", model);
            model_result_cleanup(res);
            model_result_init(res);
            goto done;
        }
    }

    for (;;) {
        st = model_invoke(client, req, ev, res, e);
        snprintf(lo.model_id, sizeof lo.model_id, "%s", model);
        bool throttled = st == BROCK_ERR_THROTTLED && !res->partial && l->target < l->nfb;
        bool no_haiku = st == BROCK_ERR_AUTH && background && !res->partial && !l->haiku_off && is_haiku(model) &&
                        !is_haiku(l->main_model_id) && l->main_model_id[0];
        if (!throttled && !no_haiku)
            break;
        /* the failed call is a row of its own */
        char failed_routing[LEDGER_ROUTING_MAX];
        snprintf(failed_routing, sizeof failed_routing, "%s", lo.routing);
        bool estimated;
        double failed_cost = cost_of(l, res->model_id[0] ? res->model_id : model, &res->usage, &estimated);
        if (estimated)
            add_routing(failed_routing, sizeof failed_routing, "; price estimated");
        struct rec_in ri = {
            .session_id = call ? call->session_id : NULL,
            .purpose = purpose,
            .routing = failed_routing,
            .background = background,
            .cost = failed_cost,
            .model_id = model,
            .req = req,
            .res = res,
            .st = st,
            .e = e,
            .region = target_region(l, l->target),
        };
        record(l, &ri);
        char why[768];
        if (throttled) {
            const char *from = target_region(l, l->target);
            char from_model[256];
            snprintf(from_model, sizeof from_model, "%s", model);
            l->target++;
            target_model(l, l->target, routed, model, sizeof model);
            struct model_client *c2 = target_client(l, l->target, mc);
            if (!c2) { /* no client for that region: its model is tried where we are */
                note(l, LEDGER_NOTE_WARNING, "fallback: no client for %s; staying in %s",
                     target_region(l, l->target), from);
                c2 = client;
                char here[256];
                ledger_model_for_region(model, from, here, sizeof here);
                snprintf(model, sizeof model, "%s", here);
            }
            client = c2;
            sfmt(why, sizeof why, "throttled on %s in %s after retries; falling back to %s in %s (brock.fallback "
                                      "entry %zu)",
                     from_model, from, model, target_region(l, l->target), l->target);
            add_routing(lo.routing, sizeof lo.routing, "; fallback -> %s in %s after throttling", model,
                        target_region(l, l->target));
        } else {
            l->haiku_off = true;
            sfmt(why, sizeof why, "%s was refused (AccessDenied): the Haiku-class model is not enabled; "
                                      "background work uses %s",
                     model, l->main_model_id);
            ledger_model_for_region(l->main_model_id, target_region(l, l->target), model, sizeof model);
            add_routing(lo.routing, sizeof lo.routing, "; Haiku-class model not enabled -> %s", model);
        }
        note(l, LEDGER_NOTE_WARNING, "%s", why);
        if (ev && ev->on_retry)
            ev->on_retry(ev->ctx, why);
        err_clear(e);
        model_result_cleanup(res);
        model_result_init(res);
        req->model_id = model;
    }

    bool estimated;
    lo.cost_usd = cost_of(l, res->model_id[0] ? res->model_id : model, &res->usage, &estimated);
    if (estimated)
        add_routing(lo.routing, sizeof lo.routing, "; price estimated");
    {
        struct rec_in ri = {
            .session_id = call ? call->session_id : NULL,
            .purpose = purpose,
            .routing = lo.routing,
            .background = background,
            .cost = lo.cost_usd,
            .model_id = model,
            .req = req,
            .res = res,
            .st = st,
            .e = e,
            .region = target_region(l, l->target),
        };
        record(l, &ri);
    }
    if (st == BROCK_OK && eligible && respcache_storable(res)) {
        struct brock_err ce = {0};
        if (respcache_put(l->cfg.store, key, res, lo.cost_usd, l->cfg.cache.ttl_s, clock_now_ms(l->cfg.clock), &ce) !=
                BROCK_OK &&
            ce.status != BROCK_ERR_TOO_LARGE)
            note(l, LEDGER_NOTE_WARNING, "response cache: %s", ce.msg);
    }
done:
    req->model_id = orig_model;
    l->last = lo;
    if (out)
        *out = lo;
    return st;
}

/* ---- classification ---------------------------------------------------------------- */

static void call_classifier(struct ledger *l, struct model_client *mc, const struct ledger_call *call,
                            const struct model_request *req, const struct router_input *in, struct router_choice *ch)
{
    struct router_choice cc;
    router_decide(l->cfg.router, ROUTER_CLASSIFY, in, &cc);
    char model[256];
    if (l->haiku_off || !resolve_spec(l, cc.spec[0] ? cc.spec : "haiku", model, sizeof model))
        return; /* ch keeps its fallback */
    char *prompt = router_classify_prompt(in->text, in->len);
    json_t *msgs = json_pack("[{s:s,s:[{s:s,s:s}]}]", "role", "user", "content", "type", "text", "text", prompt);
    json_t *sys = json_string(router_classify_system());
    free(prompt);
    if (!msgs || !sys) {
        json_decref(msgs);
        json_decref(sys);
        return;
    }
    const struct model_info *cmi = catalog_find(model, NULL);
    struct model_request cr = {
        .model_id = model,
        .api = req->api,
        .stream = false,
        .system = sys,
        .messages = msgs,
        .max_tokens = CLASSIFY_MAX_TOKENS,
        .temperature = catalog_refuses_temperature(cmi, 0) ? MODEL_UNSET : 0,
        .top_p = MODEL_UNSET,
        .top_k = MODEL_UNSET,
    };
    struct model_result res;
    model_result_init(&res);
    struct brock_err e = {0};
    enum brock_status st = BROCK_OK;
    if (l->cfg.budget) {
        struct budget_report br;
        st = budget_check(l->cfg.budget, l->cfg.store, clock_now_ms(l->cfg.clock), l->run.cost_usd, &br, &e);
    }
    if (st == BROCK_OK) {
        st = model_invoke(mc, &cr, NULL, &res, &e);
        char routing[LEDGER_ROUTING_MAX];
        char *answer = st == BROCK_OK ? model_result_text(&res) : NULL;
        snprintf(routing, sizeof routing, "classify (background): for the routing of a turn; answer '%.20s'",
                 answer ? answer : "");
        bool estimated;
        double cost = cost_of(l, res.model_id[0] ? res.model_id : model, &res.usage, &estimated);
        if (estimated)
            add_routing(routing, sizeof routing, "; price estimated");
        struct rec_in ri = {
            .session_id = call ? call->session_id : NULL,
            .purpose = "classify",
            .routing = routing,
            .background = true,
            .cost = cost,
            .model_id = model,
            .req = &cr,
            .res = &res,
            .st = st,
            .e = &e,
            .region = l->region,
        };
        record(l, &ri);
        if (st != BROCK_OK || !router_apply_classification(answer, ch))
            note(l, LEDGER_NOTE_INFO, "routing: the classifier gave no usable answer (%s); using %s",
                 st != BROCK_OK ? e.msg : "not simple, standard or complex", ch->spec);
        free(answer);
    }
    model_result_cleanup(&res);
    json_decref(msgs);
    json_decref(sys);
}

/* ---- settings ------------------------------------------------------------------------ */

static bool region_like(const char *s)
{
    /* xx-name-N, xx-gov-name-N */
    size_t n = strlen(s);
    if (n < 9 || n >= 32 || !isdigit((unsigned char)s[n - 1]))
        return false;
    int dashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            dashes++;
        else if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return false;
    }
    return dashes >= 2 && dashes <= 3 && s[2] == '-';
}

static bool model_like(const char *s)
{
    size_t n = strlen(s);
    if (!n || n >= 256)
        return false;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (!isalnum(*c) && !strchr("._-:/+", *c))
            return false;
    return true;
}

static enum brock_status set_entry(struct ledger_fallback *f, const char *model, const char *region, size_t i,
                                   struct brock_err *e)
{
    memset(f, 0, sizeof *f);
    if (model && *model) {
        if (!model_like(model))
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.fallback[%zu]: the model is not a model id or alias", i);
        struct model_choice ch;
        struct brock_err re = {0};
        if (catalog_resolve(model, region && *region ? region : NULL, false, &ch, &re) != BROCK_OK)
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.fallback[%zu]: %s", i, re.msg);
        snprintf(f->model, sizeof f->model, "%s", model);
    }
    if (region && *region) {
        if (!region_like(region))
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.fallback[%zu]: not a region name (like us-east-1)", i);
        snprintf(f->region, sizeof f->region, "%s", region);
    }
    if (!f->model[0] && !f->region[0])
        return err_set(e, BROCK_ERR_CONFIG, "settings: brock.fallback[%zu]: give a model, a region or both", i);
    return BROCK_OK;
}

enum brock_status ledger_fallback_parse(const json_t *brock, struct ledger_fallback *out, size_t *n,
                                        struct brock_err *e)
{
    *n = 0;
    const json_t *fb = brock ? json_object_get(brock, "fallback") : NULL;
    if (!fb || json_is_null(fb))
        return BROCK_OK;
    if (!json_is_array(fb))
        return err_set(e, BROCK_ERR_CONFIG, "settings: brock.fallback: expected an array of regions and models");
    if (json_array_size(fb) > LEDGER_MAX_FALLBACK)
        return err_set(e, BROCK_ERR_CONFIG, "settings: brock.fallback: more than %d entries", LEDGER_MAX_FALLBACK);
    size_t i;
    json_t *it;
    json_array_foreach(fb, i, it)
    {
        enum brock_status st;
        if (json_is_string(it)) {
            const char *s = json_string_value(it);
            const char *at = strchr(s, '@');
            if (at) {
                char model[256];
                snprintf(model, sizeof model, "%.*s", (int)(at - s), s);
                st = set_entry(&out[i], model, at + 1, i, e);
            } else if (region_like(s)) {
                st = set_entry(&out[i], NULL, s, i, e);
            } else {
                st = set_entry(&out[i], s, NULL, i, e);
            }
        } else if (json_is_object(it)) {
            const char *k;
            json_t *v;
            json_object_foreach(it, k, v)
            {
                if ((strcmp(k, "model") && strcmp(k, "region")) || !json_is_string(v))
                    return err_set(e, BROCK_ERR_CONFIG,
                                   "settings: brock.fallback[%zu]: expected {\"model\": \"...\", \"region\": \"...\"}",
                                   i);
            }
            st = set_entry(&out[i], json_str(it, "model"), json_str(it, "region"), i, e);
        } else {
            st = err_set(e, BROCK_ERR_CONFIG, "settings: brock.fallback[%zu]: expected a string or an object", i);
        }
        if (st != BROCK_OK)
            return st;
        *n = i + 1;
    }
    return BROCK_OK;
}

/* ---- /cost ---------------------------------------------------------------------------- */

static void add_int(struct buf *b, int64_t v)
{
    char d[32];
    int n = snprintf(d, sizeof d, "%lld", (long long)(v < 0 ? -v : v));
    if (v < 0)
        buf_addc(b, '-');
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf_addc(b, ',');
        buf_addc(b, d[i]);
    }
}

static void add_usd(struct buf *b, double usd)
{
    buf_addf(b, usd < 10 ? "$%.4f" : "$%.2f", usd);
}

void ledger_format_cost(struct ledger *l, struct buf *out)
{
    const struct ledger_totals *t = &l->sess;
    buf_addf(out, "Session: %d model call%s", t->calls, t->calls == 1 ? "" : "s");
    if (t->background_calls || t->cache_hits || t->errors) {
        buf_addstr(out, " (");
        const char *sep = "";
        if (t->background_calls) {
            buf_addf(out, "%d in the background", t->background_calls);
            sep = ", ";
        }
        if (t->cache_hits) {
            buf_addf(out, "%s%d from the response cache", sep, t->cache_hits);
            sep = ", ";
        }
        if (t->errors)
            buf_addf(out, "%s%d failed", sep, t->errors);
        buf_addc(out, ')');
    }
    buf_addstr(out, "\nTokens: ");
    add_int(out, t->usage.input_tokens);
    buf_addstr(out, " in, ");
    add_int(out, t->usage.output_tokens);
    buf_addstr(out, " out, ");
    add_int(out, t->usage.cache_read_tokens);
    buf_addstr(out, " cache read, ");
    add_int(out, t->usage.cache_write_tokens);
    buf_addstr(out, " cache write\nCost: ");
    add_usd(out, t->cost_usd);
    if (t->saved_usd > 0) {
        buf_addstr(out, " (saved ");
        add_usd(out, t->saved_usd);
        buf_addstr(out, " by the response cache)");
    }
    buf_addc(out, '\n');
    for (size_t i = 0; i < t->n_models; i++) {
        buf_addf(out, "  %-48s %4d call%s  ", t->models[i].model_id, t->models[i].calls,
                 t->models[i].calls == 1 ? " " : "s");
        add_usd(out, t->models[i].cost_usd);
        buf_addc(out, '\n');
    }
    if (l->run.calls != t->calls) {
        buf_addstr(out, "This run: ");
        add_usd(out, l->run.cost_usd);
        buf_addf(out, " in %d call%s\n", l->run.calls, l->run.calls == 1 ? "" : "s");
    }
    if (l->cfg.budget && budget_active(l->cfg.budget)) {
        struct budget copy = *l->cfg.budget; /* the check must not use up this run's warnings */
        copy.ignore = true;
        struct budget_report br;
        struct brock_err e = {0};
        if (budget_check(&copy, l->cfg.store, clock_now_ms(l->cfg.clock), l->run.cost_usd, &br, &e) == BROCK_OK) {
            static const enum budget_kind order[] = {BUDGET_DAILY, BUDGET_MONTHLY, BUDGET_PROJECT_DAILY,
                                                     BUDGET_PROJECT_MONTHLY, BUDGET_RUN};
            const double spent[BUDGET_KIND_COUNT] = {
                [BUDGET_RUN] = br.run_usd,
                [BUDGET_PROJECT_DAILY] = br.project_today_usd,
                [BUDGET_DAILY] = br.today_usd,
                [BUDGET_PROJECT_MONTHLY] = br.project_month_usd,
                [BUDGET_MONTHLY] = br.month_usd,
            };
            buf_addstr(out, "Budget:");
            const char *sep = " ";
            for (size_t i = 0; i < BROCK_ARRAY_LEN(order); i++) {
                double lim = l->cfg.budget->limit[order[i]].usd;
                if (!(lim > 0))
                    continue;
                buf_addf(out, "%s%s ", sep, budget_kind_name(order[i]));
                add_usd(out, spent[order[i]]);
                buf_addstr(out, " of ");
                add_usd(out, lim);
                buf_addf(out, " (%.0f%%)", floor(spent[order[i]] / lim * 100));
                sep = "; ";
            }
            buf_addc(out, '\n');
        } else {
            buf_addf(out, "Budget: %s\n", e.msg);
        }
    }
    if (l->cfg.pricing)
        buf_addf(out, "Prices: %s, dated %s\n", pricing_origin(l->cfg.pricing), pricing_date(l->cfg.pricing));
    else
        buf_addf(out, "Prices: catalog, dated %s\n", catalog_price_date());
}
