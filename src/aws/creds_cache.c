/* creds_cache.c - the caching, single-flight wrapper around a provider.
 *
 * State, under one mutex:
 *   cur            the current set (a reference), or NULL
 *   advisory_at    from then on a get refreshes, keeping cur on failure
 *   mandatory_at   from then on cur is not handed out without a refresh
 *   forced         invalidate() was called since cur was fetched
 *   refreshing     a thread is inside the provider (the single flight)
 *   gen            completed refreshes, so waiters can tell theirs ended
 *   retry_at       after an advisory failure, no new attempt before this
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/log.h"
#include "creds_impl.h"

/* After a failed advisory refresh, wait this long before the next try (a
 * mandatory refresh does not wait). */
#define ADVISORY_RETRY_MS 30000LL

struct creds_cache {
    struct creds_provider *p;
    const struct clock *clk;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct aws_credentials *cur;
    int64_t advisory_at, mandatory_at, retry_at;
    bool forced, refreshing;
    uint64_t gen;
    enum brock_status last_st;
    struct brock_err last_err;
};

struct creds_cache *creds_cache_new(struct creds_provider *p, const struct clock *clk)
{
    struct creds_cache *c = xcalloc(1, sizeof *c);
    c->p = p;
    c->clk = clk;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return c;
}

void creds_cache_free(struct creds_cache *c)
{
    if (!c)
        return;
    aws_credentials_release(c->cur);
    creds_provider_free(c->p);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void creds_cache_invalidate(struct creds_cache *c)
{
    pthread_mutex_lock(&c->mu);
    c->forced = true;
    pthread_mutex_unlock(&c->mu);
    log_debug("AWS credentials invalidated; the next request fetches new ones");
}

/* Set the refresh times for a set fetched at `now`. */
static void set_windows(struct creds_cache *c, int64_t now)
{
    int64_t exp = c->cur->expiration_ms;
    if (exp == 0) {
        c->advisory_at = c->mandatory_at = INT64_MAX;
        return;
    }
    c->mandatory_at = exp - CREDS_MANDATORY_REFRESH_MS;
    c->advisory_at = exp - CREDS_ADVISORY_REFRESH_MS;
    /* A short-lived set: use it, and try again after half its life rather
     * than on every get. */
    if (c->mandatory_at <= now)
        c->mandatory_at = now + (exp - now) / 2;
    if (c->advisory_at <= now)
        c->advisory_at = now + (c->mandatory_at - now) / 2;
}

static enum brock_status fail_with(const struct creds_cache *c, struct brock_err *e)
{
    if (e)
        *e = c->last_err;
    return c->last_st;
}

/* When a get refreshes (advisory): at advisory_at, or `ahead_ms` before
 * the set expires if that is earlier. */
static int64_t advisory_time(const struct creds_cache *c, int64_t ahead_ms)
{
    if (ahead_ms <= 0 || !c->cur || !c->cur->expiration_ms || c->cur->expiration_ms - ahead_ms >= c->advisory_at)
        return c->advisory_at;
    return c->cur->expiration_ms - ahead_ms;
}

static enum brock_status cache_get(struct creds_cache *c, int64_t ahead_ms, struct aws_credentials **out,
                                   struct brock_err *e)
{
    *out = NULL;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int64_t now = clock_now_ms(c->clk);
        bool have = c->cur && !c->forced;
        bool usable = have && now < c->mandatory_at;
        if (have && (now < advisory_time(c, ahead_ms) || (usable && now < c->retry_at))) {
            *out = aws_credentials_acquire(c->cur);
            break;
        }
        if (c->refreshing) {
            if (usable) { /* an advisory refresh is under way: keep going */
                *out = aws_credentials_acquire(c->cur);
                break;
            }
            uint64_t gen = c->gen;
            while (c->refreshing)
                pthread_cond_wait(&c->cv, &c->mu);
            /* The refresh we waited for failed and left nothing usable:
             * share its error instead of starting another. */
            if (c->gen != gen && c->last_st != BROCK_OK && !(c->cur && !c->forced)) {
                enum brock_status st = fail_with(c, e);
                pthread_mutex_unlock(&c->mu);
                return st;
            }
            continue;
        }

        /* This thread refreshes. */
        c->refreshing = true;
        bool was_forced = c->forced;
        pthread_mutex_unlock(&c->mu);
        log_debug("refreshing AWS credentials (%s)", was_forced ? "invalidated" : have ? "expiring" : "none yet");
        struct aws_credentials *fresh = NULL;
        struct brock_err err = {0};
        enum brock_status st = creds_provider_get(c->p, &fresh, &err);
        int64_t after = clock_now_ms(c->clk);
        if (st == BROCK_OK && fresh->expiration_ms != 0 && fresh->expiration_ms <= after) {
            char when[21];
            time_fmt_iso8601(fresh->expiration_ms / 1000, when);
            st = err_set(&err, BROCK_ERR_CREDENTIALS, "the credentials from %s expired at %s; nothing newer came",
                         fresh->provider, when);
            aws_credentials_release(fresh);
            fresh = NULL;
        }
        pthread_mutex_lock(&c->mu);
        c->refreshing = false;
        c->gen++;
        c->last_st = st;
        c->last_err = err;
        pthread_cond_broadcast(&c->cv);
        if (st == BROCK_OK) {
            aws_credentials_release(c->cur);
            c->cur = fresh;
            c->forced = false;
            c->retry_at = 0;
            set_windows(c, after);
            *out = aws_credentials_acquire(c->cur);
            break;
        }
        if (c->cur && !c->forced && after < c->mandatory_at) {
            /* Advisory refresh failed: the current set still has time. */
            c->retry_at = after + ADVISORY_RETRY_MS;
            log_warn("refreshing AWS credentials failed (%s); using the current ones, which expire in %lld s",
                     err.msg, (long long)((c->cur->expiration_ms - after) / 1000));
            *out = aws_credentials_acquire(c->cur);
            break;
        }
        pthread_mutex_unlock(&c->mu);
        if (e)
            *e = err;
        return st;
    }
    pthread_mutex_unlock(&c->mu);
    if (e)
        err_clear(e);
    return BROCK_OK;
}

enum brock_status creds_cache_get(struct creds_cache *c, struct aws_credentials **out, struct brock_err *e)
{
    return cache_get(c, 0, out, e);
}

enum brock_status creds_cache_get_ahead(struct creds_cache *c, int64_t ahead_ms, struct aws_credentials **out,
                                        struct brock_err *e)
{
    return cache_get(c, ahead_ms, out, e);
}

enum brock_status creds_cache_peek(struct creds_cache *c, struct aws_credentials **out, struct brock_err *e)
{
    *out = NULL;
    pthread_mutex_lock(&c->mu);
    int64_t now = clock_now_ms(c->clk);
    if (c->cur && !c->forced && now < c->mandatory_at) {
        *out = aws_credentials_acquire(c->cur);
        pthread_mutex_unlock(&c->mu);
        if (e)
            err_clear(e);
        return BROCK_OK;
    }
    const char *why = !c->cur     ? "none fetched yet"
                      : c->forced ? "the last set was rejected"
                                  : "the set expires within 10 minutes";
    enum brock_status st;
    if (c->refreshing || c->last_st == BROCK_OK)
        st = err_set(e, BROCK_ERR_CREDENTIALS, "no usable AWS credentials at the moment (%s; %s)", why,
                     c->refreshing ? "a refresh is under way" : "not refreshed yet");
    else
        st = err_set(e, BROCK_ERR_CREDENTIALS,
                     "no usable AWS credentials at the moment (%s; the last refresh failed: %s)", why,
                     c->last_err.msg);
    pthread_mutex_unlock(&c->mu);
    return st;
}

static enum brock_status source_peek(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    return creds_cache_peek(ctx, out, e);
}

static enum brock_status source_get(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    return creds_cache_get(ctx, out, e);
}

static enum brock_status source_get_ahead(void *ctx, int64_t ahead_ms, struct aws_credentials **out,
                                          struct brock_err *e)
{
    return creds_cache_get_ahead(ctx, ahead_ms, out, e);
}

static void source_invalidate(void *ctx)
{
    creds_cache_invalidate(ctx);
}

struct aws_creds_source creds_cache_source(struct creds_cache *c)
{
    return (struct aws_creds_source){
        .get = source_get, .get_ahead = source_get_ahead, .invalidate = source_invalidate, .ctx = c,
        .peek = source_peek};
}
