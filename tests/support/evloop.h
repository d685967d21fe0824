/* evloop.h - a tiny poll() event loop for tests of a libcurl multi handed to
 * an outside loop (http_multi_set_io, src/aws/http.h), as small as the
 * gateway's libevent base is big: watch() records fd -> events in a fixed table (the slot handed back to the
 * multi is the table entry), timer() records one deadline; ev_step() polls
 * with the timeout and reports back with http_multi_on_socket() and
 * http_multi_on_timer(). Every wait is bounded, so a bug fails a test instead
 * of hanging it. */
#ifndef BROCK_TESTS_EVLOOP_H
#define BROCK_TESTS_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "../../src/aws/http.h"

#define EV_MAX_FDS 64

struct ev_fd {
    int fd;
    int what; /* HTTP_IO_IN | HTTP_IO_OUT */
    bool used;
};

struct evloop {
    struct http_multi *m;
    struct ev_fd fds[EV_MAX_FDS];
    int64_t timer_at; /* time_mono_ms() deadline, -1 = none */
    int socket_calls; /* http_multi_on_socket calls made */
    int timer_calls;  /* http_multi_on_timer calls made */
    int bad_slots;    /* watch() got a slot that was not the one kept for its fd */
};

/* Hand m to L (L is reset). */
void ev_attach(struct evloop *L, struct http_multi *m);
/* One round: wait at most max_ms (less when the timer is due sooner), then
 * report the ready sockets and the timer, if due. */
void ev_step(struct evloop *L, long max_ms);
/* Run the loop until *count reaches want (count NULL: never) or ms passed;
 * true if it was reached. */
bool ev_run(struct evloop *L, const int *count, int want, long ms);

#endif
