/* bench_spend.c - what the gateway's spend refresh costs with many users.
 *
 * The gateway reads every user's spend this day and this month from the
 * ledger at start, after a reload that adds a user, and once a minute. This
 * fills a store's ledger with USERS users x 3 models x every day of this
 * month so far (the rollup holds a row per day, project, user and model),
 * then times, interleaved ROUNDS times:
 *
 *   - per user: store_ledger_budget() once for each user (how the refresh
 *     read them before); at thousands of users only the first SAMPLE users
 *     are read and the time is scaled to all of them (said in the output);
 *   - one query: store_ledger_budget_by_user() (how it reads them now),
 *     checked against the per-user figures for the users it read.
 *
 * Prints a markdown row per user count with medians, and "RESULT ..." lines.
 *
 * Usage: bench_spend DIR [ROUNDS [SAMPLE]]   (defaults 5, 64); DIR must not
 * exist or be empty. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/crypto.h"
#include "../src/store/store.h"
#include "../src/util/alloc.h"
#include "../src/util/timeutil.h"

#define DAY 86400000LL

static void die(const char *what, const struct brock_err *e)
{
    fprintf(stderr, "bench_spend: %s: %s\n", what, e->msg);
    exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t median(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    return v[n / 2];
}

static const char *const k_models[] = {"us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                       "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                                       "us.anthropic.claude-opus-4-1-20250805-v1:0"};

static void user_name(unsigned i, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:iam::111122223333:user/dev-%04u", i);
}

struct got {
    size_t n;
    double check; /* the sum of every month figure */
};

static void on_user(void *ctx, const char *user, double today, double month)
{
    (void)user;
    (void)today;
    struct got *g = ctx;
    g->n++;
    g->check += month;
}

/* Fill users [from, to) for every day of this month up to today. */
static void fill(struct store *s, unsigned from, unsigned to, int64_t now)
{
    int64_t m0 = store_utc_month_start(now);
    size_t days = (size_t)((now - m0) / DAY) + 1;
    size_t n = (size_t)(to - from) * days * 3;
    struct store_ledger_row *rows = xcalloc(n ? n : 1, sizeof *rows);
    char(*names)[64] = xcalloc(to - from + 1, sizeof *names);
    size_t k = 0;
    for (unsigned u = from; u < to; u++) {
        user_name(u, names[u - from], sizeof names[0]);
        for (size_t d = 0; d < days; d++)
            for (int m = 0; m < 3; m++)
                rows[k++] = (struct store_ledger_row){
                    .time_ms = m0 + (int64_t)d * DAY + 3600000, .session_id = "bench", .user = names[u - from],
                    .project = "team", .model = k_models[m], .profile = k_models[m], .region = "us-west-2",
                    .api = "invoke", .status = "ok", .request_id = "r", .cost_usd = 0.01 * (1 + m),
                    .routing = "explicit"};
    }
    struct brock_err e = {0};
    for (size_t at = 0; at < n; at += 4096) /* store_ledger_insert_many's most */
        if (store_ledger_insert_many(s, rows + at, n - at < 4096 ? n - at : 4096, &e) != BROCK_OK)
            die("filling the ledger", &e);
    free(rows);
    free(names);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_spend DIR [ROUNDS [SAMPLE]]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    unsigned sample = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 64;
    if (rounds < 1)
        rounds = 1;
    if (!sample)
        sample = 1;
    crypto_global_init();
    struct brock_err e = {0};
    struct store_options so = {.dir = argv[1]};
    struct store *s;
    if (store_open(&so, &s, &e) != BROCK_OK)
        die("store_open", &e);
    int64_t now = time_now_ms();
    int64_t days = (now - store_utc_month_start(now)) / DAY + 1;
    printf("Ledger rollup: a row per user, model (3) and day of this month so far (%lld days)\n\n", (long long)days);
    printf("| users | rollup rows | per user (before): ms | one query (now): ms | ratio |\n");
    printf("|---:|---:|---:|---:|---:|\n");
    static const unsigned counts[] = {16, 256, 4096};
    unsigned filled = 0;
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        unsigned users = counts[c];
        fill(s, filled, users, now);
        filled = users;
        unsigned read = users < sample ? users : sample;
        int64_t *per = xcalloc((size_t)rounds, sizeof *per), *one = xcalloc((size_t)rounds, sizeof *one);
        for (int r = 0; r < rounds; r++) {
            double sum_per = 0;
            int64_t t0 = time_mono_ns();
            for (unsigned u = 0; u < read; u++) {
                char name[64];
                double d, m;
                user_name(u, name, sizeof name);
                if (store_ledger_budget(s, now, NULL, name, &d, &m, &e) != BROCK_OK)
                    die("store_ledger_budget", &e);
                sum_per += m;
            }
            per[r] = (time_mono_ns() - t0) * (int64_t)users / (int64_t)read;
            struct got g = {0};
            t0 = time_mono_ns();
            if (store_ledger_budget_by_user(s, now, on_user, &g, &e) != BROCK_OK)
                die("store_ledger_budget_by_user", &e);
            one[r] = time_mono_ns() - t0;
            /* every user spent the same: the sample's sum scaled is the whole */
            double want = sum_per * users / read;
            if (g.n != users || fabs(g.check - want) > 1e-6 * want) {
                fprintf(stderr, "bench_spend: the one query read %zu users ($%.4f), want %u ($%.4f)\n", g.n,
                        g.check, users, want);
                return 1;
            }
        }
        double p = (double)median(per, (size_t)rounds) / 1e6, o = (double)median(one, (size_t)rounds) / 1e6;
        char scaled[48] = "";
        if (read < users)
            snprintf(scaled, sizeof scaled, " (%u users read, scaled)", read);
        printf("| %u | %lld | %.1f%s | %.2f | %.0f |\n", users, (long long)users * 3 * days, p, scaled, o, p / o);
        printf("RESULT users=%u per_user_ms=%.3f one_query_ms=%.3f\n", users, p, o);
        free(per);
        free(one);
    }
    store_close(s);
    return 0;
}
