/* tool_write.c - Write {file_path, content}: create or replace a whole file.
 *
 * A new file is created with its missing parent directories (as Claude
 * Code's Write does), mode 0666 & ~umask. An existing file must have been
 * read in this session and be unchanged since; its mode is kept and the
 * write is atomic (tool_write_file). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../util/alloc.h"
#include "tool_int.h"

const char tool_write_desc[] =
    "Writes a file to the local filesystem, replacing it if it exists.\n"
    "\n"
    "Usage:\n"
    "- file_path must be an absolute path. Missing parent directories are created.\n"
    "- An existing file must be read with Read first in this session, and must not have "
    "changed since; otherwise the write is refused.\n"
    "- Prefer Edit or MultiEdit for changing part of an existing file: they send only the "
    "change. Use Write for new files and complete rewrites.\n"
    "- The write is atomic and keeps the existing file's permissions.\n"
    "- Do not create documentation or README files unless asked to.";

const char tool_write_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
    "\"description\":\"The absolute path of the file to write\"},"
    "\"content\":{\"type\":\"string\",\"description\":\"The content to write to the file\"}},"
    "\"required\":[\"file_path\",\"content\"],\"additionalProperties\":false}";

char *tool_write_subject(const struct tool_ctx *ctx, const json_t *input)
{
    return tool_subject_file_path(ctx, input);
}

void tool_write_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    char *p = tool_subject_file_path(ctx, input);
    buf_addf(out, "Write %s", p ? tool_path_show(ctx, p) : "?");
    free(p);
}

enum brock_status tool_write_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    size_t plen, clen;
    const char *path = tool_arg_str(input, "file_path", &plen);
    const char *content = tool_arg_str(input, "content", &clen);
    if (!tool_check_path(ctx, "Write", "file_path", path, plen, out))
        return BROCK_OK;
    if (clen > TOOL_EDIT_MAX_BYTES)
        return tool_fail(out, "Write: `content` is %zu bytes; the limit is %zu.", clen,
                         TOOL_EDIT_MAX_BYTES);
    char *real = tool_path_resolve(ctx->cwd, path);
    const char *show = tool_path_show(ctx, real);
    struct buf old = BUF_INIT(TOOL_EDIT_MAX_BYTES);
    struct brock_err e;
    struct stat st;
    bool exists = false;
    if (stat(real, &st) == 0) {
        exists = true;
        if (S_ISDIR(st.st_mode)) {
            tool_fail(out, "%s is a directory; Write needs a file path.", real);
            goto done;
        }
        if (!S_ISREG(st.st_mode)) {
            tool_fail(out, "%s is not a regular file; Write only writes files.", real);
            goto done;
        }
        enum brock_status s = tool_load_file(real, TOOL_EDIT_MAX_BYTES, &old, &st, &e);
        bool loaded = s == BROCK_OK;
        if (!loaded && s != BROCK_ERR_TOO_LARGE) {
            tool_fail(out, "Cannot read %s: %s", real, e.msg);
            goto done;
        }
        enum tool_fcheck fc =
            tool_fstate_check(ctx, real, &st, loaded ? buf_cstr(&old) : NULL, old.len);
        if (fc != TOOL_FCHECK_OK) {
            tool_fail(out, "%s (%s)", tool_fcheck_message(fc), real);
            goto done;
        }
        if (!loaded)
            buf_reset(&old);
    } else if (errno != ENOENT && errno != ENOTDIR) {
        tool_fail(out, "Cannot write %s: %s", real, strerror(errno));
        goto done;
    }
    if (tool_write_file(ctx, real, content, clen, exists ? &st : NULL, &e) != BROCK_OK) {
        tool_fail(out, "Write failed, nothing was changed: %s", e.msg);
        goto done;
    }
    size_t lines = tool_count_lines(content, clen), added = 0, removed = 0;
    char *la = exists ? tool_diff_label(ctx, real, "a/") : xstrdup("/dev/null");
    char *lb = tool_diff_label(ctx, real, "b/");
    tool_diff_unified(&out->diff, buf_cstr(&old), old.len, content, clen, la, lb, &added,
                      &removed);
    free(la);
    free(lb);
    if (buf_status(&out->diff) != BROCK_OK) {
        buf_reset(&out->diff);
        buf_addstr(&out->diff, "(diff too large to show)\n");
    }
    if (exists) {
        buf_addf(&out->text, "The file %s has been updated (%zu line%s).", real, lines,
                 lines == 1 ? "" : "s");
        tool_set_summary(out, "Write %s (+%zu -%zu)", show, added, removed);
    } else {
        buf_addf(&out->text, "File created successfully at: %s", real);
        tool_set_summary(out, "Write %s (new, %zu line%s)", show, lines, lines == 1 ? "" : "s");
    }
done:
    buf_free(&old);
    free(real);
    return BROCK_OK;
}
