/* Tests for src/store/store_ledger.c: inserting model calls, budget figures
 * around UTC day and month boundaries, spend since any time, `brock usage`
 * groupings and the JSON export. Expected figures are computed here from the
 * rows the test inserts (a plain loop over them), never from the store. */
#include "../support/test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/json.h"

/* Reference instants (from Python's datetime, UTC). */
#define T_JAN31_LAST 1738367999999LL /* 2025-01-31T23:59:59.999Z */
#define T_FEB01_0000 1738368000000LL /* 2025-02-01T00:00:00.000Z */
#define T_FEB01_1200 1738411200000LL /* 2025-02-01T12:00:00.000Z */
#define T_FEB28_LAST 1740787199999LL /* 2025-02-28T23:59:59.999Z */
#define T_MAR01_0000 1740787200000LL /* 2025-03-01T00:00:00.000Z */
#define DAY 86400000LL

struct fixture {
    char *dir;
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    f->dir = test_tmpdir();
    struct store_options o = {.dir = f->dir};
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

static void insert(struct store *s, int64_t t, const char *project, const char *user, double cost)
{
    struct store_ledger_row r = {.time_ms = t, .project = project, .user = user, .model = "m", .status = "ok",
                                 .cost_usd = cost};
    struct brock_err e = {0};
    if (store_ledger_insert(s, &r, NULL, &e) != BROCK_OK)
        fail_msg("insert: %s", e.msg);
}

static void budget(struct store *s, int64_t now, const char *project, const char *user, double today, double month)
{
    double d, m;
    struct brock_err e = {0};
    if (store_ledger_budget(s, now, project, user, &d, &m, &e) != BROCK_OK)
        fail_msg("budget: %s", e.msg);
    if (d != today || m != month)
        fail_msg("budget at %lld (%s/%s): today %g month %g, want %g %g", (long long)now, project ? project : "*",
                 user ? user : "*", d, m, today, month);
}

/* alice -> [0], bob -> [1] */
struct by_user2 {
    int n;
    double d[2], m[2];
};

static void by_user2_row(void *ctx, const char *user, double today, double month)
{
    struct by_user2 *b = ctx;
    int i = !strcmp(user, "alice") ? 0 : !strcmp(user, "bob") ? 1 : -1;
    if (i < 0)
        fail_msg("by user: unexpected user \"%s\"", user);
    b->n++;
    b->d[i] = today;
    b->m[i] = month;
}

static void test_store_ledger_budget_day_boundaries(void **state)
{
    struct fixture *f = *state;
    insert(f->s, T_JAN31_LAST, "p1", "alice", 1);
    insert(f->s, T_FEB01_0000, "p1", "bob", 2);
    insert(f->s, T_FEB01_1200, "p2", "alice", 4);
    insert(f->s, T_FEB28_LAST, "p1", "alice", 8);
    insert(f->s, T_MAR01_0000, "p2", "bob", 16);

    budget(f->s, T_JAN31_LAST, NULL, NULL, 1, 1);
    budget(f->s, T_FEB01_0000, NULL, NULL, 6, 14); /* 00:00:00.000 belongs to the new day */
    budget(f->s, T_FEB01_1200, NULL, NULL, 6, 14);
    budget(f->s, T_FEB28_LAST, NULL, NULL, 8, 14);
    budget(f->s, T_MAR01_0000, NULL, NULL, 16, 16);
    budget(f->s, T_MAR01_0000 + 20 * DAY, NULL, NULL, 0, 16);
    /* per project and per user */
    budget(f->s, T_FEB28_LAST, "p1", NULL, 8, 10);
    budget(f->s, T_FEB28_LAST, "p2", NULL, 0, 4);
    budget(f->s, T_FEB28_LAST, NULL, "alice", 8, 12);
    budget(f->s, T_FEB28_LAST, "p1", "alice", 8, 8);
    budget(f->s, T_FEB28_LAST, "p3", NULL, 0, 0);
    /* every user at once, per project summed: alice 8 today (p1) and 4 + 8
     * this month; bob 2 this month; January's and March's rows not at all */
    struct by_user2 bu = {0};
    struct brock_err be = {0};
    assert_int_equal(store_ledger_budget_by_user(f->s, T_FEB28_LAST, by_user2_row, &bu, &be), BROCK_OK);
    assert_int_equal(bu.n, 2);
    assert_true(bu.d[0] == 8 && bu.m[0] == 12);
    assert_true(bu.d[1] == 0 && bu.m[1] == 2);
    memset(&bu, 0, sizeof bu);
    assert_int_equal(store_ledger_budget_by_user(f->s, T_MAR01_0000, by_user2_row, &bu, &be), BROCK_OK);
    assert_int_equal(bu.n, 1);
    assert_true(bu.d[1] == 16 && bu.m[1] == 16 && bu.m[0] == 0);

    /* spend since exact boundaries and a time inside a day */
    double usd;
    struct store_ledger_filter fl = {.since_ms = T_FEB01_0000};
    assert_int_equal(store_ledger_spend(f->s, &fl, &usd, NULL), BROCK_OK);
    assert_true(usd == 30);
    fl.since_ms = T_FEB01_0000 + 1; /* skips the 00:00:00.000 row only */
    assert_int_equal(store_ledger_spend(f->s, &fl, &usd, NULL), BROCK_OK);
    assert_true(usd == 28);
    fl.since_ms = T_FEB01_1200; /* inclusive */
    assert_int_equal(store_ledger_spend(f->s, &fl, &usd, NULL), BROCK_OK);
    assert_true(usd == 28);
    fl.since_ms = T_JAN31_LAST;
    fl.user = "alice";
    assert_int_equal(store_ledger_spend(f->s, &fl, &usd, NULL), BROCK_OK);
    assert_true(usd == 13);
    assert_int_equal(store_ledger_spend(f->s, NULL, &usd, NULL), BROCK_OK);
    assert_true(usd == 31);
}

/* ---- randomised comparison against a plain loop ----------------------------- */

#define NROWS 600

struct ref_row {
    int64_t t;
    int p, u, m;
    double cost;
    int64_t in, out, cr, cw;
    double lat;
    bool ok, hit;
};

static const char *const k_projects[] = {"alpha", "beta", ""};
static const char *const k_users[] = {"arn:aws:iam::111122223333:user/a", "arn:aws:sts::111122223333:assumed-role/b/x",
                                      ""};
static const char *const k_models[] = {"claude-sonnet", "claude-haiku", "claude-opus"};

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* NROWS random rows from base on (the same every time): the reference
 * values in rows, the ledger rows in lr. */
static void random_rows(struct ref_row *rows, struct store_ledger_row *lrs, int64_t base)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < NROWS; i++) {
        struct ref_row *r = &rows[i];
        r->t = base + (int64_t)(rng(&seed) % (uint64_t)(40 * DAY)); /* 40 days, across a month end */
        r->p = (int)(rng(&seed) % 3);
        r->u = (int)(rng(&seed) % 3);
        r->m = (int)(rng(&seed) % 3);
        r->cost = (double)(rng(&seed) % 4096) / 64.0; /* exact in binary: sums are exact */
        r->in = (int64_t)(rng(&seed) % 100000);
        r->out = (int64_t)(rng(&seed) % 8000);
        r->cr = (int64_t)(rng(&seed) % 5000);
        r->cw = (int64_t)(rng(&seed) % 3000);
        r->lat = (double)(rng(&seed) % 20000) / 4.0;
        r->ok = rng(&seed) % 5 != 0;
        r->hit = rng(&seed) % 7 == 0;
        lrs[i] = (struct store_ledger_row){
            .time_ms = r->t, .project = k_projects[r->p], .user = k_users[r->u], .model = k_models[r->m],
            .profile = "us.anthropic.x", .region = "us-west-2", .api = "messages",
            .usage = {.input_tokens = r->in, .output_tokens = r->out, .cache_read_tokens = r->cr,
                      .cache_write_tokens = r->cw},
            .latency_ms = r->lat, .ttft_ms = r->lat / 2, .retries = i % 3,
            .status = r->ok ? "ok" : "ThrottlingException", .request_id = "rid",
            .cost_usd = r->hit ? 0 : r->cost, .cache_hit = r->hit, .routing = "explicit",
        };
        if (r->hit)
            r->cost = 0;
    }
}

static void fill_random(struct store *s, struct ref_row *rows, int64_t base)
{
    struct store_ledger_row *lrs = xcalloc(NROWS, sizeof *lrs);
    random_rows(rows, lrs, base);
    for (int i = 0; i < NROWS; i++) {
        struct brock_err e = {0};
        if (store_ledger_insert(s, &lrs[i], NULL, &e) != BROCK_OK)
            fail_msg("insert %d: %s", i, e.msg);
    }
    free(lrs);
}

static bool matches(const struct ref_row *r, int64_t since, int p, int u)
{
    return (since == 0 || r->t >= since) && (p < 0 || r->p == p) && (u < 0 || r->u == u);
}

struct by_user {
    int seen[3], unknown;
    double today[3], month[3];
};

static void by_user_row(void *ctx, const char *user, double today, double month)
{
    struct by_user *b = ctx;
    for (int u = 0; u < 3; u++)
        if (!strcmp(user, k_users[u])) {
            b->seen[u]++;
            b->today[u] = today;
            b->month[u] = month;
            return;
        }
    b->unknown++;
}

static void test_store_ledger_spend_matches_rows(void **state)
{
    struct fixture *f = *state;
    struct ref_row *rows = xcalloc(NROWS, sizeof *rows);
    const int64_t base = 1735689600000LL - 10 * DAY; /* 2024-12-22 */
    fill_random(f->s, rows, base);
    uint64_t seed = 12345;
    int checks = 0;
    for (int k = 0; k < 60; k++) {
        int64_t since;
        if (k == 0)
            since = 0;
        else if (k % 3 == 0) /* a day boundary */
            since = store_utc_day_start(base + (int64_t)(rng(&seed) % (uint64_t)(42 * DAY)));
        else if (k % 3 == 1) /* anywhere */
            since = base - DAY + (int64_t)(rng(&seed) % (uint64_t)(42 * DAY));
        else /* exactly at a row's time, so inclusion matters */
            since = rows[rng(&seed) % NROWS].t;
        for (int p = -1; p < 3; p++) {
            for (int u = -1; u < 3; u += 2) {
                double want = 0;
                for (int i = 0; i < NROWS; i++)
                    if (matches(&rows[i], since, p, u))
                        want += rows[i].cost;
                struct store_ledger_filter fl = {.since_ms = since, .project = p < 0 ? NULL : k_projects[p],
                                                 .user = u < 0 ? NULL : k_users[u]};
                double got;
                struct brock_err e = {0};
                assert_int_equal(store_ledger_spend(f->s, &fl, &got, &e), BROCK_OK);
                if (got != want)
                    fail_msg("spend since %lld p=%d u=%d: got %.6f want %.6f", (long long)since, p, u, got, want);
                checks++;
            }
        }
    }
    print_message("# %d spend queries agree with the rows\n", checks);

    /* budget at several instants = a plain loop over the day / month windows
     * (2024-12 and 2025-01 from the reference table; the base is 2024-12-22) */
    const int64_t dec1 = 1733011200000LL, jan1 = 1735689600000LL, feb1 = 1738368000000LL;
    for (int k = 0; k < 40; k++) {
        int64_t now = base + (int64_t)(rng(&seed) % (uint64_t)(40 * DAY));
        int64_t d0 = store_utc_day_start(now);
        int64_t m0 = now < jan1 ? dec1 : jan1, m1 = now < jan1 ? jan1 : feb1;
        double today = 0, month = 0;
        for (int i = 0; i < NROWS; i++) {
            if (rows[i].t >= d0 && rows[i].t < d0 + DAY)
                today += rows[i].cost;
            if (rows[i].t >= m0 && rows[i].t < m1)
                month += rows[i].cost;
        }
        budget(f->s, now, NULL, NULL, today, month);
        /* every user at once: the same figures as a loop over that user's rows */
        struct by_user got = {0};
        struct brock_err e = {0};
        assert_int_equal(store_ledger_budget_by_user(f->s, now, by_user_row, &got, &e), BROCK_OK);
        assert_int_equal(got.unknown, 0);
        for (int u = 0; u < 3; u++) {
            double ut = 0, um = 0;
            bool any = false;
            for (int i = 0; i < NROWS; i++) {
                if (rows[i].u != u || rows[i].t < m0 || rows[i].t >= m1)
                    continue;
                any = true;
                um += rows[i].cost;
                if (rows[i].t >= d0 && rows[i].t < d0 + DAY)
                    ut += rows[i].cost;
            }
            if (got.seen[u] != (any ? 1 : 0) || (any && (got.today[u] != ut || got.month[u] != um)))
                fail_msg("by user at %lld, user %d: seen %d today %g month %g, want %d %g %g", (long long)now, u,
                         got.seen[u], got.today[u], got.month[u], any, ut, um);
        }
    }
    free(rows);
}

static void test_store_ledger_usage_groups(void **state)
{
    struct fixture *f = *state;
    struct ref_row *rows = xcalloc(NROWS, sizeof *rows);
    const int64_t base = 1735689600000LL - 10 * DAY;
    fill_random(f->s, rows, base);
    const int64_t sinces[] = {0, store_utc_day_start(base + 15 * DAY), base + 15 * DAY + 3600 * 1000 + 17};
    for (size_t si = 0; si < 3; si++) {
        for (int by = STORE_BY_DAY; by <= STORE_BY_USER; by++) {
            for (int p = -1; p < 3; p += 3) { /* every project, then the unnamed one ("") */
                struct store_ledger_filter fl = {.since_ms = sinces[si], .project = p < 0 ? NULL : k_projects[p]};
                struct store_usage u;
                struct brock_err e = {0};
                assert_int_equal(store_ledger_usage(f->s, (enum store_group)by, &fl, &u, &e), BROCK_OK);
                int64_t calls = 0;
                for (size_t k = 0; k < u.n; k++) {
                    const struct store_usage_row *g = &u.rows[k];
                    if (k > 0)
                        assert_true(strcmp(u.rows[k - 1].key, g->key) < 0); /* sorted, unique */
                    struct store_usage_row want = {0};
                    double lat = 0;
                    for (int i = 0; i < NROWS; i++) {
                        const struct ref_row *r = &rows[i];
                        if (!matches(r, sinces[si], p, -1))
                            continue;
                        char key[64];
                        if (by == STORE_BY_DAY)
                            store_format_day(store_utc_day_start(r->t) / DAY, key);
                        else
                            snprintf(key, sizeof key, "%s",
                                     by == STORE_BY_MODEL     ? k_models[r->m]
                                     : by == STORE_BY_PROJECT ? k_projects[r->p]
                                                              : k_users[r->u]);
                        if (strcmp(key, g->key) != 0)
                            continue;
                        want.calls++;
                        want.input_tokens += r->in;
                        want.output_tokens += r->out;
                        want.cache_read_tokens += r->cr;
                        want.cache_write_tokens += r->cw;
                        want.cost_usd += r->cost;
                        want.cache_hits += r->hit;
                        want.errors += !r->ok;
                        lat += r->lat;
                    }
                    assert_true(want.calls > 0); /* no group without rows */
                    assert_int_equal(g->calls, want.calls);
                    assert_int_equal(g->input_tokens, want.input_tokens);
                    assert_int_equal(g->output_tokens, want.output_tokens);
                    assert_int_equal(g->cache_read_tokens, want.cache_read_tokens);
                    assert_int_equal(g->cache_write_tokens, want.cache_write_tokens);
                    assert_true(g->cost_usd == want.cost_usd);
                    assert_int_equal(g->cache_hits, want.cache_hits);
                    assert_int_equal(g->errors, want.errors);
                    assert_true(fabs(g->latency_ms_mean - lat / (double)want.calls) < 1e-9);
                    calls += g->calls;
                }
                int64_t want_calls = 0;
                for (int i = 0; i < NROWS; i++)
                    want_calls += matches(&rows[i], sinces[si], p, -1);
                assert_int_equal(calls, want_calls); /* every row in exactly one group */
                assert_int_equal(u.total.calls, want_calls);
                store_usage_free(&u);
            }
        }
    }
    free(rows);
    struct store_usage u;
    struct brock_err e = {0};
    assert_int_equal(store_ledger_usage(f->s, (enum store_group)9, NULL, &u, &e), BROCK_ERR_USAGE);
}

static void test_store_ledger_export_json(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    struct store_ledger_row r = {
        .time_ms = T_FEB01_1200, .session_id = "s-1", .user = "alice", .project = "p1",
        .model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", .profile = "global.anthropic.x",
        .region = "us-east-1", .api = "converse",
        .usage = {.input_tokens = 42, .output_tokens = 128, .cache_read_tokens = 1500, .cache_write_tokens = 7},
        .latency_ms = 2310.5, .ttft_ms = 402.25, .retries = 2, .status = "ok", .request_id = "c0ffee",
        .cost_usd = 0.0123, .cache_hit = false, .routing = "auto: small edit -> haiku \"quoted\"",
    };
    int64_t id1, id2;
    assert_int_equal(store_ledger_insert(f->s, &r, &id1, &e), BROCK_OK);
    r.time_ms = T_JAN31_LAST; /* older, inserted later */
    r.cache_hit = true;
    r.cost_usd = 0;
    r.status = "interrupted";
    assert_int_equal(store_ledger_insert(f->s, &r, &id2, &e), BROCK_OK);
    assert_true(id2 > id1);

    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(store_ledger_export_json(f->s, NULL, &b, &e), BROCK_OK);
    json_t *j = NULL;
    assert_int_equal(json_parse(b.ptr, b.len, "export", &j, &e), BROCK_OK);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 2);
    json_t *a = json_array_get(j, 0), *c = json_array_get(j, 1);
    int64_t v;
    assert_true(json_int(a, "id", &v) && v == id2); /* oldest first */
    assert_true(json_int(a, "time_ms", &v) && v == T_JAN31_LAST);
    assert_string_equal(json_str(a, "time"), "2025-01-31T23:59:59Z");
    assert_true(json_is_true(json_object_get(a, "cache_hit")));
    assert_string_equal(json_str(a, "status"), "interrupted");
    assert_string_equal(json_str(c, "time"), "2025-02-01T12:00:00Z");
    assert_string_equal(json_str(c, "session_id"), "s-1");
    assert_string_equal(json_str(c, "user"), "alice");
    assert_string_equal(json_str(c, "project"), "p1");
    assert_string_equal(json_str(c, "model"), "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
    assert_string_equal(json_str(c, "profile"), "global.anthropic.x");
    assert_string_equal(json_str(c, "region"), "us-east-1");
    assert_string_equal(json_str(c, "api"), "converse");
    assert_string_equal(json_str(c, "request_id"), "c0ffee");
    assert_string_equal(json_str(c, "routing"), "auto: small edit -> haiku \"quoted\"");
    assert_true(json_int(c, "input_tokens", &v) && v == 42);
    assert_true(json_int(c, "output_tokens", &v) && v == 128);
    assert_true(json_int(c, "cache_read_tokens", &v) && v == 1500);
    assert_true(json_int(c, "cache_write_tokens", &v) && v == 7);
    assert_true(json_int(c, "retries", &v) && v == 2);
    assert_true(json_real_value(json_object_get(c, "latency_ms")) == 2310.5);
    assert_true(json_real_value(json_object_get(c, "ttft_ms")) == 402.25);
    assert_true(json_real_value(json_object_get(c, "cost_usd")) == 0.0123);
    assert_true(json_is_false(json_object_get(c, "cache_hit")));
    json_decref(j);

    /* since, and the filter */
    buf_reset(&b);
    struct store_ledger_filter fl = {.since_ms = T_FEB01_0000};
    assert_int_equal(store_ledger_export_json(f->s, &fl, &b, &e), BROCK_OK);
    assert_int_equal(json_parse(b.ptr, b.len, "export", &j, &e), BROCK_OK);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    buf_reset(&b);
    fl.project = "nope";
    assert_int_equal(store_ledger_export_json(f->s, &fl, &b, &e), BROCK_OK);
    assert_int_equal(json_parse(b.ptr, b.len, "export", &j, &e), BROCK_OK);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    buf_free(&b);

    /* the buffer's cap bounds an export */
    struct buf small = BUF_INIT(100);
    assert_int_equal(store_ledger_export_json(f->s, NULL, &small, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "100 bytes"));
    buf_free(&small);
}

static void test_store_ledger_bad_rows(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    struct store_ledger_row r = {.status = "ok", .cost_usd = NAN};
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "cost"));
    r.cost_usd = INFINITY;
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_ERR_USAGE);
    r.cost_usd = -0.01;
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_ERR_USAGE);
    r.cost_usd = 1;
    r.latency_ms = NAN;
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_ERR_USAGE);
    r.latency_ms = 0;
    r.usage.output_tokens = -1;
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_ERR_USAGE);
    r.usage.output_tokens = 0;
    char *big = xmalloc(STORE_TEXT_MAX + 2);
    memset(big, 'u', STORE_TEXT_MAX + 1);
    big[STORE_TEXT_MAX + 1] = '\0';
    r.user = big;
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "ledger user"));
    free(big);
    /* nothing was recorded by the refused rows */
    double usd;
    assert_int_equal(store_ledger_spend(f->s, NULL, &usd, &e), BROCK_OK);
    assert_true(usd == 0);
    /* the time defaults to now */
    r.user = NULL;
    int64_t before = time_now_ms();
    assert_int_equal(store_ledger_insert(f->s, &r, NULL, &e), BROCK_OK);
    double today, month;
    assert_int_equal(store_ledger_budget(f->s, 0, NULL, NULL, &today, &month, &e), BROCK_OK);
    if (store_utc_day_start(before) == store_utc_day_start(time_now_ms())) /* not across midnight */
        assert_true(today == 1 && month == 1);
}

/* A batch: one transaction for many writes; nothing is visible to another
 * handle before the commit; a refused row inside it changes nothing else;
 * a rollback discards the batch. */
static void test_store_ledger_batch(void **state)
{
    struct fixture *f = *state;
    struct store *other = NULL;
    struct store_options o = {.dir = f->dir, .busy_timeout_ms = 50};
    struct brock_err e = {0};
    assert_int_equal(store_open(&o, &other, &e), BROCK_OK);
    double usd = -1;

    assert_int_equal(store_batch_commit(f->s, &e), BROCK_ERR_USAGE); /* none open */
    assert_int_equal(store_batch_begin(f->s, &e), BROCK_OK);
    assert_int_equal(store_batch_begin(f->s, &e), BROCK_ERR_USAGE); /* no nesting */
    insert(f->s, T_FEB01_0000, "p1", "alice", 1);
    struct store_ledger_row bad = {.status = "ok", .cost_usd = -1};
    assert_int_equal(store_ledger_insert(f->s, &bad, NULL, &e), BROCK_ERR_USAGE);
    insert(f->s, T_FEB01_1200, "p1", "bob", 2);
    assert_int_equal(store_spool_append(f->s, T_FEB01_1200, "{}", 2, NULL, &e), BROCK_OK);
    /* this handle sees its own writes, the other one nothing yet */
    assert_int_equal(store_ledger_spend(f->s, NULL, &usd, &e), BROCK_OK);
    assert_true(usd == 3);
    assert_int_equal(store_ledger_spend(other, NULL, &usd, &e), BROCK_OK);
    assert_true(usd == 0);
    /* and it cannot write while the batch holds the lock */
    assert_int_equal(store_spool_append(other, T_FEB01_1200, "{}", 2, NULL, &e), BROCK_ERR_IO);
    assert_int_equal(store_batch_commit(f->s, &e), BROCK_OK);
    assert_int_equal(store_ledger_spend(other, NULL, &usd, &e), BROCK_OK);
    assert_true(usd == 3);
    int64_t events = 0, bytes = 0;
    assert_int_equal(store_spool_count(other, &events, &bytes, &e), BROCK_OK);
    assert_int_equal(events, 1);
    budget(other, T_FEB01_1200, NULL, "bob", 2, 2);

    /* rolled back: gone; writes after it are single transactions again */
    assert_int_equal(store_batch_begin(f->s, &e), BROCK_OK);
    insert(f->s, T_FEB01_1200, "p1", "bob", 4);
    store_batch_rollback(f->s);
    store_batch_rollback(f->s); /* no batch: nothing */
    store_batch_rollback(NULL);
    insert(f->s, T_FEB01_1200, "p1", "bob", 8);
    assert_int_equal(store_ledger_spend(other, NULL, &usd, &e), BROCK_OK);
    assert_true(usd == 11);
    store_close(other);
}

static void usage_equal(struct store *a, struct store *b)
{
    for (int by = STORE_BY_DAY; by <= STORE_BY_USER; by++) {
        struct store_usage ua, ub;
        struct brock_err e = {0};
        assert_int_equal(store_ledger_usage(a, (enum store_group)by, NULL, &ua, &e), BROCK_OK);
        assert_int_equal(store_ledger_usage(b, (enum store_group)by, NULL, &ub, &e), BROCK_OK);
        assert_int_equal(ua.n, ub.n);
        for (size_t k = 0; k <= ua.n; k++) {
            const struct store_usage_row *x = k < ua.n ? &ua.rows[k] : &ua.total, *y = k < ua.n ? &ub.rows[k] : &ub.total;
            if (k < ua.n)
                assert_string_equal(x->key, y->key);
            assert_int_equal(x->calls, y->calls);
            assert_int_equal(x->input_tokens, y->input_tokens);
            assert_int_equal(x->output_tokens, y->output_tokens);
            assert_int_equal(x->cache_read_tokens, y->cache_read_tokens);
            assert_int_equal(x->cache_write_tokens, y->cache_write_tokens);
            assert_int_equal(x->cache_hits, y->cache_hits);
            assert_int_equal(x->errors, y->errors);
            assert_true(x->cost_usd == y->cost_usd);
            assert_true(fabs(x->latency_ms_mean - y->latency_ms_mean) < 1e-9);
        }
        store_usage_free(&ua);
        store_usage_free(&ub);
    }
}

/* store_ledger_insert_many: the same ledger and rollup as one insert per row
 * (groups of every size, rows of many days and keys mixed in a group); all
 * or nothing; inside a batch like any write. */
static void test_store_ledger_insert_many(void **state)
{
    struct fixture *f = *state;
    struct ref_row *rows = xcalloc(NROWS, sizeof *rows);
    struct store_ledger_row *lrs = xcalloc(NROWS, sizeof *lrs);
    const int64_t base = 1735689600000LL - 10 * DAY;
    random_rows(rows, lrs, base);
    char *dir2 = test_tmpdir();
    struct store *many = NULL;
    struct store_options o2 = {.dir = dir2};
    struct brock_err e = {0};
    assert_int_equal(store_open(&o2, &many, &e), BROCK_OK);
    for (int i = 0; i < NROWS; i++)
        assert_int_equal(store_ledger_insert(f->s, &lrs[i], NULL, &e), BROCK_OK);
    static const size_t sizes[] = {1, 2, 7, 64, 3, 200, 1, 128};
    size_t at = 0;
    for (size_t k = 0; at < NROWS; k++) {
        size_t n = sizes[k % BROCK_ARRAY_LEN(sizes)];
        if (n > NROWS - at)
            n = NROWS - at;
        if (store_ledger_insert_many(many, lrs + at, n, &e) != BROCK_OK)
            fail_msg("insert_many at %zu (%zu): %s", at, n, e.msg);
        at += n;
    }
    usage_equal(f->s, many);
    /* the raw rows too, in the same order */
    struct buf ja = BUF_INIT(1 << 24), jb = BUF_INIT(1 << 24);
    assert_int_equal(store_ledger_export_json(f->s, NULL, &ja, &e), BROCK_OK);
    assert_int_equal(store_ledger_export_json(many, NULL, &jb, &e), BROCK_OK);
    assert_int_equal(ja.len, jb.len);
    assert_memory_equal(ja.ptr, jb.ptr, ja.len);
    buf_free(&ja);
    buf_free(&jb);
    /* budgets read the rollup: the same figures */
    for (int k = 0; k < 40; k++) {
        int64_t now = base + k * DAY + 3600 * 1000;
        double d1, m1, d2, m2;
        assert_int_equal(store_ledger_budget(f->s, now, "alpha", NULL, &d1, &m1, &e), BROCK_OK);
        assert_int_equal(store_ledger_budget(many, now, "alpha", NULL, &d2, &m2, &e), BROCK_OK);
        assert_true(d1 == d2 && m1 == m2);
    }

    /* all or nothing: a refused row fails the group before anything is written */
    double before, after;
    assert_int_equal(store_ledger_spend(many, NULL, &before, &e), BROCK_OK);
    struct store_ledger_row group[3] = {lrs[0], lrs[1], lrs[2]};
    group[0].cost_usd = group[1].cost_usd = group[2].cost_usd = 1;
    group[2].usage.input_tokens = -5;
    assert_int_equal(store_ledger_insert_many(many, group, 3, &e), BROCK_ERR_USAGE);
    assert_non_null(strstr(e.msg, "ledger row 3 of 3"));
    assert_int_equal(store_ledger_spend(many, NULL, &after, &e), BROCK_OK);
    assert_true(after == before);
    assert_int_equal(store_ledger_insert_many(many, group, 0, &e), BROCK_OK);
    assert_int_equal(store_ledger_insert_many(many, group, STORE_LEDGER_MANY_MAX + 1, &e), BROCK_ERR_USAGE);

    /* inside a batch: a write like the others, visible to another handle at the commit */
    struct store *other = NULL;
    assert_int_equal(store_open(&o2, &other, &e), BROCK_OK);
    group[2].usage.input_tokens = 5;
    group[0].time_ms = group[1].time_ms = group[2].time_ms = 0; /* now */
    assert_int_equal(store_batch_begin(many, &e), BROCK_OK);
    assert_int_equal(store_ledger_insert_many(many, group, 3, &e), BROCK_OK);
    assert_int_equal(store_ledger_spend(other, NULL, &after, &e), BROCK_OK);
    assert_true(after == before);
    assert_int_equal(store_batch_commit(many, &e), BROCK_OK);
    assert_int_equal(store_ledger_spend(other, NULL, &after, &e), BROCK_OK);
    assert_true(after == before + 3);
    double today, month;
    int64_t t0 = time_now_ms();
    assert_int_equal(store_ledger_budget(other, 0, NULL, NULL, &today, &month, &e), BROCK_OK);
    if (store_utc_day_start(t0) == store_utc_day_start(time_now_ms()))
        assert_true(today == 3);
    store_close(other);
    store_close(many);
    free(dir2);
    free(lrs);
    free(rows);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_ledger_budget_day_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_ledger_spend_matches_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_ledger_usage_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_ledger_export_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_ledger_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_ledger_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_ledger_insert_many, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_ledger", tests, NULL, NULL);
}
