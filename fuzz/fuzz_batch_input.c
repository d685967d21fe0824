/* fuzz_batch_input.c - arbitrary bytes as one line of `brock batch` input.
 *
 * The line goes through batch_parse_line and, when it parses, batch_prepare
 * with fixed defaults (model resolution, the canonical InvokeModel body).
 * Checks: a usable line exactly when OK; on error a NUL-terminated message
 * that names the input and line ("in.jsonl:7"); a prepared body that is JSON
 * with the fields brock sets; nothing leaks (ASan). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/batch/batch_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct batch_line l;
    struct brock_err e = {0};
    enum brock_status st = batch_parse_line((const char *)data, size, "in.jsonl", 7, &l, &e);
    if (st != BROCK_OK) {
        if (st != BROCK_ERR_PARSE && st != BROCK_ERR_NOT_FOUND && st != BROCK_ERR_TOO_LARGE)
            abort();
        if (!memchr(e.msg, '\0', sizeof e.msg) || !strstr(e.msg, "in.jsonl:7"))
            abort();
        return 0;
    }
    if (!json_is_array(l.req.messages) || json_array_size(l.req.messages) == 0)
        abort();
    struct batch_defaults d = {.region = "us-east-1", .temperature = MODEL_UNSET};
    if (catalog_resolve("haiku", "us-east-1", false, &d.model, &e) != BROCK_OK)
        abort();
    struct batch_item it = {.index = 0, .line = 7, .l = l};
    struct batch_prepared p;
    batch_prepared_init(&p);
    if (batch_prepare(&d, &it, &p, &e) == BROCK_OK) {
        json_t *v = json_loadb(p.body.ptr, p.body.len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(v) || !json_is_integer(json_object_get(v, "max_tokens")) ||
            !json_is_array(json_object_get(v, "messages")) || p.est_tokens <= 0)
            abort();
        json_decref(v);
    } else if (!strstr(e.msg, "line 7")) {
        abort();
    }
    batch_prepared_cleanup(&p);
    batch_line_cleanup(&it.l);
    return 0;
}
