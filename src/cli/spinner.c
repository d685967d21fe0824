/* spinner.c - the progress line on stderr (spinner.h). */
#include "spinner.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "term.h"

#define LABEL_MAX 256

struct spinner {
    struct spinner_opts o;
    bool enabled;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running;   /* the thread exists */
    bool stopping;  /* asked to stop */
    bool drawn;     /* a frame is on screen */
    char label[LABEL_MAX];
    char unit[32];
    uint64_t count;
    int64_t started_ms;
    unsigned frame;
    struct buf line;
};

static const char *const frames_uni[] = {"\xe2\xa0\x8b", "\xe2\xa0\x99", "\xe2\xa0\xb9", "\xe2\xa0\xb8",
                                         "\xe2\xa0\xbc", "\xe2\xa0\xb4", "\xe2\xa0\xa6", "\xe2\xa0\xa7",
                                         "\xe2\xa0\x87", "\xe2\xa0\x8f"};
static const char *const frames_ascii[] = {"|", "/", "-", "\\"};

void spinner_count_str(char *out, size_t cap, uint64_t n)
{
    if (n < 1000)
        snprintf(out, cap, "%llu", (unsigned long long)n);
    else if (n < 10000)
        snprintf(out, cap, "%llu.%lluk", (unsigned long long)(n / 1000), (unsigned long long)(n % 1000 / 100));
    else if (n < 1000000)
        snprintf(out, cap, "%lluk", (unsigned long long)(n / 1000));
    else if (n < 10000000)
        snprintf(out, cap, "%llu.%lluM", (unsigned long long)(n / 1000000),
                 (unsigned long long)(n % 1000000 / 100000));
    else
        snprintf(out, cap, "%lluM", (unsigned long long)(n / 1000000));
}

static void elapsed_str(char *out, size_t cap, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    long long s = ms / 1000;
    if (s < 60)
        snprintf(out, cap, "%lld.%llds", s, (long long)(ms % 1000 / 100));
    else if (s < 3600)
        snprintf(out, cap, "%lldm %02llds", s / 60, s % 60);
    else
        snprintf(out, cap, "%lldh %02lldm", s / 3600, s / 60 % 60);
}

void spinner_format(struct buf *out, const char *label, const char *unit, int64_t elapsed_ms, uint64_t count,
                    unsigned frame, bool unicode, bool color, size_t width)
{
    const char *f = unicode ? frames_uni[frame % 10] : frames_ascii[frame % 4];
    char el[32], cnt[32];
    elapsed_str(el, sizeof el, elapsed_ms);
    struct buf detail = BUF_INIT(BUF_MAX_SMALL);
    buf_addf(&detail, " %s", el);
    if (unit && *unit) {
        spinner_count_str(cnt, sizeof cnt, count);
        buf_addf(&detail, "%s%s %s", unicode ? " \xc2\xb7 " : " - ", cnt, unit);
    }
    struct buf text = BUF_INIT(BUF_MAX_SMALL);
    term_sanitize(&text, label ? label : "", label ? strlen(label) : 0, TERM_SAN_ONELINE);
    buf_addstr(&text, unicode ? "\xe2\x80\xa6" : "...");
    size_t label_end = text.len;
    buf_add(&text, detail.ptr, detail.len);

    if (color)
        term_sgr(out, TERM_FG(TERM_MAGENTA));
    buf_addstr(out, f);
    if (color)
        term_sgr(out, 0);
    buf_addc(out, ' ');
    if (width > 0 && 2 + term_display_width(text.ptr, text.len) > width) {
        term_fit(out, text.ptr, text.len, width > 2 ? width - 2 : 0, unicode);
    } else {
        buf_add(out, text.ptr, label_end);
        if (color)
            term_sgr(out, TERM_DIM);
        buf_add(out, text.ptr + label_end, text.len - label_end);
        if (color)
            term_sgr(out, 0);
    }
    buf_free(&detail);
    buf_free(&text);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

/* Draw one frame; called with the lock held. */
static void draw(struct spinner *s)
{
    struct buf *l = &s->line;
    buf_reset(l);
    buf_addc(l, '\r');
    int64_t now = clock_now_ms(s->o.clock);
    size_t width = s->o.width > 0 ? (size_t)s->o.width : (size_t)term_width(s->o.fd);
    /* one column short: a full line would leave the cursor in the wrap state */
    spinner_format(l, s->label, s->unit, now - s->started_ms, s->count, s->frame++, s->o.unicode, s->o.color,
                   width > 1 ? width - 1 : 1);
    buf_addstr(l, "\x1b[K");
    write_all(s->o.fd, l->ptr, l->len);
    s->drawn = true;
}

static void *run(void *arg)
{
    struct spinner *s = arg;
    int interval = s->o.interval_ms > 0 ? s->o.interval_ms : 100;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        draw(s);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(interval % 1000) * 1000000L;
        ts.tv_sec += interval / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

struct spinner *spinner_new(const struct spinner_opts *opts)
{
    struct spinner *s = xcalloc(1, sizeof *s);
    s->o = *opts;
    struct term_env env;
    term_env_load(&env);
    s->enabled = opts->force || (term_isatty(opts->fd) && !(env.term && strcmp(env.term, "dumb") == 0));
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    buf_init(&s->line, BUF_MAX_SMALL);
    return s;
}

bool spinner_enabled(const struct spinner *s)
{
    return s->enabled;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void spinner_start(struct spinner *s, const char *label, const char *unit)
{
    if (!s->enabled)
        return;
    spinner_stop(s);
    pthread_mutex_lock(&s->mu);
    copy_str(s->label, sizeof s->label, label);
    copy_str(s->unit, sizeof s->unit, unit);
    s->count = 0;
    s->frame = 0;
    s->started_ms = clock_now_ms(s->o.clock);
    s->stopping = false;
    pthread_mutex_unlock(&s->mu);
    if (pthread_create(&s->thread, NULL, run, s) == 0)
        s->running = true;
}

void spinner_set_label(struct spinner *s, const char *label)
{
    pthread_mutex_lock(&s->mu);
    copy_str(s->label, sizeof s->label, label);
    pthread_mutex_unlock(&s->mu);
}

void spinner_set_count(struct spinner *s, uint64_t count)
{
    pthread_mutex_lock(&s->mu);
    s->count = count;
    pthread_mutex_unlock(&s->mu);
}

void spinner_stop(struct spinner *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = false;
    if (s->drawn) {
        write_all(s->o.fd, "\r\x1b[K", 4);
        s->drawn = false;
    }
}

void spinner_free(struct spinner *s)
{
    if (!s)
        return;
    spinner_stop(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    buf_free(&s->line);
    free(s);
}
