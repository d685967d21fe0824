/* gateway_books.c - the gateway's book-keeping: the thread that writes ledger
 * rows and runs the record callback (the audit event), the spend that budgets
 * are checked against, the response cache in memory and in the store, and
 * what a call costs (gateway.h). */
#include <errno.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../bedrock/catalog.h"
#include "../bedrock/pricing.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"
#include "gateway_int.h"

#define BOOKS_MAX_QUEUE 20000 /* records waiting; past it the loop's posts wait (never dropped) */
#define BOOKS_BATCH 512       /* records the catch-up writer puts in one store transaction at most */
/* ... and the idle-time writer (it ends a batch early when the catch-up
 * writer waits, after the record it is writing) */
#define BOOKS_IDLE_BATCH 64
/* A record that finds the thread idle waits this long for others to share
 * its transaction. 20 ms was tried: fewer wake-ups of this thread, but each
 * batch then preempts the loop for longer on two cores (one client's p99
 * 1.1 -> 1.8-2.0 ms, paced runs no better), so 2 it is. */
#define BOOKS_LINGER_MS 2
#define BOOKS_NICE 10 /* the catch-up writer's nice value (the loop keeps the process's) */
#define BOOKS_TRIM_ROWS 10000 /* after this many rows ... */
#define BOOKS_TRIM_IDLE_MS 1000 /* ... and a second with none, free memory goes back to the system */

struct rec {
    struct gateway_record r;
    char *strs[11];
    struct gw_entry *entry; /* to put in the persistent cache, or NULL */
    struct rec *next;
};

struct gw_books {
    struct gateway *g;
    struct store *store;  /* the books thread's */
    struct store *lookup; /* the lookup thread's cache reads, under lookup_mu */
    pthread_mutex_t lookup_mu;
    pthread_mutex_t wmu; /* the writer's: held from taking a batch to its commit (the store, the order) */
    pthread_mutex_t mu;  /* the queue's */
    pthread_cond_t cv, space, catchup_cv;
    struct rec *head, *tail;
    size_t n;
    size_t catchup_at;   /* queue length that wakes the catch-up writer ... */
    size_t catchup_low;  /* ... which writes until fewer than this are left */
    bool catching_up;    /* it is writing: the idle-time writer stands aside */
    bool stop;
    bool store_warned;
    _Atomic uint64_t catchup_batches;
    atomic_bool catchup_waiting; /* the catch-up writer waits for wmu: the idle-time one ends its batch */
    pthread_t th, th_catchup;
    bool started, started_catchup;
};

/* ---- cost ----------------------------------------------------------------------- */

double gw_cost(const struct gateway *g, const char *model_id, const struct gateway_usage *u)
{
    struct model_usage mu = {u->input, u->output, u->cache_read, u->cache_write};
    if (g->o.pricing) {
        bool known = false;
        return pricing_cost(g->o.pricing, model_id, &mu, 0, false, &known);
    }
    enum model_geo geo = GEO_NONE;
    const struct model_info *m = catalog_find(model_id, &geo);
    if (!m)
        return 0;
    return catalog_cost(m, geo, u->input, u->output, u->cache_read, u->cache_write, 0, false);
}

/* ---- spend ------------------------------------------------------------------------ */

static void spend_refresh(struct gw_books *b)
{
    struct gateway *g = b->g;
    if (!b->store)
        return;
    int64_t now = gw_now_ms(g);
    int64_t day = store_utc_day_start(now), month = store_utc_month_start(now);
    struct brock_err e = {0};
    double td = 0, tm = 0;
    if (store_ledger_budget(b->store, now, NULL, NULL, &td, &tm, &e) != BROCK_OK) {
        log_warn("gateway: reading the spend for budgets: %s", e.msg);
        return;
    }
    pthread_mutex_lock(&g->spend_mu);
    g->total_day_start_ms = day;
    g->total_month_start_ms = month;
    g->total_today_usd = td;
    g->total_month_usd = tm;
    pthread_mutex_unlock(&g->spend_mu);
    for (size_t i = 0; i < g->keys.n; i++) {
        struct gw_client *c = &g->clients[i];
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(g->keys.v[k].user, c->key->user);
        double d = 0, m = 0;
        if (seen) {
            for (size_t k = 0; k < i; k++)
                if (!strcmp(g->keys.v[k].user, c->key->user)) {
                    pthread_mutex_lock(&g->spend_mu);
                    d = g->clients[k].today_usd;
                    m = g->clients[k].month_usd;
                    pthread_mutex_unlock(&g->spend_mu);
                    break;
                }
        } else if (store_ledger_budget(b->store, now, NULL, c->key->user, &d, &m, &e) != BROCK_OK) {
            log_warn("gateway: reading the spend of user %s: %s", c->key->user, e.msg);
            continue;
        }
        pthread_mutex_lock(&g->spend_mu);
        c->day_start_ms = day;
        c->month_start_ms = month;
        c->today_usd = d;
        c->month_usd = m;
        pthread_mutex_unlock(&g->spend_mu);
    }
}

static void spend_add(struct gateway *g, const char *user, double usd, int64_t t_ms)
{
    if (usd <= 0)
        return;
    int64_t day = store_utc_day_start(t_ms), month = store_utc_month_start(t_ms);
    pthread_mutex_lock(&g->spend_mu);
    for (size_t i = 0; i < g->keys.n; i++) {
        struct gw_client *c = &g->clients[i];
        if (strcmp(c->key->user, user))
            continue;
        if (c->day_start_ms != day) {
            c->day_start_ms = day;
            c->today_usd = 0;
        }
        if (c->month_start_ms != month) {
            c->month_start_ms = month;
            c->month_usd = 0;
        }
        c->today_usd += usd;
        c->month_usd += usd;
    }
    if (g->total_day_start_ms != day) {
        g->total_day_start_ms = day;
        g->total_today_usd = 0;
    }
    if (g->total_month_start_ms != month) {
        g->total_month_start_ms = month;
        g->total_month_usd = 0;
    }
    g->total_today_usd += usd;
    g->total_month_usd += usd;
    pthread_mutex_unlock(&g->spend_mu);
}

/* ---- the persistent cache ------------------------------------------------------------ */

static void cache_store(struct gw_books *b, const struct gw_entry *e)
{
    struct buf b64 = BUF_INIT(GATEWAY_CACHE_ENTRY_MAX * 2);
    if (base64_encode(&b64, e->body, e->len) != BROCK_OK) {
        buf_free(&b64);
        return;
    }
    json_t *o = json_pack("{s:i,s:b,s:s,s:s,s:s,s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:s}", "v", 1, "stream", e->stream,
                          "ctype", e->ctype, "bctype", e->bedrock_ctype, "body", buf_cstr(&b64), "model", e->model,
                          "region", e->region, "cost", e->cost_usd, "input", (json_int_t)e->usage.input, "output",
                          (json_int_t)e->usage.output, "cache_read", (json_int_t)e->usage.cache_read, "cache_write",
                          (json_int_t)e->usage.cache_write, "stop", e->usage.stop_reason);
    buf_free(&b64);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return;
    char hex[SHA256_HEX_LEN + 1];
    hex_encode(e->key, SHA256_LEN, hex);
    int64_t ttl = (e->expires_ms - gw_now_ms(b->g)) / 1000;
    struct brock_err err = {0};
    if (ttl > 0 && store_cache_put(b->store, hex, s, NULL, e->model, ttl, &err) != BROCK_OK)
        log_info("gateway: response cache: %s", err.msg);
    free(s);
}

size_t gw_books_pending(struct gateway *g)
{
    struct gw_books *b = g->books;
    if (!b)
        return 0;
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

bool gw_books_can_lookup(const struct gateway *g)
{
    return g->books && g->books->lookup;
}

struct gw_entry *gw_books_lookup(struct gateway *g, const uint8_t key[SHA256_LEN])
{
    struct gw_books *b = g->books;
    if (!b || !b->lookup)
        return NULL;
    char hex[SHA256_HEX_LEN + 1];
    hex_encode(key, SHA256_LEN, hex);
    struct store_cache_entry ce = {0};
    bool hit = false;
    struct brock_err e = {0};
    pthread_mutex_lock(&b->lookup_mu);
    enum brock_status st = store_cache_get(b->lookup, hex, &ce, &hit, &e);
    pthread_mutex_unlock(&b->lookup_mu);
    if (st != BROCK_OK || !hit) {
        store_cache_entry_cleanup(&ce);
        return NULL;
    }
    struct gw_entry *out = NULL;
    json_t *o = json_loadb(ce.answer_json, ce.answer_len, 0, NULL);
    const char *body = json_string_value(json_object_get(o, "body"));
    json_int_t v = json_integer_value(json_object_get(o, "v"));
    if (v == 1 && body) {
        struct buf raw = BUF_INIT(GATEWAY_CACHE_ENTRY_MAX);
        if (base64_decode(&raw, body, strlen(body)) == BROCK_OK && raw.len) {
            out = xcalloc(1, sizeof *out);
            memcpy(out->key, key, SHA256_LEN);
            out->stream = json_is_true(json_object_get(o, "stream"));
            out->expires_ms = ce.expires_ms;
            snprintf(out->ctype, sizeof out->ctype, "%s", json_string_value(json_object_get(o, "ctype")) ?: "application/json");
            snprintf(out->bedrock_ctype, sizeof out->bedrock_ctype, "%s",
                     json_string_value(json_object_get(o, "bctype")) ?: "");
            snprintf(out->model, sizeof out->model, "%s", json_string_value(json_object_get(o, "model")) ?: "");
            snprintf(out->region, sizeof out->region, "%s", json_string_value(json_object_get(o, "region")) ?: "");
            out->cost_usd = json_number_value(json_object_get(o, "cost"));
            out->usage.input = json_integer_value(json_object_get(o, "input"));
            out->usage.output = json_integer_value(json_object_get(o, "output"));
            out->usage.cache_read = json_integer_value(json_object_get(o, "cache_read"));
            out->usage.cache_write = json_integer_value(json_object_get(o, "cache_write"));
            out->len = raw.len;
            out->body = buf_take(&raw);
        }
        buf_free(&raw);
    }
    json_decref(o);
    store_cache_entry_cleanup(&ce);
    return out;
}

/* ---- the books thread ---------------------------------------------------------------- */

static char *dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

void gw_books_post(struct gateway *g, const struct gateway_record *r, const struct gw_entry *to_store)
{
    struct gw_books *b = g->books;
    if (!b)
        return;
    struct rec *x = xcalloc(1, sizeof *x);
    x->r = *r;
    const char **f[] = {&x->r.user,  &x->r.project,       &x->r.session,    &x->r.model,
                        &x->r.profile, &x->r.region,      &x->r.api,        &x->r.status,
                        &x->r.error_message, &x->r.request_id, &x->r.routing};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(f); i++) {
        x->strs[i] = dup_or_empty(*f[i]);
        *f[i] = x->strs[i];
    }
    if (to_store && b->store) {
        x->entry = xcalloc(1, sizeof *x->entry);
        *x->entry = *to_store;
        x->entry->body = xmemdup(to_store->body, to_store->len);
        x->entry->hnext = x->entry->lprev = x->entry->lnext = NULL;
    }
    pthread_mutex_lock(&b->mu);
    while (b->n >= BOOKS_MAX_QUEUE && !b->stop)
        pthread_cond_wait(&b->space, &b->mu);
    if (b->tail)
        b->tail->next = x;
    else
        b->head = x;
    b->tail = x;
    b->n++;
    /* the writers look at the queue again after each batch: wake the
     * idle-time one only from idle, or from its linger when a batch is
     * full; the catch-up one when the queue reaches its mark */
    if (b->n == 1 || b->n == BOOKS_IDLE_BATCH)
        pthread_cond_signal(&b->cv);
    if (b->n == b->catchup_at)
        pthread_cond_signal(&b->catchup_cv);
    pthread_mutex_unlock(&b->mu);
}

static void rec_free(struct rec *x)
{
    for (size_t i = 0; i < BROCK_ARRAY_LEN(x->strs); i++)
        free(x->strs[i]);
    gw_entry_free(x->entry);
    free(x);
}

static void write_one(struct gw_books *b, struct rec *x)
{
    struct gateway *g = b->g;
    const struct gateway_record *r = &x->r;
    if (b->store) {
        struct store_ledger_row row = {
            .time_ms = r->time_ms,
            .session_id = r->session,
            .user = r->user,
            .project = r->project,
            .model = r->model,
            .profile = r->profile,
            .region = r->region,
            .api = r->api,
            .usage = {r->input, r->output, r->cache_read, r->cache_write},
            .latency_ms = r->latency_ms,
            .ttft_ms = r->ttft_ms,
            .retries = r->retries,
            .status = r->status,
            .request_id = r->request_id,
            .cost_usd = r->cost_usd,
            .cache_hit = r->cache_hit,
            .routing = r->routing,
        };
        struct brock_err e = {0};
        if (store_ledger_insert(b->store, &row, NULL, &e) != BROCK_OK && !b->store_warned) {
            b->store_warned = true;
            log_warn("gateway: the ledger could not be written (%s); calls go on, budgets may lag", e.msg);
        }
        if (x->entry)
            cache_store(b, x->entry);
    }
    spend_add(g, r->user, r->cost_usd, r->time_ms ? r->time_ms : gw_now_ms(g));
    if (g->o.record)
        g->o.record(g->o.record_ctx, b->store, r);
}

/* One batch (what queued up while the last was written, up to BOOKS_BATCH
 * records) goes in one transaction: ledger rows, audit events, cache
 * entries. A commit per write was the gateway's biggest cost under load
 * (two commits per call, each a WAL append, and a checkpoint with fsyncs
 * every few thousand). A lone record is its own transaction, as before.
 * With `yield`, the batch ends early when the catch-up writer waits for
 * the writer's lock: what is left is returned, unwritten, in order. */
static struct rec *write_batch(struct gw_books *b, struct rec *list, bool yield)
{
    struct brock_err e = {0};
    bool batch = b->store && list && list->next && store_batch_begin(b->store, &e) == BROCK_OK;
    while (list) {
        struct rec *x = list;
        list = x->next;
        write_one(b, x);
        rec_free(x);
        if (yield && atomic_load_explicit(&b->catchup_waiting, memory_order_relaxed))
            break;
    }
    if (batch && store_batch_commit(b->store, &e) != BROCK_OK && !b->store_warned) {
        b->store_warned = true;
        log_warn("gateway: the ledger could not be written (%s); calls go on, budgets may lag", e.msg);
    }
    return list;
}

void gw_deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void housekeep(struct gw_books *b)
{
    struct gateway *g = b->g;
    if (b->store && g->o.housekeep)
        g->o.housekeep(g->o.record_ctx, b->store);
}

/* Takes the next batch (at most max records) off the queue and writes it;
 * the number taken. Neither lock held on entry. The writer's lock is held
 * from the take to the commit, so batches reach the store in queue order
 * whichever writer takes them. */
static size_t write_next(struct gw_books *b, size_t max, bool catchup)
{
    if (catchup) {
        atomic_store(&b->catchup_waiting, true);
        pthread_mutex_lock(&b->wmu);
        atomic_store(&b->catchup_waiting, false);
    } else {
        pthread_mutex_lock(&b->wmu);
    }
    pthread_mutex_lock(&b->mu);
    struct rec *list = b->head, *last = NULL;
    size_t taken = 0;
    for (struct rec *x = list; x && taken < max; x = x->next) {
        last = x;
        taken++;
    }
    if (last) {
        b->head = last->next;
        last->next = NULL;
        if (!b->head)
            b->tail = NULL;
    }
    b->n -= taken;
    /* one batch at a time, so a loop waiting for room (the queue full)
     * waits for one batch, not for everything queued */
    pthread_cond_broadcast(&b->space);
    pthread_mutex_unlock(&b->mu);
    struct rec *left = write_batch(b, list, !catchup);
    if (left) { /* the catch-up writer waits: it takes these first */
        size_t n_left = 0;
        for (struct rec *x = left; x; x = x->next)
            n_left++;
        pthread_mutex_lock(&b->mu);
        last->next = b->head;
        if (!b->head)
            b->tail = last;
        b->head = left;
        b->n += n_left;
        taken -= n_left;
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_unlock(&b->wmu);
    return taken;
}

#ifdef __linux__
/* This thread's scheduling policy, keeping its nice value; the time slice
 * when slice_us > 0 (EEVDF's custom slice, Linux >= 6.12; older kernels
 * ignore it). Best effort: 0 or an errno. */
static int set_policy(int policy, int nice, unsigned slice_us)
{
#ifdef SYS_sched_setattr
    struct gw_sched_attr a = {.size = sizeof a, .policy = (uint32_t)policy, .nice = nice,
                              .runtime = (uint64_t)slice_us * 1000u};
    if (syscall(SYS_sched_setattr, (pid_t)syscall(SYS_gettid), &a, 0u) == 0)
        return 0;
#else
    (void)slice_us;
#endif
    struct sched_param sp = {0};
    int rc = pthread_setschedparam(pthread_self(), policy, &sp);
    if (rc == 0 && policy != SCHED_IDLE)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
    return rc;
}

static int nice_of_this_thread(void)
{
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    return errno ? 0 : n;
}
#endif

/* The idle-time writer. The books are background work: every call waits on
 * the loop, none on them (unless the queue fills). On a machine whose cores
 * are busy (the loop, its upstream, its clients, a build) a batch written at
 * a normal priority delays whatever wakes on that core for the rest of the
 * batch's time slice (a closed loop of one client: p99 0.62 -> 0.42 ms with
 * this thread at SCHED_IDLE, where any other thread that wakes preempts it).
 * A SCHED_IDLE thread gets almost no CPU while every core is busy, though,
 * and may not leave that policy again without privilege, so a second thread
 * (catchup_main) takes over when the queue reaches catchup_at records. */
static void *books_main(void *arg)
{
    struct gw_books *b = arg;
#ifdef __linux__
    set_policy(SCHED_IDLE, nice_of_this_thread(), 0);
#endif
    int64_t next_refresh = time_mono_ms() + GATEWAY_SPEND_REFRESH_MS;
    size_t since_trim = 0;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        bool idle = false;
        while ((!b->head || b->catching_up) && !b->stop) {
            int64_t now = time_mono_ms();
            if (now >= next_refresh)
                break;
            bool trim = since_trim >= BOOKS_TRIM_ROWS;
            int64_t until = trim && now + BOOKS_TRIM_IDLE_MS < next_refresh ? now + BOOKS_TRIM_IDLE_MS : next_refresh;
            struct timespec ts;
            gw_deadline_in(&ts, until - now);
            int rc = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            idle = true;
            if (rc == ETIMEDOUT && trim && !b->head) {
                /* A burst is over (a second without a call). glibc keeps what
                 * the burst freed (its queue of records, answers, frames) in
                 * its arenas; hand it back: ~10 MiB after the benchmark. */
                pthread_mutex_unlock(&b->mu);
#ifdef __GLIBC__
                malloc_trim(0);
#endif
                pthread_mutex_lock(&b->mu);
                since_trim = 0;
            }
        }
        /* A record that finds the thread idle waits BOOKS_LINGER_MS for
         * company: at a few thousand calls a second a transaction per call
         * cost more than the rest of the books together. (Under more load
         * records gather while the last batch is written.) */
        if (idle && b->head && b->n < BOOKS_IDLE_BATCH && !b->stop && b->store) {
            struct timespec ts;
            gw_deadline_in(&ts, BOOKS_LINGER_MS);
            while (b->n < BOOKS_IDLE_BATCH && !b->stop)
                if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) != 0)
                    break;
        }
        bool work = b->head && !b->catching_up && !b->stop;
        pthread_mutex_unlock(&b->mu);
        if (work)
            since_trim += write_next(b, BOOKS_IDLE_BATCH, false);
        if (time_mono_ms() >= next_refresh) {
            pthread_mutex_lock(&b->wmu);
            spend_refresh(b);
            housekeep(b);
            pthread_mutex_unlock(&b->wmu);
            next_refresh = time_mono_ms() + GATEWAY_SPEND_REFRESH_MS;
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* The catch-up writer: asleep until the queue reaches catchup_at records
 * (the idle-time writer is falling behind: the cores are busy), then writes
 * full batches until less than one is left, as batch work at nice 10 with a
 * short slice, so it gets a share of a busy machine without keeping
 * anything that wakes off a core for long. (Up to half its mark, or one
 * full batch, stays for the idle-time writer.) It also writes whatever is
 * queued at stop, so a stop never waits on the idle-time writer. */
static void *catchup_main(void *arg)
{
    struct gw_books *b = arg;
#ifdef __linux__
    int nice_now = nice_of_this_thread();
    set_policy(SCHED_BATCH, nice_now < BOOKS_NICE ? BOOKS_NICE : nice_now, GATEWAY_LOOP_SLICE_US);
#endif
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->n < b->catchup_at && !b->stop)
            pthread_cond_wait(&b->catchup_cv, &b->mu);
        if (b->stop && !b->head)
            break;
        b->catching_up = true;
        while (b->head && (b->stop || b->n >= b->catchup_low)) {
            pthread_mutex_unlock(&b->mu);
            write_next(b, BOOKS_BATCH, true);
            atomic_fetch_add(&b->catchup_batches, 1);
            pthread_mutex_lock(&b->mu);
        }
        b->catching_up = false;
        if (b->head)
            pthread_cond_signal(&b->cv); /* the rest is the idle-time writer's */
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

uint64_t gw_books_catchup_batches(struct gateway *g)
{
    return g->books ? atomic_load(&g->books->catchup_batches) : 0;
}

struct gw_books *gw_books_start(struct gateway *g, struct brock_err *e)
{
    struct gw_books *b = xcalloc(1, sizeof *b);
    b->g = g;
    b->catchup_at = g->o.books_catchup ? g->o.books_catchup : GATEWAY_BOOKS_CATCHUP;
    b->catchup_low = b->catchup_at / 2 < BOOKS_BATCH ? b->catchup_at / 2 : BOOKS_BATCH;
    if (b->catchup_low < 1)
        b->catchup_low = 1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->wmu, NULL);
    pthread_mutex_init(&b->lookup_mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    pthread_cond_init(&b->space, NULL);
    pthread_cond_init(&b->catchup_cv, NULL);
    if (!g->o.no_store) {
        struct store_options so = {.dir = g->o.store_dir, .clock = g->clock, .idle_checkpoints = false};
        if (store_open(&so, &b->store, e) != BROCK_OK ||
            (!g->o.no_cache && store_open(&so, &b->lookup, e) != BROCK_OK)) {
            gw_books_stop(b);
            return NULL;
        }
        spend_refresh(b); /* budgets apply from the first request */
        housekeep(b);
    }
    g->books = b;
    b->started_catchup = pthread_create(&b->th_catchup, NULL, catchup_main, b) == 0;
    b->started = b->started_catchup && pthread_create(&b->th, NULL, books_main, b) == 0;
    if (!b->started) {
        g->books = NULL;
        err_set(e, BROCK_ERR_INTERNAL, "gateway: could not start the book-keeping threads");
        gw_books_stop(b);
        return NULL;
    }
    return b;
}

void gw_books_stop(struct gw_books *b)
{
    if (!b)
        return;
    if (b->started || b->started_catchup) {
        pthread_mutex_lock(&b->mu);
        b->stop = true;
        pthread_cond_broadcast(&b->cv);
        pthread_cond_broadcast(&b->catchup_cv);
        pthread_cond_broadcast(&b->space);
        pthread_mutex_unlock(&b->mu);
        if (b->started)
            pthread_join(b->th, NULL);
        if (b->started_catchup)
            pthread_join(b->th_catchup, NULL); /* it writes what is left */
    }
    while (b->head) {
        struct rec *x = b->head;
        b->head = x->next;
        rec_free(x);
    }
    store_close(b->store);
    store_close(b->lookup);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->wmu);
    pthread_mutex_destroy(&b->lookup_mu);
    pthread_cond_destroy(&b->cv);
    pthread_cond_destroy(&b->space);
    pthread_cond_destroy(&b->catchup_cv);
    free(b);
}

/* ---- the memory tier ------------------------------------------------------------------ */

struct gw_cache {
    struct gw_entry *buckets[GW_CACHE_BUCKETS];
    struct gw_entry *lru_head, *lru_tail;
    size_t bytes, max_bytes;
};

void gw_entry_free(struct gw_entry *e)
{
    if (!e)
        return;
    free(e->body);
    free(e);
}

struct gw_cache *gw_cache_new(size_t max_bytes)
{
    struct gw_cache *c = xcalloc(1, sizeof *c);
    c->max_bytes = max_bytes;
    return c;
}

static size_t bucket(const uint8_t key[SHA256_LEN])
{
    return ((size_t)key[0] << 8 | key[1]) % GW_CACHE_BUCKETS;
}

static size_t cost_of(const struct gw_entry *e)
{
    return e->len + sizeof *e;
}

static void lru_unlink(struct gw_cache *c, struct gw_entry *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        c->lru_head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        c->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_front(struct gw_cache *c, struct gw_entry *e)
{
    e->lprev = NULL;
    e->lnext = c->lru_head;
    if (c->lru_head)
        c->lru_head->lprev = e;
    c->lru_head = e;
    if (!c->lru_tail)
        c->lru_tail = e;
}

static void remove_entry(struct gw_cache *c, struct gw_entry *e)
{
    struct gw_entry **pp = &c->buckets[bucket(e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    lru_unlink(c, e);
    c->bytes -= cost_of(e);
    gw_entry_free(e);
}

void gw_cache_free(struct gw_cache *c)
{
    if (!c)
        return;
    while (c->lru_head)
        remove_entry(c, c->lru_head);
    free(c);
}

const struct gw_entry *gw_cache_get(struct gw_cache *c, const uint8_t key[SHA256_LEN], int64_t now_ms)
{
    for (struct gw_entry *e = c->buckets[bucket(key)]; e; e = e->hnext) {
        if (memcmp(e->key, key, SHA256_LEN))
            continue;
        if (now_ms >= e->expires_ms) {
            remove_entry(c, e);
            return NULL;
        }
        lru_unlink(c, e);
        lru_front(c, e);
        return e;
    }
    return NULL;
}

void gw_cache_put(struct gw_cache *c, struct gw_entry *e)
{
    if (cost_of(e) > c->max_bytes) {
        gw_entry_free(e);
        return;
    }
    for (struct gw_entry *x = c->buckets[bucket(e->key)]; x; x = x->hnext)
        if (!memcmp(x->key, e->key, SHA256_LEN)) {
            remove_entry(c, x);
            break;
        }
    while (c->lru_tail && c->bytes + cost_of(e) > c->max_bytes)
        remove_entry(c, c->lru_tail);
    size_t i = bucket(e->key);
    e->hnext = c->buckets[i];
    c->buckets[i] = e;
    lru_front(c, e);
    c->bytes += cost_of(e);
}
