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
#define BOOKS_BATCH 512       /* records written in one store transaction at most */
/* A record that finds the thread idle waits this long for others to share
 * its transaction. 20 ms was tried: fewer wake-ups of this thread, but each
 * batch then preempts the loop for longer on two cores (one client's p99
 * 1.1 -> 1.8-2.0 ms, paced runs no better), so 2 it is. */
#define BOOKS_LINGER_MS 2
#define BOOKS_NICE 10 /* the books thread's nice value (the loop keeps the process's) */
/* A second without a call after some: if the allocator holds this much free
 * memory (answers, frames, requests the burst freed), it goes back to the
 * system. */
#define BOOKS_TRIM_IDLE_MS 1000
#define BOOKS_TRIM_FREE_BYTES ((size_t)16 * 1024 * 1024)

struct rec {
    struct gateway_record r;
    struct gw_entry *entry; /* to put in the persistent cache, or NULL */
    struct rec *next;
};

struct gw_books {
    struct gateway *g;
    struct store *store;  /* the books thread's */
    struct store *lookup; /* the lookup thread's cache reads, under lookup_mu */
    pthread_mutex_t lookup_mu;
    pthread_mutex_t mu;
    pthread_cond_t cv, space;
    struct rec *head, *tail;
    size_t n;
    bool stop;
    bool refresh_now; /* a reload added keys: read the spend again at once */
    bool store_warned;
    pthread_t th;
    bool started;
};

/* ---- cost ----------------------------------------------------------------------- */

/* The prices file's price for id, else the catalog's; *known says whether either had one. */
static double priced_cost(const struct gateway *g, const char *id, const struct model_usage *mu, bool *known)
{
    if (g->o.pricing)
        return pricing_cost(g->o.pricing, id, mu, 0, false, known);
    enum model_geo geo = GEO_NONE;
    const struct model_info *m = catalog_find(id, &geo);
    *known = m != NULL;
    return m ? catalog_cost(m, geo, mu->input_tokens, mu->output_tokens, mu->cache_read_tokens,
                            mu->cache_write_tokens, 0, false)
             : 0;
}

double gw_cost(struct gateway *g, const char *model_id, const struct gateway_usage *u, const struct model_info **as,
               bool *estimated)
{
    struct model_usage mu = {u->input, u->output, u->cache_read, u->cache_write};
    if (estimated)
        *estimated = false;
    if (as)
        *as = NULL;
    bool known = false;
    double usd = priced_cost(g, model_id, &mu, &known);
    if (known)
        return usd;
    if (u->input <= 0 && u->output <= 0 && u->cache_read <= 0 && u->cache_write <= 0)
        return 0; /* nothing to price (a refused call): no estimate to mark */
    const struct model_info *pm = gw_profile_model(g, model_id);
    if (pm) { /* an application inference profile whose model Bedrock named */
        usd = priced_cost(g, pm->base_id, &mu, &known);
        if (known) {
            if (as)
                *as = pm;
            return usd;
        }
    }
    if (estimated)
        *estimated = true;
    struct pricing_rate r = {.p = catalog_ceiling_prices()};
    return pricing_rate_cost(&r, &mu, 0, false);
}

/* ---- spend ------------------------------------------------------------------------ */

struct user_spend {
    char *user;
    double today, month;
};

struct spend_rows {
    struct user_spend *v;
    size_t n, cap;
};

static void spend_row(void *ctx, const char *user, double today, double month)
{
    struct spend_rows *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->v = xrealloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = (struct user_spend){xstrdup(user), today, month};
}

static int spend_cmp(const void *a, const void *b)
{
    return strcmp(((const struct user_spend *)a)->user, ((const struct user_spend *)b)->user);
}

/* Every user's spend this day and month from the ledger: one query for all
 * of them (once per user read the month's rollup once per user: minutes a
 * refresh at thousands of keys), run with no lock held; the gateway's total
 * is their sum. Then set under the locks. The books thread is the one that
 * writes the ledger and adds to the spend, so no record falls between the
 * read and the set. */
static void spend_refresh(struct gw_books *b)
{
    struct gateway *g = b->g;
    if (!b->store)
        return;
    int64_t now = gw_now_ms(g);
    int64_t day = store_utc_day_start(now), month = store_utc_month_start(now);
    struct brock_err e = {0};
    struct spend_rows rows = {0};
    if (store_ledger_budget_by_user(b->store, now, spend_row, &rows, &e) != BROCK_OK) {
        log_warn("gateway: reading the spend for budgets: %s", e.msg);
        goto out;
    }
    struct gw_spend total = {day, month, 0, 0};
    for (size_t i = 0; i < rows.n; i++) {
        total.today_usd += rows.v[i].today;
        total.month_usd += rows.v[i].month;
    }
    if (rows.n)
        qsort(rows.v, rows.n, sizeof *rows.v, spend_cmp);
    /* the loop changes the users only on a reload, as writer */
    pthread_rwlock_rdlock(&g->clients_mu);
    pthread_mutex_lock(&g->spend_mu);
    g->total = total;
    for (size_t i = 0; i < g->users.n; i++) {
        struct gw_user *u = g->users.v[i];
        struct user_spend key = {.user = u->name};
        const struct user_spend *r = rows.n ? bsearch(&key, rows.v, rows.n, sizeof *rows.v, spend_cmp) : NULL;
        u->spend = (struct gw_spend){day, month, r ? r->today : 0, r ? r->month : 0};
    }
    pthread_mutex_unlock(&g->spend_mu);
    pthread_rwlock_unlock(&g->clients_mu);
out:
    for (size_t i = 0; i < rows.n; i++)
        free(rows.v[i].user);
    free(rows.v);
}

static void spend_add(struct gateway *g, const char *user, double usd, int64_t t_ms)
{
    if (usd <= 0)
        return;
    int64_t day = store_utc_day_start(t_ms), month = store_utc_month_start(t_ms);
    pthread_rwlock_rdlock(&g->clients_mu);
    pthread_mutex_lock(&g->spend_mu);
    struct gw_user *u = gw_user_find(&g->users, user);
    if (u)
        gw_spend_add(&u->spend, day, month, usd);
    gw_spend_add(&g->total, day, month, usd);
    pthread_mutex_unlock(&g->spend_mu);
    pthread_rwlock_unlock(&g->clients_mu);
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

void gw_books_post(struct gateway *g, const struct gateway_record *r, const struct gw_entry *to_store)
{
    struct gw_books *b = g->books;
    if (!b)
        return;
    /* one block: the record, then its strings. It is allocated here and
     * freed on the books thread, and each of those frees takes the loop's
     * malloc arena lock (glibc), so one free a call, not twelve: with eleven
     * strings apart, the two threads' waits on that lock were ~10 % of the
     * gateway's CPU with 50 connections in a closed loop. */
    const char *const src[] = {r->user,    r->project, r->session, r->model,         r->profile,    r->region,
                               r->api,     r->status,  r->error_message, r->request_id, r->routing};
    size_t len[BROCK_ARRAY_LEN(src)], total = sizeof(struct rec);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(src); i++) {
        len[i] = src[i] ? strlen(src[i]) : 0;
        total += len[i] + 1;
    }
    struct rec *x = xmalloc(total);
    memset(x, 0, sizeof *x);
    x->r = *r;
    const char **dst[] = {&x->r.user,    &x->r.project, &x->r.session, &x->r.model,         &x->r.profile, &x->r.region,
                          &x->r.api,     &x->r.status,  &x->r.error_message, &x->r.request_id, &x->r.routing};
    char *p = (char *)(x + 1);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(src); i++) {
        if (len[i])
            memcpy(p, src[i], len[i]);
        p[len[i]] = '\0';
        *dst[i] = p;
        p += len[i] + 1;
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
    /* the books thread looks at the queue again after each batch: wake it
     * only from idle, or from its linger when a batch is full */
    if (b->n == 1 || b->n == BOOKS_BATCH)
        pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void rec_free(struct rec *x)
{
    gw_entry_free(x->entry);
    free(x);
}

static struct store_ledger_row ledger_row(const struct gateway_record *r)
{
    return (struct store_ledger_row){
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
}

static void ledger_warn(struct gw_books *b, const struct brock_err *e)
{
    if (!b->store_warned) {
        b->store_warned = true;
        log_warn("gateway: the ledger could not be written (%s); calls go on, budgets may lag", e->msg);
    }
}

/* The ledger rows of n records: all in one insert (a rollup update per
 * user, project, model and day instead of one per row, and no savepoint per
 * row); if that is refused (a row the store will not take), row by row, so
 * one bad row costs only itself. */
static void write_ledger(struct gw_books *b, struct rec **v, size_t n)
{
    struct brock_err e = {0};
    if (n > 1) {
        struct store_ledger_row *rows = xmalloc(n * sizeof *rows);
        for (size_t i = 0; i < n; i++)
            rows[i] = ledger_row(&v[i]->r);
        enum brock_status st = store_ledger_insert_many(b->store, rows, n, &e);
        free(rows);
        if (st == BROCK_OK)
            return;
    }
    for (size_t i = 0; i < n; i++) {
        struct store_ledger_row row = ledger_row(&v[i]->r);
        if (store_ledger_insert(b->store, &row, NULL, &e) != BROCK_OK)
            ledger_warn(b, &e);
    }
}

/* What queued up while the last batch was written (up to BOOKS_BATCH records)
 * goes in one transaction: ledger rows, audit events, cache entries. A
 * commit per write was the gateway's biggest cost under load (two commits
 * per call, each a WAL append, and a checkpoint with fsyncs every few
 * thousand). A lone record is its own transaction, as before. */
static void write_list(struct gw_books *b, struct rec *list)
{
    struct gateway *g = b->g;
    struct rec *v[BOOKS_BATCH];
    while (list) {
        size_t n = 0;
        for (; list && n < BOOKS_BATCH; n++) {
            v[n] = list;
            list = list->next;
        }
        struct brock_err e = {0};
        bool batch = b->store && n > 1 && store_batch_begin(b->store, &e) == BROCK_OK;
        if (b->store)
            write_ledger(b, v, n);
        for (size_t i = 0; i < n; i++) {
            const struct gateway_record *r = &v[i]->r;
            if (b->store && v[i]->entry)
                cache_store(b, v[i]->entry);
            spend_add(g, r->user, r->cost_usd, r->time_ms ? r->time_ms : gw_now_ms(g));
            if (g->o.record)
                g->o.record(g->o.record_ctx, b->store, r);
            rec_free(v[i]);
        }
        if (batch && store_batch_commit(b->store, &e) != BROCK_OK)
            ledger_warn(b, &e);
    }
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

static void *books_main(void *arg)
{
    struct gw_books *b = arg;
    pthread_setname_np(pthread_self(), "brock-books");
    /* The books are background work: every call waits on the loop, none
     * on this thread (unless its queue fills). On a busy machine (the loop, its upstream and its
     * clients sharing few cores) a batch here must not keep the loop off a
     * core, so this thread runs as batch work at a lower priority. Best
     * effort: where not allowed, it runs as before. */
#ifdef __linux__
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (errno == 0 && nice_now < BOOKS_NICE)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), BOOKS_NICE);
#endif
    int64_t next_refresh = time_mono_ms() + GATEWAY_SPEND_REFRESH_MS;
    size_t since_trim = 0;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        bool idle = false;
        while (!b->head && !b->stop && !b->refresh_now) {
            int64_t now = time_mono_ms();
            if (now >= next_refresh)
                break;
            bool trim = since_trim > 0;
            int64_t until = trim && now + BOOKS_TRIM_IDLE_MS < next_refresh ? now + BOOKS_TRIM_IDLE_MS : next_refresh;
            struct timespec ts;
            gw_deadline_in(&ts, until - now);
            int rc = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            idle = true;
            if (rc == ETIMEDOUT && trim && !b->head) {
                /* A burst is over (a second without a call). glibc keeps what
                 * the burst freed (its queue of records, answers, frames) in
                 * its arenas; past BOOKS_TRIM_FREE_BYTES, hand it back: ~10
                 * MiB after the benchmark, ~500 MiB after 100 streams of 1 MB
                 * answers at once (mallinfo2 walks the arenas: microseconds). */
                pthread_mutex_unlock(&b->mu);
#ifdef __GLIBC__
                struct mallinfo2 mi = mallinfo2();
                if (mi.fordblks >= BOOKS_TRIM_FREE_BYTES)
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
        if (idle && b->head && b->n < BOOKS_BATCH && !b->stop && b->store) {
            struct timespec ts;
            gw_deadline_in(&ts, BOOKS_LINGER_MS);
            while (b->n < BOOKS_BATCH && !b->stop)
                if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) != 0)
                    break;
        }
        /* one batch at a time, so a loop waiting for room (the queue full)
         * waits for one batch, not for everything queued */
        struct rec *list = b->head, *last = NULL;
        size_t taken = 0;
        for (struct rec *x = list; x && taken < BOOKS_BATCH; x = x->next) {
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
        bool stop = b->stop, refresh = b->refresh_now;
        b->refresh_now = false;
        pthread_cond_broadcast(&b->space);
        pthread_mutex_unlock(&b->mu);
        write_list(b, list);
        since_trim += taken;
        if (time_mono_ms() >= next_refresh) {
            spend_refresh(b);
            housekeep(b);
            next_refresh = time_mono_ms() + GATEWAY_SPEND_REFRESH_MS;
        } else if (refresh) {
            spend_refresh(b);
        }
        pthread_mutex_lock(&b->mu);
        if (stop && !b->head)
            break;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

void gw_books_refresh_spend(struct gateway *g)
{
    struct gw_books *b = g->books;
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->refresh_now = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

struct gw_books *gw_books_start(struct gateway *g, struct brock_err *e)
{
    struct gw_books *b = xcalloc(1, sizeof *b);
    b->g = g;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->lookup_mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    pthread_cond_init(&b->space, NULL);
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
    if (pthread_create(&b->th, NULL, books_main, b) != 0) {
        g->books = NULL;
        err_set(e, BROCK_ERR_INTERNAL, "gateway: could not start the book-keeping thread");
        gw_books_stop(b);
        return NULL;
    }
    b->started = true;
    return b;
}

void gw_books_stop(struct gw_books *b)
{
    if (!b)
        return;
    if (b->started) {
        pthread_mutex_lock(&b->mu);
        b->stop = true;
        pthread_cond_broadcast(&b->cv);
        pthread_cond_broadcast(&b->space);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->th, NULL);
    }
    while (b->head) {
        struct rec *x = b->head;
        b->head = x->next;
        rec_free(x);
    }
    store_close(b->store);
    store_close(b->lookup);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->lookup_mu);
    pthread_cond_destroy(&b->cv);
    pthread_cond_destroy(&b->space);
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
