/* bench_cost.c - what brock's cost bookkeeping adds to each model call.
 *
 * Everything ledger_invoke() (src/agent/ledger.h) does around a call, with a
 * model client that answers at once (so only the bookkeeping is timed), on a
 * real store file in DIR holding a ledger of LEDGER_ROWS rows over the last
 * 30 days (so the budget reads a month of rollup rows):
 *
 *   ledger+budget   budget check (daily + monthly), cost, ledger row insert
 *   cache lookup    respcache_key (SHA-256 of the canonical body of a ~16 KiB
 *                   conversation) + respcache_get, a hit; and a miss
 *   all, miss       --model auto routing, budget, cache key + lookup (miss),
 *                   the call, cost, ledger row, cache put
 *   all, hit        routing, cache key + hit, replay, ledger row (cost 0)
 *
 * Each figure is ITERS timed operations with the monotonic clock; prints a
 * markdown table of the median and 99th percentile in µs and a last line
 * "RESULT ..." for scripts. Target (issue 5): all bookkeeping <= 1 ms.
 *
 * Usage: bench_cost DIR [LEDGER_ROWS [ITERS]] (defaults 100000 2000); DIR
 * must not exist or be empty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/budget.h"
#include "../src/agent/ledger.h"
#include "../src/agent/respcache.h"
#include "../src/agent/router.h"
#include "../src/aws/crypto.h"
#include "../src/bedrock/pricing.h"
#include "../src/store/store.h"
#include "../src/util/alloc.h"
#include "../src/util/buf.h"
#include "../src/util/timeutil.h"

#define DAY 86400000LL

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct fig {
    const char *name;
    double median_us, p99_us;
};

static struct fig summarise(const char *name, int64_t *ns, size_t n)
{
    qsort(ns, n, sizeof *ns, cmp_i64);
    struct fig f = {name, (double)ns[n / 2] / 1e3, (double)ns[(n * 99) / 100] / 1e3};
    return f;
}

/* A model that answers at once. */
static enum brock_status instant_invoke(struct model_client *mc, const struct model_request *req,
                                        const struct model_events *ev, struct model_result *out, struct brock_err *e)
{
    (void)mc;
    (void)ev;
    (void)e;
    model_result_cleanup(out);
    model_result_init(out);
    json_array_append_new(out->content, json_pack("{s:s,s:s}", "type", "text", "text", "The answer is 4."));
    snprintf(out->stop_reason, sizeof out->stop_reason, "end_turn");
    snprintf(out->model_id, sizeof out->model_id, "%s", req->model_id);
    snprintf(out->region, sizeof out->region, "us-west-2");
    snprintf(out->request_id, sizeof out->request_id, "0e9a1c1e-3b9d-4a55-9d55-4cc3a3a3c0de");
    out->usage = (struct model_usage){4200, 180, 12000, 900};
    out->latency_ms = 900;
    out->ttft_ms = 300;
    out->attempts = 1;
    return BROCK_OK;
}

static enum brock_status instant_count(struct model_client *mc, const struct model_request *req, int64_t *t,
                                       bool *est, struct brock_err *e)
{
    (void)mc;
    (void)req;
    (void)e;
    *t = 0;
    *est = true;
    return BROCK_OK;
}

static void instant_free(struct model_client *mc)
{
    (void)mc;
}

static const struct model_client_vtable instant_vt = {instant_invoke, instant_count, instant_free};

/* A conversation of about 16 KiB ending with `prompt`. */
static json_t *conversation(const char *prompt)
{
    json_t *m = json_array();
    char para[1024];
    memset(para, 'x', sizeof para - 1);
    para[sizeof para - 1] = '\0';
    for (int i = 0; i < 8; i++) {
        json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s}]}", "role", "user", "content", "type", "text", "text",
                                           para));
        json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s}]}", "role", "assistant", "content", "type", "text",
                                           "text", para));
    }
    json_array_append_new(m, json_pack("{s:s,s:[{s:s,s:s}]}", "role", "user", "content", "type", "text", "text",
                                       prompt));
    return m;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_cost DIR [LEDGER_ROWS [ITERS]]\n");
        return 2;
    }
    const char *dir = argv[1];
    long rows = argc > 2 ? atol(argv[2]) : 100000;
    long iters = argc > 3 ? atol(argv[3]) : 2000;
    if (rows < 0 || iters < 10) {
        fprintf(stderr, "bench_cost: bad numbers\n");
        return 2;
    }
    crypto_global_init();
    struct brock_err e = {0};
    struct store_options so = {.dir = dir};
    struct store *s;
    if (store_open(&so, &s, &e) != BROCK_OK) {
        fprintf(stderr, "bench_cost: %s\n", e.msg);
        return 1;
    }
    int64_t now = time_now_ms();
    const char *projects[] = {"/home/dev/app", "/home/dev/lib", "/home/dev/site", "/home/dev/tools"};
    const char *models[] = {"anthropic.claude-sonnet-4-6", "anthropic.claude-haiku-4-5-20251001-v1:0",
                            "anthropic.claude-opus-4-6-v1"};
    for (long i = 0; i < rows; i++) {
        struct store_ledger_row r = {
            .time_ms = now - (int64_t)(i % 30) * DAY - (i % 1000),
            .user = "arn:aws:iam::123456789012:user/dev",
            .project = projects[i % 4],
            .model = models[i % 3],
            .profile = models[i % 3],
            .region = "us-west-2",
            .api = "messages",
            .usage = {1000, 100, 0, 0},
            .status = "ok",
            .cost_usd = 0.0001,
        };
        if (store_ledger_insert(s, &r, NULL, &e) != BROCK_OK) {
            fprintf(stderr, "bench_cost: prefill: %s\n", e.msg);
            return 1;
        }
    }

    struct pricing *prices = pricing_new();
    json_t *brock = json_pack("{s:{s:f,s:f}}", "budget", "daily_usd", 1e6, "monthly_usd", 1e7);
    struct budget budget;
    struct router *router_auto = NULL, *router_fixed = NULL;
    if (budget_init(&budget, brock, NULL, projects[0], 0, false, &e) != BROCK_OK ||
        router_new(NULL, true, &router_auto, &e) != BROCK_OK || router_new(NULL, false, &router_fixed, &e) != BROCK_OK) {
        fprintf(stderr, "bench_cost: %s\n", e.msg);
        return 1;
    }
    struct model_client mc = {&instant_vt, NULL};
    struct ledger_config lc = {
        .store = s,
        .pricing = prices,
        .budget = &budget,
        .router = router_fixed,
        .user = "arn:aws:iam::123456789012:user/dev",
        .project = projects[0],
        .region = "us-west-2",
        .main_model_id = "us.anthropic.claude-sonnet-4-6",
    };
    int64_t *ns = xcalloc((size_t)iters, sizeof *ns);
    struct fig figs[5];
    size_t nf = 0;
    struct ledger_call call = {.purpose = "turn", .session_id = NULL};
    struct model_result res;
    model_result_init(&res);

    /* 1. ledger insert + budget check (no cache, no routing) */
    struct ledger *l = ledger_new(&lc);
    json_t *msgs = conversation("fix the failing test");
    struct model_request req = {.model_id = "us.anthropic.claude-sonnet-4-6", .messages = msgs, .max_tokens = 4096,
                                .temperature = MODEL_UNSET, .top_p = MODEL_UNSET, .top_k = MODEL_UNSET};
    for (long i = 0; i < iters; i++) {
        int64_t t0 = time_mono_ns();
        if (ledger_invoke(l, &mc, &call, &req, NULL, &res, NULL, &e) != BROCK_OK) {
            fprintf(stderr, "bench_cost: %s\n", e.msg);
            return 1;
        }
        ns[i] = time_mono_ns() - t0;
    }
    figs[nf++] = summarise("ledger insert + budget check", ns, (size_t)iters);
    ledger_free(l);
    json_decref(msgs);

    /* 2. cache lookup: key + get, a hit; then a miss */
    msgs = conversation("what is 2+2?");
    req.messages = msgs;
    req.temperature = 0;
    char key[65];
    if (respcache_key(&req, key, &e) != BROCK_OK || respcache_put(s, key, &res, 0.01, 3600, now, &e) != BROCK_OK) {
        fprintf(stderr, "bench_cost: %s\n", e.msg);
        return 1;
    }
    struct respcache_meta meta;
    bool hit;
    for (long i = 0; i < iters; i++) {
        int64_t t0 = time_mono_ns();
        if (respcache_key(&req, key, &e) != BROCK_OK || respcache_get(s, key, &res, &meta, &hit, &e) != BROCK_OK ||
            !hit) {
            fprintf(stderr, "bench_cost: cache lookup failed: %s\n", e.msg);
            return 1;
        }
        ns[i] = time_mono_ns() - t0;
    }
    figs[nf++] = summarise("cache lookup (hit: key + get)", ns, (size_t)iters);
    json_decref(msgs);
    for (long i = 0; i < iters; i++) {
        char p[64];
        snprintf(p, sizeof p, "what is %ld+3?", i);
        msgs = conversation(p);
        req.messages = msgs;
        int64_t t0 = time_mono_ns();
        if (respcache_key(&req, key, &e) != BROCK_OK || respcache_get(s, key, &res, &meta, &hit, &e) != BROCK_OK ||
            hit) {
            fprintf(stderr, "bench_cost: cache miss failed: %s\n", e.msg);
            return 1;
        }
        ns[i] = time_mono_ns() - t0;
        json_decref(msgs);
    }
    figs[nf++] = summarise("cache lookup (miss: key + get)", ns, (size_t)iters);

    /* 3. everything: auto routing, budget, cache (miss + put), row */
    lc.router = router_auto;
    if (respcache_policy_init(&lc.cache, NULL, true, false, false, &e) != BROCK_OK) {
        fprintf(stderr, "bench_cost: %s\n", e.msg);
        return 1;
    }
    l = ledger_new(&lc);
    for (long i = 0; i < iters; i++) {
        char p[96];
        snprintf(p, sizeof p, "design the architecture of service %ld", i);
        msgs = conversation(p);
        req.messages = msgs;
        int64_t t0 = time_mono_ns();
        struct ledger_outcome out;
        if (ledger_invoke(l, &mc, &call, &req, NULL, &res, &out, &e) != BROCK_OK || out.cache_hit) {
            fprintf(stderr, "bench_cost: %s\n", e.msg);
            return 1;
        }
        ns[i] = time_mono_ns() - t0;
        json_decref(msgs);
    }
    figs[nf++] = summarise("all bookkeeping, cache miss", ns, (size_t)iters);
    msgs = conversation("design the architecture of service 7");
    req.messages = msgs;
    for (long i = 0; i < iters; i++) {
        int64_t t0 = time_mono_ns();
        struct ledger_outcome out;
        if (ledger_invoke(l, &mc, &call, &req, NULL, &res, &out, &e) != BROCK_OK || !out.cache_hit) {
            fprintf(stderr, "bench_cost: expected a hit: %s\n", e.msg);
            return 1;
        }
        ns[i] = time_mono_ns() - t0;
    }
    figs[nf++] = summarise("all bookkeeping, cache hit", ns, (size_t)iters);
    json_decref(msgs);
    ledger_free(l);

    printf("| per request (%ld-row ledger, %ld runs) | median µs | p99 µs |\n|---|---:|---:|\n", rows, iters);
    for (size_t i = 0; i < nf; i++)
        printf("| %s | %.1f | %.1f |\n", figs[i].name, figs[i].median_us, figs[i].p99_us);
    printf("RESULT ledger_budget_us=%.1f cache_hit_us=%.1f cache_miss_us=%.1f all_miss_us=%.1f all_hit_us=%.1f\n",
           figs[0].median_us, figs[1].median_us, figs[2].median_us, figs[3].median_us, figs[4].median_us);

    model_result_cleanup(&res);
    free(ns);
    router_free(router_auto);
    router_free(router_fixed);
    budget_cleanup(&budget);
    json_decref(brock);
    pricing_free(prices);
    store_close(s);
    return 0;
}
