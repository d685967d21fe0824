/* Tests for src/aws/endpoint: the bedrock-runtime rule-set vectors, the
 * partition table against partitions.json (explicit regions and, through
 * POSIX <regex.h>, the region patterns), the other services' rule sets,
 * the endpoint-URL override chain, URL parsing and region resolution. */
#include "../support/test.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/endpoint.h"
#include "../../src/util/json.h"

#define RULES_TESTS                                                                                          \
    "endpoints-bedrock-runtime/tests/functional/endpoint-rules/bedrock-runtime/endpoint-tests-1.json"
#define PARTITIONS_JSON "endpoints-bedrock-runtime/botocore/data/partitions.json"

/* ---- a fake environment and profile ------------------------------------- */

struct kv {
    const char *k, *v;
};

struct fake_env {
    struct kv vars[16];
};

static const char *fake_getenv(void *ctx, const char *name)
{
    const struct fake_env *env = ctx;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(env->vars) && env->vars[i].k; i++)
        if (strcmp(env->vars[i].k, name) == 0)
            return env->vars[i].v;
    return NULL;
}

struct svc_entry {
    const char *section, *service_key, *prop, *value;
};

struct fake_profile {
    struct kv props[16];
    const char *sections[4]; /* existing [services X] sections */
    struct svc_entry svcs[8];
};

static const char *fake_profile_get(void *ctx, const char *key)
{
    const struct fake_profile *p = ctx;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(p->props) && p->props[i].k; i++)
        if (strcmp(p->props[i].k, key) == 0)
            return p->props[i].v;
    return NULL;
}

static const char *fake_services_get(void *ctx, const char *section, const char *service_key,
                                     const char *prop, bool *exists)
{
    const struct fake_profile *p = ctx;
    *exists = false;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(p->sections) && p->sections[i]; i++)
        if (strcmp(p->sections[i], section) == 0)
            *exists = true;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(p->svcs) && p->svcs[i].section; i++)
        if (strcmp(p->svcs[i].section, section) == 0 && strcmp(p->svcs[i].service_key, service_key) == 0 &&
            strcmp(p->svcs[i].prop, prop) == 0)
            return p->svcs[i].value;
    return NULL;
}

static struct endpoint_lookup lookup_of(struct fake_env *env, struct fake_profile *prof)
{
    struct endpoint_lookup lk = {
        .getenv = fake_getenv,
        .env_ctx = env,
        .profile_get = prof ? fake_profile_get : NULL,
        .services_get = prof ? fake_services_get : NULL,
        .profile_ctx = prof,
        .profile_name = "dev",
    };
    return lk;
}

/* ---- the AWS vectors: endpoint-tests-1.json ---------------------------------- */

struct rule_vector {
    char doc[256];
    bool has_region, has_endpoint;
    char region[64];
    char endpoint[256];
    bool fips, dualstack;
    char expect_url[256];
    char expect_error[256];
};

static void run_rule_vector(void **state)
{
    const struct rule_vector *v = *state;
    struct endpoint_params p = {
        .service = ENDPOINT_SVC_BEDROCK_RUNTIME,
        .region = v->has_region ? v->region : NULL,
        .use_fips = v->fips,
        .use_dualstack = v->dualstack,
        .endpoint = v->has_endpoint ? v->endpoint : NULL,
    };
    struct endpoint ep;
    struct brock_err e = {0};
    enum brock_status st = endpoint_resolve_rules(&p, &ep, &e);
    if (v->expect_url[0]) {
        if (st != BROCK_OK)
            fail_msg("%s: unexpected error: %s", v->doc, e.msg);
        assert_string_equal(ep.url, v->expect_url);
        assert_string_equal(ep.signing_name, "bedrock");
        assert_string_equal(ep.signing_region, v->has_region ? v->region : "");
    } else {
        assert_int_equal(st, BROCK_ERR_CONFIG);
        assert_string_equal(e.msg, v->expect_error);
    }

    /* The same case through the full configuration chain, with an empty
     * environment and the settings given explicitly. */
    struct fake_env env = {{{NULL, NULL}}};
    struct endpoint_lookup lk = lookup_of(&env, NULL);
    struct endpoint_request req = {
        .service = ENDPOINT_SVC_BEDROCK_RUNTIME,
        .region = p.region,
        .endpoint_url = p.endpoint,
        .explicit_label = "--endpoint-url",
        .use_fips = v->fips ? ENDPOINT_FLAG_ON : ENDPOINT_FLAG_OFF,
        .use_dualstack = v->dualstack ? ENDPOINT_FLAG_ON : ENDPOINT_FLAG_OFF,
    };
    err_clear(&e);
    st = endpoint_resolve(&req, &lk, &ep, &e);
    if (v->expect_url[0]) {
        if (st != BROCK_OK)
            fail_msg("%s (chain): unexpected error: %s", v->doc, e.msg);
        assert_string_equal(ep.url, v->expect_url);
        assert_string_equal(ep.source, v->has_endpoint ? "--endpoint-url" : "default");
    } else {
        assert_int_equal(st, BROCK_ERR_CONFIG);
        /* the rule set's words come first, then where the settings came from */
        assert_int_equal(strncmp(e.msg, v->expect_error, strlen(v->expect_error)), 0);
        assert_non_null(strstr(e.msg, "explicit setting"));
    }
}

static void fail_load(void **state)
{
    fail_msg("%s", (const char *)*state);
}

static void add_rule_vectors(struct test_list *l)
{
    char *path = testdata_path(RULES_TESTS);
    size_t n;
    char *text = test_read_file(path, &n);
    json_t *root = NULL;
    struct brock_err e = {0};
    if (!text || json_parse(text, n, path, &root, &e) != BROCK_OK) {
        char *msg = malloc(1024);
        snprintf(msg, 1024, "cannot load %s: %s", path, text ? e.msg : "unreadable");
        test_list_add(l, "load endpoint-tests-1.json", fail_load, msg);
        free(text);
        free(path);
        return;
    }
    json_t *cases = json_object_get(root, "testCases");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        struct rule_vector *v = calloc(1, sizeof *v);
        snprintf(v->doc, sizeof v->doc, "%s", json_str(c, "documentation"));
        json_t *params = json_object_get(c, "params");
        const char *r = json_str(params, "Region"), *ep = json_str(params, "Endpoint");
        if (r) {
            v->has_region = true;
            snprintf(v->region, sizeof v->region, "%s", r);
        }
        if (ep) {
            v->has_endpoint = true;
            snprintf(v->endpoint, sizeof v->endpoint, "%s", ep);
        }
        v->fips = json_is_true(json_object_get(params, "UseFIPS"));
        v->dualstack = json_is_true(json_object_get(params, "UseDualStack"));
        json_t *expect = json_object_get(c, "expect");
        const char *url = json_str(json_object_get(expect, "endpoint"), "url");
        const char *err = json_str(expect, "error");
        if (url)
            snprintf(v->expect_url, sizeof v->expect_url, "%s", url);
        else
            snprintf(v->expect_error, sizeof v->expect_error, "%s", err ? err : "(no expectation)");
        char name[300];
        snprintf(name, sizeof name, "rules: %s", v->doc);
        test_list_add(l, name, run_rule_vector, v);
    }
    if (json_array_size(cases) != 21) {
        char *msg = malloc(128);
        snprintf(msg, 128, "expected 21 test cases, found %zu", json_array_size(cases));
        test_list_add(l, "endpoint-tests-1.json has 21 cases", fail_load, msg);
    }
    json_decref(root);
    free(text);
    free(path);
}

/* ---- partitions.json ------------------------------------------------------------ */

/* Turn the JSON's regionRegex (PCRE-ish: \-, \w, \d) into POSIX ERE. */
static void to_posix(const char *re, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = re; *p && o + 16 < n; p++) {
        if (p[0] == '\\' && p[1]) {
            const char *rep = p[1] == 'w' ? "[A-Za-z0-9_]" : p[1] == 'd' ? "[0-9]" : NULL;
            if (rep) {
                o += (size_t)snprintf(out + o, n - o, "%s", rep);
            } else {
                out[o++] = p[1];
            }
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

struct part_ref {
    const char *id;
    regex_t re;
    json_t *regions;
};

static json_t *load_partitions(void)
{
    char *path = testdata_path(PARTITIONS_JSON);
    size_t n;
    char *text = test_read_file(path, &n);
    if (!text)
        fail_msg("cannot read %s", path);
    json_t *root = NULL;
    struct brock_err e = {0};
    if (json_parse(text, n, path, &root, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    free(text);
    free(path);
    return root;
}

static void test_partitions_listed_regions(void **state)
{
    (void)state;
    json_t *root = load_partitions();
    json_t *parts = json_object_get(root, "partitions");
    assert_int_equal(json_array_size(parts), 8);
    size_t i, nregions = 0;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        const char *id = json_str(p, "id");
        json_t *outs = json_object_get(p, "outputs");
        const char *key;
        json_t *val;
        json_object_foreach(json_object_get(p, "regions"), key, val)
        {
            const struct endpoint_partition *ep = endpoint_partition_of(key);
            if (strcmp(ep->id, id) != 0)
                fail_msg("region %s: expected partition %s, got %s", key, id, ep->id);
            assert_string_equal(ep->dns_suffix, json_str(outs, "dnsSuffix"));
            assert_string_equal(ep->dualstack_dns_suffix, json_str(outs, "dualStackDnsSuffix"));
            assert_string_equal(ep->implicit_global_region, json_str(outs, "implicitGlobalRegion"));
            assert_int_equal(ep->supports_fips, json_is_true(json_object_get(outs, "supportsFIPS")));
            assert_int_equal(ep->supports_dualstack,
                             json_is_true(json_object_get(outs, "supportsDualStack")));
            assert_string_equal(json_str(outs, "name"), id);
            nregions++;
        }
        /* the implicit global region belongs to its partition too */
        assert_string_equal(endpoint_partition_of(json_str(outs, "implicitGlobalRegion"))->id, id);
    }
    assert_true(nregions >= 50);
    json_decref(root);
}

/* Every candidate that is not listed explicitly must land where the
 * partitions' own regexes (run by libc's regex engine) put it, else "aws". */
static void test_partitions_by_pattern(void **state)
{
    (void)state;
    json_t *root = load_partitions();
    json_t *parts = json_object_get(root, "partitions");
    size_t np = json_array_size(parts);
    struct part_ref refs[16];
    assert_true(np <= 16);
    for (size_t i = 0; i < np; i++) {
        json_t *p = json_array_get(parts, i);
        char ere[256];
        to_posix(json_str(p, "regionRegex"), ere, sizeof ere);
        refs[i].id = json_str(p, "id");
        refs[i].regions = json_object_get(p, "regions");
        assert_int_equal(regcomp(&refs[i].re, ere, REG_EXTENDED | REG_NOSUB), 0);
    }
    static const char *const heads[] = {"us",     "eu",     "ap",      "sa",      "ca",      "me",
                                        "af",     "il",     "mx",      "cn",      "eusc-de", "eusc-fr",
                                        "us-gov", "us-iso", "us-isob", "eu-isoe", "us-isof", "us-isoz",
                                        "xx",     "aws",    "US",      "",        "u"};
    static const char *const mids[] = {"east", "west", "central", "northeast", "x_y",
                                       "East", "9",    "",        "a-b",       "gov"};
    static const char *const tails[] = {"1", "12", "9", "", "a", "1a", "-1"};
    size_t checked = 0, fallback = 0;
    for (size_t h = 0; h < BROCK_ARRAY_LEN(heads); h++)
        for (size_t m = 0; m < BROCK_ARRAY_LEN(mids); m++)
            for (size_t t = 0; t < BROCK_ARRAY_LEN(tails); t++) {
                char region[64];
                snprintf(region, sizeof region, "%s-%s-%s", heads[h], mids[m], tails[t]);
                bool listed = false;
                for (size_t i = 0; i < np; i++)
                    listed |= json_object_get(refs[i].regions, region) != NULL;
                if (listed)
                    continue;
                const char *want = "aws";
                for (size_t i = 0; i < np; i++) {
                    if (regexec(&refs[i].re, region, 0, NULL, 0) == 0) {
                        want = refs[i].id;
                        break;
                    }
                }
                fallback += strcmp(want, "aws") == 0;
                const char *got = endpoint_partition_of(region)->id;
                if (strcmp(want, got) != 0)
                    fail_msg("region %s: regex says %s, endpoint_partition_of says %s", region, want, got);
                checked++;
            }
    assert_true(checked > 1000);
    assert_true(fallback > 100 && fallback < checked);
    for (size_t i = 0; i < np; i++)
        regfree(&refs[i].re);
    json_decref(root);

    /* a few by name, outside every explicit list */
    static const char *const named[][2] = {
        {"us-east-9", "aws"},
        {"ap-southeast-42", "aws"},
        {"cn-south-7", "aws-cn"},
        {"us-gov-central-3", "aws-us-gov"},
        {"eusc-de-west-2", "aws-eusc"},
        {"us-iso-north-5", "aws-iso"},
        {"us-isob-south-2", "aws-iso-b"},
        {"eu-isoe-north-1", "aws-iso-e"},
        {"us-isof-west-9", "aws-iso-f"},
        {"mars-north-1", "aws"},
        {"", "aws"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(named); i++)
        assert_string_equal(endpoint_partition_of(named[i][0])->id, named[i][1]);
    assert_string_equal(endpoint_partition_of(NULL)->id, "aws");
}

/* ---- services and the other rule sets -------------------------------------------- */

static void test_service_table(void **state)
{
    (void)state;
    /* id, prefix, signing name, env suffix, [services] key (wire reference
     * sections 0 and 1.4; sdkref "Identifiers for service-specific endpoints") */
    static const char *const want[ENDPOINT_SVC_COUNT][5] = {
        [ENDPOINT_SVC_BEDROCK_RUNTIME] = {"bedrock-runtime", "bedrock-runtime", "bedrock", "BEDROCK_RUNTIME",
                                          "bedrock_runtime"},
        [ENDPOINT_SVC_BEDROCK] = {"bedrock", "bedrock", "bedrock", "BEDROCK", "bedrock"},
        [ENDPOINT_SVC_STS] = {"sts", "sts", "sts", "STS", "sts"},
        [ENDPOINT_SVC_LOGS] = {"logs", "logs", "logs", "CLOUDWATCH_LOGS", "cloudwatch_logs"},
        [ENDPOINT_SVC_MONITORING] = {"cloudwatch", "monitoring", "monitoring", "CLOUDWATCH", "cloudwatch"},
        [ENDPOINT_SVC_S3] = {"s3", "s3", "s3", "S3", "s3"},
        [ENDPOINT_SVC_SSO] = {"sso", "portal.sso", "awsssoportal", "SSO", "sso"},
        [ENDPOINT_SVC_SSO_OIDC] = {"sso-oidc", "oidc", "sso-oauth", "SSO_OIDC", "sso_oidc"},
        [ENDPOINT_SVC_IAM] = {"iam", "iam", "iam", "IAM", "iam"},
    };
    for (int s = 0; s < ENDPOINT_SVC_COUNT; s++) {
        const struct endpoint_service_info *info = endpoint_service_info((enum endpoint_service)s);
        assert_non_null(info);
        assert_string_equal(info->id, want[s][0]);
        assert_string_equal(info->prefix, want[s][1]);
        assert_string_equal(info->signing_name, want[s][2]);
        assert_string_equal(info->env_suffix, want[s][3]);
        assert_string_equal(info->config_key, want[s][4]);
        enum endpoint_service back;
        assert_true(endpoint_service_from_id(want[s][0], &back));
        assert_int_equal(back, s);
    }
    assert_null(endpoint_service_info(ENDPOINT_SVC_COUNT));
    enum endpoint_service dummy;
    assert_false(endpoint_service_from_id("bedrock-agent", &dummy));
    assert_false(endpoint_service_from_id(NULL, &dummy));
}

struct svc_case {
    enum endpoint_service svc;
    const char *region;
    bool fips, ds;
    const char *endpoint;
    const char *bucket;
    bool path_style;
    const char *url;   /* expected URL, or NULL for an error */
    const char *error; /* exact expected message */
    const char *signing_region;
};

/* Expected values transcribed from the services' endpoint-rule-set-1.json
 * (botocore data) and the wire reference, sections 1.2 and 8.3. */
static const struct svc_case svc_cases[] = {
    {ENDPOINT_SVC_BEDROCK, "us-west-2", false, false, NULL, NULL, false,
     "https://bedrock.us-west-2.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_BEDROCK, "us-west-2", true, false, NULL, NULL, false,
     "https://bedrock-fips.us-west-2.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_BEDROCK, NULL, false, false, NULL, NULL, false, NULL,
     "Invalid Configuration: Missing Region", NULL},
    {ENDPOINT_SVC_BEDROCK_RUNTIME, "eusc-de-east-1", false, false, NULL, NULL, false,
     "https://bedrock-runtime.eusc-de-east-1.amazonaws.eu", NULL, NULL},
    {ENDPOINT_SVC_BEDROCK_RUNTIME, "ap-southeast-7", false, true, NULL, NULL, false,
     "https://bedrock-runtime.ap-southeast-7.api.aws", NULL, NULL},
    {ENDPOINT_SVC_BEDROCK_RUNTIME, "us-isof-south-1", true, true, NULL, NULL, false,
     "https://bedrock-runtime-fips.us-isof-south-1.api.aws.hci.ic.gov", NULL, NULL},
    {ENDPOINT_SVC_STS, "us-west-2", false, false, NULL, NULL, false, "https://sts.us-west-2.amazonaws.com",
     NULL, "us-west-2"},
    {ENDPOINT_SVC_STS, "aws-global", false, false, NULL, NULL, false, "https://sts.amazonaws.com", NULL,
     "us-east-1"},
    {ENDPOINT_SVC_STS, "us-east-1", true, false, NULL, NULL, false,
     "https://sts-fips.us-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_STS, "us-east-1", true, true, NULL, NULL, false, "https://sts-fips.us-east-1.api.aws", NULL,
     NULL},
    {ENDPOINT_SVC_STS, "us-gov-west-1", true, false, NULL, NULL, false,
     "https://sts.us-gov-west-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_STS, "cn-north-1", false, false, NULL, NULL, false,
     "https://sts.cn-north-1.amazonaws.com.cn", NULL, NULL},
    {ENDPOINT_SVC_STS, "us-east-1", true, false, "https://example.com", NULL, false, NULL,
     "Invalid Configuration: FIPS and custom endpoint are not supported", NULL},
    {ENDPOINT_SVC_LOGS, "us-gov-east-1", true, false, NULL, NULL, false,
     "https://logs.us-gov-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_LOGS, "us-gov-central-9", true, false, NULL, NULL, false,
     "https://logs-fips.us-gov-central-9.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_LOGS, "us-east-1", true, false, NULL, NULL, false,
     "https://logs-fips.us-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_LOGS, "eu-west-1", false, true, NULL, NULL, false, "https://logs.eu-west-1.api.aws", NULL,
     NULL},
    {ENDPOINT_SVC_LOGS, NULL, false, true, "https://example.com", NULL, false, NULL,
     "Invalid Configuration: Dualstack and custom endpoint are not supported", NULL},
    {ENDPOINT_SVC_MONITORING, "us-gov-west-1", true, false, NULL, NULL, false,
     "https://monitoring.us-gov-west-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_MONITORING, "us-gov-west-1", true, true, NULL, NULL, false,
     "https://monitoring.us-gov-west-1.api.aws", NULL, NULL},
    {ENDPOINT_SVC_MONITORING, "us-east-1", true, false, NULL, NULL, false,
     "https://monitoring-fips.us-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_MONITORING, "ca-central-1", false, false, NULL, NULL, false,
     "https://monitoring.ca-central-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_SSO, "us-east-1", false, false, NULL, NULL, false,
     "https://portal.sso.us-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_SSO, "us-east-1", true, false, NULL, NULL, false,
     "https://portal.sso-fips.us-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_SSO, "us-gov-west-1", true, false, NULL, NULL, false,
     "https://portal.sso.us-gov-west-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_SSO, "eusc-de-east-1", false, false, NULL, NULL, false,
     "https://portal.sso.eusc-de-east-1.amazonaws.eu", NULL, NULL},
    {ENDPOINT_SVC_SSO_OIDC, "eu-west-1", false, false, NULL, NULL, false,
     "https://oidc.eu-west-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_SSO_OIDC, "us-gov-east-1", true, false, NULL, NULL, false,
     "https://oidc.us-gov-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_SSO_OIDC, "us-east-2", true, true, NULL, NULL, false, "https://oidc-fips.us-east-2.api.aws",
     NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, false, NULL, NULL, false, "https://s3.us-west-2.amazonaws.com",
     NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, false, NULL, "my-bucket", false,
     "https://my-bucket.s3.us-west-2.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, false, NULL, "my-bucket", true,
     "https://s3.us-west-2.amazonaws.com/my-bucket", NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, false, NULL, "my.dotted.bucket", false,
     "https://s3.us-west-2.amazonaws.com/my.dotted.bucket", NULL, NULL},
    {ENDPOINT_SVC_S3, "us-east-1", true, false, NULL, NULL, false, "https://s3-fips.us-east-1.amazonaws.com",
     NULL, NULL},
    {ENDPOINT_SVC_S3, "us-east-1", false, true, NULL, NULL, false,
     "https://s3.dualstack.us-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_S3, "us-east-1", true, true, NULL, "b12", false,
     "https://b12.s3-fips.dualstack.us-east-1.amazonaws.com", NULL, NULL},
    {ENDPOINT_SVC_S3, "cn-north-1", false, false, NULL, NULL, false, "https://s3.cn-north-1.amazonaws.com.cn",
     NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, false, "http://127.0.0.1:9000", "my-bucket", false,
     "http://127.0.0.1:9000/my-bucket", NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, false, "https://minio.example/base/", "my-bucket", false,
     "https://my-bucket.minio.example/base", NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, false, "https://minio.example/base", "my-bucket", true,
     "https://minio.example/base/my-bucket", NULL, NULL},
    {ENDPOINT_SVC_S3, "us-west-2", false, true, "https://minio.example", NULL, false, NULL,
     "Cannot set dual-stack in combination with a custom endpoint.", NULL},
    {ENDPOINT_SVC_S3, "us-west-2", true, false, "https://minio.example", NULL, false, NULL,
     "A custom endpoint cannot be combined with FIPS", NULL},
    {ENDPOINT_SVC_S3, NULL, false, false, NULL, "my-bucket", false, NULL,
     "A region must be set when sending requests to S3.", NULL},
    {ENDPOINT_SVC_S3, "us-west-2.evil", false, false, NULL, NULL, false, NULL,
     "Invalid region: region was not a valid DNS name.", NULL},
};

static void test_other_service_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(svc_cases); i++) {
        const struct svc_case *c = &svc_cases[i];
        struct endpoint_params p = {
            .service = c->svc,
            .region = c->region,
            .use_fips = c->fips,
            .use_dualstack = c->ds,
            .endpoint = c->endpoint,
            .s3_bucket = c->bucket,
            .s3_path_style = c->path_style,
        };
        struct endpoint ep;
        struct brock_err e = {0};
        enum brock_status st = endpoint_resolve_rules(&p, &ep, &e);
        if (c->url) {
            if (st != BROCK_OK)
                fail_msg("case %zu (%s %s): %s", i, endpoint_service_info(c->svc)->id, c->region, e.msg);
            if (strcmp(ep.url, c->url) != 0)
                fail_msg("case %zu: want %s got %s", i, c->url, ep.url);
            assert_string_equal(ep.signing_name, endpoint_service_info(c->svc)->signing_name);
            if (c->signing_region)
                assert_string_equal(ep.signing_region, c->signing_region);
            assert_string_equal(ep.source, c->endpoint ? "custom endpoint" : "default");
        } else {
            if (st != BROCK_ERR_CONFIG)
                fail_msg("case %zu: want error \"%s\", got status %d url %s", i, c->error, st, ep.url);
            assert_string_equal(e.msg, c->error);
        }
    }

    /* bad bucket names */
    struct endpoint ep;
    struct brock_err e = {0};
    struct endpoint_params p = {.service = ENDPOINT_SVC_S3, .region = "us-west-2", .s3_bucket = "a/b"};
    assert_int_equal(endpoint_resolve_rules(&p, &ep, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "invalid S3 bucket name \"a/b\""));
    static const char *const bad_buckets[] = {"", "..", ".hidden", "-x", "a b", "b\n"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad_buckets); i++) {
        p.s3_bucket = bad_buckets[i];
        assert_int_equal(endpoint_resolve_rules(&p, &ep, &e), BROCK_ERR_CONFIG);
        assert_non_null(strstr(e.msg, "invalid S3 bucket name"));
    }
    /* a bucket that is not a DNS label goes in the path */
    p.s3_bucket = "Legacy_Bucket";
    assert_int_equal(endpoint_resolve_rules(&p, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "https://s3.us-west-2.amazonaws.com/Legacy_Bucket");
    assert_string_equal(ep.host, "s3.us-west-2.amazonaws.com");
    assert_string_equal(ep.base_path, "/Legacy_Bucket");
    /* a region that would inject into the host name never makes a URL */
    struct endpoint_params q = {.service = ENDPOINT_SVC_BEDROCK_RUNTIME, .region = "us-east-1.evil.com/x"};
    assert_int_equal(endpoint_resolve_rules(&q, &ep, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "invalid region"));
    assert_string_equal(ep.url, "");
    /* ... nor a signing region, even with a custom endpoint */
    q.endpoint = "http://127.0.0.1:8787";
    assert_int_equal(endpoint_resolve_rules(&q, &ep, &e), BROCK_OK);
    assert_string_equal(ep.signing_region, "");
    q.service = ENDPOINT_SVC_COUNT;
    assert_int_equal(endpoint_resolve_rules(&q, &ep, &e), BROCK_ERR_USAGE);
}

/* ---- URL parsing ------------------------------------------------------------------ */

static void test_url_parse_good(void **state)
{
    (void)state;
    static const struct {
        const char *in, *url, *scheme, *host, *authority, *base;
        int port;
    } cases[] = {
        {"http://127.0.0.1:8787", "http://127.0.0.1:8787", "http", "127.0.0.1", "127.0.0.1:8787", "", 8787},
        {"HTTPS://Example.COM/", "https://example.com", "https", "example.com", "example.com", "", 443},
        {"https://example.com:443/base/path/", "https://example.com/base/path", "https", "example.com",
         "example.com", "/base/path", 443},
        {"http://example.com:80", "http://example.com", "http", "example.com", "example.com", "", 80},
        {"https://example.com:80", "https://example.com:80", "https", "example.com", "example.com:80", "",
         80},
        {"http://[::1]:9000/x", "http://[::1]:9000/x", "http", "[::1]", "[::1]:9000", "/x", 9000},
        {"http://[FE80::1]", "http://[fe80::1]", "http", "[fe80::1]", "[fe80::1]", "", 80},
        {"http://localhost", "http://localhost", "http", "localhost", "localhost", "", 80},
        {"https://vpce-0a1b2c3d4e5f-abcd1234.bedrock-runtime.us-east-1.vpce.amazonaws.com",
         "https://vpce-0a1b2c3d4e5f-abcd1234.bedrock-runtime.us-east-1.vpce.amazonaws.com", "https",
         "vpce-0a1b2c3d4e5f-abcd1234.bedrock-runtime.us-east-1.vpce.amazonaws.com",
         "vpce-0a1b2c3d4e5f-abcd1234.bedrock-runtime.us-east-1.vpce.amazonaws.com", "", 443},
        {"http://gw:8080/proxy/bedrock%20x/~a", "http://gw:8080/proxy/bedrock%20x/~a", "http", "gw",
         "gw:8080", "/proxy/bedrock%20x/~a", 8080},
        {"https://my_host.internal:65535//", "https://my_host.internal:65535", "https", "my_host.internal",
         "my_host.internal:65535", "", 65535},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct endpoint ep;
        struct brock_err e = {0};
        if (endpoint_url_parse(cases[i].in, "test", &ep, &e) != BROCK_OK)
            fail_msg("%s: %s", cases[i].in, e.msg);
        assert_string_equal(ep.url, cases[i].url);
        assert_string_equal(ep.scheme, cases[i].scheme);
        assert_string_equal(ep.host, cases[i].host);
        assert_string_equal(ep.authority, cases[i].authority);
        assert_string_equal(ep.base_path, cases[i].base);
        assert_int_equal(ep.port, cases[i].port);
    }

    struct endpoint ep;
    struct brock_err e = {0};
    assert_int_equal(endpoint_url_parse("http://127.0.0.1:8787/pre/", "t", &ep, &e), BROCK_OK);
    struct buf b = BUF_INIT(4096);
    endpoint_build_url(&ep, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", &b);
    assert_string_equal(
        buf_cstr(&b),
        "http://127.0.0.1:8787/pre/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke");
    buf_reset(&b);
    endpoint_build_url(&ep, NULL, &b);
    assert_string_equal(buf_cstr(&b), "http://127.0.0.1:8787/pre/");
    buf_free(&b);
}

static void test_url_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *in, *why;
    } cases[] = {
        {"", "empty"},
        {"example.com", "must start with http:// or https://"},
        {"ftp://example.com", "scheme must be http or https"},
        {"httpx://example.com", "scheme must be http or https"},
        {"://example.com", "must start with"},
        {"https://", "host is missing"},
        {"https:///path", "host is missing"},
        {"https://:443", "host is missing"},
        {"https://host:0", "port must be a number from 1 to 65535"},
        {"https://host:65536", "port must be"},
        {"https://host:123456", "port must be"},
        {"https://host:12a", "port must be"},
        {"https://host:", "port must be"},
        {"https://host:-1", "port must be"},
        {"https://user:hunter2@host", "user information"},
        {"https://host?x=1", "query"},
        {"https://host/p?x=1", "query"},
        {"https://host/p#frag", "fragment"},
        {"https://ho st", "bad character in the host"},
        {"https://host\n.evil", "bad character in the host"},
        {"https://host/a b", "bad character in the path"},
        {"https://host/a\\b", "bad character in the path"},
        {"https://host/%zz", "percent-escape"},
        {"https://host/%4", "percent-escape"},
        {"https://[::1", "unterminated IPv6"},
        {"https://[zz::1]", "IPv6"},
        {"https://[1.2.3.4]", "bad IPv6 address"},
        {"https://[::1]x", "after the IPv6 address"},
        {"https://[::1%25eth0]", "IPv6"},
        {"https://-host", "starts with '-'"},
        {"https://a..b", "empty label"},
        {"https://.a", "empty label"},
        {"https://h\xc3\xa9llo", "bad character in the host"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct endpoint ep;
        struct brock_err e = {0};
        enum brock_status st = endpoint_url_parse(cases[i].in, "AWS_ENDPOINT_URL", &ep, &e);
        if (st != BROCK_ERR_CONFIG)
            fail_msg("\"%s\" should fail, got status %d (%s)", cases[i].in, st, ep.url);
        if (strncmp(e.msg, "AWS_ENDPOINT_URL: ", 18) != 0 || !strstr(e.msg, cases[i].why))
            fail_msg("\"%s\": message \"%s\" should name the source and say \"%s\"", cases[i].in, e.msg,
                     cases[i].why);
        assert_null(strstr(e.msg, "hunter2"));
        assert_null(strchr(e.msg, '\n'));
    }
    /* too long */
    char *big = malloc(ENDPOINT_URL_MAX + 16);
    memcpy(big, "https://h/", 10);
    memset(big + 10, 'a', ENDPOINT_URL_MAX + 4);
    big[ENDPOINT_URL_MAX + 14] = '\0';
    struct endpoint ep;
    struct brock_err e = {0};
    assert_int_equal(endpoint_url_parse(big, "profile dev", &ep, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "profile dev"));
    /* a path just over the cap is refused, not truncated */
    memset(big + 10, 'a', ENDPOINT_PATH_MAX + 10);
    big[10 + ENDPOINT_PATH_MAX + 10] = '\0';
    assert_int_equal(endpoint_url_parse(big, "x", &ep, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "path is too long"));
    /* a long host name, likewise */
    memset(big + 8, 'h', ENDPOINT_HOST_MAX + 10);
    big[8 + ENDPOINT_HOST_MAX + 10] = '\0';
    assert_int_equal(endpoint_url_parse(big, "x", &ep, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "host name is too long"));
    free(big);
}

/* ---- the endpoint URL override chain ---------------------------------------------- */

#define RT ENDPOINT_SVC_BEDROCK_RUNTIME

static enum brock_status chain(struct fake_env *env, struct fake_profile *prof,
                               const struct endpoint_request *req, struct endpoint *ep, struct brock_err *e)
{
    struct endpoint_lookup lk = lookup_of(env, prof);
    err_clear(e);
    return endpoint_resolve(req, &lk, ep, e);
}

static void test_override_precedence(void **state)
{
    (void)state;
    struct fake_env env = {{
        {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:1002"},
        {"AWS_ENDPOINT_URL", "http://127.0.0.1:1003"},
        {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1009"},
    }};
    struct fake_profile prof = {
        .props = {{"region", "eu-west-1"}, {"services", "local"}, {"endpoint_url", "http://127.0.0.1:1005"}},
        .sections = {"local"},
        .svcs = {{"local", "bedrock_runtime", "endpoint_url", "http://127.0.0.1:1004"},
                 {"local", "sts", "endpoint_url", "http://127.0.0.1:1008/sts"}},
    };
    struct endpoint_request req = {.service = RT,
                                   .region = "us-west-2",
                                   .endpoint_url = "http://127.0.0.1:1001",
                                   .explicit_label = "--endpoint-url"};
    struct endpoint ep;
    struct brock_err e;

    /* 1. explicit */
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:1001");
    assert_string_equal(ep.source, "--endpoint-url");
    assert_null(ep.partition);
    assert_string_equal(ep.signing_name, "bedrock");
    assert_string_equal(ep.signing_region, "us-west-2");
    /* 2. service-specific environment variable */
    req.endpoint_url = NULL;
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:1002");
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
    /* 3. global environment variable */
    env.vars[0].v = ""; /* empty counts as unset */
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:1003");
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL");
    /* 4. the [services local] section named by the profile */
    env.vars[1].v = "  \t";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:1004");
    assert_string_equal(ep.source, "profile dev services local");
    /* ... per service: STS reads its own key (its env var still wins) */
    struct endpoint_request sts = {.service = ENDPOINT_SVC_STS, .region = "us-west-2"};
    assert_int_equal(chain(&env, &prof, &sts, &ep, &e), BROCK_OK);
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL_STS");
    env.vars[2].v = NULL;
    assert_int_equal(chain(&env, &prof, &sts, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:1008/sts");
    assert_string_equal(ep.base_path, "/sts");
    assert_string_equal(ep.signing_name, "sts");
    /* 5. endpoint_url in the profile (no key for this service in the section) */
    prof.svcs[0].service_key = "bedrock";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:1005");
    assert_string_equal(ep.source, "profile dev");
    /* ... and the control-plane service picks up its own key */
    struct endpoint_request cp = {.service = ENDPOINT_SVC_BEDROCK, .region = "us-west-2"};
    assert_int_equal(chain(&env, &prof, &cp, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:1004");
    /* 6. the rule set */
    prof.props[2].k = "unrelated";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "https://bedrock-runtime.us-west-2.amazonaws.com");
    assert_string_equal(ep.source, "default");
    assert_string_equal(ep.partition, "aws");
    assert_string_equal(ep.host, "bedrock-runtime.us-west-2.amazonaws.com");
    assert_int_equal(ep.port, 443);
    /* no profile at all */
    assert_int_equal(chain(&env, NULL, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.source, "default");
}

static void test_override_ignore_switch(void **state)
{
    (void)state;
    struct fake_env env = {{
        {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:1002"},
        {"AWS_ENDPOINT_URL", "http://127.0.0.1:1003"},
        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"},
    }};
    struct fake_profile prof = {
        .props = {{"services", "local"}, {"endpoint_url", "http://127.0.0.1:1005"}},
        .sections = {"local"},
        .svcs = {{"local", "bedrock_runtime", "endpoint_url", "http://127.0.0.1:1004"}},
    };
    struct endpoint_request req = {.service = RT, .region = "us-east-2"};
    struct endpoint ep;
    struct brock_err e;

    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "https://bedrock-runtime.us-east-2.amazonaws.com");
    assert_string_equal(ep.source, "default");
    /* the explicit endpoint is still honoured */
    req.endpoint_url = "http://[::1]:7000";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://[::1]:7000");
    assert_string_equal(ep.source, "explicit endpoint_url");
    req.endpoint_url = NULL;
    /* any case */
    env.vars[2].v = "TRUE";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.source, "default");
    /* from the profile, when the environment does not say */
    env.vars[2].v = NULL;
    prof.props[2].k = "ignore_configured_endpoint_urls";
    prof.props[2].v = "true";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.source, "default");
    /* the environment beats the profile */
    env.vars[2].v = "false";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
    /* junk is an error naming the source */
    env.vars[2].v = "yes please";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: expected true or false, got \"yes please\"");
    env.vars[2].v = NULL;
    prof.props[2].v = "1";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "profile dev ignore_configured_endpoint_urls: expected true or false, got \"1\"");
}

static void test_override_fips_dualstack(void **state)
{
    (void)state;
    struct fake_env env = {{{"AWS_USE_FIPS_ENDPOINT", "true"}}};
    struct fake_profile prof = {.props = {{"use_dualstack_endpoint", "true"}}};
    struct endpoint_request req = {.service = RT, .region = "us-east-1"};
    struct endpoint ep;
    struct brock_err e;

    /* FIPS from the environment, dual-stack from the profile */
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "https://bedrock-runtime-fips.us-east-1.api.aws");
    assert_true(ep.fips);
    assert_true(ep.dualstack);
    /* explicit off beats both */
    req.use_fips = ENDPOINT_FLAG_OFF;
    req.use_dualstack = ENDPOINT_FLAG_OFF;
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "https://bedrock-runtime.us-east-1.amazonaws.com");
    req.use_dualstack = ENDPOINT_FLAG_UNSET;

    /* FIPS + configured endpoint: the rule set's error, with the sources */
    req.use_fips = ENDPOINT_FLAG_UNSET;
    prof.props[0].v = "false";
    env.vars[1] = (struct kv){"AWS_ENDPOINT_URL", "http://127.0.0.1:8787"};
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "Invalid Configuration: FIPS and custom endpoint are not supported (endpoint URL "
                        "from AWS_ENDPOINT_URL; FIPS from AWS_USE_FIPS_ENDPOINT; dual-stack from profile "
                        "dev use_dualstack_endpoint)");
    /* dual-stack from the profile + explicit endpoint */
    env.vars[0].v = "false";
    prof.props[0].v = "True";
    req.endpoint_url = "https://example.com";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_int_equal(
        strncmp(e.msg, "Invalid Configuration: Dualstack and custom endpoint are not supported", 70), 0);
    assert_non_null(strstr(e.msg, "profile dev use_dualstack_endpoint"));
    /* bad switch values */
    env.vars[0].v = "on";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg, "AWS_USE_FIPS_ENDPOINT: expected true or false, got \"on\"");
    /* missing region, nothing configured */
    env.vars[0].v = NULL;
    env.vars[1].v = NULL;
    prof.props[0].v = "false";
    req.endpoint_url = NULL;
    req.region = NULL;
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_int_equal(strncmp(e.msg, "Invalid Configuration: Missing Region", 37), 0);
}

static void test_override_bad_values(void **state)
{
    (void)state;
    struct fake_env env = {{{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "ftp://127.0.0.1"}}};
    struct fake_profile prof = {
        .props = {{"services", "local"}, {"endpoint_url", "localhost:8000"}},
        .sections = {"local"},
        .svcs = {{"local", "bedrock_runtime", "endpoint_url", "http://local host"}},
    };
    struct endpoint_request req = {.service = RT, .region = "us-west-2"};
    struct endpoint ep;
    struct brock_err e;

    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME: invalid endpoint URL \"ftp://127.0.0.1\": the "
                        "scheme must be http or https");
    env.vars[0].v = NULL;
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg, "profile dev services local: invalid endpoint URL \"http://local host\": bad "
                               "character in the host name");
    prof.svcs[0].value = NULL;
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "profile dev: invalid endpoint URL \"localhost:8000\": it must start with http:// "
                        "or https://");
    /* a password in the URL is never echoed */
    env.vars[0].v = "https://AKIDEXAMPLE:wJalrXUtnFEMI%2FK7MDENG@example.com";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"));
    assert_null(strstr(e.msg, "wJalrXUtnFEMI"));
    assert_null(strstr(e.msg, "AKIDEXAMPLE"));
    /* values are trimmed */
    env.vars[0].v = "  http://127.0.0.1:8787/\n";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:8787");
    /* a services section that does not exist */
    env.vars[0].v = NULL;
    prof.props[0].v = "nosuch";
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg, "profile dev: services = nosuch, but there is no [services nosuch] section");
    /* an over-long value */
    char big[ENDPOINT_URL_MAX + 100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    env.vars[0].v = big;
    assert_int_equal(chain(&env, &prof, &req, &ep, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME: value is too long"));
    /* API misuse */
    assert_int_equal(chain(&env, &prof, NULL, &ep, &e), BROCK_ERR_USAGE);
}

/* The process environment is used when no getenv callback is given. */
static void test_real_environment(void **state)
{
    (void)state;
    setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:4444", 1);
    setenv("AWS_REGION", "ap-south-2", 1);
    struct endpoint_region r;
    struct brock_err e = {0};
    assert_int_equal(endpoint_region_resolve(NULL, NULL, NULL, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "ap-south-2");
    assert_string_equal(r.source, "AWS_REGION");
    struct endpoint_request req = {.service = ENDPOINT_SVC_SSO_OIDC, .region = r.region};
    struct endpoint ep;
    assert_int_equal(endpoint_resolve(&req, NULL, &ep, &e), BROCK_OK);
    assert_string_equal(ep.url, "http://127.0.0.1:4444");
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL_SSO_OIDC");
    assert_string_equal(ep.signing_name, "sso-oauth");
    unsetenv("AWS_ENDPOINT_URL_SSO_OIDC");
    unsetenv("AWS_REGION");
}

/* ---- region ------------------------------------------------------------------------- */

static void test_region_precedence(void **state)
{
    (void)state;
    struct fake_env env = {{{"AWS_REGION", "eu-central-1"}, {"AWS_DEFAULT_REGION", "ap-northeast-1"}}};
    struct fake_profile prof = {.props = {{"region", "ca-central-1"}}};
    struct endpoint_lookup lk = lookup_of(&env, &prof);
    struct endpoint_region r;
    struct brock_err e = {0};

    assert_int_equal(endpoint_region_resolve("us-east-2", "--region", &lk, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "us-east-2");
    assert_string_equal(r.source, "--region");
    assert_int_equal(endpoint_region_resolve(" us-east-2 ", NULL, &lk, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "us-east-2");
    assert_string_equal(r.source, "explicit");
    assert_int_equal(endpoint_region_resolve(NULL, NULL, &lk, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "eu-central-1");
    assert_string_equal(r.source, "AWS_REGION");
    env.vars[0].v = "";
    assert_int_equal(endpoint_region_resolve("", NULL, &lk, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "ap-northeast-1");
    assert_string_equal(r.source, "AWS_DEFAULT_REGION");
    env.vars[1].v = NULL;
    assert_int_equal(endpoint_region_resolve(NULL, NULL, &lk, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "ca-central-1");
    assert_string_equal(r.source, "profile dev");
    prof.props[0].v = NULL;
    assert_int_equal(endpoint_region_resolve(NULL, NULL, &lk, &r, &e), BROCK_OK);
    assert_string_equal(r.region, "us-west-2");
    assert_string_equal(r.source, "default");
    struct endpoint_lookup none = lookup_of(&env, NULL);
    assert_int_equal(endpoint_region_resolve(NULL, NULL, &none, &r, &e), BROCK_OK);
    assert_string_equal(r.region, ENDPOINT_DEFAULT_REGION);
}

static void test_region_validation(void **state)
{
    (void)state;
    static const char *const good[] = {"us-west-2",
                                       "aws-global",
                                       "eusc-de-east-1",
                                       "a",
                                       "9",
                                       "us-isof-south-1",
                                       "x123456789012345678901234567890123456789012345678901234567890yz"};
    static const char *const bad[] = {
        "US-EAST-1",
        "us_east_1",
        "us-east-1.evil.com",
        "us-east-1/",
        "-us",
        "us-",
        "",
        "a b",
        "us-east-1\n",
        "us-east-1:443",
        "us-east-1@x",
        "x1234567890123456789012345678901234567890123456789012345678901yz",
        "r\xc3\xa9gion",
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(good); i++)
        if (!endpoint_region_valid(good[i]))
            fail_msg("%s should be valid", good[i]);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++)
        if (endpoint_region_valid(bad[i]))
            fail_msg("\"%s\" should be invalid", bad[i]);
    assert_false(endpoint_region_valid(NULL));

    /* an invalid value is reported with its source and does not fall through */
    struct fake_env env = {{{"AWS_REGION", "us-east-1.evil.com"}, {"AWS_DEFAULT_REGION", "us-east-1"}}};
    struct fake_profile prof = {.props = {{"region", "Eu-West-1"}}};
    struct endpoint_lookup lk = lookup_of(&env, &prof);
    struct endpoint_region r;
    struct brock_err e = {0};
    assert_int_equal(endpoint_region_resolve(NULL, NULL, &lk, &r, &e), BROCK_ERR_CONFIG);
    assert_string_equal(e.msg,
                        "AWS_REGION: invalid region \"us-east-1.evil.com\": use 1-63 lowercase letters, "
                        "digits and '-' (e.g. us-west-2)");
    assert_string_equal(r.region, "");
    env.vars[0].v = NULL;
    env.vars[1].v = NULL;
    assert_int_equal(endpoint_region_resolve(NULL, NULL, &lk, &r, &e), BROCK_ERR_CONFIG);
    assert_int_equal(strncmp(e.msg, "profile dev: invalid region \"Eu-West-1\"", 39), 0);
    assert_int_equal(endpoint_region_resolve("us east", "--region", &lk, &r, &e), BROCK_ERR_CONFIG);
    assert_int_equal(strncmp(e.msg, "--region: invalid region \"us east\"", 34), 0);
    /* control characters are escaped in the message */
    assert_int_equal(endpoint_region_resolve("a\x1b[31mb", "--region", &lk, &r, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "\"a\\x1B[31mb\""));
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(endpoint_region_resolve(big, "--region", &lk, &r, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "--region"));
}

/* IAM is global: one host per partition, signed for the partition's home region. */
static void test_iam_is_global(void **state)
{
    (void)state;
    static const struct {
        const char *region, *url, *signing_region;
    } cases[] = {
        {"us-west-2", "https://iam.amazonaws.com", "us-east-1"},
        {"eu-west-1", "https://iam.amazonaws.com", "us-east-1"},
        {"cn-north-1", "https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1"},
        {"us-gov-east-1", "https://iam.us-gov.amazonaws.com", "us-gov-west-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct endpoint_params p = {.service = ENDPOINT_SVC_IAM, .region = cases[i].region};
        struct endpoint ep;
        struct brock_err e = {0};
        assert_int_equal(endpoint_resolve_rules(&p, &ep, &e), BROCK_OK);
        assert_string_equal(ep.url, cases[i].url);
        assert_string_equal(ep.signing_region, cases[i].signing_region);
        assert_string_equal(ep.signing_name, "iam");
    }
    enum endpoint_service svc;
    assert_true(endpoint_service_from_id("iam", &svc));
    assert_int_equal(svc, ENDPOINT_SVC_IAM);
    assert_string_equal(endpoint_service_info(ENDPOINT_SVC_IAM)->env_suffix, "IAM");
}

int main(void)
{
    test_init();
    struct test_list vectors = {0};
    add_rule_vectors(&vectors);
    int failed = test_list_run("endpoint rule-set vectors", &vectors);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partitions_listed_regions),
        cmocka_unit_test(test_partitions_by_pattern),
        cmocka_unit_test(test_service_table),
        cmocka_unit_test(test_other_service_rules),
        cmocka_unit_test(test_url_parse_good),
        cmocka_unit_test(test_url_parse_bad),
        cmocka_unit_test(test_override_precedence),
        cmocka_unit_test(test_override_ignore_switch),
        cmocka_unit_test(test_override_fips_dualstack),
        cmocka_unit_test(test_override_bad_values),
        cmocka_unit_test(test_real_environment),
        cmocka_unit_test(test_region_precedence),
        cmocka_unit_test(test_region_validation),
        cmocka_unit_test(test_iam_is_global),
    };
    failed += cmocka_run_group_tests_name("endpoint", tests, NULL, NULL);
    return failed ? 1 : 0;
}
