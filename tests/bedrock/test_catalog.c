/* Tests for the model catalog: aliases, id forms, regions, prices. */
#include "../support/test.h"

#include <math.h>
#include <string.h>

#include "../../src/bedrock/catalog.h"

static void resolve_ok(const char *spec, const char *region, bool global, const char *want_id)
{
    struct model_choice c;
    struct brock_err e = {0};
    enum brock_status st = catalog_resolve(spec, region, global, &c, &e);
    if (st != BROCK_OK)
        fail_msg("%s in %s: %s", spec, region, e.msg);
    assert_string_equal(c.model_id, want_id);
}

static void test_aliases_follow_region(void **state)
{
    (void)state;
    resolve_ok("sonnet", "us-west-2", false, "us.anthropic.claude-sonnet-4-6");
    resolve_ok("sonnet", "us-east-1", false, "us.anthropic.claude-sonnet-4-6");
    resolve_ok("sonnet", "eu-west-1", false, "eu.anthropic.claude-sonnet-4-6");
    resolve_ok("sonnet", "ap-southeast-1", false, "apac.anthropic.claude-sonnet-4-6");
    resolve_ok("sonnet", "ap-northeast-1", false, "jp.anthropic.claude-sonnet-4-6");
    resolve_ok("sonnet", "us-west-2", true, "global.anthropic.claude-sonnet-4-6");
    resolve_ok("OPUS", "us-west-2", false, "us.anthropic.claude-opus-4-6-v1");
    resolve_ok("haiku", "eu-west-1", false, "eu.anthropic.claude-haiku-4-5-20251001-v1:0");
    resolve_ok("haiku", "sa-east-1", false, "global.anthropic.claude-haiku-4-5-20251001-v1:0");
}

static void test_seed_models_present(void **state)
{
    (void)state;
    const char *seed[] = {"anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic.claude-3-opus-20240229-v1:0",
                          "anthropic.claude-3-5-haiku-20241022-v1:0"};
    for (size_t i = 0; i < 3; i++) {
        enum model_geo g;
        const struct model_info *m = catalog_find(seed[i], &g);
        assert_non_null(m);
        assert_int_equal(g, GEO_NONE);
        assert_true(m->in_region);
        resolve_ok(seed[i], "us-west-2", false, seed[i]);
    }
    assert_int_equal(catalog_find("anthropic.claude-3-opus-20240229-v1:0", NULL)->family, FAMILY_OPUS);
}

static void test_id_forms(void **state)
{
    (void)state;
    enum model_geo g;
    const struct model_info *m = catalog_find("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", &g);
    assert_non_null(m);
    assert_int_equal(g, GEO_EU);
    assert_string_equal(m->name, "Claude Sonnet 4.5");
    m = catalog_find("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0", &g);
    assert_non_null(m);
    m = catalog_find("arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-6", &g);
    assert_non_null(m);
    assert_int_equal(g, GEO_US);
    assert_null(catalog_find("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6", &g));
    assert_null(catalog_find("xx.anthropic.claude-sonnet-4-6", &g));

    struct model_choice c;
    struct brock_err e = {0};
    const char *app = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6";
    assert_int_equal(catalog_resolve(app, "us-east-1", false, &c, &e), BROCK_OK);
    assert_string_equal(c.model_id, app);
    assert_null(c.model);
    /* unknown but well-formed ids pass through (new models) */
    assert_int_equal(catalog_resolve("us.anthropic.claude-opus-9", "us-east-1", false, &c, &e), BROCK_OK);
    assert_null(c.model);
}

static void test_bad_specs(void **state)
{
    (void)state;
    struct model_choice c;
    struct brock_err e = {0};
    assert_int_equal(catalog_resolve("sonet", "us-west-2", false, &c, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "sonet"));
    assert_non_null(strstr(e.msg, "brock models"));
    assert_int_equal(catalog_resolve("us.anthropic.x y", "us-west-2", false, &c, &e), BROCK_ERR_USAGE);
    assert_int_equal(catalog_resolve("", "us-west-2", false, &c, &e), BROCK_ERR_USAGE);
}

static void test_prices(void **state)
{
    (void)state;
    const struct model_info *m = catalog_find("anthropic.claude-sonnet-4-5-20250929-v1:0", NULL);
    struct model_prices g = catalog_prices(m, GEO_GLOBAL), us = catalog_prices(m, GEO_US);
    assert_true(fabs(g.input - 3.0) < 1e-9);
    assert_true(fabs(us.input - 3.3) < 1e-9);
    assert_true(fabs(us.output - 16.5) < 1e-9);
    const struct model_info *old = catalog_find("anthropic.claude-3-opus-20240229-v1:0", NULL);
    assert_true(fabs(catalog_prices(old, GEO_US).output - 75.0) < 1e-9);
    size_t n;
    const struct model_info *all = catalog_models(&n);
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        assert_true(all[i].prices.input > 0 && all[i].prices.output > all[i].prices.input);
        assert_true(all[i].context_tokens >= 200000);
        assert_true(all[i].in_region || all[i].geos != GEO_NONE);
    }
    assert_int_equal(strlen(catalog_price_date()), 10);

    /* Haiku 4.5 global: 1M input at $1, 1M output at $5, 1M cache reads at $0.10,
     * 1M 5-minute cache writes at $1.25: $7.35; batch halves input and output */
    const struct model_info *h = catalog_find("anthropic.claude-haiku-4-5-20251001-v1:0", NULL);
    assert_true(fabs(catalog_cost(h, GEO_GLOBAL, 1000000, 1000000, 1000000, 1000000, 0, false) - 7.35) < 1e-9);
    assert_true(fabs(catalog_cost(h, GEO_GLOBAL, 1000000, 1000000, 0, 0, 0, true) - 3.0) < 1e-9);
    /* 1-hour writes at $2 */
    assert_true(fabs(catalog_cost(h, GEO_GLOBAL, 0, 0, 0, 1000000, 1000000, false) - 2.0) < 1e-9);
}

/* The models Anthropic's own Bedrock table (Claude Code 2.1.332) names and
 * AWS's pages do not yet: found in every id form Claude Code sends, priced,
 * never picked by an alias (the aliases above stay on Opus 4.6, Sonnet 4.6
 * and Haiku 4.5 in every region). */
static void test_newer_models(void **state)
{
    (void)state;
    static const struct {
        const char *id, *name;
        double in, out, cache_read;
    } want[] = {
        {"us.anthropic.claude-opus-4-7", "Claude Opus 4.7", 5, 25, 0.5},
        {"us.anthropic.claude-opus-4-8", "Claude Opus 4.8", 5, 25, 0.5},
        {"us.anthropic.claude-opus-5", "Claude Opus 5", 5, 25, 0.5},
        {"us.anthropic.claude-opus-5-5", "Claude Opus 5.5", 4, 20, 0.2},
        {"us.anthropic.claude-sonnet-5", "Claude Sonnet 5", 2, 10, 0.2},
        {"us.anthropic.claude-sonnet-5-5", "Claude Sonnet 5.5", 2, 10, 0.1},
        {"us.anthropic.claude-haiku-5-5", "Claude Haiku 5.5", 0.1, 0.5, 0.01},
        {"us.anthropic.claude-fable-5", "Claude Fable 5", 10, 50, 1},
        {"us.anthropic.claude-fable-5-1", "Claude Fable 5.1", 10, 50, 0.25},
        {"us.anthropic.claude-fable-5-2", "Claude Fable 5.2", 8, 40, 0.2},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(want); i++) {
        enum model_geo g;
        const struct model_info *m = catalog_find(want[i].id, &g);
        if (!m)
            fail_msg("%s is not in the catalog", want[i].id);
        assert_string_equal(m->name, want[i].name);
        assert_int_equal(g, GEO_US);
        assert_true(m->newer);
        assert_false(m->in_region);
        assert_int_equal(m->context_tokens, 1000000);
        assert_int_equal(m->max_output, 128000);
        struct model_prices p = catalog_prices(m, GEO_GLOBAL);
        assert_true(fabs(p.input - want[i].in) < 1e-9 && fabs(p.output - want[i].out) < 1e-9);
        assert_true(fabs(p.cache_read - want[i].cache_read) < 1e-9);
        /* a us. profile costs the regional 10 % more, as for Sonnet 4.5 on */
        assert_true(fabs(catalog_prices(m, GEO_US).input - want[i].in * 1.1) < 1e-9);
    }
    /* the geographies the reference saw beyond us. */
    enum model_geo g;
    assert_non_null(catalog_find("global.anthropic.claude-opus-4-7", &g));
    assert_int_equal(g, GEO_GLOBAL);
    assert_non_null(catalog_find("au.anthropic.claude-opus-4-8", &g));
    assert_non_null(catalog_find("global.anthropic.claude-sonnet-5", &g));
    assert_false(catalog_find("anthropic.claude-opus-5", NULL)->geos & GEO_EU);
    assert_int_equal(catalog_find("anthropic.claude-fable-5-2", NULL)->family, FAMILY_FABLE);
    /* the ones that refuse thinking "disabled" (Claude Code's table) */
    assert_true(catalog_find("us.anthropic.claude-opus-5-5", NULL)->always_thinks);
    assert_true(catalog_find("us.anthropic.claude-haiku-5-5", NULL)->always_thinks);
    assert_true(catalog_find("us.anthropic.claude-fable-5", NULL)->always_thinks);
    assert_false(catalog_find("us.anthropic.claude-opus-5", NULL)->always_thinks);
    assert_false(catalog_find("us.anthropic.claude-sonnet-5", NULL)->always_thinks);
    assert_false(catalog_find("us.anthropic.claude-opus-4-6-v1", NULL)->always_thinks);
    /* no alias picks one, in any region */
    static const char *const regions[] = {"us-west-2", "us-east-1", "eu-west-1", "ap-southeast-1", "ap-southeast-2"};
    static const char *const aliases[] = {"opus", "sonnet", "haiku"};
    for (size_t r = 0; r < BROCK_ARRAY_LEN(regions); r++)
        for (size_t a = 0; a < BROCK_ARRAY_LEN(aliases); a++) {
            struct model_choice c;
            struct brock_err e = {0};
            assert_int_equal(catalog_resolve(aliases[a], regions[r], false, &c, &e), BROCK_OK);
            assert_false(c.model->newer);
        }
    resolve_ok("us.anthropic.claude-opus-5", "us-west-2", false, "us.anthropic.claude-opus-5");
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aliases_follow_region), cmocka_unit_test(test_seed_models_present),
        cmocka_unit_test(test_id_forms), cmocka_unit_test(test_bad_specs), cmocka_unit_test(test_prices),
        cmocka_unit_test(test_newer_models),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
