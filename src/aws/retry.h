/* retry.h - the one retry policy for every AWS call brock makes.
 *
 * Behaviour follows the AWS SDKs' "standard" and "adaptive" retry modes
 * (botocore retries/standard.py, quota.py, adaptive.py, bucket.py,
 * throttling.py; see docs/internals/retry.md):
 *
 *  - classification of a failed attempt: not retryable, transient or
 *    throttling, plus a separate "refresh credentials" hint;
 *  - at most `max_attempts` attempts in all (default 3);
 *  - exponential backoff with full jitter, rand[0,1) * min(base * 2^(n-1),
 *    20 s), base 1 s, before retry n; the first attempt is never delayed;
 *  - a retry quota shared by all requests: 500 tokens, a retry costs 5 (10
 *    after a timeout), a success refunds 1 (no retry) or the last retry's
 *    cost; an empty quota stops retrying at once (circuit breaker);
 *  - adaptive mode adds a client-side rate limiter: a token bucket (one
 *    token per attempt) whose fill rate follows CUBIC (beta 0.7, C 0.4) on
 *    throttling responses, capped at twice the measured send rate and never
 *    below 0.5 requests/s. It switches on at the first throttling response.
 *
 * `legacy` mode is accepted and behaves exactly like `standard` (botocore's
 * legacy mode has its own tables and 5 attempts; brock does not reproduce it).
 * With `new_retries_2026` (AWS_NEW_RETRIES_2026=true) the 2026 SDK variant is
 * used instead: base 50 ms for non-throttling errors (1 s for throttling) and
 * retry costs 5 for throttling / 14 otherwise. In both variants a server
 * `x-amz-retry-after` (ms) is honoured: delay = max(t, min(after, t + 5 s)).
 *
 * Driving it (the AWS client layer), for one logical request:
 *
 *     struct retry_token t = RETRY_TOKEN_INIT;
 *     for (;;) {
 *         retry_acquire_send_token(p);          // adaptive: may sleep
 *         ... send, read the status / error code ...
 *         if (ok) { retry_on_success(p, &t); break; }
 *         struct retry_class c;
 *         retry_classify(status, code, net_err, timed_out, &c);
 *         int64_t delay;
 *         if (retry_decide(p, &t, &c, retry_after_ms, &delay) != RETRY_AGAIN) give up;
 *         clock_sleep_ms(clock, delay);
 *     }
 *
 * Exactly one of retry_on_success / retry_decide is called per attempt.
 *
 * Thread-safety: one policy is shared by all threads; its mutable state
 * (quota, limiter) is behind a mutex, never held while sleeping. A
 * retry_token belongs to one request (one thread). The policy keeps the
 * config's clock and random function pointers, which must outlive it.
 *
 * Ownership: retry_policy_new copies the config; free with retry_policy_free
 * (NULL is fine). */
#ifndef BROCK_AWS_RETRY_H
#define BROCK_AWS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/err.h"
#include "../util/timeutil.h"
#include "endpoint.h"

#define RETRY_DEFAULT_MAX_ATTEMPTS 3
#define RETRY_MAX_ATTEMPTS_LIMIT 50 /* the largest max_attempts accepted from configuration */
#define RETRY_MAX_BACKOFF_MS 20000
#define RETRY_BASE_MS 1000
#define RETRY_BASE_2026_MS 50         /* non-throttling errors, 2026 variant */
#define RETRY_AFTER_MAX_EXTRA_MS 5000 /* x-amz-retry-after may add at most this to the jitter */
#define RETRY_QUOTA_INITIAL 500
#define RETRY_COST 5
#define RETRY_COST_TIMEOUT 10
#define RETRY_COST_2026 14 /* non-throttling retry, 2026 variant */
#define RETRY_COST_THROTTLING_2026 5
#define RETRY_NO_RETRY_REFUND 1

enum retry_mode { RETRY_MODE_STANDARD = 0, RETRY_MODE_ADAPTIVE, RETRY_MODE_LEGACY };

struct retry_config {
    enum retry_mode mode;
    int max_attempts;            /* total attempts including the first, >= 1 */
    bool new_retries_2026;       /* the 2026 backoff scale and costs */
    const struct clock *clock;   /* NULL = real time (monotonic for the limiter) */
    double (*random)(void *ctx); /* uniform in [0, 1); NULL = crypto_random_unit */
    void *random_ctx;
    char mode_source[ENDPOINT_SOURCE_MAX]; /* for brock doctor: "AWS_RETRY_MODE", "default" */
    char max_attempts_source[ENDPOINT_SOURCE_MAX];
};

/* Defaults: standard, 3 attempts, real clock and randomness. */
void retry_config_init(struct retry_config *c);

/* Fill mode / max_attempts / new_retries_2026 from, in order: the explicit
 * values (`explicit_mode` NULL and `explicit_max_attempts` 0 mean unset),
 * AWS_RETRY_MODE / AWS_MAX_ATTEMPTS, the profile's retry_mode / max_attempts,
 * the defaults; AWS_NEW_RETRIES_2026 from the environment. Modes are
 * standard|adaptive|legacy (any case); max attempts a whole number from 1 to
 * RETRY_MAX_ATTEMPTS_LIMIT. A bad value is BROCK_ERR_CONFIG naming its source.
 * Leaves clock/random alone. `lk` may be NULL (environment only). */
enum brock_status retry_config_resolve(struct retry_config *c, const char *explicit_mode,
                                       int explicit_max_attempts, const struct endpoint_lookup *lk,
                                       struct brock_err *e) BROCK_WUR;

/* Parse one mode name; false if unknown. */
bool retry_mode_parse(const char *s, enum retry_mode *out);
const char *retry_mode_name(enum retry_mode m);

/* ---- classification ------------------------------------------------------ */

enum retry_kind { RETRY_KIND_NONE = 0, RETRY_KIND_TRANSIENT, RETRY_KIND_THROTTLING };

struct retry_class {
    enum retry_kind kind;
    bool timeout;             /* a timeout: costs RETRY_COST_TIMEOUT in the classic quota */
    bool refresh_credentials; /* ExpiredToken*, UnrecognizedClient*, InvalidClientTokenId or 401:
                                 refresh credentials (the caller's job); kind stays NONE */
};

/* Classify a failed attempt. `http_status` 0 means no response arrived;
 * `aws_code` is the normalised error code (NULL if none); the first letter is
 * compared case-insensitively so event-stream exception names
 * ("throttlingException") match too. */
void retry_classify(int http_status, const char *aws_code, bool network_error, bool timeout,
                    struct retry_class *out);

/* Parse an x-amz-retry-after header value (decimal milliseconds). Returns -1
 * for anything else (absent, negative, junk, overflow), as botocore ignores
 * bad values. */
int64_t retry_parse_retry_after(const char *value);

/* ---- the policy ------------------------------------------------------------ */

struct retry_policy;

struct retry_token {
    int attempts; /* attempts made so far (updated by retry_decide / retry_on_success) */
    int cost;     /* quota taken by the latest retry, 0 if none yet */
};
#define RETRY_TOKEN_INIT                                                                                     \
    {                                                                                                        \
        0, 0                                                                                                 \
    }

enum retry_decision {
    RETRY_AGAIN = 0,          /* sleep *delay_ms, then send again */
    RETRY_STOP_NOT_RETRYABLE, /* the error is not retryable */
    RETRY_STOP_ATTEMPTS,      /* max_attempts reached */
    RETRY_STOP_QUOTA,         /* retry quota exhausted (circuit breaker open) */
};
const char *retry_decision_name(enum retry_decision d);

/* A policy from a config; max_attempts is clamped to 1..RETRY_MAX_ATTEMPTS_LIMIT. */
struct retry_policy *retry_policy_new(const struct retry_config *c);
void retry_policy_free(struct retry_policy *p);

/* Before every attempt (the first too). Adaptive mode, once throttled: take a
 * token from the rate limiter, sleeping through the policy's clock until one
 * is available. Otherwise returns at once. */
void retry_acquire_send_token(struct retry_policy *p);
/* The same without sleeping, for callers on an event loop: 0 when the token
 * was taken, else the ms to wait before asking again (`waits`: how many
 * times this send has waited so far; past a bound the token is taken). */
int64_t retry_send_token_wait(struct retry_policy *p, int waits);

/* After a failed attempt: count it, feed the limiter, and decide. On
 * RETRY_AGAIN *delay_ms is the backoff to wait (never negative) and the
 * retry's cost is taken from the quota. `retry_after_ms` < 0 = no header. */
enum retry_decision retry_decide(struct retry_policy *p, struct retry_token *t, const struct retry_class *c,
                                 int64_t retry_after_ms, int64_t *delay_ms);

/* After a successful attempt: refund the quota, feed the limiter. */
void retry_on_success(struct retry_policy *p, struct retry_token *t);

/* ---- introspection (doctor, tests) ------------------------------------------ */

struct retry_stats {
    enum retry_mode mode;
    int max_attempts;
    int quota_available;
    bool limiter_enabled; /* adaptive: switched on by a throttling response */
    double fill_rate;     /* tokens per second */
    double max_capacity;
    double capacity;        /* tokens in the bucket now (before any refill) */
    double measured_rate;   /* smoothed send rate, requests per second */
    double last_max_rate;   /* CUBIC W_max */
    double last_throttle_s; /* when the last throttle arrived (clock seconds) */
};
void retry_policy_stats(struct retry_policy *p, struct retry_stats *out);

#endif
