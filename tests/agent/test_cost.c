/* Tests for src/bedrock/pricing.c (catalog prices, overrides, costs as
 * Bedrock bills) and src/agent/ledger.c (the row of every model call, cache
 * hits, fallback, the Haiku fallback for background work, budget refusals).
 *
 * Expected costs are worked out by hand from the prices in
 * shared/docs/aws-wire-reference.md 7.2 and 4.9 (USD per million tokens);
 * each comment shows the arithmetic. */
#include "../support/test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/agent/budget.h"
#include "../../src/agent/ledger.h"
#include "../../src/agent/router.h"
#include "../../src/bedrock/pricing.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"
#include "../../src/util/fs.h"
#include "../../src/util/json.h"
#include "test_cost_fake.h"

#define T_NOW 1787054400000LL /* 2026-08-18T12:00:00Z */

static void near(double got, double want, const char *what)
{
    if (fabs(got - want) > 1e-9)
        fail_msg("%s: got %.10f, want %.10f", what, got, want);
}

static double cost(const struct pricing *p, const char *id, int64_t in, int64_t out, int64_t rd, int64_t wr,
                   int64_t w1h, bool batch)
{
    struct model_usage u = {in, out, rd, wr};
    bool known = false;
    double c = pricing_cost(p, id, &u, w1h, batch, &known);
    if (!known)
        fail_msg("no price for %s", id);
    return c;
}

/* ---- pricing: the catalog ---------------------------------------------------------- */

static void test_cost_catalog_prices(void **state)
{
    (void)state;
    struct pricing *p = pricing_new();
    assert_string_equal(pricing_date(p), catalog_price_date());
    assert_string_equal(pricing_origin(p), "catalog");
    /* Sonnet 4.6 global: 12,000 x 3 + 3,500 x 15 + 100,000 x 0.30 + 20,000 x 3.75
     * = 36,000 + 52,500 + 30,000 + 75,000 = 193,500 / 1e6 */
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 12000, 3500, 100000, 20000, 0, false), 0.1935, "sonnet global");
    /* the us. profile costs 10 % more: 0.1935 x 1.1 */
    near(cost(p, "us.anthropic.claude-sonnet-4-6", 12000, 3500, 100000, 20000, 0, false), 0.21285, "sonnet us");
    /* 5,000 of the 20,000 writes were 1-hour: 15,000 x 3.75 + 5,000 x 6 = 86,250 */
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 12000, 3500, 100000, 20000, 5000, false), 0.20475,
         "sonnet 1h writes");
    /* batch halves input and output: 18,000 + 26,250 + 30,000 + 75,000 */
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 12000, 3500, 100000, 20000, 0, true), 0.14925, "sonnet batch");
    /* Opus 4.1 has no geo premium: 1,000 x 15 + 1,000 x 75 */
    near(cost(p, "us.anthropic.claude-opus-4-1-20250805-v1:0", 1000, 1000, 0, 0, 0, false), 0.09, "opus 4.1 us");
    /* Haiku 4.5 in-region base id pays the premium: 1e6 x 1 x 1.1 */
    near(cost(p, "anthropic.claude-haiku-4-5-20251001-v1:0", 1000000, 0, 0, 0, 0, false), 1.1, "haiku 4.5 base");
    /* Claude 3 Haiku: 0.25 + 1.25 */
    near(cost(p, "anthropic.claude-3-haiku-20240307-v1:0", 1000000, 1000000, 0, 0, 0, false), 1.5, "claude 3 haiku");
    /* ARNs: an inference-profile ARN prices as its profile, a foundation-model ARN as its model */
    near(cost(p, "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-6",
              1000000, 0, 0, 0, 0, false),
         3.0, "profile ARN");
    near(cost(p, "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", 0, 1000000, 0,
              0, 0, false),
         1.25, "foundation-model ARN");
    /* an application profile is unknown without an override */
    struct model_usage u = {1000, 1000, 0, 0};
    bool known = true;
    assert_true(pricing_cost(p, "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123xyz789",
                             &u, 0, false, &known) == 0.0);
    assert_false(known);
    struct pricing_rate r;
    assert_false(pricing_rate(p, "", &r));
    assert_false(pricing_rate(p, NULL, &r));
    /* more 1h writes than writes is clamped */
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 0, 0, 0, 1000000, 5000000, false), 6.0, "1h clamp");
    pricing_free(p);
}

/* Long prompts: Sonnet 4 / 4.5 over 200K prompt tokens bill input-side
 * prices x2 and output x1.5; Haiku 5.5 over 100K bills everything x5. The
 * prompt is input + cache read + cache write; exactly at the limit is not over. */
static void test_cost_long_prompts(void **state)
{
    (void)state;
    struct pricing *p = pricing_new();
    const char *s45 = "global.anthropic.claude-sonnet-4-5-20250929-v1:0";
    /* 200,000 exactly: list prices. 200,000 x 3 + 1,000 x 15 = 615,000 */
    near(cost(p, s45, 200000, 1000, 0, 0, 0, false), 0.615, "sonnet 4.5 at 200K");
    /* 150,000 input + 60,000 cache read = 210,000: over. 150,000 x 6 + 1,000 x 22.5 + 60,000 x 0.6 = 958,500 */
    near(cost(p, s45, 150000, 1000, 60000, 0, 0, false), 0.9585, "sonnet 4.5 over 200K with cache reads");
    /* cache writes count too, and are doubled: 1,000 x 6 + 250,000 x 7.5 = 1,881,000 */
    near(cost(p, s45, 1000, 0, 0, 250000, 0, false), 1.881, "sonnet 4.5 long cache writes");
    /* the us. profile's premium on top: 0.9585 x 1.1 */
    near(cost(p, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", 150000, 1000, 60000, 0, 0, false), 1.05435,
         "sonnet 4.5 us long");
    /* batch halves the long input and output too: 300,000 x 6 x 0.5 + 1,000 x 22.5 x 0.5 = 911,250 */
    near(cost(p, s45, 300000, 1000, 0, 0, 0, true), 0.91125, "sonnet 4.5 long batch");
    near(cost(p, "global.anthropic.claude-sonnet-4-20250514-v1:0", 300000, 0, 0, 0, 0, false), 1.8, "sonnet 4 long");
    /* Sonnet 4.6 has no long-prompt price: 300,000 x 3 */
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 300000, 0, 0, 0, 0, false), 0.9, "sonnet 4.6 long");
    /* Haiku 5.5 (us., +10 %): 100,000 x 0.11 = 11,000; 100,001 at x5: 100,001 x 0.55 + 1,000 x 2.75 */
    near(cost(p, "us.anthropic.claude-haiku-5-5", 100000, 0, 0, 0, 0, false), 0.011, "haiku 5.5 at 100K");
    near(cost(p, "us.anthropic.claude-haiku-5-5", 100001, 1000, 0, 0, 0, false), (100001 * 0.55 + 2750) / 1e6,
         "haiku 5.5 over 100K");
    /* the books that price without a prices file (catalog_cost) agree */
    const struct model_info *m = catalog_find(s45, NULL);
    assert_non_null(m);
    near(catalog_cost(m, GEO_GLOBAL, 150000, 1000, 60000, 0, 0, false), 0.9585, "catalog_cost long");
    /* an override keeps the rule: input 2 -> 4 over 200K */
    struct brock_err e = {0};
    static const char ov[] = "{\"date\": \"2026-11-27\", \"models\": {\"anthropic.claude-sonnet-4-5-20250929-v1:0\": "
                             "{\"input\": 2, \"output\": 10}}}";
    if (pricing_parse(p, ov, strlen(ov), "prices.json", &e) != BROCK_OK)
        fail_msg("parse: %s", e.msg);
    near(cost(p, s45, 300000, 1000, 0, 0, 0, false), (300000 * 4 + 1000 * 15) / 1e6, "override long");
    pricing_free(p);
}

/* ---- pricing: overrides ------------------------------------------------------------ */

static const char overrides[] =
    "{\"date\": \"2026-09-01\", \"source\": \"my invoice\",\n"
    " \"models\": {\n"
    "  \"anthropic.claude-sonnet-4-6\": {\"input\": 2, \"output\": 10},\n"
    "  \"us.anthropic.claude-haiku-4-5-20251001-v1:0\": {\"input\": 0.5},\n"
    "  \"arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123xyz789\":\n"
    "     {\"input\": 4, \"output\": 20, \"batch_discount\": 0.4, \"note\": \"team profile\"},\n"
    "  \"opus\": {\"regional_premium\": 0.2}\n"
    " }}\n";

static void test_cost_overrides(void **state)
{
    (void)state;
    struct pricing *p = pricing_new();
    struct brock_err e = {0};
    if (pricing_parse(p, overrides, strlen(overrides), "prices.json", &e) != BROCK_OK)
        fail_msg("parse: %s", e.msg);
    assert_string_equal(pricing_date(p), "2026-09-01");
    assert_string_equal(pricing_origin(p), "prices.json");
    assert_int_equal(pricing_override_count(p), 4);
    /* a base-model override: list prices as written, cache prices inherited */
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 1000000, 0, 0, 0, 0, false), 2.0, "override in");
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 0, 1000000, 0, 0, 0, false), 10.0, "override out");
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 0, 0, 1000000, 0, 0, false), 0.30, "inherited read");
    near(cost(p, "global.anthropic.claude-sonnet-4-6", 0, 0, 0, 1000000, 0, false), 3.75, "inherited write");
    /* ... plus the catalog's 10 % premium off the global profile: 2 x 1.1 */
    near(cost(p, "us.anthropic.claude-sonnet-4-6", 1000000, 0, 0, 0, 0, false), 2.2, "override + premium");
    /* an exact profile override: as written; other fields = the catalog's us. prices (5 x 1.1) */
    near(cost(p, "us.anthropic.claude-haiku-4-5-20251001-v1:0", 1000000, 0, 0, 0, 0, false), 0.5, "exact in");
    near(cost(p, "us.anthropic.claude-haiku-4-5-20251001-v1:0", 0, 1000000, 0, 0, 0, false), 5.5, "exact out");
    /* ... and only for that profile */
    near(cost(p, "global.anthropic.claude-haiku-4-5-20251001-v1:0", 1000000, 0, 0, 0, 0, false), 1.0, "other geo");
    /* an application profile the catalog cannot know: cache by Bedrock's rule 1.25x, 2x, 0.1x of 4 */
    const char *app = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123xyz789";
    near(cost(p, app, 1000000, 0, 0, 0, 0, false), 4.0, "app in");
    near(cost(p, app, 0, 0, 0, 1000000, 0, false), 5.0, "app write 5m");
    near(cost(p, app, 0, 0, 0, 1000000, 1000000, false), 8.0, "app write 1h");
    near(cost(p, app, 0, 0, 1000000, 0, 0, false), 0.4, "app read");
    /* batch_discount 0.4: 4 x 0.6 + 20 x 0.6 */
    near(cost(p, app, 1000000, 1000000, 0, 0, 0, true), 14.4, "app batch");
    /* the alias names the newest Opus; its own premium 0.2: 5 x 1.2 */
    near(cost(p, "us.anthropic.claude-opus-4-6-v1", 1000000, 0, 0, 0, 0, false), 6.0, "opus premium");
    near(cost(p, "global.anthropic.claude-opus-4-6-v1", 1000000, 0, 0, 0, 0, false), 5.0, "opus global");
    struct pricing_rate r;
    assert_true(pricing_rate(p, app, &r));
    assert_int_equal(r.source, PRICING_OVERRIDE);
    assert_true(pricing_rate(p, "global.anthropic.claude-opus-4-5-20251101-v1:0", &r));
    assert_int_equal(r.source, PRICING_CATALOG);
    pricing_free(p);
}

static void bad_prices(const char *text, enum brock_status want, const char *msg)
{
    struct pricing *p = pricing_new();
    /* an earlier good file stays in force after a bad one */
    struct brock_err e = {0};
    if (pricing_parse(p, overrides, strlen(overrides), "good.json", &e) != BROCK_OK)
        fail_msg("good: %s", e.msg);
    enum brock_status st = pricing_parse(p, text, strlen(text), "p.json", &e);
    if (st != want || !strstr(e.msg, msg))
        fail_msg("for %s\n got %s: %s\nwant %s: ...%s...", text, brock_status_name(st), e.msg, brock_status_name(want),
                 msg);
    assert_string_equal(pricing_date(p), "2026-09-01");
    assert_string_equal(pricing_origin(p), "good.json");
    pricing_free(p);
}

static void test_cost_override_errors_name_the_place(void **state)
{
    (void)state;
    /* the value "3" is at line 3, column 44 (counted by hand) */
    bad_prices("{\"date\": \"2026-09-01\",\n \"models\": {\n  \"anthropic.claude-sonnet-4-6\": {\"input\": \"3\"}}}",
               BROCK_ERR_CONFIG, "p.json:3:44: models.anthropic.claude-sonnet-4-6.input: expected a number from 0 to");
    bad_prices("{\"date\": \"2026-09-01\", \"models\": {\"anthropic.claude-sonnet-4-6\": {\"inptu\": 3}}}",
               BROCK_ERR_CONFIG, "p.json:1:76: models.anthropic.claude-sonnet-4-6.inptu: unknown field");
    bad_prices("{\"models\": {}}", BROCK_ERR_CONFIG, "missing \"date\"");
    bad_prices("{\"date\": \"2026-02-30\"}", BROCK_ERR_CONFIG, "p.json:1:10: date: expected a date YYYY-MM-DD");
    bad_prices("{\"date\": \"2026-1-30\"}", BROCK_ERR_CONFIG, "expected a date");
    bad_prices("{\"date\": \"2026-09-01\",\n\"models\": {\"x.y\": }}", BROCK_ERR_PARSE, "p.json:2:");
    bad_prices("{\"date\": \"2026-09-01\", \"models\": {\"anthropic.claude-opus-9\": {\"input\": 1}}}",
               BROCK_ERR_CONFIG, "needs both input and output");
    bad_prices("{\"date\": \"2026-09-01\", \"models\": {\"sonnet\": {\"input\": -1}}}", BROCK_ERR_CONFIG,
               "models.sonnet.input: expected a number from 0 to");
    bad_prices("{\"date\": \"2026-09-01\", \"models\": {\"sonnet\": {}, \"anthropic.claude-sonnet-4-6\": {}}}",
               BROCK_ERR_CONFIG, "names the same model as an earlier key");
    bad_prices("{\"date\": \"2026-09-01\", \"models\": {\"bad id!\": {}}}", BROCK_ERR_CONFIG, "not a model id");
    bad_prices("{\"date\": \"2026-09-01\", \"batch_discount\": 2}", BROCK_ERR_CONFIG,
               "batch_discount: expected a number from 0 to 1");
    bad_prices("{\"date\": \"2026-09-01\", \"currency\": \"EUR\"}", BROCK_ERR_CONFIG, "currency: unknown field");
    bad_prices("[]", BROCK_ERR_CONFIG, "p.json:1:1: (top): expected an object");
    bad_prices("{\"date\": \"2026-09-01\", \"models\": {\"sonnet\": {\"input\": 1e308, \"output\": 1}}}",
               BROCK_ERR_CONFIG, "input: expected a number");
}

static void test_cost_override_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *path = fs_join(dir, "prices.json");
    struct pricing *p = pricing_new();
    struct brock_err e = {0};
    assert_int_equal(pricing_load_file(p, path, &e), BROCK_ERR_NOT_FOUND);
    test_write_file(path, overrides);
    if (pricing_load_file(p, path, &e) != BROCK_OK)
        fail_msg("load: %s", e.msg);
    assert_string_equal(pricing_origin(p), path);
    /* XDG_CONFIG_HOME decides the default path */
    setenv("XDG_CONFIG_HOME", dir, 1);
    char *def = pricing_default_path();
    char *want = fs_join(dir, "brock/prices.json");
    assert_string_equal(def, want);
    unsetenv("XDG_CONFIG_HOME");
    free(def);
    free(want);
    pricing_free(p);
    free(path);
    free(dir);
}

/* ---- the ledger ------------------------------------------------------------------------ */

static int64_t fixed_now(void *ctx)
{
    return *(int64_t *)ctx;
}

struct lfix {
    char *dir;
    struct store *s;
    int64_t now;
    struct clock clock;
    struct fake_model fm;
    struct pricing *prices;
    struct buf notes;
    int audits;
    char last_audit_status[96];
};

static void on_note(void *ctx, enum ledger_note_kind kind, const char *text)
{
    struct lfix *f = ctx;
    buf_addf(&f->notes, "%s: %s\n", kind == LEDGER_NOTE_WARNING ? "warning" : "info", text);
}

static void on_audit(void *ctx, const struct ledger_record *r)
{
    struct lfix *f = ctx;
    f->audits++;
    snprintf(f->last_audit_status, sizeof f->last_audit_status, "%s", r->status);
}

static int lsetup(void **state)
{
    struct lfix *f = xcalloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->now = T_NOW;
    f->clock = (struct clock){.now_ms = fixed_now, .ctx = &f->now};
    struct store_options o = {.dir = f->dir, .clock = &f->clock};
    struct brock_err e = {0};
    if (store_open(&o, &f->s, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    fake_init(&f->fm);
    f->prices = pricing_new();
    buf_init(&f->notes, 1 << 20);
    *state = f;
    return 0;
}

static int lteardown(void **state)
{
    struct lfix *f = *state;
    store_close(f->s);
    pricing_free(f->prices);
    buf_free(&f->notes);
    free(f->dir);
    free(f);
    return 0;
}

static struct ledger_config lconfig(struct lfix *f)
{
    return (struct ledger_config){
        .store = f->s,
        .pricing = f->prices,
        .user = "arn:aws:iam::123456789012:user/alice",
        .project = "/home/alice/app",
        .region = "us-west-2",
        .main_model_id = "us.anthropic.claude-sonnet-4-6",
        .note = on_note,
        .note_ctx = f,
        .audit = on_audit,
        .audit_ctx = f,
        .clock = &f->clock,
    };
}

/* The ledger as JSON rows (new reference). */
static json_t *rows(struct lfix *f)
{
    struct buf b = BUF_INIT(1 << 24);
    struct brock_err e = {0};
    if (store_ledger_export_json(f->s, NULL, &b, &e) != BROCK_OK)
        fail_msg("export: %s", e.msg);
    json_t *v = NULL;
    if (json_parse(b.ptr, b.len, "export", &v, &e) != BROCK_OK)
        fail_msg("export json: %s", e.msg);
    buf_free(&b);
    return v;
}

static const char *rs(const json_t *row, const char *k)
{
    const char *v = json_str(row, k);
    if (!v)
        fail_msg("row has no string %s", k);
    return v;
}

static int64_t ri(const json_t *row, const char *k)
{
    int64_t v;
    if (!json_int(row, k, &v))
        fail_msg("row has no integer %s", k);
    return v;
}

static bool rb(const json_t *row, const char *k)
{
    json_t *v = json_object_get(row, k);
    if (!json_is_boolean(v))
        fail_msg("row has no boolean %s", k);
    return json_is_true(v);
}

static double rd(const json_t *row, const char *k)
{
    json_t *v = json_object_get(row, k);
    if (!json_is_number(v))
        fail_msg("row has no number %s", k);
    return json_number_value(v);
}

static enum brock_status invoke(struct ledger *l, struct lfix *f, const char *purpose, const char *model,
                                const char *text, struct model_result *res, struct brock_err *e)
{
    json_t *msgs;
    struct model_request req = fake_request(model, text, &msgs);
    struct ledger_call call = {.purpose = purpose, .session_id = "11111111-2222-4333-8444-555555555555"};
    enum brock_status st = ledger_invoke(l, &f->fm.mc, &call, &req, NULL, res, NULL, e);
    assert_string_equal(req.model_id, model); /* restored */
    json_decref(msgs);
    return st;
}

static void test_cost_ledger_row_has_every_field(void **state)
{
    struct lfix *f = *state;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "done", .usage = {1200, 350, 8000, 2000}});
    struct ledger_config c = lconfig(f);
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    struct brock_err e = {0};
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "hello SECRET-PROMPT-TEXT", &res, &e),
                     BROCK_OK);
    /* us. Sonnet 4.6 = 3.3 / 16.5 / read 0.33 / write 4.125:
     * 1,200 x 3.3 + 350 x 16.5 + 8,000 x 0.33 + 2,000 x 4.125 = 3,960 + 5,775 + 2,640 + 8,250 = 20,625 */
    near(ledger_last(l)->cost_usd, 0.020625, "outcome cost");
    json_t *v = rows(f);
    assert_int_equal(json_array_size(v), 1);
    json_t *r = json_array_get(v, 0);
    assert_int_equal(ri(r, "time_ms"), T_NOW);
    assert_string_equal(rs(r, "session_id"), "11111111-2222-4333-8444-555555555555");
    assert_string_equal(rs(r, "user"), "arn:aws:iam::123456789012:user/alice");
    assert_string_equal(rs(r, "project"), "/home/alice/app");
    assert_string_equal(rs(r, "model"), "anthropic.claude-sonnet-4-6");
    assert_string_equal(rs(r, "profile"), "us.anthropic.claude-sonnet-4-6");
    assert_string_equal(rs(r, "region"), "us-west-2");
    assert_string_equal(rs(r, "api"), "messages");
    assert_int_equal(ri(r, "input_tokens"), 1200);
    assert_int_equal(ri(r, "output_tokens"), 350);
    assert_int_equal(ri(r, "cache_read_tokens"), 8000);
    assert_int_equal(ri(r, "cache_write_tokens"), 2000);
    near(rd(r, "latency_ms"), 120.5, "latency");
    near(rd(r, "ttft_ms"), 40.25, "ttft");
    assert_int_equal(ri(r, "retries"), 0);
    assert_string_equal(rs(r, "status"), "ok");
    assert_string_equal(rs(r, "request_id"), "req-1");
    near(rd(r, "cost_usd"), 0.020625, "row cost");
    assert_false(rb(r, "cache_hit"));
    assert_string_equal(rs(r, "routing"), "turn: model given");
    /* the prompt is not in the ledger */
    char *dump = json_dumps(v, 0);
    assert_null(strstr(dump, "SECRET-PROMPT-TEXT"));
    free(dump);
    json_decref(v);
    assert_int_equal(f->audits, 1);
    assert_string_equal(f->last_audit_status, "ok");
    struct ledger_totals t;
    ledger_session_totals(l, &t);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.usage.input_tokens, 1200);
    near(t.cost_usd, 0.020625, "session cost");
    model_result_cleanup(&res);
    ledger_free(l);
}

static void test_cost_ledger_background_and_failures(void **state)
{
    struct lfix *f = *state;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "summary", .usage = {10000, 500, 0, 0}});
    fake_add(&f->fm, (struct fake_step){.st = BROCK_ERR_AWS, .aws_code = "ValidationException"});
    struct ledger_config c = lconfig(f);
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    struct brock_err e = {0};
    assert_int_equal(invoke(l, f, "compact", "us.anthropic.claude-haiku-4-5-20251001-v1:0", "x", &res, &e), BROCK_OK);
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "x", &res, &e), BROCK_ERR_AWS);
    json_t *v = rows(f);
    assert_int_equal(json_array_size(v), 2);
    json_t *r0 = json_array_get(v, 0), *r1 = json_array_get(v, 1);
    assert_string_equal(rs(r0, "routing"), "compact (background): model given");
    assert_string_equal(rs(r0, "model"), "anthropic.claude-haiku-4-5-20251001-v1:0");
    /* us. Haiku 4.5: 10,000 x 1.1 + 500 x 5.5 = 11,000 + 2,750 */
    near(rd(r0, "cost_usd"), 0.01375, "haiku cost");
    assert_string_equal(rs(r1, "status"), "ValidationException");
    assert_int_equal(ri(r1, "retries"), 2);
    json_decref(v);
    struct ledger_totals t;
    ledger_run_totals(l, &t);
    assert_int_equal(t.calls, 2);
    assert_int_equal(t.background_calls, 1);
    assert_int_equal(t.errors, 1);
    model_result_cleanup(&res);
    ledger_free(l);
}

static struct fake_model *east_fake;
static int east_made;

static struct model_client *client_for(void *ctx, const char *region)
{
    (void)ctx;
    east_made++;
    east_fake = fake_new_heap(region);
    fake_add(east_fake, (struct fake_step){.st = BROCK_OK, .text = "from the east", .usage = {100, 10, 0, 0}});
    fake_add(east_fake, (struct fake_step){.st = BROCK_OK, .text = "again", .usage = {100, 10, 0, 0}});
    return &east_fake->mc;
}

static void test_cost_ledger_fallback_is_sticky(void **state)
{
    struct lfix *f = *state;
    f->fm.region = "us-west-2";
    fake_add(&f->fm, (struct fake_step){.st = BROCK_ERR_THROTTLED, .aws_code = "ThrottlingException"});
    struct ledger_fallback fb[LEDGER_MAX_FALLBACK];
    size_t nfb = 0;
    json_t *brock = json_pack("{s:[s,s]}", "fallback", "eu-west-1", "haiku");
    struct brock_err e = {0};
    if (ledger_fallback_parse(brock, fb, &nfb, &e) != BROCK_OK)
        fail_msg("fallback: %s", e.msg);
    json_decref(brock);
    assert_int_equal(nfb, 2);
    struct ledger_config c = lconfig(f);
    c.fallback = fb;
    c.n_fallback = nfb;
    c.client_for_region = client_for;
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "x", &res, &e), BROCK_OK);
    /* the throttled call, then the same model's eu. profile in eu-west-1 */
    assert_int_equal(f->fm.calls, 1);
    assert_int_equal(east_made, 1);
    assert_string_equal(east_fake->region, "eu-west-1");
    assert_string_equal(east_fake->asked[0], "eu.anthropic.claude-sonnet-4-6");
    /* the next call goes straight there: the region sticks */
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "y", &res, &e), BROCK_OK);
    assert_int_equal(f->fm.calls, 1);
    assert_int_equal(east_fake->calls, 2);
    json_t *v = rows(f);
    assert_int_equal(json_array_size(v), 3);
    assert_string_equal(rs(json_array_get(v, 0), "status"), "ThrottlingException");
    assert_string_equal(rs(json_array_get(v, 1), "region"), "eu-west-1");
    assert_string_equal(rs(json_array_get(v, 1), "profile"), "eu.anthropic.claude-sonnet-4-6");
    assert_non_null(strstr(rs(json_array_get(v, 1), "routing"), "fallback -> eu.anthropic.claude-sonnet-4-6 in eu-west-1"));
    assert_non_null(strstr(rs(json_array_get(v, 2), "routing"), "fallback target 1"));
    json_decref(v);
    assert_non_null(strstr(buf_cstr(&f->notes), "throttled on us.anthropic.claude-sonnet-4-6 in us-west-2"));
    model_result_cleanup(&res);
    ledger_free(l); /* frees the eu-west-1 client */
    east_fake = NULL;
    east_made = 0;
}

static void test_cost_ledger_fallback_to_another_model(void **state)
{
    struct lfix *f = *state;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_ERR_THROTTLED, .aws_code = "ThrottlingException"});
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "ok", .usage = {1000, 100, 0, 0}});
    fake_add(&f->fm, (struct fake_step){.st = BROCK_ERR_THROTTLED, .aws_code = "ThrottlingException"});
    struct ledger_fallback fb[LEDGER_MAX_FALLBACK];
    size_t nfb = 0;
    json_t *brock = json_pack("{s:[{s:s}]}", "fallback", "model", "haiku");
    struct brock_err e = {0};
    assert_int_equal(ledger_fallback_parse(brock, fb, &nfb, &e), BROCK_OK);
    json_decref(brock);
    struct ledger_config c = lconfig(f);
    c.fallback = fb;
    c.n_fallback = nfb;
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "x", &res, &e), BROCK_OK);
    assert_string_equal(f->fm.asked[1], "us.anthropic.claude-haiku-4-5-20251001-v1:0");
    /* the end of the list: the throttle comes back */
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "y", &res, &e), BROCK_ERR_THROTTLED);
    assert_string_equal(f->fm.asked[2], "us.anthropic.claude-haiku-4-5-20251001-v1:0");
    model_result_cleanup(&res);
    ledger_free(l);
}

static void test_cost_ledger_fallback_settings_errors(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"{\"fallback\": \"us-east-1\"}", "expected an array"},
        {"{\"fallback\": [\"nonsense model\"]}", "brock.fallback[0]"},
        {"{\"fallback\": [\"sonnet@moon\"]}", "not a region name"},
        {"{\"fallback\": [{\"modle\": \"haiku\"}]}", "brock.fallback[0]: expected {"},
        {"{\"fallback\": [{}]}", "give a model, a region or both"},
        {"{\"fallback\": [1]}", "expected a string or an object"},
        {"{\"fallback\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}", "more than 8"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        json_t *b = NULL;
        struct brock_err e = {0};
        assert_int_equal(json_parse(bad[i][0], strlen(bad[i][0]), "t", &b, &e), BROCK_OK);
        struct ledger_fallback fb[LEDGER_MAX_FALLBACK];
        size_t n;
        if (ledger_fallback_parse(b, fb, &n, &e) != BROCK_ERR_CONFIG || !strstr(e.msg, bad[i][1]))
            fail_msg("%s: %s", bad[i][0], e.msg);
        json_decref(b);
    }
    /* region + model forms */
    json_t *b = json_pack("{s:[s,{s:s,s:s}]}", "fallback", "opus@eu-central-1", "model", "haiku", "region",
                          "ap-northeast-1");
    struct ledger_fallback fb[LEDGER_MAX_FALLBACK];
    size_t n;
    struct brock_err e = {0};
    assert_int_equal(ledger_fallback_parse(b, fb, &n, &e), BROCK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(fb[0].model, "opus");
    assert_string_equal(fb[0].region, "eu-central-1");
    assert_string_equal(fb[1].region, "ap-northeast-1");
    json_decref(b);
    /* the model for another region */
    char out[256];
    ledger_model_for_region("us.anthropic.claude-sonnet-4-6", "eu-west-1", out, sizeof out);
    assert_string_equal(out, "eu.anthropic.claude-sonnet-4-6");
    ledger_model_for_region("us.anthropic.claude-opus-4-1-20250805-v1:0", "eu-west-1", out, sizeof out);
    assert_string_equal(out, "anthropic.claude-opus-4-1-20250805-v1:0"); /* no eu. or global. profile */
    ledger_model_for_region("global.anthropic.claude-sonnet-4-6", "eu-west-1", out, sizeof out);
    assert_string_equal(out, "global.anthropic.claude-sonnet-4-6");
    ledger_model_for_region("us.anthropic.claude-opus-4-5-20251101-v1:0", "ap-northeast-1", out, sizeof out);
    assert_string_equal(out, "global.anthropic.claude-opus-4-5-20251101-v1:0"); /* no jp./apac.: global */
    ledger_model_for_region("anthropic.claude-3-haiku-20240307-v1:0", "eu-west-1", out, sizeof out);
    assert_string_equal(out, "anthropic.claude-3-haiku-20240307-v1:0"); /* in-region model */
    ledger_model_for_region("my.custom-model", "eu-west-1", out, sizeof out);
    assert_string_equal(out, "my.custom-model");
}

static void test_cost_ledger_haiku_not_enabled(void **state)
{
    struct lfix *f = *state;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_ERR_AUTH, .aws_code = "AccessDeniedException"});
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "summary", .usage = {100, 10, 0, 0}});
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "summary 2", .usage = {100, 10, 0, 0}});
    struct ledger_config c = lconfig(f);
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    struct brock_err e = {0};
    const char *haiku = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
    assert_int_equal(invoke(l, f, "compact", haiku, "x", &res, &e), BROCK_OK);
    assert_string_equal(f->fm.asked[0], haiku);
    assert_string_equal(f->fm.asked[1], "us.anthropic.claude-sonnet-4-6");
    /* from then on background work goes to the main model directly */
    assert_int_equal(invoke(l, f, "compact", haiku, "x", &res, &e), BROCK_OK);
    assert_int_equal(f->fm.calls, 3);
    assert_string_equal(f->fm.asked[2], "us.anthropic.claude-sonnet-4-6");
    assert_non_null(strstr(buf_cstr(&f->notes), "the Haiku-class model is not enabled"));
    model_result_cleanup(&res);
    ledger_free(l);
}

static void test_cost_ledger_budget_refusal_sends_nothing(void **state)
{
    struct lfix *f = *state;
    /* $4.50 spent earlier today */
    struct store_ledger_row old = {.time_ms = T_NOW - 3600000, .model = "m", .status = "ok", .cost_usd = 4.5};
    struct brock_err e = {0};
    assert_int_equal(store_ledger_insert(f->s, &old, NULL, &e), BROCK_OK);
    json_t *brock = json_pack("{s:{s:f}}", "budget", "daily_usd", 4.0);
    struct budget b;
    assert_int_equal(budget_init(&b, brock, NULL, "/home/alice/app", 0, false, &e), BROCK_OK);
    struct ledger_config c = lconfig(f);
    c.budget = &b;
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    struct ledger_outcome out;
    json_t *msgs;
    struct model_request req = fake_request("us.anthropic.claude-sonnet-4-6", "hi", &msgs);
    struct ledger_call call = {.purpose = "turn"};
    assert_int_equal(ledger_invoke(l, &f->fm.mc, &call, &req, NULL, &res, &out, &e), BROCK_ERR_BUDGET);
    assert_true(out.refused);
    assert_int_equal(f->fm.calls, 0);
    assert_non_null(strstr(e.msg, "daily limit of $4.0000 is reached: $4.5000 spent today (UTC)"));
    assert_non_null(strstr(e.msg, "brock.budget.daily_usd in settings"));
    assert_non_null(strstr(e.msg, "--ignore-budget"));
    json_t *v = rows(f);
    assert_int_equal(json_array_size(v), 1); /* no row for a call that was not made */
    json_decref(v);
    json_decref(msgs);
    json_decref(brock);
    model_result_cleanup(&res);
    ledger_free(l);
    budget_cleanup(&b);
}

static void test_cost_ledger_auto_routing(void **state)
{
    struct lfix *f = *state;
    for (int i = 0; i < 4; i++)
        fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "ok", .usage = {10, 10, 0, 0}});
    struct router *r;
    struct brock_err e = {0};
    assert_int_equal(router_new(NULL, true, &r, &e), BROCK_OK);
    struct ledger_config c = lconfig(f);
    c.router = r;
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "design the architecture of a cache",
                            &res, &e),
                     BROCK_OK);
    assert_string_equal(f->fm.asked[0], "us.anthropic.claude-opus-4-6-v1");
    assert_non_null(strstr(ledger_last(l)->routing, "turn: auto -> opus (planning/hard-reasoning words ('architect'))"));
    /* a tool-result continuation keeps the turn's model */
    json_t *msgs = json_pack("[{s:s,s:[{s:s,s:s,s:s}]}]", "role", "user", "content", "type", "tool_result",
                             "tool_use_id", "t1", "content", "file text");
    struct model_request req = {.model_id = "us.anthropic.claude-sonnet-4-6", .messages = msgs, .max_tokens = 100,
                                .temperature = MODEL_UNSET, .top_p = MODEL_UNSET, .top_k = MODEL_UNSET};
    struct ledger_call call = {.purpose = "turn", .session_id = "11111111-2222-4333-8444-555555555555"};
    assert_int_equal(ledger_invoke(l, &f->fm.mc, &call, &req, NULL, &res, NULL, &e), BROCK_OK);
    assert_string_equal(f->fm.asked[1], "us.anthropic.claude-opus-4-6-v1");
    assert_non_null(strstr(ledger_last(l)->routing, "(the turn goes on)"));
    json_decref(msgs);
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6", "fix the typo in README.md", &res, &e),
                     BROCK_OK);
    assert_string_equal(f->fm.asked[2], "us.anthropic.claude-haiku-4-5-20251001-v1:0");
    json_t *v = rows(f);
    assert_non_null(strstr(rs(json_array_get(v, 2), "routing"), "auto -> haiku (small mechanical work ('typo'))"));
    json_decref(v);
    model_result_cleanup(&res);
    ledger_free(l);
    router_free(r);
}

static void test_cost_ledger_classifier(void **state)
{
    struct lfix *f = *state;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "complex", .usage = {300, 1, 0, 0}});
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "answer", .usage = {10, 10, 0, 0}});
    json_t *brock = json_pack("{s:{s:b}}", "router", "classify", 1);
    struct router *r;
    struct brock_err e = {0};
    assert_int_equal(router_new(brock, true, &r, &e), BROCK_OK);
    struct ledger_config c = lconfig(f);
    c.router = r;
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", "us.anthropic.claude-sonnet-4-6",
                            "make the parser handle nested comments", &res, &e),
                     BROCK_OK);
    assert_int_equal(f->fm.calls, 2);
    assert_string_equal(f->fm.asked[0], "us.anthropic.claude-haiku-4-5-20251001-v1:0");
    assert_true(f->fm.temps[0] == 0.0);
    assert_string_equal(f->fm.asked[1], "us.anthropic.claude-opus-4-6-v1");
    json_t *v = rows(f);
    assert_int_equal(json_array_size(v), 2);
    assert_non_null(strstr(rs(json_array_get(v, 0), "routing"), "classify (background)"));
    assert_non_null(strstr(rs(json_array_get(v, 1), "routing"), "the classifier said complex"));
    json_decref(v);
    json_decref(brock);
    model_result_cleanup(&res);
    ledger_free(l);
    router_free(r);
}

static void test_cost_ledger_cache_hit(void **state)
{
    struct lfix *f = *state;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "four", .usage = {2000, 100, 0, 0}});
    struct ledger_config c = lconfig(f);
    struct brock_err e = {0};
    assert_int_equal(respcache_policy_init(&c.cache, NULL, true, false, false, &e), BROCK_OK);
    struct ledger *l = ledger_new(&c);
    json_t *msgs;
    struct model_request req = fake_request("us.anthropic.claude-sonnet-4-6", "what is 2+2?", &msgs);
    req.temperature = 0;
    struct ledger_call call = {.purpose = "turn"};
    struct model_result r1, r2;
    model_result_init(&r1);
    model_result_init(&r2);
    assert_int_equal(ledger_invoke(l, &f->fm.mc, &call, &req, NULL, &r1, NULL, &e), BROCK_OK);
    struct ledger_outcome out;
    assert_int_equal(ledger_invoke(l, &f->fm.mc, &call, &req, NULL, &r2, &out, &e), BROCK_OK);
    assert_int_equal(f->fm.calls, 1); /* the second answer came from the cache */
    assert_true(out.cache_hit);
    /* us. Sonnet 4.6: 2,000 x 3.3 + 100 x 16.5 = 6,600 + 1,650 */
    near(out.saved_usd, 0.00825, "saved");
    near(out.cost_usd, 0, "hit cost");
    char *t1 = model_result_text(&r1), *t2 = model_result_text(&r2);
    assert_string_equal(t1, t2);
    assert_string_equal(r2.stop_reason, "end_turn");
    assert_int_equal(r2.usage.input_tokens, 0); /* nothing billed */
    free(t1);
    free(t2);
    json_t *v = rows(f);
    assert_int_equal(json_array_size(v), 2);
    json_t *hit = json_array_get(v, 1);
    assert_true(rb(hit, "cache_hit"));
    near(rd(hit, "cost_usd"), 0, "row cost");
    assert_int_equal(ri(hit, "input_tokens"), 0);
    assert_non_null(strstr(rs(hit, "routing"), "cache hit, saved $0.008250 (2000 in, 100 out"));
    json_decref(v);
    /* a temperature other than 0 is not cached in -p mode */
    req.temperature = MODEL_UNSET;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "five", .usage = {1, 1, 0, 0}});
    assert_int_equal(ledger_invoke(l, &f->fm.mc, &call, &req, NULL, &r2, &out, &e), BROCK_OK);
    assert_false(out.cache_hit);
    assert_int_equal(f->fm.calls, 2);
    struct buf b = BUF_INIT(4096);
    ledger_format_cost(l, &b);
    assert_non_null(strstr(buf_cstr(&b), "Session: 3 model calls (1 from the response cache)"));
    assert_non_null(strstr(buf_cstr(&b), "saved $0.0083 by the response cache"));
    buf_free(&b);
    json_decref(msgs);
    model_result_cleanup(&r1);
    model_result_cleanup(&r2);
    ledger_free(l);
}

/* A call the ledger cannot price is booked at the catalog's highest prices
 * (so a budget holds), marked "price estimated", warned of once; once the
 * profile's model is known its calls cost that model's price. */
static void test_cost_ledger_unknown_price_warns_once(void **state)
{
    struct lfix *f = *state;
    for (int i = 0; i < 3; i++)
        fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "a", .usage = {1000, 100, 0, 0}});
    struct ledger_config c = lconfig(f);
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    struct brock_err e = {0};
    const char *app = "arn:aws:bedrock:us-west-2:111122223333:application-inference-profile/zzz";
    assert_int_equal(invoke(l, f, "turn", app, "x", &res, &e), BROCK_OK);
    struct model_prices top = catalog_ceiling_prices();
    assert_true(top.input >= 15 && top.output >= 75); /* Opus 4.1's, the catalog's highest */
    double want = (1000 * top.input + 100 * top.output) / 1e6;
    near(ledger_last(l)->cost_usd, want, "ceiling cost");
    assert_non_null(strstr(ledger_last(l)->routing, "; price estimated"));
    model_result_cleanup(&res);
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", app, "x", &res, &e), BROCK_OK);
    const char *n = buf_cstr(&f->notes);
    const char *first = strstr(n, "no price is known");
    assert_non_null(first);
    assert_non_null(strstr(first, "highest prices ($15 in, $75 out"));
    assert_null(strstr(first + 1, "no price is known"));
    json_t *v = rows(f);
    assert_int_equal(json_array_size(v), 2);
    near(rd(json_array_get(v, 1), "cost_usd"), want, "row cost");
    assert_non_null(strstr(rs(json_array_get(v, 1), "routing"), "price estimated"));
    json_decref(v);
    /* Bedrock named the profile's model: Haiku 4.5's price (a profile is regional: the 10 % premium) */
    const struct model_info *haiku = catalog_find("anthropic.claude-haiku-4-5-20251001-v1:0", NULL);
    assert_non_null(haiku);
    ledger_set_profile_model(l, app, haiku);
    model_result_cleanup(&res);
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", app, "x", &res, &e), BROCK_OK);
    struct model_prices hp = catalog_prices(haiku, GEO_US);
    near(ledger_last(l)->cost_usd, (1000 * hp.input + 100 * hp.output) / 1e6, "profile cost");
    assert_null(strstr(ledger_last(l)->routing, "price estimated"));
    model_result_cleanup(&res);
    ledger_free(l);
}

/* The budget hole the ceiling closes: a run with a $0.01 budget may not
 * spend without limit by naming a model brock cannot price. */
static void test_cost_ledger_unknown_price_budget(void **state)
{
    struct lfix *f = *state;
    for (int i = 0; i < 2; i++)
        fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "a", .usage = {1000, 100, 0, 0}});
    struct brock_err e = {0};
    json_t *brock = json_pack("{s:{s:f}}", "budget", "daily_usd", 0.01);
    struct budget b;
    assert_int_equal(budget_init(&b, brock, NULL, "/home/alice/app", 0, false, &e), BROCK_OK);
    struct ledger_config c = lconfig(f);
    c.budget = &b;
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    const char *m = "us.anthropic.claude-unheard-of-9-v1:0";
    assert_int_equal(invoke(l, f, "turn", m, "x", &res, &e), BROCK_OK); /* $0.0225 at the ceiling */
    model_result_cleanup(&res);
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", m, "x", &res, &e), BROCK_ERR_BUDGET);
    assert_int_equal(f->fm.calls, 1);
    model_result_cleanup(&res);
    ledger_free(l);
    budget_cleanup(&b);
    json_decref(brock);
}

static void test_cost_format_cost(void **state)
{
    struct lfix *f = *state;
    fake_add(&f->fm, (struct fake_step){.st = BROCK_OK, .text = "a", .usage = {1234567, 2000, 30000, 400}});
    json_t *brock = json_pack("{s:{s:f,s:f}}", "budget", "daily_usd", 100.0, "monthly_usd", 1000.0);
    struct budget b;
    struct brock_err e = {0};
    assert_int_equal(budget_init(&b, brock, NULL, NULL, 0, false, &e), BROCK_OK);
    struct ledger_config c = lconfig(f);
    c.budget = &b;
    struct ledger *l = ledger_new(&c);
    struct model_result res;
    model_result_init(&res);
    assert_int_equal(invoke(l, f, "turn", "global.anthropic.claude-sonnet-4-6", "x", &res, &e), BROCK_OK);
    struct buf out = BUF_INIT(4096);
    ledger_format_cost(l, &out);
    /* 1,234,567 x 3 + 2,000 x 15 + 30,000 x 0.3 + 400 x 3.75 = 3,703,701 + 30,000 + 9,000 + 1,500 = 3,744,201 */
    char want[1024];
    snprintf(want, sizeof want,
             "Session: 1 model call\n"
             "Tokens: 1,234,567 in, 2,000 out, 30,000 cache read, 400 cache write\n"
             "Cost: $3.7442\n"
             "  %-48s %4d call   $3.7442\n"
             "Budget: daily $3.7442 of $100.00 (3%%); monthly $3.7442 of $1000.00 (0%%)\n"
             "Prices: catalog, dated %s\n",
             "global.anthropic.claude-sonnet-4-6", 1, catalog_price_date());
    assert_string_equal(buf_cstr(&out), want);
    buf_free(&out);
    json_decref(brock);
    model_result_cleanup(&res);
    ledger_free(l);
    budget_cleanup(&b);
}

/* ---- the caller's identity ---------------------------------------------------------- */

static int sts_calls;
static enum brock_status fake_sts(void *ctx, char *arn, size_t arn_cap, char *account, size_t account_cap,
                                  struct brock_err *e)
{
    sts_calls++;
    if (ctx)
        return err_set(e, BROCK_ERR_NETWORK, "connecting to sts: refused");
    snprintf(arn, arn_cap, "arn:aws:sts::111122223333:assumed-role/dev/carol");
    snprintf(account, account_cap, "111122223333");
    return BROCK_OK;
}

static void test_cost_identity_cache(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    const char *key = "0123456789abcdef0123456789abcdef";
    struct ledger_identity id;
    struct brock_err why = {0};
    sts_calls = 0;
    ledger_identity_resolve(dir, key, fake_sts, NULL, T_NOW, &id, &why);
    assert_string_equal(id.arn, "arn:aws:sts::111122223333:assumed-role/dev/carol");
    assert_string_equal(id.account, "111122223333");
    assert_string_equal(id.source, "sts");
    assert_int_equal(sts_calls, 1);
    char *path = fs_join(dir, LEDGER_IDENTITY_FILE);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* the next run reads the file */
    ledger_identity_resolve(dir, key, fake_sts, NULL, T_NOW + 1000, &id, &why);
    assert_string_equal(id.source, "cache");
    assert_string_equal(id.arn, "arn:aws:sts::111122223333:assumed-role/dev/carol");
    assert_int_equal(sts_calls, 1);
    /* past the TTL STS is asked again */
    ledger_identity_resolve(dir, key, fake_sts, NULL, T_NOW + LEDGER_IDENTITY_TTL_MS + 1, &id, &why);
    assert_string_equal(id.source, "sts");
    assert_int_equal(sts_calls, 2);
    /* STS failing: the local user, and why */
    setenv("USER", "dev-user", 1);
    ledger_identity_resolve(dir, "ffff456789abcdef0123456789abcdef", fake_sts, (void *)1, T_NOW, &id, &why);
    assert_string_equal(id.arn, "local:dev-user");
    assert_string_equal(id.source, "local");
    assert_non_null(strstr(why.msg, "refused"));
    /* no credentials to ask with */
    ledger_identity_resolve(dir, NULL, NULL, NULL, T_NOW, &id, &why);
    assert_string_equal(id.source, "local");
    /* a damaged file is replaced */
    test_write_file(path, "{not json");
    ledger_identity_resolve(dir, key, fake_sts, NULL, T_NOW, &id, &why);
    assert_string_equal(id.source, "sts");
    ledger_identity_resolve(dir, key, fake_sts, NULL, T_NOW, &id, &why);
    assert_string_equal(id.source, "cache");
    /* at most LEDGER_IDENTITY_MAX_ENTRIES: the oldest go */
    for (int i = 0; i < LEDGER_IDENTITY_MAX_ENTRIES + 5; i++) {
        char k[33];
        snprintf(k, sizeof k, "%032x", i + 1);
        ledger_identity_resolve(dir, k, fake_sts, NULL, T_NOW + 10 + i, &id, &why);
    }
    char *text = test_read_file(path, NULL);
    json_t *doc = NULL;
    assert_int_equal(json_parse(text, strlen(text), "identity", &doc, NULL), BROCK_OK);
    assert_int_equal(json_object_size(json_object_get(doc, "entries")), LEDGER_IDENTITY_MAX_ENTRIES);
    assert_null(json_object_get(json_object_get(doc, "entries"), key)); /* the oldest */
    assert_non_null(json_object_get(json_object_get(doc, "entries"), "00000000000000000000000000000025"));
    json_decref(doc);
    free(text);
    free(path);
    free(dir);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_catalog_prices),
        cmocka_unit_test(test_cost_long_prompts),
        cmocka_unit_test(test_cost_overrides),
        cmocka_unit_test(test_cost_override_errors_name_the_place),
        cmocka_unit_test(test_cost_override_file),
        cmocka_unit_test_setup_teardown(test_cost_ledger_row_has_every_field, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_background_and_failures, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_fallback_is_sticky, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_fallback_to_another_model, lsetup, lteardown),
        cmocka_unit_test(test_cost_ledger_fallback_settings_errors),
        cmocka_unit_test_setup_teardown(test_cost_ledger_haiku_not_enabled, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_budget_refusal_sends_nothing, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_auto_routing, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_classifier, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_cache_hit, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_unknown_price_budget, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_ledger_unknown_price_warns_once, lsetup, lteardown),
        cmocka_unit_test_setup_teardown(test_cost_format_cost, lsetup, lteardown),
        cmocka_unit_test(test_cost_identity_cache),
    };
    return cmocka_run_group_tests_name("cost", tests, NULL, NULL);
}
