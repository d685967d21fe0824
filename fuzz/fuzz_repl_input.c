/* fuzz_repl_input.c - the REPL's readers of outside input (repl_util.c):
 * the history file, a typed line (slash command, continuation), key
 * presses, and the model's tool input for the permission question (tool
 * argument, edit preview against the file's text).
 *
 * Input: the history-file text and the typed line are the whole input; for
 * the edit preview it is split at the first NUL into the tool input (JSON)
 * and the file's text, with byte 0 of the JSON part choosing Edit,
 * MultiEdit or Write. Checks: every history entry survives escape + parse
 * unchanged; a parsed command name holds only [a-z0-9_-]; the preview of an
 * edit that applies is a unified diff (starts with "--- a/f", or is empty
 * when nothing changes); nothing crashes or leaks.
 *
 * src/cli is not in libbrock.a, so the REPL's pure file and the diff maker
 * it uses are compiled into this target. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/render.c"
#include "../src/cli/repl_util.c"
#include "../src/cli/term.c"

#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(void *ctx, const char *entry)
{
    (void)ctx;
    /* escape then parse gives the entry back */
    struct buf esc = BUF_INIT(FUZZ_MAX_INPUT * 4);
    repl_history_escape(&esc, entry);
    if (memchr(buf_cstr(&esc), '\n', esc.len))
        abort();
    struct buf back = BUF_INIT(FUZZ_MAX_INPUT * 4);
    repl_history_unescape(&back, buf_cstr(&esc), esc.len);
    if (strcmp(buf_cstr(&back), entry))
        abort();
    buf_free(&esc);
    buf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char *s = xmemdup(data, size); /* NUL-terminated copy: the line stops at a NUL */

    /* the history file */
    repl_history_parse((const char *)data, size, check_entry, NULL);

    /* a typed line */
    char name[REPL_COMMAND_NAME_MAX];
    char *args = NULL;
    if (repl_slash_parse(s, name, sizeof name, &args)) {
        for (const char *p = name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
                abort();
        if (!args)
            abort();
    } else if (args) {
        abort();
    }
    free(args);
    size_t keep;
    size_t len = strlen(s);
    if (repl_line_continues(s, len, &keep) ? keep + 1 != len : keep != len)
        abort();
    (void)repl_chomp(s, len);
    (void)repl_key_decode(s, len < 8 ? len : 8, size & 1);

    /* a tool input and a file */
    size_t jn = strnlen(s, size);
    const char *text = jn < size ? (const char *)data + jn + 1 : "";
    size_t tn = jn < size ? size - jn - 1 : 0;
    json_t *in = jn > 1 ? json_loadb(s + 1, jn - 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL) : NULL;
    if (in) {
        static const char *const tools[] = {"Edit", "MultiEdit", "Write", "Read", "Bash", "Grep"};
        const char *tool = tools[(unsigned char)s[0] % BROCK_ARRAY_LEN(tools)];
        struct buf arg = BUF_INIT(BUF_MAX_SMALL);
        repl_tool_arg(tool, in, "/w", &arg);
        buf_free(&arg);
        struct buf diff = BUF_INIT(BUF_MAX_BODY);
        struct brock_err e = {0};
        if (repl_edit_preview_text(tool, in, text, tn, "f", &diff, &e) == BROCK_OK) {
            if (diff.len && strncmp(buf_cstr(&diff), "--- a/f\n+++ b/f\n@@ -", 20))
                abort();
        } else if (!e.msg[0]) {
            abort(); /* a refusal always says why */
        }
        buf_free(&diff);
        json_decref(in);
    }
    free(s);
    return 0;
}
