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

const struct cli_command cli_commands[] = {
    {"api-key", cmd_apikey, "mint a short-term Bedrock API key from your AWS credentials"},
    {"batch", cmd_batch, "many prompts at once: `brock batch IN.jsonl -o OUT.jsonl` (docs/batch.md)"},
    {"cache", cmd_cache, "the response cache: `brock cache stats` or `brock cache clear`"},
    {"doctor", cmd_doctor, "check credentials, identity, region, endpoint, TLS and clock"},
    {"emulate", cmd_emulate, "serve a local Bedrock Runtime emulator (scenarios, faults; see docs/scenarios.md)"},
    {"help", cmd_help, "show help"},
    {"logs", cmd_logs, "the audit log for CloudWatch Logs: `brock logs status` or `brock logs flush`"},
    {"models", cmd_models, "list the Claude models on Bedrock, their profiles, limits and prices"},
    {"serve", cmd_serve, "a Bedrock Runtime gateway with brock's keys, budgets, ledger, audit log and cache (docs/gateway.md)"},
    {"sessions", cmd_sessions, "list saved sessions (brock -p --resume ID continues one)"},
    {"setup", cmd_setup, "`brock setup monitoring` (log group, alarms, dashboard) or `brock setup iam-policy`"},
    {"usage", cmd_usage, "spend and tokens from the usage ledger: by day, model, project, user (--since, --json)"},
    {"version", cmd_version, "print the version"},
    {NULL, NULL, NULL},
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

int cmd_help(const struct cli_config *cfg)
{
    (void)cfg;
    printf("brock - Claude on Amazon Bedrock, in your terminal\n\n"
           "Usage: brock [options] <command> [arguments]\n\n"
           "Commands:\n");
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

