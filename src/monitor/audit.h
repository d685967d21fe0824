/* audit.h - one redacted audit event per model call, with its metrics in
 * CloudWatch Embedded Metric Format, appended to the store's durable spool.
 *
 * The request path (agent loop, -p) calls audit_record() after every model
 * call with a `struct audit_call` of the call's facts. The event is one JSON
 * object (one CloudWatch Logs event), built in this order:
 *
 *   _aws                 EMF directive (metrics "emf" only): Timestamp, and one
 *                        CloudWatchMetrics entry in the configured namespace
 *                        with the configured dimension sets (the empty set
 *                        always first) and the nine metrics below
 *   Model, Project, User dimension values (top-level strings, <= 1024 bytes;
 *                        "unknown" when empty); Model is the catalog's base
 *                        model id of the profile or model that served the
 *                        call (one series per model whatever profile or ARN
 *                        was used), else the id as given
 *   InputTokens OutputTokens CacheReadTokens CacheWriteTokens (Count)
 *   CostUSD (None) LatencyMs (Milliseconds) Throttles Errors CacheHits (Count)
 *   schema "brock.audit.v1", event "model_call", time (ISO 8601, ms)
 *   who {arn, account, user}, project, session, model, profile, region, api,
 *   purpose, ttft_ms, retries, status, error_code, request_id, cache_hit,
 *   routing, log_content
 *   with log_content "metadata" or "full": error_message, prompt_bytes,
 *   answer_bytes, prompt_sha256 (of the redacted prompt), tools
 *   with "full" only: prompt, answer (each cut at AUDIT_CONTENT_MAX bytes on a
 *   character boundary, marked "[... truncated by brock: N bytes]")
 *
 * The metric members are present whatever `metrics` says (they are useful
 * log fields, and the shipper reads them for PutMetricData); only the _aws
 * directive depends on it. Errors = 1 when status is not "ok"; Throttles is
 * the call's throttling answers (at least 1 when its final error is a
 * throttling code); CacheHits = 1 for a response-cache hit.
 *
 * Redaction: every free-text field (prompt, answer, error message, routing,
 * tool names, ids) goes through audit_redact() first, so no secret reaches
 * the event, the spool or CloudWatch. Recognised: AWS access key ids
 * (AKIA/ASIA + 16), values after secret-key / session-token / security-token
 * / authorization / bearer-token / password / api-key / access-token /
 * client-secret keywords (any case, `=`, `:` or `>` separated, quoted or
 * not), SigV4 signatures, STS session-token shapes, Bedrock API keys
 * (bedrock-api-key-..., long-term ABSK...), private key blocks (-----BEGIN
 * ... PRIVATE KEY----- to the END line), GitHub (ghp_, gho_, ghu_, ghs_,
 * ghr_, github_pat_), Slack (xox?-, xapp-), JWTs, Anthropic/OpenAI-style
 * sk- keys and Google AIza keys. Each becomes "[REDACTED:<kind>]".
 * The rules favour redacting too much over too little.
 *
 * Thread-safety: pure functions except audit_record, which uses the caller's
 * store handle (one thread at a time, store.h). Ownership: inputs are
 * borrowed for the call. */
#ifndef BROCK_MONITOR_AUDIT_H
#define BROCK_MONITOR_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bedrock/model.h"
#include "../store/store.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "monitor.h"

#define AUDIT_SCHEMA "brock.audit.v1"
#define AUDIT_CONTENT_MAX ((size_t)64 * 1024) /* prompt / answer bytes kept in a "full" event */
#define AUDIT_FIELD_MAX ((size_t)4096)        /* any other string field */
#define AUDIT_DIM_VALUE_MAX 1024              /* EMF dimension value */
#define AUDIT_MAX_TOOLS 64                    /* tool names listed */
#define AUDIT_EVENT_MAX STORE_SPOOL_MESSAGE_MAX

/* The facts of one model call. Strings may be NULL (= absent / empty). */
struct audit_call {
    int64_t time_ms; /* when the call ended; 0 = now */
    const char *session_id, *project;
    const char *caller_arn, *account;   /* STS GetCallerIdentity, cached per run */
    const char *user;                   /* NULL = the last part of caller_arn */
    const char *model;                  /* the id the call was made with */
    const char *profile;                /* the model / inference profile that served it */
    const char *region, *api, *purpose; /* "messages"/"converse"; "turn"/"compact"/"title" */
    struct model_usage usage;
    double cost_usd, latency_ms, ttft_ms;
    int retries, throttles;
    const char *status; /* "ok", or the error ("ThrottlingException", "interrupted") */
    const char *error_code, *error_message;
    const char *request_id;
    bool cache_hit;      /* answered by the response cache */
    const char *routing; /* the router's decision and reason */
    const char *prompt;  /* the last user turn's text; logged only with "full" */
    size_t prompt_len;
    const char *answer; /* the answer's text; logged only with "full" */
    size_t answer_len;
    const char *const *tools; /* tool names used in the answer */
    size_t n_tools;
};

/* The nine metrics, in event order: name and CloudWatch unit. */
struct audit_metric {
    const char *name;
    const char *unit;
};
#define AUDIT_METRIC_COUNT 9
const struct audit_metric *audit_metrics(void);

/* Build the event into `out` (appended; its cap must allow AUDIT_EVENT_MAX).
 * now_ms is used when c->time_ms is 0. *redactions (may be NULL) gets the
 * number of secrets replaced. BROCK_ERR_USAGE for an impossible call (NULL). */
enum brock_status audit_build(const struct monitor_config *cfg, const struct audit_call *c, int64_t now_ms,
                              struct buf *out, size_t *redactions, struct brock_err *e) BROCK_WUR;

/* Build the event and append it to the spool: committed when this returns
 * BROCK_OK. `now_ms` 0 = the real clock. */
enum brock_status audit_record(struct store *s, const struct monitor_config *cfg, const struct audit_call *c,
                               int64_t now_ms, struct brock_err *e) BROCK_WUR;

/* CloudWatch Logs refuses events older than 14 days. With shipping off the
 * spool is never drained, so those are dropped from it (audit_spool_prune):
 * that bounds it without losing an event that could still be shipped. */
#define AUDIT_SPOOL_MAX_AGE_MS ((int64_t)14 * 24 * 3600 * 1000)
#define AUDIT_SPOOL_PRUNE_ROWS 50000 /* per call: one transaction stays short */

/* Drop the spooled events older than AUDIT_SPOOL_MAX_AGE_MS before now_ms
 * (0 = the real clock); *dropped (may be NULL) gets how many, and a count
 * over zero is logged. For shipping off only: a shipper drops and counts
 * those itself when CloudWatch refuses them. */
enum brock_status audit_spool_prune(struct store *s, int64_t now_ms, size_t *dropped, struct brock_err *e) BROCK_WUR;

/* ---- redaction ---------------------------------------------------------- */

enum audit_secret {
    AUDIT_SECRET_AWS_ACCESS_KEY_ID = 0,
    AUDIT_SECRET_AWS_SECRET_KEY,
    AUDIT_SECRET_AWS_SESSION_TOKEN,
    AUDIT_SECRET_BEDROCK_API_KEY,
    AUDIT_SECRET_AUTHORIZATION,
    AUDIT_SECRET_BEARER_TOKEN,
    AUDIT_SECRET_SIGNATURE,
    AUDIT_SECRET_PRIVATE_KEY,
    AUDIT_SECRET_GITHUB_TOKEN,
    AUDIT_SECRET_SLACK_TOKEN,
    AUDIT_SECRET_JWT,
    AUDIT_SECRET_API_KEY, /* sk-..., AIza..., api_key=, access_token=, client_secret= */
    AUDIT_SECRET_PASSWORD,
    AUDIT_SECRET_COUNT
};

/* "aws-access-key-id", "private-key", ... (the word in the marker). */
const char *audit_secret_name(enum audit_secret k);

/* Append p[0..n) to out with every secret replaced by "[REDACTED:<kind>]".
 * Returns how many were replaced; *kinds (may be NULL) gets a bit
 * (1 << enum audit_secret) per kind found. Bytes are copied as they are
 * (no UTF-8 cleaning). Linear in n. */
size_t audit_redact(struct buf *out, const char *p, size_t n, unsigned *kinds);

#endif
