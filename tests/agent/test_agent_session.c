/* Tests for sessions (src/agent/agent_session.c): every message, tool call,
 * permission decision and ledger row is stored; a resumed session continues
 * with its history; a process killed mid-turn (a child, SIGKILL) leaves a
 * session with every completed message, which resumes as a valid
 * conversation; agent_history_repair on broken histories. */
#include "test_agent_fake.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static void run_ok(struct fx *x, const char *prompt)
{
    struct agent_turn t;
    struct brock_err e = {0};
    if (agent_run_turn(x->a, prompt, &t, &e) != BROCK_OK)
        fail_msg("turn: %s", e.msg);
    agent_turn_cleanup(&t);
}

/* The stored messages as [{"role", "content"}] (new reference). */
static json_t *stored(struct store *s, const char *id)
{
    struct store_transcript t;
    struct brock_err e = {0};
    if (store_session_load(s, id, false, &t, &e) != BROCK_OK)
        fail_msg("load: %s", e.msg);
    json_t *out = json_array();
    for (size_t i = 0; i < t.n; i++)
        json_array_append_new(out, json_pack("{s:s,s:o}", "role", t.messages[i].role, "content",
                                             json_loads(t.messages[i].content_json, 0, NULL)));
    store_transcript_cleanup(&t);
    return out;
}

static void assert_json_equal(const json_t *a, const json_t *b)
{
    char *sa = json_dumps(a, JSON_SORT_KEYS), *sb = json_dumps(b, JSON_SORT_KEYS);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
}

static void test_everything_is_stored(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fx_store(&x);
    fx_write(&x, "a.txt", "alpha\n");
    char *a = fx_path(&x, "a.txt");
    fake_step(&x.fm, "{\"tool_use\": [{\"id\": \"r\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}},"
                     "{\"id\": \"w\", \"name\": \"Write\", \"input\": {\"file_path\": \"%s\", \"content\": \"x\"}}]}",
              a, a);
    fake_step(&x.fm, "{\"text\": \"read it, could not write it\"}");
    fx_agent(&x);
    assert_string_equal(agent_session_id(x.a), "");
    run_ok(&x, "read a.txt\nthen   write it");
    const char *id = agent_session_id(x.a);
    assert_int_equal(strlen(id), STORE_SESSION_ID_LEN);

    json_t *s = stored(x.store, id);
    assert_json_equal(s, agent_messages(x.a));
    assert_int_equal(json_array_size(s), 4);
    json_decref(s);

    struct store_session_info info;
    struct brock_err e = {0};
    assert_int_equal(store_session_info(x.store, id, &info, &e), BROCK_OK);
    assert_string_equal(info.dir, x.ws);
    assert_string_equal(info.title, "read a.txt then write it");
    assert_string_equal(info.model, SONNET_ID);
    assert_int_equal(info.message_count, 4);
    struct agent_totals tot;
    agent_totals(x.a, &tot);
    assert_true(info.cost_usd > 0);
    assert_true(info.cost_usd - tot.cost_usd < 1e-9 && tot.cost_usd - info.cost_usd < 1e-9);
    store_session_info_cleanup(&info);

    struct store_tool_call_list tc;
    assert_int_equal(store_session_tool_calls(x.store, id, &tc, &e), BROCK_OK);
    assert_int_equal(tc.n, 2);
    assert_string_equal(tc.items[0].name, "Read");
    assert_string_equal(tc.items[0].tool_use_id, "r");
    assert_false(tc.items[0].is_error);
    assert_non_null(strstr(tc.items[0].result, "alpha"));
    assert_string_equal(tc.items[1].name, "Write");
    assert_true(tc.items[1].is_error);
    store_tool_call_list_free(&tc);

    struct store_permission_list pl;
    assert_int_equal(store_session_permissions(x.store, id, &pl, &e), BROCK_OK);
    assert_int_equal(pl.n, 2);
    assert_string_equal(pl.items[0].tool, "Read");
    assert_string_equal(pl.items[0].decision, "allow");
    assert_string_equal(pl.items[0].subject, a);
    assert_string_equal(pl.items[1].tool, "Write");
    assert_string_equal(pl.items[1].decision, "deny");
    store_permission_list_free(&pl);

    /* the ledger has both calls */
    struct store_usage u;
    assert_int_equal(store_ledger_usage(x.store, STORE_BY_MODEL, NULL, &u, &e), BROCK_OK);
    assert_int_equal(u.total.calls, 2);
    assert_int_equal(u.total.input_tokens, tot.usage.input_tokens);
    store_usage_free(&u);
    free(a);
    fx_free(&x);
}

static void test_resume_continues_with_history(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    fx_store(&x);
    fake_step(&x.fm, "{\"text\": \"the answer is 42\"}");
    fx_agent(&x);
    run_ok(&x, "what is the answer?");
    char id[STORE_SESSION_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", agent_session_id(x.a));
    json_t *before = json_deep_copy(agent_messages(x.a));
    agent_free(x.a);
    x.a = NULL;

    /* --continue finds it by directory; --resume by a prefix */
    char found[STORE_SESSION_ID_LEN + 1];
    struct brock_err e = {0};
    assert_int_equal(store_session_latest(x.store, x.ws, found, &e), BROCK_OK);
    assert_string_equal(found, id);
    char prefix[9];
    memcpy(prefix, id, 8);
    prefix[8] = '\0';
    assert_int_equal(store_session_find(x.store, prefix, found, &e), BROCK_OK);
    assert_string_equal(found, id);

    fx_agent(&x);
    assert_int_equal(agent_resume(x.a, id, &e), BROCK_OK);
    assert_string_equal(agent_session_id(x.a), id);
    assert_json_equal(agent_messages(x.a), before);
    fake_step(&x.fm, "{\"text\": \"yes, 42\"}");
    run_ok(&x, "are you sure?");
    json_t *sent = req_messages(&x.fm, 1);
    assert_int_equal(json_array_size(sent), 3);
    assert_json_equal(json_array_get(sent, 0), json_array_get(before, 0));
    assert_json_equal(json_array_get(sent, 1), json_array_get(before, 1));
    json_t *s = stored(x.store, id);
    assert_int_equal(json_array_size(s), 4);
    json_decref(s);
    json_decref(before);

    /* errors */
    assert_int_equal(agent_resume(x.a, id, &e), BROCK_ERR_USAGE); /* not empty */
    agent_free(x.a);
    x.a = NULL;
    fx_agent(&x);
    assert_int_equal(agent_resume(x.a, "00000000-0000-4000-8000-000000000000", &e), BROCK_ERR_NOT_FOUND);
    fx_free(&x);
}

/* --- a process killed mid-turn ------------------------------------------- */

static int kill_pipe[2];

static void signal_and_hang(struct fake_model *f, size_t n)
{
    (void)f;
    if (n == 1) {
        (void)!write(kill_pipe[1], "x", 1);
        for (;;)
            pause();
    }
}

/* Run a turn in a child, and kill it when it writes to kill_pipe or, with
 * wait_file, when that file has content. */
static void child_turn(struct fx *x, const char *wait_file, void (*setup)(struct fx *))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a fresh store handle: SQLite connections must not cross fork() */
        struct store *st = NULL;
        struct store_options so = {.dir = x->storedir};
        if (store_open(&so, &st, NULL) != BROCK_OK)
            _exit(3);
        x->cfg.store = st;
        setup(x);
        struct agent *a = NULL;
        if (agent_new(&x->cfg, &a, NULL) != BROCK_OK)
            _exit(4);
        struct agent_turn t;
        (void)!agent_run_turn(a, "do the thing", &t, NULL);
        _exit(5); /* should have been killed before */
    }
    if (wait_file) {
        struct stat st;
        int i;
        for (i = 0; i < 2000 && (stat(wait_file, &st) != 0 || st.st_size == 0); i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        assert_true(i < 2000);
    } else {
        char c;
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(kill_pipe[0], &fds);
        struct timeval tv = {20, 0};
        assert_int_equal(select(kill_pipe[0] + 1, &fds, NULL, NULL, &tv), 1);
        assert_int_equal(read(kill_pipe[0], &c, 1), 1);
    }
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static char *g_path;

static void setup_read_loop(struct fx *x)
{
    fake_step(&x->fm, "{\"tool_use\": [{\"id\": \"r1\", \"name\": \"Read\", \"input\": {\"file_path\": \"%s\"}}]}",
              g_path);
    x->fm.before = signal_and_hang; /* the second call never answers */
}

static void setup_bash(struct fx *x)
{
    /* the command tells the parent it runs (its pid), then sleeps */
    fake_step(&x->fm, "{\"tool_use\": [{\"id\": \"b1\", \"name\": \"Bash\", \"input\": {\"command\": "
                      "\"echo $$ > %s.tmp && mv %s.tmp %s.pid; sleep 30\"}}]}",
              g_path, g_path, g_path);
}

static void test_killed_mid_turn_resumes(void **state)
{
    (void)state;
    /* killed while waiting for the second answer: all three completed
     * messages are there */
    struct fx x;
    fx_init(&x, NULL, NULL, NULL);
    assert_int_equal(pipe(kill_pipe), 0);
    fx_write(&x, "a.txt", "alpha\n");
    g_path = fx_path(&x, "a.txt");
    child_turn(&x, NULL, setup_read_loop);
    fx_store(&x);
    char id[STORE_SESSION_ID_LEN + 1];
    struct brock_err e = {0};
    assert_int_equal(store_session_latest(x.store, x.ws, id, &e), BROCK_OK);
    json_t *s = stored(x.store, id);
    assert_int_equal(json_array_size(s), 3);
    assert_well_formed(s);
    assert_non_null(strstr(result_text(find_result(s, "r1")), "alpha"));
    json_decref(s);
    fake_cleanup(&x.fm);
    fake_init(&x.fm);
    x.cfg.model = &x.fm.mc;
    fx_agent(&x);
    assert_int_equal(agent_resume(x.a, id, &e), BROCK_OK);
    assert_int_equal(json_array_size(agent_messages(x.a)), 3);
    fake_step(&x.fm, "{\"text\": \"resumed\"}");
    run_ok(&x, "go on");
    assert_well_formed(req_messages(&x.fm, 0));
    free(g_path);
    close(kill_pipe[0]);
    close(kill_pipe[1]);
    fx_free(&x);

    /* killed inside a tool: the tool_use is there, its result is not; the
     * resumed conversation answers it as interrupted */
    fx_init(&x, "Bash", NULL, NULL);
    assert_int_equal(pipe(kill_pipe), 0);
    g_path = fs_join(x.T, "bash");
    char *pidfile = NULL;
    assert_true(asprintf(&pidfile, "%s.pid", g_path) > 0);
    child_turn(&x, pidfile, setup_bash);
    char *pidtext = test_read_file(pidfile, NULL);
    if (pidtext) { /* the orphaned sleep */
        pid_t sp = (pid_t)atoi(pidtext);
        if (sp > 1)
            kill(sp, SIGKILL);
        free(pidtext);
    }
    free(pidfile);
    fx_store(&x);
    assert_int_equal(store_session_latest(x.store, x.ws, id, &e), BROCK_OK);
    s = stored(x.store, id);
    assert_int_equal(json_array_size(s), 2); /* prompt, tool use */
    json_decref(s);
    fake_cleanup(&x.fm);
    fake_init(&x.fm);
    x.cfg.model = &x.fm.mc;
    fx_agent(&x);
    assert_int_equal(agent_resume(x.a, id, &e), BROCK_OK);
    const json_t *m = agent_messages(x.a);
    assert_int_equal(json_array_size(m), 3);
    assert_well_formed(m);
    json_t *r = find_result(m, "b1");
    assert_true(json_is_true(json_object_get(r, "is_error")));
    assert_non_null(strstr(result_text(r), "no result was recorded"));
    json_t *w = fx_events(&x, "warning");
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(w, 0), "text")), "repaired"));
    json_decref(w);
    fake_step(&x.fm, "{\"text\": \"resumed after the kill\"}");
    run_ok(&x, "what happened?");
    json_t *sent = req_messages(&x.fm, 0);
    assert_well_formed(sent);
    assert_int_equal(json_array_size(sent), 3); /* the new prompt joins the results message */
    free(g_path);
    close(kill_pipe[0]);
    close(kill_pipe[1]);
    fx_free(&x);
}

/* --- repair ---------------------------------------------------------------- */

static void test_repair_table(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
        bool changed;
    } cases[] = {
        /* valid: untouched */
        {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"Read\",\"input\":{}}]},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":\"r\"}]}]",
         NULL, false},
        /* a dangling tool use at the end gets an interrupted result */
        {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"t\"},{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"Read\",\"input\":{}}]}]",
         "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"t\"},{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"Read\",\"input\":{}}]},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":\"Interrupted: no result was recorded for this tool call.\",\"is_error\":true}]}]",
         true},
        /* results missing before a typed message: inserted first */
        {"[{\"role\":\"user\",\"content\":\"hi\"},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"Read\",\"input\":{}}]},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"next\"}]}]",
         "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"Read\",\"input\":{}}]},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":\"Interrupted: no result was recorded for this tool call.\",\"is_error\":true},{\"type\":\"text\",\"text\":\"next\"}]}]",
         true},
        /* orphan results, a leading assistant, empty and malformed blocks, garbage */
        {"[42, {\"role\":\"assistant\",\"content\":\"first\"}, {\"role\":\"system\",\"content\":\"x\"},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"zz\",\"content\":\"r\"},"
         "{\"type\":\"text\",\"text\":\"\"}, 7, {\"type\":\"text\",\"text\":\"real\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"name\":\"Read\",\"input\":{}}, {\"type\":\"text\",\"text\":\"ok\"}]}]",
         "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"real\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}]",
         true},
        /* same roles merged; results reordered and deduplicated; cache_control stripped */
        {"[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"b\",\"cache_control\":{\"type\":\"ephemeral\"}}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"1\",\"name\":\"R\",\"input\":{}},{\"type\":\"tool_use\",\"id\":\"2\",\"name\":\"R\",\"input\":{}},{\"type\":\"tool_use\",\"id\":\"1\",\"name\":\"R\",\"input\":{}}]},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"t\"},{\"type\":\"tool_result\",\"tool_use_id\":\"2\",\"content\":\"two\"},{\"type\":\"tool_result\",\"tool_use_id\":\"1\",\"content\":\"one\"},{\"type\":\"tool_result\",\"tool_use_id\":\"1\",\"content\":\"again\"}]}]",
         "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"1\",\"name\":\"R\",\"input\":{}},{\"type\":\"tool_use\",\"id\":\"2\",\"name\":\"R\",\"input\":{}}]},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"1\",\"content\":\"one\"},{\"type\":\"tool_result\",\"tool_use_id\":\"2\",\"content\":\"two\"},{\"type\":\"text\",\"text\":\"t\"}]}]",
         true},
        /* an answer without tool uses followed by results only: the results go, the answers merge */
        {"[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a1\"},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"x\",\"content\":\"r\"}]},"
         "{\"role\":\"assistant\",\"content\":\"a2\"}]",
         "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a1\"},{\"type\":\"text\",\"text\":\"a2\"}]}]",
         true},
        {"[]", NULL, false},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        json_error_t je;
        json_t *m = json_loads(cases[i].in, 0, &je);
        if (!m)
            fail_msg("case %zu: bad JSON: %s", i, je.text);
        size_t changes = agent_history_repair(m);
        if ((changes > 0) != cases[i].changed)
            fail_msg("case %zu: %zu changes", i, changes);
        json_t *want = json_loads(cases[i].want ? cases[i].want : cases[i].in, 0, &je);
        if (!want)
            fail_msg("case %zu: bad expected JSON: %s", i, je.text);
        char *got = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT), *exp = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        if (strcmp(got, exp))
            fail_msg("case %zu:\n got  %s\n want %s", i, got, exp);
        assert_well_formed(m);
        /* repairing again changes nothing */
        assert_int_equal(agent_history_repair(m), 0);
        free(got);
        free(exp);
        json_decref(m);
        json_decref(want);
    }
    assert_int_equal(agent_history_repair(NULL), 0);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everything_is_stored),
        cmocka_unit_test(test_resume_continues_with_history),
        cmocka_unit_test(test_killed_mid_turn_resumes),
        cmocka_unit_test(test_repair_table),
    };
    return cmocka_run_group_tests_name("agent_session", tests, NULL, NULL);
}
