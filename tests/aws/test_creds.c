/* Tests for the credential providers that need no network (src/aws/creds_*):
 * the environment provider, profile static keys and their precedence (the
 * SDK profile-test vectors from ../shared/testdata/aws-config-profiles, the
 * assume-role one answered by a loopback STS), credential_process (the
 * splitter against shlex's behaviour, the JSON variants, real child
 * processes: exit codes, stderr, timeout, output cap, quoting), and the
 * default chain: order, --profile, a broken provider stopping the chain, and
 * the "looked in" message. Every error message is checked for what and where
 * and for the absence of the secrets involved. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/aws/creds.h"
#include "../../src/aws/settings.h"
#include "../../src/util/json.h"
#include "../support/fakesrv.h"

#define SECRET "SECRETenv-0123456789-abcdefghij"
#define TOKEN "TOKENenv-0123456789-abcdefghij"
#define NOW_MS 1735689600000LL /* 2025-01-01T00:00:00Z */

/* ---- helpers ------------------------------------------------------------------ */

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

/* Paths under $HOME so messages show them as "~/.aws/...". */
static char config_path[1024], credentials_path[1024];

/* Everything one test needs to build providers. */
struct world {
    struct env_map env;
    struct endpoint_lookup lk;
    struct aws_profile_set *set;
    struct creds_config cfg;
    struct fakesrv *srv; /* STS, when started */
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
    w->cfg = (struct creds_config){
        .profiles = w->set,
        .config_path = config_path,
        .credentials_path = credentials_path,
        .lookup = &w->lk,
        .region = "us-west-2",
        .clock = &fixed_clock,
    };
    env_set(&w->env, "AWS_EC2_METADATA_DISABLED", "true");
}

static void world_free(struct world *w)
{
    fakesrv_stop(w->srv);
    aws_profile_set_free(w->set);
}

static enum brock_status get_from(struct creds_provider *p, struct aws_credentials **out, struct brock_err *e)
{
    enum brock_status st = creds_provider_get(p, out, e);
    creds_provider_free(p);
    return st;
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

/* ---- environment ----------------------------------------------------------------- */

static void test_env_full(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL, NULL);
    env_set(&w.env, "AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE");
    env_set(&w.env, "AWS_SECRET_ACCESS_KEY", SECRET);
    env_set(&w.env, "AWS_SESSION_TOKEN", TOKEN);
    env_set(&w.env, "AWS_CREDENTIAL_EXPIRATION", "2025-01-01T12:00:00Z");
    env_set(&w.env, "AWS_ACCOUNT_ID", "111122223333");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_env(&w.cfg), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIAENVEXAMPLE");
    assert_string_equal(c->secret_access_key, SECRET);
    assert_string_equal(c->session_token, TOKEN);
    assert_int_equal(c->expiration_ms, NOW_MS + 12 * 3600 * 1000LL);
    assert_string_equal(c->account_id, "111122223333");
    assert_string_equal(c->provider, "environment");
    aws_credentials_release(c);
    /* the legacy token name, when the new one is absent */
    env_set(&w.env, "AWS_SESSION_TOKEN", NULL);
    env_set(&w.env, "AWS_SECURITY_TOKEN", "LEGACYTOKEN");
    assert_int_equal(get_from(creds_provider_env(&w.cfg), &c, &e), BROCK_OK);
    assert_string_equal(c->session_token, "LEGACYTOKEN");
    aws_credentials_release(c);
    world_free(&w);
}

static void test_env_errors(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL, NULL);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_env(&w.cfg), &c, &e), BROCK_ERR_NOT_FOUND);
    assert_string_equal(e.msg, "environment variables");

    env_set(&w.env, "AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE");
    assert_int_equal(get_from(creds_provider_env(&w.cfg), &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");

    env_set(&w.env, "AWS_ACCESS_KEY_ID", "");
    env_set(&w.env, "AWS_SECRET_ACCESS_KEY", SECRET);
    assert_int_equal(get_from(creds_provider_env(&w.cfg), &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    assert_lacks(e.msg, SECRET);

    env_set(&w.env, "AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE");
    env_set(&w.env, "AWS_CREDENTIAL_EXPIRATION", "next tuesday");
    assert_int_equal(get_from(creds_provider_env(&w.cfg), &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_CREDENTIAL_EXPIRATION is not an ISO-8601 time");

    env_set(&w.env, "AWS_CREDENTIAL_EXPIRATION", NULL);
    env_set(&w.env, "AWS_SESSION_TOKEN", "TOKEN-with\r\nX-Injected: 1");
    assert_int_equal(get_from(creds_provider_env(&w.cfg), &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "environment variables: the session token holds a blank");
    assert_lacks(e.msg, "Injected");
    assert_null(c);
    world_free(&w);
}

/* ---- profile static keys and precedence --------------------------------------------- */

static void test_profile_static_keys(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "[profile cfg]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = " SECRET "\n"
               "[profile both]\ncredential_process = /nonexistent/never-run\n",
               "[dev]\naws_access_key_id = AKIACREDS\naws_secret_access_key = " SECRET "\naws_session_token = " TOKEN
               "\n[both]\naws_access_key_id = AKIABOTH\naws_secret_access_key = " SECRET "\n"
               "[half]\n\naws_access_key_id = AKIAHALF\n");
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_profile(&w.cfg, "dev"), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIACREDS");
    assert_string_equal(c->session_token, TOKEN);
    assert_string_equal(c->provider, "shared credentials file (profile dev)");
    assert_int_equal(c->expiration_ms, 0);
    aws_credentials_release(c);

    assert_int_equal(get_from(creds_provider_profile(&w.cfg, "cfg"), &c, &e), BROCK_OK);
    assert_string_equal(c->provider, "config file (profile cfg)");
    assert_null(c->session_token);
    aws_credentials_release(c);

    /* keys in the credentials file come before credential_process (never run) */
    assert_int_equal(get_from(creds_provider_profile(&w.cfg, "both"), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIABOTH");
    aws_credentials_release(c);

    /* one key of the pair: an error at the file and line of the key */
    assert_int_equal(get_from(creds_provider_profile(&w.cfg, "half"), &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "profile 'half' (~/.aws/credentials:10): aws_access_key_id is set but "
                           "aws_secret_access_key is not");

    assert_int_equal(get_from(creds_provider_profile(&w.cfg, "nope"), &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "the profile 'nope' does not exist in ~/.aws/config or ~/.aws/credentials");
    world_free(&w);
}

static void test_profile_login_session_refused(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[default]\nregion = us-east-1\nlogin_session = arn:aws:iam::1:user/x\n", NULL);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "profile 'default' (~/.aws/config:3): login_session (`aws login`) is not supported");
    world_free(&w);
}

/* A loopback STS that answers AssumeRole with credentials named after the
 * role (the part after "role/"). */
static void sts_handler(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    (void)ctx;
    const char *arn = strstr(req->body, "RoleArn=");
    char role[64] = "X";
    if (arn) {
        const char *slash = strstr(arn, "role%2F");
        if (slash)
            sscanf(slash + 7, "%63[A-Za-z0-9]", role);
    }
    char *body = malloc(2048);
    snprintf(body, 2048,
             "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA%s</AccessKeyId>"
             "<SecretAccessKey>SECRET-%s-xyz</SecretAccessKey><SessionToken>TOKEN-%s-xyz</SessionToken>"
             "<Expiration>2025-01-01T01:00:00Z</Expiration></Credentials><AssumedRoleUser>"
             "<Arn>arn:aws:sts::123456789012:assumed-role/%s/s</Arn></AssumedRoleUser></AssumeRoleResult>"
             "</AssumeRoleResponse>",
             role, role, role, role);
    out->body = body;
    out->free_body = true;
}

static void world_sts(struct world *w)
{
    w->srv = fakesrv_start(NULL);
    fakesrv_set_handler(w->srv, sts_handler, NULL);
    env_set(&w->env, "AWS_ENDPOINT_URL_STS", fakesrv_url(w->srv));
}

/* The SDK for Ruby copy of the SEP profile tests: credential type precedence. */
static void test_profile_vectors(void **state)
{
    (void)state;
    char *path = testdata_path("aws-config-profiles/aws-sdk-ruby/profile/config-file-profile-tests.json");
    size_t n;
    char *text = test_read_file(path, &n);
    if (!text)
        fail_msg("missing vector file %s", path);
    json_t *root;
    struct brock_err e = {0};
    assert_int_equal(json_parse(text, n, path, &root, &e), BROCK_OK);
    json_t *suites = json_object_get(root, "testSuites");
    size_t si, ran = 0;
    json_t *suite;
    json_array_foreach(suites, si, suite) {
        /* render the already-parsed profiles as a credentials file */
        struct buf file = BUF_INIT(65536);
        const char *pname;
        json_t *props;
        json_object_foreach(json_object_get(suite, "profiles"), pname, props) {
            buf_addf(&file, "[%s]\n", pname);
            const char *k;
            json_t *v;
            json_object_foreach(props, k, v) buf_addf(&file, "%s = %s\n", k, json_string_value(v));
        }
        json_t *rt = json_object_get(suite, "regionTests");
        if (rt)
            printf("# skipped regionTests '%s': region resolution belongs to settings.h/endpoint.h, "
                   "not the credential providers\n",
                   json_string_value(json_object_get(rt, "name")));
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(suite, "credentialsTests"), ti, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            const char *profile = json_string_value(json_object_get(t, "profile"));
            const char *type = json_string_value(json_object_get(json_object_get(t, "output"), "credentialType"));
            struct world w;
            world_init(&w, NULL, file.ptr);
            world_sts(&w);
            struct aws_credentials *c = NULL;
            enum brock_status st = get_from(creds_provider_profile(&w.cfg, profile), &c, &e);
            if (st != BROCK_OK)
                fail_msg("%s: %s", name, e.msg);
            json_t *pp = json_object_get(json_object_get(suite, "profiles"), profile);
            if (!strcmp(type, "assumeRole")) {
                assert_int_equal(fakesrv_request_count(w.srv), 1);
                assert_true(!strncmp(c->provider, "assume role", 11));
                assert_string_equal(c->access_key_id, "ASIAMyRole");
                /* signed with the source profile's keys */
                const char *src = json_string_value(json_object_get(pp, "source_profile"));
                const char *src_akid =
                    json_string_value(json_object_get(json_object_get(json_object_get(suite, "profiles"), src),
                                                      "aws_access_key_id"));
                char want[64];
                snprintf(want, sizeof want, "Credential=%s/", src_akid);
                assert_contains(fakesrv_header(fakesrv_request(w.srv, 0), "Authorization"), want);
            } else {
                assert_int_equal(fakesrv_request_count(w.srv), 0);
                assert_string_equal(c->access_key_id, json_string_value(json_object_get(pp, "aws_access_key_id")));
                if (!strcmp(type, "session"))
                    assert_string_equal(c->session_token,
                                        json_string_value(json_object_get(pp, "aws_session_token")));
                else if (!strcmp(type, "basic"))
                    assert_null(c->session_token);
                else
                    fail_msg("%s: unknown credentialType %s", name, type);
            }
            printf("# profile vector ok: %s\n", name);
            ran++;
            aws_credentials_release(c);
            world_free(&w);
        }
        buf_free(&file);
    }
    assert_int_equal(ran, 3);
    json_decref(root);
    free(text);
    free(path);
}

/* ---- credential_process: the splitter ------------------------------------------------- */

/* Expected words come from Python's shlex.split (POSIX mode), which botocore uses. */
static void test_split_like_shlex(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *words[4];
    } cases[] = {
        {"a b  c", {"a", "b", "c"}},
        {"'a b' c", {"a b", "c"}},
        {"\"a \\\"b\\\" \\\\ \\x \\$\"", {"a \"b\" \\ \\x \\$"}},
        {"a\\ b", {"a b"}},
        {"''", {""}},
        {"a'b'\"c\"", {"abc"}},
        {"#x y#", {"#x", "y#"}},
        {"\t a\n b \r", {"a", "b"}},
        {"\"it's\"", {"it's"}},
        {"'a\\b'", {"a\\b"}},
        {"\\\\", {"\\"}},
        {"x\\\"y", {"x\"y"}},
        {"\"\" x \"\"", {"", "x", ""}},
        {"a''b", {"ab"}},
        {"\"/tmp/dir with space/run\" --flag=1 \"arg\\\"q\"", {"/tmp/dir with space/run", "--flag=1", "arg\"q"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char **argv;
        size_t argc;
        struct brock_err e = {0};
        if (creds_split_command(cases[i].in, &argv, &argc, &e) != BROCK_OK)
            fail_msg("case %zu: %s", i, e.msg);
        size_t want = 0;
        while (want < 4 && cases[i].words[want])
            want++;
        assert_int_equal(argc, want);
        for (size_t k = 0; k < want; k++)
            assert_string_equal(argv[k], cases[i].words[k]);
        assert_null(argv[argc]);
        creds_argv_free(argv);
    }
    static const struct {
        const char *in, *want;
    } bad[] = {
        {"get \"abc", "the quote at column 5 is not closed"},
        {"abc'", "the quote at column 4 is not closed"},
        {"abc\\", "a backslash at column 4 escapes nothing"},
        {"   ", "command line is empty"},
        {"", "command line is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char **argv = (char **)1;
        size_t argc;
        struct brock_err e = {0};
        assert_int_equal(creds_split_command(bad[i].in, &argv, &argc, &e), BROCK_ERR_PARSE);
        assert_null(argv);
        assert_contains(e.msg, bad[i].want);
    }
    /* the word cap */
    struct buf many = BUF_INIT(100000);
    for (int i = 0; i <= CREDS_PROCESS_MAX_ARGS; i++)
        buf_addstr(&many, "w ");
    char **argv;
    size_t argc;
    struct brock_err e = {0};
    assert_int_equal(creds_split_command(many.ptr, &argv, &argc, &e), BROCK_ERR_TOO_LARGE);
    buf_free(&many);
}

/* ---- credential_process: the JSON ------------------------------------------------------ */

static void test_process_json_variants(void **state)
{
    (void)state;
    static const struct {
        enum creds_json_kind kind;
        const char *json;
        enum brock_status st;
        const char *want; /* message part, or for OK the expected AccessKeyId */
    } cases[] = {
        {CREDS_JSON_PROCESS,
         "{\"Version\":1,\"AccessKeyId\":\"AKIA1\",\"SecretAccessKey\":\"" SECRET "\",\"SessionToken\":\"" TOKEN
         "\",\"Expiration\":\"2025-01-01T12:00:00Z\",\"AccountId\":\"111122223333\"}",
         BROCK_OK, "AKIA1"},
        {CREDS_JSON_PROCESS, "{\"Version\":1.0,\"AccessKeyId\":\"AKIA2\",\"SecretAccessKey\":\"s\",\"Expiration\":null}",
         BROCK_OK, "AKIA2"},
        {CREDS_JSON_PROCESS,
         "{\"Version\":1,\"AccessKeyId\":\"AKIA3\",\"SecretAccessKey\":\"s\",\"Extra\":{\"nested\":[1,2]},\"x\":true}",
         BROCK_OK, "AKIA3"},
        {CREDS_JSON_PROCESS, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\"}", BROCK_ERR_PARSE,
         "credential_process output: missing Version (must be 1)"},
        {CREDS_JSON_PROCESS, "{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\"}",
         BROCK_ERR_PARSE, "unsupported Version 2 (brock understands 1)"},
        {CREDS_JSON_PROCESS, "{\"Version\":\"1\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}", BROCK_ERR_PARSE,
         "Version must be the number 1"},
        {CREDS_JSON_PROCESS,
         "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\",\"Expiration\":\"soon\"}",
         BROCK_ERR_PARSE, "credential_process output: Expiration is not an ISO-8601 time"},
        {CREDS_JSON_PROCESS, "{\"Version\":1,\"SecretAccessKey\":\"" SECRET "\"}", BROCK_ERR_PARSE,
         "missing AccessKeyId"},
        {CREDS_JSON_PROCESS, "{\"Version\":1,\"AccessKeyId\":7,\"SecretAccessKey\":\"s\"}", BROCK_ERR_PARSE,
         "AccessKeyId must be a string"},
        {CREDS_JSON_PROCESS, "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\"}", BROCK_ERR_PARSE,
         "SecretAccessKey is empty"},
        {CREDS_JSON_PROCESS, "[1]", BROCK_ERR_PARSE, "expected a JSON object"},
        {CREDS_JSON_PROCESS, "{\"Version\":1,\n\"SecretAccessKey\":\"" SECRET "\" oops}", BROCK_ERR_PARSE,
         "not valid JSON (line 2, column"},
        {CREDS_JSON_PROCESS, "{\"Version\":1,\"Version\":1}", BROCK_ERR_PARSE, "not valid JSON"},
        {CREDS_JSON_CONTAINER, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\",\"Expiration\":\"2025-01-01T12:00:00Z\"}",
         BROCK_ERR_PARSE, "container credentials answer: missing Token"},
        {CREDS_JSON_CONTAINER,
         "{\"AccessKeyId\":\"AKIA4\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"2025-01-01T12:00:00Z\","
         "\"RoleArn\":\"arn:aws:iam::1:role/r\"}",
         BROCK_OK, "AKIA4"},
        {CREDS_JSON_IMDS, "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"EC2 cannot assume the role\"}",
         BROCK_ERR_CREDENTIALS, "Code AssumeRoleUnauthorizedAccess: EC2 cannot assume the role"},
        {CREDS_JSON_IMDS,
         "{\"Code\":\"Success\",\"AccessKeyId\":\"AKIA5\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
         "\"Expiration\":\"2025-01-01T12:00:00Z\"}",
         BROCK_OK, "AKIA5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct aws_credentials *c = NULL;
        struct brock_err e = {0};
        enum brock_status st =
            creds_parse_json(cases[i].kind, cases[i].json, strlen(cases[i].json), "test", &c, &e);
        if (st != cases[i].st)
            fail_msg("case %zu: status %s (%s)", i, brock_status_name(st), e.msg);
        if (st == BROCK_OK) {
            assert_string_equal(c->access_key_id, cases[i].want);
            assert_string_equal(c->provider, "test");
        } else {
            assert_null(c);
            assert_contains(e.msg, cases[i].want);
            assert_lacks(e.msg, SECRET);
        }
        aws_credentials_release(c);
    }
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    const char *j = cases[0].json;
    assert_int_equal(creds_parse_json(CREDS_JSON_PROCESS, j, strlen(j), "p", &c, &e), BROCK_OK);
    assert_int_equal(c->expiration_ms, NOW_MS + 12 * 3600 * 1000LL);
    assert_string_equal(c->account_id, "111122223333");
    assert_string_equal(c->session_token, TOKEN);
    aws_credentials_release(c);
}

/* ---- credential_process: running it ---------------------------------------------------- */

static char *tmp;

static char *write_script(const char *name, const char *body)
{
    char *p = malloc(strlen(tmp) + strlen(name) + 2);
    sprintf(p, "%s/%s", tmp, name);
    char *dir = strdup(p);
    *strrchr(dir, '/') = '\0';
    mkdir(dir, 0700);
    free(dir);
    test_write_file(p, body);
    chmod(p, 0700);
    return p;
}

static enum brock_status run_profile(const char *cmdline, long timeout_ms, struct aws_credentials **out,
                                     struct brock_err *e)
{
    char config[4096];
    snprintf(config, sizeof config, "[profile tool]\nregion = us-east-1\ncredential_process = %s\n", cmdline);
    struct world w;
    world_init(&w, config, NULL);
    w.cfg.process_timeout_ms = timeout_ms;
    enum brock_status st = get_from(creds_provider_profile(&w.cfg, "tool"), out, e);
    world_free(&w);
    return st;
}

static void test_process_runs_with_quoted_args(void **state)
{
    (void)state;
    char *argfile = malloc(strlen(tmp) + 16);
    sprintf(argfile, "%s/args.txt", tmp);
    char body[2048];
    snprintf(body, sizeof body,
             "#!/bin/sh\nfor a in \"$@\"; do printf '[%%s]' \"$a\"; done > '%s'\n"
             "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIAPROC\", \"SecretAccessKey\": \"%s\", "
             "\"SessionToken\": \"%s\", \"Expiration\": \"2025-01-01T06:00:00Z\"}'\n",
             argfile, SECRET, TOKEN);
    char *script = write_script("dir with space/get creds", body);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "\"%s\" --account 111122223333 'two words' \"q\\\"uote\" back\\ slash ''", script);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (run_profile(cmd, 0, &c, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(c->access_key_id, "AKIAPROC");
    assert_string_equal(c->secret_access_key, SECRET);
    assert_int_equal(c->expiration_ms, NOW_MS + 6 * 3600 * 1000LL);
    assert_string_equal(c->provider, "credential_process (profile tool)");
    char *args = test_read_file(argfile, NULL);
    assert_string_equal(args, "[--account][111122223333][two words][q\"uote][back slash][]");
    free(args);
    aws_credentials_release(c);
    free(script);
    free(argfile);
}

static void test_process_failures(void **state)
{
    (void)state;
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    char cmd[1024];
    /* non-zero exit: status and a short stderr excerpt, at file:line */
    char *s = write_script("fail.sh", "#!/bin/sh\necho 'partial " SECRET "'\necho 'token expired: run login\n"
                                      "second line' >&2\nexit 3\n");
    assert_int_equal(run_profile(s, 0, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "profile 'tool' (~/.aws/config:3): credential_process exited with status 3: token "
                           "expired: run login second line");
    assert_lacks(e.msg, SECRET);
    free(s);
    /* a long stderr is cut */
    s = write_script("noisy.sh", "#!/bin/sh\nhead -c 10000 /dev/zero | tr '\\0' x >&2\nexit 1\n");
    assert_int_equal(run_profile(s, 0, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "xxx...");
    assert_true(strlen(e.msg) < 400);
    free(s);
    /* killed by a signal */
    s = write_script("killed.sh", "#!/bin/sh\nkill -9 $$\n");
    assert_int_equal(run_profile(s, 0, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "credential_process was killed by signal 9");
    free(s);
    /* the timeout */
    s = write_script("slow.sh", "#!/bin/sh\nexec sleep 10\n");
    int64_t t0 = time_mono_ms();
    assert_int_equal(run_profile(s, 300, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_true(time_mono_ms() - t0 < 5000);
    assert_contains(e.msg, "credential_process did not finish within 300 ms and was stopped");
    free(s);
    /* huge output is capped */
    s = write_script("huge.sh", "#!/bin/sh\nexec yes '{\"Version\": 1}'\n");
    assert_int_equal(run_profile(s, 0, &c, &e), BROCK_ERR_TOO_LARGE);
    assert_contains(e.msg, "credential_process wrote more than 65536 bytes and was stopped");
    free(s);
    /* a command that does not exist */
    assert_int_equal(run_profile("/nonexistent/brock-creds-helper --x", 0, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "cannot run /nonexistent/brock-creds-helper: No such file or directory");
    /* a bad command line */
    assert_int_equal(run_profile("get \"creds", 0, &c, &e), BROCK_ERR_PARSE);
    assert_contains(e.msg, "profile 'tool' (~/.aws/config:3): credential_process: command line: the quote at column 5");
    /* bad JSON: the message has the place, never the secret */
    s = write_script("badjson.sh", "#!/bin/sh\nprintf '{\"Version\": 1, \"SecretAccessKey\": \"" SECRET "\" x}'\n");
    assert_int_equal(run_profile(s, 0, &c, &e), BROCK_ERR_PARSE);
    assert_contains(e.msg, "profile 'tool' (~/.aws/config:3): credential_process output: not valid JSON");
    assert_lacks(e.msg, SECRET);
    free(s);
    s = write_script("v2.sh", "#!/bin/sh\necho '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'\n");
    snprintf(cmd, sizeof cmd, "%s", s);
    assert_int_equal(run_profile(cmd, 0, &c, &e), BROCK_ERR_PARSE);
    assert_contains(e.msg, "unsupported Version 2");
    free(s);
    assert_null(c);
}

/* ---- the default chain -------------------------------------------------------------------- */

static void test_chain_env_beats_profile(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, NULL, "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s1\n"
                         "[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = s2\n");
    env_set(&w.env, "AWS_ACCESS_KEY_ID", "AKIAENV");
    env_set(&w.env, "AWS_SECRET_ACCESS_KEY", SECRET);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIAENV");
    aws_credentials_release(c);
    /* AWS_PROFILE (not explicit) does not skip env keys */
    w.cfg.profile_name = "dev";
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIAENV");
    aws_credentials_release(c);
    /* --profile does */
    w.cfg.profile_explicit = true;
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIADEV");
    assert_string_equal(c->provider, "shared credentials file (profile dev)");
    aws_credentials_release(c);
    world_free(&w);
}

static void test_chain_broken_provider_stops(void **state)
{
    (void)state;
    /* credential_process prints garbage; the container endpoint (later in the
     * chain) is configured and must never be asked. */
    char *s = write_script("garbage.sh", "#!/bin/sh\necho 'not json'\n");
    char config[1024];
    snprintf(config, sizeof config, "[default]\ncredential_process = %s\n", s);
    struct world w;
    world_init(&w, config, NULL);
    struct fakesrv *ctr = fakesrv_start(NULL);
    char full[256];
    snprintf(full, sizeof full, "%s/creds", fakesrv_url(ctr));
    env_set(&w.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_ERR_PARSE);
    assert_contains(e.msg, "profile 'default' (~/.aws/config:2): credential_process output: not valid JSON");
    assert_int_equal(fakesrv_request_count(ctr), 0);
    /* a partial env pair also stops it, before the profile is looked at */
    env_set(&w.env, "AWS_ACCESS_KEY_ID", "AKIAENV");
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_ERR_CONFIG);
    assert_contains(e.msg, "AWS_SECRET_ACCESS_KEY is not");
    fakesrv_stop(ctr);
    world_free(&w);
    free(s);
}

static void test_chain_nothing_found(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[default]\nregion = us-east-1\n", NULL);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_ERR_CREDENTIALS);
    assert_string_equal(e.msg, "no AWS credentials found: looked in environment variables, profile 'default' in "
                               "~/.aws/credentials and ~/.aws/config (no keys, no role, no SSO, no "
                               "credential_process), container endpoint (not configured), EC2 instance metadata "
                               "(disabled by AWS_EC2_METADATA_DISABLED)");
    world_free(&w);

    /* no files at all, --profile default, IMDS enabled but not answering */
    world_init(&w, NULL, NULL);
    struct fakesrv *dead = fakesrv_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "%s", fakesrv_url(dead));
    fakesrv_stop(dead); /* now nothing listens there */
    env_set(&w.env, "AWS_EC2_METADATA_DISABLED", NULL);
    env_set(&w.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    w.cfg.profile_explicit = false;
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_ERR_CREDENTIALS);
    char want[512];
    snprintf(want, sizeof want, "profile 'default' (not in ~/.aws/credentials or ~/.aws/config), container "
                                "endpoint (not configured), EC2 instance metadata (no answer from %s within 1000 ms)",
             url);
    assert_contains(e.msg, want);
    world_free(&w);
}

static void test_chain_explicit_profile_message(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "[profile dev]\nregion = us-east-1\n", NULL);
    w.cfg.profile_name = "dev";
    w.cfg.profile_explicit = true;
    env_set(&w.env, "AWS_ACCESS_KEY_ID", "AKIAENV");
    env_set(&w.env, "AWS_SECRET_ACCESS_KEY", SECRET);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(get_from(creds_provider_default_chain(&w.cfg), &c, &e), BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "no AWS credentials found: looked in environment variables (skipped: a profile was "
                           "chosen with --profile), profile 'dev' in ~/.aws/credentials and ~/.aws/config");
    world_free(&w);
}

/* The CLI's path: settings loaded from real files, then the default chain. */
static void test_config_from_settings(void **state)
{
    (void)state;
    char cfgp[1024], credp[1024];
    snprintf(cfgp, sizeof cfgp, "%s/settings-config", tmp);
    snprintf(credp, sizeof credp, "%s/settings-credentials", tmp);
    test_write_file(cfgp, "[profile dev]\nregion = eu-north-1\n");
    test_write_file(credp, "[dev]\naws_access_key_id = AKIAFILE\naws_secret_access_key = " SECRET "\n");
    setenv("AWS_CONFIG_FILE", cfgp, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", credp, 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    struct aws_settings s;
    struct brock_err e = {0};
    assert_int_equal(aws_settings_load(&s, "dev", NULL, &e), BROCK_OK);
    struct creds_config cc;
    creds_config_from_settings(&cc, &s);
    assert_string_equal(cc.region, "eu-north-1");
    assert_true(cc.profile_explicit);
    struct aws_credentials *c = NULL;
    assert_int_equal(get_from(creds_provider_default_chain(&cc), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIAFILE"); /* --profile: env keys skipped */
    aws_credentials_release(c);
    aws_settings_cleanup(&s);
    /* the same profile through AWS_PROFILE: env keys win */
    setenv("AWS_PROFILE", "dev", 1);
    assert_int_equal(aws_settings_load(&s, NULL, NULL, &e), BROCK_OK);
    creds_config_from_settings(&cc, &s);
    assert_false(cc.profile_explicit);
    assert_int_equal(get_from(creds_provider_default_chain(&cc), &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "AKIAENVIRONMENT");
    aws_credentials_release(c);
    aws_settings_cleanup(&s);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

int main(void)
{
    test_init();
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    const char *home = getenv("HOME");
    if (!home || !*home) {
        fprintf(stderr, "test_creds: HOME must be set\n");
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
        cmocka_unit_test(test_env_full),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_profile_static_keys),
        cmocka_unit_test(test_profile_login_session_refused),
        cmocka_unit_test(test_profile_vectors),
        cmocka_unit_test(test_split_like_shlex),
        cmocka_unit_test(test_process_json_variants),
        cmocka_unit_test(test_process_runs_with_quoted_args),
        cmocka_unit_test(test_process_failures),
        cmocka_unit_test(test_chain_env_beats_profile),
        cmocka_unit_test(test_chain_broken_provider_stops),
        cmocka_unit_test(test_chain_nothing_found),
        cmocka_unit_test(test_chain_explicit_profile_message),
        cmocka_unit_test(test_config_from_settings),
    };
    int rc = cmocka_run_group_tests_name("creds", tests, NULL, NULL);
    http_global_cleanup();
    free(tmp);
    return rc;
}
