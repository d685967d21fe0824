/* fuzz_store_db.c - the store's outside input is its database file: a file
 * damaged by a crash of the disk, truncated, written by another program or
 * by a newer brock. The input is taken as the whole brock.db; the target
 * opens it and runs every read the CLI and agent make, then a few writes
 * (which exercise rollback on damaged pages and the cache's eviction loop on
 * counters that disagree with the entries).
 *
 * Invariants: no crash, leak or sanitizer report; every call returns a status;
 * a failed call leaves a message naming the database file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/store/store.h"
#include "../src/util/alloc.h"
#include "../src/util/fs.h"

static char *g_dir, *g_db, *g_wal, *g_shm;

static void cleanup(void)
{
    unlink(g_db);
    unlink(g_wal);
    unlink(g_shm);
    rmdir(g_dir);
}

static void init(void)
{
    if (g_dir)
        return;
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/brock-fuzz-store.XXXXXX", t && *t ? t : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d)
        abort();
    g_dir = xstrdup(d);
    g_db = fs_join(g_dir, STORE_FILE_NAME);
    size_t n = strlen(g_db) + 5;
    g_wal = xmalloc(n);
    g_shm = xmalloc(n);
    snprintf(g_wal, n, "%s-wal", g_db);
    snprintf(g_shm, n, "%s-shm", g_db);
    atexit(cleanup);
}

/* Every failure must name the file. */
static void check(enum brock_status r, const struct brock_err *e)
{
    if (r != BROCK_OK && (r == BROCK_ERR_IO || r == BROCK_ERR_CONFIG) && !strstr(e->msg, g_db))
        abort();
}

static void reads(struct store *s)
{
    struct brock_err e = {0};
    struct store_session_list l;
    enum brock_status r = store_session_list(s, NULL, 8, &l, &e);
    check(r, &e);
    for (size_t i = 0; r == BROCK_OK && i < l.n; i++) {
        const char *id = l.items[i].id;
        struct store_transcript t;
        check(store_session_load(s, id, i % 2 == 0, &t, &e), &e);
        store_transcript_cleanup(&t);
        struct store_tool_call_list tc;
        check(store_session_tool_calls(s, id, &tc, &e), &e);
        store_tool_call_list_free(&tc);
        struct store_permission_list pl;
        check(store_session_permissions(s, id, &pl, &e), &e);
        store_permission_list_free(&pl);
        char found[STORE_SESSION_ID_LEN + 1];
        check(store_session_latest(s, l.items[i].dir, found, &e), &e);
        check(store_session_find(s, id, found, &e), &e);
    }
    store_session_list_free(&l);

    double a, b;
    check(store_ledger_budget(s, 1767225600000LL, NULL, NULL, &a, &b, &e), &e);
    check(store_ledger_budget(s, 1767225600000LL, "p", "u", &a, &b, &e), &e);
    struct store_ledger_filter f = {.since_ms = 1767225600000LL - 3 * 86400000LL + 12345};
    check(store_ledger_spend(s, &f, &a, &e), &e);
    for (int g = STORE_BY_DAY; g <= STORE_BY_USER; g++) {
        struct store_usage u;
        check(store_ledger_usage(s, (enum store_group)g, g % 2 ? &f : NULL, &u, &e), &e);
        store_usage_free(&u);
    }
    struct buf out = BUF_INIT(1 << 20);
    enum brock_status xr = store_ledger_export_json(s, NULL, &out, &e);
    check(xr, &e);
    buf_free(&out);

    struct store_cache_stats cs;
    check(store_cache_stats(s, &cs, &e), &e);
    struct store_spool_batch sb;
    check(store_spool_read(s, NULL, &sb, &e), &e);
    store_spool_batch_free(&sb);
    int64_t n, bytes;
    check(store_spool_count(s, &n, &bytes, &e), &e);
}

static void writes(struct store *s)
{
    struct brock_err e = {0};
    check(store_spool_append(s, 5, "event", 5, NULL, &e), &e);
    struct store_spool_batch sb;
    if (store_spool_read(s, NULL, &sb, &e) == BROCK_OK && sb.n > 0) {
        int64_t ids[2] = {sb.ev[0].id, sb.ev[sb.n - 1].id};
        size_t del;
        check(store_spool_delete(s, ids, 2, &del, &e), &e);
    }
    store_spool_batch_free(&sb);

    struct store_session_list l;
    if (store_session_list(s, NULL, 1, &l, &e) == BROCK_OK && l.n == 1) {
        struct store_message m = {.role = "user", .content_json = "[{\"type\":\"text\",\"text\":\"x\"}]"};
        check(store_session_append(s, l.items[0].id, &m, NULL, &e), &e);
        check(store_session_compact(s, l.items[0].id, 1, "\"s\"", &e), &e);
    }
    store_session_list_free(&l);

    struct store_ledger_row row = {.time_ms = 1767225600000LL, .session_id = "x", .project = "p", .user = "u",
                                   .status = "ok", .cost_usd = 0.5};
    check(store_ledger_insert(s, &row, NULL, &e), &e);

    static const char key[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    check(store_cache_put(s, key, "{\"a\":1}", NULL, "m", 60, &e), &e);
    struct store_cache_entry c;
    bool hit;
    check(store_cache_get(s, key, &c, &hit, &e), &e);
    store_cache_entry_cleanup(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    unlink(g_wal);
    unlink(g_shm);
    FILE *fp = fopen(g_db, "wb");
    if (!fp)
        abort();
    if (size && fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);

    struct store_options o = {.dir = g_dir, .busy_timeout_ms = 50, .cache_max_bytes = 64};
    struct store *s = NULL;
    struct brock_err e = {0};
    enum brock_status r = store_open(&o, &s, &e);
    check(r, &e);
    if (r == BROCK_OK) {
        reads(s);
        writes(s);
        reads(s);
        store_close(s);
    }
    return 0;
}
