/* bedrock_wire.h - Bedrock Runtime bodies, answers and streams, without the network.
 *
 * The pure half of the Bedrock client (bedrock.h is the other half):
 *
 *   bodies   struct model_request (Anthropic Messages shape) -> the InvokeModel
 *            body, the Converse body, or the CountTokens body; canonical
 *            bytes (compact, keys sorted, reals with 15 significant digits),
 *            so one request always gives the same bytes (the response cache
 *            hashes them).
 *   answers  the InvokeModel and Converse JSON answers -> struct model_result
 *            with Messages content blocks.
 *   streams  an assembler fed the raw event stream of InvokeModelWithResponse-
 *            Stream (`chunk` events holding base64 Anthropic stream events) or
 *            ConverseStream, in pieces of any size; it calls the model_events
 *            callbacks as content arrives and builds the same model_result.
 *
 * Wire facts: shared/docs/aws-wire-reference.md 4.2-4.9, 5.2, 6.2; the
 * translation rules and quirks are in docs/internals/bedrock.md.
 *
 * Errors: requests that cannot be expressed are BROCK_ERR_USAGE naming the
 * field ("messages[2].content[0]: image source type 'url' has no Converse
 * form"); bad answers and streams are BROCK_ERR_PARSE naming the field or the
 * stream offset; exception frames in a stream become the AWS error they stand
 * for (aws_code, the HTTP status of that shape, BROCK_ERR_THROTTLED / _AUTH /
 * _AWS as awserr classifies it). No function here prints or logs content.
 *
 * Ownership: requests are borrowed. Results are written into the caller's
 * initialised struct model_result (model.h), whose old content is released.
 *
 * Threads: all functions are reentrant; a bedrock_stream belongs to one
 * thread at a time. */
#ifndef BROCK_BEDROCK_WIRE_H
#define BROCK_BEDROCK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "model.h"

#define BEDROCK_ANTHROPIC_VERSION "bedrock-2023-05-31"

/* Caps. A request body may be at most 25,000,000 bytes (InvokeModel's limit);
 * an assembled answer at most 4096 content blocks and 64 MiB of content. */
#define BEDROCK_MAX_REQUEST_BYTES ((size_t)25000000)
#define BEDROCK_MAX_BLOCKS 4096
#define BEDROCK_MAX_CONTENT_BYTES ((size_t)64 * 1024 * 1024)

/* ---- bodies ---------------------------------------------------------------- */

/* Append the body to `out`. BROCK_ERR_USAGE for a request that is invalid or
 * has no form in that API, BROCK_ERR_TOO_LARGE over BEDROCK_MAX_REQUEST_BYTES
 * or out's cap. */
enum brock_status bedrock_invoke_body(const struct model_request *req, struct buf *out,
                                      struct brock_err *e) BROCK_WUR;
enum brock_status bedrock_converse_body(const struct model_request *req, struct buf *out,
                                        struct brock_err *e) BROCK_WUR;
/* {"input":{"invokeModel":{"body":"<base64 of the InvokeModel body>"}}}, or
 * with MODEL_API_CONVERSE {"input":{"converse":{messages, system, toolConfig,
 * additionalModelRequestFields}}}. */
enum brock_status bedrock_count_tokens_body(const struct model_request *req, struct buf *out,
                                            struct brock_err *e) BROCK_WUR;

/* Local estimate of the input tokens of a request, for when CountTokens is
 * unavailable: 1 token per 4 bytes of text (system, messages, thinking, tool
 * results, tool definitions as JSON), 1,600 per image, 1,500 per PDF or other
 * binary document, 4 per message, 50 per tool definition plus 350 once when
 * tools are given. Deliberately on the high side. */
int64_t bedrock_estimate_tokens(const struct model_request *req);

/* ---- answers --------------------------------------------------------------- */

/* Parse an InvokeModel (Messages) or Converse answer into `out`: content,
 * stop_reason (Converse names mapped to Messages names where they differ,
 * unknown ones kept), stop_sequence, message id and model (InvokeModel),
 * usage. Leaves request_id, region, model_id, latency and attempts alone. */
enum brock_status bedrock_parse_invoke_answer(const char *p, size_t n, struct model_result *out,
                                              struct brock_err *e) BROCK_WUR;
enum brock_status bedrock_parse_converse_answer(const char *p, size_t n, struct model_result *out,
                                                struct brock_err *e) BROCK_WUR;

/* Converse stopReason -> Messages stop_reason ("content_filtered" ->
 * "refusal"); anything else is returned as given. */
const char *bedrock_stop_reason_from_converse(const char *converse_reason);

/* ---- streams --------------------------------------------------------------- */

enum bedrock_stream_kind {
    BEDROCK_STREAM_INVOKE = 0, /* InvokeModelWithResponseStream */
    BEDROCK_STREAM_CONVERSE,   /* ConverseStream */
};

struct bedrock_stream;

/* `ev` (may be NULL) is copied; its ctx must outlive the stream. */
struct bedrock_stream *bedrock_stream_new(enum bedrock_stream_kind kind, const struct model_events *ev);
void bedrock_stream_free(struct bedrock_stream *s); /* NULL is fine */
/* Forget everything (for a retry); keeps the callbacks and allocations. */
void bedrock_stream_reset(struct bedrock_stream *s);
/* The request id that goes into error messages (from x-amzn-RequestId). */
void bedrock_stream_set_request_id(struct bedrock_stream *s, const char *request_id);

/* The next piece of the body, any size. Callbacks run from in here. After an
 * error the stream stays failed and every call returns the same error:
 * BROCK_ERR_PARSE for a broken frame (bad CRC, naming its offset) or an event
 * that makes no sense; an exception or error frame as the AWS error it is;
 * BROCK_ERR_TOO_LARGE past the caps above. */
enum brock_status bedrock_stream_feed(struct bedrock_stream *s, const void *p, size_t n,
                                      struct brock_err *e) BROCK_WUR;
/* End of body. A stream without message_stop (Invoke) or without messageStop
 * and metadata (Converse), or cut inside a frame, is BROCK_ERR_NETWORK
 * "stream ended early after N bytes: ...", never a success. */
enum brock_status bedrock_stream_finish(struct bedrock_stream *s, struct brock_err *e) BROCK_WUR;

/* True once content has been handed to the callbacks (a non-empty text,
 * thinking or tool input piece, or a tool_use start): from then on a failed
 * call must not be retried. */
bool bedrock_stream_started(const struct bedrock_stream *s);
/* time_mono_ns() when content first arrived; 0 if none yet. */
int64_t bedrock_stream_first_content_ns(const struct bedrock_stream *s);
/* Body bytes fed so far. */
uint64_t bedrock_stream_bytes(const struct bedrock_stream *s);

/* Move what was assembled into `out` (content, stop reason and sequence,
 * message id, model, usage); also after an error, for partial results: then
 * finished blocks are kept, a text or thinking block cut short keeps what
 * arrived, and a tool_use block whose input JSON is incomplete is dropped
 * (it could not be run). Empty text blocks are dropped. */
void bedrock_stream_result(struct bedrock_stream *s, struct model_result *out);

#endif
