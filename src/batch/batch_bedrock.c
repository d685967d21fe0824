/* batch_bedrock.c - the Bedrock Batch Inference engine and `batch fetch` (batch.h).
 *
 * S3 layout under --s3-prefix (s3://bucket/prefix/):
 *   <prefix><job name>/input/records.jsonl    the records (Bedrock reads this file only)
 *   <prefix><job name>/input/brock-batch.json the manifest: lines, ids, files, invalid records
 *   <prefix><job name>/output/<job id>/...    what Bedrock writes
 *
 * OUTPUT.job (0600) next to the output remembers the job once it is created,
 * so running the same command again (after Ctrl-C, a crash, or just to wait
 * longer) polls that job instead of starting another; the job's
 * clientRequestToken is derived from the input and options, so even a crash
 * between CreateModelInvocationJob and writing OUTPUT.job gets the same job
 * back from Bedrock. --restart makes a new token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../aws/s3.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "batch_int.h"

#define JOB_SUFFIX ".job"
#define OUT_FILE_MAX ((size_t)2 * 1024 * 1024 * 1024 - 1) /* one .jsonl.out */
#define WRITE_CHUNK ((size_t)1024 * 1024)
#define BEDROCK_JOB_SLACK ((size_t)16 * 1024 * 1024) /* room to notice the input is over the limit */

struct job_file {
    char arn[BATCH_JOB_ARN_MAX];
    char input_hex[SHA256_HEX_LEN + 1];
    char config_hex[SHA256_HEX_LEN + 1];
};

static char *sidecar_path(const char *output)
{
    size_t n = strlen(output) + sizeof JOB_SUFFIX;
    char *p = xmalloc(n);
    snprintf(p, n, "%s" JOB_SUFFIX, output);
    return p;
}

/* BROCK_ERR_NOT_FOUND when there is none (or it is for another input). */
static enum brock_status sidecar_read(const char *output, struct job_file *jf, struct brock_err *e)
{
    char *path = sidecar_path(output);
    struct buf b = BUF_INIT(BUF_MAX_SMALL);
    enum brock_status st = fs_read_file(path, BUF_MAX_SMALL, &b, e);
    json_t *v = NULL;
    if (st == BROCK_OK)
        st = json_parse(buf_cstr(&b), b.len, path, &v, e);
    const char *arn = json_str(v, "jobArn"), *in = json_str(v, "input"), *cfg = json_str(v, "config");
    if (st == BROCK_OK && (!arn || !in || !cfg || strlen(arn) >= sizeof jf->arn || strlen(in) != SHA256_HEX_LEN ||
                           strlen(cfg) != SHA256_HEX_LEN))
        st = err_set(e, BROCK_ERR_PARSE, "%s is damaged; remove it or use --restart", path);
    if (st == BROCK_OK) {
        snprintf(jf->arn, sizeof jf->arn, "%s", arn);
        snprintf(jf->input_hex, sizeof jf->input_hex, "%s", in);
        snprintf(jf->config_hex, sizeof jf->config_hex, "%s", cfg);
    }
    json_decref(v);
    buf_free(&b);
    free(path);
    return st;
}

static enum brock_status sidecar_write(const char *output, const struct job_file *jf, struct brock_err *e)
{
    char *path = sidecar_path(output);
    json_t *v = json_pack("{s:s,s:s,s:s}", "jobArn", jf->arn, "input", jf->input_hex, "config", jf->config_hex);
    char *s = json_dump_compact(v);
    enum brock_status st = fs_write_atomic(path, s, strlen(s), 0600, e);
    free(s);
    json_decref(v);
    free(path);
    return st;
}

static void sidecar_remove(const char *output)
{
    char *path = sidecar_path(output);
    unlink(path);
    free(path);
}

/* ---- the clients --------------------------------------------------------------------- */

static struct s3_client *s3_for(const struct batch_options *o)
{
    struct s3_config c = {.aws = o->aws, .path_style = o->s3_path_style};
    c.aws.region = o->region ? o->region : o->aws.region;
    return s3_client_new(&c);
}

static struct aws_client *control_for(const struct batch_options *o)
{
    struct aws_client_config c = o->aws;
    c.region = o->region ? o->region : o->aws.region;
    return aws_client_new(&c);
}

static bool cancelled(const struct batch_options *o)
{
    return o->cancel && *o->cancel;
}

static void progress(const struct batch_options *o, struct batch_progress *p, const char *phase)
{
    p->phase = phase;
    if (o->on_progress)
        o->on_progress(o->cb_ctx, p);
}

/* ---- results --------------------------------------------------------------------------- */

struct result_set {
    char **rendered; /* per record index: the output record, or NULL */
    size_t n;
};

static void results_free(struct result_set *r)
{
    for (size_t i = 0; r->rendered && i < r->n; i++)
        free(r->rendered[i]);
    free(r->rendered);
}

static void ledger_row(struct batch_books *books, const struct batch_options *o, const char *model_id,
                       const struct model_usage *u, const char *status, const char *job_arn, double cost,
                       const char *region)
{
    if (!books)
        return;
    struct store_ledger_row row = {
        .user = o->user,
        .project = o->project,
        .model = model_id,
        .profile = model_id,
        .region = region,
        .api = "batch",
        .usage = *u,
        .status = status,
        .request_id = job_arn,
        .cost_usd = cost,
        .routing = "brock batch (Bedrock batch inference, 50 % price)",
    };
    batch_books_add(books, &row);
}

static int64_t usage_num(const json_t *u, const char *k)
{
    int64_t v;
    return json_int(u, k, &v) && v >= 0 ? v : 0;
}

/* One .jsonl.out file into the result set. */
static enum brock_status decode_file(const struct batch_options *o, struct batch_books *books,
                                     const struct batch_manifest *m, const struct model_choice *mc,
                                     const struct batch_job *job, const char *what, const char *data, size_t len,
                                     struct result_set *rs, struct batch_summary *sum, struct brock_err *e)
{
    size_t line = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(data + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : len - off;
        line++;
        const char *p = data + off;
        off += n + (nl ? 1 : 0);
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = p[i] == ' ' || p[i] == '\t' || p[i] == '\r';
        if (blank)
            continue;
        struct batch_out_record rec;
        enum brock_status st = batch_parse_out_record(p, n, what, line, &rec, e);
        if (st != BROCK_OK)
            return st;
        size_t idx;
        if (!batch_record_index(rec.record_id, &idx) || idx >= m->n || m->recs[idx].error || rs->rendered[idx]) {
            char msg[1500];
            snprintf(msg, sizeof msg, "%.1200s:%zu: record %s is not one brock sent (ignored)", what, line,
                     rec.record_id);
            if (o->on_warning)
                o->on_warning(o->cb_ctx, msg);
            batch_out_record_cleanup(&rec);
            continue;
        }
        const struct batch_manifest_rec *mr = &m->recs[idx];
        struct batch_result r = {.line = mr->line, .file = mr->file, .id = mr->id, .model_id = m->model_id,
                                 .attempts = 1, .request_id = job->arn};
        struct buf out = BUF_INIT(BUF_MAX_BODY * 2);
        if (rec.has_output) {
            json_t *u = json_object_get(rec.output, "usage");
            r.status = BATCH_OK;
            r.usage = (struct model_usage){usage_num(u, "input_tokens"), usage_num(u, "output_tokens"),
                                           usage_num(u, "cache_read_input_tokens"),
                                           usage_num(u, "cache_creation_input_tokens")};
            r.cost_usd = batch_cost(mc, &r.usage, true);
            char *text = batch_answer_text(json_object_get(rec.output, "content"));
            r.text = text;
            r.text_len = strlen(text);
            r.stop_reason = json_str(rec.output, "stop_reason");
            batch_render(m->format, &r, &out);
            free(text);
            sum->ok++;
            ledger_row(books, o, m->model_id, &r.usage, "ok", job->arn, r.cost_usd, o->region);
        } else {
            static const struct model_usage none;
            r.status = BATCH_ERROR;
            r.err_code = "BatchRecordError";
            r.err_msg = rec.error_msg;
            r.http_status = rec.error_code;
            batch_render(m->format, &r, &out);
            sum->failed++;
            char code[32];
            snprintf(code, sizeof code, "BatchRecordError %d", rec.error_code);
            ledger_row(books, o, m->model_id, &none, code, job->arn, 0, o->region);
        }
        sum->input_tokens += r.usage.input_tokens + r.usage.cache_read_tokens + r.usage.cache_write_tokens;
        sum->output_tokens += r.usage.output_tokens;
        sum->cost_usd += r.cost_usd;
        rs->rendered[idx] = buf_take(&out);
        batch_out_record_cleanup(&rec);
    }
    return BROCK_OK;
}

/* Download the job's output and write every record from `skip` on, in order.
 * The ledger rows of the whole job are committed before the first record is
 * written, so when an earlier run wrote records (skip > 0) it recorded every
 * row already: a resumed run records none (it would count the job twice). */
static enum brock_status write_results(const struct batch_options *o, struct s3_client *s3, struct batch_out *out,
                                       const struct batch_manifest *m, const struct batch_job *job, size_t skip,
                                       struct batch_summary *sum, struct brock_err *e)
{
    struct s3_uri ou;
    enum brock_status st = s3_uri_parse(job->output_uri, &ou, e);
    if (st != BROCK_OK)
        return err_prefix(e, "the job's output location");
    struct buf prefix = BUF_INIT(S3_MAX_KEY * 2);
    buf_addstr(&prefix, ou.key);
    if (prefix.len && prefix.ptr[prefix.len - 1] != '/')
        buf_addc(&prefix, '/');
    buf_addf(&prefix, "%s/", job->id);
    struct s3_list l;
    st = s3_list(s3, ou.bucket, buf_cstr(&prefix), NULL, &l, e);
    buf_free(&prefix);
    if (st != BROCK_OK)
        return err_prefix(e, "listing the output of job %s", job->id);

    enum model_geo geo = GEO_NONE;
    struct model_choice mc = {.model = catalog_find(m->model_id, &geo), .geo = geo};
    snprintf(mc.model_id, sizeof mc.model_id, "%s", m->model_id);
    struct result_set rs = {xcalloc(m->n ? m->n : 1, sizeof(char *)), m->n};
    struct batch_books books;
    batch_books_init(&books, o);
    for (size_t i = 0; i < l.n && st == BROCK_OK; i++) {
        const char *k = l.v[i].key;
        size_t kl = strlen(k);
        if (kl < 10 || strcmp(k + kl - 10, ".jsonl.out"))
            continue; /* manifest.json.out and anything else */
        struct buf data = BUF_INIT(OUT_FILE_MAX);
        st = s3_get(s3, ou.bucket, k, OUT_FILE_MAX, &data, NULL, e);
        if (st == BROCK_OK) {
            char what[1400];
            snprintf(what, sizeof what, "s3://%s/%.1100s", ou.bucket, k);
            st = decode_file(o, o->store && skip == 0 ? &books : NULL, m, &mc, job, what, buf_cstr(&data), data.len,
                             &rs, sum, e);
            batch_books_commit(&books); /* not kept across the next download */
        }
        buf_free(&data);
    }
    s3_list_free(&l);
    batch_books_commit(&books); /* before any record is written */
    batch_books_free(&books);

    struct buf w = BUF_INIT(WRITE_CHUNK * 2 + BUF_MAX_BODY * 4);
    size_t pending = 0;
    char missing[200];
    snprintf(missing, sizeof missing, "the job ended as %s without an output for this record", job->status);
    for (size_t i = skip; i < m->n && st == BROCK_OK; i++) {
        const struct batch_manifest_rec *mr = &m->recs[i];
        if (mr->error) {
            struct batch_result r = {.line = mr->line, .file = mr->file, .id = mr->id, .status = BATCH_INVALID,
                                     .err_code = "InvalidInput", .err_msg = mr->error};
            batch_render(m->format, &r, &w);
            sum->invalid++;
        } else if (rs.rendered[i]) {
            buf_addstr(&w, rs.rendered[i]);
        } else {
            struct batch_result r = {.line = mr->line, .file = mr->file, .id = mr->id, .status = BATCH_ERROR,
                                     .model_id = m->model_id, .err_code = "RecordMissing", .err_msg = missing};
            batch_render(m->format, &r, &w);
            sum->failed++;
        }
        pending++;
        if (w.len >= WRITE_CHUNK || i + 1 == m->n) {
            st = buf_status(&w) == BROCK_OK ? batch_out_write(out, buf_cstr(&w), w.len, pending, e)
                                             : err_set(e, BROCK_ERR_TOO_LARGE, "an output record is too large");
            buf_reset(&w);
            pending = 0;
        }
    }
    buf_free(&w);
    results_free(&rs);
    return st;
}

/* ---- the engine --------------------------------------------------------------------------- */

static void random_hex(char *out, size_t bytes)
{
    uint8_t r[32];
    if (bytes > sizeof r)
        bytes = sizeof r;
    if (crypto_random(r, bytes, NULL) != BROCK_OK)
        memset(r, 0x5a, bytes);
    hex_encode(r, bytes, out);
}

/* Read every record, build the batch input and the manifest. */
static enum brock_status build_input(const struct batch_options *o, const struct batch_defaults *d,
                                     struct batch_reader *rd, struct buf *jsonl, struct batch_manifest *m,
                                     size_t *usable, struct brock_err *e)
{
    *usable = 0;
    enum brock_status st = BROCK_OK;
    struct batch_prepared prep;
    batch_prepared_init(&prep);
    for (;;) {
        struct batch_item it;
        st = batch_reader_next(rd, true, &it, e);
        if (st == BROCK_ERR_NOT_FOUND) {
            st = BROCK_OK;
            break;
        }
        if (st != BROCK_OK)
            break;
        struct brock_err pe = {0};
        if (it.invalid) {
            if (o->on_warning)
                o->on_warning(o->cb_ctx, it.err);
            batch_manifest_add(m, it.line, it.file, it.l.id, it.err);
        } else if (batch_prepare(d, &it, &prep, &pe) != BROCK_OK) {
            if (o->on_warning)
                o->on_warning(o->cb_ctx, pe.msg);
            batch_manifest_add(m, it.line, it.file, it.l.id, pe.msg);
        } else if (strcmp(prep.model.model_id, d->model.model_id)) {
            st = err_set(e, BROCK_ERR_USAGE,
                         "line %zu asks for model %s but the job runs %s: a Bedrock batch job runs one model; split "
                         "the input or use the local engine (without --engine bedrock)",
                         it.line, prep.model.model_id, d->model.model_id);
        } else {
            char rid[16];
            batch_record_id(it.index, rid);
            buf_addf(jsonl, "{\"recordId\":\"%s\",\"modelInput\":", rid);
            buf_add(jsonl, buf_cstr(&prep.body), prep.body.len);
            buf_add(jsonl, "}\n", 2);
            batch_manifest_add(m, it.line, it.file, it.l.id, NULL);
            (*usable)++;
            if (jsonl->len > BATCH_BEDROCK_MAX_INPUT_BYTES || buf_status(jsonl) != BROCK_OK)
                st = err_set(e, BROCK_ERR_TOO_LARGE,
                             "the batch input is over %llu bytes, Bedrock's limit for one input file; split it or use "
                             "the local engine",
                             (unsigned long long)BATCH_BEDROCK_MAX_INPUT_BYTES);
        }
        batch_item_cleanup(&it);
        if (st != BROCK_OK)
            break;
    }
    batch_prepared_cleanup(&prep);
    return st;
}

static void sleep_ms(const struct batch_options *o, int64_t ms)
{
    while (ms > 0 && !cancelled(o)) {
        int64_t step = ms > 100 ? 100 : ms;
        clock_sleep_ms(o->clock, step);
        ms -= step;
    }
}

/* Poll until the job is over; progress shows its counts. */
static enum brock_status wait_job(const struct batch_options *o, struct aws_client *ctl, const char *arn,
                                  size_t total, size_t resumed, struct batch_job *job, struct brock_err *e)
{
    int64_t every = o->poll_ms > 0 ? o->poll_ms : BATCH_DEFAULT_POLL_MS;
    int64_t t0 = time_mono_ms();
    for (;;) {
        enum brock_status st = batch_job_get(ctl, arn, job, e);
        if (st != BROCK_OK)
            return err_prefix(e, "checking batch inference job %s", arn);
        struct batch_progress p = {.total = total, .resumed = resumed, .job_arn = arn};
        if (job->processed > 0) {
            p.done = (size_t)job->processed;
            double secs = (double)(time_mono_ms() - t0) / 1000.0;
            p.rate = secs > 0 ? (double)job->processed / secs : 0;
            p.eta_s = job->total > job->processed && p.rate > 0 ? (double)(job->total - job->processed) / p.rate : -1;
        } else {
            p.eta_s = -1;
        }
        if (job->errors > 0)
            p.failed = (size_t)job->errors;
        progress(o, &p, job->status);
        if (batch_job_finished(job->status))
            return BROCK_OK;
        sleep_ms(o, every);
        if (cancelled(o))
            return err_set(e, BROCK_ERR_INTERRUPTED,
                           "stopped waiting; batch inference job %s goes on (%s). Run the same command again to "
                           "wait for it, or `brock batch fetch %s -o OUTPUT` when it is done",
                           job->id, job->status, job->arn);
    }
}

static enum brock_status finish_job(const struct batch_options *o, struct s3_client *s3, struct batch_out *out,
                                    const struct batch_job *job, size_t skip, struct batch_summary *sum,
                                    struct brock_err *e)
{
    if (!strcmp(job->status, "Failed") || !strcmp(job->status, "Expired"))
        return err_set(e, BROCK_ERR_AWS, "batch inference job %s ended as %s: %s (use --restart to submit a new job)",
                       job->arn, job->status, job->message[0] ? job->message : "no message");
    /* the manifest sits next to the input */
    struct s3_uri iu;
    enum brock_status st = s3_uri_parse(job->input_uri, &iu, e);
    if (st != BROCK_OK)
        return err_prefix(e, "the job's input location");
    char *slash = strrchr(iu.key, '/');
    char key[S3_MAX_KEY + 64];
    snprintf(key, sizeof key, "%.*s" BATCH_MANIFEST_NAME, slash ? (int)(slash - iu.key + 1) : 0, iu.key);
    struct buf mb = BUF_INIT(BATCH_MANIFEST_MAX);
    st = s3_get(s3, iu.bucket, key, BATCH_MANIFEST_MAX, &mb, NULL, e);
    if (st != BROCK_OK) {
        buf_free(&mb);
        return err_prefix(e, "reading brock's manifest of job %s (was it submitted by brock batch?)", job->id);
    }
    char what[1600];
    snprintf(what, sizeof what, "s3://%s/%s", iu.bucket, key);
    struct batch_manifest m;
    st = batch_manifest_parse(buf_cstr(&mb), mb.len, what, &m, e);
    buf_free(&mb);
    if (st == BROCK_OK) {
        if (o->format != m.format)
            m.format = o->format;
        st = write_results(o, s3, out, &m, job, skip, sum, e);
        sum->total = m.n;
    }
    batch_manifest_free(&m);
    return st;
}

enum brock_status batch_run_bedrock(const struct batch_options *o, struct batch_summary *sum, struct brock_err *e)
{
    memset(sum, 0, sizeof *sum);
    int64_t t0 = time_mono_ms();
    if (!o->s3_prefix || !*o->s3_prefix)
        return err_set(e, BROCK_ERR_USAGE, "--engine bedrock needs --s3-prefix s3://bucket/prefix/ for the job's "
                                           "input and output");
    if (!o->role_arn || !*o->role_arn)
        return err_set(e, BROCK_ERR_USAGE, "--engine bedrock needs --role-arn: the service role Bedrock uses to read "
                                           "and write that S3 location");
    struct s3_uri prefix;
    enum brock_status st = s3_uri_parse(o->s3_prefix, &prefix, e);
    if (st != BROCK_OK)
        return err_prefix(e, "--s3-prefix");

    struct batch_defaults d;
    struct batch_reader *rd = NULL;
    struct batch_out *out = NULL;
    struct batch_resume res;
    if ((st = batch_open_common(o, "bedrock", &d, &rd, &out, &res, e)) != BROCK_OK)
        return st;
    sum->total = batch_reader_total(rd);
    sum->resumed = res.records;
    struct s3_client *s3 = s3_for(o);
    struct aws_client *ctl = control_for(o);
    struct buf jsonl = BUF_INIT(BATCH_BEDROCK_MAX_INPUT_BYTES + BEDROCK_JOB_SLACK);
    struct batch_manifest m = {0};
    struct job_file jf = {0};
    struct batch_job job;
    char cfg[SHA256_HEX_LEN + 1];
    batch_config_identity(o, &d, "bedrock", cfg);
    hex_encode(batch_reader_identity(rd), SHA256_LEN, jf.input_hex);
    snprintf(jf.config_hex, sizeof jf.config_hex, "%s", cfg);

    if (res.records == sum->total)
        goto done; /* written by an earlier run */

    struct job_file old;
    struct brock_err se = {0};
    bool have_job = !o->restart && sidecar_read(o->output_path, &old, &se) == BROCK_OK &&
                    !strcmp(old.input_hex, jf.input_hex) && !strcmp(old.config_hex, jf.config_hex);
    if (have_job) {
        snprintf(jf.arn, sizeof jf.arn, "%s", old.arn);
    } else {
        if (o->restart)
            sidecar_remove(o->output_path);
        struct batch_progress p = {.total = sum->total, .eta_s = -1};
        progress(o, &p, "preparing");
        size_t usable = 0;
        if ((st = build_input(o, &d, rd, &jsonl, &m, &usable, e)) != BROCK_OK)
            goto done;
        if (usable < BATCH_BEDROCK_MIN_RECORDS) {
            st = err_set(e, BROCK_ERR_USAGE,
                         "Bedrock batch inference needs at least %d records in a job; this input has %zu usable "
                         "record%s. Use the local engine (leave out --engine bedrock) for small batches",
                         BATCH_BEDROCK_MIN_RECORDS, usable, usable == 1 ? "" : "s");
            goto done;
        }
        if (usable > BATCH_BEDROCK_MAX_RECORDS) {
            st = err_set(e, BROCK_ERR_USAGE,
                         "a Bedrock batch job takes at most %d records (Bedrock's default quota); this input has %zu. "
                         "Split the input, or use the local engine",
                         BATCH_BEDROCK_MAX_RECORDS, usable);
            goto done;
        }
        m.model_id = xstrdup(d.model.model_id);
        m.input_hex = xstrdup(jf.input_hex);
        m.format = o->format;

        /* names */
        char name[80];
        if (o->job_name && *o->job_name) {
            snprintf(name, sizeof name, "%s", o->job_name);
        } else {
            char t[21];
            time_fmt_iso8601(clock_now_ms(o->clock) / 1000, t);
            snprintf(name, sizeof name, "brock-batch-%.4s%.2s%.2s-%.2s%.2s%.2s", t, t + 5, t + 8, t + 11, t + 14,
                     t + 17);
        }
        struct buf base = BUF_INIT(S3_MAX_KEY + 128), in_key = BUF_INIT(S3_MAX_KEY + 128),
                   man_key = BUF_INIT(S3_MAX_KEY + 128);
        buf_addstr(&base, prefix.key);
        if (base.len && base.ptr[base.len - 1] != '/')
            buf_addc(&base, '/');
        buf_addf(&base, "%s/", name);
        buf_addf(&in_key, "%sinput/records.jsonl", buf_cstr(&base));
        buf_addf(&man_key, "%sinput/" BATCH_MANIFEST_NAME, buf_cstr(&base));
        char in_uri[S3_MAX_KEY + 400], out_uri[S3_MAX_KEY + 400];
        snprintf(in_uri, sizeof in_uri, "s3://%s/%s", prefix.bucket, buf_cstr(&in_key));
        snprintf(out_uri, sizeof out_uri, "s3://%s/%soutput/", prefix.bucket, buf_cstr(&base));
        if (buf_status(&base) != BROCK_OK || base.len > S3_MAX_KEY - 40) {
            st = err_set(e, BROCK_ERR_USAGE, "--s3-prefix and the job name make S3 keys that are too long");
        } else {
            progress(o, &p, "uploading");
            char *mjson = batch_manifest_json(&m);
            st = mjson ? s3_put(s3, prefix.bucket, buf_cstr(&man_key), mjson, strlen(mjson), "application/json", NULL,
                                e)
                       : err_set(e, BROCK_ERR_TOO_LARGE, "the manifest is over %zu bytes", BATCH_MANIFEST_MAX);
            free(mjson);
            if (st == BROCK_OK)
                st = s3_put(s3, prefix.bucket, buf_cstr(&in_key), jsonl.ptr, jsonl.len, "application/jsonl", NULL, e);
            if (st != BROCK_OK)
                err_prefix(e, "uploading the batch input to %s", in_uri);
        }
        if (st == BROCK_OK) {
            /* the same input and options give the same token: Bedrock answers a
             * repeated create with the job it already made */
            char token[65];
            struct sha256_ctx h;
            uint8_t dg[SHA256_LEN];
            sha256_init(&h);
            sha256_update(&h, jf.input_hex, SHA256_HEX_LEN);
            sha256_update(&h, jf.config_hex, SHA256_HEX_LEN);
            sha256_update(&h, in_uri, strlen(in_uri));
            if (o->restart) {
                char nonce[33];
                random_hex(nonce, 16);
                sha256_update(&h, nonce, 32);
            }
            sha256_final(&h, dg);
            sha256_free(&h);
            hex_encode(dg, SHA256_LEN, token);
            struct batch_job_spec spec = {.name = name, .role_arn = o->role_arn, .token = token,
                                          .model_id = d.model.model_id, .input_uri = in_uri, .output_uri = out_uri,
                                          .timeout_h = 72};
            progress(o, &p, "submitting");
            st = batch_job_create(ctl, &spec, jf.arn, e);
        }
        buf_free(&base);
        buf_free(&in_key);
        buf_free(&man_key);
        buf_free(&jsonl);
        if (st == BROCK_OK)
            st = sidecar_write(o->output_path, &jf, e);
        if (st != BROCK_OK)
            goto done;
    }
    snprintf(sum->job_arn, sizeof sum->job_arn, "%s", jf.arn);
    if ((st = wait_job(o, ctl, jf.arn, sum->total, res.records, &job, e)) != BROCK_OK)
        goto done;
    progress(o, &(struct batch_progress){.total = sum->total, .done = res.records, .eta_s = -1}, "downloading");
    size_t total = sum->total;
    st = finish_job(o, s3, out, &job, res.records, sum, e);
    sum->total = total;
    struct batch_progress fp = {.total = sum->total, .done = batch_out_records(out), .failed = sum->failed,
                                .invalid = sum->invalid, .resumed = res.records, .input_tokens = sum->input_tokens,
                                .output_tokens = sum->output_tokens, .cost_usd = sum->cost_usd, .eta_s = 0};
    progress(o, &fp, job.status);

done:;
    struct brock_err ce = {0};
    enum brock_status cst = batch_out_close(out, &ce);
    if (st == BROCK_OK && cst != BROCK_OK) {
        st = cst;
        *e = ce;
    }
    buf_free(&jsonl);
    batch_manifest_free(&m);
    aws_client_free(ctl);
    s3_client_free(s3);
    batch_reader_free(rd);
    sum->wall_s = (double)(time_mono_ms() - t0) / 1000.0;
    return st;
}

enum brock_status batch_fetch(const struct batch_options *o, const char *which, struct batch_summary *sum,
                              struct brock_err *e)
{
    char job_id[BATCH_JOB_ARN_MAX];
    snprintf(job_id, sizeof job_id, "%s", which); /* it may point into *sum */
    memset(sum, 0, sizeof *sum);
    int64_t t0 = time_mono_ms();
    if (!o->output_path || !*o->output_path)
        return err_set(e, BROCK_ERR_USAGE, "no output file: give -o OUTPUT.jsonl");
    struct aws_client *ctl = control_for(o);
    struct s3_client *s3 = s3_for(o);
    struct batch_job job;
    struct batch_out *out = NULL;
    enum brock_status st = batch_job_get(ctl, job_id, &job, e);
    if (st == BROCK_OK && !batch_job_finished(job.status))
        st = err_set(e, BROCK_ERR_USAGE, "batch inference job %s is %s; fetch it once it is done (brock batch status %s)",
                     job.id, job.status, job.id);
    if (st == BROCK_OK) {
        /* the checkpoint names the job, so a later fetch of the same job resumes */
        uint8_t id[SHA256_LEN];
        crypto_sha256(job.arn, strlen(job.arn), id);
        struct batch_resume res;
        st = batch_out_open(o->output_path, o->format, id, "fetch", o->restart, &out, &res, e);
        if (st == BROCK_OK) {
            sum->resumed = res.records;
            snprintf(sum->job_arn, sizeof sum->job_arn, "%s", job.arn);
            st = finish_job(o, s3, out, &job, res.records, sum, e);
        }
    }
    struct brock_err ce = {0};
    enum brock_status cst = batch_out_close(out, &ce);
    if (st == BROCK_OK && cst != BROCK_OK) {
        st = cst;
        *e = ce;
    }
    aws_client_free(ctl);
    s3_client_free(s3);
    sum->wall_s = (double)(time_mono_ms() - t0) / 1000.0;
    return st;
}
