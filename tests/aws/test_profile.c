/* Tests for src/aws/profile: the AWS shared config and credentials files.
 *
 * File-driven: every vector of the two AWS suites in
 * testdata/aws-config-profiles (smithy-rs = set A, SDK for Ruby = set B):
 * the parser tests, the file-location tests and B's profile tests. Then
 * hand-written tests for what the suites do not cover: path:line in every
 * error, size caps, secrets kept out of messages, origins, merging order,
 * sub-property lookups, loading real files, credential-source precedence. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/aws/profile.h"
#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"
#include "../../src/util/fs.h"
#include "../../src/util/json.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static json_t *load_json(const char *rel)
{
    char *path = testdata_path(rel);
    size_t n;
    char *text = test_read_file(path, &n);
    if (!text) {
        printf("not ok 1 - cannot read test vectors %s\n", path);
        fprintf(stderr, "test_profile: missing vector file %s\n", path);
        exit(1);
    }
    json_t *root = NULL;
    struct brock_err e = {0};
    if (json_parse(text, n, path, &root, &e) != BROCK_OK) {
        printf("not ok 1 - bad test vectors: %s\n", e.msg);
        exit(1);
    }
    free(text);
    free(path);
    return root;
}

/* Parse a config and/or a credentials text into a new set, config first (as
 * the SDKs load them). */
static enum brock_status parse_pair(const char *config, const char *credentials, struct aws_profile_set **out,
                                    struct brock_err *e)
{
    struct aws_profile_set *set = aws_profile_set_new();
    enum brock_status st = BROCK_OK;
    if (config)
        st = aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, config, strlen(config), "~/.aws/config", e);
    if (st == BROCK_OK && credentials)
        st = aws_profile_set_parse(set, AWS_PROFILE_FILE_CREDENTIALS, credentials, strlen(credentials),
                                   "~/.aws/credentials", e);
    *out = set;
    return st;
}

static size_t count_props(const struct aws_profile_prop *p)
{
    size_t n = 0;
    for (; p; p = aws_profile_prop_next(p))
        n++;
    return n;
}

/* Compare the sections of one kind with an expected {name: {key: value}}
 * object (NULL = none). A value that is an object is a set of parsed
 * sub-properties (set B); a string is the raw value (set A). Writes why it
 * differs into `why`. */
static bool sections_match(const struct aws_profile_set *set, enum aws_profile_kind kind, const json_t *want,
                           char *why, size_t whylen)
{
    size_t nwant = want ? json_object_size(want) : 0;
    if (aws_profile_count(set, kind) != nwant) {
        snprintf(why, whylen, "%zu sections of kind %d, expected %zu", aws_profile_count(set, kind), (int)kind,
                 nwant);
        return false;
    }
    const char *name;
    json_t *props;
    json_object_foreach((json_t *)want, name, props) {
        const struct aws_profile_section *s = aws_profile_find(set, kind, name);
        if (!s) {
            snprintf(why, whylen, "section '%s' missing", name);
            return false;
        }
        if (count_props(aws_profile_props(s)) != json_object_size(props)) {
            snprintf(why, whylen, "section '%s' has %zu properties, expected %zu", name,
                     count_props(aws_profile_props(s)), json_object_size(props));
            return false;
        }
        const char *key;
        json_t *val;
        json_object_foreach(props, key, val) {
            const struct aws_profile_prop *p = aws_profile_prop(s, key);
            if (!p || strcmp(p->name, key) != 0) {
                snprintf(why, whylen, "section '%s': property '%s' missing", name, key);
                return false;
            }
            if (json_is_string(val)) {
                if (strcmp(p->value, json_string_value(val)) != 0) {
                    snprintf(why, whylen, "section '%s': %s = \"%s\", expected \"%s\"", name, key, p->value,
                             json_string_value(val));
                    return false;
                }
                continue;
            }
            if (!aws_profile_prop_has_subs(p) || count_props(aws_profile_subs(p)) != json_object_size(val)) {
                snprintf(why, whylen, "section '%s': property '%s' has %zu sub-properties, expected %zu", name, key,
                         count_props(aws_profile_subs(p)), json_object_size(val));
                return false;
            }
            const char *sk;
            json_t *sv;
            json_object_foreach(val, sk, sv) {
                const char *got = aws_profile_sub_value(s, key, sk);
                if (!got || strcmp(got, json_string_value(sv)) != 0) {
                    snprintf(why, whylen, "section '%s': %s.%s = \"%s\", expected \"%s\"", name, key, sk,
                             got ? got : "(absent)", json_string_value(sv));
                    return false;
                }
            }
        }
    }
    return true;
}

/* "PATH:LINE: ..." with LINE in [1, lines]. */
static bool has_location(const char *msg, const char *path, unsigned lines)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) != 0 || msg[n] != ':')
        return false;
    char *end;
    unsigned long line = strtoul(msg + n + 1, &end, 10);
    return end != msg + n + 1 && *end == ':' && line >= 1 && line <= lines;
}

static unsigned count_lines(const char *s)
{
    unsigned n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ------------------------------------------------------------------------ */
/* Parser suites                                                            */

enum suite { SUITE_A, SUITE_B };

struct vector {
    const json_t *test; /* borrowed from the suite's root, alive for the run */
    enum suite suite;
    bool advisory_message; /* errorContaining is worded differently from A's */
};

/* B tests whose errorContaining text differs from set A's wording for the
 * same failure (the README lists them): brock words its messages after A,
 * so for these only the failure and its path:line are checked. */
static const char *const b_message_differs[] = {
    "Invalid sub-property definitions cause an error.",   /* B: "...defining a property in sub-property" */
    "Sub-property definitions cannot have an empty name.", /* B: "Property did not have a name in sub-property" */
};

static void run_parser_vector(void **state)
{
    const struct vector *v = *state;
    const json_t *input = json_object_get(v->test, "input");
    const json_t *output = json_object_get(v->test, "output");
    const char *config = json_str(input, "configFile");
    const char *credentials = json_str(input, "credentialsFile");

    struct aws_profile_set *set;
    struct brock_err e = {0};
    enum brock_status st = parse_pair(config, credentials, &set, &e);

    const char *want_err = json_str(output, "errorContaining");
    if (want_err) {
        if (st == BROCK_OK)
            fail_msg("parse succeeded, expected an error containing \"%s\"", want_err);
        assert_int_equal(st, BROCK_ERR_PARSE);
        assert_int_equal(e.status, BROCK_ERR_PARSE);
        /* All error vectors are config files. */
        if (!has_location(e.msg, "~/.aws/config", count_lines(config ? config : "")))
            fail_msg("message lacks ~/.aws/config:LINE: \"%s\"", e.msg);
        if (!v->advisory_message && !strcasestr(e.msg, want_err))
            fail_msg("message \"%s\" does not contain \"%s\"", e.msg, want_err);
        aws_profile_set_free(set);
        return;
    }
    if (st != BROCK_OK)
        fail_msg("parse failed: %s", e.msg);
    const json_t *want = v->suite == SUITE_A ? json_object_get(output, "config") : output;
    char why[512];
    if (!sections_match(set, AWS_PROFILE_KIND_PROFILE, json_object_get(want, "profiles"), why, sizeof why))
        fail_msg("profiles: %s", why);
    /* Set A: a missing sso_sessions means none (as smithy-rs treats it);
     * set B has no sso-session vectors and no sso_sessions key. */
    if (v->suite == SUITE_A &&
        !sections_match(set, AWS_PROFILE_KIND_SSO_SESSION, json_object_get(want, "sso_sessions"), why, sizeof why))
        fail_msg("sso_sessions: %s", why);
    aws_profile_set_free(set);
}

static void add_parser_suite(struct test_list *l, const json_t *root, enum suite suite, const char *label)
{
    const json_t *tests = json_object_get(root, "tests");
    size_t i;
    json_t *t;
    json_array_foreach((json_t *)tests, i, t) {
        const char *name = json_str(t, "name");
        /* Names repeat ("Profiles can contain multiple properties." twice). */
        size_t dup = 1;
        for (size_t j = 0; j < i; j++)
            dup += strcmp(json_str(json_array_get(tests, j), "name"), name) == 0;
        struct vector *v = xcalloc(1, sizeof *v);
        v->test = t;
        v->suite = suite;
        for (size_t k = 0; suite == SUITE_B && k < BROCK_ARRAY_LEN(b_message_differs); k++) {
            if (strcmp(name, b_message_differs[k]) == 0) {
                v->advisory_message = true;
                printf("# %s: \"%s\": errorContaining \"%s\" not matched (B's wording differs from A's); "
                       "checking the failure and its path:line only\n",
                       label, name, json_str(json_object_get(t, "output"), "errorContaining"));
            }
        }
        char full[512];
        if (dup > 1)
            snprintf(full, sizeof full, "%s: %s (%zu)", label, name, dup);
        else
            snprintf(full, sizeof full, "%s: %s", label, name);
        test_list_add(l, full, run_parser_vector, v);
    }
}

/* ------------------------------------------------------------------------ */
/* File-location suites                                                     */

struct location_vector {
    const json_t *test;
    enum suite suite;
};

static const char *json_env_get(void *ctx, const char *name)
{
    return json_str(ctx, name);
}

static void run_location_vector(void **state)
{
    const struct location_vector *v = *state;
    const json_t *t = v->test;
    /* B gives the home the language runtime would report; "ignored" where
     * the variables must win (so using it would show). A has none: a
     * sentinel that must never appear. */
    const char *lang_home = json_str(t, "languageSpecificHome");
    struct aws_profile_env env = {
        .getenv = json_env_get,
        .env_ctx = json_object_get(t, "environment"),
        .home = lang_home ? lang_home : "/brock-test-no-such-home",
    };
    char *config = aws_profile_config_path(&env);
    char *credentials = aws_profile_credentials_path(&env);
    assert_non_null(config);
    assert_non_null(credentials);
    assert_string_equal(config, json_str(t, "configLocation"));
    assert_string_equal(credentials, json_str(t, "credentialsLocation"));
    if (json_str(t, "profile"))
        assert_string_equal(aws_profile_active_name(NULL, &env), json_str(t, "profile"));
    free(config);
    free(credentials);
}

static void add_location_suite(struct test_list *l, const json_t *root, enum suite suite, const char *label)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(root, "tests"), i, t) {
        const char *name = json_str(t, "name");
        if (strcmp(json_str(t, "platform"), "linux") != 0) {
            printf("# skip %s: \"%s\": platform \"%s\" (brock runs on POSIX; Windows home variables "
                   "USERPROFILE/HOMEDRIVE/HOMEPATH and '\\' separators do not apply)\n",
                   label, name, json_str(t, "platform"));
            continue;
        }
        struct location_vector *v = xcalloc(1, sizeof *v);
        v->test = t;
        v->suite = suite;
        char full[512];
        snprintf(full, sizeof full, "%s: %s", label, name);
        test_list_add(l, full, run_location_vector, v);
    }
}

/* ------------------------------------------------------------------------ */
/* Profile suite (B): credential type precedence and region                  */

struct profile_vector {
    const json_t *suite;  /* the test suite (its "profiles") */
    const json_t *test;   /* a credentialsTests entry or the regionTests object */
    enum aws_profile_file file;
};

/* Write already-parsed profiles as a file of `kind`. */
static char *profiles_text(const json_t *profiles, enum aws_profile_file kind)
{
    struct buf b = BUF_INIT(1 << 20);
    const char *name;
    json_t *props;
    json_object_foreach((json_t *)profiles, name, props) {
        if (kind == AWS_PROFILE_FILE_CREDENTIALS || strcmp(name, "default") == 0)
            buf_addf(&b, "[%s]\n", name);
        else
            buf_addf(&b, "[profile %s]\n", name);
        const char *k;
        json_t *val;
        json_object_foreach(props, k, val)
            buf_addf(&b, "%s = %s\n", k, json_string_value(val));
    }
    assert_int_equal(buf_status(&b), BROCK_OK);
    return buf_take(&b);
}

static void run_profile_vector(void **state)
{
    const struct profile_vector *v = *state;
    char *text = profiles_text(json_object_get(v->suite, "profiles"), v->file);
    struct aws_profile_set *set = aws_profile_set_new();
    struct brock_err e = {0};
    if (aws_profile_set_parse(set, v->file, text, strlen(text), "profiles", &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    const struct aws_profile_section *p = aws_profile_get(set, json_str(v->test, "profile"));
    assert_non_null(p);
    const json_t *out = json_object_get(v->test, "output");
    if (json_str(out, "region")) {
        assert_string_equal(aws_profile_value(p, "region"), json_str(out, "region"));
    } else {
        const char *want = json_str(out, "credentialType");
        enum aws_profile_creds k = aws_profile_creds_kind(p);
        if (strcmp(want, "assumeRole") == 0)
            assert_int_equal(k, AWS_PROFILE_CREDS_ASSUME_ROLE);
        else if (strcmp(want, "session") == 0)
            assert_int_equal(k, AWS_PROFILE_CREDS_SESSION);
        else if (strcmp(want, "basic") == 0)
            assert_int_equal(k, AWS_PROFILE_CREDS_BASIC);
        else
            fail_msg("unknown credentialType \"%s\" in the vector", want);
    }
    aws_profile_set_free(set);
    free(text);
}

static void add_profile_suite(struct test_list *l, const json_t *root)
{
    size_t i;
    json_t *suite;
    json_array_foreach(json_object_get(root, "testSuites"), i, suite) {
        for (int f = 0; f < 2; f++) {
            enum aws_profile_file file = f ? AWS_PROFILE_FILE_CREDENTIALS : AWS_PROFILE_FILE_CONFIG;
            const char *where = f ? "as a credentials file" : "as a config file";
            size_t j;
            json_t *t;
            json_array_foreach(json_object_get(suite, "credentialsTests"), j, t) {
                struct profile_vector *v = xcalloc(1, sizeof *v);
                *v = (struct profile_vector){suite, t, file};
                char full[512];
                snprintf(full, sizeof full, "B profile: %s (%s)", json_str(t, "name"), where);
                test_list_add(l, full, run_profile_vector, v);
            }
            /* regionTests is one object in this suite (an array in others). */
            const json_t *rt = json_object_get(suite, "regionTests");
            size_t nrt = json_is_array(rt) ? json_array_size(rt) : rt != NULL;
            for (size_t k = 0; k < nrt; k++) {
                const json_t *one = json_is_array(rt) ? json_array_get(rt, k) : rt;
                struct profile_vector *v = xcalloc(1, sizeof *v);
                *v = (struct profile_vector){suite, one, file};
                char full[512];
                snprintf(full, sizeof full, "B profile: %s (%s)", json_str(one, "name"), where);
                test_list_add(l, full, run_profile_vector, v);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Hand-written tests                                                       */

/* Expect a failure of `config` with status `st` at `line`, message
 * containing `what`. */
static void expect_error(const char *config, enum brock_status st, unsigned line, const char *what)
{
    struct aws_profile_set *set = aws_profile_set_new();
    struct brock_err e = {0};
    enum brock_status got =
        aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, config, strlen(config), "/home/u/.aws/config", &e);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/home/u/.aws/config:%u: ", line);
    if (got != st || strncmp(e.msg, prefix, strlen(prefix)) != 0 || !strstr(e.msg, what))
        fail_msg("input %s: status %s, message \"%s\"; expected %s, \"%s...%s\"", config, brock_status_name(got),
                 e.msg, brock_status_name(st), prefix, what);
    aws_profile_set_free(set);
}

static void test_errors_name_path_and_line(void **state)
{
    (void)state;
    expect_error("name = value", BROCK_ERR_PARSE, 1, "expected a profile definition");
    expect_error("# c\n\n  -continued", BROCK_ERR_PARSE, 3, "expected a profile definition");
    expect_error("[profile a]\nx = 1\n[profile b\ny = 2", BROCK_ERR_PARSE, 3, "must end with ']'");
    expect_error("[profile a]\nx = 1\n\n; c\nkey : value", BROCK_ERR_PARSE, 5, "expected an '=' sign");
    expect_error("[profile a]\r\nx = 1\r\n[profile b]\r\n\r\n  -c\r\n", BROCK_ERR_PARSE, 5,
                 "expected a property definition, found continuation");
    expect_error("[profile a]\n=2", BROCK_ERR_PARSE, 2, "property did not have a name");
    expect_error("[services s]\nbedrock_runtime =\n  endpoint_url = http://x\n  oops\n", BROCK_ERR_PARSE, 4,
                 "expected an '=' sign defining a sub-property");
    expect_error("[services s]\nbedrock_runtime =\n  = http://x\n", BROCK_ERR_PARSE, 3,
                 "sub-property did not have a name");
    /* Lines inside ignored sections are checked too (as the SDKs do). */
    expect_error("[profile in valid]\nbroken line", BROCK_ERR_PARSE, 2, "expected an '=' sign");
}

static void test_nul_byte_is_refused(void **state)
{
    (void)state;
    static const char text[] = "[profile a]\nx = 1\ny = a\0b\n";
    struct aws_profile_set *set = aws_profile_set_new();
    struct brock_err e = {0};
    assert_int_equal(aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, text, sizeof text - 1, "cfg", &e),
                     BROCK_ERR_PARSE);
    assert_string_equal(e.msg, "cfg:3: NUL byte in the file (not a text file?)");
    aws_profile_set_free(set);
}

static void test_size_caps(void **state)
{
    (void)state;
    /* A 2 MiB file, refused by the loader and by the parser. */
    size_t big = 2 * 1024 * 1024;
    char *text = xmalloc(big + 1);
    memcpy(text, "[default]\n", 10);
    for (size_t i = 10; i < big; i += 32)
        memcpy(text + i, "k = vvvvvvvvvvvvvvvvvvvvvvvvvvv\n", big - i < 32 ? big - i : 32);
    text[big] = '\0';

    struct aws_profile_set *set = aws_profile_set_new();
    struct brock_err e = {0};
    assert_int_equal(aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, text, big, "big", &e),
                     BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "big: larger than the 1048576-byte limit"));

    char *dir = test_tmpdir();
    char *path = fs_join(dir, "config");
    test_write_file(path, text);
    err_clear(&e);
    assert_int_equal(aws_profile_set_load_file(set, AWS_PROFILE_FILE_CONFIG, path, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, path));
    assert_null(aws_profile_first(set, AWS_PROFILE_KIND_PROFILE));

    /* Exactly at the cap is fine. */
    text[AWS_PROFILE_MAX_FILE_BYTES - 1] = '\n';
    assert_int_equal(
        aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, text, AWS_PROFILE_MAX_FILE_BYTES, "cap", &e), BROCK_OK);
    assert_non_null(aws_profile_value(aws_profile_get(set, "default"), "k"));
    aws_profile_set_free(set);

    /* A line over the line cap. */
    size_t ll = AWS_PROFILE_MAX_LINE_BYTES + 1;
    char *line = xmalloc(ll + 32);
    int o = snprintf(line, 32, "[default]\nk = ");
    memset(line + o, 'x', ll - 4);
    line[o + ll - 4] = '\0';
    set = aws_profile_set_new();
    err_clear(&e);
    assert_int_equal(aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, line, strlen(line), "long", &e),
                     BROCK_ERR_TOO_LARGE);
    assert_string_equal(e.msg, "long:2: line longer than the 65536-byte limit");
    /* One byte less fits. */
    line[strlen(line) - 1] = '\0';
    assert_int_equal(aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, line, strlen(line), "long", &e), BROCK_OK);
    assert_int_equal(strlen(aws_profile_value(aws_profile_get(set, "default"), "k")), ll - 5);
    aws_profile_set_free(set);
    free(line);
    free(path);
    free(dir);
    free(text);
}

static void test_secrets_stay_out_of_messages(void **state)
{
    (void)state;
    const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
    const char *token = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";
    char text[1024];
    /* A secret on a line without '=', one as a bad sub-property, one as a
     * would-be section: none may be echoed. */
    const char *bad[] = {
        "[default]\naws_secret_access_key: %s\n",
        "[default]\n%s\n",
        "[default]\naws_session_token =\n  %s\n",
        "[default\n%s]\n",
        "%s = 1\n",
        "[default]\naws_secret_access_key = x\n  -%s\n[default]\n  %s\n",
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        for (int t = 0; t < 2; t++) {
            const char *s = t ? token : secret;
            snprintf(text, sizeof text, bad[i], s, s);
            struct aws_profile_set *set = aws_profile_set_new();
            struct brock_err e = {0};
            assert_int_equal(aws_profile_set_parse(set, AWS_PROFILE_FILE_CREDENTIALS, text, strlen(text), "creds", &e),
                             BROCK_ERR_PARSE);
            if (strstr(e.msg, s) || strstr(e.msg, "EXAMPLE"))
                fail_msg("secret echoed in \"%s\"", e.msg);
            aws_profile_set_free(set);
        }
    }
}

static void test_origins_and_credentials_win(void **state)
{
    (void)state;
    const char *config = "# my config\n"
                         "[default]\n"
                         "region = us-east-1\n"
                         "aws_access_key_id = FROMCONFIG\n"
                         "\n"
                         "[profile dev]\n"
                         "role_arn = arn:aws:iam::111122223333:role/Dev\n"
                         "source_profile = default\n";
    const char *credentials = "[default]\n"
                              "aws_access_key_id = AKIDEXAMPLE\n"
                              "aws_secret_access_key = secret\n";
    /* Credentials first, config second: the credentials file still wins. */
    for (int order = 0; order < 2; order++) {
        struct aws_profile_set *set = aws_profile_set_new();
        struct brock_err e = {0};
        for (int i = 0; i < 2; i++) {
            bool cfg = (i == 0) == (order == 0);
            const char *t = cfg ? config : credentials;
            assert_int_equal(aws_profile_set_parse(set, cfg ? AWS_PROFILE_FILE_CONFIG : AWS_PROFILE_FILE_CREDENTIALS,
                                                   t, strlen(t), cfg ? "/h/.aws/config" : "/h/.aws/credentials", &e),
                             BROCK_OK);
        }
        const struct aws_profile_section *d = aws_profile_get(set, "default");
        const struct aws_profile_prop *p = aws_profile_prop(d, "aws_access_key_id");
        assert_non_null(p);
        assert_string_equal(p->value, "AKIDEXAMPLE");
        assert_string_equal(p->path, "/h/.aws/credentials");
        assert_int_equal(p->line, 2);
        assert_int_equal(p->file, AWS_PROFILE_FILE_CREDENTIALS);
        p = aws_profile_prop(d, "REGION"); /* case-insensitive */
        assert_string_equal(p->name, "region");
        assert_string_equal(p->path, "/h/.aws/config");
        assert_int_equal(p->line, 3);
        p = aws_profile_prop(aws_profile_get(set, "dev"), "source_profile");
        assert_int_equal(p->line, 8);
        assert_int_equal(p->file, AWS_PROFILE_FILE_CONFIG);
        /* Profile names are case-sensitive. */
        assert_null(aws_profile_get(set, "Dev"));
        assert_null(aws_profile_value(d, "nope"));
        assert_null(aws_profile_value(NULL, "region"));
        aws_profile_set_free(set);
    }
}

static void test_services_sub_properties(void **state)
{
    (void)state;
    /* The example of wire reference section 1.4, plus an invalid sub-key,
     * an inline "comment" (kept, as in the SDKs) and a repeated key. */
    const char *config = "[profile dev]\n"
                         "region = us-west-2\n"
                         "services = local-bedrock\n"
                         "\n"
                         "[services local-bedrock]\n"
                         "bedrock_runtime =\n"
                         "  endpoint_url = http://127.0.0.1:8787\n"
                         "  Region = eu-west-1 ; kept\n"
                         "  in valid = dropped\n"
                         "  region = eu-west-3\n"
                         "bedrock =\n"
                         "  endpoint_url = http://127.0.0.1:8788\n";
    struct aws_profile_set *set;
    struct brock_err e = {0};
    assert_int_equal(parse_pair(config, NULL, &set, &e), BROCK_OK);
    const struct aws_profile_section *dev = aws_profile_get(set, "dev");
    const struct aws_profile_section *svc = aws_profile_services(set, aws_profile_value(dev, "services"));
    assert_non_null(svc);
    assert_string_equal(aws_profile_section_name(svc), "local-bedrock");
    assert_int_equal(aws_profile_section_kind(svc), AWS_PROFILE_KIND_SERVICES);
    assert_string_equal(aws_profile_sub_value(svc, "bedrock_runtime", "endpoint_url"), "http://127.0.0.1:8787");
    assert_string_equal(aws_profile_sub_value(svc, "BEDROCK_RUNTIME", "ENDPOINT_URL"), "http://127.0.0.1:8787");
    assert_string_equal(aws_profile_sub_value(svc, "bedrock", "endpoint_url"), "http://127.0.0.1:8788");
    /* Last one wins, in the first one's place. */
    const struct aws_profile_prop *r = aws_profile_sub(svc, "bedrock_runtime", "region");
    assert_string_equal(r->value, "eu-west-3");
    assert_int_equal(r->line, 10);
    const struct aws_profile_prop *p = aws_profile_prop(svc, "bedrock_runtime");
    assert_true(aws_profile_prop_has_subs(p));
    assert_int_equal(p->line, 6);
    assert_string_equal(p->value, "\nendpoint_url = http://127.0.0.1:8787\nRegion = eu-west-1 ; kept\n"
                                  "in valid = dropped\nregion = eu-west-3");
    const struct aws_profile_prop *s = aws_profile_subs(p);
    assert_string_equal(s->name, "endpoint_url");
    s = aws_profile_prop_next(s);
    assert_string_equal(s->name, "region");
    assert_null(aws_profile_prop_next(s));
    assert_null(aws_profile_sub_value(svc, "bedrock_runtime", "in valid"));
    assert_null(aws_profile_sub_value(svc, "missing", "endpoint_url"));
    assert_null(aws_profile_sub_value(dev, "region", "x"));
    assert_false(aws_profile_prop_has_subs(aws_profile_prop(dev, "region")));
    aws_profile_set_free(set);

    /* Redefining the property replaces its sub-properties as a whole. */
    assert_int_equal(parse_pair("[services s]\nsts =\n  endpoint_url = http://a\n  x = 1\n"
                                "[services s]\nsts =\n  endpoint_url = http://b\n",
                                NULL, &set, &e),
                     BROCK_OK);
    svc = aws_profile_services(set, "s");
    assert_string_equal(aws_profile_sub_value(svc, "sts", "endpoint_url"), "http://b");
    assert_null(aws_profile_sub_value(svc, "sts", "x"));
    assert_int_equal(count_props(aws_profile_subs(aws_profile_prop(svc, "sts"))), 1);
    aws_profile_set_free(set);
}

static void test_iteration_order_and_kinds(void **state)
{
    (void)state;
    const char *config = "[profile b]\nz = 1\ny = 2\n"
                         "[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n"
                         "[profile a]\n"
                         "[default]\nregion = eu-west-1\n"
                         "[profile b]\nz = 3\nx = 4\n"
                         "[unknown thing]\nq = 1\n";
    const char *credentials = "[c]\naws_access_key_id = A\n[profile ignored]\nk = v\n[sso-session nope]\n";
    struct aws_profile_set *set;
    struct brock_err e = {0};
    assert_int_equal(parse_pair(config, credentials, &set, &e), BROCK_OK);
    const char *want[] = {"b", "a", "default", "c"};
    size_t i = 0;
    for (const struct aws_profile_section *s = aws_profile_first(set, AWS_PROFILE_KIND_PROFILE); s;
         s = aws_profile_next(s), i++) {
        assert_true(i < BROCK_ARRAY_LEN(want));
        assert_string_equal(aws_profile_section_name(s), want[i]);
    }
    assert_int_equal(i, 4);
    assert_int_equal(aws_profile_count(set, AWS_PROFILE_KIND_PROFILE), 4);
    assert_int_equal(aws_profile_count(set, AWS_PROFILE_KIND_SSO_SESSION), 1);
    assert_int_equal(aws_profile_count(set, AWS_PROFILE_KIND_SERVICES), 0);
    const struct aws_profile_prop *p = aws_profile_props(aws_profile_get(set, "b"));
    const char *keys[] = {"z", "y", "x"}, *vals[] = {"3", "2", "4"};
    for (i = 0; p; p = aws_profile_prop_next(p), i++) {
        assert_string_equal(p->name, keys[i]);
        assert_string_equal(p->value, vals[i]);
    }
    assert_int_equal(i, 3);
    const struct aws_profile_section *sso = aws_profile_sso_session(set, "corp");
    assert_string_equal(aws_profile_value(sso, "sso_region"), "us-east-1");
    assert_null(aws_profile_sso_session(set, "nope"));
    assert_null(aws_profile_get(set, "ignored"));
    assert_null(aws_profile_first(set, AWS_PROFILE_KIND_SERVICES));
    aws_profile_set_free(set);
}

/* An environment for the location functions, from "NAME=value" strings. */
static const char *list_env_get(void *ctx, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *v = ctx; *v; v++) {
        if (strncmp(*v, name, n) == 0 && (*v)[n] == '=')
            return *v + n + 1;
    }
    return NULL;
}

static void test_locations_and_active_profile(void **state)
{
    (void)state;
    const char *vars1[] = {"HOME=/home/me/", "AWS_CONFIG_FILE=~/cfg/config", "AWS_SHARED_CREDENTIALS_FILE=~",
                           "AWS_PROFILE=", NULL};
    struct aws_profile_env env = {.getenv = list_env_get, .env_ctx = vars1};
    char *p = aws_profile_config_path(&env);
    assert_string_equal(p, "/home/me/cfg/config");
    free(p);
    p = aws_profile_credentials_path(&env);
    assert_string_equal(p, "/home/me/");
    free(p);
    /* Empty AWS_PROFILE counts as unset; the flag beats the variable. */
    assert_string_equal(aws_profile_active_name(NULL, &env), "default");
    assert_string_equal(aws_profile_active_name("", &env), "default");
    const char *vars2[] = {"AWS_PROFILE=dev", "AWS_CONFIG_FILE=~other/config", "AWS_SHARED_CREDENTIALS_FILE=",
                           NULL};
    env = (struct aws_profile_env){.getenv = list_env_get, .env_ctx = vars2, .home = "/fallback"};
    assert_string_equal(aws_profile_active_name(NULL, &env), "dev");
    assert_string_equal(aws_profile_active_name("flag", &env), "flag");
    p = aws_profile_config_path(&env); /* "~user" is not expanded */
    assert_string_equal(p, "~other/config");
    free(p);
    p = aws_profile_credentials_path(&env); /* empty = unset; HOME unset: the fallback home */
    assert_string_equal(p, "/fallback/.aws/credentials");
    free(p);
}

static void test_load_files(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char *home = fs_join(dir, "home"), *aws = fs_join(home, ".aws");
    char *cfg = fs_join(aws, "config"), *creds = fs_join(aws, "credentials");
    char *homevar = xmalloc(strlen(home) + 6);
    memcpy(homevar, "HOME=", 5);
    memcpy(homevar + 5, home, strlen(home) + 1);
    const char *vars[] = {homevar, NULL};
    struct aws_profile_env env = {.getenv = list_env_get, .env_ctx = vars};

    /* Neither file: an empty set. */
    struct aws_profile_set *set = NULL;
    struct brock_err e = {0};
    assert_int_equal(aws_profile_set_load(&env, &set, &e), BROCK_OK);
    assert_non_null(set);
    assert_int_equal(aws_profile_count(set, AWS_PROFILE_KIND_PROFILE), 0);
    assert_int_equal(e.status, BROCK_OK);
    aws_profile_set_free(set);

    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(mkdir(aws, 0700), 0);
    test_write_file(cfg, "[default]\nregion = us-east-2\n[profile dev]\nregion = eu-west-1\n");
    assert_int_equal(aws_profile_set_load(&env, &set, &e), BROCK_OK);
    assert_string_equal(aws_profile_value(aws_profile_get(set, "dev"), "region"), "eu-west-1");
    assert_string_equal(aws_profile_prop(aws_profile_get(set, "dev"), "region")->path, cfg);
    aws_profile_set_free(set);

    test_write_file(creds, "[dev]\naws_access_key_id = AKID\naws_secret_access_key = S\n");
    assert_int_equal(aws_profile_set_load(&env, &set, &e), BROCK_OK);
    const struct aws_profile_section *dev = aws_profile_get(set, "dev");
    assert_int_equal(aws_profile_creds_kind(dev), AWS_PROFILE_CREDS_BASIC);
    assert_string_equal(aws_profile_prop(dev, "aws_access_key_id")->path, creds);
    aws_profile_set_free(set);

    /* A malformed file is an error naming file:line, and no set. */
    test_write_file(creds, "[dev]\naws_access_key_id = AKID\noops\n");
    struct aws_profile_set *before = aws_profile_set_new();
    set = before; /* must be reset to NULL */
    assert_int_equal(aws_profile_set_load(&env, &set, &e), BROCK_ERR_PARSE);
    assert_null(set);
    aws_profile_set_free(before);
    assert_true(strncmp(e.msg, creds, strlen(creds)) == 0);
    assert_string_equal(e.msg + strlen(creds), ":3: expected an '=' sign defining a property");

    /* An unreadable file (here: a directory) is an error too. */
    assert_int_equal(remove(creds), 0);
    assert_int_equal(mkdir(creds, 0700), 0);
    err_clear(&e);
    assert_int_equal(aws_profile_set_load(&env, &set, &e), BROCK_ERR_IO);
    assert_non_null(strstr(e.msg, creds));
    assert_null(set);

    /* A missing file named by the variable is fine, like the default. */
    const char *vars2[] = {homevar, "AWS_SHARED_CREDENTIALS_FILE=/nonexistent/brock/credentials", NULL};
    env.env_ctx = vars2;
    assert_int_equal(aws_profile_set_load(&env, &set, &e), BROCK_OK);
    assert_string_equal(aws_profile_value(aws_profile_get(set, "default"), "region"), "us-east-2");
    aws_profile_set_free(set);
    set = aws_profile_set_new();
    assert_int_equal(aws_profile_set_load_file(set, AWS_PROFILE_FILE_CONFIG, "/nonexistent/brock/config", &e),
                     BROCK_ERR_NOT_FOUND);
    aws_profile_set_free(set);
    free(homevar);
    free(creds);
    free(cfg);
    free(aws);
    free(home);
    free(dir);
}

static enum aws_profile_creds creds_of(const char *config, const char *credentials)
{
    struct aws_profile_set *set;
    struct brock_err e = {0};
    assert_int_equal(parse_pair(config, credentials, &set, &e), BROCK_OK);
    enum aws_profile_creds k = aws_profile_creds_kind(aws_profile_get(set, "p"));
    aws_profile_set_free(set);
    return k;
}

static void test_credential_source_order(void **state)
{
    (void)state;
    const char *keys = "aws_access_key_id = A\naws_secret_access_key = S\n";
    char cfg[512], cred[512];
    assert_int_equal(creds_of("[profile p]\nregion = x\n", NULL), AWS_PROFILE_CREDS_NONE);
    assert_int_equal(creds_of("[profile p]\nrole_arn = r\nweb_identity_token_file = /t\n", NULL),
                     AWS_PROFILE_CREDS_WEB_IDENTITY);
    assert_int_equal(creds_of("[profile p]\nrole_arn = r\ncredential_source = Environment\n", NULL),
                     AWS_PROFILE_CREDS_ASSUME_ROLE);
    snprintf(cfg, sizeof cfg, "[profile p]\nsso_session = corp\nsso_account_id = 1\n%s", keys);
    assert_int_equal(creds_of(cfg, NULL), AWS_PROFILE_CREDS_SSO);
    /* Keys in the config file come after credential_process and login... */
    snprintf(cfg, sizeof cfg, "[profile p]\ncredential_process = /bin/creds\n%s", keys);
    assert_int_equal(creds_of(cfg, NULL), AWS_PROFILE_CREDS_PROCESS);
    snprintf(cfg, sizeof cfg, "[profile p]\nlogin_session = arn:x\ncredential_process = /bin/creds\n");
    assert_int_equal(creds_of(cfg, NULL), AWS_PROFILE_CREDS_LOGIN);
    /* ...keys in the credentials file before them. */
    snprintf(cred, sizeof cred, "[p]\n%saws_session_token = T\n", keys);
    assert_int_equal(creds_of(cfg, cred), AWS_PROFILE_CREDS_SESSION);
    snprintf(cred, sizeof cred, "[p]\n%saws_security_token = T\n", keys);
    assert_int_equal(creds_of(cfg, cred), AWS_PROFILE_CREDS_SESSION);
    /* Empty values count as absent. */
    assert_int_equal(creds_of("[profile p]\nrole_arn =\naws_access_key_id = A\naws_secret_access_key = S\n"
                              "aws_session_token =\n",
                              NULL),
                     AWS_PROFILE_CREDS_BASIC);
    assert_int_equal(creds_of("[profile p]\naws_access_key_id = A\n", NULL), AWS_PROFILE_CREDS_NONE);
    assert_int_equal(aws_profile_creds_kind(NULL), AWS_PROFILE_CREDS_NONE);
    assert_string_equal(aws_profile_creds_name(AWS_PROFILE_CREDS_ASSUME_ROLE), "assume-role");
    assert_string_equal(aws_profile_creds_name((enum aws_profile_creds)99), "unknown");
}

static void test_many_sections_stay_linear(void **state)
{
    (void)state;
    /* ~40k distinct sections and ~40k keys in one section, under the cap:
     * quadratic lookups would take minutes; this takes milliseconds. */
    struct buf b = BUF_INIT(AWS_PROFILE_MAX_FILE_BYTES);
    for (int i = 0; b.len < AWS_PROFILE_MAX_FILE_BYTES / 2 - 64; i++)
        buf_addf(&b, "[profile p%d]\nk = %d\n", i, i);
    buf_addstr(&b, "[profile big]\n");
    int nkeys = 0;
    for (; b.len < AWS_PROFILE_MAX_FILE_BYTES - 64; nkeys++)
        buf_addf(&b, "k%d = %d\n", nkeys, nkeys);
    assert_int_equal(buf_status(&b), BROCK_OK);
    struct aws_profile_set *set = aws_profile_set_new();
    struct brock_err e = {0};
    assert_int_equal(aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, b.ptr, b.len, "many", &e), BROCK_OK);
    assert_string_equal(aws_profile_value(aws_profile_get(set, "p12345"), "k"), "12345");
    char key[32];
    snprintf(key, sizeof key, "K%d", nkeys - 1);
    const struct aws_profile_section *big = aws_profile_get(set, "big");
    assert_non_null(aws_profile_value(big, key));
    assert_int_equal(count_props(aws_profile_props(big)), (size_t)nkeys);
    aws_profile_set_free(set);
    buf_free(&b);
}

int main(void)
{
    test_init();
    json_t *a_parser = load_json("aws-config-profiles/smithy-rs/test-data/profile-parser-tests.json");
    json_t *a_location = load_json("aws-config-profiles/smithy-rs/test-data/file-location-tests.json");
    json_t *b_parser = load_json("aws-config-profiles/aws-sdk-ruby/profile/config-file-parser-tests.json");
    json_t *b_location = load_json("aws-config-profiles/aws-sdk-ruby/profile/config-file-location-tests.json");
    json_t *b_profile = load_json("aws-config-profiles/aws-sdk-ruby/profile/config-file-profile-tests.json");

    struct test_list l = {0};
    add_parser_suite(&l, a_parser, SUITE_A, "A parser");
    add_location_suite(&l, a_location, SUITE_A, "A location");
    add_parser_suite(&l, b_parser, SUITE_B, "B parser");
    add_location_suite(&l, b_location, SUITE_B, "B location");
    add_profile_suite(&l, b_profile);
    test_list_add(&l, "errors name path and line", test_errors_name_path_and_line, NULL);
    test_list_add(&l, "NUL byte is refused", test_nul_byte_is_refused, NULL);
    test_list_add(&l, "size caps (2 MiB file, long line)", test_size_caps, NULL);
    test_list_add(&l, "secrets stay out of messages", test_secrets_stay_out_of_messages, NULL);
    test_list_add(&l, "origins, and the credentials file wins", test_origins_and_credentials_win, NULL);
    test_list_add(&l, "services sub-properties", test_services_sub_properties, NULL);
    test_list_add(&l, "iteration order and section kinds", test_iteration_order_and_kinds, NULL);
    test_list_add(&l, "locations and active profile", test_locations_and_active_profile, NULL);
    test_list_add(&l, "load files", test_load_files, NULL);
    test_list_add(&l, "credential source order", test_credential_source_order, NULL);
    test_list_add(&l, "many sections stay linear", test_many_sections_stay_linear, NULL);
    int failed = test_list_run("profile", &l);

    json_decref(a_parser);
    json_decref(a_location);
    json_decref(b_parser);
    json_decref(b_location);
    json_decref(b_profile);
    return failed ? 1 : 0;
}
