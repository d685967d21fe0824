/* store_int.h - what the store's .c files share: the handle, the prepared
 * statement cache, and small SQLite helpers. Not for use outside src/store. */
#ifndef BROCK_STORE_STORE_INT_H
#define BROCK_STORE_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/* Every statement the store runs more than once, prepared on first use and
 * kept for the life of the connection. */
enum store_stmt_id {
    ST_BEGIN = 0,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT, /* inside store_batch_begin: each write is a savepoint */
    ST_RELEASE,
    ST_ROLLBACK_TO,
    /* sessions */
    ST_SESSION_INSERT,
    ST_SESSION_BUMP,   /* new message: count + 1, touch; RETURNING count */
    ST_SESSION_TOUCH,  /* tool call / permission: updated time */
    ST_SESSION_TITLE,
    ST_SESSION_GET,
    ST_SESSION_LATEST,
    ST_SESSION_FIND,
    ST_SESSION_LIST_ALL,
    ST_SESSION_LIST_DIR,
    ST_MESSAGE_INSERT,
    ST_MESSAGE_LOAD,
    ST_TOOL_INSERT,
    ST_TOOL_LOAD,
    ST_PERM_INSERT,
    ST_PERM_LOAD,
    ST_COMPACT_LAST,
    ST_COMPACT_INSERT,
    /* ledger */
    ST_LEDGER_INSERT,
    ST_LEDGER_ROLLUP,
    ST_LEDGER_SESSION_COST,
    ST_LEDGER_SPEND,
    ST_LEDGER_BUDGET,
    ST_LEDGER_BUDGET_BY_USER,
    ST_LEDGER_USAGE_DAY,
    ST_LEDGER_USAGE_MODEL,
    ST_LEDGER_USAGE_PROJECT,
    ST_LEDGER_USAGE_USER,
    ST_LEDGER_EXPORT,
    /* cache */
    ST_CACHE_GET,
    ST_CACHE_TOUCH,
    ST_CACHE_STATS_ADD, /* add deltas to the counters; RETURNING tick, bytes */
    ST_CACHE_DELETE,
    ST_CACHE_INSERT,
    ST_CACHE_TOTALS,
    ST_CACHE_OLDEST,
    ST_CACHE_LRU,
    ST_CACHE_EXPIRED,
    /* spool */
    ST_SPOOL_INSERT,
    ST_SPOOL_READ,
    ST_SPOOL_DELETE,
    ST_SPOOL_COUNT,
    ST_SPOOL_OLDEST,
    ST_SPOOL_PRUNE,
    ST_COUNT
};

struct store {
    sqlite3 *db;
    char *dir, *path;
    const struct clock *clock;
    int64_t cache_max_bytes;
    sqlite3_stmt *stmt[ST_COUNT];
    bool batch;      /* between store_batch_begin and store_batch_commit */
    bool batch_lost; /* SQLite rolled the open batch back (store_batch_commit says so) */
};

/* The cached statement `id` for `sql` (the same text every time), reset and
 * ready to bind; NULL with `e` set (always BROCK_ERR_IO) if it cannot be
 * prepared, e.g. when a damaged file lacks a table. */
sqlite3_stmt *store_prep(struct store *s, enum store_stmt_id id, const char *sql, struct brock_err *e);
/* Reset and clear bindings; NULL is fine. Always call when done. */
void store_done(sqlite3_stmt *st);

/* Turn the connection's last error into `e`: "<path>: <what>: <sqlite message>"
 * (with a hint for a damaged file or a lock held too long). Always BROCK_ERR_IO. */
enum brock_status store_dberr(struct store *s, struct brock_err *e, int rc, const char *what);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails loudly). Inside
 * a batch (store_batch_begin) they are SAVEPOINT / RELEASE / ROLLBACK TO:
 * a write that fails undoes only itself. */
enum brock_status store_tx_begin(struct store *s, const char *what, struct brock_err *e);
enum brock_status store_tx_commit(struct store *s, const char *what, struct brock_err *e);
void store_tx_rollback(struct store *s);

/* Run a statement that returns no rows (or ignores them) and reset it. */
enum brock_status store_exec(struct store *s, sqlite3_stmt *st, const char *what, struct brock_err *e);

int64_t store_now(const struct store *s);

/* Check an optional short text field (NULL fine) against STORE_TEXT_MAX. */
enum brock_status store_check_text(const char *field, const char *v, struct brock_err *e);

/* Bind helpers: NULL strings bind as "" (columns are NOT NULL). */
static inline int store_bind_str(sqlite3_stmt *st, int i, const char *v)
{
    return sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}
/* NULL binds SQL NULL (for "any" filters). */
static inline int store_bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* Column as a malloc'd string ("" for NULL), optionally its length. */
char *store_col_dup(sqlite3_stmt *st, int i, size_t *len);
/* Copy a column into a fixed buffer (truncating, always NUL-terminated). */
void store_col_copy(sqlite3_stmt *st, int i, char *out, size_t outlen);

/* Session id check: 36 characters of lowercase hex and '-'. */
bool store_valid_session_id(const char *id);

#endif
