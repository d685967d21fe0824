/* gateway.c - `brock serve` on the loop thread: lifecycle, routing, client
 * authentication, budgets, cache hits, admission control and writing what
 * upstream brings back (gateway.h; the design is in
 * docs/internals/gateway.md). */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../aws/eventstream.h"
#include "../bedrock/catalog.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"
#include "gateway_int.h"

#define CORAL ":http://internal.amazon.com/coral/com.amazon.bedrock/"

int64_t gw_now_ms(const struct gateway *g)
{
    return clock_now_ms(g->clock);
}

void gateway_options_init(struct gateway_options *o)
{
    memset(o, 0, sizeof *o);
}

/* ---- answers we make ourselves ------------------------------------------------ */

/* Request ids: a random 64-bit prefix drawn once, then a counter, in UUID
 * form (a getrandom call per request costs more than the rest of the id). */
static _Atomic uint64_t id_counter;
static uint64_t id_prefix[2];
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void id_init(void)
{
    if (crypto_random(id_prefix, sizeof id_prefix, NULL) != BROCK_OK)
        id_prefix[0] = (uint64_t)time_now_ms() * 2654435761u, id_prefix[1] = (uint64_t)getpid();
}

static void new_id(char out[40])
{
    pthread_once(&id_once, id_init);
    uint64_t n = atomic_fetch_add(&id_counter, 1) + id_prefix[1];
    snprintf(out, 40, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(id_prefix[0] >> 32),
             (unsigned)(id_prefix[0] >> 16) & 0xffff, (unsigned)id_prefix[0] & 0xfff,
             0x8000 | ((unsigned)(n >> 48) & 0x3fff), (unsigned long long)(n & 0xffffffffffffull));
}

/* An AWS restJson1 error, as Bedrock sends them. */
static void send_error(struct httpd_resp *resp, const char *id, int status, const char *code, const char *msg)
{
    char etype[160];
    snprintf(etype, sizeof etype, "%s%s", code, CORAL);
    struct buf b = BUF_INIT(BUF_MAX_SMALL);
    json_t *m = json_pack("{s:s}", "message", msg);
    char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
    buf_addstr(&b, s ? s : "{\"message\":\"error\"}");
    free(s);
    json_decref(m);
    (void)httpd_resp_set_status(resp, status);
    (void)httpd_resp_add_header(resp, "Content-Type", "application/json");
    (void)httpd_resp_add_header(resp, "x-amzn-RequestId", id);
    (void)httpd_resp_add_header(resp, "x-amzn-ErrorType", etype);
    (void)httpd_resp_send(resp, b.ptr, b.len);
    buf_free(&b);
}

/* ---- jobs --------------------------------------------------------------------- */

static struct gw_job *job_new(struct gateway *g, struct httpd_req *req, struct httpd_resp *resp)
{
    struct gw_job *j = xcalloc(1, sizeof *j);
    j->g = g;
    j->req = req;
    j->resp = resp;
    j->t0_ns = time_mono_ns();
    pthread_mutex_init(&j->mu, NULL);
    /* room past the hold mark for one piece of a transfer (a frame the
     * decoder completes plus libcurl's write size) and an exception frame */
    buf_init(&j->out, GATEWAY_STREAM_PENDING_MAX + ES_MAX_MESSAGE_LEN + 256 * 1024);
    buf_init(&j->spare, GATEWAY_STREAM_PENDING_MAX + ES_MAX_MESSAGE_LEN + 256 * 1024);
    http_headers_init(&j->uh);
    buf_init(&j->upath, SIGV4_MAX_PATH);
    buf_init(&j->body, GATEWAY_MAX_ANSWER);
    buf_init(&j->tee, GATEWAY_CACHE_ENTRY_MAX);
    http_headers_init(&j->rh);
    j->lnext = g->live;
    if (g->live)
        g->live->lprev = j;
    g->live = j;
    return j;
}

static void job_free(struct gw_job *j)
{
    if (!j)
        return;
    struct gateway *g = j->g;
    if (j->client)
        j->client->refs--;
    if (j->lprev)
        j->lprev->lnext = j->lnext;
    else
        g->live = j->lnext;
    if (j->lnext)
        j->lnext->lprev = j->lprev;
    httpd_timer_cancel(j->qtimer);
    buf_free(&j->out);
    buf_free(&j->spare);
    buf_free(&j->body);
    buf_free(&j->tee);
    http_headers_cleanup(&j->rh);
    gw_entry_free(j->entry);
    gw_job_release(j);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* ---- the books of one call ----------------------------------------------------- */

static const char *api_of(enum gateway_op op)
{
    switch (op) {
    case GATEWAY_OP_CONVERSE:
    case GATEWAY_OP_CONVERSE_STREAM: return "converse";
    case GATEWAY_OP_COUNT_TOKENS: return "count-tokens";
    case GATEWAY_OP_CONTROL: return "control";
    default: return "messages";
    }
}

/* Book one call: its ledger row (a cache hit costs nothing and saves what
 * the answer cost first), and the answer to keep in the persistent cache. */
static void record(struct gw_job *j, const char *status, const char *err, bool cache_hit, double saved,
                   const char *routing, const struct gw_entry *to_store)
{
    struct gateway *g = j->g;
    const char *priced = j->profile[0] ? j->profile : j->model_id;
    bool estimated = false;
    const struct model_info *pm = NULL;
    double cost = cache_hit ? 0 : gw_cost(g, priced, &j->usage, &pm, &estimated);
    char as[120] = "";
    if (pm)
        snprintf(as, sizeof as, "; priced as %s (application inference profile)", pm->name);
    if (estimated && !g->price_warned && !catalog_is_app_profile(priced)) {
        /* (a profile whose lookup failed has its own warning) */
        g->price_warned = true;
        log_warn("gateway: %.200s has no price in the catalog or the prices file: its calls are booked at the "
                 "catalog's highest prices, so budgets hold (rows say \"price estimated\"); give its price in the "
                 "prices file (settings brock.prices_file, docs/cost.md)",
                 priced);
    }
    char route[GATEWAY_MAX_CHANGES + 460]; /* "gateway: " + routing (< 256) + "; " + changes + how priced */
    snprintf(route, sizeof route, "gateway%s%s%s%s%s%s", routing && *routing ? ": " : "", routing ? routing : "",
             j->info.changes[0] ? "; " : "", j->info.changes, as,
             estimated ? "; price estimated (not in the catalog or the prices file)" : "");
    struct gateway_record r = {
        .time_ms = gw_now_ms(g),
        .user = j->client->key->user,
        .project = j->client->key->project,
        .session = j->info.session,
        .model = j->model_id,
        .profile = j->profile[0] ? j->profile : j->model_id,
        .region = j->region[0] ? j->region : g->regions[0],
        .api = api_of(j->op),
        .input = cache_hit ? 0 : j->usage.input,
        .output = cache_hit ? 0 : j->usage.output,
        .cache_read = cache_hit ? 0 : j->usage.cache_read,
        .cache_write = cache_hit ? 0 : j->usage.cache_write,
        .cost_usd = cost,
        .saved_usd = saved,
        .latency_ms = (double)(time_mono_ns() - j->t0_ns) / 1e6,
        .ttft_ms = j->ttft_ms,
        .retries = j->attempts > 1 ? j->attempts - 1 : 0,
        .throttles = j->throttles,
        .status = status,
        .error_message = err ? err : "",
        .request_id = j->request_id[0] ? j->request_id : j->id,
        .cache_hit = cache_hit,
        .routing = route,
    };
    gw_books_post(g, &r, to_store);
}

/* ---- admission ------------------------------------------------------------------ */

static void admit_next(struct gateway *g);

static void release_slot(struct gateway *g, struct gw_job *j)
{
    if (!j->dispatched)
        return;
    j->dispatched = false;
    g->inflight--;
    j->client->inflight--;
    admit_next(g);
}

/* The ring of clients with calls queued: a client joins at the end of the
 * round (just before the one to serve next) when its queue stops being
 * empty, and leaves when it empties, so admission looks only at clients
 * that wait (a scan of every key cost ~20 us a call when the slots were
 * full at 4,096 keys). */
static void ready_join(struct gateway *g, struct gw_client *c)
{
    if (c->ready)
        return;
    c->ready = true;
    struct gw_client *h = g->ready;
    if (!h) {
        c->rnext = c->rprev = c;
        g->ready = c;
        return;
    }
    c->rnext = h;
    c->rprev = h->rprev;
    h->rprev->rnext = c;
    h->rprev = c;
}

static void ready_leave(struct gateway *g, struct gw_client *c)
{
    if (!c->ready)
        return;
    c->ready = false;
    if (c->rnext == c) {
        g->ready = NULL;
    } else {
        c->rprev->rnext = c->rnext;
        c->rnext->rprev = c->rprev;
        if (g->ready == c)
            g->ready = c->rnext;
    }
    c->rnext = c->rprev = NULL;
}

static void enqueue(struct gateway *g, struct gw_job *j)
{
    struct gw_client *c = j->client;
    j->queued = true;
    j->qnext = NULL;
    j->qprev = c->qtail;
    if (c->qtail)
        c->qtail->qnext = j;
    else
        c->qhead = j;
    c->qtail = j;
    c->n_queued++;
    g->queued++;
    ready_join(g, c);
}

static void dequeue(struct gateway *g, struct gw_job *j)
{
    struct gw_client *c = j->client;
    if (j->queued) {
        if (j->qprev)
            j->qprev->qnext = j->qnext;
        else
            c->qhead = j->qnext;
        if (j->qnext)
            j->qnext->qprev = j->qprev;
        else
            c->qtail = j->qprev;
        j->qnext = j->qprev = NULL;
        c->n_queued--;
        g->queued--;
        if (!c->qhead)
            ready_leave(g, c);
    }
    j->queued = false;
    httpd_timer_cancel(j->qtimer);
    j->qtimer = NULL;
}

static void start(struct gateway *g, struct gw_job *j)
{
    j->dispatched = true;
    g->inflight++;
    j->client->inflight++;
    atomic_fetch_add(&g->st_upstream, 1);
    gw_dispatch(g, j);
}

/* Free slots go round the clients that wait, one call each, skipping those
 * at their share (at most max_upstream / max_per_client of them). */
static void admit_next(struct gateway *g)
{
    while (g->ready && g->inflight < g->max_upstream) {
        struct gw_client *c = g->ready, *first = c;
        while (c->inflight >= g->max_per_client) {
            c = c->rnext;
            if (c == first)
                return;
        }
        struct gw_job *j = c->qhead;
        g->ready = c->rnext; /* the next round starts after it */
        dequeue(g, j);
        start(g, j);
    }
}

static void queue_timeout(void *arg)
{
    struct gw_job *j = arg;
    struct gateway *g = j->g;
    j->qtimer = NULL;
    dequeue(g, j);
    atomic_fetch_add(&g->st_refused_busy, 1);
    char msg[200];
    snprintf(msg, sizeof msg, "brock gateway: no upstream slot free for %d ms (%zu calls in flight); try again",
             g->o.queue_timeout_ms, g->inflight);
    log_info("gateway: %s %s -> 429 queue timeout (user %s)", httpd_req_method(j->req), httpd_req_path(j->req),
             j->client->key->user);
    send_error(j->resp, j->id, 429, "ThrottlingException", msg);
    job_free(j);
}

/* Answer from a cache entry (the memory tier or the store), as Bedrock sent
 * it first, and book the hit. */
static void replay(struct gateway *g, struct gw_job *j, const struct gw_entry *e, const char *how)
{
    if (j->gone) {
        httpd_resp_abort(j->resp);
    } else {
        (void)httpd_resp_set_status(j->resp, 200);
        (void)httpd_resp_add_header(j->resp, "x-amzn-RequestId", j->id);
        if (e->stream) {
            (void)httpd_resp_add_header(j->resp, "Content-Type", "application/vnd.amazon.eventstream");
            if (e->bedrock_ctype[0])
                (void)httpd_resp_add_header(j->resp, "X-Amzn-Bedrock-Content-Type", e->bedrock_ctype);
            (void)httpd_stream_start(j->resp);
            (void)httpd_stream_write(j->resp, e->body, e->len);
            (void)httpd_stream_end(j->resp);
        } else {
            (void)httpd_resp_add_header(j->resp, "Content-Type", e->ctype);
            (void)httpd_resp_send(j->resp, e->body, e->len);
        }
    }
    atomic_fetch_add(&g->st_cache_hits, 1);
    snprintf(j->profile, sizeof j->profile, "%s", e->model);
    snprintf(j->region, sizeof j->region, "%s", e->region);
    record(j, "ok", NULL, true, e->cost_usd, how, NULL);
}

/* ---- writing what upstream brought ---------------------------------------------- */

static void process(struct gateway *g, struct gw_job *j);

static void on_drain(struct httpd_resp *resp, void *arg)
{
    (void)resp;
    struct gw_job *j = arg;
    j->draining_wait = false;
    process(j->g, j);
}

static void copy_headers(struct gw_job *j)
{
    bool has_id = false;
    for (size_t i = 0; i < http_headers_count(&j->rh); i++) {
        const char *n = http_headers_name(&j->rh, i);
        has_id |= !strcasecmp(n, "x-amzn-RequestId");
        (void)httpd_resp_add_header(j->resp, n, http_headers_value(&j->rh, i));
    }
    if (!has_id)
        (void)httpd_resp_add_header(j->resp, "x-amzn-RequestId", j->id);
}

/* The call is over: answer (if not streaming), book, cache, free. */
static void finish(struct gateway *g, struct gw_job *j)
{
    release_slot(g, j);
    const char *status = "ok";
    const char *err = NULL;
    char routing[256] = "";
    if (j->region[0] && strcmp(j->region, g->regions[0]))
        snprintf(routing, sizeof routing, "region %s", j->region);
    if (j->profile[0] && strcmp(j->profile, j->model_id)) {
        size_t u = strlen(routing);
        snprintf(routing + u, sizeof routing - u, "%smodel %.150s", u ? ", " : "", j->profile);
    }
    if (j->cache_hit && j->entry) {
        /* persistent-cache hit found by the helper thread: replay it like a memory hit */
        struct gw_entry *e = j->entry;
        j->entry = NULL;
        replay(g, j, e, "cache hit (store)");
        if (g->cache)
            gw_cache_put(g->cache, e);
        else
            gw_entry_free(e);
        job_free(j);
        return;
    }

    if (j->status == 0 || j->status >= 300 || j->local_error) {
        status = j->err_code[0] ? j->err_code : "error";
        err = j->err_msg;
        atomic_fetch_add(&g->st_upstream_errors, 1);
    } else if (j->cut) {
        status = j->err_code[0] ? j->err_code : "stream-cut";
        err = j->err_msg;
    }
    if (j->gone && !j->usage.complete && !strcmp(status, "ok"))
        status = "client-gone";

    /* the request is gone once the response is finished: log first */
    log_debug("gateway: %s %s -> %d %s (user %s, %.1f ms)", httpd_req_method(j->req), httpd_req_path(j->req),
              j->status, status, j->client->key->user, (double)(time_mono_ns() - j->t0_ns) / 1e6);
    if (j->gone) {
        httpd_resp_abort(j->resp);
    } else if (j->stream_started) {
        if (j->out.len)
            (void)httpd_stream_write(j->resp, j->out.ptr, j->out.len);
        (void)httpd_stream_end(j->resp);
    } else if (j->local_error || j->status == 0) {
        send_error(j->resp, j->id, j->status ? j->status : 502, j->err_code[0] ? j->err_code : "InternalServerException",
                   j->err_msg[0] ? j->err_msg : "brock gateway: no answer from upstream");
    } else {
        (void)httpd_resp_set_status(j->resp, j->status);
        copy_headers(j);
        (void)httpd_resp_send(j->resp, j->body.ptr, j->body.len);
    }

    struct gw_entry *keep = NULL;
    if (j->cache_candidate && !strcmp(status, "ok") && j->status == 200 && j->info.deterministic &&
        !j->info.tool_results && j->usage.complete && !j->usage.tool_use &&
        (!strcmp(j->usage.stop_reason, "end_turn") || !strcmp(j->usage.stop_reason, "stop_sequence") ||
         !strcmp(j->usage.stop_reason, "max_tokens"))) {
        const struct buf *src = j->stream ? &j->tee : &j->body;
        if (src->len && src->len <= GATEWAY_CACHE_ENTRY_MAX && !(j->stream && j->tee_over)) {
            keep = xcalloc(1, sizeof *keep);
            memcpy(keep->key, j->cache_key, SHA256_LEN);
            keep->stream = j->stream;
            keep->expires_ms = gw_now_ms(g) + g->o.cache_ttl_s * 1000;
            const char *ct = http_headers_get(&j->rh, "content-type");
            const char *bct = http_headers_get(&j->rh, "x-amzn-bedrock-content-type");
            snprintf(keep->ctype, sizeof keep->ctype, "%s", ct ? ct : "application/json");
            snprintf(keep->bedrock_ctype, sizeof keep->bedrock_ctype, "%s", bct ? bct : "");
            keep->body = xmemdup(src->ptr, src->len);
            keep->len = src->len;
            keep->usage = j->usage;
            keep->cost_usd = gw_cost(g, j->profile[0] ? j->profile : j->model_id, &j->usage, NULL, NULL);
            snprintf(keep->model, sizeof keep->model, "%s", j->profile[0] ? j->profile : j->model_id);
            snprintf(keep->region, sizeof keep->region, "%s", j->region);
        }
    }
    if (j->op != GATEWAY_OP_CONTROL)
        record(j, status, err, false, 0, routing, keep);
    if (keep && g->cache)
        gw_cache_put(g->cache, keep);
    else
        gw_entry_free(keep);
    job_free(j);
}

static void process(struct gateway *g, struct gw_job *j)
{
    pthread_mutex_lock(&j->mu);
    bool looked_up = j->looked_up;
    j->looked_up = false;
    pthread_mutex_unlock(&j->mu);
    if (looked_up)
        gw_job_looked_up(j); /* a hit is done; a miss goes upstream */
    if (j->draining_wait)
        return;
    bool start_head = false;
    struct buf frames = BUF_INIT(j->out.max);
    bool blocked = j->stream_started && !j->gone && httpd_resp_buffered(j->resp) > GW_RESP_HIGH;
    if (j->head_ready) {
        j->head_ready = false;
        start_head = true;
    }
    if (!blocked && j->out.len) {
        /* take the pending frames; the call goes on in the spare buffer,
         * which keeps its memory from the last round */
        frames = j->out;
        j->out = j->spare;
        buf_init(&j->spare, frames.max);
    }

    if (start_head && !j->stream_started && !j->gone) {
        (void)httpd_resp_set_status(j->resp, 200);
        copy_headers(j);
        (void)httpd_stream_start(j->resp);
        j->stream_started = true;
    }
    if (frames.len && j->stream_started && !j->gone)
        (void)httpd_stream_write(j->resp, frames.ptr, frames.len);
    buf_reset(&frames);
    if (!j->spare.ptr)
        j->spare = frames;
    else
        buf_free(&frames);
    if (!blocked)
        gw_job_drained(j); /* may put frames in j->out again (and j on the notify list) */

    if (blocked || (j->stream_started && !j->gone && httpd_resp_buffered(j->resp) > GW_RESP_HIGH)) {
        j->draining_wait = true;
        httpd_resp_on_drain(j->resp, GW_RESP_LOW, on_drain, j);
        return;
    }
    if (!j->done)
        return;
    pthread_mutex_lock(&g->notify_mu);
    bool listed = j->in_notify;
    pthread_mutex_unlock(&g->notify_mu);
    if (listed)
        return; /* it comes round again */
    finish(g, j);
}

/* The loop thread asks the scheduler for a short time slice. Each of its
 * wake-ups is short work (~80 us of a call's ~160) that a client waits on,
 * and on a machine whose cores are busy (its clients, its upstream or a build
 * sharing them) a woken loop otherwise waits for the running task's slice to
 * end (1.4 ms here). Since Linux 6.12 (EEVDF) a SCHED_OTHER thread may ask
 * for a shorter slice with sched_attr.sched_runtime: same share of the CPU,
 * earlier deadlines, so it runs sooner when it wakes. Unprivileged, best
 * effort; older kernels take the call and ignore the field. The nice value
 * is passed as it is (sched_setattr sets it too). Runs once, in the loop
 * thread (gateway_run or gateway_start_thread's thread), on its first round. */
static void on_loop_first_round(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gateway *g = arg;
    /* --realtime: SCHED_FIFO at the lowest real-time priority. The loop then
     * runs as soon as it wakes and is never preempted by ordinary threads
     * (its clients, its upstream, a build); it only ever blocks in epoll,
     * and the kernel's real-time throttling (95 % of each second by
     * default) bounds it if it ever did not. SCHED_RESET_ON_FORK: a thread
     * started from the loop (libcurl's resolver threads, when the upstream
     * is a host name) gets the normal policy, not this one. */
    if (g->o.realtime) {
        struct sched_param sp = {.sched_priority = 1};
        int rc = sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) == 0 ? 0 : errno;
        if (rc == 0) {
            atomic_store(&g->realtime_on, true);
            log_info("gateway: the event loop runs at real-time priority (SCHED_FIFO 1)");
            return;
        }
        log_warn("gateway: --realtime: the event loop could not get real-time priority (%s; SCHED_FIFO needs root, "
                 "CAP_SYS_NICE or an RLIMIT_RTPRIO of 1 or more): it runs with the normal scheduler",
                 strerror(rc));
    }
#if defined(__linux__) && defined(SYS_sched_setattr)
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno != 0)
        return;
    struct gw_sched_attr a = {.size = sizeof a, .policy = SCHED_OTHER, .nice = nice_now,
                              .runtime = (uint64_t)GATEWAY_LOOP_SLICE_US * 1000u};
    if (syscall(SYS_sched_setattr, tid, &a, 0u) != 0)
        log_debug("gateway: loop time slice not set: %s", strerror(errno));
#endif
}

static void keys_apply(struct gateway *g, struct gateway_keys *keys, enum brock_status st, const struct brock_err *why);

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct gateway *g = arg;
    uint64_t counter;
    /* EV_READ: another thread wrote the eventfd (drain it, as it is level-
     * triggered); from the loop itself, notify_loop activates the event
     * with EV_TIMEOUT alone, and a read would be a system call for nothing */
    if ((what & EV_READ) && read(fd, &counter, sizeof counter) < 0 && errno != EAGAIN)
        log_debug("gateway: eventfd read: %s", strerror(errno));
    /* Copy the list out: once a job is off it, processing another may put it back
     * (rewriting its nnext) while we process the others. */
    struct gw_job *stack[64], **v = stack;
    size_t n = 0, cap = BROCK_ARRAY_LEN(stack);
    pthread_mutex_lock(&g->notify_mu);
    for (struct gw_job *j = g->notify_head; j; j = j->nnext) {
        if (n == cap) {
            cap *= 2;
            if (v == stack) {
                v = xmalloc(cap * sizeof *v);
                memcpy(v, stack, sizeof stack);
            } else {
                v = xrealloc(v, cap * sizeof *v);
            }
        }
        v[n++] = j;
        j->in_notify = false;
    }
    g->notify_head = NULL;
    /* client keys the helper read for a reload */
    bool keys = g->keys_read;
    struct gateway_keys nk = {0};
    enum brock_status kst = BROCK_OK;
    struct brock_err ke = {0};
    if (keys) {
        nk = g->keys_new;
        kst = g->keys_st;
        ke = g->keys_err;
        memset(&g->keys_new, 0, sizeof g->keys_new);
        g->keys_read = false;
    }
    pthread_mutex_unlock(&g->notify_mu);
    for (size_t i = 0; i < n; i++)
        process(g, v[i]);
    if (v != stack)
        free(v);
    if (keys)
        keys_apply(g, &nk, kst, &ke);
}

static void on_close(struct httpd_resp *resp, void *arg)
{
    (void)resp;
    struct gw_job *j = arg;
    struct gateway *g = j->g;
    if (j->gone)
        return;
    j->gone = true;
    atomic_fetch_add(&g->st_gone, 1);
    if (j->queued) {
        dequeue(g, j);
        httpd_resp_abort(j->resp);
        job_free(j);
        return;
    }
    if (j->dispatched)
        gw_job_cancel(j);
    if (j->draining_wait) {
        httpd_resp_on_drain(j->resp, 0, NULL, NULL);
        j->draining_wait = false;
        process(g, j);
    }
}

/* ---- authentication ------------------------------------------------------------- */

struct akid_lookup {
    struct gateway *g;
    struct gw_client *found;
};

static uint64_t digest_slot(const uint8_t d[SHA256_LEN])
{
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return h;
}

/* Slots for an open-addressing table of n entries: a power of two, at
 * most half full. */
static size_t table_slots(size_t n)
{
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    return slots;
}

/* (Re)build g->by_token and g->by_akid from the live clients. [loop] */
static void index_build(struct gateway *g)
{
    size_t live = 0;
    for (size_t i = 0; i < g->n_clients; i++)
        live += !g->clients[i]->revoked;
    size_t n = table_slots(live);
    free(g->by_token);
    free(g->by_akid);
    g->by_token = xcalloc(n, sizeof *g->by_token);
    g->by_akid = xcalloc(n, sizeof *g->by_akid);
    g->index_mask = n - 1;
    for (size_t i = 0; i < g->n_clients; i++) {
        struct gw_client *c = g->clients[i];
        if (c->revoked)
            continue;
        if (c->key->token) {
            size_t k = (size_t)digest_slot(c->token_digest) & g->index_mask;
            while (g->by_token[k])
                k = (k + 1) & g->index_mask;
            g->by_token[k] = c;
        }
        if (c->key->access_key_id) {
            size_t k = (size_t)fnv1a64_str(c->key->access_key_id) & g->index_mask;
            while (g->by_akid[k])
                k = (k + 1) & g->index_mask;
            g->by_akid[k] = c;
        }
    }
}

/* The live client whose bearer token has this SHA-256, or NULL. */
static struct gw_client *find_token(const struct gateway *g, const uint8_t d[SHA256_LEN])
{
    for (size_t k = (size_t)digest_slot(d) & g->index_mask; g->by_token[k]; k = (k + 1) & g->index_mask)
        if (!memcmp(g->by_token[k]->token_digest, d, SHA256_LEN))
            return g->by_token[k];
    return NULL;
}

static struct gw_client *find_akid(const struct gateway *g, const char *akid)
{
    for (size_t k = (size_t)fnv1a64_str(akid) & g->index_mask; g->by_akid[k]; k = (k + 1) & g->index_mask)
        if (!strcmp(g->by_akid[k]->key->access_key_id, akid))
            return g->by_akid[k];
    return NULL;
}

/* ---- users: one spend per user name, whichever key spent it -------------------------- */

struct gw_user *gw_user_find(const struct gw_users *u, const char *name)
{
    if (!u->slot)
        return NULL;
    for (size_t k = (size_t)fnv1a64_str(name) & u->mask; u->slot[k]; k = (k + 1) & u->mask)
        if (!strcmp(u->slot[k]->name, name))
            return u->slot[k];
    return NULL;
}

static void users_put(struct gw_users *u, struct gw_user *x)
{
    size_t k = (size_t)fnv1a64_str(x->name) & u->mask;
    while (u->slot[k])
        k = (k + 1) & u->mask;
    u->slot[k] = x;
    u->v[u->n++] = x;
}

static void user_free(struct gw_user *x)
{
    free(x->name);
    free(x);
}

/* The set; with all_users, the users too (else the caller keeps or frees them). */
static void users_free(struct gw_users *u, bool all_users)
{
    if (all_users)
        for (size_t i = 0; i < u->n; i++)
            user_free(u->v[i]);
    free(u->v);
    free(u->slot);
    *u = (struct gw_users){0};
}

/* The users of clients v[0..n), each client pointed at its own: the users of
 * `old` are handed on (their spend with them; marked keep), the others are
 * new, with nothing spent until the books thread reads the ledger (*fresh is
 * set then). [loop] */
static struct gw_users users_bind(const struct gw_users *old, struct gw_client **v, size_t n, bool *fresh)
{
    struct gw_users u = {0};
    size_t slots = table_slots(n);
    u.slot = xcalloc(slots, sizeof *u.slot);
    u.mask = slots - 1;
    u.v = xcalloc(n ? n : 1, sizeof *u.v);
    for (size_t i = 0; i < old->n; i++)
        old->v[i]->keep = false;
    for (size_t i = 0; i < n; i++) {
        const char *name = v[i]->key->user;
        struct gw_user *x = gw_user_find(&u, name);
        if (!x) {
            x = gw_user_find(old, name);
            if (x) {
                x->keep = true;
            } else {
                x = xcalloc(1, sizeof *x);
                x->name = xstrdup(name);
                *fresh = true;
            }
            users_put(&u, x);
        }
        v[i]->user = x;
    }
    return u;
}

static bool lookup_akid(void *ctx, const char *akid, struct sigv4_secret *out)
{
    struct akid_lookup *l = ctx;
    struct gw_client *c = find_akid(l->g, akid);
    if (!c)
        return false;
    out->secret_access_key = c->key->secret_access_key;
    out->session_token = NULL;
    l->found = c;
    return true;
}

static bool ct_equal(const char *a, size_t an, const char *b, size_t bn)
{
    unsigned char d = an != bn;
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* The client whose bearer token is in `authz` ("Bearer ..."), or NULL. The
 * token is found by its SHA-256 (what a lookup's timing could tell is about
 * the digest, which says nothing of the token), then compared in full. */
static struct gw_client *bearer_client(struct gateway *g, const char *authz)
{
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    size_t tl = strlen(tok);
    uint8_t d[SHA256_LEN];
    crypto_sha256(tok, tl, d);
    struct gw_client *c = find_token(g, d);
    if (c && ct_equal(c->key->token, strlen(c->key->token), tok, tl))
        return c;
    return NULL;
}

/* sigv4_verify against the keys the gateway issued, with the request as
 * received (HTTP/2 without Host: its signed :authority stands in). head_only:
 * the head's checks alone, before the body is read. lc->found is the client. */
static enum brock_status sigv4_check(struct gateway *g, struct httpd_req *req, bool head_only,
                                     struct akid_lookup *lc, struct sigv4_verified *ver, struct brock_err *e)
{
    size_t nh = httpd_req_header_count(req);
    struct sigv4_header *hs = xcalloc(nh + 2, sizeof *hs);
    bool has_host = false;
    size_t k = 0;
    const char *hn, *hv;
    for (size_t i = 0; httpd_req_header_at(req, i, &hn, &hv); i++) {
        hs[k++] = (struct sigv4_header){hn, strlen(hn), hv, strlen(hv)};
        has_host |= !strcasecmp(hn, "host");
    }
    const char *authority = httpd_req_authority(req);
    if (!has_host && *authority) {
        hs[k++] = (struct sigv4_header){"host", 4, authority, strlen(authority)};
        hs[k++] = (struct sigv4_header){":authority", 10, authority, strlen(authority)};
    }
    size_t blen = 0;
    const char *body = head_only ? NULL : httpd_req_body(req, &blen);
    const char *path = httpd_req_path(req), *query = httpd_req_query(req);
    struct sigv4_request r = {.method = httpd_req_method(req),
                              .path = path,
                              .path_len = strlen(path),
                              .query = query,
                              .query_len = strlen(query),
                              .headers = hs,
                              .n_headers = k,
                              .body = body,
                              .body_len = blen};
    *lc = (struct akid_lookup){g, NULL};
    struct sigv4_verify_params vp = {
        .lookup = lookup_akid, .lookup_ctx = lc, .now_s = gw_now_ms(g) / 1000, .head_only = head_only};
    enum brock_status st = sigv4_verify(g->signer, &r, &vp, ver, e);
    free(hs);
    return st;
}

/* Who is calling; answers the error and returns NULL when nobody we know. */
static struct gw_client *authenticate(struct gateway *g, struct httpd_req *req, struct httpd_resp *resp,
                                      const char *id)
{
    const char *authz = httpd_req_header(req, "authorization");
    if (!authz) {
        atomic_fetch_add(&g->st_refused_auth, 1);
        send_error(resp, id, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
        return NULL;
    }
    if (!strncasecmp(authz, "Bearer ", 7)) {
        struct gw_client *c = bearer_client(g, authz);
        if (c)
            return c;
        atomic_fetch_add(&g->st_refused_auth, 1);
        log_info("gateway: %s %s -> 403 unknown bearer token", httpd_req_method(req), httpd_req_path(req));
        send_error(resp, id, 403, "UnrecognizedClientException",
                   "The security token included in the request is invalid.");
        return NULL;
    }
    struct akid_lookup lc;
    struct sigv4_verified ver;
    struct brock_err e = {0};
    enum brock_status st = sigv4_check(g, req, false, &lc, &ver, &e);
    if (st == BROCK_OK && strcmp(ver.service, "bedrock")) {
        atomic_fetch_add(&g->st_refused_auth, 1);
        send_error(resp, id, 403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'.");
        return NULL;
    }
    if (st != BROCK_OK) {
        atomic_fetch_add(&g->st_refused_auth, 1);
        log_info("gateway: %s %s -> %d %s", httpd_req_method(req), httpd_req_path(req),
                 st == BROCK_ERR_TOO_LARGE ? 400 : (e.http_status ? e.http_status : 403),
                 e.aws_code[0] ? e.aws_code : brock_status_name(st));
        if (st == BROCK_ERR_TOO_LARGE)
            send_error(resp, id, 400, "ValidationException", e.msg);
        else
            send_error(resp, id, e.http_status ? e.http_status : 403,
                       e.aws_code[0] ? e.aws_code : "UnrecognizedClientException", e.msg);
        return NULL;
    }
    return lc.found;
}

/* httpd's head check: false when the head alone says that authenticate()
 * will refuse the request (no Authorization, an unknown bearer token, a
 * SigV4 head that cannot verify: malformed, an unknown key, outside the time
 * window). httpd then hands it to the handler at once without reading the
 * body, and the handler answers as it always does; so a client we do not
 * know cannot make the gateway hold its uploads. A known SigV4 key with the
 * wrong service passes: the full check refuses it in its own words. */
static bool head_check(void *ctx, struct httpd_req *req)
{
    struct gateway *g = ctx;
    const char *authz = httpd_req_header(req, "authorization");
    if (!authz)
        return false;
    if (!strncasecmp(authz, "Bearer ", 7))
        return bearer_client(g, authz) != NULL;
    struct akid_lookup lc;
    struct sigv4_verified ver;
    struct brock_err e = {0};
    return sigv4_check(g, req, true, &lc, &ver, &e) == BROCK_OK;
}

/* ---- budgets --------------------------------------------------------------------- */

static void fmt_day_reset(char *out, size_t n, bool month)
{
    snprintf(out, n, "%s", month ? "the first of next month, 00:00 UTC" : "00:00 UTC");
}

/* True when the call may go ahead; otherwise answers 400
 * ServiceQuotaExceededException (not retried by the SDKs). */
static bool budget_ok(struct gateway *g, struct gw_client *c, struct httpd_resp *resp, const char *id)
{
    const struct gateway_key *k = c->key;
    double ud = k->daily_usd > 0 ? k->daily_usd : g->o.budget.user_daily_usd;
    double um = k->monthly_usd > 0 ? k->monthly_usd : g->o.budget.user_monthly_usd;
    double td = g->o.budget.total_daily_usd, tm = g->o.budget.total_monthly_usd;
    if (ud <= 0 && um <= 0 && td <= 0 && tm <= 0)
        return true;
    int64_t now = gw_now_ms(g);
    int64_t day = store_utc_day_start(now), month = store_utc_month_start(now);
    pthread_mutex_lock(&g->spend_mu);
    double today = gw_spend_today(&c->user->spend, day), mon = gw_spend_month(&c->user->spend, month);
    double ttoday = gw_spend_today(&g->total, day), tmon = gw_spend_month(&g->total, month);
    pthread_mutex_unlock(&g->spend_mu);
    const char *which = NULL, *where;
    double limit = 0, spent = 0;
    bool per_key = false, monthly = false;
    if (ud > 0 && today >= ud) {
        which = "daily budget of user", limit = ud, spent = today, per_key = k->daily_usd > 0;
    } else if (um > 0 && mon >= um) {
        which = "monthly budget of user", limit = um, spent = mon, per_key = k->monthly_usd > 0, monthly = true;
    } else if (td > 0 && ttoday >= td) {
        which = "daily budget of the gateway, for", limit = td, spent = ttoday;
    } else if (tm > 0 && tmon >= tm) {
        which = "monthly budget of the gateway, for", limit = tm, spent = tmon, monthly = true;
    }
    if (!which)
        return true;
    where = per_key ? "the gateway's keys file" : (g->o.budget.where ? g->o.budget.where : "brock serve's options");
    char reset[64], msg[512];
    fmt_day_reset(reset, sizeof reset, monthly);
    snprintf(msg, sizeof msg,
             "brock gateway: the %s %s ($%.2f, set in %s) is spent: $%.2f so far; requests are refused until %s",
             which, k->user, limit, where, spent, reset);
    atomic_fetch_add(&g->st_refused_budget, 1);
    log_info("gateway: budget refusal for user %s (%s $%.2f of $%.2f)", k->user, which, spent, limit);
    send_error(resp, id, 400, "ServiceQuotaExceededException", msg);
    return false;
}

/* ---- the response cache, memory tier ------------------------------------------- */

static void cache_key(const struct gw_job *j, const char *body, size_t n, uint8_t out[SHA256_LEN])
{
    struct sha256_ctx c;
    sha256_init(&c);
    static const char tag[] = "brock-gateway-cache-1";
    sha256_update(&c, tag, sizeof tag);
    const char *op = gateway_op_name(j->op);
    sha256_update(&c, op, strlen(op) + 1);
    sha256_update(&c, j->model_id, strlen(j->model_id) + 1);
    sha256_update(&c, j->g->o.no_translate ? "raw" : "tr1", 4);
    sha256_update(&c, body, n);
    sha256_final(&c, out);
    sha256_free(&c);
}

/* ---- the handler ------------------------------------------------------------------ */

static void health(struct gateway *g, struct httpd_resp *resp)
{
    /* the live calls by state, for people watching a stuck one */
    size_t live = 0, done = 0, streaming = 0, waiting_drain = 0, listed = 0, upstream = 0, held = 0, parked = 0;
    for (struct gw_job *j = g->live; j; j = j->lnext) {
        live++;
        upstream += j->call != NULL;
        held += j->held;
        done += j->done;
        streaming += j->stream_started;
        waiting_drain += j->draining_wait;
        pthread_mutex_lock(&g->notify_mu);
        listed += j->in_notify;
        pthread_mutex_unlock(&g->notify_mu);
    }
    for (struct gw_job *j = g->parked; j; j = j->park_next)
        parked++;
    struct httpd_stats hs;
    httpd_stats(g->httpd, &hs);
    size_t keys = 0, retired = 0;
    for (size_t i = 0; i < g->n_clients; i++) {
        keys += !g->clients[i]->revoked;
        retired += g->clients[i]->revoked;
    }
    char b[2048];
    snprintf(b, sizeof b,
             "{\"status\":\"ok\",\"inflight\":%zu,\"queued\":%zu,\"upstream\":%zu,\"held\":%zu,\"live\":%zu,"
             "\"done\":%zu,\"streaming\":%zu,\"waiting_drain\":%zu,\"notified\":%zu,\"books_pending\":%zu,"
             "\"credentials_usable\":%s,\"credentials_wait\":%zu,\"realtime\":%s,\"refused_auth\":%" PRIu64
             ",\"refused_budget\":%" PRIu64 ",\"refused_busy\":%" PRIu64 ",\"refused_rate\":%" PRIu64
             ",\"tls_reloads\":%" PRIu64 ",\"tls_reload_errors\":%" PRIu64 ",\"keys_reloads\":%" PRIu64
             ",\"keys_reload_errors\":%" PRIu64 ",\"keys\":%zu,\"keys_retired\":%zu,\"profiles_known\":%" PRIu64
             ",\"profiles_unknown\":%" PRIu64 "}",
             g->inflight, g->queued, upstream, held, live, done, streaming, waiting_drain, listed, gw_books_pending(g),
             atomic_load(&g->creds_down) ? "false" : "true", parked, atomic_load(&g->realtime_on) ? "true" : "false",
             atomic_load(&g->st_refused_auth), atomic_load(&g->st_refused_budget), atomic_load(&g->st_refused_busy),
             atomic_load(&g->st_refused_rate), hs.tls_reloads, hs.tls_reload_errors, atomic_load(&g->st_keys_reloads),
             atomic_load(&g->st_keys_reload_errors), keys, retired, atomic_load(&g->st_profiles_known),
             atomic_load(&g->st_profiles_unknown));
    (void)httpd_resp_send_text(resp, 200, "application/json", b);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The same credential for the same user and project: the client stays. */
static bool same_key(const struct gateway_key *a, const struct gateway_key *b)
{
    return same_str(a->token, b->token) && same_str(a->access_key_id, b->access_key_id) &&
           same_str(a->secret_access_key, b->secret_access_key) && !strcmp(a->user, b->user ? b->user : "unknown") &&
           !strcmp(a->project, b->project ? b->project : "");
}

static struct gw_client *client_new(struct gateway *g, const struct gateway_key *k);
static void client_free(struct gw_client *c);
static double rate_burst(long rpm);

/* [loop] The client keys read again (gateway_reload), put in use. A key
 * that stays keeps its client (calls in flight, queue, rate bucket; its
 * limits are the new ones); a new key gets a client; a removed key's client
 * is marked revoked, so it is refused from now on, while what it already
 * sent runs to its end and is booked as its user's (a revoked client stays
 * while a job points at it, and goes at the first reload after that). The
 * books thread reads the list, so the swap is under clients_mu. Spend is a
 * user's, not a key's: a new key of a user already here shares it; a new
 * user's is read from the ledger by the books thread right after (until
 * then, ~a millisecond, none). Frees *nk; e: why it did not load. */
static void keys_apply(struct gateway *g, struct gateway_keys *keys, enum brock_status st, const struct brock_err *why)
{
    struct gateway_keys nk = *keys;
    memset(keys, 0, sizeof *keys);
    struct brock_err e = *why;
    if (st == BROCK_OK && !nk.n)
        st = err_set(&e, BROCK_ERR_CONFIG, "no client key left");
    if (st != BROCK_OK) {
        atomic_fetch_add(&g->st_keys_reload_errors, 1);
        log_error("reload: %s; the keys read before stay in use", e.msg);
        gateway_keys_free(&nk);
        return;
    }
    size_t n_old = g->n_clients, n = n_old, added = 0, removed = 0, kept = 0;
    struct gw_client **v = xcalloc(n_old + nk.n, sizeof *v);
    memcpy(v, g->clients, n_old * sizeof *v);
    for (size_t j = 0; j < n_old; j++)
        v[j]->stays = false;
    for (size_t i = 0; i < nk.n; i++) {
        const struct gateway_key *k = &nk.v[i];
        /* the live client with this key's token or access key id (the
         * indexes hold live clients only) */
        struct gw_client *c = NULL;
        if (k->token) {
            uint8_t d[SHA256_LEN];
            crypto_sha256(k->token, strlen(k->token), d);
            c = find_token(g, d);
        } else if (k->access_key_id) {
            c = find_akid(g, k->access_key_id);
        }
        if (c && !c->stays && same_key(c->key, k)) {
            c->stays = true;
            kept++;
            c->key->daily_usd = k->daily_usd;
            c->key->monthly_usd = k->monthly_usd;
            if (c->key->max_rpm != k->max_rpm) {
                long was = c->rpm;
                c->key->max_rpm = k->max_rpm;
                c->rpm = k->max_rpm > 0 ? k->max_rpm : g->o.rpm_per_client;
                double burst = rate_burst(c->rpm);
                if (was <= 0 || c->rate_tokens > burst)
                    c->rate_tokens = burst;
            }
            continue;
        }
        c = client_new(g, k);
        c->stays = true;
        v[n++] = c;
        added++;
    }
    for (size_t j = 0; j < n_old; j++)
        if (!v[j]->revoked && !v[j]->stays) {
            v[j]->revoked = true;
            removed++;
        }
    gateway_keys_free(&nk);
    /* revoked clients no job points at any more go now, so reloads that
     * churn keys do not make the list grow */
    struct gw_client **gone = xcalloc(n ? n : 1, sizeof *gone);
    size_t n_gone = 0, w = 0;
    for (size_t j = 0; j < n; j++) {
        if (v[j]->revoked && v[j]->refs == 0)
            gone[n_gone++] = v[j];
        else
            v[w++] = v[j];
    }
    n = w;
    /* a new key of a user already here shares their spend; a new user's is
     * read from the ledger by the books thread right after */
    bool fresh = false;
    struct gw_users nu = users_bind(&g->users, v, n, &fresh);
    pthread_rwlock_wrlock(&g->clients_mu);
    struct gw_client **old = g->clients;
    struct gw_users ou = g->users;
    g->clients = v;
    g->n_clients = n;
    g->users = nu;
    pthread_rwlock_unlock(&g->clients_mu);
    free(old);
    for (size_t i = 0; i < ou.n; i++) /* the users no client names any more */
        if (!ou.v[i]->keep)
            user_free(ou.v[i]);
    users_free(&ou, false);
    for (size_t i = 0; i < n_gone; i++)
        client_free(gone[i]);
    free(gone);
    index_build(g);
    if (fresh)
        gw_books_refresh_spend(g);
    atomic_fetch_add(&g->st_keys_reloads, 1);
    fprintf(stderr, "brock: reload: the client keys were read again: %zu in use (%zu added, %zu removed, %zu unchanged)\n",
            kept + added, added, removed, kept);
}

/* [helper] Read the keys (a file of thousands takes milliseconds of JSON:
 * not on the loop, where every call would wait) and hand them to the loop,
 * which applies them in on_notify. A result the loop has not taken yet is
 * replaced: the newest reading wins. */
void gw_keys_read(struct gateway *g)
{
    struct gateway_keys nk = {0};
    struct brock_err e = {0};
    enum brock_status st = g->o.reload_keys(g->o.reload_ctx, &nk, &e);
    pthread_mutex_lock(&g->notify_mu);
    if (g->keys_read)
        gateway_keys_free(&g->keys_new);
    g->keys_new = nk;
    g->keys_st = st;
    g->keys_err = e;
    g->keys_read = true;
    pthread_mutex_unlock(&g->notify_mu);
    gw_wake(g);
}

/* [loop] gateway_reload: the helper thread reads the keys (gw_keys_read;
 * gw_upstream_start starts it whenever there are keys to read again). */
static bool keys_reload(struct gateway *g)
{
    if (!g->o.reload_keys)
        return false;
    pthread_mutex_lock(&g->lk_mu);
    g->keys_want = true;
    pthread_cond_signal(&g->lk_cv);
    pthread_mutex_unlock(&g->lk_mu);
    return true;
}

/* [loop] after gateway_reload() (SIGHUP): the TLS files (httpd read them),
 * then the keys; say what happened where the operator looks. */
static void on_reload(void *ctx, const char *tls_error, const char *tls_what)
{
    struct gateway *g = ctx;
    if (tls_error)
        log_error("reload: %s; the certificate read before stays in use", tls_error);
    else if (tls_what)
        fprintf(stderr, "brock: reload: the TLS certificate and key were read again: %s\n", tls_what);
    if (!keys_reload(g) && !tls_error && !tls_what)
        fprintf(stderr, "brock: reload: nothing to read again (the gateway has no --tls-cert and no --keys-file)\n");
}

/* ---- requests a minute, per key -------------------------------------------------- */

static double rate_burst(long rpm)
{
    double b = (double)rpm / GATEWAY_RATE_BURST_DIV;
    return b < 1 ? 1 : b;
}

/* A token bucket per key: rpm / GATEWAY_RATE_BURST_DIV requests at once,
 * refilled at rpm / 60 a second. Past it: Bedrock's 429 ThrottlingException
 * (the SDKs and Claude Code back off and retry), before any work, so a
 * runaway or hostile client (a loop, HTTP/2 rapid reset with a valid key)
 * neither reaches the upstream nor writes ledger rows faster than that.
 * Every authenticated request counts. Loop thread only. */
static bool rate_ok(struct gateway *g, struct gw_client *c, struct httpd_resp *resp, const char *id)
{
    if (c->rpm <= 0)
        return true;
    int64_t now = time_mono_ms();
    double burst = rate_burst(c->rpm);
    c->rate_tokens += (double)(now - c->rate_ms) * (double)c->rpm / 60000.0;
    if (c->rate_tokens > burst)
        c->rate_tokens = burst;
    c->rate_ms = now;
    if (c->rate_tokens >= 1) {
        c->rate_tokens -= 1;
        return true;
    }
    double wait_s = (1 - c->rate_tokens) * 60.0 / (double)c->rpm;
    atomic_fetch_add(&g->st_refused_rate, 1);
    char more[80];
    if (log_enabled(LOG_INFO) && log_every_ok(&g->rate_log, 5000, more, sizeof more))
        log_info("gateway: user %s's key is past %ld requests a minute -> 429%s", c->key->user, c->rpm, more);
    char msg[300];
    snprintf(msg, sizeof msg,
             "brock gateway: this key (user %s) may send %ld requests a minute (brock serve --max-rpm-per-client, or "
             "the key's \"max_rpm\"); try again in %.1f s",
             c->key->user, c->rpm, wait_s);
    send_error(resp, id, 429, "ThrottlingException", msg);
    return false;
}

static bool is_control(const char *method, const char *path)
{
    if (strcmp(method, "GET"))
        return false;
    static const char *const pre[] = {"/inference-profiles", "/foundation-models"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(pre); i++) {
        size_t n = strlen(pre[i]);
        if (!strncmp(path, pre[i], n) && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

static void handler(void *ctx, struct httpd_req *req, struct httpd_resp *resp)
{
    struct gateway *g = ctx;
    const char *path = httpd_req_path(req), *method = httpd_req_method(req);
    if (!strcmp(path, "/_gateway/health") && (!strcmp(method, "GET") || !strcmp(method, "HEAD"))) {
        health(g, resp);
        return;
    }
    char id[40];
    new_id(id);
    httpd_req_set_id(req, id);
    struct gw_client *c = authenticate(g, req, resp, id);
    if (!c || !rate_ok(g, c, resp, id))
        return;
    char model[GW_MAX_MODEL_ID + 1] = "";
    enum gateway_op op = !strcmp(method, "POST") ? gateway_route(path, model, sizeof model) : GATEWAY_OP_NONE;
    if (op == GATEWAY_OP_NONE && is_control(method, path))
        op = GATEWAY_OP_CONTROL;
    if (op == GATEWAY_OP_NONE) {
        char msg[200];
        snprintf(msg, sizeof msg, "The requested operation is not recognized by the service: %s %.120s", method, path);
        send_error(resp, id, 404, "UnknownOperationException", msg);
        return;
    }
    atomic_fetch_add(&g->st_requests, 1);
    if (op != GATEWAY_OP_CONTROL && op != GATEWAY_OP_COUNT_TOKENS && !budget_ok(g, c, resp, id))
        return;

    struct gw_job *j = job_new(g, req, resp);
    memcpy(j->id, id, sizeof j->id);
    j->op = op;
    j->client = c;
    c->refs++;
    snprintf(j->model_id, sizeof j->model_id, "%s", model);

    if (g->cache && op != GATEWAY_OP_CONTROL && op != GATEWAY_OP_COUNT_TOKENS) {
        size_t n = 0;
        const char *body = httpd_req_body(req, &n);
        cache_key(j, body, n, j->cache_key);
        j->cache_candidate = true;
        const struct gw_entry *e = gw_cache_get(g->cache, j->cache_key, gw_now_ms(g));
        if (e) {
            replay(g, j, e, "cache hit");
            job_free(j);
            return;
        }
    }

    httpd_resp_on_close(resp, on_close, j);
    if (g->inflight < g->max_upstream && c->inflight < g->max_per_client && !c->qhead) {
        start(g, j);
        return;
    }
    if (c->n_queued >= GATEWAY_MAX_QUEUED_PER_CLIENT) {
        atomic_fetch_add(&g->st_refused_busy, 1);
        httpd_resp_on_close(resp, NULL, NULL);
        send_error(resp, id, 429, "ThrottlingException",
                   "brock gateway: too many requests waiting from this client; try again");
        job_free(j);
        return;
    }
    enqueue(g, j);
    j->qtimer = httpd_timer_add(g->httpd, g->o.queue_timeout_ms, queue_timeout, j);
}

/* ---- life cycle --------------------------------------------------------------------- */

static void add_region(struct gateway *g, const char *r)
{
    for (size_t i = 0; i < g->n_regions; i++)
        if (!strcmp(g->regions[i], r))
            return;
    if (g->n_regions < BROCK_ARRAY_LEN(g->regions))
        g->regions[g->n_regions++] = xstrdup(r);
}

static void client_free(struct gw_client *c)
{
    gateway_key_clear(c->key);
    free(c->key);
    free(c);
}

/* A client for a copy of key k. */
static struct gw_client *client_new(struct gateway *g, const struct gateway_key *k)
{
    struct gw_client *c = xcalloc(1, sizeof *c);
    c->key = xmalloc(sizeof *c->key);
    *c->key = (struct gateway_key){
        .token = k->token ? xstrdup(k->token) : NULL,
        .access_key_id = k->access_key_id ? xstrdup(k->access_key_id) : NULL,
        .secret_access_key = k->secret_access_key ? xstrdup(k->secret_access_key) : NULL,
        .user = xstrdup(k->user ? k->user : "unknown"),
        .project = xstrdup(k->project ? k->project : ""),
        .daily_usd = k->daily_usd,
        .monthly_usd = k->monthly_usd,
        .max_rpm = k->max_rpm,
    };
    if (c->key->token)
        crypto_sha256(c->key->token, strlen(c->key->token), c->token_digest);
    c->rpm = c->key->max_rpm > 0 ? c->key->max_rpm : g->o.rpm_per_client;
    c->rate_tokens = rate_burst(c->rpm);
    c->rate_ms = time_mono_ms();
    return c;
}

enum brock_status gateway_new(const struct gateway_options *o, struct gateway **out, struct brock_err *e)
{
    *out = NULL;
    if (!o->keys || o->keys->n == 0)
        return err_set(e, BROCK_ERR_USAGE,
                       "brock serve needs at least one client key (--key TOKEN=USER[/PROJECT] or --keys-file FILE)");
    if (o->n_regions + o->n_fallback + 1 > GATEWAY_MAX_TARGETS + 1)
        return err_set(e, BROCK_ERR_USAGE, "at most %d failover targets (regions and fallback models)",
                       GATEWAY_MAX_TARGETS);
    struct gateway *g = xcalloc(1, sizeof *g);
    g->o = *o;
    g->o.host = NULL;
    g->o.keys = NULL;
    g->o.store_dir = o->store_dir ? xstrdup(o->store_dir) : NULL;
    g->o.budget.where = o->budget.where ? xstrdup(o->budget.where) : NULL;
    g->o.upstream.region = xstrdup(o->upstream.region ? o->upstream.region : ENDPOINT_DEFAULT_REGION);
    g->o.upstream.endpoint_url = o->upstream.endpoint_url ? xstrdup(o->upstream.endpoint_url) : NULL;
    g->o.upstream.endpoint_label = o->upstream.endpoint_label ? xstrdup(o->upstream.endpoint_label) : NULL;
    g->o.upstream.bearer_token = o->upstream.bearer_token ? xstrdup(o->upstream.bearer_token) : NULL;
    g->o.upstream.http.ca_bundle = o->upstream.http.ca_bundle ? xstrdup(o->upstream.http.ca_bundle) : NULL;
    g->o.upstream.http.user_agent_extra = xstrdup("md/brock-gateway");
    g->o.regions = NULL;
    g->o.fallback = NULL;
    if (!g->o.max_upstream)
        g->o.max_upstream = GATEWAY_DEFAULT_MAX_UPSTREAM;
    /* one key never holds every slot: a client whose streams never end (a
     * stuck reader, a runaway script) leaves the others three quarters */
    if (!g->o.max_per_client)
        g->o.max_per_client = g->o.max_upstream / GATEWAY_DEFAULT_PER_CLIENT_DIV;
    if (!g->o.max_per_client)
        g->o.max_per_client = 1;
    if (g->o.max_per_client > g->o.max_upstream)
        g->o.max_per_client = g->o.max_upstream;
    if (g->o.queue_timeout_ms <= 0)
        g->o.queue_timeout_ms = GATEWAY_DEFAULT_QUEUE_TIMEOUT_MS;
    if (g->o.cache_ttl_s <= 0)
        g->o.cache_ttl_s = GATEWAY_DEFAULT_CACHE_TTL_S;
    if (!g->o.cache_mem)
        g->o.cache_mem = GATEWAY_DEFAULT_CACHE_MEM;
    g->max_upstream = g->o.max_upstream;
    g->max_per_client = g->o.max_per_client;
    g->clock = o->clock;
    g->efd = -1;

    /* keys (deep copy) and their clients */
    pthread_rwlock_init(&g->clients_mu, NULL);
    g->clients = xcalloc(o->keys->n, sizeof *g->clients);
    for (size_t i = 0; i < o->keys->n; i++)
        g->clients[g->n_clients++] = client_new(g, &o->keys->v[i]);
    bool fresh = false;
    g->users = users_bind(&g->users, g->clients, g->n_clients, &fresh);
    index_build(g);

    /* targets: the request itself, then regions, then fallback models */
    add_region(g, g->o.upstream.region);
    g->targets[g->n_targets++] = (struct gateway_target){"", ""};
    for (size_t i = 0; i < o->n_regions; i++) {
        struct gateway_target t = {"", ""};
        snprintf(t.region, sizeof t.region, "%s", o->regions[i]);
        add_region(g, t.region);
        g->targets[g->n_targets++] = t;
    }
    for (size_t i = 0; i < o->n_fallback; i++) {
        g->targets[g->n_targets] = o->fallback[i];
        if (o->fallback[i].region[0])
            add_region(g, o->fallback[i].region);
        g->n_targets++;
    }

    pthread_mutex_init(&g->notify_mu, NULL);
    pthread_mutex_init(&g->lk_mu, NULL);
    pthread_cond_init(&g->lk_cv, NULL);
    pthread_mutex_init(&g->sess_mu, NULL);
    pthread_mutex_init(&g->spend_mu, NULL);
    g->signer = sigv4_signer_new();
    if (!o->no_cache)
        g->cache = gw_cache_new(g->o.cache_mem);

    struct httpd_options ho;
    httpd_options_init(&ho);
    ho.host = o->host;
    ho.port = o->port;
    ho.allow_non_loopback = o->allow_non_loopback;
    ho.tls_cert_file = o->tls_cert_file;
    ho.tls_key_file = o->tls_key_file;
    ho.handler = handler;
    ho.handler_ctx = g;
    ho.on_reload = on_reload;
    ho.head_check = head_check;
    ho.max_body = o->max_body;
    ho.write_timeout_ms = o->write_timeout_ms;
    ho.max_connections = 4096;
    ho.max_h2_streams = 256;
    enum brock_status st = httpd_new(&ho, &g->httpd, e);
    if (st != BROCK_OK)
        goto fail;
    httpd_url(g->httpd, o->host, g->url, sizeof g->url);

    g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g->efd < 0) {
        st = err_set(e, BROCK_ERR_IO, "gateway: eventfd: %s", strerror(errno));
        goto fail;
    }
    g->notify_ev = event_new(httpd_event_base(g->httpd), g->efd, EV_READ | EV_PERSIST, on_notify, g);
    event_add(g->notify_ev, NULL);
    event_base_once(httpd_event_base(g->httpd), -1, EV_TIMEOUT, on_loop_first_round, g, &(struct timeval){0, 0});

    g->books = gw_books_start(g, e);
    if (!g->books) {
        st = e ? e->status : BROCK_ERR_IO;
        goto fail;
    }
    if ((st = gw_upstream_start(g, e)) != BROCK_OK)
        goto fail;
    *out = g;
    return BROCK_OK;
fail:
    gateway_free(g);
    return st;
}

const char *gateway_url(const struct gateway *g)
{
    return g->url;
}

uint16_t gateway_port(const struct gateway *g)
{
    return httpd_port(g->httpd);
}

enum brock_status gateway_run(struct gateway *g, struct brock_err *e)
{
    return httpd_run(g->httpd, e);
}

enum brock_status gateway_start_thread(struct gateway *g, struct brock_err *e)
{
    enum brock_status st = httpd_start_thread(g->httpd, e);
    if (st == BROCK_OK)
        g->threaded = true;
    return st;
}

void gateway_reload(struct gateway *g)
{
    if (g && g->httpd)
        httpd_reload(g->httpd);
}

void gateway_stop(struct gateway *g, int grace_ms)
{
    if (g && g->httpd)
        httpd_stop(g->httpd, grace_ms < 0 ? GATEWAY_STOP_GRACE_MS : grace_ms);
}

void gateway_stats(struct gateway *g, struct gateway_stats *out)
{
    memset(out, 0, sizeof *out);
    out->requests = atomic_load(&g->st_requests);
    out->refused_auth = atomic_load(&g->st_refused_auth);
    out->refused_budget = atomic_load(&g->st_refused_budget);
    out->refused_busy = atomic_load(&g->st_refused_busy);
    out->refused_rate = atomic_load(&g->st_refused_rate);
    out->keys_reloads = atomic_load(&g->st_keys_reloads);
    out->keys_reload_errors = atomic_load(&g->st_keys_reload_errors);
    out->cache_hits = atomic_load(&g->st_cache_hits);
    out->upstream = atomic_load(&g->st_upstream);
    out->upstream_errors = atomic_load(&g->st_upstream_errors);
    out->failovers = atomic_load(&g->st_failovers);
    out->cut_streams = atomic_load(&g->st_cut);
    out->client_gone = atomic_load(&g->st_gone);
    out->translated = atomic_load(&g->st_translated);
    out->upstream_sockets = atomic_load(&g->st_up_sockets);
    out->profiles_known = atomic_load(&g->st_profiles_known);
    out->profiles_unknown = atomic_load(&g->st_profiles_unknown);
}

/* Jobs still alive after the loop ended (cut at the stop deadline, or never
 * finished): their calls are stopped; book what they did and free them. */
static void reap(struct gateway *g)
{
    /* the helper thread is joined: nothing puts jobs back on the list now */
    pthread_mutex_lock(&g->notify_mu);
    g->notify_head = NULL;
    pthread_mutex_unlock(&g->notify_mu);
    while (g->live) {
        struct gw_job *j = g->live;
        j->in_notify = false;
        httpd_timer_cancel(j->qtimer);
        j->qtimer = NULL;
        if (j->queued) {
            httpd_resp_on_close(j->resp, NULL, NULL);
            dequeue(g, j);
            job_free(j);
            continue;
        }
        httpd_resp_on_close(j->resp, NULL, NULL);
        httpd_resp_on_drain(j->resp, 0, NULL, NULL);
        j->gone = true;
        j->draining_wait = false;
        finish(g, j);
    }
}

void gateway_free(struct gateway *g)
{
    if (!g)
        return;
    if (g->httpd) {
        httpd_stop(g->httpd, 0);
        httpd_join(g->httpd);
    }
    /* Stop what still runs upstream and the helper thread, book and free
     * the jobs left, then the server (which releases the responses). */
    gw_upstream_stop(g);
    gateway_keys_free(&g->keys_new); /* read for a reload the loop did not live to apply */
    reap(g);
    gw_profiles_free(g);
    if (g->notify_ev)
        event_free(g->notify_ev);
    httpd_free(g->httpd);
    gw_books_stop(g->books);
    if (g->efd >= 0)
        close(g->efd);
    gw_cache_free(g->cache);
    gw_sessions_free(g);
    sigv4_signer_free(g->signer);
    for (size_t i = 0; i < g->n_clients; i++)
        client_free(g->clients[i]);
    free(g->clients);
    users_free(&g->users, true);
    free(g->by_token);
    free(g->by_akid);
    pthread_rwlock_destroy(&g->clients_mu);
    for (size_t i = 0; i < g->n_regions; i++)
        free(g->regions[i]);
    free((char *)g->o.store_dir);
    free((char *)g->o.budget.where);
    free((char *)g->o.upstream.region);
    free((char *)g->o.upstream.endpoint_url);
    free((char *)g->o.upstream.endpoint_label);
    xfree_secret((char *)g->o.upstream.bearer_token);
    free((char *)g->o.upstream.http.ca_bundle);
    free((char *)g->o.upstream.http.user_agent_extra);
    pthread_mutex_destroy(&g->notify_mu);
    pthread_mutex_destroy(&g->lk_mu);
    pthread_cond_destroy(&g->lk_cv);
    pthread_mutex_destroy(&g->sess_mu);
    pthread_mutex_destroy(&g->spend_mu);
    free(g);
}
