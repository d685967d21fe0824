/* perm.c - the permission engine: rules from the settings, the mode, the
 * workspace, and one decision per tool call (perm.h). */
#include "perm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "perm_int.h"
#include "settings.h"

static const char *const mode_names[PERM_MODE_COUNT] = {"default", "acceptEdits", "plan", "bypassPermissions"};

const char *perm_mode_name(enum perm_mode m)
{
    return (unsigned)m < PERM_MODE_COUNT ? mode_names[m] : "?";
}

bool perm_mode_parse(const char *s, enum perm_mode *out)
{
    for (int i = 0; i < PERM_MODE_COUNT; i++)
        if (s && !strcmp(s, mode_names[i])) {
            *out = (enum perm_mode)i;
            return true;
        }
    return false;
}

const char *perm_list_name(enum perm_list l)
{
    static const char *const n[] = {"allow", "ask", "deny"};
    return (unsigned)l < PERM_LIST_COUNT ? n[l] : "?";
}

const char *perm_verdict_name(enum perm_verdict v)
{
    static const char *const n[] = {"allow", "ask", "deny"};
    return (unsigned)v <= PERM_DENY ? n[v] : "?";
}

const char *perm_why_name(enum perm_why w)
{
    static const char *const n[] = {"rule", "secret", "plan", "mode", "outside", "substitution",
                                    "uncheckable", "noninteractive", "user"};
    return (unsigned)w <= PERM_WHY_USER ? n[w] : "?";
}

const char *perm_answer_name(enum perm_answer a)
{
    static const char *const n[] = {"none", "yes", "always", "no"};
    return (unsigned)a <= PERM_ANSWER_NO ? n[a] : "?";
}

/* --- The engine -------------------------------------------------------- */

struct erule {
    struct perm_rule *r;
    enum perm_list list;
    char *source;
};

struct perm_engine {
    char *cwd, *home, *config_home; /* resolved; home/config_home may be NULL */
    bool interactive;
    const struct clock *clock;
    enum perm_mode mode;
    bool bypass_ok;
    char **dirs; /* the workspace: [0] = cwd */
    size_t ndirs;
    struct erule *rules;
    size_t nrules, caprules;
    char **warn;
    size_t nwarn;
    char *local_path; /* .brock/settings.local.json */
    char *brock_config; /* $XDG_CONFIG_HOME/brock, or NULL */
};

static void add_warn(struct perm_engine *pe, char *w)
{
    pe->warn = xrealloc(pe->warn, (pe->nwarn + 1) * sizeof *pe->warn);
    pe->warn[pe->nwarn++] = w;
}

static char *fmt(const char *f, ...) BROCK_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
    struct buf b = BUF_INIT(64 * 1024);
    va_list ap;
    va_start(ap, f);
    buf_addvf(&b, f, ap);
    va_end(ap);
    char *s = buf_take(&b);
    buf_free(&b);
    return s;
}

static char *resolve_dup(const char *cwd, const char *path)
{
    char res[PERM_PATH_MAX];
    if (!path || perm_resolve_path(cwd ? cwd : "/", path, res, NULL, NULL) != BROCK_OK)
        return NULL;
    return xstrdup(res);
}

static void push_rule(struct perm_engine *pe, struct perm_rule *r, enum perm_list list, const char *source)
{
    if (pe->nrules == pe->caprules) {
        pe->caprules = pe->caprules ? pe->caprules * 2 : 16;
        pe->rules = xrealloc(pe->rules, pe->caprules * sizeof *pe->rules);
    }
    pe->rules[pe->nrules].r = r;
    pe->rules[pe->nrules].list = list;
    pe->rules[pe->nrules].source = xstrdup(source);
    pe->nrules++;
}

/* "~" and "~/x" with the engine's home. New string. */
static char *expand_tilde(const struct perm_engine *pe, const char *p)
{
    if (p[0] == '~' && (p[1] == '\0' || p[1] == '/') && pe->home)
        return p[1] ? fs_join(pe->home, p + 2) : xstrdup(pe->home);
    return xstrdup(p);
}

enum brock_status perm_engine_new(const struct settings *s, const struct perm_env *env,
                                  struct perm_engine **out, struct brock_err *e)
{
    static const struct perm_env none = {0};
    if (!env)
        env = &none;
    *out = NULL;
    struct perm_engine *pe = xcalloc(1, sizeof *pe);
    enum brock_status st = BROCK_OK;
    char *raw_cwd = env->cwd ? xstrdup(env->cwd) : s ? xstrdup(s->cwd) : getcwd(NULL, 0);
    if (!raw_cwd || raw_cwd[0] != '/') {
        free(raw_cwd);
        st = err_set(e, BROCK_ERR_USAGE, "the working directory must be an absolute path");
        goto fail;
    }
    char res[PERM_PATH_MAX];
    st = perm_resolve_path("/", raw_cwd, res, NULL, e);
    free(raw_cwd);
    if (st != BROCK_OK)
        goto fail;
    pe->cwd = xstrdup(res);
    const char *home = env->home ? env->home : s && s->home ? s->home : fs_home_dir();
    pe->home = home && home[0] == '/' ? resolve_dup("/", home) : NULL;
    if (env->config_home) {
        pe->config_home = resolve_dup("/", env->config_home);
    } else {
        char *ch = perm_config_home(home);
        pe->config_home = ch && ch[0] == '/' ? resolve_dup("/", ch) : NULL;
        free(ch);
    }
    pe->brock_config = pe->config_home ? fs_join(pe->config_home, "brock") : NULL;
    pe->interactive = env->interactive;
    pe->clock = env->clock;
    pe->local_path = fs_join(pe->cwd, ".brock/settings.local.json");
    pe->dirs = xmalloc(sizeof *pe->dirs);
    pe->dirs[pe->ndirs++] = xstrdup(pe->cwd);

    pe->mode = s && s->mode_set ? s->mode : PERM_MODE_DEFAULT;
    if (s && s->bypass_disabled) {
        if (pe->mode == PERM_MODE_BYPASS) {
            st = err_set(e, BROCK_ERR_CONFIG, "bypassPermissions mode is disabled by %s (%s settings)",
                         s->src[s->bypass_disabled_scope].path, settings_scope_name(s->bypass_disabled_scope));
            goto fail;
        }
    } else {
        pe->bypass_ok = pe->mode == PERM_MODE_BYPASS;
    }
    if (!s) {
        *out = pe;
        return BROCK_OK;
    }

    for (size_t i = 0; i < s->ndirs; i++) {
        const struct settings_dir *d = &s->dirs[i];
        char *p = expand_tilde(pe, d->path);
        bool is_dir = false;
        if (perm_resolve_from(pe->cwd, p, res, &is_dir, NULL) != BROCK_OK || !is_dir) {
            add_warn(pe, fmt("%s: additional directory \"%s\" is not a directory; ignored", s->src[d->scope].path,
                             d->path));
        } else {
            pe->dirs = xrealloc(pe->dirs, (pe->ndirs + 1) * sizeof *pe->dirs);
            pe->dirs[pe->ndirs++] = xstrdup(res);
        }
        free(p);
    }

    char *anchors[SETTINGS_SCOPE_COUNT] = {0};
    for (size_t i = 0; i < s->nrules && pe->nrules < PERM_MAX_RULES; i++) {
        const struct settings_rule *sr = &s->rules[i];
        if (!anchors[sr->scope]) {
            const char *a = s->src[sr->scope].anchor;
            anchors[sr->scope] = a && a[0] == '/' ? resolve_dup("/", a) : NULL;
            if (!anchors[sr->scope])
                anchors[sr->scope] = xstrdup(pe->cwd);
        }
        struct perm_rule_ctx ctx = {pe->cwd, pe->home, anchors[sr->scope]};
        struct perm_rule *r;
        struct brock_err re = {0};
        if (perm_rule_parse(sr->text, &ctx, &r, &re) != BROCK_OK) {
            add_warn(pe, fmt("%s: permissions.%s[%u]: rule \"%.200s\": %s; rule skipped", s->src[sr->scope].path,
                             perm_list_name(sr->list), sr->index, sr->text, re.msg));
            continue;
        }
        push_rule(pe, r, sr->list, s->src[sr->scope].path);
    }
    for (int i = 0; i < SETTINGS_SCOPE_COUNT; i++)
        free(anchors[i]);
    *out = pe;
    return BROCK_OK;
fail:
    perm_engine_free(pe);
    return st;
}

void perm_engine_free(struct perm_engine *pe)
{
    if (!pe)
        return;
    free(pe->cwd);
    free(pe->home);
    free(pe->config_home);
    for (size_t i = 0; i < pe->ndirs; i++)
        free(pe->dirs[i]);
    free(pe->dirs);
    for (size_t i = 0; i < pe->nrules; i++) {
        perm_rule_free(pe->rules[i].r);
        free(pe->rules[i].source);
    }
    free(pe->rules);
    for (size_t i = 0; i < pe->nwarn; i++)
        free(pe->warn[i]);
    free(pe->warn);
    free(pe->local_path);
    free(pe->brock_config);
    free(pe);
}

enum perm_mode perm_engine_mode(const struct perm_engine *pe)
{
    return pe->mode;
}

enum brock_status perm_engine_set_mode(struct perm_engine *pe, enum perm_mode m, struct brock_err *e)
{
    if ((unsigned)m >= PERM_MODE_COUNT)
        return err_set(e, BROCK_ERR_USAGE, "unknown permission mode");
    if (m == PERM_MODE_BYPASS && !pe->bypass_ok)
        return err_set(e, BROCK_ERR_USAGE,
                       "bypassPermissions can only be chosen at start (--permission-mode bypassPermissions, "
                       "or defaultMode in user or local settings)");
    pe->mode = m;
    return BROCK_OK;
}

const char *perm_engine_cwd(const struct perm_engine *pe)
{
    return pe->cwd;
}

size_t perm_engine_dir_count(const struct perm_engine *pe)
{
    return pe->ndirs;
}

const char *perm_engine_dir(const struct perm_engine *pe, size_t i)
{
    return i < pe->ndirs ? pe->dirs[i] : NULL;
}

size_t perm_engine_warning_count(const struct perm_engine *pe)
{
    return pe->nwarn;
}

const char *perm_engine_warning(const struct perm_engine *pe, size_t i)
{
    return i < pe->nwarn ? pe->warn[i] : NULL;
}

size_t perm_engine_rule_count(const struct perm_engine *pe)
{
    return pe->nrules;
}

bool perm_engine_rule(const struct perm_engine *pe, size_t i, struct perm_rule_info *out)
{
    if (i >= pe->nrules)
        return false;
    out->text = pe->rules[i].r->text;
    out->list = pe->rules[i].list;
    out->source = pe->rules[i].source;
    return true;
}

/* --- Decisions: helpers ------------------------------------------------ */

void perm_decision_cleanup(struct perm_decision *d)
{
    if (!d)
        return;
    free(d->tool);
    free(d->subject);
    free(d->resolved);
    free(d->rule);
    free(d->rule_source);
    free(d->message);
    for (size_t i = 0; i < d->nsuggest; i++)
        free(d->suggest[i]);
    free(d->feedback);
    memset(d, 0, sizeof *d);
}

static bool in_workspace(const struct perm_engine *pe, const char *path)
{
    for (size_t i = 0; i < pe->ndirs; i++)
        if (perm_path_under(path, pe->dirs[i]))
            return true;
    return false;
}

/* Directories no mode auto-approves edits in: VCS and tool configuration
 * (a write there can run code or change these very rules). */
static bool is_protected(const struct perm_engine *pe, const char *path)
{
    static const char *const names[] = {".git", ".brock", ".claude", ".vscode", ".idea"};
    for (size_t i = 0; i < pe->ndirs; i++) {
        const char *d = pe->dirs[i];
        if (!perm_path_under(path, d))
            continue;
        const char *rel = path + strlen(d);
        while (*rel == '/')
            rel++;
        /* any component of the path below the workspace */
        for (const char *p = rel; *p;) {
            size_t n = strcspn(p, "/");
            for (size_t k = 0; k < BROCK_ARRAY_LEN(names); k++)
                if (strlen(names[k]) == n && !memcmp(p, names[k], n))
                    return true;
            p += n;
            while (*p == '/')
                p++;
        }
    }
    return pe->brock_config && perm_path_under(path, pe->brock_config);
}

static void add_suggest(struct perm_decision *d, char *rule)
{
    if (!rule)
        return;
    for (size_t i = 0; i < d->nsuggest; i++)
        if (!strcmp(d->suggest[i], rule)) {
            free(rule);
            return;
        }
    if (d->nsuggest >= PERM_MAX_SUGGEST) {
        free(rule);
        return;
    }
    d->suggest[d->nsuggest++] = rule;
}

/* A path as a rule would name it: "/rel" under the project root (the local
 * settings file's anchor), "~/rel" under home, else "//abs"; glob characters
 * escaped. */
static void add_rule_path(struct buf *b, const struct perm_engine *pe, const char *path)
{
    const char *rest;
    if (perm_path_under(path, pe->cwd)) {
        buf_addc(b, '/');
        rest = path + strlen(pe->cwd);
    } else if (pe->home && strcmp(pe->home, "/") && perm_path_under(path, pe->home)) {
        buf_addstr(b, "~/");
        rest = path + strlen(pe->home);
    } else {
        buf_addstr(b, "//");
        rest = path;
    }
    while (*rest == '/')
        rest++;
    for (; *rest; rest++) {
        if (strchr("*?[\\", *rest))
            buf_addc(b, '\\');
        buf_addc(b, *rest);
    }
}

static char *path_rule(const struct perm_engine *pe, const char *family, const char *dir, bool exact)
{
    struct buf b = BUF_INIT(PERM_RULE_MAX_BYTES);
    buf_addf(&b, "%s(", family);
    add_rule_path(&b, pe, dir);
    if (!exact) {
        if (b.ptr[b.len - 1] != '/')
            buf_addc(&b, '/');
        buf_addstr(&b, "**");
    }
    buf_addc(&b, ')');
    char *r = buf_status(&b) == BROCK_OK ? buf_take(&b) : NULL;
    buf_free(&b);
    return r;
}

/* "Bash command `...`", "Read of /x", ... for messages. */
static void describe(struct buf *b, const struct perm_decision *d, enum perm_tool_class cls)
{
    const char *subj = d->resolved ? d->resolved : d->subject;
    if (cls == PERM_TOOL_BASH) {
        size_t l = d->subject ? strlen(d->subject) : 0;
        buf_addf(b, "Bash command `%.*s%s`", (int)(l > 300 ? 300 : l), d->subject ? d->subject : "",
                 l > 300 ? "..." : "");
    } else if (cls == PERM_TOOL_SEARCH) {
        buf_addf(b, "%s in %s", d->tool, subj ? subj : "?");
    } else if (subj) {
        size_t l = strlen(subj);
        buf_addf(b, "%s of %.*s%s", d->tool, (int)(l > 300 ? 300 : l), subj, l > 300 ? "..." : "");
    } else {
        buf_addf(b, "the tool %s", d->tool);
    }
}

static enum perm_verdict finish(const struct perm_engine *pe, struct perm_decision *d, enum perm_tool_class cls,
                                enum perm_verdict v, enum perm_why why, const struct erule *er,
                                const char *why_text)
{
    d->verdict = v;
    d->why = why;
    if (er) {
        d->rule = xstrdup(er->r->text);
        d->rule_list = er->list;
        d->rule_source = xstrdup(er->source);
    } else if (why == PERM_WHY_SECRET) {
        d->rule_source = xstrdup("built-in");
    }
    struct buf b = BUF_INIT(64 * 1024);
    if (v == PERM_DENY)
        buf_addstr(&b, "Permission denied: ");
    else if (v == PERM_ASK)
        buf_addstr(&b, "Needs approval: ");
    describe(&b, d, cls);
    buf_addf(&b, " %s", why_text);
    if (er)
        buf_addf(&b, " (from %s)", er->source);
    buf_addc(&b, '.');
    if (v == PERM_ASK) {
        d->asked = true;
        if (!pe->interactive) {
            d->verdict = PERM_DENY;
            d->why = PERM_WHY_NONINTERACTIVE;
            buf_addstr(&b, " brock is running non-interactively (-p), so it was refused.");
            if (d->nsuggest) {
                buf_addstr(&b, " To allow it, add ");
                for (size_t i = 0; i < d->nsuggest; i++)
                    buf_addf(&b, "%s`%s`", i ? (i + 1 == d->nsuggest ? " and " : ", ") : "", d->suggest[i]);
                buf_addstr(&b, " to permissions.allow in .brock/settings.json, or run with --allowedTools '");
                for (size_t i = 0; i < d->nsuggest; i++)
                    buf_addf(&b, "%s%s", i ? "," : "", d->suggest[i]);
                buf_addstr(&b, "'.");
            } else if (why == PERM_WHY_SUBSTITUTION || why == PERM_WHY_UNCHECKABLE) {
                buf_addstr(&b, " No permission rule can allow it; write the command without $(...), "
                               "backticks or <(...), or run brock interactively.");
            } else {
                buf_addstr(&b, " Run brock interactively to approve it, or choose another --permission-mode.");
            }
        }
    }
    if (buf_status(&b) != BROCK_OK)
        buf_addstr(&b, ""); /* a cut message is still a message */
    d->message = buf_take(&b);
    buf_free(&b);
    return d->verdict;
}

static char *rule_why(const char *what, const struct erule *er)
{
    return fmt("%s the %s rule `%s`", what, perm_list_name(er->list), er->r->text);
}

/* The first rule of `list` for which match() holds. */
typedef bool rule_pred(const struct perm_rule *r, const void *arg);

static const struct erule *first_rule(const struct perm_engine *pe, enum perm_list list, const char *tool,
                                      enum perm_tool_class cls, rule_pred *pred, const void *arg)
{
    for (size_t i = 0; i < pe->nrules; i++) {
        const struct erule *er = &pe->rules[i];
        if (er->list != list || !perm_rule_covers_tool(er->r, tool, cls))
            continue;
        if (er->r->kind == PERM_RULE_TOOL || er->r->kind == PERM_RULE_MCP || pred(er->r, arg))
            return er;
    }
    return NULL;
}

/* Allow rule naming exactly `path` (what overrides a built-in secret denial). */
static const struct erule *exact_allow(const struct perm_engine *pe, const char *path, bool edit)
{
    for (size_t i = 0; i < pe->nrules; i++) {
        const struct erule *er = &pe->rules[i];
        if (er->list == PERM_LIST_ALLOW && er->r->exact && !er->r->dir_only &&
            er->r->kind == (edit ? PERM_RULE_EDIT : PERM_RULE_READ) && !strcmp(er->r->base, path))
            return er;
    }
    return NULL;
}

static bool secret(const struct perm_engine *pe, const char *path, bool edit)
{
    return perm_path_is_secret(path, pe->home, pe->config_home) && !exact_allow(pe, path, edit);
}

/* --- Files ------------------------------------------------------------- */

struct path_arg {
    const char *path;
    bool is_dir, search;
};

static bool pred_path(const struct perm_rule *r, const void *arg)
{
    const struct path_arg *a = arg;
    return perm_rule_match_path(r, a->path, a->is_dir, a->search);
}

static enum perm_verdict check_path(const struct perm_engine *pe, struct perm_decision *d,
                                    enum perm_tool_class cls)
{
    const char *tool = d->tool;
    bool edit = cls == PERM_TOOL_EDIT;
    const char *subj = d->subject;
    if (!subj || !*subj) {
        if (cls != PERM_TOOL_SEARCH)
            return finish(pe, d, cls, PERM_DENY, PERM_WHY_UNCHECKABLE, NULL, "has no file path");
        subj = pe->cwd;
    }
    char *p = expand_tilde(pe, subj);
    char res[PERM_PATH_MAX];
    bool is_dir = false;
    struct brock_err re = {0};
    enum brock_status rst = perm_resolve_from(pe->cwd, p, res, &is_dir, &re);
    free(p);
    if (rst != BROCK_OK) {
        char *w = fmt("cannot be checked: %s", re.msg);
        enum perm_verdict v = finish(pe, d, cls, PERM_DENY, PERM_WHY_UNCHECKABLE, NULL, w);
        free(w);
        return v;
    }
    d->resolved = xstrdup(res);
    struct path_arg a = {res, is_dir, cls == PERM_TOOL_SEARCH};
    const struct erule *er;
    char *w;
    enum perm_verdict v;

    if ((er = first_rule(pe, PERM_LIST_DENY, tool, cls, pred_path, &a))) {
        w = rule_why("matches", er);
        v = finish(pe, d, cls, PERM_DENY, PERM_WHY_RULE, er, w);
        free(w);
        return v;
    }
    if (secret(pe, res, edit)) {
        w = fmt("is a protected secret location (built-in); only an allow rule naming exactly this path, "
                "such as `%s(//%s)`, can allow it",
                edit ? "Edit" : "Read", res + 1);
        v = finish(pe, d, cls, PERM_DENY, PERM_WHY_SECRET, NULL, w);
        free(w);
        return v;
    }
    if (pe->mode == PERM_MODE_PLAN && edit)
        return finish(pe, d, cls, PERM_DENY, PERM_WHY_PLAN, NULL,
                      "is not possible in plan mode, which is read-only; leave plan mode to make changes");
    if ((er = first_rule(pe, PERM_LIST_ASK, tool, cls, pred_path, &a))) {
        w = rule_why("matches", er);
        v = finish(pe, d, cls, PERM_ASK, PERM_WHY_RULE, er, w);
        free(w);
        return v;
    }
    if ((er = first_rule(pe, PERM_LIST_ALLOW, tool, cls, pred_path, &a))) {
        w = rule_why("is allowed by", er);
        v = finish(pe, d, cls, PERM_ALLOW, PERM_WHY_RULE, er, w);
        free(w);
        return v;
    }
    bool inside = in_workspace(pe, res);
    bool prot = edit && is_protected(pe, res);
    if (pe->mode == PERM_MODE_BYPASS && !prot)
        return finish(pe, d, cls, PERM_ALLOW, PERM_WHY_MODE, NULL, "is allowed by bypassPermissions mode");
    if (!edit) {
        if (inside)
            return finish(pe, d, cls, PERM_ALLOW, PERM_WHY_MODE, NULL, "is inside the workspace (read-only tool)");
        char *dir = is_dir ? xstrdup(res) : xmemdup(res, (size_t)(strrchr(res, '/') - res));
        if (!*dir) {
            free(dir);
            dir = xstrdup("/");
        }
        add_suggest(d, path_rule(pe, "Read", dir, false));
        free(dir);
        w = fmt("is outside the workspace (%s%s)", pe->cwd, pe->ndirs > 1 ? " and the additional directories" : "");
        v = finish(pe, d, cls, PERM_ASK, PERM_WHY_OUTSIDE, NULL, w);
        free(w);
        return v;
    }
    if (pe->mode == PERM_MODE_ACCEPT_EDITS && inside && !prot)
        return finish(pe, d, cls, PERM_ALLOW, PERM_WHY_MODE, NULL, "is inside the workspace (acceptEdits mode)");
    if (prot) {
        add_suggest(d, path_rule(pe, "Edit", res, true));
        return finish(pe, d, cls, PERM_ASK, PERM_WHY_MODE, NULL,
                      "touches a protected directory (.git, .brock, .claude, .vscode, .idea or brock's "
                      "configuration), which no mode approves on its own");
    }
    char *dir = xmemdup(res, (size_t)(strrchr(res, '/') - res));
    if (!*dir) {
        free(dir);
        dir = xstrdup("/");
    }
    add_suggest(d, path_rule(pe, "Edit", dir, false));
    free(dir);
    if (!inside) {
        w = fmt("is outside the workspace (%s%s)", pe->cwd, pe->ndirs > 1 ? " and the additional directories" : "");
        v = finish(pe, d, cls, PERM_ASK, PERM_WHY_OUTSIDE, NULL, w);
        free(w);
        return v;
    }
    w = fmt("changes a file, which %s mode asks about", perm_mode_name(pe->mode));
    v = finish(pe, d, cls, PERM_ASK, PERM_WHY_MODE, NULL, w);
    free(w);
    return v;
}

/* --- Bash -------------------------------------------------------------- */

#define MAX_VARIANTS 5
#define MAX_CD 16

struct part_text {
    char *deny[MAX_VARIANTS]; /* for deny and ask rules: over-matching is the safe side */
    size_t ndeny;
    char *allow[2];           /* for allow rules: as written, and without harmless wrappers */
    size_t nallow;
};

static void add_variant(char **arr, size_t *n, size_t cap, char *v)
{
    if (!v[0] || *n >= cap) {
        free(v);
        return;
    }
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(arr[i], v)) {
            free(v);
            return;
        }
    arr[(*n)++] = v;
}

static struct part_text *part_texts(const struct perm_shell *sh)
{
    struct part_text *pt = xcalloc(sh->nparts ? sh->nparts : 1, sizeof *pt);
    for (size_t i = 0; i < sh->nparts; i++) {
        const struct perm_part *p = &sh->parts[i];
        size_t end = p->first + p->n;
        size_t ds = perm_shell_command_start(sh, p, true);
        size_t as = perm_shell_command_start(sh, p, false);
        struct part_text *t = &pt[i];
        add_variant(t->deny, &t->ndeny, MAX_VARIANTS, perm_shell_join(sh, p->first, end, false, false));
        add_variant(t->deny, &t->ndeny, MAX_VARIANTS, perm_shell_join(sh, p->first, end, true, false));
        add_variant(t->deny, &t->ndeny, MAX_VARIANTS, perm_shell_join(sh, ds, end, false, false));
        add_variant(t->deny, &t->ndeny, MAX_VARIANTS, perm_shell_join(sh, ds, end, true, false));
        add_variant(t->deny, &t->ndeny, MAX_VARIANTS, perm_shell_join(sh, ds, end, true, true));
        add_variant(t->allow, &t->nallow, 2, perm_shell_join(sh, p->first, end, false, false));
        if (as < end)
            add_variant(t->allow, &t->nallow, 2, perm_shell_join(sh, as, end, false, false));
    }
    return pt;
}

static void part_texts_free(struct part_text *pt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < pt[i].ndeny; k++)
            free(pt[i].deny[k]);
        for (size_t k = 0; k < pt[i].nallow; k++)
            free(pt[i].allow[k]);
    }
    free(pt);
}

/* A rule of `list` matching any part (deny/ask variants). *part = its index. */
static const struct erule *bash_rule(const struct perm_engine *pe, enum perm_list list, const struct perm_shell *sh,
                                     const struct part_text *pt, size_t *part)
{
    for (size_t i = 0; i < pe->nrules; i++) {
        const struct erule *er = &pe->rules[i];
        if (er->list != list || !perm_rule_covers_tool(er->r, "Bash", PERM_TOOL_BASH))
            continue;
        if (er->r->kind == PERM_RULE_TOOL) {
            *part = SIZE_MAX;
            return er;
        }
        for (size_t p = 0; p < sh->nparts; p++)
            for (size_t k = 0; k < pt[p].ndeny; k++)
                if (perm_rule_match_command(er->r, pt[p].deny[k])) {
                    *part = p;
                    return er;
                }
    }
    return NULL;
}

static const struct erule *bash_allow(const struct perm_engine *pe, const struct part_text *t)
{
    for (size_t i = 0; i < pe->nrules; i++) {
        const struct erule *er = &pe->rules[i];
        if (er->list != PERM_LIST_ALLOW || er->r->kind != PERM_RULE_BASH)
            continue;
        for (size_t k = 0; k < t->nallow; k++)
            if (perm_rule_match_command(er->r, t->allow[k]))
                return er;
    }
    return NULL;
}

/* Does a word of the command name a built-in secret path? */
static bool word_secret(const struct perm_engine *pe, const char *v, bool tilde, char *found)
{
    if (!v[0] || strlen(v) > 1024)
        return false;
    char *p = tilde ? expand_tilde(pe, v) : xstrdup(v);
    char res[PERM_PATH_MAX];
    bool hit = perm_resolve_from(pe->cwd, p, res, NULL, NULL) == BROCK_OK && secret(pe, res, false);
    free(p);
    if (hit)
        memcpy(found, res, strlen(res) + 1);
    return hit;
}

static bool bash_secret(const struct perm_engine *pe, const struct perm_shell *sh, char *found)
{
    for (size_t i = 0; i < sh->nwords; i++) {
        const struct perm_word *w = &sh->words[i];
        if (w->expands)
            continue;
        bool tilde = w->raw[0] == '~';
        if (word_secret(pe, w->val, tilde, found))
            return true;
        const char *eq = strchr(w->val, '=');
        if (eq && (w->assign || w->val[0] == '-') && word_secret(pe, eq + 1, eq[1] == '~', found))
            return true;
    }
    for (size_t i = 0; i < sh->nredirs; i++) {
        const struct perm_redirect *r = &sh->redirs[i];
        if (!r->expands && word_secret(pe, r->target, r->target[0] == '~', found))
            return true;
    }
    return false;
}

/* `cd DIR` to a literal directory inside the workspace, resolved against every
 * directory the command may be in by then. */
static bool cd_part(const struct perm_engine *pe, const struct perm_shell *sh, const struct perm_part *p,
                    char **cds, size_t *ncd)
{
    size_t s0 = perm_shell_command_start(sh, p, false);
    size_t end = p->first + p->n;
    if (end - s0 != 2 || strcmp(sh->words[s0].raw, "cd") || sh->words[s0 + 1].expands)
        return false;
    const char *t = sh->words[s0 + 1].val;
    if (!t[0] || !strcmp(t, "-"))
        return false;
    char *tp = expand_tilde(pe, t);
    char *add[MAX_CD];
    size_t nadd = 0;
    bool ok = true;
    for (size_t i = 0; i < *ncd && ok; i++) {
        char res[PERM_PATH_MAX];
        if (perm_resolve_from(cds[i], tp, res, NULL, NULL) != BROCK_OK || !in_workspace(pe, res)) {
            ok = false;
            break;
        }
        bool dup = false;
        for (size_t k = 0; k < *ncd && !dup; k++)
            dup = !strcmp(cds[k], res);
        for (size_t k = 0; k < nadd && !dup; k++)
            dup = !strcmp(add[k], res);
        if (!dup) {
            if (*ncd + nadd >= MAX_CD) {
                ok = false;
                break;
            }
            add[nadd++] = xstrdup(res);
        }
    }
    free(tp);
    for (size_t k = 0; k < nadd; k++) {
        if (ok)
            cds[(*ncd)++] = add[k];
        else
            free(add[k]);
    }
    return ok;
}

/* Output redirections of an allowed command must write inside the workspace
 * (outside the protected directories), from every directory it may be in. */
static bool redirects_ok(const struct perm_engine *pe, const struct perm_shell *sh, char **cds, size_t ncd,
                         const char **bad)
{
    static const char *const devs[] = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/1",
                                       "/dev/fd/2"};
    for (size_t i = 0; i < sh->nredirs; i++) {
        const struct perm_redirect *r = &sh->redirs[i];
        if (!r->output)
            continue;
        *bad = r->target;
        if (r->expands)
            return false;
        bool dev = false;
        for (size_t k = 0; k < BROCK_ARRAY_LEN(devs) && !dev; k++)
            dev = !strcmp(r->target, devs[k]);
        if (dev)
            continue;
        char *tp = expand_tilde(pe, r->target);
        bool ok = true;
        for (size_t k = 0; k < ncd && ok; k++) {
            char res[PERM_PATH_MAX];
            ok = perm_resolve_from(cds[k], tp, res, NULL, NULL) == BROCK_OK && in_workspace(pe, res) &&
                 !is_protected(pe, res);
        }
        free(tp);
        if (!ok)
            return false;
    }
    *bad = NULL;
    return true;
}

static enum perm_verdict check_bash(const struct perm_engine *pe, struct perm_decision *d)
{
    const enum perm_tool_class cls = PERM_TOOL_BASH;
    if (!d->subject || !*d->subject)
        return finish(pe, d, cls, PERM_DENY, PERM_WHY_UNCHECKABLE, NULL, "is empty");
    struct perm_shell sh;
    perm_shell_parse(d->subject, strlen(d->subject), &sh);
    struct part_text *pt = part_texts(&sh);
    char *cds[MAX_CD];
    size_t ncd = 0;
    enum perm_verdict v;
    const struct erule *er;
    size_t part;
    char *w = NULL;
    char found[PERM_PATH_MAX];

    if ((er = bash_rule(pe, PERM_LIST_DENY, &sh, pt, &part))) {
        w = part == SIZE_MAX ? rule_why("matches", er)
                             : fmt("has a part (`%.200s`) that matches the deny rule `%s`", pt[part].deny[0],
                                   er->r->text);
        v = finish(pe, d, cls, PERM_DENY, PERM_WHY_RULE, er, w);
        goto out;
    }
    if (bash_secret(pe, &sh, found)) {
        w = fmt("names %s, a protected secret location (built-in); only an allow rule naming exactly this "
                "path, such as `Read(//%s)`, can allow it",
                found, found + 1);
        v = finish(pe, d, cls, PERM_DENY, PERM_WHY_SECRET, NULL, w);
        goto out;
    }
    if (pe->mode == PERM_MODE_PLAN) {
        v = finish(pe, d, cls, PERM_DENY, PERM_WHY_PLAN, NULL,
                   "cannot run in plan mode, which is read-only; leave plan mode to run commands");
        goto out;
    }
    if ((er = bash_rule(pe, PERM_LIST_ASK, &sh, pt, &part))) {
        w = part == SIZE_MAX ? rule_why("matches", er)
                             : fmt("has a part (`%.200s`) that matches the ask rule `%s`", pt[part].deny[0],
                                   er->r->text);
        v = finish(pe, d, cls, PERM_ASK, PERM_WHY_RULE, er, w);
        goto out;
    }
    for (size_t i = 0; i < pe->nrules; i++) {
        er = &pe->rules[i];
        if (er->list == PERM_LIST_ALLOW && er->r->kind == PERM_RULE_TOOL &&
            perm_rule_covers_tool(er->r, "Bash", cls)) {
            w = rule_why("is allowed by", er);
            v = finish(pe, d, cls, PERM_ALLOW, PERM_WHY_RULE, er, w);
            goto out;
        }
    }
    enum perm_why why = PERM_WHY_MODE;
    if (sh.unchecked) {
        why = PERM_WHY_UNCHECKABLE;
        w = xstrdup("is too long or too complex to check against the rules (unterminated quote or here-document, "
                    "or a size limit)");
    } else if (sh.subst) {
        why = PERM_WHY_SUBSTITUTION;
        w = xstrdup("uses command substitution ($(...), backticks or <(...)), which no allow rule can approve");
    } else {
        cds[ncd++] = xstrdup(pe->cwd);
        const struct erule *first = NULL;
        size_t nmissing = 0, firstmiss = SIZE_MAX;
        for (size_t p = 0; p < sh.nparts; p++) {
            if (cd_part(pe, &sh, &sh.parts[p], cds, &ncd))
                continue;
            const struct erule *a = bash_allow(pe, &pt[p]);
            if (a) {
                if (!first)
                    first = a;
                continue;
            }
            nmissing++;
            if (firstmiss == SIZE_MAX)
                firstmiss = p;
            add_suggest(d, perm_shell_suggest(&sh, &sh.parts[p]));
        }
        const char *bad = NULL;
        if (nmissing == 0 && sh.nparts > 0 && redirects_ok(pe, &sh, cds, ncd, &bad)) {
            if (first) {
                w = sh.nparts > 1 ? fmt("is allowed part by part (first by `%s`)", first->r->text)
                                  : rule_why("is allowed by", first);
                v = finish(pe, d, cls, PERM_ALLOW, PERM_WHY_RULE, first, w);
            } else {
                v = finish(pe, d, cls, PERM_ALLOW, PERM_WHY_MODE, NULL,
                           "only changes directory inside the workspace");
            }
            goto out;
        }
        if (nmissing) {
            w = nmissing == 1 && sh.nparts == 1
                    ? fmt("matches no allow rule")
                    : fmt("has %zu of %zu parts that match no allow rule (first: `%.200s`)", nmissing, sh.nparts,
                          pt[firstmiss].allow[0]);
        } else if (sh.nparts == 0) {
            w = xstrdup("runs no command that could be checked");
        } else {
            why = PERM_WHY_OUTSIDE;
            w = fmt("writes to `%.200s`, outside the workspace or in a protected directory", bad ? bad : "?");
        }
    }
    if (pe->mode == PERM_MODE_BYPASS) {
        for (size_t i = 0; i < d->nsuggest; i++)
            free(d->suggest[i]);
        d->nsuggest = 0;
        v = finish(pe, d, cls, PERM_ALLOW, PERM_WHY_MODE, NULL, "is allowed by bypassPermissions mode");
        goto out;
    }
    if (why != PERM_WHY_MODE) {
        for (size_t i = 0; i < d->nsuggest; i++)
            free(d->suggest[i]);
        d->nsuggest = 0;
    }
    v = finish(pe, d, cls, PERM_ASK, why, NULL, w);
out:
    free(w);
    for (size_t i = 0; i < ncd; i++)
        free(cds[i]);
    part_texts_free(pt, sh.nparts);
    perm_shell_cleanup(&sh);
    return v;
}

/* --- Other tools ------------------------------------------------------- */

static bool pred_subject(const struct perm_rule *r, const void *arg)
{
    return perm_rule_match_subject(r, arg);
}

static enum perm_verdict check_other(const struct perm_engine *pe, struct perm_decision *d,
                                     enum perm_tool_class cls)
{
    const struct erule *er;
    char *w;
    enum perm_verdict v;
    if ((er = first_rule(pe, PERM_LIST_DENY, d->tool, cls, pred_subject, d->subject))) {
        w = rule_why("matches", er);
        v = finish(pe, d, cls, PERM_DENY, PERM_WHY_RULE, er, w);
        free(w);
        return v;
    }
    if (pe->mode == PERM_MODE_PLAN && cls != PERM_TOOL_WEBFETCH)
        return finish(pe, d, cls, PERM_DENY, PERM_WHY_PLAN, NULL,
                      "is not available in plan mode, which is read-only");
    if ((er = first_rule(pe, PERM_LIST_ASK, d->tool, cls, pred_subject, d->subject))) {
        w = rule_why("matches", er);
        v = finish(pe, d, cls, PERM_ASK, PERM_WHY_RULE, er, w);
        free(w);
        return v;
    }
    if ((er = first_rule(pe, PERM_LIST_ALLOW, d->tool, cls, pred_subject, d->subject))) {
        w = rule_why("is allowed by", er);
        v = finish(pe, d, cls, PERM_ALLOW, PERM_WHY_RULE, er, w);
        free(w);
        return v;
    }
    if (pe->mode == PERM_MODE_BYPASS)
        return finish(pe, d, cls, PERM_ALLOW, PERM_WHY_MODE, NULL, "is allowed by bypassPermissions mode");
    if (cls == PERM_TOOL_WEBFETCH && d->subject) {
        /* suggest the domain */
        const char *p = strstr(d->subject, "://");
        p = p ? p + 3 : d->subject;
        size_t n = strcspn(p, "/?#:@");
        if (n && n < 256)
            add_suggest(d, fmt("WebFetch(domain:%.*s)", (int)n, p));
    } else {
        add_suggest(d, xstrdup(d->tool));
    }
    w = fmt("needs approval in %s mode", perm_mode_name(pe->mode));
    v = finish(pe, d, cls, PERM_ASK, PERM_WHY_MODE, NULL, w);
    free(w);
    return v;
}

enum perm_verdict perm_check(const struct perm_engine *pe, const char *tool, const char *subject,
                             struct perm_decision *d)
{
    memset(d, 0, sizeof *d);
    d->tool = xstrdup(tool ? tool : "");
    d->subject = subject ? xstrdup(subject) : NULL;
    d->mode = pe->mode;
    d->time_ms = clock_now_ms(pe->clock);
    enum perm_tool_class cls = perm_tool_class(d->tool);
    switch (cls) {
    case PERM_TOOL_TODO:
        return finish(pe, d, cls, PERM_ALLOW, PERM_WHY_MODE, NULL, "is always allowed (it only keeps a list)");
    case PERM_TOOL_READ:
    case PERM_TOOL_SEARCH:
    case PERM_TOOL_EDIT:
        return check_path(pe, d, cls);
    case PERM_TOOL_BASH:
        return check_bash(pe, d);
    default:
        return check_other(pe, d, cls);
    }
}

/* The directory a Glob pattern can reach: `path` joined with the pattern's
 * literal leading directories (all but the last component, up to the first
 * wildcard); "/" if a ".." follows a wildcard. */
static char *glob_dir(const char *path, const char *pattern)
{
    struct buf b = BUF_INIT(PERM_PATH_MAX);
    const char *p = pattern ? pattern : "";
    if (p[0] == '/')
        buf_addc(&b, '/');
    else
        buf_addstr(&b, path);
    bool wild = false;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        const char *after = p + n;
        while (*after == '/')
            after++;
        bool last = *after == '\0';
        for (size_t i = 0; i < n; i++)
            if (strchr("*?[{\\", p[i]))
                wild = true;
        if (wild) {
            if (n == 2 && p[0] == '.' && p[1] == '.') {
                buf_free(&b);
                return xstrdup("/");
            }
        } else if (!last) {
            buf_addc(&b, '/');
            buf_add(&b, p, n);
        }
        p += n;
    }
    char *r = buf_status(&b) == BROCK_OK ? buf_take(&b) : xstrdup("/");
    buf_free(&b);
    return r;
}

enum perm_verdict perm_check_input(const struct perm_engine *pe, const char *tool, const json_t *input,
                                   struct perm_decision *d)
{
    enum perm_tool_class cls = perm_tool_class(tool ? tool : "");
    const char *subj = NULL;
    char *own = NULL;
    switch (cls) {
    case PERM_TOOL_BASH:
        subj = json_str(input, "command");
        break;
    case PERM_TOOL_READ:
    case PERM_TOOL_EDIT:
        subj = json_str(input, "file_path");
        if (!subj)
            subj = json_str(input, "notebook_path");
        break;
    case PERM_TOOL_SEARCH:
        subj = json_str(input, "path");
        if (tool && !strcmp(tool, "Glob"))
            subj = own = glob_dir(subj ? subj : pe->cwd, json_str(input, "pattern"));
        break;
    case PERM_TOOL_WEBFETCH:
        subj = json_str(input, "url");
        break;
    default:
        break;
    }
    enum perm_verdict v = perm_check(pe, tool, subj, d);
    free(own);
    return v;
}

/* --- Answers ----------------------------------------------------------- */

enum brock_status perm_settings_add_allow(const char *path, const char *const *rules, size_t n,
                                          struct brock_err *e)
{
    const char *sl = strrchr(path, '/');
    if (!sl || sl == path)
        return err_set(e, BROCK_ERR_USAGE, "%s: not an absolute file path", path);
    char *dir = xmemdup(path, (size_t)(sl - path));
    enum brock_status st = fs_mkdirs(dir, 0755, e);
    int dfd = -1;
    json_t *root = NULL;
    struct buf b = BUF_INIT(SETTINGS_MAX_FILE_BYTES);
    if (st != BROCK_OK)
        goto out;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || flock(dfd, LOCK_EX) != 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: cannot lock: %s", dir, strerror(errno));
        goto out;
    }
    mode_t mode = 0600;
    struct brock_err re = {0};
    st = perm_read_regular(path, SETTINGS_MAX_FILE_BYTES, false, &b, NULL, NULL, NULL, &re);
    if (st == BROCK_ERR_NOT_FOUND) {
        root = json_object();
        st = BROCK_OK;
    } else if (st != BROCK_OK) {
        st = err_set(e, st, "%s", re.msg);
        goto out;
    } else {
        struct stat sb;
        if (stat(path, &sb) == 0)
            mode = sb.st_mode & 07777;
        size_t k = 0;
        while (k < b.len && strchr(" \t\r\n", b.ptr[k]) && b.ptr[k])
            k++;
        if (k == b.len) {
            root = json_object();
        } else if ((st = perm_json_load(b.ptr, b.len, path, &root, e)) != BROCK_OK) {
            goto out;
        } else if (!json_is_object(root)) {
            st = err_set(e, BROCK_ERR_CONFIG, "%s: not a JSON object; not changed", path);
            goto out;
        }
    }
    json_t *perms = json_object_get(root, "permissions");
    if (!perms) {
        perms = json_object();
        json_object_set_new(root, "permissions", perms);
    } else if (!json_is_object(perms)) {
        st = err_set(e, BROCK_ERR_CONFIG, "%s: \"permissions\" is not an object; not changed", path);
        goto out;
    }
    json_t *allow = json_object_get(perms, "allow");
    if (!allow) {
        allow = json_array();
        json_object_set_new(perms, "allow", allow);
    } else if (!json_is_array(allow)) {
        st = err_set(e, BROCK_ERR_CONFIG, "%s: \"permissions.allow\" is not an array; not changed", path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bool have = false;
        size_t k;
        json_t *v;
        json_array_foreach(allow, k, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), rules[i]))
                have = true;
        }
        if (!have)
            json_array_append_new(allow, json_string(rules[i]));
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        st = err_set(e, BROCK_ERR_INTERNAL, "%s: cannot serialise the settings", path);
        goto out;
    }
    size_t tl = strlen(text);
    char *data = xmalloc(tl + 2);
    memcpy(data, text, tl);
    data[tl] = '\n';
    free(text);
    st = fs_write_atomic(path, data, tl + 1, mode, e);
    free(data);
out:
    json_decref(root);
    buf_free(&b);
    if (dfd >= 0)
        close(dfd); /* releases the lock */
    free(dir);
    return st;
}

enum brock_status perm_answer(struct perm_engine *pe, struct perm_decision *d, enum perm_answer a,
                              const char *feedback, struct brock_err *e)
{
    if (d->verdict != PERM_ASK || d->answer != PERM_ANSWER_NONE)
        return err_set(e, BROCK_ERR_USAGE, "this decision is not waiting for an answer");
    switch (a) {
    case PERM_ANSWER_YES:
        d->verdict = PERM_ALLOW;
        break;
    case PERM_ANSWER_NO:
        d->verdict = PERM_DENY;
        free(d->feedback);
        d->feedback = feedback ? xstrdup(feedback) : NULL;
        break;
    case PERM_ANSWER_ALWAYS: {
        if (!d->nsuggest)
            return err_set(e, BROCK_ERR_USAGE, "no rule can allow this for good; answer yes or no");
        struct perm_rule *parsed[PERM_MAX_SUGGEST] = {0};
        struct perm_rule_ctx ctx = {pe->cwd, pe->home, pe->cwd};
        for (size_t i = 0; i < d->nsuggest; i++) {
            struct brock_err re = {0};
            if (perm_rule_parse(d->suggest[i], &ctx, &parsed[i], &re) != BROCK_OK) {
                for (size_t k = 0; k < i; k++)
                    perm_rule_free(parsed[k]);
                return err_set(e, BROCK_ERR_INTERNAL, "suggested rule \"%.200s\" does not parse: %s", d->suggest[i],
                               re.msg);
            }
        }
        enum brock_status st =
            perm_settings_add_allow(pe->local_path, (const char *const *)d->suggest, d->nsuggest, e);
        if (st != BROCK_OK) {
            for (size_t k = 0; k < d->nsuggest; k++)
                perm_rule_free(parsed[k]);
            return st;
        }
        for (size_t k = 0; k < d->nsuggest; k++)
            push_rule(pe, parsed[k], PERM_LIST_ALLOW, pe->local_path);
        d->verdict = PERM_ALLOW;
        break;
    }
    default:
        return err_set(e, BROCK_ERR_USAGE, "not an answer");
    }
    d->answer = a;
    d->why = PERM_WHY_USER;
    d->time_ms = clock_now_ms(pe->clock);
    free(d->message);
    if (a == PERM_ANSWER_NO)
        d->message = d->feedback ? fmt("The user refused this tool call and said: %s", d->feedback)
                                 : xstrdup("The user refused this tool call.");
    else if (a == PERM_ANSWER_ALWAYS)
        d->message = fmt("The user allowed this and added %zu rule%s to %s.", d->nsuggest,
                         d->nsuggest == 1 ? "" : "s", pe->local_path);
    else
        d->message = xstrdup("The user allowed this tool call once.");
    return BROCK_OK;
}

/* --- Records ----------------------------------------------------------- */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

json_t *perm_decision_json(const struct perm_decision *d)
{
    json_t *o = json_object();
    set_str(o, "tool", d->tool);
    set_str(o, "subject", d->subject);
    set_str(o, "resolved", d->resolved);
    set_str(o, "decision", perm_verdict_name(d->verdict));
    set_str(o, "why", perm_why_name(d->why));
    json_object_set_new(o, "asked", json_boolean(d->asked));
    if (d->rule) {
        set_str(o, "rule", d->rule);
        set_str(o, "rule_list", perm_list_name(d->rule_list));
    }
    set_str(o, "rule_source", d->rule_source);
    set_str(o, "mode", perm_mode_name(d->mode));
    set_str(o, "message", d->message);
    if (d->nsuggest) {
        json_t *a = json_array();
        for (size_t i = 0; i < d->nsuggest; i++)
            json_array_append_new(a, json_string(d->suggest[i]));
        json_object_set_new(o, "suggest", a);
    }
    set_str(o, "answer", perm_answer_name(d->answer));
    set_str(o, "feedback", d->feedback);
    json_object_set_new(o, "time_ms", json_integer(d->time_ms));
    return o;
}
