/* catalog.h - the Claude models on Bedrock: ids, inference profiles, limits, prices.
 *
 * A static table (catalog.c) with the date its prices were taken. Lookups accept
 * every form a user or a config may give: an alias (`sonnet`, `opus`, `haiku`),
 * a base model id (`anthropic.claude-sonnet-4-6`), a system inference profile id
 * (`us.anthropic.claude-sonnet-4-6`), a foundation-model or inference-profile
 * ARN, or an application inference profile ARN (passed through untouched: its
 * model is unknown until Bedrock says). Nothing here touches the network. */
#ifndef BROCK_BEDROCK_CATALOG_H
#define BROCK_BEDROCK_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

enum model_family { FAMILY_HAIKU, FAMILY_SONNET, FAMILY_OPUS, FAMILY_FABLE };

/* Geographies of system inference profiles, as bit flags. */
enum model_geo {
    GEO_NONE = 0,
    GEO_GLOBAL = 1 << 0,
    GEO_US = 1 << 1,
    GEO_EU = 1 << 2,
    GEO_APAC = 1 << 3,
    GEO_JP = 1 << 4,
    GEO_AU = 1 << 5,
};

/* USD per million tokens. */
struct model_prices {
    double input, output;
    double cache_write_5m, cache_write_1h, cache_read; /* 0 = caching not offered */
};

struct model_info {
    const char *name;    /* "Claude Sonnet 4.6" */
    const char *base_id; /* "anthropic.claude-sonnet-4-6" */
    enum model_family family;
    unsigned geos;            /* enum model_geo flags: profiles that exist */
    bool in_region;           /* on-demand with the bare base id (older models) */
    uint32_t context_tokens;  /* context window */
    uint32_t max_output;      /* max output tokens */
    uint32_t min_cache_tokens; /* smallest cacheable prefix per checkpoint, 0 = no caching */
    bool cache_ttl_1h;        /* accepts cache_control ttl "1h" */
    bool legacy;              /* deprecated or legacy on Bedrock */
    bool geo_premium;         /* regional/geo profiles cost 10% more than global */
    struct model_prices prices; /* global / list price */
    /* Known from Anthropic's own Bedrock model table (Claude Code's), not yet
     * from AWS's model pages: found, priced, checked and translated like the
     * rest, but never what an alias picks (an account may not have it yet). */
    bool newer;
    bool always_thinks; /* refuses thinking "disabled" (the 5.5 models, Fable; Claude Code's table) */
    /* Long prompts: a call whose prompt (input + cache read + cache write
     * tokens) is over long_above is billed with every input-side price
     * (input, cache writes, cache read) times long_in and output times
     * long_out. 0 = no such rule. */
    uint32_t long_above;
    float long_in, long_out;
    /* Refuses a request whose last message is the assistant's (a prefill):
     * the 4.6 models on (Anthropic's migration guide). */
    bool no_prefill;
};

/* The whole table, newest first within each family. */
const struct model_info *catalog_models(size_t *count);
/* The date the prices and ids were last checked (YYYY-MM-DD). */
const char *catalog_price_date(void);

/* What a --model value resolved to. */
struct model_choice {
    const struct model_info *model; /* NULL for an application inference profile ARN */
    char model_id[256];             /* what goes in /model/{id}/...: profile id, base id or ARN */
    enum model_geo geo;             /* the profile geography used, GEO_NONE for base ids/ARNs */
    char how[128];                  /* "alias sonnet -> us. profile for us-west-2", for --verbose */
};

/* Resolve `spec` for `region`. Aliases pick the newest model of the family
 * that is neither legacy nor `newer`, and the profile that fits the region
 * (prefer_global: use global. when offered). Errors (BROCK_ERR_USAGE) name the value and suggest `brock models`. */
enum brock_status catalog_resolve(const char *spec, const char *region, bool prefer_global,
                                  struct model_choice *out, struct brock_err *e);

/* Find the model behind any id form (base id, profile id, foundation-model or
 * inference-profile ARN). NULL if unknown (e.g. an application profile). */
const struct model_info *catalog_find(const char *id, enum model_geo *geo);

/* An application inference profile ARN (arn:aws...:application-inference-profile/ID):
 * its model is known only to Bedrock (GetInferenceProfile). */
bool catalog_is_app_profile(const char *id);
/* The region field of an ARN (arn:PARTITION:SERVICE:REGION:...) into out;
 * "" when there is none or it does not fit. */
void catalog_arn_region(const char *arn, char *out, size_t cap);

/* The geography whose profile fits a region: us-* -> US, eu-* -> EU,
 * ap-northeast-1/3 -> JP, ap-southeast-2/4 -> AU, other ap-* -> APAC, else GLOBAL. */
enum model_geo catalog_geo_for_region(const char *region);
const char *catalog_geo_prefix(enum model_geo geo); /* "us", "global", ... */

/* Prices that apply to a call on `geo` (the 10% geo premium where it applies). */
struct model_prices catalog_prices(const struct model_info *m, enum model_geo geo);

/* Whether m refuses temperature t (MODEL_UNSET, -1, when none is asked):
 * the `newer` models (Opus 4.7 on) take no sampling parameters but the
 * default temperature 1. False for NULL (a model the catalog does not know). */
bool catalog_refuses_temperature(const struct model_info *m, double t);

/* The highest price in the catalog for each kind of token (geo premium
 * included): what a call to a model of unknown price is booked at, so that
 * budgets hold (Opus 4.1's $15 / $75 today). Worked out once; any thread. */
struct model_prices catalog_ceiling_prices(void);

/* Prices p (the model's, or an override's) as they apply to a call whose
 * prompt is prompt_tokens long: the long-prompt rule above, else p. */
struct model_prices catalog_long_prices(const struct model_info *m, struct model_prices p, int64_t prompt_tokens);

/* USD for a call's tokens (cache writes at the 5-minute price unless
 * cache_write_1h says how many were 1-hour writes). `batch` halves input and
 * output as Bedrock batch inference bills. */
double catalog_cost(const struct model_info *m, enum model_geo geo, int64_t input, int64_t output,
                    int64_t cache_read, int64_t cache_write, int64_t cache_write_1h, bool batch);

#endif
