/* cmd_serve.c - `brock serve`: the Bedrock gateway (src/server/gateway.h) in
 * the foreground until SIGINT or SIGTERM, then a graceful stop. SIGHUP reads
 * the TLS certificate and key again (a renewed certificate, no restart) and
 * the keys file.
 *
 * Wiring, in order: client keys (--key, --keys-file), the AWS runtime (the
 * gateway's own credentials, region, --regions, --endpoint-url, or
 * --emulator for the in-process emulator), the settings' brock section
 * (budget totals, brock.gateway per-user defaults, brock.fallback, prices),
 * the store (ledger, spend, cache), the audit record (audit_record with the
 * client's user and project) and the background log shipper. The first line
 * on stdout is "listening on http://HOST:PORT", flushed at once. */
#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/budget.h"
#include "../agent/ledger.h"
#include "../agent/settings.h"
#include "../bedrock/pricing.h"
#include "../monitor/audit.h"
#include "../monitor/monitor.h"
#include "../server/emulator.h"
#include "../server/gateway.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "cli.h"
#include "exitcode.h"
#include "runtime.h"

static struct gateway *volatile running;

static void on_signal(int sig)
{
    if (!running)
        return;
    if (sig == SIGHUP) /* as nginx and sshd: read the certificate and keys again */
        gateway_reload(running);
    else
        gateway_stop(running, -1); /* both async-signal-safe */
}

struct audit_ctx {
    struct monitor_config mc;
    bool warned;
};

/* The book-keeping thread's housekeeping: with shipping off, the spool
 * drops what CloudWatch Logs would refuse anyway (older than 14 days). */
static void on_housekeep(void *ctx, struct store *s)
{
    struct audit_ctx *a = ctx;
    cli_logs_prune_if_unshipped(s, &a->mc);
}

/* The book-keeping thread's record: one audit event (and its EMF metrics)
 * in the spool, with the client's user and project. */
static void on_record(void *ctx, struct store *s, const struct gateway_record *r)
{
    struct audit_ctx *a = ctx;
    if (!s)
        return;
    const char *code = strcmp(r->status, "ok") ? r->status : NULL;
    struct audit_call ac = {
        .time_ms = r->time_ms,
        .session_id = r->session,
        .project = r->project,
        .user = r->user,
        .model = r->model,
        .profile = r->profile,
        .region = r->region,
        .api = r->api,
        .purpose = "gateway",
        .usage = {r->input, r->output, r->cache_read, r->cache_write},
        .cost_usd = r->cost_usd,
        .latency_ms = r->latency_ms,
        .ttft_ms = r->ttft_ms,
        .retries = r->retries,
        .throttles = r->throttles,
        .status = r->status,
        .error_code = code,
        .error_message = code ? r->error_message : NULL,
        .request_id = r->request_id,
        .cache_hit = r->cache_hit,
        .routing = r->routing,
    };
    struct brock_err e = {0};
    if (audit_record(s, &a->mc, &ac, 0, &e) != BROCK_OK && !a->warned) {
        a->warned = true;
        fprintf(stderr, "brock: warning: audit events are not being recorded: %s\n", e.msg);
    }
}

/* The client keys, as at start: --key, then the keys file. SIGHUP reads
 * them again through this (gateway_reload). */
static enum brock_status read_keys(void *ctx, struct gateway_keys *out, struct brock_err *e)
{
    const struct cli_config *cfg = ctx;
    for (size_t i = 0; i < cfg->n_serve_keys; i++) {
        enum brock_status st = gateway_keys_add_spec(out, cfg->serve_keys[i], e);
        if (st != BROCK_OK)
            return st;
    }
    return cfg->keys_file ? gateway_keys_load(out, cfg->keys_file, e) : BROCK_OK;
}

static bool usd_of(const json_t *o, const char *k, double *out)
{
    const json_t *v = json_object_get(o, k);
    if (!v)
        return true;
    if (!json_is_number(v) || !(json_number_value(v) >= 0) || json_number_value(v) > BUDGET_USD_MAX)
        return false;
    *out = json_number_value(v);
    return true;
}

/* 127.0.0.0/8, ::1 and ::ffff:127.x (anything unparsable: not loopback; httpd
 * names the bad address). */
static bool host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

int cmd_serve(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    struct gateway_keys keys = {0};
    struct runtime rt;
    bool rt_ok = false;
    struct settings *set = NULL;
    struct pricing *prices = NULL;
    struct budget budget = {0};
    bool budget_ok = false;
    struct gateway *g = NULL;
    struct shipper_bg *bg = NULL;
    char **regions = NULL;
    size_t n_regions = 0;
    char *regions_copy = NULL;
    struct audit_ctx actx = {0};
    int rc = EXIT_OK;

    if (cfg->nargs) {
        err_set(&e, BROCK_ERR_USAGE, "serve takes no arguments (got '%s'); see brock --help", cfg->args[0]);
        return cli_fail(&e);
    }
    if (read_keys((void *)cfg, &keys, &e) != BROCK_OK)
        goto fail;
    if (!keys.n) {
        err_set(&e, BROCK_ERR_USAGE, "serve: give at least one client key: --key TOKEN=USER[/PROJECT] or --keys-file FILE");
        goto fail;
    }

    char cwd[PATH_MAX];
    struct settings_opts so = {.cwd = getcwd(cwd, sizeof cwd) ? cwd : NULL};
    if (settings_load(&so, &set, &e) != BROCK_OK)
        goto fail;
    const json_t *brock = set->brock;
    if (budget_init(&budget, brock, set, "", 0, false, &e) != BROCK_OK)
        goto fail;
    budget_ok = true;
    const json_t *gw = json_object_get(brock, "gateway");
    struct gateway_budget gb = {
        .total_daily_usd = budget.limit[BUDGET_DAILY].usd,
        .total_monthly_usd = budget.limit[BUDGET_MONTHLY].usd,
        .where = "the settings (brock.gateway / brock.budget)",
    };
    if (gw && (!json_is_object(gw) || !usd_of(gw, "user_daily_usd", &gb.user_daily_usd) ||
               !usd_of(gw, "user_monthly_usd", &gb.user_monthly_usd))) {
        err_set(&e, BROCK_ERR_CONFIG, "brock.gateway: user_daily_usd and user_monthly_usd are amounts of USD");
        goto fail;
    }
    struct ledger_fallback fb[LEDGER_MAX_FALLBACK];
    size_t n_fb = 0;
    if (ledger_fallback_parse(brock, fb, &n_fb, &e) != BROCK_OK)
        goto fail;
    struct gateway_target targets[LEDGER_MAX_FALLBACK];
    for (size_t i = 0; i < n_fb; i++) {
        _Static_assert(sizeof targets[i].model == sizeof fb[i].model, "fallback model sizes");
        memset(&targets[i], 0, sizeof targets[i]);
        memcpy(targets[i].model, fb[i].model, sizeof targets[i].model);
        targets[i].model[sizeof targets[i].model - 1] = '\0';
        memcpy(targets[i].region, fb[i].region, sizeof fb[i].region < sizeof targets[i].region ? sizeof fb[i].region : sizeof targets[i].region);
        targets[i].region[sizeof targets[i].region - 1] = '\0';
    }
    prices = pricing_new();
    char *pp = pricing_default_path();
    if (pp && fs_exists(pp) && pricing_load_file(prices, pp, &e) != BROCK_OK) {
        free(pp);
        goto fail;
    }
    free(pp);
    if (cli_monitor_config(cfg, brock, &actx.mc, &e) != BROCK_OK)
        goto fail;
    /* A gateway serves many people: unless the settings say otherwise, its EMF
     * metrics also carry per-user and per-project series (alarms per person). */
    if (!actx.mc.dims_from_settings) {
        const unsigned extra[] = {MONITOR_DIM_USER, MONITOR_DIM_PROJECT};
        for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
            bool have = false;
            for (size_t k = 0; k < actx.mc.n_dim_sets; k++)
                have |= actx.mc.dim_sets[k] == extra[i];
            if (!have && actx.mc.n_dim_sets < MONITOR_MAX_DIM_SETS)
                actx.mc.dim_sets[actx.mc.n_dim_sets++] = extra[i];
        }
    }

    if (runtime_init(&rt, cfg, &e) != BROCK_OK)
        goto fail;
    rt_ok = true;
    const char *reg_list = cfg->regions ? cfg->regions : getenv("BROCK_REGIONS");
    if (reg_list && *reg_list) {
        regions_copy = xstrdup(reg_list);
        for (char *save = NULL, *tok = strtok_r(regions_copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (!*tok || !strcmp(tok, rt.settings.region.region))
                continue;
            if (!endpoint_region_valid(tok)) {
                err_set(&e, BROCK_ERR_USAGE, "--regions: '%.64s' is not a region name", tok);
                goto fail;
            }
            regions = xrealloc(regions, (n_regions + 1) * sizeof *regions);
            regions[n_regions++] = tok;
        }
    }

    struct gateway_options o;
    gateway_options_init(&o);
    o.host = cfg->host;
    o.realtime = cfg->realtime;
    o.max_upstream = (size_t)cfg->max_upstream;
    o.max_per_client = (size_t)cfg->max_per_client;
    o.rpm_per_client = cfg->rpm_per_client;
    o.tls_cert_file = cfg->tls_cert;
    o.tls_key_file = cfg->tls_key;
    /* beyond loopback only with TLS: keys and prompts never cross a network in clear */
    o.allow_non_loopback = cfg->tls_cert && cfg->tls_key;
    if (cfg->host && !o.allow_non_loopback && !host_is_loopback(cfg->host)) {
        err_set(&e, BROCK_ERR_USAGE,
                "serve: --host %.64s is beyond loopback: give --tls-cert FILE and --tls-key FILE "
                "(clients' keys and prompts never cross a network in clear)",
                cfg->host);
        goto fail;
    }
    o.port = cfg->port_set ? (uint16_t)cfg->port : GATEWAY_DEFAULT_PORT;
    o.keys = &keys;
    o.upstream = (struct aws_client_config){
        .region = rt.settings.region.region,
        .lookup = &rt.settings.lookup,
        .endpoint_url = rt.endpoint_url,
        .endpoint_url_services = rt.endpoint_services,
        .endpoint_label = rt.emu ? "--emulator" : "--endpoint-url",
        .creds = runtime_creds(&rt),
        .bearer_token = rt.emu ? NULL : rt.settings.bearer_token,
        .retry = rt.retry,
        .http = runtime_http_options(&rt),
    };
    o.regions = (const char *const *)regions;
    o.n_regions = n_regions;
    o.fallback = targets;
    o.n_fallback = n_fb;
    o.pricing = prices;
    o.budget = gb;
    o.no_cache = cfg->no_cache;
    o.record = on_record;
    o.record_ctx = &actx;
    o.housekeep = on_housekeep;
    if (cfg->keys_file) { /* --key alone cannot change */
        o.reload_keys = read_keys;
        o.reload_ctx = (void *)cfg;
    }
    if (gateway_new(&o, &g, &e) != BROCK_OK)
        goto fail;

    printf("listening on %s\n", gateway_url(g));
    fflush(stdout);
    if (rt.emu)
        fprintf(stderr, "brock: upstream is the in-process emulator at %s\n", emulator_url(rt.emu));
    /* Every call's audit event is spooled; with shipping off the spool only
     * grows (1-2 KB a call), so say so where the operator is looking. */
    if (!monitor_shipping_enabled(&actx.mc))
        fprintf(stderr, "brock: audit events stay in the local spool (`brock logs status`; kept 14 days); set "
                        "--log-group or BROCK_LOG_GROUP to ship them to CloudWatch Logs\n");
    bg = cli_logs_start_background(&rt, brock);

    running = g;
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    enum brock_status st = gateway_run(g, &e);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    running = NULL;
    struct gateway_stats gs;
    gateway_stats(g, &gs);
    gateway_free(g); /* ends the upstream calls and writes every row */
    g = NULL;
    log_info("gateway stopped: %llu requests, %llu upstream calls, %llu cache hits, %llu refused",
             (unsigned long long)gs.requests, (unsigned long long)gs.upstream, (unsigned long long)gs.cache_hits,
             (unsigned long long)(gs.refused_auth + gs.refused_budget + gs.refused_busy));
    cli_logs_stop_background(bg, brock);
    bg = NULL;
    if (st != BROCK_OK)
        rc = cli_fail(&e);
    goto out;
fail:
    rc = cli_fail(&e);
out:
    gateway_free(g);
    cli_logs_stop_background(bg, set ? set->brock : NULL);
    if (rt_ok)
        runtime_cleanup(&rt);
    free(regions);
    free(regions_copy);
    pricing_free(prices);
    if (budget_ok)
        budget_cleanup(&budget);
    settings_free(set);
    gateway_keys_free(&keys);
    return rc;
}
