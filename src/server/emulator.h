/* emulator.h - `brock emulate`: a local Amazon Bedrock Runtime (and STS) on loopback.
 *
 * The emulator speaks the Bedrock Runtime wire protocol as AWS's SDKs expect
 * it (aws-wire-reference.md sections 4-6, checklist 11), over HTTP/1.1 and
 * cleartext HTTP/2 on one port (httpd.h does the protocol work):
 *
 *   POST /model/{modelId}/invoke                        Anthropic Messages JSON
 *   POST /model/{modelId}/invoke-with-response-stream   `chunk` events
 *   POST /model/{modelId}/converse                      Converse JSON
 *   POST /model/{modelId}/converse-stream               Converse events
 *   POST /model/{modelId}/count-tokens                  {"inputTokens": N}
 *   POST /  Action=GetCallerIdentity (STS, awsQuery)    XML with the caller's ARN
 *
 * Every request is authenticated like AWS does it: SigV4 (sigv4_verify; the
 * credential scope must name `bedrock` or `sts`), or for Bedrock a Bedrock
 * API key (short-term keys verified with bearer.h, long-term keys from the
 * keys file). Accepted keys: AWS's documentation examples (AKIDEXAMPLE and
 * AKIAIOSFODNN7EXAMPLE with their example secrets) unless no_example_keys,
 * plus the keys file (scenario.h). Failures answer 403 in AWS's error shape
 * (x-amzn-ErrorType + {"message"}; STS: the awsQuery XML).
 *
 * Bodies are validated like Bedrock (required keys, Anthropic's and
 * Converse's own checks, model ids, inference-profile-only models, denied
 * models), answered from the scenario (scenario.h) or, without one, with a
 * deterministic reply quoting the last user message. Usage numbers come
 * from the scenario or from a size estimate with prompt caching emulated
 * (cache points write on first use, read within their TTL).
 *
 * Control endpoints (no auth; loopback only), for tests:
 *   POST   /_emulator/faults     add faults (scenario.h JSON)  -> {"added": N}
 *   GET    /_emulator/faults     the active faults
 *   DELETE /_emulator/faults     clear them
 *   GET    /_emulator/requests   what was received: {"requests": [...]}, with
 *                                 Authorization, tokens and signatures removed
 *   DELETE /_emulator/requests   forget them
 *   POST   /_emulator/reset      faults, request log, sequences, prompt cache
 *   GET    /_emulator/health     {"status":"ok"}
 *   GET    /_emulator/logs       CloudWatch Logs groups, streams, events, EMF counters
 *                                 (?group=NAME for one group)
 *   GET    /_emulator/metrics    the CloudWatch metric store, alarms, dashboards
 *   GET    /_emulator/batch      batch job settings and jobs; POST sets step_ms,
 *                                 min_records, fail_next (emulator_batch.c)
 * S3 (path-style, signing name `s3`: emulator_s3.c) and the model invocation
 * job API (/model-invocation-job*, emulator_batch.c) are served too.
 * On the same port, signed with their own signing names (emulator_aws.h):
 * CloudWatch Logs (`logs`, X-Amz-Target Logs_20140328.*), CloudWatch
 * (`monitoring`, awsQuery or awsJson1_0), the Bedrock control plane
 * (`bedrock`: /logging/modelinvocations, /inference-profiles,
 * /foundation-models) and IAM roles (`iam`, awsQuery Version 2010-05-08);
 * /_emulator/reset forgets their state too. docs/scenarios.md is the user's
 * guide.
 *
 * Ownership: emulator_new/emulator_start return an object the caller frees
 * with emulator_free/emulator_stop. Options are read during the call only
 * (files are loaded, strings copied). emulator_url() is valid until then.
 *
 * Threads: the server runs one libevent loop (in the caller's thread with
 * emulator_run, or in a background thread with emulator_start). All request
 * handling happens there under the emulator's lock; the control functions
 * below take the same lock, so any thread may call them.
 *
 * Limits: the constants below, httpd's (32 MiB request bodies) and
 * scenario.h's (files). Memory is bounded by them: the request log drops its
 * oldest entries, the prompt cache its oldest entries.
 *
 * Logging: one info line per request (method, path, status, error code,
 * request id), never a header value, key, token or signature. */
#ifndef BROCK_SERVER_EMULATOR_H
#define BROCK_SERVER_EMULATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"

#define EMULATOR_DEFAULT_PORT 8910
#define EMULATOR_ACCOUNT "123456789012"
#define EMULATOR_DEFAULT_ARN "arn:aws:iam::123456789012:user/emulator"
#define EMULATOR_MAX_LOG 1000                          /* request log entries kept */
#define EMULATOR_MAX_LOG_BODY ((size_t)1024 * 1024)    /* body bytes kept per entry */
#define EMULATOR_MAX_LOG_BYTES ((size_t)64 * 1024 * 1024) /* body bytes kept in all */
#define EMULATOR_MAX_CACHE 4096                        /* emulated prompt-cache entries */
#define EMULATOR_MAX_CACHE_POINTS 4                    /* per request, as Bedrock */
#define EMULATOR_MAX_MODEL_ID 2048
#define EMULATOR_MAX_FRAMES ((size_t)64 * 1024 * 1024) /* bytes of one streamed answer */
#define EMULATOR_STOP_GRACE_MS 2000

struct emulator_options {
    const char *host;          /* "127.0.0.1" (NULL), "::1" or "localhost" */
    uint16_t port;             /* 0 = any free port */
    const char *scenario_path; /* NULL = no scenario (echo replies) */
    const char *scenario_text; /* or the scenario itself (named scenario_path or "scenario") */
    size_t scenario_len;
    const char *keys_path;     /* NULL = the example keys only */
    const char *const *deny_models; /* model ids answered with AccessDeniedException */
    size_t n_deny_models;
    bool no_example_keys;      /* do not accept AWS's documentation example keys */
    const struct clock *clock; /* NULL = real time (SigV4 window, key expiry, cache TTLs) */
    int keepalive_timeout_ms;  /* an idle connection is closed after this; 0 = httpd's default */
};

struct emulator;

/* Load the scenario and keys, bind, listen. Errors name the file and
 * position (scenario/keys) or the address and OS error (bind). */
enum brock_status emulator_new(const struct emulator_options *o, struct emulator **out,
                               struct brock_err *e) BROCK_WUR;
/* "http://127.0.0.1:PORT" or "http://[::1]:PORT". Any thread. */
const char *emulator_url(const struct emulator *em);
uint16_t emulator_port(const struct emulator *em);
/* Serve in this thread until emulator_shutdown(). */
enum brock_status emulator_run(struct emulator *em, struct brock_err *e) BROCK_WUR;
/* Graceful stop: stop accepting, let answers in flight finish for up to
 * EMULATOR_STOP_GRACE_MS. Any thread; async-signal-safe. */
void emulator_shutdown(struct emulator *em);
/* Stop (if running), wait, release everything. NULL is fine. */
void emulator_free(struct emulator *em);

/* emulator_new + serve in a background thread. */
enum brock_status emulator_start(const struct emulator_options *o, struct emulator **out,
                                 struct brock_err *e) BROCK_WUR;
/* Shut down, join the thread, free. NULL is fine. */
void emulator_stop(struct emulator *em);

/* Control, from any thread (the same as the /_emulator endpoints). */
enum brock_status emulator_add_faults(struct emulator *em, const char *json, size_t n,
                                      struct brock_err *e) BROCK_WUR;
void emulator_clear_faults(struct emulator *em);
/* {"requests": [...]} as a new string (free()). */
char *emulator_requests_json(struct emulator *em);
void emulator_reset(struct emulator *em);
/* What GET /_emulator/logs and /_emulator/metrics answer, as new strings
 * (free()). group: NULL = every log group. */
char *emulator_logs_json(struct emulator *em, const char *group);
char *emulator_metrics_json(struct emulator *em);

/* ------------------------------------------------------------------------ */
/* Shared by the emulator's own files (src/server/emulator*.c) only.        */
#ifdef EMULATOR_INTERNAL

#include <jansson.h>
#include <pthread.h>

#include "../aws/sigv4.h"
#include "../util/buf.h"
#include "emulator_aws.h"
#include "httpd.h"
#include "scenario.h"

struct emu_cache_entry {
    uint64_t key;       /* model + prefix hash */
    int64_t expires_ms;
};

struct emulator {
    struct httpd *httpd;
    char url[80];
    pthread_mutex_t mu; /* everything below */
    const struct clock *clock;
    struct sigv4_signer *signer;
    struct scenario scenario;
    bool has_scenario;
    struct scenario_keys keys;
    char **deny;
    size_t n_deny;
    struct scenario_faults faults; /* active faults */
    json_t *log;                   /* array of request entries */
    size_t log_bytes;
    uint64_t seq;
    struct emu_cache_entry *cache;
    size_t n_cache;
    struct emu_aws *aws; /* CloudWatch Logs, CloudWatch, control plane, IAM */
    struct emu_s3 *s3;       /* S3 buckets and objects (emulator_s3.c), made on first use */
    struct emu_batch *batch; /* model invocation jobs (emulator_batch.c), made on first use */
    bool thread;
};

/* How an error is written: Bedrock (restJson1) or STS (awsQuery XML). */
enum emu_proto { EMU_REST_JSON, EMU_QUERY_XML, EMU_JSON_RPC, EMU_REST_XML /* S3 */ };

/* One request being answered. Heap-allocated; owned by whoever finishes the
 * response (the handler, or a stream/delay job). */
struct emu_call {
    struct emulator *em;
    struct httpd_req *req;
    struct httpd_resp *resp;
    unsigned op;                 /* scenario_op bit */
    enum emu_proto proto;
    const char *xmlns;           /* EMU_QUERY_XML errors: the namespace (NULL: STS's) */
    char id[40];                 /* x-amzn-RequestId */
    char model_id[EMULATOR_MAX_MODEL_ID + 1]; /* decoded */
    const char *base_id;         /* the catalog's base id for model_id, or NULL */
    const struct scenario_key *key; /* who called (NULL: unknown) */
    json_t *body;                /* parsed JSON body, or NULL */
    char body_error[256];        /* why it did not parse ("" if it did or is empty) */
    json_t *entry;               /* its request-log entry (a reference), or NULL */
    int64_t start_mono_ms;
    bool finished;               /* the response was finished */
    bool detached;               /* a job owns the call now (it frees it) */
};

/* Answer an AWS error in the call's protocol and log it. retry_after_ms < 0:
 * no x-amz-retry-after header. */
void emu_send_error(struct emu_call *c, int status, const char *code, const char *message,
                    int64_t retry_after_ms);
/* Send a whole body with the given content type (x-amzn-RequestId added). */
void emu_send_body(struct emu_call *c, int status, const char *content_type, const char *extra_headers[],
                   const void *body, size_t n);
/* Record status/error in the call's log entry and the log line. */
void emu_note_status(struct emu_call *c, int status, const char *code);
void emu_note(struct emu_call *c, const char *key, json_t *value); /* steals value */
/* Free a finished call. */
void emu_call_free(struct emu_call *c);

/* Take the first active fault of one of `kinds` (bits 1 << scenario_fault_kind)
 * that applies to the call; copies it into *out (scenario_fault_cleanup it)
 * and counts it down. */
bool emu_take_fault(struct emu_call *c, unsigned kinds, struct scenario_fault *out);

int64_t emu_now_ms(const struct emulator *em);

/* CloudWatch Logs, CloudWatch, the control plane and IAM, once routed and
 * authenticated: faults, the service, the answer (emulator_logs.c). */
void emu_aws_serve(struct emu_call *c, enum emu_aws_service svc, enum emu_aws_wire wire, const char *op);
/* After a model call was answered: Bedrock's model invocation logging, when
 * configured, gets its record (emulator_logs.c). */
void emu_aws_model_call_done(struct emu_call *c);

/* S3, path-style (emulator_s3.c): true for a request signed for `s3`;
 * emu_s3() answers it once authenticated. The batch jobs read and write
 * objects with the emu_s3_* calls (pointers valid until the store changes). */
struct emu_s3;
bool emu_s3_wants(const struct emu_call *c);
/* What S3 here cannot take at all (aws-chunked uploads): answered, true. */
bool emu_s3_refused(struct emu_call *c);
void emu_s3(struct emu_call *c);
void emu_s3_reset(struct emu_s3 *s);
void emu_s3_free(struct emu_s3 *s);
bool emu_s3_bucket_exists(struct emulator *em, const char *bucket);
bool emu_s3_read(struct emulator *em, const char *bucket, const char *key, const uint8_t **p, size_t *n);
bool emu_s3_write(struct emulator *em, const char *bucket, const char *key, const void *p, size_t n,
                  const char *ctype, char *why, size_t whylen);
size_t emu_s3_keys(struct emulator *em, const char *bucket, const char *prefix, char ***keys);

/* Bedrock batch inference jobs (emulator_batch.c): the /model-invocation-job*
 * routes once authenticated, and GET/POST /_emulator/batch. */
struct emu_batch;
void emu_batch(struct emu_call *c);
void emu_batch_control(struct emu_call *c);
void emu_batch_reset(struct emulator *em);
void emu_batch_free(struct emulator *em);

/* The Bedrock Runtime routes (emulator_bedrock.c). */
void emu_bedrock(struct emu_call *c);
/* Validate a body as emu_bedrock() does for `op`, without a server (for the
 * fuzz target): true if valid, else the ValidationException message in why.
 * *tokens gets the input estimate. */
bool emu_validate(unsigned op, const char *model_id, const char *body, size_t len, char *why, size_t whylen,
                  int64_t *tokens);

#endif /* EMULATOR_INTERNAL */

#endif
