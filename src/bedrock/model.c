/* model.c - the small helpers declared in model.h. */
#include "model.h"

#include <string.h>

#include "../util/buf.h"

void model_result_init(struct model_result *r)
{
    memset(r, 0, sizeof *r);
    r->content = json_array();
}

void model_result_cleanup(struct model_result *r)
{
    if (!r)
        return;
    json_decref(r->content);
    memset(r, 0, sizeof *r);
}

char *model_result_text(const struct model_result *r)
{
    struct buf b = BUF_INIT(SIZE_MAX / 2);
    size_t i;
    json_t *blk;
    json_array_foreach(r->content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        json_t *text = json_object_get(blk, "text");
        if (type && !strcmp(type, "text") && json_is_string(text))
            buf_add(&b, json_string_value(text), json_string_length(text));
    }
    return buf_take(&b);
}
