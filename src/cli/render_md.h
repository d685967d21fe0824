/* render_md.h - streaming Markdown to the terminal (md4c + term.h).
 *
 * Claude's answers arrive as Markdown, a few bytes at a time, cut anywhere
 * (inside a UTF-8 character, inside a `**` marker). This renderer shows them
 * styled, as they arrive:
 *
 *     struct render_md *r = render_md_new(&opts);
 *     for each piece:  render_md_feed(r, piece, n, &err);
 *     at the end:      render_md_finish(r, &err);   // ready for a new document
 *     render_md_free(r);
 *
 * How it streams. Input is cut into lines (LF, CRLF or CR). A small scanner
 * follows the top-level block structure line by line and commits text as soon
 * as CommonMark guarantees that nothing later can change it: a paragraph,
 * quote or table at the blank line (or the line starting a block) after it,
 * a heading or rule at its own line end, a top-level list item when the next
 * item starts, each line of a fenced code block as soon as it is complete.
 * Each committed piece is parsed by md4c and laid out (wrapped to the width by
 * display width, styled). So the committed output depends only on the text,
 * never on how it was cut: feeding a document whole, byte by byte or in
 * random pieces prints the same bytes (the tests and the fuzz target check
 * this). Latency: a fenced code line appears when its line ends; prose when
 * its block ends.
 *
 * Live tail (opts.live, for a terminal): the uncommitted rest is also drawn,
 * provisionally, below the committed text and redrawn as it grows (at most
 * every opts.preview_ms), so words appear as they arrive. It is redrawn with
 * cursor-up and erase-below only (never above the tail), from its first
 * changed line, and is at most opts.height - 2 rows (its last rows) so it can
 * always be erased. When its block commits, the final form replaces it. The
 * screen then holds exactly what the non-live output holds. The tail is drawn
 * from at most RENDER_MD_PREVIEW_WINDOW bytes of source. The cursor is left
 * at the start of the line below the tail: nothing else may write to the
 * terminal until render_md_pause() or render_md_finish() (the spinner, too).
 *
 * Looks. With colour: headings bold (h1 magenta and underlined, h2
 * underlined), *em* italic, **strong** bold, ~~del~~ struck, `code` cyan,
 * links underlined blue with " (url)" when the url differs from the text,
 * fenced code verbatim behind a dim gutter with the language on top, lists
 * with bullets (•◦▪) or numbers and nested indentation, quotes behind a bar,
 * tables with aligned columns wrapped to fit, rules across the width. Without
 * colour no escape sequence is written at all and the text stays close to
 * Markdown: "-" bullets, "> " quotes, ``` fences kept, `code` keeps its
 * backticks, h1/h2 underlined with "="/"-", h3+ keep their "#"s. opts.unicode
 * picks box drawing and bullets over ASCII (colour mode). Text from the model
 * goes through term_sanitize, so escape sequences in it are shown, not obeyed
 * (entities too: "&#27;" prints "^[").
 *
 * Quirks (of rendering in pieces): a link reference definition applies only
 * inside its own committed piece; a loose top-level list is drawn like tight
 * items separated by blank lines; blocks longer than RENDER_MD_MAX_BLOCK and
 * lines longer than RENDER_MD_MAX_LINE are cut there (deterministically).
 * Raw HTML is shown as text. Nesting deeper than RENDER_MD_MAX_DEPTH is
 * drawn at that depth.
 *
 * Ownership and threads: the renderer owns a copy of opts (the clock and
 * write context are borrowed and must outlive it). One renderer belongs to
 * one thread at a time; different renderers are independent. */
#ifndef BROCK_CLI_RENDER_MD_H
#define BROCK_CLI_RENDER_MD_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"

#define RENDER_MD_MAX_LINE ((size_t)256 * 1024)      /* longer lines are cut */
#define RENDER_MD_MAX_BLOCK ((size_t)1024 * 1024)    /* longer blocks are committed in parts */
#define RENDER_MD_PREVIEW_WINDOW ((size_t)16 * 1024) /* source bytes behind the live tail */
#define RENDER_MD_MAX_DEPTH 16                       /* nested quotes and lists drawn */
#define RENDER_MD_MAX_COLS 64                        /* table columns drawn (more are dropped) */

/* Where output goes: return false on a write error (the renderer then stops
 * and reports BROCK_ERR_IO). NULL = fwrite to stdout and fflush. */
typedef bool render_write_fn(void *ctx, const char *p, size_t n);

struct render_opts {
    bool color;     /* SGR styles (term_caps.color) */
    bool unicode;   /* box drawing, bullets, "…" (term_caps.unicode) */
    bool live;      /* draw the uncommitted tail (term_caps.live; needs width > 0) */
    int width;      /* wrap prose at this many columns; 0 = do not wrap */
    int height;     /* terminal rows, caps the live tail; 0 = 24 */
    int preview_ms; /* least time between tail redraws; 0 = every feed */
    const struct clock *clock; /* for preview_ms; NULL = real time */
    render_write_fn *write;
    void *write_ctx;
};

struct render_md;

struct render_md *render_md_new(const struct render_opts *opts);
void render_md_free(struct render_md *r);

/* Take the next piece of the answer. BROCK_ERR_IO if writing failed (also
 * for every later call). */
enum brock_status render_md_feed(struct render_md *r, const char *p, size_t n, struct brock_err *e);
/* End of the document: render the rest, close an open code block, erase the
 * live tail. The renderer is then ready for a new document. */
enum brock_status render_md_finish(struct render_md *r, struct brock_err *e);
/* Erase the live tail (it comes back at the next feed) so something else may
 * write to the terminal. A no-op without opts.live. */
enum brock_status render_md_pause(struct render_md *r, struct brock_err *e);
/* New width for what is rendered from now on (after SIGWINCH). */
void render_md_set_width(struct render_md *r, int width, int height);

/* Render a whole document into out (appended; opts.write, live and clock are
 * ignored). Same bytes as feeding it in any pieces. */
void render_md_string(struct buf *out, const struct render_opts *opts, const char *md, size_t n);

#endif
