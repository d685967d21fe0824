/* runtime.h - what a command needs to talk to AWS, built once from the command line.
 *
 * runtime_init() loads the AWS settings (profile, region, endpoints, retries,
 * CA bundle, API key) exactly as the AWS CLI resolves them, makes the shared
 * retry policy and the caching credential chain, and hands out AWS clients
 * pointed at the right endpoint. With --emulator it first starts `brock
 * emulate` in-process on a free loopback port, points every service at it and
 * signs with AWS's documentation example keys, so no real credential is used.
 *
 * Ctrl-C: runtime_install_sigint() makes SIGINT set `runtime_cancel`, which
 * every HTTP request and retry sleep watches (runtime_install_sigterm: SIGTERM
 * too); a second signal while stopping ends the process at once. */
#ifndef BROCK_CLI_RUNTIME_H
#define BROCK_CLI_RUNTIME_H

#include <signal.h>
#include <stdbool.h>

#include "../aws/client.h"
#include "../aws/settings.h"
#include "../util/err.h"
#include "cli.h"

struct creds_cache;
struct emulator;

struct runtime {
    const struct cli_config *cfg;
    struct aws_settings settings;
    struct retry_policy *retry;
    struct creds_cache *creds;           /* the default chain, cached (NULL with --emulator) */
    struct aws_credentials *static_creds; /* --emulator: the example keys */
    struct emulator *emu;                /* --emulator: the in-process emulator */
    const char *endpoint_url;            /* explicit endpoint for Bedrock (or all services) */
    unsigned endpoint_services;          /* services endpoint_url applies to (0 = all) */
};

/* Set by the SIGINT handler; watched by every request. */
extern volatile sig_atomic_t runtime_cancel;
void runtime_install_sigint(void);
/* The same for SIGTERM (commands that have work to save first: batch). */
void runtime_install_sigterm(void);

enum brock_status runtime_init(struct runtime *rt, const struct cli_config *cfg, struct brock_err *e) BROCK_WUR;
void runtime_cleanup(struct runtime *rt);

/* The credentials clients sign with. */
struct aws_creds_source runtime_creds(struct runtime *rt);
/* The configuration runtime_client makes its clients with, for a caller
 * that changes a field first (retries, timeouts). */
struct aws_client_config runtime_client_config(struct runtime *rt, const char *region);
/* A new AWS client for `region` (NULL = the resolved region). */
struct aws_client *runtime_client(struct runtime *rt, const char *region);
/* HTTP options of the run (CA bundle, cancel flag). */
struct http_options runtime_http_options(const struct runtime *rt);

#endif
