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
    /* cost: budgets, the response cache, `brock usage` */
    double max_budget_usd;        /* --max-budget-usd: this run's limit, 0 = none */
    bool ignore_budget;           /* --ignore-budget */
    bool cache;                   /* --cache: use the response cache for any request */
    bool no_cache;                /* --no-cache */
    const char *since;            /* usage: --since WHEN */
    /* monitoring: `brock setup`, `brock logs` */
    bool dry_run;                 /* setup: --dry-run prints the requests, sends none */
    const char *log_group;        /* --log-group NAME (over BROCK_LOG_GROUP and settings) */
    long retention_days;          /* setup: --retention-days N, 0 = 30 */
    bool invocation_logging;      /* setup: --invocation-logging */
    const char *logging_role_arn; /* setup: --logging-role-arn ARN */
    double daily_budget_usd;      /* setup: --daily-budget-usd X, 0 = brock.budget.daily_usd */
    const char *alarm_sns_topic;  /* setup: --alarm-sns-topic ARN */
    const char *cost_metric;      /* setup: --cost-metric emf|bedrock */
    const char *policy_for;       /* setup iam-policy: --for invoke|monitoring|batch|all */
    const char *account;          /* setup: --account ID (else STS GetCallerIdentity) */
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
    /* batch (cmd_batch.c) */
    const char *output;      /* -o / --output FILE */
    const char *format;      /* --format json|text */
    long concurrency;        /* --concurrency N, 0 = default */
    const char *engine;      /* --engine local|bedrock */
    const char *prompt_file; /* --prompt-file FILE */
    const char *s3_prefix;   /* --s3-prefix s3://bucket/prefix/ */
    const char *role_arn;    /* --role-arn ARN */
    const char *job_name;    /* --job-name NAME */
    double rpm, tpm;         /* --rpm / --tpm: admission ceilings, 0 = none */
    double poll_interval;    /* --poll-interval SECONDS, 0 = default */
    bool restart;            /* --restart */
    /* serve (cmd_serve.c) */
    const char *serve_keys[CLI_MAX_LIST]; /* --key TOKEN=USER[/PROJECT] */
    size_t n_serve_keys;
    const char *keys_file;   /* --keys-file FILE */
    const char *tls_cert;    /* --tls-cert FILE */
    const char *tls_key;     /* --tls-key FILE */
    bool realtime;           /* --realtime: the loop thread at SCHED_FIFO */
    long max_upstream;       /* --max-upstream N (0 = the gateway's default) */
    long max_per_client;     /* --max-per-client N (0 = the gateway's default) */
    long rpm_per_client;     /* --max-rpm-per-client N (0 = no limit) */
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
/* Print the row of the option with this long name; false if there is none. */
bool cli_print_option(void *f, const char *name);

/* For the option-table test: true if the table is sorted by long name and every
 * row has help text. */
bool cli_options_table_ok(const char **why);

/* Commands. */
typedef int cli_command_fn(const struct cli_config *cfg);
struct cli_command {
    const char *name;
    cli_command_fn *fn;
    const char *summary;
    const char *usage;            /* what follows `brock`, e.g. "serve [options]" */
    const char *const *options;   /* the long names of the options it reads (for `brock CMD --help`) */
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
int cmd_usage(const struct cli_config *cfg);
int cmd_batch(const struct cli_config *cfg);
int cmd_cache(const struct cli_config *cfg);
int cmd_models(const struct cli_config *cfg);
int cmd_repl(const struct cli_config *cfg);
int cmd_setup(const struct cli_config *cfg);
int cmd_logs(const struct cli_config *cfg);
int cmd_serve(const struct cli_config *cfg);

/* ---- audit-log shipping (cmd_logs.c) ----
 *
 * The monitoring settings of a run: brock.monitoring from `brock` (the
 * settings' raw section; NULL = load the settings files of the working
 * directory), the BROCK_LOG_* variables, and cfg's --log-group (cfg may be
 * NULL). */
struct json_t;
struct monitor_config;
struct runtime;
struct shipper_bg;
struct store;
enum brock_status cli_monitor_config(const struct cli_config *cfg, const struct json_t *brock,
                                     struct monitor_config *mc, struct brock_err *e);
/* At the end of a command that made model calls (-p): ship the spool for at
 * most brock.monitoring.exit_deadline_ms (2 s); what is left ships next
 * time. Nothing happens when no log group is set. A failure is one warning
 * line on stderr. rt is the command's runtime. */
void cli_logs_ship_at_exit(struct runtime *rt, const struct json_t *brock);
/* The REPL: ship in a background thread every brock.monitoring.ship_interval_s
 * (and when kicked with shipper_bg_kick after a turn, monitor/shipper.h);
 * NULL when no log group is set or it cannot start (a warning is printed).
 * Stop it before rt goes away: one last run of at most the exit deadline. */
struct shipper_bg *cli_logs_start_background(struct runtime *rt, const struct json_t *brock);
void cli_logs_stop_background(struct shipper_bg *bg, const struct json_t *brock);
/* With no log group set, drop the spooled audit events CloudWatch Logs
 * would refuse anyway (older than 14 days: audit_spool_prune), so an
 * unshipped spool stays bounded. Nothing happens when shipping is on. */
void cli_logs_prune_unshipped(struct store *s, const struct json_t *brock);
/* The same with the monitoring settings already read (the gateway's books thread). */
void cli_logs_prune_if_unshipped(struct store *s, const struct monitor_config *mc);

/* The REPL's start-up decision for `brock [words]` without a command or -p
 * (repl.c): 0 = start the REPL, else an exit code after an error message on
 * stderr (no terminal; a near-miss of a command name). */
int cli_repl_or_fail(const struct cli_config *cfg);

/* ---- the agent set-up shared by -p (cmd_print.c) and the REPL (repl.c) ----
 *
 *     struct cli_agent ca;
 *     cli_agent_prepare(cfg, interactive, &ca, &e); // settings files and flags, AWS runtime,
 *                                                   // model, client, store, permissions, tools,
 *                                                   // memory files, MCP servers; fills *ca.ac
 *     ca.ac->on_event = ...; ca.ac->ask = ...;      // the caller's callbacks
 *     cli_agent_start(&ca, cfg, first_prompt, &e);  // the agent, --continue / --resume, hooks
 *     ... agent_run_turn(ca.agent, ...) ...
 *     cli_agent_close(&ca);                         // also after a failed prepare or start
 *
 * Warnings (settings, rules, MCP servers, a store that cannot be opened) go
 * to stderr as "brock: warning: ...". SIGINT sets runtime_cancel (runtime.h)
 * from prepare on. Ownership: `ca` owns everything it points to; *ca.ac and
 * its strings stay valid until cli_agent_close(), so the agent can be made
 * again from it (the REPL's /model and /resume). One thread. */
struct agent;
struct agent_config;
struct hooks;
struct mcp_client;
struct mcp_config;
struct memory_set;
struct model_client;
struct model_info;
struct perm_engine;
struct runtime;
struct settings;
struct store;
struct tool_ctx;
struct cli_agent_priv;

struct cli_agent {
    struct runtime *rt;
    struct settings *settings;
    struct perm_engine *perm;
    struct tool_ctx *tools;      /* NULL with --tools "" */
    struct memory_set *memory;
    struct mcp_config *mcp_cfg;
    struct mcp_client *mcp;      /* NULL without MCP servers */
    struct hooks *hooks;         /* NULL without hooks (or before the session id is known) */
    struct store *store;         /* NULL when the database cannot be opened: nothing is saved */
    struct model_client *client;
    struct agent_config *ac;     /* what the agent is made from */
    struct agent *agent;
    const struct model_info *model_info; /* of model_id; NULL for an application profile */
    char model_id[256];
    char model_how[128];         /* how the model was chosen, for --verbose */
    const char *region;          /* the resolved region (borrowed from rt) */
    char cwd[4096];
    char hooks_session[40];      /* the session id the hooks were made with */
    struct cli_agent_priv *priv;
};

enum brock_status cli_agent_prepare(const struct cli_config *cfg, bool interactive, struct cli_agent *ca,
                                    struct brock_err *e);
/* agent_new from *ca->ac; --continue / --resume; the session begun with
 * first_prompt (NULL: at the first turn); hooks when the session id is known. */
enum brock_status cli_agent_start(struct cli_agent *ca, const struct cli_config *cfg, const char *first_prompt,
                                  struct brock_err *e);
/* (Re)make the hooks for the agent's current session id; a no-op without
 * hooks in the settings or when they already have that id. */
enum brock_status cli_agent_hooks(struct cli_agent *ca, struct brock_err *e);
void cli_agent_close(struct cli_agent *ca); /* zeroed or half-made is fine; ships audit events */
/* After each REPL turn: wake the background audit-log shipper. */
void cli_agent_turn_done(struct cli_agent *ca);

/* ---- the cost set-up of a run (cmd_usage.c), used by cli_agent_prepare ----
 *
 * The caller identity (STS, cached), prices, budget, routing (--model auto),
 * response cache, fallback and audit events around every model call, as a
 * ledger (src/agent/ledger.h) the agent calls instead of the model. After
 * cli_agent_prepare, `ca->ac->ledger` is it: the REPL's /cost is
 * ledger_format_cost(ca->ac->ledger, &buf). Close after agent_free and
 * before the store and the runtime. */
struct cli_cost_priv;
struct ledger;
enum brock_status cli_cost_prepare(const struct cli_config *cfg, struct cli_agent *ca, bool interactive,
                                   bool auto_model, struct cli_cost_priv **out, struct brock_err *e);
struct ledger *cli_cost_ledger(const struct cli_cost_priv *p);
struct pricing;
const struct pricing *cli_cost_pricing(const struct cli_cost_priv *p); /* NULL before prepare */
const struct pricing *cli_agent_pricing(const struct cli_agent *ca);     /* the run's prices, or NULL */

/* An application inference profile ARN: ask Bedrock which model it runs
 * (GetInferenceProfile: one attempt, short timeouts; the answer is kept in
 * the data directory's profiles.json, as a profile's model never changes),
 * so the model's limits apply and the ledger prices its calls as that
 * model. NULL, with a warning on stderr, when Bedrock does not say (its
 * calls are then booked at the catalog's highest prices unless the prices
 * file has the ARN). cli_profile.c. */
const struct model_info *cli_profile_model(struct cli_agent *ca, const char *arn, bool verbose);
/* The same without an agent: the answer kept in dir (NULL: not kept), pr
 * (may be NULL) saying whether a failure needs a warning. */
struct runtime;
const struct model_info *cli_profile_lookup(struct runtime *rt, const char *dir, const struct pricing *pr,
                                            const char *arn, bool verbose);
/* The lookup alone, quiet: *kept says the answer came from dir's file. */
enum brock_status cli_profile_find(struct runtime *rt, const char *dir, const char *arn, const struct model_info **m,
                                   bool *kept, struct brock_err *e);
void cli_cost_close(struct cli_cost_priv *p); /* NULL is fine */

/* Report an error on stderr as "brock: <msg>" and return its exit code. */
int cli_fail(const struct brock_err *e);

#endif
