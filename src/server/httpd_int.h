/* httpd_int.h - internals shared by httpd.c, httpd_h1.c and httpd_h2.c, and
 * the socket-free pieces the unit tests and the fuzz target drive directly.
 * Nothing outside src/server/httpd*.c, tests/server/test_httpd.c and
 * fuzz/fuzz_httpd.c includes this. */
#ifndef BROCK_SERVER_HTTPD_INT_H
#define BROCK_SERVER_HTTPD_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>

#include "../util/log.h"
#include "httpd.h"

/* The h2 client connection preface (RFC 9113 section 3.4). */
#define HTTPD_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define HTTPD_H2_PREFACE_LEN 24
/* Empty lines tolerated before a request line (RFC 9112 section 2.2). */
#define HTTPD_MAX_LEADING_CRLF 8
/* Longest chunk extension we skip over. */
#define HTTPD_MAX_CHUNK_EXT 4096
/* After answering and closing, read and drop the client's leftovers for this
 * long (or this many bytes) so the kernel does not reset the answer away. */
#define HTTPD_LINGER_MS 1000
#define HTTPD_LINGER_BYTES ((size_t)1024 * 1024)
/* HTTP/2 framing stops adding to the socket buffer above HIGH, resumes below LOW. */
#define HTTPD_H2_OUT_HIGH ((size_t)256 * 1024)
#define HTTPD_H2_OUT_LOW ((size_t)64 * 1024)
#define HTTPD_H2_STREAM_WINDOW (1 << 20)
#define HTTPD_H2_CONN_WINDOW (16 << 20)
/* HTTP/2: after an early answer, request bytes still read and dropped before
 * RST_STREAM(NO_ERROR), as a multiple of max_body (see httpd_h2.c). */
#define HTTPD_H2_DRAIN_FACTOR 2
/* HTTP/2: a stream whose response waits on the client's flow-control window
 * must send this many DATA bytes (or all it has) per write_timeout_ms, or it
 * is reset (see send_check in httpd_h2.c). */
#define HTTPD_H2_MIN_PROGRESS ((uint64_t)1024)
/* HTTP/1.1 stops taking pipelined requests while this much output waits. */
#define HTTPD_H1_PIPELINE_OUT_MAX ((size_t)1024 * 1024)
/* Input buffered per connection before libevent stops reading. */
#define HTTPD_READ_HIGH ((size_t)256 * 1024)

/* A header: offsets into the request arena (NUL-terminated there). */
struct httpd_hdr {
    uint32_t name, name_len, value, value_len;
};

struct httpd_req {
    /* arena[0] is always '\0', so offset 0 is the empty string. HTTP/1.1: the
     * head as received, then NUL-terminated in place; then copies of path,
     * query (and authority for absolute-form). HTTP/2: fields as they come. */
    struct buf arena;
    struct httpd_hdr *hdrs;
    size_t nhdrs, hdr_cap;
    uint32_t method, target, path, query, authority;
    struct buf body;
    uint8_t version; /* 10, 11 or 20 */
    char peer[64];
    char id[96];
};

enum resp_state { RESP_NEW, RESP_STREAMING, RESP_FINISHED };

struct httpd_resp {
    int status;
    struct buf hdrs; /* "name\0value\0" pairs, in order */
    size_t nhdrs;
    bool has_date;
    enum resp_state state;
    bool head_sent, gone, aborted;
    bool streaming; /* started with httpd_stream_start */
    httpd_resp_fn *on_close, *on_drain;
    void *close_arg, *drain_arg;
    size_t drain_low;
    uint64_t body_bytes;
};

enum { NOTIFY_CLOSE = 1, NOTIFY_DRAIN = 2 };

/* One request/response exchange. Freed when both the handler has finished the
 * response (handler_done) and the protocol side is through with it
 * (proto_done: HTTP/1.1 bytes queued, HTTP/2 stream closed, or connection
 * gone). */
struct httpd_x {
    struct httpd_req req;
    struct httpd_resp resp;
    struct httpd *srv;
    struct httpd_conn *conn;                /* NULL once detached */
    struct httpd_x *sprev, *snext;          /* server: live exchanges */
    struct httpd_x *cprev, *cnext;          /* connection: HTTP/2 streams */
    struct httpd_x *nprev, *nnext;          /* server: pending notifications */
    unsigned notify;                        /* NOTIFY_* waiting for delivery */
    bool queued, linked;
    bool handler_called, handler_done, proto_done;
    int64_t start_ns;
    /* receiving the body (or, HTTP/2, dropping it after an early answer):
     * see httpd_body_begin */
    int64_t body_start_ms, body_last_ms;
    uint64_t body_rx;
    /* HTTP/1.x request facts */
    bool keep_alive, expect_continue, is_head;
    bool skip_body; /* head_check refused it: handled at once, body dropped */
    /* HTTP/2 */
    int32_t stream_id;
    struct evbuffer *pending; /* written, not yet framed */
    struct event *timer;      /* receive timeouts, send watch, abort fallback */
    bool ended, deferred, abort_req, req_done, headers_done, rejected;
    bool send_watch, end_sent; /* timer is the send watch; END_STREAM is out */
    uint64_t sent, sent_mark;  /* DATA payload bytes framed; at the watch's start */
    bool answered, reset_sent; /* rejected: early answer sent; stream reset */
    uint64_t drained;          /* rejected: request bytes dropped since */
    int reject_status;
    char reject_msg[128];
};

#define X_OF_REQ(r) ((struct httpd_x *)(void *)((char *)(r) - offsetof(struct httpd_x, req)))
#define X_OF_RESP(p) ((struct httpd_x *)(void *)((char *)(p) - offsetof(struct httpd_x, resp)))

/* ---- HTTP/1.1 request reader (socket-free) ---- */

enum h1_rstate {
    H1R_START,
    H1R_HEAD,
    H1R_BODY,
    H1R_CHUNK_SIZE,
    H1R_CHUNK_EXT,
    H1R_CHUNK_SIZE_LF,
    H1R_CHUNK_DATA,
    H1R_CHUNK_DATA_CR,
    H1R_CHUNK_DATA_LF,
    H1R_TRAILER,
    H1R_DONE,
    H1R_ERROR
};

struct h1_reader {
    const struct httpd_options *lim; /* resolved (no zeros) */
    enum h1_rstate state;
    struct httpd_x *x;      /* request being read (owned until taken) */
    size_t line_start;      /* HEAD: arena offset of the current line */
    size_t skipped;         /* leading empty lines skipped */
    bool head_ready;        /* set when the head completes; caller clears */
    uint64_t remaining;     /* body bytes left (length or current chunk) */
    size_t digits, ext_len, trailer_bytes, line_len;
    bool saw_cr;
    uint64_t offset;        /* bytes of this request consumed so far */
    int status;             /* H1R_ERROR: the status to answer */
    char msg[160];          /* H1R_ERROR: what and where (no header values) */
};

/* Fill defaults into a copy of the options (zeros become defaults). */
void httpd_options_resolve(const struct httpd_options *in, struct httpd_options *out);

void h1_reader_init(struct h1_reader *r, const struct httpd_options *lim);
/* Consume bytes; returns how many. Stops early when the head completes
 * (head_ready), when the request is complete (H1R_DONE: the rest belongs to
 * the next request) or on error (H1R_ERROR: status and msg say why). */
size_t h1_reader_feed(struct h1_reader *r, const char *p, size_t n);
/* In H1R_DONE: take the request and get ready for the next one. */
struct httpd_x *h1_reader_take(struct h1_reader *r);
/* Back to H1R_START, dropping any partial request. */
void h1_reader_reset(struct h1_reader *r);
void h1_reader_cleanup(struct h1_reader *r);

/* ---- exchanges ---- */

struct httpd_x *httpd_x_new(const struct httpd_options *lim);
/* Free unconditionally (unlinks from every list). */
void httpd_x_destroy(struct httpd_x *x);
/* Free if both sides are done. Returns true if freed. */
bool httpd_x_maybe_free(struct httpd_x *x);
/* Link into the server and connection; count the request; call the handler. */
void httpd_x_dispatch(struct httpd_conn *c, struct httpd_x *x);
/* The client went away: detach, mark proto_done, and queue on_close. */
void httpd_x_gone(struct httpd_x *x);
void httpd_x_queue(struct httpd_x *x, unsigned what);
const char *httpd_arena_str(const struct httpd_req *r, uint32_t off);
/* Append a NUL-terminated copy; returns its offset, or UINT32_MAX if the
 * arena is full. */
uint32_t httpd_arena_add(struct httpd_req *r, const char *s, size_t n);
bool httpd_hdr_push(struct httpd_req *r, uint32_t name, uint32_t name_len, uint32_t value,
                    uint32_t value_len);

/* Body deadlines (httpd.h, "A request body must keep up a minimum rate").
 * begin: the clock starts now with nothing received. wait: count n bytes
 * received now (0: none) and return the ms until the body's next deadline,
 * silence or rate, whichever comes first (0: already due). too_slow: whether
 * that deadline is the rate's, with a message saying so into msg. */
void httpd_body_begin(struct httpd_x *x);
int httpd_body_wait(struct httpd_x *x, const struct httpd_options *o, size_t n);
bool httpd_body_too_slow(const struct httpd_x *x, const struct httpd_options *o, char *msg,
                         size_t msglen);

/* ---- connections ---- */

enum conn_proto { PROTO_DETECT, PROTO_H1, PROTO_H2 };
enum h1_cstate { H1C_IDLE, H1C_READING, H1C_HANDLING, H1C_CLOSING };
/* What closing a connection would cost, for eviction at max_connections:
 * IDLE (HTTP/1.1 between requests, HTTP/2 without streams) and READING (a
 * request head or body still arriving, nothing handed to the handler) are
 * kept on the server's lists in the order they entered that state; BUSY (a
 * request in the handler, a response or error answer on its way, closing) is
 * on none and never evicted. */
enum conn_class { CONN_BUSY, CONN_IDLE, CONN_READING, CONN_NCLASS };

struct httpd_conn {
    struct httpd *srv;
    struct httpd_conn *prev, *next;
    struct bufferevent *bev;
    evutil_socket_t fd; /* -1 for in-memory pairs */
    char peer[64];
    enum conn_proto proto;
    /* HTTP/1.x */
    enum h1_cstate h1;
    struct h1_reader rd;
    struct httpd_x *cur;
    /* HTTP/2 */
    nghttp2_session *h2;
    struct httpd_x *streams; /* doubly linked through cnext/cprev */
    size_t nstreams;
    bool goaway_sent;
    /* both */
    bool closing;     /* flushing output, then close */
    bool lingering;   /* after shutdown(SHUT_WR), dropping input */
    bool linger_ok;   /* closing may linger (an error answer) */
    bool dead;        /* freed on the next kick */
    size_t linger_bytes;
    struct event *timer;
    struct event *kick;
    /* Cleartext sockets write their output directly (see conn_flush_cb in
     * httpd.c): the bufferevent's write event is enabled only while output
     * the socket did not take is waiting (write_armed). */
    struct event *flush;
    bool direct;
    bool flush_queued;
    bool write_armed;
    /* eviction lists (see enum conn_class) */
    enum conn_class cls;
    struct httpd_conn *lprev, *lnext;
    int64_t cls_since_ms;
};

/* At most one line per HTTPD_LOG_EVERY_MS for a repetitive event; the next
 * line counts those left out (log_every_ok). */
#define HTTPD_LOG_EVERY_MS 5000

struct httpd_timer {
    struct httpd *srv;
    struct httpd_timer *prev, *next;
    struct event *ev;
    httpd_timer_fn *fn;
    void *arg;
};

struct httpd {
    struct httpd_options opt; /* resolved */
    char *host;
    struct event_base *base;
    struct evconnlistener *listener;
    SSL_CTX *tls; /* NULL: cleartext; [loop] replaced by a reload */
    bool tls_on;  /* tls != NULL, fixed at start (any thread) */
    char *tls_cert, *tls_key; /* the files, kept for reloads */
    atomic_bool reload_requested;
    uint16_t port;
    int wake[2];
    struct event *wake_ev;
    struct event *notify_ev;
    struct event *deadline_ev;
    struct event *tls_check_ev; /* daily: the certificate's end near? */
    struct httpd_conn *conns;
    struct httpd_conn *cls_head[CONN_NCLASS], *cls_tail[CONN_NCLASS]; /* [CONN_BUSY] unused */
    struct log_every log_evict, log_refuse, log_accept_err;
    struct httpd_x *live;
    struct httpd_x *notify_head, *notify_tail;
    struct httpd_timer *timers;
    bool stopping, ran;
    int64_t stop_deadline_ms; /* monotonic */
    atomic_bool stop_requested;
    atomic_int stop_grace_ms;
    pthread_t thread;
    bool thread_started;
    atomic_bool thread_joined;
    atomic_uint_fast64_t st_connections, st_open, st_refused, st_h2, st_requests, st_rejected,
        st_evicted, st_tls_reloads, st_tls_reload_errors, st_write_waits;
    int64_t date_sec;
    char date[40];
};

/* Attach an accepted (or in-memory) bufferevent as a new connection. */
struct httpd_conn *httpd_conn_new(struct httpd *s, struct bufferevent *bev, evutil_socket_t fd,
                                  const char *peer);
/* A server without a listening socket (fuzzing, tests). */
enum brock_status httpd_new_unbound(const struct httpd_options *o, struct httpd **out,
                                    struct brock_err *e);
void httpd_conn_kick(struct httpd_conn *c);
void httpd_conn_timer(struct httpd_conn *c, int ms); /* < 0 disarms */
/* Close once the output is flushed (linger: half-close and drain input). */
void httpd_conn_close_after_flush(struct httpd_conn *c, bool linger);
/* Tear down now: every attached exchange is gone. */
void httpd_conn_free(struct httpd_conn *c);
const char *httpd_reason(int status);
const char *httpd_date(struct httpd *s);
bool httpd_is_secret_header(const char *name);
/* Copy a path for a log line: control bytes become '?', long paths cut. */
void httpd_log_path(const char *in, char *out, size_t outlen);

/* HTTP/1.x side (httpd_h1.c) */
void h1_conn_start(struct httpd_conn *c);
void h1_on_read(struct httpd_conn *c);
void h1_on_write_drained(struct httpd_conn *c);
void h1_on_timer(struct httpd_conn *c);
void h1_stop(struct httpd_conn *c);
void h1_send_error(struct httpd_conn *c, int status, const char *msg);
enum brock_status h1_resp_head(struct httpd_x *x, bool streaming, size_t content_length);
enum brock_status h1_resp_body(struct httpd_x *x, const void *p, size_t n);
void h1_resp_finish(struct httpd_x *x);
void h1_resp_abort(struct httpd_x *x);
size_t h1_resp_buffered(const struct httpd_x *x);

/* HTTP/2 side (httpd_h2.c) */
enum brock_status h2_conn_start(struct httpd_conn *c, struct brock_err *e);
void h2_on_read(struct httpd_conn *c);
void h2_flush(struct httpd_conn *c);
void h2_on_timer(struct httpd_conn *c);
void h2_stop(struct httpd_conn *c);
void h2_conn_cleanup(struct httpd_conn *c);
enum brock_status h2_resp_head(struct httpd_x *x, bool streaming, const void *body, size_t n);
enum brock_status h2_resp_body(struct httpd_x *x, const void *p, size_t n);
void h2_resp_finish(struct httpd_x *x);
void h2_resp_abort(struct httpd_x *x);
size_t h2_resp_buffered(const struct httpd_x *x);

#endif
