/* awserr.h - what AWS said: error responses parsed into struct brock_err.
 *
 * One entry point for every protocol brock speaks (wire reference 6.1):
 *
 *   restJson1  (Bedrock, SSO, SSO-OIDC)   code from the x-amzn-ErrorType header
 *              (cut at ':'), else body "code" / "Code" / "__type"
 *   awsJson1_x (CloudWatch Logs, CloudWatch JSON)  code from x-amzn-query-error
 *              (cut at ';') when present, else body "__type" / "code" / "Code",
 *              else x-amzn-ErrorType
 *   awsQuery   (STS, CloudWatch query)    <ErrorResponse><Error><Code/><Message/>
 *              </Error><RequestId/></ErrorResponse>
 *   restXml    (S3)                       <Error><Code/><Message/><RequestId/></Error>
 *
 * Codes are normalised: cut at the first ':', then keep what follows the last
 * '#' ("com.amazonaws.logs#ResourceNotFoundException" -> the exception name).
 * Messages come from "message" / "Message" (JSON), <Message> (XML), or the
 * x-amzn-ErrorMessage header. The request id comes from x-amzn-RequestId,
 * x-amz-request-id, or the XML RequestId.
 *
 * The body is sniffed, not trusted to match the protocol: JSON where XML was
 * expected (or the reverse) is still read, and anything else (an HTML page
 * from a proxy, plain text, an empty body) gives the status and a short
 * sanitised excerpt. XML is parsed with expat, without DTDs (a DOCTYPE stops
 * the parse, so no entity tricks), at most AWSERR_MAX_XML_DEPTH deep, and
 * only its first AWSERR_MAX_BODY bytes; larger JSON bodies are not parsed.
 *
 * Messages are made safe to print: control characters become spaces, and
 * the canonical request / string to sign that AWS echoes in signature errors
 * (which holds the session token) is cut, as is any x-amz-security-token or
 * signature value.
 *
 * Pure functions of their input; thread-safe. */
#ifndef BROCK_AWS_AWSERR_H
#define BROCK_AWS_AWSERR_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/err.h"
#include "http.h"

/* Bodies above this are not parsed as JSON; XML is parsed up to here. */
#define AWSERR_MAX_BODY ((size_t)256 * 1024)
#define AWSERR_MAX_XML_DEPTH 32
/* Longest excerpt of a non-AWS body put into a message. */
#define AWSERR_EXCERPT_LEN 160

enum awserr_protocol {
    AWSERR_REST_JSON, /* restJson1 */
    AWSERR_AWS_JSON,  /* awsJson1_0 / awsJson1_1 */
    AWSERR_QUERY,     /* awsQuery (XML) */
    AWSERR_REST_XML,  /* restXml (S3) */
};

/* Parse an error answer. `headers` may be NULL; `body` may be NULL when len
 * is 0. Fills e (may be NULL): status, http_status, aws_code, request_id and
 * a message like
 *   "AccessDeniedException (HTTP 403, request id 1a2b...): You don't have
 *    access to the model with the specified model ID."
 * and returns the status: BROCK_ERR_AUTH, BROCK_ERR_THROTTLED or
 * BROCK_ERR_AWS (see awserr_status). Never fails otherwise. */
enum brock_status awserr_parse(enum awserr_protocol proto, long http_status,
                               const struct http_headers *headers, const char *body, size_t len,
                               struct brock_err *e);

/* awserr_parse on a response from http_send. */
enum brock_status awserr_from_response(enum awserr_protocol proto, const struct http_response *r,
                                       struct brock_err *e);

/* Classification of a normalised code (may be "" when none was found):
 * auth codes (AccessDenied*, UnrecognizedClient, InvalidSignature,
 * SignatureDoesNotMatch, ExpiredToken*, MissingAuthenticationToken*,
 * InvalidClientTokenId, Unauthorized*, ...) and, without a code, HTTP 401/403
 * -> BROCK_ERR_AUTH; throttling codes (the SDKs' list: Throttling,
 * ThrottlingException, TooManyRequestsException, SlowDown, ...) and, without
 * a code, HTTP 429 -> BROCK_ERR_THROTTLED; anything else -> BROCK_ERR_AWS.
 * Whether to retry is the retry layer's call. */
enum brock_status awserr_status(const char *code, long http_status);
bool awserr_is_auth_code(const char *code);
bool awserr_is_throttling_code(const char *code);

#endif
