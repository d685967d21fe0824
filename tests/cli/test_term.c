/* Tests for src/cli/term.c: colour/locale/size decisions, display widths and
 * the sanitiser that keeps untrusted text from driving the terminal.
 * Every expected string is written out by hand. */
#include "../support/test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../src/cli/term.h"

static char *san(const char *s, size_t n, unsigned flags)
{
    struct buf b = BUF_INIT(1 << 20);
    term_sanitize(&b, s, n, flags);
    return buf_take(&b);
}

#define SAN_EQ(in, flags, want)                                       \
    do {                                                              \
        char *got_ = san((in), sizeof(in) - 1, (flags));              \
        assert_string_equal(got_, (want));                            \
        free(got_);                                                   \
    } while (0)

/* ---- colour, locale and size decisions ---- */

static void test_color_precedence(void **state)
{
    (void)state;
    struct term_env e = {0};
    assert_true(term_color_decide(&e, true, false));
    assert_false(term_color_decide(&e, false, false)); /* not a terminal */
    assert_false(term_color_decide(&e, true, true));   /* --no-color */

    e.no_color = "1";
    assert_false(term_color_decide(&e, true, false));
    e.no_color = ""; /* empty NO_COLOR does not count (no-color.org) */
    assert_true(term_color_decide(&e, true, false));
    e.no_color = NULL;

    e.term = "dumb";
    assert_false(term_color_decide(&e, true, false));
    e.force_color = "1"; /* forcing beats TERM=dumb and a pipe */
    assert_true(term_color_decide(&e, true, false));
    assert_true(term_color_decide(&e, false, false));
    e.no_color = "yes"; /* but an explicit opt-out beats forcing */
    assert_false(term_color_decide(&e, false, false));
    e.no_color = NULL;
    assert_false(term_color_decide(&e, false, true)); /* --no-color beats FORCE_COLOR */
    e.force_color = "0";
    assert_false(term_color_decide(&e, true, false));
    e.force_color = "false";
    e.term = "xterm-256color";
    assert_false(term_color_decide(&e, true, false));
    e.force_color = "";
    assert_true(term_color_decide(&e, true, false));

    e.clicolor_force = "1";
    assert_true(term_color_decide(&e, false, false));
    e.clicolor_force = "0";
    assert_false(term_color_decide(&e, false, false));
    e.clicolor_force = NULL;
    e.clicolor = "0";
    assert_false(term_color_decide(&e, true, false));
    e.clicolor = "1";
    assert_true(term_color_decide(&e, true, false));
}

static void test_live_and_utf8_decisions(void **state)
{
    (void)state;
    struct term_env e = {0};
    assert_false(term_live_decide(&e, true)); /* TERM unset */
    e.term = "dumb";
    assert_false(term_live_decide(&e, true));
    e.term = "xterm";
    assert_true(term_live_decide(&e, true));
    assert_false(term_live_decide(&e, false));
    e.force_color = "1"; /* forcing colour does not make a pipe a screen */
    assert_false(term_live_decide(&e, false));

    struct term_env l = {0};
    assert_false(term_utf8_decide(&l));
    l.lang = "en_US.UTF-8";
    assert_true(term_utf8_decide(&l));
    l.lc_all = "C"; /* LC_ALL wins */
    assert_false(term_utf8_decide(&l));
    l.lc_all = "";
    l.lc_ctype = "de_DE.utf8";
    l.lang = "C";
    assert_true(term_utf8_decide(&l));
    l.lc_ctype = "POSIX";
    l.lang = "C.UTF-8";
    assert_false(term_utf8_decide(&l));
}

static void test_size_decisions(void **state)
{
    (void)state;
    assert_int_equal(term_width_decide(132, "40", 80), 132);
    assert_int_equal(term_width_decide(0, "100", 80), 100);
    assert_int_equal(term_width_decide(0, "100x", 80), 80);
    assert_int_equal(term_width_decide(0, "0", 80), 80);
    assert_int_equal(term_width_decide(0, "-5", 80), 80);
    assert_int_equal(term_width_decide(0, "99999", 80), 80);
    assert_int_equal(term_width_decide(0, NULL, 80), 80);
    assert_int_equal(term_height_decide(0, "50", 24), 50);
    assert_int_equal(term_height_decide(-1, "", 24), 24);
}

/* A pseudo-terminal: isatty and TIOCGWINSZ as on a real one. */
static void test_pty_is_a_terminal(void **state)
{
    (void)state;
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    assert_true(s >= 0);
    struct winsize ws = {.ws_row = 33, .ws_col = 101};
    assert_int_equal(ioctl(s, TIOCSWINSZ, &ws), 0);
    assert_true(term_isatty(s));
    assert_int_equal(term_width(s), 101);
    assert_int_equal(term_height(s), 33);

    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_false(term_isatty(p[0]));
    assert_false(term_isatty(-1));
    setenv("COLUMNS", "77", 1);
    assert_int_equal(term_width(p[1]), 77); /* no ioctl answer: COLUMNS */
    unsetenv("COLUMNS");
    assert_int_equal(term_width(p[1]), 80);
    close(p[0]);
    close(p[1]);
    close(s);
    close(m);
}

static void test_env_load(void **state)
{
    (void)state;
    setenv("NO_COLOR", "1", 1);
    setenv("TERM", "dumb", 1);
    struct term_env e;
    term_env_load(&e);
    assert_string_equal(e.no_color, "1");
    assert_string_equal(e.term, "dumb");
    struct term_caps c;
    term_caps_detect(&c, false);
    assert_false(c.color);
    assert_false(c.err_color);
    unsetenv("NO_COLOR");
}

/* ---- widths ---- */

static void test_display_width(void **state)
{
    (void)state;
    struct {
        const char *s;
        size_t w;
    } cases[] = {
        {"", 0},
        {"abc", 3},
        {"\xe4\xb8\xad\xe6\x96\x87", 4},                 /* 中文 */
        {"\xef\xbd\x88", 2},                             /* fullwidth h */
        {"\xf0\x9f\x98\x80", 2},                         /* 😀 */
        {"e\xcc\x81", 1},                                /* e + combining acute */
        {"\xf0\x9f\x87\xba\xf0\x9f\x87\xb8", 2},         /* flag: two regional indicators */
        {"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7", 2}, /* ZWJ family */
        {"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", 2},         /* thumbs up + skin tone */
        {"a\xe2\x80\x8b" "b", 2},                        /* zero-width space */
        {"\xff", 1},                                     /* invalid byte: shown as U+FFFD */
        {"\xc3\xa9t\xc3\xa9", 3},                        /* été, precomposed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t w = term_display_width(cases[i].s, strlen(cases[i].s));
        if (w != cases[i].w)
            fail_msg("case %zu: width %zu, want %zu", i, w, cases[i].w);
    }
    size_t w;
    assert_int_equal(term_next_cluster("e\xcc\x81x", 4, &w), 3);
    assert_int_equal(w, 1);
    assert_int_equal(term_next_cluster("ab", 2, &w), 1);
    assert_int_equal(w, 1);
    const char styled[] = "\x1b[0;1mbold\x1b[0m \xe4\xb8\xad";
    assert_int_equal(term_styled_width(styled, sizeof styled - 1), 7);
}

static void test_sgr(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(256);
    term_sgr(&b, 0);
    term_sgr(&b, TERM_BOLD | TERM_FG(TERM_RED));
    term_sgr(&b, TERM_DIM | TERM_ITALIC | TERM_UNDERLINE | TERM_STRIKE | TERM_FG(TERM_GREY));
    assert_string_equal(buf_cstr(&b), "\x1b[0m\x1b[0;1;31m\x1b[0;2;3;4;9;90m");
    buf_free(&b);
}

/* ---- sanitising ---- */

static void test_sanitize_controls(void **state)
{
    (void)state;
    SAN_EQ("plain text\twith tab\nand newline", 0, "plain text\twith tab\nand newline");
    SAN_EQ("a\x1b[2Jb", 0, "a^[[2Jb");                    /* clear screen */
    SAN_EQ("\x1b]0;owned\x07rest", 0, "^[]0;owned^Grest"); /* OSC 0 title, BEL */
    SAN_EQ("\x1b]0;t\x1b\\x", 0, "^[]0;t^[\\x");            /* OSC ended by ST */
    SAN_EQ("\x1b[10;5H\x1b[3A\x1b[K", 0, "^[[10;5H^[[3A^[[K"); /* cursor moves, erase */
    SAN_EQ("\x1b[8mhidden\x1b[28m", 0, "^[[8mhidden^[[28m"); /* conceal */
    SAN_EQ("\x1b" "7\x1b" "8\x1b" "c", 0, "^[7^[8^[c");        /* save/restore, reset */
    SAN_EQ("safe\rEVIL", 0, "safe^MEVIL");                 /* CR would overwrite */
    SAN_EQ("dos\r\nline", 0, "dos\nline");                 /* CRLF is a newline */
    SAN_EQ("back\bspace del\x7f nul", 0, "back^Hspace del^? nul");
    SAN_EQ("\x00\x01\x1f", 0, "^@^A^_");
    /* C1 controls: 8-bit CSI as UTF-8, and as a raw byte (not UTF-8) */
    SAN_EQ("x\xc2\x9b" "2Jy", 0, "x<U+009B>2Jy");
    SAN_EQ("x\x9b" "2Jy", 0, "x\xef\xbf\xbd" "2Jy");
    SAN_EQ("\xc2\x85\xc2\x9d", 0, "<U+0085><U+009D>");
    /* bidi overrides and isolates, tag characters */
    SAN_EQ("abc\xe2\x80\xae" "fed", 0, "abc<U+202E>fed");
    SAN_EQ("\xe2\x81\xa6x\xe2\x81\xa9", 0, "<U+2066>x<U+2069>");
    SAN_EQ("hi\xf3\xa0\x80\x81\xf3\xa0\x81\x81", 0, "hi<U+E0001><U+E0041>");
    /* ordinary Unicode passes */
    SAN_EQ("\xe4\xb8\xad\xf0\x9f\x98\x80 e\xcc\x81 \xe2\x80\x8f", 0, "\xe4\xb8\xad\xf0\x9f\x98\x80 e\xcc\x81 \xe2\x80\x8f");
}

static void test_sanitize_invalid_utf8(void **state)
{
    (void)state;
    const char *r = "\xef\xbf\xbd";
    char want[64];
    snprintf(want, sizeof want, "a%s%sb", r, r);
    SAN_EQ("a\xe2\x82" "b", 0, want); /* cut short */
    snprintf(want, sizeof want, "%s%s", r, r);
    SAN_EQ("\xc0\xaf", 0, want); /* overlong '/' */
    snprintf(want, sizeof want, "%s%s%s", r, r, r);
    SAN_EQ("\xed\xa0\x80", 0, want); /* surrogate */
    SAN_EQ("\xf5\x80\x80\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    snprintf(want, sizeof want, "%s", r);
    SAN_EQ("\xe2", 0, want); /* truncated at the end */
}

static void test_sanitize_flags(void **state)
{
    (void)state;
    SAN_EQ("\x1b[1;31merror\x1b[0m: x", TERM_SAN_DROP_SGR, "error: x");
    SAN_EQ("\x1b[38;5;208morange\x1b[m", TERM_SAN_DROP_SGR, "orange");
    SAN_EQ("\x1b[38:2:1:2:3mrgb", TERM_SAN_DROP_SGR, "rgb");
    /* only colour goes; everything else is still shown */
    SAN_EQ("\x1b[2J\x1b[1A\x1b]0;t\x07", TERM_SAN_DROP_SGR, "^[[2J^[[1A^[]0;t^G");
    SAN_EQ("\x1b[", TERM_SAN_DROP_SGR, "^[[");
    SAN_EQ("\x1b[1;2", TERM_SAN_DROP_SGR, "^[[1;2");
    SAN_EQ("\x1b[111111111111111111111111111111111111m", TERM_SAN_DROP_SGR,
           "^[[111111111111111111111111111111111111m"); /* too long to be ours */
    SAN_EQ("a\nb\tc\r\nd", TERM_SAN_ONELINE, "a b c d");
}

/* The streaming sanitiser prints what the one-shot one prints, however the
 * text is cut. */
static void test_sanitize_in_pieces(void **state)
{
    (void)state;
    static const char *inputs[] = {
        "a\x1b[31mred\x1b[0m\r\n\xe4\xb8\xad\xf0\x9f\x98\x80\r",
        "\xc2\x9b\xe2\x80\xae\xf3\xa0\x80\x81\xe2\x82\xff\x1b[1;2;3",
        "\x1b[2J\x1b]0;x\x07\r\r\n\n\xed\xa0\x80\xf0\x9f",
        "\x1b",
        "\r",
    };
    for (unsigned flags = 0; flags < 4; flags++) {
        for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
            const char *in = inputs[i];
            size_t n = strlen(in);
            char *want = san(in, n, flags);
            for (size_t cut = 0; cut <= n; cut++) {
                for (size_t cut2 = cut; cut2 <= n; cut2++) {
                    struct buf b = BUF_INIT(4096);
                    struct term_san st;
                    term_san_init(&st, flags);
                    term_san_feed(&st, &b, in, cut);
                    term_san_feed(&st, &b, in + cut, cut2 - cut);
                    term_san_feed(&st, &b, in + cut2, n - cut2);
                    term_san_finish(&st, &b);
                    if (strcmp(buf_cstr(&b), want) != 0)
                        fail_msg("input %zu flags %u cut %zu/%zu: got \"%s\"", i, flags, cut, cut2, buf_cstr(&b));
                    buf_free(&b);
                }
            }
            /* byte by byte */
            struct buf b = BUF_INIT(4096);
            struct term_san st;
            term_san_init(&st, flags);
            for (size_t k = 0; k < n; k++)
                term_san_feed(&st, &b, in + k, 1);
            term_san_finish(&st, &b);
            assert_string_equal(buf_cstr(&b), want);
            buf_free(&b);
            free(want);
        }
    }
}

static void test_fit(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1024);
    term_fit(&b, "hello world", 11, 8, true);
    assert_string_equal(buf_cstr(&b), "hello w\xe2\x80\xa6");
    buf_reset(&b);
    term_fit(&b, "hello world", 11, 8, false);
    assert_string_equal(buf_cstr(&b), "hello...");
    buf_reset(&b);
    term_fit(&b, "hello world", 11, 11, true);
    assert_string_equal(buf_cstr(&b), "hello world");
    buf_reset(&b);
    /* 中文字符: four wide characters in five columns */
    term_fit(&b, "\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\xe7\xac\xa6", 12, 5, true);
    assert_string_equal(buf_cstr(&b), "\xe4\xb8\xad\xe6\x96\x87\xe2\x80\xa6");
    buf_reset(&b);
    term_fit(&b, "two\nlines\x1b[2J", 13, 40, true);
    assert_string_equal(buf_cstr(&b), "two lines^[[2J");
    buf_reset(&b);
    term_fit(&b, "abcdef", 6, 2, false); /* no room even for "..." */
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
}

static void test_resize_flag(void **state)
{
    (void)state;
    term_watch_resize();
    assert_false(term_take_resize());
    raise(SIGWINCH);
    assert_true(term_take_resize());
    assert_false(term_take_resize());
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_color_precedence),
        cmocka_unit_test(test_live_and_utf8_decisions),
        cmocka_unit_test(test_size_decisions),
        cmocka_unit_test(test_pty_is_a_terminal),
        cmocka_unit_test(test_env_load),
        cmocka_unit_test(test_display_width),
        cmocka_unit_test(test_sgr),
        cmocka_unit_test(test_sanitize_controls),
        cmocka_unit_test(test_sanitize_invalid_utf8),
        cmocka_unit_test(test_sanitize_flags),
        cmocka_unit_test(test_sanitize_in_pieces),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_resize_flag),
    };
    return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}
