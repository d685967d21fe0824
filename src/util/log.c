#include "log.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

/* Set once at start-up by the CLI (log_setup), then only read. */
static enum log_level g_level = LOG_WARN;
static log_sink_fn *g_sink;
static void *g_sink_ctx;

void log_setup(enum log_level level, log_sink_fn *sink, void *ctx)
{
    g_level = level;
    g_sink = sink;
    g_sink_ctx = ctx;
}

enum log_level log_get_level(void)
{
    return g_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        memcpy(line + sizeof line - 4, "...", 4);
    if (g_sink) {
        g_sink(g_sink_ctx, level, line);
        return;
    }
    static const char *const tag[] = {"error", "warning", "info", "debug", "trace"};
    fprintf(stderr, "brock: %s: %s\n", tag[level], line);
}

const char *log_redact(const char *value, char *out, size_t outlen)
{
    if (!outlen)
        return out;
    if (!value) {
        snprintf(out, outlen, "(none)");
        return out;
    }
    size_t n = strlen(value);
    snprintf(out, outlen, "[redacted %zu chars]", n);
    return out;
}

bool log_every_ok(struct log_every *l, long long every_ms, char *more, size_t morelen)
{
    long long now = time_mono_ms();
    if (now < l->next_ms) {
        l->skipped++;
        return false;
    }
    more[0] = '\0';
    if (l->skipped)
        snprintf(more, morelen, " (%llu more since the last such line)", l->skipped);
    l->skipped = 0;
    l->next_ms = now + every_ms;
    return true;
}
