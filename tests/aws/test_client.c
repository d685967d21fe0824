/* Tests for the AWS call layer (src/aws/client.c) against the loopback fake
 * server: signing on the wire (checked with the verifier), retries under the
 * retry policy, credential refresh, clock-skew correction, bearer keys,
 * streaming, and where the endpoint came from. */
#include "../support/test.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/aws/client.h"
#include "../../src/aws/sigv4.h"
#include "../../src/util/timeutil.h"
#include "../support/evloop.h"
#include "../support/fakesrv.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* A clock that never really sleeps. */
struct fake_time {
    int64_t now_ms;
    int64_t slept_ms;
    int sleeps;
};
static int64_t ft_now(void *ctx)
{
    return ((struct fake_time *)ctx)->now_ms;
}
static void ft_sleep(void *ctx, int64_t ms)
{
    struct fake_time *t = ctx;
    t->now_ms += ms;
    t->slept_ms += ms;
    t->sleeps++;
}
struct creds_box {
    struct aws_credentials *cur;
    int gets, invalidations;
    const char *next_token; /* token of the set handed out after an invalidation */
};
static enum brock_status box_get(void *ctx, struct aws_credentials **out, struct brock_err *e)
{
    (void)e;
    struct creds_box *b = ctx;
    b->gets++;
    *out = aws_credentials_acquire(b->cur);
    return BROCK_OK;
}
static void box_invalidate(void *ctx)
{
    struct creds_box *b = ctx;
    b->invalidations++;
    aws_credentials_release(b->cur);
    b->cur = aws_credentials_new(AKID, SECRET, b->next_token, 0, "test");
}

struct env_map {
    const char *names[4];
    const char *values[4];
};
static const char *map_getenv(void *ctx, const char *name)
{
    struct env_map *m = ctx;
    for (int i = 0; i < 4 && m->names[i]; i++)
        if (!strcmp(m->names[i], name))
            return m->values[i];
    return NULL;
}

struct fixture {
    struct fakesrv *srv;
    struct fake_time t;
    struct clock clk;
    struct retry_policy *retry;
    struct creds_box box;
    struct aws_client *client;
    struct env_map env;
    struct endpoint_lookup lk;
    double jitter;
};

/* The retry policy's random draw: fixture.jitter (0.5 unless a test says
 * otherwise), so backoffs are jitter * 1 s, jitter * 2 s, ... */
static double jitter(void *ctx)
{
    return ((struct fixture *)ctx)->jitter;
}

static void fixture_start(struct fixture *f, const char *bearer, bool endpoint_via_env)
{
    memset(f, 0, sizeof *f);
    f->srv = fakesrv_start(NULL);
    f->t.now_ms = 1735689600000LL; /* 2025-01-01T00:00:00Z */
    f->clk = (struct clock){.now_ms = ft_now, .sleep_ms = ft_sleep, .ctx = &f->t};
    struct retry_config rc;
    retry_config_init(&rc);
    rc.clock = &f->clk;
    f->jitter = 0.5;
    rc.random = jitter;
    rc.random_ctx = f;
    f->retry = retry_policy_new(&rc);
    f->box.cur = aws_credentials_new(AKID, SECRET, "token-one", 0, "test");
    f->box.next_token = "token-two";
    f->env.names[0] = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME";
    f->env.values[0] = fakesrv_url(f->srv);
    f->lk = (struct endpoint_lookup){.getenv = map_getenv, .env_ctx = &f->env};
    struct aws_client_config cfg = {
        .region = "us-west-2",
        .lookup = &f->lk,
        .endpoint_url = endpoint_via_env ? NULL : fakesrv_url(f->srv),
        .creds = {box_get, box_invalidate, &f->box},
        .bearer_token = bearer,
        .retry = f->retry,
        .clock = &f->clk,
    };
    f->client = aws_client_new(&cfg);
}

static void fixture_stop(struct fixture *f)
{
    aws_client_free(f->client);
    retry_policy_free(f->retry);
    aws_credentials_release(f->box.cur);
    fakesrv_stop(f->srv);
}

static const char converse_body[] = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hello\"}]}]}";

static enum brock_status send_converse(struct fixture *f, struct aws_response *r, struct brock_err *e)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "application/json", NULL);
    struct aws_request req = {
        .service = ENDPOINT_SVC_BEDROCK_RUNTIME,
        .method = "POST",
        .path = "/model/us.anthropic.claude-sonnet-4-6%3A0/converse",
        .headers = &h,
        .body = converse_body,
        .body_len = sizeof converse_body - 1,
        .protocol = AWSERR_REST_JSON,
    };
    aws_response_init(r);
    enum brock_status st = aws_client_send(f->client, &req, r, e);
    http_headers_cleanup(&h);
    return st;
}

static bool lookup_secret(void *ctx, const char *akid, struct sigv4_secret *out)
{
    (void)ctx;
    if (strcmp(akid, AKID))
        return false;
    out->secret_access_key = SECRET;
    out->session_token = NULL;
    return true;
}

/* Verify a recorded request with the SigV4 verifier, as AWS would. */
static enum sigv4_verdict verify_recorded(const struct fakesrv_request *r, int64_t now_s, struct sigv4_verified *v)
{
    struct sigv4_header hs[64];
    size_t n = r->nheaders < 64 ? r->nheaders : 64;
    for (size_t i = 0; i < n; i++)
        hs[i] = (struct sigv4_header){r->headers[i].name, strlen(r->headers[i].name), r->headers[i].value,
                                      strlen(r->headers[i].value)};
    const char *q = strchr(r->target, '?');
    struct sigv4_request sr = {
        .method = r->method,
        .path = r->target,
        .path_len = q ? (size_t)(q - r->target) : strlen(r->target),
        .query = q ? q + 1 : NULL,
        .query_len = q ? strlen(q + 1) : 0,
        .headers = hs,
        .n_headers = n,
        .body = r->body,
        .body_len = r->body_len,
    };
    struct sigv4_verify_params p = {.lookup = lookup_secret, .now_s = now_s};
    struct sigv4_signer *s = sigv4_signer_new();
    struct brock_err e = {0};
    if (sigv4_verify(s, &sr, &p, v, &e) != BROCK_OK)
        fprintf(stderr, "verify: %s\n", e.msg);
    sigv4_signer_free(s);
    return v->verdict;
}

static void test_signed_request_verifies(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, true);
    fakesrv_push(f.srv, &(struct fakesrv_response){
                            .headers = "Content-Type: application/json\r\nx-amzn-RequestId: rid-1\r\n",
                            .body = "{\"ok\":true}"});
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_OK);
    assert_int_equal(r.http.status, 200);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.request_id, "rid-1");
    assert_string_equal(r.auth, "sigv4");
    assert_string_equal(r.endpoint_source, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
    assert_string_equal(buf_cstr(&r.http.body), "{\"ok\":true}");
    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    assert_string_equal(q->target, "/model/us.anthropic.claude-sonnet-4-6%3A0/converse");
    assert_string_equal(fakesrv_header(q, "x-amz-security-token"), "token-one");
    assert_non_null(strstr(fakesrv_header(q, "authorization"), "/20250101/us-west-2/bedrock/aws4_request"));
    struct sigv4_verified v;
    assert_int_equal(verify_recorded(q, f.t.now_ms / 1000, &v), SIGV4_VALID);
    assert_string_equal(v.service, "bedrock");
    aws_response_free(&r);
    fixture_stop(&f);
}

static void test_throttling_is_retried_then_succeeds(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    struct fakesrv_response thr = {
        .status = 429,
        .headers = "x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/\r\n",
        .body = "{\"message\":\"Too many requests, please wait before trying again.\"}"};
    fakesrv_push(f.srv, &thr);
    fakesrv_push(f.srv, &thr);
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "{}"});
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_OK);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(fakesrv_request_count(f.srv), 3);
    /* full jitter with rand = 0.5: 0.5 * 1 s, then 0.5 * 2 s */
    assert_int_equal(f.t.slept_ms, 500 + 1000);
    /* every attempt was signed afresh and verifies */
    for (size_t i = 0; i < 3; i++) {
        struct sigv4_verified v;
        assert_int_equal(verify_recorded(fakesrv_request(f.srv, i), f.t.now_ms / 1000, &v), SIGV4_VALID);
    }
    aws_response_free(&r);
    fixture_stop(&f);
}

static void test_throttled_after_all_retries(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    struct fakesrv_response thr = {
        .status = 429,
        .headers = "x-amzn-ErrorType: ThrottlingException\r\nx-amzn-RequestId: rid-t\r\n",
        .body = "{\"message\":\"Too many tokens, please wait before trying again.\"}"};
    for (int i = 0; i < 3; i++)
        fakesrv_push(f.srv, &thr);
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_ERR_THROTTLED);
    assert_int_equal(r.attempts, 3);
    assert_string_equal(e.aws_code, "ThrottlingException");
    assert_string_equal(e.request_id, "rid-t");
    assert_non_null(strstr(e.msg, "after 3 attempts"));
    assert_non_null(strstr(e.msg, "Too many tokens"));
    aws_response_free(&r);
    fixture_stop(&f);
}

static void test_validation_error_not_retried(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    fakesrv_push(f.srv, &(struct fakesrv_response){
                            .status = 400,
                            .headers = "x-amzn-ErrorType: ValidationException\r\n",
                            .body = "{\"message\":\"Malformed input request\"}"});
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_ERR_AWS);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.aws_code, "ValidationException");
    assert_int_equal(f.t.sleeps, 0);
    aws_response_free(&r);
    fixture_stop(&f);
}

static void test_expired_token_refreshes_once(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    struct fakesrv_response exp = {
        .status = 403,
        .headers = "x-amzn-ErrorType: ExpiredTokenException\r\n",
        .body = "{\"message\":\"The security token included in the request is expired\"}"};
    fakesrv_push(f.srv, &exp);
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "{}"});
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_OK);
    assert_int_equal(f.box.invalidations, 1);
    assert_true(r.credentials_refreshed);
    assert_string_equal(fakesrv_header(fakesrv_request(f.srv, 1), "x-amz-security-token"), "token-two");
    aws_response_free(&r);

    /* twice in a row: one refresh only, then the error stands */
    fakesrv_push(f.srv, &exp);
    fakesrv_push(f.srv, &exp);
    assert_int_equal(send_converse(&f, &r, &e), BROCK_ERR_AUTH);
    assert_int_equal(f.box.invalidations, 2);
    assert_int_equal(r.attempts, 2);
    assert_null(strstr(e.msg, SECRET));
    assert_null(strstr(e.msg, "token-two"));
    aws_response_free(&r);
    fixture_stop(&f);
}

static void test_clock_skew_corrected(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    /* the server's clock is one hour ahead of ours */
    fakesrv_push(f.srv, &(struct fakesrv_response){
                            .status = 403,
                            .headers = "x-amzn-ErrorType: InvalidSignatureException\r\n"
                                       "Date: Wed, 01 Jan 2025 01:00:00 GMT\r\n",
                            .body = "{\"message\":\"Signature expired: 20250101T000000Z is now earlier than "
                                    "20250101T004500Z (20250101T010000Z - 15 min.)\"}"});
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "{}"});
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_OK);
    assert_true(r.skew_corrected);
    assert_int_equal(aws_client_skew_ms(f.client), 3600 * 1000);
    assert_string_equal(fakesrv_header(fakesrv_request(f.srv, 1), "x-amz-date"), "20250101T010000Z");
    aws_response_free(&r);
    fixture_stop(&f);
}

static void test_bearer_key_for_bedrock_only(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, "bedrock-api-key-EXAMPLETOKEN", false);
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "{}"});
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_OK);
    assert_string_equal(r.auth, "bearer");
    const struct fakesrv_request *q = fakesrv_request(f.srv, 0);
    assert_string_equal(fakesrv_header(q, "authorization"), "Bearer bedrock-api-key-EXAMPLETOKEN");
    assert_null(fakesrv_header(q, "x-amz-date"));
    assert_int_equal(f.box.gets, 0);
    aws_response_free(&r);

    /* STS is not a Bedrock service: SigV4 */
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "<ok/>"});
    struct aws_request sts = {.service = ENDPOINT_SVC_STS, .method = "POST", .path = "/",
                              .body = "Action=GetCallerIdentity&Version=2011-06-15", .body_len = 43,
                              .protocol = AWSERR_QUERY};
    aws_response_init(&r);
    assert_int_equal(aws_client_send(f.client, &sts, &r, &e), BROCK_OK);
    assert_string_equal(r.auth, "sigv4");
    assert_non_null(strstr(fakesrv_header(fakesrv_request(f.srv, 1), "authorization"), "/sts/aws4_request"));
    aws_response_free(&r);
    fixture_stop(&f);
}

struct sink {
    struct buf got;
};
static enum brock_status sink_body(void *ctx, const char *p, size_t n)
{
    return buf_add(&((struct sink *)ctx)->got, p, n);
}

static void test_stream_retried_only_before_first_byte(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    /* a 500 before anything streamed is retried */
    fakesrv_push(f.srv, &(struct fakesrv_response){.status = 500,
                                                   .headers = "x-amzn-ErrorType: InternalServerException\r\n",
                                                   .body = "{\"message\":\"oops\"}"});
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "0123456789abcdef", .chunked = true, .piece = 4});
    struct sink s = {BUF_INIT(1024)};
    struct aws_request req = {.service = ENDPOINT_SVC_BEDROCK_RUNTIME, .method = "POST",
                              .path = "/model/m/converse-stream", .body = "{}", .body_len = 2,
                              .protocol = AWSERR_REST_JSON, .on_body = sink_body, .ctx = &s};
    struct aws_response r;
    struct brock_err e = {0};
    aws_response_init(&r);
    assert_int_equal(aws_client_send(f.client, &req, &r, &e), BROCK_OK);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(buf_cstr(&s.got), "0123456789abcdef");
    aws_response_free(&r);

    /* a connection dropped after output started is reported, not retried */
    buf_reset(&s.got);
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "0123456789abcdef", .chunked = true, .piece = 4,
                                                   .drop = true, .drop_after = 8});
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = "SHOULD-NOT-BE-SENT"});
    aws_response_init(&r);
    assert_int_equal(aws_client_send(f.client, &req, &r, &e), BROCK_ERR_NETWORK);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(strncmp(buf_cstr(&s.got), "01234567", 8), 0);
    assert_int_equal(fakesrv_pending(f.srv), 1);
    aws_response_free(&r);
    buf_free(&s.got);
    fixture_stop(&f);
}

static void test_connection_refused_is_network_error(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, true);
    /* point at a port nothing listens on */
    struct fakesrv *dead = fakesrv_start(NULL);
    char url[64];
    snprintf(url, sizeof url, "%s", fakesrv_url(dead));
    fakesrv_stop(dead);
    f.env.values[0] = url;
    aws_client_free(f.client);
    struct aws_client_config cfg = {.region = "us-west-2", .lookup = &f.lk, .creds = {box_get, box_invalidate, &f.box},
                                    .retry = f.retry, .clock = &f.clk};
    f.client = aws_client_new(&cfg);
    struct aws_response r;
    struct brock_err e = {0};
    assert_int_equal(send_converse(&f, &r, &e), BROCK_ERR_NETWORK);
    assert_int_equal(r.attempts, 3);
    assert_non_null(strstr(e.msg, "127.0.0.1"));
    aws_response_free(&r);
    fixture_stop(&f);
}

/* ---- the same on an event loop (aws_client_start) -------------------------------- */

/* The multi on the tests' poll() loop (tests/support/evloop.h). */
static struct http_multi *ev_multi(struct evloop *L)
{
    struct http_multi *m = http_multi_new(NULL, 0);
    ev_attach(L, m);
    return m;
}

static int g_in_api; /* set around calls that must never run `done` */

struct call_rec {
    int calls;
    int inside_api;
    enum brock_status st;
    struct brock_err e;
};

static void call_done(void *ctx, enum brock_status st, const struct brock_err *e)
{
    struct call_rec *d = ctx;
    d->calls++;
    if (g_in_api)
        d->inside_api++;
    d->st = st;
    d->e = e ? *e : (struct brock_err){0};
}

/* One Converse call started on the loop; `h` must live until done. */
static struct aws_call *start_converse(struct fixture *f, struct http_multi *m, struct http_headers *h,
                                       struct aws_response *r, struct call_rec *d)
{
    http_headers_add(h, "Content-Type", "application/json", NULL);
    struct aws_request req = {
        .service = ENDPOINT_SVC_BEDROCK_RUNTIME,
        .method = "POST",
        .path = "/model/us.anthropic.claude-sonnet-4-6%3A0/converse",
        .headers = h,
        .body = converse_body,
        .body_len = sizeof converse_body - 1,
        .protocol = AWSERR_REST_JSON,
    };
    aws_response_init(r);
    memset(d, 0, sizeof *d);
    struct aws_call *call = NULL;
    struct brock_err e = {0};
    g_in_api = 1;
    assert_int_equal(aws_client_start(f->client, m, &req, r, call_done, d, &call, &e), BROCK_OK);
    g_in_api = 0;
    assert_non_null(call);
    assert_int_equal(d->calls, 0); /* never from inside aws_client_start */
    return call;
}

static void test_async_retries_then_succeeds(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    f.jitter = 0.01; /* backoffs of 10 and 20 ms */
    fakesrv_push(f.srv, &(struct fakesrv_response){.status = 503,
                                                   .headers = "x-amzn-ErrorType: ServiceUnavailableException\r\n",
                                                   .body = "{\"message\":\"try later\"}"});
    fakesrv_push(f.srv, &(struct fakesrv_response){.status = 500,
                                                   .headers = "x-amzn-ErrorType: InternalServerException\r\n",
                                                   .body = "{\"message\":\"oops\"}"});
    fakesrv_push(f.srv, &(struct fakesrv_response){.headers = "x-amzn-RequestId: rid-ok\r\n", .body = "{\"ok\":true}"});
    struct evloop L;
    struct http_multi *m = ev_multi(&L);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct aws_response r;
    struct call_rec d;
    int64_t t0 = time_mono_ms();
    start_converse(&f, m, &h, &r, &d);
    assert_true(ev_run(&L, &d.calls, 1, 3000));
    int64_t took = time_mono_ms() - t0;
    assert_int_equal(d.st, BROCK_OK);
    assert_int_equal(d.inside_api, 0);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.http.status, 200);
    assert_string_equal(buf_cstr(&r.http.body), "{\"ok\":true}");
    assert_string_equal(r.request_id, "rid-ok");
    assert_string_equal(r.auth, "sigv4");
    assert_int_equal(fakesrv_request_count(f.srv), 3);
    /* the backoffs were waited on the loop's timers, never slept */
    assert_true(took >= 30);
    assert_int_equal(f.t.sleeps, 0);
    assert_true(r.latency_ms >= 30);
    for (size_t i = 0; i < 3; i++) {
        struct sigv4_verified v;
        assert_int_equal(verify_recorded(fakesrv_request(f.srv, i), f.t.now_ms / 1000, &v), SIGV4_VALID);
    }
    ev_run(&L, NULL, 0, 50);
    assert_int_equal(d.calls, 1); /* exactly once */
    aws_response_free(&r);
    http_headers_cleanup(&h);
    http_multi_free(m);
    fixture_stop(&f);
}

static void test_async_throttled_after_all_retries(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    f.jitter = 0.01;
    struct fakesrv_response thr = {
        .status = 429,
        .headers = "x-amzn-ErrorType: ThrottlingException\r\nx-amzn-RequestId: rid-t\r\n",
        .body = "{\"message\":\"Too many tokens, please wait before trying again.\"}"};
    for (int i = 0; i < 4; i++)
        fakesrv_push(f.srv, &thr);
    struct evloop L;
    struct http_multi *m = ev_multi(&L);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct aws_response r;
    struct call_rec d;
    start_converse(&f, m, &h, &r, &d);
    assert_true(ev_run(&L, &d.calls, 1, 3000));
    assert_int_equal(d.st, BROCK_ERR_THROTTLED);
    assert_int_equal(d.e.status, BROCK_ERR_THROTTLED);
    assert_int_equal(r.attempts, 3);
    assert_string_equal(d.e.aws_code, "ThrottlingException");
    assert_string_equal(d.e.request_id, "rid-t");
    assert_non_null(strstr(d.e.msg, "after 3 attempts"));
    assert_int_equal(fakesrv_request_count(f.srv), 3);
    assert_int_equal(fakesrv_pending(f.srv), 1); /* no fourth attempt */
    assert_int_equal(f.t.sleeps, 0);
    ev_run(&L, NULL, 0, 50);
    assert_int_equal(d.calls, 1);
    aws_response_free(&r);
    http_headers_cleanup(&h);
    http_multi_free(m);
    fixture_stop(&f);
}

static void test_async_abort(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false); /* jitter 0.5: the first backoff is 500 ms */
    struct evloop L;
    struct http_multi *m = ev_multi(&L);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct aws_response r;
    struct call_rec d;

    /* During the wait before a retry: ends at once, nothing more is sent. */
    fakesrv_push(f.srv, &(struct fakesrv_response){.status = 429, .headers = "x-amzn-ErrorType: ThrottlingException\r\n",
                                                   .body = "{\"message\":\"slow down\"}"});
    int64_t t0 = time_mono_ms();
    struct aws_call *call = start_converse(&f, m, &h, &r, &d);
    for (int64_t end = time_mono_ms() + 3000; fakesrv_request_count(f.srv) < 1 && time_mono_ms() < end;)
        ev_step(&L, 10);
    ev_run(&L, NULL, 0, 100); /* the answer is in; the call waits to retry */
    assert_int_equal(d.calls, 0);
    assert_int_equal(r.http.status, 429);
    assert_int_equal(r.attempts, 1);
    g_in_api = 1;
    aws_call_abort(call);
    g_in_api = 0;
    assert_int_equal(d.calls, 0); /* not from inside the abort */
    int64_t t1 = time_mono_ms();
    assert_true(ev_run(&L, &d.calls, 1, 2000));
    assert_true(time_mono_ms() - t1 < 200); /* did not wait out the backoff */
    assert_int_equal(d.st, BROCK_ERR_INTERRUPTED);
    assert_int_equal(d.inside_api, 0);
    assert_int_equal(r.attempts, 1);
    /* past the time the retry was due: it never went out */
    ev_run(&L, NULL, 0, t0 + 700 - time_mono_ms());
    assert_int_equal(fakesrv_request_count(f.srv), 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(f.t.sleeps, 0);
    aws_response_free(&r);

    /* During an attempt the server never answers: ends at once, no retry. */
    http_headers_reset(&h);
    fakesrv_push(f.srv, &(struct fakesrv_response){.status = 200, .body = "{}", .delay_ms = 60000});
    call = start_converse(&f, m, &h, &r, &d);
    for (int64_t end = time_mono_ms() + 3000; fakesrv_request_count(f.srv) < 2 && time_mono_ms() < end;)
        ev_step(&L, 10);
    assert_int_equal(fakesrv_request_count(f.srv), 2);
    g_in_api = 1;
    aws_call_abort(call);
    aws_call_abort(call); /* twice is fine */
    g_in_api = 0;
    t1 = time_mono_ms();
    assert_true(ev_run(&L, &d.calls, 1, 2000));
    assert_true(time_mono_ms() - t1 < 200);
    assert_int_equal(d.st, BROCK_ERR_INTERRUPTED);
    assert_non_null(strstr(d.e.msg, "interrupted"));
    assert_int_equal(d.inside_api, 0);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.http.status, 0);
    ev_run(&L, NULL, 0, 100);
    assert_int_equal(fakesrv_request_count(f.srv), 2);
    assert_int_equal(d.calls, 1);
    aws_response_free(&r);

    http_headers_cleanup(&h);
    http_multi_free(m);
    fixture_stop(&f);
}

/* An abort from a function of the loop that runs in the same round as the
 * retry it cancels (both overdue when the loop looks): done runs once, with
 * BROCK_ERR_INTERRUPTED, and the retry never goes out. */
static void abort_call(void *arg)
{
    aws_call_abort(arg);
}

static void test_async_abort_from_loop_timer(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    f.jitter = 0.1; /* a 100 ms backoff */
    struct evloop L;
    struct http_multi *m = ev_multi(&L);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct aws_response r;
    struct call_rec d;
    fakesrv_push(f.srv, &(struct fakesrv_response){.status = 429, .headers = "x-amzn-ErrorType: ThrottlingException\r\n",
                                                   .body = "{\"message\":\"slow down\"}"});
    struct aws_call *call = start_converse(&f, m, &h, &r, &d);
    for (int64_t end = time_mono_ms() + 3000; fakesrv_request_count(f.srv) < 1 && time_mono_ms() < end;)
        ev_step(&L, 10);
    ev_run(&L, NULL, 0, 30);
    assert_int_equal(r.http.status, 429);
    assert_int_equal(d.calls, 0);
    http_multi_later(m, 0, abort_call, call);
    usleep(150 * 1000); /* the retry's timer is overdue too now */
    assert_true(ev_run(&L, &d.calls, 1, 2000));
    ev_run(&L, NULL, 0, 150);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.st, BROCK_ERR_INTERRUPTED);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(fakesrv_request_count(f.srv), 1);
    aws_response_free(&r);
    http_headers_cleanup(&h);
    http_multi_free(m);
    fixture_stop(&f);
}

/* A streamed answer held by its reader after the first piece, resumed later. */
struct holder {
    struct buf got;
    int calls;
    bool holding;
};
static bool holder_hold(void *ctx)
{
    return ((struct holder *)ctx)->holding;
}
static enum brock_status holder_body(void *ctx, const char *p, size_t n)
{
    struct holder *h = ctx;
    h->calls++;
    if (h->calls == 1)
        h->holding = true;
    return buf_add(&h->got, p, n);
}

static void test_async_stream_hold_resume(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, NULL, false);
    f.jitter = 0.01;
    char body[24000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + (i * 7 + i / 13) % 26);
    /* a 500 first (retried: nothing was streamed yet), then the stream */
    fakesrv_push(f.srv, &(struct fakesrv_response){.status = 500,
                                                   .headers = "x-amzn-ErrorType: InternalServerException\r\n",
                                                   .body = "{\"message\":\"oops\"}"});
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = body, .body_len = sizeof body, .chunked = true,
                                                   .piece = 3000, .piece_delay_ms = 10});
    struct evloop L;
    struct http_multi *m = ev_multi(&L);
    struct holder k = {.got = BUF_INIT(1 << 20)};
    struct aws_request req = {.service = ENDPOINT_SVC_BEDROCK_RUNTIME, .method = "POST",
                              .path = "/model/m/converse-stream", .body = "{}", .body_len = 2,
                              .protocol = AWSERR_REST_JSON, .on_body = holder_body, .hold = holder_hold,
                              .ctx = &k, .idle_timeout_ms = 100};
    struct aws_response r;
    aws_response_init(&r);
    struct call_rec d = {0};
    struct aws_call *call = NULL;
    struct brock_err e = {0};
    assert_int_equal(aws_client_start(f.client, m, &req, &r, call_done, &d, &call, &e), BROCK_OK);
    assert_true(ev_run(&L, &k.calls, 1, 3000));
    size_t held_at = k.got.len;
    assert_true(held_at > 0 && held_at < sizeof body);
    ev_run(&L, &d.calls, 1, 250); /* longer than the idle timeout */
    assert_int_equal(d.calls, 0);
    assert_int_equal(k.calls, 1);
    assert_int_equal(k.got.len, held_at);
    k.holding = false;
    g_in_api = 1;
    aws_call_resume(call);
    g_in_api = 0;
    assert_true(ev_run(&L, &d.calls, 1, 3000));
    assert_int_equal(d.st, BROCK_OK);
    assert_int_equal(d.inside_api, 0);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(k.got.len, sizeof body);
    assert_memory_equal(k.got.ptr, body, sizeof body);
    buf_free(&k.got);
    aws_response_free(&r);
    http_multi_free(m);
    fixture_stop(&f);
}

int main(void)
{
    test_init();
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_request_verifies),
        cmocka_unit_test(test_throttling_is_retried_then_succeeds),
        cmocka_unit_test(test_throttled_after_all_retries),
        cmocka_unit_test(test_validation_error_not_retried),
        cmocka_unit_test(test_expired_token_refreshes_once),
        cmocka_unit_test(test_clock_skew_corrected),
        cmocka_unit_test(test_bearer_key_for_bedrock_only),
        cmocka_unit_test(test_stream_retried_only_before_first_byte),
        cmocka_unit_test(test_connection_refused_is_network_error),
        cmocka_unit_test(test_async_retries_then_succeeds),
        cmocka_unit_test(test_async_throttled_after_all_retries),
        cmocka_unit_test(test_async_abort),
        cmocka_unit_test(test_async_abort_from_loop_timer),
        cmocka_unit_test(test_async_stream_hold_resume),
    };
    int rc = cmocka_run_group_tests_name("client", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
