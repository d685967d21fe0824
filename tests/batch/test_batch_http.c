/* Tests for the libcurl-multi interface of src/aws/http.c that `brock batch`
 * runs on (http_multi_*), against the loopback fake server: many requests at
 * once on kept-alive connections, each `done` exactly once with its own
 * answer; requests added from inside `done`; errors before sending (no
 * callback) and after (through the callback); cancellation and the idle
 * timeout of transfers in flight; streamed bodies; freeing with transfers
 * still running. */
#include "../support/test.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/aws/http.h"
#include "../../src/util/timeutil.h"
#include "../support/fakesrv.h"

/* Answers "echo <target>" after the delay named in the target ("/slow" waits). */
static void echo(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    (void)ctx;
    size_t n = strlen(req->target) + 8;
    char *b = malloc(n);
    snprintf(b, n, "echo %s", req->target);
    out->body = b;
    out->free_body = true;
    if (strstr(req->target, "/slow"))
        out->delay_ms = 3000;
}

struct call {
    char url[128];
    struct http_request req;
    struct http_response resp;
    int done;
    enum brock_status st;
    char msg[800];
};

struct run {
    struct http_multi *m;
    struct call *calls;
    size_t n, next, finished, conc;
    const char *base;
};

static void add_next(struct run *r);

static void on_done(void *ctx, enum brock_status st, const struct brock_err *e)
{
    struct call *c = ctx;
    c->done++;
    c->st = st;
    snprintf(c->msg, sizeof c->msg, "%s", e->msg);
}

static void chain_done(void *ctx, enum brock_status st, const struct brock_err *e);

struct chained {
    struct call call;
    struct run *run;
};

static void chain_done(void *ctx, enum brock_status st, const struct brock_err *e)
{
    struct chained *c = ctx;
    on_done(&c->call, st, e);
    c->run->finished++;
    add_next(c->run); /* a request added from inside `done` */
}

static void add_next(struct run *r)
{
    if (r->next >= r->n)
        return;
    struct chained *c = (struct chained *)((char *)r->calls + r->next * sizeof(struct chained));
    c->run = r;
    snprintf(c->call.url, sizeof c->call.url, "%s/item/%zu", r->base, r->next);
    c->call.req = (struct http_request){.url = c->call.url};
    http_response_init(&c->call.resp);
    struct brock_err e = {0};
    if (http_multi_add(r->m, &c->call.req, &c->call.resp, chain_done, c, &e) != BROCK_OK)
        fail_msg("add %zu: %s", r->next, e.msg);
    r->next++;
}

static void test_many_requests_in_order_of_completion(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    fakesrv_set_handler(s, echo, NULL);
    struct run r = {.m = http_multi_new(NULL, 8), .n = 300, .conc = 8, .base = fakesrv_url(s)};
    r.calls = calloc(r.n, sizeof(struct chained));
    for (size_t i = 0; i < r.conc; i++)
        add_next(&r);
    struct brock_err e = {0};
    for (int loops = 0; http_multi_running(r.m) && loops < 100000; loops++)
        assert_int_equal(http_multi_run(r.m, 1000, &e), BROCK_OK);
    assert_int_equal(r.finished, 300);
    for (size_t i = 0; i < r.n; i++) {
        struct chained *c = (struct chained *)((char *)r.calls + i * sizeof(struct chained));
        char want[64];
        snprintf(want, sizeof want, "echo /item/%zu", i);
        assert_int_equal(c->call.done, 1);
        assert_int_equal(c->call.st, BROCK_OK);
        assert_int_equal(c->call.resp.status, 200);
        assert_string_equal(buf_cstr(&c->call.resp.body), want);
        http_response_free(&c->call.resp);
    }
    /* kept alive: at most one connection per lane */
    assert_true(fakesrv_accepts(s) <= 8);
    free(r.calls);
    http_multi_free(r.m);
    fakesrv_stop(s);
}

static void test_errors(void **state)
{
    (void)state;
    struct http_multi *m = http_multi_new(NULL, 4);
    struct call c = {0};
    http_response_init(&c.resp);
    struct brock_err e = {0};
    /* refused before anything is sent: no callback */
    c.req = (struct http_request){.url = "http://example.com/x"};
    assert_int_equal(http_multi_add(m, &c.req, &c.resp, on_done, &c, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "plain http://"));
    c.req = (struct http_request){.url = "http://127.0.0.1/x", .method = "get"};
    assert_int_equal(http_multi_add(m, &c.req, &c.resp, on_done, &c, &e), BROCK_ERR_USAGE);
    assert_int_equal(http_multi_running(m), 0);
    /* nothing running: run returns at once */
    assert_int_equal(http_multi_run(m, 5000, &e), BROCK_OK);
    assert_int_equal(c.done, 0);
    /* refused connection: through the callback, as http_send reports it */
    struct fakesrv *s = fakesrv_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", fakesrv_port(s));
    fakesrv_stop(s); /* nobody listens there now */
    c.req = (struct http_request){.url = url};
    assert_int_equal(http_multi_add(m, &c.req, &c.resp, on_done, &c, &e), BROCK_OK);
    while (http_multi_running(m))
        assert_int_equal(http_multi_run(m, 1000, &e), BROCK_OK);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.st, BROCK_ERR_NETWORK);
    assert_non_null(strstr(c.msg, "127.0.0.1"));
    http_response_free(&c.resp);
    http_multi_free(m);
}

static volatile sig_atomic_t cancel_flag;

static void *cancel_later(void *arg)
{
    (void)arg;
    usleep(200 * 1000);
    cancel_flag = 1;
    return NULL;
}

static void test_cancel_and_idle_timeout(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    fakesrv_set_handler(s, echo, NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/slow", fakesrv_url(s));
    /* cancel: every transfer in flight ends with BROCK_ERR_INTERRUPTED */
    cancel_flag = 0;
    struct http_options o = {.cancel = &cancel_flag};
    struct http_multi *m = http_multi_new(&o, 4);
    struct call c[3];
    memset(c, 0, sizeof c);
    struct brock_err e = {0};
    for (int i = 0; i < 3; i++) {
        http_response_init(&c[i].resp);
        c[i].req = (struct http_request){.url = url};
        assert_int_equal(http_multi_add(m, &c[i].req, &c[i].resp, on_done, &c[i], &e), BROCK_OK);
    }
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, NULL);
    int64_t t0 = time_mono_ms();
    while (http_multi_running(m))
        assert_int_equal(http_multi_run(m, 1000, &e), BROCK_OK);
    pthread_join(t, NULL);
    assert_true(time_mono_ms() - t0 < 1500);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].done, 1);
        assert_int_equal(c[i].st, BROCK_ERR_INTERRUPTED);
        http_response_free(&c[i].resp);
    }
    /* and once cancelled, nothing new starts */
    http_response_init(&c[0].resp);
    assert_int_equal(http_multi_add(m, &c[0].req, &c[0].resp, on_done, &c[0], &e), BROCK_ERR_INTERRUPTED);
    http_response_free(&c[0].resp);
    http_multi_free(m);

    /* the idle timeout of one request */
    m = http_multi_new(NULL, 4);
    struct call slow = {0};
    http_response_init(&slow.resp);
    slow.req = (struct http_request){.url = url, .idle_timeout_ms = 150};
    assert_int_equal(http_multi_add(m, &slow.req, &slow.resp, on_done, &slow, &e), BROCK_OK);
    while (http_multi_running(m))
        assert_int_equal(http_multi_run(m, 1000, &e), BROCK_OK);
    assert_int_equal(slow.st, BROCK_ERR_NETWORK);
    assert_non_null(strstr(slow.msg, "within 150 ms (idle timeout)"));
    http_response_free(&slow.resp);

    /* freed with a transfer running: no callback, no leak */
    struct call gone = {0};
    http_response_init(&gone.resp);
    gone.req = (struct http_request){.url = url};
    assert_int_equal(http_multi_add(m, &gone.req, &gone.resp, on_done, &gone, &e), BROCK_OK);
    assert_int_equal(http_multi_run(m, 50, &e), BROCK_OK);
    assert_int_equal(http_multi_running(m), 1);
    http_multi_free(m);
    assert_int_equal(gone.done, 0);
    http_response_free(&gone.resp);
    fakesrv_stop(s);
}

struct sink {
    struct buf got;
    int heads;
};

static enum brock_status on_body(void *ctx, const char *p, size_t n)
{
    struct sink *k = ctx;
    return buf_add(&k->got, p, n);
}

static enum brock_status on_head(void *ctx, const struct http_response *r)
{
    struct sink *k = ctx;
    k->heads++;
    return r->status == 200 ? BROCK_OK : BROCK_ERR_AWS;
}

static void test_streamed_body_and_post(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    static char big[100000];
    memset(big, 'z', sizeof big - 1);
    fakesrv_push(s, &(struct fakesrv_response){.body = big, .chunked = true, .piece = 7001, .piece_delay_ms = 1});
    struct http_multi *m = http_multi_new(NULL, 2);
    struct sink k = {.got = BUF_INIT(1 << 20)};
    struct call c = {0};
    http_response_init(&c.resp);
    char url[128];
    snprintf(url, sizeof url, "%s/stream", fakesrv_url(s));
    struct http_headers h = HTTP_HEADERS_INIT;
    struct brock_err e = {0};
    assert_int_equal(http_headers_add(&h, "Content-Type", "application/json", &e), BROCK_OK);
    c.req = (struct http_request){.method = "POST", .url = url, .headers = &h, .body = "{\"a\":1}", .body_len = 7,
                                  .on_body = on_body, .on_head = on_head, .ctx = &k};
    assert_int_equal(http_multi_add(m, &c.req, &c.resp, on_done, &c, &e), BROCK_OK);
    while (http_multi_running(m))
        assert_int_equal(http_multi_run(m, 1000, &e), BROCK_OK);
    assert_int_equal(c.st, BROCK_OK);
    assert_int_equal(k.heads, 1);
    assert_int_equal(k.got.len, sizeof big - 1);
    assert_int_equal(c.resp.body_bytes, sizeof big - 1);
    const struct fakesrv_request *q = fakesrv_request(s, 0);
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->body, "{\"a\":1}");
    assert_string_equal(fakesrv_header(q, "content-type"), "application/json");
    assert_null(fakesrv_header(q, "expect"));
    buf_free(&k.got);
    http_headers_cleanup(&h);
    http_response_free(&c.resp);
    http_multi_free(m);
    fakesrv_stop(s);
}

int main(void)
{
    test_init();
    struct brock_err e;
    if (http_global_init(&e) != BROCK_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_requests_in_order_of_completion),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cancel_and_idle_timeout),
        cmocka_unit_test(test_streamed_body_and_post),
    };
    int rc = cmocka_run_group_tests_name("batch_http", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
