/* cmd_batch.c - `brock batch`: many prompts at once (src/batch/batch.h, docs/batch.md).
 *
 *   brock batch INPUT.jsonl -o OUTPUT.jsonl [--format json|text] [--concurrency N]
 *               [--rpm N] [--tpm N] [--model M] [--system TEXT] [--max-tokens N]
 *               [--temperature T] [--restart] [--cache|--no-cache] [--max-budget-usd X]
 *   brock batch --prompt-file PROMPT.txt FILE... -o OUTPUT.jsonl
 *   brock batch ... --engine bedrock --s3-prefix s3://bucket/prefix/ --role-arn ARN [--job-name N]
 *   brock batch status JOB [--json] | list [--json] | stop JOB | fetch JOB -o OUTPUT.jsonl
 *
 * Progress goes to stderr: a line redrawn in place on a terminal; nothing
 * otherwise, or a line every 5 seconds with --verbose. Malformed lines are
 * reported as "brock: warning: FILE:LINE: ..." (the first 20, then a count).
 * The summary is one stderr line. Exit status: 0 when every record is ok, 5
 * when a record failed (its error is in its output record), 3 when records
 * were invalid input (and none failed), else the run's own error (2 usage,
 * 4 credentials, 8 budget, 130 interrupted, ...). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/budget.h"
#include "../agent/ledger.h"
#include "../agent/respcache.h"
#include "../agent/settings.h"
#include "../batch/batch.h"
#include "../bedrock/catalog.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/timeutil.h"
#include "exitcode.h"
#include "runtime.h"
#include "term.h"

#define MAX_WARNINGS_SHOWN 20
#define VERBOSE_EVERY_MS 5000

#define MAX_PROFILES_ASKED 16

struct view {
    bool tty, verbose;
    bool job_named; /* -v: the Bedrock job's ARN went out */
    size_t warnings;
    int64_t last_line_ms;
    size_t last_len;
    /* application inference profiles lines name: asked once each */
    struct runtime *rt;
    const char *data_dir;
    struct {
        char *arn;
        const struct model_info *m;
    } asked[MAX_PROFILES_ASKED];
    size_t n_asked;
};

/* batch_options.profile_model_of: each ARN asked once (its answer, or
 * NULL, kept for the run); past MAX_PROFILES_ASKED, not asked. */
static const struct model_info *profile_model_of(void *ctx, const char *arn)
{
    struct view *v = ctx;
    for (size_t i = 0; i < v->n_asked; i++)
        if (!strcmp(v->asked[i].arn, arn))
            return v->asked[i].m;
    if (v->n_asked == MAX_PROFILES_ASKED)
        return NULL;
    const struct model_info *m = cli_profile_lookup(v->rt, v->data_dir, NULL, arn, v->verbose);
    v->asked[v->n_asked].arn = xstrdup(arn);
    v->asked[v->n_asked++].m = m;
    return m;
}

static void on_warning(void *ctx, const char *msg)
{
    struct view *v = ctx;
    v->warnings++;
    if (v->warnings > MAX_WARNINGS_SHOWN)
        return;
    if (v->tty && v->last_len)
        fprintf(stderr, "\r%*s\r", (int)v->last_len, "");
    v->last_len = 0;
    struct buf safe = BUF_INIT(4096);
    term_sanitize(&safe, msg, strlen(msg), TERM_SAN_ONELINE);
    fprintf(stderr, "brock: warning: %s\n", buf_cstr(&safe));
    buf_free(&safe);
}

static void human(double v, char *out, size_t n)
{
    if (v >= 1e6)
        snprintf(out, n, "%.1fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, n, "%.0fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

static void end_line(struct view *v)
{
    if (v->tty && v->last_len)
        fprintf(stderr, "\r%*s\r", (int)v->last_len, "");
    v->last_len = 0;
}

static void on_progress(void *ctx, const struct batch_progress *p)
{
    struct view *v = ctx;
    int64_t now = time_mono_ms();
    if (p->job_arn && v->verbose && !v->job_named) {
        /* as soon as the job exists, so it can be stopped or watched from
         * elsewhere (brock batch stop|status) while this run waits */
        end_line(v);
        fprintf(stderr, "brock: batch inference job %s\n", p->job_arn);
        v->job_named = true;
    }
    if (!v->tty && (!v->verbose || now - v->last_line_ms < VERBOSE_EVERY_MS))
        return;
    v->last_line_ms = now;
    char in[16], out[16], eta[32] = "", line[300];
    human((double)p->input_tokens, in, sizeof in);
    human((double)p->output_tokens, out, sizeof out);
    if (p->eta_s >= 0 && p->done < p->total)
        snprintf(eta, sizeof eta, ", ETA %.0fs", p->eta_s);
    int n = snprintf(line, sizeof line, "batch: %s %zu/%zu done (%zu failed, %zu invalid), %.1f/s, %s in / %s out "
                                        "tokens, $%.4f%s%s",
                     p->phase ? p->phase : "", p->done, p->total, p->failed, p->invalid, p->rate, in, out,
                     p->cost_usd, eta, p->admit_rps > 0 ? ", throttled: limiting" : "");
    if (n < 0)
        return;
    if (v->tty) {
        int w = term_width(2);
        size_t len = (size_t)n < (size_t)(w > 1 ? w - 1 : 79) ? (size_t)n : (size_t)(w > 1 ? w - 1 : 79);
        fprintf(stderr, "\r%.*s%*s", (int)len, line, v->last_len > len ? (int)(v->last_len - len) : 0, "");
        v->last_len = len;
    } else {
        fprintf(stderr, "brock: %s\n", line);
    }
    fflush(stderr);
}

/* ---- the AWS side ------------------------------------------------------------------ */

static struct aws_client_config aws_config(struct runtime *rt, bool with_retry)
{
    return (struct aws_client_config){
        .region = rt->settings.region.region,
        .lookup = &rt->settings.lookup,
        .endpoint_url = rt->endpoint_url,
        .endpoint_url_services = rt->emu ? 0 : rt->endpoint_services,
        .endpoint_label = rt->emu ? "--emulator" : "--endpoint-url",
        .creds = runtime_creds(rt),
        .bearer_token = rt->emu ? NULL : rt->settings.bearer_token,
        .retry = with_retry ? rt->retry : NULL,
        .http = runtime_http_options(rt),
    };
}

/* ---- status / list / stop ------------------------------------------------------------ */

static void iso(int64_t ms, char out[32])
{
    if (!ms) {
        snprintf(out, 32, "-");
        return;
    }
    char t[21];
    time_fmt_iso8601(ms / 1000, t);
    snprintf(out, 32, "%s", t);
}

static json_t *job_json(const struct batch_job *j)
{
    char sub[32], end[32];
    iso(j->submit_ms, sub);
    iso(j->end_ms, end);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "jobArn", j->arn, "jobId", j->id, "jobName",
                          j->name, "status", j->status, "modelId", j->model_id, "inputUri", j->input_uri, "outputUri",
                          j->output_uri, "submitTime", sub, "endTime", end);
    if (j->message[0])
        json_object_set_new(o, "message", json_string(j->message));
    if (j->total >= 0) {
        json_object_set_new(o, "totalRecordCount", json_integer(j->total));
        json_object_set_new(o, "processedRecordCount", json_integer(j->processed));
        json_object_set_new(o, "successRecordCount", json_integer(j->success));
        json_object_set_new(o, "errorRecordCount", json_integer(j->errors));
    }
    return o;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
    json_decref(v);
}

static int job_command(const struct cli_config *cfg, struct runtime *rt, const char *what)
{
    struct brock_err e = {0};
    struct aws_client_config ac = aws_config(rt, true);
    struct aws_client *c = aws_client_new(&ac);
    enum brock_status st = BROCK_OK;
    const char *job = cfg->nargs > 1 ? cfg->args[1] : NULL;
    if (strcmp(what, "list") && !job) {
        st = err_set(&e, BROCK_ERR_USAGE, "brock batch %s needs a job ARN or id", what);
    } else if (!strcmp(what, "status")) {
        struct batch_job j;
        if ((st = batch_job_get(c, job, &j, &e)) == BROCK_OK) {
            if (cfg->json) {
                print_json(job_json(&j));
            } else {
                char sub[32], end[32];
                iso(j.submit_ms, sub);
                iso(j.end_ms, end);
                printf("job       %s\nname      %s\nstatus    %s%s%s\nmodel     %s\ninput     %s\noutput    %s\n"
                       "submitted %s\nended     %s\n",
                       j.arn, j.name, j.status, j.message[0] ? ": " : "", j.message, j.model_id, j.input_uri,
                       j.output_uri, sub, end);
                if (j.total >= 0)
                    printf("records   %lld processed of %lld (%lld ok, %lld failed)\n", (long long)j.processed,
                           (long long)j.total, (long long)j.success, (long long)j.errors);
            }
        }
    } else if (!strcmp(what, "list")) {
        struct batch_job *jobs = NULL;
        size_t n = 0;
        if ((st = batch_job_list(c, NULL, NULL, 100, &jobs, &n, &e)) == BROCK_OK) {
            if (cfg->json) {
                json_t *arr = json_array();
                for (size_t i = 0; i < n; i++)
                    json_array_append_new(arr, job_json(&jobs[i]));
                print_json(json_pack("{s:o}", "jobs", arr));
            } else {
                printf("%-14s %-20s %-30s %-13s %s\n", "JOB", "SUBMITTED", "NAME", "RECORDS", "STATUS");
                for (size_t i = 0; i < n; i++) {
                    char sub[32], rec[32] = "-";
                    iso(jobs[i].submit_ms, sub);
                    if (jobs[i].total >= 0)
                        snprintf(rec, sizeof rec, "%lld/%lld", (long long)jobs[i].processed,
                                 (long long)jobs[i].total);
                    printf("%-14s %-20s %-30.30s %-13s %s\n", jobs[i].id, sub, jobs[i].name, rec, jobs[i].status);
                }
            }
            free(jobs);
        }
    } else if (!strcmp(what, "stop")) {
        if ((st = batch_job_stop(c, job, &e)) == BROCK_OK)
            printf("stopping %s\n", job);
    }
    aws_client_free(c);
    return st == BROCK_OK ? EXIT_OK : cli_fail(&e);
}

/* ---- a run ---------------------------------------------------------------------------- */

static void summary(const char *out, const struct batch_summary *s)
{
    char in[16], ot[16];
    human((double)s->input_tokens, in, sizeof in);
    human((double)s->output_tokens, ot, sizeof ot);
    fprintf(stderr,
            "brock: batch: %zu records -> %s: %zu ok, %zu failed, %zu invalid, %zu done before, %zu from the cache; "
            "%s in / %s out tokens, $%.4f, %.1f s\n",
            s->total, out, s->ok, s->failed, s->invalid, s->resumed, s->cached, in, ot, s->cost_usd, s->wall_s);
}

int cmd_batch(const struct cli_config *cfg)
{
    const char *sub = cfg->nargs ? cfg->args[0] : NULL;
    bool job_cmd = sub && (!strcmp(sub, "status") || !strcmp(sub, "list") || !strcmp(sub, "stop"));
    bool fetch = sub && !strcmp(sub, "fetch");
    struct brock_err e = {0};
    if (!job_cmd && !fetch) {
        if (!cfg->output)
            return cli_fail(&(struct brock_err){.status = BROCK_ERR_USAGE,
                                                .msg = "brock batch needs -o OUTPUT.jsonl (see brock help, docs/batch.md)"});
        if (!cfg->prompt_file && cfg->nargs != 1)
            return cli_fail(&(struct brock_err){
                .status = BROCK_ERR_USAGE,
                .msg = "brock batch takes one INPUT.jsonl, or --prompt-file PROMPT.txt and the files"});
    }
    struct runtime rt;
    enum brock_status st = runtime_init(&rt, cfg, &e);
    if (st != BROCK_OK)
        return cli_fail(&e);
    runtime_install_sigint();
    /* SIGTERM (a scheduler, `kill`) stops a run as Ctrl-C does: what is
     * finished is written and its ledger rows committed */
    runtime_install_sigterm();
    int rc = EXIT_OK;
    if (job_cmd) {
        rc = job_command(cfg, &rt, sub);
        runtime_cleanup(&rt);
        return rc;
    }

    struct view v = {.tty = term_isatty(2), .verbose = cfg->verbose};
    struct settings *settings = NULL;
    struct brock_err se = {0};
    if (settings_load(NULL, &settings, &se) != BROCK_OK)
        fprintf(stderr, "brock: warning: settings: %s\n", se.msg);
    const json_t *brock = settings ? settings->brock : NULL;
    struct store *store = NULL;
    /* one ledger row per record: checkpoint the WAL once at the end, not inside commits */
    struct store_options so = {.idle_checkpoints = true};
    if (store_open(&so, &store, &se) != BROCK_OK) {
        fprintf(stderr, "brock: warning: no usage ledger or response cache for this run: %s\n", se.msg);
        store = NULL;
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, ".");
    const char *project = json_string_value(json_object_get(brock, "project"));
    if (!project || !*project)
        project = cwd;
    struct ledger_identity id = {0};
    if (store)
        ledger_identity_resolve(store_dir(store), NULL, NULL, NULL, time_now_ms(), &id, NULL);

    struct respcache_policy cache;
    struct budget budget;
    bool budget_ok = false;
    if ((st = respcache_policy_init(&cache, brock, true, cfg->cache, cfg->no_cache, &e)) != BROCK_OK ||
        (st = budget_init(&budget, brock, settings, project, cfg->max_budget_usd, cfg->ignore_budget, &e)) !=
            BROCK_OK) {
        rc = cli_fail(&e);
        goto out;
    }
    budget_ok = true;
    if (store && cache.max_bytes > 0)
        store_cache_set_limit(store, cache.max_bytes);

    struct batch_options o = {
        .input_path = cfg->prompt_file || fetch ? NULL : cfg->args[0],
        .prompt_file = cfg->prompt_file,
        .files = cfg->prompt_file ? cfg->args : NULL,
        .n_files = cfg->prompt_file ? cfg->nargs : 0,
        .output_path = cfg->output,
        .format = cfg->format && !strcmp(cfg->format, "text") ? BATCH_FORMAT_TEXT : BATCH_FORMAT_JSON,
        .restart = cfg->restart,
        .model = cfg->model && *cfg->model ? cfg->model : getenv("ANTHROPIC_MODEL"),
        .region = rt.settings.region.region,
        .system = cfg->system,
        .max_tokens = cfg->max_tokens,
        .temperature = cfg->temperature,
        .temperature_set = cfg->temperature_set,
        .concurrency = (int)cfg->concurrency,
        .max_rpm = cfg->rpm,
        .max_tpm = cfg->tpm,
        .s3_prefix = cfg->s3_prefix,
        .role_arn = cfg->role_arn,
        .job_name = cfg->job_name,
        .poll_ms = (int64_t)(cfg->poll_interval * 1000),
        .aws = aws_config(&rt, true),
        .store = store,
        .cache = &cache,
        .budget = &budget,
        .project = project,
        .user = id.arn[0] ? id.arn : NULL,
        .on_progress = on_progress,
        .on_warning = on_warning,
        .cb_ctx = &v,
        .progress_interval_ms = v.tty ? 200 : VERBOSE_EVERY_MS,
        .cancel = &runtime_cancel,
    };
    if ((!o.model || !*o.model) && settings && settings->model)
        o.model = settings->model;
    v.rt = &rt;
    v.data_dir = store ? store_dir(store) : NULL;
    o.profile_model_of = profile_model_of;
    if (o.model && catalog_is_app_profile(o.model))
        o.profile_model = profile_model_of(&v, o.model);
    struct batch_summary sum;
    if (fetch) {
        if (cfg->nargs < 2)
            st = err_set(&e, BROCK_ERR_USAGE, "brock batch fetch needs a job ARN or id");
        else
            st = batch_fetch(&o, cfg->args[1], &sum, &e);
    } else if (cfg->engine && !strcmp(cfg->engine, "bedrock")) {
        st = batch_run_bedrock(&o, &sum, &e);
    } else {
        if (cfg->s3_prefix || cfg->role_arn)
            fprintf(stderr, "brock: warning: --s3-prefix and --role-arn are for --engine bedrock; running locally\n");
        st = batch_run_local(&o, &sum, &e);
    }
    end_line(&v);
    if (v.warnings > MAX_WARNINGS_SHOWN)
        fprintf(stderr, "brock: warning: ... and %zu more (their records say why)\n", v.warnings - MAX_WARNINGS_SHOWN);
    if (sum.job_arn[0] && ((cfg->verbose && !v.job_named) || st != BROCK_OK))
        fprintf(stderr, "brock: batch inference job %s\n", sum.job_arn);
    if (st == BROCK_OK || st == BROCK_ERR_INTERRUPTED || st == BROCK_ERR_BUDGET)
        summary(cfg->output, &sum);
    if (st != BROCK_OK)
        rc = cli_fail(&e);
    else if (sum.failed)
        rc = EXIT_SERVICE;
    else if (sum.invalid)
        rc = EXIT_CONFIG;
out:
    for (size_t i = 0; i < v.n_asked; i++)
        free(v.asked[i].arn);
    if (budget_ok)
        budget_cleanup(&budget);
    if (store && store_checkpoint(store, NULL, NULL, &se) != BROCK_OK && cfg->verbose)
        fprintf(stderr, "brock: warning: %s\n", se.msg);
    store_close(store);
    settings_free(settings);
    runtime_cleanup(&rt);
    return rc;
}
