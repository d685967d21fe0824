/* httpd.h - the HTTP server core under `brock emulate` and the gateway.
 *
 * One libevent loop serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge: a
 * connection whose first bytes are the h2 client preface speaks HTTP/2, any
 * other speaks HTTP/1.1) on the same port. With a certificate and key
 * (tls_cert_file, tls_key_file) the port speaks TLS instead (1.2 or newer;
 * ALPN offers h2 and http/1.1, and the same detection runs on the decrypted
 * bytes). The server parses requests, buffers
 * each body completely (up to a limit), calls one handler per request, and
 * writes what the handler answers. It knows nothing about Bedrock.
 *
 * Threads. httpd_new() creates the server in the calling thread. From then on
 * every function here must be called from the loop thread (inside the handler,
 * a callback or a timer) except httpd_stop(), httpd_join(), httpd_port() and
 * httpd_stats(), which any thread may call (httpd_stop() is also
 * async-signal-safe). Run the loop with httpd_run() in the calling thread, or
 * with httpd_start_thread() in a background thread.
 *
 * SIGPIPE. The loop thread blocks SIGPIPE (pthread_sigmask), so a write to a
 * closed socket returns EPIPE instead of killing the process; httpd_run()
 * restores the caller's mask (discarding a pending SIGPIPE) before returning.
 * The process-wide disposition is never changed.
 *
 * Requests and responses. The handler gets a request and a response handle for
 * it. It may answer at once or later (from a timer); every response must be
 * finished exactly once, by httpd_resp_send(), httpd_stream_end() or
 * httpd_resp_abort(). Both handles stay valid until then, even if the client
 * goes away first (the on_close callback says so and later writes fail with
 * BROCK_ERR_NETWORK); after the finishing call, neither may be touched.
 * Responses still unfinished at httpd_free() are released there.
 *
 * Callbacks (on_close, on_drain, timers) always run from the loop, never from
 * inside an httpd_* call the handler is making; httpd_free() is the exception:
 * it calls on_close for unfinished responses, in the thread that calls it.
 *
 * Limits. Every size and time limit is a field of `struct httpd_options`;
 * zero means the default below. Violations answer 400, 408, 411, 413, 414,
 * 417, 431, 501 or 505 with a one-line text body and close the connection
 * (HTTP/2: the stream). Error bodies and log lines never repeat header values;
 * debug logs never show `authorization`, `x-amz-security-token` or cookies.
 *
 * A request body must keep up a minimum rate (after Apache's mod_reqtimeout,
 * body=20,MinRate=500): it gets body_timeout_ms from the end of its head, plus
 * one second per min_body_rate bytes received, but never more than
 * HTTPD_BODY_TIME_FACTOR x body_timeout_ms in all; and body_timeout_ms of
 * silence ends it too. Either answers 408. At the defaults a body of B bytes
 * may take 30 s + B / 500 s, at most 300 s (a 32 MiB body needs 112 KB/s on
 * average; at loopback speed it takes milliseconds).
 *
 * Connections. At max_connections a new connection does not wait: the server
 * closes the connection that has been idle longest (HTTP/1.1 between requests,
 * HTTP/2 without open streams), or failing that the one that has spent
 * longest sending a request head or body not yet handed to the handler, and
 * admits the new one. Only when every connection has a request in the handler
 * or a response on its way is the new one refused (closed at once). */
#ifndef BROCK_SERVER_HTTPD_H
#define BROCK_SERVER_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/err.h"

#define HTTPD_DEFAULT_MAX_HEAD ((size_t)64 * 1024)          /* request line + headers: 431 */
#define HTTPD_DEFAULT_MAX_REQUEST_LINE ((size_t)16 * 1024)  /* request line alone: 414 */
#define HTTPD_DEFAULT_MAX_HEADERS 100                       /* header fields: 431 */
#define HTTPD_DEFAULT_MAX_BODY ((size_t)32 * 1024 * 1024)   /* request body: 413 */
#define HTTPD_DEFAULT_MAX_CONNECTIONS 1024                  /* at the cap: evict or refuse */
#define HTTPD_DEFAULT_MAX_H2_STREAMS 100                    /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define HTTPD_DEFAULT_MAX_RESP_BUFFER ((size_t)4 * 1024 * 1024) /* per streamed response */
#define HTTPD_DEFAULT_HEADER_TIMEOUT_MS 10000    /* first byte to end of headers: 408 */
#define HTTPD_DEFAULT_BODY_TIMEOUT_MS 30000      /* silence while reading a body: 408 */
#define HTTPD_DEFAULT_MIN_BODY_RATE 500          /* bytes/s a body must keep up: 408 */
/* A body's whole upload may take at most this many body timeouts. */
#define HTTPD_BODY_TIME_FACTOR 10
#define HTTPD_DEFAULT_KEEPALIVE_TIMEOUT_MS 30000 /* idle between requests: close */
#define HTTPD_DEFAULT_WRITE_TIMEOUT_MS 30000     /* no write progress: close (h2: reset) */
#define HTTPD_DEFAULT_STOP_GRACE_MS 5000         /* httpd_stop() grace when given < 0 */
#define HTTPD_TLS_EXPIRY_WARN_DAYS 14            /* warn (at start, on reload, daily) when the certificate ends sooner */
/* Largest response header block a handler may build (names + values). */
#define HTTPD_MAX_RESP_HEADERS ((size_t)64 * 1024)

struct httpd;      /* the server */
struct httpd_req;  /* one request (read side) */
struct httpd_resp; /* its response (write side) */
struct httpd_timer;

/* Called once per complete request, in the loop thread. */
typedef void httpd_handler_fn(void *ctx, struct httpd_req *req, struct httpd_resp *resp);
/* Response callbacks (see httpd_resp_on_close / httpd_resp_on_drain). */
typedef void httpd_resp_fn(struct httpd_resp *resp, void *arg);
typedef void httpd_timer_fn(void *arg);
/* Called when a request's head is complete and a body follows, before any of
 * the body is read (loop thread). Return false when the head alone decides
 * that the request will be refused (an unknown client): the handler is then
 * called at once, with an empty body, and the body is never buffered. Over
 * HTTP/1.1 no `100 Continue` is sent and the connection closes after the
 * answer (the unread body is drained for a moment, then dropped); over
 * HTTP/2 the stream's DATA is dropped and the stream reset with NO_ERROR once
 * the answer is out. */
typedef bool httpd_head_fn(void *ctx, struct httpd_req *req);

struct httpd_options {
    const char *host;        /* IP literal or "localhost"; NULL = "127.0.0.1" */
    uint16_t port;           /* 0 = any free port (see httpd_port) */
    bool allow_non_loopback; /* required to bind anything but 127/8 and ::1 */
    httpd_handler_fn *handler; /* required */
    void *handler_ctx;
    httpd_head_fn *head_check; /* optional; called with handler_ctx */

    size_t max_head;         /* 0 = HTTPD_DEFAULT_MAX_HEAD, and so on */
    size_t max_request_line;
    size_t max_headers;
    size_t max_body;
    size_t max_connections;
    size_t max_h2_streams;
    size_t max_resp_buffer;
    int header_timeout_ms;
    int body_timeout_ms;
    size_t min_body_rate;    /* bytes/s (see above) */
    int keepalive_timeout_ms;
    int write_timeout_ms;

    /* TLS on the listener: PEM files, read by httpd_new() and again on
     * httpd_reload(); both or neither. A key file that others may read
     * gets a warning, and so does a certificate that has expired or ends
     * within HTTPD_TLS_EXPIRY_WARN_DAYS (at start, on reload, then daily). */
    const char *tls_cert_file;
    const char *tls_key_file;
    /* Optional, called on the loop with handler_ctx after each
     * httpd_reload() (for the caller's own reload, too): the TLS outcome,
     * error NULL and what the new certificate is ("CN=..., valid until
     * ..."), or the error (the old files stay); both NULL when the server
     * has no TLS. */
    void (*on_reload)(void *ctx, const char *tls_error, const char *tls_what);
};

struct httpd_stats {
    uint64_t connections;     /* accepted in total */
    uint64_t open;            /* open now */
    uint64_t refused;         /* closed at accept: max_connections, none to evict */
    uint64_t evicted;         /* closed at max_connections to admit a new one */
    uint64_t h2_connections;  /* of `connections`, how many spoke HTTP/2 */
    uint64_t requests;        /* handed to the handler */
    uint64_t rejected;        /* answered by the server with a 4xx/5xx */
    uint64_t write_waits;     /* cleartext: output the socket did not take at once,
                                 so the connection waited to write (a slow reader,
                                 a big answer) */
    uint64_t tls_reloads;     /* httpd_reload() that took new files */
    uint64_t tls_reload_errors; /* ... that kept the old ones */
};

/* Zero the options (all defaults). */
void httpd_options_init(struct httpd_options *o);

/* Create the server, bind and listen. Refuses (BROCK_ERR_USAGE) a non-loopback
 * address unless allow_non_loopback; BROCK_ERR_IO names the address and the OS
 * error when binding fails. */
enum brock_status httpd_new(const struct httpd_options *o, struct httpd **out,
                            struct brock_err *e) BROCK_WUR;
/* Stop if running, wait for the thread, release every response, timer and
 * connection (on_close is called for unfinished responses). NULL is fine. */
void httpd_free(struct httpd *s);

/* The port actually bound (useful with port 0). Any thread. */
uint16_t httpd_port(const struct httpd *s);
/* Whether the listener speaks TLS (https://). Any thread. */
bool httpd_tls(const struct httpd *s);
/* "http://HOST:PORT" (https with TLS; an IPv6 host in brackets), host NULL =
 * 127.0.0.1, into out (truncated to n). Any thread. */
void httpd_url(const struct httpd *s, const char *host, char *out, size_t n);
void httpd_stats(const struct httpd *s, struct httpd_stats *out);

/* Run the loop in this thread until httpd_stop() completes. Call once. */
enum brock_status httpd_run(struct httpd *s, struct brock_err *e) BROCK_WUR;
/* Run the loop in a new thread; stop it with httpd_stop() + httpd_join(). */
enum brock_status httpd_start_thread(struct httpd *s, struct brock_err *e) BROCK_WUR;
/* Ask the loop to stop: stop accepting, close idle connections, send GOAWAY
 * on HTTP/2 connections, let in-flight responses finish for up to grace_ms
 * (< 0: HTTPD_DEFAULT_STOP_GRACE_MS), then close everything and return from
 * the loop. Returns at once. Any thread, async-signal-safe; repeat calls may
 * shorten the grace but never lengthen it. */
void httpd_stop(struct httpd *s, int grace_ms);
/* Ask the loop to read the TLS certificate and key files again (a renewed
 * certificate): connections accepted from then on get the new ones, those
 * open keep theirs; files that do not load leave the old ones in use. Then
 * on_reload is called with the outcome (without TLS, it alone). Any thread,
 * async-signal-safe. */
void httpd_reload(struct httpd *s);
/* Wait for the thread started by httpd_start_thread(); no-op otherwise. */
void httpd_join(struct httpd *s);

/* The libevent base (struct event_base *), for handlers that need more than
 * httpd_timer_*. Loop thread only. */
void *httpd_event_base(struct httpd *s);

/* One-shot timer: fn(arg) runs after `ms` (0 = next loop turn). The handle is
 * freed after fn returns; httpd_timer_cancel() frees it before that. Timers
 * still pending at httpd_free() are freed without running. */
struct httpd_timer *httpd_timer_add(struct httpd *s, int64_t ms, httpd_timer_fn *fn, void *arg);
void httpd_timer_cancel(struct httpd_timer *t); /* NULL is fine */

/* ---- the request (borrowed: valid until the response is finished) ---- */

const char *httpd_req_method(const struct httpd_req *r);
/* The request target exactly as received ("/model/x%3A0/invoke?a=b"). */
const char *httpd_req_target(const struct httpd_req *r);
/* The path part of the target, still percent-encoded; query without '?', "" if
 * none. For an absolute-form HTTP/1.1 target the path starts at the first '/'. */
const char *httpd_req_path(const struct httpd_req *r);
const char *httpd_req_query(const struct httpd_req *r);
/* Host header (HTTP/1.1) or :authority (HTTP/2); "" if absent. */
const char *httpd_req_authority(const struct httpd_req *r);
/* "HTTP/1.0", "HTTP/1.1" or "HTTP/2". */
const char *httpd_req_protocol(const struct httpd_req *r);
/* "127.0.0.1:54321" or "[::1]:54321". */
const char *httpd_req_peer(const struct httpd_req *r);
/* First value of a header, name matched case-insensitively; NULL if absent.
 * HTTP/2 pseudo-headers are not headers (use the getters above). */
const char *httpd_req_header(const struct httpd_req *r, const char *name);
/* Headers in received order, names as received (HTTP/2: lowercase), values
 * with surrounding whitespace removed, otherwise untouched. */
size_t httpd_req_header_count(const struct httpd_req *r);
bool httpd_req_header_at(const struct httpd_req *r, size_t i, const char **name,
                         const char **value);
/* The complete body (NUL-terminated for convenience; len excludes it). */
const char *httpd_req_body(const struct httpd_req *r, size_t *len);
/* A request id for logs (e.g. the x-amzn-RequestId the handler answers with);
 * copied, truncated to 95 bytes. "" until set. */
void httpd_req_set_id(struct httpd_req *r, const char *id);
const char *httpd_req_id(const struct httpd_req *r);

/* Percent-decode path segment `index` of a raw path (segments are the pieces
 * between '/'; "/model/a%3Ab/invoke" has "model", "a:b", "invoke") into out.
 * BROCK_ERR_NOT_FOUND if there is no such segment, BROCK_ERR_PARSE for a bad
 * escape or one that decodes to NUL. */
enum brock_status httpd_path_segment(const char *path, size_t index, struct buf *out,
                                     struct brock_err *e) BROCK_WUR;

/* ---- the response ---- */

struct httpd_req *httpd_resp_req(struct httpd_resp *resp);
struct httpd *httpd_resp_server(struct httpd_resp *resp);

/* Status (200..599, default 200) and headers, before the body starts. The
 * server writes content-length, transfer-encoding, connection and date (unless
 * the handler sets date); setting those or hop-by-hop headers is
 * BROCK_ERR_USAGE, as are bad names/values (CR, LF, NUL) and calls after the
 * head was sent. */
enum brock_status httpd_resp_set_status(struct httpd_resp *resp, int status);
enum brock_status httpd_resp_add_header(struct httpd_resp *resp, const char *name,
                                        const char *value);

/* Finish with a whole body (copied; may be empty). BROCK_ERR_NETWORK if the
 * client has gone; the response is finished either way. */
enum brock_status httpd_resp_send(struct httpd_resp *resp, const void *body, size_t n);
/* Set status, a content-type and a text body, then send. */
enum brock_status httpd_resp_send_text(struct httpd_resp *resp, int status,
                                       const char *content_type, const char *text);

/* Streaming: start sends the head (HTTP/1.1: chunked; HTTP/1.0: body until
 * close; HTTP/2: HEADERS then DATA as written). write copies the piece;
 * BROCK_ERR_TOO_LARGE (piece dropped) if it would take the buffered bytes past
 * max_resp_buffer, BROCK_ERR_NETWORK if the client has gone. end finishes. */
enum brock_status httpd_stream_start(struct httpd_resp *resp);
enum brock_status httpd_stream_write(struct httpd_resp *resp, const void *data, size_t n);
enum brock_status httpd_stream_end(struct httpd_resp *resp);

/* Finish by failing: what was written is flushed, then HTTP/1.x closes the
 * connection (an unterminated chunked body, or no answer at all if nothing
 * was started) and HTTP/2 resets the stream (RST_STREAM INTERNAL_ERROR) while
 * other streams go on. For fault injection and the gateway. */
void httpd_resp_abort(struct httpd_resp *resp);

/* Bytes of this response written but not yet handed to the socket (HTTP/2:
 * not yet framed, e.g. waiting for the client's flow-control window). */
size_t httpd_resp_buffered(const struct httpd_resp *resp);
/* One-shot: fn runs once buffered <= low_water (on a later loop turn even if
 * that is already true). Arm again for the next time. NULL fn disarms. */
void httpd_resp_on_drain(struct httpd_resp *resp, size_t low_water, httpd_resp_fn *fn, void *arg);
/* fn runs once if the client goes away (disconnect, RST_STREAM, timeout,
 * server stop; for HTTP/1.x also a half-close after the request) before the
 * response is finished. The handle stays valid: the handler still finishes it
 * (httpd_resp_abort is the natural call). */
void httpd_resp_on_close(struct httpd_resp *resp, httpd_resp_fn *fn, void *arg);
/* True once the client has gone away. */
bool httpd_resp_gone(const struct httpd_resp *resp);

#endif
