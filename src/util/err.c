#include "err.h"

#include <stdio.h>
#include <string.h>

enum brock_status err_setv(struct brock_err *e, enum brock_status status, const char *fmt, va_list ap)
{
    if (!e)
        return status;
    e->status = status;
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    if (n < 0)
        e->msg[0] = '\0';
    else if ((size_t)n >= sizeof e->msg)
        memcpy(e->msg + sizeof e->msg - 4, "...", 4); /* mark truncation */
    return status;
}

enum brock_status err_set(struct brock_err *e, enum brock_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_setv(e, status, fmt, ap);
    va_end(ap);
    return status;
}

enum brock_status err_prefix(struct brock_err *e, const char *fmt, ...)
{
    if (!e)
        return BROCK_ERR_INTERNAL;
    char pre[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (n < 0)
        pre[0] = '\0';
    memcpy(old, e->msg, sizeof old);
    n = snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
    if (n >= 0 && (size_t)n >= sizeof e->msg)
        memcpy(e->msg + sizeof e->msg - 4, "...", 4);
    return e->status != BROCK_OK ? e->status : BROCK_ERR_INTERNAL;
}

void err_clear(struct brock_err *e)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
}

const char *brock_status_name(enum brock_status status)
{
    static const char *const names[BROCK_STATUS_COUNT] = {
        [BROCK_OK] = "ok",
        [BROCK_ERR_USAGE] = "usage",
        [BROCK_ERR_PARSE] = "parse",
        [BROCK_ERR_TOO_LARGE] = "too-large",
        [BROCK_ERR_IO] = "io",
        [BROCK_ERR_NOT_FOUND] = "not-found",
        [BROCK_ERR_CONFIG] = "config",
        [BROCK_ERR_CREDENTIALS] = "credentials",
        [BROCK_ERR_AUTH] = "auth",
        [BROCK_ERR_AWS] = "aws",
        [BROCK_ERR_THROTTLED] = "throttled",
        [BROCK_ERR_NETWORK] = "network",
        [BROCK_ERR_INTERRUPTED] = "interrupted",
        [BROCK_ERR_INTERNAL] = "internal",
        [BROCK_ERR_BUDGET] = "budget",
    };
    if ((unsigned)status >= BROCK_STATUS_COUNT)
        return "unknown";
    return names[status];
}
