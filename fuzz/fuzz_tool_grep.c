/* fuzz_tool_grep.c - Grep, Read and Edit on arbitrary file contents.
 *
 * Input: one byte of options, a pattern up to the first '\n', then the
 * content of a scratch file. Grep runs on the file with the options (mode,
 * context, multiline, -i, head_limit), Read with an offset and a limit, then
 * Edit replaces the pattern text (taken literally) by "<>", and the file must
 * then hold exactly what a naive replacement gives. Results must be valid
 * UTF-8 with a one-line summary (tool_call's contract). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/agent/tools.h"
#include "../src/agent/tools/tool_int.h"

#include "fuzz.h"

static struct tool_ctx *ctx;
static char file[4096];

static void run(const char *tool, json_t *in, struct tool_result *r)
{
    tool_result_init(r);
    CHECK(in);
    CHECK(tool_call_named(ctx, tool, in, r) == BROCK_OK);
    json_decref(in);
    CHECK(tool_utf8_valid(buf_cstr(&r->text), r->text.len) == r->text.len);
    CHECK(!memchr(buf_cstr(&r->summary), '\n', r->summary.len));
}

static void setup(void)
{
    const char *t = getenv("TMPDIR");
    char dir[4000];
    CHECK(snprintf(dir, sizeof dir, "%.3900s/brock-fuzz-grep.XXXXXX", t && *t ? t : "/tmp") <
          (int)sizeof dir);
    CHECK(mkdtemp(dir));
    CHECK(snprintf(file, sizeof file, "%.4000s/f.txt", dir) < (int)sizeof file);
    struct tool_limits lim;
    tool_limits_default(&lim);
    lim.grep_max_output = 4096;
    lim.line_max_chars = 64;
    lim.read_max_lines = 50;
    CHECK(tool_ctx_new(dir, &lim, &ctx, NULL) == BROCK_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536)
        return 0;
    if (!ctx)
        setup();
    unsigned opt = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t pn = nl ? (size_t)(nl - p) : (size_t)(end - p);
    const char *content = nl ? nl + 1 : end;
    size_t cn = (size_t)(end - content);
    if (pn == 0 || pn > 256 || tool_utf8_valid(p, pn) != pn || memchr(p, '\0', pn))
        return 0;
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, content, cn) == (ssize_t)cn);
    close(fd);

    static const char *const modes[] = {"content", "files_with_matches", "count", "content"};
    struct tool_result r;
    json_t *in = json_pack("{s:s%,s:s,s:s,s:b,s:b,s:b}", "pattern", p, pn, "path", file,
                           "output_mode", modes[opt & 3], "-i", (int)(opt >> 2 & 1), "multiline",
                           (int)(opt >> 3 & 1), "-n", (int)!(opt >> 4 & 1));
    if (opt & 0x20)
        json_object_set_new(in, "-C", json_integer(opt >> 6));
    if (opt & 0x40)
        json_object_set_new(in, "head_limit", json_integer(opt & 7));
    run("Grep", in, &r);
    tool_result_cleanup(&r);

    run("Read",
        json_pack("{s:s,s:i,s:i}", "file_path", file, "offset", (int)(opt % 7), "limit",
                  (int)(opt % 13) + 1),
        &r);
    tool_result_cleanup(&r);
    run("Read", json_pack("{s:s}", "file_path", file), &r);
    bool read_ok = !r.is_error;
    tool_result_cleanup(&r);

    run("Edit",
        json_pack("{s:s,s:s%,s:s,s:b}", "file_path", file, "old_string", p, pn, "new_string", "<>",
                  "replace_all", 1),
        &r);
    bool edited = !r.is_error;
    tool_result_cleanup(&r);
    /* the oracle: a naive replace-all on content without '\r' */
    if (edited) {
        CHECK(read_ok);
        if (!memchr(content, '\r', cn) && !memchr(p, '\r', pn)) {
            struct buf want = BUF_INIT(1 << 22);
            size_t i = 0;
            while (i < cn) {
                if (i + pn <= cn && !memcmp(content + i, p, pn)) {
                    buf_addstr(&want, "<>");
                    i += pn;
                } else {
                    buf_addc(&want, content[i++]);
                }
            }
            struct buf got = BUF_INIT(1 << 22);
            struct stat st;
            CHECK(tool_load_file(file, 1 << 22, &got, &st, NULL) == BROCK_OK);
            CHECK(got.len == want.len && !memcmp(buf_cstr(&got), buf_cstr(&want), got.len));
            buf_free(&got);
            buf_free(&want);
        }
    }
    tool_ctx_forget_files(ctx);
    return 0;
}
