/* store.c - opening the database: location, file modes, connection set-up,
 * schema migrations; the statement cache and error helpers the other store
 * files share.
 *
 * Opening, in order: resolve the directory; create it 0700 if missing;
 * create the database file 0600 with mknod (no descriptor is opened, so no
 * POSIX lock another connection of this process holds on the file can be
 * dropped by a close of ours); narrow an existing file (and its -wal/-shm)
 * that others could read; open the connection without SQLITE_OPEN_CREATE (it
 * never creates the file itself, so never with its default 0644); set it up
 * (extended codes, busy timeout, defensive mode, untrusted schema, WAL,
 * synchronous); migrate inside BEGIN IMMEDIATE, re-reading the version under
 * the write lock since another process may have migrated meanwhile. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/fs.h"

/* ---- schema --------------------------------------------------------------- */

/* Migration N takes user_version N-1 to N. Append, never edit.
 *
 * JSON columns are checked by the INSERT statements (`... SELECT ... WHERE
 * json_valid(?)`), not by CHECK constraints: with trusted_schema off (the
 * file is outside input), SQLite 3.40 refuses json_valid() in the schema. */
static const char *const k_migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE sessions("
    " id TEXT PRIMARY KEY, dir TEXT NOT NULL, title TEXT NOT NULL, model TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " touch INTEGER NOT NULL,"            /* global order of last change (ms can tie) */
    " message_count INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_dir ON sessions(dir, touch);"
    "CREATE INDEX sessions_touch ON sessions(touch);"

    "CREATE TABLE messages("
    " id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),"
    " content TEXT NOT NULL,"
    " model TEXT NOT NULL, request_id TEXT NOT NULL,"
    " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    " cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,"
    " time_ms INTEGER NOT NULL, UNIQUE (session_id, seq));"

    "CREATE TABLE tool_calls("
    " id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, tool_use_id TEXT NOT NULL, name TEXT NOT NULL,"
    " input TEXT NOT NULL,"
    " result TEXT NOT NULL, result_bytes INTEGER NOT NULL, is_error INTEGER NOT NULL,"
    " duration_ms INTEGER NOT NULL, time_ms INTEGER NOT NULL);"
    "CREATE INDEX tool_calls_session ON tool_calls(session_id, id);"

    "CREATE TABLE permissions("
    " id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, tool TEXT NOT NULL, subject TEXT NOT NULL,"
    " decision TEXT NOT NULL, rule TEXT NOT NULL, source TEXT NOT NULL, time_ms INTEGER NOT NULL);"
    "CREATE INDEX permissions_session ON permissions(session_id, id);"

    "CREATE TABLE compactions("
    " id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, upto_seq INTEGER NOT NULL,"
    " summary TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL);"
    "CREATE INDEX compactions_session ON compactions(session_id, id);"

    "CREATE TABLE ledger("
    " id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, session_id TEXT NOT NULL,"
    " user TEXT NOT NULL, project TEXT NOT NULL, model TEXT NOT NULL, profile TEXT NOT NULL,"
    " region TEXT NOT NULL, api TEXT NOT NULL,"
    " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    " cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,"
    " latency_ms REAL NOT NULL, ttft_ms REAL NOT NULL, retries INTEGER NOT NULL,"
    " status TEXT NOT NULL, request_id TEXT NOT NULL, cost_usd REAL NOT NULL,"
    " cache_hit INTEGER NOT NULL, routing TEXT NOT NULL);"
    "CREATE INDEX ledger_time ON ledger(time_ms);"

    /* The rollup: one row per UTC day, project, user and model. */
    "CREATE TABLE ledger_day("
    " day INTEGER NOT NULL, project TEXT NOT NULL, user TEXT NOT NULL, model TEXT NOT NULL,"
    " calls INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    " cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,"
    " cost_usd REAL NOT NULL, cache_hits INTEGER NOT NULL, errors INTEGER NOT NULL,"
    " latency_ms REAL NOT NULL,"
    " PRIMARY KEY (day, project, user, model)) WITHOUT ROWID;"

    "CREATE TABLE cache("
    " key BLOB PRIMARY KEY,"
    " answer TEXT NOT NULL, meta TEXT NOT NULL,"
    " model TEXT NOT NULL, bytes INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
    " used_ms INTEGER NOT NULL, used_tick INTEGER NOT NULL, hits INTEGER NOT NULL);"
    "CREATE INDEX cache_lru ON cache(used_tick);"
    "CREATE INDEX cache_expiry ON cache(expires_ms);"
    "CREATE TABLE cache_stats("
    " id INTEGER PRIMARY KEY CHECK (id = 1), entries INTEGER NOT NULL, bytes INTEGER NOT NULL,"
    " hits INTEGER NOT NULL, misses INTEGER NOT NULL, evictions INTEGER NOT NULL,"
    " expirations INTEGER NOT NULL, tick INTEGER NOT NULL);"
    "INSERT INTO cache_stats VALUES(1, 0, 0, 0, 0, 0, 0, 0);"

    /* AUTOINCREMENT: ids are never reused, so a shipper deleting the ids it
     * read cannot remove an event appended after a delete emptied the table. */
    "CREATE TABLE spool(id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX spool_order ON spool(ts_ms, id);",
};
_Static_assert(BROCK_ARRAY_LEN(k_migrations) == STORE_SCHEMA_VERSION, "one migration per schema version");

/* ---- helpers shared by the store files ------------------------------------ */

int64_t store_now(const struct store *s)
{
    return clock_now_ms(s->clock);
}

enum brock_status store_dberr(struct store *s, struct brock_err *e, int rc, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return err_set(e, BROCK_ERR_IO,
                       "%s: %s: %s (the file is not a SQLite database or is damaged; move it away to start afresh)",
                       s->path, what, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return err_set(e, BROCK_ERR_IO, "%s: %s: %s (another brock held it too long)", s->path, what, msg);
    default:
        return err_set(e, BROCK_ERR_IO, "%s: %s: %s", s->path, what, msg);
    }
}

sqlite3_stmt *store_prep(struct store *s, enum store_stmt_id id, const char *sql, struct brock_err *e)
{
    sqlite3_stmt *st = s->stmt[id];
    if (BROCK_LIKELY(st != NULL))
        return st;
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        store_dberr(s, e, rc, "preparing a statement");
        return NULL;
    }
    s->stmt[id] = st;
    return st;
}

void store_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

enum brock_status store_exec(struct store *s, sqlite3_stmt *st, const char *what, struct brock_err *e)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    enum brock_status r = rc == SQLITE_DONE ? BROCK_OK : store_dberr(s, e, rc, what);
    store_done(st);
    return r;
}

enum brock_status store_tx_begin(struct store *s, const char *what, struct brock_err *e)
{
    sqlite3_stmt *st = s->batch ? store_prep(s, ST_SAVEPOINT, "SAVEPOINT store_write", e)
                                : store_prep(s, ST_BEGIN, "BEGIN IMMEDIATE", e);
    if (!st)
        return BROCK_ERR_IO;
    return store_exec(s, st, what, e);
}

enum brock_status store_tx_commit(struct store *s, const char *what, struct brock_err *e)
{
    sqlite3_stmt *st = s->batch ? store_prep(s, ST_RELEASE, "RELEASE store_write", e)
                                : store_prep(s, ST_COMMIT, "COMMIT", e);
    if (!st) {
        store_tx_rollback(s);
        return BROCK_ERR_IO;
    }
    enum brock_status r = store_exec(s, st, what, e);
    if (r != BROCK_OK)
        store_tx_rollback(s);
    return r;
}

void store_tx_rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db)) {
        /* SQLite already rolled back (e.g. after SQLITE_FULL), a batch included */
        if (s->batch)
            s->batch = false, s->batch_lost = true;
        return;
    }
    if (s->batch) {
        /* undo this write only; the savepoint stays open until released */
        sqlite3_stmt *st = store_prep(s, ST_ROLLBACK_TO, "ROLLBACK TO store_write", NULL);
        if (st)
            (void)store_exec(s, st, "rolling back", NULL);
        st = store_prep(s, ST_RELEASE, "RELEASE store_write", NULL);
        if (st)
            (void)store_exec(s, st, "rolling back", NULL);
        return;
    }
    sqlite3_stmt *st = store_prep(s, ST_ROLLBACK, "ROLLBACK", NULL);
    if (st)
        (void)store_exec(s, st, "rolling back", NULL);
}

enum brock_status store_batch_begin(struct store *s, struct brock_err *e)
{
    if (s->batch)
        return err_set(e, BROCK_ERR_USAGE, "store: a batch is already open");
    s->batch_lost = false;
    enum brock_status r = store_tx_begin(s, "starting a batch of writes", e);
    if (r == BROCK_OK)
        s->batch = true;
    return r;
}

enum brock_status store_batch_commit(struct store *s, struct brock_err *e)
{
    if (!s->batch) {
        if (s->batch_lost) {
            s->batch_lost = false;
            return err_set(e, BROCK_ERR_IO, "%s: a batch of writes was rolled back after an error (see the earlier one)",
                           s->path);
        }
        return err_set(e, BROCK_ERR_USAGE, "store: no batch is open");
    }
    s->batch = false;
    return store_tx_commit(s, "committing a batch of writes", e);
}

void store_batch_rollback(struct store *s)
{
    if (!s || !s->batch)
        return;
    s->batch = false;
    store_tx_rollback(s);
}

enum brock_status store_check_text(const char *field, const char *v, struct brock_err *e)
{
    if (v && strlen(v) > STORE_TEXT_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "store: %s is longer than %zu bytes", field, STORE_TEXT_MAX);
    return BROCK_OK;
}

char *store_col_dup(sqlite3_stmt *st, int i, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
    if (len)
        *len = n;
    return t ? xmemdup(t, n) : xstrdup("");
}

void store_col_copy(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
    if (n >= outlen)
        n = outlen - 1;
    if (n)
        memcpy(out, t, n);
    out[n] = '\0';
}

bool store_valid_session_id(const char *id)
{
    size_t i = 0;
    for (; id[i]; i++) {
        char c = id[i];
        if (i >= STORE_SESSION_ID_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
            return false;
    }
    return i == STORE_SESSION_ID_LEN;
}

/* ---- calendar ------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (eras of 400 years). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                   /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                  /* March = 0 */
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int64_t store_utc_day_start(int64_t t_ms)
{
    return floor_div(t_ms, STORE_DAY_MS) * STORE_DAY_MS;
}

int64_t store_utc_month_start(int64_t t_ms)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(floor_div(t_ms, STORE_DAY_MS), &y, &m, &d);
    return time_days_from_civil(y, m, 1) * STORE_DAY_MS;
}

void store_format_day(int64_t day, char out[16])
{
    int64_t y;
    unsigned m, d;
    /* Out-of-range days (a damaged file) print as 0000-00-00, never overflow out. */
    if (day < -700000 || day > 2900000) {
        memcpy(out, "0000-00-00", 11);
        return;
    }
    civil_from_days(day, &y, &m, &d);
    snprintf(out, 16, "%04d-%02u-%02u", (int)y, m, d);
}

/* ---- opening -------------------------------------------------------------- */

enum brock_status store_default_dir(char **out, struct brock_err *e)
{
    const char *d = getenv("BROCK_DATA_DIR");
    if (d && *d) {
        *out = fs_expand_home(d);
        return BROCK_OK;
    }
    const char *x = getenv("XDG_DATA_HOME");
    if (x && x[0] == '/') { /* the XDG spec ignores relative values */
        *out = fs_join(x, "brock");
        return BROCK_OK;
    }
    const char *home = fs_home_dir();
    if (!home)
        return err_set(e, BROCK_ERR_CONFIG, "store: no home directory to keep data in; set BROCK_DATA_DIR");
    *out = fs_join(home, ".local/share/brock");
    return BROCK_OK;
}

/* Narrow an existing file's mode to 0600 if group or others have any bit. */
static enum brock_status narrow_mode(const char *path, const struct stat *st, struct brock_err *e)
{
    if ((st->st_mode & 077) == 0)
        return BROCK_OK;
    if (chmod(path, 0600) != 0)
        return err_set(e, BROCK_ERR_IO, "%s: mode %03o lets other users read it and chmod 0600 failed: %s", path,
                       (unsigned)(st->st_mode & 0777), strerror(errno));
    return BROCK_OK;
}

/* Make sure `path` exists as a regular file of mode 0600 (or narrower). */
static enum brock_status prepare_file(const char *path, struct brock_err *e)
{
    if (mknod(path, S_IFREG | 0600, 0) == 0)
        return BROCK_OK;
    int err = errno;
    if (err != EEXIST) {
        /* Some file systems refuse mknod; O_EXCL makes the descriptor ours alone. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            close(fd);
            return BROCK_OK;
        }
        if (errno != EEXIST)
            return err_set(e, BROCK_ERR_IO, "%s: cannot create: %s", path, strerror(err));
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(e, BROCK_ERR_IO, "%s: not a regular file", path);
    enum brock_status r = narrow_mode(path, &st, e);
    /* SQLite's companions of an older, wider file. */
    static const char *const sfx[] = {"-wal", "-shm", "-journal"};
    size_t n = strlen(path);
    for (size_t i = 0; r == BROCK_OK && i < BROCK_ARRAY_LEN(sfx); i++) {
        char side[4096];
        if (n + strlen(sfx[i]) >= sizeof side)
            break;
        memcpy(side, path, n);
        memcpy(side + n, sfx[i], strlen(sfx[i]) + 1);
        if (lstat(side, &st) == 0 && S_ISREG(st.st_mode))
            r = narrow_mode(side, &st, e);
    }
    return r;
}

/* Run a pragma or script with sqlite3_exec; `out` (may be NULL) gets the first
 * column of the first row. */
struct first_row {
    char text[64];
    bool seen;
};

static int first_row_cb(void *ctx, int ncol, char **vals, char **names)
{
    (void)names;
    struct first_row *f = ctx;
    if (!f->seen && ncol > 0) {
        snprintf(f->text, sizeof f->text, "%s", vals[0] ? vals[0] : "");
        f->seen = true;
    }
    return 0;
}

static enum brock_status run_sql(struct store *s, const char *sql, struct first_row *out, const char *what,
                                 struct brock_err *e)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, out ? first_row_cb : NULL, out, &msg);
    sqlite3_free(msg); /* sqlite3_errmsg() says the same */
    return rc == SQLITE_OK ? BROCK_OK : store_dberr(s, e, rc, what);
}

static enum brock_status read_int_pragma(struct store *s, const char *sql, int64_t *v, struct brock_err *e)
{
    struct first_row f = {.seen = false};
    enum brock_status r = run_sql(s, sql, &f, "reading the schema version", e);
    if (r != BROCK_OK)
        return r;
    *v = f.seen ? strtoll(f.text, NULL, 10) : 0;
    return BROCK_OK;
}

static enum brock_status check_version(struct store *s, int64_t app, int64_t ver, struct brock_err *e)
{
    if (app != 0 && app != STORE_APPLICATION_ID)
        return err_set(e, BROCK_ERR_CONFIG,
                       "%s: not a brock database (it belongs to another application, id 0x%llx); "
                       "move it away or set BROCK_DATA_DIR",
                       s->path, (unsigned long long)app);
    if (ver > STORE_SCHEMA_VERSION)
        return err_set(e, BROCK_ERR_CONFIG,
                       "%s: database schema version %lld is newer than this brock understands (%d); "
                       "upgrade brock, or move the file away to start afresh",
                       s->path, (long long)ver, STORE_SCHEMA_VERSION);
    if (ver < 0)
        return err_set(e, BROCK_ERR_CONFIG, "%s: invalid schema version %lld", s->path, (long long)ver);
    return BROCK_OK;
}

/* brock's schema has tables and indexes only. A view or trigger in the file
 * (damage, or someone's doing) could stand in for a table or act on our
 * writes (a trigger deleting spooled events), so it is refused. */
static enum brock_status check_objects(struct store *s, struct brock_err *e)
{
    int64_t n;
    enum brock_status r =
        read_int_pragma(s, "SELECT count(*) FROM sqlite_schema WHERE type NOT IN ('table', 'index')", &n, e);
    if (r == BROCK_OK && n > 0)
        r = err_set(e, BROCK_ERR_CONFIG,
                    "%s: the schema has %lld views or triggers that brock did not create; "
                    "move the file away to start afresh",
                    s->path, (long long)n);
    return r;
}

static enum brock_status migrate(struct store *s, struct brock_err *e)
{
    int64_t app = 0, ver = 0;
    enum brock_status r = read_int_pragma(s, "PRAGMA application_id", &app, e);
    if (r == BROCK_OK)
        r = read_int_pragma(s, "PRAGMA user_version", &ver, e);
    if (r == BROCK_OK)
        r = check_version(s, app, ver, e);
    if (r != BROCK_OK || (ver == STORE_SCHEMA_VERSION && app == STORE_APPLICATION_ID))
        return r == BROCK_OK ? check_objects(s, e) : r;

    /* Under the write lock: another process may be doing the same. */
    if ((r = run_sql(s, "BEGIN IMMEDIATE", NULL, "starting the schema migration", e)) != BROCK_OK)
        return r;
    r = read_int_pragma(s, "PRAGMA application_id", &app, e);
    if (r == BROCK_OK)
        r = read_int_pragma(s, "PRAGMA user_version", &ver, e);
    if (r == BROCK_OK)
        r = check_version(s, app, ver, e);
    if (r == BROCK_OK && ver == 0) {
        int64_t objects;
        r = read_int_pragma(s, "SELECT count(*) FROM sqlite_schema", &objects, e);
        if (r == BROCK_OK && objects > 0)
            r = err_set(e, BROCK_ERR_CONFIG,
                        "%s: not a brock database (it has %lld tables or indexes but no brock schema version); "
                        "move it away or set BROCK_DATA_DIR",
                        s->path, (long long)objects);
    }
    for (int64_t v = ver; r == BROCK_OK && v < STORE_SCHEMA_VERSION; v++) {
        char what[64];
        snprintf(what, sizeof what, "migrating the schema to version %lld", (long long)(v + 1));
        r = run_sql(s, k_migrations[v], NULL, what, e);
    }
    if (r == BROCK_OK) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d", STORE_SCHEMA_VERSION,
                 STORE_APPLICATION_ID);
        r = run_sql(s, sql, NULL, "recording the schema version", e);
    }
    if (r == BROCK_OK)
        r = run_sql(s, "COMMIT", NULL, "committing the schema migration", e);
    if (r != BROCK_OK && !sqlite3_get_autocommit(s->db))
        (void)run_sql(s, "ROLLBACK", NULL, "rolling back", NULL);
    return r == BROCK_OK ? check_objects(s, e) : r;
}

static enum brock_status configure(struct store *s, const struct store_options *o, struct brock_err *e)
{
    sqlite3 *db = s->db;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, o->busy_timeout_ms > 0 ? o->busy_timeout_ms : STORE_BUSY_TIMEOUT_MS);
    /* The file is outside input: no schema tricks, no functions from it. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);

    /* Entering WAL needs a moment alone with the file; a fresh database
     * opened by several processes at once can see SQLITE_BUSY here without
     * the busy handler having run, so retry for the busy timeout. */
    struct first_row mode = {.seen = false};
    enum brock_status r;
    int64_t deadline = time_mono_ms() + (o->busy_timeout_ms > 0 ? o->busy_timeout_ms : STORE_BUSY_TIMEOUT_MS);
    for (;;) {
        char *msg = NULL;
        int rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", first_row_cb, &mode, &msg);
        sqlite3_free(msg);
        if (rc == SQLITE_OK) {
            r = BROCK_OK;
            break;
        }
        if ((rc & 0xff) != SQLITE_BUSY || time_mono_ms() > deadline)
            return store_dberr(s, e, rc, "switching to WAL mode");
        usleep(2000);
    }
    if (strcmp(mode.text, "wal") != 0)
        return err_set(e, BROCK_ERR_IO, "%s: the database refused WAL mode (journal_mode is %s)", s->path,
                       mode.text);
    r = run_sql(s,
                o->full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                NULL, "setting synchronous", e);
    if (r == BROCK_OK)
        r = run_sql(s,
                    "PRAGMA foreign_keys = OFF; PRAGMA cell_size_check = ON;"
                    "PRAGMA journal_size_limit = 8388608",
                    NULL, "configuring the connection", e);
    if (r == BROCK_OK && o->idle_checkpoints)
        sqlite3_wal_autocheckpoint(db, STORE_WAL_HARD_PAGES);
    return r;
}

enum brock_status store_checkpoint(struct store *s, int *wal_pages, int *done_pages, struct brock_err *e)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (wal_pages)
        *wal_pages = log;
    if (done_pages)
        *done_pages = done;
    /* BUSY: another checkpoint is running, which does the same job. */
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
        return store_dberr(s, e, rc, "checkpointing the WAL");
    return BROCK_OK;
}

enum brock_status store_open(const struct store_options *o, struct store **out, struct brock_err *e)
{
    static const struct store_options defaults = {0};
    if (!o)
        o = &defaults;
    *out = NULL;
    if (!sqlite3_threadsafe())
        return err_set(e, BROCK_ERR_INTERNAL, "store: this SQLite library was built without thread support");

    struct store *s = xcalloc(1, sizeof *s);
    s->clock = o->clock;
    s->cache_max_bytes = o->cache_max_bytes > 0 ? o->cache_max_bytes : STORE_CACHE_DEFAULT_MAX_BYTES;
    enum brock_status r = BROCK_OK;
    if (o->dir && *o->dir)
        s->dir = fs_expand_home(o->dir);
    else if ((r = store_default_dir(&s->dir, e)) != BROCK_OK)
        goto fail;
    s->path = fs_join(s->dir, STORE_FILE_NAME);

    struct stat st;
    if (stat(s->dir, &st) != 0) {
        if ((r = fs_mkdirs(s->dir, 0700, e)) != BROCK_OK)
            goto fail;
    } else if (!S_ISDIR(st.st_mode)) {
        r = err_set(e, BROCK_ERR_CONFIG, "%s: not a directory (the brock data directory)", s->dir);
        goto fail;
    }
    if ((r = prepare_file(s->path, e)) != BROCK_OK)
        goto fail;

    int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc != SQLITE_OK) {
        r = store_dberr(s, e, rc, "opening");
        goto fail;
    }
    if ((r = configure(s, o, e)) != BROCK_OK || (r = migrate(s, e)) != BROCK_OK)
        goto fail;
    *out = s;
    return BROCK_OK;
fail:
    store_close(s);
    return r;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db)
        sqlite3_close(s->db);
    free(s->dir);
    free(s->path);
    free(s);
}

int64_t store_clock_ms(const struct store *s)
{
    return store_now(s);
}

const char *store_path(const struct store *s)
{
    return s->path;
}

const char *store_dir(const struct store *s)
{
    return s->dir;
}
