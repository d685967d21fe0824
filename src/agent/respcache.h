/* respcache.h - the exact-match response cache for deterministic requests.
 *
 * Which requests (respcache_eligible):
 *   - never with mode RESPCACHE_OFF (--no-cache, or brock.cache.enabled false);
 *   - never when the last user message carries tool results (tools ran in
 *     this turn: their output may differ next time);
 *   - RESPCACHE_AUTO: only deterministic requests of print mode (`-p`):
 *     temperature 0 and no thinking;
 *   - RESPCACHE_ON (--cache): any other request too.
 * Which answers (respcache_storable): complete (not partial), with no
 * tool_use block (a cached tool call would run the tool again with no model
 * deciding it), stopped by end_turn, stop_sequence or max_tokens.
 *
 * The key is the SHA-256 of "brock-respcache-1", the API, the model id and
 * the canonical request body of the bedrock layer (bedrock_invoke_body or
 * bedrock_converse_body: compact, keys sorted), so the same model, system
 * prompt, tools, messages and parameters give the same key. It is a hash of
 * what is sent to the model, never of credentials, region, endpoint or
 * anything that signs the request (none of that is in the body).
 *
 * Entries (store.h response cache: TTL, LRU size limit, counters in the
 * file): answer = {"content", "stop_reason", "stop_sequence", "model",
 * "message_id", "usage"}; meta = {"model_id", "region", "request_id",
 * "cost_usd", "created_ms"} as originally answered and billed. A hit gives
 * the content, stop reason and ids back exactly; the usage as billed then is
 * reported as saved, not spent.
 *
 * Threads: stateless functions; the store handle is the caller's. */
#ifndef BROCK_AGENT_RESPCACHE_H
#define BROCK_AGENT_RESPCACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../aws/crypto.h"
#include "../bedrock/model.h"
#include "../util/compiler.h"
#include "../util/err.h"

struct store;

#define RESPCACHE_TTL_DEFAULT_S ((int64_t)86400)       /* one day */
#define RESPCACHE_TTL_MAX_S ((int64_t)366 * 86400)
#define RESPCACHE_MAX_MB_DEFAULT 128
#define RESPCACHE_MAX_MB_MAX 65536

enum respcache_mode {
    RESPCACHE_OFF = 0,
    RESPCACHE_AUTO, /* deterministic -p requests */
    RESPCACHE_ON,   /* --cache */
};

struct respcache_policy {
    enum respcache_mode mode;
    bool print_mode;   /* -p: RESPCACHE_AUTO applies */
    int64_t ttl_s;     /* > 0 */
    int64_t max_bytes; /* the store's size limit */
};

/* Defaults, then settings `brock.cache` {"enabled": bool, "ttl_s": N,
 * "max_mb": N}, then the flags (--cache, --no-cache; no_cache wins).
 * BROCK_ERR_CONFIG names a bad key. */
enum brock_status respcache_policy_init(struct respcache_policy *p, const json_t *brock, bool print_mode,
                                        bool flag_cache, bool flag_no_cache, struct brock_err *e) BROCK_WUR;

bool respcache_eligible(const struct respcache_policy *p, const struct model_request *req);
bool respcache_storable(const struct model_result *res);

/* The key: 64 lowercase hex digits + NUL. Errors are the body builder's
 * (a request that cannot be serialised cannot be cached either). */
enum brock_status respcache_key(const struct model_request *req, char key[SHA256_HEX_LEN + 1],
                                struct brock_err *e) BROCK_WUR;

/* What a hit brings back besides the answer. */
struct respcache_meta {
    char model_id[256], region[32], request_id[96];
    double cost_usd;         /* as originally billed */
    struct model_usage usage; /* as originally billed */
    int64_t created_ms;
};

/* Look up `key`; on a hit fill res (content, stop_reason, stop_sequence,
 * model, message_id; usage zero: nothing was billed) and meta, and set *hit.
 * A stored entry that does not parse is a miss (and is left to expire). */
enum brock_status respcache_get(struct store *s, const char *key, struct model_result *res,
                                struct respcache_meta *meta, bool *hit, struct brock_err *e) BROCK_WUR;
/* Store a complete answer with what it cost. */
enum brock_status respcache_put(struct store *s, const char *key, const struct model_result *res, double cost_usd,
                                int64_t ttl_s, int64_t now_ms, struct brock_err *e) BROCK_WUR;

/* Hand a cached answer to the event callbacks as a stream would (text and
 * thinking blocks, each in one piece, then block stops). */
void respcache_replay(const struct model_result *res, const struct model_events *ev);

#endif
