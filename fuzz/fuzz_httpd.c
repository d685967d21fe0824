/* fuzz_httpd.c - the HTTP server core under hostile clients.
 *
 * 1. The HTTP/1.1 reader alone: every request in the input is read twice,
 *    all at once and in pieces of 1..13 bytes; the results (status, message,
 *    method, target, path, query, headers, body) must be identical.
 * 2. A whole connection: the input is what a client sends, through an
 *    in-memory bufferevent pair, to a server with small limits and a handler
 *    that answers, streams, aborts and leaves responses hanging. Inputs that
 *    start with the h2 preface go through nghttp2 and our callbacks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../src/server/httpd.h"
#include "../src/server/httpd_int.h"
#include "../src/util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct httpd_options g_lim;

static void lim_init(void)
{
    static int done;
    if (done)
        return;
    struct httpd_options o;
    httpd_options_init(&o);
    o.max_head = 2048;
    o.max_request_line = 512;
    o.max_headers = 16;
    o.max_body = 4096;
    o.max_h2_streams = 8;
    o.max_resp_buffer = 1024;
    httpd_options_resolve(&o, &g_lim);
    done = 1;
}

/* ---- 1: split invariance of the reader ---- */

static void summarize(struct h1_reader *r, struct buf *out)
{
    if (r->state == H1R_ERROR) {
        buf_addf(out, "E%d:%s|", r->status, r->msg);
        return;
    }
    struct httpd_x *x = h1_reader_take(r);
    struct httpd_req *q = &x->req;
    buf_addf(out, "R%s %s %s ? %s @%s v%d h%zu ka%d ec%d hd%d|", httpd_req_method(q),
             httpd_req_target(q), httpd_req_path(q), httpd_req_query(q), httpd_req_authority(q),
             q->version, q->nhdrs, x->keep_alive, x->expect_continue, x->is_head);
    const char *n, *v;
    for (size_t i = 0; httpd_req_header_at(q, i, &n, &v); i++)
        buf_addf(out, "%s=%s;", n, v);
    size_t bl;
    const char *b = httpd_req_body(q, &bl);
    buf_addf(out, "B%zu:", bl);
    buf_add(out, b, bl);
    /* exercise the lookups too */
    (void)httpd_req_header(q, "content-type");
    struct buf seg = BUF_INIT(4096);
    if (httpd_path_segment(httpd_req_path(q), 1, &seg, NULL) == BROCK_OK)
        (void)buf_cstr(&seg);
    buf_free(&seg);
    httpd_x_destroy(x);
}

static void read_all(const uint8_t *data, size_t size, size_t step, struct buf *out)
{
    struct h1_reader r;
    h1_reader_init(&r, &g_lim);
    size_t i = 0;
    int requests = 0;
    while (i < size && requests < 64) {
        size_t len = size - i;
        if (step && len > step)
            len = step;
        size_t used = h1_reader_feed(&r, (const char *)data + i, len);
        i += used;
        r.head_ready = false;
        if (r.state == H1R_ERROR) {
            summarize(&r, out);
            break;
        }
        if (r.state == H1R_DONE) {
            summarize(&r, out);
            requests++;
        }
        /* otherwise it stopped at the end of a head, or wants more */
    }
    buf_addf(out, "S%d", (int)r.state);
    h1_reader_cleanup(&r);
}

static void check_reader(const uint8_t *data, size_t size)
{
    size_t step = size ? 1 + data[0] % 13 : 1;
    struct buf whole = BUF_INIT(1 << 24), split = BUF_INIT(1 << 24);
    read_all(data, size, 0, &whole);
    read_all(data, size, step, &split);
    if (whole.len != split.len || memcmp(whole.ptr, split.ptr, whole.len) != 0) {
        fprintf(stderr, "reader differs with %zu-byte pieces:\n  whole: %s\n  split: %s\n", step,
                buf_cstr(&whole), buf_cstr(&split));
        abort();
    }
    buf_free(&whole);
    buf_free(&split);
}

/* ---- 2: a connection ---- */

static void hang_close(struct httpd_resp *resp, void *arg)
{
    (void)arg;
    httpd_resp_abort(resp);
}

static void handler(void *ctx, struct httpd_req *req, struct httpd_resp *resp)
{
    (void)ctx;
    const char *path = httpd_req_path(req);
    size_t n;
    const char *body = httpd_req_body(req, &n);
    const char *nm, *v;
    size_t hsum = 0;
    for (size_t i = 0; httpd_req_header_at(req, i, &nm, &v); i++)
        hsum += strlen(nm) + strlen(v);
    (void)httpd_req_header(req, "x-amz-date");
    httpd_req_set_id(req, "fuzz");
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%zu", hsum);
    (void)httpd_resp_add_header(resp, "x-sum", tmp);
    switch (path[1]) {
    case 's': /* stream, ignoring back-pressure on purpose */
        (void)httpd_stream_start(resp);
        for (int i = 0; i < 4; i++)
            (void)httpd_stream_write(resp, body, n ? n : 1);
        (void)httpd_stream_end(resp);
        break;
    case 'a': /* part, then abort */
        (void)httpd_stream_start(resp);
        (void)httpd_stream_write(resp, "part", 4);
        httpd_resp_abort(resp);
        break;
    case 'd': /* drop */
        httpd_resp_abort(resp);
        break;
    case 'h': /* hang until the client goes away (or the server is freed) */
        httpd_resp_on_close(resp, hang_close, NULL);
        (void)httpd_stream_start(resp);
        (void)httpd_stream_write(resp, "x", 1);
        break;
    case 'n':
        (void)httpd_resp_send_text(resp, 204, NULL, "");
        break;
    default:
        (void)httpd_resp_send(resp, body, n);
        break;
    }
}

/* The head check refuses paths that start with /x: those are handled at
 * once with their body dropped (HTTP/1.1 closes, HTTP/2 resets). */
static bool head_check(void *ctx, struct httpd_req *req)
{
    (void)ctx;
    const char *p = httpd_req_path(req);
    return !(p[0] && p[1] == 'x');
}

static void client_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void spin(struct event_base *base, int turns)
{
    for (int i = 0; i < turns; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

static void check_connection(const uint8_t *data, size_t size)
{
    struct httpd_options o = g_lim;
    o.handler = handler;
    o.head_check = head_check;
    struct httpd *s;
    if (httpd_new_unbound(&o, &s, NULL) != BROCK_OK)
        abort();
    struct event_base *base = httpd_event_base(s);
    struct bufferevent *pair[2];
    if (bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, pair) != 0)
        abort();
    httpd_conn_new(s, pair[0], -1, "fuzz");
    bufferevent_setcb(pair[1], client_read, NULL, NULL, NULL);
    bufferevent_enable(pair[1], EV_READ | EV_WRITE);
    /* deliver in a few pieces so the server sees partial input */
    size_t step = size > 64 ? size / 3 + 1 : size;
    for (size_t i = 0; i < size; i += step) {
        size_t len = size - i < step ? size - i : step;
        bufferevent_write(pair[1], data + i, len);
        spin(base, 8);
    }
    spin(base, 32);
    bufferevent_free(pair[1]); /* the client goes away */
    spin(base, 8);
    httpd_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lim_init();
    if (size > 1 << 16)
        return 0;
    check_reader(data, size);
    check_connection(data, size);
    return 0;
}
