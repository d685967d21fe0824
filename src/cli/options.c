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
    OPT_DEBUG,
    OPT_ENDPOINT_URL,
    OPT_EXPIRES,
    OPT_HELP,
    OPT_JSON,
    OPT_NO_COLOR,
    OPT_PROFILE,
    OPT_REGION,
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
    {"debug", 0, ARG_NONE, OPT_DEBUG, NULL, "log everything brock does (never secrets) to stderr"},
    {"endpoint-url", 0, ARG_STRING, OPT_ENDPOINT_URL, "URL",
     "send requests to URL instead of the AWS endpoint (VPC endpoint, emulator)"},
    {"expires", 0, ARG_LONG, OPT_EXPIRES, "SECONDS", "api-key: lifetime of the key (max 43200)"},
    {"help", 'h', ARG_NONE, OPT_HELP, NULL, "show this help"},
    {"json", 0, ARG_NONE, OPT_JSON, NULL, "machine-readable output (doctor)"},
    {"no-color", 0, ARG_NONE, OPT_NO_COLOR, NULL, "no colours (also NO_COLOR=1)"},
    {"profile", 0, ARG_STRING, OPT_PROFILE, "NAME", "AWS profile from ~/.aws/config (AWS_PROFILE)"},
    {"region", 0, ARG_STRING, OPT_REGION, "REGION", "AWS region (AWS_REGION, default us-west-2)"},
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
    case OPT_DEBUG:
        cfg->debug = true;
        cfg->verbose = true;
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
    case OPT_JSON:
        cfg->json = true;
        break;
    case OPT_NO_COLOR:
        cfg->no_color = true;
        break;
    case OPT_PROFILE:
        cfg->profile = val;
        break;
    case OPT_REGION:
        cfg->region = val;
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
            if (!cfg->command && cli_find_command(a))
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
