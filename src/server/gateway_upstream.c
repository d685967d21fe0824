/* gateway_upstream.c - the gateway's worker threads: one upstream call each,
 * through aws_client (the gateway's own credentials, endpoint and retry
 * policy), with failover to the next target on throttling, sticky per client
 * session, and event streams handed to the loop frame by frame (gateway.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../aws/eventstream.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"
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

static void wake(struct gateway *g)
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
        wake(g);
}

/* The worker is finished with j: after this it never touches it again. */
static void notify_done(struct gateway *g, struct gw_job *j, struct gw_worker *w)
{
    bool wk = false;
    pthread_mutex_lock(&g->notify_mu);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    j->worker = NULL;
    if (w)
        w->cancel = 0;
    pthread_mutex_unlock(&j->mu);
    push_locked(g, j, &wk);
    pthread_mutex_unlock(&g->notify_mu);
    if (wk)
        wake(g);
}

void gw_job_cancel(struct gw_job *j)
{
    pthread_mutex_lock(&j->mu);
    j->cancel = true;
    if (j->worker)
        j->worker->cancel = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
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

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t sticky_get(struct gateway *g, const char *key, int64_t now)
{
    size_t t = 0;
    pthread_mutex_lock(&g->sess_mu);
    if (g->sess) {
        for (struct gw_session *s = g->sess[fnv(key) % SESS_BUCKETS]; s; s = s->next)
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
    struct gw_session **b = &g->sess[fnv(key) % SESS_BUCKETS];
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

struct call {
    struct gw_worker *w;
    struct gw_job *j;
    bool head_sent;
    bool saw_exception;
    bool decode_failed;
    char decode_err[300];
    uint64_t frames_bytes;
};

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

static enum brock_status on_head(void *ctx, const struct http_response *r)
{
    struct call *c = ctx;
    struct gw_job *j = c->j;
    if (r->status < 200 || r->status >= 300 || c->head_sent)
        return BROCK_OK;
    copy_resp_headers(j, &r->headers);
    c->head_sent = true;
    j->stream = true;
    j->status = (int)r->status;
    pthread_mutex_lock(&j->mu);
    j->head_ready = true;
    pthread_mutex_unlock(&j->mu);
    gw_notify(j->g, j);
    return BROCK_OK;
}

/* Hand one frame to the loop, waiting while the client is behind. */
static enum brock_status push_frame(struct call *c, const void *p, size_t n)
{
    struct gw_job *j = c->j;
    bool was_empty;
    pthread_mutex_lock(&j->mu);
    while (j->out.len > GATEWAY_STREAM_PENDING_MAX && !j->cancel)
        pthread_cond_wait(&j->cv, &j->mu);
    if (j->cancel) {
        pthread_mutex_unlock(&j->mu);
        return BROCK_ERR_INTERRUPTED;
    }
    was_empty = j->out.len == 0;
    buf_add(&j->out, p, n);
    pthread_mutex_unlock(&j->mu);
    if (was_empty)
        gw_notify(j->g, j);
    /* a copy for the cache only of what finish() may cache */
    if (j->cache_candidate && j->info.deterministic && !j->info.tool_results && !j->tee_over &&
        buf_add(&j->tee, p, n) != BROCK_OK)
        j->tee_over = true;
    return BROCK_OK;
}

static enum brock_status on_body(void *ctx, const char *p, size_t n)
{
    struct call *c = ctx;
    struct gw_job *j = c->j;
    if (c->w->cancel)
        return BROCK_ERR_INTERRUPTED;
    struct brock_err e = {0};
    if (es_decoder_feed(c->w->dec, p, n, &e) != BROCK_OK) {
        c->decode_failed = true;
        snprintf(c->decode_err, sizeof c->decode_err, "%.290s", e.msg);
        return BROCK_ERR_PARSE;
    }
    for (;;) {
        struct es_message m;
        bool got = false;
        if (es_decoder_next(c->w->dec, &m, &got, &e) != BROCK_OK) {
            c->decode_failed = true;
            snprintf(c->decode_err, sizeof c->decode_err, "%.290s", e.msg);
            return BROCK_ERR_PARSE;
        }
        if (!got)
            break;
        if (!c->frames_bytes)
            j->ttft_ms = (double)(time_mono_ns() - j->t0_ns) / 1e6;
        c->frames_bytes += m.total_len;
        enum es_kind kind = es_message_kind(&m);
        if (kind == ES_KIND_EXCEPTION || kind == ES_KIND_ERROR) {
            c->saw_exception = true;
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
        enum brock_status st = push_frame(c, m.raw, m.total_len);
        if (st != BROCK_OK)
            return st;
    }
    return BROCK_OK;
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

static struct aws_client *client_for(struct gw_worker *w, const char *region)
{
    struct gateway *g = w->g;
    size_t i = 0;
    while (i < g->n_regions && strcmp(g->regions[i], region))
        i++;
    if (i == g->n_regions)
        i = 0;
    if (!w->clients[i]) {
        struct aws_client_config cfg = g->o.upstream;
        cfg.region = g->regions[i];
        cfg.http.cancel = &w->cancel;
        w->clients[i] = aws_client_new(&cfg);
    }
    return w->clients[i];
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

/* Call one target; true when the caller should try the next one (throttled
 * before anything was sent to the client). */
static bool call_target(struct gw_worker *w, struct gw_job *j, const struct gateway_target *t, const char *body,
                        size_t blen)
{
    struct gateway *g = w->g;
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

    struct buf path = BUF_INIT(SIGV4_MAX_PATH);
    if (j->op == GATEWAY_OP_CONTROL) {
        buf_addstr(&path, httpd_req_path(j->req));
    } else {
        buf_addstr(&path, "/model/");
        (void)uri_encode(&path, model, strlen(model), false);
        buf_addc(&path, '/');
        buf_addstr(&path, gateway_op_name(j->op));
    }
    struct http_headers h = HTTP_HEADERS_INIT;
    build_headers(j, &h);
    bool streaming = j->op == GATEWAY_OP_INVOKE_STREAM || j->op == GATEWAY_OP_CONVERSE_STREAM;
    struct call c = {.w = w, .j = j};
    es_decoder_reset(w->dec);
    const char *q = httpd_req_query(j->req);
    struct aws_request r = {
        .service = j->op == GATEWAY_OP_CONTROL ? ENDPOINT_SVC_BEDROCK : ENDPOINT_SVC_BEDROCK_RUNTIME,
        .method = httpd_req_method(j->req),
        .path = buf_cstr(&path),
        .query = j->op == GATEWAY_OP_CONTROL && *q ? q : NULL,
        .headers = &h,
        .body = body,
        .body_len = blen,
        .protocol = AWSERR_REST_JSON,
        .on_body = streaming ? on_body : NULL,
        .on_head = streaming ? on_head : NULL,
        .ctx = &c,
        .max_body = GATEWAY_MAX_ANSWER,
    };
    struct aws_response out;
    aws_response_init(&out);
    struct brock_err e = {0};
    enum brock_status st = buf_status(&path) == BROCK_OK
                               ? aws_client_send(client_for(w, region), &r, &out, &e)
                               : err_set(&e, BROCK_ERR_TOO_LARGE, "model id too long for a path");
    j->attempts += out.attempts;
    if (out.request_id[0])
        snprintf(j->request_id, sizeof j->request_id, "%s", out.request_id);
    bool next = false;

    if (c.head_sent) {
        /* The client has the head: whatever happens now ends its stream. */
        if (st == BROCK_OK && es_decoder_finish(w->dec, &e) != BROCK_OK) {
            c.decode_failed = true;
            snprintf(c.decode_err, sizeof c.decode_err, "%.290s", e.msg);
        }
        bool cancelled = w->cancel || st == BROCK_ERR_INTERRUPTED;
        if (!cancelled && !c.saw_exception && (st != BROCK_OK || c.decode_failed || !j->usage.complete)) {
            char msg[700];
            if (c.decode_failed)
                snprintf(msg, sizeof msg, "brock gateway: the upstream event stream broke after %llu bytes: %.500s",
                         (unsigned long long)c.frames_bytes, c.decode_err);
            else if (st != BROCK_OK)
                snprintf(msg, sizeof msg, "brock gateway: the upstream stream was cut after %llu bytes: %.500s",
                         (unsigned long long)c.frames_bytes, e.msg);
            else
                snprintf(msg, sizeof msg,
                         "brock gateway: the upstream stream ended after %llu bytes without its final event",
                         (unsigned long long)c.frames_bytes);
            struct buf x = BUF_INIT(8192);
            if (gw_frame_exception(&x, "internalServerException", msg) == BROCK_OK)
                (void)push_frame(&c, x.ptr, x.len);
            buf_free(&x);
            j->cut = true;
            snprintf(j->err_code, sizeof j->err_code, "%s", "StreamCut");
            snprintf(j->err_msg, sizeof j->err_msg, "%s", msg);
            atomic_fetch_add(&g->st_cut, 1);
        }
    } else if (st == BROCK_OK) {
        j->status = (int)out.http.status;
        copy_resp_headers(j, &out.http.headers);
        buf_free(&j->body);
        j->body = out.http.body; /* take the collected answer */
        buf_init(&out.http.body, GATEWAY_MAX_ANSWER);
        if (j->op == GATEWAY_OP_INVOKE || j->op == GATEWAY_OP_CONVERSE)
            gateway_usage_from_answer(j->op, buf_cstr(&j->body), j->body.len, &j->usage);
        else
            j->usage.complete = true;
    } else if (out.http.status) {
        /* Bedrock's own error answer: passed through as it came. */
        j->status = (int)out.http.status;
        copy_resp_headers(j, &out.http.headers);
        buf_free(&j->body);
        j->body = out.http.body;
        buf_init(&out.http.body, GATEWAY_MAX_ANSWER);
        snprintf(j->err_code, sizeof j->err_code, "%s", e.aws_code[0] ? e.aws_code : brock_status_name(st));
        snprintf(j->err_msg, sizeof j->err_msg, "%s", e.msg);
        if (st == BROCK_ERR_THROTTLED) {
            j->throttles++;
            next = !w->cancel;
        }
    } else {
        j->local_error = true;
        if (st == BROCK_ERR_NETWORK) {
            j->status = 503;
            snprintf(j->err_code, sizeof j->err_code, "ServiceUnavailableException");
            snprintf(j->err_msg, sizeof j->err_msg, "brock gateway: upstream unreachable: %.600s", e.msg);
        } else if (st == BROCK_ERR_INTERRUPTED) {
            j->status = 503;
            snprintf(j->err_code, sizeof j->err_code, "interrupted");
            snprintf(j->err_msg, sizeof j->err_msg, "brock gateway: the call was stopped (client gone or shutdown)");
        } else {
            j->status = 500;
            snprintf(j->err_code, sizeof j->err_code, "InternalServerException");
            snprintf(j->err_msg, sizeof j->err_msg, "brock gateway: could not call upstream: %.600s", e.msg);
        }
        log_info("gateway: upstream %s for user %s: %s", brock_status_name(st), j->client->key->user, e.msg);
    }
    aws_response_free(&out);
    http_headers_cleanup(&h);
    buf_free(&path);
    return next;
}

static void run_job(struct gw_worker *w, struct gw_job *j)
{
    struct gateway *g = w->g;
    pthread_mutex_lock(&j->mu);
    j->worker = w;
    bool cancelled = j->cancel;
    w->cancel = cancelled;
    pthread_mutex_unlock(&j->mu);

    if (cancelled) {
        j->local_error = true;
        j->status = 503;
        snprintf(j->err_code, sizeof j->err_code, "interrupted");
        notify_done(g, j, w);
        return;
    }
    size_t blen = 0;
    const char *body = httpd_req_body(j->req, &blen);
    char *tbody = NULL;
    size_t tlen = 0;
    gateway_translate(j->op, j->model_id, body, blen, &tbody, &tlen, &j->info);
    /* The persistent cache only for what could have been stored (a store
     * read is a write there: never for every request). */
    if (j->cache_candidate && j->info.deterministic && !j->info.tool_results) {
        struct gw_entry *e = gw_books_lookup(g, j->cache_key);
        if (e) {
            free(tbody);
            j->entry = e;
            j->cache_hit = true;
            j->status = 200;
            notify_done(g, j, w);
            return;
        }
    }
    if (g->o.no_translate) {
        free(tbody);
        tbody = NULL;
        j->info.changes[0] = '\0';
    }
    if (tbody) {
        atomic_fetch_add(&g->st_translated, 1);
        log_info("gateway: %s %s for user %s: %s", gateway_op_name(j->op), j->model_id, j->client->key->user,
                 j->info.changes);
        body = tbody;
        blen = tlen;
    }
    char skey[300];
    snprintf(skey, sizeof skey, "%s\x1f%s", j->client->key->user, j->info.session);
    int64_t now = gw_now_ms(g);
    size_t t = j->op == GATEWAY_OP_CONTROL ? 0 : sticky_get(g, skey, now);
    for (; t < g->n_targets; t++) {
        bool next = call_target(w, j, &g->targets[t], body, blen);
        if (!next || t + 1 >= g->n_targets)
            break;
        atomic_fetch_add(&g->st_failovers, 1);
        log_info("gateway: throttled on %s in %s for user %s; moving the session to target %zu", j->profile,
                 j->region, j->client->key->user, t + 1);
        sticky_set(g, skey, t + 1, now);
        /* a fresh answer for the next target */
        j->status = 0;
        buf_reset(&j->body);
        http_headers_reset(&j->rh);
        j->err_code[0] = j->err_msg[0] = '\0';
    }
    free(tbody);
    notify_done(g, j, w);
}

int gw_worker_idle_ms = GW_WORKER_IDLE_MS;

/* Called with work_mu held by a worker idle past gw_worker_idle_ms and still
 * on the idle stack: it leaves the pool. Workers retired earlier are joined
 * (they have left or are about to), this one waits on g->retired for the
 * next to retire or for gw_workers_stop. */
static struct gw_worker *retire_locked(struct gateway *g, struct gw_worker *w)
{
    struct gw_worker **pp = &g->idle;
    while (*pp != w)
        pp = &(*pp)->idle_next;
    *pp = w->idle_next;
    w->idle_next = NULL;
    w->idle = false;
    g->n_idle--;
    for (size_t i = 0; i < g->n_workers; i++)
        if (g->workers[i] == w) {
            g->workers[i] = g->workers[--g->n_workers];
            break;
        }
    atomic_store(&g->st_workers, g->n_workers);
    struct gw_worker *old = g->retired;
    w->retired_next = NULL;
    g->retired = w;
    return old;
}

static void join_retired(struct gw_worker *list)
{
    while (list) {
        struct gw_worker *w = list;
        list = w->retired_next;
        pthread_join(w->th, NULL);
        sem_destroy(&w->wake);
        free(w);
    }
}

/* sem_timedwait takes CLOCK_REALTIME: a clock step only moves when an idle
 * worker retires. */
static void idle_deadline(struct timespec *at, int ms)
{
    clock_gettime(CLOCK_REALTIME, at);
    at->tv_sec += ms / 1000;
    at->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (at->tv_nsec >= 1000000000L) {
        at->tv_sec++;
        at->tv_nsec -= 1000000000L;
    }
}

/* Sleep on the idle stack until handed a job or told to stop (true), or
 * until idle too long (false, work_mu held, the worker retired). */
static bool idle_wait(struct gateway *g, struct gw_worker *w, struct gw_worker **retired)
{
    struct timespec at;
    idle_deadline(&at, gw_worker_idle_ms);
    for (;;) {
        if (sem_timedwait(&w->wake, &at) == 0)
            return true;
        if (errno == EINTR)
            continue;
        pthread_mutex_lock(&g->work_mu);
        if (!w->idle) {
            /* taken off the stack (a job, or the stop) as the time ran out: its post is on the way */
            pthread_mutex_unlock(&g->work_mu);
            while (sem_wait(&w->wake) != 0 && errno == EINTR)
                ;
            return true;
        }
        if (g->n_workers > GW_WORKERS_KEPT) {
            *retired = retire_locked(g, w);
            return false;
        }
        pthread_mutex_unlock(&g->work_mu);
        idle_deadline(&at, gw_worker_idle_ms);
    }
}

/* A worker runs what it is handed (w->job, set by gw_dispatch under work_mu
 * before it posts w->wake) and then whatever waits on the ready list; then
 * it goes back on the idle stack and sleeps on its own semaphore. Handing a
 * job to a sleeping worker directly costs one futex wake-up and no lock on
 * the worker's side; a shared condition variable made every woken worker
 * fight the loop and the other workers for work_mu first. A worker idle for
 * gw_worker_idle_ms leaves (GW_WORKERS_KEPT stay): a peak of 500 streams
 * does not keep 500 threads and their connections for good. */
static void *worker_main(void *arg)
{
    struct gw_worker *w = arg;
    struct gateway *g = w->g;
    struct gw_worker *retired = NULL;
    w->dec = es_decoder_new();
    pthread_mutex_lock(&g->work_mu);
    for (;;) {
        if (g->ready_head) {
            struct gw_job *j = g->ready_head;
            g->ready_head = j->qnext;
            if (!g->ready_head)
                g->ready_tail = NULL;
            j->qnext = NULL;
            w->job = j;
            pthread_mutex_unlock(&g->work_mu);
            run_job(w, j);
            pthread_mutex_lock(&g->work_mu);
            w->job = NULL;
            continue;
        }
        if (g->workers_stop)
            break;
        /* idle: most recently used on top, so the fewest threads stay warm
         * and the ones below are those that retire */
        w->idle_next = g->idle;
        w->idle = true;
        g->idle = w;
        g->n_idle++;
        pthread_mutex_unlock(&g->work_mu);
        if (!idle_wait(g, w, &retired))
            break; /* retired (work_mu held) */
        struct gw_job *j = w->job; /* handed over by gw_dispatch, or NULL: stop */
        if (j)
            run_job(w, j);
        pthread_mutex_lock(&g->work_mu);
        w->job = NULL;
    }
    pthread_mutex_unlock(&g->work_mu);
    join_retired(retired);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(w->clients); i++)
        aws_client_free(w->clients[i]);
    es_decoder_free(w->dec);
    return NULL;
}

void gw_dispatch(struct gateway *g, struct gw_job *j)
{
    pthread_mutex_lock(&g->work_mu);
    if (g->workers_stop) {
        pthread_mutex_unlock(&g->work_mu);
        j->local_error = true;
        j->status = 503;
        snprintf(j->err_code, sizeof j->err_code, "ServiceUnavailableException");
        snprintf(j->err_msg, sizeof j->err_msg, "brock gateway: shutting down");
        notify_done(g, j, NULL);
        return;
    }
    struct gw_worker *idle = g->idle;
    if (idle) {
        g->idle = idle->idle_next;
        idle->idle_next = NULL;
        idle->idle = false;
        g->n_idle--;
        idle->job = j;
        pthread_mutex_unlock(&g->work_mu);
        sem_post(&idle->wake);
        return;
    }
    /* every worker is busy: the job waits for the first one free, and a new
     * worker starts while there are fewer than max_upstream */
    j->qnext = NULL;
    if (g->ready_tail)
        g->ready_tail->qnext = j;
    else
        g->ready_head = j;
    g->ready_tail = j;
    if (g->n_workers < g->max_upstream) {
        struct gw_worker *w = xcalloc(1, sizeof *w);
        w->g = g;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, GW_WORKER_STACK);
        if (sem_init(&w->wake, 0, 0) == 0 && pthread_create(&w->th, &attr, worker_main, w) == 0) {
            g->workers = xrealloc(g->workers, (g->n_workers + 1) * sizeof *g->workers);
            g->workers[g->n_workers++] = w;
            atomic_store(&g->st_workers, g->n_workers);
        } else {
            sem_destroy(&w->wake);
            free(w);
            log_warn("gateway: could not start a worker thread (%zu running)", g->n_workers);
        }
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&g->work_mu);
}

void gw_workers_stop(struct gateway *g)
{
    pthread_mutex_lock(&g->work_mu);
    g->workers_stop = true;
    struct gw_job *left = g->ready_head;
    g->ready_head = g->ready_tail = NULL;
    for (size_t i = 0; i < g->n_workers; i++)
        if (g->workers[i]->job)
            gw_job_cancel(g->workers[i]->job);
    while (g->idle) { /* wake the sleepers with no job: they see the stop */
        struct gw_worker *w = g->idle;
        g->idle = w->idle_next;
        w->idle_next = NULL;
        w->idle = false;
        g->n_idle--;
        sem_post(&w->wake);
    }
    pthread_mutex_unlock(&g->work_mu);
    while (left) {
        struct gw_job *j = left;
        left = j->qnext;
        j->local_error = true;
        j->status = 503;
        snprintf(j->err_code, sizeof j->err_code, "interrupted");
        notify_done(g, j, NULL);
    }
    for (size_t i = 0; i < g->n_workers; i++) {
        pthread_join(g->workers[i]->th, NULL);
        sem_destroy(&g->workers[i]->wake);
        free(g->workers[i]);
    }
    /* no worker retires after the stop: the list is final */
    pthread_mutex_lock(&g->work_mu);
    struct gw_worker *retired = g->retired;
    g->retired = NULL;
    pthread_mutex_unlock(&g->work_mu);
    join_retired(retired);
    free(g->workers);
    g->workers = NULL;
    g->n_workers = 0;
}
