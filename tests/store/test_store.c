/* Tests for src/store/store.c: where the database lives, file modes,
 * migrations, refusing files that are not ours, damaged files, locking,
 * threads, and the UTC calendar helpers. */
#include "../support/test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/fs.h"
#include "../../src/util/timeutil.h"

static struct store *open_dir(const char *dir)
{
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&o, &s, &e) != BROCK_OK)
        fail_msg("store_open(%s): %s", dir, e.msg);
    return s;
}

static char *db_path(const char *dir)
{
    return fs_join(dir, STORE_FILE_NAME);
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return (unsigned)(st.st_mode & 07777);
}

/* Run SQL on the file with SQLite directly (to set up what brock must refuse). */
static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("raw sql %s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void append_something(struct store *s)
{
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    assert_int_equal(store_session_create(s, "/w", "t", "m", id, &e), BROCK_OK);
    struct store_message m = {.role = "user", .content_json = "\"hello\""};
    assert_int_equal(store_session_append(s, id, &m, NULL, &e), BROCK_OK);
    assert_int_equal(store_spool_append(s, 0, "event", 5, NULL, &e), BROCK_OK);
}

static void test_store_files_created_private(void **state)
{
    (void)state;
    char *tmp = test_tmpdir();
    char *parent = fs_join(tmp, "share");
    char *dir = fs_join(parent, "brock");
    mode_t old = umask(0); /* the modes must not depend on the umask */
    struct store *s = open_dir(dir);
    append_something(s);
    char *db = db_path(dir);
    char wal[4200], shm[4200];
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(shm, sizeof shm, "%s-shm", db);
    /* while open, WAL and SHM exist */
    assert_true(fs_exists(wal));
    assert_true(fs_exists(shm));
    assert_int_equal(mode_of(dir), 0700);
    assert_int_equal(mode_of(db), 0600);
    assert_int_equal(mode_of(wal), 0600);
    assert_int_equal(mode_of(shm), 0600);
    assert_string_equal(store_path(s), db);
    assert_string_equal(store_dir(s), dir);
    store_close(s);
    umask(old);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(db, "PRAGMA application_id"), STORE_APPLICATION_ID);
    /* journal_mode is persistent for WAL: a fresh connection sees it */
    sqlite3 *raw = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(raw);
    free(db);
    free(dir);
    free(parent);
    free(tmp);
}

static void test_store_wide_file_narrowed(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    {
        struct store *s = open_dir(dir);
        append_something(s);
        store_close(s);
    }
    assert_int_equal(chmod(db, 0644), 0);
    struct store *s = open_dir(dir);
    assert_int_equal(mode_of(db), 0600);
    append_something(s);
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", db);
    assert_int_equal(mode_of(wal), 0600);
    store_close(s);
    free(db);
    free(dir);
}

static void test_store_default_dir_from_env(void **state)
{
    (void)state;
    char *d = NULL;
    const char *home = getenv("HOME");
    assert_non_null(home);
    setenv("BROCK_DATA_DIR", "/srv/brock-data", 1);
    assert_int_equal(store_default_dir(&d, NULL), BROCK_OK);
    assert_string_equal(d, "/srv/brock-data");
    free(d);
    unsetenv("BROCK_DATA_DIR");
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    assert_int_equal(store_default_dir(&d, NULL), BROCK_OK);
    assert_string_equal(d, "/xdg/data/brock");
    free(d);
    setenv("XDG_DATA_HOME", "relative/data", 1); /* ignored, as the XDG spec says */
    assert_int_equal(store_default_dir(&d, NULL), BROCK_OK);
    char want[4200];
    snprintf(want, sizeof want, "%s/.local/share/brock", home);
    assert_string_equal(d, want);
    free(d);
    unsetenv("XDG_DATA_HOME");

    /* store_open with no dir uses it */
    char *tmp = test_tmpdir();
    char *env_dir = fs_join(tmp, "from-env");
    setenv("BROCK_DATA_DIR", env_dir, 1);
    struct store *s = NULL;
    struct brock_err e = {0};
    assert_int_equal(store_open(NULL, &s, &e), BROCK_OK);
    assert_string_equal(store_dir(s), env_dir);
    store_close(s);
    unsetenv("BROCK_DATA_DIR");
    free(env_dir);
    free(tmp);
}

static void test_store_reopen_keeps_data(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    struct store *s = open_dir(dir);
    assert_int_equal(store_session_create(s, "/proj", "first", "m", id, &e), BROCK_OK);
    store_close(s);
    s = open_dir(dir);
    struct store_session_info info;
    assert_int_equal(store_session_info(s, id, &info, &e), BROCK_OK);
    assert_string_equal(info.title, "first");
    store_session_info_cleanup(&info);
    store_close(s);
    char *db = db_path(dir);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    free(db);
    free(dir);
}

static void test_store_empty_sqlite_file_migrated(void **state)
{
    (void)state;
    /* a valid but empty SQLite database (version 0, no tables) is taken over */
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    raw_sql(db, "PRAGMA user_version = 0");
    struct store *s = open_dir(dir);
    append_something(s);
    store_close(s);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    free(db);
    free(dir);
}

static void test_store_newer_schema_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    store_close(open_dir(dir));
    raw_sql(db, "PRAGMA user_version = 999");
    struct store_options o = {.dir = dir};
    struct store *s = (struct store *)1;
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &s, &e), BROCK_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(e.msg, db));
    assert_non_null(strstr(e.msg, "schema version 999 is newer"));
    /* the file is left as it was */
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 999);
    free(db);
    free(dir);
}

static void test_store_foreign_database_refused(void **state)
{
    (void)state;
    struct brock_err e = {0};
    struct store *s = NULL;
    /* another application's tables, no version */
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    raw_sql(db, "CREATE TABLE photos(id INTEGER PRIMARY KEY, path TEXT)");
    struct store_options o = {.dir = dir};
    assert_int_equal(store_open(&o, &s, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, db));
    assert_non_null(strstr(e.msg, "not a brock database"));
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema"), 1); /* untouched */
    free(db);
    free(dir);

    /* another application's id */
    dir = test_tmpdir();
    db = db_path(dir);
    raw_sql(db, "PRAGMA application_id = 1234");
    o.dir = dir;
    assert_int_equal(store_open(&o, &s, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "another application"));
    free(db);
    free(dir);
}

static void test_store_trigger_refused(void **state)
{
    (void)state;
    /* a trigger that would silently drop spooled audit events */
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    store_close(open_dir(dir));
    raw_sql(db, "CREATE TRIGGER eat AFTER INSERT ON spool BEGIN DELETE FROM spool; END");
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &s, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, db));
    assert_non_null(strstr(e.msg, "views or triggers"));
    free(db);
    free(dir);
}

static void test_store_not_sqlite_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)("this is not a database\n"[i % 23]);
    junk[sizeof junk - 1] = '\0';
    test_write_file(db, junk);
    chmod(db, 0600);
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &s, &e), BROCK_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(e.msg, db));
    assert_non_null(strstr(e.msg, "not a SQLite database or is damaged"));
    free(db);
    free(dir);
}

/* Overwrite [off, off + n) of a file with a byte pattern. */
static void scribble(const char *path, long off, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    char *junk = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        junk[i] = (char)(0x5a ^ (i * 131));
    assert_int_equal(pwrite(fd, junk, n, off), (ssize_t)n);
    close(fd);
    free(junk);
}

static void test_store_damaged_schema_page(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    {
        struct store *s = open_dir(dir);
        append_something(s);
        store_close(s); /* checkpoints: everything is in the main file */
    }
    scribble(db, 100, 3996); /* page 1 after the header: the schema table */
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &s, &e), BROCK_ERR_IO);
    assert_non_null(strstr(e.msg, db));
    assert_non_null(strstr(e.msg, "damaged"));
    free(db);
    free(dir);
}

static void test_store_damaged_data_pages(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    char id[STORE_SESSION_ID_LEN + 1];
    struct brock_err e = {0};
    {
        struct store *s = open_dir(dir);
        assert_int_equal(store_session_create(s, "/w", "t", "m", id, &e), BROCK_OK);
        char big[3000];
        memset(big, 'x', sizeof big);
        big[0] = '"';
        big[sizeof big - 2] = '"';
        big[sizeof big - 1] = '\0';
        for (int i = 0; i < 40; i++) {
            struct store_message m = {.role = "user", .content_json = big};
            assert_int_equal(store_session_append(s, id, &m, NULL, &e), BROCK_OK);
            assert_int_equal(store_spool_append(s, 0, big, sizeof big - 1, NULL, &e), BROCK_OK);
        }
        store_close(s);
    }
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    /* Leave the schema page alone; damage everything from page 2 on. */
    scribble(db, 4096, (size_t)st.st_size - 4096);
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    enum brock_status r = store_open(&o, &s, &e);
    if (r != BROCK_OK) {
        assert_int_equal(r, BROCK_ERR_IO);
        assert_non_null(strstr(e.msg, db));
    } else {
        /* Every call either works or says which file is damaged; none crashes. */
        int failures = 0;
        struct store_transcript t;
        r = store_session_load(s, id, true, &t, &e);
        if (r == BROCK_OK)
            store_transcript_cleanup(&t);
        else
            failures += r == BROCK_ERR_IO && strstr(e.msg, db) ? 1 : 100;
        struct store_spool_batch b;
        r = store_spool_read(s, NULL, &b, &e);
        if (r == BROCK_OK)
            store_spool_batch_free(&b);
        else
            failures += r == BROCK_ERR_IO && strstr(e.msg, db) ? 1 : 100;
        struct store_message m = {.role = "user", .content_json = "1"};
        r = store_session_append(s, id, &m, NULL, &e);
        if (r != BROCK_OK)
            failures += (r == BROCK_ERR_IO || r == BROCK_ERR_NOT_FOUND) ? 1 : 100;
        store_close(s);
        assert_true(failures > 0 && failures < 100);
    }
    free(db);
    free(dir);
}

static void test_store_data_dir_is_a_file(void **state)
{
    (void)state;
    char *tmp = test_tmpdir();
    char *f = fs_join(tmp, "file");
    test_write_file(f, "x");
    struct store_options o = {.dir = f};
    struct store *s = NULL;
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &s, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, f));
    assert_non_null(strstr(e.msg, "not a directory"));
    free(f);
    free(tmp);
}

static void test_store_busy_timeout(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *db = db_path(dir);
    store_close(open_dir(dir));
    /* another writer holds the write lock */
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct store_options o = {.dir = dir, .busy_timeout_ms = 150};
    struct store *s = NULL;
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &s, &e), BROCK_OK); /* reading is fine in WAL */
    int64_t t0 = time_mono_ms();
    assert_int_equal(store_spool_append(s, 0, "x", 1, NULL, &e), BROCK_ERR_IO);
    int64_t waited = time_mono_ms() - t0;
    assert_true(waited >= 100);
    assert_non_null(strstr(e.msg, db));
    assert_non_null(strstr(e.msg, "locked"));
    assert_int_equal(sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(store_spool_append(s, 0, "x", 1, NULL, &e), BROCK_OK);
    store_close(s);
    free(db);
    free(dir);
}

/* Write about n pages into the WAL (one 3000-byte event each, plus index). */
static void fill_wal(struct store *s, int n)
{
    char ev[3000];
    memset(ev, 'w', sizeof ev);
    for (int i = 0; i < n; i++)
        assert_int_equal(store_spool_append(s, i + 1, ev, sizeof ev, NULL, NULL), BROCK_OK);
}

static void test_store_idle_checkpoints(void **state)
{
    (void)state;
    struct brock_err e = {0};
    int wal, done;
    /* default: SQLite checkpoints inside a commit once the WAL passes 1000
     * pages, and the WAL starts over, so it never holds all 1500 writes */
    char *dir = test_tmpdir();
    struct store *s = open_dir(dir);
    fill_wal(s, 1500);
    assert_int_equal(store_checkpoint(s, &wal, &done, &e), BROCK_OK);
    assert_true(wal > 0 && wal < 1500);
    store_close(s);
    free(dir);

    /* idle_checkpoints: nothing is copied until store_checkpoint */
    dir = test_tmpdir();
    struct store_options o = {.dir = dir, .idle_checkpoints = true};
    assert_int_equal(store_open(&o, &s, &e), BROCK_OK);
    fill_wal(s, 1500);
    assert_int_equal(store_checkpoint(s, &wal, &done, &e), BROCK_OK);
    assert_true(wal >= 1500);
    assert_int_equal(done, wal);
    /* the next write starts the WAL over: it is small again */
    fill_wal(s, 10);
    assert_int_equal(store_checkpoint(s, &wal, &done, &e), BROCK_OK);
    assert_true(wal < 100);
    int64_t n, bytes;
    assert_int_equal(store_spool_count(s, &n, &bytes, &e), BROCK_OK);
    assert_int_equal(n, 1510);
    store_close(s);
    free(dir);
}

struct thread_arg {
    const char *dir;
    int which;
    int n;
    int failures;
};

static void *appender(void *p)
{
    struct thread_arg *a = p;
    struct store *s = NULL;
    struct store_options o = {.dir = a->dir};
    if (store_open(&o, &s, NULL) != BROCK_OK) {
        a->failures = a->n;
        return NULL;
    }
    for (int i = 0; i < a->n; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "t%d-%d", a->which, i);
        if (store_spool_append(s, 1000 + i, msg, (size_t)len, NULL, NULL) != BROCK_OK)
            a->failures++;
    }
    store_close(s);
    return NULL;
}

static void test_store_handle_per_thread(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    store_close(open_dir(dir));
    struct thread_arg args[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (struct thread_arg){.dir = dir, .which = i, .n = 200};
        assert_int_equal(pthread_create(&th[i], NULL, appender, &args[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    struct store *s = open_dir(dir);
    int64_t n, bytes;
    assert_int_equal(store_spool_count(s, &n, &bytes, NULL), BROCK_OK);
    assert_int_equal(n, 600);
    store_close(s);
    free(dir);
}

static void test_store_calendar_utc(void **state)
{
    (void)state;
    /* Reference values from Python's datetime (UTC). */
    const struct {
        int64_t t, day, month;
        const char *date;
    } v[] = {
        {1709251199999LL, 1709164800000LL, 1706745600000LL, "2024-02-29"}, /* leap day, last ms */
        {1709251200000LL, 1709251200000LL, 1709251200000LL, "2024-03-01"},
        {951825600000LL, 951782400000LL, 949363200000LL, "2000-02-29"},   /* 400-year leap */
        {4107542399999LL, 4107456000000LL, 4105123200000LL, "2100-02-28"}, /* 2100 is not leap */
        {1767225599999LL, 1767139200000LL, 1764547200000LL, "2025-12-31"},
        {1767225600000LL, 1767225600000LL, 1767225600000LL, "2026-01-01"},
        {0, 0, 0, "1970-01-01"},
        {-1, -86400000LL, -2678400000LL, "1969-12-31"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_int_equal(store_utc_day_start(v[i].t), v[i].day);
        assert_int_equal(store_utc_month_start(v[i].t), v[i].month);
        char d[16];
        store_format_day(store_utc_day_start(v[i].t) / STORE_DAY_MS, d);
        assert_string_equal(d, v[i].date);
    }
    char d[16];
    store_format_day(INT64_MAX, d); /* out of range (a damaged file) */
    assert_string_equal(d, "0000-00-00");
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_files_created_private),
        cmocka_unit_test(test_store_wide_file_narrowed),
        cmocka_unit_test(test_store_default_dir_from_env),
        cmocka_unit_test(test_store_reopen_keeps_data),
        cmocka_unit_test(test_store_empty_sqlite_file_migrated),
        cmocka_unit_test(test_store_newer_schema_refused),
        cmocka_unit_test(test_store_foreign_database_refused),
        cmocka_unit_test(test_store_trigger_refused),
        cmocka_unit_test(test_store_not_sqlite_file),
        cmocka_unit_test(test_store_damaged_schema_page),
        cmocka_unit_test(test_store_damaged_data_pages),
        cmocka_unit_test(test_store_data_dir_is_a_file),
        cmocka_unit_test(test_store_busy_timeout),
        cmocka_unit_test(test_store_idle_checkpoints),
        cmocka_unit_test(test_store_handle_per_thread),
        cmocka_unit_test(test_store_calendar_utc),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
