/* test_tool_common.h - helpers shared by the tool tests: a temporary
 * project directory, files in it, and one-line tool calls. */
#ifndef BROCK_TESTS_TOOL_COMMON_H
#define BROCK_TESTS_TOOL_COMMON_H

#include "../support/test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/tools.h"
#include "../../src/agent/tools/tool_int.h"

/* A fresh, realpath'd temporary directory. */
static inline char *tt_dir(void)
{
    char *d = test_tmpdir();
    assert_non_null(d);
    char *r = realpath(d, NULL);
    assert_non_null(r);
    free(d);
    return r;
}

static inline char *tt_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static inline void tt_mkdirs(const char *path)
{
    char *p = strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    mkdir(p, 0755);
    free(p);
}

/* Write dir/rel (creating parents) with n bytes. */
static inline char *tt_put_n(const char *dir, const char *rel, const char *data, size_t n)
{
    char *p = tt_join(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    tt_mkdirs(p);
    *slash = '/';
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}

static inline char *tt_put(const char *dir, const char *rel, const char *data)
{
    return tt_put_n(dir, rel, data, strlen(data));
}

static inline void tt_put_free(const char *dir, const char *rel, const char *data)
{
    free(tt_put(dir, rel, data));
}

static inline char *tt_slurp(const char *path)
{
    char *s = test_read_file(path, NULL);
    assert_non_null(s);
    return s;
}

static inline struct tool_ctx *tt_ctx(const char *dir, const struct tool_limits *lim)
{
    struct tool_ctx *c = NULL;
    struct brock_err e;
    assert_int_equal(tool_ctx_new(dir, lim, &c, &e), BROCK_OK);
    return c;
}

/* Run a tool; takes the reference to `in`. */
static inline enum brock_status tt_call(struct tool_ctx *c, const char *name, json_t *in,
                                        struct tool_result *r)
{
    assert_non_null(in);
    tool_result_init(r);
    enum brock_status s = tool_call_named(c, name, in, r);
    json_decref(in);
    /* every result is valid UTF-8 with a one-line summary */
    assert_int_equal(tool_utf8_valid(r->text.ptr ? r->text.ptr : "", r->text.len), r->text.len);
    assert_null(memchr(buf_cstr(&r->summary), '\n', r->summary.len));
    return s;
}

static inline const char *tt_text(const struct tool_result *r)
{
    return buf_cstr(&r->text);
}

/* Assert the text contains `needle`, printing the text when it does not. */
#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!strstr(h_, n_))                                                                       \
            fail_msg("expected to find [%s] in [%s]", n_, h_);                                     \
    } while (0)

#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (strstr(h_, n_))                                                                        \
            fail_msg("did not expect [%s] in [%s]", n_, h_);                                       \
    } while (0)

/* Read a file through the tool (so Edit/Write may change it). */
static inline void tt_read(struct tool_ctx *c, const char *path)
{
    struct tool_result r;
    tt_call(c, "Read", json_pack("{s:s}", "file_path", path), &r);
    if (r.is_error)
        fail_msg("Read %s failed: %s", path, tt_text(&r));
    tool_result_cleanup(&r);
}

#endif
