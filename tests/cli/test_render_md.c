/* Tests for src/cli/render_md.c, the streaming Markdown renderer.
 *
 * Golden tests: every expected output below is written by hand from the
 * rules in render_md.h. Stream tests: the same document fed whole, a byte at
 * a time and in random pieces prints the same bytes. Live tests: the live
 * output is replayed through a small terminal emulator (written here, from
 * the VT100 behaviour of LF, CUU, ED and autowrap) and must leave the same
 * screen as the plain stream, without ever moving above the screen. */
#include "../support/test.h"

#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/cli/render_md.h"
#include "../../src/cli/term.h"
#include "../../src/util/alloc.h"

/* SGR sequences as term_sgr writes them. */
#define R "\x1b[0m"
#define BOLD "\x1b[0;1m"
#define ITAL "\x1b[0;3m"
#define STRK "\x1b[0;9m"
#define CODE "\x1b[0;36m"
#define DIM "\x1b[0;2m"
#define LINK "\x1b[0;4;34m"
#define H1 "\x1b[0;1;4;35m"
#define H2 "\x1b[0;1;4m"
#define GREEN "\x1b[0;32m"
#define BAR DIM "\xe2\x94\x82" R /* │ */

enum { PLAIN = 0, COLOR = 1, ASCII = 2 };

static struct render_opts opts_for(int mode, int width)
{
    struct render_opts o = {0};
    o.color = mode != PLAIN;
    o.unicode = mode == COLOR;
    o.width = width;
    return o;
}

static char *render(const char *src, int mode, int width)
{
    struct buf b = BUF_INIT(1 << 26);
    struct render_opts o = opts_for(mode, width);
    render_md_string(&b, &o, src, strlen(src));
    return buf_take(&b);
}

/* Show control bytes when a golden test fails. */
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

static void check(const char *src, int mode, int width, const char *want, const char *where)
{
    char *got = render(src, mode, width);
    bool same = strcmp(got, want) == 0;
    if (!same) {
        show("got ", got);
        show("want", want);
    }
    free(got);
    if (!same)
        fail_msg("%s", where);
}

#define STR2(x) #x
#define STR(x) STR2(x)
#define GOLD(src, mode, width, want) check((src), (mode), (width), (want), __FILE__ ":" STR(__LINE__))

/* ---- golden output, construct by construct ---- */

static void test_paragraph_wrap(void **state)
{
    (void)state;
    const char *p = "The quick brown fox jumps over the lazy dog and keeps running far away.\n";
    GOLD(p, PLAIN, 20, "The quick brown fox\njumps over the lazy\ndog and keeps\nrunning far away.\n");
    GOLD(p, PLAIN, 0, "The quick brown fox jumps over the lazy dog and keeps running far away.\n");
    /* soft breaks are spaces; runs of spaces collapse */
    GOLD("one\ntwo   three\n", PLAIN, 40, "one two three\n");
    /* a word longer than the line is cut */
    /* (never fewer than 10 columns for text, however narrow) */
    GOLD("abcdefghijkl xy\n", PLAIN, 5, "abcdefghij\nkl xy\n");
    /* two paragraphs, one blank line between */
    GOLD("a\n\n\n\nb\n", PLAIN, 40, "a\n\nb\n");
}

static void test_inline_styles(void **state)
{
    (void)state;
    const char *p = "a *b* **c** `d` ~~e~~\n";
    GOLD(p, PLAIN, 40, "a b c `d` ~~e~~\n");
    GOLD(p, COLOR, 40, "a " ITAL "b " BOLD "c " CODE "d " STRK "e" R "\n");
    /* a space takes the style before it unless that would show (underline, strike) */
    GOLD("***both*** x\n", COLOR, 40, "\x1b[0;1;3mboth " R "x\n");
    GOLD("[a](u) b\n", COLOR, 40, LINK "a" R " (" DIM "u" R ") b\n");
    /* inline code keeps its spaces' colour only where it shows */
    GOLD("`a b` c\n", COLOR, 40, CODE "a b " R "c\n");
}

static void test_headings(void **state)
{
    (void)state;
    const char *p = "# Title\n\n## Sub part\n\n### Third\n";
    GOLD(p, PLAIN, 40, "Title\n=====\n\nSub part\n--------\n\n### Third\n");
    GOLD(p, COLOR, 40, H1 "Title" R "\n\n" H2 "Sub part" R "\n\n" BOLD "Third" R "\n");
    /* setext headings, and a heading wrapped: the underline is as wide as its widest line */
    GOLD("Title\n=====\ntext\n", PLAIN, 40, "Title\n=====\n\ntext\n");
    GOLD("# aaaa bbbbbb cc\n", PLAIN, 12, "aaaa bbbbbb\ncc\n===========\n");
    GOLD("###### six\n", PLAIN, 40, "###### six\n");
}

static void test_lists(void **state)
{
    (void)state;
    const char *p = "- a\n- b\n  - c\n    - d\n- e\n";
    GOLD(p, PLAIN, 40, "- a\n- b\n  - c\n    - d\n- e\n");
    GOLD(p, COLOR, 40,
         "\xe2\x80\xa2 a\n\xe2\x80\xa2 b\n  \xe2\x97\xa6 c\n    \xe2\x96\xaa d\n\xe2\x80\xa2 e\n");
    GOLD(p, ASCII, 40, "* a\n* b\n  - c\n    + d\n* e\n");
    /* numbering follows the list, not the digits written */
    GOLD("1. one\n2. two\n10. ten\n", PLAIN, 40, "1. one\n2. two\n3. ten\n");
    GOLD("1. one\n1. two\n1. three\n", PLAIN, 40, "1. one\n2. two\n3. three\n");
    GOLD("3) x\n4) y\n", PLAIN, 40, "3) x\n4) y\n");
    /* a list after a paragraph starts where it says */
    GOLD("1. a\n\npara\n\n2. b\n", PLAIN, 40, "1. a\n\npara\n\n2. b\n");
    /* blank lines between items are kept */
    GOLD("- a\n\n- b\n- c\n", PLAIN, 40, "- a\n\n- b\n- c\n");
    GOLD("- a\n\n  second para\n- c\n", PLAIN, 40, "- a\n\n  second para\n- c\n");
    /* wrapped items hang under their text */
    GOLD("- alpha beta gamma\n1. delta epsilon\n", PLAIN, 12, "- alpha beta\n  gamma\n\n1. delta\n   epsilon\n");
    /* ordered inside bullets, bullets inside ordered */
    GOLD("1. a\n   - b\n2. c\n", COLOR, 40, "1. a\n   \xe2\x97\xa6 b\n2. c\n");
    /* an empty item keeps its marker */
    GOLD("-\n- b\n", PLAIN, 40, "-\n- b\n");
    /* a lazy continuation line belongs to the item */
    GOLD("- a\nb\n- c\n", PLAIN, 40, "- a b\n- c\n");
    /* "2." cannot interrupt a paragraph: it is text */
    GOLD("para\n2. not a list\n", PLAIN, 40, "para 2. not a list\n");
}

static void test_task_lists(void **state)
{
    (void)state;
    const char *p = "- [x] done\n- [ ] todo\n";
    GOLD(p, PLAIN, 40, "- [x] done\n- [ ] todo\n");
    GOLD(p, COLOR, 40, GREEN "\xe2\x98\x91 " R "done\n\xe2\x98\x90 todo\n");
    GOLD(p, ASCII, 40, GREEN "[x] " R "done\n[ ] todo\n");
}

static void test_code_blocks(void **state)
{
    (void)state;
    const char *p = "```c\nint x;\n\tfoo();\n\nend\n```\n";
    GOLD(p, PLAIN, 40, "```c\nint x;\n    foo();\n\nend\n```\n");
    GOLD(p, COLOR, 40,
         DIM "\xe2\x95\xad\xe2\x94\x80 c" R "\n" BAR " int x;\n" BAR "     foo();\n" BAR "\n" BAR " end\n");
    GOLD(p, ASCII, 40, DIM "+- c" R "\n" DIM "|" R " int x;\n" DIM "|" R "     foo();\n" DIM "|" R "\n" DIM "|" R " end\n");
    /* verbatim: never wrapped, markup not interpreted */
    GOLD("~~~\nthis line is longer than ten **columns**\n~~~\n", PLAIN, 10,
         "```\nthis line is longer than ten **columns**\n```\n");
    /* a fence left open ends with the document */
    GOLD("```\nx", PLAIN, 40, "```\nx\n```\n");
    /* fence indentation is removed from its lines */
    GOLD("  ```\n  a\n    b\n c\n  ```\n", PLAIN, 40, "```\na\n  b\nc\n```\n");
    /* a longer closing fence closes, a shorter one does not */
    GOLD("````\n```\nx\n`````\ny\n", PLAIN, 40, "```\n```\nx\n```\n\ny\n");
    /* indented code */
    GOLD("para\n\n    x = 1\n\n    y = 2\n", PLAIN, 40, "para\n\n```\nx = 1\n\ny = 2\n```\n");
    GOLD("    x = 1\n", COLOR, 40, BAR " x = 1\n");
    /* tab stops of 4 count display columns */
    GOLD("```\n\xe4\xb8\xad\tx\n```\n", PLAIN, 40, "```\n\xe4\xb8\xad  x\n```\n");
    /* inside a list item */
    GOLD("1. step\n\n   ```sh\n   ls\n   ```\n2. next\n", PLAIN, 40, "1. step\n\n   ```sh\n   ls\n   ```\n2. next\n");
    GOLD("1. step\n\n   ```sh\n   ls\n   ```\n", COLOR, 40,
         "1. step\n\n   " DIM "\xe2\x95\xad\xe2\x94\x80 sh" R "\n   " BAR " ls\n");
    /* a fence at column 0 after an item ends the list */
    GOLD("1. step\n```\nls\n```\n2. next\n", PLAIN, 40, "1. step\n\n```\nls\n```\n\n2. next\n");
}

static void test_quotes(void **state)
{
    (void)state;
    GOLD("> quoted *text*\n> more\n", PLAIN, 40, "> quoted text more\n");
    GOLD("> quoted *text*\n> more\n", COLOR, 40, BAR " quoted " ITAL "text " R "more\n");
    GOLD("> a\n>\n> b\n", PLAIN, 40, "> a\n>\n> b\n");
    GOLD("> a\n>\n> b\n", COLOR, 40, BAR " a\n" BAR "\n" BAR " b\n");
    GOLD("> outer\n>> inner\n", PLAIN, 40, "> outer\n>\n> > inner\n");
    GOLD("> one two three four\n", PLAIN, 10, "> one two\n> three four\n");
    GOLD("> - a\n> - b\n", PLAIN, 40, "> - a\n> - b\n");
    /* lazy continuation, then a quote ended by a blank line */
    GOLD("> a\nb\n\nc\n", PLAIN, 40, "> a b\n\nc\n");
}

static void test_links_and_images(void **state)
{
    (void)state;
    const char *p = "see [docs](https://x.io) and <https://y.io>\n";
    GOLD(p, PLAIN, 60, "see docs (https://x.io) and https://y.io\n");
    GOLD(p, COLOR, 60, "see " LINK "docs" R " (" DIM "https://x.io" R ") and " LINK "https://y.io" R "\n");
    GOLD("visit www.example.org now\n", PLAIN, 60, "visit www.example.org now\n");
    GOLD("visit www.example.org now\n", COLOR, 60, "visit " LINK "www.example.org" R " now\n");
    GOLD("![a cat](cat.png)\n", PLAIN, 60, "[image: a cat] (cat.png)\n");
    GOLD("[x](http://a.b/&amp;c)\n", PLAIN, 60, "x (http://a.b/&c)\n");
    /* a hostile URL cannot carry escapes either */
    GOLD("[x](http://a/%1b \"t\") [y](<http://b/\x1b[2J>)\n", PLAIN, 60, "x (http://a/%1b) y (http://b/^[[2J)\n");
}

static void test_tables(void **state)
{
    (void)state;
    const char *p = "| a | bb |\n|---|---:|\n| xyz | 1 |\n";
    GOLD(p, PLAIN, 40, "a   | bb\n----+---\nxyz |  1\n");
    GOLD("| a | b |\n|---|---|\n| c | d |\n", COLOR, 40,
         BOLD "a" R " " BAR " " BOLD "b" R "\n" DIM "\xe2\x94\x80\xe2\x94\x80\xe2\x94\xbc\xe2\x94\x80\xe2\x94\x80" R
              "\nc " BAR " d\n");
    /* too wide: the widest column gives way and its cells wrap */
    GOLD("| k | v |\n|---|---|\n| key | a long value here |\n", PLAIN, 20,
         "k   | v\n----+---------------\nkey | a long value\n    | here\n");
    /* centred, inline markup in cells, CJK widths */
    GOLD("| x | y |\n|:-:|---|\n| \xe4\xb8\xad | `c` |\n| long | z |\n", PLAIN, 40,
         " x   | y\n-----+----\n \xe4\xb8\xad  | `c`\nlong | z\n");
}

static void test_rules_entities_breaks(void **state)
{
    (void)state;
    GOLD("a\n\n---\n\nb\n", PLAIN, 10, "a\n\n---\n\nb\n");
    GOLD("a\n\n***\n", COLOR, 10,
         "a\n\n" DIM "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
         "\xe2\x94\x80\xe2\x94\x80" R "\n");
    GOLD("a &amp; b &copy; &#x41; &#65; &bogus; &#0; &#xD800;\n", PLAIN, 60,
         "a & b \xc2\xa9 A A &bogus; \xef\xbf\xbd \xef\xbf\xbd\n");
    GOLD("a  \nb\\\nc\n", PLAIN, 40, "a\nb\nc\n");
    GOLD("<b>hi</b> <script>x</script>\n", PLAIN, 40, "<b>hi</b> <script>x</script>\n");
    GOLD("a\\*b\\* \\# c\n", PLAIN, 40, "a*b* # c\n");
}

static void test_block_separation(void **state)
{
    (void)state;
    GOLD("para\n# Head\n- item\n> q\n```\ncode\n```\nafter\n", PLAIN, 40,
         "para\n\nHead\n====\n\n- item\n\n> q\n\n```\ncode\n```\n\nafter\n");
    GOLD("# A\ntext\n***\n", PLAIN, 40, "A\n=\n\ntext\n\n---\n");
}

static void test_wrap_by_display_width(void **state)
{
    (void)state;
    /* 中文 is 2 columns a character */
    GOLD("\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87 abc\n", PLAIN, 10,
         "\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\n\xe6\x96\x87 abc\n");
    /* emoji too */
    GOLD("\xf0\x9f\x98\x80\xf0\x9f\x98\x80 \xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80 x\n", PLAIN, 8,
         "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\n\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80 x\n");
    /* combining marks take no column */
    GOLD("e\xcc\x81" "e\xcc\x81" "e\xcc\x81 abc\n", PLAIN, 7, "e\xcc\x81" "e\xcc\x81" "e\xcc\x81 abc\n");
    /* a 4-column terminal still gets 10 columns of text; wide characters stay whole */
    GOLD("\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\n", PLAIN, 4,
         "\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\n\xe6\x96\x87\n");
}

static void test_control_sequences_neutralised(void **state)
{
    (void)state;
    GOLD("clear\x1b[2J now\n", PLAIN, 60, "clear^[[2J now\n");
    GOLD("title \x1b]0;pwned\x07 done\n", PLAIN, 60, "title ^[]0;pwned^G done\n");
    GOLD("up\x1b[3A\x1b[10;1H\x1b[K\n", PLAIN, 60, "up^[[3A^[[10;1H^[[K\n");
    GOLD("c1 \xc2\x9b" "2J \xc2\x9d" "0;t\n", PLAIN, 60, "c1 <U+009B>2J <U+009D>0;t\n");
    GOLD("bs ab\b\bcd bel\x07\n", PLAIN, 60, "bs ab^H^Hcd bel^G\n");
    GOLD("r over\rwrite\n", PLAIN, 60, "r over write\n"); /* CR is a line ending, never an overwrite */
    GOLD("rtl \xe2\x80\xae" "abc\n", PLAIN, 60, "rtl <U+202E>abc\n");
    GOLD("ent &#27;[2J &#x9b;\n", PLAIN, 60, "ent ^[[2J <U+009B>\n");
    GOLD("```\x1b[31m\n\x1b[2J\x07\n```\n", PLAIN, 60, "```^[[31m\n^[[2J^G\n```\n");
    GOLD("| \x1b[2J |\n|---|\n", PLAIN, 60, "^[[2J\n");
    /* with colour, the only escapes are brock's own SGR */
    GOLD("*x*\x1b[2J\n", COLOR, 60, ITAL "x" R "^[[2J\n");
    GOLD("bad \xff\xfe utf8\n", PLAIN, 60, "bad \xef\xbf\xbd\xef\xbf\xbd utf8\n");
}

static void test_deep_nesting_is_capped(void **state)
{
    (void)state;
    char src[512], want[512];
    size_t k = 0;
    for (int i = 0; i < 100; i++)
        src[k++] = '>';
    memcpy(src + k, " x\n", 4);
    k = 0;
    for (int i = 0; i < RENDER_MD_MAX_DEPTH; i++) {
        want[k++] = '>';
        want[k++] = ' ';
    }
    memcpy(want + k, "x\n", 3);
    GOLD(src, PLAIN, 0, want);
    /* lists nested deeper than the cap, with a narrow width: no crash, text kept */
    struct buf b = BUF_INIT(1 << 20);
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < i * 2; j++)
            buf_addc(&b, ' ');
        buf_addf(&b, "- item %d\n", i);
    }
    char *out = render(buf_cstr(&b), COLOR, 20);
    assert_non_null(strstr(out, "item 39"));
    free(out);
    buf_free(&b);
}

/* ---- streaming: the output does not depend on the pieces ---- */

static const char *const corpus[] = {
    "# Streaming renderer\n\nHere is **bold**, *italic*, `inline code`, ~~gone~~ and a [link](https://example.com) "
    "plus www.example.org autolink. A long paragraph with \xe4\xb8\xad\xe6\x96\x87 and \xf0\x9f\x98\x80 in it, "
    "long enough to wrap.\n\n## Steps\n\n1. Install:\n\n   ```bash\n   sudo apt-get install -y md4c\n   ```\n\n"
    "2. Build it\n   - nested *item*\n   - another\n3. Done\n\n- [x] finished\n- [ ] open\n\n> A quote with "
    "**bold**\n> spanning lines.\n\n```python\ndef f(x):\n\treturn x * 2\n```\n\n| Name | Value | Notes |\n"
    "|:-----|------:|:-----:|\n| foo | 1 | a fairly long note that will need wrapping |\n| `bar` | 22 | short |\n\n"
    "---\n\n### Third &amp; last\nFinal line with hard  \nbreak.\n",
    "Para one\r\nstill one\r\n\r\n* a\r\n* b\r\n\r\n```\r\ncode\r\n```\r\n",
    "1. a\n1. b\n\n   cont\n10. c\n- x\n+ y\n\ntext\n2. not\n\n    indented\n    code\n\nafter",
    "> q1\nlazy\n> q2\n\n> - li\n>   more\n\n```unclosed\nline\n  ",
    "| a | b |\n|---|---|\n| 1 | 2 |\nnot a row?\n\nTitle\n---\n- item\n  ```\n  nested fence\n- sib\n  ```\n",
    "\xe2\x80\xae\x1b[2Jx\xc2\x9b\r\ry\rz\x07 &#27; \xf0\x9f\x87\xba\xf0\x9f\x87\xb8 e\xcc\x81\n- \xe4\xb8\xad\n",
    "* * *\n- - -\n***bold** em*\n***\n__x__ _y_\n\n#no\n#\n# \n####### seven\n",
    "- a\n\n  b\n\n- c\n  - d\n\n    e\n\n  f\n- g\n\n\n\n",
    "```\n```\n~~~~\n~~~\n~~~~~\nx\n",
    "1) one\n2) two\n3. three\n\n2. start\n- [x] t\n- [ ]\n-\n\n[ref]: http://x\n[ref]\n",
    "",
    "\n\n\n",
    "no newline at end",
};

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static bool write_buf(void *ctx, const char *p, size_t n)
{
    return buf_add(ctx, p, n) == BROCK_OK;
}

/* Feed src in pieces: size 0 = random 1..max, else fixed. */
static char *feed(const char *src, size_t n, struct render_opts o, size_t piece, size_t max)
{
    struct buf b = BUF_INIT(1 << 26);
    o.write = write_buf;
    o.write_ctx = &b;
    struct render_md *r = render_md_new(&o);
    size_t i = 0;
    while (i < n) {
        size_t k = piece ? piece : 1 + next_rand() % max;
        if (k > n - i)
            k = n - i;
        assert_int_equal(render_md_feed(r, src + i, k, NULL), BROCK_OK);
        i += k;
    }
    assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
    render_md_free(r);
    return buf_take(&b);
}

static void test_pieces_give_the_same_output(void **state)
{
    (void)state;
    int modes[] = {PLAIN, COLOR, ASCII};
    int widths[] = {0, 17, 80};
    for (size_t d = 0; d < sizeof corpus / sizeof corpus[0]; d++) {
        const char *src = corpus[d];
        size_t n = strlen(src);
        for (size_t m = 0; m < 3; m++) {
            for (size_t w = 0; w < 3; w++) {
                struct render_opts o = opts_for(modes[m], widths[w]);
                struct buf whole = BUF_INIT(1 << 26);
                render_md_string(&whole, &o, src, n);
                char *bytes = feed(src, n, o, 1, 0);
                if (strcmp(bytes, buf_cstr(&whole)) != 0) {
                    show("whole", buf_cstr(&whole));
                    show("bytes", bytes);
                    fail_msg("doc %zu mode %d width %d: byte-by-byte differs", d, modes[m], widths[w]);
                }
                free(bytes);
                for (int trial = 0; trial < 8; trial++) {
                    char *pieces = feed(src, n, o, 0, trial < 4 ? 5 : 40);
                    if (strcmp(pieces, buf_cstr(&whole)) != 0)
                        fail_msg("doc %zu mode %d width %d trial %d: pieces differ", d, modes[m], widths[w], trial);
                    free(pieces);
                }
                if (modes[m] == PLAIN && memchr(whole.ptr ? whole.ptr : "", 0x1b, whole.len))
                    fail_msg("doc %zu: an escape byte in plain output", d);
                buf_free(&whole);
            }
        }
    }
}

static void test_utf8_split_across_pieces(void **state)
{
    (void)state;
    /* every cut inside "中😀é" (and a ** marker) gives the same bytes */
    const char *src = "**\xe4\xb8\xad\xf0\x9f\x98\x80" "e\xcc\x81**\n";
    size_t n = strlen(src);
    char *want = render(src, COLOR, 40);
    assert_string_equal(want, BOLD "\xe4\xb8\xad\xf0\x9f\x98\x80" "e\xcc\x81" R "\n");
    for (size_t cut = 1; cut < n; cut++) {
        struct buf b = BUF_INIT(4096);
        struct render_opts o = opts_for(COLOR, 40);
        o.write = write_buf;
        o.write_ctx = &b;
        struct render_md *r = render_md_new(&o);
        assert_int_equal(render_md_feed(r, src, cut, NULL), BROCK_OK);
        assert_int_equal(render_md_feed(r, src + cut, n - cut, NULL), BROCK_OK);
        assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
        render_md_free(r);
        assert_string_equal(buf_cstr(&b), want);
        buf_free(&b);
    }
    free(want);
}

static void test_renderer_is_reusable(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(4096);
    struct render_opts o = opts_for(PLAIN, 40);
    o.write = write_buf;
    o.write_ctx = &b;
    struct render_md *r = render_md_new(&o);
    assert_int_equal(render_md_feed(r, "1. a\n2. b", 9, NULL), BROCK_OK);
    assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
    assert_int_equal(render_md_feed(r, "3. c\n", 5, NULL), BROCK_OK);
    assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
    render_md_free(r);
    /* the second document starts afresh: no blank line, its own numbering */
    assert_string_equal(buf_cstr(&b), "1. a\n2. b\n3. c\n");
    buf_free(&b);
}

static void test_output_flows_before_the_end(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(4096);
    struct render_opts o = opts_for(PLAIN, 40);
    o.write = write_buf;
    o.write_ctx = &b;
    struct render_md *r = render_md_new(&o);
    const char *steps[][2] = {
        {"# Hea", ""},
        {"d\n", "Head\n====\n"},                    /* a heading at its line end */
        {"Some *te", "Head\n====\n"},               /* prose waits for its block */
        {"xt*\n\n", "Head\n====\n\nSome text\n"},
        {"```sh\nls -l\n", "Head\n====\n\nSome text\n\n```sh\nls -l\n"}, /* code line by line */
        {"pwd", "Head\n====\n\nSome text\n\n```sh\nls -l\n"},
        {"\n", "Head\n====\n\nSome text\n\n```sh\nls -l\npwd\n"},
        {"```\n- one\n", "Head\n====\n\nSome text\n\n```sh\nls -l\npwd\n```\n"},
        {"- two\n", "Head\n====\n\nSome text\n\n```sh\nls -l\npwd\n```\n\n- one\n"}, /* item by item */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        assert_int_equal(render_md_feed(r, steps[i][0], strlen(steps[i][0]), NULL), BROCK_OK);
        if (strcmp(buf_cstr(&b), steps[i][1]) != 0) {
            show("got ", buf_cstr(&b));
            fail_msg("step %zu", i);
        }
    }
    assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "Head\n====\n\nSome text\n\n```sh\nls -l\npwd\n```\n\n- one\n- two\n");
    render_md_free(r);
    buf_free(&b);
}

static void test_caps_cut_deterministically(void **state)
{
    (void)state;
    /* a line past RENDER_MD_MAX_LINE with a multi-byte character across the cut */
    size_t n = RENDER_MD_MAX_LINE + 5000;
    char *src = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        src[i] = (char)('a' + i % 7);
    memcpy(src + RENDER_MD_MAX_LINE - 1, "\xe4\xb8\xad", 3);
    src[n] = '\0';
    struct render_opts o = opts_for(PLAIN, 0);
    struct buf whole = BUF_INIT(1 << 26);
    render_md_string(&whole, &o, src, n);
    for (int t = 0; t < 3; t++) {
        char *p = feed(src, n, o, t == 0 ? 1 : 0, t == 1 ? 7 : 4096);
        assert_string_equal(p, buf_cstr(&whole));
        free(p);
    }
    /* every byte is still there, the character whole; the cut is a soft break */
    assert_int_equal(whole.len, n + 2);
    assert_memory_equal(whole.ptr + RENDER_MD_MAX_LINE - 1, " \xe4\xb8\xad", 4);
    assert_non_null(strstr(whole.ptr, "\xe4\xb8\xad"));
    buf_free(&whole);
    free(src);

    /* a block past RENDER_MD_MAX_BLOCK is drawn in parts, the same for any pieces */
    struct buf big = BUF_INIT(1 << 26);
    while (big.len < RENDER_MD_MAX_BLOCK + 100000)
        buf_addstr(&big, "word *w* word\n");
    struct buf w2 = BUF_INIT(1 << 26);
    render_md_string(&w2, &o, big.ptr, big.len);
    char *p = feed(big.ptr, big.len, o, 0, 3000);
    assert_string_equal(p, buf_cstr(&w2));
    free(p);
    buf_free(&w2);
    buf_free(&big);
}

static bool write_fails(void *ctx, const char *p, size_t n)
{
    (void)p;
    (void)n;
    (*(int *)ctx)++;
    return false;
}

static void test_write_error_is_reported(void **state)
{
    (void)state;
    int calls = 0;
    struct render_opts o = opts_for(PLAIN, 40);
    o.write = write_fails;
    o.write_ctx = &calls;
    struct render_md *r = render_md_new(&o);
    struct brock_err e = {0};
    assert_int_equal(render_md_feed(r, "no output yet", 13, &e), BROCK_OK);
    assert_int_equal(render_md_feed(r, "\n\nnext", 6, &e), BROCK_ERR_IO);
    assert_string_equal(e.msg, "writing the answer failed (the output refused 14 bytes)");
    err_clear(&e);
    assert_int_equal(render_md_feed(r, "more\n\n", 6, &e), BROCK_ERR_IO);
    assert_string_equal(e.msg, "writing the answer failed (the output refused 14 bytes)");
    assert_int_equal(render_md_finish(r, &e), BROCK_ERR_IO);
    assert_int_equal(calls, 1); /* stopped writing after the failure */
    render_md_free(r);

    /* the default writer: stdout into a pipe nobody reads (EPIPE) */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), p[2];
    assert_true(saved >= 0);
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    o.write = NULL;
    r = render_md_new(&o);
    err_clear(&e);
    enum brock_status st = render_md_feed(r, "para\n\n", 6, &e);
    __fpurge(stdout);
    clearerr(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(p[1]);
    signal(SIGPIPE, old);
    render_md_free(r);
    assert_int_equal(st, BROCK_ERR_IO);
    assert_string_equal(e.msg, "writing the answer to stdout failed: Broken pipe");
}

/* ---- live mode, checked on an emulated terminal ---- */

struct screen {
    char *rows[4096];
    size_t nrows;
    size_t row, col; /* cursor */
    size_t width, height;
    bool pending;    /* autowrap pending (cursor past the last column) */
    bool broken;     /* the output did something a tail may not do */
    char why[128];
};

static void scr_init(struct screen *s, size_t w, size_t h)
{
    memset(s, 0, sizeof *s);
    s->width = w;
    s->height = h;
    s->rows[0] = calloc(1, 1);
    s->nrows = 1;
}

static void scr_free(struct screen *s)
{
    for (size_t i = 0; i < s->nrows; i++)
        free(s->rows[i]);
}

static void scr_bad(struct screen *s, const char *why)
{
    if (!s->broken)
        snprintf(s->why, sizeof s->why, "%s (row %zu col %zu)", why, s->row, s->col);
    s->broken = true;
}

static void scr_down(struct screen *s)
{
    s->row++;
    if (s->row == s->nrows && s->nrows < 4096)
        s->rows[s->nrows++] = calloc(1, 1);
    if (s->row >= s->nrows) {
        s->row = s->nrows - 1;
        scr_bad(s, "too many rows");
    }
    s->col = 0;
    s->pending = false;
}

static void scr_append(struct screen *s, const char *p, size_t n)
{
    char *r = s->rows[s->row];
    size_t l = strlen(r);
    r = xrealloc(r, l + n + 1);
    memcpy(r + l, p, n);
    r[l + n] = '\0';
    s->rows[s->row] = r;
}

static void scr_feed(struct screen *s, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') {
            scr_down(s);
            i++;
        } else if (c == 0x1b) {
            if (i + 1 >= n || p[i + 1] != '[') {
                scr_bad(s, "ESC not followed by [");
                return;
            }
            size_t k = i + 2, num = 0;
            bool has = false;
            while (k < n && ((p[k] >= '0' && p[k] <= '9') || p[k] == ';')) {
                if (p[k] != ';') {
                    num = num * 10 + (size_t)(p[k] - '0');
                    has = true;
                }
                k++;
            }
            if (k >= n) {
                scr_bad(s, "sequence cut");
                return;
            }
            char fin = p[k];
            if (fin == 'm') {
                scr_append(s, p + i, k + 1 - i); /* styles stay in the row text */
            } else if (fin == 'A') {
                size_t up = has ? num : 1;
                /* the screen shows the last `height` rows */
                size_t top = s->nrows > s->height ? s->nrows - s->height : 0;
                if (up > s->row || s->row - up < top)
                    scr_bad(s, "cursor up beyond the screen");
                s->row = up > s->row ? 0 : s->row - up;
                s->pending = false;
            } else if (fin == 'J') {
                if (s->col != 0)
                    scr_bad(s, "erase below not at column 0");
                s->rows[s->row][0] = '\0';
                for (size_t r = s->row + 1; r < s->nrows; r++)
                    free(s->rows[r]);
                s->nrows = s->row + 1;
            } else {
                scr_bad(s, "unexpected sequence");
            }
            i = k + 1;
        } else if (c < 0x20 || c == 0x7f) {
            scr_bad(s, "control byte");
            i++;
        } else {
            size_t w, l = term_next_cluster(p + i, n - i, &w);
            if (s->pending || s->col + w > s->width) {
                scr_down(s);
            }
            scr_append(s, p + i, l);
            s->col += w;
            if (s->col >= s->width)
                s->pending = true;
            i += l;
        }
    }
}

static char *scr_text(const struct screen *s)
{
    struct buf b = BUF_INIT(1 << 26);
    for (size_t i = 0; i < s->nrows; i++) {
        buf_addstr(&b, s->rows[i]);
        buf_addc(&b, '\n');
    }
    return buf_take(&b);
}

static char *screen_of(const char *out, size_t n, size_t w, size_t h, char *why, size_t whylen)
{
    struct screen s;
    scr_init(&s, w, h);
    scr_feed(&s, out, n);
    if (s.broken)
        snprintf(why, whylen, "%s", s.why);
    else
        why[0] = '\0';
    char *t = scr_text(&s);
    scr_free(&s);
    return t;
}

static void test_live_tail_leaves_the_same_screen(void **state)
{
    (void)state;
    int modes[] = {PLAIN, COLOR};
    int heights[] = {5, 40};
    for (size_t d = 0; d < sizeof corpus / sizeof corpus[0]; d++) {
        const char *src = corpus[d];
        size_t n = strlen(src);
        for (size_t m = 0; m < 2; m++) {
            for (size_t h = 0; h < 2; h++) {
                struct render_opts o = opts_for(modes[m], 30);
                o.height = heights[h];
                struct buf plain = BUF_INIT(1 << 26);
                render_md_string(&plain, &o, src, n);
                char why[160];
                char *want = screen_of(buf_cstr(&plain), plain.len, 30, (size_t)heights[h], why, sizeof why);
                assert_string_equal(why, "");
                o.live = true;
                for (int trial = 0; trial < 4; trial++) {
                    char *live = feed(src, n, o, trial == 0 ? 1 : 0, 9);
                    char *got = screen_of(live, strlen(live), 30, (size_t)heights[h], why, sizeof why);
                    if (why[0])
                        fail_msg("doc %zu mode %d height %d trial %d: %s", d, modes[m], heights[h], trial, why);
                    if (strcmp(got, want) != 0) {
                        show("screen", got);
                        show("want  ", want);
                        fail_msg("doc %zu mode %d height %d trial %d: screens differ", d, modes[m], heights[h], trial);
                    }
                    free(live);
                    free(got);
                }
                free(want);
                buf_free(&plain);
            }
        }
    }
}

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

static void test_live_tail_redraws_in_place(void **state)
{
    (void)state;
    int64_t now = 1000;
    struct clock clk = {.now_ms = fake_now, .ctx = &now};
    struct buf b = BUF_INIT(4096);
    struct render_opts o = opts_for(PLAIN, 40);
    o.live = true;
    o.height = 24;
    o.preview_ms = 100;
    o.clock = &clk;
    o.write = write_buf;
    o.write_ctx = &b;
    struct render_md *r = render_md_new(&o);
    assert_int_equal(render_md_feed(r, "Hello", 5, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "Hello\n"); /* the tail, below it the cursor */
    assert_int_equal(render_md_feed(r, " world", 6, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "Hello\n"); /* too soon to redraw */
    now += 100;
    assert_int_equal(render_md_feed(r, "!", 1, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "Hello\n\x1b[1A\x1b[JHello world!\n"); /* up one row, erase, redraw */
    /* the tail already shows the final text: finishing writes nothing */
    assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "Hello\n\x1b[1A\x1b[JHello world!\n");
    /* pause erases a tail */
    buf_reset(&b);
    now += 1000;
    assert_int_equal(render_md_feed(r, "- a\n- b", 7, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "- a\n- b\n");
    assert_int_equal(render_md_pause(r, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "- a\n- b\n\x1b[2A\x1b[J"); /* both are still the tail */
    assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
    /* after a resize, the tail on screen is erased by the rows it took when drawn */
    buf_reset(&b);
    now += 1000;
    assert_int_equal(render_md_feed(r, "aaaa bbbb cccc dddd eeee", 24, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "aaaa bbbb cccc dddd eeee\n");
    render_md_set_width(r, 12, 24);
    now += 1000;
    assert_int_equal(render_md_feed(r, " f", 2, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "aaaa bbbb cccc dddd eeee\n\x1b[1A\x1b[Jaaaa bbbb\ncccc dddd\neeee f\n");
    assert_int_equal(render_md_finish(r, NULL), BROCK_OK);
    /* a character still arriving is left out of the tail, not mangled */
    buf_reset(&b);
    now += 1000;
    assert_int_equal(render_md_feed(r, "ab\xe4", 3, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "ab\n");
    now += 1000;
    assert_int_equal(render_md_feed(r, "\xb8\xad", 2, NULL), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "ab\n\x1b[1A\x1b[Jab\xe4\xb8\xad\n");
    render_md_free(r);
    buf_free(&b);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paragraph_wrap),
        cmocka_unit_test(test_inline_styles),
        cmocka_unit_test(test_headings),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_task_lists),
        cmocka_unit_test(test_code_blocks),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_links_and_images),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_rules_entities_breaks),
        cmocka_unit_test(test_block_separation),
        cmocka_unit_test(test_wrap_by_display_width),
        cmocka_unit_test(test_control_sequences_neutralised),
        cmocka_unit_test(test_deep_nesting_is_capped),
        cmocka_unit_test(test_pieces_give_the_same_output),
        cmocka_unit_test(test_utf8_split_across_pieces),
        cmocka_unit_test(test_renderer_is_reusable),
        cmocka_unit_test(test_output_flows_before_the_end),
        cmocka_unit_test(test_caps_cut_deterministically),
        cmocka_unit_test(test_write_error_is_reported),
        cmocka_unit_test(test_live_tail_leaves_the_same_screen),
        cmocka_unit_test(test_live_tail_redraws_in_place),
    };
    return cmocka_run_group_tests_name("render_md", tests, NULL, NULL);
}
