/* fuzz_tool_input.c - tool input validation on arbitrary JSON.
 *
 * The bytes are parsed as the agent loop parses a tool_use input; the value
 * is validated against every tool's schema. A valid input is then given to
 * every tool's subject and summary functions, and TodoWrite (in memory only)
 * runs. Invariants: validation answers OK or USAGE with a non-empty message
 * of at most 8 lines, messages and summaries are valid UTF-8, and a summary is
 * one line. Tools that touch the file system or run commands do not run here
 * (fuzz_tool_grep covers the file tools on a scratch file). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/tools.h"
#include "../src/agent/tools/tool_int.h"
#include "../src/util/json.h"

#include "fuzz.h"

static struct tool_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    if (!ctx && tool_ctx_new("/", NULL, &ctx, NULL) != BROCK_OK)
        __builtin_trap();
    json_t *in;
    if (json_parse((const char *)data, size, "fuzz", &in, NULL) != BROCK_OK)
        return 0;
    size_t n;
    const struct tool_def *t = tool_list(&n);
    for (size_t i = 0; i < n; i++) {
        struct buf msg = BUF_INIT(65536);
        enum brock_status s = tool_validate(&t[i], in, &msg);
        CHECK(s == BROCK_OK || s == BROCK_ERR_USAGE);
        CHECK((s == BROCK_OK) == (msg.len == 0));
        CHECK(tool_utf8_valid(buf_cstr(&msg), msg.len) == msg.len);
        size_t lines = 1;
        for (size_t k = 0; k < msg.len; k++)
            lines += msg.ptr[k] == '\n';
        CHECK(lines <= 8);
        buf_free(&msg);
        if (s != BROCK_OK)
            continue;
        free(tool_subject(&t[i], ctx, in));
        struct buf sum = BUF_INIT(65536);
        tool_summary(&t[i], ctx, in, &sum);
        buf_free(&sum);
        if (!strcmp(t[i].name, "TodoWrite")) {
            struct tool_result r;
            tool_result_init(&r);
            CHECK(tool_call(ctx, &t[i], in, &r) == BROCK_OK);
            CHECK(tool_utf8_valid(buf_cstr(&r.text), r.text.len) == r.text.len);
            CHECK(!memchr(buf_cstr(&r.summary), '\n', r.summary.len));
            tool_result_cleanup(&r);
        }
    }
    json_decref(in);
    return 0;
}
