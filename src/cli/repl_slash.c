/* repl_slash.c - the REPL's slash commands: a sorted table of {name, alias,
 * usage, help, fn} (repl.h), looked up by name or alias, with a "did you
 * mean" for typos. Each command writes to the screen through repl_note /
 * repl_error and never ends the REPL except /exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../agent/agent.h"
#include "../agent/ledger.h"
#include "../agent/memory.h"
#include "../agent/perm.h"
#include "../agent/settings.h"
#include "../bedrock/catalog.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/timeutil.h"
#include "repl_int.h"

static void cmd_help_(struct repl *r, const char *args);
static void cmd_model(struct repl *r, const char *args);
static void cmd_cost(struct repl *r, const char *args);
static void cmd_compact(struct repl *r, const char *args);
static void cmd_clear(struct repl *r, const char *args);
static void cmd_resume(struct repl *r, const char *args);
static void cmd_permissions(struct repl *r, const char *args);
static void cmd_memory(struct repl *r, const char *args);
static void cmd_exit(struct repl *r, const char *args);

/* Sorted by name (the unit test checks). */
static const struct repl_command commands[] = {
    {"clear", NULL, "", "start a new conversation (the old one stays saved)", cmd_clear},
    {"compact", NULL, "[INSTRUCTIONS]", "summarise the conversation now, to free context", cmd_compact},
    {"cost", NULL, "", "tokens, cost and time of this session", cmd_cost},
    {"exit", "quit", "", "leave brock (also Ctrl-D)", cmd_exit},
    {"help", NULL, "", "this list", cmd_help_},
    {"memory", NULL, "[edit]", "the memory files in use; edit opens ./BROCK.md in $EDITOR", cmd_memory},
    {"model", NULL, "[NAME]", "the model in use, or switch to NAME (sonnet, opus, haiku, an id)", cmd_model},
    {"permissions", NULL, "[MODE]", "the permission mode and rules; MODE switches the mode",
     cmd_permissions},
    {"resume", NULL, "[ID]", "pick a recent session here, or resume ID (a prefix will do)", cmd_resume},
};

const struct repl_command *repl_commands(size_t *n)
{
    *n = BROCK_ARRAY_LEN(commands);
    return commands;
}

void repl_slash_run(struct repl *r, const char *name, const char *args)
{
    if (!*name) {
        cmd_help_(r, "");
        return;
    }
    const struct repl_command *c = repl_command_find(name);
    if (c) {
        c->fn(r, args);
        return;
    }
    const struct repl_command *s = repl_command_suggest(name);
    if (s)
        repl_error(r, "unknown command /%s; did you mean /%s? (/help lists them)", name, s->name);
    else
        repl_error(r, "unknown command /%s (/help lists them; to send a message starting with \"/\", start it with "
                      "a space)",
                   name);
}

const struct repl_command *repl_command_find(const char *name)
{
    size_t n;
    const struct repl_command *c = repl_commands(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(c[i].name, name) || (c[i].alias && !strcmp(c[i].alias, name)))
            return &c[i];
    return NULL;
}

size_t repl_edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64)
        return SIZE_MAX / 2;
    /* optimal string alignment: insert, delete, substitute, swap two neighbours */
    size_t d[65][65];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[na][nb];
}

const struct repl_command *repl_command_suggest(const char *name)
{
    size_t n, best = SIZE_MAX, len = strlen(name);
    const struct repl_command *c = repl_commands(&n), *pick = NULL;
    if (!len)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *names[2] = {c[i].name, c[i].alias};
        for (int k = 0; k < 2; k++) {
            if (!names[k])
                continue;
            size_t d = repl_edit_distance(name, names[k]);
            /* a prefix is a fine guess too: "/perm" -> /permissions */
            if (len >= 2 && !strncmp(names[k], name, len))
                d = 1;
            if (d < best) {
                best = d;
                pick = &c[i];
            }
        }
    }
    return best <= 2 && best < len ? pick : NULL;
}

size_t repl_command_complete(const char *prefix, const char **out, size_t max)
{
    size_t n, k = 0, len = strlen(prefix);
    const struct repl_command *c = repl_commands(&n);
    for (size_t i = 0; i < n; i++) {
        const char *names[2] = {c[i].name, c[i].alias};
        for (int j = 0; j < 2; j++) {
            if (names[j] && !strncmp(names[j], prefix, len)) {
                if (k < max)
                    out[k] = names[j];
                k++;
            }
        }
    }
    return k;
}

const char *repl_near_command(const char *word)
{
    size_t len = strlen(word);
    if (!len || len > 32)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (!((word[i] >= 'a' && word[i] <= 'z') || (word[i] >= 'A' && word[i] <= 'Z') || word[i] == '-'))
            return NULL;
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (const struct cli_command *c = cli_commands; c->name; c++) {
        size_t d = repl_edit_distance(word, c->name);
        size_t limit = strlen(c->name) >= 6 ? 2 : 1;
        if (d <= limit && d < bestd && d < len) {
            bestd = d;
            best = c->name;
        }
    }
    return best;
}

static void need_agent(struct repl *r, const char *what)
{
    repl_error(r, "%s needs a running agent", what);
}

static void cmd_help_(struct repl *r, const char *args)
{
    (void)args;
    struct buf b = BUF_INIT(BUF_MAX_SMALL);
    buf_addstr(&b, "Commands:\n");
    for (size_t i = 0; i < BROCK_ARRAY_LEN(commands); i++) {
        const struct repl_command *c = &commands[i];
        char left[48];
        snprintf(left, sizeof left, "/%s%s%s", c->name, *c->usage ? " " : "", c->usage);
        buf_addf(&b, "  %-22s %s", left, c->help);
        if (c->alias)
            buf_addf(&b, "; /%s too", c->alias);
        buf_addc(&b, '\n');
    }
    buf_addstr(&b, "\nKeys:\n"
                   "  Enter                  send; end a line with \\ to go on on the next\n"
                   "  Ctrl-C                 stop Claude; clear the line; twice on an empty line: exit\n"
                   "  Ctrl-D                 exit (on an empty line)\n"
                   "  Ctrl-R, Up, Down       search and walk the history\n"
                   "  Tab                    complete a /command\n");
    repl_write(r, buf_cstr(&b), b.len);
    buf_free(&b);
}

static void cmd_exit(struct repl *r, const char *args)
{
    (void)args;
    r->quit = true;
}

static void cmd_cost(struct repl *r, const char *args)
{
    (void)args;
    struct repl_cost c = {.api_ms = r->api_ms, .wall_ms = time_mono_ms() - r->t_start, .turns = r->turns};
    repl_totals(r, &c.totals);
    c.priced = !r->ca || r->ca->ac->model_info != NULL;
    struct buf b = BUF_INIT(BUF_MAX_SMALL);
    repl_format_cost(&b, &c);
    repl_write(r, buf_cstr(&b), b.len);
    buf_free(&b);
}

static void cmd_model(struct repl *r, const char *args)
{
    if (!r->ca) {
        need_agent(r, "/model");
        return;
    }
    const struct model_info *mi = r->ca->ac->model_info;
    if (!*args) {
        repl_note(r, "Model: %s%s%s (region %s)", mi ? mi->name : "", mi ? " · " : "", r->ca->ac->model_id,
                  r->ca->region);
        repl_note(r, "/model NAME switches: sonnet, opus, haiku, or a Bedrock model id, profile or ARN (brock models "
                     "lists them)");
        return;
    }
    struct model_choice mc;
    struct brock_err e = {0};
    if (catalog_resolve(args, r->ca->region, false, &mc, &e) != BROCK_OK) {
        repl_error(r, "%s", e.msg);
        return;
    }
    if (!strcmp(mc.model_id, r->ca->ac->model_id)) {
        repl_note(r, "Already using %s", mc.model_id);
        return;
    }
    if (!mc.model && catalog_is_app_profile(mc.model_id)) {
        /* asked quietly: what to say goes through the REPL, not stderr */
        bool kept = false;
        struct brock_err pe = {0};
        if (cli_profile_find(r->ca->rt, r->ca->store ? store_dir(r->ca->store) : NULL, mc.model_id, &mc.model,
                             &kept, &pe) == BROCK_OK) {
            ledger_set_profile_model(r->ca->ac->ledger, mc.model_id, mc.model);
            repl_note(r, "%s runs %s: its calls are priced and limited as it", mc.model_id, mc.model->name);
        } else {
            repl_error(r, "warning: could not learn which model %s runs (GetInferenceProfile): %s; its calls are "
                          "booked at the catalog's highest prices unless the prices file gives its price",
                       mc.model_id, pe.msg);
        }
    }
    if (catalog_refuses_temperature(mc.model, r->ca->ac->temperature)) {
        repl_error(r, "%s takes no temperature (Bedrock refuses sampling parameters for the models from Opus 4.7 "
                      "on), and this session was started with --temperature; staying on %s",
                   mc.model->name, r->ca->ac->model_id);
        return;
    }
    char old_id[sizeof r->model_id];
    const struct model_info *old_info = r->ca->ac->model_info;
    snprintf(old_id, sizeof old_id, "%s", r->model_id);
    snprintf(r->model_id, sizeof r->model_id, "%s", mc.model_id);
    r->ca->ac->model_id = r->model_id;
    r->ca->ac->model_info = mc.model;
    const char *sid = agent_session_id(r->ca->agent);
    bool has_history = json_array_size(agent_messages(r->ca->agent)) > 0;
    char id[STORE_SESSION_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", sid);
    if (has_history && !r->ca->store)
        repl_error(r, "warning: without the session store the conversation cannot move to the new model; it starts "
                      "over");
    if (repl_remake_agent(r, has_history && r->ca->store && *id ? id : NULL, &e) != BROCK_OK) {
        snprintf(r->model_id, sizeof r->model_id, "%s", old_id);
        r->ca->ac->model_id = r->model_id;
        r->ca->ac->model_info = old_info;
        repl_error(r, "%s", e.msg);
        return;
    }
    repl_note(r, "Model: %s%s%s", mc.model ? mc.model->name : "", mc.model ? " · " : "", mc.model_id);
}

static void cmd_compact(struct repl *r, const char *args)
{
    if (!r->ca) {
        need_agent(r, "/compact");
        return;
    }
    repl_run_compact(r, *args ? args : NULL);
}

static void cmd_clear(struct repl *r, const char *args)
{
    (void)args;
    if (!r->ca) {
        need_agent(r, "/clear");
        return;
    }
    agent_clear(r->ca->agent);
    json_decref(r->view.answer);
    r->view.answer = NULL;
    repl_note(r, "(new conversation)");
}

static void fmt_when(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
    else
        snprintf(out, 32, "-");
}

static void resume_id(struct repl *r, const char *id)
{
    struct brock_err e = {0};
    struct store_session_info info = {0};
    if (repl_remake_agent(r, id, &e) != BROCK_OK) {
        repl_error(r, "%s", e.msg);
        return;
    }
    if (store_session_info(r->ca->store, id, &info, NULL) == BROCK_OK) {
        struct buf t = BUF_INIT(BUF_MAX_SMALL);
        term_sanitize(&t, info.title ? info.title : "", info.title ? strlen(info.title) : 0, TERM_SAN_ONELINE);
        repl_note(r, "Resumed %s: %s (%zu messages in context)", id, t.len ? buf_cstr(&t) : "(untitled)",
                  json_array_size(agent_messages(r->ca->agent)));
        buf_free(&t);
    }
    store_session_info_cleanup(&info);
}

static void cmd_resume(struct repl *r, const char *args)
{
    if (!r->ca) {
        need_agent(r, "/resume");
        return;
    }
    if (!r->ca->store) {
        repl_error(r, "sessions are not saved (the database could not be opened), so none can be resumed");
        return;
    }
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    if (*args) {
        if (store_session_find(r->ca->store, args, id, &e) != BROCK_OK) {
            repl_error(r, "%s", e.msg);
            return;
        }
        resume_id(r, id);
        return;
    }
    struct store_session_list l = {0};
    if (store_session_list(r->ca->store, r->ca->cwd, REPL_RESUME_LIST + 1, &l, &e) != BROCK_OK) {
        repl_error(r, "%s", e.msg);
        return;
    }
    const char *current = agent_session_id(r->ca->agent);
    struct buf b = BUF_INIT(BUF_MAX_BODY);
    size_t shown = 0;
    const char *ids[REPL_RESUME_LIST];
    for (size_t i = 0; i < l.n && shown < REPL_RESUME_LIST; i++) {
        const struct store_session_info *it = &l.items[i];
        if (!strcmp(it->id, current))
            continue;
        char when[32];
        fmt_when(it->updated_ms, when);
        buf_addf(&b, "  %2zu. %s  %.8s  %4lld msgs  $%.4f  ", shown + 1, when, it->id, (long long)it->message_count,
                 it->cost_usd);
        const char *title = it->title && *it->title ? it->title : "(untitled)";
        size_t room = r->look.width > 60 ? (size_t)r->look.width - 52 : 40;
        term_fit(&b, title, strlen(title), room, r->look.unicode);
        buf_addc(&b, '\n');
        ids[shown++] = it->id;
    }
    if (!shown) {
        repl_note(r, "No other saved session in %s", r->ca->cwd);
        store_session_list_free(&l);
        buf_free(&b);
        return;
    }
    repl_write(r, buf_cstr(&b), b.len);
    buf_free(&b);
    char *pick = r->ed ? repl_edit_ask(r->ed, "Resume which (number or id, Enter = none)? ") : NULL;
    if (pick && !repl_blank(pick)) {
        char *end;
        long k = strtol(pick, &end, 10);
        if (*end == '\0' && k >= 1 && (size_t)k <= shown) {
            snprintf(id, sizeof id, "%s", ids[k - 1]);
            resume_id(r, id);
        } else if (store_session_find(r->ca->store, pick, id, &e) == BROCK_OK) {
            resume_id(r, id);
        } else {
            repl_error(r, "%s", e.msg);
        }
    }
    free(pick);
    store_session_list_free(&l);
}

static void cmd_permissions(struct repl *r, const char *args)
{
    if (!r->ca) {
        need_agent(r, "/permissions");
        return;
    }
    struct perm_engine *pe = r->ca->perm;
    if (*args) {
        enum perm_mode m;
        struct brock_err e = {0};
        if (!perm_mode_parse(args, &m)) {
            repl_error(r, "unknown mode '%s': default, acceptEdits, plan or bypassPermissions", args);
            return;
        }
        if (perm_engine_set_mode(pe, m, &e) != BROCK_OK) {
            repl_error(r, "%s", e.msg);
            return;
        }
        repl_note(r, "Permission mode: %s (for this session)", perm_mode_name(m));
        return;
    }
    struct buf b = BUF_INIT(BUF_MAX_BODY);
    buf_addf(&b, "Permission mode: %s\n", perm_mode_name(perm_engine_mode(pe)));
    buf_addf(&b, "Workspace: %s", perm_engine_cwd(pe));
    for (size_t i = 0; i < perm_engine_dir_count(pe); i++)
        if (strcmp(perm_engine_dir(pe, i), perm_engine_cwd(pe)))
            buf_addf(&b, ", %s", perm_engine_dir(pe, i));
    buf_addc(&b, '\n');
    size_t n = perm_engine_rule_count(pe);
    for (int list = PERM_LIST_ALLOW; list < PERM_LIST_COUNT; list++) {
        size_t shown = 0;
        for (size_t i = 0; i < n; i++) {
            struct perm_rule_info ri;
            if (!perm_engine_rule(pe, i, &ri) || (int)ri.list != list)
                continue;
            if (!shown++)
                buf_addf(&b, "%s:\n", list == PERM_LIST_ALLOW ? "Allow" : list == PERM_LIST_ASK ? "Ask" : "Deny");
            buf_addstr(&b, "  ");
            term_sanitize(&b, ri.text, strlen(ri.text), TERM_SAN_ONELINE);
            buf_addstr(&b, "   ");
            if (r->look.color)
                term_sgr(&b, TERM_DIM);
            term_sanitize(&b, ri.source ? ri.source : "", ri.source ? strlen(ri.source) : 0, TERM_SAN_ONELINE);
            if (r->look.color)
                term_sgr(&b, 0);
            buf_addc(&b, '\n');
        }
    }
    if (!n)
        buf_addstr(&b, "No rules: read-only tools run in the workspace, everything else asks.\n");
    for (size_t i = 0; i < perm_engine_warning_count(pe); i++) {
        buf_addstr(&b, "warning: ");
        const char *w = perm_engine_warning(pe, i);
        term_sanitize(&b, w, strlen(w), TERM_SAN_ONELINE);
        buf_addc(&b, '\n');
    }
    buf_addstr(&b, "/permissions MODE switches the mode (default, acceptEdits, plan, bypassPermissions) for this "
                   "session; \"don't ask again\" answers go to .brock/settings.local.json\n");
    repl_write(r, buf_cstr(&b), b.len);
    buf_free(&b);
}

/* $VISUAL / $EDITOR / vi on path, in the foreground. */
static int run_editor(const char *path)
{
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed)
        ed = getenv("EDITOR");
    if (!ed || !*ed)
        ed = "vi";
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* through the shell, as git does, so EDITOR="code -w" works */
        execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", ed, path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void cmd_memory(struct repl *r, const char *args)
{
    if (!r->ca) {
        need_agent(r, "/memory");
        return;
    }
    if (!strcmp(args, "edit")) {
        char *path = fs_join(r->ca->cwd, "BROCK.md");
        int rc = run_editor(path);
        if (rc != 0) {
            repl_error(r, "the editor exited with %d; nothing was reloaded", rc);
            free(path);
            return;
        }
        free(path);
        struct memory_set *ms = NULL;
        struct memory_opts mo = {.cwd = r->ca->cwd};
        struct brock_err e = {0};
        if (memory_collect(&mo, &ms, &e) != BROCK_OK) {
            repl_error(r, "%s", e.msg);
            return;
        }
        buf_reset(&r->mem_text);
        if (memory_render(ms, &r->mem_text) != BROCK_OK) {
            repl_error(r, "the memory files are too large; they were left out");
            buf_reset(&r->mem_text);
        }
        memory_set_free(r->ca->memory);
        r->ca->memory = ms;
        r->ca->ac->memory = r->mem_text.len ? buf_cstr(&r->mem_text) : NULL;
        const char *sid = agent_session_id(r->ca->agent);
        char id[STORE_SESSION_ID_LEN + 1];
        snprintf(id, sizeof id, "%s", sid);
        bool has = json_array_size(agent_messages(r->ca->agent)) > 0 && r->ca->store && *id;
        if (repl_remake_agent(r, has ? id : NULL, &e) != BROCK_OK)
            repl_error(r, "%s", e.msg);
        else
            repl_note(r, "Memory reloaded.");
        args = "";
    } else if (*args) {
        repl_error(r, "/memory takes no argument but \"edit\"");
        return;
    }
    const struct memory_set *ms = r->ca->memory;
    struct buf b = BUF_INIT(BUF_MAX_BODY);
    if (!ms || !ms->nfiles)
        buf_addstr(&b, "No memory files. brock reads BROCK.md, CLAUDE.md, .claude/CLAUDE.md and AGENTS.md from here "
                       "up, and ~/.config/brock/BROCK.md; /memory edit writes ./BROCK.md.\n");
    for (size_t i = 0; ms && i < ms->nfiles; i++) {
        const struct memory_file *f = &ms->files[i];
        const char *kind = f->kind == MEMORY_USER ? "user" : f->kind == MEMORY_PROJECT ? "project" : "import";
        buf_addf(&b, "  %-8s ", kind);
        term_sanitize(&b, f->path, strlen(f->path), TERM_SAN_ONELINE);
        buf_addf(&b, "  %zu bytes", f->size);
        if (f->used < f->size)
            buf_addf(&b, " (%zu used)", f->used);
        buf_addc(&b, '\n');
    }
    for (size_t i = 0; ms && i < ms->nnotes; i++) {
        buf_addstr(&b, "  note: ");
        term_sanitize(&b, ms->notes[i], strlen(ms->notes[i]), TERM_SAN_ONELINE);
        buf_addc(&b, '\n');
    }
    repl_write(r, buf_cstr(&b), b.len);
    buf_free(&b);
}
