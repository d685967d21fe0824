/* httpd.c - the server: listening, connections, exchanges, the handler API,
 * timers, the loop thread and graceful stop. HTTP/1.x framing lives in
 * httpd_h1.c, HTTP/2 (nghttp2) in httpd_h2.c.
 *
 * Re-entrancy rule: connections are freed only from their own event callbacks
 * (read, write, event, timer, kick), at accept (evicting one at
 * max_connections: nothing of it is on the stack there), at the stop deadline
 * or at httpd_free(); response calls made by
 * a handler only queue bytes and schedule work. Handler callbacks (on_close,
 * on_drain) go through one notification queue run from a zero-delay timer. */
#include "httpd_int.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"
#include "../util/timeutil.h"

/* ---- options and small helpers ---- */

void httpd_options_init(struct httpd_options *o)
{
    memset(o, 0, sizeof *o);
}

void httpd_options_resolve(const struct httpd_options *in, struct httpd_options *out)
{
    *out = *in;
#define DEF(f, v)       \
    if (out->f <= 0)    \
        out->f = (v)
    DEF(max_head, HTTPD_DEFAULT_MAX_HEAD);
    DEF(max_request_line, HTTPD_DEFAULT_MAX_REQUEST_LINE);
    DEF(max_headers, HTTPD_DEFAULT_MAX_HEADERS);
    DEF(max_body, HTTPD_DEFAULT_MAX_BODY);
    DEF(max_connections, HTTPD_DEFAULT_MAX_CONNECTIONS);
    DEF(max_h2_streams, HTTPD_DEFAULT_MAX_H2_STREAMS);
    DEF(max_resp_buffer, HTTPD_DEFAULT_MAX_RESP_BUFFER);
    DEF(header_timeout_ms, HTTPD_DEFAULT_HEADER_TIMEOUT_MS);
    DEF(body_timeout_ms, HTTPD_DEFAULT_BODY_TIMEOUT_MS);
    DEF(min_body_rate, HTTPD_DEFAULT_MIN_BODY_RATE);
    DEF(keepalive_timeout_ms, HTTPD_DEFAULT_KEEPALIVE_TIMEOUT_MS);
    DEF(write_timeout_ms, HTTPD_DEFAULT_WRITE_TIMEOUT_MS);
#undef DEF
    if (out->max_head > (size_t)1 << 30)
        out->max_head = (size_t)1 << 30; /* arena offsets are 32-bit */
    if (out->max_request_line > out->max_head)
        out->max_request_line = out->max_head;
}

const char *httpd_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 424: return "Failed Dependency";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* IMF-fixdate, formatted by hand so the locale cannot change it. */
const char *httpd_date(struct httpd *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mons[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if ((int64_t)now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_sec = (int64_t)now;
    }
    return s->date;
}

bool httpd_is_secret_header(const char *name)
{
    static const char *const secret[] = {"authorization", "proxy-authorization",
                                         "x-amz-security-token", "cookie", "set-cookie",
                                         "x-api-key"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(secret); i++)
        if (strcasecmp(name, secret[i]) == 0)
            return true;
    return false;
}

void httpd_log_path(const char *in, char *out, size_t outlen)
{
    size_t i = 0;
    for (; in[i] && i + 4 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (in[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static bool loglimit_ok(struct log_every *l, char *more, size_t morelen)
{
    return log_every_ok(l, HTTPD_LOG_EVERY_MS, more, morelen);
}

/* ---- the request ---- */

const char *httpd_arena_str(const struct httpd_req *r, uint32_t off)
{
    return r->arena.ptr ? r->arena.ptr + off : "";
}

uint32_t httpd_arena_add(struct httpd_req *r, const char *s, size_t n)
{
    struct buf *a = &r->arena;
    uint32_t off = (uint32_t)a->len;
    /* s may point into the arena itself: grow first, then find it again */
    bool inside = a->ptr && s >= a->ptr && s < a->ptr + a->len;
    size_t at = inside ? (size_t)(s - a->ptr) : 0;
    if (!buf_reserve(a, n + 1))
        return UINT32_MAX;
    if (inside)
        s = a->ptr + at;
    buf_add(a, s, n);
    buf_addc(a, '\0');
    return off;
}

bool httpd_hdr_push(struct httpd_req *r, uint32_t name, uint32_t name_len, uint32_t value,
                    uint32_t value_len)
{
    if (r->nhdrs == r->hdr_cap) {
        r->hdr_cap = r->hdr_cap ? r->hdr_cap * 2 : 16;
        r->hdrs = xrealloc(r->hdrs, r->hdr_cap * sizeof *r->hdrs);
    }
    r->hdrs[r->nhdrs++] = (struct httpd_hdr){name, name_len, value, value_len};
    return true;
}

const char *httpd_req_method(const struct httpd_req *r)
{
    return httpd_arena_str(r, r->method);
}

const char *httpd_req_target(const struct httpd_req *r)
{
    return httpd_arena_str(r, r->target);
}

const char *httpd_req_path(const struct httpd_req *r)
{
    return httpd_arena_str(r, r->path);
}

const char *httpd_req_query(const struct httpd_req *r)
{
    return httpd_arena_str(r, r->query);
}

const char *httpd_req_authority(const struct httpd_req *r)
{
    return httpd_arena_str(r, r->authority);
}

const char *httpd_req_protocol(const struct httpd_req *r)
{
    return r->version == 20 ? "HTTP/2" : r->version == 10 ? "HTTP/1.0" : "HTTP/1.1";
}

const char *httpd_req_peer(const struct httpd_req *r)
{
    return r->peer;
}

const char *httpd_req_header(const struct httpd_req *r, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->nhdrs; i++) {
        const struct httpd_hdr *h = &r->hdrs[i];
        if (h->name_len == nl && strncasecmp(r->arena.ptr + h->name, name, nl) == 0)
            return r->arena.ptr + h->value;
    }
    return NULL;
}

size_t httpd_req_header_count(const struct httpd_req *r)
{
    return r->nhdrs;
}

bool httpd_req_header_at(const struct httpd_req *r, size_t i, const char **name,
                         const char **value)
{
    if (i >= r->nhdrs)
        return false;
    *name = r->arena.ptr + r->hdrs[i].name;
    *value = r->arena.ptr + r->hdrs[i].value;
    return true;
}

const char *httpd_req_body(const struct httpd_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return buf_cstr(&r->body);
}

void httpd_req_set_id(struct httpd_req *r, const char *id)
{
    snprintf(r->id, sizeof r->id, "%s", id ? id : "");
}

const char *httpd_req_id(const struct httpd_req *r)
{
    return r->id;
}

static int hexdigit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum brock_status httpd_path_segment(const char *path, size_t index, struct buf *out,
                                     struct brock_err *e)
{
    const char *p = path;
    if (*p == '/')
        p++;
    for (size_t i = 0; i < index; i++) {
        const char *sl = strchr(p, '/');
        if (!sl)
            return err_set(e, BROCK_ERR_NOT_FOUND, "path has no segment %zu", index);
        p = sl + 1;
    }
    size_t len = strcspn(p, "/?");
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '%')
            continue;
        if (i + 2 >= len)
            return err_set(e, BROCK_ERR_PARSE, "path segment %zu: truncated %%-escape at offset %zu",
                           index, i);
        int a = hexdigit((unsigned char)p[i + 1]), b = hexdigit((unsigned char)p[i + 2]);
        if (a < 0 || b < 0)
            return err_set(e, BROCK_ERR_PARSE, "path segment %zu: bad %%-escape at offset %zu",
                           index, i);
        if (a == 0 && b == 0)
            return err_set(e, BROCK_ERR_PARSE, "path segment %zu: %%00 at offset %zu", index, i);
        i += 2;
    }
    if (uri_decode(out, p, len) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "path segment %zu: too long", index);
    return BROCK_OK;
}

/* ---- body deadlines ---- */

void httpd_body_begin(struct httpd_x *x)
{
    x->body_start_ms = x->body_last_ms = time_mono_ms();
    x->body_rx = 0;
}

/* body_timeout_ms from the start, plus 1 s per min_body_rate bytes, capped. */
static int64_t body_rate_due(const struct httpd_x *x, const struct httpd_options *o)
{
    int64_t cap = (int64_t)o->body_timeout_ms * HTTPD_BODY_TIME_FACTOR;
    uint64_t earned = x->body_rx / o->min_body_rate * 1000 +
                      x->body_rx % o->min_body_rate * 1000 / o->min_body_rate;
    int64_t allowed = o->body_timeout_ms + (earned < (uint64_t)cap ? (int64_t)earned : cap);
    return x->body_start_ms + (allowed < cap ? allowed : cap);
}

int httpd_body_wait(struct httpd_x *x, const struct httpd_options *o, size_t n)
{
    int64_t now = time_mono_ms();
    if (n) {
        x->body_rx += n;
        x->body_last_ms = now;
    }
    int64_t due = x->body_last_ms + o->body_timeout_ms;
    int64_t rate_due = body_rate_due(x, o);
    if (rate_due < due)
        due = rate_due;
    return due <= now ? 0 : (int)(due - now);
}

bool httpd_body_too_slow(const struct httpd_x *x, const struct httpd_options *o, char *msg,
                         size_t msglen)
{
    if (body_rate_due(x, o) >= x->body_last_ms + o->body_timeout_ms)
        return false; /* the silence deadline came first */
    snprintf(msg, msglen, "request body too slow: %llu bytes in %lld ms (minimum %zu bytes/s)",
             (unsigned long long)x->body_rx, (long long)(time_mono_ms() - x->body_start_ms),
             o->min_body_rate);
    return true;
}

/* ---- exchanges ---- */

struct httpd_x *httpd_x_new(const struct httpd_options *lim)
{
    struct httpd_x *x = xcalloc(1, sizeof *x);
    buf_init(&x->req.arena, lim->max_head * 2 + 256);
    buf_reserve(&x->req.arena, 1023); /* most heads fit: one allocation */
    buf_addc(&x->req.arena, '\0');   /* offset 0 is "" */
    buf_init(&x->req.body, lim->max_body);
    buf_init(&x->resp.hdrs, HTTPD_MAX_RESP_HEADERS);
    x->resp.status = 200;
    x->start_ns = time_mono_ns();
    return x;
}

static void notify_unlink(struct httpd_x *x)
{
    struct httpd *s = x->srv;
    if (!x->queued)
        return;
    if (x->nprev)
        x->nprev->nnext = x->nnext;
    else
        s->notify_head = x->nnext;
    if (x->nnext)
        x->nnext->nprev = x->nprev;
    else
        s->notify_tail = x->nprev;
    x->nprev = x->nnext = NULL;
    x->queued = false;
}

void httpd_x_destroy(struct httpd_x *x)
{
    if (!x)
        return;
    struct httpd *s = x->srv;
    if (s) {
        notify_unlink(x);
        if (x->linked) {
            if (x->sprev)
                x->sprev->snext = x->snext;
            else
                s->live = x->snext;
            if (x->snext)
                x->snext->sprev = x->sprev;
        }
    }
    if (x->timer)
        event_free(x->timer);
    if (x->pending)
        evbuffer_free(x->pending);
    buf_free(&x->req.arena);
    buf_free(&x->req.body);
    free(x->req.hdrs);
    buf_free(&x->resp.hdrs);
    free(x);
}

static void log_done(struct httpd_x *x)
{
    if (!log_enabled(LOG_DEBUG) || !x->handler_called)
        return;
    char path[256];
    httpd_log_path(httpd_req_path(&x->req), path, sizeof path);
    double ms = (double)(time_mono_ns() - x->start_ns) / 1e6;
    log_debug("httpd: %s %s %s %s -> %d, %llu bytes, %.1f ms%s%s%s%s", x->req.peer,
              httpd_req_method(&x->req), path, httpd_req_protocol(&x->req), x->resp.status,
              (unsigned long long)x->resp.body_bytes, ms, x->resp.aborted ? " (aborted)" : "",
              x->resp.gone ? " (client gone)" : "", x->req.id[0] ? " id=" : "", x->req.id);
}

bool httpd_x_maybe_free(struct httpd_x *x)
{
    if (!x->handler_done || !x->proto_done)
        return false;
    log_done(x);
    httpd_x_destroy(x);
    return true;
}

static void notify_cb(evutil_socket_t fd, short what, void *arg);

void httpd_x_queue(struct httpd_x *x, unsigned what)
{
    struct httpd *s = x->srv;
    x->notify |= what;
    if (x->queued)
        return;
    x->queued = true;
    x->nnext = NULL;
    x->nprev = s->notify_tail;
    if (s->notify_tail)
        s->notify_tail->nnext = x;
    else
        s->notify_head = x;
    s->notify_tail = x;
    static const struct timeval zero = {0, 0};
    event_add(s->notify_ev, &zero);
}

/* Deliver the notifications queued before this turn (new ones wait). */
static void notify_run(struct httpd *s)
{
    size_t n = 0;
    for (struct httpd_x *x = s->notify_head; x; x = x->nnext)
        n++;
    while (n-- && s->notify_head) {
        struct httpd_x *x = s->notify_head;
        unsigned what = x->notify;
        x->notify = 0;
        notify_unlink(x);
        struct httpd_resp *rs = &x->resp;
        if (x->handler_done)
            continue;
        if (what & NOTIFY_CLOSE) {
            httpd_resp_fn *fn = rs->on_close;
            rs->on_close = NULL;
            rs->on_drain = NULL;
            if (fn)
                fn(rs, rs->close_arg);
        } else if ((what & NOTIFY_DRAIN) && rs->on_drain && !rs->gone &&
                   httpd_resp_buffered(rs) <= rs->drain_low) {
            httpd_resp_fn *fn = rs->on_drain;
            rs->on_drain = NULL;
            fn(rs, rs->drain_arg);
        }
    }
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    notify_run(arg);
}

void httpd_x_gone(struct httpd_x *x)
{
    struct httpd_conn *c = x->conn;
    if (c) {
        if (c->cur == x)
            c->cur = NULL;
        if (c->proto == PROTO_H2 && (x->cprev || x->cnext || c->streams == x)) {
            if (x->cprev)
                x->cprev->cnext = x->cnext;
            else
                c->streams = x->cnext;
            if (x->cnext)
                x->cnext->cprev = x->cprev;
            x->cprev = x->cnext = NULL;
            c->nstreams--;
        }
        x->conn = NULL;
    }
    x->proto_done = true;
    if (!x->handler_called) {
        httpd_x_destroy(x);
        return;
    }
    if (x->handler_done) {
        httpd_x_maybe_free(x);
        return;
    }
    if (!x->resp.gone) {
        x->resp.gone = true;
        httpd_x_queue(x, NOTIFY_CLOSE);
    }
}

void httpd_x_dispatch(struct httpd_conn *c, struct httpd_x *x)
{
    struct httpd *s = c->srv;
    x->srv = s;
    x->conn = c;
    snprintf(x->req.peer, sizeof x->req.peer, "%s", c->peer);
    x->linked = true;
    x->sprev = NULL;
    x->snext = s->live;
    if (s->live)
        s->live->sprev = x;
    s->live = x;
    atomic_fetch_add(&s->st_requests, 1);
    if (log_enabled(LOG_TRACE)) {
        char path[256];
        httpd_log_path(httpd_req_target(&x->req), path, sizeof path);
        log_trace("httpd: %s %s %s %s", c->peer, httpd_req_method(&x->req), path,
                  httpd_req_protocol(&x->req));
        for (size_t i = 0; i < x->req.nhdrs; i++) {
            const char *n, *v;
            char shown[256];
            httpd_req_header_at(&x->req, i, &n, &v);
            if (httpd_is_secret_header(n))
                log_redact(v, shown, sizeof shown);
            else
                httpd_log_path(v, shown, sizeof shown);
            log_trace("httpd:   %s: %s", n, shown);
        }
    }
    x->handler_called = true;
    s->opt.handler(s->opt.handler_ctx, &x->req, &x->resp);
}

/* ---- the response ---- */

struct httpd_req *httpd_resp_req(struct httpd_resp *resp)
{
    return &X_OF_RESP(resp)->req;
}

struct httpd *httpd_resp_server(struct httpd_resp *resp)
{
    return X_OF_RESP(resp)->srv;
}

bool httpd_resp_gone(const struct httpd_resp *resp)
{
    return resp->gone;
}

enum brock_status httpd_resp_set_status(struct httpd_resp *resp, int status)
{
    if (resp->state != RESP_NEW || status < 200 || status > 599)
        return BROCK_ERR_USAGE;
    resp->status = status;
    return BROCK_OK;
}

static bool reserved_header(const char *name)
{
    static const char *const names[] = {"content-length", "transfer-encoding", "connection",
                                        "keep-alive", "upgrade", "proxy-connection", "te"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(names); i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

enum brock_status httpd_resp_add_header(struct httpd_resp *resp, const char *name,
                                        const char *value)
{
    if (resp->state != RESP_NEW || !*name || reserved_header(name))
        return BROCK_ERR_USAGE;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return BROCK_ERR_USAGE;
    }
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return BROCK_ERR_USAGE;
    }
    struct buf *b = &resp->hdrs;
    size_t mark = b->len;
    buf_add(b, name, strlen(name) + 1);
    buf_add(b, value, strlen(value) + 1);
    if (buf_status(b) != BROCK_OK) {
        buf_truncate(b, mark);
        b->overflow = false;
        return BROCK_ERR_TOO_LARGE;
    }
    if (strcasecmp(name, "date") == 0)
        resp->has_date = true;
    resp->nhdrs++;
    return BROCK_OK;
}

static bool is_h2(const struct httpd_x *x)
{
    return x->req.version == 20;
}

enum brock_status httpd_resp_send(struct httpd_resp *resp, const void *body, size_t n)
{
    struct httpd_x *x = X_OF_RESP(resp);
    if (resp->state != RESP_NEW)
        return BROCK_ERR_USAGE;
    resp->state = RESP_FINISHED;
    x->handler_done = true;
    if (resp->gone || !x->conn) {
        httpd_x_maybe_free(x);
        return BROCK_ERR_NETWORK;
    }
    if (is_h2(x)) {
        h2_resp_head(x, false, body, n);
    } else {
        h1_resp_head(x, false, n);
        h1_resp_body(x, body, n);
        h1_resp_finish(x);
    }
    httpd_x_maybe_free(x);
    return BROCK_OK;
}

enum brock_status httpd_resp_send_text(struct httpd_resp *resp, int status,
                                       const char *content_type, const char *text)
{
    enum brock_status st = httpd_resp_set_status(resp, status);
    if (st == BROCK_OK && content_type)
        st = httpd_resp_add_header(resp, "content-type", content_type);
    if (st != BROCK_OK)
        return st;
    return httpd_resp_send(resp, text, strlen(text));
}

enum brock_status httpd_stream_start(struct httpd_resp *resp)
{
    struct httpd_x *x = X_OF_RESP(resp);
    if (resp->state != RESP_NEW)
        return BROCK_ERR_USAGE;
    resp->state = RESP_STREAMING;
    resp->streaming = true;
    if (resp->gone || !x->conn)
        return BROCK_ERR_NETWORK;
    return is_h2(x) ? h2_resp_head(x, true, NULL, 0) : h1_resp_head(x, true, 0);
}

size_t httpd_resp_buffered(const struct httpd_resp *resp)
{
    const struct httpd_x *x = X_OF_RESP((struct httpd_resp *)resp);
    if (!x->conn)
        return 0;
    return is_h2(x) ? h2_resp_buffered(x) : h1_resp_buffered(x);
}

enum brock_status httpd_stream_write(struct httpd_resp *resp, const void *data, size_t n)
{
    struct httpd_x *x = X_OF_RESP(resp);
    if (resp->state != RESP_STREAMING)
        return BROCK_ERR_USAGE;
    if (resp->gone || !x->conn)
        return BROCK_ERR_NETWORK;
    /* one piece may always go out when nothing is waiting */
    size_t held = httpd_resp_buffered(resp), cap = x->srv->opt.max_resp_buffer;
    if (held && (held >= cap || n > cap - held))
        return BROCK_ERR_TOO_LARGE;
    return is_h2(x) ? h2_resp_body(x, data, n) : h1_resp_body(x, data, n);
}

enum brock_status httpd_stream_end(struct httpd_resp *resp)
{
    struct httpd_x *x = X_OF_RESP(resp);
    if (resp->state != RESP_STREAMING)
        return BROCK_ERR_USAGE;
    resp->state = RESP_FINISHED;
    x->handler_done = true;
    if (resp->gone || !x->conn) {
        httpd_x_maybe_free(x);
        return BROCK_ERR_NETWORK;
    }
    if (is_h2(x))
        h2_resp_finish(x);
    else
        h1_resp_finish(x);
    httpd_x_maybe_free(x);
    return BROCK_OK;
}

void httpd_resp_abort(struct httpd_resp *resp)
{
    struct httpd_x *x = X_OF_RESP(resp);
    if (resp->state == RESP_FINISHED)
        return;
    resp->state = RESP_FINISHED;
    resp->aborted = true;
    x->handler_done = true;
    if (!resp->gone && x->conn) {
        if (is_h2(x))
            h2_resp_abort(x);
        else
            h1_resp_abort(x);
    }
    httpd_x_maybe_free(x);
}

void httpd_resp_on_drain(struct httpd_resp *resp, size_t low_water, httpd_resp_fn *fn, void *arg)
{
    struct httpd_x *x = X_OF_RESP(resp);
    resp->on_drain = fn;
    resp->drain_arg = arg;
    resp->drain_low = low_water;
    if (!fn || resp->gone || !x->conn)
        return;
    if (!is_h2(x))
        bufferevent_setwatermark(x->conn->bev, EV_WRITE, low_water, 0);
    if (httpd_resp_buffered(resp) <= low_water)
        httpd_x_queue(x, NOTIFY_DRAIN);
}

void httpd_resp_on_close(struct httpd_resp *resp, httpd_resp_fn *fn, void *arg)
{
    struct httpd_x *x = X_OF_RESP(resp);
    resp->on_close = fn;
    resp->close_arg = arg;
    if (fn && resp->gone)
        httpd_x_queue(x, NOTIFY_CLOSE);
}

/* ---- connections ---- */

static void check_done(struct httpd *s)
{
    if (s->stopping && !s->conns)
        event_base_loopexit(s->base, NULL);
}

static enum conn_class conn_class(const struct httpd_conn *c)
{
    if (c->closing || c->dead || c->lingering)
        return CONN_BUSY;
    /* an answer still on its way (HTTP/2 with streams: see below) */
    bool out = evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
    switch (c->proto) {
    case PROTO_DETECT:
        return CONN_READING; /* nothing yet, part of a head, or a TLS handshake */
    case PROTO_H1:
        if (out)
            return CONN_BUSY;
        if (c->h1 == H1C_IDLE)
            return evbuffer_get_length(bufferevent_get_input(c->bev)) ? CONN_READING : CONN_IDLE;
        return c->h1 == H1C_READING ? CONN_READING : CONN_BUSY;
    case PROTO_H2:
        if (!c->nstreams)
            return c->goaway_sent || out ? CONN_BUSY : CONN_IDLE;
        /* streams still arriving, or dropping the upload after an error
         * answer that is out: what is queued is control frames (SETTINGS,
         * PING and WINDOW_UPDATE answers), so a client's PING does not
         * renew its place in the list */
        for (const struct httpd_x *x = c->streams; x; x = x->cnext)
            if (x->handler_called || (x->rejected && !x->answered))
                return CONN_BUSY;
        return CONN_READING;
    }
    return CONN_BUSY;
}

static void conn_list_unlink(struct httpd_conn *c)
{
    struct httpd *s = c->srv;
    if (c->cls == CONN_BUSY)
        return;
    if (c->lprev)
        c->lprev->lnext = c->lnext;
    else
        s->cls_head[c->cls] = c->lnext;
    if (c->lnext)
        c->lnext->lprev = c->lprev;
    else
        s->cls_tail[c->cls] = c->lprev;
    c->lprev = c->lnext = NULL;
    c->cls = CONN_BUSY;
}

/* Move the connection to the tail of its class's list if its class changed;
 * cheap when it did not (HTTP/2: a walk over its streams, stopping at the
 * first busy one). Called at the end of each connection callback, which is
 * where the states change (a handler's late answer wakes the connection's
 * kick), and re-checked before evicting, so a missed change can only spare a
 * connection, never close a busy one. */
static void conn_reclass(struct httpd_conn *c)
{
    enum conn_class k = conn_class(c);
    if (k == c->cls)
        return;
    struct httpd *s = c->srv;
    conn_list_unlink(c);
    c->cls = k;
    c->cls_since_ms = time_mono_ms();
    if (k == CONN_BUSY)
        return;
    c->lnext = NULL;
    c->lprev = s->cls_tail[k];
    if (s->cls_tail[k])
        s->cls_tail[k]->lnext = c;
    else
        s->cls_head[k] = c;
    s->cls_tail[k] = c;
}

/* Writing directly (cleartext sockets). A bufferevent writes only when its
 * write event fires: each answer would cost an epoll_ctl to watch the socket
 * for writing, a round of the loop to learn it is writable (it almost always
 * is), and another epoll_ctl to stop watching. Instead, output added to a
 * connection queues conn_flush_cb (event_active: no system call), which runs
 * in the same round, after the callback that answered, and writes what it
 * can. Only what the socket does not take enables the bufferevent's write
 * event (and with it the write timeout), until conn_write_cb sees the output
 * empty again. The same pattern as redis writing its replies before it
 * sleeps. TLS and in-memory connections (fd -1) keep the bufferevent's own
 * writing. */
static void conn_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
    (void)b;
    struct httpd_conn *c = arg;
    if (info->n_added && !c->flush_queued && !c->write_armed) {
        c->flush_queued = true;
        event_active(c->flush, EV_TIMEOUT, 1);
    }
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static void conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct httpd_conn *c = arg;
    c->flush_queued = false;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (c->write_armed || c->lingering || c->dead || !evbuffer_get_length(out))
        return;
    /* a socket bufferevent keeps its output's front frozen outside its own
     * write callback */
    evbuffer_unfreeze(out, 1);
    errno = 0;
    int n = evbuffer_write(out, c->fd);
    int err = errno;
    evbuffer_freeze(out, 1);
    if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        /* what the bufferevent's own write would report */
        conn_event_cb(c->bev, BEV_EVENT_WRITING | BEV_EVENT_ERROR, c);
        return;
    }
    if (evbuffer_get_length(out)) {
        atomic_fetch_add(&c->srv->st_write_waits, 1);
        c->write_armed = true;
        bufferevent_enable(c->bev, EV_WRITE);
    } else {
        /* what follows an answer going out (a close after it, the next
         * pipelined request, a drain callback) runs from conn_write_cb, as
         * after the bufferevent's own write */
        bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
    }
}

void httpd_conn_free(struct httpd_conn *c)
{
    struct httpd *s = c->srv;
    conn_list_unlink(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_fetch_sub(&s->st_open, 1);
    if (c->proto == PROTO_H1 || c->proto == PROTO_DETECT) {
        h1_reader_cleanup(&c->rd);
        if (c->cur)
            httpd_x_gone(c->cur);
    } else {
        while (c->streams)
            httpd_x_gone(c->streams);
        h2_conn_cleanup(c);
    }
    event_free(c->timer);
    event_free(c->kick);
    if (c->flush) {
        evbuffer_remove_cb(bufferevent_get_output(c->bev), conn_out_cb, c);
        event_free(c->flush);
    }
    bufferevent_free(c->bev);
    log_trace("httpd: %s: connection closed", c->peer);
    free(c);
    check_done(s);
}

void httpd_conn_kick(struct httpd_conn *c)
{
    event_active(c->kick, EV_TIMEOUT, 1);
}

void httpd_conn_timer(struct httpd_conn *c, int ms)
{
    if (ms < 0) {
        event_del(c->timer);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(c->timer, &tv);
}

void httpd_conn_close_after_flush(struct httpd_conn *c, bool linger)
{
    if (c->closing)
        return;
    c->closing = true;
    c->linger_ok = linger;
    conn_list_unlink(c);
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    httpd_conn_timer(c, -1);
    httpd_conn_kick(c);
}

/* The output is flushed: half-close and drain (after an error answer, or if
 * the client sent more than we read), or close now. */
static void conn_finish_close(struct httpd_conn *c)
{
    bool unread = evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
    if ((c->linger_ok || unread) && c->fd >= 0 && !c->lingering) {
        c->lingering = true;
        shutdown(c->fd, SHUT_WR);
        evbuffer_drain(bufferevent_get_input(c->bev),
                       evbuffer_get_length(bufferevent_get_input(c->bev)));
        bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
        bufferevent_enable(c->bev, EV_READ);
        httpd_conn_timer(c, HTTPD_LINGER_MS);
        return;
    }
    httpd_conn_free(c);
}

static void conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct httpd_conn *c = arg;
    if (c->dead) {
        httpd_conn_free(c);
        return;
    }
    if (c->closing) {
        if (!c->lingering && !evbuffer_get_length(bufferevent_get_output(c->bev)))
            conn_finish_close(c);
        return;
    }
    if (c->proto == PROTO_H1)
        h1_on_read(c);
    else if (c->proto == PROTO_H2)
        h2_flush(c);
    if (c->dead)
        httpd_conn_free(c);
    else
        conn_reclass(c);
}

static void conn_detect(struct httpd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = evbuffer_get_length(in);
    unsigned char head[HTTPD_H2_PREFACE_LEN];
    size_t k = n < sizeof head ? n : sizeof head;
    if (!k)
        return;
    evbuffer_copyout(in, head, k);
    if (memcmp(head, HTTPD_H2_PREFACE, k) != 0) {
        h1_conn_start(c);
        h1_on_read(c);
        return;
    }
    if (k < HTTPD_H2_PREFACE_LEN)
        return;
    struct brock_err e = {0};
    if (h2_conn_start(c, &e) != BROCK_OK) {
        log_warn("httpd: %s: %s", c->peer, e.msg);
        c->dead = true;
        return;
    }
    atomic_fetch_add(&c->srv->st_h2, 1);
    h2_on_read(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct httpd_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->lingering) {
        c->linger_bytes += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (c->linger_bytes > HTTPD_LINGER_BYTES)
            httpd_conn_free(c);
        return;
    }
    if (c->closing || c->dead)
        return;
    switch (c->proto) {
    case PROTO_DETECT:
        conn_detect(c);
        break;
    case PROTO_H1:
        h1_on_read(c);
        break;
    case PROTO_H2:
        h2_on_read(c);
        break;
    }
    if (c->dead)
        httpd_conn_free(c);
    else
        conn_reclass(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct httpd_conn *c = arg;
    if (c->write_armed && !evbuffer_get_length(bufferevent_get_output(bev))) {
        /* the socket took the rest: back to writing directly */
        c->write_armed = false;
        bufferevent_disable(bev, EV_WRITE);
    }
    if (c->dead) {
        httpd_conn_free(c);
        return;
    }
    if (c->closing) {
        if (!c->lingering && !evbuffer_get_length(bufferevent_get_output(bev)))
            conn_finish_close(c);
        return;
    }
    if (c->proto == PROTO_H1)
        h1_on_write_drained(c);
    else if (c->proto == PROTO_H2)
        h2_flush(c);
    if (c->dead)
        httpd_conn_free(c);
    else
        conn_reclass(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct httpd_conn *c = arg;
    if (what == BEV_EVENT_CONNECTED)
        return; /* TLS: the handshake is done */
    if (what & BEV_EVENT_TIMEOUT)
        log_info("httpd: %s: client stopped reading; closing after %d ms", c->peer,
                 c->srv->opt.write_timeout_ms);
    else if ((what & BEV_EVENT_ERROR) && !c->lingering && c->srv->tls) {
        unsigned long tls_err = bufferevent_get_openssl_error(c->bev);
        char reason[256] = "connection closed";
        if (tls_err)
            ERR_error_string_n(tls_err, reason, sizeof reason);
        log_debug("httpd: %s: TLS: %s", c->peer, reason);
    } else if ((what & BEV_EVENT_ERROR) && !c->lingering)
        log_debug("httpd: %s: connection error: %s", c->peer,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    else if ((what & BEV_EVENT_EOF) && c->closing && !c->lingering)
        return; /* half-closed client: keep flushing the answer */
    httpd_conn_free(c);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct httpd_conn *c = arg;
    if (c->lingering || c->closing || c->dead) {
        httpd_conn_free(c);
        return;
    }
    switch (c->proto) {
    case PROTO_DETECT:
        if (evbuffer_get_length(bufferevent_get_input(c->bev))) {
            h1_conn_start(c);
            h1_send_error(c, 408, "request head not received in time");
        } else {
            c->dead = true;
        }
        break;
    case PROTO_H1:
        h1_on_timer(c);
        break;
    case PROTO_H2:
        h2_on_timer(c);
        break;
    }
    if (c->dead)
        httpd_conn_free(c);
    else
        conn_reclass(c);
}

struct httpd_conn *httpd_conn_new(struct httpd *s, struct bufferevent *bev, evutil_socket_t fd,
                                  const char *peer)
{
    struct httpd_conn *c = xcalloc(1, sizeof *c);
    c->srv = s;
    c->bev = bev;
    c->fd = fd;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    c->proto = PROTO_DETECT;
    h1_reader_init(&c->rd, &s->opt);
    c->timer = evtimer_new(s->base, conn_timer_cb, c);
    c->kick = event_new(s->base, -1, 0, conn_kick_cb, c);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    atomic_fetch_add(&s->st_connections, 1);
    atomic_fetch_add(&s->st_open, 1);
    bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_setwatermark(bev, EV_READ, 0, HTTPD_READ_HIGH);
    struct timeval wt = {s->opt.write_timeout_ms / 1000, (s->opt.write_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, NULL, &wt);
    c->direct = fd >= 0;
    if (c->direct) {
        c->flush = event_new(s->base, -1, 0, conn_flush_cb, c);
        evbuffer_add_cb(bufferevent_get_output(bev), conn_out_cb, c);
        bufferevent_disable(bev, EV_WRITE); /* a new bufferevent has it enabled */
        bufferevent_enable(bev, EV_READ);
    } else {
        bufferevent_enable(bev, EV_READ | EV_WRITE);
    }
    httpd_conn_timer(c, s->opt.header_timeout_ms);
    conn_reclass(c);
    log_trace("httpd: %s: connection accepted", c->peer);
    return c;
}

static void format_peer(const struct sockaddr *sa, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(out, outlen, "%s:%u", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, outlen, "[%s]:%u", ip, port);
    } else {
        snprintf(out, outlen, "unknown");
    }
}

/* At max_connections: close the connection idle longest, else the one
 * longest sending a request not yet handled, to admit `peer`. False if every
 * connection is busy. */
static bool evict_one(struct httpd *s, const char *peer)
{
    static const enum conn_class order[] = {CONN_IDLE, CONN_READING};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(order); i++) {
        struct httpd_conn *c;
        while ((c = s->cls_head[order[i]])) {
            if (conn_class(c) != order[i]) {
                conn_reclass(c); /* moves it off this list */
                continue;
            }
            atomic_fetch_add(&s->st_evicted, 1);
            char more[64];
            if (log_enabled(LOG_INFO) && loglimit_ok(&s->log_evict, more, sizeof more))
                log_info("httpd: %s: closed after %lld ms %s, to admit %s at %zu connections%s",
                         c->peer, (long long)(time_mono_ms() - c->cls_since_ms),
                         order[i] == CONN_IDLE ? "idle" : "sending a request", peer,
                         s->opt.max_connections, more);
            httpd_conn_free(c);
            return true;
        }
    }
    return false;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)socklen;
    struct httpd *s = arg;
    char peer[80];
    format_peer(sa, peer, sizeof peer);
    if (s->stopping ||
        (atomic_load(&s->st_open) >= s->opt.max_connections && !evict_one(s, peer))) {
        atomic_fetch_add(&s->st_refused, 1);
        char more[64];
        if (log_enabled(LOG_INFO) && loglimit_ok(&s->log_refuse, more, sizeof more))
            log_info("httpd: %s: refused: %zu connections open, all busy%s", peer,
                     s->opt.max_connections, more);
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *bev;
    if (s->tls) {
        SSL *ssl = SSL_new(s->tls);
        bev = ssl ? bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
                  : NULL;
        if (!bev && ssl)
            SSL_free(ssl);
        if (bev)
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    } else {
        bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    }
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    /* TLS: no half-close linger (shutdown() under a TLS session would cut it) */
    httpd_conn_new(s, bev, s->tls ? -1 : fd, peer);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct httpd *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    char more[64];
    if (loglimit_ok(&s->log_accept_err, more, sizeof more))
        log_warn("httpd: accept failed: %s; pausing for 100 ms%s",
                 evutil_socket_error_to_string(err), more);
    /* EMFILE and friends: stop accepting briefly instead of spinning */
    evconnlistener_disable(l);
    static const struct timeval pause = {0, 100000};
    event_add(s->deadline_ev, &pause);
}

/* ---- stop ---- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct httpd *s = arg;
    if (!s->stopping) {
        /* the accept pause ended */
        if (s->listener)
            evconnlistener_enable(s->listener);
        return;
    }
    if (s->conns)
        log_info("httpd: stop deadline reached; closing %s", "remaining connections");
    while (s->conns)
        httpd_conn_free(s->conns);
    check_done(s);
}

static void begin_stop(struct httpd *s, int grace_ms)
{
    int64_t deadline = time_mono_ms() + grace_ms;
    if (!s->stopping) {
        s->stopping = true;
        log_debug("httpd: stopping (grace %d ms)", grace_ms);
        if (s->listener) {
            evconnlistener_free(s->listener);
            s->listener = NULL;
        }
        for (struct httpd_conn *c = s->conns; c; c = c->next) {
            if (c->closing)
                continue;
            if (c->proto == PROTO_DETECT) {
                c->dead = true;
                httpd_conn_kick(c);
            } else if (c->proto == PROTO_H1) {
                h1_stop(c);
            } else {
                h2_stop(c);
            }
        }
        s->stop_deadline_ms = deadline;
    } else if (deadline >= s->stop_deadline_ms) {
        return;
    }
    s->stop_deadline_ms = deadline;
    struct timeval tv = {grace_ms / 1000, (grace_ms % 1000) * 1000};
    event_add(s->deadline_ev, &tv);
    check_done(s);
}

static void reload_now(struct httpd *s);

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct httpd *s = arg;
    char tmp[64];
    while (read(fd, tmp, sizeof tmp) > 0) {
    }
    if (atomic_exchange(&s->reload_requested, false))
        reload_now(s);
    if (atomic_load(&s->stop_requested))
        begin_stop(s, atomic_load(&s->stop_grace_ms));
}

void httpd_reload(struct httpd *s)
{
    atomic_store(&s->reload_requested, true);
    int saved = errno;
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w; /* a full pipe already holds a wake-up */
    errno = saved;
}

void httpd_stop(struct httpd *s, int grace_ms)
{
    if (grace_ms < 0)
        grace_ms = HTTPD_DEFAULT_STOP_GRACE_MS;
    int cur = atomic_load(&s->stop_grace_ms);
    while (grace_ms < cur && !atomic_compare_exchange_weak(&s->stop_grace_ms, &cur, grace_ms)) {
    }
    atomic_store(&s->stop_requested, true);
    int saved = errno;
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w; /* a full pipe already holds a wake-up */
    errno = saved;
}

/* ---- lifecycle ---- */

static bool parse_bind(const char *host, struct sockaddr_storage *ss, socklen_t *len, bool *loopback)
{
    memset(ss, 0, sizeof *ss);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_in *in = (void *)ss;
    struct sockaddr_in6 *in6 = (void *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        *len = sizeof *in;
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        return true;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        *len = sizeof *in6;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127);
        return true;
    }
    return false;
}

/* ALPN: h2 when the client offers it, else http/1.1 (the detection on the
 * decrypted bytes decides in the end, as on cleartext). */
static int tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char ours[] = "\x02h2\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static enum brock_status tls_error(struct brock_err *e, const char *what, const char *path)
{
    unsigned long code = ERR_peek_last_error();
    char reason[256] = "unknown error";
    if (code)
        ERR_error_string_n(code, reason, sizeof reason);
    ERR_clear_error();
    return err_set(e, BROCK_ERR_USAGE, "httpd: TLS %s %s: %s", what, path, reason);
}

/* The server's TLS context: TLS 1.2+, the certificate chain and its key. */
static enum brock_status tls_ctx_new(const struct httpd_options *o, SSL_CTX **out,
                                     struct brock_err *e)
{
    *out = NULL;
    bool cert = o->tls_cert_file && *o->tls_cert_file, key = o->tls_key_file && *o->tls_key_file;
    if (!cert && !key)
        return BROCK_OK;
    if (!cert || !key)
        return err_set(e, BROCK_ERR_USAGE,
                       "httpd: TLS needs both a certificate file and a key file (%s is missing)",
                       cert ? "the key" : "the certificate");
    struct stat st;
    if (stat(o->tls_key_file, &st) == 0 && (st.st_mode & 0077))
        log_warn("httpd: TLS key file %s can be read by others (mode %03o); chmod 600 it",
                 o->tls_key_file, (unsigned)(st.st_mode & 0777));
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return tls_error(e, "context for", o->tls_cert_file);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file) != 1) {
        SSL_CTX_free(ctx);
        return tls_error(e, "certificate", o->tls_cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        SSL_CTX_free(ctx);
        return tls_error(e, "key", o->tls_key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return err_set(e, BROCK_ERR_USAGE, "httpd: TLS key %s does not match the certificate %s",
                       o->tls_key_file, o->tls_cert_file);
    }
    SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
    *out = ctx;
    return BROCK_OK;
}

/* "CN=..., valid until YYYY-MM-DD HH:MM UTC" of the context's certificate. */
static void tls_describe(SSL_CTX *ctx, char *out, size_t n)
{
    snprintf(out, n, "a certificate");
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (!x)
        return;
    char cn[128] = "";
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) < 0)
        cn[0] = '\0';
    for (char *p = cn; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
    struct tm tm;
    char until[40] = "an unreadable date";
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        strftime(until, sizeof until, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(out, n, "%s%s%svalid until %s", cn[0] ? "CN=" : "", cn, cn[0] ? ", " : "", until);
}

/* A warning when the served certificate has expired or ends within
 * HTTPD_TLS_EXPIRY_WARN_DAYS: clients refuse an expired one, and the
 * operator should hear of it before they do. */
static void tls_check_expiry(struct httpd *s)
{
    X509 *x = s->tls ? SSL_CTX_get0_certificate(s->tls) : NULL;
    int day = 0, sec = 0;
    if (!x || ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(x)) != 1)
        return;
    long long left = (long long)day * 86400 + sec;
    if (left > (long long)HTTPD_TLS_EXPIRY_WARN_DAYS * 86400)
        return;
    char what[256];
    tls_describe(s->tls, what, sizeof what);
    if (left <= 0) {
        log_warn("the TLS certificate %s has expired (%s): clients refuse it; renew it%s", s->tls_cert, what,
                 s->opt.on_reload ? " and send SIGHUP" : "");
    } else {
        long long days = (left + 86399) / 86400;
        log_warn("the TLS certificate %s ends in %lld day%s (%s): renew it%s", s->tls_cert, days, days == 1 ? "" : "s",
                 what, s->opt.on_reload ? " and send SIGHUP" : "");
    }
}

static void tls_check_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tls_check_expiry(arg);
}

/* [loop] httpd_reload(): with TLS, a new context for the connections to
 * come (an open connection's SSL holds a reference to the context it began
 * with); then the caller's on_reload. */
static void reload_now(struct httpd *s)
{
    if (!s->tls_on) {
        if (s->opt.on_reload)
            s->opt.on_reload(s->opt.handler_ctx, NULL, NULL);
        return;
    }
    SSL_CTX *ctx = NULL;
    struct brock_err e = {0};
    char what[256];
    if (tls_ctx_new(&s->opt, &ctx, &e) != BROCK_OK) {
        atomic_fetch_add(&s->st_tls_reload_errors, 1);
        if (s->opt.on_reload)
            s->opt.on_reload(s->opt.handler_ctx, e.msg, NULL);
        else
            log_error("%s (the certificate read before stays in use)", e.msg);
        return;
    }
    SSL_CTX_free(s->tls);
    s->tls = ctx;
    atomic_fetch_add(&s->st_tls_reloads, 1);
    tls_describe(ctx, what, sizeof what);
    if (s->opt.on_reload)
        s->opt.on_reload(s->opt.handler_ctx, NULL, what);
    else
        log_info("httpd: TLS certificate %s and key %s read again: %s", s->tls_cert, s->tls_key, what);
    tls_check_expiry(s);
}

static enum brock_status server_new(const struct httpd_options *o, bool listen_too,
                                    struct httpd **out, struct brock_err *e)
{
    *out = NULL;
    if (!o->handler)
        return err_set(e, BROCK_ERR_USAGE, "httpd: no request handler given");
    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    bool loopback = false;
    if (listen_too) {
        if (!parse_bind(host, &ss, &sslen, &loopback))
            return err_set(e, BROCK_ERR_USAGE, "httpd: bind address '%s' is not an IP address",
                           host);
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons(o->port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons(o->port);
        if (!loopback && !o->allow_non_loopback)
            return err_set(e, BROCK_ERR_USAGE,
                           "httpd: refusing to listen on non-loopback address %s (the caller must "
                           "allow it explicitly)",
                           host);
    }
    SSL_CTX *tls = NULL;
    if (listen_too) {
        enum brock_status st = tls_ctx_new(o, &tls, e);
        if (st != BROCK_OK)
            return st;
    }
    struct httpd *s = xcalloc(1, sizeof *s);
    s->tls = tls;
    s->tls_on = tls != NULL;
    httpd_options_resolve(o, &s->opt);
    if (tls) {
        s->tls_cert = xstrdup(o->tls_cert_file);
        s->tls_key = xstrdup(o->tls_key_file);
    }
    s->opt.tls_cert_file = s->tls_cert;
    s->opt.tls_key_file = s->tls_key;
    atomic_init(&s->reload_requested, false);
    s->host = xstrdup(host);
    s->opt.host = s->host;
    s->wake[0] = s->wake[1] = -1;
    atomic_init(&s->stop_requested, false);
    atomic_init(&s->stop_grace_ms, INT_MAX);
    atomic_init(&s->thread_joined, false);
    s->date_sec = -1;
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    s->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!s->base) {
        SSL_CTX_free(s->tls);
        free(s->tls_cert);
        free(s->tls_key);
        free(s->host);
        free(s);
        return err_set(e, BROCK_ERR_INTERNAL, "httpd: cannot create the event loop");
    }
    if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        int err = errno;
        event_base_free(s->base);
        SSL_CTX_free(s->tls);
        free(s->tls_cert);
        free(s->tls_key);
        free(s->host);
        free(s);
        return err_set(e, BROCK_ERR_IO, "httpd: pipe: %s", strerror(err));
    }
    s->wake_ev = event_new(s->base, s->wake[0], EV_READ | EV_PERSIST, wake_cb, s);
    event_add(s->wake_ev, NULL);
    s->notify_ev = evtimer_new(s->base, notify_cb, s);
    s->deadline_ev = evtimer_new(s->base, deadline_cb, s);
    if (s->tls) {
        s->tls_check_ev = event_new(s->base, -1, EV_PERSIST, tls_check_cb, s);
        struct timeval day = {86400, 0};
        event_add(s->tls_check_ev, &day);
    }
    if (listen_too) {
        s->listener = evconnlistener_new_bind(
            s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
            511, (struct sockaddr *)&ss, (int)sslen);
        if (!s->listener) {
            int err = errno;
            httpd_free(s);
            return err_set(e, BROCK_ERR_IO, "httpd: cannot listen on %s port %u: %s", host,
                           (unsigned)o->port, strerror(err));
        }
        evconnlistener_set_error_cb(s->listener, on_accept_error);
        struct sockaddr_storage bound;
        socklen_t bl = sizeof bound;
        getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&bound, &bl);
        s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
        log_debug("httpd: listening on %s port %u", host, (unsigned)s->port);
    }
    if (s->tls)
        tls_check_expiry(s);
    *out = s;
    return BROCK_OK;
}

enum brock_status httpd_new(const struct httpd_options *o, struct httpd **out, struct brock_err *e)
{
    return server_new(o, true, out, e);
}

enum brock_status httpd_new_unbound(const struct httpd_options *o, struct httpd **out,
                                    struct brock_err *e)
{
    return server_new(o, false, out, e);
}

bool httpd_tls(const struct httpd *s)
{
    return s->tls_on;
}

uint16_t httpd_port(const struct httpd *s)
{
    return s->port;
}

void httpd_url(const struct httpd *s, const char *host, char *out, size_t n)
{
    const char *h = host ? host : "127.0.0.1";
    bool v6 = strchr(h, ':') != NULL;
    snprintf(out, n, "%s://%s%s%s:%u", httpd_tls(s) ? "https" : "http", v6 ? "[" : "", h, v6 ? "]" : "",
             (unsigned)s->port);
}

void httpd_stats(const struct httpd *s, struct httpd_stats *out)
{
    struct httpd *m = (struct httpd *)s;
    out->connections = atomic_load(&m->st_connections);
    out->open = atomic_load(&m->st_open);
    out->refused = atomic_load(&m->st_refused);
    out->evicted = atomic_load(&m->st_evicted);
    out->h2_connections = atomic_load(&m->st_h2);
    out->requests = atomic_load(&m->st_requests);
    out->rejected = atomic_load(&m->st_rejected);
    out->write_waits = atomic_load(&m->st_write_waits);
    out->tls_reloads = atomic_load(&m->st_tls_reloads);
    out->tls_reload_errors = atomic_load(&m->st_tls_reload_errors);
}

void *httpd_event_base(struct httpd *s)
{
    return s->base;
}

static void run_loop(struct httpd *s)
{
    s->ran = true;
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    notify_run(s); /* on_close for responses cut at the deadline */
}

enum brock_status httpd_run(struct httpd *s, struct brock_err *e)
{
    if (s->ran || s->thread_started)
        return err_set(e, BROCK_ERR_USAGE, "httpd: the server already ran");
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    run_loop(s);
    if (!sigismember(&old, SIGPIPE)) {
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return BROCK_OK;
}

static void *thread_main(void *arg)
{
    struct httpd *s = arg;
    /* a name `top -H` and `ps -L` show (15 characters at most) */
    pthread_setname_np(pthread_self(), "brock-httpd");
    /* asynchronous signals belong to the other threads; SIGPIPE stays blocked */
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    run_loop(s);
    return NULL;
}

enum brock_status httpd_start_thread(struct httpd *s, struct brock_err *e)
{
    if (s->ran || s->thread_started)
        return err_set(e, BROCK_ERR_USAGE, "httpd: the server already ran");
    int rc = pthread_create(&s->thread, NULL, thread_main, s);
    if (rc != 0)
        return err_set(e, BROCK_ERR_INTERNAL, "httpd: cannot start the server thread: %s",
                       strerror(rc));
    s->thread_started = true;
    return BROCK_OK;
}

void httpd_join(struct httpd *s)
{
    bool expected = false;
    if (!s->thread_started || !atomic_compare_exchange_strong(&s->thread_joined, &expected, true))
        return;
    pthread_join(s->thread, NULL);
}

/* ---- timers ---- */

static void timer_unlink(struct httpd_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        t->srv->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct httpd_timer *t = arg;
    httpd_timer_fn *fn = t->fn;
    void *targ = t->arg;
    timer_unlink(t);
    event_free(t->ev);
    free(t);
    fn(targ);
}

struct httpd_timer *httpd_timer_add(struct httpd *s, int64_t ms, httpd_timer_fn *fn, void *arg)
{
    struct httpd_timer *t = xcalloc(1, sizeof *t);
    t->srv = s;
    t->fn = fn;
    t->arg = arg;
    t->ev = evtimer_new(s->base, timer_cb, t);
    t->next = s->timers;
    if (s->timers)
        s->timers->prev = t;
    s->timers = t;
    if (ms < 0)
        ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(t->ev, &tv);
    return t;
}

void httpd_timer_cancel(struct httpd_timer *t)
{
    if (!t)
        return;
    timer_unlink(t);
    event_free(t->ev);
    free(t);
}

void httpd_free(struct httpd *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        httpd_stop(s, 0);
        httpd_join(s);
    }
    while (s->conns)
        httpd_conn_free(s->conns);
    notify_run(s);
    while (s->live)
        httpd_x_destroy(s->live);
    while (s->timers)
        httpd_timer_cancel(s->timers);
    if (s->listener)
        evconnlistener_free(s->listener);
    if (s->wake_ev)
        event_free(s->wake_ev);
    if (s->notify_ev)
        event_free(s->notify_ev);
    if (s->deadline_ev)
        event_free(s->deadline_ev);
    if (s->tls_check_ev)
        event_free(s->tls_check_ev);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    event_base_free(s->base);
    SSL_CTX_free(s->tls);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->host);
    free(s);
}
