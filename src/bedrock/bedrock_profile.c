/* bedrock_profile.c - the model behind an application inference profile, as
 * Bedrock's GetInferenceProfile names it. See bedrock.h. */
#include "bedrock.h"

#include <jansson.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/codec.h"
#include "bedrock_int.h"
#include "catalog.h"

bool bedrock_profile_model_arn(const char *body, size_t len, char *out, size_t cap)
{
    if (!body || !cap)
        return false;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *models = json_object_get(root, "models");
    bool found = false;
    for (size_t i = 0; i < json_array_size(models) && !found; i++) {
        const char *arn = json_string_value(json_object_get(json_array_get(models, i), "modelArn"));
        if (arn && strlen(arn) < cap && catalog_find(arn, NULL)) {
            memcpy(out, arn, strlen(arn) + 1);
            found = true;
        }
    }
    json_decref(root);
    return found;
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
    if (st == BROCK_OK) {
        char model_arn[512];
        if (bedrock_profile_model_arn(buf_cstr(&r.http.body), r.http.body.len, model_arn, sizeof model_arn))
            *model = catalog_find(model_arn, NULL);
        else
            st = err_set(e, BROCK_ERR_NOT_FOUND,
                         "GetInferenceProfile named no model brock's catalog knows (request id %s)",
                         r.request_id[0] ? r.request_id : "none");
    }
    aws_response_free(&r);
    http_headers_cleanup(&h);
    buf_free(&path);
    return st;
}
