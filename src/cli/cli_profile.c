/* cli_profile.c - the model behind an application inference profile, for
 * brock's own runs (see cli.h, cli_profile_model).
 *
 * Bedrock fixes a profile's model when the profile is made, so an answer is
 * kept for good in a small 0600 file in the data directory:
 *
 *     {"entries": {"<profile ARN>": {"model": "<catalog base id>", "time_ms": N}}}
 *
 * at most PROFILE_CACHE_MAX entries (the oldest go), written atomically.
 * Nothing in it is a secret (ARNs and model ids). A file that does not parse
 * is treated as empty and replaced. A lookup that fails is not kept: the
 * next run asks again. The lookup is one attempt with short timeouts, so a
 * network without the control plane (a VPC endpoint for bedrock-runtime
 * only) costs a run seconds, not the retry policy's minutes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent/agent.h"
#include "../agent/ledger.h"
#include "../bedrock/bedrock.h"
#include "../bedrock/catalog.h"
#include "../bedrock/pricing.h"
#include "../store/store.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "../util/timeutil.h"
#include "runtime.h"

#define PROFILE_CACHE_FILE "profiles.json"
#define PROFILE_CACHE_MAX 64
#define PROFILE_CACHE_BYTES ((size_t)64 * 1024)
#define PROFILE_CONNECT_MS 3000L
#define PROFILE_TOTAL_MS 10000L

static enum brock_status ask(struct runtime *rt, const char *arn, const struct model_info **m, struct brock_err *e)
{
    char region[64];
    catalog_arn_region(arn, region, sizeof region);
    struct aws_client_config cc = runtime_client_config(rt, region[0] ? region : NULL);
    cc.retry = NULL; /* one attempt */
    cc.http.connect_timeout_ms = PROFILE_CONNECT_MS;
    cc.http.total_timeout_ms = PROFILE_TOTAL_MS;
    struct aws_client *c = aws_client_new(&cc);
    enum brock_status st = bedrock_profile_lookup(c, arn, m, e);
    aws_client_free(c);
    return st;
}

enum brock_status cli_profile_find(struct runtime *rt, const char *dir, const char *arn, const struct model_info **m,
                                   bool *kept, struct brock_err *e)
{
    char *path = dir ? fs_join(dir, PROFILE_CACHE_FILE) : NULL;
    json_t *doc = json_entries_read(path, PROFILE_CACHE_BYTES);
    json_t *entries = json_object_get(doc, "entries");
    const char *model = json_str(json_object_get(entries, arn), "model");
    *m = model ? catalog_find(model, NULL) : NULL;
    *kept = *m != NULL;
    enum brock_status st = BROCK_OK;
    if (!*m) {
        st = ask(rt, arn, m, e);
        if (st == BROCK_OK && path) {
            json_object_set_new(entries, arn,
                                json_pack("{s:s,s:I}", "model", (*m)->base_id, "time_ms", (json_int_t)time_now_ms()));
            (void)json_entries_write(dir, path, doc, PROFILE_CACHE_MAX, NULL); /* a cache: a failure costs a lookup */
        }
    }
    json_decref(doc);
    free(path);
    return st;
}

const struct model_info *cli_profile_lookup(struct runtime *rt, const char *dir, const struct pricing *pr,
                                            const char *arn, bool verbose)
{
    const struct model_info *m = NULL;
    bool kept = false;
    struct brock_err e = {0};
    if (cli_profile_find(rt, dir, arn, &m, &kept, &e) == BROCK_OK) {
        if (verbose)
            fprintf(stderr, "brock: %s runs %s (%s); its calls are priced as it\n", arn, m->name,
                    kept ? "kept from an earlier GetInferenceProfile" : "Bedrock's GetInferenceProfile");
        return m;
    }
    struct pricing_rate rate;
    if (pr && pricing_rate(pr, arn, &rate)) { /* the prices file prices it: nothing is estimated */
        if (verbose)
            fprintf(stderr, "brock: could not learn which model %s runs: %s\n", arn, e.msg);
        return NULL;
    }
    fprintf(stderr, "brock: warning: could not learn which model %s runs (GetInferenceProfile): %s\n", arn, e.msg);
    return NULL;
}

const struct model_info *cli_profile_model(struct cli_agent *ca, const char *arn, bool verbose)
{
    const struct model_info *m =
        cli_profile_lookup(ca->rt, ca->store ? store_dir(ca->store) : NULL, cli_agent_pricing(ca), arn, verbose);
    if (m)
        ledger_set_profile_model(ca->ac ? ca->ac->ledger : NULL, arn, m);
    return m;
}
