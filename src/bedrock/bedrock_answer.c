/* bedrock_answer.c - InvokeModel and Converse JSON answers -> struct model_result,
 * and the helpers the stream assembler shares with them. */
#include "bedrock_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/json.h"
#include "bedrock_int.h"

/* ---- shared helpers ------------------------------------------------------------ */

void bedrock_copy_clean(char *dst, size_t n, const char *src, size_t len)
{
    if (n == 0)
        return;
    size_t o = 0;
    for (size_t i = 0; src && i < len && o + 1 < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[o++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    /* do not leave half a UTF-8 sequence at a cut */
    if (src && o < len && o > 0) {
        size_t k = o;
        while (k > 0 && ((unsigned char)dst[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)dst[k - 1] & 0x80)) {
            unsigned char lead = (unsigned char)dst[k - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (o - (k - 1) < need)
                o = k - 1;
        }
    }
    dst[o] = '\0';
}

void bedrock_copy_member(char *dst, size_t n, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        bedrock_copy_clean(dst, n, json_string_value(v), json_string_length(v));
}

static void usage_field(const json_t *usage, const char *key, int64_t *dst)
{
    int64_t v;
    if (json_int(usage, key, &v) && v >= 0)
        *dst = v;
}

void bedrock_usage_from_messages(const json_t *usage, struct model_usage *u)
{
    usage_field(usage, "input_tokens", &u->input_tokens);
    usage_field(usage, "output_tokens", &u->output_tokens);
    usage_field(usage, "cache_creation_input_tokens", &u->cache_write_tokens);
    usage_field(usage, "cache_read_input_tokens", &u->cache_read_tokens);
}

void bedrock_usage_from_converse(const json_t *usage, struct model_usage *u)
{
    usage_field(usage, "inputTokens", &u->input_tokens);
    usage_field(usage, "outputTokens", &u->output_tokens);
    usage_field(usage, "cacheWriteInputTokens", &u->cache_write_tokens);
    usage_field(usage, "cacheReadInputTokens", &u->cache_read_tokens);
}

int bedrock_error_http_status(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } table[] = {
        {"ValidationException", 400},       {"ServiceQuotaExceededException", 400},
        {"ConflictException", 400},         {"AccessDeniedException", 403},
        {"ResourceNotFoundException", 404}, {"ModelTimeoutException", 408},
        {"ModelErrorException", 424},       {"ModelStreamErrorException", 424},
        {"ThrottlingException", 429},       {"ModelNotReadyException", 429},
        {"InternalServerException", 500},   {"ServiceUnavailableException", 503},
    };
    for (size_t i = 0; code && i < BROCK_ARRAY_LEN(table); i++)
        if (!strcmp(table[i].code, code))
            return table[i].status;
    return 0;
}

const char *bedrock_stop_reason_from_converse(const char *r)
{
    if (r && !strcmp(r, "content_filtered"))
        return "refusal";
    return r ? r : "";
}

/* Converse ContentBlock -> Messages block. */
json_t *bedrock_block_from_converse(const json_t *blk)
{
    json_t *v;
    if ((v = json_object_get(blk, "text")) && json_is_string(v))
        return json_pack("{s:s,s:O}", "type", "text", "text", v);
    if ((v = json_object_get(blk, "toolUse")) && json_is_object(v)) {
        json_t *id = json_object_get(v, "toolUseId"), *name = json_object_get(v, "name");
        json_t *input = json_object_get(v, "input");
        const char *type = json_string_value(json_object_get(v, "type"));
        if (!json_is_string(id) || !json_is_string(name))
            return NULL;
        return json_pack("{s:s,s:O,s:O,s:o}", "type",
                         type && !strcmp(type, "server_tool_use") ? "server_tool_use" : "tool_use", "id", id,
                         "name", name, "input", input ? json_incref(input) : json_object());
    }
    if ((v = json_object_get(blk, "reasoningContent")) && json_is_object(v)) {
        json_t *rt = json_object_get(v, "reasoningText"), *red = json_object_get(v, "redactedContent");
        if (json_is_string(red))
            return json_pack("{s:s,s:O}", "type", "redacted_thinking", "data", red);
        json_t *text = json_object_get(rt, "text"), *sig = json_object_get(rt, "signature");
        if (!json_is_string(text))
            return NULL;
        json_t *b = json_pack("{s:s,s:O}", "type", "thinking", "thinking", text);
        if (json_is_string(sig))
            json_object_set(b, "signature", sig);
        return b;
    }
    if ((v = json_object_get(blk, "toolResult")) && json_is_object(v)) {
        /* a server-side tool's result */
        json_t *id = json_object_get(v, "toolUseId"), *content = json_object_get(v, "content"), *it;
        const char *status = json_string_value(json_object_get(v, "status"));
        if (!json_is_string(id))
            return NULL;
        json_t *out = json_array();
        size_t i;
        json_array_foreach(content, i, it)
        {
            json_t *t = json_object_get(it, "text"), *j = json_object_get(it, "json");
            if (json_is_string(t))
                json_array_append_new(out, json_pack("{s:s,s:O}", "type", "text", "text", t));
            else if (j) {
                char *dumped = json_dump_compact(j);
                json_array_append_new(out, json_pack("{s:s,s:s}", "type", "text", "text", dumped));
                free(dumped);
            }
        }
        return json_pack("{s:s,s:O,s:o,s:b}", "type", "tool_result", "tool_use_id", id, "content", out, "is_error",
                         status && !strcmp(status, "error"));
    }
    return NULL;
}

/* ---- InvokeModel answer ------------------------------------------------------------- */

static void set_content(struct model_result *out, json_t *content)
{
    json_decref(out->content);
    out->content = content;
}

enum brock_status bedrock_parse_invoke_answer(const char *p, size_t n, struct model_result *out,
                                              struct brock_err *e)
{
    json_t *root;
    enum brock_status st = json_parse(p, n, "InvokeModel answer", &root, e);
    if (st != BROCK_OK)
        return st;
    json_t *content = json_object_get(root, "content"), *blk;
    if (!json_is_object(root) || !json_is_array(content)) {
        json_decref(root);
        return err_set(e, BROCK_ERR_PARSE, "InvokeModel answer: no content array (%zu bytes)", n);
    }
    json_t *kept = json_array();
    size_t i;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        if (!json_is_object(blk) || !type) {
            json_decref(kept);
            json_decref(root);
            return err_set(e, BROCK_ERR_PARSE, "InvokeModel answer: content[%zu] is not a block with a type", i);
        }
        if (!strcmp(type, "text") && !json_is_string(json_object_get(blk, "text"))) {
            json_decref(kept);
            json_decref(root);
            return err_set(e, BROCK_ERR_PARSE, "InvokeModel answer: content[%zu]: text block without text", i);
        }
        if (!strcmp(type, "tool_use") && !json_is_object(json_object_get(blk, "input"))) {
            json_decref(kept);
            json_decref(root);
            return err_set(e, BROCK_ERR_PARSE, "InvokeModel answer: content[%zu]: tool_use input is not an object",
                           i);
        }
        if (!strcmp(type, "text") && json_string_length(json_object_get(blk, "text")) == 0)
            continue;
        json_array_append(kept, blk);
    }
    set_content(out, kept);
    out->stop_reason[0] = out->stop_sequence[0] = '\0';
    bedrock_copy_member(out->stop_reason, sizeof out->stop_reason, root, "stop_reason");
    bedrock_copy_member(out->stop_sequence, sizeof out->stop_sequence, root, "stop_sequence");
    bedrock_copy_member(out->message_id, sizeof out->message_id, root, "id");
    bedrock_copy_member(out->model, sizeof out->model, root, "model");
    memset(&out->usage, 0, sizeof out->usage);
    bedrock_usage_from_messages(json_object_get(root, "usage"), &out->usage);
    json_decref(root);
    return BROCK_OK;
}

/* ---- Converse answer ------------------------------------------------------------------ */

enum brock_status bedrock_parse_converse_answer(const char *p, size_t n, struct model_result *out,
                                                struct brock_err *e)
{
    json_t *root;
    enum brock_status st = json_parse(p, n, "Converse answer", &root, e);
    if (st != BROCK_OK)
        return st;
    json_t *msg = json_object_get(json_object_get(root, "output"), "message");
    json_t *content = json_object_get(msg, "content"), *blk;
    if (!json_is_object(root) || !json_is_array(content)) {
        json_decref(root);
        return err_set(e, BROCK_ERR_PARSE, "Converse answer: no output.message.content array (%zu bytes)", n);
    }
    json_t *kept = json_array();
    size_t i;
    json_array_foreach(content, i, blk)
    {
        if (!json_is_object(blk)) {
            json_decref(kept);
            json_decref(root);
            return err_set(e, BROCK_ERR_PARSE, "Converse answer: output.message.content[%zu] is not an object", i);
        }
        json_t *tu = json_object_get(blk, "toolUse");
        if (tu && (!json_is_string(json_object_get(tu, "toolUseId")) || !json_is_string(json_object_get(tu, "name")))) {
            json_decref(kept);
            json_decref(root);
            return err_set(e, BROCK_ERR_PARSE,
                           "Converse answer: output.message.content[%zu]: toolUse without toolUseId and name", i);
        }
        json_t *m = bedrock_block_from_converse(blk);
        if (!m)
            continue; /* a kind with no Messages form (image, guardContent, ...) */
        if (!strcmp(json_string_value(json_object_get(m, "type")), "text") &&
            json_string_length(json_object_get(m, "text")) == 0) {
            json_decref(m);
            continue;
        }
        json_array_append_new(kept, m);
    }
    set_content(out, kept);
    out->stop_reason[0] = out->stop_sequence[0] = '\0';
    json_t *sr = json_object_get(root, "stopReason");
    if (json_is_string(sr)) {
        const char *mapped = bedrock_stop_reason_from_converse(json_string_value(sr));
        bedrock_copy_clean(out->stop_reason, sizeof out->stop_reason, mapped, strlen(mapped));
    }
    bedrock_copy_member(out->stop_sequence, sizeof out->stop_sequence,
                        json_object_get(root, "additionalModelResponseFields"), "stop_sequence");
    memset(&out->usage, 0, sizeof out->usage);
    bedrock_usage_from_converse(json_object_get(root, "usage"), &out->usage);
    json_decref(root);
    return BROCK_OK;
}
