/* catalog.c - the built-in model table.
 *
 * Ids, limits and prices from the Bedrock and Anthropic model and pricing pages
 * as summarised in shared/docs/aws-wire-reference.md section 7.2 (sources and
 * dates there). The `newer` models (7.3 of the reference: seen, not confirmed
 * there) take their Bedrock ids, context, output limits and prices from the
 * model table Anthropic ships in Claude Code 2.1.332 (2026-11), which sends
 * them to Bedrock as `us.` profiles; their other geographies are the ones 7.3
 * saw. Their smallest cacheable prefix is the newest known model's of the
 * family (not published). Aliases never pick them; any id can still be passed
 * through --model. */
#include "catalog.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

#define M1 1000000u
#define K200 200000u

static const struct model_info models[] = {
    /* Opus */
    {"Claude Opus 5.5", "anthropic.claude-opus-5-5", FAMILY_OPUS, GEO_US, false, M1, 128000, 4096, true, false,
     true, {4, 20, 5, 8, 0.20}, true, true, 0, 0, 0, true},
    {"Claude Opus 5", "anthropic.claude-opus-5", FAMILY_OPUS, GEO_US, false, M1, 128000, 4096, true, false, true,
     {5, 25, 6.25, 10, 0.50}, true, false, 0, 0, 0, true},
    {"Claude Opus 4.8", "anthropic.claude-opus-4-8", FAMILY_OPUS, GEO_US | GEO_AU, false, M1, 128000, 4096, true,
     false, true, {5, 25, 6.25, 10, 0.50}, true, false, 0, 0, 0, true},
    {"Claude Opus 4.7", "anthropic.claude-opus-4-7", FAMILY_OPUS, GEO_GLOBAL | GEO_US | GEO_EU | GEO_AU, false, M1,
     128000, 4096, true, false, true, {5, 25, 6.25, 10, 0.50}, true, false, 0, 0, 0, true},
    {"Claude Opus 4.6", "anthropic.claude-opus-4-6-v1", FAMILY_OPUS,
     GEO_GLOBAL | GEO_US | GEO_EU | GEO_JP | GEO_APAC | GEO_AU, false, M1, 128000, 4096, true, false,
     true, {5, 25, 6.25, 10, 0.50}, false, false, 0, 0, 0, true},
    {"Claude Opus 4.5", "anthropic.claude-opus-4-5-20251101-v1:0", FAMILY_OPUS,
     GEO_GLOBAL | GEO_US | GEO_EU, false, K200, 64000, 4096, true, false, true,
     {5, 25, 6.25, 10, 0.50}, false, false, 0, 0, 0, false},
    {"Claude Opus 4.1", "anthropic.claude-opus-4-1-20250805-v1:0", FAMILY_OPUS, GEO_US, false, K200,
     32000, 1024, false, false, false, {15, 75, 18.75, 30, 1.50}, false, false, 0, 0, 0, false},
    {"Claude Opus 4", "anthropic.claude-opus-4-20250514-v1:0", FAMILY_OPUS, GEO_US, false, K200, 32000,
     1024, false, false, false, {15, 75, 18.75, 30, 1.50}, false, false, 0, 0, 0, false},
    {"Claude 3 Opus", "anthropic.claude-3-opus-20240229-v1:0", FAMILY_OPUS, GEO_US, true, K200, 4096, 0,
     false, true, false, {15, 75, 0, 0, 0}, false, false, 0, 0, 0, false},
    /* Sonnet */
    {"Claude Sonnet 5.5", "anthropic.claude-sonnet-5-5", FAMILY_SONNET, GEO_US, false, M1, 128000, 2048, true,
     false, true, {2, 10, 2.5, 4, 0.10}, true, true, 0, 0, 0, true},
    {"Claude Sonnet 5", "anthropic.claude-sonnet-5", FAMILY_SONNET, GEO_GLOBAL | GEO_US, false, M1, 128000, 2048,
     true, false, true, {2, 10, 2.5, 4, 0.20}, true, false, 0, 0, 0, true},
    {"Claude Sonnet 4.6", "anthropic.claude-sonnet-4-6", FAMILY_SONNET,
     GEO_GLOBAL | GEO_US | GEO_EU | GEO_JP | GEO_AU | GEO_APAC, false, M1, 64000, 2048, true, false,
     true, {3, 15, 3.75, 6, 0.30}, false, false, 0, 0, 0, true},
    {"Claude Sonnet 4.5", "anthropic.claude-sonnet-4-5-20250929-v1:0", FAMILY_SONNET,
     GEO_GLOBAL | GEO_US | GEO_EU | GEO_JP | GEO_AU, false, K200, 64000, 1024, true, false, true,
     {3, 15, 3.75, 6, 0.30}, false, false, K200, 2, 1.5, false},
    {"Claude Sonnet 4", "anthropic.claude-sonnet-4-20250514-v1:0", FAMILY_SONNET,
     GEO_GLOBAL | GEO_US | GEO_EU | GEO_APAC, false, K200, 64000, 1024, false, false, false,
     {3, 15, 3.75, 6, 0.30}, false, false, K200, 2, 1.5, false},
    {"Claude 3.7 Sonnet", "anthropic.claude-3-7-sonnet-20250219-v1:0", FAMILY_SONNET,
     GEO_US | GEO_EU | GEO_APAC, false, K200, 64000, 1024, false, true, false,
     {3, 15, 3.75, 6, 0.30}, false, false, 0, 0, 0, false},
    {"Claude 3.5 Sonnet v2", "anthropic.claude-3-5-sonnet-20241022-v2:0", FAMILY_SONNET,
     GEO_US | GEO_APAC, true, K200, 8192, 0, false, true, false, {3, 15, 0, 0, 0}, false, false, 0, 0, 0, false},
    {"Claude 3.5 Sonnet", "anthropic.claude-3-5-sonnet-20240620-v1:0", FAMILY_SONNET,
     GEO_US | GEO_EU | GEO_APAC, true, K200, 8192, 0, false, true, false,
     {3, 15, 0, 0, 0}, false, false, 0, 0, 0, false},
    {"Claude 3 Sonnet", "anthropic.claude-3-sonnet-20240229-v1:0", FAMILY_SONNET,
     GEO_US | GEO_EU | GEO_APAC, true, K200, 4096, 0, false, true, false,
     {3, 15, 0, 0, 0}, false, false, 0, 0, 0, false},
    /* Haiku */
    {"Claude Haiku 5.5", "anthropic.claude-haiku-5-5", FAMILY_HAIKU, GEO_US, false, M1, 128000, 4096, true, false,
     true, {0.10, 0.50, 0.125, 0.20, 0.01}, true, true, 100000, 5, 5, true},
    {"Claude Haiku 4.5", "anthropic.claude-haiku-4-5-20251001-v1:0", FAMILY_HAIKU,
     GEO_GLOBAL | GEO_US | GEO_EU | GEO_JP | GEO_AU | GEO_APAC, false, K200, 64000, 4096, true, false,
     true, {1, 5, 1.25, 2, 0.10}, false, false, 0, 0, 0, false},
    {"Claude 3.5 Haiku", "anthropic.claude-3-5-haiku-20241022-v1:0", FAMILY_HAIKU, GEO_US, true, K200,
     8192, 2048, false, true, false, {0.80, 4, 1, 1.6, 0.08}, false, false, 0, 0, 0, false},
    {"Claude 3 Haiku", "anthropic.claude-3-haiku-20240307-v1:0", FAMILY_HAIKU,
     GEO_US | GEO_EU | GEO_APAC, true, K200, 4096, 2048, false, false, false,
     {0.25, 1.25, 0.30, 0.50, 0.03}, false, false, 0, 0, 0, false},
    /* Fable (no alias) */
    {"Claude Fable 5.2", "anthropic.claude-fable-5-2", FAMILY_FABLE, GEO_US, false, M1, 128000, 4096, true, false,
     true, {8, 40, 10, 16, 0.20}, true, true, 0, 0, 0, true},
    {"Claude Fable 5.1", "anthropic.claude-fable-5-1", FAMILY_FABLE, GEO_US, false, M1, 128000, 4096, true, false,
     true, {10, 50, 12.5, 20, 0.25}, true, true, 0, 0, 0, true},
    {"Claude Fable 5", "anthropic.claude-fable-5", FAMILY_FABLE, GEO_US, false, M1, 128000, 4096, true, false, true,
     {10, 50, 12.5, 20, 1}, true, true, 0, 0, 0, true},
};

static const char price_date[] = "2026-08-18";

const struct model_info *catalog_models(size_t *count)
{
    *count = sizeof models / sizeof models[0];
    return models;
}

const char *catalog_price_date(void)
{
    return price_date;
}

static const struct {
    enum model_geo geo;
    const char *prefix;
} geo_prefixes[] = {
    {GEO_GLOBAL, "global"}, {GEO_US, "us"}, {GEO_EU, "eu"},
    {GEO_APAC, "apac"},     {GEO_JP, "jp"}, {GEO_AU, "au"},
};

const char *catalog_geo_prefix(enum model_geo geo)
{
    for (size_t i = 0; i < sizeof geo_prefixes / sizeof geo_prefixes[0]; i++)
        if (geo_prefixes[i].geo == geo)
            return geo_prefixes[i].prefix;
    return "";
}

enum model_geo catalog_geo_for_region(const char *region)
{
    if (!region)
        return GEO_GLOBAL;
    if (!strncmp(region, "us-gov-", 7))
        return GEO_NONE;
    if (!strncmp(region, "us-", 3) || !strncmp(region, "ca-", 3))
        return GEO_US;
    if (!strncmp(region, "eu-", 3))
        return GEO_EU;
    if (!strcmp(region, "ap-northeast-1") || !strcmp(region, "ap-northeast-3"))
        return GEO_JP;
    if (!strcmp(region, "ap-southeast-2") || !strcmp(region, "ap-southeast-4"))
        return GEO_AU;
    if (!strncmp(region, "ap-", 3))
        return GEO_APAC;
    return GEO_GLOBAL;
}

/* The base ids by hash (FNV-1a), open addressing, built once: every call
 * through the gateway and the emulator looks its model up a few times, and
 * a scan compared ~25 ids that all begin "anthropic.claude-". */
#define INDEX_SLOTS 128 /* a power of two, over twice the models */
static uint8_t index_slot[INDEX_SLOTS]; /* model index + 1; 0 = empty */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static uint32_t id_hash(const char *id, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)id[i]) * 16777619u;
    return h;
}

static void index_build(void)
{
    _Static_assert(sizeof models / sizeof models[0] < INDEX_SLOTS / 2 && sizeof models / sizeof models[0] < 255,
                   "the model index needs more slots");
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        uint32_t h = id_hash(models[i].base_id, strlen(models[i].base_id)) & (INDEX_SLOTS - 1);
        while (index_slot[h])
            h = (h + 1) & (INDEX_SLOTS - 1);
        index_slot[h] = (uint8_t)(i + 1);
    }
}

static const struct model_info *find_base(const char *id, size_t n)
{
    pthread_once(&index_once, index_build);
    for (uint32_t h = id_hash(id, n) & (INDEX_SLOTS - 1); index_slot[h]; h = (h + 1) & (INDEX_SLOTS - 1)) {
        const struct model_info *m = &models[index_slot[h] - 1];
        if (!strncmp(m->base_id, id, n) && m->base_id[n] == '\0')
            return m;
    }
    return NULL;
}

bool catalog_is_app_profile(const char *id)
{
    return !strncmp(id, "arn:aws", 7) && strstr(id, ":application-inference-profile/") != NULL;
}

void catalog_arn_region(const char *arn, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = arn;
    for (int colons = 0; colons < 3 && p; colons++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    const char *end = p ? strchr(p, ':') : NULL;
    if (end && (size_t)(end - p) < cap) {
        memcpy(out, p, (size_t)(end - p));
        out[end - p] = '\0';
    }
}

const struct model_info *catalog_find(const char *id, enum model_geo *geo)
{
    enum model_geo g = GEO_NONE;
    if (!strncmp(id, "arn:", 4)) {
        /* arn:aws:bedrock:{region}:{acct}:{type}/{id} */
        const char *slash = strchr(id, '/');
        if (!slash)
            return NULL;
        if (strstr(id, ":application-inference-profile/") || strstr(id, ":provisioned-model/"))
            return NULL;
        id = slash + 1;
    }
    const struct model_info *m = find_base(id, strlen(id));
    if (!m) {
        const char *dot = strchr(id, '.');
        if (dot) {
            for (size_t i = 0; i < sizeof geo_prefixes / sizeof geo_prefixes[0]; i++) {
                size_t pl = strlen(geo_prefixes[i].prefix);
                if ((size_t)(dot - id) == pl && !memcmp(id, geo_prefixes[i].prefix, pl)) {
                    m = find_base(dot + 1, strlen(dot + 1));
                    if (m)
                        g = geo_prefixes[i].geo;
                    break;
                }
            }
        }
    }
    if (geo)
        *geo = g;
    return m;
}

static enum model_geo pick_geo(const struct model_info *m, const char *region, bool prefer_global)
{
    enum model_geo want = catalog_geo_for_region(region);
    if (prefer_global && (m->geos & GEO_GLOBAL))
        return GEO_GLOBAL;
    if (want != GEO_NONE && (m->geos & want))
        return want;
    if ((want == GEO_JP || want == GEO_AU) && (m->geos & GEO_APAC))
        return GEO_APAC;
    if (m->geos & GEO_GLOBAL)
        return GEO_GLOBAL;
    return GEO_NONE;
}

static bool valid_id_chars(const char *s)
{
    if (!*s || strlen(s) > 2048)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!isalnum(*p) && !strchr("._-:/+", *p))
            return false;
    return true;
}

enum brock_status catalog_resolve(const char *spec, const char *region, bool prefer_global,
                                  struct model_choice *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    static const struct {
        const char *alias;
        enum model_family family;
    } aliases[] = {{"sonnet", FAMILY_SONNET}, {"opus", FAMILY_OPUS}, {"haiku", FAMILY_HAIKU}};

    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcasecmp(spec, aliases[i].alias))
            continue;
        const struct model_info *m = NULL;
        for (size_t j = 0; j < sizeof models / sizeof models[0] && !m; j++)
            if (models[j].family == aliases[i].family && !models[j].legacy && !models[j].newer)
                m = &models[j];
        out->model = m;
        out->geo = pick_geo(m, region, prefer_global);
        if (out->geo == GEO_NONE) {
            snprintf(out->model_id, sizeof out->model_id, "%s", m->base_id);
            snprintf(out->how, sizeof out->how, "alias %s -> %s (base id: no inference profile fits %s)",
                     aliases[i].alias, m->name, region ? region : "the region");
        } else {
            snprintf(out->model_id, sizeof out->model_id, "%s.%s", catalog_geo_prefix(out->geo),
                     m->base_id);
            snprintf(out->how, sizeof out->how, "alias %s -> %s via the %s. profile for %s",
                     aliases[i].alias, m->name, catalog_geo_prefix(out->geo), region ? region : "any region");
        }
        return BROCK_OK;
    }

    if (!valid_id_chars(spec))
        return err_set(e, BROCK_ERR_USAGE,
                       "model '%.200s' is not a model id, inference profile or ARN (see brock models)", spec);
    if (strlen(spec) >= sizeof out->model_id)
        return err_set(e, BROCK_ERR_USAGE, "model id longer than %zu characters", sizeof out->model_id - 1);

    snprintf(out->model_id, sizeof out->model_id, "%s", spec);
    out->model = catalog_find(spec, &out->geo);
    if (out->model) {
        snprintf(out->how, sizeof out->how, "%s (%s)", out->model->name,
                 out->geo ? "system inference profile" : !strncmp(spec, "arn:", 4) ? "ARN" : "base model id");
        return BROCK_OK;
    }
    if (!strncmp(spec, "arn:", 4)) {
        snprintf(out->how, sizeof out->how, "ARN passed through as given");
        return BROCK_OK;
    }
    if (!strchr(spec, '.')) {
        return err_set(e, BROCK_ERR_USAGE,
                       "unknown model '%.200s': use sonnet, opus, haiku, a Bedrock model id or an "
                       "inference profile (see brock models)",
                       spec);
    }
    snprintf(out->how, sizeof out->how, "model id not in brock's catalog; passed through as given");
    return BROCK_OK;
}

struct model_prices catalog_prices(const struct model_info *m, enum model_geo geo)
{
    struct model_prices p = m->prices;
    if (m->geo_premium && geo != GEO_GLOBAL) {
        p.input *= 1.1;
        p.output *= 1.1;
        p.cache_write_5m *= 1.1;
        p.cache_write_1h *= 1.1;
        p.cache_read *= 1.1;
    }
    return p;
}

bool catalog_refuses_temperature(const struct model_info *m, double t)
{
    return m && m->newer && t != (double)MODEL_UNSET && t != 1.0;
}

static struct model_prices ceiling;
static pthread_once_t ceiling_once = PTHREAD_ONCE_INIT;

static double max2(double a, double b)
{
    return a > b ? a : b;
}

static void ceiling_build(void)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        struct model_prices p = catalog_prices(&models[i], models[i].geo_premium ? GEO_US : GEO_GLOBAL);
        ceiling.input = max2(ceiling.input, p.input);
        ceiling.output = max2(ceiling.output, p.output);
        ceiling.cache_write_5m = max2(ceiling.cache_write_5m, p.cache_write_5m);
        ceiling.cache_write_1h = max2(ceiling.cache_write_1h, p.cache_write_1h);
        ceiling.cache_read = max2(ceiling.cache_read, p.cache_read);
    }
}

struct model_prices catalog_ceiling_prices(void)
{
    pthread_once(&ceiling_once, ceiling_build);
    return ceiling;
}

struct model_prices catalog_long_prices(const struct model_info *m, struct model_prices p, int64_t prompt_tokens)
{
    if (!m || !m->long_above || prompt_tokens <= (int64_t)m->long_above)
        return p;
    p.input *= m->long_in;
    p.cache_write_5m *= m->long_in;
    p.cache_write_1h *= m->long_in;
    p.cache_read *= m->long_in;
    p.output *= m->long_out;
    return p;
}

double catalog_cost(const struct model_info *m, enum model_geo geo, int64_t input, int64_t output,
                    int64_t cache_read, int64_t cache_write, int64_t cache_write_1h, bool batch)
{
    struct model_prices p = catalog_long_prices(m, catalog_prices(m, geo), input + cache_read + cache_write);
    double f = batch ? 0.5 : 1.0;
    if (cache_write_1h > cache_write)
        cache_write_1h = cache_write;
    double usd = (double)input * p.input * f + (double)output * p.output * f +
                 (double)cache_read * p.cache_read + (double)(cache_write - cache_write_1h) * p.cache_write_5m +
                 (double)cache_write_1h * p.cache_write_1h;
    return usd / 1e6;
}
