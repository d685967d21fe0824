/* Tests for src/cli/spinner.c: the frame text, and that the spinner draws on a
 * terminal (a pseudo-terminal here), clears its line when stopped, and
 * writes nothing at all anywhere else. */
#include "../support/test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../../src/cli/spinner.h"
#include "../../src/util/buf.h"

static char *frame(const char *label, const char *unit, int64_t ms, uint64_t count, unsigned f, bool uni,
                   bool color, size_t width)
{
    struct buf b = BUF_INIT(4096);
    spinner_format(&b, label, unit, ms, count, f, uni, color, width);
    return buf_take(&b);
}

#define FRAME_EQ(want, ...)                       \
    do {                                          \
        char *got_ = frame(__VA_ARGS__);          \
        assert_string_equal(got_, (want));        \
        free(got_);                               \
    } while (0)

static void test_format(void **state)
{
    (void)state;
    FRAME_EQ("\xe2\xa0\x8b Thinking\xe2\x80\xa6 3.2s \xc2\xb7 1.2k tokens", "Thinking", "tokens", 3200, 1234, 0,
             true, false, 0);
    FRAME_EQ("\xe2\xa0\x99 Thinking\xe2\x80\xa6 3.2s \xc2\xb7 1.2k tokens", "Thinking", "tokens", 3200, 1234, 1,
             true, false, 0);
    FRAME_EQ("/ Thinking... 3.2s - 1.2k tokens", "Thinking", "tokens", 3200, 1234, 1, false, false, 0);
    FRAME_EQ("| Running... 0.0s", "Running", NULL, 0, 7, 4, false, false, 0);
    FRAME_EQ("\x1b[0;35m\xe2\xa0\x8b\x1b[0m Thinking\xe2\x80\xa6\x1b[0;2m 3.2s \xc2\xb7 1.2k tokens\x1b[0m",
             "Thinking", "tokens", 3200, 1234, 10, true, true, 0);
    FRAME_EQ("- Bash... 1m 05s", "Bash", "", 65000, 0, 2, false, false, 0);
    FRAME_EQ("\\ Bash... 1h 02m", "Bash", NULL, 3725000, 0, 3, false, false, 0);
    /* cut to the width: the counter goes first */
    FRAME_EQ("\xe2\xa0\x8b Thinking\xe2\x80\xa6 3.2\xe2\x80\xa6", "Thinking", "tokens", 3200, 1234, 0, true, false,
             16);
    /* the label is untrusted (a tool name from the model) */
    FRAME_EQ("| Run^[[2J x...", "Run\x1b[2J\nx", NULL, 0, 0, 0, false, false, 15);
}

static void test_count(void **state)
{
    (void)state;
    struct {
        uint64_t n;
        const char *s;
    } cases[] = {{0, "0"},         {999, "999"},     {1000, "1.0k"},       {1234, "1.2k"},
                 {9999, "9.9k"},   {12345, "12k"},   {999999, "999k"},     {1000000, "1.0M"},
                 {1250000, "1.2M"}, {12345678, "12M"}, {UINT64_MAX, "18446744073709M"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        spinner_count_str(out, sizeof out, cases[i].n);
        assert_string_equal(out, cases[i].s);
    }
}

static int64_t fixed_now(void *ctx)
{
    return __atomic_load_n((int64_t *)ctx, __ATOMIC_SEQ_CST);
}

/* Everything readable on fd within `ms`. */
static char *drain(int fd, int ms)
{
    struct buf b = BUF_INIT(1 << 20);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, ms) > 0 && (p.revents & POLLIN)) {
        char tmp[4096];
        ssize_t k = read(fd, tmp, sizeof tmp);
        if (k <= 0)
            break;
        buf_add(&b, tmp, (size_t)k);
    }
    return buf_take(&b);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_silent_when_not_a_terminal(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct spinner *s = spinner_new(&(struct spinner_opts){.fd = p[1], .unicode = true, .interval_ms = 5});
    assert_false(spinner_enabled(s));
    spinner_start(s, "Thinking", "tokens");
    spinner_set_count(s, 10);
    sleep_ms(30);
    spinner_stop(s);
    spinner_free(s);
    close(p[1]);
    char *out = drain(p[0], 10);
    assert_string_equal(out, "");
    free(out);
    close(p[0]);
}

static void test_draws_on_a_terminal_and_clears(void **state)
{
    (void)state;
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
    assert_true(sl >= 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 60};
    assert_int_equal(ioctl(sl, TIOCSWINSZ, &ws), 0);
    setenv("TERM", "xterm", 1);

    int64_t now = 5000;
    struct clock clk = {.now_ms = fixed_now, .ctx = &now};
    struct spinner *s = spinner_new(&(struct spinner_opts){.fd = sl, .unicode = true, .interval_ms = 10, .clock = &clk});
    assert_true(spinner_enabled(s));
    spinner_start(s, "Thinking", "tokens");
    sleep_ms(30);
    spinner_set_count(s, 2500);
    sleep_ms(40);
    spinner_stop(s);
    char *out = drain(m, 50);
    /* the first frame, drawn at once, in place, erasing the rest of the line */
    const char *first = "\r\xe2\xa0\x8b Thinking\xe2\x80\xa6 0.0s \xc2\xb7 0 tokens\x1b[K";
    assert_memory_equal(out, first, strlen(first));
    /* the next braille frame, then the new count */
    assert_non_null(strstr(out, "\r\xe2\xa0\x99 Thinking\xe2\x80\xa6 0.0s \xc2\xb7 0 tokens\x1b[K"));
    assert_non_null(strstr(out, " Thinking\xe2\x80\xa6 0.0s \xc2\xb7 2.5k tokens\x1b[K"));
    /* and stopping clears the line */
    size_t n = strlen(out);
    assert_true(n >= 4);
    assert_string_equal(out + n - 4, "\r\x1b[K");
    free(out);
    /* nothing after stop returned */
    sleep_ms(40);
    out = drain(m, 20);
    assert_string_equal(out, "");
    free(out);

    /* the elapsed time comes from the clock; a narrow terminal cuts the line */
    ws.ws_col = 12;
    assert_int_equal(ioctl(sl, TIOCSWINSZ, &ws), 0);
    spinner_start(s, "Thinking", "tokens");
    __atomic_store_n(&now, now + 2500, __ATOMIC_SEQ_CST);
    sleep_ms(40);
    spinner_free(s); /* stops first */
    out = drain(m, 50);
    assert_non_null(strstr(out, "\r\xe2\xa0\x8b Thinking\xe2\x80\xa6\x1b[K")); /* 11 columns of 12 */
    assert_string_equal(out + strlen(out) - 4, "\r\x1b[K");
    free(out);
    close(sl);
    close(m);
}

static void test_dumb_terminal_is_silent(void **state)
{
    (void)state;
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
    setenv("TERM", "dumb", 1);
    struct spinner *s = spinner_new(&(struct spinner_opts){.fd = sl, .interval_ms = 5});
    assert_false(spinner_enabled(s));
    spinner_start(s, "x", NULL);
    sleep_ms(20);
    spinner_free(s);
    char *out = drain(m, 20);
    assert_string_equal(out, "");
    free(out);
    close(sl);
    close(m);
    setenv("TERM", "xterm", 1);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_silent_when_not_a_terminal),
        cmocka_unit_test(test_draws_on_a_terminal_and_clears),
        cmocka_unit_test(test_dumb_terminal_is_silent),
    };
    return cmocka_run_group_tests_name("spinner", tests, NULL, NULL);
}
