/* Tests for the Bedrock Batch Inference engine of `brock batch`
 * (src/batch/batch_bedrock.c, batch_job.c) against the emulator's S3 and
 * model invocation jobs: a full round trip (input and manifest uploaded, job
 * created, polled, output decoded into the ordered OUTPUT at the batch
 * price, ledger rows), malformed lines, the minimum record count, a failed
 * job, a stopped job, an interrupted wait resumed without a second job, and
 * `fetch` rebuilding the same output from S3 alone. */
#define EMULATOR_INTERNAL
#include "../support/test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/aws/crypto.h"
#include "../../src/aws/http.h"
#include "../../src/batch/batch.h"
#include "../../src/batch/batch_int.h"
#include "../../src/server/emulator.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HAIKU_US "us.anthropic.claude-haiku-4-5-20251001-v1:0"
#define ROLE "arn:aws:iam::123456789012:role/BedrockBatchRole"
#define GROUPS 5

struct fixture {
    struct emulator *em;
    struct aws_credentials *creds;
    char *dir;
    char in[512], out[512];
    struct store *store;
    struct buf warnings;
    struct aws_client *ctl;
    bool stop_when_running; /* progress: stop the job once it is InProgress */
    bool cancel_when_submitted;
    bool stopped;
    volatile sig_atomic_t cancel;
    char phases[512];
};

static void on_warning(void *ctx, const char *msg)
{
    struct fixture *f = ctx;
    buf_addstr(&f->warnings, msg);
    buf_addc(&f->warnings, '\n');
}

static void on_progress(void *ctx, const struct batch_progress *p)
{
    struct fixture *f = ctx;
    size_t l = strlen(f->phases);
    if (p->phase && (!l || !strstr(f->phases, p->phase)) && l + strlen(p->phase) + 2 < sizeof f->phases)
        snprintf(f->phases + l, sizeof f->phases - l, "%s%s", l ? "," : "", p->phase);
    if (f->cancel_when_submitted && p->phase && !strcmp(p->phase, "Submitted"))
        f->cancel = 1;
    if (f->stop_when_running && !f->stopped && p->phase && !strcmp(p->phase, "InProgress") && p->done > 0) {
        struct batch_job *jobs = NULL;
        size_t n = 0;
        struct brock_err e = {0};
        if (batch_job_list(f->ctl, NULL, "InProgress", 10, &jobs, &n, &e) != BROCK_OK || n != 1)
            fail_msg("list InProgress: %zu jobs, %s", n, e.msg);
        if (batch_job_stop(f->ctl, jobs[0].arn, &e) != BROCK_OK)
            fail_msg("stop: %s", e.msg);
        f->stopped = true;
        free(jobs);
    }
}

static char *scenario_text(void)
{
    struct buf b = BUF_INIT(1 << 20);
    buf_addstr(&b, "{\"rules\": [");
    for (int g = 0; g < GROUPS; g++)
        buf_addf(&b,
                 "%s{\"match\": {\"regex\": \"^g%d \"}, \"response\": {\"text\": \"answer g%d\", \"usage\": "
                 "{\"input_tokens\": %d, \"output_tokens\": %d}}}",
                 g ? "," : "", g, g, 1000 + g, 10 + g);
    /* a record the model fails on */
    buf_addstr(&b, ",{\"match\": {\"contains\": \"explode\"}, \"response\": {\"fault\": {\"type\": \"model_error\", "
                   "\"message\": \"the model exploded\"}}}");
    buf_addstr(&b, "]}");
    return buf_take(&b);
}

static void fixture_up(struct fixture *f, const char *const *deny, size_t n_deny)
{
    memset(f, 0, sizeof *f);
    setenv("BROCK_EMULATE_BATCH_STEP_MS", "30", 1);
    char *text = scenario_text();
    struct emulator_options eo = {.scenario_text = text, .scenario_len = strlen(text), .deny_models = deny,
                                  .n_deny_models = n_deny};
    struct brock_err e = {0};
    if (emulator_start(&eo, &f->em, &e) != BROCK_OK)
        fail_msg("emulator_start: %s", e.msg);
    free(text);
    f->creds = aws_credentials_new(AKID, SECRET, NULL, 0, "test");
    f->dir = test_tmpdir();
    snprintf(f->in, sizeof f->in, "%s/in.jsonl", f->dir);
    snprintf(f->out, sizeof f->out, "%s/out.jsonl", f->dir);
    char sdir[600];
    snprintf(sdir, sizeof sdir, "%s/store", f->dir);
    struct store_options so = {.dir = sdir};
    if (store_open(&so, &f->store, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    buf_init(&f->warnings, 1 << 20);
    struct aws_client_config cc = {.region = "us-east-1", .endpoint_url = emulator_url(f->em),
                                   .creds = aws_creds_source_static(f->creds)};
    f->ctl = aws_client_new(&cc);
}

static void fixture_down(struct fixture *f)
{
    aws_client_free(f->ctl);
    emulator_stop(f->em);
    aws_credentials_release(f->creds);
    store_close(f->store);
    buf_free(&f->warnings);
    free(f->dir);
}

static void options(struct fixture *f, struct batch_options *o)
{
    memset(o, 0, sizeof *o);
    o->input_path = f->in;
    o->output_path = f->out;
    o->model = HAIKU_US;
    o->region = "us-east-1";
    o->s3_prefix = "s3://brock-batch/jobs/";
    o->role_arn = ROLE;
    o->poll_ms = 20;
    o->aws.region = "us-east-1";
    o->aws.endpoint_url = emulator_url(f->em);
    o->aws.creds = aws_creds_source_static(f->creds);
    o->store = f->store;
    o->project = "/test/project";
    o->on_warning = on_warning;
    o->on_progress = on_progress;
    o->cb_ctx = f;
    o->cancel = &f->cancel;
}

static void write_records(struct fixture *f, size_t n, bool with_bad_lines)
{
    FILE *fp = fopen(f->in, "w");
    for (size_t i = 0; i < n; i++) {
        if (with_bad_lines && i == 3)
            fputs("{\"prompt\": broken\n", fp);
        if (with_bad_lines && i == 7)
            fputs("{\"prompt\": \"g1 x\", \"max_tokens\": -5}\n", fp);
        if (i == 11)
            fprintf(fp, "{\"id\": \"r%zu\", \"prompt\": \"please explode\"}\n", i);
        else
            fprintf(fp, "{\"id\": \"r%zu\", \"prompt\": \"g%zu record %zu\"}\n", i, i % GROUPS, i);
    }
    fclose(fp);
}

static json_t *read_output(const char *path)
{
    char *text = test_read_file(path, NULL);
    assert_non_null(text);
    json_t *arr = json_array();
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (!nl)
            fail_msg("partial line in %s", path);
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (!v)
            fail_msg("bad record in %s: %.100s", path, p);
        json_array_append_new(arr, v);
        p = nl + 1;
    }
    free(text);
    return arr;
}

static size_t count_requests(struct fixture *f, const char *method, const char *path_part)
{
    char *log = emulator_requests_json(f->em);
    json_t *v = json_loads(log, 0, NULL);
    free(log);
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(json_object_get(v, "requests"), i, r)
    {
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *p = json_string_value(json_object_get(r, "path"));
        /* "=path" matches the whole path, else a part of it */
        n += m && p && !strcmp(m, method) && (path_part[0] == '=' ? !strcmp(p, path_part + 1) : !!strstr(p, path_part));
    }
    json_decref(v);
    return n;
}

/* Records 0..n-1 (the bad lines aside) with the scenario's answers at half price. */
static void check_records(json_t *arr, size_t n, bool with_bad_lines)
{
    size_t bad = with_bad_lines ? 2 : 0;
    assert_int_equal(json_array_size(arr), n + bad);
    size_t rec = 0, line = 0;
    for (size_t k = 0; k < n + bad; k++) {
        json_t *r = json_array_get(arr, k);
        line++;
        assert_int_equal(json_integer_value(json_object_get(r, "line")), line);
        const char *status = json_string_value(json_object_get(r, "status"));
        if (with_bad_lines && (line == 4 || line == 9)) {
            assert_string_equal(status, "invalid");
            continue;
        }
        char id[32];
        snprintf(id, sizeof id, "r%zu", rec);
        assert_string_equal(json_string_value(json_object_get(r, "id")), id);
        if (rec == 11) {
            assert_string_equal(status, "error");
            json_t *err = json_object_get(r, "error");
            assert_string_equal(json_string_value(json_object_get(err, "code")), "BatchRecordError");
            assert_int_equal(json_integer_value(json_object_get(err, "http_status")), 424);
            assert_string_equal(json_string_value(json_object_get(err, "message")), "the model exploded");
        } else {
            int g = (int)(rec % GROUPS);
            char text[32];
            snprintf(text, sizeof text, "answer g%d", g);
            if (strcmp(status, "ok"))
                fail_msg("record %zu: %s", rec, json_dumps(r, JSON_COMPACT));
            assert_string_equal(json_string_value(json_object_get(r, "text")), text);
            json_t *u = json_object_get(r, "usage");
            assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 1000 + g);
            assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 10 + g);
            /* batch inference: half the on-demand price (Haiku 4.5, us. profile) */
            double want = ((1000.0 + g) * 1.1 + (10.0 + g) * 5.5) / 1e6 / 2;
            double got = json_number_value(json_object_get(r, "cost_usd"));
            assert_true(got > want * (1 - 1e-7) && got < want * (1 + 1e-7));
        }
        rec++;
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, NULL, 0);
    write_records(&f, 120, true);
    struct batch_options o;
    options(&f, &o);
    struct batch_summary sum;
    struct brock_err e = {0};
    if (batch_run_bedrock(&o, &sum, &e) != BROCK_OK)
        fail_msg("batch_run_bedrock: %s", e.msg);
    assert_int_equal(sum.total, 122);
    assert_int_equal(sum.ok, 119);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.invalid, 2);
    assert_non_null(strstr(sum.job_arn, ":model-invocation-job/"));
    json_t *arr = read_output(f.out);
    check_records(arr, 120, true);
    json_decref(arr);
    /* it went the way it should: two uploads, one job, polling, a download */
    assert_int_equal(count_requests(&f, "PUT", "/brock-batch/jobs/"), 2);
    assert_int_equal(count_requests(&f, "POST", "=/model-invocation-job"), 1);
    assert_true(count_requests(&f, "GET", "/model-invocation-job/") >= 3);
    assert_true(count_requests(&f, "GET", "records.jsonl.out") == 1);
    assert_non_null(strstr(f.phases, "uploading"));
    assert_non_null(strstr(f.phases, "InProgress"));
    assert_non_null(strstr(f.phases, "Completed") || strstr(f.phases, "PartiallyCompleted"));
    /* the bad lines were reported by line */
    assert_non_null(strstr(buf_cstr(&f.warnings), "in.jsonl:4:"));
    assert_non_null(strstr(buf_cstr(&f.warnings), "in.jsonl:9: \"max_tokens\""));
    /* ledger: one row per record the job ran, at the batch price */
    struct store_usage u = {0};
    assert_int_equal(store_ledger_usage(f.store, STORE_BY_MODEL, NULL, &u, &e), BROCK_OK);
    assert_int_equal(u.total.calls, 120);
    assert_int_equal(u.total.errors, 1);
    assert_true(u.total.cost_usd > sum.cost_usd * (1 - 1e-9) && u.total.cost_usd < sum.cost_usd * (1 + 1e-9));
    store_usage_free(&u);

    /* the job, as the API shows it */
    struct batch_job job;
    assert_int_equal(batch_job_get(f.ctl, sum.job_arn, &job, &e), BROCK_OK);
    assert_string_equal(job.status, "PartiallyCompleted");
    assert_int_equal(job.total, 120);
    assert_int_equal(job.success, 119);
    assert_int_equal(job.errors, 1);
    assert_string_equal(job.model_id, HAIKU_US);
    assert_true(job.submit_ms > 0 && job.end_ms >= job.submit_ms);
    assert_int_equal(batch_job_get(f.ctl, job.id, &job, &e), BROCK_OK); /* by id too */
    /* stopping a finished job is refused */
    assert_int_equal(batch_job_stop(f.ctl, job.id, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "ValidationException");
    assert_int_equal(batch_job_get(f.ctl, "nosuchjob123", &job, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "ResourceNotFoundException");

    /* fetch rebuilds the very same output from S3 and the job alone */
    struct batch_options fo;
    options(&f, &fo);
    char out2[600];
    snprintf(out2, sizeof out2, "%s/fetched.jsonl", f.dir);
    fo.output_path = out2;
    fo.input_path = NULL;
    char arn[BATCH_JOB_ARN_MAX];
    snprintf(arn, sizeof arn, "%s", sum.job_arn);
    if (batch_fetch(&fo, arn, &sum, &e) != BROCK_OK)
        fail_msg("fetch: %s", e.msg);
    char *a = test_read_file(f.out, NULL), *b = test_read_file(out2, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);

    /* the same command again: nothing to do, no new job */
    if (batch_run_bedrock(&o, &sum, &e) != BROCK_OK)
        fail_msg("again: %s", e.msg);
    assert_int_equal(sum.resumed, 122);
    assert_int_equal(count_requests(&f, "POST", "=/model-invocation-job"), 1);
    fixture_down(&f);
}

static void test_too_few_records_refused(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, NULL, 0);
    write_records(&f, 99, false);
    struct batch_options o;
    options(&f, &o);
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "at least 100 records"));
    assert_non_null(strstr(e.msg, "has 99 usable records"));
    assert_non_null(strstr(e.msg, "local engine"));
    assert_int_equal(count_requests(&f, "PUT", "/"), 0); /* nothing was uploaded */
    o.s3_prefix = NULL;
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--s3-prefix"));
    o.s3_prefix = "s3://Bad_Bucket/x";
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_USAGE);
    o.s3_prefix = "s3://brock-batch/jobs/";
    o.role_arn = NULL;
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--role-arn"));
    /* a record for another model */
    write_records(&f, 100, false);
    FILE *fp = fopen(f.in, "a");
    fputs("{\"prompt\": \"g0 other\", \"model\": \"sonnet\"}\n", fp);
    fclose(fp);
    o.role_arn = ROLE;
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "one model"));
    fixture_down(&f);
}

static void test_failed_job(void **state)
{
    (void)state;
    const char *deny[] = {HAIKU_US};
    struct fixture f;
    fixture_up(&f, deny, 1);
    write_records(&f, 100, false);
    struct batch_options o;
    options(&f, &o);
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_AWS);
    assert_non_null(strstr(e.msg, "ended as Failed"));
    assert_non_null(strstr(e.msg, "AccessDenied"));
    assert_non_null(strstr(e.msg, "--restart"));
    assert_non_null(strstr(f.phases, "Validating"));
    /* nothing written; running it again reports the same job, no new one */
    char *text = test_read_file(f.out, NULL);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_AWS);
    assert_int_equal(count_requests(&f, "POST", "=/model-invocation-job"), 1);
    /* --restart submits again (and fails again: the model is still denied) */
    o.restart = true;
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_AWS);
    assert_int_equal(count_requests(&f, "POST", "=/model-invocation-job"), 2);
    fixture_down(&f);
}

static void test_stopped_job(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, NULL, 0);
    /* steps of 250 ms, not 30: the stop must land while the job runs, also
     * when a loaded machine delays the poll that sees it running */
    setenv("BROCK_EMULATE_BATCH_STEP_MS", "250", 1);
    write_records(&f, 300, false);
    struct batch_options o;
    options(&f, &o);
    f.stop_when_running = true;
    struct batch_summary sum;
    struct brock_err e = {0};
    if (batch_run_bedrock(&o, &sum, &e) != BROCK_OK)
        fail_msg("stopped job: %s", e.msg);
    assert_true(f.stopped);
    assert_non_null(strstr(f.phases, "Stopped"));
    json_t *arr = read_output(f.out);
    assert_int_equal(json_array_size(arr), 300);
    size_t ok = 0, missing = 0, other = 0;
    for (size_t i = 0; i < 300; i++) {
        json_t *r = json_array_get(arr, i);
        assert_int_equal(json_integer_value(json_object_get(r, "line")), i + 1);
        const char *st = json_string_value(json_object_get(r, "status"));
        const char *code = json_string_value(json_object_get(json_object_get(r, "error"), "code"));
        if (!strcmp(st, "ok"))
            ok++;
        else if (code && !strcmp(code, "RecordMissing"))
            missing++;
        else if (code && !strcmp(code, "BatchRecordError"))
            other++; /* record 11, the exploding one, if it ran */
    }
    /* the emulator runs a job in three slices: one was done when it stopped */
    assert_true(ok > 0 && missing > 0);
    assert_true(other <= 1);
    assert_int_equal(ok + missing + other, 300);
    json_decref(arr);
    fixture_down(&f);
}

static void test_interrupted_wait_resumes_the_same_job(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, NULL, 0);
    write_records(&f, 100, false);
    struct batch_options o;
    options(&f, &o);
    f.cancel_when_submitted = true;
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_bedrock(&o, &sum, &e), BROCK_ERR_INTERRUPTED);
    assert_non_null(strstr(e.msg, "goes on"));
    assert_non_null(strstr(e.msg, "brock batch fetch"));
    char job_file[600];
    snprintf(job_file, sizeof job_file, "%s.job", f.out);
    struct stat sb;
    assert_int_equal(stat(job_file, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    f.cancel = 0;
    f.cancel_when_submitted = false;
    if (batch_run_bedrock(&o, &sum, &e) != BROCK_OK)
        fail_msg("resume: %s", e.msg);
    assert_int_equal(count_requests(&f, "POST", "=/model-invocation-job"), 1);
    assert_int_equal(count_requests(&f, "PUT", "records.jsonl"), 1);
    json_t *arr = read_output(f.out);
    check_records(arr, 100, false);
    json_decref(arr);
    /* list shows it */
    struct batch_job *jobs = NULL;
    size_t n = 0;
    assert_int_equal(batch_job_list(f.ctl, "brock-batch", NULL, 0, &jobs, &n, &e), BROCK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(jobs[0].arn, sum.job_arn);
    free(jobs);
    fixture_down(&f);
}

int main(void)
{
    test_init();
    crypto_global_init();
    struct brock_err e;
    if (http_global_init(&e) != BROCK_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_too_few_records_refused),
        cmocka_unit_test(test_failed_job),
        cmocka_unit_test(test_stopped_job),
        cmocka_unit_test(test_interrupted_wait_resumes_the_same_job),
    };
    int rc = cmocka_run_group_tests_name("batch_bedrock", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
