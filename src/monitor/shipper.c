/* shipper.c - the spool -> PutLogEvents loop (shipper.h). */
#include "shipper_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../aws/awserr.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/timeutil.h"

#define LOGS_TARGET_PREFIX "Logs_20140328."
#define MAX_ENSURED 16 /* streams made sure of in one run */
#define LOCK_POLL_MS 50
#define LOCK_WAIT_DEFAULT_MS 30000

void shipper_stats_add(struct shipper_stats *a, const struct shipper_stats *b)
{
    a->total += b->total;
    a->shipped += b->shipped;
    a->rejected_too_new += b->rejected_too_new;
    a->rejected_too_old += b->rejected_too_old;
    a->rejected_expired += b->rejected_expired;
    a->rejected_invalid += b->rejected_invalid;
    a->truncated += b->truncated;
    a->requests += b->requests;
    a->bytes += b->bytes;
    a->metric_requests += b->metric_requests;
    a->metric_failures += b->metric_failures;
    a->created += b->created;
    if (b->remaining >= 0)
        a->remaining = b->remaining;
    a->busy = b->busy;
    a->deadline_hit = b->deadline_hit;
}

/* ---- the answer ------------------------------------------------------------- */

static int64_t clamp_index(int64_t v, size_t n)
{
    if (v < 0)
        return 0;
    if ((uint64_t)v > n)
        return (int64_t)n;
    return v;
}

enum brock_status shipper_parse_answer(const char *body, size_t len, size_t n, struct shipper_rejected *out,
                                       struct brock_err *e)
{
    *out = (struct shipper_rejected){-1, -1, -1};
    if (len > SHIPPER_ANSWER_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "PutLogEvents answer: over %zu bytes", SHIPPER_ANSWER_MAX);
    json_t *doc = NULL;
    enum brock_status st = json_parse(body ? body : "", len, "PutLogEvents answer", &doc, e);
    if (st != BROCK_OK)
        return st;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return err_set(e, BROCK_ERR_PARSE, "PutLogEvents answer: not a JSON object");
    }
    json_t *info = json_object_get(doc, "rejectedLogEventsInfo");
    if (info && !json_is_null(info)) {
        if (!json_is_object(info)) {
            json_decref(doc);
            return err_set(e, BROCK_ERR_PARSE, "PutLogEvents answer: rejectedLogEventsInfo is not an object");
        }
        static const char *const names[3] = {"tooNewLogEventStartIndex", "tooOldLogEventEndIndex",
                                             "expiredLogEventEndIndex"};
        int64_t *dst[3] = {&out->too_new_start, &out->too_old_end, &out->expired_end};
        for (int i = 0; i < 3; i++) {
            json_t *v = json_object_get(info, names[i]);
            if (!v || json_is_null(v))
                continue;
            int64_t x;
            if (!json_int(info, names[i], &x)) {
                json_decref(doc);
                *out = (struct shipper_rejected){-1, -1, -1};
                return err_set(e, BROCK_ERR_PARSE,
                               "PutLogEvents answer: rejectedLogEventsInfo.%s is not a whole number", names[i]);
            }
            *dst[i] = clamp_index(x, n);
        }
    }
    json_decref(doc);
    return BROCK_OK;
}

int shipper_rejected_kind(const struct shipper_rejected *r, size_t i)
{
    if (r->too_new_start >= 0 && (int64_t)i >= r->too_new_start)
        return 1;
    if (r->too_old_end >= 0 && (int64_t)i < r->too_old_end)
        return 2;
    if (r->expired_end >= 0 && (int64_t)i < r->expired_end)
        return 3;
    return 0;
}

/* ---- one run ------------------------------------------------------------------- */

struct ship {
    const struct shipper_options *o;
    struct shipper_stats *st;
    struct shipper_limits lim;
    struct buf body;
    bool emf;
    char ensured[MAX_ENSURED][MONITOR_LOG_STREAM_MAX + 1];
    size_t n_ensured;
    bool any_accepted;
    int64_t *suspects; /* ids of single events refused as invalid */
    size_t n_suspects, cap_suspects;
    struct brock_err suspect_err;
    char dest[600];
};

static void norm_limits(const struct shipper_limits *in, struct shipper_limits *l)
{
    l->max_events = in->max_events && in->max_events < SHIPPER_MAX_EVENTS ? in->max_events : SHIPPER_MAX_EVENTS;
    l->max_bytes = in->max_bytes && in->max_bytes < SHIPPER_MAX_BATCH_BYTES ? in->max_bytes : SHIPPER_MAX_BATCH_BYTES;
    l->overhead = in->overhead ? in->overhead : SHIPPER_EVENT_OVERHEAD;
    if (l->overhead >= l->max_bytes)
        l->overhead = l->max_bytes - 1;
    l->max_event_bytes = in->max_event_bytes ? in->max_event_bytes : SHIPPER_MAX_EVENT_BYTES;
    if (l->max_event_bytes > l->max_bytes - l->overhead)
        l->max_event_bytes = l->max_bytes - l->overhead;
    l->max_span_ms =
        in->max_span_ms > 0 && in->max_span_ms < SHIPPER_MAX_SPAN_MS ? in->max_span_ms : SHIPPER_MAX_SPAN_MS;
}

static void event_free(struct shipper_event *p)
{
    free(p->owned);
    p->owned = NULL;
}

/* Clean (UTF-8) and cut (per-event limit) one spooled event. */
static void prepare(const struct shipper_limits *lim, struct shipper_event *p, const struct store_spool_event *ev,
                    size_t seq)
{
    *p = (struct shipper_event){.id = ev->id, .ts = ev->ts_ms, .msg = ev->message, .len = ev->len, .seq = seq};
    bool valid = monitor_utf8_valid(ev->message, ev->len);
    size_t clean = valid ? ev->len : monitor_utf8_clean_len(ev->message, ev->len);
    if (valid && clean <= lim->max_event_bytes)
        return;
    struct buf b = BUF_INIT(clean + 64);
    if (valid)
        buf_add(&b, ev->message, ev->len);
    else
        monitor_utf8_clean(&b, ev->message, ev->len);
    if (b.len > lim->max_event_bytes) {
        char mark[64];
        int ml = snprintf(mark, sizeof mark, "[... truncated by brock: %zu bytes]", b.len);
        size_t mlen = (size_t)ml < lim->max_event_bytes ? (size_t)ml : lim->max_event_bytes;
        size_t keep = monitor_utf8_cut(b.ptr, b.len, lim->max_event_bytes - mlen);
        buf_truncate(&b, keep);
        buf_add(&b, mark, mlen);
        p->truncated = true;
    }
    p->len = b.len;
    p->owned = buf_take(&b);
    p->msg = p->owned;
}

static int cmp_event(const void *a, const void *b)
{
    const struct shipper_event *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int64_t utc_day(int64_t ts)
{
    return ts >= 0 ? ts / 86400000 : -((-(ts + 1)) / 86400000) - 1;
}

static enum brock_status logs_call(struct ship *s, const char *op, const char *body, size_t len, bool emf,
                                   struct aws_response *r, struct brock_err *e)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    char target[64];
    snprintf(target, sizeof target, LOGS_TARGET_PREFIX "%s", op);
    enum brock_status st = http_headers_add(&h, "Content-Type", "application/x-amz-json-1.1", e);
    if (st == BROCK_OK)
        st = http_headers_add(&h, "X-Amz-Target", target, e);
    if (st == BROCK_OK && emf)
        st = http_headers_add(&h, "x-amzn-logs-format", "json/emf", e);
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = ENDPOINT_SVC_LOGS,
            .method = "POST",
            .path = "/",
            .headers = &h,
            .body = body,
            .body_len = len,
            .protocol = AWSERR_AWS_JSON,
            .max_body = SHIPPER_ANSWER_MAX,
        };
        st = aws_client_send(s->o->client, &req, r, e);
        if (st != BROCK_OK)
            err_prefix(e, "CloudWatch Logs %s", op);
    }
    http_headers_cleanup(&h);
    return st;
}

static void add_names(struct buf *b, const char *group, const char *stream)
{
    buf_addstr(b, "{\"logGroupName\":");
    monitor_json_str(b, group, strlen(group));
    if (stream) {
        buf_addstr(b, ",\"logStreamName\":");
        monitor_json_str(b, stream, strlen(stream));
    }
}

/* Create (or find) the group and the stream, once per run. */
static enum brock_status ensure_stream(struct ship *s, const char *stream, struct brock_err *e)
{
    for (size_t i = 0; i < s->n_ensured; i++)
        if (!strcmp(s->ensured[i], stream))
            return err_set(e, BROCK_ERR_NOT_FOUND,
                           "CloudWatch Logs: log group %s or stream %s still does not exist after creating it",
                           s->o->cfg->log_group, stream);
    const char *group = s->o->cfg->log_group;
    struct buf b = BUF_INIT(4096);
    struct aws_response r;
    aws_response_init(&r);
    struct brock_err e2 = {0};

    add_names(&b, group, NULL);
    buf_addc(&b, '}');
    enum brock_status st = logs_call(s, "CreateLogGroup", b.ptr, b.len, false, &r, &e2);
    bool created = st == BROCK_OK;
    if (st != BROCK_OK && strcmp(e2.aws_code, "ResourceAlreadyExistsException") != 0) {
        *e = e2;
        goto out;
    }
    if (created) {
        s->st->created++;
        log_info("created log group %s", group);
        if (s->o->cfg->retention_days > 0) {
            buf_reset(&b);
            add_names(&b, group, NULL);
            buf_addf(&b, ",\"retentionInDays\":%d}", s->o->cfg->retention_days);
            if (logs_call(s, "PutRetentionPolicy", b.ptr, b.len, false, &r, &e2) != BROCK_OK)
                log_warn("log group %s: could not set its retention: %s", group, e2.msg);
        }
    }
    buf_reset(&b);
    add_names(&b, group, stream);
    buf_addc(&b, '}');
    st = logs_call(s, "CreateLogStream", b.ptr, b.len, false, &r, &e2);
    if (st == BROCK_OK) {
        s->st->created++;
        log_info("created log stream %s in %s", stream, group);
    } else if (!strcmp(e2.aws_code, "ResourceAlreadyExistsException")) {
        st = BROCK_OK;
    } else {
        *e = e2;
        goto out;
    }
    if (s->n_ensured < MAX_ENSURED)
        snprintf(s->ensured[s->n_ensured++], sizeof s->ensured[0], "%s", stream);
out:
    aws_response_free(&r);
    buf_free(&b);
    return st;
}

static enum brock_status delete_ids(struct ship *s, const int64_t *ids, size_t n, struct brock_err *e)
{
    size_t deleted = 0;
    enum brock_status st = store_spool_delete(s->o->store, ids, n, &deleted, e);
    if (st != BROCK_OK)
        err_prefix(e, "shipped %zu log events but could not delete them from the spool (they will be sent again)", n);
    return st;
}

static void build_body(struct ship *s, const struct shipper_event *p, size_t n, const char *stream)
{
    buf_reset(&s->body);
    add_names(&s->body, s->o->cfg->log_group, stream);
    buf_addstr(&s->body, ",\"logEvents\":[");
    for (size_t i = 0; i < n; i++) {
        buf_addf(&s->body, "%s{\"timestamp\":%lld,\"message\":", i ? "," : "", (long long)p[i].ts);
        monitor_json_str(&s->body, p[i].msg, p[i].len);
        buf_addc(&s->body, '}');
    }
    buf_addstr(&s->body, "]}");
}

static void add_suspect(struct ship *s, int64_t id)
{
    if (s->n_suspects == s->cap_suspects) {
        s->cap_suspects = s->cap_suspects ? 2 * s->cap_suspects : 8;
        s->suspects = xrealloc(s->suspects, s->cap_suspects * sizeof *s->suspects);
    }
    s->suspects[s->n_suspects++] = id;
}

/* PutMetricData for the events CloudWatch Logs accepted. A failure loses
 * those metrics (reported), it never holds the audit log back. */
static void publish_metrics(struct ship *s, const struct shipper_event *p, size_t n, const struct shipper_rejected *rej)
{
    struct shipper_event *ok = xmalloc(n * sizeof *ok);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (shipper_rejected_kind(rej, i) == 0)
            ok[k++] = p[i];
    struct brock_err me = {0};
    int64_t reqs = 0;
    if (k && shipper_put_metrics(s->o->client, s->o->cfg, ok, k, clock_now_ms(s->o->clock), &reqs, &me) != BROCK_OK) {
        s->st->metric_failures++;
        log_warn("metrics of %zu log events were not published: %s", k, me.msg);
    }
    s->st->metric_requests += reqs;
    free(ok);
}

/* Send p[0..n) (one stream, limits kept) and delete what was accepted. */
static enum brock_status ship_range(struct ship *s, struct shipper_event *p, size_t n, const char *stream,
                                    struct brock_err *e)
{
    const struct shipper_options *o = s->o;
    build_body(s, p, n, stream);
    if (buf_status(&s->body) != BROCK_OK)
        return err_set(e, BROCK_ERR_INTERNAL, "shipper: a PutLogEvents body did not fit in memory");
    struct aws_response r;
    aws_response_init(&r);
    enum brock_status st = logs_call(s, "PutLogEvents", s->body.ptr, s->body.len, s->emf, &r, e);
    if (st != BROCK_OK && !strcmp(e->aws_code, "ResourceNotFoundException")) {
        struct brock_err e2 = {0};
        st = ensure_stream(s, stream, &e2);
        if (st == BROCK_OK)
            st = logs_call(s, "PutLogEvents", s->body.ptr, s->body.len, s->emf, &r, e);
        else
            *e = e2;
    }
    bool accepted = st == BROCK_OK;
    if (!accepted && !strcmp(e->aws_code, "DataAlreadyAcceptedException")) {
        accepted = true; /* legacy answer: these events are stored already */
        err_clear(e);
    }
    if (!accepted && !strcmp(e->aws_code, "InvalidParameterException")) {
        aws_response_free(&r);
        if (n == 1) {
            /* decided at the end of the run: dropped only if another event got through */
            add_suspect(s, p[0].id);
            if (s->suspect_err.status == BROCK_OK)
                s->suspect_err = *e;
            err_clear(e);
            return BROCK_OK;
        }
        log_debug("PutLogEvents refused %zu events (%s): splitting to find the ones at fault", n, e->msg);
        err_clear(e);
        size_t half = n / 2;
        st = ship_range(s, p, half, stream, e);
        if (st == BROCK_OK)
            st = ship_range(s, p + half, n - half, stream, e);
        return st;
    }
    if (!accepted) {
        aws_response_free(&r);
        return st;
    }

    struct shipper_rejected rej = {-1, -1, -1};
    struct brock_err pe = {0};
    if (shipper_parse_answer(buf_cstr(&r.http.body), r.http.body.len, n, &rej, &pe) != BROCK_OK)
        log_warn("%s (request id %s); counting all %zu events as accepted", pe.msg, r.request_id, n);
    aws_response_free(&r);

    int64_t *ids = xmalloc(n * sizeof *ids);
    size_t kinds[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        ids[i] = p[i].id;
        int k = shipper_rejected_kind(&rej, i);
        kinds[k]++;
        if (k == 0) {
            s->st->shipped++;
            s->st->bytes += (int64_t)(p[i].len + s->lim.overhead);
            s->st->truncated += p[i].truncated;
        }
    }
    s->st->rejected_too_new += (int64_t)kinds[1];
    s->st->rejected_too_old += (int64_t)kinds[2];
    s->st->rejected_expired += (int64_t)kinds[3];
    if (kinds[0] < n)
        log_warn("CloudWatch Logs rejected %zu of %zu events for %s/%s (%zu too old, %zu too new, %zu older than "
                 "the retention); they are dropped from the spool",
                 n - kinds[0], n, o->cfg->log_group, stream, kinds[2], kinds[1], kinds[3]);
    s->st->requests++;
    s->any_accepted = true;
    snprintf(s->dest, sizeof s->dest, "%s/%s", o->cfg->log_group, stream);
    st = delete_ids(s, ids, n, e);
    free(ids);
    if (st == BROCK_OK && o->cfg->metrics == MONITOR_METRICS_PUT_METRIC_DATA)
        publish_metrics(s, p, n, &rej);
    if (st == BROCK_OK && o->progress)
        o->progress(o->progress_ctx, s->st);
    return st;
}

/* ---- the lock and the state file ------------------------------------------------ */

static enum brock_status take_lock(const struct shipper_options *o, int *fd_out, bool *busy, struct brock_err *e)
{
    *fd_out = -1;
    *busy = false;
    char *path = fs_join(store_dir(o->store), SHIPPER_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        enum brock_status st = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
        free(path);
        return st;
    }
    int64_t until = o->deadline_mono_ms ? o->deadline_mono_ms : time_mono_ms() + LOCK_WAIT_DEFAULT_MS;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            enum brock_status st = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
            close(fd);
            free(path);
            return st;
        }
        if (!o->wait_for_lock || time_mono_ms() >= until || (o->cancel && *o->cancel)) {
            close(fd);
            free(path);
            *busy = true;
            return BROCK_OK;
        }
        usleep(LOCK_POLL_MS * 1000);
    }
    free(path);
    *fd_out = fd;
    return BROCK_OK;
}

enum brock_status shipper_state_load(const char *dir, struct shipper_state *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    char *path = fs_join(dir, SHIPPER_STATE_FILE);
    struct buf b = BUF_INIT(64 * 1024);
    json_t *doc = NULL;
    enum brock_status st = fs_read_file(path, b.max, &b, e);
    if (st == BROCK_ERR_NOT_FOUND) {
        err_clear(e);
        st = BROCK_OK;
        goto out;
    }
    if (st == BROCK_OK)
        st = json_parse(buf_cstr(&b), b.len, path, &doc, e);
    if (st != BROCK_OK)
        goto out;
    json_int(doc, "last_run_ms", &out->last_run_ms);
    json_int(doc, "last_success_ms", &out->last_success_ms);
    json_int(doc, "shipped_total", &out->shipped_total);
    json_int(doc, "rejected_total", &out->rejected_total);
    json_int(doc, "truncated_total", &out->truncated_total);
    const char *v = json_str(doc, "last_error");
    snprintf(out->last_error, sizeof out->last_error, "%s", v ? v : "");
    v = json_str(doc, "destination");
    snprintf(out->destination, sizeof out->destination, "%s", v ? v : "");
out:
    json_decref(doc);
    buf_free(&b);
    free(path);
    return st;
}

static void state_save(const struct shipper_options *o, const struct ship *s, enum brock_status st,
                       const struct brock_err *e)
{
    struct shipper_state old;
    struct brock_err e2 = {0};
    const char *dir = store_dir(o->store);
    if (shipper_state_load(dir, &old, &e2) != BROCK_OK)
        memset(&old, 0, sizeof old);
    int64_t now = clock_now_ms(o->clock);
    json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "last_run_ms", (json_int_t)now, "last_success_ms",
                            (json_int_t)(s->any_accepted ? now : old.last_success_ms), "shipped_total",
                            (json_int_t)(old.shipped_total + s->st->shipped), "rejected_total",
                            (json_int_t)(old.rejected_total + shipper_rejected(s->st)), "truncated_total",
                            (json_int_t)(old.truncated_total + s->st->truncated), "last_error",
                            st == BROCK_OK ? "" : e->msg, "destination", s->dest[0] ? s->dest : old.destination);
    if (!doc)
        return; /* a message that is not UTF-8 cannot happen: AWS messages are cleaned */
    char *text = json_dump_compact(doc);
    char *path = fs_join(dir, SHIPPER_STATE_FILE);
    if (fs_write_atomic(path, text, strlen(text), 0600, &e2) != BROCK_OK)
        log_debug("could not save the shipper state: %s", e2.msg);
    free(path);
    free(text);
    json_decref(doc);
}

/* ---- the loop ---------------------------------------------------------------------- */

enum brock_status shipper_run(const struct shipper_options *o, struct shipper_stats *st, struct brock_err *e)
{
    struct brock_err local = {0};
    if (!e)
        e = &local; /* the steps below read the AWS error code */
    memset(st, 0, sizeof *st);
    st->remaining = -1;
    if (!o || !o->store || !o->client || !o->cfg)
        return err_set(e, BROCK_ERR_USAGE, "shipper: store, client and configuration are required");
    if (!monitor_shipping_enabled(o->cfg))
        return err_set(e, BROCK_ERR_CONFIG,
                       "no log group to ship to: set BROCK_LOG_GROUP or brock.monitoring.log_group in settings");

    int lock_fd;
    enum brock_status rc = take_lock(o, &lock_fd, &st->busy, e);
    if (rc != BROCK_OK || st->busy)
        return rc;

    struct ship s = {.o = o, .st = st, .body = BUF_INIT(BUF_MAX_BODY), .emf = o->cfg->metrics == MONITOR_METRICS_EMF};
    norm_limits(&o->limits, &s.lim);
    struct store_spool_limits rl = {
        .max_events = s.lim.max_events,
        .max_bytes = s.lim.max_bytes,
        .per_event_overhead = s.lim.overhead,
        .max_span_ms = s.lim.max_span_ms,
    };
    int64_t bytes;
    rc = store_spool_count(o->store, &st->total, &bytes, e);
    bool per_day = monitor_stream_per_day(o->cfg);

    while (rc == BROCK_OK) {
        if (o->cancel && *o->cancel) {
            rc = err_set(e, BROCK_ERR_INTERRUPTED, "shipping stopped");
            break;
        }
        if (o->deadline_mono_ms && time_mono_ms() >= o->deadline_mono_ms) {
            st->deadline_hit = true;
            break;
        }
        struct store_spool_batch b;
        if ((rc = store_spool_read(o->store, &rl, &b, e)) != BROCK_OK)
            break;
        /* skip the events found invalid this run: they wait for the verdict */
        size_t n = 0;
        struct shipper_event *p = xcalloc(b.n ? b.n : 1, sizeof *p);
        for (size_t i = 0; i < b.n; i++) {
            bool suspect = false;
            for (size_t k = 0; k < s.n_suspects && !suspect; k++)
                suspect = s.suspects[k] == b.ev[i].id;
            if (!suspect)
                prepare(&s.lim, &p[n++], &b.ev[i], i);
        }
        if (n == 0) {
            free(p);
            store_spool_batch_free(&b);
            break;
        }
        bool sorted = true;
        for (size_t i = 1; i < n && sorted; i++)
            sorted = cmp_event(&p[i - 1], &p[i]) <= 0;
        if (!sorted)
            qsort(p, n, sizeof *p, cmp_event);

        /* the longest prefix within the limits, in one stream */
        size_t take = 0, used = 0;
        int64_t day0 = utc_day(p[0].ts);
        for (; take < n; take++) {
            size_t cost = p[take].len + s.lim.overhead;
            if (take > 0 && (take >= s.lim.max_events || used + cost > s.lim.max_bytes ||
                             (uint64_t)p[take].ts - (uint64_t)p[0].ts > (uint64_t)s.lim.max_span_ms ||
                             (per_day && utc_day(p[take].ts) != day0)))
                break;
            used += cost;
        }
        char stream[MONITOR_LOG_STREAM_MAX + 1];
        rc = monitor_stream_name(o->cfg, o->host, o->user, p[0].ts, stream, e);
        if (rc == BROCK_OK)
            rc = ship_range(&s, p, take, stream, e);
        for (size_t i = 0; i < n; i++)
            event_free(&p[i]);
        free(p);
        store_spool_batch_free(&b);
    }

    /* single events CloudWatch refused as invalid: dropped only when another
     * event reached the group, which shows the destination itself is fine */
    if (s.n_suspects) {
        if (s.any_accepted) {
            struct brock_err de = {0};
            if (delete_ids(&s, s.suspects, s.n_suspects, &de) == BROCK_OK) {
                st->rejected_invalid += (int64_t)s.n_suspects;
                log_warn("CloudWatch Logs refused %zu log event(s) as invalid (%s); they are dropped from the spool",
                         s.n_suspects, s.suspect_err.msg);
            } else if (rc == BROCK_OK) {
                *e = de;
                rc = de.status;
            }
        } else if (rc == BROCK_OK) {
            *e = s.suspect_err;
            rc = e->status ? e->status : BROCK_ERR_AWS;
        }
    }

    int64_t left;
    struct brock_err ce = {0};
    if (store_spool_count(o->store, &left, &bytes, &ce) == BROCK_OK)
        st->remaining = left;
    state_save(o, &s, rc, e);
    free(s.suspects);
    buf_free(&s.body);
    close(lock_fd); /* releases the flock */
    return rc;
}
