/* store_cache.c - the response cache: exact-match answers with a TTL and a
 * total size limit kept by LRU eviction.
 *
 * The counters (entries, bytes, hits, misses, evictions, expirations) live in
 * the one-row cache_stats table and change in the same transaction as the
 * entries, so every process sharing the file sees the same figures and the
 * size check never scans the table. LRU order is a counter (`tick`) bumped by
 * every put and hit, not a clock, so it is exact even within a millisecond;
 * the least recently used entry is the lowest used_tick (indexed). */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "../aws/crypto.h"
#include "../util/alloc.h"
#include "../util/codec.h"

#define CACHE_TTL_MAX_S ((int64_t)10 * 366 * 86400) /* ten years */

struct deltas {
    int64_t entries, bytes, hits, misses, evictions, expirations, tick;
};

static enum brock_status parse_key(const char *hex, uint8_t key[SHA256_LEN], struct brock_err *e)
{
    if (!hex || strlen(hex) != SHA256_HEX_LEN || !hex_decode(hex, SHA256_HEX_LEN, key))
        return err_set(e, BROCK_ERR_USAGE, "store: a cache key is %d hex digits (a SHA-256)", SHA256_HEX_LEN);
    return BROCK_OK;
}

/* Apply counter deltas; *tick and *total_bytes (may be NULL) get the new values. */
static enum brock_status stats_add(struct store *s, const struct deltas *d, int64_t *tick, int64_t *total_bytes,
                                   struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_CACHE_STATS_ADD,
                                  "UPDATE cache_stats SET entries = entries + ?1, bytes = bytes + ?2,"
                                  " hits = hits + ?3, misses = misses + ?4, evictions = evictions + ?5,"
                                  " expirations = expirations + ?6, tick = tick + ?7 WHERE id = 1"
                                  " RETURNING tick, bytes",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, d->entries);
    sqlite3_bind_int64(st, 2, d->bytes);
    sqlite3_bind_int64(st, 3, d->hits);
    sqlite3_bind_int64(st, 4, d->misses);
    sqlite3_bind_int64(st, 5, d->evictions);
    sqlite3_bind_int64(st, 6, d->expirations);
    sqlite3_bind_int64(st, 7, d->tick);
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    if (rc == SQLITE_ROW) {
        if (tick)
            *tick = sqlite3_column_int64(st, 0);
        if (total_bytes)
            *total_bytes = sqlite3_column_int64(st, 1);
        rc = sqlite3_step(st);
    } else if (rc == SQLITE_DONE) {
        r = err_set(e, BROCK_ERR_IO, "%s: the cache counters are missing (damaged database?)", s->path);
    }
    if (r == BROCK_OK && rc != SQLITE_DONE)
        r = store_dberr(s, e, rc, "updating the cache counters");
    store_done(st);
    return r;
}

/* Delete one entry; *bytes gets its size, *found whether it existed. */
static enum brock_status delete_key(struct store *s, const void *key, size_t keylen, bool *found, int64_t *bytes,
                                    struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_CACHE_DELETE, "DELETE FROM cache WHERE key = ?1 RETURNING bytes", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_blob(st, 1, key, (int)keylen, SQLITE_STATIC);
    *found = false;
    *bytes = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *found = true;
        *bytes += sqlite3_column_int64(st, 0);
    }
    enum brock_status r = rc == SQLITE_DONE ? BROCK_OK : store_dberr(s, e, rc, "removing a cache entry");
    store_done(st);
    return r;
}

/* Remove every entry expired at `now`, counting them in the stats. */
static enum brock_status purge_expired(struct store *s, int64_t now, int64_t *removed, int64_t *total_bytes,
                                       struct brock_err *e)
{
    sqlite3_stmt *st = store_prep(s, ST_CACHE_EXPIRED, "DELETE FROM cache WHERE expires_ms <= ?1 RETURNING bytes", e);
    if (!st)
        return BROCK_ERR_IO;
    sqlite3_bind_int64(st, 1, now);
    struct deltas d = {0};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        d.entries--;
        d.bytes -= sqlite3_column_int64(st, 0);
    }
    enum brock_status r = rc == SQLITE_DONE ? BROCK_OK : store_dberr(s, e, rc, "removing expired cache entries");
    store_done(st);
    d.expirations = -d.entries;
    if (removed)
        *removed = d.expirations;
    if (r == BROCK_OK)
        r = stats_add(s, &d, NULL, total_bytes, e);
    return r;
}

void store_cache_entry_cleanup(struct store_cache_entry *c)
{
    if (!c)
        return;
    free(c->answer_json);
    free(c->meta_json);
    free(c->model);
    memset(c, 0, sizeof *c);
}

enum brock_status store_cache_get(struct store *s, const char *key_hex, struct store_cache_entry *out, bool *hit,
                                  struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    *hit = false;
    uint8_t key[SHA256_LEN];
    enum brock_status r = parse_key(key_hex, key, e);
    if (r != BROCK_OK)
        return r;
    int64_t now = store_now(s);
    if ((r = store_tx_begin(s, "looking up the cache", e)) != BROCK_OK)
        return r;
    sqlite3_stmt *st = store_prep(s, ST_CACHE_GET,
                                  "SELECT answer, meta, model, created_ms, expires_ms, hits, bytes FROM cache"
                                  " WHERE key = ?1",
                                  e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto fail;
    }
    sqlite3_bind_blob(st, 1, key, sizeof key, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW, expired = false;
    int64_t bytes = 0;
    if (found) {
        out->expires_ms = sqlite3_column_int64(st, 4);
        expired = out->expires_ms <= now;
        bytes = sqlite3_column_int64(st, 6);
        if (!expired) {
            out->answer_json = store_col_dup(st, 0, &out->answer_len);
            out->meta_json = store_col_dup(st, 1, NULL);
            out->model = store_col_dup(st, 2, NULL);
            out->created_ms = sqlite3_column_int64(st, 3);
            int64_t h = sqlite3_column_int64(st, 5); /* from the file: may be anything */
            out->hits = h < INT64_MAX ? h + 1 : h;
        }
    } else if (rc != SQLITE_DONE) {
        r = store_dberr(s, e, rc, "looking up the cache");
    }
    store_done(st);
    if (r != BROCK_OK)
        goto fail;

    struct deltas d = {0};
    if (found && !expired) {
        d.hits = 1;
        d.tick = 1;
        int64_t tick;
        if ((r = stats_add(s, &d, &tick, NULL, e)) != BROCK_OK)
            goto fail;
        st = store_prep(s, ST_CACHE_TOUCH,
                        "UPDATE cache SET used_ms = ?2, used_tick = ?3, hits = hits + 1 WHERE key = ?1", e);
        if (!st) {
            r = BROCK_ERR_IO;
            goto fail;
        }
        sqlite3_bind_blob(st, 1, key, sizeof key, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, tick);
        if ((r = store_exec(s, st, "updating a cache entry", e)) != BROCK_OK)
            goto fail;
    } else {
        d.misses = 1;
        if (expired) {
            bool gone;
            int64_t b;
            if ((r = delete_key(s, key, sizeof key, &gone, &b, e)) != BROCK_OK)
                goto fail;
            d.entries = -1;
            d.bytes = -bytes;
            d.expirations = 1;
        }
        if ((r = stats_add(s, &d, NULL, NULL, e)) != BROCK_OK)
            goto fail;
    }
    if ((r = store_tx_commit(s, "looking up the cache", e)) != BROCK_OK)
        goto fail_committed;
    *hit = found && !expired;
    if (!*hit)
        store_cache_entry_cleanup(out);
    return BROCK_OK;
fail:
    store_tx_rollback(s);
fail_committed:
    store_cache_entry_cleanup(out);
    return r;
}

enum brock_status store_cache_put(struct store *s, const char *key_hex, const char *answer_json,
                                  const char *meta_json, const char *model, int64_t ttl_s, struct brock_err *e)
{
    uint8_t key[SHA256_LEN];
    enum brock_status r = parse_key(key_hex, key, e);
    if (r != BROCK_OK)
        return r;
    if (!answer_json || !*answer_json)
        return err_set(e, BROCK_ERR_USAGE, "store: a cache entry needs an answer");
    if (ttl_s <= 0 || ttl_s > CACHE_TTL_MAX_S)
        return err_set(e, BROCK_ERR_USAGE, "store: cache TTL must be 1 to %lld seconds", (long long)CACHE_TTL_MAX_S);
    if ((r = store_check_text("cache model", model, e)) != BROCK_OK)
        return r;
    size_t alen = strlen(answer_json), mlen = meta_json ? strlen(meta_json) : 0;
    size_t bytes = alen + mlen + (model ? strlen(model) : 0);
    if (alen > STORE_CACHE_ENTRY_MAX || mlen > STORE_CACHE_ENTRY_MAX || bytes > STORE_CACHE_ENTRY_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "store: cache entry of %zu bytes is over the %zu-byte cap", bytes,
                       STORE_CACHE_ENTRY_MAX);
    if ((int64_t)bytes > s->cache_max_bytes)
        return err_set(e, BROCK_ERR_TOO_LARGE, "store: cache entry of %zu bytes is over the cache's %lld-byte limit",
                       bytes, (long long)s->cache_max_bytes);
    int64_t now = store_now(s);

    if ((r = store_tx_begin(s, "storing a cache entry", e)) != BROCK_OK)
        return r;
    bool found;
    int64_t old_bytes, tick, total;
    if ((r = delete_key(s, key, sizeof key, &found, &old_bytes, e)) != BROCK_OK)
        goto fail;
    struct deltas d = {.entries = found ? 0 : 1, .bytes = (int64_t)bytes - old_bytes, .tick = 1};
    if ((r = stats_add(s, &d, &tick, &total, e)) != BROCK_OK)
        goto fail;
    sqlite3_stmt *st = store_prep(s, ST_CACHE_INSERT,
                                  "INSERT INTO cache(key, answer, meta, model, bytes, created_ms, expires_ms,"
                                  " used_ms, used_tick, hits) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?8, 0"
                                  " WHERE json_valid(?2) AND (?3 = '' OR json_valid(?3))",
                                  e);
    if (!st) {
        r = BROCK_ERR_IO;
        goto fail;
    }
    sqlite3_bind_blob(st, 1, key, sizeof key, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, answer_json, (int)alen, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, meta_json ? meta_json : "", (int)mlen, SQLITE_STATIC);
    store_bind_str(st, 4, model);
    sqlite3_bind_int64(st, 5, (int64_t)bytes);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int64(st, 7, now + ttl_s * 1000);
    sqlite3_bind_int64(st, 8, tick);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        r = store_dberr(s, e, rc, "storing a cache entry");
    else if (sqlite3_changes(s->db) == 0)
        r = err_set(e, BROCK_ERR_USAGE, "store: cache entry: the answer or meta is not valid JSON");
    store_done(st);
    if (r != BROCK_OK)
        goto fail;

    /* Over the limit: expired entries go first, then the least recently used.
     * The new entry has the highest tick, so it is never chosen while older
     * ones remain, and alone it fits. */
    if (total > s->cache_max_bytes && (r = purge_expired(s, now, NULL, &total, e)) != BROCK_OK)
        goto fail;
    uint8_t last[SHA256_LEN];
    bool have_last = false;
    while (total > s->cache_max_bytes) {
        st = store_prep(s, ST_CACHE_LRU, "SELECT key, bytes FROM cache ORDER BY used_tick LIMIT 1", e);
        if (!st) {
            r = BROCK_ERR_IO;
            goto fail;
        }
        rc = sqlite3_step(st);
        uint8_t victim[SHA256_LEN];
        bool stop = rc != SQLITE_ROW || sqlite3_column_bytes(st, 0) != (int)sizeof victim;
        if (!stop) {
            memcpy(victim, sqlite3_column_blob(st, 0), sizeof victim);
            stop = memcmp(victim, key, sizeof key) == 0;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = store_dberr(s, e, rc, "choosing a cache entry to evict");
        store_done(st);
        if (r != BROCK_OK)
            goto fail;
        if (stop)
            break; /* only the new entry is left (counters off in a damaged file) */
        int64_t vb;
        if ((r = delete_key(s, victim, sizeof victim, &found, &vb, e)) != BROCK_OK)
            goto fail;
        /* In a damaged file the LRU index can list an entry the table does
         * not hold (or keep listing one that was deleted): evicting would
         * never end. */
        if (!found || (have_last && !memcmp(last, victim, sizeof victim))) {
            r = err_set(e, BROCK_ERR_IO,
                        "%s: the response cache's index is damaged (an entry to evict is not in the table);"
                        " try `brock cache clear`",
                        s->path);
            goto fail;
        }
        memcpy(last, victim, sizeof victim);
        have_last = true;
        struct deltas ev = {.entries = -1, .bytes = -vb, .evictions = 1};
        if ((r = stats_add(s, &ev, NULL, &total, e)) != BROCK_OK)
            goto fail;
    }
    return store_tx_commit(s, "storing a cache entry", e);
fail:
    store_tx_rollback(s);
    return r;
}

enum brock_status store_cache_stats(struct store *s, struct store_cache_stats *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    out->max_bytes = s->cache_max_bytes;
    sqlite3_stmt *st = store_prep(s, ST_CACHE_TOTALS,
                                  "SELECT entries, bytes, hits, misses, evictions, expirations FROM cache_stats"
                                  " WHERE id = 1",
                                  e);
    if (!st)
        return BROCK_ERR_IO;
    int rc = sqlite3_step(st);
    enum brock_status r = BROCK_OK;
    if (rc == SQLITE_ROW) {
        out->entries = sqlite3_column_int64(st, 0);
        out->bytes = sqlite3_column_int64(st, 1);
        out->hits = sqlite3_column_int64(st, 2);
        out->misses = sqlite3_column_int64(st, 3);
        out->evictions = sqlite3_column_int64(st, 4);
        out->expirations = sqlite3_column_int64(st, 5);
    } else if (rc == SQLITE_DONE) {
        r = err_set(e, BROCK_ERR_IO, "%s: the cache counters are missing (damaged database?)", s->path);
    } else {
        r = store_dberr(s, e, rc, "reading the cache counters");
    }
    store_done(st);
    if (r != BROCK_OK)
        return r;
    st = store_prep(s, ST_CACHE_OLDEST, "SELECT ifnull(min(created_ms), 0) FROM cache", e);
    if (!st)
        return BROCK_ERR_IO;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        out->oldest_ms = sqlite3_column_int64(st, 0);
    else
        r = store_dberr(s, e, rc, "reading the oldest cache entry");
    store_done(st);
    return r;
}

enum brock_status store_cache_clear(struct store *s, int64_t *removed, struct brock_err *e)
{
    enum brock_status r = store_tx_begin(s, "clearing the cache", e);
    if (r != BROCK_OK)
        return r;
    int rc = sqlite3_exec(s->db, "DELETE FROM cache", NULL, NULL, NULL);
    int64_t n = sqlite3_changes64(s->db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db,
                          "UPDATE cache_stats SET entries = 0, bytes = 0, hits = 0, misses = 0, evictions = 0,"
                          " expirations = 0, tick = 0 WHERE id = 1",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        r = store_dberr(s, e, rc, "clearing the cache");
        store_tx_rollback(s);
        return r;
    }
    if ((r = store_tx_commit(s, "clearing the cache", e)) != BROCK_OK)
        return r;
    if (removed)
        *removed = n;
    return BROCK_OK;
}

enum brock_status store_cache_purge(struct store *s, int64_t *removed, struct brock_err *e)
{
    int64_t n = 0;
    enum brock_status r = store_tx_begin(s, "removing expired cache entries", e);
    if (r != BROCK_OK)
        return r;
    if ((r = purge_expired(s, store_now(s), &n, NULL, e)) != BROCK_OK) {
        store_tx_rollback(s);
        return r;
    }
    if ((r = store_tx_commit(s, "removing expired cache entries", e)) != BROCK_OK)
        return r;
    if (removed)
        *removed = n;
    return BROCK_OK;
}

void store_cache_set_limit(struct store *s, int64_t max_bytes)
{
    s->cache_max_bytes = max_bytes > 0 ? max_bytes : STORE_CACHE_DEFAULT_MAX_BYTES;
}
