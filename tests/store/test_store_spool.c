/* Tests for src/store/store_spool.c, and the durability promise of the whole
 * store: append/read order, batch limits, deleting exactly the shipped ids,
 * ids never reused; a child killed with SIGKILL in the middle of appends loses
 * nothing it acknowledged (20 rounds); two appending processes and a shipper
 * in a third, starting on a database none of them has created yet. */
#include "../support/test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/store/store.h"
#include "../../src/util/alloc.h"
#include "../../src/util/fs.h"

struct fixture {
    char *dir;
    struct store *s;
};

static struct store *open_dir(const char *dir)
{
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&o, &s, &e) != BROCK_OK)
        fail_msg("store_open: %s", e.msg);
    return s;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->s = open_dir(f->dir);
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

static int64_t app(struct store *s, int64_t ts, const char *msg)
{
    int64_t id;
    struct brock_err e = {0};
    if (store_spool_append(s, ts, msg, strlen(msg), &id, &e) != BROCK_OK)
        fail_msg("append: %s", e.msg);
    return id;
}

static void read_batch(struct store *s, const struct store_spool_limits *lim, struct store_spool_batch *b)
{
    struct brock_err e = {0};
    if (store_spool_read(s, lim, b, &e) != BROCK_OK)
        fail_msg("read: %s", e.msg);
}

static void test_store_spool_order(void **state)
{
    struct fixture *f = *state;
    const struct {
        int64_t ts;
        const char *m;
    } in[] = {{5000, "a"}, {3000, "b"}, {3000, "c"}, {9000, "d"}, {1000, "e"}};
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = app(f->s, in[i].ts, in[i].m);
    struct store_spool_batch b;
    read_batch(f->s, NULL, &b);
    assert_int_equal(b.n, 5);
    /* by timestamp, then append order */
    const char *want = "ebcad";
    const int order[] = {4, 1, 2, 0, 3};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(b.ev[i].len, 1);
        assert_int_equal(b.ev[i].message[0], want[i]);
        assert_int_equal(b.ev[i].message[1], '\0');
        assert_int_equal(b.ev[i].id, ids[order[i]]);
        assert_int_equal(b.ev[i].ts_ms, in[order[i]].ts);
    }
    assert_int_equal(b.bytes, 5 * (1 + STORE_SPOOL_EVENT_OVERHEAD));
    store_spool_batch_free(&b);
    store_spool_batch_free(&b); /* twice is fine */
}

static void test_store_spool_limits(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 6; i++)
        app(f->s, 1000 + i * 1000, "0123456789"); /* 10 bytes + 26 = 36 each */
    struct store_spool_batch b;
    struct store_spool_limits lim = {.max_events = 2, .max_bytes = 1 << 20, .per_event_overhead = 26};
    read_batch(f->s, &lim, &b);
    assert_int_equal(b.n, 2);
    store_spool_batch_free(&b);

    lim = (struct store_spool_limits){.max_events = 100, .max_bytes = 72, .per_event_overhead = 26};
    read_batch(f->s, &lim, &b);
    assert_int_equal(b.n, 2); /* exactly at the limit */
    assert_int_equal(b.bytes, 72);
    store_spool_batch_free(&b);
    lim.max_bytes = 71;
    read_batch(f->s, &lim, &b);
    assert_int_equal(b.n, 1);
    store_spool_batch_free(&b);
    lim.max_bytes = 5; /* the first event always comes, alone */
    read_batch(f->s, &lim, &b);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.bytes, 36);
    store_spool_batch_free(&b);

    lim = (struct store_spool_limits){.max_span_ms = 2000};
    read_batch(f->s, &lim, &b);
    assert_int_equal(b.n, 3); /* 1000, 2000, 3000: a span of exactly 2000 */
    assert_int_equal(b.bytes, 30); /* no overhead asked for */
    store_spool_batch_free(&b);

    read_batch(f->s, NULL, &b); /* PutLogEvents' own limits */
    assert_int_equal(b.n, 6);
    store_spool_batch_free(&b);

    struct store *s = f->s;
    struct brock_err e = {0};
    int64_t n, bytes;
    assert_int_equal(store_spool_count(s, &n, &bytes, &e), BROCK_OK);
    assert_int_equal(n, 6);
    assert_int_equal(bytes, 60);
}

static void test_store_spool_delete_exactly(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    for (int i = 0; i < 4; i++)
        app(f->s, 100 + i, "old");
    struct store_spool_batch b;
    struct store_spool_limits lim = {.max_events = 2};
    read_batch(f->s, &lim, &b);
    assert_int_equal(b.n, 2);
    /* while the batch is being shipped, more events arrive, one of them older */
    app(f->s, 1, "older");
    app(f->s, 500, "newer");
    int64_t ids[3] = {b.ev[0].id, b.ev[1].id, 999999};
    size_t deleted = 0;
    assert_int_equal(store_spool_delete(f->s, ids, 3, &deleted, &e), BROCK_OK);
    assert_int_equal(deleted, 2);
    assert_int_equal(store_spool_delete(f->s, ids, 2, &deleted, &e), BROCK_OK);
    assert_int_equal(deleted, 0); /* already gone: nothing else is touched */
    store_spool_batch_free(&b);
    read_batch(f->s, NULL, &b);
    assert_int_equal(b.n, 4);
    assert_string_equal(b.ev[0].message, "older");
    assert_int_equal(b.ev[1].ts_ms, 102);
    assert_int_equal(b.ev[2].ts_ms, 103);
    assert_string_equal(b.ev[3].message, "newer");
    int64_t all[4];
    for (int i = 0; i < 4; i++)
        all[i] = b.ev[i].id;
    int64_t last = b.ev[3].id;
    store_spool_batch_free(&b);
    assert_int_equal(store_spool_delete(f->s, all, 4, &deleted, &e), BROCK_OK);
    assert_int_equal(deleted, 4);
    assert_int_equal(store_spool_delete(f->s, all, 0, &deleted, &e), BROCK_OK);
    /* the spool is empty; a new id is still never an old one */
    assert_true(app(f->s, 0, "fresh") > last);
    read_batch(f->s, NULL, &b);
    assert_int_equal(b.n, 1);
    assert_true(b.ev[0].ts_ms > 1700000000000LL); /* ts 0 = now */
    store_spool_batch_free(&b);
}

/* Pruning drops exactly the events older than the cut, oldest first, at most
 * max_rows at a time, and leaves a spool with nothing that old untouched. */
static void test_store_spool_prune(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    size_t n = 99;
    assert_int_equal(store_spool_prune(f->s, 5000, 0, &n, &e), BROCK_OK); /* empty */
    assert_int_equal(n, 0);
    app(f->s, 4000, "d");
    int64_t a = app(f->s, 1000, "a");
    app(f->s, 2000, "b");
    app(f->s, 3000, "c");
    int64_t keep = app(f->s, 5000, "e");
    app(f->s, 2000, "b2");
    assert_int_equal(store_spool_prune(f->s, 1000, 0, &n, &e), BROCK_OK); /* none older than 1000 */
    assert_int_equal(n, 0);
    assert_int_equal(store_spool_prune(f->s, 5000, 2, &n, &e), BROCK_OK); /* the two oldest: a, b */
    assert_int_equal(n, 2);
    struct store_spool_batch b;
    assert_int_equal(store_spool_read(f->s, NULL, &b, &e), BROCK_OK);
    assert_int_equal(b.n, 4);
    assert_string_equal(b.ev[0].message, "b2");
    assert_int_equal(b.ev[0].ts_ms, 2000);
    assert_true(b.ev[0].id != a);
    assert_string_equal(b.ev[1].message, "c");
    store_spool_batch_free(&b);
    assert_int_equal(store_spool_prune(f->s, 5000, 0, &n, &e), BROCK_OK); /* b2, c, d */
    assert_int_equal(n, 3);
    assert_int_equal(store_spool_read(f->s, NULL, &b, &e), BROCK_OK);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.ev[0].id, keep);
    store_spool_batch_free(&b);
    assert_int_equal(store_spool_prune(f->s, 5000, 0, NULL, &e), BROCK_OK);
    int64_t events, bytes;
    assert_int_equal(store_spool_count(f->s, &events, &bytes, &e), BROCK_OK);
    assert_int_equal(events, 1);
}

static void test_store_spool_bytes_and_caps(void **state)
{
    struct fixture *f = *state;
    struct brock_err e = {0};
    const char bin[] = {'a', '\0', 'b', (char)0xff, '\n', 'c'};
    assert_int_equal(store_spool_append(f->s, 7, bin, sizeof bin, NULL, &e), BROCK_OK);
    const char *utf8 = "{\"msg\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
    assert_int_equal(store_spool_append(f->s, 8, utf8, strlen(utf8), NULL, &e), BROCK_OK);
    struct store_spool_batch b;
    read_batch(f->s, NULL, &b);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.ev[0].len, sizeof bin);
    assert_memory_equal(b.ev[0].message, bin, sizeof bin);
    assert_string_equal(b.ev[1].message, utf8);
    store_spool_batch_free(&b);

    assert_int_equal(store_spool_append(f->s, 1, "", 0, NULL, &e), BROCK_ERR_USAGE);
    assert_int_equal(store_spool_append(f->s, 1, NULL, 3, NULL, &e), BROCK_ERR_USAGE);
    size_t n = STORE_SPOOL_MESSAGE_MAX + 1;
    char *big = xmalloc(n);
    memset(big, 'x', n);
    assert_int_equal(store_spool_append(f->s, 1, big, n, NULL, &e), BROCK_ERR_TOO_LARGE);
    assert_int_equal(store_spool_append(f->s, 1, big, n - 1, NULL, &e), BROCK_OK); /* the largest allowed */
    free(big);
    int64_t events, bytes;
    assert_int_equal(store_spool_count(f->s, &events, &bytes, &e), BROCK_OK);
    assert_int_equal(events, 3);
    assert_int_equal(bytes, (int64_t)(sizeof bin + strlen(utf8) + STORE_SPOOL_MESSAGE_MAX));
}

/* ---- SIGKILL in the middle of appends ------------------------------------------ */

struct ack {
    uint32_t kind; /* 1: spool event, 2: session message */
    uint32_t i;
};

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(7);
        c += w;
        n -= (size_t)w;
    }
}

static BROCK_NORETURN void kill_child(const char *dir, int wfd, int round)
{
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    char id[STORE_SESSION_ID_LEN + 1];
    if (store_open(&o, &s, NULL) != BROCK_OK || store_session_create(s, "/kill", "k", NULL, id, NULL) != BROCK_OK)
        _exit(3);
    write_all(wfd, id, sizeof id);
    for (uint32_t i = 0;; i++) {
        char m[64];
        int n = snprintf(m, sizeof m, "r%d-e%u", round, i);
        if (store_spool_append(s, 0, m, (size_t)n, NULL, NULL) != BROCK_OK)
            _exit(4);
        struct ack a = {1, i};
        write_all(wfd, &a, sizeof a); /* acknowledged only after append returned */
        snprintf(m, sizeof m, "\"r%d-m%u\"", round, i);
        struct store_message msg = {.role = i % 2 ? "assistant" : "user", .content_json = m};
        if (store_session_append(s, id, &msg, NULL, NULL) != BROCK_OK)
            _exit(5);
        a.kind = 2;
        write_all(wfd, &a, sizeof a);
    }
}

static bool read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

static void test_store_sigkill_loses_nothing_acknowledged(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    print_message("# kill rounds seed %u\n", seed);
    srand(seed);
    long total_acked = 0;
    for (int round = 0; round < 20; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            kill_child(dir, fds[1], round);
        }
        close(fds[1]);
        char id[STORE_SESSION_ID_LEN + 1];
        assert_true(read_full(fds[0], id, sizeof id));
        int kill_after = 1 + rand() % 400;
        long spool_acked = -1, msg_acked = -1;
        struct ack a;
        for (int k = 0; k < kill_after && read_full(fds[0], &a, sizeof a); k++) {
            if (a.kind == 1)
                spool_acked = a.i;
            else
                msg_acked = a.i;
        }
        usleep((useconds_t)(rand() % 3000)); /* let it get into the next commit */
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("round %d: the child stopped by itself (status %d)", round, status);
        while (read_full(fds[0], &a, sizeof a)) { /* acks written before the kill */
            if (a.kind == 1)
                spool_acked = a.i;
            else
                msg_acked = a.i;
        }
        close(fds[0]);
        total_acked += spool_acked + msg_acked + 2;

        /* Reopen (WAL recovery) and check every acknowledged write. */
        struct store *s = open_dir(dir);
        struct brock_err e = {0};
        char prefix[32];
        int plen = snprintf(prefix, sizeof prefix, "r%d-e", round);
        char *seen = xcalloc((size_t)spool_acked + 3, 1);
        for (;;) {
            struct store_spool_batch b;
            read_batch(s, NULL, &b);
            if (b.n == 0) {
                store_spool_batch_free(&b);
                break;
            }
            int64_t *ids = xmalloc(b.n * sizeof *ids);
            for (size_t i = 0; i < b.n; i++) {
                ids[i] = b.ev[i].id;
                if (strncmp(b.ev[i].message, prefix, (size_t)plen) != 0)
                    fail_msg("round %d: event from another round: %s", round, b.ev[i].message);
                long idx = strtol(b.ev[i].message + plen, NULL, 10);
                if (idx > spool_acked + 1) /* at most the one in flight beyond the acks */
                    fail_msg("round %d: event %ld beyond the in-flight one (acked %ld)", round, idx, spool_acked);
                if (seen[idx]++)
                    fail_msg("round %d: event %ld twice", round, idx);
            }
            size_t deleted;
            assert_int_equal(store_spool_delete(s, ids, b.n, &deleted, &e), BROCK_OK);
            assert_int_equal(deleted, b.n);
            free(ids);
            store_spool_batch_free(&b);
        }
        for (long i = 0; i <= spool_acked; i++)
            if (!seen[i])
                fail_msg("round %d: acknowledged event %ld lost (acked up to %ld)", round, i, spool_acked);
        free(seen);

        struct store_transcript t;
        assert_int_equal(store_session_load(s, id, true, &t, &e), BROCK_OK);
        if ((long)t.n < msg_acked + 1 || (long)t.n > msg_acked + 2)
            fail_msg("round %d: %zu messages, acknowledged %ld", round, t.n, msg_acked + 1);
        for (size_t i = 0; i < t.n; i++) {
            char want[64];
            snprintf(want, sizeof want, "\"r%d-m%zu\"", round, i);
            assert_int_equal(t.messages[i].seq, (int64_t)i + 1);
            assert_string_equal(t.messages[i].content_json, want);
        }
        assert_int_equal(t.info.message_count, (int64_t)t.n);
        store_transcript_cleanup(&t);
        store_close(s);
    }
    print_message("# 20 rounds, %ld acknowledged writes, none lost\n", total_acked);
    free(dir);
}

/* ---- two appending processes and a shipper ---------------------------------------- */

#define PER_CHILD 1500

static BROCK_NORETURN void appender_child(const char *dir, int which)
{
    struct store_options o = {.dir = dir};
    struct store *s = NULL;
    struct brock_err e = {0};
    if (store_open(&o, &s, &e) != BROCK_OK) {
        fprintf(stderr, "child %d: %s\n", which, e.msg);
        _exit(3);
    }
    for (int i = 0; i < PER_CHILD; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "c%d-%d", which, i);
        if (store_spool_append(s, 0, m, (size_t)n, NULL, &e) != BROCK_OK) {
            fprintf(stderr, "child %d: %s\n", which, e.msg);
            _exit(4);
        }
    }
    store_close(s);
    _exit(0);
}

static void test_store_spool_two_appenders_and_a_shipper(void **state)
{
    (void)state;
    char *tmp = test_tmpdir();
    char *dir = fs_join(tmp, "fresh"); /* nobody has created it yet */
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0)
            appender_child(dir, k);
    }
    struct store *s = open_dir(dir); /* the shipper races them to create the file */
    char *seen = xcalloc(2 * PER_CHILD, 1);
    int running = 2, batches = 0;
    long shipped = 0;
    struct brock_err e = {0};
    for (;;) {
        struct store_spool_batch b;
        struct store_spool_limits lim = {.max_events = 200, .per_event_overhead = 26};
        read_batch(s, &lim, &b);
        for (size_t i = 1; i < b.n; i++)
            assert_true(b.ev[i].ts_ms >= b.ev[i - 1].ts_ms); /* PutLogEvents order */
        int64_t *ids = xmalloc((b.n + 1) * sizeof *ids);
        for (size_t i = 0; i < b.n; i++) {
            int which, idx;
            if (sscanf(b.ev[i].message, "c%d-%d", &which, &idx) != 2 || which < 0 || which > 1 || idx < 0 ||
                idx >= PER_CHILD)
                fail_msg("unexpected event %s", b.ev[i].message);
            if (seen[which * PER_CHILD + idx]++)
                fail_msg("event %s shipped twice", b.ev[i].message);
            ids[i] = b.ev[i].id;
        }
        size_t deleted;
        assert_int_equal(store_spool_delete(s, ids, b.n, &deleted, &e), BROCK_OK);
        assert_int_equal(deleted, b.n);
        shipped += (long)b.n;
        batches += b.n > 0;
        free(ids);
        bool empty = b.n == 0;
        store_spool_batch_free(&b);
        for (int k = 0; k < 2; k++) {
            int status;
            if (kids[k] > 0 && waitpid(kids[k], &status, WNOHANG) == kids[k]) {
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    fail_msg("appender %d failed (status %d)", k, status);
                kids[k] = -1;
                running--;
            }
        }
        if (empty) {
            if (running == 0)
                break;
            usleep(500);
        }
    }
    for (int i = 0; i < 2 * PER_CHILD; i++)
        if (seen[i] != 1)
            fail_msg("event c%d-%d shipped %d times", i / PER_CHILD, i % PER_CHILD, seen[i]);
    print_message("# %ld events from 2 processes shipped once each in %d batches\n", shipped, batches);
    int64_t n, bytes;
    assert_int_equal(store_spool_count(s, &n, &bytes, &e), BROCK_OK);
    assert_int_equal(n, 0);
    store_close(s);
    free(seen);
    free(dir);
    free(tmp);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_spool_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_spool_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_spool_delete_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_spool_bytes_and_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_spool_prune, setup, teardown),
        cmocka_unit_test(test_store_sigkill_loses_nothing_acknowledged),
        cmocka_unit_test(test_store_spool_two_appenders_and_a_shipper),
    };
    return cmocka_run_group_tests_name("store_spool", tests, NULL, NULL);
}
