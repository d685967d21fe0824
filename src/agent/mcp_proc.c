/* mcp_proc.c - spawning and stopping child processes (mcp_proc.h). */
#include "mcp_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/compiler.h"
#include "../util/fs.h"
#include "../util/timeutil.h"

extern char **environ;

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void mcp_proc_close_fds(struct mcp_proc *p)
{
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

enum brock_status mcp_proc_spawn(const struct mcp_proc_spec *spec, struct mcp_proc *p,
                                 struct brock_err *e)
{
    p->pid = -1;
    p->in_fd = p->out_fd = p->err_fd = -1;
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    const char *prog = spec->argv && spec->argv[0] ? spec->argv[0] : spec->path;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
        (spec->err == MCP_PROC_ERR_PIPE && pipe2(errp, O_CLOEXEC) != 0)) {
        int er = errno;
        close_fd(&in[0]);
        close_fd(&in[1]);
        close_fd(&out[0]);
        close_fd(&out[1]);
        close_fd(&errp[0]);
        close_fd(&errp[1]);
        return err_set(e, BROCK_ERR_IO, "cannot start %s: cannot create pipes: %s", prog, strerror(er));
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (spec->err == MCP_PROC_ERR_PIPE)
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    else if (spec->err == MCP_PROC_ERR_FILE && spec->err_path)
        posix_spawn_file_actions_addopen(&fa, 2, spec->err_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (spec->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);

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
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = -1;
    int rc = posix_spawn(&pid, spec->path, &fa, &attr, spec->argv, spec->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close_fd(&in[1]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    if (rc != 0) {
        close_fd(&in[0]);
        close_fd(&out[0]);
        close_fd(&errp[0]);
        if (spec->cwd && access(spec->cwd, X_OK) != 0)
            return err_set(e, BROCK_ERR_IO, "cannot start %s in %s: %s", prog, spec->cwd,
                           strerror(errno));
        if (spec->err == MCP_PROC_ERR_FILE && spec->err_path)
            return err_set(e, BROCK_ERR_IO, "cannot start %s (stderr to %s): %s", prog,
                           spec->err_path, strerror(rc));
        return err_set(e, BROCK_ERR_IO, "cannot start %s: %s", prog, strerror(rc));
    }
    set_nonblock(in[0]);
    set_nonblock(out[0]);
    if (errp[0] >= 0)
        set_nonblock(errp[0]);
    p->pid = pid;
    p->in_fd = in[0];
    p->out_fd = out[0];
    p->err_fd = errp[0];
    return BROCK_OK;
}

ssize_t mcp_proc_send(int fd, const void *p, size_t n)
{
    for (;;) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

static bool name_is(const char *entry, const char *name, size_t nlen)
{
    return !strncmp(entry, name, nlen) && entry[nlen] == '=';
}

char **mcp_proc_env(const char *const *drop, size_t ndrop, const char *const *set, size_t nset)
{
    size_t n = 0;
    for (char **ep = environ; ep && *ep; ep++)
        n++;
    char **env = xcalloc(n + nset + 1, sizeof *env);
    size_t k = 0;
    for (char **ep = environ; ep && *ep; ep++) {
        const char *eq = strchr(*ep, '=');
        if (!eq)
            continue;
        size_t nl = (size_t)(eq - *ep);
        bool skip = false;
        for (size_t i = 0; i < ndrop && !skip; i++)
            skip = strlen(drop[i]) == nl && !memcmp(drop[i], *ep, nl);
        for (size_t i = 0; i < nset && !skip; i++)
            skip = name_is(set[i], *ep, nl);
        if (!skip)
            env[k++] = xstrdup(*ep);
    }
    for (size_t i = 0; i < nset; i++) {
        const char *eq = strchr(set[i], '=');
        if (!eq)
            continue;
        /* a later duplicate in `set` wins */
        size_t nl = (size_t)(eq - set[i]);
        bool later = false;
        for (size_t j = i + 1; j < nset && !later; j++)
            later = !strncmp(set[j], set[i], nl + 1);
        if (!later)
            env[k++] = xstrdup(set[i]);
    }
    env[k] = NULL;
    return env;
}

void mcp_proc_env_free(char **env)
{
    if (!env)
        return;
    for (char **ep = env; *ep; ep++)
        free(*ep);
    free(env);
}

const char *mcp_proc_env_get(char *const *env, const char *name)
{
    size_t nl = strlen(name);
    for (char *const *ep = env; ep && *ep; ep++)
        if (name_is(*ep, name, nl))
            return *ep + nl + 1;
    return NULL;
}

static bool is_exec_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *mcp_proc_find(const char *cmd, char *const *env, const char *cwd)
{
    if (!cmd || !*cmd)
        return NULL;
    if (strchr(cmd, '/')) {
        char *p = cmd[0] == '/' || !cwd ? xstrdup(cmd) : fs_join(cwd, cmd);
        if (is_exec_file(p))
            return p;
        free(p);
        return NULL;
    }
    const char *path = mcp_proc_env_get(env, "PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    size_t cl = strlen(cmd);
    const char *s = path;
    for (;;) {
        const char *colon = strchr(s, ':');
        size_t dl = colon ? (size_t)(colon - s) : strlen(s);
        /* an empty entry means the current directory, as in execvp */
        const char *dir = dl ? s : (cwd ? cwd : ".");
        size_t dirl = dl ? dl : strlen(dir);
        char *p = xmalloc(dirl + cl + 2);
        memcpy(p, dir, dirl);
        p[dirl] = '/';
        memcpy(p + dirl + 1, cmd, cl + 1);
        if (p[0] != '/' && cwd) {
            char *abs = fs_join(cwd, p);
            free(p);
            p = abs;
        }
        if (is_exec_file(p))
            return p;
        free(p);
        if (!colon)
            return NULL;
        s = colon + 1;
    }
}

/* The state letter and process group of /proc/PID/stat, or false. */
static bool proc_stat(const char *pid, char *state, long *pgrp)
{
    char path[64], buf[512];
    int n = snprintf(path, sizeof path, "/proc/%s/stat", pid);
    if (n < 0 || (size_t)n >= sizeof path)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return false;
    buf[r] = '\0';
    /* "pid (comm) S ppid pgrp ..." - comm may hold spaces and parentheses */
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ' || !rp[2])
        return false;
    *state = rp[2];
    long ppid;
    return sscanf(rp + 3, " %ld %ld", &ppid, pgrp) == 2;
}

bool mcp_proc_group_alive(pid_t pgid)
{
    if (pgid <= 0)
        return false;
    if (kill(-pgid, 0) != 0 && errno == ESRCH)
        return false;
    DIR *d = opendir("/proc");
    if (!d)
        return true;
    bool alive = false;
    struct dirent *de;
    while (!alive && (de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char st;
        long pg;
        if (proc_stat(de->d_name, &st, &pg) && pg == (long)pgid && st != 'Z' && st != 'X')
            alive = true;
    }
    closedir(d);
    return alive;
}

bool mcp_proc_reap(pid_t pid, int *status, int64_t wait_ms)
{
    if (pid <= 0)
        return true;
    int64_t end = time_mono_ms() + wait_ms;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return true;
        if (w < 0 && errno != EINTR) {
            *status = 0;
            return true; /* not our child any more (already reaped) */
        }
        int64_t left = end - time_mono_ms();
        if (left <= 0)
            return false;
        poll(NULL, 0, left < 5 ? (int)left : 5);
    }
}

static const char *sig_name(int sig)
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
    default: return "signal";
    }
}

void mcp_proc_status_text(int status, char *out, size_t outlen)
{
    if (WIFEXITED(status))
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(status), sig_name(WTERMSIG(status)));
    else
        snprintf(out, outlen, "ended (status 0x%x)", (unsigned)status);
}

void mcp_proc_program_name(const char *cmd, char *out, size_t outlen)
{
    if (!outlen)
        return;
    while (*cmd == ' ' || *cmd == '\t')
        cmd++;
    size_t n = strcspn(cmd, " \t\r\n;|&<>");
    size_t cap = outlen - 1 < 60 ? outlen - 1 : 60;
    bool cut = n > cap;
    if (cut)
        n = cap >= 3 ? cap - 3 : cap;
    /* never cut inside a UTF-8 sequence */
    while (cut && n && ((unsigned char)cmd[n] & 0xC0) == 0x80)
        n--;
    memcpy(out, cmd, n);
    if (cut && cap >= 3) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}
