/* fuzz_monitor_config.c - arbitrary bytes as brock's settings section for
 * monitoring (`{"monitoring": {...}}` from a settings file).
 *
 * Checks: documented statuses only; on success the configuration is
 * coherent (a valid group or none, a valid namespace, the empty dimension
 * set first and at most MONITOR_MAX_DIM_SETS of them, a stream name that
 * can be made) ; messages are printable. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/monitor/monitor.h"

static const char *no_env(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, 0, &je);
    if (!doc)
        return 0;
    struct monitor_config c;
    struct brock_err e = {0};
    enum brock_status st = monitor_config_load(&c, doc, no_env, NULL, &e);
    json_decref(doc);
    if (st != BROCK_OK) {
        if (st != BROCK_ERR_CONFIG)
            abort();
        for (const char *p = e.msg; *p; p++)
            if ((unsigned char)*p < 0x20)
                abort();
        return 0;
    }
    char why[96];
    if (c.log_group[0] && !monitor_log_group_valid(c.log_group, why, sizeof why))
        abort();
    if (!monitor_namespace_valid(c.metric_namespace, why, sizeof why))
        abort();
    if (c.n_dim_sets < 1 || c.n_dim_sets > MONITOR_MAX_DIM_SETS || c.dim_sets[0] != 0)
        abort();
    if (c.retention_days && !monitor_retention_valid(c.retention_days))
        abort();
    char stream[MONITOR_LOG_STREAM_MAX + 1];
    if (monitor_stream_name(&c, "host", "user", 1735689600000LL, stream, &e) != BROCK_OK)
        abort();
    return 0;
}
