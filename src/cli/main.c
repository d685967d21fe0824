/* main.c - brock's entry point: parse the command line, set up logging, and
 * dispatch to a command. Process-wide initialisation happens here and only
 * here. */
#include <stdio.h>
#include <stdlib.h>

#include "../aws/crypto.h"
#include "../aws/http.h"
#include "../util/log.h"
#include "cli.h"
#include "exitcode.h"

static void setup_logging(const struct cli_config *cfg)
{
    enum log_level lvl = LOG_WARN;
    if (cfg->verbose)
        lvl = LOG_INFO;
    if (cfg->debug)
        lvl = LOG_DEBUG;
    log_setup(lvl, NULL, NULL);
}

/* Process-wide set-up, once, before any thread starts. */
static int global_init(void)
{
    struct brock_err e = {0};
    crypto_global_init();
    if (http_global_init(&e) != BROCK_OK)
        return cli_fail(&e);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct cli_config cfg = {0};
    struct brock_err e = {0};
    enum brock_status st = cli_parse(argc, argv, &cfg, &e);
    if (st != BROCK_OK) {
        int rc = cli_fail(&e);
        free(cfg.args);
        return rc;
    }
    int rc;
    if (cfg.version) {
        rc = cmd_version(&cfg);
    } else if (cfg.print && !cfg.help) {
        setup_logging(&cfg);
        if ((rc = global_init()) == EXIT_OK)
            rc = cmd_print(&cfg);
    } else if (cfg.help) {
        rc = cmd_help(&cfg);
    } else if (!cfg.command) {
        /* `brock` and `brock "words"`: the REPL in a terminal (repl.c) */
        if ((rc = cli_repl_or_fail(&cfg)) == EXIT_OK) {
            setup_logging(&cfg);
            if ((rc = global_init()) == EXIT_OK)
                rc = cmd_repl(&cfg);
        }
    } else {
        setup_logging(&cfg);
        if ((rc = global_init()) == EXIT_OK)
            rc = cli_find_command(cfg.command)->fn(&cfg);
    }
    http_global_cleanup();
    free(cfg.args);
    return rc;
}
