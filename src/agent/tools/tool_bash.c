/* tool_bash.c - Bash {command, timeout?, description?}.
 *
 * Each call spawns `/bin/bash -c SCRIPT bash PWDFILE` (or /bin/sh) with
 * posix_spawn: a new session (so its own process group and no controlling
 * terminal), stdin /dev/null, stdout and stderr on one pipe (interleaved as
 * written), the working directory the previous call left. SCRIPT is
 *
 *     __brock_pwd=$1; shift; trap 'pwd -P >|"$__brock_pwd" 2>/dev/null' EXIT; COMMAND
 *
 * on one line, so the user's line numbers in shell errors stay right, and the
 * EXIT trap writes the final directory to a temporary file (a file rather
 * than a descriptor: commands may use any descriptor themselves). The next
 * call starts there: `cd` persists, nothing else does.
 *
 * The parent polls the pipe in slices of at most 50 ms, checking the
 * deadline and the cancel flag. On timeout or cancel the whole process group
 * gets SIGTERM, then SIGKILL after bash_grace_ms (or as soon as the shell is
 * gone and the group empty). After the shell exits normally, output still
 * arriving for 100 ms is collected; background jobs it left running are not
 * killed, but their output pipe is closed (they get SIGPIPE if they write).
 * A command that creates its own session escapes the group kill; nothing
 * short of cgroups could follow it.
 *
 * Output keeps the first and last halves of bash_max_output bytes and says
 * how much was dropped in between. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../util/alloc.h"
#include "../../util/timeutil.h"
#include "tool_int.h"

extern char **environ;

#define BASH_DRAIN_MS 100 /* output collected after the shell exits */
#define BASH_SLICE_MS 50  /* poll slice: cancel and deadline latency */

const char tool_bash_desc[] =
    "Runs a command with bash (sh if bash is missing) and returns its output: stdout and "
    "stderr together, interleaved as written.\n"
    "\n"
    "Usage:\n"
    "- The working directory persists between calls: a `cd` carries over to the next "
    "command. Environment variables and shell options do not.\n"
    "- Quote paths that contain spaces: cd \"/path/with spaces\".\n"
    "- timeout is in milliseconds (default 120000, at most 600000). When it expires the "
    "command and every process it started are killed.\n"
    "- description: a short (5-10 word) note of what the command does, shown to the user.\n"
    "- Output beyond 30000 bytes is cut in the middle; the start and the end are kept.\n"
    "- A non-zero exit status is reported with the output.\n"
    "- stdin is empty and there is no terminal: interactive programs (editors, pagers, "
    "password prompts) cannot be used. Pass flags like --yes or --no-pager instead.\n"
    "- Run long-lived servers in the background only with their output redirected to a "
    "file (cmd > log 2>&1 &).\n"
    "- Prefer the Grep, Glob, Read and LS tools over grep, find, cat, head, tail and ls.\n"
    "- Chain dependent commands with && and independent ones with ;.";

const char tool_bash_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"command\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":130048,"
    "\"description\":\"The command to run\"},"
    "\"timeout\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":600000,"
    "\"description\":\"Timeout in milliseconds (default 120000, at most 600000)\"},"
    "\"description\":{\"type\":\"string\",\"maxLength\":1000,\"description\":\"What the command "
    "does, in 5-10 words\"}},"
    "\"required\":[\"command\"],\"additionalProperties\":false}";

char *tool_bash_subject(const struct tool_ctx *ctx, const json_t *input)
{
    (void)ctx;
    size_t n;
    const char *c = tool_arg_str(input, "command", &n);
    return c ? xmemdup(c, n) : NULL;
}

void tool_bash_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    (void)ctx;
    size_t n;
    const char *d = tool_arg_str(input, "description", &n);
    if (!d || !n)
        d = tool_arg_str(input, "command", &n);
    buf_addstr(out, "Bash: ");
    tool_add_short(out, d ? d : "", d ? n : 0, 100);
}

/* Output kept as a head and a ring of the most recent bytes. */
struct capture {
    struct buf head;
    char *ring;
    size_t ring_cap, ring_len, ring_pos;
    size_t total;
};

static void capture_add(struct capture *c, const char *p, size_t n)
{
    c->total += n;
    size_t room = c->head.max - c->head.len;
    size_t h = n < room ? n : room;
    buf_add(&c->head, p, h);
    p += h;
    n -= h;
    if (!n || !c->ring_cap)
        return;
    if (n >= c->ring_cap) {
        memcpy(c->ring, p + n - c->ring_cap, c->ring_cap);
        c->ring_pos = 0;
        c->ring_len = c->ring_cap;
        return;
    }
    size_t first = c->ring_cap - c->ring_pos < n ? c->ring_cap - c->ring_pos : n;
    memcpy(c->ring + c->ring_pos, p, first);
    memcpy(c->ring, p + first, n - first);
    c->ring_pos = (c->ring_pos + n) % c->ring_cap;
    c->ring_len = c->ring_len + n > c->ring_cap ? c->ring_cap : c->ring_len + n;
}

/* The kept output as text: head, a note about the middle, tail. */
static void capture_text(struct capture *c, struct buf *out)
{
    size_t hl = c->head.len;
    const char *hp = buf_cstr(&c->head);
    size_t dropped = c->total - hl - c->ring_len;
    if (dropped) {
        /* end the head before a character the cut split */
        size_t v = tool_utf8_valid(hp, hl);
        if (hl - v < 4)
            hl = v;
    }
    tool_utf8_add(out, hp, hl);
    if (!c->ring_len)
        return;
    /* the ring in order */
    char *tail = xmalloc(c->ring_len);
    size_t start = (c->ring_pos + c->ring_cap - c->ring_len) % c->ring_cap;
    size_t a = c->ring_cap - start < c->ring_len ? c->ring_cap - start : c->ring_len;
    memcpy(tail, c->ring + start, a);
    memcpy(tail + a, c->ring, c->ring_len - a);
    size_t skip = 0;
    if (dropped)
        while (skip < c->ring_len && ((unsigned char)tail[skip] & 0xC0) == 0x80)
            skip++;
    dropped += (c->head.len - hl) + skip;
    if (dropped)
        buf_addf(out, "\n\n... [%zu bytes of output omitted] ...\n\n", dropped);
    tool_utf8_add(out, tail + skip, c->ring_len - skip);
    free(tail);
}

static bool dropped_var(const struct tool_ctx *ctx, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
    static const char *const ours[] = {"GIT_EDITOR", "GIT_PAGER", "PAGER"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(ours); i++)
        if (strlen(ours[i]) == n && !memcmp(ours[i], entry, n))
            return true;
    for (size_t i = 0; i < ctx->n_env_drop; i++)
        if (strlen(ctx->env_drop[i]) == n && !memcmp(ctx->env_drop[i], entry, n))
            return true;
    return false;
}

static char **make_env(const struct tool_ctx *ctx)
{
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = xcalloc(n + 4, sizeof *env);
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (!dropped_var(ctx, *e))
            env[k++] = *e;
    env[k++] = (char *)"GIT_EDITOR=true";
    env[k++] = (char *)"GIT_PAGER=cat";
    env[k++] = (char *)"PAGER=cat";
    env[k] = NULL;
    return env;
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    default: return "signal";
    }
}

/* Update the persistent directory from the trap's file. */
static void take_pwd(struct tool_ctx *ctx, const char *file)
{
    char dir[TOOL_PATH_MAX + 2];
    FILE *f = fopen(file, "re");
    if (!f)
        return;
    size_t n = fread(dir, 1, sizeof dir - 1, f);
    fclose(f);
    dir[n] = '\0';
    while (n && dir[n - 1] == '\n')
        dir[--n] = '\0';
    struct stat st;
    if (n && n <= TOOL_PATH_MAX && dir[0] == '/' && !memchr(dir, '\n', n) &&
        stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        free(ctx->shell_cwd);
        ctx->shell_cwd = xstrdup(dir);
    }
}

enum brock_status tool_bash_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    size_t clen;
    const char *cmd = tool_arg_str(input, "command", &clen);
    if (!cmd || !clen)
        return tool_fail(out, "Bash: `command` is required");
    if (strlen(cmd) != clen)
        return tool_fail(out, "Bash: `command` contains a NUL byte");
    if (clen > TOOL_COMMAND_MAX)
        return tool_fail(out, "Bash: `command` is longer than %zu bytes", TOOL_COMMAND_MAX);
    int64_t timeout = tool_arg_int(input, "timeout", ctx->lim.bash_timeout_ms);
    if (timeout <= 0)
        timeout = ctx->lim.bash_timeout_ms;
    if (timeout > ctx->lim.bash_timeout_max)
        timeout = ctx->lim.bash_timeout_max;

    /* where to run */
    struct buf note = BUF_INIT(8192);
    struct stat st;
    if (stat(ctx->shell_cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        buf_addf(&note, "\n(The shell's directory %s no longer exists; the command ran in %s.)",
                 ctx->shell_cwd, ctx->cwd);
        free(ctx->shell_cwd);
        ctx->shell_cwd = xstrdup(ctx->cwd);
    }

    /* the side file for the final directory */
    const char *tmpd = getenv("TMPDIR");
    char pwdfile[4096];
    int n = snprintf(pwdfile, sizeof pwdfile, "%s/brock-pwd.XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
    int pfd = n > 0 && (size_t)n < sizeof pwdfile ? mkostemp(pwdfile, O_CLOEXEC) : -1;
    if (pfd < 0) {
        snprintf(pwdfile, sizeof pwdfile, "/tmp/brock-pwd.XXXXXX");
        pfd = mkostemp(pwdfile, O_CLOEXEC);
    }
    if (pfd < 0) {
        buf_free(&note);
        return tool_fail(out, "Bash: cannot create a temporary file: %s", strerror(errno));
    }
    close(pfd);

    static const char prefix[] =
        "__brock_pwd=$1; shift; trap 'pwd -P >|\"$__brock_pwd\" 2>/dev/null' EXIT; ";
    char *script = xmalloc(sizeof prefix + clen);
    memcpy(script, prefix, sizeof prefix - 1);
    memcpy(script + sizeof prefix - 1, cmd, clen + 1);
    const char *argv0 = strrchr(ctx->shell, '/') + 1;
    char *argv[] = {(char *)argv0, (char *)"-c", script, (char *)argv0, pwdfile, NULL};
    char **env = make_env(ctx);

    struct capture cap = {0};
    size_t keep = ctx->lim.bash_max_output;
    buf_init(&cap.head, keep - keep / 2);
    cap.ring_cap = keep / 2;
    cap.ring = cap.ring_cap ? xmalloc(cap.ring_cap) : NULL;

    int fds[2] = {-1, -1};
    pid_t pid = -1;
    int status = 0;
    enum { RUNNING, TIMEOUT, CANCEL } why = RUNNING;
    int64_t t0 = time_mono_ms();
    if (pipe2(fds, O_CLOEXEC) != 0) {
        tool_fail(out, "Bash: pipe: %s", strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, ctx->shell_cwd);
    posix_spawnattr_init(&attr);
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    static const int sigs[] = {SIGPIPE, SIGINT,  SIGQUIT, SIGTERM, SIGHUP,  SIGCHLD, SIGTSTP,
                               SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(sigs); i++)
        sigaddset(&def, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(&pid, ctx->shell, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    fds[1] = -1;
    if (rc != 0) {
        pid = -1;
        tool_fail(out, "Bash: cannot start %s in %s: %s", ctx->shell, ctx->shell_cwd, strerror(rc));
        goto done;
    }

    bool child_done = false, pipe_open = true, killed = false;
    int64_t deadline = t0 + timeout, done_at = 0, term_at = 0;
    char chunk[65536];
    for (;;) {
        int64_t now = time_mono_ms();
        if (!child_done) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid || (w < 0 && errno == ECHILD)) {
                child_done = true;
                done_at = now;
            }
        }
        if (why == RUNNING && !child_done) {
            if (now >= deadline)
                why = TIMEOUT;
            else if (tool_cancelled(ctx))
                why = CANCEL;
            if (why != RUNNING) {
                kill(-pid, SIGTERM);
                term_at = now;
            }
        }
        if (why != RUNNING && !killed) {
            /* SIGKILL after the grace period, or once the group is empty */
            bool group_gone = kill(-pid, 0) != 0 && errno == ESRCH;
            if (group_gone) {
                killed = true;
            } else if (now - term_at >= ctx->lim.bash_grace_ms) {
                kill(-pid, SIGKILL);
                killed = true;
            }
        }
        if (child_done && (why == RUNNING || killed) &&
            (!pipe_open || now - done_at >= BASH_DRAIN_MS))
            break;
        int wait_ms = BASH_SLICE_MS;
        if (why == RUNNING && !child_done && deadline - now < wait_ms)
            wait_ms = (int)(deadline - now > 0 ? deadline - now : 0);
        if (child_done && wait_ms > 10)
            wait_ms = 10;
        if (pipe_open) {
            struct pollfd pf = {.fd = fds[0], .events = POLLIN};
            int pr = poll(&pf, 1, wait_ms);
            if (pr > 0) {
                ssize_t r = read(fds[0], chunk, sizeof chunk);
                if (r > 0)
                    capture_add(&cap, chunk, (size_t)r);
                else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                    pipe_open = false;
                }
            }
        } else {
            poll(NULL, 0, wait_ms);
        }
    }
    int64_t took = time_mono_ms() - t0;

    /* the result */
    struct buf text = BUF_INIT(TOOL_TEXT_MAX / 2);
    capture_text(&cap, &text);
    while (text.len && (text.ptr[text.len - 1] == '\n' || text.ptr[text.len - 1] == '\r'))
        buf_truncate(&text, text.len - 1);
    int code = -1, sig = 0;
    if (WIFEXITED(status))
        code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        sig = WTERMSIG(status);
    if (why == RUNNING)
        take_pwd(ctx, pwdfile);
    buf_reset(&out->text);
    buf_add(&out->text, buf_cstr(&text), text.len);
    if (why == TIMEOUT) {
        buf_addf(&out->text, "%sCommand timed out after %lld ms; it and every process it started "
                             "were killed.",
                 text.len ? "\n" : "", (long long)timeout);
        out->is_error = true;
    } else if (why == CANCEL) {
        buf_addf(&out->text, "%sCommand interrupted by the user; it and every process it started "
                             "were killed.",
                 text.len ? "\n" : "");
        out->is_error = true;
        out->interrupted = true;
    } else if (sig) {
        buf_addf(&out->text, "%sKilled by signal %d (%s)", text.len ? "\n" : "", sig, signame(sig));
        out->is_error = true;
    } else if (code != 0) {
        buf_addf(&out->text, "%sExit code %d", text.len ? "\n" : "", code);
        out->is_error = true;
    } else if (!text.len) {
        buf_addstr(&out->text, "(no output)");
    }
    buf_add(&out->text, buf_cstr(&note), note.len);
    buf_free(&text);
    {
        size_t dn;
        const char *d = tool_arg_str(input, "description", &dn);
        struct buf s = BUF_INIT(4096);
        tool_add_short(&s, d && dn ? d : cmd, d && dn ? dn : clen, 80);
        if (why == TIMEOUT)
            tool_set_summary(out, "Bash: %s (timed out)", buf_cstr(&s));
        else if (why == CANCEL)
            tool_set_summary(out, "Bash: %s (interrupted)", buf_cstr(&s));
        else if (sig)
            tool_set_summary(out, "Bash: %s (%s)", buf_cstr(&s), signame(sig));
        else
            tool_set_summary(out, "Bash: %s (exit %d, %.1fs)", buf_cstr(&s), code,
                             (double)took / 1000.0);
        buf_free(&s);
    }
done:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    unlink(pwdfile);
    free(script);
    free(env);
    buf_free(&cap.head);
    free(cap.ring);
    buf_free(&note);
    return BROCK_OK;
}
