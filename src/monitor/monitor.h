/* monitor.h - the monitoring settings shared by audit events (audit.h), the
 * CloudWatch Logs shipper (shipper.h) and `brock setup` (setup.h), plus the
 * small text helpers they share (UTF-8 cleaning, JSON strings).
 *
 * Settings, from brock's own settings section `brock.monitoring` (settings.h;
 * project files override user files key by key) and the environment, the
 * environment winning:
 *
 *   log_group        BROCK_LOG_GROUP        the CloudWatch Logs group; shipping
 *                                           is on exactly when one is set
 *   log_stream       BROCK_LOG_STREAM       stream name template; {host},
 *                                           {user} and {date} (UTC day of the
 *                                           event) are replaced; default
 *                                           "{host}/{user}/{date}"
 *   log_content      BROCK_LOG_CONTENT      none | metadata (default) | full
 *   metrics          BROCK_METRICS          emf (default) | put-metric-data | none
 *   namespace        BROCK_METRICS_NAMESPACE  metric namespace, default "Brock"
 *   dimensions                              ["Model", "Project"] (one set) or
 *                                           [["Model"], ["Model", "User"]];
 *                                           names from Model, Project, User;
 *                                           default [["Model"]]. The set with
 *                                           no dimension (the totals alarms
 *                                           use) is always published too.
 *   region                                  region of the log group and metrics
 *                                           (default: the run's region)
 *   retention_days                          retention for a group the shipper
 *                                           creates itself (default 30; must be
 *                                           one CloudWatch allows)
 *   exit_deadline_ms                        how long a command may ship at exit
 *                                           (default 2000; 0 = not at exit)
 *   ship_interval_s                         REPL background shipping period
 *                                           (default 5)
 *   throttle_alarm_threshold                throttles per 5 minutes that raise
 *                                           the alarm of `setup monitoring`
 *                                           (default 10)
 *
 * Errors: BROCK_ERR_CONFIG naming the key (or variable) and what was
 * expected. Only short enumerated values are quoted back, never free text.
 *
 * Ownership: the config is a plain value (fixed arrays, no pointers): copy
 * it freely, share it read-only between threads. */
#ifndef BROCK_MONITOR_MONITOR_H
#define BROCK_MONITOR_MONITOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"

#define MONITOR_LOG_GROUP_MAX 512
#define MONITOR_LOG_STREAM_MAX 512
#define MONITOR_NAMESPACE_MAX 255
#define MONITOR_MAX_DIM_SETS 8 /* dimension sets, the empty one included */
#define MONITOR_DEFAULT_NAMESPACE "Brock"
#define MONITOR_DEFAULT_STREAM "{host}/{user}/{date}"
#define MONITOR_DEFAULT_RETENTION_DAYS 30
#define MONITOR_DEFAULT_EXIT_DEADLINE_MS 2000
#define MONITOR_DEFAULT_INTERVAL_MS 5000
#define MONITOR_DEFAULT_THROTTLE_THRESHOLD 10

enum monitor_content { MONITOR_CONTENT_NONE = 0, MONITOR_CONTENT_METADATA, MONITOR_CONTENT_FULL };
enum monitor_metrics { MONITOR_METRICS_EMF = 0, MONITOR_METRICS_PUT_METRIC_DATA, MONITOR_METRICS_NONE };

/* Dimension names, as bits of a dimension set. */
enum monitor_dim { MONITOR_DIM_MODEL = 1u << 0, MONITOR_DIM_PROJECT = 1u << 1, MONITOR_DIM_USER = 1u << 2 };
#define MONITOR_DIM_COUNT 3

struct monitor_config {
    enum monitor_content content;
    enum monitor_metrics metrics;
    char metric_namespace[MONITOR_NAMESPACE_MAX + 1];
    unsigned dim_sets[MONITOR_MAX_DIM_SETS]; /* [0] is always 0 (no dimensions) */
    size_t n_dim_sets;
    bool dims_from_settings;                     /* brock.monitoring.dimensions was given */
    char log_group[MONITOR_LOG_GROUP_MAX + 1];   /* "" = shipping off */
    char log_group_source[48];                   /* "BROCK_LOG_GROUP", "settings", "--log-group" */
    char log_stream[MONITOR_LOG_STREAM_MAX + 1]; /* template */
    char region[64];                             /* "" = the run's region */
    int retention_days;
    int64_t exit_deadline_ms;
    int64_t interval_ms;
    int throttle_threshold;
};

/* The defaults (shipping off, metadata, EMF in namespace Brock, [[], [Model]]). */
void monitor_config_init(struct monitor_config *c);

/* Read `brock.monitoring` from `brock` (the settings' raw `brock` object; NULL
 * = none) and the environment (getenv_fn NULL = getenv). Starts from the
 * defaults. */
enum brock_status monitor_config_load(struct monitor_config *c, const json_t *brock,
                                      const char *(*getenv_fn)(void *ctx, const char *name), void *env_ctx,
                                      struct brock_err *e) BROCK_WUR;

static inline bool monitor_shipping_enabled(const struct monitor_config *c)
{
    return c->log_group[0] != '\0';
}

const char *monitor_content_name(enum monitor_content v); /* "none", "metadata", "full" */
const char *monitor_metrics_name(enum monitor_metrics v); /* "emf", "put-metric-data", "none" */
const char *monitor_dim_name(enum monitor_dim d);         /* "Model", "Project", "User" */

/* CloudWatch Logs' naming rules: group 1-512 of [.-_/#A-Za-z0-9], not
 * starting with "aws/"; stream 1-512, no ':' or '*'. On false `why` says
 * what is wrong (never quoting the name). */
bool monitor_log_group_valid(const char *name, char *why, size_t whylen);
bool monitor_log_stream_valid(const char *name, char *why, size_t whylen);
/* A retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ... 3653). */
bool monitor_retention_valid(long days);
/* The allowed values as "1, 3, 5, ..." for messages. */
const char *monitor_retention_list(void);
/* Namespace rules for PutMetricData / EMF: 1-255 printable ASCII, not
 * starting with ':' and not "AWS/...". */
bool monitor_namespace_valid(const char *ns, char *why, size_t whylen);

/* The stream for an event at ts_ms: the template with {host}, {user} and
 * {date} (YYYY-MM-DD, UTC) replaced; ':' and '*' in the substituted values
 * become '_'. host/user NULL = this machine's host name and login name. */
enum brock_status monitor_stream_name(const struct monitor_config *c, const char *host, const char *user, int64_t ts_ms,
                                      char out[MONITOR_LOG_STREAM_MAX + 1], struct brock_err *e) BROCK_WUR;
/* Whether the stream name changes with the event's day ({date} in it). */
bool monitor_stream_per_day(const struct monitor_config *c);

/* ---- text helpers ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if the bytes there are
 * not one (RFC 3629: no overlongs, surrogates or values past U+10FFFF). */
size_t monitor_utf8_seq(const unsigned char *p, size_t n);
/* True if all n bytes are valid UTF-8. */
bool monitor_utf8_valid(const char *p, size_t n);
/* Bytes after cleaning: each invalid byte becomes U+FFFD (3 bytes). */
size_t monitor_utf8_clean_len(const char *p, size_t n);
/* Append the cleaned text to out. */
enum brock_status monitor_utf8_clean(struct buf *out, const char *p, size_t n);
/* The longest prefix of valid UTF-8 text p[0..n) that is at most max bytes
 * and does not split a character. */
size_t monitor_utf8_cut(const char *p, size_t n, size_t max);

/* Append p[0..n) as a JSON string (quotes included): invalid UTF-8 becomes
 * U+FFFD, control characters, '"' and '\\' are escaped. */
enum brock_status monitor_json_str(struct buf *out, const char *p, size_t n);
/* A JSON number: integers as integers, others with 9 significant digits;
 * NaN and infinities as 0 (JSON has none). */
enum brock_status monitor_json_num(struct buf *out, double v);

#endif
