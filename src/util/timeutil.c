#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t time_mono_ms(void)
{
    return time_mono_ns() / 1000000;
}

int64_t clock_now_ms(const struct clock *c)
{
    return c && c->now_ms ? c->now_ms(c->ctx) : time_now_ms();
}

void clock_sleep_ms(const struct clock *c, int64_t ms)
{
    if (ms <= 0)
        return;
    if (c && c->sleep_ms) {
        c->sleep_ms(c->ctx, ms);
        return;
    }
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
        /* EINTR: keep sleeping the remainder; SIGINT handling is the caller's job */
        if (ts.tv_sec == 0 && ts.tv_nsec == 0)
            break;
    }
}

/* Howard Hinnant's civil-from-days algorithms (public domain description). */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void split(int64_t t, int64_t *y, unsigned *mo, unsigned *d, unsigned *h, unsigned *mi, unsigned *s)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t rem = t - days * 86400;
    civil_from_days(days, y, mo, d);
    *h = (unsigned)(rem / 3600);
    *mi = (unsigned)(rem % 3600 / 60);
    *s = (unsigned)(rem % 60);
}

static void put2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10 % 10);
    o[1] = (char)('0' + v % 10);
}

static void put4(char *o, int64_t v)
{
    unsigned u = (unsigned)(v < 0 ? 0 : v % 10000);
    o[0] = (char)('0' + u / 1000);
    o[1] = (char)('0' + u / 100 % 10);
    o[2] = (char)('0' + u / 10 % 10);
    o[3] = (char)('0' + u % 10);
}

void time_fmt_amz(int64_t t, char out[17])
{
    int64_t y;
    unsigned mo, d, h, mi, s;
    split(t, &y, &mo, &d, &h, &mi, &s);
    put4(out, y);
    put2(out + 4, mo);
    put2(out + 6, d);
    out[8] = 'T';
    put2(out + 9, h);
    put2(out + 11, mi);
    put2(out + 13, s);
    out[15] = 'Z';
    out[16] = '\0';
}

void time_fmt_iso8601(int64_t t, char out[21])
{
    int64_t y;
    unsigned mo, d, h, mi, s;
    split(t, &y, &mo, &d, &h, &mi, &s);
    put4(out, y);
    out[4] = '-';
    put2(out + 5, mo);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, h);
    out[13] = ':';
    put2(out + 14, mi);
    out[16] = ':';
    put2(out + 17, s);
    out[19] = 'Z';
    out[20] = '\0';
}

static bool digits(const char **pp, int n, int *out)
{
    const char *p = *pp;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    *pp = p + n;
    return true;
}

bool time_parse_iso8601(const char *s, int64_t *epoch_ms)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, ms = 0;
    while (*p == ' ')
        p++;
    if (!digits(&p, 4, &y))
        return false;
    bool compact = *p != '-';
    if (!compact)
        p++;
    if (!digits(&p, 2, &mo))
        return false;
    if (!compact && *p++ != '-')
        return false;
    if (!digits(&p, 2, &d))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if (!digits(&p, 2, &h))
        return false;
    if (!compact && *p++ != ':')
        return false;
    if (!digits(&p, 2, &mi))
        return false;
    if (!compact && *p++ != ':')
        return false;
    if (!digits(&p, 2, &sec))
        return false;
    if (*p == '.' || *p == ',') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return false;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    int offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (!strcmp(p, "UTC")) {
        p += 3;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (!digits(&p, 2, &oh))
            return false;
        if (*p == ':')
            p++;
        if (*p && !digits(&p, 2, &om))
            return false;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return false;
    }
    while (*p == ' ')
        p++;
    if (*p)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    int64_t days = time_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t t = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *epoch_ms = t * 1000 + ms;
    return true;
}
