/* tool_read.c - Read {file_path, offset?, limit?}.
 *
 * Streams the file in 64 KiB chunks: lines outside the range are only
 * counted, lines inside are kept up to line_max_chars characters (a line
 * buffer holds at most that many characters' worth of bytes, whatever the
 * line's real length). Files up to TOOL_EDIT_MAX_BYTES are read to the end so
 * the content hash for the read-before-edit rule covers all of it; beyond
 * that the file state is size, mtime and inode only. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/alloc.h"
#include "tool_int.h"

const char tool_read_desc[] =
    "Reads a file from the local filesystem and returns its lines numbered the way `cat -n` "
    "does: the line number, a tab, then the line.\n"
    "\n"
    "Usage:\n"
    "- file_path must be an absolute path.\n"
    "- By default up to 2000 lines are returned, starting at the first. For longer files pass "
    "offset (the 1-based line number to start at) and limit (the number of lines).\n"
    "- Lines longer than 2000 characters are cut.\n"
    "- A file larger than 256 KiB must be read in parts with offset and limit, or searched "
    "with Grep.\n"
    "- Directories cannot be read (use LS or Glob). Binary files, images and PDF documents "
    "are not supported.\n"
    "- The line-number prefix is not part of the file: never copy it into Edit's old_string "
    "or new_string.\n"
    "- A file must be read before it can be changed with Edit, MultiEdit or Write.\n"
    "- Several files can be read at once by making several Read calls in one response.";

const char tool_read_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
    "\"description\":\"The absolute path of the file to read\"},"
    "\"offset\":{\"type\":\"integer\",\"minimum\":0,"
    "\"description\":\"The line number to start reading at (1-based). Only needed for files "
    "too long to read at once\"},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,"
    "\"description\":\"The number of lines to read. Only needed for files too long to read at "
    "once\"}},"
    "\"required\":[\"file_path\"],\"additionalProperties\":false}";

char *tool_read_subject(const struct tool_ctx *ctx, const json_t *input)
{
    return tool_subject_file_path(ctx, input);
}

void tool_read_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    char *p = tool_subject_file_path(ctx, input);
    buf_addf(out, "Read %s", p ? tool_path_show(ctx, p) : "?");
    free(p);
}

/* Formats brock cannot show the model yet, by magic bytes or extension. */
static const char *unsupported_kind(const char *path, const unsigned char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "a PNG image";
    if (n >= 3 && memcmp(p, "\xFF\xD8\xFF", 3) == 0)
        return "a JPEG image";
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return "a GIF image";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "a WebP image";
    if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
        return "a PDF document";
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    static const char *const img[] = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp",
                                      ".ico", ".tif", ".tiff", ".heic", ".avif"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(img); i++)
        if (strcasecmp(dot, img[i]) == 0)
            return "an image";
    if (strcasecmp(dot, ".pdf") == 0)
        return "a PDF document";
    return NULL;
}

struct reader {
    struct tool_result *r;
    size_t first, last;   /* the range, 1-based, inclusive */
    size_t max_chars;     /* per line */
    size_t out_cap;       /* output bytes */
    size_t lineno;        /* the line being read */
    struct buf line;      /* its kept bytes (capped) */
    size_t line_chars;    /* characters kept */
    bool line_cut;        /* characters were dropped */
    size_t shown_first, shown_last;
    size_t cut_lines[10], ncut, ncut_total;
    bool out_full;        /* stopped by out_cap; shown_last is the last line shown */
};

static void emit_line(struct reader *rd)
{
    if (rd->lineno >= rd->first && rd->lineno <= rd->last && !rd->out_full) {
        size_t l = rd->line.len;
        if (!rd->line_cut && l && rd->line.ptr[l - 1] == '\r')
            l--;
        size_t before = rd->r->text.len;
        buf_addf(&rd->r->text, "%6zu\t", rd->lineno);
        tool_utf8_add(&rd->r->text, rd->line.ptr ? rd->line.ptr : "", l);
        buf_addc(&rd->r->text, '\n');
        if (rd->r->text.len > rd->out_cap) {
            buf_truncate(&rd->r->text, before);
            rd->out_full = true;
        } else {
            if (!rd->shown_first)
                rd->shown_first = rd->lineno;
            rd->shown_last = rd->lineno;
            if (rd->line_cut) {
                if (rd->ncut < BROCK_ARRAY_LEN(rd->cut_lines))
                    rd->cut_lines[rd->ncut++] = rd->lineno;
                rd->ncut_total++;
            }
        }
    }
    buf_reset(&rd->line);
    rd->line_chars = 0;
    rd->line_cut = false;
    rd->lineno++;
}

/* Keep bytes of the current line up to max_chars characters. */
static void keep(struct reader *rd, const char *p, size_t n)
{
    if (rd->lineno < rd->first || rd->lineno > rd->last || rd->line_cut || rd->out_full)
        return;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if ((c & 0xC0) != 0x80) {
            if (rd->line_chars == rd->max_chars) {
                rd->line_cut = true;
                break;
            }
            rd->line_chars++;
        }
        i++;
    }
    /* stray continuation bytes count as no character: cap by bytes too */
    if (i > rd->line.max - rd->line.len) {
        i = rd->line.max - rd->line.len;
        rd->line_cut = true;
    }
    buf_add(&rd->line, p, i);
}

static void feed(struct reader *rd, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t l = nl ? (size_t)(nl - p) : n;
        keep(rd, p, l);
        if (!nl)
            return;
        emit_line(rd);
        p += l + 1;
        n -= l + 1;
    }
}

enum brock_status tool_read_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    size_t plen;
    const char *path = tool_arg_str(input, "file_path", &plen);
    if (!tool_check_path(ctx, "Read", "file_path", path, plen, out))
        return BROCK_OK;
    char *real = tool_path_resolve(ctx->cwd, path);
    const char *show = tool_path_show(ctx, real);
    int64_t offset = tool_arg_int(input, "offset", 0), limit = tool_arg_int(input, "limit", 0);
    bool ranged = tool_arg_has(input, "offset") || tool_arg_has(input, "limit");
    struct reader rd = {.r = out};
    buf_init(&rd.line, ctx->lim.line_max_chars * 4 + 8);
    struct sha256_ctx sc;
    bool hash = false;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            tool_fail(out, "File does not exist: %s (the working directory is %s)", real, ctx->cwd);
        else
            tool_fail(out, "Cannot open %s: %s", real, strerror(err));
        goto done;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        tool_fail(out, "Cannot read %s: %s", real, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        tool_fail(out, "%s is a directory, not a file. Use LS to list it, or Glob to find files "
                       "in it.", real);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        tool_fail(out, "%s is not a regular file (a device, FIFO or socket); Read only reads "
                       "files.", real);
        goto done;
    }
    if (!ranged && (uint64_t)st.st_size > ctx->lim.read_max_bytes) {
        tool_fail(out,
                  "File content (%lld KiB) exceeds the maximum size Read returns at once (%zu "
                  "KiB). Read it in parts with offset and limit (e.g. offset: 1, limit: 1000), or "
                  "search it with Grep.",
                  (long long)((st.st_size + 1023) / 1024), ctx->lim.read_max_bytes / 1024);
        goto done;
    }
    rd.first = offset > 1 ? (size_t)offset : 1;
    size_t count = limit > 0 ? (size_t)limit : ctx->lim.read_max_lines;
    rd.last = rd.first + count - 1 < rd.first ? SIZE_MAX : rd.first + count - 1;
    rd.max_chars = ctx->lim.line_max_chars;
    rd.out_cap = ctx->lim.read_max_bytes;
    rd.lineno = 1;
    hash = (uint64_t)st.st_size <= TOOL_EDIT_MAX_BYTES;
    if (hash)
        sha256_init(&sc);

    static const size_t CHUNK = 65536;
    char *chunk = xmalloc(CHUNK);
    size_t total = 0;
    bool first_block = true, whole = false;
    for (;;) {
        ssize_t n = read(fd, chunk, CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            tool_fail(out, "Cannot read %s: %s", real, strerror(errno));
            free(chunk);
            goto done;
        }
        if (n == 0) {
            whole = true;
            break;
        }
        if (first_block) {
            first_block = false;
            const char *kind = unsupported_kind(real, (const unsigned char *)chunk, (size_t)n);
            if (kind) {
                tool_fail(out, "%s is %s; brock cannot read images or PDF documents yet.", real,
                          kind);
                free(chunk);
                goto done;
            }
            if (tool_looks_binary(chunk, (size_t)n)) {
                tool_fail(out, "%s looks like a binary file (it has NUL bytes or is not UTF-8 "
                               "text); Read only shows text files.", real);
                free(chunk);
                goto done;
            }
        }
        total += (size_t)n;
        if (hash)
            sha256_update(&sc, chunk, (size_t)n);
        feed(&rd, chunk, (size_t)n);
        if (tool_cancelled(ctx)) {
            out->interrupted = true;
            tool_fail(out, "Read of %s was interrupted by the user.", real);
            free(chunk);
            goto done;
        }
        if (!hash && (rd.lineno > rd.last || rd.out_full))
            break; /* too big to hash: stop after the range */
    }
    free(chunk);
    if (whole && (rd.line.len || rd.line_cut))
        emit_line(&rd); /* a last line without '\n' */
    size_t total_lines = rd.lineno - 1;

    /* the file state, from the descriptor we read */
    uint8_t h[SHA256_LEN];
    if (hash && whole) {
        sha256_final(&sc, h);
        tool_fstate_record(ctx, real, &st, h);
    } else {
        tool_fstate_record(ctx, real, &st, NULL);
    }

    if (total == 0) {
        buf_addstr(&out->text, "Warning: the file exists but its contents are empty.");
        tool_set_summary(out, "Read %s (empty)", show);
        goto done;
    }
    if (!rd.shown_first) {
        if (rd.out_full)
            buf_addf(&out->text, "Line %zu alone is larger than the %zu KiB output limit.",
                     rd.first, rd.out_cap / 1024);
        else
            buf_addf(&out->text,
                     "Warning: the file has %zu line%s, fewer than the offset %zu. Use a smaller "
                     "offset.",
                     total_lines, total_lines == 1 ? "" : "s", rd.first);
        tool_set_summary(out, "Read %s (nothing at offset %zu)", show, rd.first);
        goto done;
    }
    if (rd.out_full) {
        buf_addf(&out->text,
                 "\n(Output stopped after line %zu at the %zu KiB limit. Use offset: %zu to read "
                 "on.)\n",
                 rd.shown_last, rd.out_cap / 1024, rd.shown_last + 1);
    } else if (limit <= 0 && whole && total_lines > rd.shown_last) {
        buf_addf(&out->text,
                 "\n(Showing lines %zu-%zu of %zu. Use offset and limit to read more, e.g. "
                 "offset: %zu.)\n",
                 rd.shown_first, rd.shown_last, total_lines, rd.shown_last + 1);
    } else if (limit <= 0 && !whole) {
        buf_addf(&out->text,
                 "\n(Showing lines %zu-%zu; the file goes on. Use offset: %zu to read more.)\n",
                 rd.shown_first, rd.shown_last, rd.shown_last + 1);
    }
    if (rd.ncut_total) {
        buf_addf(&out->text, "\n(Line%s longer than %zu characters %s cut:",
                 rd.ncut_total == 1 ? "" : "s", rd.max_chars, rd.ncut_total == 1 ? "was" : "were");
        for (size_t i = 0; i < rd.ncut; i++)
            buf_addf(&out->text, " %zu", rd.cut_lines[i]);
        buf_addf(&out->text, "%s.)\n", rd.ncut_total > rd.ncut ? " ..." : "");
    }
    size_t shown = rd.shown_last - rd.shown_first + 1;
    if (rd.shown_first == 1 && whole && rd.shown_last == total_lines)
        tool_set_summary(out, "Read %s (%zu line%s)", show, shown, shown == 1 ? "" : "s");
    else
        tool_set_summary(out, "Read %s (lines %zu-%zu)", show, rd.shown_first, rd.shown_last);
done:
    if (hash)
        sha256_free(&sc);
    if (fd >= 0)
        close(fd);
    buf_free(&rd.line);
    free(real);
    return BROCK_OK;
}
