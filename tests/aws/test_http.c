/* Tests for src/aws/http: header lists, round trips against the loopback fake
 * server (tests/support/fakesrv), streaming, caps, timeouts, connection reuse,
 * failures, cancellation, the plain-http policy, proxies from the
 * environment, TLS (against `openssl s_server`) and log redaction. */
#include "../support/test.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/aws/http.h"
#include "../../src/util/log.h"
#include "../../src/util/timeutil.h"
#include "../support/evloop.h"
#include "../support/fakesrv.h"

/* ---- helpers ---------------------------------------------------------------- */

static void unset_proxy_env(void)
{
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                       "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static const char *url(struct fakesrv *s, const char *path)
{
    static char u[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(u[k], sizeof u[k], "%s%s", fakesrv_url(s), path);
    return u[k];
}

/* A port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t sl = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &sl);
    close(fd);
    return ntohs(a.sin_port);
}

static void add_hdr(struct http_headers *h, const char *n, const char *v)
{
    struct brock_err e = {0};
    assert_int_equal(http_headers_add(h, n, v, &e), BROCK_OK);
}

/* Send and return status; `e` gets the error. */
static enum brock_status send_simple(struct http_client *c, const char *method, const char *u,
                                     struct http_response *resp, struct brock_err *e)
{
    struct http_request rq = {.method = method, .url = u};
    return http_send(c, &rq, resp, e);
}

/* ---- header lists ------------------------------------------------------------ */

static void test_headers_list(void **state)
{
    (void)state;
    struct http_headers h = HTTP_HEADERS_INIT;
    struct brock_err e = {0};
    add_hdr(&h, "Content-Type", "application/json");
    add_hdr(&h, "X-Amz-Date", "20150830T123600Z");
    add_hdr(&h, "x-dup", "one");
    add_hdr(&h, "X-Dup", "two");
    add_hdr(&h, "X-Empty", "");
    assert_int_equal(http_headers_count(&h), 5);
    assert_string_equal(http_headers_get(&h, "content-type"), "application/json");
    assert_string_equal(http_headers_get(&h, "CONTENT-TYPE"), "application/json");
    assert_string_equal(http_headers_get(&h, "X-DUP"), "one"); /* first wins */
    assert_string_equal(http_headers_get(&h, "x-empty"), "");
    assert_null(http_headers_get(&h, "missing"));
    assert_string_equal(http_headers_name(&h, 1), "X-Amz-Date"); /* case kept */
    assert_string_equal(http_headers_value(&h, 3), "two");
    assert_null(http_headers_name(&h, 5));

    assert_int_equal(http_headers_remove(&h, "x-DUP"), 2);
    assert_int_equal(http_headers_count(&h), 3);
    assert_string_equal(http_headers_name(&h, 2), "X-Empty"); /* order kept */
    assert_int_equal(http_headers_set(&h, "content-type", "text/plain", &e), BROCK_OK);
    assert_int_equal(http_headers_count(&h), 3);
    assert_string_equal(http_headers_get(&h, "Content-Type"), "text/plain");
    assert_string_equal(http_headers_name(&h, 2), "content-type"); /* set appends */

    /* Header injection is refused and the value is not echoed. */
    assert_int_equal(http_headers_add(&h, "X-Evil", "a\r\nX-Injected: 1", &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "X-Evil"));
    assert_null(strstr(e.msg, "Injected"));
    assert_int_equal(http_headers_add(&h, "X-Nul", "a\x01", &e), BROCK_ERR_USAGE);
    assert_int_equal(http_headers_add(&h, "Bad Name", "v", &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "offset 3"));
    assert_int_equal(http_headers_add(&h, "", "v", &e), BROCK_ERR_USAGE);
    assert_int_equal(http_headers_add(&h, "X:Colon", "v", &e), BROCK_ERR_USAGE);
    assert_int_equal(http_headers_add(&h, "X-Tab", "a\tb", &e), BROCK_OK); /* tab is fine */
    assert_int_equal(http_headers_addn(&h, "X-Lenxxx", 5, "valuexxx", 5, &e), BROCK_OK);
    assert_string_equal(http_headers_get(&h, "X-Len"), "value");

    /* Limits. */
    http_headers_reset(&h);
    assert_int_equal(http_headers_count(&h), 0);
    for (int i = 0; i < HTTP_HEADERS_MAX_COUNT; i++)
        add_hdr(&h, "X-N", "v");
    assert_int_equal(http_headers_add(&h, "X-N", "v", &e), BROCK_ERR_TOO_LARGE);
    http_headers_reset(&h);
    char *big = malloc(HTTP_HEADERS_MAX_BYTES);
    memset(big, 'a', HTTP_HEADERS_MAX_BYTES - 1);
    big[HTTP_HEADERS_MAX_BYTES - 1] = '\0';
    assert_int_equal(http_headers_add(&h, "X-Big", big, &e), BROCK_ERR_TOO_LARGE);
    free(big);
    http_headers_cleanup(&h);
    http_headers_cleanup(&h); /* twice is fine */

    assert_true(http_header_is_secret("Authorization"));
    assert_true(http_header_is_secret("X-Amz-Security-Token"));
    assert_true(http_header_is_secret("x-amz-sso_bearer_token"));
    assert_true(http_header_is_secret("X-aws-ec2-metadata-token"));
    assert_false(http_header_is_secret("X-Amz-Date"));
    assert_false(http_header_is_secret("x-aws-ec2-metadata-token-ttl-seconds"));
}

/* ---- round trips --------------------------------------------------------------- */

static void test_get_roundtrip(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    fakesrv_push(s, &(struct fakesrv_response){
                        .status = 200,
                        .headers = "Content-Type: application/json\r\nx-amzn-RequestId: rid-1\r\n"
                                   "X-Dup: a\r\nX-Dup: b\r\nX-Fold: one\r\n  two\r\n"
                                   "Date: Sun, 30 Aug 2015 12:36:00 GMT\r\n",
                        .body = "{\"ok\":true}"});
    struct http_client *c = http_client_new(NULL);
    struct http_headers h = HTTP_HEADERS_INIT;
    add_hdr(&h, "X-Amz-Date", "20150830T123600Z");
    add_hdr(&h, "X-Empty", "");
    struct http_request rq = {.url = url(s, "/model/a%3Ab/invoke?x=1&y=%2F"), .headers = &h};
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_cstr(&r.body), "{\"ok\":true}");
    assert_int_equal(r.body_bytes, 11);
    assert_string_equal(http_headers_get(&r.headers, "content-type"), "application/json");
    assert_string_equal(http_headers_get(&r.headers, "X-AMZN-REQUESTID"), "rid-1");
    /* All headers, in order, duplicates kept, folded lines joined. */
    size_t dups = 0;
    for (size_t i = 0; i < http_headers_count(&r.headers); i++) {
        if (!strcasecmp(http_headers_name(&r.headers, i), "x-dup"))
            assert_string_equal(http_headers_value(&r.headers, i), dups++ ? "b" : "a");
    }
    assert_int_equal(dups, 2);
    assert_string_equal(http_headers_get(&r.headers, "x-fold"), "one two");
    assert_string_equal(http_headers_name(&r.headers, 0), "Content-Type");
    int64_t ms = 0;
    assert_true(http_response_date_ms(&r, &ms));
    assert_int_equal(ms, 1440938160000LL);
    assert_string_equal(r.remote_ip, "127.0.0.1");
    assert_int_equal(r.remote_port, fakesrv_port(s));
    assert_string_equal(r.tls_version, "");
    assert_false(r.reused);
    assert_true(r.t.total_ms >= r.t.first_byte_ms);
    assert_true(r.t.first_byte_ms >= r.t.connect_ms);
    assert_true(r.t.total_ms > 0);

    const struct fakesrv_request *q = fakesrv_request(s, 0);
    assert_non_null(q);
    assert_string_equal(q->method, "GET");
    assert_string_equal(q->target, "/model/a%3Ab/invoke?x=1&y=%2F"); /* not re-encoded */
    assert_string_equal(fakesrv_header(q, "x-amz-date"), "20150830T123600Z");
    assert_string_equal(fakesrv_header(q, "X-Empty"), "");
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", fakesrv_port(s));
    assert_string_equal(fakesrv_header(q, "host"), host);
    assert_non_null(fakesrv_header(q, "user-agent"));
    assert_int_equal(strncmp(fakesrv_header(q, "user-agent"), "brock/", 6), 0);
    /* libcurl's defaults are not sent. */
    assert_null(fakesrv_header(q, "accept"));
    assert_null(fakesrv_header(q, "content-length"));
    assert_int_equal(q->body_len, 0);

    /* A response without Date. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 204});
    assert_int_equal(send_simple(c, "GET", url(s, "/"), &r, &e), BROCK_OK);
    assert_int_equal(r.status, 204);
    assert_false(http_response_date_ms(&r, &ms));

    http_headers_cleanup(&h);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

static void test_post_put_head_delete(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};

    /* POST with binary body, our Content-Type and Accept. */
    static const char body[] = "a\0b\r\n\xff{}";
    struct http_headers h = HTTP_HEADERS_INIT;
    add_hdr(&h, "Content-Type", "application/x-amz-json-1.1");
    add_hdr(&h, "Accept", "application/json");
    add_hdr(&h, "X-Amz-Target", "Logs_20140328.PutLogEvents");
    fakesrv_push(s, &(struct fakesrv_response){.status = 201, .body = "made"});
    struct http_request rq = {
        .method = "POST", .url = url(s, "/"), .headers = &h, .body = body, .body_len = sizeof body - 1};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.status, 201);
    assert_string_equal(buf_cstr(&r.body), "made");
    const struct fakesrv_request *q = fakesrv_request(s, 0);
    assert_string_equal(q->method, "POST");
    assert_int_equal(q->body_len, sizeof body - 1);
    assert_memory_equal(q->body, body, sizeof body - 1);
    assert_string_equal(fakesrv_header(q, "content-type"), "application/x-amz-json-1.1");
    assert_string_equal(fakesrv_header(q, "accept"), "application/json");
    assert_string_equal(fakesrv_header(q, "content-length"), "8");
    assert_null(fakesrv_header(q, "transfer-encoding"));

    /* POST without Content-Type: libcurl's form type is not invented. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200});
    rq = (struct http_request){.method = "POST", .url = url(s, "/f"), .body = "x=1", .body_len = 3};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_null(fakesrv_header(fakesrv_request(s, 1), "content-type"));

    /* PUT with an empty body sends Content-Length: 0 (IMDS token call). */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "TOKEN"});
    http_headers_reset(&h);
    add_hdr(&h, "x-aws-ec2-metadata-token-ttl-seconds", "21600");
    rq = (struct http_request){.method = "PUT", .url = url(s, "/latest/api/token"), .headers = &h};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    q = fakesrv_request(s, 2);
    assert_string_equal(q->method, "PUT");
    assert_string_equal(fakesrv_header(q, "content-length"), "0");
    assert_string_equal(fakesrv_header(q, "x-aws-ec2-metadata-token-ttl-seconds"), "21600");
    assert_string_equal(buf_cstr(&r.body), "TOKEN");

    /* HEAD: headers only, even with a Content-Length. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = "Content-Length: 1234\r\nETag: \"e\"\r\n"});
    assert_int_equal(send_simple(c, "HEAD", url(s, "/obj"), &r, &e), BROCK_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    assert_string_equal(http_headers_get(&r.headers, "etag"), "\"e\"");
    assert_string_equal(fakesrv_request(s, 3)->method, "HEAD");

    /* DELETE without a body. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 204});
    assert_int_equal(send_simple(c, "DELETE", url(s, "/obj"), &r, &e), BROCK_OK);
    assert_int_equal(r.status, 204);
    q = fakesrv_request(s, 4);
    assert_string_equal(q->method, "DELETE");
    assert_null(fakesrv_header(q, "content-length"));

    /* Non-2xx is still BROCK_OK with the body collected. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 400, .body = "{\"message\":\"bad\"}"});
    assert_int_equal(send_simple(c, "GET", url(s, "/"), &r, &e), BROCK_OK);
    assert_int_equal(r.status, 400);
    assert_string_equal(buf_cstr(&r.body), "{\"message\":\"bad\"}");

    /* Bad methods are refused before anything is sent. */
    unsigned before = fakesrv_accepts(s);
    assert_int_equal(send_simple(c, "get", url(s, "/"), &r, &e), BROCK_ERR_USAGE);
    assert_int_equal(send_simple(c, "GET /x HTTP/1.1\r\n", url(s, "/"), &r, &e), BROCK_ERR_USAGE);
    assert_int_equal(fakesrv_accepts(s), before);

    http_headers_cleanup(&h);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

static void fill_pattern(char *p, size_t n)
{
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)(x & 0xff);
    }
}

static void test_large_bodies(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    size_t big = (size_t)5 * 1024 * 1024 + 17;
    char *data = malloc(big);
    fill_pattern(data, big);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = data, .body_len = big, .piece = 65536});
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = data, .body_len = big, .chunked = true,
                                               .piece = 100000});
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    /* Upload 3 MiB while downloading 5 MiB (no Expect: 100-continue dance). */
    size_t up = (size_t)3 * 1024 * 1024;
    struct http_request rq = {.method = "POST", .url = url(s, "/up"), .body = data + 5, .body_len = up};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.body.len, big);
    assert_memory_equal(r.body.ptr, data, big);
    const struct fakesrv_request *q = fakesrv_request(s, 0);
    assert_int_equal(q->body_len, up);
    assert_memory_equal(q->body, data + 5, up);
    assert_null(fakesrv_header(q, "expect"));
    /* Chunked download of the same bytes. */
    assert_int_equal(send_simple(c, "GET", url(s, "/chunked"), &r, &e), BROCK_OK);
    assert_int_equal(r.body.len, big);
    assert_memory_equal(r.body.ptr, data, big);
    free(data);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

static void test_body_cap(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    char body[5000];
    memset(body, 'z', sizeof body);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    struct http_request rq = {.url = url(s, "/"), .max_body = 1000};
    /* Declared length over the cap: refused before reading the body. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = sizeof body});
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_TOO_LARGE);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", fakesrv_port(s));
    assert_non_null(strstr(e.msg, where));
    assert_non_null(strstr(e.msg, "5000 bytes"));
    assert_non_null(strstr(e.msg, "1000-byte limit"));
    /* Chunked, no length known: stops at the cap. */
    fakesrv_push(s, &(struct fakesrv_response){
                        .status = 200, .body = body, .body_len = sizeof body, .chunked = true, .piece = 700});
    rq.url = url(s, "/chunked");
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "over the 1000-byte limit"));
    assert_true(r.body.len <= 1000);
    /* Exactly at the cap is fine. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = 1000, .chunked = true,
                                               .piece = 300});
    rq.url = url(s, "/exact");
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.body.len, 1000);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

/* ---- streaming ------------------------------------------------------------------- */

struct sink {
    struct buf got;
    int calls;
    int head_calls;
    long head_status;
    int stop_at;            /* return stop_status on this call (1-based), 0 = never */
    enum brock_status stop_status;
    volatile sig_atomic_t *cancel_at_first; /* set this flag on the first call */
};

static enum brock_status sink_body(void *ctx, const char *p, size_t n)
{
    struct sink *k = ctx;
    k->calls++;
    buf_add(&k->got, p, n);
    if (k->cancel_at_first)
        *k->cancel_at_first = 1;
    if (k->stop_at && k->calls == k->stop_at)
        return k->stop_status;
    return BROCK_OK;
}

static enum brock_status sink_head(void *ctx, const struct http_response *resp)
{
    struct sink *k = ctx;
    k->head_calls++;
    k->head_status = resp->status;
    /* Headers are complete when on_head runs. */
    if (!http_headers_get(&resp->headers, "x-amzn-requestid"))
        return BROCK_ERR_PARSE;
    return k->stop_at < 0 ? k->stop_status : BROCK_OK;
}

static void test_streaming(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    char body[6000];
    fill_pattern(body, sizeof body);
    fakesrv_push(s, &(struct fakesrv_response){
                        .status = 200,
                        .headers = "Content-Type: application/vnd.amazon.eventstream\r\nx-amzn-RequestId: r1\r\n",
                        .body = body,
                        .body_len = sizeof body,
                        .chunked = true,
                        .piece = 1000,
                        .piece_delay_ms = 30});
    struct sink k = {.got = BUF_INIT(1 << 20)};
    struct http_request rq = {.url = url(s, "/stream"), .on_body = sink_body, .on_head = sink_head, .ctx = &k};
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(k.head_calls, 1);
    assert_int_equal(k.head_status, 200);
    assert_true(k.calls >= 3); /* pieces arrive as they are sent */
    assert_int_equal(k.got.len, sizeof body);
    assert_memory_equal(k.got.ptr, body, sizeof body);
    assert_int_equal(r.body.len, 0); /* streamed, not collected */
    assert_int_equal(r.body_bytes, sizeof body);

    /* The callback stops the transfer: its status comes back unchanged. */
    buf_reset(&k.got);
    k.calls = 0;
    k.stop_at = 2;
    k.stop_status = BROCK_ERR_PARSE;
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = "x-amzn-RequestId: r2\r\n", .body = body,
                                               .body_len = sizeof body, .chunked = true, .piece = 1000,
                                               .piece_delay_ms = 30});
    int64_t t0 = time_mono_ms();
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_PARSE);
    assert_true(time_mono_ms() - t0 < 150); /* did not wait for the rest */
    assert_int_equal(k.calls, 2);
    assert_non_null(strstr(e.msg, "stopped by the caller"));
    assert_int_equal(r.status, 200);

    /* A non-2xx answer is collected for error parsing, not streamed. */
    buf_reset(&k.got);
    k.calls = 0;
    k.stop_at = 0;
    fakesrv_push(s, &(struct fakesrv_response){
                        .status = 400,
                        .headers = "Content-Type: application/json\r\nx-amzn-RequestId: r3\r\n",
                        .body = "{\"message\":\"The provided model identifier is invalid.\"}"});
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.status, 400);
    assert_int_equal(k.calls, 0);
    assert_int_equal(k.head_status, 400);
    assert_string_equal(buf_cstr(&r.body), "{\"message\":\"The provided model identifier is invalid.\"}");

    /* on_head can refuse the response before any body byte. */
    k.stop_at = -1;
    k.stop_status = BROCK_ERR_AWS;
    k.calls = 0;
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = "x-amzn-RequestId: r4\r\n", .body = "xyz"});
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_AWS);
    assert_int_equal(k.calls, 0);
    /* on_head also runs for an empty body. */
    k.stop_at = 0;
    k.head_calls = 0;
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = "x-amzn-RequestId: r5\r\n"});
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(k.head_calls, 1);
    assert_int_equal(k.calls, 0);

    buf_free(&k.got);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

/* ---- timeouts ---------------------------------------------------------------------- */

static void test_timeouts(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(&(struct http_options){.idle_timeout_ms = 300});
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", fakesrv_port(s));

    /* No first byte within the idle timeout. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "late", .delay_ms = 3000});
    int64_t t0 = time_mono_ms();
    assert_int_equal(send_simple(c, "GET", url(s, "/slow"), &r, &e), BROCK_ERR_NETWORK);
    int64_t took = time_mono_ms() - t0;
    assert_true(took >= 280 && took < 2000);
    assert_non_null(strstr(e.msg, "no response from"));
    assert_non_null(strstr(e.msg, where));
    assert_non_null(strstr(e.msg, "300 ms"));

    /* A stream that stalls after some bytes. */
    char body[3000];
    memset(body, 'b', sizeof body);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = sizeof body,
                                               .chunked = true, .piece = 1000, .piece_delay_ms = 3000});
    t0 = time_mono_ms();
    assert_int_equal(send_simple(c, "GET", url(s, "/stall"), &r, &e), BROCK_ERR_NETWORK);
    took = time_mono_ms() - t0;
    assert_true(took < 2000);
    assert_non_null(strstr(e.msg, "stalled"));
    assert_non_null(strstr(e.msg, "after 1000 body bytes"));

    /* The total timeout fires although data keeps flowing. */
    char many[4000];
    memset(many, 'm', sizeof many);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = many, .body_len = sizeof many,
                                               .chunked = true, .piece = 100, .piece_delay_ms = 50});
    struct http_request rq = {.url = url(s, "/long"), .total_timeout_ms = 500};
    t0 = time_mono_ms();
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_NETWORK);
    took = time_mono_ms() - t0;
    assert_true(took >= 450 && took < 2000);
    assert_non_null(strstr(e.msg, "timed out after 500 ms (total timeout)"));
    assert_non_null(strstr(e.msg, where));

    /* A listener that never accepts: the kernel completes the TCP handshake,
     * nobody answers the TLS ClientHello, so the connect timer fires. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&la, sizeof la), 0);
    assert_int_equal(listen(lfd, 4), 0);
    socklen_t sl = sizeof la;
    getsockname(lfd, (struct sockaddr *)&la, &sl);
    char hs[96];
    snprintf(hs, sizeof hs, "https://127.0.0.1:%d/", ntohs(la.sin_port));
    struct http_request hq = {.url = hs, .connect_timeout_ms = 300, .idle_timeout_ms = HTTP_TIMEOUT_NONE};
    t0 = time_mono_ms();
    assert_int_equal(http_send(c, &hq, &r, &e), BROCK_ERR_NETWORK);
    took = time_mono_ms() - t0;
    assert_true(took >= 280 && took < 2000);
    assert_non_null(strstr(e.msg, "timed out after 300 ms (TCP connect and TLS handshake)"));
    close(lfd);

    /* A per-request idle timeout of "none" outlasts the client's 300 ms. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "ok", .delay_ms = 600});
    rq = (struct http_request){.url = url(s, "/patient"), .idle_timeout_ms = HTTP_TIMEOUT_NONE};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "ok");

    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

/* ---- connections ------------------------------------------------------------------- */

static void test_connection_reuse(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    for (int i = 0; i < 3; i++) {
        fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "x"});
        assert_int_equal(send_simple(c, i == 1 ? "POST" : "GET", url(s, "/k"), &r, &e), BROCK_OK);
        assert_int_equal(r.reused, i > 0);
    }
    assert_int_equal(fakesrv_accepts(s), 1);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fakesrv_request(s, i)->conn, 1);
    /* The server closes: the next request opens a new connection. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "bye", .close = true});
    assert_int_equal(send_simple(c, "GET", url(s, "/k"), &r, &e), BROCK_OK);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "again"});
    assert_int_equal(send_simple(c, "GET", url(s, "/k"), &r, &e), BROCK_OK);
    assert_false(r.reused);
    assert_int_equal(fakesrv_accepts(s), 2);
    /* A second client has its own connection. */
    struct http_client *c2 = http_client_new(NULL);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200});
    assert_int_equal(send_simple(c2, "GET", url(s, "/k"), &r, &e), BROCK_OK);
    assert_int_equal(fakesrv_accepts(s), 3);
    /* A request that failed mid-body does not poison the next one. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "0123456789", .drop = true, .drop_after = 4});
    assert_int_equal(send_simple(c, "GET", url(s, "/k"), &r, &e), BROCK_ERR_NETWORK);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "fine"});
    assert_int_equal(send_simple(c, "GET", url(s, "/k"), &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "fine");
    http_client_free(c2);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

static void test_connect_failures(void **state)
{
    (void)state;
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    int port = dead_port();
    char u[64], where[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", port);
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    assert_int_equal(send_simple(c, "GET", u, &r, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "cannot connect to"));
    assert_non_null(strstr(e.msg, where));
    assert_non_null(strstr(e.msg, "connection refused"));
    assert_int_equal(r.status, 0);
    http_response_free(&r);
    http_client_free(c);
}

static void test_dropped_connections(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    char body[10000];
    memset(body, 'd', sizeof body);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", fakesrv_port(s));

    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = sizeof body,
                                               .piece = 1000, .drop = true, .drop_after = 3000});
    assert_int_equal(send_simple(c, "GET", url(s, "/a"), &r, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "dropped mid-response"));
    assert_non_null(strstr(e.msg, "3000 of 10000 body bytes"));
    assert_non_null(strstr(e.msg, where));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_bytes, 3000);

    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = sizeof body,
                                               .chunked = true, .piece = 1000, .drop = true, .drop_after = 2500});
    assert_int_equal(send_simple(c, "GET", url(s, "/b"), &r, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "dropped mid-response after 2500 body bytes"));

    fakesrv_push(s, &(struct fakesrv_response){.no_response = true});
    assert_int_equal(send_simple(c, "GET", url(s, "/c"), &r, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "closed the connection without sending a response"));
    assert_int_equal(r.status, 0);

    /* Streaming callers see the same. */
    struct sink k = {.got = BUF_INIT(1 << 20)};
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = "x-amzn-RequestId: q\r\n", .body = body,
                                               .body_len = sizeof body, .drop = true, .drop_after = 1234});
    struct http_request rq = {.url = url(s, "/d"), .on_body = sink_body, .ctx = &k};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_NETWORK);
    assert_int_equal(k.got.len, 1234);
    assert_non_null(strstr(e.msg, "1234 of 10000"));
    buf_free(&k.got);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

/* ---- cancellation -------------------------------------------------------------------- */

/* The cancel flag is meant to be set by a signal handler (SIGINT in the
 * CLI); the test sends SIGUSR1 to the requesting thread from a helper. */
static volatile sig_atomic_t g_sig_flag;

static void on_sigusr1(int sig)
{
    (void)sig;
    g_sig_flag = 1;
}

struct canceller {
    pthread_t target;
    int after_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *k = arg;
    usleep((useconds_t)k->after_ms * 1000);
    pthread_kill(k->target, SIGUSR1);
    return NULL;
}

static void test_cancel(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    volatile sig_atomic_t flag = 1;
    struct http_client *c = http_client_new(&(struct http_options){.cancel = &flag});
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};

    /* Already set: nothing is sent. */
    assert_int_equal(send_simple(c, "GET", url(s, "/"), &r, &e), BROCK_ERR_INTERRUPTED);
    assert_int_equal(fakesrv_accepts(s), 0);

    /* Set by a signal handler while the server is silent. */
    struct sigaction sa = {.sa_handler = on_sigusr1}, old_sa;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old_sa);
    g_sig_flag = 0;
    struct http_request sq = {.url = url(s, "/wait"), .cancel = &g_sig_flag};
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "late", .delay_ms = 5000});
    struct canceller k = {.target = pthread_self(), .after_ms = 200};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &k);
    int64_t t0 = time_mono_ms();
    assert_int_equal(http_send(c, &sq, &r, &e), BROCK_ERR_INTERRUPTED);
    int64_t took = time_mono_ms() - t0;
    pthread_join(th, NULL);
    sigaction(SIGUSR1, &old_sa, NULL);
    assert_true(took >= 150 && took < 1500);
    assert_non_null(strstr(e.msg, "interrupted"));

    /* Set during a stream (from the body callback, like a SIGINT handler
     * would between two pieces); the request's own flag wins over the
     * client's (still set from above, yet this request runs). */
    assert_int_equal(flag, 1);
    volatile sig_atomic_t mine = 0;
    char body[5000];
    memset(body, 's', sizeof body);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = "x-amzn-RequestId: z\r\n", .body = body,
                                               .body_len = sizeof body, .chunked = true, .piece = 500,
                                               .piece_delay_ms = 100});
    struct sink sk = {.got = BUF_INIT(1 << 20), .cancel_at_first = &mine};
    struct http_request rq = {.url = url(s, "/stream"), .on_body = sink_body, .ctx = &sk, .cancel = &mine};
    t0 = time_mono_ms();
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_INTERRUPTED);
    assert_true(time_mono_ms() - t0 < 1000);
    assert_true(sk.got.len > 0 && sk.got.len < sizeof body);
    assert_int_equal(sk.calls, 1);
    buf_free(&sk.got);

    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

/* ---- the plain-http policy --------------------------------------------------------------- */

static void test_plain_http_policy(void **state)
{
    (void)state;
    struct brock_err e = {0};
    static const char *const allowed[] = {
        "http://127.0.0.1/",          "http://127.255.255.254:8080/x", "http://localhost:1/",
        "http://LOCALHOST/",          "http://[::1]:80/",              "http://[::ffff:127.0.0.1]/",
        "https://example.com/",       "https://169.254.169.254/",      "HTTP://127.0.0.1/",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (http_check_url(allowed[i], false, &e) != BROCK_OK)
            fail_msg("%s refused: %s", allowed[i], e.msg);
    }
    static const char *const refused[] = {
        "http://example.com/",       "http://10.0.0.1/",         "http://169.254.169.254/latest",
        "http://127.0.0.1.nip.io/",  "http://localhost.evil.com/", "http://[::2]/",
        "http://0.0.0.0/",           "http://128.0.0.1/",        "http://[fd00:ec2::254]/",
        "http://169.254.170.2/v2/credentials",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (http_check_url(refused[i], false, &e) != BROCK_ERR_CONFIG)
            fail_msg("%s not refused", refused[i]);
        assert_non_null(strstr(e.msg, "refusing plain http:// to "));
        assert_non_null(strstr(e.msg, "only loopback addresses may use http; use https"));
    }
    assert_int_equal(http_check_url("http://example.com/x", false, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "refusing plain http:// to example.com: only loopback addresses may use http; use https");

    /* The link-local flag allows the five credential endpoints, nothing else. */
    static const char *const link_ok[] = {
        "http://169.254.169.254/latest/api/token", "http://[fd00:ec2::254]/latest/meta-data/",
        "http://169.254.170.2/v2/credentials/x",   "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",    "http://[fd00:ec2:0:0:0:0:0:254]/",
    };
    for (size_t i = 0; i < sizeof link_ok / sizeof link_ok[0]; i++) {
        if (http_check_url(link_ok[i], true, &e) != BROCK_OK)
            fail_msg("%s refused with the flag: %s", link_ok[i], e.msg);
    }
    static const char *const link_no[] = {"http://169.254.169.253/", "http://169.254.170.3/",
                                          "http://example.com/",     "http://[fd00:ec2::255]/",
                                          "http://169.254.169.254.example.com/"};
    for (size_t i = 0; i < sizeof link_no / sizeof link_no[0]; i++) {
        if (http_check_url(link_no[i], true, &e) != BROCK_ERR_CONFIG)
            fail_msg("%s allowed with the flag", link_no[i]);
    }

    /* Other bad URLs. */
    assert_int_equal(http_check_url("ftp://127.0.0.1/", false, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "scheme 'ftp'"));
    assert_int_equal(http_check_url("not a url", false, &e), BROCK_ERR_CONFIG);
    assert_int_equal(http_check_url("", false, &e), BROCK_ERR_CONFIG);
    assert_int_equal(http_check_url("https://user:pw@example.com/", false, &e), BROCK_ERR_CONFIG);
    assert_null(strstr(e.msg, "pw"));
    assert_int_equal(http_check_url("https://exa mple.com/?X-Amz-Signature=abc", false, &e), BROCK_ERR_CONFIG);
    assert_null(strstr(e.msg, "abc"));
}

/* No packet may leave for a refused URL: a proxy from the environment would
 * receive any attempt (it needs no DNS), and it sees nothing. */
static void test_plain_http_sends_nothing(void **state)
{
    (void)state;
    struct fakesrv *proxy = fakesrv_start(NULL);
    setenv("http_proxy", fakesrv_url(proxy), 1);
    setenv("HTTP_PROXY", fakesrv_url(proxy), 1);
    setenv("all_proxy", fakesrv_url(proxy), 1);
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    assert_int_equal(send_simple(c, "GET", "http://example.com/", &r, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "refusing plain http:// to example.com: only loopback addresses may use http; use https");
    assert_int_equal(send_simple(c, "GET", "http://169.254.169.254/latest/meta-data/", &r, &e), BROCK_ERR_CONFIG);
    assert_int_equal(fakesrv_accepts(proxy), 0);
    assert_int_equal(fakesrv_request_count(proxy), 0);

    /* Control: with the flag, the IMDS request is allowed and does go out
     * (to the proxy, in absolute form) - so the zero above is meaningful. */
    fakesrv_push(proxy, &(struct fakesrv_response){.status = 200, .body = "AQAEtoken"});
    struct http_request rq = {.method = "PUT", .url = "http://169.254.169.254/latest/api/token",
                              .allow_link_local = true};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "AQAEtoken");
    assert_int_equal(fakesrv_accepts(proxy), 1);
    assert_string_equal(fakesrv_request(proxy, 0)->target, "http://169.254.169.254/latest/api/token");
    /* The flag does not open other hosts. */
    rq.url = "http://example.com/";
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_CONFIG);
    assert_int_equal(fakesrv_request_count(proxy), 1);

    unset_proxy_env();
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(proxy);
}

static void test_loopback_forms(void **state)
{
    (void)state;
    struct fakesrv *s4 = fakesrv_start(NULL);
    struct fakesrv *s6 = fakesrv_start(&(struct fakesrv_options){.ipv6 = true});
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    char u[96];

    fakesrv_push(s6, &(struct fakesrv_response){.status = 200, .body = "six"});
    assert_int_equal(send_simple(c, "GET", url(s6, "/v6"), &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "six");
    assert_string_equal(r.remote_ip, "::1");

    fakesrv_push(s4, &(struct fakesrv_response){.status = 200, .body = "named"});
    snprintf(u, sizeof u, "http://localhost:%d/n", fakesrv_port(s4));
    /* localhost may resolve to ::1 first; s4 listens on 127.0.0.1 only, and
     * libcurl falls back to it. */
    assert_int_equal(send_simple(c, "GET", u, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "named");

    /* 127.0.0.2 is loopback too: allowed by policy (and refused by the kernel,
     * since nothing listens there). */
    snprintf(u, sizeof u, "http://127.0.0.2:%d/", dead_port());
    assert_int_equal(send_simple(c, "GET", u, &r, &e), BROCK_ERR_NETWORK);

    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s4);
    fakesrv_stop(s6);
}

/* ---- proxies from the environment -------------------------------------------------- */

static void test_env_proxy_http(void **state)
{
    (void)state;
    struct fakesrv *proxy = fakesrv_start(NULL);
    struct fakesrv *target = fakesrv_start(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    const char *turl = url(target, "/x?q=1");

    /* http_proxy (lowercase): absolute-form request to the proxy. */
    setenv("http_proxy", fakesrv_url(proxy), 1);
    struct http_client *c = http_client_new(NULL);
    fakesrv_push(proxy, &(struct fakesrv_response){.status = 200, .body = "via proxy"});
    assert_int_equal(send_simple(c, "GET", turl, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "via proxy");
    assert_int_equal(r.remote_port, fakesrv_port(proxy));
    assert_string_equal(fakesrv_request(proxy, 0)->target, turl);
    assert_int_equal(fakesrv_accepts(target), 0);
    http_client_free(c);

    /* NO_PROXY lists the host: direct. */
    setenv("NO_PROXY", "example.com,127.0.0.1", 1);
    c = http_client_new(NULL);
    fakesrv_push(target, &(struct fakesrv_response){.status = 200, .body = "direct"});
    assert_int_equal(send_simple(c, "GET", turl, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "direct");
    assert_int_equal(fakesrv_accepts(target), 1);
    assert_int_equal(fakesrv_request_count(proxy), 1);
    http_client_free(c);

    /* no_proxy as a CIDR range works too (libcurl >= 7.86). */
    unsetenv("NO_PROXY");
    setenv("no_proxy", "127.0.0.0/8", 1);
    c = http_client_new(NULL);
    fakesrv_push(target, &(struct fakesrv_response){.status = 200, .body = "direct2"});
    assert_int_equal(send_simple(c, "GET", turl, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "direct2");
    assert_int_equal(fakesrv_request_count(proxy), 1);
    http_client_free(c);

    /* HTTP_PROXY in uppercase is ignored by libcurl for http:// (httpoxy). */
    unset_proxy_env();
    setenv("HTTP_PROXY", fakesrv_url(proxy), 1);
    c = http_client_new(NULL);
    fakesrv_push(target, &(struct fakesrv_response){.status = 200, .body = "direct3"});
    assert_int_equal(send_simple(c, "GET", turl, &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "direct3");
    assert_int_equal(fakesrv_request_count(proxy), 1);
    http_client_free(c);

    unset_proxy_env();
    http_response_free(&r);
    fakesrv_stop(proxy);
    fakesrv_stop(target);
}

static void test_env_proxy_https(void **state)
{
    (void)state;
    static const char *const names[] = {"HTTPS_PROXY", "https_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct fakesrv *proxy = fakesrv_start(NULL);
        struct fakesrv *target = fakesrv_start(NULL);
        struct http_response r;
        http_response_init(&r);
        struct brock_err e = {0};
        char turl[96], authority[64];
        snprintf(turl, sizeof turl, "https://127.0.0.1:%d/model/m/invoke", fakesrv_port(target));
        snprintf(authority, sizeof authority, "127.0.0.1:%d", fakesrv_port(target));

        /* https through the proxy: a CONNECT, refused by our fake proxy. */
        setenv(names[i], fakesrv_url(proxy), 1);
        struct http_client *c = http_client_new(NULL);
        fakesrv_push(proxy, &(struct fakesrv_response){.status = 403, .body = "denied"});
        assert_int_equal(send_simple(c, "POST", turl, &r, &e), BROCK_ERR_NETWORK);
        const struct fakesrv_request *q = fakesrv_request(proxy, 0);
        assert_non_null(q);
        assert_string_equal(q->method, "CONNECT");
        assert_string_equal(q->target, authority);
        assert_non_null(strstr(e.msg, "proxy"));
        assert_non_null(strstr(e.msg, "403"));
        assert_int_equal(fakesrv_accepts(target), 0);
        http_client_free(c);

        /* NO_PROXY: straight to the host (a plain server, so TLS fails, but
         * the connection went there and not to the proxy). */
        setenv("NO_PROXY", "127.0.0.1", 1);
        c = http_client_new(NULL);
        assert_int_equal(send_simple(c, "POST", turl, &r, &e), BROCK_ERR_NETWORK);
        if (!strstr(e.msg, "TLS"))
            fail_msg("unexpected: %s", e.msg);
        assert_int_equal(fakesrv_accepts(target), 1);
        assert_int_equal(fakesrv_request_count(proxy), 1);
        http_client_free(c);

        unset_proxy_env();
        http_response_free(&r);
        fakesrv_stop(proxy);
        fakesrv_stop(target);
    }
}

/* ---- TLS against openssl s_server ----------------------------------------------------- */

static char *g_tls_dir;

static void run_or_fail(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

/* Make a CA-less self-signed certificate for 127.0.0.1 and one for another
 * name, once per run. */
static const char *tls_dir(void)
{
    if (g_tls_dir)
        return g_tls_dir;
    g_tls_dir = test_tmpdir();
    assert_non_null(g_tls_dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             ">/dev/null 2>&1 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout other-key.pem -out other.pem -days 2 -subj /CN=other.test "
             "-addext subjectAltName=DNS:other.test >/dev/null 2>&1",
             g_tls_dir);
    run_or_fail(cmd);
    return g_tls_dir;
}

struct tls_server {
    pid_t pid;
    int port;
};

/* Start `openssl s_server -www` on 127.0.0.1 with extra arguments; read the
 * port it prints. */
static void tls_server_start(struct tls_server *t, const char *cert, const char *key, const char *const *extra)
{
    const char *dir = tls_dir();
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    char certp[1024], keyp[1024];
    snprintf(certp, sizeof certp, "%s/%s", dir, cert);
    snprintf(keyp, sizeof keyp, "%s/%s", dir, key);
    const char *argv[24] = {"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", certp, "-key", keyp, "-www"};
    size_t n = 9;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        int devnull = open("/dev/null", 0);
        dup2(devnull, 0);
        int errnull = open("/dev/null", O_WRONLY);
        dup2(errnull, 2);
        execvp("openssl", (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    char line[256];
    size_t len = 0;
    t->pid = pid;
    t->port = 0;
    int64_t end = time_mono_ms() + 10000;
    while (!t->port && time_mono_ms() < end) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t got = read(pfd[0], line + len, sizeof line - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
        line[len] = '\0';
        const char *a = strstr(line, "ACCEPT 127.0.0.1:");
        if (a && strchr(a, '\n'))
            t->port = atoi(a + strlen("ACCEPT 127.0.0.1:"));
    }
    close(pfd[0]);
    if (!t->port) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("openssl s_server did not start (is the openssl tool installed?)");
    }
}

static void tls_server_stop(struct tls_server *t)
{
    kill(t->pid, SIGTERM);
    waitpid(t->pid, NULL, 0);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void test_tls(void **state)
{
    (void)state;
    const char *dir = tls_dir();
    char ca[1024], other_ca[1024], u[128];
    snprintf(ca, sizeof ca, "%s/cert.pem", dir);
    snprintf(other_ca, sizeof other_ca, "%s/other.pem", dir);
    struct http_client *c = http_client_new(&(struct http_options){.ca_bundle = ca});
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};

    /* TLS 1.3 (s_server's default) with our CA bundle. */
    struct tls_server t;
    tls_server_start(&t, "cert.pem", "key.pem", NULL);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", t.port);
    assert_int_equal(send_simple(c, "GET", u, &r, &e), BROCK_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.tls_version, "TLSv1.3");
    assert_true(r.t.tls_ms >= r.t.connect_ms);
    assert_true(r.t.tls_ms > 0);

    /* Without the CA bundle the self-signed certificate is not trusted. */
    struct http_client *plain = http_client_new(NULL);
    assert_int_equal(send_simple(plain, "GET", u, &r, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "certificate"));
    assert_non_null(strstr(e.msg, "127.0.0.1"));
    http_client_free(plain);
    tls_server_stop(&t);

    /* A certificate for another name fails even when its issuer is trusted. */
    struct http_client *oc = http_client_new(&(struct http_options){.ca_bundle = other_ca});
    tls_server_start(&t, "other.pem", "other-key.pem", NULL);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", t.port);
    assert_int_equal(send_simple(oc, "GET", u, &r, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "TLS certificate of 127.0.0.1"));
    http_client_free(oc);
    tls_server_stop(&t);

    /* A TLS 1.2-only server works and is reported as such. */
    static const char *const only12[] = {"-tls1_2", NULL};
    tls_server_start(&t, "cert.pem", "key.pem", only12);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", t.port);
    assert_int_equal(send_simple(c, "GET", u, &r, &e), BROCK_OK);
    assert_string_equal(r.tls_version, "TLSv1.2");
    tls_server_stop(&t);

    /* A TLS 1.1-only server is refused. Control first: plain libcurl, told to
     * accept TLS 1.1 at OpenSSL security level 0, does get a page from it. */
    static const char *const only11[] = {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", NULL};
    tls_server_start(&t, "cert.pem", "key.pem", only11);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", t.port);
    CURL *raw = curl_easy_init();
    curl_easy_setopt(raw, CURLOPT_URL, u);
    curl_easy_setopt(raw, CURLOPT_CAINFO, ca);
    curl_easy_setopt(raw, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1));
    curl_easy_setopt(raw, CURLOPT_SSL_CIPHER_LIST, "DEFAULT@SECLEVEL=0");
    curl_easy_setopt(raw, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(raw);
    long code = 0;
    curl_easy_getinfo(raw, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(raw);
    if (rc != CURLE_OK || code != 200)
        fail_msg("control: s_server -tls1_1 not reachable with TLS 1.1 (%s)", curl_easy_strerror(rc));
    /* brock: refused during the handshake, by the protocol-version check
     * (without our minimum, OpenSSL would fail later, on the legacy sigalg). */
    assert_int_equal(send_simple(c, "GET", u, &r, &e), BROCK_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "TLS handshake with 127.0.0.1"));
    assert_non_null(strstr(e.msg, "protocol version"));
    tls_server_stop(&t);

    http_response_free(&r);
    http_client_free(c);
}

/* ---- logs and messages keep secrets out ------------------------------------------------ */

static void capture_log(void *ctx, enum log_level level, const char *line)
{
    (void)level;
    struct buf *b = ctx;
    buf_addstr(b, line);
    buf_addc(b, '\n');
}

static const char *const k_secrets[] = {"wJalrXUtnFEMI-SIGNATURE-5f2e", "IQoJb3JpZ2luX2VjSESSIONTOKEN",
                                        "aoaSSOBEARERTOKEN123", "AQAEAIMDSTOKENxyz", "QUERYSIGxyz123",
                                        "QUERYTOKENabc987", "sessioncookie=SECRETCOOKIE"};

static void secret_headers(struct http_headers *h)
{
    add_hdr(h, "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=wJalrXUtnFEMI-SIGNATURE-5f2e");
    add_hdr(h, "X-Amz-Security-Token", "IQoJb3JpZ2luX2VjSESSIONTOKEN");
    add_hdr(h, "x-amz-sso_bearer_token", "aoaSSOBEARERTOKEN123");
    add_hdr(h, "x-aws-ec2-metadata-token", "AQAEAIMDSTOKENxyz");
    add_hdr(h, "Cookie", "sessioncookie=SECRETCOOKIE");
    add_hdr(h, "X-Amz-Date", "20150830T123600Z");
}

static void assert_no_secrets(const char *text)
{
    for (size_t i = 0; i < sizeof k_secrets / sizeof k_secrets[0]; i++) {
        if (strstr(text, k_secrets[i]))
            fail_msg("secret '%s' leaked into: %s", k_secrets[i], text);
    }
}

static void test_log_redaction(void **state)
{
    (void)state;
    struct buf logs = BUF_INIT(1 << 20);
    log_setup(LOG_TRACE, capture_log, &logs);
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    struct http_headers h = HTTP_HEADERS_INIT;
    secret_headers(&h);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    fakesrv_push(s, &(struct fakesrv_response){
                        .status = 200, .headers = "Set-Cookie: sessioncookie=SECRETCOOKIE\r\nx-amzn-RequestId: rid-77\r\n",
                        .body = "ok"});
    struct http_request rq = {
        .method = "POST",
        .url = url(s, "/p?X-Amz-Signature=QUERYSIGxyz123&list-type=2&X-Amz-Security-Token=QUERYTOKENabc987"),
        .headers = &h,
        .body = "{}",
        .body_len = 2};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    /* The server did get the real values. */
    assert_string_equal(fakesrv_header(fakesrv_request(s, 0), "x-amz-security-token"), "IQoJb3JpZ2luX2VjSESSIONTOKEN");

    /* Errors with the same headers: refused connection, dropped body. */
    char dead[96];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d/p?X-Amz-Signature=QUERYSIGxyz123", dead_port());
    rq.url = dead;
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_NETWORK);
    assert_no_secrets(e.msg);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "0123456789", .drop = true, .drop_after = 3});
    rq.url = url(s, "/p?X-Amz-Security-Token=QUERYTOKENabc987");
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_NETWORK);
    assert_no_secrets(e.msg);
    rq.url = "http://example.com/?X-Amz-Signature=QUERYSIGxyz123";
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_ERR_CONFIG);
    assert_no_secrets(e.msg);
    log_setup(LOG_WARN, NULL, NULL);

    const char *text = buf_cstr(&logs);
    assert_no_secrets(text);
    assert_non_null(strstr(text, "Authorization: [redacted]"));
    assert_non_null(strstr(text, "X-Amz-Security-Token: [redacted]"));
    assert_non_null(strstr(text, "x-amz-sso_bearer_token: [redacted]"));
    assert_non_null(strstr(text, "x-aws-ec2-metadata-token: [redacted]"));
    assert_non_null(strstr(text, "X-Amz-Date: 20150830T123600Z"));
    assert_non_null(strstr(text, "X-Amz-Signature=[redacted]&list-type=2&X-Amz-Security-Token=[redacted]"));
    assert_non_null(strstr(text, "http: POST http://127.0.0.1:"));
    assert_non_null(strstr(text, "HTTP 200"));
    assert_non_null(strstr(text, "request id rid-77"));
    assert_non_null(strstr(text, "http: curl: ")); /* trace lines were captured too */


    /* At DEBUG only header names are shown (secret ones marked). */
    buf_reset(&logs);
    log_setup(LOG_DEBUG, capture_log, &logs);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "ok"});
    rq.url = url(s, "/d");
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    log_setup(LOG_WARN, NULL, NULL);
    text = buf_cstr(&logs);
    assert_no_secrets(text);
    assert_non_null(strstr(text, " headers: Authorization: [redacted], X-Amz-Security-Token: [redacted], "));
    assert_non_null(strstr(text, ", X-Amz-Date"));
    assert_null(strstr(text, "20150830T123600Z"));
    assert_null(strstr(text, "http: curl: "));

    buf_free(&logs);
    http_headers_cleanup(&h);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

static void test_user_agent(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(&(struct http_options){.user_agent_extra = "md/test"});
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    fakesrv_push(s, &(struct fakesrv_response){.status = 200});
    fakesrv_push(s, &(struct fakesrv_response){.status = 200});
    assert_int_equal(send_simple(c, "GET", url(s, "/"), &r, &e), BROCK_OK);
    const char *ua = fakesrv_header(fakesrv_request(s, 0), "user-agent");
    char want[64];
    snprintf(want, sizeof want, "brock/%s (", BROCK_VERSION);
    assert_int_equal(strncmp(ua, want, strlen(want)), 0);
    assert_non_null(strstr(ua, " libcurl/"));
    assert_non_null(strstr(ua, " md/test"));
    assert_int_equal(strncmp(http_user_agent(), want, strlen(want)), 0);
    assert_null(strstr(http_user_agent(), "md/test")); /* the extra is per client */
    /* The caller's own User-Agent header wins. */
    struct http_headers h = HTTP_HEADERS_INIT;
    add_hdr(&h, "User-Agent", "custom/1");
    struct http_request rq = {.url = url(s, "/"), .headers = &h};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_string_equal(fakesrv_header(fakesrv_request(s, 1), "user-agent"), "custom/1");
    http_headers_cleanup(&h);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

static void test_response_header_limits(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    struct buf many = BUF_INIT(1 << 20);
    for (int i = 0; i < HTTP_HEADERS_MAX_COUNT + 5; i++)
        buf_addf(&many, "X-H%d: v\r\n", i);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = buf_cstr(&many), .body = "x"});
    assert_int_equal(send_simple(c, "GET", url(s, "/"), &r, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "response headers from 127.0.0.1:"));
    /* The client still works afterwards. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "y"});
    assert_int_equal(send_simple(c, "GET", url(s, "/"), &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "y");
    buf_free(&many);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
}

/* The fake server itself: handler answers, request recording, chunked and
 * Expect: 100-continue request bodies (what other clients may send). */
static void echo_handler(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    int *calls = ctx;
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
    char *b = malloc(req->body_len + 64);
    int n = snprintf(b, req->body_len + 64, "%s %s %zu:", req->method, req->target, req->body_len);
    memcpy(b + n, req->body, req->body_len);
    out->status = 202;
    out->body = b;
    out->body_len = (size_t)n + req->body_len;
    out->free_body = true;
}

static void test_fakesrv_itself(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    int calls = 0;
    fakesrv_set_handler(s, echo_handler, &calls);
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    /* The queue goes first, then the handler. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = "queued"});
    assert_int_equal(fakesrv_pending(s), 1);
    assert_int_equal(send_simple(c, "GET", url(s, "/a"), &r, &e), BROCK_OK);
    assert_string_equal(buf_cstr(&r.body), "queued");
    assert_int_equal(fakesrv_pending(s), 0);
    struct http_request rq = {.method = "POST", .url = url(s, "/b"), .body = "hello", .body_len = 5};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.status, 202);
    assert_string_equal(buf_cstr(&r.body), "POST /b 5:hello");
    assert_int_equal(calls, 1);
    assert_true(fakesrv_wait_requests(s, 2, 1000));
    assert_false(fakesrv_wait_requests(s, 3, 50));

    /* Raw socket: a chunked request with Expect: 100-continue. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fakesrv_port(s)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char head[] = "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                               "Expect: 100-continue\r\n\r\n";
    assert_int_equal(send(fd, head, sizeof head - 1, 0), (ssize_t)(sizeof head - 1));
    char in[512];
    ssize_t got = recv(fd, in, sizeof in - 1, 0);
    assert_true(got > 0);
    in[got] = '\0';
    assert_non_null(strstr(in, "100 Continue"));
    static const char chunks[] = "3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n";
    assert_int_equal(send(fd, chunks, sizeof chunks - 1, 0), (ssize_t)(sizeof chunks - 1));
    size_t len = 0;
    while (!strstr(in, "abcde") && len < sizeof in - 1) {
        got = recv(fd, in + len, sizeof in - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        in[len] = '\0';
    }
    assert_non_null(strstr(in, "PUT /c 5:abcde"));
    /* Garbage gets a 400 and a close. */
    static const char junk[] = "NONSENSE\r\n\r\n";
    send(fd, junk, sizeof junk - 1, 0);
    len = 0;
    while (len < sizeof in - 1) {
        got = recv(fd, in + len, sizeof in - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    in[len] = '\0';
    assert_non_null(strstr(in, "400 Bad Request"));
    close(fd);
    const struct fakesrv_request *q = fakesrv_request(s, 2);
    assert_string_equal(q->method, "PUT");
    assert_string_equal(q->body, "abcde");
    assert_int_equal(q->conn, 2);
    assert_null(fakesrv_request(s, 3));

    /* Nothing scripted: a 500 that says so. */
    fakesrv_set_handler(s, NULL, NULL);
    assert_int_equal(send_simple(c, "GET", url(s, "/none"), &r, &e), BROCK_OK);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(buf_cstr(&r.body), "nothing scripted"));

    /* Stopping with a connection parked in a long delay returns promptly. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .delay_ms = 60000});
    struct http_request slow = {.url = url(s, "/park"), .idle_timeout_ms = 200};
    assert_int_equal(http_send(c, &slow, &r, &e), BROCK_ERR_NETWORK);
    http_response_free(&r);
    http_client_free(c);
    int64_t t0 = time_mono_ms();
    fakesrv_stop(s);
    assert_true(time_mono_ms() - t0 < 2000);
}

/* ---- a multi run by an outside event loop ------------------------------------------ */

/* Set around calls that must never run a `done` callback (or a later). */
static int g_in_api;

struct done_rec {
    int calls;
    int inside_api; /* calls made from inside http_multi_start/abort/resume/later */
    enum brock_status st;
    struct brock_err e;
    int64_t at_ms;
    int *total; /* also counted here, if set */
};

static void rec_done(void *ctx, enum brock_status st, const struct brock_err *e)
{
    struct done_rec *d = ctx;
    d->calls++;
    if (g_in_api)
        d->inside_api++;
    d->st = st;
    d->e = e ? *e : (struct brock_err){0};
    d->at_ms = time_mono_ms();
    if (d->total)
        (*d->total)++;
}

static void slow_echo_handler(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    echo_handler(ctx, req, out);
    if (!strncmp(req->target, "/never", 6))
        out->delay_ms = 60000; /* parked until fakesrv_stop */
    else if (!strncmp(req->target, "/slow", 5))
        out->delay_ms = 200;
}

/* Several GETs and POSTs at once on one evented multi: right answers, each
 * `done` exactly once and only from the loop, and they really overlap. */
static void test_multi_evented_concurrent(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    int handled = 0;
    fakesrv_set_handler(s, slow_echo_handler, &handled);
    struct http_multi *m = http_multi_new(NULL, 0);
    struct evloop L;
    ev_attach(&L, m);

    enum { N = 6 };
    size_t big_len = (size_t)300 * 1024;
    char *big = malloc(big_len);
    fill_pattern(big, big_len);
    struct {
        const char *method, *path;
        const char *body;
        size_t body_len;
    } spec[N] = {
        {"GET", "/slow/g0", NULL, 0},           {"POST", "/slow/p1", "hello", 5},
        {"GET", "/slow/g2?x=1", NULL, 0},       {"POST", "/slow/p3", big, big_len},
        {"DELETE", "/slow/d4", NULL, 0},        {"POST", "/slow/p5", NULL, 0},
    };
    struct http_request rq[N + 1];
    char urls[N][128]; /* borrowed by the multi until done */
    struct http_response r[N + 1];
    struct done_rec d[N + 1];
    struct http_xfer *x[N + 1];
    int total = 0;
    struct brock_err e = {0};
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d/refused", dead_port());
    int64_t t0 = time_mono_ms();
    g_in_api = 1;
    for (int i = 0; i <= N; i++) {
        memset(&d[i], 0, sizeof d[i]);
        d[i].total = &total;
        http_response_init(&r[i]);
        if (i < N)
        {
            snprintf(urls[i], sizeof urls[i], "%s%s", fakesrv_url(s), spec[i].path);
            rq[i] = (struct http_request){.method = spec[i].method, .url = urls[i], .body = spec[i].body,
                                          .body_len = spec[i].body_len};
        } else { /* and one that fails to connect: reported from the loop too */
            rq[i] = (struct http_request){.url = dead};
        }
        x[i] = NULL;
        assert_int_equal(http_multi_start(m, &rq[i], &r[i], rec_done, &d[i], &x[i], &e), BROCK_OK);
        assert_non_null(x[i]);
    }
    g_in_api = 0;
    assert_int_equal(total, 0); /* nothing finishes inside http_multi_start */
    assert_int_equal(http_multi_running(m), N + 1);

    assert_true(ev_run(&L, &total, N + 1, 5000));
    int64_t took = time_mono_ms() - t0;
    /* each answer is held 200 ms by the server: one after the other would
     * take 1200 ms, and all waiting for the first answer to start (what
     * libcurl's PIPEWAIT did on plain http) 400 ms */
    assert_true(took < 350);
    assert_int_equal(http_multi_running(m), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(d[i].calls, 1);
        assert_int_equal(d[i].inside_api, 0);
        assert_int_equal(d[i].st, BROCK_OK);
        assert_int_equal(r[i].status, 202);
        char head[128];
        int hl = snprintf(head, sizeof head, "%s %s %zu:", spec[i].method, spec[i].path, spec[i].body_len);
        assert_int_equal(r[i].body.len, (size_t)hl + spec[i].body_len);
        assert_memory_equal(r[i].body.ptr, head, (size_t)hl);
        if (spec[i].body_len)
            assert_memory_equal(r[i].body.ptr + hl, spec[i].body, spec[i].body_len);
        assert_int_equal(r[i].body_bytes, r[i].body.len);
    }
    assert_int_equal(d[N].calls, 1);
    assert_int_equal(d[N].inside_api, 0);
    assert_int_equal(d[N].st, BROCK_ERR_NETWORK);
    assert_non_null(strstr(d[N].e.msg, "connection refused"));
    assert_int_equal(handled, N);
    assert_true(fakesrv_accepts(s) >= 2); /* not queued on one connection */

    /* Nothing more arrives later: each done ran exactly once. */
    ev_run(&L, NULL, 0, 100);
    assert_int_equal(total, N + 1);
    assert_int_equal(L.bad_slots, 0);
    assert_true(L.socket_calls > 0);

    /* A second round on the same multi reuses the kept connections. */
    unsigned accepts = fakesrv_accepts(s);
    total = 0;
    for (int i = 0; i < 2; i++) {
        memset(&d[i], 0, sizeof d[i]);
        d[i].total = &total;
        snprintf(urls[i], sizeof urls[i], "%s/again", fakesrv_url(s));
        rq[i] = (struct http_request){.url = urls[i]};
        assert_int_equal(http_multi_add(m, &rq[i], &r[i], rec_done, &d[i], &e), BROCK_OK);
    }
    assert_true(ev_run(&L, &total, 2, 3000));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(d[i].st, BROCK_OK);
        assert_string_equal(buf_cstr(&r[i].body), "GET /again 0:");
        assert_true(r[i].reused);
    }
    assert_int_equal(fakesrv_accepts(s), accepts);

    for (int i = 0; i <= N; i++)
        http_response_free(&r[i]);
    http_multi_free(m);
    free(big);
    fakesrv_stop(s);
}

/* One round of n transfers at once on m, to URL/path; waits for them all. */
static void multi_round(struct http_multi *m, struct evloop *L, const char *base, const char *path, int n)
{
    struct http_request rq[16];
    struct http_response r[16];
    struct done_rec d[16];
    char urls[16][128];
    int total = 0;
    struct brock_err e = {0};
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        memset(&d[i], 0, sizeof d[i]);
        d[i].total = &total;
        http_response_init(&r[i]);
        snprintf(urls[i], sizeof urls[i], "%s%s", base, path);
        rq[i] = (struct http_request){.url = urls[i]};
        assert_int_equal(http_multi_add(m, &rq[i], &r[i], rec_done, &d[i], &e), BROCK_OK);
    }
    assert_true(ev_run(L, &total, n, 5000));
    for (int i = 0; i < n; i++) {
        assert_int_equal(d[i].st, BROCK_OK);
        http_response_free(&r[i]);
    }
}

/* A lull after a burst keeps the burst's connections for the next one
 * (http_multi_keep_connections): libcurl's own cache is 4 x the transfers
 * running, so one call at a time would close all but 4 of them. */
static void test_multi_keeps_connections(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    int handled = 0;
    fakesrv_set_handler(s, slow_echo_handler, &handled);
    struct http_multi *m = http_multi_new(NULL, 0);
    http_multi_keep_connections(m, 64);
    struct evloop L;
    ev_attach(&L, m);
    enum { BURST = 12 };
    multi_round(m, &L, fakesrv_url(s), "/slow/burst", BURST); /* held 200 ms: one connection each */
    unsigned opened = fakesrv_accepts(s);
    assert_int_equal(opened, BURST);
    for (int i = 0; i < 6; i++)
        multi_round(m, &L, fakesrv_url(s), "/lull", 1);
    multi_round(m, &L, fakesrv_url(s), "/slow/burst", BURST);
    assert_int_equal(fakesrv_accepts(s), opened);
    assert_int_equal(handled, 2 * BURST + 6);
    http_multi_free(m);
    fakesrv_stop(s);
}

/* A streamed body whose reader holds it after the first piece. */
struct holder {
    struct buf got;
    int calls; /* on_body calls */
    int asks;  /* hold() calls */
    bool holding;
    bool hold_each; /* hold again after every piece, not only the first */
};

static bool holder_hold(void *ctx)
{
    struct holder *h = ctx;
    h->asks++;
    return h->holding;
}

static enum brock_status holder_body(void *ctx, const char *p, size_t n)
{
    struct holder *h = ctx;
    h->calls++;
    if (h->calls == 1 || h->hold_each)
        h->holding = true;
    return buf_add(&h->got, p, n);
}

static void test_multi_hold_resume(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_multi *m = http_multi_new(NULL, 0);
    struct evloop L;
    ev_attach(&L, m);
    size_t total = (size_t)64 * 1024 + 5;
    char *body = malloc(total);
    fill_pattern(body, total);
    struct brock_err e = {0};
    struct http_response r;
    http_response_init(&r);

    /* Held after the first piece, for longer than the idle timeout. */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = total, .chunked = true,
                                               .piece = 8192, .piece_delay_ms = 10});
    struct holder h = {.got = BUF_INIT(1 << 20)};
    struct done_rec d = {0};
    struct http_request rq = {.url = url(s, "/held"), .on_body = holder_body, .hold = holder_hold, .ctx = &h,
                              .idle_timeout_ms = 100};
    struct http_xfer *x = NULL;
    assert_int_equal(http_multi_start(m, &rq, &r, rec_done, &d, &x, &e), BROCK_OK);
    assert_true(ev_run(&L, &h.calls, 1, 3000));
    assert_int_equal(h.calls, 1);
    size_t held_at = h.got.len;
    assert_true(held_at > 0 && held_at < total);
    int socket_calls = L.socket_calls;
    ev_run(&L, &d.calls, 1, 350); /* the server sends the rest meanwhile */
    assert_int_equal(d.calls, 0); /* not failed as idle while held */
    assert_int_equal(h.calls, 1); /* nothing delivered while held */
    assert_int_equal(h.got.len, held_at);
    assert_true(h.asks >= 2);     /* it was asked about the next piece */
    assert_true(L.socket_calls - socket_calls < 50); /* and the loop did not spin */
    assert_int_equal(http_multi_running(m), 1);

    h.holding = false;
    g_in_api = 1;
    http_xfer_resume(x);
    g_in_api = 0;
    assert_int_equal(d.calls, 0);
    assert_true(ev_run(&L, &d.calls, 1, 3000));
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.inside_api, 0);
    assert_int_equal(d.st, BROCK_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(h.got.len, total);
    assert_memory_equal(h.got.ptr, body, total);
    assert_int_equal(r.body_bytes, total);
    assert_int_equal(r.body.len, 0);

    /* Held after every piece, resumed a little later each time. */
    buf_reset(&h.got);
    h = (struct holder){.got = h.got, .hold_each = true};
    d = (struct done_rec){0};
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = total, .piece = 5000});
    rq.url = url(s, "/each");
    assert_int_equal(http_multi_start(m, &rq, &r, rec_done, &d, &x, &e), BROCK_OK);
    assert_true(ev_run(&L, &h.calls, 1, 3000));
    int rounds = 0;
    while (d.calls == 0 && rounds < 100) {
        int seen = h.calls;
        ev_run(&L, &d.calls, 1, 15);
        if (d.calls)
            break;
        assert_int_equal(h.calls, seen); /* held: nothing more */
        h.holding = false;
        http_xfer_resume(x); /* the held piece may come from in here */
        assert_true(ev_run(&L, &h.calls, seen + 1, 3000));
        rounds++;
    }
    assert_true(ev_run(&L, &d.calls, 1, 3000));
    assert_int_equal(d.st, BROCK_OK);
    assert_true(rounds >= 2);
    assert_int_equal(h.got.len, total);
    assert_memory_equal(h.got.ptr, body, total);

    buf_free(&h.got);
    http_response_free(&r);
    http_multi_free(m);
    free(body);
    fakesrv_stop(s);
}

/* The idle timeout still guards a held transfer once it is resumed: here the
 * server stalls for good after the part that was held. */
static void test_multi_hold_then_stall(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    struct http_multi *m = http_multi_new(NULL, 0);
    struct evloop L;
    ev_attach(&L, m);
    char body[3000];
    fill_pattern(body, sizeof body);
    /* announces 100000 bytes, sends 3000, then nothing */
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .headers = "Content-Length: 100000\r\n",
                                               .body = body, .body_len = sizeof body, .piece = 1000,
                                               .piece_delay_ms = 10});
    struct holder h = {.got = BUF_INIT(1 << 20)};
    struct done_rec d = {0};
    struct http_request rq = {.url = url(s, "/stall"), .on_body = holder_body, .hold = holder_hold, .ctx = &h,
                              .idle_timeout_ms = 100};
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    struct http_xfer *x = NULL;
    assert_int_equal(http_multi_start(m, &rq, &r, rec_done, &d, &x, &e), BROCK_OK);
    assert_true(ev_run(&L, &h.calls, 1, 3000));
    ev_run(&L, &d.calls, 1, 300); /* three idle timeouts long */
    assert_int_equal(d.calls, 0);
    h.holding = false;
    http_xfer_resume(x);
    int64_t t0 = time_mono_ms();
    assert_true(ev_run(&L, &d.calls, 1, 2000));
    assert_true(time_mono_ms() - t0 < 1000);
    assert_int_equal(d.st, BROCK_ERR_NETWORK);
    assert_non_null(strstr(d.e.msg, "stalled"));
    assert_int_equal(h.got.len, sizeof body); /* the held part was delivered first */
    assert_memory_equal(h.got.ptr, body, sizeof body);
    buf_free(&h.got);
    http_response_free(&r);
    http_multi_free(m);
    fakesrv_stop(s);
}

static void test_multi_abort(void **state)
{
    (void)state;
    struct fakesrv *s = fakesrv_start(NULL);
    int handled = 0;
    fakesrv_set_handler(s, slow_echo_handler, &handled);
    struct http_multi *m = http_multi_new(NULL, 0);
    struct evloop L;
    ev_attach(&L, m);
    struct brock_err e = {0};
    struct http_response r[4];
    struct done_rec d[4] = {{0}};
    struct http_xfer *x[4];
    for (int i = 0; i < 4; i++)
        http_response_init(&r[i]);

    /* A: the server never answers; B: answers after 200 ms, and is not held
     * up by A (it reaches the server while A is unanswered). */
    struct http_request ra = {.url = url(s, "/never")}, rb = {.url = url(s, "/slow/b")};
    assert_int_equal(http_multi_start(m, &ra, &r[0], rec_done, &d[0], &x[0], &e), BROCK_OK);
    assert_int_equal(http_multi_start(m, &rb, &r[1], rec_done, &d[1], &x[1], &e), BROCK_OK);
    for (int64_t end = time_mono_ms() + 3000; fakesrv_request_count(s) < 2 && time_mono_ms() < end;)
        ev_step(&L, 10);
    assert_int_equal(fakesrv_request_count(s), 2);
    g_in_api = 1;
    http_xfer_abort(x[0]);
    g_in_api = 0;
    assert_int_equal(d[0].calls, 0); /* not from inside the abort */
    int64_t t0 = time_mono_ms();
    assert_true(ev_run(&L, &d[0].calls, 1, 1000));
    assert_true(time_mono_ms() - t0 < 500);
    assert_int_equal(d[0].st, BROCK_ERR_INTERRUPTED);
    assert_non_null(strstr(d[0].e.msg, "interrupted"));
    assert_int_equal(d[0].inside_api, 0);
    assert_int_equal(d[1].calls, 0);
    /* the other transfer goes on */
    assert_true(ev_run(&L, &d[1].calls, 1, 3000));
    assert_int_equal(d[1].st, BROCK_OK);
    assert_string_equal(buf_cstr(&r[1].body), "GET /slow/b 0:");
    assert_int_equal(d[0].calls, 1);

    /* C: aborted right after it started, before the loop ran at all. */
    struct http_request rc = {.url = url(s, "/never/c")};
    g_in_api = 1;
    assert_int_equal(http_multi_start(m, &rc, &r[2], rec_done, &d[2], &x[2], &e), BROCK_OK);
    http_xfer_abort(x[2]);
    g_in_api = 0;
    assert_int_equal(d[2].calls, 0);
    assert_true(ev_run(&L, &d[2].calls, 1, 1000));
    assert_int_equal(d[2].st, BROCK_ERR_INTERRUPTED);
    assert_int_equal(d[2].inside_api, 0);

    /* D: aborted while held by its reader. */
    char body[20000];
    fill_pattern(body, sizeof body);
    fakesrv_set_handler(s, NULL, NULL);
    fakesrv_push(s, &(struct fakesrv_response){.status = 200, .body = body, .body_len = sizeof body,
                                               .piece = 2000, .piece_delay_ms = 10});
    struct holder h = {.got = BUF_INIT(1 << 20)};
    struct http_request rd = {.url = url(s, "/held"), .on_body = holder_body, .hold = holder_hold, .ctx = &h};
    assert_int_equal(http_multi_start(m, &rd, &r[3], rec_done, &d[3], &x[3], &e), BROCK_OK);
    assert_true(ev_run(&L, &h.calls, 1, 3000));
    ev_run(&L, NULL, 0, 50);
    t0 = time_mono_ms();
    http_xfer_abort(x[3]);
    assert_true(ev_run(&L, &d[3].calls, 1, 1000));
    assert_true(time_mono_ms() - t0 < 500);
    assert_int_equal(d[3].st, BROCK_ERR_INTERRUPTED);
    assert_int_equal(h.calls, 1);

    ev_run(&L, NULL, 0, 50);
    for (int i = 0; i < 4; i++)
        assert_int_equal(d[i].calls, 1);
    assert_int_equal(http_multi_running(m), 0);
    buf_free(&h.got);
    for (int i = 0; i < 4; i++)
        http_response_free(&r[i]);
    http_multi_free(m);
    fakesrv_stop(s);
}

/* Functions run later from the loop, in time order; a cancelled one never runs. */
struct later_log {
    struct http_multi *m;
    const struct evloop *L;
    int64_t t0;
    char order[32];
    int64_t at[32];   /* ms after t0 */
    int round[32];    /* L->timer_calls when it ran */
    int n;
    int inside_api;
};

struct later_arg {
    struct later_log *log;
    char tag;
    struct http_later *cancel; /* cancel this one when run */
    struct later_arg *chain;   /* schedule this one (0 ms) when run */
};

static void later_fn(void *arg)
{
    struct later_arg *a = arg;
    struct later_log *g = a->log;
    if (g_in_api)
        g->inside_api++;
    if (g->n < 31) {
        g->order[g->n] = a->tag;
        g->at[g->n] = time_mono_ms() - g->t0;
        g->round[g->n] = g->L->timer_calls;
        g->n++;
    }
    if (a->cancel)
        http_later_cancel(g->m, a->cancel);
    if (a->chain)
        http_multi_later(g->m, 0, later_fn, a->chain);
}

static void test_multi_later(void **state)
{
    (void)state;
    struct http_multi *m = http_multi_new(NULL, 0);
    struct evloop L;
    ev_attach(&L, m);
    struct later_log g = {.m = m, .L = &L, .t0 = time_mono_ms()};
    struct later_arg a = {&g, 'a', NULL, NULL}, b = {&g, 'b', NULL, NULL}, b2 = {&g, 'B', NULL, NULL},
                     c = {&g, 'c', NULL, NULL}, z = {&g, 'z', NULL, NULL}, xx = {&g, 'x', NULL, NULL};
    g_in_api = 1;
    http_multi_later(m, 90, later_fn, &c);
    http_multi_later(m, 30, later_fn, &a);
    http_multi_later(m, 60, later_fn, &b);
    struct http_later *victim = http_multi_later(m, 45, later_fn, &xx);
    http_multi_later(m, 60, later_fn, &b2); /* same time as b: after it */
    http_multi_later(m, 0, later_fn, &z);   /* even at 0 ms, not from in here */
    http_later_cancel(m, victim);
    http_later_cancel(m, NULL);
    g_in_api = 0;
    assert_int_equal(g.n, 0);
    assert_true(ev_run(&L, &g.n, 5, 2000));
    ev_run(&L, NULL, 0, 100); /* past every deadline: the cancelled one stays away */
    assert_int_equal(g.n, 5);
    g.order[g.n] = '\0';
    assert_string_equal(g.order, "zabBc");
    assert_int_equal(g.inside_api, 0);
    static const int due[] = {0, 30, 60, 60, 90};
    for (int i = 0; i < 5; i++) {
        assert_true(g.at[i] >= due[i]);       /* never early */
        assert_true(g.at[i] < due[i] + 250);  /* nor much late */
    }

    /* Cancelled by another one due in the same round: still never runs. */
    g.n = 0;
    g.t0 = time_mono_ms();
    struct later_arg q = {&g, 'q', NULL, NULL}, p = {&g, 'p', NULL, NULL};
    struct later_arg s2 = {&g, 's', NULL, NULL}, rr = {&g, 'r', NULL, &s2};
    http_multi_later(m, 20, later_fn, &p);
    p.cancel = http_multi_later(m, 20, later_fn, &q);
    http_multi_later(m, 60, later_fn, &rr); /* r schedules s at 0 ms */
    usleep(30 * 1000); /* p and q are both overdue when the loop looks */
    assert_true(ev_run(&L, &g.n, 3, 2000));
    ev_run(&L, NULL, 0, 100);
    g.order[g.n] = '\0';
    assert_string_equal(g.order, "prs");
    /* one added from a later runs in a later round, not the one running */
    assert_true(g.round[2] > g.round[1]);

    /* Freeing the multi drops the pending ones unrun. */
    g.n = 0;
    http_multi_later(m, 10000, later_fn, &a);
    http_multi_later(m, 0, later_fn, &b);
    http_multi_free(m);
    assert_int_equal(g.n, 0);
    assert_int_equal(L.bad_slots, 0);
}

int main(void)
{
    test_init();
    unset_proxy_env();
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        printf("not ok 1 - http_global_init: %s\n", e.msg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_list),
        cmocka_unit_test(test_get_roundtrip),
        cmocka_unit_test(test_post_put_head_delete),
        cmocka_unit_test(test_large_bodies),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_connection_reuse),
        cmocka_unit_test(test_connect_failures),
        cmocka_unit_test(test_dropped_connections),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_plain_http_policy),
        cmocka_unit_test(test_plain_http_sends_nothing),
        cmocka_unit_test(test_loopback_forms),
        cmocka_unit_test(test_env_proxy_http),
        cmocka_unit_test(test_env_proxy_https),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_log_redaction),
        cmocka_unit_test(test_user_agent),
        cmocka_unit_test(test_response_header_limits),
        cmocka_unit_test(test_fakesrv_itself),
        cmocka_unit_test(test_multi_evented_concurrent),
        cmocka_unit_test(test_multi_keeps_connections),
        cmocka_unit_test(test_multi_hold_resume),
        cmocka_unit_test(test_multi_hold_then_stall),
        cmocka_unit_test(test_multi_abort),
        cmocka_unit_test(test_multi_later),
    };
    int failed = cmocka_run_group_tests_name("http", tests, NULL, NULL);
    http_global_cleanup();
    if (g_tls_dir) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tls_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_tls_dir);
        free(g_tls_dir);
    }
    return failed;
}
