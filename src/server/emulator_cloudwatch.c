/* emulator_cloudwatch.c - CloudWatch in `brock emulate`: PutMetricData,
 * GetMetricStatistics, GetMetricData (with a small metric-math evaluator),
 * PutMetricAlarm / DescribeAlarms / DeleteAlarms, PutDashboard /
 * GetDashboard / ListDashboards / DeleteDashboards; the metric store EMF
 * events also feed (emulator_logs.c).
 *
 * Two wire forms, one implementation: awsQuery bodies are parsed into the JSON
 * tree awsJson1_0 sends (emu_query_parse), getters accept a JSON number or a
 * numeric string, and struct emu_out writes the answer as JSON or XML. Error
 * codes come in pairs: the awsJson shape name (InvalidParameterValueException)
 * and the awsQuery code (InvalidParameterValue), sent as x-amzn-query-error. */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "../util/timeutil.h"
#include "emulator_aws.h"

#define CW_XMLNS "http://monitoring.amazonaws.com/doc/2010-08-01/"
#define CW_MAX_VALUE 0x1p360 /* values within +-2^360 */
#define CW_MAX_QUERIES 500                   /* GetMetricData */
#define CW_MAX_ALARM_METRICS 10
#define CW_MAX_INFLATED ((size_t)16 << 20) /* a gzip'd PutMetricData, inflated */

/* Parameter paths for messages ("MetricData.member.3.Value"); long ones are
 * cut, which only shortens a message. */
static void pathf(char *out, size_t n, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* awsQuery input                                                       */

static bool query_decode(const char *s, size_t n, struct buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            buf_addc(out, ' ');
        } else if (s[i] == '%') {
            uint8_t byte;
            if (i + 2 >= n || !hex_decode(s + i + 1, 2, &byte))
                return false;
            buf_addc(out, (char)byte);
            i += 2;
        } else {
            buf_addc(out, s[i]);
        }
    }
    return buf_status(out) == BROCK_OK;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Objects whose keys are all "#N" become arrays ordered by N. */
static json_t *query_arrays(json_t *v, int depth, char *why, size_t whyn)
{
    if (!json_is_object(v))
        return v;
    const char *k;
    json_t *c;
    size_t hashes = 0, total = json_object_size(v);
    json_object_foreach(v, k, c)
    {
        if (k[0] == '#')
            hashes++;
    }
    void *tmp;
    json_object_foreach_safe(v, tmp, k, c)
    {
        json_t *nc = query_arrays(json_incref(c), depth + 1, why, whyn); /* consumes the extra reference */
        if (!nc) {
            json_decref(v);
            return NULL;
        }
        json_object_set_new(v, k, nc);
    }
    if (!hashes)
        return v;
    if (hashes != total) {
        snprintf(why, whyn, "a list parameter also has named members");
        json_decref(v);
        return NULL;
    }
    size_t *idx = xcalloc(total, sizeof *idx);
    json_t **vals = xcalloc(total, sizeof *vals);
    size_t n = 0;
    json_object_foreach(v, k, c)
    {
        idx[n] = (size_t)strtoul(k + 1, NULL, 10);
        vals[n++] = c;
    }
    /* insertion sort: lists are short */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
            size_t ti = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = ti;
            json_t *tv = vals[j];
            vals[j] = vals[j - 1];
            vals[j - 1] = tv;
        }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(arr, vals[i]);
    free(idx);
    free(vals);
    json_decref(v);
    return arr;
}

json_t *emu_query_parse(const char *body, size_t n, char *why, size_t whyn)
{
    json_t *root = json_object();
    struct buf key = BUF_INIT(8192), val = BUF_INIT(BUF_MAX_BODY);
    size_t params = 0, i = 0;
    bool ok = true;
    while (ok && i < n) {
        size_t j = i;
        while (j < n && body[j] != '&')
            j++;
        if (j > i) {
            if (++params > EMU_QUERY_MAX_PARAMS) {
                snprintf(why, whyn, "more than %d parameters", EMU_QUERY_MAX_PARAMS);
                ok = false;
                break;
            }
            const char *eq = memchr(body + i, '=', j - i);
            size_t kl = eq ? (size_t)(eq - (body + i)) : j - i;
            if (!query_decode(body + i, kl, &key) ||
                !query_decode(eq ? eq + 1 : body + j, eq ? (size_t)(body + j - eq - 1) : 0, &val)) {
                snprintf(why, whyn, "malformed percent-encoding in parameter %zu", params);
                ok = false;
                break;
            }
            if (!key.len || memchr(buf_cstr(&key), '\0', key.len) || memchr(buf_cstr(&val), '\0', val.len) ||
                emu_utf8_len(buf_cstr(&val), val.len) < 0 || emu_utf8_len(buf_cstr(&key), key.len) < 0) {
                snprintf(why, whyn, "parameter %zu is empty or not UTF-8 text", params);
                ok = false;
                break;
            }
            /* walk the dotted key */
            char *k = key.ptr;
            json_t *cur = root;
            int depth = 0;
            while (ok) {
                char *dot = strchr(k, '.');
                char seg[48];
                const char *name = k;
                char *next = dot ? dot + 1 : NULL;
                if (dot)
                    *dot = '\0';
                if (!strcmp(k, "member") && next) {
                    char *dot2 = strchr(next, '.');
                    if (dot2)
                        *dot2 = '\0';
                    if (!all_digits(next) || strlen(next) > 6 || strtoul(next, NULL, 10) < 1 ||
                        strtoul(next, NULL, 10) > EMU_QUERY_MAX_INDEX) {
                        snprintf(why, whyn, "bad list index \"%.20s\"", next);
                        ok = false;
                        break;
                    }
                    snprintf(seg, sizeof seg, "#%lu", strtoul(next, NULL, 10));
                    name = seg;
                    next = dot2 ? dot2 + 1 : NULL;
                }
                if (!*name || ++depth > EMU_QUERY_MAX_DEPTH) {
                    snprintf(why, whyn, "malformed parameter name");
                    ok = false;
                    break;
                }
                json_t *child = json_object_get(cur, name);
                if (!next) {
                    if (child && !json_is_string(child)) {
                        snprintf(why, whyn, "parameter %.100s conflicts with another", name);
                        ok = false;
                        break;
                    }
                    json_object_set_new(cur, name, json_stringn(buf_cstr(&val), val.len));
                    break;
                }
                if (!child) {
                    child = json_object();
                    json_object_set_new(cur, name, child);
                } else if (!json_is_object(child)) {
                    snprintf(why, whyn, "parameter %.100s conflicts with another", name);
                    ok = false;
                    break;
                }
                cur = child;
                k = next;
            }
        }
        i = j + 1;
    }
    buf_free(&key);
    buf_free(&val);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return query_arrays(root, 0, why, whyn);
}

/* ------------------------------------------------------------------ */
/* JSON-or-XML output                                                   */

void emu_xml_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_addstr(b, "&lt;"); break;
        case '>': buf_addstr(b, "&gt;"); break;
        case '&': buf_addstr(b, "&amp;"); break;
        case '"': buf_addstr(b, "&quot;"); break;
        case '\'': buf_addstr(b, "&apos;"); break;
        case '\r': buf_addstr(b, "&#xD;"); break;
        default: buf_addc(b, *s); break;
        }
    }
}

static void json_quote(struct buf *b, const char *s)
{
    json_t *v = json_string(s);
    char *d = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    buf_addstr(b, d ? d : "\"\"");
    free(d);
    json_decref(v);
}

static const char *tag_of(const struct emu_out *o, const char *name)
{
    return o->list[o->depth] ? "member" : name;
}

static void out_open(struct emu_out *o, const char *name)
{
    if (o->xml) {
        buf_addf(o->b, "<%s>", tag_of(o, name));
        return;
    }
    if (!o->first[o->depth])
        buf_addc(o->b, ',');
    o->first[o->depth] = false;
    if (!o->list[o->depth]) {
        json_quote(o->b, name);
        buf_addc(o->b, ':');
    }
}

static void out_shut(struct emu_out *o, const char *name)
{
    if (o->xml)
        buf_addf(o->b, "</%s>", tag_of(o, name));
}

void emu_out_begin(struct emu_out *o, struct buf *b, bool xml, const char *op, const char *xmlns, bool result)
{
    memset(o, 0, sizeof *o);
    o->b = b;
    o->xml = xml;
    o->first[0] = true;
    if (xml) {
        buf_addf(b, "<%sResponse xmlns=\"%s\">", op, xmlns);
        if (result)
            buf_addf(b, "<%sResult>", op);
    } else {
        buf_addc(b, '{');
    }
}

void emu_out_end(struct emu_out *o, const char *op, const char *request_id, bool result)
{
    if (o->xml) {
        if (result)
            buf_addf(o->b, "</%sResult>", op);
        buf_addf(o->b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>\n",
                 request_id ? request_id : "00000000-0000-0000-0000-000000000000", op);
    } else {
        buf_addc(o->b, '}');
    }
}

static void out_push(struct emu_out *o, const char *name, bool list)
{
    out_open(o, name);
    if (!o->xml)
        buf_addc(o->b, list ? '[' : '{');
    if (o->depth + 1 >= EMU_OUT_MAX_DEPTH) {
        o->b->overflow = true; /* a bug in the caller: fail the answer */
        return;
    }
    o->name[o->depth] = o->list[o->depth] ? "member" : name;
    o->depth++;
    o->list[o->depth] = list;
    o->first[o->depth] = true;
}

void emu_out_obj(struct emu_out *o, const char *name)
{
    out_push(o, name, false);
}

void emu_out_list(struct emu_out *o, const char *name)
{
    out_push(o, name, true);
}

void emu_out_close(struct emu_out *o)
{
    if (o->depth <= 0)
        return;
    bool list = o->list[o->depth];
    o->depth--;
    if (o->xml)
        buf_addf(o->b, "</%s>", o->name[o->depth]);
    else
        buf_addc(o->b, list ? ']' : '}');
}

void emu_out_str(struct emu_out *o, const char *name, const char *s)
{
    out_open(o, name);
    if (o->xml)
        emu_xml_escape(o->b, s);
    else
        json_quote(o->b, s);
    out_shut(o, name);
}

void emu_out_num(struct emu_out *o, const char *name, double v)
{
    out_open(o, name);
    if (!isfinite(v))
        v = 0;
    if (v == floor(v) && fabs(v) < 9e15)
        buf_addf(o->b, "%.1f", v);
    else
        buf_addf(o->b, "%.17g", v);
    out_shut(o, name);
}

void emu_out_int(struct emu_out *o, const char *name, int64_t v)
{
    out_open(o, name);
    buf_addf(o->b, "%" PRId64, v);
    out_shut(o, name);
}

void emu_out_bool(struct emu_out *o, const char *name, bool v)
{
    out_open(o, name);
    buf_addstr(o->b, v ? "true" : "false");
    out_shut(o, name);
}

void emu_out_time(struct emu_out *o, const char *name, int64_t ms)
{
    out_open(o, name);
    if (o->xml) {
        char t[21];
        time_fmt_iso8601(ms / 1000, t);
        t[19] = '\0';
        buf_addf(o->b, "%s.%03dZ", t, (int)(ms % 1000));
    } else {
        buf_addf(o->b, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
    }
    out_shut(o, name);
}

void emu_out_json(struct emu_out *o, const char *name, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        emu_out_obj(o, name);
        const char *k;
        const json_t *c;
        json_object_foreach((json_t *)v, k, c)
        emu_out_json(o, k, c);
        emu_out_close(o);
        break;
    }
    case JSON_ARRAY:
        emu_out_list(o, name);
        for (size_t i = 0; i < json_array_size(v); i++)
            emu_out_json(o, NULL, json_array_get(v, i));
        emu_out_close(o);
        break;
    case JSON_STRING: emu_out_str(o, name, json_string_value(v)); break;
    case JSON_INTEGER: emu_out_int(o, name, json_integer_value(v)); break;
    case JSON_REAL: emu_out_num(o, name, json_real_value(v)); break;
    case JSON_TRUE: emu_out_bool(o, name, true); break;
    case JSON_FALSE: emu_out_bool(o, name, false); break;
    case JSON_NULL: break;
    }
}

/* ------------------------------------------------------------------ */
/* units                                                                */

static const char *const k_units[] = {
    "Seconds",          "Microseconds",     "Milliseconds",     "Bytes",           "Kilobytes",
    "Megabytes",        "Gigabytes",        "Terabytes",        "Bits",            "Kilobits",
    "Megabits",         "Gigabits",         "Terabits",         "Percent",         "Count",
    "Bytes/Second",     "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second",      "Kilobits/Second",  "Megabits/Second",  "Gigabits/Second", "Terabits/Second",
    "Count/Second",     "None"};
#define UNIT_NONE 26

int emu_cw_unit_index(const char *unit)
{
    for (size_t i = 0; i < BROCK_ARRAY_LEN(k_units); i++)
        if (!strcmp(unit, k_units[i]))
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* the store                                                            */

struct cw_dp {
    int64_t ts;
    double sum, count, min, max;
    int8_t unit;
    bool hires;
};

struct cw_series {
    char *key; /* ns \x1f name \x1f (dn \x1e dv \x1d)* */
    char *ns, *name;
    size_t nd;
    char **dn, **dv; /* sorted by name */
    struct cw_dp *p;
    size_t n, cap;
    struct cw_series *next; /* hash chain */
};

struct cw_alarm {
    char *name;
    json_t *cfg; /* the MetricAlarm members, normalised */
    json_t *tags;
    int64_t updated_ms, state_ms;
};

struct cw_dash {
    char *name;
    char *body;
    int64_t modified_ms;
};

#define CW_BUCKETS 4096

struct emu_cw {
    struct cw_series **all;
    size_t n, cap;
    struct cw_series *bucket[CW_BUCKETS];
    size_t points;
    struct cw_alarm **alarms; /* sorted by name */
    size_t na, capa;
    struct cw_dash **dash; /* sorted by name */
    size_t nd, capd;
};

struct emu_cw *emu_cw_new(void)
{
    return xcalloc(1, sizeof(struct emu_cw));
}

static void alarm_free(struct cw_alarm *a)
{
    free(a->name);
    json_decref(a->cfg);
    json_decref(a->tags);
    free(a);
}

void emu_cw_free(struct emu_cw *cw)
{
    if (!cw)
        return;
    for (size_t i = 0; i < cw->n; i++) {
        struct cw_series *s = cw->all[i];
        for (size_t k = 0; k < s->nd; k++) {
            free(s->dn[k]);
            free(s->dv[k]);
        }
        free(s->dn);
        free(s->dv);
        free(s->p);
        free(s->key);
        free(s->ns);
        free(s->name);
        free(s);
    }
    free(cw->all);
    for (size_t i = 0; i < cw->na; i++)
        alarm_free(cw->alarms[i]);
    free(cw->alarms);
    for (size_t i = 0; i < cw->nd; i++) {
        free(cw->dash[i]->name);
        free(cw->dash[i]->body);
        free(cw->dash[i]);
    }
    free(cw->dash);
    free(cw);
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The canonical key of (ns, name, dims); dims sorted by name. NULL (and why)
 * for a repeated dimension name. */
static char *series_key(const char *ns, const char *name, const char *const *dn, const char *const *dv, size_t nd,
                        size_t *order, char *why, size_t whyn)
{
    for (size_t i = 0; i < nd; i++)
        order[i] = i;
    for (size_t i = 1; i < nd; i++)
        for (size_t j = i; j > 0 && strcmp(dn[order[j - 1]], dn[order[j]]) > 0; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 1; i < nd; i++)
        if (!strcmp(dn[order[i - 1]], dn[order[i]])) {
            snprintf(why, whyn, "dimension name %.100s appears twice", dn[order[i]]);
            return NULL;
        }
    struct buf b = BUF_INIT((size_t)64 * 1024);
    buf_addf(&b, "%s\x1f%s\x1f", ns, name);
    for (size_t i = 0; i < nd; i++)
        buf_addf(&b, "%s\x1e%s\x1d", dn[order[i]], dv[order[i]]);
    if (buf_status(&b) != BROCK_OK) {
        buf_free(&b);
        snprintf(why, whyn, "metric identity too long");
        return NULL;
    }
    return buf_take(&b);
}

static struct cw_series *series_find(const struct emu_cw *cw, const char *key)
{
    for (struct cw_series *s = cw->bucket[fnv1a(key) % CW_BUCKETS]; s; s = s->next)
        if (!strcmp(s->key, key))
            return s;
    return NULL;
}

bool emu_cw_record(struct emu_cw *cw, const struct emu_cw_point *p, char *why, size_t whyn)
{
    size_t order[CW_MAX_DIMENSIONS];
    if (p->n_dims > CW_MAX_DIMENSIONS) {
        snprintf(why, whyn, "more than %d dimensions", CW_MAX_DIMENSIONS);
        return false;
    }
    char *key = series_key(p->ns, p->name, p->dim_names, p->dim_values, p->n_dims, order, why, whyn);
    if (!key)
        return false;
    struct cw_series *s = series_find(cw, key);
    if (!s) {
        if (cw->n >= EMU_CW_MAX_SERIES) {
            free(key);
            snprintf(why, whyn, "brock emulate keeps at most %d metrics", EMU_CW_MAX_SERIES);
            return false;
        }
        s = xcalloc(1, sizeof *s);
        s->key = key;
        key = NULL;
        s->ns = xstrdup(p->ns);
        s->name = xstrdup(p->name);
        s->nd = p->n_dims;
        s->dn = xcalloc(s->nd + 1, sizeof *s->dn);
        s->dv = xcalloc(s->nd + 1, sizeof *s->dv);
        for (size_t i = 0; i < s->nd; i++) {
            s->dn[i] = xstrdup(p->dim_names[order[i]]);
            s->dv[i] = xstrdup(p->dim_values[order[i]]);
        }
        uint32_t h = fnv1a(s->key) % CW_BUCKETS;
        s->next = cw->bucket[h];
        cw->bucket[h] = s;
        if (cw->n == cw->cap) {
            cw->cap = cw->cap ? 2 * cw->cap : 64;
            cw->all = xrealloc(cw->all, cw->cap * sizeof *cw->all);
        }
        cw->all[cw->n++] = s;
    }
    free(key);
    if (cw->points >= EMU_CW_MAX_POINTS) {
        snprintf(why, whyn, "brock emulate keeps at most %d datapoints", EMU_CW_MAX_POINTS);
        return false;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->p = xrealloc(s->p, s->cap * sizeof *s->p);
    }
    int u = p->unit ? emu_cw_unit_index(p->unit) : -1;
    s->p[s->n++] = (struct cw_dp){.ts = p->ts_ms,
                                  .sum = p->sum,
                                  .count = p->count,
                                  .min = p->min,
                                  .max = p->max,
                                  .unit = (int8_t)(u < 0 ? UNIT_NONE : u),
                                  .hires = p->high_resolution};
    cw->points++;
    return true;
}

/* ------------------------------------------------------------------ */
/* input getters: JSON values, or strings from a query                  */

struct cwin {
    bool query;
    const struct emu_aws_req *rq;
    struct emu_aws_resp *rs;
};

static bool cw_invalid(struct emu_aws_resp *rs, const char *fmt, ...) BROCK_PRINTF(2, 3);
static bool cw_invalid(struct emu_aws_resp *rs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char m[1024];
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return emu_aws_fail(rs, 400, "InvalidParameterValueException", "InvalidParameterValue", "%s", m);
}

static bool cw_combination(struct emu_aws_resp *rs, const char *fmt, ...) BROCK_PRINTF(2, 3);
static bool cw_combination(struct emu_aws_resp *rs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char m[1024];
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return emu_aws_fail(rs, 400, "InvalidParameterCombinationException", "InvalidParameterCombination", "%s", m);
}

static bool cw_missing(struct emu_aws_resp *rs, const char *param)
{
    return emu_aws_fail(rs, 400, "MissingRequiredParameterException", "MissingParameter",
                        "The parameter %s is required.", param);
}

static const json_t *member(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return v && !json_is_null(v) ? v : NULL;
}

static bool cw_str(struct cwin *in, const json_t *o, const char *key, const char *path, bool required,
                   const char **out)
{
    const json_t *v = member(o, key);
    *out = NULL;
    if (!v)
        return required ? cw_missing(in->rs, path) : true;
    if (!json_is_string(v))
        return cw_invalid(in->rs, "The value for parameter %s must be a string.", path);
    *out = json_string_value(v);
    return true;
}

/* A number: a JSON number, or (query) a numeric string; v may be NULL. */
static bool cw_num_value(struct cwin *in, const json_t *v, const char *path, bool *present, double *out)
{
    *present = false;
    if (!v || json_is_null(v))
        return true;
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (json_is_string(v) && in->query) {
        const char *s = json_string_value(v);
        char *end;
        *out = strtod(s, &end);
        if (!*s || *end)
            return cw_invalid(in->rs, "The value %.100s for parameter %s is invalid.", s, path);
    } else {
        return cw_invalid(in->rs, "The value for parameter %s must be a number.", path);
    }
    if (!isfinite(*out) || fabs(*out) > CW_MAX_VALUE)
        return cw_invalid(in->rs, "The value %.100s for parameter %s is invalid.",
                          json_is_string(v) ? json_string_value(v) : "(number)", path);
    *present = true;
    return true;
}

static bool cw_num(struct cwin *in, const json_t *o, const char *key, const char *path, bool *present, double *out)
{
    return cw_num_value(in, member(o, key), path, present, out);
}

static bool cw_int(struct cwin *in, const json_t *o, const char *key, const char *path, bool *present, int64_t *out)
{
    double d;
    if (!cw_num(in, o, key, path, present, &d))
        return false;
    if (*present) {
        if (d != floor(d) || fabs(d) > 9e15)
            return cw_invalid(in->rs, "The value %.17g for parameter %s is invalid.", d, path);
        *out = (int64_t)d;
    }
    return true;
}

static bool cw_bool(struct cwin *in, const json_t *o, const char *key, const char *path, bool dflt, bool *out)
{
    const json_t *v = member(o, key);
    *out = dflt;
    if (!v)
        return true;
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_string(v) && in->query && !strcmp(json_string_value(v), "true"))
        *out = true;
    else if (json_is_string(v) && in->query && !strcmp(json_string_value(v), "false"))
        *out = false;
    else
        return cw_invalid(in->rs, "The value for parameter %s must be true or false.", path);
    return true;
}

/* awsJson: epoch seconds (a number); awsQuery: ISO 8601 (epoch seconds too). */
static bool cw_time(struct cwin *in, const json_t *o, const char *key, const char *path, bool required,
                    bool *present, int64_t *ms)
{
    const json_t *v = member(o, key);
    *present = false;
    if (!v)
        return required ? cw_missing(in->rs, path) : true;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d) || d < 0 || d > 1e11)
            return cw_invalid(in->rs, "The value for parameter %s is not a valid timestamp.", path);
        *ms = (int64_t)llround(d * 1000.0);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        double d = strtod(s, &end);
        if (*s && !*end && isfinite(d) && d >= 0 && d <= 1e11)
            *ms = (int64_t)llround(d * 1000.0);
        else if (!time_parse_iso8601(s, ms))
            return cw_invalid(in->rs, "The value %.100s for parameter %s is not a valid ISO 8601 timestamp.", s,
                              path);
    } else {
        return cw_invalid(in->rs, "The value for parameter %s is not a valid timestamp.", path);
    }
    *present = true;
    return true;
}

static bool cw_list(struct cwin *in, const json_t *o, const char *key, const char *path, const json_t **out)
{
    const json_t *v = member(o, key);
    *out = NULL;
    if (!v)
        return true;
    if (!json_is_array(v))
        return cw_invalid(in->rs, "The parameter %s must be a list.", path);
    *out = v;
    return true;
}

static bool cw_len(struct cwin *in, const char *s, const char *path, size_t min, size_t max)
{
    long n = emu_utf8_len(s, strlen(s));
    if (n < (long)min || n > (long)max)
        return cw_invalid(in->rs, "The parameter %s must be between %zu and %zu characters long.", path, min, max);
    return true;
}

/* Dimensions list -> names/values (borrowed). */
static bool cw_dims(struct cwin *in, const json_t *o, const char *key, const char *path, const char **dn,
                    const char **dv, size_t *nd)
{
    const json_t *l;
    char p[300];
    *nd = 0;
    if (!cw_list(in, o, key, path, &l))
        return false;
    if (!l)
        return true;
    if (json_array_size(l) > CW_MAX_DIMENSIONS)
        return cw_invalid(in->rs, "The collection %s must not have a size greater than %d.", path, CW_MAX_DIMENSIONS);
    for (size_t i = 0; i < json_array_size(l); i++) {
        const json_t *d = json_array_get(l, i);
        pathf(p, sizeof p, "%s.member.%zu.Name", path, i + 1);
        if (!cw_str(in, d, "Name", p, true, &dn[i]) || !cw_len(in, dn[i], p, 1, 255))
            return false;
        pathf(p, sizeof p, "%s.member.%zu.Value", path, i + 1);
        if (!cw_str(in, d, "Value", p, true, &dv[i]) || !cw_len(in, dv[i], p, 1, 1024))
            return false;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(dn[k], dn[i]))
                return cw_invalid(in->rs, "The dimension name %.100s appears more than once in %s.", dn[i], path);
    }
    *nd = json_array_size(l);
    return true;
}

static bool cw_namespace(struct cwin *in, const char *ns, const char *path, bool reserved_ok)
{
    if (!cw_len(in, ns, path, 1, 255))
        return false;
    if (ns[0] == ':' || (!reserved_ok && !strncmp(ns, "AWS/", 4)))
        return cw_invalid(in->rs, "The value %.255s for parameter %s is invalid.", ns, path);
    return true;
}

static bool cw_unit(struct cwin *in, const json_t *o, const char *path, const char **unit)
{
    if (!cw_str(in, o, "Unit", path, false, unit))
        return false;
    if (*unit && emu_cw_unit_index(*unit) < 0)
        return cw_invalid(in->rs, "The value %.100s for parameter %s is invalid.", *unit, path);
    return true;
}

/* ------------------------------------------------------------------ */
/* PutMetricData                                                        */

static bool put_datum(struct cwin *in, struct emu_cw *cw, const char *ns, const json_t *d, const char *base,
                      bool store)
{
    struct emu_aws_resp *rs = in->rs;
    char p[300];
    const char *name, *unit, *dn[CW_MAX_DIMENSIONS], *dv[CW_MAX_DIMENSIONS];
    size_t nd;
    if (!json_is_object(d))
        return cw_invalid(rs, "The parameter %s must be a structure.", base);
    pathf(p, sizeof p, "%s.MetricName", base);
    if (!cw_str(in, d, "MetricName", p, true, &name) || !cw_len(in, name, p, 1, 255))
        return false;
    pathf(p, sizeof p, "%s.Dimensions", base);
    if (!cw_dims(in, d, "Dimensions", p, dn, dv, &nd))
        return false;
    pathf(p, sizeof p, "%s.Unit", base);
    if (!cw_unit(in, d, p, &unit))
        return false;
    bool has_ts, has_v, has_res;
    int64_t ts = in->rq->now_ms, res = 60;
    double v = 0;
    pathf(p, sizeof p, "%s.Timestamp", base);
    if (!cw_time(in, d, "Timestamp", p, false, &has_ts, &ts))
        return false;
    if (has_ts && ts > in->rq->now_ms + 2 * 3600 * 1000LL)
        return cw_invalid(rs, "The parameter %s must specify a time no more than two hours in the future.", p);
    if (has_ts && ts < in->rq->now_ms - 14 * 86400 * 1000LL)
        return cw_invalid(rs, "The parameter %s must specify a time within the past two weeks.", p);
    pathf(p, sizeof p, "%s.StorageResolution", base);
    if (!cw_int(in, d, "StorageResolution", p, &has_res, &res))
        return false;
    if (has_res && res != 1 && res != 60)
        return cw_invalid(rs, "The value %" PRId64 " for parameter %s is invalid.", res, p);
    pathf(p, sizeof p, "%s.Value", base);
    if (!cw_num(in, d, "Value", p, &has_v, &v))
        return false;
    const json_t *sv = member(d, "StatisticValues"), *vals, *cnts;
    char pv[300], pc[300];
    pathf(pv, sizeof pv, "%s.Values", base);
    pathf(pc, sizeof pc, "%s.Counts", base);
    if (!cw_list(in, d, "Values", pv, &vals) || !cw_list(in, d, "Counts", pc, &cnts))
        return false;
    int forms = has_v + (sv != NULL) + (vals != NULL);
    if (forms > 1)
        return cw_combination(rs, "The parameters %s.Value, %s.StatisticValues and %s.Values are mutually exclusive "
                                  "and you have specified more than one.",
                              base, base, base);
    if (!forms)
        return cw_combination(rs, "One of the parameters %s.Value, %s.StatisticValues or %s.Values must be specified.",
                              base, base, base);
    if (cnts && !vals)
        return cw_combination(rs, "The parameter %s requires %s.", pc, pv);
    double sum = v, count = 1, mn = v, mx = v;
    if (sv) {
        static const char *const keys[] = {"SampleCount", "Sum", "Minimum", "Maximum"};
        double x[4];
        for (int i = 0; i < 4; i++) {
            bool pr;
            pathf(p, sizeof p, "%s.StatisticValues.%s", base, keys[i]);
            if (!cw_num(in, sv, keys[i], p, &pr, &x[i]))
                return false;
            if (!pr)
                return cw_missing(rs, p);
        }
        if (x[0] <= 0)
            return cw_invalid(rs, "The value %.17g for parameter %s.StatisticValues.SampleCount is invalid.", x[0],
                              base);
        if (x[2] > x[3])
            return cw_invalid(rs, "The parameters %s.StatisticValues.Minimum and Maximum are invalid: the minimum is "
                                  "greater than the maximum.",
                              base);
        count = x[0];
        sum = x[1];
        mn = x[2];
        mx = x[3];
    }
    if (vals) {
        size_t nv = json_array_size(vals);
        if (nv > CW_MAX_VALUES)
            return cw_invalid(rs, "The collection %s must not have a size greater than %d.", pv, CW_MAX_VALUES);
        if (cnts && json_array_size(cnts) != nv)
            return cw_invalid(rs, "The parameters %s and %s must be of the same size.", pv, pc);
        if (!nv)
            return cw_invalid(rs, "The collection %s must not be empty.", pv);
        sum = count = 0;
        mn = INFINITY;
        mx = -INFINITY;
        for (size_t i = 0; i < nv; i++) {
            double x = 0, c = 1;
            bool pr;
            pathf(p, sizeof p, "%s.member.%zu", pv, i + 1);
            if (!cw_num_value(in, json_array_get(vals, i), p, &pr, &x))
                return false;
            if (!pr)
                return cw_missing(rs, p);
            if (cnts) {
                pathf(p, sizeof p, "%s.member.%zu", pc, i + 1);
                if (!cw_num_value(in, json_array_get(cnts, i), p, &pr, &c))
                    return false;
                if (!pr)
                    return cw_missing(rs, p);
                if (c < 0)
                    return cw_invalid(rs, "The value %.17g for parameter %s is invalid.", c, p);
            }
            sum += x * c;
            count += c;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
    }
    if (!store)
        return true;
    struct emu_cw_point pt = {.ns = ns,
                              .name = name,
                              .dim_names = dn,
                              .dim_values = dv,
                              .n_dims = nd,
                              .ts_ms = ts,
                              .sum = sum,
                              .count = count,
                              .min = mn,
                              .max = mx,
                              .unit = unit,
                              .high_resolution = res == 1};
    char why[200];
    if (!emu_cw_record(cw, &pt, why, sizeof why))
        return emu_aws_fail(rs, 400, "LimitExceededException", "LimitExceeded", "%s", why);
    return true;
}

static void op_put_metric_data(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    struct emu_aws_resp *rs = in->rs;
    const char *ns;
    const json_t *data, *entity;
    if (!cw_str(in, o, "Namespace", "Namespace", true, &ns) || !cw_namespace(in, ns, "Namespace", false) ||
        !cw_list(in, o, "MetricData", "MetricData", &data) ||
        !cw_list(in, o, "EntityMetricData", "EntityMetricData", &entity))
        return;
    size_t total = json_array_size(data);
    for (size_t i = 0; i < json_array_size(entity); i++)
        total += json_array_size(member(json_array_get(entity, i), "MetricData"));
    if (!data && !entity) {
        cw_missing(rs, "MetricData");
        return;
    }
    if (total > CW_MAX_METRICS) {
        cw_invalid(rs, "The collection MetricData must not have a size greater than %d.", CW_MAX_METRICS);
        return;
    }
    /* validate all, then store all: a bad datum stores nothing */
    for (int pass = 0; pass < 2; pass++) {
        char base[96];
        for (size_t i = 0; i < json_array_size(data); i++) {
            pathf(base, sizeof base, "MetricData.member.%zu", i + 1);
            if (!put_datum(in, cw, ns, json_array_get(data, i), base, pass == 1))
                return;
        }
        for (size_t e = 0; e < json_array_size(entity); e++) {
            const json_t *l = member(json_array_get(entity, e), "MetricData");
            for (size_t i = 0; i < json_array_size(l); i++) {
                pathf(base, sizeof base, "EntityMetricData.member.%zu.MetricData.member.%zu", e + 1, i + 1);
                if (!put_datum(in, cw, ns, json_array_get(l, i), base, pass == 1))
                    return;
            }
        }
    }
    struct emu_out w;
    emu_out_begin(&w, &rs->body, in->query, "PutMetricData", CW_XMLNS, false);
    emu_out_end(&w, "PutMetricData", in->rq->request_id, false);
}

/* ------------------------------------------------------------------ */
/* reading metrics back                                                 */

static const char *const k_stats[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"};

static int stat_index(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, k_stats[i]))
            return i;
    return -1;
}

/* pNN, pNN.N (0..100) */
static bool is_percentile(const char *s)
{
    if (s[0] != 'p' || !isdigit((unsigned char)s[1]))
        return false;
    char *end;
    double d = strtod(s + 1, &end);
    return !*end && d >= 0 && d <= 100;
}

static bool period_ok(int64_t p, bool alarm)
{
    if (p <= 0)
        return false;
    if (p % 60 == 0)
        return true;
    if (alarm)
        return p == 10 || p == 20 || p == 30;
    return p == 1 || p == 5 || p == 10 || p == 20 || p == 30;
}

struct agg {
    int64_t ts;
    double sum, count, min, max;
    int8_t unit;
};

static double agg_stat(const struct agg *a, int stat)
{
    switch (stat) {
    case 0: return a->count;
    case 1: return a->count > 0 ? a->sum / a->count : 0;
    case 2: return a->sum;
    case 3: return a->min;
    default: return a->max;
    }
}

struct bref {
    int64_t bucket;
    size_t i;
};

static int bref_cmp(const void *a, const void *b)
{
    const struct bref *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Bucket a series' datapoints in [start, end) by period (aligned to start).
 * Returns the buckets that have data, ascending; *n their count. Work and
 * memory follow the datapoints, not the length of the range. unit_filter
 * < 0: any unit. */
static struct agg *aggregate(const struct cw_series *s, int64_t start, int64_t end, int64_t period_s, int unit_filter,
                             size_t *n)
{
    *n = 0;
    if (!s || end <= start || !s->n || period_s <= 0 || period_s > INT64_MAX / 1000)
        return NULL;
    int64_t pms = period_s * 1000;
    struct bref *r = xcalloc(s->n, sizeof *r);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct cw_dp *d = &s->p[i];
        if (d->ts < start || d->ts >= end || (unit_filter >= 0 && d->unit != unit_filter))
            continue;
        r[k].bucket = (d->ts - start) / pms;
        r[k++].i = i;
    }
    if (!k) {
        free(r);
        return NULL;
    }
    qsort(r, k, sizeof *r, bref_cmp);
    struct agg *b = xcalloc(k, sizeof *b);
    size_t nb = 0;
    for (size_t j = 0; j < k; j++) {
        const struct cw_dp *d = &s->p[r[j].i];
        if (!nb || b[nb - 1].ts != start + r[j].bucket * pms) {
            b[nb++] = (struct agg){.ts = start + r[j].bucket * pms, .min = d->min, .max = d->max, .unit = d->unit};
        }
        struct agg *a = &b[nb - 1];
        a->sum += d->sum;
        a->count += d->count;
        a->min = d->min < a->min ? d->min : a->min;
        a->max = d->max > a->max ? d->max : a->max;
    }
    free(r);
    *n = nb;
    return b;
}

static const struct cw_series *series_lookup(const struct emu_cw *cw, const char *ns, const char *name,
                                             const char *const *dn, const char *const *dv, size_t nd)
{
    size_t order[CW_MAX_DIMENSIONS];
    char why[100];
    char *key = series_key(ns, name, dn, dv, nd, order, why, sizeof why);
    if (!key)
        return NULL;
    const struct cw_series *s = series_find(cw, key);
    free(key);
    return s;
}

static void op_get_metric_statistics(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    struct emu_aws_resp *rs = in->rs;
    const char *ns, *name, *unit, *dn[CW_MAX_DIMENSIONS], *dv[CW_MAX_DIMENSIONS];
    size_t nd;
    bool p1, p2, pp;
    int64_t start, end, period;
    const json_t *stats, *ext;
    if (!cw_str(in, o, "Namespace", "Namespace", true, &ns) || !cw_namespace(in, ns, "Namespace", true) ||
        !cw_str(in, o, "MetricName", "MetricName", true, &name) || !cw_len(in, name, "MetricName", 1, 255) ||
        !cw_dims(in, o, "Dimensions", "Dimensions", dn, dv, &nd) ||
        !cw_time(in, o, "StartTime", "StartTime", true, &p1, &start) ||
        !cw_time(in, o, "EndTime", "EndTime", true, &p2, &end) || !cw_int(in, o, "Period", "Period", &pp, &period) ||
        !cw_list(in, o, "Statistics", "Statistics", &stats) ||
        !cw_list(in, o, "ExtendedStatistics", "ExtendedStatistics", &ext) || !cw_unit(in, o, "Unit", &unit))
        return;
    if (!pp) {
        cw_missing(rs, "Period");
        return;
    }
    if (!period_ok(period, false)) {
        cw_invalid(rs, "The parameter Period must be 1, 5, 10, 20, 30, 60, or any multiple of 60.");
        return;
    }
    if (end <= start) {
        cw_invalid(rs, "The parameter StartTime must be less than the parameter EndTime.");
        return;
    }
    if (!stats == !ext) {
        cw_combination(rs, "Exactly one of the parameters Statistics and ExtendedStatistics must be specified.");
        return;
    }
    if (ext) {
        cw_invalid(rs, "brock emulate does not compute ExtendedStatistics (percentiles); use Statistics.");
        return;
    }
    if (json_array_size(stats) < 1 || json_array_size(stats) > 5) {
        cw_invalid(rs, "The collection Statistics must have between 1 and 5 members.");
        return;
    }
    int want[5];
    size_t nw = json_array_size(stats);
    for (size_t i = 0; i < nw; i++) {
        const json_t *s = json_array_get(stats, i);
        want[i] = json_is_string(s) ? stat_index(json_string_value(s)) : -1;
        if (want[i] < 0) {
            cw_invalid(rs, "The value %.40s for parameter Statistics.member.%zu is invalid.",
                       json_is_string(s) ? json_string_value(s) : "?", i + 1);
            return;
        }
    }
    int64_t aligned = period >= 60 ? start - start % 60000 : start - start % 1000;
    int64_t npoints = (end - aligned + period * 1000 - 1) / (period * 1000);
    if (npoints > CW_MAX_DATAPOINTS) {
        cw_combination(rs,
                       "You have requested up to %" PRId64 " datapoints, which exceeds the limit of 1,440. You may "
                       "reduce the datapoints requested by increasing Period, or decreasing the time range.",
                       npoints);
        return;
    }
    const struct cw_series *s = series_lookup(cw, ns, name, dn, dv, nd);
    size_t na = 0;
    struct agg *ag = aggregate(s, aligned, end, period, unit ? emu_cw_unit_index(unit) : -1, &na);
    struct emu_out w;
    emu_out_begin(&w, &rs->body, in->query, "GetMetricStatistics", CW_XMLNS, true);
    emu_out_str(&w, "Label", name);
    emu_out_list(&w, "Datapoints");
    for (size_t i = 0; i < na; i++) {
        emu_out_obj(&w, NULL);
        emu_out_time(&w, "Timestamp", ag[i].ts);
        for (size_t k = 0; k < nw; k++)
            emu_out_num(&w, k_stats[want[k]], agg_stat(&ag[i], want[k]));
        emu_out_str(&w, "Unit", k_units[ag[i].unit]);
        emu_out_close(&w);
    }
    emu_out_close(&w);
    emu_out_end(&w, "GetMetricStatistics", in->rq->request_id, true);
    free(ag);
}

/* ---- metric math ---- */

enum ekind { E_NUM, E_ID, E_NEG, E_BIN, E_FN, E_STR, E_LIST };

struct enode {
    enum ekind kind;
    double num;
    char op[4];
    char *name; /* E_ID, E_FN, E_STR */
    struct enode *a, *b;
    struct enode **args; /* E_FN, E_LIST */
    size_t nargs;
};

static void enode_free(struct enode *e)
{
    if (!e)
        return;
    enode_free(e->a);
    enode_free(e->b);
    for (size_t i = 0; i < e->nargs; i++)
        enode_free(e->args[i]);
    free(e->args);
    free(e->name);
    free(e);
}

struct eparse {
    const char *s, *p;
    char err[200];
    int depth;
};

static void eskip(struct eparse *ep)
{
    while (*ep->p == ' ' || *ep->p == '\t' || *ep->p == '\n')
        ep->p++;
}

static struct enode *enew(enum ekind k)
{
    struct enode *e = xcalloc(1, sizeof *e);
    e->kind = k;
    return e;
}

static struct enode *eparse_expr(struct eparse *ep);

static struct enode *eparse_primary(struct eparse *ep)
{
    eskip(ep);
    if (++ep->depth > 64) {
        snprintf(ep->err, sizeof ep->err, "the expression is nested too deeply");
        return NULL;
    }
    const char *p = ep->p;
    struct enode *e = NULL;
    if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
        char *end;
        e = enew(E_NUM);
        e->num = strtod(p, &end);
        ep->p = end;
    } else if (*p == '"') {
        const char *q = strchr(p + 1, '"');
        if (!q) {
            snprintf(ep->err, sizeof ep->err, "unterminated string at position %d", (int)(p - ep->s) + 1);
            return NULL;
        }
        e = enew(E_STR);
        e->name = xstrndup(p + 1, (size_t)(q - p - 1));
        ep->p = q + 1;
    } else if (*p == '(') {
        ep->p++;
        e = eparse_expr(ep);
        eskip(ep);
        if (e && *ep->p != ')') {
            snprintf(ep->err, sizeof ep->err, "expected ')' at position %d", (int)(ep->p - ep->s) + 1);
            enode_free(e);
            return NULL;
        }
        if (e)
            ep->p++;
    } else if (*p == '[' ) {
        ep->p++;
        e = enew(E_LIST);
        eskip(ep);
        while (*ep->p != ']') {
            struct enode *x = eparse_expr(ep);
            if (!x) {
                enode_free(e);
                return NULL;
            }
            e->args = xrealloc(e->args, (e->nargs + 1) * sizeof *e->args);
            e->args[e->nargs++] = x;
            eskip(ep);
            if (*ep->p == ',')
                ep->p++;
            else if (*ep->p != ']') {
                snprintf(ep->err, sizeof ep->err, "expected ',' or ']' at position %d", (int)(ep->p - ep->s) + 1);
                enode_free(e);
                return NULL;
            }
        }
        ep->p++;
    } else if (isalpha((unsigned char)*p) || *p == '_') {
        const char *q = p;
        while (isalnum((unsigned char)*q) || *q == '_')
            q++;
        const char *r = q;
        while (*r == ' ')
            r++;
        if (*r == '(') {
            e = enew(E_FN);
            e->name = xstrndup(p, (size_t)(q - p));
            ep->p = r + 1;
            eskip(ep);
            while (*ep->p != ')') {
                struct enode *x = eparse_expr(ep);
                if (!x) {
                    enode_free(e);
                    return NULL;
                }
                e->args = xrealloc(e->args, (e->nargs + 1) * sizeof *e->args);
                e->args[e->nargs++] = x;
                eskip(ep);
                if (*ep->p == ',')
                    ep->p++;
                else if (*ep->p != ')') {
                    snprintf(ep->err, sizeof ep->err, "expected ',' or ')' at position %d", (int)(ep->p - ep->s) + 1);
                    enode_free(e);
                    return NULL;
                }
            }
            ep->p++;
        } else {
            e = enew(E_ID);
            e->name = xstrndup(p, (size_t)(q - p));
            ep->p = q;
        }
    } else {
        snprintf(ep->err, sizeof ep->err, "unexpected %s at position %d", *p ? "character" : "end",
                 (int)(p - ep->s) + 1);
        return NULL;
    }
    ep->depth--;
    return e;
}

static struct enode *eparse_unary(struct eparse *ep)
{
    eskip(ep);
    if (*ep->p == '-') {
        ep->p++;
        struct enode *x = eparse_unary(ep);
        if (!x)
            return NULL;
        struct enode *e = enew(E_NEG);
        e->a = x;
        return e;
    }
    struct enode *x = eparse_primary(ep);
    eskip(ep);
    if (x && *ep->p == '^') {
        ep->p++;
        struct enode *y = eparse_unary(ep);
        if (!y) {
            enode_free(x);
            return NULL;
        }
        struct enode *e = enew(E_BIN);
        snprintf(e->op, sizeof e->op, "^");
        e->a = x;
        e->b = y;
        return e;
    }
    return x;
}

/* precedence levels: 0 OR/||, 1 AND/&&, 2 comparisons, 3 + -, 4 * / */
static const char *eop(struct eparse *ep, int level)
{
    static const char *const ops[][6] = {{"||", "OR ", NULL}, {"&&", "AND ", NULL}, {">=", "<=", "==", "!=", ">", "<"},
                                         {"+", "-", NULL},    {"*", "/", NULL}};
    eskip(ep);
    for (int i = 0; i < 6 && ops[level][i]; i++)
        if (!strncmp(ep->p, ops[level][i], strlen(ops[level][i]))) {
            ep->p += strlen(ops[level][i]);
            return ops[level][i];
        }
    return NULL;
}

static struct enode *eparse_level(struct eparse *ep, int level)
{
    if (level > 4)
        return eparse_unary(ep);
    struct enode *x = eparse_level(ep, level + 1);
    if (!x)
        return NULL;
    const char *op;
    while ((op = eop(ep, level))) {
        struct enode *y = eparse_level(ep, level + 1);
        if (!y) {
            enode_free(x);
            return NULL;
        }
        struct enode *e = enew(E_BIN);
        snprintf(e->op, sizeof e->op, "%.3s", op);
        if (e->op[2] == ' ')
            e->op[2] = '\0';
        e->a = x;
        e->b = y;
        x = e;
    }
    return x;
}

static struct enode *eparse_expr(struct eparse *ep)
{
    return eparse_level(ep, 0);
}

static struct enode *eparse_all(const char *s, char *err, size_t errn)
{
    struct eparse ep = {.s = s, .p = s};
    struct enode *e = eparse_expr(&ep);
    eskip(&ep);
    if (e && *ep.p) {
        snprintf(ep.err, sizeof ep.err, "unexpected character at position %d", (int)(ep.p - s) + 1);
        enode_free(e);
        e = NULL;
    }
    if (!e)
        snprintf(err, errn, "%s", ep.err[0] ? ep.err : "syntax error");
    return e;
}

static const char *const k_functions[] = {
    "ABS",    "ANOMALY_DETECTION_BAND", "AVG",      "CEIL",     "DATAPOINT_COUNT", "DAY",     "DIFF",  "DIFF_TIME",
    "EPOCH",  "EXP",                    "FILL",     "FIRST",    "FLOOR",           "HOUR",    "IF",    "INSIGHT_RULE_METRIC",
    "LAST",   "LOG",                    "LOG10",    "MAX",      "METRIC_COUNT",    "METRICS", "MIN",   "MINUTE",
    "MONTH",  "PERIOD",                 "RATE",     "REMOVE_EMPTY", "RUNNING_SUM", "SEARCH",  "SERVICE_QUOTA", "SLICE",
    "SORT",   "SQRT",                   "STDDEV",   "SUM",      "TIME_SERIES",     "YEAR",    "DB_PERF_INSIGHTS", "LAMBDA"};

/* Names an expression refers to must exist; functions must be known. */
static bool echeck(const struct enode *e, const json_t *ids, char *why, size_t whyn)
{
    if (!e)
        return true;
    if (e->kind == E_ID && !json_object_get(ids, e->name)) {
        snprintf(why, whyn, "Unrecognized metric id or keyword '%.60s'", e->name);
        return false;
    }
    if (e->kind == E_FN) {
        bool known = false;
        for (size_t i = 0; i < BROCK_ARRAY_LEN(k_functions) && !known; i++)
            known = !strcmp(e->name, k_functions[i]);
        if (!known) {
            snprintf(why, whyn, "Unrecognized function name '%.60s'", e->name);
            return false;
        }
    }
    for (size_t i = 0; i < e->nargs; i++)
        if (!echeck(e->args[i], ids, why, whyn))
            return false;
    return echeck(e->a, ids, why, whyn) && echeck(e->b, ids, why, whyn);
}

/* A value while evaluating: a scalar or a series on the grid. */
struct evalue {
    bool series;
    double scalar;
    size_t n;
    int64_t *ts;
    double *v;
};

static void ev_free(struct evalue *v)
{
    free(v->ts);
    free(v->v);
    memset(v, 0, sizeof *v);
}

struct ectx {
    const json_t *queries; /* id -> query object */
    json_t *done;          /* id -> [timestamps..., values...] cached results */
    struct emu_cw *cw;
    int64_t start, end;
    char err[300];
    int depth;
};

static bool eval_query(struct ectx *x, const char *id, struct evalue *out);

static double binop(const char *op, double a, double b, bool *ok)
{
    *ok = true;
    switch (op[0]) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/':
        if (b == 0) {
            *ok = false;
            return 0;
        }
        return a / b;
    case '^': return pow(a, b);
    case '>': return op[1] == '=' ? a >= b : a > b;
    case '<': return op[1] == '=' ? a <= b : a < b;
    case '=': return a == b;
    case '!': return a != b;
    case '&':
    case 'A': return a != 0 && b != 0;
    case '|':
    case 'O': return a != 0 || b != 0;
    }
    *ok = false;
    return 0;
}

static bool eval(struct ectx *x, const struct enode *e, struct evalue *out)
{
    memset(out, 0, sizeof *out);
    switch (e->kind) {
    case E_NUM:
        out->scalar = e->num;
        return true;
    case E_ID:
        return eval_query(x, e->name, out);
    case E_NEG:
        if (!eval(x, e->a, out))
            return false;
        out->scalar = -out->scalar;
        for (size_t i = 0; i < out->n; i++)
            out->v[i] = -out->v[i];
        return true;
    case E_BIN: {
        struct evalue a, b;
        if (!eval(x, e->a, &a))
            return false;
        if (!eval(x, e->b, &b)) {
            ev_free(&a);
            return false;
        }
        bool ok;
        if (!a.series && !b.series) {
            out->scalar = binop(e->op, a.scalar, b.scalar, &ok);
            if (!ok)
                out->scalar = NAN;
        } else {
            /* series op scalar, or series op series on common timestamps */
            const struct evalue *s = a.series ? &a : &b;
            out->series = true;
            out->ts = xcalloc(s->n + 1, sizeof *out->ts);
            out->v = xcalloc(s->n + 1, sizeof *out->v);
            size_t j = 0;
            for (size_t i = 0; i < s->n; i++) {
                double av = a.scalar, bv = b.scalar;
                if (a.series)
                    av = a.v[i];
                if (b.series) {
                    if (a.series) {
                        while (j < b.n && b.ts[j] < a.ts[i])
                            j++;
                        if (j >= b.n || b.ts[j] != a.ts[i])
                            continue;
                        bv = b.v[j];
                    } else {
                        bv = b.v[i];
                    }
                }
                double r = binop(e->op, av, bv, &ok);
                if (!ok)
                    continue;
                out->ts[out->n] = s->ts[i];
                out->v[out->n++] = r;
            }
        }
        ev_free(&a);
        ev_free(&b);
        return true;
    }
    case E_FN:
        if ((!strcmp(e->name, "FILL") && e->nargs == 2) || (!strcmp(e->name, "ABS") && e->nargs == 1)) {
            struct evalue a;
            if (!eval(x, e->args[0], &a))
                return false;
            if (!strcmp(e->name, "ABS")) {
                *out = a;
                out->scalar = fabs(out->scalar);
                for (size_t i = 0; i < out->n; i++)
                    out->v[i] = fabs(out->v[i]);
                return true;
            }
            struct evalue f;
            if (!eval(x, e->args[1], &f) || f.series) {
                ev_free(&a);
                ev_free(&f);
                snprintf(x->err, sizeof x->err, "FILL: brock emulate fills with a constant only");
                return false;
            }
            if (!a.series) {
                *out = a;
                return true;
            }
            /* the grid: the series' own period, from its first timestamp */
            int64_t step = a.n >= 2 ? a.ts[1] - a.ts[0] : 60000;
            for (size_t i = 2; i < a.n; i++)
                if (a.ts[i] - a.ts[i - 1] < step)
                    step = a.ts[i] - a.ts[i - 1];
            if (step <= 0)
                step = 60000;
            int64_t first = x->start + ((a.n ? a.ts[0] : x->start) - x->start) % step;
            size_t cap = (size_t)((x->end - first + step - 1) / step) + 1;
            if (cap > 100000)
                cap = 100000;
            out->series = true;
            out->ts = xcalloc(cap, sizeof *out->ts);
            out->v = xcalloc(cap, sizeof *out->v);
            size_t j = 0;
            for (int64_t t = first; t < x->end && out->n < cap; t += step) {
                while (j < a.n && a.ts[j] < t)
                    j++;
                out->ts[out->n] = t;
                out->v[out->n++] = j < a.n && a.ts[j] == t ? a.v[j] : f.scalar;
            }
            ev_free(&a);
            return true;
        }
        snprintf(x->err, sizeof x->err, "brock emulate does not evaluate %.40s()", e->name);
        return false;
    case E_STR:
    case E_LIST:
        snprintf(x->err, sizeof x->err, "brock emulate does not evaluate lists or strings in expressions");
        return false;
    }
    return false;
}

static bool metric_stat_series(struct ectx *x, const json_t *q, struct evalue *out)
{
    const json_t *ms = json_object_get(q, "MetricStat"), *m = json_object_get(ms, "Metric");
    const char *dn[CW_MAX_DIMENSIONS], *dv[CW_MAX_DIMENSIONS];
    const json_t *dims = json_object_get(m, "Dimensions");
    size_t nd = json_array_size(dims);
    for (size_t i = 0; i < nd && i < CW_MAX_DIMENSIONS; i++) {
        dn[i] = json_str(json_array_get(dims, i), "Name");
        dv[i] = json_str(json_array_get(dims, i), "Value");
    }
    const char *unit = json_str(ms, "Unit");
    int64_t period = 60;
    json_int(ms, "Period", &period);
    int stat = stat_index(json_str(ms, "Stat"));
    if (stat < 0) {
        snprintf(x->err, sizeof x->err, "brock emulate computes SampleCount, Average, Sum, Minimum and Maximum only");
        return false;
    }
    const struct cw_series *s =
        series_lookup(x->cw, json_str(m, "Namespace"), json_str(m, "MetricName"), dn, dv, nd);
    size_t na;
    struct agg *ag = aggregate(s, x->start, x->end, period, unit ? emu_cw_unit_index(unit) : -1, &na);
    out->series = true;
    out->n = na;
    out->ts = xcalloc(na + 1, sizeof *out->ts);
    out->v = xcalloc(na + 1, sizeof *out->v);
    for (size_t i = 0; i < na; i++) {
        out->ts[i] = ag[i].ts;
        out->v[i] = agg_stat(&ag[i], stat);
    }
    free(ag);
    return true;
}

static bool eval_query(struct ectx *x, const char *id, struct evalue *out)
{
    memset(out, 0, sizeof *out);
    const json_t *cached = json_object_get(x->done, id);
    if (cached) {
        const json_t *t = json_array_get(cached, 0), *v = json_array_get(cached, 1);
        out->series = true;
        out->n = json_array_size(t);
        out->ts = xcalloc(out->n + 1, sizeof *out->ts);
        out->v = xcalloc(out->n + 1, sizeof *out->v);
        for (size_t i = 0; i < out->n; i++) {
            out->ts[i] = json_integer_value(json_array_get(t, i));
            out->v[i] = json_real_value(json_array_get(v, i));
        }
        return true;
    }
    const json_t *q = json_object_get(x->queries, id);
    if (!q || ++x->depth > 32) {
        snprintf(x->err, sizeof x->err, "expression refers to itself or an unknown id '%.60s'", id);
        return false;
    }
    bool ok;
    if (json_object_get(q, "MetricStat")) {
        ok = metric_stat_series(x, q, out);
    } else {
        char why[200];
        struct enode *e = eparse_all(json_str(q, "Expression"), why, sizeof why);
        if (!e) {
            snprintf(x->err, sizeof x->err, "%s", why);
            return false;
        }
        ok = eval(x, e, out);
        enode_free(e);
    }
    x->depth--;
    if (ok && out->series) {
        json_t *t = json_array(), *v = json_array();
        for (size_t i = 0; i < out->n; i++) {
            json_array_append_new(t, json_integer(out->ts[i]));
            json_array_append_new(v, json_real(out->v[i]));
        }
        json_object_set_new(x->done, id, json_pack("[o,o]", t, v));
    }
    return ok;
}

/* Validate a MetricDataQuery list (GetMetricData, or an alarm's Metrics) into
 * normalised objects; fills ids (id -> query). */
static bool check_queries(struct cwin *in, const json_t *list, const char *path, bool alarm, json_t *norm,
                          json_t *ids)
{
    char p[300];
    size_t n = json_array_size(list);
    size_t returning = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *q = json_array_get(list, i);
        char base[160];
        pathf(base, sizeof base, "%s.member.%zu", path, i + 1);
        const char *id, *expr, *label, *account;
        bool rd, has_period;
        int64_t qperiod = 0;
        pathf(p, sizeof p, "%s.Id", base);
        if (!json_is_object(q))
            return cw_invalid(in->rs, "The parameter %s must be a structure.", base);
        if (!cw_str(in, q, "Id", p, true, &id) || !cw_len(in, id, p, 1, 255))
            return false;
        if (!islower((unsigned char)id[0]))
            return cw_invalid(in->rs, "The value %.255s for parameter %s is invalid: an Id starts with a lowercase "
                                      "letter.",
                              id, p);
        for (const char *c = id; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_')
                return cw_invalid(in->rs, "The value %.255s for parameter %s is invalid: an Id is letters, digits and "
                                          "underscores.",
                                  id, p);
        if (json_object_get(ids, id))
            return cw_invalid(in->rs, "The value %.255s for parameter %s is not unique.", id, p);
        pathf(p, sizeof p, "%s.Expression", base);
        if (!cw_str(in, q, "Expression", p, false, &expr))
            return false;
        pathf(p, sizeof p, "%s.Label", base);
        if (!cw_str(in, q, "Label", p, false, &label))
            return false;
        pathf(p, sizeof p, "%s.AccountId", base);
        if (!cw_str(in, q, "AccountId", p, false, &account))
            return false;
        pathf(p, sizeof p, "%s.ReturnData", base);
        if (!cw_bool(in, q, "ReturnData", p, true, &rd))
            return false;
        pathf(p, sizeof p, "%s.Period", base);
        if (!cw_int(in, q, "Period", p, &has_period, &qperiod))
            return false;
        if (has_period && !period_ok(qperiod, alarm))
            return cw_invalid(in->rs, "The value %" PRId64 " for parameter %s is invalid.", qperiod, p);
        const json_t *ms = member(q, "MetricStat");
        if (!ms == !expr)
            return cw_combination(in->rs, "Exactly one of %s.MetricStat and %s.Expression must be specified.", base,
                                  base);
        json_t *o = json_pack("{s:s}", "Id", id);
        if (ms) {
            const json_t *m = member(ms, "Metric");
            const char *ns, *name, *stat, *unit, *dn[CW_MAX_DIMENSIONS], *dv[CW_MAX_DIMENSIONS];
            size_t nd;
            bool pp;
            int64_t period;
            char mp[200];
            pathf(mp, sizeof mp, "%s.MetricStat.Metric", base);
            if (!m) {
                json_decref(o);
                return cw_missing(in->rs, mp);
            }
            pathf(p, sizeof p, "%s.Namespace", mp);
            bool ok = cw_str(in, m, "Namespace", p, true, &ns) && cw_namespace(in, ns, p, true);
            pathf(p, sizeof p, "%s.MetricName", mp);
            ok = ok && cw_str(in, m, "MetricName", p, true, &name) && cw_len(in, name, p, 1, 255);
            pathf(p, sizeof p, "%s.Dimensions", mp);
            ok = ok && cw_dims(in, m, "Dimensions", p, dn, dv, &nd);
            pathf(p, sizeof p, "%s.MetricStat.Period", base);
            ok = ok && cw_int(in, ms, "Period", p, &pp, &period);
            if (ok && !pp)
                ok = cw_missing(in->rs, p);
            if (ok && !period_ok(period, alarm))
                ok = cw_invalid(in->rs, "The value %" PRId64 " for parameter %s is invalid.", period, p);
            pathf(p, sizeof p, "%s.MetricStat.Stat", base);
            ok = ok && cw_str(in, ms, "Stat", p, true, &stat);
            if (ok && stat_index(stat) < 0 && !is_percentile(stat))
                ok = cw_invalid(in->rs, "The value %.60s for parameter %s is invalid.", stat, p);
            pathf(p, sizeof p, "%s.MetricStat.Unit", base);
            ok = ok && cw_unit(in, ms, p, &unit);
            if (!ok) {
                json_decref(o);
                return false;
            }
            json_t *dims = json_array();
            for (size_t k = 0; k < nd; k++)
                json_array_append_new(dims, json_pack("{s:s, s:s}", "Name", dn[k], "Value", dv[k]));
            json_t *mo = json_pack("{s:s, s:s, s:o}", "Namespace", ns, "MetricName", name, "Dimensions", dims);
            json_t *mso = json_pack("{s:o, s:I, s:s}", "Metric", mo, "Period", (json_int_t)period, "Stat", stat);
            if (unit)
                json_object_set_new(mso, "Unit", json_string(unit));
            json_object_set_new(o, "MetricStat", mso);
        } else {
            if (!cw_len(in, expr, p, 1, 2048)) {
                json_decref(o);
                return false;
            }
            json_object_set_new(o, "Expression", json_string(expr));
        }
        if (label)
            json_object_set_new(o, "Label", json_string(label));
        json_object_set_new(o, "ReturnData", json_boolean(rd));
        if (has_period)
            json_object_set_new(o, "Period", json_integer(qperiod));
        if (account)
            json_object_set_new(o, "AccountId", json_string(account));
        json_array_append_new(norm, o);
        json_object_set(ids, id, o);
        returning += rd;
    }
    /* expressions: syntax and references */
    for (size_t i = 0; i < json_array_size(norm); i++) {
        const json_t *o = json_array_get(norm, i);
        const char *expr = json_str(o, "Expression");
        if (!expr || !strncasecmp(expr, "SELECT ", 7))
            continue; /* Metrics Insights queries are not checked */
        char why[200];
        struct enode *e = eparse_all(expr, why, sizeof why);
        bool ok = e && echeck(e, ids, why, sizeof why);
        enode_free(e);
        if (!ok)
            return cw_invalid(in->rs, "Error in expression '%s': %s", json_str(o, "Id"), why);
    }
    if (alarm && returning != 1)
        return cw_invalid(in->rs, "Invalid metrics list: exactly one element of the Metrics list must have "
                                  "ReturnData set to true (found %zu).",
                          returning);
    return true;
}

static void op_get_metric_data(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    struct emu_aws_resp *rs = in->rs;
    const json_t *list;
    bool p1, p2, pm;
    int64_t start, end, maxdp = 100800;
    const char *scan;
    if (!cw_list(in, o, "MetricDataQueries", "MetricDataQueries", &list) ||
        !cw_time(in, o, "StartTime", "StartTime", true, &p1, &start) ||
        !cw_time(in, o, "EndTime", "EndTime", true, &p2, &end) ||
        !cw_str(in, o, "ScanBy", "ScanBy", false, &scan) ||
        !cw_int(in, o, "MaxDatapoints", "MaxDatapoints", &pm, &maxdp))
        return;
    if (!list || !json_array_size(list)) {
        cw_missing(rs, "MetricDataQueries");
        return;
    }
    if (json_array_size(list) > CW_MAX_QUERIES) {
        cw_invalid(rs, "The collection MetricDataQueries must not have a size greater than %d.", CW_MAX_QUERIES);
        return;
    }
    if (scan && strcmp(scan, "TimestampDescending") && strcmp(scan, "TimestampAscending")) {
        cw_invalid(rs, "The value %.40s for parameter ScanBy is invalid.", scan);
        return;
    }
    if (end <= start) {
        cw_invalid(rs, "The parameter StartTime must be less than the parameter EndTime.");
        return;
    }
    json_t *norm = json_array(), *ids = json_object();
    if (!check_queries(in, list, "MetricDataQueries", false, norm, ids)) {
        json_decref(norm);
        json_decref(ids);
        return;
    }
    bool asc = scan && !strcmp(scan, "TimestampAscending");
    struct ectx x = {.queries = ids, .done = json_object(), .cw = cw, .start = start, .end = end};
    struct emu_out w;
    emu_out_begin(&w, &rs->body, in->query, "GetMetricData", CW_XMLNS, true);
    emu_out_list(&w, "MetricDataResults");
    for (size_t i = 0; i < json_array_size(norm); i++) {
        const json_t *q = json_array_get(norm, i);
        if (json_is_false(json_object_get(q, "ReturnData")))
            continue;
        const char *id = json_str(q, "Id"), *label = json_str(q, "Label");
        struct evalue v;
        x.err[0] = '\0';
        x.depth = 0;
        bool ok = eval_query(&x, id, &v);
        emu_out_obj(&w, NULL);
        emu_out_str(&w, "Id", id);
        if (!label)
            label = json_object_get(q, "MetricStat")
                        ? json_str(json_object_get(json_object_get(q, "MetricStat"), "Metric"), "MetricName")
                        : id;
        emu_out_str(&w, "Label", label);
        emu_out_list(&w, "Timestamps");
        size_t n = ok && v.series ? v.n : 0;
        for (size_t k = 0; k < n; k++)
            emu_out_time(&w, NULL, v.ts[asc ? k : n - 1 - k]);
        emu_out_close(&w);
        emu_out_list(&w, "Values");
        for (size_t k = 0; k < n; k++)
            emu_out_num(&w, NULL, v.v[asc ? k : n - 1 - k]);
        if (ok && !v.series)
            emu_out_num(&w, NULL, v.scalar);
        emu_out_close(&w);
        emu_out_str(&w, "StatusCode", ok ? "Complete" : "InternalError");
        if (!ok) {
            emu_out_list(&w, "Messages");
            emu_out_obj(&w, NULL);
            emu_out_str(&w, "Code", "InternalError");
            emu_out_str(&w, "Value", x.err);
            emu_out_close(&w);
            emu_out_close(&w);
        }
        emu_out_close(&w);
        ev_free(&v);
    }
    emu_out_close(&w);
    emu_out_list(&w, "Messages");
    emu_out_close(&w);
    emu_out_end(&w, "GetMetricData", in->rq->request_id, true);
    json_decref(x.done);
    json_decref(norm);
    json_decref(ids);
}

/* ------------------------------------------------------------------ */
/* alarms                                                               */

static const char *alarm_name_at(const void *cw, size_t i)
{
    return ((const struct emu_cw *)cw)->alarms[i]->name;
}

static size_t alarm_pos(const struct emu_cw *cw, const char *name, bool *found)
{
    return emu_sorted_pos(cw->na, alarm_name_at, cw, name, found);
}

static bool check_actions(struct cwin *in, const json_t *o, const char *key, json_t *norm)
{
    const json_t *l;
    if (!cw_list(in, o, key, key, &l))
        return false;
    if (json_array_size(l) > 5)
        return cw_invalid(in->rs, "The collection %s must not have a size greater than 5.", key);
    json_t *arr = json_array();
    for (size_t i = 0; i < json_array_size(l); i++) {
        const json_t *a = json_array_get(l, i);
        if (!json_is_string(a) || strncmp(json_string_value(a), "arn:", 4) || json_string_length(a) > 1024) {
            json_decref(arr);
            return cw_invalid(in->rs, "Invalid arn syntax: %.200s", json_is_string(a) ? json_string_value(a) : "?");
        }
        json_array_append(arr, (json_t *)a);
    }
    json_object_set_new(norm, key, arr);
    return true;
}

static const char *const k_comparisons[] = {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                                            "LessThanThreshold",             "LessThanOrEqualToThreshold",
                                            "LessThanLowerOrGreaterThanUpperThreshold",
                                            "LessThanLowerThreshold",        "GreaterThanUpperThreshold"};

static void op_put_metric_alarm(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    struct emu_aws_resp *rs = in->rs;
    const struct emu_aws_req *rq = in->rq;
    if (rq->len > CW_MAX_ALARM_BYTES) {
        cw_invalid(rs, "The request payload of %zu bytes exceeds the PutMetricAlarm maximum of %d bytes.", rq->len,
                   CW_MAX_ALARM_BYTES);
        return;
    }
    const char *name, *desc, *metric, *ns, *stat, *ext, *unit, *cmp, *missing, *thr_id, *elsc;
    bool has_period, has_eval, has_dta, has_thr, enabled;
    int64_t period = 0, evals = 0, dta = 0;
    double thr = 0;
    const json_t *metrics;
    json_t *norm = json_object();
    if (!cw_str(in, o, "AlarmName", "AlarmName", true, &name) || !cw_len(in, name, "AlarmName", 1, 255) ||
        !cw_str(in, o, "AlarmDescription", "AlarmDescription", false, &desc) ||
        (desc && !cw_len(in, desc, "AlarmDescription", 0, 1024)) ||
        !cw_bool(in, o, "ActionsEnabled", "ActionsEnabled", true, &enabled) ||
        !cw_str(in, o, "MetricName", "MetricName", false, &metric) ||
        !cw_str(in, o, "Namespace", "Namespace", false, &ns) || !cw_str(in, o, "Statistic", "Statistic", false, &stat) ||
        !cw_str(in, o, "ExtendedStatistic", "ExtendedStatistic", false, &ext) || !cw_unit(in, o, "Unit", &unit) ||
        !cw_int(in, o, "Period", "Period", &has_period, &period) ||
        !cw_int(in, o, "EvaluationPeriods", "EvaluationPeriods", &has_eval, &evals) ||
        !cw_int(in, o, "DatapointsToAlarm", "DatapointsToAlarm", &has_dta, &dta) ||
        !cw_num(in, o, "Threshold", "Threshold", &has_thr, &thr) ||
        !cw_str(in, o, "ComparisonOperator", "ComparisonOperator", false, &cmp) ||
        !cw_str(in, o, "TreatMissingData", "TreatMissingData", false, &missing) ||
        !cw_str(in, o, "EvaluateLowSampleCountPercentile", "EvaluateLowSampleCountPercentile", false, &elsc) ||
        !cw_str(in, o, "ThresholdMetricId", "ThresholdMetricId", false, &thr_id) ||
        !cw_list(in, o, "Metrics", "Metrics", &metrics) || !check_actions(in, o, "OKActions", norm) ||
        !check_actions(in, o, "AlarmActions", norm) || !check_actions(in, o, "InsufficientDataActions", norm))
        goto out;
    if (!has_eval) {
        cw_missing(rs, "EvaluationPeriods");
        goto out;
    }
    if (evals < 1) {
        cw_invalid(rs, "The value %" PRId64 " for parameter EvaluationPeriods is invalid.", evals);
        goto out;
    }
    if (has_dta && (dta < 1 || dta > evals)) {
        cw_invalid(rs, "DatapointsToAlarm must be between 1 and EvaluationPeriods (%" PRId64 ").", evals);
        goto out;
    }
    if (!cmp) {
        cw_missing(rs, "ComparisonOperator");
        goto out;
    }
    size_t ci = 0;
    while (ci < BROCK_ARRAY_LEN(k_comparisons) && strcmp(cmp, k_comparisons[ci]))
        ci++;
    if (ci == BROCK_ARRAY_LEN(k_comparisons)) {
        cw_invalid(rs, "The value %.100s for parameter ComparisonOperator is invalid.", cmp);
        goto out;
    }
    bool band = ci >= 4;
    if (band && !thr_id) {
        cw_combination(rs, "ComparisonOperator %s requires ThresholdMetricId (an anomaly detection band).", cmp);
        goto out;
    }
    if (!band && thr_id) {
        cw_combination(rs, "ThresholdMetricId is only for anomaly detection alarms (LessThanLowerThreshold, ...).");
        goto out;
    }
    if (!band && !has_thr) {
        cw_missing(rs, "Threshold");
        goto out;
    }
    if (missing && strcmp(missing, "breaching") && strcmp(missing, "notBreaching") && strcmp(missing, "ignore") &&
        strcmp(missing, "missing")) {
        cw_invalid(rs, "The value %.100s for parameter TreatMissingData is invalid.", missing);
        goto out;
    }
    if (elsc && strcmp(elsc, "evaluate") && strcmp(elsc, "ignore")) {
        cw_invalid(rs, "The value %.100s for parameter EvaluateLowSampleCountPercentile is invalid.", elsc);
        goto out;
    }
    const char *dn[CW_MAX_DIMENSIONS], *dv[CW_MAX_DIMENSIONS];
    size_t nd = 0;
    if (metrics) {
        if (metric || ns || stat || ext || has_period || unit || member(o, "Dimensions")) {
            cw_combination(rs, "If you specify Metrics, you cannot specify Namespace, MetricName, Dimensions, "
                               "Period, Unit, Statistic or ExtendedStatistic.");
            goto out;
        }
        if (json_array_size(metrics) < 1 || json_array_size(metrics) > CW_MAX_ALARM_METRICS) {
            cw_invalid(rs, "The collection Metrics must have between 1 and %d members.", CW_MAX_ALARM_METRICS);
            goto out;
        }
        json_t *qs = json_array(), *ids = json_object();
        bool ok = check_queries(in, metrics, "Metrics", true, qs, ids);
        if (ok && thr_id && !json_object_get(ids, thr_id))
            ok = cw_invalid(rs, "ThresholdMetricId %.100s is not the Id of one of the Metrics.", thr_id);
        json_decref(ids);
        if (!ok) {
            json_decref(qs);
            goto out;
        }
        /* the period of the whole alarm: the returned query's */
        json_object_set_new(norm, "Metrics", qs);
    } else {
        if (!metric) {
            cw_missing(rs, "MetricName");
            goto out;
        }
        if (!cw_len(in, metric, "MetricName", 1, 255))
            goto out;
        if (!ns) {
            cw_missing(rs, "Namespace");
            goto out;
        }
        if (!cw_namespace(in, ns, "Namespace", true) || !cw_dims(in, o, "Dimensions", "Dimensions", dn, dv, &nd))
            goto out;
        if (!stat == !ext) {
            cw_combination(rs, "Exactly one of the parameters Statistic and ExtendedStatistic must be specified.");
            goto out;
        }
        if (stat && stat_index(stat) < 0) {
            cw_invalid(rs, "The value %.100s for parameter Statistic is invalid.", stat);
            goto out;
        }
        if (ext && !is_percentile(ext) && strncmp(ext, "tm", 2) && strncmp(ext, "tc", 2) && strncmp(ext, "ts", 2) &&
            strncmp(ext, "wm", 2) && strcmp(ext, "IQM") && strncmp(ext, "PR(", 3) && strncmp(ext, "TM(", 3) &&
            strncmp(ext, "TC(", 3) && strncmp(ext, "TS(", 3) && strncmp(ext, "WM(", 3)) {
            cw_invalid(rs, "The value %.100s for parameter ExtendedStatistic is invalid.", ext);
            goto out;
        }
        if (!has_period) {
            cw_missing(rs, "Period");
            goto out;
        }
        if (!period_ok(period, true)) {
            cw_invalid(rs, "The value %" PRId64 " for parameter Period is invalid: use 10, 20, 30 or a multiple of 60.",
                       period);
            goto out;
        }
    }
    /* the evaluation range: period x periods <= 7 days (1 day under an hour) */
    int64_t eff = period;
    if (metrics)
        for (size_t i = 0; i < json_array_size(json_object_get(norm, "Metrics")); i++) {
            const json_t *q = json_array_get(json_object_get(norm, "Metrics"), i);
            int64_t p2 = 0;
            if (json_int(json_object_get(q, "MetricStat"), "Period", &p2) || json_int(q, "Period", &p2))
                eff = p2 > eff ? p2 : eff;
        }
    if (eff * evals > 604800) {
        cw_invalid(rs, "The evaluation period (Period x EvaluationPeriods = %" PRId64 " seconds) may not exceed 604800 "
                       "seconds (7 days).",
                   eff * evals);
        goto out;
    }
    if (eff && eff < 3600 && eff * evals > 86400) {
        cw_invalid(rs, "For periods under one hour, Period x EvaluationPeriods (%" PRId64 " seconds) may not exceed "
                       "86400 seconds (one day).",
                   eff * evals);
        goto out;
    }
    const json_t *tags;
    if (!cw_list(in, o, "Tags", "Tags", &tags))
        goto out;
    for (size_t i = 0; i < json_array_size(tags); i++) {
        const char *k, *v;
        char p[96];
        pathf(p, sizeof p, "Tags.member.%zu.Key", i + 1);
        if (!cw_str(in, json_array_get(tags, i), "Key", p, true, &k) || !cw_len(in, k, p, 1, 128))
            goto out;
        pathf(p, sizeof p, "Tags.member.%zu.Value", i + 1);
        if (!cw_str(in, json_array_get(tags, i), "Value", p, true, &v) || !cw_len(in, v, p, 0, 256))
            goto out;
    }

    /* the alarm as DescribeAlarms shows it */
    char arn[600];
    snprintf(arn, sizeof arn, "arn:aws:cloudwatch:%s:%s:alarm:%s", rq->region, rq->account, name);
    json_object_set_new(norm, "AlarmName", json_string(name));
    json_object_set_new(norm, "AlarmArn", json_string(arn));
    if (desc)
        json_object_set_new(norm, "AlarmDescription", json_string(desc));
    json_object_set_new(norm, "ActionsEnabled", json_boolean(enabled));
    if (!metrics) {
        json_object_set_new(norm, "MetricName", json_string(metric));
        json_object_set_new(norm, "Namespace", json_string(ns));
        if (stat)
            json_object_set_new(norm, "Statistic", json_string(stat));
        if (ext)
            json_object_set_new(norm, "ExtendedStatistic", json_string(ext));
        json_t *dims = json_array();
        for (size_t k = 0; k < nd; k++)
            json_array_append_new(dims, json_pack("{s:s, s:s}", "Name", dn[k], "Value", dv[k]));
        json_object_set_new(norm, "Dimensions", dims);
        json_object_set_new(norm, "Period", json_integer(period));
        if (unit)
            json_object_set_new(norm, "Unit", json_string(unit));
    }
    json_object_set_new(norm, "EvaluationPeriods", json_integer(evals));
    if (has_dta)
        json_object_set_new(norm, "DatapointsToAlarm", json_integer(dta));
    if (has_thr)
        json_object_set_new(norm, "Threshold", json_real(thr));
    json_object_set_new(norm, "ComparisonOperator", json_string(cmp));
    if (missing)
        json_object_set_new(norm, "TreatMissingData", json_string(missing));
    if (elsc)
        json_object_set_new(norm, "EvaluateLowSampleCountPercentile", json_string(elsc));
    if (thr_id)
        json_object_set_new(norm, "ThresholdMetricId", json_string(thr_id));

    bool found;
    size_t at = alarm_pos(cw, name, &found);
    if (found) {
        struct cw_alarm *a = cw->alarms[at];
        /* an update keeps the state */
        json_object_set(norm, "StateValue", json_object_get(a->cfg, "StateValue"));
        json_object_set(norm, "StateReason", json_object_get(a->cfg, "StateReason"));
        json_decref(a->cfg);
        a->cfg = norm;
        norm = NULL;
        a->updated_ms = rq->now_ms;
        if (tags) {
            json_decref(a->tags);
            a->tags = json_deep_copy(tags);
        }
    } else {
        if (cw->na >= EMU_CW_MAX_ALARMS) {
            emu_aws_fail(rs, 400, "LimitExceededFault", "LimitExceeded",
                         "The maximum number of alarms (%d in brock emulate) has been reached.", EMU_CW_MAX_ALARMS);
            goto out;
        }
        json_object_set_new(norm, "StateValue", json_string("INSUFFICIENT_DATA"));
        json_object_set_new(norm, "StateReason", json_string("Unchecked: Initial alarm creation"));
        struct cw_alarm *a = xcalloc(1, sizeof *a);
        a->name = xstrdup(name);
        a->cfg = norm;
        norm = NULL;
        a->tags = tags ? json_deep_copy(tags) : NULL;
        a->updated_ms = a->state_ms = rq->now_ms;
        if (cw->na == cw->capa) {
            cw->capa = cw->capa ? 2 * cw->capa : 16;
            cw->alarms = xrealloc(cw->alarms, cw->capa * sizeof *cw->alarms);
        }
        memmove(cw->alarms + at + 1, cw->alarms + at, (cw->na - at) * sizeof *cw->alarms);
        cw->alarms[at] = a;
        cw->na++;
    }
    struct emu_out w;
    emu_out_begin(&w, &rs->body, in->query, "PutMetricAlarm", CW_XMLNS, false);
    emu_out_end(&w, "PutMetricAlarm", rq->request_id, false);
out:
    json_decref(norm);
}

static void alarm_out(struct emu_out *w, const struct cw_alarm *a)
{
    /* MetricAlarm's member order (the service model's xmlOrder) */
    static const char *const order[] = {
        "AlarmName", "AlarmArn", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
        "InsufficientDataActions", "StateValue", "StateReason", "MetricName", "Namespace", "Statistic", "Dimensions",
        "Period", "Unit", "EvaluationPeriods", "Threshold", "ComparisonOperator", "ExtendedStatistic",
        "TreatMissingData", "EvaluateLowSampleCountPercentile", "DatapointsToAlarm", "Metrics", "ThresholdMetricId"};
    emu_out_obj(w, NULL);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(order); i++) {
        const json_t *v = json_object_get(a->cfg, order[i]);
        if (v)
            emu_out_json(w, order[i], v);
    }
    emu_out_time(w, "AlarmConfigurationUpdatedTimestamp", a->updated_ms);
    emu_out_time(w, "StateUpdatedTimestamp", a->state_ms);
    emu_out_time(w, "StateTransitionedTimestamp", a->state_ms);
    emu_out_close(w);
}

static bool action_has_prefix(const json_t *cfg, const char *prefix)
{
    static const char *const keys[] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *l = json_object_get(cfg, keys[i]);
        for (size_t k = 0; k < json_array_size(l); k++)
            if (!strncmp(json_string_value(json_array_get(l, k)), prefix, strlen(prefix)))
                return true;
    }
    return false;
}

static void op_describe_alarms(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    struct emu_aws_resp *rs = in->rs;
    const json_t *names, *types;
    const char *prefix, *state, *aprefix, *tok, *children, *parents;
    bool pm;
    int64_t max = 50;
    if (!cw_list(in, o, "AlarmNames", "AlarmNames", &names) ||
        !cw_list(in, o, "AlarmTypes", "AlarmTypes", &types) ||
        !cw_str(in, o, "AlarmNamePrefix", "AlarmNamePrefix", false, &prefix) ||
        !cw_str(in, o, "StateValue", "StateValue", false, &state) ||
        !cw_str(in, o, "ActionPrefix", "ActionPrefix", false, &aprefix) ||
        !cw_str(in, o, "NextToken", "NextToken", false, &tok) ||
        !cw_str(in, o, "ChildrenOfAlarmName", "ChildrenOfAlarmName", false, &children) ||
        !cw_str(in, o, "ParentsOfAlarmName", "ParentsOfAlarmName", false, &parents) ||
        !cw_int(in, o, "MaxRecords", "MaxRecords", &pm, &max))
        return;
    if (pm && (max < 1 || max > 100)) {
        cw_invalid(rs, "The value %" PRId64 " for parameter MaxRecords is invalid.", max);
        return;
    }
    if (json_array_size(names) > 100) {
        cw_invalid(rs, "The collection AlarmNames must not have a size greater than 100.");
        return;
    }
    if (names && prefix) {
        cw_combination(rs, "AlarmNames and AlarmNamePrefix cannot be used together.");
        return;
    }
    if (state && strcmp(state, "OK") && strcmp(state, "ALARM") && strcmp(state, "INSUFFICIENT_DATA")) {
        cw_invalid(rs, "The value %.60s for parameter StateValue is invalid.", state);
        return;
    }
    bool want_metric = !types, want_composite = !types;
    for (size_t i = 0; i < json_array_size(types); i++) {
        const char *t = json_string_value(json_array_get(types, i));
        if (t && !strcmp(t, "MetricAlarm"))
            want_metric = true;
        else if (t && !strcmp(t, "CompositeAlarm"))
            want_composite = true;
        else {
            cw_invalid(rs, "The value %.60s for parameter AlarmTypes.member.%zu is invalid.", t ? t : "?", i + 1);
            return;
        }
    }
    (void)want_composite;
    size_t start = 0;
    if (tok) {
        char *end = NULL;
        if (tok[0] != 'a' || !isdigit((unsigned char)tok[1]) || (start = (size_t)strtoul(tok + 1, &end, 10), *end)) {
            emu_aws_fail(rs, 400, "InvalidNextToken", "InvalidNextToken", "The service returned an invalid NextToken.");
            return;
        }
    }
    struct emu_out w;
    emu_out_begin(&w, &rs->body, in->query, "DescribeAlarms", CW_XMLNS, true);
    emu_out_list(&w, "MetricAlarms");
    size_t shown = 0, i = start;
    for (; want_metric && i < cw->na && shown < (size_t)max; i++) {
        const struct cw_alarm *a = cw->alarms[i];
        if (prefix && strncmp(a->name, prefix, strlen(prefix)))
            continue;
        if (names) {
            bool hit = false;
            for (size_t k = 0; k < json_array_size(names) && !hit; k++)
                hit = json_is_string(json_array_get(names, k)) &&
                      !strcmp(json_string_value(json_array_get(names, k)), a->name);
            if (!hit)
                continue;
        }
        if (state && strcmp(json_str(a->cfg, "StateValue"), state))
            continue;
        if (aprefix && !action_has_prefix(a->cfg, aprefix))
            continue;
        alarm_out(&w, a);
        shown++;
    }
    emu_out_close(&w);
    emu_out_list(&w, "CompositeAlarms");
    emu_out_close(&w);
    if (want_metric && i < cw->na && shown == (size_t)max) {
        char t[32];
        snprintf(t, sizeof t, "a%zu", i);
        emu_out_str(&w, "NextToken", t);
    }
    emu_out_end(&w, "DescribeAlarms", in->rq->request_id, true);
}

static void op_delete_alarms(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    const json_t *names;
    if (!cw_list(in, o, "AlarmNames", "AlarmNames", &names))
        return;
    if (!names) {
        cw_missing(in->rs, "AlarmNames");
        return;
    }
    if (json_array_size(names) > 100) {
        cw_invalid(in->rs, "The collection AlarmNames must not have a size greater than 100.");
        return;
    }
    for (size_t i = 0; i < json_array_size(names); i++) {
        const json_t *n = json_array_get(names, i);
        char p[64];
        pathf(p, sizeof p, "AlarmNames.member.%zu", i + 1);
        if (!json_is_string(n)) {
            cw_invalid(in->rs, "The value for parameter %s must be a string.", p);
            return;
        }
        if (!cw_len(in, json_string_value(n), p, 1, 255))
            return;
    }
    /* names that do not exist are skipped, the others deleted */
    for (size_t i = 0; i < json_array_size(names); i++) {
        bool found;
        size_t at = alarm_pos(cw, json_string_value(json_array_get(names, i)), &found);
        if (!found)
            continue;
        alarm_free(cw->alarms[at]);
        memmove(cw->alarms + at, cw->alarms + at + 1, (cw->na - at - 1) * sizeof *cw->alarms);
        cw->na--;
    }
    struct emu_out w;
    emu_out_begin(&w, &in->rs->body, in->query, "DeleteAlarms", CW_XMLNS, false);
    emu_out_end(&w, "DeleteAlarms", in->rq->request_id, false);
}

/* ------------------------------------------------------------------ */
/* dashboards                                                           */

static void vmsg(json_t *msgs, const char *path, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void vmsg(json_t *msgs, const char *path, const char *fmt, ...)
{
    if (json_array_size(msgs) >= 50)
        return;
    char m[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "DataPath", path, "Message", m));
}

static bool int_in(const json_t *v, int64_t lo, int64_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static void check_metric_rows(const json_t *metrics, const char *base, json_t *msgs)
{
    char p[160];
    for (size_t r = 0; r < json_array_size(metrics); r++) {
        const json_t *row = json_array_get(metrics, r);
        pathf(p, sizeof p, "%s/metrics/%zu", base, r);
        if (!json_is_array(row)) {
            vmsg(msgs, p, "Should be array");
            continue;
        }
        size_t n = json_array_size(row);
        const json_t *last = n ? json_array_get(row, n - 1) : NULL;
        size_t nstr = json_is_object(last) ? n - 1 : n;
        if (n == 1 && json_is_object(last)) {
            if (!json_is_string(json_object_get(last, "expression")))
                vmsg(msgs, p, "Should have required property 'expression'");
            continue;
        }
        if (nstr < 2) {
            vmsg(msgs, p, "Should NOT have fewer than 2 items");
            continue;
        }
        for (size_t k = 0; k < nstr; k++)
            if (!json_is_string(json_array_get(row, k))) {
                pathf(p, sizeof p, "%s/metrics/%zu/%zu", base, r, k);
                vmsg(msgs, p, "Should be string");
            }
        if ((nstr - 2) % 2) {
            vmsg(msgs, p, "Dimension names and values must come in pairs");
        }
        if (r == 0)
            for (size_t k = 0; k < nstr; k++)
                if (json_is_string(json_array_get(row, k)) && !strcmp(json_string_value(json_array_get(row, k)), "."))
                    vmsg(msgs, p, "The first metric cannot repeat values of a previous one with \".\"");
    }
}

/* Validate a dashboard body: the errors go to msgs. */
static void check_dashboard(const char *body, json_t *msgs)
{
    json_error_t je;
    json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        vmsg(msgs, "", "Should be valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return;
    }
    if (!json_is_object(root)) {
        vmsg(msgs, "", "Should be object");
        json_decref(root);
        return;
    }
    const json_t *widgets = json_object_get(root, "widgets");
    if (!widgets) {
        vmsg(msgs, "", "Should have required property 'widgets'");
    } else if (!json_is_array(widgets)) {
        vmsg(msgs, "/widgets", "Should be array");
    } else if (json_array_size(widgets) > 500) {
        vmsg(msgs, "/widgets", "Should NOT have more than 500 items");
    } else {
        static const char *const types[] = {"metric", "text", "log", "alarm", "explorer", "custom"};
        for (size_t i = 0; i < json_array_size(widgets); i++) {
            const json_t *wd = json_array_get(widgets, i);
            char p[96], pp[128];
            pathf(p, sizeof p, "/widgets/%zu", i);
            if (!json_is_object(wd)) {
                vmsg(msgs, p, "Should be object");
                continue;
            }
            const char *type = json_str(wd, "type");
            bool known = false;
            for (size_t t = 0; type && t < BROCK_ARRAY_LEN(types); t++)
                known |= !strcmp(type, types[t]);
            pathf(pp, sizeof pp, "%s/type", p);
            if (!json_object_get(wd, "type"))
                vmsg(msgs, p, "Should have required property 'type'");
            else if (!known)
                vmsg(msgs, pp, "Should be equal to one of the allowed values: metric, text, log, alarm, explorer, "
                               "custom");
            const json_t *x = json_object_get(wd, "x"), *y = json_object_get(wd, "y"),
                         *w = json_object_get(wd, "width"), *h = json_object_get(wd, "height");
            pathf(pp, sizeof pp, "%s/x", p);
            if (x && !int_in(x, 0, 23))
                vmsg(msgs, pp, "Should be an integer from 0 to 23");
            pathf(pp, sizeof pp, "%s/y", p);
            if (y && !int_in(y, 0, 100000))
                vmsg(msgs, pp, "Should be an integer >= 0");
            pathf(pp, sizeof pp, "%s/width", p);
            if (w && !int_in(w, 1, 24))
                vmsg(msgs, pp, "Should be an integer from 1 to 24");
            else if (x && w && int_in(x, 0, 23) && json_integer_value(x) + json_integer_value(w) > 24)
                vmsg(msgs, pp, "x + width should be <= 24");
            pathf(pp, sizeof pp, "%s/height", p);
            if (h && !int_in(h, 1, 1000))
                vmsg(msgs, pp, "Should be an integer from 1 to 1000");
            const json_t *props = json_object_get(wd, "properties");
            pathf(pp, sizeof pp, "%s/properties", p);
            if (!props) {
                vmsg(msgs, p, "Should have required property 'properties'");
                continue;
            }
            if (!json_is_object(props)) {
                vmsg(msgs, pp, "Should be object");
                continue;
            }
            if (!type || !known)
                continue;
            if (!strcmp(type, "metric")) {
                const json_t *m = json_object_get(props, "metrics");
                if (!m && !json_object_get(props, "annotations"))
                    vmsg(msgs, pp, "Should have required property 'metrics'");
                else if (m && !json_is_array(m))
                    vmsg(msgs, pp, "Property 'metrics' should be array");
                else
                    check_metric_rows(m, pp, msgs);
                if (!json_is_string(json_object_get(props, "region")))
                    vmsg(msgs, pp, "Should have required property 'region'");
                const char *view = json_str(props, "view");
                if (json_object_get(props, "view") &&
                    (!view || (strcmp(view, "timeSeries") && strcmp(view, "singleValue") && strcmp(view, "gauge") &&
                               strcmp(view, "bar") && strcmp(view, "pie") && strcmp(view, "table"))))
                    vmsg(msgs, pp, "Property 'view' should be one of timeSeries, singleValue, gauge, bar, pie, table");
                const json_t *period = json_object_get(props, "period");
                if (period && (!json_is_integer(period) || !period_ok(json_integer_value(period), false)))
                    vmsg(msgs, pp, "Property 'period' should be 1, 5, 10, 20, 30 or a multiple of 60");
            } else if (!strcmp(type, "text")) {
                if (!json_is_string(json_object_get(props, "markdown")))
                    vmsg(msgs, pp, "Should have required property 'markdown'");
            } else if (!strcmp(type, "log")) {
                if (!json_is_string(json_object_get(props, "query")))
                    vmsg(msgs, pp, "Should have required property 'query'");
                if (!json_is_string(json_object_get(props, "region")))
                    vmsg(msgs, pp, "Should have required property 'region'");
            } else if (!strcmp(type, "alarm")) {
                if (!json_is_array(json_object_get(props, "alarms")))
                    vmsg(msgs, pp, "Should have required property 'alarms'");
            }
        }
    }
    json_decref(root);
}

static const char *dash_name_at(const void *cw, size_t i)
{
    return ((const struct emu_cw *)cw)->dash[i]->name;
}

static size_t dash_pos(const struct emu_cw *cw, const char *name, bool *found)
{
    return emu_sorted_pos(cw->nd, dash_name_at, cw, name, found);
}

static bool dashboard_name_ok(struct cwin *in, const char *name, const char *path)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= 255;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '_';
    if (!ok)
        return cw_invalid(in->rs, "The value %.255s for parameter %s is invalid: a dashboard name is 1 to 255 of "
                                  "A-Z, a-z, 0-9, \"-\" and \"_\".",
                          name, path);
    return true;
}

static void dash_arn(const struct emu_aws_req *rq, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:cloudwatch::%s:dashboard/%s", rq->account, name);
}

static void op_put_dashboard(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    struct emu_aws_resp *rs = in->rs;
    const char *name, *body;
    if (!cw_str(in, o, "DashboardName", "DashboardName", true, &name) ||
        !dashboard_name_ok(in, name, "DashboardName") || !cw_str(in, o, "DashboardBody", "DashboardBody", true, &body))
        return;
    json_t *msgs = json_array();
    check_dashboard(body, msgs);
    if (json_array_size(msgs)) {
        char *list = json_dump_compact(msgs);
        emu_aws_fail(rs, 400, "DashboardInvalidInputError", "InvalidParameterInput",
                     "The dashboard body is invalid, there are %zu validation errors: %.800s", json_array_size(msgs),
                     list);
        free(list);
        rs->extra = json_pack("{s:o}", "DashboardValidationMessages", msgs);
        return;
    }
    json_decref(msgs);
    bool found;
    size_t at = dash_pos(cw, name, &found);
    if (found) {
        free(cw->dash[at]->body);
        cw->dash[at]->body = xstrdup(body);
        cw->dash[at]->modified_ms = in->rq->now_ms;
    } else {
        if (cw->nd >= EMU_CW_MAX_DASHBOARDS) {
            emu_aws_fail(rs, 400, "LimitExceededFault", "LimitExceeded",
                         "The maximum number of dashboards (%d in brock emulate) has been reached.",
                         EMU_CW_MAX_DASHBOARDS);
            return;
        }
        struct cw_dash *d = xcalloc(1, sizeof *d);
        d->name = xstrdup(name);
        d->body = xstrdup(body);
        d->modified_ms = in->rq->now_ms;
        if (cw->nd == cw->capd) {
            cw->capd = cw->capd ? 2 * cw->capd : 16;
            cw->dash = xrealloc(cw->dash, cw->capd * sizeof *cw->dash);
        }
        memmove(cw->dash + at + 1, cw->dash + at, (cw->nd - at) * sizeof *cw->dash);
        cw->dash[at] = d;
        cw->nd++;
    }
    struct emu_out w;
    emu_out_begin(&w, &rs->body, in->query, "PutDashboard", CW_XMLNS, true);
    emu_out_list(&w, "DashboardValidationMessages");
    emu_out_close(&w);
    emu_out_end(&w, "PutDashboard", in->rq->request_id, true);
}

static bool no_dashboard(struct emu_aws_resp *rs, const char *name)
{
    return emu_aws_fail(rs, 404, "DashboardNotFoundError", "ResourceNotFound", "Dashboard %.255s does not exist",
                        name);
}

static void op_get_dashboard(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    const char *name;
    if (!cw_str(in, o, "DashboardName", "DashboardName", true, &name))
        return;
    bool found;
    size_t at = dash_pos(cw, name, &found);
    if (!found) {
        no_dashboard(in->rs, name);
        return;
    }
    char arn[400];
    dash_arn(in->rq, name, arn, sizeof arn);
    struct emu_out w;
    emu_out_begin(&w, &in->rs->body, in->query, "GetDashboard", CW_XMLNS, true);
    emu_out_str(&w, "DashboardArn", arn);
    emu_out_str(&w, "DashboardBody", cw->dash[at]->body);
    emu_out_str(&w, "DashboardName", name);
    emu_out_end(&w, "GetDashboard", in->rq->request_id, true);
}

static void op_list_dashboards(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    const char *prefix, *tok;
    if (!cw_str(in, o, "DashboardNamePrefix", "DashboardNamePrefix", false, &prefix) ||
        !cw_str(in, o, "NextToken", "NextToken", false, &tok))
        return;
    size_t start = 0;
    if (tok) {
        char *end;
        if (tok[0] != 'd' || !isdigit((unsigned char)tok[1]) || (start = strtoul(tok + 1, &end, 10), *end)) {
            emu_aws_fail(in->rs, 400, "InvalidParameterValueException", "InvalidParameterValue",
                         "The value for parameter NextToken is invalid.");
            return;
        }
    }
    struct emu_out w;
    emu_out_begin(&w, &in->rs->body, in->query, "ListDashboards", CW_XMLNS, true);
    emu_out_list(&w, "DashboardEntries");
    size_t shown = 0, i = start;
    for (; i < cw->nd && shown < 1000; i++) {
        const struct cw_dash *d = cw->dash[i];
        if (prefix && strncmp(d->name, prefix, strlen(prefix)))
            continue;
        char arn[400];
        dash_arn(in->rq, d->name, arn, sizeof arn);
        emu_out_obj(&w, NULL);
        emu_out_str(&w, "DashboardName", d->name);
        emu_out_str(&w, "DashboardArn", arn);
        emu_out_time(&w, "LastModified", d->modified_ms);
        emu_out_int(&w, "Size", (int64_t)strlen(d->body));
        emu_out_close(&w);
        shown++;
    }
    emu_out_close(&w);
    if (i < cw->nd) {
        char t[32];
        snprintf(t, sizeof t, "d%zu", i);
        emu_out_str(&w, "NextToken", t);
    }
    emu_out_end(&w, "ListDashboards", in->rq->request_id, true);
}

static void op_delete_dashboards(struct cwin *in, struct emu_cw *cw, const json_t *o)
{
    const json_t *names;
    if (!cw_list(in, o, "DashboardNames", "DashboardNames", &names))
        return;
    if (!names || !json_array_size(names)) {
        cw_missing(in->rs, "DashboardNames");
        return;
    }
    for (size_t i = 0; i < json_array_size(names); i++) {
        const json_t *n = json_array_get(names, i);
        bool found;
        if (!json_is_string(n)) {
            cw_invalid(in->rs, "The value for parameter DashboardNames.member.%zu must be a string.", i + 1);
            return;
        }
        (void)dash_pos(cw, json_string_value(n), &found);
        if (!found) {
            no_dashboard(in->rs, json_string_value(n));
            return;
        }
    }
    for (size_t i = 0; i < json_array_size(names); i++) {
        bool found;
        size_t at = dash_pos(cw, json_string_value(json_array_get(names, i)), &found);
        if (!found)
            continue; /* named twice */
        free(cw->dash[at]->name);
        free(cw->dash[at]->body);
        free(cw->dash[at]);
        memmove(cw->dash + at, cw->dash + at + 1, (cw->nd - at - 1) * sizeof *cw->dash);
        cw->nd--;
    }
    struct emu_out w;
    emu_out_begin(&w, &in->rs->body, in->query, "DeleteDashboards", CW_XMLNS, true);
    emu_out_end(&w, "DeleteDashboards", in->rq->request_id, true);
}

/* ------------------------------------------------------------------ */
/* dispatch, dump                                                       */

/* Inflate a gzip body into out (at most CW_MAX_INFLATED bytes). The one
 * zlib user outside src/aws: PutMetricData bodies arrive compressed from the
 * AWS SDKs (the operation's requestCompression trait). */
static bool gunzip(const char *p, size_t n, struct buf *out, char *why, size_t whyn)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        snprintf(why, whyn, "cannot start inflating");
        return false;
    }
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    char chunk[16384];
    int zr = Z_OK;
    while (zr == Z_OK) {
        z.next_out = (Bytef *)chunk;
        z.avail_out = sizeof chunk;
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END)
            break;
        if (buf_add(out, chunk, sizeof chunk - z.avail_out) != BROCK_OK) {
            zr = Z_MEM_ERROR;
            break;
        }
        if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
            zr = Z_DATA_ERROR; /* truncated */
            break;
        }
    }
    inflateEnd(&z);
    if (zr == Z_STREAM_END)
        return true;
    snprintf(why, whyn, zr == Z_MEM_ERROR ? "inflates to more than %zu bytes" : "is not valid gzip data",
             CW_MAX_INFLATED);
    return false;
}

void emu_cw_handle(struct emu_aws *a, const struct emu_aws_req *rq_in, struct emu_aws_resp *rs)
{
    struct emu_aws_req copy = *rq_in;
    const struct emu_aws_req *rq = &copy;
    struct cwin in = {.query = rq->wire == EMU_WIRE_QUERY, .rq = rq, .rs = rs};
    rs->ctype = in.query ? "text/xml" : "application/x-amz-json-1.0";
    if (rq->op && !strcmp(rq->op, "PutMetricData") && rq->len > CW_MAX_REQUEST_BYTES) {
        emu_aws_fail(rs, 413, "RequestEntityTooLarge", NULL, "Request size %zu exceeded %d bytes", rq->len,
                     CW_MAX_REQUEST_BYTES);
        return;
    }
    struct buf plain = BUF_INIT(CW_MAX_INFLATED);
    const char *ce = rq->content_encoding;
    if (ce && strcasecmp(ce, "identity")) {
        char why[120];
        if (strcasecmp(ce, "gzip") || !rq->op || strcmp(rq->op, "PutMetricData")) {
            emu_aws_fail(rs, 400, "InvalidParameterValueException", "InvalidParameterValue",
                         "Content-Encoding %.40s is not accepted here (gzip, for PutMetricData only).", ce);
            return;
        }
        if (!gunzip(rq->body, rq->len, &plain, why, sizeof why)) {
            buf_free(&plain);
            emu_aws_fail(rs, 400, "InvalidParameterValueException", "InvalidParameterValue",
                         "The gzip request body %s.", why);
            return;
        }
        copy.body = buf_cstr(&plain);
        copy.len = plain.len;
    }
    json_t *o = NULL;
    if (in.query) {
        char why[200];
        o = emu_query_parse(rq->body, rq->len, why, sizeof why);
        if (!o) {
            buf_free(&plain);
            emu_aws_fail(rs, 400, "InvalidParameterValueException", "MalformedQueryString", "Malformed query: %s", why);
            return;
        }
    } else if (rq->json && json_is_object(rq->json) && !plain.len) {
        o = json_incref((json_t *)rq->json);
    } else if (!rq->len) {
        o = json_object();
    } else {
        struct brock_err e = {0};
        if (json_parse(rq->body, rq->len, "request body", &o, &e) != BROCK_OK || !json_is_object(o)) {
            json_decref(o);
            buf_free(&plain);
            emu_aws_fail(rs, 400, "SerializationException", "SerializationException", "%s",
                         e.msg[0] ? e.msg : "The body must be a JSON object.");
            return;
        }
    }
    const char *op = rq->op ? rq->op : "";
    struct emu_cw *cw = a->cw;
    if (!strcmp(op, "PutMetricData"))
        op_put_metric_data(&in, cw, o);
    else if (!strcmp(op, "GetMetricStatistics"))
        op_get_metric_statistics(&in, cw, o);
    else if (!strcmp(op, "GetMetricData"))
        op_get_metric_data(&in, cw, o);
    else if (!strcmp(op, "PutMetricAlarm"))
        op_put_metric_alarm(&in, cw, o);
    else if (!strcmp(op, "DescribeAlarms"))
        op_describe_alarms(&in, cw, o);
    else if (!strcmp(op, "DeleteAlarms"))
        op_delete_alarms(&in, cw, o);
    else if (!strcmp(op, "PutDashboard"))
        op_put_dashboard(&in, cw, o);
    else if (!strcmp(op, "GetDashboard"))
        op_get_dashboard(&in, cw, o);
    else if (!strcmp(op, "ListDashboards"))
        op_list_dashboards(&in, cw, o);
    else if (!strcmp(op, "DeleteDashboards"))
        op_delete_dashboards(&in, cw, o);
    else if (in.query)
        emu_aws_fail(rs, 400, "InvalidAction", "InvalidAction", "Could not find operation %.80s for version 2010-08-01",
                     op);
    else
        emu_aws_fail(rs, 400, "UnknownOperationException", "UnknownOperation",
                     "brock emulate does not implement CloudWatch operation %.80s.", op);
    json_decref(o);
    buf_free(&plain);
    if (!rs->code && buf_status(&rs->body) != BROCK_OK)
        emu_aws_fail(rs, 500, "InternalServiceFault", "InternalServiceError", "The answer is too large.");
}

json_t *emu_cw_dump(struct emu_cw *cw)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < cw->n; i++) {
        const struct cw_series *s = cw->all[i];
        json_t *dims = json_object();
        for (size_t k = 0; k < s->nd; k++)
            json_object_set_new(dims, s->dn[k], json_string(s->dv[k]));
        json_t *pts = json_array();
        for (size_t k = 0; k < s->n; k++) {
            const struct cw_dp *d = &s->p[k];
            json_t *p = json_pack("{s:I, s:f, s:f, s:f, s:f, s:s}", "timestamp", (json_int_t)d->ts, "sum", d->sum,
                                  "count", d->count, "min", d->min, "max", d->max, "unit", k_units[d->unit]);
            if (d->hires)
                json_object_set_new(p, "storageResolution", json_integer(1));
            json_array_append_new(pts, p);
        }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o}", "namespace", s->ns, "metricName", s->name,
                                             "dimensions", dims, "datapoints", pts));
    }
    json_t *alarms = json_array();
    for (size_t i = 0; i < cw->na; i++)
        json_array_append(alarms, cw->alarms[i]->cfg);
    json_t *dashes = json_array();
    for (size_t i = 0; i < cw->nd; i++)
        json_array_append_new(dashes, json_pack("{s:s, s:I}", "dashboardName", cw->dash[i]->name, "size",
                                                (json_int_t)strlen(cw->dash[i]->body)));
    return json_pack("{s:o, s:o, s:o}", "metrics", arr, "alarms", alarms, "dashboards", dashes);
}
