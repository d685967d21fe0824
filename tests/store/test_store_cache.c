/* Tests for src/store/store_cache.c: hits and misses, expiry on an injected
 * clock, LRU eviction at the size limit, replacement, stats shared between
 * handles, clear and purge, and argument checks. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/crypto.h"
#include "../../src/store/store.h"
#include "../../src/util/alloc.h"

struct fclock {
    int64_t now;
};

static int64_t fnow(void *ctx)
{
    return ((struct fclock *)ctx)->now;
}

struct fixture {
    char *dir;
    struct fclock fc;
    struct clock clock;
    struct store *s;
};

static struct store *open_with(struct fixture *f, int64_t limit)
{
    struct store_options o = {.dir = f->dir, .clock = &f->clock, .cache_max_bytes = limit};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&o, &s, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    return s;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->fc.now = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    f->clock = (struct clock){.now_ms = fnow, .ctx = &f->fc};
    f->s = open_with(f, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    free(f->dir);
    free(f);
    return 0;
}

/* The key the caller would compute: SHA-256 of a canonical request. */
static void key_of(const char *request, char hex[SHA256_HEX_LEN + 1])
{
    crypto_sha256_hex(request, strlen(request), hex);
}

static void put(struct store *s, const char *request, const char *answer, int64_t ttl)
{
    char k[SHA256_HEX_LEN + 1];
    key_of(request, k);
    struct brock_err e = {0};
    if (store_cache_put(s, k, answer, NULL, "m", ttl, &e) != BROCK_OK)
        fail_msg("put %s: %s", request, e.msg);
}

static bool get(struct store *s, const char *request, const char *want_answer)
{
    char k[SHA256_HEX_LEN + 1];
    key_of(request, k);
    struct store_cache_entry c;
    bool hit;
    struct brock_err e = {0};
    if (store_cache_get(s, k, &c, &hit, &e) != BROCK_OK)
        fail_msg("get %s: %s", request, e.msg);
    if (hit && want_answer)
        assert_string_equal(c.answer_json, want_answer);
    store_cache_entry_cleanup(&c);
    return hit;
}

static struct store_cache_stats stats(struct store *s)
{
    struct store_cache_stats st;
    struct brock_err e = {0};
    if (store_cache_stats(s, &st, &e) != BROCK_OK)
        fail_msg("stats: %s", e.msg);
    return st;
}

/* A JSON answer of exactly n bytes. */
static char *answer_of(size_t n, char fill)
{
    char *a = xmalloc(n + 1);
    memset(a, fill, n);
    a[0] = '"';
    a[n - 1] = '"';
    a[n] = '\0';
    return a;
}

static void test_store_cache_hit_and_miss(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char k[SHA256_HEX_LEN + 1];
    key_of("{\"model\":\"m\",\"messages\":[1]}", k);
    const char *answer = "{\"content\":[{\"type\":\"text\",\"text\":\"4\"}],\"usage\":{\"input_tokens\":9}}";
    assert_int_equal(store_cache_put(f->s, k, answer, "{\"cost_usd\":0.002}", "claude-haiku", 60, &e), BROCK_OK);
    f->fc.now += 5;
    struct store_cache_entry c;
    bool hit = false;
    assert_int_equal(store_cache_get(f->s, k, &c, &hit, &e), BROCK_OK);
    assert_true(hit);
    assert_string_equal(c.answer_json, answer);
    assert_int_equal(c.answer_len, strlen(answer));
    assert_string_equal(c.meta_json, "{\"cost_usd\":0.002}");
    assert_string_equal(c.model, "claude-haiku");
    assert_int_equal(c.created_ms, 1767225600000LL);
    assert_int_equal(c.expires_ms, 1767225600000LL + 60000);
    assert_int_equal(c.hits, 1);
    store_cache_entry_cleanup(&c);
    /* upper-case hex is the same key */
    char upper[SHA256_HEX_LEN + 1];
    for (int i = 0; i <= SHA256_HEX_LEN; i++)
        upper[i] = (char)(k[i] >= 'a' && k[i] <= 'f' ? k[i] - 32 : k[i]);
    assert_int_equal(store_cache_get(f->s, upper, &c, &hit, &e), BROCK_OK);
    assert_true(hit);
    assert_int_equal(c.hits, 2);
    store_cache_entry_cleanup(&c);

    assert_false(get(f->s, "another request", NULL));
    assert_false(get(f->s, "yet another", NULL));
    struct store_cache_stats st = stats(f->s);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, (int64_t)(strlen(answer) + strlen("{\"cost_usd\":0.002}") + strlen("claude-haiku")));
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.oldest_ms, 1767225600000LL);
    assert_int_equal(st.max_bytes, STORE_CACHE_DEFAULT_MAX_BYTES);
}

static void test_store_cache_expiry(void **state)
{
    struct fixture *f = *state;
    put(f->s, "req", "\"a\"", 10);
    f->fc.now += 9999;
    assert_true(get(f->s, "req", "\"a\""));
    f->fc.now += 1; /* exactly at the TTL: expired */
    assert_false(get(f->s, "req", NULL));
    struct store_cache_stats st = stats(f->s);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.hits, 1);
    /* a new put revives it */
    put(f->s, "req", "\"b\"", 10);
    assert_true(get(f->s, "req", "\"b\""));

    /* purge removes only what has expired */
    put(f->s, "short", "\"s\"", 1);
    put(f->s, "long", "\"l\"", 100);
    f->fc.now += 5000;
    int64_t removed = -1;
    struct brock_err e = {0};
    assert_int_equal(store_cache_purge(f->s, &removed, &e), BROCK_OK);
    assert_int_equal(removed, 1);
    st = stats(f->s);
    assert_int_equal(st.entries, 2); /* req (10 s from its put, 5 s ago) and long */
    assert_int_equal(st.expirations, 2);
    assert_false(get(f->s, "short", NULL));
    assert_true(get(f->s, "long", "\"l\""));
}

static void test_store_cache_lru_eviction(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    f->s = open_with(f, 1000);
    /* entry size = answer + model ("m", 1 byte) */
    char *a = answer_of(299, 'a'), *b = answer_of(299, 'b'), *c = answer_of(299, 'c'), *d = answer_of(299, 'd');
    /* the clock stands still: LRU order must not depend on milliseconds */
    put(f->s, "A", a, 3600);
    put(f->s, "B", b, 3600);
    put(f->s, "C", c, 3600);
    assert_int_equal(stats(f->s).bytes, 900);
    assert_true(get(f->s, "A", a)); /* A is now the most recently used */
    put(f->s, "D", d, 3600);           /* 1200 > 1000: evict the LRU, B */
    struct store_cache_stats st = stats(f->s);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.bytes, 900);
    assert_int_equal(st.evictions, 1);
    assert_false(get(f->s, "B", NULL));
    assert_true(get(f->s, "C", c));
    assert_true(get(f->s, "A", a));
    assert_true(get(f->s, "D", d));
    /* now LRU order is C, A, D: a 500-byte entry evicts C and A */
    char *big = answer_of(499, 'e');
    put(f->s, "E", big, 3600);
    st = stats(f->s);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.bytes, 800);
    assert_false(get(f->s, "C", NULL));
    assert_false(get(f->s, "A", NULL));
    assert_true(get(f->s, "D", d));
    assert_true(get(f->s, "E", big));

    free(big);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_store_cache_expired_evicted_first(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    f->s = open_with(f, 1000);
    char *x = answer_of(399, 'x'), *y = answer_of(399, 'y'), *z = answer_of(399, 'z');
    put(f->s, "X", x, 3600);
    put(f->s, "Y", y, 1); /* more recent, but expires first */
    f->fc.now += 2000;
    put(f->s, "Z", z, 3600); /* over the limit: Y (expired) goes, X stays */
    struct store_cache_stats st = stats(f->s);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.entries, 2);
    assert_true(get(f->s, "X", x));
    assert_true(get(f->s, "Z", z));
    free(x);
    free(y);
    free(z);
}

static void test_store_cache_replace_and_limits(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    put(f->s, "R", "\"first answer\"", 60);
    put(f->s, "R", "\"2nd\"", 60);
    assert_true(get(f->s, "R", "\"2nd\""));
    struct store_cache_stats st = stats(f->s);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, 5 + 1);

    char k[SHA256_HEX_LEN + 1];
    key_of("R", k);
    assert_int_equal(store_cache_put(f->s, "abc", "1", NULL, NULL, 60, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "64 hex digits"));
    char bad[SHA256_HEX_LEN + 1];
    memcpy(bad, k, sizeof bad);
    bad[10] = 'g';
    assert_int_equal(store_cache_put(f->s, bad, "1", NULL, NULL, 60, &e), BROCK_ERR_USAGE);
    struct store_cache_entry c;
    bool hit;
    assert_int_equal(store_cache_get(f->s, bad, &c, &hit, &e), BROCK_ERR_USAGE);
    assert_int_equal(store_cache_put(f->s, k, "{\"a\":", NULL, NULL, 60, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "not valid JSON"));
    assert_int_equal(store_cache_put(f->s, k, "1", "{bad", NULL, 60, &e), BROCK_ERR_USAGE);
    assert_int_equal(store_cache_put(f->s, k, "1", NULL, NULL, 0, &e), BROCK_ERR_USAGE);
    assert_int_equal(store_cache_put(f->s, k, "", NULL, NULL, 60, &e), BROCK_ERR_USAGE);
    /* refused puts left the old entry and the counters alone */
    assert_true(get(f->s, "R", "\"2nd\""));
    st = stats(f->s);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, 6);

    /* an entry over the whole limit is refused, not stored by evicting everything */
    store_cache_set_limit(f->s, 100);
    char *huge = answer_of(200, 'h');
    assert_int_equal(store_cache_put(f->s, k, huge, NULL, NULL, 60, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "100-byte limit"));
    assert_true(get(f->s, "R", "\"2nd\""));
    free(huge);
    store_cache_set_limit(f->s, 0);
    assert_int_equal(stats(f->s).max_bytes, STORE_CACHE_DEFAULT_MAX_BYTES);
}

static void test_store_cache_shared_and_clear(void **state)
{
    struct fixture *f = *state;
    struct store *other = open_with(f, 0);
    put(f->s, "P", "[1,2,3]", 60);
    assert_true(get(other, "P", "[1,2,3]")); /* another handle (process) sees it */
    assert_false(get(other, "Q", NULL));
    struct store_cache_stats st = stats(f->s);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    int64_t removed = -1;
    struct brock_err e = {0};
    assert_int_equal(store_cache_clear(other, &removed, &e), BROCK_OK);
    assert_int_equal(removed, 1);
    st = stats(f->s);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.misses, 0);
    assert_int_equal(st.oldest_ms, 0);
    assert_false(get(f->s, "P", NULL));
    store_close(other);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_cache_hit_and_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_cache_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_cache_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_cache_expired_evicted_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_cache_replace_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_cache_shared_and_clear, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_cache", tests, NULL, NULL);
}
