/* store.h - brock's local database: sessions, the usage ledger, the response
 * cache and the audit-log spool, in one SQLite file.
 *
 * This folder is the only SQLite user in brock. Callers pass JSON text and
 * plain values and get the same back; no SQLite type crosses this header.
 *
 * File: `<dir>/brock.db` (+ `-wal`, `-shm`), where dir is, in order, the
 * explicit `store_options.dir`, $BROCK_DATA_DIR, $XDG_DATA_HOME/brock (when
 * absolute) or ~/.local/share/brock. A missing directory is created 0700; the
 * database file is created 0600 before SQLite opens it (mknod, so there is no
 * window with a wider mode); SQLite gives the -wal and -shm files the
 * database file's mode. An existing file with group/other bits is narrowed
 * to 0600. Journal: WAL, `synchronous=NORMAL` (FULL with `full_sync`): a
 * commit that returned survives the process being killed at any moment;
 * power loss can roll back the most recent commits, never corrupt the file
 * (docs/internals/store.md says exactly how much).
 *
 * Durability: every write function is one committed transaction before it
 * returns (inside a batch, store_batch_begin: when the batch commits).
 * Several processes (a REPL, a batch job, the gateway, the log shipper) may
 * share the file; writers wait for each other up to the busy
 * timeout (STORE_BUSY_TIMEOUT_MS by default), then fail with BROCK_ERR_IO
 * "database is locked".
 *
 * Threads: a `struct store` belongs to one thread at a time (SQLite opens it
 * in multi-thread mode, no mutex). Open one per thread; a handle may move
 * between threads while no call is running on it.
 *
 * Times are ms since the epoch, UTC. Calendar days and months (budgets,
 * `brock usage` by day) are UTC days, as in AWS billing. A time argument of
 * 0 means "now" from the options' clock.
 *
 * Errors: BROCK_ERR_IO for the file or SQLite failing (message: database
 * path, what was being done, SQLite's words; a damaged or non-SQLite file
 * says so), BROCK_ERR_CONFIG for a database this brock cannot use (newer
 * schema, another application's file, views or triggers it did not create),
 * BROCK_ERR_USAGE for bad arguments (invalid JSON, unknown role, bad key),
 * BROCK_ERR_NOT_FOUND for an unknown session, BROCK_ERR_TOO_LARGE for a value
 * over its cap. Messages never quote stored values (they may hold code or
 * tool output); they name the field instead.
 *
 * Secrets: nothing here is given credentials. Callers pass only non-secret
 * fields (ids, names, counts, model text); the cache key is a hash of the
 * request, never of credentials.
 *
 * Ownership: input strings are borrowed for the call. Results that hold
 * strings are filled in caller-provided structs and released with the
 * matching *_free / *_cleanup function (NULL or zeroed is fine). */
#ifndef BROCK_STORE_STORE_H
#define BROCK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bedrock/model.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/timeutil.h"

#define STORE_FILE_NAME "brock.db"
#define STORE_SCHEMA_VERSION 1
#define STORE_APPLICATION_ID 0x62726f6b /* "brok", PRAGMA application_id */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_WAL_HARD_PAGES 16384 /* idle_checkpoints: checkpoint inline past this (64 MiB of WAL) */

/* Caps, checked before anything is written. */
#define STORE_TEXT_MAX ((size_t)4096)              /* short fields: dir, title, model, user, ... */
#define STORE_JSON_MAX ((size_t)32 * 1024 * 1024)  /* message content, tool input, summary */
#define STORE_TOOL_RESULT_MAX ((size_t)256 * 1024) /* tool results are cut here (UTF-8 safe) */
#define STORE_CACHE_ENTRY_MAX ((size_t)16 * 1024 * 1024)
#define STORE_CACHE_DEFAULT_MAX_BYTES ((int64_t)128 * 1024 * 1024)
#define STORE_SPOOL_EVENT_OVERHEAD 26 /* PutLogEvents counts message bytes + 26 per event */
#define STORE_SPOOL_MESSAGE_MAX ((size_t)1048576 - STORE_SPOOL_EVENT_OVERHEAD)

#define STORE_DAY_MS ((int64_t)86400000)

struct store;

struct store_options {
    const char *dir;           /* NULL: $BROCK_DATA_DIR, $XDG_DATA_HOME/brock, ~/.local/share/brock */
    const struct clock *clock; /* NULL: the real clock; must outlive the store */
    int busy_timeout_ms;       /* 0: STORE_BUSY_TIMEOUT_MS */
    int64_t cache_max_bytes;   /* response cache size limit; 0: STORE_CACHE_DEFAULT_MAX_BYTES */
    bool full_sync;            /* synchronous=FULL: commits also survive power loss (an fsync each) */
    /* Checkpoints (copying the WAL into the database, two fsyncs) normally
     * run inside whichever commit takes the WAL past 1000 pages (~4 MiB),
     * adding milliseconds to that one call. With idle_checkpoints they run
     * only in store_checkpoint(), which the caller invokes when idle (after a
     * turn, from a timer, from another thread's handle), and inline only
     * past STORE_WAL_HARD_PAGES as a safety net. */
    bool idle_checkpoints;
};

/* Open (creating the directory, file and schema as needed) and migrate to
 * STORE_SCHEMA_VERSION in one transaction. `o` may be NULL (all defaults). */
enum brock_status store_open(const struct store_options *o, struct store **out, struct brock_err *e) BROCK_WUR;
/* Close; NULL is fine. */
void store_close(struct store *s);

/* Copy committed WAL pages into the database (a PASSIVE checkpoint: it
 * never waits for, nor blocks, readers and writers of other handles).
 * *wal_pages / *done_pages (may be NULL) get the WAL size and how much of it
 * is now in the database. Cheap when there is nothing to do. */
enum brock_status store_checkpoint(struct store *s, int *wal_pages, int *done_pages, struct brock_err *e) BROCK_WUR;

/* Batches: many writes in one transaction (one commit, one WAL sync point),
 * for a thread that writes rows at a high rate (the gateway's book-keeping).
 * store_batch_begin takes the write lock (BEGIN IMMEDIATE, waiting up to the
 * busy timeout); until store_batch_commit every ledger, cache and spool write
 * on this handle is a savepoint inside it: a write that fails undoes only
 * itself and returns its error as usual, and nothing is durable or visible
 * to other handles before the commit. Keep batches short (other writers wait
 * for the lock). If SQLite itself rolls the transaction back (disk full, I/O
 * error), the rest of the batch runs as single transactions and the commit
 * returns BROCK_ERR_IO saying the batch was lost. store_batch_rollback
 * discards an open batch (NULL or no batch is fine). Session writes are not
 * for batches. */
enum brock_status store_batch_begin(struct store *s, struct brock_err *e) BROCK_WUR;
enum brock_status store_batch_commit(struct store *s, struct brock_err *e) BROCK_WUR;
void store_batch_rollback(struct store *s);

/* The directory store_open would use with dir == NULL, malloc'd into *out. */
enum brock_status store_default_dir(char **out, struct brock_err *e) BROCK_WUR;
/* The database path and its directory (borrowed, valid until store_close). */
/* Now by the store's clock (the options' clock, else real time), in ms. */
int64_t store_clock_ms(const struct store *s);
const char *store_path(const struct store *s);
const char *store_dir(const struct store *s);

/* Start of the UTC day / month containing t (ms). */
int64_t store_utc_day_start(int64_t t_ms);
int64_t store_utc_month_start(int64_t t_ms);
/* "YYYY-MM-DD" of a UTC day number (days since 1970-01-01). */
void store_format_day(int64_t day, char out[16]);

/* ---- sessions -------------------------------------------------------------
 *
 * A session is a conversation: messages (Messages-API role + content JSON)
 * numbered 1, 2, 3... in append order, tool-call records, permission
 * decisions, and compactions. Ids are random UUID v4 strings (36 chars).
 * Each append is its own transaction, so a kill loses at most the call in
 * flight. Compaction covers a prefix: messages 1..upto are "summarised" by
 * a summary (JSON text, usually a content array); a resumed session loads the
 * latest summary plus the messages after it. Summarised messages are kept. */

#define STORE_SESSION_ID_LEN 36

struct store_session_info {
    char id[STORE_SESSION_ID_LEN + 1];
    char *dir, *title, *model;
    int64_t created_ms, updated_ms;
    int64_t message_count;
    double cost_usd; /* sum of the ledger rows naming this session */
};

struct store_message {
    const char *role;         /* "user" or "assistant" */
    const char *content_json; /* a string or an array of content blocks, JSON text */
    const char *model;        /* NULL: none */
    const char *request_id;   /* NULL: none */
    struct model_usage usage; /* zero for user messages */
    int64_t time_ms;          /* 0: now */
};

struct store_loaded_message {
    int64_t seq;
    char *role, *content_json, *model, *request_id;
    struct model_usage usage;
    int64_t time_ms;
    bool summarised; /* covered by the latest compaction (only with include_summarised) */
};

struct store_transcript {
    struct store_session_info info;
    char *summary_json;    /* latest compaction summary, NULL if none */
    int64_t summary_upto;  /* last message it covers, 0 if none */
    struct store_loaded_message *messages;
    size_t n;
};

struct store_tool_call {
    const char *tool_use_id; /* NULL: none */
    const char *name;
    const char *input_json;  /* the tool_use input, JSON text */
    const char *result;      /* text; cut at STORE_TOOL_RESULT_MAX bytes on a UTF-8 boundary */
    size_t result_len;
    bool is_error;
    int64_t duration_ms;
    int64_t time_ms; /* 0: now */
};

struct store_tool_call_row {
    int64_t id;
    char *tool_use_id, *name, *input_json, *result;
    size_t result_len;   /* bytes kept */
    int64_t result_full; /* bytes the tool produced */
    bool is_error;
    int64_t duration_ms, time_ms;
};

struct store_permission {
    const char *tool;     /* "Bash", "Edit", ... */
    const char *subject;  /* what it was about: the command, the path; NULL: none */
    const char *decision; /* "allow", "deny", "ask", ... (non-empty) */
    const char *rule;     /* the matching rule, NULL: none */
    const char *source;   /* where the rule came from (settings file, user answer), NULL: none */
    int64_t time_ms;      /* 0: now */
};

struct store_permission_row {
    int64_t id;
    char *tool, *subject, *decision, *rule, *source;
    int64_t time_ms;
};

/* Create a session for `dir` (required; the working directory), `title` and
 * `model` (NULL: empty). Writes the new id into id_out. */
enum brock_status store_session_create(struct store *s, const char *dir, const char *title, const char *model,
                                       char id_out[STORE_SESSION_ID_LEN + 1], struct brock_err *e) BROCK_WUR;
/* Append a message; *seq_out (may be NULL) gets its number. */
enum brock_status store_session_append(struct store *s, const char *id, const struct store_message *m,
                                       int64_t *seq_out, struct brock_err *e) BROCK_WUR;
enum brock_status store_session_tool_call(struct store *s, const char *id, const struct store_tool_call *t,
                                          struct brock_err *e) BROCK_WUR;
enum brock_status store_session_permission(struct store *s, const char *id, const struct store_permission *p,
                                           struct brock_err *e) BROCK_WUR;
enum brock_status store_session_set_title(struct store *s, const char *id, const char *title,
                                          struct brock_err *e) BROCK_WUR;
/* Mark messages 1..upto_seq summarised by summary_json. upto_seq must not go
 * back past an earlier compaction nor beyond the last message. */
enum brock_status store_session_compact(struct store *s, const char *id, int64_t upto_seq,
                                        const char *summary_json, struct brock_err *e) BROCK_WUR;
/* Delete a session with its messages, tool calls, permissions and
 * compactions. Ledger rows stay (spend history must not change). */
enum brock_status store_session_delete(struct store *s, const char *id, struct brock_err *e) BROCK_WUR;

/* Load for resume: the summary and the messages after it, in order; with
 * include_summarised every message (those covered flagged). */
enum brock_status store_session_load(struct store *s, const char *id, bool include_summarised,
                                     struct store_transcript *out, struct brock_err *e) BROCK_WUR;
void store_transcript_cleanup(struct store_transcript *t);

/* The most recently updated session of `dir` (--continue): BROCK_ERR_NOT_FOUND if none. */
enum brock_status store_session_latest(struct store *s, const char *dir, char id_out[STORE_SESSION_ID_LEN + 1],
                                       struct brock_err *e) BROCK_WUR;
/* A full id, or a unique prefix of at least 4 characters (--resume ID):
 * BROCK_ERR_NOT_FOUND if none matches, BROCK_ERR_USAGE if several do. */
enum brock_status store_session_find(struct store *s, const char *id_or_prefix,
                                     char id_out[STORE_SESSION_ID_LEN + 1], struct brock_err *e) BROCK_WUR;
enum brock_status store_session_info(struct store *s, const char *id, struct store_session_info *out,
                                     struct brock_err *e) BROCK_WUR;
void store_session_info_cleanup(struct store_session_info *i);

/* Sessions, most recently updated first; `dir` NULL = all; limit 0 = no limit. */
struct store_session_list {
    struct store_session_info *items;
    size_t n;
};
enum brock_status store_session_list(struct store *s, const char *dir, size_t limit,
                                     struct store_session_list *out, struct brock_err *e) BROCK_WUR;
void store_session_list_free(struct store_session_list *l);

struct store_tool_call_list {
    struct store_tool_call_row *items;
    size_t n;
};
enum brock_status store_session_tool_calls(struct store *s, const char *id, struct store_tool_call_list *out,
                                           struct brock_err *e) BROCK_WUR;
void store_tool_call_list_free(struct store_tool_call_list *l);

struct store_permission_list {
    struct store_permission_row *items;
    size_t n;
};
enum brock_status store_session_permissions(struct store *s, const char *id, struct store_permission_list *out,
                                            struct brock_err *e) BROCK_WUR;
void store_permission_list_free(struct store_permission_list *l);

/* ---- usage ledger -----------------------------------------------------------
 *
 * One row per model call. A daily rollup (day, project, user, model) is
 * updated in the same transaction, so budget checks read at most a month of
 * rollup rows whatever the size of the ledger. Success is status "ok";
 * anything else counts as an error in the aggregates. Strings: NULL = "". */

struct store_ledger_row {
    int64_t time_ms; /* 0: now */
    const char *session_id, *user, *project;
    const char *model;   /* what was asked for (id, alias resolved) */
    const char *profile; /* the model / inference profile actually served */
    const char *region, *api;
    struct model_usage usage;
    double latency_ms, ttft_ms;
    int retries;
    const char *status; /* "ok", or the error: AWS code, "interrupted", ... */
    const char *request_id;
    double cost_usd; /* finite, >= 0 (0 for a cache hit) */
    bool cache_hit;
    const char *routing; /* the router's decision, free text */
};

/* Insert; *id_out (may be NULL) gets the row id. Also adds the cost to the
 * session named by session_id, if it exists. */
enum brock_status store_ledger_insert(struct store *s, const struct store_ledger_row *r, int64_t *id_out,
                                      struct brock_err *e) BROCK_WUR;

/* Insert n rows (1..STORE_LEDGER_MANY_MAX) in one transaction: all or none.
 * The same rows as n store_ledger_insert calls, for a fraction of the CPU:
 * one commit, and one rollup update per (day, project, user, model) instead
 * of one per row. Rows with time_ms 0 get the same "now". Every row is
 * checked first: one that store_ledger_insert would refuse fails the call
 * (its error, prefixed "ledger row I of N") before anything is written. */
#define STORE_LEDGER_MANY_MAX ((size_t)4096)
enum brock_status store_ledger_insert_many(struct store *s, const struct store_ledger_row *rows, size_t n,
                                           struct brock_err *e) BROCK_WUR;

struct store_ledger_filter {
    int64_t since_ms;    /* rows at or after; 0 = all */
    const char *project; /* NULL = any */
    const char *user;    /* NULL = any */
};

/* Spend in USD since f->since_ms. Day-aligned times read only the rollup;
 * others also scan the raw rows of the first partial day. */
enum brock_status store_ledger_spend(struct store *s, const struct store_ledger_filter *f, double *usd,
                                     struct brock_err *e) BROCK_WUR;
/* The two budget figures at `now_ms` (0: now): spend in the whole UTC day
 * and the whole UTC month containing it, for project/user (NULL = any), in
 * one query. Rows of other days and months do not count, whatever their
 * order of insertion. */
enum brock_status store_ledger_budget(struct store *s, int64_t now_ms, const char *project, const char *user,
                                      double *today_usd, double *month_usd, struct brock_err *e) BROCK_WUR;
/* The same two figures for every user with spend this month, in one pass
 * over the month's rollup (store_ledger_budget once per user reads the whole
 * month each time). fn is called once per user, in no set order; a user it
 * is not called for spent nothing this month. */
typedef void (*store_spend_fn)(void *ctx, const char *user, double today_usd, double month_usd);
enum brock_status store_ledger_budget_by_user(struct store *s, int64_t now_ms, store_spend_fn fn, void *ctx,
                                              struct brock_err *e) BROCK_WUR;

enum store_group { STORE_BY_DAY = 0, STORE_BY_MODEL, STORE_BY_PROJECT, STORE_BY_USER };

struct store_usage_row {
    char *key; /* "YYYY-MM-DD" by day; else the model, project or user ("" = unknown) */
    int64_t calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    int64_t cache_hits, errors;
    double cost_usd;
    double latency_ms_mean;
};
struct store_usage {
    struct store_usage_row *rows; /* sorted by key */
    size_t n;
    struct store_usage_row total; /* key NULL */
};
/* `brock usage`: rows grouped by `by`, filtered by f (NULL: everything). */
enum brock_status store_ledger_usage(struct store *s, enum store_group by, const struct store_ledger_filter *f,
                                     struct store_usage *out, struct brock_err *e) BROCK_WUR;
void store_usage_free(struct store_usage *u);

/* Every matching row as a JSON array of objects, oldest first, appended to
 * out (its cap bounds the export: BROCK_ERR_TOO_LARGE past it). */
enum brock_status store_ledger_export_json(struct store *s, const struct store_ledger_filter *f, struct buf *out,
                                           struct brock_err *e) BROCK_WUR;

/* ---- response cache ------------------------------------------------------
 *
 * Exact-match answers keyed by a caller-computed SHA-256 (64 hex digits, any
 * case). Entries expire after their TTL; the total size (answer + meta +
 * model bytes) is kept under the limit by evicting the least recently used
 * entries in the same transaction as the put. A get is a write (last-used
 * time, counters). Counters are kept across processes in the file. */

struct store_cache_entry {
    char *answer_json;
    size_t answer_len;
    char *meta_json; /* "" if none */
    char *model;
    int64_t created_ms, expires_ms, hits; /* hits include this one */
};

struct store_cache_stats {
    int64_t entries, bytes, max_bytes;
    int64_t hits, misses, evictions, expirations;
    int64_t oldest_ms; /* creation time of the oldest entry, 0 if empty */
};

/* *hit tells whether out was filled (an expired entry is removed and misses). */
enum brock_status store_cache_get(struct store *s, const char *key_hex, struct store_cache_entry *out, bool *hit,
                                  struct brock_err *e) BROCK_WUR;
void store_cache_entry_cleanup(struct store_cache_entry *c);
/* Store (or replace) an answer for ttl_s seconds (> 0). meta_json and model
 * may be NULL. An entry bigger than the limit is refused (BROCK_ERR_TOO_LARGE). */
enum brock_status store_cache_put(struct store *s, const char *key_hex, const char *answer_json,
                                  const char *meta_json, const char *model, int64_t ttl_s,
                                  struct brock_err *e) BROCK_WUR;
enum brock_status store_cache_stats(struct store *s, struct store_cache_stats *out, struct brock_err *e) BROCK_WUR;
/* Remove every entry and reset the counters; *removed (may be NULL) gets the count. */
enum brock_status store_cache_clear(struct store *s, int64_t *removed, struct brock_err *e) BROCK_WUR;
/* Remove expired entries (also done by put when over the limit). */
enum brock_status store_cache_purge(struct store *s, int64_t *removed, struct brock_err *e) BROCK_WUR;
/* Change this handle's size limit (0: the default); evicts on the next put. */
void store_cache_set_limit(struct store *s, int64_t max_bytes);

/* ---- audit-log spool ------------------------------------------------------
 *
 * A durable queue of log events for the CloudWatch Logs shipper. Append
 * commits before it returns. Reads return the oldest events by (timestamp,
 * append order), bounded like one PutLogEvents call. Ids are never reused
 * (AUTOINCREMENT), so deleting the ids of a shipped batch removes exactly
 * those events even with appenders and other readers running. */

struct store_spool_event {
    int64_t id, ts_ms;
    const char *message; /* NUL-terminated, points into the batch */
    size_t len;
};

struct store_spool_batch {
    struct store_spool_event *ev;
    size_t n;
    size_t bytes; /* sum of len + per_event_overhead */
    char *arena;  /* the messages */
};

struct store_spool_limits {
    size_t max_events;         /* 0: 10000 */
    size_t max_bytes;          /* 0: 1048576 */
    size_t per_event_overhead; /* counted per event against max_bytes (26 for PutLogEvents) */
    int64_t max_span_ms;       /* last ts - first ts; 0: no limit (PutLogEvents: 24 h) */
};

/* Append one event (message may hold any bytes; len <= STORE_SPOOL_MESSAGE_MAX);
 * ts_ms 0 = now. *id_out may be NULL. */
enum brock_status store_spool_append(struct store *s, int64_t ts_ms, const char *message, size_t len,
                                     int64_t *id_out, struct brock_err *e) BROCK_WUR;
/* The oldest events within the limits (lim NULL: PutLogEvents' own). The
 * first event is always returned, even if alone it exceeds max_bytes. */
enum brock_status store_spool_read(struct store *s, const struct store_spool_limits *lim,
                                   struct store_spool_batch *out, struct brock_err *e) BROCK_WUR;
void store_spool_batch_free(struct store_spool_batch *b);
/* Delete the events with these ids; *deleted (may be NULL) gets how many existed. */
enum brock_status store_spool_delete(struct store *s, const int64_t *ids, size_t n, size_t *deleted,
                                     struct brock_err *e) BROCK_WUR;
/* Delete the events older than before_ms, oldest first, at most max_rows of
 * them (0: no limit) in one transaction; *deleted (may be NULL) gets how
 * many. Looks at the oldest event first, so with nothing to delete it is one
 * indexed read and no write. */
enum brock_status store_spool_prune(struct store *s, int64_t before_ms, size_t max_rows, size_t *deleted,
                                    struct brock_err *e) BROCK_WUR;
/* Events waiting and their message bytes (a scan: O(events)). */
enum brock_status store_spool_count(struct store *s, int64_t *events, int64_t *bytes,
                                    struct brock_err *e) BROCK_WUR;

#endif
