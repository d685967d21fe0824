/* bedrock_stream.c - assemble InvokeModelWithResponseStream and ConverseStream
 * event streams into a struct model_result, calling the model_events
 * callbacks as content arrives. See bedrock_wire.h. */
#include "bedrock_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/awserr.h"
#include "../aws/eventstream.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "../util/timeutil.h"
#include "bedrock_int.h"

enum blk_kind {
    BLK_TEXT,        /* acc = text */
    BLK_THINKING,    /* acc = thinking, sig = signature */
    BLK_REDACTED,    /* acc = redacted bytes (Converse), base64'd at the end */
    BLK_TOOL,        /* acc = input JSON text (tool_use, server_tool_use) */
    BLK_TOOL_RESULT, /* obj holds the content array deltas append to */
    BLK_FIXED,       /* obj is the whole block (redacted_thinking, unknown types) */
    BLK_GAP,         /* an index nothing brock knows has started: left out of the result */
};

struct blk {
    enum blk_kind kind;
    bool stopped;
    json_t *obj;   /* the block's fixed members: type, id, name, citations, ... */
    struct buf acc;
    struct buf sig;
    json_t *final; /* the finished block once stopped (NULL: dropped) */
};

struct bedrock_stream {
    enum bedrock_stream_kind kind;
    struct model_events ev;
    struct es_decoder *dec;
    struct blk *blocks;
    size_t nblocks, cap;
    size_t content_bytes;
    uint64_t bytes;
    uint64_t at; /* offset of the frame being handled */
    char stop_reason[40];
    char stop_sequence[128];
    char message_id[96];
    char model[160];
    char request_id[96];
    struct model_usage usage;
    bool usage_seen;
    bool got_stop, got_metadata;
    bool started;
    int64_t first_content_ns;
    bool failed;
    struct brock_err err;
    struct buf scratch; /* decoded chunk bytes */
};

/* ---- life cycle ------------------------------------------------------------------- */

struct bedrock_stream *bedrock_stream_new(enum bedrock_stream_kind kind, const struct model_events *ev)
{
    struct bedrock_stream *s = xcalloc(1, sizeof *s);
    s->kind = kind;
    if (ev)
        s->ev = *ev;
    s->dec = es_decoder_new();
    buf_init(&s->scratch, ES_MAX_MESSAGE_LEN);
    return s;
}

static void blocks_clear(struct bedrock_stream *s)
{
    for (size_t i = 0; i < s->nblocks; i++) {
        json_decref(s->blocks[i].obj);
        json_decref(s->blocks[i].final);
        buf_free(&s->blocks[i].acc);
        buf_free(&s->blocks[i].sig);
    }
    s->nblocks = 0;
}

void bedrock_stream_free(struct bedrock_stream *s)
{
    if (!s)
        return;
    blocks_clear(s);
    free(s->blocks);
    es_decoder_free(s->dec);
    buf_free(&s->scratch);
    free(s);
}

void bedrock_stream_reset(struct bedrock_stream *s)
{
    blocks_clear(s);
    es_decoder_reset(s->dec);
    buf_reset(&s->scratch);
    s->content_bytes = 0;
    s->bytes = s->at = 0;
    s->stop_reason[0] = s->stop_sequence[0] = s->message_id[0] = s->model[0] = s->request_id[0] = '\0';
    memset(&s->usage, 0, sizeof s->usage);
    s->usage_seen = s->got_stop = s->got_metadata = s->started = s->failed = false;
    s->first_content_ns = 0;
    err_clear(&s->err);
}

void bedrock_stream_set_request_id(struct bedrock_stream *s, const char *rid)
{
    snprintf(s->request_id, sizeof s->request_id, "%s", rid ? rid : "");
}

bool bedrock_stream_started(const struct bedrock_stream *s)
{
    return s->started;
}

int64_t bedrock_stream_first_content_ns(const struct bedrock_stream *s)
{
    return s->first_content_ns;
}

uint64_t bedrock_stream_bytes(const struct bedrock_stream *s)
{
    return s->bytes;
}

/* ---- errors ----------------------------------------------------------------------- */

static enum brock_status fail(struct bedrock_stream *s, enum brock_status st, const char *fmt, ...)
    BROCK_PRINTF(3, 4);
static enum brock_status fail(struct bedrock_stream *s, enum brock_status st, const char *fmt, ...)
{
    if (s->failed)
        return s->err.status;
    va_list ap;
    va_start(ap, fmt);
    err_setv(&s->err, st, fmt, ap);
    va_end(ap);
    snprintf(s->err.request_id, sizeof s->err.request_id, "%s", s->request_id);
    s->failed = true;
    return st;
}

static const char *api_name(const struct bedrock_stream *s)
{
    return s->kind == BEDROCK_STREAM_INVOKE ? "InvokeModelWithResponseStream" : "ConverseStream";
}

/* A stream event that does not fit the protocol. */
static enum brock_status bad_event(struct bedrock_stream *s, const char *event, const char *fmt, ...)
    BROCK_PRINTF(3, 4);
static enum brock_status bad_event(struct bedrock_stream *s, const char *event, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fail(s, BROCK_ERR_PARSE, "%s: %s event at offset %llu: %s", api_name(s), event,
                (unsigned long long)s->at, what);
}

/* An exception or error frame: the AWS error it stands for. */
static enum brock_status aws_failure(struct bedrock_stream *s, const char *code, size_t code_len, int http,
                                     const char *message, size_t message_len, const char *extra)
{
    char norm[64], text[400];
    /* normalise as awserr does: cut at ':', keep what follows the last '#' */
    bedrock_copy_clean(norm, sizeof norm, code, code_len);
    char *colon = strchr(norm, ':');
    if (colon)
        *colon = '\0';
    char *hash = strrchr(norm, '#');
    if (hash)
        memmove(norm, hash + 1, strlen(hash + 1) + 1);
    /* exception types are lowerCamel on the wire ("throttlingException") */
    if (norm[0] >= 'a' && norm[0] <= 'z')
        norm[0] = (char)(norm[0] - 'a' + 'A');
    if (!norm[0])
        snprintf(norm, sizeof norm, "UnknownError");
    if (http == 0)
        http = bedrock_error_http_status(norm);
    if (http == 0)
        http = 500;
    bedrock_copy_clean(text, sizeof text, message, message_len);
    /* codes awserr and 6.2 know classify by themselves; others by the status */
    bool known = bedrock_error_http_status(norm) || awserr_is_throttling_code(norm) || awserr_is_auth_code(norm);
    enum brock_status st = awserr_status(known ? norm : "", http);
    fail(s, st, "%s in the event stream after %llu bytes (HTTP %d equivalent%s%s): %s%s", norm,
         (unsigned long long)s->at, http, s->request_id[0] ? ", request id " : "", s->request_id,
         text[0] ? text : "(no message)", extra ? extra : "");
    s->err.http_status = http;
    snprintf(s->err.aws_code, sizeof s->err.aws_code, "%s", norm);
    return st;
}

static enum brock_status on_exception(struct bedrock_stream *s, const struct es_message *m)
{
    struct es_str type = es_message_exception_type(m);
    json_t *payload = json_loadb((const char *)m->payload, m->payload_len, 0, NULL);
    json_t *msg = json_object_get(payload, "message");
    if (!msg)
        msg = json_object_get(payload, "Message");
    char extra[256] = "";
    int64_t orig;
    if (json_int(payload, "originalStatusCode", &orig)) {
        const char *om = json_string_value(json_object_get(payload, "originalMessage"));
        char omc[160] = "";
        if (om)
            bedrock_copy_clean(omc, sizeof omc, om, strlen(om));
        snprintf(extra, sizeof extra, " (model status %lld%s%s)", (long long)orig, omc[0] ? ": " : "", omc);
    }
    enum brock_status st =
        aws_failure(s, type.p ? type.p : "", type.p ? type.len : 0, 0, json_string_value(msg),
                    json_is_string(msg) ? json_string_length(msg) : 0, extra);
    json_decref(payload);
    return st;
}

static enum brock_status on_error_frame(struct bedrock_stream *s, const struct es_message *m)
{
    struct es_str code = es_message_error_code(m), msg = es_message_error_message(m);
    return aws_failure(s, code.p ? code.p : "", code.p ? code.len : 0, 0, msg.p, msg.p ? msg.len : 0, NULL);
}

/* ---- blocks ----------------------------------------------------------------------- */

static void mark_started(struct bedrock_stream *s)
{
    if (!s->started) {
        s->started = true;
        s->first_content_ns = time_mono_ns();
    }
}

static bool get_index(const json_t *obj, const char *key, size_t *out)
{
    int64_t v;
    if (!json_int(obj, key, &v) || v < 0 || v >= BEDROCK_MAX_BLOCKS)
        return false;
    *out = (size_t)v;
    return true;
}

static struct blk *blk_get(struct bedrock_stream *s, size_t idx)
{
    return idx < s->nblocks ? &s->blocks[idx] : NULL;
}

/* Start block idx (idx < BEDROCK_MAX_BLOCKS). Indices skipped over (a block
 * kind brock does not know, e.g. an image) become gaps. Steals obj. */
static struct blk *blk_new(struct bedrock_stream *s, const char *event, size_t idx, enum blk_kind kind,
                           json_t *obj)
{
    if (idx >= s->cap) {
        size_t cap = s->cap ? s->cap : 8;
        while (cap <= idx)
            cap *= 2;
        s->blocks = xrealloc(s->blocks, cap * sizeof *s->blocks);
        s->cap = cap;
    }
    while (s->nblocks <= idx) {
        struct blk *g = &s->blocks[s->nblocks++];
        memset(g, 0, sizeof *g);
        g->kind = BLK_GAP;
        buf_init(&g->acc, BEDROCK_MAX_CONTENT_BYTES);
        buf_init(&g->sig, BEDROCK_MAX_CONTENT_BYTES);
    }
    struct blk *b = &s->blocks[idx];
    if (b->kind != BLK_GAP || b->stopped) {
        json_decref(obj);
        bad_event(s, event, "content block %zu started twice", idx);
        return NULL;
    }
    b->kind = kind;
    b->obj = obj;
    return b;
}

static enum brock_status blk_append(struct bedrock_stream *s, struct buf *b, const char *p, size_t n)
{
    if (n > BEDROCK_MAX_CONTENT_BYTES - s->content_bytes)
        return fail(s, BROCK_ERR_TOO_LARGE, "%s: the answer's content is over %zu bytes (at offset %llu)",
                    api_name(s), BEDROCK_MAX_CONTENT_BYTES, (unsigned long long)s->at);
    s->content_bytes += n;
    if (buf_add(b, p, n) != BROCK_OK)
        return fail(s, BROCK_ERR_TOO_LARGE, "%s: a content block is over %zu bytes", api_name(s), b->max);
    return BROCK_OK;
}

static const char *kind_name(enum blk_kind k)
{
    switch (k) {
    case BLK_TEXT:
        return "text";
    case BLK_THINKING:
        return "thinking";
    case BLK_REDACTED:
        return "redacted_thinking";
    case BLK_TOOL:
        return "tool_use";
    case BLK_TOOL_RESULT:
        return "tool_result";
    case BLK_FIXED:
        break;
    case BLK_GAP:
        return "unstarted";
    }
    return "other";
}

/* The block as a Messages block (new reference), or NULL when it is
 * dropped: an empty text block, or a tool input that does not parse (then
 * *bad is set for the caller to report, unless partial). */
static json_t *blk_materialize(struct blk *b, bool *bad, struct brock_err *why)
{
    *bad = false;
    if (b->kind == BLK_GAP)
        return NULL;
    json_t *o = json_deep_copy(b->obj);
    switch (b->kind) {
    case BLK_TEXT:
        if (b->acc.len == 0) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "text", json_stringn_nocheck(buf_cstr(&b->acc), b->acc.len));
        break;
    case BLK_THINKING:
        json_object_set_new(o, "thinking", json_stringn_nocheck(buf_cstr(&b->acc), b->acc.len));
        if (b->sig.len > 0)
            json_object_set_new(o, "signature", json_stringn_nocheck(buf_cstr(&b->sig), b->sig.len));
        break;
    case BLK_REDACTED: {
        struct buf enc = BUF_INIT(BEDROCK_MAX_CONTENT_BYTES * 2);
        base64_encode(&enc, buf_cstr(&b->acc), b->acc.len);
        json_object_set_new(o, "data", json_stringn_nocheck(buf_cstr(&enc), enc.len));
        buf_free(&enc);
        break;
    }
    case BLK_TOOL: {
        json_t *input = NULL;
        if (b->acc.len == 0) {
            input = json_object_get(o, "input");
            input = json_is_object(input) ? json_incref(input) : json_object();
        } else if (json_parse(buf_cstr(&b->acc), b->acc.len, "tool input", &input, why) != BROCK_OK) {
            *bad = true;
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "input", input);
        break;
    }
    case BLK_TOOL_RESULT:
    case BLK_FIXED:
    case BLK_GAP:
        break;
    }
    return o;
}

static enum brock_status blk_stop(struct bedrock_stream *s, const char *event, size_t idx)
{
    struct blk *b = blk_get(s, idx);
    if (!b || b->stopped)
        return BROCK_OK; /* a stop for a block with no content, or twice: nothing to do */
    bool bad;
    struct brock_err why;
    b->final = blk_materialize(b, &bad, &why);
    b->stopped = true;
    if (bad) {
        const char *name = json_string_value(json_object_get(b->obj, "name"));
        return bad_event(s, event, "content block %zu (tool %s): input is not valid JSON: %s", idx,
                         name ? name : "?", why.msg);
    }
    if (s->ev.on_block_stop && b->kind != BLK_GAP)
        s->ev.on_block_stop(s->ev.ctx, (int)idx);
    return BROCK_OK;
}

/* tool_use, not a server tool the model runs on Bedrock's side */
static bool is_client_tool(const json_t *obj)
{
    const char *type = json_string_value(json_object_get(obj, "type"));
    return type && !strcmp(type, "tool_use");
}

/* A text delta: to the callback, then the block. */
static enum brock_status add_text(struct bedrock_stream *s, struct blk *b, size_t idx, const json_t *str)
{
    size_t n = json_string_length(str);
    const char *p = json_string_value(str);
    if (n == 0)
        return BROCK_OK;
    enum brock_status st = blk_append(s, &b->acc, p, n);
    if (st != BROCK_OK)
        return st;
    mark_started(s);
    if (b->kind == BLK_TEXT && s->ev.on_text)
        s->ev.on_text(s->ev.ctx, (int)idx, p, n);
    else if (b->kind == BLK_THINKING && s->ev.on_thinking)
        s->ev.on_thinking(s->ev.ctx, (int)idx, p, n);
    else if (b->kind == BLK_TOOL && s->ev.on_tool_input && is_client_tool(b->obj))
        s->ev.on_tool_input(s->ev.ctx, (int)idx, p, n);
    return BROCK_OK;
}

static struct blk *want_kind(struct bedrock_stream *s, const char *event, size_t idx, enum blk_kind kind)
{
    struct blk *b = blk_get(s, idx);
    if (!b || b->kind == BLK_GAP) {
        bad_event(s, event, "delta for content block %zu before its start", idx);
        return NULL;
    }
    if (b->kind != kind) {
        bad_event(s, event, "%s delta for content block %zu, which is a %s block", kind_name(kind), idx,
                  kind_name(b->kind));
        return NULL;
    }
    if (b->stopped) {
        bad_event(s, event, "delta for content block %zu after its stop", idx);
        return NULL;
    }
    return b;
}

/* Converse starts text and reasoning blocks with their first delta. */
static struct blk *get_or_start(struct bedrock_stream *s, const char *event, size_t idx, enum blk_kind kind)
{
    if (idx >= s->nblocks || s->blocks[idx].kind == BLK_GAP) {
        json_t *obj = json_pack("{s:s}", "type", kind_name(kind));
        if (!blk_new(s, event, idx, kind, obj))
            return NULL;
    }
    return want_kind(s, event, idx, kind);
}

static void tool_started(struct bedrock_stream *s, size_t idx, const json_t *obj)
{
    if (is_client_tool(obj)) {
        mark_started(s);
        if (s->ev.on_tool_use)
            s->ev.on_tool_use(s->ev.ctx, (int)idx, json_string_value(json_object_get(obj, "id")),
                              json_string_value(json_object_get(obj, "name")));
    }
}

/* ---- InvokeModelWithResponseStream: Anthropic events ------------------------------------ */

static enum brock_status anthropic_block_start(struct bedrock_stream *s, const json_t *ev)
{
    const char *E = "content_block_start";
    size_t idx;
    json_t *cb = json_object_get(ev, "content_block");
    const char *type = json_string_value(json_object_get(cb, "type"));
    if (!get_index(ev, "index", &idx))
        return bad_event(s, E, "index missing or out of range");
    if (!json_is_object(cb) || !type)
        return bad_event(s, E, "content_block missing or without a type");
    struct blk *b;
    if (!strcmp(type, "text")) {
        json_t *obj = json_deep_copy(cb);
        json_t *text = json_incref(json_object_get(obj, "text"));
        json_object_del(obj, "text");
        if (!(b = blk_new(s, E, idx, BLK_TEXT, obj))) {
            json_decref(text);
            return s->err.status;
        }
        enum brock_status st = json_is_string(text) ? add_text(s, b, idx, text) : BROCK_OK;
        json_decref(text);
        return st;
    }
    if (!strcmp(type, "thinking")) {
        json_t *obj = json_deep_copy(cb);
        json_t *text = json_incref(json_object_get(obj, "thinking"));
        json_t *sig = json_incref(json_object_get(obj, "signature"));
        json_object_del(obj, "thinking");
        json_object_del(obj, "signature");
        enum brock_status st = BROCK_OK;
        if (!(b = blk_new(s, E, idx, BLK_THINKING, obj)))
            st = s->err.status;
        if (st == BROCK_OK && json_is_string(text))
            st = add_text(s, b, idx, text);
        if (st == BROCK_OK && json_is_string(sig))
            st = blk_append(s, &b->sig, json_string_value(sig), json_string_length(sig));
        json_decref(text);
        json_decref(sig);
        return st;
    }
    if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use")) {
        if (!json_is_string(json_object_get(cb, "id")) || !json_is_string(json_object_get(cb, "name")))
            return bad_event(s, E, "%s block %zu without a string id and name", type, idx);
        json_t *obj = json_deep_copy(cb);
        if (!blk_new(s, E, idx, BLK_TOOL, obj))
            return s->err.status;
        tool_started(s, idx, obj);
        return BROCK_OK;
    }
    /* redacted_thinking {data} and types brock does not know: kept whole */
    if (!blk_new(s, E, idx, BLK_FIXED, json_deep_copy(cb)))
        return s->err.status;
    return BROCK_OK;
}

static enum brock_status anthropic_block_delta(struct bedrock_stream *s, const json_t *ev)
{
    const char *E = "content_block_delta";
    size_t idx;
    json_t *d = json_object_get(ev, "delta");
    const char *type = json_string_value(json_object_get(d, "type"));
    if (!get_index(ev, "index", &idx))
        return bad_event(s, E, "index missing or out of range");
    if (!type)
        return bad_event(s, E, "delta missing or without a type");
    struct blk *b;
    json_t *v;
    if (!strcmp(type, "text_delta")) {
        if (!json_is_string(v = json_object_get(d, "text")))
            return bad_event(s, E, "text_delta without text");
        return (b = want_kind(s, E, idx, BLK_TEXT)) ? add_text(s, b, idx, v) : s->err.status;
    }
    if (!strcmp(type, "thinking_delta")) {
        if (!json_is_string(v = json_object_get(d, "thinking")))
            return bad_event(s, E, "thinking_delta without thinking");
        return (b = want_kind(s, E, idx, BLK_THINKING)) ? add_text(s, b, idx, v) : s->err.status;
    }
    if (!strcmp(type, "signature_delta")) {
        if (!json_is_string(v = json_object_get(d, "signature")))
            return bad_event(s, E, "signature_delta without signature");
        return (b = want_kind(s, E, idx, BLK_THINKING))
                   ? blk_append(s, &b->sig, json_string_value(v), json_string_length(v))
                   : s->err.status;
    }
    if (!strcmp(type, "input_json_delta")) {
        if (!json_is_string(v = json_object_get(d, "partial_json")))
            return bad_event(s, E, "input_json_delta without partial_json");
        return (b = want_kind(s, E, idx, BLK_TOOL)) ? add_text(s, b, idx, v) : s->err.status;
    }
    if (!strcmp(type, "citations_delta")) {
        if (!(v = json_object_get(d, "citation")))
            return bad_event(s, E, "citations_delta without citation");
        if (!(b = want_kind(s, E, idx, BLK_TEXT)))
            return s->err.status;
        json_t *list = json_object_get(b->obj, "citations");
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(b->obj, "citations", list);
        }
        json_array_append(list, v);
        return BROCK_OK;
    }
    return BROCK_OK; /* a delta type brock does not know */
}

static enum brock_status anthropic_event(struct bedrock_stream *s, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!json_is_object(ev) || !type)
        return bad_event(s, "chunk", "the decoded event is not an object with a type");
    if (!strcmp(type, "message_start")) {
        json_t *msg = json_object_get(ev, "message");
        bedrock_copy_member(s->message_id, sizeof s->message_id, msg, "id");
        bedrock_copy_member(s->model, sizeof s->model, msg, "model");
        json_t *u = json_object_get(msg, "usage");
        if (json_is_object(u)) {
            bedrock_usage_from_messages(u, &s->usage);
            s->usage_seen = true;
        }
        return BROCK_OK;
    }
    if (!strcmp(type, "content_block_start"))
        return anthropic_block_start(s, ev);
    if (!strcmp(type, "content_block_delta"))
        return anthropic_block_delta(s, ev);
    if (!strcmp(type, "content_block_stop")) {
        size_t idx;
        if (!get_index(ev, "index", &idx))
            return bad_event(s, type, "index missing or out of range");
        return blk_stop(s, type, idx);
    }
    if (!strcmp(type, "message_delta")) {
        json_t *d = json_object_get(ev, "delta"), *u = json_object_get(ev, "usage");
        bedrock_copy_member(s->stop_reason, sizeof s->stop_reason, d, "stop_reason");
        bedrock_copy_member(s->stop_sequence, sizeof s->stop_sequence, d, "stop_sequence");
        if (json_is_object(u)) {
            bedrock_usage_from_messages(u, &s->usage); /* cumulative */
            s->usage_seen = true;
        }
        return BROCK_OK;
    }
    if (!strcmp(type, "message_stop")) {
        json_t *m = json_object_get(ev, "amazon-bedrock-invocationMetrics");
        if (json_is_object(m) && !s->usage_seen) {
            int64_t v;
            if (json_int(m, "inputTokenCount", &v) && v >= 0)
                s->usage.input_tokens = v;
            if (json_int(m, "outputTokenCount", &v) && v >= 0)
                s->usage.output_tokens = v;
            if (json_int(m, "cacheReadInputTokenCount", &v) && v >= 0)
                s->usage.cache_read_tokens = v;
            if (json_int(m, "cacheWriteInputTokenCount", &v) && v >= 0)
                s->usage.cache_write_tokens = v;
        }
        s->got_stop = true;
        return BROCK_OK;
    }
    if (!strcmp(type, "error")) {
        /* Anthropic's own error event, should Bedrock ever pass one through */
        json_t *err = json_object_get(ev, "error");
        const char *etype = json_string_value(json_object_get(err, "type"));
        json_t *msg = json_object_get(err, "message");
        static const struct {
            const char *type;
            int http;
        } map[] = {{"overloaded_error", 503},     {"api_error", 500},        {"rate_limit_error", 429},
                   {"invalid_request_error", 400}, {"permission_error", 403}, {"not_found_error", 404},
                   {"authentication_error", 403},  {"request_too_large", 413}};
        int http = 500;
        for (size_t i = 0; etype && i < BROCK_ARRAY_LEN(map); i++)
            if (!strcmp(map[i].type, etype))
                http = map[i].http;
        return aws_failure(s, etype ? etype : "error", etype ? strlen(etype) : 5, http, json_string_value(msg),
                           json_is_string(msg) ? json_string_length(msg) : 0, NULL);
    }
    return BROCK_OK; /* ping, and types brock does not know */
}

static enum brock_status on_chunk(struct bedrock_stream *s, const json_t *payload)
{
    json_t *bytes = json_object_get(payload, "bytes");
    if (!json_is_string(bytes))
        return bad_event(s, "chunk", "no base64 \"bytes\" member");
    buf_reset(&s->scratch);
    if (base64_decode(&s->scratch, json_string_value(bytes), json_string_length(bytes)) != BROCK_OK)
        return bad_event(s, "chunk", "\"bytes\" is not valid base64");
    char what[96];
    snprintf(what, sizeof what, "%s: chunk event at offset %llu: decoded bytes", api_name(s),
             (unsigned long long)s->at);
    json_t *ev;
    struct brock_err pe;
    if (json_parse(buf_cstr(&s->scratch), s->scratch.len, what, &ev, &pe) != BROCK_OK)
        return fail(s, BROCK_ERR_PARSE, "%s", pe.msg);
    enum brock_status st = anthropic_event(s, ev);
    json_decref(ev);
    return st;
}

/* ---- ConverseStream ------------------------------------------------------------------- */

static enum brock_status converse_block_start(struct bedrock_stream *s, const json_t *ev)
{
    const char *E = "contentBlockStart";
    size_t idx;
    if (!get_index(ev, "contentBlockIndex", &idx))
        return bad_event(s, E, "contentBlockIndex missing or out of range");
    json_t *start = json_object_get(ev, "start"), *tu, *tr;
    if ((tu = json_object_get(start, "toolUse"))) {
        json_t *id = json_object_get(tu, "toolUseId"), *name = json_object_get(tu, "name");
        const char *type = json_string_value(json_object_get(tu, "type"));
        if (!json_is_string(id) || !json_is_string(name))
            return bad_event(s, E, "toolUse start without toolUseId and name");
        json_t *obj = json_pack("{s:s,s:O,s:O}", "type",
                                type && !strcmp(type, "server_tool_use") ? "server_tool_use" : "tool_use", "id",
                                id, "name", name);
        if (!blk_new(s, E, idx, BLK_TOOL, obj))
            return s->err.status;
        tool_started(s, idx, obj);
        return BROCK_OK;
    }
    if ((tr = json_object_get(start, "toolResult"))) {
        json_t *id = json_object_get(tr, "toolUseId");
        const char *status = json_string_value(json_object_get(tr, "status"));
        if (!json_is_string(id))
            return bad_event(s, E, "toolResult start without toolUseId");
        json_t *obj = json_pack("{s:s,s:O,s:[],s:b}", "type", "tool_result", "tool_use_id", id, "content",
                                "is_error", status && !strcmp(status, "error"));
        return blk_new(s, E, idx, BLK_TOOL_RESULT, obj) ? BROCK_OK : s->err.status;
    }
    return BROCK_OK; /* image and kinds brock does not know */
}

static enum brock_status converse_block_delta(struct bedrock_stream *s, const json_t *ev)
{
    const char *E = "contentBlockDelta";
    size_t idx;
    if (!get_index(ev, "contentBlockIndex", &idx))
        return bad_event(s, E, "contentBlockIndex missing or out of range");
    json_t *d = json_object_get(ev, "delta"), *v;
    if (!json_is_object(d))
        return bad_event(s, E, "no delta object");
    struct blk *b;
    if ((v = json_object_get(d, "text"))) {
        if (!json_is_string(v))
            return bad_event(s, E, "delta.text is not a string");
        return (b = get_or_start(s, E, idx, BLK_TEXT)) ? add_text(s, b, idx, v) : s->err.status;
    }
    if ((v = json_object_get(d, "toolUse"))) {
        json_t *in = json_object_get(v, "input");
        if (!json_is_string(in))
            return bad_event(s, E, "delta.toolUse.input is not a string");
        return (b = want_kind(s, E, idx, BLK_TOOL)) ? add_text(s, b, idx, in) : s->err.status;
    }
    if ((v = json_object_get(d, "reasoningContent"))) {
        json_t *t = json_object_get(v, "text"), *sig = json_object_get(v, "signature");
        json_t *red = json_object_get(v, "redactedContent");
        if (json_is_string(red)) {
            if (!(b = get_or_start(s, E, idx, BLK_REDACTED)))
                return s->err.status;
            buf_reset(&s->scratch);
            if (base64_decode(&s->scratch, json_string_value(red), json_string_length(red)) != BROCK_OK)
                return bad_event(s, E, "redactedContent is not valid base64");
            return blk_append(s, &b->acc, buf_cstr(&s->scratch), s->scratch.len);
        }
        if (!json_is_string(t) && !json_is_string(sig))
            return bad_event(s, E, "reasoningContent without text, signature or redactedContent");
        if (!(b = get_or_start(s, E, idx, BLK_THINKING)))
            return s->err.status;
        enum brock_status st = json_is_string(t) ? add_text(s, b, idx, t) : BROCK_OK;
        if (st == BROCK_OK && json_is_string(sig))
            st = blk_append(s, &b->sig, json_string_value(sig), json_string_length(sig));
        return st;
    }
    if ((v = json_object_get(d, "toolResult"))) {
        if (!(b = want_kind(s, E, idx, BLK_TOOL_RESULT)))
            return s->err.status;
        json_t *content = json_object_get(b->obj, "content"), *it;
        size_t i;
        json_array_foreach(v, i, it)
        {
            json_t *wrap = json_pack("{s:{s:s,s:[O]}}", "toolResult", "toolUseId", "x", "content", it);
            json_t *m = bedrock_block_from_converse(wrap);
            json_array_extend(content, json_object_get(m, "content"));
            json_decref(m);
            json_decref(wrap);
        }
        return BROCK_OK;
    }
    return BROCK_OK; /* citation, image and kinds brock does not know */
}

static enum brock_status converse_event(struct bedrock_stream *s, struct es_str type, const json_t *ev)
{
    if (es_str_eq(type, "messageStart"))
        return BROCK_OK;
    if (es_str_eq(type, "contentBlockStart"))
        return converse_block_start(s, ev);
    if (es_str_eq(type, "contentBlockDelta"))
        return converse_block_delta(s, ev);
    if (es_str_eq(type, "contentBlockStop")) {
        size_t idx;
        if (!get_index(ev, "contentBlockIndex", &idx))
            return bad_event(s, "contentBlockStop", "contentBlockIndex missing or out of range");
        return blk_stop(s, "contentBlockStop", idx);
    }
    if (es_str_eq(type, "messageStop")) {
        json_t *sr = json_object_get(ev, "stopReason");
        if (json_is_string(sr)) {
            const char *mapped = bedrock_stop_reason_from_converse(json_string_value(sr));
            bedrock_copy_clean(s->stop_reason, sizeof s->stop_reason, mapped, strlen(mapped));
        }
        bedrock_copy_member(s->stop_sequence, sizeof s->stop_sequence,
                            json_object_get(ev, "additionalModelResponseFields"), "stop_sequence");
        s->got_stop = true;
        return BROCK_OK;
    }
    if (es_str_eq(type, "metadata")) {
        json_t *u = json_object_get(ev, "usage");
        if (json_is_object(u)) {
            bedrock_usage_from_converse(u, &s->usage);
            s->usage_seen = true;
        }
        s->got_metadata = true;
        return BROCK_OK;
    }
    return BROCK_OK; /* an event type brock does not know: skipped */
}

/* ---- frames ------------------------------------------------------------------------ */

static enum brock_status on_message(struct bedrock_stream *s, const struct es_message *m)
{
    s->at = m->offset;
    switch (es_message_kind(m)) {
    case ES_KIND_EXCEPTION:
        return on_exception(s, m);
    case ES_KIND_ERROR:
        return on_error_frame(s, m);
    case ES_KIND_EVENT:
        break;
    case ES_KIND_OTHER:
        return BROCK_OK;
    }
    struct es_str type = es_message_event_type(m);
    bool known = s->kind == BEDROCK_STREAM_INVOKE
                     ? es_str_eq(type, "chunk")
                     : (es_str_eq(type, "messageStart") || es_str_eq(type, "contentBlockStart") ||
                        es_str_eq(type, "contentBlockDelta") || es_str_eq(type, "contentBlockStop") ||
                        es_str_eq(type, "messageStop") || es_str_eq(type, "metadata"));
    if (!known)
        return BROCK_OK;
    char what[128];
    snprintf(what, sizeof what, "%s: %.*s event at offset %llu: payload", api_name(s), (int)type.len, type.p,
             (unsigned long long)s->at);
    json_t *payload;
    struct brock_err pe;
    if (json_parse((const char *)m->payload, m->payload_len, what, &payload, &pe) != BROCK_OK)
        return fail(s, BROCK_ERR_PARSE, "%s", pe.msg);
    enum brock_status st;
    if (!json_is_object(payload))
        st = fail(s, BROCK_ERR_PARSE, "%s is not a JSON object", what);
    else if (s->kind == BEDROCK_STREAM_INVOKE)
        st = on_chunk(s, payload);
    else
        st = converse_event(s, type, payload);
    json_decref(payload);
    return st;
}

static enum brock_status give_err(const struct bedrock_stream *s, struct brock_err *e)
{
    if (e)
        *e = s->err;
    return s->err.status;
}

enum brock_status bedrock_stream_feed(struct bedrock_stream *s, const void *p, size_t n, struct brock_err *e)
{
    if (s->failed)
        return give_err(s, e);
    struct brock_err de;
    enum brock_status st = es_decoder_feed(s->dec, p, n, &de);
    s->bytes += n;
    while (st == BROCK_OK) {
        struct es_message m;
        bool got;
        st = es_decoder_next(s->dec, &m, &got, &de);
        if (st != BROCK_OK || !got)
            break;
        if (on_message(s, &m) != BROCK_OK)
            return give_err(s, e);
    }
    if (st != BROCK_OK) {
        fail(s, st, "%s: the event stream is broken: %s", api_name(s), de.msg);
        return give_err(s, e);
    }
    return BROCK_OK;
}

enum brock_status bedrock_stream_finish(struct bedrock_stream *s, struct brock_err *e)
{
    if (s->failed)
        return give_err(s, e);
    struct brock_err de;
    if (es_decoder_finish(s->dec, &de) != BROCK_OK) {
        fail(s, BROCK_ERR_NETWORK, "%s: stream ended early after %llu bytes: %s", api_name(s),
             (unsigned long long)s->bytes, de.msg);
        return give_err(s, e);
    }
    const char *missing = NULL;
    if (s->kind == BEDROCK_STREAM_INVOKE && !s->got_stop)
        missing = "no message_stop";
    else if (s->kind == BEDROCK_STREAM_CONVERSE && !s->got_stop)
        missing = "no messageStop";
    else if (s->kind == BEDROCK_STREAM_CONVERSE && !s->got_metadata)
        missing = "no metadata";
    if (missing) {
        fail(s, BROCK_ERR_NETWORK, "%s: stream ended early after %llu bytes: %s", api_name(s),
             (unsigned long long)s->bytes, missing);
        return give_err(s, e);
    }
    /* blocks the stream never closed are closed now */
    s->at = s->bytes;
    for (size_t i = 0; i < s->nblocks; i++)
        if (!s->blocks[i].stopped && blk_stop(s, "end of stream", i) != BROCK_OK)
            return give_err(s, e);
    return BROCK_OK;
}

void bedrock_stream_result(struct bedrock_stream *s, struct model_result *out)
{
    json_t *content = json_array();
    for (size_t i = 0; i < s->nblocks; i++) {
        struct blk *b = &s->blocks[i];
        json_t *j;
        if (b->stopped) {
            j = json_incref(b->final);
        } else {
            bool bad;
            struct brock_err why;
            j = blk_materialize(b, &bad, &why);
        }
        if (j)
            json_array_append_new(content, j);
    }
    json_decref(out->content);
    out->content = content;
    snprintf(out->stop_reason, sizeof out->stop_reason, "%s", s->stop_reason);
    snprintf(out->stop_sequence, sizeof out->stop_sequence, "%s", s->stop_sequence);
    snprintf(out->message_id, sizeof out->message_id, "%s", s->message_id);
    snprintf(out->model, sizeof out->model, "%s", s->model);
    out->usage = s->usage;
}
