/* mcp_proc.h - child processes for MCP servers and hooks (internal to
 * src/agent/mcp*.c and src/agent/hooks.c).
 *
 * A child is started with posix_spawn (no shell unless the caller runs one),
 * in a new session, so it leads its own process group (pgid == pid) and has no
 * controlling terminal: a Ctrl-C in brock's terminal does not reach it, and a
 * kill of the group reaches everything it started (short of grandchildren
 * that make their own session). Signal mask and the usual signals' handlers
 * are reset to the defaults.
 *
 * Descriptors: stdin is one end of a socketpair (write to it with
 * mcp_proc_send(), which never raises SIGPIPE); stdout is a pipe; stderr is a
 * pipe, a file opened for appending, or /dev/null. Every descriptor brock
 * keeps is close-on-exec, so children started concurrently from other threads
 * never inherit another child's pipes.
 *
 * Thread-safety: every function here may be called from any thread. */
#ifndef BROCK_AGENT_MCP_PROC_H
#define BROCK_AGENT_MCP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../util/err.h"

enum mcp_proc_stderr { MCP_PROC_ERR_NULL = 0, MCP_PROC_ERR_PIPE, MCP_PROC_ERR_FILE };

struct mcp_proc_spec {
    const char *path;        /* executable: absolute, or relative containing '/' */
    char *const *argv;       /* argv[0] is what the child sees */
    char *const *envp;
    const char *cwd;         /* NULL = brock's */
    enum mcp_proc_stderr err;
    const char *err_path;    /* MCP_PROC_ERR_FILE: appended to, created 0600 */
};

struct mcp_proc {
    pid_t pid;  /* also the process group id; -1 when none */
    int in_fd;  /* the child's stdin (our end of a socketpair), non-blocking */
    int out_fd; /* the child's stdout (read end of a pipe), non-blocking */
    int err_fd; /* the child's stderr pipe, non-blocking; -1 unless MCP_PROC_ERR_PIPE */
};

/* Start the child; on failure nothing is left open and p->pid is -1. The
 * message names spec->argv[0] only, never the other arguments. */
enum brock_status mcp_proc_spawn(const struct mcp_proc_spec *spec, struct mcp_proc *p,
                                 struct brock_err *e);

/* Close our descriptors (the child keeps running). */
void mcp_proc_close_fds(struct mcp_proc *p);

/* Send without blocking and without SIGPIPE. Returns bytes sent, 0 when the
 * socket is full, -1 with errno set (EPIPE: the child closed its stdin). */
ssize_t mcp_proc_send(int fd, const void *p, size_t n);

/* The environment for a child: brock's own (environ) minus the names in
 * `drop`, with each "NAME=VALUE" in `set` added or replacing. Returns a
 * NULL-terminated array; free with mcp_proc_env_free(). */
char **mcp_proc_env(const char *const *drop, size_t ndrop, const char *const *set, size_t nset);
void mcp_proc_env_free(char **env);
/* The value of NAME in env, or NULL. */
const char *mcp_proc_env_get(char *const *env, const char *name);

/* Resolve a command as execvp would, with the PATH from env (not brock's):
 * a name with a '/' is taken as is (relative to cwd when not absolute), else
 * the first executable regular file on PATH. Returns a new string, or NULL. */
char *mcp_proc_find(const char *cmd, char *const *env, const char *cwd);

/* True while any process of the group is alive. Zombies do not count (they
 * linger in containers whose init does not reap orphans). */
bool mcp_proc_group_alive(pid_t pgid);

/* Wait up to wait_ms for pid to end. True (and *status set) if it did. */
bool mcp_proc_reap(pid_t pid, int *status, int64_t wait_ms);

/* "exited with status 3", "was killed by signal 9 (SIGKILL)". */
void mcp_proc_status_text(int status, char *out, size_t outlen);

/* The program part of a command line, for messages that must not show its
 * arguments (which may hold tokens): the first word, at most 60 bytes. */
void mcp_proc_program_name(const char *cmd, char *out, size_t outlen);

#endif
