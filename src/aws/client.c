/* client.c - see client.h. The pipeline per attempt is: endpoint, headers,
 * auth, send, then classify and decide. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/log.h"
#include "sigv4.h"

struct aws_client {
    char *region;
    const struct endpoint_lookup *lookup;
    char *endpoint_url;
    unsigned endpoint_url_services;
    char *endpoint_label;
    struct aws_creds_source creds;
    char *bearer_token;
    struct retry_policy *retry;
    const struct clock *clock;
    volatile sig_atomic_t *cancel;
    struct http_client *http;
    struct sigv4_signer *signer;
    struct endpoint *eps[ENDPOINT_SVC_COUNT];
    int64_t skew_ms;
};

/* ---- static credentials source --------------------------------------------- */

static enum brock_status static_get(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    (void)e;
    *out = aws_credentials_acquire(ctx);
    return BROCK_OK;
}

struct aws_creds_source aws_creds_source_static(struct aws_credentials *creds)
{
    return (struct aws_creds_source){.get = static_get, .invalidate = NULL, .ctx = creds};
}

/* ---- life cycle -------------------------------------------------------------- */

struct aws_client *aws_client_new(const struct aws_client_config *cfg)
{
    struct aws_client *c = xcalloc(1, sizeof *c);
    c->region = xstrdup(cfg->region ? cfg->region : ENDPOINT_DEFAULT_REGION);
    c->lookup = cfg->lookup;
    c->endpoint_url = cfg->endpoint_url && *cfg->endpoint_url ? xstrdup(cfg->endpoint_url) : NULL;
    c->endpoint_url_services = cfg->endpoint_url_services;
    c->endpoint_label = xstrdup(cfg->endpoint_label ? cfg->endpoint_label : "--endpoint-url");
    c->creds = cfg->creds;
    c->bearer_token = cfg->bearer_token && *cfg->bearer_token ? xstrdup(cfg->bearer_token) : NULL;
    c->retry = cfg->retry;
    c->clock = cfg->clock;
    c->cancel = cfg->http.cancel;
    c->http = http_client_new(&cfg->http);
    c->signer = sigv4_signer_new();
    return c;
}

void aws_client_free(struct aws_client *c)
{
    if (!c)
        return;
    for (int i = 0; i < ENDPOINT_SVC_COUNT; i++)
        free(c->eps[i]);
    http_client_free(c->http);
    sigv4_signer_free(c->signer);
    xfree_secret(c->bearer_token);
    free(c->endpoint_url);
    free(c->endpoint_label);
    free(c->region);
    free(c);
}

int64_t aws_client_skew_ms(const struct aws_client *c)
{
    return c->skew_ms;
}

void aws_response_init(struct aws_response *r)
{
    memset(r, 0, sizeof *r);
    http_response_init(&r->http);
    r->auth = "none";
}

void aws_response_free(struct aws_response *r)
{
    http_response_free(&r->http);
}

enum brock_status aws_client_endpoint(struct aws_client *c, enum endpoint_service svc,
                                      const struct endpoint **out, struct brock_err *e)
{
    if ((unsigned)svc >= ENDPOINT_SVC_COUNT)
        return err_set(e, BROCK_ERR_USAGE, "unknown service %d", (int)svc);
    if (!c->eps[svc]) {
        bool explicit_applies =
            c->endpoint_url && (c->endpoint_url_services == 0 || (c->endpoint_url_services & (1u << svc)));
        struct endpoint_request req = {
            .service = svc,
            .region = c->region,
            .endpoint_url = explicit_applies ? c->endpoint_url : NULL,
            .explicit_label = c->endpoint_label,
        };
        struct endpoint *ep = xcalloc(1, sizeof *ep);
        enum brock_status st = endpoint_resolve(&req, c->lookup, ep, e);
        if (st != BROCK_OK) {
            free(ep);
            return st;
        }
        c->eps[svc] = ep;
    }
    *out = c->eps[svc];
    return BROCK_OK;
}

/* ---- one attempt ------------------------------------------------------------- */

struct body_tap {
    http_body_fn *fn;
    http_head_fn *head;
    void *ctx;
    uint64_t delivered;
};

static enum brock_status tap_body(void *ctx, const char *p, size_t n)
{
    struct body_tap *t = ctx;
    t->delivered += n;
    return t->fn(t->ctx, p, n);
}

static enum brock_status tap_head(void *ctx, const struct http_response *r)
{
    struct body_tap *t = ctx;
    return t->head ? t->head(t->ctx, r) : BROCK_OK;
}

static bool is_bedrock(enum endpoint_service svc)
{
    return svc == ENDPOINT_SVC_BEDROCK_RUNTIME || svc == ENDPOINT_SVC_BEDROCK;
}

/* Build the headers of one attempt and authorise them. */
static enum brock_status prepare(struct aws_client *c, const struct aws_request *req,
                                 const struct endpoint *ep, struct http_headers *h, const char **auth,
                                 struct brock_err *e)
{
    enum brock_status st = BROCK_OK;
    http_headers_reset(h);
    if (req->headers) {
        for (size_t i = 0; i < http_headers_count(req->headers) && st == BROCK_OK; i++)
            st = http_headers_add(h, http_headers_name(req->headers, i), http_headers_value(req->headers, i), e);
        if (st != BROCK_OK)
            return st;
    }
    if (!http_headers_get(h, "host")) {
        st = http_headers_add(h, "Host", ep->authority, e);
        if (st != BROCK_OK)
            return st;
    }

    bool bearer = req->auth == AWS_AUTH_DEFAULT && c->bearer_token && is_bedrock(req->service);
    if (req->auth == AWS_AUTH_NONE) {
        *auth = "none";
        return BROCK_OK;
    }
    if (bearer) {
        *auth = "bearer";
        size_t n = strlen(c->bearer_token) + 8;
        char *v = xmalloc(n);
        snprintf(v, n, "Bearer %s", c->bearer_token);
        st = http_headers_set(h, "Authorization", v, e);
        secure_wipe(v, n);
        free(v);
        return st;
    }

    *auth = "sigv4";
    if (!c->creds.get)
        return err_set(e, BROCK_ERR_CREDENTIALS, "no AWS credentials configured for a signed request");
    struct aws_credentials *creds = NULL;
    st = c->creds.get(c->creds.ctx, &creds, e);
    if (st != BROCK_OK)
        return st;

    size_t nh = http_headers_count(h);
    if (nh > SIGV4_MAX_HEADERS) {
        aws_credentials_release(creds);
        return err_set(e, BROCK_ERR_TOO_LARGE, "too many headers to sign (%zu)", nh);
    }
    struct sigv4_header sh[SIGV4_MAX_HEADERS];
    for (size_t i = 0; i < nh; i++) {
        const char *n = http_headers_name(h, i), *v = http_headers_value(h, i);
        sh[i] = (struct sigv4_header){n, strlen(n), v, strlen(v)};
    }
    /* the path as it goes on the wire: the endpoint's base path, then ours */
    char path[ENDPOINT_PATH_MAX + SIGV4_MAX_PATH];
    int pl = snprintf(path, sizeof path, "%s%s", ep->base_path, req->path);
    if (pl < 0 || (size_t)pl >= sizeof path) {
        aws_credentials_release(creds);
        return err_set(e, BROCK_ERR_TOO_LARGE, "request path too long");
    }
    struct sigv4_request sreq = {
        .method = req->method ? req->method : "GET",
        .path = path,
        .path_len = (size_t)pl,
        .query = req->query,
        .query_len = req->query ? strlen(req->query) : 0,
        .headers = sh,
        .n_headers = nh,
        .body = req->body,
        .body_len = req->body_len,
    };
    bool s3 = req->service == ENDPOINT_SVC_S3;
    struct sigv4_params sp = {
        .creds = creds,
        .region = ep->signing_region[0] ? ep->signing_region : c->region,
        .service = ep->signing_name,
        .time_s = (clock_now_ms(c->clock) + c->skew_ms) / 1000,
        .no_normalize_path = s3,
        .no_double_encode = s3,
        .add_content_sha256 = s3,
    };
    const struct sigv4_output *so = NULL;
    st = sigv4_sign_headers(c->signer, &sreq, &sp, &so, e);
    aws_credentials_release(creds);
    if (st != BROCK_OK)
        return st;
    /* copy the outputs first: the header pointers above point into h */
    struct {
        char name[64];
        char *value;
    } add[SIGV4_MAX_ADDED];
    size_t nadd = so->n_headers;
    for (size_t i = 0; i < nadd; i++) {
        size_t nl = so->headers[i].name_len < sizeof add[i].name - 1 ? so->headers[i].name_len : sizeof add[i].name - 1;
        memcpy(add[i].name, so->headers[i].name, nl);
        add[i].name[nl] = '\0';
        add[i].value = xmemdup(so->headers[i].value, so->headers[i].value_len);
    }
    for (size_t i = 0; i < nadd; i++) {
        if (st == BROCK_OK)
            st = http_headers_set(h, add[i].name, add[i].value, e);
        xfree_secret(add[i].value);
    }
    return st;
}

static bool is_skew_error(const struct brock_err *e)
{
    if (!strcmp(e->aws_code, "RequestTimeTooSkewed") || !strcmp(e->aws_code, "RequestExpired") ||
        !strcmp(e->aws_code, "RequestInTheFuture"))
        return true;
    return !strcmp(e->aws_code, "InvalidSignatureException") && strstr(e->msg, "Signature expired");
}

static bool sleep_cancellable(struct aws_client *c, int64_t ms)
{
    while (ms > 0) {
        if (c->cancel && *c->cancel)
            return false;
        int64_t step = ms > 50 ? 50 : ms;
        clock_sleep_ms(c->clock, step);
        ms -= step;
    }
    return !(c->cancel && *c->cancel);
}

enum brock_status aws_client_send(struct aws_client *c, const struct aws_request *req,
                                  struct aws_response *out, struct brock_err *e)
{
    struct brock_err local;
    if (!e)
        e = &local;
    const struct endpoint *ep;
    int64_t t0 = time_mono_ns();
    enum brock_status st = aws_client_endpoint(c, req->service, &ep, e);
    if (st != BROCK_OK)
        return st;
    snprintf(out->endpoint_url, sizeof out->endpoint_url, "%s", ep->url);
    snprintf(out->endpoint_source, sizeof out->endpoint_source, "%s", ep->source);

    struct buf url = BUF_INIT(ENDPOINT_URL_MAX + SIGV4_MAX_PATH + SIGV4_MAX_QUERY);
    endpoint_build_url(ep, req->path, &url);
    if (req->query && *req->query) {
        buf_addc(&url, '?');
        buf_addstr(&url, req->query);
    }
    if (buf_status(&url) != BROCK_OK) {
        buf_free(&url);
        return err_set(e, BROCK_ERR_TOO_LARGE, "request URL too long");
    }

    struct http_headers h = HTTP_HEADERS_INIT;
    struct body_tap tap = {req->on_body, req->on_head, req->ctx, 0};
    struct retry_token tok = RETRY_TOKEN_INIT;
    bool refreshed = false, skew_fixed = false;
    const char *method = req->method ? req->method : "GET";

    for (;;) {
        if (c->retry)
            retry_acquire_send_token(c->retry);
        out->attempts++;
        err_clear(e);
        st = prepare(c, req, ep, &h, &out->auth, e);
        if (st != BROCK_OK)
            break;
        struct http_request hr = {
            .method = method,
            .url = buf_cstr(&url),
            .headers = &h,
            .body = req->body,
            .body_len = req->body_len,
            .total_timeout_ms = req->total_timeout_ms,
            .idle_timeout_ms = req->idle_timeout_ms,
            .max_body = req->max_body,
            .on_body = req->on_body ? tap_body : NULL,
            .on_head = req->on_body || req->on_head ? tap_head : NULL,
            .ctx = &tap,
        };
        st = http_send(c->http, &hr, &out->http, e);
        const char *rid = http_headers_get(&out->http.headers, "x-amzn-RequestId");
        if (!rid)
            rid = http_headers_get(&out->http.headers, "x-amz-request-id");
        snprintf(out->request_id, sizeof out->request_id, "%s", rid ? rid : "");

        struct retry_class cls = {0};
        if (st == BROCK_OK && out->http.status >= 200 && out->http.status < 300) {
            if (c->retry)
                retry_on_success(c->retry, &tok);
            log_info("%s %s -> %ld in %.0f ms (%s%s%s, attempt %d)", method, ep->url, out->http.status,
                     out->http.t.total_ms, out->http.tls_version[0] ? out->http.tls_version : "plain http",
                     out->request_id[0] ? ", request id " : "", out->request_id, out->attempts);
            break;
        }
        if (st == BROCK_OK) {
            /* An AWS error answer. */
            st = awserr_from_response(req->protocol, &out->http, e);
            log_info("%s %s -> %ld %s (request id %s, attempt %d)", method, ep->url, out->http.status,
                     e->aws_code[0] ? e->aws_code : "", out->request_id[0] ? out->request_id : "none",
                     out->attempts);
            retry_classify((int)out->http.status, e->aws_code[0] ? e->aws_code : NULL, false, false, &cls);
            if (cls.refresh_credentials && !refreshed && c->creds.invalidate && !strcmp(out->auth, "sigv4")) {
                refreshed = true;
                out->credentials_refreshed = true;
                log_info("credentials rejected (%s); refreshing them and retrying once", e->aws_code);
                c->creds.invalidate(c->creds.ctx);
                continue;
            }
            int64_t server_ms;
            if (!skew_fixed && is_skew_error(e) && http_response_date_ms(&out->http, &server_ms)) {
                skew_fixed = true;
                out->skew_corrected = true;
                c->skew_ms = server_ms - clock_now_ms(c->clock);
                log_info("clock skew of %lld ms against the server; signing again with its time",
                         (long long)c->skew_ms);
                continue;
            }
        } else if (st == BROCK_ERR_NETWORK && tap.delivered == 0) {
            bool timeout = strstr(e->msg, "timed out") || strstr(e->msg, "timeout");
            retry_classify(0, NULL, true, timeout, &cls);
            log_info("%s %s failed: %s (attempt %d)", method, ep->url, e->msg, out->attempts);
        } else {
            break; /* interrupted, a callback's own error, config, or a stream cut after output */
        }
        if (tap.delivered > 0)
            break; /* never repeat output already handed over */
        if (!c->retry)
            break;
        int64_t after = retry_parse_retry_after(http_headers_get(&out->http.headers, "x-amz-retry-after"));
        int64_t delay = 0;
        enum retry_decision d = retry_decide(c->retry, &tok, &cls, after, &delay);
        if (d != RETRY_AGAIN) {
            if (out->attempts > 1 && d != RETRY_STOP_NOT_RETRYABLE)
                err_prefix(e, "giving up after %d attempts (%s)", out->attempts, retry_decision_name(d));
            break;
        }
        log_info("retrying in %lld ms (%s, attempt %d)", (long long)delay,
                 e->aws_code[0] ? e->aws_code : brock_status_name(st), out->attempts + 1);
        if (!sleep_cancellable(c, delay)) {
            st = err_set(e, BROCK_ERR_INTERRUPTED, "interrupted while waiting to retry");
            break;
        }
    }
    out->latency_ms = (double)(time_mono_ns() - t0) / 1e6;
    http_headers_cleanup(&h);
    buf_free(&url);
    return st;
}
