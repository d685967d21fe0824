/* setup_iam.c - least-privilege IAM policies for `brock setup iam-policy`
 * (setup.h; aws-wire-reference section 10).
 *
 * Destination regions of the system inference profiles (reference 7.1,
 * marked [C] there): us. routes to us-east-1, us-east-2, us-west-1 and
 * us-west-2; jp. to ap-northeast-1 and -3; au. to ap-southeast-2 and -4;
 * eu. and apac. to regions AWS adds over time, so they are granted as eu-*
 * and ap-*; global. to any commercial region (*) plus the region-less
 * foundation-model ARN that global routing is evaluated against. */
#include "setup.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/endpoint.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"

static const char *const regions_us[] = {"us-east-1", "us-east-2", "us-west-1", "us-west-2", NULL};
static const char *const regions_eu[] = {"eu-*", NULL};
static const char *const regions_apac[] = {"ap-*", NULL};
static const char *const regions_jp[] = {"ap-northeast-1", "ap-northeast-3", NULL};
static const char *const regions_au[] = {"ap-southeast-2", "ap-southeast-4", NULL};
static const char *const regions_global[] = {"*", "", NULL}; /* "" = the region-less ARN */

const char *const *setup_geo_regions(const char *geo)
{
    if (!geo)
        return NULL;
    if (!strcmp(geo, "us"))
        return regions_us;
    if (!strcmp(geo, "eu"))
        return regions_eu;
    if (!strcmp(geo, "apac"))
        return regions_apac;
    if (!strcmp(geo, "jp"))
        return regions_jp;
    if (!strcmp(geo, "au"))
        return regions_au;
    if (!strcmp(geo, "global"))
        return regions_global;
    return NULL;
}

bool setup_policy_kind_parse(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bits;
    } kinds[] = {{"invoke", SETUP_POLICY_INVOKE},
                 {"monitoring", SETUP_POLICY_MONITORING},
                 {"batch", SETUP_POLICY_BATCH},
                 {"all", SETUP_POLICY_ALL}};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(kinds); i++)
        if (s && !strcmp(s, kinds[i].name)) {
            *out = kinds[i].bits;
            return true;
        }
    return false;
}

/* Append s to the array unless it is there already. */
static void add_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!strcmp(json_string_value(v), s))
            return;
    }
    json_array_append_new(arr, json_string(s));
}

/* A model id split into its geography prefix (or "") and base id. */
struct model_ref {
    char geo[16];     /* "us", "global", ... or "" for a base id */
    char base[256];   /* "anthropic.claude-..." */
    bool app_profile; /* an application inference profile ARN */
    char arn[512];    /* the ARN given, if any */
};

static bool split_model(const char *id, struct model_ref *m)
{
    memset(m, 0, sizeof *m);
    if (!strncmp(id, "arn:", 4)) {
        snprintf(m->arn, sizeof m->arn, "%s", id);
        if (strstr(id, ":application-inference-profile/")) {
            m->app_profile = true;
            return true;
        }
        const char *slash = strrchr(id, '/');
        if (!slash || !slash[1])
            return false;
        id = slash + 1;
    }
    static const char *const geos[] = {"global", "us", "eu", "apac", "jp", "au"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(geos); i++) {
        size_t n = strlen(geos[i]);
        if (!strncmp(id, geos[i], n) && id[n] == '.') {
            snprintf(m->geo, sizeof m->geo, "%s", geos[i]);
            id += n + 1;
            break;
        }
    }
    if (strlen(id) >= sizeof m->base || !*id)
        return false;
    snprintf(m->base, sizeof m->base, "%s", id);
    return true;
}

static json_t *statement(const char *sid, json_t *actions, json_t *resources)
{
    json_t *s = json_pack("{s:s, s:s}", "Sid", sid, "Effect", "Allow");
    json_object_set_new(s, "Action",
                        json_array_size(actions) == 1 ? json_incref(json_array_get(actions, 0)) : json_incref(actions));
    json_object_set_new(s, "Resource",
                        json_array_size(resources) == 1 ? json_incref(json_array_get(resources, 0))
                                                        : json_incref(resources));
    json_decref(actions);
    json_decref(resources);
    return s;
}

static json_t *strs(const char *const *v)
{
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static void invoke_statements(const struct setup_policy_options *o, const char *part, json_t *st, struct buf *notes)
{
    json_t *profiles = json_array(), *via = json_array(), *direct = json_array(), *count = json_array();
    for (size_t i = 0; i < o->n_models; i++) {
        struct model_ref m;
        char arn[700];
        if (!split_model(o->models[i], &m)) {
            if (notes)
                buf_addf(notes, "Skipped model '%.200s': not a model id, profile id or ARN.\n", o->models[i]);
            continue;
        }
        if (m.app_profile) {
            add_unique(profiles, m.arn);
            if (notes)
                buf_addf(notes,
                         "%.300s is an application inference profile: also grant its models (the foundation-model "
                         "ARNs it was copied from).\n",
                         m.arn);
            continue;
        }
        const char *const *regions = m.geo[0] ? setup_geo_regions(m.geo) : NULL;
        if (m.geo[0]) {
            snprintf(arn, sizeof arn, "arn:%s:bedrock:%s:%s:inference-profile/%s.%s", part, o->region, o->account,
                     m.geo, m.base);
            add_unique(profiles, arn);
            for (size_t r = 0; regions && regions[r]; r++) {
                snprintf(arn, sizeof arn, "arn:%s:bedrock:%s::foundation-model/%s", part, regions[r], m.base);
                add_unique(via, arn);
            }
        } else {
            snprintf(arn, sizeof arn, "arn:%s:bedrock:%s::foundation-model/%s", part, o->region, m.base);
            add_unique(direct, arn);
        }
        snprintf(arn, sizeof arn, "arn:%s:bedrock:%s::foundation-model/%s", part, o->region, m.base);
        add_unique(count, arn);
        if (m.geo[0]) {
            snprintf(arn, sizeof arn, "arn:%s:bedrock:%s:%s:inference-profile/%s.%s", part, o->region, o->account,
                     m.geo, m.base);
            add_unique(count, arn);
        }
    }
    static const char *const invoke[] = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", NULL};
    if (json_array_size(profiles))
        json_array_append_new(st, statement("InvokeInferenceProfiles", strs(invoke), json_incref(profiles)));
    if (json_array_size(via)) {
        json_t *s = statement("InvokeModelsThroughProfiles", strs(invoke), json_incref(via));
        /* only through the profiles above (the models in other regions are
         * reached by cross-Region routing, never called directly) */
        json_t *cond = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(profiles, i, v)
        {
            if (!strstr(json_string_value(v), ":application-inference-profile/"))
                json_array_append(cond, v);
        }
        json_object_set_new(s, "Condition", json_pack("{s:{s:o}}", "StringLike", "bedrock:InferenceProfileArn", cond));
        json_array_append_new(st, s);
    }
    if (json_array_size(direct))
        json_array_append_new(st, statement("InvokeModelsInRegion", strs(invoke), json_incref(direct)));
    if (json_array_size(count)) {
        static const char *const ct[] = {"bedrock:CountTokens", NULL};
        json_array_append_new(st, statement("CountTokens", strs(ct), json_incref(count)));
    }
    static const char *const disc[] = {"bedrock:ListInferenceProfiles", "bedrock:GetInferenceProfile",
                                       "bedrock:ListFoundationModels", "bedrock:GetFoundationModel", NULL};
    static const char *const star[] = {"*", NULL};
    json_array_append_new(st, statement("Discovery", strs(disc), strs(star)));
    if (o->bearer_token) {
        static const char *const bt[] = {"bedrock:CallWithBearerToken", NULL};
        json_array_append_new(st, statement("ApiKeyUse", strs(bt), strs(star)));
    }
    json_decref(profiles);
    json_decref(via);
    json_decref(direct);
    json_decref(count);
}

static void monitoring_statements(const struct setup_policy_options *o, const char *part, json_t *st)
{
    const char *group = o->cfg && o->cfg->log_group[0] ? o->cfg->log_group : "/brock/*";
    const char *ns = o->cfg ? o->cfg->metric_namespace : MONITOR_DEFAULT_NAMESPACE;
    const char *prefix = o->prefix && *o->prefix ? o->prefix : SETUP_DEFAULT_PREFIX;
    char a1[700], a2[700], a3[700];
    snprintf(a1, sizeof a1, "arn:%s:logs:%s:%s:log-group:%s", part, o->region, o->account, group);
    snprintf(a2, sizeof a2, "arn:%s:logs:%s:%s:log-group:%s:*", part, o->region, o->account, group);
    snprintf(a3, sizeof a3, "arn:%s:logs:%s:%s:log-group:%s:log-stream:*", part, o->region, o->account, group);

    static const char *const grp[] = {"logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DescribeLogStreams",
                                      NULL};
    json_array_append_new(st, statement("AuditLogGroup", strs(grp), json_pack("[s, s]", a1, a2)));
    static const char *const stream[] = {"logs:CreateLogStream", "logs:PutLogEvents", NULL};
    json_array_append_new(st, statement("AuditLogEvents", strs(stream), json_pack("[s]", a3)));

    static const char *const pmd[] = {"cloudwatch:PutMetricData", NULL};
    static const char *const star[] = {"*", NULL};
    json_t *s = statement("Metrics", strs(pmd), strs(star));
    json_object_set_new(s, "Condition", json_pack("{s:{s:s}}", "StringEquals", "cloudwatch:namespace", ns));
    json_array_append_new(st, s);

    char alarm[300], dash[300];
    snprintf(alarm, sizeof alarm, "arn:%s:cloudwatch:%s:%s:alarm:%s-*", part, o->region, o->account, prefix);
    snprintf(dash, sizeof dash, "arn:%s:cloudwatch::%s:dashboard/%s-*", part, o->account, prefix);
    static const char *const al[] = {"cloudwatch:PutMetricAlarm", NULL};
    json_array_append_new(st, statement("Alarms", strs(al), json_pack("[s]", alarm)));
    static const char *const db[] = {"cloudwatch:PutDashboard", "cloudwatch:GetDashboard", NULL};
    json_array_append_new(st, statement("Dashboards", strs(db), json_pack("[s]", dash)));
    static const char *const rd[] = {"cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData", NULL};
    json_array_append_new(st, statement("ReadMetricsAndAlarms", strs(rd), strs(star)));

    /* what --invocation-logging needs (an administrator's one-time setup) */
    static const char *const lg[] = {"bedrock:PutModelInvocationLoggingConfiguration",
                                     "bedrock:GetModelInvocationLoggingConfiguration",
                                     "bedrock:DeleteModelInvocationLoggingConfiguration", NULL};
    json_array_append_new(st, statement("InvocationLoggingConfig", strs(lg), strs(star)));
    char role[300];
    snprintf(role, sizeof role, "arn:%s:iam::%s:role/%s", part, o->account, SETUP_LOGGING_ROLE);
    static const char *const iam[] = {"iam:CreateRole", "iam:PutRolePolicy", "iam:GetRole", NULL};
    json_array_append_new(st, statement("InvocationLoggingRole", strs(iam), json_pack("[s]", role)));
    static const char *const pass[] = {"iam:PassRole", NULL};
    s = statement("PassInvocationLoggingRole", strs(pass), json_pack("[s]", role));
    json_object_set_new(s, "Condition",
                        json_pack("{s:{s:s}}", "StringEquals", "iam:PassedToService", "bedrock.amazonaws.com"));
    json_array_append_new(st, s);
}

static enum brock_status batch_statements(const struct setup_policy_options *o, const char *part, json_t *st,
                                          struct brock_err *e)
{
    char role[600], bucket[300], prefix[600];
    if (o->batch_role_arn && *o->batch_role_arn) {
        if (strncmp(o->batch_role_arn, "arn:", 4) || !strstr(o->batch_role_arn, ":role/") ||
            strlen(o->batch_role_arn) >= sizeof role)
            return err_set(e, BROCK_ERR_USAGE, "--role-arn: expected an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
        snprintf(role, sizeof role, "%s", o->batch_role_arn);
    } else {
        snprintf(role, sizeof role, "arn:%s:iam::%s:role/BrockBatchRole", part, o->account);
    }
    if (o->s3_uri && *o->s3_uri) {
        if (strncmp(o->s3_uri, "s3://", 5))
            return err_set(e, BROCK_ERR_USAGE, "--s3-prefix: expected s3://BUCKET/PREFIX");
        const char *b = o->s3_uri + 5;
        const char *slash = strchr(b, '/');
        size_t bl = slash ? (size_t)(slash - b) : strlen(b);
        if (bl < 3 || bl > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") < bl)
            return err_set(e, BROCK_ERR_USAGE, "--s3-prefix: the bucket name must be 3-63 of a-z 0-9 . -");
        snprintf(bucket, sizeof bucket, "%.*s", (int)bl, b);
        snprintf(prefix, sizeof prefix, "%s", slash ? slash + 1 : "");
    } else {
        snprintf(bucket, sizeof bucket, "brock-batch-%s", o->account);
        snprintf(prefix, sizeof prefix, "batch/");
    }
    json_t *res = json_array();
    char arn[700];
    snprintf(arn, sizeof arn, "arn:%s:bedrock:%s:%s:model-invocation-job/*", part, o->region, o->account);
    json_array_append_new(res, json_string(arn));
    for (size_t i = 0; i < o->n_models; i++) {
        struct model_ref m;
        if (!split_model(o->models[i], &m) || m.app_profile)
            continue;
        snprintf(arn, sizeof arn, "arn:%s:bedrock:*::foundation-model/%s", part, m.base);
        add_unique(res, arn);
        if (m.geo[0]) {
            snprintf(arn, sizeof arn, "arn:%s:bedrock:%s:%s:inference-profile/%s.%s", part, o->region, o->account,
                     m.geo, m.base);
            add_unique(res, arn);
        }
    }
    static const char *const jobs[] = {"bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob",
                                       "bedrock:StopModelInvocationJob", NULL};
    json_array_append_new(st, statement("BatchJobs", strs(jobs), res));
    static const char *const list[] = {"bedrock:ListModelInvocationJobs", NULL};
    static const char *const star[] = {"*", NULL};
    json_array_append_new(st, statement("ListBatchJobs", strs(list), strs(star)));
    static const char *const pass[] = {"iam:PassRole", NULL};
    json_t *s = statement("PassBatchRole", strs(pass), json_pack("[s]", role));
    json_object_set_new(s, "Condition",
                        json_pack("{s:{s:s}}", "StringEquals", "iam:PassedToService", "bedrock.amazonaws.com"));
    json_array_append_new(st, s);
    char barn[400], oarn[1100], pfx[700];
    snprintf(barn, sizeof barn, "arn:%s:s3:::%s", part, bucket);
    snprintf(oarn, sizeof oarn, "arn:%s:s3:::%s/%s*", part, bucket, prefix);
    snprintf(pfx, sizeof pfx, "%s*", prefix);
    static const char *const obj[] = {"s3:PutObject", "s3:GetObject", NULL};
    json_array_append_new(st, statement("BatchObjects", strs(obj), json_pack("[s]", oarn)));
    static const char *const lb[] = {"s3:ListBucket", NULL};
    s = statement("BatchBucketListing", strs(lb), json_pack("[s]", barn));
    json_object_set_new(s, "Condition", json_pack("{s:{s:s}}", "StringLike", "s3:prefix", pfx));
    json_array_append_new(st, s);
    return BROCK_OK;
}

static size_t chars_without_space(const char *s)
{
    size_t n = 0;
    bool in_str = false;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '"' && (i == 0 || s[i - 1] != '\\'))
            in_str = !in_str;
        if (in_str || (s[i] != ' ' && s[i] != '\n' && s[i] != '\t'))
            n++;
    }
    return n;
}

enum brock_status setup_iam_policy(const struct setup_policy_options *o, char **out, struct buf *notes,
                                   struct brock_err *e)
{
    *out = NULL;
    if (!o || !o->kinds || (o->kinds & ~SETUP_POLICY_ALL))
        return err_set(e, BROCK_ERR_USAGE, "--for: expected invoke, monitoring, batch or all");
    if (!o->region || !endpoint_region_valid(o->region))
        return err_set(e, BROCK_ERR_CONFIG, "no valid region for the policy");
    if (!o->account || strlen(o->account) != 12 || strspn(o->account, "0123456789") != 12)
        return err_set(e, BROCK_ERR_USAGE, "the account id must be 12 digits (--account)");
    if ((o->kinds & SETUP_POLICY_INVOKE) && o->n_models == 0)
        return err_set(e, BROCK_ERR_USAGE, "no models to grant: pass --model");
    const char *part = endpoint_partition_of(o->region)->id;
    json_t *st = json_array();
    if (o->kinds & SETUP_POLICY_INVOKE)
        invoke_statements(o, part, st, notes);
    if (o->kinds & SETUP_POLICY_MONITORING)
        monitoring_statements(o, part, st);
    if (o->kinds & SETUP_POLICY_BATCH) {
        enum brock_status rc = batch_statements(o, part, st, e);
        if (rc != BROCK_OK) {
            json_decref(st);
            return rc;
        }
    }
    json_t *doc = json_pack("{s:s, s:o}", "Version", "2012-10-17", "Statement", st);
    *out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!*out)
        return err_set(e, BROCK_ERR_INTERNAL, "could not write the policy");
    size_t chars = chars_without_space(*out);
    if (notes && chars > SETUP_POLICY_MAX_CHARS)
        buf_addf(notes,
                 "This policy has %zu characters without whitespace, over the %d of a managed policy: print the "
                 "kinds separately (--for invoke, monitoring, batch).\n",
                 chars, SETUP_POLICY_MAX_CHARS);
    return BROCK_OK;
}
