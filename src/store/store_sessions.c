/* store_sessions.c - conversations: sessions, messages, tool calls,
 * permission decisions, compactions.
 *
 * Every write is one BEGIN IMMEDIATE ... COMMIT: the session row is updated
 * first (which also proves it exists, and takes the write lock before any
 * read that the write depends on), then the child row is inserted.
 * `sessions.touch` is a counter bumped by every change, so "most recent"
 * has no ties even when two changes share a millisecond. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/uuid.h"

#define SESSION_COLS "id, dir, title, model, created_ms, updated_ms, message_count, cost_usd"

static enum brock_status bad_id(const char *id, struct brock_err *e)
{
    return err_set(e, BROCK_ERR_USAGE, "store: \"%.40s\" is not a session id", id ? id : "(null)");
}

static enum brock_status not_found(const char *id, struct brock_err *e)
{
    return err_set(e, BROCK_ERR_NOT_FOUND, "store: no session %s", id);
}

/* After an `INSERT ... SELECT ... WHERE json_valid(?)`: no row inserted
 * means the caller's JSON was invalid. The message names the field only. */
static enum brock_status insert_done(struct store *s, struct brock_err *e, int rc, const char *field,
                                     const char *what)
{
    if (rc != SQLITE_DONE)
        return store_dberr(s, e, rc, what);
    if (sqlite3_changes(s->db) == 0)
        return err_set(e, BROCK_ERR_USAGE, "store: %s: %s is not valid JSON", what, field);
    return BROCK_OK;
}

static enum brock_status check_json_arg(const char *field, const char *v, size_t max, struct brock_err *e)
{
    if (!v || !*v)
        return err_set(e, BROCK_ERR_USAGE, "store: %s is missing", field);
    if (strlen(v) > max)
        return err_set(e, BROCK_ERR_TOO_LARGE, "store: %s is longer than %zu bytes", field, max);
    return BROCK_OK;
}

/* UPDATE sessions ... WHERE id = ?1 run inside a transaction: NOT_FOUND if no row. */
static enum brock_status touch_session(struct store *s, const char *id, int64_t now, const char *what,
                                       struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_SESSION_TOUCH,
                                  "UPDATE sessions SET updated_ms = max(updated_ms, ?2),"
                                  " touch = (SELECT max(touch) FROM sessions) + 1 WHERE id = ?1",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    enum brock_status r = store_exec(s, st, what, e);
    if (r == BROCK_OK && sqlite3_changes(s->db) == 0)
        r = not_found(id, e);
    return r;
}

enum brock_status store_session_create(struct store *s, const char *dir, const char *title, const char *model,
                                       char id_out[STORE_SESSION_ID_LEN + 1], struct brock_err *e)
{
    enum brock_status r;
    if (!dir || !*dir)
        return err_set(e, BROCK_ERR_USAGE, "store: a session needs a directory");
    if ((r = store_check_text("session directory", dir, e)) != BROCK_OK ||
        (r = store_check_text("session title", title, e)) != BROCK_OK ||
        (r = store_check_text("session model", model, e)) != BROCK_OK)
        return r;
    char id[STORE_SESSION_ID_LEN + 1];
    uuid_v4(id);

    sqlite3_stmt *st = store_prep(s, ST_SESSION_INSERT,
                                  "INSERT INTO sessions(id, dir, title, model, created_ms, updated_ms, touch)"
                                  " VALUES(?1, ?2, ?3, ?4, ?5, ?5, (SELECT ifnull(max(touch), 0) + 1 FROM sessions))",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    store_bind_str(st, 2, dir);
    store_bind_str(st, 3, title);
    store_bind_str(st, 4, model);
    sqlite3_bind_int64(st, 5, store_now(s));
    if ((r = store_exec(s, st, "creating a session", e)) != BROCK_OK)
        return r;
    memcpy(id_out, id, sizeof id);
    return BROCK_OK;
}

enum brock_status store_session_append(struct store *s, const char *id, const struct store_message *m,
                                       int64_t *seq_out, struct brock_err *e)
{
    enum brock_status r;
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    if (!m->role || (strcmp(m->role, "user") != 0 && strcmp(m->role, "assistant") != 0))
        return err_set(e, BROCK_ERR_USAGE, "store: message role must be \"user\" or \"assistant\"");
    if ((r = check_json_arg("message content", m->content_json, STORE_JSON_MAX, e)) != BROCK_OK ||
        (r = store_check_text("message model", m->model, e)) != BROCK_OK ||
        (r = store_check_text("message request id", m->request_id, e)) != BROCK_OK)
        return r;
    int64_t now = m->time_ms ? m->time_ms : store_now(s);

    if ((r = store_tx_begin(s, "appending a message", e)) != BROCK_OK)
        return r;
    sqlite3_stmt *st = store_prep(s, ST_SESSION_BUMP,
                                  "UPDATE sessions SET message_count = message_count + 1,"
                                  " updated_ms = max(updated_ms, ?2),"
                                  " touch = (SELECT max(touch) FROM sessions) + 1,"
                                  " model = CASE WHEN ?3 <> '' THEN ?3 ELSE model END"
                                  " WHERE id = ?1 RETURNING message_count",
                                  e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto fail;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    store_bind_str(st, 3, m->model);
    int rc = sqlite3_step(st);
    int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    store_done(st);
    if (rc != SQLITE_DONE) {
        r = store_dberr(s, e, rc, "appending a message");
        goto fail;
    }
    if (seq == 0) {
        r = not_found(id, e);
        goto fail;
    }

    st = store_prep(s, ST_MESSAGE_INSERT,
                    "INSERT INTO messages(session_id, seq, role, content, model, request_id, input_tokens,"
                    " output_tokens, cache_read_tokens, cache_write_tokens, time_ms)"
                    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE json_valid(?4)",
                    e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto fail;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_text(st, 3, m->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->content_json, -1, SQLITE_STATIC);
    store_bind_str(st, 5, m->model);
    store_bind_str(st, 6, m->request_id);
    sqlite3_bind_int64(st, 7, m->usage.input_tokens);
    sqlite3_bind_int64(st, 8, m->usage.output_tokens);
    sqlite3_bind_int64(st, 9, m->usage.cache_read_tokens);
    sqlite3_bind_int64(st, 10, m->usage.cache_write_tokens);
    sqlite3_bind_int64(st, 11, now);
    rc = sqlite3_step(st);
    r = insert_done(s, e, rc, "content", "appending a message");
    store_done(st);
    if (r != BROCK_OK)
        goto fail;
    if ((r = store_tx_commit(s, "appending a message", e)) != BROCK_OK)
        return r;
    if (seq_out)
        *seq_out = seq;
    return BROCK_OK;
fail:
    store_tx_rollback(s);
    return r;
}

/* Bytes of `p` to keep so at most `max` remain, cutting before a UTF-8
 * sequence rather than inside it. */
static size_t utf8_cut(const char *p, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    for (int back = 0; k > 0 && back < 4 && ((unsigned char)p[k] & 0xc0) == 0x80; back++)
        k--;
    return k;
}

enum brock_status store_session_tool_call(struct store *s, const char *id, const struct store_tool_call *t,
                                          struct brock_err *e)
{
    enum brock_status r;
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    if (!t->name || !*t->name)
        return err_set(e, BROCK_ERR_USAGE, "store: a tool call needs the tool's name");
    if ((r = store_check_text("tool name", t->name, e)) != BROCK_OK ||
        (r = store_check_text("tool use id", t->tool_use_id, e)) != BROCK_OK ||
        (r = check_json_arg("tool input", t->input_json, STORE_JSON_MAX, e)) != BROCK_OK)
        return r;
    size_t rlen = t->result ? t->result_len : 0;
    size_t keep = utf8_cut(t->result ? t->result : "", rlen, STORE_TOOL_RESULT_MAX);
    int64_t now = t->time_ms ? t->time_ms : store_now(s);

    if ((r = store_tx_begin(s, "recording a tool call", e)) != BROCK_OK)
        return r;
    if ((r = touch_session(s, id, now, "recording a tool call", e)) != BROCK_OK)
        goto fail;
    sqlite3_stmt *st = store_prep(s, ST_TOOL_INSERT,
                                  "INSERT INTO tool_calls(session_id, tool_use_id, name, input, result, result_bytes,"
                                  " is_error, duration_ms, time_ms) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9"
                                  " WHERE json_valid(?4)",
                                  e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto fail;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    store_bind_str(st, 2, t->tool_use_id);
    sqlite3_bind_text(st, 3, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, t->input_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, t->result ? t->result : "", (int)keep, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (int64_t)rlen);
    sqlite3_bind_int(st, 7, t->is_error ? 1 : 0);
    sqlite3_bind_int64(st, 8, t->duration_ms);
    sqlite3_bind_int64(st, 9, now);
    r = insert_done(s, e, sqlite3_step(st), "input", "recording a tool call");
    store_done(st);
    if (r != BROCK_OK)
        goto fail;
    return store_tx_commit(s, "recording a tool call", e);
fail:
    store_tx_rollback(s);
    return r;
}

enum brock_status store_session_permission(struct store *s, const char *id, const struct store_permission *p,
                                           struct brock_err *e)
{
    enum brock_status r;
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    if (!p->tool || !*p->tool || !p->decision || !*p->decision)
        return err_set(e, BROCK_ERR_USAGE, "store: a permission decision needs the tool and the decision");
    if ((r = store_check_text("permission tool", p->tool, e)) != BROCK_OK ||
        (r = store_check_text("permission subject", p->subject, e)) != BROCK_OK ||
        (r = store_check_text("permission decision", p->decision, e)) != BROCK_OK ||
        (r = store_check_text("permission rule", p->rule, e)) != BROCK_OK ||
        (r = store_check_text("permission source", p->source, e)) != BROCK_OK)
        return r;
    int64_t now = p->time_ms ? p->time_ms : store_now(s);

    if ((r = store_tx_begin(s, "recording a permission decision", e)) != BROCK_OK)
        return r;
    if ((r = touch_session(s, id, now, "recording a permission decision", e)) != BROCK_OK)
        goto fail;
    sqlite3_stmt *st = store_prep(s, ST_PERM_INSERT,
                                  "INSERT INTO permissions(session_id, tool, subject, decision, rule, source, time_ms)"
                                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto fail;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->tool, -1, SQLITE_STATIC);
    store_bind_str(st, 3, p->subject);
    sqlite3_bind_text(st, 4, p->decision, -1, SQLITE_STATIC);
    store_bind_str(st, 5, p->rule);
    store_bind_str(st, 6, p->source);
    sqlite3_bind_int64(st, 7, now);
    if ((r = store_exec(s, st, "recording a permission decision", e)) != BROCK_OK)
        goto fail;
    return store_tx_commit(s, "recording a permission decision", e);
fail:
    store_tx_rollback(s);
    return r;
}

enum brock_status store_session_set_title(struct store *s, const char *id, const char *title,
                                          struct brock_err *e)
{
    enum brock_status r;
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    if ((r = store_check_text("session title", title, e)) != BROCK_OK)
        return r;
    sqlite3_stmt *st = store_prep(s, ST_SESSION_TITLE, "UPDATE sessions SET title = ?2 WHERE id = ?1", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    store_bind_str(st, 2, title);
    if ((r = store_exec(s, st, "setting a session title", e)) != BROCK_OK)
        return r;
    return sqlite3_changes(s->db) ? BROCK_OK : not_found(id, e);
}

/* ---- reading --------------------------------------------------------------- */

static void fill_info(sqlite3_stmt *st, struct store_session_info *i)
{
    store_col_copy(st, 0, i->id, sizeof i->id);
    i->dir = store_col_dup(st, 1, NULL);
    i->title = store_col_dup(st, 2, NULL);
    i->model = store_col_dup(st, 3, NULL);
    i->created_ms = sqlite3_column_int64(st, 4);
    i->updated_ms = sqlite3_column_int64(st, 5);
    i->message_count = sqlite3_column_int64(st, 6);
    i->cost_usd = sqlite3_column_double(st, 7);
}

void store_session_info_cleanup(struct store_session_info *i)
{
    if (!i)
        return;
    free(i->dir);
    free(i->title);
    free(i->model);
    memset(i, 0, sizeof *i);
}

/* The session row, inside or outside a transaction. */
static enum brock_status get_info(struct store *s, const char *id, struct store_session_info *out,
                                  struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_SESSION_GET, "SELECT " SESSION_COLS " FROM sessions WHERE id = ?1", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    if (rc == SQLITE_ROW)
        fill_info(st, out);
    else if (rc == SQLITE_DONE)
        r = not_found(id, e);
    else
        r = store_dberr(s, e, rc, "reading a session");
    store_done(st);
    return r;
}

enum brock_status store_session_info(struct store *s, const char *id, struct store_session_info *out,
                                     struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    return get_info(s, id, out, e);
}

/* The latest compaction of a session: its upto and (if wanted) summary. */
static enum brock_status last_compaction(struct store *s, const char *id, int64_t *upto, char **summary,
                                         struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_COMPACT_LAST,
                                  "SELECT upto_seq, summary FROM compactions WHERE session_id = ?1"
                                  " ORDER BY id DESC LIMIT 1",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    *upto = 0;
    if (rc == SQLITE_ROW) {
        *upto = sqlite3_column_int64(st, 0);
        if (summary)
            *summary = store_col_dup(st, 1, NULL);
    } else if (rc != SQLITE_DONE) {
        r = store_dberr(s, e, rc, "reading a compaction");
    }
    store_done(st);
    return r;
}

enum brock_status store_session_compact(struct store *s, const char *id, int64_t upto_seq,
                                        const char *summary_json, struct brock_err *e)
{
    enum brock_status r;
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    if ((r = check_json_arg("compaction summary", summary_json, STORE_JSON_MAX, e)) != BROCK_OK)
        return r;
    int64_t now = store_now(s);
    struct store_session_info info = {0};
    if ((r = store_tx_begin(s, "compacting a session", e)) != BROCK_OK)
        return r;
    int64_t prev;
    if ((r = touch_session(s, id, now, "compacting a session", e)) != BROCK_OK ||
        (r = get_info(s, id, &info, e)) != BROCK_OK || (r = last_compaction(s, id, &prev, NULL, e)) != BROCK_OK)
        goto fail;
    if (upto_seq < 1 || upto_seq < prev || upto_seq > info.message_count) {
        r = err_set(e, BROCK_ERR_USAGE,
                    "store: session %s: cannot summarise up to message %lld (it has %lld messages, %lld already "
                    "summarised)",
                    id, (long long)upto_seq, (long long)info.message_count, (long long)prev);
        goto fail;
    }
    sqlite3_stmt *st = store_prep(s, ST_COMPACT_INSERT,
                                  "INSERT INTO compactions(session_id, upto_seq, summary, time_ms)"
                                  " SELECT ?1, ?2, ?3, ?4 WHERE json_valid(?3)",
                                  e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto fail;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, upto_seq);
    sqlite3_bind_text(st, 3, summary_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    r = insert_done(s, e, sqlite3_step(st), "summary", "compacting a session");
    store_done(st);
    if (r != BROCK_OK)
        goto fail;
    store_session_info_cleanup(&info);
    return store_tx_commit(s, "compacting a session", e);
fail:
    store_session_info_cleanup(&info);
    store_tx_rollback(s);
    return r;
}

/* A rarely run statement with the session id as ?1: prepared, run, finalized. */
static enum brock_status run_once(struct store *s, const char *sql, const char *id, const char *what,
                                  struct brock_err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    enum brock_status r = rc == SQLITE_OK ? BROCK_OK : store_dberr(s, e, rc, what);
    sqlite3_finalize(st);
    return r;
}

enum brock_status store_session_delete(struct store *s, const char *id, struct brock_err *e)
{
    static const char *const sql[] = {
        "DELETE FROM messages WHERE session_id = ?1",
        "DELETE FROM tool_calls WHERE session_id = ?1",
        "DELETE FROM permissions WHERE session_id = ?1",
        "DELETE FROM compactions WHERE session_id = ?1",
        "DELETE FROM sessions WHERE id = ?1",
    };
    enum brock_status r;
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    if ((r = store_tx_begin(s, "deleting a session", e)) != BROCK_OK)
        return r;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(sql); i++)
        if ((r = run_once(s, sql[i], id, "deleting a session", e)) != BROCK_OK)
            goto fail;
    if (sqlite3_changes(s->db) == 0) {
        r = not_found(id, e);
        goto fail;
    }
    return store_tx_commit(s, "deleting a session", e);
fail:
    store_tx_rollback(s);
    return r;
}

void store_transcript_cleanup(struct store_transcript *t)
{
    if (!t)
        return;
    store_session_info_cleanup(&t->info);
    free(t->summary_json);
    for (size_t i = 0; i < t->n; i++) {
        struct store_loaded_message *m = &t->messages[i];
        free(m->role);
        free(m->content_json);
        free(m->model);
        free(m->request_id);
    }
    free(t->messages);
    memset(t, 0, sizeof *t);
}

static enum brock_status load_messages(struct store *s, const char *id, bool all, struct store_transcript *t,
                                       struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_MESSAGE_LOAD,
                                  "SELECT seq, role, content, model, request_id, input_tokens, output_tokens,"
                                  " cache_read_tokens, cache_write_tokens, time_ms FROM messages"
                                  " WHERE session_id = ?1 AND seq > ?2 ORDER BY seq",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, all ? 0 : t->summary_upto);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n == cap) {
            cap = cap ? cap * 2 : 16;
            t->messages = xrealloc(t->messages, cap * sizeof *t->messages);
        }
        struct store_loaded_message *m = &t->messages[t->n++];
        m->seq = sqlite3_column_int64(st, 0);
        m->role = store_col_dup(st, 1, NULL);
        m->content_json = store_col_dup(st, 2, NULL);
        m->model = store_col_dup(st, 3, NULL);
        m->request_id = store_col_dup(st, 4, NULL);
        m->usage.input_tokens = sqlite3_column_int64(st, 5);
        m->usage.output_tokens = sqlite3_column_int64(st, 6);
        m->usage.cache_read_tokens = sqlite3_column_int64(st, 7);
        m->usage.cache_write_tokens = sqlite3_column_int64(st, 8);
        m->time_ms = sqlite3_column_int64(st, 9);
        m->summarised = m->seq <= t->summary_upto;
    }
    enum brock_status r = rc == SQLITE_DONE ? BROCK_OK : store_dberr(s, e, rc, "loading a session");
    store_done(st);
    return r;
}

/* A read snapshot across several statements (WAL readers never block). */
static enum brock_status read_begin(struct store *s, const char *what, struct brock_err *e)
{
    int rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
    return rc == SQLITE_OK ? BROCK_OK : store_dberr(s, e, rc, what);
}

static void read_end(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

enum brock_status store_session_load(struct store *s, const char *id, bool include_summarised,
                                     struct store_transcript *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    enum brock_status r = read_begin(s, "loading a session", e);
    if (r != BROCK_OK)
        return r;
    if ((r = get_info(s, id, &out->info, e)) == BROCK_OK &&
        (r = last_compaction(s, id, &out->summary_upto, &out->summary_json, e)) == BROCK_OK)
        r = load_messages(s, id, include_summarised, out, e);
    read_end(s);
    if (r != BROCK_OK)
        store_transcript_cleanup(out);
    return r;
}

enum brock_status store_session_latest(struct store *s, const char *dir, char id_out[STORE_SESSION_ID_LEN + 1],
                                       struct brock_err *e)
{
    if (!dir)
        return err_set(e, BROCK_ERR_USAGE, "store: no directory given");
    sqlite3_stmt *st = store_prep(s, ST_SESSION_LATEST,
                                  "SELECT id FROM sessions WHERE dir = ?1 ORDER BY touch DESC LIMIT 1", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, dir, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    if (rc == SQLITE_ROW)
        store_col_copy(st, 0, id_out, STORE_SESSION_ID_LEN + 1);
    else if (rc == SQLITE_DONE)
        r = err_set(e, BROCK_ERR_NOT_FOUND, "store: no session to continue in %s", dir);
    else
        r = store_dberr(s, e, rc, "finding the latest session");
    store_done(st);
    return r;
}

enum brock_status store_session_find(struct store *s, const char *id_or_prefix,
                                     char id_out[STORE_SESSION_ID_LEN + 1], struct brock_err *e)
{
    char lo[STORE_SESSION_ID_LEN + 1], hi[STORE_SESSION_ID_LEN + 2];
    size_t n = id_or_prefix ? strlen(id_or_prefix) : 0;
    if (n < 4 || n > STORE_SESSION_ID_LEN)
        return err_set(e, BROCK_ERR_USAGE, "store: a session id or a prefix of at least 4 characters is needed");
    for (size_t i = 0; i < n; i++) {
        char c = id_or_prefix[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
            return bad_id(id_or_prefix, e);
        lo[i] = hi[i] = c;
    }
    lo[n] = '\0';
    /* Every id character sorts below 'g', so [prefix, prefix "g") is exactly
     * the ids starting with prefix, an index range. */
    hi[n] = 'g';
    hi[n + 1] = '\0';
    sqlite3_stmt *st = store_prep(s, ST_SESSION_FIND,
                                  "SELECT id FROM sessions WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 2", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_text(st, 1, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
    int rc, found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (found++ == 0)
            store_col_copy(st, 0, id_out, STORE_SESSION_ID_LEN + 1);
    enum brock_status r = BROCK_OK;
    if (rc != SQLITE_DONE)
        r = store_dberr(s, e, rc, "finding a session");
    else if (found == 0)
        r = not_found(lo, e);
    else if (found > 1)
        r = err_set(e, BROCK_ERR_USAGE, "store: session id prefix %s is ambiguous; give more characters", lo);
    store_done(st);
    return r;
}

enum brock_status store_session_list(struct store *s, const char *dir, size_t limit,
                                     struct store_session_list *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = dir ? store_prep(s, ST_SESSION_LIST_DIR,
                                        "SELECT " SESSION_COLS " FROM sessions WHERE dir = ?2"
                                        " ORDER BY touch DESC LIMIT ?1",
                                        e)
                           : store_prep(s, ST_SESSION_LIST_ALL,
                                        "SELECT " SESSION_COLS " FROM sessions ORDER BY touch DESC LIMIT ?1", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
    if (dir)
        sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->items = xrealloc(out->items, cap * sizeof *out->items);
        }
        fill_info(st, &out->items[out->n++]);
    }
    enum brock_status r = rc == SQLITE_DONE ? BROCK_OK : store_dberr(s, e, rc, "listing sessions");
    store_done(st);
    if (r != BROCK_OK)
        store_session_list_free(out);
    return r;
}

void store_session_list_free(struct store_session_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        store_session_info_cleanup(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* The rows of one per-session table, in insertion order: `sql` binds the
 * session id as ?1; fill() turns a row into the element at `item`. The
 * session must exist (BROCK_ERR_NOT_FOUND otherwise). On error the rows read
 * so far stay in *items / *n for the caller's list_free. */
typedef void session_row_fn(sqlite3_stmt *st, void *item);

static enum brock_status session_rows(struct store *s, const char *id, const char *what, enum store_stmt_id stmt,
                                      const char *sql, size_t elem, void **items, size_t *n, session_row_fn *fill,
                                      struct brock_err *e)
{
    if (!id || !store_valid_session_id(id))
        return bad_id(id, e);
    struct store_session_info info = {0};
    enum brock_status r = read_begin(s, what, e);
    if (r != BROCK_OK)
        return r;
    if ((r = get_info(s, id, &info, e)) != BROCK_OK)
        goto done;
    sqlite3_stmt *st = store_prep(s, stmt, sql, e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto done;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *items = xrealloc(*items, cap * elem);
        }
        fill(st, (char *)*items + (*n)++ * elem);
    }
    if (rc != SQLITE_DONE)
        r = store_dberr(s, e, rc, what);
    store_done(st);
done:
    read_end(s);
    store_session_info_cleanup(&info);
    return r;
}

static void tool_call_row(sqlite3_stmt *st, void *item)
{
    struct store_tool_call_row *t = item;
    t->id = sqlite3_column_int64(st, 0);
    t->tool_use_id = store_col_dup(st, 1, NULL);
    t->name = store_col_dup(st, 2, NULL);
    t->input_json = store_col_dup(st, 3, NULL);
    t->result = store_col_dup(st, 4, &t->result_len);
    t->result_full = sqlite3_column_int64(st, 5);
    t->is_error = sqlite3_column_int(st, 6) != 0;
    t->duration_ms = sqlite3_column_int64(st, 7);
    t->time_ms = sqlite3_column_int64(st, 8);
}

enum brock_status store_session_tool_calls(struct store *s, const char *id, struct store_tool_call_list *out,
                                           struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    void *items = NULL;
    enum brock_status r =
        session_rows(s, id, "reading tool calls", ST_TOOL_LOAD,
                     "SELECT id, tool_use_id, name, input, result, result_bytes, is_error,"
                     " duration_ms, time_ms FROM tool_calls WHERE session_id = ?1 ORDER BY id",
                     sizeof *out->items, &items, &out->n, tool_call_row, e);
    out->items = items;
    if (r != BROCK_OK)
        store_tool_call_list_free(out);
    return r;
}

void store_tool_call_list_free(struct store_tool_call_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].tool_use_id);
        free(l->items[i].name);
        free(l->items[i].input_json);
        free(l->items[i].result);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void permission_row(sqlite3_stmt *st, void *item)
{
    struct store_permission_row *p = item;
    p->id = sqlite3_column_int64(st, 0);
    p->tool = store_col_dup(st, 1, NULL);
    p->subject = store_col_dup(st, 2, NULL);
    p->decision = store_col_dup(st, 3, NULL);
    p->rule = store_col_dup(st, 4, NULL);
    p->source = store_col_dup(st, 5, NULL);
    p->time_ms = sqlite3_column_int64(st, 6);
}

enum brock_status store_session_permissions(struct store *s, const char *id, struct store_permission_list *out,
                                            struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    void *items = NULL;
    enum brock_status r =
        session_rows(s, id, "reading permission decisions", ST_PERM_LOAD,
                     "SELECT id, tool, subject, decision, rule, source, time_ms FROM permissions"
                     " WHERE session_id = ?1 ORDER BY id",
                     sizeof *out->items, &items, &out->n, permission_row, e);
    out->items = items;
    if (r != BROCK_OK)
        store_permission_list_free(out);
    return r;
}

void store_permission_list_free(struct store_permission_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].tool);
        free(l->items[i].subject);
        free(l->items[i].decision);
        free(l->items[i].rule);
        free(l->items[i].source);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}
