/* Tests for src/agent/budget.c: limits from settings files (each file may
 * add or tighten, never loosen), the warning at 80 % once per limit and run,
 * the refusal at 100 % with what/spent/where/how, UTC day and month
 * boundaries, per-project limits, --max-budget-usd, --ignore-budget, a
 * missing ledger, bad values. Spend figures are sums of the rows the tests
 * insert. */
#include "../support/test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/agent/budget.h"
#include "../../src/agent/settings.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/fs.h"
#include "../../src/util/json.h"

#define T_NOW 1787054400000LL       /* 2026-08-18T12:00:00Z */
#define T_DAY_START 1787011200000LL /* 2026-08-18T00:00:00Z */
#define T_MONTH 1785542400000LL     /* 2026-08-01T00:00:00Z */
#define T_JULY 1785538800000LL      /* 2026-07-31T23:00:00Z */

struct fix {
    char *dir;
    struct store *s;
};

static int setup(void **state)
{
    struct fix *f = xcalloc(1, sizeof *f);
    f->dir = test_tmpdir();
    struct store_options o = {.dir = f->dir};
    struct brock_err e = {0};
    if (store_open(&o, &f->s, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    store_close(f->s);
    free(f->dir);
    free(f);
    return 0;
}

static void spend(struct fix *f, int64_t t, const char *project, double usd)
{
    struct store_ledger_row r = {.time_ms = t, .project = project, .model = "m", .status = "ok", .cost_usd = usd};
    struct brock_err e = {0};
    if (store_ledger_insert(f->s, &r, NULL, &e) != BROCK_OK)
        fail_msg("insert: %s", e.msg);
}

static json_t *brock_of(const char *text)
{
    json_t *b = NULL;
    struct brock_err e = {0};
    if (json_parse(text, strlen(text), "t", &b, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    return b;
}

static void test_budget_warn_then_refuse(void **state)
{
    struct fix *f = *state;
    json_t *b = brock_of("{\"budget\": {\"daily_usd\": 10, \"monthly_usd\": 100}}");
    struct budget bu;
    struct brock_err e = {0};
    assert_int_equal(budget_init(&bu, b, NULL, "/p", 0, false, &e), BROCK_OK);
    assert_true(budget_active(&bu));
    struct budget_report r;
    /* nothing spent */
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_OK);
    assert_false(r.warn);
    /* 7.99 of 10: below 80 % */
    spend(f, T_DAY_START, "/p", 7.99);
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_OK);
    assert_false(r.warn);
    assert_true(fabs(r.today_usd - 7.99) < 1e-9);
    /* 8.00: the warning, once */
    spend(f, T_NOW - 1, "/p", 0.01);
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_OK);
    assert_true(r.warn);
    assert_string_equal(r.warning, "budget: 80% of the daily limit used: $8.0000 of $10.00 today (UTC) "
                                   "(brock.budget.daily_usd in settings)");
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_OK);
    assert_false(r.warn);
    /* 10.00: refused, saying what, how much, where and how */
    spend(f, T_NOW, "/p", 2.0);
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_ERR_BUDGET);
    assert_string_equal(e.msg, "budget: the daily limit of $10.00 is reached: $10.00 spent today (UTC); the request "
                               "was not sent. The limit is set by brock.budget.daily_usd in settings: raise the limit "
                               "there, wait for the next UTC day, or run with --ignore-budget");
    /* the next UTC day starts from zero; the month still counts */
    assert_int_equal(budget_check(&bu, f->s, T_DAY_START + 86400000, 0, &r, &e), BROCK_OK);
    assert_true(r.today_usd == 0);
    assert_true(fabs(r.month_usd - 10.0) < 1e-9);
    /* --ignore-budget: no refusal */
    bu.ignore = true;
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_OK);
    budget_cleanup(&bu);
    json_decref(b);
}

static void test_budget_month_boundary(void **state)
{
    struct fix *f = *state;
    json_t *b = brock_of("{\"budget\": {\"monthly_usd\": 50}}");
    struct budget bu;
    struct brock_err e = {0};
    assert_int_equal(budget_init(&bu, b, NULL, NULL, 0, false, &e), BROCK_OK);
    spend(f, T_JULY, "/p", 49.0); /* July does not count in August */
    spend(f, T_MONTH, "/p", 30.0);
    struct budget_report r;
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_OK);
    assert_true(fabs(r.month_usd - 30.0) < 1e-9);
    assert_false(r.warn); /* 60 % */
    spend(f, T_NOW, "/p", 20.0);
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_ERR_BUDGET);
    assert_non_null(strstr(e.msg, "the monthly limit of $50.00 is reached: $50.00 spent this month (UTC)"));
    assert_non_null(strstr(e.msg, "wait for the next UTC month"));
    /* on July 31st the July spend is what counts */
    assert_int_equal(budget_check(&bu, f->s, T_JULY, 0, &r, &e), BROCK_OK);
    assert_true(fabs(r.month_usd - 49.0) < 1e-9);
    assert_true(fabs(r.worst - 0.98) < 1e-9);
    assert_false(r.warn); /* the monthly warning was given with the refusal already */
    budget_cleanup(&bu);
    json_decref(b);
}

static void test_budget_projects(void **state)
{
    struct fix *f = *state;
    json_t *b = brock_of("{\"budget\": {\"projects\": {\"app\": {\"daily_usd\": 1},"
                         " \"/src/other\": {\"daily_usd\": 2, \"monthly_usd\": 3}}}}");
    struct budget bu;
    struct brock_err e = {0};
    /* matched by the last path component */
    assert_int_equal(budget_init(&bu, b, NULL, "/home/me/app", 0, false, &e), BROCK_OK);
    assert_true(bu.limit[BUDGET_PROJECT_DAILY].usd == 1);
    assert_true(bu.limit[BUDGET_PROJECT_MONTHLY].usd == 0);
    spend(f, T_NOW, "/src/other", 5.0); /* another project's spend does not count */
    struct budget_report r;
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_OK);
    spend(f, T_NOW, "/home/me/app", 1.0);
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_ERR_BUDGET);
    assert_non_null(strstr(e.msg, "the project daily limit of $1.0000 is reached: $1.0000 spent today (UTC) in project "
                                  "/home/me/app"));
    assert_non_null(strstr(e.msg, "brock.budget.projects.app.daily_usd in settings"));
    budget_cleanup(&bu);
    /* matched by the full path */
    assert_int_equal(budget_init(&bu, b, NULL, "/src/other", 0, false, &e), BROCK_OK);
    assert_true(bu.limit[BUDGET_PROJECT_MONTHLY].usd == 3);
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_ERR_BUDGET);
    assert_non_null(strstr(e.msg, "project daily limit of $2.0000"));
    budget_cleanup(&bu);
    json_decref(b);
}

static void test_budget_run_limit(void **state)
{
    (void)state;
    struct budget bu;
    struct brock_err e = {0};
    assert_int_equal(budget_init(&bu, NULL, NULL, NULL, 0.5, false, &e), BROCK_OK);
    struct budget_report r;
    /* no store needed for the run's own limit */
    assert_int_equal(budget_check(&bu, NULL, T_NOW, 0.39, &r, &e), BROCK_OK);
    assert_false(r.warn);
    assert_int_equal(budget_check(&bu, NULL, T_NOW, 0.41, &r, &e), BROCK_OK);
    assert_true(r.warn);
    assert_non_null(strstr(r.warning, "82% of the --max-budget-usd limit used: $0.4100 of $0.5000 in this run"));
    assert_int_equal(budget_check(&bu, NULL, T_NOW, 0.5, &r, &e), BROCK_ERR_BUDGET);
    assert_string_equal(e.msg, "budget: the --max-budget-usd limit of $0.5000 is reached: $0.5000 spent in this run; "
                               "the request was not sent (raise --max-budget-usd, or leave it out)");
    /* --ignore-budget is about the settings' limits: the run's own still holds */
    bu.ignore = true;
    assert_int_equal(budget_check(&bu, NULL, T_NOW, 0.5, &r, &e), BROCK_ERR_BUDGET);
    budget_cleanup(&bu);
    assert_int_equal(budget_init(&bu, NULL, NULL, NULL, -1, false, &e), BROCK_ERR_USAGE);
    budget_cleanup(&bu);
    assert_int_equal(budget_init(&bu, NULL, NULL, NULL, NAN, false, &e), BROCK_ERR_USAGE);
    budget_cleanup(&bu);
}

static void test_budget_without_ledger(void **state)
{
    (void)state;
    json_t *b = brock_of("{\"budget\": {\"daily_usd\": 10}}");
    struct budget bu;
    struct brock_err e = {0};
    assert_int_equal(budget_init(&bu, b, NULL, NULL, 0, false, &e), BROCK_OK);
    struct budget_report r;
    assert_int_equal(budget_check(&bu, NULL, T_NOW, 0, &r, &e), BROCK_ERR_BUDGET);
    assert_non_null(strstr(e.msg, "the usage ledger is not available"));
    assert_non_null(strstr(e.msg, "--ignore-budget"));
    bu.ignore = true;
    assert_int_equal(budget_check(&bu, NULL, T_NOW, 0, &r, &e), BROCK_OK);
    budget_cleanup(&bu);
    json_decref(b);
    /* no limits: nothing to check, nothing read */
    assert_int_equal(budget_init(&bu, NULL, NULL, NULL, 0, false, &e), BROCK_OK);
    assert_false(budget_active(&bu));
    assert_int_equal(budget_check(&bu, NULL, T_NOW, 1e6, &r, &e), BROCK_OK);
    budget_cleanup(&bu);
}

/* Settings files: the user's limit stands against a project file that tries to loosen it. */
static void test_budget_files_only_tighten(void **state)
{
    struct fix *f = *state;
    char *home = test_tmpdir(), *proj = test_tmpdir();
    char *ucfg = fs_join(home, "settings.json");
    test_write_file(ucfg, "{\"brock\": {\"budget\": {\"daily_usd\": 5, \"monthly_usd\": 100}}}");
    char *pdir = fs_join(proj, ".brock");
    mkdir(pdir, 0700);
    char *pcfg = fs_join(pdir, "settings.json");
    /* the repository's file: a huge daily limit (ignored) and a tighter monthly one (kept) */
    test_write_file(pcfg, "{\"brock\": {\"budget\": {\"daily_usd\": 1000000, \"monthly_usd\": 20, \"warn_at\": 0.5}}}");
    struct settings_opts so = {.cwd = proj, .home = home, .user_file = ucfg};
    struct settings *s = NULL;
    struct brock_err e = {0};
    if (settings_load(&so, &s, &e) != BROCK_OK)
        fail_msg("settings: %s", e.msg);
    struct budget bu;
    if (budget_init(&bu, s->brock, s, proj, 0, false, &e) != BROCK_OK)
        fail_msg("budget: %s", e.msg);
    assert_true(bu.limit[BUDGET_DAILY].usd == 5);
    assert_true(bu.limit[BUDGET_MONTHLY].usd == 20);
    assert_true(bu.warn_at == 0.5);
    char want[600];
    snprintf(want, sizeof want, "brock.budget.daily_usd in %s", ucfg);
    assert_string_equal(bu.limit[BUDGET_DAILY].where, want);
    snprintf(want, sizeof want, "brock.budget.monthly_usd in %s", pcfg);
    assert_string_equal(bu.limit[BUDGET_MONTHLY].where, want);
    spend(f, T_NOW, proj, 5.0);
    struct budget_report r;
    assert_int_equal(budget_check(&bu, f->s, T_NOW, 0, &r, &e), BROCK_ERR_BUDGET);
    snprintf(want, sizeof want, "The limit is set by brock.budget.daily_usd in %s: raise", ucfg);
    assert_non_null(strstr(e.msg, want));
    budget_cleanup(&bu);
    /* a bad value in a file names the file and the key */
    test_write_file(pcfg, "{\"brock\": {\"budget\": {\"daily_usd\": \"lots\"}}}");
    settings_free(s);
    assert_int_equal(settings_load(&so, &s, &e), BROCK_OK);
    assert_int_equal(budget_init(&bu, s->brock, s, proj, 0, false, &e), BROCK_ERR_CONFIG);
    snprintf(want, sizeof want, "%s: brock.budget.daily_usd: expected a number of US dollars", pcfg);
    assert_non_null(strstr(e.msg, want));
    budget_cleanup(&bu);
    settings_free(s);
    free(ucfg);
    free(pdir);
    free(pcfg);
    free(home);
    free(proj);
}

static void test_budget_bad_values(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"{\"budget\": 5}", "brock.budget: expected an object"},
        {"{\"budget\": {\"daily\": 5}}", "brock.budget: unknown field"},
        {"{\"budget\": {\"daily_usd\": -1}}", "brock.budget.daily_usd: expected a number of US dollars"},
        {"{\"budget\": {\"monthly_usd\": 1e12}}", "brock.budget.monthly_usd: expected"},
        {"{\"budget\": {\"warn_at\": 80}}", "brock.budget.warn_at: expected a fraction"},
        {"{\"budget\": {\"projects\": []}}", "brock.budget.projects: expected an object"},
        {"{\"budget\": {\"projects\": {\"a\": 1}}}", "brock.budget.projects.a: expected an object"},
        {"{\"budget\": {\"projects\": {\"a\": {\"weekly_usd\": 1}}}}", "brock.budget.projects.a: unknown field"},
        {"{\"budget\": {\"projects\": {\"a\": {\"daily_usd\": true}}}}", "brock.budget.projects.a.daily_usd"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        json_t *b = brock_of(bad[i][0]);
        struct budget bu;
        struct brock_err e = {0};
        if (budget_init(&bu, b, NULL, "a", 0, false, &e) != BROCK_ERR_CONFIG || !strstr(e.msg, bad[i][1]))
            fail_msg("%s: got '%s'", bad[i][0], e.msg);
        budget_cleanup(&bu);
        json_decref(b);
    }
    assert_string_equal(budget_kind_name(BUDGET_MONTHLY), "monthly");
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_budget_warn_then_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_month_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_projects, setup, teardown),
        cmocka_unit_test(test_budget_run_limit),
        cmocka_unit_test(test_budget_without_ledger),
        cmocka_unit_test_setup_teardown(test_budget_files_only_tighten, setup, teardown),
        cmocka_unit_test(test_budget_bad_values),
    };
    return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
