/* gateway_int.h - shared by the gateway's own files (src/server/gateway*.c).
 *
 * Ownership of a job: the loop creates it and is the only one to free it.
 * Everything about it happens on the loop thread (the upstream call too: an
 * aws_call on the gateway's libcurl multi, driven by the same libevent base),
 * except a persistent-cache lookup, which the helper thread does: it fills
 * `entry` and sets `looked_up` under job->mu, notifies the loop and never
 * touches the job again. Fields marked [mu] are read/written under job->mu;
 * [loop] only on the loop thread. */
#ifndef BROCK_SERVER_GATEWAY_INT_H
#define BROCK_SERVER_GATEWAY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "../aws/client.h"
#include "../aws/crypto.h"
#include "../aws/http.h"
#include "../aws/sigv4.h"
#include "../util/log.h"
#include "gateway.h"
#include "httpd.h"

#define GW_MAX_MODEL_ID 2048

/* The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0) for sched_setattr;
 * glibc 2.36 declares neither. The loop thread sets its slice with it. */
struct gw_sched_attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};
#define GW_RESP_HIGH ((size_t)1024 * 1024) /* httpd-buffered bytes above which the loop stops moving frames */
#define GW_RESP_LOW ((size_t)256 * 1024)
#define GW_CACHE_BUCKETS 65536

struct gw_client;  /* a key's runtime state (admission, spend) */
struct aws_call;
struct es_decoder;
struct gw_books;
struct gw_cache;

/* A cached answer (memory tier). */
struct gw_entry {
    uint8_t key[SHA256_LEN];
    bool stream;
    int64_t expires_ms;
    char ctype[96];       /* Content-Type */
    char bedrock_ctype[96]; /* X-Amzn-Bedrock-Content-Type ("" if none) */
    char *body;
    size_t len;
    struct gateway_usage usage;
    double cost_usd;      /* as first billed */
    char model[GW_MAX_MODEL_ID + 1]; /* the id that first answered */
    char region[64];
    struct gw_entry *hnext;        /* hash chain */
    struct gw_entry *lprev, *lnext; /* LRU, most recent first */
};

struct gw_job {
    struct gateway *g;
    struct httpd_req *req;
    struct httpd_resp *resp;
    enum gateway_op op;
    char model_id[GW_MAX_MODEL_ID + 1];
    struct gw_client *client;
    char id[40];            /* our x-amzn-RequestId when we answer ourselves */
    int64_t t0_ns;

    /* [loop] */
    struct gw_job *qnext, *qprev; /* admission queue of its client */
    struct gw_job *lprev, *lnext; /* every live job (g->live) */
    struct httpd_timer *qtimer;
    bool queued, dispatched, answered, gone, notified_once;
    bool cache_candidate;
    uint8_t cache_key[SHA256_LEN];
    bool stream_started;    /* httpd_stream_start was called */
    bool draining_wait;     /* waiting for httpd_resp_on_drain */
    struct buf spare;       /* frames buffer to swap with `out` (keeps its memory) */
    bool cancel;            /* the client left or the server stops: stop upstream */
    bool done;              /* the upstream part is over: finish() may run */
    bool head_ready;        /* a 2xx stream head is waiting to be sent */
    struct buf out;         /* stream frames not yet handed to httpd */

    /* [loop] the upstream call (gateway_upstream.c) */
    struct aws_call *call;  /* running, or NULL */
    struct aws_response ar;
    struct http_headers uh; /* the upstream request's headers */
    struct buf upath;
    char *tbody;            /* the translated body, or NULL */
    const char *ubody;      /* what goes upstream: tbody or the client's */
    size_t ublen;
    size_t target;          /* index in g->targets */
    char skey[300];         /* sticky session key */
    struct es_decoder *dec;
    bool head_sent, saw_exception, decode_failed;
    bool held;              /* the transfer is held (too many frames pending) */
    bool lookup_wait;       /* with the helper thread */
    bool parked_once;       /* waited for usable upstream credentials (g->parked): once per call at most */
    int64_t park_until;     /* monotonic ms: then answered 503 */
    struct gw_job *park_next;
    char decode_err[300];
    uint64_t frames_bytes;
    struct gw_job *lk_next; /* the helper thread's queue [g->lk_mu] */

    /* [mu] */
    pthread_mutex_t mu;
    bool looked_up;         /* the helper thread is done with it */
    bool in_notify;         /* on the gateway's notify list (under g->notify_mu) */
    struct gw_job *nnext;

    /* [loop] results of the upstream call */
    int status;             /* HTTP status to answer (0: no answer from upstream) */
    struct http_headers rh; /* response headers to copy */
    struct buf body;        /* non-streamed answer body */
    struct gateway_usage usage;
    struct gateway_body_info info;
    char profile[GW_MAX_MODEL_ID + 1]; /* the id used upstream */
    char region[64];
    char request_id[96];
    char err_code[64];
    char err_msg[768];
    int attempts, throttles;
    double ttft_ms;
    bool stream;            /* answered as an event stream */
    bool cut;               /* the stream ended early: an exception frame was appended */
    bool local_error;       /* status/err_* were made by the gateway, not upstream */
    bool cache_hit;         /* answered from the persistent cache (entry below) */
    struct gw_entry *entry; /* a persistent-cache hit, or the answer to cache (loop inserts) */
    struct buf tee;         /* stream frames kept for the cache */
    bool tee_over;
};

struct gw_client {
    struct gateway_key *key;       /* its own copy; numbers changed by a reload [loop] */
    uint8_t token_digest[SHA256_LEN]; /* SHA-256 of key->token: its place in g->by_token */
    bool revoked;                  /* a reload removed its key: refused from then on [loop] */
    bool stays;                    /* during a reload: its key is in the new set [loop] */
    size_t refs;                   /* jobs pointing at it: a revoked client goes at the
                                    * first reload that finds none [loop] */
    size_t inflight;
    size_t n_queued;
    struct gw_job *qhead, *qtail;
    struct gw_client *rnext, *rprev; /* the ring of clients with calls queued (g->ready) */
    bool ready;                    /* ... in it */
    long rpm;                      /* requests a minute; <= 0: no limit */
    double rate_tokens;            /* requests it may send now (at most rpm / GATEWAY_RATE_BURST_DIV) */
    int64_t rate_ms;               /* time_mono_ms() of the last refill */
    struct gw_user *user;          /* its user's spend, shared with their other keys */
};

/* One per user name among the clients: the spend their budgets are checked
 * against, whichever of their keys made it. Kept while a client (live or
 * revoked) names it; a reload hands a kept user to the new keys. */
/* Spend in one UTC day and month (their starts, in ms): a figure of an
 * earlier day or month reads as 0, and adding in a later one starts it
 * again. [g->spend_mu] */
struct gw_spend {
    int64_t day_start_ms, month_start_ms;
    double today_usd, month_usd;
};

static inline void gw_spend_add(struct gw_spend *s, int64_t day, int64_t month, double usd)
{
    if (s->day_start_ms != day) {
        s->day_start_ms = day;
        s->today_usd = 0;
    }
    if (s->month_start_ms != month) {
        s->month_start_ms = month;
        s->month_usd = 0;
    }
    s->today_usd += usd;
    s->month_usd += usd;
}

static inline double gw_spend_today(const struct gw_spend *s, int64_t day)
{
    return s->day_start_ms == day ? s->today_usd : 0;
}

static inline double gw_spend_month(const struct gw_spend *s, int64_t month)
{
    return s->month_start_ms == month ? s->month_usd : 0;
}

struct gw_user {
    char *name;
    bool keep;             /* during a reload: a client of the new list names it [loop] */
    struct gw_spend spend; /* [g->spend_mu] */
};

/* The users, and an index by name (open addressing, a power of two of
 * slots, NULL empty). */
struct gw_users {
    struct gw_user **v;
    size_t n;
    struct gw_user **slot;
    size_t mask;
};

struct gw_session {
    char key[300];
    size_t target;
    int64_t last_ms;
    struct gw_session *next;
};

struct gateway {
    struct httpd *httpd;
    char url[80];
    struct gateway_options o;       /* strings below are our copies */
    /* one per key, and those a reload revoked while calls of theirs were
     * still running (dropped at a later reload). Changed by the loop only,
     * under clients_mu as writer; the books thread reads it under
     * clients_mu. */
    struct gw_client **clients;
    size_t n_clients;
    struct gw_users users;          /* the clients' users: swapped with the list */
    pthread_rwlock_t clients_mu;
    /* [loop] the live clients by bearer token (its SHA-256) and by issued
     * access key id: open addressing, a power of two of slots, NULL empty;
     * rebuilt at start and on each reload. A lookup costs the same with 1
     * key or 4096 (a scan over them cost ~70 us a request at 4096). */
    struct gw_client **by_token, **by_akid;
    size_t index_mask;
    const struct clock *clock;
    struct sigv4_signer *signer;    /* loop thread: verifying clients */
    struct gateway_target targets[GATEWAY_MAX_TARGETS + 1];
    size_t n_targets;
    char *regions[GATEWAY_MAX_TARGETS + 1]; /* distinct regions, [0] = primary */
    size_t n_regions;

    /* admission [loop] */
    size_t max_upstream, max_per_client, inflight, queued;
    struct gw_client *ready;        /* the ring of clients with calls queued, at the one
                                     * to serve next (round robin); NULL: none queued */
    struct gw_job *live;            /* every job not yet freed [loop] */

    /* notify: the helper thread and the loop's own callbacks -> process() */
    pthread_mutex_t notify_mu;
    struct gw_job *notify_head;
    int efd;
    struct event *notify_ev;

    /* upstream [loop] */
    struct http_multi *multi;
    struct event *up_timer;
    /* libcurl's sockets by number: the event and what it watches. A
     * connection's socket libcurl stops watching keeps its registration
     * while the connection is idle in the pool, so the next call on it costs
     * no epoll_ctl; see io_watch. */
    struct gw_sock {
        struct event *ev;
        short flags;
        bool idle; /* libcurl does not watch it; still registered */
        bool conn; /* opened by libcurl for a connection: ends in io_closing */
    } *socks;
    size_t nsocks;
    struct aws_client *up[GATEWAY_MAX_TARGETS + 1]; /* per region index */
    bool up_stop;
    _Atomic bool realtime_on;       /* the loop thread got SCHED_FIFO (--realtime) */
    struct log_every rate_log;      /* [loop] rate refusals: a line per 5 s at most */
    bool price_warned;              /* [loop] said once that a model's price is estimated */
    struct gw_job *parked;          /* calls waiting for a refreshed credential set */
    struct event *park_timer;       /* looks at them while there are any */

    /* the helper thread: persistent-cache lookups [lk_mu], credentials ahead
     * of expiry, and reading the client keys at a reload (keys_want [lk_mu];
     * what it read waits for the loop in keys_new [notify_mu]) */
    int creds_check_ms;
    bool creds_ahead; /* the helper refreshes the upstream credentials (they can expire; no bearer token) */
    bool creds_peek;  /* ... and the loop only peeks at them (the source offers peek) */
    bool creds_now;   /* [lk_mu] the loop found none usable: refresh now */
    int64_t creds_retry_at; /* [helper] after a failed refresh, no nudged one before this */
    _Atomic bool creds_down; /* the last refresh failed (warned once); written by the helper, shown by health */
    pthread_mutex_t lk_mu;
    pthread_cond_t lk_cv;
    struct gw_job *lk_head, *lk_tail;
    pthread_t lk_thread;
    bool lk_started, lk_stop;
    bool lk_lookups;               /* the helper looks the persistent cache up */
    bool keys_want;                /* [lk_mu] gateway_reload: read the keys */
    bool keys_read;                /* [notify_mu] keys_new, keys_st, keys_err are for the loop */
    struct gateway_keys keys_new;
    enum brock_status keys_st;
    struct brock_err keys_err;

    /* sticky sessions */
    pthread_mutex_t sess_mu;
    struct gw_session **sess;       /* buckets */
    size_t n_sess;

    /* spend */
    pthread_mutex_t spend_mu;
    struct gw_spend total;          /* every user's */

    struct gw_cache *cache;         /* memory tier [loop] */
    struct gw_books *books;

    pthread_t thread;
    bool threaded;
    _Atomic uint64_t st_requests, st_refused_auth, st_refused_budget, st_refused_busy, st_cache_hits,
        st_upstream, st_upstream_errors, st_failovers, st_cut, st_gone, st_translated, st_refused_rate, st_up_sockets,
        st_keys_reloads, st_keys_reload_errors, st_profiles_known, st_profiles_unknown;
    struct gw_profile *profiles; /* [loop] application inference profiles seen, newest first */
    size_t n_profiles;
};

struct model_info;

/* Application inference profiles. Only Bedrock knows the model behind one:
 * the first call that names one has the gateway ask (GetInferenceProfile,
 * signed with its own credentials, on the control plane), so later calls are
 * translated and priced as that model. A failed lookup is asked again after
 * GW_PROFILE_RETRY_MS; past GW_MAX_PROFILES profiles no more are asked. */
#define GW_MAX_PROFILES 256
#define GW_PROFILE_RETRY_MS (10 * 60 * 1000)
enum gw_profile_state { GW_PROFILE_ASKING, GW_PROFILE_KNOWN, GW_PROFILE_UNKNOWN };
struct gw_profile {
    struct gateway *g;
    char arn[GW_MAX_MODEL_ID + 1];
    enum gw_profile_state state;
    const struct model_info *model; /* KNOWN: the catalog's entry */
    int64_t retry_ms;               /* UNKNOWN: monotonic ms when to ask again */
    struct aws_call *call;          /* ASKING */
    struct aws_response ar;
    struct buf path;
    struct http_headers h;
    struct gw_profile *next;
};
/* [loop] The model behind `id` when it is an application inference profile
 * Bedrock has named; NULL otherwise (and the lookup starts if it is one not
 * asked yet). */
const struct model_info *gw_profile_model(struct gateway *g, const char *id);
/* After gw_upstream_stop and the last booking (the jobs it cut are priced
 * with the profiles still known). */
void gw_profiles_free(struct gateway *g);
/* [loop] A GetInferenceProfile answer a client asked for: its profile's
 * model, noted (saves the gateway asking). */
void gw_profile_learn(struct gateway *g, const char *body, size_t len);

/* gateway_upstream.c, all on the loop unless said */
enum brock_status gw_upstream_start(struct gateway *g, struct brock_err *e); /* the multi on the loop's base */
void gw_dispatch(struct gateway *g, struct gw_job *j);  /* translate, look up, call upstream */
void gw_upstream_stop(struct gateway *g);              /* after the loop: end every call, join the helper thread */
void gw_notify(struct gateway *g, struct gw_job *j);   /* any thread: process(j) from the loop */
void gw_wake(struct gateway *g);                        /* any thread: on_notify runs on the loop */
void gw_keys_read(struct gateway *g); /* [helper] read the client keys for a reload; the loop applies them */
void gw_job_cancel(struct gw_job *j);                  /* stop its upstream call */
void gw_job_looked_up(struct gw_job *j);               /* the helper thread answered: go on */
void gw_job_drained(struct gw_job *j);                 /* frames were taken: a held call goes on */
void gw_job_release(struct gw_job *j);                 /* free what the upstream part holds */
void gw_sessions_free(struct gateway *g);
enum brock_status gw_frame_exception(struct buf *out, const char *type, const char *msg);

/* gateway_books.c */
struct gw_books *gw_books_start(struct gateway *g, struct brock_err *e);
void gw_books_stop(struct gw_books *b); /* writes everything queued, joins, frees */
/* *ts = CLOCK_REALTIME now + ms (for pthread_cond_timedwait). */
void gw_deadline_in(struct timespec *ts, int64_t ms);
/* Queue one finished call (copied). */
void gw_books_post(struct gateway *g, const struct gateway_record *r, const struct gw_entry *to_store);
/* The helper thread: look the persistent cache up; a new entry or NULL. */
struct gw_entry *gw_books_lookup(struct gateway *g, const uint8_t key[SHA256_LEN]);
bool gw_books_can_lookup(const struct gateway *g); /* a store is open for it */
void gw_books_refresh_spend(struct gateway *g); /* read every user's spend again soon (any thread) */
/* The user of that name in u, or NULL (under clients_mu, either side). */
struct gw_user *gw_user_find(const struct gw_users *u, const char *name);
size_t gw_books_pending(struct gateway *g);       /* records queued, not yet taken for writing (any thread) */
/* [loop] USD for a call's tokens: the prices file's price, else the
 * catalog's; for an application inference profile neither names, its
 * model's once Bedrock named it (*as, may be NULL). A model still unpriced
 * (a profile not known yet, a model newer than both) is priced at the
 * highest the catalog has for each kind of token, so a budget still holds,
 * and *estimated (may be NULL) says so. */
double gw_cost(struct gateway *g, const char *model_id, const struct gateway_usage *u, const struct model_info **as,
               bool *estimated);

/* memory cache [loop] (gateway_books.c) */
struct gw_cache *gw_cache_new(size_t max_bytes);
void gw_cache_free(struct gw_cache *c);
const struct gw_entry *gw_cache_get(struct gw_cache *c, const uint8_t key[SHA256_LEN], int64_t now_ms);
void gw_cache_put(struct gw_cache *c, struct gw_entry *e); /* takes it */
void gw_entry_free(struct gw_entry *e);

int64_t gw_now_ms(const struct gateway *g);

/* gateway_body.c: gateway_translate and gateway_usage_from_answer through
 * jansson only (what the scanner gives up on; tests and the fuzz target
 * compare the two paths). */
void gw_translate_json(enum gateway_op op, const char *model_id, const char *body, size_t len, char **out,
                       size_t *out_len, struct gateway_body_info *info);
void gw_usage_from_answer_json(enum gateway_op op, const char *body, size_t len, struct gateway_usage *u);
void gw_usage_from_event_json(enum gateway_op op, const char *event_type, size_t et_len, const uint8_t *payload,
                              size_t len, struct gateway_usage *u);

#endif
