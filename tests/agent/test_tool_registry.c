/* Tests for the tool table: names and flags, schemas, shared validation and
 * its messages, permission subjects and path resolution, summaries,
 * TodoWrite, and hostile inputs (wrong types, huge strings, deep nesting). */
#include "test_tool_common.h"

static const char *const claude_code_names[] = {"Bash", "Glob", "Grep", "LS", "Read",
                                                "Edit", "MultiEdit", "Write", "TodoWrite"};

static void test_table_names_and_flags(void **state)
{
    (void)state;
    size_t n;
    const struct tool_def *t = tool_list(&n);
    assert_int_equal(n, BROCK_ARRAY_LEN(claude_code_names));
    for (size_t i = 0; i < n; i++) {
        assert_non_null(tool_find(claude_code_names[i]));
        assert_ptr_equal(tool_find(t[i].name), &t[i]);
        assert_true(strlen(t[i].description) > 100);
        bool ro = !strcmp(t[i].name, "Read") || !strcmp(t[i].name, "Glob") ||
                  !strcmp(t[i].name, "Grep") || !strcmp(t[i].name, "LS");
        assert_int_equal(!!(t[i].flags & TOOL_READ_ONLY), ro);
        assert_int_equal(!!(t[i].flags & TOOL_CONCURRENT), ro);
    }
    assert_null(tool_find("read"));
    assert_null(tool_find("NotATool"));
    assert_null(tool_find(NULL));
}

static void test_schemas_are_closed_objects(void **state)
{
    (void)state;
    size_t n;
    const struct tool_def *t = tool_list(&n);
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *s = json_loads(t[i].input_schema, JSON_REJECT_DUPLICATES, &je);
        if (!s)
            fail_msg("%s: schema does not parse: %s", t[i].name, je.text);
        assert_string_equal(json_string_value(json_object_get(s, "type")), "object");
        assert_true(json_is_false(json_object_get(s, "additionalProperties")));
        json_t *props = json_object_get(s, "properties");
        assert_true(json_is_object(props));
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(s, "required"), k, r)
            assert_non_null(json_object_get(props, json_string_value(r)));
        assert_true(json_equal(s, (json_t *)tool_schema(&t[i])));
        json_decref(s);
    }
    /* the Messages API "tools" array */
    json_t *specs = tool_specs_json();
    assert_int_equal(json_array_size(specs), n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(specs, i);
        assert_string_equal(json_string_value(json_object_get(o, "name")), t[i].name);
        assert_true(json_is_string(json_object_get(o, "description")));
        assert_true(json_is_object(json_object_get(o, "input_schema")));
        assert_int_equal(json_object_size(o), 3);
    }
    json_decref(specs);
}

static void expect_invalid(const char *tool, json_t *in, const char *msg)
{
    struct buf b = BUF_INIT(65536);
    assert_int_equal(tool_validate(tool_find(tool), in, &b), BROCK_ERR_USAGE);
    if (!strstr(buf_cstr(&b), msg))
        fail_msg("%s: expected [%s] in [%s]", tool, msg, buf_cstr(&b));
    buf_free(&b);
    json_decref(in);
}

static void expect_valid(const char *tool, json_t *in)
{
    struct buf b = BUF_INIT(65536);
    if (tool_validate(tool_find(tool), in, &b) != BROCK_OK)
        fail_msg("%s: unexpected: %s", tool, buf_cstr(&b));
    buf_free(&b);
    json_decref(in);
}

static void test_validation_messages(void **state)
{
    (void)state;
    expect_invalid("Edit", json_pack("{s:s,s:s}", "file_path", "/x", "new_string", "y"),
                   "Edit: `old_string` is required");
    expect_invalid("Read", json_pack("{s:s,s:s}", "file_path", "/x", "offset", "10"),
                   "Read: `offset` must be an integer, not a string");
    expect_invalid("Read", json_pack("{s:s,s:f}", "file_path", "/x", "limit", 2.5),
                   "Read: `limit` must be an integer, not a number (2.5)");
    expect_valid("Read", json_pack("{s:s,s:f}", "file_path", "/x", "limit", 25.0));
    expect_invalid("Read", json_pack("{s:s,s:i}", "file_path", "/x", "limit", 0),
                   "Read: `limit` must be at least 1, got 0");
    expect_invalid("Read", json_pack("{s:s,s:s}", "file_path", "/x", "path", "/y"),
                   "Read: unknown parameter `path` (expected: file_path, offset, limit)");
    expect_invalid("Read", json_pack("{s:s}", "file_path", ""), "Read: `file_path` must not be "
                                                                "empty");
    expect_invalid("Grep", json_pack("{s:s,s:s}", "pattern", "x", "output_mode", "lines"),
                   "Grep: `output_mode` must be one of \"content\", \"files_with_matches\", "
                   "\"count\"; got \"lines\"");
    expect_invalid("Bash", json_pack("{s:s,s:i}", "command", "ls", "timeout", 900000),
                   "Bash: `timeout` must be at most 600000, got 900000");
    expect_invalid("MultiEdit",
                   json_pack("{s:s,s:[{s:s,s:s},{s:s}]}", "file_path", "/x", "edits", "old_string",
                             "a", "new_string", "b", "new_string", "c"),
                   "MultiEdit: `edits[1].old_string` is required");
    expect_invalid("MultiEdit", json_pack("{s:s,s:[]}", "file_path", "/x", "edits"),
                   "MultiEdit: `edits` needs at least 1 item");
    expect_invalid("MultiEdit",
                   json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "file_path", "/x", "edits", "old_string",
                             "a", "new_string", "b", "replace", "c"),
                   "unknown parameter `edits[0].replace`");
    expect_invalid("TodoWrite",
                   json_pack("{s:[{s:s,s:s}]}", "todos", "content", "x", "status", "done"),
                   "`todos[0].status` must be one of \"pending\", \"in_progress\", \"completed\"");
    expect_invalid("LS", json_pack("{s:s,s:[i]}", "path", "/", "ignore", 3),
                   "LS: `ignore[0]` must be a string, not an integer");
    /* null: absent when optional, missing when required */
    expect_valid("Glob", json_pack("{s:s,s:n}", "pattern", "*", "path"));
    expect_invalid("Glob", json_pack("{s:n}", "pattern"), "Glob: `pattern` is required (got null)");
    /* not an object at all */
    expect_invalid("Read", json_pack("[s]", "x"), "Read: the input must be a JSON object, not an "
                                                  "array");
    /* several problems, one line each */
    struct buf b = BUF_INIT(65536);
    json_t *in = json_pack("{s:i,s:i,s:i}", "a", 1, "b", 2, "file_path", 3);
    assert_int_equal(tool_validate(tool_find("Write"), in, &b), BROCK_ERR_USAGE);
    assert_contains(buf_cstr(&b), "Write: `content` is required\n");
    assert_contains(buf_cstr(&b), "Write: unknown parameter `a`");
    assert_contains(buf_cstr(&b), "Write: `file_path` must be a string, not an integer");
    json_decref(in);
    buf_free(&b);
    /* at most 8 lines however many problems */
    in = json_object();
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(in, k, json_true());
    }
    buf_init(&b, 65536);
    assert_int_equal(tool_validate(tool_find("Read"), in, &b), BROCK_ERR_USAGE);
    size_t lines = 1;
    for (const char *p = buf_cstr(&b); *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 8);
    assert_contains(buf_cstr(&b), "(more problems not shown)");
    json_decref(in);
    buf_free(&b);
    /* a key cut to 60 bytes never splits a character: 59 "a" then a
     * 2-byte "é" puts the cut inside the "é" */
    char key[400];
    memset(key, 'a', 59);
    strcpy(key + 59, "\xc3\xa9tail");
    in = json_pack("{s:s,s:b}", "file_path", "/x", key, 1);
    buf_init(&b, 65536);
    assert_int_equal(tool_validate(tool_find("Read"), in, &b), BROCK_ERR_USAGE);
    assert_int_equal(tool_utf8_valid(buf_cstr(&b), b.len), b.len);
    assert_contains(buf_cstr(&b), "a...` (expected:");
    json_decref(in);
    buf_free(&b);
    /* nor does a value quoted after "got" (cut to 40), and a control byte
     * in it shows as '?' (a message is one line, without escapes) */
    char val[64];
    memset(val, 'v', 39);
    strcpy(val + 39, "\xc3\xa9more");
    val[3] = '\n';
    in = json_pack("{s:[{s:s,s:s}]}", "todos", "content", "x", "status", val);
    buf_init(&b, 65536);
    assert_int_equal(tool_validate(tool_find("TodoWrite"), in, &b), BROCK_ERR_USAGE);
    assert_int_equal(tool_utf8_valid(buf_cstr(&b), b.len), b.len);
    assert_contains(buf_cstr(&b), "got \"vvv?vvv");
    assert_contains(buf_cstr(&b), "vvv...\"");
    assert_null(strchr(buf_cstr(&b), '\n'));
    json_decref(in);
    buf_free(&b);
}

static void test_call_reports_validation_as_result(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    struct tool_result r;
    assert_int_equal(tt_call(c, "Edit", json_pack("{s:s}", "file_path", "/x"), &r), BROCK_OK);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "Edit: `old_string` is required");
    assert_string_equal(buf_cstr(&r.summary), "Edit (invalid input)");
    tool_result_cleanup(&r);
    assert_int_equal(tt_call(c, "Frobnicate", json_object(), &r), BROCK_OK);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "No such tool: `Frobnicate`. Available tools: Bash, Glob");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

static void test_hostile_inputs(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    size_t n;
    const struct tool_def *t = tool_list(&n);
    /* every parameter of every tool with every wrong type: an error result */
    json_t *wrong[] = {json_integer(7), json_real(1e300), json_true(), json_string(""),
                       json_array(), json_object()};
    for (size_t i = 0; i < n; i++) {
        const json_t *props = json_object_get(tool_schema(&t[i]), "properties");
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)props, key, v) {
            for (size_t w = 0; w < BROCK_ARRAY_LEN(wrong); w++) {
                if (!strcmp(t[i].name, "Bash"))
                    continue; /* a Bash call could run something; validation is shared */
                json_t *in = json_object();
                json_object_set(in, key, wrong[w]);
                struct tool_result r;
                tt_call(c, t[i].name, in, &r);
                assert_true(r.is_error || !strcmp(t[i].name, "TodoWrite"));
                tool_result_cleanup(&r);
            }
        }
    }
    for (size_t w = 0; w < BROCK_ARRAY_LEN(wrong); w++)
        json_decref(wrong[w]);
    /* a 16 MiB key and value, and deep nesting where a string is expected */
    size_t big = (size_t)16 << 20;
    char *s = malloc(big + 1);
    memset(s, 'k', big);
    s[big] = '\0';
    json_t *in = json_object();
    json_object_set_new(in, s, json_string(s));
    struct tool_result r;
    tt_call(c, "Read", in, &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "Read: `file_path` is required");
    assert_contains(tt_text(&r), "unknown parameter `kkkk");
    assert_true(r.text.len < 4096);
    tool_result_cleanup(&r);
    tt_call(c, "Read", json_pack("{s:s}", "file_path", s), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "`file_path` is too long");
    tool_result_cleanup(&r);
    free(s);
    json_t *deep = json_string("x");
    for (int i = 0; i < 10000; i++) {
        json_t *a = json_array();
        json_array_append_new(a, deep);
        deep = a;
    }
    tt_call(c, "Glob", json_pack("{s:o}", "pattern", deep), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "`pattern` must be a string, not an array");
    tool_result_cleanup(&r);
    /* NUL bytes inside a path */
    json_t *nul = json_object();
    json_object_set_new(nul, "file_path", json_stringn("/etc/passwd\0x", 13));
    tt_call(c, "Read", nul, &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "contains a NUL byte");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

static void test_subjects_and_path_resolution(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    tt_put_free(d, "real/file.txt", "x");
    char *realdir = tt_join(d, "real"), *link = tt_join(d, "ln");
    assert_int_equal(symlink(realdir, link), 0);
    char want[8192];
    /* symlinks and .. are followed; a missing tail is lexical */
    snprintf(want, sizeof want, "%s/real/file.txt", d);
    char *got = tool_path_resolve(d, "ln/file.txt");
    assert_string_equal(got, want);
    free(got);
    snprintf(want, sizeof want, "%s/ln/../real/file.txt", d);
    got = tool_path_resolve("/", want);
    snprintf(want, sizeof want, "%s/real/file.txt", d);
    assert_string_equal(got, want);
    free(got);
    snprintf(want, sizeof want, "%s/real/new/x.c", d);
    got = tool_path_resolve(d, "ln/missing/../new/./x.c");
    assert_string_equal(got, want);
    free(got);
    got = tool_path_resolve(d, "/../../..");
    assert_string_equal(got, "/");
    free(got);
    /* the subjects */
    snprintf(want, sizeof want, "%s/ln/file.txt", d);
    json_t *in = json_pack("{s:s}", "file_path", want);
    char *sub = tool_subject(tool_find("Read"), c, in);
    snprintf(want, sizeof want, "%s/real/file.txt", d);
    assert_string_equal(sub, want);
    free(sub);
    sub = tool_subject(tool_find("Edit"), c, in);
    assert_string_equal(sub, want);
    free(sub);
    json_decref(in);
    in = json_pack("{s:s}", "command", "rm -rf build && make");
    sub = tool_subject(tool_find("Bash"), c, in);
    assert_string_equal(sub, "rm -rf build && make");
    free(sub);
    json_decref(in);
    in = json_pack("{s:[]}", "todos");
    assert_null(tool_subject(tool_find("TodoWrite"), c, in));
    json_decref(in);
    in = json_pack("{s:s}", "pattern", "ln/**/*.c");
    sub = tool_subject(tool_find("Glob"), c, in);
    assert_string_equal(sub, realdir);
    free(sub);
    json_decref(in);
    in = json_pack("{s:s}", "pattern", "{a,b}/*.c");
    sub = tool_subject(tool_find("Glob"), c, in);
    assert_string_equal(sub, d); /* two different literal parts: the search directory */
    free(sub);
    json_decref(in);
    in = json_pack("{s:s}", "pattern", "x");
    sub = tool_subject(tool_find("Grep"), c, in);
    assert_string_equal(sub, d);
    free(sub);
    json_decref(in);
    in = json_pack("{s:s}", "path", link);
    sub = tool_subject(tool_find("LS"), c, in);
    assert_string_equal(sub, realdir);
    free(sub);
    json_decref(in);
    free(realdir);
    free(link);
    tool_ctx_free(c);
    free(d);
}

static void test_summaries(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    char p[8192];
    snprintf(p, sizeof p, "%s/src/main.c", d);
    struct {
        const char *tool;
        json_t *in;
        const char *want;
    } cases[] = {
        {"Read", json_pack("{s:s}", "file_path", p), "Read src/main.c"},
        {"Edit", json_pack("{s:s,s:s,s:s}", "file_path", p, "old_string", "a", "new_string", "b"),
         "Edit src/main.c"},
        {"Write", json_pack("{s:s,s:s}", "file_path", "/etc/x.conf", "content", ""),
         "Write /etc/x.conf"},
        {"Bash", json_pack("{s:s,s:s}", "command", "make -j8", "description", "Build it"),
         "Bash: Build it"},
        {"Bash", json_pack("{s:s}", "command", "echo a\necho b"), "Bash: echo a echo b"},
        {"Glob", json_pack("{s:s}", "pattern", "**/*.c"), "Glob **/*.c"},
        {"TodoWrite", json_pack("{s:[]}", "todos"), "TodoWrite (0 items)"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct buf b = BUF_INIT(4096);
        tool_summary(tool_find(cases[i].tool), c, cases[i].in, &b);
        assert_string_equal(buf_cstr(&b), cases[i].want);
        buf_free(&b);
        json_decref(cases[i].in);
    }
    /* a long command is cut */
    char longcmd[1000];
    memset(longcmd, 'x', sizeof longcmd - 1);
    longcmd[sizeof longcmd - 1] = '\0';
    json_t *in = json_pack("{s:s}", "command", longcmd);
    struct buf b = BUF_INIT(4096);
    tool_summary(tool_find("Bash"), c, in, &b);
    assert_true(b.len < 120);
    assert_contains(buf_cstr(&b), "\xE2\x80\xA6");
    buf_free(&b);
    json_decref(in);
    tool_ctx_free(c);
    free(d);
}

static void test_todowrite(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    struct tool_result r;
    tt_call(c, "TodoWrite",
            json_pack("{s:[{s:s,s:s,s:s},{s:s,s:s},{s:s,s:s,s:s}]}", "todos", "content",
                      "Write the parser", "status", "completed", "id", "1", "content",
                      "Test the parser", "status", "in_progress", "content", "Document it",
                      "status", "pending", "activeForm", "Documenting it"),
            &r);
    assert_false(r.is_error);
    assert_contains(tt_text(&r), "3 items (1 completed, 1 in progress, 1 pending)");
    assert_string_equal(buf_cstr(&r.summary), "TodoWrite (3 items: 1 done, 1 in progress)");
    tool_result_cleanup(&r);
    struct tool_todo *t;
    size_t n = tool_ctx_todos(c, &t);
    assert_int_equal(n, 3);
    assert_string_equal(t[0].content, "Write the parser");
    assert_int_equal(t[0].status, TOOL_TODO_COMPLETED);
    assert_string_equal(t[0].id, "1");
    assert_null(t[0].active_form);
    assert_int_equal(t[1].status, TOOL_TODO_IN_PROGRESS);
    assert_string_equal(t[2].active_form, "Documenting it");
    assert_string_equal(tool_todo_status_name(t[1].status), "in_progress");
    tool_todos_free(t, n);
    /* two in progress: refused, list unchanged */
    tt_call(c, "TodoWrite",
            json_pack("{s:[{s:s,s:s},{s:s,s:s}]}", "todos", "content", "a", "status",
                      "in_progress", "content", "b", "status", "in_progress"),
            &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "items 1 and 2 are both in_progress");
    tool_result_cleanup(&r);
    n = tool_ctx_todos(c, &t);
    assert_int_equal(n, 3);
    tool_todos_free(t, n);
    /* duplicate ids */
    tt_call(c, "TodoWrite",
            json_pack("{s:[{s:s,s:s,s:s},{s:s,s:s,s:s}]}", "todos", "content", "a", "status",
                      "pending", "id", "x", "content", "b", "status", "pending", "id", "x"),
            &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "the same id \"x\"");
    tool_result_cleanup(&r);
    /* empty content, too many items */
    tt_call(c, "TodoWrite", json_pack("{s:[{s:s,s:s}]}", "todos", "content", "", "status", "pending"),
            &r);
    assert_true(r.is_error);
    tool_result_cleanup(&r);
    json_t *many = json_array();
    for (int i = 0; i < 101; i++)
        json_array_append_new(many, json_pack("{s:s,s:s}", "content", "x", "status", "pending"));
    tt_call(c, "TodoWrite", json_pack("{s:o}", "todos", many), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "at most 100 are allowed");
    tool_result_cleanup(&r);
    /* replace with an empty list */
    tt_call(c, "TodoWrite", json_pack("{s:[]}", "todos"), &r);
    assert_false(r.is_error);
    tool_result_cleanup(&r);
    n = tool_ctx_todos(c, &t);
    assert_int_equal(n, 0);
    assert_null(t);
    tool_ctx_free(c);
    free(d);
}

static void test_ctx_errors(void **state)
{
    (void)state;
    struct tool_ctx *c = NULL;
    struct brock_err e;
    assert_int_equal(tool_ctx_new("/nonexistent/brock/dir", NULL, &c, &e), BROCK_ERR_NOT_FOUND);
    assert_null(c);
    assert_contains(e.msg, "/nonexistent/brock/dir");
    assert_int_equal(tool_ctx_new("/etc/passwd", NULL, &c, &e), BROCK_ERR_USAGE);
    assert_contains(e.msg, "not a directory");
    tool_ctx_free(NULL);
    struct tool_result r;
    tool_result_init(&r);
    tool_result_cleanup(&r);
    tool_result_cleanup(NULL);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_names_and_flags),
        cmocka_unit_test(test_schemas_are_closed_objects),
        cmocka_unit_test(test_validation_messages),
        cmocka_unit_test(test_call_reports_validation_as_result),
        cmocka_unit_test(test_hostile_inputs),
        cmocka_unit_test(test_subjects_and_path_resolution),
        cmocka_unit_test(test_summaries),
        cmocka_unit_test(test_todowrite),
        cmocka_unit_test(test_ctx_errors),
    };
    return cmocka_run_group_tests_name("tool_registry", tests, NULL, NULL);
}
