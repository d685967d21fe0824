/* Tests for src/aws/retry: classification (wire reference 6.2 and 6.3),
 * configuration, standard backoff and the retry quota, the 2026 variant,
 * the adaptive rate limiter on a fake clock, and a threaded quota check. */
#include "../support/test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/retry.h"

#define assert_near(a, b, eps)                                                                               \
    do {                                                                                                     \
        double a_ = (a), b_ = (b);                                                                           \
        if (!(fabs(a_ - b_) <= (eps)))                                                                       \
            fail_msg("%s = %.9f, expected %.9f (+-%g)", #a, a_, b_, (double)(eps));                          \
    } while (0)

/* ---- fakes -------------------------------------------------------------------- */

struct fake_clock {
    int64_t now_ms;
    int64_t slept_ms;
    int sleeps;
    int64_t last_sleep_ms;
};

static int64_t fc_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now_ms;
}

static void fc_sleep(void *ctx, int64_t ms)
{
    struct fake_clock *fc = ctx;
    fc->now_ms += ms;
    fc->slept_ms += ms;
    fc->sleeps++;
    fc->last_sleep_ms = ms;
}

static double pinned_random(void *ctx)
{
    return *(const double *)ctx;
}

struct kv {
    const char *k, *v;
};

static const char *kv_get(void *ctx, const char *name)
{
    const struct kv *t = ctx;
    for (; t->k; t++)
        if (strcmp(t->k, name) == 0)
            return t->v;
    return NULL;
}

static struct retry_policy *policy(enum retry_mode mode, int max_attempts, bool v2026, struct fake_clock *fc,
                                   double *rnd)
{
    static struct clock clk[8];
    static int next;
    struct clock *c = &clk[next++ % 8];
    *c = (struct clock){fc_now, fc_sleep, fc};
    struct retry_config cfg;
    retry_config_init(&cfg);
    cfg.mode = mode;
    cfg.max_attempts = max_attempts;
    cfg.new_retries_2026 = v2026;
    cfg.clock = fc ? c : NULL;
    cfg.random = rnd ? pinned_random : NULL;
    cfg.random_ctx = rnd;
    return retry_policy_new(&cfg);
}

static int quota(struct retry_policy *p)
{
    struct retry_stats s;
    retry_policy_stats(p, &s);
    return s.quota_available;
}

/* ---- classification ------------------------------------------------------------- */

struct class_case {
    int status;
    const char *code;
    bool net, timeout;
    enum retry_kind kind;
    bool refresh;
};

#define N RETRY_KIND_NONE
#define T RETRY_KIND_TRANSIENT
#define TH RETRY_KIND_THROTTLING

static const struct class_case class_cases[] = {
    /* 6.2 Bedrock Runtime shapes, with their HTTP statuses */
    {400, "ValidationException", false, false, N, false},
    {400, "ServiceQuotaExceededException", false, false, N, false},
    {400, "ConflictException", false, false, N, false},
    {403, "AccessDeniedException", false, false, N, false},
    {404, "ResourceNotFoundException", false, false, N, false},
    {408, "ModelTimeoutException", false, false, N, false},
    {424, "ModelErrorException", false, false, N, false},
    {424, "ModelStreamErrorException", false, false, N, false},
    {429, "ThrottlingException", false, false, TH, false},
    {429, "ModelNotReadyException", false, false, T, false},
    {500, "InternalServerException", false, false, T, false},
    {503, "ServiceUnavailableException", false, false, T, false},
    /* 6.2 front-door auth failures */
    {403, "UnrecognizedClientException", false, false, N, true},
    {403, "InvalidSignatureException", false, false, N, false},
    {403, "ExpiredTokenException", false, false, N, true},
    {403, "MissingAuthenticationTokenException", false, false, N, false},
    {400, "TooManyTagsException", false, false, N, false},
    /* 6.2 CloudWatch Logs */
    {400, "InvalidParameterException", false, false, N, false},
    {400, "ResourceAlreadyExistsException", false, false, N, false},
    {400, "LimitExceededException", false, false, TH, false},
    {400, "OperationAbortedException", false, false, N, false},
    {400, "ThrottlingException", false, false, TH, false},
    {400, "UnrecognizedClientException", false, false, N, true},
    {400, "DataAlreadyAcceptedException", false, false, N, false},
    {400, "InvalidSequenceTokenException", false, false, N, false},
    /* 6.2 CloudWatch query codes */
    {400, "InvalidParameterValue", false, false, N, false},
    {400, "MissingParameter", false, false, N, false},
    {400, "InvalidParameterCombination", false, false, N, false},
    {500, "InternalServiceError", false, false, T, false},
    {400, "LimitExceeded", false, false, N, false},
    {400, "InvalidParameterInput", false, false, N, false},
    {404, "ResourceNotFound", false, false, N, false},
    /* 6.3 transient: statuses, codes, connection errors */
    {500, NULL, false, false, T, false},
    {502, NULL, false, false, T, false},
    {503, NULL, false, false, T, false},
    {504, NULL, false, false, T, false},
    {501, NULL, false, false, N, false},
    {505, NULL, false, false, N, false},
    {400, "RequestTimeout", false, false, T, false},
    {400, "RequestTimeoutException", false, false, T, false},
    {400, "IDPCommunicationError", false, false, T, false},
    {0, NULL, true, false, T, false},
    {0, NULL, true, true, T, false},
    {0, NULL, false, false, T, false},
    /* 6.3 throttling codes */
    {400, "Throttling", false, false, TH, false},
    {400, "ThrottlingException", false, false, TH, false},
    {400, "ThrottledException", false, false, TH, false},
    {400, "RequestThrottledException", false, false, TH, false},
    {400, "TooManyRequestsException", false, false, TH, false},
    {400, "ProvisionedThroughputExceededException", false, false, TH, false},
    {400, "TransactionInProgressException", false, false, TH, false},
    {400, "RequestLimitExceeded", false, false, TH, false},
    {509, "BandwidthLimitExceeded", false, false, TH, false},
    {400, "RequestThrottled", false, false, TH, false},
    {503, "SlowDown", false, false, TH, false},
    {400, "PriorRequestNotComplete", false, false, TH, false},
    {400, "EC2ThrottledException", false, false, TH, false},
    /* event-stream exception names (HTTP 200 already sent) */
    {200, "throttlingException", false, false, TH, false},
    {200, "internalServerException", false, false, T, false},
    {200, "serviceUnavailableException", false, false, T, false},
    {200, "modelStreamErrorException", false, false, N, false},
    {200, "validationException", false, false, N, false},
    /* status alone */
    {429, NULL, false, false, TH, false},
    {429, "", false, false, TH, false},
    {400, NULL, false, false, N, false},
    {404, NULL, false, false, N, false},
    {401, NULL, false, false, N, true},
    /* credential refresh hints (STS awsQuery codes too) */
    {403, "ExpiredToken", false, false, N, true},
    {400, "InvalidClientTokenId", false, false, N, true},
    /* near misses are not matched */
    {400, "ThrottlingExceptionX", false, false, N, false},
    {400, "Throttlin", false, false, N, false},
    {400, "THROTTLINGEXCEPTION", false, false, N, false},
};

static void test_classify_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(class_cases); i++) {
        const struct class_case *c = &class_cases[i];
        struct retry_class rc;
        retry_classify(c->status, c->code, c->net, c->timeout, &rc);
        if (rc.kind != c->kind || rc.refresh_credentials != c->refresh || rc.timeout != c->timeout)
            fail_msg("status %d code %s net %d timeout %d: got kind %d refresh %d, want kind %d refresh %d",
                     c->status, c->code ? c->code : "(none)", c->net, c->timeout, rc.kind,
                     rc.refresh_credentials, c->kind, c->refresh);
    }
}

static void test_retry_after_parse(void **state)
{
    (void)state;
    assert_int_equal(retry_parse_retry_after("1500"), 1500);
    assert_int_equal(retry_parse_retry_after(" 20 "), 20);
    assert_int_equal(retry_parse_retry_after("0"), 0);
    assert_int_equal(retry_parse_retry_after("9223372036854775799"), INT64_C(9223372036854775799));
    assert_int_equal(retry_parse_retry_after("99999999999999999999"), -1);
    assert_int_equal(retry_parse_retry_after("-1"), -1);
    assert_int_equal(retry_parse_retry_after("+5"), -1);
    assert_int_equal(retry_parse_retry_after("abc"), -1);
    assert_int_equal(retry_parse_retry_after("1.5"), -1);
    assert_int_equal(retry_parse_retry_after("15ms"), -1);
    assert_int_equal(retry_parse_retry_after(""), -1);
    assert_int_equal(retry_parse_retry_after("  "), -1);
    assert_int_equal(retry_parse_retry_after(NULL), -1);
}

/* ---- configuration -------------------------------------------------------------- */

static struct endpoint_lookup lookup(struct kv *env, struct kv *prof)
{
    struct endpoint_lookup lk = {
        .getenv = kv_get,
        .env_ctx = env,
        .profile_get = prof ? kv_get : NULL,
        .profile_ctx = prof,
        .profile_name = "dev",
    };
    return lk;
}

static void test_config_resolve(void **state)
{
    (void)state;
    struct kv env[4] = {{NULL, NULL}}, prof[4] = {{NULL, NULL}};
    struct endpoint_lookup lk = lookup(env, prof);
    struct retry_config c;
    struct brock_err e = {0};

    retry_config_init(&c);
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_OK);
    assert_int_equal(c.mode, RETRY_MODE_STANDARD);
    assert_int_equal(c.max_attempts, 3);
    assert_false(c.new_retries_2026);
    assert_string_equal(c.mode_source, "default");
    assert_string_equal(c.max_attempts_source, "default");

    prof[0] = (struct kv){"retry_mode", "legacy"};
    prof[1] = (struct kv){"max_attempts", "7"};
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_OK);
    assert_int_equal(c.mode, RETRY_MODE_LEGACY);
    assert_int_equal(c.max_attempts, 7);
    assert_string_equal(c.mode_source, "profile dev retry_mode");
    assert_string_equal(c.max_attempts_source, "profile dev max_attempts");

    env[0] = (struct kv){"AWS_RETRY_MODE", "Adaptive"};
    env[1] = (struct kv){"AWS_MAX_ATTEMPTS", " 5 "};
    env[2] = (struct kv){"AWS_NEW_RETRIES_2026", "true"};
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_OK);
    assert_int_equal(c.mode, RETRY_MODE_ADAPTIVE);
    assert_int_equal(c.max_attempts, 5);
    assert_true(c.new_retries_2026);
    assert_string_equal(c.mode_source, "AWS_RETRY_MODE");
    assert_string_equal(c.max_attempts_source, "AWS_MAX_ATTEMPTS");

    assert_int_equal(retry_config_resolve(&c, "STANDARD", 2, &lk, &e), BROCK_OK);
    assert_int_equal(c.mode, RETRY_MODE_STANDARD);
    assert_int_equal(c.max_attempts, 2);
    assert_string_equal(c.mode_source, "explicit");
    assert_string_equal(c.max_attempts_source, "explicit");

    /* bad values name their source */
    env[0].v = "fast";
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_ERR_CONFIG);
    assert_string_equal(
        e.msg, "AWS_RETRY_MODE: invalid retry mode \"fast\" (expected standard, adaptive or legacy)");
    assert_int_equal(retry_config_resolve(&c, "turbo", 0, &lk, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "explicit: invalid retry mode \"turbo\" (expected standard, adaptive or legacy)");
    env[0].v = NULL;
    prof[0].v = "Standard\x1b";
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_ERR_CONFIG);
    assert_string_equal(
        e.msg,
        "profile dev retry_mode: invalid retry mode \"Standard?\" (expected standard, adaptive or legacy)");
    prof[0].v = "standard";
    env[1].v = NULL;
    static const char *const bad_attempts[] = {"0", "abc", "51", "-3", "3.5", "1e3", "00000003", "99999"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad_attempts); i++) {
        prof[1].v = bad_attempts[i];
        if (retry_config_resolve(&c, NULL, 0, &lk, &e) != BROCK_ERR_CONFIG)
            fail_msg("max_attempts \"%s\" should be refused", bad_attempts[i]);
        char want[160];
        snprintf(
            want, sizeof want,
            "profile dev max_attempts: invalid max attempts \"%s\" (expected a whole number from 1 to 50)",
            bad_attempts[i]);
        assert_string_equal(e.msg, want);
    }
    prof[1].v = "50";
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_OK);
    assert_int_equal(c.max_attempts, 50);
    prof[1].v = ""; /* empty = unset */
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_OK);
    assert_int_equal(c.max_attempts, 3);
    assert_int_equal(retry_config_resolve(&c, NULL, -1, &lk, &e), BROCK_ERR_CONFIG);
    assert_int_equal(retry_config_resolve(&c, NULL, 51, &lk, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "explicit"));
    env[2].v = "maybe";
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg, "AWS_NEW_RETRIES_2026: expected true or false, got \"maybe\"");
    env[2].v = "FALSE";
    assert_int_equal(retry_config_resolve(&c, NULL, 0, NULL, &e), BROCK_OK); /* NULL lookup: process env */
    assert_int_equal(retry_config_resolve(&c, NULL, 0, &lk, &e), BROCK_OK);
    assert_false(c.new_retries_2026);

    enum retry_mode m;
    assert_true(retry_mode_parse("legacy", &m));
    assert_int_equal(m, RETRY_MODE_LEGACY);
    assert_false(retry_mode_parse("", &m));
    assert_false(retry_mode_parse(NULL, &m));
    assert_string_equal(retry_mode_name(RETRY_MODE_ADAPTIVE), "adaptive");
    assert_string_equal(retry_mode_name((enum retry_mode)9), "unknown");
}

/* ---- standard mode -------------------------------------------------------------- */

static const struct retry_class transient = {RETRY_KIND_TRANSIENT, false, false};
static const struct retry_class throttled = {RETRY_KIND_THROTTLING, false, false};
static const struct retry_class timed_out = {RETRY_KIND_TRANSIENT, true, false};
static const struct retry_class fatal = {RETRY_KIND_NONE, false, false};

/* The n-th retry waits rand * min(base * 2^(n-1), 20 s). */
static void check_backoff(double r, bool v2026, const struct retry_class *c, double base_ms)
{
    struct fake_clock fc = {.now_ms = 5000000};
    struct retry_policy *p = policy(RETRY_MODE_STANDARD, 50, v2026, &fc, &r);
    struct retry_token t = RETRY_TOKEN_INIT;
    for (int attempt = 1; attempt < 50; attempt++) {
        int64_t delay = -1;
        assert_int_equal(retry_decide(p, &t, c, -1, &delay), RETRY_AGAIN);
        double cap = base_ms * pow(2, attempt - 1);
        if (cap > RETRY_MAX_BACKOFF_MS)
            cap = RETRY_MAX_BACKOFF_MS;
        int64_t want = (int64_t)floor(r * cap);
        if (delay != want)
            fail_msg("r=%.12f attempt %d: delay %lld, want %lld", r, attempt, (long long)delay,
                     (long long)want);
        assert_true(delay >= 0 && delay < (int64_t)cap);
        struct retry_token refund = {0, t.cost}; /* keep the quota out of this test */
        retry_on_success(p, &refund);
    }
    int64_t delay;
    assert_int_equal(retry_decide(p, &t, c, -1, &delay), RETRY_STOP_ATTEMPTS);
    assert_int_equal(fc.sleeps, 0); /* the policy never sleeps for the backoff itself */
    retry_policy_free(p);
}

static void test_standard_backoff_bounds(void **state)
{
    (void)state;
    double lo = 0, hi = 0.9999999999, mid = 0.5;
    check_backoff(lo, false, &transient, 1000);
    check_backoff(hi, false, &transient, 1000);
    check_backoff(mid, false, &throttled, 1000);
    check_backoff(hi, false, &timed_out, 1000);

    /* the floor and the cap, spelled out */
    struct fake_clock fc = {0};
    struct retry_policy *p = policy(RETRY_MODE_STANDARD, 10, false, &fc, &hi);
    struct retry_token t = RETRY_TOKEN_INIT;
    static const int64_t want_hi[] = {999, 1999, 3999, 7999, 15999, 19999, 19999};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(want_hi); i++) {
        int64_t d;
        assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_AGAIN);
        assert_int_equal(d, want_hi[i]);
    }
    retry_policy_free(p);
    p = policy(RETRY_MODE_STANDARD, 10, false, &fc, &lo);
    t = (struct retry_token)RETRY_TOKEN_INIT;
    for (int i = 0; i < 9; i++) {
        int64_t d = -1;
        assert_int_equal(retry_decide(p, &t, &throttled, -1, &d), RETRY_AGAIN);
        assert_int_equal(d, 0);
    }
    retry_policy_free(p);

    /* out-of-range random values are clamped into [0, 1) */
    double weird[] = {1.0, 7.5, -3, NAN};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(weird); i++) {
        p = policy(RETRY_MODE_STANDARD, 3, false, &fc, &weird[i]);
        t = (struct retry_token)RETRY_TOKEN_INIT;
        int64_t d = -1;
        assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_AGAIN);
        assert_true(d >= 0 && d < 1000);
        retry_policy_free(p);
    }

    /* the real random source stays within the bounds */
    p = policy(RETRY_MODE_STANDARD, 3, false, NULL, NULL);
    for (int i = 0; i < 80; i++) { /* each round nets -5 from the quota */
        t = (struct retry_token)RETRY_TOKEN_INIT;
        int64_t d1, d2;
        assert_int_equal(retry_decide(p, &t, &transient, -1, &d1), RETRY_AGAIN);
        assert_int_equal(retry_decide(p, &t, &transient, -1, &d2), RETRY_AGAIN);
        assert_true(d1 >= 0 && d1 < 1000);
        assert_true(d2 >= 0 && d2 < 2000);
        retry_on_success(p, &t);
    }
    retry_policy_free(p);
}

static void test_backoff_2026_variant(void **state)
{
    (void)state;
    double hi = 0.9999999999, mid = 0.5;
    check_backoff(hi, true, &transient, RETRY_BASE_2026_MS);
    check_backoff(mid, true, &timed_out, RETRY_BASE_2026_MS);
    check_backoff(hi, true, &throttled, RETRY_BASE_MS);
}

static void test_retry_after_header(void **state)
{
    (void)state;
    double zero = 0, half = 0.5;
    struct fake_clock fc = {0};
    const struct {
        double *r;
        int64_t after, want;
    } cases[] = {
        {&zero, 3000, 3000},                                        /* max(0, min(3000, 0 + 5000)) */
        {&zero, 9000, 5000},                                        /* at most 5 s more than the jitter */
        {&zero, 0, 0},       {&half, 100, 500},                     /* never less than the jitter */
        {&half, 800, 800},   {&half, 6000, 5500}, {&half, -1, 500}, /* no header */
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        for (int v2026 = 0; v2026 < 2; v2026++) {
            struct retry_policy *p = policy(RETRY_MODE_STANDARD, 3, v2026, &fc, cases[i].r);
            struct retry_token t = RETRY_TOKEN_INIT;
            int64_t d = -1;
            assert_int_equal(retry_decide(p, &t, &throttled, cases[i].after, &d), RETRY_AGAIN);
            if (d != cases[i].want)
                fail_msg("case %zu (2026=%d): delay %lld want %lld", i, v2026, (long long)d,
                         (long long)cases[i].want);
            retry_policy_free(p);
        }
    }
}

static void test_quota_drain_and_refund(void **state)
{
    (void)state;
    double r = 0.25;
    struct fake_clock fc = {0};
    struct retry_policy *p = policy(RETRY_MODE_STANDARD, 3, false, &fc, &r);
    assert_int_equal(quota(p), RETRY_QUOTA_INITIAL);
    /* a success at a full quota changes nothing */
    struct retry_token t = RETRY_TOKEN_INIT;
    retry_on_success(p, &t);
    assert_int_equal(quota(p), 500);

    /* 100 retries of 5 drain the 500 tokens; the 101st is refused */
    for (int i = 0; i < 100; i++) {
        t = (struct retry_token)RETRY_TOKEN_INIT;
        int64_t d;
        assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_AGAIN);
        assert_int_equal(quota(p), 500 - 5 * (i + 1));
    }
    t = (struct retry_token)RETRY_TOKEN_INIT;
    int64_t d = 123;
    assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_STOP_QUOTA);
    assert_int_equal(d, 0);
    assert_string_equal(retry_decision_name(RETRY_STOP_QUOTA), "retry quota exhausted");
    /* not-retryable errors say so, even with the breaker open */
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &fatal, -1, &d), RETRY_STOP_NOT_RETRYABLE);

    /* a success after a retry refunds that retry's cost */
    struct retry_token r1 = {.attempts = 1, .cost = 5};
    retry_on_success(p, &r1);
    assert_int_equal(quota(p), 5);
    /* a timeout costs 10: refused with 5 left, while a plain retry fits */
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &timed_out, -1, &d), RETRY_STOP_QUOTA);
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_AGAIN);
    assert_int_equal(quota(p), 0);
    /* a success without retries refunds 1 */
    for (int i = 1; i <= 12; i++) {
        struct retry_token fresh = RETRY_TOKEN_INIT;
        retry_on_success(p, &fresh);
        assert_int_equal(quota(p), i);
    }
    /* two retries (5, then a timeout at 10): the success refunds the last, 10 */
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_AGAIN);
    assert_int_equal(quota(p), 7);
    retry_policy_free(p);
    p = policy(RETRY_MODE_STANDARD, 5, false, &fc, &r);
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_AGAIN);
    assert_int_equal(retry_decide(p, &t, &timed_out, -1, &d), RETRY_AGAIN);
    assert_int_equal(quota(p), 485);
    assert_int_equal(t.attempts, 2);
    assert_int_equal(t.cost, 10);
    retry_on_success(p, &t);
    assert_int_equal(quota(p), 495);
    assert_int_equal(t.attempts, 3);

    /* timeouts alone: 50 retries */
    retry_policy_free(p);
    p = policy(RETRY_MODE_STANDARD, 3, false, &fc, &r);
    int n = 0;
    for (;;) {
        t = (struct retry_token)RETRY_TOKEN_INIT;
        if (retry_decide(p, &t, &timed_out, -1, &d) != RETRY_AGAIN)
            break;
        n++;
    }
    assert_int_equal(n, 50);
    assert_int_equal(quota(p), 0);
    retry_policy_free(p);
}

static void test_quota_2026_costs(void **state)
{
    (void)state;
    double r = 0.1;
    struct fake_clock fc = {0};
    struct retry_policy *p = policy(RETRY_MODE_STANDARD, 3, true, &fc, &r);
    struct retry_token t;
    int64_t d;
    int n = 0;
    for (;;) {
        t = (struct retry_token)RETRY_TOKEN_INIT;
        if (retry_decide(p, &t, &timed_out, -1, &d) != RETRY_AGAIN)
            break;
        n++;
    }
    assert_int_equal(n, 35); /* 35 * 14 = 490 */
    assert_int_equal(quota(p), 10);
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &throttled, -1, &d), RETRY_AGAIN);
    assert_int_equal(quota(p), 5);
    assert_int_equal(t.cost, 5);
    retry_on_success(p, &t);
    assert_int_equal(quota(p), 10);
    retry_policy_free(p);
}

static void test_max_attempts(void **state)
{
    (void)state;
    double r = 0.5;
    struct fake_clock fc = {0};
    struct retry_policy *p = policy(RETRY_MODE_STANDARD, 3, false, &fc, &r);
    struct retry_token t = RETRY_TOKEN_INIT;
    int64_t d;
    assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_AGAIN);
    assert_int_equal(retry_decide(p, &t, &throttled, -1, &d), RETRY_AGAIN);
    assert_int_equal(retry_decide(p, &t, &transient, -1, &d), RETRY_STOP_ATTEMPTS);
    assert_int_equal(t.attempts, 3);
    assert_int_equal(quota(p), 490); /* the refused retry took nothing */
    assert_string_equal(retry_decision_name(RETRY_STOP_ATTEMPTS), "max attempts reached");
    /* a not-retryable error stops at once and costs nothing */
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &fatal, -1, &d), RETRY_STOP_NOT_RETRYABLE);
    assert_int_equal(quota(p), 490);
    assert_string_equal(retry_decision_name(RETRY_STOP_NOT_RETRYABLE), "not retryable");
    assert_string_equal(retry_decision_name(RETRY_AGAIN), "retry");
    retry_policy_free(p);

    /* one attempt: never retry */
    p = policy(RETRY_MODE_STANDARD, 1, false, &fc, &r);
    t = (struct retry_token)RETRY_TOKEN_INIT;
    assert_int_equal(retry_decide(p, &t, &throttled, -1, &d), RETRY_STOP_ATTEMPTS);
    retry_policy_free(p);
    /* out-of-range settings are clamped by the constructor */
    p = policy(RETRY_MODE_STANDARD, 0, false, &fc, &r);
    struct retry_stats s;
    retry_policy_stats(p, &s);
    assert_int_equal(s.max_attempts, 1);
    retry_policy_free(p);
    p = policy(RETRY_MODE_LEGACY, 1000, false, &fc, &r);
    retry_policy_stats(p, &s);
    assert_int_equal(s.max_attempts, RETRY_MAX_ATTEMPTS_LIMIT);
    assert_int_equal(s.mode, RETRY_MODE_LEGACY);
    retry_policy_free(p);
    /* defaults */
    p = retry_policy_new(NULL);
    retry_policy_stats(p, &s);
    assert_int_equal(s.max_attempts, 3);
    assert_int_equal(s.mode, RETRY_MODE_STANDARD);
    retry_policy_free(p);
    retry_policy_free(NULL);
}

/* The first attempt is never delayed, and standard/legacy mode never waits. */
static void test_no_wait_outside_adaptive(void **state)
{
    (void)state;
    double r = 0.5;
    for (int m = 0; m < 3; m++) {
        struct fake_clock fc = {.now_ms = 1000000};
        struct retry_policy *p = policy((enum retry_mode)m, 3, false, &fc, &r);
        retry_acquire_send_token(p); /* the very first send */
        assert_int_equal(fc.sleeps, 0);
        for (int i = 0; i < 50; i++) {
            struct retry_token t = RETRY_TOKEN_INIT;
            int64_t d;
            fc.now_ms += 10;
            retry_acquire_send_token(p);
            if (m == RETRY_MODE_ADAPTIVE)
                retry_on_success(p, &t); /* successes alone never switch the limiter on */
            else
                (void)retry_decide(p, &t, &throttled, -1, &d);
        }
        assert_int_equal(fc.sleeps, 0);
        struct retry_stats s;
        retry_policy_stats(p, &s);
        assert_false(s.limiter_enabled);
        retry_policy_free(p);
    }
}

/* ---- adaptive mode ----------------------------------------------------------------- */

/* Send `n` requests `step_ms` apart, each answered with success. */
static void steady(struct retry_policy *p, struct fake_clock *fc, int n, int step_ms, bool acquire)
{
    for (int i = 0; i < n; i++) {
        fc->now_ms += step_ms;
        if (acquire)
            retry_acquire_send_token(p);
        struct retry_token t = RETRY_TOKEN_INIT;
        retry_on_success(p, &t);
    }
}

static void throttle_now(struct retry_policy *p)
{
    struct retry_token t = RETRY_TOKEN_INIT;
    int64_t d;
    assert_int_equal(retry_decide(p, &t, &throttled, -1, &d), RETRY_AGAIN);
}

static void test_adaptive_throttle_lowers_rate(void **state)
{
    (void)state;
    double r = 0.5;
    struct fake_clock fc = {.now_ms = 1000000000};
    struct retry_policy *p = policy(RETRY_MODE_ADAPTIVE, 3, false, &fc, &r);
    steady(p, &fc, 30, 100, true); /* 10 requests/s for 3 s */
    struct retry_stats s0, s1, s2;
    retry_policy_stats(p, &s0);
    assert_false(s0.limiter_enabled);
    assert_near(s0.measured_rate, 10, 0.5);

    throttle_now(p); /* same instant: the measured rate does not move */
    retry_policy_stats(p, &s1);
    assert_true(s1.limiter_enabled);
    assert_near(s1.measured_rate, s0.measured_rate, 1e-12);
    assert_near(s1.last_max_rate, s0.measured_rate, 1e-12);
    assert_near(s1.fill_rate, 0.7 * s0.measured_rate, 1e-9);
    assert_near(s1.max_capacity, 0.7 * s0.measured_rate, 1e-9);
    assert_near(s1.last_throttle_s, fc.now_ms / 1000.0, 1e-9);

    /* once on, a throttle starts from min(measured, current rate) */
    throttle_now(p);
    retry_policy_stats(p, &s2);
    assert_near(s2.last_max_rate, s1.fill_rate, 1e-9);
    assert_near(s2.fill_rate, 0.7 * s1.fill_rate, 1e-9);
    retry_policy_free(p);
}

/* The send rate is measured over 0.5 s buckets and smoothed with 0.8:
 * values worked out by hand from that rule. */
static void test_adaptive_measured_rate(void **state)
{
    (void)state;
    double r = 0.5;
    struct fake_clock fc = {.now_ms = 1000000}; /* t = 1000.0 s: the first bucket starts here */
    struct retry_policy *p = policy(RETRY_MODE_ADAPTIVE, 3, false, &fc, &r);
    static const struct {
        int64_t at_ms;
        double measured;
    } steps[] = {
        {1000100, 0}, /* same bucket: counted, not measured */
        {1000200, 0},
        {1000600, 4.8}, /* 3 sends / 0.5 s = 6/s; 0.8 * 6 + 0.2 * 0 */
        {1000700, 4.8},
        {1002000, 2.026666666666667}, /* 2 sends / 1.5 s; 0.8 * 1.333333 + 0.2 * 4.8 */
        {1002499, 2.026666666666667},
        {1002500, 3.605333333333333}, /* 2 sends / 0.5 s = 4/s; 0.8 * 4 + 0.2 * 2.026667 */
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(steps); i++) {
        fc.now_ms = steps[i].at_ms;
        struct retry_token t = RETRY_TOKEN_INIT;
        retry_on_success(p, &t);
        struct retry_stats s;
        retry_policy_stats(p, &s);
        assert_near(s.measured_rate, steps[i].measured, 1e-9);
    }
    retry_policy_free(p);
}

static void test_adaptive_cubic_growth(void **state)
{
    (void)state;
    double r = 0.5;
    struct fake_clock fc = {.now_ms = 2000000000};
    struct retry_policy *p = policy(RETRY_MODE_ADAPTIVE, 3, false, &fc, &r);
    steady(p, &fc, 30, 100, false);
    throttle_now(p);
    struct retry_stats s;
    retry_policy_stats(p, &s);
    double w = s.last_max_rate, t0 = s.last_throttle_s;
    double k = cbrt(w * (1 - 0.7) / 0.4);
    bool below = false, above = false;
    double prev = s.fill_rate;
    for (int i = 0; i < 40; i++) { /* keep sending at 10/s so the 2x cap stays out of the way */
        fc.now_ms += 100;
        struct retry_token t = RETRY_TOKEN_INIT;
        retry_on_success(p, &t);
        retry_policy_stats(p, &s);
        double dt = fc.now_ms / 1000.0 - t0;
        double cubic = 0.4 * pow(dt - k, 3) + w;
        double want = fmin(cubic, 2 * s.measured_rate);
        want = fmax(want, 0.5);
        assert_near(s.fill_rate, want, 1e-9);
        assert_near(s.max_capacity, fmax(fmin(cubic, 2 * s.measured_rate), 1), 1e-9);
        assert_true(cubic < 2 * s.measured_rate); /* the cubic itself is what we see */
        assert_true(s.fill_rate >= prev - 1e-9);  /* it only grows */
        prev = s.fill_rate;
        below |= dt < k - 0.2 && s.fill_rate < w;
        above |= dt > k + 1 && s.fill_rate > w + 0.4 - 1e-9;
    }
    assert_true(below); /* concave part: still under W_max */
    assert_true(above); /* past K: beyond W_max */
    retry_policy_free(p);
}

static void test_adaptive_bucket_delays_sends(void **state)
{
    (void)state;
    double r = 0.5;
    struct fake_clock fc = {.now_ms = 1500000000};
    struct retry_policy *p = policy(RETRY_MODE_ADAPTIVE, 3, false, &fc, &r);
    steady(p, &fc, 12, 250, true); /* 4 requests/s */
    throttle_now(p);
    struct retry_stats s;
    retry_policy_stats(p, &s);
    assert_true(s.limiter_enabled);
    double rate = s.fill_rate, cap0 = s.capacity;
    assert_true(rate > 1 && rate < 4);
    assert_true(cap0 >= 0 && cap0 <= s.max_capacity);

    /* 20 sends in a burst: the bucket spaces them 1/rate apart */
    int64_t start = fc.now_ms;
    for (int i = 0; i < 20; i++) {
        int before = fc.sleeps;
        retry_acquire_send_token(p);
        if (fc.sleeps > before)
            assert_true(fc.last_sleep_ms <= (int64_t)ceil(1000.0 / rate) + 1);
    }
    double waited = (double)(fc.now_ms - start);
    double want = (20 - cap0) / rate * 1000.0;
    if (fabs(waited - want) > 20 + 1)
        fail_msg("20 sends at %.3f/s with %.3f tokens: waited %.0f ms, want about %.0f", rate, cap0, waited,
                 want);
    assert_int_equal(fc.slept_ms, fc.now_ms - start);

    /* after an idle spell the bucket holds at most max_capacity tokens */
    fc.now_ms += 60000;
    int before = fc.sleeps;
    int free_sends = 0;
    while (fc.sleeps == before && free_sends < 100) {
        retry_acquire_send_token(p);
        free_sends += fc.sleeps == before;
    }
    assert_int_equal(free_sends, (int)floor(s.max_capacity + 1e-9));

    /* a clock that steps back an hour costs at most one token's wait */
    fc.now_ms -= 3600 * 1000;
    before = fc.sleeps;
    int64_t t0 = fc.now_ms;
    retry_acquire_send_token(p);
    retry_acquire_send_token(p);
    assert_true(fc.now_ms - t0 <= 2 * ((int64_t)ceil(1000.0 / rate) + 1));
    retry_policy_free(p);
}

static void test_adaptive_minimum_rate(void **state)
{
    (void)state;
    double r = 0.5;
    struct fake_clock fc = {.now_ms = 1700000000};
    struct retry_policy *p = policy(RETRY_MODE_ADAPTIVE, 3, false, &fc, &r);
    struct retry_stats s;
    for (int i = 0; i < 10; i++) {
        fc.now_ms += 10000; /* one request every 10 s, each throttled */
        throttle_now(p);
        retry_policy_stats(p, &s);
        assert_true(s.fill_rate >= 0.5);
        assert_true(s.max_capacity >= 1);
    }
    assert_near(s.fill_rate, 0.5, 1e-12);
    assert_near(s.max_capacity, 1, 1e-12);
    assert_true(s.measured_rate < 0.5);

    /* at 0.5 tokens/s, back-to-back sends are 2 s apart */
    retry_acquire_send_token(p);
    int64_t t1 = fc.now_ms;
    retry_acquire_send_token(p);
    assert_true(fc.now_ms - t1 >= 2000 && fc.now_ms - t1 <= 2001);
    retry_acquire_send_token(p);
    assert_true(fc.now_ms - t1 >= 4000 && fc.now_ms - t1 <= 4002);
    retry_policy_free(p);
}

/* A clock whose sleep does not move time must not hang the limiter. */
static int64_t frozen_now(void *ctx)
{
    (void)ctx;
    return 1234567;
}

static void frozen_sleep(void *ctx, int64_t ms)
{
    (void)ms;
    (*(int *)ctx)++;
}

static void test_adaptive_broken_clock(void **state)
{
    (void)state;
    int sleeps = 0;
    struct clock clk = {frozen_now, frozen_sleep, &sleeps};
    struct retry_config cfg;
    retry_config_init(&cfg);
    cfg.mode = RETRY_MODE_ADAPTIVE;
    cfg.clock = &clk;
    struct retry_policy *p = retry_policy_new(&cfg);
    clk.ctx = &sleeps;
    throttle_now(p);
    retry_acquire_send_token(p);
    retry_acquire_send_token(p);
    assert_true(sleeps > 0);
    retry_policy_free(p);
}

/* ---- threads -------------------------------------------------------------------------- */

struct worker {
    struct retry_policy *p;
    int again, stopped;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 3000; i++) {
        struct retry_token t = RETRY_TOKEN_INIT;
        int64_t d;
        retry_acquire_send_token(w->p);
        if (retry_decide(w->p, &t, i % 3 ? &transient : &timed_out, -1, &d) == RETRY_AGAIN)
            w->again++;
        else
            w->stopped++;
        retry_on_success(w->p, &t);
    }
    return NULL;
}

static void test_shared_across_threads(void **state)
{
    (void)state;
    struct retry_policy *p = policy(RETRY_MODE_STANDARD, 3, false, NULL, NULL);
    pthread_t th[8];
    struct worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){p, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    int again = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        again += w[i].again;
        assert_int_equal(w[i].stopped, 0); /* at most 8 * 10 tokens are out at once */
    }
    assert_int_equal(again, 8 * 3000);
    /* every retry's cost came back: no update was lost */
    assert_int_equal(quota(p), RETRY_QUOTA_INITIAL);
    retry_policy_free(p);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_retry_after_parse),
        cmocka_unit_test(test_config_resolve),
        cmocka_unit_test(test_standard_backoff_bounds),
        cmocka_unit_test(test_backoff_2026_variant),
        cmocka_unit_test(test_retry_after_header),
        cmocka_unit_test(test_quota_drain_and_refund),
        cmocka_unit_test(test_quota_2026_costs),
        cmocka_unit_test(test_max_attempts),
        cmocka_unit_test(test_no_wait_outside_adaptive),
        cmocka_unit_test(test_adaptive_throttle_lowers_rate),
        cmocka_unit_test(test_adaptive_measured_rate),
        cmocka_unit_test(test_adaptive_cubic_growth),
        cmocka_unit_test(test_adaptive_bucket_delays_sends),
        cmocka_unit_test(test_adaptive_minimum_rate),
        cmocka_unit_test(test_adaptive_broken_clock),
        cmocka_unit_test(test_shared_across_threads),
    };
    return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
