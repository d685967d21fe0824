/* err.h - brock's one status type and the caller-supplied diagnostic.
 *
 * Every fallible function returns `enum brock_status` (BROCK_OK == 0) and, when
 * given a non-NULL `struct brock_err *`, fills it with a message a person can act
 * on: what failed and where (file:line, request id, AWS error code). The core
 * never prints; the CLI decides how to report and maps statuses to exit codes
 * (src/cli/exitcode.h).
 *
 * Messages must never contain secrets (secret keys, session tokens, bearer
 * tokens, signatures, signing keys). */
#ifndef BROCK_UTIL_ERR_H
#define BROCK_UTIL_ERR_H

#include <stdarg.h>
#include "compiler.h"

enum brock_status {
    BROCK_OK = 0,
    BROCK_ERR_USAGE,       /* bad command-line usage or API misuse by the caller */
    BROCK_ERR_PARSE,       /* malformed input: file, answer body, frame */
    BROCK_ERR_TOO_LARGE,   /* a size cap was hit */
    BROCK_ERR_IO,          /* file or OS error */
    BROCK_ERR_NOT_FOUND,   /* a file, profile, key, or resource does not exist */
    BROCK_ERR_CONFIG,      /* configuration is present but invalid */
    BROCK_ERR_CREDENTIALS, /* no credentials, or a provider failed to produce them */
    BROCK_ERR_AUTH,        /* AWS refused who we are / what we may do (401/403) */
    BROCK_ERR_AWS,         /* any other AWS service error (4xx/5xx) */
    BROCK_ERR_THROTTLED,   /* throttled, still after all retries */
    BROCK_ERR_NETWORK,     /* connect, DNS, TLS, timeout, dropped connection */
    BROCK_ERR_INTERRUPTED, /* stopped by the user (SIGINT) */
    BROCK_ERR_INTERNAL,    /* a bug in brock */
    BROCK_ERR_BUDGET,      /* a spend limit was reached (refused before the request) */
    BROCK_STATUS_COUNT
};

/* What went wrong, for people. `aws_code`, `request_id` and `http_status` are
 * filled for answers from AWS (and from the emulator). */
struct brock_err {
    enum brock_status status;
    int http_status;
    char aws_code[64];
    char request_id[96];
    char msg[768];
};

/* Set `e` (may be NULL) and return `status`, so callers can write
 * `return err_set(e, BROCK_ERR_PARSE, "%s:%d: expected '='", path, line);` */
enum brock_status err_set(struct brock_err *e, enum brock_status status, const char *fmt, ...)
    BROCK_PRINTF(3, 4);
enum brock_status err_setv(struct brock_err *e, enum brock_status status, const char *fmt, va_list ap);

/* Put context in front of an existing message: "loading profile dev: <old msg>".
 * Returns e->status (BROCK_ERR_INTERNAL if e is NULL or unset). */
enum brock_status err_prefix(struct brock_err *e, const char *fmt, ...) BROCK_PRINTF(2, 3);

/* Clear to BROCK_OK with an empty message. NULL is fine. */
void err_clear(struct brock_err *e);

/* A short stable name for a status, e.g. "parse", "credentials". */
const char *brock_status_name(enum brock_status status);

#endif
