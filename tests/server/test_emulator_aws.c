/* Tests for the emulator's AWS services besides Bedrock Runtime
 * (src/server/emulator_{logs,cloudwatch,control,iam}.c): CloudWatch Logs with
 * every PutLogEvents limit at its boundary, EMF extraction, CloudWatch
 * metrics (awsJson1_0 and awsQuery), alarms, dashboards, metric math, the
 * Bedrock control plane (invocation logging, inference profiles, foundation
 * models) and the IAM role calls.
 *
 * The emulator runs in-process on loopback with a pinned clock; requests go
 * through brock's own client (aws_client_send: endpoint, SigV4 with the
 * service's signing name, retries, AWS's error parsing) so both sides meet
 * on the wire. IAM has no endpoint in brock's table, so its requests are
 * signed with the SigV4 signer and sent with http_send. Expected messages are
 * the services' own (aws-wire-reference.md 6.1, 9; the service models),
 * written down here by hand. */
#define EMULATOR_INTERNAL
#include "../support/test.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../src/aws/client.h"
#include "../../src/aws/crypto.h"
#include "../../src/aws/http.h"
#include "../../src/aws/retry.h"
#include "../../src/aws/sigv4.h"
#include "../../src/bedrock/catalog.h"
#include "../../src/server/emulator.h"
#include "../../src/server/emulator_aws.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"
#include "../../src/util/codec.h"
#include "../../src/util/log.h"
#include "../../src/util/timeutil.h"

#define EX_AKID "AKIDEXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z: the pinned "now" */
#define HOUR (3600 * 1000LL)
#define DAY (24 * HOUR)

/* ------------------------------------------------------------------ */
/* fixture                                                              */

static _Atomic int64_t now_ms = T0;

static int64_t fixed_now(void *ctx)
{
    (void)ctx;
    return atomic_load(&now_ms);
}

static void no_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    (void)ms;
}

static const struct clock pinned = {fixed_now, no_sleep, NULL};

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct buf log_text = BUF_INIT((size_t)64 * 1024 * 1024);

static void log_sink(void *ctx, enum log_level level, const char *line)
{
    (void)ctx;
    (void)level;
    pthread_mutex_lock(&log_mu);
    buf_addstr(&log_text, line);
    buf_addc(&log_text, '\n');
    pthread_mutex_unlock(&log_mu);
}

struct fx {
    struct emulator *em;
    struct aws_credentials *creds;
    struct retry_policy *retry;
    struct aws_client *c;
    struct http_client *http;
    struct sigv4_signer *signer;
    char region[32];
};

static void fx_client(struct fx *f, const char *region, bool retries, const char *bearer)
{
    aws_client_free(f->c);
    retry_policy_free(f->retry);
    f->retry = NULL;
    if (retries) {
        struct retry_config rc;
        retry_config_init(&rc);
        rc.clock = &pinned;
        f->retry = retry_policy_new(&rc);
    }
    snprintf(f->region, sizeof f->region, "%s", region);
    struct aws_client_config cfg = {
        .region = region,
        .endpoint_url = emulator_url(f->em),
        .creds = aws_creds_source_static(f->creds),
        .bearer_token = bearer,
        .retry = f->retry,
        .clock = &pinned,
    };
    f->c = aws_client_new(&cfg);
}

static void fx_up(struct fx *f)
{
    memset(f, 0, sizeof *f);
    atomic_store(&now_ms, T0);
    struct emulator_options o = {.clock = &pinned};
    struct brock_err e = {0};
    if (emulator_start(&o, &f->em, &e) != BROCK_OK)
        fail_msg("emulator_start: %s", e.msg);
    f->creds = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "test");
    f->http = http_client_new(NULL);
    f->signer = sigv4_signer_new();
    fx_client(f, "us-east-1", false, NULL);
}

static void fx_down(struct fx *f)
{
    aws_client_free(f->c);
    retry_policy_free(f->retry);
    aws_credentials_release(f->creds);
    http_client_free(f->http);
    sigv4_signer_free(f->signer);
    emulator_stop(f->em);
}

/* One answer. */
struct ans {
    enum brock_status st;
    struct brock_err e;
    long status;
    int attempts;
    char *body;
    json_t *json;
    char query_error[160];
};

static void ans_free(struct ans *a)
{
    free(a->body);
    json_decref(a->json);
    memset(a, 0, sizeof *a);
}

static struct ans send_aws(struct fx *f, enum endpoint_service svc, const char *method, const char *path,
                           const char *query, const char *target, const char *ctype, const char *body,
                           enum awserr_protocol proto)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    if (ctype)
        http_headers_add(&h, "Content-Type", ctype, NULL);
    if (target)
        http_headers_add(&h, "X-Amz-Target", target, NULL);
    struct aws_request req = {.service = svc,
                              .method = method,
                              .path = path,
                              .query = query,
                              .headers = &h,
                              .body = body,
                              .body_len = body ? strlen(body) : 0,
                              .protocol = proto};
    struct aws_response r;
    aws_response_init(&r);
    struct ans a;
    memset(&a, 0, sizeof a);
    a.st = aws_client_send(f->c, &req, &r, &a.e);
    a.status = r.http.status;
    a.attempts = r.attempts;
    a.body = xstrdup(buf_cstr(&r.http.body));
    const char *qe = http_headers_get(&r.http.headers, "x-amzn-query-error");
    if (qe)
        snprintf(a.query_error, sizeof a.query_error, "%s", qe);
    a.json = json_loads(a.body, 0, NULL);
    aws_response_free(&r);
    http_headers_cleanup(&h);
    return a;
}

static struct ans logs(struct fx *f, const char *op, const char *body)
{
    char target[96];
    snprintf(target, sizeof target, "Logs_20140328.%s", op);
    return send_aws(f, ENDPOINT_SVC_LOGS, "POST", "/", NULL, target, "application/x-amz-json-1.1", body,
                    AWSERR_AWS_JSON);
}

static struct ans logsf(struct fx *f, const char *op, const char *fmt, ...) BROCK_PRINTF(3, 4);
static struct ans logsf(struct fx *f, const char *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *body = NULL;
    if (vasprintf(&body, fmt, ap) < 0)
        fail_msg("vasprintf");
    va_end(ap);
    struct ans a = logs(f, op, body);
    free(body);
    return a;
}

static struct ans cw_json(struct fx *f, const char *op, const char *body)
{
    char target[96];
    snprintf(target, sizeof target, "GraniteServiceVersion20100801.%s", op);
    return send_aws(f, ENDPOINT_SVC_MONITORING, "POST", "/", NULL, target, "application/x-amz-json-1.0", body,
                    AWSERR_AWS_JSON);
}

static struct ans cw_query(struct fx *f, const char *body)
{
    return send_aws(f, ENDPOINT_SVC_MONITORING, "POST", "/", NULL, NULL,
                    "application/x-www-form-urlencoded; charset=utf-8", body, AWSERR_QUERY);
}

static struct ans ctl(struct fx *f, const char *method, const char *path, const char *query, const char *body)
{
    return send_aws(f, ENDPOINT_SVC_BEDROCK, method, path, query, NULL, body ? "application/json" : NULL, body,
                    AWSERR_REST_JSON);
}

/* IAM: sign for `service` (normally "iam") and send with http_send. */
static struct ans iam_as(struct fx *f, const char *service, const char *body)
{
    const char *url = emulator_url(f->em);
    const char *host = url + strlen("http://");
    struct sigv4_header hs[] = {
        {"host", 4, host, strlen(host)},
        {"content-type", 12, "application/x-www-form-urlencoded; charset=utf-8", 48},
    };
    struct sigv4_request sr = {.method = "POST",
                               .path = "/",
                               .path_len = 1,
                               .headers = hs,
                               .n_headers = 2,
                               .body = body,
                               .body_len = strlen(body)};
    struct sigv4_params sp = {.creds = f->creds, .region = "us-east-1", .service = service, .time_s = T0 / 1000};
    const struct sigv4_output *so;
    struct ans a;
    memset(&a, 0, sizeof a);
    assert_int_equal(sigv4_sign_headers(f->signer, &sr, &sp, &so, &a.e), BROCK_OK);
    struct http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8", NULL);
    for (size_t i = 0; i < so->n_headers; i++)
        http_headers_addn(&h, so->headers[i].name, so->headers[i].name_len, so->headers[i].value,
                          so->headers[i].value_len, NULL);
    char full[128];
    snprintf(full, sizeof full, "%s/", url);
    struct http_request hr = {.method = "POST", .url = full, .headers = &h, .body = body, .body_len = strlen(body)};
    struct http_response r;
    http_response_init(&r);
    a.st = http_send(f->http, &hr, &r, &a.e);
    a.status = r.status;
    a.body = xstrdup(buf_cstr(&r.body));
    if (a.st == BROCK_OK && (r.status < 200 || r.status > 299))
        a.st = awserr_from_response(AWSERR_QUERY, &r, &a.e);
    http_response_free(&r);
    http_headers_cleanup(&h);
    return a;
}

static struct ans iam(struct fx *f, const char *body)
{
    return iam_as(f, "iam", body);
}

/* An unauthenticated control-endpoint GET. */
static json_t *control_get(struct fx *f, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", emulator_url(f->em), path);
    struct http_request hr = {.method = "GET", .url = url};
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    assert_int_equal(http_send(f->http, &hr, &r, &e), BROCK_OK);
    assert_int_equal(r.status, 200);
    json_t *v = json_loads(buf_cstr(&r.body), 0, NULL);
    http_response_free(&r);
    assert_non_null(v);
    return v;
}

static void expect_ok(const struct ans *a)
{
    if (a->st != BROCK_OK)
        fail_msg("expected success, got HTTP %ld: %s", a->status, a->e.msg);
}

/* An AWS error: status, the code brock's parser found, and (if given) a
 * substring of the message. */
static void expect_err_(const struct ans *a, long status, const char *code, const char *msg, int line)
{
    if (a->st == BROCK_OK || a->status != status || strcmp(a->e.aws_code, code) || (msg && !strstr(a->e.msg, msg)))
        fail_msg("line %d: wanted %ld %s \"%s\", got HTTP %ld [%s] %s | body %.400s", line, status, code,
                 msg ? msg : "", a->status, a->e.aws_code, a->e.msg, a->body ? a->body : "");
}
#define expect_err(a, status, code, msg) expect_err_((a), (status), (code), (msg), __LINE__)

/* A member by dotted path, "a.b.0.c" (numbers index arrays). Borrowed. */
static const json_t *jget(const json_t *v, const char *path)
{
    char tmp[256], *save = NULL;
    snprintf(tmp, sizeof tmp, "%s", path);
    const json_t *cur = v;
    for (char *tok = strtok_r(tmp, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, strtoul(tok, NULL, 10));
        else
            cur = json_object_get(cur, tok);
    }
    return cur;
}

static const char *jstr(const json_t *v, const char *path)
{
    const json_t *x = jget(v, path);
    return json_is_string(x) ? json_string_value(x) : NULL;
}

static int64_t jint(const json_t *v, const char *path)
{
    const json_t *x = jget(v, path);
    if (!json_is_integer(x))
        fail_msg("%s is not an integer", path);
    return json_integer_value(x);
}

static void mk_group_stream(struct fx *f, const char *group, const char *stream)
{
    struct ans a = logsf(f, "CreateLogGroup", "{\"logGroupName\":\"%s\"}", group);
    expect_ok(&a);
    ans_free(&a);
    if (stream) {
        a = logsf(f, "CreateLogStream", "{\"logGroupName\":\"%s\",\"logStreamName\":\"%s\"}", group, stream);
        expect_ok(&a);
        ans_free(&a);
    }
}

/* A PutLogEvents body of n events, messages of `len` bytes ('a'), at ts. */
static char *events_body(const char *group, const char *stream, size_t n, size_t len, int64_t ts)
{
    struct buf b = BUF_INIT((size_t)64 * 1024 * 1024);
    buf_addf(&b, "{\"logGroupName\":\"%s\",\"logStreamName\":\"%s\",\"logEvents\":[", group, stream);
    char *msg = xmalloc(len + 1);
    memset(msg, 'a', len);
    msg[len] = '\0';
    for (size_t i = 0; i < n; i++)
        buf_addf(&b, "%s{\"timestamp\":%lld,\"message\":\"%s\"}", i ? "," : "", (long long)ts, msg);
    buf_addstr(&b, "]}");
    free(msg);
    assert_int_equal(buf_status(&b), BROCK_OK);
    return buf_take(&b);
}

static size_t stored_events(struct fx *f, const char *group, const char *stream)
{
    struct ans a = logsf(f, "GetLogEvents",
                         "{\"logGroupName\":\"%s\",\"logStreamName\":\"%s\",\"startFromHead\":true,\"limit\":10000}",
                         group, stream);
    expect_ok(&a);
    size_t n = json_array_size(json_object_get(a.json, "events"));
    ans_free(&a);
    return n;
}

/* ------------------------------------------------------------------ */
/* CloudWatch Logs                                                      */

static void test_logs_groups_and_streams(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "/brock/audit", "host-1/alice/2026-01-01");
    struct ans a = logs(&f, "CreateLogGroup", "{\"logGroupName\":\"/brock/audit\"}");
    expect_err(&a, 400, "ResourceAlreadyExistsException", "The specified log group already exists");
    assert_string_equal(jstr(a.json, "__type"), "ResourceAlreadyExistsException");
    ans_free(&a);
    a = logs(&f, "CreateLogGroup", "{\"logGroupName\":\"bad name\"}");
    expect_err(&a, 400, "InvalidParameterException",
               "1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy constraint: Member "
               "must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
    ans_free(&a);
    /* 512 characters is the longest name */
    char name[600];
    memset(name, 'g', 513);
    name[512] = '\0';
    a = logsf(&f, "CreateLogGroup", "{\"logGroupName\":\"%s\"}", name);
    expect_ok(&a);
    ans_free(&a);
    name[512] = 'g';
    name[513] = '\0';
    a = logsf(&f, "CreateLogGroup", "{\"logGroupName\":\"%s\"}", name);
    expect_err(&a, 400, "InvalidParameterException", "Member must have length less than or equal to 512");
    ans_free(&a);
    a = logs(&f, "CreateLogGroup", "{}");
    expect_err(&a, 400, "InvalidParameterException",
               "1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must "
               "not be null");
    ans_free(&a);
    a = logs(&f, "CreateLogGroup", "{\"logGroupName\":\"x\",\"logGroupClass\":\"CHEAP\"}");
    expect_err(&a, 400, "InvalidParameterException", "[STANDARD, INFREQUENT_ACCESS, DELIVERY]");
    ans_free(&a);
    a = logs(&f, "CreateLogGroup", "{\"logGroupName\":\"[not json");
    expect_err(&a, 400, "SerializationException", NULL);
    ans_free(&a);

    /* streams */
    a = logs(&f, "CreateLogStream", "{\"logGroupName\":\"/brock/audit\",\"logStreamName\":\"host-1/alice/2026-01-01\"}");
    expect_err(&a, 400, "ResourceAlreadyExistsException", "The specified log stream already exists");
    ans_free(&a);
    a = logs(&f, "CreateLogStream", "{\"logGroupName\":\"/nope\",\"logStreamName\":\"s\"}");
    expect_err(&a, 400, "ResourceNotFoundException", "The specified log group does not exist.");
    ans_free(&a);
    a = logs(&f, "CreateLogStream", "{\"logGroupName\":\"/brock/audit\",\"logStreamName\":\"a:b\"}");
    expect_err(&a, 400, "InvalidParameterException", "Member must satisfy regular expression pattern: [^:*]*");
    ans_free(&a);
    for (int i = 0; i < 5; i++) {
        a = logsf(&f, "CreateLogStream", "{\"logGroupName\":\"/brock/audit\",\"logStreamName\":\"s%d\"}", i);
        expect_ok(&a);
        ans_free(&a);
    }
    /* DescribeLogStreams pages through all six, each once, in name order */
    const char *want[] = {"host-1/alice/2026-01-01", "s0", "s1", "s2", "s3", "s4"};
    size_t seen = 0;
    char *tok = NULL;
    for (int page = 0; page < 10; page++) {
        if (tok)
            a = logsf(&f, "DescribeLogStreams", "{\"logGroupName\":\"/brock/audit\",\"limit\":4,\"nextToken\":\"%s\"}",
                      tok);
        else
            a = logs(&f, "DescribeLogStreams", "{\"logGroupName\":\"/brock/audit\",\"limit\":4}");
        expect_ok(&a);
        const json_t *ls = json_object_get(a.json, "logStreams");
        for (size_t i = 0; i < json_array_size(ls); i++)
            assert_string_equal(json_string_value(json_object_get(json_array_get(ls, i), "logStreamName")),
                                want[seen++]);
        free(tok);
        tok = jstr(a.json, "nextToken") ? xstrdup(jstr(a.json, "nextToken")) : NULL;
        ans_free(&a);
        if (!tok)
            break;
    }
    assert_int_equal(seen, 6);
    a = logs(&f, "DescribeLogStreams", "{\"logGroupName\":\"/brock/audit\",\"limit\":50}");
    expect_ok(&a);
    ans_free(&a);
    a = logs(&f, "DescribeLogStreams", "{\"logGroupName\":\"/brock/audit\",\"limit\":51}");
    expect_err(&a, 400, "InvalidParameterException", "Member must have value less than or equal to 50");
    ans_free(&a);
    a = logs(&f, "DescribeLogStreams",
             "{\"logGroupName\":\"/brock/audit\",\"orderBy\":\"LastEventTime\",\"logStreamNamePrefix\":\"s\"}");
    expect_err(&a, 400, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.");
    ans_free(&a);
    a = logs(&f, "DescribeLogStreams", "{\"logGroupName\":\"/brock/audit\",\"logStreamNamePrefix\":\"s3\"}");
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "logStreams")), 1);
    assert_string_equal(jstr(a.json, "logStreams.0.arn"),
                        "arn:aws:logs:us-east-1:123456789012:log-group:/brock/audit:log-stream:s3");
    ans_free(&a);

    /* DescribeLogGroups: prefix and pagination over the name order */
    for (int i = 0; i < 4; i++) {
        a = logsf(&f, "CreateLogGroup", "{\"logGroupName\":\"/brock/p%d\"}", i);
        expect_ok(&a);
        ans_free(&a);
    }
    seen = 0;
    for (int page = 0; page < 10; page++) {
        if (tok)
            a = logsf(&f, "DescribeLogGroups", "{\"logGroupNamePrefix\":\"/brock/p\",\"limit\":3,\"nextToken\":\"%s\"}",
                      tok);
        else
            a = logs(&f, "DescribeLogGroups", "{\"logGroupNamePrefix\":\"/brock/p\",\"limit\":3}");
        expect_ok(&a);
        const json_t *lg = json_object_get(a.json, "logGroups");
        for (size_t i = 0; i < json_array_size(lg); i++) {
            char w[32];
            snprintf(w, sizeof w, "/brock/p%zu", seen++);
            assert_string_equal(jstr(json_array_get(lg, i), "logGroupName"), w);
        }
        free(tok);
        tok = jstr(a.json, "nextToken") ? xstrdup(jstr(a.json, "nextToken")) : NULL;
        ans_free(&a);
        if (!tok)
            break;
    }
    assert_int_equal(seen, 4);
    a = logs(&f, "DescribeLogGroups", "{\"nextToken\":\"bogus\"}");
    expect_err(&a, 400, "InvalidParameterException", "The specified nextToken is invalid.");
    ans_free(&a);
    a = logs(&f, "DescribeLogGroups", "{\"logGroupNamePrefix\":\"/brock/audit\"}");
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "logGroups.0.arn"), "arn:aws:logs:us-east-1:123456789012:log-group:/brock/audit:*");
    assert_int_equal(jint(a.json, "logGroups.0.creationTime"), T0);
    ans_free(&a);

    /* deletes */
    a = logs(&f, "DeleteLogStream", "{\"logGroupName\":\"/brock/audit\",\"logStreamName\":\"s0\"}");
    expect_ok(&a);
    ans_free(&a);
    a = logs(&f, "DeleteLogStream", "{\"logGroupName\":\"/brock/audit\",\"logStreamName\":\"s0\"}");
    expect_err(&a, 400, "ResourceNotFoundException", "The specified log stream does not exist.");
    ans_free(&a);
    a = logs(&f, "DeleteLogGroup", "{\"logGroupName\":\"/brock/audit\"}");
    expect_ok(&a);
    ans_free(&a);
    a = logs(&f, "DeleteLogGroup", "{\"logGroupName\":\"/brock/audit\"}");
    expect_err(&a, 400, "ResourceNotFoundException", "The specified log group does not exist.");
    ans_free(&a);
    a = logs(&f, "TagLogGroup", "{}");
    expect_err(&a, 400, "UnknownOperationException", "TagLogGroup");
    ans_free(&a);
    fx_down(&f);
}

static void test_logs_retention_values(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", NULL);
    static const int ok_days[] = {1,   3,   5,   7,    14,   30,   60,   90,   120,  150,  180,
                                  365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
    for (size_t i = 0; i < sizeof ok_days / sizeof ok_days[0]; i++) {
        struct ans a = logsf(&f, "PutRetentionPolicy", "{\"logGroupName\":\"g\",\"retentionInDays\":%d}", ok_days[i]);
        expect_ok(&a);
        ans_free(&a);
    }
    static const int bad_days[] = {0, 2, 4, 31, 366, 3654, -1};
    for (size_t i = 0; i < sizeof bad_days / sizeof bad_days[0]; i++) {
        struct ans a = logsf(&f, "PutRetentionPolicy", "{\"logGroupName\":\"g\",\"retentionInDays\":%d}", bad_days[i]);
        char m[400];
        snprintf(m, sizeof m,
                 "1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member "
                 "must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, "
                 "1827, 2192, 2557, 2922, 3288, 3653]",
                 bad_days[i]);
        expect_err(&a, 400, "InvalidParameterException", m);
        ans_free(&a);
    }
    struct ans a = logs(&f, "PutRetentionPolicy", "{\"logGroupName\":\"nope\",\"retentionInDays\":30}");
    expect_err(&a, 400, "ResourceNotFoundException", "The specified log group does not exist.");
    ans_free(&a);
    a = logs(&f, "PutRetentionPolicy", "{\"logGroupName\":\"g\"}");
    expect_err(&a, 400, "InvalidParameterException", "Value null at 'retentionInDays'");
    ans_free(&a);
    a = logs(&f, "DescribeLogGroups", "{}");
    assert_int_equal(jint(a.json, "logGroups.0.retentionInDays"), 3653);
    ans_free(&a);
    a = logs(&f, "DeleteRetentionPolicy", "{\"logGroupName\":\"g\"}");
    expect_ok(&a);
    ans_free(&a);
    a = logs(&f, "DescribeLogGroups", "{}");
    assert_null(jget(a.json, "logGroups.0.retentionInDays"));
    ans_free(&a);
    fx_down(&f);
}

static void test_put_events_count_limit(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", "s");
    char *b = events_body("g", "s", 10000, 10, T0);
    struct ans a = logs(&f, "PutLogEvents", b);
    expect_ok(&a);
    assert_null(json_object_get(a.json, "rejectedLogEventsInfo"));
    assert_non_null(jstr(a.json, "nextSequenceToken"));
    ans_free(&a);
    free(b);
    assert_int_equal(stored_events(&f, "g", "s"), 10000);
    b = events_body("g", "s", 10001, 10, T0);
    a = logs(&f, "PutLogEvents", b);
    expect_err(&a, 400, "InvalidParameterException",
               "at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000");
    ans_free(&a);
    free(b);
    a = logs(&f, "PutLogEvents", "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[]}");
    expect_err(&a, 400, "InvalidParameterException", "Member must have length greater than or equal to 1");
    ans_free(&a);
    assert_int_equal(stored_events(&f, "g", "s"), 10000);
    fx_down(&f);
}

static void test_put_events_size_limits(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", "s");
    /* 26 bytes per event count: 10,000 events of 78 bytes = 1,040,000 fit,
     * of 79 bytes = 1,050,000 do not although the messages alone would */
    char *b = events_body("g", "s", 10000, 78, T0);
    struct ans a = logs(&f, "PutLogEvents", b);
    expect_ok(&a);
    ans_free(&a);
    free(b);
    b = events_body("g", "s", 10000, 79, T0);
    a = logs(&f, "PutLogEvents", b);
    expect_err(&a, 400, "InvalidParameterException", "Upload too large: 1050000 bytes exceeds limit of 1048576");
    ans_free(&a);
    free(b);
    /* exactly 1,048,576 with the overhead: two events of 524,262 bytes */
    b = events_body("g", "s", 2, 524262, T0);
    a = logs(&f, "PutLogEvents", b);
    expect_ok(&a);
    ans_free(&a);
    free(b);
    /* one byte over: 524,262 + 524,263 bytes of messages */
    struct buf one = BUF_INIT((size_t)4 << 20);
    buf_addf(&one, "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"",
             (long long)T0);
    for (int i = 0; i < 524262; i++)
        buf_addc(&one, 'a');
    buf_addf(&one, "\"},{\"timestamp\":%lld,\"message\":\"", (long long)T0);
    for (int i = 0; i < 524263; i++)
        buf_addc(&one, 'b');
    buf_addstr(&one, "\"}]}");
    a = logs(&f, "PutLogEvents", buf_cstr(&one));
    expect_err(&a, 400, "InvalidParameterException", "Upload too large: 1048577 bytes exceeds limit of 1048576");
    ans_free(&a);
    buf_free(&one);
    /* one event: 1,048,550 bytes + 26 is the largest */
    b = events_body("g", "s", 1, 1048550, T0);
    a = logs(&f, "PutLogEvents", b);
    expect_ok(&a);
    ans_free(&a);
    free(b);
    b = events_body("g", "s", 1, 1048551, T0);
    a = logs(&f, "PutLogEvents", b);
    expect_err(&a, 400, "InvalidParameterException", "Log event too large: 1048577 bytes exceeds limit of 1048576");
    ans_free(&a);
    free(b);
    /* UTF-8 bytes, not characters: 349,525 x "\u00e9" (2 bytes) = 699,050
     * bytes, + 26 = 699,076; with a second event of 349,500 it is over */
    struct buf big = BUF_INIT((size_t)16 << 20);
    buf_addstr(&big, "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":");
    buf_addf(&big, "%lld,\"message\":\"", (long long)T0);
    for (int i = 0; i < 349525; i++)
        buf_addstr(&big, "\xc3\xa9");
    buf_addf(&big, "\"},{\"timestamp\":%lld,\"message\":\"", (long long)T0);
    for (int i = 0; i < 349500; i++)
        buf_addc(&big, 'x');
    buf_addstr(&big, "\"}]}");
    a = logs(&f, "PutLogEvents", buf_cstr(&big));
    expect_err(&a, 400, "InvalidParameterException", "Upload too large: 1048602 bytes exceeds limit of 1048576");
    ans_free(&a);
    buf_free(&big);
    assert_int_equal(stored_events(&f, "g", "s") > 0, 1);
    fx_down(&f);
}

static void test_put_events_order_and_span(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", "s");
    struct ans a = logsf(&f, "PutLogEvents",
                         "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,"
                         "\"message\":\"b\"},{\"timestamp\":%lld,\"message\":\"a\"}]}",
                         (long long)T0, (long long)(T0 - 1));
    expect_err(&a, 400, "InvalidParameterException",
               "Log events in a single PutLogEvents request must be in chronological order.");
    ans_free(&a);
    /* equal timestamps are in order */
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"1\"},"
              "{\"timestamp\":%lld,\"message\":\"2\"}]}",
              (long long)T0, (long long)T0);
    expect_ok(&a);
    ans_free(&a);
    /* a span of exactly 24 h is accepted, one millisecond more is not */
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"x\"},"
              "{\"timestamp\":%lld,\"message\":\"y\"}]}",
              (long long)(T0 - DAY), (long long)T0);
    expect_ok(&a);
    ans_free(&a);
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"x\"},"
              "{\"timestamp\":%lld,\"message\":\"y\"}]}",
              (long long)(T0 - DAY - 1), (long long)T0);
    expect_err(&a, 400, "InvalidParameterException",
               "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
    ans_free(&a);
    /* the span counts the events that are not rejected: a 15-day-old event
     * before two recent ones is set aside, the rest span 1 h */
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"old\"},"
              "{\"timestamp\":%lld,\"message\":\"m\"},{\"timestamp\":%lld,\"message\":\"n\"}]}",
              (long long)(T0 - 15 * DAY), (long long)(T0 - HOUR), (long long)T0);
    expect_ok(&a);
    assert_int_equal(jint(a.json, "rejectedLogEventsInfo.tooOldLogEventEndIndex"), 1);
    ans_free(&a);
    assert_int_equal(stored_events(&f, "g", "s"), 6);
    fx_down(&f);
}

static void test_put_events_rejected_info(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", "s");
    /* exactly 14 days old and exactly 2 h ahead are accepted */
    struct ans a =
        logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"e\"}]}",
              (long long)(T0 - 14 * DAY));
    expect_ok(&a);
    assert_null(json_object_get(a.json, "rejectedLogEventsInfo"));
    ans_free(&a);
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"e\"}]}",
              (long long)(T0 + 2 * HOUR));
    expect_ok(&a);
    assert_null(json_object_get(a.json, "rejectedLogEventsInfo"));
    ans_free(&a);
    assert_int_equal(stored_events(&f, "g", "s"), 2);
    /* [too old, too old, ok, ok, too new, too new]: indexes 2 (end, exclusive) and 4 (start) */
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":["
              "{\"timestamp\":%lld,\"message\":\"old1\"},{\"timestamp\":%lld,\"message\":\"old2\"},"
              "{\"timestamp\":%lld,\"message\":\"keep1\"},{\"timestamp\":%lld,\"message\":\"keep2\"},"
              "{\"timestamp\":%lld,\"message\":\"new1\"},{\"timestamp\":%lld,\"message\":\"new2\"}]}",
              (long long)(T0 - 14 * DAY - 2), (long long)(T0 - 14 * DAY - 1), (long long)(T0 - HOUR), (long long)T0,
              (long long)(T0 + 2 * HOUR + 1), (long long)(T0 + 3 * HOUR));
    expect_ok(&a);
    assert_int_equal(jint(a.json, "rejectedLogEventsInfo.tooOldLogEventEndIndex"), 2);
    assert_int_equal(jint(a.json, "rejectedLogEventsInfo.tooNewLogEventStartIndex"), 4);
    assert_null(jget(a.json, "rejectedLogEventsInfo.expiredLogEventEndIndex"));
    ans_free(&a);
    /* only keep1 and keep2 were stored */
    a = logs(&f, "GetLogEvents", "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"startFromHead\":true}");
    expect_ok(&a);
    const json_t *ev = json_object_get(a.json, "events");
    assert_int_equal(json_array_size(ev), 4);
    /* in time order: the 14-day-old one, keep1, keep2, the 2-h-ahead one */
    assert_string_equal(jstr(ev, "1.message"), "keep1");
    assert_string_equal(jstr(ev, "2.message"), "keep2");
    assert_int_equal(jint(ev, "2.ingestionTime"), T0);
    ans_free(&a);
    /* a one-day retention: a two-day-old event is expired */
    a = logs(&f, "PutRetentionPolicy", "{\"logGroupName\":\"g\",\"retentionInDays\":1}");
    expect_ok(&a);
    ans_free(&a);
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"x\"},"
              "{\"timestamp\":%lld,\"message\":\"edge\"},{\"timestamp\":%lld,\"message\":\"y\"}]}",
              (long long)(T0 - DAY - 1), (long long)(T0 - DAY), (long long)(T0 - 1));
    expect_ok(&a);
    /* one millisecond past the retention is expired, exactly at it is kept */
    assert_int_equal(jint(a.json, "rejectedLogEventsInfo.expiredLogEventEndIndex"), 1);
    assert_null(jget(a.json, "rejectedLogEventsInfo.tooOldLogEventEndIndex"));
    ans_free(&a);
    /* all rejected: nothing stored, still a success */
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"x\"}]}",
              (long long)(T0 + DAY));
    expect_ok(&a);
    assert_int_equal(jint(a.json, "rejectedLogEventsInfo.tooNewLogEventStartIndex"), 0);
    ans_free(&a);
    assert_int_equal(stored_events(&f, "g", "s"), 6);
    fx_down(&f);
}

static void test_put_events_shape_errors(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", "s");
    struct ans a = logsf(&f, "PutLogEvents",
                         "{\"logGroupName\":\"nope\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,"
                         "\"message\":\"x\"}]}",
                         (long long)T0);
    expect_err(&a, 400, "ResourceNotFoundException", "The specified log group does not exist.");
    ans_free(&a);
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"nope\",\"logEvents\":[{\"timestamp\":%lld,"
              "\"message\":\"x\"}]}",
              (long long)T0);
    expect_err(&a, 400, "ResourceNotFoundException", "The specified log stream does not exist.");
    ans_free(&a);
    a = logs(&f, "PutLogEvents", "{\"logGroupName\":\"g\",\"logStreamName\":\"s\"}");
    expect_err(&a, 400, "InvalidParameterException", "Value null at 'logEvents' failed to satisfy constraint");
    ans_free(&a);
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,\"message\":\"x\"},"
              "{\"timestamp\":%lld,\"message\":\"\"}]}",
              (long long)T0, (long long)T0);
    expect_err(&a, 400, "InvalidParameterException",
               "Value '' at 'logEvents.2.member.message' failed to satisfy constraint: Member must have length "
               "greater than or equal to 1");
    ans_free(&a);
    a = logs(&f, "PutLogEvents",
             "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":-5,\"message\":\"x\"}]}");
    expect_err(&a, 400, "InvalidParameterException", "Member must have value greater than or equal to 0");
    ans_free(&a);
    a = logs(&f, "PutLogEvents",
             "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":\"now\",\"message\":\"x\"}]}");
    expect_err(&a, 400, "SerializationException", NULL);
    ans_free(&a);
    /* the sequence token is ignored, whatever it is */
    a = logsf(&f, "PutLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"sequenceToken\":\"stale-0000\",\"logEvents\":["
              "{\"timestamp\":%lld,\"message\":\"x\"}]}",
              (long long)T0);
    expect_ok(&a);
    ans_free(&a);
    assert_int_equal(stored_events(&f, "g", "s"), 1);
    fx_down(&f);
}

static void test_get_and_filter_events(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", "a");
    struct ans a = logs(&f, "CreateLogStream", "{\"logGroupName\":\"g\",\"logStreamName\":\"b\"}");
    expect_ok(&a);
    ans_free(&a);
    /* a: even seconds, b: odd seconds; messages say which */
    for (int s = 0; s < 2; s++) {
        struct buf b = BUF_INIT(1 << 20);
        buf_addf(&b, "{\"logGroupName\":\"g\",\"logStreamName\":\"%s\",\"logEvents\":[", s ? "b" : "a");
        for (int i = 0; i < 10; i++)
            buf_addf(&b, "%s{\"timestamp\":%lld,\"message\":\"%s event %d %s\"}", i ? "," : "",
                     (long long)(T0 - 100000 + (2 * i + s) * 1000), s ? "b" : "a", 2 * i + s,
                     (2 * i + s) % 3 ? "ok" : "ERROR");
        buf_addstr(&b, "]}");
        a = logs(&f, "PutLogEvents", buf_cstr(&b));
        expect_ok(&a);
        ans_free(&a);
        buf_free(&b);
    }
    /* forward pages of 4 from the head: 10 events, in order, then an empty page */
    char *tok = NULL;
    int got = 0;
    for (int page = 0; page < 6; page++) {
        if (tok)
            a = logsf(&f, "GetLogEvents",
                      "{\"logGroupName\":\"g\",\"logStreamName\":\"a\",\"limit\":4,\"nextToken\":\"%s\"}", tok);
        else
            a = logs(&f, "GetLogEvents", "{\"logGroupName\":\"g\",\"logStreamName\":\"a\",\"limit\":4,\"startFromHead\":true}");
        expect_ok(&a);
        const json_t *ev = json_object_get(a.json, "events");
        for (size_t i = 0; i < json_array_size(ev); i++) {
            char w[32];
            snprintf(w, sizeof w, "a event %d", 2 * got++);
            assert_int_equal(strncmp(jstr(json_array_get(ev, i), "message"), w, strlen(w)), 0);
        }
        bool empty = !json_array_size(ev);
        free(tok);
        tok = xstrdup(jstr(a.json, "nextForwardToken"));
        ans_free(&a);
        if (empty)
            break;
    }
    free(tok);
    assert_int_equal(got, 10);
    /* without startFromHead: the newest events */
    a = logs(&f, "GetLogEvents", "{\"logGroupName\":\"g\",\"logStreamName\":\"a\",\"limit\":2}");
    expect_ok(&a);
    assert_int_equal(strncmp(jstr(a.json, "events.1.message"), "a event 18", 10), 0);
    ans_free(&a);
    /* a time range [start, end) */
    a = logsf(&f, "GetLogEvents",
              "{\"logGroupName\":\"g\",\"logStreamName\":\"a\",\"startFromHead\":true,\"startTime\":%lld,"
              "\"endTime\":%lld}",
              (long long)(T0 - 100000 + 4000), (long long)(T0 - 100000 + 8000));
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "events")), 2);
    ans_free(&a);
    /* FilterLogEvents: both streams interleaved by time, filtered by term */
    a = logs(&f, "FilterLogEvents", "{\"logGroupName\":\"g\",\"filterPattern\":\"ERROR\"}");
    expect_ok(&a);
    const json_t *ev = json_object_get(a.json, "events");
    assert_int_equal(json_array_size(ev), 7); /* 0, 3, 6, 9, 12, 15, 18 */
    assert_string_equal(jstr(ev, "1.logStreamName"), "b");
    assert_int_equal(strncmp(jstr(ev, "1.message"), "b event 3", 9), 0);
    assert_non_null(jstr(ev, "0.eventId"));
    assert_int_equal(json_array_size(json_object_get(a.json, "searchedLogStreams")), 2);
    ans_free(&a);
    a = logs(&f, "FilterLogEvents",
             "{\"logGroupName\":\"g\",\"filterPattern\":\"\\\"event 1\\\" -ERROR\",\"logStreamNames\":[\"b\"]}");
    expect_ok(&a);
    /* b: 1, 11, 13, 15, 17, 19 contain "event 1"; 15 is an ERROR */
    assert_int_equal(json_array_size(json_object_get(a.json, "events")), 5);
    ans_free(&a);
    /* pagination */
    a = logs(&f, "FilterLogEvents", "{\"logGroupName\":\"g\",\"limit\":15}");
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "events")), 15);
    tok = xstrdup(jstr(a.json, "nextToken"));
    ans_free(&a);
    a = logsf(&f, "FilterLogEvents", "{\"logGroupName\":\"g\",\"limit\":15,\"nextToken\":\"%s\"}", tok);
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "events")), 5);
    assert_null(json_object_get(a.json, "nextToken"));
    ans_free(&a);
    free(tok);
    a = logs(&f, "FilterLogEvents", "{\"logGroupName\":\"g\",\"filterPattern\":\"{ $.level = \\\"ERROR\\\" }\"}");
    expect_err(&a, 400, "InvalidParameterException", "only term filter patterns");
    ans_free(&a);
    /* by ARN */
    a = logs(&f, "GetLogEvents",
             "{\"logGroupIdentifier\":\"arn:aws:logs:us-east-1:123456789012:log-group:g:*\",\"logStreamName\":\"b\"}");
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "events")), 10);
    ans_free(&a);
    fx_down(&f);
}

/* EMF: metrics out of log events, into the store GetMetricStatistics reads. */
static void test_emf_extraction(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "/brock/audit", "s");
    char emf[1024];
    snprintf(emf, sizeof emf,
             "{\\\"_aws\\\":{\\\"Timestamp\\\":%lld,\\\"CloudWatchMetrics\\\":[{\\\"Namespace\\\":\\\"Brock\\\","
             "\\\"Dimensions\\\":[[\\\"Model\\\"],[\\\"Model\\\",\\\"Project\\\"]],\\\"Metrics\\\":["
             "{\\\"Name\\\":\\\"InputTokens\\\",\\\"Unit\\\":\\\"Count\\\"},{\\\"Name\\\":\\\"CostUSD\\\","
             "\\\"Unit\\\":\\\"None\\\"},{\\\"Name\\\":\\\"LatencyMs\\\",\\\"Unit\\\":\\\"Milliseconds\\\"}]}]},"
             "\\\"Model\\\":\\\"sonnet\\\",\\\"Project\\\":\\\"cli\\\",\\\"InputTokens\\\":1234,"
             "\\\"CostUSD\\\":0.0125,\\\"LatencyMs\\\":[100,300],\\\"requestId\\\":\\\"c0ffee\\\"}",
             (long long)(T0 - 60000));
    /* invalid EMF: Project is a dimension but not a member */
    char bad[600];
    snprintf(bad, sizeof bad,
             "{\\\"_aws\\\":{\\\"Timestamp\\\":%lld,\\\"CloudWatchMetrics\\\":[{\\\"Namespace\\\":\\\"Brock\\\","
             "\\\"Dimensions\\\":[[\\\"Project\\\"]],\\\"Metrics\\\":[{\\\"Name\\\":\\\"X\\\"}]}]},\\\"X\\\":1}",
             (long long)(T0 - 60000));
    struct ans a = logsf(&f, "PutLogEvents",
                         "{\"logGroupName\":\"/brock/audit\",\"logStreamName\":\"s\",\"logEvents\":["
                         "{\"timestamp\":%lld,\"message\":\"%s\"},{\"timestamp\":%lld,\"message\":\"%s\"},"
                         "{\"timestamp\":%lld,\"message\":\"%s\"},{\"timestamp\":%lld,\"message\":\"plain text\"},"
                         "{\"timestamp\":%lld,\"message\":\"{\\\"_aws\\\": broken\"}]}",
                         (long long)(T0 - 60000), emf, (long long)(T0 - 60000), emf, (long long)(T0 - 60000), bad,
                         (long long)(T0 - 60000), (long long)(T0 - 60000));
    expect_ok(&a);
    ans_free(&a);
    /* every event is stored, valid EMF or not */
    assert_int_equal(stored_events(&f, "/brock/audit", "s"), 5);
    json_t *m = control_get(&f, "/_emulator/metrics");
    const json_t *series = json_object_get(m, "metrics");
    /* 3 metrics x 2 dimension sets, plus AWS/Logs EMFValidationErrors and EMFParsingErrors */
    assert_int_equal(json_array_size(series), 8);
    bool saw_cost_2d = false, saw_latency = false, saw_validation = false, saw_parsing = false;
    for (size_t i = 0; i < json_array_size(series); i++) {
        const json_t *s = json_array_get(series, i);
        const char *ns = jstr(s, "namespace"), *name = jstr(s, "metricName");
        const json_t *dims = json_object_get(s, "dimensions");
        if (!strcmp(ns, "Brock") && !strcmp(name, "CostUSD") && json_object_size(dims) == 2) {
            saw_cost_2d = true;
            assert_string_equal(jstr(dims, "Project"), "cli");
            assert_int_equal(json_array_size(json_object_get(s, "datapoints")), 2);
            assert_true(fabs(json_real_value(jget(s, "datapoints.0.sum")) - 0.0125) < 1e-12);
            assert_string_equal(jstr(s, "datapoints.0.unit"), "None");
            assert_int_equal(jint(s, "datapoints.0.timestamp"), T0 - 60000);
        }
        if (!strcmp(name, "LatencyMs") && json_object_size(dims) == 1) {
            saw_latency = true;
            assert_true(json_real_value(jget(s, "datapoints.0.count")) == 2);
            assert_true(json_real_value(jget(s, "datapoints.0.min")) == 100);
            assert_true(json_real_value(jget(s, "datapoints.0.max")) == 300);
            assert_string_equal(jstr(s, "datapoints.0.unit"), "Milliseconds");
        }
        if (!strcmp(ns, "AWS/Logs") && !strcmp(name, "EMFValidationErrors")) {
            saw_validation = true;
            assert_string_equal(jstr(dims, "LogGroup"), "/brock/audit");
        }
        if (!strcmp(ns, "AWS/Logs") && !strcmp(name, "EMFParsingErrors"))
            saw_parsing = true;
    }
    assert_true(saw_cost_2d && saw_latency && saw_validation && saw_parsing);
    json_decref(m);
    json_t *l = control_get(&f, "/_emulator/logs?group=%2Fbrock%2Faudit");
    assert_int_equal(jint(l, "emf.events"), 2);
    assert_int_equal(jint(l, "emf.datapoints"), 12);
    assert_int_equal(jint(l, "emf.validationErrors"), 1);
    assert_int_equal(jint(l, "emf.parsingErrors"), 1);
    assert_non_null(strstr(jstr(l, "emf.lastErrors.0.message"), "Project"));
    assert_int_equal(json_array_size(json_object_get(l, "logGroups")), 1);
    assert_int_equal(jint(l, "logGroups.0.logStreams.0.eventCount"), 5);
    json_decref(l);
    /* CloudWatch reads the EMF sums back: two events of 1234 tokens */
    char q[512];
    snprintf(q, sizeof q,
             "{\"Namespace\":\"Brock\",\"MetricName\":\"InputTokens\",\"Dimensions\":[{\"Name\":\"Model\","
             "\"Value\":\"sonnet\"}],\"StartTime\":%lld,\"EndTime\":%lld,\"Period\":3600,\"Statistics\":[\"Sum\","
             "\"SampleCount\"]}",
             (long long)(T0 / 1000 - 3600), (long long)(T0 / 1000));
    a = cw_json(&f, "GetMetricStatistics", q);
    expect_ok(&a);
    assert_true(json_number_value(jget(a.json, "Datapoints.0.Sum")) == 2468);
    assert_true(json_number_value(jget(a.json, "Datapoints.0.SampleCount")) == 2);
    assert_string_equal(jstr(a.json, "Datapoints.0.Unit"), "Count");
    ans_free(&a);
    fx_down(&f);
}

static void test_logs_faults_retries_and_auth(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g", "s");
    struct brock_err e = {0};
    /* a throttling fault for the logs operations: Logs' own answer */
    const char *fault = "{\"type\": \"throttling\", \"count\": 1, \"operations\": [\"logs\"]}";
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    char *body = events_body("g", "s", 1, 5, T0);
    struct ans a = logs(&f, "PutLogEvents", body);
    expect_err(&a, 400, "ThrottlingException", "Rate exceeded");
    assert_int_equal(a.st, BROCK_ERR_THROTTLED);
    ans_free(&a);
    /* with the retry policy, brock gets through the second time */
    fx_client(&f, "us-east-1", true, NULL);
    assert_int_equal(emulator_add_faults(f.em, fault, strlen(fault), &e), BROCK_OK);
    a = logs(&f, "PutLogEvents", body);
    expect_ok(&a);
    assert_int_equal(a.attempts, 2);
    ans_free(&a);
    assert_int_equal(stored_events(&f, "g", "s"), 1);
    /* a throttling fault without "operations" is for the model calls only */
    const char *model_only = "{\"type\": \"throttling\", \"count\": 1}";
    assert_int_equal(emulator_add_faults(f.em, model_only, strlen(model_only), &e), BROCK_OK);
    a = logs(&f, "PutLogEvents", body);
    expect_ok(&a);
    ans_free(&a);
    emulator_clear_faults(f.em);
    /* drop: the events are stored, the answer is lost (a retry duplicates them) */
    fx_client(&f, "us-east-1", false, NULL);
    const char *drop = "{\"type\": \"drop\", \"operations\": [\"logs\"]}";
    assert_int_equal(emulator_add_faults(f.em, drop, strlen(drop), &e), BROCK_OK);
    a = logs(&f, "PutLogEvents", body);
    assert_int_equal(a.st, BROCK_ERR_NETWORK);
    ans_free(&a);
    assert_int_equal(stored_events(&f, "g", "s"), 3);
    /* a slow answer arrives late but whole */
    const char *slow = "{\"type\": \"slow\", \"delay_ms\": 150, \"operations\": [\"logs\"]}";
    assert_int_equal(emulator_add_faults(f.em, slow, strlen(slow), &e), BROCK_OK);
    int64_t t = time_mono_ms();
    a = logs(&f, "DescribeLogGroups", "{}");
    expect_ok(&a);
    assert_true(time_mono_ms() - t >= 140);
    ans_free(&a);
    free(body);
    /* a request signed for another service is refused */
    fx_client(&f, "us-east-1", false, NULL);
    struct ans x = iam_as(&f, "logs", "Action=GetRole&Version=2010-05-08&RoleName=x");
    expect_err(&x, 403, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'iam'.");
    ans_free(&x);
    /* the request log names the service, the operation and the signing name */
    char *log = emulator_requests_json(f.em);
    json_t *rl = json_loads(log, 0, NULL);
    free(log);
    const json_t *reqs = json_object_get(rl, "requests");
    const json_t *first = json_array_get(reqs, 0);
    assert_string_equal(jstr(first, "service"), "logs");
    assert_string_equal(jstr(first, "operation"), "CreateLogGroup");
    assert_string_equal(jstr(first, "auth.signingName"), "logs");
    assert_string_equal(jstr(first, "auth.region"), "us-east-1");
    bool saw_throttle = false, saw_drop = false;
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        const json_t *r = json_array_get(reqs, i);
        saw_throttle |= jstr(r, "error") && !strcmp(jstr(r, "error"), "ThrottlingException");
        saw_drop |= jstr(r, "error") && !strcmp(jstr(r, "error"), "dropped");
    }
    assert_true(saw_throttle && saw_drop);
    json_decref(rl);
    fx_down(&f);
}

static void test_reset_and_control_dump(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    mk_group_stream(&f, "g1", "s");
    mk_group_stream(&f, "g2", "s");
    struct ans a = cw_json(&f, "PutMetricData", "{\"Namespace\":\"N\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}");
    expect_ok(&a);
    ans_free(&a);
    json_t *l = control_get(&f, "/_emulator/logs");
    assert_int_equal(json_array_size(json_object_get(l, "logGroups")), 2);
    json_decref(l);
    char *s = emulator_logs_json(f.em, "g2");
    assert_non_null(strstr(s, "\"logGroupName\":\"g2\""));
    assert_null(strstr(s, "\"g1\""));
    free(s);
    emulator_reset(f.em);
    l = control_get(&f, "/_emulator/logs");
    assert_int_equal(json_array_size(json_object_get(l, "logGroups")), 0);
    json_decref(l);
    json_t *m = control_get(&f, "/_emulator/metrics");
    assert_int_equal(json_array_size(json_object_get(m, "metrics")), 0);
    json_decref(m);
    fx_down(&f);
}

/* ------------------------------------------------------------------ */
/* CloudWatch                                                           */

static void test_cw_put_metric_data_both_protocols(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    char body[600];
    snprintf(body, sizeof body,
             "{\"Namespace\":\"Brock\",\"MetricData\":[{\"MetricName\":\"InputTokens\",\"Dimensions\":[{\"Name\":"
             "\"Model\",\"Value\":\"sonnet\"}],\"Timestamp\":%lld.5,\"Value\":1000,\"Unit\":\"Count\"},"
             "{\"MetricName\":\"InputTokens\",\"Dimensions\":[{\"Name\":\"Model\",\"Value\":\"sonnet\"}],"
             "\"StatisticValues\":{\"SampleCount\":2,\"Sum\":500,\"Minimum\":100,\"Maximum\":400},\"Unit\":\"Count\","
             "\"Timestamp\":%lld}]}",
             (long long)(T0 / 1000 - 30), (long long)(T0 / 1000 - 10));
    struct ans a = cw_json(&f, "PutMetricData", body);
    expect_ok(&a);
    assert_string_equal(a.body, "{}");
    ans_free(&a);
    /* the query form, as the reference writes it */
    a = cw_query(&f, "Action=PutMetricData&Version=2010-08-01&Namespace=Brock"
                     "&MetricData.member.1.MetricName=InputTokens&MetricData.member.1.Value=234"
                     "&MetricData.member.1.Unit=Count&MetricData.member.1.Timestamp=2025-12-31T23%3A59%3A40Z"
                     "&MetricData.member.1.Dimensions.member.1.Name=Model"
                     "&MetricData.member.1.Dimensions.member.1.Value=sonnet");
    expect_ok(&a);
    assert_non_null(strstr(a.body, "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"));
    assert_non_null(strstr(a.body, "<RequestId>"));
    ans_free(&a);
    /* read back: both protocols see 1734 over 4 samples */
    char q[600];
    snprintf(q, sizeof q,
             "{\"Namespace\":\"Brock\",\"MetricName\":\"InputTokens\",\"Dimensions\":[{\"Name\":\"Model\",\"Value\":"
             "\"sonnet\"}],\"StartTime\":%lld,\"EndTime\":%lld,\"Period\":60,\"Statistics\":[\"Sum\",\"SampleCount\","
             "\"Minimum\",\"Maximum\",\"Average\"]}",
             (long long)(T0 / 1000 - 60), (long long)(T0 / 1000));
    a = cw_json(&f, "GetMetricStatistics", q);
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "Label"), "InputTokens");
    assert_int_equal(json_array_size(json_object_get(a.json, "Datapoints")), 1);
    assert_true(json_number_value(jget(a.json, "Datapoints.0.Sum")) == 1734);
    assert_true(json_number_value(jget(a.json, "Datapoints.0.SampleCount")) == 4);
    assert_true(json_number_value(jget(a.json, "Datapoints.0.Minimum")) == 100);
    assert_true(json_number_value(jget(a.json, "Datapoints.0.Maximum")) == 1000);
    assert_true(json_number_value(jget(a.json, "Datapoints.0.Average")) == 433.5);
    ans_free(&a);
    a = cw_query(&f, "Action=GetMetricStatistics&Version=2010-08-01&Namespace=Brock&MetricName=InputTokens"
                     "&Dimensions.member.1.Name=Model&Dimensions.member.1.Value=sonnet"
                     "&StartTime=2025-12-31T23%3A59%3A00Z&EndTime=2026-01-01T00%3A00%3A00Z&Period=60"
                     "&Statistics.member.1=Sum");
    expect_ok(&a);
    assert_non_null(strstr(a.body, "<Sum>1734.0</Sum>"));
    assert_non_null(strstr(a.body, "<Timestamp>2025-12-31T23:59:00.000Z</Timestamp>"));
    assert_non_null(strstr(a.body, "<GetMetricStatisticsResult>"));
    ans_free(&a);
    /* other dimensions are another metric */
    snprintf(q, sizeof q,
             "{\"Namespace\":\"Brock\",\"MetricName\":\"InputTokens\",\"StartTime\":%lld,\"EndTime\":%lld,"
             "\"Period\":60,\"Statistics\":[\"Sum\"]}",
             (long long)(T0 / 1000 - 60), (long long)(T0 / 1000));
    a = cw_json(&f, "GetMetricStatistics", q);
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "Datapoints")), 0);
    ans_free(&a);
    fx_down(&f);
}

/* A PutMetricData JSON body with n data of `dims` dimensions and `values` values. */
static char *metric_body(size_t n, size_t dims, size_t values)
{
    struct buf b = BUF_INIT((size_t)8 << 20);
    buf_addstr(&b, "{\"Namespace\":\"Brock\",\"MetricData\":[");
    for (size_t i = 0; i < n; i++) {
        buf_addf(&b, "%s{\"MetricName\":\"m%zu\",\"Dimensions\":[", i ? "," : "", i);
        for (size_t d = 0; d < dims; d++)
            buf_addf(&b, "%s{\"Name\":\"d%zu\",\"Value\":\"v\"}", d ? "," : "", d);
        buf_addstr(&b, "]");
        if (values) {
            buf_addstr(&b, ",\"Values\":[");
            for (size_t v = 0; v < values; v++)
                buf_addf(&b, "%s%zu", v ? "," : "", v);
            buf_addstr(&b, "]");
        } else {
            buf_addstr(&b, ",\"Value\":1");
        }
        buf_addstr(&b, "}");
    }
    buf_addstr(&b, "]}");
    return buf_take(&b);
}

static void test_cw_put_metric_data_limits(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    struct { size_t n, dims, values; const char *code, *msg; } cases[] = {
        {1000, 0, 0, NULL, NULL},
        {1001, 0, 0, "InvalidParameterValue", "The collection MetricData must not have a size greater than 1000."},
        {1, 30, 0, NULL, NULL},
        {1, 31, 0, "InvalidParameterValue",
         "The collection MetricData.member.1.Dimensions must not have a size greater than 30."},
        {1, 0, 150, NULL, NULL},
        {1, 0, 151, "InvalidParameterValue",
         "The collection MetricData.member.1.Values must not have a size greater than 150."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *b = metric_body(cases[i].n, cases[i].dims, cases[i].values);
        struct ans a = cw_json(&f, "PutMetricData", b);
        if (cases[i].code) {
            expect_err(&a, 400, cases[i].code, cases[i].msg);
            /* the JSON error's shape: __type + x-amzn-query-error */
            assert_string_equal(jstr(a.json, "__type"), "com.amazonaws.cloudwatch#InvalidParameterValueException");
            assert_string_equal(a.query_error, "InvalidParameterValue;Sender");
        } else {
            expect_ok(&a);
        }
        ans_free(&a);
        free(b);
    }
    const double max = ldexp(1.0, 360);
    char body[400];
    struct { const char *datum; const char *code, *msg; } more[] = {
        {"\"Value\":1,\"StorageResolution\":1", NULL, NULL},
        {"\"Value\":1,\"StorageResolution\":30", "InvalidParameterValue",
         "The value 30 for parameter MetricData.member.1.StorageResolution is invalid."},
        {"\"Value\":1,\"Unit\":\"Tokens\"", "InvalidParameterValue",
         "The value Tokens for parameter MetricData.member.1.Unit is invalid."},
        {"\"Value\":1,\"StatisticValues\":{\"SampleCount\":1,\"Sum\":1,\"Minimum\":1,\"Maximum\":1}",
         "InvalidParameterCombination", "are mutually exclusive"},
        {"\"Values\":[1,2],\"Counts\":[1]", "InvalidParameterValue",
         "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size."},
        {"\"Unit\":\"Count\"", "InvalidParameterCombination", "must be specified"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        snprintf(body, sizeof body, "{\"Namespace\":\"Brock\",\"MetricData\":[{\"MetricName\":\"m\",%s}]}",
                 more[i].datum);
        struct ans a = cw_json(&f, "PutMetricData", body);
        if (more[i].code)
            expect_err(&a, 400, more[i].code, more[i].msg);
        else
            expect_ok(&a);
        ans_free(&a);
    }
    /* values: +-2^360 is the edge */
    snprintf(body, sizeof body, "{\"Namespace\":\"B\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":%.17g}]}", max);
    struct ans a = cw_json(&f, "PutMetricData", body);
    expect_ok(&a);
    ans_free(&a);
    snprintf(body, sizeof body, "{\"Namespace\":\"B\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":%.17g}]}",
             -max * 1.0000001);
    a = cw_json(&f, "PutMetricData", body);
    expect_err(&a, 400, "InvalidParameterValue", "MetricData.member.1.Value is invalid.");
    ans_free(&a);
    a = cw_query(&f, "Action=PutMetricData&Version=2010-08-01&Namespace=B&MetricData.member.1.MetricName=m"
                     "&MetricData.member.1.Value=NaN");
    expect_err(&a, 400, "InvalidParameterValue", "The value NaN for parameter MetricData.member.1.Value is invalid.");
    assert_non_null(strstr(a.body, "<Code>InvalidParameterValue</Code>"));
    assert_non_null(strstr(a.body, "<Type>Sender</Type>"));
    ans_free(&a);
    /* timestamps: 2 h ahead and 14 days back are the edges */
    struct { int64_t ts; bool ok; const char *msg; } ts[] = {
        {T0 / 1000 + 7200, true, NULL},
        {T0 / 1000 + 7201, false, "must specify a time no more than two hours in the future."},
        {T0 / 1000 - 14 * 86400, true, NULL},
        {T0 / 1000 - 14 * 86400 - 1, false, "must specify a time within the past two weeks."},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"Namespace\":\"B\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,\"Timestamp\":%lld}]}",
                 (long long)ts[i].ts);
        a = cw_json(&f, "PutMetricData", body);
        if (ts[i].ok)
            expect_ok(&a);
        else
            expect_err(&a, 400, "InvalidParameterValue", ts[i].msg);
        ans_free(&a);
    }
    /* namespaces */
    a = cw_json(&f, "PutMetricData", "{\"Namespace\":\"AWS/Bedrock\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}");
    expect_err(&a, 400, "InvalidParameterValue", "The value AWS/Bedrock for parameter Namespace is invalid.");
    ans_free(&a);
    a = cw_json(&f, "PutMetricData", "{\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}");
    expect_err(&a, 400, "MissingParameter", "The parameter Namespace is required.");
    assert_string_equal(jstr(a.json, "__type"), "com.amazonaws.cloudwatch#MissingRequiredParameterException");
    ans_free(&a);
    /* the request size: 1 MB */
    struct buf big = BUF_INIT((size_t)4 << 20);
    buf_addstr(&big, "Action=PutMetricData&Version=2010-08-01&Namespace=B&MetricData.member.1.MetricName=m"
                     "&MetricData.member.1.Value=1&Pad=");
    while (big.len < 1048576)
        buf_addc(&big, 'x');
    a = cw_query(&f, buf_cstr(&big));
    expect_ok(&a);
    ans_free(&a);
    buf_addc(&big, 'x');
    a = cw_query(&f, buf_cstr(&big));
    expect_err(&a, 413, "RequestEntityTooLarge", "Request size 1048577 exceeded 1048576 bytes");
    ans_free(&a);
    buf_free(&big);
    fx_down(&f);
}

static char *gzip_of(const char *s, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, strlen(s)) + 64;
    char *out = xmalloc(cap);
    z.next_in = (Bytef *)(uintptr_t)s;
    z.avail_in = (uInt)strlen(s);
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* The AWS SDKs gzip large PutMetricData bodies; CloudWatch inflates them. */
static void test_cw_gzip_bodies(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    char *plain = metric_body(500, 2, 0);
    size_t zn;
    char *z = gzip_of(plain, &zn);
    struct http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "application/x-amz-json-1.0", NULL);
    http_headers_add(&h, "X-Amz-Target", "GraniteServiceVersion20100801.PutMetricData", NULL);
    http_headers_add(&h, "Content-Encoding", "gzip", NULL);
    struct aws_request req = {.service = ENDPOINT_SVC_MONITORING, .method = "POST", .path = "/", .headers = &h,
                              .body = z, .body_len = zn, .protocol = AWSERR_AWS_JSON};
    struct aws_response r;
    aws_response_init(&r);
    struct brock_err e = {0};
    assert_int_equal(aws_client_send(f.c, &req, &r, &e), BROCK_OK);
    aws_response_free(&r);
    json_t *m = control_get(&f, "/_emulator/metrics");
    assert_int_equal(json_array_size(json_object_get(m, "metrics")), 500);
    json_decref(m);
    /* a broken stream */
    z[zn / 2] ^= 0x55;
    req.body_len = zn - 4;
    aws_response_init(&r);
    assert_int_equal(aws_client_send(f.c, &req, &r, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "InvalidParameterValue");
    assert_non_null(strstr(e.msg, "The gzip request body is not valid gzip data."));
    aws_response_free(&r);
    /* gzip is for PutMetricData only */
    http_headers_set(&h, "X-Amz-Target", "GraniteServiceVersion20100801.DescribeAlarms", NULL);
    aws_response_init(&r);
    assert_int_equal(aws_client_send(f.c, &req, &r, &e), BROCK_ERR_AWS);
    assert_non_null(strstr(e.msg, "Content-Encoding gzip is not accepted here"));
    aws_response_free(&r);
    http_headers_cleanup(&h);
    free(z);
    free(plain);
    fx_down(&f);
}

static void test_faults_per_service(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    struct brock_err e = {0};
    /* the control plane throttles in Bedrock's shape */
    const char *t = "{\"type\": \"throttling\", \"operations\": [\"bedrock-control\"]}";
    assert_int_equal(emulator_add_faults(f.em, t, strlen(t), &e), BROCK_OK);
    struct ans a = ctl(&f, "GET", "/foundation-models", NULL, NULL);
    expect_err(&a, 429, "ThrottlingException", NULL);
    ans_free(&a);
    /* CloudWatch: Throttling in the query code, ThrottlingException as the shape */
    t = "{\"type\": \"throttling\", \"operations\": [\"cloudwatch\"]}";
    assert_int_equal(emulator_add_faults(f.em, t, strlen(t), &e), BROCK_OK);
    a = cw_json(&f, "ListDashboards", "{}");
    expect_err(&a, 400, "Throttling", "Rate exceeded");
    assert_string_equal(a.query_error, "Throttling;Sender");
    ans_free(&a);
    /* any error code, for IAM */
    t = "{\"type\": \"error\", \"code\": \"ServiceFailure\", \"status\": 500, \"operations\": [\"iam\"]}";
    assert_int_equal(emulator_add_faults(f.em, t, strlen(t), &e), BROCK_OK);
    a = iam(&f, "Action=GetRole&Version=2010-05-08&RoleName=x");
    expect_err(&a, 500, "ServiceFailure", NULL);
    assert_non_null(strstr(a.body, "<Type>Receiver</Type>"));
    ans_free(&a);
    /* an expired key is expired for every service */
    t = "{\"type\": \"expire_key\", \"access_key_id\": \"AKIDEXAMPLE\"}";
    assert_int_equal(emulator_add_faults(f.em, t, strlen(t), &e), BROCK_OK);
    a = logs(&f, "DescribeLogGroups", "{}");
    expect_err(&a, 403, "ExpiredTokenException", NULL);
    ans_free(&a);
    emulator_clear_faults(f.em);
    /* the rpc-v2-cbor route is recognised and answered as not implemented */
    a = send_aws(&f, ENDPOINT_SVC_MONITORING, "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData",
                 NULL, NULL, "application/cbor", "\xa0", AWSERR_AWS_JSON);
    expect_err(&a, 400, "UnknownOperationException", "smithy-rpc-v2-cbor");
    ans_free(&a);
    fx_down(&f);
}

static void put_point(struct fx *f, const char *name, double v, int64_t ts_s)
{
    char b[300];
    snprintf(b, sizeof b,
             "{\"Namespace\":\"Brock\",\"MetricData\":[{\"MetricName\":\"%s\",\"Value\":%.17g,\"Timestamp\":%lld}]}",
             name, v, (long long)ts_s);
    struct ans a = cw_json(f, "PutMetricData", b);
    expect_ok(&a);
    ans_free(&a);
}

static void test_cw_get_metric_data_math(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    int64_t h0 = T0 / 1000 - 7200; /* two hourly buckets */
    put_point(&f, "In", 1000000, h0 + 10);
    put_point(&f, "In", 2000000, h0 + 20);
    put_point(&f, "Out", 100000, h0 + 30);
    put_point(&f, "In", 500000, h0 + 3600 + 5);
    /* no Out in the second hour */
    char q[2048];
    snprintf(q, sizeof q,
             "{\"StartTime\":%lld,\"EndTime\":%lld,\"ScanBy\":\"TimestampAscending\",\"MetricDataQueries\":["
             "{\"Id\":\"m1\",\"ReturnData\":false,\"MetricStat\":{\"Period\":3600,\"Stat\":\"Sum\",\"Metric\":"
             "{\"Namespace\":\"Brock\",\"MetricName\":\"In\"}}},"
             "{\"Id\":\"m2\",\"ReturnData\":false,\"MetricStat\":{\"Period\":3600,\"Stat\":\"Sum\",\"Metric\":"
             "{\"Namespace\":\"Brock\",\"MetricName\":\"Out\"}}},"
             "{\"Id\":\"e1\",\"Expression\":\"(m1*3 + m2*15)/1000000\",\"Label\":\"USD\"},"
             "{\"Id\":\"e2\",\"Expression\":\"(m1*3 + FILL(m2, 0)*15)/1000000\"},"
             "{\"Id\":\"e3\",\"Expression\":\"RATE(m1)\"}]}",
             (long long)h0, (long long)(h0 + 7200));
    struct ans a = cw_json(&f, "GetMetricData", q);
    expect_ok(&a);
    const json_t *r = json_object_get(a.json, "MetricDataResults");
    assert_int_equal(json_array_size(r), 3);
    assert_string_equal(jstr(r, "0.Id"), "e1");
    assert_string_equal(jstr(r, "0.Label"), "USD");
    assert_int_equal(json_array_size(jget(r, "0.Values")), 1); /* m2 has no second hour */
    assert_true(fabs(json_number_value(jget(r, "0.Values.0")) - 10.5) < 1e-9);
    assert_true(fabs(json_number_value(jget(r, "0.Timestamps.0")) - (double)h0) < 1e-6);
    assert_int_equal(json_array_size(jget(r, "1.Values")), 2);
    assert_true(fabs(json_number_value(jget(r, "1.Values.1")) - 1.5) < 1e-9);
    assert_string_equal(jstr(r, "0.StatusCode"), "Complete");
    assert_string_equal(jstr(r, "2.StatusCode"), "InternalError");
    assert_non_null(strstr(jstr(r, "2.Messages.0.Value"), "RATE"));
    ans_free(&a);
    /* bad queries */
    snprintf(q, sizeof q,
             "{\"StartTime\":%lld,\"EndTime\":%lld,\"MetricDataQueries\":[{\"Id\":\"E1\",\"Expression\":\"1\"}]}",
             (long long)h0, (long long)(h0 + 60));
    a = cw_json(&f, "GetMetricData", q);
    expect_err(&a, 400, "InvalidParameterValue", "an Id starts with a lowercase letter");
    ans_free(&a);
    snprintf(q, sizeof q,
             "{\"StartTime\":%lld,\"EndTime\":%lld,\"MetricDataQueries\":[{\"Id\":\"e1\",\"Expression\":\"m9 + 1\"}]}",
             (long long)h0, (long long)(h0 + 60));
    a = cw_json(&f, "GetMetricData", q);
    expect_err(&a, 400, "InvalidParameterValue", "Unrecognized metric id or keyword 'm9'");
    ans_free(&a);
    /* GetMetricStatistics: 1,440 datapoints is the most */
    snprintf(q, sizeof q,
             "{\"Namespace\":\"Brock\",\"MetricName\":\"In\",\"StartTime\":%lld,\"EndTime\":%lld,\"Period\":60,"
             "\"Statistics\":[\"Sum\"]}",
             (long long)(T0 / 1000 - 1440 * 60), (long long)(T0 / 1000));
    a = cw_json(&f, "GetMetricStatistics", q);
    expect_ok(&a);
    ans_free(&a);
    snprintf(q, sizeof q,
             "{\"Namespace\":\"Brock\",\"MetricName\":\"In\",\"StartTime\":%lld,\"EndTime\":%lld,\"Period\":60,"
             "\"Statistics\":[\"Sum\"]}",
             (long long)(T0 / 1000 - 1441 * 60), (long long)(T0 / 1000));
    a = cw_json(&f, "GetMetricStatistics", q);
    expect_err(&a, 400, "InvalidParameterCombination",
               "You have requested up to 1441 datapoints, which exceeds the limit of 1,440.");
    ans_free(&a);
    fx_down(&f);
}

static void test_cw_alarms(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    /* the reference's metric-math alarm (9.4) */
    const char *math =
        "{\"AlarmName\":\"brock-hourly-cost\",\"ComparisonOperator\":\"GreaterThanThreshold\",\"Threshold\":20,"
        "\"EvaluationPeriods\":1,\"TreatMissingData\":\"notBreaching\",\"AlarmActions\":[\"arn:aws:sns:us-east-1:"
        "111122223333:billing-alerts\"],\"Metrics\":[{\"Id\":\"m1\",\"ReturnData\":false,\"MetricStat\":{\"Period\":"
        "3600,\"Stat\":\"Sum\",\"Metric\":{\"Namespace\":\"AWS/Bedrock\",\"MetricName\":\"InputTokenCount\","
        "\"Dimensions\":[{\"Name\":\"ModelId\",\"Value\":\"us.anthropic.claude-sonnet-4-5-20250929-v1:0\"}]}}},"
        "{\"Id\":\"m2\",\"ReturnData\":false,\"MetricStat\":{\"Period\":3600,\"Stat\":\"Sum\",\"Metric\":{"
        "\"Namespace\":\"AWS/Bedrock\",\"MetricName\":\"OutputTokenCount\"}}},{\"Id\":\"e1\",\"Expression\":"
        "\"(m1*3 + m2*15)/1000000\",\"Label\":\"USD per hour\",\"ReturnData\":true}]}";
    struct ans a = cw_json(&f, "PutMetricAlarm", math);
    expect_ok(&a);
    ans_free(&a);
    /* a static alarm in the query form */
    a = cw_query(&f, "Action=PutMetricAlarm&Version=2010-08-01&AlarmName=brock-throttles&Namespace=Brock"
                     "&MetricName=Throttles&Statistic=Sum&Period=300&EvaluationPeriods=1&Threshold=5"
                     "&ComparisonOperator=GreaterThanOrEqualToThreshold"
                     "&Dimensions.member.1.Name=Model&Dimensions.member.1.Value=sonnet"
                     "&AlarmActions.member.1=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aops");
    expect_ok(&a);
    assert_non_null(strstr(a.body, "<PutMetricAlarmResponse"));
    ans_free(&a);
    a = cw_json(&f, "DescribeAlarms", "{}");
    expect_ok(&a);
    const json_t *al = json_object_get(a.json, "MetricAlarms");
    assert_int_equal(json_array_size(al), 2);
    assert_string_equal(jstr(al, "0.AlarmName"), "brock-hourly-cost");
    assert_string_equal(jstr(al, "0.StateValue"), "INSUFFICIENT_DATA");
    assert_string_equal(jstr(al, "0.AlarmArn"), "arn:aws:cloudwatch:us-east-1:123456789012:alarm:brock-hourly-cost");
    assert_string_equal(jstr(al, "0.Metrics.2.Expression"), "(m1*3 + m2*15)/1000000");
    assert_true(json_is_false(jget(al, "0.Metrics.0.ReturnData")));
    assert_string_equal(jstr(al, "1.Dimensions.0.Value"), "sonnet");
    assert_int_equal(jint(al, "1.Period"), 300);
    assert_true(json_number_value(jget(al, "1.Threshold")) == 5);
    assert_true(json_is_array(json_object_get(a.json, "CompositeAlarms")));
    ans_free(&a);
    /* the query form of DescribeAlarms answers XML members */
    a = cw_query(&f, "Action=DescribeAlarms&Version=2010-08-01&AlarmNamePrefix=brock-thr");
    expect_ok(&a);
    assert_non_null(strstr(a.body, "<MetricAlarms><member><AlarmName>brock-throttles</AlarmName>"));
    assert_null(strstr(a.body, "brock-hourly-cost"));
    ans_free(&a);

    /* validation */
    static const struct { const char *body, *code, *msg; } bad[] = {
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":45,"
         "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "InvalidParameterValue", "The value 45 for parameter Period is invalid"},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Total\",\"Period\":60,"
         "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "InvalidParameterValue", "The value Total for parameter Statistic is invalid."},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"Bigger\"}",
         "InvalidParameterValue", "The value Bigger for parameter ComparisonOperator is invalid."},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "MissingParameter", "The parameter Threshold is required."},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "MissingParameter", "The parameter EvaluationPeriods is required."},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":2,\"DatapointsToAlarm\":3,\"Threshold\":1,\"ComparisonOperator\":"
         "\"GreaterThanThreshold\"}",
         "InvalidParameterValue", "DatapointsToAlarm must be between 1 and EvaluationPeriods"},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":1441,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "InvalidParameterValue", "may not exceed 86400 seconds"},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":3600,"
         "\"EvaluationPeriods\":169,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "InvalidParameterValue", "may not exceed 604800 seconds"},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"ExtendedStatistic\":"
         "\"p99\",\"Period\":60,\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "InvalidParameterCombination", "Exactly one of the parameters Statistic and ExtendedStatistic"},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\",\"AlarmActions\":["
         "\"arn:a1\",\"arn:a2\",\"arn:a3\",\"arn:a4\",\"arn:a5\",\"arn:a6\"]}",
         "InvalidParameterValue", "The collection AlarmActions must not have a size greater than 5."},
        {"{\"AlarmName\":\"x\",\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\","
         "\"Metrics\":[{\"Id\":\"m1\",\"MetricStat\":{\"Period\":60,\"Stat\":\"Sum\",\"Metric\":{\"Namespace\":\"B\","
         "\"MetricName\":\"m\"}}},{\"Id\":\"e1\",\"Expression\":\"m1*2\"}]}",
         "InvalidParameterValue", "exactly one element of the Metrics list must have ReturnData set to true (found 2)"},
        {"{\"AlarmName\":\"x\",\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\","
         "\"Metrics\":[{\"Id\":\"m1\",\"ReturnData\":false,\"MetricStat\":{\"Period\":60,\"Stat\":\"Sum\",\"Metric\":"
         "{\"Namespace\":\"B\",\"MetricName\":\"m\"}}},{\"Id\":\"e1\",\"Expression\":\"m1*2\",\"ReturnData\":false}]}",
         "InvalidParameterValue", "(found 0)"},
        {"{\"AlarmName\":\"x\",\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\","
         "\"Metrics\":[{\"Id\":\"e1\",\"Expression\":\"(m1*2\",\"ReturnData\":true}]}",
         "InvalidParameterValue", "Error in expression 'e1': expected ')'"},
        {"{\"AlarmName\":\"x\",\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\","
         "\"Metrics\":[{\"Id\":\"e1\",\"Expression\":\"FOO(1)\",\"ReturnData\":true}]}",
         "InvalidParameterValue", "Unrecognized function name 'FOO'"},
        {"{\"AlarmName\":\"x\",\"Namespace\":\"B\",\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":"
         "\"GreaterThanThreshold\",\"Metrics\":[{\"Id\":\"e1\",\"Expression\":\"1\",\"ReturnData\":true}]}",
         "InvalidParameterCombination", "If you specify Metrics, you cannot specify Namespace"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = cw_json(&f, "PutMetricAlarm", bad[i].body);
        expect_err(&a, 400, bad[i].code, bad[i].msg);
        ans_free(&a);
    }
    /* at the limits: 5 actions, 1 day at 60 s, 7 days at 1 h */
    static const char *const edges[] = {
        "{\"AlarmName\":\"edge5\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
        "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\",\"AlarmActions\":["
        "\"arn:a1\",\"arn:a2\",\"arn:a3\",\"arn:a4\",\"arn:a5\"]}",
        "{\"AlarmName\":\"edge1d\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":60,"
        "\"EvaluationPeriods\":1440,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
        "{\"AlarmName\":\"edge7d\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":3600,"
        "\"EvaluationPeriods\":168,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        a = cw_json(&f, "PutMetricAlarm", edges[i]);
        expect_ok(&a);
        ans_free(&a);
    }
    a = cw_json(&f, "DeleteAlarms", "{\"AlarmNames\":[\"edge5\",\"edge1d\",\"edge7d\"]}");
    expect_ok(&a);
    ans_free(&a);
    /* periods 10, 20, 30 and multiples of 60 are fine */
    static const int periods[] = {10, 20, 30, 60, 120, 86400};
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        char b[400];
        snprintf(b, sizeof b,
                 "{\"AlarmName\":\"p%d\",\"Namespace\":\"B\",\"MetricName\":\"m\",\"Statistic\":\"Sum\",\"Period\":%d,"
                 "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"LessThanThreshold\"}",
                 periods[i], periods[i]);
        a = cw_json(&f, "PutMetricAlarm", b);
        expect_ok(&a);
        ans_free(&a);
    }
    /* MaxRecords pages */
    a = cw_json(&f, "DescribeAlarms", "{\"MaxRecords\":3}");
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "MetricAlarms")), 3);
    char *tok = xstrdup(jstr(a.json, "NextToken"));
    ans_free(&a);
    char b[200];
    snprintf(b, sizeof b, "{\"MaxRecords\":100,\"NextToken\":\"%s\"}", tok);
    free(tok);
    a = cw_json(&f, "DescribeAlarms", b);
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "MetricAlarms")), 5);
    assert_null(json_object_get(a.json, "NextToken"));
    ans_free(&a);
    a = cw_json(&f, "DescribeAlarms", "{\"NextToken\":\"garbage\"}");
    expect_err(&a, 400, "InvalidNextToken", NULL);
    ans_free(&a);
    a = cw_json(&f, "DescribeAlarms", "{\"ActionPrefix\":\"arn:aws:sns:us-east-1:111122223333\"}");
    assert_int_equal(json_array_size(json_object_get(a.json, "MetricAlarms")), 1);
    ans_free(&a);
    /* delete: unknown names are skipped */
    a = cw_json(&f, "DeleteAlarms", "{\"AlarmNames\":[\"p10\",\"p20\",\"no-such-alarm\"]}");
    expect_ok(&a);
    ans_free(&a);
    a = cw_json(&f, "DescribeAlarms", "{}");
    assert_int_equal(json_array_size(json_object_get(a.json, "MetricAlarms")), 6);
    ans_free(&a);
    fx_down(&f);
}

static void test_cw_dashboards(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    /* the reference's dashboard (9.5), as a JSON string member */
    const char *body =
        "{\"widgets\": [{\"type\": \"metric\", \"x\": 0, \"y\": 0, \"width\": 12, \"height\": 6, \"properties\": "
        "{\"title\": \"Claude tokens\", \"region\": \"us-east-1\", \"view\": \"timeSeries\", \"stat\": \"Sum\", "
        "\"period\": 300, \"metrics\": [[\"AWS/Bedrock\", \"InputTokenCount\", \"ModelId\", \"us.anthropic.claude-"
        "sonnet-4-5-20250929-v1:0\", {\"id\": \"m1\"}], [\".\", \"OutputTokenCount\", \".\", \".\", {\"id\": \"m2\"}], "
        "[{\"expression\": \"(m1*3+m2*15)/1000000\", \"label\": \"USD\", \"id\": \"e1\"}]]}}, {\"type\": \"log\", "
        "\"x\": 12, \"y\": 0, \"width\": 12, \"height\": 6, \"properties\": {\"region\": \"us-east-1\", \"title\": "
        "\"Recent sessions\", \"query\": \"SOURCE '/brock/audit' | fields @timestamp, @message\"}}, {\"type\": "
        "\"text\", \"x\": 0, \"y\": 6, \"width\": 24, \"height\": 2, \"properties\": {\"markdown\": \"Managed by "
        "brock\"}}]}";
    json_t *req = json_pack("{s:s, s:s}", "DashboardName", "brock-usage", "DashboardBody", body);
    char *rb = json_dumps(req, JSON_COMPACT);
    struct ans a = cw_json(&f, "PutDashboard", rb);
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "DashboardValidationMessages")), 0);
    ans_free(&a);
    free(rb);
    json_decref(req);
    a = cw_json(&f, "GetDashboard", "{\"DashboardName\":\"brock-usage\"}");
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "DashboardBody"), body);
    assert_string_equal(jstr(a.json, "DashboardArn"), "arn:aws:cloudwatch::123456789012:dashboard/brock-usage");
    ans_free(&a);
    /* invalid bodies: InvalidParameterInput with the messages */
    static const struct { const char *body, *path, *msg; } bad[] = {
        {"{not json", "", "Should be valid JSON"},
        {"[]", "", "Should be object"},
        {"{}", "", "Should have required property 'widgets'"},
        {"{\"widgets\": {}}", "/widgets", "Should be array"},
        {"{\"widgets\": [{\"type\": \"graph\", \"properties\": {}}]}", "/widgets/0/type",
         "Should be equal to one of the allowed values"},
        {"{\"widgets\": [{\"type\": \"text\"}]}", "/widgets/0", "Should have required property 'properties'"},
        {"{\"widgets\": [{\"type\": \"text\", \"properties\": {}}]}", "/widgets/0/properties",
         "Should have required property 'markdown'"},
        {"{\"widgets\": [{\"type\": \"metric\", \"width\": 25, \"properties\": {\"region\": \"us-east-1\", "
         "\"metrics\": [[\"N\", \"m\"]]}}]}",
         "/widgets/0/width", "Should be an integer from 1 to 24"},
        {"{\"widgets\": [{\"type\": \"metric\", \"properties\": {\"metrics\": [[\"N\", \"m\"]]}}]}",
         "/widgets/0/properties", "Should have required property 'region'"},
        {"{\"widgets\": [{\"type\": \"metric\", \"properties\": {\"region\": \"us-east-1\", \"metrics\": [[\"N\"]]}}]}",
         "/widgets/0/properties/metrics/0", "Should NOT have fewer than 2 items"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req = json_pack("{s:s, s:s}", "DashboardName", "bad", "DashboardBody", bad[i].body);
        rb = json_dumps(req, JSON_COMPACT);
        a = cw_json(&f, "PutDashboard", rb);
        expect_err(&a, 400, "InvalidParameterInput", "The dashboard body is invalid");
        assert_string_equal(jstr(a.json, "__type"), "com.amazonaws.cloudwatch#DashboardInvalidInputError");
        const json_t *m = json_array_get(json_object_get(a.json, "DashboardValidationMessages"), 0);
        if (!m || strcmp(jstr(m, "DataPath"), bad[i].path) || !strstr(jstr(m, "Message"), bad[i].msg))
            fail_msg("case %zu: got %s", i, a.body);
        ans_free(&a);
        free(rb);
        json_decref(req);
    }
    /* the query form answers the messages as XML */
    a = cw_query(&f, "Action=PutDashboard&Version=2010-08-01&DashboardName=q&DashboardBody=%7B%7D");
    expect_err(&a, 400, "InvalidParameterInput", "Should have required property 'widgets'");
    assert_non_null(strstr(a.body, "<DashboardValidationMessages><member><DataPath></DataPath>"));
    ans_free(&a);
    a = cw_json(&f, "PutDashboard", "{\"DashboardName\":\"has space\",\"DashboardBody\":\"{\\\"widgets\\\":[]}\"}");
    expect_err(&a, 400, "InvalidParameterValue", "The value has space for parameter DashboardName is invalid");
    ans_free(&a);
    a = cw_json(&f, "PutDashboard", "{\"DashboardName\":\"brock-empty\",\"DashboardBody\":\"{\\\"widgets\\\":[]}\"}");
    expect_ok(&a);
    ans_free(&a);
    a = cw_json(&f, "ListDashboards", "{\"DashboardNamePrefix\":\"brock-\"}");
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "DashboardEntries")), 2);
    assert_string_equal(jstr(a.json, "DashboardEntries.0.DashboardName"), "brock-empty");
    assert_int_equal(jint(a.json, "DashboardEntries.1.Size"), (int64_t)strlen(body));
    ans_free(&a);
    a = cw_json(&f, "GetDashboard", "{\"DashboardName\":\"nope\"}");
    expect_err(&a, 404, "ResourceNotFound", "Dashboard nope does not exist");
    ans_free(&a);
    a = cw_json(&f, "DeleteDashboards", "{\"DashboardNames\":[\"brock-empty\",\"nope\"]}");
    expect_err(&a, 404, "ResourceNotFound", NULL);
    ans_free(&a);
    a = cw_json(&f, "DeleteDashboards", "{\"DashboardNames\":[\"brock-empty\"]}");
    expect_ok(&a);
    ans_free(&a);
    a = cw_json(&f, "ListDashboards", "{}");
    assert_int_equal(json_array_size(json_object_get(a.json, "DashboardEntries")), 1);
    ans_free(&a);
    a = cw_json(&f, "PutAnomalyDetector", "{}");
    expect_err(&a, 400, "UnknownOperation", NULL);
    ans_free(&a);
    a = cw_query(&f, "Action=ListMetrics&Version=2010-08-01");
    expect_err(&a, 400, "InvalidAction", "Could not find operation ListMetrics for version 2010-08-01");
    ans_free(&a);
    fx_down(&f);
}

/* ------------------------------------------------------------------ */
/* the Bedrock control plane                                            */

static void test_ctl_inference_profiles(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    size_t nm;
    const struct model_info *models = catalog_models(&nm);
    size_t want = 0;
    for (size_t i = 0; i < nm; i++)
        want += !!(models[i].geos & GEO_US) + !!(models[i].geos & GEO_GLOBAL);
    struct ans a = ctl(&f, "GET", "/inference-profiles", "type=SYSTEM_DEFINED", NULL);
    expect_ok(&a);
    const json_t *l = json_object_get(a.json, "inferenceProfileSummaries");
    assert_int_equal(json_array_size(l), want);
    bool saw_us_sonnet = false;
    for (size_t i = 0; i < json_array_size(l); i++) {
        const json_t *p = json_array_get(l, i);
        const char *id = jstr(p, "inferenceProfileId");
        assert_true(!strncmp(id, "us.", 3) || !strncmp(id, "global.", 7));
        assert_string_equal(jstr(p, "status"), "ACTIVE");
        assert_string_equal(jstr(p, "type"), "SYSTEM_DEFINED");
        assert_true(json_array_size(json_object_get(p, "models")) >= 1 &&
                    json_array_size(json_object_get(p, "models")) <= 5);
        if (!strcmp(id, "us.anthropic.claude-sonnet-4-5-20250929-v1:0")) {
            saw_us_sonnet = true;
            assert_string_equal(jstr(p, "inferenceProfileArn"),
                                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                                "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
            assert_string_equal(jstr(p, "models.1.modelArn"),
                                "arn:aws:bedrock:us-east-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0");
        }
    }
    assert_true(saw_us_sonnet);
    ans_free(&a);
    /* pages of 3: everything exactly once */
    char *tok = NULL;
    size_t seen = 0;
    for (int page = 0; page < 100; page++) {
        char q[160];
        snprintf(q, sizeof q, "type=SYSTEM_DEFINED&maxResults=3%s%s", tok ? "&nextToken=" : "", tok ? tok : "");
        a = ctl(&f, "GET", "/inference-profiles", q, NULL);
        expect_ok(&a);
        seen += json_array_size(json_object_get(a.json, "inferenceProfileSummaries"));
        free(tok);
        tok = jstr(a.json, "nextToken") ? xstrdup(jstr(a.json, "nextToken")) : NULL;
        ans_free(&a);
        if (!tok)
            break;
    }
    assert_int_equal(seen, want);
    a = ctl(&f, "GET", "/inference-profiles", "maxResults=0", NULL);
    expect_err(&a, 400, "ValidationException", "Member must have value greater than or equal to 1");
    ans_free(&a);
    a = ctl(&f, "GET", "/inference-profiles", "maxResults=1000", NULL);
    expect_ok(&a);
    assert_null(json_object_get(a.json, "nextToken"));
    ans_free(&a);
    a = ctl(&f, "GET", "/inference-profiles", "maxResults=1001", NULL);
    expect_err(&a, 400, "ValidationException", "Member must have value less than or equal to 1000");
    ans_free(&a);
    a = ctl(&f, "GET", "/inference-profiles", "type=CUSTOM", NULL);
    expect_err(&a, 400, "ValidationException", "[SYSTEM_DEFINED, APPLICATION]");
    ans_free(&a);
    /* one profile, by id and by ARN (percent-encoded) */
    a = ctl(&f, "GET", "/inference-profiles/global.anthropic.claude-haiku-4-5-20251001-v1%3A0", NULL, NULL);
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "inferenceProfileName"), "GLOBAL Anthropic Claude Haiku 4.5");
    ans_free(&a);
    a = ctl(&f, "GET",
            "/inference-profiles/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic."
            "claude-opus-4-6-v1",
            NULL, NULL);
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "inferenceProfileId"), "us.anthropic.claude-opus-4-6-v1");
    ans_free(&a);
    a = ctl(&f, "GET", "/inference-profiles/eu.anthropic.claude-opus-4-6-v1", NULL, NULL);
    expect_err(&a, 404, "ResourceNotFoundException", "eu.anthropic.claude-opus-4-6-v1");
    ans_free(&a);
    a = ctl(&f, "GET", "/inference-profiles/bad%20id", NULL, NULL);
    expect_err(&a, 400, "ValidationException", "inferenceProfileIdentifier");
    ans_free(&a);
    /* Frankfurt sees eu. profiles, not us. ones */
    fx_client(&f, "eu-central-1", false, NULL);
    a = ctl(&f, "GET", "/inference-profiles", "type=SYSTEM_DEFINED", NULL);
    expect_ok(&a);
    l = json_object_get(a.json, "inferenceProfileSummaries");
    for (size_t i = 0; i < json_array_size(l); i++) {
        const char *id = jstr(json_array_get(l, i), "inferenceProfileId");
        assert_true(!strncmp(id, "eu.", 3) || !strncmp(id, "global.", 7));
    }
    ans_free(&a);
    fx_client(&f, "us-east-1", false, NULL);

    /* application profiles */
    const char *create =
        "{\"inferenceProfileName\":\"brock team-a\",\"description\":\"Team A usage\",\"clientRequestToken\":\"tok-1\","
        "\"modelSource\":{\"copyFrom\":\"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-"
        "sonnet-4-5-20250929-v1:0\"},\"tags\":[{\"key\":\"team\",\"value\":\"a\"}]}";
    a = ctl(&f, "POST", "/inference-profiles", NULL, create);
    expect_ok(&a);
    assert_int_equal(a.status, 201);
    assert_string_equal(jstr(a.json, "status"), "ACTIVE");
    char *arn = xstrdup(jstr(a.json, "inferenceProfileArn"));
    const char *app_prefix = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/";
    assert_int_equal(strncmp(arn, app_prefix, strlen(app_prefix)), 0);
    assert_int_equal(strlen(arn), strlen(app_prefix) + 12);
    ans_free(&a);
    /* the same token again: the same profile */
    a = ctl(&f, "POST", "/inference-profiles", NULL, create);
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "inferenceProfileArn"), arn);
    ans_free(&a);
    a = ctl(&f, "POST", "/inference-profiles", NULL,
            "{\"inferenceProfileName\":\"brock team-a\",\"modelSource\":{\"copyFrom\":\"arn:aws:bedrock:us-east-1::"
            "foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0\"}}");
    expect_err(&a, 400, "ConflictException", "brock team-a");
    ans_free(&a);
    a = ctl(&f, "POST", "/inference-profiles", NULL,
            "{\"inferenceProfileName\":\"-bad\",\"modelSource\":{\"copyFrom\":\"arn:aws:bedrock:us-east-1::"
            "foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0\"}}");
    expect_err(&a, 400, "ValidationException", "inferenceProfileName");
    ans_free(&a);
    a = ctl(&f, "POST", "/inference-profiles", NULL,
            "{\"inferenceProfileName\":\"b\",\"modelSource\":{\"copyFrom\":\"arn:aws:bedrock:us-east-1::"
            "foundation-model/anthropic.claude-nonexistent-v9\"}}");
    expect_err(&a, 404, "ResourceNotFoundException", "was not found");
    ans_free(&a);
    a = ctl(&f, "POST", "/inference-profiles", NULL, "{\"inferenceProfileName\":\"b\"}");
    expect_err(&a, 400, "ValidationException", "Value null at 'modelSource'");
    ans_free(&a);
    a = ctl(&f, "POST", "/inference-profiles", NULL,
            "{\"inferenceProfileName\":\"haiku direct\",\"modelSource\":{\"copyFrom\":\"arn:aws:bedrock:us-east-1::"
            "foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0\"}}");
    expect_ok(&a);
    ans_free(&a);
    a = ctl(&f, "GET", "/inference-profiles", "type=APPLICATION", NULL);
    expect_ok(&a);
    l = json_object_get(a.json, "inferenceProfileSummaries");
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(jstr(l, "0.inferenceProfileArn"), arn);
    assert_string_equal(jstr(l, "0.type"), "APPLICATION");
    assert_string_equal(jstr(l, "0.description"), "Team A usage");
    assert_int_equal(json_array_size(jget(l, "0.models")), 3); /* copied from us. */
    assert_int_equal(json_array_size(jget(l, "1.models")), 1);
    ans_free(&a);
    /* get / delete by ARN */
    struct buf p = BUF_INIT(4096);
    buf_addstr(&p, "/inference-profiles/");
    uri_encode(&p, arn, strlen(arn), false);
    a = ctl(&f, "GET", buf_cstr(&p), NULL, NULL);
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "inferenceProfileName"), "brock team-a");
    ans_free(&a);
    a = ctl(&f, "DELETE", buf_cstr(&p), NULL, NULL);
    expect_ok(&a);
    ans_free(&a);
    a = ctl(&f, "GET", buf_cstr(&p), NULL, NULL);
    expect_err(&a, 404, "ResourceNotFoundException", NULL);
    ans_free(&a);
    buf_free(&p);
    a = ctl(&f, "DELETE", "/inference-profiles/us.anthropic.claude-opus-4-6-v1", NULL, NULL);
    expect_err(&a, 400, "ValidationException", "System-defined inference profiles cannot be deleted.");
    ans_free(&a);
    free(arn);
    free(tok);
    /* the runtime URL with a Bedrock API key (how Claude Code lists them) */
    emulator_stop(f.em);
    f.em = NULL;
    char keys[256];
    char *dir = test_tmpdir();
    snprintf(keys, sizeof keys, "%s/keys.json", dir);
    test_write_file(keys, "{\"keys\": [{\"ApiKey\": \"ABSKemuawsTestKey0123456789\"}]}");
    struct emulator_options o = {.clock = &pinned, .keys_path = keys};
    struct brock_err e = {0};
    assert_int_equal(emulator_start(&o, &f.em, &e), BROCK_OK);
    fx_client(&f, "us-west-2", false, "ABSKemuawsTestKey0123456789");
    a = send_aws(&f, ENDPOINT_SVC_BEDROCK_RUNTIME, "GET", "/inference-profiles", "type=SYSTEM_DEFINED", NULL, NULL,
                 NULL, AWSERR_REST_JSON);
    expect_ok(&a);
    assert_true(json_array_size(json_object_get(a.json, "inferenceProfileSummaries")) > 10);
    ans_free(&a);
    free(dir);
    fx_down(&f);
}

static void test_ctl_foundation_models(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    size_t nm, on_demand = 0;
    const struct model_info *models = catalog_models(&nm);
    for (size_t i = 0; i < nm; i++)
        on_demand += models[i].in_region;
    struct ans a = ctl(&f, "GET", "/foundation-models", "byProvider=Anthropic", NULL);
    expect_ok(&a);
    const json_t *l = json_object_get(a.json, "modelSummaries");
    assert_int_equal(json_array_size(l), nm);
    assert_string_equal(jstr(l, "0.providerName"), "Anthropic");
    assert_string_equal(jstr(l, "0.modelId"), models[0].base_id);
    assert_string_equal(jstr(l, "0.modelName"), models[0].name);
    assert_string_equal(jstr(l, "0.outputModalities.0"), "TEXT");
    for (size_t i = 0; i < json_array_size(l); i++)
        assert_true(strlen(jstr(json_array_get(l, i), "modelName")) <= 20); /* BrandedName's limit */
    ans_free(&a);
    a = ctl(&f, "GET", "/foundation-models", "byProvider=Meta", NULL);
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "modelSummaries")), 0);
    ans_free(&a);
    a = ctl(&f, "GET", "/foundation-models", "byInferenceType=ON_DEMAND", NULL);
    expect_ok(&a);
    assert_int_equal(json_array_size(json_object_get(a.json, "modelSummaries")), on_demand);
    ans_free(&a);
    a = ctl(&f, "GET", "/foundation-models", "byOutputModality=VIDEO", NULL);
    expect_err(&a, 400, "ValidationException",
               "Value 'VIDEO' at 'byOutputModality' failed to satisfy constraint: Member must satisfy enum value set: "
               "[TEXT, IMAGE, EMBEDDING]");
    ans_free(&a);
    a = ctl(&f, "GET", "/foundation-models/anthropic.claude-sonnet-4-5-20250929-v1%3A0", NULL, NULL);
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "modelDetails.modelArn"),
                        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0");
    assert_string_equal(jstr(a.json, "modelDetails.inferenceTypesSupported.0"), "INFERENCE_PROFILE");
    ans_free(&a);
    a = ctl(&f, "GET", "/foundation-models/anthropic.claude-nonexistent-v1", NULL, NULL);
    expect_err(&a, 404, "ResourceNotFoundException",
               "Could not resolve the foundation model from the provided model identifier.");
    ans_free(&a);
    a = ctl(&f, "POST", "/foundation-models", NULL, "{}");
    expect_err(&a, 404, "UnknownOperationException", NULL);
    ans_free(&a);
    fx_down(&f);
}

static const char *k_trust =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":"
    "\"bedrock.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";
static const char *k_perms =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"logs:CreateLogStream\","
    "\"logs:PutLogEvents\"],\"Resource\":\"arn:aws:logs:us-east-1:123456789012:log-group:/brock/invocations:*\"}]}";

static char *form_enc(const char *s)
{
    struct buf b = BUF_INIT(1 << 20);
    uri_encode(&b, s, strlen(s), false);
    return buf_take(&b);
}

static struct ans iamf(struct fx *f, const char *fmt, ...) BROCK_PRINTF(2, 3);
static struct ans iamf(struct fx *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *body = NULL;
    if (vasprintf(&body, fmt, ap) < 0)
        fail_msg("vasprintf");
    va_end(ap);
    struct ans a = iam(f, body);
    free(body);
    return a;
}

static void test_ctl_invocation_logging(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    struct ans a = ctl(&f, "GET", "/logging/modelinvocations", NULL, NULL);
    expect_ok(&a);
    assert_string_equal(a.body, "{}");
    ans_free(&a);
    const char *cfg =
        "{\"loggingConfig\":{\"cloudWatchConfig\":{\"logGroupName\":\"/brock/invocations\",\"roleArn\":"
        "\"arn:aws:iam::123456789012:role/BrockInvocationLogging\"},\"textDataDeliveryEnabled\":true,"
        "\"imageDataDeliveryEnabled\":false}}";
    /* neither the group nor the role exists yet */
    a = ctl(&f, "PUT", "/logging/modelinvocations", NULL, cfg);
    expect_err(&a, 400, "ValidationException",
               "Failed to validate permissions for log group: /brock/invocations, with role: "
               "arn:aws:iam::123456789012:role/BrockInvocationLogging. Verify the IAM role permissions are correct.");
    ans_free(&a);
    mk_group_stream(&f, "/brock/invocations", NULL);
    a = ctl(&f, "PUT", "/logging/modelinvocations", NULL, cfg);
    expect_err(&a, 400, "ValidationException", "Failed to validate permissions");
    ans_free(&a);
    char *t = form_enc(k_trust);
    a = iamf(&f, "Action=CreateRole&Version=2010-05-08&RoleName=BrockInvocationLogging&AssumeRolePolicyDocument=%s", t);
    expect_ok(&a);
    ans_free(&a);
    free(t);
    a = ctl(&f, "PUT", "/logging/modelinvocations", NULL, cfg);
    expect_ok(&a);
    ans_free(&a);
    a = ctl(&f, "GET", "/logging/modelinvocations", NULL, NULL);
    expect_ok(&a);
    assert_string_equal(jstr(a.json, "loggingConfig.cloudWatchConfig.logGroupName"), "/brock/invocations");
    assert_true(json_is_true(jget(a.json, "loggingConfig.textDataDeliveryEnabled")));
    assert_true(json_is_false(jget(a.json, "loggingConfig.imageDataDeliveryEnabled")));
    ans_free(&a);
    /* a model call now leaves its record in the group, as Bedrock delivers it */
    const char *conv = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"log me please\"}]}]}";
    a = send_aws(&f, ENDPOINT_SVC_BEDROCK_RUNTIME, "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
                 NULL, NULL, "application/json", conv, AWSERR_REST_JSON);
    expect_ok(&a);
    ans_free(&a);
    json_t *l = control_get(&f, "/_emulator/logs?group=%2Fbrock%2Finvocations");
    assert_string_equal(jstr(l, "logGroups.0.logStreams.0.logStreamName"), "aws/bedrock/modelinvocations");
    json_t *rec = json_loads(jstr(l, "logGroups.0.logStreams.0.events.0.message"), 0, NULL);
    assert_non_null(rec);
    assert_string_equal(jstr(rec, "schemaType"), "ModelInvocationLog");
    assert_string_equal(jstr(rec, "operation"), "Converse");
    assert_string_equal(jstr(rec, "modelId"), "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
    assert_string_equal(jstr(rec, "accountId"), "123456789012");
    assert_string_equal(jstr(rec, "region"), "us-east-1");
    assert_true(jint(rec, "input.inputTokenCount") > 0 && jint(rec, "output.outputTokenCount") > 0);
    assert_string_equal(jstr(rec, "input.inputBodyJson.messages.0.content.0.text"), "log me please");
    json_decref(rec);
    json_decref(l);
    /* shape checks */
    static const struct { const char *body, *msg; } bad[] = {
        {"{}", "Value null at 'loggingConfig'"},
        {"{\"loggingConfig\":{}}", "At least one of cloudWatchConfig or s3Config"},
        {"{\"loggingConfig\":{\"cloudWatchConfig\":{\"logGroupName\":\"g\",\"roleArn\":\"arn:aws:iam::123:role/x\"}}}",
         "Member must satisfy regular expression pattern: arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+"},
        {"{\"loggingConfig\":{\"cloudWatchConfig\":{\"logGroupName\":\"g\"}}}",
         "Value null at 'loggingConfig.cloudWatchConfig.roleArn'"},
        {"{\"loggingConfig\":{\"s3Config\":{\"bucketName\":\"ab\"}}}",
         "Member must have length greater than or equal to 3"},
        {"{\"loggingConfig\":{\"s3Config\":{\"bucketName\":\"Bad_Bucket\"}}}", "is not a valid S3 bucket name"},
        {"{\"loggingConfig\":{\"s3Config\":{\"bucketName\":\"192.168.1.1\"}}}", "is not a valid S3 bucket name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = ctl(&f, "PUT", "/logging/modelinvocations", NULL, bad[i].body);
        expect_err(&a, 400, "ValidationException", bad[i].msg);
        ans_free(&a);
    }
    a = ctl(&f, "PUT", "/logging/modelinvocations", NULL,
            "{\"loggingConfig\":{\"s3Config\":{\"bucketName\":\"my-bedrock-logs\",\"keyPrefix\":\"invocations/\"}}}");
    expect_ok(&a);
    ans_free(&a);
    a = ctl(&f, "DELETE", "/logging/modelinvocations", NULL, NULL);
    expect_ok(&a);
    ans_free(&a);
    a = ctl(&f, "GET", "/logging/modelinvocations", NULL, NULL);
    assert_string_equal(a.body, "{}");
    ans_free(&a);
    /* no configuration, no record */
    a = send_aws(&f, ENDPOINT_SVC_BEDROCK_RUNTIME, "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
                 NULL, NULL, "application/json", conv, AWSERR_REST_JSON);
    expect_ok(&a);
    ans_free(&a);
    l = control_get(&f, "/_emulator/logs?group=%2Fbrock%2Finvocations");
    assert_int_equal(jint(l, "logGroups.0.logStreams.0.eventCount"), 1);
    json_decref(l);
    fx_down(&f);
}

/* ------------------------------------------------------------------ */
/* IAM                                                                  */

static void test_iam_roles(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    char *t = form_enc(k_trust), *p = form_enc(k_perms);
    struct ans a = iamf(&f, "Action=CreateRole&Version=2010-05-08&RoleName=BrockLogs&Path=%%2Fbrock%%2F"
                            "&Description=brock&AssumeRolePolicyDocument=%s",
                        t);
    expect_ok(&a);
    assert_non_null(strstr(a.body, "<CreateRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"));
    assert_non_null(strstr(a.body, "<Arn>arn:aws:iam::123456789012:role/brock/BrockLogs</Arn>"));
    assert_non_null(strstr(a.body, "<RoleId>AROA"));
    assert_non_null(strstr(a.body, "<MaxSessionDuration>3600</MaxSessionDuration>"));
    ans_free(&a);
    a = iamf(&f, "Action=CreateRole&Version=2010-05-08&RoleName=brocklogs&AssumeRolePolicyDocument=%s", t);
    expect_err(&a, 409, "EntityAlreadyExists", "Role with name brocklogs already exists.");
    ans_free(&a);
    /* GetRole gives the trust policy back URL-encoded */
    a = iam(&f, "Action=GetRole&Version=2010-05-08&RoleName=BrockLogs");
    expect_ok(&a);
    const char *d0 = strstr(a.body, "<AssumeRolePolicyDocument>");
    assert_non_null(d0);
    d0 += strlen("<AssumeRolePolicyDocument>");
    const char *d1 = strstr(d0, "</AssumeRolePolicyDocument>");
    struct buf dec = BUF_INIT(1 << 16);
    uri_decode(&dec, d0, (size_t)(d1 - d0));
    assert_string_equal(buf_cstr(&dec), k_trust);
    buf_free(&dec);
    ans_free(&a);
    a = iam(&f, "Action=GetRole&Version=2010-05-08&RoleName=Nobody");
    expect_err(&a, 404, "NoSuchEntity", "The role with name Nobody cannot be found.");
    assert_non_null(strstr(a.body, "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"));
    ans_free(&a);
    a = iamf(&f, "Action=PutRolePolicy&Version=2010-05-08&RoleName=BrockLogs&PolicyName=logs&PolicyDocument=%s", p);
    expect_ok(&a);
    ans_free(&a);
    a = iam(&f, "Action=ListRolePolicies&Version=2010-05-08&RoleName=BrockLogs");
    expect_ok(&a);
    assert_non_null(strstr(a.body, "<PolicyNames><member>logs</member></PolicyNames>"));
    ans_free(&a);
    a = iam(&f, "Action=GetRolePolicy&Version=2010-05-08&RoleName=BrockLogs&PolicyName=logs");
    expect_ok(&a);
    assert_non_null(strstr(a.body, "<PolicyName>logs</PolicyName>"));
    ans_free(&a);
    /* malformed documents */
    static const struct { const char *doc; bool trust; const char *msg; } bad[] = {
        {"{not json", true, "This policy contains invalid Json"},
        {"{\"Version\":\"2012-10-17\"}", true, "Syntax errors in policy."},
        {"{\"Version\":\"2011-01-01\",\"Statement\":[]}", true, "The policy failed legacy parsing"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"bedrock.amazonaws.com\"},\"Action\":"
         "\"sts:AssumeRole\",\"Resource\":\"*\"}]}",
         true, "Has prohibited field Resource"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\"}]}", true,
         "Missing required field Principal"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"logs:*\",\"Resource\":\"*\"}]}",
         false, "Policy document should not specify a principal."},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"PutLogEvents\",\"Resource\":\"*\"}]}", false,
         "Actions/Conditions must be prefaced by a vendor"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"logs:PutLogEvents\"}]}", false,
         "Policy statement must contain resources."},
        {"{\"Statement\":[{\"Effect\":\"Maybe\",\"Action\":\"logs:PutLogEvents\",\"Resource\":\"*\"}]}", false,
         "Invalid effect: Maybe"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *d = form_enc(bad[i].doc);
        if (bad[i].trust)
            a = iamf(&f, "Action=CreateRole&Version=2010-05-08&RoleName=r%zu&AssumeRolePolicyDocument=%s", i, d);
        else
            a = iamf(&f, "Action=PutRolePolicy&Version=2010-05-08&RoleName=BrockLogs&PolicyName=p&PolicyDocument=%s",
                     d);
        expect_err(&a, 400, "MalformedPolicyDocument", bad[i].msg);
        ans_free(&a);
        free(d);
    }
    /* inline policies: 10,240 characters in all (whitespace not counted) */
    struct buf big = BUF_INIT(1 << 20);
    buf_addstr(&big, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"logs:PutLogEvents\","
                     "\"Resource\":[");
    for (int i = 0; i < 300; i++)
        buf_addf(&big, "%s\"arn:aws:logs:us-east-1:123456789012:log-group:g%03d\"", i ? "," : "", i);
    buf_addstr(&big, "]}]}");
    char *d = form_enc(buf_cstr(&big));
    a = iamf(&f, "Action=PutRolePolicy&Version=2010-05-08&RoleName=BrockLogs&PolicyName=big&PolicyDocument=%s", d);
    expect_err(&a, 409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role BrockLogs");
    ans_free(&a);
    free(d);
    buf_free(&big);
    /* a trust policy of 2,048 characters is the largest */
    for (int extra = 0; extra < 2; extra++) {
        struct buf tp = BUF_INIT(1 << 16);
        const char *pre = "{\"Statement\":[{\"Sid\":\"", *post = "\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":"
                                                                "\"bedrock.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";
        buf_addstr(&tp, pre);
        while (tp.len + strlen(post) < 2048 + (size_t)extra)
            buf_addc(&tp, 'S');
        buf_addstr(&tp, post);
        char *enc = form_enc(buf_cstr(&tp));
        a = iamf(&f, "Action=CreateRole&Version=2010-05-08&RoleName=size%d&AssumeRolePolicyDocument=%s", extra, enc);
        if (extra)
            expect_err(&a, 409, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048");
        else
            expect_ok(&a);
        ans_free(&a);
        free(enc);
        buf_free(&tp);
    }
    /* inline policies: exactly 10,240 non-space characters in all is fine */
    for (int extra = 0; extra < 2; extra++) {
        struct buf ip = BUF_INIT(1 << 16);
        const char *pre = "{\"Statement\": [{\"Sid\": \"", *post = "\", \"Effect\": \"Allow\", \"Action\": \"logs:PutLogEvents\","
                                                                 " \"Resource\": \"*\"}]}";
        buf_addstr(&ip, pre);
        size_t fixed = 0; /* IAM does not count whitespace */
        for (const char *c = pre; *c; c++)
            fixed += *c != ' ';
        for (const char *c = post; *c; c++)
            fixed += *c != ' ';
        for (size_t k = 0; k < 10240 - fixed + (size_t)extra; k++)
            buf_addc(&ip, 'P');
        buf_addstr(&ip, post);
        char *enc = form_enc(buf_cstr(&ip));
        a = iamf(&f, "Action=PutRolePolicy&Version=2010-05-08&RoleName=size0&PolicyName=all&PolicyDocument=%s", enc);
        if (extra)
            expect_err(&a, 409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role size0");
        else
            expect_ok(&a);
        ans_free(&a);
        free(enc);
        buf_free(&ip);
    }
    a = iam(&f, "Action=CreateRole&Version=2010-05-08&RoleName=bad%20name&AssumeRolePolicyDocument=x");
    expect_err(&a, 400, "ValidationError", "Member must satisfy regular expression pattern: [\\w+=,.@-]+");
    ans_free(&a);
    a = iam(&f, "Action=DeleteRole&Version=2010-05-08&RoleName=BrockLogs");
    expect_err(&a, 409, "DeleteConflict", "Cannot delete entity, must delete policies first.");
    ans_free(&a);
    a = iam(&f, "Action=DeleteRolePolicy&Version=2010-05-08&RoleName=BrockLogs&PolicyName=logs");
    expect_ok(&a);
    ans_free(&a);
    a = iam(&f, "Action=DeleteRole&Version=2010-05-08&RoleName=BrockLogs");
    expect_ok(&a);
    ans_free(&a);
    a = iam(&f, "Action=ListRoles&Version=2010-05-08");
    expect_err(&a, 400, "InvalidAction", NULL);
    ans_free(&a);
    /* STS's signing name is refused by IAM */
    a = iam_as(&f, "sts", "Action=GetRole&Version=2010-05-08&RoleName=x");
    expect_err(&a, 403, "SignatureDoesNotMatch", "'iam'");
    ans_free(&a);
    free(t);
    free(p);
    fx_down(&f);
}

/* ------------------------------------------------------------------ */
/* pure parts                                                           */

static void test_query_parse(void **state)
{
    (void)state;
    char why[200];
    const char *qs = "Action=X&A.member.2.B=two&A.member.1.B=one&A.member.1.C.member.1=c%2B+d&E=";
    json_t *v = emu_query_parse(qs, strlen(qs),
                                why, sizeof why);
    assert_non_null(v);
    assert_string_equal(jstr(v, "Action"), "X");
    assert_string_equal(jstr(v, "A.0.B"), "one");
    assert_string_equal(jstr(v, "A.1.B"), "two");
    assert_string_equal(jstr(v, "A.0.C.0"), "c+ d");
    assert_string_equal(jstr(v, "E"), "");
    json_decref(v);
    static const char *const bad[] = {"A.member.0=x", "A.member.x=1", "A=1&A.B=2", "A.B=1&A=2",
                                      "A.member.1=1&A.x=2", "A=%zz", "A=%4", "=v", "A..B=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = emu_query_parse(bad[i], strlen(bad[i]), why, sizeof why);
        if (v)
            fail_msg("accepted %s", bad[i]);
        assert_true(why[0]);
    }
}

/* Nothing secret in answers, the request log or log lines. */
static void test_no_secrets(void **state)
{
    (void)state;
    struct fx f;
    fx_up(&f);
    log_setup(LOG_DEBUG, log_sink, NULL);
    /* a session key the emulator knows, and a wrong secret */
    const char *session_secret = "sessionSecretForEmuAws/0123456789ABCDEFGH";
    const char *token = "FQoGZXIvYXdzEmuAwsSessionTokenSecret0123456789";
    char *dir = test_tmpdir();
    char keys[256];
    snprintf(keys, sizeof keys, "%s/keys.json", dir);
    char kj[512];
    snprintf(kj, sizeof kj,
             "{\"keys\": [{\"AccessKeyId\": \"ASIAEMUAWSTEST000001\", \"SecretAccessKey\": \"%s\", \"SessionToken\": "
             "\"%s\"}]}",
             session_secret, token);
    test_write_file(keys, kj);
    emulator_stop(f.em);
    struct emulator_options o = {.clock = &pinned, .keys_path = keys};
    struct brock_err e = {0};
    assert_int_equal(emulator_start(&o, &f.em, &e), BROCK_OK);
    aws_credentials_release(f.creds);
    f.creds = aws_credentials_new("ASIAEMUAWSTEST000001", session_secret, token, 0, "test");
    fx_client(&f, "us-east-1", false, NULL);
    mk_group_stream(&f, "g", "s");
    struct buf answers = BUF_INIT((size_t)16 << 20);
    struct ans a = logs(&f, "PutLogEvents", "{\"logGroupName\":\"g\"}");
    buf_addstr(&answers, a.body);
    buf_addstr(&answers, a.e.msg);
    ans_free(&a);
    a = cw_json(&f, "PutMetricData", "{\"Namespace\":\"AWS/x\"}");
    buf_addstr(&answers, a.body);
    buf_addstr(&answers, a.e.msg);
    ans_free(&a);
    a = ctl(&f, "GET", "/inference-profiles", "maxResults=9999", NULL);
    buf_addstr(&answers, a.body);
    buf_addstr(&answers, a.e.msg);
    ans_free(&a);
    /* a wrong secret for the same key */
    aws_credentials_release(f.creds);
    f.creds = aws_credentials_new("ASIAEMUAWSTEST000001", "wrongSecretEmuAws0000000000000000000000", token, 0, "t");
    fx_client(&f, "us-east-1", false, NULL);
    a = logs(&f, "DescribeLogGroups", "{}");
    expect_err(&a, 403, "InvalidSignatureException", NULL);
    buf_addstr(&answers, a.body);
    buf_addstr(&answers, a.e.msg);
    ans_free(&a);
    char *rl = emulator_requests_json(f.em);
    char *ld = emulator_logs_json(f.em, NULL);
    pthread_mutex_lock(&log_mu);
    const char *hay[] = {buf_cstr(&answers), rl, ld, buf_cstr(&log_text)};
    const char *needles[] = {session_secret, token, "wrongSecretEmuAws", "Signature="};
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < 4; k++)
            if (strstr(hay[i], needles[k]))
                fail_msg("secret %zu found in place %zu", k, i);
    assert_non_null(strstr(buf_cstr(&log_text), "emulate: POST / -> 400 InvalidParameterException"));
    pthread_mutex_unlock(&log_mu);
    log_setup(LOG_WARN, NULL, NULL);
    free(rl);
    free(ld);
    buf_free(&answers);
    free(dir);
    fx_down(&f);
}

int main(void)
{
    test_init();
    crypto_global_init();
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logs_groups_and_streams),
        cmocka_unit_test(test_logs_retention_values),
        cmocka_unit_test(test_put_events_count_limit),
        cmocka_unit_test(test_put_events_size_limits),
        cmocka_unit_test(test_put_events_order_and_span),
        cmocka_unit_test(test_put_events_rejected_info),
        cmocka_unit_test(test_put_events_shape_errors),
        cmocka_unit_test(test_get_and_filter_events),
        cmocka_unit_test(test_emf_extraction),
        cmocka_unit_test(test_logs_faults_retries_and_auth),
        cmocka_unit_test(test_reset_and_control_dump),
        cmocka_unit_test(test_cw_put_metric_data_both_protocols),
        cmocka_unit_test(test_cw_put_metric_data_limits),
        cmocka_unit_test(test_cw_get_metric_data_math),
        cmocka_unit_test(test_cw_alarms),
        cmocka_unit_test(test_cw_dashboards),
        cmocka_unit_test(test_cw_gzip_bodies),
        cmocka_unit_test(test_faults_per_service),
        cmocka_unit_test(test_ctl_inference_profiles),
        cmocka_unit_test(test_ctl_foundation_models),
        cmocka_unit_test(test_ctl_invocation_logging),
        cmocka_unit_test(test_iam_roles),
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_no_secrets),
    };
    int rc = cmocka_run_group_tests_name("emulator_aws", tests, NULL, NULL);
    buf_free(&log_text);
    http_global_cleanup();
    return rc;
}
