/* gateway_upstream.c - the gateway's upstream calls, on the loop thread:
 * each an aws_call (client.h) on one libcurl multi that the gateway's
 * libevent base drives, signed with the gateway's own credentials, with
 * failover to the next target on throttling, sticky per client session, and
 * event streams handed to the client frame by frame as they complete; a slow
 * client holds its upstream transfer (back-pressure) instead of piling up
 * frames. Persistent-cache lookups (a SQLite read that writes) go to the
 * helper thread. See docs/internals/gateway.md. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../aws/creds.h"
#include "../aws/eventstream.h"
#include "../bedrock/bedrock.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"
#include "../util/timeutil.h"
#include "gateway_int.h"

#define SESS_BUCKETS 4096

/* ---- waking the loop ------------------------------------------------------------ */

static void push_locked(struct gateway *g, struct gw_job *j, bool *wake)
{
    if (j->in_notify)
        return;
    j->in_notify = true;
    j->nnext = NULL;
    if (!g->notify_head) {
        g->notify_head = j;
        *wake = true;
    } else {
        struct gw_job *t = g->notify_head;
        while (t->nnext)
            t = t->nnext;
        t->nnext = j;
    }
}

/* From another thread: the eventfd (on_notify runs on the loop). */
void gw_wake(struct gateway *g)
{
    uint64_t one = 1;
    if (write(g->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_debug("gateway: eventfd write: %s", strerror(errno));
}

void gw_notify(struct gateway *g, struct gw_job *j)
{
    bool w = false;
    pthread_mutex_lock(&g->notify_mu);
    push_locked(g, j, &w);
    pthread_mutex_unlock(&g->notify_mu);
    if (w)
        gw_wake(g);
}

/* From the loop (inside libcurl's callbacks, or the upstream call's end):
 * process(j) runs once the current callback has returned, in this round of
 * the loop, without a system call. */
static void notify_loop(struct gateway *g, struct gw_job *j)
{
    bool w = false;
    pthread_mutex_lock(&g->notify_mu);
    push_locked(g, j, &w);
    pthread_mutex_unlock(&g->notify_mu);
    if (w)
        event_active(g->notify_ev, EV_TIMEOUT, 0); /* not EV_READ: nothing to read (on_notify) */
}

static void job_done(struct gw_job *j)
{
    j->done = true;
    notify_loop(j->g, j);
}

static void local_error(struct gw_job *j, int status, const char *code, const char *msg)
{
    j->local_error = true;
    j->status = status;
    snprintf(j->err_code, sizeof j->err_code, "%s", code);
    snprintf(j->err_msg, sizeof j->err_msg, "%s", msg);
}

void gw_job_cancel(struct gw_job *j)
{
    j->cancel = true;
    if (j->call)
        aws_call_abort(j->call);
}

enum brock_status gw_frame_exception(struct buf *out, const char *type, const char *msg)
{
    json_t *m = json_pack("{s:s}", "message", msg);
    char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    enum brock_status st = es_encode_exception(out, type, "application/json", s ? s : "{}", s ? strlen(s) : 2, NULL);
    free(s);
    return st;
}

/* ---- sticky sessions --------------------------------------------------------------- */

static size_t sticky_get(struct gateway *g, const char *key, int64_t now)
{
    size_t t = 0;
    pthread_mutex_lock(&g->sess_mu);
    if (g->sess) {
        for (struct gw_session *s = g->sess[fnv1a64_str(key) % SESS_BUCKETS]; s; s = s->next)
            if (!strcmp(s->key, key)) {
                if (now - s->last_ms < GATEWAY_SESSION_TTL_MS)
                    t = s->target;
                s->last_ms = now;
                break;
            }
    }
    pthread_mutex_unlock(&g->sess_mu);
    return t < g->n_targets ? t : 0;
}

static void sticky_set(struct gateway *g, const char *key, size_t target, int64_t now)
{
    pthread_mutex_lock(&g->sess_mu);
    if (!g->sess)
        g->sess = xcalloc(SESS_BUCKETS, sizeof *g->sess);
    struct gw_session **b = &g->sess[fnv1a64_str(key) % SESS_BUCKETS];
    struct gw_session *s = *b;
    while (s && strcmp(s->key, key))
        s = s->next;
    if (!s) {
        if (g->n_sess >= GATEWAY_MAX_SESSIONS) {
            /* forget the idle ones of this bucket, else its oldest */
            struct gw_session **pp = b, *oldest = NULL;
            for (struct gw_session *x = *b; x; x = x->next)
                if (!oldest || x->last_ms < oldest->last_ms)
                    oldest = x;
            while (*pp) {
                if (*pp == oldest || now - (*pp)->last_ms >= GATEWAY_SESSION_TTL_MS) {
                    struct gw_session *d = *pp;
                    *pp = d->next;
                    free(d);
                    g->n_sess--;
                } else {
                    pp = &(*pp)->next;
                }
            }
        }
        if (g->n_sess < GATEWAY_MAX_SESSIONS) {
            s = xcalloc(1, sizeof *s);
            snprintf(s->key, sizeof s->key, "%s", key);
            s->next = *b;
            *b = s;
            g->n_sess++;
        }
    }
    if (s) {
        s->target = target;
        s->last_ms = now;
    }
    pthread_mutex_unlock(&g->sess_mu);
}

void gw_sessions_free(struct gateway *g)
{
    if (!g->sess)
        return;
    for (size_t i = 0; i < SESS_BUCKETS; i++)
        for (struct gw_session *s = g->sess[i], *n; s; s = n) {
            n = s->next;
            free(s);
        }
    free(g->sess);
    g->sess = NULL;
}

/* ---- one upstream call --------------------------------------------------------------- */

/* Response headers a Bedrock client reads; everything else (date, length,
 * connection, server) is the hop's own. */
static bool keep_resp_header(const char *n)
{
    return !strcasecmp(n, "content-type") || !strcasecmp(n, "x-amzn-requestid") ||
           !strcasecmp(n, "x-amzn-errortype") || !strcasecmp(n, "x-amz-retry-after") ||
           !strncasecmp(n, "x-amzn-bedrock-", 15);
}

static void copy_resp_headers(struct gw_job *j, const struct http_headers *from)
{
    http_headers_reset(&j->rh);
    for (size_t i = 0; i < http_headers_count(from); i++) {
        const char *n = http_headers_name(from, i);
        if (keep_resp_header(n))
            (void)http_headers_add(&j->rh, n, http_headers_value(from, i), NULL);
    }
}

/* The same model in another region: a geography profile is re-chosen for it. */
static void model_for_region(const char *id, const char *region, char *out, size_t cap)
{
    enum model_geo geo = GEO_NONE;
    const struct model_info *m = catalog_find(id, &geo);
    snprintf(out, cap, "%s", id);
    if (!m || geo == GEO_NONE || geo == GEO_GLOBAL || strncmp(id, catalog_geo_prefix(geo), strlen(catalog_geo_prefix(geo))))
        return;
    enum model_geo ng = catalog_geo_for_region(region);
    if (ng != GEO_GLOBAL && (m->geos & ng))
        snprintf(out, cap, "%s.%s", catalog_geo_prefix(ng), m->base_id);
}

static void build_headers(struct gw_job *j, struct http_headers *h)
{
    const char *n, *v;
    bool ctype = false;
    for (size_t i = 0; httpd_req_header_at(j->req, i, &n, &v); i++) {
        if (!strcasecmp(n, "content-type")) {
            ctype = true;
            (void)http_headers_add(h, "Content-Type", v, NULL);
        } else if (!strcasecmp(n, "accept") || !strncasecmp(n, "x-amzn-bedrock-", 15)) {
            (void)http_headers_add(h, n, v, NULL);
        }
    }
    if (!ctype && j->op != GATEWAY_OP_CONTROL)
        (void)http_headers_add(h, "Content-Type", "application/json", NULL);
}

static bool hold(void *ctx)
{
    struct gw_job *j = ctx;
    if (j->out.len > GATEWAY_STREAM_PENDING_MAX && !j->cancel)
        j->held = true;
    return j->held;
}

void gw_job_drained(struct gw_job *j)
{
    if (j->held && j->out.len <= GATEWAY_STREAM_PENDING_MAX) {
        j->held = false;
        if (j->call)
            aws_call_resume(j->call); /* may hand frames over from in here */
    }
}

static enum brock_status on_head(void *ctx, const struct http_response *r)
{
    struct gw_job *j = ctx;
    if (r->status < 200 || r->status >= 300 || j->head_sent)
        return BROCK_OK;
    copy_resp_headers(j, &r->headers);
    j->head_sent = true;
    j->stream = true;
    j->status = (int)r->status;
    j->head_ready = true;
    notify_loop(j->g, j);
    return BROCK_OK;
}

/* Hand one frame to the loop (process() moves it to the client). */
static enum brock_status push_frame(struct gw_job *j, const void *p, size_t n)
{
    if (j->cancel)
        return BROCK_ERR_INTERRUPTED;
    bool was_empty = j->out.len == 0;
    if (buf_add(&j->out, p, n) != BROCK_OK)
        return BROCK_ERR_TOO_LARGE; /* cannot happen while hold() works; a cut if it does */
    if (was_empty)
        notify_loop(j->g, j);
    /* a copy for the cache only of what finish() may cache */
    if (j->cache_candidate && j->info.deterministic && !j->info.tool_results && !j->tee_over &&
        buf_add(&j->tee, p, n) != BROCK_OK)
        j->tee_over = true;
    return BROCK_OK;
}

static enum brock_status on_body(void *ctx, const char *p, size_t n)
{
    struct gw_job *j = ctx;
    if (j->cancel)
        return BROCK_ERR_INTERRUPTED;
    struct brock_err e = {0};
    if (es_decoder_feed(j->dec, p, n, &e) != BROCK_OK) {
        j->decode_failed = true;
        snprintf(j->decode_err, sizeof j->decode_err, "%.290s", e.msg);
        return BROCK_ERR_PARSE;
    }
    for (;;) {
        struct es_message m;
        bool got = false;
        if (es_decoder_next(j->dec, &m, &got, &e) != BROCK_OK) {
            j->decode_failed = true;
            snprintf(j->decode_err, sizeof j->decode_err, "%.290s", e.msg);
            return BROCK_ERR_PARSE;
        }
        if (!got)
            break;
        if (!j->frames_bytes)
            j->ttft_ms = (double)(time_mono_ns() - j->t0_ns) / 1e6;
        j->frames_bytes += m.total_len;
        enum es_kind kind = es_message_kind(&m);
        if (kind == ES_KIND_EXCEPTION || kind == ES_KIND_ERROR) {
            j->saw_exception = true;
            struct es_str code = kind == ES_KIND_EXCEPTION ? es_message_exception_type(&m) : es_message_error_code(&m);
            if (code.p)
                snprintf(j->err_code, sizeof j->err_code, "%.*s", (int)(code.len > 60 ? 60 : code.len), code.p);
            snprintf(j->err_msg, sizeof j->err_msg, "upstream sent a %.60s event mid-stream", j->err_code);
            if (code.p && code.len >= 10 && !strncasecmp(code.p, "throttling", 10))
                j->throttles++;
            j->cut = true; /* not a complete answer (the client got the frame as sent) */
        } else {
            struct es_str et = es_message_event_type(&m);
            if (et.p)
                gateway_usage_from_event(j->op, et.p, et.len, m.payload, m.payload_len, &j->usage);
        }
        enum brock_status st = push_frame(j, m.raw, m.total_len);
        if (st != BROCK_OK)
            return st;
    }
    return BROCK_OK;
}

/* The upstream clients' credential source when the helper thread keeps the
 * credentials fresh: the loop only peeks at the current set and never waits
 * for a provider (IMDS, SSO, a credential_process can take seconds, and
 * every client waits on the loop). No usable set (none yet, rejected with an
 * ExpiredToken-style answer, or inside the last 10 minutes because every
 * refresh ahead failed): the call fails at once with the reason, answered
 * 503 so the SDKs retry, and the helper is asked to refresh now. */
static void creds_nudge(struct gateway *g)
{
    pthread_mutex_lock(&g->lk_mu);
    if (!g->creds_now) {
        g->creds_now = true;
        pthread_cond_signal(&g->lk_cv);
    }
    pthread_mutex_unlock(&g->lk_mu);
}

static enum brock_status loop_creds_get(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    struct gateway *g = ctx;
    const struct aws_creds_source *src = &g->o.upstream.creds;
    enum brock_status st = src->peek(src->ctx, out, e);
    if (st != BROCK_OK)
        creds_nudge(g);
    return st;
}

static void loop_creds_invalidate(void *ctx)
{
    struct gateway *g = ctx;
    const struct aws_creds_source *src = &g->o.upstream.creds;
    if (src->invalidate)
        src->invalidate(src->ctx);
    creds_nudge(g);
}

static struct aws_client *client_for(struct gateway *g, const char *region)
{
    size_t i = 0;
    while (i < g->n_regions && strcmp(g->regions[i], region))
        i++;
    if (i == g->n_regions)
        i = 0;
    if (!g->up[i]) {
        struct aws_client_config cfg = g->o.upstream;
        cfg.region = g->regions[i];
        cfg.http.cancel = NULL;
        if (g->creds_peek)
            cfg.creds = (struct aws_creds_source){.get = loop_creds_get, .invalidate = loop_creds_invalidate, .ctx = g};
        g->up[i] = aws_client_new(&cfg);
    }
    return g->up[i];
}

static void call_start(struct gateway *g, struct gw_job *j);

/* The gateway's own credentials: nothing the client did, and a refresh may
 * be under way, so worth a retry (the SDKs retry a 503). Why there are none
 * goes to the gateway's log, not to the client: the reason names the
 * credential chain's files and profiles. */
static void creds_refused(struct gw_job *j)
{
    local_error(j, 503, "ServiceUnavailableException",
                "brock gateway: cannot sign the upstream call: the gateway has no usable AWS credentials at the "
                "moment (its log says why); retry shortly");
}

/* ---- calls waiting for credentials ---------------------------------------------------- *
 * Bedrock rejected the set (ExpiredTokenException) or it was invalidated:
 * the client invalidated it, nudged the helper, found none to sign with,
 * and the call ended before anything was sent. Such a call is parked here
 * for up to GATEWAY_CREDS_PARK_MS while the helper refreshes, and started
 * again as soon as there is a usable set; a failed refresh (creds_down)
 * answers the parked calls 503 at once. The loop looks every
 * GATEWAY_CREDS_PARK_POLL_MS while any call is parked (a peek, never a
 * provider), and not at all otherwise. */
static void park_job(struct gateway *g, struct gw_job *j)
{
    j->parked_once = true;
    j->park_until = time_mono_ms() + GATEWAY_CREDS_PARK_MS;
    j->park_next = g->parked;
    g->parked = j;
    if (!evtimer_pending(g->park_timer, NULL)) {
        struct timeval tv = {.tv_sec = 0, .tv_usec = GATEWAY_CREDS_PARK_POLL_MS * 1000};
        evtimer_add(g->park_timer, &tv);
    }
}

static void on_park_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gateway *g = arg;
    const struct aws_creds_source *src = &g->o.upstream.creds;
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    bool usable = src->peek(src->ctx, &c, &e) == BROCK_OK;
    aws_credentials_release(c);
    bool down = atomic_load(&g->creds_down);
    int64_t now = time_mono_ms();
    struct gw_job *list = g->parked;
    g->parked = NULL;
    while (list) {
        struct gw_job *j = list;
        list = j->park_next;
        j->park_next = NULL;
        if (j->cancel) {
            local_error(j, 503, "interrupted", "brock gateway: the call was stopped (client gone)");
            job_done(j);
        } else if (usable) {
            call_start(g, j);
        } else if (down || now >= j->park_until) {
            log_info("gateway: no usable upstream AWS credentials %s for user %s; answered 503",
                     down ? "(the refresh failed)" : "in time", j->client->key->user);
            creds_refused(j);
            job_done(j);
        } else {
            j->park_next = g->parked;
            g->parked = j;
        }
    }
    if (g->parked) {
        struct timeval tv = {.tv_sec = 0, .tv_usec = GATEWAY_CREDS_PARK_POLL_MS * 1000};
        evtimer_add(g->park_timer, &tv);
    }
}

/* The call to one target ended: keep its answer, or move on to the next
 * target (throttled before anything reached the client). */
static void call_end(struct gw_job *j, enum brock_status st, const struct brock_err *err)
{
    struct gateway *g = j->g;
    struct brock_err e = *err;
    struct aws_response *out = &j->ar;
    j->call = NULL;
    j->held = false;
    j->attempts += out->attempts;
    if (out->request_id[0])
        snprintf(j->request_id, sizeof j->request_id, "%s", out->request_id);
    bool next = false, park = false;

    if (j->head_sent) {
        /* The client has the head: whatever happens now ends its stream. */
        if (st == BROCK_OK && es_decoder_finish(j->dec, &e) != BROCK_OK) {
            j->decode_failed = true;
            snprintf(j->decode_err, sizeof j->decode_err, "%.290s", e.msg);
        }
        bool cancelled = j->cancel || st == BROCK_ERR_INTERRUPTED;
        if (!cancelled && !j->saw_exception && (st != BROCK_OK || j->decode_failed || !j->usage.complete)) {
            char msg[700];
            if (j->decode_failed)
                snprintf(msg, sizeof msg, "brock gateway: the upstream event stream broke after %llu bytes: %.500s",
                         (unsigned long long)j->frames_bytes, j->decode_err);
            else if (st != BROCK_OK)
                snprintf(msg, sizeof msg, "brock gateway: the upstream stream was cut after %llu bytes: %.500s",
                         (unsigned long long)j->frames_bytes, e.msg);
            else
                snprintf(msg, sizeof msg,
                         "brock gateway: the upstream stream ended after %llu bytes without its final event",
                         (unsigned long long)j->frames_bytes);
            struct buf x = BUF_INIT(8192);
            if (gw_frame_exception(&x, "internalServerException", msg) == BROCK_OK) {
                bool was_empty = j->out.len == 0;
                (void)buf_add(&j->out, x.ptr, x.len); /* never held back: the out buffer has room for it */
                if (was_empty)
                    notify_loop(g, j);
            }
            buf_free(&x);
            j->cut = true;
            snprintf(j->err_code, sizeof j->err_code, "%s", "StreamCut");
            snprintf(j->err_msg, sizeof j->err_msg, "%s", msg);
            atomic_fetch_add(&g->st_cut, 1);
        }
    } else if (st == BROCK_OK) {
        j->status = (int)out->http.status;
        copy_resp_headers(j, &out->http.headers);
        buf_free(&j->body);
        j->body = out->http.body; /* take the collected answer */
        buf_init(&out->http.body, GATEWAY_MAX_ANSWER);
        if (j->op == GATEWAY_OP_INVOKE || j->op == GATEWAY_OP_CONVERSE)
            gateway_usage_from_answer(j->op, buf_cstr(&j->body), j->body.len, &j->usage);
        else
            j->usage.complete = true;
        if (j->op == GATEWAY_OP_CONTROL && !strncmp(httpd_req_path(j->req), "/inference-profiles/", 20))
            gw_profile_learn(g, buf_cstr(&j->body), j->body.len); /* a client's GetInferenceProfile */
    } else if (out->http.status) {
        /* Bedrock's own error answer: passed through as it came. */
        j->status = (int)out->http.status;
        copy_resp_headers(j, &out->http.headers);
        buf_free(&j->body);
        j->body = out->http.body;
        buf_init(&out->http.body, GATEWAY_MAX_ANSWER);
        snprintf(j->err_code, sizeof j->err_code, "%s", e.aws_code[0] ? e.aws_code : brock_status_name(st));
        snprintf(j->err_msg, sizeof j->err_msg, "%s", e.msg);
        if (st == BROCK_ERR_THROTTLED) {
            j->throttles++;
            next = !j->cancel;
        }
    } else if (st == BROCK_ERR_CREDENTIALS && !j->parked_once && g->creds_peek && !j->cancel && !g->up_stop &&
               !atomic_load(&g->creds_down)) {
        /* The set was rejected (ExpiredToken) or invalidated, and no
         * refresh has failed since: the helper is refreshing now, and the
         * call waits for it instead of failing. */
        park = true;
        log_debug("gateway: waiting for new upstream credentials for user %s: %s", j->client->key->user, e.msg);
    } else {
        char msg[768];
        if (st == BROCK_ERR_NETWORK) {
            snprintf(msg, sizeof msg, "brock gateway: upstream unreachable: %.600s", e.msg);
            local_error(j, 503, "ServiceUnavailableException", msg);
        } else if (st == BROCK_ERR_CREDENTIALS) {
            creds_refused(j);
        } else if (st == BROCK_ERR_INTERRUPTED) {
            local_error(j, 503, "interrupted", "brock gateway: the call was stopped (client gone or shutdown)");
        } else {
            snprintf(msg, sizeof msg, "brock gateway: could not call upstream: %.600s", e.msg);
            local_error(j, 500, "InternalServerException", msg);
        }
        log_info("gateway: upstream %s for user %s: %s", brock_status_name(st), j->client->key->user, e.msg);
    }
    aws_response_free(&j->ar);
    http_headers_reset(&j->uh);
    buf_reset(&j->upath);

    if (park) {
        park_job(g, j);
        return;
    }
    if (next && j->target + 1 < g->n_targets && !g->up_stop) {
        j->target++;
        atomic_fetch_add(&g->st_failovers, 1);
        log_info("gateway: throttled on %s in %s for user %s; moving the session to target %zu", j->profile,
                 j->region, j->client->key->user, j->target);
        sticky_set(g, j->skey, j->target, gw_now_ms(g));
        /* a fresh answer for the next target */
        j->status = 0;
        buf_reset(&j->body);
        http_headers_reset(&j->rh);
        j->err_code[0] = j->err_msg[0] = '\0';
        call_start(g, j);
        return;
    }
    job_done(j);
}

static void on_call_done(void *ctx, enum brock_status st, const struct brock_err *e)
{
    call_end(ctx, st, e);
}

/* Call the job's current target. */
static void call_start(struct gateway *g, struct gw_job *j)
{
    const struct gateway_target *t = &g->targets[j->target];
    const char *region = t->region[0] ? t->region : g->regions[0];
    char model[GW_MAX_MODEL_ID + 1];
    if (t->model[0]) {
        struct model_choice mc;
        if (catalog_resolve(t->model, region, false, &mc, NULL) == BROCK_OK)
            snprintf(model, sizeof model, "%s", mc.model_id);
        else
            snprintf(model, sizeof model, "%s", t->model);
    } else if (strcmp(region, g->regions[0])) {
        model_for_region(j->model_id, region, model, sizeof model);
    } else {
        snprintf(model, sizeof model, "%s", j->model_id);
    }
    snprintf(j->profile, sizeof j->profile, "%s", j->op == GATEWAY_OP_CONTROL ? "" : model);
    snprintf(j->region, sizeof j->region, "%s", region);

    buf_reset(&j->upath);
    if (j->op == GATEWAY_OP_CONTROL) {
        buf_addstr(&j->upath, httpd_req_path(j->req));
    } else {
        buf_addstr(&j->upath, "/model/");
        (void)uri_encode(&j->upath, model, strlen(model), false);
        buf_addc(&j->upath, '/');
        buf_addstr(&j->upath, gateway_op_name(j->op));
    }
    http_headers_reset(&j->uh);
    build_headers(j, &j->uh);
    bool streaming = j->op == GATEWAY_OP_INVOKE_STREAM || j->op == GATEWAY_OP_CONVERSE_STREAM;
    j->head_sent = j->saw_exception = j->decode_failed = false;
    j->frames_bytes = 0;
    if (streaming) {
        if (!j->dec)
            j->dec = es_decoder_new();
        es_decoder_reset(j->dec);
    }
    const char *q = httpd_req_query(j->req);
    struct aws_request r = {
        .service = j->op == GATEWAY_OP_CONTROL ? ENDPOINT_SVC_BEDROCK : ENDPOINT_SVC_BEDROCK_RUNTIME,
        .method = httpd_req_method(j->req),
        .path = buf_cstr(&j->upath),
        .query = j->op == GATEWAY_OP_CONTROL && *q ? q : NULL,
        .headers = &j->uh,
        .body = j->ubody,
        .body_len = j->ublen,
        .protocol = AWSERR_REST_JSON,
        .on_body = streaming ? on_body : NULL,
        .on_head = streaming ? on_head : NULL,
        .hold = streaming ? hold : NULL,
        .ctx = j,
        .max_body = GATEWAY_MAX_ANSWER,
    };
    aws_response_init(&j->ar);
    struct brock_err e = {0};
    enum brock_status st = buf_status(&j->upath) == BROCK_OK
                               ? aws_client_start(client_for(g, region), g->multi, &r, &j->ar, on_call_done, j,
                                                  &j->call, &e)
                               : err_set(&e, BROCK_ERR_TOO_LARGE, "model id too long for a path");
    if (st != BROCK_OK)
        call_end(j, st, &e); /* nothing was sent */
}

/* Translated, not in the persistent cache: go upstream. */
static void go_upstream(struct gateway *g, struct gw_job *j)
{
    if (g->o.no_translate) {
        free(j->tbody);
        j->tbody = NULL;
        j->info.changes[0] = '\0';
        j->ubody = httpd_req_body(j->req, &j->ublen);
    }
    if (j->tbody) {
        atomic_fetch_add(&g->st_translated, 1);
        log_info("gateway: %s %s for user %s: %s", gateway_op_name(j->op), j->model_id, j->client->key->user,
                 j->info.changes);
    }
    snprintf(j->skey, sizeof j->skey, "%s\x1f%s", j->client->key->user, j->info.session);
    j->target = j->op == GATEWAY_OP_CONTROL ? 0 : sticky_get(g, j->skey, gw_now_ms(g));
    call_start(g, j);
}

void gw_dispatch(struct gateway *g, struct gw_job *j)
{
    if (g->up_stop || j->cancel) {
        if (g->up_stop)
            local_error(j, 503, "ServiceUnavailableException", "brock gateway: shutting down");
        else
            local_error(j, 503, "interrupted", "brock gateway: the call was stopped (client gone)");
        job_done(j);
        return;
    }
    size_t blen = 0, tlen = 0;
    const char *body = httpd_req_body(j->req, &blen);
    /* an application inference profile is translated as its model, once known */
    const struct model_info *pm = j->op == GATEWAY_OP_CONTROL ? NULL : gw_profile_model(g, j->model_id);
    gateway_translate(j->op, pm ? pm->base_id : j->model_id, body, blen, &j->tbody, &tlen, &j->info);
    j->ubody = j->tbody ? j->tbody : body;
    j->ublen = j->tbody ? tlen : blen;
    /* The persistent cache only for what could have been stored (a store
     * read is a write there: never for every request), off the loop. */
    if (j->cache_candidate && j->info.deterministic && !j->info.tool_results && g->lk_lookups) {
        j->lookup_wait = true;
        pthread_mutex_lock(&g->lk_mu);
        j->lk_next = NULL;
        if (g->lk_tail)
            g->lk_tail->lk_next = j;
        else
            g->lk_head = j;
        g->lk_tail = j;
        pthread_cond_signal(&g->lk_cv);
        pthread_mutex_unlock(&g->lk_mu);
        return;
    }
    go_upstream(g, j);
}

void gw_job_looked_up(struct gw_job *j)
{
    struct gateway *g = j->g;
    j->lookup_wait = false;
    if (j->entry) {
        j->cache_hit = true;
        j->status = 200;
        job_done(j);
    } else if (j->cancel || g->up_stop) {
        local_error(j, 503, "interrupted", "brock gateway: the call was stopped (client gone or shutdown)");
        job_done(j);
    } else {
        go_upstream(g, j);
    }
}

void gw_job_release(struct gw_job *j)
{
    free(j->tbody);
    j->tbody = NULL;
    http_headers_cleanup(&j->uh);
    buf_free(&j->upath);
    es_decoder_free(j->dec);
    j->dec = NULL;
}

/* ---- the helper thread ------------------------------------------------------------- */

/* Refresh the upstream credentials on this thread, before the loop's own
 * advisory window (15 min before expiry) opens: the margin is that window
 * plus two checks, so the set the loop peeks at is always fresh. A failure
 * here means there is no usable set (an advisory failure keeps the current
 * one and counts as success): warned once, until a refresh succeeds again. */
static bool refresh_creds_ahead(struct gateway *g)
{
    const struct aws_creds_source *src = &g->o.upstream.creds;
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    int64_t ahead = CREDS_ADVISORY_REFRESH_MS + 2 * (int64_t)g->creds_check_ms;
    if (src->get_ahead(src->ctx, ahead, &c, &e) == BROCK_OK) {
        aws_credentials_release(c);
        if (g->creds_down)
            log_info("gateway: upstream AWS credentials are usable again");
        g->creds_down = false;
        return true;
    }
    if (!g->creds_down)
        log_warn("gateway: no usable upstream AWS credentials (calls are answered 503 until there are): %s", e.msg);
    else
        log_debug("gateway: refreshing the upstream credentials: %s", e.msg);
    g->creds_down = true;
    return false;
}

static void *helper_main(void *arg)
{
    struct gateway *g = arg;
    pthread_setname_np(pthread_self(), "brock-helper");
    bool creds = g->creds_ahead;
    /* gw_upstream_start fetched the first set; a nudge from the loop (no
     * usable set) refreshes at once, at most once a GATEWAY_CREDS_RETRY_MS
     * while refreshes fail */
    int64_t next_check = time_mono_ms() + g->creds_check_ms;
    pthread_mutex_lock(&g->lk_mu);
    for (;;) {
        while (!g->lk_head && !g->lk_stop && !g->keys_want) {
            int64_t now = time_mono_ms();
            bool nudged = g->creds_now && now >= g->creds_retry_at;
            if (creds && (now >= next_check || nudged)) {
                g->creds_now = false;
                pthread_mutex_unlock(&g->lk_mu);
                bool ok = refresh_creds_ahead(g);
                pthread_mutex_lock(&g->lk_mu);
                now = time_mono_ms();
                g->creds_retry_at = ok ? 0 : now + GATEWAY_CREDS_RETRY_MS;
                /* a nudge made while this refresh ran (a call that found no
                 * usable set meanwhile) is answered by it: no second call
                 * to the provider right after a good one */
                if (ok)
                    g->creds_now = false;
                if (!nudged || ok)
                    next_check = now + g->creds_check_ms;
                continue;
            }
            if (!creds) {
                pthread_cond_wait(&g->lk_cv, &g->lk_mu);
                continue;
            }
            int64_t until = g->creds_now && g->creds_retry_at < next_check ? g->creds_retry_at : next_check;
            struct timespec ts;
            gw_deadline_in(&ts, until > now ? until - now : 0);
            pthread_cond_timedwait(&g->lk_cv, &g->lk_mu, &ts);
        }
        if (g->lk_stop)
            break;
        if (g->keys_want) {
            g->keys_want = false;
            pthread_mutex_unlock(&g->lk_mu);
            gw_keys_read(g);
            pthread_mutex_lock(&g->lk_mu);
            continue;
        }
        struct gw_job *j = g->lk_head;
        g->lk_head = j->lk_next;
        if (!g->lk_head)
            g->lk_tail = NULL;
        pthread_mutex_unlock(&g->lk_mu);
        struct gw_entry *e = gw_books_lookup(g, j->cache_key);
        pthread_mutex_lock(&j->mu);
        j->entry = e;
        j->looked_up = true;
        pthread_mutex_unlock(&j->mu);
        gw_notify(g, j); /* the last touch */
        pthread_mutex_lock(&g->lk_mu);
    }
    pthread_mutex_unlock(&g->lk_mu);
    return NULL;
}

/* ---- the multi on the loop ------------------------------------------------------------ */

static struct gw_sock *sock_slot(struct gateway *g, int fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= g->nsocks) {
        size_t n = g->nsocks ? g->nsocks : 64;
        while (n <= (size_t)fd)
            n *= 2;
        g->socks = xrealloc(g->socks, n * sizeof *g->socks);
        memset(g->socks + g->nsocks, 0, (n - g->nsocks) * sizeof *g->socks);
        g->nsocks = n;
    }
    return &g->socks[fd];
}

static void sock_drop(struct gateway *g, struct gw_sock *k)
{
    if (k->ev) {
        event_del(k->ev);
        event_free(k->ev);
        atomic_fetch_sub(&g->st_up_sockets, 1);
    }
    k->ev = NULL;
    k->flags = 0;
    k->idle = false;
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct gateway *g = arg;
    struct gw_sock *k = (size_t)fd < g->nsocks ? &g->socks[fd] : NULL;
    if (k && k->idle) {
        /* an idle pooled connection is readable: the upstream closed it (or
         * sent what nobody asked for). libcurl finds out when it next takes
         * the connection; until then, stop watching it */
        sock_drop(g, k);
        return;
    }
    http_multi_on_socket(g->multi, (int)fd, (what & EV_READ ? HTTP_IO_IN : 0) | (what & EV_WRITE ? HTTP_IO_OUT : 0));
}

/* libcurl's CURLMOPT_SOCKETFUNCTION through http.c. Per call on a pooled
 * connection libcurl asks to watch for reading once the request is out and
 * to stop when the answer is in: an epoll_ctl each, two a call. A
 * connection's socket it stops watching for reading only stays registered
 * (idle) instead, and is taken back without a system call when libcurl
 * watches it for reading again. An idle socket that turns readable is
 * dropped then (on_socket), and io_closing drops it before libcurl closes
 * it, so a new socket with the same number never meets the old
 * registration (libevent would take it for the new socket's, and never add
 * the new one to epoll). */
static void *io_watch(void *ctx, int fd, int what, void *slot)
{
    (void)slot; /* the event is found by fd (an idle socket's outlives libcurl's slot) */
    struct gateway *g = ctx;
    struct gw_sock *k = sock_slot(g, fd);
    if (!k)
        return NULL;
    if (!what) {
        if (k->ev && k->flags == (EV_PERSIST | EV_READ) && k->conn)
            k->idle = true;
        else
            sock_drop(g, k);
        return NULL;
    }
    short flags = (short)(EV_PERSIST | (what & HTTP_IO_IN ? EV_READ : 0) | (what & HTTP_IO_OUT ? EV_WRITE : 0));
    k->idle = false;
    if (k->ev && k->flags == flags)
        return k->ev;
    struct event_base *base = httpd_event_base(g->httpd);
    if (k->ev) {
        event_del(k->ev);
        event_assign(k->ev, base, fd, flags, on_socket, g);
    } else {
        k->ev = event_new(base, fd, flags, on_socket, g);
        if (k->ev)
            atomic_fetch_add(&g->st_up_sockets, 1);
    }
    k->flags = flags;
    if (k->ev)
        event_add(k->ev, NULL);
    return k->ev;
}


/* libcurl opened fd for a connection (CURLOPT_OPENSOCKETFUNCTION, through
 * http.c): it will close it through io_closing, so it may stay registered
 * while idle. */
static void io_opened(void *ctx, int fd)
{
    struct gateway *g = ctx;
    struct gw_sock *k = sock_slot(g, fd);
    if (k) {
        sock_drop(g, k); /* nothing can be left under a fresh number; to be sure */
        k->conn = true;
    }
}

static void io_closing(void *ctx, int fd)
{
    struct gateway *g = ctx;
    if (fd >= 0 && (size_t)fd < g->nsocks) {
        sock_drop(g, &g->socks[fd]);
        g->socks[fd].conn = false;
    }
}

static void io_timer(void *ctx, long ms)
{
    struct gateway *g = ctx;
    if (ms < 0) {
        evtimer_del(g->up_timer);
        return;
    }
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(g->up_timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gateway *g = arg;
    http_multi_on_timer(g->multi);
}

enum brock_status gw_upstream_start(struct gateway *g, struct brock_err *e)
{
    g->up_timer = evtimer_new(httpd_event_base(g->httpd), on_timer, g);
    g->park_timer = evtimer_new(httpd_event_base(g->httpd), on_park_timer, g);
    if (!g->up_timer || !g->park_timer)
        return err_set(e, BROCK_ERR_INTERNAL, "gateway: could not create the upstream timers");
    g->multi = http_multi_new(&g->o.upstream.http, 0);
    /* keep the upstream connections of a busy moment for the next one:
     * libcurl's default cache (4 x the transfers running) closes them in
     * every lull, and a paced load then paid a new connection ~25 times a
     * second */
    http_multi_keep_connections(g->multi, g->o.max_idle_upstream > 0 ? g->o.max_idle_upstream : GATEWAY_DEFAULT_IDLE_UPSTREAM);
    struct http_multi_io io = {.watch = io_watch, .timer = io_timer, .opened = io_opened, .closing = io_closing, .ctx = g};
    http_multi_set_io(g->multi, &io);
    g->creds_check_ms = g->o.creds_check_ms > 0 ? g->o.creds_check_ms : GATEWAY_CREDS_CHECK_MS;
    g->creds_ahead = g->o.upstream.creds.get_ahead && !g->o.upstream.bearer_token;
    g->creds_peek = g->creds_ahead && g->o.upstream.creds.peek;
    /* The first set, before the loop serves anyone (as the AWS CLI fetches
     * before its first call). Failing is not fatal: the helper keeps
     * trying, and calls are answered 503 with the reason until it succeeds. */
    if (g->creds_ahead && !refresh_creds_ahead(g))
        g->creds_retry_at = time_mono_ms() + GATEWAY_CREDS_RETRY_MS;
    bool lookups = g->books && gw_books_can_lookup(g);
    if (lookups || g->creds_ahead || g->o.reload_keys) {
        if (pthread_create(&g->lk_thread, NULL, helper_main, g) != 0)
            return err_set(e, BROCK_ERR_INTERNAL, "gateway: could not start the helper thread");
        g->lk_started = true;
        g->lk_lookups = lookups;
    }
    return BROCK_OK;
}

/* ---- application inference profiles ---------------------------------------------- */

/* The region in arn:PARTITION:bedrock:REGION:... ("" when it has none). */
static struct gw_profile *profile_find(struct gateway *g, const char *arn)
{
    struct gw_profile *p = g->profiles;
    while (p && strcmp(p->arn, arn))
        p = p->next;
    return p;
}

/* Find or add the entry for arn. Past GW_MAX_PROFILES an entry whose lookup
 * failed is taken over (made-up ARNs cannot keep real ones out); NULL when
 * every entry is known or being asked. */
static struct gw_profile *profile_entry(struct gateway *g, const char *arn)
{
    struct gw_profile *p = g->profiles, *spare = NULL;
    for (; p && strcmp(p->arn, arn); p = p->next)
        if (p->state == GW_PROFILE_UNKNOWN && !p->call)
            spare = p;
    if (p)
        return p;
    if (g->n_profiles >= GW_MAX_PROFILES) {
        if (spare) {
            memcpy(spare->arn, arn, strlen(arn) + 1);
            spare->retry_ms = 0;
        }
        return spare;
    }
    p = xcalloc(1, sizeof *p);
    p->g = g;
    p->state = GW_PROFILE_UNKNOWN; /* not asked yet: retry_ms 0 */
    memcpy(p->arn, arn, strlen(arn) + 1);
    buf_init(&p->path, 3 * GW_MAX_MODEL_ID + 64);
    http_headers_init(&p->h);
    p->next = g->profiles;
    g->profiles = p;
    g->n_profiles++;
    return p;
}

static void profile_done(void *ctx, enum brock_status st, const struct brock_err *e)
{
    struct gw_profile *p = ctx;
    struct gateway *g = p->g;
    p->call = NULL;
    const struct model_info *m = NULL;
    if (p->state == GW_PROFILE_KNOWN) { /* a client's lookup answered first (gw_profile_learn) */
        aws_response_free(&p->ar);
        return;
    }
    if (st == BROCK_OK)
        m = bedrock_profile_model(p->ar.http.body.ptr, p->ar.http.body.len);
    if (m) {
        p->state = GW_PROFILE_KNOWN;
        p->model = m;
        atomic_fetch_add(&g->st_profiles_known, 1);
        log_info("gateway: application inference profile %.300s is %s: its calls are translated and priced as it",
                 p->arn, m->name);
    } else if (!g->up_stop && st != BROCK_ERR_INTERRUPTED) {
        p->state = GW_PROFILE_UNKNOWN;
        p->retry_ms = time_mono_ms() + GW_PROFILE_RETRY_MS;
        atomic_fetch_add(&g->st_profiles_unknown, 1);
        log_warn("gateway: could not learn the model of application inference profile %.300s (%s); its calls are "
                 "priced at the catalog's highest prices until it is asked again in %d minutes (the gateway's "
                 "credentials need bedrock:GetInferenceProfile)",
                 p->arn, st == BROCK_OK ? "no model the catalog knows in the answer" : e->msg,
                 GW_PROFILE_RETRY_MS / 60000);
    } else {
        p->state = GW_PROFILE_UNKNOWN;
        p->retry_ms = time_mono_ms() + GW_PROFILE_RETRY_MS;
    }
    aws_response_free(&p->ar);
    http_headers_reset(&p->h);
}

static void profile_ask(struct gateway *g, struct gw_profile *p)
{
    char region[64];
    catalog_arn_region(p->arn, region, sizeof region);
    buf_reset(&p->path);
    buf_addstr(&p->path, "/inference-profiles/");
    (void)uri_encode(&p->path, p->arn, strlen(p->arn), false);
    http_headers_reset(&p->h);
    (void)http_headers_add(&p->h, "Accept", "application/json", NULL);
    struct aws_request r = {
        .service = ENDPOINT_SVC_BEDROCK,
        .method = "GET",
        .path = buf_cstr(&p->path),
        .headers = &p->h,
        .protocol = AWSERR_REST_JSON,
        .max_body = 1 << 20,
    };
    p->state = GW_PROFILE_ASKING;
    aws_response_init(&p->ar);
    struct brock_err e = {0};
    enum brock_status st = buf_status(&p->path) == BROCK_OK
                               ? aws_client_start(client_for(g, region), g->multi, &r, &p->ar, profile_done, p,
                                                  &p->call, &e)
                               : err_set(&e, BROCK_ERR_TOO_LARGE, "profile ARN too long for a path");
    if (st != BROCK_OK)
        profile_done(p, st, &e);
}

const struct model_info *gw_profile_model(struct gateway *g, const char *id)
{
    if (!catalog_is_app_profile(id) || strlen(id) > GW_MAX_MODEL_ID)
        return NULL;
    /* once stopped, only what is known; else the entry, added if new */
    struct gw_profile *p = g->up_stop || !g->multi ? profile_find(g, id) : profile_entry(g, id);
    if (!p)
        return NULL; /* stopped, or the table is full of known profiles: priced at the ceiling */
    if (p->state == GW_PROFILE_KNOWN)
        return p->model;
    if (g->up_stop || !g->multi || p->state == GW_PROFILE_ASKING || time_mono_ms() < p->retry_ms)
        return NULL;
    profile_ask(g, p);
    return p->state == GW_PROFILE_KNOWN ? p->model : NULL;
}

void gw_profile_learn(struct gateway *g, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *arn = json_string_value(json_object_get(root, "inferenceProfileArn"));
    const struct model_info *m = arn && catalog_is_app_profile(arn) && strlen(arn) <= GW_MAX_MODEL_ID
                                     ? bedrock_profile_model_json(root)
                                     : NULL;
    if (m) {
        struct gw_profile *p = profile_entry(g, arn);
        if (p && p->state != GW_PROFILE_KNOWN) {
            if (p->state == GW_PROFILE_ASKING) /* its own answer will say the same */
                aws_call_abort(p->call);
            p->state = GW_PROFILE_KNOWN;
            p->model = m;
            atomic_fetch_add(&g->st_profiles_known, 1);
            log_info("gateway: application inference profile %.300s is %s (from a client's GetInferenceProfile)",
                     p->arn, m->name);
        }
    }
    json_decref(root);
}

void gw_profiles_free(struct gateway *g)
{
    while (g->profiles) {
        struct gw_profile *p = g->profiles;
        g->profiles = p->next;
        aws_response_free(&p->ar); /* a no-op on a freed or never-used answer */
        buf_free(&p->path);
        http_headers_cleanup(&p->h);
        free(p);
    }
    g->n_profiles = 0;
}

void gw_upstream_stop(struct gateway *g)
{
    g->up_stop = true;
    if (g->lk_started) {
        pthread_mutex_lock(&g->lk_mu);
        g->lk_stop = true;
        pthread_cond_signal(&g->lk_cv);
        pthread_mutex_unlock(&g->lk_mu);
        pthread_join(g->lk_thread, NULL);
        g->lk_started = false;
        /* what was still queued was never looked up: reap() ends it */
        g->lk_head = g->lk_tail = NULL;
    }
    if (g->multi) {
        /* The loop has ended: stop every call and run their ends here. */
        for (int round = 0; round < 3; round++) {
            bool any = false;
            for (struct gw_job *j = g->live; j; j = j->lnext)
                if (j->call) {
                    gw_job_cancel(j);
                    any = true;
                }
            for (struct gw_profile *p = g->profiles; p; p = p->next)
                if (p->call) {
                    aws_call_abort(p->call);
                    any = true;
                }
            if (!any)
                break;
            http_multi_on_timer(g->multi);
        }
        for (struct gw_job *j = g->live; j; j = j->lnext)
            if (j->call) {
                log_warn("gateway: an upstream call did not stop at shutdown");
                j->call = NULL;
            }
        for (struct gw_profile *p = g->profiles; p; p = p->next)
            if (p->call) {
                log_warn("gateway: a profile lookup did not stop at shutdown");
                p->call = NULL;
            }
        http_multi_free(g->multi);
        g->multi = NULL;
    }
    /* libcurl closed its sockets above (io_closing); anything left was never
     * closed by it */
    for (size_t i = 0; i < g->nsocks; i++)
        sock_drop(g, &g->socks[i]);
    free(g->socks);
    g->socks = NULL;
    g->nsocks = 0;
    /* calls still waiting for credentials: never sent */
    while (g->parked) {
        struct gw_job *j = g->parked;
        g->parked = j->park_next;
        j->park_next = NULL;
        local_error(j, 503, "ServiceUnavailableException", "brock gateway: shutting down");
        job_done(j);
    }
    if (g->park_timer) {
        event_free(g->park_timer);
        g->park_timer = NULL;
    }
    if (g->up_timer) {
        event_free(g->up_timer);
        g->up_timer = NULL;
    }
    for (size_t i = 0; i < BROCK_ARRAY_LEN(g->up); i++) {
        aws_client_free(g->up[i]);
        g->up[i] = NULL;
    }
}
