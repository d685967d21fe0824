/* store_spool.c - the durable audit-log spool read by the CloudWatch Logs
 * shipper.
 *
 * An append is one autocommit INSERT: when it returns, the row is in the WAL
 * file (written, not necessarily fsynced), which a process kill cannot undo.
 * A read is one statement in (ts_ms, id) order over the spool_order index,
 * stopping at the first event that would break the batch limits; messages
 * are copied into one arena per batch. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"

#define SPOOL_MAX_EVENTS 10000
#define SPOOL_MAX_BYTES ((size_t)1048576)
#define SPOOL_MAX_SPAN_MS ((int64_t)24 * 3600 * 1000)
#define SPOOL_READ_MAX_BYTES ((size_t)256 * 1024 * 1024) /* the most one read may return */

enum brock_status store_spool_append(struct store *s, int64_t ts_ms, const char *message, size_t len,
                                     int64_t *id_out, struct brock_err *e)
{
    if (!message || len == 0)
        return err_set(e, BROCK_ERR_USAGE, "store: a log event needs a message");
    if (len > STORE_SPOOL_MESSAGE_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "store: log event of %zu bytes is over the %zu-byte cap", len,
                       STORE_SPOOL_MESSAGE_MAX);
    sqlite3_stmt *st = store_prep(s, ST_SPOOL_INSERT, "INSERT INTO spool(ts_ms, message) VALUES(?1, ?2)", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, ts_ms ? ts_ms : store_now(s));
    sqlite3_bind_text(st, 2, message, (int)len, SQLITE_STATIC);
    enum brock_status r = store_exec(s, st, "spooling a log event", e);
    if (r == BROCK_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(s->db);
    return r;
}

/* Would `ts` stretch a batch starting at `first` past `span` ms? The times
 * come from the file, so no signed subtraction (a damaged file can hold
 * INT64_MIN and INT64_MAX); an event out of order ends the batch too. */
static bool too_far(int64_t first, int64_t ts, int64_t span)
{
    if (span <= 0)
        return false;
    if (ts < first)
        return true;
    return (uint64_t)ts - (uint64_t)first > (uint64_t)span;
}

void store_spool_batch_free(struct store_spool_batch *b)
{
    if (!b)
        return;
    free(b->ev);
    free(b->arena);
    memset(b, 0, sizeof *b);
}

enum brock_status store_spool_read(struct store *s, const struct store_spool_limits *lim,
                                   struct store_spool_batch *out, struct brock_err *e)
{
    static const struct store_spool_limits cwl = {
        .max_events = SPOOL_MAX_EVENTS,
        .max_bytes = SPOOL_MAX_BYTES,
        .per_event_overhead = STORE_SPOOL_EVENT_OVERHEAD,
        .max_span_ms = SPOOL_MAX_SPAN_MS,
    };
    memset(out, 0, sizeof *out);
    if (!lim)
        lim = &cwl;
    size_t max_events = lim->max_events ? lim->max_events : SPOOL_MAX_EVENTS;
    size_t max_bytes = lim->max_bytes ? lim->max_bytes : SPOOL_MAX_BYTES;
    if (max_events > (size_t)INT32_MAX)
        max_events = INT32_MAX;
    if (max_bytes > SPOOL_READ_MAX_BYTES)
        max_bytes = SPOOL_READ_MAX_BYTES;

    sqlite3_stmt *st = store_prep(s, ST_SPOOL_READ,
                                  "SELECT id, ts_ms, message FROM spool ORDER BY ts_ms, id LIMIT ?1", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, (int64_t)max_events);
    /* Everything but the first event fits in max_bytes; plus one NUL each. */
    struct buf arena = BUF_INIT(max_bytes + STORE_SPOOL_MESSAGE_MAX + max_events);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 1);
        const unsigned char *m = sqlite3_column_text(st, 2);
        size_t len = m ? (size_t)sqlite3_column_bytes(st, 2) : 0;
        if (len > STORE_SPOOL_MESSAGE_MAX)
            len = STORE_SPOOL_MESSAGE_MAX; /* never appended by brock: a damaged file */
        size_t cost = len + lim->per_event_overhead;
        if (out->n > 0 && (out->bytes + cost > max_bytes || too_far(out->ev[0].ts_ms, ts, lim->max_span_ms)))
            break;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            out->ev = xrealloc(out->ev, cap * sizeof *out->ev);
        }
        struct store_spool_event *ev = &out->ev[out->n++];
        ev->id = sqlite3_column_int64(st, 0);
        ev->ts_ms = ts;
        ev->len = len;
        buf_add(&arena, m ? (const char *)m : "", len);
        buf_addc(&arena, '\0');
        out->bytes += cost;
    }
    enum brock_status r = BROCK_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = store_dberr(s, e, rc, "reading spooled log events");
    else if (buf_status(&arena) != BROCK_OK)
        r = err_set(e, BROCK_ERR_TOO_LARGE, "store: spooled log events do not fit in memory");
    store_done(st);
    if (r != BROCK_OK) {
        buf_free(&arena);
        store_spool_batch_free(out);
        return r;
    }
    /* The messages lie end to end, each followed by a NUL. */
    out->arena = buf_take(&arena);
    for (size_t i = 0, off = 0; i < out->n; off += out->ev[i].len + 1, i++)
        out->ev[i].message = out->arena + off;
    return BROCK_OK;
}

enum brock_status store_spool_delete(struct store *s, const int64_t *ids, size_t n, size_t *deleted,
                                     struct brock_err *e)
{
    if (deleted)
        *deleted = 0;
    if (n == 0)
        return BROCK_OK;
    enum brock_status r = store_tx_begin(s, "deleting shipped log events", e);
    if (r != BROCK_OK)
        return r;
    sqlite3_stmt *st = store_prep(s, ST_SPOOL_DELETE, "DELETE FROM spool WHERE id = ?1", e);
    if (!st) {
        store_tx_rollback(s);
        return BROCK_ERR_IO;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        if ((r = store_exec(s, st, "deleting shipped log events", e)) != BROCK_OK) {
            store_tx_rollback(s);
            return r;
        }
        count += (size_t)sqlite3_changes(s->db);
    }
    if ((r = store_tx_commit(s, "deleting shipped log events", e)) != BROCK_OK)
        return r;
    if (deleted)
        *deleted = count;
    return BROCK_OK;
}

enum brock_status store_spool_prune(struct store *s, int64_t before_ms, size_t max_rows, size_t *deleted,
                                    struct brock_err *e)
{
    if (deleted)
        *deleted = 0;
    sqlite3_stmt *st = store_prep(s, ST_SPOOL_OLDEST, "SELECT ts_ms FROM spool ORDER BY ts_ms, id LIMIT 1", e);
    if (!st)
        return BROCK_ERR_IO;
    int rc = sqlite3_step(st);
    int64_t oldest = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    enum brock_status r = rc == SQLITE_ROW || rc == SQLITE_DONE ? BROCK_OK
                                                                 : store_dberr(s, e, rc, "reading the oldest log event");
    store_done(st);
    if (r != BROCK_OK || rc == SQLITE_DONE || oldest >= before_ms)
        return r;
    st = store_prep(s, ST_SPOOL_PRUNE,
                    "DELETE FROM spool WHERE id IN "
                    "(SELECT id FROM spool WHERE ts_ms < ?1 ORDER BY ts_ms, id LIMIT ?2)",
                    e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, before_ms);
    sqlite3_bind_int64(st, 2, max_rows && max_rows < (size_t)INT64_MAX ? (int64_t)max_rows : -1);
    if ((r = store_exec(s, st, "deleting old log events", e)) == BROCK_OK && deleted)
        *deleted = (size_t)sqlite3_changes(s->db);
    return r;
}

enum brock_status store_spool_count(struct store *s, int64_t *events, int64_t *bytes, struct brock_err *e)
{
    *events = *bytes = 0;
    sqlite3_stmt *st = store_prep(s, ST_SPOOL_COUNT,
                                  "SELECT count(*), ifnull(sum(length(CAST(message AS BLOB))), 0) FROM spool", e);
    if (!st)
        return BROCK_ERR_IO;
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    if (rc == SQLITE_ROW) {
        *events = sqlite3_column_int64(st, 0);
        *bytes = sqlite3_column_int64(st, 1);
    } else {
        r = store_dberr(s, e, rc, "counting spooled log events");
    }
    store_done(st);
    return r;
}
