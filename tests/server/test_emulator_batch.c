/* Tests for the emulator's S3 (src/server/emulator_s3.c) and batch job API
 * (src/server/emulator_batch.c) with hand-made requests, for what brock's
 * own clients never send: a missing or wrong x-amz-content-sha256, a wrong
 * x-amz-checksum-crc32, S3's shape for auth errors, ranges, list parameters,
 * the /_emulator/batch control endpoint, jobs over several input files with
 * bad records, job validation, and a reset with jobs in flight. */
#define EMULATOR_INTERNAL
#include "../support/test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/aws/crypto.h"
#include "../../src/aws/http.h"
#include "../../src/aws/sigv4.h"
#include "../../src/server/emulator.h"
#include "../../src/util/alloc.h"
#include "../../src/util/codec.h"
#include "../../src/util/timeutil.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

struct env {
    struct emulator *em;
    struct http_client *http;
    struct sigv4_signer *signer;
    struct aws_credentials *creds;
    char host[64];
};

static void up(struct env *v)
{
    memset(v, 0, sizeof *v);
    struct emulator_options o = {0};
    struct brock_err e = {0};
    if (emulator_start(&o, &v->em, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    v->http = http_client_new(NULL);
    v->signer = sigv4_signer_new();
    v->creds = aws_credentials_new(AKID, SECRET, NULL, 0, "test");
    snprintf(v->host, sizeof v->host, "127.0.0.1:%u", (unsigned)emulator_port(v->em));
}

static void down(struct env *v)
{
    aws_credentials_release(v->creds);
    sigv4_signer_free(v->signer);
    http_client_free(v->http);
    emulator_stop(v->em);
}

/* A request signed for `service`; extra headers in pairs (NULL-ended);
 * payload_hash NULL = the body's, "" = no x-amz-content-sha256 at all. */
static long call(struct env *v, const char *service, const char *method, const char *path, const char *query,
                 const char *body, const char *payload_hash, const char **extra, struct http_response *r)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    struct brock_err e = {0};
    assert_int_equal(http_headers_add(&h, "Host", v->host, &e), BROCK_OK);
    for (size_t i = 0; extra && extra[i]; i += 2)
        assert_int_equal(http_headers_add(&h, extra[i], extra[i + 1], &e), BROCK_OK);
    struct sigv4_header sh[16];
    size_t n = http_headers_count(&h);
    for (size_t i = 0; i < n; i++)
        sh[i] = (struct sigv4_header){http_headers_name(&h, i), strlen(http_headers_name(&h, i)),
                                      http_headers_value(&h, i), strlen(http_headers_value(&h, i))};
    bool s3 = !strcmp(service, "s3");
    struct sigv4_request sr = {.method = method, .path = path, .path_len = strlen(path), .query = query,
                               .query_len = query ? strlen(query) : 0, .headers = sh, .n_headers = n, .body = body,
                               .body_len = body ? strlen(body) : 0,
                               .payload_hash = payload_hash && *payload_hash ? payload_hash : NULL};
    struct sigv4_params p = {.creds = v->creds, .region = "us-east-1", .service = service,
                             .time_s = time_now_ms() / 1000, .no_normalize_path = s3, .no_double_encode = s3,
                             .add_content_sha256 = s3 && !(payload_hash && !*payload_hash)};
    const struct sigv4_output *so;
    assert_int_equal(sigv4_sign_headers(v->signer, &sr, &p, &so, &e), BROCK_OK);
    for (size_t i = 0; i < so->n_headers; i++) {
        char *name = strndup(so->headers[i].name, so->headers[i].name_len);
        char *value = strndup(so->headers[i].value, so->headers[i].value_len);
        assert_int_equal(http_headers_set(&h, name, value, &e), BROCK_OK);
        free(name);
        free(value);
    }
    char url[2048];
    snprintf(url, sizeof url, "%s%s%s%s", emulator_url(v->em), path, query ? "?" : "", query ? query : "");
    struct http_request req = {.method = method, .url = url, .headers = &h, .body = body,
                               .body_len = body ? strlen(body) : 0};
    assert_int_equal(http_send(v->http, &req, r, &e), BROCK_OK);
    http_headers_cleanup(&h);
    return r->status;
}

static long control(struct env *v, const char *method, const char *path, const char *body, struct http_response *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", emulator_url(v->em), path);
    struct http_request req = {.method = method, .url = url, .body = body, .body_len = body ? strlen(body) : 0};
    struct brock_err e = {0};
    assert_int_equal(http_send(v->http, &req, r, &e), BROCK_OK);
    return r->status;
}

static bool has(const struct http_response *r, const char *s)
{
    return strstr(buf_cstr(&r->body), s) != NULL;
}

static void test_s3_checks(void **state)
{
    (void)state;
    struct env v;
    up(&v);
    struct http_response r;
    http_response_init(&r);
    /* no x-amz-content-sha256: S3 wants it */
    assert_int_equal(call(&v, "s3", "PUT", "/bkt/k", NULL, "data", "", NULL, &r), 400);
    assert_true(has(&r, "<Code>InvalidRequest</Code>") && has(&r, "x-amz-content-sha256"));
    assert_string_equal(http_headers_get(&r.headers, "content-type"), "application/xml");
    assert_non_null(http_headers_get(&r.headers, "x-amz-request-id"));
    /* a payload hash that is not the body's (signed as sent) */
    char other[SHA256_HEX_LEN + 1];
    crypto_sha256_hex("other", 5, other);
    long st = call(&v, "s3", "PUT", "/bkt/k", NULL, "data", other, NULL, &r);
    assert_int_equal(st, 400);
    assert_true(has(&r, "<Code>XAmzContentSHA256Mismatch</Code>"));
    /* UNSIGNED-PAYLOAD is fine; aws-chunked is not offered */
    assert_int_equal(call(&v, "s3", "PUT", "/bkt/k", NULL, "data", "UNSIGNED-PAYLOAD", NULL, &r), 200);
    const char *chunked[] = {"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", NULL};
    assert_int_equal(call(&v, "s3", "PUT", "/bkt/k2", NULL, "data", "", chunked, &r), 501);
    assert_true(has(&r, "aws-chunked"));
    /* a CRC32 that does not match; one that does ("data": adf3f363) */
    const char *bad_crc[] = {"x-amz-checksum-crc32", "AAAAAA==", NULL};
    assert_int_equal(call(&v, "s3", "PUT", "/bkt/k", NULL, "data", NULL, bad_crc, &r), 400);
    assert_true(has(&r, "<Code>BadDigest</Code>"));
    const char *good_crc[] = {"x-amz-checksum-crc32", "rfPzYw==", NULL};
    assert_int_equal(call(&v, "s3", "PUT", "/bkt/k", NULL, "data", NULL, good_crc, &r), 200);
    assert_string_equal(http_headers_get(&r.headers, "x-amz-checksum-crc32"), "rfPzYw==");
    /* ranges */
    const char *tail[] = {"Range", "bytes=-3", NULL};
    assert_int_equal(call(&v, "s3", "GET", "/bkt/k", NULL, NULL, NULL, tail, &r), 206);
    assert_string_equal(buf_cstr(&r.body), "ata");
    assert_string_equal(http_headers_get(&r.headers, "content-range"), "bytes 1-3/4");
    const char *from[] = {"Range", "bytes=2-", NULL};
    assert_int_equal(call(&v, "s3", "GET", "/bkt/k", NULL, NULL, NULL, from, &r), 206);
    assert_string_equal(buf_cstr(&r.body), "ta");
    const char *past[] = {"Range", "bytes=9-12", NULL};
    assert_int_equal(call(&v, "s3", "GET", "/bkt/k", NULL, NULL, NULL, past, &r), 416);
    assert_true(has(&r, "<Code>InvalidRange</Code>"));
    /* list parameters */
    assert_int_equal(call(&v, "s3", "PUT", "/bkt/a%2Bb", NULL, "1", NULL, NULL, &r), 200);
    assert_int_equal(call(&v, "s3", "GET", "/bkt", "list-type=2&start-after=k", NULL, NULL, NULL, &r), 200);
    assert_true(has(&r, "<Key>k2</Key>") || !has(&r, "<Key>k</Key>"));
    assert_false(has(&r, "<Key>a+b</Key>"));
    assert_int_equal(call(&v, "s3", "GET", "/bkt", "continuation-token=bm9wZQ%3D%3D&list-type=2", NULL, NULL, NULL, &r),
                     400);
    assert_true(has(&r, "<Code>InvalidArgument</Code>"));
    assert_int_equal(call(&v, "s3", "GET", "/bkt", "list-type=2&max-keys=x", NULL, NULL, NULL, &r), 400);
    assert_int_equal(call(&v, "s3", "GET", "/bkt", NULL, NULL, NULL, NULL, &r), 501); /* ListObjects v1 */
    assert_int_equal(call(&v, "s3", "GET", "/bkt/a%2Bb", NULL, NULL, NULL, NULL, &r), 200);
    assert_string_equal(buf_cstr(&r.body), "1");
    /* bucket rules */
    assert_int_equal(call(&v, "s3", "PUT", "/Bad_Bucket/k", NULL, "x", NULL, NULL, &r), 400);
    assert_true(has(&r, "<Code>InvalidBucketName</Code>"));
    assert_int_equal(call(&v, "s3", "DELETE", "/bkt", NULL, NULL, NULL, NULL, &r), 409);
    assert_true(has(&r, "<Code>BucketNotEmpty</Code>"));
    assert_int_equal(call(&v, "s3", "HEAD", "/nobucket", NULL, NULL, NULL, NULL, &r), 404);
    assert_int_equal(call(&v, "s3", "PUT", "/newbucket", NULL, NULL, NULL, NULL, &r), 200);
    assert_int_equal(call(&v, "s3", "HEAD", "/newbucket", NULL, NULL, NULL, NULL, &r), 200);
    assert_int_equal(call(&v, "s3", "DELETE", "/newbucket", NULL, NULL, NULL, NULL, &r), 204);
    /* auth errors in S3's words and shape, never the secret */
    aws_credentials_release(v.creds);
    v.creds = aws_credentials_new("AKIANOSUCHKEY0000000", SECRET, NULL, 0, "test");
    assert_int_equal(call(&v, "s3", "GET", "/bkt/k", NULL, NULL, NULL, NULL, &r), 403);
    assert_true(has(&r, "<Error><Code>InvalidAccessKeyId</Code>"));
    aws_credentials_release(v.creds);
    v.creds = aws_credentials_new(AKID, "the-wrong-secret-WRONGWRONGWRONG000000000", NULL, 0, "test");
    assert_int_equal(call(&v, "s3", "GET", "/bkt/k", NULL, NULL, NULL, NULL, &r), 403);
    assert_true(has(&r, "<Code>SignatureDoesNotMatch</Code>"));
    assert_false(has(&r, "WRONGWRONG"));
    char *log = emulator_requests_json(v.em);
    assert_null(strstr(log, "WRONGWRONG"));
    assert_null(strstr(log, SECRET));
    free(log);
    http_response_free(&r);
    down(&v);
}

static const char *record(int i, bool valid)
{
    static char b[512];
    if (valid)
        snprintf(b, sizeof b,
                 "{\"recordId\":\"R%05d\",\"modelInput\":{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":50,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"item %d\"}]}}\n",
                 i, i);
    else
        snprintf(b, sizeof b, "{\"recordId\":\"R%05d\",\"modelInput\":{\"max_tokens\":50}}\n", i);
    return b;
}

static json_t *job_get(struct env *v, const char *arn, struct http_response *r)
{
    char path[1024];
    struct buf enc = BUF_INIT(512);
    (void)uri_encode(&enc, arn, strlen(arn), false);
    snprintf(path, sizeof path, "/model-invocation-job/%s", buf_cstr(&enc));
    buf_free(&enc);
    assert_int_equal(call(v, "bedrock", "GET", path, NULL, NULL, NULL, NULL, r), 200);
    return json_loads(buf_cstr(&r->body), 0, NULL);
}

static void test_jobs(void **state)
{
    (void)state;
    struct env v;
    up(&v);
    struct http_response r;
    http_response_init(&r);
    /* the control endpoint */
    assert_int_equal(control(&v, "GET", "/_emulator/batch", NULL, &r), 200);
    assert_true(has(&r, "\"min_records\":100"));
    assert_int_equal(control(&v, "POST", "/_emulator/batch", "{\"step_ms\": 0}", &r), 400);
    assert_int_equal(control(&v, "POST", "/_emulator/batch", "{\"speed\": 1}", &r), 400);
    assert_true(has(&r, "unknown field \\\"speed\\\""));
    assert_int_equal(control(&v, "POST", "/_emulator/batch", "{\"step_ms\": 10, \"min_records\": 2}", &r), 200);

    /* input: two files under a prefix, one bad record, one line that is not JSON */
    struct buf a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
    for (int i = 0; i < 3; i++)
        buf_addstr(&a, record(i, i != 1));
    buf_addstr(&b, record(10, true));
    buf_addstr(&b, "not json\n\n");
    assert_int_equal(call(&v, "s3", "PUT", "/jobs/in/a.jsonl", NULL, buf_cstr(&a), NULL, NULL, &r), 200);
    assert_int_equal(call(&v, "s3", "PUT", "/jobs/in/b.jsonl", NULL, buf_cstr(&b), NULL, NULL, &r), 200);
    assert_int_equal(call(&v, "s3", "PUT", "/jobs/in/notes.txt", NULL, "ignored", NULL, NULL, &r), 200);
    const char *create = "{\"jobName\":\"two-files\",\"roleArn\":\"arn:aws:iam::123456789012:role/R\","
                         "\"modelId\":\"us.anthropic.claude-haiku-4-5-20251001-v1:0\","
                         "\"inputDataConfig\":{\"s3InputDataConfig\":{\"s3Uri\":\"s3://jobs/in/\"}},"
                         "\"outputDataConfig\":{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://jobs/out\"}}}";
    assert_int_equal(call(&v, "bedrock", "POST", "/model-invocation-job", NULL, create, NULL, NULL, &r), 200);
    json_t *c = json_loads(buf_cstr(&r.body), 0, NULL);
    char arn[256];
    snprintf(arn, sizeof arn, "%s", json_string_value(json_object_get(c, "jobArn")));
    json_decref(c);
    json_t *j = NULL;
    for (int i = 0; i < 200; i++) {
        json_decref(j);
        j = job_get(&v, arn, &r);
        const char *st = json_string_value(json_object_get(j, "status"));
        if (!strcmp(st, "PartiallyCompleted") || !strcmp(st, "Completed") || !strcmp(st, "Failed"))
            break;
        usleep(10000);
    }
    assert_string_equal(json_string_value(json_object_get(j, "status")), "PartiallyCompleted");
    assert_int_equal(json_integer_value(json_object_get(j, "totalRecordCount")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "successRecordCount")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "errorRecordCount")), 2);
    json_decref(j);
    const char *id = strrchr(arn, '/') + 1;
    char path[256];
    snprintf(path, sizeof path, "/jobs/out/%s/a.jsonl.out", id);
    assert_int_equal(call(&v, "s3", "GET", path, NULL, NULL, NULL, NULL, &r), 200);
    assert_true(has(&r, "\"recordId\":\"R00001\"") && has(&r, "\"errorCode\":400"));
    assert_true(has(&r, "Hello from brock emulate. You said: \\\"item 0\\\""));
    snprintf(path, sizeof path, "/jobs/out/%s/b.jsonl.out", id);
    assert_int_equal(call(&v, "s3", "GET", path, NULL, NULL, NULL, NULL, &r), 200);
    assert_true(has(&r, "The record is not a JSON object."));
    snprintf(path, sizeof path, "/jobs/out/%s/manifest.json.out", id);
    assert_int_equal(call(&v, "s3", "GET", path, NULL, NULL, NULL, NULL, &r), 200);
    assert_true(has(&r, "\"totalRecordCount\":5") && has(&r, "\"errorRecordCount\":2"));

    /* validation */
    static const struct {
        const char *body, *want;
    } bad[] = {
        {"{\"jobName\":\"x y\"}", "jobName"},
        {"{\"jobName\":\"x\",\"roleArn\":\"role\"}", "roleArn"},
        {"{\"jobName\":\"x\",\"roleArn\":\"arn:aws:iam::123456789012:role/R\",\"modelId\":\"gpt\"}", "model identifier"},
        {"{\"jobName\":\"x\",\"roleArn\":\"arn:aws:iam::123456789012:role/R\",\"modelId\":\"us.anthropic.claude-haiku-4-5-"
         "20251001-v1:0\",\"inputDataConfig\":{\"s3InputDataConfig\":{\"s3Uri\":\"s3://jobs/in/\"}},\"outputDataConfig\":"
         "{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://jobs/out/\"}},\"timeoutDurationInHours\":12}",
         "timeoutDurationInHours"},
        {"{\"jobName\":\"x\",\"roleArn\":\"arn:aws:iam::123456789012:role/R\",\"modelId\":\"us.anthropic.claude-haiku-4-5-"
         "20251001-v1:0\",\"inputDataConfig\":{\"s3InputDataConfig\":{\"s3Uri\":\"s3://jobs/in/\"}},\"outputDataConfig\":"
         "{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://jobs/out/\"}},\"modelInvocationType\":\"Converse\"}",
         "InvokeModel only"},
        {"[]", "JSON object"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        assert_int_equal(call(&v, "bedrock", "POST", "/model-invocation-job", NULL, bad[i].body, NULL, NULL, &r), 400);
        assert_string_equal(http_headers_get(&r.headers, "x-amzn-ErrorType"),
                            "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/");
        if (!has(&r, bad[i].want))
            fail_msg("case %zu: %s", i, buf_cstr(&r.body));
    }
    assert_int_equal(call(&v, "bedrock", "GET", "/model-invocation-jobs", "maxResults=0", NULL, NULL, NULL, &r), 400);
    assert_int_equal(call(&v, "bedrock", "DELETE", "/model-invocation-job/abc", NULL, NULL, NULL, NULL, &r), 405);
    assert_int_equal(call(&v, "bedrock", "POST", "/model-invocation-job/abc/pause", NULL, NULL, NULL, NULL, &r), 404);

    /* reset with a job in flight: it is gone at once, and freed when its timer fires */
    assert_int_equal(control(&v, "POST", "/_emulator/batch", "{\"step_ms\": 100}", &r), 200);
    assert_int_equal(call(&v, "bedrock", "POST", "/model-invocation-job", NULL, create, NULL, NULL, &r), 200);
    c = json_loads(buf_cstr(&r.body), 0, NULL);
    snprintf(arn, sizeof arn, "%s", json_string_value(json_object_get(c, "jobArn")));
    json_decref(c);
    emulator_reset(v.em);
    struct buf enc = BUF_INIT(512);
    (void)uri_encode(&enc, arn, strlen(arn), false);
    snprintf(path, sizeof path, "/model-invocation-job/%s", buf_cstr(&enc));
    buf_free(&enc);
    assert_int_equal(call(&v, "bedrock", "GET", path, NULL, NULL, NULL, NULL, &r), 404);
    assert_int_equal(call(&v, "s3", "GET", "/jobs/in/a.jsonl", NULL, NULL, NULL, NULL, &r), 404); /* S3 reset too */
    usleep(300 * 1000); /* its timer runs on a forgotten job */
    assert_int_equal(control(&v, "GET", "/_emulator/batch", NULL, &r), 200);
    assert_true(has(&r, "\"jobs\":[]"));
    buf_free(&a);
    buf_free(&b);
    http_response_free(&r);
    down(&v);
}

int main(void)
{
    test_init();
    crypto_global_init();
    struct brock_err e;
    if (http_global_init(&e) != BROCK_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_checks),
        cmocka_unit_test(test_jobs),
    };
    int rc = cmocka_run_group_tests_name("emulator_batch", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
