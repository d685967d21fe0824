/* cmd_logs.c - `brock logs status|flush`, and the audit-log shipping other
 * commands do (at exit, and in the REPL's background): see cli.h.
 *
 *   brock logs status [--json]   the spool (events, bytes, oldest), the
 *                                destination (group, stream, region,
 *                                endpoint) and the last runs' outcome
 *   brock logs flush             ship everything now, with progress on a
 *                                terminal; waits for another shipper first
 *
 * Settings: brock.monitoring (monitor.h) from the settings files, the
 * BROCK_LOG_* variables, and --log-group. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/settings.h"
#include "../monitor/monitor.h"
#include "../monitor/shipper.h"
#include "../store/store.h"
#include "../monitor/audit.h"
#include "../util/log.h"
#include "../util/timeutil.h"
#include "exitcode.h"
#include "runtime.h"

enum brock_status cli_monitor_config(const struct cli_config *cfg, const json_t *brock, struct monitor_config *mc,
                                     struct brock_err *e)
{
    struct settings *set = NULL;
    enum brock_status st = BROCK_OK;
    if (!brock) {
        char cwd[PATH_MAX];
        struct settings_opts so = {.cwd = getcwd(cwd, sizeof cwd) ? cwd : NULL};
        st = settings_load(&so, &set, e);
        if (st != BROCK_OK) {
            settings_free(set);
            return st;
        }
        brock = set->brock;
    }
    st = monitor_config_load(mc, brock, NULL, NULL, e);
    settings_free(set);
    if (st == BROCK_OK && cfg && cfg->log_group) {
        char why[96];
        if (!monitor_log_group_valid(cfg->log_group, why, sizeof why))
            return err_set(e, BROCK_ERR_USAGE, "--log-group: the log group name %s", why);
        snprintf(mc->log_group, sizeof mc->log_group, "%s", cfg->log_group);
        snprintf(mc->log_group_source, sizeof mc->log_group_source, "--log-group");
    }
    return st;
}

/* An AWS client configuration for the log group's region. Pointers borrow
 * from rt, which must outlive every client made from it. */
static struct aws_client_config logs_client_config(struct runtime *rt, const struct monitor_config *mc)
{
    return (struct aws_client_config){
        .region = mc->region[0] ? mc->region : rt->settings.region.region,
        .lookup = &rt->settings.lookup,
        .endpoint_url = rt->endpoint_url,
        .endpoint_url_services = rt->endpoint_services,
        .endpoint_label = rt->emu ? "--emulator" : "--endpoint-url",
        .creds = runtime_creds(rt),
        .retry = rt->retry,
        .http = runtime_http_options(rt),
    };
}

static struct shipper_bg_config bg_config(struct runtime *rt, const struct monitor_config *mc)
{
    return (struct shipper_bg_config){.client = logs_client_config(rt, mc), .cfg = *mc};
}

void cli_logs_ship_at_exit(struct runtime *rt, const json_t *brock)
{
    if (!rt)
        return;
    struct monitor_config mc;
    struct brock_err e = {0};
    if (cli_monitor_config(NULL, brock, &mc, &e) != BROCK_OK || !monitor_shipping_enabled(&mc) ||
        mc.exit_deadline_ms <= 0)
        return;
    struct shipper_bg_config bc = bg_config(rt, &mc);
    struct shipper_stats st;
    enum brock_status rc = shipper_ship_for(&bc, mc.exit_deadline_ms, &st, &e);
    if (rc != BROCK_OK)
        fprintf(stderr,
                "brock: warning: audit events were not shipped: %s (they wait in the spool: brock logs status)\n",
                e.msg);
    else if (st.shipped || shipper_rejected(&st))
        log_info("shipped %lld audit events to %s%s", (long long)st.shipped, mc.log_group,
                 st.remaining > 0 ? " (the rest ships next time)" : "");
}

struct shipper_bg *cli_logs_start_background(struct runtime *rt, const json_t *brock)
{
    struct monitor_config mc;
    struct brock_err e = {0};
    if (!rt || cli_monitor_config(NULL, brock, &mc, &e) != BROCK_OK || !monitor_shipping_enabled(&mc))
        return NULL;
    struct shipper_bg_config bc = bg_config(rt, &mc);
    struct shipper_bg *bg = NULL;
    if (shipper_bg_start(&bc, &bg, &e) != BROCK_OK) {
        fprintf(stderr, "brock: warning: audit log shipping did not start: %s\n", e.msg);
        return NULL;
    }
    return bg;
}

void cli_logs_stop_background(struct shipper_bg *bg, const json_t *brock)
{
    if (!bg)
        return;
    struct monitor_config mc;
    struct brock_err e = {0};
    int64_t ms = MONITOR_DEFAULT_EXIT_DEADLINE_MS;
    if (cli_monitor_config(NULL, brock, &mc, &e) == BROCK_OK)
        ms = mc.exit_deadline_ms;
    struct shipper_stats st;
    shipper_bg_stop(bg, ms, &st, &e);
    if (e.status != BROCK_OK && e.status != BROCK_ERR_INTERRUPTED)
        fprintf(stderr, "brock: warning: audit log shipping: %s (events wait in the spool: brock logs status)\n",
                e.msg);
}

void cli_logs_prune_if_unshipped(struct store *s, const struct monitor_config *mc)
{
    struct brock_err e = {0};
    if (!s || monitor_shipping_enabled(mc))
        return;
    if (audit_spool_prune(s, 0, NULL, &e) != BROCK_OK)
        log_warn("could not prune the audit spool: %s", e.msg);
}

void cli_logs_prune_unshipped(struct store *s, const json_t *brock)
{
    struct monitor_config mc;
    struct brock_err e = {0};
    if (cli_monitor_config(NULL, brock, &mc, &e) == BROCK_OK)
        cli_logs_prune_if_unshipped(s, &mc);
}

/* ---- brock logs status ------------------------------------------------------------ */

static void iso_ms(int64_t ms, char out[32])
{
    char s[21];
    time_fmt_iso8601(ms / 1000, s);
    snprintf(out, 32, "%s", s);
}

static void human_bytes(int64_t b, char *out, size_t n)
{
    if (b < 1024)
        snprintf(out, n, "%lld bytes", (long long)b);
    else if (b < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", (double)b / 1024);
    else
        snprintf(out, n, "%.1f MiB", (double)b / (1024 * 1024));
}

static void human_age(int64_t ms, char *out, size_t n)
{
    int64_t s = ms / 1000;
    if (s < 0)
        snprintf(out, n, "in the future");
    else if (s < 120)
        snprintf(out, n, "%lld s ago", (long long)s);
    else if (s < 7200)
        snprintf(out, n, "%lld min ago", (long long)(s / 60));
    else if (s < 2 * 86400)
        snprintf(out, n, "%lld h ago", (long long)(s / 3600));
    else
        snprintf(out, n, "%lld days ago", (long long)(s / 86400));
}

static int logs_status(const struct cli_config *cfg, struct runtime *rt, const struct monitor_config *mc)
{
    struct brock_err e = {0};
    struct store *s = NULL;
    if (store_open(NULL, &s, &e) != BROCK_OK)
        return cli_fail(&e);
    int64_t events = 0, bytes = 0, oldest = 0;
    enum brock_status st = store_spool_count(s, &events, &bytes, &e);
    if (st == BROCK_OK && events > 0) {
        struct store_spool_limits one = {.max_events = 1};
        struct store_spool_batch b;
        if ((st = store_spool_read(s, &one, &b, &e)) == BROCK_OK && b.n)
            oldest = b.ev[0].ts_ms;
        store_spool_batch_free(&b);
    }
    struct shipper_state ss;
    if (st == BROCK_OK)
        st = shipper_state_load(store_dir(s), &ss, &e);
    if (st != BROCK_OK) {
        store_close(s);
        return cli_fail(&e);
    }
    struct aws_client_config cc = logs_client_config(rt, mc);
    struct aws_client *c = aws_client_new(&cc);
    const struct endpoint *ep = NULL;
    struct brock_err ee = {0};
    const char *endpoint = aws_client_endpoint(c, ENDPOINT_SVC_LOGS, &ep, &ee) == BROCK_OK ? ep->url : ee.msg;
    char stream[MONITOR_LOG_STREAM_MAX + 1] = "";
    int64_t now = time_now_ms();
    if (monitor_stream_name(mc, NULL, NULL, now, stream, &ee) != BROCK_OK)
        snprintf(stream, sizeof stream, "%s", mc->log_stream);
    const char *region = cc.region;
    char oldest_iso[32] = "", age[32] = "", last_run[32] = "", last_ok[32] = "", size[32];
    if (oldest) {
        iso_ms(oldest, oldest_iso);
        human_age(now - oldest, age, sizeof age);
    }
    if (ss.last_run_ms)
        iso_ms(ss.last_run_ms, last_run);
    if (ss.last_success_ms)
        iso_ms(ss.last_success_ms, last_ok);
    human_bytes(bytes, size, sizeof size);
    bool on = monitor_shipping_enabled(mc);

    if (cfg->json) {
        json_t *doc = json_pack(
            "{s:b, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:s?}, s:s?, s:s?, s:I, s:I, s:I, s:s?, "
            "s:s?}",
            "shipping", on, "log_group", on ? mc->log_group : NULL, "log_group_source",
            on ? mc->log_group_source : NULL, "region", region, "stream", stream, "stream_template", mc->log_stream,
            "endpoint", endpoint, "log_content", monitor_content_name(mc->content), "metrics",
            monitor_metrics_name(mc->metrics), "namespace", mc->metric_namespace, "spool", "events", (json_int_t)events,
            "bytes", (json_int_t)bytes, "oldest", oldest ? oldest_iso : NULL, "last_run",
            ss.last_run_ms ? last_run : NULL, "last_success", ss.last_success_ms ? last_ok : NULL, "shipped_total",
            (json_int_t)ss.shipped_total, "rejected_total", (json_int_t)ss.rejected_total, "truncated_total",
            (json_int_t)ss.truncated_total, "last_error", ss.last_error[0] ? ss.last_error : NULL, "data_dir",
            store_dir(s));
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text ? text : "{}");
        free(text);
        json_decref(doc);
    } else {
        if (on)
            printf("log group    %s (from %s) in %s\n", mc->log_group, mc->log_group_source, region);
        else
            printf("log group    none: shipping is off (set BROCK_LOG_GROUP or brock.monitoring.log_group)\n");
        printf("stream       %s (template %s)\n", stream, mc->log_stream);
        printf("endpoint     %s\n", endpoint);
        printf("content      %s; metrics %s in namespace %s\n", monitor_content_name(mc->content),
               monitor_metrics_name(mc->metrics), mc->metric_namespace);
        if (events)
            printf("spool        %lld event%s, %s, oldest %s (%s)\n", (long long)events, events == 1 ? "" : "s", size,
                   oldest_iso, age);
        else
            printf("spool        empty\n");
        if (ss.last_run_ms)
            printf("last run     %s; last success %s; %lld shipped, %lld rejected, %lld truncated in all\n", last_run,
                   ss.last_success_ms ? last_ok : "never", (long long)ss.shipped_total, (long long)ss.rejected_total,
                   (long long)ss.truncated_total);
        else
            printf("last run     never\n");
        if (ss.last_error[0])
            printf("last error   %s\n", ss.last_error);
        printf("data         %s\n", store_dir(s));
    }
    aws_client_free(c);
    store_close(s);
    return EXIT_OK;
}

/* ---- brock logs flush ----------------------------------------------------------------- */

static void progress(void *ctx, const struct shipper_stats *st)
{
    (void)ctx;
    fprintf(stderr, "\rbrock: shipped %lld of %lld events", (long long)(st->shipped + shipper_rejected(st)),
            (long long)st->total);
    fflush(stderr);
}

static int logs_flush(const struct cli_config *cfg, struct runtime *rt, const struct monitor_config *mc)
{
    (void)cfg;
    struct brock_err e = {0};
    if (!monitor_shipping_enabled(mc)) {
        err_set(&e, BROCK_ERR_CONFIG,
                "no log group to ship to: set BROCK_LOG_GROUP or brock.monitoring.log_group "
                "(or pass --log-group)");
        return cli_fail(&e);
    }
    struct store *s = NULL;
    if (store_open(NULL, &s, &e) != BROCK_OK)
        return cli_fail(&e);
    struct aws_client_config cc = logs_client_config(rt, mc);
    struct aws_client *c = aws_client_new(&cc);
    bool tty = isatty(STDERR_FILENO);
    struct shipper_options o = {
        .store = s,
        .client = c,
        .cfg = mc,
        .cancel = &runtime_cancel,
        .wait_for_lock = true,
        .progress = tty ? progress : NULL,
    };
    struct shipper_stats st;
    runtime_install_sigint();
    enum brock_status rc = shipper_run(&o, &st, &e);
    if (tty && st.requests)
        fputc('\n', stderr);
    int code = EXIT_OK;
    if (st.busy) {
        fprintf(stderr, "brock: another brock is shipping the audit log and did not finish within 30 s; try again\n");
        code = EXIT_INTERNAL;
    } else {
        printf("shipped %lld event%s in %lld call%s to %s", (long long)st.shipped, st.shipped == 1 ? "" : "s",
               (long long)st.requests, st.requests == 1 ? "" : "s", mc->log_group);
        if (shipper_rejected(&st))
            printf("; %lld rejected (%lld too old, %lld too new, %lld expired, %lld invalid)",
                   (long long)shipper_rejected(&st), (long long)st.rejected_too_old, (long long)st.rejected_too_new,
                   (long long)st.rejected_expired, (long long)st.rejected_invalid);
        if (st.truncated)
            printf("; %lld truncated to the size limit", (long long)st.truncated);
        if (st.metric_failures)
            printf("; metrics of %lld call%s not published", (long long)st.metric_failures,
                   st.metric_failures == 1 ? "" : "s");
        if (st.remaining > 0)
            printf("; %lld left in the spool", (long long)st.remaining);
        printf("\n");
        if (rc != BROCK_OK)
            code = cli_fail(&e);
    }
    aws_client_free(c);
    store_close(s);
    return code;
}

int cmd_logs(const struct cli_config *cfg)
{
    const char *what = cfg->nargs ? cfg->args[0] : "status";
    if (cfg->nargs > 1 || (strcmp(what, "status") && strcmp(what, "flush"))) {
        fprintf(stderr, "brock: logs: expected `brock logs status` or `brock logs flush`\n");
        return EXIT_USAGE;
    }
    struct brock_err e = {0};
    struct monitor_config mc;
    if (cli_monitor_config(cfg, NULL, &mc, &e) != BROCK_OK)
        return cli_fail(&e);
    struct runtime rt;
    if (runtime_init(&rt, cfg, &e) != BROCK_OK)
        return cli_fail(&e);
    int rc = !strcmp(what, "flush") ? logs_flush(cfg, &rt, &mc) : logs_status(cfg, &rt, &mc);
    runtime_cleanup(&rt);
    return rc;
}
