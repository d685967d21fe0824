/* Tests for src/util: buffers, codecs, time parsing and formatting, errors. */
#include "../support/test.h"

#include <stdlib.h>
#include <string.h>

#include "../../src/util/buf.h"
#include "../../src/util/codec.h"
#include "../../src/util/err.h"
#include "../../src/util/timeutil.h"

static void test_buf_cap_is_sticky(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(8);
    assert_int_equal(buf_addstr(&b, "1234"), BROCK_OK);
    assert_int_equal(buf_addstr(&b, "56789"), BROCK_ERR_TOO_LARGE);
    /* later appends are dropped too, even if they would fit */
    assert_int_equal(buf_addstr(&b, "5"), BROCK_ERR_TOO_LARGE);
    assert_int_equal(buf_status(&b), BROCK_ERR_TOO_LARGE);
    assert_string_equal(buf_cstr(&b), "1234");
    buf_reset(&b);
    assert_int_equal(buf_addf(&b, "%d-%s", 42, "ab"), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "42-ab");
    char *s = buf_take(&b);
    assert_string_equal(s, "42-ab");
    free(s);
    assert_null(b.ptr);
    buf_free(&b);
}

static void test_buf_long_format(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(100000);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(buf_addf(&b, "<%s>", big), BROCK_OK);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.ptr[0], '<');
    assert_int_equal(b.ptr[1000], '>');
    buf_free(&b);
}

/* buf_addi64 writes what "%lld" writes, at the edges too */
static void test_buf_addi64(void **state)
{
    (void)state;
    const int64_t cases[] = {0, 1, -1, 9, 10, -10, 99, 100, 1735689600000LL, -1735689600000LL,
                             INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 1000000000000000LL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = BUF_INIT(64), want = BUF_INIT(64);
        assert_int_equal(buf_addstr(&b, "x="), BROCK_OK);
        assert_int_equal(buf_addi64(&b, cases[i]), BROCK_OK);
        buf_addf(&want, "x=%lld", (long long)cases[i]);
        assert_string_equal(buf_cstr(&b), buf_cstr(&want));
        buf_free(&b);
        buf_free(&want);
    }
    /* the cap holds as for the other appends */
    struct buf s = BUF_INIT(4);
    assert_int_equal(buf_addi64(&s, 12345), BROCK_ERR_TOO_LARGE);
    buf_free(&s);
}

static void test_hex_and_base64(void **state)
{
    (void)state;
    char hex[9];
    const uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef};
    hex_encode(bytes, 4, hex);
    assert_string_equal(hex, "deadbeef");
    uint8_t back[4];
    assert_true(hex_decode("DEADbeef", 8, back));
    assert_memory_equal(back, bytes, 4);
    assert_false(hex_decode("zz", 2, back));

    const char *vec[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        struct buf e = BUF_INIT(100), d = BUF_INIT(100);
        assert_int_equal(base64_encode(&e, vec[i][0], strlen(vec[i][0])), BROCK_OK);
        assert_string_equal(buf_cstr(&e), vec[i][1]);
        assert_int_equal(base64_decode(&d, vec[i][1], strlen(vec[i][1])), BROCK_OK);
        assert_string_equal(buf_cstr(&d), vec[i][0]);
        buf_free(&e);
        buf_free(&d);
    }
    struct buf d = BUF_INIT(100);
    assert_int_equal(base64_decode(&d, "Zm9v!", 5), BROCK_ERR_PARSE);
    /* unpadded tails, every byte value, and what is refused where */
    static const struct {
        const char *in;
        enum brock_status st;
        const char *out;
    } dv[] = {
        {"Zm8", BROCK_OK, "fo"},         {"Zg", BROCK_OK, "f"},           {"Zm9vYmE", BROCK_OK, "fooba"},
        {"Zm9vYg==", BROCK_OK, "foob"},  {"Z", BROCK_ERR_PARSE, NULL},    {"Zm9vY", BROCK_ERR_PARSE, NULL},
        {"Zm=v", BROCK_ERR_PARSE, NULL}, {"Zm9v Zg", BROCK_ERR_PARSE, NULL}, {"Zm9vYm\x80", BROCK_ERR_PARSE, NULL},
        {"Zm9vY!", BROCK_ERR_PARSE, NULL}, {"Zm9vYm!", BROCK_ERR_PARSE, NULL},
    };
    for (size_t i = 0; i < sizeof dv / sizeof dv[0]; i++) {
        buf_reset(&d);
        assert_int_equal(base64_decode(&d, dv[i].in, strlen(dv[i].in)), dv[i].st);
        if (dv[i].out)
            assert_string_equal(buf_cstr(&d), dv[i].out);
    }
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    struct buf e = BUF_INIT(1000), big = BUF_INIT(1000);
    assert_int_equal(base64_encode(&e, all, sizeof all), BROCK_OK);
    assert_int_equal(base64_decode(&big, buf_cstr(&e), e.len), BROCK_OK);
    assert_int_equal(big.len, sizeof all);
    assert_memory_equal(big.ptr, all, sizeof all);
    /* past the buffer's limit: said, not cut */
    buf_reset(&d);
    assert_int_equal(base64_decode(&d, buf_cstr(&e), e.len), BROCK_ERR_TOO_LARGE);
    buf_free(&e);
    buf_free(&big);
    buf_free(&d);
}

static void test_uri_encode(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1000);
    const char *id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    assert_int_equal(uri_encode(&b, id, strlen(id), false), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0");
    buf_reset(&b);
    assert_int_equal(uri_encode(&b, "/a b/~c", 7, true), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "/a%20b/~c");
    buf_reset(&b);
    assert_int_equal(uri_decode(&b, "a%3Ab%2", 7), BROCK_OK);
    assert_string_equal(buf_cstr(&b), "a:b%2");
    buf_free(&b);
}

static void test_time_formats(void **state)
{
    (void)state;
    char amz[17], iso[21];
    time_fmt_amz(1440938160, amz); /* 2015-08-30T12:36:00Z */
    assert_string_equal(amz, "20150830T123600Z");
    time_fmt_iso8601(1440938160, iso);
    assert_string_equal(iso, "2015-08-30T12:36:00Z");
    int64_t ms;
    assert_true(time_parse_iso8601("2015-08-30T12:36:00Z", &ms));
    assert_int_equal(ms, 1440938160000LL);
    assert_true(time_parse_iso8601("20150830T123600Z", &ms));
    assert_int_equal(ms, 1440938160000LL);
    assert_true(time_parse_iso8601("2015-08-30T12:36:00.250Z", &ms));
    assert_int_equal(ms, 1440938160250LL);
    assert_true(time_parse_iso8601("2015-08-30T14:36:00+02:00", &ms));
    assert_int_equal(ms, 1440938160000LL);
    assert_true(time_parse_iso8601("2000-02-29T00:00:00Z", &ms));
    assert_int_equal(ms, 951782400000LL);
    assert_false(time_parse_iso8601("2015-13-30T12:36:00Z", &ms));
    assert_false(time_parse_iso8601("2015-08-30 junk", &ms));
    assert_false(time_parse_iso8601("", &ms));
}

static void test_err_prefix(void **state)
{
    (void)state;
    struct brock_err e = {0};
    assert_int_equal(err_set(&e, BROCK_ERR_PARSE, "line %d: bad", 3), BROCK_ERR_PARSE);
    assert_int_equal(err_prefix(&e, "reading %s", "cfg"), BROCK_ERR_PARSE);
    assert_string_equal(e.msg, "reading cfg: line 3: bad");
    assert_int_equal(err_set(NULL, BROCK_ERR_IO, "x"), BROCK_ERR_IO);
    assert_string_equal(brock_status_name(BROCK_ERR_CREDENTIALS), "credentials");
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap_is_sticky), cmocka_unit_test(test_buf_long_format),
        cmocka_unit_test(test_buf_addi64),
        cmocka_unit_test(test_hex_and_base64),    cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_time_formats),      cmocka_unit_test(test_err_prefix),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
