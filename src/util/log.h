/* log.h - leveled diagnostics for --verbose / --debug.
 *
 * The core logs through these functions; the CLI chooses the level and the
 * sink once at start-up (log_setup). By default nothing below WARN is shown and
 * lines go to stderr prefixed "brock: ".
 *
 * Never pass a secret to a log call: secret keys, session tokens, bearer
 * tokens, signatures, signing keys, Authorization headers. log_redact() helps
 * when a value might hold one. */
#ifndef BROCK_UTIL_LOG_H
#define BROCK_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

typedef void log_sink_fn(void *ctx, enum log_level level, const char *line);

/* Called once by the CLI before any other work. sink NULL = stderr. */
void log_setup(enum log_level level, log_sink_fn *sink, void *ctx);
enum log_level log_get_level(void);
static inline bool log_enabled(enum log_level level)
{
    return level <= log_get_level();
}

void log_msg(enum log_level level, const char *fmt, ...) BROCK_PRINTF(2, 3);

/* At most one line per every_ms for a repetitive event (a flood of
 * refusals must not flood the log): log_every_ok says whether one may go out
 * now and, if so, puts "" or " (N more since the last such line)" in `more`
 * to end it with. Zero-initialised; one per kind of line; not thread-safe. */
struct log_every {
    long long next_ms;
    unsigned long long skipped;
};
bool log_every_ok(struct log_every *l, long long every_ms, char *more, size_t morelen);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) do { if (log_enabled(LOG_INFO)) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_trace(...) do { if (log_enabled(LOG_TRACE)) log_msg(LOG_TRACE, __VA_ARGS__); } while (0)

/* Write a loggable form of a possibly-secret value into out: the first 4
 * characters of an access key id ("AKIA…") are kept, everything else becomes
 * "[redacted N chars]". Returns out. */
const char *log_redact(const char *value, char *out, size_t outlen);

#endif
