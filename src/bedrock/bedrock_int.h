/* bedrock_int.h - helpers shared by the files of src/bedrock (not public). */
#ifndef BROCK_BEDROCK_INT_H
#define BROCK_BEDROCK_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/err.h"
#include "model.h"

/* Serialise canonically (compact, sorted keys, 15-digit reals) and append to
 * `out`, at most `max` bytes: BROCK_ERR_TOO_LARGE naming `what` beyond. */
enum brock_status bedrock_dump(const json_t *v, struct buf *out, size_t max, const char *what,
                               struct brock_err *e);

/* Copy a string from outside into dst for a message: control characters
 * become spaces, at most n-1 bytes (cut on a UTF-8 boundary), NUL-terminated. */
void bedrock_copy_clean(char *dst, size_t n, const char *src, size_t len);
/* Copy a JSON string member's value (NULL/other types leave dst alone). */
void bedrock_copy_member(char *dst, size_t n, const json_t *obj, const char *key);

/* A Converse content block as a Messages block (new reference), or NULL for
 * a kind that has no Messages form (skipped). */
json_t *bedrock_block_from_converse(const json_t *blk);

/* Usage members present in a Messages / Converse usage object go into u. */
void bedrock_usage_from_messages(const json_t *usage, struct model_usage *u);
void bedrock_usage_from_converse(const json_t *usage, struct model_usage *u);

/* The HTTP status AWS uses for a Bedrock Runtime error shape (reference
 * 6.2), by normalised code; 0 if unknown. */
int bedrock_error_http_status(const char *code);

/* ---- the client (bedrock_client.c, bedrock_counttokens.c) ---- */

struct aws_client;
struct aws_creds_source;

/* The aws client for region i of the list (made on first use). */
struct bedrock_client;
struct aws_client *bedrock_region_client(struct bedrock_client *c, size_t i);
const char *bedrock_region_name(const struct bedrock_client *c, size_t i);
/* Take API keys (the client's, and anything shaped like one) out of e->msg. */
void bedrock_scrub(const struct bedrock_client *c, struct brock_err *e);

/* "/model/<id, percent-encoded as one segment>/<op>" into out. */
enum brock_status bedrock_model_path(const char *model_id, const char *op, struct buf *out, struct brock_err *e);

/* CountTokens (bedrock_counttokens.c), the vtable's count_tokens. */
enum brock_status bedrock_count_tokens(struct model_client *mc, const struct model_request *req, int64_t *tokens,
                                       bool *estimated, struct brock_err *e);

#endif
