/* fakesrv.h - a scriptable loopback HTTP/1.1 server for tests.
 *
 * Start one per test, script what it answers, point the code under test at
 * fakesrv_url(), then assert on what it received:
 *
 *     struct fakesrv *s = fakesrv_start(NULL);             // 127.0.0.1, port 0
 *     fakesrv_push(s, &(struct fakesrv_response){
 *         .status = 200, .headers = "Content-Type: application/json\r\n",
 *         .body = "{\"ok\":true}"});
 *     ... send a request to fakesrv_url(s) + "/path" ...
 *     const struct fakesrv_request *r = fakesrv_request(s, 0);
 *     assert_string_equal(r->target, "/path");
 *     fakesrv_stop(s);
 *
 * Answers come from a FIFO of canned responses (fakesrv_push copies each),
 * and when that is empty from the handler (fakesrv_set_handler), and when
 * there is none of either, a 500 "fakesrv: nothing scripted" answer.
 *
 * Every request is recorded (method, target, headers in order, body, the
 * connection it came on) before its answer is chosen. The target is kept as
 * sent: origin-form "/p?q", absolute-form "http://host:port/p" when the
 * client treats the server as its HTTP proxy, or "host:port" for CONNECT
 * (recorded and answered with the scripted response; no tunnel is built).
 *
 * Threads: one thread accepts, one thread serves each connection (keep-alive,
 * several requests per connection). All functions here are safe to call from
 * the test thread while connections are being served. Handlers run on
 * connection threads and may run concurrently when several connections are
 * open; guard shared state in ctx.
 *
 * Limits: request head 64 KiB, request body 64 MiB; a request over them gets
 * a 413 and the connection is closed. Bytes that do not start like a request
 * line (e.g. a TLS ClientHello) get a 400 and a close at once. Setup failures abort the test binary
 * with a message (tests cannot run without the server). */
#ifndef BROCK_TESTS_FAKESRV_H
#define BROCK_TESTS_FAKESRV_H

#include <stdbool.h>
#include <stddef.h>

struct fakesrv;

struct fakesrv_options {
    bool ipv6; /* listen on [::1] instead of 127.0.0.1 */
};

struct fakesrv_header {
    char *name;
    char *value;
};

/* A received request. Owned by the server; valid until fakesrv_stop. */
struct fakesrv_request {
    char method[16];
    char *target;
    struct fakesrv_header *headers; /* in order, as sent */
    size_t nheaders;
    char *body; /* NUL-terminated (the NUL is not counted in body_len) */
    size_t body_len;
    unsigned conn; /* 1-based number of the accepted connection it came on */
};

/* What to answer. Zero-initialised fields mean: 200, no extra headers, empty
 * body, Content-Length framing, no delays, keep the connection open. */
struct fakesrv_response {
    int status;          /* 0 = 200 */
    const char *headers; /* extra header lines "Name: value\r\n" ("\n" works too);
                          * a Content-Length here replaces the computed one */
    const char *body;    /* NULL = empty */
    size_t body_len;     /* 0 = strlen(body) */
    int delay_ms;        /* wait this long before sending anything */
    bool chunked;        /* Transfer-Encoding: chunked instead of Content-Length */
    size_t piece;        /* send the body in pieces of this many bytes (0 = at once);
                          * with chunked, each piece is one chunk */
    int piece_delay_ms;  /* wait between pieces */
    bool drop;           /* close the connection after drop_after body bytes */
    size_t drop_after;
    bool no_response;    /* close the connection without answering */
    bool close;          /* send "Connection: close" and close afterwards */
    /* Handler answers only: the server free()s these after sending. Without
     * them, the strings must outlive the sending (static or ctx-owned). */
    bool free_body;
    bool free_headers;
};

/* Called on a connection thread for each request when the FIFO is empty.
 * `out` starts zeroed (a 200 with an empty body). */
typedef void fakesrv_handler_fn(void *ctx, const struct fakesrv_request *req,
                                struct fakesrv_response *out);

/* Start listening on a fresh port. opts may be NULL. */
struct fakesrv *fakesrv_start(const struct fakesrv_options *opts);
/* Close every connection, join all threads, free everything. NULL is fine. */
void fakesrv_stop(struct fakesrv *s);

int fakesrv_port(const struct fakesrv *s);
/* "http://127.0.0.1:PORT" or "http://[::1]:PORT" (no trailing slash). */
const char *fakesrv_url(const struct fakesrv *s);

/* Queue a canned response (deep copy). */
void fakesrv_push(struct fakesrv *s, const struct fakesrv_response *r);
/* Canned responses not used yet. */
size_t fakesrv_pending(struct fakesrv *s);
void fakesrv_set_handler(struct fakesrv *s, fakesrv_handler_fn *fn, void *ctx);

/* Connections accepted so far. */
unsigned fakesrv_accepts(struct fakesrv *s);
/* Requests recorded so far, and request i (NULL if i >= count). */
size_t fakesrv_request_count(struct fakesrv *s);
const struct fakesrv_request *fakesrv_request(struct fakesrv *s, size_t i);
/* Wait until at least n requests were recorded; false after timeout_ms. */
bool fakesrv_wait_requests(struct fakesrv *s, size_t n, int timeout_ms);

/* First value of a request header, any case; NULL if absent. */
const char *fakesrv_header(const struct fakesrv_request *r, const char *name);

#endif
