/* mcp.c - MCP stdio servers: start, handshake, list tools, call, stop (mcp.h). */
#include "mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/timeutil.h"
#include "mcp_proc.h"

#ifndef BROCK_VERSION
#define BROCK_VERSION "0.0.0"
#endif

#define MCP_SLICE_MS 50                          /* cancel-flag latency */
#define MCP_OUT_MAX (BUF_MAX_BODY + MCP_REPLY_MAX) /* bytes queued for one server */

struct pending_tool {
    char *tool;
    char *desc;
    json_t *schema;
};

struct mcp_server {
    pthread_mutex_t lock;
    const struct mcp_client *client;
    size_t index;
    char *name;
    char *command;     /* as configured, for messages (program part only) */
    char prog[64];     /* mcp_proc_program_name(command) */
    char **argv;
    char **envset;     /* the config's "NAME=VALUE" entries (may hold secrets) */
    size_t n_envset;
    char *log_path;
    off_t log_start;

    enum mcp_state state;
    struct mcp_proc proc;
    bool reaped;
    struct mcp_wire wire;
    struct buf out;    /* bytes owed to the server's stdin */
    int64_t next_id;

    char *server_name, *server_version, *protocol, *instructions;
    char error[sizeof(((struct brock_err *)0)->msg)];

    struct pending_tool *ptools;
    size_t n_ptools;
};

struct mcp_client {
    struct mcp_opts opts;
    char *cwd, *log_dir;
    char **env_drop;
    struct mcp_server *servers;
    size_t n_servers;
    struct mcp_tool *tools;
    size_t n_tools;
    size_t *slots; /* hash of exposed names -> index + 1 (0 = empty) */
    size_t n_slots;
};

void mcp_opts_default(struct mcp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->start_timeout_ms = 30000;
    o->call_timeout_ms = 600000;
    o->stop_grace_ms = 2000;
}

const char *mcp_state_name(enum mcp_state s)
{
    switch (s) {
    case MCP_READY: return "ready";
    case MCP_FAILED: return "failed";
    case MCP_DEAD: return "dead";
    case MCP_STOPPED: return "stopped";
    }
    return "?";
}

void mcp_result_init(struct mcp_result *r)
{
    buf_init(&r->text, MCP_RESULT_MAX + 4096);
    r->is_error = false;
    r->interrupted = false;
}

void mcp_result_cleanup(struct mcp_result *r)
{
    buf_free(&r->text);
    mcp_result_init(r);
}

/* --- Stopping ----------------------------------------------------------- */

/* Stop servers together: close stdin, wait, SIGTERM the groups, wait,
 * SIGKILL. Each server's lock is held by the caller or nobody else runs. */
static void stop_servers(struct mcp_server **sv, size_t n, int64_t grace)
{
    for (size_t i = 0; i < n; i++)
        mcp_proc_close_fds(&sv[i]->proc);
    int64_t end = time_mono_ms() + grace;
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < n; i++) {
            struct mcp_server *s = sv[i];
            int st;
            if (!s->reaped && s->proc.pid > 0) {
                if (mcp_proc_reap(s->proc.pid, &st, 0))
                    s->reaped = true;
                else
                    all = false;
            }
        }
        if (all || time_mono_ms() >= end)
            break;
        poll(NULL, 0, 10);
    }
    for (int sig = 0; sig < 2; sig++) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            struct mcp_server *s = sv[i];
            if (s->proc.pid > 0 && (!s->reaped || mcp_proc_group_alive(s->proc.pid))) {
                kill(-s->proc.pid, sig ? SIGKILL : SIGTERM);
                any = true;
            }
        }
        if (!any)
            break;
        end = time_mono_ms() + (sig ? 1000 : grace);
        for (;;) {
            bool all = true;
            for (size_t i = 0; i < n; i++) {
                struct mcp_server *s = sv[i];
                int st;
                if (s->proc.pid <= 0)
                    continue;
                if (!s->reaped && mcp_proc_reap(s->proc.pid, &st, 0))
                    s->reaped = true;
                if (!s->reaped || mcp_proc_group_alive(s->proc.pid))
                    all = false;
            }
            if (all || time_mono_ms() >= end)
                break;
            poll(NULL, 0, 10);
        }
    }
}

/* --- Messages ------------------------------------------------------------ */

/* The last line the server wrote to its stderr log since it started, with
 * the values of its configured environment blanked out. */
static void stderr_tail(const struct mcp_server *s, struct buf *out)
{
    if (!s->log_path)
        return;
    int fd = open(s->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    char raw[513];
    ssize_t r = 0;
    if (fstat(fd, &st) == 0 && st.st_size > s->log_start) {
        off_t from = st.st_size - 512 > s->log_start ? st.st_size - 512 : s->log_start;
        r = pread(fd, raw, 512, from);
    }
    close(fd);
    if (r <= 0)
        return;
    size_t n = (size_t)r;
    while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
        n--;
    size_t b = n;
    while (b && raw[b - 1] != '\n')
        b--;
    /* skip a partial UTF-8 sequence at the start of the window */
    while (b < n && ((unsigned char)raw[b] & 0xC0) == 0x80)
        b++;
    if (b == n)
        return;
    if (n - b > 300) {
        n = b + 300;
        while (n > b && ((unsigned char)raw[n] & 0xC0) == 0x80)
            n--;
    }
    raw[n] = '\0';
    for (size_t i = b; i < n; i++)
        if ((unsigned char)raw[i] < 0x20)
            raw[i] = ' ';
    struct buf line = BUF_INIT(4096);
    buf_add(&line, raw + b, n - b);
    for (size_t i = 0; i < s->n_envset; i++) {
        const char *v = strchr(s->envset[i], '=') + 1;
        size_t vl = strlen(v);
        if (vl < 6)
            continue;
        char *hit;
        while ((hit = strstr(line.ptr, v))) {
            struct buf t = BUF_INIT(4096);
            buf_add(&t, line.ptr, (size_t)(hit - line.ptr));
            buf_addstr(&t, "[redacted]");
            buf_addstr(&t, hit + vl);
            buf_free(&line);
            line = t;
        }
    }
    buf_addf(out, "; its last stderr line: %s", buf_cstr(&line));
    buf_free(&line);
    secure_wipe(raw, sizeof raw);
}

/* Mark the server FAILED or DEAD with a reason, and stop it. Lock held. */
static void give_up(struct mcp_server *s, enum mcp_state state, const char *fmt, ...)
    BROCK_PRINTF(3, 4);
static void give_up(struct mcp_server *s, enum mcp_state state, const char *fmt, ...)
{
    struct buf m = BUF_INIT(sizeof s->error);
    buf_addf(&m, "MCP server %s (%s): ", s->name, s->prog);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&m, fmt, ap);
    va_end(ap);
    stderr_tail(s, &m);
    snprintf(s->error, sizeof s->error, "%s", buf_cstr(&m));
    if (m.overflow && sizeof s->error > 4)
        memcpy(s->error + sizeof s->error - 4, "...", 4);
    buf_free(&m);
    s->state = state;
    struct mcp_server *one = s;
    stop_servers(&one, 1, s->client->opts.stop_grace_ms);
    log_debug("%s", s->error);
}

/* --- Talking ------------------------------------------------------------ */

enum xrc { XCH_OK = 0, XCH_TIMEOUT, XCH_CANCEL, XCH_DEAD };

/* Flush s->out and, if id >= 0, wait for the response to id. XCH_DEAD leaves
 * the reason in why (the caller gives up on the server). */
static enum xrc exchange(struct mcp_server *s, int64_t id, int64_t deadline, json_t **resp,
                         struct buf *why)
{
    volatile sig_atomic_t *cancel = s->client->opts.cancel;
    char chunk[MCP_READ_CHUNK];
    struct brock_err e = {0};
    size_t off = 0;
    if (resp)
        *resp = NULL;
    mcp_wire_expect(&s->wire, id);
    if (mcp_wire_pump(&s->wire, &e) != BROCK_OK) {
        buf_addstr(why, e.msg);
        return XCH_DEAD;
    }
    enum xrc rc;
    for (;;) {
        if (s->wire.replies.len) {
            if (s->wire.replies.len <= s->out.max - s->out.len)
                buf_add(&s->out, s->wire.replies.ptr, s->wire.replies.len);
            buf_reset(&s->wire.replies);
        }
        if (id >= 0 && (*resp = mcp_wire_take(&s->wire))) {
            rc = XCH_OK;
            break;
        }
        if (id < 0 && off >= s->out.len) {
            rc = XCH_OK;
            break;
        }
        if (cancel && *cancel) {
            rc = XCH_CANCEL;
            break;
        }
        int64_t now = time_mono_ms();
        if (now >= deadline) {
            rc = XCH_TIMEOUT;
            break;
        }
        struct pollfd pf[2] = {{.fd = s->proc.out_fd, .events = POLLIN},
                               {.fd = s->proc.in_fd, .events = POLLOUT}};
        nfds_t nf = off < s->out.len ? 2 : 1;
        int slice = deadline - now < MCP_SLICE_MS ? (int)(deadline - now) : MCP_SLICE_MS;
        int pr = poll(pf, nf, slice);
        if (pr < 0 && errno != EINTR) {
            buf_addf(why, "poll: %s", strerror(errno));
            return XCH_DEAD;
        }
        if (pr <= 0)
            continue;
        if (nf == 2 && pf[1].revents) {
            ssize_t w = mcp_proc_send(s->proc.in_fd, s->out.ptr + off, s->out.len - off);
            if (w < 0) {
                buf_addf(why, "its stdin was closed (%s)", strerror(errno));
                return XCH_DEAD;
            }
            off += (size_t)w;
        }
        if (pf[0].revents) {
            ssize_t r = read(s->proc.out_fd, chunk, sizeof chunk);
            if (r == 0) {
                buf_addstr(why, "closed its stdout");
                return XCH_DEAD;
            }
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                buf_addf(why, "reading its stdout: %s", strerror(errno));
                return XCH_DEAD;
            }
            if (mcp_wire_feed(&s->wire, chunk, (size_t)r, &e) != BROCK_OK) {
                buf_addstr(why, e.msg);
                return XCH_DEAD;
            }
        }
    }
    /* keep what was not sent for the next exchange */
    if (off) {
        memmove(s->out.ptr, s->out.ptr + off, s->out.len - off);
        buf_truncate(&s->out, s->out.len - off);
    }
    return rc;
}

/* Describe how a server ended, for a "closed its stdout" style reason. */
static void death_reason(struct mcp_server *s, const char *what, const char *during, struct buf *m)
{
    int st = 0;
    if (s->proc.pid > 0 && !s->reaped && mcp_proc_reap(s->proc.pid, &st, 500)) {
        s->reaped = true;
        char how[80];
        mcp_proc_status_text(st, how, sizeof how);
        buf_addf(m, "%s %s", how, during);
    } else {
        buf_addf(m, "%s %s", what, during);
    }
}

static bool queue(struct mcp_server *s, const char *line, size_t n)
{
    if (n > s->out.max - s->out.len)
        return false;
    buf_add(&s->out, line, n);
    return true;
}

static void queue_cancel(struct mcp_server *s, int64_t id, const char *reason)
{
    json_t *p = json_object();
    json_object_set_new(p, "requestId", json_integer(id));
    json_object_set_new(p, "reason", json_string(reason));
    struct buf line = BUF_INIT(4096);
    mcp_wire_add_message(&line, -1, "notifications/cancelled", p);
    queue(s, line.ptr, line.len);
    buf_free(&line);
    /* best effort, at once: the server may be busy and not reading */
    ssize_t w = s->out.len ? mcp_proc_send(s->proc.in_fd, s->out.ptr, s->out.len) : 0;
    if (w > 0) {
        memmove(s->out.ptr, s->out.ptr + w, s->out.len - (size_t)w);
        buf_truncate(&s->out, s->out.len - (size_t)w);
    }
}

/* One request during start-up: response's result in *result (new ref). */
static bool startup_request(struct mcp_server *s, const char *method, json_t *params,
                            int64_t deadline, json_t **result)
{
    *result = NULL;
    int64_t id = s->next_id++;
    struct buf line = BUF_INIT(BUF_MAX_SMALL);
    mcp_wire_add_message(&line, id, method, params);
    queue(s, line.ptr, line.len);
    buf_free(&line);
    json_t *resp = NULL;
    struct buf why = BUF_INIT(1024);
    enum xrc x = exchange(s, id, deadline, &resp, &why);
    bool ok = false;
    if (x == XCH_OK) {
        json_t *err = json_object_get(resp, "error");
        json_t *res = json_object_get(resp, "result");
        if (err) {
            int64_t code = 0;
            json_int(err, "code", &code);
            const char *msg = json_str(err, "message");
            give_up(s, MCP_FAILED, "%s failed: MCP error %" PRId64 ": %.300s", method, code,
                    msg ? msg : "(no message)");
        } else if (!json_is_object(res)) {
            give_up(s, MCP_FAILED, "%s: the result is not an object", method);
        } else {
            *result = json_incref(res);
            ok = true;
        }
    } else if (x == XCH_TIMEOUT) {
        give_up(s, MCP_FAILED, "no answer to %s within %" PRId64 " ms", method,
                s->client->opts.start_timeout_ms);
    } else if (x == XCH_CANCEL) {
        give_up(s, MCP_FAILED, "start-up interrupted by the user during %s", method);
    } else {
        struct buf m = BUF_INIT(1024);
        char during[64];
        snprintf(during, sizeof during, "during %s", method);
        death_reason(s, buf_cstr(&why), during, &m);
        give_up(s, MCP_FAILED, "%s", buf_cstr(&m));
        buf_free(&m);
    }
    json_decref(resp);
    buf_free(&why);
    return ok;
}

static char *dup_capped(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return xstrndup(s, n);
}

static void *server_start(void *arg)
{
    struct mcp_server *s = arg;
    const struct mcp_client *c = s->client;
    int64_t deadline = time_mono_ms() + c->opts.start_timeout_ms;
    char **env = mcp_proc_env((const char *const *)c->env_drop, c->opts.n_env_drop,
                              (const char *const *)s->envset, s->n_envset);
    char *exe = mcp_proc_find(s->command, env, c->cwd);
    json_t *res = NULL;
    pthread_mutex_lock(&s->lock);
    if (!exe) {
        snprintf(s->error, sizeof s->error, "MCP server %s: command %s not found%s", s->name, s->prog,
                 strchr(s->command, '/') ? " (or not executable)" : " on PATH");
        s->state = MCP_FAILED;
        goto done;
    }
    if (s->log_path) {
        struct stat st;
        s->log_start = stat(s->log_path, &st) == 0 ? st.st_size : 0;
    }
    struct mcp_proc_spec spec = {
        .path = exe,
        .argv = s->argv,
        .envp = env,
        .cwd = c->cwd,
        .err = s->log_path ? MCP_PROC_ERR_FILE : MCP_PROC_ERR_NULL,
        .err_path = s->log_path,
    };
    struct brock_err e = {0};
    if (mcp_proc_spawn(&spec, &s->proc, &e) != BROCK_OK) {
        snprintf(s->error, sizeof s->error, "MCP server %.200s: %.500s", s->name, e.msg);
        s->state = MCP_FAILED;
        goto done;
    }

    /* initialize */
    json_t *p = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", MCP_PROTOCOL_VERSION,
                          "capabilities", "clientInfo", "name", "brock", "version", BROCK_VERSION);
    if (!startup_request(s, "initialize", p, deadline, &res))
        goto done;
    const char *pv = json_str(res, "protocolVersion");
    static const char *const known[] = {"2025-06-18", "2025-03-26", "2024-11-05"};
    bool ok = false;
    for (size_t i = 0; pv && i < BROCK_ARRAY_LEN(known); i++)
        ok = ok || !strcmp(pv, known[i]);
    if (!ok) {
        give_up(s, MCP_FAILED, "initialize: unsupported protocol version %s%.40s%s (brock speaks %s, "
                               "2025-03-26 and 2024-11-05)",
                pv ? "\"" : "", pv ? pv : "(none given)", pv ? "\"" : "", MCP_PROTOCOL_VERSION);
        goto done;
    }
    s->protocol = xstrdup(pv);
    json_t *info = json_object_get(res, "serverInfo");
    s->server_name = dup_capped(json_str(info, "name") ? json_str(info, "name") : "", 200);
    s->server_version = dup_capped(json_str(info, "version") ? json_str(info, "version") : "", 200);
    const char *ins = json_str(res, "instructions");
    s->instructions = dup_capped(ins ? ins : "", MCP_INSTRUCTIONS_MAX);
    bool has_tools = json_is_object(json_object_get(json_object_get(res, "capabilities"), "tools"));
    json_decref(res);
    res = NULL;

    struct buf line = BUF_INIT(4096);
    mcp_wire_add_message(&line, -1, "notifications/initialized", NULL);
    queue(s, line.ptr, line.len);
    buf_free(&line);

    if (!has_tools) {
        struct buf why = BUF_INIT(1024);
        if (exchange(s, -1, deadline, NULL, &why) != XCH_OK) {
            give_up(s, MCP_FAILED, "sending notifications/initialized: %s", buf_cstr(&why));
            buf_free(&why);
            goto done;
        }
        buf_free(&why);
        s->state = MCP_READY;
        goto done;
    }

    /* tools/list, page by page */
    const char *cursor = NULL;
    char *cur = NULL;
    for (size_t page = 0;; page++) {
        if (page == MCP_MAX_PAGES) {
            log_warn("MCP server %s: more than %d pages of tools; the rest are ignored", s->name,
                     MCP_MAX_PAGES);
            break;
        }
        json_t *params = cur ? json_pack("{s:s}", "cursor", cur) : json_object();
        free(cur);
        cur = NULL;
        if (!startup_request(s, "tools/list", params, deadline, &res))
            goto done;
        const json_t *tools;
        if (mcp_tools_page(res, &tools, &cursor, &e) != BROCK_OK) {
            give_up(s, MCP_FAILED, "%s", e.msg);
            goto done;
        }
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t) {
            const char *name, *desc;
            json_t *schema;
            struct buf why = BUF_INIT(256);
            if (!mcp_tool_entry(t, &name, &desc, &schema, &why)) {
                log_warn("MCP server %s: %s; skipped", s->name, buf_cstr(&why));
                buf_free(&why);
                continue;
            }
            buf_free(&why);
            if (s->n_ptools == MCP_MAX_TOOLS) {
                json_decref(schema);
                log_warn("MCP server %s: more than %d tools; the rest are ignored", s->name,
                         MCP_MAX_TOOLS);
                cursor = NULL;
                break;
            }
            s->ptools = xrealloc(s->ptools, (s->n_ptools + 1) * sizeof *s->ptools);
            s->ptools[s->n_ptools++] = (struct pending_tool){
                .tool = xstrdup(name), .desc = dup_capped(desc, MCP_DESC_MAX), .schema = schema};
        }
        cur = cursor ? xstrdup(cursor) : NULL;
        json_decref(res);
        res = NULL;
        if (!cur)
            break;
    }
    s->state = MCP_READY;
done:
    if (s->state != MCP_READY && s->state != MCP_FAILED)
        s->state = MCP_FAILED;
    json_decref(res);
    pthread_mutex_unlock(&s->lock);
    mcp_proc_env_free(env);
    free(exe);
    return NULL;
}

/* --- Names --------------------------------------------------------------- */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t *slot_for(const struct mcp_client *c, const char *name)
{
    size_t mask = c->n_slots - 1;
    for (size_t i = (size_t)name_hash(name) & mask;; i = (i + 1) & mask) {
        size_t v = c->slots[i];
        if (!v || !strcmp(c->tools[v - 1].name, name))
            return &c->slots[i];
    }
}

static void build_tools(struct mcp_client *c)
{
    size_t total = 0;
    for (size_t i = 0; i < c->n_servers; i++)
        if (c->servers[i].state == MCP_READY)
            total += c->servers[i].n_ptools;
    c->tools = xcalloc(total ? total : 1, sizeof *c->tools);
    c->n_slots = 16;
    while (c->n_slots < total * 2)
        c->n_slots *= 2;
    c->slots = xcalloc(c->n_slots, sizeof *c->slots);
    for (size_t i = 0; i < c->n_servers; i++) {
        struct mcp_server *s = &c->servers[i];
        if (s->state != MCP_READY)
            continue;
        for (size_t j = 0; j < s->n_ptools; j++) {
            struct pending_tool *p = &s->ptools[j];
            char name[MCP_TOOL_NAME_MAX + 1];
            size_t *slot;
            for (unsigned salt = 0;; salt++) {
                mcp_tool_expose(s->name, p->tool, salt, name);
                slot = slot_for(c, name);
                if (!*slot)
                    break;
            }
            struct mcp_tool *t = &c->tools[c->n_tools];
            t->name = xstrdup(name);
            t->tool = p->tool;
            t->server = s->name;
            t->server_index = i;
            t->description = p->desc;
            t->input_schema = p->schema;
            p->tool = p->desc = NULL;
            p->schema = NULL;
            *slot = ++c->n_tools;
        }
        free(s->ptools);
        s->ptools = NULL;
        s->n_ptools = 0;
    }
}

/* --- Public API ---------------------------------------------------------- */

static void file_name_part(const char *name, struct buf *out)
{
    for (const char *p = name; *p && out->len < 100; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == '.';
        buf_addc(out, ok ? ch : '_');
    }
}

enum brock_status mcp_client_start(const struct mcp_config *cfg, const struct mcp_opts *o,
                                   struct mcp_client **out, struct brock_err *e)
{
    *out = NULL;
    if (!cfg)
        return err_set(e, BROCK_ERR_USAGE, "mcp_client_start: no configuration");
    struct mcp_client *c = xcalloc(1, sizeof *c);
    if (o)
        c->opts = *o;
    else
        mcp_opts_default(&c->opts);
    if (c->opts.start_timeout_ms <= 0)
        c->opts.start_timeout_ms = 30000;
    if (c->opts.call_timeout_ms <= 0)
        c->opts.call_timeout_ms = 600000;
    if (c->opts.stop_grace_ms < 0)
        c->opts.stop_grace_ms = 0;
    c->cwd = c->opts.cwd ? xstrdup(c->opts.cwd) : NULL;
    c->log_dir = c->opts.log_dir ? xstrdup(c->opts.log_dir) : NULL;
    c->env_drop = xcalloc(c->opts.n_env_drop + 1, sizeof *c->env_drop);
    for (size_t i = 0; i < c->opts.n_env_drop; i++)
        c->env_drop[i] = xstrdup(c->opts.env_drop[i]);
    c->opts.cwd = c->cwd;
    c->opts.log_dir = c->log_dir;
    c->opts.env_drop = (const char *const *)c->env_drop;

    bool logs = false;
    if (c->log_dir && cfg->n_servers) {
        struct brock_err le = {0};
        if (fs_mkdirs(c->log_dir, 0700, &le) == BROCK_OK)
            logs = true;
        else
            log_warn("MCP server logs: %s; stderr is discarded", le.msg);
    }

    c->n_servers = cfg->n_servers;
    c->servers = xcalloc(c->n_servers ? c->n_servers : 1, sizeof *c->servers);
    for (size_t i = 0; i < c->n_servers; i++) {
        const struct mcp_server_config *sc = &cfg->servers[i];
        struct mcp_server *s = &c->servers[i];
        pthread_mutex_init(&s->lock, NULL);
        s->client = c;
        s->index = i;
        s->name = xstrdup(sc->name);
        s->command = xstrdup(sc->command);
        mcp_proc_program_name(sc->command, s->prog, sizeof s->prog);
        s->argv = xcalloc(sc->n_args + 2, sizeof *s->argv);
        s->argv[0] = xstrdup(sc->command);
        for (size_t j = 0; j < sc->n_args; j++)
            s->argv[j + 1] = xstrdup(sc->args[j]);
        s->envset = xcalloc(sc->n_env + 1, sizeof *s->envset);
        for (size_t j = 0; j < sc->n_env; j++)
            s->envset[j] = xstrdup(sc->env[j]);
        s->n_envset = sc->n_env;
        if (logs) {
            struct buf f = BUF_INIT(4096);
            buf_addf(&f, "%s/mcp-", c->log_dir);
            file_name_part(sc->name, &f);
            buf_addstr(&f, ".log");
            s->log_path = buf_take(&f);
        }
        s->state = MCP_FAILED;
        s->proc = (struct mcp_proc){.pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};
        mcp_wire_init(&s->wire);
        buf_init(&s->out, MCP_OUT_MAX);
        s->next_id = 1;
    }

    /* start in parallel: a slow server (npx fetching a package) must not hold up the rest */
    pthread_t *th = xcalloc(c->n_servers ? c->n_servers : 1, sizeof *th);
    bool *started = xcalloc(c->n_servers ? c->n_servers : 1, sizeof *started);
    for (size_t i = 0; i < c->n_servers; i++)
        started[i] = c->n_servers > 1 && pthread_create(&th[i], NULL, server_start, &c->servers[i]) == 0;
    for (size_t i = 0; i < c->n_servers; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            server_start(&c->servers[i]);
    }
    free(th);
    free(started);
    build_tools(c);
    *out = c;
    return BROCK_OK;
}

void mcp_client_free(struct mcp_client *c)
{
    if (!c)
        return;
    struct mcp_server **live = xcalloc(c->n_servers ? c->n_servers : 1, sizeof *live);
    size_t n = 0;
    for (size_t i = 0; i < c->n_servers; i++) {
        struct mcp_server *s = &c->servers[i];
        if (s->proc.pid > 0 && (!s->reaped || s->proc.in_fd >= 0))
            live[n++] = s;
    }
    stop_servers(live, n, c->opts.stop_grace_ms);
    free(live);
    for (size_t i = 0; i < c->n_servers; i++) {
        struct mcp_server *s = &c->servers[i];
        if (s->state == MCP_READY)
            s->state = MCP_STOPPED;
        mcp_proc_close_fds(&s->proc);
        mcp_wire_cleanup(&s->wire);
        buf_free(&s->out);
        for (char **a = s->argv; a && *a; a++)
            free(*a);
        free(s->argv);
        for (size_t j = 0; j < s->n_envset; j++)
            xfree_secret(s->envset[j]);
        free(s->envset);
        for (size_t j = 0; j < s->n_ptools; j++) {
            free(s->ptools[j].tool);
            free(s->ptools[j].desc);
            json_decref(s->ptools[j].schema);
        }
        free(s->ptools);
        free(s->name);
        free(s->command);
        free(s->log_path);
        free(s->server_name);
        free(s->server_version);
        free(s->protocol);
        free(s->instructions);
        pthread_mutex_destroy(&s->lock);
    }
    for (size_t i = 0; i < c->n_tools; i++) {
        free(c->tools[i].name);
        free(c->tools[i].tool);
        free(c->tools[i].description);
        json_decref(c->tools[i].input_schema);
    }
    free(c->tools);
    free(c->slots);
    free(c->servers);
    for (size_t i = 0; i < c->opts.n_env_drop; i++)
        free(c->env_drop[i]);
    free(c->env_drop);
    free(c->cwd);
    free(c->log_dir);
    free(c);
}

size_t mcp_client_server_count(const struct mcp_client *c)
{
    return c ? c->n_servers : 0;
}

void mcp_client_status(struct mcp_client *c, size_t i, struct mcp_status *out)
{
    memset(out, 0, sizeof *out);
    out->pid = -1;
    if (!c || i >= c->n_servers)
        return;
    struct mcp_server *s = &c->servers[i];
    pthread_mutex_lock(&s->lock);
    out->name = s->name;
    out->state = s->state;
    out->pid = s->proc.pid;
    for (size_t k = 0; k < c->n_tools; k++)
        out->n_tools += c->tools[k].server_index == i;
    out->server_name = s->server_name ? s->server_name : "";
    out->server_version = s->server_version ? s->server_version : "";
    out->protocol = s->protocol ? s->protocol : "";
    out->instructions = s->instructions ? s->instructions : "";
    out->log_path = s->log_path;
    snprintf(out->error, sizeof out->error, "%s", s->error);
    pthread_mutex_unlock(&s->lock);
}

const struct mcp_tool *mcp_client_tools(const struct mcp_client *c, size_t *n)
{
    *n = c ? c->n_tools : 0;
    return c ? c->tools : NULL;
}

const struct mcp_tool *mcp_client_find(const struct mcp_client *c, const char *name)
{
    if (!c || !name || !c->n_tools)
        return NULL;
    size_t v = *slot_for(c, name);
    return v ? &c->tools[v - 1] : NULL;
}

json_t *mcp_client_tool_specs(const struct mcp_client *c)
{
    json_t *a = json_array();
    for (size_t i = 0; c && i < c->n_tools; i++) {
        const struct mcp_tool *t = &c->tools[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:O}", "name", t->name, "description",
                                           t->description, "input_schema", t->input_schema));
    }
    return a;
}

static void result_error(struct mcp_result *out, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void result_error(struct mcp_result *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_reset(&out->text);
    buf_addvf(&out->text, fmt, ap);
    va_end(ap);
    out->is_error = true;
}

enum brock_status mcp_client_call(struct mcp_client *c, const char *name, const json_t *arguments,
                                  struct mcp_result *out)
{
    if (arguments && !json_is_object(arguments)) {
        result_error(out, "MCP tool arguments must be a JSON object");
        return BROCK_ERR_USAGE;
    }
    const struct mcp_tool *t = mcp_client_find(c, name);
    if (!t) {
        result_error(out, "Unknown MCP tool %.100s", name ? name : "(null)");
        return BROCK_OK;
    }
    struct mcp_server *s = &c->servers[t->server_index];
    enum brock_status rc = BROCK_OK;
    pthread_mutex_lock(&s->lock);
    if (s->state != MCP_READY) {
        result_error(out, "MCP server %s is not running: %s", s->name,
                     s->error[0] ? s->error : mcp_state_name(s->state));
        goto done;
    }
    /* the request line, built in place: the arguments are serialised once */
    json_t *js = json_string(t->tool);
    char *tool_json = json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(js);
    char *args_json = arguments ? json_dumps(arguments, JSON_COMPACT | JSON_PRESERVE_ORDER)
                                : xstrdup("{}");
    int64_t id = s->next_id++;
    size_t need = tool_json && args_json ? strlen(tool_json) + strlen(args_json) + 128 : 0;
    bool queued = false;
    if (need && need <= s->out.max - s->out.len) {
        buf_addf(&s->out,
                 "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64
                 ",\"method\":\"tools/call\",\"params\":{\"name\":%s,\"arguments\":%s}}\n",
                 id, tool_json, args_json);
        queued = !buf_status(&s->out);
    }
    free(tool_json);
    free(args_json);
    if (!queued) {
        result_error(out, "MCP tool %s: cannot send the request (%s)", t->name,
                     !need ? "the arguments cannot be serialised"
                     : need > MCP_OUT_MAX / 2 ? "the arguments are too large"
                                              : "the server has stopped reading its input");
        goto done;
    }
    json_t *resp = NULL;
    struct buf why = BUF_INIT(1024);
    int64_t t0 = time_mono_ms();
    enum xrc x = exchange(s, id, t0 + c->opts.call_timeout_ms, &resp, &why);
    switch (x) {
    case XCH_OK:
        buf_reset(&out->text);
        mcp_call_text(resp, &out->text, &out->is_error);
        break;
    case XCH_TIMEOUT:
        queue_cancel(s, id, "timed out");
        result_error(out, "MCP server %s did not answer %s within %" PRId64 " ms", s->name, t->tool,
                     c->opts.call_timeout_ms);
        break;
    case XCH_CANCEL:
        queue_cancel(s, id, "cancelled by the user");
        result_error(out, "Interrupted by the user while %s (MCP server %s) was running", t->tool,
                     s->name);
        out->interrupted = true;
        rc = BROCK_ERR_INTERRUPTED;
        break;
    case XCH_DEAD: {
        struct buf m = BUF_INIT(1024), during = BUF_INIT(256);
        buf_addf(&during, "during a call of %.100s", t->tool);
        death_reason(s, buf_cstr(&why), buf_cstr(&during), &m);
        give_up(s, MCP_DEAD, "%s", buf_cstr(&m));
        result_error(out, "%s", s->error);
        buf_free(&m);
        buf_free(&during);
        break;
    }
    }
    json_decref(resp);
    buf_free(&why);
done:
    pthread_mutex_unlock(&s->lock);
    return rc;
}
