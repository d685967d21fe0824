/* tools.c - the tool table, schema validation, the session context.
 *
 * The validator knows the subset of JSON Schema the tools' schemas use: type
 * (string, integer, number, boolean, array, object), properties, required,
 * additionalProperties: false, enum (strings), minimum, maximum, minLength,
 * maxLength (code points), items, minItems, maxItems. Other keywords
 * (description, default) are ignored. It walks the schema, not the input, so
 * a deeply nested input costs nothing beyond what the schema describes. */
#include "tools.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/json.h"
#include "tools/tool_int.h"

#define ROW(nm, x, fl)                                                                             \
    {                                                                                              \
        .name = nm, .description = tool_##x##_desc, .input_schema = tool_##x##_schema,             \
        .flags = (fl), .subject = tool_##x##_subject, .summary = tool_##x##_summary,               \
        .run = tool_##x##_run,                                                                     \
    }

static const struct tool_def tools[] = {
    ROW("Bash", bash, 0),
    ROW("Glob", glob, TOOL_READ_ONLY | TOOL_CONCURRENT),
    ROW("Grep", grep, TOOL_READ_ONLY | TOOL_CONCURRENT),
    ROW("LS", ls, TOOL_READ_ONLY | TOOL_CONCURRENT),
    ROW("Read", read, TOOL_READ_ONLY | TOOL_CONCURRENT),
    ROW("Edit", edit, 0),
    ROW("MultiEdit", multiedit, 0),
    ROW("Write", write, 0),
    ROW("TodoWrite", todo, 0),
};
#define NTOOLS BROCK_ARRAY_LEN(tools)

/* Parsed schemas, built once (the one write-once table of this module). */
static json_t *schemas[NTOOLS];
static pthread_once_t schemas_once = PTHREAD_ONCE_INIT;

static void schemas_init(void)
{
    for (size_t i = 0; i < NTOOLS; i++) {
        json_error_t je;
        schemas[i] = json_loads(tools[i].input_schema, JSON_REJECT_DUPLICATES, &je);
        if (!schemas[i]) {
            /* a bug in a table row; the tests parse every schema */
            fprintf(stderr, "brock: tool %s: bad schema: %s\n", tools[i].name, je.text);
            abort();
        }
    }
}

const struct tool_def *tool_list(size_t *n)
{
    *n = NTOOLS;
    return tools;
}

const struct tool_def *tool_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < NTOOLS; i++)
        if (strcmp(tools[i].name, name) == 0)
            return &tools[i];
    return NULL;
}

const json_t *tool_schema(const struct tool_def *t)
{
    pthread_once(&schemas_once, schemas_init);
    size_t i = (size_t)(t - tools);
    return i < NTOOLS ? schemas[i] : NULL;
}

json_t *tool_specs_json(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < NTOOLS; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(tools[i].name));
        json_object_set_new(o, "description", json_string(tools[i].description));
        json_object_set(o, "input_schema", (json_t *)tool_schema(&tools[i]));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* --- Validation -------------------------------------------------------- */

#define MAX_PROBLEMS 8

struct vstate {
    const char *tool;
    struct buf *msg;
    unsigned problems;
    char where[256]; /* "`edits[1].old_string`" without the backquotes */
};

static void problem(struct vstate *vs, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void problem(struct vstate *vs, const char *fmt, ...)
{
    vs->problems++;
    if (vs->problems > MAX_PROBLEMS)
        return;
    if (vs->msg->len)
        buf_addc(vs->msg, '\n');
    if (vs->problems == MAX_PROBLEMS) {
        buf_addf(vs->msg, "%s: (more problems not shown)", vs->tool);
        return;
    }
    buf_addf(vs->msg, "%s: ", vs->tool);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(vs->msg, fmt, ap);
    va_end(ap);
}

static const char *type_name(const json_t *v, char *tmp, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL:
        snprintf(tmp, n, "a number (%g)", json_real_value(v));
        return tmp;
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && d == floor(d) && fabs(d) < 9.0e15;
}

static bool type_ok(const char *type, const json_t *v)
{
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return is_integral(v);
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "null"))
        return json_is_null(v);
    return false;
}

static const char *article(const char *type)
{
    return type[0] == 'a' || type[0] == 'i' || type[0] == 'o' ? "an" : "a";
}

static size_t codepoints(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static double num_value(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* Copy n bytes of text the model sent with control characters as '?', so a
 * message quoting it stays on one line and cannot carry terminal escapes;
 * returns the length of the valid UTF-8 prefix (a character that a cut split
 * in two is dropped). out may be s. */
static size_t printable_copy(char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    return tool_utf8_valid(out, n);
}

/* The same, in place, for a key already cut to fit. */
static void printable_key(char *s)
{
    s[printable_copy(s, s, strlen(s))] = '\0';
}

/* Text the model sent (n bytes), as a message quotes it: at most max bytes
 * and "..." when cut, never half a character, control bytes (NUL too) as
 * '?'. out holds max + 4 bytes. */
static void shown_cut(char *out, const char *s, size_t n, size_t max)
{
    size_t cut = n > max ? max : n;
    while (cut < n && cut && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    size_t ok = printable_copy(out, s, cut);
    if (cut < n || ok < cut)
        memcpy(out + ok, "...", 4);
    else
        out[ok] = '\0';
}

/* Append ".key" or "[i]" to the location; returns the old length to restore. */
static size_t where_push(struct vstate *vs, const char *key, long idx)
{
    size_t old = strlen(vs->where);
    size_t room = sizeof vs->where - old;
    if (key) {
        snprintf(vs->where + old, room, "%s%s", old ? "." : "", key);
        printable_key(vs->where + old);
    } else {
        snprintf(vs->where + old, room, "[%ld]", idx);
    }
    return old;
}

static void validate_value(struct vstate *vs, const json_t *schema, const json_t *v);

static void validate_object(struct vstate *vs, const json_t *schema, const json_t *v)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *req = json_object_get(schema, "required");
    size_t i;
    const json_t *r;
    json_array_foreach(req, i, r) {
        const char *k = json_string_value(r);
        const json_t *got = k ? json_object_get(v, k) : NULL;
        if (k && (!got || json_is_null(got))) {
            size_t old = where_push(vs, k, 0);
            problem(vs, "`%s` is required%s", vs->where, got ? " (got null)" : "");
            vs->where[old] = '\0';
        }
    }
    const char *key;
    const json_t *val;
    bool closed = json_is_false(json_object_get(schema, "additionalProperties"));
    json_object_foreach((json_t *)v, key, val) {
        const json_t *ps = props ? json_object_get(props, key) : NULL;
        size_t old = where_push(vs, key, 0);
        if (!ps) {
            if (closed) {
                struct buf names = BUF_INIT(1024);
                const char *pk;
                const json_t *pv;
                json_object_foreach((json_t *)props, pk, pv) {
                    (void)pv;
                    buf_addf(&names, "%s%s", names.len ? ", " : "", pk);
                }
                char shown[64];
                shown_cut(shown, key, strlen(key), 60);
                /* the location may hold a long key; show the cut form */
                vs->where[old] = '\0';
                problem(vs, "unknown parameter `%s%s%s` (expected: %s)", vs->where,
                        old ? "." : "", shown, buf_cstr(&names));
                buf_free(&names);
            }
        } else if (!json_is_null(val)) {
            validate_value(vs, ps, val);
        } else {
            /* null for an optional key counts as absent; required ones were
             * reported above */
        }
        vs->where[old] = '\0';
    }
}

static void validate_value(struct vstate *vs, const json_t *schema, const json_t *v)
{
    char tmp[64];
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (type && !type_ok(type, v)) {
        problem(vs, "`%s` must be %s %s, not %s", vs->where, article(type), type,
                type_name(v, tmp, sizeof tmp));
        return;
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        const json_t *e;
        json_array_foreach(en, i, e)
            found = found || json_equal((json_t *)e, (json_t *)v);
        if (!found) {
            struct buf list = BUF_INIT(1024);
            json_array_foreach(en, i, e)
                buf_addf(&list, "%s\"%s\"", i ? ", " : "", json_string_value(e));
            if (json_is_string(v)) {
                char got[44];
                shown_cut(got, json_string_value(v), json_string_length(v), 40);
                problem(vs, "`%s` must be one of %s; got \"%s\"", vs->where, buf_cstr(&list), got);
            } else {
                problem(vs, "`%s` must be one of %s", vs->where, buf_cstr(&list));
            }
            buf_free(&list);
            return;
        }
    }
    if (json_is_number(v)) {
        const json_t *mn = json_object_get(schema, "minimum");
        const json_t *mx = json_object_get(schema, "maximum");
        double d = num_value(v);
        if (json_is_number(mn) && !(d >= num_value(mn)))
            problem(vs, "`%s` must be at least %g, got %g", vs->where, num_value(mn), d);
        else if (json_is_number(mx) && !(d <= num_value(mx)))
            problem(vs, "`%s` must be at most %g, got %g", vs->where, num_value(mx), d);
    }
    if (json_is_string(v)) {
        int64_t mn = -1, mx = -1;
        json_int(schema, "minLength", &mn);
        json_int(schema, "maxLength", &mx);
        if (mn >= 0 || mx >= 0) {
            size_t cps = codepoints(json_string_value(v), json_string_length(v));
            if (mn >= 0 && cps < (uint64_t)mn)
                problem(vs, "`%s` must not be empty", vs->where);
            else if (mx >= 0 && cps > (uint64_t)mx)
                problem(vs, "`%s` is too long (%zu characters; the limit is %lld)", vs->where, cps,
                        (long long)mx);
        }
    }
    if (json_is_array(v)) {
        int64_t mn = -1, mx = -1;
        json_int(schema, "minItems", &mn);
        json_int(schema, "maxItems", &mx);
        size_t n = json_array_size(v);
        if (mn >= 0 && n < (uint64_t)mn) {
            problem(vs, "`%s` needs at least %lld item%s", vs->where, (long long)mn,
                    mn == 1 ? "" : "s");
            return;
        }
        if (mx >= 0 && n > (uint64_t)mx) {
            problem(vs, "`%s` has %zu items; at most %lld are allowed", vs->where, n,
                    (long long)mx);
            return;
        }
        const json_t *items = json_object_get(schema, "items");
        if (json_is_object(items)) {
            size_t i;
            const json_t *e;
            json_array_foreach(v, i, e) {
                if (vs->problems >= MAX_PROBLEMS)
                    break;
                size_t old = where_push(vs, NULL, (long)i);
                validate_value(vs, items, e);
                vs->where[old] = '\0';
            }
        }
    }
    if (json_is_object(v))
        validate_object(vs, schema, v);
}

enum brock_status tool_validate(const struct tool_def *t, const json_t *input, struct buf *msg)
{
    struct vstate vs = {.tool = t->name, .msg = msg};
    if (!json_is_object(input)) {
        char tmp[64];
        buf_addf(msg, "%s: the input must be a JSON object, not %s", t->name,
                 input ? type_name(input, tmp, sizeof tmp) : "nothing");
        return BROCK_ERR_USAGE;
    }
    validate_object(&vs, tool_schema(t), input);
    return vs.problems ? BROCK_ERR_USAGE : BROCK_OK;
}

char *tool_subject(const struct tool_def *t, const struct tool_ctx *ctx, const json_t *input)
{
    return t->subject ? t->subject(ctx, input) : NULL;
}

void tool_summary(const struct tool_def *t, const struct tool_ctx *ctx, const json_t *input,
                  struct buf *out)
{
    if (t->summary)
        t->summary(ctx, input, out);
    else
        buf_addstr(out, t->name);
}

static void make_utf8(struct buf *b)
{
    if (tool_utf8_valid(buf_cstr(b), b->len) == b->len)
        return;
    struct buf clean = BUF_INIT(b->max);
    tool_utf8_add(&clean, b->ptr, b->len);
    /* past the cap the rest was dropped piece by piece: what is kept is a
     * valid prefix */
    clean.overflow = false;
    buf_free(b);
    *b = clean;
}

enum brock_status tool_call(struct tool_ctx *ctx, const struct tool_def *t, const json_t *input,
                            struct tool_result *out)
{
    struct buf why = BUF_INIT(8192);
    if (tool_validate(t, input, &why) != BROCK_OK) {
        tool_fail(out, "%s", buf_cstr(&why));
        tool_set_summary(out, "%s (invalid input)", t->name);
        buf_free(&why);
        return BROCK_OK;
    }
    buf_free(&why);
    enum brock_status st = t->run(ctx, input, out);
    if (!out->summary.len) {
        struct buf s = BUF_INIT(4096);
        tool_summary(t, ctx, input, &s);
        tool_set_summary(out, "%s", buf_cstr(&s));
        buf_free(&s);
    }
    if (buf_status(&out->text) != BROCK_OK) {
        /* a tool's own cap failed to hold; never send a silently cut text */
        buf_reset(&out->text);
        tool_fail(out, "%s: the result was larger than %zu bytes", t->name, TOOL_TEXT_MAX);
    }
    /* the model and the UI get valid UTF-8, whatever a file or command held */
    make_utf8(&out->text);
    make_utf8(&out->diff);
    make_utf8(&out->summary);
    if (out->interrupted)
        return BROCK_ERR_INTERRUPTED;
    return st == BROCK_ERR_INTERRUPTED ? st : BROCK_OK;
}

enum brock_status tool_call_named(struct tool_ctx *ctx, const char *name, const json_t *input,
                                  struct tool_result *out)
{
    const struct tool_def *t = tool_find(name);
    if (t)
        return tool_call(ctx, t, input, out);
    struct buf names = BUF_INIT(1024);
    for (size_t i = 0; i < NTOOLS; i++)
        buf_addf(&names, "%s%s", i ? ", " : "", tools[i].name);
    char shown[68];
    shown_cut(shown, name ? name : "", name ? strlen(name) : 0, 64);
    tool_fail(out, "No such tool: `%s`. Available tools: %s", shown, buf_cstr(&names));
    tool_set_summary(out, "unknown tool");
    buf_free(&names);
    return BROCK_OK;
}

/* --- Results ----------------------------------------------------------- */

void tool_result_init(struct tool_result *r)
{
    buf_init(&r->text, TOOL_TEXT_MAX);
    buf_init(&r->diff, TOOL_DIFF_MAX);
    buf_init(&r->summary, TOOL_SUMMARY_MAX * 4 + 16);
    r->is_error = false;
    r->interrupted = false;
}

void tool_result_cleanup(struct tool_result *r)
{
    if (!r)
        return;
    buf_free(&r->text);
    buf_free(&r->diff);
    buf_free(&r->summary);
    tool_result_init(r);
}

/* --- Context ----------------------------------------------------------- */

void tool_limits_default(struct tool_limits *l)
{
    *l = (struct tool_limits){
        .read_max_lines = 2000,
        .read_max_bytes = 256 * 1024,
        .line_max_chars = 2000,
        .bash_max_output = 30000,
        .bash_timeout_ms = 120000,
        .bash_timeout_max = 600000,
        .bash_grace_ms = 2000,
        .glob_max_results = 100,
        .grep_max_output = 30000,
        .grep_max_columns = 500,
        .grep_max_file = (size_t)16 * 1024 * 1024,
        .ls_max_entries = 1000,
        .walk_max_entries = 200000,
    };
}

static const char *const default_env_drop[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
};

/* The umask without changing it: /proc/self/status has it (Linux >= 4.7);
 * otherwise the set-and-restore dance (racy only with threads that create
 * files at this very moment, and only on old kernels). */
static mode_t read_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned m;
            if (sscanf(line, "Umask: %o", &m) == 1) {
                fclose(f);
                return (mode_t)(m & 0777);
            }
        }
        fclose(f);
    }
    mode_t m = umask(022);
    umask(m);
    return m;
}

enum brock_status tool_ctx_new(const char *cwd, const struct tool_limits *lim, struct tool_ctx **out,
                               struct brock_err *e)
{
    *out = NULL;
    char *real = realpath(cwd, NULL);
    if (!real)
        return err_set(e, errno == ENOENT ? BROCK_ERR_NOT_FOUND : BROCK_ERR_IO,
                       "working directory %s: %s", cwd, strerror(errno));
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(real);
        return err_set(e, BROCK_ERR_USAGE, "working directory %s: not a directory", cwd);
    }
    struct tool_ctx *c = xcalloc(1, sizeof *c);
    c->cwd = real;
    c->cwd_len = strlen(real);
    if (lim)
        c->lim = *lim;
    else
        tool_limits_default(&c->lim);
    pthread_mutex_init(&c->mu, NULL);
    c->umask = read_umask();
    c->shell_cwd = xstrdup(real);
    c->shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    tool_ctx_set_env_drop(c, default_env_drop, BROCK_ARRAY_LEN(default_env_drop));
    *out = c;
    return BROCK_OK;
}

void tool_ctx_free(struct tool_ctx *ctx)
{
    if (!ctx)
        return;
    tool_ctx_forget_files(ctx);
    free(ctx->files);
    tool_todos_free(ctx->todos, ctx->ntodos);
    tool_strv_free(ctx->env_drop, ctx->n_env_drop);
    pthread_mutex_destroy(&ctx->mu);
    free(ctx->shell_cwd);
    free(ctx->cwd);
    free(ctx);
}

void tool_ctx_set_cancel(struct tool_ctx *ctx, volatile sig_atomic_t *flag)
{
    ctx->cancel = flag;
}

void tool_ctx_set_env_drop(struct tool_ctx *ctx, const char *const *names, size_t n)
{
    tool_strv_free(ctx->env_drop, ctx->n_env_drop);
    ctx->env_drop = NULL;
    ctx->n_env_drop = 0;
    if (!names || !n)
        return;
    ctx->env_drop = xcalloc(n, sizeof *ctx->env_drop);
    for (size_t i = 0; i < n; i++)
        ctx->env_drop[i] = xstrdup(names[i]);
    ctx->n_env_drop = n;
}

const char *tool_ctx_cwd(const struct tool_ctx *ctx)
{
    return ctx->cwd;
}

const char *tool_ctx_shell_cwd(const struct tool_ctx *ctx)
{
    return ctx->shell_cwd;
}

void tool_ctx_forget_files(struct tool_ctx *ctx)
{
    pthread_mutex_lock(&ctx->mu);
    for (size_t i = 0; i < ctx->nfiles; i++)
        free(ctx->files[i].path);
    ctx->nfiles = 0;
    pthread_mutex_unlock(&ctx->mu);
}

const char *tool_todo_status_name(enum tool_todo_status s)
{
    switch (s) {
    case TOOL_TODO_PENDING: return "pending";
    case TOOL_TODO_IN_PROGRESS: return "in_progress";
    case TOOL_TODO_COMPLETED: return "completed";
    }
    return "pending";
}

size_t tool_ctx_todos(const struct tool_ctx *ctx, struct tool_todo **out)
{
    struct tool_ctx *c = (struct tool_ctx *)ctx; /* the lock is not part of the value */
    pthread_mutex_lock(&c->mu);
    size_t n = c->ntodos;
    struct tool_todo *t = n ? xcalloc(n, sizeof *t) : NULL;
    for (size_t i = 0; i < n; i++) {
        t[i].content = xstrdup(c->todos[i].content);
        t[i].active_form = c->todos[i].active_form ? xstrdup(c->todos[i].active_form) : NULL;
        t[i].id = c->todos[i].id ? xstrdup(c->todos[i].id) : NULL;
        t[i].status = c->todos[i].status;
    }
    pthread_mutex_unlock(&c->mu);
    *out = t;
    return n;
}

void tool_todos_free(struct tool_todo *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].content);
        free(t[i].active_form);
        free(t[i].id);
    }
    free(t);
}
