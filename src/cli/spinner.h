/* spinner.h - "⠋ Thinking… 3.2s · 1.2k tokens" on stderr while brock waits.
 *
 *     struct spinner *sp = spinner_new(&(struct spinner_opts){.fd = 2, .unicode = caps.unicode});
 *     spinner_start(sp, "Thinking", "tokens");
 *     ...  spinner_set_count(sp, n);        // from any thread
 *     spinner_stop(sp);                     // line cleared when this returns
 *     ... write the answer ...
 *     spinner_free(sp);
 *
 * A timer thread redraws the line every opts.interval_ms (default 100) while
 * the spinner runs, so it keeps moving while the caller is blocked in a
 * network read. The line is redrawn in place ("\r" ... "\x1b[K"), never
 * wider than the terminal (it would wrap and could not be cleared), and
 * spinner_stop() clears it and returns only after the thread has stopped
 * drawing: call it before writing anything else to the terminal, so output
 * never interleaves with a frame. Start it at the start of a line.
 *
 * Does nothing at all (no thread, no output) when opts.fd is not a terminal
 * or TERM is "dumb". Without opts.unicode (a locale that is not UTF-8) it
 * draws "|/-\" and "..." instead of braille and "…"; without opts.color no
 * SGR is written. The label is sanitised (one line).
 *
 * Threads: spinner_set_count and spinner_set_label may be called from any
 * thread; start/stop/free from the owning thread. */
#ifndef BROCK_CLI_SPINNER_H
#define BROCK_CLI_SPINNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/timeutil.h"

struct spinner_opts {
    int fd;          /* where to draw, usually STDERR_FILENO */
    bool unicode;
    bool color;
    int width;       /* columns; 0 = ask the terminal at each frame */
    int interval_ms; /* 0 = 100 */
    const struct clock *clock; /* for the elapsed time; NULL = real time */
    bool force;      /* draw even if fd is not a terminal (tests) */
};

struct spinner;

struct spinner *spinner_new(const struct spinner_opts *opts);
void spinner_free(struct spinner *s); /* stops it first; NULL is fine */

/* Start (or restart) with a label and the unit of the counter (NULL = no
 * counter); the elapsed time and count start from zero. */
void spinner_start(struct spinner *s, const char *label, const char *unit);
void spinner_set_label(struct spinner *s, const char *label);
void spinner_set_count(struct spinner *s, uint64_t count);
/* Clear the line and stop drawing; returns once no frame can be drawn. */
void spinner_stop(struct spinner *s);
/* Whether it draws at all (fd is a terminal). */
bool spinner_enabled(const struct spinner *s);

/* One frame, without "\r" or erase: "⠋ Thinking… 3.2s · 1.2k tokens", cut
 * to `width` columns (0 = no limit). Appended to out. */
struct buf;
void spinner_format(struct buf *out, const char *label, const char *unit, int64_t elapsed_ms, uint64_t count,
                    unsigned frame, bool unicode, bool color, size_t width);
/* "950", "1.2k", "12k", "1.2M" into out (at least 8 bytes). */
void spinner_count_str(char *out, size_t cap, uint64_t n);

#endif
