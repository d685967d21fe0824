/* agent.c - the loop (see agent.h): turns, model calls, accounting, state. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bedrock/bedrock_wire.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/uuid.h"
#include "agent_int.h"
#include "ledger.h"
#include "hooks.h"
#include "mcp.h"
#include "tools.h"

#define DEFAULT_WINDOW 200000
#define DEFAULT_MAX_TOKENS 16384

/* ---- configuration ------------------------------------------------------ */

void agent_config_init(struct agent_config *c)
{
    memset(c, 0, sizeof *c);
    c->api = MODEL_API_MESSAGES;
    c->stream = true;
    c->temperature = MODEL_UNSET;
    c->compact_threshold = AGENT_COMPACT_THRESHOLD;
    c->auto_compact = true;
}

static bool env_true(const char *v)
{
    return v && *v && strcmp(v, "0") && strcasecmp(v, "false") && strcasecmp(v, "no") && strcasecmp(v, "off");
}

enum brock_status agent_config_env(struct agent_config *c, struct brock_err *e)
{
    if (env_true(getenv("DISABLE_PROMPT_CACHING")))
        c->disable_cache = true;
    if (c->model_info) {
        static const char *const fam[] = {[FAMILY_HAIKU] = "DISABLE_PROMPT_CACHING_HAIKU",
                                          [FAMILY_SONNET] = "DISABLE_PROMPT_CACHING_SONNET",
                                          [FAMILY_OPUS] = "DISABLE_PROMPT_CACHING_OPUS",
                                          [FAMILY_FABLE] = "DISABLE_PROMPT_CACHING_FABLE"};
        if ((size_t)c->model_info->family < BROCK_ARRAY_LEN(fam) && env_true(getenv(fam[c->model_info->family])))
            c->disable_cache = true;
    }
    const char *w = getenv("BROCK_CONTEXT_WINDOW");
    if (w && *w) {
        char *end;
        errno = 0;
        long long v = strtoll(w, &end, 10);
        if (errno || *end || v < AGENT_MIN_WINDOW || v > 100000000)
            return err_set(e, BROCK_ERR_USAGE, "BROCK_CONTEXT_WINDOW: expected a number of tokens from %d to 100000000",
                           AGENT_MIN_WINDOW);
        c->context_window = v;
    }
    const char *t = getenv("BROCK_COMPACT_THRESHOLD");
    if (t && *t) {
        char *end;
        errno = 0;
        double v = strtod(t, &end);
        if (errno || *end || !(v > 0.0 && v <= 1.0))
            return err_set(e, BROCK_ERR_USAGE, "BROCK_COMPACT_THRESHOLD: expected a number above 0 and at most 1");
        c->compact_threshold = v;
    }
    const char *ac = getenv("BROCK_AUTO_COMPACT");
    if (ac && *ac && !env_true(ac))
        c->auto_compact = false;
    return BROCK_OK;
}

const char *agent_stop_name(enum agent_stop s)
{
    static const char *const names[] = {"end_turn", "max_turns", "max_tokens", "refusal",
                                        "hook",     "interrupted", "error"};
    return (size_t)s < BROCK_ARRAY_LEN(names) ? names[s] : "unknown";
}

void agent_turn_cleanup(struct agent_turn *t)
{
    if (!t)
        return;
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* ---- small helpers ------------------------------------------------------ */

void agent_emit(struct agent *a, const struct agent_event *ev)
{
    if (a->cfg.on_event)
        a->cfg.on_event(a->cfg.event_ctx, ev);
}

void agent_warn(struct agent *a, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct agent_event ev = {.type = AGENT_EV_WARNING, .text = msg, .len = strlen(msg)};
    agent_emit(a, &ev);
}

int64_t agent_estimate_message(const json_t *msg)
{
    json_t *arr = json_array();
    json_array_append((json_t *)arr, (json_t *)msg);
    struct model_request r = {.messages = arr};
    int64_t t = bedrock_estimate_tokens(&r);
    json_decref(arr);
    return t;
}

void agent_push(struct agent *a, json_t *msg, int64_t seq)
{
    size_t n = json_array_size(a->messages);
    if (n + 1 > a->cap_msgs) {
        a->cap_msgs = a->cap_msgs ? a->cap_msgs * 2 : 64;
        a->seqs = xrealloc(a->seqs, a->cap_msgs * sizeof *a->seqs);
        a->toks = xrealloc(a->toks, a->cap_msgs * sizeof *a->toks);
    }
    a->seqs[n] = seq;
    a->toks[n] = agent_estimate_message(msg);
    json_array_append_new(a->messages, msg);
}

static bool cancelled(const struct agent *a)
{
    return a->cfg.cancel && *a->cfg.cancel;
}

/* Concatenated text blocks of a content array, malloc'd. */
static char *content_text(const json_t *content)
{
    struct buf b = BUF_INIT(BEDROCK_MAX_CONTENT_BYTES);
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        json_t *t = json_object_get(blk, "text");
        if (type && !strcmp(type, "text") && json_is_string(t)) {
            if (b.len)
                buf_addc(&b, '\n');
            buf_add(&b, json_string_value(t), json_string_length(t));
        }
    }
    return buf_take(&b);
}

static size_t count_tool_uses(const json_t *content)
{
    size_t n = 0, i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        n += type && !strcmp(type, "tool_use");
    }
    return n;
}

/* ---- construction ------------------------------------------------------- */

static bool rule_hides(const char *rule, const char *tool)
{
    if (!strcmp(rule, tool))
        return true;
    /* `mcp__server` hides every tool of that server */
    size_t rl = strlen(rule);
    return !strncmp(rule, "mcp__", 5) && !strstr(rule + 5, "__") && !strncmp(tool, rule, rl) &&
           !strncmp(tool + rl, "__", 2);
}

/* A tool is offered unless a bare deny rule names it (Claude Code removes
 * --disallowedTools names from the model's context) or the config's list
 * leaves it out. */
static bool offered(const struct agent_config *c, const char *name, bool builtin)
{
    if (builtin && c->tool_names) {
        bool listed = false;
        for (size_t i = 0; i < c->n_tool_names && !listed; i++)
            listed = !strcmp(c->tool_names[i], name);
        if (!listed)
            return false;
    }
    if (!c->perm)
        return true;
    size_t n = perm_engine_rule_count(c->perm);
    for (size_t i = 0; i < n; i++) {
        struct perm_rule_info ri;
        if (perm_engine_rule(c->perm, i, &ri) && ri.list == PERM_LIST_DENY && !strchr(ri.text, '(') &&
            rule_hides(ri.text, name))
            return false;
    }
    return true;
}

static void add_specs(json_t *out, json_t *specs, const struct agent_config *c, bool builtin)
{
    size_t i;
    json_t *t;
    json_array_foreach(specs, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (name && offered(c, name, builtin))
            json_array_append(out, t);
    }
    json_decref(specs);
}

static enum brock_status build_system(struct agent *a, const struct agent_config *c, struct brock_err *e)
{
    if ((c->system && strlen(c->system) > AGENT_SYSTEM_MAX) ||
        (c->append_system && strlen(c->append_system) > AGENT_SYSTEM_MAX))
        return err_set(e, BROCK_ERR_TOO_LARGE, "the system prompt is larger than %zu KiB", AGENT_SYSTEM_MAX >> 10);
    struct buf b = BUF_INIT(AGENT_SYSTEM_MAX * 2 + (size_t)8 * 1024 * 1024);
    if (c->system) {
        buf_addstr(&b, c->system);
    } else {
        char *def = agent_default_prompt(a->cwd, clock_now_ms(c->clock), json_array_size(a->tools) > 0);
        buf_addstr(&b, def);
        free(def);
    }
    if (c->memory && *c->memory) {
        if (b.len)
            buf_addstr(&b, "\n\n");
        buf_addstr(&b, c->memory);
    }
    if (c->append_system && *c->append_system) {
        if (b.len)
            buf_addstr(&b, "\n\n");
        buf_addstr(&b, c->append_system);
    }
    if (buf_status(&b) != BROCK_OK) {
        buf_free(&b);
        return err_set(e, BROCK_ERR_TOO_LARGE, "the system prompt with the memory files is too large");
    }
    a->system_text = buf_take(&b);
    if (*a->system_text) {
        a->system = json_pack("[{s:s,s:s}]", "type", "text", "text", a->system_text);
        struct model_request r = {.system = a->system};
        a->system_tokens = bedrock_estimate_tokens(&r);
    }
    return BROCK_OK;
}

enum brock_status agent_new(const struct agent_config *cfg, struct agent **out, struct brock_err *e)
{
    *out = NULL;
    if (!cfg->model || !cfg->model_id || !*cfg->model_id || !cfg->cwd)
        return err_set(e, BROCK_ERR_USAGE, "agent: a model client, a model id and a working directory are required");
    if ((cfg->tools || cfg->mcp) && !cfg->perm)
        return err_set(e, BROCK_ERR_USAGE, "agent: tools need a permission engine");
    if (!(cfg->compact_threshold > 0.0 && cfg->compact_threshold <= 1.0))
        return err_set(e, BROCK_ERR_USAGE, "agent: compact_threshold must be above 0 and at most 1");
    struct agent *a = xcalloc(1, sizeof *a);
    a->cfg = *cfg;
    a->model_id = xstrdup(cfg->model_id);
    a->compact_model_id = xstrdup(cfg->compact_model_id ? cfg->compact_model_id : cfg->model_id);
    if (!cfg->compact_model_id)
        a->cfg.compact_model_info = cfg->model_info;
    a->cwd = xstrdup(cfg->cwd);
    a->region = cfg->region ? xstrdup(cfg->region) : NULL;
    a->user = cfg->user ? xstrdup(cfg->user) : NULL;
    a->cfg.model_id = a->model_id;
    a->cfg.compact_model_id = a->compact_model_id;
    a->cfg.cwd = a->cwd;
    a->cfg.region = a->region;
    a->cfg.user = a->user;
    a->cfg.system = a->cfg.memory = a->cfg.append_system = NULL; /* only read by agent_new */
    a->cfg.tool_names = NULL;
    a->cfg.n_tool_names = 0;
    catalog_find(a->model_id, &a->geo);
    catalog_find(a->compact_model_id, &a->compact_geo);
    if (a->cfg.max_tokens <= 0) {
        uint32_t mo = cfg->model_info ? cfg->model_info->max_output : 4096;
        a->cfg.max_tokens = (int)(mo < DEFAULT_MAX_TOKENS ? mo : DEFAULT_MAX_TOKENS);
    }
    a->window = cfg->context_window > 0 ? cfg->context_window
                                        : cfg->model_info ? (int64_t)cfg->model_info->context_tokens : DEFAULT_WINDOW;
    a->totals.context_window = a->window;
    a->messages = json_array();
    a->denials = json_array();
    a->prev_end = SIZE_MAX;

    a->tools = json_array();
    if (cfg->tools)
        add_specs(a->tools, tool_specs_json(), cfg, true);
    if (cfg->mcp)
        add_specs(a->tools, mcp_client_tool_specs(cfg->mcp), cfg, false);
    if (json_array_size(a->tools)) {
        struct model_request r = {.tools = a->tools};
        a->tools_tokens = bedrock_estimate_tokens(&r);
    }
    enum brock_status st = build_system(a, cfg, e);
    if (st != BROCK_OK) {
        agent_free(a);
        return st;
    }
    if (!cfg->store)
        uuid_v4(a->session_id);
    *out = a;
    return BROCK_OK;
}

void agent_free(struct agent *a)
{
    if (!a)
        return;
    free(a->model_id);
    free(a->compact_model_id);
    free(a->cwd);
    free(a->region);
    free(a->user);
    free(a->system_text);
    json_decref(a->system);
    json_decref(a->tools);
    json_decref(a->messages);
    json_decref(a->denials);
    free(a->seqs);
    free(a->toks);
    free(a);
}

/* ---- accounting --------------------------------------------------------- */

void agent_account(struct agent *a, const char *purpose, const char *model_id, const struct model_info *mi,
                   enum model_geo geo, const struct model_result *res, enum brock_status st, int cache_points,
                   const struct brock_err *e, struct agent_turn *turn)
{
    const struct model_usage *u = &res->usage;
    const struct ledger_outcome *lo = a->cfg.ledger ? ledger_last(a->cfg.ledger) : NULL;
    if (lo && lo->refused) /* the budget stopped it: no call was made */
        return;
    double cost = lo ? lo->cost_usd
                  : mi ? catalog_cost(mi, geo, u->input_tokens, u->output_tokens, u->cache_read_tokens,
                                      u->cache_write_tokens, 0, false)
                       : 0.0;
    a->totals.model_calls++;
    a->totals.usage.input_tokens += u->input_tokens;
    a->totals.usage.output_tokens += u->output_tokens;
    a->totals.usage.cache_read_tokens += u->cache_read_tokens;
    a->totals.usage.cache_write_tokens += u->cache_write_tokens;
    a->totals.cost_usd += cost;
    if (turn) {
        turn->usage.input_tokens += u->input_tokens;
        turn->usage.output_tokens += u->output_tokens;
        turn->usage.cache_read_tokens += u->cache_read_tokens;
        turn->usage.cache_write_tokens += u->cache_write_tokens;
        turn->cost_usd += cost;
        turn->api_ms += (int64_t)res->latency_ms;
    }
    int64_t context = u->input_tokens + u->cache_read_tokens + u->cache_write_tokens + u->output_tokens;
    bool turn_call = !strcmp(purpose, "turn");
    if (turn_call && st == BROCK_OK) {
        a->last_context = context;
        a->totals.context_tokens = context;
        uint32_t min = a->cfg.model_info ? a->cfg.model_info->min_cache_tokens : 0;
        if (!a->cache_reset && cache_points > 0 && min && a->last_cache_write >= (int64_t)min &&
            u->cache_read_tokens == 0) {
            a->totals.cache_misses++;
            agent_warn(a,
                       "prompt cache: the previous request wrote %lld tokens to the cache but this one read "
                       "none (the cache expired, or the start of the prompt changed)",
                       (long long)a->last_cache_write);
        }
        a->last_cache_write = u->cache_write_tokens;
        a->cache_reset = false;
    }
    if (!lo) /* the ledger wrote its own row */
        agent_store_ledger(a, model_id, res, st, e, cost);
    if (lo && res->model_id[0])
        model_id = res->model_id; /* routing may have chosen another model */
    struct agent_call call = {
        .model_id = model_id,
        .region = res->region[0] ? res->region : a->region ? a->region : "",
        .request_id = res->request_id,
        .message_id = res->message_id,
        .model = res->model,
        .stop_reason = res->stop_reason,
        .purpose = purpose,
        .status = st,
        .attempts = res->attempts,
        .latency_ms = res->latency_ms,
        .ttft_ms = res->ttft_ms,
        .usage = *u,
        .cost_usd = cost,
        .cache_points = cache_points,
        .context_tokens = context,
    };
    struct agent_event ev = {.type = AGENT_EV_CALL, .call = &call};
    agent_emit(a, &ev);
}

/* ---- model calls -------------------------------------------------------- */

static void ev_text(void *ctx, int index, const char *text, size_t n)
{
    (void)index;
    char *s = xmemdup(text, n);
    struct agent_event ev = {.type = AGENT_EV_TEXT, .text = s, .len = n};
    agent_emit(ctx, &ev);
    free(s);
}

static void ev_thinking(void *ctx, int index, const char *text, size_t n)
{
    (void)index;
    char *s = xmemdup(text, n);
    struct agent_event ev = {.type = AGENT_EV_THINKING, .text = s, .len = n};
    agent_emit(ctx, &ev);
    free(s);
}

static void ev_retry(void *ctx, const char *why)
{
    struct agent_event ev = {.type = AGENT_EV_RETRY, .text = why, .len = strlen(why)};
    agent_emit(ctx, &ev);
}

enum brock_status agent_model_invoke(struct agent *a, const char *purpose, struct model_request *req,
                                     const struct model_events *ev, struct model_result *res, struct brock_err *e)
{
    if (!a->cfg.ledger)
        return model_invoke(a->cfg.model, req, ev, res, e);
    struct ledger_call call = {.purpose = purpose, .session_id = a->session_id[0] ? a->session_id : NULL};
    return ledger_invoke(a->cfg.ledger, a->cfg.model, &call, req, ev, res, NULL, e);
}

/* One call of the turn: the conversation with cache points. */
static enum brock_status call_turn(struct agent *a, struct model_result *res, int *points, struct brock_err *e)
{
    size_t n = json_array_size(a->messages);
    struct agent_cache_plan plan;
    uint32_t min = a->cfg.model_info ? a->cfg.model_info->min_cache_tokens : 0;
    agent_cache_plan(min, a->cfg.disable_cache, a->tools_tokens, a->system_tokens, a->toks, n, a->prev_end, &plan);
    json_t *msgs = agent_cache_messages(a->messages, &plan);
    json_t *tools = NULL, *system = NULL;
    if (json_array_size(a->tools))
        tools = plan.tools ? agent_cache_mark_last(a->tools) : json_incref(a->tools);
    if (a->system)
        system = plan.system ? agent_cache_mark_last(a->system) : json_incref(a->system);
    struct model_request req = {
        .model_id = a->model_id,
        .api = a->cfg.api,
        .stream = a->cfg.stream,
        .system = system,
        .messages = msgs,
        .tools = tools,
        .thinking = a->cfg.thinking,
        .max_tokens = a->cfg.max_tokens,
        .temperature = a->cfg.temperature,
        .top_p = MODEL_UNSET,
        .top_k = MODEL_UNSET,
    };
    struct model_events ev = {.on_text = ev_text, .on_thinking = ev_thinking, .on_retry = ev_retry, .ctx = a};
    enum brock_status st = agent_model_invoke(a, "turn", &req, &ev, res, e);
    json_decref(msgs);
    json_decref(tools);
    json_decref(system);
    a->prev_end = n - 1;
    *points = plan.count;
    return st;
}

/* ---- the turn ------------------------------------------------------------- */

static void emit_message(struct agent *a, const json_t *msg)
{
    struct agent_event ev = {.type = AGENT_EV_MESSAGE, .input = msg};
    agent_emit(a, &ev);
}

/* Add a user message with `blocks` (stolen), joining a user message that
 * ends the conversation (after a failed call) so roles keep alternating. */
static void add_user_blocks(struct agent *a, json_t *blocks)
{
    json_t *stored = json_pack("{s:s,s:O}", "role", "user", "content", blocks);
    int64_t seq = 0;
    agent_store_message(a, stored, NULL, &seq);
    size_t n = json_array_size(a->messages);
    json_t *last = n ? json_array_get(a->messages, n - 1) : NULL;
    const char *role = last ? json_string_value(json_object_get(last, "role")) : NULL;
    if (role && !strcmp(role, "user")) {
        json_t *content = json_array();
        json_t *old = json_object_get(last, "content");
        if (json_is_string(old))
            json_array_append_new(content, json_pack("{s:s,s:O}", "type", "text", "text", old));
        else
            json_array_extend(content, old);
        json_array_extend(content, blocks);
        json_t *merged = json_pack("{s:s,s:o}", "role", "user", "content", content);
        json_array_set_new(a->messages, n - 1, merged);
        if (seq)
            a->seqs[n - 1] = seq;
        a->toks[n - 1] = agent_estimate_message(merged);
    } else {
        agent_push(a, json_incref(stored), seq);
    }
    emit_message(a, stored);
    json_decref(stored);
    json_decref(blocks);
}

static void run_stop_hooks(struct agent *a, bool *cont, bool *stop)
{
    *cont = *stop = false;
    if (!a->cfg.hooks || !hooks_matching(a->cfg.hooks, HOOKS_STOP, NULL))
        return;
    struct hooks_input in = {.event = HOOKS_STOP, .stop_hook_active = a->stop_hook_active};
    struct hooks_outcome o;
    hooks_outcome_init(&o);
    struct brock_err he = {0};
    enum brock_status st = hooks_run(a->cfg.hooks, &in, &o, &he);
    if (o.user.len) {
        struct agent_event ev = {.type = AGENT_EV_HOOK, .text = buf_cstr(&o.user), .len = o.user.len};
        agent_emit(a, &ev);
    }
    if (st == BROCK_OK && o.stop) {
        *stop = true;
    } else if (st == BROCK_OK && o.block) {
        if (a->stop_continues >= AGENT_MAX_STOP_CONTINUES) {
            agent_warn(a, "a Stop hook kept the turn going %d times; stopping anyway", a->stop_continues);
        } else {
            a->stop_continues++;
            a->stop_hook_active = true;
            struct buf t = BUF_INIT(HOOKS_TEXT_MAX + 256);
            buf_addstr(&t, "Stop hook feedback:\n");
            buf_add(&t, o.reason.len ? o.reason.ptr : "(no reason given)",
                    o.reason.len ? o.reason.len : strlen("(no reason given)"));
            add_user_blocks(a, json_pack("[{s:s,s:s}]", "type", "text", "text", buf_cstr(&t)));
            buf_free(&t);
            *cont = true;
        }
    }
    hooks_outcome_cleanup(&o);
}

enum brock_status agent_run_turn(struct agent *a, const char *user_text, struct agent_turn *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    out->text = xstrdup("");
    if (!user_text || !*user_text)
        return err_set(e, BROCK_ERR_USAGE, "an empty message");
    if (strlen(user_text) > AGENT_PROMPT_MAX) {
        out->stop = AGENT_STOP_ERROR;
        return err_set(e, BROCK_ERR_TOO_LARGE, "the message is larger than %zu MiB", AGENT_PROMPT_MAX >> 20);
    }
    a->stop_continues = 0;
    a->stop_hook_active = false;
    agent_store_begin(a, user_text);
    add_user_blocks(a, json_pack("[{s:s,s:s}]", "type", "text", "text", user_text));

    enum brock_status st = BROCK_OK;
    for (;;) {
        if (cancelled(a)) {
            out->stop = AGENT_STOP_INTERRUPTED;
            st = err_set(e, BROCK_ERR_INTERRUPTED, "interrupted");
            break;
        }
        if (a->cfg.max_turns > 0 && out->model_calls >= a->cfg.max_turns) {
            out->stop = AGENT_STOP_MAX_TURNS;
            break;
        }
        st = agent_maybe_compact(a, out, e);
        if (st != BROCK_OK) { /* only an interruption gets here */
            out->stop = AGENT_STOP_INTERRUPTED;
            break;
        }
        struct model_result res;
        model_result_init(&res);
        int points = 0;
        st = call_turn(a, &res, &points, e);
        out->model_calls++;
        agent_account(a, "turn", a->model_id, a->cfg.model_info, a->geo, &res, st, points, e, out);
        snprintf(out->stop_reason, sizeof out->stop_reason, "%s", res.stop_reason);
        if (st != BROCK_OK) {
            out->stop = st == BROCK_ERR_INTERRUPTED ? AGENT_STOP_INTERRUPTED : AGENT_STOP_ERROR;
            out->partial = res.partial;
            free(out->text);
            out->text = content_text(res.content);
            model_result_cleanup(&res);
            break;
        }
        json_t *content = res.content ? json_incref(res.content) : json_array();
        size_t uses = count_tool_uses(content);
        free(out->text);
        out->text = content_text(content);
        if (json_array_size(content)) {
            json_t *msg = json_pack("{s:s,s:O}", "role", "assistant", "content", content);
            int64_t seq = 0;
            agent_store_message(a, msg, &res, &seq);
            agent_push(a, json_incref(msg), seq);
            emit_message(a, msg);
            json_decref(msg);
        }
        a->last_context_n = json_array_size(a->messages);
        char stop_reason[40];
        snprintf(stop_reason, sizeof stop_reason, "%s", res.stop_reason);
        model_result_cleanup(&res);

        if (uses) {
            bool interrupted = false, hook_stop = false;
            json_t *results = agent_run_tools(a, content, &interrupted, &hook_stop);
            json_decref(content);
            add_user_blocks(a, json_incref(json_object_get(results, "content")));
            json_decref(results);
            if (interrupted) {
                out->stop = AGENT_STOP_INTERRUPTED;
                st = err_set(e, BROCK_ERR_INTERRUPTED, "interrupted");
                break;
            }
            if (hook_stop) {
                out->stop = AGENT_STOP_HOOK;
                break;
            }
            continue;
        }
        json_decref(content);
        if (!strcmp(stop_reason, "max_tokens")) {
            out->stop = AGENT_STOP_MAX_TOKENS;
            break;
        }
        if (!strcmp(stop_reason, "refusal") || !strcmp(stop_reason, "guardrail_intervened") ||
            !strcmp(stop_reason, "content_filtered")) {
            out->stop = AGENT_STOP_REFUSAL;
            break;
        }
        bool cont, stop;
        run_stop_hooks(a, &cont, &stop);
        if (stop) {
            out->stop = AGENT_STOP_HOOK;
            break;
        }
        if (cont)
            continue;
        out->stop = AGENT_STOP_END_TURN;
        break;
    }
    return st;
}

/* ---- state ---------------------------------------------------------------- */

enum brock_status agent_compact(struct agent *a, const char *instructions, struct brock_err *e)
{
    return agent_compact_now(a, instructions, NULL, e);
}

void agent_clear(struct agent *a)
{
    json_array_clear(a->messages);
    a->session_stored = false;
    a->session_id[0] = '\0';
    if (!a->cfg.store)
        uuid_v4(a->session_id);
    a->last_context = 0;
    a->last_context_n = 0;
    a->compact_failed_n = 0;
    a->prev_end = SIZE_MAX;
    a->cache_reset = true;
    a->totals.context_tokens = 0;
    if (a->cfg.tools)
        tool_ctx_forget_files(a->cfg.tools);
}

void agent_session_begin(struct agent *a, const char *first_prompt)
{
    agent_store_begin(a, first_prompt ? first_prompt : "");
}

void agent_set_hooks(struct agent *a, struct hooks *h)
{
    a->cfg.hooks = h;
}

const char *agent_session_id(const struct agent *a)
{
    return a->session_id;
}

void agent_totals(const struct agent *a, struct agent_totals *out)
{
    *out = a->totals;
}

const json_t *agent_messages(const struct agent *a)
{
    return a->messages;
}

const char *agent_system_prompt(const struct agent *a)
{
    return a->system_text;
}

const json_t *agent_tool_specs(const struct agent *a)
{
    return a->tools;
}

const json_t *agent_permission_denials(const struct agent *a)
{
    return a->denials;
}
