/* batch_record.c - Bedrock batch records, the job manifest, shared helpers (batch_int.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/json.h"
#include "../bedrock/pricing.h"
#include "batch_int.h"

void batch_record_id(size_t index, char out[16])
{
    snprintf(out, 16, "REC%08zu", index % 100000000u);
}

bool batch_record_index(const char *id, size_t *index)
{
    if (strncmp(id, "REC", 3) || strlen(id) != 11)
        return false;
    size_t v = 0;
    for (const char *p = id + 3; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    *index = v;
    return true;
}

void batch_out_record_cleanup(struct batch_out_record *r)
{
    if (!r)
        return;
    json_decref(r->output);
    memset(r, 0, sizeof *r);
}

enum brock_status batch_parse_out_record(const char *p, size_t n, const char *what, size_t line,
                                         struct batch_out_record *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return err_set(e, BROCK_ERR_PARSE, "%s:%zu:%d: not valid JSON: %s", what, line, je.column, je.text);
    enum brock_status st = BROCK_OK;
    const char *rid = json_str(v, "recordId");
    json_t *mo = json_object_get(v, "modelOutput"), *er = json_object_get(v, "error");
    if (!json_is_object(v))
        st = err_set(e, BROCK_ERR_PARSE, "%s:%zu: expected a record object", what, line);
    else if (!rid || !*rid || strlen(rid) >= sizeof out->record_id)
        st = err_set(e, BROCK_ERR_PARSE, "%s:%zu: \"recordId\" missing or not a short string", what, line);
    else if (er && !json_is_null(er)) {
        json_t *code = json_object_get(er, "errorCode");
        const char *msg = json_str(er, "errorMessage");
        snprintf(out->record_id, sizeof out->record_id, "%s", rid);
        if (!json_is_object(er))
            st = err_set(e, BROCK_ERR_PARSE, "%s:%zu: \"error\" is not an object", what, line);
        else if (json_is_integer(code) && json_integer_value(code) >= 0 && json_integer_value(code) < 1000)
            out->error_code = (int)json_integer_value(code);
        else if (json_is_string(code))
            out->error_code = atoi(json_string_value(code));
        else
            out->error_code = 0;
        snprintf(out->error_msg, sizeof out->error_msg, "%s", msg ? msg : "the record failed (no message)");
    } else if (!json_is_object(mo)) {
        st = err_set(e, BROCK_ERR_PARSE, "%s:%zu: record %s has neither \"modelOutput\" nor \"error\"", what, line,
                     rid);
    } else {
        snprintf(out->record_id, sizeof out->record_id, "%s", rid);
        out->has_output = true;
        out->output = json_incref(mo);
    }
    json_decref(v);
    if (st != BROCK_OK)
        batch_out_record_cleanup(out);
    return st;
}

/* ---- the manifest ---------------------------------------------------------------- */

void batch_manifest_add(struct batch_manifest *m, size_t line, const char *file, const char *id, const char *error)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->recs = xrealloc(m->recs, m->cap * sizeof *m->recs);
    }
    struct batch_manifest_rec *r = &m->recs[m->n++];
    r->line = line;
    r->file = file ? xstrdup(file) : NULL;
    r->id = id ? xstrdup(id) : NULL;
    r->error = error ? xstrdup(error) : NULL;
}

void batch_manifest_free(struct batch_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->recs[i].file);
        free(m->recs[i].id);
        free(m->recs[i].error);
    }
    free(m->recs);
    free(m->model_id);
    free(m->input_hex);
    memset(m, 0, sizeof *m);
}

static void opt_str(struct buf *b, const char *s)
{
    if (s)
        batch_json_str(b, s, strlen(s));
    else
        buf_add(b, "null", 4);
}

char *batch_manifest_json(const struct batch_manifest *m)
{
    struct buf b = BUF_INIT(BATCH_MANIFEST_MAX);
    buf_addstr(&b, "{\"brock_batch_manifest\":1,\"model\":");
    opt_str(&b, m->model_id);
    buf_add(&b, ",\"input\":", 9);
    opt_str(&b, m->input_hex);
    buf_addf(&b, ",\"format\":\"%s\",\"records\":[", m->format == BATCH_FORMAT_TEXT ? "text" : "json");
    for (size_t i = 0; i < m->n; i++) {
        const struct batch_manifest_rec *r = &m->recs[i];
        buf_addf(&b, "%s{\"line\":%zu,\"file\":", i ? ",\n" : "\n", r->line);
        opt_str(&b, r->file);
        buf_add(&b, ",\"id\":", 6);
        opt_str(&b, r->id);
        buf_add(&b, ",\"error\":", 9);
        opt_str(&b, r->error);
        buf_addc(&b, '}');
    }
    buf_add(&b, "]}\n", 3);
    if (buf_status(&b) != BROCK_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

static const char *nullable_str(const json_t *o, const char *k, bool *ok)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v))
        *ok = false;
    return json_string_value(v);
}

enum brock_status batch_manifest_parse(const char *p, size_t n, const char *what, struct batch_manifest *out,
                                       struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    if (n > BATCH_MANIFEST_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu bytes", what, BATCH_MANIFEST_MAX);
    json_t *v = NULL;
    enum brock_status st = json_parse(p, n, what, &v, e);
    if (st != BROCK_OK)
        return st;
    int64_t ver = 0;
    json_t *recs = json_object_get(v, "records");
    const char *model = json_str(v, "model"), *input = json_str(v, "input"), *fmt = json_str(v, "format");
    if (!json_int(v, "brock_batch_manifest", &ver) || ver != 1 || !json_is_array(recs) || !model || !input ||
        !fmt || (strcmp(fmt, "json") && strcmp(fmt, "text"))) {
        json_decref(v);
        return err_set(e, BROCK_ERR_PARSE, "%s: not a brock batch manifest (version 1)", what);
    }
    if (json_array_size(recs) > BATCH_BEDROCK_MAX_RECORDS) {
        json_decref(v);
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: more than %d records", what, BATCH_BEDROCK_MAX_RECORDS);
    }
    out->model_id = xstrdup(model);
    out->input_hex = xstrdup(input);
    out->format = strcmp(fmt, "text") ? BATCH_FORMAT_JSON : BATCH_FORMAT_TEXT;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        int64_t line = 0;
        bool ok = json_is_object(r) && json_int(r, "line", &line) && line >= 1;
        const char *file = ok ? nullable_str(r, "file", &ok) : NULL;
        const char *id = ok ? nullable_str(r, "id", &ok) : NULL;
        const char *err = ok ? nullable_str(r, "error", &ok) : NULL;
        if (!ok) {
            st = err_set(e, BROCK_ERR_PARSE, "%s: records[%zu] is not {line, file, id, error}", what, i);
            break;
        }
        batch_manifest_add(out, (size_t)line, file, id, err);
    }
    json_decref(v);
    if (st != BROCK_OK)
        batch_manifest_free(out);
    return st;
}

/* ---- helpers ---------------------------------------------------------------------- */

double batch_cost(const struct model_choice *m, const struct model_usage *u, bool batch_price)
{
    if (m && m->model)
        return catalog_cost(m->model, m->geo, u->input_tokens, u->output_tokens, u->cache_read_tokens,
                            u->cache_write_tokens, 0, batch_price);
    /* a model the catalog cannot price: its highest prices, so a budget holds */
    struct pricing_rate r = {.p = catalog_ceiling_prices(), .batch_discount = 0.5};
    return pricing_rate_cost(&r, u, 0, batch_price);
}

char *batch_answer_text(const json_t *content)
{
    struct buf b = BUF_INIT(BUF_MAX_BODY * 2);
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *t = json_str(blk, "type");
        json_t *text = json_object_get(blk, "text");
        if (t && !strcmp(t, "text") && json_is_string(text))
            buf_add(&b, json_string_value(text), json_string_length(text));
    }
    return buf_take(&b);
}
