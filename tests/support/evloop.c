/* evloop.c - see evloop.h. */
#include "evloop.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "../../src/util/timeutil.h"
#include "test.h"

static void *ev_watch(void *ctx, int fd, int what, void *slot)
{
    struct evloop *L = ctx;
    struct ev_fd *w = slot;
    if (w && (w < L->fds || w >= L->fds + EV_MAX_FDS || !w->used || w->fd != fd)) {
        L->bad_slots++;
        w = NULL;
    }
    if (!w) {
        for (int i = 0; i < EV_MAX_FDS; i++)
            if (L->fds[i].used && L->fds[i].fd == fd) {
                L->bad_slots++; /* a fd already watched came back without its slot */
                w = &L->fds[i];
            }
    }
    if (what == 0) {
        if (w)
            w->used = false;
        return NULL;
    }
    for (int i = 0; !w && i < EV_MAX_FDS; i++)
        if (!L->fds[i].used)
            w = &L->fds[i];
    if (!w) {
        L->bad_slots++; /* table full */
        return NULL;
    }
    *w = (struct ev_fd){.fd = fd, .what = what, .used = true};
    return w;
}

static void ev_timer(void *ctx, long ms)
{
    struct evloop *L = ctx;
    L->timer_at = ms < 0 ? -1 : time_mono_ms() + ms;
}

void ev_attach(struct evloop *L, struct http_multi *m)
{
    memset(L, 0, sizeof *L);
    L->m = m;
    L->timer_at = -1;
    http_multi_set_io(m, &(struct http_multi_io){.watch = ev_watch, .timer = ev_timer, .ctx = L});
}

/* One round: wait at most max_ms (less when the timer is due sooner), then
 * report the ready sockets and the timer, if due. */
void ev_step(struct evloop *L, long max_ms)
{
    struct pollfd p[EV_MAX_FDS];
    nfds_t n = 0;
    for (int i = 0; i < EV_MAX_FDS; i++) {
        const struct ev_fd *w = &L->fds[i];
        if (w->used)
            p[n++] = (struct pollfd){.fd = w->fd,
                                     .events = (short)((w->what & HTTP_IO_IN ? POLLIN : 0) |
                                                       (w->what & HTTP_IO_OUT ? POLLOUT : 0))};
    }
    long wait = max_ms;
    if (L->timer_at >= 0) {
        int64_t left = L->timer_at - time_mono_ms();
        if (left < wait)
            wait = left < 0 ? 0 : (long)left;
    }
    int rc = poll(p, n, (int)wait);
    assert_true(rc >= 0 || errno == EINTR);
    for (nfds_t k = 0; rc > 0 && k < n; k++) {
        if (!p[k].revents)
            continue;
        /* an earlier report may have stopped the watch */
        const struct ev_fd *w = NULL;
        for (int i = 0; i < EV_MAX_FDS && !w; i++)
            if (L->fds[i].used && L->fds[i].fd == p[k].fd)
                w = &L->fds[i];
        if (!w)
            continue;
        int what = (p[k].revents & (POLLIN | POLLHUP | POLLERR) ? HTTP_IO_IN : 0) |
                   (p[k].revents & (POLLOUT | POLLERR) ? HTTP_IO_OUT : 0);
        what = (what & w->what) ? (what & w->what) : w->what;
        L->socket_calls++;
        http_multi_on_socket(L->m, p[k].fd, what);
    }
    if (L->timer_at >= 0 && time_mono_ms() >= L->timer_at) {
        L->timer_at = -1;
        L->timer_calls++;
        http_multi_on_timer(L->m);
    }
}

/* Run the loop until *count reaches want (count NULL: never) or ms passed;
 * true if it was reached. */
bool ev_run(struct evloop *L, const int *count, int want, long ms)
{
    int64_t end = time_mono_ms() + ms;
    for (;;) {
        if (count && *count >= want)
            return true;
        int64_t left = end - time_mono_ms();
        if (left <= 0)
            return false;
        ev_step(L, left < 20 ? (long)left : 20);
    }
}

