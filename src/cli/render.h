/* render.h - edits and tool calls for the terminal.
 *
 * - render_diff() draws a unified diff (as `diff -u` and `git diff` print
 *   them): with colour, file headers bold, hunk headers dim, removed lines
 *   red and added lines green, each behind its line number (the old number
 *   for "-", the new one for "+" and context); without colour the diff is
 *   written back as it came, so it can still be applied. Hunk line counts
 *   are followed, so a removed line "--- x" inside a hunk is not mistaken
 *   for a file header. Malformed input is drawn as plain lines, never
 *   rejected. Lines are not wrapped.
 * - render_diff_make() writes the unified diff of two texts (Myers' O(ND)
 *   algorithm on lines, after trimming the common head and tail), for an
 *   edit brock is about to make or has made. Its output is data, copied
 *   from the texts unsanitised: show it with render_diff().
 * - render_tool_line() draws the one line brock shows per tool call:
 *       ● Read(src/main.c) ⎿ 120 lines
 *   the dot dim while running, green when done, red on error; argument
 *   and result are cut with "…" to fit the width.
 *
 * Everything from outside (file names, file contents, arguments, results)
 * goes through term_sanitize: nothing written here can move the cursor or
 * restyle the terminal. Output is appended to a struct buf; its cap applies.
 * All functions are reentrant. */
#ifndef BROCK_CLI_RENDER_H
#define BROCK_CLI_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"

struct render_look {
    bool color;   /* SGR styles */
    bool unicode; /* "●", "⎿", "…" rather than "*", "->", "..." */
    int width;    /* columns for render_tool_line; 0 = no limit */
};

void render_diff(struct buf *out, const struct render_look *look, const char *diff, size_t n);

/* Caps for render_diff_make: texts of more lines are compared as wholly
 * replaced after the common head and tail, as are texts needing more than
 * RENDER_DIFF_MAX_EDITS line edits (the diff stays correct, only larger). */
#define RENDER_DIFF_MAX_LINES 100000
#define RENDER_DIFF_MAX_EDITS 1000

/* Append the unified diff turning a[0..an) into b[0..bn) to out, with
 * `context` lines around each change and "--- a/<path>" / "+++ b/<path>"
 * headers (path NULL: no headers). Nothing is appended when they are equal. */
void render_diff_make(struct buf *out, const char *path, const char *a, size_t an, const char *b, size_t bn,
                      int context);

enum render_tool_state { RENDER_TOOL_RUNNING, RENDER_TOOL_OK, RENDER_TOOL_ERROR };

/* "● name(arg) ⎿ result\n"; arg and result may be NULL (then left out). */
void render_tool_line(struct buf *out, const struct render_look *look, enum render_tool_state state,
                      const char *name, const char *arg, const char *result);

#endif
