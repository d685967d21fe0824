/* bench_monitor.c - the audit trail's cost: building an event, spooling it,
 * and shipping the spool to CloudWatch Logs.
 *
 *   - audit_build: one event (metadata content, EMF), in memory; and one
 *     with "full" content (4 KiB prompt and answer, with secrets to redact);
 *   - audit_record: build + spool append (a committed SQLite insert), the
 *     part that runs on the request path;
 *   - ship throughput: EVENTS spooled events (about 1.4 KiB each, as brock
 *     writes them) shipped with PutLogEvents to `brock emulate` started in
 *     this process on loopback (the emulator validates every limit, parses
 *     the JSON and extracts the EMF metrics, so it is the slower side);
 *     events/s, MiB/s and calls, wall clock.
 *
 * Times are the monotonic wall clock; medians and 99th percentiles in µs,
 * the 99th percentile also over the samples the scheduler did not preempt
 * (on a shared machine a preempted sample costs a whole time slice).
 * The last line is "RESULT ..." for scripts.
 *
 * Usage: bench_monitor DIR [EVENTS [ITERS]]  (defaults 20000 and 3000).
 * DIR is the store's directory (a disk, not tmpfs, for honest numbers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../src/aws/client.h"
#include "../src/aws/crypto.h"
#include "../src/monitor/audit.h"
#include "../src/monitor/shipper.h"
#include "../src/server/emulator.h"
#include "../src/util/alloc.h"
#include "../src/util/timeutil.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const struct brock_err *e)
{
    fprintf(stderr, "bench_monitor: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

/* Samples, and which of them were not preempted (no involuntary context
 * switch while timed). */
struct samples {
    int64_t *ns, *np;
    size_t n, nnp;
    struct rusage ru;
    int64_t t0;
};

static void start(struct samples *s)
{
    getrusage(RUSAGE_THREAD, &s->ru);
    s->t0 = time_mono_ns();
}

static void stop(struct samples *s)
{
    int64_t t = time_mono_ns() - s->t0;
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    s->ns[s->n++] = t;
    if (ru.ru_nivcsw == s->ru.ru_nivcsw)
        s->np[s->nnp++] = t;
}

static void report(const char *what, struct samples *s, double *median_out)
{
    qsort(s->ns, s->n, sizeof *s->ns, cmp_i64);
    qsort(s->np, s->nnp, sizeof *s->np, cmp_i64);
    double med = (double)s->ns[s->n / 2] / 1000.0, p99 = (double)s->ns[s->n * 99 / 100] / 1000.0;
    double p99np = s->nnp ? (double)s->np[s->nnp * 99 / 100] / 1000.0 : 0;
    printf("| %s | %.1f | %.1f | %.1f | %zu/%zu |\n", what, med, p99, p99np, s->n - s->nnp, s->n);
    if (median_out)
        *median_out = med;
    s->n = s->nnp = 0;
}

static struct audit_call typical_call(int i)
{
    static const char *tools[] = {"Read", "Edit"};
    return (struct audit_call){
        .time_ms = 0,
        .session_id = "3f2b0c9e-1111-4222-8333-444455556666",
        .project = "brock",
        .caller_arn = "arn:aws:sts::123456789012:assumed-role/Dev/alice",
        .account = "123456789012",
        .model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        .profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        .region = "us-west-2",
        .api = "messages",
        .purpose = "turn",
        .usage = {.input_tokens = 1200 + i % 100,
                  .output_tokens = 300,
                  .cache_read_tokens = 40000,
                  .cache_write_tokens = 0},
        .cost_usd = 0.0213,
        .latency_ms = 2345.6,
        .ttft_ms = 410.2,
        .status = "ok",
        .request_id = "c0ffee00-1234-4abc-8def-0123456789ab",
        .routing = "auto: sonnet (tools needed)",
        .prompt = "Fix the failing test in tests/util/test_util.c and explain the change.",
        .prompt_len = 71,
        .answer = "The test compared the wrong buffer; I changed line 42 to compare b.ptr.",
        .answer_len = 71,
        .tools = tools,
        .n_tools = 2,
    };
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_monitor DIR [EVENTS [ITERS]]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t events = argc > 2 ? (size_t)atol(argv[2]) : 20000;
    size_t iters = argc > 3 ? (size_t)atol(argv[3]) : 3000;
    if (events < 1 || iters < 10) {
        fprintf(stderr, "bench_monitor: EVENTS >= 1 and ITERS >= 10\n");
        return 2;
    }
    crypto_global_init();
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK)
        die("http", &e);
    struct monitor_config cfg;
    monitor_config_init(&cfg);
    snprintf(cfg.log_group, sizeof cfg.log_group, "/brock/bench");
    snprintf(cfg.log_stream, sizeof cfg.log_stream, "bench");
    struct samples sm = {.ns = xmalloc(iters * sizeof(int64_t)), .np = xmalloc(iters * sizeof(int64_t))};
    struct buf b = BUF_INIT(AUDIT_EVENT_MAX);

    printf("| operation | median µs | p99 µs | p99 µs, not preempted | preempted |\n|---|---|---|---|---|\n");
    /* 1. building an event */
    double build_us, full_us, record_us;
    for (size_t i = 0; i < iters; i++) {
        struct audit_call c = typical_call((int)i);
        buf_reset(&b);
        start(&sm);
        if (audit_build(&cfg, &c, 1735689600000LL, &b, NULL, &e) != BROCK_OK)
            die("audit_build", &e);
        stop(&sm);
    }
    size_t event_bytes = b.len;
    report("audit_build (metadata, EMF)", &sm, &build_us);

    char *big = xmalloc(4097);
    for (size_t i = 0; i < 4096; i++)
        big[i] = "lorem ipsum dolor sit amet, consectetur adipiscing elit\n"[i % 57];
    memcpy(big + 1000, "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 62);
    memcpy(big + 3000, "AKIAIOSFODNN7EXAMPLE", 20);
    big[4096] = '\0';
    struct monitor_config full = cfg;
    full.content = MONITOR_CONTENT_FULL;
    for (size_t i = 0; i < iters; i++) {
        struct audit_call c = typical_call((int)i);
        c.prompt = c.answer = big;
        c.prompt_len = c.answer_len = 4096;
        buf_reset(&b);
        start(&sm);
        if (audit_build(&full, &c, 1735689600000LL, &b, NULL, &e) != BROCK_OK)
            die("audit_build full", &e);
        stop(&sm);
    }
    report("audit_build (full, 2 x 4 KiB redacted)", &sm, &full_us);
    free(big);
    buf_free(&b);

    /* 2. the request path: build + spool append */
    struct store_options so = {.dir = dir};
    struct store *s = NULL;
    if (store_open(&so, &s, &e) != BROCK_OK)
        die("store", &e);
    for (size_t i = 0; i < iters; i++) {
        struct audit_call c = typical_call((int)i);
        start(&sm);
        if (audit_record(s, &cfg, &c, 0, &e) != BROCK_OK)
            die("audit_record", &e);
        stop(&sm);
    }
    report("audit_record (build + spool append)", &sm, &record_us);

    /* 3. shipping to the emulator on loopback */
    int64_t now = time_now_ms();
    for (size_t i = iters; i < events; i++) {
        struct audit_call c = typical_call((int)i);
        c.time_ms = now - 60000 + (int64_t)(i % 1000);
        if (audit_record(s, &cfg, &c, 0, &e) != BROCK_OK)
            die("audit_record", &e);
    }
    struct emulator *em = NULL;
    struct emulator_options eo = {0};
    if (emulator_start(&eo, &em, &e) != BROCK_OK)
        die("emulator", &e);
    struct aws_credentials *cr =
        aws_credentials_new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, 0, "bench");
    struct retry_config rc;
    retry_config_init(&rc);
    struct retry_policy *rp = retry_policy_new(&rc);
    struct aws_client_config cc = {
        .region = "us-west-2", .endpoint_url = emulator_url(em), .creds = aws_creds_source_static(cr), .retry = rp};
    struct aws_client *client = aws_client_new(&cc);
    struct shipper_options o = {.store = s, .client = client, .cfg = &cfg, .host = "bench", .user = "bench"};
    struct shipper_stats st;
    int64_t t0 = time_mono_ns();
    if (shipper_run(&o, &st, &e) != BROCK_OK)
        die("ship", &e);
    double secs = (double)(time_mono_ns() - t0) / 1e9;
    double eps = (double)st.shipped / secs, mibs = (double)st.bytes / secs / (1024 * 1024);
    printf("\nship: %lld events (%.1f MiB, %zu bytes each) in %lld PutLogEvents calls, %.2f s: %.0f events/s, "
           "%.1f MiB/s; %lld left\n",
           (long long)st.shipped, (double)st.bytes / (1024 * 1024), event_bytes, (long long)st.requests, secs, eps,
           mibs, (long long)st.remaining);
    printf("RESULT build_us=%.1f full_build_us=%.1f record_us=%.1f ship_events_per_s=%.0f ship_mib_per_s=%.1f\n",
           build_us, full_us, record_us, eps, mibs);
    aws_client_free(client);
    retry_policy_free(rp);
    aws_credentials_release(cr);
    emulator_stop(em);
    store_close(s);
    free(sm.ns);
    free(sm.np);
    http_global_cleanup();
    return st.remaining == 0 ? 0 : 1;
}
