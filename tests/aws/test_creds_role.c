/* Tests for role chains and web identity (src/aws/creds_profile.c) against a
 * loopback STS: source_profile -> source_profile -> static keys, with every
 * AssumeRole call verified as AWS would (SigV4, scope .../<region>/sts/...,
 * the second hop signed with the first hop's credentials and token), the
 * profile's role settings in the body, loops and broken links reported with
 * file:line, credential_source, mfa_serial, and web identity (env and
 * profile; unsigned; the token file read again on every refresh). */
#include "../support/test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/aws/creds.h"
#include "../../src/aws/sigv4.h"
#include "../../src/util/buf.h"
#include "../../src/util/log.h"
#include "../support/fakesrv.h"

#define BASE_SECRET "SECRET-base-0123456789abcdef"
#define NOW_MS 1735689600000LL /* 2025-01-01T00:00:00Z */

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

static char config_path[1024], credentials_path[1024];
static char *tmp;

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

/* ---- the fake STS ----------------------------------------------------------------- */

/* Answers AssumeRole / AssumeRoleWithWebIdentity with credentials named after
 * the role ("ASIA<Role>", "SECRET-<Role>-xyz", "TOKEN-<Role>-xyz"); a role
 * named Denied gets AccessDenied. */
static void sts_handler(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    (void)ctx;
    char role[64] = "X";
    const char *slash = strstr(req->body, "role%2F");
    if (slash)
        sscanf(slash + 7, "%63[A-Za-z0-9]", role);
    bool web = strstr(req->body, "Action=AssumeRoleWithWebIdentity&") != NULL;
    if (!strcmp(role, "Denied")) {
        out->status = 403;
        out->body = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed to "
                    "assume Denied</Message></Error><RequestId>rid-denied</RequestId></ErrorResponse>";
        return;
    }
    const char *act = web ? "AssumeRoleWithWebIdentity" : "AssumeRole";
    char *body = malloc(2048);
    snprintf(body, 2048,
             "<%sResponse><%sResult><Credentials><AccessKeyId>ASIA%s</AccessKeyId>"
             "<SecretAccessKey>SECRET-%s-xyz</SecretAccessKey><SessionToken>TOKEN-%s-xyz</SessionToken>"
             "<Expiration>2025-01-01T01:00:00Z</Expiration></Credentials><AssumedRoleUser>"
             "<Arn>arn:aws:sts::111122223333:assumed-role/%s/s</Arn></AssumedRoleUser></%sResult></%sResponse>",
             act, act, role, role, role, role, act, act);
    out->body = body;
    out->free_body = true;
}

/* The verifier's key lookup: the base keys and every role's keys. */
static bool lookup_secret(void *ctx, const char *akid, struct sigv4_secret *out)
{
    static char secret[128], token[128];
    (void)ctx;
    if (!strcmp(akid, "AKIDBASE") || !strcmp(akid, "AKIDENV")) {
        out->secret_access_key = BASE_SECRET;
        out->session_token = NULL;
        return true;
    }
    if (strncmp(akid, "ASIA", 4))
        return false;
    snprintf(secret, sizeof secret, "SECRET-%s-xyz", akid + 4);
    snprintf(token, sizeof token, "TOKEN-%s-xyz", akid + 4);
    out->secret_access_key = secret;
    out->session_token = token;
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

struct world {
    struct env_map env;
    struct endpoint_lookup lk;
    struct aws_profile_set *set;
    struct creds_config cfg;
    struct fakesrv *srv;
};

static void world_init(struct world *w, const char *config, const char *credentials)
{
    memset(w, 0, sizeof *w);
    w->lk = (struct endpoint_lookup){.getenv = map_getenv, .env_ctx = &w->env};
    w->set = aws_profile_set_new();
    struct brock_err e = {0};
    if (config)
        assert_int_equal(aws_profile_set_parse(w->set, AWS_PROFILE_FILE_CONFIG, config, strlen(config), config_path, &e),
                         BROCK_OK);
    if (credentials)
        assert_int_equal(aws_profile_set_parse(w->set, AWS_PROFILE_FILE_CREDENTIALS, credentials, strlen(credentials),
                                               credentials_path, &e),
                         BROCK_OK);
    w->srv = fakesrv_start(NULL);
    fakesrv_set_handler(w->srv, sts_handler, NULL);
    env_set(&w->env, "AWS_ENDPOINT_URL_STS", fakesrv_url(w->srv));
    env_set(&w->env, "AWS_EC2_METADATA_DISABLED", "true");
    w->cfg = (struct creds_config){
        .profiles = w->set,
        .config_path = config_path,
        .credentials_path = credentials_path,
        .lookup = &w->lk,
        .region = "eu-central-1",
        .clock = &fixed_clock,
    };
}

static void world_free(struct world *w)
{
    fakesrv_stop(w->srv);
    aws_profile_set_free(w->set);
}

static enum brock_status get_profile(struct world *w, const char *name, struct aws_credentials **out,
                                     struct brock_err *e)
{
    struct creds_provider *p = name ? creds_provider_profile(&w->cfg, name) : creds_provider_default_chain(&w->cfg);
    enum brock_status st = creds_provider_get(p, out, e);
    creds_provider_free(p);
    return st;
}

/* A form parameter of a recorded request body ("" if absent). */
static const char *form_param(const struct fakesrv_request *r, const char *name, char *out, size_t n)
{
    char key[64];
    snprintf(key, sizeof key, "%s=", name);
    out[0] = '\0';
    for (const char *p = r->body; p && *p;) {
        if (!strncmp(p, key, strlen(key))) {
            size_t l = strcspn(p + strlen(key), "&");
            snprintf(out, n, "%.*s", (int)l, p + strlen(key));
            break;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return out;
}

/* ---- role chains -------------------------------------------------------------------- */

static void test_chain_of_two_roles(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "[profile top]\nrole_arn = arn:aws:iam::111122223333:role/Top\nsource_profile = mid\n"
               "external_id = ext-123\nduration_seconds = 1800\nrole_session_name = my-session\n"
               "[profile mid]\nrole_arn = arn:aws:iam::111122223333:role/Mid\nsource_profile = base\n",
               "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " BASE_SECRET "\n");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get_profile(&w, "top", &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIATop");
    assert_string_equal(c->session_token, "TOKEN-Top-xyz");
    assert_string_equal(c->provider, "assume role (profile top)");
    assert_string_equal(c->account_id, "111122223333");
    assert_int_equal(c->expiration_ms, NOW_MS + 3600 * 1000LL);
    aws_credentials_release(c);

    assert_int_equal(fakesrv_request_count(w.srv), 2);
    char v[256];
    /* hop 1: Mid, signed with the base keys */
    const struct fakesrv_request *r1 = fakesrv_request(w.srv, 0);
    assert_string_equal(form_param(r1, "Action", v, sizeof v), "AssumeRole");
    assert_string_equal(form_param(r1, "RoleArn", v, sizeof v), "arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FMid");
    assert_string_equal(form_param(r1, "RoleSessionName", v, sizeof v), "brock-session-1735689600");
    assert_string_equal(form_param(r1, "ExternalId", v, sizeof v), "");
    struct sigv4_verified ver;
    assert_int_equal(verify(r1, &ver), SIGV4_VALID);
    assert_string_equal(ver.access_key_id, "AKIDBASE");
    assert_string_equal(ver.service, "sts");
    assert_string_equal(ver.region, "eu-central-1");
    assert_contains(fakesrv_header(r1, "Authorization"), "Credential=AKIDBASE/20250101/eu-central-1/sts/aws4_request");
    assert_null(fakesrv_header(r1, "X-Amz-Security-Token"));
    /* hop 2: Top, signed with Mid's credentials, token included */
    const struct fakesrv_request *r2 = fakesrv_request(w.srv, 1);
    assert_string_equal(form_param(r2, "RoleArn", v, sizeof v), "arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FTop");
    assert_string_equal(form_param(r2, "ExternalId", v, sizeof v), "ext-123");
    assert_string_equal(form_param(r2, "DurationSeconds", v, sizeof v), "1800");
    assert_string_equal(form_param(r2, "RoleSessionName", v, sizeof v), "my-session");
    assert_int_equal(verify(r2, &ver), SIGV4_VALID);
    assert_string_equal(ver.access_key_id, "ASIAMid");
    assert_true(ver.has_session_token);
    assert_string_equal(fakesrv_header(r2, "X-Amz-Security-Token"), "TOKEN-Mid-xyz");
    assert_contains(fakesrv_header(r2, "Authorization"), "Credential=ASIAMid/20250101/eu-central-1/sts/aws4_request");
    world_free(&w);
}

static void test_source_profile_keys_beat_its_role(void **state)
{
    (void)state;
    /* after the first profile, static keys win over a role_arn (SDK rule) */
    struct world w;
    world_init(&w, "[profile a]\nrole_arn = arn:aws:iam::111122223333:role/RoleA\nsource_profile = b\n"
                   "[profile b]\nrole_arn = arn:aws:iam::111122223333:role/RoleB\nsource_profile = a\n",
               "[b]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " BASE_SECRET "\n");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get_profile(&w, "a", &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(fakesrv_request_count(w.srv), 1);
    assert_string_equal(c->access_key_id, "ASIARoleA");
    aws_credentials_release(c);
    world_free(&w);
}

static void test_self_reference(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[profile me]\nrole_arn = arn:aws:iam::111122223333:role/Me\nsource_profile = me\n"
                   "[profile nokeys]\nrole_arn = arn:aws:iam::111122223333:role/No\nsource_profile = nokeys\n",
               "[me]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " BASE_SECRET "\n");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    /* with its own keys: those sign the call for its own role */
    if (get_profile(&w, "me", &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAMe");
    struct sigv4_verified ver;
    assert_int_equal(verify(fakesrv_request(w.srv, 0), &ver), SIGV4_VALID);
    assert_string_equal(ver.access_key_id, "AKIDBASE");
    aws_credentials_release(c);
    /* without keys: a loop */
    assert_int_equal(get_profile(&w, "nokeys", &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "profile 'nokeys' (~/.aws/config:6): source_profile makes a loop: profile nokeys -> nokeys "
                           "(a profile may name itself only when it has its own keys)");
    world_free(&w);
}

static void test_loops_and_broken_links(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "[profile a]\nrole_arn = arn:aws:iam::111122223333:role/A\nsource_profile = b\n"
               "[profile b]\nrole_arn = arn:aws:iam::111122223333:role/B\nsource_profile = c\n"
               "[profile c]\nrole_arn = arn:aws:iam::111122223333:role/C\nsource_profile = a\n"
               "[profile dangling]\nrole_arn = arn:aws:iam::111122223333:role/D\nsource_profile = ghost\n"
               "[profile nosource]\nrole_arn = arn:aws:iam::111122223333:role/N\n"
               "[profile both]\nrole_arn = arn:aws:iam::111122223333:role/B2\nsource_profile = a\n"
               "credential_source = Environment\n"
               "[profile empty]\nregion = us-east-1\n"
               "[profile toempty]\nrole_arn = arn:aws:iam::111122223333:role/E\nsource_profile = empty\n"
               "[profile badsrc]\nrole_arn = arn:aws:iam::111122223333:role/S\ncredential_source = Laptop\n"
               "[profile baddur]\nrole_arn = arn:aws:iam::111122223333:role/T\nsource_profile = base\n"
               "duration_seconds = 100\n"
               "[profile badname]\nrole_arn = arn:aws:iam::111122223333:role/T\nsource_profile = base\n"
               "role_session_name = no spaces please\n"
               "[profile denied]\nrole_arn = arn:aws:iam::111122223333:role/Denied\nsource_profile = base\n",
               "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " BASE_SECRET "\n");
    static const struct {
        const char *profile;
        enum brock_status st;
        const char *want;
    } cases[] = {
        {"a", BROCK_ERR_CONFIG, "profile 'c' (~/.aws/config:9): source_profile makes a loop: profile a -> b -> c -> a"},
        {"dangling", BROCK_ERR_CONFIG, "profile 'dangling' (~/.aws/config:12): source_profile 'ghost' does not exist"},
        {"nosource", BROCK_ERR_CONFIG, "profile 'nosource' (~/.aws/config:14): role_arn needs source_profile or "
                                       "credential_source"},
        {"both", BROCK_ERR_CONFIG, "profile 'both' (~/.aws/config:18): source_profile and credential_source cannot "
                                   "both be set"},
        {"toempty", BROCK_ERR_CONFIG, "profile 'toempty' (~/.aws/config:23): source profile 'empty' has no "
                                      "credentials"},
        {"badsrc", BROCK_ERR_CONFIG, "profile 'badsrc' (~/.aws/config:26): credential_source must be Environment, "
                                     "Ec2InstanceMetadata or EcsContainer"},
        {"baddur", BROCK_ERR_CONFIG, "profile 'baddur' (~/.aws/config:30): duration_seconds must be a whole number "
                                     "from 900 to 43200"},
        {"badname", BROCK_ERR_CONFIG, "profile 'badname' (~/.aws/config:34): role_session_name must be 2-64"},
        {"denied", BROCK_ERR_AUTH, "profile 'denied' (~/.aws/config:36): assuming role "
                                   "arn:aws:iam::111122223333:role/Denied: AccessDenied (HTTP 403, request id "
                                   "rid-denied): not allowed to assume Denied"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct aws_credentials *c = NULL;
        struct brock_err e = {0};
        enum brock_status st = get_profile(&w, cases[i].profile, &c, &e);
        if (st != cases[i].st)
            fail_msg("%s: %s (%s)", cases[i].profile, brock_status_name(st), e.msg);
        assert_null(c);
        assert_contains(e.msg, cases[i].want);
        assert_lacks(e.msg, BASE_SECRET);
    }
    /* only "denied" reached STS */
    assert_int_equal(fakesrv_request_count(w.srv), 1);
    world_free(&w);
}

static void test_role_beats_keys_in_default_chain(void **state)
{
    (void)state;
    /* role_arn beats session keys in the same profile (SDK precedence) */
    struct world w;
    world_init(&w, "[default]\nrole_arn = arn:aws:iam::111122223333:role/Chosen\nsource_profile = base\n",
               "[default]\naws_access_key_id = AKIDIGNORED\naws_secret_access_key = x\naws_session_token = y\n"
               "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " BASE_SECRET "\n");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get_profile(&w, NULL, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAChosen");
    aws_credentials_release(c);
    world_free(&w);
}

static void test_credential_source_environment(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[profile ops]\nrole_arn = arn:aws:iam::111122223333:role/Ops\ncredential_source = Environment\n",
               NULL);
    w.cfg.profile_name = "ops";
    w.cfg.profile_explicit = true; /* --profile: env keys are still the role's source */
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_profile(&w, NULL, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "profile 'ops' (~/.aws/config:3): credential_source = Environment, but nothing was found "
                           "there: environment variables");
    env_set(&w.env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&w.env, "AWS_SECRET_ACCESS_KEY", BASE_SECRET);
    if (get_profile(&w, NULL, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAOps");
    struct sigv4_verified ver;
    assert_int_equal(verify(fakesrv_request(w.srv, 0), &ver), SIGV4_VALID);
    assert_string_equal(ver.access_key_id, "AKIDENV");
    aws_credentials_release(c);
    world_free(&w);
}

static void test_credential_source_container(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[default]\nrole_arn = arn:aws:iam::111122223333:role/FromEcs\ncredential_source = EcsContainer\n",
               NULL);
    struct fakesrv *ecs = fakesrv_start(NULL);
    fakesrv_push(ecs, &(struct fakesrv_response){
                          .body = "{\"AccessKeyId\":\"ASIATask\",\"SecretAccessKey\":\"SECRET-Task-xyz\","
                                  "\"Token\":\"TOKEN-Task-xyz\",\"Expiration\":\"2025-01-01T06:00:00Z\"}"});
    w.cfg.container_host = fakesrv_url(ecs);
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get_profile(&w, NULL, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAFromEcs");
    struct sigv4_verified ver;
    assert_int_equal(verify(fakesrv_request(w.srv, 0), &ver), SIGV4_VALID);
    assert_string_equal(ver.access_key_id, "ASIATask");
    aws_credentials_release(c);
    fakesrv_stop(ecs);
    world_free(&w);
}

static enum brock_status mfa_prompt(void *ctx, const char *serial, char code[7], struct brock_err *e)
{
    (void)e;
    *(const char **)ctx = serial;
    memcpy(code, "654321", 7);
    return BROCK_OK;
}

static void test_mfa_serial(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[default]\nrole_arn = arn:aws:iam::111122223333:role/Mfa\nsource_profile = base\n"
                   "mfa_serial = arn:aws:iam::111122223333:mfa/alice\n",
               "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " BASE_SECRET "\n");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_profile(&w, NULL, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "profile 'default' (~/.aws/config:4): the role needs an MFA code (mfa_serial = "
                           "arn:aws:iam::111122223333:mfa/alice) and brock cannot ask for one here");
    assert_int_equal(fakesrv_request_count(w.srv), 0);
    const char *asked = NULL;
    w.cfg.mfa = mfa_prompt;
    w.cfg.mfa_ctx = &asked;
    if (get_profile(&w, NULL, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(asked, "arn:aws:iam::111122223333:mfa/alice");
    char v[128];
    const struct fakesrv_request *r = fakesrv_request(w.srv, 0);
    assert_string_equal(form_param(r, "SerialNumber", v, sizeof v), "arn%3Aaws%3Aiam%3A%3A111122223333%3Amfa%2Falice");
    assert_string_equal(form_param(r, "TokenCode", v, sizeof v), "654321");
    aws_credentials_release(c);
    world_free(&w);
}

/* ---- web identity -------------------------------------------------------------------- */

#define JWT1 "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvbmUifQ.c2lnLW9uZQ"
#define JWT2 "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0d28ifQ.c2lnLXR3bw"

static void test_web_identity_env_rereads_token(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/token", tmp);
    test_write_file(path, JWT1 "\n");
    env_set(&w.env, "AWS_WEB_IDENTITY_TOKEN_FILE", path);
    env_set(&w.env, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/Web");
    env_set(&w.env, "AWS_ROLE_SESSION_NAME", "pod-7");
    struct creds_provider *p = creds_provider_web_identity(&w.cfg);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (creds_provider_get(p, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAWeb");
    assert_string_equal(c->provider, "web identity");
    aws_credentials_release(c);
    /* the token file is rotated: the next get sends the new token */
    test_write_file(path, JWT2);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_OK);
    aws_credentials_release(c);
    char v[512];
    const struct fakesrv_request *r1 = fakesrv_request(w.srv, 0), *r2 = fakesrv_request(w.srv, 1);
    assert_string_equal(form_param(r1, "Action", v, sizeof v), "AssumeRoleWithWebIdentity");
    assert_string_equal(form_param(r1, "WebIdentityToken", v, sizeof v), JWT1);
    assert_string_equal(form_param(r1, "RoleSessionName", v, sizeof v), "pod-7");
    assert_string_equal(form_param(r2, "WebIdentityToken", v, sizeof v), JWT2);
    assert_null(fakesrv_header(r1, "Authorization"));
    /* the file disappears: an error naming the file, never a token */
    remove(path);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "AWS_WEB_IDENTITY_TOKEN_FILE: cannot read the web identity token: ");
    assert_contains(e.msg, "/token: No such file or directory");
    /* a refused token */
    test_write_file(path, JWT1);
    env_set(&w.env, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/Denied");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_AUTH);
    assert_contains(e.msg, "AWS_WEB_IDENTITY_TOKEN_FILE: assuming role arn:aws:iam::111122223333:role/Denied with a "
                           "web identity token: AccessDenied");
    assert_lacks(e.msg, "eyJhbGci");
    creds_provider_free(p);
    world_free(&w);
}

static void test_web_identity_env_settings(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL, NULL);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    struct creds_provider *p = creds_provider_web_identity(&w.cfg);
    /* the role alone is ignored */
    env_set(&w.env, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/Web");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_NOT_FOUND);
    /* the file alone is an error */
    env_set(&w.env, "AWS_ROLE_ARN", NULL);
    env_set(&w.env, "AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
    env_set(&w.env, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/Web");
    env_set(&w.env, "AWS_ROLE_SESSION_NAME", "bad name!");
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_ROLE_SESSION_NAME must be 2-64");
    /* a token that is too short */
    char path[1024];
    snprintf(path, sizeof path, "%s/short-token", tmp);
    test_write_file(path, "ab\n");
    env_set(&w.env, "AWS_ROLE_SESSION_NAME", NULL);
    env_set(&w.env, "AWS_WEB_IDENTITY_TOKEN_FILE", path);
    assert_int_equal(creds_provider_get(p, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "must be 4-20000 bytes of text, not 2");
    assert_int_equal(fakesrv_request_count(w.srv), 0);
    creds_provider_free(p);
    world_free(&w);
}

static void test_web_identity_profile_and_chain_order(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/profile-token", tmp);
    test_write_file(path, JWT1);
    char config[2048];
    snprintf(config, sizeof config,
             "[profile ci]\nrole_arn = arn:aws:iam::111122223333:role/Ci\nweb_identity_token_file = %s\n"
             "role_session_name = ci-job\n"
             "[profile keys]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " BASE_SECRET "\n",
             path);
    struct world w;
    world_init(&w, config, NULL);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get_profile(&w, "ci", &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIACi");
    assert_string_equal(c->provider, "web identity (profile ci)");
    char v[256];
    assert_string_equal(form_param(fakesrv_request(w.srv, 0), "RoleSessionName", v, sizeof v), "ci-job");
    aws_credentials_release(c);
    /* in the default chain, env web identity comes before the profile's keys
     * (botocore order), but --profile disables it */
    env_set(&w.env, "AWS_WEB_IDENTITY_TOKEN_FILE", path);
    env_set(&w.env, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/EnvWeb");
    w.cfg.profile_name = "keys";
    if (get_profile(&w, NULL, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAEnvWeb");
    aws_credentials_release(c);
    w.cfg.profile_explicit = true;
    assert_int_equal(get_profile(&w, NULL, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIDBASE");
    aws_credentials_release(c);
    world_free(&w);
}

static void test_source_profile_is_web_identity(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/src-token", tmp);
    test_write_file(path, JWT2);
    char config[2048];
    snprintf(config, sizeof config,
             "[profile outer]\nrole_arn = arn:aws:iam::111122223333:role/Outer\nsource_profile = inner\n"
             "[profile inner]\nrole_arn = arn:aws:iam::111122223333:role/Inner\nweb_identity_token_file = %s\n",
             path);
    struct world w;
    world_init(&w, config, NULL);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get_profile(&w, "outer", &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIAOuter");
    char v[256];
    assert_string_equal(form_param(fakesrv_request(w.srv, 0), "Action", v, sizeof v), "AssumeRoleWithWebIdentity");
    struct sigv4_verified ver;
    assert_int_equal(verify(fakesrv_request(w.srv, 1), &ver), SIGV4_VALID);
    assert_string_equal(ver.access_key_id, "ASIAInner");
    aws_credentials_release(c);
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
    static const char *const secrets[] = {BASE_SECRET, "SECRET-Top-xyz", "SECRET-Mid-xyz", "TOKEN-Mid-xyz",
                                          "TOKEN-Top-xyz", "SECRET-Task-xyz", "TOKEN-Task-xyz", "eyJhbGci"};
    check_logs(secrets, sizeof secrets / sizeof secrets[0], "assuming role of profile 'mid'");
}

int main(void)
{
    test_init();
    log_setup(LOG_TRACE, capture_log, NULL);
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    const char *home = getenv("HOME");
    if (!home || !*home) {
        fprintf(stderr, "test_creds_role: HOME must be set\n");
        return 1;
    }
    snprintf(config_path, sizeof config_path, "%s/.aws/config", home);
    snprintf(credentials_path, sizeof credentials_path, "%s/.aws/credentials", home);
    tmp = test_tmpdir();
    struct brock_err e = {0};
    if (!tmp || http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "setup failed: %s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_of_two_roles),
        cmocka_unit_test(test_source_profile_keys_beat_its_role),
        cmocka_unit_test(test_self_reference),
        cmocka_unit_test(test_loops_and_broken_links),
        cmocka_unit_test(test_role_beats_keys_in_default_chain),
        cmocka_unit_test(test_credential_source_environment),
        cmocka_unit_test(test_credential_source_container),
        cmocka_unit_test(test_mfa_serial),
        cmocka_unit_test(test_web_identity_env_rereads_token),
        cmocka_unit_test(test_web_identity_env_settings),
        cmocka_unit_test(test_web_identity_profile_and_chain_order),
        cmocka_unit_test(test_source_profile_is_web_identity),
        cmocka_unit_test(test_logs_hold_no_secret),
    };
    int rc = cmocka_run_group_tests_name("creds_role", tests, NULL, NULL);
    http_global_cleanup();
    free(tmp);
    return rc;
}
