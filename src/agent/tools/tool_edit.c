/* tool_edit.c - Edit {file_path, old_string, new_string, replace_all?} and
 * MultiEdit {file_path, edits: [{old_string, new_string, replace_all?}]}.
 *
 * Exact string replacement on the whole file in memory, then one atomic
 * write. old_string must occur exactly once unless replace_all (occurrences
 * are counted without overlap, left to right). MultiEdit applies its edits in
 * order, each to the result of the previous one, and writes only if all of
 * them apply. An empty old_string creates a file that does not exist (or
 * fills an existing empty one).
 *
 * Line endings: in a file whose every '\n' is preceded by '\r', the edit
 * works on the text with "\r\n" read as "\n" (also in old_string and
 * new_string, since Read shows lines without the '\r') and writes "\r\n"
 * back, so a model that never sees '\r' can still edit Windows files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../util/alloc.h"
#include "tool_int.h"

const char tool_edit_desc[] =
    "Performs an exact string replacement in a file.\n"
    "\n"
    "Usage:\n"
    "- Read the file first in this session; an edit of a file that was not read, or that "
    "changed since it was read, is refused.\n"
    "- file_path must be an absolute path.\n"
    "- old_string must match the file exactly, including indentation and line breaks, and "
    "must occur exactly once, unless replace_all is true. Add surrounding lines to make it "
    "unique. Copy text from Read's output without the line-number prefix (the number and the "
    "tab before each line).\n"
    "- replace_all: true replaces every occurrence (handy for renaming a variable).\n"
    "- new_string must differ from old_string.\n"
    "- An empty old_string creates a new file with new_string as its content.\n"
    "- To make several changes to one file, prefer MultiEdit.";

const char tool_edit_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
    "\"description\":\"The absolute path of the file to modify\"},"
    "\"old_string\":{\"type\":\"string\",\"description\":\"The text to replace\"},"
    "\"new_string\":{\"type\":\"string\",\"description\":\"The text to replace it with (must "
    "be different from old_string)\"},"
    "\"replace_all\":{\"type\":\"boolean\",\"default\":false,\"description\":\"Replace every "
    "occurrence of old_string (default false)\"}},"
    "\"required\":[\"file_path\",\"old_string\",\"new_string\"],\"additionalProperties\":false}";

const char tool_multiedit_desc[] =
    "Makes several exact string replacements in one file in one step: all of them are "
    "applied, or none.\n"
    "\n"
    "Usage:\n"
    "- Read the file first in this session, as for Edit.\n"
    "- Each edit has old_string, new_string and optional replace_all, with Edit's rules.\n"
    "- Edits are applied in order, each to the result of the one before, so an edit must "
    "match the text as the earlier edits left it.\n"
    "- If any edit fails, the file is left unchanged and the error names the edit.\n"
    "- To create a file, give a path that does not exist and an empty old_string in the "
    "first edit.";

const char tool_multiedit_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
    "\"description\":\"The absolute path of the file to modify\"},"
    "\"edits\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":1000,"
    "\"description\":\"Edits to apply in order\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"old_string\":{\"type\":\"string\",\"description\":\"The text to replace\"},"
    "\"new_string\":{\"type\":\"string\",\"description\":\"The text to replace it with\"},"
    "\"replace_all\":{\"type\":\"boolean\",\"default\":false,\"description\":\"Replace every "
    "occurrence of old_string (default false)\"}},"
    "\"required\":[\"old_string\",\"new_string\"],\"additionalProperties\":false}}},"
    "\"required\":[\"file_path\",\"edits\"],\"additionalProperties\":false}";

char *tool_edit_subject(const struct tool_ctx *ctx, const json_t *input)
{
    return tool_subject_file_path(ctx, input);
}

char *tool_multiedit_subject(const struct tool_ctx *ctx, const json_t *input)
{
    return tool_subject_file_path(ctx, input);
}

void tool_edit_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    char *p = tool_subject_file_path(ctx, input);
    buf_addf(out, "Edit %s", p ? tool_path_show(ctx, p) : "?");
    free(p);
}

void tool_multiedit_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    char *p = tool_subject_file_path(ctx, input);
    size_t n = json_array_size(json_object_get(input, "edits"));
    buf_addf(out, "MultiEdit %s (%zu edit%s)", p ? tool_path_show(ctx, p) : "?", n,
             n == 1 ? "" : "s");
    free(p);
}

struct edit_op {
    const char *old, *new_;
    size_t on, nn;
    bool all;
};

/* Every '\n' comes after a '\r' (and there is one). */
static bool all_crlf(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    if (!nl)
        return false;
    for (const char *q = nl; q; q = memchr(q + 1, '\n', (size_t)(p + n - q - 1)))
        if (q == p || q[-1] != '\r')
            return false;
    return true;
}

static void crlf_to_lf(struct buf *out, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *cr = memchr(p + i, '\r', n - i);
        size_t e = cr ? (size_t)(cr - p) : n;
        buf_add(out, p + i, e - i);
        if (!cr)
            break;
        if (e + 1 < n && p[e + 1] == '\n') {
            buf_addc(out, '\n');
            i = e + 2;
        } else {
            buf_addc(out, '\r');
            i = e + 1;
        }
    }
}

static void lf_to_crlf(struct buf *out, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - p) : n;
        buf_add(out, p + i, e - i);
        if (!nl)
            break;
        buf_addstr(out, "\r\n");
        i = e + 1;
    }
}

/* Looks like Read's "     12\t" prefix was copied into old_string. */
static bool has_line_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i > d && i < n && s[i] == '\t';
}

/* Apply one edit to cur, giving next. false with the reason in msg. *pos gets
 * the offset of the first replacement in next, *count the replacements. */
static bool apply_one(const struct buf *cur, const struct edit_op *op, struct buf *next,
                      struct buf *msg, size_t *pos, size_t *count)
{
    const char *h = buf_cstr(cur);
    size_t hn = cur->len;
    *count = 0;
    *pos = 0;
    if (op->on == 0) {
        if (hn != 0) {
            buf_addstr(msg, "old_string is empty, which creates a new file, but the file is not "
                            "empty. Put the text to replace in old_string.");
            return false;
        }
        buf_add(next, op->new_, op->nn);
        *count = 1;
        return true;
    }
    size_t first = SIZE_MAX, n = 0;
    for (const char *q = h; (size_t)(q - h) + op->on <= hn;) {
        const char *m = memmem(q, hn - (size_t)(q - h), op->old, op->on);
        if (!m)
            break;
        if (!n)
            first = (size_t)(m - h);
        n++;
        q = m + op->on;
    }
    if (n == 0) {
        buf_addstr(msg, "String to replace not found in file.");
        if (has_line_prefix(op->old, op->on))
            buf_addstr(msg, " old_string seems to start with a line-number prefix copied from "
                            "Read's output; leave the number and the tab out.");
        else
            buf_addstr(msg, " Check that old_string matches the file exactly, including "
                            "whitespace and indentation (Read the file again if unsure).");
        return false;
    }
    if (n > 1 && !op->all) {
        buf_addf(msg,
                 "Found %zu matches of the string to replace, but replace_all is false. To "
                 "replace every one, set replace_all to true; to replace only one, add "
                 "surrounding context to old_string so that it matches exactly once.",
                 n);
        return false;
    }
    if (!buf_reserve(next, hn - n * op->on + n * op->nn)) {
        buf_addf(msg, "The result would be larger than %zu bytes.", TOOL_EDIT_MAX_BYTES);
        return false;
    }
    size_t i = 0;
    for (size_t k = 0; k < n; k++) {
        const char *m = memmem(h + i, hn - i, op->old, op->on);
        size_t at = (size_t)(m - h);
        buf_add(next, h + i, at - i);
        buf_add(next, op->new_, op->nn);
        i = at + op->on;
    }
    buf_add(next, h + i, hn - i);
    *pos = first;
    *count = n;
    return true;
}

/* The shared body of Edit and MultiEdit. */
static enum brock_status run_edits(struct tool_ctx *ctx, const char *tool, const json_t *input,
                                   struct edit_op *ops, size_t nops, struct tool_result *out)
{
    size_t plen;
    const char *path = tool_arg_str(input, "file_path", &plen);
    if (!tool_check_path(ctx, tool, "file_path", path, plen, out))
        return BROCK_OK;
    for (size_t i = 0; i < nops; i++) {
        if (ops[i].on == ops[i].nn && memcmp(ops[i].old, ops[i].new_, ops[i].on) == 0) {
            if (nops == 1)
                return tool_fail(out, "No changes to make: old_string and new_string are "
                                      "exactly the same.");
            return tool_fail(out, "Edit %zu of %zu: no changes to make: old_string and "
                                  "new_string are exactly the same. Nothing was changed.",
                             i + 1, nops);
        }
        if (i > 0 && ops[i].on == 0)
            return tool_fail(out, "Edit %zu of %zu: old_string is empty; only the first edit "
                                  "may create a file. Nothing was changed.", i + 1, nops);
    }
    char *real = tool_path_resolve(ctx->cwd, path);
    const char *show = tool_path_show(ctx, real);
    struct buf raw = BUF_INIT(TOOL_EDIT_MAX_BYTES), cur = BUF_INIT(TOOL_EDIT_MAX_BYTES),
               next = BUF_INIT(TOOL_EDIT_MAX_BYTES), final = BUF_INIT(TOOL_EDIT_MAX_BYTES),
               msg = BUF_INIT(4096), tmp = BUF_INIT(TOOL_EDIT_MAX_BYTES * 2);
    struct brock_err e;
    struct stat st;
    bool exists = false, crlf = false;
    size_t pos = 0, count = 0, total = 0;
    if (stat(real, &st) == 0) {
        exists = true;
        enum brock_status s = tool_load_file(real, TOOL_EDIT_MAX_BYTES, &raw, &st, &e);
        if (s == BROCK_ERR_TOO_LARGE) {
            tool_fail(out, "%s is larger than %zu MiB; %s cannot change it.", real,
                      TOOL_EDIT_MAX_BYTES >> 20, tool);
            goto done;
        }
        if (s != BROCK_OK) {
            tool_fail(out, "Cannot edit %s: %s", real, e.msg);
            goto done;
        }
        if (memchr(buf_cstr(&raw), '\0', raw.len)) {
            tool_fail(out, "%s looks like a binary file (it has NUL bytes); %s only changes "
                           "text files.", real, tool);
            goto done;
        }
        enum tool_fcheck fc = tool_fstate_check(ctx, real, &st, buf_cstr(&raw), raw.len);
        if (fc != TOOL_FCHECK_OK) {
            tool_fail(out, "%s (%s)", tool_fcheck_message(fc), real);
            goto done;
        }
        if (ops[0].on == 0 && raw.len) {
            tool_fail(out, "Cannot create new file: %s already exists. Give the text to replace "
                           "in old_string, or use Write to replace the whole file.", real);
            goto done;
        }
        crlf = all_crlf(buf_cstr(&raw), raw.len);
        if (crlf)
            crlf_to_lf(&cur, buf_cstr(&raw), raw.len);
        else
            buf_add(&cur, buf_cstr(&raw), raw.len);
    } else if (errno == ENOENT || errno == ENOTDIR) {
        if (ops[0].on != 0) {
            tool_fail(out, "File does not exist: %s (the working directory is %s). To create "
                           "it, use Write, or an empty old_string.", real, ctx->cwd);
            goto done;
        }
    } else {
        tool_fail(out, "Cannot edit %s: %s", real, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < nops; i++) {
        struct edit_op op = ops[i];
        if (crlf) {
            /* the model sees lines without '\r'; match and write the same way */
            buf_reset(&tmp);
            crlf_to_lf(&tmp, op.old, op.on);
            size_t split = tmp.len;
            crlf_to_lf(&tmp, op.new_, op.nn);
            op.old = buf_cstr(&tmp);
            op.on = split;
            op.new_ = buf_cstr(&tmp) + split;
            op.nn = tmp.len - split;
        }
        buf_reset(&next);
        buf_reset(&msg);
        size_t p, c;
        if (!apply_one(&cur, &op, &next, &msg, &p, &c)) {
            if (nops == 1)
                tool_fail(out, "%s", buf_cstr(&msg));
            else
                tool_fail(out, "Edit %zu of %zu: %s Nothing was changed.", i + 1, nops,
                          buf_cstr(&msg));
            goto done;
        }
        if (i == 0) {
            pos = p;
            count = c;
        }
        total += c;
        struct buf t = cur;
        cur = next;
        next = t;
    }
    if (crlf)
        lf_to_crlf(&final, buf_cstr(&cur), cur.len);
    else
        buf_add(&final, buf_cstr(&cur), cur.len);
    if (buf_status(&final) != BROCK_OK) {
        tool_fail(out, "The edited file would be larger than %zu MiB.", TOOL_EDIT_MAX_BYTES >> 20);
        goto done;
    }
    if (tool_write_file(ctx, real, buf_cstr(&final), final.len, exists ? &st : NULL, &e) !=
        BROCK_OK) {
        tool_fail(out, "%s failed, nothing was changed: %s", tool, e.msg);
        goto done;
    }
    size_t added = 0, removed = 0;
    char *la = exists ? tool_diff_label(ctx, real, "a/") : xstrdup("/dev/null");
    char *lb = tool_diff_label(ctx, real, "b/");
    tool_diff_unified(&out->diff, buf_cstr(&raw), raw.len, buf_cstr(&final), final.len, la, lb,
                      &added, &removed);
    free(la);
    free(lb);
    if (buf_status(&out->diff) != BROCK_OK) {
        buf_reset(&out->diff);
        buf_addstr(&out->diff, "(diff too large to show)\n");
    }
    tool_set_summary(out, "%s %s (+%zu -%zu)", tool, show, added, removed);
    if (!exists) {
        buf_addf(&out->text, "File created successfully at: %s", real);
    } else if (nops > 1) {
        buf_addf(&out->text, "Applied %zu edits to %s (%zu replacement%s).", nops, real, total,
                 total == 1 ? "" : "s");
    } else if (count > 1) {
        buf_addf(&out->text,
                 "The file %s has been updated. All %zu occurrences of old_string were replaced "
                 "with new_string.",
                 real, count);
    } else {
        /* a numbered snippet around the change, as Read would show it */
        const char *t = buf_cstr(&cur);
        size_t first = 1; /* the line where the replacement starts */
        for (const char *q = t; (q = memchr(q, '\n', (size_t)(t + pos - q))); q++)
            first++;
        size_t changed = ops[0].nn ? tool_count_lines(ops[0].new_, ops[0].nn) : 1;
        size_t lo = first > 4 ? first - 4 : 1, hi = first + changed - 1 + 4;
        if (hi - lo + 1 > 60)
            hi = lo + 59;
        buf_addf(&out->text,
                 "The file %s has been updated. Here is the result of running `cat -n` on a "
                 "snippet of the edited file:\n",
                 real);
        tool_cat_n(&out->text, t, cur.len, lo, hi, ctx->lim.line_max_chars);
    }
done:
    buf_free(&raw);
    buf_free(&cur);
    buf_free(&next);
    buf_free(&final);
    buf_free(&msg);
    buf_free(&tmp);
    free(real);
    return BROCK_OK;
}

static void op_from(const json_t *o, struct edit_op *op)
{
    op->old = tool_arg_str(o, "old_string", &op->on);
    op->new_ = tool_arg_str(o, "new_string", &op->nn);
    op->all = tool_arg_bool(o, "replace_all", false);
    if (!op->old)
        op->old = "";
    if (!op->new_)
        op->new_ = "";
}

enum brock_status tool_edit_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    struct edit_op op;
    op_from(input, &op);
    return run_edits(ctx, "Edit", input, &op, 1, out);
}

enum brock_status tool_multiedit_run(struct tool_ctx *ctx, const json_t *input,
                                     struct tool_result *out)
{
    const json_t *edits = json_object_get(input, "edits");
    size_t n = json_array_size(edits);
    if (!n)
        return tool_fail(out, "MultiEdit: `edits` needs at least 1 item");
    struct edit_op *ops = xcalloc(n, sizeof *ops);
    for (size_t i = 0; i < n; i++)
        op_from(json_array_get(edits, i), &ops[i]);
    enum brock_status s = run_edits(ctx, "MultiEdit", input, ops, n, out);
    free(ops);
    return s;
}
