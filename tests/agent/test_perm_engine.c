/* Tests for the permission engine: every mode, precedence deny > ask > allow,
 * Bash compound commands, path conventions, symlink and `..` escapes,
 * built-in secret denials, non-interactive refusals, "always allow" writing
 * the local settings file, decision records.
 *
 * A fixture tree is built in a temporary directory:
 *   T/ws      the working directory (project root)
 *   T/home    $HOME, with .aws and .ssh
 *   T/cfg     $XDG_CONFIG_HOME
 *   T/out     a directory outside the workspace
 * Subjects and rules may say @W @H @O @C @T for those paths. */
#include "../support/test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/perm.h"
#include "../../src/agent/settings.h"
#include "../../src/util/fs.h"

static char *T, *W, *H, *O, *C;

static void mkfile(const char *rel, const char *content)
{
    char *p = fs_join(T, rel);
    char *d = strdup(p);
    *strrchr(d, '/') = '\0';
    assert_int_equal(fs_mkdirs(d, 0755, NULL), BROCK_OK);
    test_write_file(p, content);
    free(d);
    free(p);
}

static void mkdirs(const char *rel)
{
    char *p = fs_join(T, rel);
    assert_int_equal(fs_mkdirs(p, 0755, NULL), BROCK_OK);
    free(p);
}

static void mklink(const char *target, const char *rel)
{
    char *p = fs_join(T, rel);
    if (symlink(target, p) != 0)
        fail_msg("symlink %s: %s", p, strerror(errno));
    free(p);
}

/* Replace @W @H @O @C @T. */
static char *expand(const char *s)
{
    if (!s)
        return NULL;
    size_t cap = strlen(s) * 8 + 4096;
    char *out = malloc(cap);
    size_t o = 0;
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        if (p[0] == '@') {
            switch (p[1]) {
            case 'W': rep = W; break;
            case 'H': rep = H; break;
            case 'O': rep = O; break;
            case 'C': rep = C; break;
            case 'T': rep = T; break;
            default: break;
            }
        }
        if (rep) {
            size_t l = strlen(rep);
            memcpy(out + o, rep, l);
            o += l;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

static int64_t fixed_now(void *ctx)
{
    (void)ctx;
    return 1700000000123;
}
static const struct clock fixed_clock = {fixed_now, NULL, NULL};

static struct settings *mk_settings(void)
{
    char *uf = fs_join(C, "brock/settings.json");
    struct settings_opts o = {.cwd = W, .home = H, .user_file = uf};
    struct settings *s;
    assert_int_equal(settings_new(&o, &s, NULL), BROCK_OK);
    free(uf);
    return s;
}

static struct perm_engine *mk_engine(struct settings *s, bool interactive)
{
    struct perm_env env = {.cwd = W, .home = H, .config_home = C, .interactive = interactive, .clock = &fixed_clock};
    struct perm_engine *pe;
    struct brock_err e = {0};
    if (perm_engine_new(s, &env, &pe, &e) != BROCK_OK)
        fail_msg("engine: %s", e.msg);
    return pe;
}

static void add_rules(struct settings *s, enum perm_list l, const char *rules)
{
    if (!rules)
        return;
    char *r = expand(rules);
    struct brock_err e = {0};
    if (settings_cli_rules(s, l, "--test", r, &e) != BROCK_OK)
        fail_msg("rules %s: %s", r, e.msg);
    free(r);
}

static struct perm_engine *engine_with(const char *mode, const char *allow, const char *ask, const char *deny,
                                       bool interactive)
{
    struct settings *s = mk_settings();
    add_rules(s, PERM_LIST_ALLOW, allow);
    add_rules(s, PERM_LIST_ASK, ask);
    add_rules(s, PERM_LIST_DENY, deny);
    if (mode)
        assert_int_equal(settings_cli_mode(s, mode, NULL), BROCK_OK);
    struct perm_engine *pe = mk_engine(s, interactive);
    settings_free(s);
    return pe;
}

static int setup(void **state)
{
    (void)state;
    char *t = test_tmpdir();
    T = realpath(t, NULL);
    free(t);
    W = fs_join(T, "ws");
    H = fs_join(T, "home");
    O = fs_join(T, "out");
    C = fs_join(T, "cfg");
    setenv("XDG_CONFIG_HOME", C, 1);
    mkfile("ws/src/a.c", "int a;\n");
    mkfile("ws/docs/a.md", "doc\n");
    mkfile("ws/docs/sub/b.md", "doc\n");
    mkdirs("ws/sub");
    mkfile("ws/.git/config", "[core]\n");
    mkfile("ws/.env", "SECRET=1\n");
    mkfile("ws/.env.example", "SECRET=\n");
    mkfile("ws/py/.env/lib/x.py", "x = 1\n");
    mkfile("ws/secrets/k.txt", "k\n");
    mkdirs("ws/protected");
    mkfile("out/f.txt", "f\n");
    mkfile("out/sub/g.txt", "g\n");
    mkfile("home/.aws/credentials", "[default]\n");
    mkfile("home/.aws/config", "[default]\n");
    mkfile("home/.ssh/id_rsa", "KEY\n");
    mkfile("home/docs/x.pdf", "pdf\n");
    mkdirs("cfg/brock");
    mklink(O, "ws/link_out");
    char *k = fs_join(H, ".ssh/id_rsa");
    mklink(k, "ws/link_ssh");
    free(k);
    mklink("loop2", "ws/loop1");
    mklink("loop1", "ws/loop2");
    mklink("protected", "ws/alias");
    return 0;
}

/* --- The decision table ------------------------------------------------ */

struct row {
    const char *mode;
    const char *allow, *ask, *deny;
    const char *tool, *subject;
    enum perm_verdict v;
    enum perm_why why;
    const char *msg; /* expected in the message, or NULL */
};

#define A PERM_ALLOW
#define Q PERM_ASK
#define D PERM_DENY

static const struct row rows[] = {
    /* default mode: reads */
    {NULL, NULL, NULL, NULL, "Read", "@W/src/a.c", A, PERM_WHY_MODE, "inside the workspace"},
    {NULL, NULL, NULL, NULL, "Read", "src/a.c", A, PERM_WHY_MODE, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@O/f.txt", Q, PERM_WHY_OUTSIDE, "outside the workspace"},
    {NULL, NULL, NULL, NULL, "Read", "src/../../out/f.txt", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@W/link_out/f.txt", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@W/link_ssh", D, PERM_WHY_SECRET, "protected secret"},
    {NULL, NULL, NULL, NULL, "Read", "@H/.aws/credentials", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Read", "~/.aws/config", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@W/.env", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@W/sub/.env.local", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@W/.env.example", A, PERM_WHY_MODE, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@W/py/.env/lib/x.py", A, PERM_WHY_MODE, NULL},
    {NULL, NULL, NULL, NULL, "Read", "@W/loop1/x", D, PERM_WHY_UNCHECKABLE, "symbolic links"},
    {NULL, NULL, NULL, NULL, "Read", "", D, PERM_WHY_UNCHECKABLE, NULL},
    {NULL, NULL, NULL, NULL, "Read", NULL, D, PERM_WHY_UNCHECKABLE, NULL},
    {NULL, NULL, NULL, NULL, "Glob", NULL, A, PERM_WHY_MODE, NULL},
    {NULL, NULL, NULL, NULL, "Grep", "@O", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, NULL, NULL, NULL, "LS", "@H/.ssh", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "TodoWrite", NULL, A, PERM_WHY_MODE, NULL},
    /* default mode: edits and others ask */
    {NULL, NULL, NULL, NULL, "Edit", "@W/src/a.c", Q, PERM_WHY_MODE, "default mode asks"},
    {NULL, NULL, NULL, NULL, "Write", "@W/new.txt", Q, PERM_WHY_MODE, NULL},
    {NULL, NULL, NULL, NULL, "Edit", "@O/f.txt", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, NULL, NULL, NULL, "Edit", "@H/.ssh/authorized_keys", D, PERM_WHY_SECRET, "Edit(//"},
    {NULL, NULL, NULL, NULL, "Bash", "ls", Q, PERM_WHY_MODE, "matches no allow rule"},
    {NULL, NULL, NULL, NULL, "Bash", "", D, PERM_WHY_UNCHECKABLE, NULL},
    {NULL, NULL, NULL, NULL, "mcp__gh__issue", NULL, Q, PERM_WHY_MODE, NULL},
    {NULL, NULL, NULL, NULL, "Task", "x", Q, PERM_WHY_MODE, NULL},
    /* acceptEdits */
    {"acceptEdits", NULL, NULL, NULL, "Edit", "@W/src/a.c", A, PERM_WHY_MODE, "acceptEdits"},
    {"acceptEdits", NULL, NULL, NULL, "Write", "@W/src/../new.c", A, PERM_WHY_MODE, NULL},
    {"acceptEdits", NULL, NULL, NULL, "NotebookEdit", "@W/n.ipynb", A, PERM_WHY_MODE, NULL},
    {"acceptEdits", NULL, NULL, NULL, "MultiEdit", "@W/link_out/f.txt", Q, PERM_WHY_OUTSIDE, NULL},
    {"acceptEdits", NULL, NULL, NULL, "Edit", "@W/.git/config", Q, PERM_WHY_MODE, "protected directory"},
    {"acceptEdits", NULL, NULL, NULL, "Write", "@W/.brock/settings.json", Q, PERM_WHY_MODE, NULL},
    {"acceptEdits", NULL, NULL, NULL, "Write", "@W/sub/.claude/x", Q, PERM_WHY_MODE, NULL},
    {"acceptEdits", NULL, NULL, NULL, "Edit", "@C/brock/settings.json", Q, PERM_WHY_MODE, NULL},
    {"acceptEdits", NULL, NULL, NULL, "Bash", "ls", Q, PERM_WHY_MODE, NULL},
    {"acceptEdits", NULL, NULL, NULL, "Read", "@O/f.txt", Q, PERM_WHY_OUTSIDE, NULL},
    /* plan */
    {"plan", NULL, NULL, NULL, "Read", "@W/src/a.c", A, PERM_WHY_MODE, NULL},
    {"plan", NULL, NULL, NULL, "Grep", "@W", A, PERM_WHY_MODE, NULL},
    {"plan", NULL, NULL, NULL, "Edit", "@W/src/a.c", D, PERM_WHY_PLAN, "plan mode"},
    {"plan", "Edit", NULL, NULL, "Write", "@W/x", D, PERM_WHY_PLAN, "read-only"},
    {"plan", "Bash", NULL, NULL, "Bash", "ls", D, PERM_WHY_PLAN, "plan mode"},
    {"plan", NULL, NULL, NULL, "mcp__gh__issue", NULL, D, PERM_WHY_PLAN, NULL},
    {"plan", NULL, NULL, NULL, "TodoWrite", NULL, A, PERM_WHY_MODE, NULL},
    {"plan", NULL, NULL, NULL, "Read", "@O/f.txt", Q, PERM_WHY_OUTSIDE, NULL},
    {"plan", NULL, NULL, "Read(/@O/**)", "Read", "@O/f.txt", D, PERM_WHY_RULE, NULL},
    /* bypassPermissions */
    {"bypassPermissions", NULL, NULL, NULL, "Bash", "rm -rf /", A, PERM_WHY_MODE, "bypassPermissions"},
    {"bypassPermissions", NULL, NULL, NULL, "Bash", "echo $(id)", A, PERM_WHY_MODE, NULL},
    {"bypassPermissions", NULL, NULL, NULL, "Edit", "@O/f.txt", A, PERM_WHY_MODE, NULL},
    {"bypassPermissions", NULL, NULL, NULL, "mcp__a__b", NULL, A, PERM_WHY_MODE, NULL},
    {"bypassPermissions", NULL, NULL, "Bash(rm:*)", "Bash", "rm -rf x", D, PERM_WHY_RULE, "Bash(rm:*)"},
    {"bypassPermissions", NULL, NULL, NULL, "Read", "@H/.aws/credentials", D, PERM_WHY_SECRET, NULL},
    {"bypassPermissions", NULL, "Bash(git push:*)", NULL, "Bash", "git push", Q, PERM_WHY_RULE, NULL},
    {"bypassPermissions", NULL, NULL, NULL, "Edit", "@W/.git/config", Q, PERM_WHY_MODE, NULL},
    /* precedence: deny > ask > allow, whatever the order of the files */
    {NULL, "Bash(git:*)", "Bash(git push:*)", "Bash(git push --force:*)", "Bash", "git status", A, PERM_WHY_RULE, "Bash(git:*)"},
    {NULL, "Bash(git:*)", "Bash(git push:*)", "Bash(git push --force:*)", "Bash", "git push", Q, PERM_WHY_RULE, "ask rule"},
    {NULL, "Bash(git:*)", "Bash(git push:*)", "Bash(git push --force:*)", "Bash", "git push --force origin", D, PERM_WHY_RULE, "deny rule"},
    {NULL, "Read(/@O/**)", NULL, "Read(/@O/sub/**)", "Read", "@O/f.txt", A, PERM_WHY_RULE, NULL},
    {NULL, "Read(/@O/**)", NULL, "Read(/@O/sub/**)", "Read", "@O/sub/g.txt", D, PERM_WHY_RULE, NULL},
    {NULL, "Read(/@O/**)", NULL, NULL, "Read", "@W/link_out/f.txt", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit", NULL, "Edit(*.lock)", "Edit", "@W/deep/yarn.lock", D, PERM_WHY_RULE, NULL},
    {NULL, "Edit", NULL, "Edit(*.lock)", "Write", "@W/deep/a.c", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit", NULL, "Edit(/protected/**)", "Edit", "@W/alias/f", D, PERM_WHY_RULE, NULL},
    {NULL, "Read", "Read(/secrets/**)", NULL, "Grep", "@W/secrets", Q, PERM_WHY_RULE, NULL},
    {NULL, NULL, NULL, "Read(secrets/)", "LS", "@W/secrets", D, PERM_WHY_RULE, NULL},
    {NULL, NULL, NULL, "Read(secrets/**)", "Read", "@W/secrets/k.txt", D, PERM_WHY_RULE, NULL},
    /* path conventions, through allow rules on edits (which otherwise ask) */
    {NULL, "Edit(/docs/**)", NULL, NULL, "Edit", "@W/docs/a.md", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(/docs/**)", NULL, NULL, "Edit", "@W/src/a.c", Q, PERM_WHY_MODE, NULL},
    {NULL, "Edit(docs/*.md)", NULL, NULL, "Edit", "@W/docs/a.md", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(docs/*.md)", NULL, NULL, "Edit", "@W/docs/sub/b.md", Q, PERM_WHY_MODE, NULL},
    {NULL, "Edit(docs/**/*.md)", NULL, NULL, "Edit", "@W/docs/sub/b.md", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(*.md)", NULL, NULL, "Edit", "@W/docs/sub/b.md", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(./*.md)", NULL, NULL, "Edit", "@W/docs/sub/b.md", Q, PERM_WHY_MODE, NULL},
    {NULL, "Edit(./*.md)", NULL, NULL, "Edit", "@W/top.md", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(~/docs/**)", NULL, NULL, "Edit", "@H/docs/x.pdf", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(//@O/**)", NULL, NULL, "Edit", "@O/sub/g.txt", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(../out/*.txt)", NULL, NULL, "Edit", "@O/f.txt", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(/src/[ab].c)", NULL, NULL, "Edit", "@W/src/a.c", A, PERM_WHY_RULE, NULL},
    {NULL, "Edit(/src/[ab].c)", NULL, NULL, "Edit", "@W/src/c.c", Q, PERM_WHY_MODE, NULL},
    /* built-in secrets: only an exact allow rule overrides */
    {NULL, "Read(/@H/.aws/config)", NULL, NULL, "Read", "@H/.aws/config", A, PERM_WHY_RULE, NULL},
    {NULL, "Read(~/.aws/config)", NULL, NULL, "Read", "~/.aws/config", A, PERM_WHY_RULE, NULL},
    {NULL, "Read(~/.aws/config)", NULL, NULL, "Read", "@H/.aws/credentials", D, PERM_WHY_SECRET, NULL},
    {NULL, "Read(~/.aws/**)", NULL, NULL, "Read", "@H/.aws/config", D, PERM_WHY_SECRET, NULL},
    {NULL, "Read", NULL, NULL, "Read", "@W/.env", D, PERM_WHY_SECRET, NULL},
    {NULL, "Read(./.env)", NULL, NULL, "Read", "@W/.env", A, PERM_WHY_RULE, NULL},
    {NULL, "Read(./.env)", NULL, NULL, "Edit", "@W/.env", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Bash", "cat .env", D, PERM_WHY_SECRET, ".env"},
    {NULL, NULL, NULL, NULL, "Bash", "cat ~/.aws/credentials", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Bash", "cat < .env", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Bash", "grep --file=.env x", D, PERM_WHY_SECRET, NULL},
    {NULL, NULL, NULL, NULL, "Bash", "cat link_ssh", D, PERM_WHY_SECRET, NULL},
    {NULL, "Bash", NULL, NULL, "Bash", "cp ~/.ssh/id_rsa /tmp/k", D, PERM_WHY_SECRET, NULL},
    {NULL, "Read(./.env)", NULL, NULL, "Bash", "cat .env", Q, PERM_WHY_MODE, NULL},
    {NULL, NULL, NULL, NULL, "Bash", "cat .env.example", Q, PERM_WHY_MODE, NULL},
    /* Bash allow rules, prefixes and compound commands */
    {NULL, "Bash(npm run test:*)", NULL, NULL, "Bash", "npm run test", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(npm run test:*)", NULL, NULL, "Bash", "npm run test -- --watch", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(npm run test:*)", NULL, NULL, "Bash", "npm run tests", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git  diff", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git diff HEAD", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "npm test && rm -rf /", Q, PERM_WHY_MODE, "1 of 2 parts"},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "npm test && npm test -- x; npm test | npm test", A, PERM_WHY_RULE, "part by part"},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "npm test || npm test & npm test\nnpm test", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo \"a && rm -rf /\"", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo 'a; rm x'", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo a \\; rm x", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo $(rm -rf /)", Q, PERM_WHY_SUBSTITUTION, "substitution"},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo `whoami`", Q, PERM_WHY_SUBSTITUTION, NULL},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo \"$(id)\"", Q, PERM_WHY_SUBSTITUTION, NULL},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo '$(not)'", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(diff:*)", NULL, NULL, "Bash", "diff <(ls) <(ls)", Q, PERM_WHY_SUBSTITUTION, NULL},
    {NULL, "Bash(echo:*)", NULL, NULL, "Bash", "echo \"unterminated", Q, PERM_WHY_UNCHECKABLE, NULL},
    {NULL, "Bash", NULL, NULL, "Bash", "echo $(rm -rf x)", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "timeout 60 npm test", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "nice -n 5 npm test", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "NODE_ENV=test npm test", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "FOO=1 npm test", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "PATH=. npm test", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "PATH=.; npm test", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(npm test:*)", NULL, NULL, "Bash", "npm \\\n  test", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "(make)", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "{ make; }", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "make # && rm -rf /", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "if true; then make; fi", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(make:*),Bash(true)", NULL, NULL, "Bash", "if true; then make; fi", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "for f in a b; do make $f; done", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "f() { make; }; f", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(cat:*)", NULL, NULL, "Bash", "cat <<'EOF'\nrm -rf /\nEOF", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(cat:*)", NULL, NULL, "Bash", "cat <<EOF\n$(rm -rf /)\nEOF", Q, PERM_WHY_SUBSTITUTION, NULL},
    {NULL, "Bash(ls *)", NULL, NULL, "Bash", "lsof", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(ls *)", NULL, NULL, "Bash", "ls", A, PERM_WHY_RULE, NULL},
    /* cd inside the workspace needs no rule; out of it does */
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "cd sub && make", A, PERM_WHY_RULE, NULL},
    {NULL, NULL, NULL, NULL, "Bash", "cd sub", A, PERM_WHY_MODE, "changes directory"},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "cd /etc && make", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "cd .. && make", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "(cd sub); cd .. && make", Q, PERM_WHY_MODE, NULL},
    {NULL, "Bash(make:*)", NULL, NULL, "Bash", "cd $X && make", Q, PERM_WHY_MODE, NULL},
    /* output redirections of allowed commands */
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git diff > out.patch", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git diff 2>&1 >/dev/null", A, PERM_WHY_RULE, NULL},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git diff > @O/x.patch", Q, PERM_WHY_OUTSIDE, "writes to"},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git diff > link_out/x.patch", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git diff > $OUT", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "git diff >> .git/hooks/pre-commit", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, "Bash(git diff)", NULL, NULL, "Bash", "cd sub && git diff > ../../x", Q, PERM_WHY_OUTSIDE, NULL},
    {NULL, "Bash(npm run test*)", NULL, NULL, "Bash", "npm run test 2>&1", A, PERM_WHY_RULE, NULL},
    {NULL, NULL, NULL, NULL, "Bash", "> file", Q, PERM_WHY_MODE, "no command"},
    /* deny rules see through wrappers, quotes, paths, substitutions */
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "ls && rm -rf /", D, PERM_WHY_RULE, "rm -rf /"},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "echo $(rm -rf /)", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "echo `rm x`", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "sudo rm -rf /", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "/bin/rm x", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "\"rm\" x", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "timeout 5 rm x", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "X=1 rm x", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "env -i rm x", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "(rm x)", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "if true; then rm x; fi", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "cat <<E\n$(rm x)\nE", D, PERM_WHY_RULE, NULL},
    {NULL, "Bash", NULL, "Bash(rm:*)", "Bash", "rmdir x", A, PERM_WHY_RULE, NULL},
    {NULL, NULL, NULL, "Bash", "Bash", "true", D, PERM_WHY_RULE, NULL},
    /* MCP, WebFetch, other tools */
    {NULL, "mcp__gh", NULL, NULL, "mcp__gh__issue", NULL, A, PERM_WHY_RULE, NULL},
    {NULL, "mcp__gh", NULL, NULL, "mcp__gl__x", NULL, Q, PERM_WHY_MODE, NULL},
    {NULL, "mcp__gh__a", NULL, NULL, "mcp__gh__b", NULL, Q, PERM_WHY_MODE, NULL},
    {NULL, "mcp__gh", NULL, "mcp__gh__*", "mcp__gh__a", NULL, D, PERM_WHY_RULE, NULL},
    {NULL, "WebFetch(domain:example.com)", NULL, NULL, "WebFetch", "https://example.com/a", A, PERM_WHY_RULE, NULL},
    {NULL, "WebFetch(domain:example.com)", NULL, NULL, "WebFetch", "https://evil.com/", Q, PERM_WHY_MODE, NULL},
    {"plan", NULL, NULL, NULL, "WebFetch", "https://evil.com/", Q, PERM_WHY_MODE, NULL},
    {NULL, "Task", NULL, NULL, "Task", "x", A, PERM_WHY_RULE, NULL},
};

static void test_decision_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(rows); i++) {
        const struct row *r = &rows[i];
        struct perm_engine *pe = engine_with(r->mode, r->allow, r->ask, r->deny, true);
        char *subj = expand(r->subject);
        struct perm_decision d;
        enum perm_verdict v = perm_check(pe, r->tool, subj, &d);
        if (v != r->v || d.verdict != r->v || d.why != r->why || (r->msg && !strstr(d.message, r->msg)))
            fail_msg("row %zu: %s %s (mode %s, allow %s, ask %s, deny %s): got %s/%s \"%s\", expected %s/%s%s%s", i,
                     r->tool, subj ? subj : "(null)", r->mode ? r->mode : "default", r->allow ? r->allow : "-",
                     r->ask ? r->ask : "-", r->deny ? r->deny : "-", perm_verdict_name(d.verdict),
                     perm_why_name(d.why), d.message, perm_verdict_name(r->v), perm_why_name(r->why),
                     r->msg ? " with " : "", r->msg ? r->msg : "");
        /* invariants of every record */
        assert_non_null(d.message);
        assert_int_equal(d.time_ms, 1700000000123);
        assert_int_equal(d.asked, d.verdict == PERM_ASK);
        if (d.why == PERM_WHY_RULE) {
            assert_non_null(d.rule);
            assert_non_null(d.rule_source);
            assert_string_equal(d.rule_source, "command line");
        }
        perm_decision_cleanup(&d);
        free(subj);
        perm_engine_free(pe);
    }
}

/* --- Suggestions and answers ------------------------------------------- */

static void expect_suggest(struct perm_engine *pe, const char *tool, const char *subject, const char *want)
{
    char *subj = expand(subject);
    char *w = expand(want);
    struct perm_decision d;
    assert_int_equal(perm_check(pe, tool, subj, &d), PERM_ASK);
    char all[2048] = "";
    for (size_t i = 0; i < d.nsuggest; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? " " : "", d.suggest[i]);
    if (strcmp(all, w))
        fail_msg("%s %s: proposed \"%s\", expected \"%s\"", tool, subj, all, w);
    perm_decision_cleanup(&d);
    free(subj);
    free(w);
}

static void test_suggestions(void **state)
{
    (void)state;
    struct perm_engine *pe = engine_with(NULL, "Bash(git status:*)", NULL, NULL, true);
    expect_suggest(pe, "Edit", "@W/src/a.c", "Edit(/src/**)");
    expect_suggest(pe, "Write", "@W/top.txt", "Edit(/**)");
    expect_suggest(pe, "Edit", "@O/sub/g.txt", "Edit(/@O/sub/**)");
    expect_suggest(pe, "Read", "@O/f.txt", "Read(/@O/**)");
    expect_suggest(pe, "Grep", "@O/sub", "Read(/@O/sub/**)");
    expect_suggest(pe, "Edit", "@H/docs/x.pdf", "Edit(~/docs/**)");
    expect_suggest(pe, "Bash", "npm test && git status && rm -rf build", "Bash(npm test:*) Bash(rm -rf build)");
    expect_suggest(pe, "Bash", "echo $(id)", "");
    expect_suggest(pe, "mcp__gh__issue", NULL, "mcp__gh__issue");
    expect_suggest(pe, "WebFetch", "https://docs.example.com/x", "WebFetch(domain:docs.example.com)");
    perm_engine_free(pe);
    pe = engine_with("acceptEdits", NULL, NULL, NULL, true);
    expect_suggest(pe, "Edit", "@W/.git/config", "Edit(/.git/config)");
    perm_engine_free(pe);
}

static void test_noninteractive(void **state)
{
    (void)state;
    struct perm_engine *pe = engine_with(NULL, NULL, NULL, NULL, false);
    struct perm_decision d;
    assert_int_equal(perm_check(pe, "Bash", "make test", &d), PERM_DENY);
    assert_int_equal(d.why, PERM_WHY_NONINTERACTIVE);
    assert_true(d.asked);
    assert_non_null(strstr(d.message, "non-interactively (-p)"));
    assert_non_null(strstr(d.message, "add `Bash(make test:*)` to permissions.allow in .brock/settings.json"));
    assert_non_null(strstr(d.message, "--allowedTools 'Bash(make test:*)'"));
    struct brock_err e = {0};
    /* a refusal cannot be answered */
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_YES, NULL, &e), BROCK_ERR_USAGE);
    perm_decision_cleanup(&d);

    assert_int_equal(perm_check(pe, "Bash", "echo $(id)", &d), PERM_DENY);
    assert_non_null(strstr(d.message, "No permission rule can allow it"));
    perm_decision_cleanup(&d);

    char *p = expand("@O/f.txt");
    assert_int_equal(perm_check(pe, "Read", p, &d), PERM_DENY);
    assert_int_equal(d.why, PERM_WHY_NONINTERACTIVE);
    char *want = expand("`Read(/@O/**)`");
    assert_non_null(strstr(d.message, want));
    free(want);
    free(p);
    perm_decision_cleanup(&d);

    /* allowed and denied calls are the same as interactive */
    assert_int_equal(perm_check(pe, "Read", "src/a.c", &d), PERM_ALLOW);
    perm_decision_cleanup(&d);
    perm_engine_free(pe);
}

static char *local_path(void)
{
    return fs_join(W, ".brock/settings.local.json");
}

static void test_answer_always_new_file(void **state)
{
    (void)state;
    char *lp = local_path();
    unlink(lp);
    struct perm_engine *pe = engine_with(NULL, NULL, NULL, NULL, true);
    struct perm_decision d;
    assert_int_equal(perm_check(pe, "Bash", "npm run build --silent", &d), PERM_ASK);
    assert_int_equal(d.nsuggest, 1);
    assert_string_equal(d.suggest[0], "Bash(npm run build:*)");
    struct brock_err e = {0};
    if (perm_answer(pe, &d, PERM_ANSWER_ALWAYS, NULL, &e) != BROCK_OK)
        fail_msg("answer: %s", e.msg);
    assert_int_equal(d.verdict, PERM_ALLOW);
    assert_int_equal(d.answer, PERM_ANSWER_ALWAYS);
    assert_int_equal(d.why, PERM_WHY_USER);
    perm_decision_cleanup(&d);

    /* the file exists, 0600, valid JSON with the rule */
    struct stat sb;
    assert_int_equal(stat(lp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *text = test_read_file(lp, NULL);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    assert_non_null(root);
    json_t *allow = json_object_get(json_object_get(root, "permissions"), "allow");
    assert_int_equal(json_array_size(allow), 1);
    assert_string_equal(json_string_value(json_array_get(allow, 0)), "Bash(npm run build:*)");
    json_decref(root);
    free(text);

    /* the engine knows it now, naming the file as the source */
    assert_int_equal(perm_check(pe, "Bash", "npm run build", &d), PERM_ALLOW);
    assert_string_equal(d.rule, "Bash(npm run build:*)");
    assert_string_equal(d.rule_source, lp);
    perm_decision_cleanup(&d);
    perm_engine_free(pe);

    /* and so does a fresh engine from the settings files */
    struct settings *s;
    char *uf = fs_join(C, "brock/settings.json");
    struct settings_opts o = {.cwd = W, .home = H, .user_file = uf};
    assert_int_equal(settings_load(&o, &s, NULL), BROCK_OK);
    free(uf);
    pe = mk_engine(s, true);
    settings_free(s);
    assert_int_equal(perm_check(pe, "Bash", "npm run build -- -v", &d), PERM_ALLOW);
    perm_decision_cleanup(&d);
    perm_engine_free(pe);
    unlink(lp);
    free(lp);
}

static void test_answer_always_preserves(void **state)
{
    (void)state;
    char *lp = local_path();
    mkdirs("ws/.brock");
    test_write_file(lp, "{\n  \"model\": \"sonnet\",\n  \"env\": {\"A\": \"1\"},\n  \"permissions\": {\n"
                        "    \"deny\": [\"Bash(rm:*)\"],\n    \"allow\": [\"Bash(ls:*)\", \"Edit(/src/**)\"],\n"
                        "    \"x-unknown\": [1, 2]\n  },\n  \"future\": {\"k\": true}\n}\n");
    assert_int_equal(chmod(lp, 0644), 0);
    struct perm_engine *pe = engine_with(NULL, NULL, NULL, NULL, true);
    struct perm_decision d;
    char *p = expand("@W/src/x.c");
    // Edit(/src/**) is already in the file but not in this engine: adding it again keeps one copy
    assert_int_equal(perm_check(pe, "Edit", p, &d), PERM_ASK);
    assert_string_equal(d.suggest[0], "Edit(/src/**)");
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_ALWAYS, NULL, NULL), BROCK_OK);
    perm_decision_cleanup(&d);
    assert_int_equal(perm_check(pe, "Bash", "git log -1", &d), PERM_ASK);
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_ALWAYS, NULL, NULL), BROCK_OK);
    perm_decision_cleanup(&d);
    free(p);

    struct stat sb;
    assert_int_equal(stat(lp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644); /* kept */
    char *text = test_read_file(lp, NULL);
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "model")), "sonnet");
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "env"), "A")), "1");
    assert_true(json_is_true(json_object_get(json_object_get(root, "future"), "k")));
    json_t *perms = json_object_get(root, "permissions");
    assert_int_equal(json_array_size(json_object_get(perms, "x-unknown")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(perms, "deny"), 0)), "Bash(rm:*)");
    json_t *allow = json_object_get(perms, "allow");
    assert_int_equal(json_array_size(allow), 3);
    assert_string_equal(json_string_value(json_array_get(allow, 0)), "Bash(ls:*)");
    assert_string_equal(json_string_value(json_array_get(allow, 1)), "Edit(/src/**)");
    assert_string_equal(json_string_value(json_array_get(allow, 2)), "Bash(git log:*)");
    /* key order kept: model first */
    assert_true(strstr(text, "\"model\"") < strstr(text, "\"permissions\""));
    json_decref(root);
    free(text);

    /* no temporary file left behind */
    char *bd = fs_join(W, ".brock");
    char **names;
    size_t n = test_list_dir(bd, &names);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "settings.local.json");
    test_free_list(names, n);
    free(bd);

    /* a malformed local file is reported and left alone */
    test_write_file(lp, "{\"permissions\": [1,]");
    assert_int_equal(perm_check(pe, "Bash", "make x", &d), PERM_ASK);
    struct brock_err e = {0};
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_ALWAYS, NULL, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, lp));
    assert_int_equal(d.verdict, PERM_ASK); /* unchanged: the caller may still answer */
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_YES, NULL, &e), BROCK_OK);
    perm_decision_cleanup(&d);
    text = test_read_file(lp, NULL);
    assert_string_equal(text, "{\"permissions\": [1,]");
    free(text);
    test_write_file(lp, "{\"permissions\": {\"allow\": \"Bash\"}}");
    assert_int_equal(perm_check(pe, "Bash", "make x", &d), PERM_ASK);
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_ALWAYS, NULL, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "not an array"));
    perm_decision_cleanup(&d);
    unlink(lp);
    free(lp);
    perm_engine_free(pe);
}

static void test_answers(void **state)
{
    (void)state;
    struct perm_engine *pe = engine_with(NULL, NULL, NULL, NULL, true);
    struct perm_decision d;
    struct brock_err e = {0};

    assert_int_equal(perm_check(pe, "Bash", "make", &d), PERM_ASK);
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_YES, NULL, &e), BROCK_OK);
    assert_int_equal(d.verdict, PERM_ALLOW);
    assert_int_equal(d.answer, PERM_ANSWER_YES);
    /* answering twice is a mistake */
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_NO, NULL, &e), BROCK_ERR_USAGE);
    perm_decision_cleanup(&d);
    /* yes does not stick */
    assert_int_equal(perm_check(pe, "Bash", "make", &d), PERM_ASK);
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_NO, "use the Makefile target check instead", &e), BROCK_OK);
    assert_int_equal(d.verdict, PERM_DENY);
    assert_string_equal(d.feedback, "use the Makefile target check instead");
    assert_non_null(strstr(d.message, "use the Makefile target check instead"));

    json_t *j = perm_decision_json(&d);
    assert_string_equal(json_string_value(json_object_get(j, "tool")), "Bash");
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "make");
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    assert_string_equal(json_string_value(json_object_get(j, "why")), "user");
    assert_string_equal(json_string_value(json_object_get(j, "answer")), "no");
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "default");
    assert_true(json_is_true(json_object_get(j, "asked")));
    assert_int_equal(json_integer_value(json_object_get(j, "time_ms")), 1700000000123);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "suggest"), 0)), "Bash(make)");
    assert_null(json_object_get(j, "rule"));
    json_decref(j);
    perm_decision_cleanup(&d);

    /* "always" with nothing to add */
    assert_int_equal(perm_check(pe, "Bash", "echo $(id)", &d), PERM_ASK);
    assert_int_equal(d.nsuggest, 0);
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_ALWAYS, NULL, &e), BROCK_ERR_USAGE);
    assert_int_equal(d.verdict, PERM_ASK);
    perm_decision_cleanup(&d);

    /* a decided call cannot be answered */
    assert_int_equal(perm_check(pe, "Read", "src/a.c", &d), PERM_ALLOW);
    assert_int_equal(perm_answer(pe, &d, PERM_ANSWER_YES, NULL, &e), BROCK_ERR_USAGE);
    j = perm_decision_json(&d);
    char *want = expand("@W/src/a.c");
    assert_string_equal(json_string_value(json_object_get(j, "resolved")), want);
    free(want);
    assert_string_equal(json_string_value(json_object_get(j, "answer")), "none");
    json_decref(j);
    perm_decision_cleanup(&d);

    /* a rule decision names rule, list and source */
    perm_engine_free(pe);
    pe = engine_with(NULL, NULL, NULL, "Bash(rm:*)", true);
    assert_int_equal(perm_check(pe, "Bash", "rm x", &d), PERM_DENY);
    j = perm_decision_json(&d);
    assert_string_equal(json_string_value(json_object_get(j, "rule")), "Bash(rm:*)");
    assert_string_equal(json_string_value(json_object_get(j, "rule_list")), "deny");
    assert_string_equal(json_string_value(json_object_get(j, "rule_source")), "command line");
    json_decref(j);
    perm_decision_cleanup(&d);
    perm_decision_cleanup(&d); /* twice is fine */
    perm_decision_cleanup(NULL);
    perm_engine_free(pe);
}

/* --- Inputs, modes, directories ---------------------------------------- */

static void expect_input(struct perm_engine *pe, const char *tool, const char *json, enum perm_verdict v,
                         const char *resolved)
{
    char *js = expand(json);
    json_error_t je;
    json_t *in = json_loads(js, 0, &je);
    assert_non_null(in);
    struct perm_decision d;
    enum perm_verdict got = perm_check_input(pe, tool, in, &d);
    char *want = expand(resolved);
    if (got != v || (want && (!d.resolved || strcmp(d.resolved, want))))
        fail_msg("%s %s: %s (%s), expected %s (%s)", tool, js, perm_verdict_name(got), d.resolved ? d.resolved : "-",
                 perm_verdict_name(v), want ? want : "-");
    free(want);
    perm_decision_cleanup(&d);
    json_decref(in);
    free(js);
}

static void test_tool_inputs(void **state)
{
    (void)state;
    struct perm_engine *pe = engine_with(NULL, NULL, NULL, NULL, true);
    expect_input(pe, "Read", "{\"file_path\": \"src/a.c\"}", PERM_ALLOW, "@W/src/a.c");
    expect_input(pe, "NotebookEdit", "{\"notebook_path\": \"n.ipynb\"}", PERM_ASK, "@W/n.ipynb");
    expect_input(pe, "Bash", "{\"command\": \"ls\"}", PERM_ASK, NULL);
    expect_input(pe, "Bash", "{}", PERM_DENY, NULL);
    expect_input(pe, "Glob", "{\"pattern\": \"src/**/*.c\"}", PERM_ALLOW, "@W/src");
    expect_input(pe, "Glob", "{\"pattern\": \"**/*.c\", \"path\": \"@O\"}", PERM_ASK, "@O");
    expect_input(pe, "Glob", "{\"pattern\": \"../../etc/*\"}", PERM_ASK, NULL);
    expect_input(pe, "Glob", "{\"pattern\": \"*/../../x\"}", PERM_ASK, "/");
    expect_input(pe, "Glob", "{\"pattern\": \"/etc/*.conf\"}", PERM_ASK, "/etc");
    expect_input(pe, "Glob", "{\"pattern\": \"docs/a.md\"}", PERM_ALLOW, "@W/docs");
    expect_input(pe, "Grep", "{\"pattern\": \"x\", \"path\": \"/etc\"}", PERM_ASK, "/etc");
    expect_input(pe, "Grep", "{\"pattern\": \"x\"}", PERM_ALLOW, "@W");
    expect_input(pe, "LS", "{\"path\": \"@H/.aws\"}", PERM_DENY, "@H/.aws");
    expect_input(pe, "WebFetch", "{\"url\": \"https://example.com\"}", PERM_ASK, NULL);
    perm_engine_free(pe);
}

static void test_mode_switching(void **state)
{
    (void)state;
    struct perm_engine *pe = engine_with(NULL, NULL, NULL, NULL, true);
    struct brock_err e = {0};
    assert_int_equal(perm_engine_mode(pe), PERM_MODE_DEFAULT);
    assert_int_equal(perm_engine_set_mode(pe, PERM_MODE_ACCEPT_EDITS, &e), BROCK_OK);
    struct perm_decision d;
    assert_int_equal(perm_check(pe, "Edit", "src/a.c", &d), PERM_ALLOW);
    assert_int_equal(d.mode, PERM_MODE_ACCEPT_EDITS);
    perm_decision_cleanup(&d);
    assert_int_equal(perm_engine_set_mode(pe, PERM_MODE_PLAN, &e), BROCK_OK);
    assert_int_equal(perm_check(pe, "Edit", "src/a.c", &d), PERM_DENY);
    perm_decision_cleanup(&d);
    /* bypass needs to be chosen at start */
    assert_int_equal(perm_engine_set_mode(pe, PERM_MODE_BYPASS, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "only be chosen at start"));
    assert_int_equal(perm_engine_mode(pe), PERM_MODE_PLAN);
    perm_engine_free(pe);

    pe = engine_with("bypassPermissions", NULL, NULL, NULL, true);
    assert_int_equal(perm_engine_set_mode(pe, PERM_MODE_DEFAULT, &e), BROCK_OK);
    assert_int_equal(perm_engine_set_mode(pe, PERM_MODE_BYPASS, &e), BROCK_OK);
    perm_engine_free(pe);

    /* disableBypassPermissionsMode in any file refuses it */
    struct settings *s = mk_settings();
    const char *doc = "{\"permissions\": {\"disableBypassPermissionsMode\": \"disable\"}}";
    assert_int_equal(settings_parse(s, SETTINGS_USER, doc, strlen(doc), NULL), BROCK_OK);
    assert_int_equal(settings_cli_mode(s, "bypassPermissions", NULL), BROCK_OK);
    struct perm_env env = {.cwd = W, .home = H, .config_home = C, .interactive = true};
    assert_int_equal(perm_engine_new(s, &env, &pe, &e), BROCK_ERR_CONFIG);
    assert_null(pe);
    assert_non_null(strstr(e.msg, "disabled"));
    assert_non_null(strstr(e.msg, "settings.json"));
    assert_int_equal(settings_cli_mode(s, "acceptEdits", NULL), BROCK_OK);
    assert_int_equal(perm_engine_new(s, &env, &pe, &e), BROCK_OK);
    assert_int_equal(perm_engine_set_mode(pe, PERM_MODE_BYPASS, &e), BROCK_ERR_USAGE);
    perm_engine_free(pe);
    settings_free(s);
}

static void test_additional_dirs_and_warnings(void **state)
{
    (void)state;
    struct settings *s = mk_settings();
    char *doc = expand("{\"permissions\": {\"additionalDirectories\": [\"../out\", \"~/docs\", \"/nonexistent-brock-dir\"],"
                       " \"allow\": [\"Read(~/x)\", \"Edit(/y/**)\"]}}");
    assert_int_equal(settings_parse(s, SETTINGS_PROJECT, doc, strlen(doc), NULL), BROCK_OK);
    free(doc);
    /* an engine without a home: rules with ~ are skipped with a warning */
    struct perm_env env = {.cwd = W, .home = "relative-home", .config_home = C, .interactive = true};
    struct perm_engine *pe;
    struct brock_err e = {0};
    assert_int_equal(perm_engine_new(s, &env, &pe, &e), BROCK_OK);
    assert_int_equal(perm_engine_dir_count(pe), 2); /* cwd and ../out; ~/docs has no home; the third is missing */
    char *o = expand("@O");
    assert_string_equal(perm_engine_dir(pe, 1), o);
    free(o);
    assert_null(perm_engine_dir(pe, 9));
    assert_int_equal(perm_engine_warning_count(pe), 3);
    assert_non_null(strstr(perm_engine_warning(pe, 0), "\"~/docs\" is not a directory"));
    assert_non_null(strstr(perm_engine_warning(pe, 1), "/nonexistent-brock-dir"));
    assert_non_null(strstr(perm_engine_warning(pe, 2), "permissions.allow[0]"));
    assert_non_null(strstr(perm_engine_warning(pe, 2), "home directory"));
    assert_non_null(strstr(perm_engine_warning(pe, 2), ".brock/settings.json"));
    assert_null(perm_engine_warning(pe, 3));
    assert_int_equal(perm_engine_rule_count(pe), 1);
    struct perm_rule_info ri;
    assert_true(perm_engine_rule(pe, 0, &ri));
    assert_string_equal(ri.text, "Edit(/y/**)");
    assert_int_equal(ri.list, PERM_LIST_ALLOW);
    assert_non_null(strstr(ri.source, ".brock/settings.json"));
    assert_false(perm_engine_rule(pe, 1, &ri));
    perm_engine_free(pe);

    /* with a home: all three directories that exist count */
    pe = mk_engine(s, true);
    assert_int_equal(perm_engine_dir_count(pe), 3);
    struct perm_decision d;
    char *p = expand("@O/f.txt");
    assert_int_equal(perm_check(pe, "Read", p, &d), PERM_ALLOW);
    perm_decision_cleanup(&d);
    assert_int_equal(perm_engine_set_mode(pe, PERM_MODE_ACCEPT_EDITS, NULL), BROCK_OK);
    assert_int_equal(perm_check(pe, "Edit", p, &d), PERM_ALLOW);
    perm_decision_cleanup(&d);
    free(p);
    perm_engine_free(pe);
    settings_free(s);
}

static void test_user_anchor(void **state)
{
    (void)state;
    /* "/x" in the user file means the user config directory, not the project */
    struct settings *s = mk_settings();
    const char *doc = "{\"permissions\": {\"allow\": [\"Edit(/docs/**)\"]}}";
    assert_int_equal(settings_parse(s, SETTINGS_USER, doc, strlen(doc), NULL), BROCK_OK);
    struct perm_engine *pe = mk_engine(s, true);
    settings_free(s);
    struct perm_decision d;
    char *p = expand("@C/brock/docs/x.md");
    assert_int_equal(perm_check(pe, "Edit", p, &d), PERM_ALLOW);
    assert_non_null(strstr(d.rule_source, "cfg/brock/settings.json"));
    perm_decision_cleanup(&d);
    free(p);
    p = expand("@W/docs/a.md");
    assert_int_equal(perm_check(pe, "Edit", p, &d), PERM_ASK);
    perm_decision_cleanup(&d);
    free(p);
    perm_engine_free(pe);
}

static void test_resolve_path(void **state)
{
    (void)state;
    char out[PERM_PATH_MAX];
    bool is_dir;
    struct brock_err e = {0};
    char *w = expand("@W");
    assert_int_equal(perm_resolve_path(w, "src/../docs/./a.md", out, &is_dir, &e), BROCK_OK);
    char *want = expand("@W/docs/a.md");
    assert_string_equal(out, want);
    assert_false(is_dir);
    free(want);
    assert_int_equal(perm_resolve_path(w, "link_out", out, &is_dir, &e), BROCK_OK);
    want = expand("@O");
    assert_string_equal(out, want);
    assert_true(is_dir);
    free(want);
    /* not yet existing parts are taken lexically, `..` included */
    assert_int_equal(perm_resolve_path(w, "new/dir/../../../out/x", out, NULL, &e), BROCK_OK);
    want = expand("@O/x");
    assert_string_equal(out, want);
    free(want);
    /* `..` after a symlink goes to the link target's parent */
    assert_int_equal(perm_resolve_path(w, "link_out/../ws/src", out, NULL, &e), BROCK_OK);
    want = expand("@W/src");
    assert_string_equal(out, want);
    free(want);
    assert_int_equal(perm_resolve_path("/", "/../../..", out, NULL, &e), BROCK_OK);
    assert_string_equal(out, "/");
    assert_int_equal(perm_resolve_path(w, "", out, NULL, &e), BROCK_ERR_USAGE);
    assert_int_equal(perm_resolve_path("relative", "x", out, NULL, &e), BROCK_ERR_USAGE);
    assert_int_equal(perm_resolve_path(w, "loop1", out, NULL, &e), BROCK_ERR_IO);
    assert_non_null(strstr(e.msg, "symbolic links"));
    char *big = malloc(PERM_PATH_MAX + 10);
    memset(big, 'a', PERM_PATH_MAX + 5);
    big[0] = '/';
    big[PERM_PATH_MAX + 5] = '\0';
    assert_int_equal(perm_resolve_path(w, big, out, NULL, &e), BROCK_ERR_TOO_LARGE);
    for (size_t i = 1; i < PERM_PATH_MAX + 5; i += 2)
        big[i] = '/';
    big[PERM_PATH_MAX - 1] = '\0';
    assert_int_equal(perm_resolve_path(w, big, out, NULL, &e), BROCK_OK);
    free(big);
    free(w);
}

static void test_secret_list(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        bool secret;
    } t[] = {
        {"/h/.aws/credentials", true},   {"/h/.aws", true},       {"/h/.awsx/a", false},
        {"/h/.ssh/id_ed25519", true},    {"/h/.gnupg/x", true},   {"/h/.config/gcloud/a", true},
        {"/h/.docker/config.json", true}, {"/h/.docker/other", false}, {"/h/.netrc", true},
        {"/h/.git-credentials", true},   {"/h/.npmrc", true},     {"/w/.npmrc", false},
        {"/c/brock/credentials", true},  {"/c/brock/credentials.json", true}, {"/c/brock/settings.json", false},
        {"/w/.env", true},               {"/w/a/.env.production", true}, {"/w/.env.example", false},
        {"/w/.env.sample", false},       {"/w/.envrc", false},    {"/w/x.env", false},
        {"/other/.aws/credentials", false},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(t); i++)
        if (perm_path_is_secret(t[i].path, "/h", "/c") != t[i].secret)
            fail_msg("%s: expected secret=%d", t[i].path, t[i].secret);
    assert_false(perm_path_is_secret("/h/.aws/credentials", NULL, NULL));
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_noninteractive),
        cmocka_unit_test(test_answer_always_new_file),
        cmocka_unit_test(test_answer_always_preserves),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_tool_inputs),
        cmocka_unit_test(test_mode_switching),
        cmocka_unit_test(test_additional_dirs_and_warnings),
        cmocka_unit_test(test_user_anchor),
        cmocka_unit_test(test_resolve_path),
        cmocka_unit_test(test_secret_list),
    };
    return cmocka_run_group_tests_name("perm_engine", tests, setup, NULL);
}
