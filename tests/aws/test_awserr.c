/* Tests for src/aws/awserr: every protocol's error shape (bodies from the
 * wire reference, sections 3.4, 6.1, 6.2, 8.3), header/body precedence,
 * classification, garbage, empty, huge and deeply nested bodies, secrets
 * in echoed signature errors, and the recorded Bedrock 400 answers from
 * ../shared/testdata/bedrock-recorded (served through the fake server). */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aws/awserr.h"
#include "../../src/aws/http.h"
#include "../../src/util/json.h"
#include "../support/fakesrv.h"

/* ---- table-driven cases ------------------------------------------------------ */

struct hdr {
    const char *name, *value;
};

struct errcase {
    const char *name;
    enum awserr_protocol proto;
    long status;
    struct hdr headers[4];
    const char *body;
    enum brock_status want_status;
    const char *want_code;
    const char *want_rid;
    const char *want_msg; /* exact e.msg */
};

static const struct errcase k_cases[] = {
    {
        .name = "bedrock-validation-restjson",
        .proto = AWSERR_REST_JSON,
        .status = 400,
        .headers = {{"x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
                    {"x-amzn-RequestId", "5a3b6f1c-0d2e-4f5a-8b9c-1d2e3f4a5b6c"},
                    {"Content-Type", "application/json"}},
        .body = "{\"message\":\"Malformed input request: #: required key [messages] not found, please reformat "
                "your input and try again.\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "ValidationException",
        .want_rid = "5a3b6f1c-0d2e-4f5a-8b9c-1d2e3f4a5b6c",
        .want_msg = "ValidationException (HTTP 400, request id 5a3b6f1c-0d2e-4f5a-8b9c-1d2e3f4a5b6c): Malformed "
                    "input request: #: required key [messages] not found, please reformat your input and try again.",
    },
    {
        .name = "bedrock-throttling",
        .proto = AWSERR_REST_JSON,
        .status = 429,
        .headers = {{"x-amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
                    {"x-amzn-RequestId", "tt-1"}},
        .body = "{\"message\":\"Too many tokens, please wait before trying again.\"}",
        .want_status = BROCK_ERR_THROTTLED,
        .want_code = "ThrottlingException",
        .want_rid = "tt-1",
        .want_msg = "ThrottlingException (HTTP 429, request id tt-1): Too many tokens, please wait before trying again.",
    },
    {
        .name = "bedrock-access-denied",
        .proto = AWSERR_REST_JSON,
        .status = 403,
        .headers = {{"x-amzn-ErrorType", "AccessDeniedException"}, {"x-amzn-RequestId", "1a2b3c4d"}},
        .body = "{\"Message\":\"You don't have access to the model with the specified model ID.\"}",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "AccessDeniedException",
        .want_rid = "1a2b3c4d",
        .want_msg = "AccessDeniedException (HTTP 403, request id 1a2b3c4d): You don't have access to the model with "
                    "the specified model ID.",
    },
    {
        .name = "bedrock-model-not-ready-is-not-throttling",
        .proto = AWSERR_REST_JSON,
        .status = 429,
        .headers = {{"x-amzn-ErrorType", "ModelNotReadyException"}},
        .body = "{\"message\":\"Model is not ready for inference.\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "ModelNotReadyException",
        .want_rid = "",
        .want_msg = "ModelNotReadyException (HTTP 429): Model is not ready for inference.",
    },
    {
        .name = "front-door-unrecognized-client-in-body-type",
        .proto = AWSERR_REST_JSON,
        .status = 403,
        .headers = {{"x-amzn-RequestId", "fd-1"}},
        .body = "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
                "\"message\":\"The security token included in the request is invalid.\"}",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "UnrecognizedClientException",
        .want_rid = "fd-1",
        .want_msg = "UnrecognizedClientException (HTTP 403, request id fd-1): The security token included in the "
                    "request is invalid.",
    },
    {
        .name = "restjson-header-beats-body",
        .proto = AWSERR_REST_JSON,
        .status = 400,
        .headers = {{"X-AMZN-ERRORTYPE", "ValidationException"}},
        .body = "{\"code\":\"SomethingElse\",\"__type\":\"Other#Thing\",\"message\":\"m\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "ValidationException",
        .want_rid = "",
        .want_msg = "ValidationException (HTTP 400): m",
    },
    {
        .name = "restjson-code-beats-type",
        .proto = AWSERR_REST_JSON,
        .status = 404,
        .body = "{\"__type\":\"x#TypeName\",\"Code\":\"ResourceNotFoundException\",\"message\":\"gone\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "ResourceNotFoundException",
        .want_rid = "",
        .want_msg = "ResourceNotFoundException (HTTP 404): gone",
    },
    {
        .name = "sso-unauthorized",
        .proto = AWSERR_REST_JSON,
        .status = 401,
        .headers = {{"x-amzn-ErrorType", "UnauthorizedException:"}, {"x-amzn-RequestId", "sso-9"}},
        .body = "{\"message\":\"Session token not found or invalid\"}",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "UnauthorizedException",
        .want_rid = "sso-9",
        .want_msg = "UnauthorizedException (HTTP 401, request id sso-9): Session token not found or invalid",
    },
    {
        .name = "logs-awsjson-type",
        .proto = AWSERR_AWS_JSON,
        .status = 400,
        .headers = {{"x-amzn-RequestId", "logs-1"}, {"Content-Type", "application/x-amz-json-1.1"}},
        .body = "{\"__type\":\"com.amazonaws.logs#ResourceNotFoundException\","
                "\"message\":\"The specified log group does not exist.\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "ResourceNotFoundException",
        .want_rid = "logs-1",
        .want_msg = "ResourceNotFoundException (HTTP 400, request id logs-1): The specified log group does not exist.",
    },
    {
        .name = "awsjson-type-beats-code",
        .proto = AWSERR_AWS_JSON,
        .status = 400,
        .body = "{\"code\":\"Other\",\"__type\":\"com.amazonaws.logs#InvalidParameterException\",\"message\":\"x\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "InvalidParameterException",
        .want_rid = "",
        .want_msg = "InvalidParameterException (HTTP 400): x",
    },
    {
        .name = "cloudwatch-json-query-error-preferred",
        .proto = AWSERR_AWS_JSON,
        .status = 400,
        .headers = {{"x-amzn-query-error", "InvalidParameterValue;Sender"}, {"x-amzn-RequestId", "cw-2"}},
        .body = "{\"__type\":\"com.amazonaws.cloudwatch#InvalidParameterValueException\","
                "\"message\":\"The value 0 for parameter Period is not valid.\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "InvalidParameterValue",
        .want_rid = "cw-2",
        .want_msg = "InvalidParameterValue (HTTP 400, request id cw-2): The value 0 for parameter Period is not valid.",
    },
    {
        .name = "query-error-header-ignored-for-restjson",
        .proto = AWSERR_REST_JSON,
        .status = 400,
        .headers = {{"x-amzn-query-error", "InvalidParameterValue;Sender"}},
        .body = "{\"__type\":\"x#ValidationException\",\"message\":\"v\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "ValidationException",
        .want_rid = "",
        .want_msg = "ValidationException (HTTP 400): v",
    },
    {
        .name = "logs-throttling-limit-exceeded",
        .proto = AWSERR_AWS_JSON,
        .status = 400,
        .body = "{\"__type\":\"com.amazonaws.logs#LimitExceededException\",\"message\":\"Rate exceeded\"}",
        .want_status = BROCK_ERR_THROTTLED,
        .want_code = "LimitExceededException",
        .want_rid = "",
        .want_msg = "LimitExceededException (HTTP 400): Rate exceeded",
    },
    {
        .name = "sts-query-access-denied",
        .proto = AWSERR_QUERY,
        .status = 403,
        .body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                "  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n"
                "    <Message>User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "
                "sts:AssumeRole on resource: arn:aws:iam::111122223333:role/BedrockUser</Message>\n"
                "  </Error>\n  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n</ErrorResponse>\n",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "AccessDenied",
        .want_rid = "c6104cbe-af31-11e0-8154-cbc7ccf896c7",
        .want_msg = "AccessDenied (HTTP 403, request id c6104cbe-af31-11e0-8154-cbc7ccf896c7): User: "
                    "arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: "
                    "arn:aws:iam::111122223333:role/BedrockUser",
    },
    {
        .name = "sts-query-expired-token",
        .proto = AWSERR_QUERY,
        .status = 400,
        .headers = {{"x-amzn-RequestId", "hdr-rid"}},
        .body = "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
                "<Message>The security token included in the request is expired</Message></Error>"
                "<RequestId>xml-rid</RequestId></ErrorResponse>",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "ExpiredToken",
        .want_rid = "hdr-rid",
        .want_msg = "ExpiredToken (HTTP 400, request id hdr-rid): The security token included in the request is "
                    "expired",
    },
    {
        .name = "sts-query-throttling",
        .proto = AWSERR_QUERY,
        .status = 400,
        .body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
                "</Error><RequestId>q-3</RequestId></ErrorResponse>",
        .want_status = BROCK_ERR_THROTTLED,
        .want_code = "Throttling",
        .want_rid = "q-3",
        .want_msg = "Throttling (HTTP 400, request id q-3): Rate exceeded",
    },
    {
        .name = "s3-nosuchkey-restxml",
        .proto = AWSERR_REST_XML,
        .status = 404,
        .headers = {{"x-amz-request-id", "4442587FB7D0A2F9"}, {"x-amz-id-2", "hostid"}},
        .body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                "<Message>The specified key does not exist.</Message><Key>batch/out/in.jsonl.out</Key>"
                "<RequestId>4442587FB7D0A2F9</RequestId><HostId>hostid</HostId></Error>",
        .want_status = BROCK_ERR_AWS,
        .want_code = "NoSuchKey",
        .want_rid = "4442587FB7D0A2F9",
        .want_msg = "NoSuchKey (HTTP 404, request id 4442587FB7D0A2F9): The specified key does not exist.",
    },
    {
        .name = "s3-request-id-from-xml",
        .proto = AWSERR_REST_XML,
        .status = 403,
        .body = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
                "match the signature you provided.</Message><StringToSign>AWS4-HMAC-SHA256\n20150830T123600Z"
                "</StringToSign><SignatureProvided>5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
                "</SignatureProvided><RequestId>XMLRID</RequestId></Error>",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "SignatureDoesNotMatch",
        .want_rid = "XMLRID",
        .want_msg = "SignatureDoesNotMatch (HTTP 403, request id XMLRID): The request signature we calculated does "
                    "not match the signature you provided.",
    },
    {
        .name = "ec2-style-response-errors",
        .proto = AWSERR_QUERY,
        .status = 401,
        .body = "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the "
                "provided access credentials</Message></Error></Errors><RequestID>ec2-r</RequestID></Response>",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "AuthFailure",
        .want_rid = "ec2-r",
        .want_msg = "AuthFailure (HTTP 401, request id ec2-r): AWS was not able to validate the provided access "
                    "credentials",
    },
    {
        .name = "json-body-where-xml-expected",
        .proto = AWSERR_QUERY,
        .status = 400,
        .body = "{\"__type\":\"x#InvalidAction\",\"message\":\"json anyway\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "InvalidAction",
        .want_rid = "",
        .want_msg = "InvalidAction (HTTP 400): json anyway",
    },
    {
        .name = "xml-body-where-json-expected",
        .proto = AWSERR_REST_JSON,
        .status = 403,
        .headers = {{"x-amzn-RequestId", "r"}},
        .body = "<Error><Code>AccessDenied</Code><Message>x</Message></Error>",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "AccessDenied",
        .want_rid = "r",
        .want_msg = "AccessDenied (HTTP 403, request id r): x",
    },
    {
        .name = "code-normalisation",
        .proto = AWSERR_REST_JSON,
        .status = 400,
        .body = "{\"code\":\"aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/com.amazon.coral."
                "validate/\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "FooError",
        .want_rid = "",
        .want_msg = "FooError (HTTP 400)",
    },
    {
        .name = "message-from-header-only",
        .proto = AWSERR_REST_JSON,
        .status = 400,
        .headers = {{"x-amzn-ErrorType", "BadRequestException"}, {"x-amzn-ErrorMessage", "from the header"}},
        .body = "",
        .want_status = BROCK_ERR_AWS,
        .want_code = "BadRequestException",
        .want_rid = "",
        .want_msg = "BadRequestException (HTTP 400): from the header",
    },
    {
        .name = "proxy-html-page",
        .proto = AWSERR_REST_JSON,
        .status = 502,
        .body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                "</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n",
        .want_status = BROCK_ERR_AWS,
        .want_code = "",
        .want_rid = "",
        .want_msg = "HTTP 502 Bad Gateway: not an AWS error response: \"502 Bad Gateway 502 Bad Gateway "
                    "nginx/1.25.3\"",
    },
    {
        .name = "plain-text-with-escapes",
        .proto = AWSERR_AWS_JSON,
        .status = 503,
        .headers = {{"x-amzn-RequestId", "pt-1"}},
        .body = "Service\tUnavailable \x1b[31mred\x1b[0m \xff\xfe done",
        .want_status = BROCK_ERR_AWS,
        .want_code = "",
        .want_rid = "pt-1",
        .want_msg = "HTTP 503 Service Unavailable (request id pt-1): not an AWS error response: \"Service Unavailable "
                    "[31mred [0m ?? done\"",
    },
    {
        .name = "empty-body-503",
        .proto = AWSERR_REST_JSON,
        .status = 503,
        .body = "",
        .want_status = BROCK_ERR_AWS,
        .want_code = "",
        .want_rid = "",
        .want_msg = "HTTP 503 Service Unavailable with an empty body",
    },
    {
        .name = "empty-body-403-is-auth",
        .proto = AWSERR_REST_XML,
        .status = 403,
        .headers = {{"x-amz-request-id", "s3-e"}},
        .body = " \r\n ",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "",
        .want_rid = "s3-e",
        .want_msg = "HTTP 403 Forbidden (request id s3-e) with an empty body",
    },
    {
        .name = "empty-body-429-is-throttled",
        .proto = AWSERR_REST_JSON,
        .status = 429,
        .body = NULL,
        .want_status = BROCK_ERR_THROTTLED,
        .want_code = "",
        .want_rid = "",
        .want_msg = "HTTP 429 Too Many Requests with an empty body",
    },
    {
        .name = "malformed-json",
        .proto = AWSERR_REST_JSON,
        .status = 500,
        .body = "{\"message\": \"unterminated",
        .want_status = BROCK_ERR_AWS,
        .want_code = "",
        .want_rid = "",
        .want_msg = "HTTP 500 Internal Server Error: not an AWS error response: \"{\"message\": \"unterminated\"",
    },
    {
        .name = "json-without-code-or-message",
        .proto = AWSERR_REST_JSON,
        .status = 500,
        .body = "{\"message\":42,\"code\":[1]}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "",
        .want_rid = "",
        .want_msg = "HTTP 500 Internal Server Error without an AWS error code or message",
    },
    {
        .name = "json-array-body",
        .proto = AWSERR_AWS_JSON,
        .status = 400,
        .body = "[\"not\",\"an\",\"object\"]",
        .want_status = BROCK_ERR_AWS,
        .want_code = "",
        .want_rid = "",
        .want_msg = "HTTP 400 Bad Request: not an AWS error response: \"[\"not\",\"an\",\"object\"]\"",
    },
    {
        .name = "xml-not-an-error-document",
        .proto = AWSERR_QUERY,
        .status = 500,
        .body = "<Foo><Code>NotAnError</Code></Foo>",
        .want_status = BROCK_ERR_AWS,
        .want_code = "",
        .want_rid = "",
        .want_msg = "HTTP 500 Internal Server Error: not an AWS error response: \"NotAnError\"",
    },
    {
        .name = "utf8-kept-controls-dropped",
        .proto = AWSERR_REST_JSON,
        .status = 400,
        .headers = {{"x-amzn-ErrorType", "ValidationException"}},
        .body = "{\"message\":\"30\\u00b0C is \\u001b[1mbold\\u001b[0m\\nnext line\"}",
        .want_status = BROCK_ERR_AWS,
        .want_code = "ValidationException",
        .want_rid = "",
        .want_msg = "ValidationException (HTTP 400): 30\xc2\xb0" "C is [1mbold [0m next line",
    },
    {
        .name = "unknown-code-with-401-is-auth",
        .proto = AWSERR_REST_JSON,
        .status = 401,
        .headers = {{"x-amzn-ErrorType", "SomeNewAuthThing"}},
        .body = "{}",
        .want_status = BROCK_ERR_AUTH,
        .want_code = "SomeNewAuthThing",
        .want_rid = "",
        .want_msg = "SomeNewAuthThing (HTTP 401)",
    },
    {
        .name = "region-disabled-403-is-aws",
        .proto = AWSERR_QUERY,
        .status = 403,
        .body = "<ErrorResponse><Error><Code>RegionDisabledException</Code><Message>STS is not activated in this "
                "region</Message></Error></ErrorResponse>",
        .want_status = BROCK_ERR_AWS,
        .want_code = "RegionDisabledException",
        .want_rid = "",
        .want_msg = "RegionDisabledException (HTTP 403): STS is not activated in this region",
    },
};

static void run_case(void **state)
{
    const struct errcase *c = *state;
    struct http_headers h = HTTP_HEADERS_INIT;
    struct brock_err e = {0};
    for (size_t i = 0; i < 4 && c->headers[i].name; i++)
        assert_int_equal(http_headers_add(&h, c->headers[i].name, c->headers[i].value, &e), BROCK_OK);
    size_t len = c->body ? strlen(c->body) : 0;
    /* Exact-size copy so ASan sees any read past the end. */
    char *body = len ? malloc(len) : NULL;
    if (len)
        memcpy(body, c->body, len);
    enum brock_status st = awserr_parse(c->proto, c->status, &h, body, len, &e);
    if (strcmp(e.msg, c->want_msg) != 0)
        fail_msg("message\n  got:  %s\n  want: %s", e.msg, c->want_msg);
    assert_int_equal(st, c->want_status);
    assert_int_equal(e.status, c->want_status);
    assert_int_equal(e.http_status, c->status);
    assert_string_equal(e.aws_code, c->want_code);
    assert_string_equal(e.request_id, c->want_rid);
    /* Same status without a diagnostic. */
    assert_int_equal(awserr_parse(c->proto, c->status, &h, body, len, NULL), c->want_status);
    free(body);
    http_headers_cleanup(&h);
}

/* ---- special cases ------------------------------------------------------------- */

static void test_classification(void **state)
{
    (void)state;
    static const char *const auth[] = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                                       "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken",
                                       "MissingAuthenticationTokenException", "MissingAuthenticationToken",
                                       "UnauthorizedException", "InvalidClientTokenId", "SignatureDoesNotMatch",
                                       "IncompleteSignature", "InvalidAccessKeyId"};
    for (size_t i = 0; i < sizeof auth / sizeof auth[0]; i++) {
        assert_true(awserr_is_auth_code(auth[i]));
        assert_int_equal(awserr_status(auth[i], 400), BROCK_ERR_AUTH);
    }
    static const char *const thr[] = {"Throttling", "ThrottlingException", "ThrottledException",
                                      "RequestThrottledException", "TooManyRequestsException",
                                      "ProvisionedThroughputExceededException", "TransactionInProgressException",
                                      "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
                                      "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
                                      "EC2ThrottledException"};
    for (size_t i = 0; i < sizeof thr / sizeof thr[0]; i++) {
        assert_true(awserr_is_throttling_code(thr[i]));
        assert_int_equal(awserr_status(thr[i], 400), BROCK_ERR_THROTTLED);
    }
    static const char *const other[] = {"ValidationException", "ServiceQuotaExceededException",
                                        "ModelNotReadyException", "InternalServerException",
                                        "ServiceUnavailableException", "ResourceNotFoundException",
                                        "ModelTimeoutException", "ModelErrorException", "throttling",
                                        "AccessDeniedExceptionX"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        assert_false(awserr_is_auth_code(other[i]));
        assert_false(awserr_is_throttling_code(other[i]));
        assert_int_equal(awserr_status(other[i], 500), BROCK_ERR_AWS);
    }
    assert_int_equal(awserr_status("", 401), BROCK_ERR_AUTH);
    assert_int_equal(awserr_status(NULL, 403), BROCK_ERR_AUTH);
    assert_int_equal(awserr_status("", 429), BROCK_ERR_THROTTLED);
    assert_int_equal(awserr_status("", 500), BROCK_ERR_AWS);
    assert_int_equal(awserr_status("", 404), BROCK_ERR_AWS);
    assert_false(awserr_is_auth_code(NULL));
    assert_false(awserr_is_throttling_code(""));
}

/* AWS echoes the canonical request (with x-amz-security-token) in
 * InvalidSignatureException messages: it must not reach the message. */
static void test_signature_echo_is_scrubbed(void **state)
{
    (void)state;
    static const char token[] = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN";
    char body[2048];
    snprintf(body, sizeof body,
             "{\"message\":\"The request signature we calculated does not match the signature you provided. "
             "Check your AWS Secret Access Key and signing method. Consult the service documentation for "
             "details.\\n\\nThe Canonical String for this request should have been\\n'POST\\n/model/m/invoke\\n\\n"
             "host:bedrock-runtime.us-east-1.amazonaws.com\\nx-amz-date:20250101T000000Z\\n"
             "x-amz-security-token:%s\\n\\nhost;x-amz-date;x-amz-security-token\\nabc'\\n\\n"
             "The String-to-Sign should have been\\n'AWS4-HMAC-SHA256\\n20250101T000000Z\\n...'\\n\"}",
             token);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct brock_err e = {0};
    assert_int_equal(http_headers_add(&h, "x-amzn-ErrorType", "InvalidSignatureException", &e), BROCK_OK);
    assert_int_equal(awserr_parse(AWSERR_REST_JSON, 403, &h, body, strlen(body), &e), BROCK_ERR_AUTH);
    assert_null(strstr(e.msg, token));
    assert_null(strstr(e.msg, "Canonical String"));
    assert_string_equal(e.msg, "InvalidSignatureException (HTTP 403): The request signature we calculated does not "
                               "match the signature you provided. Check your AWS Secret Access Key and signing "
                               "method. Consult the service documentation for details.");

    /* Token or signature values elsewhere in a message are redacted. */
    snprintf(body, sizeof body,
             "{\"message\":\"bad request X-Amz-Security-Token=%s&X-Amz-Signature=deadbeef01 and "
             "x-amz-security-token: %s, Signature=cafe0123\"}",
             token, token);
    assert_int_equal(awserr_parse(AWSERR_REST_JSON, 400, NULL, body, strlen(body), &e), BROCK_ERR_AWS);
    assert_null(strstr(e.msg, token));
    assert_null(strstr(e.msg, "deadbeef01"));
    assert_null(strstr(e.msg, "cafe0123"));
    assert_string_equal(e.msg, "HTTP 400 Bad Request: bad request X-Amz-Security-Token=[redacted]&X-Amz-Signature="
                               "[redacted] and x-amz-security-token:[redacted], Signature=[redacted]");
    /* Also in an excerpt of a non-AWS body. */
    snprintf(body, sizeof body, "oops x-amz-security-token=%s end", token);
    awserr_parse(AWSERR_REST_JSON, 500, NULL, body, strlen(body), &e);
    assert_null(strstr(e.msg, token));
    assert_non_null(strstr(e.msg, "[redacted] end"));
    http_headers_cleanup(&h);
}

static char *repeat(const char *open, size_t n, const char *mid, const char *close)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *p = malloc(n * (lo + lc) + lm + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++, k += lo)
        memcpy(p + k, open, lo);
    memcpy(p + k, mid, lm);
    k += lm;
    for (size_t i = 0; i < n; i++, k += lc)
        memcpy(p + k, close, lc);
    p[k] = '\0';
    return p;
}

static void test_hostile_bodies(void **state)
{
    (void)state;
    struct brock_err e = {0};

    /* Deep JSON: jansson's depth cap answers, we give an excerpt. */
    char *deep = repeat("[", 200000, "1", "]");
    assert_int_equal(awserr_parse(AWSERR_REST_JSON, 500, NULL, deep, strlen(deep), &e), BROCK_ERR_AWS);
    assert_non_null(strstr(e.msg, "not an AWS error response: \"[[[["));
    assert_true(strlen(e.msg) < 300);
    free(deep);
    deep = repeat("{\"a\":", 100000, "1", "}");
    assert_int_equal(awserr_parse(AWSERR_AWS_JSON, 400, NULL, deep, strlen(deep), &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "");
    free(deep);

    /* Deep XML inside an Error element: stopped at the depth cap. */
    char *x = repeat("<a>", 5000, "", "</a>");
    char *doc = malloc(strlen(x) + 100);
    sprintf(doc, "<Error><Code>Deep</Code>%s</Error>", x);
    assert_int_equal(awserr_parse(AWSERR_REST_XML, 400, NULL, doc, strlen(doc), &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, ""); /* not trusted */
    assert_non_null(strstr(e.msg, "HTTP 400 Bad Request"));
    free(x);
    free(doc);
    /* Nesting just under the cap is fine. */
    x = repeat("<a>", AWSERR_MAX_XML_DEPTH - 3, "", "</a>");
    doc = malloc(strlen(x) + 100);
    sprintf(doc, "<ErrorResponse><Error><Code>Shallow</Code>%s</Error></ErrorResponse>", x);
    awserr_parse(AWSERR_QUERY, 400, NULL, doc, strlen(doc), &e);
    assert_string_equal(e.aws_code, "Shallow");
    free(x);
    free(doc);

    /* Entity expansion (billion laughs): a DOCTYPE stops the parse. */
    static const char lol[] =
        "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;\">]>"
        "<Error><Code>Lol</Code><Message>&d;&d;&d;&d;</Message></Error>";
    assert_int_equal(awserr_parse(AWSERR_REST_XML, 400, NULL, lol, strlen(lol), &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "");
    assert_null(strstr(e.msg, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    /* External entities likewise. */
    static const char xxe[] = "<!DOCTYPE Error [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                              "<Error><Code>X</Code><Message>&x;</Message></Error>";
    awserr_parse(AWSERR_REST_XML, 400, NULL, xxe, strlen(xxe), &e);
    assert_null(strstr(e.msg, "root:"));
    assert_string_equal(e.aws_code, "");

    /* Huge JSON: not parsed, short excerpt. */
    size_t n = AWSERR_MAX_BODY + 10;
    char *huge = malloc(n + 1);
    memset(huge, ' ', n);
    memcpy(huge, "{\"__type\":\"x#Huge\",\"message\":\"", 30);
    huge[n - 2] = '"';
    huge[n - 1] = '}';
    huge[n] = '\0';
    assert_int_equal(awserr_parse(AWSERR_AWS_JSON, 400, NULL, huge, n, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "");
    assert_true(strlen(e.msg) < 250);
    /* Just under the cap it is parsed; the long message is cut with "...". */
    memset(huge + 30, 'm', AWSERR_MAX_BODY - 40);
    huge[AWSERR_MAX_BODY - 10] = '"';
    huge[AWSERR_MAX_BODY - 9] = '}';
    assert_int_equal(awserr_parse(AWSERR_AWS_JSON, 400, NULL, huge, AWSERR_MAX_BODY - 8, &e), BROCK_ERR_AWS);
    assert_string_equal(e.aws_code, "Huge");
    assert_true(strlen(e.msg) < sizeof e.msg);
    assert_non_null(strstr(e.msg, "mmm..."));
    free(huge);

    /* Huge XML: its first AWSERR_MAX_BODY bytes are read, enough for the code. */
    n = (size_t)1024 * 1024;
    huge = malloc(n);
    static const char xhead[] = "<Error><Code>SlowDown</Code><RequestId>big</RequestId><Message>";
    memcpy(huge, xhead, sizeof xhead - 1);
    memset(huge + sizeof xhead - 1, 'z', n - (sizeof xhead - 1));
    assert_int_equal(awserr_parse(AWSERR_REST_XML, 503, NULL, huge, n, &e), BROCK_ERR_THROTTLED);
    assert_string_equal(e.aws_code, "SlowDown");
    assert_string_equal(e.request_id, "big");
    assert_true(strlen(e.msg) < sizeof e.msg);
    free(huge);

    /* Binary junk, NUL bytes, a lone '<' or '{', a BOM. */
    static const char junk[] = "\x00\x01\x02<\xff\xfe{\x00}";
    awserr_parse(AWSERR_REST_JSON, 500, NULL, junk, sizeof junk - 1, &e);
    for (const char *p = e.msg; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    awserr_parse(AWSERR_QUERY, 500, NULL, "<", 1, &e);
    awserr_parse(AWSERR_REST_JSON, 500, NULL, "{", 1, &e);
    static const char bom[] = "\xef\xbb\xbf{\"__type\":\"a#Bom\"}";
    awserr_parse(AWSERR_REST_JSON, 400, NULL, bom, sizeof bom - 1, &e);
    assert_string_equal(e.aws_code, "Bom");

    /* Over-long codes and request ids are cut to their fields. */
    char longcode[300];
    memset(longcode, 'C', sizeof longcode - 1);
    longcode[sizeof longcode - 1] = '\0';
    struct http_headers h = HTTP_HEADERS_INIT;
    assert_int_equal(http_headers_add(&h, "x-amzn-ErrorType", longcode, &e), BROCK_OK);
    assert_int_equal(http_headers_add(&h, "x-amzn-RequestId", longcode, &e), BROCK_OK);
    awserr_parse(AWSERR_REST_JSON, 400, &h, "{}", 2, &e);
    assert_int_equal(strlen(e.aws_code), sizeof e.aws_code - 1);
    assert_int_equal(strlen(e.request_id), sizeof e.request_id - 1);
    http_headers_cleanup(&h);
}

static void test_from_response(void **state)
{
    (void)state;
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    r.status = 424;
    assert_int_equal(http_headers_add(&r.headers, "x-amzn-ErrorType", "ModelErrorException", &e), BROCK_OK);
    assert_int_equal(http_headers_add(&r.headers, "x-amzn-RequestId", "me-1", &e), BROCK_OK);
    buf_addstr(&r.body, "{\"message\":\"The model returned an error.\",\"originalStatusCode\":500}");
    assert_int_equal(awserr_from_response(AWSERR_REST_JSON, &r, &e), BROCK_ERR_AWS);
    assert_string_equal(e.msg, "ModelErrorException (HTTP 424, request id me-1): The model returned an error.");
    http_response_free(&r);
}

/* ---- recorded Bedrock errors (shared test data) ------------------------------------ */

struct recorded {
    char dir[512];
    char stem[32];
};

static enum brock_status stream_sink(void *ctx, const char *p, size_t n)
{
    return buf_add(ctx, p, n);
}

/* Serve the recorded answer (status, headers, body) from the fake server,
 * fetch it with http_send in streaming mode (as the Bedrock client does),
 * and parse it. Expected values come from the files, not from brock. */
static void run_recorded(void **state)
{
    const struct recorded *rc = *state;
    char path[700];
    snprintf(path, sizeof path, "%s/%s.meta.json", rc->dir, rc->stem);
    size_t mlen = 0;
    char *meta_text = test_read_file(path, &mlen);
    assert_non_null(meta_text);
    json_error_t je;
    json_t *meta = json_loadb(meta_text, mlen, 0, &je);
    assert_non_null(meta);
    long status = (long)json_integer_value(json_object_get(meta, "status"));
    const char *body_file = json_string_value(json_object_get(meta, "response_body_file"));
    assert_non_null(body_file);
    snprintf(path, sizeof path, "%s/%s", rc->dir, body_file);
    size_t blen = 0;
    char *body = test_read_file(path, &blen);
    assert_non_null(body);
    json_t *bj = json_loadb(body, blen, 0, &je);
    assert_non_null(bj);
    const char *want_message = json_string_value(json_object_get(bj, "message"));
    assert_non_null(want_message);

    struct buf hdrs = BUF_INIT(1 << 16);
    const char *name;
    json_t *vals;
    json_object_foreach(json_object_get(meta, "response_headers"), name, vals) {
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v) {
            /* content-length is recomputed by the server from the body. */
            if (strcasecmp(name, "content-length") != 0)
                buf_addf(&hdrs, "%s: %s\r\n", name, json_string_value(v));
        }
    }
    struct fakesrv *s = fakesrv_start(NULL);
    fakesrv_push(s, &(struct fakesrv_response){.status = (int)status, .headers = buf_cstr(&hdrs), .body = body,
                                               .body_len = blen});
    struct http_client *c = http_client_new(NULL);
    struct http_response r;
    http_response_init(&r);
    struct brock_err e = {0};
    char u[128];
    snprintf(u, sizeof u, "%s/model/us.does-not-exist-model-v1%%3A0/converse-stream", fakesrv_url(s));
    struct buf streamed = BUF_INIT(1 << 20);
    struct http_request rq = {.method = "POST", .url = u, .body = "{}", .body_len = 2,
                              .on_body = stream_sink, .ctx = &streamed};
    assert_int_equal(http_send(c, &rq, &r, &e), BROCK_OK);
    assert_int_equal(r.status, status);
    assert_int_equal(r.body.len, blen); /* an error is collected, not streamed */
    assert_int_equal(streamed.len, 0);

    assert_int_equal(awserr_from_response(AWSERR_REST_JSON, &r, &e), BROCK_ERR_AWS);
    char want[512];
    /* The recorder dropped x-amzn-ErrorType and x-amzn-RequestId (README):
     * no code, no request id. */
    snprintf(want, sizeof want, "HTTP %ld Bad Request: %s", status, want_message);
    assert_string_equal(e.msg, want);
    assert_string_equal(e.aws_code, "");
    assert_int_equal(e.http_status, status);

    /* With the header AWS really sends, the code is named. */
    assert_int_equal(http_headers_add(&r.headers, "x-amzn-ErrorType",
                                      "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/", &e),
                     BROCK_OK);
    assert_int_equal(awserr_from_response(AWSERR_REST_JSON, &r, &e), BROCK_ERR_AWS);
    snprintf(want, sizeof want, "ValidationException (HTTP %ld): %s", status, want_message);
    assert_string_equal(e.msg, want);

    buf_free(&streamed);
    buf_free(&hdrs);
    http_response_free(&r);
    http_client_free(c);
    fakesrv_stop(s);
    json_decref(bj);
    json_decref(meta);
    free(body);
    free(meta_text);
}

static void add_recorded(struct test_list *l)
{
    char *root = testdata_path("bedrock-recorded/extracted");
    char **dirs;
    size_t nd = test_list_dir(root, &dirs);
    if (nd == 0) {
        printf("not ok 1 - no recorded Bedrock traffic in %s\n", root);
        exit(1);
    }
    size_t added = 0;
    struct buf skipped = BUF_INIT(1 << 16);
    for (size_t i = 0; i < nd; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", root, dirs[i]);
        char **files;
        size_t nf = test_list_dir(dir, &files);
        for (size_t k = 0; k < nf; k++) {
            const char *suffix = strstr(files[k], ".meta.json");
            if (!suffix || suffix[strlen(".meta.json")])
                continue;
            char path[700];
            snprintf(path, sizeof path, "%s/%s", dir, files[k]);
            char *t = test_read_file(path, NULL);
            json_error_t je;
            json_t *meta = t ? json_loads(t, 0, &je) : NULL;
            long status = meta ? (long)json_integer_value(json_object_get(meta, "status")) : 0;
            json_decref(meta);
            free(t);
            if (status < 400) {
                buf_addf(&skipped, " %s/%s", dirs[i], files[k]);
                continue;
            }
            struct recorded *rc = calloc(1, sizeof *rc);
            snprintf(rc->dir, sizeof rc->dir, "%s", dir);
            snprintf(rc->stem, sizeof rc->stem, "%.*s", (int)(suffix - files[k]), files[k]);
            char name[256];
            snprintf(name, sizeof name, "recorded %s/%s", dirs[i], rc->stem);
            test_list_add(l, name, run_recorded, rc);
            added++;
        }
        test_free_list(files, nf);
    }
    printf("# recorded interactions not used (HTTP 2xx, not error responses):%s\n", buf_cstr(&skipped));
    buf_free(&skipped);
    if (added < 2) {
        printf("not ok 1 - expected the two recorded HTTP 400 answers, found %zu\n", added);
        exit(1);
    }
    test_free_list(dirs, nd);
    free(root);
}

int main(void)
{
    test_init();
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        printf("not ok 1 - http_global_init: %s\n", e.msg);
        return 1;
    }
    struct test_list l = {0};
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        struct errcase *copy = malloc(sizeof *copy); /* freed by test_list_run */
        *copy = k_cases[i];
        test_list_add(&l, k_cases[i].name, run_case, copy);
    }
    test_list_add(&l, "classification", test_classification, NULL);
    test_list_add(&l, "signature echo is scrubbed", test_signature_echo_is_scrubbed, NULL);
    test_list_add(&l, "hostile bodies", test_hostile_bodies, NULL);
    test_list_add(&l, "from response", test_from_response, NULL);
    add_recorded(&l);
    int failed = test_list_run("awserr", &l);
    http_global_cleanup();
    return failed;
}
