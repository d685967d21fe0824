/* settings_files.c - load and merge the settings files (settings.h). */
#include "settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "perm_int.h"

const char *settings_scope_name(enum settings_scope s)
{
    switch (s) {
    case SETTINGS_USER:
        return "user";
    case SETTINGS_PROJECT_CLAUDE:
    case SETTINGS_PROJECT:
        return "project";
    case SETTINGS_LOCAL_CLAUDE:
    case SETTINGS_LOCAL:
        return "local";
    case SETTINGS_CLI:
        return "command line";
    case SETTINGS_SCOPE_COUNT:
        break;
    }
    return "?";
}

/* --- Where a value is in the text -------------------------------------- */

/* One step of a path into the document: an object key, or an array index
 * when key is NULL. */
struct jstep {
    const char *key;
    size_t idx;
};

struct jl {
    const char *s;
    size_t n, i;
    int line, col;
};

static void jl_next(struct jl *l)
{
    if (l->i >= l->n)
        return;
    unsigned char c = (unsigned char)l->s[l->i++];
    if (c == '\n') {
        l->line++;
        l->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        l->col++;
    }
}

static void jl_ws(struct jl *l)
{
    while (l->i < l->n && strchr(" \t\r\n", l->s[l->i]) && l->s[l->i])
        jl_next(l);
}

static void jl_skip_string(struct jl *l)
{
    jl_next(l); /* the quote */
    while (l->i < l->n) {
        char c = l->s[l->i];
        jl_next(l);
        if (c == '\\')
            jl_next(l);
        else if (c == '"')
            return;
    }
}

static void jl_skip_value(struct jl *l)
{
    if (l->i >= l->n)
        return;
    char c = l->s[l->i];
    if (c == '"') {
        jl_skip_string(l);
        return;
    }
    if (c == '{' || c == '[') {
        size_t depth = 0;
        while (l->i < l->n) {
            c = l->s[l->i];
            if (c == '"') {
                jl_skip_string(l);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                jl_next(l);
                if (--depth == 0)
                    return;
                continue;
            }
            jl_next(l);
        }
        return;
    }
    while (l->i < l->n && !strchr(",]} \t\r\n", l->s[l->i]))
        jl_next(l);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Read a key string and say whether it equals `want` (escapes decoded as far
 * as ASCII goes; anything else never matches). */
static bool jl_key_is(struct jl *l, const char *want)
{
    size_t wl = strlen(want), k = 0;
    bool ok = true;
    jl_next(l);
    while (l->i < l->n) {
        char c = l->s[l->i];
        if (c == '"') {
            jl_next(l);
            return ok && k == wl;
        }
        int ch = (unsigned char)c;
        jl_next(l);
        if (c == '\\' && l->i < l->n) {
            char esc = l->s[l->i];
            jl_next(l);
            switch (esc) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u': {
                int v = 0;
                for (int h = 0; h < 4 && l->i < l->n; h++) {
                    int x = hexval(l->s[l->i]);
                    v = x < 0 || v < 0 ? -1 : v * 16 + x;
                    jl_next(l);
                }
                ch = v > 0 && v < 0x80 ? v : -1;
                break;
            }
            default: ch = (unsigned char)esc; break;
            }
        }
        if (ch < 0 || k >= wl || (unsigned char)want[k] != ch)
            ok = false;
        k++;
    }
    return false;
}

/* Line and column (1-based, in characters) of the value at steps, or of the
 * deepest value on the way that exists. */
static void locate(const char *text, size_t len, const struct jstep *steps, size_t n, int *line, int *col)
{
    struct jl l = {text, len, 0, 1, 1};
    jl_ws(&l);
    *line = l.line;
    *col = l.col;
    for (size_t d = 0; d < n; d++) {
        if (l.i >= l.n)
            return;
        bool found = false;
        if (steps[d].key) {
            if (l.s[l.i] != '{')
                return;
            jl_next(&l);
            for (;;) {
                jl_ws(&l);
                if (l.i >= l.n || l.s[l.i] != '"')
                    return;
                bool match = jl_key_is(&l, steps[d].key);
                jl_ws(&l);
                if (l.i >= l.n || l.s[l.i] != ':')
                    return;
                jl_next(&l);
                jl_ws(&l);
                if (match) {
                    found = true;
                    break;
                }
                jl_skip_value(&l);
                jl_ws(&l);
                if (l.i >= l.n || l.s[l.i] != ',')
                    return;
                jl_next(&l);
            }
        } else {
            if (l.s[l.i] != '[')
                return;
            jl_next(&l);
            for (size_t idx = 0;; idx++) {
                jl_ws(&l);
                if (l.i >= l.n || l.s[l.i] == ']')
                    return;
                if (idx == steps[d].idx) {
                    found = true;
                    break;
                }
                jl_skip_value(&l);
                jl_ws(&l);
                if (l.i >= l.n || l.s[l.i] != ',')
                    return;
                jl_next(&l);
            }
        }
        if (!found)
            return;
        *line = l.line;
        *col = l.col;
    }
}

/* "permissions.allow[2]" */
static void path_str(const struct jstep *steps, size_t n, char *out, size_t cap)
{
    struct buf b = BUF_INIT(cap - 1);
    for (size_t i = 0; i < n; i++) {
        if (steps[i].key) {
            if (i)
                buf_addc(&b, '.');
            size_t kl = 0;
            for (const char *k = steps[i].key; *k && kl < 64; k++, kl++)
                buf_addc(&b, (unsigned char)*k < 0x20 || *k == 0x7f ? '?' : *k);
            if (strlen(steps[i].key) > 64)
                buf_addstr(&b, "...");
        } else {
            buf_addf(&b, "[%zu]", steps[i].idx);
        }
    }
    snprintf(out, cap, "%s", buf_cstr(&b));
    buf_free(&b);
}

static const char *type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* --- Parsing one document ---------------------------------------------- */

struct pctx {
    struct settings *s;
    enum settings_scope scope;
    const char *text;
    size_t len;
    const char *path;
    struct brock_err *e;
};

static enum brock_status verr(struct pctx *c, const struct jstep *st, size_t n, const char *fmt, ...)
    BROCK_PRINTF(4, 5);
static enum brock_status verr(struct pctx *c, const struct jstep *st, size_t n, const char *fmt, ...)
{
    int line, col;
    locate(c->text, c->len, st, n, &line, &col);
    char where[512], what[512];
    path_str(st, n, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(c->e, BROCK_ERR_CONFIG, "%s:%d:%d: %s: %s", c->path, line, col, where, what);
}

static enum brock_status type_err(struct pctx *c, const struct jstep *st, size_t n, const char *expected,
                                  const json_t *v)
{
    return verr(c, st, n, "expected %s, found %s", expected, type_name(v));
}

static void add_warning(struct settings *s, char *w)
{
    s->warnings = xrealloc(s->warnings, (s->nwarnings + 1) * sizeof *s->warnings);
    s->warnings[s->nwarnings++] = w;
}

static void warn(struct pctx *c, const struct jstep *st, size_t n, const char *fmt, ...) BROCK_PRINTF(4, 5);
static void warn(struct pctx *c, const struct jstep *st, size_t n, const char *fmt, ...)
{
    int line, col;
    locate(c->text, c->len, st, n, &line, &col);
    char where[512];
    path_str(st, n, where, sizeof where);
    struct buf b = BUF_INIT(4096);
    buf_addf(&b, "%s:%d:%d: %s: ", c->path, line, col, where);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&b, fmt, ap);
    va_end(ap);
    add_warning(c->s, buf_take(&b));
    buf_free(&b);
}

static void add_rule(struct settings *s, const char *text, enum perm_list list, enum settings_scope scope,
                     unsigned index)
{
    if (s->nrules == s->caprules) {
        s->caprules = s->caprules ? s->caprules * 2 : 16;
        s->rules = xrealloc(s->rules, s->caprules * sizeof *s->rules);
    }
    struct settings_rule *r = &s->rules[s->nrules++];
    r->text = xstrdup(text);
    r->list = list;
    r->scope = scope;
    r->index = index;
}

static enum brock_status add_dir(struct settings *s, const char *path, enum settings_scope scope,
                                 struct brock_err *e)
{
    if (s->ndirs >= SETTINGS_MAX_DIRS)
        return err_set(e, BROCK_ERR_CONFIG, "more than %d additional directories", SETTINGS_MAX_DIRS);
    if (s->ndirs == s->capdirs) {
        s->capdirs = s->capdirs ? s->capdirs * 2 : 4;
        s->dirs = xrealloc(s->dirs, s->capdirs * sizeof *s->dirs);
    }
    s->dirs[s->ndirs].path = xstrdup(path);
    s->dirs[s->ndirs].scope = scope;
    s->ndirs++;
    return BROCK_OK;
}

static bool is_project(enum settings_scope sc)
{
    return sc == SETTINGS_PROJECT || sc == SETTINGS_PROJECT_CLAUDE;
}

static enum brock_status parse_permissions(struct pctx *c, json_t *perm)
{
    struct jstep st[3] = {{"permissions", 0}, {NULL, 0}, {NULL, 0}};
    if (!json_is_object(perm))
        return type_err(c, st, 1, "an object", perm);
    static const char *const lists[PERM_LIST_COUNT] = {"allow", "ask", "deny"};
    for (int l = 0; l < PERM_LIST_COUNT; l++) {
        json_t *arr = json_object_get(perm, lists[l]);
        if (!arr)
            continue;
        st[1].key = lists[l];
        if (!json_is_array(arr))
            return type_err(c, st, 2, "an array of rule strings", arr);
        if (json_array_size(arr) > SETTINGS_MAX_RULES)
            return verr(c, st, 2, "more than %d rules", SETTINGS_MAX_RULES);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
            st[2].key = NULL;
            st[2].idx = i;
            if (!json_is_string(v))
                return type_err(c, st, 3, "a string (a permission rule)", v);
            struct brock_err re = {0};
            if (perm_rule_check(json_string_value(v), &re) != BROCK_OK) {
                warn(c, st, 3, "%s; rule skipped", re.msg);
                continue;
            }
            add_rule(c->s, json_string_value(v), (enum perm_list)l, c->scope, (unsigned)i);
        }
    }
    json_t *v = json_object_get(perm, "defaultMode");
    if (v) {
        st[1].key = "defaultMode";
        if (!json_is_string(v))
            return type_err(c, st, 2, "a string", v);
        const char *m = json_string_value(v);
        enum perm_mode mode;
        if (perm_mode_parse(m, &mode)) {
            if (mode == PERM_MODE_BYPASS && is_project(c->scope)) {
                warn(c, st, 2,
                     "bypassPermissions is ignored in project settings (a repository must not turn "
                     "permissions off); set it in user or local settings or use --permission-mode");
            } else {
                c->s->mode_set = true;
                c->s->mode = mode;
                c->s->mode_scope = c->scope;
            }
        } else if (!strcmp(m, "dontAsk") || !strcmp(m, "auto")) {
            warn(c, st, 2, "mode \"%s\" is not supported by brock; ignored", m);
        } else {
            return verr(c, st, 2,
                        "expected one of \"default\", \"acceptEdits\", \"plan\", \"bypassPermissions\"");
        }
    }
    v = json_object_get(perm, "disableBypassPermissionsMode");
    if (v) {
        st[1].key = "disableBypassPermissionsMode";
        if (!json_is_string(v))
            return type_err(c, st, 2, "the string \"disable\"", v);
        if (strcmp(json_string_value(v), "disable"))
            return verr(c, st, 2, "expected \"disable\"");
        c->s->bypass_disabled = true;
        c->s->bypass_disabled_scope = c->scope;
    }
    v = json_object_get(perm, "additionalDirectories");
    if (v) {
        st[1].key = "additionalDirectories";
        if (!json_is_array(v))
            return type_err(c, st, 2, "an array of directory names", v);
        size_t i;
        json_t *d;
        json_array_foreach(v, i, d) {
            st[2].key = NULL;
            st[2].idx = i;
            if (!json_is_string(d))
                return type_err(c, st, 3, "a string (a directory)", d);
            if (!json_string_value(d)[0])
                return verr(c, st, 3, "empty directory name");
            struct brock_err de = {0};
            if (add_dir(c->s, json_string_value(d), c->scope, &de) != BROCK_OK)
                return verr(c, st, 3, "%s", de.msg);
        }
    }
    return BROCK_OK;
}

static enum brock_status parse_hooks(struct pctx *c, json_t *hooks)
{
    struct jstep st[6] = {{"hooks", 0}};
    if (!json_is_object(hooks))
        return type_err(c, st, 1, "an object of hook events", hooks);
    const char *event;
    json_t *arr;
    json_object_foreach(hooks, event, arr) {
        st[1].key = event;
        if (!json_is_array(arr))
            return type_err(c, st, 2, "an array of {matcher, hooks}", arr);
        size_t i;
        json_t *m;
        json_array_foreach(arr, i, m) {
            st[2].key = NULL;
            st[2].idx = i;
            if (!json_is_object(m))
                return type_err(c, st, 3, "an object {matcher, hooks}", m);
            json_t *mv = json_object_get(m, "matcher");
            st[3].key = "matcher";
            if (mv && !json_is_string(mv))
                return type_err(c, st, 4, "a string", mv);
            json_t *hs = json_object_get(m, "hooks");
            st[3].key = "hooks";
            if (!hs)
                return verr(c, st, 3, "missing \"hooks\" (an array of commands)");
            if (!json_is_array(hs))
                return type_err(c, st, 4, "an array of {type, command, timeout}", hs);
            size_t j;
            json_t *h;
            json_array_foreach(hs, j, h) {
                st[4].key = NULL;
                st[4].idx = j;
                if (!json_is_object(h))
                    return type_err(c, st, 5, "an object {type, command, timeout}", h);
                static const char *const strs[] = {"type", "command"};
                for (size_t k = 0; k < 2; k++) {
                    json_t *x = json_object_get(h, strs[k]);
                    st[5].key = strs[k];
                    if (x && !json_is_string(x))
                        return type_err(c, st, 6, "a string", x);
                }
                json_t *t = json_object_get(h, "timeout");
                st[5].key = "timeout";
                if (t && (!json_is_number(t) || json_number_value(t) < 0))
                    return json_is_number(t) ? verr(c, st, 6, "expected a number of seconds >= 0")
                                             : type_err(c, st, 6, "a number of seconds", t);
            }
        }
    }
    return BROCK_OK;
}

static enum brock_status parse_doc(struct pctx *c, json_t *root)
{
    struct settings *s = c->s;
    struct jstep st[2] = {{NULL, 0}, {NULL, 0}};
    if (!json_is_object(root)) {
        struct brock_err *e = c->e;
        return err_set(e, BROCK_ERR_CONFIG, "%s:1:1: expected a JSON object at the top level, found %s",
                       c->path, type_name(root));
    }
    enum brock_status rc;
    json_t *v = json_object_get(root, "permissions");
    if (v && (rc = parse_permissions(c, v)) != BROCK_OK)
        return rc;
    v = json_object_get(root, "env");
    if (v) {
        st[0].key = "env";
        if (!json_is_object(v))
            return type_err(c, st, 1, "an object of strings", v);
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            st[1].key = k;
            if (!json_is_string(x))
                return type_err(c, st, 2, "a string", x);
        }
        json_object_foreach(v, k, x) {
            json_object_set(s->env, k, x);
        }
    }
    v = json_object_get(root, "model");
    if (v) {
        st[0].key = "model";
        if (!json_is_string(v))
            return type_err(c, st, 1, "a string (a model id or alias)", v);
        free(s->model);
        s->model = xstrdup(json_string_value(v));
        s->model_scope = c->scope;
    }
    v = json_object_get(root, "hooks");
    if (v) {
        if ((rc = parse_hooks(c, v)) != BROCK_OK)
            return rc;
        const char *ev;
        json_t *arr;
        json_object_foreach(v, ev, arr) {
            json_t *have = json_object_get(s->hooks, ev);
            if (!have) {
                have = json_array();
                json_object_set_new(s->hooks, ev, have);
            }
            json_array_extend(have, arr);
        }
    }
    v = json_object_get(root, "brock");
    if (v) {
        st[0].key = "brock";
        if (!json_is_object(v))
            return type_err(c, st, 1, "an object", v);
        json_object_update(s->brock, v);
    }
    return BROCK_OK;
}

enum brock_status settings_parse(struct settings *s, enum settings_scope scope, const char *text, size_t len,
                                 struct brock_err *e)
{
    if (scope >= SETTINGS_CLI)
        return err_set(e, BROCK_ERR_USAGE, "settings_parse: not a file scope");
    const char *path = s->src[scope].path;
    if (len > SETTINGS_MAX_FILE_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu bytes", path, SETTINGS_MAX_FILE_BYTES);
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        text += 3;
        len -= 3;
    }
    s->src[scope].present = true;
    size_t k = 0;
    while (k < len && strchr(" \t\r\n", text[k]) && text[k])
        k++;
    if (k == len)
        return BROCK_OK; /* an empty file is {} */
    json_t *root;
    enum brock_status rc = perm_json_load(text, len, path, &root, e);
    if (rc != BROCK_OK)
        return rc;
    struct pctx c = {s, scope, text, len, path, e};
    rc = parse_doc(&c, root);
    json_decref(root);
    return rc;
}

enum brock_status settings_load_file(struct settings *s, enum settings_scope scope, struct brock_err *e)
{
    if (scope >= SETTINGS_CLI)
        return err_set(e, BROCK_ERR_USAGE, "settings_load_file: not a file scope");
    struct buf b = BUF_INIT(SETTINGS_MAX_FILE_BYTES);
    struct brock_err re = {0};
    enum brock_status rc = perm_read_regular(s->src[scope].path, SETTINGS_MAX_FILE_BYTES, false, &b, NULL,
                                             NULL, NULL, &re);
    if (rc == BROCK_ERR_NOT_FOUND) {
        buf_free(&b);
        return BROCK_OK;
    }
    if (rc != BROCK_OK) {
        buf_free(&b);
        return err_set(e, rc, "cannot read %s settings: %s", settings_scope_name(scope), re.msg);
    }
    rc = settings_parse(s, scope, buf_cstr(&b), b.len, e);
    buf_free(&b);
    return rc;
}

/* --- Set-up ------------------------------------------------------------ */

static char *dir_of(const char *path)
{
    const char *sl = strrchr(path, '/');
    if (!sl)
        return xstrdup(".");
    if (sl == path)
        return xstrdup("/");
    return xmemdup(path, (size_t)(sl - path));
}

enum brock_status settings_new(const struct settings_opts *o, struct settings **out, struct brock_err *e)
{
    static const struct settings_opts none = {0};
    if (!o)
        o = &none;
    *out = NULL;
    struct settings *s = xcalloc(1, sizeof *s);
    if (o->cwd) {
        if (o->cwd[0] != '/') {
            free(s);
            return err_set(e, BROCK_ERR_USAGE, "working directory must be absolute");
        }
        s->cwd = xstrdup(o->cwd);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) {
            free(s);
            return err_set(e, BROCK_ERR_IO, "cannot get the working directory");
        }
        s->cwd = cwd;
    }
    const char *home = o->home ? o->home : fs_home_dir();
    s->home = home ? xstrdup(home) : NULL;
    s->config_home = perm_config_home(s->home);
    s->env = json_object();
    s->hooks = json_object();
    s->brock = json_object();

    if (o->user_file)
        s->src[SETTINGS_USER].path = xstrdup(o->user_file);
    else if (s->config_home)
        s->src[SETTINGS_USER].path = fs_join(s->config_home, "brock/settings.json");
    else
        s->src[SETTINGS_USER].path = xstrdup("/nonexistent/brock/settings.json"); /* no home: none */
    s->src[SETTINGS_USER].anchor = dir_of(s->src[SETTINGS_USER].path);
    static const char *const rel[] = {NULL, ".claude/settings.json", ".brock/settings.json",
                                      ".claude/settings.local.json", ".brock/settings.local.json"};
    for (int i = SETTINGS_PROJECT_CLAUDE; i <= SETTINGS_LOCAL; i++) {
        s->src[i].path = fs_join(s->cwd, rel[i]);
        s->src[i].anchor = xstrdup(s->cwd);
    }
    s->src[SETTINGS_CLI].path = xstrdup("command line");
    s->src[SETTINGS_CLI].anchor = xstrdup(s->cwd);
    *out = s;
    return BROCK_OK;
}

enum brock_status settings_load(const struct settings_opts *o, struct settings **out, struct brock_err *e)
{
    enum brock_status rc = settings_new(o, out, e);
    if (rc != BROCK_OK)
        return rc;
    for (int i = 0; i < SETTINGS_CLI; i++) {
        rc = settings_load_file(*out, (enum settings_scope)i, e);
        if (rc != BROCK_OK) {
            settings_free(*out);
            *out = NULL;
            return rc;
        }
    }
    return BROCK_OK;
}

void settings_free(struct settings *s)
{
    if (!s)
        return;
    free(s->cwd);
    free(s->home);
    free(s->config_home);
    for (int i = 0; i < SETTINGS_SCOPE_COUNT; i++) {
        free(s->src[i].path);
        free(s->src[i].anchor);
    }
    for (size_t i = 0; i < s->nrules; i++)
        free(s->rules[i].text);
    free(s->rules);
    for (size_t i = 0; i < s->ndirs; i++)
        free(s->dirs[i].path);
    free(s->dirs);
    free(s->model);
    json_decref(s->env);
    json_decref(s->hooks);
    json_decref(s->brock);
    for (size_t i = 0; i < s->nwarnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    free(s);
}

/* --- Command line ------------------------------------------------------ */

struct cli_ctx {
    struct settings *s;
    enum perm_list list;
    const char *flag;
    unsigned n;
};

static enum brock_status cli_rule(void *vctx, const char *rule, struct brock_err *e)
{
    struct cli_ctx *c = vctx;
    struct brock_err re = {0};
    if (perm_rule_check(rule, &re) != BROCK_OK)
        return err_set(e, BROCK_ERR_USAGE, "%s: %s", c->flag, re.msg);
    size_t have = 0;
    for (size_t i = 0; i < c->s->nrules; i++)
        have += c->s->rules[i].scope == SETTINGS_CLI;
    if (have >= SETTINGS_MAX_RULES)
        return err_set(e, BROCK_ERR_USAGE, "%s: more than %d rules", c->flag, SETTINGS_MAX_RULES);
    add_rule(c->s, rule, c->list, SETTINGS_CLI, c->n++);
    return BROCK_OK;
}

enum brock_status settings_cli_rules(struct settings *s, enum perm_list list, const char *flag, const char *value,
                                     struct brock_err *e)
{
    struct cli_ctx c = {s, list, flag ? flag : "command line", 0};
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].scope == SETTINGS_CLI && s->rules[i].list == list)
            c.n++;
    struct brock_err le = {0};
    enum brock_status rc = perm_split_rule_list(value, cli_rule, &c, &le);
    if (rc != BROCK_OK) {
        if (le.status == BROCK_OK || strncmp(le.msg, c.flag, strlen(c.flag)) != 0)
            return err_set(e, BROCK_ERR_USAGE, "%s: %s", c.flag, le.msg);
        return err_set(e, BROCK_ERR_USAGE, "%s", le.msg);
    }
    return BROCK_OK;
}

enum brock_status settings_cli_mode(struct settings *s, const char *value, struct brock_err *e)
{
    enum perm_mode m;
    if (!value || !perm_mode_parse(value, &m))
        return err_set(e, BROCK_ERR_USAGE,
                       "--permission-mode: expected default, acceptEdits, plan or bypassPermissions");
    s->mode_set = true;
    s->mode = m;
    s->mode_scope = SETTINGS_CLI;
    return BROCK_OK;
}

enum brock_status settings_cli_add_dir(struct settings *s, const char *path, struct brock_err *e)
{
    if (!path || !*path)
        return err_set(e, BROCK_ERR_USAGE, "--add-dir: empty directory name");
    return add_dir(s, path, SETTINGS_CLI, e);
}
