/* Tests for the search tools: glob matching, brace expansion, .gitignore
 * rules, the walker, Glob, Grep (modes, context, -i, multiline, type, glob,
 * binary files, head_limit, caps) and LS. Expected matches come from
 * gitignore(5), fnmatch(3) and ripgrep's documented output format. */
#include "test_tool_common.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/time.h>

/* --- Matching ---------------------------------------------------------- */

static void test_wild_segments(void **state)
{
    (void)state;
    static const struct {
        const char *pat, *s;
        bool want;
    } v[] = {
        {"*.c", "main.c", true},        {"*.c", "main.h", false},
        {"*.c", ".c", true},            {"a*b*c", "aXbYc", true},
        {"a*b*c", "aXbY", false},       {"?", "\xC3\xA9", true}, /* one character, two bytes */
        {"??", "\xC3\xA9", false},      {"[abc]x", "bx", true},
        {"[!abc]x", "bx", false},       {"[^abc]x", "dx", true},
        {"[a-f]", "e", true},           {"[a-f]", "g", false},
        {"[]]", "]", true},             {"[!]]", "a", true},
        {"[[:digit:]]*", "7up", true},  {"[[:alpha:]]", "7", false},
        {"\\*", "*", true},             {"\\*", "a", false},
        {"[", "[", true},               {"[ab", "[ab", true}, /* unclosed: literal */
        {"*", "", true},                {"", "", true},
        {"", "a", false},               {"*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
        {"[\xC3\xA0-\xC3\xBF]", "\xC3\xA9", true},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(v); i++) {
        bool got = tool_wild_seg(v[i].pat, strlen(v[i].pat), v[i].s, strlen(v[i].s));
        if (got != v[i].want)
            fail_msg("seg %zu: \"%s\" vs \"%s\": got %d", i, v[i].pat, v[i].s, got);
        /* fnmatch agrees where the syntax is shared (ASCII, no [^...]) */
        bool ascii = true;
        for (const char *p = v[i].pat; *p; p++)
            ascii = ascii && (unsigned char)*p < 0x80;
        for (const char *p = v[i].s; *p; p++)
            ascii = ascii && (unsigned char)*p < 0x80;
        if (ascii && !strstr(v[i].pat, "[^") && strcmp(v[i].pat, "[ab") && strcmp(v[i].pat, "["))
            assert_int_equal(fnmatch(v[i].pat, v[i].s, 0) == 0, v[i].want);
    }
}

static void test_wild_paths(void **state)
{
    (void)state;
    static const struct {
        const char *pat, *s;
        bool prefix, want;
    } v[] = {
        {"**/*.c", "main.c", false, true},
        {"**/*.c", "a/b/main.c", false, true},
        {"src/**/*.c", "src/x.c", false, true},
        {"src/**/*.c", "src/a/b/x.c", false, true},
        {"src/**/*.c", "lib/x.c", false, false},
        {"src/*.c", "src/a/x.c", false, false},
        {"a/**", "a", false, false}, /* trailing **: the inside only */
        {"a/**", "a/b", false, true},
        {"a/**", "a/b/c", false, true},
        {"a/**/b", "a/b", false, true},
        {"a/**/b", "a/x/y/b", false, true},
        {"a/b", "a/b/c", false, false},
        {"*", "a/b", false, false},
        {"**", "a/b", false, true},
        /* prefix mode: could something below this directory match? */
        {"src/**/*.c", "src", true, true},
        {"src/**/*.c", "lib", true, false},
        {"src/*.c", "src", true, true},
        {"src/*.c", "src/a", true, false},
        {"*.c", "dir", true, false},
        {"**/*.c", "any/dir", true, true},
        {"a/**", "a", true, true},
        /* many stars stay cheap */
        {"**/**/**/**/**/**/**/**/**/**/x", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/y", false, false},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(v); i++) {
        bool got = tool_wild_path(v[i].pat, strlen(v[i].pat), v[i].s, strlen(v[i].s), v[i].prefix);
        if (got != v[i].want)
            fail_msg("path %zu: \"%s\" vs \"%s\" (prefix %d): got %d", i, v[i].pat, v[i].s,
                     v[i].prefix, got);
    }
}

static void expect_braces(const char *pat, const char *const *want, size_t n)
{
    char **v = NULL;
    size_t k = 0;
    assert_int_equal(tool_brace_expand(pat, strlen(pat), &v, &k, NULL), BROCK_OK);
    if (k != n)
        fail_msg("%s: %zu alternatives, want %zu", pat, k, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i], want[i]);
    tool_strv_free(v, k);
}

static void test_brace_expansion(void **state)
{
    (void)state;
    const char *a[] = {"*.ts", "*.tsx"};
    expect_braces("*.{ts,tsx}", a, 2);
    const char *b[] = {"a/x/c", "a/y1/c", "a/y2/c"};
    expect_braces("a/{x,y{1,2}}/c", b, 3);
    const char *c[] = {"{x}"}; /* no comma: literal */
    expect_braces("{x}", c, 1);
    const char *d[] = {"{a,b"}; /* unclosed: literal */
    expect_braces("{a,b", d, 1);
    const char *e[] = {"1a", "1b", "2a", "2b"};
    expect_braces("{1,2}{a,b}", e, 4);
    const char *f[] = {"x\\{a,b}"}; /* escaped */
    expect_braces("x\\{a,b}", f, 1);
    const char *g[] = {"a", ""};
    expect_braces("{a,}", g, 2);
    /* the cap */
    char **v = NULL;
    size_t k = 0;
    struct brock_err err;
    const char *bomb = "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}";
    assert_int_equal(tool_brace_expand(bomb, strlen(bomb), &v, &k, &err), BROCK_ERR_TOO_LARGE);
    assert_contains(err.msg, "more than 256 alternatives");
    tool_strv_free(v, k);
}

static int ign(const struct tool_ignore *ig, const char *rel, bool dir)
{
    return tool_ignore_match(ig, rel, strlen(rel), dir);
}

static void test_gitignore_rules(void **state)
{
    (void)state;
    const char *text = "# comment\n"
                       "\n"
                       "*.log\n"
                       "!keep.log\n"
                       "build/\n"
                       "/top.txt\n"
                       "docs/*.html\n"
                       "**/gen/**\n"
                       "trail\\ \n"
                       "spaces   \n"
                       "\\#hash\n"
                       "\\!bang\n"
                       "a/**/z\n"
                       "win\r\n";
    struct tool_ignore *ig = tool_ignore_parse(text, strlen(text), "/proj/");
    assert_non_null(ig);
    assert_string_equal(ig->base, "/proj");
    assert_int_equal(ign(ig, "x.log", false), 1);
    assert_int_equal(ign(ig, "deep/x.log", false), 1);  /* no slash: any level */
    assert_int_equal(ign(ig, "keep.log", false), -1);   /* re-included */
    assert_int_equal(ign(ig, "sub/keep.log", false), -1);
    assert_int_equal(ign(ig, "build", true), 1);        /* directory only */
    assert_int_equal(ign(ig, "build", false), 0);
    assert_int_equal(ign(ig, "src/build", true), 1);
    assert_int_equal(ign(ig, "top.txt", false), 1);     /* anchored */
    assert_int_equal(ign(ig, "sub/top.txt", false), 0);
    assert_int_equal(ign(ig, "docs/a.html", false), 1); /* a middle slash anchors */
    assert_int_equal(ign(ig, "x/docs/a.html", false), 0);
    assert_int_equal(ign(ig, "docs/sub/a.html", false), 0);
    assert_int_equal(ign(ig, "gen/x.c", false), 1);
    assert_int_equal(ign(ig, "a/b/gen/x.c", false), 1);
    assert_int_equal(ign(ig, "trail ", false), 1);      /* escaped trailing space kept */
    assert_int_equal(ign(ig, "spaces", false), 1);      /* others dropped */
    assert_int_equal(ign(ig, "#hash", false), 1);
    assert_int_equal(ign(ig, "!bang", false), 1);
    assert_int_equal(ign(ig, "a/z", false), 1);
    assert_int_equal(ign(ig, "a/b/c/z", false), 1);
    assert_int_equal(ign(ig, "win", false), 1);         /* CRLF file */
    assert_int_equal(ign(ig, "main.c", false), 0);
    tool_ignore_free(ig);
    /* nothing but comments: no rule set */
    assert_null(tool_ignore_parse("# x\n\n   \n", 9, "/"));
    /* the last matching rule wins */
    const char *t2 = "!x.c\n*.c\n";
    ig = tool_ignore_parse(t2, strlen(t2), "/");
    assert_int_equal(ign(ig, "x.c", false), 1);
    tool_ignore_free(ig);
}

/* --- Glob -------------------------------------------------------------- */

static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void put_at(const char *dir, const char *rel, time_t t)
{
    char *p = tt_put(dir, rel, "x\n");
    set_mtime(p, t);
    free(p);
}

static void test_glob_order_and_patterns(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    put_at(d, "old.c", 1000);
    put_at(d, "src/new.c", 3000);
    put_at(d, "src/lib/mid.c", 2000);
    put_at(d, "src/lib/util.h", 2500);
    put_at(d, "src/a.tsx", 100);
    put_at(d, ".hidden/h.c", 50);
    put_at(d, "notes.md", 10);
    struct tool_result r;
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "**/*.c"), &r);
    assert_false(r.is_error);
    char want[8192];
    snprintf(want, sizeof want, "%s/src/new.c\n%s/src/lib/mid.c\n%s/old.c\n%s/.hidden/h.c\n", d, d,
             d, d);
    assert_string_equal(tt_text(&r), want);
    assert_string_equal(buf_cstr(&r.summary), "Glob **/*.c (4 files)");
    tool_result_cleanup(&r);
    /* anchored at the search directory */
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "*.c"), &r);
    snprintf(want, sizeof want, "%s/old.c\n", d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* braces, a literal directory, ? and classes */
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "src/**/*.{h,tsx}"), &r);
    snprintf(want, sizeof want, "%s/src/lib/util.h\n%s/src/a.tsx\n", d, d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "src/lib/[m]i?.c"), &r);
    snprintf(want, sizeof want, "%s/src/lib/mid.c\n", d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* path parameter; an absolute pattern */
    char *src = tt_join(d, "src");
    tt_call(c, "Glob", json_pack("{s:s,s:s}", "pattern", "*.c", "path", src), &r);
    snprintf(want, sizeof want, "%s/src/new.c\n", d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    char abspat[8192];
    snprintf(abspat, sizeof abspat, "%s/lib/*.h", src);
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", abspat), &r);
    snprintf(want, sizeof want, "%s/src/lib/util.h\n", d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* nothing; errors */
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "**/*.rs"), &r);
    assert_false(r.is_error);
    assert_string_equal(tt_text(&r), "No files found");
    tool_result_cleanup(&r);
    tt_call(c, "Glob", json_pack("{s:s,s:s}", "pattern", "*", "path", "src"), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "must be an absolute path");
    tool_result_cleanup(&r);
    char *missing = tt_join(d, "missing");
    tt_call(c, "Glob", json_pack("{s:s,s:s}", "pattern", "*", "path", missing), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "Directory does not exist");
    tool_result_cleanup(&r);
    free(missing);
    free(src);
    tool_ctx_free(c);
    free(d);
}

static void test_glob_gitignore_and_vcs(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    tt_mkdirs(d); /* a repository: .git marks its top */
    put_at(d, ".git/config.c", 9000);
    tt_put_free(d, ".git/info/exclude", "excluded.c\n");
    tt_put_free(d, ".gitignore", "*.gen.c\nbuild/\n/rootonly.c\n!keep.gen.c\n");
    put_at(d, "a.c", 100);
    put_at(d, "x.gen.c", 200);
    put_at(d, "keep.gen.c", 300);
    put_at(d, "build/out.c", 400);
    put_at(d, "rootonly.c", 500);
    put_at(d, "sub/rootonly.c", 600);
    put_at(d, "excluded.c", 700);
    tt_put_free(d, "sub/.gitignore", "local.c\n!*.gen.c\n");
    put_at(d, "sub/local.c", 800);
    put_at(d, "sub/y.gen.c", 900);
    struct tool_result r;
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "**/*.c"), &r);
    char want[8192];
    snprintf(want, sizeof want, "%s/sub/y.gen.c\n%s/sub/rootonly.c\n%s/keep.gen.c\n%s/a.c\n", d, d,
             d, d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* a search below the top still honours the top's rules */
    put_at(d, "sub/z.gen.c", 50);
    tt_put_free(d, "sub/.gitignore", "local.c\n");
    char *sub = tt_join(d, "sub");
    tt_call(c, "Glob", json_pack("{s:s,s:s}", "pattern", "*.c", "path", sub), &r);
    snprintf(want, sizeof want, "%s/sub/rootonly.c\n", d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    free(sub);
    tool_ctx_free(c);
    free(d);
}

static void test_glob_truncation(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    for (int i = 0; i < 150; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "f%03d.txt", i);
        put_at(d, rel, 1000 + i);
    }
    struct tool_result r;
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "*.txt"), &r);
    assert_false(r.is_error);
    char first[4096];
    snprintf(first, sizeof first, "%s/f149.txt\n%s/f148.txt\n", d, d);
    assert_true(strncmp(tt_text(&r), first, strlen(first)) == 0);
    size_t lines = 0;
    for (const char *p = tt_text(&r); *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 101);
    assert_contains(tt_text(&r), "(Results are truncated: showing the 100 most recently modified "
                                 "of 150 matches.");
    assert_not_contains(tt_text(&r), "f049.txt");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

/* --- Grep -------------------------------------------------------------- */

static void test_grep_modes(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    char *a = tt_put(d, "a.c", "int main(void)\n{\n    return foo();\n}\n");
    char *b = tt_put(d, "lib/b.c", "int foo(void) { return 1; }\nint bar(void) { return foo(); }\n");
    char *m = tt_put(d, "notes.md", "nothing here\n");
    set_mtime(a, 1000);
    set_mtime(b, 2000);
    (void)m;
    struct tool_result r;
    char want[8192];
    /* files_with_matches (default), newest first */
    tt_call(c, "Grep", json_pack("{s:s}", "pattern", "foo\\("), &r);
    assert_false(r.is_error);
    snprintf(want, sizeof want, "Found 2 files\n%s\n%s\n", b, a);
    assert_string_equal(tt_text(&r), want);
    assert_string_equal(buf_cstr(&r.summary), "Grep \"foo\\(\" (2 files)");
    tool_result_cleanup(&r);
    /* content with line numbers */
    tt_call(c, "Grep", json_pack("{s:s,s:s}", "pattern", "foo", "output_mode", "content"), &r);
    snprintf(want, sizeof want,
             "%s:3:    return foo();\n%s:1:int foo(void) { return 1; }\n%s:2:int bar(void) { "
             "return foo(); }\n",
             a, b, b);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* without -n */
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:b}", "pattern", "return 1", "output_mode", "content",
                                 "-n", 0),
            &r);
    snprintf(want, sizeof want, "%s:int foo(void) { return 1; }\n", b);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* count */
    tt_call(c, "Grep", json_pack("{s:s,s:s}", "pattern", "foo", "output_mode", "count"), &r);
    snprintf(want, sizeof want, "%s:1\n%s:2\n\nFound 3 matching lines in 2 files.\n", a, b);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* a single file: no path prefix, as ripgrep */
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "bar", "path", b, "output_mode",
                                 "content"),
            &r);
    assert_string_equal(tt_text(&r), "2:int bar(void) { return foo(); }\n");
    tool_result_cleanup(&r);
    /* no matches */
    tt_call(c, "Grep", json_pack("{s:s}", "pattern", "zebra"), &r);
    assert_false(r.is_error);
    assert_string_equal(tt_text(&r), "No files found\n");
    tool_result_cleanup(&r);
    tt_call(c, "Grep", json_pack("{s:s,s:s}", "pattern", "zebra", "output_mode", "content"), &r);
    assert_string_equal(tt_text(&r), "No matches found\n");
    tool_result_cleanup(&r);
    /* -i */
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:b}", "pattern", "NOTHING", "output_mode", "content",
                                 "-i", 1),
            &r);
    snprintf(want, sizeof want, "%s/notes.md:1:nothing here\n", d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* a bad pattern */
    tt_call(c, "Grep", json_pack("{s:s}", "pattern", "foo("), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "invalid regular expression at offset 4");
    tool_result_cleanup(&r);
    free(a);
    free(b);
    free(m);
    tool_ctx_free(c);
    free(d);
}

static void test_grep_context(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    char *p = tt_put(d, "f.txt", "l1\nl2 hit\nl3\nl4\nl5\nl6\nl7 hit\nl8 hit\nl9\nl10\n");
    struct tool_result r;
    char want[8192];
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s,s:i}", "pattern", "hit", "path", p, "output_mode",
                                 "content", "-C", 1),
            &r);
    assert_string_equal(tt_text(&r), "1-l1\n2:l2 hit\n3-l3\n--\n6-l6\n7:l7 hit\n8:l8 hit\n9-l9\n");
    tool_result_cleanup(&r);
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s,s:i}", "pattern", "hit", "path", p, "output_mode",
                                 "content", "-A", 2),
            &r);
    assert_string_equal(tt_text(&r), "2:l2 hit\n3-l3\n4-l4\n--\n7:l7 hit\n8:l8 hit\n9-l9\n10-l10\n");
    tool_result_cleanup(&r);
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s,s:i}", "pattern", "hit", "path", p, "output_mode",
                                 "content", "-B", 4),
            &r);
    assert_string_equal(tt_text(&r),
                        "1-l1\n2:l2 hit\n3-l3\n4-l4\n5-l5\n6-l6\n7:l7 hit\n8:l8 hit\n");
    tool_result_cleanup(&r);
    /* context across two files: "--" between them */
    char *q = tt_put(d, "g.txt", "hit\n");
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:i}", "pattern", "l10|^hit", "output_mode", "content",
                                 "-B", 1),
            &r);
    snprintf(want, sizeof want, "%s-9-l9\n%s:10:l10\n--\n%s:1:hit\n", p, p, q);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    free(q);
    free(p);
    tool_ctx_free(c);
    free(d);
}

static void test_grep_multiline_and_lines(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    char *p = tt_put(d, "m.go", "type T struct {\n\tA int\n}\nfunc f() {}\n");
    struct tool_result r;
    /* without multiline, a pattern cannot span lines */
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "struct \\{\\s*A", "path", p,
                                 "output_mode", "content"),
            &r);
    assert_string_equal(tt_text(&r), "No matches found\n");
    tool_result_cleanup(&r);
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s,s:b}", "pattern", "struct \\{.*?\\}", "path", p,
                                 "output_mode", "content", "multiline", 1),
            &r);
    assert_string_equal(tt_text(&r), "1:type T struct {\n2:\tA int\n3:}\n");
    tool_result_cleanup(&r);
    free(p);
    /* anchors work per line, CRLF included; a match past the line end is
     * retried on the line alone */
    p = tt_put(d, "crlf.txt", "abc\r\nxabc\r\nabc\n");
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "^abc$", "path", p, "output_mode",
                                 "content"),
            &r);
    assert_string_equal(tt_text(&r), "1:abc\n3:abc\n");
    tool_result_cleanup(&r);
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "c\\s+x|b", "path", p, "output_mode",
                                 "content"),
            &r);
    assert_string_equal(tt_text(&r), "1:abc\n2:xabc\n3:abc\n");
    tool_result_cleanup(&r);
    free(p);
    /* invalid UTF-8 in a file: matched, printed valid */
    p = tt_put(d, "bad.txt", "caf\xe9 ok\n");
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "ok", "path", p, "output_mode",
                                 "content"),
            &r);
    assert_string_equal(tt_text(&r), "1:caf\xEF\xBF\xBD ok\n");
    tool_result_cleanup(&r);
    free(p);
    /* empty matches do not loop */
    p = tt_put(d, "e.txt", "a\n\nb\n");
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "^$", "path", p, "output_mode",
                                 "content"),
            &r);
    assert_string_equal(tt_text(&r), "2:\n");
    tool_result_cleanup(&r);
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s,s:b}", "pattern", "x*", "path", p, "output_mode",
                                 "count", "multiline", 1),
            &r);
    assert_string_equal(tt_text(&r), "3\n\nFound 3 matching lines in 1 file.\n");
    tool_result_cleanup(&r);
    free(p);
    tool_ctx_free(c);
    free(d);
}

static void test_grep_filters_binary_ignore(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    tt_put_free(d, "a.py", "needle\n");
    tt_put_free(d, "b.js", "needle\n");
    tt_put_free(d, "c.min.js", "needle\n");
    tt_put_free(d, "d.ts", "needle\n");
    tt_put_free(d, "e.h", "needle\n");
    tt_put_free(d, "sub/f.py", "needle\n");
    free(tt_put_n(d, "bin.dat", "needle\0\1\2", 9));
    tt_put_free(d, ".gitignore", "ignored/\n");
    tt_put_free(d, "ignored/g.py", "needle\n");
    tt_put_free(d, ".git/h.py", "needle\n");
    struct tool_result r;
    struct {
        json_t *in;
        const char *want[8];
    } cases[] = {
        {json_pack("{s:s,s:s}", "pattern", "needle", "type", "py"), {"a.py", "sub/f.py"}},
        {json_pack("{s:s,s:s}", "pattern", "needle", "type", "c"), {"e.h"}},
        {json_pack("{s:s,s:s}", "pattern", "needle", "glob", "*.js !*.min.js"), {"b.js"}},
        {json_pack("{s:s,s:s}", "pattern", "needle", "glob", "*.{ts,py}"),
         {"a.py", "d.ts", "sub/f.py"}},
        {json_pack("{s:s,s:s}", "pattern", "needle", "glob", "sub/*.py"), {"sub/f.py"}},
        {json_pack("{s:s,s:s}", "pattern", "needle", "glob", "!sub"),
         {"a.py", "b.js", "c.min.js", "d.ts", "e.h"}},
        {json_pack("{s:s}", "pattern", "needle"),
         {"a.py", "b.js", "c.min.js", "d.ts", "e.h", "sub/f.py"}},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        json_object_set_new(cases[i].in, "output_mode", json_string("count"));
        tt_call(c, "Grep", cases[i].in, &r);
        assert_false(r.is_error);
        struct buf want = BUF_INIT(8192);
        size_t n = 0;
        for (; n < 8 && cases[i].want[n]; n++)
            buf_addf(&want, "%s/%s:1\n", d, cases[i].want[n]);
        buf_addf(&want, "\nFound %zu matching line%s in %zu file%s.\n", n, n == 1 ? "" : "s", n,
                 n == 1 ? "" : "s");
        if (strcmp(tt_text(&r), buf_cstr(&want)) != 0)
            fail_msg("case %zu: got\n%s\nwant\n%s", i, tt_text(&r), buf_cstr(&want));
        buf_free(&want);
        tool_result_cleanup(&r);
    }
    tt_call(c, "Grep", json_pack("{s:s,s:s}", "pattern", "x", "type", "klingon"), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "unknown type \"klingon\". Known types: asm, c,");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

static void test_grep_limits(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_limits lim;
    tool_limits_default(&lim);
    lim.grep_max_output = 2000;
    lim.grep_max_file = 4096;
    struct tool_ctx *c = tt_ctx(d, &lim);
    struct buf b = BUF_INIT(1 << 20);
    for (int i = 1; i <= 300; i++)
        buf_addf(&b, "match %d\n", i);
    char *p = tt_put(d, "many.txt", buf_cstr(&b));
    buf_reset(&b);
    for (int i = 0; i < 1000; i++)
        buf_addstr(&b, "match big file\n");
    char *big = tt_put(d, "zbig.txt", buf_cstr(&b));
    struct tool_result r;
    /* head_limit */
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s,s:i}", "pattern", "match", "path", p, "output_mode",
                                 "content", "head_limit", 3),
            &r);
    assert_string_equal(tt_text(&r), "1:match 1\n2:match 2\n3:match 3\n(Stopped at head_limit 3; "
                                     "there are more results.)\n");
    tool_result_cleanup(&r);
    /* the output cap */
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "match", "path", p, "output_mode",
                                 "content"),
            &r);
    assert_contains(tt_text(&r), "(Output truncated at 2000 bytes.");
    assert_true(r.text.len < 2000 + 300);
    tool_result_cleanup(&r);
    /* files over grep_max_file are named */
    tt_call(c, "Grep", json_pack("{s:s}", "pattern", "match"), &r);
    char want[8192];
    snprintf(want, sizeof want, "Found 1 file\n%s\n(Skipped (too large to search) 1 file: %s)\n", p,
             big);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* long lines are cut at grep_max_columns */
    buf_reset(&b);
    for (int i = 0; i < 700; i++)
        buf_addc(&b, 'y');
    buf_addstr(&b, "\n");
    char *wide = tt_put(d, "wide.txt", buf_cstr(&b));
    tt_call(c, "Grep", json_pack("{s:s,s:s,s:s}", "pattern", "y", "path", wide, "output_mode",
                                 "content"),
            &r);
    assert_contains(tt_text(&r), "yyy [... 200 more bytes]\n");
    tool_result_cleanup(&r);
    /* a catastrophic pattern (exponential backtracking, no required
     * character for PCRE2 to check first) is stopped by the match limit */
    buf_reset(&b);
    for (int i = 0; i < 40; i++)
        buf_addc(&b, 'a');
    buf_addstr(&b, "!\n");
    char *cat = tt_put(d, "cat.txt", buf_cstr(&b));
    tt_call(c, "Grep", json_pack("{s:s,s:s}", "pattern", "^(a|aa)+$", "path", cat), &r);
    assert_false(r.is_error);
    assert_contains(tt_text(&r), "too costly");
    tool_result_cleanup(&r);
    free(cat);
    free(wide);
    free(big);
    free(p);
    buf_free(&b);
    tool_ctx_free(c);
    free(d);
}

/* --- LS ---------------------------------------------------------------- */

static void test_ls_tree(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_ctx *c = tt_ctx(d, NULL);
    tt_put_free(d, "b.txt", "x");
    tt_put_free(d, "a/x.txt", "x");
    tt_put_free(d, "a/sub/y.txt", "x");
    tt_put_free(d, "a-b/z.txt", "x");
    tt_put_free(d, "skip.log", "x");
    tt_put_free(d, ".git/HEAD", "x");
    tt_put_free(d, ".gitignore", "ignored/\n");
    tt_put_free(d, "ignored/q.txt", "x");
    char *link = tt_join(d, "ln");
    assert_int_equal(symlink("b.txt", link), 0);
    free(link);
    struct tool_result r;
    tt_call(c, "LS", json_pack("{s:s,s:[s]}", "path", d, "ignore", "*.log"), &r);
    assert_false(r.is_error);
    char want[8192];
    snprintf(want, sizeof want,
             "- %s/\n  - .gitignore\n  - a/\n    - sub/\n      - y.txt\n    - x.txt\n  - a-b/\n  "
             "  - z.txt\n  - b.txt\n  - ln -> b.txt\n",
             d);
    assert_string_equal(tt_text(&r), want);
    assert_string_equal(buf_cstr(&r.summary), "LS . (9 entries)");
    tool_result_cleanup(&r);
    /* errors */
    char *f = tt_join(d, "b.txt");
    tt_call(c, "LS", json_pack("{s:s}", "path", f), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "is not a directory");
    tool_result_cleanup(&r);
    free(f);
    tt_call(c, "LS", json_pack("{s:s}", "path", "a"), &r);
    assert_true(r.is_error);
    assert_contains(tt_text(&r), "must be an absolute path");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

static void test_ls_cap_is_breadth_first(void **state)
{
    (void)state;
    char *d = tt_dir();
    struct tool_limits lim;
    tool_limits_default(&lim);
    lim.ls_max_entries = 4;
    struct tool_ctx *c = tt_ctx(d, &lim);
    tt_put_free(d, "a/deep/er/x", "x");
    tt_put_free(d, "b", "x");
    tt_put_free(d, "c", "x");
    struct tool_result r;
    tt_call(c, "LS", json_pack("{s:s}", "path", d), &r);
    char want[8192];
    snprintf(want, sizeof want,
             "There are more than 4 entries under %s; the first 4 (shallowest first) are shown. "
             "Use LS on a subdirectory, or Glob and Grep, to look further.\n\n- %s/\n  - a/\n    "
             "- deep/\n  - b\n  - c\n",
             d, d);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    /* an empty directory */
    char *e = tt_join(d, "a/deep/er/empty");
    tt_mkdirs(e);
    tt_call(c, "LS", json_pack("{s:s}", "path", e), &r);
    snprintf(want, sizeof want, "- %s/\n(The directory is empty.)\n", e);
    assert_string_equal(tt_text(&r), want);
    tool_result_cleanup(&r);
    free(e);
    tool_ctx_free(c);
    free(d);
}

static void test_walk_cancel_and_cap(void **state)
{
    (void)state;
    char *d = tt_dir();
    for (int i = 0; i < 50; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "d%d/f.c", i);
        tt_put_free(d, rel, "needle\n");
    }
    struct tool_limits lim;
    tool_limits_default(&lim);
    lim.walk_max_entries = 10;
    struct tool_ctx *c = tt_ctx(d, &lim);
    struct tool_result r;
    tt_call(c, "Glob", json_pack("{s:s}", "pattern", "**/*.c"), &r);
    assert_contains(tt_text(&r), "(The search stopped after 10 directory entries");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    c = tt_ctx(d, NULL);
    volatile sig_atomic_t flag = 1;
    tool_ctx_set_cancel(c, &flag);
    assert_int_equal(tt_call(c, "Grep", json_pack("{s:s}", "pattern", "needle"), &r),
                     BROCK_ERR_INTERRUPTED);
    assert_true(r.interrupted);
    assert_contains(tt_text(&r), "interrupted");
    tool_result_cleanup(&r);
    tool_ctx_free(c);
    free(d);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wild_segments),
        cmocka_unit_test(test_wild_paths),
        cmocka_unit_test(test_brace_expansion),
        cmocka_unit_test(test_gitignore_rules),
        cmocka_unit_test(test_glob_order_and_patterns),
        cmocka_unit_test(test_glob_gitignore_and_vcs),
        cmocka_unit_test(test_glob_truncation),
        cmocka_unit_test(test_grep_modes),
        cmocka_unit_test(test_grep_context),
        cmocka_unit_test(test_grep_multiline_and_lines),
        cmocka_unit_test(test_grep_filters_binary_ignore),
        cmocka_unit_test(test_grep_limits),
        cmocka_unit_test(test_ls_tree),
        cmocka_unit_test(test_ls_cap_is_breadth_first),
        cmocka_unit_test(test_walk_cancel_and_cap),
    };
    return cmocka_run_group_tests_name("tool_search", tests, NULL, NULL);
}
