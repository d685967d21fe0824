/* Tests for the audit redactor (src/monitor/audit_redact.c): a table of texts
 * that hold secrets (each must come out with exactly the expected marker and
 * nothing of the secret) and of texts that look close but hold none (each
 * must come out unchanged), plus secrets buried in noise at every offset. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/monitor/audit.h"
#include "../../src/util/alloc.h"
#include "../../src/util/timeutil.h"

struct rcase {
    const char *name;
    const char *in;
    const char *want;   /* expected output */
    const char *secret; /* a part of the secret that must not survive (NULL for negatives) */
};

#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define TOK "IQoJb3JpZ2luX2VjEFAaCXVzLWVhc3QtMSJHMEUCIQDzPq8xKc9Zb1Rm3kLs0VnA4tY2x3Wc5Ue6Rf7Gh8Ij9KlMnOpQrStUvWxYz"

static const struct rcase positives[] = {
    {"access key id", "key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED:aws-access-key-id] here", "IOSFODNN7"},
    {"temporary access key id", "ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws-access-key-id]", "Y34FZKBO"},
    {"access key id after an escaped newline", "line1\\nAKIAIOSFODNN7EXAMPLE", "line1\\n[REDACTED:aws-access-key-id]",
     "IOSFODNN7"},
    {"credential scope in a header", "Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/s3/aws4_request",
     "Credential=[REDACTED:aws-access-key-id]/20250101/us-east-1/s3/aws4_request", "IOSFODNN7"},
    {"ini secret key", "aws_secret_access_key = " SK "\nregion = x",
     "aws_secret_access_key = [REDACTED:aws-secret-access-key]\nregion = x", "bPxRfiCY"},
    {"env secret key", "export AWS_SECRET_ACCESS_KEY=\"" SK "\"",
     "export AWS_SECRET_ACCESS_KEY=\"[REDACTED:aws-secret-access-key]\"", "bPxRfiCY"},
    {"json secret key", "{\"SecretAccessKey\": \"" SK "\"}",
     "{\"SecretAccessKey\": \"[REDACTED:aws-secret-access-key]\"}", "bPxRfiCY"},
    {"escaped json secret key", "{\\\"secretAccessKey\\\":\\\"" SK "\\\"}",
     "{\\\"secretAccessKey\\\":\\\"[REDACTED:aws-secret-access-key]\\\"}", "bPxRfiCY"},
    {"xml secret key", "<SecretAccessKey>" SK "</SecretAccessKey>",
     "<SecretAccessKey>[REDACTED:aws-secret-access-key]</SecretAccessKey>", "bPxRfiCY"},
    {"yaml secret key", "secret_key: " SK, "secret_key: [REDACTED:aws-secret-access-key]", "bPxRfiCY"},
    {"session token in env", "AWS_SESSION_TOKEN=" TOK " next", "AWS_SESSION_TOKEN=[REDACTED:aws-session-token] next",
     "zPq8xKc9"},
    {"session token alone", "token " TOK ".", "token [REDACTED:aws-session-token].", "zPq8xKc9"},
    {"json session token", "\"SessionToken\":\"" TOK "\"", "\"SessionToken\":\"[REDACTED:aws-session-token]\"",
     "zPq8xKc9"},
    {"presigned security token", "?X-Amz-Security-Token=IQoJb3JpZ2luX2Vj%2FabcdefghijklmnopQRST&X-Amz-Date=1",
     "?X-Amz-Security-Token=[REDACTED:aws-session-token]&X-Amz-Date=1", "abcdefghijklmnop"},
    {"presigned signature", "&X-Amz-Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31&x=1",
     "&X-Amz-Signature=[REDACTED:signature]&x=1", "5fa00fa31553b73e"},
    {"authorization header line",
     "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nHost: "
     "x",
     "Authorization: [REDACTED:authorization]\nHost: x", "5fa00fa31553b73e"},
    {"authorization in curl", "curl -H \"Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345\" https://x",
     "curl -H \"Authorization: [REDACTED:authorization]\" https://x", "qrstuvwxyz012345"},
    {"authorization in json", "{\"authorization\":\"Basic dXNlcjpwYXNzd29yZA==\",\"a\":1}",
     "{\"authorization\":\"[REDACTED:authorization]\",\"a\":1}", "dXNlcjpwYXNz"},
    {"bearer token alone", "use bearer 0123456789abcdefghijABCDEFGHIJ now", "use bearer [REDACTED:bearer-token] now",
     "abcdefghijABCDEF"},
    {"short-term bedrock api key",
     "key=bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbg== ok",
     "key=[REDACTED:bedrock-api-key] ok", "YmVkcm9jay5hbWF6"},
    {"bedrock api key in env", "AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t",
     "AWS_BEARER_TOKEN_BEDROCK=[REDACTED:bearer-token]", "YmVkcm9jay5hbWF6"},
    {"long-term bedrock api key", "ABSKQmVkcm9ja0FQSUtleS1hYmNkZWZnaGlqa2xtbm9w", "[REDACTED:bedrock-api-key]",
     "QmVkcm9ja0FQSUtl"},
    {"private key block",
     "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98Xb\nQ0xDabc==\n-----END RSA PRIVATE "
     "KEY-----\nafter",
     "before\n[REDACTED:private-key]\nafter", "MIIEowIBAAKCAQEA"},
    {"escaped private key block",
     "\"key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0\\n-----END PRIVATE KEY-----\\n\"",
     "\"key\":\"[REDACTED:private-key]\\n\"", "MIIEvQIBADANBgkq"},
    {"private key without an end", "x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
     "x [REDACTED:private-key]", "b3BlbnNzaC1rZXkt"},
    {"github classic token", "token: ghp_1234567890abcdefghijklmnopqrstuvwxyzAB!", "token: [REDACTED:github-token]!",
     "abcdefghijklmnop"},
    {"github fine-grained token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz end",
     "[REDACTED:github-token] end", "0123456789_abcd"},
    {"slack token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "[REDACTED:slack-token]",
     "AbCdEfGhIjKl"},
    {"jwt",
     "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U "
     "x",
     "jwt [REDACTED:jwt] x", "dozjgNryP4J3"},
    {"anthropic key", "ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789",
     "ANTHROPIC_API_KEY=[REDACTED:api-key]", "abcdefghijklmnop"},
    {"google api key", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "[REDACTED:api-key]", "1234567890abcdef"},
    {"password", "db password: hunter22;", "db password: [REDACTED:password];", "hunter22"},
    {"client secret", "client_secret=9f8e7d6c5b4a39281706 rest", "client_secret=[REDACTED:api-key] rest",
     "9f8e7d6c5b4a"},
    {"two secrets", "AKIAIOSFODNN7EXAMPLE and aws_secret_access_key=" SK,
     "[REDACTED:aws-access-key-id] and aws_secret_access_key=[REDACTED:aws-secret-access-key]", "bPxRfiCY"},
};

static const struct rcase negatives[] = {
    {"prefix alone", "AKIA is the prefix of access key ids", NULL, NULL},
    {"too short key id", "AKIAIOSFODNN7EXAMPL", NULL, NULL},
    {"too long upper-case word", "AKIAIOSFODNN7EXAMPLEX", NULL, NULL},
    {"role id", "AROAEXAMPLEID:session", NULL, NULL},
    {"git sha", "commit 5fa00fa31553b73ebf1942676e86291e8372ff2a", NULL, NULL},
    {"password in prose", "The password is stored in the vault.", NULL, NULL},
    {"placeholder value", "secret_access_key = ${SECRET}", NULL, NULL},
    {"short value", "session_token: null", NULL, NULL},
    {"certificate", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgI\n-----END CERTIFICATE-----", NULL, NULL},
    {"public key", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0C\n-----END PUBLIC KEY-----", NULL, NULL},
    {"lone jwt header", "eyJhbGciOiJIUzI1NiJ9 alone", NULL, NULL},
    {"short github prefix", "ghp_short and gho_x", NULL, NULL},
    {"sk- in prose", "sk-learn is a library", NULL, NULL},
    {"uuid", "c0ffee00-1234-4abc-8def-0123456789ab", NULL, NULL},
    {"authorization in prose", "Authorization header is required", NULL, NULL},
    {"arn", "arn:aws:iam::123456789012:user/Alice", NULL, NULL},
    {"bearer in prose", "Bearer of bad news", NULL, NULL},
    {"signature not hex", "Signature=not-a-hex-value", NULL, NULL},
    {"empty", "", NULL, NULL},
    {"utf-8 text", "caf\xc3\xa9 \xe2\x82\xac 100", NULL, NULL},
};

static char *redact(const char *in, size_t *count, unsigned *kinds)
{
    struct buf b = BUF_INIT(1 << 20);
    *count = audit_redact(&b, in, strlen(in), kinds);
    assert_int_equal(buf_status(&b), BROCK_OK);
    return buf_take(&b);
}

static void test_positive(void **state)
{
    const struct rcase *c = *state;
    size_t n;
    unsigned kinds;
    char *out = redact(c->in, &n, &kinds);
    if (strcmp(out, c->want))
        fail_msg("%s:\n  got  %s\n  want %s", c->name, out, c->want);
    assert_true(n >= 1);
    assert_true(kinds != 0);
    if (c->secret && strstr(out, c->secret))
        fail_msg("%s: the secret survived: %s", c->name, out);
    free(out);
}

static void test_negative(void **state)
{
    const struct rcase *c = *state;
    size_t n;
    unsigned kinds;
    char *out = redact(c->in, &n, &kinds);
    if (strcmp(out, c->in))
        fail_msg("%s: changed to %s", c->name, out);
    assert_int_equal(n, 0);
    assert_int_equal(kinds, 0);
    free(out);
}

/* Every positive, buried in noise at many offsets and glued to neighbours
 * in different ways, is still found and nothing of it survives. */
static void test_secrets_in_noise(void **state)
{
    (void)state;
    static const char *const glue[] = {" ", "\n", "\t", "\"", "(", ",", "|", "`"};
    for (size_t i = 0; i < sizeof positives / sizeof positives[0]; i++) {
        const struct rcase *c = &positives[i];
        for (size_t pad = 0; pad < 40; pad += 7) {
            for (size_t g = 0; g < sizeof glue / sizeof glue[0]; g++) {
                struct buf in = BUF_INIT(1 << 16);
                for (size_t k = 0; k < pad; k++)
                    buf_addc(&in, "lorem ipsum "[k % 12]);
                buf_addstr(&in, glue[g]);
                buf_addstr(&in, c->in);
                buf_addstr(&in, glue[g]);
                buf_addstr(&in, "tail text");
                size_t n;
                unsigned kinds;
                char *out = redact(buf_cstr(&in), &n, &kinds);
                if (strstr(out, c->secret) || n == 0)
                    fail_msg("%s with pad %zu glue %zu: %s", c->name, pad, g, out);
                free(out);
                buf_free(&in);
            }
        }
    }
}

static void test_kinds_and_names(void **state)
{
    (void)state;
    size_t n;
    unsigned kinds;
    char *out = redact("AKIAIOSFODNN7EXAMPLE ghp_1234567890abcdefghijklmnopqrstuvwxyzAB", &n, &kinds);
    assert_int_equal(n, 2);
    assert_int_equal(kinds, (1u << AUDIT_SECRET_AWS_ACCESS_KEY_ID) | (1u << AUDIT_SECRET_GITHUB_TOKEN));
    free(out);
    for (int k = 0; k < AUDIT_SECRET_COUNT; k++)
        assert_true(strlen(audit_secret_name((enum audit_secret)k)) > 2);
    assert_string_equal(audit_secret_name(AUDIT_SECRET_PRIVATE_KEY), "private-key");
    assert_string_equal(audit_secret_name(AUDIT_SECRET_COUNT), "secret");
}

/* A megabyte of text without secrets goes through untouched, and linear:
 * a pathological run of keyword prefixes does not blow up. */
static void test_large_and_adversarial(void **state)
{
    (void)state;
    size_t big = 1 << 20;
    char *text = xmalloc(big + 1);
    for (size_t i = 0; i < big; i++)
        text[i] = "secret_ password: -----BEGIN eyJ AKIA "[i % 39];
    text[big] = '\0';
    struct buf b = BUF_INIT(4 * big);
    int64_t t0 = time_mono_ms();
    audit_redact(&b, text, big, NULL);
    int64_t ms = time_mono_ms() - t0;
    assert_true(ms < 5000);
    buf_free(&b);
    free(text);
}

int main(void)
{
    test_init();
    struct test_list l = {0};
    char name[160];
    for (size_t i = 0; i < sizeof positives / sizeof positives[0]; i++) {
        snprintf(name, sizeof name, "redacts: %s", positives[i].name);
        struct rcase *c = xmalloc(sizeof *c);
        *c = positives[i];
        test_list_add(&l, name, test_positive, c);
    }
    for (size_t i = 0; i < sizeof negatives / sizeof negatives[0]; i++) {
        snprintf(name, sizeof name, "leaves alone: %s", negatives[i].name);
        struct rcase *c = xmalloc(sizeof *c);
        *c = negatives[i];
        test_list_add(&l, name, test_negative, c);
    }
    test_list_add(&l, "secrets in noise at many offsets", test_secrets_in_noise, NULL);
    test_list_add(&l, "kinds bitmask and marker names", test_kinds_and_names, NULL);
    test_list_add(&l, "large and adversarial input", test_large_and_adversarial, NULL);
    return test_list_run("monitor_redact", &l);
}
