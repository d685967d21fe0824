/* gateway.h - `brock serve`: a Bedrock Runtime endpoint that re-signs upstream
 * and adds brock's identity, budgets, ledger, audit log, response cache,
 * failover and admission control in front of it.
 *
 * Clients (Claude Code with CLAUDE_CODE_USE_BEDROCK=1 and
 * ANTHROPIC_BEDROCK_BASE_URL, the AWS SDKs with an endpoint override) speak
 * the Bedrock Runtime wire protocol to the gateway over HTTP/1.1 or cleartext
 * HTTP/2 on one port (httpd.h):
 *
 *   POST /model/{id}/invoke | invoke-with-response-stream | converse |
 *        converse-stream | count-tokens          Bedrock Runtime
 *   GET  /inference-profiles[?...], /inference-profiles/{id},
 *        /foundation-models[?...], /foundation-models/{id}
 *                                                 Bedrock control-plane reads
 *   GET  /_gateway/health                         {"status":"ok",...}, no auth
 *
 * Each request is authenticated with a gateway key: `Authorization: Bearer
 * <token>` (as Bedrock API keys are sent) or SigV4 signed with an access key
 * the gateway issued (service `bedrock`, any region). Unknown clients get
 * Bedrock's 403 shape. Then, on the loop thread: the client's budget (from the
 * in-memory spend, seeded from the store), the response cache (a request
 * byte-identical to an earlier deterministic one), admission control (a
 * bounded number of upstream calls shared fairly by all clients: round robin
 * over clients, each at most max_per_client at once). Still on the loop it
 * parses the body, drops or translates what the model on Bedrock would reject
 * (gateway_translate), signs with the gateway's own credentials (client.h) and
 * calls upstream (aws_client_start on a libcurl multi the loop drives); on
 * throttling that outlasts the retry policy it moves the
 * client's session to the next target (another region, another model) and
 * stays there. Answers go back byte for byte: status, Bedrock's headers and
 * body; event streams frame by frame as each frame completes. An upstream cut
 * mid-stream ends the client's stream with an `internalServerException`
 * frame, never silently. A client that leaves cancels the upstream call.
 * Every call writes a ledger row (store.h) with the key's user and project,
 * and the record callback (the CLI's: the audit event and EMF) runs on the
 * book-keeping thread with its store handle.
 *
 * Threads: the httpd loop thread (everything above, the upstream calls
 * too), one book-keeping thread (the store: ledger rows, spend, writing the
 * persistent cache), one helper thread (reading the persistent cache, and
 * refreshing the upstream credentials before they near expiry, so the loop
 * never waits for a credential provider). gateway_stop() and
 * gateway_stats() may be called from any thread; gateway_stop() is
 * async-signal-safe.
 *
 * Ownership: options and keys are copied by gateway_new (strings included);
 * the upstream config's creds source, retry policy, lookup and clock, the
 * pricing and the record context are borrowed and must outlive the gateway.
 *
 * Secrets: gateway tokens and issued secret keys are secrets: never logged,
 * never in an error or an answer (the key's user names a client in logs and
 * rows), wiped when freed. Upstream credentials are the client.h layer's. */
#ifndef BROCK_SERVER_GATEWAY_H
#define BROCK_SERVER_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../aws/client.h"
#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "../util/timeutil.h"

#define GATEWAY_DEFAULT_PORT 8911
#define GATEWAY_MAX_KEYS 4096
#define GATEWAY_MIN_TOKEN 16                     /* bearer tokens: at least this many bytes */
#define GATEWAY_MAX_TOKEN 1024
#define GATEWAY_MAX_NAME 128                     /* user, project */
#define GATEWAY_KEYS_FILE_MAX ((size_t)1024 * 1024)
#define GATEWAY_MAX_TARGETS 8                    /* regions + fallback models */
#define GATEWAY_DEFAULT_MAX_UPSTREAM 512         /* upstream calls at once */
#define GATEWAY_DEFAULT_IDLE_UPSTREAM 1024       /* idle upstream connections kept for reuse */
#define GATEWAY_DEFAULT_PER_CLIENT_DIV 4         /* one key holds at most max_upstream / 4 of them */
#define GATEWAY_DEFAULT_QUEUE_TIMEOUT_MS 30000   /* waiting for an upstream slot: then 429 */
#define GATEWAY_RATE_BURST_DIV 6                 /* a key's requests a minute: a sixth (10 s' worth) at once */
#define GATEWAY_MAX_RPM 1000000
#define GATEWAY_MAX_QUEUED_PER_CLIENT 1024       /* more waiting from one client: 429 at once */
#define GATEWAY_STREAM_PENDING_MAX ((size_t)256 * 1024) /* frames queued per stream before upstream is held */
#define GATEWAY_MAX_ANSWER ((size_t)64 * 1024 * 1024)  /* a non-streamed upstream answer */
#define GATEWAY_DEFAULT_CACHE_MEM ((size_t)64 * 1024 * 1024)
#define GATEWAY_CACHE_ENTRY_MAX ((size_t)4 * 1024 * 1024)
#define GATEWAY_DEFAULT_CACHE_TTL_S ((int64_t)86400)
#define GATEWAY_SESSION_TTL_MS ((int64_t)3600 * 1000) /* sticky target of an idle session */
#define GATEWAY_MAX_SESSIONS 65536
#define GATEWAY_SPEND_REFRESH_MS ((int64_t)60 * 1000)  /* re-read spend from the store */
#define GATEWAY_CREDS_CHECK_MS 60000             /* the helper thread looks at the upstream credentials */
#define GATEWAY_CREDS_RETRY_MS 1000              /* ... and, asked by the loop, retries a failed refresh after this */
#define GATEWAY_CREDS_PARK_MS 5000               /* a call whose set was rejected waits this long for a new one */
#define GATEWAY_CREDS_PARK_POLL_MS 20            /* ... looking this often whether there is one */
#define GATEWAY_STOP_GRACE_MS 10000
#define GATEWAY_LOOP_SLICE_US 100                /* the loop thread's time slice (EEVDF custom slice; Linux >= 6.12) */
#define GATEWAY_MAX_CHANGES 512                  /* bytes of "what was translated" per request */

/* ---- client keys ----------------------------------------------------------- */

struct gateway_key {
    char *token;             /* bearer token, or NULL (secret) */
    char *access_key_id;     /* issued SigV4 key id, or NULL */
    char *secret_access_key; /* its secret (secret) */
    char *user;              /* never NULL */
    char *project;           /* "" when none */
    double daily_usd;        /* this user's limits; 0 = the default */
    double monthly_usd;
    long max_rpm;            /* requests a minute this key may send; 0 = the gateway's */
};

struct gateway_keys {
    struct gateway_key *v;
    size_t n;
};

/* "TOKEN=USER[/PROJECT]" (--key). Token at least GATEWAY_MIN_TOKEN bytes of
 * visible ASCII; user and project 1..GATEWAY_MAX_NAME of [A-Za-z0-9._@+-].
 * BROCK_ERR_USAGE naming the part at fault, never quoting the token. */
enum brock_status gateway_keys_add_spec(struct gateway_keys *k, const char *spec, struct brock_err *e) BROCK_WUR;
/* A keys file (JSON):
 *   {"keys": [{"token": "...", "user": "alice", "project": "app",
 *              "daily_usd": 5, "monthly_usd": 100, "max_rpm": 1200},
 *             {"access_key_id": "AKIA...", "secret_access_key": "...", "user": "ci"}]}
 * Appends; errors name `what`:line:col and the field, never a secret. A
 * duplicate token or access key id is an error. */
enum brock_status gateway_keys_parse(struct gateway_keys *k, const char *text, size_t n, const char *what,
                                     struct brock_err *e) BROCK_WUR;
enum brock_status gateway_keys_load(struct gateway_keys *k, const char *path, struct brock_err *e) BROCK_WUR;
void gateway_keys_free(struct gateway_keys *k); /* wipes secrets; leaves it empty */
void gateway_key_clear(struct gateway_key *k);   /* one key: wipes and frees its strings */

/* ---- request translation (pure; public for tests and the fuzz target) ----- */

enum gateway_op {
    GATEWAY_OP_NONE = 0,
    GATEWAY_OP_INVOKE,
    GATEWAY_OP_INVOKE_STREAM,
    GATEWAY_OP_CONVERSE,
    GATEWAY_OP_CONVERSE_STREAM,
    GATEWAY_OP_COUNT_TOKENS,
    GATEWAY_OP_CONTROL, /* a control-plane read */
};
const char *gateway_op_name(enum gateway_op op); /* "invoke", ..., "control" */
/* The operation of a Runtime path ("/model/{id}/converse") and the decoded
 * model id; GATEWAY_OP_NONE if the path is not one. */
enum gateway_op gateway_route(const char *path, char *model_id, size_t cap);

/* What a body carried that decides caching, sessions and the books. */
struct gateway_body_info {
    bool parsed;          /* the body was a JSON object */
    bool deterministic;   /* temperature 0 and no thinking */
    bool tool_results;    /* the last user message carries tool results */
    char session[128];    /* metadata.user_id (Claude Code: its session), or "" */
    char changes[GATEWAY_MAX_CHANGES]; /* "dropped anthropic_beta claude-code-20250219; ..." or "" */
};

/* Make `body` acceptable to `model_id` on Bedrock for `op`: betas the model
 * does not take are dropped (anthropic_beta, also inside Converse's
 * additionalModelRequestFields), `role: system` messages move into `system`,
 * keys Bedrock refuses in a Messages body (`model`, `stream`) are dropped,
 * a missing anthropic_version is added, fields the model cannot take
 * (output_config, context_management, adaptive thinking) are dropped or
 * translated. When something changed, *out gets the new body (malloc'd JSON;
 * the members it did not change keep their bytes) and info->changes says
 * what; otherwise *out is NULL and the original bytes go upstream untouched.
 * A body that is not JSON is left alone (Bedrock will say what is wrong with
 * it). Never fails. */
void gateway_translate(enum gateway_op op, const char *model_id, const char *body, size_t len, char **out,
                       size_t *out_len, struct gateway_body_info *info);

/* Usage and stop facts from an answer, for the ledger and the cache. */
struct gateway_usage {
    int64_t input, output, cache_read, cache_write;
    char stop_reason[40];
    bool tool_use;    /* the answer calls a tool (never cached) */
    bool complete;    /* a stream reached its end event (message_stop / metadata) */
};
/* Non-streamed answers (Messages or Converse JSON). */
void gateway_usage_from_answer(enum gateway_op op, const char *body, size_t len, struct gateway_usage *u);
/* One decoded event-stream message of a streamed answer (its :event-type and
 * payload). */
void gateway_usage_from_event(enum gateway_op op, const char *event_type, size_t et_len, const uint8_t *payload,
                              size_t len, struct gateway_usage *u);

/* ---- the server -------------------------------------------------------------- */

/* A place to fail over to on throttling: another model and/or region ("" =
 * the request's own). */
struct gateway_target {
    char model[256];
    char region[64];
};

/* Spend limits (USD; 0 = none). Per user: the key's own, else these defaults. */
struct gateway_budget {
    double user_daily_usd, user_monthly_usd;       /* default per user */
    double total_daily_usd, total_monthly_usd;     /* all clients together */
    const char *where;                             /* names where the defaults are set (messages) */
};

/* One finished call, for the record callback (the audit event). Strings are
 * never NULL; valid during the callback only. */
struct gateway_record {
    int64_t time_ms;
    const char *user, *project, *session;
    const char *model;      /* the id the client asked for */
    const char *profile;    /* the id the call was made with */
    const char *region, *api;
    int64_t input, output, cache_read, cache_write;
    double cost_usd, saved_usd, latency_ms, ttft_ms;
    int retries, throttles;
    const char *status;     /* "ok" or the error code */
    const char *error_message;
    const char *request_id;
    bool cache_hit;
    const char *routing;    /* what the gateway did: translation, fallback, cache */
};

struct store;
struct pricing;
/* Runs on the book-keeping thread after the ledger row is written; `s` is that
 * thread's store handle (NULL without a store). */
typedef void gateway_record_fn(void *ctx, struct store *s, const struct gateway_record *r);

struct gateway_options {
    const char *host;        /* NULL = "127.0.0.1" */
    uint16_t port;           /* 0 = any free port */
    bool allow_non_loopback; /* required for other addresses */
    const char *tls_cert_file; /* with tls_key_file: HTTPS (httpd.h) */
    const char *tls_key_file;
    const struct gateway_keys *keys; /* copied; at least one key */

    /* Upstream: the template the per-region clients are made from (region =
     * the primary region). creds, retry, lookup and clock are borrowed. */
    struct aws_client_config upstream;
    const char *const *regions;  /* failover regions after the primary */
    size_t n_regions;
    const struct gateway_target *fallback; /* then these targets */
    size_t n_fallback;

    size_t max_upstream;     /* 0 = GATEWAY_DEFAULT_MAX_UPSTREAM */
    size_t max_per_client;   /* 0 = GATEWAY_DEFAULT_PER_CLIENT_DIV: a quarter of max_upstream */
    long rpm_per_client;     /* requests a minute one key may send (a sixth of them at once), unless
                              * its keys-file entry says; <= 0 = no limit */
    int queue_timeout_ms;    /* 0 = GATEWAY_DEFAULT_QUEUE_TIMEOUT_MS */
    int creds_check_ms;      /* 0 = GATEWAY_CREDS_CHECK_MS */
    long max_idle_upstream;  /* idle upstream connections kept for reuse; 0 = GATEWAY_DEFAULT_IDLE_UPSTREAM */
    size_t max_body;         /* request body limit; 0 = httpd's default */
    int write_timeout_ms;    /* a client taking no response bytes: closed (h2: stream reset);
                              * 0 = httpd's default */

    /* Books. */
    bool no_store;           /* no ledger, no persistent cache, budgets from zero */
    const char *store_dir;   /* NULL = the store's default */
    const struct pricing *pricing; /* NULL = the catalog's prices */
    struct gateway_budget budget;
    bool no_cache;           /* no response cache at all */
    int64_t cache_ttl_s;     /* 0 = GATEWAY_DEFAULT_CACHE_TTL_S */
    size_t cache_mem;        /* 0 = GATEWAY_DEFAULT_CACHE_MEM */
    bool no_translate;       /* forward bodies as given */
    bool realtime;           /* the loop thread at SCHED_FIFO priority 1 (needs CAP_SYS_NICE or RLIMIT_RTPRIO);
                              * when refused, a warning and the short slice as without */
    gateway_record_fn *record;
    void *record_ctx;
    /* Housekeeping on the book-keeping thread with its store (record_ctx as
     * ctx): once at start, then about once a GATEWAY_SPEND_REFRESH_MS, e.g.
     * pruning the audit spool. May be NULL. */
    void (*housekeep)(void *ctx, struct store *s);
    /* gateway_reload() reads the client keys again through this (on the
     * loop thread, reload_ctx as ctx): all of them, into `out` (empty). An
     * error, or no key, leaves the keys in use. May be NULL. */
    enum brock_status (*reload_keys)(void *ctx, struct gateway_keys *out, struct brock_err *e);
    void *reload_ctx;
    const struct clock *clock; /* NULL = real time (SigV4 window, days, TTLs) */
};

struct gateway_stats {
    uint64_t requests;     /* authenticated model and control calls */
    uint64_t refused_auth, refused_budget, refused_busy;
    uint64_t refused_rate; /* a key past its requests a minute */
    uint64_t keys_reloads, keys_reload_errors; /* gateway_reload() of the keys */
    uint64_t cache_hits;
    uint64_t upstream;     /* upstream calls started */
    uint64_t upstream_errors;
    uint64_t failovers;    /* moves to another target */
    uint64_t cut_streams;  /* upstream streams that ended early (exception frame sent) */
    uint64_t client_gone;  /* clients that left before their answer was complete */
    uint64_t translated;   /* bodies changed by gateway_translate */
    uint64_t inflight, queued;
    uint64_t upstream_sockets; /* upstream sockets the loop watches, or keeps registered while
                                * their connection is idle in the pool */
    uint64_t profiles_known;   /* application inference profiles whose model Bedrock named */
    uint64_t profiles_unknown; /* ... whose lookup failed (priced at the ceiling until asked again) */
};

struct gateway;

void gateway_options_init(struct gateway_options *o);
/* Bind and listen; open the store and seed the spend of every key's user.
 * Errors: BROCK_ERR_USAGE (no keys, non-loopback without allow), the bind
 * error, the store's error. */
enum brock_status gateway_new(const struct gateway_options *o, struct gateway **out, struct brock_err *e) BROCK_WUR;
/* "http://127.0.0.1:PORT". */
const char *gateway_url(const struct gateway *g);
uint16_t gateway_port(const struct gateway *g);
/* Serve in this thread until gateway_stop(). */
enum brock_status gateway_run(struct gateway *g, struct brock_err *e) BROCK_WUR;
/* Serve in a background thread. */
enum brock_status gateway_start_thread(struct gateway *g, struct brock_err *e) BROCK_WUR;
/* Graceful stop: stop accepting, let calls in flight finish for up to
 * grace_ms (< 0: GATEWAY_STOP_GRACE_MS), then cut the rest. Any thread,
 * async-signal-safe. */
void gateway_stop(struct gateway *g, int grace_ms);
/* brock serve's SIGHUP: read the TLS certificate and key files again (new
 * connections get them, open ones keep the old) and the client keys
 * (reload_keys): a key that stays keeps its state (calls in flight,
 * requests a minute), a new one is served from then on, a removed one is
 * refused while its calls in flight finish and are booked. Whatever does
 * not load leaves what was in use. Says what happened on stderr. Any
 * thread, async-signal-safe. */
void gateway_reload(struct gateway *g);
/* Stop, wait for the loop, end the upstream calls, write the books (every row), free.
 * NULL is fine. */
void gateway_free(struct gateway *g);
void gateway_stats(struct gateway *g, struct gateway_stats *out);

#endif
