/* bedrock_counttokens.c - CountTokens, with the local estimate as the fallback.
 * See bedrock.h and bedrock_wire.h (the estimate's heuristic). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/json.h"
#include "../util/log.h"
#include "bedrock.h"
#include "bedrock_int.h"
#include "bedrock_wire.h"
#include "catalog.h"

/* The answers that mean "CountTokens is not available here", not "your
 * request is wrong". */
static bool unavailable(enum brock_status st, const struct brock_err *e)
{
    if (st == BROCK_ERR_NETWORK)
        return true;
    if (!strcmp(e->aws_code, "AccessDeniedException") || !strcmp(e->aws_code, "ResourceNotFoundException") ||
        !strcmp(e->aws_code, "UnknownOperationException"))
        return true;
    if (!e->aws_code[0] && (e->http_status == 403 || e->http_status == 404))
        return true;
    if (!strcmp(e->aws_code, "ValidationException") &&
        (strcasestr(e->msg, "not supported") || strcasestr(e->msg, "doesn't support") ||
         strcasestr(e->msg, "does not support")))
        return true;
    return false;
}

enum brock_status bedrock_count_tokens(struct model_client *mc, const struct model_request *req, int64_t *tokens,
                                       bool *estimated, struct brock_err *e)
{
    struct bedrock_client *c = mc->impl;
    struct brock_err local;
    if (!e)
        e = &local;
    err_clear(e);
    *tokens = 0;
    *estimated = false;
    if (!req->model_id || !*req->model_id)
        return err_set(e, BROCK_ERR_USAGE, "no model id given");

    struct buf body = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES / 3 * 4 + 256);
    struct buf path = BUF_INIT(8192);
    struct http_headers h = HTTP_HEADERS_INIT;
    struct aws_response r;
    aws_response_init(&r);
    /* CountTokens wants the foundation model, not a profile */
    const struct model_info *m = catalog_find(req->model_id, NULL);
    const char *id = m ? m->base_id : req->model_id;
    enum brock_status st = bedrock_count_tokens_body(req, &body, e);
    if (st == BROCK_OK)
        st = bedrock_model_path(id, "count-tokens", &path, e);
    if (st == BROCK_OK)
        st = http_headers_add(&h, "Content-Type", "application/json", e);
    if (st != BROCK_OK)
        goto done;

    struct aws_request areq = {
        .service = ENDPOINT_SVC_BEDROCK_RUNTIME,
        .method = "POST",
        .path = buf_cstr(&path),
        .headers = &h,
        .body = body.ptr,
        .body_len = body.len,
        .protocol = AWSERR_REST_JSON,
        .max_body = 64 * 1024,
    };
    st = aws_client_send(bedrock_region_client(c, 0), &areq, &r, e);
    if (st == BROCK_OK) {
        json_t *root;
        int64_t n;
        char what[160];
        snprintf(what, sizeof what, "CountTokens answer (request id %s)", r.request_id[0] ? r.request_id : "none");
        st = json_parse(buf_cstr(&r.http.body), r.http.body.len, what, &root, e);
        if (st == BROCK_OK) {
            if (json_int(root, "inputTokens", &n) && n >= 0)
                *tokens = n;
            else
                st = err_set(e, BROCK_ERR_PARSE, "%s: no inputTokens count", what);
            json_decref(root);
        }
    } else if (unavailable(st, e)) {
        log_debug("CountTokens unavailable for %s in %s (%s); estimating locally", id, bedrock_region_name(c, 0),
                  e->aws_code[0] ? e->aws_code : brock_status_name(st));
        err_clear(e);
        *tokens = bedrock_estimate_tokens(req);
        *estimated = true;
        st = BROCK_OK;
    }
done:
    if (st != BROCK_OK)
        bedrock_scrub(c, e);
    aws_response_free(&r);
    http_headers_cleanup(&h);
    buf_free(&path);
    buf_free(&body);
    return st;
}
