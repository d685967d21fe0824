/* shipper_bg.c - shipping on a worker thread: the REPL's background shipper
 * and the short run at the exit of a command (shipper.h).
 *
 * The worker owns a store handle and an AWS client made for it in
 * shipper_bg_start (they move to the worker before it starts). Its client's
 * cancel flag is the worker's own, so stopping can cut a call in flight
 * short once the final deadline has passed. */
#include "shipper.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/alloc.h"
#include "../util/log.h"
#include "../util/timeutil.h"

struct shipper_bg {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* kick, stop */
    pthread_cond_t done_cv;
    bool kicked, stopping, once, done;
    volatile sig_atomic_t cancel;
    struct store *store;
    struct aws_client *client;
    struct monitor_config cfg;
    char *host, *user;
    struct shipper_stats total;
    enum brock_status last_status;
    struct brock_err last_err;
};

static void abs_time_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *worker(void *arg)
{
    struct shipper_bg *b = arg;
    pthread_setname_np(pthread_self(), "brock-shipper");
    pthread_mutex_lock(&b->mu);
    for (;;) {
        bool last = b->stopping || b->once;
        b->kicked = false;
        pthread_mutex_unlock(&b->mu);

        struct shipper_options o = {
            .store = b->store,
            .client = b->client,
            .cfg = &b->cfg,
            .host = b->host,
            .user = b->user,
            .cancel = &b->cancel,
        };
        struct shipper_stats st;
        struct brock_err e = {0};
        enum brock_status rc = shipper_run(&o, &st, &e);
        if (rc != BROCK_OK && rc != BROCK_ERR_INTERRUPTED)
            log_debug("background log shipping: %s", e.msg);

        pthread_mutex_lock(&b->mu);
        shipper_stats_add(&b->total, &st);
        b->last_status = rc;
        b->last_err = e;
        if (last || b->cancel)
            break;
        if (!b->kicked && !b->stopping) {
            struct timespec ts;
            abs_time_after(&ts, b->cfg.interval_ms > 0 ? b->cfg.interval_ms : MONITOR_DEFAULT_INTERVAL_MS);
            while (!b->kicked && !b->stopping && pthread_cond_timedwait(&b->wake, &b->mu, &ts) != ETIMEDOUT)
                ;
        }
    }
    b->done = true;
    pthread_cond_broadcast(&b->done_cv);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void bg_free(struct shipper_bg *b)
{
    if (!b)
        return;
    aws_client_free(b->client);
    store_close(b->store);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->done_cv);
    free(b->host);
    free(b->user);
    free(b);
}

static enum brock_status bg_start(const struct shipper_bg_config *c, bool once, struct shipper_bg **out,
                                  struct brock_err *e)
{
    *out = NULL;
    if (!monitor_shipping_enabled(&c->cfg))
        return err_set(e, BROCK_ERR_CONFIG, "no log group to ship to");
    struct shipper_bg *b = xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->wake, &ca);
    pthread_cond_init(&b->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    b->once = once;
    b->cfg = c->cfg;
    b->host = c->host ? xstrdup(c->host) : NULL;
    b->user = c->user ? xstrdup(c->user) : NULL;
    b->total.remaining = -1;

    struct store_options so = {.dir = c->store_dir};
    enum brock_status st = store_open(&so, &b->store, e);
    if (st != BROCK_OK) {
        bg_free(b);
        return st;
    }
    struct aws_client_config cc = c->client;
    cc.http.cancel = &b->cancel;
    b->client = aws_client_new(&cc);
    if (pthread_create(&b->thread, NULL, worker, b) != 0) {
        bg_free(b);
        return err_set(e, BROCK_ERR_INTERNAL, "could not start the log shipping thread");
    }
    *out = b;
    return BROCK_OK;
}

enum brock_status shipper_bg_start(const struct shipper_bg_config *c, struct shipper_bg **out, struct brock_err *e)
{
    return bg_start(c, false, out, e);
}

void shipper_bg_kick(struct shipper_bg *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->kicked = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
}

void shipper_bg_stats(struct shipper_bg *b, struct shipper_stats *out)
{
    pthread_mutex_lock(&b->mu);
    *out = b->total;
    pthread_mutex_unlock(&b->mu);
}

void shipper_bg_stop(struct shipper_bg *b, int64_t final_ms, struct shipper_stats *total, struct brock_err *last_error)
{
    if (!b)
        return;
    struct timespec ts;
    abs_time_after(&ts, final_ms > 0 ? final_ms : 0);
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_signal(&b->wake);
    while (!b->done && pthread_cond_timedwait(&b->done_cv, &b->mu, &ts) != ETIMEDOUT)
        ;
    if (!b->done)
        b->cancel = 1; /* the deadline passed: cut the call in flight short */
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    if (total)
        *total = b->total;
    if (last_error)
        *last_error = b->last_err;
    bg_free(b);
}

enum brock_status shipper_ship_for(const struct shipper_bg_config *c, int64_t ms, struct shipper_stats *st,
                                   struct brock_err *e)
{
    memset(st, 0, sizeof *st);
    st->remaining = -1;
    struct shipper_bg *b;
    enum brock_status rc = bg_start(c, true, &b, e);
    if (rc != BROCK_OK)
        return rc;
    struct brock_err last = {0};
    shipper_bg_stop(b, ms, st, &last);
    if (last.status == BROCK_ERR_INTERRUPTED) {
        st->deadline_hit = true;
        return BROCK_OK;
    }
    if (last.status != BROCK_OK && e)
        *e = last;
    return last.status;
}
