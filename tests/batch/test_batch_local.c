/* Tests for the local engine of `brock batch` (src/batch/batch_local.c) against
 * the in-process emulator: 1,000 records under 30 % injected throttling and
 * occasional 5xx (every record once, in order, with the usage and cost the
 * scenario dictates), malformed lines reported by line and skipped, a run
 * interrupted midway and resumed without duplicates, a half-written output
 * repaired, checkpoints of other runs refused, the response cache, and the
 * usage ledger. */
#define EMULATOR_INTERNAL
#include "../support/test.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/budget.h"
#include "../../src/agent/respcache.h"
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
#define GROUPS 5

/* Five rules: a prompt "g<k> ..." is answered "answer g<k>" with usage
 * 1000 + k in, 10 + k out. */
static char *scenario_text(void)
{
    struct buf b = BUF_INIT(1 << 20);
    buf_addstr(&b, "{\"rules\": [");
    for (int g = 0; g < GROUPS; g++)
        buf_addf(&b,
                 "%s{\"name\": \"g%d\", \"match\": {\"regex\": \"^g%d \"}, \"response\": {\"text\": \"answer g%d\", "
                 "\"usage\": {\"input_tokens\": %d, \"output_tokens\": %d}}}",
                 g ? "," : "", g, g, g, 1000 + g, 10 + g);
    buf_addstr(&b, "]}");
    return buf_take(&b);
}

struct fixture {
    struct emulator *em;
    struct aws_credentials *creds;
    char *dir;
    char in[512], out[512], ck[600];
    struct store *store;
    struct buf warnings;
    size_t progress_calls;
    size_t cancel_after; /* set *cancel once done >= this (0 = never) */
    volatile sig_atomic_t cancel;
    struct store *watch;  /* a second handle: checks the books at every progress call */
    size_t watch_checks;
    bool books_behind;    /* the books showed fewer calls than the output has records */
};

static void on_warning(void *ctx, const char *msg)
{
    struct fixture *f = ctx;
    buf_addstr(&f->warnings, msg);
    buf_addc(&f->warnings, '\n');
}

static int64_t committed_calls(struct store *s);
static size_t output_lines(const char *path);

static void on_progress(void *ctx, const struct batch_progress *p)
{
    struct fixture *f = ctx;
    f->progress_calls++;
    if (f->watch) {
        /* what another process sees: the committed rows, against what the
         * output already holds (read in this order: rows can only grow) */
        int64_t rows = committed_calls(f->watch);
        size_t lines = output_lines(f->out);
        if (rows < (int64_t)lines)
            f->books_behind = true;
        f->watch_checks++;
    }
    if (f->cancel_after && p->done >= f->cancel_after)
        f->cancel = 1;
}

static void fixture_up(struct fixture *f, bool scenario)
{
    memset(f, 0, sizeof *f);
    char *text = scenario ? scenario_text() : NULL;
    struct emulator_options eo = {.scenario_text = text, .scenario_len = text ? strlen(text) : 0};
    struct brock_err e = {0};
    if (emulator_start(&eo, &f->em, &e) != BROCK_OK)
        fail_msg("emulator_start: %s", e.msg);
    free(text);
    f->creds = aws_credentials_new(AKID, SECRET, NULL, 0, "test");
    f->dir = test_tmpdir();
    snprintf(f->in, sizeof f->in, "%s/in.jsonl", f->dir);
    snprintf(f->out, sizeof f->out, "%s/out.jsonl", f->dir);
    snprintf(f->ck, sizeof f->ck, "%s.checkpoint", f->out);
    char sdir[600];
    snprintf(sdir, sizeof sdir, "%s/store", f->dir);
    struct store_options so = {.dir = sdir};
    if (store_open(&so, &f->store, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    buf_init(&f->warnings, 1 << 20);
}

static void fixture_down(struct fixture *f)
{
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
    o->concurrency = 32;
    o->max_attempts = 15;
    o->retry_base_ms = 10;
    o->aws.region = "us-east-1";
    o->aws.endpoint_url = emulator_url(f->em);
    o->aws.creds = aws_creds_source_static(f->creds);
    o->store = f->store;
    o->project = "/test/project";
    o->on_warning = on_warning;
    o->on_progress = on_progress;
    o->cb_ctx = f;
    o->progress_interval_ms = 10;
    o->cancel = &f->cancel;
}

static void write_records(struct fixture *f, size_t n)
{
    FILE *fp = fopen(f->in, "w");
    assert_non_null(fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "{\"id\": \"r%zu\", \"prompt\": \"g%zu record %zu\"}\n", i, i % GROUPS, i);
    fclose(fp);
}

/* The output, one parsed JSON object per line; fails on a partial line. */
static json_t *read_output(const char *path)
{
    size_t len = 0;
    char *text = test_read_file(path, &len);
    assert_non_null(text);
    json_t *arr = json_array();
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (!nl)
            fail_msg("%s ends with a partial line: %.80s", path, p);
        json_error_t je;
        json_t *v = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &je);
        if (!v)
            fail_msg("%s: bad record: %s: %.120s", path, je.text, p);
        json_array_append_new(arr, v);
        p = nl + 1;
    }
    free(text);
    return arr;
}

static double expected_cost(int g)
{
    /* Haiku 4.5 on a us. profile: $1 / $5 per million, +10 % off the global profile */
    return ((1000.0 + g) * 1.0 * 1.1 + (10.0 + g) * 5.0 * 1.1) / 1e6;
}

/* Records 0..n-1 in order, once each, with the scenario's answers. */
static void check_records(const json_t *arr, size_t n)
{
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(arr, i);
        char id[32], text[32];
        snprintf(id, sizeof id, "r%zu", i);
        snprintf(text, sizeof text, "answer g%zu", i % GROUPS);
        int g = (int)(i % GROUPS);
        if (json_integer_value(json_object_get(r, "line")) != (json_int_t)(i + 1) ||
            strcmp(json_string_value(json_object_get(r, "id")), id))
            fail_msg("record %zu out of order: %s", i, json_dumps(r, JSON_COMPACT));
        if (strcmp(json_string_value(json_object_get(r, "status")), "ok"))
            fail_msg("record %zu failed: %s", i, json_dumps(r, JSON_COMPACT));
        assert_string_equal(json_string_value(json_object_get(r, "text")), text);
        assert_string_equal(json_string_value(json_object_get(r, "model")), HAIKU_US);
        json_t *u = json_object_get(r, "usage");
        assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 1000 + g);
        assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 10 + g);
        double cost = json_number_value(json_object_get(r, "cost_usd"));
        if (cost < expected_cost(g) * (1 - 1e-7) || cost > expected_cost(g) * (1 + 1e-7))
            fail_msg("record %zu: cost %.12g, expected %.12g", i, cost, expected_cost(g));
        assert_true(json_is_null(json_object_get(r, "error")));
    }
}

static void add_faults(struct fixture *f, const char *json)
{
    struct brock_err e = {0};
    if (emulator_add_faults(f->em, json, strlen(json), &e) != BROCK_OK)
        fail_msg("faults: %s", e.msg);
}

static int64_t ledger_calls(struct fixture *f, double *cost)
{
    struct store_usage u = {0};
    struct brock_err e = {0};
    if (store_ledger_usage(f->store, STORE_BY_MODEL, NULL, &u, &e) != BROCK_OK)
        fail_msg("ledger: %s", e.msg);
    int64_t calls = u.total.calls;
    if (cost)
        *cost = u.total.cost_usd;
    store_usage_free(&u);
    return calls;
}

/* Ledger rows committed, as another handle sees them. */
static int64_t committed_calls(struct store *s)
{
    struct store_usage u = {0};
    struct brock_err e = {0};
    if (store_ledger_usage(s, STORE_BY_MODEL, NULL, &u, &e) != BROCK_OK)
        fail_msg("ledger: %s", e.msg);
    int64_t calls = u.total.calls;
    store_usage_free(&u);
    return calls;
}

/* Complete lines in a file (0 when it does not exist). */
static size_t output_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = 0;
    int c;
    while ((c = getc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

static struct store *second_handle(struct fixture *f)
{
    char sdir[600];
    snprintf(sdir, sizeof sdir, "%s/store", f->dir);
    struct store_options so = {.dir = sdir};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&so, &s, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    return s;
}

/* Requests the emulator answered 200 (its log keeps the last 1000). */
static size_t ok_answers(struct fixture *f)
{
    char *log = emulator_requests_json(f->em);
    json_t *lv = json_loads(log, 0, NULL);
    free(log);
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(json_object_get(lv, "requests"), i, r) n += json_integer_value(json_object_get(r, "status")) == 200;
    json_decref(lv);
    return n;
}

static void test_thousand_records_under_throttling(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 1000);
    add_faults(&f, "[{\"type\": \"throttling\", \"count\": -1, \"probability\": 0.3},"
                   " {\"type\": \"internal\", \"count\": -1, \"probability\": 0.03},"
                   " {\"type\": \"unavailable\", \"count\": -1, \"probability\": 0.02}]");
    struct batch_options o;
    options(&f, &o);
    struct batch_summary sum;
    struct brock_err e = {0};
    enum brock_status st = batch_run_local(&o, &sum, &e);
    if (st != BROCK_OK)
        fail_msg("batch_run_local: %s", e.msg);
    assert_int_equal(sum.total, 1000);
    assert_int_equal(sum.ok, 1000);
    assert_int_equal(sum.failed, 0);
    /* about 300 of ~1,400 attempts were throttled: far from none */
    if (sum.throttled < 150)
        fail_msg("only %zu throttling answers: the faults did not apply", sum.throttled);
    json_t *arr = read_output(f.out);
    check_records(arr, 1000);
    json_decref(arr);
    /* one ledger row per record, with the same cost */
    double cost = 0, want = 0;
    for (int i = 0; i < 1000; i++)
        want += expected_cost(i % GROUPS);
    assert_int_equal(ledger_calls(&f, &cost), 1000);
    assert_true(cost > want * (1 - 1e-6) && cost < want * (1 + 1e-6));
    assert_true(sum.cost_usd > want * (1 - 1e-6) && sum.cost_usd < want * (1 + 1e-6));
    /* the checkpoint is private */
    struct stat sb;
    assert_int_equal(stat(f.ck, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_true(f.progress_calls > 0);
    /* the same command again does nothing (no request reaches the emulator) */
    emulator_clear_faults(f.em);
    emulator_reset(f.em);
    st = batch_run_local(&o, &sum, &e);
    assert_int_equal(st, BROCK_OK);
    assert_int_equal(sum.resumed, 1000);
    assert_int_equal(sum.ok, 0);
    char *log = emulator_requests_json(f.em);
    assert_string_equal(log, "{\"requests\":[]}");
    free(log);
    arr = read_output(f.out);
    check_records(arr, 1000);
    json_decref(arr);
    fixture_down(&f);
}

static void test_malformed_lines_reported_and_skipped(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    const char *input = "{\"id\": \"a\", \"prompt\": \"g0 one\"}\n"  /* 1 ok */
                        "\"g1 a JSON string prompt\"\n"            /* 2 ok */
                        "{\"prompt\": \"g2 broken\"\n"              /* 3 not JSON */
                        "g3 plain text is a prompt too\n"          /* 4 ok */
                        "{\"promt\": \"typo\"}\n"                   /* 5 unknown field */
                        "{\"prompt\": \"\"}\n"                      /* 6 empty prompt */
                        "\n"                                       /* 7 blank: no record */
                        "   \n"                                    /* 8 blank */
                        "{\"prompt\": \"g4 x\", \"max_tokens\": 0}\n" /* 9 bad max_tokens */
                        "{\"prompt\": \"g0 y\", \"model\": \"no-such-model\"}\n" /* 10 unknown model */
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"g1 full body\"}], \"max_tokens\": 50, "
                        "\"metadata\": {\"user_id\": \"u1\"}}\n"          /* 11 ok: a Messages body */
                        "{\"prompt\": \"g2 z\", \"messages\": []}\n"  /* 12 both */
                        "{\"prompt\": \"g3 last\"}";                /* 13 ok, no final newline */
    test_write_file(f.in, input);
    struct batch_options o;
    options(&f, &o);
    struct batch_summary sum;
    struct brock_err e = {0};
    if (batch_run_local(&o, &sum, &e) != BROCK_OK)
        fail_msg("batch_run_local: %s", e.msg);
    if (sum.total != 11 || sum.ok != 5 || sum.invalid != 6) {
        char *got = test_read_file(f.out, NULL);
        fail_msg("total %zu ok %zu invalid %zu:\n%s", sum.total, sum.ok, sum.invalid, got);
    }
    json_t *arr = read_output(f.out);
    assert_int_equal(json_array_size(arr), 11);
    static const struct {
        int line;
        const char *status, *text, *msg;
    } want[] = {
        {1, "ok", "answer g0", NULL},
        {2, "ok", "answer g1", NULL},
        {3, "invalid", NULL, "in.jsonl:3:"},
        {4, "ok", "answer g3", NULL},
        {5, "invalid", NULL, "in.jsonl:5: unknown field \"promt\""},
        {6, "invalid", NULL, "in.jsonl:6: \"prompt\": expected a non-empty string"},
        {9, "invalid", NULL, "in.jsonl:9: \"max_tokens\": expected an integer from 1 to 1000000"},
        {10, "invalid", NULL, "line 10: "},
        {11, "ok", "answer g1", NULL},
        {12, "invalid", NULL, "in.jsonl:12: give \"prompt\" or \"messages\", not both"},
        {13, "ok", "answer g3", NULL},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(want); i++) {
        json_t *r = json_array_get(arr, i);
        assert_int_equal(json_integer_value(json_object_get(r, "line")), want[i].line);
        assert_string_equal(json_string_value(json_object_get(r, "status")), want[i].status);
        if (want[i].text) {
            assert_string_equal(json_string_value(json_object_get(r, "text")), want[i].text);
            continue;
        }
        const char *msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
        assert_non_null(msg);
        if (!strstr(msg, want[i].msg))
            fail_msg("line %d: message '%s' lacks '%s'", want[i].line, msg, want[i].msg);
        /* and the same words were reported as a warning */
        if (!strstr(buf_cstr(&f.warnings), want[i].msg))
            fail_msg("line %d not reported: %s", want[i].line, buf_cstr(&f.warnings));
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "id")), "a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "id")), "2");
    json_decref(arr);
    /* the full Messages body went as given, metadata included */
    char *log = emulator_requests_json(f.em);
    assert_non_null(strstr(log, "\"metadata\":{\"user_id\":\"u1\"}"));
    free(log);
    fixture_down(&f);
}

static void test_interrupted_run_resumes_without_duplicates(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 400);
    add_faults(&f, "{\"type\": \"throttling\", \"count\": -1, \"probability\": 0.2}");
    struct batch_options o;
    options(&f, &o);
    o.concurrency = 8;
    f.cancel_after = 150;
    struct batch_summary sum;
    struct brock_err e = {0};
    enum brock_status st = batch_run_local(&o, &sum, &e);
    assert_int_equal(st, BROCK_ERR_INTERRUPTED);
    json_t *arr = read_output(f.out);
    size_t first = json_array_size(arr);
    assert_true(first >= 150 && first < 400);
    check_records(arr, first);
    json_decref(arr);

    size_t answered = ok_answers(&f); /* model calls that were answered, kept or not */
    f.cancel = 0;
    f.cancel_after = 0;
    emulator_reset(f.em);
    emulator_clear_faults(f.em);
    st = batch_run_local(&o, &sum, &e);
    if (st != BROCK_OK)
        fail_msg("resume: %s", e.msg);
    assert_int_equal(sum.resumed, first);
    assert_int_equal(sum.ok, 400 - first);
    /* only the remaining records were asked for */
    char *log = emulator_requests_json(f.em);
    json_t *lv = json_loads(log, 0, NULL);
    free(log);
    assert_int_equal(json_array_size(json_object_get(lv, "requests")), 400 - first);
    json_decref(lv);
    arr = read_output(f.out);
    check_records(arr, 400);
    json_decref(arr);
    /* Every answered call is in the ledger: also those finished behind a
     * record still in flight when the run stopped (they could not be written
     * in order, so the second run asked again). */
    answered += ok_answers(&f);
    assert_int_equal(ledger_calls(&f, NULL), (int64_t)answered);
    assert_true(answered >= 400 && answered <= 400 + 8 * 4);
    fixture_down(&f);
}

/* A record whose checkpoint entry was lost (a kill between the two writes) or
 * that was cut mid-write is redone, never doubled. */
static void test_half_written_output_is_repaired(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 10);
    struct batch_options o;
    options(&f, &o);
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    size_t len = 0;
    char *full = test_read_file(f.out, &len);
    char *last = strrchr(full, '\n');
    *last = '\0';
    last = strrchr(full, '\n'); /* end of record 9 */
    size_t nine = (size_t)(last - full) + 1;

    /* cut inside record 10: the records after the last complete checkpoint
     * that fits are done again (records are written in groups, so that may
     * be more than one) */
    assert_int_equal(truncate(f.out, (off_t)(len - 7)), 0);
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_true(sum.resumed < 10);
    assert_int_equal(sum.ok, 10 - sum.resumed);
    json_t *arr = read_output(f.out);
    check_records(arr, 10);
    json_decref(arr);

    /* garbage after the last record (a record written, its checkpoint not) */
    FILE *fp = fopen(f.out, "a");
    fputs("{\"line\": 11, \"id\": \"ghost\"}\n{\"line\": 12", fp);
    fclose(fp);
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.resumed, 10);
    arr = read_output(f.out);
    check_records(arr, 10);
    json_decref(arr);

    /* the output lost its last record (say, power loss before the data
     * reached the disk): the newer slot no longer fits, the older one does,
     * or nothing does and the run starts over; never a duplicate */
    assert_int_equal(truncate(f.out, (off_t)nine), 0);
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_true(sum.resumed <= 9);
    assert_int_equal(sum.ok, 10 - sum.resumed);
    arr = read_output(f.out);
    check_records(arr, 10);
    json_decref(arr);
    free(full);
    fixture_down(&f);
}

static void test_checkpoint_of_another_run_is_refused(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 5);
    struct batch_options o;
    options(&f, &o);
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);

    o.max_tokens = 77; /* other options */
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "other options"));
    assert_non_null(strstr(e.msg, "--restart"));
    o.max_tokens = 0;
    o.format = BATCH_FORMAT_TEXT;
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--format json"));
    o.format = BATCH_FORMAT_JSON;

    write_records(&f, 6); /* another input */
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "another input"));
    o.restart = true;
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.ok, 6);
    json_t *arr = read_output(f.out);
    check_records(arr, 6);
    json_decref(arr);

    /* a second writer on the same output is refused while the first holds it */
    struct batch_out *held = NULL;
    struct batch_resume res;
    uint8_t id[SHA256_LEN] = {0};
    assert_int_equal(batch_out_open(f.out, BATCH_FORMAT_JSON, id, "x", true, &held, &res, &e), BROCK_OK);
    o.restart = false;
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "another brock batch is writing"));
    assert_int_equal(batch_out_close(held, &e), BROCK_OK);
    fixture_down(&f);
}

static void test_deterministic_records_come_from_the_cache(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 20);
    struct batch_options o;
    options(&f, &o);
    o.temperature = 0;
    o.temperature_set = true;
    /* the cache's automatic mode: deterministic requests of a non-interactive run */
    struct respcache_policy pol;
    struct brock_err pe = {0};
    assert_int_equal(respcache_policy_init(&pol, NULL, true, false, false, &pe), BROCK_OK);
    o.cache = &pol;
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.cached, 0);
    char out2[600];
    snprintf(out2, sizeof out2, "%s/out2.jsonl", f.dir);
    o.output_path = out2;
    emulator_reset(f.em);
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.cached, 20);
    assert_true(sum.cost_usd == 0);
    char *log = emulator_requests_json(f.em);
    assert_string_equal(log, "{\"requests\":[]}"); /* nothing reached the emulator */
    free(log);
    json_t *arr = read_output(out2);
    assert_int_equal(json_array_size(arr), 20);
    for (size_t i = 0; i < 20; i++) {
        json_t *r = json_array_get(arr, i);
        assert_true(json_is_true(json_object_get(r, "cached")));
        assert_true(json_number_value(json_object_get(r, "cost_usd")) == 0);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "usage"), "input_tokens")),
                         1000 + (int)(i % GROUPS));
    }
    json_decref(arr);
    /* --no-cache: asked again */
    struct respcache_policy off;
    assert_int_equal(respcache_policy_init(&off, NULL, true, false, true, &pe), BROCK_OK);
    o.cache = &off;
    o.restart = true;
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.cached, 0);
    /* the ledger: 20 + 20 calls, 20 of them cache hits at no cost */
    struct store_usage u = {0};
    assert_int_equal(store_ledger_usage(f.store, STORE_BY_MODEL, NULL, &u, &e), BROCK_OK);
    assert_int_equal(u.total.calls, 60);
    assert_int_equal(u.total.cache_hits, 20);
    store_usage_free(&u);
    fixture_down(&f);
}

/* Errors that are not retryable end up in their record, and the batch goes on. */
static void test_record_errors_do_not_stop_the_batch(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 30);
    add_faults(&f, "{\"type\": \"validation\", \"count\": 3, \"message\": \"injected validation\"}");
    struct batch_options o;
    options(&f, &o);
    o.concurrency = 1; /* so the first three records take the faults */
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.failed, 3);
    assert_int_equal(sum.ok, 27);
    json_t *arr = read_output(f.out);
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(arr, i), *err = json_object_get(r, "error");
        assert_string_equal(json_string_value(json_object_get(r, "status")), "error");
        assert_string_equal(json_string_value(json_object_get(err, "code")), "ValidationException");
        assert_int_equal(json_integer_value(json_object_get(err, "http_status")), 400);
        assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "injected validation"));
        assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 1);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 3), "status")), "ok");
    json_decref(arr);
    /* retries give up after max_attempts with the attempts in the message */
    test_write_file(f.in, "{\"prompt\": \"g0 a\", \"model\": \"global.anthropic.claude-haiku-4-5-20251001-v1:0\"}\n"
                          "{\"prompt\": \"g1 b\"}\n");
    emulator_reset(f.em);
    add_faults(&f, "{\"type\": \"unavailable\", \"count\": -1, "
                   "\"model\": \"global.anthropic.claude-haiku-4-5-20251001-v1:0\"}");
    o.max_attempts = 3;
    o.restart = true;
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.ok, 1);
    char *log = emulator_requests_json(f.em);
    json_t *lv = json_loads(log, 0, NULL);
    free(log);
    assert_int_equal(json_array_size(json_object_get(lv, "requests")), 3 + 1); /* 3 attempts + record 2 */
    json_decref(lv);
    arr = read_output(f.out);
    json_t *r = json_array_get(arr, 0);
    assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                        "ServiceUnavailableException");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                           "gave up after 3 attempts"));
    json_decref(arr);
    fixture_down(&f);
}

static void test_text_format_and_prompt_files(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, false); /* echo answers quote the prompt */
    char p1[600], p2[600], p3[600], prompt[600];
    snprintf(prompt, sizeof prompt, "%s/prompt.txt", f.dir);
    snprintf(p1, sizeof p1, "%s/a.c", f.dir);
    snprintf(p2, sizeof p2, "%s/b.c", f.dir);
    snprintf(p3, sizeof p3, "%s/missing.c", f.dir);
    test_write_file(prompt, "Review this file:");
    test_write_file(p1, "int a;\n");
    test_write_file(p2, "int b;\n");
    const char *files[] = {p1, p3, p2};
    struct batch_options o;
    options(&f, &o);
    o.input_path = NULL;
    o.prompt_file = prompt;
    o.files = files;
    o.n_files = 3;
    o.format = BATCH_FORMAT_TEXT;
    struct batch_summary sum;
    struct brock_err e = {0};
    if (batch_run_local(&o, &sum, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(sum.ok, 2);
    assert_int_equal(sum.invalid, 1);
    char *text = test_read_file(f.out, NULL);
    char want1[900], want3[900];
    snprintf(want1, sizeof want1, "### line 1 %s: ok (", p1);
    snprintf(want3, sizeof want3, "### line 3 %s: ok (", p2);
    char *a = strstr(text, want1), *b = strstr(text, "### line 2 "), *c = strstr(text, want3);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
    assert_non_null(strstr(b, ": invalid: InvalidInput: "));
    /* the echo quotes the prompt and the file, so each answer is its own file's */
    char *a_end = strstr(a, "\n\n###");
    assert_non_null(strstr(a, "Review this file:"));
    assert_true(strstr(a, "int a;") && strstr(a, "int a;") < a_end);
    assert_non_null(strstr(c, "int b;"));
    free(text);
    fixture_down(&f);
}

/* --max-budget-usd: sending stops at the limit, what is done is kept, and
 * the run goes on later with a higher limit. */
static void test_budget_stops_the_run(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 200);
    struct batch_options o;
    options(&f, &o);
    o.concurrency = 2;
    struct budget b;
    struct brock_err e = {0};
    assert_int_equal(budget_init(&b, NULL, NULL, "/test/project", 0.01, false, &e), BROCK_OK);
    o.budget = &b;
    struct batch_summary sum;
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_ERR_BUDGET);
    assert_non_null(strstr(e.msg, "--max-budget-usd"));
    json_t *arr = read_output(f.out);
    size_t done = json_array_size(arr);
    /* 0.01 USD buys 8 records at 0.00116; at most the 2 in flight go past it */
    if (done < 8 || done > 12)
        fail_msg("%zu records written under a 0.01 USD budget", done);
    check_records(arr, done);
    json_decref(arr);
    budget_cleanup(&b);
    assert_int_equal(budget_init(&b, NULL, NULL, "/test/project", 1.0, false, &e), BROCK_OK);
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_int_equal(sum.resumed, done);
    arr = read_output(f.out);
    check_records(arr, 200);
    json_decref(arr);
    budget_cleanup(&b);
    fixture_down(&f);
}

/* A model the catalog cannot price (an application inference profile) is
 * booked at the catalog's highest prices: the budget still stops the run
 * (at $0 it would run all 200), with one warning and rows marked. */
static void test_unknown_price_counts_against_the_budget(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 200);
    struct batch_options o;
    options(&f, &o);
    o.model = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/batchteam";
    o.concurrency = 1;
    struct budget b;
    struct brock_err e = {0};
    assert_int_equal(budget_init(&b, NULL, NULL, "/test/project", 0.05, false, &e), BROCK_OK);
    o.budget = &b;
    struct batch_summary sum;
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_ERR_BUDGET);
    json_t *arr = read_output(f.out);
    size_t done = json_array_size(arr);
    /* ~0.0158 USD a record at $15 / $75: 4 records pass 0.05 */
    if (done < 3 || done > 5)
        fail_msg("%zu records written under a 0.05 USD budget at the ceiling", done);
    struct model_prices top = catalog_ceiling_prices();
    double want = ((1000.0 + 0) * top.input + (10.0 + 0) * top.output) / 1e6; /* record 0 is group 0 */
    double got = json_number_value(json_object_get(json_array_get(arr, 0), "cost_usd"));
    if (fabs(got - want) > 1e-9)
        fail_msg("record 0 cost %.9f, want %.9f", got, want);
    json_decref(arr);
    const char *w = buf_cstr(&f.warnings);
    const char *first = strstr(w, "no price is known for arn:aws:bedrock:us-east-1:123456789012:application-inference");
    assert_non_null(first);
    assert_null(strstr(first + 1, "no price is known"));
    struct buf ex = BUF_INIT(1 << 20);
    assert_int_equal(store_ledger_export_json(f.store, NULL, &ex, &e), BROCK_OK);
    assert_non_null(strstr(buf_cstr(&ex), "brock batch (local engine); price estimated"));
    buf_free(&ex);
    budget_cleanup(&b);
    fixture_down(&f);
}

/* The same profile once Bedrock named its model (cmd_batch asks): priced
 * as that model, nothing estimated. */
static void test_profile_model_prices_the_run(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 3);
    struct batch_options o;
    options(&f, &o);
    o.model = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/batchteam";
    o.profile_model = catalog_find("anthropic.claude-haiku-4-5-20251001-v1:0", NULL);
    assert_non_null(o.profile_model);
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    json_t *arr = read_output(f.out);
    assert_int_equal(json_array_size(arr), 3);
    /* record 0 is group 0: 1,000 in, 10 out at Haiku 4.5 with the profile's 10 % */
    struct model_prices hp = catalog_prices(o.profile_model, GEO_US);
    double want = (1000.0 * hp.input + 10.0 * hp.output) / 1e6;
    double got = json_number_value(json_object_get(json_array_get(arr, 0), "cost_usd"));
    if (fabs(got - want) > 1e-9)
        fail_msg("record 0 cost %.9f, want %.9f", got, want);
    json_decref(arr);
    assert_null(strstr(buf_cstr(&f.warnings), "no price is known"));
    struct buf ex = BUF_INIT(1 << 20);
    assert_int_equal(store_ledger_export_json(f.store, NULL, &ex, &e), BROCK_OK);
    assert_null(strstr(buf_cstr(&ex), "price estimated"));
    buf_free(&ex);
    fixture_down(&f);
}

static int asked_calls;
static const struct model_info *haiku_for_team(void *ctx, const char *arn)
{
    (void)ctx;
    asked_calls++;
    return strstr(arn, "/team2") ? catalog_find("anthropic.claude-haiku-4-5-20251001-v1:0", NULL) : NULL;
}

/* Lines that name another profile: asked through profile_model_of (the
 * caller keeps one answer per ARN), priced as its model when known. */
static void test_line_profiles_are_asked(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    FILE *fp = fopen(f.in, "w");
    assert_non_null(fp);
    fprintf(fp, "{\"id\": \"a\", \"prompt\": \"g0 a\", \"model\": "
                "\"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/team2\"}\n");
    fprintf(fp, "{\"id\": \"b\", \"prompt\": \"g0 b\", \"model\": "
                "\"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/team3\"}\n");
    fprintf(fp, "{\"id\": \"c\", \"prompt\": \"g0 c\"}\n");
    fclose(fp);
    struct batch_options o;
    options(&f, &o);
    o.profile_model_of = haiku_for_team;
    asked_calls = 0;
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_OK);
    assert_true(asked_calls >= 2); /* both ARNs; the default model (a catalog id) is not asked */
    json_t *arr = read_output(f.out);
    assert_int_equal(json_array_size(arr), 3);
    struct model_prices hp = catalog_prices(catalog_find("anthropic.claude-haiku-4-5-20251001-v1:0", NULL), GEO_US);
    struct model_prices top = catalog_ceiling_prices();
    double want_a = (1000.0 * hp.input + 10.0 * hp.output) / 1e6;
    double want_b = (1000.0 * top.input + 10.0 * top.output) / 1e6;
    double got_a = json_number_value(json_object_get(json_array_get(arr, 0), "cost_usd"));
    double got_b = json_number_value(json_object_get(json_array_get(arr, 1), "cost_usd"));
    if (fabs(got_a - want_a) > 1e-9 || fabs(got_b - want_b) > 1e-9)
        fail_msg("costs %.9f / %.9f, want %.9f / %.9f", got_a, got_b, want_a, want_b);
    json_decref(arr);
    fixture_down(&f);
}

/* The ledger rows go in groups, and the books are never behind the output:
 * at every moment another process sees at least one committed row per record
 * in the output (rows are committed before records are written), and a
 * normal run ends with exactly one committed row per record. */
static void test_ledger_groups_never_lag_the_output(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 2000);
    /* retries and slow answers put records out of order */
    add_faults(&f, "[{\"type\": \"throttling\", \"count\": -1, \"probability\": 0.1},"
                   " {\"type\": \"slow\", \"count\": -1, \"probability\": 0.05, \"delay_ms\": 30}]");
    f.watch = second_handle(&f);
    struct batch_options o;
    options(&f, &o);
    o.progress_interval_ms = 1;
    struct batch_summary sum;
    struct brock_err e = {0};
    if (batch_run_local(&o, &sum, &e) != BROCK_OK)
        fail_msg("batch_run_local: %s", e.msg);
    assert_int_equal(sum.ok, 2000);
    if (f.watch_checks < 20)
        fail_msg("only %zu progress calls checked the books", f.watch_checks);
    assert_false(f.books_behind);
    /* exactly one row per record, committed (another handle sees them) */
    assert_int_equal(committed_calls(f.watch), 2000);
    json_t *arr = read_output(f.out);
    check_records(arr, 2000);
    json_decref(arr);
    store_close(f.watch);
    fixture_down(&f);
}

/* Interrupted (Ctrl-C, SIGTERM): every answer received is committed before
 * the run returns, for records written and for those finished behind a
 * record still in flight; the books are never behind the output on the way. */
static void test_interrupted_run_commits_its_rows(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, true);
    write_records(&f, 1000);
    add_faults(&f, "{\"type\": \"slow\", \"count\": -1, \"probability\": 0.05, \"delay_ms\": 40}");
    f.watch = second_handle(&f);
    struct batch_options o;
    options(&f, &o);
    o.progress_interval_ms = 1;
    f.cancel_after = 300;
    struct batch_summary sum;
    struct brock_err e = {0};
    assert_int_equal(batch_run_local(&o, &sum, &e), BROCK_ERR_INTERRUPTED);
    assert_false(f.books_behind);
    size_t written = output_lines(f.out);
    assert_true(written >= 300 && written < 1000);
    int64_t rows = committed_calls(f.watch), answers = (int64_t)ok_answers(&f);
    /* the emulator may have answered requests the run abandoned in flight */
    if (rows > answers || rows < answers - o.concurrency || rows < (int64_t)written)
        fail_msg("%lld rows, %lld answers, %zu written", (long long)rows, (long long)answers, written);
    store_close(f.watch);
    fixture_down(&f);
}

/* batch_books: rows wait in memory (another handle sees none) until
 * BATCH_BOOKS_ROWS of them are there or batch_books_commit; without a store
 * nothing happens; a row the store refuses is reported, the others kept. */
static void test_books_group_rows(void **state)
{
    (void)state;
    struct fixture f;
    fixture_up(&f, false);
    struct store *other = second_handle(&f);
    struct batch_options o;
    options(&f, &o);
    struct batch_books b;
    batch_books_init(&b, &o);
    char rid[32];
    struct store_ledger_row row = {.user = "u", .project = "/test/project", .model = HAIKU_US, .status = "ok",
                                   .request_id = rid, .cost_usd = 0.5, .routing = "test"};
    assert_int_equal(batch_books_due(&b), -1);
    for (int i = 0; i < BATCH_BOOKS_ROWS - 1; i++) {
        snprintf(rid, sizeof rid, "req-%d", i); /* the caller's strings change: copies are kept */
        batch_books_add(&b, &row);
    }
    assert_true(batch_books_due(&b) > 0);
    assert_int_equal(committed_calls(other), 0);
    batch_books_add(&b, &row); /* the group is full: committed */
    assert_int_equal(committed_calls(other), BATCH_BOOKS_ROWS);
    assert_int_equal(batch_books_due(&b), -1);
    batch_books_add(&b, &row);
    batch_books_add(&b, &row);
    assert_int_equal(committed_calls(other), BATCH_BOOKS_ROWS);
    batch_books_commit(&b);
    batch_books_commit(&b); /* nothing waiting: nothing */
    assert_int_equal(committed_calls(other), BATCH_BOOKS_ROWS + 2);
    /* the request ids are the ones given, row by row */
    struct buf j = BUF_INIT(1 << 24);
    struct brock_err e = {0};
    assert_int_equal(store_ledger_export_json(other, NULL, &j, &e), BROCK_OK);
    assert_non_null(strstr(buf_cstr(&j), "\"request_id\":\"req-0\""));
    assert_non_null(strstr(buf_cstr(&j), "\"request_id\":\"req-62\""));
    buf_free(&j);
    /* a refused row (a field over the store's cap) is reported; the rest goes in */
    char *big = xmalloc(STORE_TEXT_MAX + 2);
    memset(big, 'x', STORE_TEXT_MAX + 1);
    big[STORE_TEXT_MAX + 1] = '\0';
    batch_books_add(&b, &row);
    struct store_ledger_row bad = row;
    bad.request_id = big;
    batch_books_add(&b, &bad);
    bad = row;
    bad.cost_usd = -1; /* refused by the store's checks at the commit */
    batch_books_add(&b, &bad);
    batch_books_add(&b, &row);
    batch_books_commit(&b);
    free(big);
    assert_int_equal(committed_calls(other), BATCH_BOOKS_ROWS + 4);
    assert_int_equal(b.lost, 2);
    assert_non_null(strstr(buf_cstr(&f.warnings), "usage ledger: store: ledger request id is longer"));
    assert_non_null(strstr(buf_cstr(&f.warnings), "usage ledger: store: ledger cost"));
    batch_books_free(&b);
    /* no store: nothing */
    o.store = NULL;
    batch_books_init(&b, &o);
    batch_books_add(&b, &row);
    assert_int_equal(batch_books_due(&b), -1);
    batch_books_commit(&b);
    batch_books_free(&b);
    store_close(other);
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
        cmocka_unit_test(test_thousand_records_under_throttling),
        cmocka_unit_test(test_malformed_lines_reported_and_skipped),
        cmocka_unit_test(test_interrupted_run_resumes_without_duplicates),
        cmocka_unit_test(test_half_written_output_is_repaired),
        cmocka_unit_test(test_checkpoint_of_another_run_is_refused),
        cmocka_unit_test(test_deterministic_records_come_from_the_cache),
        cmocka_unit_test(test_record_errors_do_not_stop_the_batch),
        cmocka_unit_test(test_text_format_and_prompt_files),
        cmocka_unit_test(test_budget_stops_the_run),
        cmocka_unit_test(test_unknown_price_counts_against_the_budget),
        cmocka_unit_test(test_profile_model_prices_the_run),
        cmocka_unit_test(test_line_profiles_are_asked),
        cmocka_unit_test(test_ledger_groups_never_lag_the_output),
        cmocka_unit_test(test_interrupted_run_commits_its_rows),
        cmocka_unit_test(test_books_group_rows),
    };
    int rc = cmocka_run_group_tests_name("batch_local", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
