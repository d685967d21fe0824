/* runtime.c - see runtime.h. */
#include "runtime.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../aws/creds.h"
#include "../server/emulator.h"
#include "../util/log.h"

volatile sig_atomic_t runtime_cancel;

static void on_sigint(int sig)
{
    if (runtime_cancel) {
        /* a second Ctrl-C (or SIGTERM) while stopping: leave at once */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    runtime_cancel = 1;
}

static void install(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void runtime_install_sigint(void)
{
    install(SIGINT);
}

void runtime_install_sigterm(void)
{
    install(SIGTERM);
}

/* AWS's documentation example key pair, which the emulator accepts. */
#define EMU_AKID "AKIAIOSFODNN7EXAMPLE"
#define EMU_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

struct http_options runtime_http_options(const struct runtime *rt)
{
    return (struct http_options){.ca_bundle = rt->settings.ca_bundle, .cancel = &runtime_cancel};
}

enum brock_status runtime_init(struct runtime *rt, const struct cli_config *cfg, struct brock_err *e)
{
    memset(rt, 0, sizeof *rt);
    rt->cfg = cfg;
    enum brock_status st = aws_settings_load(&rt->settings, cfg->profile, cfg->region, e);
    if (st != BROCK_OK)
        return st;
    rt->retry = retry_policy_new(&rt->settings.retry);

    if (cfg->emulator) {
        struct emulator_options eo = {.scenario_path = cfg->scenario};
        st = emulator_start(&eo, &rt->emu, e);
        if (st != BROCK_OK) {
            err_prefix(e, "starting the emulator");
            runtime_cleanup(rt);
            return st;
        }
        rt->endpoint_url = emulator_url(rt->emu);
        rt->endpoint_services = 0; /* every service */
        rt->static_creds = aws_credentials_new(EMU_AKID, EMU_SECRET, NULL, 0, "emulator example keys");
        log_info("emulator listening on %s", rt->endpoint_url);
        return BROCK_OK;
    }

    rt->endpoint_url = cfg->endpoint_url;
    rt->endpoint_services = 1u << ENDPOINT_SVC_BEDROCK_RUNTIME | 1u << ENDPOINT_SVC_BEDROCK;
    struct creds_config cc;
    creds_config_from_settings(&cc, &rt->settings);
    cc.retry = rt->retry;
    cc.http = runtime_http_options(rt);
    rt->creds = creds_cache_new(creds_provider_default_chain(&cc), NULL);
    return BROCK_OK;
}

void runtime_cleanup(struct runtime *rt)
{
    creds_cache_free(rt->creds);
    aws_credentials_release(rt->static_creds);
    emulator_stop(rt->emu); /* shuts down, joins and frees */
    retry_policy_free(rt->retry);
    aws_settings_cleanup(&rt->settings);
    memset(rt, 0, sizeof *rt);
}

struct aws_creds_source runtime_creds(struct runtime *rt)
{
    if (rt->static_creds)
        return aws_creds_source_static(rt->static_creds);
    return creds_cache_source(rt->creds);
}

struct aws_client_config runtime_client_config(struct runtime *rt, const char *region)
{
    return (struct aws_client_config){
        .region = region ? region : rt->settings.region.region,
        .lookup = &rt->settings.lookup,
        .endpoint_url = rt->endpoint_url,
        .endpoint_url_services = rt->endpoint_services,
        .endpoint_label = rt->emu ? "--emulator" : "--endpoint-url",
        .creds = runtime_creds(rt),
        .bearer_token = rt->emu ? NULL : rt->settings.bearer_token,
        .retry = rt->retry,
        .http = runtime_http_options(rt),
    };
}

struct aws_client *runtime_client(struct runtime *rt, const char *region)
{
    struct aws_client_config cc = runtime_client_config(rt, region);
    return aws_client_new(&cc);
}
