/* httpd_h2.c - cleartext HTTP/2 (RFC 9113, prior knowledge) through nghttp2.
 *
 * nghttp2 does the framing, HPACK, flow control, stream states and message
 * checks; this file feeds it the socket's bytes, builds requests from its
 * callbacks and serves response bodies from a per-stream evbuffer. DATA
 * frames are written with NGHTTP2_DATA_FLAG_NO_COPY straight from that buffer
 * into the socket's output buffer, which never grows past HTTPD_H2_OUT_HIGH:
 * the rest waits in the stream buffer (what httpd_resp_buffered reports) until
 * the socket and the client's windows allow.
 *
 * Early answers (413, 431, 408 before the request is complete): RFC 9113
 * section 8.1 lets the server answer, then send RST_STREAM(NO_ERROR) to stop
 * the upload. Node 20's http2 client (what the AWS SDK for JavaScript uses)
 * and curl 7.88 drop the answer when that reset arrives while they are still
 * sending, so the server instead keeps reading and dropping the upload, up to
 * HTTPD_H2_DRAIN_FACTOR * max_body bytes, and only resets past that budget or
 * when the upload falls behind the body deadlines (httpd_body_wait) counted
 * afresh from the answer.
 *
 * Flow-control stalls: nghttp2 holds a stream's DATA while the client's stream
 * or connection window is 0, and a client may keep it there (INITIAL_WINDOW_SIZE
 * 0, no WINDOW_UPDATE) or open it a byte at a time. The bufferevent's write
 * timeout does not see this: the socket is idle. So each stream with response
 * bytes (or its END_STREAM) waiting to be framed runs a send watch on its timer:
 * a period of write_timeout_ms starts when the stream gets something to send
 * after having nothing, and at its end the stream must have sent at least
 * HTTPD_H2_MIN_PROGRESS bytes of DATA in it, or everything it had. If not, and
 * the client's window (stream or connection) is what holds it, the stream is
 * reset with RST_STREAM(CANCEL); the handler sees on_close. If the socket is
 * what holds it, the watch starts a new period and the bufferevent's write
 * timeout stays the judge, as for HTTP/1.1. So a client must take at least 1 KiB
 * per write_timeout_ms (34 bytes/s at the 30 s default) to keep a response. */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/log.h"

static struct httpd_x *stream_x(nghttp2_session *h2, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h2, id);
}

/* Arm the stream's timer for a receive timeout or the abort fallback. */
static void stream_timer(struct httpd_x *x, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    x->send_watch = false;
    event_add(x->timer, &tv);
}

/* Response bytes, or the response's end, wait to be framed. */
static bool send_waiting(const struct httpd_x *x)
{
    return x->pending && (evbuffer_get_length(x->pending) || (x->ended && !x->end_sent));
}

/* Start a send-watch period (see the top of the file). */
static void send_watch(struct httpd_x *x)
{
    stream_timer(x, x->srv->opt.write_timeout_ms);
    x->send_watch = true;
    x->sent_mark = x->sent;
}

/* End of a send-watch period: go on, stop watching, or reset the stream. */
static void send_check(struct httpd_conn *c, struct httpd_x *x)
{
    if (!send_waiting(x)) {
        x->send_watch = false; /* all out: the next write starts a period */
        return;
    }
    int32_t sw = nghttp2_session_get_stream_remote_window_size(c->h2, x->stream_id);
    int32_t cw = nghttp2_session_get_remote_window_size(c->h2);
    uint64_t moved = x->sent - x->sent_mark;
    if (moved >= HTTPD_H2_MIN_PROGRESS || (sw > 0 && cw > 0)) {
        send_watch(x); /* progress, or the socket holds it (its write timeout rules) */
        return;
    }
    log_info("httpd: %s: stream %d: %llu bytes sent in %d ms, %zu waiting on the client's "
             "window (stream %d, connection %d); resetting",
             c->peer, (int)x->stream_id, (unsigned long long)moved, c->srv->opt.write_timeout_ms,
             evbuffer_get_length(x->pending), (int)sw, (int)cw);
    x->send_watch = false;
    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_CANCEL);
}

/* Answer a bad request on its stream (the handler never sees it). */
static void h2_reject(struct httpd_x *x, int status, const char *msg)
{
    if (x->rejected)
        return;
    x->rejected = true;
    x->reject_status = status;
    snprintf(x->reject_msg, sizeof x->reject_msg, "%s", msg);
}

static ssize_t read_cb(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                       uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)h2;
    (void)id;
    (void)buf;
    (void)user;
    struct httpd_x *x = src->ptr;
    size_t avail = x->pending ? evbuffer_get_length(x->pending) : 0;
    size_t n = avail < length ? avail : length;
    if (!n && !x->ended) {
        if (x->abort_req)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
        x->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (x->ended && n == avail)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void send_reject(struct httpd_conn *c, struct httpd_x *x)
{
    struct httpd *s = c->srv;
    char status[8], len[24];
    snprintf(status, sizeof status, "%d", x->reject_status);
    size_t blen = strlen(x->reject_msg) + 1;
    snprintf(len, sizeof len, "%zu", blen);
    const char *date = httpd_date(s);
    nghttp2_nv nva[] = {
        {(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"text/plain; charset=utf-8", 12, 25,
         NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-length", (uint8_t *)len, 14, strlen(len), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"date", (uint8_t *)date, 4, strlen(date), NGHTTP2_NV_FLAG_NONE},
    };
    x->pending = evbuffer_new();
    evbuffer_add(x->pending, x->reject_msg, blen - 1);
    evbuffer_add(x->pending, "\n", 1);
    x->ended = true;
    x->resp.head_sent = true;
    x->resp.status = x->reject_status;
    atomic_fetch_add(&s->st_rejected, 1);
    log_info("httpd: %s: stream %d: %d %s: %s", c->peer, (int)x->stream_id, x->reject_status,
             httpd_reason(x->reject_status), x->reject_msg);
    nghttp2_data_provider prd = {.source.ptr = x, .read_callback = read_cb};
    if (nghttp2_submit_response(c->h2, x->stream_id, nva, BROCK_ARRAY_LEN(nva), &prd) != 0)
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_INTERNAL_ERROR);
    else
        send_watch(x); /* until the answer is out; then the drain rules take over */
}

static ssize_t send_cb(nghttp2_session *h2, const uint8_t *data, size_t length, int flags,
                       void *user)
{
    (void)h2;
    (void)flags;
    struct httpd_conn *c = user;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) >= HTTPD_H2_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    evbuffer_add(out, data, length);
    return (ssize_t)length;
}

static int send_data_cb(nghttp2_session *h2, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *src, void *user)
{
    (void)h2;
    struct httpd_conn *c = user;
    struct httpd_x *x = src->ptr;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) >= HTTPD_H2_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    evbuffer_add(out, framehd, 9);
    size_t pad = frame->data.padlen;
    if (pad) {
        uint8_t b = (uint8_t)(pad - 1);
        evbuffer_add(out, &b, 1);
    }
    if (length)
        evbuffer_remove_buffer(x->pending, out, length);
    x->sent += length;
    if (pad > 1) {
        static const uint8_t zeros[256];
        evbuffer_add(out, zeros, pad - 1);
    }
    if (x->resp.on_drain && x->handler_called && !x->handler_done &&
        evbuffer_get_length(x->pending) <= x->resp.drain_low)
        httpd_x_queue(x, NOTIFY_DRAIN);
    return 0;
}

/* How much of an upload we drop after an early answer before we reset the
 * stream: a refused head (skip_body, nobody we know) gets what it may send
 * without waiting for us; a refused body (413, 408) the whole limit, so a
 * client that finishes its upload reads the answer. */
static uint64_t drain_budget(const struct httpd_x *x)
{
    if (x->skip_body)
        return HTTPD_H2_STREAM_WINDOW;
    return (uint64_t)x->srv->opt.max_body * HTTPD_H2_DRAIN_FACTOR;
}

/* Stop the upload of a stream we already answered. */
static void reject_reset(struct httpd_conn *c, struct httpd_x *x)
{
    if (x->reset_sent)
        return;
    x->reset_sent = true;
    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_NO_ERROR);
    httpd_conn_kick(c);
}

static void stream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct httpd_x *x = arg;
    struct httpd_conn *c = x->conn;
    if (!c)
        return;
    if (x->send_watch) {
        send_check(c, x);
    } else if ((x->rejected || x->skip_body) && x->answered) {
        reject_reset(c, x); /* the upload stalled after the early answer */
    } else if (x->abort_req) {
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_INTERNAL_ERROR);
    } else if (!x->req_done && !x->rejected && !x->skip_body) {
        if (!x->headers_done) {
            log_info("httpd: %s: stream %d: request head not received in time", c->peer,
                     (int)x->stream_id);
            nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_CANCEL);
        } else {
            char msg[sizeof x->reject_msg];
            if (!httpd_body_too_slow(x, &c->srv->opt, msg, sizeof msg))
                snprintf(msg, sizeof msg, "request body stalled");
            h2_reject(x, 408, msg);
            send_reject(c, x);
        }
    }
    httpd_conn_kick(c);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    struct httpd_conn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct httpd *s = c->srv;
    struct httpd_x *x = httpd_x_new(&s->opt);
    x->srv = s;
    x->conn = c;
    x->stream_id = frame->hd.stream_id;
    x->req.version = 20;
    snprintf(x->req.peer, sizeof x->req.peer, "%s", c->peer);
    x->cnext = c->streams;
    if (c->streams)
        c->streams->cprev = x;
    c->streams = x;
    if (c->nstreams++ == 0)
        httpd_conn_timer(c, -1);
    x->timer = evtimer_new(s->base, stream_timer_cb, x);
    stream_timer(x, s->opt.header_timeout_ms);
    nghttp2_session_set_stream_user_data(h2, x->stream_id, x);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags;
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct httpd_x *x = stream_x(h2, frame->hd.stream_id);
    if (!x || x->headers_done || x->rejected)
        return 0; /* trailers are dropped */
    struct httpd_req *q = &x->req;
    const struct httpd_options *lim = &x->srv->opt;
    if (namelen + valuelen + q->arena.len > lim->max_head) {
        h2_reject(x, 431, "request head too large");
        return 0;
    }
    if (namelen && name[0] == ':') {
        uint32_t *slot = NULL;
        if (namelen == 7 && memcmp(name, ":method", 7) == 0)
            slot = &q->method;
        else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
            slot = &q->target;
        else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
            slot = &q->authority;
        if (slot) {
            uint32_t off = httpd_arena_add(q, (const char *)value, valuelen);
            if (off == UINT32_MAX)
                h2_reject(x, 431, "request head too large");
            else
                *slot = off;
        }
        return 0;
    }
    if (q->nhdrs >= lim->max_headers) {
        h2_reject(x, 431, "too many header fields");
        return 0;
    }
    uint32_t no = httpd_arena_add(q, (const char *)name, namelen);
    uint32_t vo = no == UINT32_MAX ? UINT32_MAX : httpd_arena_add(q, (const char *)value, valuelen);
    if (vo == UINT32_MAX) {
        h2_reject(x, 431, "request head too large");
        return 0;
    }
    httpd_hdr_push(q, no, (uint32_t)namelen, vo, (uint32_t)valuelen);
    return 0;
}

/* The request head is complete: split the target, check the length. */
static void headers_done(struct httpd_x *x)
{
    struct httpd_req *q = &x->req;
    x->headers_done = true;
    if (x->rejected)
        return;
    const char *t = httpd_arena_str(q, q->target);
    const char *qm = strchr(t, '?');
    size_t plen = qm ? (size_t)(qm - t) : strlen(t);
    size_t qlen = qm ? strlen(qm + 1) : 0;
    size_t qoff = qm ? (size_t)(qm + 1 - q->arena.ptr) : 0;
    uint32_t po = httpd_arena_add(q, t, plen);
    uint32_t qo = qm && po != UINT32_MAX ? httpd_arena_add(q, q->arena.ptr + qoff, qlen) : 0;
    if (po == UINT32_MAX || qo == UINT32_MAX) {
        h2_reject(x, 431, "request head too large");
        return;
    }
    q->path = po;
    q->query = qo;
    if (!q->authority) {
        const char *host = httpd_req_header(q, "host");
        if (host)
            q->authority = (uint32_t)(host - q->arena.ptr);
    }
    const char *method = httpd_req_method(q);
    if (strcmp(method, "CONNECT") == 0) {
        h2_reject(x, 501, "CONNECT is not supported");
        return;
    }
    x->is_head = strcmp(method, "HEAD") == 0;
    const char *cl = httpd_req_header(q, "content-length");
    if (cl) {
        /* nghttp2 checks the DATA against it; we check it against the limit */
        unsigned long long v = strtoull(cl, NULL, 10);
        if (v > x->srv->opt.max_body) {
            char msg[64];
            snprintf(msg, sizeof msg, "body larger than %zu bytes", x->srv->opt.max_body);
            h2_reject(x, 413, msg);
        }
    }
}

static void request_done(struct httpd_conn *c, struct httpd_x *x)
{
    x->req_done = true;
    event_del(x->timer);
    x->send_watch = false;
    if ((x->rejected || x->skip_body) && send_waiting(x))
        send_watch(x); /* the early answer is not out yet */
    if (x->rejected || x->resp.gone || x->skip_body)
        return; /* answered by httpd, gone, or handed over at its head */
    httpd_x_dispatch(c, x);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    struct httpd_conn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    struct httpd_x *x = stream_x(h2, frame->hd.stream_id);
    if (!x || x->req_done)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !x->headers_done) {
        headers_done(x);
        if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            const struct httpd_options *o = &c->srv->opt;
            if (!x->rejected && o->head_check && !o->head_check(o->handler_ctx, &x->req)) {
                /* refused on its head: answer now, drop the body */
                x->skip_body = true;
                event_del(x->timer);
                httpd_x_dispatch(c, x);
                return 0;
            }
            httpd_body_begin(x);
            stream_timer(x, httpd_body_wait(x, &c->srv->opt, 0));
        }
    }
    if (x->rejected && !x->resp.head_sent) {
        event_del(x->timer);
        send_reject(c, x);
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        request_done(c, x);
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags;
    (void)user;
    struct httpd_x *x = stream_x(h2, id);
    if (!x || x->req_done)
        return 0;
    if (x->rejected || x->skip_body) {
        x->drained += len;
        if (x->answered && x->drained > drain_budget(x))
            reject_reset(user, x);
        else if (x->answered)
            stream_timer(x, httpd_body_wait(x, &x->srv->opt, len));
        return 0;
    }
    struct buf *b = &x->req.body;
    if (len > x->srv->opt.max_body - b->len) {
        char msg[64];
        snprintf(msg, sizeof msg, "body larger than %zu bytes", x->srv->opt.max_body);
        h2_reject(x, 413, msg);
        return 0;
    }
    buf_add(b, data, len);
    stream_timer(x, httpd_body_wait(x, &x->srv->opt, len));
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct httpd_x *x = stream_x(h2, frame->hd.stream_id);
    if (x)
        x->end_sent = true;
    /* an early answer is out while the client is still sending: drop the
     * rest of the upload within the budget, or stop it now */
    if (x && (x->rejected || x->skip_body) &&
        !nghttp2_session_get_stream_remote_close(h2, frame->hd.stream_id)) {
        x->answered = true;
        if (x->drained > drain_budget(x)) {
            reject_reset(user, x);
        } else {
            httpd_body_begin(x); /* the rest of the upload gets its own deadlines */
            stream_timer(x, httpd_body_wait(x, &x->srv->opt, 0));
        }
    }
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
    struct httpd_conn *c = user;
    struct httpd_x *x = stream_x(h2, id);
    if (!x)
        return 0;
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    if (error_code && x->handler_called && !x->handler_done)
        log_debug("httpd: %s: stream %d reset (%s)", c->peer, (int)id,
                  nghttp2_http2_strerror(error_code));
    httpd_x_gone(x);
    if (!c->nstreams && !c->closing)
        httpd_conn_timer(c, c->srv->opt.keepalive_timeout_ms);
    return 0;
}

enum brock_status h2_conn_start(struct httpd_conn *c, struct brock_err *e)
{
    struct httpd *s = c->srv;
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return err_set(e, BROCK_ERR_INTERNAL, "nghttp2: out of memory");
    nghttp2_session_callbacks_set_send_callback(cb, send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cb, send_data_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    int rv = nghttp2_session_server_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0)
        return err_set(e, BROCK_ERR_INTERNAL, "nghttp2: %s", nghttp2_strerror(rv));
    uint32_t window = HTTPD_H2_STREAM_WINDOW;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)s->opt.max_h2_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)s->opt.max_head},
    };
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, BROCK_ARRAY_LEN(iv));
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, HTTPD_H2_CONN_WINDOW);
    c->proto = PROTO_H2;
    bufferevent_setwatermark(c->bev, EV_WRITE, HTTPD_H2_OUT_LOW, 0);
    /* the header timer armed at accept now bounds the wait for a first request */
    return BROCK_OK;
}

void h2_conn_cleanup(struct httpd_conn *c)
{
    if (c->h2)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
}

void h2_flush(struct httpd_conn *c)
{
    if (c->closing || c->dead || !c->h2)
        return;
    int rv = nghttp2_session_send(c->h2);
    if (rv != 0) {
        log_info("httpd: %s: HTTP/2 send failed: %s", c->peer, nghttp2_strerror(rv));
        httpd_conn_close_after_flush(c, false);
        return;
    }
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
        httpd_conn_close_after_flush(c, false);
    else if (c->goaway_sent && !c->nstreams && !nghttp2_session_want_write(c->h2))
        httpd_conn_close_after_flush(c, false);
}

void h2_on_read(struct httpd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->closing && evbuffer_get_length(in)) {
        struct evbuffer_iovec v[8];
        int nv = evbuffer_peek(in, -1, NULL, v, 8);
        size_t used = 0;
        bool fatal = false;
        for (int k = 0; k < nv && k < 8; k++) {
            ssize_t rv = nghttp2_session_mem_recv(c->h2, v[k].iov_base, v[k].iov_len);
            if (rv < 0) {
                log_info("httpd: %s: HTTP/2 session error: %s", c->peer,
                         nghttp2_strerror((int)rv));
                fatal = true;
                break;
            }
            used += (size_t)rv;
        }
        evbuffer_drain(in, fatal ? evbuffer_get_length(in) : used);
        if (fatal) {
            nghttp2_session_send(c->h2); /* a GOAWAY, if nghttp2 queued one */
            httpd_conn_close_after_flush(c, true);
            return;
        }
    }
    h2_flush(c);
}

void h2_on_timer(struct httpd_conn *c)
{
    if (c->nstreams)
        return;
    log_debug("httpd: %s: HTTP/2 connection idle; closing", c->peer);
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
    c->goaway_sent = true;
    h2_flush(c);
    httpd_conn_close_after_flush(c, true);
}

void h2_stop(struct httpd_conn *c)
{
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
    c->goaway_sent = true;
    httpd_conn_kick(c);
}

/* ---- responses ---- */

size_t h2_resp_buffered(const struct httpd_x *x)
{
    return x->pending ? evbuffer_get_length(x->pending) : 0;
}

static bool status_has_body(int status)
{
    return status != 204 && status != 304;
}

enum brock_status h2_resp_head(struct httpd_x *x, bool streaming, const void *body, size_t n)
{
    struct httpd_conn *c = x->conn;
    struct httpd_resp *rs = &x->resp;
    size_t nv = rs->nhdrs + 3;
    nghttp2_nv stack[32];
    nghttp2_nv *nva = nv <= BROCK_ARRAY_LEN(stack) ? stack : xmalloc(nv * sizeof *nva);
    char status[8], len[24];
    snprintf(status, sizeof status, "%d", rs->status);
    size_t k = 0;
    nva[k++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
                            NGHTTP2_NV_FLAG_NONE};
    /* names must be lowercase in HTTP/2: lower them in place (tokens only) */
    char *h = rs->hdrs.ptr;
    for (size_t i = 0; i < rs->nhdrs; i++) {
        size_t nl = strlen(h);
        for (size_t j = 0; j < nl; j++)
            h[j] = (char)((h[j] >= 'A' && h[j] <= 'Z') ? h[j] + 32 : h[j]);
        char *v = h + nl + 1;
        size_t vl = strlen(v);
        nva[k++] = (nghttp2_nv){(uint8_t *)h, (uint8_t *)v, nl, vl, NGHTTP2_NV_FLAG_NONE};
        h = v + vl + 1;
    }
    if (!rs->has_date) {
        const char *d = httpd_date(c->srv);
        nva[k++] = (nghttp2_nv){(uint8_t *)"date", (uint8_t *)d, 4, strlen(d), NGHTTP2_NV_FLAG_NONE};
    }
    bool body_ok = status_has_body(rs->status);
    if (!streaming && body_ok) {
        snprintf(len, sizeof len, "%zu", n);
        nva[k++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)len, 14, strlen(len),
                                NGHTTP2_NV_FLAG_NONE};
    }
    nghttp2_data_provider prd = {.source.ptr = x, .read_callback = read_cb};
    bool data = body_ok && !x->is_head && (streaming || n);
    if (data) {
        x->pending = evbuffer_new();
        if (n)
            evbuffer_add(x->pending, body, n);
        rs->body_bytes += n;
        x->ended = !streaming;
    }
    int rv = nghttp2_submit_response(c->h2, x->stream_id, nva, k, data ? &prd : NULL);
    if (nva != stack)
        free(nva);
    rs->head_sent = true;
    httpd_conn_kick(c);
    if (rv != 0) {
        log_debug("httpd: %s: stream %d: cannot answer: %s", c->peer, (int)x->stream_id,
                  nghttp2_strerror(rv));
        return BROCK_ERR_NETWORK;
    }
    if (send_waiting(x))
        send_watch(x);
    return BROCK_OK;
}

static void resume(struct httpd_x *x)
{
    if (x->deferred) {
        x->deferred = false;
        nghttp2_session_resume_data(x->conn->h2, x->stream_id);
    }
    httpd_conn_kick(x->conn);
}

enum brock_status h2_resp_body(struct httpd_x *x, const void *p, size_t n)
{
    if (!x->pending || !n)
        return BROCK_OK;
    bool idle = !send_waiting(x);
    evbuffer_add(x->pending, p, n);
    x->resp.body_bytes += n;
    if (idle)
        send_watch(x);
    resume(x);
    return BROCK_OK;
}

void h2_resp_finish(struct httpd_x *x)
{
    bool idle = !send_waiting(x);
    x->ended = true;
    if (!x->pending)
        return;
    if (idle)
        send_watch(x); /* the END_STREAM waits on the window too */
    resume(x);
}

void h2_resp_abort(struct httpd_x *x)
{
    struct httpd_conn *c = x->conn;
    if (!x->pending || !evbuffer_get_length(x->pending)) {
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_INTERNAL_ERROR);
        httpd_conn_kick(c);
        return;
    }
    /* flush what was written first; reset when it is out (or after the write
     * timeout if the client's window stays shut) */
    x->abort_req = true;
    stream_timer(x, c->srv->opt.write_timeout_ms);
    resume(x);
}
