/* client.h - one AWS call: endpoint, auth, send, retry, and AWS's error, in one place.
 *
 * Every request brock makes to an AWS service goes through aws_client_send():
 *
 *   1. the endpoint of the service is resolved once per client (endpoint.h:
 *      --endpoint-url, AWS_ENDPOINT_URL_<SVC>, AWS_ENDPOINT_URL, [services],
 *      profile endpoint_url, else the rule set for the region);
 *   2. each attempt is authorised: a Bedrock API key (Authorization: Bearer)
 *      for the two Bedrock services when one is configured, else SigV4 with
 *      the credentials of the moment (re-signed on every attempt), or nothing
 *      for the few unsigned calls (SSO, STS web identity);
 *   3. it is sent with http.h and, on failure, classified and retried under
 *      the shared retry policy (retry.h): throttling, transient and network
 *      errors back off with jitter; an ExpiredToken-style answer refreshes
 *      the credentials once and retries at once; a "signature expired" answer
 *      corrects the clock skew from the response's Date header and retries
 *      once;
 *   4. a non-2xx answer becomes a `struct brock_err` (awserr.h) with the
 *      status, AWS error code, request id and message.
 *
 * Streaming answers (event streams) go to `on_body` as they arrive. They are
 * retried only until the first body byte has been handed over: after that a
 * failure is returned as is, so output already shown is never repeated.
 *
 * Threads: a client holds an http client and a signer, so it is used by one
 * thread at a time. The credentials source and retry policy may be shared.
 * Cancellation: the http options' `cancel` flag also cuts retry sleeps short. */
#ifndef BROCK_AWS_CLIENT_H
#define BROCK_AWS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/err.h"
#include "../util/timeutil.h"
#include "awserr.h"
#include "credentials.h"
#include "endpoint.h"
#include "http.h"
#include "retry.h"

/* Where credentials come from (the caching chain provides one). get() returns
 * a new reference; invalidate() makes the next get() fetch fresh ones. */
struct aws_creds_source {
    enum brock_status (*get)(void *ctx, struct aws_credentials **out, struct brock_err *e);
    void (*invalidate)(void *ctx);
    void *ctx;
    /* Optional: as get, refreshing a set that expires within ahead_ms
     * (creds_cache_get_ahead). NULL for sets that are never refreshed. */
    enum brock_status (*get_ahead)(void *ctx, int64_t ahead_ms, struct aws_credentials **out, struct brock_err *e);
    /* Optional: the current set if it is usable now (creds_cache_peek),
     * never asking the provider or waiting for a refresh; otherwise
     * BROCK_ERR_CREDENTIALS saying why. For an event loop that must not
     * block while another thread refreshes. NULL where not offered. */
    enum brock_status (*peek)(void *ctx, struct aws_credentials **out, struct brock_err *e);
};

/* A source that always returns the same set (tests, and credentials a
 * provider just obtained, e.g. to sign STS AssumeRole with a source role). */
struct aws_creds_source aws_creds_source_static(struct aws_credentials *creds);

struct aws_client_config {
    const char *region;                   /* signing region and endpoint region */
    const struct endpoint_lookup *lookup; /* env + profile; NULL = environment only */
    /* Explicit endpoint (--endpoint-url / the in-process emulator) and the
     * services it applies to (bit (1 << enum endpoint_service)); 0 = all. */
    const char *endpoint_url;
    unsigned endpoint_url_services;
    const char *endpoint_label;      /* names endpoint_url's origin; NULL = "--endpoint-url" */
    struct aws_creds_source creds;   /* get may be NULL: only unsigned/bearer calls work */
    const char *bearer_token;        /* Bedrock API key, or NULL for SigV4 */
    struct retry_policy *retry;      /* shared; NULL = no retries */
    struct http_options http;        /* CA bundle, timeouts, cancel flag */
    const struct clock *clock;       /* NULL = real time */
};

struct aws_client;

/* Copies what it needs from cfg (strings are copied; retry and creds are
 * borrowed and must outlive the client). Never returns NULL. */
struct aws_client *aws_client_new(const struct aws_client_config *cfg);
void aws_client_free(struct aws_client *c);

enum aws_auth {
    AWS_AUTH_DEFAULT = 0, /* bearer for Bedrock services when configured, else SigV4 */
    AWS_AUTH_SIGV4,
    AWS_AUTH_NONE,        /* unsigned (SSO portal/OIDC, STS web identity) */
};

struct aws_request {
    enum endpoint_service service;
    const char *method;  /* NULL = GET */
    const char *path;    /* wire path, percent-encoded, starting with '/' */
    const char *query;   /* wire query without '?', or NULL */
    const struct http_headers *headers; /* extra headers (content-type, x-amz-target, ...) */
    const void *body;
    size_t body_len;
    enum awserr_protocol protocol;      /* how errors are encoded */
    enum aws_auth auth;
    /* Streaming: 2xx body bytes go here as they arrive; NULL = collect. */
    http_body_fn *on_body;
    http_head_fn *on_head;
    void *ctx;
    bool (*hold)(void *ctx); /* aws_client_start only: see http_request.hold */
    size_t max_body;       /* cap for a collected body; 0 = http default */
    long total_timeout_ms; /* per attempt; 0 = client default */
    long idle_timeout_ms;
};

struct aws_response {
    struct http_response http; /* the last attempt's response (status 0: it got none, e.g. it could not be signed) */
    int attempts;              /* attempts made (1 = no retry) */
    bool credentials_refreshed;
    bool skew_corrected;
    const char *auth;          /* "sigv4", "bearer" or "none" */
    char endpoint_url[ENDPOINT_URL_MAX]; /* the endpoint used */
    char endpoint_source[ENDPOINT_SOURCE_MAX];
    char request_id[96];
    double latency_ms;         /* wall time of the whole call, retries included */
};

void aws_response_init(struct aws_response *r);
void aws_response_free(struct aws_response *r);

/* Send one logical request. BROCK_OK only for a 2xx answer; otherwise the
 * error (AWS's, or the network's) is in `e` and `out` holds the last answer.
 * BROCK_ERR_THROTTLED means still throttled after every retry. */
enum brock_status aws_client_send(struct aws_client *c, const struct aws_request *req,
                                  struct aws_response *out, struct brock_err *e) BROCK_WUR;

/* The same call on a multi run by an event loop (http.h, http_multi_set_io):
 * the attempts, retries (their waits are timers of the multi, never sleeps)
 * and the answer are aws_client_send's, then done(ctx, status, err) runs from
 * the loop with `out` filled. `req` is copied; what it points to (path,
 * query, headers, body, ctx) and `out` are borrowed until done. On an error
 * before anything was sent it returns it and done is not called. The client
 * is used from the loop's thread only while calls run. Getting credentials
 * may block (a refresh of expired ones). */
struct aws_call;
typedef void aws_done_fn(void *ctx, enum brock_status st, const struct brock_err *e);
enum brock_status aws_client_start(struct aws_client *c, struct http_multi *m, const struct aws_request *req,
                                   struct aws_response *out, aws_done_fn *done, void *ctx, struct aws_call **call,
                                   struct brock_err *e) BROCK_WUR;
/* Stop it: done runs soon with BROCK_ERR_INTERRUPTED (or what had already
 * arrived), never from inside this call. */
void aws_call_abort(struct aws_call *call);
/* A transfer held by req->hold goes on. */
void aws_call_resume(struct aws_call *call);

/* The endpoint a service resolves to for this client (resolving it now if
 * needed). Borrowed; valid for the client's life. */
enum brock_status aws_client_endpoint(struct aws_client *c, enum endpoint_service svc,
                                      const struct endpoint **out, struct brock_err *e) BROCK_WUR;

/* Clock skew learned from a "signature expired" answer, in ms (server - us). */
int64_t aws_client_skew_ms(const struct aws_client *c);

#endif
