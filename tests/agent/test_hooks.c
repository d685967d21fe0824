/* Tests for src/agent/hooks.c: matchers, the JSON on stdin (checked by the
 * hook itself, in Python), exit codes 0/2/other, JSON decisions, timeouts,
 * parallel runs, cancellation, caps, and what messages may show. */
#include "../support/test.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/agent/hooks.h"
#include "../../src/util/timeutil.h"

static char *project;          /* a fresh directory per run */
static char project_real[PATH_MAX];
static const char *python = "python3";

static struct hooks *make(const char *config_json, volatile sig_atomic_t *cancel)
{
    json_error_t je;
    json_t *cfg = config_json ? json_loads(config_json, 0, &je) : NULL;
    if (config_json && !cfg)
        fail_msg("bad test JSON: %s", je.text);
    struct hooks_opts o;
    hooks_opts_default(&o);
    o.project_dir = project;
    o.session_id = "sess-1";
    o.permission_mode = "default";
    o.cancel = cancel;
    o.grace_ms = 200;
    struct hooks *h = NULL;
    struct brock_err e = {0};
    if (hooks_new(cfg, &o, &h, &e) != BROCK_OK)
        fail_msg("hooks_new: %s", e.msg);
    json_decref(cfg);
    return h;
}

/* A config with one command for one event. */
static struct hooks *one(const char *event, const char *matcher, const char *command, double timeout)
{
    json_t *hk = json_pack("{s:s, s:s}", "type", "command", "command", command);
    if (timeout > 0)
        json_object_set_new(hk, "timeout", json_real(timeout));
    json_t *grp = json_pack("{s:[o]}", "hooks", hk);
    if (matcher)
        json_object_set_new(grp, "matcher", json_string(matcher));
    json_t *cfg = json_pack("{s:[o]}", event, grp);
    char *s = json_dumps(cfg, 0);
    struct hooks *h = make(s, NULL);
    free(s);
    json_decref(cfg);
    return h;
}

static enum brock_status run(struct hooks *h, enum hooks_event ev, const char *tool, const char *input_json,
                             struct hooks_outcome *out)
{
    json_error_t je;
    json_t *input = input_json ? json_loads(input_json, 0, &je) : NULL;
    struct hooks_input in = {.event = ev, .tool_name = tool, .tool_input = input};
    enum brock_status rc = hooks_run(h, &in, out, NULL);
    json_decref(input);
    return rc;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
                                     : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

static bool pid_gone_now(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

/* SIGKILL is delivered asynchronously: give the kernel up to 2 s to finish it. */
static bool pid_gone(pid_t pid)
{
    for (int i = 0; i < 200; i++) {
        if (pid_gone_now(pid))
            return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* --- matchers and configuration ----------------------------------------- */

static void test_matchers(void **state)
{
    (void)state;
    static const struct {
        const char *matcher, *tool;
        size_t n;
    } cases[] = {
        {"Bash", "Bash", 1},
        {"Bash", "BashOutput", 0},
        {"Bash", "bash", 0},
        {"Edit|Write", "Write", 1},
        {"Edit|Write", "Edit", 1},
        {"Edit|Write", "MultiEdit", 0},
        {"Edit||Write", "", 0},
        {"mcp__memory__.*", "mcp__memory__store", 1},
        {"mcp__memory__.*", "mcp__files__read", 0},
        {"*", "Anything", 1},
        {"", "Anything", 1},
        {NULL, "Anything", 1},
        {"^Notebook", "NotebookEdit", 1},
        {"^Notebook", "MyNotebook", 0},
        {"Write.*", "TodoWrite", 1}, /* a regex is searched, not anchored */
        {"^(Read|Grep)$", "Grep", 1},
        {"^(Read|Grep)$", "GrepX", 0},
        {"(", "(", 0},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct hooks *h = one("PreToolUse", cases[i].matcher, "true", 0);
        size_t n = hooks_matching(h, HOOKS_PRE_TOOL_USE, cases[i].tool);
        if (n != cases[i].n)
            fail_msg("matcher \"%s\" on \"%s\": %zu", cases[i].matcher ? cases[i].matcher : "(none)",
                     cases[i].tool, n);
        assert_int_equal(hooks_matching(h, HOOKS_POST_TOOL_USE, cases[i].tool), 0);
        hooks_free(h);
    }
    /* a bad regex is a warning */
    struct hooks *h = one("PostToolUse", "(unclosed", "true", 0);
    const char *const *w;
    assert_int_equal(hooks_warnings(h, &w), 1);
    assert_non_null(strstr(w[0], "hooks.PostToolUse[0].matcher: invalid regular expression"));
    hooks_free(h);
    /* Stop ignores matchers; identical commands run once */
    h = make("{\"Stop\": [{\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"true\"}]},"
             "{\"hooks\": [{\"type\": \"command\", \"command\": \"true\"}, {\"type\": \"command\", "
             "\"command\": \"true \"}]}]}",
             NULL);
    assert_int_equal(hooks_matching(h, HOOKS_STOP, NULL), 2);
    assert_int_equal(hooks_matching(h, HOOKS_PRE_TOOL_USE, "Bash"), 0);
    hooks_free(h);
}

static void test_config(void **state)
{
    (void)state;
    struct hooks *h = make(NULL, NULL);
    assert_int_equal(hooks_matching(h, HOOKS_PRE_TOOL_USE, "Bash"), 0);
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &out), BROCK_OK);
    assert_int_equal(out.ran, 0);
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = make("{\"UserPromptSubmit\": [], \"PreToolUse\": [{\"hooks\": [{\"type\": \"prompt\", \"prompt\": "
             "\"x\"}, {\"type\": \"command\"}, {\"type\": \"command\", \"command\": \"true\", \"timeout\": 0}]}]}",
             NULL);
    const char *const *w;
    assert_int_equal(hooks_warnings(h, &w), 3);
    assert_non_null(strstr(w[0], "hooks.UserPromptSubmit: brock does not run hooks for this event"));
    assert_non_null(strstr(w[1], "hooks.PreToolUse[0].hooks[0]: type \"prompt\" is not supported"));
    assert_non_null(strstr(w[2], "hooks.PreToolUse[0].hooks[1]: no usable \"command\""));
    assert_int_equal(hooks_matching(h, HOOKS_PRE_TOOL_USE, "X"), 1);
    hooks_free(h);

    static const struct {
        const char *cfg, *msg;
    } bad[] = {
        {"[]", "hooks: expected an object"},
        {"{\"PreToolUse\": {}}", "hooks.PreToolUse: expected an array"},
        {"{\"Stop\": [3]}", "hooks.Stop[0]: expected an object"},
        {"{\"Stop\": [{\"matcher\": 1, \"hooks\": []}]}", "hooks.Stop[0].matcher: expected a string"},
        {"{\"Stop\": [{\"hooks\": {}}]}", "hooks.Stop[0].hooks: expected an array"},
        {"{\"Stop\": [{\"hooks\": [\"true\"]}]}", "hooks.Stop[0].hooks[0]: expected an object"},
        {"{\"Stop\": [{\"hooks\": [{\"command\": 1}]}]}", "hooks.Stop[0].hooks[0].command: expected a string"},
        {"{\"Stop\": [{\"hooks\": [{\"command\": \"x\", \"timeout\": -1}]}]}",
         "hooks.Stop[0].hooks[0].timeout: expected a number of seconds >= 0"},
    };
    struct hooks_opts o;
    hooks_opts_default(&o);
    o.project_dir = project;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        json_error_t je;
        json_t *cfg = json_loads(bad[i].cfg, JSON_DECODE_ANY, &je);
        struct brock_err e = {0};
        h = (struct hooks *)1;
        assert_int_equal(hooks_new(cfg, &o, &h, &e), BROCK_ERR_CONFIG);
        assert_null(h);
        if (!strstr(e.msg, bad[i].msg))
            fail_msg("case %zu: %s", i, e.msg);
        json_decref(cfg);
    }
    o.project_dir = NULL;
    struct brock_err e = {0};
    assert_int_equal(hooks_new(NULL, &o, &h, &e), BROCK_ERR_USAGE);
}

/* --- what a hook receives -------------------------------------------------- */

static char *write_checker(const char *name, const char *body)
{
    char *path = malloc(PATH_MAX);
    snprintf(path, PATH_MAX, "%s/%s", project, name);
    test_write_file(path, body);
    return path;
}

static const char check_common[] =
    "import json, os, sys\n"
    "d = json.load(sys.stdin)\n"
    "want_dir = sys.argv[1]\n"
    "bad = []\n"
    "def eq(k, v):\n"
    "    if d.get(k, '<missing>') != v: bad.append('%s=%r' % (k, d.get(k, '<missing>')))\n"
    "eq('session_id', 'sess-1'); eq('transcript_path', ''); eq('cwd', want_dir)\n"
    "eq('permission_mode', 'default')\n"
    "for v in ('CLAUDE_PROJECT_DIR', 'BROCK_PROJECT_DIR'):\n"
    "    if os.environ.get(v) != want_dir: bad.append(v)\n"
    "if os.path.realpath(os.getcwd()) != os.path.realpath(want_dir): bad.append('cwd ' + os.getcwd())\n";

static void test_stdin_json_and_env(void **state)
{
    (void)state;
    char body[4096];
    snprintf(body, sizeof body,
             "%s"
             "eq('hook_event_name', 'PreToolUse'); eq('tool_name', 'Bash')\n"
             "eq('tool_input', {'command': 'ls -la \\u00e9', 'timeout': 5}); eq('tool_use_id', 'toolu_1')\n"
             "if set(d) != {'session_id','transcript_path','cwd','permission_mode','hook_event_name',"
             "'tool_name','tool_input','tool_use_id'}: bad.append('keys %%s' %% sorted(d))\n"
             "if bad: print('mismatch: ' + ', '.join(bad), file=sys.stderr); sys.exit(1)\n"
             "print('checked')\n",
             check_common);
    char *pre = write_checker("check_pre.py", body);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", python, pre, project);
    struct hooks *h = one("PreToolUse", "Bash", cmd, 0);
    json_error_t je;
    json_t *input = json_loads("{\"command\": \"ls -la \\u00e9\", \"timeout\": 5}", 0, &je);
    struct hooks_input in = {.event = HOOKS_PRE_TOOL_USE, .tool_name = "Bash", .tool_use_id = "toolu_1",
                             .tool_input = input};
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    assert_int_equal(hooks_run(h, &in, &out, NULL), BROCK_OK);
    if (out.failed)
        fail_msg("%s", buf_cstr(&out.user));
    assert_int_equal(out.ran, 1);
    assert_int_equal(out.decision, HOOKS_NONE);
    assert_false(out.block);
    assert_non_null(strstr(buf_cstr(&out.verbose), ": checked"));
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    snprintf(body, sizeof body,
             "%s"
             "eq('hook_event_name', 'PostToolUse'); eq('tool_name', 'mcp__x__y')\n"
             "eq('tool_input', {'a': 1}); eq('tool_response', {'ok': True, 'lines': [1, 2]})\n"
             "if 'tool_use_id' in d: bad.append('tool_use_id')\n"
             "if bad: print('mismatch: ' + ', '.join(bad), file=sys.stderr); sys.exit(1)\n",
             check_common);
    char *post = write_checker("check_post.py", body);
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", python, post, project);
    h = one("PostToolUse", "mcp__.*", cmd, 0);
    json_decref(input);
    input = json_loads("{\"a\": 1}", 0, &je);
    json_t *resp = json_loads("{\"ok\": true, \"lines\": [1, 2]}", 0, &je);
    in = (struct hooks_input){.event = HOOKS_POST_TOOL_USE, .tool_name = "mcp__x__y", .tool_input = input,
                              .tool_response = resp};
    hooks_outcome_init(&out);
    assert_int_equal(hooks_run(h, &in, &out, NULL), BROCK_OK);
    if (out.failed)
        fail_msg("%s", buf_cstr(&out.user));
    assert_int_equal(out.ran, 1);
    hooks_outcome_cleanup(&out);
    hooks_free(h);
    json_decref(input);
    json_decref(resp);

    snprintf(body, sizeof body,
             "%s"
             "eq('hook_event_name', 'Stop'); eq('stop_hook_active', True)\n"
             "if 'tool_name' in d or 'tool_input' in d: bad.append('tool keys')\n"
             "if bad: print('mismatch: ' + ', '.join(bad), file=sys.stderr); sys.exit(1)\n",
             check_common);
    char *stop = write_checker("check_stop.py", body);
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", python, stop, project);
    h = one("Stop", NULL, cmd, 0);
    in = (struct hooks_input){.event = HOOKS_STOP, .stop_hook_active = true};
    hooks_outcome_init(&out);
    assert_int_equal(hooks_run(h, &in, &out, NULL), BROCK_OK);
    if (out.failed)
        fail_msg("%s", buf_cstr(&out.user));
    assert_int_equal(out.ran, 1);
    hooks_outcome_cleanup(&out);
    hooks_free(h);
    free(pre);
    free(post);
    free(stop);
}

static void test_env_drop(void **state)
{
    (void)state;
    setenv("BROCK_TEST_HOOK_SECRET", "s3cr3t", 1);
    setenv("BROCK_TEST_HOOK_KEEP", "k", 1);
    json_error_t je;
    json_t *cfg = json_loads("{\"PreToolUse\": [{\"hooks\": [{\"type\": \"command\", \"command\": "
                             "\"test -z \\\"$BROCK_TEST_HOOK_SECRET\\\" && test \\\"$BROCK_TEST_HOOK_KEEP\\\" = k\"}]}]}",
                             0, &je);
    struct hooks_opts o;
    hooks_opts_default(&o);
    o.project_dir = project;
    const char *drop[] = {"BROCK_TEST_HOOK_SECRET"};
    o.env_drop = drop;
    o.n_env_drop = 1;
    struct hooks *h = NULL;
    assert_int_equal(hooks_new(cfg, &o, &h, NULL), BROCK_OK);
    json_decref(cfg);
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Read", NULL, &out), BROCK_OK);
    assert_int_equal(out.ran, 1);
    assert_int_equal(out.failed, 0);
    hooks_outcome_cleanup(&out);
    hooks_free(h);
    unsetenv("BROCK_TEST_HOOK_SECRET");
    unsetenv("BROCK_TEST_HOOK_KEEP");
}

/* --- exit codes -------------------------------------------------------------- */

static void test_exit_codes(void **state)
{
    (void)state;
    struct hooks_outcome out;
    struct hooks *h;

    h = one("PreToolUse", "Bash", "cat >/dev/null; echo 'no rm please' >&2; exit 2", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{\"command\": \"rm -rf /\"}", &out), BROCK_OK);
    assert_int_equal(out.decision, HOOKS_DENY);
    assert_true(out.block);
    assert_string_equal(buf_cstr(&out.reason), "no rm please");
    assert_int_equal(out.failed, 0);
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = one("PostToolUse", "", "echo 'lint failed: x.c:3' >&2; exit 2", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_POST_TOOL_USE, "Edit", "{}", &out), BROCK_OK);
    assert_int_equal(out.decision, HOOKS_NONE);
    assert_true(out.block);
    assert_string_equal(buf_cstr(&out.reason), "lint failed: x.c:3");
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = one("Stop", NULL, "echo 'tests still fail' >&2; exit 2", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_STOP, NULL, NULL, &out), BROCK_OK);
    assert_true(out.block);
    assert_string_equal(buf_cstr(&out.reason), "tests still fail");
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = one("PreToolUse", NULL, "exit 2", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &out), BROCK_OK);
    assert_int_equal(out.decision, HOOKS_DENY);
    assert_string_equal(buf_cstr(&out.reason), "Blocked by the PreToolUse hook exit (no reason given)");
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = one("PreToolUse", NULL, "echo oops >&2; echo ignored; exit 1", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &out), BROCK_OK);
    assert_int_equal(out.decision, HOOKS_NONE);
    assert_false(out.block);
    assert_int_equal(out.failed, 1);
    assert_string_equal(buf_cstr(&out.user), "PreToolUse hook echo failed with exit status 1: oops");
    assert_int_equal(out.reason.len, 0);
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = one("Stop", NULL, "exit 3", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_STOP, NULL, NULL, &out), BROCK_OK);
    assert_false(out.block);
    assert_int_equal(out.failed, 1);
    assert_string_equal(buf_cstr(&out.user), "Stop hook exit failed with exit status 3");
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = one("PreToolUse", NULL, "kill -9 $$", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &out), BROCK_OK);
    assert_false(out.block);
    assert_int_equal(out.failed, 1);
    assert_string_equal(buf_cstr(&out.user), "PreToolUse hook kill was killed by signal 9 (SIGKILL)");
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    h = one("PreToolUse", NULL, "printf 'hello\\n'", 0);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &out), BROCK_OK);
    assert_int_equal(out.failed, 0);
    assert_string_equal(buf_cstr(&out.verbose), "PreToolUse hook printf: hello");
    hooks_outcome_cleanup(&out);
    hooks_free(h);

    /* a shell that cannot be started */
    json_error_t je;
    json_t *cfg = json_loads("{\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"true\"}]}]}", 0, &je);
    struct hooks_opts o;
    hooks_opts_default(&o);
    o.project_dir = project;
    o.shell = "/nonexistent/brock-test/sh";
    assert_int_equal(hooks_new(cfg, &o, &h, NULL), BROCK_OK);
    json_decref(cfg);
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_STOP, NULL, NULL, &out), BROCK_OK);
    assert_int_equal(out.failed, 1);
    assert_int_equal(out.ran, 0);
    assert_non_null(strstr(buf_cstr(&out.user), "Stop hook true could not start: cannot start sh"));
    hooks_outcome_cleanup(&out);
    hooks_free(h);
}

/* --- JSON output ----------------------------------------------------------- */

static void interp(enum hooks_event ev, int code, const char *stdout_text, const char *stderr_text,
                   struct hooks_outcome *out)
{
    hooks_interpret(ev, "H", code, stdout_text, strlen(stdout_text), stderr_text, strlen(stderr_text), out);
}

static void test_json_output(void **state)
{
    (void)state;
    struct hooks_outcome o;
    static const struct {
        const char *out;
        enum hooks_decision d;
        bool block;
        const char *reason, *user;
    } pre[] = {
        {"{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"deny\","
         "\"permissionDecisionReason\":\"not here\"}}",
         HOOKS_DENY, true, "not here", ""},
        {"{\"hookSpecificOutput\":{\"permissionDecision\":\"allow\",\"permissionDecisionReason\":\"safe\"}}",
         HOOKS_ALLOW, false, "", "H: safe"},
        {"{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"ask\"}}",
         HOOKS_ASK, false, "", ""},
        {"{\"decision\":\"approve\",\"reason\":\"ok by policy\"}", HOOKS_ALLOW, false, "", "H: ok by policy"},
        {"{\"decision\":\"block\",\"reason\":\"old style\"}", HOOKS_DENY, true, "old style", ""},
        {"{\"decision\":\"block\"}", HOOKS_DENY, true, "Blocked by the H", ""},
        /* the newer field wins over the old one */
        {"{\"decision\":\"block\",\"reason\":\"old\",\"hookSpecificOutput\":{\"permissionDecision\":\"allow\"}}",
         HOOKS_ALLOW, false, "", ""},
        {"{\"hookSpecificOutput\":{\"hookEventName\":\"PostToolUse\",\"permissionDecision\":\"deny\"}}",
         HOOKS_NONE, false, "", "H: hookSpecificOutput is for another event; ignored"},
        {"{\"hookSpecificOutput\":{\"permissionDecision\":\"maybe\"}}", HOOKS_NONE, false, "",
         "H: unknown permission decision (expected allow, deny or ask); ignored"},
        {"{\"hookSpecificOutput\":[]}", HOOKS_NONE, false, "", "H: hookSpecificOutput is not an object; ignored"},
        {"{\"systemMessage\":\"heads up\"}", HOOKS_NONE, false, "", "heads up"},
        {"{not json", HOOKS_NONE, false, "", ""},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(pre); i++) {
        hooks_outcome_init(&o);
        interp(HOOKS_PRE_TOOL_USE, 0, pre[i].out, "", &o);
        if (o.decision != pre[i].d || o.block != pre[i].block || strcmp(buf_cstr(&o.reason), pre[i].reason) ||
            strcmp(buf_cstr(&o.user), pre[i].user))
            fail_msg("case %zu: decision %d block %d reason \"%s\" user \"%s\"", i, o.decision, o.block,
                     buf_cstr(&o.reason), buf_cstr(&o.user));
        hooks_outcome_cleanup(&o);
    }

    /* combining: deny beats ask beats allow; reasons join */
    hooks_outcome_init(&o);
    interp(HOOKS_PRE_TOOL_USE, 0, "{\"hookSpecificOutput\":{\"permissionDecision\":\"allow\"}}", "", &o);
    interp(HOOKS_PRE_TOOL_USE, 0, "{\"hookSpecificOutput\":{\"permissionDecision\":\"ask\"}}", "", &o);
    assert_int_equal(o.decision, HOOKS_ASK);
    interp(HOOKS_PRE_TOOL_USE, 2, "", "first", &o);
    interp(HOOKS_PRE_TOOL_USE, 0, "{\"hookSpecificOutput\":{\"permissionDecision\":\"allow\"}}", "", &o);
    interp(HOOKS_PRE_TOOL_USE, 0, "{\"decision\":\"block\",\"reason\":\"second\"}", "", &o);
    assert_int_equal(o.decision, HOOKS_DENY);
    assert_string_equal(buf_cstr(&o.reason), "first\nsecond");
    hooks_outcome_cleanup(&o);

    /* updatedInput, continue/stopReason, suppressOutput */
    hooks_outcome_init(&o);
    interp(HOOKS_PRE_TOOL_USE, 0,
           "{\"hookSpecificOutput\":{\"permissionDecision\":\"allow\",\"updatedInput\":{\"command\":\"ls\"}},"
           "\"suppressOutput\":true}", "", &o);
    assert_non_null(o.updated_input);
    assert_string_equal(json_string_value(json_object_get(o.updated_input, "command")), "ls");
    assert_int_equal(o.verbose.len, 0);
    interp(HOOKS_PRE_TOOL_USE, 0, "{\"continue\":false,\"stopReason\":\"budget reached\"}", "", &o);
    assert_true(o.stop);
    assert_string_equal(buf_cstr(&o.stop_reason), "budget reached");
    assert_non_null(strstr(buf_cstr(&o.verbose), "H: {\"continue\":false"));
    hooks_outcome_cleanup(&o);

    /* PostToolUse */
    hooks_outcome_init(&o);
    interp(HOOKS_POST_TOOL_USE, 0,
           "{\"decision\":\"block\",\"reason\":\"format it\",\"hookSpecificOutput\":{\"hookEventName\":"
           "\"PostToolUse\",\"additionalContext\":\"the file is generated\"}}", "", &o);
    assert_true(o.block);
    assert_string_equal(buf_cstr(&o.reason), "format it");
    assert_string_equal(buf_cstr(&o.context), "the file is generated");
    assert_int_equal(o.decision, HOOKS_NONE);
    hooks_outcome_cleanup(&o);
    hooks_outcome_init(&o);
    interp(HOOKS_POST_TOOL_USE, 0, "{\"decision\":\"approve\"}", "", &o);
    assert_false(o.block);
    hooks_outcome_cleanup(&o);

    /* Stop */
    hooks_outcome_init(&o);
    interp(HOOKS_STOP, 0, "{\"decision\":\"block\",\"reason\":\"run the tests first\"}", "", &o);
    assert_true(o.block);
    assert_string_equal(buf_cstr(&o.reason), "run the tests first");
    hooks_outcome_cleanup(&o);
    hooks_outcome_init(&o);
    interp(HOOKS_STOP, 0, "{\"decision\":\"block\"}", "", &o);
    assert_string_equal(buf_cstr(&o.reason), "The H asked to continue");
    hooks_outcome_cleanup(&o);

    /* bytes that are not UTF-8 are replaced, never passed on */
    hooks_outcome_init(&o);
    interp(HOOKS_STOP, 2, "", "bad \xff\xfe bytes \xc3", &o);
    assert_string_equal(buf_cstr(&o.reason), "bad \xef\xbf\xbd\xef\xbf\xbd bytes \xef\xbf\xbd");
    hooks_outcome_cleanup(&o);

    /* through real processes */
    struct hooks *h = make(
        "{\"PreToolUse\": [{\"matcher\": \"Bash\", \"hooks\": ["
        "{\"type\": \"command\", \"command\": \"printf '%s' '{\\\"hookSpecificOutput\\\":{\\\"hookEventName\\\":"
        "\\\"PreToolUse\\\",\\\"permissionDecision\\\":\\\"ask\\\",\\\"permissionDecisionReason\\\":\\\"check "
        "this\\\"}}'\"},"
        "{\"type\": \"command\", \"command\": \"echo '{\\\"decision\\\": \\\"block\\\", \\\"reason\\\": \\\"nope\\\"}'\"}"
        "]}]}",
        NULL);
    hooks_outcome_init(&o);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &o), BROCK_OK);
    assert_int_equal(o.ran, 2);
    assert_int_equal(o.decision, HOOKS_DENY);
    assert_string_equal(buf_cstr(&o.reason), "nope");
    assert_string_equal(buf_cstr(&o.user), "PreToolUse hook printf: check this");
    hooks_outcome_cleanup(&o);
    hooks_free(h);
}

/* --- time, cancellation, size ---------------------------------------------- */

static void test_timeout_kills_group(void **state)
{
    (void)state;
    char pidfile[PATH_MAX], cmd[2 * PATH_MAX];
    snprintf(pidfile, sizeof pidfile, "%s/bg.pid", project);
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > '%s'; wait", pidfile);
    struct hooks *h = one("PreToolUse", NULL, cmd, 0.4);
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    int64_t t0 = time_mono_ms();
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &out), BROCK_OK);
    int64_t took = time_mono_ms() - t0;
    assert_true(took >= 390 && took < 3000); /* 0.4 s, with room for a loaded machine */
    assert_int_equal(out.timed_out, 1);
    assert_int_equal(out.failed, 1);
    assert_false(out.block);
    assert_string_equal(buf_cstr(&out.user), "PreToolUse hook sleep timed out after 0.4 s and was killed");
    char *pid = test_read_file(pidfile, NULL);
    assert_non_null(pid);
    assert_true(pid_gone((pid_t)atoi(pid)));
    free(pid);
    hooks_outcome_cleanup(&out);
    hooks_free(h);
}

static void test_parallel(void **state)
{
    (void)state;
    struct hooks *h = make("{\"PostToolUse\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"sleep 0.4; echo a\"},"
                           "{\"type\": \"command\", \"command\": \"sleep 0.4; echo b\"}]},"
                           "{\"matcher\": \"Write\", \"hooks\": [{\"type\": \"command\", \"command\": \"sleep 0.4; echo c\"}]}]}",
                           NULL);
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    int64_t t0 = time_mono_ms();
    assert_int_equal(run(h, HOOKS_POST_TOOL_USE, "Write", "{}", &out), BROCK_OK);
    int64_t took = time_mono_ms() - t0;
    assert_int_equal(out.ran, 3);
    assert_true(took < 1100);
    /* results in configuration order, whatever order they finished in */
    assert_string_equal(buf_cstr(&out.verbose), "PostToolUse hook sleep: a\nPostToolUse hook sleep: b\n"
                                                "PostToolUse hook sleep: c");
    hooks_outcome_cleanup(&out);
    hooks_free(h);
}

static volatile sig_atomic_t cancel_flag;

static void *cancel_later(void *arg)
{
    (void)arg;
    usleep(150 * 1000);
    cancel_flag = 1;
    return NULL;
}

static void test_cancel(void **state)
{
    (void)state;
    cancel_flag = 0;
    struct hooks *h = make("{\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"sleep 20\"},"
                           "{\"type\": \"command\", \"command\": \"echo done\"}]}]}",
                           &cancel_flag);
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, NULL), 0);
    int64_t t0 = time_mono_ms();
    assert_int_equal(run(h, HOOKS_STOP, NULL, NULL, &out), BROCK_ERR_INTERRUPTED);
    int64_t took = time_mono_ms() - t0;
    pthread_join(th, NULL);
    assert_true(took >= 140 && took < 1500);
    assert_true(out.interrupted);
    assert_false(out.block);
    /* the hook that had finished still counts */
    assert_string_equal(buf_cstr(&out.verbose), "Stop hook echo: done");
    assert_non_null(strstr(buf_cstr(&out.user), "Stop hooks interrupted by the user"));
    hooks_outcome_cleanup(&out);
    hooks_free(h);
    cancel_flag = 0;
}

static void test_big_input_and_output(void **state)
{
    (void)state;
    /* 4 MiB of input to a hook that never reads it, and one that checks it */
    size_t n = 4 * 1024 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'z', n);
    big[n] = '\0';
    json_t *input = json_pack("{s:s}", "content", big);
    free(big);
    char body[1024], cmd[3 * PATH_MAX];
    snprintf(body, sizeof body,
             "import json, sys\nd = json.load(sys.stdin)\n"
             "sys.exit(0 if len(d['tool_input']['content']) == %zu and d['tool_name'] == 'Write' else 1)\n", n);
    char *checker = write_checker("check_big.py", body);
    snprintf(cmd, sizeof cmd, "%s '%s'", python, checker);
    json_t *cfg = json_pack("{s:[{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}]}", "PreToolUse", "hooks",
                            "type", "command", "command", "exit 0",
                            "type", "command", "command", cmd,
                            "type", "command", "command", "head -c 1000000 /dev/zero | tr '\\0' y");
    char *cs = json_dumps(cfg, 0);
    struct hooks *h = make(cs, NULL);
    free(cs);
    json_decref(cfg);
    struct hooks_input in = {.event = HOOKS_PRE_TOOL_USE, .tool_name = "Write", .tool_input = input};
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    int64_t t0 = time_mono_ms();
    assert_int_equal(hooks_run(h, &in, &out, NULL), BROCK_OK);
    assert_true(time_mono_ms() - t0 < 5000);
    if (out.failed)
        fail_msg("%s", buf_cstr(&out.user));
    assert_int_equal(out.ran, 3);
    /* output past the cap is dropped, and what is kept is valid text */
    assert_true(out.verbose.len <= HOOKS_TEXT_MAX);
    assert_true(out.verbose.len > HOOKS_OUTPUT_MAX - 1000);
    assert_true(utf8_valid(out.verbose.ptr, out.verbose.len));
    hooks_outcome_cleanup(&out);
    hooks_free(h);
    json_decref(input);
    free(checker);
}

static void test_no_secrets_in_messages(void **state)
{
    (void)state;
    struct hooks *h = make("{\"PreToolUse\": [{\"hooks\": ["
                           "{\"type\": \"command\", \"command\": \"false --token=sk-live-SECRET123\"},"
                           "{\"type\": \"command\", \"command\": \"sleep 5 # Authorization: Bearer SECRET456\", \"timeout\": 0.2},"
                           "{\"type\": \"command\", \"command\": \"/nonexistent/SECRET789/hook --key=SECRET000\"}]}]}",
                           NULL);
    struct hooks_outcome out;
    hooks_outcome_init(&out);
    assert_int_equal(run(h, HOOKS_PRE_TOOL_USE, "Bash", "{}", &out), BROCK_OK);
    assert_int_equal(out.failed, 3);
    const char *u = buf_cstr(&out.user);
    assert_non_null(strstr(u, "PreToolUse hook false failed with exit status 1"));
    assert_non_null(strstr(u, "PreToolUse hook sleep timed out"));
    assert_non_null(strstr(u, "failed with exit status 127"));
    assert_null(strstr(u, "SECRET123"));
    assert_null(strstr(u, "SECRET456"));
    assert_null(strstr(u, "SECRET000"));
    hooks_outcome_cleanup(&out);
    hooks_free(h);
}

int main(void)
{
    test_init();
    project = test_tmpdir();
    if (!realpath(project, project_real)) {
        fprintf(stderr, "realpath %s failed\n", project);
        return 1;
    }
    free(project);
    project = project_real;
    if (access("/usr/bin/python3", X_OK) == 0)
        python = "/usr/bin/python3";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matchers),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_stdin_json_and_env),
        cmocka_unit_test(test_env_drop),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_timeout_kills_group),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_big_input_and_output),
        cmocka_unit_test(test_no_secrets_in_messages),
    };
    return cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
}
