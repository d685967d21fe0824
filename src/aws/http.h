/* http.h - HTTP(S) requests over libcurl: the only libcurl user in brock.
 *
 * A `struct http_client` owns one libcurl easy handle and one multi handle,
 * so connections (and TLS sessions, DNS answers) are kept alive and reused
 * from one request to the next. A client is NOT thread-safe: use one client
 * per thread. http_global_init() must run once, from main, before any thread
 * starts; http_global_cleanup() once at exit.
 *
 * A request either collects the response body into `resp->body` (a capped
 * struct buf) or streams it to `req->on_body`. http_send() returns BROCK_OK
 * whenever an HTTP response arrived, whatever its status: the caller looks at
 * `resp->status` and hands non-2xx answers to awserr (awserr.h).
 *
 * Security, always on:
 * - TLS 1.2 is the minimum (also towards an HTTPS proxy); certificates and
 *   host names are always verified (`ca_bundle` replaces the system store,
 *   the caller resolves AWS_CA_BUNDLE / ca_bundle).
 * - Plain http:// is refused with BROCK_ERR_CONFIG before any socket is
 *   opened, except for loopback hosts (127.0.0.0/8, ::1, "localhost") and,
 *   when the request sets `allow_link_local`, the EC2/ECS credential
 *   endpoints (169.254.169.254, fd00:ec2::254, 169.254.170.2, 169.254.170.23,
 *   fd00:ec2::23) and no other address.
 * - No redirects are followed; only the http and https schemes are allowed.
 * - Header values never appear in error messages. At LOG_DEBUG a request is
 *   logged as its method, URL (signature/token query values replaced) and
 *   header names, the http_header_is_secret() ones followed by
 *   ": [redacted]"; LOG_TRACE adds the other headers' values and libcurl's
 *   own remarks. Secret values are never logged at any level.
 *
 * Proxies come from the environment exactly as libcurl 7.88 reads them:
 * `http_proxy` (lowercase ONLY: libcurl ignores HTTP_PROXY on purpose), then
 * `https_proxy`/`HTTPS_PROXY` for https URLs, `all_proxy`/`ALL_PROXY` as the
 * fallback, and `no_proxy`/`NO_PROXY` (comma list of names, domain suffixes,
 * IPs and CIDR ranges, or "*") for hosts that go direct. Loopback URLs follow
 * the same rules, so put 127.0.0.1 and localhost in NO_PROXY when a proxy is
 * set. See docs/internals/http.md. */
#ifndef BROCK_AWS_HTTP_H
#define BROCK_AWS_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/err.h"

/* ---- header lists ------------------------------------------------------ */

/* Limits for one header list (request or response). */
#define HTTP_HEADERS_MAX_COUNT 256
#define HTTP_HEADERS_MAX_BYTES ((size_t)128 * 1024)

/* An ordered list of (name, value) pairs; names keep their case, lookups
 * ignore it; duplicates are allowed and kept in order. Strings live in one
 * arena owned by the list: the pointers returned by the accessors stay valid
 * until the list is next changed or cleaned up. Fields are private.
 * Cleanup wipes the bytes, since request lists hold Authorization values. */
struct http_headers {
    struct http_header_ent *ent; /* private */
    size_t n, cap;               /* private */
    char *str;                   /* private: NUL-separated names and values */
    size_t str_len, str_cap;     /* private */
};

#define HTTP_HEADERS_INIT { NULL, 0, 0, NULL, 0, 0 }

void http_headers_init(struct http_headers *h);
/* Wipe and free; the list is empty and usable afterwards. NULL is fine. */
void http_headers_cleanup(struct http_headers *h);
/* Remove every entry but keep the memory (wiped). */
void http_headers_reset(struct http_headers *h);

/* Append a header. The name must be an RFC 9110 token; the value may not hold
 * CR, LF, NUL or other control characters except tab (BROCK_ERR_USAGE, the
 * message names the header but never shows the value). BROCK_ERR_TOO_LARGE
 * past HTTP_HEADERS_MAX_COUNT / HTTP_HEADERS_MAX_BYTES. */
enum brock_status http_headers_add(struct http_headers *h, const char *name, const char *value,
                                   struct brock_err *e);
/* The same with explicit lengths (the bytes need not be NUL-terminated). */
enum brock_status http_headers_addn(struct http_headers *h, const char *name, size_t name_len,
                                    const char *value, size_t value_len, struct brock_err *e);
/* Remove every header called `name`, then append it once. */
enum brock_status http_headers_set(struct http_headers *h, const char *name, const char *value,
                                   struct brock_err *e);
/* Remove every header called `name`; returns how many were removed. */
size_t http_headers_remove(struct http_headers *h, const char *name);

/* First value of `name` (any case), or NULL. Borrowed. */
const char *http_headers_get(const struct http_headers *h, const char *name);
static inline size_t http_headers_count(const struct http_headers *h)
{
    return h->n;
}
/* Name and value of entry i < count. Borrowed. */
const char *http_headers_name(const struct http_headers *h, size_t i);
const char *http_headers_value(const struct http_headers *h, size_t i);

/* True for headers whose values are secrets and are never logged:
 * authorization, proxy-authorization, x-amz-security-token,
 * x-amz-sso_bearer_token, x-aws-ec2-metadata-token, cookie, set-cookie. */
bool http_header_is_secret(const char *name);

/* ---- process-wide setup ------------------------------------------------ */

/* curl_global_init plus a check that libcurl has TLS. Call once from main
 * before any thread starts (tests call it first thing). */
enum brock_status http_global_init(struct brock_err *e);
void http_global_cleanup(void);

/* "brock/<version> (<os> <arch>) libcurl/<version>", built once. */
const char *http_user_agent(void);

/* ---- the client --------------------------------------------------------- */

/* Timeout value meaning "no limit". */
#define HTTP_TIMEOUT_NONE (-1L)

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS 120000L
/* Collected bodies are capped at this unless a request says otherwise. */
#define HTTP_DEFAULT_MAX_BODY BUF_MAX_BODY

struct http_options {
    /* Defaults for every request; 0 means the HTTP_DEFAULT_* value, and
     * HTTP_TIMEOUT_NONE means no limit. The total timeout defaults to none. */
    long connect_timeout_ms;
    long total_timeout_ms;
    long idle_timeout_ms; /* no byte received or sent for this long */
    /* PEM CA bundle replacing the system store (AWS_CA_BUNDLE). Copied. */
    const char *ca_bundle;
    /* Appended to the User-Agent, e.g. "md/emulator". Copied. May be NULL. */
    const char *user_agent_extra;
    /* Checked while a request runs (every 50 ms or less); non-zero stops it
     * with BROCK_ERR_INTERRUPTED. A request's own `cancel` wins. */
    volatile sig_atomic_t *cancel;
};

struct http_client;

/* opts may be NULL (all defaults). Never returns NULL. */
struct http_client *http_client_new(const struct http_options *opts);
void http_client_free(struct http_client *c); /* NULL is fine */

/* ---- requests and responses --------------------------------------------- */

struct http_response;

/* Receives body bytes of a 2xx response as they arrive, in pieces of any size.
 * A non-OK return stops the transfer and http_send returns it unchanged. */
typedef enum brock_status http_body_fn(void *ctx, const char *p, size_t n);
/* Called once when the status line and headers of the final response are in,
 * before any body byte; a non-OK return stops the transfer likewise. */
typedef enum brock_status http_head_fn(void *ctx, const struct http_response *resp);

struct http_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE", "HEAD", ...; NULL = GET */
    const char *url;    /* absolute http:// or https:// URL */
    /* Sent as given, plus Host, Content-Length and User-Agent (unless given).
     * libcurl's default Accept, Expect and form Content-Type are suppressed.
     * May be NULL. */
    const struct http_headers *headers;
    const void *body; /* sent with Content-Length, never chunked; may be NULL */
    size_t body_len;
    /* 0 = the client's value; HTTP_TIMEOUT_NONE = no limit. */
    long connect_timeout_ms;
    long total_timeout_ms;
    long idle_timeout_ms;
    size_t max_body;        /* cap for a collected body; 0 = HTTP_DEFAULT_MAX_BODY */
    http_body_fn *on_body;  /* NULL = collect into resp->body */
    http_head_fn *on_head;  /* may be NULL */
    void *ctx;              /* passed to on_body and on_head */
    bool allow_link_local;  /* permit plain http to the IMDS/ECS addresses */
    /* Multis run by an outside loop only (http_multi_set_io): asked before
     * each piece of a streamed 2xx body; true holds the transfer, the piece
     * not taken, until http_xfer_resume() (back-pressure from a slow reader).
     * A held transfer is not timed out as idle. NULL = never hold. */
    bool (*hold)(void *ctx);
    volatile sig_atomic_t *cancel; /* NULL = the client's */
};

struct http_timings {
    double connect_ms;    /* TCP connected (0 when reused) */
    double tls_ms;        /* TLS handshake done (0 for plain http / reused) */
    double first_byte_ms; /* first response byte */
    double total_ms;
};

/* Initialise with http_response_init(); http_send() resets it first, so one
 * response may be reused across requests. Everything in it is owned by it. */
struct http_response {
    long status;                 /* 0 if no response arrived */
    struct http_headers headers; /* final response's headers, in order */
    /* The collected body; with on_body set, it still collects the body of a
     * non-2xx response (capped by max_body) so the error can be parsed. */
    struct buf body;
    uint64_t body_bytes;  /* body bytes received (streamed or collected) */
    char tls_version[16]; /* "TLSv1.3", "TLSv1.2", or "" for plain http */
    char remote_ip[48];   /* the peer (the proxy when one is used) */
    long remote_port;
    bool reused;          /* the connection was kept alive from before */
    struct http_timings t;
};

void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);

/* Send one request. Returns BROCK_OK when a complete response arrived (any
 * status). Errors, with a message naming the host:
 *   BROCK_ERR_CONFIG       plain http to a non-loopback host, bad URL
 *   BROCK_ERR_NETWORK      DNS, connect, TLS handshake/certificate, proxy,
 *                          timeout, connection dropped (bytes received so far)
 *   BROCK_ERR_TOO_LARGE    collected body over its cap, headers over limits
 *   BROCK_ERR_INTERRUPTED  the cancel flag was set
 *   whatever on_body / on_head returned.
 * On error `resp` holds what had arrived (status and headers, if any). */
enum brock_status http_send(struct http_client *c, const struct http_request *req,
                            struct http_response *resp, struct brock_err *e);

/* ---- many requests at once (libcurl multi) --------------------------------
 *
 * A `struct http_multi` runs many requests concurrently on the calling thread
 * (`brock batch`): http_multi_add() starts one, http_multi_run() moves every
 * transfer forward and calls each request's `done` callback, from inside
 * http_multi_run(), when it ends. Requests behave exactly as with http_send()
 * (same TLS, proxy, plain-http and redirect policy, caps, timeouts, streaming
 * callbacks, error messages); connections are kept alive and shared by all
 * transfers of the multi (HTTP/2 streams share one connection).
 *
 * Ownership: the request struct is copied, but what it points to (URL, body,
 * header list, ctx) is borrowed until `done` runs; so is `resp`, which is
 * filled as with http_send(). Not thread-safe: one thread drives a multi.
 * Cancellation: the options' `cancel` flag (or a request's own) ends running
 * transfers with BROCK_ERR_INTERRUPTED through their `done` callbacks. */

struct http_multi;

/* `st` and `e` are what http_send() would have returned for the request. The
 * callback may add new requests; it must not call http_multi_run or free. */
typedef void http_done_fn(void *ctx, enum brock_status st, const struct brock_err *e);

/* max_connections caps connections per host (0 = no cap). Never NULL. */
struct http_multi *http_multi_new(const struct http_options *opts, long max_connections);
/* Keep up to n idle connections open for reuse (libcurl's default follows
 * the number of transfers running, so a lull closes connections a burst
 * then opens again). No limit on connections per host. */
void http_multi_keep_connections(struct http_multi *m, long n);
/* Stop every running transfer (their `done` callbacks are NOT called) and
 * free. NULL is fine. */
void http_multi_free(struct http_multi *m);

/* Start a request. On an error before anything was sent (bad URL, refused
 * plain http, bad method, cancelled) it returns that error and `done` will
 * not be called; otherwise BROCK_OK and `done` is called exactly once. */
enum brock_status http_multi_add(struct http_multi *m, const struct http_request *req, struct http_response *resp,
                                 http_done_fn *done, void *ctx, struct brock_err *e);
/* Wait at most timeout_ms for network activity and move every transfer
 * forward; returns once at least one `done` ran, after timeout_ms, or at
 * once when nothing is running. BROCK_ERR_INTERNAL only if libcurl fails. */
enum brock_status http_multi_run(struct http_multi *m, long timeout_ms, struct brock_err *e);
/* Transfers started and not yet done. */
size_t http_multi_running(const struct http_multi *m);

/* ---- a multi run by the caller's event loop --------------------------------
 *
 * http_multi_set_io() hands a multi to an outside event loop (the gateway's
 * libevent base) instead of http_multi_run(): the loop watches the sockets
 * and the one timer the multi asks for and reports them back with
 * http_multi_on_socket() and http_multi_on_timer(); `done` callbacks, and the
 * functions given to http_multi_later(), run from inside those two calls,
 * never from inside http_multi_start(), http_xfer_abort() or
 * http_xfer_resume(). Set it before the first request. on_body and on_head
 * run inside libcurl: they must not call into the multi. */

#define HTTP_IO_IN 1
#define HTTP_IO_OUT 2

struct http_multi_io {
    /* Watch fd for HTTP_IO_IN | HTTP_IO_OUT, or stop watching it (what 0).
     * `slot` is what the last call for this fd returned (NULL the first
     * time); return the slot to keep (NULL when what is 0). */
    void *(*watch)(void *ctx, int fd, int what, void *slot);
    /* Call http_multi_on_timer() once after ms (0: as soon as the loop can),
     * replacing the timer set before; -1: no timer. */
    void (*timer)(void *ctx, long ms);
    /* Optional, both or neither: libcurl opened fd for a connection
     * (CURLOPT_OPENSOCKETFUNCTION), and is about to close it
     * (CURLOPT_CLOSESOCKETFUNCTION; libcurl keeps both with the connection,
     * so every such socket ends through `closing`). A loop that keeps a
     * registration for fd after `watch` said 0 may do so only for these
     * sockets (libcurl closes others, such as its resolver's, without a
     * word) and must drop it in `closing`, or a socket that gets the same
     * number would inherit it. */
    void (*opened)(void *ctx, int fd);
    void (*closing)(void *ctx, int fd);
    void *ctx;
};

void http_multi_set_io(struct http_multi *m, const struct http_multi_io *io);
/* fd is ready for `what` (HTTP_IO_IN | HTTP_IO_OUT). */
void http_multi_on_socket(struct http_multi *m, int fd, int what);
void http_multi_on_timer(struct http_multi *m);

/* One running transfer, valid until its `done` callback has run. */
struct http_xfer;

/* http_multi_add that also gives the transfer (for abort and resume). */
enum brock_status http_multi_start(struct http_multi *m, const struct http_request *req, struct http_response *resp,
                                   http_done_fn *done, void *ctx, struct http_xfer **out, struct brock_err *e);
/* End it with BROCK_ERR_INTERRUPTED through its `done` callback, soon. */
void http_xfer_abort(struct http_xfer *x);
/* Let a transfer held by its request's `hold` go on. */
void http_xfer_resume(struct http_xfer *x);

/* Run fn(arg) once, after ms, from the loop (a multi run by an outside loop
 * only). The handle is valid until fn runs or it is cancelled. */
struct http_later;
struct http_later *http_multi_later(struct http_multi *m, long ms, void (*fn)(void *arg), void *arg);
void http_later_cancel(struct http_multi *m, struct http_later *t); /* NULL is fine */

/* The response's Date header as ms since the epoch (for clock-skew
 * correction, wire reference 2.2). False if absent or unparsable. */
bool http_response_date_ms(const struct http_response *r, int64_t *out);

/* Check the plain-http policy for a URL without sending anything: BROCK_OK,
 * or BROCK_ERR_CONFIG with the refusal message. */
enum brock_status http_check_url(const char *url, bool allow_link_local, struct brock_err *e);

#endif
