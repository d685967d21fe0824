/* bedrock_body.c - request bodies: InvokeModel, Converse, CountTokens, and the
 * local token estimate. See bedrock_wire.h and docs/internals/bedrock.md. */
#include "bedrock_wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../util/codec.h"
#include "bedrock_int.h"
#include "catalog.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))

/* ---- canonical serialisation ----------------------------------------------- */

struct dump_ctx {
    struct buf *b;
    size_t start, max;
    bool over;
};

static int dump_cb(const char *p, size_t n, void *data)
{
    struct dump_ctx *d = data;
    if (d->b->len - d->start + n > d->max) {
        d->over = true;
        return -1;
    }
    return buf_add(d->b, p, n) == BROCK_OK ? 0 : -1;
}

enum brock_status bedrock_dump(const json_t *v, struct buf *out, size_t max, const char *what,
                               struct brock_err *e)
{
    struct dump_ctx d = {out, out->len, max, false};
    if (json_dump_callback(v, dump_cb, &d, DUMP_FLAGS) != 0 || buf_status(out) != BROCK_OK) {
        size_t limit = d.over ? max : out->max;
        buf_truncate(out, d.start);
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s is larger than %zu bytes", what, limit);
    }
    return BROCK_OK;
}

/* ---- checks shared by both APIs ------------------------------------------------ */

static bool unit_or_unset(double v)
{
    return v == (double)MODEL_UNSET || (v >= 0.0 && v <= 1.0);
}

static bool is_type(const json_t *blk, const char *type)
{
    const char *t = json_string_value(json_object_get(blk, "type"));
    return t && !strcmp(t, type);
}

static enum brock_status check_request(const struct model_request *req, struct brock_err *e)
{
    if (req->max_tokens <= 0)
        return err_set(e, BROCK_ERR_USAGE, "max_tokens must be positive (got %d)", req->max_tokens);
    if (!json_is_array(req->messages) || json_array_size(req->messages) == 0)
        return err_set(e, BROCK_ERR_USAGE, "messages must be a non-empty array");
    size_t i;
    json_t *m;
    json_array_foreach(req->messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (!json_is_object(m) || !role || (strcmp(role, "user") && strcmp(role, "assistant")))
            return err_set(e, BROCK_ERR_USAGE, "messages[%zu]: role must be \"user\" or \"assistant\"", i);
        if (!json_is_string(content) && !json_is_array(content))
            return err_set(e, BROCK_ERR_USAGE, "messages[%zu]: content must be a string or an array of blocks",
                           i);
    }
    if (!unit_or_unset(req->temperature))
        return err_set(e, BROCK_ERR_USAGE, "temperature must be between 0 and 1 (got %g)", req->temperature);
    /* Opus 4.7 on (the catalog's `newer` models) refuse sampling parameters
     * other than the default temperature 1: said here, before a 400 */
    const struct model_info *mi = req->model_id ? catalog_find(req->model_id, NULL) : NULL;
    if (mi && mi->newer) {
        const char *which = catalog_refuses_temperature(mi, req->temperature) ? "temperature"
                            : req->top_p != (double)MODEL_UNSET                 ? "top_p"
                            : req->top_k != MODEL_UNSET                         ? "top_k"
                                                                                : NULL;
        if (which)
            return err_set(e, BROCK_ERR_USAGE,
                           "%s does not take %s: Bedrock refuses sampling parameters for the models from Opus 4.7 "
                           "on; leave it out",
                           mi->name, which);
    }
    const char *last_role = json_string_value(
        json_object_get(json_array_get(req->messages, json_array_size(req->messages) - 1), "role"));
    if (mi && mi->no_prefill && last_role && !strcmp(last_role, "assistant"))
        return err_set(e, BROCK_ERR_USAGE,
                       "%s takes no prefill: the last message is the assistant's, and Bedrock refuses that from the "
                       "4.6 models on; end with a user message",
                       mi->name);
    if (!unit_or_unset(req->top_p))
        return err_set(e, BROCK_ERR_USAGE, "top_p must be between 0 and 1 (got %g)", req->top_p);
    if (req->top_k != MODEL_UNSET && req->top_k < 0)
        return err_set(e, BROCK_ERR_USAGE, "top_k must be 0 or more (got %d)", req->top_k);
    if (req->system && !json_is_string(req->system) && !json_is_array(req->system))
        return err_set(e, BROCK_ERR_USAGE, "system must be a string or an array of text blocks");
    if (req->tools && !json_is_array(req->tools))
        return err_set(e, BROCK_ERR_USAGE, "tools must be an array");
    if (req->tool_choice && !json_string_value(json_object_get(req->tool_choice, "type")))
        return err_set(e, BROCK_ERR_USAGE, "tool_choice must be an object with a type");
    if (req->thinking && !json_is_object(req->thinking))
        return err_set(e, BROCK_ERR_USAGE, "thinking must be an object");
    if (req->stop_sequences) {
        json_t *s;
        if (!json_is_array(req->stop_sequences))
            return err_set(e, BROCK_ERR_USAGE, "stop_sequences must be an array of strings");
        json_array_foreach(req->stop_sequences, i, s)
        {
            if (!json_is_string(s))
                return err_set(e, BROCK_ERR_USAGE, "stop_sequences[%zu] is not a string", i);
        }
    }
    if (req->extra) {
        const char *k;
        json_t *v;
        if (!json_is_object(req->extra))
            return err_set(e, BROCK_ERR_USAGE, "extra request fields must be an object");
        json_object_foreach(req->extra, k, v)
        {
            if (!strcmp(k, "model") || !strcmp(k, "stream"))
                return err_set(e, BROCK_ERR_USAGE,
                               "extra field '%s' is not allowed: Bedrock takes the model and streaming "
                               "from the operation",
                               k);
        }
    }
    return BROCK_OK;
}

/* Set key to a borrowed value (a new reference is taken). */
static void set_ref(json_t *obj, const char *key, json_t *v)
{
    json_object_set(obj, key, v);
}

static json_t *real_or_int(double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* Merge `extra` into obj; a member that is already there is an error. */
static enum brock_status merge_extra(json_t *obj, const json_t *extra, const char *into, struct brock_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)extra, k, v)
    {
        if (json_object_get(obj, k))
            return err_set(e, BROCK_ERR_USAGE, "extra field '%s' duplicates a field brock sets in %s", k, into);
        set_ref(obj, k, v);
    }
    return BROCK_OK;
}

/* ---- InvokeModel ------------------------------------------------------------- */

static json_t *invoke_json(const struct model_request *req, struct brock_err *e)
{
    if (check_request(req, e) != BROCK_OK)
        return NULL;
    json_t *b = json_object();
    json_object_set_new(b, "anthropic_version", json_string(BEDROCK_ANTHROPIC_VERSION));
    json_object_set_new(b, "max_tokens", json_integer(req->max_tokens));
    set_ref(b, "messages", req->messages);
    if (req->system && !(json_is_string(req->system) && json_string_length(req->system) == 0))
        set_ref(b, "system", req->system);
    if (req->tools && json_array_size(req->tools) > 0)
        set_ref(b, "tools", req->tools);
    if (req->tool_choice)
        set_ref(b, "tool_choice", req->tool_choice);
    if (req->thinking)
        set_ref(b, "thinking", req->thinking);
    if (req->temperature != (double)MODEL_UNSET)
        json_object_set_new(b, "temperature", real_or_int(req->temperature));
    if (req->top_p != (double)MODEL_UNSET)
        json_object_set_new(b, "top_p", real_or_int(req->top_p));
    if (req->top_k != MODEL_UNSET)
        json_object_set_new(b, "top_k", json_integer(req->top_k));
    if (req->stop_sequences && json_array_size(req->stop_sequences) > 0)
        set_ref(b, "stop_sequences", req->stop_sequences);
    if (req->extra && merge_extra(b, req->extra, "the InvokeModel body", e) != BROCK_OK) {
        json_decref(b);
        return NULL;
    }
    return b;
}

enum brock_status bedrock_invoke_body(const struct model_request *req, struct buf *out, struct brock_err *e)
{
    json_t *b = invoke_json(req, e);
    if (!b)
        return e ? e->status : BROCK_ERR_USAGE;
    enum brock_status st = bedrock_dump(b, out, BEDROCK_MAX_REQUEST_BYTES, "the InvokeModel body", e);
    json_decref(b);
    return st;
}

/* ---- Converse ------------------------------------------------------------------ */

struct conv {
    int documents; /* for default document names */
    struct brock_err *e;
};

static json_t *fail(struct conv *c, const char *where, const char *fmt, ...) BROCK_PRINTF(3, 4);
static json_t *fail(struct conv *c, const char *where, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    err_set(c->e, BROCK_ERR_USAGE, "%s: %s", where, what);
    return NULL;
}

/* cache_control {"type":"ephemeral"[,"ttl":"5m"|"1h"]} -> {"cachePoint":{...}} */
static json_t *cache_point(struct conv *c, const json_t *cc, const char *where)
{
    const char *type = json_string_value(json_object_get(cc, "type"));
    if (!json_is_object(cc) || (type && strcmp(type, "ephemeral")))
        return fail(c, where, "cache_control must be {\"type\": \"ephemeral\"} (got type '%s')",
                    type ? type : "(none)");
    json_t *cp = json_pack("{s:s}", "type", "default");
    json_t *ttl = json_object_get(cc, "ttl");
    if (ttl) {
        if (!json_is_string(ttl)) {
            json_decref(cp);
            return fail(c, where, "cache_control ttl must be a string like \"5m\" or \"1h\"");
        }
        set_ref(cp, "ttl", ttl);
    }
    return json_pack("{s:o}", "cachePoint", cp);
}

static const char *image_format(const char *media_type)
{
    static const char *const map[][2] = {{"image/png", "png"},
                                         {"image/jpeg", "jpeg"},
                                         {"image/jpg", "jpeg"},
                                         {"image/gif", "gif"},
                                         {"image/webp", "webp"}};
    for (size_t i = 0; media_type && i < BROCK_ARRAY_LEN(map); i++)
        if (!strcmp(map[i][0], media_type))
            return map[i][1];
    return NULL;
}

static const char *document_format(const char *media_type)
{
    static const char *const map[][2] = {
        {"application/pdf", "pdf"},
        {"text/plain", "txt"},
        {"text/csv", "csv"},
        {"text/html", "html"},
        {"text/markdown", "md"},
        {"application/msword", "doc"},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
        {"application/vnd.ms-excel", "xls"},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
    };
    for (size_t i = 0; media_type && i < BROCK_ARRAY_LEN(map); i++)
        if (!strcmp(map[i][0], media_type))
            return map[i][1];
    return NULL;
}

static json_t *conv_image(struct conv *c, const json_t *blk, const char *where)
{
    json_t *src = json_object_get(blk, "source");
    const char *type = json_string_value(json_object_get(src, "type"));
    if (!type || strcmp(type, "base64"))
        return fail(c, where, "image source type '%s' has no Converse form (send the bytes as base64)",
                    type ? type : "(none)");
    const char *media = json_string_value(json_object_get(src, "media_type"));
    const char *fmt = image_format(media);
    if (!fmt)
        return fail(c, where, "image media_type '%s' is not one of png, jpeg, gif, webp", media ? media : "(none)");
    json_t *data = json_object_get(src, "data");
    if (!json_is_string(data))
        return fail(c, where, "image source has no base64 data");
    return json_pack("{s:{s:s,s:{s:O}}}", "image", "format", fmt, "source", "bytes", data);
}

/* Converse document names: alphanumerics, single spaces, - ( ) [ ]; at most
 * 200 characters. Other characters become '-'. */
static void document_name(const char *title, int n, char out[201])
{
    size_t o = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)(title ? title : ""); *p && o < 200; p++) {
        unsigned char ch = *p;
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            if (o > 0 && !space)
                out[o++] = ' ';
            space = true;
            continue;
        }
        space = false;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  strchr("-()[]", ch) != NULL;
        out[o++] = ok ? (char)ch : '-';
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    if (o == 0)
        snprintf(out, 201, "document-%d", n);
}

static json_t *conv_document(struct conv *c, const json_t *blk, const char *where)
{
    json_t *src = json_object_get(blk, "source");
    const char *type = json_string_value(json_object_get(src, "type"));
    const char *media = json_string_value(json_object_get(src, "media_type"));
    json_t *source = NULL;
    const char *fmt = NULL;
    if (type && !strcmp(type, "base64")) {
        fmt = document_format(media);
        json_t *data = json_object_get(src, "data");
        if (!fmt)
            return fail(c, where, "document media_type '%s' has no Converse format", media ? media : "(none)");
        if (!json_is_string(data))
            return fail(c, where, "document source has no base64 data");
        source = json_pack("{s:O}", "bytes", data);
    } else if (type && !strcmp(type, "text")) {
        fmt = media ? document_format(media) : "txt";
        json_t *data = json_object_get(src, "data");
        if (!fmt)
            return fail(c, where, "document media_type '%s' has no Converse format", media);
        if (!json_is_string(data))
            return fail(c, where, "text document source has no data");
        source = json_pack("{s:O}", "text", data);
    } else if (type && !strcmp(type, "content")) {
        fmt = "txt";
        json_t *items = json_object_get(src, "content"), *parts = json_array(), *it;
        size_t i;
        if (json_is_string(items))
            json_array_append_new(parts, json_pack("{s:O}", "text", items));
        json_array_foreach(items, i, it)
        {
            if (!is_type(it, "text") || !json_is_string(json_object_get(it, "text"))) {
                json_decref(parts);
                return fail(c, where, "document content source may only hold text blocks");
            }
            json_array_append_new(parts, json_pack("{s:O}", "text", json_object_get(it, "text")));
        }
        source = json_pack("{s:o}", "content", parts);
    } else {
        return fail(c, where, "document source type '%s' has no Converse form", type ? type : "(none)");
    }
    char name[201];
    document_name(json_string_value(json_object_get(blk, "title")), ++c->documents, name);
    json_t *doc = json_pack("{s:s,s:s,s:o}", "format", fmt, "name", name, "source", source);
    json_t *ctx = json_object_get(blk, "context");
    if (json_is_string(ctx))
        set_ref(doc, "context", ctx);
    json_t *cit = json_object_get(blk, "citations");
    if (json_is_object(cit))
        set_ref(doc, "citations", cit);
    return json_pack("{s:o}", "document", doc);
}

static json_t *conv_text(struct conv *c, const json_t *blk, const char *where)
{
    json_t *t = json_object_get(blk, "text");
    if (!json_is_string(t))
        return fail(c, where, "text block without a text string");
    return json_pack("{s:O}", "text", t);
}

/* A tool_result's content: a string, or text / image / document blocks. */
static json_t *conv_tool_result(struct conv *c, const json_t *blk, const char *where)
{
    json_t *id = json_object_get(blk, "tool_use_id");
    if (!json_is_string(id))
        return fail(c, where, "tool_result without a tool_use_id");
    json_t *content = json_object_get(blk, "content"), *out = json_array();
    if (json_is_string(content)) {
        if (json_string_length(content) > 0)
            json_array_append_new(out, json_pack("{s:O}", "text", content));
    } else if (json_is_array(content)) {
        size_t i;
        json_t *it;
        json_array_foreach(content, i, it)
        {
            char w[160];
            snprintf(w, sizeof w, "%s.content[%zu]", where, i);
            const char *type = json_string_value(json_object_get(it, "type"));
            json_t *x = NULL;
            if (json_object_get(it, "cache_control"))
                x = fail(c, w, "cache_control inside a tool_result has no Converse form; put it on the "
                               "tool_result block");
            else if (type && !strcmp(type, "text"))
                x = conv_text(c, it, w);
            else if (type && !strcmp(type, "image"))
                x = conv_image(c, it, w);
            else if (type && !strcmp(type, "document"))
                x = conv_document(c, it, w);
            else
                x = fail(c, w, "block type '%s' has no Converse form inside a tool_result", type ? type : "(none)");
            if (!x) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, x);
        }
    } else if (content) {
        json_decref(out);
        return fail(c, where, "tool_result content must be a string or an array of blocks");
    }
    json_t *tr = json_pack("{s:O,s:o}", "toolUseId", id, "content", out);
    if (json_is_true(json_object_get(blk, "is_error")))
        json_object_set_new(tr, "status", json_string("error"));
    return json_pack("{s:o}", "toolResult", tr);
}

static json_t *conv_tool_use(struct conv *c, const json_t *blk, const char *where, bool server)
{
    json_t *id = json_object_get(blk, "id"), *name = json_object_get(blk, "name");
    json_t *input = json_object_get(blk, "input");
    if (!json_is_string(id) || !json_is_string(name))
        return fail(c, where, "tool_use needs a string id and name");
    json_t *tu = json_pack("{s:O,s:O}", "toolUseId", id, "name", name);
    json_object_set_new(tu, "input", input ? json_incref(input) : json_object());
    if (server)
        json_object_set_new(tu, "type", json_string("server_tool_use"));
    return json_pack("{s:o}", "toolUse", tu);
}

static json_t *conv_thinking(struct conv *c, const json_t *blk, const char *where)
{
    json_t *text = json_object_get(blk, "thinking"), *sig = json_object_get(blk, "signature");
    if (!json_is_string(text))
        return fail(c, where, "thinking block without a thinking string");
    json_t *rt = json_pack("{s:O}", "text", text);
    if (json_is_string(sig))
        set_ref(rt, "signature", sig);
    return json_pack("{s:{s:o}}", "reasoningContent", "reasoningText", rt);
}

static json_t *conv_redacted(struct conv *c, const json_t *blk, const char *where)
{
    json_t *data = json_object_get(blk, "data");
    if (!json_is_string(data))
        return fail(c, where, "redacted_thinking block without data");
    return json_pack("{s:{s:O}}", "reasoningContent", "redactedContent", data);
}

/* One Messages block of a message -> Converse block(s) appended to out. */
static enum brock_status conv_block(struct conv *c, const json_t *blk, json_t *out, const char *where)
{
    if (!json_is_object(blk)) {
        fail(c, where, "content block is not an object");
        return BROCK_ERR_USAGE;
    }
    const char *type = json_string_value(json_object_get(blk, "type"));
    json_t *x;
    if (!type)
        x = fail(c, where, "content block without a type");
    else if (!strcmp(type, "text"))
        x = conv_text(c, blk, where);
    else if (!strcmp(type, "image"))
        x = conv_image(c, blk, where);
    else if (!strcmp(type, "document"))
        x = conv_document(c, blk, where);
    else if (!strcmp(type, "tool_use"))
        x = conv_tool_use(c, blk, where, false);
    else if (!strcmp(type, "server_tool_use"))
        x = conv_tool_use(c, blk, where, true);
    else if (!strcmp(type, "tool_result"))
        x = conv_tool_result(c, blk, where);
    else if (!strcmp(type, "thinking"))
        x = conv_thinking(c, blk, where);
    else if (!strcmp(type, "redacted_thinking"))
        x = conv_redacted(c, blk, where);
    else
        x = fail(c, where, "block type '%s' has no Converse form", type);
    if (!x)
        return BROCK_ERR_USAGE;
    json_array_append_new(out, x);
    json_t *cc = json_object_get(blk, "cache_control");
    if (cc) {
        json_t *cp = cache_point(c, cc, where);
        if (!cp)
            return BROCK_ERR_USAGE;
        json_array_append_new(out, cp);
    }
    return BROCK_OK;
}

static json_t *conv_messages(struct conv *c, const json_t *messages)
{
    json_t *out = json_array(), *m;
    size_t i;
    json_array_foreach(messages, i, m)
    {
        json_t *content = json_object_get(m, "content"), *blocks = json_array();
        char where[96];
        if (json_is_string(content)) {
            json_array_append_new(blocks, json_pack("{s:O}", "text", content));
        } else {
            size_t j;
            json_t *blk;
            json_array_foreach(content, j, blk)
            {
                snprintf(where, sizeof where, "messages[%zu].content[%zu]", i, j);
                if (conv_block(c, blk, blocks, where) != BROCK_OK) {
                    json_decref(blocks);
                    json_decref(out);
                    return NULL;
                }
            }
        }
        json_array_append_new(out, json_pack("{s:O,s:o}", "role", json_object_get(m, "role"), "content", blocks));
    }
    return out;
}

/* system: a string, or text blocks with optional cache_control. NULL out
 * (and no error) when there is nothing to send. */
static enum brock_status conv_system(struct conv *c, const json_t *system, json_t **out)
{
    *out = NULL;
    if (!system)
        return BROCK_OK;
    json_t *arr = json_array();
    if (json_is_string(system)) {
        if (json_string_length(system) > 0)
            json_array_append_new(arr, json_pack("{s:O}", "text", system));
    } else {
        size_t i;
        json_t *blk;
        json_array_foreach(system, i, blk)
        {
            char where[48];
            snprintf(where, sizeof where, "system[%zu]", i);
            if (!is_type(blk, "text")) {
                json_decref(arr);
                fail(c, where, "system blocks must be text blocks");
                return BROCK_ERR_USAGE;
            }
            if (conv_block(c, blk, arr, where) != BROCK_OK) {
                json_decref(arr);
                return BROCK_ERR_USAGE;
            }
        }
    }
    if (json_array_size(arr) == 0)
        json_decref(arr);
    else
        *out = arr;
    return BROCK_OK;
}

/* toolConfig, or NULL (no error) when no tools go out. */
static enum brock_status conv_tools(struct conv *c, const struct model_request *req, json_t **out)
{
    *out = NULL;
    const char *choice = req->tool_choice ? json_string_value(json_object_get(req->tool_choice, "type")) : NULL;
    if (!req->tools || json_array_size(req->tools) == 0 || (choice && !strcmp(choice, "none")))
        return BROCK_OK;
    json_t *tools = json_array(), *t;
    size_t i;
    json_array_foreach(req->tools, i, t)
    {
        char where[48];
        snprintf(where, sizeof where, "tools[%zu]", i);
        const char *type = json_string_value(json_object_get(t, "type"));
        json_t *name = json_object_get(t, "name"), *desc = json_object_get(t, "description");
        json_t *schema = json_object_get(t, "input_schema");
        if (type && strcmp(type, "custom")) {
            fail(c, where, "server tool type '%s' has no Converse form", type);
            goto bad;
        }
        if (!json_is_string(name) || !json_is_object(schema)) {
            fail(c, where, "a tool needs a string name and an input_schema object");
            goto bad;
        }
        json_t *spec = json_pack("{s:O,s:{s:O}}", "name", name, "inputSchema", "json", schema);
        if (json_is_string(desc))
            set_ref(spec, "description", desc);
        json_array_append_new(tools, json_pack("{s:o}", "toolSpec", spec));
        json_t *cc = json_object_get(t, "cache_control");
        if (cc) {
            json_t *cp = cache_point(c, cc, where);
            if (!cp)
                goto bad;
            json_array_append_new(tools, cp);
        }
    }
    json_t *cfg = json_pack("{s:o}", "tools", tools);
    if (choice) {
        json_t *tc = NULL;
        if (json_is_true(json_object_get(req->tool_choice, "disable_parallel_tool_use"))) {
            json_decref(cfg);
            fail(c, "tool_choice", "disable_parallel_tool_use has no Converse form");
            return BROCK_ERR_USAGE;
        }
        if (!strcmp(choice, "auto")) {
            tc = json_pack("{s:{}}", "auto");
        } else if (!strcmp(choice, "any")) {
            tc = json_pack("{s:{}}", "any");
        } else if (!strcmp(choice, "tool")) {
            json_t *name = json_object_get(req->tool_choice, "name");
            if (json_is_string(name))
                tc = json_pack("{s:{s:O}}", "tool", "name", name);
        }
        if (!tc) {
            json_decref(cfg);
            fail(c, "tool_choice", "type '%s' is not auto, any, tool (with a name) or none", choice);
            return BROCK_ERR_USAGE;
        }
        json_object_set_new(cfg, "toolChoice", tc);
    }
    *out = cfg;
    return BROCK_OK;
bad:
    json_decref(tools);
    return BROCK_ERR_USAGE;
}

static json_t *converse_json(const struct model_request *req, struct brock_err *e)
{
    if (check_request(req, e) != BROCK_OK)
        return NULL;
    struct conv c = {.documents = 0, .e = e};
    json_t *msgs = conv_messages(&c, req->messages);
    if (!msgs)
        return NULL;
    json_t *b = json_pack("{s:o}", "messages", msgs), *x;
    if (conv_system(&c, req->system, &x) != BROCK_OK)
        goto bad;
    if (x)
        json_object_set_new(b, "system", x);

    json_t *inf = json_pack("{s:i}", "maxTokens", req->max_tokens);
    if (req->temperature != (double)MODEL_UNSET)
        json_object_set_new(inf, "temperature", real_or_int(req->temperature));
    if (req->top_p != (double)MODEL_UNSET)
        json_object_set_new(inf, "topP", real_or_int(req->top_p));
    if (req->stop_sequences && json_array_size(req->stop_sequences) > 0) {
        set_ref(inf, "stopSequences", req->stop_sequences);
        /* so the answer says which sequence stopped it */
        json_object_set_new(b, "additionalModelResponseFieldPaths", json_pack("[s]", "/stop_sequence"));
    }
    json_object_set_new(b, "inferenceConfig", inf);

    if (conv_tools(&c, req, &x) != BROCK_OK)
        goto bad;
    if (x)
        json_object_set_new(b, "toolConfig", x);

    json_t *add = json_object();
    if (req->top_k != MODEL_UNSET)
        json_object_set_new(add, "top_k", json_integer(req->top_k));
    if (req->thinking)
        set_ref(add, "thinking", req->thinking);
    if (req->extra && merge_extra(add, req->extra, "additionalModelRequestFields", e) != BROCK_OK) {
        json_decref(add);
        goto bad;
    }
    if (json_object_size(add) > 0)
        json_object_set_new(b, "additionalModelRequestFields", add);
    else
        json_decref(add);
    return b;
bad:
    json_decref(b);
    return NULL;
}

enum brock_status bedrock_converse_body(const struct model_request *req, struct buf *out, struct brock_err *e)
{
    json_t *b = converse_json(req, e);
    if (!b)
        return e ? e->status : BROCK_ERR_USAGE;
    enum brock_status st = bedrock_dump(b, out, BEDROCK_MAX_REQUEST_BYTES, "the Converse body", e);
    json_decref(b);
    return st;
}

/* ---- CountTokens ---------------------------------------------------------------- */

enum brock_status bedrock_count_tokens_body(const struct model_request *req, struct buf *out,
                                            struct brock_err *e)
{
    enum brock_status st;
    if (req->api == MODEL_API_CONVERSE) {
        json_t *b = converse_json(req, e);
        if (!b)
            return e ? e->status : BROCK_ERR_USAGE;
        /* CountTokens' converse input takes only these members */
        json_t *in = json_object();
        static const char *const keep[] = {"messages", "system", "toolConfig", "additionalModelRequestFields"};
        for (size_t i = 0; i < BROCK_ARRAY_LEN(keep); i++) {
            json_t *v = json_object_get(b, keep[i]);
            if (v)
                set_ref(in, keep[i], v);
        }
        json_decref(b);
        json_t *wrap = json_pack("{s:{s:o}}", "input", "converse", in);
        st = bedrock_dump(wrap, out, BEDROCK_MAX_REQUEST_BYTES, "the CountTokens body", e);
        json_decref(wrap);
        return st;
    }
    struct buf body = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
    st = bedrock_invoke_body(req, &body, e);
    if (st != BROCK_OK) {
        buf_free(&body);
        return st;
    }
    /* {"input":{"invokeModel":{"body":"<base64>"}}}: all keys are fixed, so
     * writing it directly gives the same bytes the dumper would */
    size_t start = out->len;
    buf_addstr(out, "{\"input\":{\"invokeModel\":{\"body\":\"");
    st = base64_encode(out, body.ptr ? body.ptr : "", body.len);
    buf_addstr(out, "\"}}}");
    buf_free(&body);
    if (st != BROCK_OK || buf_status(out) != BROCK_OK) {
        buf_truncate(out, start);
        return err_set(e, BROCK_ERR_TOO_LARGE, "the CountTokens body is larger than %zu bytes", out->max);
    }
    return BROCK_OK;
}

/* ---- the local estimate ----------------------------------------------------------- */

#define EST_BYTES_PER_TOKEN 4
#define EST_IMAGE 1600
#define EST_DOCUMENT 1500
#define EST_MESSAGE 4
#define EST_TOOL 50
#define EST_TOOLS_PREAMBLE 350

struct est {
    uint64_t text_bytes;
    int64_t fixed;
};

static void est_json(const json_t *v, struct est *x)
{
    /* the serialised size: what the model reads of a schema or an input */
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) {
        x->text_bytes += strlen(s);
        free(s);
    }
}

static void est_block(const json_t *blk, struct est *x, int depth)
{
    if (json_is_string(blk)) {
        x->text_bytes += json_string_length(blk);
        return;
    }
    const char *type = json_string_value(json_object_get(blk, "type"));
    if (!type || depth > 4) {
        est_json(blk, x);
        return;
    }
    if (!strcmp(type, "text")) {
        x->text_bytes += json_string_length(json_object_get(blk, "text"));
    } else if (!strcmp(type, "image")) {
        x->fixed += EST_IMAGE;
    } else if (!strcmp(type, "document")) {
        json_t *src = json_object_get(blk, "source");
        const char *st = json_string_value(json_object_get(src, "type"));
        if (st && !strcmp(st, "text"))
            x->text_bytes += json_string_length(json_object_get(src, "data"));
        else if (st && !strcmp(st, "content"))
            est_json(json_object_get(src, "content"), x);
        else
            x->fixed += EST_DOCUMENT;
    } else if (!strcmp(type, "thinking")) {
        x->text_bytes += json_string_length(json_object_get(blk, "thinking"));
    } else if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use")) {
        x->text_bytes += json_string_length(json_object_get(blk, "name"));
        est_json(json_object_get(blk, "input"), x);
    } else if (!strcmp(type, "tool_result")) {
        json_t *content = json_object_get(blk, "content"), *it;
        size_t i;
        if (json_is_string(content))
            x->text_bytes += json_string_length(content);
        json_array_foreach(content, i, it) est_block(it, x, depth + 1);
    } else if (!strcmp(type, "redacted_thinking")) {
        x->text_bytes += json_string_length(json_object_get(blk, "data"));
    } else {
        est_json(blk, x);
    }
}

int64_t bedrock_estimate_tokens(const struct model_request *req)
{
    struct est x = {0, 0};
    size_t i, j;
    json_t *m, *blk;
    if (json_is_string(req->system))
        x.text_bytes += json_string_length(req->system);
    json_array_foreach(req->system, i, blk) est_block(blk, &x, 0);
    json_array_foreach(req->messages, i, m)
    {
        json_t *content = json_object_get(m, "content");
        x.fixed += EST_MESSAGE;
        if (json_is_string(content))
            x.text_bytes += json_string_length(content);
        json_array_foreach(content, j, blk) est_block(blk, &x, 0);
    }
    if (json_array_size(req->tools) > 0) {
        x.fixed += EST_TOOLS_PREAMBLE;
        json_array_foreach(req->tools, i, blk)
        {
            x.fixed += EST_TOOL;
            est_json(blk, &x);
        }
    }
    return x.fixed + (int64_t)((x.text_bytes + EST_BYTES_PER_TOKEN - 1) / EST_BYTES_PER_TOKEN);
}
