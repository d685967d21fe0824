/* Tests for IAM Identity Center (src/aws/sso.c, creds_sso.c) against a
 * loopback portal + OIDC server: the cache file name (SHA-1, checked against
 * FIPS 180 vectors, the wire reference's examples and OpenSSL), a valid
 * cached token, legacy sso_start_url profiles, an expired token refreshed
 * through OIDC with the cache file rewritten atomically with mode 0600 and
 * the SDK's fields, and every way it can fail: no refresh token, expired
 * registration, refused refresh, no cache file, a garbled file, a 401 from
 * the portal, bad settings (file:line). Tokens and client secrets are
 * checked to stay out of every message. */
#include "../support/test.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/aws/creds.h"
#include "../../src/aws/sso.h"
#include "../../src/util/json.h"
#include "../../src/util/buf.h"
#include "../../src/util/log.h"
#include "../support/fakesrv.h"

#define NOW_MS 1735689600000LL /* 2025-01-01T00:00:00Z */
#define ACCESS "aoaACCESS-token-0123456789abcdef"
#define REFRESH "aorREFRESH-token-0123456789abcdef"
#define CSECRET "CLIENT-secret-0123456789abcdef"
#define NEWACCESS "aoaNEW-access-token-9876543210"

struct env_map {
    const char *k[16], *v[16];
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
static void assert_no_secrets(const char *msg)
{
    assert_lacks(msg, ACCESS);
    assert_lacks(msg, REFRESH);
    assert_lacks(msg, CSECRET);
    assert_lacks(msg, NEWACCESS);
}

static char config_path[1024];

/* ---- SHA-1 -------------------------------------------------------------------- */

static void test_sha1(void **state)
{
    (void)state;
    char hex[41];
    /* FIPS 180 examples */
    sso_sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sso_sha1_hex(two, strlen(two), hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    sso_sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    /* aws-wire-reference 3.5 */
    sso_sha1_hex("my-sso", 6, hex);
    assert_string_equal(hex, "0ad374308c5a4e22f723adf10145eafad7c4031c");
    const char *url = "https://my-sso-portal.awsapps.com/start";
    sso_sha1_hex(url, strlen(url), hex);
    assert_string_equal(hex, "c7aaaf71fcc8777ae2475525ed049d39fe16c484");
    /* every length across the padding boundaries, against OpenSSL */
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof buf; n++) {
        unsigned char md[20];
        unsigned int mdl = 0;
        assert_int_equal(EVP_Digest(buf, n, md, &mdl, EVP_sha1(), NULL), 1);
        char want[41];
        for (int i = 0; i < 20; i++)
            sprintf(want + 2 * i, "%02x", md[i]);
        sso_sha1_hex(buf, n, hex);
        if (strcmp(hex, want))
            fail_msg("length %zu: %s != %s", n, hex, want);
    }
}

/* ---- the fake portal + OIDC ---------------------------------------------------------- */

struct sso_server {
    pthread_mutex_t mu;
    int portal_status; /* 0 = credentials */
    int oidc_status;   /* 0 = a new token */
    bool oidc_rotates; /* answer with a new refresh token */
};

static void sso_handler(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    struct sso_server *s = ctx;
    pthread_mutex_lock(&s->mu);
    int ps = s->portal_status, os = s->oidc_status;
    bool rot = s->oidc_rotates;
    pthread_mutex_unlock(&s->mu);
    if (!strcmp(req->target, "/token")) {
        if (os) {
            out->status = os;
            out->headers = "x-amzn-ErrorType: InvalidGrantException\r\n";
            out->body = "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid refresh token provided\"}";
            return;
        }
        out->body = rot ? "{\"accessToken\":\"" NEWACCESS "\",\"tokenType\":\"Bearer\",\"expiresIn\":28800,"
                          "\"refreshToken\":\"aorROTATED-refresh-token\"}"
                        : "{\"accessToken\":\"" NEWACCESS "\",\"tokenType\":\"Bearer\",\"expiresIn\":28800}";
        return;
    }
    if (!strncmp(req->target, "/federation/credentials?", 24)) {
        if (ps == 401) {
            out->status = 401;
            out->headers = "x-amzn-ErrorType: UnauthorizedException\r\nx-amzn-RequestId: rid-401\r\n";
            out->body = "{\"message\":\"Session token not found or invalid\"}";
            return;
        }
        if (ps) {
            out->status = ps;
            out->headers = "x-amzn-ErrorType: ForbiddenException\r\n";
            out->body = "{\"message\":\"No access\"}";
            return;
        }
        out->body = "{\"roleCredentials\":{\"accessKeyId\":\"ASIASSO\",\"secretAccessKey\":\"SECRET-sso-xyz\","
                    "\"sessionToken\":\"TOKEN-sso-xyz\",\"expiration\":1735732800000}}";
        return;
    }
    out->status = 404;
}

struct world {
    struct env_map env;
    struct endpoint_lookup lk;
    struct aws_profile_set *set;
    struct creds_config cfg;
    struct fakesrv *srv;
    struct sso_server ss;
    char *cache_dir;
};

static const char session_config[] = "[profile dev]\n"
                                     "sso_session = my-sso\n"
                                     "sso_account_id = 111122223333\n"
                                     "sso_role_name = Developer\n"
                                     "region = us-west-2\n"
                                     "[sso-session my-sso]\n"
                                     "sso_start_url = https://my-sso-portal.awsapps.com/start\n"
                                     "sso_region = us-east-1\n"
                                     "sso_registration_scopes = sso:account:access\n";

static void world_init(struct world *w, const char *config)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->ss.mu, NULL);
    w->srv = fakesrv_start(NULL);
    fakesrv_set_handler(w->srv, sso_handler, &w->ss);
    w->lk = (struct endpoint_lookup){.getenv = map_getenv, .env_ctx = &w->env};
    env_set(&w->env, "AWS_ENDPOINT_URL_SSO", fakesrv_url(w->srv));
    env_set(&w->env, "AWS_ENDPOINT_URL_SSO_OIDC", fakesrv_url(w->srv));
    w->set = aws_profile_set_new();
    struct brock_err e = {0};
    assert_int_equal(aws_profile_set_parse(w->set, AWS_PROFILE_FILE_CONFIG, config, strlen(config), config_path, &e),
                     BROCK_OK);
    w->cache_dir = test_tmpdir();
    w->cfg = (struct creds_config){
        .profiles = w->set,
        .profile_name = "dev",
        .lookup = &w->lk,
        .clock = &fixed_clock,
        .sso_cache_dir = w->cache_dir,
    };
}

static void world_free(struct world *w)
{
    fakesrv_stop(w->srv);
    aws_profile_set_free(w->set);
    pthread_mutex_destroy(&w->ss.mu);
    free(w->cache_dir);
}

static char *cache_file(struct world *w, const char *key)
{
    return sso_cache_path(w->cache_dir, key);
}

static void write_cache(struct world *w, const char *key, const char *json)
{
    char *p = cache_file(w, key);
    test_write_file(p, json);
    free(p);
}

static enum brock_status get(struct world *w, struct aws_credentials **out, struct brock_err *e)
{
    struct creds_provider *p = creds_provider_default_chain(&w->cfg);
    enum brock_status st = creds_provider_get(p, out, e);
    creds_provider_free(p);
    return st;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_valid_cached_token(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, session_config);
    write_cache(&w, "my-sso",
                "{\"startUrl\":\"https://my-sso-portal.awsapps.com/start\",\"region\":\"us-east-1\","
                "\"accessToken\":\"" ACCESS "\",\"expiresAt\":\"2025-01-01T08:00:00Z\"}");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get(&w, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "ASIASSO");
    assert_string_equal(c->secret_access_key, "SECRET-sso-xyz");
    assert_string_equal(c->session_token, "TOKEN-sso-xyz");
    assert_int_equal(c->expiration_ms, 1735732800000LL);
    assert_string_equal(c->account_id, "111122223333");
    assert_string_equal(c->provider, "IAM Identity Center (profile dev)");
    aws_credentials_release(c);
    assert_int_equal(fakesrv_request_count(w.srv), 1);
    const struct fakesrv_request *r = fakesrv_request(w.srv, 0);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->target, "/federation/credentials?role_name=Developer&account_id=111122223333");
    assert_string_equal(fakesrv_header(r, "x-amz-sso_bearer_token"), ACCESS);
    assert_null(fakesrv_header(r, "Authorization"));
    world_free(&w);
}

static void test_legacy_profile(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[profile dev]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = eu-west-1\n"
                   "sso_account_id = 444455556666\nsso_role_name = Old Role\n");
    /* the cache file is named after the start URL */
    write_cache(&w, "https://legacy.awsapps.com/start",
                "{\"accessToken\":\"" ACCESS "\",\"expiresAt\":\"2025-01-01T08:00:00UTC\"}");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get(&w, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->account_id, "444455556666");
    assert_string_equal(fakesrv_request(w.srv, 0)->target,
                        "/federation/credentials?role_name=Old%20Role&account_id=444455556666");
    aws_credentials_release(c);
    world_free(&w);
}

static const char refreshable[] = "{\"startUrl\":\"https://my-sso-portal.awsapps.com/start\",\"region\":\"us-east-1\","
                                  "\"accessToken\":\"" ACCESS "\",\"expiresAt\":\"2024-12-31T23:00:00Z\","
                                  "\"clientId\":\"client-id-123\",\"clientSecret\":\"" CSECRET "\","
                                  "\"registrationExpiresAt\":\"2025-03-01T00:00:00Z\",\"refreshToken\":\"" REFRESH "\"}";

static void test_expired_token_refreshed(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, session_config);
    w.ss.oidc_rotates = true;
    write_cache(&w, "my-sso", refreshable);
    char *path = cache_file(&w, "my-sso");
    chmod(path, 0644);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get(&w, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    aws_credentials_release(c);
    assert_int_equal(fakesrv_request_count(w.srv), 2);
    /* the refresh request */
    const struct fakesrv_request *r0 = fakesrv_request(w.srv, 0);
    assert_string_equal(r0->method, "POST");
    assert_string_equal(r0->target, "/token");
    assert_string_equal(fakesrv_header(r0, "Content-Type"), "application/json");
    json_t *body;
    assert_int_equal(json_parse(r0->body, r0->body_len, "request", &body, &e), BROCK_OK);
    assert_string_equal(json_str(body, "clientId"), "client-id-123");
    assert_string_equal(json_str(body, "clientSecret"), CSECRET);
    assert_string_equal(json_str(body, "grantType"), "refresh_token");
    assert_string_equal(json_str(body, "refreshToken"), REFRESH);
    json_decref(body);
    /* the role credentials were fetched with the new token */
    assert_string_equal(fakesrv_header(fakesrv_request(w.srv, 1), "x-amz-sso_bearer_token"), NEWACCESS);
    /* the cache file: replaced (new inode), 0600, the SDK's fields */
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_mode & 0777, 0600);
    assert_true(before.st_ino != after.st_ino);
    char *text = test_read_file(path, NULL);
    json_t *f;
    assert_int_equal(json_parse(text, strlen(text), path, &f, &e), BROCK_OK);
    assert_string_equal(json_str(f, "accessToken"), NEWACCESS);
    assert_string_equal(json_str(f, "expiresAt"), "2025-01-01T08:00:00Z"); /* now + 28800 s */
    assert_string_equal(json_str(f, "refreshToken"), "aorROTATED-refresh-token");
    assert_string_equal(json_str(f, "clientId"), "client-id-123");
    assert_string_equal(json_str(f, "clientSecret"), CSECRET);
    assert_string_equal(json_str(f, "registrationExpiresAt"), "2025-03-01T00:00:00Z");
    assert_string_equal(json_str(f, "startUrl"), "https://my-sso-portal.awsapps.com/start");
    assert_string_equal(json_str(f, "region"), "us-east-1");
    assert_int_equal(json_object_size(f), 8);
    json_decref(f);
    free(text);
    /* no temporary file left behind */
    DIR *d = opendir(w.cache_dir);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.')
            files++;
    closedir(d);
    assert_int_equal(files, 1);
    free(path);
    world_free(&w);
}

static void test_expired_without_refresh(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, session_config);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    /* no refresh token */
    write_cache(&w, "my-sso", "{\"accessToken\":\"" ACCESS "\",\"expiresAt\":\"2024-12-31T23:00:00Z\","
                              "\"clientId\":\"c\",\"clientSecret\":\"" CSECRET "\"}");
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_string_equal(e.msg, "profile 'dev': the IAM Identity Center token expired at 2024-12-31T23:00:00Z; run "
                               "`aws sso login --profile dev` (or `aws sso login --sso-session my-sso`)");
    /* a registration that has expired */
    char *t = strdup(refreshable);
    memcpy(strstr(t, "2025-03-01"), "2024-12-01", 10);
    write_cache(&w, "my-sso", t);
    free(t);
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "token expired at 2024-12-31T23:00:00Z; run `aws sso login --profile dev`");
    assert_no_secrets(e.msg);
    assert_int_equal(fakesrv_request_count(w.srv), 0);
    /* a refused refresh */
    write_cache(&w, "my-sso", refreshable);
    w.ss.oidc_status = 400;
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "profile 'dev': the IAM Identity Center token expired at 2024-12-31T23:00:00Z and could "
                           "not be refreshed (refreshing the IAM Identity Center token: InvalidGrantException");
    assert_contains(e.msg, "run `aws sso login --profile dev`");
    assert_no_secrets(e.msg);
    assert_int_equal(fakesrv_request_count(w.srv), 1);
    /* no cache file at all */
    char *p = cache_file(&w, "my-sso");
    remove(p);
    free(p);
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "profile 'dev': not signed in to IAM Identity Center (no token in ");
    assert_contains(e.msg, "0ad374308c5a4e22f723adf10145eafad7c4031c.json); run `aws sso login --profile dev`");
    /* a garbled file */
    write_cache(&w, "my-sso", "{\"accessToken\":\"" ACCESS "\" \"expiresAt\"");
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "unusable IAM Identity Center token cache: ");
    assert_contains(e.msg, "not valid JSON (line 1, column");
    assert_no_secrets(e.msg);
    write_cache(&w, "my-sso", "{\"accessToken\":\"" ACCESS "\"}");
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "expiresAt is missing or not an ISO-8601 time");
    world_free(&w);
}

static void test_refresh_failure_keeps_valid_token(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, session_config);
    /* 10 minutes left: inside the refresh window but still valid */
    char *t = strdup(refreshable);
    memcpy(strstr(t, "2024-12-31T23:00:00Z"), "2025-01-01T00:10:00Z", 20);
    write_cache(&w, "my-sso", t);
    w.ss.oidc_status = 500;
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (get(&w, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    aws_credentials_release(c);
    assert_string_equal(fakesrv_request(w.srv, fakesrv_request_count(w.srv) - 1)->target,
                        "/federation/credentials?role_name=Developer&account_id=111122223333");
    assert_string_equal(fakesrv_header(fakesrv_request(w.srv, fakesrv_request_count(w.srv) - 1),
                                       "x-amz-sso_bearer_token"),
                        ACCESS);
    /* the file was left alone */
    char *p = cache_file(&w, "my-sso");
    char *text = test_read_file(p, NULL);
    assert_string_equal(text, t);
    free(text);
    free(p);
    free(t);
    world_free(&w);
}

static void test_portal_errors(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, session_config);
    write_cache(&w, "my-sso", "{\"accessToken\":\"" ACCESS "\",\"expiresAt\":\"2025-01-01T08:00:00Z\"}");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    w.ss.portal_status = 401;
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "profile 'dev': IAM Identity Center refused the cached token (UnauthorizedException (HTTP "
                           "401, request id rid-401): Session token not found or invalid); run `aws sso login "
                           "--profile dev`");
    assert_no_secrets(e.msg);
    w.ss.portal_status = 403; /* ForbiddenException: an authorization failure */
    assert_int_equal(get(&w, &c, &e), BROCK_ERR_AUTH);
    assert_contains(e.msg, "profile 'dev': IAM Identity Center GetRoleCredentials (account 111122223333, role "
                           "Developer): ForbiddenException");
    assert_no_secrets(e.msg);
    world_free(&w);
}

static void test_settings_errors(void **state)
{
    (void)state;
    static const struct {
        const char *config, *want;
    } cases[] = {
        {"[profile dev]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = r\n",
         "profile 'dev' (~/.aws/config:2): sso_session 'nope' has no [sso-session nope] section"},
        {"[profile dev]\nsso_session = s\n[sso-session s]\nsso_region = us-east-1\n",
         "profile 'dev' (~/.aws/config:2): IAM Identity Center settings incomplete: missing sso_start_url, "
         "sso_account_id, sso_role_name (in the profile or its sso-session)"},
        {"[profile dev]\nsso_start_url = https://a/start\nsso_account_id = 1\n",
         "profile 'dev': IAM Identity Center settings incomplete: missing sso_region, sso_role_name"},
        {"[profile dev]\nsso_session = s\nsso_start_url = https://other/start\nsso_account_id = 1\nsso_role_name = r\n"
         "[sso-session s]\nsso_start_url = https://a/start\nsso_region = us-east-1\n",
         "profile 'dev' (~/.aws/config:3): sso_start_url differs from the one in sso-session 's' (~/.aws/config:7)"},
        {"[profile dev]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n"
         "[sso-session s]\nsso_start_url = https://a/start\nsso_region = US East\n",
         "sso-session 's' (~/.aws/config:7): sso_region is not a valid region name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct world w;
        world_init(&w, cases[i].config);
        struct aws_credentials *c = NULL;
        struct brock_err e = {0};
        assert_int_equal(get(&w, &c, &e), BROCK_ERR_CONFIG);
        assert_contains(e.msg, cases[i].want);
        world_free(&w);
    }
}

static void test_token_file_round_trip(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *path = sso_cache_path(dir, "k");
    struct sso_token t = {0};
    t.access_token = strdup(ACCESS);
    t.expires_at_ms = NOW_MS;
    t.refresh_token = strdup(REFRESH);
    t.client_id = strdup("cid");
    t.client_secret = strdup(CSECRET);
    t.registration_expires_at = strdup("2025-03-01T00:00:00Z");
    struct brock_err e = {0};
    assert_int_equal(sso_token_save(path, &t, &e), BROCK_OK);
    struct sso_token back;
    assert_int_equal(sso_token_load(path, &back, &e), BROCK_OK);
    assert_string_equal(back.access_token, ACCESS);
    assert_int_equal(back.expires_at_ms, NOW_MS);
    assert_string_equal(back.refresh_token, REFRESH);
    assert_int_equal(back.registration_expires_at_ms, 1740787200000LL);
    assert_null(back.start_url);
    assert_true(sso_token_refreshable(&back, NOW_MS));
    assert_false(sso_token_refreshable(&back, 1740787200000LL));
    sso_token_cleanup(&back);
    sso_token_cleanup(&t);
    /* an access token that could not go into a header */
    test_write_file(path, "{\"accessToken\":\"has space\",\"expiresAt\":\"2025-01-01T00:00:00Z\"}");
    assert_int_equal(sso_token_load(path, &back, &e), BROCK_ERR_PARSE);
    assert_contains(e.msg, "accessToken is not 1-16384 printable characters without blanks");
    free(path);
    free(dir);
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
    static const char *const secrets[] = {ACCESS, REFRESH, CSECRET, NEWACCESS, "aorROTATED", "SECRET-sso-xyz",
                                          "TOKEN-sso-xyz"};
    check_logs(secrets, sizeof secrets / sizeof secrets[0], "x-amz-sso_bearer_token: [redacted]");
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
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "setup failed: %s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1),
        cmocka_unit_test(test_valid_cached_token),
        cmocka_unit_test(test_legacy_profile),
        cmocka_unit_test(test_expired_token_refreshed),
        cmocka_unit_test(test_expired_without_refresh),
        cmocka_unit_test(test_refresh_failure_keeps_valid_token),
        cmocka_unit_test(test_portal_errors),
        cmocka_unit_test(test_settings_errors),
        cmocka_unit_test(test_token_file_round_trip),
        cmocka_unit_test(test_logs_hold_no_secret),
    };
    int rc = cmocka_run_group_tests_name("sso", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
