/* batch_int.h - the pieces of `brock batch` shared by its engines (and tests).
 *
 *   batch_input.c   input lines -> requests; the streaming reader
 *   batch_output.c  result records (json/text), the output file and its checkpoint
 *   batch_admit.c   admission control: requests and tokens per second
 *   batch_record.c  Bedrock batch input/output records, the job manifest
 *
 * Not a public API: batch.h is. Same rules (statuses, no printing). */
#ifndef BROCK_BATCH_INT_H
#define BROCK_BATCH_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../aws/crypto.h"
#include "../bedrock/catalog.h"
#include "../bedrock/model.h"
#include "../util/buf.h"
#include "batch.h"

/* Caps on what comes from outside. */
#define BATCH_MAX_LINE ((size_t)8 * 1024 * 1024) /* one input line */
#define BATCH_MAX_FILE ((size_t)4 * 1024 * 1024) /* one file of --prompt-file */
#define BATCH_MAX_PROMPT_FILE ((size_t)1024 * 1024)
#define BATCH_MAX_ID 256                 /* bytes of a record id */
#define BATCH_MAX_RECORDS ((size_t)10000000)
#define BATCH_MAX_ERR 800                /* bytes of an error message kept per record */

/* ---- input lines (batch_input.c) ----------------------------------------- */

/* One usable input line. `req` owns its JSON (messages, system, ...);
 * req.model_id is unset and req.max_tokens 0 when the line gives none. */
struct batch_line {
    char *id;    /* NULL: the line gives none */
    char *model; /* NULL: the default model */
    struct model_request req;
};

/* Parse one line (without its newline). `what` and `line` name it in errors:
 * "what:line:col: ...". A blank line is BROCK_ERR_NOT_FOUND. Errors are
 * BROCK_ERR_PARSE (not JSON, wrong type, unknown field, bad value). */
enum brock_status batch_parse_line(const char *p, size_t n, const char *what, size_t line, struct batch_line *out,
                                   struct brock_err *e) BROCK_WUR;
void batch_line_cleanup(struct batch_line *l);

/* A record as the reader hands it out. */
struct batch_item {
    size_t index;     /* 0-based record number */
    size_t line;      /* input line (1-based), or the file's position for prompt files */
    const char *file; /* prompt-file mode: the file (borrowed from the options) */
    bool invalid;     /* unusable: err says why */
    char err[BATCH_MAX_ERR];
    struct batch_line l;
};
void batch_item_cleanup(struct batch_item *it);

struct batch_reader;

/* Open the input, read it once to count its records and hash it (the
 * checkpoint's identity of the input). */
enum brock_status batch_reader_open(const struct batch_options *o, struct batch_reader **out,
                                    struct brock_err *e) BROCK_WUR;
void batch_reader_free(struct batch_reader *r);
size_t batch_reader_total(const struct batch_reader *r);
const uint8_t *batch_reader_identity(const struct batch_reader *r); /* SHA256_LEN bytes */
/* The next record; parse=false only finds its line (for skipping). BROCK_ERR_NOT_FOUND at the
 * end; other errors (I/O, a line over BATCH_MAX_LINE) end the run. */
enum brock_status batch_reader_next(struct batch_reader *r, bool parse, struct batch_item *it,
                                    struct brock_err *e) BROCK_WUR;

/* The defaults every record starts from, resolved once. */
struct batch_defaults {
    const char *region;
    struct model_choice model; /* the default model */
    const char *system;
    int max_tokens;            /* 0 = per model */
    double temperature;        /* MODEL_UNSET when not given */
    const struct respcache_policy *cache; /* NULL = no response cache */
    const struct model_info *(*profile_model_of)(void *ctx, const char *arn); /* batch_options' */
    void *profile_ctx;
};

/* A record ready to send: the model it goes to and its InvokeModel body. */
struct batch_prepared {
    struct model_choice model;
    struct buf body;     /* canonical InvokeModel JSON */
    int max_tokens;
    int64_t est_tokens;  /* input estimate + max_tokens (what Bedrock reserves) */
    char cache_key[SHA256_HEX_LEN + 1]; /* "" unless the cache policy allows this record */
};
void batch_prepared_init(struct batch_prepared *p);
void batch_prepared_cleanup(struct batch_prepared *p);
/* Apply the defaults to an item and build its body; BROCK_ERR_USAGE (with
 * the line named) when the record cannot be sent (unknown model, bad body). */
enum brock_status batch_prepare(const struct batch_defaults *d, const struct batch_item *it,
                                struct batch_prepared *out, struct brock_err *e) BROCK_WUR;
/* SHA-256 (hex) of what the checkpoint must match besides the input. */
void batch_config_identity(const struct batch_options *o, const struct batch_defaults *d, const char *engine,
                           char out[SHA256_HEX_LEN + 1]);

/* What both engines do first: resolve the defaults, open the reader, open
 * (or resume) the output. `engine` goes into the config identity, so a
 * checkpoint of one engine is not resumed by the other. */
struct batch_resume;
struct batch_out;
enum brock_status batch_open_common(const struct batch_options *o, const char *engine, struct batch_defaults *d,
                                    struct batch_reader **rd, struct batch_out **out, struct batch_resume *res,
                                    struct brock_err *e) BROCK_WUR;
/* Skip the n records an earlier run wrote. */
enum brock_status batch_skip_done(struct batch_reader *rd, size_t n, struct brock_err *e) BROCK_WUR;

/* ---- results and the output file (batch_output.c) ------------------------ */

enum batch_status { BATCH_OK = 0, BATCH_ERROR, BATCH_INVALID };

struct batch_result {
    size_t line;
    const char *file; /* prompt-file mode, else NULL */
    const char *id;   /* NULL: the line number is the id */
    enum batch_status status;
    const char *model_id;
    const char *text; /* OK: the answer's text */
    size_t text_len;
    const char *stop_reason;
    struct model_usage usage;
    double cost_usd;
    int attempts;
    bool cached;
    const char *request_id;
    const char *err_code; /* ERROR / INVALID */
    const char *err_msg;
    int http_status;
};

const char *batch_status_name(enum batch_status s);
/* Append one output record (with its final newline). */
void batch_render(enum batch_format f, const struct batch_result *r, struct buf *out);

struct batch_resume {
    bool had_checkpoint;
    size_t records;    /* records already done */
    uint64_t bytes;    /* output bytes kept */
    uint64_t dropped;  /* bytes cut from the end (a half-written or unrecorded record) */
};

/* Open OUTPUT and OUTPUT.checkpoint: resume (see batch.h), or start both
 * afresh. `input_id` is the reader's identity, `config_hex` the config's. */
enum brock_status batch_out_open(const char *path, enum batch_format f, const uint8_t input_id[SHA256_LEN],
                                 const char *config_hex, bool restart, struct batch_out **out,
                                 struct batch_resume *res, struct brock_err *e) BROCK_WUR;
/* Append complete records (n bytes), then record the progress. */
enum brock_status batch_out_write(struct batch_out *o, const char *p, size_t n, size_t records,
                                  struct brock_err *e) BROCK_WUR;
/* fdatasync the output, then the checkpoint. */
enum brock_status batch_out_sync(struct batch_out *o, struct brock_err *e) BROCK_WUR;
/* Sync and close; NULL is fine. Returns the sync's status. */
enum brock_status batch_out_close(struct batch_out *o, struct brock_err *e);
size_t batch_out_records(const struct batch_out *o);

/* ---- admission control (batch_admit.c) ------------------------------------
 *
 * Two limiters, requests/s and tokens/s, each a token bucket whose fill rate
 * follows CUBIC once throttling was seen (before that only the concurrency
 * and the user's ceilings limit). Throttling messages that mention tokens
 * ("Too many tokens...") cut the token limiter, others the request limiter.
 * A cut happens at most once per epoch (1 s): W = the rate the server
 * accepted lately (or the sent rate, when lower), and the rate becomes
 * max(0.7 W, floor), the floor being a tenth of the best success rate seen.
 * After a cut the rate grows back as rate(t) = W (1 + C (t - K)^3) with
 * K = 3 s, capped at twice the measured rate. If the share of answers that
 * succeed does not grow although the rate was halved, the throttling is not
 * ours to fix (another client, a fault): the limiter stops cutting for 30 s
 * and restores the rate of the first cut. Pure arithmetic on times passed
 * in: no clock, no sleep. */

#define BATCH_ADMIT_EPOCH_MS 1000
#define BATCH_ADMIT_BETA 0.7
#define BATCH_ADMIT_K_S 3.0
#define BATCH_ADMIT_FLOOR_SHARE 0.1
#define BATCH_ADMIT_MIN_RPS 0.2
#define BATCH_ADMIT_INSENSITIVE_MS 30000

struct batch_admit_lim {
    bool limited;
    double rate;      /* fill rate, units per second (when limited) */
    double w_max;     /* rate before the last cut */
    int64_t t_cut;    /* ms of the last cut, -1 = none */
    double bucket;    /* units available */
    double probe_rate, probe_share; /* at the first cut of a series (rate 0 = none, share -1 = unknown) */
    double sc_answers, sc_ok;       /* answers and successes since the last cut */
    int64_t sc_start;
    int64_t quiet_until;            /* no cuts before this (insensitive throttling) */
    size_t cuts;
};

struct batch_admit {
    double max_rps, max_tps; /* the user's ceilings, 0 = none */
    struct batch_admit_lim rq, tk;
    int64_t last_ms;
    /* measurement, per epoch */
    int64_t epoch_start;
    double ep_sent, ep_tokens, ep_ok, ep_ok_tokens, ep_throttled, ep_answers;
    double sent_rate, token_rate, ok_rate, ok_token_rate; /* smoothed, per second */
    double best_ok_rate, best_ok_token_rate;
    double last_share; /* throttled share of the last full epoch */
    size_t throttles;
};

void batch_admit_init(struct batch_admit *a, double max_rpm, double max_tpm, int64_t now_ms);
/* May a request reserving `tokens` be sent now? If not, *wait_ms says when
 * to ask again. */
bool batch_admit_can_send(struct batch_admit *a, int64_t now_ms, double tokens, int64_t *wait_ms);
void batch_admit_sent(struct batch_admit *a, int64_t now_ms, double tokens);
/* A successful answer to a request that reserved `tokens`. */
void batch_admit_ok(struct batch_admit *a, int64_t now_ms, double tokens);
/* A throttling answer; tokens_kind when the message is about tokens. */
void batch_admit_throttled(struct batch_admit *a, int64_t now_ms, bool tokens_kind);
/* Any other finished attempt (error or not), for the throttled share. */
void batch_admit_other(struct batch_admit *a, int64_t now_ms);
/* The request limit now (0 = not limiting). */
double batch_admit_rps(const struct batch_admit *a);

/* ---- Bedrock batch records (batch_record.c) ------------------------------- */

/* recordId for record index i: "REC" + 8 digits (11 characters, alphanumeric,
 * as the older docs require); parse back, false for anything else. */
void batch_record_id(size_t index, char out[16]);
bool batch_record_index(const char *id, size_t *index);

/* One line of a `.jsonl.out` file. */
struct batch_out_record {
    char record_id[64];
    bool has_output;
    json_t *output;        /* modelOutput (new reference), or NULL */
    int error_code;        /* error.errorCode, 0 if none */
    char error_msg[BATCH_MAX_ERR];
};
/* Parse one output line. BROCK_ERR_PARSE naming `what`:line for anything that
 * is not a record with a recordId and exactly one of modelOutput / error. */
enum brock_status batch_parse_out_record(const char *p, size_t n, const char *what, size_t line,
                                         struct batch_out_record *out, struct brock_err *e) BROCK_WUR;
void batch_out_record_cleanup(struct batch_out_record *r);

#define BATCH_MANIFEST_NAME "brock-batch.json"
#define BATCH_MANIFEST_MAX ((size_t)64 * 1024 * 1024)

/* The sidecar brock uploads next to the job input, so `fetch` (maybe on
 * another machine) can rebuild the output: per record its line, file, id,
 * model, and the invalid records' errors. */
struct batch_manifest_rec {
    size_t line;
    char *file, *id;
    char *error; /* invalid: why; NULL otherwise */
};
struct batch_manifest {
    char *model_id;
    char *input_hex; /* the input identity */
    enum batch_format format;
    struct batch_manifest_rec *recs;
    size_t n, cap;
};
void batch_manifest_add(struct batch_manifest *m, size_t line, const char *file, const char *id, const char *error);
char *batch_manifest_json(const struct batch_manifest *m);
enum brock_status batch_manifest_parse(const char *p, size_t n, const char *what, struct batch_manifest *out,
                                       struct brock_err *e) BROCK_WUR;
void batch_manifest_free(struct batch_manifest *m);

/* ---- the control plane (batch_job.c) --------------------------------------- */

struct batch_job_spec {
    const char *name, *role_arn, *token, *model_id, *input_uri, *output_uri;
    int64_t timeout_h; /* 24..168 */
};
enum brock_status batch_job_create(struct aws_client *c, const struct batch_job_spec *spec,
                                   char arn[BATCH_JOB_ARN_MAX], struct brock_err *e) BROCK_WUR;
/* A job object as Bedrock sends it (Get, or a List summary). */
enum brock_status batch_job_from_json(const json_t *o, struct batch_job *out, struct brock_err *e) BROCK_WUR;

/* ---- the usage ledger, in groups (batch_books.c) ---------------------------
 *
 * Ledger rows wait here (copied) and go to the store in one transaction
 * (store_ledger_insert_many) when BATCH_BOOKS_ROWS are waiting or the oldest
 * has waited BATCH_BOOKS_MS, whichever comes first. The engines commit
 * before they write output records (batch_out_write), before they read the
 * ledger (budget checks) and at the end of a run: whatever the checkpoint
 * counts as done has its row committed, so a crash can lose only rows of
 * records the next run does again. Failures are warnings (on_warning), as
 * for single rows. Without a store everything is a no-op. */

#define BATCH_BOOKS_ROWS 64
#define BATCH_BOOKS_MS 25

struct store_ledger_row;
struct batch_books_row;

struct batch_books {
    struct store *store;
    const struct batch_options *o; /* on_warning, cb_ctx */
    struct batch_books_row *rows;  /* BATCH_BOOKS_ROWS waiting rows */
    struct store_ledger_row *flat; /* the same, pointing into the arena, at commit */
    struct buf arena;              /* their strings */
    size_t n;                      /* rows waiting */
    int64_t first_ms;              /* mono time the oldest was added */
    size_t lost;                   /* rows the store did not take (each one warned) */
};

void batch_books_init(struct batch_books *b, const struct batch_options *o);
/* Commit nothing: call batch_books_commit first. */
void batch_books_free(struct batch_books *b);
/* Keep a row (its strings are copied); commits at BATCH_BOOKS_ROWS. */
void batch_books_add(struct batch_books *b, const struct store_ledger_row *row);
/* Write the waiting rows, if any, in one transaction. */
void batch_books_commit(struct batch_books *b);
/* When the waiting rows must be committed (mono ms), -1 when none wait. */
int64_t batch_books_due(const struct batch_books *b);

/* ---- small shared helpers ------------------------------------------------- */

/* Append s as a JSON string literal (invalid UTF-8 becomes U+FFFD). */
void batch_json_str(struct buf *b, const char *s, size_t n);
/* Cost of a call at on-demand or batch prices; a model the catalog does
 * not know at its highest prices (catalog_ceiling_prices), so budgets hold. */
double batch_cost(const struct model_choice *m, const struct model_usage *u, bool batch_price);
/* The text blocks of a Messages answer, concatenated (malloc'd, never NULL). */
char *batch_answer_text(const json_t *content);

#endif
