/* creds_process.c - credential_process: split the command line as the SDKs
 * do, run it without a shell, read its JSON (aws-wire-reference 3.3). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/log.h"
#include "creds_impl.h"

extern char **environ;

/* ---- the splitter (shlex.split, POSIX mode) --------------------------------- */

enum split_state { S_SPACE, S_WORD, S_SQUOTE, S_DQUOTE, S_ESCAPE };

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void creds_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        xfree_secret(*a); /* arguments may carry secrets of their own */
    free(argv);
}

enum brock_status creds_split_command(const char *cmd, char ***argvp, size_t *argcp, struct brock_err *e)
{
    *argvp = NULL;
    *argcp = 0;
    size_t len = strlen(cmd);
    /* A word never outgrows the input: each byte adds at most one, and the
     * backslash kept by "\x" stands for the backslash read. */
    char *word = xmalloc(len + 1);
    size_t wl = 0, argc = 0, cap = 8;
    char **argv = xcalloc(cap, sizeof *argv);
    enum split_state st = S_SPACE, esc_from = S_WORD;
    bool quoted = false;
    size_t quote_at = 0;
    enum brock_status rc = BROCK_OK;

    for (size_t i = 0; i <= len; i++) {
        char c = cmd[i];
        bool eof = i == len;
        bool emit = false;
        switch (st) {
        case S_SPACE:
            if (eof || blank(c))
                break;
            if (c == '\\') {
                esc_from = S_WORD;
                st = S_ESCAPE;
            } else if (c == '\'' || c == '"') {
                quote_at = i;
                st = c == '\'' ? S_SQUOTE : S_DQUOTE;
            } else {
                word[wl++] = c;
                st = S_WORD;
            }
            break;
        case S_WORD:
            if (eof || blank(c)) {
                emit = wl > 0 || quoted;
                st = S_SPACE;
            } else if (c == '\'' || c == '"') {
                quote_at = i;
                st = c == '\'' ? S_SQUOTE : S_DQUOTE;
            } else if (c == '\\') {
                esc_from = S_WORD;
                st = S_ESCAPE;
            } else {
                word[wl++] = c;
            }
            break;
        case S_SQUOTE:
        case S_DQUOTE:
            quoted = true;
            if (eof) {
                rc = err_set(e, BROCK_ERR_PARSE, "command line: the quote at column %zu is not closed",
                             quote_at + 1);
                goto fail;
            }
            if (c == (st == S_SQUOTE ? '\'' : '"')) {
                st = S_WORD;
            } else if (st == S_DQUOTE && c == '\\') {
                esc_from = S_DQUOTE;
                st = S_ESCAPE;
            } else {
                word[wl++] = c;
            }
            break;
        case S_ESCAPE:
            if (eof) {
                rc = err_set(e, BROCK_ERR_PARSE, "command line: a backslash at column %zu escapes nothing", i);
                goto fail;
            }
            /* Inside "...", only \" and \\ are escapes; the backslash stays otherwise. */
            if (esc_from == S_DQUOTE && c != '\\' && c != '"')
                word[wl++] = '\\';
            word[wl++] = c;
            st = esc_from;
            break;
        }
        if (emit) {
            if (argc == CREDS_PROCESS_MAX_ARGS) {
                rc = err_set(e, BROCK_ERR_TOO_LARGE, "command line: more than %d words", CREDS_PROCESS_MAX_ARGS);
                goto fail;
            }
            if (argc + 1 >= cap) {
                cap *= 2;
                argv = xrealloc(argv, cap * sizeof *argv);
            }
            argv[argc++] = xmemdup(word, wl);
            argv[argc] = NULL;
            wl = 0;
            quoted = false;
        }
    }
    if (argc == 0) {
        rc = err_set(e, BROCK_ERR_PARSE, "command line is empty");
        goto fail;
    }
    secure_wipe(word, len + 1);
    free(word);
    *argvp = argv;
    *argcp = argc;
    return BROCK_OK;
fail:
    secure_wipe(word, len + 1);
    free(word);
    creds_argv_free(argv);
    return rc;
}

/* ---- running it ----------------------------------------------------------------- */

struct stream {
    int fd;
    struct buf *b;
    size_t cap;      /* stop reading into b beyond this; 0 = drain and drop */
    bool over;       /* more than cap arrived */
};

/* A short printable excerpt of stderr: first line(s), control chars as blanks. */
static const char *stderr_excerpt(const struct buf *b, char *out, size_t n)
{
    const char *s = buf_cstr(b);
    while (*s && blank(*s))
        s++;
    size_t j = 0;
    bool cut = false;
    for (; *s; s++) {
        if (j + 1 >= n) {
            cut = true;
            break;
        }
        unsigned char c = (unsigned char)*s;
        out[j++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
    if (cut && n > 4)
        memcpy(out + n - 4, "...", 4);
    return out;
}

enum brock_status creds_process_run(const struct creds_ctx *x, const char *cmd, const char *where,
                                    const char *provider, struct aws_credentials **out, struct brock_err *e)
{
    *out = NULL;
    char **argv = NULL;
    size_t argc = 0;
    enum brock_status st = creds_split_command(cmd, &argv, &argc, e);
    if (st != BROCK_OK)
        return err_prefix(e, "%s: credential_process", where);

    struct buf obuf = BUF_INIT(CREDS_PROCESS_MAX_OUTPUT), ebuf = BUF_INIT(CREDS_PROCESS_MAX_STDERR);
    int op[2] = {-1, -1}, ep[2] = {-1, -1};
    pid_t pid = -1;
    if (pipe2(op, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: credential_process: cannot create a pipe: %s", where, strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, op[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, ep[1], STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* the child gets stdin, stdout, stderr and nothing else (no sockets) */
    posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(op[1]);
    close(ep[1]);
    op[1] = ep[1] = -1;
    if (rc != 0) {
        pid = -1;
        char shown[128];
        snprintf(shown, sizeof shown, "%s", argv[0]);
        st = err_set(e, BROCK_ERR_CREDENTIALS, "%s: credential_process: cannot run %s: %s", where, shown,
                     strerror(rc));
        goto done;
    }
    log_debug("credential_process: started %s (pid %d)", argv[0], (int)pid);

    struct stream s[2] = {{op[0], &obuf, CREDS_PROCESS_MAX_OUTPUT, false},
                          {ep[0], &ebuf, CREDS_PROCESS_MAX_STDERR, false}};
    for (int i = 0; i < 2; i++)
        fcntl(s[i].fd, F_SETFL, fcntl(s[i].fd, F_GETFL) | O_NONBLOCK);
    int64_t deadline = time_mono_ms() + x->process_timeout_ms;
    bool timed_out = false, too_big = false, cancelled = false;
    int open_fds = 2;
    while (open_fds > 0) {
        int64_t left = deadline - time_mono_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (x->http.cancel && *x->http.cancel) {
            cancelled = true;
            break;
        }
        struct pollfd pf[2];
        int np = 0;
        for (int i = 0; i < 2; i++)
            if (s[i].fd >= 0)
                pf[np++] = (struct pollfd){.fd = s[i].fd, .events = POLLIN};
        int wait_ms = left > 100 ? 100 : (int)left;
        int pr = poll(pf, (nfds_t)np, wait_ms);
        if (pr < 0 && errno != EINTR) {
            st = err_set(e, BROCK_ERR_IO, "%s: credential_process: poll: %s", where, strerror(errno));
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (s[i].fd < 0)
                continue;
            char chunk[4096];
            ssize_t r = read(s[i].fd, chunk, sizeof chunk);
            if (r > 0) {
                size_t room = s[i].cap - s[i].b->len;
                size_t take = (size_t)r < room ? (size_t)r : room;
                if (take)
                    buf_add(s[i].b, chunk, take);
                if ((size_t)r > take)
                    s[i].over = true;
                secure_wipe(chunk, (size_t)r);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(s[i].fd);
                s[i].fd = -1;
                open_fds--;
            }
        }
        if (s[0].over) {
            too_big = true;
            break;
        }
    }
    for (int i = 0; i < 2; i++)
        if (s[i].fd >= 0)
            close(s[i].fd);
    op[0] = ep[0] = -1;
    if (timed_out || too_big || cancelled || st != BROCK_OK)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    if (st != BROCK_OK)
        goto done;
    if (cancelled) {
        st = err_set(e, BROCK_ERR_INTERRUPTED, "%s: credential_process interrupted", where);
        goto done;
    }
    if (timed_out) {
        st = err_set(e, BROCK_ERR_CREDENTIALS, "%s: credential_process did not finish within %ld ms and was stopped",
                     where, x->process_timeout_ms);
        goto done;
    }
    if (too_big) {
        st = err_set(e, BROCK_ERR_TOO_LARGE, "%s: credential_process wrote more than %zu bytes and was stopped",
                     where, CREDS_PROCESS_MAX_OUTPUT);
        goto done;
    }
    char ex[CREDS_PROCESS_EXCERPT + 1];
    if (WIFSIGNALED(status)) {
        stderr_excerpt(&ebuf, ex, sizeof ex);
        st = err_set(e, BROCK_ERR_CREDENTIALS, "%s: credential_process was killed by signal %d%s%s", where,
                     WTERMSIG(status), ex[0] ? ": " : "", ex);
        goto done;
    }
    if (WEXITSTATUS(status) != 0) {
        stderr_excerpt(&ebuf, ex, sizeof ex);
        st = err_set(e, BROCK_ERR_CREDENTIALS, "%s: credential_process exited with status %d%s%s", where,
                     WEXITSTATUS(status), ex[0] ? ": " : " (nothing on stderr)", ex);
        goto done;
    }
    st = creds_parse_json(CREDS_JSON_PROCESS, buf_cstr(&obuf), obuf.len, provider, out, e);
    if (st != BROCK_OK)
        err_prefix(e, "%s", where);
done:
    for (int i = 0; i < 2; i++) {
        if (op[i] >= 0)
            close(op[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    buf_free_secure(&obuf);
    buf_free_secure(&ebuf);
    creds_argv_free(argv);
    return st;
}
