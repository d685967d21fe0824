/* fuzz_retry.c - the retry policy's outside inputs: x-amz-retry-after header
 * values, error codes, configuration values, and arbitrary sequences of
 * responses and clock jumps driven through the adaptive limiter.
 *
 * Input: the first line is a header value, the second an error code, the
 * third and fourth AWS_RETRY_MODE / AWS_MAX_ATTEMPTS values; the remaining
 * bytes are a script, two bytes per step (what happened, how long it took).
 * Invariants: no crash or hang; the quota stays within 0..500; delays stay
 * within the 20 s cap plus the 5 s retry-after allowance; the limiter's rate
 * never drops below 0.5/s. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/retry.h"

struct fclock {
    int64_t now;
};

static int64_t fnow(void *ctx)
{
    return ((struct fclock *)ctx)->now;
}

static void fsleep(void *ctx, int64_t ms)
{
    struct fclock *c = ctx;
    if (ms < 0 || ms > 10 * 60 * 1000)
        abort(); /* a limiter wait longer than ten minutes is a bug */
    c->now += ms;
}

static double frand(void *ctx)
{
    uint32_t *s = ctx;
    *s = *s * 1103515245u + 12345u;
    return (double)(*s >> 8) / 16777216.0;
}

struct cfgin {
    const char *mode, *attempts;
};

static const char *cfg_env(void *ctx, const char *name)
{
    const struct cfgin *c = ctx;
    if (strcmp(name, "AWS_RETRY_MODE") == 0)
        return c->mode;
    if (strcmp(name, "AWS_MAX_ATTEMPTS") == 0)
        return c->attempts;
    return NULL;
}

static const char *next_line(char **p)
{
    if (!*p)
        return NULL;
    char *s = *p, *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    /* the text part ends at the first NUL (or the end) */
    size_t tlen = strnlen((const char *)data, size);
    char *text = malloc(tlen + 1);
    memcpy(text, data, tlen);
    text[tlen] = '\0';
    const uint8_t *script = data + (tlen < size ? tlen + 1 : size);
    size_t slen = (size_t)(data + size - script);

    char *p = text;
    const char *hdr = next_line(&p), *code = next_line(&p);
    struct cfgin cin = {next_line(&p), next_line(&p)};

    int64_t after = retry_parse_retry_after(hdr);
    if (after < -1)
        abort();

    struct retry_config cfg;
    retry_config_init(&cfg);
    struct endpoint_lookup lk = {.getenv = cfg_env, .env_ctx = &cin};
    struct brock_err e;
    if (retry_config_resolve(&cfg, NULL, 0, &lk, &e) == BROCK_OK &&
        (cfg.max_attempts < 1 || cfg.max_attempts > RETRY_MAX_ATTEMPTS_LIMIT))
        abort();
    if (slen && (script[0] & 1))
        cfg.mode = RETRY_MODE_ADAPTIVE;
    cfg.new_retries_2026 = slen && (script[0] & 2);

    struct fclock fc = {.now = (int64_t)1700000000000};
    struct clock clk = {fnow, fsleep, &fc};
    uint32_t seed = (uint32_t)size;
    cfg.clock = &clk;
    cfg.random = frand;
    cfg.random_ctx = &seed;
    struct retry_policy *pol = retry_policy_new(&cfg);
    struct retry_token t = RETRY_TOKEN_INIT;

    for (size_t i = 1; i + 1 < slen; i += 2) {
        uint8_t what = script[i], dt = script[i + 1];
        /* time moves forward by 0-25.5 s, or jumps back (a stepped wall clock) */
        fc.now += (what & 0x80) ? -(int64_t)dt * 1000 : (int64_t)dt * 100;
        retry_acquire_send_token(pol);
        if ((what & 7) == 0) {
            retry_on_success(pol, &t);
            t = (struct retry_token)RETRY_TOKEN_INIT;
        } else {
            static const int statuses[] = {0, 400, 403, 429, 500, 503, 401};
            struct retry_class c;
            retry_classify(statuses[(what & 7) % 7], (what & 8) ? code : NULL, what & 16, what & 32, &c);
            int64_t delay = -1;
            enum retry_decision d = retry_decide(pol, &t, &c, (what & 64) ? after : -1, &delay);
            if (delay < 0 || delay > RETRY_MAX_BACKOFF_MS + RETRY_AFTER_MAX_EXTRA_MS)
                abort();
            if (d != RETRY_AGAIN) {
                if (delay != 0)
                    abort();
                t = (struct retry_token)RETRY_TOKEN_INIT;
            }
        }
        struct retry_stats s;
        retry_policy_stats(pol, &s);
        if (s.quota_available < 0 || s.quota_available > RETRY_QUOTA_INITIAL || !(s.fill_rate >= 0.5) ||
            !(s.max_capacity >= 1) || isnan(s.capacity))
            abort();
    }
    retry_policy_free(pol);
    free(text);
    return 0;
}
