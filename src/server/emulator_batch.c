/* emulator_batch.c - Bedrock Batch Inference in `brock emulate`: the model
 * invocation job API of the control plane (aws-wire-reference.md 8.1, 8.2)
 *
 *   POST /model-invocation-job                  CreateModelInvocationJob
 *   GET  /model-invocation-job/{id or ARN}      GetModelInvocationJob
 *   GET  /model-invocation-jobs                 ListModelInvocationJobs
 *   POST /model-invocation-job/{id or ARN}/stop StopModelInvocationJob
 *
 * and the jobs themselves, time-compressed: every `step_ms` (default 200, or
 * $BROCK_EMULATE_BATCH_STEP_MS) a job moves Submitted -> Validating ->
 * Scheduled -> InProgress (records in three slices, with processed counts)
 * -> Completed, PartiallyCompleted (some records failed) or Failed; a stop
 * goes Stopping -> Stopped. Validation reads the input from the emulator's S3
 * (one .jsonl object, or every .jsonl under a prefix), refuses fewer than
 * `min_records` records (default 100, Bedrock's minimum) and models the
 * scenario or --deny-model denies. Each record's modelInput is validated and
 * answered like InvokeModel: the scenario's rules (an error fault of the
 * response makes an error record) or the quoting echo. The output goes to
 * `<output prefix><job id>/<input file>.out` plus `manifest.json.out`; a
 * stopped job writes what it had done.
 *
 * Control: GET /_emulator/batch (settings and jobs), POST /_emulator/batch
 * {"step_ms": N, "min_records": N, "fail_next": "message"} - the next job
 * created fails at validation with that message (a failed-job fault).
 *
 * Runs on the loop thread under the emulator's lock (handlers and timers).
 * Reset forgets every job; a job whose timer is still pending is freed by
 * that timer. */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/crypto.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "../util/log.h"

#define EMU_BATCH_MAX_JOBS 1000
#define EMU_BATCH_MAX_RECORDS 50000
#define EMU_BATCH_MAX_INPUT ((size_t)256 * 1024 * 1024)
#define EMU_BATCH_DEFAULT_STEP_MS 200
#define EMU_BATCH_SLICES 3
#define ACCOUNT EMULATOR_ACCOUNT

struct bfile {
    char *key;     /* input object */
    char *data;    /* a copy of it */
    size_t len;
    size_t *lines; /* offsets of the non-blank lines */
    size_t n_lines;
    struct buf out; /* its .out being built */
};

struct bjob {
    struct emulator *em;
    char id[16];
    char arn[200];
    char name[80];
    char model_id[EMULATOR_MAX_MODEL_ID + 1];
    char role[300];
    char token[260];
    char type[16];
    char in_uri[1100], out_uri[1100];
    char region[40];
    char status[24];
    char message[600];
    int64_t submit_ms, modified_ms, end_ms, timeout_h;
    int64_t total, processed, success, errors, in_tokens, out_tokens;
    struct bfile *files;
    size_t n_files, cur_file, cur_line;
    char *fail_msg;  /* injected failure */
    bool gone;       /* forgotten by a reset: freed when its timer fires */
    bool timer_pending;
};

struct emu_batch {
    struct bjob **jobs;
    size_t n;
    int64_t step_ms;
    int64_t min_records;
    char *fail_next;
};

static struct emu_batch *state(struct emulator *em)
{
    if (!em->batch) {
        em->batch = xcalloc(1, sizeof *em->batch);
        const char *env = getenv("BROCK_EMULATE_BATCH_STEP_MS");
        long v = env ? strtol(env, NULL, 10) : 0;
        em->batch->step_ms = v > 0 && v <= 600000 ? v : EMU_BATCH_DEFAULT_STEP_MS;
        em->batch->min_records = 100;
    }
    return em->batch;
}

static void job_free(struct bjob *j)
{
    for (size_t i = 0; i < j->n_files; i++) {
        free(j->files[i].key);
        free(j->files[i].data);
        free(j->files[i].lines);
        buf_free(&j->files[i].out);
    }
    free(j->files);
    free(j->fail_msg);
    free(j);
}

static void forget(struct emu_batch *b, size_t i)
{
    memmove(&b->jobs[i], &b->jobs[i + 1], (b->n - i - 1) * sizeof *b->jobs);
    b->n--;
}

void emu_batch_reset(struct emulator *em)
{
    struct emu_batch *b = em->batch;
    if (!b)
        return;
    for (size_t i = b->n; i-- > 0;) {
        struct bjob *j = b->jobs[i];
        if (j->timer_pending) {
            j->gone = true; /* its timer frees it */
            continue;
        }
        job_free(j);
        forget(b, i);
    }
    free(b->fail_next);
    b->fail_next = NULL;
}

void emu_batch_free(struct emulator *em)
{
    struct emu_batch *b = em->batch;
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        job_free(b->jobs[i]);
    free(b->jobs);
    free(b->fail_next);
    free(b);
    em->batch = NULL;
}

/* ---- JSON answers ----------------------------------------------------------------- */

static json_t *iso(int64_t ms)
{
    char s[21], out[40];
    time_fmt_iso8601(ms / 1000, s);
    snprintf(out, sizeof out, "%.19s.%03dZ", s, (int)(ms % 1000));
    return json_string(out);
}

static json_t *job_json(const struct bjob *j)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:{s:{s:s,s:s}},s:{s:{s:s}},s:I,s:s}", "jobArn", j->arn,
                          "jobName", j->name, "modelId", j->model_id, "roleArn", j->role, "status", j->status,
                          "submitTime", iso(j->submit_ms), "lastModifiedTime", iso(j->modified_ms), "inputDataConfig",
                          "s3InputDataConfig", "s3Uri", j->in_uri, "s3InputFormat", "JSONL", "outputDataConfig",
                          "s3OutputDataConfig", "s3Uri", j->out_uri, "timeoutDurationInHours",
                          (json_int_t)j->timeout_h, "modelInvocationType", j->type);
    if (j->token[0])
        json_object_set_new(o, "clientRequestToken", json_string(j->token));
    if (j->message[0])
        json_object_set_new(o, "message", json_string(j->message));
    if (j->end_ms)
        json_object_set_new(o, "endTime", iso(j->end_ms));
    json_object_set_new(o, "jobExpirationTime", iso(j->submit_ms + j->timeout_h * 3600 * 1000));
    json_object_set_new(o, "totalRecordCount", json_integer(j->total));
    json_object_set_new(o, "processedRecordCount", json_integer(j->processed));
    json_object_set_new(o, "successRecordCount", json_integer(j->success));
    json_object_set_new(o, "errorRecordCount", json_integer(j->errors));
    return o;
}

static void send_json(struct emu_call *c, int status, json_t *v)
{
    char *s = json_dump_compact(v);
    json_decref(v);
    emu_note_status(c, status, NULL);
    emu_send_body(c, status, "application/json", NULL, s, strlen(s));
    free(s);
}

static void bad(struct emu_call *c, const char *msg)
{
    emu_send_error(c, 400, "ValidationException", msg, -1);
}

/* ---- the records ------------------------------------------------------------------- */

static void text_of(const json_t *content, struct buf *out)
{
    if (json_is_string(content)) {
        buf_add(out, json_string_value(content), json_string_length(content));
        return;
    }
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *t = json_str(blk, "type");
        json_t *text = json_object_get(blk, "text");
        if (t && !strcmp(t, "text") && json_is_string(text)) {
            if (out->len)
                buf_addc(out, '\n');
            buf_add(out, json_string_value(text), json_string_length(text));
        }
    }
}

/* The text of the last user message (what scenario rules match). */
static void last_user_text(const json_t *input, struct buf *out)
{
    json_t *msgs = json_object_get(input, "messages");
    for (size_t i = json_array_size(msgs); i-- > 0;) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_str(m, "role");
        if (role && !strcmp(role, "user")) {
            text_of(json_object_get(m, "content"), out);
            return;
        }
    }
}

static void quote(const struct buf *src, struct buf *q)
{
    bool space = false;
    for (size_t i = 0; i < src->len && q->len < 200; i++) {
        unsigned char ch = (unsigned char)src->ptr[i];
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
            space = q->len > 0;
            continue;
        }
        if (space)
            buf_addc(q, ' ');
        space = false;
        buf_addc(q, (char)ch);
    }
    /* do not end inside a UTF-8 sequence */
    while (q->len && ((unsigned char)q->ptr[q->len - 1] & 0xc0) == 0x80)
        q->len--;
    while (q->len && (unsigned char)q->ptr[q->len - 1] >= 0xc0)
        q->len--;
    if (q->ptr)
        q->ptr[q->len] = '\0';
}

static json_t *scenario_content(const struct scenario_response *r, const char *record_id, bool *tool)
{
    json_t *content = json_array();
    *tool = false;
    for (size_t i = 0; i < r->n_blocks; i++) {
        const struct scenario_block *sb = &r->blocks[i];
        if (sb->type == SCENARIO_TEXT) {
            json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", sb->text));
        } else if (sb->type == SCENARIO_THINKING) {
            json_array_append_new(content, json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", sb->text,
                                                     "signature", sb->signature ? sb->signature : "c2lnbmF0dXJl"));
        } else {
            char id[64];
            if (sb->id)
                snprintf(id, sizeof id, "%s", sb->id);
            else
                snprintf(id, sizeof id, "toolu_bdrk_01%.11s%zu", record_id, i);
            json_t *input = json_loads(sb->input ? sb->input : "{}", 0, NULL);
            json_array_append_new(content, json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id, "name",
                                                     sb->name, "input", input ? input : json_object()));
            *tool = true;
        }
    }
    return content;
}

static int64_t output_tokens(const json_t *content)
{
    char *s = json_dump_compact(content);
    int64_t t = ((int64_t)strlen(s) + 3) / 4;
    free(s);
    return t > 0 ? t : 1;
}

static void error_record(struct buf *out, json_t *rec, int code, const char *msg)
{
    json_t *line = json_pack("{s:O,s:O,s:{s:i,s:s}}", "recordId", json_object_get(rec, "recordId"), "modelInput",
                             json_object_get(rec, "modelInput") ? json_object_get(rec, "modelInput") : json_null(),
                             "error", "errorCode", code, "errorMessage", msg);
    char *s = json_dump_compact(line);
    buf_addstr(out, s);
    buf_addc(out, '\n');
    free(s);
    json_decref(line);
}

/* Answer one input line into the file's output. */
static void run_record(struct bjob *j, struct bfile *f, size_t li)
{
    struct emulator *em = j->em;
    const char *p = f->data + f->lines[li];
    const char *nl = memchr(p, '\n', f->len - f->lines[li]);
    size_t len = nl ? (size_t)(nl - p) : f->len - f->lines[li];
    json_t *rec = json_loadb(p, len, 0, NULL);
    j->processed++;
    if (!json_is_object(rec)) {
        json_decref(rec);
        rec = json_object();
        char rid[16];
        snprintf(rid, sizeof rid, "ERR%08zu", li);
        json_object_set_new(rec, "recordId", json_string(rid));
        error_record(&f->out, rec, 400, "The record is not a JSON object.");
        j->errors++;
        json_decref(rec);
        return;
    }
    if (!json_is_string(json_object_get(rec, "recordId"))) {
        char rid[16];
        snprintf(rid, sizeof rid, "%011zu", (size_t)j->processed);
        json_object_set_new(rec, "recordId", json_string(rid));
    }
    json_t *input = json_object_get(rec, "modelInput");
    if (!json_is_object(input)) {
        error_record(&f->out, rec, 400, "The record has no modelInput object.");
        j->errors++;
        json_decref(rec);
        return;
    }
    char *body = json_dump_compact(input);
    char why[700];
    int64_t in_tokens = 0;
    bool valid = emu_validate(SCENARIO_OP_INVOKE, j->model_id, body, strlen(body), why, sizeof why, &in_tokens);
    free(body);
    if (!valid) {
        error_record(&f->out, rec, 400, why);
        j->errors++;
        json_decref(rec);
        return;
    }
    struct buf text = BUF_INIT(BUF_MAX_BODY);
    last_user_text(input, &text);
    const struct scenario_response *r = NULL;
    const struct model_info *mi = catalog_find(j->model_id, NULL);
    if (em->has_scenario) {
        struct scenario_input in = {.op = SCENARIO_OP_INVOKE,
                                    .model_id = j->model_id,
                                    .base_id = mi ? mi->base_id : NULL,
                                    .text = buf_cstr(&text),
                                    .text_len = text.len,
                                    .tool_results = "",
                                    .has_text = text.len > 0};
        r = scenario_match(&em->scenario, &in, NULL, NULL);
    }
    for (size_t i = 0; r && i < r->faults.n; i++) {
        const struct scenario_fault *rf = &r->faults.v[i];
        if (rf->kind == SCENARIO_FAULT_ERROR || rf->kind == SCENARIO_FAULT_DROP) {
            error_record(&f->out, rec, rf->kind == SCENARIO_FAULT_DROP ? 500 : rf->status,
                         rf->message ? rf->message : "Error injected by brock emulate.");
            j->errors++;
            json_decref(rec);
            buf_free(&text);
            return;
        }
    }
    const char *rid = json_string_value(json_object_get(rec, "recordId"));
    json_t *content;
    bool tool = false;
    const char *stop = "end_turn";
    if (r && r->n_blocks) {
        content = scenario_content(r, rid, &tool);
        stop = r->stop_reason ? r->stop_reason : tool ? "tool_use" : "end_turn";
    } else {
        struct buf q = BUF_INIT(256), t = BUF_INIT(512);
        quote(&text, &q);
        buf_addf(&t, "Hello from brock emulate. You said: \"%s\"", buf_cstr(&q));
        content = json_pack("[{s:s,s:s%}]", "type", "text", "text", buf_cstr(&t), t.len);
        buf_free(&q);
        buf_free(&t);
    }
    int64_t out_tokens = output_tokens(content);
    int64_t cr = 0, cw = 0;
    if (r) {
        if (r->usage.input >= 0)
            in_tokens = r->usage.input;
        if (r->usage.output >= 0)
            out_tokens = r->usage.output;
        if (r->usage.cache_read >= 0)
            cr = r->usage.cache_read;
        if (r->usage.cache_write >= 0)
            cw = r->usage.cache_write;
    }
    char msg_id[48];
    uint8_t d[SHA256_LEN];
    char hex[SHA256_HEX_LEN + 1];
    crypto_sha256(rid, strlen(rid), d);
    hex_encode(d, 12, hex);
    snprintf(msg_id, sizeof msg_id, "msg_bdrk_01%.24s", hex);
    json_t *output = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:n,s:{s:I,s:I,s:I,s:I}}", "id", msg_id, "type", "message",
                               "role", "assistant", "model", mi ? mi->base_id : j->model_id, "content", content,
                               "stop_reason", stop, "stop_sequence", "usage", "input_tokens", (json_int_t)in_tokens,
                               "output_tokens", (json_int_t)out_tokens, "cache_read_input_tokens", (json_int_t)cr,
                               "cache_creation_input_tokens", (json_int_t)cw);
    json_t *line = json_pack("{s:O,s:O,s:o}", "recordId", json_object_get(rec, "recordId"), "modelInput", input,
                             "modelOutput", output);
    char *s = json_dump_compact(line);
    buf_addstr(&f->out, s);
    buf_addc(&f->out, '\n');
    free(s);
    json_decref(line);
    json_decref(rec);
    buf_free(&text);
    j->success++;
    j->in_tokens += in_tokens;
    j->out_tokens += out_tokens;
}

/* ---- the state machine ---------------------------------------------------------------- */

static bool split_uri(const char *uri, char bucket[256], const char **key)
{
    if (strncmp(uri, "s3://", 5))
        return false;
    const char *b = uri + 5, *slash = strchr(b, '/');
    size_t n = slash ? (size_t)(slash - b) : strlen(b);
    if (n < 3 || n > 63)
        return false;
    memcpy(bucket, b, n);
    bucket[n] = '\0';
    *key = slash ? slash + 1 : "";
    return true;
}

static void fail(struct bjob *j, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void fail(struct bjob *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->message, sizeof j->message, fmt, ap);
    va_end(ap);
    snprintf(j->status, sizeof j->status, "Failed");
    j->end_ms = emu_now_ms(j->em);
}

static bool model_denied(struct emulator *em, const char *model)
{
    const struct model_info *m = catalog_find(model, NULL);
    for (size_t i = 0; i < em->n_deny; i++)
        if (!strcmp(em->deny[i], model) || (m && !strcmp(em->deny[i], m->base_id)))
            return true;
    return false;
}

static void validate(struct bjob *j)
{
    struct emulator *em = j->em;
    struct emu_batch *b = state(em);
    char bucket[256];
    const char *key;
    if (j->fail_msg) {
        fail(j, "%s", j->fail_msg);
        return;
    }
    if (model_denied(em, j->model_id)) {
        fail(j, "The role %s is not authorized to invoke the model %s (AccessDenied).", j->role, j->model_id);
        return;
    }
    if (!split_uri(j->in_uri, bucket, &key) || !emu_s3_bucket_exists(em, bucket)) {
        fail(j, "Input validation failed: the S3 bucket of %s does not exist or is not accessible.", j->in_uri);
        return;
    }
    char **keys = NULL;
    size_t nk = 0;
    const uint8_t *data;
    size_t len;
    if (*key && key[strlen(key) - 1] != '/' && emu_s3_read(em, bucket, key, &data, &len)) {
        keys = xmalloc(sizeof *keys);
        keys[0] = xstrdup(key);
        nk = 1;
    } else {
        char **all = NULL;
        size_t na = emu_s3_keys(em, bucket, key, &all);
        for (size_t i = 0; i < na; i++) {
            size_t kl = strlen(all[i]);
            if (kl > 6 && !strcmp(all[i] + kl - 6, ".jsonl")) {
                keys = xrealloc(keys, (nk + 1) * sizeof *keys);
                keys[nk++] = all[i];
            } else {
                free(all[i]);
            }
        }
        free(all);
    }
    if (!nk) {
        fail(j, "Input validation failed: no .jsonl input file found at %s.", j->in_uri);
        goto out;
    }
    j->files = xcalloc(nk, sizeof *j->files);
    size_t bytes = 0;
    for (size_t i = 0; i < nk; i++) {
        if (!emu_s3_read(em, bucket, keys[i], &data, &len))
            continue;
        bytes += len;
        if (bytes > EMU_BATCH_MAX_INPUT) {
            fail(j, "Input validation failed: the input is larger than brock emulate takes (%zu bytes).",
                 EMU_BATCH_MAX_INPUT);
            goto out;
        }
        struct bfile *f = &j->files[j->n_files++];
        f->key = keys[i];
        keys[i] = NULL;
        f->data = xmemdup(data, len);
        f->len = len;
        buf_init(&f->out, EMU_BATCH_MAX_INPUT * 2);
        size_t start = 0;
        for (size_t k = 0; k <= len; k++) {
            if (k < len && f->data[k] != '\n')
                continue;
            bool blank = true;
            for (size_t x = start; x < k && blank; x++)
                blank = f->data[x] == ' ' || f->data[x] == '\t' || f->data[x] == '\r';
            if (!blank) {
                f->lines = xrealloc(f->lines, (f->n_lines + 1) * sizeof *f->lines);
                f->lines[f->n_lines++] = start;
            }
            start = k + 1;
        }
        j->total += (int64_t)f->n_lines;
    }
    if (j->total < b->min_records)
        fail(j, "Input validation failed: the job has %lld records; a batch inference job needs at least %lld.",
             (long long)j->total, (long long)b->min_records);
    else if (j->total > EMU_BATCH_MAX_RECORDS)
        fail(j, "Input validation failed: the job has %lld records, more than %d.", (long long)j->total,
             EMU_BATCH_MAX_RECORDS);
out:
    for (size_t i = 0; i < nk; i++)
        free(keys[i]);
    free(keys);
}

/* Write the .out files and the manifest. */
static void write_output(struct bjob *j)
{
    struct emulator *em = j->em;
    char bucket[256], why[300];
    const char *prefix;
    if (!split_uri(j->out_uri, bucket, &prefix))
        return;
    struct buf key = BUF_INIT(4096);
    for (size_t i = 0; i < j->n_files; i++) {
        const char *base = strrchr(j->files[i].key, '/');
        base = base ? base + 1 : j->files[i].key;
        buf_reset(&key);
        buf_addf(&key, "%s%s%s/%s.out", prefix, *prefix && prefix[strlen(prefix) - 1] != '/' ? "/" : "", j->id, base);
        if (!emu_s3_write(em, bucket, buf_cstr(&key), buf_cstr(&j->files[i].out), j->files[i].out.len,
                          "application/jsonl", why, sizeof why))
            fail(j, "Writing the output failed: %s", why);
    }
    char man[512];
    int mn = snprintf(man, sizeof man,
                      "{\"totalRecordCount\":%lld,\"processedRecordCount\":%lld,\"successRecordCount\":%lld,"
                      "\"errorRecordCount\":%lld,\"inputTokenCount\":%lld,\"outputTokenCount\":%lld}",
                      (long long)j->total, (long long)j->processed, (long long)j->success, (long long)j->errors,
                      (long long)j->in_tokens, (long long)j->out_tokens);
    buf_reset(&key);
    buf_addf(&key, "%s%s%s/manifest.json.out", prefix, *prefix && prefix[strlen(prefix) - 1] != '/' ? "/" : "",
             j->id);
    if (!emu_s3_write(em, bucket, buf_cstr(&key), man, (size_t)mn, "application/json", why, sizeof why))
        fail(j, "Writing the manifest failed: %s", why);
    buf_free(&key);
}

static void process_slice(struct bjob *j)
{
    int64_t slice = j->total / EMU_BATCH_SLICES + 1;
    for (int64_t k = 0; k < slice && j->cur_file < j->n_files; k++) {
        struct bfile *f = &j->files[j->cur_file];
        if (j->cur_line >= f->n_lines) {
            j->cur_file++;
            j->cur_line = 0;
            k--;
            continue;
        }
        run_record(j, f, j->cur_line++);
    }
    while (j->cur_file < j->n_files && j->cur_line >= j->files[j->cur_file].n_lines) {
        j->cur_file++;
        j->cur_line = 0;
    }
}

static void step(void *arg);

static void schedule(struct bjob *j)
{
    struct httpd_timer *t = httpd_timer_add(j->em->httpd, state(j->em)->step_ms, step, j);
    j->timer_pending = t != NULL;
}

static void step(void *arg)
{
    struct bjob *j = arg;
    struct emulator *em = j->em;
    pthread_mutex_lock(&em->mu);
    j->timer_pending = false;
    if (j->gone) {
        struct emu_batch *b = state(em);
        for (size_t i = 0; i < b->n; i++)
            if (b->jobs[i] == j) {
                forget(b, i);
                break;
            }
        job_free(j);
        pthread_mutex_unlock(&em->mu);
        return;
    }
    const char *s = j->status;
    bool more = true;
    if (!strcmp(s, "Submitted")) {
        snprintf(j->status, sizeof j->status, "Validating");
    } else if (!strcmp(s, "Validating")) {
        validate(j);
        if (strcmp(j->status, "Failed"))
            snprintf(j->status, sizeof j->status, "Scheduled");
        else
            more = false;
    } else if (!strcmp(s, "Scheduled")) {
        snprintf(j->status, sizeof j->status, "InProgress");
    } else if (!strcmp(s, "InProgress")) {
        process_slice(j);
        if (j->processed >= j->total) {
            write_output(j);
            if (strcmp(j->status, "Failed"))
                snprintf(j->status, sizeof j->status, "%s", j->errors ? "PartiallyCompleted" : "Completed");
            j->end_ms = emu_now_ms(em);
            more = false;
        }
    } else if (!strcmp(s, "Stopping")) {
        if (j->processed > 0)
            write_output(j);
        snprintf(j->status, sizeof j->status, "Stopped");
        j->end_ms = emu_now_ms(em);
        more = false;
    } else {
        more = false;
    }
    j->modified_ms = emu_now_ms(em);
    if (more)
        schedule(j);
    pthread_mutex_unlock(&em->mu);
}

/* ---- the API ---------------------------------------------------------------------------- */

static bool name_ok(const char *s)
{
    /* [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63} */
    regex_t re;
    if (regcomp(&re, "^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+.-]){0,63}$", REG_EXTENDED | REG_NOSUB))
        return false;
    bool ok = strlen(s) <= 63 && regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static bool role_ok(const char *s)
{
    regex_t re;
    if (regcomp(&re, "^arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+$", REG_EXTENDED | REG_NOSUB))
        return false;
    bool ok = strlen(s) <= 2048 && regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The signing region of the request (its credential scope), else us-east-1. */
static void request_region(struct emu_call *c, char out[40])
{
    snprintf(out, 40, "us-east-1");
    const char *a = httpd_req_header(c->req, "authorization");
    const char *cred = a ? strstr(a, "Credential=") : NULL;
    if (!cred)
        return;
    /* AKID/date/region/service/aws4_request */
    const char *p = cred;
    for (int i = 0; i < 2 && p; i++) {
        p = strchr(p, '/');
        if (p)
            p++;
    }
    const char *end = p ? strchr(p, '/') : NULL;
    if (p && end && end - p > 0 && end - p < 40)
        snprintf(out, 40, "%.*s", (int)(end - p), p);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void create_job(struct emu_call *c)
{
    struct emulator *em = c->em;
    struct emu_batch *b = state(em);
    json_t *body = c->body;
    if (!json_is_object(body)) {
        bad(c, c->body_error[0] ? c->body_error : "The request body must be a JSON object.");
        return;
    }
    const char *name = jstr(body, "jobName"), *role = jstr(body, "roleArn"), *model = jstr(body, "modelId");
    const char *token = jstr(body, "clientRequestToken"), *type = jstr(body, "modelInvocationType");
    const char *in = jstr(json_object_get(json_object_get(body, "inputDataConfig"), "s3InputDataConfig"), "s3Uri");
    const char *out = jstr(json_object_get(json_object_get(body, "outputDataConfig"), "s3OutputDataConfig"), "s3Uri");
    json_t *tmo = json_object_get(body, "timeoutDurationInHours");
    char msg[600];
    if (!name || !name_ok(name)) {
        bad(c, "1 validation error detected: Value at 'jobName' failed to satisfy constraint: Member must satisfy "
               "regular expression pattern: [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\\+\\-\\.]){0,63}");
        return;
    }
    if (!role || !role_ok(role)) {
        bad(c, "1 validation error detected: Value at 'roleArn' failed to satisfy constraint: Member must satisfy "
               "regular expression pattern: ^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$");
        return;
    }
    if (!model || strlen(model) > EMULATOR_MAX_MODEL_ID || !catalog_find(model, NULL)) {
        bad(c, "The provided model identifier is invalid.");
        return;
    }
    if (!in || strncmp(in, "s3://", 5) || strlen(in) >= sizeof ((struct bjob *)0)->in_uri) {
        bad(c, "1 validation error detected: Value at 'inputDataConfig.s3InputDataConfig.s3Uri' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: ^s3://[a-z0-9][-.a-z0-9]{1,61}(?:/.*)?$");
        return;
    }
    if (!out || strncmp(out, "s3://", 5) || strlen(out) >= sizeof ((struct bjob *)0)->out_uri) {
        bad(c, "1 validation error detected: Value at 'outputDataConfig.s3OutputDataConfig.s3Uri' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: ^s3://[a-z0-9][-.a-z0-9]{1,61}(?:/.*)?$");
        return;
    }
    if (tmo && (!json_is_integer(tmo) || json_integer_value(tmo) < 24 || json_integer_value(tmo) > 168)) {
        bad(c, "1 validation error detected: Value at 'timeoutDurationInHours' failed to satisfy constraint: Member "
               "must have value between 24 and 168");
        return;
    }
    if (type && strcmp(type, "InvokeModel")) {
        snprintf(msg, sizeof msg, "brock emulate runs modelInvocationType InvokeModel only (got %.40s).", type);
        bad(c, msg);
        return;
    }
    if (token && (strlen(token) < 1 || strlen(token) > 256)) {
        bad(c, "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member "
               "must have length between 1 and 256");
        return;
    }
    /* idempotency: the same token gives the same job */
    for (size_t i = 0; token && i < b->n; i++)
        if (!b->jobs[i]->gone && !strcmp(b->jobs[i]->token, token)) {
            send_json(c, 200, json_pack("{s:s}", "jobArn", b->jobs[i]->arn));
            return;
        }
    size_t active = 0;
    for (size_t i = 0; i < b->n; i++)
        active += !b->jobs[i]->gone;
    if (active >= EMU_BATCH_MAX_JOBS) {
        emu_send_error(c, 400, "ServiceQuotaExceededException",
                       "brock emulate keeps at most 1000 model invocation jobs; reset it.", -1);
        return;
    }
    struct bjob *j = xcalloc(1, sizeof *j);
    j->em = em;
    uint8_t r[12];
    if (crypto_random(r, sizeof r, NULL) != BROCK_OK)
        memset(r, (int)b->n, sizeof r);
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < 12; i++)
        j->id[i] = alpha[r[i] % 36];
    request_region(c, j->region);
    snprintf(j->arn, sizeof j->arn, "arn:aws:bedrock:%s:%s:model-invocation-job/%s", j->region, ACCOUNT, j->id);
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->model_id, sizeof j->model_id, "%s", model);
    snprintf(j->role, sizeof j->role, "%s", role);
    snprintf(j->token, sizeof j->token, "%s", token ? token : "");
    snprintf(j->type, sizeof j->type, "InvokeModel");
    snprintf(j->in_uri, sizeof j->in_uri, "%s", in);
    snprintf(j->out_uri, sizeof j->out_uri, "%s", out);
    snprintf(j->status, sizeof j->status, "Submitted");
    j->timeout_h = tmo ? json_integer_value(tmo) : 72;
    j->submit_ms = j->modified_ms = emu_now_ms(em);
    j->total = 0;
    if (b->fail_next) {
        j->fail_msg = b->fail_next;
        b->fail_next = NULL;
    }
    b->jobs = xrealloc(b->jobs, (b->n + 1) * sizeof *b->jobs);
    b->jobs[b->n++] = j;
    schedule(j);
    emu_note(c, "jobArn", json_string(j->arn));
    send_json(c, 200, json_pack("{s:s}", "jobArn", j->arn));
}

static struct bjob *find_job(struct emu_batch *b, const char *ident)
{
    for (size_t i = 0; i < b->n; i++) {
        struct bjob *j = b->jobs[i];
        if (!j->gone && (!strcmp(j->id, ident) || !strcmp(j->arn, ident)))
            return j;
    }
    return NULL;
}

static void not_found(struct emu_call *c, const char *ident)
{
    char msg[400];
    snprintf(msg, sizeof msg, "The specified job %.200s was not found.", ident);
    emu_send_error(c, 404, "ResourceNotFoundException", msg, -1);
}

static bool qparam(const char *q, const char *name, struct buf *out)
{
    size_t nl = strlen(name);
    for (const char *p = q; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (kl == nl && !memcmp(p, name, nl)) {
            buf_reset(out);
            if (eq)
                uri_decode(out, eq + 1, len - kl - 1);
            return buf_status(out) == BROCK_OK;
        }
        p += len + (amp ? 1 : 0);
    }
    return false;
}

static void list_jobs(struct emu_call *c)
{
    struct emu_batch *b = state(c->em);
    const char *q = httpd_req_query(c->req);
    struct buf status = BUF_INIT(64), name = BUF_INIT(256), max = BUF_INIT(16), next = BUF_INIT(32),
               order = BUF_INIT(32);
    bool has_status = qparam(q, "statusEquals", &status), has_name = qparam(q, "nameContains", &name);
    long maxr = qparam(q, "maxResults", &max) ? strtol(buf_cstr(&max), NULL, 10) : 1000;
    long from = qparam(q, "nextToken", &next) ? strtol(buf_cstr(&next), NULL, 10) : 0;
    bool asc = qparam(q, "sortOrder", &order) && !strcmp(buf_cstr(&order), "Ascending");
    if (maxr < 1 || maxr > 1000) {
        bad(c, "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have "
               "value between 1 and 1000");
        goto out;
    }
    json_t *arr = json_array();
    long seen = 0, added = 0;
    bool more = false;
    for (size_t k = 0; k < b->n; k++) {
        struct bjob *j = b->jobs[asc ? k : b->n - 1 - k];
        if (j->gone || (has_status && strcmp(j->status, buf_cstr(&status))) ||
            (has_name && !strstr(j->name, buf_cstr(&name))))
            continue;
        if (seen++ < from)
            continue;
        if (added == maxr) {
            more = true;
            break;
        }
        json_array_append_new(arr, job_json(j));
        added++;
    }
    json_t *res = json_pack("{s:o}", "invocationJobSummaries", arr);
    if (more) {
        char tok[24];
        snprintf(tok, sizeof tok, "%ld", from + added);
        json_object_set_new(res, "nextToken", json_string(tok));
    }
    send_json(c, 200, res);
out:
    buf_free(&status);
    buf_free(&name);
    buf_free(&max);
    buf_free(&next);
    buf_free(&order);
}

void emu_batch(struct emu_call *c)
{
    struct emu_batch *b = state(c->em);
    const char *path = httpd_req_path(c->req), *m = httpd_req_method(c->req);
    c->proto = EMU_REST_JSON;
    if (!strcmp(path, "/model-invocation-jobs") || !strcmp(path, "/model-invocation-jobs/")) {
        if (strcmp(m, "GET"))
            emu_send_error(c, 405, "ValidationException", "ListModelInvocationJobs is a GET.", -1);
        else
            list_jobs(c);
        return;
    }
    if (!strcmp(path, "/model-invocation-job") || !strcmp(path, "/model-invocation-job/")) {
        if (strcmp(m, "POST"))
            emu_send_error(c, 405, "ValidationException", "CreateModelInvocationJob is a POST.", -1);
        else
            create_job(c);
        return;
    }
    struct buf ident = BUF_INIT(2048), tail = BUF_INIT(64);
    enum brock_status st = httpd_path_segment(path, 1, &ident, NULL);
    bool has_tail = httpd_path_segment(path, 2, &tail, NULL) == BROCK_OK;
    struct buf extra = BUF_INIT(64);
    bool too_many = httpd_path_segment(path, 3, &extra, NULL) == BROCK_OK;
    buf_free(&extra);
    if (st != BROCK_OK || strncmp(path, "/model-invocation-job/", 22) || too_many ||
        (has_tail && strcmp(buf_cstr(&tail), "stop"))) {
        emu_send_error(c, 404, "UnknownOperationException", "The requested operation is not recognized.", -1);
    } else if (has_tail) {
        struct bjob *j = find_job(b, buf_cstr(&ident));
        if (strcmp(m, "POST"))
            emu_send_error(c, 405, "ValidationException", "StopModelInvocationJob is a POST.", -1);
        else if (!j)
            not_found(c, buf_cstr(&ident));
        else if (!strcmp(j->status, "Submitted") || !strcmp(j->status, "Validating") ||
                 !strcmp(j->status, "Scheduled") || !strcmp(j->status, "InProgress")) {
            snprintf(j->status, sizeof j->status, "Stopping");
            j->modified_ms = emu_now_ms(c->em);
            send_json(c, 200, json_object());
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "The job cannot be stopped in status %s.", j->status);
            emu_send_error(c, 400, "ValidationException", msg, -1);
        }
    } else {
        struct bjob *j = find_job(b, buf_cstr(&ident));
        if (strcmp(m, "GET"))
            emu_send_error(c, 405, "ValidationException", "GetModelInvocationJob is a GET.", -1);
        else if (!j)
            not_found(c, buf_cstr(&ident));
        else
            send_json(c, 200, job_json(j));
    }
    buf_free(&ident);
    buf_free(&tail);
}

void emu_batch_control(struct emu_call *c)
{
    struct emu_batch *b = state(c->em);
    const char *m = httpd_req_method(c->req);
    c->proto = EMU_REST_JSON;
    if (!strcmp(m, "GET")) {
        json_t *jobs = json_array();
        for (size_t i = 0; i < b->n; i++)
            if (!b->jobs[i]->gone)
                json_array_append_new(jobs, job_json(b->jobs[i]));
        send_json(c, 200, json_pack("{s:I,s:I,s:o}", "step_ms", (json_int_t)b->step_ms, "min_records",
                                    (json_int_t)b->min_records, "jobs", jobs));
        return;
    }
    if (strcmp(m, "POST")) {
        emu_send_error(c, 405, "ValidationException", "Use GET or POST on /_emulator/batch.", -1);
        return;
    }
    size_t n = 0;
    const char *text = httpd_req_body(c->req, &n);
    json_t *v = NULL;
    struct brock_err e = {0};
    if (json_parse(text, n, "request body", &v, &e) != BROCK_OK || !json_is_object(v)) {
        emu_send_error(c, 400, "ValidationException", e.msg[0] ? e.msg : "expected a JSON object", -1);
        json_decref(v);
        return;
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        if ((!strcmp(k, "step_ms") || !strcmp(k, "min_records")) && json_is_integer(x) &&
            json_integer_value(x) >= (!strcmp(k, "step_ms") ? 1 : 0) && json_integer_value(x) <= 600000)
            continue;
        if (!strcmp(k, "fail_next") && json_is_string(x) && json_string_length(x) > 0 && json_string_length(x) < 500)
            continue;
        char msg[200];
        snprintf(msg, sizeof msg,
                 "/_emulator/batch: bad or unknown field \"%.40s\" (step_ms 1..600000, min_records 0..600000, "
                 "fail_next: a message)",
                 k);
        emu_send_error(c, 400, "ValidationException", msg, -1);
        json_decref(v);
        return;
    }
    json_int_t iv;
    if ((x = json_object_get(v, "step_ms")) && (iv = json_integer_value(x)))
        b->step_ms = iv;
    if ((x = json_object_get(v, "min_records")))
        b->min_records = json_integer_value(x);
    if ((x = json_object_get(v, "fail_next"))) {
        free(b->fail_next);
        b->fail_next = xstrdup(json_string_value(x));
    }
    json_decref(v);
    send_json(c, 200, json_pack("{s:I,s:I}", "step_ms", (json_int_t)b->step_ms, "min_records",
                                (json_int_t)b->min_records));
}
