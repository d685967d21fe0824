/* Tests for the settings files: locations, merge order and precedence, type
 * errors with file:line:col, skipped rules, command-line flags, and that no
 * value (which may be a secret) ever reaches a message. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/settings.h"
#include "../../src/util/fs.h"

static char *T, *W, *H, *C;

static void put(const char *rel_to_T, const char *content)
{
    char *p = fs_join(T, rel_to_T);
    char *d = strdup(p);
    *strrchr(d, '/') = '\0';
    assert_int_equal(fs_mkdirs(d, 0755, NULL), BROCK_OK);
    test_write_file(p, content);
    free(d);
    free(p);
}

static void rm(const char *rel_to_T)
{
    char *p = fs_join(T, rel_to_T);
    unlink(p);
    free(p);
}

static int setup(void **state)
{
    (void)state;
    char *t = test_tmpdir();
    T = realpath(t, NULL);
    free(t);
    W = fs_join(T, "ws");
    H = fs_join(T, "home");
    C = fs_join(T, "xdg");
    assert_int_equal(fs_mkdirs(W, 0755, NULL), BROCK_OK);
    assert_int_equal(fs_mkdirs(H, 0755, NULL), BROCK_OK);
    setenv("XDG_CONFIG_HOME", C, 1);
    return 0;
}

static struct settings *load_ok(void)
{
    struct settings_opts o = {.cwd = W, .home = H};
    struct settings *s = NULL;
    struct brock_err e = {0};
    if (settings_load(&o, &s, &e) != BROCK_OK)
        fail_msg("load: %s", e.msg);
    return s;
}

static enum brock_status parse_as(enum settings_scope sc, const char *doc, struct brock_err *e, struct settings **out)
{
    struct settings_opts o = {.cwd = W, .home = H};
    assert_int_equal(settings_new(&o, out, NULL), BROCK_OK);
    return settings_parse(*out, sc, doc, strlen(doc), e);
}

static void test_locations(void **state)
{
    (void)state;
    struct settings_opts o = {.cwd = W, .home = H};
    struct settings *s;
    assert_int_equal(settings_new(&o, &s, NULL), BROCK_OK);
    char want[4096];
    snprintf(want, sizeof want, "%s/brock/settings.json", C);
    assert_string_equal(s->src[SETTINGS_USER].path, want);
    snprintf(want, sizeof want, "%s/brock", C);
    assert_string_equal(s->src[SETTINGS_USER].anchor, want);
    snprintf(want, sizeof want, "%s/.claude/settings.json", W);
    assert_string_equal(s->src[SETTINGS_PROJECT_CLAUDE].path, want);
    snprintf(want, sizeof want, "%s/.brock/settings.json", W);
    assert_string_equal(s->src[SETTINGS_PROJECT].path, want);
    snprintf(want, sizeof want, "%s/.claude/settings.local.json", W);
    assert_string_equal(s->src[SETTINGS_LOCAL_CLAUDE].path, want);
    snprintf(want, sizeof want, "%s/.brock/settings.local.json", W);
    assert_string_equal(s->src[SETTINGS_LOCAL].path, want);
    assert_string_equal(s->src[SETTINGS_CLI].path, "command line");
    assert_string_equal(s->src[SETTINGS_PROJECT].anchor, W);
    assert_string_equal(settings_scope_name(SETTINGS_LOCAL_CLAUDE), "local");
    settings_free(s);

    /* without XDG_CONFIG_HOME: ~/.config; a relative value is ignored as the spec says */
    setenv("XDG_CONFIG_HOME", "relative/dir", 1);
    assert_int_equal(settings_new(&o, &s, NULL), BROCK_OK);
    snprintf(want, sizeof want, "%s/.config/brock/settings.json", H);
    assert_string_equal(s->src[SETTINGS_USER].path, want);
    settings_free(s);
    setenv("XDG_CONFIG_HOME", C, 1);

    /* an explicit user file */
    o.user_file = "/somewhere/else/s.json";
    assert_int_equal(settings_new(&o, &s, NULL), BROCK_OK);
    assert_string_equal(s->src[SETTINGS_USER].path, "/somewhere/else/s.json");
    assert_string_equal(s->src[SETTINGS_USER].anchor, "/somewhere/else");
    settings_free(s);

    struct brock_err e = {0};
    o.cwd = "relative";
    assert_int_equal(settings_new(&o, &s, &e), BROCK_ERR_USAGE);
    assert_null(s);

    /* no files at all is fine */
    s = load_ok();
    assert_int_equal(s->nrules, 0);
    assert_false(s->mode_set);
    assert_null(s->model);
    assert_int_equal(json_object_size(s->env), 0);
    for (int i = 0; i < SETTINGS_CLI; i++)
        assert_false(s->src[i].present);
    settings_free(s);
    settings_free(NULL);
}

static void test_merge_order(void **state)
{
    (void)state;
    put("xdg/brock/settings.json",
        "{\"permissions\": {\"allow\": [\"Bash(u:*)\"], \"deny\": [\"Bash(ud)\"], \"defaultMode\": \"plan\","
        " \"additionalDirectories\": [\"~/u\"]},"
        " \"model\": \"user-model\", \"env\": {\"A\": \"user\", \"B\": \"user\"},"
        " \"hooks\": {\"PreToolUse\": [{\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"u\"}]}]},"
        " \"brock\": {\"x\": 1, \"y\": 1}}");
    put("ws/.claude/settings.json",
        "{\"permissions\": {\"allow\": [\"Bash(pc:*)\"], \"ask\": [\"Bash(pca)\"]}, \"env\": {\"B\": \"pc\"},"
        " \"hooks\": {\"PreToolUse\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"pc\", \"timeout\": 5}]}],"
        " \"Stop\": [{\"hooks\": []}]}}");
    put("ws/.brock/settings.json",
        "{\"permissions\": {\"allow\": [\"Bash(p:*)\"], \"additionalDirectories\": [\"../p\"]}, \"model\": \"project-model\","
        " \"brock\": {\"y\": 2}}");
    put("ws/.claude/settings.local.json", "{\"permissions\": {\"allow\": [\"Bash(lc:*)\"]}, \"env\": {\"C\": \"lc\"}}");
    put("ws/.brock/settings.local.json",
        "{\"permissions\": {\"allow\": [\"Bash(l:*)\"], \"defaultMode\": \"acceptEdits\"}, \"model\": \"local-model\"}");
    struct settings *s = load_ok();
    for (int i = 0; i < SETTINGS_CLI; i++)
        assert_true(s->src[i].present);
    assert_int_equal(settings_cli_rules(s, PERM_LIST_ALLOW, "--allowedTools", "Bash(c1:*) Bash(c2:*)", NULL),
                     BROCK_OK);
    assert_int_equal(settings_cli_rules(s, PERM_LIST_DENY, "--disallowedTools", "Bash(cd)", NULL), BROCK_OK);
    static const struct {
        const char *text;
        enum perm_list list;
        enum settings_scope scope;
        unsigned index;
    } want[] = {
        {"Bash(u:*)", PERM_LIST_ALLOW, SETTINGS_USER, 0},          {"Bash(ud)", PERM_LIST_DENY, SETTINGS_USER, 0},
        {"Bash(pc:*)", PERM_LIST_ALLOW, SETTINGS_PROJECT_CLAUDE, 0}, {"Bash(pca)", PERM_LIST_ASK, SETTINGS_PROJECT_CLAUDE, 0},
        {"Bash(p:*)", PERM_LIST_ALLOW, SETTINGS_PROJECT, 0},       {"Bash(lc:*)", PERM_LIST_ALLOW, SETTINGS_LOCAL_CLAUDE, 0},
        {"Bash(l:*)", PERM_LIST_ALLOW, SETTINGS_LOCAL, 0},         {"Bash(c1:*)", PERM_LIST_ALLOW, SETTINGS_CLI, 0},
        {"Bash(c2:*)", PERM_LIST_ALLOW, SETTINGS_CLI, 1},          {"Bash(cd)", PERM_LIST_DENY, SETTINGS_CLI, 0},
    };
    assert_int_equal(s->nrules, BROCK_ARRAY_LEN(want));
    for (size_t i = 0; i < BROCK_ARRAY_LEN(want); i++) {
        if (strcmp(s->rules[i].text, want[i].text) || s->rules[i].list != want[i].list ||
            s->rules[i].scope != want[i].scope || s->rules[i].index != want[i].index)
            fail_msg("rule %zu: %s list %d scope %d index %u", i, s->rules[i].text, s->rules[i].list,
                     s->rules[i].scope, s->rules[i].index);
    }
    /* scalars: the highest file wins */
    assert_string_equal(s->model, "local-model");
    assert_int_equal(s->model_scope, SETTINGS_LOCAL);
    assert_true(s->mode_set);
    assert_int_equal(s->mode, PERM_MODE_ACCEPT_EDITS);
    assert_int_equal(s->mode_scope, SETTINGS_LOCAL);
    assert_int_equal(settings_cli_mode(s, "plan", NULL), BROCK_OK);
    assert_int_equal(s->mode, PERM_MODE_PLAN);
    assert_int_equal(s->mode_scope, SETTINGS_CLI);
    /* env: key by key */
    assert_string_equal(json_string_value(json_object_get(s->env, "A")), "user");
    assert_string_equal(json_string_value(json_object_get(s->env, "B")), "pc");
    assert_string_equal(json_string_value(json_object_get(s->env, "C")), "lc");
    /* hooks: arrays concatenated per event, user first */
    json_t *pre = json_object_get(s->hooks, "PreToolUse");
    assert_int_equal(json_array_size(pre), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(pre, 0), "hooks"), 0), "command")), "u");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(pre, 1), "hooks"), 0), "command")), "pc");
    assert_int_equal(json_array_size(json_object_get(s->hooks, "Stop")), 1);
    /* brock: key by key */
    assert_int_equal(json_integer_value(json_object_get(s->brock, "x")), 1);
    assert_int_equal(json_integer_value(json_object_get(s->brock, "y")), 2);
    /* directories: concatenated */
    assert_int_equal(s->ndirs, 2);
    assert_string_equal(s->dirs[0].path, "~/u");
    assert_int_equal(s->dirs[0].scope, SETTINGS_USER);
    assert_string_equal(s->dirs[1].path, "../p");
    assert_int_equal(settings_cli_add_dir(s, "/x", NULL), BROCK_OK);
    assert_int_equal(s->dirs[2].scope, SETTINGS_CLI);
    assert_int_equal(settings_cli_add_dir(s, "", NULL), BROCK_ERR_USAGE);
    assert_int_equal(s->nwarnings, 0);
    settings_free(s);
    rm("xdg/brock/settings.json");
    rm("ws/.claude/settings.json");
    rm("ws/.brock/settings.json");
    rm("ws/.claude/settings.local.json");
    rm("ws/.brock/settings.local.json");
}

/* Type errors: message, status, and position (counted by hand). */
static void test_type_errors(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        const char *msg; /* after "PATH:" */
    } t[] = {
        {"{\n  \"permissions\": {\n    \"allow\": [\"Bash(ls)\", 42]\n  }\n}\n",
         ":3:27: permissions.allow[1]: expected a string (a permission rule), found a number"},
        {"{\"permissions\": []}", ":1:17: permissions: expected an object, found an array"},
        {"{\"permissions\": {\"deny\": \"Bash\"}}", ":1:26: permissions.deny: expected an array of rule strings, found a string"},
        {"{\"permissions\": {\"defaultMode\": 1}}", ":1:33: permissions.defaultMode: expected a string, found a number"},
        {"{\"permissions\": {\"defaultMode\": \"yolo\"}}",
         ":1:33: permissions.defaultMode: expected one of \"default\", \"acceptEdits\", \"plan\", \"bypassPermissions\""},
        {"{\"permissions\": {\"additionalDirectories\": \"x\"}}",
         ":1:43: permissions.additionalDirectories: expected an array of directory names, found a string"},
        {"{\"permissions\": {\"additionalDirectories\": [\"\"]}}", ":1:44: permissions.additionalDirectories[0]: empty directory name"},
        {"{\"permissions\": {\"disableBypassPermissionsMode\": \"no\"}}",
         ":1:50: permissions.disableBypassPermissionsMode: expected \"disable\""},
        {"{\"env\": []}", ":1:9: env: expected an object of strings, found an array"},
        {"{\"env\": {\"PORT\": 8080}}", ":1:18: env.PORT: expected a string, found a number"},
        {"{\"env\":\n {\"\\u0041B\":\n   null}}", ":3:4: env.AB: expected a string, found null"},
        {"{\"model\": {}}", ":1:11: model: expected a string (a model id or alias), found an object"},
        {"{\"hooks\": []}", ":1:11: hooks: expected an object of hook events, found an array"},
        {"{\"hooks\": {\"Stop\": {}}}", ":1:20: hooks.Stop: expected an array of {matcher, hooks}, found an object"},
        {"{\"hooks\": {\"Stop\": [1]}}", ":1:21: hooks.Stop[0]: expected an object {matcher, hooks}, found a number"},
        {"{\"hooks\": {\"Stop\": [{\"matcher\": 1, \"hooks\": []}]}}", ":1:33: hooks.Stop[0].matcher: expected a string, found a number"},
        {"{\"hooks\": {\"Stop\": [{\"matcher\": \"x\"}]}}", ":1:21: hooks.Stop[0]: missing \"hooks\" (an array of commands)"},
        {"{\"hooks\": {\"Stop\": [{\"hooks\": [{\"command\": true}]}]}}",
         ":1:44: hooks.Stop[0].hooks[0].command: expected a string, found a boolean"},
        {"{\"hooks\": {\"Stop\": [{\"hooks\": [{\"timeout\": \"5\"}]}]}}",
         ":1:44: hooks.Stop[0].hooks[0].timeout: expected a number of seconds, found a string"},
        {"{\"hooks\": {\"Stop\": [{\"hooks\": [{\"timeout\": -1}]}]}}",
         ":1:44: hooks.Stop[0].hooks[0].timeout: expected a number of seconds >= 0"},
        {"{\"brock\": 3}", ":1:11: brock: expected an object, found a number"},
        {"[1]", ":1:1: expected a JSON object at the top level, found an array"},
        {"\"x\"", ":1:1: expected a JSON object at the top level, found a string"},
        /* columns count characters, not bytes */
        {"{\"env\": {\"\xc3\xa9\": \"x\", \"K\": 1}}", ":1:25: env.K: expected a string, found a number"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(t); i++) {
        struct settings *s;
        struct brock_err e = {0};
        enum brock_status st = parse_as(SETTINGS_PROJECT, t[i].doc, &e, &s);
        char want[1024];
        snprintf(want, sizeof want, "%s%s", s->src[SETTINGS_PROJECT].path, t[i].msg);
        if (st != BROCK_ERR_CONFIG || strncmp(e.msg, want, strlen(want)))
            fail_msg("doc %zu: status %d\n  got  %s\n  want %s", i, st, e.msg, want);
        settings_free(s);
    }
}

static void test_json_errors(void **state)
{
    (void)state;
    struct settings *s;
    struct brock_err e = {0};
    assert_int_equal(parse_as(SETTINGS_LOCAL, "{\n  \"model\": \"x\",\n}", &e, &s), BROCK_ERR_PARSE);
    char want[1024];
    snprintf(want, sizeof want, "%s:3:1: invalid JSON", s->src[SETTINGS_LOCAL].path);
    if (strncmp(e.msg, want, strlen(want)))
        fail_msg("got %s, want %s", e.msg, want);
    settings_free(s);
    assert_int_equal(parse_as(SETTINGS_LOCAL, "{\"a\": 1, \"a\": 2}", &e, &s), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "duplicate"));
    settings_free(s);
    assert_int_equal(parse_as(SETTINGS_LOCAL, "{\"env\": {\"K\": \"a\\u0000b\"}}", &e, &s), BROCK_ERR_PARSE);
    settings_free(s);
    /* empty, blank and BOM-prefixed files are fine */
    static const char *const fine[] = {"", "  \n\t\r\n", "\xEF\xBB\xBF{\"model\": \"m\"}", "\xEF\xBB\xBF"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(fine); i++) {
        assert_int_equal(parse_as(SETTINGS_LOCAL, fine[i], &e, &s), BROCK_OK);
        assert_true(s->src[SETTINGS_LOCAL].present);
        settings_free(s);
    }
    /* a file over the cap */
    size_t big = SETTINGS_MAX_FILE_BYTES + 1;
    char *doc = malloc(big + 1);
    memset(doc, ' ', big);
    doc[0] = '{';
    doc[big - 1] = '}';
    doc[big] = '\0';
    assert_int_equal(parse_as(SETTINGS_LOCAL, doc, &e, &s), BROCK_ERR_TOO_LARGE);
    settings_free(s);
    put("ws/.brock/settings.json", doc);
    struct settings_opts o = {.cwd = W, .home = H};
    assert_int_equal(settings_load(&o, &s, &e), BROCK_ERR_TOO_LARGE);
    assert_null(s);
    assert_non_null(strstr(e.msg, ".brock/settings.json"));
    rm("ws/.brock/settings.json");
    free(doc);
    /* the scope must be a file */
    assert_int_equal(parse_as(SETTINGS_CLI, "{}", &e, &s), BROCK_ERR_USAGE);
    settings_free(s);
}

static void test_unreadable_and_malformed_files(void **state)
{
    (void)state;
    struct settings_opts o = {.cwd = W, .home = H};
    struct settings *s = (struct settings *)1;
    struct brock_err e = {0};
    /* a directory where the file should be */
    char *p = fs_join(W, ".claude/settings.json");
    assert_int_equal(fs_mkdirs(p, 0755, NULL), BROCK_OK);
    assert_int_equal(settings_load(&o, &s, &e), BROCK_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(e.msg, p));
    assert_non_null(strstr(e.msg, "project settings"));
    rmdir(p);
    free(p);
    /* a FIFO does not block */
    p = fs_join(W, ".claude/settings.local.json");
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(settings_load(&o, &s, &e), BROCK_ERR_IO);
    assert_non_null(strstr(e.msg, "not a regular file"));
    unlink(p);
    free(p);
    /* malformed JSON names the file, line and column */
    put("xdg/brock/settings.json", "{\"permissions\": {\"allow\": [\"Bash\" \"Edit\"]}}");
    assert_int_equal(settings_load(&o, &s, &e), BROCK_ERR_PARSE);
    char want[1024];
    snprintf(want, sizeof want, "%s/brock/settings.json:1:", C);
    assert_non_null(strstr(e.msg, want));
    rm("xdg/brock/settings.json");
}

static void test_skipped_rules(void **state)
{
    (void)state;
    struct settings *s;
    struct brock_err e = {0};
    const char *doc = "{\"permissions\": {\n"
                      "  \"allow\": [\"Bash(ls)\", \"Bash(git push:*main)\", \"Write(src/**)\"],\n"
                      "  \"deny\": [\"bash(rm:*)\"]\n}}";
    assert_int_equal(parse_as(SETTINGS_PROJECT, doc, &e, &s), BROCK_OK);
    assert_int_equal(s->nrules, 1);
    assert_string_equal(s->rules[0].text, "Bash(ls)");
    assert_int_equal(s->nwarnings, 3);
    const char *path = s->src[SETTINGS_PROJECT].path;
    char want[1024];
    snprintf(want, sizeof want, "%s:2:25: permissions.allow[1]: rule \"Bash(git push:*main)\": `:*` must be at the end", path);
    if (strncmp(s->warnings[0], want, strlen(want)))
        fail_msg("got %s\nwant %s", s->warnings[0], want);
    assert_non_null(strstr(s->warnings[0], "rule skipped"));
    snprintf(want, sizeof want, "%s:2:49: permissions.allow[2]: rule \"Write(src/**)\"", path);
    assert_int_equal(strncmp(s->warnings[1], want, strlen(want)), 0);
    assert_non_null(strstr(s->warnings[1], "Edit(...)"));
    snprintf(want, sizeof want, "%s:3:12: permissions.deny[0]: rule \"bash(rm:*)\"", path);
    assert_int_equal(strncmp(s->warnings[2], want, strlen(want)), 0);
    settings_free(s);
}

static void test_modes_from_files(void **state)
{
    (void)state;
    struct settings *s;
    struct brock_err e = {0};
    const char *bypass = "{\"permissions\": {\"defaultMode\": \"bypassPermissions\"}}";
    /* a repository cannot turn permissions off */
    assert_int_equal(parse_as(SETTINGS_PROJECT, bypass, &e, &s), BROCK_OK);
    assert_false(s->mode_set);
    assert_int_equal(s->nwarnings, 1);
    assert_non_null(strstr(s->warnings[0], "bypassPermissions is ignored in project settings"));
    assert_int_equal(settings_parse(s, SETTINGS_PROJECT_CLAUDE, bypass, strlen(bypass), &e), BROCK_OK);
    assert_false(s->mode_set);
    /* the user can */
    assert_int_equal(settings_parse(s, SETTINGS_USER, bypass, strlen(bypass), &e), BROCK_OK);
    assert_true(s->mode_set);
    assert_int_equal(s->mode, PERM_MODE_BYPASS);
    settings_free(s);
    assert_int_equal(parse_as(SETTINGS_LOCAL, bypass, &e, &s), BROCK_OK);
    assert_int_equal(s->mode, PERM_MODE_BYPASS);
    settings_free(s);
    /* Claude Code modes brock does not have */
    assert_int_equal(parse_as(SETTINGS_USER, "{\"permissions\": {\"defaultMode\": \"dontAsk\"}}", &e, &s), BROCK_OK);
    assert_false(s->mode_set);
    assert_non_null(strstr(s->warnings[0], "not supported by brock"));
    settings_free(s);
    /* unknown keys are fine, at any level */
    assert_int_equal(parse_as(SETTINGS_USER,
                              "{\"future\": {\"a\": [1]}, \"permissions\": {\"newThing\": 1, \"allow\": []},"
                              " \"hooks\": {\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"x\": 1}], \"y\": 2}]}}",
                              &e, &s),
                     BROCK_OK);
    assert_int_equal(s->nwarnings, 0);
    settings_free(s);
    /* disableBypassPermissionsMode */
    assert_int_equal(parse_as(SETTINGS_PROJECT, "{\"permissions\": {\"disableBypassPermissionsMode\": \"disable\"}}", &e,
                              &s),
                     BROCK_OK);
    assert_true(s->bypass_disabled);
    assert_int_equal(s->bypass_disabled_scope, SETTINGS_PROJECT);
    settings_free(s);
}

static void test_cli_flags(void **state)
{
    (void)state;
    struct settings_opts o = {.cwd = W, .home = H};
    struct settings *s;
    struct brock_err e = {0};
    assert_int_equal(settings_new(&o, &s, NULL), BROCK_OK);
    assert_int_equal(settings_cli_rules(s, PERM_LIST_ALLOW, "--allowedTools", "Bash(git log:*),Edit Read", &e), BROCK_OK);
    assert_int_equal(s->nrules, 3);
    assert_int_equal(settings_cli_rules(s, PERM_LIST_ALLOW, "--allowedTools", "Bash(x:*y)", &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--allowedTools: rule \"Bash(x:*y)\": `:*` must be at the end"));
    assert_int_equal(settings_cli_rules(s, PERM_LIST_DENY, "--disallowedTools", "Bash(rm", &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--disallowedTools: missing ')'"));
    assert_int_equal(s->nrules, 3);
    assert_int_equal(settings_cli_mode(s, "bypass", &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--permission-mode"));
    assert_int_equal(settings_cli_mode(s, NULL, &e), BROCK_ERR_USAGE);
    assert_false(s->mode_set);
    assert_int_equal(settings_cli_mode(s, "bypassPermissions", &e), BROCK_OK);
    assert_int_equal(s->mode, PERM_MODE_BYPASS);
    settings_free(s);
}

static void test_no_secret_in_messages(void **state)
{
    (void)state;
    /* env values may be secrets: no message quotes a value, not even the
     * token jansson stopped at */
    static const char *const docs[] = {
        "{\"env\": {\"AWS_SECRET_ACCESS_KEY\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\", \"X\": 5}}",
        "{\"env\": {\"AWS_SECRET_ACCESS_KEY\": wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY}}",
        "{\"env\": {\"T\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\" \"x\"}}",
        "{\"env\": {\"T\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "{\"model\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\", \"env\": {\"A\": 1}}",
        "{\"env\": {\"A\": [\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"]}}",
        "{\"env\": {\"A\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\", \"A\": \"x\"}}",
        "{\"permissions\": {\"defaultMode\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}}",
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(docs); i++) {
        struct settings *s;
        struct brock_err e = {0};
        enum brock_status st = parse_as(SETTINGS_LOCAL, docs[i], &e, &s);
        assert_int_not_equal(st, BROCK_OK);
        assert_non_null(strstr(e.msg, s->src[SETTINGS_LOCAL].path));
        if (strstr(e.msg, "wJalr"))
            fail_msg("doc %zu: secret in message: %s", i, e.msg);
        settings_free(s);
    }
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_merge_order),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_unreadable_and_malformed_files),
        cmocka_unit_test(test_skipped_rules),
        cmocka_unit_test(test_modes_from_files),
        cmocka_unit_test(test_cli_flags),
        cmocka_unit_test(test_no_secret_in_messages),
    };
    return cmocka_run_group_tests_name("settings", tests, setup, NULL);
}
