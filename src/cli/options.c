/* options.c - one sorted table of options, searched with bsearch(), which also
 * generates the option list in --help. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "cli.h"

enum opt_arg { ARG_NONE, ARG_STRING, ARG_LONG };

enum opt_id {
    OPT_ADD_DIR,
    OPT_ALLOWED_TOOLS,
    OPT_APPEND_SYSTEM_PROMPT,
    OPT_CONTINUE,
    OPT_DANGEROUSLY_SKIP_PERMISSIONS,
    OPT_DISALLOWED_TOOLS,
    OPT_MAX_TURNS,
    OPT_PERMISSION_MODE,
    OPT_RESUME,
    OPT_TOOLS,
    OPT_CACHE,
    OPT_IGNORE_BUDGET,
    OPT_MAX_BUDGET_USD,
    OPT_NO_CACHE,
    OPT_SINCE,
    OPT_ACCOUNT,
    OPT_ALARM_SNS_TOPIC,
    OPT_COST_METRIC,
    OPT_DAILY_BUDGET_USD,
    OPT_DRY_RUN,
    OPT_FOR,
    OPT_INVOCATION_LOGGING,
    OPT_LOG_GROUP,
    OPT_LOGGING_ROLE_ARN,
    OPT_RETENTION_DAYS,
    OPT_CONCURRENCY,
    OPT_ENGINE,
    OPT_FORMAT,
    OPT_JOB_NAME,
    OPT_OUTPUT,
    OPT_POLL_INTERVAL,
    OPT_PROMPT_FILE,
    OPT_RESTART,
    OPT_ROLE_ARN,
    OPT_RPM,
    OPT_S3_PREFIX,
    OPT_TPM,
    OPT_API,
    OPT_DEBUG,
    OPT_DENY_MODEL,
    OPT_EMULATOR,
    OPT_ENDPOINT_URL,
    OPT_EXPIRES,
    OPT_HELP,
    OPT_HOST,
    OPT_JSON,
    OPT_KEYS,
    OPT_KEY,
    OPT_KEYS_FILE,
    OPT_TLS_CERT,
    OPT_REALTIME,
    OPT_MAX_UPSTREAM,
    OPT_MAX_PER_CLIENT,
    OPT_MAX_RPM_PER_CLIENT,
    OPT_TLS_KEY,
    OPT_MAX_TOKENS,
    OPT_MODEL,
    OPT_NO_COLOR,
    OPT_OUTPUT_FORMAT,
    OPT_PORT,
    OPT_PRINT,
    OPT_PROFILE,
    OPT_REGION,
    OPT_REGIONS,
    OPT_SCENARIO,
    OPT_SYSTEM,
    OPT_TEMPERATURE,
    OPT_VERBOSE,
    OPT_VERSION,
};

struct opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    enum opt_arg arg;
    enum opt_id id;
    const char *metavar;
    const char *help;
};

/* Sorted by name (tests/cli/test_options.c checks). */
static const struct opt options[] = {
    {"account", 0, ARG_STRING, OPT_ACCOUNT, "ID", "setup: the AWS account id for ARNs (default: from STS GetCallerIdentity)"},
    {"add-dir", 0, ARG_STRING, OPT_ADD_DIR, "DIR", "also allow tools in DIR (repeatable)"},
    {"alarm-sns-topic", 0, ARG_STRING, OPT_ALARM_SNS_TOPIC, "ARN", "setup monitoring: SNS topic the alarms notify"},
    {"allowedTools", 0, ARG_STRING, OPT_ALLOWED_TOOLS, "RULES",
     "permission rules that run without asking, e.g. \"Bash(git diff:*) Edit\" (repeatable)"},
    {"api", 0, ARG_STRING, OPT_API, "API", "messages (InvokeModel, the default) or converse (Converse API)"},
    {"append-system-prompt", 0, ARG_STRING, OPT_APPEND_SYSTEM_PROMPT, "TEXT", "add TEXT to the end of the system prompt"},
    {"cache", 0, ARG_NONE, OPT_CACHE, NULL, "use the response cache for any request without tool results (not only -p with --temperature 0)"},
    {"concurrency", 0, ARG_LONG, OPT_CONCURRENCY, "N", "batch: requests in flight at once (default 16)"},
    {"continue", 'c', ARG_NONE, OPT_CONTINUE, NULL, "continue the latest session of this directory"},
    {"cost-metric", 0, ARG_STRING, OPT_COST_METRIC, "SOURCE",
     "setup monitoring: the cost alarm reads emf (brock's CostUSD) or bedrock (AWS/Bedrock tokens x prices)"},
    {"daily-budget-usd", 0, ARG_STRING, OPT_DAILY_BUDGET_USD, "USD",
     "setup monitoring: alarm when 24 h of spend passes USD (default brock.budget.daily_usd)"},
    {"dangerously-skip-permissions", 0, ARG_NONE, OPT_DANGEROUSLY_SKIP_PERMISSIONS, NULL,
     "run every tool without asking (permission mode bypassPermissions)"},
    {"debug", 0, ARG_NONE, OPT_DEBUG, NULL, "log everything brock does (never secrets) to stderr"},
    {"deny-model", 0, ARG_STRING, OPT_DENY_MODEL, "ID[,ID...]",
     "emulate: answer these model ids with AccessDeniedException"},
    {"disallowedTools", 0, ARG_STRING, OPT_DISALLOWED_TOOLS, "RULES",
     "permission rules that are refused; a bare tool name hides the tool (repeatable)"},
    {"dry-run", 0, ARG_NONE, OPT_DRY_RUN, NULL, "setup monitoring: print every request it would make and make none"},
    {"emulator", 0, ARG_NONE, OPT_EMULATOR, NULL,
     "start the local Bedrock emulator in-process and use it (no AWS account needed)"},
    {"endpoint-url", 0, ARG_STRING, OPT_ENDPOINT_URL, "URL",
     "send requests to URL instead of the AWS endpoint (VPC endpoint, emulator)"},
    {"engine", 0, ARG_STRING, OPT_ENGINE, "ENGINE", "batch: local (default) or bedrock (Bedrock Batch Inference, half price)"},
    {"expires", 0, ARG_LONG, OPT_EXPIRES, "SECONDS", "api-key: lifetime of the key (max 43200)"},
    {"for", 0, ARG_STRING, OPT_FOR, "KIND", "setup iam-policy: invoke (default), monitoring, batch or all"},
    {"format", 0, ARG_STRING, OPT_FORMAT, "FORMAT", "batch output: json (one object per line, default) or text"},
    {"help", 'h', ARG_NONE, OPT_HELP, NULL, "show this help"},
    {"host", 0, ARG_STRING, OPT_HOST, "ADDR", "emulate, serve: address to listen on (default 127.0.0.1; emulate: loopback only; serve: beyond it with --tls-cert and --tls-key)"},
    {"ignore-budget", 0, ARG_NONE, OPT_IGNORE_BUDGET, NULL, "go on past the daily and monthly budgets of the settings (docs/cost.md)"},
    {"invocation-logging", 0, ARG_NONE, OPT_INVOCATION_LOGGING, NULL,
     "setup monitoring: also turn on Bedrock's model invocation logging to the log group"},
    {"job-name", 0, ARG_STRING, OPT_JOB_NAME, "NAME", "batch --engine bedrock: the job's name (default brock-batch-<time>)"},
    {"json", 0, ARG_NONE, OPT_JSON, NULL, "machine-readable output"},
    {"key", 0, ARG_STRING, OPT_KEY, "TOKEN=USER[/PROJECT]", "serve: a client key (bearer token) and who uses it (repeatable)"},
    {"keys", 0, ARG_STRING, OPT_KEYS, "FILE", "emulate: more accepted credentials and API keys (JSON)"},
    {"keys-file", 0, ARG_STRING, OPT_KEYS_FILE, "FILE", "serve: client keys, SigV4 keys and per-user budgets (JSON, docs/gateway.md); SIGHUP reads it again"},
    {"log-group", 0, ARG_STRING, OPT_LOG_GROUP, "NAME", "CloudWatch Logs group for audit events (BROCK_LOG_GROUP)"},
    {"logging-role-arn", 0, ARG_STRING, OPT_LOGGING_ROLE_ARN, "ARN",
     "setup monitoring: the role Bedrock writes invocation logs with (default: brock creates one)"},
    {"max-budget-usd", 0, ARG_STRING, OPT_MAX_BUDGET_USD, "USD", "stop before a request once this run has spent USD (exit 8)"},
    {"max-per-client", 0, ARG_LONG, OPT_MAX_PER_CLIENT, "N",
     "serve: upstream calls one client key may have at once (default: a quarter of --max-upstream)"},
    {"max-rpm-per-client", 0, ARG_LONG, OPT_MAX_RPM_PER_CLIENT, "N",
     "serve: requests a minute one client key may send, a sixth of them at once (default: no limit)"},
    {"max-tokens", 0, ARG_LONG, OPT_MAX_TOKENS, "N", "most tokens in the answer (default: the model's maximum, up to 16384)"},
    {"max-turns", 0, ARG_LONG, OPT_MAX_TURNS, "N", "stop after N model calls (per message in the REPL)"},
    {"max-upstream", 0, ARG_LONG, OPT_MAX_UPSTREAM, "N", "serve: upstream calls at once, for all clients (default 512)"},
    {"model", 0, ARG_STRING, OPT_MODEL, "MODEL", "sonnet, opus, haiku, auto (routed per request), a Bedrock model id, inference profile or ARN (ANTHROPIC_MODEL)"},
    {"no-cache", 0, ARG_NONE, OPT_NO_CACHE, NULL, "never answer from, nor store in, the response cache"},
    {"no-color", 0, ARG_NONE, OPT_NO_COLOR, NULL, "no colours (also NO_COLOR=1)"},
    {"output", 'o', ARG_STRING, OPT_OUTPUT, "FILE", "batch: write the results to FILE (resumable; FILE.checkpoint next to it)"},
    {"output-format", 0, ARG_STRING, OPT_OUTPUT_FORMAT, "FORMAT", "-p output: text, json or stream-json (as Claude Code)"},
    {"permission-mode", 0, ARG_STRING, OPT_PERMISSION_MODE, "MODE",
     "default, acceptEdits, plan or bypassPermissions (docs/permissions.md)"},
    {"poll-interval", 0, ARG_STRING, OPT_POLL_INTERVAL, "SECONDS", "batch --engine bedrock: how often to check the job (default 30)"},
    {"port", 0, ARG_LONG, OPT_PORT, "N", "emulate, serve: port to listen on (0 = any free port; default 8910, serve 8911)"},
    {"print", 'p', ARG_NONE, OPT_PRINT, NULL, "answer the prompt (the arguments, plus piped stdin) and exit"},
    {"profile", 0, ARG_STRING, OPT_PROFILE, "NAME", "AWS profile from ~/.aws/config (AWS_PROFILE)"},
    {"prompt-file", 0, ARG_STRING, OPT_PROMPT_FILE, "FILE", "batch: one record per file argument: this prompt + the file"},
    {"realtime", 0, ARG_NONE, OPT_REALTIME, NULL,
     "serve: run the event loop at real-time priority (SCHED_FIFO 1; root or CAP_SYS_NICE): a lower tail on a busy machine"},
    {"region", 0, ARG_STRING, OPT_REGION, "REGION", "AWS region (AWS_REGION, default us-west-2)"},
    {"regions", 0, ARG_STRING, OPT_REGIONS, "R1,R2", "regions to fail over to on throttling or 5xx (BROCK_REGIONS)"},
    {"restart", 0, ARG_NONE, OPT_RESTART, NULL, "batch: discard the checkpoint and start the output over"},
    {"resume", 'r', ARG_STRING, OPT_RESUME, "ID", "continue the session ID (see brock sessions)"},
    {"retention-days", 0, ARG_LONG, OPT_RETENTION_DAYS, "N", "setup monitoring: keep audit events N days (default 30)"},
    {"role-arn", 0, ARG_STRING, OPT_ROLE_ARN, "ARN", "batch --engine bedrock: the service role Bedrock runs the job with"},
    {"rpm", 0, ARG_STRING, OPT_RPM, "N", "batch: never send more than N requests per minute"},
    {"s3-prefix", 0, ARG_STRING, OPT_S3_PREFIX, "S3URI", "batch --engine bedrock: where the job's input and output go (s3://bucket/prefix/)"},
    {"scenario", 0, ARG_STRING, OPT_SCENARIO, "FILE", "emulate, --emulator: answer from this scenario file (docs/scenarios.md)"},
    {"since", 0, ARG_STRING, OPT_SINCE, "WHEN", "usage: from a date (2026-08-01), 7d, 30d (default), 12h, today, month or all"},
    {"system", 0, ARG_STRING, OPT_SYSTEM, "TEXT", "system prompt"},
    {"temperature", 0, ARG_STRING, OPT_TEMPERATURE, "T", "sampling temperature, 0 to 1"},
    {"tls-cert", 0, ARG_STRING, OPT_TLS_CERT, "FILE", "serve: certificate chain (PEM): listen with TLS 1.2+ (needed beyond loopback); SIGHUP reads it again"},
    {"tls-key", 0, ARG_STRING, OPT_TLS_KEY, "FILE", "serve: the certificate's private key (PEM)"},
    {"tools", 0, ARG_STRING, OPT_TOOLS, "LIST", "built-in tools offered, e.g. \"Read,Grep\" (\"\" = none)"},
    {"tpm", 0, ARG_STRING, OPT_TPM, "N", "batch: never reserve more than N tokens per minute"},
    {"verbose", 'v', ARG_NONE, OPT_VERBOSE, NULL, "say what happens: endpoint, retries, request ids"},
    {"version", 'V', ARG_NONE, OPT_VERSION, NULL, "print the version and exit"},
};

static int cmp_opt(const void *key, const void *elem)
{
    const char *k = key;
    const struct opt *o = elem;
    return strcmp(k, o->name);
}

static const struct opt *find_long(const char *name)
{
    return bsearch(name, options, sizeof options / sizeof options[0], sizeof options[0], cmp_opt);
}

static const struct opt *find_short(char c)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (options[i].short_name == c)
            return &options[i];
    return NULL;
}

bool cli_options_table_ok(const char **why)
{
    size_t n = sizeof options / sizeof options[0];
    for (size_t i = 0; i < n; i++) {
        if (!options[i].help || !*options[i].help) {
            *why = options[i].name;
            return false;
        }
        if (i && strcmp(options[i - 1].name, options[i].name) >= 0) {
            *why = options[i].name;
            return false;
        }
    }
    return true;
}

/* val is a whole number from lo to hi (decimal, nothing after it). */
static bool whole_number(const char *val, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static enum brock_status apply(struct cli_config *cfg, const struct opt *o, const char *val,
                               struct brock_err *e)
{
    switch (o->id) {
    case OPT_ADD_DIR:
    case OPT_ALLOWED_TOOLS:
    case OPT_DISALLOWED_TOOLS: {
        const char **list = o->id == OPT_ADD_DIR         ? cfg->add_dirs
                            : o->id == OPT_ALLOWED_TOOLS ? cfg->allowed_tools
                                                         : cfg->disallowed_tools;
        size_t *n = o->id == OPT_ADD_DIR         ? &cfg->n_add_dirs
                    : o->id == OPT_ALLOWED_TOOLS ? &cfg->n_allowed_tools
                                                 : &cfg->n_disallowed_tools;
        if (*n >= CLI_MAX_LIST)
            return err_set(e, BROCK_ERR_USAGE, "--%s: given more than %d times", o->name, CLI_MAX_LIST);
        list[(*n)++] = val;
        break;
    }
    case OPT_APPEND_SYSTEM_PROMPT:
        cfg->append_system = val;
        break;
    case OPT_CONTINUE:
        cfg->continue_session = true;
        break;
    case OPT_DANGEROUSLY_SKIP_PERMISSIONS:
        cfg->skip_permissions = true;
        break;
    case OPT_MAX_TURNS: {
        long v;
        if (!whole_number(val, 1, 100000, &v))
            return err_set(e, BROCK_ERR_USAGE, "--max-turns: expected a positive number, got '%s'", val);
        cfg->max_turns = (int)v;
        break;
    }
    case OPT_PERMISSION_MODE:
        if (strcmp(val, "default") && strcmp(val, "acceptEdits") && strcmp(val, "plan") &&
            strcmp(val, "bypassPermissions"))
            return err_set(e, BROCK_ERR_USAGE,
                           "--permission-mode: expected default, acceptEdits, plan or bypassPermissions, got '%s'", val);
        cfg->permission_mode = val;
        break;
    case OPT_RESUME:
        cfg->resume = val;
        break;
    case OPT_TOOLS:
        cfg->tools = val;
        break;
    case OPT_CACHE:
        cfg->cache = true;
        break;
    case OPT_IGNORE_BUDGET:
        cfg->ignore_budget = true;
        break;
    case OPT_MAX_BUDGET_USD: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !(v > 0.0 && v <= 1e9))
            return err_set(e, BROCK_ERR_USAGE, "--max-budget-usd: expected an amount of US dollars above 0, got '%s'",
                           val);
        cfg->max_budget_usd = v;
        break;
    }
    case OPT_NO_CACHE:
        cfg->no_cache = true;
        break;
    case OPT_SINCE:
        cfg->since = val;
        break;
    case OPT_ACCOUNT:
        cfg->account = val;
        break;
    case OPT_ALARM_SNS_TOPIC:
        cfg->alarm_sns_topic = val;
        break;
    case OPT_COST_METRIC:
        if (strcmp(val, "emf") && strcmp(val, "bedrock"))
            return err_set(e, BROCK_ERR_USAGE, "--cost-metric: expected emf or bedrock, got '%s'", val);
        cfg->cost_metric = val;
        break;
    case OPT_DAILY_BUDGET_USD: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !(v > 0.0 && v <= 1e9))
            return err_set(e, BROCK_ERR_USAGE, "--daily-budget-usd: expected an amount of US dollars above 0, got '%s'",
                           val);
        cfg->daily_budget_usd = v;
        break;
    }
    case OPT_DRY_RUN:
        cfg->dry_run = true;
        break;
    case OPT_FOR:
        if (strcmp(val, "invoke") && strcmp(val, "monitoring") && strcmp(val, "batch") && strcmp(val, "all"))
            return err_set(e, BROCK_ERR_USAGE, "--for: expected invoke, monitoring, batch or all, got '%s'", val);
        cfg->policy_for = val;
        break;
    case OPT_INVOCATION_LOGGING:
        cfg->invocation_logging = true;
        break;
    case OPT_LOG_GROUP:
        cfg->log_group = val;
        break;
    case OPT_LOGGING_ROLE_ARN:
        cfg->logging_role_arn = val;
        break;
    case OPT_RETENTION_DAYS: {
        long v;
        if (!whole_number(val, 1, 3653, &v))
            return err_set(e, BROCK_ERR_USAGE, "--retention-days: expected a number of days from 1 to 3653, got '%s'",
                           val);
        cfg->retention_days = v;
        break;
    }
    case OPT_CONCURRENCY: {
        long v;
        if (!whole_number(val, 1, 1024, &v))
            return err_set(e, BROCK_ERR_USAGE, "--concurrency: expected a number from 1 to 1024, got '%s'", val);
        cfg->concurrency = v;
        break;
    }
    case OPT_ENGINE:
        if (strcmp(val, "local") && strcmp(val, "bedrock"))
            return err_set(e, BROCK_ERR_USAGE, "--engine: expected local or bedrock, got '%s'", val);
        cfg->engine = val;
        break;
    case OPT_FORMAT:
        if (strcmp(val, "json") && strcmp(val, "text"))
            return err_set(e, BROCK_ERR_USAGE, "--format: expected json or text, got '%s'", val);
        cfg->format = val;
        break;
    case OPT_JOB_NAME:
        cfg->job_name = val;
        break;
    case OPT_OUTPUT:
        cfg->output = val;
        break;
    case OPT_PROMPT_FILE:
        cfg->prompt_file = val;
        break;
    case OPT_RESTART:
        cfg->restart = true;
        break;
    case OPT_ROLE_ARN:
        cfg->role_arn = val;
        break;
    case OPT_S3_PREFIX:
        cfg->s3_prefix = val;
        break;
    case OPT_POLL_INTERVAL:
    case OPT_RPM:
    case OPT_TPM: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !(v > 0 && v <= 1e12))
            return err_set(e, BROCK_ERR_USAGE, "--%s: expected a positive number, got '%s'", o->name, val);
        if (o->id == OPT_POLL_INTERVAL)
            cfg->poll_interval = v;
        else if (o->id == OPT_RPM)
            cfg->rpm = v;
        else
            cfg->tpm = v;
        break;
    }
    case OPT_API:
        if (strcmp(val, "messages") && strcmp(val, "converse"))
            return err_set(e, BROCK_ERR_USAGE, "--api: expected messages or converse, got '%s'", val);
        cfg->api = val;
        break;
    case OPT_MAX_TOKENS: {
        long v;
        if (!whole_number(val, 1, 1000000, &v))
            return err_set(e, BROCK_ERR_USAGE, "--max-tokens: expected a positive number, got '%s'", val);
        cfg->max_tokens = (int)v;
        break;
    }
    case OPT_MODEL:
        cfg->model = val;
        break;
    case OPT_OUTPUT_FORMAT:
        if (strcmp(val, "text") && strcmp(val, "json") && strcmp(val, "stream-json"))
            return err_set(e, BROCK_ERR_USAGE, "--output-format: expected text, json or stream-json, got '%s'", val);
        cfg->output_format = val;
        break;
    case OPT_PRINT:
        cfg->print = true;
        break;
    case OPT_REGIONS:
        cfg->regions = val;
        break;
    case OPT_SYSTEM:
        cfg->system = val;
        break;
    case OPT_TEMPERATURE: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !(v >= 0.0 && v <= 1.0))
            return err_set(e, BROCK_ERR_USAGE, "--temperature: expected a number from 0 to 1, got '%s'", val);
        cfg->temperature = v;
        cfg->temperature_set = true;
        break;
    }
    case OPT_DEBUG:
        cfg->debug = true;
        cfg->verbose = true;
        break;
    case OPT_DENY_MODEL:
        cfg->deny_models = val;
        break;
    case OPT_EMULATOR:
        cfg->emulator = true;
        break;
    case OPT_ENDPOINT_URL:
        cfg->endpoint_url = val;
        break;
    case OPT_EXPIRES: {
        long v;
        if (!whole_number(val, 1, LONG_MAX, &v))
            return err_set(e, BROCK_ERR_USAGE, "--%s: expected a positive number of seconds, got '%s'",
                           o->name, val);
        cfg->expires = v;
        break;
    }
    case OPT_HELP:
        cfg->help = true;
        break;
    case OPT_HOST:
        cfg->host = val;
        break;
    case OPT_JSON:
        cfg->json = true;
        break;
    case OPT_KEY:
        if (cfg->n_serve_keys >= CLI_MAX_LIST)
            return err_set(e, BROCK_ERR_USAGE, "--key: given more than %d times (use --keys-file)", CLI_MAX_LIST);
        cfg->serve_keys[cfg->n_serve_keys++] = val;
        break;
    case OPT_KEYS_FILE:
        cfg->keys_file = val;
        break;
    case OPT_TLS_CERT:
        cfg->tls_cert = val;
        break;
    case OPT_REALTIME:
        cfg->realtime = true;
        break;
    case OPT_TLS_KEY:
        cfg->tls_key = val;
        break;
    case OPT_KEYS:
        cfg->keys = val;
        break;
    case OPT_NO_COLOR:
        cfg->no_color = true;
        break;
    case OPT_MAX_UPSTREAM:
    case OPT_MAX_PER_CLIENT: {
        long v;
        if (!whole_number(val, 1, 65536, &v))
            return err_set(e, BROCK_ERR_USAGE, "--%s: expected a number of calls from 1 to 65536, got '%s'", o->name,
                           val);
        if (o->id == OPT_MAX_UPSTREAM)
            cfg->max_upstream = v;
        else
            cfg->max_per_client = v;
        break;
    }
    case OPT_MAX_RPM_PER_CLIENT: {
        long v;
        if (!whole_number(val, 0, 1000000, &v))
            return err_set(e, BROCK_ERR_USAGE,
                           "--max-rpm-per-client: expected requests a minute from 0 (no limit) to 1000000, got '%s'",
                           val);
        cfg->rpm_per_client = v;
        break;
    }
    case OPT_PORT: {
        long v;
        if (!whole_number(val, 0, 65535, &v))
            return err_set(e, BROCK_ERR_USAGE, "--%s: expected a port number from 0 to 65535, got '%s'", o->name, val);
        cfg->port = v;
        cfg->port_set = true;
        break;
    }
    case OPT_PROFILE:
        cfg->profile = val;
        break;
    case OPT_REGION:
        cfg->region = val;
        break;
    case OPT_SCENARIO:
        cfg->scenario = val;
        break;
    case OPT_VERBOSE:
        cfg->verbose = true;
        break;
    case OPT_VERSION:
        cfg->version = true;
        break;
    }
    return BROCK_OK;
}

enum brock_status cli_parse(int argc, char **argv, struct cli_config *cfg, struct brock_err *e)
{
    cfg->args = xcalloc((size_t)argc + 1, sizeof *cfg->args);
    cfg->nargs = 0;
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (!cfg->command && !cfg->print && cli_find_command(a))
                cfg->command = a;
            else
                cfg->args[cfg->nargs++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = true;
            continue;
        }
        const struct opt *o;
        const char *val = NULL;
        if (a[1] == '-') {
            char name[64];
            const char *eq = strchr(a + 2, '=');
            size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            if (nl >= sizeof name)
                return err_set(e, BROCK_ERR_USAGE, "unknown option '%.40s...'", a);
            memcpy(name, a + 2, nl);
            name[nl] = '\0';
            o = find_long(name);
            if (!o)
                return err_set(e, BROCK_ERR_USAGE, "unknown option '--%s' (see brock --help)", name);
            if (eq) {
                if (o->arg == ARG_NONE)
                    return err_set(e, BROCK_ERR_USAGE, "option '--%s' takes no value", name);
                val = eq + 1;
            }
        } else {
            o = find_short(a[1]);
            if (!o)
                return err_set(e, BROCK_ERR_USAGE, "unknown option '-%c' (see brock --help)", a[1]);
            if (a[2]) {
                if (o->arg == ARG_NONE)
                    return err_set(e, BROCK_ERR_USAGE, "option '-%c' takes no value", a[1]);
                val = a + 2;
            }
        }
        if (o->arg != ARG_NONE && !val) {
            if (i + 1 >= argc)
                return err_set(e, BROCK_ERR_USAGE, "option '--%s' needs a value (%s)", o->name,
                               o->metavar);
            val = argv[++i];
        }
        enum brock_status st = apply(cfg, o, val, e);
        if (st)
            return st;
    }
    return BROCK_OK;
}

static void print_row(FILE *f, const struct opt *o)
{
    char left[64];
    if (o->short_name)
        snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
    else
        snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
    fprintf(f, "  %-28s %s\n", left, o->help);
}

void cli_print_options(void *fp)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        print_row(fp, &options[i]);
}

bool cli_print_option(void *fp, const char *name)
{
    const struct opt *o = bsearch(name, options, sizeof options / sizeof options[0], sizeof options[0], cmp_opt);
    if (o)
        print_row(fp, o);
    return o != NULL;
}
