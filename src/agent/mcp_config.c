/* mcp_config.c - .mcp.json: parsing, checking and ${VAR} expansion (mcp.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "mcp.h"

/* --- Where a value sits in the text ------------------------------------ */

/* One step into the document: an object member, or an array element when
 * key is NULL. */
struct step {
    const char *key;
    size_t idx;
};

struct scan {
    const char *s;
    size_t n, i;
    int line, col;
};

static void sc_adv(struct scan *c)
{
    if (c->i >= c->n)
        return;
    unsigned char ch = (unsigned char)c->s[c->i++];
    if (ch == '\n') {
        c->line++;
        c->col = 1;
    } else if ((ch & 0xC0) != 0x80) {
        c->col++;
    }
}

static void sc_ws(struct scan *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                           c->s[c->i] == '\r'))
        sc_adv(c);
}

static char sc_peek(const struct scan *c)
{
    return c->i < c->n ? c->s[c->i] : '\0';
}

/* Skip a string; with `dec`, decode it (escapes as far as jansson would; a
 * bad escape just ends the comparison as a mismatch). */
static void sc_string(struct scan *c, struct buf *dec)
{
    sc_adv(c); /* opening quote */
    while (c->i < c->n) {
        char ch = c->s[c->i];
        sc_adv(c);
        if (ch == '"')
            return;
        if (ch != '\\') {
            if (dec)
                buf_addc(dec, ch);
            continue;
        }
        char esc = sc_peek(c);
        sc_adv(c);
        if (!dec)
            continue;
        switch (esc) {
        case 'n': buf_addc(dec, '\n'); break;
        case 't': buf_addc(dec, '\t'); break;
        case 'r': buf_addc(dec, '\r'); break;
        case 'b': buf_addc(dec, '\b'); break;
        case 'f': buf_addc(dec, '\f'); break;
        case 'u': {
            unsigned v = 0;
            for (int k = 0; k < 4 && c->i < c->n; k++) {
                char h = c->s[c->i];
                v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0'
                                       : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                       : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
                sc_adv(c);
            }
            /* BMP only; surrogate pairs are rare in keys and simply mismatch */
            if (v < 0x80) {
                buf_addc(dec, (char)v);
            } else if (v < 0x800) {
                buf_addc(dec, (char)(0xC0 | (v >> 6)));
                buf_addc(dec, (char)(0x80 | (v & 0x3F)));
            } else {
                buf_addc(dec, (char)(0xE0 | (v >> 12)));
                buf_addc(dec, (char)(0x80 | ((v >> 6) & 0x3F)));
                buf_addc(dec, (char)(0x80 | (v & 0x3F)));
            }
            break;
        }
        default: buf_addc(dec, esc); break;
        }
    }
}

static void sc_value(struct scan *c)
{
    char ch = sc_peek(c);
    if (ch == '"') {
        sc_string(c, NULL);
        return;
    }
    if (ch == '{' || ch == '[') {
        size_t depth = 0;
        while (c->i < c->n) {
            ch = c->s[c->i];
            if (ch == '"') {
                sc_string(c, NULL);
                continue;
            }
            sc_adv(c);
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return;
        }
        return;
    }
    while (c->i < c->n && !strchr(",]} \t\r\n", c->s[c->i]))
        sc_adv(c);
}

/* Line and column of the value at `steps` (or of the deepest one found). */
static void locate(const char *text, size_t len, const struct step *steps, size_t n, int *line,
                   int *col)
{
    struct scan c = {text, len, 0, 1, 1};
    struct buf key = BUF_INIT(4096);
    sc_ws(&c);
    *line = c.line;
    *col = c.col;
    for (size_t d = 0; d < n; d++) {
        bool found = false;
        if (steps[d].key) {
            if (sc_peek(&c) != '{')
                break;
            sc_adv(&c);
            for (;;) {
                sc_ws(&c);
                if (sc_peek(&c) != '"')
                    break;
                buf_reset(&key);
                sc_string(&c, &key);
                bool match = !buf_status(&key) && !strcmp(buf_cstr(&key), steps[d].key);
                sc_ws(&c);
                if (sc_peek(&c) != ':')
                    break;
                sc_adv(&c);
                sc_ws(&c);
                if (match) {
                    found = true;
                    break;
                }
                sc_value(&c);
                sc_ws(&c);
                if (sc_peek(&c) != ',')
                    break;
                sc_adv(&c);
            }
        } else {
            if (sc_peek(&c) != '[')
                break;
            sc_adv(&c);
            sc_ws(&c);
            size_t i = 0;
            while (c.i < c.n && sc_peek(&c) != ']') {
                if (i == steps[d].idx) {
                    found = true;
                    break;
                }
                sc_value(&c);
                sc_ws(&c);
                if (sc_peek(&c) != ',')
                    break;
                sc_adv(&c);
                sc_ws(&c);
                i++;
            }
        }
        if (!found)
            break;
        *line = c.line;
        *col = c.col;
    }
    buf_free(&key);
}

/* --- Parsing ------------------------------------------------------------ */

struct pctx {
    const char *path;
    const char *text;
    size_t len;
    mcp_getenv_fn *getenv_fn;
    void *ctx;
    struct mcp_config *cfg;
    struct brock_err *e;
};

static const char *type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* "mcpServers.NAME.args[1]" */
static void step_path(struct buf *b, const struct step *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st[i].key)
            buf_addf(b, "%s%.200s", i ? "." : "", st[i].key);
        else
            buf_addf(b, "[%zu]", st[i].idx);
    }
}

static enum brock_status verr(struct pctx *c, const struct step *st, size_t n, const char *fmt, ...)
    BROCK_PRINTF(4, 5);
static enum brock_status verr(struct pctx *c, const struct step *st, size_t n, const char *fmt, ...)
{
    int line, col;
    locate(c->text, c->len, st, n, &line, &col);
    struct buf what = BUF_INIT(512), msg = BUF_INIT(512);
    step_path(&what, st, n);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&msg, fmt, ap);
    va_end(ap);
    err_set(c->e, BROCK_ERR_CONFIG, "%s:%d:%d: %s: %s", c->path, line, col, buf_cstr(&what),
            buf_cstr(&msg));
    buf_free(&what);
    buf_free(&msg);
    return BROCK_ERR_CONFIG;
}

static enum brock_status type_err(struct pctx *c, const struct step *st, size_t n, const char *want,
                                  const json_t *v)
{
    return verr(c, st, n, "expected %s, found %s", want, type_name(v));
}

static void add_warning(struct mcp_config *cfg, const char *fmt, ...) BROCK_PRINTF(2, 3);
static void add_warning(struct mcp_config *cfg, const char *fmt, ...)
{
    struct buf b = BUF_INIT(1024);
    va_list ap;
    va_start(ap, fmt);
    buf_addvf(&b, fmt, ap);
    va_end(ap);
    cfg->warnings = xrealloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof *cfg->warnings);
    cfg->warnings[cfg->n_warnings++] = buf_take(&b);
}

enum brock_status mcp_expand(const char *s, mcp_getenv_fn *getenv_fn, void *ctx, struct buf *out,
                             struct buf *missing)
{
    const char *p = s;
    for (;;) {
        const char *d = strstr(p, "${");
        if (!d) {
            buf_addstr(out, p);
            break;
        }
        const char *close = strchr(d + 2, '}');
        if (!close) {
            buf_addstr(out, p);
            break;
        }
        buf_add(out, p, (size_t)(d - p));
        if (close == d + 2) { /* "${}" is not a reference */
            buf_add(out, d, 3);
            p = close + 1;
            continue;
        }
        const char *body = d + 2;
        size_t blen = (size_t)(close - body);
        const char *sep = NULL;
        for (size_t i = 0; i + 1 < blen; i++)
            if (body[i] == ':' && body[i + 1] == '-') {
                sep = body + i;
                break;
            }
        size_t nlen = sep ? (size_t)(sep - body) : blen;
        char *name = xstrndup(body, nlen);
        const char *val = getenv_fn ? getenv_fn(ctx, name) : getenv(name);
        if (val) {
            buf_addstr(out, val);
        } else if (sep) {
            buf_add(out, sep + 2, (size_t)(close - sep - 2));
        } else {
            buf_add(out, d, (size_t)(close + 1 - d));
            if (missing) {
                if (missing->len)
                    buf_addstr(missing, ", ");
                buf_addf(missing, "%.100s", name);
            }
        }
        free(name);
        p = close + 1;
    }
    return buf_status(out);
}

/* Expand one string value at st[0..n); the result (new string) in *out. */
static enum brock_status expand_value(struct pctx *c, const struct step *st, size_t n, const json_t *v,
                                      struct buf *missing, char **out)
{
    *out = NULL;
    if (strlen(json_string_value(v)) != json_string_length(v))
        return verr(c, st, n, "contains a NUL byte");
    struct buf b = BUF_INIT(MCP_VALUE_MAX);
    if (mcp_expand(json_string_value(v), c->getenv_fn, c->ctx, &b, missing) != BROCK_OK) {
        buf_free(&b);
        return verr(c, st, n, "longer than %zu bytes after ${VAR} expansion", MCP_VALUE_MAX);
    }
    *out = buf_take(&b);
    return BROCK_OK;
}

static void server_config_cleanup(struct mcp_server_config *s)
{
    free(s->name);
    free(s->command);
    for (size_t i = 0; i < s->n_args; i++)
        free(s->args[i]);
    free(s->args);
    for (size_t i = 0; i < s->n_env; i++)
        xfree_secret(s->env[i]);
    free(s->env);
    memset(s, 0, sizeof *s);
}

static enum brock_status parse_server(struct pctx *c, const char *name, json_t *v)
{
    struct mcp_config *cfg = c->cfg;
    struct step st[4] = {{"mcpServers", 0}, {name, 0}, {NULL, 0}, {NULL, 0}};
    int line, col;
    locate(c->text, c->len, st, 2, &line, &col);
    if (!*name)
        return verr(c, st, 2, "a server name must not be empty");
    if (!json_is_object(v))
        return type_err(c, st, 2, "an object {command, args, env}", v);

    json_t *type = json_object_get(v, "type");
    json_t *cmd = json_object_get(v, "command");
    st[2].key = "type";
    if (type && !json_is_string(type))
        return type_err(c, st, 3, "a string (\"stdio\")", type);
    const char *t = type ? json_string_value(type) : NULL;
    if ((t && strcmp(t, "stdio") != 0) || (!t && !cmd && json_object_get(v, "url"))) {
        add_warning(cfg, "%s:%d:%d: server %.200s: transport \"%.20s\" is not supported (brock runs "
                         "stdio servers only); skipped",
                    c->path, line, col, name, t ? t : "http");
        return BROCK_OK;
    }

    struct mcp_server_config s = {0};
    struct buf missing = BUF_INIT(4096);
    enum brock_status rc = BROCK_OK;
    st[2].key = "command";
    if (!cmd) {
        rc = verr(c, st, 2, "missing \"command\" (the program to run)");
        goto done;
    }
    if (!json_is_string(cmd)) {
        rc = type_err(c, st, 3, "a string", cmd);
        goto done;
    }
    if (!json_string_length(cmd)) {
        rc = verr(c, st, 3, "must not be empty");
        goto done;
    }
    if ((rc = expand_value(c, st, 3, cmd, &missing, &s.command)) != BROCK_OK)
        goto done;

    json_t *args = json_object_get(v, "args");
    st[2].key = "args";
    if (args && !json_is_null(args)) {
        if (!json_is_array(args)) {
            rc = type_err(c, st, 3, "an array of strings", args);
            goto done;
        }
        if (json_array_size(args) > MCP_MAX_ARGS) {
            rc = verr(c, st, 3, "more than %d arguments", MCP_MAX_ARGS);
            goto done;
        }
        s.args = xcalloc(json_array_size(args) + 1, sizeof *s.args);
        size_t i;
        json_t *a;
        json_array_foreach(args, i, a) {
            st[3].key = NULL;
            st[3].idx = i;
            if (!json_is_string(a)) {
                rc = type_err(c, st, 4, "a string", a);
                goto done;
            }
            if ((rc = expand_value(c, st, 4, a, &missing, &s.args[s.n_args])) != BROCK_OK)
                goto done;
            s.n_args++;
        }
    }

    json_t *env = json_object_get(v, "env");
    st[2].key = "env";
    if (env && !json_is_null(env)) {
        if (!json_is_object(env)) {
            rc = type_err(c, st, 3, "an object of strings", env);
            goto done;
        }
        if (json_object_size(env) > MCP_MAX_ARGS) {
            rc = verr(c, st, 3, "more than %d variables", MCP_MAX_ARGS);
            goto done;
        }
        s.env = xcalloc(json_object_size(env) + 1, sizeof *s.env);
        const char *k;
        json_t *x;
        json_object_foreach(env, k, x) {
            st[3].key = k;
            if (!*k || strchr(k, '=')) {
                rc = verr(c, st, 4, "not a valid variable name");
                goto done;
            }
            if (!json_is_string(x)) {
                rc = type_err(c, st, 4, "a string", x);
                goto done;
            }
            char *val;
            if ((rc = expand_value(c, st, 4, x, &missing, &val)) != BROCK_OK)
                goto done;
            size_t kl = strlen(k), vl = strlen(val);
            char *kv = xmalloc(kl + vl + 2);
            memcpy(kv, k, kl);
            kv[kl] = '=';
            memcpy(kv + kl + 1, val, vl + 1);
            xfree_secret(val);
            s.env[s.n_env++] = kv;
        }
    }

    if (missing.len) {
        add_warning(cfg, "%s:%d:%d: server %.200s: environment variable%s %s not set and without a "
                         "default (${VAR:-default}); skipped",
                    c->path, line, col, name, strchr(buf_cstr(&missing), ',') ? "s" : "",
                    buf_cstr(&missing));
        goto done;
    }
    s.name = xstrdup(name);
    s.line = line;
    s.col = col;
    cfg->servers = xrealloc(cfg->servers, (cfg->n_servers + 1) * sizeof *cfg->servers);
    cfg->servers[cfg->n_servers++] = s;
    memset(&s, 0, sizeof s);
done:
    server_config_cleanup(&s);
    buf_free(&missing);
    return rc;
}

enum brock_status mcp_config_parse(const char *path, const char *text, size_t len,
                                   mcp_getenv_fn *getenv_fn, void *ctx, struct mcp_config **out,
                                   struct brock_err *e)
{
    *out = NULL;
    if (len > MCP_CONFIG_MAX_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu bytes", path, MCP_CONFIG_MAX_BYTES);
    struct mcp_config *cfg = xcalloc(1, sizeof *cfg);
    cfg->path = xstrdup(path);
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", text[i]) && text[i])
        i++;
    if (i == len) { /* an empty file is an empty configuration */
        *out = cfg;
        return BROCK_OK;
    }
    json_t *root = NULL;
    enum brock_status rc = json_parse(text, len, path, &root, e);
    if (rc != BROCK_OK) {
        mcp_config_free(cfg);
        return rc;
    }
    struct pctx c = {path, text, len, getenv_fn, ctx, cfg, e};
    if (!json_is_object(root)) {
        rc = err_set(e, BROCK_ERR_CONFIG, "%s:1:1: expected a JSON object at the top level, found %s",
                     path, type_name(root));
        goto done;
    }
    json_t *servers = json_object_get(root, "mcpServers");
    struct step st[1] = {{"mcpServers", 0}};
    if (!servers || json_is_null(servers))
        goto done;
    if (!json_is_object(servers)) {
        rc = type_err(&c, st, 1, "an object of servers", servers);
        goto done;
    }
    if (json_object_size(servers) > MCP_MAX_SERVERS) {
        rc = verr(&c, st, 1, "more than %d servers", MCP_MAX_SERVERS);
        goto done;
    }
    const char *name;
    json_t *v;
    json_object_foreach(servers, name, v) {
        if ((rc = parse_server(&c, name, v)) != BROCK_OK)
            break;
    }
done:
    json_decref(root);
    if (rc != BROCK_OK) {
        mcp_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return BROCK_OK;
}

enum brock_status mcp_config_load(const char *dir, mcp_getenv_fn *getenv_fn, void *ctx,
                                  struct mcp_config **out, struct brock_err *e)
{
    *out = NULL;
    char *path = fs_join(dir ? dir : ".", ".mcp.json");
    struct buf b = BUF_INIT(MCP_CONFIG_MAX_BYTES);
    struct brock_err fe = {0};
    enum brock_status rc = fs_read_file(path, MCP_CONFIG_MAX_BYTES, &b, &fe);
    if (rc == BROCK_ERR_NOT_FOUND) {
        struct mcp_config *cfg = xcalloc(1, sizeof *cfg);
        cfg->path = path;
        *out = cfg;
        buf_free(&b);
        return BROCK_OK;
    }
    if (rc != BROCK_OK) {
        if (e)
            *e = fe;
    } else {
        rc = mcp_config_parse(path, buf_cstr(&b), b.len, getenv_fn, ctx, out, e);
    }
    free(path);
    buf_free_secure(&b);
    return rc;
}

void mcp_config_free(struct mcp_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_servers; i++)
        server_config_cleanup(&c->servers[i]);
    free(c->servers);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    free(c->path);
    free(c);
}
