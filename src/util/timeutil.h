/* timeutil.h - wall-clock time, AWS timestamp formats, and an injectable clock.
 *
 * Times are int64 seconds or milliseconds since the Unix epoch (UTC). Code that
 * decides something by the time (credential expiry, retry backoff) takes a
 * `const struct clock *` so tests can pin it; NULL means the real clock. */
#ifndef BROCK_UTIL_TIMEUTIL_H
#define BROCK_UTIL_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct clock {
    int64_t (*now_ms)(void *ctx);      /* wall clock, ms since epoch */
    void (*sleep_ms)(void *ctx, int64_t ms); /* NULL = really sleep */
    void *ctx;
};

int64_t time_now_ms(void);                 /* CLOCK_REALTIME */
int64_t time_mono_ms(void);                /* CLOCK_MONOTONIC */
int64_t time_mono_ns(void);
int64_t clock_now_ms(const struct clock *c);
void clock_sleep_ms(const struct clock *c, int64_t ms);

/* "YYYYMMDDTHHMMSSZ" (16 chars + NUL) as in X-Amz-Date. */
void time_fmt_amz(int64_t epoch_s, char out[17]);
/* "YYYY-MM-DDTHH:MM:SSZ" (20 chars + NUL). */
void time_fmt_iso8601(int64_t epoch_s, char out[21]);

/* Parse an ISO-8601 / RFC 3339 UTC time as AWS returns them:
 * "2025-01-01T12:00:00Z", "2025-01-01T12:00:00.123Z", "2025-01-01T12:00:00+00:00",
 * "2025-01-01T12:00:00UTC" and the compact "20150830T123600Z".
 * Fractions are kept as milliseconds. False if malformed. */
bool time_parse_iso8601(const char *s, int64_t *epoch_ms);

/* Days since epoch <-> civil date (proleptic Gregorian). */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
