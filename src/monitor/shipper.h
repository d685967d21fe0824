/* shipper.h - ship the audit spool to CloudWatch Logs with PutLogEvents.
 *
 * shipper_run() reads the store's spool oldest first (store.h: by timestamp,
 * then append order) and sends it to the configured log group (monitor.h)
 * in PutLogEvents calls that keep every limit of the API (aws-wire-reference
 * 9.1):
 *
 *   - at most 10,000 events and 1,048,576 bytes per call, counting each
 *     event's UTF-8 message bytes plus 26;
 *   - each event at most 1,048,550 bytes (the batch limit less its 26): a
 *     longer one is cut on a character boundary and ends with
 *     "[... truncated by brock: N bytes]", never dropped; bytes that are not
 *     UTF-8 become U+FFFD (the wire is JSON) and are counted after that;
 *   - events in chronological order (a stable sort: equal timestamps keep
 *     spool order), a call spanning at most 24 h, and one stream per call
 *     (the stream name may hold the event's {date}).
 *
 * Only what CloudWatch accepted is deleted from the spool, and only after
 * the 2xx answer arrived, so a process killed at any moment loses nothing:
 * at worst the events of the call in flight are sent again (duplicates).
 * Events the answer lists in rejectedLogEventsInfo (too new: from
 * tooNewLogEventStartIndex on; too old: before tooOldLogEventEndIndex;
 * expired: before expiredLogEventEndIndex, both ends exclusive as the API
 * reference says) are deleted too and counted as rejected: retrying them
 * could never succeed. A call refused as a whole with
 * InvalidParameterException is split in halves to find the events at fault;
 * a single event refused that way is dropped as "invalid" only once another
 * event reached the same group in the same run (so a wrong destination never
 * empties the spool). ResourceNotFoundException creates the group (with the
 * configured retention) and the stream once, then sends again.
 * DataAlreadyAcceptedException counts as accepted. Throttling and transient
 * errors are retried by the shared retry policy (client.h); when they persist
 * the run stops with the error and the rest waits for the next run.
 *
 * With metrics "put-metric-data" the events CloudWatch Logs accepted are
 * then summarised into PutMetricData (CloudWatch's JSON 1.0 protocol;
 * Values/Counts per metric, dimension set and minute; at most 1,000 datums
 * a call); datums outside CloudWatch's window (older than 14 days less an
 * hour, more than 2 h ahead) are skipped. A failed PutMetricData is counted
 * and reported, never retried later: it does not hold the audit log back
 * (EMF, the default, has no such gap: the metrics travel in the events).
 *
 * One shipper at a time per data directory: runs take an exclusive flock on
 * `<store dir>/shipper.lock` (released by the kernel if the process dies);
 * a run that finds it held returns at once with `busy` set (or waits, with
 * wait_for_lock). Each run ends by rewriting `<store dir>/shipper.json`
 * (totals, last success, last error) for `brock logs status`.
 *
 * Threads: shipper_run uses the caller's store handle and AWS client, so it
 * runs on the thread that owns them. shipper_bg_* runs it on a thread of its
 * own with its own handle and client (the REPL's background shipping, and
 * the short shipping at the exit of a command).
 *
 * Messages never quote event text; AWS errors come with code and request id. */
#ifndef BROCK_MONITOR_SHIPPER_H
#define BROCK_MONITOR_SHIPPER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../aws/client.h"
#include "../store/store.h"
#include "../util/err.h"
#include "monitor.h"

#define SHIPPER_MAX_EVENTS 10000
#define SHIPPER_MAX_BATCH_BYTES ((size_t)1048576)
#define SHIPPER_EVENT_OVERHEAD 26
#define SHIPPER_MAX_EVENT_BYTES (SHIPPER_MAX_BATCH_BYTES - SHIPPER_EVENT_OVERHEAD)
#define SHIPPER_MAX_SPAN_MS ((int64_t)24 * 3600 * 1000)
#define SHIPPER_ANSWER_MAX ((size_t)256 * 1024) /* PutLogEvents answer bytes read */
#define SHIPPER_MAX_DATUMS 1000                 /* PutMetricData datums per call */
#define SHIPPER_MAX_VALUES 150                  /* Values/Counts entries per datum */
#define SHIPPER_LOCK_FILE "shipper.lock"
#define SHIPPER_STATE_FILE "shipper.json"

/* Batch limits; a zero member means PutLogEvents' own. Tests lower them. */
struct shipper_limits {
    size_t max_events;      /* SHIPPER_MAX_EVENTS */
    size_t max_bytes;       /* SHIPPER_MAX_BATCH_BYTES, counting overhead per event */
    size_t overhead;        /* SHIPPER_EVENT_OVERHEAD */
    size_t max_event_bytes; /* SHIPPER_MAX_EVENT_BYTES (at most max_bytes - overhead) */
    int64_t max_span_ms;    /* SHIPPER_MAX_SPAN_MS */
};

struct shipper_stats {
    int64_t total;   /* events in the spool when the run started */
    int64_t shipped; /* accepted by CloudWatch and deleted */
    int64_t rejected_too_new, rejected_too_old, rejected_expired, rejected_invalid;
    int64_t truncated;       /* events cut to the per-event limit */
    int64_t requests;        /* PutLogEvents calls that succeeded */
    int64_t bytes;           /* message bytes (+26 each) accepted */
    int64_t metric_requests; /* PutMetricData calls that succeeded */
    int64_t metric_failures; /* PutMetricData calls refused (reported, not retried) */
    int64_t created;         /* log groups and streams created */
    int64_t remaining;       /* events left in the spool at the end (-1: unknown) */
    bool busy;               /* another shipper held the lock: nothing was done */
    bool deadline_hit;       /* stopped by the deadline with events left */
};

static inline int64_t shipper_rejected(const struct shipper_stats *s)
{
    return s->rejected_too_new + s->rejected_too_old + s->rejected_expired + s->rejected_invalid;
}

/* Add b's counters to a (for totals over several runs). */
void shipper_stats_add(struct shipper_stats *a, const struct shipper_stats *b);

typedef void shipper_progress_fn(void *ctx, const struct shipper_stats *st);

struct shipper_options {
    struct store *store;              /* required */
    struct aws_client *client;        /* required; its region is the log group's */
    const struct monitor_config *cfg; /* required; log_group must be set */
    const char *host, *user;          /* for the stream name; NULL = this machine's */
    struct shipper_limits limits;
    int64_t deadline_mono_ms;      /* time_mono_ms() after which no new call starts; 0 = none */
    volatile sig_atomic_t *cancel; /* checked between calls; may be NULL */
    bool wait_for_lock;            /* wait (until the deadline) instead of returning busy */
    shipper_progress_fn *progress; /* after each accepted call; may be NULL */
    void *progress_ctx;
    const struct clock *clock; /* wall clock (PutMetricData window, state file); NULL = real */
};

/* Ship until the spool is empty, the deadline passes, cancel is set, or an
 * error that retrying did not cure. `st` (required) is filled either way.
 * BROCK_ERR_CONFIG without a log group; BROCK_ERR_INTERRUPTED on cancel;
 * the AWS or store error otherwise. */
enum brock_status shipper_run(const struct shipper_options *o, struct shipper_stats *st, struct brock_err *e) BROCK_WUR;

/* ---- the PutLogEvents answer (pure; public for tests and fuzzing) ------ */

struct shipper_rejected {
    int64_t too_new_start; /* first too-new event, or -1 */
    int64_t too_old_end;   /* events before this are too old, or -1 */
    int64_t expired_end;   /* events before this are expired, or -1 */
};

/* Parse a PutLogEvents answer for a call of n events. Indexes outside
 * 0..n are clamped into it. BROCK_ERR_PARSE for a body that is not a JSON
 * object or an index that is not a whole number (the caller then counts
 * every event as accepted: the 2xx said so). */
enum brock_status shipper_parse_answer(const char *body, size_t len, size_t n, struct shipper_rejected *out,
                                       struct brock_err *e) BROCK_WUR;

/* Whether event i of n was rejected, and how (0 = accepted, else 1 too new,
 * 2 too old, 3 expired). */
int shipper_rejected_kind(const struct shipper_rejected *r, size_t i);

/* ---- the state file -------------------------------------------------------- */

struct shipper_state {
    int64_t last_run_ms, last_success_ms;
    int64_t shipped_total, rejected_total, truncated_total;
    char last_error[768];  /* "" when the last run ended well */
    char destination[600]; /* "group/stream" of the last accepted call */
};

/* Read `<dir>/shipper.json`; a missing file gives a zeroed state and BROCK_OK. */
enum brock_status shipper_state_load(const char *dir, struct shipper_state *out, struct brock_err *e) BROCK_WUR;

/* ---- background shipping ------------------------------------------------------ */

struct shipper_bg_config {
    const char *store_dir;           /* NULL = the store's default */
    struct aws_client_config client; /* copied when the client is made; its http.cancel is replaced */
    struct monitor_config cfg;       /* copied; log_group must be set */
    const char *host, *user;         /* copied; NULL = this machine's */
};

struct shipper_bg;

/* Open a store handle and an AWS client for a worker thread and start it:
 * it ships at once, then every cfg.interval_ms and whenever kicked. */
enum brock_status shipper_bg_start(const struct shipper_bg_config *c, struct shipper_bg **out,
                                   struct brock_err *e) BROCK_WUR;
/* Ask for a run now (after a turn). Any thread. NULL is fine. */
void shipper_bg_kick(struct shipper_bg *b);
/* Totals so far (any thread). */
void shipper_bg_stats(struct shipper_bg *b, struct shipper_stats *out);
/* One last run for at most final_ms, then cancel what is in flight, join and
 * free. `total` (may be NULL) gets the worker's totals and its last error in
 * `last_error` (may be NULL). NULL b is fine. */
void shipper_bg_stop(struct shipper_bg *b, int64_t final_ms, struct shipper_stats *total, struct brock_err *last_error);

/* What a command does at exit: one run in a worker for at most `ms`, then
 * stop. Returns the run's status (BROCK_OK when the deadline cut it short). */
enum brock_status shipper_ship_for(const struct shipper_bg_config *c, int64_t ms, struct shipper_stats *st,
                                   struct brock_err *e) BROCK_WUR;

#endif
