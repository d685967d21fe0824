/* Tests for `brock setup` (src/monitor/setup.c, setup_iam.c): the requests of
 * `setup monitoring` (order, operations, every body field, the trust and
 * role policies, both kinds of cost alarm, the dashboard body), the dry-run
 * text, option validation, running a plan (already-exists steps, failures,
 * waiting for a new role, dashboard warnings), idempotency against a
 * stateful fake of the services, and the IAM policies with the ARNs
 * expected for a us. and a global. profile. Expectations are written from
 * aws-wire-reference sections 9 and 10, not taken from the code's output. */
#include "../support/test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/monitor/setup.h"
#include "../../src/util/alloc.h"
#include "../../src/util/codec.h"

#define ACCT "123456789012"
#define SONNET_US "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
#define HAIKU_GLOBAL "global.anthropic.claude-haiku-4-5-20251001-v1:0"

/* Value of `key` in a form body, decoded (malloc'd), or NULL. */
static char *form_get(const char *body, const char *key)
{
    size_t kl = strlen(key);
    const char *p = body;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        struct buf k = BUF_INIT(4096);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            uri_decode(&k, p, (size_t)(eq - p));
            if (k.len == kl && !memcmp(k.ptr, key, kl)) {
                struct buf v = BUF_INIT(4 * 1024 * 1024);
                uri_decode(&v, eq + 1, len - (size_t)(eq - p) - 1);
                buf_free(&k);
                return buf_take(&v);
            }
        }
        buf_free(&k);
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static void assert_form(const char *body, const char *key, const char *want)
{
    char *v = form_get(body, key);
    if (!v || strcmp(v, want))
        fail_msg("%s: got '%s', want '%s'", key, v ? v : "(absent)", want);
    free(v);
}

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        fail_msg("not JSON: %s (%.200s)", je.text, s);
    return v;
}

static struct monitor_config config(void)
{
    struct monitor_config c;
    monitor_config_init(&c);
    snprintf(c.log_group, sizeof c.log_group, "/brock/audit");
    return c;
}

static const char *const two_models[] = {SONNET_US, HAIKU_GLOBAL};

static struct setup_monitoring_options options(const struct monitor_config *c)
{
    return (struct setup_monitoring_options){
        .cfg = c,
        .region = "us-west-2",
        .account = ACCT,
        .retention_days = 90,
        .invocation_logging = true,
        .daily_budget_usd = 25,
        .sns_topic = "arn:aws:sns:us-west-2:" ACCT ":billing-alerts",
        .models = two_models,
        .n_models = 2,
    };
}

static void test_plan_steps(void **state)
{
    (void)state;
    struct monitor_config c = config();
    struct setup_monitoring_options o = options(&c);
    struct setup_plan p;
    struct brock_err e = {0};
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_OK);
    const char *ops[] = {"CreateLogGroup",
                         "PutRetentionPolicy",
                         "CreateRole",
                         "PutRolePolicy",
                         "PutModelInvocationLoggingConfiguration",
                         "PutMetricAlarm",
                         "PutMetricAlarm",
                         "PutDashboard"};
    const char *svc[] = {"logs", "logs", "iam", "iam", "bedrock", "cloudwatch", "cloudwatch", "cloudwatch"};
    assert_int_equal(p.n, 8);
    for (size_t i = 0; i < p.n; i++) {
        assert_string_equal(p.req[i].operation, ops[i]);
        assert_string_equal(setup_service_name(p.req[i].service), svc[i]);
    }

    /* logs (awsJson1_1) */
    assert_string_equal(p.req[0].target, "Logs_20140328.CreateLogGroup");
    assert_string_equal(p.req[0].content_type, "application/x-amz-json-1.1");
    assert_string_equal(p.req[0].done_code, "ResourceAlreadyExistsException");
    json_t *b = parse(p.req[0].body);
    assert_string_equal(json_string_value(json_object_get(b, "logGroupName")), "/brock/audit");
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "tags"), "managed-by")), "brock");
    json_decref(b);
    b = parse(p.req[1].body);
    assert_int_equal(json_integer_value(json_object_get(b, "retentionInDays")), 90);
    json_decref(b);

    /* the role Bedrock assumes: trust policy and inline policy */
    assert_string_equal(p.req[2].done_code, "EntityAlreadyExists");
    assert_form(p.req[2].body, "Action", "CreateRole");
    assert_form(p.req[2].body, "Version", "2010-05-08");
    assert_form(p.req[2].body, "RoleName", "BrockBedrockInvocationLogging");
    char *doc = form_get(p.req[2].body, "AssumeRolePolicyDocument");
    b = parse(doc);
    json_t *s0 = json_array_get(json_object_get(b, "Statement"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "Effect")), "Allow");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s0, "Principal"), "Service")),
                        "bedrock.amazonaws.com");
    assert_string_equal(json_string_value(json_object_get(s0, "Action")), "sts:AssumeRole");
    json_t *cond = json_object_get(s0, "Condition");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cond, "StringEquals"), "aws:SourceAccount")),
                        ACCT);
    assert_string_equal(json_string_value(json_object_get(json_object_get(cond, "ArnLike"), "aws:SourceArn")),
                        "arn:aws:bedrock:*:" ACCT ":*");
    json_decref(b);
    free(doc);
    assert_form(p.req[3].body, "PolicyName", "BrockInvocationLogging-us-west-2");
    doc = form_get(p.req[3].body, "PolicyDocument");
    b = parse(doc);
    s0 = json_array_get(json_object_get(b, "Statement"), 0);
    json_t *act = json_object_get(s0, "Action");
    assert_string_equal(json_string_value(json_array_get(act, 0)), "logs:CreateLogStream");
    assert_string_equal(json_string_value(json_array_get(act, 1)), "logs:PutLogEvents");
    assert_string_equal(json_string_value(json_object_get(s0, "Resource")),
                        "arn:aws:logs:us-west-2:" ACCT ":log-group:/brock/audit:log-stream:*");
    json_decref(b);
    free(doc);

    /* Bedrock's invocation logging (restJson1 PUT) */
    assert_string_equal(p.req[4].method, "PUT");
    assert_string_equal(p.req[4].path, "/logging/modelinvocations");
    assert_true(p.req[4].wait_for_role);
    b = parse(p.req[4].body);
    json_t *lc = json_object_get(b, "loggingConfig");
    json_t *cw = json_object_get(lc, "cloudWatchConfig");
    assert_string_equal(json_string_value(json_object_get(cw, "logGroupName")), "/brock/audit");
    assert_string_equal(json_string_value(json_object_get(cw, "roleArn")),
                        "arn:aws:iam::" ACCT ":role/BrockBedrockInvocationLogging");
    assert_true(json_is_true(json_object_get(lc, "textDataDeliveryEnabled")));
    assert_true(json_is_false(json_object_get(lc, "imageDataDeliveryEnabled")));
    json_decref(b);

    /* the EMF cost alarm */
    const char *a = p.req[5].body;
    assert_form(a, "Action", "PutMetricAlarm");
    assert_form(a, "Version", "2010-08-01");
    assert_form(a, "AlarmName", "brock-daily-cost");
    assert_form(a, "Namespace", "Brock");
    assert_form(a, "MetricName", "CostUSD");
    assert_form(a, "Statistic", "Sum");
    assert_form(a, "Period", "86400");
    assert_form(a, "EvaluationPeriods", "1");
    assert_form(a, "Threshold", "25");
    assert_form(a, "ComparisonOperator", "GreaterThanThreshold");
    assert_form(a, "TreatMissingData", "notBreaching");
    assert_form(a, "ActionsEnabled", "true");
    assert_form(a, "AlarmActions.member.1", "arn:aws:sns:us-west-2:" ACCT ":billing-alerts");
    assert_null(form_get(a, "Dimensions.member.1.Name")); /* the all-models total */
    /* the throttle alarm */
    a = p.req[6].body;
    assert_form(a, "AlarmName", "brock-throttles");
    assert_form(a, "MetricName", "Throttles");
    assert_form(a, "Period", "300");
    assert_form(a, "Threshold", "10");
    assert_form(a, "ComparisonOperator", "GreaterThanOrEqualToThreshold");
    setup_plan_free(&p);
}

static void test_plan_bedrock_cost_alarm(void **state)
{
    (void)state;
    struct monitor_config c = config();
    struct setup_monitoring_options o = options(&c);
    o.cost_source = SETUP_COST_BEDROCK;
    o.invocation_logging = false;
    o.sns_topic = NULL;
    struct setup_plan p;
    struct brock_err e = {0};
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_OK);
    assert_int_equal(p.n, 5);
    const char *a = p.req[2].body;
    assert_form(a, "ActionsEnabled", "false");
    assert_null(form_get(a, "AlarmActions.member.1"));
    assert_null(form_get(a, "MetricName"));
    /* two models x 4 token metrics, then the expression */
    assert_form(a, "Metrics.member.1.Id", "in0");
    assert_form(a, "Metrics.member.1.MetricStat.Metric.Namespace", "AWS/Bedrock");
    assert_form(a, "Metrics.member.1.MetricStat.Metric.MetricName", "InputTokenCount");
    assert_form(a, "Metrics.member.1.MetricStat.Metric.Dimensions.member.1.Name", "ModelId");
    assert_form(a, "Metrics.member.1.MetricStat.Metric.Dimensions.member.1.Value", SONNET_US);
    assert_form(a, "Metrics.member.1.MetricStat.Stat", "Sum");
    assert_form(a, "Metrics.member.1.MetricStat.Period", "86400");
    assert_form(a, "Metrics.member.1.ReturnData", "false");
    assert_form(a, "Metrics.member.4.MetricStat.Metric.MetricName", "CacheWriteInputTokenCount");
    assert_form(a, "Metrics.member.5.Id", "in1");
    assert_form(a, "Metrics.member.5.MetricStat.Metric.Dimensions.member.1.Value", HAIKU_GLOBAL);
    assert_form(a, "Metrics.member.9.Id", "cost");
    assert_form(a, "Metrics.member.9.ReturnData", "true");
    /* Sonnet 4.5 on a us. profile: list prices x 1.1 (geo premium): 3.3 / 16.5 /
     * 0.33 / 4.125; Haiku 4.5 on global.: 1 / 5 / 0.1 / 1.25 (reference 7.2) */
    assert_form(a, "Metrics.member.9.Expression",
                "(in0*3.3+out0*16.5+cr0*0.33+cw0*4.125+in1*1+out1*5+cr1*0.1+cw1*1.25)/1000000");
    assert_null(form_get(a, "Metrics.member.10.Id"));
    assert_form(p.req[3].body, "Namespace", "AWS/Bedrock");
    assert_form(p.req[3].body, "MetricName", "InvocationThrottles");
    setup_plan_free(&p);

    /* three models: input and output only (3 x 2 + 1 <= 10) */
    const char *three[] = {SONNET_US, HAIKU_GLOBAL, "us.anthropic.claude-opus-4-6-v1"};
    o.models = three;
    o.n_models = 3;
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_OK);
    assert_form(p.req[2].body, "Metrics.member.7.Id", "cost");
    char *x = form_get(p.req[2].body, "Metrics.member.7.Expression");
    assert_non_null(strstr(x, "in2*5.5+out2*27.5"));
    free(x);
    setup_plan_free(&p);

    /* five models cannot fit in one alarm; an unknown model has no price */
    const char *five[] = {SONNET_US, HAIKU_GLOBAL, SONNET_US, HAIKU_GLOBAL, SONNET_US};
    o.models = five;
    o.n_models = 5;
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "can watch 1 to 4 models (5 given)"));
    const char *unknown[] = {"us.anthropic.claude-opus-9"};
    o.models = unknown;
    o.n_models = 1;
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "not in brock's catalog"));
}

static void test_dashboard_body(void **state)
{
    (void)state;
    struct monitor_config c = config();
    struct setup_monitoring_options o = options(&c);
    struct setup_plan p;
    struct brock_err e = {0};
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_OK);
    const struct setup_request *r = &p.req[p.n - 1];
    assert_form(r->body, "Action", "PutDashboard");
    assert_form(r->body, "DashboardName", "brock-us-west-2");
    char *body = form_get(r->body, "DashboardBody");
    json_t *d = parse(body);
    json_t *w = json_object_get(d, "widgets");
    assert_true(json_array_size(w) >= 6);
    size_t i;
    json_t *x;
    bool tokens = false, cost = false, latency = false, throttles = false, hit = false, logw = false;
    json_array_foreach(w, i, x)
    {
        const char *type = json_string_value(json_object_get(x, "type"));
        json_int_t xx = json_integer_value(json_object_get(x, "x")),
                   ww = json_integer_value(json_object_get(x, "width"));
        assert_true(xx >= 0 && ww >= 1 && xx + ww <= 24); /* a 24-column grid */
        json_t *props = json_object_get(x, "properties");
        const char *title = json_string_value(json_object_get(props, "title"));
        if (!strcmp(type, "metric")) {
            assert_string_equal(json_string_value(json_object_get(props, "region")), "us-west-2");
            assert_true(json_array_size(json_object_get(props, "metrics")) > 0);
        }
        char *all = json_dumps(props, JSON_COMPACT);
        if (title && strstr(title, "Tokens"))
            tokens = strstr(all, "SEARCH('{\\\"Brock\\\",Model} MetricName=\\\"InputTokens\\\"', 'Sum', 300)") != NULL;
        if (title && strstr(title, "Cost"))
            cost = strstr(all, "CostUSD") != NULL;
        if (title && strstr(title, "Latency"))
            latency = strstr(all, "LatencyMs") != NULL;
        if (title && strstr(title, "Throttles"))
            throttles = strstr(all, "Throttles") && strstr(all, "Errors");
        if (title && strstr(title, "Cache hit rate"))
            hit = strstr(all, "100*r0/(r0+i0+w0)") && strstr(all, "100*r1/(r1+i1+w1)") &&
                  strstr(all, "\"Model\",\"anthropic.claude-sonnet-4-5-20250929-v1:0\"") && !strstr(all, SONNET_US) &&
                  strstr(all, "CacheHits");
        if (!strcmp(type, "log"))
            logw = strstr(all, "SOURCE '/brock/audit'") != NULL;
        free(all);
    }
    assert_true(tokens && cost && latency && throttles && hit && logw);
    json_decref(d);
    free(body);
    setup_plan_free(&p);
}

static void test_dry_run_format(void **state)
{
    (void)state;
    struct monitor_config c = config();
    struct setup_monitoring_options o = {.cfg = &c, .region = "eu-west-1", .account = ACCT};
    struct setup_plan p;
    struct brock_err e = {0};
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_OK);
    struct buf out = BUF_INIT(1 << 20);
    assert_int_equal(setup_plan_format(&p, &out), BROCK_OK);
    const char *want_start =
        "# 1. create the log group /brock/audit\n"
        "POST logs CreateLogGroup /\n"
        "{\"logGroupName\":\"/brock/audit\",\"tags\":{\"managed-by\":\"brock\"}}\n"
        "\n"
        "# 2. keep its events 30 days\n"
        "POST logs PutRetentionPolicy /\n"
        "{\"logGroupName\":\"/brock/audit\",\"retentionInDays\":30}\n"
        "\n"
        "# 3. alarm brock-throttles: 10 or more throttled calls in 5 minutes\n"
        "POST cloudwatch PutMetricAlarm /\n"
        "Action=PutMetricAlarm&Version=2010-08-01&AlarmName=brock-throttles&AlarmDescription=brock%3A%20Bedrock%20"
        "throttled%2010%20or%20more%20calls%20in%205%20minutes%20%28metric%20Throttles%29&ActionsEnabled=false&"
        "Namespace=Brock&MetricName=Throttles&Statistic=Sum&Period=300&EvaluationPeriods=1&DatapointsToAlarm=1&"
        "Threshold=10&ComparisonOperator=GreaterThanOrEqualToThreshold&TreatMissingData=notBreaching\n"
        "\n"
        "# 4. dashboard brock-eu-west-1: tokens, cost, latency, throttles, cache hit rate per model\n"
        "POST cloudwatch PutDashboard /\n"
        "Action=PutDashboard&Version=2010-08-01&DashboardName=brock-eu-west-1&DashboardBody=%7B%22widgets%22";
    if (strncmp(buf_cstr(&out), want_start, strlen(want_start)))
        fail_msg("dry run:\n%.1500s", buf_cstr(&out));
    assert_true(out.len > strlen(want_start) && !strcmp(out.ptr + out.len - 2, "\n\n"));
    assert_non_null(strstr(p.notes, "No daily budget"));
    buf_free(&out);
    setup_plan_free(&p);
}

static void test_plan_validation(void **state)
{
    (void)state;
    struct monitor_config c = config();
    struct setup_plan p;
    struct brock_err e = {0};
    struct setup_monitoring_options o = options(&c);
    o.retention_days = 31;
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--retention-days: 31 is not allowed; use one of 1, 3, 5, 7, 14, 30"));
    o = options(&c);
    o.account = "12345";
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "12 digits"));
    o = options(&c);
    o.sns_topic = "billing-alerts";
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--alarm-sns-topic"));
    o = options(&c);
    o.logging_role_arn = "not-an-arn";
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--logging-role-arn"));
    o = options(&c);
    o.logging_role_arn = "arn:aws:iam::" ACCT ":role/Mine";
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_OK);
    assert_int_equal(p.n, 6); /* no CreateRole / PutRolePolicy */
    json_t *b = parse(p.req[2].body);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(b, "loggingConfig"), "cloudWatchConfig"), "roleArn")),
                        "arn:aws:iam::" ACCT ":role/Mine");
    assert_false(p.req[2].wait_for_role);
    json_decref(b);
    setup_plan_free(&p);
    o = options(&c);
    o.daily_budget_usd = -3;
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_USAGE);
    c.log_group[0] = '\0';
    o = options(&c);
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "--log-group"));
}

/* ---- running a plan against a stateful fake --------------------------------------- */

struct world {
    json_t *state; /* everything the fake services hold */
    int calls;
    int validation_failures; /* PutModelInvocationLoggingConfiguration refuses this many times */
    const char *fail_op;     /* this operation fails with AccessDenied */
    char report[4096];
};

static enum brock_status fake_send(void *ctx, const struct setup_request *r, struct buf *answer, struct brock_err *e)
{
    struct world *w = ctx;
    w->calls++;
    json_t *st = w->state;
    const char *op = r->operation;
    if (w->fail_op && !strcmp(op, w->fail_op)) {
        snprintf(e->aws_code, sizeof e->aws_code, "AccessDeniedException");
        return err_set(e, BROCK_ERR_AUTH, "AccessDeniedException (HTTP 403): not authorized");
    }
    if (!strcmp(op, "CreateLogGroup")) {
        json_t *b = parse(r->body);
        const char *g = json_string_value(json_object_get(b, "logGroupName"));
        json_t *groups = json_object_get(st, "groups");
        if (json_object_get(groups, g)) {
            json_decref(b);
            snprintf(e->aws_code, sizeof e->aws_code, "ResourceAlreadyExistsException");
            return err_set(e, BROCK_ERR_AWS, "ResourceAlreadyExistsException: The specified log group already exists");
        }
        json_object_set_new(groups, g, json_pack("{s:O}", "tags", json_object_get(b, "tags")));
        json_decref(b);
    } else if (!strcmp(op, "PutRetentionPolicy")) {
        json_t *b = parse(r->body);
        json_t *g =
            json_object_get(json_object_get(st, "groups"), json_string_value(json_object_get(b, "logGroupName")));
        if (!g) {
            json_decref(b);
            snprintf(e->aws_code, sizeof e->aws_code, "ResourceNotFoundException");
            return err_set(e, BROCK_ERR_AWS, "ResourceNotFoundException");
        }
        json_object_set(g, "retention", json_object_get(b, "retentionInDays"));
        json_decref(b);
    } else if (!strcmp(op, "CreateRole")) {
        char *name = form_get(r->body, "RoleName");
        json_t *roles = json_object_get(st, "roles");
        if (json_object_get(roles, name)) {
            free(name);
            snprintf(e->aws_code, sizeof e->aws_code, "EntityAlreadyExists");
            return err_set(e, BROCK_ERR_AWS, "EntityAlreadyExists: Role with name already exists.");
        }
        char *trust = form_get(r->body, "AssumeRolePolicyDocument");
        json_object_set_new(roles, name, json_pack("{s:s, s:{}}", "trust", trust, "policies"));
        free(trust);
        free(name);
    } else if (!strcmp(op, "PutRolePolicy")) {
        char *name = form_get(r->body, "RoleName"), *pn = form_get(r->body, "PolicyName"),
             *pd = form_get(r->body, "PolicyDocument");
        json_t *role = json_object_get(json_object_get(st, "roles"), name);
        assert_non_null(role);
        json_object_set_new(json_object_get(role, "policies"), pn, json_string(pd));
        free(name);
        free(pn);
        free(pd);
    } else if (!strcmp(op, "PutModelInvocationLoggingConfiguration")) {
        if (w->validation_failures > 0) {
            w->validation_failures--;
            snprintf(e->aws_code, sizeof e->aws_code, "ValidationException");
            return err_set(e, BROCK_ERR_AWS, "ValidationException: role cannot be assumed");
        }
        json_object_set_new(st, "logging", parse(r->body));
    } else if (!strcmp(op, "PutMetricAlarm")) {
        char *name = form_get(r->body, "AlarmName");
        json_object_set_new(json_object_get(st, "alarms"), name, json_string(r->body));
        free(name);
    } else if (!strcmp(op, "PutDashboard")) {
        char *name = form_get(r->body, "DashboardName"), *body = form_get(r->body, "DashboardBody");
        json_object_set_new(json_object_get(st, "dashboards"), name, json_string(body));
        free(name);
        free(body);
        buf_addstr(answer, "<PutDashboardResponse><PutDashboardResult><DashboardValidationMessages><member>"
                           "<DataPath>/widgets/5</DataPath><Message>Should have at least one metric</Message>"
                           "</member></DashboardValidationMessages></PutDashboardResult></PutDashboardResponse>");
    } else {
        fail_msg("unexpected operation %s", op);
    }
    return BROCK_OK;
}

static void on_report(void *ctx, size_t step, const struct setup_request *r, const char *outcome)
{
    struct world *w = ctx;
    size_t n = strlen(w->report);
    snprintf(w->report + n, sizeof w->report - n, "%zu %s: %s\n", step + 1, r->operation, outcome);
}

struct fake_clock {
    int64_t now, slept;
};
static int64_t fc_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now;
}
static void fc_sleep(void *ctx, int64_t ms)
{
    struct fake_clock *c = ctx;
    c->now += ms;
    c->slept += ms;
}

static void test_run_idempotent(void **state)
{
    (void)state;
    struct monitor_config c = config();
    struct setup_monitoring_options o = options(&c);
    struct setup_plan p;
    struct brock_err e = {0};
    assert_int_equal(setup_monitoring_plan(&o, &p, &e), BROCK_OK);
    struct world w = {.state = json_pack("{s:{}, s:{}, s:{}, s:{}}", "groups", "roles", "alarms", "dashboards")};
    w.validation_failures = 2; /* the new role needs a moment */
    struct fake_clock fc = {0, 0};
    struct clock clk = {fc_now, fc_sleep, &fc};
    assert_int_equal(setup_run(&p, fake_send, &w, on_report, &w, &clk, &e), BROCK_OK);
    assert_int_equal(fc.slept, 2 * SETUP_ROLE_RETRY_MS);
    assert_non_null(strstr(w.report, "5 PutModelInvocationLoggingConfiguration: waiting for the new role"));
    assert_non_null(strstr(w.report, "8 PutDashboard: done, with warnings: Should have at least one metric"));
    char *after1 = json_dumps(w.state, JSON_SORT_KEYS | JSON_COMPACT);

    /* the same again: nothing changes, the create steps say "already exists" */
    w.report[0] = '\0';
    assert_int_equal(setup_run(&p, fake_send, &w, on_report, &w, &clk, &e), BROCK_OK);
    char *after2 = json_dumps(w.state, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(after1, after2);
    assert_non_null(strstr(w.report, "1 CreateLogGroup: already exists"));
    assert_non_null(strstr(w.report, "3 CreateRole: already exists"));
    assert_non_null(strstr(w.report, "2 PutRetentionPolicy: done"));
    json_t *g = json_object_get(json_object_get(w.state, "groups"), "/brock/audit");
    assert_int_equal(json_integer_value(json_object_get(g, "retention")), 90);
    assert_int_equal(json_object_size(json_object_get(w.state, "alarms")), 2);
    free(after1);
    free(after2);

    /* a failing step stops the run and says which */
    w.fail_op = "PutMetricAlarm";
    int before = w.calls;
    assert_int_equal(setup_run(&p, fake_send, &w, NULL, NULL, &clk, &e), BROCK_ERR_AUTH);
    assert_non_null(strstr(e.msg, "step 6 (alarm brock-daily-cost: spend over 24 h above $25): AccessDeniedException"));
    assert_int_equal(w.calls - before, 6);

    /* the role never becomes usable: give up after SETUP_ROLE_WAIT_MS */
    w.fail_op = NULL;
    w.validation_failures = 1000;
    fc.slept = 0;
    assert_int_equal(setup_run(&p, fake_send, &w, NULL, NULL, &clk, &e), BROCK_ERR_AWS);
    assert_int_equal(fc.slept, SETUP_ROLE_WAIT_MS);
    assert_non_null(strstr(e.msg, "step 5"));
    json_decref(w.state);
    setup_plan_free(&p);
}

/* ---- IAM policies ---------------------------------------------------------------------- */

static json_t *policy(unsigned kinds, const char *const *models, size_t n, struct buf *notes)
{
    struct monitor_config c = config();
    struct setup_policy_options o = {
        .kinds = kinds, .region = "us-west-2", .account = ACCT, .models = models, .n_models = n, .cfg = &c};
    char *text = NULL;
    struct brock_err e = {0};
    if (setup_iam_policy(&o, &text, notes, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    json_t *v = parse(text);
    free(text);
    return v;
}

static json_t *find_sid(json_t *doc, const char *sid)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "Statement"), i, s)
    {
        if (!strcmp(json_string_value(json_object_get(s, "Sid")), sid))
            return s;
    }
    fail_msg("no statement %s", sid);
    return NULL;
}

static bool has_str(json_t *v, const char *s)
{
    if (json_is_string(v))
        return !strcmp(json_string_value(v), s);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (json_is_string(x) && !strcmp(json_string_value(x), s))
            return true;
    }
    return false;
}

static void test_iam_invoke(void **state)
{
    (void)state;
    json_t *d = policy(SETUP_POLICY_INVOKE, two_models, 2, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "Version")), "2012-10-17");
    json_t *s = find_sid(d, "InvokeInferenceProfiles");
    assert_true(has_str(json_object_get(s, "Action"), "bedrock:InvokeModel"));
    assert_true(has_str(json_object_get(s, "Action"), "bedrock:InvokeModelWithResponseStream"));
    json_t *res = json_object_get(s, "Resource");
    assert_true(has_str(res, "arn:aws:bedrock:us-west-2:" ACCT ":inference-profile/" SONNET_US));
    assert_true(has_str(res, "arn:aws:bedrock:us-west-2:" ACCT ":inference-profile/" HAIKU_GLOBAL));
    assert_int_equal(json_array_size(res), 2);

    s = find_sid(d, "InvokeModelsThroughProfiles");
    res = json_object_get(s, "Resource");
    /* the us. profile: every US destination region */
    const char *us[] = {"us-east-1", "us-east-2", "us-west-1", "us-west-2"};
    for (size_t i = 0; i < 4; i++) {
        char arn[200];
        snprintf(arn, sizeof arn, "arn:aws:bedrock:%s::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
                 us[i]);
        assert_true(has_str(res, arn));
    }
    /* the global. profile: any region, and the region-less ARN */
    assert_true(has_str(res, "arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"));
    assert_true(has_str(res, "arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"));
    assert_int_equal(json_array_size(res), 6);
    json_t *cond = json_object_get(json_object_get(s, "Condition"), "StringLike");
    json_t *via = json_object_get(cond, "bedrock:InferenceProfileArn");
    assert_true(has_str(via, "arn:aws:bedrock:us-west-2:" ACCT ":inference-profile/" SONNET_US));

    s = find_sid(d, "CountTokens");
    assert_string_equal(json_string_value(json_object_get(s, "Action")), "bedrock:CountTokens");
    assert_true(has_str(json_object_get(s, "Resource"),
                        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"));
    s = find_sid(d, "Discovery");
    assert_string_equal(json_string_value(json_object_get(s, "Resource")), "*");
    assert_true(has_str(json_object_get(s, "Action"), "bedrock:ListInferenceProfiles"));
    json_decref(d);

    /* an in-region base id and an application profile */
    const char *m2[] = {"anthropic.claude-3-haiku-20240307-v1:0",
                        "arn:aws:bedrock:us-west-2:" ACCT ":application-inference-profile/a1b2c3d4e5f6"};
    struct buf notes = BUF_INIT(4096);
    d = policy(SETUP_POLICY_INVOKE, m2, 2, &notes);
    s = find_sid(d, "InvokeModelsInRegion");
    assert_string_equal(json_string_value(json_object_get(s, "Resource")),
                        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0");
    assert_non_null(strstr(buf_cstr(&notes), "application inference profile"));
    buf_free(&notes);
    json_decref(d);
}

static void test_iam_monitoring_and_batch(void **state)
{
    (void)state;
    json_t *d = policy(SETUP_POLICY_MONITORING, NULL, 0, NULL);
    json_t *s = find_sid(d, "AuditLogEvents");
    assert_true(has_str(json_object_get(s, "Action"), "logs:PutLogEvents"));
    assert_true(
        has_str(json_object_get(s, "Resource"), "arn:aws:logs:us-west-2:" ACCT ":log-group:/brock/audit:log-stream:*"));
    s = find_sid(d, "AuditLogGroup");
    assert_true(has_str(json_object_get(s, "Resource"), "arn:aws:logs:us-west-2:" ACCT ":log-group:/brock/audit"));
    s = find_sid(d, "Metrics");
    assert_string_equal(json_string_value(json_object_get(s, "Action")), "cloudwatch:PutMetricData");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(s, "Condition"), "StringEquals"), "cloudwatch:namespace")),
                        "Brock");
    s = find_sid(d, "PassInvocationLoggingRole");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(s, "Condition"), "StringEquals"), "iam:PassedToService")),
                        "bedrock.amazonaws.com");
    json_decref(d);

    d = policy(SETUP_POLICY_BATCH, two_models, 2, NULL);
    s = find_sid(d, "BatchJobs");
    assert_true(has_str(json_object_get(s, "Action"), "bedrock:CreateModelInvocationJob"));
    assert_true(has_str(json_object_get(s, "Resource"), "arn:aws:bedrock:us-west-2:" ACCT ":model-invocation-job/*"));
    s = find_sid(d, "PassBatchRole");
    assert_string_equal(json_string_value(json_object_get(s, "Resource")), "arn:aws:iam::" ACCT ":role/BrockBatchRole");
    s = find_sid(d, "BatchObjects");
    assert_string_equal(json_string_value(json_object_get(s, "Resource")), "arn:aws:s3:::brock-batch-" ACCT "/batch/*");
    json_decref(d);

    /* all: one document, Sids unique */
    d = policy(SETUP_POLICY_ALL, two_models, 2, NULL);
    json_t *seen = json_object();
    size_t i;
    json_array_foreach(json_object_get(d, "Statement"), i, s)
    {
        const char *sid = json_string_value(json_object_get(s, "Sid"));
        assert_null(json_object_get(seen, sid));
        json_object_set_new(seen, sid, json_true());
    }
    assert_true(json_object_size(seen) >= 15);
    json_decref(seen);
    json_decref(d);
}

static void test_iam_errors(void **state)
{
    (void)state;
    struct monitor_config c = config();
    char *text = NULL;
    struct brock_err e = {0};
    struct setup_policy_options o = {.kinds = SETUP_POLICY_INVOKE, .region = "us-west-2", .account = ACCT, .cfg = &c};
    assert_int_equal(setup_iam_policy(&o, &text, NULL, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--model"));
    o.kinds = SETUP_POLICY_BATCH;
    o.s3_uri = "bucket/prefix";
    assert_int_equal(setup_iam_policy(&o, &text, NULL, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "s3://"));
    o.s3_uri = "s3://my-bucket/in/";
    o.batch_role_arn = "arn:aws:iam::" ACCT ":role/Mine";
    assert_int_equal(setup_iam_policy(&o, &text, NULL, &e), BROCK_OK);
    assert_non_null(strstr(text, "arn:aws:s3:::my-bucket/in/*"));
    assert_non_null(strstr(text, "role/Mine"));
    free(text);
    o.account = "x";
    assert_int_equal(setup_iam_policy(&o, &text, NULL, &e), BROCK_ERR_USAGE);
    unsigned k;
    assert_true(setup_policy_kind_parse("all", &k) && k == SETUP_POLICY_ALL);
    assert_false(setup_policy_kind_parse("admin", &k));
    /* GovCloud regions get their partition */
    o.account = ACCT;
    o.region = "us-gov-west-1";
    assert_int_equal(setup_iam_policy(&o, &text, NULL, &e), BROCK_OK);
    assert_non_null(strstr(text, "arn:aws-us-gov:"));
    free(text);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_steps),      cmocka_unit_test(test_plan_bedrock_cost_alarm),
        cmocka_unit_test(test_dashboard_body),  cmocka_unit_test(test_dry_run_format),
        cmocka_unit_test(test_plan_validation), cmocka_unit_test(test_run_idempotent),
        cmocka_unit_test(test_iam_invoke),      cmocka_unit_test(test_iam_monitoring_and_batch),
        cmocka_unit_test(test_iam_errors),
    };
    return cmocka_run_group_tests_name("monitor_setup", tests, NULL, NULL);
}
