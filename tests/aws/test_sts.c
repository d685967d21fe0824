/* Tests for src/aws/sts: the XML answer parsers (the examples of
 * aws-wire-reference 3.4 and 10, and malformed, hostile and oversized
 * answers) and the three calls against the loopback fake server: the form
 * body, SigV4 (checked with the verifier, scope .../sts/aws4_request),
 * unsigned web identity, AWS errors, parameter checks before sending, and
 * the endpoint override. Secrets are checked to stay out of messages. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/client.h"
#include "../../src/aws/sigv4.h"
#include "../../src/aws/sts.h"
#include "../../src/util/timeutil.h"
#include "../support/fakesrv.h"

#define AKID "AKIDSTSTEST"
#define SECRET "SECRET-sts-test-0123456789abcdef"
#define TOKEN "TOKEN-sts-test-session-0123456789"
#define NOW_MS 1735689600000LL /* 2025-01-01T00:00:00Z */

static const char assume_role_xml[] =
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzEXAMPLEKEY</SecretAccessKey>\n"
    "      <SessionToken>IQoJb3JpZ2luX2VjEXAMPLEtokenvalue</SessionToken>\n"
    "      <Expiration>2025-01-01T13:00:00Z</Expiration>\n"
    "    </Credentials>\n"
    "    <AssumedRoleUser>\n"
    "      <AssumedRoleId>AROAEXAMPLE:claude-cli</AssumedRoleId>\n"
    "      <Arn>arn:aws:sts::111122223333:assumed-role/BedrockUser/claude-cli</Arn>\n"
    "    </AssumedRoleUser>\n"
    "    <PackedPolicySize>6</PackedPolicySize>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

static const char identity_xml[] =
    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <GetCallerIdentityResult>\n"
    "    <Arn>arn:aws:sts::123456789012:assumed-role/my-role-name/my-role-session-name</Arn>\n"
    "    <UserId>AROAEXAMPLE:my-role-session-name</UserId>\n"
    "    <Account>123456789012</Account>\n"
    "  </GetCallerIdentityResult>\n"
    "  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>\n"
    "</GetCallerIdentityResponse>\n";

/* Replace every `from` by `to` in `s` (a new string). */
static char *replace(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

/* ---- parsers ---------------------------------------------------------------- */

static void test_parse_assume_role_example(void **state)
{
    (void)state;
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, assume_role_xml, strlen(assume_role_xml), "assume role",
                                           &c, &e),
                     BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIAEXAMPLE");
    assert_string_equal(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzEXAMPLEKEY");
    assert_string_equal(c->session_token, "IQoJb3JpZ2luX2VjEXAMPLEtokenvalue");
    assert_int_equal(c->expiration_ms, 1735736400000LL); /* 2025-01-01T13:00:00Z */
    assert_string_equal(c->account_id, "111122223333");
    assert_string_equal(c->provider, "assume role");
    aws_credentials_release(c);
}

static void test_parse_web_identity_variant(void **state)
{
    (void)state;
    char *a = replace(assume_role_xml, "AssumeRoleResponse", "AssumeRoleWithWebIdentityResponse");
    char *b = replace(a, "AssumeRoleResult", "AssumeRoleWithWebIdentityResult");
    char *xml = replace(b, "<PackedPolicySize>6</PackedPolicySize>",
                        "<SubjectFromWebIdentityToken>system:sa</SubjectFromWebIdentityToken>"
                        "<Provider>oidc.eks</Provider><Audience>sts.amazonaws.com</Audience>");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE_WITH_WEB_IDENTITY, xml, strlen(xml), NULL, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIAEXAMPLE");
    assert_string_equal(c->provider, "web identity");
    aws_credentials_release(c);
    /* the AssumeRole shape is not a web identity answer, and the reverse */
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, xml, strlen(xml), NULL, &c, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "expected <AssumeRoleResponse>, found <AssumeRoleWithWebIdentityResponse>"));
    assert_null(c);
    free(a);
    free(b);
    free(xml);
}

static void test_parse_identity_example(void **state)
{
    (void)state;
    struct sts_identity id;
    struct brock_err e = {0};
    assert_int_equal(sts_parse_identity(identity_xml, strlen(identity_xml), &id, &e), BROCK_OK);
    assert_string_equal(id.arn, "arn:aws:sts::123456789012:assumed-role/my-role-name/my-role-session-name");
    assert_string_equal(id.user_id, "AROAEXAMPLE:my-role-session-name");
    assert_string_equal(id.account, "123456789012");
}

static void test_parse_missing_fields_named(void **state)
{
    (void)state;
    static const char *const fields[] = {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"};
    for (size_t i = 0; i < 4; i++) {
        char open[40], close[40];
        snprintf(open, sizeof open, "<%s>", fields[i]);
        snprintf(close, sizeof close, "</%s>", fields[i]);
        char *a = replace(assume_role_xml, open, "<Other>");
        char *xml = replace(a, close, "</Other>");
        struct aws_credentials *c = NULL;
        struct brock_err e = {0};
        assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, xml, strlen(xml), NULL, &c, &e), BROCK_ERR_PARSE);
        char want[80];
        snprintf(want, sizeof want, "<%s> is missing or empty", fields[i]);
        assert_non_null(strstr(e.msg, want));
        assert_null(strstr(e.msg, "wJalrXUtnFEMI"));
        assert_null(strstr(e.msg, "IQoJb3JpZ2lu"));
        free(a);
        free(xml);
    }
    /* without AssumedRoleUser the account is simply unknown */
    char *a = replace(assume_role_xml, "<Arn>", "<Other>");
    char *xml = replace(a, "</Arn>", "</Other>");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, xml, strlen(xml), NULL, &c, &e), BROCK_OK);
    assert_null(c->account_id);
    aws_credentials_release(c);
    free(a);
    free(xml);
}

static void test_parse_hostile_xml(void **state)
{
    (void)state;
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    /* DOCTYPE (entity expansion) refused */
    const char *dt = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
                     "<AssumeRoleResponse>&b;</AssumeRoleResponse>";
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, dt, strlen(dt), NULL, &c, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "DOCTYPE"));
    /* nesting */
    char deep[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "<a>");
    for (int i = 0; i < 40; i++)
        strcat(deep, "</a>");
    struct sts_identity id;
    assert_int_equal(sts_parse_identity(deep, strlen(deep), &id, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "nested deeper than 16"));
    /* malformed: line and column, and no secret text */
    const char *bad = "<AssumeRoleResponse><AssumeRoleResult><Credentials>\n<SecretAccessKey>TOPSECRETVALUE123<"
                      "/Credentials>";
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, bad, strlen(bad), NULL, &c, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "malformed XML at line 2"));
    assert_null(strstr(e.msg, "TOPSECRETVALUE123"));
    /* an oversized field, and an oversized answer */
    struct buf big = BUF_INIT(200000);
    buf_addstr(&big, "<AssumeRoleResponse><AssumeRoleResult><Credentials><SessionToken>");
    for (int i = 0; i < 17000; i++)
        buf_addc(&big, 'T');
    buf_addstr(&big, "</SessionToken></Credentials></AssumeRoleResult></AssumeRoleResponse>");
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, big.ptr, big.len, NULL, &c, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "<SessionToken> is longer than 16384 bytes"));
    for (int i = 0; i < 60000; i++)
        buf_addc(&big, ' ');
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, big.ptr, big.len, NULL, &c, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "larger than 65536 bytes"));
    buf_free(&big);
    /* an empty body */
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, "", 0, NULL, &c, &e), BROCK_ERR_PARSE);
    assert_null(c);
}

static void test_parse_quirks(void **state)
{
    (void)state;
    /* namespace prefixes, CDATA, entities, comments and the compact time */
    const char *xml = "<sts:AssumeRoleResponse xmlns:sts=\"x\"><sts:AssumeRoleResult><sts:Credentials>"
                      "<sts:AccessKeyId> <![CDATA[ASIA]]>XY </sts:AccessKeyId>"
                      "<sts:SecretAccessKey>S&amp;S/+=</sts:SecretAccessKey>"
                      "<sts:SessionToken>T<!-- c -->T</sts:SessionToken>"
                      "<sts:Expiration>20250101T130000Z</sts:Expiration></sts:Credentials>"
                      "</sts:AssumeRoleResult></sts:AssumeRoleResponse>";
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, xml, strlen(xml), NULL, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIAXY");
    assert_string_equal(c->secret_access_key, "S&S/+=");
    assert_string_equal(c->session_token, "TT");
    assert_int_equal(c->expiration_ms, 1735736400000LL);
    aws_credentials_release(c);
    /* a token that could not go into a header is refused, without its text */
    const char *nl = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
                     "<SecretAccessKey>S</SecretAccessKey><SessionToken>TOKEN&#10;INJECTED</SessionToken>"
                     "<Expiration>2025-01-01T13:00:00Z</Expiration></Credentials></AssumeRoleResult>"
                     "</AssumeRoleResponse>";
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, nl, strlen(nl), NULL, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_null(strstr(e.msg, "INJECTED"));
    /* a bad expiration */
    char *x = replace(assume_role_xml, "2025-01-01T13:00:00Z", "in an hour");
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, x, strlen(x), NULL, &c, &e), BROCK_ERR_PARSE);
    assert_non_null(strstr(e.msg, "<Expiration> is not an ISO-8601 time"));
    free(x);
    /* the last of a repeated element wins */
    x = replace(assume_role_xml, "<AccessKeyId>ASIAEXAMPLE</AccessKeyId>",
                "<AccessKeyId>FIRST</AccessKeyId><AccessKeyId>SECOND</AccessKeyId>");
    assert_int_equal(sts_parse_credentials(STS_ASSUME_ROLE, x, strlen(x), NULL, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "SECOND");
    aws_credentials_release(c);
    free(x);
}

/* ---- calls against the fake server -------------------------------------------- */

struct env_map {
    const char *k[8], *v[8];
    int n;
};
static const char *map_getenv(void *ctx, const char *name)
{
    struct env_map *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->k[i], name))
            return m->v[i];
    return NULL;
}

static int64_t fixed_now(void *ctx)
{
    (void)ctx;
    return NOW_MS;
}
static void no_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    (void)ms;
}
static const struct clock fixed_clock = {fixed_now, no_sleep, NULL};

struct fix {
    struct fakesrv *srv;
    struct env_map env;
    struct endpoint_lookup lk;
    struct aws_credentials *creds;
    struct aws_client *client;
};

static void fix_start(struct fix *f, bool signed_client)
{
    memset(f, 0, sizeof *f);
    f->srv = fakesrv_start(NULL);
    f->env.k[0] = "AWS_ENDPOINT_URL_STS";
    f->env.v[0] = fakesrv_url(f->srv);
    f->env.n = 1;
    f->lk = (struct endpoint_lookup){.getenv = map_getenv, .env_ctx = &f->env};
    f->creds = aws_credentials_new(AKID, SECRET, TOKEN, 0, "test");
    struct aws_client_config cfg = {
        .region = "eu-west-1",
        .lookup = &f->lk,
        .creds = signed_client ? aws_creds_source_static(f->creds) : (struct aws_creds_source){0},
        .clock = &fixed_clock,
    };
    f->client = aws_client_new(&cfg);
}

static void fix_stop(struct fix *f)
{
    aws_client_free(f->client);
    aws_credentials_release(f->creds);
    fakesrv_stop(f->srv);
}

static bool lookup_secret(void *ctx, const char *akid, struct sigv4_secret *out)
{
    (void)ctx;
    if (strcmp(akid, AKID))
        return false;
    out->secret_access_key = SECRET;
    out->session_token = TOKEN;
    return true;
}

static enum sigv4_verdict verify(const struct fakesrv_request *r, struct sigv4_verified *v)
{
    struct sigv4_header hs[64];
    size_t n = r->nheaders < 64 ? r->nheaders : 64;
    for (size_t i = 0; i < n; i++)
        hs[i] = (struct sigv4_header){r->headers[i].name, strlen(r->headers[i].name), r->headers[i].value,
                                      strlen(r->headers[i].value)};
    struct sigv4_request sr = {
        .method = r->method,
        .path = r->target,
        .path_len = strcspn(r->target, "?"),
        .headers = hs,
        .n_headers = n,
        .body = r->body,
        .body_len = r->body_len,
    };
    struct sigv4_verify_params p = {.lookup = lookup_secret, .now_s = NOW_MS / 1000};
    struct sigv4_signer *s = sigv4_signer_new();
    struct brock_err e = {0};
    if (sigv4_verify(s, &sr, &p, v, &e) != BROCK_OK)
        fprintf(stderr, "verify: %s\n", e.msg);
    sigv4_signer_free(s);
    return v->verdict;
}

static void test_get_caller_identity_signed(void **state)
{
    (void)state;
    struct fix f;
    fix_start(&f, true);
    fakesrv_push(f.srv, &(struct fakesrv_response){.headers = "Content-Type: text/xml\r\n", .body = identity_xml});
    struct sts_identity id;
    struct brock_err e = {0};
    assert_int_equal(sts_get_caller_identity(f.client, &id, &e), BROCK_OK);
    assert_string_equal(id.account, "123456789012");
    assert_string_equal(id.user_id, "AROAEXAMPLE:my-role-session-name");
    const struct fakesrv_request *r = fakesrv_request(f.srv, 0);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->target, "/");
    assert_string_equal(r->body, "Action=GetCallerIdentity&Version=2011-06-15");
    assert_string_equal(fakesrv_header(r, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
    assert_string_equal(fakesrv_header(r, "X-Amz-Security-Token"), TOKEN);
    struct sigv4_verified v;
    assert_int_equal(verify(r, &v), SIGV4_VALID);
    assert_string_equal(v.service, "sts");
    assert_string_equal(v.region, "eu-west-1");
    assert_non_null(strstr(fakesrv_header(r, "Authorization"), "/20250101/eu-west-1/sts/aws4_request"));
    fix_stop(&f);
}

static void test_error_answer(void **state)
{
    (void)state;
    struct fix f;
    fix_start(&f, true);
    fakesrv_push(f.srv,
                 &(struct fakesrv_response){
                     .status = 403,
                     .headers = "Content-Type: text/xml\r\n",
                     .body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
                             "<Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/x is not authorized to "
                             "perform: sts:AssumeRole</Message></Error><RequestId>req-77</RequestId></ErrorResponse>"});
    struct sts_assume_role p = {.role_arn = "arn:aws:iam::111122223333:role/Denied", .session_name = "s1"};
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_assume_role(f.client, &p, &c, &e), BROCK_ERR_AUTH);
    assert_null(c);
    assert_string_equal(e.aws_code, "AccessDenied");
    assert_string_equal(e.request_id, "req-77");
    assert_non_null(strstr(e.msg, "assuming role arn:aws:iam::111122223333:role/Denied: AccessDenied"));
    assert_non_null(strstr(e.msg, "not authorized"));
    assert_null(strstr(e.msg, SECRET));
    assert_null(strstr(e.msg, TOKEN));
    fix_stop(&f);
}

static void test_assume_role_body(void **state)
{
    (void)state;
    struct fix f;
    fix_start(&f, true);
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = assume_role_xml});
    struct sts_assume_role p = {
        .role_arn = "arn:aws:iam::111122223333:role/BedrockUser",
        .session_name = "claude-cli",
        .duration_s = 3600,
        .external_id = "my-external-id",
        .mfa_serial = "arn:aws:iam::111122223333:mfa/alice",
        .token_code = "123456",
        .provider = "assume role (profile ops)",
    };
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_assume_role(f.client, &p, &c, &e), BROCK_OK);
    assert_string_equal(c->provider, "assume role (profile ops)");
    const struct fakesrv_request *r = fakesrv_request(f.srv, 0);
    /* the body of aws-wire-reference 3.4, byte for byte */
    assert_string_equal(r->body, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%"
                                 "2FBedrockUser&RoleSessionName=claude-cli&DurationSeconds=3600&ExternalId=my-external-"
                                 "id&SerialNumber=arn%3Aaws%3Aiam%3A%3A111122223333%3Amfa%2Falice&TokenCode=123456");
    struct sigv4_verified v;
    assert_int_equal(verify(r, &v), SIGV4_VALID);
    aws_credentials_release(c);
    fix_stop(&f);
}

static void test_parameters_checked_before_sending(void **state)
{
    (void)state;
    struct fix f;
    fix_start(&f, true);
    struct {
        struct sts_assume_role p;
        const char *want;
    } cases[] = {
        {{.role_arn = "arn:aws:iam::1:role/x", .session_name = "has space"}, "role session name must be 2-64"},
        {{.role_arn = "arn:aws:iam::1:role/x", .session_name = "x"}, "role session name must be 2-64"},
        {{.role_arn = "arn:aws:iam::1:role/x", .session_name = "ok", .duration_s = 899}, "duration must be 900-43200"},
        {{.role_arn = "arn:aws:iam::1:role/x", .session_name = "ok", .duration_s = 43201}, "duration must be 900-43200"},
        {{.role_arn = "role/x", .session_name = "ok"}, "role ARN must start with 'arn:'"},
        {{.role_arn = "arn:aws:iam::1:role/x", .session_name = "ok", .external_id = "a"}, "external id must be 2-1224"},
        {{.role_arn = "arn:aws:iam::1:role/x", .session_name = "ok", .mfa_serial = "arn:aws:iam::1:mfa/a",
          .token_code = "12345"},
         "MFA code must be 6 digits"},
        {{.role_arn = "arn:aws:iam::1:role/x", .session_name = "ok", .mfa_serial = "arn:aws:iam::1:mfa/a"},
         "needs a token code"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct aws_credentials *c = NULL;
        struct brock_err e = {0};
        assert_int_not_equal(sts_assume_role(f.client, &cases[i].p, &c, &e), BROCK_OK);
        if (!strstr(e.msg, cases[i].want))
            fail_msg("case %zu: '%s' does not say '%s'", i, e.msg, cases[i].want);
    }
    struct sts_web_identity w = {.role_arn = "arn:aws:iam::1:role/x", .session_name = "ok", .token = "abc"};
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_assume_role_with_web_identity(f.client, &w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_non_null(strstr(e.msg, "token must be 4-20000 bytes, not 3"));
    assert_int_equal(fakesrv_request_count(f.srv), 0);
    fix_stop(&f);
}

static void test_web_identity_unsigned(void **state)
{
    (void)state;
    struct fix f;
    fix_start(&f, false); /* no credentials at all: must not be needed */
    char *a = replace(assume_role_xml, "AssumeRoleResponse", "AssumeRoleWithWebIdentityResponse");
    char *xml = replace(a, "AssumeRoleResult", "AssumeRoleWithWebIdentityResult");
    fakesrv_push(f.srv, &(struct fakesrv_response){.body = xml});
    const char *jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl+/=";
    struct sts_web_identity p = {.role_arn = "arn:aws:iam::111122223333:role/CI", .session_name = "ci-run",
                                 .token = jwt, .duration_s = 900};
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(sts_assume_role_with_web_identity(f.client, &p, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIAEXAMPLE");
    const struct fakesrv_request *r = fakesrv_request(f.srv, 0);
    assert_null(fakesrv_header(r, "Authorization"));
    assert_null(fakesrv_header(r, "X-Amz-Date"));
    assert_string_equal(r->body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%"
                                 "3A111122223333%3Arole%2FCI&RoleSessionName=ci-run&WebIdentityToken=eyJhbGciOiJSUzI1N"
                                 "iJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl%2B%2F%3D&DurationSeconds=900");
    aws_credentials_release(c);
    /* a refusal names the role, never the token */
    fakesrv_push(f.srv, &(struct fakesrv_response){
                            .status = 400,
                            .body = "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect "
                                    "provider found</Message></Error><RequestId>r2</RequestId></ErrorResponse>"});
    assert_int_equal(sts_assume_role_with_web_identity(f.client, &p, &c, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "InvalidIdentityToken");
    assert_non_null(strstr(e.msg, "arn:aws:iam::111122223333:role/CI"));
    assert_null(strstr(e.msg, "eyJhbGci"));
    free(a);
    free(xml);
    fix_stop(&f);
}

static void test_regional_endpoint_without_override(void **state)
{
    (void)state;
    /* No override: the endpoint is the regional one (checked without sending). */
    struct env_map env = {0};
    struct endpoint_lookup lk = {.getenv = map_getenv, .env_ctx = &env};
    struct aws_client_config cfg = {.region = "ap-southeast-2", .lookup = &lk};
    struct aws_client *c = aws_client_new(&cfg);
    const struct endpoint *ep;
    struct brock_err e = {0};
    assert_int_equal(aws_client_endpoint(c, ENDPOINT_SVC_STS, &ep, &e), BROCK_OK);
    assert_string_equal(ep->url, "https://sts.ap-southeast-2.amazonaws.com");
    assert_string_equal(ep->signing_name, "sts");
    aws_client_free(c);
}

int main(void)
{
    test_init();
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_assume_role_example),
        cmocka_unit_test(test_parse_web_identity_variant),
        cmocka_unit_test(test_parse_identity_example),
        cmocka_unit_test(test_parse_missing_fields_named),
        cmocka_unit_test(test_parse_hostile_xml),
        cmocka_unit_test(test_parse_quirks),
        cmocka_unit_test(test_get_caller_identity_signed),
        cmocka_unit_test(test_error_answer),
        cmocka_unit_test(test_assume_role_body),
        cmocka_unit_test(test_parameters_checked_before_sending),
        cmocka_unit_test(test_web_identity_unsigned),
        cmocka_unit_test(test_regional_endpoint_without_override),
    };
    int rc = cmocka_run_group_tests_name("sts", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
