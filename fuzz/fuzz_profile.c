/* fuzz_profile.c - the shared config/credentials parser on arbitrary bytes.
 *
 * The input is split at its first NUL byte: the bytes before are a config
 * file, the bytes after a credentials file (where further NULs exercise the
 * NUL check). Both are parsed into one set; then every section, property and
 * sub-property is walked and looked up again by name (also upper-cased), and
 * the lookups must find the very objects the walk found. A broken invariant
 * aborts, so libFuzzer reports it like a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/profile.h"

#include "fuzz.h"

static void upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
    dst[i] = '\0';
}

static void walk(const struct aws_profile_set *set)
{
    char up[256], up2[256];
    for (int k = 0; k < AWS_PROFILE_KIND_COUNT; k++) {
        size_t n = 0;
        for (const struct aws_profile_section *s = aws_profile_first(set, (enum aws_profile_kind)k); s;
             s = aws_profile_next(s), n++) {
            const char *name = aws_profile_section_name(s);
            CHECK(aws_profile_section_kind(s) == (enum aws_profile_kind)k);
            CHECK(aws_profile_find(set, (enum aws_profile_kind)k, name) == s);
            if (k == AWS_PROFILE_KIND_PROFILE)
                (void)aws_profile_creds_name(aws_profile_creds_kind(s));
            for (const struct aws_profile_prop *p = aws_profile_props(s); p; p = aws_profile_prop_next(p)) {
                CHECK(aws_profile_prop(s, p->name) == p);
                CHECK(aws_profile_value(s, p->name) == p->value);
                CHECK(p->line >= 1 && p->path);
                upper(up, p->name, sizeof up);
                if (strlen(p->name) < sizeof up)
                    CHECK(aws_profile_prop(s, up) == p);
                CHECK(aws_profile_prop_has_subs(p) || !aws_profile_subs(p));
                for (const struct aws_profile_prop *sub = aws_profile_subs(p); sub; sub = aws_profile_prop_next(sub)) {
                    CHECK(aws_profile_sub(s, p->name, sub->name) == sub);
                    upper(up2, sub->name, sizeof up2);
                    if (strlen(sub->name) < sizeof up2 && strlen(p->name) < sizeof up)
                        CHECK(aws_profile_sub_value(s, up, up2) == sub->value);
                    CHECK(sub->line > p->line);
                }
            }
        }
        CHECK(n == aws_profile_count(set, (enum aws_profile_kind)k));
    }
    CHECK(!aws_profile_get(set, "\x01 no such profile"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t clen = nul ? (size_t)(nul - text) : size;

    struct aws_profile_set *set = aws_profile_set_new();
    struct brock_err e = {0};
    enum brock_status st = aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, text, clen, "config", &e);
    if (st == BROCK_OK && nul)
        st = aws_profile_set_parse(set, AWS_PROFILE_FILE_CREDENTIALS, nul + 1, size - clen - 1, "credentials", &e);
    if (st != BROCK_OK) {
        /* Every failure says where. */
        CHECK(e.status == st && e.msg[0]);
        CHECK(!strncmp(e.msg, "config", 6) || !strncmp(e.msg, "credentials", 11));
    }
    /* A set is walkable even after a failed parse. */
    walk(set);
    aws_profile_set_free(set);
    return 0;
}
