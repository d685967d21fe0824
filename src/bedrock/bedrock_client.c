/* bedrock_client.c - struct model_client on Bedrock Runtime: one call with its
 * stream retries, region failover and errors a person can act on. See
 * bedrock.h. */
#include "bedrock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"
#include "../util/timeutil.h"
#include "bedrock_int.h"
#include "bedrock_wire.h"
#include "catalog.h"

struct region_slot {
    char *region;
    char *endpoint_url; /* NULL = the client's */
    struct aws_client *client;
};

struct bedrock_client {
    struct model_client mc;
    struct region_slot regions[BEDROCK_MAX_REGIONS];
    size_t n_regions;
    const struct endpoint_lookup *lookup;
    struct aws_creds_source creds;
    char *bearer_token;
    char *endpoint_url;
    struct retry_policy *retry;
    struct http_options http;
    char *ca_bundle, *ua_extra; /* owned copies behind http's pointers */
    const struct clock *clock;
};

/* ---- regions ----------------------------------------------------------------------- */

struct aws_client *bedrock_region_client(struct bedrock_client *c, size_t i)
{
    struct region_slot *r = &c->regions[i];
    if (!r->client) {
        struct aws_client_config cfg = {
            .region = r->region,
            .lookup = c->lookup,
            .endpoint_url = r->endpoint_url ? r->endpoint_url : c->endpoint_url,
            .endpoint_url_services = (1u << ENDPOINT_SVC_BEDROCK_RUNTIME) | (1u << ENDPOINT_SVC_BEDROCK),
            .creds = c->creds,
            .bearer_token = c->bearer_token,
            .retry = c->retry,
            .http = c->http,
            .clock = c->clock,
        };
        r->client = aws_client_new(&cfg);
    }
    return r->client;
}

const char *bedrock_region_name(const struct bedrock_client *c, size_t i)
{
    return c->regions[i].region;
}

enum brock_status bedrock_model_path(const char *model_id, const char *op, struct buf *out, struct brock_err *e)
{
    buf_addstr(out, "/model/");
    uri_encode(out, model_id, strlen(model_id), false);
    buf_addf(out, "/%s", op);
    if (buf_status(out) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "model id too long for a request path");
    return BROCK_OK;
}

/* ---- one call ------------------------------------------------------------------------ */

struct call {
    struct bedrock_client *c;
    const struct model_request *req;
    const struct model_events *ev;
    struct model_result *out;
    struct aws_request areq;
    struct bedrock_stream *stream; /* NULL for InvokeModel / Converse */
    const char *op;                /* "InvokeModel", ... for messages */
    int attempts;
    bool head_failed;
    struct brock_err head_err;
};

static enum brock_status stream_body(void *ctx, const char *p, size_t n)
{
    struct call *k = ctx;
    return bedrock_stream_feed(k->stream, p, n, NULL);
}

static enum brock_status stream_head(void *ctx, const struct http_response *r)
{
    struct call *k = ctx;
    if (r->status < 200 || r->status > 299)
        return BROCK_OK; /* an error answer: awserr reads it */
    bedrock_stream_set_request_id(k->stream, http_headers_get(&r->headers, "x-amzn-RequestId"));
    const char *ct = http_headers_get(&r->headers, "content-type");
    if (ct && strncasecmp(ct, "application/vnd.amazon.eventstream", 34) != 0) {
        char clean[96];
        bedrock_copy_clean(clean, sizeof clean, ct, strlen(ct));
        k->head_failed = true;
        return err_set(&k->head_err, BROCK_ERR_PARSE,
                       "%s answered HTTP %ld with Content-Type '%s' instead of an event stream", k->op, r->status,
                       clean);
    }
    return BROCK_OK;
}

static void note(const struct call *k, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void note(const struct call *k, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_info("%s", line);
    if (k->ev && k->ev->on_retry)
        k->ev->on_retry(k->ev->ctx, line);
}

static bool cancelled(const struct bedrock_client *c)
{
    return c->http.cancel && *c->http.cancel;
}

static bool sleep_cancellable(struct bedrock_client *c, int64_t ms)
{
    while (ms > 0) {
        if (cancelled(c))
            return false;
        int64_t step = ms > 50 ? 50 : ms;
        clock_sleep_ms(c->clock, step);
        ms -= step;
    }
    return !cancelled(c);
}

static bool worth_failover(enum brock_status st, const struct brock_err *e)
{
    return st == BROCK_ERR_THROTTLED || (st == BROCK_ERR_AWS && e->http_status >= 500 && e->http_status <= 599);
}

static const char *what_failed(enum brock_status st, const struct brock_err *e, char *tmp, size_t n)
{
    if (e->aws_code[0])
        return e->aws_code;
    if (e->http_status)
        snprintf(tmp, n, "HTTP %d", e->http_status);
    else
        snprintf(tmp, n, "%s error", brock_status_name(st));
    return tmp;
}

/* One region: send, and retry a stream that failed before any content.
 * *failover says whether the next region may help. */
static enum brock_status call_region(struct call *k, size_t ri, bool *failover, struct brock_err *e)
{
    struct bedrock_client *c = k->c;
    struct aws_client *ac = bedrock_region_client(c, ri);
    struct retry_token tok = RETRY_TOKEN_INIT;
    int region_attempts = 0;
    *failover = false;
    for (;;) {
        if (k->stream)
            bedrock_stream_reset(k->stream);
        k->head_failed = false;
        struct aws_response r;
        aws_response_init(&r);
        enum brock_status st = aws_client_send(ac, &k->areq, &r, e);
        region_attempts += r.attempts;
        k->attempts += r.attempts;
        snprintf(k->out->request_id, sizeof k->out->request_id, "%s", r.request_id);
        bool got_2xx = r.http.status >= 200 && r.http.status <= 299;

        if (!k->stream) {
            if (st == BROCK_OK) {
                const char *body = buf_cstr(&r.http.body);
                st = k->req->api == MODEL_API_CONVERSE
                         ? bedrock_parse_converse_answer(body, r.http.body.len, k->out, e)
                         : bedrock_parse_invoke_answer(body, r.http.body.len, k->out, e);
                if (st != BROCK_OK)
                    snprintf(e->request_id, sizeof e->request_id, "%s", r.request_id);
            } else {
                *failover = worth_failover(st, e);
            }
            aws_response_free(&r);
            return st;
        }
        aws_response_free(&r);

        if (k->head_failed) {
            *e = k->head_err;
            return k->head_err.status;
        }
        if (st == BROCK_OK)
            st = bedrock_stream_finish(k->stream, e);
        else if (got_2xx && st != BROCK_ERR_INTERRUPTED)
            st = bedrock_stream_finish(k->stream, e); /* the stream's own error, or where it was cut */
        if (st == BROCK_OK || st == BROCK_ERR_INTERRUPTED)
            return st;
        if (bedrock_stream_started(k->stream))
            return st; /* output was shown: never repeat it */
        if (!got_2xx) {
            *failover = worth_failover(st, e); /* the aws client has retried already */
            return st;
        }
        /* The stream failed before any content: retry it as the aws client
         * would an HTTP error, within the same attempt budget. */
        if (!c->retry) {
            *failover = worth_failover(st, e);
            return st;
        }
        struct retry_class cls;
        bool net = st == BROCK_ERR_NETWORK || st == BROCK_ERR_PARSE;
        retry_classify(net ? 0 : e->http_status, e->aws_code[0] ? e->aws_code : NULL, net, false, &cls);
        tok.attempts = region_attempts - 1;
        int64_t delay = 0;
        enum retry_decision d = retry_decide(c->retry, &tok, &cls, -1, &delay);
        if (d != RETRY_AGAIN) {
            if (region_attempts > 1 && d != RETRY_STOP_NOT_RETRYABLE)
                err_prefix(e, "giving up after %d attempts (%s)", region_attempts, retry_decision_name(d));
            *failover = worth_failover(st, e);
            return st;
        }
        char tmp[48];
        note(k, "%s in %s before any output (attempt %d); retrying in %lld ms", what_failed(st, e, tmp, sizeof tmp),
             bedrock_region_name(c, ri), region_attempts, (long long)delay);
        if (!sleep_cancellable(c, delay))
            return err_set(e, BROCK_ERR_INTERRUPTED, "interrupted while waiting to retry %s", k->op);
    }
}

/* ---- errors a person can act on ---------------------------------------------------------- */

/* Remove `what` (n bytes) from the message wherever it appears. */
static void cut_all(char *msg, const char *what, size_t n, const char *with)
{
    char *p;
    size_t wl = strlen(with);
    while (n > 0 && (p = strstr(msg, what))) {
        size_t tail = strlen(p + n) + 1;
        if (wl <= n) {
            memcpy(p, with, wl);
            memmove(p + wl, p + n, tail);
        } else {
            memmove(p, p + n, tail); /* never grow the message */
        }
    }
}

void bedrock_scrub(const struct bedrock_client *c, struct brock_err *e)
{
    /* AWS does not echo API keys, but a proxy or a future message might:
     * the exact key, and anything shaped like a short-term key, go. */
    if (c->bearer_token)
        cut_all(e->msg, c->bearer_token, strlen(c->bearer_token), "[redacted]");
    static const char prefix[] = "bedrock-api-key-";
    char *p = e->msg;
    while ((p = strstr(p, prefix))) {
        char *q = p + sizeof prefix - 1, *end = q;
        while (*end && (uri_unreserved((unsigned char)*end) || strchr("+/=%", *end)))
            end++;
        size_t keep = (size_t)(end - q) >= 10 ? 10 : 0; /* never grow the message */
        memcpy(q, "[redacted]", keep);
        memmove(q + keep, end, strlen(end) + 1);
        p = q + keep;
    }
}

static void add_hint(struct brock_err *e, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void add_hint(struct brock_err *e, const char *fmt, ...)
{
    char hint[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hint, sizeof hint, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t ol = strlen(old);
    bool stop = ol && (old[ol - 1] == '.' || old[ol - 1] == '!' || old[ol - 1] == '?');
    int n = snprintf(e->msg, sizeof e->msg, "%s%s %s", old, stop ? "" : ".", hint);
    if (n >= 0 && (size_t)n >= sizeof e->msg)
        memcpy(e->msg + sizeof e->msg - 4, "...", 4);
}

static void explain(const struct model_request *req, const char *region, struct brock_err *e)
{
    const char *id = req->model_id;
    if (!strcmp(e->aws_code, "AccessDeniedException")) {
        add_hint(e,
                 "Model %s in %s: enable access to this model in the Bedrock console (Model access) for %s, "
                 "or check the IAM policy allows %s on the inference profile and the foundation model",
                 id, region, region, req->stream ? "bedrock:InvokeModelWithResponseStream" : "bedrock:InvokeModel");
    } else if (strstr(e->msg, "on-demand throughput")) {
        enum model_geo g;
        const struct model_info *m = catalog_find(id, &g);
        enum model_geo want = catalog_geo_for_region(region);
        if (m && want != GEO_NONE && (m->geos & want))
            add_hint(e, "Use the inference profile id %s.%s in %s (see brock models)", catalog_geo_prefix(want),
                     m->base_id, region);
        else if (m && (m->geos & GEO_GLOBAL))
            add_hint(e, "Use the inference profile id global.%s (see brock models)", m->base_id);
        else
            add_hint(e, "Model %s needs an inference profile id (e.g. us.%s); see brock models", id, id);
    } else if (strstr(e->msg, "model identifier is invalid")) {
        add_hint(e, "Model id '%s' is not valid in %s; run `brock models` to see the ids you can use", id, region);
    } else if (!strcmp(e->aws_code, "ResourceNotFoundException")) {
        add_hint(e, "Model %s was not found in %s; check the id and the region, or run `brock models`", id, region);
    }
}

/* ---- invoke ----------------------------------------------------------------------------- */

static const char *op_name(const struct model_request *req)
{
    if (req->api == MODEL_API_CONVERSE)
        return req->stream ? "ConverseStream" : "Converse";
    return req->stream ? "InvokeModelWithResponseStream" : "InvokeModel";
}

static const char *op_path(const struct model_request *req)
{
    if (req->api == MODEL_API_CONVERSE)
        return req->stream ? "converse-stream" : "converse";
    return req->stream ? "invoke-with-response-stream" : "invoke";
}

static enum brock_status bc_invoke(struct model_client *mc, const struct model_request *req,
                                   const struct model_events *ev, struct model_result *out, struct brock_err *e)
{
    struct bedrock_client *c = mc->impl;
    struct brock_err local;
    if (!e)
        e = &local;
    err_clear(e);
    model_result_cleanup(out);
    model_result_init(out);
    if (!req->model_id || !*req->model_id)
        return err_set(e, BROCK_ERR_USAGE, "no model id given");
    if (strlen(req->model_id) >= sizeof out->model_id)
        return err_set(e, BROCK_ERR_USAGE, "model id longer than %zu characters", sizeof out->model_id - 1);
    snprintf(out->model_id, sizeof out->model_id, "%s", req->model_id);

    struct buf body = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
    struct buf path = BUF_INIT(8192);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct call k = {.c = c, .req = req, .ev = ev, .out = out, .op = op_name(req)};
    enum brock_status st = req->api == MODEL_API_CONVERSE ? bedrock_converse_body(req, &body, e)
                                                           : bedrock_invoke_body(req, &body, e);
    if (st == BROCK_OK)
        st = bedrock_model_path(req->model_id, op_path(req), &path, e);
    if (st == BROCK_OK)
        st = http_headers_add(&h, "Content-Type", "application/json", e);
    if (st == BROCK_OK && req->api == MODEL_API_MESSAGES)
        st = http_headers_add(&h, req->stream ? "X-Amzn-Bedrock-Accept" : "Accept", "application/json", e);
    if (st != BROCK_OK)
        goto done;

    k.areq = (struct aws_request){
        .service = ENDPOINT_SVC_BEDROCK_RUNTIME,
        .method = "POST",
        .path = buf_cstr(&path),
        .headers = &h,
        .body = body.ptr,
        .body_len = body.len,
        .protocol = AWSERR_REST_JSON,
    };
    if (req->stream) {
        k.stream = bedrock_stream_new(req->api == MODEL_API_CONVERSE ? BEDROCK_STREAM_CONVERSE : BEDROCK_STREAM_INVOKE,
                                      ev);
        k.areq.on_body = stream_body;
        k.areq.on_head = stream_head;
        k.areq.ctx = &k;
    }

    int64_t t0 = time_mono_ns();
    size_t ri = 0;
    for (;;) {
        bool failover = false;
        int before = k.attempts;
        st = call_region(&k, ri, &failover, e);
        snprintf(out->region, sizeof out->region, "%s", bedrock_region_name(c, ri));
        if (st == BROCK_OK || !failover || ri + 1 >= c->n_regions || cancelled(c))
            break;
        char tmp[48];
        note(&k, "%s in %s after %d attempt%s; trying %s", what_failed(st, e, tmp, sizeof tmp),
             bedrock_region_name(c, ri), k.attempts - before, k.attempts - before == 1 ? "" : "s",
             bedrock_region_name(c, ri + 1));
        ri++;
    }
    int64_t t1 = time_mono_ns();
    out->attempts = k.attempts;
    out->latency_ms = (double)(t1 - t0) / 1e6;
    if (k.stream) {
        bedrock_stream_result(k.stream, out);
        int64_t first = bedrock_stream_first_content_ns(k.stream);
        out->ttft_ms = first ? (double)(first - t0) / 1e6 : 0;
        out->partial = st != BROCK_OK && bedrock_stream_started(k.stream);
        bedrock_stream_free(k.stream);
    } else {
        out->ttft_ms = st == BROCK_OK ? out->latency_ms : 0;
    }
    if (st != BROCK_OK) {
        if (!e->request_id[0])
            snprintf(e->request_id, sizeof e->request_id, "%s", out->request_id);
        if (st == BROCK_ERR_AUTH || st == BROCK_ERR_AWS)
            explain(req, out->region, e);
        if (out->partial)
            err_prefix(e, "%s cut short after output began (what arrived is kept)", k.op);
        bedrock_scrub(c, e);
    }
done:
    http_headers_cleanup(&h);
    buf_free(&path);
    buf_free(&body);
    return st;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static void bc_free(struct model_client *mc)
{
    struct bedrock_client *c = mc->impl;
    for (size_t i = 0; i < c->n_regions; i++) {
        aws_client_free(c->regions[i].client);
        free(c->regions[i].region);
        free(c->regions[i].endpoint_url);
    }
    xfree_secret(c->bearer_token);
    free(c->endpoint_url);
    free(c->ca_bundle);
    free(c->ua_extra);
    free(c);
}

static const struct model_client_vtable bedrock_vtable = {
    .invoke = bc_invoke,
    .count_tokens = bedrock_count_tokens,
    .free = bc_free,
};

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

struct model_client *bedrock_client_new(const struct bedrock_config *cfg)
{
    struct bedrock_client *c = xcalloc(1, sizeof *c);
    const struct aws_settings *st = cfg->settings;
    c->mc.vtable = &bedrock_vtable;
    c->mc.impl = c;
    size_t n = cfg->n_regions < BEDROCK_MAX_REGIONS ? cfg->n_regions : BEDROCK_MAX_REGIONS;
    for (size_t i = 0; i < n; i++) {
        c->regions[i].region = xstrdup(cfg->regions[i].region ? cfg->regions[i].region : ENDPOINT_DEFAULT_REGION);
        c->regions[i].endpoint_url = dup_or_null(cfg->regions[i].endpoint_url);
    }
    if (n == 0) {
        c->regions[0].region =
            xstrdup(st && st->region.region[0] ? st->region.region : ENDPOINT_DEFAULT_REGION);
        n = 1;
    }
    c->n_regions = n;
    c->lookup = cfg->lookup ? cfg->lookup : st ? &st->lookup : NULL;
    c->creds = cfg->creds;
    c->bearer_token = dup_or_null(cfg->bearer_token ? cfg->bearer_token : st ? st->bearer_token : NULL);
    c->endpoint_url = dup_or_null(cfg->endpoint_url);
    c->retry = cfg->retry;
    c->http = cfg->http;
    c->ca_bundle = dup_or_null(cfg->http.ca_bundle ? cfg->http.ca_bundle : st ? st->ca_bundle : NULL);
    c->ua_extra = dup_or_null(cfg->http.user_agent_extra);
    c->http.ca_bundle = c->ca_bundle;
    c->http.user_agent_extra = c->ua_extra;
    c->clock = cfg->clock;
    return &c->mc;
}
