/* batch_local.c - the local engine: many InvokeModel calls over libcurl multi (batch.h).
 *
 * One thread. Records flow through a window of W slots (record i lives in
 * slot i % W): read and prepared -> ready (a min-heap by record number, so
 * the oldest unfinished records go first and the ordered output keeps
 * moving) -> running on one of `concurrency` lanes -> done, or back to a
 * delayed heap (by retry time) -> written in order. The reader stops when
 * the window is full, so memory is bounded by W records whatever the input
 * size. Admission control (batch_admit.c) decides when the next request may
 * go. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../agent/budget.h"
#include "../agent/respcache.h"
#include "../aws/awserr.h"
#include "../aws/http.h"
#include "../aws/retry.h"
#include "../aws/sigv4.h"
#include "../bedrock/bedrock_wire.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"
#include "batch_int.h"

#define SYNC_EVERY_MS 1000
#define BUDGET_EVERY_MS 250
#define FLUSH_EVERY_MS 50
#define FLUSH_RECORDS 512
#define THROTTLE_ATTEMPTS_FACTOR 4       /* throttled attempts: 4 x max_attempts */
#define THROTTLE_BACKOFF_MAX_MS 4000
#define MIN_WINDOW 256
#define KEEP_BODY_BYTES ((size_t)64 * 1024) /* a slot keeps a request body's memory up to this */

enum slot_state { S_EMPTY = 0, S_READY, S_WAIT, S_RUNNING, S_DONE };

struct slot {
    enum slot_state state;
    size_t index, line;
    const char *file;
    char *id;
    struct batch_prepared prep;
    int attempts;       /* sent so far */
    int throttles;      /* of them, answered with throttling */
    int64_t not_before; /* S_WAIT: mono ms */
    int64_t started;    /* first attempt, mono ms */
    bool refreshed;     /* credentials refreshed once for this record */
    struct buf out;     /* S_DONE: the rendered record */
};

struct lane {
    struct engine *en;
    struct slot *s;
    struct http_response resp;
    struct http_headers h;
    struct buf url;
    int64_t sent_ms;
    double tokens;
};

/* A min-heap of record indexes, by index or by retry time. */
struct heap {
    size_t *v;
    size_t n;
    bool by_time;
    struct engine *en;
};

struct engine {
    const struct batch_options *o;
    struct batch_defaults d;
    struct batch_reader *rd;
    struct batch_out *out;
    struct aws_client *aws;
    const struct endpoint *ep;
    struct sigv4_signer *signer;
    struct http_multi *multi;
    struct lane *lanes;
    size_t n_lanes, free_lanes;
    struct slot *slots;
    size_t window;
    size_t next_read, next_write, total;
    bool reader_done;
    struct heap ready, wait;
    struct batch_admit admit;
    int max_attempts;
    int64_t retry_base;
    struct batch_summary *sum;
    struct batch_progress pr;
    int64_t t0, last_progress, last_sync;
    struct buf wbuf; /* records being written */
    enum brock_status fatal;
    struct brock_err fatal_err;
    int64_t skew_ms;
    double run_spent;         /* USD this run */
    int64_t next_budget_ms;   /* when to check the budget again */
    bool budget_checked;
    bool price_warned; /* a model of unknown price was warned of */
    int64_t pending_since;    /* when the oldest unwritten finished record was known */
    double spent_at_check;
    struct budget_report budget_rep;
    struct batch_books books; /* ledger rows, committed in groups (batch_books.c) */
};

/* ---- heaps ----------------------------------------------------------------------- */

static struct slot *slot_of(struct engine *en, size_t index)
{
    return &en->slots[index % en->window];
}

static bool heap_less(const struct heap *h, size_t a, size_t b)
{
    if (h->by_time) {
        int64_t ta = slot_of(h->en, a)->not_before, tb = slot_of(h->en, b)->not_before;
        if (ta != tb)
            return ta < tb;
    }
    return a < b;
}

static void heap_push(struct heap *h, size_t x)
{
    size_t i = h->n++;
    h->v[i] = x;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(h, h->v[i], h->v[p]))
            break;
        size_t t = h->v[i];
        h->v[i] = h->v[p];
        h->v[p] = t;
        i = p;
    }
}

static size_t heap_pop(struct heap *h)
{
    size_t top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && heap_less(h, h->v[l], h->v[m]))
            m = l;
        if (r < h->n && heap_less(h, h->v[r], h->v[m]))
            m = r;
        if (m == i)
            break;
        size_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

static void warn(struct engine *en, const char *msg)
{
    if (en->o->on_warning)
        en->o->on_warning(en->o->cb_ctx, msg);
}

/* ---- results ---------------------------------------------------------------------- */

static void finish(struct engine *en, struct slot *s, struct batch_result *r)
{
    r->line = s->line;
    r->file = s->file;
    r->id = s->id;
    r->attempts = s->attempts;
    buf_reset(&s->out);
    batch_render(en->o->format, r, &s->out);
    s->state = S_DONE;
    struct batch_summary *sum = en->sum;
    switch (r->status) {
    case BATCH_OK:
        sum->ok++;
        break;
    case BATCH_ERROR:
        sum->failed++;
        en->pr.failed++;
        break;
    case BATCH_INVALID:
        sum->invalid++;
        en->pr.invalid++;
        break;
    }
    sum->cached += r->cached;
    sum->input_tokens += r->usage.input_tokens + r->usage.cache_read_tokens + r->usage.cache_write_tokens;
    sum->output_tokens += r->usage.output_tokens;
    sum->cost_usd += r->cost_usd;
    /* the body is not needed any more; its memory is kept for the slot's
     * next record unless it is large (a prompt file) */
    if (s->prep.body.cap > KEEP_BODY_BYTES)
        buf_free(&s->prep.body);
    else
        buf_reset(&s->prep.body);
}

static void ledger(struct engine *en, struct slot *s, const struct model_usage *u, const char *status,
                   const char *request_id, double cost, double latency_ms, bool cache_hit)
{
    if (!en->o->store)
        return;
    struct store_ledger_row row = {
        .user = en->o->user,
        .project = en->o->project,
        .model = s->prep.model.model_id,
        .profile = s->prep.model.model_id,
        .region = en->d.region,
        .api = "messages",
        .usage = *u,
        .latency_ms = latency_ms,
        .retries = s->attempts > 1 ? s->attempts - 1 : 0,
        .status = status,
        .request_id = request_id && *request_id ? request_id : NULL,
        .cost_usd = cost,
        .cache_hit = cache_hit,
        .routing = s->prep.model.model ? "brock batch (local engine)" : "brock batch (local engine); price estimated",
    };
    batch_books_add(&en->books, &row);
}

/* A parsed answer (from Bedrock, or the cache with `billed` as first billed)
 * -> the record, the ledger, and the cache. */
static void answered(struct engine *en, struct slot *s, struct model_result *res, const char *request_id,
                     const struct model_usage *billed, double latency_ms)
{
    bool cached = billed != NULL;
    const struct model_usage *u = cached ? billed : &res->usage;
    static const struct model_usage none;
    char *text = model_result_text(res);
    double cost = cached ? 0 : batch_cost(&s->prep.model, u, false);
    if (!cached && !s->prep.model.model && !en->price_warned) {
        en->price_warned = true;
        char msg[512];
        struct model_prices top = catalog_ceiling_prices();
        snprintf(msg, sizeof msg,
                 "no price is known for %.300s: its calls are booked at the catalog's highest prices ($%g in, $%g out "
                 "per million tokens) so budgets hold",
                 s->prep.model.model_id, top.input, top.output);
        warn(en, msg);
    }
    struct batch_result r = {
        .status = BATCH_OK,
        .model_id = s->prep.model.model_id,
        .text = text,
        .text_len = strlen(text),
        .stop_reason = res->stop_reason,
        .usage = *u,
        .cost_usd = cost,
        .cached = cached,
        .request_id = request_id,
    };
    ledger(en, s, cached ? &none : u, "ok", request_id, cost, latency_ms, cached);
    if (!cached && s->prep.cache_key[0] && en->o->store && en->o->cache && respcache_storable(res)) {
        struct brock_err ce = {0};
        if (respcache_put(en->o->store, s->prep.cache_key, res, cost, en->o->cache->ttl_s, 0, &ce) != BROCK_OK)
            warn(en, ce.msg); /* the answer is kept; only the cache missed it */
    }
    en->pr.input_tokens += u->input_tokens + u->cache_read_tokens + u->cache_write_tokens;
    en->pr.output_tokens += u->output_tokens;
    en->pr.cost_usd += cost;
    en->run_spent += cost;
    finish(en, s, &r);
    free(text);
}

static bool answer(struct engine *en, struct slot *s, const char *body, size_t len, const char *request_id,
                   double latency_ms, struct brock_err *e)
{
    struct model_result res;
    model_result_init(&res);
    bool ok = bedrock_parse_invoke_answer(body, len, &res, e) == BROCK_OK;
    if (ok)
        answered(en, s, &res, request_id, NULL, latency_ms);
    model_result_cleanup(&res);
    return ok;
}

static void fail_record(struct engine *en, struct slot *s, const struct brock_err *e, const char *code,
                        double latency_ms, bool called)
{
    struct batch_result r = {
        .status = BATCH_ERROR,
        .model_id = s->prep.model.model_id,
        .err_code = code && *code ? code : e->aws_code[0] ? e->aws_code : brock_status_name(e->status),
        .err_msg = e->msg,
        .http_status = e->http_status,
        .request_id = e->request_id,
    };
    if (called) {
        static const struct model_usage none;
        ledger(en, s, &none, r.err_code, e->request_id, 0, latency_ms, false);
    }
    finish(en, s, &r);
}

/* ---- reading and preparing ------------------------------------------------------ */

static bool from_cache(struct engine *en, struct slot *s)
{
    if (!en->o->store || !s->prep.cache_key[0])
        return false;
    struct model_result res;
    struct respcache_meta meta;
    model_result_init(&res);
    bool hit = false;
    struct brock_err e = {0};
    if (respcache_get(en->o->store, s->prep.cache_key, &res, &meta, &hit, &e) == BROCK_OK && hit)
        answered(en, s, &res, meta.request_id, &meta.usage, 0);
    model_result_cleanup(&res);
    return hit;
}


/* Read records into free slots of the window. */
static void fill(struct engine *en)
{
    while (!en->reader_done && en->next_read - en->next_write < en->window) {
        struct batch_item it;
        struct brock_err e = {0};
        enum brock_status st = batch_reader_next(en->rd, true, &it, &e);
        if (st == BROCK_ERR_NOT_FOUND) {
            en->reader_done = true;
            break;
        }
        if (st != BROCK_OK) {
            en->fatal = st;
            en->fatal_err = e;
            en->reader_done = true;
            break;
        }
        struct slot *s = slot_of(en, it.index);
        s->index = it.index;
        s->line = it.line;
        s->file = it.file;
        s->id = it.l.id;
        it.l.id = NULL;
        s->attempts = 0;
        s->throttles = 0;
        s->refreshed = false;
        en->next_read = it.index + 1;
        struct buf body = s->prep.body; /* reused: no allocation per record */
        memset(&s->prep, 0, sizeof s->prep);
        s->prep.body = body;
        if (it.invalid) {
            warn(en, it.err);
            struct batch_result r = {.status = BATCH_INVALID, .err_code = "InvalidInput", .err_msg = it.err};
            finish(en, s, &r);
        } else if (batch_prepare(&en->d, &it, &s->prep, &e) != BROCK_OK) {
            warn(en, e.msg);
            struct batch_result r = {.status = BATCH_INVALID, .err_code = "InvalidInput", .err_msg = e.msg};
            finish(en, s, &r);
        } else if (!from_cache(en, s)) {
            s->state = S_READY;
            heap_push(&en->ready, s->index);
        }
        batch_item_cleanup(&it);
    }
}

/* ---- sending ---------------------------------------------------------------------- */

static void done_cb(void *ctx, enum brock_status st, const struct brock_err *e);

static enum brock_status build_request(struct engine *en, struct lane *l, struct brock_err *e)
{
    const struct endpoint *ep = en->ep;
    struct slot *s = l->s;
    buf_reset(&l->url);
    buf_addstr(&l->url, ep->url);
    size_t path_at = l->url.len - strlen(ep->base_path);
    buf_addstr(&l->url, "/model/");
    uri_encode(&l->url, s->prep.model.model_id, strlen(s->prep.model.model_id), false);
    buf_addstr(&l->url, "/invoke");
    if (buf_status(&l->url) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "request URL too long");
    http_headers_reset(&l->h);
    enum brock_status st = http_headers_add(&l->h, "Host", ep->authority, e);
    if (st == BROCK_OK)
        st = http_headers_add(&l->h, "Content-Type", "application/json", e);
    if (st == BROCK_OK)
        st = http_headers_add(&l->h, "Accept", "application/json", e);
    if (st != BROCK_OK)
        return st;
    const struct aws_client_config *ac = &en->o->aws;
    if (ac->bearer_token && *ac->bearer_token) {
        size_t n = strlen(ac->bearer_token) + 8;
        char *v = xmalloc(n);
        snprintf(v, n, "Bearer %s", ac->bearer_token);
        st = http_headers_add(&l->h, "Authorization", v, e);
        secure_wipe(v, n);
        free(v);
        return st;
    }
    if (!ac->creds.get)
        return err_set(e, BROCK_ERR_CREDENTIALS, "no AWS credentials configured");
    struct aws_credentials *creds = NULL;
    if ((st = ac->creds.get(ac->creds.ctx, &creds, e)) != BROCK_OK)
        return st;
    struct sigv4_header sh[3];
    for (size_t i = 0; i < 3; i++) {
        const char *n = http_headers_name(&l->h, i), *v = http_headers_value(&l->h, i);
        sh[i] = (struct sigv4_header){n, strlen(n), v, strlen(v)};
    }
    const char *path = buf_cstr(&l->url) + path_at;
    struct sigv4_request sr = {
        .method = "POST",
        .path = path,
        .path_len = strlen(path),
        .headers = sh,
        .n_headers = 3,
        .body = s->prep.body.ptr,
        .body_len = s->prep.body.len,
    };
    struct sigv4_params sp = {
        .creds = creds,
        .region = ep->signing_region[0] ? ep->signing_region : en->d.region,
        .service = ep->signing_name,
        .time_s = (clock_now_ms(en->o->clock) + en->skew_ms) / 1000,
    };
    const struct sigv4_output *so = NULL;
    st = sigv4_sign_headers(en->signer, &sr, &sp, &so, e);
    aws_credentials_release(creds);
    if (st != BROCK_OK)
        return st;
    /* the signer's outputs stay valid until its next call: copy them in */
    for (size_t i = 0; i < so->n_headers && st == BROCK_OK; i++)
        st = http_headers_addn(&l->h, so->headers[i].name, so->headers[i].name_len, so->headers[i].value,
                               so->headers[i].value_len, e);
    return st;
}

static void start(struct engine *en, struct slot *s, int64_t now)
{
    struct lane *l = NULL;
    for (size_t i = 0; i < en->n_lanes; i++)
        if (!en->lanes[i].s) {
            l = &en->lanes[i];
            break;
        }
    if (!l) /* the caller saw free_lanes > 0: a lane is free, or the count is wrong */
        abort();
    l->s = s;
    en->free_lanes--;
    s->state = S_RUNNING;
    s->attempts++;
    if (s->attempts == 1)
        s->started = now;
    struct brock_err e = {0};
    enum brock_status st = build_request(en, l, &e);
    if (st == BROCK_OK) {
        struct http_request hr = {
            .method = "POST",
            .url = buf_cstr(&l->url),
            .headers = &l->h,
            .body = s->prep.body.ptr,
            .body_len = s->prep.body.len,
            .max_body = BEDROCK_MAX_CONTENT_BYTES,
        };
        l->sent_ms = now;
        l->tokens = (double)s->prep.est_tokens;
        st = http_multi_add(en->multi, &hr, &l->resp, done_cb, l, &e);
        if (st == BROCK_OK) {
            batch_admit_sent(&en->admit, now, l->tokens);
            return;
        }
    }
    /* Nothing was sent: a problem of the run (credentials, endpoint URL,
     * Ctrl-C), not of the record. The record stays undone for the next run. */
    l->s = NULL;
    en->free_lanes++;
    s->attempts--;
    s->state = S_READY;
    heap_push(&en->ready, s->index);
    en->fatal = st;
    en->fatal_err = e;
}

/* Jittered backoff before attempt n+1 (n >= 1), as the SDKs' standard mode;
 * after throttling capped lower: admission control paces the whole run, the
 * record only needs to step aside. */
static int64_t backoff(const struct engine *en, int attempts, bool throttled, int64_t retry_after)
{
    double cap = (double)en->retry_base * pow(2.0, (double)(attempts - 1));
    double max = throttled ? THROTTLE_BACKOFF_MAX_MS : RETRY_MAX_BACKOFF_MS;
    if (cap > max)
        cap = max;
    int64_t t = (int64_t)(crypto_random_unit() * cap);
    if (retry_after >= 0) {
        int64_t hi = t + RETRY_AFTER_MAX_EXTRA_MS;
        int64_t want = retry_after < hi ? retry_after : hi;
        if (want > t)
            t = want;
    }
    return t;
}

static void requeue(struct engine *en, struct slot *s, int64_t now, int64_t delay)
{
    s->not_before = now + delay;
    s->state = S_WAIT;
    heap_push(&en->wait, s->index);
}

static bool token_throttle(const struct brock_err *e)
{
    return strstr(e->msg, "tokens") || strstr(e->msg, "Tokens");
}

static void done_cb(void *ctx, enum brock_status st, const struct brock_err *e)
{
    struct lane *l = ctx;
    struct engine *en = l->en;
    struct slot *s = l->s;
    l->s = NULL;
    en->free_lanes++;
    int64_t now = time_mono_ms();
    double latency = (double)(now - s->started);
    struct http_response *resp = &l->resp;
    const char *rid = http_headers_get(&resp->headers, "x-amzn-RequestId");

    if (st == BROCK_ERR_INTERRUPTED) {
        s->state = S_READY; /* not done: the next run does it */
        s->attempts--;
        heap_push(&en->ready, s->index);
        return;
    }
    struct brock_err err = {0};
    struct retry_class cls = {0};
    if (st == BROCK_OK && resp->status >= 200 && resp->status < 300) {
        batch_admit_ok(&en->admit, now, l->tokens);
        if (!answer(en, s, buf_cstr(&resp->body), resp->body.len, rid, latency, &err))
            fail_record(en, s, &err, "InvalidAnswer", latency, true);
        return;
    }
    if (st == BROCK_OK) {
        awserr_from_response(AWSERR_REST_JSON, resp, &err);
        if (rid && !err.request_id[0])
            snprintf(err.request_id, sizeof err.request_id, "%s", rid);
        retry_classify((int)resp->status, err.aws_code[0] ? err.aws_code : NULL, false, false, &cls);
        if (cls.refresh_credentials && !s->refreshed && en->o->aws.creds.invalidate) {
            s->refreshed = true;
            en->o->aws.creds.invalidate(en->o->aws.creds.ctx);
            s->attempts--;
            requeue(en, s, now, 0);
            return;
        }
        int64_t server_ms;
        if (!strcmp(err.aws_code, "InvalidSignatureException") && strstr(err.msg, "Signature expired") &&
            http_response_date_ms(resp, &server_ms) && !s->refreshed) {
            s->refreshed = true;
            en->skew_ms = server_ms - clock_now_ms(en->o->clock);
            requeue(en, s, now, 0);
            return;
        }
    } else {
        err = *e;
        bool timeout = strstr(err.msg, "timed out") || strstr(err.msg, "timeout");
        retry_classify(0, NULL, st == BROCK_ERR_NETWORK, timeout, &cls);
    }
    bool throttled = cls.kind == RETRY_KIND_THROTTLING;
    if (throttled) {
        en->pr.throttled++;
        en->sum->throttled++;
        s->throttles++;
        batch_admit_throttled(&en->admit, now, token_throttle(&err));
    } else {
        batch_admit_other(&en->admit, now);
    }
    /* Throttling means "later", not "no": it has its own, larger budget. */
    bool again = throttled ? s->throttles < THROTTLE_ATTEMPTS_FACTOR * en->max_attempts
                           : s->attempts - s->throttles < en->max_attempts;
    if (cls.kind != RETRY_KIND_NONE && again) {
        int64_t after = retry_parse_retry_after(http_headers_get(&resp->headers, "x-amz-retry-after"));
        requeue(en, s, now, backoff(en, throttled ? s->throttles : s->attempts - s->throttles, throttled, after));
        return;
    }
    if (cls.kind != RETRY_KIND_NONE && s->attempts > 1) {
        char msg[sizeof err.msg];
        snprintf(msg, sizeof msg, "%.600s (gave up after %d attempts)", err.msg, s->attempts);
        snprintf(err.msg, sizeof err.msg, "%s", msg);
    }
    fail_record(en, s, &err, NULL, latency, true);
}

/* ---- the loop --------------------------------------------------------------------- */

static void progress(struct engine *en, int64_t now, bool force)
{
    const struct batch_options *o = en->o;
    int64_t every = o->progress_interval_ms > 0 ? o->progress_interval_ms : 200;
    if (!o->on_progress || (!force && now - en->last_progress < every))
        return;
    en->last_progress = now;
    struct batch_progress *p = &en->pr;
    p->total = en->total;
    p->done = en->next_write;
    p->in_flight = en->n_lanes - en->free_lanes;
    double secs = (double)(now - en->t0) / 1000.0;
    size_t this_run = en->next_write - p->resumed;
    p->rate = secs > 0.2 ? (double)this_run / secs : 0;
    p->eta_s = p->rate > 0 ? (double)(en->total - en->next_write) / p->rate : -1;
    p->admit_rps = batch_admit_rps(&en->admit);
    p->phase = "running";
    o->on_progress(o->cb_ctx, p);
}

/* Write the finished records at the head of the window (*n gets how many). */
static enum brock_status flush_some(struct engine *en, size_t *written, struct brock_err *e)
{
    size_t n = 0;
    buf_reset(&en->wbuf);
    while (en->next_write < en->next_read) {
        struct slot *s = slot_of(en, en->next_write);
        if (s->state != S_DONE)
            break;
        buf_add(&en->wbuf, buf_cstr(&s->out), s->out.len);
        buf_reset(&s->out);
        free(s->id);
        s->id = NULL;
        s->state = S_EMPTY;
        en->next_write++;
        n++;
        if (en->wbuf.len > 1024 * 1024)
            break;
    }
    *written = n;
    if (!n)
        return BROCK_OK;
    if (buf_status(&en->wbuf) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "an output record is too large");
    /* The ledger rows of these records (added before they became S_DONE)
     * are committed before the records reach the output and the checkpoint:
     * what the checkpoint counts as done is always in the books. */
    batch_books_commit(&en->books);
    return batch_out_write(en->out, buf_cstr(&en->wbuf), en->wbuf.len, n, e);
}

static enum brock_status flush(struct engine *en, struct brock_err *e)
{
    size_t n;
    enum brock_status st;
    do
        st = flush_some(en, &n, e);
    while (st == BROCK_OK && n);
    return st;
}

/* The worst spent/limit fraction now, from the last check's figures plus
 * what this run spent since (every limit counts this run's spend). */
static double projected_worst(const struct engine *en)
{
    const struct budget *b = en->o->budget;
    const struct budget_report *r = &en->budget_rep;
    double since = en->run_spent - en->spent_at_check;
    double base[BUDGET_KIND_COUNT] = {[BUDGET_RUN] = r->run_usd,
                                      [BUDGET_PROJECT_DAILY] = r->project_today_usd,
                                      [BUDGET_DAILY] = r->today_usd,
                                      [BUDGET_PROJECT_MONTHLY] = r->project_month_usd,
                                      [BUDGET_MONTHLY] = r->month_usd};
    double worst = 0;
    for (int k = 0; k < BUDGET_KIND_COUNT; k++) {
        if (b->limit[k].usd <= 0)
            continue;
        double f = (base[k] + since) / b->limit[k].usd;
        if (f > worst)
            worst = f;
    }
    return worst;
}

/* The spend limits, before sending: a real check (the ledger's rollup)
 * every BUDGET_EVERY_MS, and before every request once the projection says
 * 90 % of a limit is reached. A refusal stops the sending. */
static void check_budget(struct engine *en, int64_t now)
{
    struct budget *b = en->o->budget;
    if (!b || !budget_active(b))
        return;
    if (en->budget_checked && now < en->next_budget_ms && projected_worst(en) < 0.9)
        return;
    struct brock_err e = {0};
    batch_books_commit(&en->books); /* the check reads the ledger */
    enum brock_status st = budget_check(b, en->o->store, 0, en->run_spent, &en->budget_rep, &e);
    en->budget_checked = true;
    en->spent_at_check = en->run_spent;
    en->next_budget_ms = now + BUDGET_EVERY_MS;
    if (st != BROCK_OK) {
        en->fatal = st;
        en->fatal_err = e;
        return;
    }
    if (en->budget_rep.warn)
        warn(en, en->budget_rep.warning);
}

static void sleep_ms(const struct engine *en, int64_t ms)
{
    while (ms > 0 && !(en->o->cancel && *en->o->cancel)) {
        int64_t step = ms > 50 ? 50 : ms;
        struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static enum brock_status run(struct engine *en, struct brock_err *e)
{
    const struct batch_options *o = en->o;
    enum brock_status st = BROCK_OK;
    for (;;) {
        if (o->cancel && *o->cancel) {
            st = err_set(e, BROCK_ERR_INTERRUPTED, "interrupted");
            break;
        }
        if (en->fatal == BROCK_OK)
            fill(en);
        int64_t now = time_mono_ms();
        while (en->wait.n && slot_of(en, en->wait.v[0])->not_before <= now) {
            size_t i = heap_pop(&en->wait);
            slot_of(en, i)->state = S_READY;
            heap_push(&en->ready, i);
        }
        int64_t wait = 200;
        while (en->fatal == BROCK_OK && en->ready.n && en->free_lanes) {
            check_budget(en, now);
            if (en->fatal != BROCK_OK)
                break;
            struct slot *s = slot_of(en, en->ready.v[0]);
            int64_t w = 0;
            if (!batch_admit_can_send(&en->admit, now, (double)s->prep.est_tokens, &w)) {
                if (w < wait)
                    wait = w;
                break;
            }
            heap_pop(&en->ready);
            start(en, s, now);
        }
        /* Records are written in order, in groups: at most FLUSH_EVERY_MS
         * after they are known (one write and one checkpoint update per
         * group, not per record), at once when nothing else is running. */
        size_t pending = 0;
        while (en->next_write + pending < en->next_read &&
               slot_of(en, en->next_write + pending)->state == S_DONE)
            pending++;
        if (pending && !en->pending_since)
            en->pending_since = now;
        if (pending && (now - en->pending_since >= FLUSH_EVERY_MS || pending >= FLUSH_RECORDS ||
                        !http_multi_running(en->multi) || en->reader_done || en->fatal != BROCK_OK)) {
            if ((st = flush(en, e)) != BROCK_OK)
                break;
            en->pending_since = 0;
        }
        if (en->pending_since && en->pending_since + FLUSH_EVERY_MS - now < wait)
            wait = en->pending_since + FLUSH_EVERY_MS - now > 0 ? en->pending_since + FLUSH_EVERY_MS - now : 1;
        /* ledger rows: a group is committed at BATCH_BOOKS_ROWS rows (in
         * batch_books_add) or BATCH_BOOKS_MS after its first row */
        int64_t due = batch_books_due(&en->books);
        if (due >= 0 && due <= now) {
            batch_books_commit(&en->books);
            due = -1;
        }
        if (due >= 0 && due - now < wait)
            wait = due - now;
        if (en->fatal != BROCK_OK && en->free_lanes == en->n_lanes) {
            *e = en->fatal_err;
            st = en->fatal;
            break;
        }
        if (en->reader_done && en->next_write == en->next_read)
            break; /* everything is written */
        if (en->wait.n) {
            int64_t w = slot_of(en, en->wait.v[0])->not_before - now;
            if (w < wait)
                wait = w < 1 ? 1 : w;
        }
        progress(en, now, false);
        if (now - en->last_sync >= SYNC_EVERY_MS) {
            en->last_sync = now;
            if ((st = batch_out_sync(en->out, e)) != BROCK_OK)
                break;
        }
        if (http_multi_running(en->multi)) {
            if ((st = http_multi_run(en->multi, (long)wait, e)) != BROCK_OK)
                break;
        } else if (en->ready.n == 0 && en->wait.n == 0 && !en->reader_done) {
            continue; /* the window has room again */
        } else {
            sleep_ms(en, wait);
        }
    }
    if (st == BROCK_ERR_INTERRUPTED) {
        struct brock_err fe = {0};
        if (flush(en, &fe) != BROCK_OK) /* keep what is finished */
            *e = fe;
    }
    progress(en, time_mono_ms(), true);
    return st;
}

/* ---- setup ------------------------------------------------------------------------ */

static enum brock_status defaults(const struct batch_options *o, struct batch_defaults *d, struct brock_err *e)
{
    memset(d, 0, sizeof *d);
    d->region = o->region ? o->region : o->aws.region ? o->aws.region : ENDPOINT_DEFAULT_REGION;
    const char *spec = o->model && *o->model ? o->model : "sonnet";
    enum brock_status st = catalog_resolve(spec, d->region, false, &d->model, e);
    if (st != BROCK_OK)
        return st;
    if (!d->model.model && o->profile_model && catalog_is_app_profile(d->model.model_id))
        d->model.model = o->profile_model; /* the id stays the profile's ARN */
    d->system = o->system;
    d->max_tokens = o->max_tokens;
    d->temperature = o->temperature_set ? o->temperature : MODEL_UNSET;
    d->cache = o->store ? o->cache : NULL;
    d->profile_model_of = o->profile_model_of;
    d->profile_ctx = o->cb_ctx;
    return BROCK_OK;
}

enum brock_status batch_open_common(const struct batch_options *o, const char *engine, struct batch_defaults *d,
                                    struct batch_reader **rd, struct batch_out **out, struct batch_resume *res,
                                    struct brock_err *e)
{
    *rd = NULL;
    *out = NULL;
    if (!o->output_path || !*o->output_path)
        return err_set(e, BROCK_ERR_USAGE, "no output file: give -o OUTPUT.jsonl");
    enum brock_status st = defaults(o, d, e);
    if (st == BROCK_OK)
        st = batch_reader_open(o, rd, e);
    if (st != BROCK_OK)
        return st;
    char cfg[SHA256_HEX_LEN + 1];
    batch_config_identity(o, d, engine, cfg);
    st = batch_out_open(o->output_path, o->format, batch_reader_identity(*rd), cfg, o->restart, out, res, e);
    if (st == BROCK_OK && res->records > batch_reader_total(*rd))
        st = err_set(e, BROCK_ERR_USAGE, "%s" BATCH_CHECKPOINT_SUFFIX " says %zu records are done but the input has %zu",
                     o->output_path, res->records, batch_reader_total(*rd));
    if (st != BROCK_OK) {
        batch_reader_free(*rd);
        *rd = NULL;
        batch_out_close(*out, NULL);
        *out = NULL;
    }
    return st;
}

enum brock_status batch_skip_done(struct batch_reader *rd, size_t n, struct brock_err *e)
{
    for (size_t i = 0; i < n; i++) {
        struct batch_item it;
        enum brock_status st = batch_reader_next(rd, false, &it, e);
        if (st == BROCK_ERR_NOT_FOUND)
            return err_set(e, BROCK_ERR_USAGE, "the checkpoint names more records than the input has");
        if (st != BROCK_OK)
            return st;
    }
    return BROCK_OK;
}

enum brock_status batch_run_local(const struct batch_options *o, struct batch_summary *sum, struct brock_err *e)
{
    memset(sum, 0, sizeof *sum);
    struct engine en = {.o = o, .sum = sum};
    en.t0 = en.last_sync = time_mono_ms();
    struct batch_resume res;
    enum brock_status st = batch_open_common(o, "local", &en.d, &en.rd, &en.out, &res, e);
    if (st != BROCK_OK)
        return st;
    batch_books_init(&en.books, o);
    en.total = sum->total = batch_reader_total(en.rd);
    sum->resumed = res.records;
    en.pr.resumed = res.records;
    if ((st = batch_skip_done(en.rd, res.records, e)) != BROCK_OK)
        goto out;
    en.next_read = en.next_write = res.records;
    if (res.records == en.total)
        goto out; /* nothing left */

    int conc = o->concurrency > 0 ? o->concurrency : BATCH_DEFAULT_CONCURRENCY;
    if (conc > BATCH_MAX_CONCURRENCY)
        conc = BATCH_MAX_CONCURRENCY;
    en.max_attempts = o->max_attempts > 0 ? o->max_attempts : BATCH_DEFAULT_MAX_ATTEMPTS;
    en.retry_base = o->retry_base_ms > 0 ? o->retry_base_ms : BATCH_DEFAULT_RETRY_BASE_MS;
    struct aws_client_config ac = o->aws;
    ac.region = en.d.region;
    ac.retry = NULL;
    en.aws = aws_client_new(&ac);
    if ((st = aws_client_endpoint(en.aws, ENDPOINT_SVC_BEDROCK_RUNTIME, &en.ep, e)) != BROCK_OK)
        goto out;
    en.signer = sigv4_signer_new();
    en.multi = http_multi_new(&o->aws.http, conc);
    en.n_lanes = en.free_lanes = (size_t)conc;
    en.lanes = xcalloc(en.n_lanes, sizeof *en.lanes);
    for (size_t i = 0; i < en.n_lanes; i++) {
        en.lanes[i].en = &en;
        http_response_init(&en.lanes[i].resp);
        http_headers_init(&en.lanes[i].h);
        buf_init(&en.lanes[i].url, ENDPOINT_URL_MAX + 4096);
    }
    en.window = (size_t)conc * 4 > MIN_WINDOW ? (size_t)conc * 4 : MIN_WINDOW;
    en.slots = xcalloc(en.window, sizeof *en.slots);
    for (size_t i = 0; i < en.window; i++) {
        buf_init(&en.slots[i].out, BEDROCK_MAX_CONTENT_BYTES * 2);
        batch_prepared_init(&en.slots[i].prep);
    }
    en.ready = (struct heap){xcalloc(en.window, sizeof(size_t)), 0, false, &en};
    en.wait = (struct heap){xcalloc(en.window, sizeof(size_t)), 0, true, &en};
    buf_init(&en.wbuf, BEDROCK_MAX_CONTENT_BYTES * 4);
    batch_admit_init(&en.admit, o->max_rpm, o->max_tpm, time_mono_ms());
    st = run(&en, e);

out:;
    /* the rows of every call answered, written or not (records not written
     * are asked again by the next run: those calls were made) */
    batch_books_commit(&en.books);
    batch_books_free(&en.books);
    struct brock_err ce = {0};
    enum brock_status cst = batch_out_close(en.out, &ce);
    if (st == BROCK_OK && cst != BROCK_OK) {
        st = cst;
        *e = ce;
    }
    http_multi_free(en.multi);
    for (size_t i = 0; i < en.n_lanes; i++) {
        http_response_free(&en.lanes[i].resp);
        http_headers_cleanup(&en.lanes[i].h);
        buf_free(&en.lanes[i].url);
    }
    free(en.lanes);
    for (size_t i = 0; en.slots && i < en.window; i++) {
        buf_free(&en.slots[i].out);
        free(en.slots[i].id);
        batch_prepared_cleanup(&en.slots[i].prep);
    }
    free(en.slots);
    free(en.ready.v);
    free(en.wait.v);
    buf_free(&en.wbuf);
    sigv4_signer_free(en.signer);
    aws_client_free(en.aws);
    batch_reader_free(en.rd);
    sum->wall_s = (double)(time_mono_ms() - en.t0) / 1000.0;
    return st;
}
