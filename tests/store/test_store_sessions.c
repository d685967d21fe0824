/* Tests for src/store/store_sessions.c: creating and resuming sessions,
 * --continue and --resume lookups, listing, deleting, compaction, tool-call
 * and permission records, and argument checking. */
#include "../support/test.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/fs.h"

struct fclock {
    int64_t now;
};

static int64_t fnow(void *ctx)
{
    return ((struct fclock *)ctx)->now;
}

struct fixture {
    char *dir;
    struct fclock fc;
    struct clock clock;
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->fc.now = 1735689600000LL; /* 2025-01-01T00:00:00Z */
    f->clock = (struct clock){.now_ms = fnow, .ctx = &f->fc};
    struct store_options o = {.dir = f->dir, .clock = &f->clock};
    struct brock_err e = {0};
    if (store_open(&o, &f->s, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    free(f->dir);
    free(f);
    return 0;
}

static void new_session(struct store *s, const char *dir, const char *title, char id[STORE_SESSION_ID_LEN + 1])
{
    struct brock_err e = {0};
    if (store_session_create(s, dir, title, "claude-x", id, &e) != BROCK_OK)
        fail_msg("create: %s", e.msg);
}

static int64_t append(struct store *s, const char *id, const char *role, const char *content)
{
    struct brock_err e = {0};
    struct store_message m = {.role = role, .content_json = content};
    int64_t seq = 0;
    if (store_session_append(s, id, &m, &seq, &e) != BROCK_OK)
        fail_msg("append: %s", e.msg);
    return seq;
}

static bool is_uuid_v4(const char *id)
{
    if (strlen(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '4')
        return false;
    return strchr("89ab", id[19]) != NULL;
}

static void test_store_session_round_trip(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/home/u/proj", "Fix the build", id);
    assert_true(is_uuid_v4(id));

    static const char *const contents[] = {
        "\"hello\"",
        "[{\"type\":\"text\",\"text\":\"Hi\"},{\"type\":\"tool_use\",\"id\":\"tu_1\",\"name\":\"Read\","
        "\"input\":{\"path\":\"a.c\"}}]",
        "[{\"type\":\"tool_result\",\"tool_use_id\":\"tu_1\",\"content\":\"int main;\"}]",
        "[{\"type\":\"text\",\"text\":\"Done \\u00e9\\ud83d\\ude00\"}]",
    };
    for (int i = 0; i < 4; i++) {
        f->fc.now += 1000;
        struct store_message m = {
            .role = i % 2 ? "assistant" : "user",
            .content_json = contents[i],
            .model = i % 2 ? "us.anthropic.claude-sonnet-4-5-20250929-v1:0" : NULL,
            .request_id = i % 2 ? "req-1" : NULL,
            .usage = {.input_tokens = 10 * i, .output_tokens = 20 * i, .cache_read_tokens = i,
                      .cache_write_tokens = 2 * i},
        };
        int64_t seq;
        assert_int_equal(store_session_append(f->s, id, &m, &seq, &e), BROCK_OK);
        assert_int_equal(seq, i + 1);
    }
    struct store_transcript t;
    assert_int_equal(store_session_load(f->s, id, false, &t, &e), BROCK_OK);
    assert_int_equal(t.n, 4);
    assert_null(t.summary_json);
    assert_int_equal(t.summary_upto, 0);
    assert_string_equal(t.info.id, id);
    assert_string_equal(t.info.dir, "/home/u/proj");
    assert_string_equal(t.info.title, "Fix the build");
    assert_string_equal(t.info.model, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"); /* the latest model */
    assert_int_equal(t.info.message_count, 4);
    assert_int_equal(t.info.created_ms, 1735689600000LL);
    assert_int_equal(t.info.updated_ms, 1735689604000LL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t.messages[i].seq, i + 1);
        assert_string_equal(t.messages[i].role, i % 2 ? "assistant" : "user");
        assert_string_equal(t.messages[i].content_json, contents[i]);
        assert_string_equal(t.messages[i].request_id, i % 2 ? "req-1" : "");
        assert_int_equal(t.messages[i].usage.input_tokens, 10 * i);
        assert_int_equal(t.messages[i].usage.output_tokens, 20 * i);
        assert_int_equal(t.messages[i].usage.cache_read_tokens, i);
        assert_int_equal(t.messages[i].usage.cache_write_tokens, 2 * i);
        assert_int_equal(t.messages[i].time_ms, 1735689600000LL + 1000 * (i + 1));
        assert_false(t.messages[i].summarised);
    }
    store_transcript_cleanup(&t);
    store_transcript_cleanup(&t); /* twice is fine */
}

static void test_store_session_bad_arguments(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/p", "t", id);
    append(f->s, id, "user", "\"one\"");

    /* invalid JSON: refused, named, not quoted (it may hold anything) */
    struct store_message m = {.role = "user", .content_json = "{\"key\": \"SECRET-VALUE-123\""};
    assert_int_equal(store_session_append(f->s, id, &m, NULL, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "content is not valid JSON"));
    assert_null(strstr(e.msg, "SECRET-VALUE-123"));
    m.content_json = "";
    assert_int_equal(store_session_append(f->s, id, &m, NULL, &e), BROCK_ERR_USAGE);
    m.content_json = "\"ok\"";
    m.role = "system";
    assert_int_equal(store_session_append(f->s, id, &m, NULL, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "role"));
    m.role = "user";
    assert_int_equal(store_session_append(f->s, "not-an-id", &m, NULL, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "not-an-id"));
    assert_int_equal(store_session_append(f->s, "00000000-0000-4000-8000-000000000000", &m, NULL, &e),
                     BROCK_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "00000000-0000-4000-8000-000000000000"));
    char *longtitle = xmalloc(STORE_TEXT_MAX + 2);
    memset(longtitle, 'a', STORE_TEXT_MAX + 1);
    longtitle[STORE_TEXT_MAX + 1] = '\0';
    char id2[STORE_SESSION_ID_LEN + 1];
    assert_int_equal(store_session_create(f->s, "/p", longtitle, NULL, id2, &e), BROCK_ERR_TOO_LARGE);
    assert_int_equal(store_session_create(f->s, "", "t", NULL, id2, &e), BROCK_ERR_USAGE);
    free(longtitle);

    /* none of the refused appends left a trace */
    struct store_transcript t;
    assert_int_equal(store_session_load(f->s, id, true, &t, &e), BROCK_OK);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.info.message_count, 1);
    store_transcript_cleanup(&t);
    assert_int_equal(append(f->s, id, "assistant", "\"two\""), 2);
}

static void test_store_session_continue_picks_latest(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char a[STORE_SESSION_ID_LEN + 1], b[STORE_SESSION_ID_LEN + 1], c[STORE_SESSION_ID_LEN + 1];
    char got[STORE_SESSION_ID_LEN + 1];
    /* The clock stands still: order must come from the change order, not ms. */
    new_session(f->s, "/x", "a", a);
    new_session(f->s, "/y", "b", b);
    new_session(f->s, "/x", "c", c);
    assert_int_equal(store_session_latest(f->s, "/x", got, &e), BROCK_OK);
    assert_string_equal(got, c);
    append(f->s, a, "user", "\"back to a\"");
    assert_int_equal(store_session_latest(f->s, "/x", got, &e), BROCK_OK);
    assert_string_equal(got, a);
    assert_int_equal(store_session_latest(f->s, "/y", got, &e), BROCK_OK);
    assert_string_equal(got, b);
    /* a tool call or permission decision also counts as activity */
    struct store_permission p = {.tool = "Bash", .subject = "make", .decision = "allow"};
    assert_int_equal(store_session_permission(f->s, c, &p, &e), BROCK_OK);
    assert_int_equal(store_session_latest(f->s, "/x", got, &e), BROCK_OK);
    assert_string_equal(got, c);
    /* renaming does not */
    assert_int_equal(store_session_set_title(f->s, a, "renamed", &e), BROCK_OK);
    assert_int_equal(store_session_latest(f->s, "/x", got, &e), BROCK_OK);
    assert_string_equal(got, c);
    assert_int_equal(store_session_latest(f->s, "/z", got, &e), BROCK_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "/z"));
    /* a directory is matched exactly, not as a prefix */
    assert_int_equal(store_session_latest(f->s, "/", got, &e), BROCK_ERR_NOT_FOUND);
}

static void test_store_session_list(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char a[STORE_SESSION_ID_LEN + 1], b[STORE_SESSION_ID_LEN + 1], c[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/x", "a", a);
    f->fc.now += 10;
    new_session(f->s, "/y", "b", b);
    f->fc.now += 10;
    new_session(f->s, "/x", "c", c);
    f->fc.now += 10;
    append(f->s, a, "user", "\"1\"");
    append(f->s, a, "assistant", "\"2\"");
    append(f->s, b, "user", "\"1\"");
    /* cost comes from the ledger rows naming the session */
    struct store_ledger_row r1 = {.session_id = a, .status = "ok", .cost_usd = 0.25};
    struct store_ledger_row r2 = {.session_id = a, .status = "ok", .cost_usd = 0.5};
    struct store_ledger_row r3 = {.session_id = "ffffffff-0000-4000-8000-000000000000", .status = "ok", .cost_usd = 9};
    assert_int_equal(store_ledger_insert(f->s, &r1, NULL, &e), BROCK_OK);
    assert_int_equal(store_ledger_insert(f->s, &r2, NULL, &e), BROCK_OK);
    assert_int_equal(store_ledger_insert(f->s, &r3, NULL, &e), BROCK_OK); /* no such session: fine */

    struct store_session_list l;
    assert_int_equal(store_session_list(f->s, NULL, 0, &l, &e), BROCK_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].id, b); /* most recent first */
    assert_string_equal(l.items[1].id, a);
    assert_string_equal(l.items[2].id, c);
    assert_int_equal(l.items[0].message_count, 1);
    assert_int_equal(l.items[1].message_count, 2);
    assert_int_equal(l.items[2].message_count, 0);
    assert_true(l.items[1].cost_usd == 0.75);
    assert_true(l.items[0].cost_usd == 0);
    assert_string_equal(l.items[1].dir, "/x");
    assert_string_equal(l.items[1].title, "a");
    assert_int_equal(l.items[2].created_ms, 1735689600020LL);
    store_session_list_free(&l);

    assert_int_equal(store_session_list(f->s, "/x", 0, &l, &e), BROCK_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].id, a);
    assert_string_equal(l.items[1].id, c);
    store_session_list_free(&l);
    assert_int_equal(store_session_list(f->s, NULL, 1, &l, &e), BROCK_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].id, b);
    store_session_list_free(&l);
    assert_int_equal(store_session_list(f->s, "/none", 0, &l, &e), BROCK_OK);
    assert_int_equal(l.n, 0);
    store_session_list_free(&l);
}

/* Insert a session with a chosen id straight into the file. */
static void raw_session(const char *dir, const char *id)
{
    char *path = fs_join(dir, STORE_FILE_NAME);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO sessions(id, dir, title, model, created_ms, updated_ms, touch)"
             " VALUES('%s', '/raw', '', '', 1, 1, 1000 + (SELECT count(*) FROM sessions))",
             id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(path);
}

static void test_store_session_find_prefix(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char got[STORE_SESSION_ID_LEN + 1];
    raw_session(f->dir, "abcd1111-0000-4000-8000-000000000001");
    raw_session(f->dir, "abcd2222-0000-4000-8000-000000000002");
    raw_session(f->dir, "abce0000-0000-4000-8000-000000000003");
    assert_int_equal(store_session_find(f->s, "abcd1", got, &e), BROCK_OK);
    assert_string_equal(got, "abcd1111-0000-4000-8000-000000000001");
    assert_int_equal(store_session_find(f->s, "ABCD2", got, &e), BROCK_OK); /* any case */
    assert_string_equal(got, "abcd2222-0000-4000-8000-000000000002");
    assert_int_equal(store_session_find(f->s, "abce0000-0000-4000-8000-000000000003", got, &e), BROCK_OK);
    assert_string_equal(got, "abce0000-0000-4000-8000-000000000003");
    assert_int_equal(store_session_find(f->s, "abcd", got, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "ambiguous"));
    assert_int_equal(store_session_find(f->s, "abcf", got, &e), BROCK_ERR_NOT_FOUND);
    assert_int_equal(store_session_find(f->s, "abc", got, &e), BROCK_ERR_USAGE); /* too short */
    assert_int_equal(store_session_find(f->s, "abcd'--", got, &e), BROCK_ERR_USAGE);
    assert_int_equal(store_session_find(f->s, "abcd%", got, &e), BROCK_ERR_USAGE);
    assert_int_equal(store_session_find(f->s, NULL, got, &e), BROCK_ERR_USAGE);
}

static void test_store_session_delete(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char a[STORE_SESSION_ID_LEN + 1], b[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/x", "a", a);
    new_session(f->s, "/x", "b", b);
    append(f->s, a, "user", "\"1\"");
    append(f->s, b, "user", "\"1\"");
    struct store_tool_call t = {.name = "Read", .input_json = "{}", .result = "r", .result_len = 1};
    assert_int_equal(store_session_tool_call(f->s, a, &t, &e), BROCK_OK);
    struct store_permission p = {.tool = "Read", .decision = "allow"};
    assert_int_equal(store_session_permission(f->s, a, &p, &e), BROCK_OK);
    assert_int_equal(store_session_compact(f->s, a, 1, "\"sum\"", &e), BROCK_OK);
    struct store_ledger_row r = {.session_id = a, .status = "ok", .cost_usd = 1.5};
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_OK);

    assert_int_equal(store_session_delete(f->s, a, &e), BROCK_OK);
    struct store_transcript tr;
    assert_int_equal(store_session_load(f->s, a, true, &tr, &e), BROCK_ERR_NOT_FOUND);
    assert_int_equal(store_session_delete(f->s, a, &e), BROCK_ERR_NOT_FOUND);
    struct store_tool_call_list tl;
    assert_int_equal(store_session_tool_calls(f->s, a, &tl, &e), BROCK_ERR_NOT_FOUND);
    /* the other session is intact; the spend history is kept */
    assert_int_equal(store_session_load(f->s, b, true, &tr, &e), BROCK_OK);
    assert_int_equal(tr.n, 1);
    store_transcript_cleanup(&tr);
    double usd;
    assert_int_equal(store_ledger_spend(f->s, NULL, &usd, &e), BROCK_OK);
    assert_true(usd == 1.5);
    /* no orphans left in the file */
    char *path = fs_join(f->dir, STORE_FILE_NAME);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM messages WHERE session_id = ?1)"
                                        " + (SELECT count(*) FROM tool_calls WHERE session_id = ?1)"
                                        " + (SELECT count(*) FROM permissions WHERE session_id = ?1)"
                                        " + (SELECT count(*) FROM compactions WHERE session_id = ?1)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
}

static void test_store_session_compaction(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/x", "a", id);
    char c[32];
    for (int i = 1; i <= 6; i++) {
        snprintf(c, sizeof c, "\"m%d\"", i);
        append(f->s, id, i % 2 ? "user" : "assistant", c);
    }
    const char *sum1 = "[{\"type\":\"text\",\"text\":\"summary of 1-4\"}]";
    assert_int_equal(store_session_compact(f->s, id, 4, sum1, &e), BROCK_OK);
    struct store_transcript t;
    assert_int_equal(store_session_load(f->s, id, false, &t, &e), BROCK_OK);
    assert_string_equal(t.summary_json, sum1);
    assert_int_equal(t.summary_upto, 4);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.messages[0].seq, 5);
    assert_string_equal(t.messages[0].content_json, "\"m5\"");
    assert_int_equal(t.messages[1].seq, 6);
    store_transcript_cleanup(&t);

    assert_int_equal(store_session_load(f->s, id, true, &t, &e), BROCK_OK);
    assert_int_equal(t.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(t.messages[i].summarised, i < 4);
    store_transcript_cleanup(&t);

    /* not backwards, not past the end, not zero; JSON only */
    assert_int_equal(store_session_compact(f->s, id, 3, "\"x\"", &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "4 already"));
    assert_int_equal(store_session_compact(f->s, id, 7, "\"x\"", &e), BROCK_ERR_USAGE);
    assert_int_equal(store_session_compact(f->s, id, 0, "\"x\"", &e), BROCK_ERR_USAGE);
    assert_int_equal(store_session_compact(f->s, id, 5, "not json", &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "summary is not valid JSON"));

    assert_int_equal(store_session_compact(f->s, id, 6, "\"summary of 1-6\"", &e), BROCK_OK);
    append(f->s, id, "user", "\"m7\"");
    assert_int_equal(store_session_load(f->s, id, false, &t, &e), BROCK_OK);
    assert_string_equal(t.summary_json, "\"summary of 1-6\"");
    assert_int_equal(t.n, 1);
    assert_int_equal(t.messages[0].seq, 7);
    store_transcript_cleanup(&t);
}

static void test_store_session_tool_calls(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/x", "a", id);

    /* A result over the cap whose cut falls inside a 3-byte UTF-8 character. */
    size_t n = STORE_TOOL_RESULT_MAX + 100;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    size_t at = STORE_TOOL_RESULT_MAX - 1; /* "€" = e2 82 ac across the cap */
    big[at] = (char)0xe2;
    big[at + 1] = (char)0x82;
    big[at + 2] = (char)0xac;
    struct store_tool_call t1 = {.tool_use_id = "tu_1", .name = "Bash", .input_json = "{\"command\":\"ls\"}",
                                 .result = big, .result_len = n, .is_error = false, .duration_ms = 42};
    assert_int_equal(store_session_tool_call(f->s, id, &t1, &e), BROCK_OK);
    struct store_tool_call t2 = {.name = "Edit", .input_json = "{}", .result = "no such file", .result_len = 12,
                                 .is_error = true, .duration_ms = 3, .time_ms = 5};
    assert_int_equal(store_session_tool_call(f->s, id, &t2, &e), BROCK_OK);
    struct store_tool_call bad = {.name = "Edit", .input_json = "{", .result = "", .result_len = 0};
    assert_int_equal(store_session_tool_call(f->s, id, &bad, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "input is not valid JSON"));
    bad.input_json = "{}";
    bad.name = NULL;
    assert_int_equal(store_session_tool_call(f->s, id, &bad, &e), BROCK_ERR_USAGE);
    assert_int_equal(store_session_tool_call(f->s, "00000000-0000-4000-8000-000000000000", &t2, &e),
                     BROCK_ERR_NOT_FOUND);

    struct store_tool_call_list l;
    assert_int_equal(store_session_tool_calls(f->s, id, &l, &e), BROCK_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].tool_use_id, "tu_1");
    assert_string_equal(l.items[0].name, "Bash");
    assert_string_equal(l.items[0].input_json, "{\"command\":\"ls\"}");
    assert_int_equal(l.items[0].result_len, at); /* cut before the character */
    assert_memory_equal(l.items[0].result, big, at);
    assert_int_equal(l.items[0].result_full, n);
    assert_false(l.items[0].is_error);
    assert_int_equal(l.items[0].duration_ms, 42);
    assert_int_equal(l.items[0].time_ms, f->fc.now);
    assert_string_equal(l.items[1].tool_use_id, "");
    assert_string_equal(l.items[1].result, "no such file");
    assert_int_equal(l.items[1].result_full, 12);
    assert_true(l.items[1].is_error);
    assert_int_equal(l.items[1].time_ms, 5);
    store_tool_call_list_free(&l);
    free(big);
}

static void test_store_session_permissions(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/x", "a", id);
    struct store_permission p1 = {.tool = "Bash", .subject = "git diff", .decision = "allow",
                                  .rule = "Bash(git diff:*)", .source = "/x/.brock/settings.json"};
    struct store_permission p2 = {.tool = "Edit", .subject = "/etc/passwd", .decision = "deny", .source = "user"};
    assert_int_equal(store_session_permission(f->s, id, &p1, &e), BROCK_OK);
    f->fc.now += 7;
    assert_int_equal(store_session_permission(f->s, id, &p2, &e), BROCK_OK);
    struct store_permission bad = {.tool = "Edit"};
    assert_int_equal(store_session_permission(f->s, id, &bad, &e), BROCK_ERR_USAGE);

    struct store_permission_list l;
    assert_int_equal(store_session_permissions(f->s, id, &l, &e), BROCK_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].tool, "Bash");
    assert_string_equal(l.items[0].subject, "git diff");
    assert_string_equal(l.items[0].decision, "allow");
    assert_string_equal(l.items[0].rule, "Bash(git diff:*)");
    assert_string_equal(l.items[0].source, "/x/.brock/settings.json");
    assert_string_equal(l.items[1].decision, "deny");
    assert_string_equal(l.items[1].rule, "");
    assert_int_equal(l.items[1].time_ms - l.items[0].time_ms, 7);
    store_permission_list_free(&l);

    struct store_session_info info;
    assert_int_equal(store_session_info(f->s, id, &info, &e), BROCK_OK);
    assert_int_equal(info.updated_ms, f->fc.now);
    store_session_info_cleanup(&info);
}

static void test_store_session_title(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    char id[STORE_SESSION_ID_LEN + 1];
    new_session(f->s, "/x", NULL, id);
    struct store_session_info info;
    assert_int_equal(store_session_info(f->s, id, &info, &e), BROCK_OK);
    assert_string_equal(info.title, "");
    store_session_info_cleanup(&info);
    assert_int_equal(store_session_set_title(f->s, id, "Refactor the parser", &e), BROCK_OK);
    assert_int_equal(store_session_info(f->s, id, &info, &e), BROCK_OK);
    assert_string_equal(info.title, "Refactor the parser");
    store_session_info_cleanup(&info);
    assert_int_equal(store_session_set_title(f->s, "11111111-1111-4111-8111-111111111111", "x", &e),
                     BROCK_ERR_NOT_FOUND);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_session_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_continue_picks_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_find_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_tool_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_session_title, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_sessions", tests, NULL, NULL);
}
