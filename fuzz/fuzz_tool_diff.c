/* fuzz_tool_diff.c - the unified diff of two arbitrary texts.
 *
 * The input is split at its first NUL byte into the old and the new text.
 * The diff is applied back to the old text by a small independent patcher
 * here, which must rebuild the new text exactly; the +/- line counts must
 * match the diff's lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/tools/tool_int.h"

#include "fuzz.h"

struct lines {
    const char **p;
    size_t *n;
    size_t count;
};

static void split(const char *s, size_t n, struct lines *l)
{
    l->p = malloc((n + 1) * sizeof *l->p);
    l->n = malloc((n + 1) * sizeof *l->n);
    l->count = 0;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) + 1 : n;
        l->p[l->count] = s + i;
        l->n[l->count++] = e - i;
        i = e;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 32768)
        return 0;
    const char *a = (const char *)data;
    const char *z = memchr(a, '\0', size);
    size_t an = z ? (size_t)(z - a) : size;
    const char *b = z ? z + 1 : a + size;
    size_t bn = (size_t)(a + size - b);
    struct buf d = BUF_INIT((size_t)64 << 20);
    size_t added, removed;
    tool_diff_unified(&d, a, an, b, bn, "x", "y", &added, &removed);
    CHECK(buf_status(&d) == BROCK_OK);
    if (an == bn && !memcmp(a, b, an)) {
        CHECK(d.len == 0);
        buf_free(&d);
        return 0;
    }
    /* apply */
    struct lines la, dl;
    split(a, an, &la);
    split(d.ptr, d.len, &dl);
    CHECK(dl.count >= 3);
    CHECK(dl.n[0] == 6 && !memcmp(dl.p[0], "--- x\n", 6));
    CHECK(dl.n[1] == 6 && !memcmp(dl.p[1], "+++ y\n", 6));
    struct buf out = BUF_INIT((size_t)64 << 20);
    size_t ai = 0, plus = 0, minus = 0;
    for (size_t k = 2; k < dl.count; k++) {
        const char *l = dl.p[k];
        size_t ln = dl.n[k];
        CHECK(ln >= 2 && l[ln - 1] == '\n');
        if (l[0] == '@') {
            unsigned long s1, l1 = 1, s2, l2 = 1;
            char tmp[128];
            CHECK(ln < sizeof tmp);
            memcpy(tmp, l, ln);
            tmp[ln] = '\0';
            int got = sscanf(tmp, "@@ -%lu,%lu +%lu,%lu @@", &s1, &l1, &s2, &l2);
            if (got != 4) {
                l1 = 1;
                l2 = 1;
                if (sscanf(tmp, "@@ -%lu,%lu +%lu @@", &s1, &l1, &s2) != 3 &&
                    sscanf(tmp, "@@ -%lu +%lu,%lu @@", &s1, &s2, &l2) != 3 &&
                    sscanf(tmp, "@@ -%lu +%lu @@", &s1, &s2) != 2)
                    CHECK(0);
            }
            size_t start = l1 == 0 ? s1 : s1 - 1;
            CHECK(start >= ai && start <= la.count);
            for (; ai < start; ai++)
                buf_add(&out, la.p[ai], la.n[ai]);
            continue;
        }
        if (l[0] == '\\')
            continue;
        bool nonl = k + 1 < dl.count && dl.p[k + 1][0] == '\\';
        size_t cn = ln - 1 - (nonl ? 1 : 0); /* content without the tag (and '\n') */
        const char *c = l + 1;
        if (l[0] == ' ' || l[0] == '-') {
            CHECK(ai < la.count && la.n[ai] == cn && !memcmp(la.p[ai], c, cn));
            if (l[0] == ' ')
                buf_add(&out, c, cn);
            else
                minus++;
            ai++;
        } else {
            CHECK(l[0] == '+');
            buf_add(&out, c, cn);
            plus++;
        }
    }
    for (; ai < la.count; ai++)
        buf_add(&out, la.p[ai], la.n[ai]);
    CHECK(out.len == bn && !memcmp(buf_cstr(&out), b, bn));
    CHECK(plus == added && minus == removed);
    buf_free(&out);
    free(la.p);
    free(la.n);
    free(dl.p);
    free(dl.n);
    buf_free(&d);
    return 0;
}
