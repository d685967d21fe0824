/* hooks.c - PreToolUse / PostToolUse / Stop command hooks (hooks.h). */
#include "hooks.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../util/alloc.h"
#include "../util/json.h"
#include "../util/timeutil.h"
#include "mcp_proc.h"

#define HOOKS_SLICE_MS 50  /* poll slice: cancel and deadline latency */
#define HOOKS_DRAIN_MS 100 /* output still collected after a hook exits */
#define HOOKS_USER_MAX ((size_t)64 * 1024)

enum mkind { M_ALL = 0, M_LIST, M_REGEX, M_NEVER };

struct hook_cmd {
    char *command;
    int64_t timeout_ms;
};

struct hook_group {
    enum mkind kind;
    char *matcher;
    pcre2_code *re;
    struct hook_cmd *cmds;
    size_t n;
};

struct hooks {
    struct hook_group *groups[HOOKS_EVENT_COUNT];
    size_t n_groups[HOOKS_EVENT_COUNT];
    char *project_dir, *cwd, *session_id, *transcript_path, *permission_mode, *shell;
    char **env_drop;
    size_t n_env_drop;
    volatile sig_atomic_t *cancel;
    int64_t grace_ms;
    char **warnings;
    size_t n_warnings;
};

static const char *const event_names[HOOKS_EVENT_COUNT] = {"PreToolUse", "PostToolUse", "Stop"};

const char *hooks_event_name(enum hooks_event ev)
{
    return (unsigned)ev < HOOKS_EVENT_COUNT ? event_names[ev] : "?";
}

void hooks_opts_default(struct hooks_opts *o)
{
    memset(o, 0, sizeof *o);
    o->grace_ms = 1000;
    o->shell = "/bin/sh";
}

void hooks_outcome_init(struct hooks_outcome *o)
{
    memset(o, 0, sizeof *o);
    buf_init(&o->reason, HOOKS_TEXT_MAX);
    buf_init(&o->context, HOOKS_TEXT_MAX);
    buf_init(&o->user, HOOKS_USER_MAX);
    buf_init(&o->verbose, HOOKS_TEXT_MAX);
    buf_init(&o->stop_reason, HOOKS_USER_MAX);
}

void hooks_outcome_cleanup(struct hooks_outcome *o)
{
    buf_free(&o->reason);
    buf_free(&o->context);
    buf_free(&o->user);
    buf_free(&o->verbose);
    buf_free(&o->stop_reason);
    json_decref(o->updated_input);
    hooks_outcome_init(o);
}

/* --- Text ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (no NUL, no surrogates, no
 * overlongs), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c && c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Append p[0..n) as valid UTF-8 (bad bytes and NULs become U+FFFD), cut to
 * what fits in b at a character boundary, marking a cut with "...". */
static void add_text(struct buf *b, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t room = b->max - b->len;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        const char *piece = k ? (const char *)s + i : "\xEF\xBF\xBD";
        size_t pl = k ? k : 3;
        if (pl + 3 > room) {
            if (room >= 3)
                buf_add(b, "...", 3);
            return;
        }
        buf_add(b, piece, pl);
        room -= pl;
        i += k ? k : 1;
    }
}

static void add_line(struct buf *b, const char *p, size_t n)
{
    if (b->len && b->len < b->max)
        buf_addc(b, '\n');
    add_text(b, p, n);
}

static void add_linef(struct buf *b, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void add_linef(struct buf *b, const char *fmt, ...)
{
    struct buf t = BUF_INIT(HOOKS_TEXT_MAX);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&t, fmt, ap);
    va_end(ap);
    add_line(b, buf_cstr(&t), t.len);
    buf_free(&t);
}

static void trim(const char **p, size_t *n)
{
    while (*n && strchr(" \t\r\n", (*p)[*n - 1]) && (*p)[*n - 1])
        (*n)--;
    while (*n && strchr(" \t\r\n", **p) && **p) {
        (*p)++;
        (*n)--;
    }
}

/* --- Interpretation ------------------------------------------------------ */

static const char *json_sstr(const json_t *o, const char *k, size_t *n)
{
    json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
    if (!json_is_string(v))
        return NULL;
    *n = json_string_length(v);
    return json_string_value(v);
}

static void decide(struct hooks_outcome *acc, enum hooks_decision d)
{
    if (d > acc->decision)
        acc->decision = d;
    if (d == HOOKS_DENY)
        acc->block = true;
}

static void interpret_json(enum hooks_event ev, const char *label, const json_t *root,
                           struct hooks_outcome *acc)
{
    size_t n;
    const char *s;
    if (json_is_false(json_object_get(root, "continue"))) {
        acc->stop = true;
        if ((s = json_sstr(root, "stopReason", &n)))
            add_line(&acc->stop_reason, s, n);
    }
    if ((s = json_sstr(root, "systemMessage", &n)))
        add_line(&acc->user, s, n);
    json_t *hso = json_object_get(root, "hookSpecificOutput");
    if (hso && !json_is_object(hso)) {
        add_linef(&acc->user, "%s: hookSpecificOutput is not an object; ignored", label);
        hso = NULL;
    }
    const char *hen = json_str(hso, "hookEventName");
    if (hen && strcmp(hen, event_names[ev]) != 0) {
        add_linef(&acc->user, "%s: hookSpecificOutput is for another event; ignored", label);
        hso = NULL;
    }
    const char *dec = NULL, *why = NULL;
    size_t why_n = 0;
    switch (ev) {
    case HOOKS_PRE_TOOL_USE: {
        dec = json_str(hso, "permissionDecision");
        why = json_sstr(hso, "permissionDecisionReason", &why_n);
        if (!dec) {
            dec = json_str(root, "decision");
            why = json_sstr(root, "reason", &why_n);
        }
        enum hooks_decision d = HOOKS_NONE;
        if (!dec)
            d = HOOKS_NONE;
        else if (!strcmp(dec, "allow") || !strcmp(dec, "approve"))
            d = HOOKS_ALLOW;
        else if (!strcmp(dec, "deny") || !strcmp(dec, "block"))
            d = HOOKS_DENY;
        else if (!strcmp(dec, "ask"))
            d = HOOKS_ASK;
        else
            add_linef(&acc->user, "%s: unknown permission decision (expected allow, deny or ask); "
                                  "ignored", label);
        decide(acc, d);
        if (d == HOOKS_DENY) {
            if (why && why_n)
                add_line(&acc->reason, why, why_n);
            else
                add_linef(&acc->reason, "Blocked by the %s", label);
        } else if ((d == HOOKS_ALLOW || d == HOOKS_ASK) && why && why_n) {
            add_linef(&acc->user, "%s: %.*s", label, (int)(why_n > 4000 ? 4000 : why_n), why);
        }
        json_t *ui = json_object_get(hso, "updatedInput");
        if (json_is_object(ui)) {
            json_decref(acc->updated_input);
            acc->updated_input = json_deep_copy(ui);
        }
        break;
    }
    case HOOKS_POST_TOOL_USE:
    case HOOKS_STOP:
        dec = json_str(root, "decision");
        why = json_sstr(root, "reason", &why_n);
        if (dec && !strcmp(dec, "block")) {
            acc->block = true;
            if (why && why_n)
                add_line(&acc->reason, why, why_n);
            else if (ev == HOOKS_STOP)
                add_linef(&acc->reason, "The %s asked to continue", label);
            else
                add_linef(&acc->reason, "The %s flagged this result", label);
        }
        if (ev == HOOKS_POST_TOOL_USE && (s = json_sstr(hso, "additionalContext", &n)))
            add_line(&acc->context, s, n);
        break;
    case HOOKS_EVENT_COUNT:
        break;
    }
}

void hooks_interpret(enum hooks_event ev, const char *label, int code, const char *out, size_t outn,
                     const char *err, size_t errn, struct hooks_outcome *acc)
{
    if ((unsigned)ev >= HOOKS_EVENT_COUNT)
        return;
    trim(&out, &outn);
    trim(&err, &errn);
    if (code == 2) {
        if (ev == HOOKS_PRE_TOOL_USE)
            decide(acc, HOOKS_DENY);
        acc->block = true;
        if (errn)
            add_line(&acc->reason, err, errn);
        else if (ev == HOOKS_PRE_TOOL_USE)
            add_linef(&acc->reason, "Blocked by the %s (no reason given)", label);
        else if (ev == HOOKS_STOP)
            add_linef(&acc->reason, "The %s asked to continue (no reason given)", label);
        else
            add_linef(&acc->reason, "The %s reported a problem (no details given)", label);
        return;
    }
    if (code != 0) {
        acc->failed++;
        if (errn)
            add_linef(&acc->user, "%s failed with exit status %d: %.*s", label, code,
                      (int)(errn > 2000 ? 2000 : errn), err);
        else
            add_linef(&acc->user, "%s failed with exit status %d", label, code);
        return;
    }
    bool suppress = false;
    if (outn && out[0] == '{') {
        json_error_t je;
        json_t *root = json_loadb(out, outn, 0, &je);
        if (json_is_object(root)) {
            suppress = json_is_true(json_object_get(root, "suppressOutput"));
            interpret_json(ev, label, root, acc);
        }
        json_decref(root);
    }
    if (outn && !suppress) {
        if (acc->verbose.len && acc->verbose.len < acc->verbose.max)
            buf_addc(&acc->verbose, '\n');
        buf_addf(&acc->verbose, "%s: ", label);
        add_text(&acc->verbose, out, outn);
    }
}

/* --- Configuration -------------------------------------------------------- */

static void warn(struct hooks *h, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void warn(struct hooks *h, const char *fmt, ...)
{
    struct buf b = BUF_INIT(1024);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&b, fmt, ap);
    va_end(ap);
    h->warnings = xrealloc(h->warnings, (h->n_warnings + 1) * sizeof *h->warnings);
    h->warnings[h->n_warnings++] = buf_take(&b);
}

static bool is_list_matcher(const char *m)
{
    for (; *m; m++)
        if (!((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') || (*m >= '0' && *m <= '9') ||
              *m == '_' || *m == '|'))
            return false;
    return true;
}

static enum brock_status parse_group(struct hooks *h, enum hooks_event ev, size_t gi, const json_t *g,
                                     size_t *total, struct brock_err *e)
{
    const char *evn = event_names[ev];
    if (!json_is_object(g))
        return err_set(e, BROCK_ERR_CONFIG, "hooks.%s[%zu]: expected an object {matcher, hooks}", evn, gi);
    json_t *mv = json_object_get(g, "matcher");
    if (mv && !json_is_null(mv) && !json_is_string(mv))
        return err_set(e, BROCK_ERR_CONFIG, "hooks.%s[%zu].matcher: expected a string", evn, gi);
    json_t *hs = json_object_get(g, "hooks");
    if (!json_is_array(hs))
        return err_set(e, BROCK_ERR_CONFIG, "hooks.%s[%zu].hooks: expected an array of commands", evn, gi);

    struct hook_group grp = {0};
    const char *m = json_is_string(mv) ? json_string_value(mv) : "";
    grp.matcher = xstrdup(m);
    if (ev == HOOKS_STOP || !*m || !strcmp(m, "*")) {
        grp.kind = M_ALL;
    } else if (is_list_matcher(m)) {
        grp.kind = M_LIST;
    } else {
        int ec;
        PCRE2_SIZE eo;
        grp.re = pcre2_compile((PCRE2_SPTR)m, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
        if (grp.re) {
            grp.kind = M_REGEX;
        } else {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            warn(h, "hooks.%s[%zu].matcher: invalid regular expression at offset %zu: %s; this "
                    "entry matches no tool",
                 evn, gi, (size_t)eo, (const char *)msg);
            grp.kind = M_NEVER;
        }
    }
    grp.cmds = xcalloc(json_array_size(hs) + 1, sizeof *grp.cmds);
    size_t j;
    json_t *x;
    enum brock_status rc = BROCK_OK;
    json_array_foreach(hs, j, x) {
        if (!json_is_object(x)) {
            rc = err_set(e, BROCK_ERR_CONFIG, "hooks.%s[%zu].hooks[%zu]: expected an object {type, "
                                              "command, timeout}", evn, gi, j);
            break;
        }
        json_t *type = json_object_get(x, "type");
        json_t *cmd = json_object_get(x, "command");
        json_t *to = json_object_get(x, "timeout");
        if ((type && !json_is_string(type)) || (cmd && !json_is_string(cmd))) {
            rc = err_set(e, BROCK_ERR_CONFIG, "hooks.%s[%zu].hooks[%zu].%s: expected a string", evn, gi,
                         j, type && !json_is_string(type) ? "type" : "command");
            break;
        }
        if (to && !json_is_null(to) && (!json_is_number(to) || json_number_value(to) < 0)) {
            rc = err_set(e, BROCK_ERR_CONFIG, "hooks.%s[%zu].hooks[%zu].timeout: expected a number of "
                                              "seconds >= 0", evn, gi, j);
            break;
        }
        if (type && strcmp(json_string_value(type), "command") != 0) {
            warn(h, "hooks.%s[%zu].hooks[%zu]: type \"%.20s\" is not supported (brock runs \"command\" "
                    "hooks); skipped", evn, gi, j, json_string_value(type));
            continue;
        }
        if (!cmd || !json_string_length(cmd) ||
            strlen(json_string_value(cmd)) != json_string_length(cmd)) {
            warn(h, "hooks.%s[%zu].hooks[%zu]: no usable \"command\"; skipped", evn, gi, j);
            continue;
        }
        if (++*total > HOOKS_MAX_COMMANDS) {
            rc = err_set(e, BROCK_ERR_CONFIG, "hooks.%s: more than %d hooks", evn, HOOKS_MAX_COMMANDS);
            break;
        }
        double secs = to && json_is_number(to) ? json_number_value(to) : 0;
        int64_t ms = secs > 0 ? (secs * 1000 > (double)HOOKS_TIMEOUT_MAX_MS ? HOOKS_TIMEOUT_MAX_MS
                                                                            : (int64_t)(secs * 1000))
                              : HOOKS_TIMEOUT_DEFAULT_MS;
        if (ms < 1)
            ms = 1;
        grp.cmds[grp.n++] = (struct hook_cmd){xstrdup(json_string_value(cmd)), ms};
    }
    h->groups[ev] = xrealloc(h->groups[ev], (h->n_groups[ev] + 1) * sizeof *h->groups[ev]);
    h->groups[ev][h->n_groups[ev]++] = grp;
    return rc;
}

static char *dup_or(const char *s, const char *dflt)
{
    return xstrdup(s ? s : dflt);
}

enum brock_status hooks_new(const json_t *config, const struct hooks_opts *o, struct hooks **out,
                            struct brock_err *e)
{
    *out = NULL;
    if (!o || !o->project_dir)
        return err_set(e, BROCK_ERR_USAGE, "hooks_new: no project directory");
    if (config && !json_is_null(config) && !json_is_object(config))
        return err_set(e, BROCK_ERR_CONFIG, "hooks: expected an object of hook events");
    struct hooks *h = xcalloc(1, sizeof *h);
    h->project_dir = xstrdup(o->project_dir);
    h->cwd = dup_or(o->cwd, o->project_dir);
    h->session_id = dup_or(o->session_id, "");
    h->transcript_path = dup_or(o->transcript_path, "");
    h->permission_mode = o->permission_mode ? xstrdup(o->permission_mode) : NULL;
    h->shell = dup_or(o->shell, "/bin/sh");
    h->cancel = o->cancel;
    h->grace_ms = o->grace_ms > 0 ? o->grace_ms : 0;
    h->env_drop = xcalloc(o->n_env_drop + 1, sizeof *h->env_drop);
    for (size_t i = 0; i < o->n_env_drop; i++)
        h->env_drop[i] = xstrdup(o->env_drop[i]);
    h->n_env_drop = o->n_env_drop;

    const char *ev;
    json_t *arr;
    enum brock_status rc = BROCK_OK;
    if (json_is_object(config)) {
        json_object_foreach((json_t *)config, ev, arr) {
            int k = -1;
            for (int i = 0; i < HOOKS_EVENT_COUNT; i++)
                if (!strcmp(ev, event_names[i]))
                    k = i;
            if (k < 0) {
                warn(h, "hooks.%.60s: brock does not run hooks for this event; ignored", ev);
                continue;
            }
            if (!json_is_array(arr)) {
                rc = err_set(e, BROCK_ERR_CONFIG, "hooks.%s: expected an array of {matcher, hooks}", ev);
                break;
            }
            size_t i, total = 0;
            json_t *g;
            json_array_foreach(arr, i, g) {
                if ((rc = parse_group(h, (enum hooks_event)k, i, g, &total, e)) != BROCK_OK)
                    break;
            }
            if (rc != BROCK_OK)
                break;
        }
    }
    if (rc != BROCK_OK) {
        hooks_free(h);
        return rc;
    }
    *out = h;
    return BROCK_OK;
}

void hooks_free(struct hooks *h)
{
    if (!h)
        return;
    for (int ev = 0; ev < HOOKS_EVENT_COUNT; ev++) {
        for (size_t i = 0; i < h->n_groups[ev]; i++) {
            struct hook_group *g = &h->groups[ev][i];
            for (size_t j = 0; j < g->n; j++)
                free(g->cmds[j].command);
            free(g->cmds);
            free(g->matcher);
            pcre2_code_free(g->re);
        }
        free(h->groups[ev]);
    }
    for (size_t i = 0; i < h->n_env_drop; i++)
        free(h->env_drop[i]);
    free(h->env_drop);
    for (size_t i = 0; i < h->n_warnings; i++)
        free(h->warnings[i]);
    free(h->warnings);
    free(h->project_dir);
    free(h->cwd);
    free(h->session_id);
    free(h->transcript_path);
    free(h->permission_mode);
    free(h->shell);
    free(h);
}

size_t hooks_warnings(const struct hooks *h, const char *const **out)
{
    *out = h ? (const char *const *)h->warnings : NULL;
    return h ? h->n_warnings : 0;
}

static bool group_matches(const struct hook_group *g, const char *tool)
{
    switch (g->kind) {
    case M_ALL:
        return true;
    case M_NEVER:
        return false;
    case M_LIST: {
        size_t tl = strlen(tool);
        for (const char *p = g->matcher;;) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t)(bar - p) : strlen(p);
            if (n && n == tl && !memcmp(p, tool, n))
                return true;
            if (!bar)
                return false;
            p = bar + 1;
        }
    }
    case M_REGEX: {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(g->re, NULL);
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(mc, 100000);
        int r = pcre2_match(g->re, (PCRE2_SPTR)tool, strlen(tool), 0, 0, md, mc);
        pcre2_match_context_free(mc);
        pcre2_match_data_free(md);
        return r >= 0;
    }
    }
    return false;
}

/* The distinct commands to run, in configuration order. */
static size_t collect(const struct hooks *h, enum hooks_event ev, const char *tool,
                      const struct hook_cmd **out)
{
    size_t n = 0;
    if (!h || (unsigned)ev >= HOOKS_EVENT_COUNT)
        return 0;
    for (size_t i = 0; i < h->n_groups[ev]; i++) {
        const struct hook_group *g = &h->groups[ev][i];
        if (ev != HOOKS_STOP && !group_matches(g, tool ? tool : ""))
            continue;
        for (size_t j = 0; j < g->n; j++) {
            bool dup = false;
            for (size_t k = 0; k < n && !dup && out; k++)
                dup = !strcmp(out[k]->command, g->cmds[j].command);
            if (dup)
                continue;
            if (out)
                out[n] = &g->cmds[j];
            n++;
        }
    }
    return n;
}

size_t hooks_matching(const struct hooks *h, enum hooks_event ev, const char *tool_name)
{
    if (!h || (unsigned)ev >= HOOKS_EVENT_COUNT)
        return 0;
    const struct hook_cmd **tmp = xcalloc(HOOKS_MAX_COMMANDS + 1, sizeof *tmp);
    size_t n = collect(h, ev, tool_name, tmp);
    free(tmp);
    return n;
}

/* --- Running ---------------------------------------------------------------- */

struct run {
    const struct hook_cmd *cmd;
    char label[96];
    struct mcp_proc p;
    char start_err[sizeof(((struct brock_err *)0)->msg)];
    size_t in_off;
    struct buf out, err;
    bool exited, timed_out, cancelled, killed, done;
    int status;
    int64_t deadline, exited_at, term_at;
};

static char *make_input(const struct hooks *h, const struct hooks_input *in)
{
    json_t *o = json_object();
    json_object_set_new(o, "session_id", json_string(h->session_id));
    json_object_set_new(o, "transcript_path", json_string(h->transcript_path));
    json_object_set_new(o, "cwd", json_string(h->cwd));
    if (h->permission_mode)
        json_object_set_new(o, "permission_mode", json_string(h->permission_mode));
    json_object_set_new(o, "hook_event_name", json_string(event_names[in->event]));
    if (in->event != HOOKS_STOP) {
        json_object_set_new(o, "tool_name", json_string(in->tool_name ? in->tool_name : ""));
        if (in->tool_input)
            json_object_set(o, "tool_input", (json_t *)in->tool_input);
        else
            json_object_set_new(o, "tool_input", json_object());
        if (in->tool_use_id)
            json_object_set_new(o, "tool_use_id", json_string(in->tool_use_id));
        if (in->event == HOOKS_POST_TOOL_USE)
            json_object_set(o, "tool_response", in->tool_response ? (json_t *)in->tool_response : json_null());
    } else {
        json_object_set_new(o, "stop_hook_active", json_boolean(in->stop_hook_active));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static void read_into(int *fd, struct buf *b)
{
    char chunk[16384];
    ssize_t r = read(*fd, chunk, sizeof chunk);
    if (r > 0) {
        size_t room = b->max - b->len;
        buf_add(b, chunk, (size_t)r < room ? (size_t)r : room);
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(*fd);
        *fd = -1;
    }
}

enum brock_status hooks_run(const struct hooks *h, const struct hooks_input *in,
                            struct hooks_outcome *out, struct brock_err *e)
{
    if (!h || !in || (unsigned)in->event >= HOOKS_EVENT_COUNT)
        return BROCK_OK;
    const struct hook_cmd *cmds[HOOKS_MAX_COMMANDS + 1];
    size_t n = collect(h, in->event, in->tool_name, cmds);
    if (!n)
        return BROCK_OK;

    char *input = make_input(h, in);
    size_t input_len = input ? strlen(input) : 0;
    struct buf pd1 = BUF_INIT(BUF_MAX_SMALL), pd2 = BUF_INIT(BUF_MAX_SMALL);
    buf_addf(&pd1, "CLAUDE_PROJECT_DIR=%s", h->project_dir);
    buf_addf(&pd2, "BROCK_PROJECT_DIR=%s", h->project_dir);
    const char *set[] = {buf_cstr(&pd1), buf_cstr(&pd2)};
    char **env = mcp_proc_env((const char *const *)h->env_drop, h->n_env_drop, set, 2);
    buf_free(&pd1);
    buf_free(&pd2);

    struct run *runs = xcalloc(n, sizeof *runs);
    int64_t t0 = time_mono_ms();
    for (size_t i = 0; i < n; i++) {
        struct run *r = &runs[i];
        r->cmd = cmds[i];
        char prog[64];
        mcp_proc_program_name(r->cmd->command, prog, sizeof prog);
        snprintf(r->label, sizeof r->label, "%s hook %s", event_names[in->event], prog);
        buf_init(&r->out, HOOKS_OUTPUT_MAX);
        buf_init(&r->err, HOOKS_OUTPUT_MAX);
        char *argv[] = {(char *)"sh", (char *)"-c", r->cmd->command, NULL};
        struct mcp_proc_spec spec = {.path = h->shell, .argv = argv, .envp = env,
                                     .cwd = h->project_dir, .err = MCP_PROC_ERR_PIPE};
        struct brock_err se = {0};
        if (mcp_proc_spawn(&spec, &r->p, &se) != BROCK_OK) {
            snprintf(r->start_err, sizeof r->start_err, "%s", se.msg);
            r->done = true;
            continue;
        }
        r->deadline = t0 + r->cmd->timeout_ms;
        if (!input_len) {
            close(r->p.in_fd);
            r->p.in_fd = -1;
        }
    }

    bool interrupted = false;
    struct pollfd *pf = xcalloc(n * 3 + 1, sizeof *pf);
    for (;;) {
        int64_t now = time_mono_ms();
        bool all_done = true, any_exited = false;
        if (!interrupted && h->cancel && *h->cancel) {
            interrupted = true;
            for (size_t i = 0; i < n; i++)
                if (!runs[i].done && !runs[i].exited) {
                    kill(-runs[i].p.pid, SIGTERM);
                    runs[i].term_at = now;
                    runs[i].cancelled = true;
                }
        }
        for (size_t i = 0; i < n; i++) {
            struct run *r = &runs[i];
            if (r->done)
                continue;
            if (!r->exited && mcp_proc_reap(r->p.pid, &r->status, 0)) {
                r->exited = true;
                r->exited_at = now;
                if (r->p.in_fd >= 0) {
                    close(r->p.in_fd);
                    r->p.in_fd = -1;
                }
            }
            if (!r->exited && !r->timed_out && !interrupted && now >= r->deadline) {
                r->timed_out = true;
                r->term_at = now;
                kill(-r->p.pid, SIGTERM);
            }
            if ((r->timed_out || r->cancelled) && !r->killed && !r->exited &&
                now - r->term_at >= h->grace_ms) {
                kill(-r->p.pid, SIGKILL);
                r->killed = true;
            }
            if (r->exited) {
                any_exited = true;
                bool pipes = r->p.out_fd >= 0 || r->p.err_fd >= 0;
                if (!pipes || now - r->exited_at >= HOOKS_DRAIN_MS) {
                    /* a timed-out or interrupted hook takes its whole group along */
                    if ((r->timed_out || r->cancelled) && mcp_proc_group_alive(r->p.pid))
                        kill(-r->p.pid, SIGKILL);
                    mcp_proc_close_fds(&r->p);
                    r->done = true;
                    continue;
                }
            }
            all_done = false;
        }
        if (all_done)
            break;
        nfds_t nf = 0;
        for (size_t i = 0; i < n; i++) {
            struct run *r = &runs[i];
            if (r->done)
                continue;
            if (r->p.out_fd >= 0)
                pf[nf++] = (struct pollfd){.fd = r->p.out_fd, .events = POLLIN};
            if (r->p.err_fd >= 0)
                pf[nf++] = (struct pollfd){.fd = r->p.err_fd, .events = POLLIN};
            if (r->p.in_fd >= 0 && r->in_off < input_len)
                pf[nf++] = (struct pollfd){.fd = r->p.in_fd, .events = POLLOUT};
        }
        int slice = any_exited ? 10 : HOOKS_SLICE_MS;
        int pr = poll(pf, nf, slice);
        if (pr <= 0)
            continue;
        for (nfds_t k = 0; k < nf; k++) {
            if (!pf[k].revents)
                continue;
            for (size_t i = 0; i < n; i++) {
                struct run *r = &runs[i];
                if (r->done)
                    continue;
                if (pf[k].fd == r->p.out_fd) {
                    read_into(&r->p.out_fd, &r->out);
                } else if (pf[k].fd == r->p.err_fd) {
                    read_into(&r->p.err_fd, &r->err);
                } else if (pf[k].fd == r->p.in_fd) {
                    ssize_t w = mcp_proc_send(r->p.in_fd, input + r->in_off, input_len - r->in_off);
                    if (w > 0)
                        r->in_off += (size_t)w;
                    /* all sent, or the hook closed its stdin: either way, EOF for it */
                    if (w < 0 || r->in_off >= input_len) {
                        close(r->p.in_fd);
                        r->p.in_fd = -1;
                    }
                } else {
                    continue;
                }
                break;
            }
        }
    }
    free(pf);

    /* fold in configuration order */
    for (size_t i = 0; i < n; i++) {
        struct run *r = &runs[i];
        if (r->start_err[0]) {
            out->failed++;
            add_linef(&out->user, "%s could not start: %s", r->label, r->start_err);
            continue;
        }
        out->ran++;
        if (r->cancelled)
            continue;
        if (r->timed_out) {
            out->failed++;
            out->timed_out++;
            add_linef(&out->user, "%s timed out after %.1f s and was killed", r->label,
                      (double)r->cmd->timeout_ms / 1000.0);
            continue;
        }
        if (WIFSIGNALED(r->status)) {
            char how[80];
            mcp_proc_status_text(r->status, how, sizeof how);
            out->failed++;
            add_linef(&out->user, "%s %s", r->label, how);
            continue;
        }
        int code = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 1;
        hooks_interpret(in->event, r->label, code, buf_cstr(&r->out), r->out.len, buf_cstr(&r->err),
                        r->err.len, out);
    }
    for (size_t i = 0; i < n; i++) {
        mcp_proc_close_fds(&runs[i].p);
        buf_free(&runs[i].out);
        buf_free(&runs[i].err);
    }
    free(runs);
    mcp_proc_env_free(env);
    free(input);
    if (interrupted) {
        out->interrupted = true;
        add_linef(&out->user, "%s hooks interrupted by the user", event_names[in->event]);
        return BROCK_ERR_INTERRUPTED;
    }
    (void)e;
    return BROCK_OK;
}
