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
    {"add-dir", 0, ARG_STRING, OPT_ADD_DIR, "DIR", "-p: also allow tools in DIR (repeatable)"},
    {"allowedTools", 0, ARG_STRING, OPT_ALLOWED_TOOLS, "RULES",
     "-p: permission rules that run without asking, e.g. \"Bash(git diff:*) Edit\" (repeatable)"},
    {"api", 0, ARG_STRING, OPT_API, "API", "messages (InvokeModel, the default) or converse (Converse API)"},
    {"append-system-prompt", 0, ARG_STRING, OPT_APPEND_SYSTEM_PROMPT, "TEXT", "add TEXT to the end of the system prompt"},
    {"continue", 'c', ARG_NONE, OPT_CONTINUE, NULL, "-p: continue the latest session of this directory"},
    {"dangerously-skip-permissions", 0, ARG_NONE, OPT_DANGEROUSLY_SKIP_PERMISSIONS, NULL,
     "-p: run every tool without asking (permission mode bypassPermissions)"},
    {"debug", 0, ARG_NONE, OPT_DEBUG, NULL, "log everything brock does (never secrets) to stderr"},
    {"deny-model", 0, ARG_STRING, OPT_DENY_MODEL, "ID[,ID...]",
     "emulate: answer these model ids with AccessDeniedException"},
    {"disallowedTools", 0, ARG_STRING, OPT_DISALLOWED_TOOLS, "RULES",
     "-p: permission rules that are refused; a bare tool name hides the tool (repeatable)"},
    {"emulator", 0, ARG_NONE, OPT_EMULATOR, NULL,
     "start the local Bedrock emulator in-process and use it (no AWS account needed)"},
    {"endpoint-url", 0, ARG_STRING, OPT_ENDPOINT_URL, "URL",
     "send requests to URL instead of the AWS endpoint (VPC endpoint, emulator)"},
    {"expires", 0, ARG_LONG, OPT_EXPIRES, "SECONDS", "api-key: lifetime of the key (max 43200)"},
    {"help", 'h', ARG_NONE, OPT_HELP, NULL, "show this help"},
    {"host", 0, ARG_STRING, OPT_HOST, "ADDR", "emulate: address to listen on (127.0.0.1 or ::1)"},
    {"json", 0, ARG_NONE, OPT_JSON, NULL, "machine-readable output (doctor)"},
    {"keys", 0, ARG_STRING, OPT_KEYS, "FILE", "emulate: more accepted credentials and API keys (JSON)"},
    {"max-tokens", 0, ARG_LONG, OPT_MAX_TOKENS, "N", "most tokens in the answer (default: the model's maximum, up to 16384)"},
    {"max-turns", 0, ARG_LONG, OPT_MAX_TURNS, "N", "-p: stop after N model calls"},
    {"model", 0, ARG_STRING, OPT_MODEL, "MODEL", "sonnet, opus, haiku, a Bedrock model id, inference profile or ARN (ANTHROPIC_MODEL)"},
    {"no-color", 0, ARG_NONE, OPT_NO_COLOR, NULL, "no colours (also NO_COLOR=1)"},
    {"output-format", 0, ARG_STRING, OPT_OUTPUT_FORMAT, "FORMAT", "-p output: text, json or stream-json (as Claude Code)"},
    {"permission-mode", 0, ARG_STRING, OPT_PERMISSION_MODE, "MODE",
     "default, acceptEdits, plan or bypassPermissions (docs/permissions.md)"},
    {"port", 0, ARG_LONG, OPT_PORT, "N", "emulate: port to listen on (0 = any free port; default 8910)"},
    {"print", 'p', ARG_NONE, OPT_PRINT, NULL, "answer the prompt (the arguments, plus piped stdin) and exit"},
    {"profile", 0, ARG_STRING, OPT_PROFILE, "NAME", "AWS profile from ~/.aws/config (AWS_PROFILE)"},
    {"region", 0, ARG_STRING, OPT_REGION, "REGION", "AWS region (AWS_REGION, default us-west-2)"},
    {"regions", 0, ARG_STRING, OPT_REGIONS, "R1,R2", "regions to fail over to on throttling or 5xx (BROCK_REGIONS)"},
    {"resume", 'r', ARG_STRING, OPT_RESUME, "ID", "-p: continue the session ID (see brock sessions)"},
    {"scenario", 0, ARG_STRING, OPT_SCENARIO, "FILE", "emulate: answer from this scenario file (docs/scenarios.md)"},
    {"system", 0, ARG_STRING, OPT_SYSTEM, "TEXT", "system prompt"},
    {"temperature", 0, ARG_STRING, OPT_TEMPERATURE, "T", "sampling temperature, 0 to 1"},
    {"tools", 0, ARG_STRING, OPT_TOOLS, "LIST", "-p: built-in tools offered, e.g. \"Read,Grep\" (\"\" = none)"},
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
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v <= 0 || v > 100000)
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
    case OPT_API:
        if (strcmp(val, "messages") && strcmp(val, "converse"))
            return err_set(e, BROCK_ERR_USAGE, "--api: expected messages or converse, got '%s'", val);
        cfg->api = val;
        break;
    case OPT_MAX_TOKENS: {
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v <= 0 || v > 1000000)
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
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v <= 0)
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
    case OPT_KEYS:
        cfg->keys = val;
        break;
    case OPT_NO_COLOR:
        cfg->no_color = true;
        break;
    case OPT_PORT: {
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < 0 || v > 65535)
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

void cli_print_options(void *fp)
{
    FILE *f = fp;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const struct opt *o = &options[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        fprintf(f, "  %-28s %s\n", left, o->help);
    }
}
