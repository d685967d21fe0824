/* setup.h - `brock setup monitoring` and `brock setup iam-policy`, as pure
 * plans the CLI executes (or prints, with --dry-run).
 *
 * setup_monitoring_plan() turns the options into the ordered list of AWS
 * requests that make monitoring exist; running the same plan twice leaves
 * the same state (each step either overwrites with the same value or counts
 * "already exists" as done):
 *
 *   1. logs CreateLogGroup (tags managed-by=brock)     ResourceAlreadyExists = done
 *   2. logs PutRetentionPolicy                         overwrites
 *   with invocation logging:
 *   3. iam CreateRole BrockBedrockInvocationLogging    EntityAlreadyExists = done
 *      (trust: bedrock.amazonaws.com, aws:SourceAccount, aws:SourceArn)
 *   4. iam PutRolePolicy BrockInvocationLogging-<region>: logs:CreateLogStream
 *      and logs:PutLogEvents on the group's streams   overwrites
 *      (3 and 4 only without --logging-role-arn)
 *   5. bedrock PUT /logging/modelinvocations          overwrites; retried for
 *      up to 60 s while a role made in this run propagates
 *   6. cloudwatch PutMetricAlarm <prefix>-daily-cost  (a budget was given)
 *        EMF: Sum of CostUSD (no dimensions) over 86,400 s > budget
 *        Bedrock metrics: metric math, sum over the models of the
 *        AWS/Bedrock token counts x the catalog's prices / 10^6
 *   7. cloudwatch PutMetricAlarm <prefix>-throttles    Sum of Throttles (EMF)
 *        or AWS/Bedrock InvocationThrottles over 300 s >= threshold
 *   8. cloudwatch PutDashboard <prefix>-<region>       tokens, cost, latency,
 *        throttles and errors, prompt-cache hit rate per model, recent events
 *
 * CloudWatch calls use the awsQuery form (always accepted), Logs awsJson1_1,
 * Bedrock restJson1, IAM awsQuery (API 2010-05-08). setup_run() sends a plan
 * through a caller-supplied function (the CLI's uses aws_client_send) and
 * reports each step; setup_plan_format() prints it for --dry-run:
 *
 *   # 1. <what it does>
 *   <METHOD> <service> <operation> <path>
 *   <body, exactly as sent>
 *   (blank line)
 *
 * setup_iam_policy() prints least-privilege IAM policies (aws-wire-reference
 * section 10) for invoking the configured models through their inference
 * profiles (the profile ARN, the foundation-model ARN in every destination
 * region of the geography, and the region-less ARN for global. profiles),
 * for monitoring, and for batch inference, as one policy document.
 *
 * Ownership: plans own their bodies (setup_plan_free); options are borrowed
 * for the call. Pure functions, thread-safe, no I/O (setup_run calls out). */
#ifndef BROCK_MONITOR_SETUP_H
#define BROCK_MONITOR_SETUP_H

#include <stdbool.h>
#include <stddef.h>

#include "../aws/awserr.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/timeutil.h"
#include "monitor.h"

#define SETUP_DEFAULT_PREFIX "brock"
#define SETUP_LOGGING_ROLE "BrockBedrockInvocationLogging"
#define SETUP_MAX_MODELS 16
#define SETUP_ALARM_MAX_METRICS 10 /* metrics (and expressions) in one metric-math alarm */
#define SETUP_ROLE_WAIT_MS 60000   /* how long step 5 waits for a new role */
#define SETUP_ROLE_RETRY_MS 5000
#define SETUP_POLICY_MAX_CHARS 6144 /* a managed policy, without whitespace */

enum setup_service { SETUP_SVC_STS = 0, SETUP_SVC_LOGS, SETUP_SVC_MONITORING, SETUP_SVC_BEDROCK, SETUP_SVC_IAM };
const char *setup_service_name(enum setup_service s); /* "sts", "logs", "cloudwatch", "bedrock", "iam" */

struct setup_request {
    enum setup_service service;
    const char *method;    /* "POST", "PUT" */
    const char *operation; /* "CreateLogGroup" */
    const char *path;      /* "/" or "/logging/modelinvocations" */
    const char *target;    /* X-Amz-Target, or NULL */
    const char *content_type;
    enum awserr_protocol protocol;
    char *body; /* owned */
    size_t body_len;
    const char *done_code; /* an error code that means "already done" (or NULL) */
    bool wait_for_role;    /* step 5 after the role was made in this plan */
    char what[640];        /* "create the log group /brock/audit" */
};

struct setup_plan {
    struct setup_request *req;
    size_t n, cap;
    char notes[1024]; /* advice for people (e.g. no Model dimension); "" if none */
};

void setup_plan_free(struct setup_plan *p);

enum setup_cost_source { SETUP_COST_EMF = 0, SETUP_COST_BEDROCK };

struct setup_monitoring_options {
    const struct monitor_config *cfg; /* log group (required), namespace, dimensions */
    const char *region;               /* required */
    const char *account;              /* required (ARNs) */
    int retention_days;               /* 0 = MONITOR_DEFAULT_RETENTION_DAYS */
    bool invocation_logging;
    const char *logging_role_arn; /* NULL = create SETUP_LOGGING_ROLE */
    double daily_budget_usd;      /* 0 = no cost alarm */
    const char *sns_topic;        /* alarm action; NULL = none */
    enum setup_cost_source cost_source;
    const char *const *models; /* model ids as called (profile ids), for per-model widgets and the */
    size_t n_models;           /* Bedrock-metrics cost alarm */
    const char *prefix;        /* alarm and dashboard names; NULL = "brock" */
};

/* Build the plan. BROCK_ERR_USAGE / BROCK_ERR_CONFIG for bad options
 * (retention not allowed, a bad ARN, too many models for a Bedrock-metrics
 * alarm, ...), naming the option. */
enum brock_status setup_monitoring_plan(const struct setup_monitoring_options *o, struct setup_plan *out,
                                        struct brock_err *e) BROCK_WUR;

/* Print the plan as described above. */
enum brock_status setup_plan_format(const struct setup_plan *p, struct buf *out);

/* Send one request; the answer body goes to `answer`. Must fill e with the
 * AWS error (aws_code) on failure. */
typedef enum brock_status setup_send_fn(void *ctx, const struct setup_request *r, struct buf *answer,
                                        struct brock_err *e);
/* After each step: outcome "done", "already exists", or a warning text. */
typedef void setup_report_fn(void *ctx, size_t step, const struct setup_request *r, const char *outcome);

/* Run the steps in order; stop at the first failure (BROCK_ERR_* of the
 * step, message prefixed with what the step does). The clock times the role
 * wait (NULL = real). */
enum brock_status setup_run(const struct setup_plan *p, setup_send_fn *send, void *send_ctx, setup_report_fn *report,
                            void *report_ctx, const struct clock *clock, struct brock_err *e) BROCK_WUR;

/* ---- IAM policies ----------------------------------------------------------- */

enum setup_policy_kind {
    SETUP_POLICY_INVOKE = 1u << 0,
    SETUP_POLICY_MONITORING = 1u << 1,
    SETUP_POLICY_BATCH = 1u << 2,
    SETUP_POLICY_ALL = 7u,
};
/* "invoke", "monitoring", "batch", "all" -> bits; false if unknown. */
bool setup_policy_kind_parse(const char *s, unsigned *out);

struct setup_policy_options {
    unsigned kinds;
    const char *region;        /* required */
    const char *account;       /* required */
    const char *const *models; /* resolved ids: profile ids, base ids, ARNs */
    size_t n_models;
    bool bearer_token;                /* add bedrock:CallWithBearerToken */
    const struct monitor_config *cfg; /* monitoring: log group (NULL or "" = every group under /brock/), namespace */
    const char *prefix;               /* alarm/dashboard names; NULL = "brock" */
    const char *batch_role_arn;       /* NULL = arn:...:role/BrockBatchRole */
    const char *s3_uri;               /* batch data "s3://bucket/prefix"; NULL = brock-batch-<account>/batch/ */
};

/* The policy document, pretty-printed, in *out (malloc'd). `notes` (may be
 * NULL) gets advice for people (application profiles, size over the managed
 * policy limit). */
enum brock_status setup_iam_policy(const struct setup_policy_options *o, char **out, struct buf *notes,
                                   struct brock_err *e) BROCK_WUR;

/* The foundation-model regions a system profile of this geography routes to
 * ("us-east-1", ... or wildcards "eu-*", "*"), NULL-terminated. */
const char *const *setup_geo_regions(const char *geo_prefix);

#endif
