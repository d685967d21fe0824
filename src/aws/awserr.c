/* awserr.c - AWS error responses into struct brock_err; see awserr.h. */
#include "awserr.h"

#include <expat.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/buf.h"
#include "../util/json.h"

/* Longest message text kept from a body (before the prefix is added). */
#define MSG_MAX 600
/* Longest text captured from one XML element. */
#define XML_TEXT_MAX 2048

/* ---- classification ------------------------------------------------------ */

static bool code_in(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(code, list[i]) == 0)
            return true;
    }
    return false;
}

bool awserr_is_auth_code(const char *code)
{
    static const char *const exact[] = {
        "AccessDenied",          "AccessDeniedException",       "UnrecognizedClientException",
        "InvalidSignatureException", "SignatureDoesNotMatch",   "IncompleteSignature",
        "IncompleteSignatureException", "InvalidClientTokenId", "InvalidAccessKeyId",
        "InvalidToken",          "UnauthorizedException",       "UnauthorizedOperation",
        "NotAuthorized",         "NotAuthorizedException",      "AuthFailure",
        "AuthorizationError",    "RequestExpired",              "InvalidGrantException",
        "InvalidClientException", "UnauthorizedClientException", "TokenRefreshRequired",
        "ForbiddenException",
    };
    static const char *const prefix[] = {"ExpiredToken", "MissingAuthenticationToken"};
    if (!code || !*code)
        return false;
    if (code_in(code, exact, BROCK_ARRAY_LEN(exact)))
        return true;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(prefix); i++) {
        if (strncmp(code, prefix[i], strlen(prefix[i])) == 0)
            return true;
    }
    return false;
}

bool awserr_is_throttling_code(const char *code)
{
    /* botocore retries/standard.py and _retry.json. */
    static const char *const list[] = {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    };
    return code && code_in(code, list, BROCK_ARRAY_LEN(list));
}

enum brock_status awserr_status(const char *code, long http_status)
{
    if (awserr_is_auth_code(code))
        return BROCK_ERR_AUTH;
    if (awserr_is_throttling_code(code))
        return BROCK_ERR_THROTTLED;
    if (!code || !*code) {
        if (http_status == 401 || http_status == 403)
            return BROCK_ERR_AUTH;
        if (http_status == 429)
            return BROCK_ERR_THROTTLED;
    } else if (http_status == 401) {
        return BROCK_ERR_AUTH;
    }
    return BROCK_ERR_AWS;
}

/* ---- text helpers ---------------------------------------------------------- */

static const char *reason_phrase(long status)
{
    switch (status) {
    case 301: return "Moved Permanently";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 424: return "Failed Dependency";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return NULL;
    }
}

/* Normalise an error code in place: cut at the first ':' (and ';' for
 * x-amzn-query-error), keep what follows the last '#', trim spaces, keep
 * printable ASCII only. */
static void normalise_code(char *out, size_t outlen, const char *in, size_t n)
{
    const char *end = in + n;
    for (const char *p = in; p < end; p++) {
        if (*p == ':' || *p == ';') {
            end = p;
            break;
        }
    }
    const char *start = in;
    for (const char *p = in; p < end; p++) {
        if (*p == '#')
            start = p + 1;
    }
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t j = 0;
    for (const char *p = start; p < end && j + 1 < outlen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c > 0x20 && c < 0x7f)
            out[j++] = (char)c;
    }
    out[j] = '\0';
}

/* Copy printable ASCII of a request id. */
static void copy_id(char *out, size_t outlen, const char *in, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c > 0x20 && c < 0x7f)
            out[j++] = (char)c;
    }
    out[j] = '\0';
}

static bool starts_ci(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && strncasecmp(p, word, n) == 0;
}

/* Make text from AWS safe to print into out (a fresh buf):
 *  - drop what follows "The Canonical String for this request should have
 *    been" / "The String-to-Sign should have been" (the echoed canonical
 *    request carries x-amz-security-token),
 *  - replace values after x-amz-security-token, x-amz-signature and
 *    signature (followed by '=' or ':') with [redacted],
 *  - control characters become spaces, runs of spaces collapse,
 *  - bytes >= 0x80 are kept only if keep_utf8 (validated text), else '?',
 *  - at most `max` bytes, cut at a UTF-8 boundary, "..." marks a cut. */
static void sanitise(struct buf *out, const char *s, size_t n, bool keep_utf8, size_t max)
{
    static const char *const cut_at[] = {"The Canonical String for this request",
                                         "The String-to-Sign should have been"};
    static const char *const secret_keys[] = {"x-amz-security-token", "x-amz-signature", "signature"};
    const char *end = s + n;
    for (const char *p = s; p < end; p++) {
        for (size_t i = 0; i < BROCK_ARRAY_LEN(cut_at); i++) {
            if (starts_ci(p, end, cut_at[i])) {
                end = p;
                break;
            }
        }
    }
    bool space = false, cut = false;
    for (const char *p = s; p < end;) {
        if (out->len >= max) {
            cut = true;
            break;
        }
        bool redacted = false;
        for (size_t i = 0; i < BROCK_ARRAY_LEN(secret_keys); i++) {
            size_t kl = strlen(secret_keys[i]);
            if (starts_ci(p, end, secret_keys[i]) && p + kl < end && (p[kl] == '=' || p[kl] == ':')) {
                buf_add(out, p, kl + 1);
                buf_addstr(out, "[redacted]");
                p += kl + 1;
                while (p < end && *p == ' ')
                    p++;
                while (p < end && !strchr(" \t\r\n&,;'\"<>", *p))
                    p++;
                redacted = true;
                space = false;
                break;
            }
        }
        if (redacted)
            continue;
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (!space && out->len > 0)
                buf_addc(out, ' ');
            space = true;
            p++;
            continue;
        }
        space = false;
        if (c >= 0x80) {
            if (!keep_utf8) {
                buf_addc(out, '?');
                p++;
                continue;
            }
            /* Copy the whole sequence or nothing. */
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            if ((size_t)(end - p) < len || out->len + len > max) {
                cut = out->len + len > max;
                break;
            }
            buf_add(out, p, len);
            p += len;
            continue;
        }
        buf_addc(out, (char)c);
        p++;
    }
    while (out->len && out->ptr[out->len - 1] == ' ')
        buf_truncate(out, out->len - 1);
    if (cut)
        buf_addstr(out, "...");
}

/* Text of an HTML/XML page without its tags (for excerpts). */
static void strip_tags(struct buf *out, const char *s, size_t n)
{
    bool in_tag = false;
    for (size_t i = 0; i < n && out->len < AWSERR_EXCERPT_LEN * 4; i++) {
        char c = s[i];
        if (c == '<') {
            in_tag = true;
            buf_addc(out, ' ');
        } else if (c == '>') {
            in_tag = false;
        } else if (!in_tag) {
            buf_addc(out, c);
        }
    }
}

/* ---- XML ----------------------------------------------------------------------- */

struct xml_state {
    XML_Parser p;
    int depth;
    bool too_deep, doctype;
    char stack[AWSERR_MAX_XML_DEPTH + 1][24]; /* open element names (local part) */
    /* capture: 0 none, 1 code, 2 message, 3 request id */
    int capturing;
    int capture_depth;
    bool root_known;
    bool aws_root; /* the root is Error / ErrorResponse / Response */
    struct buf code, message, request_id;
};

static const char *local_name(const char *name)
{
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static const char *parent_name(const struct xml_state *x)
{
    /* stack[depth - 1] is the current element, its parent one below. */
    return x->depth < 2 ? "" : x->stack[x->depth - 2];
}

static void XMLCALL xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct xml_state *x = ud;
    x->depth++;
    if (x->depth > AWSERR_MAX_XML_DEPTH) {
        x->too_deep = true;
        XML_StopParser(x->p, XML_FALSE);
        return;
    }
    const char *ln = local_name(name);
    snprintf(x->stack[x->depth - 1], sizeof x->stack[0], "%s", ln);
    if (!x->root_known) {
        x->root_known = true;
        x->aws_root = !strcmp(ln, "Error") || !strcmp(ln, "ErrorResponse") || !strcmp(ln, "Response");
    }
    if (!x->aws_root || x->capturing)
        return;
    const char *parent = parent_name(x);
    bool in_error = !strcmp(parent, "Error");
    struct buf *target = NULL;
    int kind = 0;
    if (in_error && !strcmp(ln, "Code")) {
        target = &x->code;
        kind = 1;
    } else if (in_error && !strcmp(ln, "Message")) {
        target = &x->message;
        kind = 2;
    } else if ((!strcmp(ln, "RequestId") || !strcmp(ln, "RequestID")) &&
               (in_error || !strcmp(parent, "ErrorResponse") || !strcmp(parent, "Response") ||
                !strcmp(parent, "ResponseMetadata"))) {
        target = &x->request_id;
        kind = 3;
    }
    if (target && target->len == 0 && !target->overflow) {
        x->capturing = kind;
        x->capture_depth = x->depth;
    }
}

static void XMLCALL xml_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct xml_state *x = ud;
    if (x->capturing && x->depth == x->capture_depth)
        x->capturing = 0;
    x->depth--;
}

static void XMLCALL xml_text(void *ud, const XML_Char *s, int len)
{
    struct xml_state *x = ud;
    if (!x->capturing || len <= 0)
        return;
    struct buf *b = x->capturing == 1 ? &x->code : x->capturing == 2 ? &x->message : &x->request_id;
    size_t room = b->max > b->len ? b->max - b->len : 0;
    buf_add(b, s, (size_t)len < room ? (size_t)len : room);
}

static void XMLCALL xml_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                                const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    struct xml_state *x = ud;
    x->doctype = true;
    XML_StopParser(x->p, XML_FALSE);
}

/* Parse an XML error document; true if it was an AWS error document from
 * which anything was learnt. */
static bool parse_xml(const char *body, size_t len, struct xml_state *x)
{
    x->p = XML_ParserCreate("UTF-8");
    if (!x->p)
        return false;
    buf_init(&x->code, XML_TEXT_MAX);
    buf_init(&x->message, XML_TEXT_MAX);
    buf_init(&x->request_id, XML_TEXT_MAX);
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, xml_start, xml_end);
    XML_SetCharacterDataHandler(x->p, xml_text);
    XML_SetStartDoctypeDeclHandler(x->p, xml_doctype);
    size_t n = len > AWSERR_MAX_BODY ? AWSERR_MAX_BODY : len;
    XML_Parse(x->p, body, (int)n, n == len ? XML_TRUE : XML_FALSE);
    XML_ParserFree(x->p);
    x->p = NULL;
    if (x->doctype || x->too_deep)
        return false;
    return x->aws_root && (x->code.len || x->message.len || x->request_id.len);
}

static void xml_state_free(struct xml_state *x)
{
    buf_free(&x->code);
    buf_free(&x->message);
    buf_free(&x->request_id);
}

/* ---- the parser --------------------------------------------------------------- */

enum brock_status awserr_parse(enum awserr_protocol proto, long http_status,
                               const struct http_headers *headers, const char *body, size_t len,
                               struct brock_err *e)
{
    char code[sizeof e->aws_code] = "";
    char rid[sizeof e->request_id] = "";
    struct buf msg = BUF_INIT(MSG_MAX + 8);
    struct buf excerpt = BUF_INIT(AWSERR_EXCERPT_LEN + 8);
    const char *note = NULL; /* why the body told us nothing */
    if (!body)
        len = 0;

    /* Headers first. */
    const char *h_type = headers ? http_headers_get(headers, "x-amzn-ErrorType") : NULL;
    const char *h_query = headers ? http_headers_get(headers, "x-amzn-query-error") : NULL;
    const char *h_msg = headers ? http_headers_get(headers, "x-amzn-ErrorMessage") : NULL;
    static const char *const rid_headers[] = {"x-amzn-RequestId", "x-amz-request-id", "x-amzn-request-id"};
    for (size_t i = 0; headers && i < BROCK_ARRAY_LEN(rid_headers) && !rid[0]; i++) {
        const char *v = http_headers_get(headers, rid_headers[i]);
        if (v)
            copy_id(rid, sizeof rid, v, strlen(v));
    }
    if (proto == AWSERR_AWS_JSON && h_query && *h_query)
        normalise_code(code, sizeof code, h_query, strlen(h_query));
    else if (proto == AWSERR_REST_JSON && h_type && *h_type)
        normalise_code(code, sizeof code, h_type, strlen(h_type));

    /* Then the body, by what it looks like. */
    size_t off = 0;
    if (len >= 3 && (unsigned char)body[0] == 0xef && (unsigned char)body[1] == 0xbb &&
        (unsigned char)body[2] == 0xbf)
        off = 3;
    while (off < len && body[off] && strchr(" \t\r\n", body[off]))
        off++;
    const char *b = body ? body + off : NULL;
    size_t blen = len - off;
    bool understood = false;
    if (blen == 0) {
        note = "an empty body";
    } else if (b[0] == '{') {
        json_t *root = NULL;
        if (blen > AWSERR_MAX_BODY) {
            note = "an oversized JSON body";
        } else if (json_parse(b, blen, "AWS error body", &root, NULL) == BROCK_OK && json_is_object(root)) {
            understood = true;
            if (!code[0]) {
                static const char *const rest_keys[] = {"code", "Code", "__type"};
                static const char *const json_keys[] = {"__type", "code", "Code"};
                const char *const *keys = proto == AWSERR_AWS_JSON ? json_keys : rest_keys;
                for (size_t i = 0; i < 3 && !code[0]; i++) {
                    const char *v = json_str(root, keys[i]);
                    if (v)
                        normalise_code(code, sizeof code, v, strlen(v));
                }
            }
            const char *m = json_str(root, "message");
            if (!m)
                m = json_str(root, "Message");
            if (m)
                sanitise(&msg, m, strlen(m), true, MSG_MAX);
        } else {
            note = "a malformed JSON body";
        }
        json_decref(root);
    } else if (b[0] == '<') {
        struct xml_state x;
        memset(&x, 0, sizeof x);
        if (parse_xml(b, blen, &x)) {
            understood = true;
            if (!code[0] && x.code.len)
                normalise_code(code, sizeof code, x.code.ptr, x.code.len);
            if (x.message.len)
                sanitise(&msg, x.message.ptr, x.message.len, true, MSG_MAX);
            if (!rid[0] && x.request_id.len)
                copy_id(rid, sizeof rid, x.request_id.ptr, x.request_id.len);
        } else {
            note = x.too_deep ? "an XML body nested too deeply" : x.doctype ? "an XML body with a DOCTYPE" : NULL;
            struct buf text = BUF_INIT(AWSERR_EXCERPT_LEN * 4 + 8);
            strip_tags(&text, b, blen);
            sanitise(&excerpt, buf_cstr(&text), text.len, false, AWSERR_EXCERPT_LEN);
            buf_free(&text);
        }
        xml_state_free(&x);
    }
    if (!understood && !excerpt.len && blen)
        sanitise(&excerpt, b, blen < AWSERR_EXCERPT_LEN * 4 ? blen : AWSERR_EXCERPT_LEN * 4, false,
                 AWSERR_EXCERPT_LEN);
    /* Late fallbacks: the error-type header for awsJson, the message header. */
    if (!code[0] && h_type && *h_type)
        normalise_code(code, sizeof code, h_type, strlen(h_type));
    if (!msg.len && h_msg && *h_msg)
        sanitise(&msg, h_msg, strlen(h_msg), false, MSG_MAX);

    enum brock_status st = awserr_status(code, http_status);
    if (e) {
        /* "<Code> (HTTP 403, request id X): message", or without a code
         * "HTTP 502 Bad Gateway (request id X): message / excerpt / note". */
        struct buf head = BUF_INIT(sizeof e->msg);
        const char *phrase = reason_phrase(http_status);
        if (code[0])
            buf_addf(&head, "%s (HTTP %ld%s%s)", code, http_status, rid[0] ? ", request id " : "", rid);
        else
            buf_addf(&head, "HTTP %ld%s%s%s%s%s", http_status, phrase ? " " : "", phrase ? phrase : "",
                     rid[0] ? " (request id " : "", rid, rid[0] ? ")" : "");
        if (msg.len)
            buf_addf(&head, ": %s", msg.ptr);
        else if (!code[0] && excerpt.len)
            buf_addf(&head, ": not an AWS error response: \"%s\"", excerpt.ptr);
        else if (!code[0] && note)
            buf_addf(&head, " with %s", note);
        else if (!code[0])
            buf_addstr(&head, " without an AWS error code or message");
        err_set(e, st, "%s", buf_cstr(&head));
        e->http_status = (int)http_status;
        snprintf(e->aws_code, sizeof e->aws_code, "%s", code);
        snprintf(e->request_id, sizeof e->request_id, "%s", rid);
        buf_free(&head);
    }
    buf_free(&msg);
    buf_free(&excerpt);
    return st;
}

enum brock_status awserr_from_response(enum awserr_protocol proto, const struct http_response *r,
                                       struct brock_err *e)
{
    return awserr_parse(proto, r->status, &r->headers, r->body.ptr, r->body.len, e);
}
