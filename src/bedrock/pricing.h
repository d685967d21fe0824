/* pricing.h - what a model call costs, as Bedrock bills it.
 *
 * One price source with its date: the built-in catalog (catalog.h, dated by
 * catalog_price_date()), overridden model by model by the user's prices file
 * (~/.config/brock/prices.json, or the path in settings `brock.prices_file`):
 *
 *     {"date": "2026-09-01",
 *      "source": "https://aws.amazon.com/bedrock/pricing/",     (optional, free text)
 *      "batch_discount": 0.5, "regional_premium": 0.10,        (optional defaults)
 *      "models": {
 *        "anthropic.claude-sonnet-4-6": {"input": 3, "output": 15, "cache_write_5m": 3.75,
 *                                        "cache_write_1h": 6, "cache_read": 0.30,
 *                                        "batch_discount": 0.5, "regional_premium": 0.10},
 *        "us.anthropic.claude-haiku-4-5-20251001-v1:0": {"input": 1.1, "output": 5.5},
 *        "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123": {...}}}
 *
 * Prices are USD per million tokens; `batch_discount` is the fraction taken
 * off input and output for batch inference (Bedrock: 0.5); `regional_premium`
 * the fraction added for geographic (us., eu., jp., au., apac.) and in-region
 * calls over the global. profile price (the catalog's geo_premium models:
 * 0.10; others 0). A model key is a base model id, an alias (sonnet, opus,
 * haiku: the catalog's current model), a system inference profile id or any
 * ARN. Fields left out inherit the catalog's value for that model; for a
 * model the catalog does not know, `input` and `output` are required and the
 * cache prices default to Bedrock's rule (write 5m = 1.25x input, 1h = 2x,
 * read = 0.1x).
 *
 * Lookup of the id a call was made with, first hit wins:
 *   1. an override for exactly that id: its prices as written (no premium);
 *   2. an override for its base model: list prices, plus regional_premium
 *      unless the id is a global. profile;
 *   3. the catalog: catalog_prices() (the 10 % geo premium where it applies).
 * An id found nowhere (an application profile ARN without an override, a
 * model newer than the catalog) costs 0 and pricing_rate() says unknown;
 * the books (ledger.h, the gateway, batch) then price it as its profile's
 * model when Bedrock named one, else at catalog_ceiling_prices().
 *
 * Costs (pricing_cost): input x input + output x output (both x (1 -
 * batch_discount) for batch) + cache_read x cache_read + 5-minute cache
 * writes x cache_write_5m + 1-hour writes x cache_write_1h, over 1e6. The
 * split of cache writes comes from the answer's cache_creation object when
 * Bedrock gives one; otherwise every write counts as 5-minute (brock's own
 * cache points are 5-minute).
 *
 * Errors: a malformed file is BROCK_ERR_PARSE "path:line:col: reason"; a
 * well-formed file with a bad value is BROCK_ERR_CONFIG "path:line:col:
 * models.<id>.input: expected a number from 0 to 1000000". Values are never
 * quoted back, only field names.
 *
 * Ownership: a `struct pricing` owns its overrides. Threads: load once, then
 * any number of threads may look up and price (nothing is written after
 * loading). */
#ifndef BROCK_BEDROCK_PRICING_H
#define BROCK_BEDROCK_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "catalog.h"
#include "model.h"

#define PRICING_FILE_MAX ((size_t)256 * 1024) /* bytes of a prices file */
#define PRICING_MAX_MODELS 256                /* overrides in one file */
#define PRICING_ID_MAX 255                    /* length of a model key */
#define PRICING_PRICE_MAX 1000000.0           /* USD per million tokens, sanity cap */
#define PRICING_PREMIUM_MAX 10.0              /* regional_premium cap (1000 %) */
#define PRICING_FILE_NAME "prices.json"       /* in $XDG_CONFIG_HOME/brock */

struct pricing;

/* Where a rate came from. */
enum pricing_source {
    PRICING_UNKNOWN = 0, /* nothing matched: cost 0 */
    PRICING_CATALOG,     /* the built-in table */
    PRICING_OVERRIDE,    /* the user's file */
};

/* The prices that apply to one model id (premium already applied). */
struct pricing_rate {
    struct model_prices p;   /* USD per million tokens */
    double batch_discount;   /* 0..1 */
    enum pricing_source source;
    enum model_geo geo;      /* of the id; GEO_NONE for base ids and ARNs */
    const struct model_info *model; /* catalog entry when known */
};

/* The catalog alone. Never NULL. */
struct pricing *pricing_new(void);
void pricing_free(struct pricing *p); /* NULL is fine */

/* Read an override file (replacing earlier overrides). A missing file is
 * BROCK_ERR_NOT_FOUND, which callers loading the default path ignore. */
enum brock_status pricing_load_file(struct pricing *p, const char *path, struct brock_err *e) BROCK_WUR;
/* The same from text; `what` names it in messages (a path, "fuzz"). */
enum brock_status pricing_parse(struct pricing *p, const char *text, size_t len, const char *what,
                                struct brock_err *e) BROCK_WUR;

/* The default override path ($XDG_CONFIG_HOME/brock/prices.json, else
 * ~/.config/brock/prices.json), malloc'd; NULL if no home is known. */
char *pricing_default_path(void);

/* YYYY-MM-DD of the prices in use: the override file's date when one is
 * loaded, else the catalog's. And where they come from ("catalog" or the
 * file's path), borrowed. */
const char *pricing_date(const struct pricing *p);
const char *pricing_origin(const struct pricing *p);
size_t pricing_override_count(const struct pricing *p);

/* The rate for any id form (see the top). False (and a zeroed rate) when
 * the id is priced nowhere. */
bool pricing_rate(const struct pricing *p, const char *model_id, struct pricing_rate *out);

/* Cache writes split by TTL when known: `cache_write_1h` of usage's
 * cache_write_tokens were 1-hour writes (0 = all 5-minute). */
double pricing_cost(const struct pricing *p, const char *model_id, const struct model_usage *u,
                    int64_t cache_write_1h, bool batch, bool *known);
/* The same with a rate already looked up. */
double pricing_rate_cost(const struct pricing_rate *r, const struct model_usage *u, int64_t cache_write_1h,
                         bool batch);

#endif
