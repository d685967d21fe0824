/* Tests for the CLI front end: option table, parsing, exit-code mapping. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli/cli.h"
#include "../../src/cli/exitcode.h"

static void test_option_table_sorted_and_documented(void **state)
{
    (void)state;
    const char *why = NULL;
    bool ok = cli_options_table_ok(&why);
    if (!ok)
        fail_msg("option table out of order or undocumented at '%s'", why);
}

/* Every option a command's help names exists in the option table, once;
 * every command has a usage line. */
static void test_command_options_exist(void **state)
{
    (void)state;
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    for (const struct cli_command *c = cli_commands; c->name; c++) {
        assert_non_null(c->usage);
        assert_non_null(c->options);
        assert_int_equal(strncmp(c->usage, c->name, strlen(c->name)), 0);
        for (const char *const *o = c->options; *o; o++) {
            if (!cli_print_option(null, *o))
                fail_msg("brock %s --help names --%s, which is not an option", c->name, *o);
            for (const char *const *p = o + 1; *p; p++)
                if (!strcmp(*o, *p))
                    fail_msg("brock %s --help names --%s twice", c->name, *o);
        }
    }
    assert_false(cli_print_option(null, "frobnicate"));
    fclose(null);
}

static enum brock_status parse(struct cli_config *cfg, struct brock_err *e, int argc, const char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    return cli_parse(argc, (char **)argv, cfg, e);
}

static void test_parse_forms(void **state)
{
    (void)state;
    struct cli_config cfg;
    struct brock_err e = {0};
    const char *a1[] = {"brock", "--region=eu-west-1", "doctor", "--profile", "dev", "-v", "--json"};
    assert_int_equal(parse(&cfg, &e, 7, a1), BROCK_OK);
    assert_string_equal(cfg.region, "eu-west-1");
    assert_string_equal(cfg.profile, "dev");
    assert_string_equal(cfg.command, "doctor");
    assert_true(cfg.verbose);
    assert_true(cfg.json);
    assert_int_equal(cfg.nargs, 0);
    free(cfg.args);

    const char *a2[] = {"brock", "doctor", "--", "--region"};
    assert_int_equal(parse(&cfg, &e, 4, a2), BROCK_OK);
    assert_null(cfg.region);
    assert_int_equal(cfg.nargs, 1);
    assert_string_equal(cfg.args[0], "--region");
    free(cfg.args);
}

static void test_parse_errors_name_the_option(void **state)
{
    (void)state;
    struct cli_config cfg;
    struct brock_err e = {0};
    const char *a1[] = {"brock", "--nope"};
    assert_int_equal(parse(&cfg, &e, 2, a1), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--nope"));
    free(cfg.args);
    const char *a2[] = {"brock", "--region"};
    assert_int_equal(parse(&cfg, &e, 2, a2), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "--region"));
    free(cfg.args);
    const char *a3[] = {"brock", "--json=yes"};
    assert_int_equal(parse(&cfg, &e, 2, a3), BROCK_ERR_USAGE);
    free(cfg.args);
    const char *a4[] = {"brock", "--expires", "12x"};
    assert_int_equal(parse(&cfg, &e, 3, a4), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "12x"));
    free(cfg.args);
}

static void test_exit_codes_distinct(void **state)
{
    (void)state;
    assert_int_equal(exit_code_for(BROCK_OK), 0);
    assert_int_equal(exit_code_for(BROCK_ERR_USAGE), 2);
    assert_int_equal(exit_code_for(BROCK_ERR_PARSE), 3);
    assert_int_equal(exit_code_for(BROCK_ERR_CREDENTIALS), 4);
    assert_int_equal(exit_code_for(BROCK_ERR_AUTH), 4);
    assert_int_equal(exit_code_for(BROCK_ERR_AWS), 5);
    assert_int_equal(exit_code_for(BROCK_ERR_THROTTLED), 6);
    assert_int_equal(exit_code_for(BROCK_ERR_NETWORK), 7);
    assert_int_equal(exit_code_for(BROCK_ERR_INTERRUPTED), 130);
    assert_int_equal(exit_code_for(BROCK_ERR_INTERNAL), 1);
    /* every documented code appears in the help text */
    const char *codes[] = {"  0 ", "  1 ", "  2 ", "  3 ", "  4 ", "  5 ", "  6 ", "  7 ", "  130 "};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_non_null(strstr(exit_codes_help, codes[i]));
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_table_sorted_and_documented),
        cmocka_unit_test(test_command_options_exist),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_errors_name_the_option),
        cmocka_unit_test(test_exit_codes_distinct),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
