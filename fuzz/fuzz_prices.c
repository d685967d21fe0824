/* fuzz_prices.c - the prices override file (pricing_parse) on arbitrary
 * bytes, then lookups and costs with what it accepted.
 *
 * Invariants (traps on failure):
 *   - errors are parse, config or too-large, and name the file first;
 *   - a failed parse leaves the earlier prices (here: the catalog) in force;
 *   - every accepted rate is finite and >= 0, and so is every cost. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/bedrock/pricing.h"

#include "fuzz.h"

static const char *const ids[] = {
    "global.anthropic.claude-sonnet-4-6",
    "us.anthropic.claude-sonnet-4-6",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "eu.anthropic.claude-opus-4-6-v1",
    "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123xyz789",
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-opus-9",
    "x",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pricing *p = pricing_new();
    struct brock_err e = {0};
    enum brock_status st = pricing_parse(p, (const char *)data, size, "fuzz.json", &e);
    if (st != BROCK_OK) {
        CHECK(st == BROCK_ERR_PARSE || st == BROCK_ERR_CONFIG || st == BROCK_ERR_TOO_LARGE);
        CHECK(!strncmp(e.msg, "fuzz.json", 9));
        CHECK(pricing_override_count(p) == 0);
        CHECK(!strcmp(pricing_origin(p), "catalog"));
    } else {
        CHECK(strlen(pricing_date(p)) == 10);
    }
    struct model_usage u = {123456, 7890, 1000000, 50000};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct pricing_rate r;
        if (pricing_rate(p, ids[i], &r)) {
            CHECK(isfinite(r.p.input) && r.p.input >= 0 && isfinite(r.p.output) && r.p.output >= 0);
            CHECK(isfinite(r.p.cache_read) && r.p.cache_read >= 0);
            CHECK(r.batch_discount >= 0 && r.batch_discount <= 1);
        }
        bool known;
        double c = pricing_cost(p, ids[i], &u, 20000, (i & 1) != 0, &known);
        CHECK(isfinite(c) && c >= 0);
    }
    pricing_free(p);
    return 0;
}
