/* Tests for the admission controller of `brock batch` (src/batch/batch_admit.c),
 * driven by a simulated clock against simulated servers: an account quota
 * (requests per second, a token bucket as Bedrock's RPM quota behaves), a
 * token quota, and throttling injected at random whatever the rate. The
 * checks are the words: the run neither idles nor drowns in 429s. */
#include "../support/test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/batch/batch_int.h"

#define CONC 64
#define LATENCY_MS 50
#define THROTTLE_LATENCY_MS 10
#define MAX_INFLIGHT 4096

struct sim {
    /* server */
    double quota_rps;   /* 0 = no request quota */
    double quota_tps;   /* 0 = no token quota */
    double bucket, tbucket;
    double random_share; /* throttle this share at random (0 = none) */
    uint64_t rng;
    /* client */
    struct batch_admit a;
    double tokens_per_request;
    int64_t due[MAX_INFLIGHT]; /* answer times of requests in flight */
    int kind[MAX_INFLIGHT];    /* 0 ok, 1 request throttle, 2 token throttle */
    size_t inflight;
    bool limiter; /* false: send whenever a lane is free (no admission control) */
    /* counters for a window */
    int64_t sent, ok, throttled;
};

static double rnd(struct sim *s)
{
    s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(s->rng >> 11) / 9007199254740992.0;
}

static void sim_init(struct sim *s, double quota_rps, double quota_tps, double random_share, bool limiter)
{
    memset(s, 0, sizeof *s);
    s->quota_rps = quota_rps;
    s->quota_tps = quota_tps;
    s->bucket = quota_rps;
    s->tbucket = quota_tps;
    s->random_share = random_share;
    s->rng = 42;
    s->tokens_per_request = 1000;
    s->limiter = limiter;
    batch_admit_init(&s->a, 0, 0, 0);
}

/* One simulated millisecond. */
static void sim_tick(struct sim *s, int64_t now)
{
    /* the server's buckets refill (capacity: one second of quota) */
    if (s->quota_rps > 0 && (s->bucket += s->quota_rps / 1000.0) > s->quota_rps)
        s->bucket = s->quota_rps;
    if (s->quota_tps > 0 && (s->tbucket += s->quota_tps / 1000.0) > s->quota_tps)
        s->tbucket = s->quota_tps;
    /* answers due now */
    for (size_t i = 0; i < s->inflight;) {
        if (s->due[i] > now) {
            i++;
            continue;
        }
        if (s->kind[i] == 0) {
            s->ok++;
            batch_admit_ok(&s->a, now, s->tokens_per_request);
        } else {
            s->throttled++;
            batch_admit_throttled(&s->a, now, s->kind[i] == 2);
        }
        s->due[i] = s->due[s->inflight - 1];
        s->kind[i] = s->kind[s->inflight - 1];
        s->inflight--;
    }
    /* sends */
    while (s->inflight < CONC) {
        int64_t wait;
        if (s->limiter && !batch_admit_can_send(&s->a, now, s->tokens_per_request, &wait))
            break;
        batch_admit_sent(&s->a, now, s->tokens_per_request);
        s->sent++;
        int kind = 0;
        if (s->random_share > 0 && rnd(s) < s->random_share)
            kind = 1;
        else if (s->quota_rps > 0 && s->bucket < 1)
            kind = 1;
        else if (s->quota_tps > 0 && s->tbucket < s->tokens_per_request)
            kind = 2;
        if (kind == 0) {
            if (s->quota_rps > 0)
                s->bucket -= 1;
            if (s->quota_tps > 0)
                s->tbucket -= s->tokens_per_request;
        }
        s->kind[s->inflight] = kind;
        s->due[s->inflight++] = now + (kind ? THROTTLE_LATENCY_MS : LATENCY_MS);
    }
}

/* Run from..to (ms), counting in the window [count_from, to). */
static void sim_run(struct sim *s, int64_t from, int64_t to, int64_t count_from)
{
    for (int64_t t = from; t < to; t++) {
        if (t == count_from)
            s->sent = s->ok = s->throttled = 0;
        sim_tick(s, t);
    }
}

static void test_request_quota_is_neither_idle_nor_drowned(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 100, 0, 0, true);
    sim_run(&s, 0, 60000, 20000); /* measure seconds 20-60 */
    double ok_rate = (double)s.ok / 40.0, share = (double)s.throttled / (double)(s.ok + s.throttled);
    print_message("# quota 100/s, limiter: %.1f ok/s, throttled share %.3f, %zu cuts\n", ok_rate, share, s.a.rq.cuts);
    assert_true(ok_rate >= 80.0);  /* not idle: at least 80 % of the quota used */
    assert_true(share <= 0.20);    /* not drowning */

    /* the same load without admission control drowns: most answers are 429s */
    struct sim raw;
    sim_init(&raw, 100, 0, 0, false);
    sim_run(&raw, 0, 60000, 20000);
    double raw_share = (double)raw.throttled / (double)(raw.ok + raw.throttled);
    print_message("# quota 100/s, no limiter: throttled share %.3f\n", raw_share);
    assert_true(raw_share > 0.8);
    assert_true(share < raw_share / 4);
}

static void test_small_quota(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 5, 0, 0, true);
    sim_run(&s, 0, 120000, 40000);
    double ok_rate = (double)s.ok / 80.0, share = (double)s.throttled / (double)(s.ok + s.throttled);
    print_message("# quota 5/s: %.2f ok/s, throttled share %.3f\n", ok_rate, share);
    assert_true(ok_rate >= 4.0);
    assert_true(share <= 0.25);
}

static void test_random_throttling_does_not_idle(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 0, 0, 0.3, true);
    sim_run(&s, 0, 60000, 10000);
    double sent_rate = (double)s.sent / 50.0;
    /* unconstrained: CONC lanes, answers every 50 ms (10 ms for 429s) */
    struct sim raw;
    sim_init(&raw, 0, 0, 0.3, false);
    sim_run(&raw, 0, 60000, 10000);
    double raw_rate = (double)raw.sent / 50.0;
    print_message("# 30 %% random throttling: %.0f sent/s with the limiter, %.0f without; request limiter %s at %.0f/s\n",
                  sent_rate, raw_rate, s.a.rq.limited ? "on" : "off", s.a.rq.rate);
    /* Cutting cannot help against throttling that does not depend on the
     * rate; the limiter notices and keeps most of the throughput. */
    assert_true(sent_rate >= 0.5 * raw_rate);
}

static void test_token_quota_cuts_the_token_limiter(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 0, 50000, 0, true); /* 50 requests/s of 1000 tokens */
    sim_run(&s, 0, 60000, 20000);
    double ok_rate = (double)s.ok / 40.0, share = (double)s.throttled / (double)(s.ok + s.throttled);
    print_message("# token quota 50k/s: %.1f ok/s, throttled share %.3f\n", ok_rate, share);
    assert_true(s.a.tk.limited);
    assert_false(s.a.rq.limited); /* "Too many tokens" never cut the request limiter */
    assert_true(ok_rate >= 40.0);
    assert_true(share <= 0.20);
}

static void test_user_ceilings(void **state)
{
    (void)state;
    struct batch_admit a;
    batch_admit_init(&a, 600, 0, 0); /* 10 requests/s */
    int64_t sent = 0;
    for (int64_t t = 0; t < 10000; t++) {
        int64_t w;
        while (batch_admit_can_send(&a, t, 100, &w)) {
            batch_admit_sent(&a, t, 100);
            batch_admit_ok(&a, t, 10);
            sent++;
        }
        assert_true(w >= 1 && w <= 100);
    }
    print_message("# --rpm 600: %lld requests in 10 s\n", (long long)sent);
    assert_true(sent >= 99 && sent <= 102);
    assert_true(fabs(batch_admit_rps(&a) - 10.0) < 1e-9);

    batch_admit_init(&a, 0, 6000, 0); /* 100 tokens/s, requests of 250: 0.4/s */
    sent = 0;
    for (int64_t t = 0; t < 10000; t++) {
        int64_t w;
        while (batch_admit_can_send(&a, t, 250, &w)) {
            batch_admit_sent(&a, t, 250);
            sent++;
        }
    }
    assert_true(sent >= 4 && sent <= 6); /* one goes at once (debt), then one per 2.5 s */
}

static void test_cuts_once_per_epoch_and_grows_back(void **state)
{
    (void)state;
    struct batch_admit a;
    batch_admit_init(&a, 0, 0, 0);
    /* 100 requests/s for 2 s */
    for (int64_t t = 0; t < 2000; t += 10) {
        batch_admit_sent(&a, t, 10);
        batch_admit_ok(&a, t, 10);
    }
    assert_false(a.rq.limited);
    assert_true(batch_admit_rps(&a) == 0);
    batch_admit_throttled(&a, 2000, false);
    assert_true(a.rq.limited);
    double first = a.rq.rate;
    assert_true(first > 60 && first < 80); /* 0.7 x ~100 */
    for (int i = 0; i < 50; i++) /* a burst of 429s is one event */
        batch_admit_throttled(&a, 2000 + i * 10, false);
    assert_int_equal(a.rq.cuts, 1);
    /* sending on at the new rate, mostly answered: the next 429 cuts again */
    for (int64_t t = 2000; t < 3100; t += 15) {
        batch_admit_sent(&a, t, 10);
        batch_admit_ok(&a, t, 10);
    }
    batch_admit_throttled(&a, 3100, false);
    assert_int_equal(a.rq.cuts, 2);
    assert_true(a.rq.quiet_until == 0);
    /* grows back toward W, then past it */
    double low = a.rq.rate;
    for (int64_t t = 3100; t < 9000; t += 10) {
        batch_admit_sent(&a, t, 10);
        batch_admit_ok(&a, t, 10);
    }
    assert_true(a.rq.rate > low);
    int64_t w = 0;
    a.rq.bucket = -2;
    a.last_ms = 9000;
    assert_false(batch_admit_can_send(&a, 9000, 10, &w));
    assert_int_equal(w, (int64_t)ceil(2.0 / a.rq.rate * 1000.0));
}

/* Slowing down to half and still as much throttled: not our rate's fault. */
static void test_insensitive_throttling_stops_the_cuts(void **state)
{
    (void)state;
    struct batch_admit a;
    batch_admit_init(&a, 0, 0, 0);
    uint64_t rng = 7;
    int64_t t = 0;
    double gap = 5; /* ms between sends: 200/s */
    size_t cuts_before = 0;
    for (; t < 20000; t++) {
        int64_t w;
        if (t % (int64_t)gap == 0 && batch_admit_can_send(&a, t, 10, &w)) {
            batch_admit_sent(&a, t, 10);
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            if (t > 2000 && (rng >> 40) % 100 < 40) /* after 2 s of plain sailing */
                batch_admit_throttled(&a, t, false);
            else
                batch_admit_ok(&a, t, 10);
        }
        if (a.rq.quiet_until > 0 && !cuts_before)
            cuts_before = a.rq.cuts;
    }
    print_message("# 40 %% random 429s at 200/s: %zu cuts before the limiter stopped cutting, rate now %.0f/s\n",
                  cuts_before, a.rq.rate);
    assert_true(cuts_before >= 2 && cuts_before <= 4);
    assert_true(a.rq.quiet_until > 0);
    assert_true(a.rq.rate >= 150); /* back near what was sent before the first cut */
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_quota_is_neither_idle_nor_drowned),
        cmocka_unit_test(test_small_quota),
        cmocka_unit_test(test_random_throttling_does_not_idle),
        cmocka_unit_test(test_token_quota_cuts_the_token_limiter),
        cmocka_unit_test(test_user_ceilings),
        cmocka_unit_test(test_cuts_once_per_epoch_and_grows_back),
        cmocka_unit_test(test_insensitive_throttling_stops_the_cuts),
    };
    return cmocka_run_group_tests_name("batch_admit", tests, NULL, NULL);
}
