/* Tests for src/cli/render.c: drawing unified diffs, making them (checked by
 * applying them with GNU patch), and the one-line tool-call display.
 * Expected strings are written by hand. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli/render.h"

#define R "\x1b[0m"
#define BOLD "\x1b[0;1m"
#define DIM "\x1b[0;2m"
#define RED "\x1b[0;31m"
#define GREEN "\x1b[0;32m"
#define HUNK "\x1b[0;2;36m"

static void show(const char *label, const char *s)
{
    fprintf(stderr, "%s: \"", label);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", stderr);
        else if (*p == 0x1b)
            fputs("\\e", stderr);
        else
            fputc(*p, stderr);
    }
    fputs("\"\n", stderr);
}

static void expect(const struct buf *b, const char *want)
{
    if (strcmp(buf_cstr(b), want) != 0) {
        show("got ", buf_cstr(b));
        show("want", want);
        fail();
    }
}

/* ---- drawing ---- */

static const char sample[] = "diff --git a/x.c b/x.c\n"
                             "--- a/x.c\n"
                             "+++ b/x.c\n"
                             "@@ -9,3 +9,3 @@ int main\n"
                             " ctx\n"
                             "-old\n"
                             "+new\n"
                             "--- x\n"
                             "+++ y\n"
                             "\\ No newline at end of file\n"
                             "--- a/y\n";

static void test_diff_colour(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1 << 16);
    struct render_look look = {.color = true, .unicode = true};
    render_diff(&b, &look, sample, sizeof sample - 1);
    expect(&b, BOLD "diff --git a/x.c b/x.c" R "\n"
               BOLD "--- a/x.c" R "\n"
               BOLD "+++ b/x.c" R "\n"
               HUNK "@@ -9,3 +9,3 @@ int main" R "\n"
               DIM " 9" R "  ctx\n"
               DIM "10" R " " RED "-old" R "\n"
               DIM "10" R " " GREEN "+new" R "\n"
               DIM "11" R " " RED "--- x" R "\n"   /* inside the hunk: a removed line */
               DIM "11" R " " GREEN "+++ y" R "\n"
               DIM "  " R " " DIM "\\ No newline at end of file" R "\n"
               BOLD "--- a/y" R "\n");             /* after it: a header again */
    buf_free(&b);
}

static void test_diff_plain_is_the_diff(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1 << 16);
    struct render_look look = {.color = false};
    render_diff(&b, &look, sample, sizeof sample - 1);
    expect(&b, sample);
    buf_reset(&b);
    const char hostile[] = "@@ -1 +1 @@\n-a\x1b[2J\n+b\x1b]0;t\x07";
    render_diff(&b, &look, hostile, sizeof hostile - 1);
    expect(&b, "@@ -1 +1 @@\n-a^[[2J\n+b^[]0;t^G\n");
    buf_free(&b);
}

static void test_diff_odd_input(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1 << 16);
    struct render_look look = {.color = true};
    /* a header without counts: lines still coloured, no numbers */
    const char loose[] = "@@ bogus @@\n-a\n+b\n c\ntext\n";
    render_diff(&b, &look, loose, sizeof loose - 1);
    expect(&b, HUNK "@@ bogus @@" R "\n" RED "-a" R "\n" GREEN "+b" R "\n c\ntext\n");
    buf_reset(&b);
    /* CRLF, hostile text and a count that runs out early */
    const char crlf[] = "@@ -1,2 +1 @@\r\n-x\x1b[2J\r\n-y\r\n+z\r\n+extra\r\n";
    render_diff(&b, &look, crlf, sizeof crlf - 1);
    expect(&b, HUNK "@@ -1,2 +1 @@" R "\n" DIM "1" R " " RED "-x^[[2J" R "\n" DIM "2" R " " RED "-y" R "\n"
               DIM "1" R " " GREEN "+z" R "\n+extra\n");
    buf_reset(&b);
    /* numbers too big are not followed */
    const char big[] = "@@ -99999999999,1 +1 @@\n-a\n";
    render_diff(&b, &look, big, sizeof big - 1);
    expect(&b, HUNK "@@ -99999999999,1 +1 @@" R "\n" RED "-a" R "\n");
    buf_free(&b);
}

/* ---- making ---- */

static char *make(const char *a, const char *b, int ctx)
{
    struct buf o = BUF_INIT(1 << 24);
    render_diff_make(&o, "f", a, strlen(a), b, strlen(b), ctx);
    return buf_take(&o);
}

#define MAKE_EQ(a, b, ctx, want)                   \
    do {                                           \
        char *got_ = make((a), (b), (ctx));        \
        if (strcmp(got_, (want)) != 0) {           \
            show("got ", got_);                    \
            show("want", (want));                  \
            fail();                                \
        }                                          \
        free(got_);                                \
    } while (0)

static void test_make_small_cases(void **state)
{
    (void)state;
    MAKE_EQ("a\nb\n", "a\nb\n", 3, "");
    MAKE_EQ("a\nb\nc\n", "a\nB\nc\n", 3, "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
    MAKE_EQ("", "x\ny\n", 3, "--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+x\n+y\n");
    MAKE_EQ("x\ny\n", "", 3, "--- a/f\n+++ b/f\n@@ -1,2 +0,0 @@\n-x\n-y\n");
    MAKE_EQ("a\nb", "a\nc", 3,
            "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n");
    MAKE_EQ("a\n", "a", 0, "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n");
    /* two changes far apart: two hunks; close together: one */
    const char *ten = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
    MAKE_EQ(ten, "1\nX\n3\n4\n5\n6\n7\n8\nY\n10\n", 1,
            "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n 1\n-2\n+X\n 3\n@@ -8,3 +8,3 @@\n 8\n-9\n+Y\n 10\n");
    MAKE_EQ(ten, "1\nX\n3\n4\nY\n6\n7\n8\n9\n10\n", 1,
            "--- a/f\n+++ b/f\n@@ -1,6 +1,6 @@\n 1\n-2\n+X\n 3\n 4\n-5\n+Y\n 6\n");
    /* an insertion between lines: header counts the context only */
    MAKE_EQ(ten, "1\n2\n3\nnew\n4\n5\n6\n7\n8\n9\n10\n", 2, "--- a/f\n+++ b/f\n@@ -2,4 +2,5 @@\n 2\n 3\n+new\n 4\n 5\n");
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_text(struct buf *b, size_t lines, bool final_nl)
{
    static const char *words[] = {"alpha", "beta", "gamma", "delta", "", "}", "return 0;", "alpha"};
    for (size_t i = 0; i < lines; i++) {
        buf_addstr(b, words[next_rand() % 8]);
        if (i + 1 < lines || final_nl)
            buf_addc(b, '\n');
    }
}

static void write_file(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, n, f), n);
    fclose(f);
}

static size_t count_edits(const char *d)
{
    size_t n = 0;
    for (const char *p = d; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        if ((*p == '+' && strncmp(p, "+++ ", 4) != 0) || (*p == '-' && strncmp(p, "--- ", 4) != 0))
            n++;
    }
    return n;
}

/* Random pairs of texts: GNU patch turns a into b with our diff, and our diff
 * is never longer than GNU diff's. */
static void test_make_applies_with_patch(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char pa[512], pb[512], pd[512], po[512], pg[512], cmd[4096];
    snprintf(pa, sizeof pa, "%s/a.txt", dir);
    snprintf(pb, sizeof pb, "%s/b.txt", dir);
    snprintf(pd, sizeof pd, "%s/d.diff", dir);
    snprintf(po, sizeof po, "%s/out.txt", dir);
    snprintf(pg, sizeof pg, "%s/gnu.diff", dir);
    for (int t = 0; t < 120; t++) {
        struct buf a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20), d = BUF_INIT(1 << 22);
        random_text(&a, next_rand() % 40, next_rand() % 4 != 0);
        random_text(&b, next_rand() % 40, next_rand() % 4 != 0);
        int ctx = (int)(next_rand() % 4);
        render_diff_make(&d, "a.txt", buf_cstr(&a), a.len, buf_cstr(&b), b.len, ctx);
        write_file(pa, buf_cstr(&a), a.len);
        write_file(pb, buf_cstr(&b), b.len);
        write_file(pd, buf_cstr(&d), d.len);
        remove(po);
        snprintf(cmd, sizeof cmd, "patch -s -o '%s' '%s' '%s' >/dev/null 2>&1 || cp '%s' '%s'", po, pa, pd, pa, po);
        if (d.len == 0)
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", pa, po);
        if (system(cmd) != 0)
            fail_msg("trial %d: running patch failed", t);
        size_t on = 0;
        char *out = test_read_file(po, &on);
        assert_non_null(out);
        if (on != b.len || memcmp(out, buf_cstr(&b), on) != 0) {
            show("diff", buf_cstr(&d));
            fail_msg("trial %d (context %d): patch did not give b", t, ctx);
        }
        free(out);
        snprintf(cmd, sizeof cmd, "diff -U%d '%s' '%s' > '%s'", ctx, pa, pb, pg);
        if (system(cmd) == -1)
            fail_msg("running diff failed");
        char *gnu = test_read_file(pg, NULL);
        assert_non_null(gnu);
        if (count_edits(buf_cstr(&d)) > count_edits(gnu))
            fail_msg("trial %d: %zu edits, GNU diff needs %zu", t, count_edits(buf_cstr(&d)), count_edits(gnu));
        free(gnu);
        buf_free(&a);
        buf_free(&b);
        buf_free(&d);
    }
    free(dir);
}

static void test_make_over_the_edit_cap(void **state)
{
    (void)state;
    /* two unrelated texts: the middle is replaced wholesale, still correct */
    struct buf a = BUF_INIT(1 << 24), b = BUF_INIT(1 << 24), d = BUF_INIT(1 << 26);
    for (int i = 0; i < 1500; i++) {
        buf_addf(&a, "a%d\n", i);
        buf_addf(&b, "b%d\n", i);
    }
    render_diff_make(&d, NULL, a.ptr, a.len, b.ptr, b.len, 3);
    assert_memory_equal(d.ptr, "@@ -1,1500 +1,1500 @@\n-a0\n", 26);
    assert_int_equal(count_edits(d.ptr), 3000);
    buf_free(&a);
    buf_free(&b);
    buf_free(&d);
}

/* ---- the tool line ---- */

static void tool(struct buf *b, bool color, bool uni, int width, enum render_tool_state st, const char *name,
                 const char *arg, const char *res)
{
    struct render_look look = {.color = color, .unicode = uni, .width = width};
    buf_reset(b);
    render_tool_line(b, &look, st, name, arg, res);
}

static void test_tool_line(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(4096);
    tool(&b, false, true, 0, RENDER_TOOL_RUNNING, "Read", "src/main.c", NULL);
    expect(&b, "\xe2\x97\x8f Read(src/main.c)\n");
    tool(&b, false, true, 80, RENDER_TOOL_OK, "Read", "src/main.c", "120 lines");
    expect(&b, "\xe2\x97\x8f Read(src/main.c) \xe2\x8e\xbf 120 lines\n");
    tool(&b, false, false, 80, RENDER_TOOL_OK, "Read", "src/main.c", "120 lines");
    expect(&b, "* Read(src/main.c) -> 120 lines\n");
    tool(&b, true, true, 80, RENDER_TOOL_OK, "Read", "src/main.c", "120 lines");
    expect(&b, GREEN "\xe2\x97\x8f" R " " BOLD "Read" R "(src/main.c)" DIM " \xe2\x8e\xbf 120 lines" R "\n");
    tool(&b, true, true, 80, RENDER_TOOL_ERROR, "Bash", "make", "exit 2");
    expect(&b, RED "\xe2\x97\x8f" R " " BOLD "Bash" R "(make)" RED " \xe2\x8e\xbf exit 2" R "\n");
    tool(&b, true, true, 80, RENDER_TOOL_RUNNING, "Glob", NULL, NULL);
    expect(&b, DIM "\xe2\x97\x8f" R " " BOLD "Glob" R "\n");
    /* cut to the width: the argument gives way first */
    tool(&b, false, true, 30, RENDER_TOOL_ERROR, "Bash", "npm run build && npm test", "exit 1");
    expect(&b, "\xe2\x97\x8f Bash(npm run buil\xe2\x80\xa6) \xe2\x8e\xbf exit 1\n");
    /* untrusted argument and result: one line, no escapes */
    tool(&b, false, true, 0, RENDER_TOOL_OK, "Bash", "echo a\necho \x1b[2J", "ok\x1b]0;t\x07");
    expect(&b, "\xe2\x97\x8f Bash(echo a echo ^[[2J) \xe2\x8e\xbf ok^[]0;t^G\n");
    buf_free(&b);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_colour),
        cmocka_unit_test(test_diff_plain_is_the_diff),
        cmocka_unit_test(test_diff_odd_input),
        cmocka_unit_test(test_make_small_cases),
        cmocka_unit_test(test_make_applies_with_patch),
        cmocka_unit_test(test_make_over_the_edit_cap),
        cmocka_unit_test(test_tool_line),
    };
    return cmocka_run_group_tests_name("render_diff", tests, NULL, NULL);
}
