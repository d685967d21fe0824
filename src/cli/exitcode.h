/* exitcode.h - brock's exit codes, in one place (documented in --help and README).
 *
 *   0   success
 *   1   internal error (a bug in brock) or an unclassified failure
 *   2   usage: unknown option, missing argument, bad value on the command line
 *   3   input or configuration: a malformed or unreadable file, a bad setting
 *   4   credentials or authorization: no credentials found, expired or invalid
 *       credentials, AccessDenied, a bad signature
 *   5   AWS service error (validation, resource not found, model errors, 5xx)
 *   6   throttled: the request was still throttled after all retries
 *   7   network: DNS, connect, TLS, timeout, connection dropped
 *   8   budget: the spend limit would be exceeded (see `brock usage`)
 *   130 interrupted (Ctrl-C)
 */
#ifndef BROCK_CLI_EXITCODE_H
#define BROCK_CLI_EXITCODE_H

#include "../util/err.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_INTERNAL = 1,
    EXIT_USAGE = 2,
    EXIT_CONFIG = 3,
    EXIT_CREDENTIALS = 4,
    EXIT_SERVICE = 5,
    EXIT_THROTTLED = 6,
    EXIT_NETWORK = 7,
    EXIT_BUDGET = 8,
    EXIT_INTERRUPTED = 130,
};

int exit_code_for(enum brock_status st);
/* The table above as text, for --help. */
extern const char exit_codes_help[];

#endif
