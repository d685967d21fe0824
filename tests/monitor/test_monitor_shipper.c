/* Tests for the CloudWatch Logs shipper (src/monitor/shipper*.c) against a
 * fake CloudWatch Logs on the loopback fake server. The fake enforces the
 * PutLogEvents rules of the API reference (aws-wire-reference 9.1: count,
 * bytes + 26, chronological order, 24 h span, 2 h / 14 day windows with
 * rejectedLogEventsInfo, missing group or stream), so a batching mistake
 * fails here as it would on AWS.
 *
 * Covered: each limit at its boundary (exactly at it: one call; one over:
 * two), order and stable order, oversized and non-UTF-8 events, rejected
 * events dropped and counted (scripted and by the real time windows), the
 * spool losing only what was accepted, retries on throttling, creating the
 * group (with retention) and stream, splitting a refused call to find the
 * bad event, the lock, the deadline and cancel, the state file,
 * PutMetricData mode, the background worker, and a child killed with
 * SIGKILL at random points 25 times losing no event. */
#include "../support/test.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/aws/credentials.h"
#include "../../src/monitor/shipper.h"
#include "../../src/util/alloc.h"
#include "../../src/util/fs.h"
#include "../../src/util/timeutil.h"
#include "../support/fakesrv.h"

#define DAY ((int64_t)86400000)
#define GROUP "/brock/test"

/* ---- a fake CloudWatch Logs (+ PutMetricData) ---------------------------------- */

struct fev {
    char *stream;
    int64_t ts;
    char *msg;
    size_t len;
};

struct fakecw {
    pthread_mutex_t mu;
    struct fev *ev;
    size_t n, cap;
    char streams[64][600];
    size_t nstreams;
    bool group;
    int64_t retention;
    /* behaviour */
    int throttle_next;      /* ThrottlingException this many times */
    int fail_next;          /* 500 this many times */
    bool access_denied;     /* every PutLogEvents: AccessDeniedException */
    const char *poison;     /* a message holding this: InvalidParameterException */
    int already_accepted;   /* DataAlreadyAcceptedException this many times (events stored) */
    const char *script_rej; /* rejectedLogEventsInfo for the next accepted call */
    int delay_ms;           /* answer PutLogEvents this late */
    /* what it saw */
    char ops[4096][24];
    size_t nops;
    size_t put_ok;      /* accepted PutLogEvents calls */
    size_t sizes[4096]; /* events per accepted call */
    size_t bytes[4096]; /* bytes (+26) per accepted call */
    bool emf_header;
    json_t *datums; /* PutMetricData datums */
    char namespace_[64];
};

static void fake_init(struct fakecw *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->datums = json_array();
}

static void fake_free(struct fakecw *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->ev[i].stream);
        free(f->ev[i].msg);
    }
    free(f->ev);
    json_decref(f->datums);
    pthread_mutex_destroy(&f->mu);
}

static void answer(struct fakesrv_response *out, int status, const char *type, const char *msg)
{
    out->status = status;
    out->headers = "Content-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: fake-req-id\r\n";
    if (type) {
        char *b = xmalloc(1024);
        snprintf(b, 1024, "{\"__type\":\"com.amazonaws.logs#%s\",\"message\":\"%s\"}", type, msg);
        out->body = b;
    } else {
        out->body = xstrdup(msg ? msg : "{}");
    }
    out->free_body = true;
}

static bool has_stream(struct fakecw *f, const char *s)
{
    for (size_t i = 0; i < f->nstreams; i++)
        if (!strcmp(f->streams[i], s))
            return true;
    return false;
}

static void put_log_events(struct fakecw *f, json_t *body, struct fakesrv_response *out)
{
    const char *group = json_string_value(json_object_get(body, "logGroupName"));
    const char *stream = json_string_value(json_object_get(body, "logStreamName"));
    json_t *evs = json_object_get(body, "logEvents");
    if (f->access_denied)
        return answer(out, 400, "AccessDeniedException", "User is not authorized to perform: logs:PutLogEvents");
    if (f->throttle_next > 0) {
        f->throttle_next--;
        return answer(out, 400, "ThrottlingException", "Rate exceeded");
    }
    if (f->fail_next > 0) {
        f->fail_next--;
        return answer(out, 500, "ServiceUnavailableException", "The service is unavailable");
    }
    if (!group || !f->group || strcmp(group, GROUP))
        return answer(out, 400, "ResourceNotFoundException", "The specified log group does not exist.");
    if (!stream || !has_stream(f, stream))
        return answer(out, 400, "ResourceNotFoundException", "The specified log stream does not exist.");
    size_t n = json_array_size(evs);
    if (n < 1 || n > 10000)
        return answer(out, 400, "InvalidParameterException", "1 to 10000 log events per call");
    size_t bytes = 0;
    int64_t prev = INT64_MIN, first = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(evs, i);
        json_t *m = json_object_get(e, "message");
        json_t *t = json_object_get(e, "timestamp");
        if (!json_is_string(m) || json_string_length(m) < 1 || !json_is_integer(t))
            return answer(out, 400, "InvalidParameterException", "bad event");
        if (f->poison && strstr(json_string_value(m), f->poison))
            return answer(out, 400, "InvalidParameterException", "event rejected");
        if (json_string_length(m) > 1048550)
            return answer(out, 400, "InvalidParameterException", "Log event too large");
        int64_t ts = json_integer_value(t);
        if (ts < prev)
            return answer(out, 400, "InvalidParameterException",
                          "Log events in a single PutLogEvents request must be in chronological order.");
        if (i == 0)
            first = ts;
        if (ts - first > DAY)
            return answer(out, 400, "InvalidParameterException",
                          "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
        prev = ts;
        bytes += json_string_length(m) + 26;
    }
    if (bytes > 1048576)
        return answer(out, 400, "InvalidParameterException", "Upload too large");
    /* the time windows, as AWS applies them */
    int64_t now = time_now_ms();
    int64_t too_new = -1, too_old = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = json_integer_value(json_object_get(json_array_get(evs, i), "timestamp"));
        if (ts < now - 14 * DAY)
            too_old = (int64_t)i + 1;
        if (ts > now + 2 * 3600000 && too_new < 0)
            too_new = (int64_t)i;
    }
    char rej[256] = "";
    if (f->script_rej) {
        snprintf(rej, sizeof rej, ",\"rejectedLogEventsInfo\":%s", f->script_rej);
        json_t *r = json_loads(f->script_rej, 0, NULL);
        json_int_t v;
        too_new = json_unpack(r, "{s:I}", "tooNewLogEventStartIndex", &v) == 0 ? v : -1;
        too_old = json_unpack(r, "{s:I}", "tooOldLogEventEndIndex", &v) == 0 ? v : 0;
        json_decref(r);
        f->script_rej = NULL;
    } else if (too_new >= 0 || too_old > 0) {
        size_t o = (size_t)snprintf(rej, sizeof rej, ",\"rejectedLogEventsInfo\":{");
        if (too_old > 0)
            o += (size_t)snprintf(rej + o, sizeof rej - o, "\"tooOldLogEventEndIndex\":%lld%s", (long long)too_old,
                                  too_new >= 0 ? "," : "");
        if (too_new >= 0)
            o += (size_t)snprintf(rej + o, sizeof rej - o, "\"tooNewLogEventStartIndex\":%lld", (long long)too_new);
        snprintf(rej + o, sizeof rej - o, "}");
    }
    for (size_t i = 0; i < n; i++) {
        if ((int64_t)i < too_old || (too_new >= 0 && (int64_t)i >= too_new))
            continue;
        json_t *e = json_array_get(evs, i);
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 256;
            f->ev = xrealloc(f->ev, f->cap * sizeof *f->ev);
        }
        json_t *m = json_object_get(e, "message");
        f->ev[f->n++] = (struct fev){xstrdup(stream), json_integer_value(json_object_get(e, "timestamp")),
                                     xmemdup(json_string_value(m), json_string_length(m)), json_string_length(m)};
    }
    if (f->put_ok < 4096) {
        f->sizes[f->put_ok] = n;
        f->bytes[f->put_ok] = bytes;
    }
    f->put_ok++;
    char resp[400];
    snprintf(resp, sizeof resp, "{\"nextSequenceToken\":\"49590000\"%s}", rej);
    answer(out, 200, NULL, resp);
}

static void fake_handler(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    struct fakecw *f = ctx;
    const char *target = fakesrv_header(req, "X-Amz-Target");
    json_error_t je;
    json_t *body = json_loadb(req->body, req->body_len, JSON_ALLOW_NUL, &je);
    pthread_mutex_lock(&f->mu);
    const char *op = target && strchr(target, '.') ? strchr(target, '.') + 1 : "?";
    if (f->nops < 4096)
        snprintf(f->ops[f->nops++], sizeof f->ops[0], "%s", op);
    if (!body) {
        answer(out, 400, "SerializationException", "bad json");
    } else if (!strcmp(op, "PutLogEvents")) {
        const char *emf = fakesrv_header(req, "x-amzn-logs-format");
        if (emf && !strcmp(emf, "json/emf"))
            f->emf_header = true;
        int delay = f->delay_ms;
        int already = f->already_accepted;
        put_log_events(f, body, out);
        if (already > 0 && out->status == 200) {
            f->already_accepted--; /* stored, then the legacy answer */
            free((char *)out->body);
            out->free_body = false;
            answer(out, 400, "DataAlreadyAcceptedException",
                   "The given batch of log events has already been accepted.");
        }
        out->delay_ms = delay;
    } else if (!strcmp(op, "CreateLogGroup")) {
        if (f->group)
            answer(out, 400, "ResourceAlreadyExistsException", "The specified log group already exists");
        else {
            f->group = true;
            answer(out, 200, NULL, "{}");
        }
    } else if (!strcmp(op, "PutRetentionPolicy")) {
        f->retention = json_integer_value(json_object_get(body, "retentionInDays"));
        answer(out, 200, NULL, "{}");
    } else if (!strcmp(op, "CreateLogStream")) {
        const char *s = json_string_value(json_object_get(body, "logStreamName"));
        if (!f->group)
            answer(out, 400, "ResourceNotFoundException", "The specified log group does not exist.");
        else if (s && has_stream(f, s))
            answer(out, 400, "ResourceAlreadyExistsException", "The specified log stream already exists");
        else if (s && f->nstreams < 64) {
            snprintf(f->streams[f->nstreams++], sizeof f->streams[0], "%s", s);
            answer(out, 200, NULL, "{}");
        } else {
            answer(out, 400, "InvalidParameterException", "bad stream");
        }
    } else if (!strcmp(op, "PutMetricData")) {
        const char *ns = json_string_value(json_object_get(body, "Namespace"));
        snprintf(f->namespace_, sizeof f->namespace_, "%s", ns ? ns : "");
        json_t *md = json_object_get(body, "MetricData");
        if (json_array_size(md) > 1000)
            answer(out, 400, "InvalidParameterValue", "too many datums");
        else {
            json_array_extend(f->datums, md);
            out->status = 200;
            out->headers = "Content-Type: application/x-amz-json-1.0\r\n";
            out->body = "{}";
        }
    } else {
        answer(out, 400, "UnknownOperationException", "unknown");
    }
    pthread_mutex_unlock(&f->mu);
    json_decref(body);
}

/* ---- fixture --------------------------------------------------------------------- */

static int64_t no_sleep_now(void *ctx)
{
    (void)ctx;
    return time_now_ms();
}
static void no_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    (void)ms;
}
static double zero_rand(void *ctx)
{
    (void)ctx;
    return 0.0;
}
static const struct clock fast_clock = {no_sleep_now, no_sleep, NULL};

struct fx {
    struct fakecw cw;
    struct fakesrv *srv;
    char *dir;
    struct store *store;
    struct aws_credentials *creds;
    struct retry_policy *retry;
    struct aws_client *client;
    struct monitor_config cfg;
    struct shipper_options o;
};

static struct aws_client_config client_config(struct fx *f)
{
    return (struct aws_client_config){
        .region = "us-west-2",
        .endpoint_url = fakesrv_url(f->srv),
        .creds = aws_creds_source_static(f->creds),
        .retry = f->retry,
        .clock = &fast_clock,
    };
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    fake_init(&f->cw);
    f->srv = fakesrv_start(NULL);
    fakesrv_set_handler(f->srv, fake_handler, &f->cw);
    f->dir = test_tmpdir();
    struct store_options so = {.dir = f->dir};
    struct brock_err e = {0};
    if (store_open(&so, &f->store, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    f->creds = aws_credentials_new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, 0, "test");
    struct retry_config rc;
    retry_config_init(&rc);
    rc.clock = &fast_clock;
    rc.random = zero_rand;
    f->retry = retry_policy_new(&rc);
    struct aws_client_config cc = client_config(f);
    f->client = aws_client_new(&cc);
    monitor_config_init(&f->cfg);
    snprintf(f->cfg.log_group, sizeof f->cfg.log_group, GROUP);
    snprintf(f->cfg.log_stream, sizeof f->cfg.log_stream, "test-stream");
    f->cw.group = true;
    snprintf(f->cw.streams[f->cw.nstreams++], sizeof f->cw.streams[0], "test-stream");
    f->o = (struct shipper_options){.store = f->store, .client = f->client, .cfg = &f->cfg, .host = "h", .user = "u"};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    aws_client_free(f->client);
    retry_policy_free(f->retry);
    aws_credentials_release(f->creds);
    store_close(f->store);
    fakesrv_stop(f->srv);
    fake_free(&f->cw);
    free(f->dir);
    free(f);
    return 0;
}

static void spool(struct fx *f, int64_t ts, const char *msg, size_t len)
{
    struct brock_err e = {0};
    if (store_spool_append(f->store, ts, msg, len ? len : strlen(msg), NULL, &e) != BROCK_OK)
        fail_msg("append: %s", e.msg);
}

static void spool_n(struct fx *f, size_t n, int64_t ts0, int64_t step, size_t size)
{
    char *m = xmalloc(size + 32);
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(m, size + 32, "event-%06zu:", i);
        size_t len = size > (size_t)k ? size : (size_t)k;
        memset(m + k, 'x', len - (size_t)k);
        spool(f, ts0 + (int64_t)i * step, m, len);
    }
    free(m);
}

static int64_t spooled(struct fx *f)
{
    int64_t n, b;
    struct brock_err e = {0};
    assert_int_equal(store_spool_count(f->store, &n, &b, &e), BROCK_OK);
    return n;
}

static enum brock_status run(struct fx *f, struct shipper_stats *st, struct brock_err *e)
{
    memset(e, 0, sizeof *e);
    return shipper_run(&f->o, st, e);
}

static int64_t now_ms(void)
{
    return time_now_ms();
}

/* ---- limits ---------------------------------------------------------------------- */

static void test_count_limit_boundary(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t t = now_ms() - 60000;
    spool_n(f, 10000, t, 0, 10);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 1); /* exactly 10,000: one call */
    assert_int_equal(f->cw.sizes[0], 10000);
    assert_int_equal(st.shipped, 10000);
    assert_int_equal(spooled(f), 0);
    spool_n(f, 10001, t, 0, 10);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 3); /* 10,001: two calls */
    assert_int_equal(f->cw.sizes[1], 10000);
    assert_int_equal(f->cw.sizes[2], 1);
    assert_int_equal(st.requests, 2);
    assert_int_equal(f->cw.n, 20001);
}

static void test_bytes_limit_boundary(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t t = now_ms() - 60000;
    /* 1024 events of 998 bytes: 1024 * (998 + 26) = 1,048,576 exactly */
    spool_n(f, 1024, t, 1, 998);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 1);
    assert_int_equal(f->cw.bytes[0], 1048576);
    /* one byte more in one event: two calls */
    spool_n(f, 1023, t, 1, 998);
    spool(f, t + 5000,
          "event-x:"
          "yyyyyyyyyy",
          0);
    char *m = xmalloc(1000);
    memset(m, 'z', 999);
    spool(f, t + 2000, m, 999);
    free(m);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 3);
    for (size_t i = 1; i < f->cw.put_ok; i++)
        assert_true(f->cw.bytes[i] <= 1048576);
    assert_int_equal(st.shipped, 1025);
    assert_int_equal(spooled(f), 0);
}

static void test_multibyte_counted_in_bytes(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    f->o.limits = (struct shipper_limits){.max_bytes = 3 * (30 + 26)};
    int64_t t = now_ms() - 60000;
    /* 10 three-byte characters = 30 bytes; three fit, the fourth goes next */
    for (int i = 0; i < 4; i++)
        spool(f, t + i,
              "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82"
              "\xac\xe2\x82\xac",
              0);
    /* an invalid byte grows to three after cleaning: counted as sent */
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 2);
    assert_int_equal(f->cw.sizes[0], 3);
    assert_int_equal(f->cw.bytes[0], 3 * 56);
    f->o.limits = (struct shipper_limits){.max_bytes = 75};
    spool(f, t, "abcdefghij\xff", 11); /* 13 bytes once cleaned */
    spool(f, t, "abcdefghijk", 11);
    /* as spooled: 11 + 11 + 52 = 74 fits; as sent: 13 + 11 + 52 = 76 does not */
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 4);
    assert_string_equal(f->cw.ev[4].msg, "abcdefghij\xef\xbf\xbd");
}

static void test_span_limit_boundary(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t t = now_ms() - 3 * DAY;
    spool(f, t, "first", 0);
    spool(f, t + DAY, "exactly 24 h later", 0);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 1);
    spool(f, t, "first again", 0);
    spool(f, t + DAY + 1, "24 h and 1 ms later", 0);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 3);
    assert_int_equal(f->cw.sizes[1], 1);
    assert_int_equal(f->cw.sizes[2], 1);
}

static void test_stream_per_day_splits(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    snprintf(f->cfg.log_stream, sizeof f->cfg.log_stream, "{host}/{user}/{date}");
    int64_t day0 = (now_ms() / DAY - 2) * DAY;
    spool(f, day0 + DAY - 1000, "before midnight", 0);
    spool(f, day0 + DAY + 1000, "after midnight", 0);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 2);
    assert_int_equal(st.created, 2); /* two streams; the group existed */
    assert_string_not_equal(f->cw.ev[0].stream, f->cw.ev[1].stream);
    assert_non_null(strstr(f->cw.ev[0].stream, "h/u/"));
}

static void test_order_and_stable_ties(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t t = now_ms() - 60000;
    spool(f, t + 30, "c", 0);
    spool(f, t + 10, "a1", 0);
    spool(f, t + 20, "b", 0);
    spool(f, t + 10, "a2", 0);
    spool(f, t + 10, "a3", 0);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 1);
    const char *want[] = {"a1", "a2", "a3", "b", "c"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(f->cw.ev[i].msg, want[i]);
}

static void test_oversize_event_truncated(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t t = now_ms() - 60000;
    /* at the real limit: 1,048,550 bytes pass whole; one invalid byte grows
     * the cleaned text past it, so it is cut with the marker */
    size_t n = SHIPPER_MAX_EVENT_BYTES;
    char *m = xmalloc(n);
    memset(m, 'a', n);
    spool(f, t, m, n);
    m[0] = (char)0xff;
    spool(f, t + 1, m, n);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 2);
    assert_int_equal(f->cw.n, 2);
    assert_int_equal(f->cw.ev[0].len, n);
    assert_int_equal(f->cw.ev[1].len, n);
    assert_non_null(strstr(f->cw.ev[1].msg + n - 60, "[... truncated by brock: 1048552 bytes]"));
    assert_int_equal(st.truncated, 1);
    assert_int_equal(st.shipped, 2);
    free(m);

    /* a lowered limit, cutting inside multi-byte characters */
    f->o.limits = (struct shipper_limits){.max_event_bytes = 100};
    struct buf b = BUF_INIT(1000);
    for (int i = 0; i < 60; i++)
        buf_add(&b, "\xe2\x82\xac", 3);
    spool(f, t, b.ptr, b.len);
    buf_free(&b);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    const struct fev *ev = &f->cw.ev[2];
    assert_true(ev->len <= 100);
    const char *mark = strstr(ev->msg, "[... truncated by brock: 180 bytes]");
    assert_non_null(mark);
    assert_int_equal((mark - ev->msg) % 3, 0);
}

/* ---- rejected events ----------------------------------------------------------------- */

static void test_rejected_scripted(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t t = now_ms() - 60000;
    spool_n(f, 5, t, 1, 5);
    f->cw.script_rej = "{\"tooOldLogEventEndIndex\":2,\"tooNewLogEventStartIndex\":4}";
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(st.shipped, 2);
    assert_int_equal(st.rejected_too_old, 2);
    assert_int_equal(st.rejected_too_new, 1);
    assert_int_equal(shipper_rejected(&st), 3);
    assert_int_equal(spooled(f), 0); /* rejected ones are dropped, not retried */
    assert_int_equal(f->cw.n, 2);
    assert_non_null(strstr(f->cw.ev[0].msg, "event-000002"));
    /* a second run sends nothing */
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(f->cw.put_ok, 1);
}

static void test_rejected_by_time_windows(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t now = now_ms();
    spool(f, now - 15 * DAY, "old 1", 0);
    spool(f, now - 15 * DAY + 1, "old 2", 0);
    spool(f, now + 3 * 3600000, "from the future", 0);
    spool(f, now - 1000, "fine", 0);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(st.rejected_too_old, 2);
    assert_int_equal(st.rejected_too_new, 1);
    assert_int_equal(st.shipped, 1);
    assert_int_equal(spooled(f), 0);
    assert_int_equal(f->cw.n, 1);
    assert_string_equal(f->cw.ev[0].msg, "fine");
    assert_int_equal(st.remaining, 0);
}

static void test_parse_answer(void **state)
{
    (void)state;
    struct shipper_rejected r;
    struct brock_err e = {0};
    assert_int_equal(shipper_parse_answer("{}", 2, 5, &r, &e), BROCK_OK);
    assert_true(r.too_new_start == -1 && r.too_old_end == -1 && r.expired_end == -1);
    const char *a = "{\"nextSequenceToken\":\"1\",\"rejectedLogEventsInfo\":{\"tooNewLogEventStartIndex\":3,"
                    "\"tooOldLogEventEndIndex\":1,\"expiredLogEventEndIndex\":2}}";
    assert_int_equal(shipper_parse_answer(a, strlen(a), 5, &r, &e), BROCK_OK);
    int kinds[5];
    for (size_t i = 0; i < 5; i++)
        kinds[i] = shipper_rejected_kind(&r, i);
    assert_int_equal(kinds[0], 2);
    assert_int_equal(kinds[1], 3);
    assert_int_equal(kinds[2], 0);
    assert_int_equal(kinds[3], 1);
    assert_int_equal(kinds[4], 1);
    a = "{\"rejectedLogEventsInfo\":{\"tooOldLogEventEndIndex\":99,\"tooNewLogEventStartIndex\":-4}}";
    assert_int_equal(shipper_parse_answer(a, strlen(a), 5, &r, &e), BROCK_OK);
    assert_int_equal(r.too_old_end, 5);
    assert_int_equal(r.too_new_start, 0);
    a = "{\"rejectedLogEventsInfo\":{\"tooOldLogEventEndIndex\":\"x\"}}";
    assert_int_equal(shipper_parse_answer(a, strlen(a), 5, &r, &e), BROCK_ERR_PARSE);
    assert_string_equal(e.msg,
                        "PutLogEvents answer: rejectedLogEventsInfo.tooOldLogEventEndIndex is not a whole number");
    assert_int_equal(shipper_parse_answer("[1]", 3, 5, &r, &e), BROCK_ERR_PARSE);
    assert_int_equal(shipper_parse_answer("not json", 8, 5, &r, &e), BROCK_ERR_PARSE);
    assert_int_equal(shipper_parse_answer("{\"rejectedLogEventsInfo\":[]}", 28, 5, &r, &e), BROCK_ERR_PARSE);
}

/* ---- what is deleted ------------------------------------------------------------------ */

static void test_failures_keep_the_spool(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    spool_n(f, 7, now_ms() - 60000, 1, 20);
    f->cw.access_denied = true;
    assert_int_equal(run(f, &st, &e), BROCK_ERR_AUTH);
    assert_string_equal(e.aws_code, "AccessDeniedException");
    assert_non_null(strstr(e.msg, "PutLogEvents"));
    assert_int_equal(spooled(f), 7);
    assert_int_equal(st.shipped, 0);
    assert_int_equal(st.remaining, 7);
    f->cw.access_denied = false;
    f->cw.fail_next = 100; /* 5xx after every retry */
    assert_int_equal(run(f, &st, &e), BROCK_ERR_AWS);
    assert_int_equal(spooled(f), 7);
    f->cw.fail_next = 0;
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(spooled(f), 0);
    assert_int_equal(f->cw.n, 7);
    /* the state file remembers the last error and the last success */
    struct shipper_state s;
    assert_int_equal(shipper_state_load(f->dir, &s, &e), BROCK_OK);
    assert_int_equal(s.shipped_total, 7);
    assert_string_equal(s.last_error, "");
    assert_true(s.last_success_ms > 0);
    assert_string_equal(s.destination, GROUP "/test-stream");
}

struct append_ctx {
    struct fx *f;
    int calls;
};
static void append_on_progress(void *ctx, const struct shipper_stats *st)
{
    (void)st;
    struct append_ctx *a = ctx;
    if (a->calls++ < 3) {
        char m[32];
        snprintf(m, sizeof m, "late-%d", a->calls);
        spool(a->f, now_ms() - 30000, m, 0);
    }
}

static void test_appends_during_shipping_are_kept(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    f->o.limits = (struct shipper_limits){.max_events = 4};
    spool_n(f, 10, now_ms() - 60000, 1, 8);
    struct append_ctx a = {f, 0};
    f->o.progress = append_on_progress;
    f->o.progress_ctx = &a;
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(st.shipped, 13);
    assert_int_equal(f->cw.n, 13);
    assert_int_equal(spooled(f), 0);
    for (size_t i = 1; i < f->cw.put_ok; i++)
        assert_true(f->cw.sizes[i] <= 4);
}

static void test_throttling_retried(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    spool_n(f, 3, now_ms() - 60000, 1, 8);
    f->cw.throttle_next = 2; /* the default policy makes 3 attempts */
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(st.shipped, 3);
    assert_int_equal(f->cw.nops, 3);
    spool_n(f, 3, now_ms() - 60000, 1, 8);
    f->cw.throttle_next = 3;
    assert_int_equal(run(f, &st, &e), BROCK_ERR_THROTTLED);
    assert_string_equal(e.aws_code, "ThrottlingException");
    assert_int_equal(spooled(f), 3);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(spooled(f), 0);
}

static void test_creates_group_and_stream(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    f->cw.group = false;
    f->cw.nstreams = 0;
    f->cfg.retention_days = 14;
    spool_n(f, 2, now_ms() - 60000, 1, 8);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    const char *want[] = {"PutLogEvents", "CreateLogGroup", "PutRetentionPolicy", "CreateLogStream", "PutLogEvents"};
    assert_int_equal(f->cw.nops, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(f->cw.ops[i], want[i]);
    assert_int_equal(f->cw.retention, 14);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.shipped, 2);
    /* a stream that went missing later: only the stream is made again */
    f->cw.nstreams = 0;
    f->cw.nops = 0;
    spool_n(f, 1, now_ms() - 60000, 1, 8);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    const char *want2[] = {"PutLogEvents", "CreateLogGroup", "CreateLogStream", "PutLogEvents"};
    assert_int_equal(f->cw.nops, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(f->cw.ops[i], want2[i]);
}

static void test_invalid_event_isolated(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    int64_t t = now_ms() - 60000;
    spool_n(f, 3, t, 1, 8);
    spool(f, t + 10, "POISON event", 0);
    spool_n(f, 3, t + 20, 1, 8);
    f->cw.poison = "POISON";
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(st.shipped, 6);
    assert_int_equal(st.rejected_invalid, 1);
    assert_int_equal(spooled(f), 0);
    assert_int_equal(f->cw.n, 6);
    for (size_t i = 0; i < f->cw.n; i++)
        assert_null(strstr(f->cw.ev[i].msg, "POISON"));
    /* alone, it proves nothing about the event: it stays, the error is reported */
    spool(f, t, "POISON again", 0);
    assert_int_equal(run(f, &st, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "InvalidParameterException");
    assert_int_equal(spooled(f), 1);
}

static void test_data_already_accepted(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    spool_n(f, 2, now_ms() - 60000, 1, 8);
    f->cw.already_accepted = 1;
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(spooled(f), 0);
    assert_int_equal(f->cw.n, 2);
}

/* ---- lock, deadline, cancel, configuration ------------------------------------------------ */

static void test_lock_deadline_cancel(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    spool_n(f, 2, now_ms() - 60000, 1, 8);
    char *path = fs_join(f->dir, SHIPPER_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_true(st.busy);
    assert_int_equal(f->cw.nops, 0);
    f->o.wait_for_lock = true;
    f->o.deadline_mono_ms = time_mono_ms() + 200;
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_true(st.busy);
    close(fd);
    free(path);
    f->o.wait_for_lock = false;

    f->o.deadline_mono_ms = time_mono_ms() - 1;
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_true(st.deadline_hit);
    assert_int_equal(f->cw.nops, 0);
    f->o.deadline_mono_ms = 0;

    volatile sig_atomic_t cancel = 1;
    f->o.cancel = &cancel;
    assert_int_equal(run(f, &st, &e), BROCK_ERR_INTERRUPTED);
    assert_int_equal(spooled(f), 2);
    cancel = 0;
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_int_equal(spooled(f), 0);

    f->cfg.log_group[0] = '\0';
    assert_int_equal(run(f, &st, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "BROCK_LOG_GROUP"));
}

static void test_emf_header(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    spool_n(f, 1, now_ms() - 60000, 1, 8);
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_true(f->cw.emf_header);
    /* no diagnostic wanted: still works (the group is made on the way) */
    f->cw.group = false;
    f->cw.nstreams = 0;
    spool_n(f, 2, now_ms() - 60000, 1, 8);
    assert_int_equal(shipper_run(&f->o, &st, NULL), BROCK_OK);
    assert_int_equal(st.shipped, 2);
    f->cw.access_denied = true;
    spool_n(f, 1, now_ms() - 60000, 1, 8);
    assert_int_equal(shipper_run(&f->o, &st, NULL), BROCK_ERR_AUTH);
}

/* ---- PutMetricData --------------------------------------------------------------------- */

static void spool_metrics_event(struct fx *f, int64_t ts, const char *model, int in, double cost)
{
    char m[512];
    snprintf(m, sizeof m,
             "{\"Model\":\"%s\",\"Project\":\"p\",\"User\":\"u\",\"InputTokens\":%d,\"OutputTokens\":1,"
             "\"CacheReadTokens\":0,\"CacheWriteTokens\":0,\"CostUSD\":%g,\"LatencyMs\":5,\"Throttles\":0,"
             "\"Errors\":0,\"CacheHits\":0,\"schema\":\"brock.audit.v1\"}",
             model, in, cost);
    spool(f, ts, m, 0);
}

static void test_put_metric_data(void **state)
{
    struct fx *f = *state;
    struct shipper_stats st;
    struct brock_err e;
    f->cfg.metrics = MONITOR_METRICS_PUT_METRIC_DATA;
    int64_t minute = (now_ms() / 60000 - 5) * 60000;
    spool_metrics_event(f, minute + 1000, "m1", 10, 0.5);
    spool_metrics_event(f, minute + 2000, "m1", 20, 0.25);
    spool_metrics_event(f, minute + 3000, "m2", 10, 0.25);
    spool(f, minute + 4000, "not json at all", 0);
    spool_metrics_event(f, now_ms() - 20 * DAY, "m1", 999, 9); /* outside CloudWatch's window */
    assert_int_equal(run(f, &st, &e), BROCK_OK);
    assert_false(f->cw.emf_header);
    assert_true(st.metric_requests >= 1);
    assert_int_equal(st.metric_failures, 0);
    assert_string_equal(f->cw.namespace_, "Brock");
    /* sum InputTokens per dimension set from the datums */
    double total = 0, m1 = 0, cost = 0;
    size_t i;
    json_t *d;
    json_array_foreach(f->cw.datums, i, d)
    {
        const char *name = json_string_value(json_object_get(d, "MetricName"));
        json_t *dims = json_object_get(d, "Dimensions");
        json_t *vals = json_object_get(d, "Values"), *cnts = json_object_get(d, "Counts");
        assert_int_equal(json_array_size(vals), json_array_size(cnts));
        assert_int_equal(json_integer_value(json_object_get(d, "Timestamp")), minute / 1000);
        double sum = 0;
        for (size_t k = 0; k < json_array_size(vals); k++)
            sum += json_number_value(json_array_get(vals, k)) * json_number_value(json_array_get(cnts, k));
        if (!strcmp(name, "InputTokens") && json_array_size(dims) == 0)
            total += sum;
        if (!strcmp(name, "InputTokens") && json_array_size(dims) == 1 &&
            !strcmp(json_string_value(json_object_get(json_array_get(dims, 0), "Value")), "m1"))
            m1 += sum;
        if (!strcmp(name, "CostUSD") && json_array_size(dims) == 0) {
            cost += sum;
            assert_string_equal(json_string_value(json_object_get(d, "Unit")), "None");
        }
    }
    assert_true(total == 40);
    assert_true(m1 == 30);
    assert_true(cost == 1.0);
    assert_int_equal(f->cw.n, 4); /* every event is logged; the 20-day-old one is rejected as too old */
    assert_int_equal(st.rejected_too_old, 1);
}

/* ---- the worker thread ----------------------------------------------------------------------- */

static void test_background_worker(void **state)
{
    struct fx *f = *state;
    struct shipper_bg_config bc = {
        .store_dir = f->dir, .client = client_config(f), .cfg = f->cfg, .host = "h", .user = "u"};
    bc.cfg.interval_ms = 60000;
    struct shipper_bg *b;
    struct brock_err e = {0};
    assert_int_equal(shipper_bg_start(&bc, &b, &e), BROCK_OK);
    spool_n(f, 5, now_ms() - 60000, 1, 8);
    shipper_bg_kick(b);
    for (int i = 0; i < 200 && spooled(f) > 0; i++)
        usleep(10000);
    assert_int_equal(spooled(f), 0);
    spool_n(f, 2, now_ms() - 60000, 1, 8);
    struct shipper_stats total;
    shipper_bg_stop(b, 2000, &total, &e); /* the last run ships these */
    assert_int_equal(spooled(f), 0);
    assert_int_equal(total.shipped, 7);
    assert_int_equal(f->cw.n, 7);
    shipper_bg_kick(NULL);
    shipper_bg_stop(NULL, 0, NULL, NULL);
}

static void test_ship_for_deadline(void **state)
{
    struct fx *f = *state;
    struct shipper_bg_config bc = {
        .store_dir = f->dir, .client = client_config(f), .cfg = f->cfg, .host = "h", .user = "u"};
    spool_n(f, 3, now_ms() - 60000, 1, 8);
    f->cw.delay_ms = 3000;
    struct shipper_stats st;
    struct brock_err e = {0};
    int64_t t0 = time_mono_ms();
    assert_int_equal(shipper_ship_for(&bc, 300, &st, &e), BROCK_OK);
    int64_t took = time_mono_ms() - t0;
    assert_true(took < 1500);
    assert_true(st.deadline_hit);
    assert_int_equal(spooled(f), 3); /* not accepted in time: kept */
    f->cw.delay_ms = 0;
    assert_int_equal(shipper_ship_for(&bc, 5000, &st, &e), BROCK_OK);
    assert_int_equal(st.shipped, 3);
    assert_int_equal(spooled(f), 0);
    /* the fake stored the first (cut) call too: a duplicate, never a loss */
    assert_true(f->cw.n >= 3);
}

/* ---- SIGKILL at random points ----------------------------------------------------------------- */

static void child_ship(struct fx *f)
{
    /* a fresh store handle and client in the child */
    struct store_options so = {.dir = f->dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&so, &s, &e) != BROCK_OK)
        _exit(3);
    struct aws_client_config cc = client_config(f);
    struct aws_client *c = aws_client_new(&cc);
    struct shipper_options o = f->o;
    o.store = s;
    o.client = c;
    struct shipper_stats st;
    enum brock_status rc = shipper_run(&o, &st, &e);
    _exit(rc == BROCK_OK ? 0 : 4);
}

static void test_sigkill_loses_nothing(void **state)
{
    struct fx *f = *state;
    const int ROUNDS = 25, PER_ROUND = 40, FIRST = 100;
    f->o.limits = (struct shipper_limits){.max_events = 7};
    /* each answer comes 10 ms after the events were stored, so a round's 40 new events (6 calls at
     * 7 a call) take longer to ship than the 0-50 ms the parent waits before its SIGKILL: nearly
     * every child dies mid-run, even on a fast host (with 3 ms a CI run saw fewer than half) */
    f->cw.delay_ms = 10;
    spool_n(f, (size_t)FIRST, now_ms() - 60000, 1, 40);
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    int killed = 0, finished = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < PER_ROUND; k++) {
            char m[64];
            snprintf(m, sizeof m, "round-%02d-%03d:appended", round, k);
            spool(f, now_ms() - 30000 + k, m, 0);
        }
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_ship(f);
        usleep((useconds_t)(rand() % 50000)); /* 0-50 ms into the run */
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status))
            killed++;
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            finished++;
    }
    struct shipper_stats st;
    struct brock_err e;
    f->cw.delay_ms = 0;
    assert_int_equal(run(f, &st, &e), BROCK_OK); /* the restart ships the rest */
    assert_int_equal(spooled(f), 0);
    /* every event arrived at least once */
    size_t want = (size_t)(FIRST + ROUNDS * PER_ROUND), missing = 0, dups = 0, unexpected = 0;
    char *seen = xcalloc(want, 1);
    for (size_t i = 0; i < f->cw.n; i++) {
        const char *m = f->cw.ev[i].msg;
        size_t k;
        int r, j;
        if (sscanf(m, "event-%zu:", &k) == 1 && k < (size_t)FIRST)
            ;
        else if (sscanf(m, "round-%d-%d:", &r, &j) == 2 && r >= 0 && r < ROUNDS && j >= 0 && j < PER_ROUND)
            k = (size_t)(FIRST + r * PER_ROUND + j);
        else {
            unexpected++;
            continue;
        }
        if (seen[k])
            dups++;
        seen[k] = 1;
    }
    for (size_t k = 0; k < want; k++)
        missing += !seen[k];
    free(seen);
    print_message("# SIGKILL loop (seed %u): %d rounds, %d killed while shipping, %d finished first; %zu events, "
                  "%zu lost, %zu duplicates\n",
                  seed, ROUNDS, killed, finished, want, missing, dups);
    assert_int_equal(unexpected, 0);
    assert_int_equal(missing, 0);
    assert_true(killed >= ROUNDS / 2);
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
        cmocka_unit_test_setup_teardown(test_count_limit_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_limit_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multibyte_counted_in_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_span_limit_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_per_day_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_and_stable_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_event_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_scripted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_by_time_windows, setup, teardown),
        cmocka_unit_test(test_parse_answer),
        cmocka_unit_test_setup_teardown(test_failures_keep_the_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appends_during_shipping_are_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttling_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creates_group_and_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_event_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_already_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_deadline_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emf_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_metric_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ship_for_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_loses_nothing, setup, teardown),
    };
    int rc = cmocka_run_group_tests_name("monitor_shipper", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
