/* batch.h - `brock batch`: many prompts at once, locally or on Bedrock Batch Inference.
 *
 * Input (batch_options.input_path): JSON Lines, one request per line:
 *
 *   "Explain RAII"                          a JSON string: the prompt
 *   Explain RAII                            a line not starting with '{' or '"': the prompt
 *   {"prompt": "...", "id": "q1", "model": "haiku", "system": "...", "max_tokens": 200}
 *   {"messages": [...], "system": ..., "max_tokens": ..., "temperature": ..., "id": ...}
 *                                           a full Messages body (plus id/model)
 *
 * Blank lines are ignored. A line that cannot be used is reported (file:line:
 * column and why) through on_warning, gets an output record with status
 * "invalid", and the rest goes on. With prompt_file + files instead, each file
 * is one record: the prompt, a blank line, "File: PATH", a blank line, the
 * file's text.
 *
 * Output (output_path): one record per input record, in input order, each
 * written once it and every earlier one are known (in groups: at most 50 ms
 * later, one write per group):
 *
 *   json  {"line":3,"id":"q1","status":"ok","model":"...","text":"...",
 *          "stop_reason":"end_turn","usage":{"input_tokens":..,"output_tokens":..,
 *          "cache_read_input_tokens":..,"cache_creation_input_tokens":..},
 *          "cost_usd":0.0001,"attempts":1,"cached":false,"request_id":"...",
 *          "error":null}
 *         status "error" / "invalid" carry "error":{"code","message","http_status"}
 *         and "text":null; prompt-file records add "file":"PATH".
 *   text  "### line 3 q1: ok (12 in, 40 out, $0.000100)\n<text>\n\n"
 *
 * Resuming: OUTPUT.checkpoint (mode 0600) sits next to the output. It names
 * the input (SHA-256 of its bytes, or of the prompt file and every file) and
 * the options that shape the results; then one "<records> <bytes>" line is
 * appended after every output record. Running the same command again after a
 * crash, kill or Ctrl-C truncates the output to the last checkpointed record
 * (repairing a half-written line and dropping a record written after it, so
 * nothing is ever duplicated), skips those records and goes on. A finished
 * run is a no-op when repeated. A checkpoint for another input or other
 * options is refused (BROCK_ERR_USAGE) unless `restart` is set. The files are
 * fdatasync'ed every second and at the end; a second run on the same output
 * is refused while the first holds the checkpoint's lock.
 *
 * Local engine (batch_run_local): libcurl multi on the calling thread, up to
 * `concurrency` requests in flight, InvokeModel per record, signed with SigV4
 * (or the Bedrock API key). Admission control (batch_admit in batch_int.h)
 * keeps requests and tokens per second under what Bedrock accepts: it starts
 * unlimited, cuts on throttling (CUBIC, at most once per second), grows back,
 * and stops cutting when slowing down does not reduce the throttling. Failed
 * records retry with jittered backoff: 5xx, ModelNotReady, timeouts and
 * network errors up to max_attempts, throttling up to four times that (with
 * a backoff capped at 4 s: admission control paces the run); other errors
 * are recorded in the record and the batch goes on. Records the cache policy allows
 * (deterministic ones by default) are answered from the response cache when
 * it has them. Every model call is a ledger row (cache hits with cost 0),
 * committed in groups (64 rows or 25 ms), always before the records they
 * belong to are written to the output: a crash never leaves the ledger
 * behind what the checkpoint counts as done (batch_books.c says exactly
 * what a kill can lose). Cancellation commits every answer received.
 *
 * Bedrock engine (batch_run_bedrock): writes the records as Bedrock batch
 * input (`{"recordId":"REC00000001","modelInput":{...}}`), uploads it and a
 * small manifest (ids, lines, invalid records) to s3_prefix (multipart above
 * S3_MULTIPART_THRESHOLD), creates the model invocation job, polls it, then
 * downloads the `.jsonl.out` output and writes the same OUTPUT as the local
 * engine, with ledger rows at the batch price (50 %). Fewer than
 * BATCH_BEDROCK_MIN_RECORDS records, more than BATCH_BEDROCK_MAX_RECORDS, an
 * input over BATCH_BEDROCK_MAX_INPUT_BYTES, or records for several models are
 * refused with a message naming the local engine.
 *
 * Errors: BROCK_ERR_USAGE (bad options, checkpoint of another run), IO for
 * the files, and for the Bedrock engine the AWS error of the call that failed.
 * A record's own failure is never the batch's error. Nothing here prints;
 * progress and warnings go to the callbacks (called on the calling thread).
 *
 * Ownership: options are borrowed for the call. Threads: one call per output
 * file; the engines run on the calling thread. Cancellation: `cancel` stops
 * the run (requests in flight are abandoned), keeps what is written, and
 * returns BROCK_ERR_INTERRUPTED. */
#ifndef BROCK_BATCH_BATCH_H
#define BROCK_BATCH_BATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../aws/client.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"

struct store;
struct respcache_policy;
struct budget;

#define BATCH_DEFAULT_CONCURRENCY 16
#define BATCH_MAX_CONCURRENCY 1024
#define BATCH_DEFAULT_MAX_ATTEMPTS 8
#define BATCH_DEFAULT_MAX_TOKENS 4096 /* Bedrock reserves max_tokens of quota at admission */
#define BATCH_DEFAULT_RETRY_BASE_MS 500
#define BATCH_BEDROCK_MIN_RECORDS 100
#define BATCH_BEDROCK_MAX_RECORDS 50000
#define BATCH_BEDROCK_MAX_INPUT_BYTES ((uint64_t)1024 * 1024 * 1024)
#define BATCH_DEFAULT_POLL_MS 30000
#define BATCH_CHECKPOINT_SUFFIX ".checkpoint"

enum batch_format { BATCH_FORMAT_JSON = 0, BATCH_FORMAT_TEXT };

/* What the engines report, at most every progress_interval_ms and at the end. */
struct batch_progress {
    size_t total;      /* records in the input */
    size_t done;       /* written, including failed, invalid and resumed ones */
    size_t failed;     /* status "error" */
    size_t invalid;    /* status "invalid" */
    size_t resumed;    /* done by an earlier run */
    size_t in_flight;
    size_t throttled;  /* throttling answers so far */
    int64_t input_tokens, output_tokens;
    double cost_usd;
    double rate;       /* records per second, this run */
    double eta_s;      /* seconds left, < 0 when unknown */
    double admit_rps;  /* the admission limit now; 0 = not limiting */
    const char *phase; /* "running"; Bedrock: "uploading", a job status, "downloading" */
    const char *job_arn; /* Bedrock: the job, once it exists (NULL before) */
};

typedef void batch_progress_fn(void *ctx, const struct batch_progress *p);
typedef void batch_warning_fn(void *ctx, const char *msg);

struct batch_options {
    /* input: a JSONL file, or a prompt file and the files it is applied to */
    const char *input_path;
    const char *prompt_file;
    const char *const *files;
    size_t n_files;
    const char *output_path;
    enum batch_format format;
    bool restart; /* discard an existing checkpoint and output */

    /* defaults for every record (a line may override model, system, max_tokens) */
    const char *model;  /* alias, id, profile or ARN; NULL = "sonnet" */
    /* the model behind `model` when it is an application inference profile
     * (the caller asked Bedrock): its limits and prices apply; NULL =
     * unknown (priced at the catalog's highest prices) */
    const struct model_info *profile_model;
    /* asked (with cb_ctx) for the model of another application inference
     * profile a line names; NULL = not asked: such lines are priced at the
     * catalog's highest prices */
    const struct model_info *(*profile_model_of)(void *ctx, const char *arn);
    const char *region; /* resolves aliases and is the signing region; NULL = ENDPOINT_DEFAULT_REGION */
    const char *system;
    int max_tokens; /* 0 = BATCH_DEFAULT_MAX_TOKENS capped at the model's maximum */
    double temperature;
    bool temperature_set;

    /* local engine */
    int concurrency;     /* 0 = BATCH_DEFAULT_CONCURRENCY */
    double max_rpm;      /* ceilings for admission control, 0 = none */
    double max_tpm;
    int max_attempts;    /* per record, not counting throttling (4x that); 0 = BATCH_DEFAULT_MAX_ATTEMPTS */
    int64_t retry_base_ms; /* backoff base; 0 = BATCH_DEFAULT_RETRY_BASE_MS */

    /* Bedrock engine */
    const char *s3_prefix; /* s3://bucket/prefix/ */
    const char *role_arn;
    const char *job_name;  /* NULL = "brock-batch-<time>" */
    int64_t poll_ms;       /* 0 = BATCH_DEFAULT_POLL_MS */
    bool s3_path_style;    /* path-style S3 URLs (set for IP-address endpoints anyway) */

    /* AWS: region, endpoint, credentials, API key, CA bundle, cancel flag.
     * `retry` is used by the Bedrock engine's control calls only. */
    struct aws_client_config aws;

    /* bookkeeping (NULL = none): the store for ledger rows and the response
     * cache; the cache policy (src/agent/respcache.h: which records may be
     * answered from it); the spend limits (src/agent/budget.h), checked
     * before requests are sent: at most every 250 ms, and before every one
     * once spend is past 90 % of a limit. A refusal stops sending, keeps what
     * is written (the run resumes later) and returns BROCK_ERR_BUDGET. */
    struct store *store;
    const struct respcache_policy *cache;
    struct budget *budget;
    const char *project; /* ledger project */
    const char *user;    /* ledger user (caller identity) */

    batch_progress_fn *on_progress;
    batch_warning_fn *on_warning; /* malformed lines, skipped vectors of work */
    void *cb_ctx;
    int64_t progress_interval_ms; /* 0 = 200 */
    const struct clock *clock;    /* NULL = real time */
    volatile sig_atomic_t *cancel;
};

struct batch_summary {
    size_t total, ok, failed, invalid, resumed, cached;
    int64_t input_tokens, output_tokens;
    double cost_usd;
    double wall_s;
    size_t throttled;
    char job_arn[256]; /* Bedrock engine */
};

enum brock_status batch_run_local(const struct batch_options *o, struct batch_summary *out,
                                  struct brock_err *e) BROCK_WUR;
enum brock_status batch_run_bedrock(const struct batch_options *o, struct batch_summary *out,
                                    struct brock_err *e) BROCK_WUR;

/* ---- Bedrock model invocation jobs (aws-wire-reference.md 8.1) ------------ */

#define BATCH_JOB_ARN_MAX 256

struct batch_job {
    char arn[BATCH_JOB_ARN_MAX];
    char id[64]; /* the last ARN segment */
    char name[80];
    char model_id[256];
    char status[32];
    char message[512];
    char input_uri[1024], output_uri[1024];
    char role_arn[256];
    int64_t submit_ms, end_ms;
    int64_t total, processed, success, errors; /* -1 = not reported */
};

/* Get / list / stop, through an aws client for ENDPOINT_SVC_BEDROCK. `job` is
 * a job ARN or id. List: newest first, at most max (0 = 100); name_contains
 * and status may be NULL. */
enum brock_status batch_job_get(struct aws_client *c, const char *job, struct batch_job *out,
                                struct brock_err *e) BROCK_WUR;
enum brock_status batch_job_list(struct aws_client *c, const char *name_contains, const char *status, size_t max,
                                 struct batch_job **out, size_t *n, struct brock_err *e) BROCK_WUR;
enum brock_status batch_job_stop(struct aws_client *c, const char *job, struct brock_err *e) BROCK_WUR;
/* True once a status will not change any more. */
bool batch_job_finished(const char *status);

/* Download and decode a finished job's output into o->output_path (the same
 * OUTPUT as the engines; records the job did not produce are "error"). Only
 * output_path, format, aws, store, s3_path_style and the callbacks of `o` are
 * used. */
enum brock_status batch_fetch(const struct batch_options *o, const char *job, struct batch_summary *out,
                              struct brock_err *e) BROCK_WUR;

#endif
