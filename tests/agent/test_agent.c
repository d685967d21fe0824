/* Tests for the agent loop (src/agent/agent.c, agent_tools.c) with a scripted
 * model: multi-step tool loops, results in tool_use order, concurrency of
 * read-only tools, unknown tools, tool errors as is_error results,
 * permission refusals (exact text), paths outside the workspace and secret
 * paths, PreToolUse / PostToolUse / Stop hooks, --max-turns, Ctrl-C in a
 * tool and in a stream, failed calls, MCP tools, hidden tools and the
 * system prompt. */
#include "test_agent_fake.h"

#include <limits.h>
#include <pthread.h>
#include <time.h>

#include "../../src/agent/mcp.h"
#include "../../src/util/timeutil.h"
#include "mcp_fake_server.c"

static char self_exe[PATH_MAX];

static enum brock_status run(struct fx *x, const char *prompt, struct agent_turn *t)
{
    struct brock_err e = {0};
    return agent_run_turn(x->a, prompt, t, &e);
}

static void test_loop_read_then_edit(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "Edit", NULL, NULL);
    fx_write(&x, "a.c", "int main(void) { return 1; }\n");
    char *p = fx_path(&x, "a.c");
    fake_step(&x.fm, "{\"text\": \"Let me look.\", \"tool_use\": [{\"id\": \"t1\", \"name\": \"Read\", "
                     "\"input\": {\"file_path\": \"%s\"}}]}", p);
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"t2\", \"name\": \"Edit\", \"input\": {\"file_path\": \"%s\", "
                     "\"old_string\": \"return 1\", \"new_string\": \"return 0\"}}]}", p);
    fake_step(&x.fm, "{\"text\": \"Fixed: main returns 0 now.\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "make main return 0", &t), BROCK_OK);
    assert_int_equal(t.stop, AGENT_STOP_END_TURN);
    assert_int_equal(t.model_calls, 3);
    assert_string_equal(t.text, "Fixed: main returns 0 now.");
    char *after = fx_read(&x, "a.c");
    assert_string_equal(after, "int main(void) { return 0; }\n");
    free(after);

    /* the model saw the file, then the edit's success */
    json_t *r1 = find_result(req_messages(&x.fm, 1), "t1");
    assert_non_null(r1);
    assert_non_null(strstr(result_text(r1), "return 1"));
    assert_null(json_object_get(r1, "is_error"));
    json_t *r2 = find_result(req_messages(&x.fm, 2), "t2");
    assert_non_null(r2);
    assert_null(json_object_get(r2, "is_error"));
    /* every request is a valid body with the tools and the system prompt */
    for (size_t i = 0; i < 3; i++) {
        json_t *body = json_object_get(json_array_get(x.fm.requests, i), "body");
        assert_non_null(body);
        json_t *tools = json_object_get(body, "tools");
        assert_true(json_array_size(tools) >= 9);
        const char *sys = json_string_value(json_object_get(json_array_get(json_object_get(body, "system"), 0), "text"));
        assert_non_null(sys);
        assert_non_null(strstr(sys, x.ws));
        assert_well_formed(json_object_get(body, "messages"));
    }
    assert_well_formed(agent_messages(x.a));
    assert_int_equal(json_array_size(agent_messages(x.a)), 6);
    free(p);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void test_tool_errors_are_results(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "Bash", NULL, NULL);
    char *missing = fx_path(&x, "nope.txt");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"r\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
                     "{\"id\": \"b\", \"name\": \"Bash\", \"input\": {\"command\": \"echo to-out; echo to-err >&2; exit 3\"}},"
                     "{\"id\": \"v\", \"name\": \"Read\", \"input\": {}}]}",
              missing);
    fake_step(&x.fm, "{\"text\": \"I see the errors.\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "try things", &t), BROCK_OK);
    assert_int_equal(t.model_calls, 2);
    json_t *msgs = req_messages(&x.fm, 1);
    json_t *r = find_result(msgs, "r"), *b = find_result(msgs, "b"), *v = find_result(msgs, "v");
    assert_true(json_is_true(json_object_get(r, "is_error")));
    assert_true(json_is_true(json_object_get(b, "is_error")));
    assert_non_null(strstr(result_text(b), "to-out"));
    assert_non_null(strstr(result_text(b), "to-err"));
    assert_non_null(strstr(result_text(b), "3"));
    assert_true(json_is_true(json_object_get(v, "is_error")));
    assert_non_null(strstr(result_text(v), "file_path"));
    free(missing);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void test_unknown_tool(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"u\", \"name\": \"Frobnicate\", \"input\": {\"x\": 1}}]}");
    fake_step(&x.fm, "{\"text\": \"ok\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "frob", &t), BROCK_OK);
    json_t *r = find_result(req_messages(&x.fm, 1), "u");
    assert_true(json_is_true(json_object_get(r, "is_error")));
    const char *want = "Error: no tool named `Frobnicate`. The available tools are: ";
    assert_memory_equal(result_text(r), want, strlen(want));
    assert_non_null(strstr(result_text(r), "Read"));
    assert_non_null(strstr(result_text(r), "Bash"));
    agent_turn_cleanup(&t);
    fx_free(&x);
}

/* The refusal the model gets is the permission engine's message, exactly. */
static void test_permission_refusal_told_to_model(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fx_write(&x, "b.txt", "keep me\n");
    char *p = fx_path(&x, "b.txt");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"e\", \"name\": \"Write\", \"input\": {\"file_path\": \"%s\", "
                     "\"content\": \"changed\\n\"}}, {\"id\": \"c\", \"name\": \"Bash\", \"input\": {\"command\": "
                     "\"rm -f %s\"}}]}",
              p, p);
    fake_step(&x.fm, "{\"text\": \"I was not allowed.\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "change b", &t), BROCK_OK);
    char *content = fx_read(&x, "b.txt");
    assert_string_equal(content, "keep me\n");
    free(content);

    struct perm_decision d;
    perm_check(x.pe, "Write", p, &d);
    assert_int_equal(d.verdict, PERM_DENY);
    json_t *r = find_result(req_messages(&x.fm, 1), "e");
    assert_true(json_is_true(json_object_get(r, "is_error")));
    assert_string_equal(result_text(r), d.message);
    perm_decision_cleanup(&d);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -f %s", p);
    perm_check(x.pe, "Bash", cmd, &d);
    r = find_result(req_messages(&x.fm, 1), "c");
    assert_string_equal(result_text(r), d.message);
    assert_non_null(strstr(d.message, "--allowedTools"));
    perm_decision_cleanup(&d);

    const json_t *den = agent_permission_denials(x.a);
    assert_int_equal(json_array_size(den), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(den, 0), "tool_name")), "Write");
    assert_string_equal(json_string_value(json_object_get(json_array_get(den, 0), "tool_use_id")), "e");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(den, 0), "tool_input"),
                                                          "file_path")),
                        p);
    json_t *perms = fx_events(&x, "permission");
    assert_int_equal(json_array_size(perms), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(perms, 0), "verdict")), "deny");
    json_decref(perms);
    free(p);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void test_outside_workspace_and_secrets(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    char *out = fs_join(x.T, "outside.txt");
    test_write_file(out, "outside\n");
    char *awsdir = fs_join(x.home, ".aws");
    assert_int_equal(fs_mkdirs(awsdir, 0700, NULL), BROCK_OK);
    char *creds = fs_join(awsdir, "credentials");
    test_write_file(creds, "[default]\naws_secret_access_key = not-for-models\n");
    fx_write(&x, "in.txt", "inside\n");
    char *in = fx_path(&x, "in.txt");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"o\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
                     "{\"id\": \"s\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
                     "{\"id\": \"i\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
                     "{\"id\": \"dd\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s/../outside.txt\"}}]}",
              out, creds, in, x.ws);
    fake_step(&x.fm, "{\"text\": \"done\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "read around", &t), BROCK_OK);
    json_t *msgs = req_messages(&x.fm, 1);
    json_t *o = find_result(msgs, "o"), *s = find_result(msgs, "s"), *i = find_result(msgs, "i"),
           *dd = find_result(msgs, "dd");
    assert_true(json_is_true(json_object_get(o, "is_error")));
    assert_non_null(strstr(result_text(o), "outside the workspace"));
    assert_non_null(strstr(result_text(o), "refused"));
    assert_null(strstr(result_text(o), "outside\n"));
    assert_true(json_is_true(json_object_get(s, "is_error")));
    assert_null(strstr(result_text(s), "not-for-models"));
    assert_true(json_is_true(json_object_get(dd, "is_error")));
    assert_non_null(strstr(result_text(dd), "outside the workspace"));
    assert_null(json_object_get(i, "is_error"));
    assert_non_null(strstr(result_text(i), "inside"));
    agent_turn_cleanup(&t);
    fx_free(&x);

    /* an allow rule for Read opens outside paths, never the secret one */
    fx_init(&x, "Read", NULL, NULL);
    free(awsdir);
    free(creds);
    awsdir = fs_join(x.home, ".aws");
    assert_int_equal(fs_mkdirs(awsdir, 0700, NULL), BROCK_OK);
    creds = fs_join(awsdir, "credentials");
    test_write_file(creds, "[default]\naws_secret_access_key = not-for-models\n");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"o\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
                     "{\"id\": \"s\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}",
              out, creds);
    fake_step(&x.fm, "{\"text\": \"done\"}");
    fx_agent(&x);
    assert_int_equal(run(&x, "read around", &t), BROCK_OK);
    msgs = req_messages(&x.fm, 1);
    assert_null(json_object_get(find_result(msgs, "o"), "is_error"));
    assert_true(json_is_true(json_object_get(find_result(msgs, "s"), "is_error")));
    assert_null(strstr(result_text(find_result(msgs, "s")), "not-for-models"));
    agent_turn_cleanup(&t);
    fx_free(&x);
    free(out);
    free(awsdir);
    free(creds);
    free(in);
}

/* Read, Read, Glob run as one batch (all started before any finished);
 * Edit runs alone; the Read after it sees the edit; results keep the
 * tool_use order. */
static void test_concurrent_reads_keep_order(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "Edit", NULL, NULL);
    fx_write(&x, "a.txt", "alpha\n");
    fx_write(&x, "b.txt", "beta\n");
    fx_write(&x, "c.txt", "gamma\n");
    char *a = fx_path(&x, "a.txt"), *b = fx_path(&x, "b.txt"), *c = fx_path(&x, "c.txt");
    fake_step(&x.fm,
              "{\"tool_use\": [{\"id\": \"t1\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
              "{\"id\": \"t2\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
              "{\"id\": \"t3\", \"name\": \"Glob\", \"input\": {\"pattern\": \"*.txt\", \"path\": \"%s\"}},"
              "{\"id\": \"t4\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
              "{\"id\": \"t5\", \"name\": \"Edit\", \"input\": {\"file_path\": \"%s\", \"old_string\": \"gamma\", "
              "\"new_string\": \"GAMMA\"}},"
              "{\"id\": \"t6\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}",
              a, b, x.ws, c, c, c);
    fake_step(&x.fm, "{\"text\": \"done\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "look", &t), BROCK_OK);
    /* event order */
    const char *want[] = {"tool_start:t1", "tool_start:t2", "tool_start:t3", "tool_start:t4", "tool_result:t1",
                          "tool_result:t2", "tool_result:t3", "tool_result:t4", "tool_start:t5", "tool_result:t5",
                          "tool_start:t6", "tool_result:t6"};
    size_t k = 0, i;
    json_t *ev;
    json_array_foreach(x.events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (strcmp(type, "tool_start") && strcmp(type, "tool_result"))
            continue;
        char got[64];
        snprintf(got, sizeof got, "%s:%s", type, json_string_value(json_object_get(ev, "id")));
        assert_true(k < BROCK_ARRAY_LEN(want));
        assert_string_equal(got, want[k]);
        k++;
    }
    assert_int_equal(k, BROCK_ARRAY_LEN(want));
    /* results in tool_use order, with the right contents */
    json_t *user = json_array_get(req_messages(&x.fm, 1), 2);
    json_t *content = json_object_get(user, "content");
    assert_int_equal(json_array_size(content), 6);
    const char *ids[] = {"t1", "t2", "t3", "t4", "t5", "t6"};
    for (i = 0; i < 6; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(content, i), "tool_use_id")), ids[i]);
    assert_non_null(strstr(result_text(json_array_get(content, 0)), "alpha"));
    assert_non_null(strstr(result_text(json_array_get(content, 1)), "beta"));
    assert_non_null(strstr(result_text(json_array_get(content, 2)), "c.txt"));
    assert_non_null(strstr(result_text(json_array_get(content, 3)), "gamma"));
    assert_non_null(strstr(result_text(json_array_get(content, 5)), "GAMMA"));
    free(a);
    free(b);
    free(c);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void test_hooks_block_and_feedback(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "Edit", NULL, NULL);
    fx_write(&x, "f.txt", "frozen\n");
    char *f = fx_path(&x, "f.txt");
    fx_hooks(&x, "{\"PreToolUse\": [{\"matcher\": \"Edit\", \"hooks\": [{\"type\": \"command\", \"command\": "
                 "\"echo 'edits are frozen today' >&2; exit 2\"}]}],"
                 " \"PostToolUse\": [{\"matcher\": \"Read\", \"hooks\": [{\"type\": \"command\", \"command\": "
                 "\"echo 'remember the style guide' >&2; exit 2\"}]}]}");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"r\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
                     "{\"id\": \"e\", \"name\": \"Edit\", \"input\": {\"file_path\": \"%s\", \"old_string\": \"frozen\", "
                     "\"new_string\": \"thawed\"}}]}",
              f, f);
    fake_step(&x.fm, "{\"text\": \"ok\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "edit", &t), BROCK_OK);
    char *content = fx_read(&x, "f.txt");
    assert_string_equal(content, "frozen\n");
    free(content);
    json_t *msgs = req_messages(&x.fm, 1);
    json_t *e = find_result(msgs, "e"), *r = find_result(msgs, "r");
    assert_true(json_is_true(json_object_get(e, "is_error")));
    assert_non_null(strstr(result_text(e), "A PreToolUse hook blocked this tool call"));
    assert_non_null(strstr(result_text(e), "edits are frozen today"));
    assert_null(json_object_get(r, "is_error"));
    assert_non_null(strstr(result_text(r), "frozen"));
    assert_non_null(strstr(result_text(r), "PostToolUse hook feedback:\nremember the style guide"));
    assert_int_equal(json_array_size(agent_permission_denials(x.a)), 1);
    free(f);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void test_stop_hook_continues(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    char *log = fs_join(x.T, "stop.log");
    char hooks[2048];
    snprintf(hooks, sizeof hooks,
             "{\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"cat >> %s; echo >> %s; "
             "if grep -Eq '\\\"stop_hook_active\\\": ?true' %s; then exit 0; fi; "
             "echo 'please run the tests' >&2; exit 2\"}]}]}",
             log, log, log);
    fx_hooks(&x, hooks);
    fake_step(&x.fm, "{\"text\": \"done\"}");
    fake_step(&x.fm, "{\"text\": \"tests pass, really done\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "work", &t), BROCK_OK);
    assert_int_equal(t.stop, AGENT_STOP_END_TURN);
    assert_int_equal(t.model_calls, 2);
    assert_string_equal(t.text, "tests pass, really done");
    json_t *msgs = req_messages(&x.fm, 1);
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    json_t *blk = json_array_get(json_object_get(last, "content"), 0);
    assert_non_null(strstr(json_string_value(json_object_get(blk, "text")), "Stop hook feedback:\nplease run the tests"));
    char *l = test_read_file(log, NULL);
    assert_non_null(l);
    /* two runs: the first with stop_hook_active false, the second true */
    char *first = strstr(l, "stop_hook_active");
    assert_non_null(first);
    char *second = strstr(first + 1, "stop_hook_active");
    assert_non_null(second);
    assert_memory_equal(first + strlen("stop_hook_active\"") + strspn(first + strlen("stop_hook_active\""), ": "), "false", 5);
    assert_memory_equal(second + strlen("stop_hook_active\"") + strspn(second + strlen("stop_hook_active\""), ": "), "true", 4);
    free(l);
    agent_turn_cleanup(&t);
    fx_free(&x);

    /* a hook that always blocks is stopped by the guard */
    fx_init(&x, NULL, NULL, NULL);
    fx_hooks(&x, "{\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"cat >/dev/null; echo more >&2; "
                 "exit 2\"}]}]}");
    for (int i = 0; i < AGENT_MAX_STOP_CONTINUES + 3; i++)
        fake_step(&x.fm, "{\"text\": \"again %d\"}", i);
    fx_agent(&x);
    assert_int_equal(run(&x, "loop", &t), BROCK_OK);
    assert_int_equal(t.model_calls, AGENT_MAX_STOP_CONTINUES + 1);
    json_t *w = fx_events(&x, "warning");
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(w, 0), "text")), "Stop hook"));
    json_decref(w);
    assert_well_formed(agent_messages(x.a));
    agent_turn_cleanup(&t);
    fx_free(&x);
    free(log);
}

static void test_max_turns(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fx_write(&x, "a.txt", "a\n");
    char *a = fx_path(&x, "a.txt");
    for (int i = 0; i < 5; i++)
        fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"t%d\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}",
                  i, a);
    x.cfg.max_turns = 2;
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "loop", &t), BROCK_OK);
    assert_int_equal(t.stop, AGENT_STOP_MAX_TURNS);
    assert_int_equal(t.model_calls, 2);
    assert_int_equal(json_array_size(x.fm.requests), 2);
    const json_t *m = agent_messages(x.a);
    assert_int_equal(json_array_size(m), 5);
    assert_well_formed(m);
    free(a);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void *set_cancel_later(void *arg)
{
    struct fx *x = arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    x->cancel = 1;
    return NULL;
}

static void test_ctrl_c_in_a_tool(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "Bash", NULL, NULL);
    fx_write(&x, "a.txt", "a\n");
    char *a = fx_path(&x, "a.txt");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"b1\", \"name\": \"Bash\", \"input\": {\"command\": \"sleep 20\"}},"
                     "{\"id\": \"r1\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}",
              a);
    fake_step(&x.fm, "{\"text\": \"after the interruption\"}");
    fx_agent(&x);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, set_cancel_later, &x), 0);
    int64_t t0 = time_mono_ms();
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x.a, "run it", &t, &e), BROCK_ERR_INTERRUPTED);
    pthread_join(th, NULL);
    assert_true(time_mono_ms() - t0 < 10000);
    assert_int_equal(t.stop, AGENT_STOP_INTERRUPTED);
    const json_t *m = agent_messages(x.a);
    assert_well_formed(m);
    json_t *last = json_array_get(m, json_array_size(m) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "role")), "user");
    json_t *b1 = find_result(m, "b1"), *r1 = find_result(m, "r1");
    assert_true(json_is_true(json_object_get(b1, "is_error")));
    assert_string_equal(result_text(r1), "Interrupted by the user: this tool call was not run.");
    agent_turn_cleanup(&t);

    /* the next turn goes on from a valid conversation */
    x.cancel = 0;
    assert_int_equal(run(&x, "go on", &t), BROCK_OK);
    assert_string_equal(t.text, "after the interruption");
    json_t *msgs = req_messages(&x.fm, 1);
    assert_well_formed(msgs);
    assert_int_equal(json_array_size(msgs), 3); /* prompt, tool uses, results + "go on" */
    free(a);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static void test_ctrl_c_in_a_stream_and_failed_calls(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fake_step(&x.fm, "{\"error\": \"interrupted\", \"partial_text\": \"I was say\"}");
    fake_step(&x.fm, "{\"error\": \"throttled\"}");
    fake_step(&x.fm, "{\"text\": \"answer to all three\"}");
    fx_agent(&x);
    struct agent_turn t;
    struct brock_err e = {0};
    assert_int_equal(agent_run_turn(x.a, "first", &t, &e), BROCK_ERR_INTERRUPTED);
    assert_int_equal(t.stop, AGENT_STOP_INTERRUPTED);
    assert_string_equal(t.text, "I was say");
    agent_turn_cleanup(&t);
    x.cancel = 0;
    assert_int_equal(agent_run_turn(x.a, "second", &t, &e), BROCK_ERR_THROTTLED);
    assert_int_equal(t.stop, AGENT_STOP_ERROR);
    assert_string_equal(e.aws_code, "ThrottlingException");
    agent_turn_cleanup(&t);
    assert_int_equal(run(&x, "third", &t), BROCK_OK);
    /* the three prompts went out as one user message */
    json_t *msgs = req_messages(&x.fm, 2);
    assert_int_equal(json_array_size(msgs), 1);
    json_t *c = json_object_get(json_array_get(msgs, 0), "content");
    assert_int_equal(json_array_size(c), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 2), "text")), "third");
    struct agent_totals tot;
    agent_totals(x.a, &tot);
    assert_int_equal(tot.model_calls, 3);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

static struct mcp_client *start_fake_mcp(const char *ws)
{
    char cfgtext[PATH_MAX + 256];
    snprintf(cfgtext, sizeof cfgtext, "{\"mcpServers\": {\"fake\": {\"command\": \"%s\", \"args\": [\"--fake-mcp\", "
                                      "\"normal\"]}}}", self_exe);
    struct mcp_config *mc = NULL;
    struct brock_err e = {0};
    assert_int_equal(mcp_config_parse(".mcp.json", cfgtext, strlen(cfgtext), NULL, NULL, &mc, &e), BROCK_OK);
    struct mcp_opts o;
    mcp_opts_default(&o);
    o.cwd = ws;
    o.stop_grace_ms = 200;
    struct mcp_client *c = NULL;
    assert_int_equal(mcp_client_start(mc, &o, &c, &e), BROCK_OK);
    mcp_config_free(mc);
    return c;
}

static bool has_tool(const json_t *specs, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(specs, i, t) if (!strcmp(json_string_value(json_object_get(t, "name")), name)) return true;
    return false;
}

static void test_mcp_tools_under_permissions(void **state)
{
    (void)state;
    /* refused by default in -p */
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    struct mcp_client *c = start_fake_mcp(x.ws);
    x.cfg.mcp = c;
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"m\", \"name\": \"mcp__fake__echo\", \"input\": {\"x\": 1}}]}");
    fake_step(&x.fm, "{\"text\": \"ok\"}");
    fx_agent(&x);
    assert_true(has_tool(agent_tool_specs(x.a), "mcp__fake__echo"));
    assert_true(has_tool(agent_tool_specs(x.a), "Read"));
    struct agent_turn t;
    assert_int_equal(run(&x, "echo", &t), BROCK_OK);
    json_t *r = find_result(req_messages(&x.fm, 1), "m");
    assert_true(json_is_true(json_object_get(r, "is_error")));
    assert_non_null(strstr(result_text(r), "refused"));
    assert_non_null(strstr(result_text(r), "mcp__fake__echo"));
    agent_turn_cleanup(&t);
    fx_free(&x);
    mcp_client_free(c);

    /* allowed by a server rule */
    fx_init(&x, "mcp__fake", NULL, NULL);
    c = start_fake_mcp(x.ws);
    x.cfg.mcp = c;
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"m\", \"name\": \"mcp__fake__echo\", \"input\": {\"x\": 1}}]}");
    fake_step(&x.fm, "{\"text\": \"ok\"}");
    fx_agent(&x);
    assert_int_equal(run(&x, "echo", &t), BROCK_OK);
    r = find_result(req_messages(&x.fm, 1), "m");
    assert_null(json_object_get(r, "is_error"));
    assert_string_equal(result_text(r), "{\"x\":1}");
    agent_turn_cleanup(&t);
    fx_free(&x);
    mcp_client_free(c);

    /* a bare deny hides the server's tools (and Bash's) */
    fx_init(&x, NULL, "mcp__fake Bash", NULL);
    c = start_fake_mcp(x.ws);
    x.cfg.mcp = c;
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"m\", \"name\": \"mcp__fake__echo\", \"input\": {\"x\": 1}},"
                     "{\"id\": \"b\", \"name\": \"Bash\", \"input\": {\"command\": \"true\"}}]}");
    fake_step(&x.fm, "{\"text\": \"ok\"}");
    fx_agent(&x);
    assert_false(has_tool(agent_tool_specs(x.a), "mcp__fake__echo"));
    assert_false(has_tool(agent_tool_specs(x.a), "Bash"));
    assert_true(has_tool(agent_tool_specs(x.a), "Read"));
    assert_int_equal(run(&x, "echo", &t), BROCK_OK);
    assert_non_null(strstr(result_text(find_result(req_messages(&x.fm, 1), "m")), "no tool named"));
    assert_non_null(strstr(result_text(find_result(req_messages(&x.fm, 1), "b")), "no tool named"));
    agent_turn_cleanup(&t);
    fx_free(&x);
    mcp_client_free(c);
}

static void test_system_prompt_and_tool_list(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    x.cfg.memory = "MEMORY-SECTION";
    x.cfg.append_system = "APPENDED-TEXT";
    const char *names[] = {"Read", "Grep"};
    x.cfg.tool_names = names;
    x.cfg.n_tool_names = 2;
    fx_agent(&x);
    const char *sys = agent_system_prompt(x.a);
    const char *ws = strstr(sys, x.ws), *mem = strstr(sys, "MEMORY-SECTION"), *app = strstr(sys, "APPENDED-TEXT");
    assert_non_null(strstr(sys, "You are brock"));
    assert_true(ws && mem && app && ws < mem && mem < app);
    assert_int_equal(json_array_size(agent_tool_specs(x.a)), 2);
    assert_true(has_tool(agent_tool_specs(x.a), "Grep"));
    fx_free(&x);

    fx_init(&x, NULL, NULL, NULL);
    x.cfg.system = "CUSTOM PROMPT";
    x.cfg.tools = NULL;
    fx_agent(&x);
    assert_string_equal(agent_system_prompt(x.a), "CUSTOM PROMPT");
    assert_int_equal(json_array_size(agent_tool_specs(x.a)), 0);
    fake_step(&x.fm, "{\"text\": \"plain\"}");
    struct agent_turn t;
    assert_int_equal(run(&x, "hi", &t), BROCK_OK);
    assert_null(json_object_get(json_object_get(json_array_get(x.fm.requests, 0), "body"), "tools"));
    agent_turn_cleanup(&t);
    fx_free(&x);

    /* config errors */
    struct agent_config c;
    agent_config_init(&c);
    struct agent *a = NULL;
    struct brock_err e = {0};
    assert_int_equal(agent_new(&c, &a, &e), BROCK_ERR_USAGE);
    assert_null(a);
}

/* A model that runs `env` or reads ~/.aws never sees the credentials brock signs with. */
static void test_secrets_stay_out_of_results(void **state)
{
    (void)state;
    const char *secret = "wJalrXUtnFEMI/K7MDENG+agentTESTsecretKEY";
    setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
    setenv("AWS_SESSION_TOKEN", "agent-test-session-token-value", 1);
    struct fx x;
    fx_init(&x, "Bash", NULL, NULL);
    fx_store(&x);
    char *awsdir = fs_join(x.home, ".aws");
    assert_int_equal(fs_mkdirs(awsdir, 0700, NULL), BROCK_OK);
    char *creds = fs_join(awsdir, "credentials");
    char text[256];
    snprintf(text, sizeof text, "[default]\naws_secret_access_key = %s\n", secret);
    test_write_file(creds, text);
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"e\", \"name\": \"Bash\", \"input\": {\"command\": \"env; cat %s\"}},"
                     "{\"id\": \"r\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}",
              creds, creds);
    fake_step(&x.fm, "{\"text\": \"done\"}");
    fx_agent(&x);
    struct agent_turn t;
    assert_int_equal(run(&x, "show me the environment", &t), BROCK_OK);
    char *all = json_dumps(x.fm.requests, 0);
    assert_null(strstr(all, secret));
    assert_null(strstr(all, "agent-test-session-token-value"));
    free(all);
    /* nor does the session database */
    struct store_tool_call_list tc;
    struct brock_err e = {0};
    assert_int_equal(store_session_tool_calls(x.store, agent_session_id(x.a), &tc, &e), BROCK_OK);
    assert_int_equal(tc.n, 2);
    for (size_t i = 0; i < tc.n; i++)
        assert_null(strstr(tc.items[i].result, secret));
    store_tool_call_list_free(&tc);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    free(awsdir);
    free(creds);
    agent_turn_cleanup(&t);
    fx_free(&x);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--fake-mcp"))
        return fake_server_main(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_read_then_edit),
        cmocka_unit_test(test_tool_errors_are_results),
        cmocka_unit_test(test_unknown_tool),
        cmocka_unit_test(test_permission_refusal_told_to_model),
        cmocka_unit_test(test_outside_workspace_and_secrets),
        cmocka_unit_test(test_concurrent_reads_keep_order),
        cmocka_unit_test(test_hooks_block_and_feedback),
        cmocka_unit_test(test_stop_hook_continues),
        cmocka_unit_test(test_max_turns),
        cmocka_unit_test(test_ctrl_c_in_a_tool),
        cmocka_unit_test(test_ctrl_c_in_a_stream_and_failed_calls),
        cmocka_unit_test(test_mcp_tools_under_permissions),
        cmocka_unit_test(test_system_prompt_and_tool_list),
        cmocka_unit_test(test_secrets_stay_out_of_results),
    };
    return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
