/* cmd_print.c - `brock -p "prompt"`: one turn of the agent, non-interactively.
 *
 * The prompt is the command line's words; piped stdin is appended to it (or is
 * the prompt when no words are given), so `git diff | brock -p "review this"`
 * works. Claude runs with brock's tools (and MCP servers from .mcp.json) as
 * Claude Code's print mode does; nothing is asked: what the permission rules
 * and mode do not allow is refused and the model is told why
 * (--allowedTools, --disallowedTools, --permission-mode,
 * --dangerously-skip-permissions decide; by default read-only tools in the
 * working directory run, edits and commands are refused). --tools "" turns
 * the tools off (a plain answer).
 *
 * Output formats follow Claude Code's print mode so scripts written for it
 * keep working:
 *
 *   text         the answers' text as it streams (default); a blank line
 *                between the answers of a tool loop
 *   json         one object: type, subtype (success, error_max_turns,
 *                error_during_execution), is_error, result, session_id,
 *                duration_ms, duration_api_ms, num_turns (model calls),
 *                total_cost_usd, usage (summed), permission_denials, ...
 *   stream-json  one JSON object per line: system/init (tools, MCP servers),
 *                each assistant message, each user message carrying tool
 *                results, then the result object as above
 *
 * The session is saved (brock sessions); --continue / --resume ID go on
 * with an earlier one. Errors keep what already arrived (it was shown) and
 * say what went wrong on stderr; the exit code tells the kind (exitcode.h);
 * reaching --max-turns exits 1. Ctrl-C stops the model or the running tool
 * and exits 130. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../agent/agent.h"
#include "../agent/hooks.h"
#include "../agent/mcp.h"
#include "../agent/memory.h"
#include "../agent/perm.h"
#include "../agent/settings.h"
#include "../agent/tools.h"
#include "../bedrock/bedrock.h"
#include "../monitor/shipper.h"
#include "../bedrock/catalog.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/timeutil.h"
#include "exitcode.h"
#include "runtime.h"

#define PRINT_MAX_STDIN ((size_t)16 * 1024 * 1024)

enum out_format { OUT_TEXT, OUT_JSON, OUT_STREAM_JSON };

struct print_state {
    enum out_format fmt;
    bool verbose;
    bool wrote_text;   /* text went to stdout */
    bool ends_newline; /* the last byte written was '\n' */
    bool need_sep;     /* an answer with text ended: separate the next one */
    const char *session_id;
    const char *model_id;
    /* the last model call */
    char request_id[96], region[32], message_id[96], model[160];
    struct model_usage call_usage;
    int calls;
};

static void print_json_line(json_t *v, bool pretty)
{
    char *s = json_dumps(v, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    puts(s);
    free(s);
    fflush(stdout);
}

static json_t *usage_json(const struct model_usage *u)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "input_tokens", (json_int_t)u->input_tokens,
                     "cache_creation_input_tokens", (json_int_t)u->cache_write_tokens, "cache_read_input_tokens",
                     (json_int_t)u->cache_read_tokens, "output_tokens", (json_int_t)u->output_tokens);
}

static bool has_tool_results(const json_t *content)
{
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b)
    {
        const char *t = json_string_value(json_object_get(b, "type"));
        if (t && !strcmp(t, "tool_result"))
            return true;
    }
    return false;
}

static void on_call(struct print_state *ps, const struct agent_call *c)
{
    ps->calls++;
    snprintf(ps->request_id, sizeof ps->request_id, "%s", c->request_id ? c->request_id : "");
    snprintf(ps->region, sizeof ps->region, "%s", c->region ? c->region : "");
    snprintf(ps->message_id, sizeof ps->message_id, "%s", c->message_id ? c->message_id : "");
    snprintf(ps->model, sizeof ps->model, "%s", c->model ? c->model : "");
    ps->call_usage = c->usage;
    if (!ps->verbose)
        return;
    fprintf(stderr,
            "brock: %s%s in %s, request id %s, %d attempt%s, %.0f ms (first token %.0f ms); tokens: %lld in, "
            "%lld out, %lld cache read, %lld cache write; %d cache point%s; context %lld; $%.6f\n",
            strcmp(c->purpose, "turn") ? "compaction: " : "", c->model_id, c->region && *c->region ? c->region : "-",
            c->request_id && *c->request_id ? c->request_id : "-", c->attempts, c->attempts == 1 ? "" : "s",
            c->latency_ms, c->ttft_ms, (long long)c->usage.input_tokens, (long long)c->usage.output_tokens,
            (long long)c->usage.cache_read_tokens, (long long)c->usage.cache_write_tokens, c->cache_points,
            c->cache_points == 1 ? "" : "s", (long long)c->context_tokens, c->cost_usd);
}

static void on_message(struct print_state *ps, const json_t *msg)
{
    const char *role = json_string_value(json_object_get(msg, "role"));
    const json_t *content = json_object_get(msg, "content");
    bool assistant = role && !strcmp(role, "assistant");
    if (assistant && ps->wrote_text)
        ps->need_sep = true;
    if (ps->fmt != OUT_STREAM_JSON)
        return;
    json_t *line = NULL;
    if (assistant) {
        line = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:O, s:o}, s:s}", "type", "assistant", "message", "id",
                         ps->message_id[0] ? ps->message_id : ps->session_id, "type", "message", "role", "assistant",
                         "model", ps->model[0] ? ps->model : ps->model_id, "content", content, "usage",
                         usage_json(&ps->call_usage), "session_id", ps->session_id);
    } else if (has_tool_results(content)) {
        line = json_pack("{s:s, s:{s:s, s:O}, s:s}", "type", "user", "message", "role", "user", "content", content,
                         "session_id", ps->session_id);
    }
    if (line) {
        print_json_line(line, false);
        json_decref(line);
    }
}

static void on_event(void *ctx, const struct agent_event *ev)
{
    struct print_state *ps = ctx;
    switch (ev->type) {
    case AGENT_EV_TEXT:
        if (ps->fmt != OUT_TEXT || !ev->len)
            return;
        if (ps->need_sep) {
            fputs(ps->ends_newline ? "\n" : "\n\n", stdout);
            ps->need_sep = false;
        }
        fwrite(ev->text, 1, ev->len, stdout);
        fflush(stdout);
        ps->wrote_text = true;
        ps->ends_newline = ev->text[ev->len - 1] == '\n';
        return;
    case AGENT_EV_MESSAGE:
        on_message(ps, ev->input);
        return;
    case AGENT_EV_TOOL_START:
        if (ps->verbose)
            fprintf(stderr, "brock: tool %s: %s\n", ev->tool_name, ev->text);
        return;
    case AGENT_EV_TOOL_RESULT:
        if (ps->verbose)
            fprintf(stderr, "brock: tool %s %s: %s\n", ev->tool_name, ev->is_error ? "failed" : "done", ev->summary);
        return;
    case AGENT_EV_PERMISSION:
        if (ev->decision->verdict != PERM_ALLOW)
            fprintf(stderr, "brock: %s\n", ev->decision->message ? ev->decision->message : "permission denied");
        else if (ps->verbose)
            fprintf(stderr, "brock: allowed %s (%s%s%s)\n", ev->decision->tool, perm_why_name(ev->decision->why),
                    ev->decision->rule ? ": " : "", ev->decision->rule ? ev->decision->rule : "");
        return;
    case AGENT_EV_CALL:
        on_call(ps, ev->call);
        return;
    case AGENT_EV_RETRY:
        if (ps->verbose)
            fprintf(stderr, "brock: %s\n", ev->text);
        return;
    case AGENT_EV_COMPACT:
    case AGENT_EV_HOOK:
        fprintf(stderr, "brock: %s\n", ev->text);
        return;
    case AGENT_EV_WARNING:
        fprintf(stderr, "brock: warning: %s\n", ev->text);
        return;
    case AGENT_EV_THINKING:
        return;
    }
}

static enum brock_status read_stdin(struct buf *b, struct brock_err *e)
{
    char chunk[65536];
    for (;;) {
        ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
        if (r < 0)
            return err_set(e, BROCK_ERR_IO, "reading stdin: %s", strerror(errno));
        if (r == 0)
            return BROCK_OK;
        if (buf_add(b, chunk, (size_t)r) != BROCK_OK)
            return err_set(e, BROCK_ERR_TOO_LARGE, "stdin is larger than %zu MiB", PRINT_MAX_STDIN >> 20);
    }
}

static enum brock_status build_prompt(const struct cli_config *cfg, struct buf *prompt, struct brock_err *e)
{
    for (size_t i = 0; i < cfg->nargs; i++) {
        if (i)
            buf_addc(prompt, ' ');
        buf_addstr(prompt, cfg->args[i]);
    }
    if (!isatty(STDIN_FILENO)) {
        struct buf in = BUF_INIT(PRINT_MAX_STDIN);
        enum brock_status st = read_stdin(&in, e);
        if (st != BROCK_OK) {
            buf_free(&in);
            return st;
        }
        if (in.len) {
            if (prompt->len)
                buf_addstr(prompt, "\n\n");
            buf_add(prompt, in.ptr, in.len);
        }
        buf_free(&in);
    }
    if (buf_status(prompt) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "the prompt is too large");
    if (!prompt->len)
        return err_set(e, BROCK_ERR_USAGE, "no prompt: give one after -p, or pipe text into brock -p");
    if (memchr(prompt->ptr, '\0', prompt->len))
        return err_set(e, BROCK_ERR_USAGE, "the prompt contains a NUL byte");
    return BROCK_OK;
}

static enum brock_status parse_format(const char *s, enum out_format *out, struct brock_err *e)
{
    if (!s || !strcmp(s, "text"))
        *out = OUT_TEXT;
    else if (!strcmp(s, "json"))
        *out = OUT_JSON;
    else if (!strcmp(s, "stream-json"))
        *out = OUT_STREAM_JSON;
    else
        return err_set(e, BROCK_ERR_USAGE, "--output-format: expected text, json or stream-json, got '%s'", s);
    return BROCK_OK;
}

/* Regions to try, primary first: the resolved region, then --regions /
 * BROCK_REGIONS (comma-separated), without repeats. */
static size_t collect_regions(const char *primary, const char *list, char names[][ENDPOINT_REGION_MAX],
                              struct bedrock_region *out, size_t max)
{
    size_t n = 0;
    snprintf(names[n], ENDPOINT_REGION_MAX, "%s", primary);
    out[n].region = names[n];
    out[n].endpoint_url = NULL;
    n++;
    while (list && *list && n < max) {
        size_t len = strcspn(list, ", ");
        if (len && len < ENDPOINT_REGION_MAX) {
            char r[ENDPOINT_REGION_MAX];
            memcpy(r, list, len);
            r[len] = '\0';
            bool dup = false;
            for (size_t i = 0; i < n; i++)
                dup |= !strcmp(names[i], r);
            if (!dup && endpoint_region_valid(r)) {
                snprintf(names[n], ENDPOINT_REGION_MAX, "%s", r);
                out[n].region = names[n];
                out[n].endpoint_url = NULL;
                n++;
            }
        }
        list += len;
        list += strspn(list, ", ");
    }
    return n;
}

/* --tools "Read,Grep" -> names (pointing into `copy`); "" = none. */
static enum brock_status parse_tools(char *copy, const char **names, size_t max, size_t *n, struct brock_err *e)
{
    *n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (!tool_find(t))
            return err_set(e, BROCK_ERR_USAGE, "--tools: unknown tool '%s' (brock has Read, Write, Edit, MultiEdit, "
                           "Glob, Grep, Bash, LS, TodoWrite)", t);
        if (*n < max)
            names[(*n)++] = t;
    }
    return BROCK_OK;
}

/* ---- the agent set-up shared with the REPL (cli.h) ------------------------ */

struct cli_agent_priv {
    struct runtime rt;
    bool rt_ok;
    struct agent_config ac;
    struct buf mem_text;
    char *tools_copy;
    const char *tool_names[32];
    struct model_choice compact;
    struct cli_cost_priv *cost; /* cmd_usage.c: the ledger around every model call */
    bool interactive;
    struct shipper_bg *ship;    /* the REPL's background audit-log shipper (cmd_logs.c) */
};

/* Settings files plus the command line's permission flags. */
static enum brock_status load_settings(struct cli_agent *ca, const struct cli_config *cfg, struct brock_err *e)
{
    struct settings_opts so = {.cwd = ca->cwd};
    enum brock_status st = settings_load(&so, &ca->settings, e);
    for (size_t i = 0; st == BROCK_OK && i < cfg->n_allowed_tools; i++)
        st = settings_cli_rules(ca->settings, PERM_LIST_ALLOW, "--allowedTools", cfg->allowed_tools[i], e);
    for (size_t i = 0; st == BROCK_OK && i < cfg->n_disallowed_tools; i++)
        st = settings_cli_rules(ca->settings, PERM_LIST_DENY, "--disallowedTools", cfg->disallowed_tools[i], e);
    for (size_t i = 0; st == BROCK_OK && i < cfg->n_add_dirs; i++)
        st = settings_cli_add_dir(ca->settings, cfg->add_dirs[i], e);
    if (st == BROCK_OK && cfg->permission_mode)
        st = settings_cli_mode(ca->settings, cfg->permission_mode, e);
    if (st == BROCK_OK && cfg->skip_permissions)
        st = settings_cli_mode(ca->settings, "bypassPermissions", e);
    if (st != BROCK_OK)
        return st;
    for (size_t i = 0; i < ca->settings->nwarnings; i++)
        fprintf(stderr, "brock: warning: %s\n", ca->settings->warnings[i]);
    /* settings' env applies to this run; the real environment wins */
    const char *k;
    json_t *v;
    json_object_foreach(ca->settings->env, k, v)
    {
        if (json_is_string(v))
            setenv(k, json_string_value(v), 0);
    }
    return BROCK_OK;
}

static void start_mcp(struct cli_agent *ca)
{
    struct brock_err e = {0};
    if (mcp_config_load(ca->cwd, NULL, NULL, &ca->mcp_cfg, &e) != BROCK_OK) {
        fprintf(stderr, "brock: warning: MCP servers are off: %s\n", e.msg);
        return;
    }
    for (size_t i = 0; i < ca->mcp_cfg->n_warnings; i++)
        fprintf(stderr, "brock: warning: %s\n", ca->mcp_cfg->warnings[i]);
    if (!ca->mcp_cfg->n_servers)
        return;
    struct mcp_opts o;
    mcp_opts_default(&o);
    o.cwd = ca->cwd;
    o.cancel = &runtime_cancel;
    if (mcp_client_start(ca->mcp_cfg, &o, &ca->mcp, &e) != BROCK_OK) {
        fprintf(stderr, "brock: warning: MCP servers are off: %s\n", e.msg);
        return;
    }
    for (size_t i = 0; i < mcp_client_server_count(ca->mcp); i++) {
        struct mcp_status s;
        mcp_client_status(ca->mcp, i, &s);
        if (s.state != MCP_READY)
            fprintf(stderr, "brock: warning: MCP server %s: %s\n", s.name, s.error[0] ? s.error : mcp_state_name(s.state));
    }
}

enum brock_status cli_agent_prepare(const struct cli_config *cfg, bool interactive, struct cli_agent *ca,
                                    struct brock_err *e)
{
    memset(ca, 0, sizeof *ca);
    struct cli_agent_priv *p = ca->priv = xcalloc(1, sizeof *ca->priv);
    buf_init(&p->mem_text, MEMORY_MAX_TOTAL_BYTES * 2);
    if (cfg->continue_session && cfg->resume)
        return err_set(e, BROCK_ERR_USAGE, "--continue and --resume cannot be used together");
    if (!getcwd(ca->cwd, sizeof ca->cwd))
        return err_set(e, BROCK_ERR_IO, "the working directory: %s", strerror(errno));
    enum brock_status st = load_settings(ca, cfg, e);
    if (st != BROCK_OK)
        return st;
    if ((st = runtime_init(&p->rt, cfg, e)) != BROCK_OK)
        return st;
    p->rt_ok = true;
    p->interactive = interactive;
    ca->rt = &p->rt;
    runtime_install_sigint();

    const char *region = ca->region = p->rt.settings.region.region;
    const char *spec = cfg->model;
    if (!spec || !*spec)
        spec = getenv("ANTHROPIC_MODEL");
    if ((!spec || !*spec) && ca->settings->model)
        spec = ca->settings->model;
    if (!spec || !*spec)
        spec = "sonnet";
    bool auto_model = !strcmp(spec, "auto"); /* routed per request by the ledger */
    if (auto_model)
        spec = "sonnet";
    struct model_choice mc;
    if ((st = catalog_resolve(spec, region, false, &mc, e)) != BROCK_OK)
        return st;
    snprintf(ca->model_id, sizeof ca->model_id, "%s", mc.model_id);
    snprintf(ca->model_how, sizeof ca->model_how, "%s", mc.how);
    ca->model_info = mc.model;
    if (cfg->verbose)
        fprintf(stderr, "brock: model %s (%s), region %s (from %s)\n", mc.model_id, mc.how, region,
                p->rt.settings.region.source);
    bool have_haiku = catalog_resolve("haiku", region, false, &p->compact, NULL) == BROCK_OK;

    char region_names[BEDROCK_MAX_REGIONS][ENDPOINT_REGION_MAX];
    struct bedrock_region regions[BEDROCK_MAX_REGIONS];
    const char *more = cfg->regions ? cfg->regions : getenv("BROCK_REGIONS");
    size_t nreg = collect_regions(region, more, region_names, regions, BEDROCK_MAX_REGIONS);
    struct bedrock_config bc = {
        .settings = &p->rt.settings,
        .regions = regions,
        .n_regions = nreg,
        .creds = runtime_creds(&p->rt),
        .bearer_token = p->rt.emu ? NULL : p->rt.settings.bearer_token,
        .retry = p->rt.retry,
        .http = runtime_http_options(&p->rt),
        .endpoint_url = p->rt.endpoint_url,
    };
    ca->client = bedrock_client_new(&bc);

    struct brock_err se = {0};
    if (store_open(NULL, &ca->store, &se) != BROCK_OK) {
        if (cfg->continue_session || cfg->resume) {
            *e = se;
            return se.status;
        }
        fprintf(stderr, "brock: warning: this session will not be saved: %s\n", se.msg);
        ca->store = NULL;
    }

    size_t n_tool_names = 0;
    bool builtin_tools = !cfg->tools || *cfg->tools;
    if (cfg->tools) {
        p->tools_copy = xstrdup(cfg->tools);
        if ((st = parse_tools(p->tools_copy, p->tool_names, BROCK_ARRAY_LEN(p->tool_names), &n_tool_names, e)) !=
            BROCK_OK)
            return st;
        builtin_tools = n_tool_names > 0;
    }
    struct perm_env pe = {.cwd = ca->cwd, .interactive = interactive};
    if ((st = perm_engine_new(ca->settings, &pe, &ca->perm, e)) != BROCK_OK)
        return st;
    for (size_t i = 0; i < perm_engine_warning_count(ca->perm); i++)
        fprintf(stderr, "brock: warning: %s\n", perm_engine_warning(ca->perm, i));
    if (builtin_tools) {
        if ((st = tool_ctx_new(ca->cwd, NULL, &ca->tools, e)) != BROCK_OK)
            return st;
        tool_ctx_set_cancel(ca->tools, &runtime_cancel);
    }
    struct memory_opts mo = {.cwd = ca->cwd};
    if ((st = memory_collect(&mo, &ca->memory, e)) != BROCK_OK)
        return st;
    if (memory_render(ca->memory, &p->mem_text) != BROCK_OK)
        fprintf(stderr, "brock: warning: the memory files are too large; they were left out\n");
    if (cfg->verbose)
        for (size_t i = 0; i < ca->memory->nnotes; i++)
            fprintf(stderr, "brock: memory: %s\n", ca->memory->notes[i]);
    start_mcp(ca);

    struct agent_config *ac = ca->ac = &p->ac;
    agent_config_init(ac);
    ac->model = ca->client;
    ac->model_id = ca->model_id;
    ac->model_info = ca->model_info;
    ac->api = cfg->api && !strcmp(cfg->api, "converse") ? MODEL_API_CONVERSE : MODEL_API_MESSAGES;
    ac->max_tokens = cfg->max_tokens;
    ac->temperature = cfg->temperature_set ? cfg->temperature : MODEL_UNSET;
    ac->region = region;
    if (have_haiku) {
        ac->compact_model_id = p->compact.model_id;
        ac->compact_model_info = p->compact.model;
    }
    ac->tools = ca->tools;
    ac->tool_names = cfg->tools ? p->tool_names : NULL;
    ac->n_tool_names = n_tool_names;
    ac->mcp = ca->mcp;
    ac->perm = ca->perm;
    ac->system = cfg->system;
    ac->memory = p->mem_text.len ? buf_cstr(&p->mem_text) : NULL;
    ac->append_system = cfg->append_system;
    ac->cwd = ca->cwd;
    ac->store = ca->store;
    ac->user = getenv("USER");
    ac->max_turns = cfg->max_turns;
    ac->cancel = &runtime_cancel;
    if ((st = cli_cost_prepare(cfg, ca, interactive, auto_model, &p->cost, e)) != BROCK_OK)
        return st;
    ac->ledger = cli_cost_ledger(p->cost);
    if (!ca->model_info && catalog_is_app_profile(ca->model_id))
        ac->model_info = ca->model_info = cli_profile_model(ca, ca->model_id, cfg->verbose);
    if (cfg->temperature_set && catalog_refuses_temperature(ca->model_info, cfg->temperature))
        return err_set(e, BROCK_ERR_USAGE,
                       "--temperature: %s takes no temperature (Bedrock refuses sampling parameters for the models "
                       "from Opus 4.7 on); leave --temperature out",
                       ca->model_info->name);
    return agent_config_env(ac, e);
}

const struct pricing *cli_agent_pricing(const struct cli_agent *ca)
{
    return ca->priv ? cli_cost_pricing(ca->priv->cost) : NULL;
}

enum brock_status cli_agent_hooks(struct cli_agent *ca, struct brock_err *e)
{
    const char *sid = agent_session_id(ca->agent);
    if (!ca->settings->hooks || !json_object_size(ca->settings->hooks) || (ca->hooks && !strcmp(sid, ca->hooks_session)))
        return BROCK_OK;
    agent_set_hooks(ca->agent, NULL);
    hooks_free(ca->hooks);
    ca->hooks = NULL;
    struct hooks_opts ho;
    hooks_opts_default(&ho);
    ho.project_dir = ca->cwd;
    ho.session_id = sid;
    ho.permission_mode = perm_mode_name(perm_engine_mode(ca->perm));
    ho.cancel = &runtime_cancel;
    enum brock_status st = hooks_new(ca->settings->hooks, &ho, &ca->hooks, e);
    if (st != BROCK_OK)
        return st;
    snprintf(ca->hooks_session, sizeof ca->hooks_session, "%s", sid);
    const char *const *hw;
    size_t nhw = hooks_warnings(ca->hooks, &hw);
    for (size_t i = 0; i < nhw; i++)
        fprintf(stderr, "brock: warning: %s\n", hw[i]);
    agent_set_hooks(ca->agent, ca->hooks);
    return BROCK_OK;
}

enum brock_status cli_agent_start(struct cli_agent *ca, const struct cli_config *cfg, const char *first_prompt,
                                  struct brock_err *e)
{
    enum brock_status st = agent_new(ca->ac, &ca->agent, e);
    if (st != BROCK_OK)
        return st;
    if (cfg->continue_session || cfg->resume) {
        char id[STORE_SESSION_ID_LEN + 1];
        st = cfg->resume ? store_session_find(ca->store, cfg->resume, id, e)
                         : store_session_latest(ca->store, ca->cwd, id, e);
        if (st == BROCK_ERR_NOT_FOUND && cfg->continue_session)
            err_set(e, st, "no saved session in %s to continue (see brock sessions)", ca->cwd);
        if (st != BROCK_OK || (st = agent_resume(ca->agent, id, e)) != BROCK_OK)
            return st;
        if (cfg->verbose)
            fprintf(stderr, "brock: continuing session %s (%zu messages)\n", id,
                    json_array_size(agent_messages(ca->agent)));
    }
    if (first_prompt)
        agent_session_begin(ca->agent, first_prompt);
    /* the REPL ships audit events in the background while the user types */
    struct cli_agent_priv *p = ca->priv;
    if (p && p->interactive && !p->ship && ca->settings)
        p->ship = cli_logs_start_background(&p->rt, ca->settings->brock);
    /* hooks want the session id: made now when it is known, else before the first turn */
    if (first_prompt || *agent_session_id(ca->agent))
        return cli_agent_hooks(ca, e);
    return BROCK_OK;
}

void cli_agent_turn_done(struct cli_agent *ca)
{
    struct cli_agent_priv *p = ca->priv;
    if (p && p->ship)
        shipper_bg_kick(p->ship);
}

void cli_agent_close(struct cli_agent *ca)
{
    struct cli_agent_priv *p = ca->priv;
    /* Audit events were committed to the spool with each call; ship what the
     * deadline allows now (the rest goes next time, or with brock logs flush). */
    if (p && p->rt_ok && ca->settings) {
        if (p->ship)
            cli_logs_stop_background(p->ship, ca->settings->brock);
        else
            cli_logs_ship_at_exit(&p->rt, ca->settings->brock);
        p->ship = NULL;
        cli_logs_prune_unshipped(ca->store, ca->settings->brock);
    }
    agent_free(ca->agent);
    if (p)
        cli_cost_close(p->cost);
    hooks_free(ca->hooks);
    mcp_client_free(ca->mcp);
    mcp_config_free(ca->mcp_cfg);
    perm_engine_free(ca->perm);
    tool_ctx_free(ca->tools);
    memory_set_free(ca->memory);
    store_close(ca->store);
    model_client_free(ca->client);
    settings_free(ca->settings);
    if (p) {
        if (p->rt_ok)
            runtime_cleanup(&p->rt);
        buf_free(&p->mem_text);
        free(p->tools_copy);
        free(p);
    }
    memset(ca, 0, sizeof *ca);
}

/* ---- -p ------------------------------------------------------------------- */

static json_t *init_line(struct cli_agent *ca, const char *session_id)
{
    json_t *names = json_array(), *servers = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(agent_tool_specs(ca->agent), i, t) json_array_append(names, json_object_get(t, "name"));
    for (i = 0; ca->mcp && i < mcp_client_server_count(ca->mcp); i++) {
        struct mcp_status s;
        mcp_client_status(ca->mcp, i, &s);
        json_array_append_new(servers, json_pack("{s:s,s:s}", "name", s.name, "status", mcp_state_name(s.state)));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s}", "type", "system", "subtype", "init",
                     "session_id", session_id, "model", ca->model_id, "cwd", ca->cwd, "tools", names, "mcp_servers",
                     servers, "permissionMode", perm_mode_name(perm_engine_mode(ca->perm)), "apiKeySource", "none");
}

int cmd_print(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    struct print_state ps = {.verbose = cfg->verbose, .ends_newline = true};
    struct cli_agent ca;
    memset(&ca, 0, sizeof ca);
    struct buf prompt = BUF_INIT(PRINT_MAX_STDIN + 65536);
    enum brock_status st = BROCK_OK;
    int rc;
    if (parse_format(cfg->output_format, &ps.fmt, &e) != BROCK_OK || build_prompt(cfg, &prompt, &e) != BROCK_OK)
        goto fail;
    int64_t t0 = time_mono_ms();
    if (cli_agent_prepare(cfg, false, &ca, &e) != BROCK_OK)
        goto fail;
    ps.model_id = ca.model_id;
    ca.ac->on_event = on_event;
    ca.ac->event_ctx = &ps;
    if (cli_agent_start(&ca, cfg, buf_cstr(&prompt), &e) != BROCK_OK)
        goto fail;
    ps.session_id = agent_session_id(ca.agent);

    if (ps.fmt == OUT_STREAM_JSON) {
        json_t *init = init_line(&ca, ps.session_id);
        print_json_line(init, false);
        json_decref(init);
    }

    struct agent_turn turn;
    st = agent_run_turn(ca.agent, buf_cstr(&prompt), &turn, &e);
    if (ps.fmt == OUT_TEXT && ps.wrote_text && !ps.ends_newline)
        fputc('\n', stdout);
    fflush(stdout);

    if (st != BROCK_OK) {
        if (turn.partial)
            fprintf(stderr, "brock: the answer was cut off after it started: %s\n", e.msg);
        else if (st == BROCK_ERR_INTERRUPTED)
            fprintf(stderr, "brock: interrupted\n");
        else
            fprintf(stderr, "brock: %s\n", e.msg);
    } else if (turn.stop == AGENT_STOP_MAX_TURNS) {
        fprintf(stderr, "brock: stopped after %d model call%s (--max-turns %d)\n", turn.model_calls,
                turn.model_calls == 1 ? "" : "s", cfg->max_turns);
    } else if (turn.stop == AGENT_STOP_MAX_TOKENS) {
        fprintf(stderr, "brock: the answer reached the --max-tokens limit and was cut short\n");
    }

    struct agent_totals tot;
    agent_totals(ca.agent, &tot);
    if (ps.fmt != OUT_TEXT) {
        bool is_error = st != BROCK_OK || turn.stop == AGENT_STOP_MAX_TURNS;
        const char *subtype = turn.stop == AGENT_STOP_MAX_TURNS ? "error_max_turns"
                              : st != BROCK_OK                  ? "error_during_execution"
                                                                : "success";
        json_t *res = json_pack(
            "{s:s, s:s, s:b, s:I, s:I, s:i, s:s, s:s, s:f, s:o, s:O, s:s, s:s, s:s, s:s}", "type", "result", "subtype",
            subtype, "is_error", is_error, "duration_ms", (json_int_t)(time_mono_ms() - t0), "duration_api_ms",
            (json_int_t)turn.api_ms, "num_turns", turn.model_calls, "result",
            st != BROCK_OK && !*turn.text ? e.msg : turn.text, "session_id", ps.session_id, "total_cost_usd",
            turn.cost_usd, "usage", usage_json(&turn.usage), "permission_denials", agent_permission_denials(ca.agent),
            "stop_reason", turn.stop_reason, "model", ca.model_id, "region", ps.region[0] ? ps.region : ca.region,
            "request_id", ps.request_id);
        if (st != BROCK_OK) {
            json_object_set_new(res, "error", json_string(e.msg));
            if (e.aws_code[0])
                json_object_set_new(res, "error_type", json_string(e.aws_code));
        }
        print_json_line(res, ps.fmt == OUT_JSON);
        json_decref(res);
    }
    if (cfg->verbose)
        fprintf(stderr, "brock: session %s: %d model call%s, %lld in, %lld out, %lld cache read, %lld cache write "
                        "tokens; $%.6f\n",
                ps.session_id, tot.model_calls, tot.model_calls == 1 ? "" : "s", (long long)tot.usage.input_tokens,
                (long long)tot.usage.output_tokens, (long long)tot.usage.cache_read_tokens,
                (long long)tot.usage.cache_write_tokens, tot.cost_usd);
    if (cfg->verbose) {
        struct rusage self, kids;
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &kids);
        double ms = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1e3 +
                    (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e3;
        double kms = (double)(kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1e3 +
                     (double)(kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e3;
        fprintf(stderr, "brock: process: cpu %.1f ms (user+sys; the commands it ran: %.1f ms more), peak RSS %.1f MiB\n",
                ms, kms, (double)self.ru_maxrss / 1024.0);
    }
    rc = st != BROCK_OK ? exit_code_for(st) : turn.stop == AGENT_STOP_MAX_TURNS ? EXIT_INTERNAL : EXIT_OK;
    agent_turn_cleanup(&turn);
    cli_agent_close(&ca);
    buf_free(&prompt);
    return rc;

fail:
    rc = cli_fail(&e);
    cli_agent_close(&ca);
    buf_free(&prompt);
    return rc;
}
