/* bench_store.c - the cost of brock's per-request bookkeeping in the store.
 *
 * Measures, on a real file in DIR (use a disk, not tmpfs, for honest
 * numbers), each operation timed on its own with the monotonic wall clock
 * (the work is mostly system calls and page cache, so CPU time would hide it):
 *
 *   - ledger insert + budget check (spend today and this month), on a ledger
 *     of LEDGER_ROWS rows spread over the last 90 days;
 *   - cache lookup, hit and miss, on a cache of CACHE_ENTRIES entries of
 *     about 2 KiB;
 *   - spool append of a 300-byte audit event;
 *   - spool read + delete of PutLogEvents-sized batches (events/s);
 *   - one request's bookkeeping together: budget check, cache lookup (miss),
 *     ledger insert, spool append, session message append; once with
 *     SQLite's inline checkpoints, once with idle_checkpoints and a
 *     store_checkpoint() every 50 requests outside the timed request;
 *   - the floor: one bare autocommit SQLite INSERT of a small row into a WAL
 *     database with synchronous=NORMAL, through a prepared statement.
 *   - spool append with full_sync (an fsync per commit), for reference.
 *
 * Prints a markdown table (median and 99th percentile in µs; the 99th
 * percentile again over the samples the scheduler did not preempt, and how
 * many it did) and a last line "RESULT ..." for scripts.
 *
 * Usage: bench_store DIR [LEDGER_ROWS [CACHE_ENTRIES [ITERS]]]
 *        (defaults 100000 10000 3000). DIR must not exist or be empty. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../src/aws/crypto.h"
#include "../src/store/store.h"
#include "../src/util/alloc.h"
#include "../src/util/fs.h"
#include "../src/util/timeutil.h"

#define DAY 86400000LL

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Samples of one figure. A sample during which the scheduler took the CPU
 * away (an involuntary context switch, counted by getrusage outside the timed
 * interval) is kept, and also reported apart: on a shared machine those
 * waits are the machine's, not the store's. */
struct samples {
    int64_t *ns, *np; /* all samples; those not preempted */
    size_t n, nnp, cap;
    struct rusage ru;
    int64_t t0;
};

struct stat_ns {
    double median_us, p99_us, mean_us;
    double p99_np_us; /* 99th percentile of the samples not preempted */
    size_t preempted, n;
};

static void samples_init(struct samples *sm, size_t cap)
{
    sm->ns = xmalloc(cap * sizeof *sm->ns);
    sm->np = xmalloc(cap * sizeof *sm->np);
    sm->n = sm->nnp = 0;
    sm->cap = cap;
}

static void sample_start(struct samples *sm)
{
    getrusage(RUSAGE_THREAD, &sm->ru);
    sm->t0 = time_mono_ns();
}

static void sample_stop(struct samples *sm)
{
    int64_t t = time_mono_ns() - sm->t0;
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    if (sm->n < sm->cap) {
        sm->ns[sm->n++] = t;
        if (ru.ru_nivcsw == sm->ru.ru_nivcsw)
            sm->np[sm->nnp++] = t;
    }
}

static struct stat_ns summarise(struct samples *sm)
{
    struct stat_ns s = {0};
    size_t n = sm->n;
    if (n == 0)
        return s;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)sm->ns[i];
    qsort(sm->ns, n, sizeof *sm->ns, cmp_i64);
    qsort(sm->np, sm->nnp, sizeof *sm->np, cmp_i64);
    s.median_us = (double)sm->ns[n / 2] / 1000.0;
    s.p99_us = (double)sm->ns[(n * 99) / 100] / 1000.0;
    s.mean_us = sum / (double)n / 1000.0;
    s.p99_np_us = sm->nnp ? (double)sm->np[(sm->nnp * 99) / 100] / 1000.0 : 0;
    s.preempted = n - sm->nnp;
    s.n = n;
    sm->n = sm->nnp = 0;
    return s;
}

static void samples_free(struct samples *sm)
{
    free(sm->ns);
    free(sm->np);
}

static void row(const char *what, const struct stat_ns *s)
{
    printf("| %s | %.1f | %.1f | %.1f | %zu/%zu |\n", what, s->median_us, s->p99_us, s->p99_np_us, s->preempted,
           s->n);
}

static void die(const char *what, const struct brock_err *e)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static struct store *open_store(const char *dir, bool full_sync, bool idle_checkpoints)
{
    struct store_options o = {.dir = dir, .full_sync = full_sync, .idle_checkpoints = idle_checkpoints};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&o, &s, &e) != BROCK_OK)
        die("open", &e);
    return s;
}

static const char *const k_projects[] = {"brock", "gateway", "docs", "infra", "web"};
static const char *const k_users[] = {"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob",
                                      "arn:aws:sts::111122223333:assumed-role/dev/carol"};
static const char *const k_models[] = {"us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                       "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                                       "us.anthropic.claude-opus-4-1-20250805-v1:0"};

static void ledger_row(struct store_ledger_row *r, int64_t t, unsigned i, const char *session)
{
    *r = (struct store_ledger_row){
        .time_ms = t, .session_id = session, .user = k_users[i % 3], .project = k_projects[i % 5],
        .model = k_models[i % 3], .profile = k_models[i % 3], .region = "us-west-2", .api = "messages",
        .usage = {.input_tokens = 1200 + i % 500, .output_tokens = 300 + i % 200, .cache_read_tokens = 15000,
                  .cache_write_tokens = i % 7 ? 0 : 2000},
        .latency_ms = 2300, .ttft_ms = 400, .retries = 0, .status = "ok",
        .request_id = "5c7e1b2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b", .cost_usd = 0.0123, .cache_hit = false,
        .routing = "explicit",
    };
}

static void key_hex(unsigned i, char out[SHA256_HEX_LEN + 1])
{
    char req[64];
    int n = snprintf(req, sizeof req, "canonical-request-%u", i);
    crypto_sha256_hex(req, (size_t)n, out);
}

/* `iters` requests' bookkeeping: budget check, cache lookup (a miss), ledger
 * insert, spool append, session append. With ckpt_every > 0, a checkpoint
 * runs (untimed as request time, timed into *ckpt) every ckpt_every requests,
 * as a caller would between turns. */
static struct stat_ns run_requests(struct store *s, size_t iters, unsigned key0, const char *session,
                                   const char *content, const char *event, size_t ckpt_every, struct samples *sm,
                                   struct stat_ns *ckpt)
{
    struct brock_err e = {0};
    struct samples ck;
    samples_init(&ck, ckpt_every ? iters / ckpt_every + 1 : 1);
    for (size_t i = 0; i < iters; i++) {
        char k[SHA256_HEX_LEN + 1];
        key_hex(key0 + (unsigned)i, k);
        struct store_ledger_row r;
        ledger_row(&r, 0, (unsigned)i, session);
        struct store_message m = {.role = "assistant", .content_json = content, .model = k_models[0],
                                  .request_id = "rid", .usage = r.usage};
        struct store_cache_entry c;
        bool h;
        double today, month;
        sample_start(sm);
        if (store_ledger_budget(s, 0, "brock", NULL, &today, &month, &e) != BROCK_OK ||
            store_cache_get(s, k, &c, &h, &e) != BROCK_OK || store_ledger_insert(s, &r, NULL, &e) != BROCK_OK ||
            store_spool_append(s, 0, event, 300, NULL, &e) != BROCK_OK ||
            store_session_append(s, session, &m, NULL, &e) != BROCK_OK)
            die("request", &e);
        sample_stop(sm);
        if (ckpt_every && (i + 1) % ckpt_every == 0) {
            sample_start(&ck);
            if (store_checkpoint(s, NULL, NULL, &e) != BROCK_OK)
                die("checkpoint", &e);
            sample_stop(&ck);
        }
    }
    if (ckpt)
        *ckpt = summarise(&ck);
    samples_free(&ck);
    return summarise(sm);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store DIR [LEDGER_ROWS [CACHE_ENTRIES [ITERS]]]\n");
        return 2;
    }
    const char *dir = argv[1];
    unsigned rows = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 100000;
    unsigned entries = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 10000;
    size_t iters = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 3000;
    if (iters < 100)
        iters = 100;
    crypto_global_init();
    struct brock_err e = {0};
    struct store *s = open_store(dir, false, false);
    int64_t now = time_now_ms();
    struct samples sm;
    samples_init(&sm, iters);

    /* ---- fill: ledger, cache, a session --------------------------------- */
    int64_t t0 = time_mono_ms();
    char session[STORE_SESSION_ID_LEN + 1];
    if (store_session_create(s, "/home/alice/brock", "bench", k_models[0], session, &e) != BROCK_OK)
        die("session", &e);
    for (unsigned i = 0; i < rows; i++) {
        struct store_ledger_row r;
        ledger_row(&r, now - 90 * DAY + (int64_t)i * (90 * DAY / (rows ? rows : 1)), i, NULL);
        if (store_ledger_insert(s, &r, NULL, &e) != BROCK_OK)
            die("ledger fill", &e);
    }
    char *answer = xmalloc(2048 + 1);
    {
        static const char head[] = "{\"content\":[{\"type\":\"text\",\"text\":\"";
        static const char tail[] = "\"}],\"usage\":{\"input_tokens\":1200,\"output_tokens\":300}}";
        size_t o = sizeof head - 1, end = 2048 - (sizeof tail - 1);
        memcpy(answer, head, o);
        for (; o < end; o++)
            answer[o] = (char)('a' + o % 26);
        memcpy(answer + end, tail, sizeof tail);
    }
    for (unsigned i = 0; i < entries; i++) {
        char k[SHA256_HEX_LEN + 1];
        key_hex(i, k);
        if (store_cache_put(s, k, answer, NULL, k_models[0], 86400, &e) != BROCK_OK)
            die("cache fill", &e);
    }
    double fill_s = (double)(time_mono_ms() - t0) / 1000.0;

    char event[301];
    memset(event, 'e', 300);
    memcpy(event, "{\"type\":\"request\",\"session\":\"", 29);
    event[299] = '}';
    event[300] = '\0';

    /* ---- ledger insert + budget ------------------------------------------ */
    for (size_t i = 0; i < iters; i++) {
        struct store_ledger_row r;
        ledger_row(&r, 0, (unsigned)i, session);
        double today, month;
        sample_start(&sm);
        if (store_ledger_budget(s, 0, NULL, NULL, &today, &month, &e) != BROCK_OK ||
            store_ledger_insert(s, &r, NULL, &e) != BROCK_OK)
            die("ledger", &e);
        sample_stop(&sm);
    }
    struct stat_ns ledger = summarise(&sm);
    double today, month;
    if (store_ledger_budget(s, 0, NULL, NULL, &today, &month, &e) != BROCK_OK)
        die("budget", &e);

    /* ---- cache hit / miss --------------------------------------------------- */
    for (size_t i = 0; i < iters; i++) {
        char k[SHA256_HEX_LEN + 1];
        key_hex((unsigned)(i * 7919) % entries, k);
        struct store_cache_entry c;
        bool hit;
        sample_start(&sm);
        if (store_cache_get(s, k, &c, &hit, &e) != BROCK_OK || !hit)
            die("cache hit", &e);
        store_cache_entry_cleanup(&c);
        sample_stop(&sm);
    }
    struct stat_ns hit = summarise(&sm);
    for (size_t i = 0; i < iters; i++) {
        char k[SHA256_HEX_LEN + 1];
        key_hex(entries + (unsigned)i, k);
        struct store_cache_entry c;
        bool h;
        sample_start(&sm);
        if (store_cache_get(s, k, &c, &h, &e) != BROCK_OK || h)
            die("cache miss", &e);
        sample_stop(&sm);
    }
    struct stat_ns miss = summarise(&sm);

    /* ---- spool append -------------------------------------------------------- */
    for (size_t i = 0; i < iters; i++) {
        sample_start(&sm);
        if (store_spool_append(s, 0, event, 300, NULL, &e) != BROCK_OK)
            die("spool append", &e);
        sample_stop(&sm);
    }
    struct stat_ns append = summarise(&sm);

    /* ---- one request's bookkeeping, checkpoints inline, then when idle ------ */
    const char *arr = strchr(answer, '['), *arr_end = strstr(answer, "}],");
    char *content = xmemdup(arr, (size_t)(arr_end - arr) + 2); /* the assistant message, ~2 KiB */
    struct stat_ns request = run_requests(s, iters, 2 * entries, session, content, event, 0, &sm, NULL);
    struct store *idle = open_store(dir, false, true);
    struct stat_ns ckpt;
    struct stat_ns request_idle =
        run_requests(idle, iters, 2 * entries + (unsigned)iters, session, content, event, 50, &sm, &ckpt);
    store_close(idle);

    /* ---- spool read + delete throughput --------------------------------------- */
    size_t backlog = 50000;
    for (size_t i = 0; i < backlog; i++)
        if (store_spool_append(s, now + (int64_t)i, event, 300, NULL, &e) != BROCK_OK)
            die("spool fill", &e);
    int64_t pending, bytes;
    if (store_spool_count(s, &pending, &bytes, &e) != BROCK_OK)
        die("spool count", &e);
    int64_t ship_ns = 0, shipped = 0, batches = 0;
    int64_t *ids = xmalloc(10000 * sizeof *ids);
    for (;;) {
        int64_t a = time_mono_ns();
        struct store_spool_batch b;
        if (store_spool_read(s, NULL, &b, &e) != BROCK_OK)
            die("spool read", &e);
        if (b.n == 0) {
            store_spool_batch_free(&b);
            break;
        }
        for (size_t i = 0; i < b.n; i++)
            ids[i] = b.ev[i].id;
        size_t del;
        if (store_spool_delete(s, ids, b.n, &del, &e) != BROCK_OK || del != b.n)
            die("spool delete", &e);
        ship_ns += time_mono_ns() - a;
        shipped += (int64_t)b.n;
        batches++;
        store_spool_batch_free(&b);
    }
    double ship_eps = (double)shipped / ((double)ship_ns / 1e9);
    store_close(s);

    /* ---- the floor: one bare INSERT ------------------------------------------- */
    char *floor_path = fs_join(dir, "floor.db");
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(floor_path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, ts INTEGER, msg TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t(ts, msg) VALUES(?1, ?2)", -1, &st, NULL) != SQLITE_OK)
        die("floor", NULL);
    for (size_t i = 0; i < iters; i++) {
        sample_start(&sm);
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, event, 300, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("floor insert", NULL);
        sqlite3_reset(st);
        sample_stop(&sm);
    }
    struct stat_ns floor = summarise(&sm);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* ---- spool append with full_sync -------------------------------------------- */
    s = open_store(dir, true, false);
    size_t sync_iters = iters < 300 ? iters : 300;
    for (size_t i = 0; i < sync_iters; i++) {
        sample_start(&sm);
        if (store_spool_append(s, 0, event, 300, NULL, &e) != BROCK_OK)
            die("spool append (full sync)", &e);
        sample_stop(&sm);
    }
    struct stat_ns synced = summarise(&sm);
    store_close(s);

    char what[160];
    printf("| operation | median µs | p99 µs | p99 µs, not preempted | preempted |\n|---|---:|---:|---:|---:|\n");
    row("floor: bare SQLite autocommit INSERT (WAL, synchronous=NORMAL)", &floor);
    snprintf(what, sizeof what, "ledger insert + budget check (today, month) on %u rows", rows);
    row(what, &ledger);
    snprintf(what, sizeof what, "cache lookup, hit (%u entries, 2 KiB answers)", entries);
    row(what, &hit);
    row("cache lookup, miss", &miss);
    row("spool append (300-byte event)", &append);
    row("**one request**: budget + cache miss + ledger insert + spool append + session append (2 KiB)", &request);
    row("**one request**, idle_checkpoints (store_checkpoint every 50 requests, between them)", &request_idle);
    row("store_checkpoint after 50 requests (idle time, not on a request)", &ckpt);
    row("spool append with full_sync (an fsync per commit)", &synced);
    printf("\nspool read + delete: %.0f events/s (%lld events of 300 bytes in %lld PutLogEvents-sized batches)\n",
           ship_eps, (long long)shipped, (long long)batches);
    printf("filled %u ledger rows (90 days) and %u cache entries through the API in %.1f s\n", rows, entries, fill_s);
    printf("one request, mean: %.0f µs with inline checkpoints, %.0f µs with idle checkpoints\n", request.mean_us,
           request_idle.mean_us);
    printf("target, all bookkeeping together <= 1000 µs per request: median %s (%.0f µs); p99 of requests not "
           "preempted %s inline (%.0f µs), %s with idle checkpoints (%.0f µs)\n",
           request.median_us <= 1000 ? "met" : "NOT met", request.median_us,
           request.p99_np_us <= 1000 ? "met" : "not met", request.p99_np_us,
           request_idle.p99_np_us <= 1000 ? "met" : "not met", request_idle.p99_np_us);
    printf("RESULT floor_us=%.1f ledger_us=%.1f hit_us=%.1f miss_us=%.1f append_us=%.1f request_us=%.1f "
           "request_p99np_us=%.1f request_idle_us=%.1f request_idle_p99np_us=%.1f ship_eps=%.0f sync_append_us=%.1f\n",
           floor.median_us, ledger.median_us, hit.median_us, miss.median_us, append.median_us, request.median_us,
           request.p99_np_us, request_idle.median_us, request_idle.p99_np_us, ship_eps, synced.median_us);
    free(ids);
    free(content);
    free(floor_path);
    free(answer);
    samples_free(&sm);
    return 0;
}
