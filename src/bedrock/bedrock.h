/* bedrock.h - the real struct model_client: Claude on Amazon Bedrock Runtime.
 *
 *     struct bedrock_region regions[] = {{"us-west-2", NULL}, {"us-east-1", NULL}};
 *     struct bedrock_config cfg = {.settings = &settings, .regions = regions, .n_regions = 2,
 *                                  .creds = chain_source, .retry = policy,
 *                                  .http = {.cancel = &sigint_flag}};
 *     struct model_client *mc = bedrock_client_new(&cfg);
 *     model_invoke(mc, &req, &events, &result, &err);
 *     model_client_free(mc);
 *
 * One invoke() is one Bedrock call: InvokeModel, InvokeModelWithResponseStream,
 * Converse or ConverseStream by req->api and req->stream, on
 * POST /model/{modelId}/{invoke|invoke-with-response-stream|converse|converse-stream}
 * with the model id percent-encoded as one path segment. Every HTTP exchange
 * goes through aws_client_send (endpoint, SigV4 or the Bedrock API key,
 * retries before the first streamed byte, AWS error parsing).
 *
 * Retries and failover, in this order:
 *  1. HTTP errors are retried by the aws client under the retry policy.
 *  2. A stream that fails before any content reached the callbacks (an
 *     exception frame, a garbled or truncated stream) is retried here under
 *     the same policy (retry_classify / retry_decide; the attempts already
 *     made in the region count), with ev->on_retry told why. The aws client
 *     starts a fresh token for each send, so a mix of broken streams and
 *     HTTP errors may take up to about twice max_attempts in one region.
 *  3. A call that still fails with throttling or a 5xx moves to the next
 *     region of the list (a client per region, made when first needed and
 *     kept), after ev->on_retry("ThrottlingException in us-west-2 after 3
 *     attempts; trying us-east-1"). Inference-profile ids only work from
 *     their own geography: choosing the regions is the caller's job.
 *  Once content has reached the callbacks nothing is retried or repeated:
 *  the error comes back with out->partial = true and the content so far.
 *
 * Errors a person can act on: AccessDenied names the model, the region and
 * the fix (model access, IAM); "on-demand throughput isn't supported" names
 * the inference profile to use; an invalid or unknown model id points at
 * `brock models`. The AWS code, HTTP status and request id stay in the error.
 *
 * CountTokens: POST /model/{base model id}/count-tokens (profile ids are
 * mapped to their base model through the catalog); when the API is not
 * available (AccessDenied, ResourceNotFound, a "not supported" validation
 * error, network trouble) the local estimate of bedrock_wire.h is returned
 * with *estimated = true.
 *
 * Results: invoke() wants `out` initialised (model_result_init) and resets it
 * first; it records the serving region, the model id, the HTTP attempts of
 * all regions, the latency and time to first content (from the start of
 * invoke), and the request id of the last answer.
 *
 * Ownership: the config's strings are copied; settings, creds, retry policy,
 * lookup, clock and the cancel flag are borrowed and must outlive the client.
 * Threads: a client is used by one thread at a time (it holds HTTP clients);
 * make one per thread. The cancel flag (http.cancel) stops a call, its retry
 * sleeps and its stream with BROCK_ERR_INTERRUPTED. */
#ifndef BROCK_BEDROCK_H
#define BROCK_BEDROCK_H

#include <stddef.h>

#include "../aws/client.h"
#include "../aws/settings.h"
#include "model.h"

#define BEDROCK_MAX_REGIONS 8

struct bedrock_region {
    const char *region;       /* "us-west-2" */
    const char *endpoint_url; /* this region's endpoint (VPC endpoint, emulator); NULL = the config's */
};

struct bedrock_config {
    /* Region, endpoint lookup (env + profile), CA bundle and Bedrock API key
     * of the run. May be NULL: environment only, default region. */
    const struct aws_settings *settings;
    /* Regions to use, primary first (at most BEDROCK_MAX_REGIONS). None =
     * the settings' region, or ENDPOINT_DEFAULT_REGION. */
    const struct bedrock_region *regions;
    size_t n_regions;
    struct aws_creds_source creds; /* get may be NULL with a bearer token */
    const char *bearer_token;      /* NULL = settings->bearer_token */
    struct retry_policy *retry;    /* NULL = no retries */
    struct http_options http;      /* timeouts, cancel flag; ca_bundle NULL = the settings' */
    /* Explicit endpoint (--endpoint-url): applies to bedrock-runtime and bedrock. */
    const char *endpoint_url;
    const struct endpoint_lookup *lookup; /* NULL = the settings' lookup (or the environment) */
    const struct clock *clock;            /* NULL = real time */
};

/* Never returns NULL. Free with model_client_free(). */
struct model_client *bedrock_client_new(const struct bedrock_config *cfg);

struct model_info;

/* Application inference profiles: only Bedrock knows the model behind one.
 * From a GetInferenceProfile answer (a body, or its parsed JSON), the model
 * of the first of its `models` whose modelArn the catalog knows; NULL when
 * none fits or the body is not that JSON. */
const struct model_info *bedrock_profile_model(const char *body, size_t len);
const struct model_info *bedrock_profile_model_json(const json_t *answer);
/* Ask (GET /inference-profiles/{arn} on the bedrock control plane, under c's
 * retries) and find the model in the catalog. BROCK_ERR_NOT_FOUND when the
 * answer names no model the catalog knows; AWS's error otherwise. */
enum brock_status bedrock_profile_lookup(struct aws_client *c, const char *arn, const struct model_info **model,
                                         struct brock_err *e) BROCK_WUR;

#endif
