/* batch_job.c - model invocation jobs on the Bedrock control plane (batch.h,
 * aws-wire-reference.md 8.1): create, get, list, stop, and their JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "batch_int.h"

#define JOB_ANSWER_MAX ((size_t)4 * 1024 * 1024)

bool batch_job_finished(const char *status)
{
    static const char *const done[] = {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(done); i++)
        if (!strcmp(status, done[i]))
            return true;
    return false;
}

static void copy_str(char *dst, size_t n, const json_t *o, const char *k)
{
    const char *s = json_str(o, k);
    snprintf(dst, n, "%s", s ? s : "");
}

static int64_t time_of(const json_t *o, const char *k)
{
    const char *s = json_str(o, k);
    int64_t ms = 0;
    if (s && time_parse_iso8601(s, &ms))
        return ms;
    return 0;
}

static int64_t count_of(const json_t *o, const char *k)
{
    int64_t v;
    return json_int(o, k, &v) && v >= 0 ? v : -1;
}

/* One job object (GetModelInvocationJob answer or a list summary). */
enum brock_status batch_job_from_json(const json_t *o, struct batch_job *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    const char *arn = json_str(o, "jobArn"), *status = json_str(o, "status");
    if (!json_is_object(o) || !arn || !*arn || !status || !*status)
        return err_set(e, BROCK_ERR_PARSE, "a model invocation job without jobArn or status");
    if (strlen(status) >= sizeof out->status)
        return err_set(e, BROCK_ERR_PARSE, "a model invocation job status longer than %zu bytes", sizeof out->status - 1);
    if (strlen(arn) >= sizeof out->arn)
        return err_set(e, BROCK_ERR_PARSE, "a jobArn longer than %zu bytes", sizeof out->arn - 1);
    snprintf(out->arn, sizeof out->arn, "%s", arn);
    const char *slash = strrchr(arn, '/');
    snprintf(out->id, sizeof out->id, "%s", slash ? slash + 1 : arn);
    copy_str(out->name, sizeof out->name, o, "jobName");
    copy_str(out->model_id, sizeof out->model_id, o, "modelId");
    copy_str(out->status, sizeof out->status, o, "status");
    copy_str(out->message, sizeof out->message, o, "message");
    copy_str(out->role_arn, sizeof out->role_arn, o, "roleArn");
    copy_str(out->input_uri, sizeof out->input_uri,
             json_object_get(json_object_get(o, "inputDataConfig"), "s3InputDataConfig"), "s3Uri");
    copy_str(out->output_uri, sizeof out->output_uri,
             json_object_get(json_object_get(o, "outputDataConfig"), "s3OutputDataConfig"), "s3Uri");
    out->submit_ms = time_of(o, "submitTime");
    out->end_ms = time_of(o, "endTime");
    out->total = count_of(o, "totalRecordCount");
    out->processed = count_of(o, "processedRecordCount");
    out->success = count_of(o, "successRecordCount");
    out->errors = count_of(o, "errorRecordCount");
    return BROCK_OK;
}

static enum brock_status call(struct aws_client *c, const char *method, const char *path, const char *query,
                              const char *body, json_t **out, struct brock_err *e)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st = body ? http_headers_add(&h, "Content-Type", "application/json", e) : BROCK_OK;
    struct aws_response r;
    aws_response_init(&r);
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = ENDPOINT_SVC_BEDROCK,
            .method = method,
            .path = path,
            .query = query,
            .headers = &h,
            .body = body,
            .body_len = body ? strlen(body) : 0,
            .protocol = AWSERR_REST_JSON,
            .max_body = JOB_ANSWER_MAX,
        };
        st = aws_client_send(c, &req, &r, e);
    }
    if (st == BROCK_OK && out) {
        char what[260];
        snprintf(what, sizeof what, "Bedrock's answer to %s %.100s (request id %s)", method, path,
                 r.request_id[0] ? r.request_id : "none");
        st = json_parse(buf_cstr(&r.http.body), r.http.body.len, what, out, e);
        if (st == BROCK_OK && !json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            st = err_set(e, BROCK_ERR_PARSE, "%s is not a JSON object", what);
        }
    }
    aws_response_free(&r);
    http_headers_cleanup(&h);
    return st;
}

static void job_path(const char *job, const char *tail, struct buf *out)
{
    buf_addstr(out, "/model-invocation-job/");
    uri_encode(out, job, strlen(job), false);
    if (tail)
        buf_addstr(out, tail);
}

enum brock_status batch_job_create(struct aws_client *c, const struct batch_job_spec *spec, char arn[BATCH_JOB_ARN_MAX],
                                   struct brock_err *e)
{
    json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:{s:{s:s,s:s}},s:{s:{s:s}},s:I,s:s}", "jobName", spec->name, "roleArn",
                          spec->role_arn, "clientRequestToken", spec->token, "modelId", spec->model_id,
                          "inputDataConfig", "s3InputDataConfig", "s3Uri", spec->input_uri, "s3InputFormat", "JSONL",
                          "outputDataConfig", "s3OutputDataConfig", "s3Uri", spec->output_uri,
                          "timeoutDurationInHours", (json_int_t)spec->timeout_h, "modelInvocationType", "InvokeModel");
    if (!b)
        return err_set(e, BROCK_ERR_USAGE, "a job name, role, model or S3 URI is not valid UTF-8");
    char *body = json_dump_compact(b);
    json_decref(b);
    json_t *ans = NULL;
    enum brock_status st = call(c, "POST", "/model-invocation-job", NULL, body, &ans, e);
    free(body);
    if (st != BROCK_OK)
        return err_prefix(e, "creating the batch inference job %s", spec->name);
    const char *a = json_str(ans, "jobArn");
    if (!a || strlen(a) >= BATCH_JOB_ARN_MAX)
        st = err_set(e, BROCK_ERR_PARSE, "CreateModelInvocationJob answered without a usable jobArn");
    else
        snprintf(arn, BATCH_JOB_ARN_MAX, "%s", a);
    json_decref(ans);
    return st;
}

enum brock_status batch_job_get(struct aws_client *c, const char *job, struct batch_job *out, struct brock_err *e)
{
    struct buf path = BUF_INIT(4 * BATCH_JOB_ARN_MAX);
    job_path(job, NULL, &path);
    json_t *ans = NULL;
    enum brock_status st = call(c, "GET", buf_cstr(&path), NULL, NULL, &ans, e);
    if (st == BROCK_OK)
        st = batch_job_from_json(ans, out, e);
    json_decref(ans);
    buf_free(&path);
    return st;
}

enum brock_status batch_job_stop(struct aws_client *c, const char *job, struct brock_err *e)
{
    struct buf path = BUF_INIT(4 * BATCH_JOB_ARN_MAX);
    job_path(job, "/stop", &path);
    enum brock_status st = call(c, "POST", buf_cstr(&path), NULL, "{}", NULL, e);
    buf_free(&path);
    return st;
}

enum brock_status batch_job_list(struct aws_client *c, const char *name_contains, const char *status, size_t max,
                                 struct batch_job **out, size_t *n, struct brock_err *e)
{
    *out = NULL;
    *n = 0;
    if (!max)
        max = 100;
    char next[2048] = "";
    enum brock_status st = BROCK_OK;
    while (st == BROCK_OK && *n < max) {
        struct buf q = BUF_INIT(8192);
        size_t want = max - *n > 1000 ? 1000 : max - *n;
        buf_addf(&q, "maxResults=%zu", want);
        if (name_contains && *name_contains) {
            buf_addstr(&q, "&nameContains=");
            uri_encode(&q, name_contains, strlen(name_contains), false);
        }
        if (next[0]) {
            buf_addstr(&q, "&nextToken=");
            uri_encode(&q, next, strlen(next), false);
        }
        buf_addstr(&q, "&sortBy=CreationTime&sortOrder=Descending");
        if (status && *status) {
            buf_addstr(&q, "&statusEquals=");
            uri_encode(&q, status, strlen(status), false);
        }
        json_t *ans = NULL;
        st = buf_status(&q) == BROCK_OK ? call(c, "GET", "/model-invocation-jobs", buf_cstr(&q), NULL, &ans, e)
                                        : err_set(e, BROCK_ERR_TOO_LARGE, "list query too long");
        buf_free(&q);
        if (st != BROCK_OK)
            break;
        json_t *arr = json_object_get(ans, "invocationJobSummaries");
        size_t i;
        json_t *j;
        json_array_foreach(arr, i, j)
        {
            if (*n >= max)
                break;
            *out = xrealloc(*out, (*n + 1) * sizeof **out);
            if ((st = batch_job_from_json(j, &(*out)[*n], e)) != BROCK_OK)
                break;
            (*n)++;
        }
        const char *tok = json_str(ans, "nextToken");
        if (st == BROCK_OK && (!tok || !*tok || !json_array_size(arr))) {
            json_decref(ans);
            break;
        }
        if (tok)
            snprintf(next, sizeof next, "%s", tok);
        json_decref(ans);
    }
    if (st != BROCK_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}
