/* cmd_models.c - `brock models`: the model catalog, as a table or JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "../bedrock/catalog.h"
#include "cli.h"
#include "exitcode.h"

static const char *family_name(enum model_family f)
{
    switch (f) {
    case FAMILY_HAIKU:
        return "haiku";
    case FAMILY_SONNET:
        return "sonnet";
    case FAMILY_OPUS:
        return "opus";
    case FAMILY_FABLE:
        return "fable";
    }
    return "?";
}

static void geo_list(unsigned geos, char *out, size_t n)
{
    static const enum model_geo order[] = {GEO_GLOBAL, GEO_US, GEO_EU, GEO_APAC, GEO_JP, GEO_AU};
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!(geos & order[i]))
            continue;
        int w = snprintf(out + o, n - o, "%s%s", o ? "," : "", catalog_geo_prefix(order[i]));
        if (w < 0 || (size_t)w >= n - o)
            break;
        o += (size_t)w;
    }
    if (!o)
        snprintf(out, n, "-");
}

static json_t *model_json(const struct model_info *m, const char *region)
{
    json_t *profiles = json_array();
    static const enum model_geo order[] = {GEO_GLOBAL, GEO_US, GEO_EU, GEO_APAC, GEO_JP, GEO_AU};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!(m->geos & order[i]))
            continue;
        char id[300];
        snprintf(id, sizeof id, "%s.%s", catalog_geo_prefix(order[i]), m->base_id);
        json_array_append_new(profiles, json_string(id));
    }
    struct model_prices g = m->prices;
    struct model_prices geo = catalog_prices(m, catalog_geo_for_region(region));
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:b, s:i, s:i, s:i, s:b, s:b, s:{s:f, s:f, s:f, s:f, s:f}, "
                     "s:{s:f, s:f}, s:{s:f, s:f}, s:b}",
                     "name", m->name, "id", m->base_id, "family", family_name(m->family), "inference_profiles",
                     profiles, "on_demand_base_id", m->in_region, "context_tokens", (json_int_t)m->context_tokens,
                     "max_output_tokens", (json_int_t)m->max_output, "min_cache_tokens",
                     (json_int_t)m->min_cache_tokens, "cache_ttl_1h", m->cache_ttl_1h, "legacy", m->legacy,
                     "price_per_mtok", "input", g.input, "output", g.output, "cache_write_5m", g.cache_write_5m,
                     "cache_write_1h", g.cache_write_1h, "cache_read", g.cache_read, "regional_price_per_mtok",
                     "input", geo.input, "output", geo.output, "batch_price_per_mtok", "input", g.input / 2,
                     "output", g.output / 2, "newer", m->newer);
    if (j && m->long_above) {
        /* the long-prompt rule: list prices times these over the limit */
        struct model_prices l = catalog_long_prices(m, g, (int64_t)m->long_above + 1);
        json_object_set_new(j, "long_prompt",
                            json_pack("{s:I, s:{s:f, s:f, s:f, s:f, s:f}}", "above_prompt_tokens",
                                      (json_int_t)m->long_above, "price_per_mtok", "input", l.input, "output",
                                      l.output, "cache_write_5m", l.cache_write_5m, "cache_write_1h",
                                      l.cache_write_1h, "cache_read", l.cache_read));
    }
    if (j)
        json_object_set_new(j, "refuses_prefill", json_boolean(m->no_prefill));
    return j;
}

int cmd_models(const struct cli_config *cfg)
{
    size_t n;
    const struct model_info *all = catalog_models(&n);
    const char *region = cfg->region ? cfg->region : getenv("AWS_REGION");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    if (!region || !*region)
        region = "us-west-2";

    if (cfg->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, model_json(&all[i], region));
        json_t *aliases = json_object();
        static const char *names[] = {"sonnet", "opus", "haiku"};
        for (size_t i = 0; i < 3; i++) {
            struct model_choice c;
            if (catalog_resolve(names[i], region, false, &c, NULL) == BROCK_OK)
                json_object_set_new(aliases, names[i], json_string(c.model_id));
        }
        json_t *doc = json_pack("{s:s, s:s, s:o, s:o}", "prices_date", catalog_price_date(), "region", region,
                                "aliases", aliases, "models", arr);
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(doc);
        return EXIT_OK;
    }

    printf("%-22s %-44s %-26s %8s %7s %8s %8s\n", "MODEL", "ID", "PROFILES", "CONTEXT", "MAXOUT", "IN $/M",
           "OUT $/M");
    for (size_t i = 0; i < n; i++) {
        const struct model_info *m = &all[i];
        char geos[64];
        geo_list(m->geos, geos, sizeof geos);
        char ctx[16];
        if (m->context_tokens >= 1000000)
            snprintf(ctx, sizeof ctx, "%uM", m->context_tokens / 1000000);
        else
            snprintf(ctx, sizeof ctx, "%uK", m->context_tokens / 1000);
        printf("%-22s %-44s %-26s %8s %7u %8.2f %8.2f%s\n", m->name, m->base_id, geos, ctx, m->max_output,
               m->prices.input, m->prices.output, m->legacy ? "  (legacy)" : m->newer ? "  (newer)" : "");
    }
    printf("\nAliases in %s:", region);
    static const char *names[] = {"sonnet", "opus", "haiku"};
    for (size_t i = 0; i < 3; i++) {
        struct model_choice c;
        if (catalog_resolve(names[i], region, false, &c, NULL) == BROCK_OK)
            printf(" %s=%s", names[i], c.model_id);
    }
    printf("\nPrices: USD per million tokens, global/list price, as of %s. Regional and geographic\n"
           "profiles of recent models cost 10%% more; batch inference costs half. (newer): ids\n"
           "from Anthropic's model table in Claude Code, not yet on AWS's model pages; no alias picks them.\n",
           catalog_price_date());
    return EXIT_OK;
}
