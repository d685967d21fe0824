/* model.h - talking to a Claude model: the request, the streamed events, the result.
 *
 * brock keeps conversations in the Anthropic Messages shape (the body of
 * InvokeModel with `anthropic_version: bedrock-2023-05-31`), as jansson values:
 * `messages` is an array of {"role", "content": [blocks]} with block types
 * text, image, document, tool_use, tool_result, thinking, redacted_thinking,
 * and optional `cache_control` on blocks. The Bedrock client turns that into
 * an InvokeModel body or, with MODEL_API_CONVERSE, into a Converse body, and
 * turns either answer (whole or streamed) back into Messages content blocks.
 *
 * `struct model_client` is an interface (vtable + impl) so the agent loop and
 * tests can script the model; bedrock.h gives the real one.
 *
 * Ownership: requests borrow their JSON; results own theirs (model_result_cleanup).
 * Callbacks run on the calling thread, synchronously, while invoke() runs. */
#ifndef BROCK_BEDROCK_MODEL_H
#define BROCK_BEDROCK_MODEL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

enum model_api {
    MODEL_API_MESSAGES = 0, /* InvokeModel / InvokeModelWithResponseStream */
    MODEL_API_CONVERSE,     /* Converse / ConverseStream */
};

/* Unset numeric parameters. */
#define MODEL_UNSET (-1)

struct model_request {
    const char *model_id;    /* what goes in /model/{id}/: profile id, base id or ARN */
    enum model_api api;
    bool stream;
    json_t *system;          /* string or array of text blocks; NULL = none */
    json_t *messages;        /* array of messages (required) */
    json_t *tools;           /* array of {name, description, input_schema[, cache_control]}; NULL */
    json_t *tool_choice;     /* {"type": "auto"|"any"|"tool"|"none", ...}; NULL */
    json_t *thinking;        /* {"type": "enabled", "budget_tokens": N} / {"type": "adaptive"}; NULL */
    json_t *stop_sequences;  /* array of strings; NULL */
    /* Other Messages-body fields passed through as given (anthropic_beta,
     * metadata, output_config, ...). With Converse they go into
     * additionalModelRequestFields. NULL = none. */
    json_t *extra;
    int max_tokens;          /* required, > 0 */
    double temperature;      /* MODEL_UNSET or 0..1 */
    double top_p;            /* MODEL_UNSET or 0..1 */
    int top_k;               /* MODEL_UNSET or >= 0 */
};

struct model_usage {
    int64_t input_tokens;       /* uncached input */
    int64_t output_tokens;
    int64_t cache_read_tokens;
    int64_t cache_write_tokens;
};

/* Streamed events, for people watching. Any member may be NULL. `index` is
 * the content block index. Text pieces are UTF-8, not NUL-terminated. */
struct model_events {
    void (*on_text)(void *ctx, int index, const char *text, size_t n);
    void (*on_thinking)(void *ctx, int index, const char *text, size_t n);
    void (*on_tool_use)(void *ctx, int index, const char *id, const char *name);
    void (*on_tool_input)(void *ctx, int index, const char *partial_json, size_t n);
    void (*on_block_stop)(void *ctx, int index);
    /* A retry or region failover is about to happen (for --verbose). */
    void (*on_retry)(void *ctx, const char *why);
    void *ctx;
};

struct model_result {
    json_t *content;          /* array of Messages content blocks (tool_use input parsed) */
    char stop_reason[40];     /* end_turn, tool_use, max_tokens, stop_sequence, ... */
    char stop_sequence[128];  /* when stop_reason is stop_sequence */
    char message_id[96];      /* msg_bdrk_... when the API gives one */
    char model[160];          /* the model that answered, when given */
    char request_id[96];      /* x-amzn-RequestId */
    char region[32];          /* the region that served the call */
    char model_id[256];       /* the id the call was made with */
    struct model_usage usage;
    double latency_ms;        /* request sent -> answer complete */
    double ttft_ms;           /* request sent -> first content (streams) */
    int attempts;             /* HTTP attempts, retries included */
    bool partial;             /* a stream was cut after output began: content is what arrived */
};

void model_result_init(struct model_result *r);
void model_result_cleanup(struct model_result *r);
/* The concatenated text blocks of a result, malloc'd. */
char *model_result_text(const struct model_result *r);

struct model_client;

struct model_client_vtable {
    /* Run one request. BROCK_OK when the model answered completely. On error
     * `e` says why (AWS error code, request id) and `out` holds what arrived
     * (partial = true if a stream was cut after output). */
    enum brock_status (*invoke)(struct model_client *mc, const struct model_request *req,
                                const struct model_events *ev, struct model_result *out,
                                struct brock_err *e);
    /* Input tokens the request would bill (CountTokens, or an estimate when
     * the API is unavailable; *estimated says which). */
    enum brock_status (*count_tokens)(struct model_client *mc, const struct model_request *req,
                                      int64_t *tokens, bool *estimated, struct brock_err *e);
    void (*free)(struct model_client *mc);
};

struct model_client {
    const struct model_client_vtable *vtable;
    void *impl;
};

static inline enum brock_status model_invoke(struct model_client *mc, const struct model_request *req,
                                             const struct model_events *ev, struct model_result *out,
                                             struct brock_err *e)
{
    return mc->vtable->invoke(mc, req, ev, out, e);
}

static inline enum brock_status model_count_tokens(struct model_client *mc, const struct model_request *req,
                                                   int64_t *tokens, bool *estimated, struct brock_err *e)
{
    return mc->vtable->count_tokens(mc, req, tokens, estimated, e);
}

static inline void model_client_free(struct model_client *mc)
{
    if (mc)
        mc->vtable->free(mc);
}

#endif
