/* emulator_logs.c - CloudWatch Logs in `brock emulate` (awsJson1_1,
 * X-Amz-Target: Logs_20140328.<Op>), Embedded Metric Format extraction into
 * the CloudWatch metric store, and the plumbing every AWS service of the
 * emulator shares: the state, the answer struct, and emu_aws_serve(), the
 * glue between an HTTP call and a service (faults, error shapes, delivery).
 *
 * PutLogEvents enforces every limit of the service model (LOGS in
 * aws-wire-reference.md 9.1), in this order: shape and coral validation
 * (1..10,000 events, non-empty messages, timestamps >= 0), the group and the
 * stream exist, each event <= 1,048,576 bytes counting its 26, the batch <=
 * 1,048,576 bytes counting 26 per event, chronological order, then events too
 * new (> 2 h ahead), too old (> 14 days) or past the group's retention are
 * set aside in rejectedLogEventsInfo while the rest are stored, and the
 * accepted ones may span at most 24 h. */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../aws/endpoint.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "../util/log.h"
#include "emulator_aws.h"

#define CORAL_BEDROCK ":http://internal.amazon.com/coral/com.amazon.bedrock/"
#define XMLNS_MONITORING "http://monitoring.amazonaws.com/doc/2010-08-01/"
#define XMLNS_IAM "https://iam.amazonaws.com/doc/2010-05-08/"
#define EMF_MAX_ERRORS_KEPT 20

/* ------------------------------------------------------------------ */
/* answers and shared helpers                                           */

void emu_aws_resp_init(struct emu_aws_resp *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->status = 200;
    buf_init(&rs->body, BUF_MAX_BODY);
}

void emu_aws_resp_cleanup(struct emu_aws_resp *rs)
{
    buf_free(&rs->body);
    json_decref(rs->extra);
    rs->extra = NULL;
}

bool emu_aws_fail(struct emu_aws_resp *rs, int status, const char *code, const char *query_code, const char *fmt,
                  ...)
{
    rs->status = status;
    snprintf(rs->code_buf, sizeof rs->code_buf, "%s", code);
    rs->code = rs->code_buf;
    rs->query_code = NULL;
    if (query_code) {
        snprintf(rs->query_code_buf, sizeof rs->query_code_buf, "%s", query_code);
        rs->query_code = rs->query_code_buf;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs->msg, sizeof rs->msg, fmt, ap);
    va_end(ap);
    buf_reset(&rs->body);
    return false;
}

void emu_aws_json(struct emu_aws_resp *rs, int status, json_t *v)
{
    char *s = json_dump_compact(v);
    json_decref(v);
    rs->status = status;
    buf_reset(&rs->body);
    buf_addstr(&rs->body, s);
    free(s);
    if (buf_status(&rs->body) != BROCK_OK)
        emu_aws_fail(rs, 500, "InternalServerException", "InternalFailure", "The answer is too large.");
}

long emu_utf8_len(const char *s, size_t n)
{
    long cps = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n)
            return -1;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return -1;
        i += k;
        cps++;
    }
    return cps;
}

void emu_coral_msg(char *out, size_t n, const char *value, const char *field, const char *constraint)
{
    if (value)
        snprintf(out, n, "1 validation error detected: Value '%.200s%s' at '%s' failed to satisfy constraint: %s",
                 value, strlen(value) > 200 ? "..." : "", field, constraint);
    else
        snprintf(out, n, "1 validation error detected: Value null at '%s' failed to satisfy constraint: %s", field,
                 constraint);
}

size_t emu_sorted_pos(size_t n, const char *(*name_at)(const void *ctx, size_t i), const void *ctx,
                      const char *name, bool *found)
{
    size_t lo = 0, hi = n;
    *found = false;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name_at(ctx, mid), name);
        if (!c) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void emu_account_of(const char *arn, char out[16])
{
    snprintf(out, 16, "%s", EMULATOR_ACCOUNT);
    const char *p = arn;
    for (int i = 0; i < 4 && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    if (!p)
        return;
    size_t k = 0;
    while (isdigit((unsigned char)p[k]))
        k++;
    if (k == 12 && p[k] == ':') {
        memcpy(out, p, 12);
        out[12] = '\0';
    }
}

/* ------------------------------------------------------------------ */
/* state                                                                */

struct emu_aws *emu_aws_new(void)
{
    struct emu_aws *a = xcalloc(1, sizeof *a);
    a->logs = emu_logs_new();
    a->cw = emu_cw_new();
    a->ctl = emu_ctl_new();
    a->iam = emu_iam_new();
    return a;
}

void emu_aws_free(struct emu_aws *a)
{
    if (!a)
        return;
    emu_logs_free(a->logs);
    emu_cw_free(a->cw);
    emu_ctl_free(a->ctl);
    emu_iam_free(a->iam);
    free(a);
}

void emu_aws_reset(struct emu_aws *a)
{
    emu_logs_free(a->logs);
    emu_cw_free(a->cw);
    emu_ctl_free(a->ctl);
    emu_iam_free(a->iam);
    a->logs = emu_logs_new();
    a->cw = emu_cw_new();
    a->ctl = emu_ctl_new();
    a->iam = emu_iam_new();
}

void emu_aws_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    if (rq->op)
        snprintf(rs->op, sizeof rs->op, "%s", rq->op);
    switch (rq->svc) {
    case EMU_AWS_LOGS: emu_logs_handle(a, rq, rs); break;
    case EMU_AWS_CLOUDWATCH: emu_cw_handle(a, rq, rs); break;
    case EMU_AWS_CONTROL: emu_ctl_handle(a, rq, rs); break;
    case EMU_AWS_IAM: emu_iam_handle(a, rq, rs); break;
    }
}

/* ------------------------------------------------------------------ */
/* the glue: an HTTP call -> a service -> an answer                     */

static void render_error(const struct emu_aws_req *rq, const struct emu_aws_resp *rs, const char *request_id,
                         struct buf *b, const char **ctype, char *qerr, size_t qerrn, char *etype, size_t etypen)
{
    const char *qcode = rs->query_code ? rs->query_code : rs->code;
    const char *fault = rs->status >= 500 ? "Receiver" : "Sender";
    qerr[0] = etype[0] = '\0';
    switch (rq->wire) {
    case EMU_WIRE_QUERY: {
        buf_addf(b, "<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n    <Code>",
                 rq->svc == EMU_AWS_IAM ? XMLNS_IAM : XMLNS_MONITORING, fault);
        emu_xml_escape(b, qcode);
        buf_addstr(b, "</Code>\n    <Message>");
        emu_xml_escape(b, rs->msg);
        buf_addstr(b, "</Message>\n");
        if (rs->extra) {
            const char *k;
            json_t *v;
            json_object_foreach(rs->extra, k, v)
            {
                struct emu_out o = {.b = b, .xml = true, .depth = 0};
                emu_out_json(&o, k, v);
            }
            buf_addc(b, '\n');
        }
        buf_addf(b, "  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n", request_id);
        *ctype = "text/xml";
        return;
    }
    case EMU_WIRE_JSON10:
    case EMU_WIRE_JSON11: {
        json_t *o = rs->extra ? json_deep_copy(rs->extra) : json_object();
        char t[160];
        if (rq->wire == EMU_WIRE_JSON10)
            snprintf(t, sizeof t, "com.amazonaws.cloudwatch#%s", rs->code);
        else
            snprintf(t, sizeof t, "%s", rs->code);
        json_object_set_new(o, "__type", json_string(t));
        json_object_set_new(o, "message", json_string(rs->msg));
        char *s = json_dump_compact(o);
        json_decref(o);
        buf_addstr(b, s);
        free(s);
        if (rq->wire == EMU_WIRE_JSON10) {
            snprintf(qerr, qerrn, "%s;%s", qcode, fault);
            *ctype = "application/x-amz-json-1.0";
        } else {
            *ctype = "application/x-amz-json-1.1";
        }
        return;
    }
    case EMU_WIRE_REST: {
        snprintf(etype, etypen, "%s%s", rs->code, CORAL_BEDROCK);
        json_t *o = json_pack("{s:s}", "message", rs->msg);
        char *s = json_dump_compact(o);
        json_decref(o);
        buf_addstr(b, s);
        free(s);
        *ctype = "application/json";
        return;
    }
    }
}

/* An answer waiting for a `slow` fault's delay. */
struct aws_job {
    struct emu_call *c;
    int status;
    const char *ctype;
    struct buf body;
    char hname[2][24];
    char hval[2][200];
    size_t nh;
    bool drop;
    struct httpd_timer *timer;
};

static void aws_job_free(struct aws_job *j)
{
    buf_free(&j->body);
    emu_call_free(j->c);
    free(j);
}

static void aws_job_send(struct aws_job *j)
{
    struct emu_call *c = j->c;
    if (j->drop) {
        httpd_resp_abort(c->resp);
        return;
    }
    const char *extra[5] = {NULL};
    for (size_t i = 0; i < j->nh; i++) {
        extra[2 * i] = j->hname[i];
        extra[2 * i + 1] = j->hval[i];
    }
    emu_send_body(c, j->status, j->ctype, extra, buf_cstr(&j->body), j->body.len);
}

static void aws_job_fire(void *arg)
{
    struct aws_job *j = arg;
    struct emulator *em = j->c->em;
    pthread_mutex_lock(&em->mu);
    j->timer = NULL;
    aws_job_send(j);
    aws_job_free(j);
    pthread_mutex_unlock(&em->mu);
}

static void aws_job_closed(struct httpd_resp *resp, void *arg)
{
    struct aws_job *j = arg;
    struct emulator *em = j->c->em;
    pthread_mutex_lock(&em->mu);
    httpd_timer_cancel(j->timer);
    j->timer = NULL;
    emu_note(j->c, "clientGone", json_true());
    httpd_resp_abort(resp);
    aws_job_free(j);
    pthread_mutex_unlock(&em->mu);
}

static const char *region_of(struct emu_call *c)
{
    const json_t *auth = c->entry ? json_object_get(c->entry, "auth") : NULL;
    const char *r = auth ? json_str(auth, "region") : NULL;
    return r && *r ? r : NULL;
}

/* A fault's error, in the service's own words for throttling. */
static void fault_error(const struct emu_aws_req *rq, const struct scenario_fault *f, struct emu_aws_resp *rs)
{
    if (!strcmp(f->type, "throttling") && rq->svc != EMU_AWS_CONTROL) {
        if (rq->svc == EMU_AWS_LOGS)
            emu_aws_fail(rs, 400, "ThrottlingException", NULL, "Rate exceeded");
        else
            emu_aws_fail(rs, 400, "ThrottlingException", "Throttling", "Rate exceeded");
        return;
    }
    emu_aws_fail(rs, f->status ? f->status : 400, f->code ? f->code : "InternalFailure", NULL, "%s",
                 f->message ? f->message : "Injected fault.");
}

/* A Content-Encoding other than identity: the body is not the JSON text. */
static bool rq_encoded(struct emu_call *c)
{
    const char *ce = httpd_req_header(c->req, "content-encoding");
    return ce && strcasecmp(ce, "identity");
}

void emu_aws_serve(struct emu_call *c, enum emu_aws_service svc, enum emu_aws_wire wire, const char *op)
{
    struct emulator *em = c->em;
    static const unsigned op_bits[] = {[EMU_AWS_LOGS] = SCENARIO_OP_LOGS,
                                       [EMU_AWS_CLOUDWATCH] = SCENARIO_OP_CLOUDWATCH,
                                       [EMU_AWS_CONTROL] = SCENARIO_OP_CONTROL,
                                       [EMU_AWS_IAM] = SCENARIO_OP_IAM};
    c->op = op_bits[svc];
    size_t n = 0;
    const char *body = httpd_req_body(c->req, &n);
    char account[16];
    emu_account_of(c->key && c->key->arn ? c->key->arn : EMULATOR_DEFAULT_ARN, account);
    const char *region = region_of(c);
    struct emu_aws_req rq = {
        .svc = svc,
        .wire = wire,
        .op = op,
        .method = httpd_req_method(c->req),
        .path = httpd_req_path(c->req),
        .query = httpd_req_query(c->req),
        .body = body,
        .len = n,
        .region = svc == EMU_AWS_IAM ? "us-east-1" : region ? region : ENDPOINT_DEFAULT_REGION,
        .account = account,
        .now_ms = emu_now_ms(em),
        .content_encoding = httpd_req_header(c->req, "content-encoding"),
        .request_id = c->id,
        .json = wire != EMU_WIRE_QUERY && !rq_encoded(c) ? c->body : NULL, /* parsed once, for the request log */
    };
    struct emu_aws_resp rs;
    emu_aws_resp_init(&rs);

    struct scenario_fault f;
    bool drop = false;
    int64_t delay = 0;
    if (emu_take_fault(c, 1u << SCENARIO_FAULT_ERROR, &f)) {
        emu_note(c, "fault", json_string(f.type));
        fault_error(&rq, &f, &rs);
        scenario_fault_cleanup(&f);
        if (op)
            snprintf(rs.op, sizeof rs.op, "%s", op);
    } else {
        if (emu_take_fault(c, 1u << SCENARIO_FAULT_DROP, &f)) {
            drop = true;
            emu_note(c, "fault", json_string(f.type));
            scenario_fault_cleanup(&f);
        }
        if (emu_take_fault(c, 1u << SCENARIO_FAULT_SLOW, &f)) {
            delay = f.delay_ms;
            emu_note(c, "fault", json_string(f.type));
            scenario_fault_cleanup(&f);
        }
        emu_aws_handle(em->aws, &rq, &rs);
    }
    if (rs.op[0])
        emu_note(c, "operation", json_string(rs.op));
    const char *lf = httpd_req_header(c->req, "x-amzn-logs-format");
    if (lf && svc == EMU_AWS_LOGS)
        emu_note(c, "logsFormat", json_string(lf));

    struct aws_job *j = xcalloc(1, sizeof *j);
    buf_init(&j->body, BUF_MAX_BODY);
    j->status = rs.status;
    if (rs.code) {
        char qerr[160], etype[200];
        render_error(&rq, &rs, c->id, &j->body, &j->ctype, qerr, sizeof qerr, etype, sizeof etype);
        if (qerr[0]) {
            snprintf(j->hname[j->nh], sizeof j->hname[0], "x-amzn-query-error");
            snprintf(j->hval[j->nh++], sizeof j->hval[0], "%s", qerr);
        }
        if (etype[0]) {
            snprintf(j->hname[j->nh], sizeof j->hname[0], "x-amzn-ErrorType");
            snprintf(j->hval[j->nh++], sizeof j->hval[0], "%s", etype);
        }
        emu_note_status(c, rs.status, rs.query_code && wire == EMU_WIRE_QUERY ? rs.query_code : rs.code);
        emu_note(c, "errorMessage", json_string(rs.msg));
    } else {
        j->ctype = rs.ctype;
        buf_add(&j->body, rs.body.ptr ? rs.body.ptr : "", rs.body.len);
        emu_note_status(c, rs.status, NULL);
    }
    emu_aws_resp_cleanup(&rs);
    if (drop) {
        /* the work is done (events stored, alarm saved), the answer is lost:
         * the case that makes a client retry and send duplicates */
        emu_note_status(c, 0, "dropped");
        j->drop = true;
    }
    j->c = c;
    if (delay <= 0) {
        aws_job_send(j);
        c->finished = true;
        j->c = NULL;
        aws_job_free(j);
        return;
    }
    c->detached = true;
    httpd_resp_on_close(c->resp, aws_job_closed, j);
    j->timer = httpd_timer_add(httpd_resp_server(c->resp), delay, aws_job_fire, j);
}

/* ------------------------------------------------------------------ */
/* the Logs store                                                       */

struct lev {
    int64_t ts, ingest;
    uint64_t seq;
    char *msg;
    size_t len;
};

struct lstream {
    char *name;
    int64_t created, first_ts, last_ts, last_ingest;
    struct lev *ev;
    size_t n, cap;
    bool sorted;
};

struct lgroup {
    char *name;
    int64_t created;
    int retention; /* days; 0 = never expire */
    char klass[24];
    char *kms;
    bool deletion_protection;
    json_t *tags;
    struct lstream **s;
    size_t n, cap;
    size_t bytes;
};

struct emf_stats {
    uint64_t events, datapoints, parsing_errors, validation_errors;
    json_t *last_errors; /* array of {"logGroup", "message"} */
};

struct emu_logs {
    struct lgroup **g;
    size_t n, cap;
    size_t n_streams;
    size_t bytes;
    uint64_t seq;
    struct emf_stats emf;
};

static const int k_retention[] = {1,   3,   5,   7,    14,   30,   60,   90,   120,  150,  180,
                                  365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
#define RETENTION_SET                                                                                         \
    "[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, "   \
    "3653]"

struct emu_logs *emu_logs_new(void)
{
    struct emu_logs *l = xcalloc(1, sizeof *l);
    l->emf.last_errors = json_array();
    return l;
}

static void stream_free(struct lstream *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ev[i].msg);
    free(s->ev);
    free(s->name);
    free(s);
}

static void group_free(struct lgroup *g)
{
    for (size_t i = 0; i < g->n; i++)
        stream_free(g->s[i]);
    free(g->s);
    free(g->name);
    free(g->kms);
    json_decref(g->tags);
    free(g);
}

void emu_logs_free(struct emu_logs *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        group_free(l->g[i]);
    free(l->g);
    json_decref(l->emf.last_errors);
    free(l);
}

static const char *group_name_at(const void *l, size_t i)
{
    return ((const struct emu_logs *)l)->g[i]->name;
}

static size_t group_pos(const struct emu_logs *l, const char *name, bool *found)
{
    return emu_sorted_pos(l->n, group_name_at, l, name, found);
}

static const char *stream_name_at(const void *g, size_t i)
{
    return ((const struct lgroup *)g)->s[i]->name;
}

static size_t stream_pos(const struct lgroup *g, const char *name, bool *found)
{
    return emu_sorted_pos(g->n, stream_name_at, g, name, found);
}

static struct lgroup *group_get(const struct emu_logs *l, const char *name)
{
    bool found;
    size_t i = group_pos(l, name, &found);
    return found ? l->g[i] : NULL;
}

bool emu_logs_group_exists(const struct emu_logs *l, const char *name)
{
    return group_get(l, name) != NULL;
}

static struct lstream *stream_get(const struct lgroup *g, const char *name)
{
    bool found;
    size_t i = stream_pos(g, name, &found);
    return found ? g->s[i] : NULL;
}

static int lev_cmp(const void *a, const void *b)
{
    const struct lev *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void stream_sort(struct lstream *s)
{
    if (!s->sorted && s->n) {
        qsort(s->ev, s->n, sizeof *s->ev, lev_cmp);
        s->sorted = true;
    }
}

/* ------------------------------------------------------------------ */
/* request parsing                                                      */

static const char k_group_pattern[] = "[\\.\\-_/#A-Za-z0-9]+";
static const char k_stream_pattern[] = "[^:*]*";

static bool bad_body(struct emu_aws_resp *rs, const char *why)
{
    return emu_aws_fail(rs, 400, "SerializationException", NULL, "%s", why);
}

/* Parse the body as a JSON object (an empty body is {}). */
static json_t *body_object(const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    if (rq->json && json_is_object(rq->json))
        return json_incref((json_t *)rq->json);
    if (!rq->len)
        return json_object();
    json_t *v = NULL;
    struct brock_err e = {0};
    if (json_parse(rq->body, rq->len, "request body", &v, &e) != BROCK_OK) {
        bad_body(rs, e.msg);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        bad_body(rs, "Start of structure or map found where not expected: the body must be a JSON object.");
        return NULL;
    }
    return v;
}

static bool invalid(struct emu_aws_resp *rs, const char *msg)
{
    return emu_aws_fail(rs, 400, "InvalidParameterException", NULL, "%s", msg);
}

static bool coral(struct emu_aws_resp *rs, const char *value, const char *field, const char *constraint)
{
    char m[700];
    emu_coral_msg(m, sizeof m, value, field, constraint);
    return invalid(rs, m);
}

/* A string member: absent is fine unless required. */
static bool get_str(const json_t *o, const char *key, bool required, const char **out, size_t *len,
                    struct emu_aws_resp *rs)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (len)
        *len = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return coral(rs, NULL, key, "Member must not be null");
        return true;
    }
    if (!json_is_string(v)) {
        char m[160];
        snprintf(m, sizeof m, "Unexpected value type for member '%s': expected a string.", key);
        return bad_body(rs, m);
    }
    *out = json_string_value(v);
    if (len)
        *len = json_string_length(v);
    return true;
}

static bool get_i64(const json_t *o, const char *key, bool *present, int64_t *out, struct emu_aws_resp *rs)
{
    const json_t *v = json_object_get(o, key);
    *present = false;
    if (!v || json_is_null(v))
        return true;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9.2e18) {
        *out = (int64_t)json_real_value(v);
    } else {
        char m[160];
        snprintf(m, sizeof m, "Unexpected value type for member '%s': expected an integer.", key);
        return bad_body(rs, m);
    }
    *present = true;
    return true;
}

static bool get_bool(const json_t *o, const char *key, bool dflt, bool *out, struct emu_aws_resp *rs)
{
    const json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v)) {
        char m[160];
        snprintf(m, sizeof m, "Unexpected value type for member '%s': expected a boolean.", key);
        return bad_body(rs, m);
    }
    *out = json_is_true(v);
    return true;
}

static bool group_name_ok(const char *name, size_t len)
{
    if (len < 1 || len > 512)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == '/' || c == '#'))
            return false;
    }
    return true;
}

/* Validate a log group name in `field`. */
static bool check_group(const char *name, size_t len, const char *field, struct emu_aws_resp *rs)
{
    if (!name)
        return coral(rs, NULL, field, "Member must not be null");
    if (len < 1)
        return coral(rs, name, field, "Member must have length greater than or equal to 1");
    if (len > 512)
        return coral(rs, name, field, "Member must have length less than or equal to 512");
    if (!group_name_ok(name, len)) {
        char c[200];
        snprintf(c, sizeof c, "Member must satisfy regular expression pattern: %s", k_group_pattern);
        return coral(rs, name, field, c);
    }
    return true;
}

static bool check_stream(const char *name, size_t len, const char *field, struct emu_aws_resp *rs)
{
    if (!name)
        return coral(rs, NULL, field, "Member must not be null");
    if (len < 1)
        return coral(rs, name, field, "Member must have length greater than or equal to 1");
    if (len > 512)
        return coral(rs, name, field, "Member must have length less than or equal to 512");
    if (memchr(name, ':', len) || memchr(name, '*', len) || memchr(name, '\0', len)) {
        char c[200];
        snprintf(c, sizeof c, "Member must satisfy regular expression pattern: %s", k_stream_pattern);
        return coral(rs, name, field, c);
    }
    return true;
}

static bool no_group(struct emu_aws_resp *rs)
{
    return emu_aws_fail(rs, 400, "ResourceNotFoundException", NULL, "The specified log group does not exist.");
}

static bool no_stream(struct emu_aws_resp *rs)
{
    return emu_aws_fail(rs, 400, "ResourceNotFoundException", NULL, "The specified log stream does not exist.");
}

/* The group named by logGroupName or logGroupIdentifier (a name or an ARN). */
static struct lgroup *find_group_arg(struct emu_logs *l, const json_t *o, struct emu_aws_resp *rs, bool *ok)
{
    const char *name, *ident;
    size_t nl, il;
    *ok = false;
    if (!get_str(o, "logGroupName", false, &name, &nl, rs) || !get_str(o, "logGroupIdentifier", false, &ident, &il, rs))
        return NULL;
    if (name && ident) {
        invalid(rs, "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
        return NULL;
    }
    if (!name && !ident) {
        invalid(rs, "Should provide either name or ARN of the log group.");
        return NULL;
    }
    char tmp[600];
    if (ident) {
        /* arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] */
        const char *p = strstr(ident, ":log-group:");
        if (!strncmp(ident, "arn:", 4) && p) {
            snprintf(tmp, sizeof tmp, "%s", p + 11);
            size_t tl = strlen(tmp);
            if (tl >= 2 && !strcmp(tmp + tl - 2, ":*"))
                tmp[tl - 2] = '\0';
            name = tmp;
            nl = strlen(tmp);
        } else {
            name = ident;
            nl = il;
        }
    }
    if (!check_group(name, nl, ident ? "logGroupIdentifier" : "logGroupName", rs))
        return NULL;
    struct lgroup *g = group_get(l, name);
    if (!g) {
        no_group(rs);
        return NULL;
    }
    *ok = true;
    return g;
}

static bool get_limit(const json_t *o, int64_t max, int64_t dflt, int64_t *out, struct emu_aws_resp *rs)
{
    bool present;
    int64_t v = dflt;
    if (!get_i64(o, "limit", &present, &v, rs))
        return false;
    if (present && (v < 1 || v > max)) {
        char val[32], c[96];
        snprintf(val, sizeof val, "%" PRId64, v);
        snprintf(c, sizeof c, "Member must have value %s to %" PRId64,
                 v < 1 ? "greater than or equal" : "less than or equal", v < 1 ? (int64_t)1 : max);
        return coral(rs, val, "limit", c);
    }
    *out = v;
    return true;
}

/* Tokens: "<kind>/<number>" or "n/<hex of a name>". */
static bool token_num(const char *tok, char kind, size_t *out)
{
    if (!tok || tok[0] != kind || tok[1] != '/' || !isdigit((unsigned char)tok[2]))
        return false;
    char *end;
    unsigned long long v = strtoull(tok + 2, &end, 10);
    if (*end || v > SIZE_MAX / 2)
        return false;
    *out = (size_t)v;
    return true;
}

static bool token_name(const char *tok, char *out, size_t outn)
{
    if (!tok || strncmp(tok, "n/", 2))
        return false;
    size_t hl = strlen(tok + 2);
    if (hl % 2 || hl / 2 + 1 > outn)
        return false;
    if (!hex_decode(tok + 2, hl, (uint8_t *)out))
        return false;
    out[hl / 2] = '\0';
    return strlen(out) == hl / 2;
}

static char *make_name_token(const char *name)
{
    size_t n = strlen(name);
    char *t = xmalloc(2 * n + 3);
    t[0] = 'n';
    t[1] = '/';
    hex_encode((const uint8_t *)name, n, t + 2);
    return t;
}

static void group_arn(const struct emu_aws_req *rq, const char *name, bool star, struct buf *b)
{
    buf_addf(b, "arn:aws:logs:%s:%s:log-group:%s%s", rq->region, rq->account, name, star ? ":*" : "");
}

/* ------------------------------------------------------------------ */
/* operations: groups and streams                                       */

static bool tag_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(isalnum(*p) || *p >= 0x80 || strchr(" _.:/=+-@", *p)))
            return false;
    return true;
}

static void op_create_group(struct emu_logs *l, const struct emu_aws_req *rq, const json_t *o,
                            struct emu_aws_resp *rs)
{
    const char *name, *klass, *kms;
    size_t nl, kl, kml;
    if (!get_str(o, "logGroupName", true, &name, &nl, rs) || !check_group(name, nl, "logGroupName", rs) ||
        !get_str(o, "logGroupClass", false, &klass, &kl, rs) || !get_str(o, "kmsKeyId", false, &kms, &kml, rs))
        return;
    if (klass && strcmp(klass, "STANDARD") && strcmp(klass, "INFREQUENT_ACCESS") && strcmp(klass, "DELIVERY")) {
        coral(rs, klass, "logGroupClass", "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]");
        return;
    }
    if (kms && kml > 256) {
        coral(rs, kms, "kmsKeyId", "Member must have length less than or equal to 256");
        return;
    }
    bool dp;
    if (!get_bool(o, "deletionProtectionEnabled", false, &dp, rs))
        return;
    const json_t *tags = json_object_get(o, "tags");
    if (tags && !json_is_null(tags)) {
        if (!json_is_object(tags)) {
            bad_body(rs, "Unexpected value type for member 'tags': expected a map.");
            return;
        }
        size_t nt = json_object_size(tags);
        if (nt < 1 || nt > 50) {
            coral(rs, "{...}", "tags",
                  nt < 1 ? "Member must have length greater than or equal to 1"
                         : "Member must have length less than or equal to 50");
            return;
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)tags, k, v)
        {
            if (!json_is_string(v)) {
                bad_body(rs, "Unexpected value type in 'tags': expected string values.");
                return;
            }
            long kl2 = emu_utf8_len(k, strlen(k));
            if (kl2 < 1 || kl2 > 128 || !tag_chars_ok(k)) {
                coral(rs, k, "tags",
                      "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member "
                      "must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
                      "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$]");
                return;
            }
            if (json_string_length(v) > 256 || !tag_chars_ok(json_string_value(v))) {
                coral(rs, json_string_value(v), "tags",
                      "Map value must satisfy constraint: [Member must have length less than or equal to 256, Member "
                      "must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$]");
                return;
            }
        }
    }
    if (!strncmp(name, "aws/", 4)) {
        invalid(rs, "Log group names starting with 'aws/' are reserved for AWS services.");
        return;
    }
    bool found;
    size_t at = group_pos(l, name, &found);
    if (found) {
        emu_aws_fail(rs, 400, "ResourceAlreadyExistsException", NULL, "The specified log group already exists");
        return;
    }
    if (l->n >= EMU_LOGS_MAX_GROUPS) {
        emu_aws_fail(rs, 400, "LimitExceededException", NULL,
                     "Resource limit exceeded (brock emulate keeps at most %d log groups).", EMU_LOGS_MAX_GROUPS);
        return;
    }
    struct lgroup *g = xcalloc(1, sizeof *g);
    g->name = xstrdup(name);
    g->created = rq->now_ms;
    snprintf(g->klass, sizeof g->klass, "%s", klass ? klass : "STANDARD");
    g->kms = kms ? xstrdup(kms) : NULL;
    g->deletion_protection = dp;
    g->tags = tags && json_is_object(tags) ? json_deep_copy(tags) : NULL;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->g = xrealloc(l->g, l->cap * sizeof *l->g);
    }
    memmove(l->g + at + 1, l->g + at, (l->n - at) * sizeof *l->g);
    l->g[at] = g;
    l->n++;
    emu_aws_json(rs, 200, json_object());
}

static void op_delete_group(struct emu_logs *l, const json_t *o, struct emu_aws_resp *rs)
{
    const char *name;
    size_t nl;
    if (!get_str(o, "logGroupName", true, &name, &nl, rs) || !check_group(name, nl, "logGroupName", rs))
        return;
    bool found;
    size_t at = group_pos(l, name, &found);
    if (!found) {
        no_group(rs);
        return;
    }
    struct lgroup *g = l->g[at];
    if (g->deletion_protection) {
        emu_aws_fail(rs, 400, "ValidationException", NULL,
                     "Deletion protection is enabled for this log group; disable it before deleting.");
        return;
    }
    l->n_streams -= g->n;
    l->bytes -= g->bytes;
    group_free(g);
    memmove(l->g + at, l->g + at + 1, (l->n - at - 1) * sizeof *l->g);
    l->n--;
    emu_aws_json(rs, 200, json_object());
}

static json_t *group_json(const struct emu_aws_req *rq, const struct lgroup *g)
{
    struct buf arn = BUF_INIT(2048), arn2 = BUF_INIT(2048);
    group_arn(rq, g->name, true, &arn);
    group_arn(rq, g->name, false, &arn2);
    json_t *o = json_pack("{s:s, s:I, s:i, s:s, s:I, s:s, s:s, s:b}", "logGroupName", g->name, "creationTime",
                          (json_int_t)g->created, "metricFilterCount", 0, "arn", buf_cstr(&arn), "storedBytes",
                          (json_int_t)g->bytes, "logGroupClass", g->klass, "logGroupArn", buf_cstr(&arn2),
                          "deletionProtectionEnabled", g->deletion_protection);
    if (g->retention)
        json_object_set_new(o, "retentionInDays", json_integer(g->retention));
    if (g->kms)
        json_object_set_new(o, "kmsKeyId", json_string(g->kms));
    buf_free(&arn);
    buf_free(&arn2);
    return o;
}

static void op_describe_groups(struct emu_logs *l, const struct emu_aws_req *rq, const json_t *o,
                               struct emu_aws_resp *rs)
{
    const char *prefix, *pattern, *tok, *klass;
    size_t pl, patl, tl, kl;
    int64_t limit = 50;
    if (!get_str(o, "logGroupNamePrefix", false, &prefix, &pl, rs) ||
        !get_str(o, "logGroupNamePattern", false, &pattern, &patl, rs) ||
        !get_str(o, "nextToken", false, &tok, &tl, rs) || !get_str(o, "logGroupClass", false, &klass, &kl, rs) ||
        !get_limit(o, 50, 50, &limit, rs))
        return;
    if (prefix && !check_group(prefix, pl, "logGroupNamePrefix", rs))
        return;
    if (pattern && (patl > 512 || (patl && !group_name_ok(pattern, patl)))) {
        coral(rs, pattern, "logGroupNamePattern", "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]*");
        return;
    }
    if (prefix && pattern) {
        invalid(rs, "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
        return;
    }
    size_t start = 0;
    if (tok) {
        char after[520];
        bool found;
        if (!token_name(tok, after, sizeof after)) {
            invalid(rs, "The specified nextToken is invalid.");
            return;
        }
        start = group_pos(l, after, &found);
        if (found)
            start++;
    }
    json_t *arr = json_array();
    size_t i = start;
    for (; i < l->n && json_array_size(arr) < (size_t)limit; i++) {
        const struct lgroup *g = l->g[i];
        if (prefix && strncmp(g->name, prefix, pl))
            continue;
        if (pattern && !strcasestr(g->name, pattern))
            continue;
        if (klass && strcmp(g->klass, klass))
            continue;
        json_array_append_new(arr, group_json(rq, g));
    }
    json_t *out = json_pack("{s:o}", "logGroups", arr);
    /* more to come? */
    for (size_t k = i; k < l->n; k++) {
        const struct lgroup *g = l->g[k];
        if ((prefix && strncmp(g->name, prefix, pl)) || (pattern && !strcasestr(g->name, pattern)) ||
            (klass && strcmp(g->klass, klass)))
            continue;
        char *t = make_name_token(l->g[i - 1]->name);
        json_object_set_new(out, "nextToken", json_string(t));
        free(t);
        break;
    }
    emu_aws_json(rs, 200, out);
}

static void op_create_stream(struct emu_logs *l, const struct emu_aws_req *rq, const json_t *o,
                             struct emu_aws_resp *rs)
{
    const char *gname, *sname;
    size_t gl, sl;
    if (!get_str(o, "logGroupName", true, &gname, &gl, rs) || !check_group(gname, gl, "logGroupName", rs) ||
        !get_str(o, "logStreamName", true, &sname, &sl, rs) || !check_stream(sname, sl, "logStreamName", rs))
        return;
    struct lgroup *g = group_get(l, gname);
    if (!g) {
        no_group(rs);
        return;
    }
    bool found;
    size_t at = stream_pos(g, sname, &found);
    if (found) {
        emu_aws_fail(rs, 400, "ResourceAlreadyExistsException", NULL, "The specified log stream already exists");
        return;
    }
    if (l->n_streams >= EMU_LOGS_MAX_STREAMS) {
        emu_aws_fail(rs, 400, "LimitExceededException", NULL,
                     "Resource limit exceeded (brock emulate keeps at most %d log streams).", EMU_LOGS_MAX_STREAMS);
        return;
    }
    struct lstream *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(sname);
    s->created = rq->now_ms;
    s->sorted = true;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 8;
        g->s = xrealloc(g->s, g->cap * sizeof *g->s);
    }
    memmove(g->s + at + 1, g->s + at, (g->n - at) * sizeof *g->s);
    g->s[at] = s;
    g->n++;
    l->n_streams++;
    emu_aws_json(rs, 200, json_object());
}

static void op_delete_stream(struct emu_logs *l, const json_t *o, struct emu_aws_resp *rs)
{
    const char *gname, *sname;
    size_t gl, sl;
    if (!get_str(o, "logGroupName", true, &gname, &gl, rs) || !check_group(gname, gl, "logGroupName", rs) ||
        !get_str(o, "logStreamName", true, &sname, &sl, rs) || !check_stream(sname, sl, "logStreamName", rs))
        return;
    struct lgroup *g = group_get(l, gname);
    if (!g) {
        no_group(rs);
        return;
    }
    bool found;
    size_t at = stream_pos(g, sname, &found);
    if (!found) {
        no_stream(rs);
        return;
    }
    struct lstream *s = g->s[at];
    for (size_t i = 0; i < s->n; i++) {
        g->bytes -= s->ev[i].len;
        l->bytes -= s->ev[i].len;
    }
    stream_free(s);
    memmove(g->s + at, g->s + at + 1, (g->n - at - 1) * sizeof *g->s);
    g->n--;
    l->n_streams--;
    emu_aws_json(rs, 200, json_object());
}

static json_t *stream_json(const struct emu_aws_req *rq, const struct lgroup *g, const struct lstream *s)
{
    struct buf arn = BUF_INIT(2048);
    group_arn(rq, g->name, false, &arn);
    buf_addf(&arn, ":log-stream:%s", s->name);
    json_t *o = json_pack("{s:s, s:I, s:s, s:I}", "logStreamName", s->name, "creationTime", (json_int_t)s->created,
                          "arn", buf_cstr(&arn), "storedBytes", (json_int_t)0);
    if (s->n) {
        json_object_set_new(o, "firstEventTimestamp", json_integer(s->first_ts));
        json_object_set_new(o, "lastEventTimestamp", json_integer(s->last_ts));
        json_object_set_new(o, "lastIngestionTime", json_integer(s->last_ingest));
    }
    buf_free(&arn);
    return o;
}

struct sref {
    const struct lstream *s;
};

static int sref_by_last_event(const void *a, const void *b)
{
    const struct lstream *x = ((const struct sref *)a)->s, *y = ((const struct sref *)b)->s;
    int64_t tx = x->n ? x->last_ts : 0, ty = y->n ? y->last_ts : 0;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void op_describe_streams(struct emu_logs *l, const struct emu_aws_req *rq, const json_t *o,
                                struct emu_aws_resp *rs)
{
    bool ok;
    struct lgroup *g = find_group_arg(l, o, rs, &ok);
    if (!ok)
        return;
    const char *prefix, *order, *tok;
    size_t pl, ol, tl;
    bool desc;
    int64_t limit;
    if (!get_str(o, "logStreamNamePrefix", false, &prefix, &pl, rs) ||
        !get_str(o, "orderBy", false, &order, &ol, rs) || !get_str(o, "nextToken", false, &tok, &tl, rs) ||
        !get_bool(o, "descending", false, &desc, rs) || !get_limit(o, 50, 50, &limit, rs))
        return;
    if (prefix && !check_stream(prefix, pl, "logStreamNamePrefix", rs))
        return;
    bool by_time = false;
    if (order) {
        if (!strcmp(order, "LastEventTime"))
            by_time = true;
        else if (strcmp(order, "LogStreamName")) {
            coral(rs, order, "orderBy", "Member must satisfy enum value set: [LogStreamName, LastEventTime]");
            return;
        }
    }
    if (by_time && prefix) {
        invalid(rs, "Cannot order by LastEventTime with a logStreamNamePrefix.");
        return;
    }
    struct sref *v = xcalloc(g->n + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        if (!prefix || !strncmp(g->s[i]->name, prefix, pl))
            v[n++].s = g->s[i];
    if (by_time)
        qsort(v, n, sizeof *v, sref_by_last_event);
    if (desc)
        for (size_t i = 0; i < n / 2; i++) {
            struct sref t = v[i];
            v[i] = v[n - 1 - i];
            v[n - 1 - i] = t;
        }
    size_t start = 0;
    if (tok && !token_num(tok, 's', &start)) {
        free(v);
        invalid(rs, "The specified nextToken is invalid.");
        return;
    }
    json_t *arr = json_array();
    size_t i = start;
    for (; i < n && json_array_size(arr) < (size_t)limit; i++)
        json_array_append_new(arr, stream_json(rq, g, v[i].s));
    json_t *out = json_pack("{s:o}", "logStreams", arr);
    if (i < n) {
        char t[40];
        snprintf(t, sizeof t, "s/%zu", i);
        json_object_set_new(out, "nextToken", json_string(t));
    }
    free(v);
    emu_aws_json(rs, 200, out);
}

static void op_put_retention(struct emu_logs *l, const json_t *o, struct emu_aws_resp *rs)
{
    const char *name;
    size_t nl;
    bool present;
    int64_t days = 0;
    if (!get_str(o, "logGroupName", true, &name, &nl, rs) || !check_group(name, nl, "logGroupName", rs) ||
        !get_i64(o, "retentionInDays", &present, &days, rs))
        return;
    if (!present) {
        coral(rs, NULL, "retentionInDays", "Member must not be null");
        return;
    }
    bool allowed = false;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(k_retention); i++)
        allowed |= days == k_retention[i];
    if (!allowed) {
        char val[32];
        snprintf(val, sizeof val, "%" PRId64, days);
        coral(rs, val, "retentionInDays", "Member must satisfy enum value set: " RETENTION_SET);
        return;
    }
    struct lgroup *g = group_get(l, name);
    if (!g) {
        no_group(rs);
        return;
    }
    g->retention = (int)days;
    emu_aws_json(rs, 200, json_object());
}

static void op_delete_retention(struct emu_logs *l, const json_t *o, struct emu_aws_resp *rs)
{
    const char *name;
    size_t nl;
    if (!get_str(o, "logGroupName", true, &name, &nl, rs) || !check_group(name, nl, "logGroupName", rs))
        return;
    struct lgroup *g = group_get(l, name);
    if (!g) {
        no_group(rs);
        return;
    }
    g->retention = 0;
    emu_aws_json(rs, 200, json_object());
}

/* ------------------------------------------------------------------ */
/* Embedded Metric Format                                               */

static void emf_error(struct emu_aws *a, const char *group, bool parsing, int64_t ts_ms, const char *why)
{
    struct emu_logs *l = a->logs;
    if (parsing)
        l->emf.parsing_errors++;
    else
        l->emf.validation_errors++;
    if (json_array_size(l->emf.last_errors) >= EMF_MAX_ERRORS_KEPT)
        json_array_remove(l->emf.last_errors, 0);
    json_array_append_new(l->emf.last_errors,
                          json_pack("{s:s, s:s, s:s}", "logGroup", group, "kind", parsing ? "parsing" : "validation",
                                    "message", why));
    /* CloudWatch reports these in the AWS/Logs namespace */
    const char *dn[] = {"LogGroup"};
    const char *dv[] = {group};
    struct emu_cw_point p = {.ns = "AWS/Logs",
                             .name = parsing ? "EMFParsingErrors" : "EMFValidationErrors",
                             .dim_names = dn,
                             .dim_values = dv,
                             .n_dims = 1,
                             .ts_ms = ts_ms,
                             .sum = 1,
                             .count = 1,
                             .min = 1,
                             .max = 1,
                             .unit = "Count"};
    char w[200];
    (void)emu_cw_record(a->cw, &p, w, sizeof w);
}

#define EMF_MAX_VALUE 0x1p360 /* values within +-2^360 */

/* Check one directive (and collect what it publishes when `publish`). */
static bool emf_directive(struct emu_aws *a, const json_t *root, const json_t *dir, size_t di, int64_t ts,
                          bool publish, char *why, size_t whyn)
{
    if (!json_is_object(dir)) {
        snprintf(why, whyn, "CloudWatchMetrics[%zu] is not an object", di);
        return false;
    }
    const json_t *ns = json_object_get(dir, "Namespace"), *dims = json_object_get(dir, "Dimensions"),
                 *mets = json_object_get(dir, "Metrics");
    if (!json_is_string(ns) || json_string_length(ns) < 1 || json_string_length(ns) > 255 ||
        json_string_value(ns)[0] == ':') {
        snprintf(why, whyn, "CloudWatchMetrics[%zu].Namespace must be a string of 1 to 255 characters not starting "
                            "with ':'", di);
        return false;
    }
    if (!strncmp(json_string_value(ns), "AWS/", 4)) {
        snprintf(why, whyn, "CloudWatchMetrics[%zu].Namespace: the AWS/ namespaces are reserved", di);
        return false;
    }
    if (!json_is_array(dims)) {
        snprintf(why, whyn, "CloudWatchMetrics[%zu].Dimensions must be an array of dimension sets", di);
        return false;
    }
    if (!json_is_array(mets) || json_array_size(mets) > 100) {
        snprintf(why, whyn, "CloudWatchMetrics[%zu].Metrics must be an array of at most 100 metric definitions", di);
        return false;
    }
    size_t nsets = json_array_size(dims) ? json_array_size(dims) : 1;
    for (size_t s = 0; s < json_array_size(dims); s++) {
        const json_t *set = json_array_get(dims, s);
        if (!json_is_array(set) || json_array_size(set) > CW_MAX_DIMENSIONS) {
            snprintf(why, whyn, "CloudWatchMetrics[%zu].Dimensions[%zu] must be an array of at most 30 names", di, s);
            return false;
        }
        for (size_t k = 0; k < json_array_size(set); k++) {
            const json_t *dn = json_array_get(set, k);
            if (!json_is_string(dn) || json_string_length(dn) < 1 || json_string_length(dn) > 255) {
                snprintf(why, whyn, "CloudWatchMetrics[%zu].Dimensions[%zu][%zu] must be a dimension name", di, s, k);
                return false;
            }
            const json_t *dv = json_object_get(root, json_string_value(dn));
            if (!json_is_string(dv) || json_string_length(dv) < 1 || json_string_length(dv) > 1024) {
                snprintf(why, whyn,
                         "dimension \"%.100s\" (CloudWatchMetrics[%zu].Dimensions[%zu]) must be a top-level string "
                         "member of 1 to 1024 characters",
                         json_string_value(dn), di, s);
                return false;
            }
        }
    }
    for (size_t m = 0; m < json_array_size(mets); m++) {
        const json_t *md = json_array_get(mets, m);
        const json_t *name = json_object_get(md, "Name"), *unit = json_object_get(md, "Unit"),
                     *res = json_object_get(md, "StorageResolution");
        if (!json_is_object(md) || !json_is_string(name) || json_string_length(name) < 1 ||
            json_string_length(name) > 255) {
            snprintf(why, whyn, "CloudWatchMetrics[%zu].Metrics[%zu] needs a Name of 1 to 255 characters", di, m);
            return false;
        }
        if (unit && (!json_is_string(unit) || emu_cw_unit_index(json_string_value(unit)) < 0)) {
            snprintf(why, whyn, "CloudWatchMetrics[%zu].Metrics[%zu].Unit is not a CloudWatch unit", di, m);
            return false;
        }
        if (res && !(json_is_integer(res) && (json_integer_value(res) == 1 || json_integer_value(res) == 60))) {
            snprintf(why, whyn, "CloudWatchMetrics[%zu].Metrics[%zu].StorageResolution must be 1 or 60", di, m);
            return false;
        }
        const json_t *val = json_object_get(root, json_string_value(name));
        double sum = 0, mn = INFINITY, mx = -INFINITY;
        size_t cnt = 0;
        if (json_is_number(val)) {
            sum = mn = mx = json_number_value(val);
            cnt = 1;
        } else if (json_is_array(val) && json_array_size(val) >= 1 && json_array_size(val) <= 100) {
            for (size_t k = 0; k < json_array_size(val); k++) {
                const json_t *x = json_array_get(val, k);
                if (!json_is_number(x)) {
                    cnt = 0;
                    break;
                }
                double d = json_number_value(x);
                sum += d;
                mn = d < mn ? d : mn;
                mx = d > mx ? d : mx;
                cnt++;
            }
        }
        if (!cnt) {
            snprintf(why, whyn,
                     "metric \"%.100s\" needs a top-level member that is a number or an array of 1 to 100 numbers",
                     json_string_value(name));
            return false;
        }
        if (fabs(mn) > EMF_MAX_VALUE || fabs(mx) > EMF_MAX_VALUE) {
            snprintf(why, whyn, "metric \"%.100s\" has a value outside -2^360..2^360", json_string_value(name));
            return false;
        }
        if (!publish)
            continue;
        for (size_t s = 0; s < nsets; s++) {
            const json_t *set = json_array_size(dims) ? json_array_get(dims, s) : NULL;
            size_t nd = set ? json_array_size(set) : 0;
            const char *dnames[CW_MAX_DIMENSIONS], *dvals[CW_MAX_DIMENSIONS];
            for (size_t k = 0; k < nd; k++) {
                dnames[k] = json_string_value(json_array_get(set, k));
                dvals[k] = json_string_value(json_object_get(root, dnames[k]));
            }
            struct emu_cw_point p = {.ns = json_string_value(ns),
                                     .name = json_string_value(name),
                                     .dim_names = dnames,
                                     .dim_values = dvals,
                                     .n_dims = nd,
                                     .ts_ms = ts,
                                     .sum = sum,
                                     .count = (double)cnt,
                                     .min = mn,
                                     .max = mx,
                                     .unit = unit ? json_string_value(unit) : NULL,
                                     .high_resolution = res && json_integer_value(res) == 1};
            char w[200];
            if (!emu_cw_record(a->cw, &p, w, sizeof w)) {
                snprintf(why, whyn, "%s", w);
                return false;
            }
            a->logs->emf.datapoints++;
        }
    }
    return true;
}

/* Extract the metrics of one log event, as CloudWatch Logs does for EMF. */
static void emf_event(struct emu_aws *a, const char *group, const char *msg, size_t len, int64_t event_ts)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)msg[i]))
        i++;
    if (i == len || msg[i] != '{')
        return; /* not JSON: a plain event */
    json_error_t je;
    json_t *root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (memmem(msg, len, "\"_aws\"", 6)) {
            char why[300];
            snprintf(why, sizeof why, "not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
            emf_error(a, group, true, event_ts, why);
        }
        return;
    }
    const json_t *aws = json_object_get(root, "_aws");
    if (!json_is_object(root) || !aws) {
        json_decref(root);
        return; /* structured, but not EMF */
    }
    char why[400] = "";
    const json_t *ts = json_object_get(aws, "Timestamp"), *cwm = json_object_get(aws, "CloudWatchMetrics");
    bool ok = true;
    if (!json_is_object(aws)) {
        snprintf(why, sizeof why, "_aws must be an object");
        ok = false;
    } else if (!json_is_integer(ts) || json_integer_value(ts) < 0) {
        snprintf(why, sizeof why, "_aws.Timestamp must be a number of milliseconds since the epoch");
        ok = false;
    } else if (!json_is_array(cwm)) {
        snprintf(why, sizeof why, "_aws.CloudWatchMetrics must be an array of metric directives");
        ok = false;
    }
    /* validate every directive first: an invalid document publishes nothing */
    for (size_t d = 0; ok && d < json_array_size(cwm); d++)
        ok = emf_directive(a, root, json_array_get(cwm, d), d, 0, false, why, sizeof why);
    if (ok) {
        a->logs->emf.events++;
        for (size_t d = 0; ok && d < json_array_size(cwm); d++)
            ok = emf_directive(a, root, json_array_get(cwm, d), d, json_integer_value(ts), true, why, sizeof why);
    }
    if (!ok)
        emf_error(a, group, false, event_ts, why);
    json_decref(root);
}

/* ------------------------------------------------------------------ */
/* PutLogEvents                                                         */

static void op_put_events(struct emu_aws *a, const struct emu_aws_req *rq, const json_t *o, struct emu_aws_resp *rs)
{
    struct emu_logs *l = a->logs;
    const char *gname, *sname, *seq;
    size_t gl, sl, ql;
    if (!get_str(o, "logGroupName", true, &gname, &gl, rs) || !check_group(gname, gl, "logGroupName", rs) ||
        !get_str(o, "logStreamName", true, &sname, &sl, rs) || !check_stream(sname, sl, "logStreamName", rs) ||
        !get_str(o, "sequenceToken", false, &seq, &ql, rs))
        return;
    const json_t *evs = json_object_get(o, "logEvents");
    if (!evs || json_is_null(evs)) {
        coral(rs, NULL, "logEvents", "Member must not be null");
        return;
    }
    if (!json_is_array(evs)) {
        bad_body(rs, "Unexpected value type for member 'logEvents': expected a list.");
        return;
    }
    size_t n = json_array_size(evs);
    if (n < 1 || n > LOGS_MAX_EVENTS) {
        char c[96];
        snprintf(c, sizeof c, "Member must have length %s", n < 1 ? "greater than or equal to 1" : "less than or equal to 10000");
        coral(rs, "[...]", "logEvents", c);
        return;
    }
    /* shape of every event, each read once into pe[] */
    struct pev {
        int64_t ts;
        const char *msg;
        size_t len;
    } *pe = xcalloc(n, sizeof *pe);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(evs, i);
        char field[64];
        if (!json_is_object(e)) {
            bad_body(rs, "Unexpected value type in 'logEvents': expected objects.");
            goto out;
        }
        const json_t *ts = json_object_get(e, "timestamp"), *msg = json_object_get(e, "message");
        snprintf(field, sizeof field, "logEvents.%zu.member.timestamp", i + 1);
        if (!ts || json_is_null(ts)) {
            coral(rs, NULL, field, "Member must not be null");
            goto out;
        }
        if (!json_is_integer(ts)) {
            bad_body(rs, "Unexpected value type for member 'timestamp': expected a long integer.");
            goto out;
        }
        if (json_integer_value(ts) < 0) {
            char v[32];
            snprintf(v, sizeof v, "%" JSON_INTEGER_FORMAT, json_integer_value(ts));
            coral(rs, v, field, "Member must have value greater than or equal to 0");
            goto out;
        }
        snprintf(field, sizeof field, "logEvents.%zu.member.message", i + 1);
        if (!msg || json_is_null(msg)) {
            coral(rs, NULL, field, "Member must not be null");
            goto out;
        }
        if (!json_is_string(msg)) {
            bad_body(rs, "Unexpected value type for member 'message': expected a string.");
            goto out;
        }
        if (json_string_length(msg) < 1) {
            coral(rs, "", field, "Member must have length greater than or equal to 1");
            goto out;
        }
        pe[i] = (struct pev){json_integer_value(ts), json_string_value(msg), json_string_length(msg)};
    }
    struct lgroup *g = group_get(l, gname);
    if (!g) {
        no_group(rs);
        goto out;
    }
    struct lstream *s = stream_get(g, sname);
    if (!s) {
        no_stream(rs);
        goto out;
    }
    /* sizes */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t sz = pe[i].len + LOGS_EVENT_OVERHEAD;
        if (sz > LOGS_MAX_EVENT_BYTES) {
            emu_aws_fail(rs, 400, "InvalidParameterException", NULL, "Log event too large: %zu bytes exceeds limit of %d",
                         sz, LOGS_MAX_EVENT_BYTES);
            goto out;
        }
        total += sz;
    }
    if (total > LOGS_MAX_BATCH_BYTES) {
        emu_aws_fail(rs, 400, "InvalidParameterException", NULL, "Upload too large: %zu bytes exceeds limit of %d", total,
                     LOGS_MAX_BATCH_BYTES);
        goto out;
    }
    /* order */
    int64_t prev = -1;
    for (size_t i = 0; i < n; i++) {
        int64_t t = pe[i].ts;
        if (t < prev) {
            invalid(rs, "Log events in a single PutLogEvents request must be in chronological order.");
            goto out;
        }
        prev = t;
    }
    /* too old / expired (a prefix), too new (a suffix) */
    int64_t now = rq->now_ms;
    size_t too_old_end = 0, expired_end = 0, too_new_start = n;
    for (size_t i = 0; i < n; i++) {
        int64_t t = pe[i].ts;
        if (t < now - LOGS_MAX_AGE_MS)
            too_old_end = i + 1;
        if (g->retention && t < now - (int64_t)g->retention * 86400000LL)
            expired_end = i + 1;
        if (t > now + LOGS_MAX_FUTURE_MS && too_new_start == n)
            too_new_start = i;
    }
    size_t first_ok = too_old_end > expired_end ? too_old_end : expired_end;
    if (first_ok > too_new_start)
        first_ok = too_new_start;
    if (first_ok < too_new_start) {
        int64_t t0 = pe[first_ok].ts, t1 = pe[too_new_start - 1].ts;
        if (t1 - t0 > LOGS_MAX_SPAN_MS) {
            invalid(rs, "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
            goto out;
        }
    }
    size_t add_bytes = 0;
    for (size_t i = first_ok; i < too_new_start; i++)
        add_bytes += pe[i].len;
    if (l->bytes + add_bytes > EMU_LOGS_MAX_BYTES) {
        emu_aws_fail(rs, 400, "ServiceQuotaExceededException", NULL,
                     "brock emulate stores at most %zu MiB of log messages; POST /_emulator/reset to start over.",
                     EMU_LOGS_MAX_BYTES >> 20);
        goto out;
    }
    /* store */
    size_t want = s->n + (too_new_start - first_ok);
    if (want > s->cap) {
        s->cap = want > 2 * s->cap ? want : 2 * s->cap;
        s->ev = xrealloc(s->ev, s->cap * sizeof *s->ev);
    }
    for (size_t i = first_ok; i < too_new_start; i++) {
        struct lev *v = &s->ev[s->n];
        v->ts = pe[i].ts;
        v->ingest = now;
        v->seq = ++l->seq;
        v->len = pe[i].len;
        v->msg = xmemdup(pe[i].msg, v->len);
        if (s->n && v->ts < s->ev[s->n - 1].ts)
            s->sorted = false;
        if (!s->n || v->ts < s->first_ts)
            s->first_ts = v->ts;
        if (!s->n || v->ts > s->last_ts)
            s->last_ts = v->ts;
        s->last_ingest = now;
        s->n++;
        g->bytes += v->len;
        l->bytes += v->len;
    }
    /* metrics out of EMF events (after storing: a metric problem never loses the event) */
    for (size_t i = first_ok; i < too_new_start; i++)
        emf_event(a, gname, pe[i].msg, pe[i].len, pe[i].ts);
    char tokbuf[64];
    snprintf(tokbuf, sizeof tokbuf, "49%054" PRIu64, l->seq);
    json_t *out = json_pack("{s:s}", "nextSequenceToken", tokbuf);
    if (first_ok > 0 || too_new_start < n) {
        json_t *rej = json_object();
        if (too_new_start < n)
            json_object_set_new(rej, "tooNewLogEventStartIndex", json_integer((json_int_t)too_new_start));
        if (too_old_end)
            json_object_set_new(rej, "tooOldLogEventEndIndex", json_integer((json_int_t)too_old_end));
        if (expired_end)
            json_object_set_new(rej, "expiredLogEventEndIndex", json_integer((json_int_t)expired_end));
        json_object_set_new(out, "rejectedLogEventsInfo", rej);
    }
    emu_aws_json(rs, 200, out);
out:
    free(pe);
}

/* ------------------------------------------------------------------ */
/* delivery by other services (Bedrock's invocation logging)           */

bool emu_logs_deliver(struct emu_logs *l, const char *group, const char *stream, int64_t ts_ms, const char *msg,
                      size_t len)
{
    struct lgroup *g = group_get(l, group);
    if (!g || l->bytes + len > EMU_LOGS_MAX_BYTES)
        return false;
    bool found;
    size_t at = stream_pos(g, stream, &found);
    if (!found) {
        if (l->n_streams >= EMU_LOGS_MAX_STREAMS)
            return false;
        struct lstream *s = xcalloc(1, sizeof *s);
        s->name = xstrdup(stream);
        s->created = ts_ms;
        s->sorted = true;
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 8;
            g->s = xrealloc(g->s, g->cap * sizeof *g->s);
        }
        memmove(g->s + at + 1, g->s + at, (g->n - at) * sizeof *g->s);
        g->s[at] = s;
        g->n++;
        l->n_streams++;
    }
    struct lstream *s = g->s[at];
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->ev = xrealloc(s->ev, s->cap * sizeof *s->ev);
    }
    struct lev *v = &s->ev[s->n];
    *v = (struct lev){.ts = ts_ms, .ingest = ts_ms, .seq = ++l->seq, .msg = xmemdup(msg, len), .len = len};
    if (s->n && ts_ms < s->ev[s->n - 1].ts)
        s->sorted = false;
    if (!s->n || ts_ms < s->first_ts)
        s->first_ts = ts_ms;
    if (!s->n || ts_ms > s->last_ts)
        s->last_ts = ts_ms;
    s->last_ingest = ts_ms;
    s->n++;
    g->bytes += len;
    l->bytes += len;
    return true;
}

#define INVOCATION_LOG_STREAM "aws/bedrock/modelinvocations"
#define INVOCATION_LOG_MAX_BODY ((size_t)100 * 1024) /* larger bodies go to S3 in Bedrock */

void emu_aws_model_call_done(struct emu_call *c)
{
    struct emulator *em = c->em;
    const json_t *cfg = emu_ctl_logging(em->aws->ctl);
    const char *group = json_str(json_object_get(cfg, "cloudWatchConfig"), "logGroupName");
    int64_t status = 0;
    if (!group || !c->entry || !json_int(c->entry, "status", &status) || status != 200 ||
        c->op == SCENARIO_OP_COUNT_TOKENS)
        return;
    static const struct {
        unsigned op;
        const char *name;
    } ops[] = {{SCENARIO_OP_INVOKE, "InvokeModel"},
               {SCENARIO_OP_INVOKE_STREAM, "InvokeModelWithResponseStream"},
               {SCENARIO_OP_CONVERSE, "Converse"},
               {SCENARIO_OP_CONVERSE_STREAM, "ConverseStream"}};
    const char *opname = "InvokeModel";
    for (size_t i = 0; i < BROCK_ARRAY_LEN(ops); i++)
        if (c->op == ops[i].op)
            opname = ops[i].name;
    int64_t now = emu_now_ms(em);
    char t[21], account[16];
    time_fmt_iso8601(now / 1000, t);
    const char *arn = c->key && c->key->arn ? c->key->arn : EMULATOR_DEFAULT_ARN;
    emu_account_of(arn, account);
    const char *region = region_of(c);
    const json_t *usage = json_object_get(c->entry, "usage");
    int64_t in = 0, out = 0, cr = 0, cwr = 0;
    json_int(usage, "input", &in);
    json_int(usage, "output", &out);
    json_int(usage, "cacheRead", &cr);
    json_int(usage, "cacheWrite", &cwr);
    json_t *input = json_pack("{s:s, s:I, s:I, s:I}", "inputContentType", "application/json", "inputTokenCount",
                              (json_int_t)in, "cacheReadInputTokenCount", (json_int_t)cr,
                              "cacheWriteInputTokenCount", (json_int_t)cwr);
    size_t n = 0;
    (void)httpd_req_body(c->req, &n);
    if (json_is_true(json_object_get(cfg, "textDataDeliveryEnabled")) && c->body && n <= INVOCATION_LOG_MAX_BODY)
        json_object_set(input, "inputBodyJson", c->body);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:I}}", "schemaType",
                            "ModelInvocationLog", "schemaVersion", "1.0", "timestamp", t, "accountId", account,
                            "identity", "arn", arn, "region", region ? region : ENDPOINT_DEFAULT_REGION, "requestId",
                            c->id, "operation", opname, "modelId", c->model_id, "input", input, "output",
                            "outputContentType", "application/json", "outputTokenCount", (json_int_t)out);
    char *s = rec ? json_dump_compact(rec) : NULL;
    if (s && emu_logs_deliver(em->aws->logs, group, INVOCATION_LOG_STREAM, now, s, strlen(s)))
        emu_note(c, "invocationLogged", json_string(group));
    free(s);
    json_decref(rec);
}

/* ------------------------------------------------------------------ */
/* reading back                                                         */

static bool get_time_range(const json_t *o, int64_t *start, int64_t *end, struct emu_aws_resp *rs)
{
    bool p1, p2;
    *start = 0;
    *end = INT64_MAX;
    if (!get_i64(o, "startTime", &p1, start, rs) || !get_i64(o, "endTime", &p2, end, rs))
        return false;
    if ((p1 && *start < 0) || (p2 && *end < 0))
        return invalid(rs, "startTime and endTime must be >= 0.");
    if (p1 && p2 && *start > *end)
        return invalid(rs, "startTime must be less than or equal to endTime.");
    if (!p1)
        *start = 0;
    if (!p2)
        *end = INT64_MAX;
    return true;
}

static json_t *event_json(const struct lev *v, bool with_id, const char *stream)
{
    json_t *o = json_object();
    if (stream)
        json_object_set_new(o, "logStreamName", json_string(stream));
    json_object_set_new(o, "timestamp", json_integer(v->ts));
    json_t *m = json_stringn(v->msg, v->len);
    json_object_set_new(o, "message", m ? m : json_string(""));
    json_object_set_new(o, "ingestionTime", json_integer(v->ingest));
    if (with_id) {
        char id[48];
        snprintf(id, sizeof id, "%020" PRIu64 "%016" PRIx64, (uint64_t)v->ts, v->seq);
        json_object_set_new(o, "eventId", json_string(id));
    }
    return o;
}

#define READ_MAX_BYTES ((size_t)1048576)

static void op_get_events(struct emu_logs *l, const json_t *o, struct emu_aws_resp *rs)
{
    bool ok;
    struct lgroup *g = find_group_arg(l, o, rs, &ok);
    if (!ok)
        return;
    const char *sname, *tok;
    size_t sl, tl;
    int64_t start, end, limit;
    bool head;
    if (!get_str(o, "logStreamName", true, &sname, &sl, rs) || !check_stream(sname, sl, "logStreamName", rs) ||
        !get_str(o, "nextToken", false, &tok, &tl, rs) || !get_time_range(o, &start, &end, rs) ||
        !get_limit(o, 10000, 10000, &limit, rs) || !get_bool(o, "startFromHead", false, &head, rs))
        return;
    struct lstream *s = stream_get(g, sname);
    if (!s) {
        no_stream(rs);
        return;
    }
    stream_sort(s);
    /* the events in [start, end) */
    size_t lo = 0, hi = s->n;
    while (lo < s->n && s->ev[lo].ts < start)
        lo++;
    hi = lo;
    while (hi < s->n && s->ev[hi].ts < end)
        hi++;
    size_t count = hi - lo, pos;
    bool forward = head;
    if (tok) {
        if (token_num(tok, 'f', &pos))
            forward = true;
        else if (token_num(tok, 'b', &pos))
            forward = false;
        else {
            invalid(rs, "The specified nextToken is invalid.");
            return;
        }
        if (pos > count)
            pos = count;
    } else {
        pos = head ? 0 : count;
    }
    size_t from, to;
    json_t *arr = json_array();
    size_t bytes = 0;
    if (forward) {
        from = to = pos;
        while (to < count && to - from < (size_t)limit && bytes + s->ev[lo + to].len + 26 <= READ_MAX_BYTES) {
            bytes += s->ev[lo + to].len + 26;
            to++;
        }
    } else {
        from = to = pos;
        while (from > 0 && to - from < (size_t)limit && bytes + s->ev[lo + from - 1].len + 26 <= READ_MAX_BYTES) {
            bytes += s->ev[lo + from - 1].len + 26;
            from--;
        }
    }
    for (size_t i = from; i < to; i++)
        json_array_append_new(arr, event_json(&s->ev[lo + i], false, NULL));
    char ft[40], bt[40];
    snprintf(ft, sizeof ft, "f/%zu", to);
    snprintf(bt, sizeof bt, "b/%zu", from);
    emu_aws_json(rs, 200, json_pack("{s:o, s:s, s:s}", "events", arr, "nextForwardToken", ft, "nextBackwardToken", bt));
}

/* Filter patterns: terms that must all appear ("quoted phrases" too); a term
 * with a leading '?' makes the pattern match when any ?-term appears; a
 * leading '-' excludes. JSON ({ $.x = ... }) and space-delimited ([...])
 * patterns are not emulated. */
struct fterm {
    char *s;
    char kind; /* '+' all, '?' any, '-' none */
};

static bool parse_filter(const char *p, struct fterm **out, size_t *n, char *why, size_t whyn)
{
    *out = NULL;
    *n = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (*p == '{' || *p == '[') {
            snprintf(why, whyn, "brock emulate supports only term filter patterns, not JSON or space-delimited ones.");
            goto bad;
        }
        char kind = '+';
        if (*p == '?' || *p == '-') {
            kind = *p;
            p++;
        }
        const char *s = p;
        size_t len;
        if (*p == '"') {
            s = ++p;
            while (*p && *p != '"')
                p++;
            if (!*p) {
                snprintf(why, whyn, "Invalid character(s) in term: unterminated quotation");
                goto bad;
            }
            len = (size_t)(p - s);
            p++;
        } else {
            while (*p && *p != ' ' && *p != '\t')
                p++;
            len = (size_t)(p - s);
        }
        if (!len)
            continue;
        *out = xrealloc(*out, (*n + 1) * sizeof **out);
        (*out)[*n].s = xstrndup(s, len);
        (*out)[(*n)++].kind = kind;
    }
    return true;
bad:
    for (size_t i = 0; i < *n; i++)
        free((*out)[i].s);
    free(*out);
    *out = NULL;
    *n = 0;
    return false;
}

static bool filter_match(const struct fterm *t, size_t n, const struct lev *v)
{
    bool any_q = false, got_q = false;
    for (size_t i = 0; i < n; i++) {
        bool in = memmem(v->msg, v->len, t[i].s, strlen(t[i].s)) != NULL;
        if (t[i].kind == '+' && !in)
            return false;
        if (t[i].kind == '-' && in)
            return false;
        if (t[i].kind == '?') {
            any_q = true;
            got_q |= in;
        }
    }
    return !any_q || got_q;
}

struct fhit {
    const struct lev *v;
    const char *stream;
};

static int fhit_cmp(const void *a, const void *b)
{
    return lev_cmp(((const struct fhit *)a)->v, ((const struct fhit *)b)->v);
}

static void op_filter_events(struct emu_logs *l, const json_t *o, struct emu_aws_resp *rs)
{
    bool ok;
    struct lgroup *g = find_group_arg(l, o, rs, &ok);
    if (!ok)
        return;
    const char *prefix, *pattern, *tok;
    size_t pl, patl, tl;
    int64_t start, end, limit;
    if (!get_str(o, "logStreamNamePrefix", false, &prefix, &pl, rs) ||
        !get_str(o, "filterPattern", false, &pattern, &patl, rs) || !get_str(o, "nextToken", false, &tok, &tl, rs) ||
        !get_time_range(o, &start, &end, rs) || !get_limit(o, 10000, 10000, &limit, rs))
        return;
    const json_t *names = json_object_get(o, "logStreamNames");
    if (names && !json_is_null(names)) {
        if (!json_is_array(names) || json_array_size(names) < 1 || json_array_size(names) > 100) {
            coral(rs, "[...]", "logStreamNames", "Member must have length between 1 and 100");
            return;
        }
        if (prefix) {
            invalid(rs, "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
            return;
        }
        for (size_t i = 0; i < json_array_size(names); i++)
            if (!json_is_string(json_array_get(names, i))) {
                bad_body(rs, "Unexpected value type in 'logStreamNames': expected strings.");
                return;
            }
    } else {
        names = NULL;
    }
    if (pattern && patl > 1024) {
        coral(rs, pattern, "filterPattern", "Member must have length less than or equal to 1024");
        return;
    }
    struct fterm *terms = NULL;
    size_t nterms = 0;
    char why[200];
    if (pattern && !parse_filter(pattern, &terms, &nterms, why, sizeof why)) {
        invalid(rs, why);
        return;
    }
    struct fhit *hits = NULL;
    size_t nh = 0, caph = 0;
    json_t *searched = json_array();
    for (size_t i = 0; i < g->n; i++) {
        struct lstream *s = g->s[i];
        if (prefix && strncmp(s->name, prefix, pl))
            continue;
        if (names) {
            bool want = false;
            for (size_t k = 0; k < json_array_size(names) && !want; k++)
                want = !strcmp(json_string_value(json_array_get(names, k)), s->name);
            if (!want)
                continue;
        }
        json_array_append_new(searched, json_pack("{s:s, s:b}", "logStreamName", s->name, "searchedCompletely", 1));
        stream_sort(s);
        for (size_t k = 0; k < s->n; k++) {
            const struct lev *v = &s->ev[k];
            if (v->ts < start || v->ts >= end || !filter_match(terms, nterms, v))
                continue;
            if (nh == caph) {
                caph = caph ? 2 * caph : 64;
                hits = xrealloc(hits, caph * sizeof *hits);
            }
            hits[nh++] = (struct fhit){v, s->name};
        }
    }
    for (size_t i = 0; i < nterms; i++)
        free(terms[i].s);
    free(terms);
    if (nh)
        qsort(hits, nh, sizeof *hits, fhit_cmp);
    size_t pos = 0;
    if (tok && !token_num(tok, 'p', &pos)) {
        free(hits);
        json_decref(searched);
        invalid(rs, "The specified nextToken is invalid.");
        return;
    }
    json_t *arr = json_array();
    size_t i = pos, bytes = 0;
    for (; i < nh && json_array_size(arr) < (size_t)limit && bytes + hits[i].v->len + 26 <= READ_MAX_BYTES; i++) {
        bytes += hits[i].v->len + 26;
        json_array_append_new(arr, event_json(hits[i].v, true, hits[i].stream));
    }
    json_t *out = json_pack("{s:o, s:o}", "events", arr, "searchedLogStreams", searched);
    if (i < nh) {
        char t[40];
        snprintf(t, sizeof t, "p/%zu", i);
        json_object_set_new(out, "nextToken", json_string(t));
    }
    free(hits);
    emu_aws_json(rs, 200, out);
}

/* ------------------------------------------------------------------ */
/* dispatch and the control dump                                        */

void emu_logs_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    struct emu_logs *l = a->logs;
    rs->ctype = "application/x-amz-json-1.1";
    json_t *o = body_object(rq, rs);
    if (!o)
        return;
    const char *op = rq->op ? rq->op : "";
    if (!strcmp(op, "CreateLogGroup"))
        op_create_group(l, rq, o, rs);
    else if (!strcmp(op, "DeleteLogGroup"))
        op_delete_group(l, o, rs);
    else if (!strcmp(op, "DescribeLogGroups"))
        op_describe_groups(l, rq, o, rs);
    else if (!strcmp(op, "CreateLogStream"))
        op_create_stream(l, rq, o, rs);
    else if (!strcmp(op, "DeleteLogStream"))
        op_delete_stream(l, o, rs);
    else if (!strcmp(op, "DescribeLogStreams"))
        op_describe_streams(l, rq, o, rs);
    else if (!strcmp(op, "PutRetentionPolicy"))
        op_put_retention(l, o, rs);
    else if (!strcmp(op, "DeleteRetentionPolicy"))
        op_delete_retention(l, o, rs);
    else if (!strcmp(op, "PutLogEvents"))
        op_put_events(a, rq, o, rs);
    else if (!strcmp(op, "GetLogEvents"))
        op_get_events(l, o, rs);
    else if (!strcmp(op, "FilterLogEvents"))
        op_filter_events(l, o, rs);
    else
        emu_aws_fail(rs, 400, "UnknownOperationException", NULL,
                     "brock emulate does not implement CloudWatch Logs operation %.80s.", op);
    json_decref(o);
}

json_t *emu_logs_dump(struct emu_aws *a, const char *group_filter)
{
    struct emu_logs *l = a->logs;
    json_t *groups = json_array();
    for (size_t i = 0; i < l->n; i++) {
        struct lgroup *g = l->g[i];
        if (group_filter && strcmp(g->name, group_filter))
            continue;
        json_t *streams = json_array();
        for (size_t k = 0; k < g->n; k++) {
            struct lstream *s = g->s[k];
            stream_sort(s);
            json_t *evs = json_array();
            for (size_t e = 0; e < s->n; e++)
                json_array_append_new(evs, event_json(&s->ev[e], false, NULL));
            json_array_append_new(streams, json_pack("{s:s, s:I, s:I, s:o}", "logStreamName", s->name, "creationTime",
                                                     (json_int_t)s->created, "eventCount", (json_int_t)s->n, "events",
                                                     evs));
        }
        json_t *go = json_pack("{s:s, s:I, s:I, s:o}", "logGroupName", g->name, "creationTime", (json_int_t)g->created,
                               "storedBytes", (json_int_t)g->bytes, "logStreams", streams);
        if (g->retention)
            json_object_set_new(go, "retentionInDays", json_integer(g->retention));
        if (g->tags)
            json_object_set(go, "tags", g->tags);
        json_array_append_new(groups, go);
    }
    json_t *emf = json_pack("{s:I, s:I, s:I, s:I, s:O}", "events", (json_int_t)l->emf.events, "datapoints",
                            (json_int_t)l->emf.datapoints, "parsingErrors", (json_int_t)l->emf.parsing_errors,
                            "validationErrors", (json_int_t)l->emf.validation_errors, "lastErrors",
                            l->emf.last_errors);
    return json_pack("{s:o, s:o}", "logGroups", groups, "emf", emf);
}
