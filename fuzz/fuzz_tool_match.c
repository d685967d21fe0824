/* fuzz_tool_match.c - glob matching, brace expansion and .gitignore rules.
 *
 * The input is split at NUL bytes: a pattern, a path, then .gitignore text.
 * Invariants: when a path "d/name" matches a pattern, the prefix test for "d"
 * (could something below d match?) says yes, so Glob never prunes a
 * directory that holds a match; every brace alternative is smaller than the
 * cap; .gitignore rules point inside the parsed text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/tools/tool_int.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *p = (const char *)data, *end = p + size;
    const char *z1 = memchr(p, '\0', size);
    const char *pat = p;
    size_t pn = z1 ? (size_t)(z1 - p) : size;
    const char *path = z1 ? z1 + 1 : end;
    const char *z2 = memchr(path, '\0', (size_t)(end - path));
    size_t sn = z2 ? (size_t)(z2 - path) : (size_t)(end - path);
    const char *ign = z2 ? z2 + 1 : end;
    size_t in = (size_t)(end - ign);

    (void)tool_wild_seg(pat, pn, path, sn);
    bool full = tool_wild_path(pat, pn, path, sn, false);
    (void)tool_wild_path(pat, pn, path, sn, true);
    /* pruning is safe: a match below d means d's prefix test is true */
    if (full && sn && path[sn - 1] != '/') {
        const char *slash = memrchr(path, '/', sn);
        if (slash) {
            size_t dn = (size_t)(slash - path);
            bool nonempty = false;
            for (size_t i = 0; i < dn; i++)
                nonempty = nonempty || path[i] != '/';
            if (nonempty)
                CHECK(tool_wild_path(pat, pn, path, dn, true));
        }
    }
    char **alts = NULL;
    size_t na = 0;
    enum brock_status s = tool_brace_expand(pat, pn, &alts, &na, NULL);
    CHECK(s == BROCK_OK || s == BROCK_ERR_TOO_LARGE);
    CHECK(na <= TOOL_BRACE_MAX);
    for (size_t i = 0; i < na; i++)
        (void)tool_wild_path(alts[i], strlen(alts[i]), path, sn, false);
    tool_strv_free(alts, na);

    struct tool_ignore *ig = tool_ignore_parse(ign, in, "/base/");
    if (ig) {
        CHECK(ig->n <= TOOL_IGNORE_RULES_MAX);
        for (size_t i = 0; i < ig->n; i++)
            CHECK(ig->rules[i].pat >= ig->text && ig->rules[i].pat + ig->rules[i].len <= ig->text + in);
        int a = tool_ignore_match(ig, path, sn, false);
        int b = tool_ignore_match(ig, path, sn, true);
        CHECK(a >= -1 && a <= 1 && b >= -1 && b <= 1);
        tool_ignore_free(ig);
    }
    return 0;
}
