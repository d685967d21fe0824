/* emulator.c - `brock emulate`: lifecycle, routing, authentication, STS, the
 * request log, faults and the /_emulator control endpoints. The Bedrock
 * Runtime operations themselves are in emulator_bedrock.c. */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../aws/bearer.h"
#include "../aws/crypto.h"
#include "../aws/sigv4.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "../util/log.h"

#define CORAL_SUFFIX ":http://internal.amazon.com/coral/com.amazon.bedrock/"
#define STS_NS "https://sts.amazonaws.com/doc/2011-06-15/"

static const struct {
    const char *akid, *secret;
} example_keys[] = {
    {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
    {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
};

int64_t emu_now_ms(const struct emulator *em)
{
    return clock_now_ms(em->clock);
}

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static void make_request_id(char out[40])
{
    uint8_t r[16];
    if (crypto_random(r, sizeof r, NULL) != BROCK_OK) {
        /* never expected; fall back to the clock so ids still differ */
        int64_t t = time_mono_ns();
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)(i * 37);
    }
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    char hex[33];
    hex_encode(r, sizeof r, hex);
    snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void xml_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_addstr(b, "&lt;"); break;
        case '>': buf_addstr(b, "&gt;"); break;
        case '&': buf_addstr(b, "&amp;"); break;
        case '"': buf_addstr(b, "&quot;"); break;
        case '\'': buf_addstr(b, "&apos;"); break;
        default: buf_addc(b, *s); break;
        }
    }
}

static bool ct_equal(const char *a, size_t an, const char *b, size_t bn)
{
    unsigned char d = an != bn;
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Value of `name` in an application/x-www-form-urlencoded string, decoded
 * ('+' is a space). False if absent. */
static bool form_get(const char *s, size_t n, const char *name, struct buf *out)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        const char *eq = memchr(s + i, '=', j - i);
        size_t kl = eq ? (size_t)(eq - (s + i)) : j - i;
        if (kl == nl && !memcmp(s + i, name, nl)) {
            buf_reset(out);
            const char *v = eq ? eq + 1 : s + j;
            size_t vl = (size_t)(s + j - v);
            struct buf raw = BUF_INIT(vl + 1);
            buf_add(&raw, v, vl);
            for (size_t k = 0; k < raw.len; k++)
                if (raw.ptr && raw.ptr[k] == '+')
                    raw.ptr[k] = ' ';
            uri_decode(out, buf_cstr(&raw), raw.len);
            buf_free(&raw);
            return buf_status(out) == BROCK_OK;
        }
        i = j + 1;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* the request log                                                      */

static bool secret_header(const char *name)
{
    static const char *const names[] = {"authorization", "x-amz-security-token", "cookie", "proxy-authorization"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(names); i++)
        if (!strcasecmp(name, names[i]))
            return true;
    return false;
}

/* The query with the values of X-Amz-Signature and X-Amz-Security-Token
 * (and any *Signature / *Token parameter) replaced. */
static json_t *redacted_query(const char *q)
{
    struct buf b = BUF_INIT(BUF_MAX_SMALL);
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (b.len)
            buf_addc(&b, '&');
        bool secret = (kl >= 9 && !strncasecmp(p + kl - 9, "Signature", 9)) ||
                      (kl >= 5 && !strncasecmp(p + kl - 5, "Token", 5));
        if (secret && eq) {
            buf_add(&b, p, kl);
            buf_addstr(&b, "=[redacted]");
        } else {
            buf_add(&b, p, len);
        }
        p += len + (amp ? 1 : 0);
    }
    json_t *v = buf_status(&b) == BROCK_OK ? json_stringn(buf_cstr(&b), b.len) : NULL;
    buf_free(&b);
    return v ? v : json_string("[unreadable]");
}

static void log_evict(struct emulator *em)
{
    while (json_array_size(em->log) > EMULATOR_MAX_LOG ||
           (em->log_bytes > EMULATOR_MAX_LOG_BYTES && json_array_size(em->log) > 0)) {
        int64_t bytes = 0;
        json_int(json_array_get(em->log, 0), "loggedBodyBytes", &bytes);
        em->log_bytes -= (size_t)bytes <= em->log_bytes ? (size_t)bytes : em->log_bytes;
        json_array_remove(em->log, 0);
    }
}

/* Parse the body (JSON services) and open the call's log entry. */
static void open_entry(struct emu_call *c, const char *service, bool json_body)
{
    struct emulator *em = c->em;
    size_t n = 0;
    const char *body = httpd_req_body(c->req, &n);
    if (n && json_body) {
        struct brock_err e = {0};
        if (json_parse(body, n, "request body", &c->body, &e) != BROCK_OK)
            snprintf(c->body_error, sizeof c->body_error, "%.250s", e.msg);
    }

    json_t *entry = json_object();
    char t[21];
    time_fmt_iso8601(emu_now_ms(em) / 1000, t);
    json_object_set_new(entry, "seq", json_integer((json_int_t)++em->seq));
    json_object_set_new(entry, "requestId", json_string(c->id));
    json_object_set_new(entry, "time", json_string(t));
    json_object_set_new(entry, "service", json_string(service));
    json_object_set_new(entry, "method", json_string(httpd_req_method(c->req)));
    json_t *path = json_string(httpd_req_path(c->req));
    json_object_set_new(entry, "path", path ? path : json_string("[not UTF-8]"));
    if (*httpd_req_query(c->req))
        json_object_set_new(entry, "query", redacted_query(httpd_req_query(c->req)));
    json_object_set_new(entry, "protocol", json_string(httpd_req_protocol(c->req)));
    json_t *hdrs = json_object();
    const char *hn, *hv;
    for (size_t i = 0; httpd_req_header_at(c->req, i, &hn, &hv); i++) {
        if (secret_header(hn))
            continue;
        char lower[128];
        size_t l = 0;
        for (; hn[l] && l + 1 < sizeof lower; l++)
            lower[l] = (char)tolower((unsigned char)hn[l]);
        lower[l] = '\0';
        json_t *v = json_string(hv);
        if (!v)
            continue;
        json_t *prev = json_object_get(hdrs, lower);
        if (prev) {
            char *joined = NULL;
            if (asprintf(&joined, "%s, %s", json_string_value(prev), hv) > 0) {
                json_decref(v);
                v = json_string(joined);
            }
            free(joined);
            if (!v)
                continue;
        }
        json_object_set_new(hdrs, lower, v);
    }
    json_object_set_new(entry, "headers", hdrs);
    json_object_set_new(entry, "bodyBytes", json_integer((json_int_t)n));
    size_t charged = 0;
    if (c->body) {
        if (n <= EMULATOR_MAX_LOG_BODY) {
            json_object_set(entry, "body", c->body);
            charged = n;
        } else {
            json_object_set_new(entry, "bodyTruncated", json_true());
        }
    } else if (n) {
        json_t *s = n <= EMULATOR_MAX_LOG_BODY ? json_stringn(body, n) : NULL;
        if (s) {
            json_object_set_new(entry, "bodyText", s);
            charged = n;
        } else {
            json_object_set_new(entry, "bodyTruncated", json_true());
        }
    }
    json_object_set_new(entry, "loggedBodyBytes", json_integer((json_int_t)charged));
    em->log_bytes += charged;
    json_array_append(em->log, entry);
    c->entry = entry; /* the call keeps its own reference */
    log_evict(em);
}

void emu_note(struct emu_call *c, const char *key, json_t *value)
{
    if (c->entry && value)
        json_object_set_new(c->entry, key, value);
    else
        json_decref(value);
}

void emu_note_status(struct emu_call *c, int status, const char *code)
{
    emu_note(c, "status", json_integer(status));
    if (code)
        emu_note(c, "error", json_string(code));
    log_info("emulate: %s %s -> %d%s%s (%s, %s)", httpd_req_method(c->req), httpd_req_path(c->req), status,
             code ? " " : "", code ? code : "", httpd_req_protocol(c->req), c->id);
}

void emu_call_free(struct emu_call *c)
{
    if (!c)
        return;
    json_decref(c->body);
    json_decref(c->entry);
    free(c);
}

/* ------------------------------------------------------------------ */
/* answers                                                              */

void emu_send_body(struct emu_call *c, int status, const char *content_type, const char *extra_headers[],
                   const void *body, size_t n)
{
    (void)httpd_resp_set_status(c->resp, status);
    (void)httpd_resp_add_header(c->resp, "x-amzn-RequestId", c->id);
    if (content_type)
        (void)httpd_resp_add_header(c->resp, "Content-Type", content_type);
    for (size_t i = 0; extra_headers && extra_headers[i]; i += 2)
        (void)httpd_resp_add_header(c->resp, extra_headers[i], extra_headers[i + 1]);
    (void)httpd_resp_send(c->resp, body, n);
    c->finished = true;
}

/* The awsQuery code for a restJson front-door code. */
static const char *query_code(const char *code)
{
    static const char *const map[][2] = {
        {"UnrecognizedClientException", "InvalidClientTokenId"},
        {"InvalidSignatureException", "SignatureDoesNotMatch"},
        {"ExpiredTokenException", "ExpiredToken"},
        {"MissingAuthenticationTokenException", "MissingAuthenticationToken"},
        {"IncompleteSignatureException", "IncompleteSignature"},
        {"AccessDeniedException", "AccessDenied"},
        {"ThrottlingException", "Throttling"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(map); i++)
        if (!strcmp(code, map[i][0]))
            return map[i][1];
    return code;
}

/* The S3 code for a front-door code (S3 names its auth errors differently). */
static const char *s3_code(const char *code, const char *message)
{
    static const char *const map[][2] = {
        {"UnrecognizedClientException", "InvalidAccessKeyId"},
        {"InvalidSignatureException", "SignatureDoesNotMatch"},
        {"ExpiredTokenException", "ExpiredToken"},
        {"MissingAuthenticationTokenException", "AccessDenied"},
        {"IncompleteSignatureException", "AuthorizationHeaderMalformed"},
        {"AccessDeniedException", "AccessDenied"},
        {"ThrottlingException", "SlowDown"},
        {"ValidationException", "InvalidRequest"},
    };
    if (!strcmp(code, "InvalidSignatureException") && strstr(message, "Signature expired"))
        return "RequestTimeTooSkewed";
    if (!strcmp(code, "InvalidSignatureException") && strstr(message, "x-amz-content-sha256"))
        return "XAmzContentSHA256Mismatch";
    for (size_t i = 0; i < BROCK_ARRAY_LEN(map); i++)
        if (!strcmp(code, map[i][0]))
            return map[i][1];
    return code;
}

void emu_send_error(struct emu_call *c, int status, const char *code, const char *message, int64_t retry_after_ms)
{
    struct buf b = BUF_INIT(BUF_MAX_SMALL);
    char etype[160], retry[24];
    const char *extra[6] = {NULL};
    size_t ne = 0;
    const char *ctype = "application/json";
    if (retry_after_ms >= 0) {
        snprintf(retry, sizeof retry, "%lld", (long long)retry_after_ms);
        extra[ne++] = "x-amz-retry-after";
        extra[ne++] = retry;
    }
    switch (c->proto) {
    case EMU_QUERY_XML:
        code = query_code(code);
        buf_addf(&b, "<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n"
                     "    <Message>",
                 c->xmlns ? c->xmlns : STS_NS, status >= 500 ? "Receiver" : "Sender", code);
        xml_escape(&b, message);
        buf_addf(&b, "</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n", c->id);
        ctype = "text/xml";
        break;
    case EMU_JSON_RPC:
        buf_addf(&b, "{\"__type\":\"%s\",\"message\":", code);
        scenario_json_quote(&b, message, strlen(message));
        buf_addc(&b, '}');
        ctype = "application/x-amz-json-1.1";
        break;
    case EMU_REST_XML: /* S3: <Error> without a wrapper, S3's own auth codes */
        code = s3_code(code, message);
        if (!strcmp(code, "XAmzContentSHA256Mismatch"))
            status = 400; /* S3's status for it; the signature itself was fine */
        buf_addf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>", code);
        xml_escape(&b, message);
        buf_addf(&b, "</Message><RequestId>%s</RequestId></Error>\n", c->id);
        ctype = "application/xml";
        extra[ne++] = "x-amz-request-id";
        extra[ne++] = c->id;
        break;
    case EMU_REST_JSON:
        snprintf(etype, sizeof etype, "%s%s", code, CORAL_SUFFIX);
        extra[ne++] = "x-amzn-ErrorType";
        extra[ne++] = etype;
        buf_addstr(&b, "{\"message\":");
        scenario_json_quote(&b, message, strlen(message));
        buf_addc(&b, '}');
        break;
    }
    emu_note_status(c, status, code);
    emu_note(c, "errorMessage", json_string(message));
    emu_send_body(c, status, ctype, extra, buf_cstr(&b), b.len);
    buf_free(&b);
}

static void send_json_text(struct emu_call *c, int status, const char *json)
{
    emu_send_body(c, status, "application/json", NULL, json, strlen(json));
}

static void send_json_value(struct emu_call *c, int status, json_t *v)
{
    char *s = json_dump_compact(v);
    send_json_text(c, status, s);
    free(s);
    json_decref(v);
}

/* ------------------------------------------------------------------ */
/* faults                                                               */

static bool model_is(const char *want, const struct emu_call *c)
{
    return !strcmp(want, c->model_id) || (c->base_id && !strcmp(want, c->base_id));
}

bool emu_take_fault(struct emu_call *c, unsigned kinds, struct scenario_fault *out)
{
    struct scenario_faults *fs = &c->em->faults;
    for (size_t i = 0; i < fs->n; i++) {
        struct scenario_fault *f = &fs->v[i];
        if (!(kinds & (1u << f->kind)) || !(f->ops & c->op))
            continue;
        if (f->model && !model_is(f->model, c))
            continue;
        if (f->kind == SCENARIO_FAULT_EXPIRE_KEY &&
            (!c->key || !c->key->access_key_id || strcmp(c->key->access_key_id, f->access_key_id)))
            continue;
        if (f->probability > 0 && f->probability < 1.0 && crypto_random_unit() >= f->probability)
            continue; /* spared this time; the count is not used up */
        scenario_fault_copy(out, f);
        if (f->count > 0 && --f->count == 0) {
            scenario_fault_cleanup(f);
            memmove(f, f + 1, (fs->n - i - 1) * sizeof *f);
            fs->n--;
        }
        return true;
    }
    return false;
}

static void install_faults(struct emulator *em, const struct scenario_faults *src)
{
    size_t room = SCENARIO_MAX_FAULTS > em->faults.n ? SCENARIO_MAX_FAULTS - em->faults.n : 0;
    size_t n = src->n < room ? src->n : room;
    if (!n)
        return;
    em->faults.v = xrealloc(em->faults.v, (em->faults.n + n) * sizeof *em->faults.v);
    for (size_t i = 0; i < n; i++)
        scenario_fault_copy(&em->faults.v[em->faults.n++], &src->v[i]);
}

/* Parse and add faults all or nothing. */
static enum brock_status add_faults(struct emulator *em, const char *text, size_t n, const char *what,
                                    size_t *added, struct brock_err *e)
{
    struct scenario_faults tmp = {NULL, 0};
    enum brock_status st = scenario_faults_parse(text, n, what, &tmp, e);
    if (st == BROCK_OK && em->faults.n + tmp.n > SCENARIO_MAX_FAULTS)
        st = err_set(e, BROCK_ERR_TOO_LARGE, "%s: more than %d active faults", what, SCENARIO_MAX_FAULTS);
    if (st == BROCK_OK) {
        install_faults(em, &tmp);
        if (added)
            *added = tmp.n;
    }
    scenario_faults_free(&tmp);
    return st;
}

static json_t *fault_json(const struct scenario_fault *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(f->type));
    json_object_set_new(o, "count", json_integer(f->count));
    if (f->probability > 0 && f->probability < 1.0)
        json_object_set_new(o, "probability", json_real(f->probability));
    json_t *ops = json_array();
    for (unsigned b = 1; b <= SCENARIO_OP_LAST; b <<= 1)
        if (f->ops & b)
            json_array_append_new(ops, json_string(scenario_op_name(b)));
    json_object_set_new(o, "operations", ops);
    if (f->model)
        json_object_set_new(o, "model", json_string(f->model));
    if (f->code)
        json_object_set_new(o, f->kind == SCENARIO_FAULT_ERROR ? "code" : "exception", json_string(f->code));
    if (f->kind == SCENARIO_FAULT_ERROR)
        json_object_set_new(o, "status", json_integer(f->status));
    if (f->kind == SCENARIO_FAULT_STREAM_EXCEPTION || f->kind == SCENARIO_FAULT_TRUNCATE)
        json_object_set_new(o, "after", json_integer(f->after));
    if (f->kind == SCENARIO_FAULT_BAD_CRC)
        json_object_set_new(o, "frame", json_integer(f->after));
    if (f->kind == SCENARIO_FAULT_SLOW)
        json_object_set_new(o, "delay_ms", json_integer(f->delay_ms));
    if (f->access_key_id)
        json_object_set_new(o, "access_key_id", json_string(f->access_key_id));
    return o;
}

/* ------------------------------------------------------------------ */
/* authentication                                                       */

struct lookup_ctx {
    struct emulator *em;
    const struct scenario_key *found;
};

static bool lookup_key(void *ctx, const char *akid, struct sigv4_secret *out)
{
    struct lookup_ctx *lc = ctx;
    for (size_t i = 0; i < lc->em->keys.n; i++) {
        const struct scenario_key *k = &lc->em->keys.v[i];
        if (k->access_key_id && !strcmp(k->access_key_id, akid)) {
            out->secret_access_key = k->secret_access_key;
            out->session_token = k->session_token;
            lc->found = k;
            return true;
        }
    }
    return false;
}

static void auth_fail(struct emu_call *c, int status, const char *code, const char *msg)
{
    emu_send_error(c, status, code, msg, -1);
}

static const char k_bad_token[] = "The security token included in the request is invalid.";

/* Check the request's credentials for `service`; on failure the error is
 * answered and false returned. */
static bool check_auth(struct emu_call *c, const char *service, json_t *auth)
{
    struct emulator *em = c->em;
    int64_t now_ms = emu_now_ms(em);
    struct lookup_ctx lc = {em, NULL};
    struct sigv4_verify_params vp = {.lookup = lookup_key, .lookup_ctx = &lc, .now_s = now_ms / 1000};
    vp.no_normalize_path = vp.no_double_encode = !strcmp(service, "s3"); /* S3's canonical URI: the wire path */
    struct sigv4_verified ver;
    struct brock_err e = {0};
    const char *authz = httpd_req_header(c->req, "authorization");

    if (authz && !strncasecmp(authz, "Bearer ", 7) && !strcmp(service, "bedrock")) {
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        size_t tl = strlen(tok);
        json_object_set_new(auth, "type", json_string("bearer"));
        if (tl >= strlen(BEARER_PREFIX) && !strncmp(tok, BEARER_PREFIX, strlen(BEARER_PREFIX))) {
            struct bearer_info info;
            json_object_set_new(auth, "kind", json_string("short-term"));
            enum brock_status st = bearer_verify(em->signer, tok, tl, &vp, &info, &ver, &e);
            if (info.access_key_id[0])
                json_object_set_new(auth, "accessKeyId", json_string(info.access_key_id));
            if (info.region[0])
                json_object_set_new(auth, "region", json_string(info.region));
            if (st == BROCK_OK && strcmp(info.service, "bedrock")) {
                auth_fail(c, 403, "InvalidSignatureException",
                          "Credential should be scoped to correct service: 'bedrock'.");
                return false;
            }
            if (st == BROCK_ERR_AUTH) {
                auth_fail(c, e.http_status ? e.http_status : 403,
                          e.aws_code[0] ? e.aws_code : "UnrecognizedClientException", e.msg);
                return false;
            }
            if (st != BROCK_OK) {
                char msg[900];
                snprintf(msg, sizeof msg, "Invalid API key: %s", e.msg);
                auth_fail(c, 403, "UnrecognizedClientException", msg);
                return false;
            }
        } else {
            json_object_set_new(auth, "kind", json_string("long-term"));
            for (size_t i = 0; i < em->keys.n && !lc.found; i++) {
                const struct scenario_key *k = &em->keys.v[i];
                if (k->api_key && ct_equal(k->api_key, strlen(k->api_key), tok, tl))
                    lc.found = k;
            }
            if (!lc.found) {
                auth_fail(c, 403, "UnrecognizedClientException", k_bad_token);
                return false;
            }
        }
    } else {
        size_t nh = httpd_req_header_count(c->req);
        struct sigv4_header *hs = xcalloc(nh + 1, sizeof *hs);
        bool has_host = false;
        size_t k = 0;
        const char *hn, *hv;
        for (size_t i = 0; httpd_req_header_at(c->req, i, &hn, &hv); i++) {
            hs[k++] = (struct sigv4_header){hn, strlen(hn), hv, strlen(hv)};
            has_host |= !strcasecmp(hn, "host");
        }
        /* Over HTTP/2 there is no host header: the authority arrives as the
         * :authority pseudo-header, which HTTP/2 clients sign by that name
         * (the AWS SDK for JavaScript) or as host (others). Offer both. */
        const char *authority = httpd_req_authority(c->req);
        hs = xrealloc(hs, (nh + 2) * sizeof *hs);
        if (!has_host && *authority) {
            hs[k++] = (struct sigv4_header){"host", 4, authority, strlen(authority)};
            hs[k++] = (struct sigv4_header){":authority", 10, authority, strlen(authority)};
        }
        size_t blen = 0;
        const char *body = httpd_req_body(c->req, &blen);
        const char *path = httpd_req_path(c->req), *query = httpd_req_query(c->req);
        struct sigv4_request r = {.method = httpd_req_method(c->req),
                                  .path = path,
                                  .path_len = strlen(path),
                                  .query = query,
                                  .query_len = strlen(query),
                                  .headers = hs,
                                  .n_headers = k,
                                  .body = body,
                                  .body_len = blen};
        enum brock_status st = sigv4_verify(em->signer, &r, &vp, &ver, &e);
        free(hs);
        json_object_set_new(auth, "type", json_string(ver.verdict == SIGV4_MISSING_AUTH ? "none" : "sigv4"));
        if (ver.presigned)
            json_object_set_new(auth, "presigned", json_true());
        if (ver.access_key_id[0])
            json_object_set_new(auth, "accessKeyId", json_string(ver.access_key_id));
        if (ver.region[0])
            json_object_set_new(auth, "region", json_string(ver.region));
        if (ver.service[0])
            json_object_set_new(auth, "signingName", json_string(ver.service));
        if (ver.has_session_token)
            json_object_set_new(auth, "sessionToken", json_true());
        if (ver.service[0] && strcmp(ver.service, service) &&
            (st == BROCK_OK || ver.verdict == SIGV4_MISMATCH || ver.verdict == SIGV4_BAD_TOKEN)) {
            char msg[160];
            snprintf(msg, sizeof msg, "Credential should be scoped to correct service: '%s'.", service);
            auth_fail(c, 403, "InvalidSignatureException", msg);
            return false;
        }
        if (st == BROCK_ERR_TOO_LARGE) {
            auth_fail(c, 400, "ValidationException", e.msg);
            return false;
        }
        if (st != BROCK_OK) {
            auth_fail(c, e.http_status ? e.http_status : 403,
                      e.aws_code[0] ? e.aws_code : "UnrecognizedClientException", e.msg);
            return false;
        }
    }

    c->key = lc.found;
    struct scenario_fault f;
    bool expired = c->key && c->key->expires_ms && now_ms >= c->key->expires_ms;
    if (!expired && emu_take_fault(c, 1u << SCENARIO_FAULT_EXPIRE_KEY, &f)) {
        expired = true;
        emu_note(c, "fault", json_string(f.type));
        scenario_fault_cleanup(&f);
    }
    if (expired) {
        auth_fail(c, 403, "ExpiredTokenException", "The security token included in the request is expired");
        return false;
    }
    return true;
}

static bool authenticate(struct emu_call *c, const char *service)
{
    json_t *auth = json_object();
    bool ok = check_auth(c, service, auth);
    emu_note(c, "auth", auth);
    return ok;
}

/* ------------------------------------------------------------------ */
/* STS                                                                  */

/* A stable IAM-style unique id from a string: "AIDA" + 17 chars. */
static void unique_id(const char *prefix, const char *from, char out[32])
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint8_t d[SHA256_LEN];
    crypto_sha256(from, strlen(from), d);
    size_t n = (size_t)snprintf(out, 32, "%s", prefix);
    for (size_t i = 0; i < 17 && n + 1 < 32; i++)
        out[n++] = alpha[d[i] & 31];
    out[n] = '\0';
}

static void emu_sts(struct emu_call *c, const char *action)
{
    if (!action) {
        emu_send_error(c, 400, "MissingAction", "Missing Action", -1);
        return;
    }
    if (strcmp(action, "GetCallerIdentity")) {
        char msg[200];
        snprintf(msg, sizeof msg, "Could not find operation %.80s for version 2011-06-15", action);
        emu_send_error(c, 400, "InvalidAction", msg, -1);
        return;
    }
    const char *arn = c->key && c->key->arn ? c->key->arn : EMULATOR_DEFAULT_ARN;
    /* arn:partition:service:region:account:resource */
    char account[32] = EMULATOR_ACCOUNT;
    const char *p = arn;
    for (int i = 0; i < 4 && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    if (p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : 0;
        if (n && n < sizeof account) {
            memcpy(account, p, n);
            account[n] = '\0';
        }
    }
    char uid[32], userid[160];
    const char *akid = c->key && c->key->access_key_id ? c->key->access_key_id : "emulator";
    const char *role = strstr(arn, ":assumed-role/");
    if (role) {
        const char *session = strrchr(arn, '/');
        unique_id("AROA", arn, uid);
        snprintf(userid, sizeof userid, "%s:%.100s", uid, session ? session + 1 : "session");
    } else {
        unique_id("AIDA", akid, uid);
        snprintf(userid, sizeof userid, "%s", uid);
    }
    struct buf b = BUF_INIT(BUF_MAX_SMALL);
    buf_addstr(&b, "<GetCallerIdentityResponse xmlns=\"" STS_NS "\">\n  <GetCallerIdentityResult>\n    <Arn>");
    xml_escape(&b, arn);
    buf_addstr(&b, "</Arn>\n    <UserId>");
    xml_escape(&b, userid);
    buf_addstr(&b, "</UserId>\n    <Account>");
    xml_escape(&b, account);
    buf_addf(&b, "</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n"
                 "  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
             c->id);
    emu_note_status(c, 200, NULL);
    emu_send_body(c, 200, "text/xml", NULL, buf_cstr(&b), b.len);
    buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* control endpoints                                                    */

static void control(struct emu_call *c)
{
    struct emulator *em = c->em;
    const char *m = httpd_req_method(c->req), *path = httpd_req_path(c->req);
    c->proto = EMU_REST_JSON;
    if (!strcmp(path, "/_emulator/faults")) {
        if (!strcmp(m, "GET")) {
            json_t *arr = json_array();
            for (size_t i = 0; i < em->faults.n; i++)
                json_array_append_new(arr, fault_json(&em->faults.v[i]));
            send_json_value(c, 200, json_pack("{s:o}", "faults", arr));
            return;
        }
        if (!strcmp(m, "DELETE")) {
            scenario_faults_free(&em->faults);
            send_json_text(c, 200, "{\"cleared\":true}");
            return;
        }
        if (!strcmp(m, "POST")) {
            size_t n;
            const char *body = httpd_req_body(c->req, &n);
            struct brock_err e = {0};
            size_t added = 0;
            if (add_faults(em, body, n, "request body", &added, &e) != BROCK_OK) {
                emu_send_error(c, 400, "ValidationException", e.msg, -1);
                return;
            }
            send_json_value(c, 200, json_pack("{s:i}", "added", (json_int_t)added));
            return;
        }
    } else if (!strcmp(path, "/_emulator/requests")) {
        if (!strcmp(m, "GET")) {
            send_json_value(c, 200, json_pack("{s:O}", "requests", em->log));
            return;
        }
        if (!strcmp(m, "DELETE")) {
            json_array_clear(em->log);
            em->log_bytes = 0;
            send_json_text(c, 200, "{\"cleared\":true}");
            return;
        }
    } else if (!strcmp(path, "/_emulator/reset")) {
        if (!strcmp(m, "POST")) {
            scenario_faults_free(&em->faults);
            if (em->has_scenario) {
                install_faults(em, &em->scenario.faults);
                scenario_reset(&em->scenario);
            }
            json_array_clear(em->log);
            em->log_bytes = 0;
            em->n_cache = 0;
            emu_aws_reset(em->aws);
            emu_s3_reset(em->s3);
            emu_batch_reset(em);
            send_json_text(c, 200, "{\"reset\":true}");
            return;
        }
    } else if (!strcmp(path, "/_emulator/batch")) {
        emu_batch_control(c);
        return;
    } else if (!strcmp(path, "/_emulator/health")) {
        send_json_text(c, 200, "{\"status\":\"ok\"}");
        return;
    } else if (!strcmp(path, "/_emulator/logs") || !strcmp(path, "/_emulator/metrics")) {
        if (!strcmp(m, "GET")) {
            struct buf group = BUF_INIT(2048);
            const char *q = httpd_req_query(c->req);
            bool one = path[11] == 'l' && form_get(q, strlen(q), "group", &group);
            send_json_value(c, 200,
                            path[11] == 'l' ? emu_logs_dump(em->aws, one ? buf_cstr(&group) : NULL)
                                            : emu_cw_dump(em->aws->cw));
            buf_free(&group);
            return;
        }
    } else {
        emu_send_error(c, 404, "ResourceNotFoundException", "No such emulator control endpoint.", -1);
        return;
    }
    emu_send_error(c, 405, "ValidationException", "Method not allowed on this emulator control endpoint.", -1);
}

/* ------------------------------------------------------------------ */
/* routing                                                              */

/* Services a later version will emulate: recognised, answered as such. */
static void not_implemented(struct emu_call *c, enum emu_proto proto, const char *what)
{
    c->proto = proto;
    open_entry(c, what, proto != EMU_QUERY_XML);
    char msg[200];
    snprintf(msg, sizeof msg, "brock emulate does not implement %s yet.", what);
    if (proto == EMU_QUERY_XML)
        emu_send_error(c, 400, "InvalidAction", msg, -1);
    else
        emu_send_error(c, proto == EMU_JSON_RPC ? 400 : 404, "UnknownOperationException", msg, -1);
}

static const struct target_route {
    const char *prefix;  /* X-Amz-Target prefix */
    const char *service;
    const char *signing;
    enum emu_aws_service svc;
    enum emu_aws_wire wire;
} target_routes[] = {
    {"Logs_20140328.", "logs", "logs", EMU_AWS_LOGS, EMU_WIRE_JSON11},
    {"GraniteServiceVersion20100801.", "monitoring", "monitoring", EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10},
};

static const struct path_route {
    const char *prefix;
    const char *service;
    bool served; /* by emulator_control.c; else "not implemented" */
} control_plane[] = {
    {"/foundation-models", "the Bedrock control plane", true},
    {"/inference-profiles", "the Bedrock control plane", true},
    {"/model-invocation-job", "the Bedrock control plane", false},
    {"/logging/", "the Bedrock control plane", true},
};

/* CloudWatch Logs, CloudWatch, the control plane, IAM: log the request,
 * authenticate it for its signing name, hand it to emulator_aws.h. */
static void aws_service(struct emu_call *c, enum emu_aws_service svc, enum emu_aws_wire wire, const char *signing,
                        const char *service, const char *op)
{
    static const unsigned op_bits[] = {[EMU_AWS_LOGS] = SCENARIO_OP_LOGS,
                                       [EMU_AWS_CLOUDWATCH] = SCENARIO_OP_CLOUDWATCH,
                                       [EMU_AWS_CONTROL] = SCENARIO_OP_CONTROL,
                                       [EMU_AWS_IAM] = SCENARIO_OP_IAM};
    c->op = op_bits[svc];
    c->proto = wire == EMU_WIRE_QUERY ? EMU_QUERY_XML : wire == EMU_WIRE_REST ? EMU_REST_JSON : EMU_JSON_RPC;
    c->xmlns = svc == EMU_AWS_IAM ? "https://iam.amazonaws.com/doc/2010-05-08/"
                                  : "http://monitoring.amazonaws.com/doc/2010-08-01/";
    open_entry(c, service, wire != EMU_WIRE_QUERY);
    if (op)
        emu_note(c, "operation", json_string(op));
    if (authenticate(c, signing))
        emu_aws_serve(c, svc, wire, op);
}

static void route_model(struct emu_call *c)
{
    const char *path = httpd_req_path(c->req);
    struct buf seg = BUF_INIT(EMULATOR_MAX_MODEL_ID * 3 + 16);
    struct brock_err e = {0};
    c->proto = EMU_REST_JSON;
    unsigned op = 0;
    bool shape = httpd_path_segment(path, 2, &seg, &e) == BROCK_OK;
    if (shape)
        op = scenario_op_parse(buf_cstr(&seg), seg.len) & SCENARIO_OPS_MODEL;
    buf_reset(&seg);
    if (shape && httpd_path_segment(path, 3, &seg, NULL) != BROCK_ERR_NOT_FOUND)
        shape = false;
    if (!shape || !op || strcmp(httpd_req_method(c->req), "POST")) {
        buf_free(&seg);
        open_entry(c, "bedrock-runtime", true);
        char msg[200];
        snprintf(msg, sizeof msg, "The requested operation is not recognized by the service: %s %.120s",
                 httpd_req_method(c->req), path);
        emu_send_error(c, 404, "UnknownOperationException", msg, -1);
        return;
    }
    c->op = op;
    open_entry(c, "bedrock-runtime", true);
    emu_note(c, "operation", json_string(scenario_op_name(op)));
    buf_reset(&seg);
    enum brock_status st = httpd_path_segment(path, 1, &seg, &e);
    if (st != BROCK_OK || seg.len < 1 || seg.len > EMULATOR_MAX_MODEL_ID) {
        buf_free(&seg);
        if (!authenticate(c, "bedrock"))
            return;
        emu_send_error(c, 400, "ValidationException", "The provided model identifier is invalid.", -1);
        return;
    }
    memcpy(c->model_id, seg.ptr, seg.len);
    c->model_id[seg.len] = '\0';
    buf_free(&seg);
    json_t *mid = json_string(c->model_id);
    emu_note(c, "modelId", mid ? mid : json_string("[not UTF-8]"));
    if (!authenticate(c, "bedrock"))
        return;
    emu_bedrock(c);
}

static void route(struct emu_call *c)
{
    const char *path = httpd_req_path(c->req), *method = httpd_req_method(c->req);
    if (emu_s3_wants(c)) { /* signed for S3: any path is a bucket's */
        c->proto = EMU_REST_XML;
        open_entry(c, "s3", false);
        if (!emu_s3_refused(c) && authenticate(c, "s3"))
            emu_s3(c);
        return;
    }
    if (!strncmp(path, "/model-invocation-job", 21)) { /* and -jobs */
        c->proto = EMU_REST_JSON;
        open_entry(c, "bedrock", true);
        if (authenticate(c, "bedrock"))
            emu_batch(c);
        return;
    }
    if (!strncmp(path, "/model/", 7)) {
        route_model(c);
        return;
    }
    const char *target = httpd_req_header(c->req, "x-amz-target");
    if (target) {
        for (size_t i = 0; i < BROCK_ARRAY_LEN(target_routes); i++) {
            const struct target_route *t = &target_routes[i];
            if (!strncmp(target, t->prefix, strlen(t->prefix))) {
                aws_service(c, t->svc, t->wire, t->signing, t->service, target + strlen(t->prefix));
                return;
            }
        }
    }
    if (!strncmp(path, "/service/GraniteServiceVersion20100801/operation/", 49)) {
        not_implemented(c, EMU_JSON_RPC, "CloudWatch's smithy-rpc-v2-cbor protocol (use awsJson1_0 or awsQuery)");
        return;
    }
    if (!strcmp(path, "/") && (!strcmp(method, "POST") || !strcmp(method, "GET"))) {
        struct buf action = BUF_INIT(256), version = BUF_INIT(64);
        size_t n = 0;
        const char *body = httpd_req_body(c->req, &n);
        const char *q = httpd_req_query(c->req);
        bool has_action = form_get(q, strlen(q), "Action", &action) || form_get(body, n, "Action", &action);
        bool has_version = form_get(q, strlen(q), "Version", &version) || form_get(body, n, "Version", &version);
        if (has_action && (!has_version || !strcmp(buf_cstr(&version), "2011-06-15"))) {
            c->proto = EMU_QUERY_XML;
            c->op = SCENARIO_OP_STS;
            open_entry(c, "sts", false);
            emu_note(c, "operation", json_string(buf_cstr(&action)));
            if (authenticate(c, "sts"))
                emu_sts(c, buf_cstr(&action));
        } else if (has_action && !strcmp(buf_cstr(&version), "2010-08-01")) {
            aws_service(c, EMU_AWS_CLOUDWATCH, EMU_WIRE_QUERY, "monitoring", "monitoring", buf_cstr(&action));
        } else if (has_action && !strcmp(buf_cstr(&version), "2010-05-08")) {
            aws_service(c, EMU_AWS_IAM, EMU_WIRE_QUERY, "iam", "iam", buf_cstr(&action));
        } else if (has_action) {
            not_implemented(c, EMU_QUERY_XML, "this query API version");
        } else {
            c->proto = EMU_REST_JSON;
            open_entry(c, "unknown", true);
            emu_send_error(c, 404, "UnknownOperationException",
                           "The requested operation is not recognized by the service.", -1);
        }
        buf_free(&action);
        buf_free(&version);
        return;
    }
    for (size_t i = 0; i < BROCK_ARRAY_LEN(control_plane); i++)
        if (!strncmp(path, control_plane[i].prefix, strlen(control_plane[i].prefix))) {
            if (control_plane[i].served)
                aws_service(c, EMU_AWS_CONTROL, EMU_WIRE_REST, "bedrock", "bedrock", NULL);
            else
                not_implemented(c, EMU_REST_JSON, control_plane[i].service);
            return;
        }
    c->proto = EMU_REST_JSON;
    open_entry(c, "unknown", true);
    char msg[200];
    snprintf(msg, sizeof msg, "The requested operation is not recognized by the service: %s %.120s", method, path);
    emu_send_error(c, 404, "UnknownOperationException", msg, -1);
}

static void handler(void *ctx, struct httpd_req *req, struct httpd_resp *resp)
{
    struct emulator *em = ctx;
    struct emu_call *c = xcalloc(1, sizeof *c);
    c->em = em;
    c->req = req;
    c->resp = resp;
    c->start_mono_ms = time_mono_ms();
    make_request_id(c->id);
    httpd_req_set_id(req, c->id);
    pthread_mutex_lock(&em->mu);
    const char *path = httpd_req_path(req);
    if (!strncmp(path, "/_emulator/", 11))
        control(c);
    else
        route(c);
    if (!c->finished && !c->detached) {
        /* every path answers; this would be a bug */
        emu_send_error(c, 500, "InternalServerException", "brock emulate did not answer this request.", -1);
    }
    if (c->op & SCENARIO_OPS_MODEL)
        emu_aws_model_call_done(c);
    if (!c->detached)
        emu_call_free(c);
    pthread_mutex_unlock(&em->mu);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */

static void add_example_keys(struct emulator *em)
{
    for (size_t i = 0; i < BROCK_ARRAY_LEN(example_keys); i++) {
        bool have = false;
        for (size_t j = 0; j < em->keys.n && !have; j++)
            have = em->keys.v[j].access_key_id && !strcmp(em->keys.v[j].access_key_id, example_keys[i].akid);
        if (have)
            continue;
        em->keys.v = xrealloc(em->keys.v, (em->keys.n + 1) * sizeof *em->keys.v);
        struct scenario_key *k = &em->keys.v[em->keys.n++];
        memset(k, 0, sizeof *k);
        k->access_key_id = xstrdup(example_keys[i].akid);
        k->secret_access_key = xstrdup(example_keys[i].secret);
    }
}

static void deny_add(struct emulator *em, const char *id)
{
    em->deny = xrealloc(em->deny, (em->n_deny + 1) * sizeof *em->deny);
    em->deny[em->n_deny++] = xstrdup(id);
}

enum brock_status emulator_new(const struct emulator_options *o, struct emulator **out, struct brock_err *e)
{
    *out = NULL;
    struct emulator *em = xcalloc(1, sizeof *em);
    pthread_mutex_init(&em->mu, NULL);
    em->clock = o->clock;
    em->signer = sigv4_signer_new();
    em->log = json_array();
    em->aws = emu_aws_new();
    enum brock_status st = BROCK_OK;
    if (o->scenario_text) {
        st = scenario_parse(o->scenario_text, o->scenario_len, o->scenario_path ? o->scenario_path : "scenario",
                            &em->scenario, e);
        em->has_scenario = st == BROCK_OK;
    } else if (o->scenario_path) {
        st = scenario_load(o->scenario_path, &em->scenario, e);
        em->has_scenario = st == BROCK_OK;
    }
    if (st == BROCK_OK && o->keys_path)
        st = scenario_keys_load(o->keys_path, &em->keys, e);
    if (st != BROCK_OK) {
        emulator_free(em);
        return st;
    }
    if (!o->no_example_keys)
        add_example_keys(em);
    for (size_t i = 0; i < o->n_deny_models; i++)
        deny_add(em, o->deny_models[i]);
    if (em->has_scenario) {
        for (size_t i = 0; i < em->scenario.n_deny_models; i++)
            deny_add(em, em->scenario.deny_models[i]);
        install_faults(em, &em->scenario.faults);
    }

    struct httpd_options ho;
    httpd_options_init(&ho);
    ho.host = o->host;
    ho.port = o->port;
    ho.handler = handler;
    ho.handler_ctx = em;
    if (o->keepalive_timeout_ms > 0)
        ho.keepalive_timeout_ms = o->keepalive_timeout_ms;
    st = httpd_new(&ho, &em->httpd, e);
    if (st != BROCK_OK) {
        emulator_free(em);
        return st;
    }
    httpd_url(em->httpd, o->host, em->url, sizeof em->url);
    log_info("emulate: listening on %s (%zu rules, %zu keys)", em->url, em->has_scenario ? em->scenario.n_rules : 0,
             em->keys.n);
    *out = em;
    return BROCK_OK;
}

const char *emulator_url(const struct emulator *em)
{
    return em->url;
}

uint16_t emulator_port(const struct emulator *em)
{
    return httpd_port(em->httpd);
}

enum brock_status emulator_run(struct emulator *em, struct brock_err *e)
{
    return httpd_run(em->httpd, e);
}

void emulator_shutdown(struct emulator *em)
{
    if (em && em->httpd)
        httpd_stop(em->httpd, EMULATOR_STOP_GRACE_MS);
}

void emulator_free(struct emulator *em)
{
    if (!em)
        return;
    httpd_free(em->httpd); /* stops, joins, closes: jobs' on_close run here */
    sigv4_signer_free(em->signer);
    scenario_free(&em->scenario);
    scenario_keys_free(&em->keys);
    for (size_t i = 0; i < em->n_deny; i++)
        free(em->deny[i]);
    free(em->deny);
    scenario_faults_free(&em->faults);
    json_decref(em->log);
    free(em->cache);
    emu_aws_free(em->aws);
    emu_batch_free(em); /* after httpd_free: no timer of a job can run now */
    emu_s3_free(em->s3);
    pthread_mutex_destroy(&em->mu);
    free(em);
}

enum brock_status emulator_start(const struct emulator_options *o, struct emulator **out, struct brock_err *e)
{
    enum brock_status st = emulator_new(o, out, e);
    if (st != BROCK_OK)
        return st;
    st = httpd_start_thread((*out)->httpd, e);
    if (st != BROCK_OK) {
        emulator_free(*out);
        *out = NULL;
        return st;
    }
    (*out)->thread = true;
    return BROCK_OK;
}

void emulator_stop(struct emulator *em)
{
    if (!em)
        return;
    httpd_stop(em->httpd, 200);
    httpd_join(em->httpd);
    emulator_free(em);
}

enum brock_status emulator_add_faults(struct emulator *em, const char *json, size_t n, struct brock_err *e)
{
    pthread_mutex_lock(&em->mu);
    enum brock_status st = add_faults(em, json, n, "faults", NULL, e);
    pthread_mutex_unlock(&em->mu);
    return st;
}

void emulator_clear_faults(struct emulator *em)
{
    pthread_mutex_lock(&em->mu);
    scenario_faults_free(&em->faults);
    pthread_mutex_unlock(&em->mu);
}

char *emulator_requests_json(struct emulator *em)
{
    pthread_mutex_lock(&em->mu);
    json_t *v = json_pack("{s:O}", "requests", em->log);
    char *s = json_dump_compact(v);
    json_decref(v);
    pthread_mutex_unlock(&em->mu);
    return s;
}

void emulator_reset(struct emulator *em)
{
    pthread_mutex_lock(&em->mu);
    scenario_faults_free(&em->faults);
    if (em->has_scenario) {
        install_faults(em, &em->scenario.faults);
        scenario_reset(&em->scenario);
    }
    json_array_clear(em->log);
    em->log_bytes = 0;
    em->n_cache = 0;
    emu_aws_reset(em->aws);
    emu_s3_reset(em->s3);
    emu_batch_reset(em);
    pthread_mutex_unlock(&em->mu);
}

char *emulator_logs_json(struct emulator *em, const char *group)
{
    pthread_mutex_lock(&em->mu);
    json_t *v = emu_logs_dump(em->aws, group);
    char *s = json_dump_compact(v);
    json_decref(v);
    pthread_mutex_unlock(&em->mu);
    return s;
}

char *emulator_metrics_json(struct emulator *em)
{
    pthread_mutex_lock(&em->mu);
    json_t *v = emu_cw_dump(em->aws->cw);
    char *s = json_dump_compact(v);
    json_decref(v);
    pthread_mutex_unlock(&em->mu);
    return s;
}
