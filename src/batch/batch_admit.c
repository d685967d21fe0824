/* batch_admit.c - admission control for the local engine (batch_int.h).
 *
 * Why not retry.h's limiter: it sleeps inside retry_acquire_send_token(),
 * which an event loop cannot do, and it knows only requests. This one answers
 * "may I send now, else in how many ms" and keeps a second bucket for tokens,
 * because Bedrock quotas are requests AND tokens per minute and its throttling
 * message says which ("Too many requests" / "Too many tokens").
 *
 * Each limiter is a token bucket in debt mode: a request may go when the
 * bucket is not negative and then takes its cost (1 request, or the tokens it
 * reserves), so a request bigger than the bucket still goes, and pays later.
 * The fill rate follows CUBIC in relative form (docs/internals/batch.md):
 * after a cut at time 0 from W, rate(t) = W (1 + C (t - K)^3) with
 * C = (1 - beta) / K^3, so rate(0) = beta W, rate(K) = W, and it probes above
 * W afterwards; capped at twice the measured rate so an idle limiter does not
 * drift to infinity. */
#include <math.h>
#include <string.h>

#include "batch_int.h"

#define SMOOTH 0.8            /* weight of the newest epoch in the measured rates */
#define SERIES_GAP_MS 10000   /* a cut after this long starts a new series */
#define MIN_SHARE_ANSWERS 10  /* answers before a throttled share counts */
#define FAIR_SAMPLE_MS 5000   /* or this long since the last cut */

static void lim_init(struct batch_admit_lim *l, double ceiling)
{
    memset(l, 0, sizeof *l);
    l->t_cut = -1;
    if (ceiling > 0) {
        l->limited = true;
        l->rate = ceiling;
        l->w_max = ceiling;
        l->bucket = 0;
    }
}

void batch_admit_init(struct batch_admit *a, double max_rpm, double max_tpm, int64_t now_ms)
{
    memset(a, 0, sizeof *a);
    a->max_rps = max_rpm > 0 ? max_rpm / 60.0 : 0;
    a->max_tps = max_tpm > 0 ? max_tpm / 60.0 : 0;
    lim_init(&a->rq, a->max_rps);
    lim_init(&a->tk, a->max_tps);
    a->last_ms = now_ms;
    a->epoch_start = now_ms;
}

static double capacity(double rate)
{
    double c = rate * 0.25;
    return c < 1.0 ? 1.0 : c;
}

static void refill(struct batch_admit *a, int64_t now)
{
    if (now <= a->last_ms)
        return;
    double dt = (double)(now - a->last_ms) / 1000.0;
    struct batch_admit_lim *ls[2] = {&a->rq, &a->tk};
    for (int i = 0; i < 2; i++) {
        struct batch_admit_lim *l = ls[i];
        if (!l->limited)
            continue;
        l->bucket += l->rate * dt;
        double cap = capacity(l->rate);
        if (l->bucket > cap)
            l->bucket = cap;
    }
    a->last_ms = now;
}

/* Close the epoch if it is over: update the smoothed rates and the share. */
static void roll(struct batch_admit *a, int64_t now)
{
    int64_t span = now - a->epoch_start;
    if (span < BATCH_ADMIT_EPOCH_MS)
        return;
    double dt = (double)span / 1000.0;
    double sent = a->ep_sent / dt, tokens = a->ep_tokens / dt, ok = a->ep_ok / dt, okt = a->ep_ok_tokens / dt;
    bool first = a->sent_rate == 0 && a->ok_rate == 0;
    a->sent_rate = first ? sent : SMOOTH * sent + (1 - SMOOTH) * a->sent_rate;
    a->token_rate = first ? tokens : SMOOTH * tokens + (1 - SMOOTH) * a->token_rate;
    a->ok_rate = first ? ok : SMOOTH * ok + (1 - SMOOTH) * a->ok_rate;
    a->ok_token_rate = first ? okt : SMOOTH * okt + (1 - SMOOTH) * a->ok_token_rate;
    if (a->ok_rate > a->best_ok_rate)
        a->best_ok_rate = a->ok_rate;
    if (a->ok_token_rate > a->best_ok_token_rate)
        a->best_ok_token_rate = a->ok_token_rate;
    if (a->ep_answers >= MIN_SHARE_ANSWERS)
        a->last_share = a->ep_throttled / a->ep_answers;
    a->ep_sent = a->ep_tokens = a->ep_ok = a->ep_ok_tokens = a->ep_throttled = a->ep_answers = 0;
    a->epoch_start = now;
}

bool batch_admit_can_send(struct batch_admit *a, int64_t now_ms, double tokens, int64_t *wait_ms)
{
    (void)tokens;
    refill(a, now_ms);
    double wait = 0;
    if (a->rq.limited && a->rq.bucket < 0)
        wait = -a->rq.bucket / a->rq.rate;
    if (a->tk.limited && a->tk.bucket < 0) {
        double w = -a->tk.bucket / a->tk.rate;
        if (w > wait)
            wait = w;
    }
    if (wait <= 0)
        return true;
    double ms = ceil(wait * 1000.0);
    *wait_ms = ms < 1 ? 1 : ms > 60000 ? 60000 : (int64_t)ms;
    return false;
}

void batch_admit_sent(struct batch_admit *a, int64_t now_ms, double tokens)
{
    refill(a, now_ms);
    roll(a, now_ms);
    if (a->rq.limited)
        a->rq.bucket -= 1.0;
    if (a->tk.limited)
        a->tk.bucket -= tokens;
    a->ep_sent += 1;
    a->ep_tokens += tokens;
}

/* The measured send rate, also before the first epoch closed. */
static double measured(const struct batch_admit *a, int64_t now, bool tokens)
{
    double m = tokens ? a->token_rate : a->sent_rate;
    double span = (double)(now - a->epoch_start) / 1000.0;
    if (span < 0.1)
        span = 0.1;
    double cur = (tokens ? a->ep_tokens : a->ep_sent) / span;
    return cur > m ? cur : m;
}

static void grow(struct batch_admit *a, struct batch_admit_lim *l, int64_t now, bool tokens, double ceiling)
{
    if (!l->limited || l->t_cut < 0) {
        if (ceiling > 0)
            l->rate = ceiling;
        return;
    }
    double t = (double)(now - l->t_cut) / 1000.0;
    double c = (1.0 - BATCH_ADMIT_BETA) / (BATCH_ADMIT_K_S * BATCH_ADMIT_K_S * BATCH_ADMIT_K_S);
    double d = t - BATCH_ADMIT_K_S;
    double r = l->w_max * (1.0 + c * d * d * d);
    double cap = 2.0 * measured(a, now, tokens); /* never past twice what is really sent */
    if (cap > 0 && r > cap)
        r = cap;
    if (ceiling > 0 && r > ceiling)
        r = ceiling;
    double floor_rate = tokens ? 1.0 : BATCH_ADMIT_MIN_RPS;
    if (r < floor_rate)
        r = floor_rate;
    l->rate = r;
}

static void count_answer(struct batch_admit *a, bool ok)
{
    struct batch_admit_lim *ls[2] = {&a->rq, &a->tk};
    for (int i = 0; i < 2; i++) {
        ls[i]->sc_answers += 1;
        ls[i]->sc_ok += ok;
    }
}

void batch_admit_ok(struct batch_admit *a, int64_t now_ms, double tokens)
{
    refill(a, now_ms);
    roll(a, now_ms);
    a->ep_ok += 1;
    a->ep_ok_tokens += tokens;
    a->ep_answers += 1;
    count_answer(a, true);
    grow(a, &a->rq, now_ms, false, a->max_rps);
    grow(a, &a->tk, now_ms, true, a->max_tps);
}

void batch_admit_other(struct batch_admit *a, int64_t now_ms)
{
    roll(a, now_ms);
    a->ep_answers += 1;
    count_answer(a, true); /* not throttled */
}

/* The accepted rate: what the server took per second lately. */
static double accepted(const struct batch_admit *a, int64_t now, bool tokens)
{
    double m = tokens ? a->ok_token_rate : a->ok_rate;
    double span = (double)(now - a->epoch_start) / 1000.0;
    double cur = span >= 0.25 ? (tokens ? a->ep_ok_tokens : a->ep_ok) / span : 0;
    return cur > m ? cur : m;
}

/* Share of answers since the limiter's last cut that succeeded; -1 when too
 * few answers (or too short a time) to say: 429s come back faster than
 * answers, so the first milliseconds are not a fair sample. */
static double success_share(const struct batch_admit_lim *l, int64_t now)
{
    if (l->sc_answers < MIN_SHARE_ANSWERS || now - l->sc_start < BATCH_ADMIT_EPOCH_MS / 2)
        return -1;
    return l->sc_ok / l->sc_answers;
}


static void cut(struct batch_admit *a, struct batch_admit_lim *l, int64_t now, bool tokens)
{
    if (now < l->quiet_until)
        return;
    if (l->t_cut >= 0 && now - l->t_cut < BATCH_ADMIT_EPOCH_MS)
        return; /* the same congestion event */
    if (l->t_cut >= 0 && l->sc_answers < MIN_SHARE_ANSWERS && now - l->t_cut < FAIR_SAMPLE_MS)
        return; /* too few answers since the last cut to know it was not enough */
    if (l->probe_rate > 0 && l->t_cut >= 0 && now - l->t_cut > SERIES_GAP_MS)
        l->probe_rate = 0;
    double cur = l->limited ? l->rate : measured(a, now, tokens);
    double m = measured(a, now, tokens);
    if (l->limited && m > 0 && m < cur)
        cur = m; /* sending below the limit: the limit is not what is sent */
    double ok_share = success_share(l, now);
    /* Over a quota, halving the rate (about) doubles the share of answers
     * that succeed; throttling that does not depend on our rate leaves that
     * share where it was. Half the rate and not a third more successes:
     * cutting cannot help, so stop for a while and restore the rate. */
    if (l->probe_rate > 0 && l->probe_share >= 0 && ok_share >= 0 && cur <= 0.5 * l->probe_rate &&
        ok_share < 1.3 * l->probe_share) {
        l->quiet_until = now + BATCH_ADMIT_INSENSITIVE_MS;
        l->rate = l->w_max = l->probe_rate;
        l->t_cut = now - (int64_t)(BATCH_ADMIT_K_S * 1000);
        l->probe_rate = 0;
        l->sc_answers = l->sc_ok = 0;
        l->sc_start = now;
        return;
    }
    if (l->probe_rate == 0 || (l->probe_share < 0 && ok_share >= 0)) {
        l->probe_rate = cur; /* the first cut of a series with a fair sample */
        l->probe_share = ok_share;
    }
    double floor_rate;
    if (tokens) {
        floor_rate = BATCH_ADMIT_FLOOR_SHARE * a->best_ok_token_rate;
        if (floor_rate < 1.0)
            floor_rate = 1.0;
    } else {
        floor_rate = BATCH_ADMIT_FLOOR_SHARE * a->best_ok_rate;
        if (floor_rate < BATCH_ADMIT_MIN_RPS)
            floor_rate = BATCH_ADMIT_MIN_RPS;
    }
    /* W: what the server accepted, when we know it and it is below what we
     * sent (far over a quota the sent rate says nothing), else the rate */
    double w = cur;
    double acc = accepted(a, now, tokens);
    if (acc > 0 && acc < w)
        w = acc;
    if (w < floor_rate)
        w = floor_rate;
    l->w_max = w;
    l->rate = w * BATCH_ADMIT_BETA > floor_rate ? w * BATCH_ADMIT_BETA : floor_rate;
    l->limited = true;
    l->t_cut = now;
    if (l->bucket > 0)
        l->bucket = 0;
    l->cuts++;
    l->sc_answers = l->sc_ok = 0;
    l->sc_start = now;
}

void batch_admit_throttled(struct batch_admit *a, int64_t now_ms, bool tokens_kind)
{
    refill(a, now_ms);
    roll(a, now_ms);
    a->ep_throttled += 1;
    a->ep_answers += 1;
    a->throttles++;
    count_answer(a, false);
    cut(a, tokens_kind ? &a->tk : &a->rq, now_ms, tokens_kind);
}

double batch_admit_rps(const struct batch_admit *a)
{
    return a->rq.limited ? a->rq.rate : 0;
}
