/* term.h - what the terminal can do, and how to write untrusted text to it.
 *
 * brock writes text it did not choose (the model's answers, tool output, file
 * contents) to a terminal. This module answers the questions every writer
 * asks first, and makes that text safe:
 *
 * - Is the stream a terminal, may we colour it, can we move the cursor, how
 *   wide is it, does the locale speak UTF-8 (term_caps_detect).
 * - How many columns does a UTF-8 string take (term_display_width,
 *   term_next_cluster), measured per grapheme cluster with utf8proc.
 * - Neutralise terminal control in untrusted text (term_sanitize): nothing
 *   written through it can move the cursor, clear the screen, set the title,
 *   overwrite or hide text. Only "\n" and "\t" pass through.
 *
 * Colour decision, first rule that applies wins:
 *   1. --no-color                                  -> off
 *   2. NO_COLOR set and not empty (no-color.org)   -> off
 *   3. FORCE_COLOR set: "0" or "false" -> off, any other non-empty -> on
 *   4. CLICOLOR_FORCE set, not empty and not "0"   -> on
 *   5. TERM=dumb                                   -> off
 *   6. the stream is not a terminal                -> off
 *   7. CLICOLOR=0                                  -> off
 *   8. otherwise                                   -> on
 * An explicit opt-out beats a force: when a user sets both, the quiet
 * choice is the safe one. Cursor movement ("live" output) needs a terminal
 * whose TERM is set and is not "dumb"; forcing colour does not force it.
 *
 * Sanitising: C0 controls become caret notation ("ESC" -> "^[", "DEL" ->
 * "^?"), a CR before LF is dropped (CRLF -> LF) and a lone CR becomes "^M";
 * C1 controls (U+0080..U+009F), bidirectional embedding/override/isolate
 * controls (U+202A..U+202E, U+2066..U+2069) and Unicode tag characters
 * (U+E0000..U+E007F, invisible text) become "<U+XXXX>"; bytes that are not
 * UTF-8 become U+FFFD. With TERM_SAN_DROP_SGR a complete colour sequence
 * (ESC [ digits ; : ... m) is dropped instead of shown, so a compiler's
 * coloured output reads cleanly; every other sequence is still shown.
 *
 * Width rules: a grapheme cluster (utf8proc's breaks) is as wide as its widest
 * code point by utf8proc_charwidth (so CJK and emoji are 2, combining marks
 * and ZWJ tails add nothing), a pair of regional indicators (a flag) is 2.
 * Controls count 0: measure sanitised text. Terminals disagree about emoji
 * sequences and VS16; these rules match current xterm-likes for the common
 * cases (CJK, single emoji, accents).
 *
 * Threads: everything is reentrant except term_watch_resize(), which installs
 * a process-wide SIGWINCH handler (call once from main). */
#ifndef BROCK_CLI_TERM_H
#define BROCK_CLI_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"

/* The environment variables that decide colour, locale and size. Strings are
 * borrowed (from getenv or from a test); NULL = unset. */
struct term_env {
    const char *no_color;
    const char *force_color;
    const char *clicolor_force;
    const char *clicolor;
    const char *term;
    const char *lc_all;
    const char *lc_ctype;
    const char *lang;
    const char *columns;
    const char *lines;
};

/* Fill env from the process environment (pointers into environ). */
void term_env_load(struct term_env *env);

/* The colour decision above for a stream that is (or is not) a terminal. */
bool term_color_decide(const struct term_env *env, bool is_tty, bool flag_no_color);
/* True when cursor movement is safe: a terminal, TERM set and not "dumb". */
bool term_live_decide(const struct term_env *env, bool is_tty);
/* True when the first set of LC_ALL, LC_CTYPE, LANG names UTF-8 (or utf8). */
bool term_utf8_decide(const struct term_env *env);
/* Columns from the ioctl answer (<= 0 = none), else COLUMNS (1..10000),
 * else `fallback`. term_height_decide is the same with LINES. */
int term_width_decide(int ioctl_cols, const char *columns, int fallback);
int term_height_decide(int ioctl_rows, const char *lines, int fallback);

/* isatty(), false for a negative fd. */
bool term_isatty(int fd);
/* The terminal's size on fd by TIOCGWINSZ, then COLUMNS / LINES, then 80x24. */
int term_width(int fd);
int term_height(int fd);

/* Everything the CLI needs, decided once (stdout and stderr). */
struct term_caps {
    bool out_tty, err_tty; /* stdout / stderr are terminals */
    bool color;            /* colour on stdout */
    bool err_color;        /* colour on stderr (spinner, diagnostics) */
    bool live;             /* cursor movement on stdout is safe */
    bool unicode;          /* UTF-8 locale: box drawing, bullets, braille spinner */
    int width, height;     /* of stdout (80x24 when unknown) */
};
void term_caps_detect(struct term_caps *caps, bool flag_no_color);

/* SIGWINCH: install a handler that only records the event (SA_RESTART), and
 * ask whether the size changed since the last call. */
void term_watch_resize(void);
bool term_take_resize(void);

/* ---- display width ---- */

/* Length in bytes of the grapheme cluster at s[0..n) (>= 1 when n > 0) and
 * its width in columns in *width. Invalid UTF-8 is a 1-byte cluster of
 * width 1 (it prints as U+FFFD once sanitised). */
size_t term_next_cluster(const char *s, size_t n, size_t *width);
/* Columns taken by s[0..n). */
size_t term_display_width(const char *s, size_t n);
/* Columns taken by s[0..n), skipping SGR sequences (ESC [ ... m), as in
 * brock's own styled output. */
size_t term_styled_width(const char *s, size_t n);

/* ---- styles (SGR) ---- */

/* A style is attribute bits plus a foreground colour (0 = default). */
#define TERM_BOLD 0x01u
#define TERM_DIM 0x02u
#define TERM_ITALIC 0x04u
#define TERM_UNDERLINE 0x08u
#define TERM_STRIKE 0x10u
#define TERM_FG(c) ((unsigned)(c) << 8) /* c: one of the colours below */
#define TERM_FG_OF(style) (((style) >> 8) & 0x0fu)
enum term_color {
    TERM_DEFAULT = 0,
    TERM_RED = 1,
    TERM_GREEN = 2,
    TERM_YELLOW = 3,
    TERM_BLUE = 4,
    TERM_MAGENTA = 5,
    TERM_CYAN = 6,
    TERM_GREY = 7 /* bright black */
};
/* Append the SGR sequence selecting exactly `style` (a reset first). */
void term_sgr(struct buf *out, unsigned style);

/* ---- untrusted text ---- */

#define TERM_SAN_DROP_SGR 0x01u /* drop complete colour sequences */
#define TERM_SAN_ONELINE 0x02u  /* "\n", "\t" (and CRLF) become one space */

/* Append s[0..n) to out, neutralised as described above. */
void term_sanitize(struct buf *out, const char *s, size_t n, unsigned flags);

/* The same for text that arrives in pieces: a UTF-8 character, a CRLF or a
 * colour sequence cut between pieces is held (at most TERM_SAN_HOLD bytes)
 * and finished by the next piece; term_san_finish() flushes what is held. */
#define TERM_SAN_HOLD 64
struct term_san {
    unsigned flags;
    size_t nhold;
    char hold[TERM_SAN_HOLD];
};
void term_san_init(struct term_san *st, unsigned flags);
void term_san_feed(struct term_san *st, struct buf *out, const char *s, size_t n);
void term_san_finish(struct term_san *st, struct buf *out);

/* Sanitise (one line) and fit s[0..n) into max_cols columns, ending in "…"
 * ("..." without unicode) when cut. Cuts between grapheme clusters. */
void term_fit(struct buf *out, const char *s, size_t n, size_t max_cols, bool unicode);

#endif
