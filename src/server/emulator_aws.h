/* emulator_aws.h - internals shared by the emulator's AWS services other than
 * Bedrock Runtime: CloudWatch Logs (emulator_logs.c), CloudWatch metrics,
 * alarms and dashboards (emulator_cloudwatch.c), the Bedrock control plane
 * (emulator_control.c) and the IAM role calls `brock setup monitoring` makes
 * (emulator_iam.c). Included by the emulator's own files only.
 *
 * Shape. Each service is a pure function of (state, request) -> answer:
 * emu_aws_handle() takes a `struct emu_aws_req` (operation, body, region,
 * account, time) and fills a `struct emu_aws_resp` (status, body or AWS error,
 * content type). It never touches the network, so the unit tests and the fuzz
 * target drive it directly; emu_aws_serve() (emulator_logs.c) is the glue
 * that builds the request from an HTTP call, applies faults, and sends the
 * answer in the service's protocol.
 *
 * Protocols. Logs: awsJson1_1. CloudWatch: awsQuery (XML answers) and
 * awsJson1_0 with awsQueryCompatible errors (x-amzn-query-error). Control
 * plane: restJson1. IAM: awsQuery. CloudWatch's query parameters are turned
 * into the same JSON tree the JSON protocol sends (emu_query_parse), and one
 * writer (struct emu_out) emits either JSON or XML, so each CloudWatch
 * operation is written once.
 *
 * State. One `struct emu_aws` per emulator, behind the emulator's lock (the
 * functions here never lock). One account, all regions share it: log groups,
 * metrics, alarms and dashboards are not split by region (the region only
 * names ARNs and picks the inference profiles a caller sees).
 *
 * Limits (checked before allocating; over a cap answers an AWS-shaped error
 * that names the cap): the EMU_* constants below, plus each service's real
 * limits, which are the point of the exercise.
 *
 * Ownership: emu_aws_new/emu_aws_free; a resp is emu_aws_resp_init'ed by the
 * caller and emu_aws_resp_cleanup'ed after use. JSON values follow jansson's
 * rules (functions say "new" or "borrowed"). */
#ifndef BROCK_SERVER_EMULATOR_AWS_H
#define BROCK_SERVER_EMULATOR_AWS_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/compiler.h"

/* Memory caps of the emulated stores. */
#define EMU_LOGS_MAX_GROUPS 10000
#define EMU_LOGS_MAX_STREAMS 100000            /* in all groups */
#define EMU_LOGS_MAX_BYTES ((size_t)512 << 20) /* stored message bytes, all streams */
#define EMU_CW_MAX_SERIES 20000
#define EMU_CW_MAX_POINTS 2000000              /* datapoints in all series */
#define EMU_CW_MAX_ALARMS 5000
#define EMU_CW_MAX_DASHBOARDS 5000
#define EMU_CTL_MAX_PROFILES 1000             /* application inference profiles */
#define EMU_IAM_MAX_ROLES 1000
#define EMU_QUERY_MAX_PARAMS 20000            /* awsQuery key=value pairs */
#define EMU_QUERY_MAX_INDEX 100000            /* N in "X.member.N" */
#define EMU_QUERY_MAX_DEPTH 12

/* The real service limits this emulation enforces (aws-wire-reference 9.1-9.5). */
#define LOGS_MAX_EVENTS 10000
#define LOGS_MAX_BATCH_BYTES 1048576 /* sum of (UTF-8 message bytes + 26) */
#define LOGS_MAX_EVENT_BYTES 1048576 /* one event, with its 26 bytes */
#define LOGS_EVENT_OVERHEAD 26
#define LOGS_MAX_SPAN_MS (24LL * 3600 * 1000)
#define LOGS_MAX_FUTURE_MS (2LL * 3600 * 1000)
#define LOGS_MAX_AGE_MS (14LL * 24 * 3600 * 1000)
#define CW_MAX_REQUEST_BYTES 1048576 /* PutMetricData */
#define CW_MAX_METRICS 1000          /* per PutMetricData */
#define CW_MAX_DIMENSIONS 30
#define CW_MAX_VALUES 150
#define CW_MAX_ALARM_BYTES (120 * 1024)
#define CW_MAX_DATAPOINTS 1440 /* GetMetricStatistics */

enum emu_aws_service { EMU_AWS_LOGS, EMU_AWS_CLOUDWATCH, EMU_AWS_CONTROL, EMU_AWS_IAM };

/* How the request came and how the answer goes. */
enum emu_aws_wire {
    EMU_WIRE_JSON11, /* awsJson1_1 (Logs) */
    EMU_WIRE_JSON10, /* awsJson1_0, awsQueryCompatible (CloudWatch) */
    EMU_WIRE_QUERY,  /* awsQuery form body, XML answers (CloudWatch, IAM) */
    EMU_WIRE_REST,   /* restJson1 (Bedrock control plane) */
};

struct emu_aws_req {
    enum emu_aws_service svc;
    enum emu_aws_wire wire;
    const char *op;     /* operation name; REST: NULL (method + path decide) */
    const char *method; /* REST */
    const char *path;   /* REST: wire path (percent-encoded) */
    const char *query;  /* REST: wire query without '?', "" if none */
    const char *body;   /* JSON text, or the form body (query) */
    size_t len;
    const json_t *json; /* JSON wires: the body already parsed (borrowed), or NULL to parse it here */
    const char *region;  /* from the signature's scope */
    const char *account; /* the caller's account */
    int64_t now_ms;
    const char *content_encoding; /* NULL if absent */
    const char *request_id;       /* for XML answers' ResponseMetadata; may be NULL */
};

struct emu_aws_resp {
    int status;
    const char *ctype;      /* success content type (static string) */
    struct buf body;        /* success body */
    char op[64];            /* the operation, for the request log ("ListInferenceProfiles") */
    /* errors (code and query_code point into the arrays below) */
    const char *code;       /* the error's shape name / awsJson __type; NULL on success */
    const char *query_code; /* awsQuery code (CloudWatch: "InvalidParameterValue"); NULL = code */
    char code_buf[64], query_code_buf[64];
    char msg[1024];
    json_t *extra;          /* new: more members of the error (DashboardValidationMessages) */
};

void emu_aws_resp_init(struct emu_aws_resp *rs);
void emu_aws_resp_cleanup(struct emu_aws_resp *rs);
/* Make rs an error; returns false so handlers can `return emu_aws_fail(...)`. */
bool emu_aws_fail(struct emu_aws_resp *rs, int status, const char *code, const char *query_code,
                  const char *fmt, ...) BROCK_PRINTF(5, 6);
/* A success answer with a JSON body (steals v). */
void emu_aws_json(struct emu_aws_resp *rs, int status, json_t *v);

struct emu_logs;
struct emu_cw;
struct emu_ctl;
struct emu_iam;

struct emu_aws {
    struct emu_logs *logs;
    struct emu_cw *cw;
    struct emu_ctl *ctl;
    struct emu_iam *iam;
};

struct emu_aws *emu_aws_new(void);
void emu_aws_free(struct emu_aws *a); /* NULL is fine */
void emu_aws_reset(struct emu_aws *a); /* forget everything */

/* Answer one request (all services). */
void emu_aws_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs);

/* ---- per service (each file) ---- */

struct emu_logs *emu_logs_new(void);
void emu_logs_free(struct emu_logs *l);
void emu_logs_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs);
/* GET /_emulator/logs: {"logGroups": [{..., "logStreams": [{..., "events": [...]}]}],
 * "emf": {...}}; group_filter NULL = all groups. New reference. */
json_t *emu_logs_dump(struct emu_aws *a, const char *group_filter);
/* True if a log group exists (the control plane's logging config checks it). */
bool emu_logs_group_exists(const struct emu_logs *l, const char *name);
/* Append one event to group/stream, creating the stream if needed (as a
 * service delivering logs does). False if the group is missing or a cap hit. */
bool emu_logs_deliver(struct emu_logs *l, const char *group, const char *stream, int64_t ts_ms, const char *msg,
                      size_t len);

struct emu_cw *emu_cw_new(void);
void emu_cw_free(struct emu_cw *cw);
void emu_cw_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs);
/* GET /_emulator/metrics: {"metrics": [{namespace, metricName, dimensions,
 * datapoints: [...]}], "alarms": N, "dashboards": N}. New reference. */
json_t *emu_cw_dump(struct emu_cw *cw);

/* One datapoint for the metric store (EMF extraction, PutMetricData). Dimension
 * names/values are `n_dims` pairs; unit is a CloudWatch unit name or NULL.
 * False (and why) when a store cap is hit. */
struct emu_cw_point {
    const char *ns, *name;
    const char *const *dim_names;
    const char *const *dim_values;
    size_t n_dims;
    int64_t ts_ms;
    double sum, count, min, max;
    const char *unit;
    bool high_resolution;
};
bool emu_cw_record(struct emu_cw *cw, const struct emu_cw_point *p, char *why, size_t whylen);
/* Index of a CloudWatch unit name, -1 if not one. */
int emu_cw_unit_index(const char *unit);

struct emu_ctl *emu_ctl_new(void);
void emu_ctl_free(struct emu_ctl *c);
/* The stored model invocation logging config (borrowed), NULL when unset. */
const json_t *emu_ctl_logging(const struct emu_ctl *c);
void emu_ctl_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs);

struct emu_iam *emu_iam_new(void);
void emu_iam_free(struct emu_iam *iam);
void emu_iam_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs);
/* The trust policy of role `name` in `account` (borrowed), or NULL if no such role. */
const char *emu_iam_role_trust(const struct emu_iam *iam, const char *account, const char *name);

/* ---- awsQuery input, JSON-or-XML output (emulator_cloudwatch.c) ---- */

/* Parse an application/x-www-form-urlencoded body into a JSON tree:
 * "A.member.2.B=x" -> {"A": [.., {"B": "x"}]} (members sorted by N; leaves are
 * strings). "Action" and "Version" are kept as members. NULL with the reason
 * in why on a malformed body or a cap. New reference. */
json_t *emu_query_parse(const char *body, size_t n, char *why, size_t whylen);

/* Writes one answer as awsJson (JSON object) or awsQuery (XML:
 * <OpResponse xmlns><OpResult>...</OpResult><ResponseMetadata>...). Members
 * are named; inside a list the name is ignored (XML: <member>). */
#define EMU_OUT_MAX_DEPTH 32
struct emu_out {
    struct buf *b;
    bool xml;
    int depth;
    bool list[EMU_OUT_MAX_DEPTH];  /* this level is a list */
    bool first[EMU_OUT_MAX_DEPTH]; /* JSON: nothing written at this level yet */
    const char *name[EMU_OUT_MAX_DEPTH];
};
/* result: XML only: wrap in <OpResult> (false for operations without output). */
void emu_out_begin(struct emu_out *o, struct buf *b, bool xml, const char *op, const char *xmlns, bool result);
void emu_out_end(struct emu_out *o, const char *op, const char *request_id, bool result);
void emu_out_obj(struct emu_out *o, const char *name);
void emu_out_list(struct emu_out *o, const char *name);
void emu_out_close(struct emu_out *o);
void emu_out_str(struct emu_out *o, const char *name, const char *s);
void emu_out_num(struct emu_out *o, const char *name, double v);
void emu_out_int(struct emu_out *o, const char *name, int64_t v);
void emu_out_bool(struct emu_out *o, const char *name, bool v);
/* JSON: epoch seconds; XML: "2025-01-01T00:00:00.000Z". */
void emu_out_time(struct emu_out *o, const char *name, int64_t ms);
/* A JSON value (strings, numbers, bools, arrays, objects), recursively. */
void emu_out_json(struct emu_out *o, const char *name, const json_t *v);

/* XML text escaping (&, <, >, ", '). */
void emu_xml_escape(struct buf *b, const char *s);

/* ---- small shared validators ---- */

/* Valid UTF-8 length in code points, or -1. */
long emu_utf8_len(const char *s, size_t n);
/* The awsJson / coral validation message, e.g.
 * "1 validation error detected: Value 'x' at 'logGroupName' failed to
 * satisfy constraint: Member must satisfy regular expression pattern: ..." */
void emu_coral_msg(char *out, size_t n, const char *value, const char *field, const char *constraint);
/* 12-digit account id out of an IAM/STS ARN, else EMULATOR_ACCOUNT. */
void emu_account_of(const char *arn, char out[16]);
/* Binary search of n items kept sorted by name (strcmp): the index of `name`
 * with *found, else where it would be inserted. name_at(ctx, i) names item i. */
size_t emu_sorted_pos(size_t n, const char *(*name_at)(const void *ctx, size_t i), const void *ctx,
                      const char *name, bool *found);

#endif
