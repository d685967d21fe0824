/* cmd_setup.c - `brock setup monitoring` and `brock setup iam-policy`.
 *
 *   brock setup monitoring [--log-group NAME] [--retention-days N]
 *         [--invocation-logging [--logging-role-arn ARN]] [--daily-budget-usd X]
 *         [--alarm-sns-topic ARN] [--cost-metric emf|bedrock] [--model M[,M...]]
 *         [--account ID] [--dry-run]
 *   brock setup iam-policy [--for invoke|monitoring|batch|all] [--model M[,M...]] [--account ID]
 *
 * The plans are src/monitor/setup.h's; this file resolves the inputs
 * (settings, models, account, budget) and sends the requests through
 * aws_client_send. --dry-run prints every request (method, service,
 * operation, body) and sends none, not even STS GetCallerIdentity: without
 * --account the ARNs show AWS's example account 111122223333. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/settings.h"
#include "../aws/sts.h"
#include "../bedrock/catalog.h"
#include "../monitor/monitor.h"
#include "../monitor/setup.h"
#include "../util/alloc.h"
#include "exitcode.h"
#include "runtime.h"

#define EXAMPLE_ACCOUNT "111122223333"
#define DEFAULT_MODELS "sonnet,opus,haiku"

struct models {
    char id[SETUP_MAX_MODELS][256];
    const char *ptr[SETUP_MAX_MODELS];
    size_t n;
};

/* --model (comma-separated), else the settings' model, else the aliases,
 * each resolved for the region as a request would be. */
static enum brock_status resolve_models(const char *spec, const char *region, struct models *m, struct brock_err *e)
{
    m->n = 0;
    char *copy = xstrdup(spec);
    enum brock_status st = BROCK_OK;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && st == BROCK_OK;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t l = strlen(tok);
        while (l && tok[l - 1] == ' ')
            tok[--l] = '\0';
        if (!*tok)
            continue;
        struct model_choice c;
        if ((st = catalog_resolve(tok, region, false, &c, e)) != BROCK_OK)
            break;
        bool dup = false;
        for (size_t i = 0; i < m->n; i++)
            dup |= !strcmp(m->id[i], c.model_id);
        if (dup)
            continue;
        if (m->n == SETUP_MAX_MODELS) {
            st = err_set(e, BROCK_ERR_USAGE, "--model: at most %d models", SETUP_MAX_MODELS);
            break;
        }
        snprintf(m->id[m->n], sizeof m->id[0], "%s", c.model_id);
        m->ptr[m->n] = m->id[m->n];
        m->n++;
    }
    free(copy);
    return st;
}

static enum brock_status load_settings(struct settings **out, struct brock_err *e)
{
    char cwd[PATH_MAX];
    struct settings_opts so = {.cwd = getcwd(cwd, sizeof cwd) ? cwd : NULL};
    return settings_load(&so, out, e);
}

static enum brock_status account_id(const struct cli_config *cfg, struct runtime *rt, char out[16], struct brock_err *e)
{
    if (cfg->account) {
        if (strlen(cfg->account) != 12 || strspn(cfg->account, "0123456789") != 12)
            return err_set(e, BROCK_ERR_USAGE, "--account: expected a 12-digit AWS account id");
        snprintf(out, 16, "%s", cfg->account);
        return BROCK_OK;
    }
    struct aws_client *c = runtime_client(rt, NULL);
    struct sts_identity id;
    enum brock_status st = sts_get_caller_identity(c, &id, e);
    aws_client_free(c);
    if (st != BROCK_OK)
        return err_prefix(e, "finding the account id (or pass --account)");
    snprintf(out, 16, "%s", id.account);
    return BROCK_OK;
}

/* ---- sending a plan -------------------------------------------------------------------- */

struct transport {
    struct aws_client *client; /* the monitoring region */
    struct aws_client *iam;    /* IAM's global endpoint */
    enum endpoint_service iam_svc;
    bool have_iam;
};

static enum brock_status send_req(void *ctx, const struct setup_request *r, struct buf *answer, struct brock_err *e)
{
    struct transport *t = ctx;
    enum endpoint_service svc;
    struct aws_client *c = t->client;
    switch (r->service) {
    case SETUP_SVC_LOGS:
        svc = ENDPOINT_SVC_LOGS;
        break;
    case SETUP_SVC_MONITORING:
        svc = ENDPOINT_SVC_MONITORING;
        break;
    case SETUP_SVC_BEDROCK:
        svc = ENDPOINT_SVC_BEDROCK;
        break;
    case SETUP_SVC_STS:
        svc = ENDPOINT_SVC_STS;
        break;
    case SETUP_SVC_IAM:
    default:
        if (!t->have_iam)
            return err_set(e, BROCK_ERR_CONFIG, "this brock cannot call IAM");
        svc = t->iam_svc;
        c = t->iam;
        break;
    }
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st = http_headers_add(&h, "Content-Type", r->content_type, e);
    if (st == BROCK_OK && r->target)
        st = http_headers_add(&h, "X-Amz-Target", r->target, e);
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = svc,
            .method = r->method,
            .path = r->path,
            .headers = &h,
            .body = r->body,
            .body_len = r->body_len,
            .protocol = r->protocol,
            .max_body = 256 * 1024,
        };
        struct aws_response resp;
        aws_response_init(&resp);
        st = aws_client_send(c, &req, &resp, e);
        if (st == BROCK_OK)
            buf_add(answer, resp.http.body.ptr ? resp.http.body.ptr : "", resp.http.body.len);
        aws_response_free(&resp);
    }
    http_headers_cleanup(&h);
    return st;
}

static void report(void *ctx, size_t step, const struct setup_request *r, const char *outcome)
{
    (void)ctx;
    printf("%2zu. %s: %s\n", step + 1, r->what, outcome);
    fflush(stdout);
}

/* The region IAM's global endpoint signs for, per partition. */
static const char *iam_region(const char *region)
{
    const char *p = endpoint_partition_of(region)->id;
    if (!strcmp(p, "aws-cn"))
        return "cn-north-1";
    if (!strcmp(p, "aws-us-gov"))
        return "us-gov-west-1";
    return "us-east-1";
}

/* ---- brock setup monitoring ------------------------------------------------------------- */

static int setup_monitoring(const struct cli_config *cfg, struct settings *set)
{
    struct brock_err e = {0};
    struct monitor_config mc;
    if (cli_monitor_config(cfg, set->brock, &mc, &e) != BROCK_OK)
        return cli_fail(&e);
    if (cfg->cost_metric && strcmp(cfg->cost_metric, "emf") && strcmp(cfg->cost_metric, "bedrock")) {
        err_set(&e, BROCK_ERR_USAGE, "--cost-metric: expected emf or bedrock");
        return cli_fail(&e);
    }
    if (cfg->retention_days && !monitor_retention_valid(cfg->retention_days)) {
        err_set(&e, BROCK_ERR_USAGE, "--retention-days: %ld is not allowed; use one of %s", cfg->retention_days,
                monitor_retention_list());
        return cli_fail(&e);
    }
    struct runtime rt;
    if (runtime_init(&rt, cfg, &e) != BROCK_OK)
        return cli_fail(&e);
    int rc = EXIT_OK;
    const char *region = mc.region[0] ? mc.region : rt.settings.region.region;
    struct models models;
    const char *spec = cfg->model ? cfg->model : set->model ? set->model : DEFAULT_MODELS;
    char account[16] = EXAMPLE_ACCOUNT;
    double budget = cfg->daily_budget_usd;
    if (budget <= 0) {
        json_t *b = json_object_get(json_object_get(set->brock, "budget"), "daily_usd");
        if (json_is_number(b) && json_number_value(b) > 0 && isfinite(json_number_value(b)))
            budget = json_number_value(b);
    }
    if (resolve_models(spec, region, &models, &e) != BROCK_OK) {
        rc = cli_fail(&e);
        goto out;
    }
    bool dry = cfg->dry_run;
    if (!dry || cfg->account) {
        if (account_id(cfg, &rt, account, &e) != BROCK_OK) {
            rc = cli_fail(&e);
            goto out;
        }
    }
    struct setup_monitoring_options o = {
        .cfg = &mc,
        .region = region,
        .account = account,
        .retention_days = (int)cfg->retention_days,
        .invocation_logging = cfg->invocation_logging,
        .logging_role_arn = cfg->logging_role_arn,
        .daily_budget_usd = budget,
        .sns_topic = cfg->alarm_sns_topic,
        .cost_source = (cfg->cost_metric && !strcmp(cfg->cost_metric, "bedrock")) ||
                               (!cfg->cost_metric && mc.metrics == MONITOR_METRICS_NONE)
                           ? SETUP_COST_BEDROCK
                           : SETUP_COST_EMF,
        .models = models.ptr,
        .n_models = models.n,
    };
    struct setup_plan plan;
    if (setup_monitoring_plan(&o, &plan, &e) != BROCK_OK) {
        rc = cli_fail(&e);
        goto out;
    }
    if (dry) {
        struct buf text = BUF_INIT(64 * 1024 * 1024);
        if (!cfg->account)
            buf_addstr(&text, "# 0. find the account id (no --account given; the ARNs below show " EXAMPLE_ACCOUNT
                              ")\nPOST sts GetCallerIdentity /\nAction=GetCallerIdentity&Version=2011-06-15\n\n");
        setup_plan_format(&plan, &text);
        fwrite(text.ptr, 1, text.len, stdout);
        buf_free(&text);
        if (plan.notes[0])
            fprintf(stderr, "brock: note: %s", plan.notes);
        setup_plan_free(&plan);
        goto out;
    }

    struct transport t = {.have_iam = endpoint_service_from_id("iam", &t.iam_svc)};
    bool needs_iam = false;
    for (size_t i = 0; i < plan.n; i++)
        needs_iam |= plan.req[i].service == SETUP_SVC_IAM;
    if (needs_iam && !t.have_iam) {
        err_set(&e, BROCK_ERR_CONFIG,
                "creating the invocation-logging role needs IAM, which this brock cannot call yet (no IAM endpoint "
                "in its endpoint table): create the role (see `brock setup monitoring --invocation-logging "
                "--dry-run`) and pass --logging-role-arn ARN");
        setup_plan_free(&plan);
        rc = cli_fail(&e);
        goto out;
    }
    t.client = runtime_client(&rt, region);
    if (needs_iam)
        t.iam = runtime_client(&rt, iam_region(region));
    printf("setting up monitoring in %s for account %s\n", region, account);
    runtime_install_sigint();
    enum brock_status st = setup_run(&plan, send_req, &t, report, NULL, NULL, &e);
    if (st != BROCK_OK) {
        rc = cli_fail(&e);
    } else {
        printf("done: log group %s, %s alarms, dashboard %s-%s\n", mc.log_group,
               budget > 0 ? "cost and throttle" : "throttle", SETUP_DEFAULT_PREFIX, region);
        if (!strcmp(mc.log_group_source, "--log-group"))
            printf("ship brock's audit events there: BROCK_LOG_GROUP=%s or \"brock\": {\"monitoring\": "
                   "{\"log_group\": \"%s\"}} in settings\n",
                   mc.log_group, mc.log_group);
    }
    if (plan.notes[0])
        fprintf(stderr, "brock: note: %s", plan.notes);
    aws_client_free(t.client);
    aws_client_free(t.iam);
    setup_plan_free(&plan);
out:
    runtime_cleanup(&rt);
    return rc;
}

/* ---- brock setup iam-policy ----------------------------------------------------------------- */

static int setup_iam(const struct cli_config *cfg, struct settings *set)
{
    struct brock_err e = {0};
    unsigned kinds = SETUP_POLICY_INVOKE;
    if (cfg->policy_for && !setup_policy_kind_parse(cfg->policy_for, &kinds)) {
        err_set(&e, BROCK_ERR_USAGE, "--for: expected invoke, monitoring, batch or all");
        return cli_fail(&e);
    }
    struct monitor_config mc;
    if (cli_monitor_config(cfg, set->brock, &mc, &e) != BROCK_OK)
        return cli_fail(&e);
    struct runtime rt;
    if (runtime_init(&rt, cfg, &e) != BROCK_OK)
        return cli_fail(&e);
    int rc = EXIT_OK;
    const char *region = rt.settings.region.region;
    struct models models;
    const char *spec = cfg->model ? cfg->model : set->model ? set->model : DEFAULT_MODELS;
    char account[16];
    char *text = NULL;
    struct buf notes = BUF_INIT(8192);
    json_t *batch = json_object_get(set->brock, "batch");
    struct setup_policy_options o = {
        .kinds = kinds,
        .region = region,
        .account = account,
        .bearer_token = rt.settings.bearer_token != NULL,
        .cfg = &mc,
        .batch_role_arn = json_string_value(json_object_get(batch, "role_arn")),
        .s3_uri = json_string_value(json_object_get(batch, "s3_prefix")),
    };
    if (resolve_models(spec, region, &models, &e) != BROCK_OK || account_id(cfg, &rt, account, &e) != BROCK_OK) {
        rc = cli_fail(&e);
        goto out;
    }
    o.models = models.ptr;
    o.n_models = models.n;
    if (setup_iam_policy(&o, &text, &notes, &e) != BROCK_OK) {
        rc = cli_fail(&e);
        goto out;
    }
    puts(text);
    if (notes.len)
        fprintf(stderr, "brock: note: %s", buf_cstr(&notes));
out:
    free(text);
    buf_free(&notes);
    runtime_cleanup(&rt);
    return rc;
}

int cmd_setup(const struct cli_config *cfg)
{
    const char *what = cfg->nargs ? cfg->args[0] : "";
    if (cfg->nargs != 1 || (strcmp(what, "monitoring") && strcmp(what, "iam-policy"))) {
        fprintf(stderr, "brock: setup: expected `brock setup monitoring` or `brock setup iam-policy`\n");
        return EXIT_USAGE;
    }
    struct brock_err e = {0};
    struct settings *set = NULL;
    if (load_settings(&set, &e) != BROCK_OK) {
        settings_free(set);
        return cli_fail(&e);
    }
    int rc = !strcmp(what, "monitoring") ? setup_monitoring(cfg, set) : setup_iam(cfg, set);
    settings_free(set);
    return rc;
}
