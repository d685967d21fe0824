/* retry.c - retry classification, backoff, retry quota and the adaptive
 * client-side rate limiter. Behaviour from botocore's retries package
 * (standard, quota, adaptive, bucket, throttling) and the AWS SDKs reference
 * guide (docs/internals/retry.md); the code is ours. */
#include "retry.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "crypto.h"

/* ---- configuration ---------------------------------------------------------- */

static const char *const mode_names[] = {
    [RETRY_MODE_STANDARD] = "standard",
    [RETRY_MODE_ADAPTIVE] = "adaptive",
    [RETRY_MODE_LEGACY] = "legacy",
};

const char *retry_mode_name(enum retry_mode m)
{
    return (unsigned)m < BROCK_ARRAY_LEN(mode_names) ? mode_names[m] : "unknown";
}

bool retry_mode_parse(const char *s, enum retry_mode *out)
{
    for (size_t i = 0; s && i < BROCK_ARRAY_LEN(mode_names); i++) {
        if (strcasecmp(s, mode_names[i]) == 0) {
            *out = (enum retry_mode)i;
            return true;
        }
    }
    return false;
}

void retry_config_init(struct retry_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = RETRY_MODE_STANDARD;
    c->max_attempts = RETRY_DEFAULT_MAX_ATTEMPTS;
    snprintf(c->mode_source, sizeof c->mode_source, "default");
    snprintf(c->max_attempts_source, sizeof c->max_attempts_source, "default");
}

static const char *profile_label(const struct endpoint_lookup *lk)
{
    return lk && lk->profile_name && *lk->profile_name ? lk->profile_name : "default";
}

static enum brock_status parse_mode(const char *v, const char *src, enum retry_mode *out, struct brock_err *e)
{
    if (retry_mode_parse(v, out))
        return BROCK_OK;
    char shown[48];
    snprintf(shown, sizeof shown, "%s", v);
    for (char *q = shown; *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
            *q = '?';
    return err_set(e, BROCK_ERR_CONFIG,
                   "%s: invalid retry mode \"%s\" (expected standard, adaptive or legacy)", src, shown);
}

static enum brock_status parse_attempts(const char *v, const char *src, int *out, struct brock_err *e)
{
    long n = 0;
    size_t i = 0;
    for (; v[i] >= '0' && v[i] <= '9' && i < 4; i++)
        n = n * 10 + (v[i] - '0');
    if (i > 0 && v[i] == '\0' && n >= 1 && n <= RETRY_MAX_ATTEMPTS_LIMIT) {
        *out = (int)n;
        return BROCK_OK;
    }
    char shown[48];
    snprintf(shown, sizeof shown, "%s", v);
    for (char *q = shown; *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
            *q = '?';
    return err_set(e, BROCK_ERR_CONFIG,
                   "%s: invalid max attempts \"%s\" (expected a whole number from 1 to %d)", src, shown,
                   RETRY_MAX_ATTEMPTS_LIMIT);
}

enum brock_status retry_config_resolve(struct retry_config *c, const char *explicit_mode,
                                       int explicit_max_attempts, const struct endpoint_lookup *lk,
                                       struct brock_err *e)
{
    char tmp[64];
    const char *v = NULL;
    enum brock_status st;

    /* mode */
    if (explicit_mode) {
        snprintf(c->mode_source, sizeof c->mode_source, "explicit");
        if ((st = parse_mode(explicit_mode, c->mode_source, &c->mode, e)) != BROCK_OK)
            return st;
    } else {
        if ((st = endpoint_lookup_env(lk, "AWS_RETRY_MODE", tmp, sizeof tmp, &v, e)) != BROCK_OK)
            return st;
        if (v) {
            snprintf(c->mode_source, sizeof c->mode_source, "AWS_RETRY_MODE");
        } else {
            if ((st = endpoint_lookup_profile(lk, "retry_mode", tmp, sizeof tmp, &v, e)) != BROCK_OK)
                return st;
            snprintf(c->mode_source, sizeof c->mode_source, "profile %s retry_mode", profile_label(lk));
        }
        if (v) {
            if ((st = parse_mode(v, c->mode_source, &c->mode, e)) != BROCK_OK)
                return st;
        } else {
            c->mode = RETRY_MODE_STANDARD;
            snprintf(c->mode_source, sizeof c->mode_source, "default");
        }
    }

    /* max attempts */
    if (explicit_max_attempts != 0) {
        snprintf(c->max_attempts_source, sizeof c->max_attempts_source, "explicit");
        if (explicit_max_attempts < 1 || explicit_max_attempts > RETRY_MAX_ATTEMPTS_LIMIT)
            return err_set(e, BROCK_ERR_CONFIG, "explicit: invalid max attempts %d (expected 1 to %d)",
                           explicit_max_attempts, RETRY_MAX_ATTEMPTS_LIMIT);
        c->max_attempts = explicit_max_attempts;
    } else {
        if ((st = endpoint_lookup_env(lk, "AWS_MAX_ATTEMPTS", tmp, sizeof tmp, &v, e)) != BROCK_OK)
            return st;
        if (v) {
            snprintf(c->max_attempts_source, sizeof c->max_attempts_source, "AWS_MAX_ATTEMPTS");
        } else {
            if ((st = endpoint_lookup_profile(lk, "max_attempts", tmp, sizeof tmp, &v, e)) != BROCK_OK)
                return st;
            snprintf(c->max_attempts_source, sizeof c->max_attempts_source, "profile %s max_attempts",
                     profile_label(lk));
        }
        if (v) {
            if ((st = parse_attempts(v, c->max_attempts_source, &c->max_attempts, e)) != BROCK_OK)
                return st;
        } else {
            c->max_attempts = RETRY_DEFAULT_MAX_ATTEMPTS;
            snprintf(c->max_attempts_source, sizeof c->max_attempts_source, "default");
        }
    }

    /* the 2026 variant switch (environment only, as in the SDKs) */
    if ((st = endpoint_lookup_env(lk, "AWS_NEW_RETRIES_2026", tmp, sizeof tmp, &v, e)) != BROCK_OK)
        return st;
    c->new_retries_2026 = false;
    if (v)
        return endpoint_parse_bool(v, "AWS_NEW_RETRIES_2026", &c->new_retries_2026, e);
    return BROCK_OK;
}

/* ---- classification ------------------------------------------------------------ */

/* botocore retries/standard.py ThrottledRetryableChecker (the SDKs' list). */
static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

/* TransientRetryableChecker codes; modelled-retryable shapes of the services
 * brock calls (Bedrock ModelNotReadyException), STS IDPCommunicationError;
 * and Bedrock's 500/503 shapes, which arrive without an HTTP error status
 * when they come as event-stream exceptions. */
static const char *const transient_codes[] = {
    "RequestTimeout",        "RequestTimeoutException", "ModelNotReadyException",
    "IDPCommunicationError", "InternalServerException", "ServiceUnavailableException",
};

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool code_in(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(code[0]) == lower(list[i][0]) && strcmp(code + 1, list[i] + 1) == 0)
            return true;
    return false;
}

static bool code_prefix(const char *code, const char *prefix)
{
    return lower(code[0]) == lower(prefix[0]) && strncmp(code + 1, prefix + 1, strlen(prefix) - 1) == 0;
}

void retry_classify(int http_status, const char *aws_code, bool network_error, bool timeout,
                    struct retry_class *out)
{
    out->kind = RETRY_KIND_NONE;
    out->timeout = timeout;
    out->refresh_credentials = false;
    if (aws_code && !*aws_code)
        aws_code = NULL;

    if (http_status == 401 ||
        (aws_code && (code_prefix(aws_code, "ExpiredToken") || code_prefix(aws_code, "UnrecognizedClient") ||
                      code_in(aws_code, (const char *const[]){"InvalidClientTokenId"}, 1)))) {
        out->refresh_credentials = true;
        return;
    }
    if (aws_code && code_in(aws_code, throttling_codes, BROCK_ARRAY_LEN(throttling_codes))) {
        out->kind = RETRY_KIND_THROTTLING;
        return;
    }
    if (aws_code && code_in(aws_code, transient_codes, BROCK_ARRAY_LEN(transient_codes))) {
        out->kind = RETRY_KIND_TRANSIENT;
        return;
    }
    switch (http_status) {
    case 500:
    case 502:
    case 503:
    case 504:
        out->kind = RETRY_KIND_TRANSIENT;
        return;
    case 429: /* Too Many Requests with no code we know: throttling */
        out->kind = RETRY_KIND_THROTTLING;
        return;
    default:
        break;
    }
    if (http_status == 0 || network_error || timeout)
        out->kind = RETRY_KIND_TRANSIENT;
}

int64_t retry_parse_retry_after(const char *value)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    int64_t n = 0;
    size_t i = 0;
    for (; value[i] >= '0' && value[i] <= '9'; i++) {
        if (n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (value[i] - '0');
    }
    while (value[i] == ' ' || value[i] == '\t')
        i++;
    return i > 0 && value[i] == '\0' && (value[0] >= '0' && value[0] <= '9') ? n : -1;
}

const char *retry_decision_name(enum retry_decision d)
{
    switch (d) {
    case RETRY_AGAIN:
        return "retry";
    case RETRY_STOP_NOT_RETRYABLE:
        return "not retryable";
    case RETRY_STOP_ATTEMPTS:
        return "max attempts reached";
    case RETRY_STOP_QUOTA:
        return "retry quota exhausted";
    }
    return "unknown";
}

/* ---- the policy ---------------------------------------------------------------- */

#define CUBIC_BETA 0.7
#define CUBIC_C 0.4
#define LIMITER_MIN_RATE 0.5
#define LIMITER_MAX_RATE_SCALE 2.0
#define RATE_SMOOTHING 0.8
#define RATE_BUCKETS_PER_S 2.0  /* 0.5 s buckets */
#define LIMITER_MAX_WAITS 10000 /* guard against a clock whose sleep does not advance it */

struct limiter {
    bool enabled;
    /* token bucket */
    double fill_rate, max_capacity, capacity, last_refill;
    bool refilled;
    /* CUBIC */
    double w_max, k, last_fail;
    /* measured send rate */
    double measured, last_bucket, count;
};

struct retry_policy {
    pthread_mutex_t mu;
    struct retry_config cfg;
    int quota;
    struct limiter lim;
};

static double now_s(const struct retry_policy *p)
{
    if (p->cfg.clock && p->cfg.clock->now_ms)
        return (double)p->cfg.clock->now_ms(p->cfg.clock->ctx) / 1000.0;
    return (double)time_mono_ns() / 1e9;
}

static void bucket_refill(struct limiter *l, double t)
{
    if (!l->refilled) {
        l->last_refill = t;
        l->refilled = true;
        return;
    }
    if (t < l->last_refill) { /* a clock that stepped back: start again from here */
        l->last_refill = t;
        return;
    }
    double c = l->capacity + (t - l->last_refill) * l->fill_rate;
    l->capacity = c < l->max_capacity ? c : l->max_capacity;
    l->last_refill = t;
}

static void bucket_set_rate(struct limiter *l, double rate, double t)
{
    bucket_refill(l, t);
    l->fill_rate = rate > LIMITER_MIN_RATE ? rate : LIMITER_MIN_RATE;
    l->max_capacity = rate >= 1 ? rate : 1;
    if (l->capacity > l->max_capacity)
        l->capacity = l->max_capacity;
}

static double cubic_k(double w_max)
{
    return cbrt(w_max * (1 - CUBIC_BETA) / CUBIC_C);
}

static void limiter_init(struct limiter *l, double t)
{
    memset(l, 0, sizeof *l);
    l->w_max = 0;
    l->k = cubic_k(0);
    l->last_fail = t;
    l->last_bucket = floor(t);
    bucket_set_rate(l, 1, t);
}

static double measure_send(struct limiter *l, double t)
{
    double bucket = floor(t * RATE_BUCKETS_PER_S) / RATE_BUCKETS_PER_S;
    l->count += 1;
    if (bucket > l->last_bucket) {
        double current = l->count / (bucket - l->last_bucket);
        l->measured = current * RATE_SMOOTHING + l->measured * (1 - RATE_SMOOTHING);
        l->count = 0;
        l->last_bucket = bucket;
    }
    return l->measured;
}

/* One response arrived; `throttled` says whether it was a throttling error. */
static void limiter_update(struct limiter *l, bool throttled, double t)
{
    double measured = measure_send(l, t), rate;
    if (!throttled) {
        double x = t - l->last_fail - l->k;
        rate = CUBIC_C * x * x * x + l->w_max;
    } else {
        double use = measured;
        if (l->enabled && l->fill_rate < use)
            use = l->fill_rate;
        l->w_max = use;
        l->k = cubic_k(use);
        l->last_fail = t;
        rate = use * CUBIC_BETA;
        l->enabled = true;
    }
    double cap = LIMITER_MAX_RATE_SCALE * measured;
    bucket_set_rate(l, rate < cap ? rate : cap, t);
}

struct retry_policy *retry_policy_new(const struct retry_config *c)
{
    struct retry_policy *p = xcalloc(1, sizeof *p);
    if (c)
        p->cfg = *c;
    else
        retry_config_init(&p->cfg);
    if (p->cfg.max_attempts < 1)
        p->cfg.max_attempts = 1;
    if (p->cfg.max_attempts > RETRY_MAX_ATTEMPTS_LIMIT)
        p->cfg.max_attempts = RETRY_MAX_ATTEMPTS_LIMIT;
    if ((unsigned)p->cfg.mode > RETRY_MODE_LEGACY)
        p->cfg.mode = RETRY_MODE_STANDARD;
    pthread_mutex_init(&p->mu, NULL);
    p->quota = RETRY_QUOTA_INITIAL;
    limiter_init(&p->lim, now_s(p));
    return p;
}

void retry_policy_free(struct retry_policy *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int64_t retry_send_token_wait(struct retry_policy *p, int waits)
{
    if (p->cfg.mode != RETRY_MODE_ADAPTIVE)
        return 0;
    int64_t ms = 0;
    pthread_mutex_lock(&p->mu);
    struct limiter *l = &p->lim;
    if (l->enabled) {
        bucket_refill(l, now_s(p));
        /* tolerate rounding: a wait of ceil(ms) may leave 0.999999... */
        if (l->capacity >= 1 - 1e-9 || waits >= LIMITER_MAX_WAITS) {
            l->capacity -= 1;
        } else {
            ms = (int64_t)ceil((1 - l->capacity) / l->fill_rate * 1000.0);
            if (ms < 1)
                ms = 1;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return ms;
}

void retry_acquire_send_token(struct retry_policy *p)
{
    int64_t ms;
    for (int waits = 0; (ms = retry_send_token_wait(p, waits)) > 0; waits++)
        clock_sleep_ms(p->cfg.clock, ms);
}

static double unit_random(const struct retry_policy *p)
{
    double r = p->cfg.random ? p->cfg.random(p->cfg.random_ctx) : crypto_random_unit();
    if (!(r >= 0)) /* also NaN */
        r = 0;
    if (r >= 1)
        r = nextafter(1.0, 0.0);
    return r;
}

enum retry_decision retry_decide(struct retry_policy *p, struct retry_token *t, const struct retry_class *c,
                                 int64_t retry_after_ms, int64_t *delay_ms)
{
    bool throttling = c->kind == RETRY_KIND_THROTTLING;
    enum retry_decision d = RETRY_AGAIN;
    *delay_ms = 0;
    t->attempts++;

    pthread_mutex_lock(&p->mu);
    if (p->cfg.mode == RETRY_MODE_ADAPTIVE)
        limiter_update(&p->lim, throttling, now_s(p));
    if (c->kind == RETRY_KIND_NONE) {
        d = RETRY_STOP_NOT_RETRYABLE;
    } else if (t->attempts >= p->cfg.max_attempts) {
        d = RETRY_STOP_ATTEMPTS;
    } else {
        int cost;
        if (p->cfg.new_retries_2026)
            cost = throttling ? RETRY_COST_THROTTLING_2026 : RETRY_COST_2026;
        else
            cost = c->timeout ? RETRY_COST_TIMEOUT : RETRY_COST;
        if (cost > p->quota) {
            d = RETRY_STOP_QUOTA;
        } else {
            p->quota -= cost;
            t->cost = cost;
            double base = (p->cfg.new_retries_2026 && !throttling) ? RETRY_BASE_2026_MS : RETRY_BASE_MS;
            int exp = t->attempts - 1; /* 2^(attempt-1) for the attempt that just failed */
            double ceiling = exp >= 30 ? RETRY_MAX_BACKOFF_MS : base * (double)(1u << exp);
            if (ceiling > RETRY_MAX_BACKOFF_MS)
                ceiling = RETRY_MAX_BACKOFF_MS;
            double delay = unit_random(p) * ceiling;
            if (retry_after_ms >= 0) {
                double after = (double)retry_after_ms, most = delay + RETRY_AFTER_MAX_EXTRA_MS;
                double want = after < most ? after : most;
                if (want > delay)
                    delay = want;
            }
            *delay_ms = (int64_t)delay;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return d;
}

void retry_on_success(struct retry_policy *p, struct retry_token *t)
{
    int refund = t->cost ? t->cost : RETRY_NO_RETRY_REFUND;
    t->attempts++;
    pthread_mutex_lock(&p->mu);
    p->quota += refund;
    if (p->quota > RETRY_QUOTA_INITIAL)
        p->quota = RETRY_QUOTA_INITIAL;
    if (p->cfg.mode == RETRY_MODE_ADAPTIVE)
        limiter_update(&p->lim, false, now_s(p));
    pthread_mutex_unlock(&p->mu);
}

void retry_policy_stats(struct retry_policy *p, struct retry_stats *out)
{
    pthread_mutex_lock(&p->mu);
    out->mode = p->cfg.mode;
    out->max_attempts = p->cfg.max_attempts;
    out->quota_available = p->quota;
    out->limiter_enabled = p->lim.enabled;
    out->fill_rate = p->lim.fill_rate;
    out->max_capacity = p->lim.max_capacity;
    out->capacity = p->lim.capacity;
    out->measured_rate = p->lim.measured;
    out->last_max_rate = p->lim.w_max;
    out->last_throttle_s = p->lim.last_fail;
    pthread_mutex_unlock(&p->mu);
}
