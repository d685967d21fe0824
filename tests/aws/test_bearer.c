/* Tests for src/aws/bearer: the worked API-key example of
 * aws-wire-reference.md 2.5 byte for byte, inspection, verification and its
 * rejections, and that no key, secret or token reaches an error message. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/bearer.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"
#include "../../src/util/codec.h"
#include "../../src/util/timeutil.h"

#define EX_AKID "AKIDEXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T0 1735689600 /* 20250101T000000Z, the doc example's time */

static char *dupn(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* The decoded body of the worked example in the reference, section 2.5. */
static char *doc_example_body(void)
{
    char *p = testdata_path("../docs/aws-wire-reference.md");
    char *doc = test_read_file(p, NULL);
    if (!doc)
        fail_msg("cannot read %s", p);
    free(p);
    const char *sec = strstr(doc, "### 2.5 Bedrock API keys");
    assert_non_null(sec);
    const char *a = strstr(sec, "decoded body\n");
    assert_non_null(a);
    a = strchr(a, '`');
    assert_non_null(a);
    a++;
    const char *b = strchr(a, '`');
    assert_non_null(b);
    char *body = dupn(a, (size_t)(b - a));
    free(doc);
    return body;
}

struct keyring {
    const char *akid, *secret, *token;
};

static bool lookup(void *ctx, const char *akid, struct sigv4_secret *out)
{
    const struct keyring *k = ctx;
    if (strcmp(akid, k->akid) != 0)
        return false;
    out->secret_access_key = k->secret;
    out->session_token = k->token;
    return true;
}

static enum sigv4_verdict verify(const char *token, const struct keyring *k, int64_t now,
                                 struct bearer_info *info, struct brock_err *e)
{
    struct sigv4_verify_params vp = {.lookup = lookup, .lookup_ctx = (void *)k, .now_s = now};
    struct sigv4_signer *s = sigv4_signer_new();
    struct sigv4_verified out;
    struct bearer_info local;
    struct brock_err le = {0};
    enum brock_status st =
        bearer_verify(s, token, strlen(token), &vp, info ? info : &local, &out, e ? e : &le);
    sigv4_signer_free(s);
    assert_true(st == BROCK_OK || st == BROCK_ERR_AUTH);
    assert_int_equal(st == BROCK_OK, out.verdict == SIGV4_VALID);
    return out.verdict;
}

static void test_worked_example(void **state)
{
    (void)state;
    char *body = doc_example_body();
    struct aws_credentials *c = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "test");
    char *tok = NULL;
    int64_t until = 0;
    struct brock_err e = {0};
    if (bearer_mint(c, "us-west-2", T0, 43200, &tok, &until, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    struct buf want = BUF_INIT(1 << 16);
    buf_addstr(&want, BEARER_PREFIX);
    assert_int_equal(base64_encode(&want, body, strlen(body)), BROCK_OK);
    assert_string_equal(tok, buf_cstr(&want));
    assert_int_equal(until, T0 + 43200);
    /* 0 means the default, 43200 */
    char *tok2 = NULL;
    assert_int_equal(bearer_mint(c, "us-west-2", T0, 0, &tok2, NULL, NULL), BROCK_OK);
    assert_string_equal(tok2, tok);
    xfree_secret(tok2);

    struct bearer_info info;
    assert_int_equal(bearer_inspect(tok, strlen(tok), &info, &e), BROCK_OK);
    assert_int_equal(info.kind, BEARER_SHORT_TERM);
    assert_string_equal(info.host, "bedrock.amazonaws.com");
    assert_string_equal(info.access_key_id, EX_AKID);
    assert_string_equal(info.region, "us-west-2");
    assert_string_equal(info.service, "bedrock");
    assert_string_equal(info.date, "20250101");
    assert_string_equal(info.amz_date, "20250101T000000Z");
    assert_int_equal(info.issued_s, T0);
    assert_int_equal(info.expires_s, 43200);
    assert_int_equal(info.expires_at_s, T0 + 43200);
    assert_false(info.has_session_token);
    assert_true(info.has_version);

    struct keyring k = {EX_AKID, EX_SECRET, NULL};
    assert_int_equal(verify(tok, &k, T0, NULL, NULL), SIGV4_VALID);
    assert_int_equal(verify(tok, &k, T0 + 43200, NULL, NULL), SIGV4_VALID);
    assert_int_equal(verify(tok, &k, T0 + 43201, NULL, &e), SIGV4_EXPIRED);
    assert_string_equal(e.aws_code, "InvalidSignatureException");
    assert_int_equal(e.http_status, 403);

    buf_free(&want);
    xfree_secret(tok);
    free(body);
    aws_credentials_release(c);
}

static void test_session_token_and_expiry(void **state)
{
    (void)state;
    int64_t cred_exp_ms = (int64_t)(T0 + 3600) * 1000;
    struct aws_credentials *c =
        aws_credentials_new("ASIATEMP", "temp-secret", "session/token+value=", cred_exp_ms, "sso");
    char *tok = NULL;
    int64_t until = 0;
    assert_int_equal(bearer_mint(c, "eu-west-1", T0, 7200, &tok, &until, NULL), BROCK_OK);
    assert_int_equal(until, T0 + 3600); /* the credentials run out first */
    struct bearer_info info;
    assert_int_equal(bearer_inspect(tok, strlen(tok), &info, NULL), BROCK_OK);
    assert_true(info.has_session_token);
    assert_int_equal(info.expires_s, 7200);
    assert_string_equal(info.region, "eu-west-1");

    struct keyring k = {"ASIATEMP", "temp-secret", "session/token+value="};
    assert_int_equal(verify(tok, &k, T0 + 10, &info, NULL), SIGV4_VALID);
    assert_string_equal(info.access_key_id, "ASIATEMP");
    struct keyring wrong_tok = {"ASIATEMP", "temp-secret", "other"};
    assert_int_equal(verify(tok, &wrong_tok, T0 + 10, NULL, NULL), SIGV4_BAD_TOKEN);
    struct keyring wrong_secret = {"ASIATEMP", "temp-secreT", NULL};
    assert_int_equal(verify(tok, &wrong_secret, T0 + 10, NULL, NULL), SIGV4_MISMATCH);
    struct keyring unknown = {"AKIDOTHER", "temp-secret", NULL};
    struct brock_err e = {0};
    assert_int_equal(verify(tok, &unknown, T0 + 10, NULL, &e), SIGV4_UNKNOWN_KEY);
    assert_string_equal(e.aws_code, "UnrecognizedClientException");
    /* minted far in the future: not yet current */
    assert_int_equal(verify(tok, &k, T0 - 3600, NULL, NULL), SIGV4_EXPIRED);
    xfree_secret(tok);

    /* expired credentials cannot mint */
    assert_int_equal(bearer_mint(c, "eu-west-1", T0 + 3600, 60, &tok, NULL, &e), BROCK_ERR_CREDENTIALS);
    assert_null(tok);
    assert_non_null(strstr(e.msg, "sso"));
    aws_credentials_release(c);
}

/* Flip one character of the base64 text inside the signature: still a
 * well-formed key, but the signature no longer matches. */
static void test_tampered_key(void **state)
{
    (void)state;
    struct aws_credentials *c = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "test");
    char *tok = NULL;
    assert_int_equal(bearer_mint(c, "us-east-1", T0, 900, &tok, NULL, NULL), BROCK_OK);
    struct keyring k = {EX_AKID, EX_SECRET, NULL};
    assert_int_equal(verify(tok, &k, T0, NULL, NULL), SIGV4_VALID);
    /* decode, change the region in the credential scope, encode again */
    struct buf d = BUF_INIT(1 << 16), t = BUF_INIT(1 << 16);
    const char *b64 = tok + strlen(BEARER_PREFIX);
    assert_int_equal(base64_decode(&d, b64, strlen(b64)), BROCK_OK);
    char *reg = strstr(d.ptr, "%2Fus-east-1%2F");
    assert_non_null(reg);
    memcpy(reg + 3, "us-east-2", 9);
    buf_addstr(&t, BEARER_PREFIX);
    assert_int_equal(base64_encode(&t, d.ptr, d.len), BROCK_OK);
    struct bearer_info info;
    assert_int_equal(verify(t.ptr, &k, T0, &info, NULL), SIGV4_MISMATCH);
    assert_string_equal(info.region, "us-east-2");
    /* and a changed signature digit */
    char *sig = strstr(d.ptr, "X-Amz-Signature=") + 16;
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    memcpy(reg + 3, "us-east-1", 9);
    buf_reset(&t);
    buf_addstr(&t, BEARER_PREFIX);
    assert_int_equal(base64_encode(&t, d.ptr, d.len), BROCK_OK);
    assert_int_equal(verify(t.ptr, &k, T0, NULL, NULL), SIGV4_MISMATCH);
    buf_free_secure(&d);
    buf_free_secure(&t);
    xfree_secret(tok);
    aws_credentials_release(c);
}

static void test_opaque_keys(void **state)
{
    (void)state;
    const char *longterm = "ABSKQmVkcm9ja0FQSUtleS1hYmNkLWF0LTEyMzQ1Njc4OTAxMjo=";
    struct bearer_info info;
    assert_int_equal(bearer_inspect(longterm, strlen(longterm), &info, NULL), BROCK_OK);
    assert_int_equal(info.kind, BEARER_OPAQUE);
    assert_int_equal(bearer_inspect("", 0, &info, NULL), BROCK_OK);
    assert_int_equal(info.kind, BEARER_OPAQUE);
    struct brock_err e = {0};
    struct keyring k = {EX_AKID, EX_SECRET, NULL};
    struct sigv4_verify_params vp = {.lookup = lookup, .lookup_ctx = &k, .now_s = T0};
    struct sigv4_signer *s = sigv4_signer_new();
    struct sigv4_verified out;
    assert_int_equal(bearer_verify(s, longterm, strlen(longterm), &vp, &info, &out, &e), BROCK_ERR_USAGE);
    assert_null(strstr(e.msg, longterm));
    sigv4_signer_free(s);
}

/* A presigned URL with an expiry no API key may have. */
static void test_expiry_over_limit(void **state)
{
    (void)state;
    struct aws_credentials *c = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "test");
    struct brock_err e = {0};
    char *tok = NULL;
    assert_int_equal(bearer_mint(c, "us-west-2", T0, 43201, &tok, NULL, &e), BROCK_ERR_USAGE);
    assert_null(tok);
    assert_non_null(strstr(e.msg, "43200"));

    const struct sigv4_header host = SIGV4_HEADER("host", BEARER_HOST);
    struct sigv4_request req = {.method = "POST",
                                .path = "/",
                                .path_len = 1,
                                .query = "Action=CallWithBearerToken",
                                .query_len = 26,
                                .headers = &host,
                                .n_headers = 1};
    struct sigv4_params p = {
        .creds = c, .region = "us-west-2", .service = "bedrock", .time_s = T0, .expires_s = 86400};
    struct sigv4_signer *s = sigv4_signer_new();
    const struct sigv4_output *o;
    assert_int_equal(sigv4_presign(s, &req, &p, &o, NULL), BROCK_OK);
    struct buf url = BUF_INIT(1 << 16), t = BUF_INIT(1 << 16);
    buf_addstr(&url, BEARER_HOST "/?");
    buf_add(&url, o->query, o->query_len);
    buf_addstr(&url, "&Version=1");
    buf_addstr(&t, BEARER_PREFIX);
    assert_int_equal(base64_encode(&t, url.ptr, url.len), BROCK_OK);
    struct keyring k = {EX_AKID, EX_SECRET, NULL};
    assert_int_equal(verify(t.ptr, &k, T0, NULL, &e), SIGV4_INCOMPLETE);
    assert_string_equal(e.aws_code, "IncompleteSignatureException");
    /* without the expiry limit, the same signature is fine for sigv4 */
    struct sigv4_request got = req;
    got.query = o->query;
    got.query_len = o->query_len;
    struct sigv4_verify_params vp = {.lookup = lookup, .lookup_ctx = &k, .now_s = T0};
    struct sigv4_verified out;
    assert_int_equal(sigv4_verify(s, &got, &vp, &out, NULL), BROCK_OK);
    buf_free(&url);
    buf_free(&t);
    sigv4_signer_free(s);
    aws_credentials_release(c);
}

/* Keys with the prefix that are not valid presigned URLs: a parse error that
 * names where, never the key. */
static void test_malformed_keys(void **state)
{
    (void)state;
    struct aws_credentials *c = aws_credentials_new(EX_AKID, EX_SECRET, NULL, 0, "test");
    char *good = NULL;
    assert_int_equal(bearer_mint(c, "us-west-2", T0, 60, &good, NULL, NULL), BROCK_OK);
    struct buf d = BUF_INIT(1 << 16);
    const char *b64 = good + strlen(BEARER_PREFIX);
    assert_int_equal(base64_decode(&d, b64, strlen(b64)), BROCK_OK);
    const char *url = d.ptr;

    struct {
        const char *what, *decoded, *raw, *expect;
    } cases[] = {
        {"bad base64", NULL, BEARER_PREFIX "YWJj*GVm", "offset 20"},
        {"too much padding", NULL, BEARER_PREFIX "YQ===", "padding"},
        {"empty", NULL, BEARER_PREFIX, "does not decode"},
        {"no host", "/?Action=CallWithBearerToken", NULL, "host"},
        {"no query", "bedrock.amazonaws.com/", NULL, "\"/?\""},
        {"bad host", "bed rock/?x", NULL, "offset 3"},
        {"other action", "bedrock.amazonaws.com/?Action=Other", NULL, "Action"},
        {"missing params", "bedrock.amazonaws.com/?Action=CallWithBearerToken&Version=1", NULL,
         "X-Amz-Algorithm"},
        {"bad credential", NULL, NULL, "X-Amz-Credential"},
        {"bad date", NULL, NULL, "X-Amz-Date"},
        {"bad expires", NULL, NULL, "X-Amz-Expires"},
        {"no signature", NULL, NULL, "X-Amz-Signature"},
    };
    /* the last four are the good URL with one parameter broken */
    char broken[4][4096];
    snprintf(broken[0], sizeof broken[0], "%s", url);
    memcpy(strstr(broken[0], "%2F20250101%2F"), "%2F2025010X%2F", 14);
    snprintf(broken[1], sizeof broken[1], "%s", url);
    memcpy(strstr(broken[1], "X-Amz-Date=") + 11, "2025-01-01T00:00", 16);
    snprintf(broken[2], sizeof broken[2], "%s", url);
    memcpy(strstr(broken[2], "X-Amz-Expires=") + 14, "6x", 2);
    snprintf(broken[3], sizeof broken[3], "%s", url);
    memcpy(strstr(broken[3], "X-Amz-Signature="), "X-Amz-Signaturf=", 16);
    for (size_t i = 0; i < 4; i++)
        cases[8 + i].decoded = broken[i];

    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct buf t = BUF_INIT(1 << 16);
        if (cases[i].raw) {
            buf_addstr(&t, cases[i].raw);
        } else {
            buf_addstr(&t, BEARER_PREFIX);
            assert_int_equal(base64_encode(&t, cases[i].decoded, strlen(cases[i].decoded)), BROCK_OK);
        }
        struct bearer_info info;
        struct brock_err e = {0};
        enum brock_status st = bearer_inspect(t.ptr, t.len, &info, &e);
        if (st != BROCK_ERR_PARSE || !strstr(e.msg, cases[i].expect))
            fail_msg("%s: status %s, message \"%s\" (want \"%s\")", cases[i].what, brock_status_name(st),
                     e.msg, cases[i].expect);
        if (t.len > strlen(BEARER_PREFIX))
            assert_null(strstr(e.msg, t.ptr + strlen(BEARER_PREFIX)));
        assert_null(strstr(e.msg, "Signature="));
        /* verify reports the same parse error */
        struct keyring k = {EX_AKID, EX_SECRET, NULL};
        struct sigv4_verify_params vp = {.lookup = lookup, .lookup_ctx = &k, .now_s = T0};
        struct sigv4_signer *s = sigv4_signer_new();
        struct sigv4_verified out;
        assert_int_equal(bearer_verify(s, t.ptr, t.len, &vp, &info, &out, &e), BROCK_ERR_PARSE);
        sigv4_signer_free(s);
        buf_free(&t);
    }
    /* over the size limit */
    char *big = malloc(BEARER_MAX_TOKEN + 32);
    memcpy(big, BEARER_PREFIX, strlen(BEARER_PREFIX));
    memset(big + strlen(BEARER_PREFIX), 'A', BEARER_MAX_TOKEN + 31 - strlen(BEARER_PREFIX));
    big[BEARER_MAX_TOKEN + 31] = '\0';
    struct bearer_info info;
    struct brock_err e = {0};
    assert_int_equal(bearer_inspect(big, strlen(big), &info, &e), BROCK_ERR_TOO_LARGE);
    free(big);
    buf_free_secure(&d);
    xfree_secret(good);
    aws_credentials_release(c);
}

#define LEAK_SECRET "LeakCheckSecretKey/ZZ9plural+Z-alpha0001"
#define LEAK_TOKEN "LeakCheckSessionToken//QQ77distinctive+XYZ=="

static void test_no_secret_in_errors(void **state)
{
    (void)state;
    struct aws_credentials *c = aws_credentials_new("AKIDLEAK", LEAK_SECRET, LEAK_TOKEN, 0, "test");
    struct aws_credentials *expired = aws_credentials_new("AKIDLEAK", LEAK_SECRET, LEAK_TOKEN, 1000, "test");
    struct aws_credentials *ctl = aws_credentials_new("AKIDLEAK", LEAK_SECRET, LEAK_TOKEN "\n", 0, "test");
    char *tok = NULL;
    assert_int_equal(bearer_mint(c, "us-west-2", T0, 600, &tok, NULL, NULL), BROCK_OK);
    struct buf d = BUF_INIT(1 << 16);
    assert_int_equal(base64_decode(&d, tok + strlen(BEARER_PREFIX), strlen(tok) - strlen(BEARER_PREFIX)),
                     BROCK_OK);
    const char *sig = strstr(d.ptr, "X-Amz-Signature=") + 16;
    char sighex[65];
    snprintf(sighex, sizeof sighex, "%.64s", sig);

    char *msgs[16];
    size_t nm = 0;
    struct brock_err e;
    char *t2 = NULL;
#define KEEP() (msgs[nm++] = strdup(e.msg))
    memset(&e, 0, sizeof e);
    assert_int_equal(bearer_mint(c, "us-west-2", T0, 50000, &t2, NULL, &e), BROCK_ERR_USAGE);
    KEEP();
    memset(&e, 0, sizeof e);
    assert_int_equal(bearer_mint(expired, "us-west-2", T0, 600, &t2, NULL, &e), BROCK_ERR_CREDENTIALS);
    KEEP();
    memset(&e, 0, sizeof e);
    assert_int_equal(bearer_mint(ctl, "us-west-2", T0, 600, &t2, NULL, &e), BROCK_ERR_CREDENTIALS);
    KEEP();
    memset(&e, 0, sizeof e);
    assert_int_equal(bearer_mint(c, "us/west", T0, 600, &t2, NULL, &e), BROCK_ERR_USAGE);
    KEEP();
    assert_null(t2);
    struct keyring good = {"AKIDLEAK", LEAK_SECRET, LEAK_TOKEN},
                   badtok = {"AKIDLEAK", LEAK_SECRET, "LeakCheckSessionX"},
                   badsec = {"AKIDLEAK", "LeakCheckSecretOther", NULL}, unknown = {"X", "y", NULL};
    memset(&e, 0, sizeof e);
    assert_int_equal(verify(tok, &good, T0 + 601, NULL, &e), SIGV4_EXPIRED);
    KEEP();
    memset(&e, 0, sizeof e);
    assert_int_equal(verify(tok, &badtok, T0, NULL, &e), SIGV4_BAD_TOKEN);
    KEEP();
    memset(&e, 0, sizeof e);
    assert_int_equal(verify(tok, &badsec, T0, NULL, &e), SIGV4_MISMATCH);
    KEEP();
    memset(&e, 0, sizeof e);
    assert_int_equal(verify(tok, &unknown, T0, NULL, &e), SIGV4_UNKNOWN_KEY);
    KEEP();
    memset(&e, 0, sizeof e);
    struct bearer_info info;
    char broken[64];
    snprintf(broken, sizeof broken, "%.40s*", tok);
    assert_int_equal(bearer_inspect(broken, strlen(broken), &info, &e), BROCK_ERR_PARSE);
    KEEP();
    for (size_t i = 0; i < nm; i++) {
        if (!msgs[i][0] || strstr(msgs[i], "LeakCheck") || strstr(msgs[i], sighex) ||
            strstr(msgs[i], tok + strlen(BEARER_PREFIX)) || strstr(msgs[i], broken + strlen(BEARER_PREFIX)))
            fail_msg("message %zu leaks or is empty: %s", i, msgs[i]);
        free(msgs[i]);
    }
    buf_free_secure(&d);
    xfree_secret(tok);
    aws_credentials_release(c);
    aws_credentials_release(expired);
    aws_credentials_release(ctl);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),      cmocka_unit_test(test_session_token_and_expiry),
        cmocka_unit_test(test_tampered_key),        cmocka_unit_test(test_opaque_keys),
        cmocka_unit_test(test_expiry_over_limit),   cmocka_unit_test(test_malformed_keys),
        cmocka_unit_test(test_no_secret_in_errors),
    };
    return cmocka_run_group_tests_name("bearer", tests, NULL, NULL);
}
