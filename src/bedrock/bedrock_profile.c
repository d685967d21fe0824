/* bedrock_profile.c - the model behind an application inference profile, as
 * Bedrock's GetInferenceProfile names it. See bedrock.h. */
#include "bedrock.h"

#include <jansson.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/codec.h"
#include "bedrock_int.h"
#include "catalog.h"

const struct model_info *bedrock_profile_model_json(const json_t *answer)
{
    const json_t *models = json_object_get(answer, "models");
    for (size_t i = 0; i < json_array_size(models); i++) {
        const char *arn = json_string_value(json_object_get(json_array_get(models, i), "modelArn"));
        const struct model_info *m = arn ? catalog_find(arn, NULL) : NULL;
        if (m)
            return m;
    }
    return NULL;
}

const struct model_info *bedrock_profile_model(const char *body, size_t len)
{
    json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
    const struct model_info *m = bedrock_profile_model_json(root);
    json_decref(root);
    return m;
}

enum brock_status bedrock_profile_lookup(struct aws_client *c, const char *arn, const struct model_info **model,
                                         struct brock_err *e)
{
    *model = NULL;
    struct buf path = BUF_INIT(BUF_MAX_SMALL);
    buf_addstr(&path, "/inference-profiles/");
    (void)uri_encode(&path, arn, strlen(arn), false);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct aws_response r;
    aws_response_init(&r);
    enum brock_status st = buf_status(&path) == BROCK_OK
                               ? http_headers_add(&h, "Accept", "application/json", e)
                               : err_set(e, BROCK_ERR_TOO_LARGE, "profile ARN too long for a request path");
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = ENDPOINT_SVC_BEDROCK,
            .method = "GET",
            .path = buf_cstr(&path),
            .headers = &h,
            .protocol = AWSERR_REST_JSON,
            .max_body = 1 << 20,
        };
        st = aws_client_send(c, &req, &r, e);
    }
    if (st == BROCK_OK && !(*model = bedrock_profile_model(buf_cstr(&r.http.body), r.http.body.len)))
        st = err_set(e, BROCK_ERR_NOT_FOUND, "GetInferenceProfile named no model brock's catalog knows (request id %s)",
                     r.request_id[0] ? r.request_id : "none");
    aws_response_free(&r);
    http_headers_cleanup(&h);
    buf_free(&path);
    return st;
}
