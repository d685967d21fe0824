/* mcp.h - Model Context Protocol servers over stdio, configured the way
 * Claude Code does it (.mcp.json), their tools exposed to the model as
 * mcp__SERVER__TOOL.
 *
 * Configuration (.mcp.json in the project directory):
 *
 *     {"mcpServers": {"NAME": {"command": "npx", "args": ["-y", "pkg"],
 *                              "env": {"API_KEY": "${API_KEY}"}}}}
 *
 * `type` may be "stdio" (the default); "http", "sse" and any other transport,
 * or an entry with a `url` and no `command`, is skipped with a warning.
 * `${VAR}` and `${VAR:-default}` are expanded in command, args and env values
 * (not in env names): VAR is everything up to the first '}' or ":-"; a set
 * variable wins even when empty; `$VAR` and an unterminated `${` stay as
 * written. A variable that is unset and has no default makes that server
 * unusable: it is skipped with a warning naming the variable (Claude Code's
 * docs say the config then fails to load; in practice it drops the server).
 * A missing file is an empty configuration. Malformed JSON is BROCK_ERR_PARSE
 * "PATH:LINE:COL: ..."; a value of the wrong type is BROCK_ERR_CONFIG
 * "PATH:LINE:COL: mcpServers.NAME.args[1]: expected a string, found number".
 * Values are never quoted in messages or warnings (env values hold API keys).
 *
 * Servers: each is a child process (no shell) in the project directory, in
 * its own session and process group, with brock's environment minus
 * `env_drop` plus its `env`. stdin and stdout carry newline-delimited
 * JSON-RPC (mcp_wire.h); stderr is appended to LOG_DIR/mcp-NAME.log when a log
 * directory is given (created 0700, files 0600), else discarded. Start-up
 * spawns the servers in parallel, one thread each, and for each: initialize
 * (protocolVersion MCP_PROTOCOL_VERSION; 2024-11-05 and 2025-03-26 answers
 * are accepted too), notifications/initialized, then tools/list following
 * nextCursor (at most MCP_MAX_PAGES pages, MCP_MAX_TOOLS tools), all within
 * start_timeout_ms. A server that fails is kept in the list as FAILED with
 * its reason (and its last stderr line when logged); the others work.
 * tools/list_changed notifications are ignored: the tool list is fixed at
 * start-up.
 *
 * Tools: exposed as "mcp__" SERVER "__" TOOL, sanitised to [A-Za-z0-9_-] and
 * at most 64 bytes (mcp_wire.h: long or colliding names end in a hash), with
 * the server's description (cut to MCP_DESC_MAX) and input schema.
 *
 * Calls: tools/call with the arguments; the answer is awaited with
 * call_timeout_ms and the cancel flag (polled every 50 ms). Server requests
 * meanwhile are answered (ping) or refused (-32601); notifications and log
 * messages are ignored. On timeout or cancel brock sends
 * notifications/cancelled for the request and stops waiting; a late answer is
 * dropped. Results become text (mcp_call_text): isError and JSON-RPC errors
 * become error results ("MCP error -32602: ..."). A server whose stdout ends,
 * whose stdin is closed, or that sends a line over MCP_LINE_MAX is marked
 * DEAD (and its process group killed): the call gets an error saying how it
 * ended, later calls fail at once.
 *
 * Stopping (mcp_client_free): stdin is closed; after stop_grace_ms the
 * process group gets SIGTERM; after another stop_grace_ms, SIGKILL. All
 * servers are stopped together, so shutdown takes at most about twice the
 * grace time however many servers hang.
 *
 * Ownership: a config owns its strings; a client copies what it needs from
 * the config (the config may be freed after mcp_client_start). Tools and
 * server names are owned by the client and live until mcp_client_free().
 *
 * Thread-safety: after mcp_client_start() returns, the tool list is
 * read-only. Calls to different servers run concurrently; calls to one
 * server are serialised by a mutex per server (a second caller waits for
 * the first call to finish). mcp_client_free() must not race with calls. */
#ifndef BROCK_AGENT_MCP_H
#define BROCK_AGENT_MCP_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "mcp_wire.h"

#define MCP_PROTOCOL_VERSION "2025-06-18"
#define MCP_CONFIG_MAX_BYTES ((size_t)1024 * 1024) /* .mcp.json */
#define MCP_MAX_SERVERS 64
#define MCP_MAX_ARGS 4096                           /* args + env entries of one server */
#define MCP_VALUE_MAX ((size_t)128 * 1024)          /* one command/arg/env value, expanded */
#define MCP_MAX_TOOLS 1024                          /* tools kept from one server */
#define MCP_MAX_PAGES 100                           /* tools/list pages followed */
#define MCP_INSTRUCTIONS_MAX ((size_t)16 * 1024)    /* initialize's `instructions`, kept */

/* --- .mcp.json --------------------------------------------------------- */

struct mcp_server_config {
    char *name;      /* the key under mcpServers */
    char *command;   /* expanded */
    char **args;     /* expanded */
    size_t n_args;
    char **env;      /* "NAME=VALUE", value expanded */
    size_t n_env;
    int line, col;   /* where the entry's value starts in the file */
};

struct mcp_config {
    char *path;                        /* the file read, or the name given */
    struct mcp_server_config *servers; /* usable stdio servers, in file order */
    size_t n_servers;
    char **warnings;                   /* "PATH:LINE:COL: server NAME: ... skipped" */
    size_t n_warnings;
};

/* Environment lookup for ${VAR}; NULL = getenv(). */
typedef const char *mcp_getenv_fn(void *ctx, const char *name);

/* Read DIR/.mcp.json (a missing file gives an empty config). */
enum brock_status mcp_config_load(const char *dir, mcp_getenv_fn *getenv_fn, void *ctx,
                                  struct mcp_config **out, struct brock_err *e) BROCK_WUR;
/* Parse a document; `path` names it in messages. */
enum brock_status mcp_config_parse(const char *path, const char *text, size_t len,
                                   mcp_getenv_fn *getenv_fn, void *ctx, struct mcp_config **out,
                                   struct brock_err *e) BROCK_WUR;
void mcp_config_free(struct mcp_config *c); /* NULL is fine */

/* Expand ${VAR} and ${VAR:-default} in s into out (appended). Unset
 * variables without a default are left as written and their names appended
 * to `missing` (comma-separated; may be NULL). BROCK_ERR_TOO_LARGE past out's
 * cap. */
enum brock_status mcp_expand(const char *s, mcp_getenv_fn *getenv_fn, void *ctx, struct buf *out,
                             struct buf *missing);

/* --- Client ------------------------------------------------------------ */

struct mcp_opts {
    const char *cwd;                  /* servers' working directory; NULL = brock's */
    const char *log_dir;              /* stderr logs; NULL = discard */
    int64_t start_timeout_ms;         /* [30000] spawn to tools listed, per server */
    int64_t call_timeout_ms;          /* [600000] one tools/call */
    int64_t stop_grace_ms;            /* [2000] stdin closed -> SIGTERM -> SIGKILL */
    volatile sig_atomic_t *cancel;    /* the SIGINT flag; NULL = never */
    const char *const *env_drop;      /* names removed from servers' environment */
    size_t n_env_drop;
};
void mcp_opts_default(struct mcp_opts *o);

enum mcp_state {
    MCP_READY = 0, /* running, tools listed */
    MCP_FAILED,    /* never became ready */
    MCP_DEAD,      /* was ready, then died or broke the protocol */
    MCP_STOPPED    /* stopped by mcp_client_free */
};
const char *mcp_state_name(enum mcp_state s); /* "ready", "failed", "dead", "stopped" */

struct mcp_status {
    const char *name;           /* borrowed, lives with the client */
    enum mcp_state state;
    pid_t pid;                  /* -1 if never started */
    size_t n_tools;
    const char *server_name;    /* serverInfo.name ("" if not given); borrowed */
    const char *server_version; /* serverInfo.version; borrowed */
    const char *protocol;       /* negotiated version; borrowed */
    const char *instructions;   /* "" if none; borrowed */
    const char *log_path;       /* NULL when stderr is discarded; borrowed */
    char error[sizeof(((struct brock_err *)0)->msg)]; /* why FAILED/DEAD; "" otherwise */
};

struct mcp_tool {
    char *name;          /* what the model sees: mcp__SERVER__TOOL */
    char *tool;          /* the server's own name for it */
    const char *server;  /* the server's config name */
    size_t server_index;
    char *description;
    json_t *input_schema; /* a JSON object with "type": "object" */
};

struct mcp_client;

/* Start every server in cfg (see above). Returns BROCK_OK even when servers
 * fail (see mcp_client_status); BROCK_ERR_USAGE for bad arguments. */
enum brock_status mcp_client_start(const struct mcp_config *cfg, const struct mcp_opts *o,
                                   struct mcp_client **out, struct brock_err *e) BROCK_WUR;
/* Stop every server (see above) and free. NULL is fine. */
void mcp_client_free(struct mcp_client *c);

size_t mcp_client_server_count(const struct mcp_client *c);
/* A snapshot of server i (taken under its lock). */
void mcp_client_status(struct mcp_client *c, size_t i, struct mcp_status *out);

/* All tools of all ready servers, in config order (borrowed). */
const struct mcp_tool *mcp_client_tools(const struct mcp_client *c, size_t *n);
/* By exposed name; NULL if unknown. */
const struct mcp_tool *mcp_client_find(const struct mcp_client *c, const char *name);
/* [{"name","description","input_schema"}, ...] as tools.h's tool_specs_json
 * (new reference). */
json_t *mcp_client_tool_specs(const struct mcp_client *c);

struct mcp_result {
    struct buf text;  /* for the model; valid UTF-8, at most MCP_RESULT_MAX + a note */
    bool is_error;
    bool interrupted; /* the cancel flag stopped the wait */
};
void mcp_result_init(struct mcp_result *r);
void mcp_result_cleanup(struct mcp_result *r); /* back to the init state */

/* Call a tool by its exposed name with `arguments` (an object; NULL = {}).
 * Failures the model should see (unknown tool, dead server, timeout, tool or
 * protocol error) are results with is_error set and BROCK_OK. Returns
 * BROCK_ERR_INTERRUPTED when the cancel flag stopped the call (the result
 * says so too), BROCK_ERR_USAGE for a non-object `arguments`. */
enum brock_status mcp_client_call(struct mcp_client *c, const char *name, const json_t *arguments,
                                  struct mcp_result *out);

#endif
