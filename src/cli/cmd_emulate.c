/* cmd_emulate.c - `brock emulate`: run the local Bedrock Runtime emulator in
 * the foreground until SIGINT or SIGTERM.
 *
 * The first line on stdout is "listening on http://HOST:PORT", flushed at
 * once, so scripts can start `brock emulate --port 0` and read the URL. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../server/emulator.h"
#include "../util/alloc.h"
#include "cli.h"
#include "exitcode.h"

/* The server to stop from the signal handler (set once, before the handler
 * is installed). */
static struct emulator *volatile running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        emulator_shutdown(running); /* async-signal-safe */
}

int cmd_emulate(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    if (cfg->nargs) {
        err_set(&e, BROCK_ERR_USAGE, "emulate takes no arguments (got '%s'); see brock --help", cfg->args[0]);
        return cli_fail(&e);
    }

    /* --deny-model a,b,c */
    char *deny_copy = cfg->deny_models ? xstrdup(cfg->deny_models) : NULL;
    const char **deny = NULL;
    size_t n_deny = 0;
    for (char *save = NULL, *tok = deny_copy ? strtok_r(deny_copy, ",", &save) : NULL; tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        deny = xrealloc(deny, (n_deny + 1) * sizeof *deny);
        deny[n_deny++] = tok;
    }

    struct emulator_options o = {
        .host = cfg->host,
        .port = cfg->port_set ? (uint16_t)cfg->port : EMULATOR_DEFAULT_PORT,
        .scenario_path = cfg->scenario,
        .keys_path = cfg->keys,
        .deny_models = deny,
        .n_deny_models = n_deny,
    };
    struct emulator *em = NULL;
    enum brock_status st = emulator_new(&o, &em, &e);
    free(deny);
    free(deny_copy);
    if (st != BROCK_OK)
        return cli_fail(&e);

    printf("listening on %s\n", emulator_url(em));
    fflush(stdout);

    running = em;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    st = emulator_run(em, &e);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    running = NULL;
    emulator_free(em);
    if (st != BROCK_OK)
        return cli_fail(&e);
    return EXIT_OK;
}
