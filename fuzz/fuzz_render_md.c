/* fuzz_render_md.c - the streaming Markdown renderer on arbitrary model output.
 *
 * Input: byte 0 picks the look (colour, unicode, width), byte 1 seeds the
 * piece sizes, the rest is the Markdown. It is rendered whole and again fed
 * in pieces; the two outputs must be byte-identical. Plain output must hold
 * no escape byte and no control character but "\n"; coloured output may only
 * hold brock's own SGR sequences. The live mode runs too (with a frozen clock)
 * and may only write SGR, cursor-up and erase-below.
 *
 * The same bytes also go through the other readers of untrusted text in
 * src/cli: the sanitiser (whole and in pieces, which must agree, leaving no
 * control but "\n" and "\t"), the unified-diff drawer and the tool line.
 *
 * The renderer lives in src/cli, which is not in libbrock.a; its source files
 * are compiled into this target so both the libFuzzer build and the corpus
 * replay link against the plain library. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/render.c"
#include "../src/cli/render_md.c"
#include "../src/cli/term.c"

#define FUZZ_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fz_write(void *ctx, const char *p, size_t n)
{
    return buf_add(ctx, p, n) == BROCK_OK;
}

static int64_t fz_now(void *ctx)
{
    (void)ctx;
    return 0;
}

static void die(const char *what, const struct buf *a, const struct buf *b)
{
    fprintf(stderr, "fuzz_render_md: %s\n", what);
    if (a)
        fprintf(stderr, "--- a (%zu bytes)\n%s\n", a->len, buf_cstr(a));
    if (b)
        fprintf(stderr, "--- b (%zu bytes)\n%s\n", b->len, buf_cstr(b));
    abort();
}

/* Every ESC must start "ESC [ 0 (; digits)* m"; live output may also use
 * "ESC [ n A" and "ESC [ J". No other control byte but '\n'; no C1 character. */
static void check_bytes(const struct buf *o, bool color, bool live, bool tabs)
{
    const unsigned char *s = (const unsigned char *)buf_cstr(o);
    size_t n = o->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == 0x1b) {
            if (!color && !live)
                die("escape byte in plain output", o, NULL);
            if (i + 2 >= n || s[i + 1] != '[')
                die("bad escape", o, NULL);
            size_t k = i + 2;
            while (k < n && ((s[k] >= '0' && s[k] <= '9') || s[k] == ';'))
                k++;
            if (k >= n || !((s[k] == 'm' && color) || (live && (s[k] == 'A' || s[k] == 'J'))))
                die("foreign escape sequence", o, NULL);
            i = k;
            continue;
        }
        if ((c < 0x20 && c != '\n' && !(tabs && c == '\t')) || c == 0x7f)
            die("control byte in output", o, NULL);
        if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            die("C1 control in output", o, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > FUZZ_MAX_INPUT)
        return 0;
    uint8_t cfg = data[0];
    uint32_t seed = data[1] * 2654435761u + 1;
    const char *md = (const char *)data + 2;
    size_t n = size - 2;

    struct render_opts o = {0};
    o.color = cfg & 1;
    o.unicode = cfg & 2;
    o.width = (cfg & 4) ? 0 : 10 + (cfg >> 3) % 80;
    o.height = 6;

    struct buf whole = BUF_INIT((size_t)1 << 28), parts = BUF_INIT((size_t)1 << 28);
    render_md_string(&whole, &o, md, n);

    o.write = fz_write;
    o.write_ctx = &parts;
    struct render_md *r = render_md_new(&o);
    size_t i = 0;
    while (i < n) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 23;
        if (k > n - i)
            k = n - i;
        if (render_md_feed(r, md + i, k, NULL) != BROCK_OK)
            die("feed failed", NULL, NULL);
        i += k;
    }
    if (render_md_finish(r, NULL) != BROCK_OK)
        die("finish failed", NULL, NULL);
    render_md_free(r);

    if (whole.len != parts.len || memcmp(buf_cstr(&whole), buf_cstr(&parts), whole.len) != 0)
        die("output depends on the pieces", &whole, &parts);
    check_bytes(&whole, o.color, false, false);

    /* live: only the allowed sequences, whatever the pieces */
    if (o.width > 0) {
        struct clock clk = {.now_ms = fz_now};
        struct buf live = BUF_INIT((size_t)1 << 28);
        o.live = true;
        o.clock = &clk;
        o.preview_ms = (cfg & 0x80) ? 50 : 0;
        o.write_ctx = &live;
        r = render_md_new(&o);
        for (i = 0; i < n;) {
            seed = seed * 1103515245u + 12345u;
            size_t k = 1 + (seed >> 16) % 41;
            if (k > n - i)
                k = n - i;
            (void)render_md_feed(r, md + i, k, NULL);
            i += k;
        }
        (void)render_md_finish(r, NULL);
        render_md_free(r);
        check_bytes(&live, o.color, true, false);
        buf_free(&live);
    }
    /* the sanitiser: in pieces as whole, nothing left that drives a terminal */
    unsigned flags = (cfg >> 3) & 3;
    buf_reset(&whole);
    buf_reset(&parts);
    term_sanitize(&whole, md, n, flags);
    struct term_san st;
    term_san_init(&st, flags);
    for (i = 0; i < n;) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 5;
        if (k > n - i)
            k = n - i;
        term_san_feed(&st, &parts, md + i, k);
        i += k;
    }
    term_san_finish(&st, &parts);
    if (whole.len != parts.len || memcmp(buf_cstr(&whole), buf_cstr(&parts), whole.len) != 0)
        die("sanitiser output depends on the pieces", &whole, &parts);
    check_bytes(&whole, false, false, !(flags & TERM_SAN_ONELINE));
    if ((flags & TERM_SAN_ONELINE) && memchr(buf_cstr(&whole), '\n', whole.len))
        die("newline in one-line output", &whole, NULL);

    /* a diff from outside, and a tool line with outside text */
    struct render_look look = {.color = o.color, .unicode = o.unicode, .width = o.width};
    buf_reset(&whole);
    render_diff(&whole, &look, md, n);
    check_bytes(&whole, o.color, false, !o.color);
    buf_reset(&whole);
    char *text = xmemdup(md, n);
    size_t half = strnlen(text, n) / 2;
    char *res = xstrdup(text + half);
    text[half] = '\0';
    render_tool_line(&whole, &look, (enum render_tool_state)(cfg % 3), text, text, res);
    check_bytes(&whole, o.color, false, false);
    if (memchr(buf_cstr(&whole), '\n', whole.len) != buf_cstr(&whole) + whole.len - 1)
        die("tool line is not one line", &whole, NULL);
    buf_reset(&whole);
    render_tool_line(&whole, &look, RENDER_TOOL_OK, "Tool", text, res);
    if (o.width >= 40 && term_styled_width(buf_cstr(&whole), whole.len - 1) > (size_t)o.width)
        die("tool line wider than the terminal", &whole, NULL);
    free(text);
    free(res);

    buf_free(&whole);
    buf_free(&parts);
    return 0;
}
