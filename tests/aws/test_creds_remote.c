/* Tests for the container and EC2 instance metadata providers
 * (src/aws/creds_container.c, creds_imds.c) against the loopback fake server:
 * relative and full URIs, the allowed-host rule, the Authorization token
 * (file read on every fetch, beating the variable; CR/LF refused), botocore's
 * attempts; IMDSv2 token / role / credentials, the v1 fallback on 403/404/405
 * and on a read timeout, no fallback when v1 is disabled, 400 as an error,
 * settings from the environment and the profile, static stability. */
#include "../support/test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/creds.h"
#include "../../src/util/buf.h"
#include "../../src/util/log.h"
#include "../support/fakesrv.h"

#define NOW_MS 1735689600000LL /* 2025-01-01T00:00:00Z */
#define SECRET "SECRET-remote-0123456789abcdef"
#define CTOKEN "container-auth-token-5f2b9c"

struct env_map {
    const char *k[32], *v[32];
    int n;
};
static void env_set(struct env_map *m, const char *k, const char *v)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->k[i], k)) {
            m->v[i] = v;
            return;
        }
    m->k[m->n] = k;
    m->v[m->n++] = v;
}
static const char *map_getenv(void *ctx, const char *name)
{
    struct env_map *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->k[i], name))
            return m->v[i];
    return NULL;
}

struct fake_time {
    int64_t now_ms, slept_ms;
    int sleeps;
};
static int64_t ft_now(void *ctx)
{
    return ((struct fake_time *)ctx)->now_ms;
}
static void ft_sleep(void *ctx, int64_t ms)
{
    struct fake_time *t = ctx;
    t->now_ms += ms;
    t->slept_ms += ms;
    t->sleeps++;
}
static double half(void *ctx)
{
    (void)ctx;
    return 0.5;
}

#define assert_contains(hay, needle)                                                                             \
    do {                                                                                                         \
        if (!strstr((hay), (needle)))                                                                            \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                                             \
    } while (0)
#define assert_lacks(hay, needle)                                                                                \
    do {                                                                                                         \
        if (strstr((hay), (needle)))                                                                             \
            fail_msg("'%s' contains '%s'", (hay), (needle));                                                     \
    } while (0)

static char *tmp;
static char config_path[1024];

struct world {
    struct env_map env;
    struct endpoint_lookup lk;
    struct fake_time t;
    struct clock clk;
    struct aws_profile_set *set;
    struct creds_config cfg;
    struct fakesrv *srv;
    char url[256];
};

static void world_init(struct world *w, const char *config)
{
    memset(w, 0, sizeof *w);
    w->lk = (struct endpoint_lookup){.getenv = map_getenv, .env_ctx = &w->env};
    w->t.now_ms = NOW_MS;
    w->clk = (struct clock){ft_now, ft_sleep, &w->t};
    w->set = aws_profile_set_new();
    if (config) {
        struct brock_err e = {0};
        assert_int_equal(aws_profile_set_parse(w->set, AWS_PROFILE_FILE_CONFIG, config, strlen(config), config_path, &e),
                         BROCK_OK);
    }
    w->srv = fakesrv_start(NULL);
    snprintf(w->url, sizeof w->url, "%s", fakesrv_url(w->srv));
    w->cfg = (struct creds_config){
        .profiles = w->set,
        .lookup = &w->lk,
        .clock = &w->clk,
        .container_host = w->url,
        .random = half,
    };
}

static void world_free(struct world *w)
{
    fakesrv_stop(w->srv);
    aws_profile_set_free(w->set);
}

static const char container_json[] = "{\"AccessKeyId\":\"ASIACONTAINER\",\"SecretAccessKey\":\"" SECRET "\","
                                     "\"Token\":\"TOKEN-container\",\"Expiration\":\"2025-01-01T06:00:00Z\","
                                     "\"AccountId\":\"111122223333\",\"RoleArn\":\"arn:aws:iam::111122223333:role/Task\"}";

/* ---- container ------------------------------------------------------------------- */

static void test_container_relative_uri(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL);
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f6e5d4c");
    env_set(&w.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", CTOKEN);
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = container_json});
    struct creds_provider *p = creds_provider_container(&w.cfg);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (creds_provider_get(p, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIACONTAINER");
    assert_string_equal(c->session_token, "TOKEN-container");
    assert_string_equal(c->account_id, "111122223333");
    assert_string_equal(c->provider, "container");
    assert_int_equal(c->expiration_ms, NOW_MS + 6 * 3600000LL);
    const struct fakesrv_request *r = fakesrv_request(w.srv, 0);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->target, "/v2/credentials/7f6e5d4c");
    assert_string_equal(fakesrv_header(r, "Authorization"), CTOKEN);
    assert_string_equal(fakesrv_header(r, "Accept"), "application/json");
    aws_credentials_release(c);
    /* not a path */
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/x");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'");
    /* nothing configured */
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_NOT_FOUND);
    assert_string_equal(e.msg, "container endpoint (not configured)");
    creds_provider_free(p);
    world_free(&w);
}

static void test_container_full_uri_and_token_file(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL);
    char full[300], file[1024];
    snprintf(full, sizeof full, "%s/get-credentials?a=1", w.url);
    snprintf(file, sizeof file, "%s/eks-token", tmp);
    test_write_file(file, "token-from-file-1");
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
    env_set(&w.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file);
    env_set(&w.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "token-from-env"); /* the file wins */
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = container_json});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = container_json});
    struct creds_provider *p = creds_provider_container(&w.cfg);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_OK);
    aws_credentials_release(c);
    test_write_file(file, "token-from-file-2"); /* rotated: read again */
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_OK);
    aws_credentials_release(c);
    assert_string_equal(fakesrv_request(w.srv, 0)->target, "/get-credentials?a=1");
    assert_string_equal(fakesrv_header(fakesrv_request(w.srv, 0), "Authorization"), "token-from-file-1");
    assert_string_equal(fakesrv_header(fakesrv_request(w.srv, 1), "Authorization"), "token-from-file-2");
    /* CR/LF in the token: refused before anything is sent */
    test_write_file(file, "token-from-file-3\n");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "the container authorization token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE holds a CR "
                           "or LF");
    assert_lacks(e.msg, "token-from-file");
    env_set(&w.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL);
    env_set(&w.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", CTOKEN "\r\nX-Evil: 1");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "from AWS_CONTAINER_AUTHORIZATION_TOKEN holds a CR or LF");
    assert_lacks(e.msg, CTOKEN);
    /* a missing token file */
    snprintf(file, sizeof file, "%s/no-such-token", tmp);
    env_set(&w.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ");
    assert_contains(e.msg, "no-such-token: No such file or directory");
    assert_int_equal(fakesrv_request_count(w.srv), 2);
    creds_provider_free(p);
    world_free(&w);
}

static void test_container_host_rule(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL);
    struct creds_provider *p = creds_provider_container(&w.cfg);
    static const char *const refused[] = {
        "http://169.254.169.254/latest/meta-data/", /* IMDS is not a container endpoint */
        "http://example.com/creds",
        "http://10.0.0.1:8080/creds",
        "http://[fd00:ec2::254]/creds",
        "http://127.0.0.1.nip.io/creds",
        "http://user:s3cr3tpw@127.0.0.1/creds",
        "ftp://127.0.0.1/creds",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i]);
        struct aws_credentials *c = NULL;
        struct brock_err e = {0};
        if (creds_provider_get(p, &c, &e) != BROCK_ERR_CONFIG)
            fail_msg("%s was not refused: %s", refused[i], e.msg);
        assert_contains(e.msg, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
        assert_lacks(e.msg, "s3cr3tpw");
    }
    /* loopback in other spellings is fine (it reaches our server) */
    char full[300];
    snprintf(full, sizeof full, "http://localhost:%d/creds", fakesrv_port(w.srv));
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = container_json});
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (creds_provider_get(p, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    aws_credentials_release(c);
    creds_provider_free(p);
    world_free(&w);
}

static void test_container_attempts(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL);
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds");
    struct creds_provider *p = creds_provider_container(&w.cfg);
    /* two failures, then success: three requests, two 1 s pauses */
    fakesrv_push(w.srv, &(struct fakesrv_response){.no_response = true}); /* on a fresh connection */
    fakesrv_push(w.srv, &(struct fakesrv_response){.status = 500, .body = "oops"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = container_json});
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (creds_provider_get(p, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    aws_credentials_release(c);
    assert_int_equal(fakesrv_request_count(w.srv), 3);
    assert_int_equal(w.t.sleeps, 2);
    assert_int_equal(w.t.slept_ms, 2000);
    /* three failures: an error with the status, after three attempts */
    for (int i = 0; i < 3; i++)
        fakesrv_push(w.srv, &(struct fakesrv_response){.status = 503, .body = "{\"message\":\"busy\"}"});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CREDENTIALS);
    char want[400];
    snprintf(want, sizeof want, "container endpoint %s answered HTTP 503 (3 attempts)", w.url);
    assert_contains(e.msg, want);
    assert_int_equal(fakesrv_request_count(w.srv), 6);
    /* an answer that is not credentials: no secret in the message */
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\"}"});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_PARSE);
    assert_contains(e.msg, "container credentials answer: missing Token");
    assert_lacks(e.msg, SECRET);
    creds_provider_free(p);
    world_free(&w);
}

/* ---- IMDS -------------------------------------------------------------------------- */

static const char imds_json[] = "{\"Code\":\"Success\",\"LastUpdated\":\"2025-01-01T00:00:00Z\",\"Type\":\"AWS-HMAC\","
                                "\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"" SECRET "\","
                                "\"Token\":\"TOKEN-imds\",\"Expiration\":\"2025-01-01T06:00:00Z\"}";

static void imds_env(struct world *w)
{
    env_set(&w->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", w->url);
}

static void test_imds_v2_flow(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL);
    imds_env(&w);
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "AQAEAImdsSessionToken=="});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "BedrockRole\n"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = imds_json});
    struct creds_provider *p = creds_provider_imds(&w.cfg);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (creds_provider_get(p, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAIMDS");
    assert_string_equal(c->provider, "EC2 instance metadata");
    assert_int_equal(c->expiration_ms, NOW_MS + 6 * 3600000LL);
    aws_credentials_release(c);
    const struct fakesrv_request *r0 = fakesrv_request(w.srv, 0), *r1 = fakesrv_request(w.srv, 1),
                                 *r2 = fakesrv_request(w.srv, 2);
    assert_string_equal(r0->method, "PUT");
    assert_string_equal(r0->target, "/latest/api/token");
    assert_string_equal(fakesrv_header(r0, "x-aws-ec2-metadata-token-ttl-seconds"), "21600");
    assert_string_equal(r1->target, "/latest/meta-data/iam/security-credentials/");
    assert_string_equal(fakesrv_header(r1, "x-aws-ec2-metadata-token"), "AQAEAImdsSessionToken==");
    assert_string_equal(r2->target, "/latest/meta-data/iam/security-credentials/BedrockRole");
    assert_string_equal(fakesrv_header(r2, "x-aws-ec2-metadata-token"), "AQAEAImdsSessionToken==");
    creds_provider_free(p);
    world_free(&w);
}

static void test_imds_v1_fallback(void **state)
{
    (void)state;
    static const int statuses[] = {403, 404, 405};
    for (size_t i = 0; i < 3; i++) {
        struct world w;
        world_init(&w, NULL);
        imds_env(&w);
        fakesrv_push(w.srv, &(struct fakesrv_response){.status = statuses[i]});
        fakesrv_push(w.srv, &(struct fakesrv_response){.body = "BedrockRole"});
        fakesrv_push(w.srv, &(struct fakesrv_response){.body = imds_json});
        struct aws_credentials *c = NULL;
        struct brock_err e = {0};
        struct creds_provider *p = creds_provider_imds(&w.cfg);
        if (creds_provider_get(p, &c, &e) != BROCK_OK)
            fail_msg("HTTP %d: %s", statuses[i], e.msg);
        assert_int_equal(fakesrv_request_count(w.srv), 3);
        assert_null(fakesrv_header(fakesrv_request(w.srv, 1), "x-aws-ec2-metadata-token"));
        assert_null(fakesrv_header(fakesrv_request(w.srv, 2), "x-aws-ec2-metadata-token"));
        aws_credentials_release(c);

        /* ...but not when IMDSv1 is disabled */
        env_set(&w.env, "AWS_EC2_METADATA_V1_DISABLED", "true");
        fakesrv_push(w.srv, &(struct fakesrv_response){.status = statuses[i]});
        assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CREDENTIALS);
        char want[200];
        snprintf(want, sizeof want, "EC2 instance metadata: no IMDSv2 token (the token request answered HTTP %d) and "
                                    "IMDSv1 is disabled by AWS_EC2_METADATA_V1_DISABLED",
                 statuses[i]);
        assert_contains(e.msg, want);
        assert_int_equal(fakesrv_request_count(w.srv), 4);
        creds_provider_free(p);
        world_free(&w);
    }
}

static void test_imds_400_and_other_errors(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[default]\nec2_metadata_v1_disabled = yes please\n");
    imds_env(&w);
    struct creds_provider *p = creds_provider_imds(&w.cfg);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    /* a bad setting in the profile, at its line */
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "profile 'default' ec2_metadata_v1_disabled (~/.aws/config:2)");
    creds_provider_free(p);
    aws_profile_set_free(w.set);
    w.set = aws_profile_set_new();
    w.cfg.profiles = w.set;
    p = creds_provider_imds(&w.cfg);

    fakesrv_push(w.srv, &(struct fakesrv_response){.status = 400});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "EC2 instance metadata refused the IMDSv2 token request (HTTP 400)");
    assert_int_equal(fakesrv_request_count(w.srv), 1);

    /* no role attached */
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "tok"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.status = 404});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_NOT_FOUND);
    assert_string_equal(e.msg, "EC2 instance metadata (no IAM role attached to the instance)");

    /* a metadata service that will not list a role gives no credentials
     * (botocore), so the chain goes on and says where it looked */
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "tok"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.status = 403});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_NOT_FOUND);
    assert_string_equal(e.msg, "EC2 instance metadata (listing the IAM role answered HTTP 403)");

    /* the role's credentials are an error document */
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "tok"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "Role"});
    fakesrv_push(w.srv, &(struct fakesrv_response){
                            .body = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"EC2 cannot assume the "
                                    "role Role.\",\"LastUpdated\":\"2025-01-01T00:00:00Z\"}"});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "role Role: EC2 instance metadata credentials: Code AssumeRoleUnauthorizedAccess: EC2 "
                           "cannot assume the role Role.");

    /* disabled */
    env_set(&w.env, "AWS_EC2_METADATA_DISABLED", "TRUE");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_NOT_FOUND);
    assert_string_equal(e.msg, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
    creds_provider_free(p);
    world_free(&w);
}

static void test_imds_settings(void **state)
{
    (void)state;
    struct world w;
    char config[512];
    world_init(&w, NULL);
    snprintf(config, sizeof config,
             "[default]\nec2_metadata_service_endpoint = %s/\nmetadata_service_num_attempts = 2\n"
             "[profile bad]\nec2_metadata_service_endpoint_mode = IPv5\n"
             "[profile bad2]\nmetadata_service_timeout = -1\n",
             w.url);
    struct brock_err e = {0};
    assert_int_equal(aws_profile_set_parse(w.set, AWS_PROFILE_FILE_CONFIG, config, strlen(config), config_path, &e),
                     BROCK_OK);
    /* endpoint and attempts from the profile: two failed token tries, then v1 */
    fakesrv_push(w.srv, &(struct fakesrv_response){.status = 500});
    fakesrv_push(w.srv, &(struct fakesrv_response){.status = 500});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "Role"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = imds_json});
    struct creds_provider *p = creds_provider_imds(&w.cfg);
    struct aws_credentials *c = NULL;
    if (creds_provider_get(p, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(fakesrv_request_count(w.srv), 4);
    assert_string_equal(fakesrv_request(w.srv, 1)->method, "PUT");
    assert_string_equal(fakesrv_request(w.srv, 2)->method, "GET");
    aws_credentials_release(c);
    creds_provider_free(p);

    w.cfg.profile_name = "bad";
    p = creds_provider_imds(&w.cfg);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "profile 'bad' ec2_metadata_service_endpoint_mode (~/.aws/config:5): must be IPv4 or IPv6");
    creds_provider_free(p);
    w.cfg.profile_name = "bad2";
    p = creds_provider_imds(&w.cfg);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "metadata_service_timeout (~/.aws/config:7): must be a number of seconds");
    /* the environment beats the profile */
    env_set(&w.env, "AWS_METADATA_SERVICE_TIMEOUT", "0.5");
    env_set(&w.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://192.0.2.1");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_EC2_METADATA_SERVICE_ENDPOINT: ");
    creds_provider_free(p);
    world_free(&w);
}

static void test_imds_read_timeout_falls_back(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL);
    imds_env(&w);
    env_set(&w.env, "AWS_METADATA_SERVICE_TIMEOUT", "0.3");
    fakesrv_push(w.srv, &(struct fakesrv_response){.delay_ms = 1500, .body = "late-token"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "Role"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = imds_json});
    struct creds_provider *p = creds_provider_imds(&w.cfg);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (creds_provider_get(p, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_true(fakesrv_wait_requests(w.srv, 3, 2000));
    assert_null(fakesrv_header(fakesrv_request(w.srv, 1), "x-aws-ec2-metadata-token"));
    aws_credentials_release(c);
    creds_provider_free(p);
    world_free(&w);
}

static void test_imds_static_stability(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL);
    imds_env(&w);
    struct creds_provider *p = creds_provider_imds(&w.cfg);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    /* a set that expires in 5 minutes is handed out for 15 + 2..10 more */
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "tok"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "Role"});
    fakesrv_push(w.srv, &(struct fakesrv_response){
                            .body = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIASOON\",\"SecretAccessKey\":\"s\","
                                    "\"Token\":\"t\",\"Expiration\":\"2025-01-01T00:05:00Z\"}"});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIASOON");
    assert_int_equal(c->expiration_ms, NOW_MS + (15 * 60 + 120 + 240) * 1000LL); /* jitter 0.5 -> 6 min */
    aws_credentials_release(c);
    /* a good set, then IMDS goes away; hours later the old set is reused */
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "tok"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = "Role"});
    fakesrv_push(w.srv, &(struct fakesrv_response){.body = imds_json});
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIAIMDS");
    aws_credentials_release(c);
    fakesrv_stop(w.srv);
    w.srv = NULL;
    w.t.now_ms = NOW_MS + 7 * 3600000LL;
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIAIMDS");
    assert_int_equal(c->expiration_ms, w.t.now_ms + (15 * 60 + 360) * 1000LL);
    aws_credentials_release(c);
    creds_provider_free(p);
    /* a fresh provider that never had a set: nothing to fall back on */
    p = creds_provider_imds(&w.cfg);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_NOT_FOUND);
    assert_contains(e.msg, "EC2 instance metadata (no answer from http://127.0.0.1:");
    creds_provider_free(p);
    world_free(&w);
}


/* ---- every log line of the run, checked for secrets by the last test ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct buf log_lines = BUF_INIT(16 * 1024 * 1024);

static void capture_log(void *ctx, enum log_level level, const char *line)
{
    (void)ctx;
    (void)level;
    pthread_mutex_lock(&log_mu);
    buf_addstr(&log_lines, line);
    buf_addc(&log_lines, '\n');
    pthread_mutex_unlock(&log_mu);
}

static void check_logs(const char *const *secrets, size_t n, const char *expected)
{
    pthread_mutex_lock(&log_mu);
    assert_int_equal(buf_status(&log_lines), BROCK_OK);
    const char *all = buf_cstr(&log_lines);
    assert_non_null(strstr(all, expected)); /* the capture worked */
    for (size_t i = 0; i < n; i++)
        if (strstr(all, secrets[i]))
            fail_msg("a log line holds the secret '%s'", secrets[i]);
    pthread_mutex_unlock(&log_mu);
    buf_free(&log_lines);
}

static void test_logs_hold_no_secret(void **state)
{
    (void)state;
    static const char *const secrets[] = {SECRET, CTOKEN, "token-from-file", "AQAEAImdsSessionToken", "TOKEN-imds",
                                          "TOKEN-container"};
    check_logs(secrets, sizeof secrets / sizeof secrets[0], "x-aws-ec2-metadata-token: [redacted]");
}

int main(void)
{
    test_init();
    log_setup(LOG_TRACE, capture_log, NULL);
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    const char *home = getenv("HOME");
    snprintf(config_path, sizeof config_path, "%s/.aws/config", home ? home : "/nonexistent");
    tmp = test_tmpdir();
    struct brock_err e = {0};
    if (!tmp || http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "setup failed: %s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_container_relative_uri),
        cmocka_unit_test(test_container_full_uri_and_token_file),
        cmocka_unit_test(test_container_host_rule),
        cmocka_unit_test(test_container_attempts),
        cmocka_unit_test(test_imds_v2_flow),
        cmocka_unit_test(test_imds_v1_fallback),
        cmocka_unit_test(test_imds_400_and_other_errors),
        cmocka_unit_test(test_imds_settings),
        cmocka_unit_test(test_imds_read_timeout_falls_back),
        cmocka_unit_test(test_imds_static_stability),
        cmocka_unit_test(test_logs_hold_no_secret),
    };
    int rc = cmocka_run_group_tests_name("creds_remote", tests, NULL, NULL);
    http_global_cleanup();
    free(tmp);
    return rc;
}
