/* commands.c - the command table, and the small commands (help, version). */
#include <curl/curl.h>
#include <event2/event.h>
#include <expat.h>
#include <jansson.h>
#include <nghttp2/nghttp2ver.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"
#include "exitcode.h"

/* The options each command reads (`brock CMD --help` shows these, then the
 * general ones; `brock --help` shows all). test_cli checks every name is in
 * the option table. */
#define AWS_OPTS "region", "profile", "endpoint-url", "emulator"
static const char *const apikey_opts[] = {"expires", "json", AWS_OPTS, NULL};
static const char *const batch_opts[] = {
    "output", "format", "concurrency", "rpm", "tpm", "engine", "s3-prefix", "role-arn", "job-name", "poll-interval",
    "prompt-file", "restart", "model", "max-tokens", "system", "temperature", "cache", "no-cache", "ignore-budget",
    "max-budget-usd", "json", AWS_OPTS, "scenario", NULL};
static const char *const json_opts[] = {"json", NULL};
static const char *const doctor_opts[] = {"json", "model", AWS_OPTS, "scenario", NULL};
static const char *const emulate_opts[] = {"port", "host", "keys", "scenario", "deny-model", NULL};
static const char *const no_opts[] = {NULL};
static const char *const logs_opts[] = {"log-group", "json", AWS_OPTS, NULL};
static const char *const models_opts[] = {"json", "region", NULL};
static const char *const serve_opts[] = {"key",      "keys-file",    "port",           "host",     "tls-cert",
                                         "tls-key",  "realtime",     "max-upstream",   "max-per-client", "max-rpm-per-client",
                                         "no-cache", "regions",      "log-group",      AWS_OPTS,   "scenario",
                                         NULL};
static const char *const setup_opts[] = {"account", "alarm-sns-topic", "cost-metric", "daily-budget-usd", "dry-run",
                                         "for", "invocation-logging", "logging-role-arn", "retention-days",
                                         "log-group", "model", AWS_OPTS, NULL};
static const char *const usage_opts[] = {"since", "json", NULL};

const struct cli_command cli_commands[] = {
    {"api-key", cmd_apikey, "mint a short-term Bedrock API key from your AWS credentials", "api-key [--expires SECONDS]",
     apikey_opts},
    {"batch", cmd_batch, "many prompts at once: `brock batch IN.jsonl -o OUT.jsonl` (docs/batch.md)",
     "batch IN.jsonl... -o OUT.jsonl [options]", batch_opts},
    {"cache", cmd_cache, "the response cache: `brock cache stats` or `brock cache clear`", "cache stats|clear [--json]",
     json_opts},
    {"doctor", cmd_doctor, "check credentials, identity, region, endpoint, TLS and clock", "doctor [options]",
     doctor_opts},
    {"emulate", cmd_emulate, "serve a local Bedrock Runtime emulator (scenarios, faults; see docs/scenarios.md)",
     "emulate [options]", emulate_opts},
    {"help", cmd_help, "show help", "help [COMMAND]", no_opts},
    {"logs", cmd_logs, "the audit log for CloudWatch Logs: `brock logs status` or `brock logs flush`",
     "logs status|flush [options]", logs_opts},
    {"models", cmd_models, "list the Claude models on Bedrock, their profiles, limits and prices", "models [options]",
     models_opts},
    {"serve", cmd_serve, "a Bedrock Runtime gateway with brock's keys, budgets, ledger, audit log and cache (docs/gateway.md)",
     "serve --key TOKEN=USER[/PROJECT]... [options]", serve_opts},
    {"sessions", cmd_sessions, "list saved sessions (brock -p --resume ID continues one)", "sessions [--json]",
     json_opts},
    {"setup", cmd_setup, "`brock setup monitoring` (log group, alarms, dashboard) or `brock setup iam-policy`",
     "setup monitoring|iam-policy [options]", setup_opts},
    {"usage", cmd_usage, "spend and tokens from the usage ledger: by day, model, project, user (--since, --json)",
     "usage [day|model|project|user] [options]", usage_opts},
    {"version", cmd_version, "print the version", "version", no_opts},
    {NULL, NULL, NULL, NULL, NULL},
};

const struct cli_command *cli_find_command(const char *name)
{
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

int cli_fail(const struct brock_err *e)
{
    fprintf(stderr, "brock: %s\n", e->msg[0] ? e->msg : brock_status_name(e->status));
    return exit_code_for(e->status);
}

int cmd_version(const struct cli_config *cfg)
{
    (void)cfg;
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    printf("brock %s (%s)\n", BROCK_VERSION, BROCK_GITREV);
    printf("libcurl/%s %s zlib/%s jansson/%s expat/%d.%d.%d libevent/%s nghttp2/%s\n", cv->version,
           cv->ssl_version ? cv->ssl_version : "no-tls", zlibVersion(), JANSSON_VERSION,
           XML_MAJOR_VERSION, XML_MINOR_VERSION, XML_MICRO_VERSION, event_get_version(),
           NGHTTP2_VERSION);
    return EXIT_OK;
}

/* `brock CMD --help` and `brock help CMD`: the command, its usage and the
 * options it reads, then the general ones. */
static int command_help(const struct cli_command *c)
{
    printf("brock %s - %s\n\nUsage: brock %s\n", c->name, c->summary, c->usage);
    if (c->options[0]) {
        printf("\nOptions:\n");
        for (const char *const *o = c->options; *o; o++)
            (void)cli_print_option(stdout, *o);
    }
    printf("\nGeneral options:\n");
    static const char *const general[] = {"help", "verbose", "debug", "no-color", NULL};
    for (const char *const *o = general; *o; o++)
        (void)cli_print_option(stdout, *o);
    printf("\n`brock --help` lists every option, the AWS settings and the exit codes.\n");
    return EXIT_OK;
}

int cmd_help(const struct cli_config *cfg)
{
    const char *topic = NULL;
    if (cfg->command && strcmp(cfg->command, "help"))
        topic = cfg->command;
    else if (cfg->command && cfg->nargs > 0)
        topic = cfg->args[0];
    if (topic) {
        const struct cli_command *c = cli_find_command(topic);
        if (!c) {
            fprintf(stderr, "brock: help: no command '%.64s' (brock --help lists them)\n", topic);
            return EXIT_USAGE;
        }
        return command_help(c);
    }
    printf("brock - Claude on Amazon Bedrock, in your terminal\n\n"
           "Usage: brock [options] <command> [arguments]\n\n"
           "Commands (`brock help COMMAND` for one):\n");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        printf("  %-10s %s\n", c->name, c->summary);
    printf("\nOptions:\n");
    cli_print_options(stdout);
    printf("\nAWS settings behave as in the AWS CLI: AWS_PROFILE, AWS_REGION, AWS_DEFAULT_REGION,\n"
           "AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL(_<SERVICE>),\n"
           "AWS_CA_BUNDLE, AWS_RETRY_MODE, AWS_MAX_ATTEMPTS, HTTPS_PROXY, NO_PROXY,\n"
           "AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key instead of SigV4).\n\n%s",
           exit_codes_help);
    return EXIT_OK;
}
