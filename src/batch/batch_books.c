/* batch_books.c - the usage ledger rows of a batch, written in groups (batch_int.h).
 *
 * One SQLite transaction per ledger row costs ~35 us of CPU (BEGIN
 * IMMEDIATE's locks, a commit's WAL frames and wal-index, the rollup
 * upsert); a batch writes a row per record, at 10-20 k records/s. So rows
 * are kept here (copied: the caller's strings may go away) and written by
 * one store_ledger_insert_many -- one transaction, one rollup update per
 * (day, project, user, model) -- when BATCH_BOOKS_ROWS are waiting or the
 * oldest has waited BATCH_BOOKS_MS, whichever comes first, and always
 * before the caller writes output records or reads the ledger (budget
 * checks), and at the end of a run (Ctrl-C and SIGTERM included). No
 * database lock is held between commits. A row keeps the time it was
 * added (the answer's), not its group's commit.
 *
 * Crash semantics (docs/batch.md, "Stopping and resuming"): the engines add
 * a record's row before the record counts as finished, and commit before
 * they append finished records to the output and move the checkpoint past
 * them. So whatever the checkpoint says is done has its ledger row
 * committed. A kill (SIGKILL, a crash) loses at most the rows still
 * waiting here, which all belong to records that are not in the output yet:
 * the next run asks for those again and records them then (the ledger
 * misses the lost calls, as it misses calls in flight at the kill). A kill
 * between a commit and the output write leaves rows for records the next
 * run asks again: the ledger shows those calls twice, as they were made
 * twice. Power loss follows the store's rule (synchronous=NORMAL: the last
 * commits may roll back). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/timeutil.h"
#include "batch_int.h"

#define NSTR 10
#define ARENA_MAX ((size_t)BATCH_BOOKS_ROWS * NSTR * (STORE_TEXT_MAX + 1))

struct batch_books_row {
    struct store_ledger_row row;
    size_t off[NSTR]; /* the strings, in the arena; SIZE_MAX for NULL */
};

static const char **field(struct store_ledger_row *r, int i)
{
    switch (i) {
    case 0: return &r->session_id;
    case 1: return &r->user;
    case 2: return &r->project;
    case 3: return &r->model;
    case 4: return &r->profile;
    case 5: return &r->region;
    case 6: return &r->api;
    case 7: return &r->status;
    case 8: return &r->request_id;
    default: return &r->routing;
    }
}

void batch_books_init(struct batch_books *b, const struct batch_options *o)
{
    *b = (struct batch_books){.store = o->store, .o = o};
    if (b->store) {
        b->rows = xcalloc(BATCH_BOOKS_ROWS, sizeof *b->rows);
        b->flat = xcalloc(BATCH_BOOKS_ROWS, sizeof *b->flat);
        buf_init(&b->arena, ARENA_MAX);
    }
}

void batch_books_free(struct batch_books *b)
{
    free(b->rows);
    free(b->flat);
    buf_free(&b->arena);
    b->rows = NULL;
    b->flat = NULL;
    b->n = 0;
}

static void books_warn(struct batch_books *b, const char *msg)
{
    if (b->o->on_warning)
        b->o->on_warning(b->o->cb_ctx, msg);
}

void batch_books_add(struct batch_books *b, const struct store_ledger_row *row)
{
    if (!b->store)
        return;
    struct store_ledger_row r = *row;
    for (int i = 0; i < NSTR; i++) {
        const char *v = *field(&r, i);
        if (v && strlen(v) > STORE_TEXT_MAX) {
            /* the store refuses it (a field over its cap): say so, as without groups */
            struct brock_err e = {0};
            if (store_ledger_insert(b->store, row, NULL, &e) != BROCK_OK) {
                char msg[900];
                snprintf(msg, sizeof msg, "usage ledger: %s", e.msg);
                books_warn(b, msg);
                b->lost++;
            }
            return;
        }
    }
    if (b->n == BATCH_BOOKS_ROWS)
        batch_books_commit(b);
    struct batch_books_row *p = &b->rows[b->n];
    p->row = r;
    if (!p->row.time_ms)
        p->row.time_ms = store_clock_ms(b->store);
    for (int i = 0; i < NSTR; i++) {
        const char *v = *field(&p->row, i);
        p->off[i] = v ? b->arena.len : SIZE_MAX;
        if (v)
            buf_add(&b->arena, v, strlen(v) + 1); /* fits: ARENA_MAX > rows x fields x STORE_TEXT_MAX */
    }
    if (b->n++ == 0)
        b->first_ms = time_mono_ms();
    if (b->n == BATCH_BOOKS_ROWS)
        batch_books_commit(b);
}

void batch_books_commit(struct batch_books *b)
{
    if (!b->n)
        return;
    size_t n = b->n;
    b->n = 0;
    for (size_t k = 0; k < n; k++) {
        b->flat[k] = b->rows[k].row;
        for (int i = 0; i < NSTR; i++)
            *field(&b->flat[k], i) = b->rows[k].off[i] == SIZE_MAX ? NULL : b->arena.ptr + b->rows[k].off[i];
    }
    struct brock_err e = {0};
    enum brock_status st = store_ledger_insert_many(b->store, b->flat, n, &e);
    if (st == BROCK_ERR_USAGE || st == BROCK_ERR_TOO_LARGE) {
        /* a row the store refuses (a field over its cap): the others go in
         * one by one, each refusal is reported, as without groups */
        for (size_t k = 0; k < n; k++) {
            struct brock_err re = {0};
            if (store_ledger_insert(b->store, &b->flat[k], NULL, &re) != BROCK_OK) {
                char msg[900];
                snprintf(msg, sizeof msg, "usage ledger: %s", re.msg);
                books_warn(b, msg);
                b->lost++;
            }
        }
    } else if (st != BROCK_OK) {
        char msg[1000];
        snprintf(msg, sizeof msg, "usage ledger: %zu model call%s not recorded: %s", n, n == 1 ? "" : "s", e.msg);
        books_warn(b, msg);
        b->lost += n;
    }
    buf_reset(&b->arena);
}

int64_t batch_books_due(const struct batch_books *b)
{
    return b->n ? b->first_ms + BATCH_BOOKS_MS : -1;
}
