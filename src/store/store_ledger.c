/* store_ledger.c - the usage ledger: one row per model call, a daily rollup
 * kept in the same transaction, and the queries budgets and `brock usage`
 * make.
 *
 * A "since" time splits into whole UTC days from first_day = ceil(since /
 * day) on, answered from the rollup (ledger_day, primary key (day, project,
 * user, model), so a range on day is an index range), and the partial day
 * [since, first_day * day), answered from the raw rows through the time
 * index. Budget checks use day-aligned times and touch only the rollup: at
 * most 31 days x the (project, user, model) combinations in use. */
#include "store_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/json.h"

#define FILTER_SQL " AND (?3 IS NULL OR project = ?3) AND (?4 IS NULL OR user = ?4)"

static bool ok_number(double v)
{
    return isfinite(v) && v >= 0;
}

static enum brock_status check_row(const struct store_ledger_row *r, struct brock_err *e)
{
    const struct {
        const char *name, *v;
    } texts[] = {
        {"ledger session id", r->session_id}, {"ledger user", r->user},     {"ledger project", r->project},
        {"ledger model", r->model},           {"ledger profile", r->profile}, {"ledger region", r->region},
        {"ledger api", r->api},               {"ledger status", r->status},  {"ledger request id", r->request_id},
        {"ledger routing", r->routing},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(texts); i++) {
        enum brock_status st = store_check_text(texts[i].name, texts[i].v, e);
        if (st != BROCK_OK)
            return st;
    }
    if (!ok_number(r->cost_usd))
        return err_set(e, BROCK_ERR_USAGE, "store: ledger cost must be a finite number >= 0 USD");
    if (!ok_number(r->latency_ms) || !ok_number(r->ttft_ms))
        return err_set(e, BROCK_ERR_USAGE, "store: ledger latencies must be finite numbers >= 0");
    if (r->usage.input_tokens < 0 || r->usage.output_tokens < 0 || r->usage.cache_read_tokens < 0 ||
        r->usage.cache_write_tokens < 0 || r->retries < 0)
        return err_set(e, BROCK_ERR_USAGE, "store: ledger token counts and retries must be >= 0");
    return BROCK_OK;
}

static int64_t day_of(int64_t t_ms)
{
    return store_utc_day_start(t_ms) / STORE_DAY_MS;
}

/* The daily rollup's deltas for one (day, project, user, model). */
struct rollup {
    int64_t day;
    const char *project, *user, *model; /* never NULL ("" for none) */
    int64_t calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_hits, errors;
    double cost_usd, latency_ms;
};

static const char *nn(const char *v)
{
    return v ? v : "";
}

static void rollup_start(struct rollup *u, int64_t day, const struct store_ledger_row *row)
{
    *u = (struct rollup){.day = day, .project = nn(row->project), .user = nn(row->user), .model = nn(row->model)};
}

static bool rollup_matches(const struct rollup *u, int64_t day, const struct store_ledger_row *row)
{
    return u->day == day && !strcmp(u->model, nn(row->model)) && !strcmp(u->project, nn(row->project)) &&
           !strcmp(u->user, nn(row->user));
}

static void rollup_add(struct rollup *u, const struct store_ledger_row *row)
{
    u->calls++;
    u->input_tokens += row->usage.input_tokens;
    u->output_tokens += row->usage.output_tokens;
    u->cache_read_tokens += row->usage.cache_read_tokens;
    u->cache_write_tokens += row->usage.cache_write_tokens;
    u->cost_usd += row->cost_usd;
    u->cache_hits += row->cache_hit ? 1 : 0;
    u->errors += row->status && strcmp(row->status, "ok") == 0 ? 0 : 1;
    u->latency_ms += row->latency_ms;
}

/* Inside a transaction: the raw row (at time t) and the session's cost. */
static enum brock_status insert_row(struct store *s, const struct store_ledger_row *row, int64_t t, int64_t *id_out,
                                    struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_LEDGER_INSERT,
                                  "INSERT INTO ledger(time_ms, session_id, user, project, model, profile, region, api,"
                                  " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, latency_ms,"
                                  " ttft_ms, retries, status, request_id, cost_usd, cache_hit, routing)"
                                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                                  " ?17, ?18, ?19, ?20)",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, t);
    store_bind_str(st, 2, row->session_id);
    store_bind_str(st, 3, row->user);
    store_bind_str(st, 4, row->project);
    store_bind_str(st, 5, row->model);
    store_bind_str(st, 6, row->profile);
    store_bind_str(st, 7, row->region);
    store_bind_str(st, 8, row->api);
    sqlite3_bind_int64(st, 9, row->usage.input_tokens);
    sqlite3_bind_int64(st, 10, row->usage.output_tokens);
    sqlite3_bind_int64(st, 11, row->usage.cache_read_tokens);
    sqlite3_bind_int64(st, 12, row->usage.cache_write_tokens);
    sqlite3_bind_double(st, 13, row->latency_ms);
    sqlite3_bind_double(st, 14, row->ttft_ms);
    sqlite3_bind_int(st, 15, row->retries);
    store_bind_str(st, 16, row->status);
    store_bind_str(st, 17, row->request_id);
    sqlite3_bind_double(st, 18, row->cost_usd);
    sqlite3_bind_int(st, 19, row->cache_hit ? 1 : 0);
    store_bind_str(st, 20, row->routing);
    enum brock_status r = store_exec(s, st, "recording a model call", e);
    if (r != BROCK_OK)
        return r;
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(s->db);

    if (row->session_id && *row->session_id && row->cost_usd > 0) {
        st = store_prep(s, ST_LEDGER_SESSION_COST, "UPDATE sessions SET cost_usd = cost_usd + ?2 WHERE id = ?1", e);
        if (!st)
            return BROCK_ERR_IO;
        sqlite3_bind_text(st, 1, row->session_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, row->cost_usd);
        if ((r = store_exec(s, st, "adding to the session's cost", e)) != BROCK_OK)
            return r;
    }
    return BROCK_OK;
}

/* Inside a transaction: add the deltas to the daily rollup. */
static enum brock_status rollup_write(struct store *s, const struct rollup *u, struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_LEDGER_ROLLUP,
                                  "INSERT INTO ledger_day(day, project, user, model, calls, input_tokens, output_tokens,"
                                  " cache_read_tokens, cache_write_tokens, cost_usd, cache_hits, errors, latency_ms)"
                                  " VALUES(?1, ?2, ?3, ?4, ?13, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                                  " ON CONFLICT(day, project, user, model) DO UPDATE SET calls = calls + excluded.calls,"
                                  " input_tokens = input_tokens + excluded.input_tokens,"
                                  " output_tokens = output_tokens + excluded.output_tokens,"
                                  " cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,"
                                  " cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,"
                                  " cost_usd = cost_usd + excluded.cost_usd, cache_hits = cache_hits + excluded.cache_hits,"
                                  " errors = errors + excluded.errors, latency_ms = latency_ms + excluded.latency_ms",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, u->day);
    sqlite3_bind_text(st, 2, u->project, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, u->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, u->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, u->input_tokens);
    sqlite3_bind_int64(st, 6, u->output_tokens);
    sqlite3_bind_int64(st, 7, u->cache_read_tokens);
    sqlite3_bind_int64(st, 8, u->cache_write_tokens);
    sqlite3_bind_double(st, 9, u->cost_usd);
    sqlite3_bind_int64(st, 10, u->cache_hits);
    sqlite3_bind_int64(st, 11, u->errors);
    sqlite3_bind_double(st, 12, u->latency_ms);
    sqlite3_bind_int64(st, 13, u->calls);
    return store_exec(s, st, "updating the daily usage", e);
}

enum brock_status store_ledger_insert(struct store *s, const struct store_ledger_row *row, int64_t *id_out,
                                      struct brock_err *e)
{
    enum brock_status r = check_row(row, e);
    if (r != BROCK_OK)
        return r;
    int64_t t = row->time_ms ? row->time_ms : store_now(s);
    if ((r = store_tx_begin(s, "recording a model call", e)) != BROCK_OK)
        return r;
    int64_t id = 0;
    struct rollup u;
    rollup_start(&u, day_of(t), row);
    rollup_add(&u, row);
    if ((r = insert_row(s, row, t, &id, e)) != BROCK_OK || (r = rollup_write(s, &u, e)) != BROCK_OK) {
        store_tx_rollback(s);
        return r;
    }
    if ((r = store_tx_commit(s, "recording a model call", e)) != BROCK_OK)
        return r;
    if (id_out)
        *id_out = id;
    return BROCK_OK;
}

enum brock_status store_ledger_insert_many(struct store *s, const struct store_ledger_row *rows, size_t n,
                                           struct brock_err *e)
{
    if (n == 0)
        return BROCK_OK;
    if (n > STORE_LEDGER_MANY_MAX)
        return err_set(e, BROCK_ERR_USAGE, "store: %zu ledger rows at once (at most %zu)", n, STORE_LEDGER_MANY_MAX);
    for (size_t i = 0; i < n; i++) {
        enum brock_status r = check_row(&rows[i], e);
        if (r != BROCK_OK)
            return err_prefix(e, "ledger row %zu of %zu", i + 1, n);
    }
    int64_t now = store_now(s);
    enum brock_status r = store_tx_begin(s, "recording model calls", e);
    if (r != BROCK_OK)
        return r;
    /* one rollup update per (day, project, user, model): usually one per group */
    struct rollup *u = xmalloc(n * sizeof *u);
    size_t nu = 0;
    for (size_t i = 0; i < n && r == BROCK_OK; i++) {
        const struct store_ledger_row *row = &rows[i];
        int64_t t = row->time_ms ? row->time_ms : now, day = day_of(t);
        size_t k = 0;
        while (k < nu && !rollup_matches(&u[k], day, row))
            k++;
        if (k == nu)
            rollup_start(&u[nu++], day, row);
        rollup_add(&u[k], row);
        r = insert_row(s, row, t, NULL, e);
    }
    for (size_t k = 0; k < nu && r == BROCK_OK; k++)
        r = rollup_write(s, &u[k], e);
    free(u);
    if (r == BROCK_OK)
        return store_tx_commit(s, "recording model calls", e);
    store_tx_rollback(s);
    return r;
}

/* The split of a filter's since time (see the top of the file). */
struct span {
    int64_t first_day;      /* rollup days >= this */
    int64_t raw_lo, raw_hi; /* raw rows in [lo, hi) */
    int64_t partial_day;    /* the day of the raw rows */
};

static struct span split_since(int64_t since)
{
    struct span sp;
    if (since == 0) { /* everything */
        sp.first_day = INT64_MIN;
        sp.raw_lo = sp.raw_hi = 0;
        sp.partial_day = 0;
        return sp;
    }
    int64_t start = store_utc_day_start(since);
    sp.first_day = start / STORE_DAY_MS + (start == since ? 0 : 1);
    sp.raw_lo = since;
    sp.raw_hi = start == since ? since : (start > INT64_MAX - STORE_DAY_MS ? INT64_MAX : start + STORE_DAY_MS);
    sp.partial_day = start / STORE_DAY_MS;
    return sp;
}

static void bind_filter(sqlite3_stmt *st, const struct store_ledger_filter *f)
{
    store_bind_opt(st, 3, f ? f->project : NULL);
    store_bind_opt(st, 4, f ? f->user : NULL);
}

enum brock_status store_ledger_spend(struct store *s, const struct store_ledger_filter *f, double *usd,
                                     struct brock_err *e)
{
    *usd = 0;
    sqlite3_stmt *st = store_prep(s, ST_LEDGER_SPEND,
                                  "SELECT (SELECT total(cost_usd) FROM ledger_day WHERE day >= ?1" FILTER_SQL ")"
                                  " + (SELECT total(cost_usd) FROM ledger WHERE time_ms >= ?2 AND time_ms < ?5"
                                  FILTER_SQL ")",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    struct span sp = split_since(f ? f->since_ms : 0);
    sqlite3_bind_int64(st, 1, sp.first_day);
    sqlite3_bind_int64(st, 2, sp.raw_lo);
    sqlite3_bind_int64(st, 5, sp.raw_hi);
    bind_filter(st, f);
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    if (rc == SQLITE_ROW)
        *usd = sqlite3_column_double(st, 0);
    else
        r = store_dberr(s, e, rc, "reading the spend");
    store_done(st);
    return r;
}

/* The budget queries' days: ?1 the day of now_ms, ?2 the first day of its
 * month, ?end the first day of the next. */
static void bind_budget_days(sqlite3_stmt *st, int64_t now_ms, int end)
{
    int64_t month = store_utc_month_start(now_ms);
    int64_t next_month = store_utc_month_start(month + 32 * STORE_DAY_MS);
    sqlite3_bind_int64(st, 1, day_of(now_ms));
    sqlite3_bind_int64(st, 2, month / STORE_DAY_MS);
    sqlite3_bind_int64(st, end, next_month / STORE_DAY_MS);
}

enum brock_status store_ledger_budget(struct store *s, int64_t now_ms, const char *project, const char *user,
                                      double *today_usd, double *month_usd, struct brock_err *e)
{
    *today_usd = *month_usd = 0;
    if (!now_ms)
        now_ms = store_now(s);
    sqlite3_stmt *st = store_prep(s, ST_LEDGER_BUDGET,
                                  "SELECT total(CASE WHEN day = ?1 THEN cost_usd END), total(cost_usd)"
                                  " FROM ledger_day WHERE day >= ?2 AND day < ?5" FILTER_SQL,
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    bind_budget_days(st, now_ms, 5);
    struct store_ledger_filter f = {.project = project, .user = user};
    bind_filter(st, &f);
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    if (rc == SQLITE_ROW) {
        *today_usd = sqlite3_column_double(st, 0);
        *month_usd = sqlite3_column_double(st, 1);
    } else {
        r = store_dberr(s, e, rc, "reading the budget spend");
    }
    store_done(st);
    return r;
}

enum brock_status store_ledger_budget_by_user(struct store *s, int64_t now_ms, store_spend_fn fn, void *ctx,
                                              struct brock_err *e)
{
    if (!now_ms)
        now_ms = store_now(s);
    sqlite3_stmt *st = store_prep(s, ST_LEDGER_BUDGET_BY_USER,
                                  "SELECT user, total(CASE WHEN day = ?1 THEN cost_usd END), total(cost_usd)"
                                  " FROM ledger_day WHERE day >= ?2 AND day < ?3 GROUP BY user",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    bind_budget_days(st, now_ms, 3);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *user = (const char *)sqlite3_column_text(st, 0);
        fn(ctx, user ? user : "", sqlite3_column_double(st, 1), sqlite3_column_double(st, 2));
    }
    enum brock_status r = BROCK_OK;
    if (rc != SQLITE_DONE)
        r = store_dberr(s, e, rc, "reading the budget spend by user");
    store_done(st);
    return r;
}

/* Rollup days from ?1, raw rows in [?2, ?5) whose day is ?6, grouped by key. */
#define USAGE_SQL(KDAY, KRAW)                                                                                  \
    "SELECT k, sum(c), sum(i), sum(o), sum(cr), sum(cw), total(cost), sum(h), sum(er), total(lat) FROM ("     \
    "SELECT " KDAY " AS k, calls AS c, input_tokens AS i, output_tokens AS o, cache_read_tokens AS cr,"      \
    " cache_write_tokens AS cw, cost_usd AS cost, cache_hits AS h, errors AS er, latency_ms AS lat"           \
    " FROM ledger_day WHERE day >= ?1" FILTER_SQL                                                            \
    " UNION ALL SELECT " KRAW ", 1, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"      \
    " cost_usd, cache_hit, status <> 'ok', latency_ms FROM ledger WHERE time_ms >= ?2 AND time_ms < ?5"       \
    FILTER_SQL ") GROUP BY k ORDER BY k"

/* Totals add values read from the file, which a damaged file can make
 * anything: saturate instead of overflowing. */
static void add_sat(int64_t *acc, int64_t v)
{
    if (__builtin_add_overflow(*acc, v, acc))
        *acc = v > 0 ? INT64_MAX : INT64_MIN;
}

void store_usage_free(struct store_usage *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++)
        free(u->rows[i].key);
    free(u->rows);
    memset(u, 0, sizeof *u);
}

enum brock_status store_ledger_usage(struct store *s, enum store_group by, const struct store_ledger_filter *f,
                                     struct store_usage *out, struct brock_err *e)
{
    static const struct {
        enum store_stmt_id id;
        const char *sql;
    } q[] = {
        [STORE_BY_DAY] = {ST_LEDGER_USAGE_DAY, USAGE_SQL("day", "?6")},
        [STORE_BY_MODEL] = {ST_LEDGER_USAGE_MODEL, USAGE_SQL("model", "model")},
        [STORE_BY_PROJECT] = {ST_LEDGER_USAGE_PROJECT, USAGE_SQL("project", "project")},
        [STORE_BY_USER] = {ST_LEDGER_USAGE_USER, USAGE_SQL("user", "user")},
    };
    memset(out, 0, sizeof *out);
    if ((unsigned)by >= BROCK_ARRAY_LEN(q))
        return err_set(e, BROCK_ERR_USAGE, "store: unknown usage grouping %d", (int)by);
    sqlite3_stmt *st = store_prep(s, q[by].id, q[by].sql, e);
    if (!st)
        return BROCK_ERR_IO;
    struct span sp = split_since(f ? f->since_ms : 0);
    sqlite3_bind_int64(st, 1, sp.first_day);
    sqlite3_bind_int64(st, 2, sp.raw_lo);
    sqlite3_bind_int64(st, 5, sp.raw_hi);
    if (by == STORE_BY_DAY)
        sqlite3_bind_int64(st, 6, sp.partial_day);
    bind_filter(st, f);
    size_t cap = 0;
    int rc;
    struct store_usage_row *t = &out->total;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->rows = xrealloc(out->rows, cap * sizeof *out->rows);
        }
        struct store_usage_row *u = &out->rows[out->n++];
        if (by == STORE_BY_DAY) {
            char day[16];
            store_format_day(sqlite3_column_int64(st, 0), day);
            u->key = xstrdup(day);
        } else {
            u->key = store_col_dup(st, 0, NULL);
        }
        u->calls = sqlite3_column_int64(st, 1);
        u->input_tokens = sqlite3_column_int64(st, 2);
        u->output_tokens = sqlite3_column_int64(st, 3);
        u->cache_read_tokens = sqlite3_column_int64(st, 4);
        u->cache_write_tokens = sqlite3_column_int64(st, 5);
        u->cost_usd = sqlite3_column_double(st, 6);
        u->cache_hits = sqlite3_column_int64(st, 7);
        u->errors = sqlite3_column_int64(st, 8);
        double lat = sqlite3_column_double(st, 9);
        u->latency_ms_mean = u->calls > 0 ? lat / (double)u->calls : 0;
        add_sat(&t->calls, u->calls);
        add_sat(&t->input_tokens, u->input_tokens);
        add_sat(&t->output_tokens, u->output_tokens);
        add_sat(&t->cache_read_tokens, u->cache_read_tokens);
        add_sat(&t->cache_write_tokens, u->cache_write_tokens);
        add_sat(&t->cache_hits, u->cache_hits);
        add_sat(&t->errors, u->errors);
        t->cost_usd += u->cost_usd;
        t->latency_ms_mean += lat; /* a sum until the end */
    }
    t->latency_ms_mean = t->calls > 0 ? t->latency_ms_mean / (double)t->calls : 0;
    enum brock_status r = rc == SQLITE_DONE ? BROCK_OK : store_dberr(s, e, rc, "summarising usage");
    store_done(st);
    if (r != BROCK_OK)
        store_usage_free(out);
    return r;
}

/* ---- export ----------------------------------------------------------------- */

/* A JSON string for text that should be UTF-8 but, from a damaged file, may
 * not be: bytes jansson refuses become '?'. */
static json_t *json_text(const unsigned char *p, size_t n)
{
    if (!p)
        return json_string("");
    json_t *j = json_stringn((const char *)p, n);
    if (j)
        return j;
    char *c = xmemdup(p, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)c[i] >= 0x80 || c[i] == '\0')
            c[i] = '?';
    j = json_stringn(c, n);
    free(c);
    return j ? j : json_string("");
}

static json_t *json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

enum brock_status store_ledger_export_json(struct store *s, const struct store_ledger_filter *f, struct buf *out,
                                           struct brock_err *e)
{
    static const char *const names[] = {
        "id",        "time_ms",           "session_id",         "user",       "project",    "model",
        "profile",   "region",            "api",                "input_tokens", "output_tokens",
        "cache_read_tokens", "cache_write_tokens", "latency_ms", "ttft_ms", "retries", "status",
        "request_id", "cost_usd",         "cache_hit",          "routing",
    };
    sqlite3_stmt *st = store_prep(s, ST_LEDGER_EXPORT,
                                  "SELECT id, time_ms, session_id, user, project, model, profile, region, api,"
                                  " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, latency_ms,"
                                  " ttft_ms, retries, status, request_id, cost_usd, cache_hit, routing"
                                  " FROM ledger WHERE time_ms >= ?1" FILTER_SQL " ORDER BY time_ms, id",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    int64_t since = f ? f->since_ms : 0;
    sqlite3_bind_int64(st, 1, since ? since : INT64_MIN);
    bind_filter(st, f);
    buf_addc(out, '[');
    int rc;
    bool first = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && buf_status(out) == BROCK_OK) {
        json_t *o = json_object();
        for (int i = 0; i < (int)BROCK_ARRAY_LEN(names); i++) {
            json_t *v;
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                v = json_integer(sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                v = json_num(sqlite3_column_double(st, i));
                break;
            case SQLITE_NULL:
                v = json_null();
                break;
            default:
                v = json_text(sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
                break;
            }
            json_object_set_new(o, names[i], v);
        }
        json_t *ct = json_object_get(o, "cache_hit");
        if (json_is_integer(ct))
            json_object_set_new(o, "cache_hit", json_boolean(json_integer_value(ct) != 0));
        json_t *tm = json_object_get(o, "time_ms");
        if (json_is_integer(tm)) {
            char iso[21];
            int64_t ms = json_integer_value(tm);
            if (ms >= 0 && ms < INT64_C(253402300800000)) { /* years 1970..9999 */
                time_fmt_iso8601(ms / 1000, iso);
                json_object_set_new(o, "time", json_string(iso));
            }
        }
        char *txt = json_dump_compact(o);
        json_decref(o);
        buf_addstr(out, first ? "\n" : ",\n");
        buf_addstr(out, txt ? txt : "{}");
        free(txt);
        first = false;
    }
    enum brock_status r = BROCK_OK;
    if (buf_status(out) != BROCK_OK)
        r = err_set(e, BROCK_ERR_TOO_LARGE, "store: the ledger export is larger than %zu bytes", out->max);
    else if (rc != SQLITE_DONE)
        r = store_dberr(s, e, rc, "exporting the ledger");
    store_done(st);
    if (r != BROCK_OK)
        return r;
    buf_addstr(out, first ? "]\n" : "\n]\n");
    if (buf_status(out) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "store: the ledger export is larger than %zu bytes", out->max);
    return BROCK_OK;
}
