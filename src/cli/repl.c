/* repl.c - `brock` in a terminal: the interactive REPL (repl.h, cli.h).
 *
 * Start-up: the same agent set-up as -p (cli_agent_prepare/start, so every
 * option that applies to -p applies here), with permission questions; then
 * a banner, then the loop: read a message (repl_edit.c), run it as a slash
 * command (repl_slash.c) or as one agent turn shown by repl_view.c.
 *
 * Terminal modes (stdin): while editing, libedit's own raw mode (ISIG off:
 * Ctrl-C is a key there); during a turn, no echo and no line editing, so
 * typing cannot garble the output, but ISIG on, so Ctrl-C raises SIGINT,
 * which sets runtime_cancel: the model call or tool stops and the turn ends
 * with the conversation valid. A third Ctrl-C in one turn (the first two
 * did not stop it) restores the terminal and kills brock (130). A question
 * reads raw keys. The terminal as found is restored on every way out: the
 * normal end, exit(), SIGTERM, SIGHUP, SIGQUIT, that third Ctrl-C.
 *
 * Globals (for the signal handlers only): the terminal state saved once at
 * start, the mode and the Ctrl-C count of the running turn. */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../agent/memory.h"
#include "../agent/perm.h"
#include "../bedrock/catalog.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/timeutil.h"
#include "exitcode.h"
#include "repl_int.h"
#include "runtime.h"

static struct termios g_tty;            /* the terminal as found */
static volatile sig_atomic_t g_tty_ok;  /* g_tty holds it */
static volatile sig_atomic_t g_ints;    /* SIGINTs during this turn */

static void tty_restore(void)
{
    if (g_tty_ok)
        tcsetattr(STDIN_FILENO, TCSANOW, &g_tty);
}

static void on_sigint(int sig)
{
    (void)sig;
    runtime_cancel = 1;
    if (++g_ints >= 3) {
        tty_restore();
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
}

static void on_fatal(int sig)
{
    tty_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_fatal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
}

void repl_tty_turn(bool on)
{
    if (!g_tty_ok)
        return;
    struct termios t = g_tty;
    if (on) {
        t.c_lflag &= ~(tcflag_t)(ECHO | ICANON);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
    }
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

bool repl_tty_raw(bool on)
{
    if (!g_tty_ok)
        return false;
    struct termios t = g_tty;
    t.c_lflag &= ~(tcflag_t)(ECHO | ICANON);
    if (on) {
        t.c_lflag &= ~(tcflag_t)(ISIG | IEXTEN);
        t.c_iflag &= ~(tcflag_t)IXON;
    }
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
    return true;
}

/* ---- output ------------------------------------------------------------------ */

void repl_write(struct repl *r, const char *s, size_t n)
{
    fwrite(s, 1, n, r->out);
    fflush(r->out);
}

static void line(struct repl *r, unsigned style, const char *fmt, va_list ap)
{
    struct buf raw = BUF_INIT(BUF_MAX_BODY), out = BUF_INIT(BUF_MAX_BODY * 2);
    buf_addvf(&raw, fmt, ap);
    if (r->caps.color && style)
        term_sgr(&out, style);
    term_sanitize(&out, buf_cstr(&raw), raw.len, 0);
    if (r->caps.color && style)
        term_sgr(&out, 0);
    buf_addc(&out, '\n');
    repl_write(r, buf_cstr(&out), out.len);
    buf_free(&raw);
    buf_free(&out);
}

void repl_note(struct repl *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line(r, TERM_DIM, fmt, ap);
    va_end(ap);
}

void repl_error(struct repl *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line(r, TERM_FG(TERM_RED), fmt, ap);
    va_end(ap);
}

/* ---- the agent ----------------------------------------------------------------- */

static void add_totals(struct agent_totals *to, const struct agent_totals *t)
{
    to->model_calls += t->model_calls;
    to->usage.input_tokens += t->usage.input_tokens;
    to->usage.output_tokens += t->usage.output_tokens;
    to->usage.cache_read_tokens += t->usage.cache_read_tokens;
    to->usage.cache_write_tokens += t->usage.cache_write_tokens;
    to->cost_usd += t->cost_usd;
    to->compactions += t->compactions;
    to->cache_misses += t->cache_misses;
}

void repl_totals(const struct repl *r, struct agent_totals *out)
{
    memset(out, 0, sizeof *out);
    if (r->ca && r->ca->agent)
        agent_totals(r->ca->agent, out);
    add_totals(out, &r->past);
}

enum brock_status repl_remake_agent(struct repl *r, const char *resume_id, struct brock_err *e)
{
    struct agent *na = NULL;
    enum brock_status st = agent_new(r->ca->ac, &na, e);
    if (st == BROCK_OK && resume_id)
        st = agent_resume(na, resume_id, e);
    if (st != BROCK_OK) {
        agent_free(na);
        return st;
    }
    struct agent_totals t;
    agent_totals(r->ca->agent, &t);
    add_totals(&r->past, &t);
    agent_free(r->ca->agent);
    r->ca->agent = na;
    if (r->ca->hooks)
        agent_set_hooks(na, r->ca->hooks);
    r->ca->hooks_session[0] = '\0';
    struct brock_err he = {0};
    if (*agent_session_id(na) && cli_agent_hooks(r->ca, &he) != BROCK_OK)
        repl_error(r, "hooks: %s", he.msg);
    json_decref(r->view.answer);
    r->view.answer = NULL;
    return BROCK_OK;
}

static void turn_begin(struct repl *r, const char *label)
{
    runtime_cancel = 0;
    g_ints = 0;
    r->in_turn = true;
    repl_tty_turn(true);
    repl_view_turn_start(r, label);
}

static void turn_end(struct repl *r)
{
    repl_view_turn_end(r);
    repl_tty_turn(false);
    r->in_turn = false;
}

static void interrupted_note(struct repl *r)
{
    repl_note(r, "%sInterrupted. What should Claude do instead?", r->caps.unicode ? "  \xe2\x8e\xbf  " : "  -> ");
}

void repl_run_turn(struct repl *r, const char *text)
{
    struct brock_err e = {0};
    /* the hooks want the session id, which the first turn makes */
    agent_session_begin(r->ca->agent, text);
    if (cli_agent_hooks(r->ca, &e) != BROCK_OK) {
        repl_error(r, "hooks are off: %s", e.msg);
        err_clear(&e);
    }
    turn_begin(r, "Thinking");
    struct agent_turn t;
    enum brock_status st = agent_run_turn(r->ca->agent, text, &t, &e);
    turn_end(r);
    cli_agent_turn_done(r->ca);
    r->turns++;
    r->api_ms += t.api_ms;
    if (st == BROCK_ERR_INTERRUPTED) {
        if (r->view.wrote)
            repl_write(r, "\n", 1);
        interrupted_note(r);
    } else if (st != BROCK_OK) {
        if (r->view.wrote)
            repl_write(r, "\n", 1);
        if (t.partial)
            repl_error(r, "The answer was cut off: %s", e.msg);
        else
            repl_error(r, "Error: %s", e.msg);
    } else if (t.stop == AGENT_STOP_MAX_TOKENS) {
        repl_note(r, "(the answer reached the output limit and was cut short)");
    } else if (t.stop == AGENT_STOP_MAX_TURNS) {
        repl_note(r, "(stopped after %d model calls: --max-turns)", t.model_calls);
    } else if (t.stop == AGENT_STOP_REFUSAL) {
        repl_note(r, "(the model declined: %s)", t.stop_reason);
    } else if (t.stop == AGENT_STOP_HOOK) {
        repl_note(r, "(a hook stopped the turn)");
    }
    if (r->cfg->verbose) {
        struct buf b = BUF_INIT(BUF_MAX_SMALL);
        repl_format_turn(&b, &t);
        buf_truncate(&b, repl_chomp(buf_cstr(&b), b.len));
        repl_note(r, "%s", buf_cstr(&b));
        buf_free(&b);
    }
    agent_turn_cleanup(&t);
    runtime_cancel = 0;
}

void repl_run_compact(struct repl *r, const char *instr)
{
    struct brock_err e = {0};
    struct agent_totals before;
    agent_totals(r->ca->agent, &before);
    turn_begin(r, "Compacting");
    enum brock_status st = agent_compact(r->ca->agent, instr, &e);
    turn_end(r);
    if (st == BROCK_ERR_INTERRUPTED) {
        interrupted_note(r);
    } else if (st != BROCK_OK) {
        repl_error(r, "%s", e.msg);
    } else {
        struct agent_totals after;
        agent_totals(r->ca->agent, &after);
        char ctx[32];
        repl_format_count(ctx, sizeof ctx, after.context_tokens);
        repl_note(r, "Compacted. The context is now about %s tokens.", ctx);
    }
    runtime_cancel = 0;
}

/* ---- start-up ------------------------------------------------------------------- */

int cli_repl_or_fail(const struct cli_config *cfg)
{
    if (cfg->nargs == 1) {
        const char *near = repl_near_command(cfg->args[0]);
        if (near) {
            fprintf(stderr,
                    "brock: unknown command '%s'; did you mean '%s'? (to ask Claude, write a longer prompt or use "
                    "brock -p \"...\")\n",
                    cfg->args[0], near);
            return EXIT_USAGE;
        }
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        if (cfg->nargs)
            fprintf(stderr,
                    "brock: '%s' is not a command, and the interactive mode needs a terminal: to ask Claude, use "
                    "brock -p \"...\" (see brock --help)\n",
                    cfg->args[0]);
        else
            fprintf(stderr, "brock: the interactive mode needs a terminal (stdin and stdout): use brock -p \"prompt\" "
                            "for one answer (it reads piped stdin too), or see brock --help\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static void banner(struct repl *r)
{
    const struct cli_agent *ca = r->ca;
    const struct model_info *mi = ca->ac->model_info;
    struct buf b = BUF_INIT(BUF_MAX_SMALL), dir = BUF_INIT(BUF_MAX_SMALL);
    const char *home = fs_home_dir();
    size_t hn = home ? strlen(home) : 0;
    if (hn > 1 && !strncmp(ca->cwd, home, hn) && (ca->cwd[hn] == '/' || !ca->cwd[hn])) {
        buf_addc(&dir, '~');
        buf_addstr(&dir, ca->cwd + hn);
    } else {
        buf_addstr(&dir, ca->cwd);
    }
    const char *dot = r->caps.unicode ? " \xc2\xb7 " : " - ";
    if (r->caps.color)
        term_sgr(&b, TERM_BOLD);
    buf_addstr(&b, "brock " BROCK_VERSION);
    if (r->caps.color)
        term_sgr(&b, 0);
    buf_addf(&b, "%s%s%s(%s)%s%s%s\n", dot, mi ? mi->name : "", mi ? " " : "", ca->ac->model_id, dot, ca->region,
             ca->rt && ca->rt->emu ? " (emulator)" : "");
    if (r->caps.color)
        term_sgr(&b, TERM_DIM);
    term_sanitize(&b, buf_cstr(&dir), dir.len, TERM_SAN_ONELINE);
    buf_addf(&b, "%spermissions: %s%s/help for commands, Ctrl-D to exit\n", dot,
             perm_mode_name(perm_engine_mode(ca->perm)), dot);
    if (r->caps.color)
        term_sgr(&b, 0);
    size_t n = json_array_size(agent_messages(ca->agent));
    if (n)
        buf_addf(&b, "Continuing session %s (%zu messages)\n", agent_session_id(ca->agent), n);
    buf_addc(&b, '\n');
    repl_write(r, buf_cstr(&b), b.len);
    buf_free(&b);
    buf_free(&dir);
}

static void handle_resize(struct repl *r)
{
    if (!term_take_resize())
        return;
    int w = term_width(STDOUT_FILENO), h = term_height(STDOUT_FILENO);
    r->caps.width = w;
    r->caps.height = h;
    r->look.width = r->caps.out_tty ? w : 0;
    if (r->md)
        render_md_set_width(r->md, r->caps.out_tty ? w : 0, h);
    if (r->ed)
        repl_edit_resized(r->ed);
}

/* One message from the user: a command or a turn. */
static void handle(struct repl *r, const char *msg)
{
    char name[REPL_COMMAND_NAME_MAX];
    char *args;
    if (repl_slash_parse(msg, name, sizeof name, &args)) {
        repl_slash_run(r, name, args);
        free(args);
        repl_write(r, "\n", 1);
        return;
    }
    /* a leading space keeps a "/..." message from being a command */
    repl_run_turn(r, msg);
    repl_write(r, "\n", 1);
}

int cmd_repl(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    struct cli_agent ca;
    struct repl rr, *r = &rr;
    memset(r, 0, sizeof *r);
    memset(&ca, 0, sizeof ca);
    setlocale(LC_CTYPE, "");
    r->cfg = cfg;
    r->out = stdout;
    r->t_start = time_mono_ms();
    buf_init(&r->mem_text, MEMORY_MAX_TOTAL_BYTES * 2);
    if (cli_agent_prepare(cfg, true, &ca, &e) != BROCK_OK)
        goto fail;
    r->ca = &ca;
    snprintf(r->model_id, sizeof r->model_id, "%s", ca.model_id);
    ca.ac->model_id = r->model_id;
    ca.ac->on_event = repl_on_event;
    ca.ac->event_ctx = r;
    ca.ac->ask = repl_ask;
    ca.ac->ask_ctx = r;
    if (cli_agent_start(&ca, cfg, NULL, &e) != BROCK_OK)
        goto fail;

    if (tcgetattr(STDIN_FILENO, &g_tty) == 0) {
        g_tty_ok = 1;
        atexit(tty_restore);
    }
    install_signals();
    term_watch_resize();
    term_caps_detect(&r->caps, cfg->no_color);
    repl_view_init(r);
    char *hist = NULL;
    struct brock_err he = {0};
    if (repl_history_path(&hist, &he) != BROCK_OK)
        fprintf(stderr, "brock: warning: no history file: %s\n", he.msg);
    r->ed = repl_edit_new(r, hist);
    free(hist);
    banner(r);

    if (cfg->nargs) {
        struct buf first = BUF_INIT(REPL_INPUT_MAX);
        for (size_t i = 0; i < cfg->nargs; i++)
            buf_addf(&first, "%s%s", i ? " " : "", cfg->args[i]);
        if (buf_status(&first) == BROCK_OK && !repl_blank(buf_cstr(&first))) {
            struct buf shown = BUF_INIT(REPL_INPUT_MAX * 2);
            buf_addstr(&shown, "> ");
            term_sanitize(&shown, buf_cstr(&first), first.len, 0);
            buf_addc(&shown, '\n');
            repl_write(r, buf_cstr(&shown), shown.len);
            buf_free(&shown);
            repl_edit_remember(r->ed, buf_cstr(&first));
            handle(r, buf_cstr(&first));
        }
        buf_free(&first);
    }
    while (!r->quit) {
        handle_resize(r);
        char *msg = repl_edit_read(r->ed);
        if (!msg)
            break;
        if (!repl_blank(msg)) {
            repl_edit_remember(r->ed, msg);
            handle(r, msg);
        }
        free(msg);
    }
    const char *sid = agent_session_id(ca.agent);
    if (ca.store && *sid && json_array_size(agent_messages(ca.agent)))
        repl_note(r, "Session %s is saved: brock --resume %.8s continues it.", sid, sid);
    repl_view_cleanup(r);
    repl_edit_free(r->ed);
    tty_restore();
    cli_agent_close(&ca);
    buf_free(&r->mem_text);
    return EXIT_OK;

fail: {
    int rc = cli_fail(&e);
    cli_agent_close(&ca);
    buf_free(&r->mem_text);
    return rc;
}
}
