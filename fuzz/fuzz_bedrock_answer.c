/* fuzz_bedrock_answer.c - InvokeModel and Converse JSON answers from arbitrary
 * bytes. The first byte chooses the parser (even: InvokeModel, odd:
 * Converse); the rest is the answer body. A parsed answer must be a content
 * array of blocks with a type, and is turned back into request bodies (as an
 * assistant turn) to exercise the translation the other way too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/bedrock/bedrock_wire.h"

/* A body that was built must be one valid JSON object. */
static void check_body(enum brock_status st, struct buf *b)
{
    if (st == BROCK_OK) {
        json_t *v = json_loadb(b->ptr, b->len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(v))
            abort();
        json_decref(v);
    }
    buf_reset(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct model_result r;
    model_result_init(&r);
    struct brock_err e = {0};
    enum brock_status st = (data[0] & 1) ? bedrock_parse_converse_answer(p, n, &r, &e)
                                         : bedrock_parse_invoke_answer(p, n, &r, &e);
    if (st != BROCK_OK) {
        if (e.msg[0] == '\0' || (st != BROCK_ERR_PARSE && st != BROCK_ERR_TOO_LARGE))
            abort(); /* every error is a parse error that says why */
    } else {
        size_t i;
        json_t *blk;
        if (!json_is_array(r.content))
            abort();
        json_array_foreach(r.content, i, blk)
        {
            if (!json_is_string(json_object_get(blk, "type")))
                abort();
        }
        if (strlen(r.stop_reason) >= sizeof r.stop_reason || strlen(r.message_id) >= sizeof r.message_id)
            abort();
        struct model_request req;
        memset(&req, 0, sizeof req);
        req.model_id = "m";
        req.max_tokens = 16;
        req.temperature = req.top_p = MODEL_UNSET;
        req.top_k = MODEL_UNSET;
        req.messages = json_pack("[{s:s,s:s},{s:s,s:O}]", "role", "user", "content", "hi", "role", "assistant",
                                 "content", r.content);
        struct buf b = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
        check_body(bedrock_invoke_body(&req, &b, NULL), &b);
        req.api = MODEL_API_CONVERSE;
        check_body(bedrock_converse_body(&req, &b, NULL), &b);
        check_body(bedrock_count_tokens_body(&req, &b, NULL), &b);
        buf_free(&b);
        (void)bedrock_estimate_tokens(&req);
        json_decref(req.messages);
    }
    char *text = model_result_text(&r);
    free(text);
    model_result_cleanup(&r);
    return 0;
}
