/* Tests for the REPL's pieces that need no terminal: slash-command parsing,
 * lookup, suggestions and dispatch; permission keys and answers; /cost text;
 * the history file (mode, escaping, trimming, BROCK_DATA_DIR); continuation
 * lines; `brock WORD` typos; tool-call arguments; edit previews; matching a
 * permission question to its tool_use; notes never pass escape sequences. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/cli/repl.h"
#include "../../src/cli/repl_int.h"
#include "../../src/util/alloc.h"
#include "../../src/util/fs.h"

/* ---- a REPL without agent or terminal, writing into memory ---- */

struct screen {
    struct repl r;
    char *text;
    size_t len;
};

static void screen_open(struct screen *s)
{
    memset(s, 0, sizeof *s);
    s->r.out = open_memstream(&s->text, &s->len);
    assert_non_null(s->r.out);
    s->r.view.asked = json_array();
    s->r.view.previewed = json_array();
}

static const char *screen_text(struct screen *s)
{
    fflush(s->r.out);
    return s->text ? s->text : "";
}

static void screen_close(struct screen *s)
{
    fclose(s->r.out);
    free(s->text);
    json_decref(s->r.view.answer);
    json_decref(s->r.view.asked);
    json_decref(s->r.view.previewed);
}

static void run_line(struct repl *r, const char *line)
{
    char name[REPL_COMMAND_NAME_MAX];
    char *args = NULL;
    assert_true(repl_slash_parse(line, name, sizeof name, &args));
    repl_slash_run(r, name, args);
    free(args);
}

/* ---- slash commands ---- */

static void test_slash_parse(void **state)
{
    (void)state;
    char name[REPL_COMMAND_NAME_MAX];
    char *args = NULL;
    assert_true(repl_slash_parse("/help", name, sizeof name, &args));
    assert_string_equal(name, "help");
    assert_string_equal(args, "");
    free(args);
    assert_true(repl_slash_parse("/Model   opus  \t", name, sizeof name, &args));
    assert_string_equal(name, "model");
    assert_string_equal(args, "opus");
    free(args);
    assert_true(repl_slash_parse("/compact keep the test names\nand the plan ", name, sizeof name, &args));
    assert_string_equal(name, "compact");
    assert_string_equal(args, "keep the test names\nand the plan");
    free(args);
    assert_true(repl_slash_parse("/", name, sizeof name, &args));
    assert_string_equal(name, "");
    free(args);
    /* a name longer than the buffer is still a command, cut */
    char small[4];
    assert_true(repl_slash_parse("/permissions x", small, sizeof small, &args));
    assert_string_equal(small, "per");
    assert_string_equal(args, "x");
    free(args);
    /* not commands: paths, a leading blank, plain text, "/1" */
    const char *no[] = {"/etc/hosts is odd", " /help", "hello /help", "/usr.", "/1 two", "//x", ""};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(no); i++) {
        args = (char *)"unchanged";
        if (repl_slash_parse(no[i], name, sizeof name, &args))
            fail_msg("'%s' parsed as a command", no[i]);
        assert_null(args);
    }
}

static void test_command_table(void **state)
{
    (void)state;
    size_t n;
    const struct repl_command *c = repl_commands(&n);
    const char *want[] = {"help", "model", "cost", "compact", "clear", "resume", "permissions", "memory", "exit"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(want); i++)
        assert_non_null(repl_command_find(want[i]));
    assert_ptr_equal(repl_command_find("quit"), repl_command_find("exit"));
    assert_null(repl_command_find("hel"));
    for (size_t i = 0; i < n; i++) {
        assert_true(c[i].help && *c[i].help);
        assert_non_null(c[i].fn);
        if (i && strcmp(c[i - 1].name, c[i].name) >= 0)
            fail_msg("command table out of order at /%s", c[i].name);
    }
}

static void test_command_suggest_and_complete(void **state)
{
    (void)state;
    assert_string_equal(repl_command_suggest("modle")->name, "model");
    assert_string_equal(repl_command_suggest("cots")->name, "cost");
    assert_string_equal(repl_command_suggest("perm")->name, "permissions");
    assert_string_equal(repl_command_suggest("qiut")->name, "exit");
    assert_null(repl_command_suggest("xyzzy"));
    assert_null(repl_command_suggest("a"));
    assert_null(repl_command_suggest(""));
    const char *m[8];
    assert_int_equal(repl_command_complete("c", m, 8), 3);
    assert_string_equal(m[0], "clear");
    assert_string_equal(m[1], "compact");
    assert_string_equal(m[2], "cost");
    assert_int_equal(repl_command_complete("q", m, 8), 1);
    assert_string_equal(m[0], "quit");
    assert_int_equal(repl_command_complete("zz", m, 8), 0);
    size_t n;
    repl_commands(&n);
    assert_true(repl_command_complete("", m, 2) > n); /* names and aliases; only 2 stored */
}

static void test_dispatch_without_agent(void **state)
{
    (void)state;
    struct screen s;
    screen_open(&s);
    run_line(&s.r, "/help");
    size_t n;
    const struct repl_command *c = repl_commands(&n);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "/%s", c[i].name);
        if (!strstr(screen_text(&s), want))
            fail_msg("/help does not list %s:\n%s", want, screen_text(&s));
    }
    assert_false(s.r.quit);
    run_line(&s.r, "/modle gpt");
    assert_non_null(strstr(screen_text(&s), "unknown command /modle; did you mean /model?"));
    run_line(&s.r, "/frobnicate");
    assert_non_null(strstr(screen_text(&s), "unknown command /frobnicate (/help"));
    run_line(&s.r, "/model");
    assert_non_null(strstr(screen_text(&s), "/model needs a running agent"));
    assert_false(s.r.quit);
    run_line(&s.r, "/quit");
    assert_true(s.r.quit);
    s.r.quit = false;
    run_line(&s.r, "/EXIT");
    assert_true(s.r.quit);
    screen_close(&s);
}

static void test_cost_command(void **state)
{
    (void)state;
    struct screen s;
    screen_open(&s);
    s.r.past.model_calls = 3;
    s.r.past.usage.input_tokens = 1234;
    s.r.past.usage.output_tokens = 56;
    s.r.past.usage.cache_read_tokens = 1000000;
    s.r.past.usage.cache_write_tokens = 7;
    s.r.past.cost_usd = 0.01234;
    s.r.turns = 2;
    s.r.api_ms = 2100;
    run_line(&s.r, "/cost");
    const char *t = screen_text(&s);
    assert_non_null(strstr(t, "Total cost:            $0.0123\n"));
    assert_non_null(strstr(t, "Total duration (API):  2.1s\n"));
    assert_non_null(strstr(t, "Model calls:           3 (2 turns)\n"));
    assert_non_null(strstr(t, "Tokens:                1,234 in, 56 out, 1,000,000 cache read, 7 cache write\n"));
    assert_non_null(strstr(t, "Total duration (wall): "));
    screen_close(&s);
}

static void test_format_numbers(void **state)
{
    (void)state;
    char b[32];
    const struct {
        int64_t ms;
        const char *want;
    } d[] = {{0, "0.0s"}, {2149, "2.1s"}, {59999, "60.0s"}, {60000, "1m 0s"}, {125000, "2m 5s"},
             {3600000, "1h 0m"}, {3723000, "1h 2m"}, {-5, "0.0s"}};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(d); i++) {
        repl_format_duration(b, sizeof b, d[i].ms);
        assert_string_equal(b, d[i].want);
    }
    const struct {
        int64_t n;
        const char *want;
    } c[] = {{0, "0"}, {999, "999"}, {1000, "1,000"}, {12345, "12,345"}, {1234567, "1,234,567"}, {-1234, "-1,234"},
             {INT64_MIN, "-9,223,372,036,854,775,808"}};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(c); i++) {
        repl_format_count(b, sizeof b, c[i].n);
        assert_string_equal(b, c[i].want);
    }
    struct agent_turn t = {.model_calls = 2, .cost_usd = 0.5, .api_ms = 1500};
    t.usage.input_tokens = 10;
    t.usage.output_tokens = 2000;
    struct buf out = BUF_INIT(1024);
    repl_format_turn(&out, &t);
    assert_string_equal(buf_cstr(&out),
                        "2 calls · 10 in · 2,000 out · 0 cache read · 0 cache write · $0.5000 · 1.5s\n");
    buf_free(&out);
    /* unknown prices are said, not hidden */
    struct repl_cost rc = {.priced = false};
    repl_format_cost(&out, &rc);
    assert_non_null(strstr(buf_cstr(&out), "prices are unknown"));
    buf_free(&out);
}

/* ---- permission keys ---- */

static void test_keys_and_answers(void **state)
{
    (void)state;
    const struct {
        const char *seq;
        size_t n;
        bool always;
        enum repl_key want;
    } k[] = {
        {"1", 1, true, REPL_KEY_YES},     {"y", 1, true, REPL_KEY_YES},        {"Y", 1, false, REPL_KEY_YES},
        {"2", 1, true, REPL_KEY_ALWAYS},  {"2", 1, false, REPL_KEY_NO},        {"3", 1, true, REPL_KEY_NO},
        {"n", 1, true, REPL_KEY_NO},      {"N", 1, false, REPL_KEY_NO},        {"\x1b", 1, true, REPL_KEY_ESCAPE},
        {"\x04", 1, true, REPL_KEY_ESCAPE}, {"\x03", 1, true, REPL_KEY_INTERRUPT}, {"\r", 1, true, REPL_KEY_ENTER},
        {"\n", 1, true, REPL_KEY_ENTER},  {"\x1b[A", 3, true, REPL_KEY_UP},    {"\x1bOB", 3, true, REPL_KEY_DOWN},
        {"k", 1, true, REPL_KEY_UP},      {"\t", 1, true, REPL_KEY_DOWN},      {"\x1b[C", 3, true, REPL_KEY_NONE},
        {"x", 1, true, REPL_KEY_NONE},    {"4", 1, true, REPL_KEY_NONE},       {"", 0, true, REPL_KEY_NONE},
        {"\x1b[1;5A", 6, true, REPL_KEY_NONE},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(k); i++)
        if (repl_key_decode(k[i].seq, k[i].n, k[i].always) != k[i].want)
            fail_msg("key %zu (%02x...) decoded as %d, want %d", i, k[i].n ? (unsigned char)k[i].seq[0] : 0,
                     repl_key_decode(k[i].seq, k[i].n, k[i].always), k[i].want);
    /* the menu: Yes / Always / No, or Yes / No */
    assert_int_equal(repl_menu_size(true), 3);
    assert_int_equal(repl_menu_size(false), 2);
    assert_int_equal(repl_menu_choice(0, true), REPL_KEY_YES);
    assert_int_equal(repl_menu_choice(1, true), REPL_KEY_ALWAYS);
    assert_int_equal(repl_menu_choice(2, true), REPL_KEY_NO);
    assert_int_equal(repl_menu_choice(1, false), REPL_KEY_NO);
    /* what the agent is told */
    assert_int_equal(repl_key_answer(REPL_KEY_YES), PERM_ANSWER_YES);
    assert_int_equal(repl_key_answer(REPL_KEY_ALWAYS), PERM_ANSWER_ALWAYS);
    assert_int_equal(repl_key_answer(REPL_KEY_NO), PERM_ANSWER_NO);
    assert_int_equal(repl_key_answer(REPL_KEY_ESCAPE), PERM_ANSWER_NO);
    assert_int_equal(repl_key_answer(REPL_KEY_INTERRUPT), PERM_ANSWER_NO);
    assert_int_equal(repl_key_answer(REPL_KEY_UP), PERM_ANSWER_NONE);
    assert_int_equal(repl_key_answer(REPL_KEY_NONE), PERM_ANSWER_NONE);
}

/* ---- input ---- */

static void test_continuation(void **state)
{
    (void)state;
    size_t keep;
    assert_true(repl_line_continues("abc\\", 4, &keep));
    assert_int_equal(keep, 3);
    assert_false(repl_line_continues("abc\\\\", 5, &keep));
    assert_int_equal(keep, 5);
    assert_true(repl_line_continues("a\\\\\\", 4, &keep));
    assert_int_equal(keep, 3);
    assert_true(repl_line_continues("\\", 1, &keep));
    assert_int_equal(keep, 0);
    assert_false(repl_line_continues("abc", 3, &keep));
    assert_false(repl_line_continues("", 0, &keep));
    assert_false(repl_line_continues("a\\ ", 3, &keep)); /* a blank after it: not a continuation */
    assert_int_equal(repl_chomp("abc\n", 4), 3);
    assert_int_equal(repl_chomp("abc\r\n", 5), 3);
    assert_int_equal(repl_chomp("abc", 3), 3);
    assert_int_equal(repl_chomp("", 0), 0);
    assert_true(repl_blank(" \t\n"));
    assert_true(repl_blank(""));
    assert_false(repl_blank("  x"));
}

static void test_near_command(void **state)
{
    (void)state;
    assert_string_equal(repl_near_command("doctr"), "doctor");
    assert_string_equal(repl_near_command("modles"), "models");
    assert_string_equal(repl_near_command("sesions"), "sessions");
    assert_string_equal(repl_near_command("hlep"), "help");
    /* prompts, not typos */
    const char *no[] = {"hello", "explain", "fix the bug", "why?", "refactor", "x", "", "emulator-setup-guide"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(no); i++)
        if (repl_near_command(no[i]))
            fail_msg("'%s' taken for a typo of %s", no[i], repl_near_command(no[i]));
    assert_int_equal(repl_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(repl_edit_distance("", "abc"), 3);
    assert_int_equal(repl_edit_distance("same", "same"), 0);
}

/* ---- history file ---- */

static char **hist_got;
static size_t hist_n;

static void hist_collect(void *ctx, const char *entry)
{
    (void)ctx;
    hist_got = xrealloc(hist_got, (hist_n + 1) * sizeof *hist_got);
    hist_got[hist_n++] = xstrdup(entry);
}

static void hist_reset(void)
{
    for (size_t i = 0; i < hist_n; i++)
        free(hist_got[i]);
    free(hist_got);
    hist_got = NULL;
    hist_n = 0;
}

static void test_history_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *sub = fs_join(dir, "data/brock");
    char *path = fs_join(sub, "history");
    struct brock_err e = {0};
    mode_t old = umask(0);
    /* made 0600 in a 0700 directory, whatever the umask */
    assert_int_equal(repl_history_append(path, "first", &e), BROCK_OK);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* entries with newlines and backslashes come back as they were */
    const char *entries[] = {"two\nlines", "back\\slash \\n not a newline", "tab\there", "crlf\r\nend"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(entries); i++)
        assert_int_equal(repl_history_append(path, entries[i], &e), BROCK_OK);
    /* blank and too long ones are not saved */
    assert_int_equal(repl_history_append(path, "   ", &e), BROCK_OK);
    char *big = xmalloc(REPL_HISTORY_ENTRY_MAX + 2);
    memset(big, 'x', REPL_HISTORY_ENTRY_MAX + 1);
    big[REPL_HISTORY_ENTRY_MAX + 1] = '\0';
    assert_int_equal(repl_history_append(path, big, &e), BROCK_OK);
    free(big);
    assert_int_equal(repl_history_load(path, hist_collect, NULL, &e), BROCK_OK);
    assert_int_equal(hist_n, 5);
    assert_string_equal(hist_got[0], "first");
    for (size_t i = 0; i < BROCK_ARRAY_LEN(entries); i++)
        assert_string_equal(hist_got[i + 1], entries[i]);
    hist_reset();
    /* one entry per line on disk */
    char *text = test_read_file(path, NULL);
    assert_string_equal(text, "first\ntwo\\nlines\nback\\\\slash \\\\n not a newline\ntab\there\ncrlf\\r\\nend\n");
    free(text);
    /* a file others could read is narrowed */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(repl_history_append(path, "again", &e), BROCK_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* a missing file is an empty history */
    char *none = fs_join(dir, "nope/history");
    assert_int_equal(repl_history_load(none, hist_collect, NULL, &e), BROCK_OK);
    assert_int_equal(hist_n, 0);
    free(none);
    free(path);
    free(sub);
    free(dir);
}

static void test_history_trim(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *path = fs_join(dir, "history");
    struct buf b = BUF_INIT(1 << 20);
    size_t total = 2 * REPL_HISTORY_MAX + 5;
    for (size_t i = 0; i < total; i++)
        buf_addf(&b, "entry %zu\n", i);
    test_write_file(path, buf_cstr(&b));
    buf_free(&b);
    struct brock_err e = {0};
    assert_int_equal(repl_history_load(path, hist_collect, NULL, &e), BROCK_OK);
    /* the last REPL_HISTORY_MAX, oldest first */
    assert_int_equal(hist_n, REPL_HISTORY_MAX);
    char want[32];
    snprintf(want, sizeof want, "entry %zu", total - REPL_HISTORY_MAX);
    assert_string_equal(hist_got[0], want);
    snprintf(want, sizeof want, "entry %zu", total - 1);
    assert_string_equal(hist_got[hist_n - 1], want);
    hist_reset();
    /* and the file was cut to them */
    size_t len = 0;
    char *text = test_read_file(path, &len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, REPL_HISTORY_MAX);
    free(text);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* a parse of text with NULs and empty lines skips them */
    const char junk[] = "a\n\n\0b\nc";
    assert_int_equal(repl_history_parse(junk, sizeof junk - 1, hist_collect, NULL), 2);
    assert_string_equal(hist_got[0], "a");
    assert_string_equal(hist_got[1], "c");
    hist_reset();
    free(path);
    free(dir);
}

static void test_history_path_follows_data_dir(void **state)
{
    (void)state;
    char *old = getenv("BROCK_DATA_DIR") ? xstrdup(getenv("BROCK_DATA_DIR")) : NULL;
    setenv("BROCK_DATA_DIR", "/some/where", 1);
    char *p = NULL;
    struct brock_err e = {0};
    assert_int_equal(repl_history_path(&p, &e), BROCK_OK);
    assert_string_equal(p, "/some/where/history");
    free(p);
    if (old)
        setenv("BROCK_DATA_DIR", old, 1);
    else
        unsetenv("BROCK_DATA_DIR");
    free(old);
}

/* ---- tool calls ---- */

static void test_tool_arg(void **state)
{
    (void)state;
    const struct {
        const char *tool, *input, *want;
    } t[] = {
        {"Read", "{\"file_path\": \"/w/src/main.c\"}", "src/main.c"},
        {"Edit", "{\"file_path\": \"/elsewhere/x.c\", \"old_string\": \"a\"}", "/elsewhere/x.c"},
        {"LS", "{\"path\": \"/w\"}", "."},
        {"Bash", "{\"command\": \"make test\", \"description\": \"run\"}", "make test"},
        {"Grep", "{\"pattern\": \"TODO\", \"path\": \"/w/src\"}", "TODO in src"},
        {"Glob", "{\"pattern\": \"**/*.c\"}", "**/*.c"},
        {"TodoWrite", "{\"todos\": []}", ""},
        {"mcp__gh__issue", "{\"n\": 3, \"title\": \"bug\"}", "bug"},
        {"Read", "{\"file_path\": \"/wx/a\"}", "/wx/a"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(t); i++) {
        json_t *in = json_loads(t[i].input, 0, NULL);
        struct buf b = BUF_INIT(1024);
        repl_tool_arg(t[i].tool, in, "/w", &b);
        assert_string_equal(buf_cstr(&b), t[i].want);
        buf_free(&b);
        json_decref(in);
    }
}

static char *preview(const char *tool, const char *input, const char *text, enum brock_status want)
{
    json_t *in = json_loads(input, 0, NULL);
    assert_non_null(in);
    struct buf out = BUF_INIT(1 << 20);
    struct brock_err e = {0};
    enum brock_status st = repl_edit_preview_text(tool, in, text, strlen(text), "f.c", &out, &e);
    if (st != want)
        fail_msg("%s %s: status %d (%s), want %d", tool, input, st, e.msg, want);
    json_decref(in);
    return buf_take(&out);
}

static void test_edit_preview(void **state)
{
    (void)state;
    const char *file = "int main(void)\n{\n    return 1;\n}\n";
    char *d = preview("Edit", "{\"file_path\": \"/w/f.c\", \"old_string\": \"return 1;\", \"new_string\": \"return 0;\"}",
                      file, BROCK_OK);
    assert_non_null(strstr(d, "--- a/f.c\n+++ b/f.c\n"));
    assert_non_null(strstr(d, "\n-    return 1;\n+    return 0;\n"));
    free(d);
    /* not found, or ambiguous without replace_all: the tool will refuse, no preview */
    free(preview("Edit", "{\"file_path\": \"f\", \"old_string\": \"nope\", \"new_string\": \"x\"}", file,
                 BROCK_ERR_NOT_FOUND));
    const char *twice = "a\nb\na\n";
    free(preview("Edit", "{\"file_path\": \"f\", \"old_string\": \"a\", \"new_string\": \"c\"}", twice,
                 BROCK_ERR_NOT_FOUND));
    d = preview("Edit", "{\"file_path\": \"f\", \"old_string\": \"a\", \"new_string\": \"c\", \"replace_all\": true}",
                twice, BROCK_OK);
    assert_non_null(strstr(d, "-a\n"));
    assert_null(strstr(d, "+a\n"));
    assert_non_null(strstr(d, "+c\n"));
    free(d);
    /* MultiEdit applies in order, each on the result of the one before */
    d = preview("MultiEdit",
                "{\"file_path\": \"f\", \"edits\": [{\"old_string\": \"return 1\", \"new_string\": \"return 2\"},"
                " {\"old_string\": \"return 2\", \"new_string\": \"return 3\"}]}",
                file, BROCK_OK);
    assert_non_null(strstr(d, "+    return 3;\n"));
    assert_null(strstr(d, "return 2"));
    free(d);
    free(preview("MultiEdit", "{\"file_path\": \"f\", \"edits\": []}", file, BROCK_ERR_USAGE));
    /* Write: a new file is all additions */
    d = preview("Write", "{\"file_path\": \"f\", \"content\": \"x\\ny\\n\"}", "", BROCK_OK);
    assert_non_null(strstr(d, "@@ -0,0 +1,2 @@\n+x\n+y\n"));
    free(d);
    /* CRLF files are edited as LF, as the Edit tool does */
    d = preview("Edit", "{\"file_path\": \"f\", \"old_string\": \"b\\nc\", \"new_string\": \"B\"}", "a\r\nb\r\nc\r\n",
                BROCK_OK);
    assert_non_null(strstr(d, "-b\n-c\n+B\n"));
    free(d);
    free(preview("Read", "{\"file_path\": \"f\"}", file, BROCK_ERR_USAGE));
    free(preview("Write", "{\"file_path\": \"f\"}", file, BROCK_ERR_USAGE));
    free(preview("Edit", "[1]", file, BROCK_ERR_USAGE));
}

static void test_edit_preview_reads_the_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *path = fs_join(dir, "m.c");
    test_write_file(path, "one\ntwo\n");
    json_t *in = json_pack("{s:s,s:s,s:s}", "file_path", path, "old_string", "two", "new_string", "2");
    struct buf out = BUF_INIT(4096);
    struct brock_err e = {0};
    assert_int_equal(repl_edit_preview("Edit", in, path, "m.c", &out, &e), BROCK_OK);
    assert_non_null(strstr(buf_cstr(&out), "-two\n+2\n"));
    buf_reset(&out);
    char *missing = fs_join(dir, "new.c");
    json_t *w = json_pack("{s:s,s:s}", "file_path", missing, "content", "hi\n");
    assert_int_equal(repl_edit_preview("Write", w, missing, "new.c", &out, &e), BROCK_OK);
    assert_non_null(strstr(buf_cstr(&out), "+hi\n"));
    json_decref(w);
    json_decref(in);
    buf_free(&out);
    free(missing);
    free(path);
    free(dir);
}

/* The permission question finds the tool_use it is about in the last answer. */
static void test_find_tool_use(void **state)
{
    (void)state;
    struct screen s;
    screen_open(&s);
    s.r.view.answer = json_pack(
        "{s:s, s:[{s:s,s:s},{s:s,s:s,s:s,s:{s:s}},{s:s,s:s,s:s,s:{s:s}},{s:s,s:s,s:s,s:{s:s}}]}", "role", "assistant",
        "content", "type", "text", "text", "two edits", "type", "tool_use", "id", "t1", "name", "Edit", "input",
        "file_path", "/w/a.c", "type", "tool_use", "id", "t2", "name", "Edit", "input", "file_path", "/w/b.c", "type",
        "tool_use", "id", "t3", "name", "Bash", "input", "command", "make");
    struct perm_decision d = {.tool = (char *)"Edit", .subject = (char *)"/w/b.c", .resolved = (char *)"/w/b.c"};
    const json_t *tu = repl_find_tool_use(&s.r, &d);
    assert_non_null(tu);
    assert_string_equal(json_string_value(json_object_get(tu, "id")), "t2");
    /* each block is matched once; a subject that fits none takes the first left */
    d.subject = d.resolved = (char *)"/w/zzz.c";
    tu = repl_find_tool_use(&s.r, &d);
    assert_string_equal(json_string_value(json_object_get(tu, "id")), "t1");
    assert_null(repl_find_tool_use(&s.r, &d));
    struct perm_decision b = {.tool = (char *)"Bash", .subject = (char *)"make"};
    tu = repl_find_tool_use(&s.r, &b);
    assert_string_equal(json_string_value(json_object_get(tu, "id")), "t3");
    struct perm_decision w = {.tool = (char *)"Write", .subject = (char *)"/w/a.c"};
    assert_null(repl_find_tool_use(&s.r, &w));
    screen_close(&s);
}

/* Notes and errors carry outside text (hook output, AWS messages): it is
 * shown, never obeyed. */
static void test_notes_are_sanitised(void **state)
{
    (void)state;
    struct screen s;
    screen_open(&s);
    repl_note(&s.r, "hook said %s", "\x1b[2J\x1b]0;pwned\x07 done");
    repl_error(&s.r, "bad %s", "\x9b" "31m");
    const char *t = screen_text(&s);
    assert_null(strchr(t, 0x1b));
    assert_null(strchr(t, 0x07));
    assert_non_null(strstr(t, "hook said ^[[2J^[]0;pwned^G done\n"));
    screen_close(&s);
    /* with colour only our own SGR styles appear */
    screen_open(&s);
    s.r.caps.color = true;
    repl_note(&s.r, "x%sy", "\x1b[31m");
    t = screen_text(&s);
    assert_non_null(strstr(t, "x^[[31my"));
    screen_close(&s);
}

/* The view: agent events in, the screen out (no terminal: no spinner, no
 * live tail, no colour). */
static bool mem_write(void *ctx, const char *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n;
}

static void event(struct repl *r, enum agent_event_type type, const char *text)
{
    struct agent_event ev = {.type = type, .text = text, .len = text ? strlen(text) : 0};
    repl_on_event(r, &ev);
}

static void test_view_events(void **state)
{
    (void)state;
    struct screen s;
    screen_open(&s);
    struct cli_config cfg = {0};
    s.r.cfg = &cfg;
    struct render_opts o = {.width = 80, .write = mem_write, .write_ctx = s.r.out};
    s.r.md = render_md_new(&o);
    s.r.look.width = 80;
    repl_view_turn_start(&s.r, "Thinking");
    /* thinking first: collapsed into one line before the text */
    event(&s.r, AGENT_EV_THINKING, "let me think about **this**");
    event(&s.r, AGENT_EV_TEXT, "I'll *read* the");
    event(&s.r, AGENT_EV_TEXT, " file.\n\n- one\n");
    json_t *msg = json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s,s:s,s:{s:s}}]}", "role", "assistant", "content", "type", "text",
                            "text", "x", "type", "tool_use", "id", "t1", "name", "Edit", "input", "file_path", "/w/a.c");
    struct agent_event m = {.type = AGENT_EV_MESSAGE, .input = msg};
    repl_on_event(&s.r, &m);
    json_t *in = json_object_get(json_array_get(json_object_get(msg, "content"), 1), "input");
    struct agent_event st = {.type = AGENT_EV_TOOL_START, .tool_use_id = "t1", .tool_name = "Edit", .input = in,
                             .text = "Edit a.c", .len = 8};
    repl_on_event(&s.r, &st);
    struct agent_event res = {.type = AGENT_EV_TOOL_RESULT, .tool_use_id = "t1", .tool_name = "Edit", .input = in,
                              .text = "ok", .len = 2, .summary = "Edit a.c (+1 -1)",
                              .diff = "--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-old\n+new\n"};
    repl_on_event(&s.r, &res);
    /* a failed call shows its error's first line, sanitised */
    struct agent_event bad = {.type = AGENT_EV_TOOL_RESULT, .tool_use_id = "t2", .tool_name = "Bash",
                              .text = "exit 2: \x1b[31mboom\nmore", .len = 20, .summary = "Bash: error",
                              .diff = "", .is_error = true};
    repl_on_event(&s.r, &bad);
    event(&s.r, AGENT_EV_WARNING, "the store \x1b]0;x\x07 failed");
    repl_view_turn_end(&s.r);
    const char *t = screen_text(&s);
    const char *want[] = {"Thought for ", "I'll read the file.\n\n- one\n", "\n\n* Edit(/w/a.c)\n  -> Edit a.c (+1 -1)\n",
                          "     -old\n     +new\n", "* Bash\n  -> exit 2: ^[[31mboom\n",
                          "warning: the store ^[]0;x^G failed\n"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(want); i++)
        if (!strstr(t, want[i]))
            fail_msg("missing [%s] in:\n%s", want[i], t);
    /* the order: thinking line, answer, tool */
    assert_true(strstr(t, "Thought for") < strstr(t, "I'll read"));
    assert_true(strstr(t, "- one") < strstr(t, "Edit(/w/a.c)"));
    assert_null(strchr(t, 0x1b));
    assert_null(strstr(t, "let me think")); /* thinking text only with --verbose */
    render_md_free(s.r.md);
    json_decref(msg);
    screen_close(&s);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slash_parse),
        cmocka_unit_test(test_command_table),
        cmocka_unit_test(test_command_suggest_and_complete),
        cmocka_unit_test(test_dispatch_without_agent),
        cmocka_unit_test(test_cost_command),
        cmocka_unit_test(test_format_numbers),
        cmocka_unit_test(test_keys_and_answers),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_near_command),
        cmocka_unit_test(test_history_file),
        cmocka_unit_test(test_history_trim),
        cmocka_unit_test(test_history_path_follows_data_dir),
        cmocka_unit_test(test_tool_arg),
        cmocka_unit_test(test_edit_preview),
        cmocka_unit_test(test_edit_preview_reads_the_file),
        cmocka_unit_test(test_find_tool_use),
        cmocka_unit_test(test_notes_are_sanitised),
        cmocka_unit_test(test_view_events),
    };
    return cmocka_run_group_tests_name("repl", tests, NULL, NULL);
}
