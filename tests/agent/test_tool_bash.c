/* Tests for the Bash tool: output capture, exit codes and signals, the
 * persistent working directory, the output cap, timeouts and cancellation
 * that kill the whole process group (including a grandchild that ignores
 * SIGTERM), the environment (no AWS secrets), and no terminal. */
#include "test_tool_common.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "../../src/util/timeutil.h"

static struct tool_ctx *ctx_fast(const char *dir)
{
    struct tool_limits lim;
    tool_limits_default(&lim);
    lim.bash_grace_ms = 300;
    return tt_ctx(dir, &lim);
}

static void bash(struct tool_ctx *c, const char *cmd, struct tool_result *r)
{
    tt_call(c, "Bash", json_pack("{s:s}", "command", cmd), r);
}

static void test_bash_output_and_exit_codes(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = ctx_fast(d);
    struct tool_result r;
    bash(c, "echo hello", &r);
    assert_false(r.is_error);
    assert_string_equal(tt_text(&r), "hello");
    assert_contains(buf_cstr(&r.summary), "Bash: echo hello (exit 0,");
    tool_result_cleanup(&r);
    /* stdout and stderr interleaved in the order written */
    bash(c, "echo one; echo two >&2; echo three", &r);
    assert_string_equal(tt_text(&r), "one\ntwo\nthree");
    tool_result_cleanup(&r);
    /* a failing command: output, then the code; an error result */
    bash(c, "echo partial; echo oops >&2; exit 3", &r);
    assert_true(r.is_error);
    assert_string_equal(tt_text(&r), "partial\noops\nExit code 3");
    tool_result_cleanup(&r);
    bash(c, "false", &r);
    assert_true(r.is_error);
    assert_string_equal(tt_text(&r), "Exit code 1");
    tool_result_cleanup(&r);
    bash(c, "true", &r);
    assert_false(r.is_error);
    assert_string_equal(tt_text(&r), "(no output)");
    tool_result_cleanup(&r);
    /* killed by a signal */
    bash(c, "kill -SEGV $$", &r);
    assert_true(r.is_error);
    assert_string_equal(tt_text(&r), "Killed by signal 11 (SIGSEGV)");
    tool_result_cleanup(&r);
    /* a syntax error keeps the user's line numbers */
    bash(c, "echo a\nif then", &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "line 2: syntax error");
    assert_contains(tt_text(&r), "Exit code 2");
    tool_result_cleanup(&r);
    /* stdin is empty, there is no terminal */
    bash(c, "cat; test -t 0 || echo no-tty; (exec 3</dev/tty) 2>/dev/null || echo no-ctty", &r);
    assert_string_equal(tt_text(&r), "no-tty\nno-ctty");
    tool_result_cleanup(&r);
    /* invalid UTF-8 in the output becomes U+FFFD */
    bash(c, "printf 'caf\\351\\n'", &r);
    assert_string_equal(tt_text(&r), "caf\xEF\xBF\xBD");
    tool_result_cleanup(&r);
    /* positional parameters are the user's (none) */
    bash(c, "echo \"[$#]\"", &r);
    assert_string_equal(tt_text(&r), "[0]");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

static void test_bash_persistent_cwd(void **state)
{
    (void)state;
    char *d = tt_dir();
    char *sub = tt_join(d, "sub dir");
    tt_mkdirs(sub);
    struct tool_ctx *c = ctx_fast(d);
    struct tool_result r;
    bash(c, "pwd", &r);
    assert_string_equal(tt_text(&r), d);
    tool_result_cleanup(&r);
    bash(c, "cd 'sub dir' && echo moved", &r);
    assert_string_equal(tt_text(&r), "moved");
    tool_result_cleanup(&r);
    assert_string_equal(tool_ctx_shell_cwd(c), sub);
    bash(c, "pwd", &r);
    assert_string_equal(tt_text(&r), sub);
    tool_result_cleanup(&r);
    /* a cd in a subshell does not persist; a cd before exit does */
    bash(c, "(cd /)", &r);
    tool_result_cleanup(&r);
    assert_string_equal(tool_ctx_shell_cwd(c), sub);
    bash(c, "cd .. && exit 4", &r);
    assert_true(r.is_error);
    tool_result_cleanup(&r);
    assert_string_equal(tool_ctx_shell_cwd(c), d);
    /* the directory vanishes: the next command runs in the project directory */
    bash(c, "cd 'sub dir'", &r);
    tool_result_cleanup(&r);
    assert_int_equal(rmdir(sub), 0);
    bash(c, "pwd", &r);
    assert_false(r.is_error);
    char want[8192];
    snprintf(want, sizeof want, "%s\n(The shell's directory %s no longer exists; the command ran in %s.)",
             d, sub, d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    assert_string_equal(tool_ctx_shell_cwd(c), d);
    free(sub);
    tool_ctx_free(c);
    free(d);
}

static void test_bash_output_cap(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = ctx_fast(d);
    struct tool_result r;
    bash(c, "seq 1 100000", &r);
    assert_false(r.is_error);
    const char *t = tt_text(&r);
    /* seq prints 588895 bytes; 30000 are kept, the head and the tail */
    assert_true(strncmp(t, "1\n2\n3\n", 6) == 0);
    assert_contains(t, "\n99999\n100000");
    assert_true(strlen(t) - strlen("100000") == (size_t)(strstr(t, "\n100000") - t) + 1);
    assert_contains(t, "\n\n... [558895 bytes of output omitted] ...\n\n");
    assert_true(r.text.len < 30000 + 100);
    tool_result_cleanup(&r);
    /* both cuts fall inside two-byte characters: no broken character is
     * kept (no U+FFFD either) */
    bash(c, "printf x; yes '\303\251' | tr -d '\n' | head -c 80000; printf y", &r);
    assert_false(r.is_error);
    assert_true(strncmp(tt_text(&r), "x\xC3\xA9\xC3\xA9", 5) == 0);
    assert_not_contains(tt_text(&r), "\xEF\xBF\xBD");
    assert_contains(tt_text(&r), "\xC3\xA9\xC3\xA9y");
    assert_contains(tt_text(&r), " bytes of output omitted]");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

static bool pid_gone(pid_t pid)
{
    /* gone, or a zombie nobody has reaped yet (the container's init may not) */
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] == 'Z';
}

static pid_t read_pid(const char *path)
{
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (f) {
            int ok = fscanf(f, "%d", &pid);
            fclose(f);
            if (ok == 1 && pid > 0)
                return pid;
        }
        usleep(10000);
    }
    fail_msg("no pid in %s", path);
    return -1;
}

static void test_bash_timeout_kills_group(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = ctx_fast(d);
    char *pidf = tt_join(d, "grandchild.pid");
    /* a grandchild that ignores SIGTERM (an ignored signal stays ignored
     * across exec) and would outlive a kill of the shell alone */
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "(trap '' TERM; exec sleep 300) & echo $! > '%s'; echo started; sleep 300", pidf);
    struct tool_result r;
    int64_t t0 = time_mono_ms();
    tt_call(c, "Bash", json_pack("{s:s,s:i}", "command", cmd, "timeout", 500), &r);
    int64_t took = time_mono_ms() - t0;
    assert_true(r.is_error);
    assert_false(r.interrupted);
    assert_string_equal(tt_text(&r), "started\nCommand timed out after 500 ms; it and every "
                                     "process it started were killed.");
    assert_contains(buf_cstr(&r.summary), "(timed out)");
    tool_result_cleanup(&r);
    assert_true(took >= 500 && took < 5000);
    pid_t gc = read_pid(pidf);
    for (int i = 0; i < 100 && !pid_gone(gc); i++)
        usleep(10000);
    assert_true(pid_gone(gc));
    free(pidf);
    tool_ctx_free(c);
    free(d);
}

struct canceller {
    volatile sig_atomic_t *flag;
    int delay_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *cl = arg;
    usleep((useconds_t)cl->delay_ms * 1000);
    *cl->flag = 1;
    return NULL;
}

static void test_bash_cancel_flag(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = ctx_fast(d);
    volatile sig_atomic_t flag = 0;
    tool_ctx_set_cancel(c, &flag);
    char *pidf = tt_join(d, "child.pid");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sleep 300 & echo $! > '%s'; wait", pidf);
    struct canceller cl = {&flag, 300};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &cl);
    struct tool_result r;
    int64_t t0 = time_mono_ms();
    enum brock_status s = tt_call(c, "Bash", json_pack("{s:s}", "command", cmd), &r);
    int64_t took = time_mono_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(s, BROCK_ERR_INTERRUPTED);
    assert_true(r.is_error);
    assert_true(r.interrupted);
    assert_string_equal(tt_text(&r), "Command interrupted by the user; it and every process it "
                                     "started were killed.");
    tool_result_cleanup(&r);
    assert_true(took < 5000);
    pid_t child = read_pid(pidf);
    for (int i = 0; i < 100 && !pid_gone(child); i++)
        usleep(10000);
    assert_true(pid_gone(child));
    free(pidf);
    tool_ctx_free(c);
    free(d);
}

static void test_bash_environment(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = ctx_fast(d);
    const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-test-only";
    setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
    setenv("AWS_SESSION_TOKEN", "token-test-only", 1);
    setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-test-only", 1);
    setenv("BROCK_TEST_PLAIN", "visible", 1);
    setenv("PAGER", "less", 1);
    struct tool_result r;
    bash(c, "echo \"${AWS_SECRET_ACCESS_KEY-unset} ${AWS_SESSION_TOKEN-unset} "
            "${AWS_BEARER_TOKEN_BEDROCK-unset} $BROCK_TEST_PLAIN $PAGER $GIT_PAGER $GIT_EDITOR\"; "
            "env | grep -c 'test-only' || true",
         &r);
    assert_string_equal(tt_text(&r), "unset unset unset visible cat cat true\n0");
    tool_result_cleanup(&r);
    /* the drop list is configurable */
    const char *none[] = {"BROCK_TEST_PLAIN"};
    tool_ctx_set_env_drop(c, none, 1);
    bash(c, "echo \"${BROCK_TEST_PLAIN-unset} ${AWS_SESSION_TOKEN-unset}\"", &r);
    assert_string_equal(tt_text(&r), "unset token-test-only");
    tool_result_cleanup(&r);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_BEARER_TOKEN_BEDROCK");
    unsetenv("BROCK_TEST_PLAIN");
    unsetenv("PAGER");
    tool_ctx_free(c);
    free(d);
}

static void test_bash_input_checks(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = ctx_fast(d);
    struct tool_result r;
    tt_call(c, "Bash", json_pack("{s:s,s:i}", "command", "true", "timeout", 600001), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "Bash: `timeout` must be at most 600000, got 600001");
    tool_result_cleanup(&r);
    tt_call(c, "Bash", json_pack("{s:s}", "command", ""), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "`command` must not be empty");
    tool_result_cleanup(&r);
    json_t *in = json_object();
    json_object_set_new(in, "command", json_stringn("echo a\0rm -rf /", 15));
    tt_call(c, "Bash", in, &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "contains a NUL byte");
    tool_result_cleanup(&r);
    /* a command near the size cap runs; one over it is refused */
    size_t n = 120000;
    char *big = malloc(200001);
    memcpy(big, "echo ", 5);
    memset(big + 5, 'x', 200000 - 5);
    big[n] = '\0';
    bash(c, big, &r);
    assert_false(r.is_error);
    assert_contains(tt_text(&r), "bytes of output omitted"); /* 120 KB of output, capped */
    tool_result_cleanup(&r);
    memset(big + 5, '\xC3', 200000 - 5); /* bytes, not characters, count */
    for (size_t i = 6; i < 200000; i += 2)
        big[i] = '\xA9';
    big[200000] = '\0';
    big[131001] = '\0'; /* 131001 bytes, about 65500 characters */
    bash(c, big, &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "longer than 130048 bytes");
    tool_result_cleanup(&r);
    free(big);
    tool_ctx_free(c);
    free(d);
}

int main(void)
{
    test_init();
    /* like the CLI (libcurl): SIGPIPE ignored in brock; the child gets the default */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bash_output_and_exit_codes),
        cmocka_unit_test(test_bash_persistent_cwd),
        cmocka_unit_test(test_bash_output_cap),
        cmocka_unit_test(test_bash_timeout_kills_group),
        cmocka_unit_test(test_bash_cancel_flag),
        cmocka_unit_test(test_bash_environment),
        cmocka_unit_test(test_bash_input_checks),
    };
    return cmocka_run_group_tests_name("tool_bash", tests, NULL, NULL);
}
