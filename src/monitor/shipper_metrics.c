/* shipper_metrics.c - metrics "put-metric-data": the metric members of
 * shipped audit events, summarised into PutMetricData calls (CloudWatch's
 * JSON 1.0 protocol, aws-wire-reference 9.3).
 *
 * Datums are grouped by (metric, dimension set, dimension values, minute);
 * each carries Values/Counts (distinct values and how often each occurred,
 * at most SHIPPER_MAX_VALUES, after which a new datum starts). Calls carry
 * at most SHIPPER_MAX_DATUMS datums and stay under a megabyte. */
#include "shipper_int.h"

#include <string.h>

#include "../util/alloc.h"
#include "../util/json.h"
#include "audit.h"

#define DAY_MS ((int64_t)86400000)
#define PMD_OLDEST_MS (14 * DAY_MS - 3600000) /* CloudWatch: 2 weeks back; keep an hour's margin */
#define PMD_NEWEST_MS (2 * 3600000 - 300000)  /* 2 h ahead, less 5 minutes */
#define PMD_BODY_MAX ((size_t)1000 * 1000)    /* the request limit is 1 MB */

struct datum {
    unsigned metric, set;
    char *dims[MONITOR_DIM_COUNT]; /* owned; NULL for a dimension not in the set */
    int64_t minute_s;
    size_t nv;
    double values[SHIPPER_MAX_VALUES], counts[SHIPPER_MAX_VALUES];
};

struct agg {
    struct datum **d;
    size_t n, cap;
    /* key -> index of the newest datum with that key (open addressing) */
    char **keys;
    size_t *slot_idx;
    size_t nslots, used;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void agg_grow(struct agg *a)
{
    size_t n = a->nslots ? a->nslots * 2 : 256;
    char **keys = xcalloc(n, sizeof *keys);
    size_t *idx = xcalloc(n, sizeof *idx);
    for (size_t i = 0; i < a->nslots; i++) {
        if (!a->keys[i])
            continue;
        size_t j = fnv(a->keys[i]) & (n - 1);
        while (keys[j])
            j = (j + 1) & (n - 1);
        keys[j] = a->keys[i];
        idx[j] = a->slot_idx[i];
    }
    free(a->keys);
    free(a->slot_idx);
    a->keys = keys;
    a->slot_idx = idx;
    a->nslots = n;
}

static struct datum *new_datum(struct agg *a, unsigned metric, unsigned set, const char *const dims[], int64_t minute)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->d = xrealloc(a->d, a->cap * sizeof *a->d);
    }
    struct datum *d = xcalloc(1, sizeof *d);
    d->metric = metric;
    d->set = set;
    d->minute_s = minute;
    for (unsigned k = 0; k < MONITOR_DIM_COUNT; k++)
        d->dims[k] = set & (1u << k) ? xstrdup(dims[k]) : NULL;
    a->d[a->n++] = d;
    return d;
}

static void add_value(struct agg *a, unsigned metric, unsigned set, const char *const dims[], int64_t minute, double v)
{
    struct buf key = BUF_INIT(4 * 1024 + 64);
    buf_addf(&key, "%u|%u|%lld", metric, set, (long long)minute);
    for (unsigned k = 0; k < MONITOR_DIM_COUNT; k++)
        if (set & (1u << k))
            buf_addf(&key, "\x1f%s", dims[k]);
    if (a->used * 2 >= a->nslots)
        agg_grow(a);
    size_t j = fnv(buf_cstr(&key)) & (a->nslots - 1);
    while (a->keys[j] && strcmp(a->keys[j], buf_cstr(&key)))
        j = (j + 1) & (a->nslots - 1);
    struct datum *d;
    if (!a->keys[j]) {
        a->keys[j] = buf_take(&key);
        a->used++;
        d = new_datum(a, metric, set, dims, minute);
        a->slot_idx[j] = a->n - 1;
    } else {
        d = a->d[a->slot_idx[j]];
    }
    buf_free(&key);
    for (size_t i = 0; i < d->nv; i++) {
        if (d->values[i] == v) {
            d->counts[i] += 1;
            return;
        }
    }
    if (d->nv == SHIPPER_MAX_VALUES) {
        d = new_datum(a, metric, set, dims, minute);
        a->slot_idx[j] = a->n - 1;
    }
    d->values[d->nv] = v;
    d->counts[d->nv++] = 1;
}

static void agg_free(struct agg *a)
{
    for (size_t i = 0; i < a->n; i++) {
        for (unsigned k = 0; k < MONITOR_DIM_COUNT; k++)
            free(a->d[i]->dims[k]);
        free(a->d[i]);
    }
    for (size_t i = 0; i < a->nslots; i++)
        free(a->keys[i]);
    free(a->d);
    free(a->keys);
    free(a->slot_idx);
}

static void datum_json(struct buf *b, const struct monitor_config *cfg, const struct datum *d)
{
    (void)cfg;
    const struct audit_metric *m = &audit_metrics()[d->metric];
    buf_addf(b, "{\"MetricName\":\"%s\",\"Dimensions\":[", m->name);
    bool first = true;
    for (unsigned k = 0; k < MONITOR_DIM_COUNT; k++) {
        if (!d->dims[k])
            continue;
        buf_addf(b, "%s{\"Name\":\"%s\",\"Value\":", first ? "" : ",", monitor_dim_name((enum monitor_dim)(1u << k)));
        monitor_json_str(b, d->dims[k], strlen(d->dims[k]));
        buf_addc(b, '}');
        first = false;
    }
    buf_addf(b, "],\"Timestamp\":%lld,\"Values\":[", (long long)d->minute_s);
    for (size_t i = 0; i < d->nv; i++) {
        if (i)
            buf_addc(b, ',');
        monitor_json_num(b, d->values[i]);
    }
    buf_addstr(b, "],\"Counts\":[");
    for (size_t i = 0; i < d->nv; i++) {
        if (i)
            buf_addc(b, ',');
        monitor_json_num(b, d->counts[i]);
    }
    buf_addf(b, "],\"Unit\":\"%s\"}", m->unit);
}

static enum brock_status send_pmd(struct aws_client *c, const struct buf *body, int64_t *requests, struct brock_err *e)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st = http_headers_add(&h, "Content-Type", "application/x-amz-json-1.0", e);
    if (st == BROCK_OK)
        st = http_headers_add(&h, "X-Amz-Target", "GraniteServiceVersion20100801.PutMetricData", e);
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = ENDPOINT_SVC_MONITORING,
            .method = "POST",
            .path = "/",
            .headers = &h,
            .body = body->ptr,
            .body_len = body->len,
            .protocol = AWSERR_AWS_JSON,
            .max_body = 64 * 1024,
        };
        struct aws_response r;
        aws_response_init(&r);
        st = aws_client_send(c, &req, &r, e);
        aws_response_free(&r);
        if (st == BROCK_OK)
            (*requests)++;
        else
            err_prefix(e, "CloudWatch PutMetricData");
    }
    http_headers_cleanup(&h);
    return st;
}

enum brock_status shipper_put_metrics(struct aws_client *c, const struct monitor_config *cfg,
                                      const struct shipper_event *ev, size_t n, int64_t now_ms, int64_t *requests,
                                      struct brock_err *e)
{
    *requests = 0;
    struct agg a = {0};
    const struct audit_metric *ms = audit_metrics();
    for (size_t i = 0; i < n; i++) {
        if (ev[i].ts < now_ms - PMD_OLDEST_MS || ev[i].ts > now_ms + PMD_NEWEST_MS)
            continue;
        json_error_t je;
        json_t *doc = json_loadb(ev[i].msg, ev[i].len, 0, &je);
        if (!json_is_object(doc)) {
            json_decref(doc);
            continue; /* not an audit event (or cut): it has no metrics */
        }
        const char *dims[MONITOR_DIM_COUNT];
        for (unsigned k = 0; k < MONITOR_DIM_COUNT; k++) {
            const char *v = json_str(doc, monitor_dim_name((enum monitor_dim)(1u << k)));
            dims[k] = v && *v && strlen(v) <= AUDIT_DIM_VALUE_MAX ? v : "unknown";
        }
        int64_t minute = (ev[i].ts / 60000) * 60;
        for (unsigned m = 0; m < AUDIT_METRIC_COUNT; m++) {
            json_t *v = json_object_get(doc, ms[m].name);
            if (!json_is_number(v))
                continue;
            for (size_t s = 0; s < cfg->n_dim_sets; s++)
                add_value(&a, m, cfg->dim_sets[s], dims, minute, json_number_value(v));
        }
        json_decref(doc);
    }

    enum brock_status st = BROCK_OK;
    struct buf body = BUF_INIT(PMD_BODY_MAX + 64 * 1024);
    struct buf one = BUF_INIT(64 * 1024);
    size_t in_body = 0;
    for (size_t i = 0; i <= a.n && st == BROCK_OK; i++) {
        if (i < a.n) {
            buf_reset(&one);
            datum_json(&one, cfg, a.d[i]);
        }
        bool flush = in_body && (i == a.n || in_body == SHIPPER_MAX_DATUMS || body.len + one.len + 4 > PMD_BODY_MAX);
        if (flush) {
            buf_addstr(&body, "]}");
            st = send_pmd(c, &body, requests, e);
            in_body = 0;
        }
        if (i == a.n || st != BROCK_OK)
            break;
        if (!in_body) {
            buf_reset(&body);
            buf_addstr(&body, "{\"Namespace\":");
            monitor_json_str(&body, cfg->metric_namespace, strlen(cfg->metric_namespace));
            buf_addstr(&body, ",\"MetricData\":[");
        }
        if (in_body)
            buf_addc(&body, ',');
        buf_add(&body, one.ptr, one.len);
        in_body++;
    }
    buf_free(&one);
    buf_free(&body);
    agg_free(&a);
    return st;
}
