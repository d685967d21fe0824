/* setup.c - the plan of `brock setup monitoring`, its dry-run form, and
 * running it (setup.h). */
#include "setup.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/endpoint.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "audit.h"

#define CW_VERSION "2010-08-01"
#define IAM_VERSION "2010-05-08"
#define BODY_MAX ((size_t)4 * 1024 * 1024)

const char *setup_service_name(enum setup_service s)
{
    switch (s) {
    case SETUP_SVC_STS:
        return "sts";
    case SETUP_SVC_LOGS:
        return "logs";
    case SETUP_SVC_MONITORING:
        return "cloudwatch";
    case SETUP_SVC_BEDROCK:
        return "bedrock";
    case SETUP_SVC_IAM:
        return "iam";
    }
    return "?";
}

void setup_plan_free(struct setup_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->req[i].body);
    free(p->req);
    memset(p, 0, sizeof *p);
}

static struct setup_request *add_req(struct setup_plan *p, enum setup_service svc, const char *op)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->req = xrealloc(p->req, p->cap * sizeof *p->req);
    }
    struct setup_request *r = &p->req[p->n++];
    memset(r, 0, sizeof *r);
    r->service = svc;
    r->operation = op;
    r->method = "POST";
    r->path = "/";
    switch (svc) {
    case SETUP_SVC_LOGS:
        r->content_type = "application/x-amz-json-1.1";
        r->protocol = AWSERR_AWS_JSON;
        break;
    case SETUP_SVC_BEDROCK:
        r->content_type = "application/json";
        r->protocol = AWSERR_REST_JSON;
        break;
    default:
        r->content_type = "application/x-www-form-urlencoded; charset=utf-8";
        r->protocol = AWSERR_QUERY;
        break;
    }
    return r;
}

/* A JSON body (compact, keys in order); steals `doc`. */
static void json_body(struct setup_request *r, json_t *doc)
{
    r->body = json_dump_compact(doc);
    r->body_len = strlen(r->body);
    json_decref(doc);
}

/* ---- awsQuery forms ------------------------------------------------------- */

static void q(struct buf *b, const char *key, const char *val)
{
    if (b->len)
        buf_addc(b, '&');
    uri_encode(b, key, strlen(key), false);
    buf_addc(b, '=');
    uri_encode(b, val, strlen(val), false);
}

static void qf(struct buf *b, const char *key, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void qf(struct buf *b, const char *key, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    q(b, key, v);
}

static void form_body(struct setup_request *r, struct buf *b)
{
    r->body_len = b->len;
    r->body = buf_take(b);
}

static char *policy_text(json_t *doc)
{
    char *s = json_dump_compact(doc);
    json_decref(doc);
    return s;
}

/* A number as CloudWatch and people read it: no trailing zeros. */
static void num(char *out, size_t n, double v)
{
    snprintf(out, n, "%.10g", v);
}

/* ---- the steps ---------------------------------------------------------------- */

static const char *partition_of(const char *region)
{
    return endpoint_partition_of(region)->id;
}

static void step_log_group(struct setup_plan *p, const struct setup_monitoring_options *o, int retention)
{
    const char *g = o->cfg->log_group;
    struct setup_request *r = add_req(p, SETUP_SVC_LOGS, "CreateLogGroup");
    r->target = "Logs_20140328.CreateLogGroup";
    r->done_code = "ResourceAlreadyExistsException";
    snprintf(r->what, sizeof r->what, "create the log group %s", g);
    json_body(r, json_pack("{s:s, s:{s:s}}", "logGroupName", g, "tags", "managed-by", "brock"));

    r = add_req(p, SETUP_SVC_LOGS, "PutRetentionPolicy");
    r->target = "Logs_20140328.PutRetentionPolicy";
    snprintf(r->what, sizeof r->what, "keep its events %d days", retention);
    json_body(r, json_pack("{s:s, s:i}", "logGroupName", g, "retentionInDays", retention));
}

static enum brock_status step_invocation_logging(struct setup_plan *p, const struct setup_monitoring_options *o,
                                                 struct brock_err *e)
{
    const char *part = partition_of(o->region);
    const char *g = o->cfg->log_group;
    char role_arn[512];
    bool make_role = !o->logging_role_arn || !*o->logging_role_arn;
    if (make_role) {
        snprintf(role_arn, sizeof role_arn, "arn:%s:iam::%s:role/%s", part, o->account, SETUP_LOGGING_ROLE);
        char src_arn[256];
        snprintf(src_arn, sizeof src_arn, "arn:%s:bedrock:*:%s:*", part, o->account);
        json_t *trust = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:{s:{s:s}, s:{s:s}}}]}", "Version", "2012-10-17",
                                  "Statement", "Effect", "Allow", "Principal", "Service", "bedrock.amazonaws.com",
                                  "Action", "sts:AssumeRole", "Condition", "StringEquals", "aws:SourceAccount",
                                  o->account, "ArnLike", "aws:SourceArn", src_arn);
        char *trust_s = policy_text(trust);
        struct setup_request *r = add_req(p, SETUP_SVC_IAM, "CreateRole");
        r->done_code = "EntityAlreadyExists";
        snprintf(r->what, sizeof r->what, "create the role %s that Bedrock uses to write to the log group",
                 SETUP_LOGGING_ROLE);
        struct buf b = BUF_INIT(BODY_MAX);
        q(&b, "Action", "CreateRole");
        q(&b, "Version", IAM_VERSION);
        q(&b, "RoleName", SETUP_LOGGING_ROLE);
        q(&b, "Path", "/");
        q(&b, "Description", "Bedrock model invocation logging to CloudWatch Logs (brock setup monitoring)");
        q(&b, "AssumeRolePolicyDocument", trust_s);
        form_body(r, &b);
        free(trust_s);

        char group_arn[700], policy_name[128];
        snprintf(group_arn, sizeof group_arn, "arn:%s:logs:%s:%s:log-group:%s:log-stream:*", part, o->region,
                 o->account, g);
        snprintf(policy_name, sizeof policy_name, "BrockInvocationLogging-%s", o->region);
        json_t *pol = json_pack("{s:s, s:[{s:s, s:s, s:[s, s], s:s}]}", "Version", "2012-10-17", "Statement", "Sid",
                                "WriteInvocationLogs", "Effect", "Allow", "Action", "logs:CreateLogStream",
                                "logs:PutLogEvents", "Resource", group_arn);
        char *pol_s = policy_text(pol);
        r = add_req(p, SETUP_SVC_IAM, "PutRolePolicy");
        snprintf(r->what, sizeof r->what, "let the role write to %s in %s", g, o->region);
        buf_init(&b, BODY_MAX);
        q(&b, "Action", "PutRolePolicy");
        q(&b, "Version", IAM_VERSION);
        q(&b, "RoleName", SETUP_LOGGING_ROLE);
        q(&b, "PolicyName", policy_name);
        q(&b, "PolicyDocument", pol_s);
        form_body(r, &b);
        free(pol_s);
    } else {
        const char *a = o->logging_role_arn;
        if (strncmp(a, "arn:", 4) || !strstr(a, ":iam::") || !strstr(a, ":role/") || strlen(a) >= 500)
            return err_set(e, BROCK_ERR_USAGE,
                           "--logging-role-arn: expected an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
        snprintf(role_arn, sizeof role_arn, "%.499s", a);
    }
    struct setup_request *r = add_req(p, SETUP_SVC_BEDROCK, "PutModelInvocationLoggingConfiguration");
    r->method = "PUT";
    r->path = "/logging/modelinvocations";
    r->wait_for_role = make_role;
    snprintf(r->what, sizeof r->what, "turn on Bedrock model invocation logging to %s", g);
    json_body(r, json_pack("{s:{s:{s:s, s:s}, s:b, s:b, s:b}}", "loggingConfig", "cloudWatchConfig", "logGroupName", g,
                           "roleArn", role_arn, "textDataDeliveryEnabled", 1, "imageDataDeliveryEnabled", 0,
                           "embeddingDataDeliveryEnabled", 0));
    return BROCK_OK;
}

static void alarm_common(struct buf *b, const struct setup_monitoring_options *o, const char *name, const char *desc)
{
    q(b, "Action", "PutMetricAlarm");
    q(b, "Version", CW_VERSION);
    q(b, "AlarmName", name);
    q(b, "AlarmDescription", desc);
    q(b, "ActionsEnabled", o->sns_topic && *o->sns_topic ? "true" : "false");
    if (o->sns_topic && *o->sns_topic)
        q(b, "AlarmActions.member.1", o->sns_topic);
}

static enum brock_status step_cost_alarm(struct setup_plan *p, const struct setup_monitoring_options *o,
                                         const char *prefix, struct brock_err *e)
{
    char name[300], thr[64], desc[700];
    snprintf(name, sizeof name, "%s-daily-cost", prefix);
    num(thr, sizeof thr, o->daily_budget_usd);
    struct setup_request *r = add_req(p, SETUP_SVC_MONITORING, "PutMetricAlarm");
    snprintf(r->what, sizeof r->what, "alarm %s: spend over 24 h above $%s", name, thr);
    struct buf b = BUF_INIT(BODY_MAX);
    if (o->cost_source == SETUP_COST_EMF) {
        snprintf(desc, sizeof desc, "brock: spend over the last 24 h (metric CostUSD in %s) is above $%s",
                 o->cfg->metric_namespace, thr);
        alarm_common(&b, o, name, desc);
        q(&b, "Namespace", o->cfg->metric_namespace);
        q(&b, "MetricName", "CostUSD");
        q(&b, "Statistic", "Sum");
        q(&b, "Period", "86400");
    } else {
        /* in, out, cache read, cache write per model, plus the expression */
        size_t per = 4;
        if (o->n_models * 4 + 1 > SETUP_ALARM_MAX_METRICS)
            per = 2; /* input and output only */
        if (o->n_models == 0 || o->n_models * per + 1 > SETUP_ALARM_MAX_METRICS) {
            buf_free(&b);
            return err_set(e, BROCK_ERR_USAGE,
                           "a cost alarm over the AWS/Bedrock token metrics can watch 1 to %d models (%zu given); "
                           "use the EMF cost metric instead (--cost-metric emf) or fewer --model values",
                           (SETUP_ALARM_MAX_METRICS - 1) / 2, o->n_models);
        }
        snprintf(desc, sizeof desc,
                 "brock: estimated spend over the last 24 h (AWS/Bedrock token counts x catalog prices of %s%s) is "
                 "above $%s",
                 catalog_price_date(), per == 2 ? ", cache tokens not counted" : "", thr);
        alarm_common(&b, o, name, desc);
        static const char *const metric[4] = {"InputTokenCount", "OutputTokenCount", "CacheReadInputTokenCount",
                                              "CacheWriteInputTokenCount"};
        static const char *const id[4] = {"in", "out", "cr", "cw"};
        struct buf expr = BUF_INIT(4096);
        buf_addc(&expr, '(');
        size_t m = 0;
        for (size_t k = 0; k < o->n_models; k++) {
            enum model_geo geo;
            const struct model_info *mi = catalog_find(o->models[k], &geo);
            if (!mi) {
                buf_free(&b);
                buf_free(&expr);
                return err_set(e, BROCK_ERR_USAGE,
                               "model %.200s is not in brock's catalog, so its price is unknown; use the EMF cost "
                               "metric (--cost-metric emf)",
                               o->models[k]);
            }
            struct model_prices pr = catalog_prices(mi, geo);
            double price[4] = {pr.input, pr.output, pr.cache_read, pr.cache_write_5m};
            for (size_t j = 0; j < per; j++) {
                char key[96], val[64];
                m++;
                snprintf(key, sizeof key, "Metrics.member.%zu.Id", m);
                qf(&b, key, "%s%zu", id[j], k);
                snprintf(key, sizeof key, "Metrics.member.%zu.ReturnData", m);
                q(&b, key, "false");
                snprintf(key, sizeof key, "Metrics.member.%zu.MetricStat.Period", m);
                q(&b, key, "86400");
                snprintf(key, sizeof key, "Metrics.member.%zu.MetricStat.Stat", m);
                q(&b, key, "Sum");
                snprintf(key, sizeof key, "Metrics.member.%zu.MetricStat.Metric.Namespace", m);
                q(&b, key, "AWS/Bedrock");
                snprintf(key, sizeof key, "Metrics.member.%zu.MetricStat.Metric.MetricName", m);
                q(&b, key, metric[j]);
                snprintf(key, sizeof key, "Metrics.member.%zu.MetricStat.Metric.Dimensions.member.1.Name", m);
                q(&b, key, "ModelId");
                snprintf(key, sizeof key, "Metrics.member.%zu.MetricStat.Metric.Dimensions.member.1.Value", m);
                q(&b, key, o->models[k]);
                num(val, sizeof val, price[j]);
                buf_addf(&expr, "%s%s%zu*%s", m > 1 ? "+" : "", id[j], k, val);
            }
        }
        buf_addstr(&expr, ")/1000000");
        m++;
        char key[64];
        snprintf(key, sizeof key, "Metrics.member.%zu.Id", m);
        q(&b, key, "cost");
        snprintf(key, sizeof key, "Metrics.member.%zu.Expression", m);
        q(&b, key, buf_cstr(&expr));
        snprintf(key, sizeof key, "Metrics.member.%zu.Label", m);
        q(&b, key, "estimated USD in 24 h");
        snprintf(key, sizeof key, "Metrics.member.%zu.ReturnData", m);
        q(&b, key, "true");
        buf_free(&expr);
    }
    q(&b, "EvaluationPeriods", "1");
    q(&b, "DatapointsToAlarm", "1");
    q(&b, "Threshold", thr);
    q(&b, "ComparisonOperator", "GreaterThanThreshold");
    q(&b, "TreatMissingData", "notBreaching");
    form_body(r, &b);
    return BROCK_OK;
}

static void step_throttle_alarm(struct setup_plan *p, const struct setup_monitoring_options *o, const char *prefix)
{
    char name[300], desc[700];
    snprintf(name, sizeof name, "%s-throttles", prefix);
    int thr = o->cfg->throttle_threshold > 0 ? o->cfg->throttle_threshold : MONITOR_DEFAULT_THROTTLE_THRESHOLD;
    struct setup_request *r = add_req(p, SETUP_SVC_MONITORING, "PutMetricAlarm");
    snprintf(r->what, sizeof r->what, "alarm %s: %d or more throttled calls in 5 minutes", name, thr);
    bool emf = o->cost_source == SETUP_COST_EMF;
    snprintf(desc, sizeof desc, "brock: Bedrock throttled %d or more calls in 5 minutes (%s)", thr,
             emf ? "metric Throttles" : "AWS/Bedrock InvocationThrottles");
    struct buf b = BUF_INIT(BODY_MAX);
    alarm_common(&b, o, name, desc);
    q(&b, "Namespace", emf ? o->cfg->metric_namespace : "AWS/Bedrock");
    q(&b, "MetricName", emf ? "Throttles" : "InvocationThrottles");
    q(&b, "Statistic", "Sum");
    q(&b, "Period", "300");
    q(&b, "EvaluationPeriods", "1");
    q(&b, "DatapointsToAlarm", "1");
    qf(&b, "Threshold", "%d", thr);
    q(&b, "ComparisonOperator", "GreaterThanOrEqualToThreshold");
    q(&b, "TreatMissingData", "notBreaching");
    form_body(r, &b);
}

/* ---- the dashboard --------------------------------------------------------------- */

static json_t *search_row(const char *ns, const char *metric, const char *stat, int period, const char *id,
                          const char *label)
{
    char expr[512];
    snprintf(expr, sizeof expr, "SEARCH('{\"%s\",Model} MetricName=\"%s\"', '%s', %d)", ns, metric, stat, period);
    return json_pack("[{s:s, s:s, s:s}]", "expression", expr, "id", id, "label", label);
}

static json_t *metric_widget(int x, int y, const char *title, const char *region, const char *stat, int period,
                             json_t *metrics)
{
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:{s:s, s:s, s:s, s:s, s:i, s:o}}", "type", "metric", "x", x, "y", y,
                     "width", 12, "height", 6, "properties", "title", title, "region", region, "view", "timeSeries",
                     "stat", stat, "period", period, "metrics", metrics);
}

static char *dashboard_body(const struct setup_monitoring_options *o)
{
    const char *ns = o->cfg->metric_namespace;
    const char *rg = o->region;
    json_t *w = json_array();
    char text[1024];
    snprintf(text, sizeof text,
             "## brock: Claude on Amazon Bedrock\nAudit log `%s` in %s, metrics in namespace `%s`. Made by `brock "
             "setup monitoring`: changes here are replaced when it runs again.",
             o->cfg->log_group, rg, ns);
    json_array_append_new(w, json_pack("{s:s, s:i, s:i, s:i, s:i, s:{s:s}}", "type", "text", "x", 0, "y", 0, "width",
                                       24, "height", 2, "properties", "markdown", text));

    json_t *m = json_array();
    json_array_append_new(m, search_row(ns, "InputTokens", "Sum", 300, "tin", "input"));
    json_array_append_new(m, search_row(ns, "OutputTokens", "Sum", 300, "tout", "output"));
    json_array_append_new(m, search_row(ns, "CacheReadTokens", "Sum", 300, "tcr", "cache read"));
    json_array_append_new(m, search_row(ns, "CacheWriteTokens", "Sum", 300, "tcw", "cache write"));
    json_array_append_new(w, metric_widget(0, 2, "Tokens by model", rg, "Sum", 300, m));

    m = json_array();
    json_array_append_new(m, search_row(ns, "CostUSD", "Sum", 3600, "cost", "USD"));
    json_array_append_new(m, json_pack("[s, s, {s:s, s:s}]", ns, "CostUSD", "stat", "Sum", "label", "all models"));
    json_array_append_new(w, metric_widget(12, 2, "Cost (USD per hour) by model", rg, "Sum", 3600, m));

    m = json_array();
    json_array_append_new(m, search_row(ns, "LatencyMs", "Average", 300, "lat", "average"));
    json_array_append_new(m, search_row(ns, "LatencyMs", "p90", 300, "lat90", "p90"));
    json_array_append_new(w, metric_widget(0, 8, "Latency (ms) by model", rg, "Average", 300, m));

    m = json_array();
    json_array_append_new(m, search_row(ns, "Throttles", "Sum", 300, "thr", "throttles"));
    json_array_append_new(m, search_row(ns, "Errors", "Sum", 300, "err", "errors"));
    json_array_append_new(w, metric_widget(12, 8, "Throttles and errors by model", rg, "Sum", 300, m));

    /* prompt-cache hit rate: cache reads / all input, per configured model
     * (the Model dimension holds base model ids, audit.h), or over all
     * models when none is named; plus response-cache hits */
    m = json_array();
    const char *base[SETUP_MAX_MODELS];
    size_t nb = 0;
    for (size_t k = 0; k < o->n_models && nb < SETUP_MAX_MODELS; k++) {
        enum model_geo geo;
        const struct model_info *mi = catalog_find(o->models[k], &geo);
        const char *id = mi ? mi->base_id : o->models[k];
        bool dup = false;
        for (size_t j = 0; j < nb; j++)
            dup |= !strcmp(base[j], id);
        if (!dup)
            base[nb++] = id;
    }
    size_t nm = nb ? nb : 1;
    for (size_t k = 0; k < nm; k++) {
        const char *model = nb ? base[k] : NULL;
        const char *names[3] = {"CacheReadTokens", "InputTokens", "CacheWriteTokens"};
        const char ids[3] = {'r', 'i', 'w'};
        for (int j = 0; j < 3; j++) {
            char id[32];
            snprintf(id, sizeof id, "%c%zu", ids[j], k);
            json_t *opts = json_pack("{s:s, s:s, s:b}", "id", id, "stat", "Sum", "visible", 0);
            if (model)
                json_array_append_new(m, json_pack("[s, s, s, s, o]", ns, names[j], "Model", model, opts));
            else
                json_array_append_new(m, json_pack("[s, s, o]", ns, names[j], opts));
        }
        char expr[160], id[32], label[300];
        snprintf(expr, sizeof expr, "100*r%zu/(r%zu+i%zu+w%zu)", k, k, k, k);
        snprintf(id, sizeof id, "h%zu", k);
        snprintf(label, sizeof label, "%s: prompt cache read %%", model ? model : "all models");
        json_array_append_new(m, json_pack("[{s:s, s:s, s:s}]", "expression", expr, "id", id, "label", label));
    }
    json_array_append_new(m, search_row(ns, "CacheHits", "Sum", 300, "hits", "response cache hits"));
    json_array_append_new(w, metric_widget(0, 14, "Cache hit rate by model", rg, "Sum", 300, m));

    char query[1024];
    snprintf(query, sizeof query,
             "SOURCE '%s' | fields @timestamp, who.user, model, InputTokens, OutputTokens, CostUSD, LatencyMs, status "
             "| filter schema = '" AUDIT_SCHEMA "' | sort @timestamp desc | limit 50",
             o->cfg->log_group);
    json_array_append_new(w, json_pack("{s:s, s:i, s:i, s:i, s:i, s:{s:s, s:s, s:s, s:s}}", "type", "log", "x", 12, "y",
                                       14, "width", 12, "height", 6, "properties", "title", "Recent model calls",
                                       "region", rg, "query", query, "view", "table"));
    json_t *doc = json_pack("{s:o}", "widgets", w);
    char *s = json_dump_compact(doc);
    json_decref(doc);
    return s;
}

static void step_dashboard(struct setup_plan *p, const struct setup_monitoring_options *o, const char *prefix)
{
    char name[300];
    snprintf(name, sizeof name, "%s-%s", prefix, o->region);
    struct setup_request *r = add_req(p, SETUP_SVC_MONITORING, "PutDashboard");
    snprintf(r->what, sizeof r->what, "dashboard %s: tokens, cost, latency, throttles, cache hit rate per model", name);
    char *body = dashboard_body(o);
    struct buf b = BUF_INIT(BODY_MAX);
    q(&b, "Action", "PutDashboard");
    q(&b, "Version", CW_VERSION);
    q(&b, "DashboardName", name);
    q(&b, "DashboardBody", body);
    free(body);
    form_body(r, &b);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

enum brock_status setup_monitoring_plan(const struct setup_monitoring_options *o, struct setup_plan *out,
                                        struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    if (!o || !o->cfg || !monitor_shipping_enabled(o->cfg))
        return err_set(e, BROCK_ERR_CONFIG,
                       "no log group: pass --log-group NAME, or set BROCK_LOG_GROUP or brock.monitoring.log_group");
    if (!o->region || !endpoint_region_valid(o->region))
        return err_set(e, BROCK_ERR_CONFIG, "no valid region for the monitoring resources");
    if (!o->account || strlen(o->account) != 12 || strspn(o->account, "0123456789") != 12)
        return err_set(e, BROCK_ERR_USAGE, "the account id must be 12 digits (--account)");
    int retention = o->retention_days ? o->retention_days : MONITOR_DEFAULT_RETENTION_DAYS;
    if (!monitor_retention_valid(retention))
        return err_set(e, BROCK_ERR_USAGE, "--retention-days: %d is not allowed; use one of %s", retention,
                       monitor_retention_list());
    if (!(o->daily_budget_usd >= 0) || !isfinite(o->daily_budget_usd) || o->daily_budget_usd > 1e9)
        return err_set(e, BROCK_ERR_USAGE, "--daily-budget-usd: expected a positive amount");
    if (o->sns_topic && *o->sns_topic && (strncmp(o->sns_topic, "arn:", 4) || !strstr(o->sns_topic, ":sns:")))
        return err_set(e, BROCK_ERR_USAGE,
                       "--alarm-sns-topic: expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)");
    if (strpbrk(o->cfg->metric_namespace, "\"'\\"))
        return err_set(e, BROCK_ERR_CONFIG,
                       "the metric namespace must not contain quotes or backslashes for the dashboard");
    if (o->n_models > SETUP_MAX_MODELS)
        return err_set(e, BROCK_ERR_USAGE, "at most %d models", SETUP_MAX_MODELS);
    const char *prefix = o->prefix && *o->prefix ? o->prefix : SETUP_DEFAULT_PREFIX;
    if (!name_ok(prefix))
        return err_set(e, BROCK_ERR_USAGE, "the alarm and dashboard name prefix may hold letters, digits, - and _");

    step_log_group(out, o, retention);
    enum brock_status st = BROCK_OK;
    if (o->invocation_logging)
        st = step_invocation_logging(out, o, e);
    if (st == BROCK_OK && o->daily_budget_usd > 0)
        st = step_cost_alarm(out, o, prefix, e);
    if (st == BROCK_OK) {
        step_throttle_alarm(out, o, prefix);
        step_dashboard(out, o, prefix);
    }
    if (st != BROCK_OK) {
        setup_plan_free(out);
        return st;
    }
    bool model_dim = false;
    for (size_t i = 0; i < o->cfg->n_dim_sets; i++)
        model_dim |= o->cfg->dim_sets[i] == MONITOR_DIM_MODEL;
    size_t nl = 0;
    if (!model_dim)
        nl += (size_t)snprintf(out->notes + nl, sizeof out->notes - nl,
                               "The dashboard's per-model graphs need the dimension set [\"Model\"] in "
                               "brock.monitoring.dimensions.\n");
    if (o->cost_source == SETUP_COST_EMF && o->cfg->metrics == MONITOR_METRICS_NONE && nl < sizeof out->notes)
        nl += (size_t)snprintf(out->notes + nl, sizeof out->notes - nl,
                               "brock.monitoring.metrics is none: the EMF metrics the alarms and dashboard read are "
                               "not published.\n");
    if (o->daily_budget_usd <= 0 && nl < sizeof out->notes)
        snprintf(out->notes + nl, sizeof out->notes - nl,
                 "No daily budget (--daily-budget-usd or brock.budget.daily_usd): no cost alarm.\n");
    return BROCK_OK;
}

enum brock_status setup_plan_format(const struct setup_plan *p, struct buf *out)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct setup_request *r = &p->req[i];
        buf_addf(out, "# %zu. %s\n%s %s %s %s\n", i + 1, r->what, r->method, setup_service_name(r->service),
                 r->operation, r->path);
        buf_add(out, r->body, r->body_len);
        buf_addstr(out, "\n\n");
    }
    return buf_status(out);
}

/* Messages of a PutDashboard answer (<DashboardValidationMessages>), as one line. */
static void dashboard_warnings(const struct buf *answer, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = buf_cstr(answer);
    size_t o = 0;
    for (int k = 0; k < 5; k++) {
        const char *s = strstr(p, "<Message>");
        if (!s)
            break;
        s += 9;
        const char *end = strstr(s, "</Message>");
        if (!end)
            break;
        size_t len = (size_t)(end - s) < 200 ? (size_t)(end - s) : 200;
        if (o < n)
            o += (size_t)snprintf(out + o, n - o, "%s%.*s", o ? "; " : "", (int)len, s);
        p = end;
    }
    for (size_t i = 0; out[i]; i++)
        if ((unsigned char)out[i] < 0x20)
            out[i] = ' ';
}

enum brock_status setup_run(const struct setup_plan *p, setup_send_fn *send, void *send_ctx, setup_report_fn *report,
                            void *report_ctx, const struct clock *clock, struct brock_err *e)
{
    struct brock_err local = {0};
    if (!e)
        e = &local; /* the steps below read the AWS error code */
    struct buf answer = BUF_INIT(BUF_MAX_SMALL * 4);
    enum brock_status st = BROCK_OK;
    for (size_t i = 0; i < p->n && st == BROCK_OK; i++) {
        const struct setup_request *r = &p->req[i];
        int64_t waited = 0;
        for (;;) {
            buf_reset(&answer);
            err_clear(e);
            st = send(send_ctx, r, &answer, e);
            if (st == BROCK_OK || !r->wait_for_role || waited >= SETUP_ROLE_WAIT_MS ||
                (strcmp(e->aws_code, "ValidationException") && strcmp(e->aws_code, "AccessDeniedException")))
                break;
            /* a role made a moment ago is not usable everywhere yet */
            if (report)
                report(report_ctx, i, r, "waiting for the new role to become usable");
            clock_sleep_ms(clock, SETUP_ROLE_RETRY_MS);
            waited += SETUP_ROLE_RETRY_MS;
        }
        if (st != BROCK_OK && r->done_code && !strcmp(e->aws_code, r->done_code)) {
            st = BROCK_OK;
            err_clear(e);
            if (report)
                report(report_ctx, i, r, "already exists");
            continue;
        }
        if (st != BROCK_OK) {
            err_prefix(e, "step %zu (%s)", i + 1, r->what);
            break;
        }
        char warn[1100] = "";
        if (!strcmp(r->operation, "PutDashboard"))
            dashboard_warnings(&answer, warn, sizeof warn);
        if (report) {
            if (warn[0]) {
                char msg[1200];
                snprintf(msg, sizeof msg, "done, with warnings: %s", warn);
                report(report_ctx, i, r, msg);
            } else {
                report(report_ctx, i, r, "done");
            }
        }
    }
    buf_free(&answer);
    return st;
}
