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
    bool (*hold)(void *ctx);
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

static bool tap_hold(void *ctx)
{
    struct body_tap *t = ctx;
    return t->hold(t->ctx);
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

/* What the attempts of one call share. */
struct attempt_state {
    struct retry_token tok;
    bool refreshed, skew_fixed;
};

/* The endpoint and the URL of a request. */
static enum brock_status call_url(struct aws_client *c, const struct aws_request *req, struct aws_response *out,
                                  const struct endpoint **ep, struct buf *url, struct brock_err *e)
{
    enum brock_status st = aws_client_endpoint(c, req->service, ep, e);
    if (st != BROCK_OK)
        return st;
    snprintf(out->endpoint_url, sizeof out->endpoint_url, "%s", (*ep)->url);
    snprintf(out->endpoint_source, sizeof out->endpoint_source, "%s", (*ep)->source);
    endpoint_build_url(*ep, req->path, url);
    if (req->query && *req->query) {
        buf_addc(url, '?');
        buf_addstr(url, req->query);
    }
    if (buf_status(url) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "request URL too long");
    return BROCK_OK;
}

static struct http_request attempt_request(const struct aws_request *req, const struct buf *url,
                                           const struct http_headers *h, struct body_tap *tap)
{
    return (struct http_request){
        .method = req->method ? req->method : "GET",
        .url = buf_cstr(url),
        .headers = h,
        .body = req->body,
        .body_len = req->body_len,
        .total_timeout_ms = req->total_timeout_ms,
        .idle_timeout_ms = req->idle_timeout_ms,
        .max_body = req->max_body,
        .on_body = req->on_body ? tap_body : NULL,
        .on_head = req->on_body || req->on_head ? tap_head : NULL,
        .hold = req->hold ? tap_hold : NULL,
        .ctx = tap,
    };
}

/* After one attempt: true to send again, after *delay ms (0: at once). *st
 * and e become the call's outcome when it stops here. */
static bool after_attempt(struct aws_client *c, const struct aws_request *req, const struct endpoint *ep,
                          struct aws_response *out, const struct body_tap *tap, struct attempt_state *as,
                          enum brock_status *st, struct brock_err *e, int64_t *delay)
{
    const char *method = req->method ? req->method : "GET";
    *delay = 0;
    const char *rid = http_headers_get(&out->http.headers, "x-amzn-RequestId");
    if (!rid)
        rid = http_headers_get(&out->http.headers, "x-amz-request-id");
    snprintf(out->request_id, sizeof out->request_id, "%s", rid ? rid : "");

    struct retry_class cls = {0};
    if (*st == BROCK_OK && out->http.status >= 200 && out->http.status < 300) {
        if (c->retry)
            retry_on_success(c->retry, &as->tok);
        log_info("%s %s -> %ld in %.0f ms (%s%s%s, attempt %d)", method, ep->url, out->http.status,
                 out->http.t.total_ms, out->http.tls_version[0] ? out->http.tls_version : "plain http",
                 out->request_id[0] ? ", request id " : "", out->request_id, out->attempts);
        return false;
    }
    if (*st == BROCK_OK) {
        /* An AWS error answer. */
        *st = awserr_from_response(req->protocol, &out->http, e);
        log_info("%s %s -> %ld %s (request id %s, attempt %d)", method, ep->url, out->http.status,
                 e->aws_code[0] ? e->aws_code : "", out->request_id[0] ? out->request_id : "none", out->attempts);
        retry_classify((int)out->http.status, e->aws_code[0] ? e->aws_code : NULL, false, false, &cls);
        if (cls.refresh_credentials && !as->refreshed && c->creds.invalidate && !strcmp(out->auth, "sigv4")) {
            as->refreshed = true;
            out->credentials_refreshed = true;
            log_info("credentials rejected (%s); refreshing them and retrying once", e->aws_code);
            c->creds.invalidate(c->creds.ctx);
            return true;
        }
        int64_t server_ms;
        if (!as->skew_fixed && is_skew_error(e) && http_response_date_ms(&out->http, &server_ms)) {
            as->skew_fixed = true;
            out->skew_corrected = true;
            c->skew_ms = server_ms - clock_now_ms(c->clock);
            log_info("clock skew of %lld ms against the server; signing again with its time", (long long)c->skew_ms);
            return true;
        }
    } else if (*st == BROCK_ERR_NETWORK && tap->delivered == 0) {
        bool timeout = strstr(e->msg, "timed out") || strstr(e->msg, "timeout");
        retry_classify(0, NULL, true, timeout, &cls);
        log_info("%s %s failed: %s (attempt %d)", method, ep->url, e->msg, out->attempts);
    } else {
        return false; /* interrupted, a callback's own error, config, or a stream cut after output */
    }
    if (tap->delivered > 0)
        return false; /* never repeat output already handed over */
    if (!c->retry)
        return false;
    int64_t after = retry_parse_retry_after(http_headers_get(&out->http.headers, "x-amz-retry-after"));
    enum retry_decision d = retry_decide(c->retry, &as->tok, &cls, after, delay);
    if (d != RETRY_AGAIN) {
        if (out->attempts > 1 && d != RETRY_STOP_NOT_RETRYABLE)
            err_prefix(e, "giving up after %d attempts (%s)", out->attempts, retry_decision_name(d));
        return false;
    }
    log_info("retrying in %lld ms (%s, attempt %d)", (long long)*delay,
             e->aws_code[0] ? e->aws_code : brock_status_name(*st), out->attempts + 1);
    return true;
}

enum brock_status aws_client_send(struct aws_client *c, const struct aws_request *req,
                                  struct aws_response *out, struct brock_err *e)
{
    struct brock_err local;
    if (!e)
        e = &local;
    const struct endpoint *ep;
    int64_t t0 = time_mono_ns();
    struct buf url = BUF_INIT(ENDPOINT_URL_MAX + SIGV4_MAX_PATH + SIGV4_MAX_QUERY);
    enum brock_status st = call_url(c, req, out, &ep, &url, e);
    if (st != BROCK_OK) {
        buf_free(&url);
        return st;
    }
    struct http_headers h = HTTP_HEADERS_INIT;
    struct body_tap tap = {req->on_body, req->on_head, NULL, req->ctx, 0};
    struct attempt_state as = {.tok = RETRY_TOKEN_INIT};
    for (;;) {
        if (c->retry)
            retry_acquire_send_token(c->retry);
        out->attempts++;
        err_clear(e);
        st = prepare(c, req, ep, &h, &out->auth, e);
        if (st != BROCK_OK) {
            out->http.status = 0; /* this attempt got no answer (an earlier one's is not the call's) */
            break;
        }
        struct http_request hr = attempt_request(req, &url, &h, &tap);
        st = http_send(c->http, &hr, &out->http, e);
        int64_t delay;
        if (!after_attempt(c, req, ep, out, &tap, &as, &st, e, &delay))
            break;
        if (delay > 0 && !sleep_cancellable(c, delay)) {
            st = err_set(e, BROCK_ERR_INTERRUPTED, "interrupted while waiting to retry");
            break;
        }
    }
    out->latency_ms = (double)(time_mono_ns() - t0) / 1e6;
    http_headers_cleanup(&h);
    buf_free(&url);
    return st;
}

/* ---- the same on an event loop ------------------------------------------------ */

struct aws_call {
    struct aws_client *c;
    struct http_multi *m;
    struct aws_request req; /* copied; what it points to is the caller's */
    struct aws_response *out;
    const struct endpoint *ep;
    struct buf url;
    struct http_headers h;
    struct body_tap tap;
    struct attempt_state as;
    struct http_xfer *x;      /* the attempt running, or NULL */
    struct http_later *later; /* the wait before the next attempt, or NULL */
    int token_waits;
    bool aborted;
    int64_t t0;
    aws_done_fn *done;
    void *ctx;
};

static void call_end(struct aws_call *k, enum brock_status st, const struct brock_err *e)
{
    k->out->latency_ms = (double)(time_mono_ns() - k->t0) / 1e6;
    http_headers_cleanup(&k->h);
    buf_free(&k->url);
    aws_done_fn *done = k->done;
    void *ctx = k->ctx;
    free(k);
    done(ctx, st, e);
}

static void call_attempt(void *arg);

static void call_attempt_done(void *ctx, enum brock_status st, const struct brock_err *he)
{
    struct aws_call *k = ctx;
    struct brock_err e = *he;
    k->x = NULL;
    int64_t delay = 0;
    if (!k->aborted && after_attempt(k->c, &k->req, k->ep, k->out, &k->tap, &k->as, &st, &e, &delay)) {
        if (delay > 0)
            k->later = http_multi_later(k->m, (long)delay, call_attempt, k);
        else
            call_attempt(k);
        return;
    }
    if (k->aborted && st == BROCK_OK && !(k->out->http.status >= 200 && k->out->http.status < 300))
        st = err_set(&e, BROCK_ERR_INTERRUPTED, "interrupted");
    call_end(k, st, &e);
}

/* One attempt: after the adaptive rate limiter's wait (a later that comes
 * back here), sign and start it. An error means nothing was sent. */
static enum brock_status attempt_send(struct aws_call *k, struct brock_err *e)
{
    int64_t wait = k->c->retry ? retry_send_token_wait(k->c->retry, k->token_waits) : 0;
    if (wait > 0) {
        k->token_waits++;
        k->later = http_multi_later(k->m, (long)wait, call_attempt, k);
        return BROCK_OK;
    }
    k->token_waits = 0;
    k->out->attempts++;
    enum brock_status st = prepare(k->c, &k->req, k->ep, &k->h, &k->out->auth, e);
    if (st != BROCK_OK) {
        k->out->http.status = 0; /* as in aws_client_send */
        return st;
    }
    struct http_request hr = attempt_request(&k->req, &k->url, &k->h, &k->tap);
    return http_multi_start(k->m, &hr, &k->out->http, call_attempt_done, k, &k->x, e);
}

static void call_attempt(void *arg)
{
    struct aws_call *k = arg;
    struct brock_err e = {0};
    k->later = NULL;
    enum brock_status st = k->aborted ? err_set(&e, BROCK_ERR_INTERRUPTED, "interrupted while waiting to retry")
                                      : attempt_send(k, &e);
    if (st != BROCK_OK)
        call_end(k, st, &e);
}

enum brock_status aws_client_start(struct aws_client *c, struct http_multi *m, const struct aws_request *req,
                                   struct aws_response *out, aws_done_fn *done, void *ctx, struct aws_call **callp,
                                   struct brock_err *e)
{
    struct aws_call *k = xcalloc(1, sizeof *k);
    k->c = c;
    k->m = m;
    k->req = *req;
    k->out = out;
    k->done = done;
    k->ctx = ctx;
    k->t0 = time_mono_ns();
    k->tap = (struct body_tap){req->on_body, req->on_head, req->hold, req->ctx, 0};
    k->as = (struct attempt_state){.tok = RETRY_TOKEN_INIT};
    buf_init(&k->url, ENDPOINT_URL_MAX + SIGV4_MAX_PATH + SIGV4_MAX_QUERY);
    http_headers_init(&k->h);
    enum brock_status st = call_url(c, req, out, &k->ep, &k->url, e);
    if (st == BROCK_OK)
        st = attempt_send(k, e);
    if (st != BROCK_OK) {
        http_headers_cleanup(&k->h);
        buf_free(&k->url);
        free(k);
        return st;
    }
    if (callp)
        *callp = k;
    return BROCK_OK;
}

void aws_call_abort(struct aws_call *k)
{
    if (k->aborted)
        return;
    k->aborted = true;
    if (k->x) {
        http_xfer_abort(k->x);
    } else if (k->later) {
        http_later_cancel(k->m, k->later);
        k->later = http_multi_later(k->m, 0, call_attempt, k); /* ends it, from the loop */
    }
}

void aws_call_resume(struct aws_call *k)
{
    if (k->x)
        http_xfer_resume(k->x);
}
