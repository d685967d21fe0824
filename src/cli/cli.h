/* cli.h - the parsed command line, and the command table.
 *
 * argv is parsed once (options.c) into `struct cli_config`, which is then only
 * read. Commands are rows of `cli_commands[]` (main.c). */
#ifndef BROCK_CLI_CLI_H
#define BROCK_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/err.h"

/* Most times a list option (--allowedTools, --add-dir, ...) may be given. */
#define CLI_MAX_LIST 16

struct cli_config {
    /* AWS settings (as the AWS CLI) */
    const char *region;
    const char *profile;
    const char *endpoint_url;
    bool emulator; /* --emulator: run against the in-process emulator */
    const char *regions; /* --regions: failover list */
    /* the model call */
    bool print;                /* -p / --print */
    const char *model;
    const char *system;
    const char *api;           /* "messages" (NULL) or "converse" */
    const char *output_format; /* "text" (NULL), "json", "stream-json" */
    int max_tokens;            /* 0 = default */
    double temperature;
    bool temperature_set;
    /* the agent (-p): tools, permissions, sessions */
    int max_turns;                /* --max-turns: model calls, 0 = no limit */
    const char *allowed_tools[CLI_MAX_LIST]; /* --allowedTools (each a rule list) */
    size_t n_allowed_tools;
    const char *disallowed_tools[CLI_MAX_LIST]; /* --disallowedTools */
    size_t n_disallowed_tools;
    const char *add_dirs[CLI_MAX_LIST]; /* --add-dir */
    size_t n_add_dirs;
    const char *permission_mode;  /* --permission-mode */
    bool skip_permissions;        /* --dangerously-skip-permissions */
    bool continue_session;        /* -c / --continue */
    const char *resume;           /* -r / --resume ID */
    const char *append_system;    /* --append-system-prompt */
    const char *tools;            /* --tools LIST: NULL = all, "" = none */
    /* output */
    bool json;
    bool verbose;
    bool debug;
    bool no_color;
    /* actions */
    bool help;
    bool version;
    long expires; /* api-key: seconds, 0 = default */
    /* emulate */
    const char *host;        /* --host: address to listen on */
    long port;               /* --port (when port_set) */
    bool port_set;
    const char *scenario;    /* --scenario FILE */
    const char *keys;        /* --keys FILE */
    const char *deny_models; /* --deny-model ID[,ID...] */
    /* command and its positional arguments */
    const char *command;
    const char **args;
    size_t nargs;
};

/* Parse argv into cfg. On a usage error returns BROCK_ERR_USAGE with a message
 * naming the option. cfg->args is malloc'd (free it). */
enum brock_status cli_parse(int argc, char **argv, struct cli_config *cfg, struct brock_err *e);

/* Print the option list (from the table) to f. */
void cli_print_options(void *f);

/* For the option-table test: true if the table is sorted by long name and every
 * row has help text. */
bool cli_options_table_ok(const char **why);

/* Commands. */
typedef int cli_command_fn(const struct cli_config *cfg);
struct cli_command {
    const char *name;
    cli_command_fn *fn;
    const char *summary;
};
extern const struct cli_command cli_commands[];
const struct cli_command *cli_find_command(const char *name);

int cmd_version(const struct cli_config *cfg);
int cmd_help(const struct cli_config *cfg);
int cmd_doctor(const struct cli_config *cfg);
int cmd_apikey(const struct cli_config *cfg);
int cmd_print(const struct cli_config *cfg);
int cmd_sessions(const struct cli_config *cfg);
int cmd_emulate(const struct cli_config *cfg);
int cmd_models(const struct cli_config *cfg);

/* Report an error on stderr as "brock: <msg>" and return its exit code. */
int cli_fail(const struct brock_err *e);

#endif
