/* respcache.c - the response cache's key, eligibility and entries (see respcache.h). */
#include "respcache.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bedrock/bedrock_wire.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/json.h"

#define KEY_DOMAIN "brock-respcache-1"

enum brock_status respcache_policy_init(struct respcache_policy *p, const json_t *brock, bool print_mode,
                                        bool flag_cache, bool flag_no_cache, struct brock_err *e)
{
    memset(p, 0, sizeof *p);
    p->mode = RESPCACHE_AUTO;
    p->print_mode = print_mode;
    p->ttl_s = RESPCACHE_TTL_DEFAULT_S;
    p->max_bytes = (int64_t)RESPCACHE_MAX_MB_DEFAULT * 1024 * 1024;
    const json_t *c = brock ? json_object_get(brock, "cache") : NULL;
    if (c && !json_is_null(c)) {
        if (!json_is_object(c))
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.cache: expected an object");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)c, k, v)
        {
            if (!strcmp(k, "enabled")) {
                if (!json_is_boolean(v))
                    return err_set(e, BROCK_ERR_CONFIG, "settings: brock.cache.enabled: expected true or false");
                if (!json_is_true(v))
                    p->mode = RESPCACHE_OFF;
            } else if (!strcmp(k, "ttl_s")) {
                double d = json_is_number(v) ? json_number_value(v) : -1;
                if (!(d >= 1 && d <= (double)RESPCACHE_TTL_MAX_S) || d != floor(d))
                    return err_set(e, BROCK_ERR_CONFIG,
                                   "settings: brock.cache.ttl_s: expected whole seconds from 1 to %lld",
                                   (long long)RESPCACHE_TTL_MAX_S);
                p->ttl_s = (int64_t)d;
            } else if (!strcmp(k, "max_mb")) {
                double d = json_is_number(v) ? json_number_value(v) : -1;
                if (!(d > 0 && d <= RESPCACHE_MAX_MB_MAX))
                    return err_set(e, BROCK_ERR_CONFIG, "settings: brock.cache.max_mb: expected a size in MiB from "
                                                        "above 0 to %d",
                                   RESPCACHE_MAX_MB_MAX);
                p->max_bytes = (int64_t)(d * 1024 * 1024);
                if (p->max_bytes < 1)
                    p->max_bytes = 1;
            } else {
                return err_set(e, BROCK_ERR_CONFIG,
                               "settings: brock.cache: unknown field (expected enabled, ttl_s, max_mb)");
            }
        }
    }
    if (flag_cache) /* explicit: beats brock.cache.enabled false */
        p->mode = RESPCACHE_ON;
    if (flag_no_cache)
        p->mode = RESPCACHE_OFF;
    return BROCK_OK;
}

static bool last_user_has_tool_results(const json_t *messages)
{
    size_t n = json_array_size(messages);
    for (size_t i = n; i-- > 0;) {
        const json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || strcmp(role, "user"))
            continue;
        size_t j;
        json_t *b;
        json_array_foreach(json_object_get(m, "content"), j, b)
        {
            const char *t = json_string_value(json_object_get(b, "type"));
            if (t && !strcmp(t, "tool_result"))
                return true;
        }
        return false;
    }
    return false;
}

bool respcache_eligible(const struct respcache_policy *p, const struct model_request *req)
{
    if (!p || p->mode == RESPCACHE_OFF || !req->messages)
        return false;
    if (last_user_has_tool_results(req->messages))
        return false;
    if (p->mode == RESPCACHE_ON)
        return true;
    return p->print_mode && req->temperature == 0.0 && !req->thinking;
}

bool respcache_storable(const struct model_result *res)
{
    if (res->partial || !json_array_size(res->content))
        return false;
    if (strcmp(res->stop_reason, "end_turn") && strcmp(res->stop_reason, "stop_sequence") &&
        strcmp(res->stop_reason, "max_tokens"))
        return false;
    size_t i;
    json_t *b;
    json_array_foreach(res->content, i, b)
    {
        const char *t = json_string_value(json_object_get(b, "type"));
        if (!t || !strcmp(t, "tool_use"))
            return false;
    }
    return true;
}

enum brock_status respcache_key(const struct model_request *req, char key[SHA256_HEX_LEN + 1], struct brock_err *e)
{
    struct buf body = BUF_INIT(BEDROCK_MAX_REQUEST_BYTES);
    enum brock_status st = req->api == MODEL_API_CONVERSE ? bedrock_converse_body(req, &body, e)
                                                          : bedrock_invoke_body(req, &body, e);
    if (st != BROCK_OK) {
        buf_free(&body);
        return st;
    }
    const char *api = req->api == MODEL_API_CONVERSE ? "converse" : "messages";
    const char *model = req->model_id ? req->model_id : "";
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, KEY_DOMAIN "\n", sizeof(KEY_DOMAIN "\n") - 1);
    sha256_update(&c, api, strlen(api));
    sha256_update(&c, "\n", 1);
    sha256_update(&c, model, strlen(model));
    sha256_update(&c, "\n", 1);
    sha256_update(&c, body.ptr ? body.ptr : "", body.len);
    uint8_t d[SHA256_LEN];
    sha256_final(&c, d);
    sha256_free(&c);
    hex_encode(d, SHA256_LEN, key);
    buf_free(&body);
    return BROCK_OK;
}

static json_t *usage_obj(const struct model_usage *u)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)u->input_tokens, "output_tokens",
                     (json_int_t)u->output_tokens, "cache_read_tokens", (json_int_t)u->cache_read_tokens,
                     "cache_write_tokens", (json_int_t)u->cache_write_tokens);
}

static void usage_from(const json_t *o, struct model_usage *u)
{
    int64_t v;
    memset(u, 0, sizeof *u);
    if (json_int(o, "input_tokens", &v) && v >= 0)
        u->input_tokens = v;
    if (json_int(o, "output_tokens", &v) && v >= 0)
        u->output_tokens = v;
    if (json_int(o, "cache_read_tokens", &v) && v >= 0)
        u->cache_read_tokens = v;
    if (json_int(o, "cache_write_tokens", &v) && v >= 0)
        u->cache_write_tokens = v;
}

enum brock_status respcache_put(struct store *s, const char *key, const struct model_result *res, double cost_usd,
                                int64_t ttl_s, int64_t now_ms, struct brock_err *e)
{
    json_t *ans = json_pack("{s:O,s:s,s:s,s:s,s:s,s:o}", "content", res->content, "stop_reason", res->stop_reason,
                            "stop_sequence", res->stop_sequence, "model", res->model, "message_id", res->message_id,
                            "usage", usage_obj(&res->usage));
    json_t *meta = json_pack("{s:s,s:s,s:s,s:f,s:I}", "model_id", res->model_id, "region", res->region, "request_id",
                             res->request_id, "cost_usd", isfinite(cost_usd) ? cost_usd : 0.0, "created_ms",
                             (json_int_t)now_ms);
    enum brock_status st;
    if (!ans || !meta) { /* a string that is not UTF-8: not worth caching */
        st = err_set(e, BROCK_ERR_USAGE, "respcache: the answer cannot be stored as JSON");
    } else {
        char *a = json_dump_compact(ans), *m = json_dump_compact(meta);
        st = store_cache_put(s, key, a, m, res->model_id[0] ? res->model_id : NULL, ttl_s, e);
        free(a);
        free(m);
    }
    json_decref(ans);
    json_decref(meta);
    return st;
}

static void copy_str(char *dst, size_t cap, const json_t *o, const char *k)
{
    const char *v = json_str(o, k);
    snprintf(dst, cap, "%s", v ? v : "");
}

enum brock_status respcache_get(struct store *s, const char *key, struct model_result *res,
                                struct respcache_meta *meta, bool *hit, struct brock_err *e)
{
    *hit = false;
    memset(meta, 0, sizeof *meta);
    struct store_cache_entry ce = {0};
    bool found = false;
    enum brock_status st = store_cache_get(s, key, &ce, &found, e);
    if (st != BROCK_OK || !found) {
        store_cache_entry_cleanup(&ce);
        return st;
    }
    json_t *ans = NULL, *m = NULL;
    if (json_parse(ce.answer_json, ce.answer_len, "cache entry", &ans, NULL) != BROCK_OK ||
        !json_is_array(json_object_get(ans, "content")))
        goto done;
    if (ce.meta_json && *ce.meta_json && json_parse(ce.meta_json, strlen(ce.meta_json), "cache meta", &m, NULL) != BROCK_OK)
        m = NULL;
    model_result_cleanup(res);
    model_result_init(res);
    json_decref(res->content);
    res->content = json_incref(json_object_get(ans, "content"));
    copy_str(res->stop_reason, sizeof res->stop_reason, ans, "stop_reason");
    copy_str(res->stop_sequence, sizeof res->stop_sequence, ans, "stop_sequence");
    copy_str(res->model, sizeof res->model, ans, "model");
    copy_str(res->message_id, sizeof res->message_id, ans, "message_id");
    usage_from(json_object_get(ans, "usage"), &meta->usage);
    if (m) {
        copy_str(meta->model_id, sizeof meta->model_id, m, "model_id");
        copy_str(meta->region, sizeof meta->region, m, "region");
        copy_str(meta->request_id, sizeof meta->request_id, m, "request_id");
        json_t *c = json_object_get(m, "cost_usd");
        double d = json_is_number(c) ? json_number_value(c) : 0;
        meta->cost_usd = isfinite(d) && d >= 0 ? d : 0;
        int64_t t;
        if (json_int(m, "created_ms", &t))
            meta->created_ms = t;
    }
    if (!meta->model_id[0] && ce.model)
        snprintf(meta->model_id, sizeof meta->model_id, "%s", ce.model);
    snprintf(res->model_id, sizeof res->model_id, "%s", meta->model_id);
    *hit = true;
done:
    json_decref(ans);
    json_decref(m);
    store_cache_entry_cleanup(&ce);
    return BROCK_OK;
}

void respcache_replay(const struct model_result *res, const struct model_events *ev)
{
    if (!ev)
        return;
    size_t i;
    json_t *b;
    json_array_foreach(res->content, i, b)
    {
        const char *t = json_string_value(json_object_get(b, "type"));
        if (!t)
            continue;
        json_t *txt = NULL;
        if (!strcmp(t, "text") && ev->on_text && json_is_string(txt = json_object_get(b, "text")))
            ev->on_text(ev->ctx, (int)i, json_string_value(txt), json_string_length(txt));
        else if (!strcmp(t, "thinking") && ev->on_thinking && json_is_string(txt = json_object_get(b, "thinking")))
            ev->on_thinking(ev->ctx, (int)i, json_string_value(txt), json_string_length(txt));
        if (ev->on_block_stop)
            ev->on_block_stop(ev->ctx, (int)i);
    }
}
