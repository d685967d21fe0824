/* audit.c - build one audit event (JSON + EMF) and spool it (audit.h).
 *
 * The event is written by hand into a struct buf rather than through
 * jansson: it is on the request path, its field order is part of the format
 * (the _aws directive first, as the EMF examples have it), and every string
 * goes through the redactor and the UTF-8 cleaner anyway. */
#include "audit.h"

#include <string.h>

#include "../aws/awserr.h"
#include "../aws/crypto.h"
#include "../bedrock/catalog.h"
#include "../util/log.h"
#include "../util/timeutil.h"

static const struct audit_metric metrics[AUDIT_METRIC_COUNT] = {
    {"InputTokens", "Count"},      {"OutputTokens", "Count"}, {"CacheReadTokens", "Count"},
    {"CacheWriteTokens", "Count"}, {"CostUSD", "None"},       {"LatencyMs", "Milliseconds"},
    {"Throttles", "Count"},        {"Errors", "Count"},       {"CacheHits", "Count"},
};

const struct audit_metric *audit_metrics(void)
{
    return metrics;
}

/* Redacted text is scanned this far past the cap, so a secret that starts
 * before the cut is still seen whole (tokens are far shorter; a private key
 * block without its END line is redacted to the end of what was scanned). */
#define SCAN_SLACK ((size_t)16 * 1024)

struct ev {
    struct buf *out;
    struct buf tmp; /* redaction scratch */
    size_t redactions;
    bool first; /* the next member opens an object: no comma */
};

static void key(struct ev *v, const char *k)
{
    if (!v->first)
        buf_addc(v->out, ',');
    v->first = false;
    buf_addc(v->out, '"');
    buf_addstr(v->out, k);
    buf_add(v->out, "\":", 2);
}

/* NUL is legal JSON (\u0000) but trips many EMF and log readers: U+FFFD. */
static void strip_nul(struct buf *b)
{
    if (!b->len || !memchr(b->ptr, '\0', b->len))
        return;
    struct buf c = BUF_INIT(b->max + 2 * b->len);
    for (size_t i = 0; i < b->len; i++) {
        if (b->ptr[i])
            buf_addc(&c, b->ptr[i]);
        else
            buf_add(&c, "\xef\xbf\xbd", 3);
    }
    buf_free(b);
    *b = c;
}

/* Redact s[0..n) (looking at most cap + SCAN_SLACK bytes), cut it at `cap`
 * on a character boundary, and leave the result in v->tmp. Returns the
 * redacted length before the cut. */
static size_t redact_cut(struct ev *v, const char *s, size_t n, size_t cap, bool mark)
{
    buf_reset(&v->tmp);
    size_t scan = n > cap + SCAN_SLACK ? cap + SCAN_SLACK : n;
    v->redactions += audit_redact(&v->tmp, s, scan, NULL);
    size_t full = v->tmp.len + (n - scan);
    strip_nul(&v->tmp);
    if (v->tmp.len > cap || scan < n) {
        size_t keep = monitor_utf8_cut(v->tmp.ptr, v->tmp.len, cap);
        buf_truncate(&v->tmp, keep);
        if (mark)
            buf_addf(&v->tmp, "[... truncated by brock: %zu bytes]", full);
    }
    return full;
}

static void text(struct ev *v, const char *k, const char *s, size_t cap)
{
    key(v, k);
    if (!s) {
        buf_add(v->out, "null", 4);
        return;
    }
    redact_cut(v, s, strlen(s), cap, true);
    monitor_json_str(v->out, buf_cstr(&v->tmp), v->tmp.len);
}

static void num(struct ev *v, const char *k, double d)
{
    key(v, k);
    monitor_json_num(v->out, d);
}

static void integer(struct ev *v, const char *k, int64_t i)
{
    key(v, k);
    buf_addi64(v->out, i);
}

static void boolean(struct ev *v, const char *k, bool b)
{
    key(v, k);
    buf_addstr(v->out, b ? "true" : "false");
}

/* A dimension value: redacted, <= 1024 bytes, never empty. */
static void dim(struct ev *v, const char *k, const char *s)
{
    key(v, k);
    if (!s || !*s) {
        buf_addstr(v->out, "\"unknown\"");
        return;
    }
    redact_cut(v, s, strlen(s), AUDIT_DIM_VALUE_MAX, false);
    /* cleaning may grow invalid bytes to U+FFFD: cut again after cleaning */
    if (!monitor_utf8_valid(v->tmp.ptr, v->tmp.len)) {
        struct buf c = BUF_INIT(4 * AUDIT_DIM_VALUE_MAX);
        monitor_utf8_clean(&c, v->tmp.ptr, v->tmp.len);
        buf_reset(&v->tmp);
        buf_add(&v->tmp, c.ptr, monitor_utf8_cut(c.ptr, c.len, AUDIT_DIM_VALUE_MAX));
        buf_free(&c);
    }
    monitor_json_str(v->out, buf_cstr(&v->tmp), v->tmp.len);
}

/* The Model dimension: the catalog's base id of the model that served the
 * call (so us., eu., global. profiles and ARNs of one model are one series),
 * else the id as given (an application profile ARN, an unknown model). */
static const char *model_dim(const struct audit_call *c)
{
    const char *ids[2] = {c->profile, c->model};
    for (int i = 0; i < 2; i++) {
        enum model_geo geo;
        const struct model_info *m = ids[i] && *ids[i] ? catalog_find(ids[i], &geo) : NULL;
        if (m)
            return m->base_id;
    }
    return c->model && *c->model ? c->model : c->profile;
}

/* The user name in a caller ARN: what follows the last '/' (or ':'). */
static const char *arn_user(const char *arn)
{
    if (!arn || !*arn)
        return NULL;
    const char *s = strrchr(arn, '/');
    if (!s)
        s = strrchr(arn, ':');
    return s && s[1] ? s + 1 : arn;
}

static void emf_directive(struct ev *v, const struct monitor_config *cfg, int64_t ts)
{
    buf_addstr(v->out, "\"_aws\":{\"Timestamp\":");
    buf_addi64(v->out, ts);
    buf_addstr(v->out, ",\"CloudWatchMetrics\":[{\"Namespace\":");
    monitor_json_str(v->out, cfg->metric_namespace, strlen(cfg->metric_namespace));
    buf_addstr(v->out, ",\"Dimensions\":[");
    for (size_t s = 0; s < cfg->n_dim_sets; s++) {
        buf_addstr(v->out, s ? ",[" : "[");
        bool first = true;
        for (unsigned d = 1; d < (1u << MONITOR_DIM_COUNT); d <<= 1) {
            if (!(cfg->dim_sets[s] & d))
                continue;
            if (!first)
                buf_addc(v->out, ',');
            buf_addc(v->out, '"');
            buf_addstr(v->out, monitor_dim_name((enum monitor_dim)d));
            buf_addc(v->out, '"');
            first = false;
        }
        buf_addc(v->out, ']');
    }
    buf_addstr(v->out, "],\"Metrics\":[");
    for (size_t i = 0; i < AUDIT_METRIC_COUNT; i++) {
        buf_addstr(v->out, i ? ",{\"Name\":\"" : "{\"Name\":\"");
        buf_addstr(v->out, metrics[i].name);
        buf_addstr(v->out, "\",\"Unit\":\"");
        buf_addstr(v->out, metrics[i].unit);
        buf_addstr(v->out, "\"}");
    }
    buf_addstr(v->out, "]}]},");
}

enum brock_status audit_build(const struct monitor_config *cfg, const struct audit_call *c, int64_t now_ms,
                              struct buf *out, size_t *redactions, struct brock_err *e)
{
    if (!cfg || !c || !out)
        return err_set(e, BROCK_ERR_USAGE, "audit: no call to record");
    int64_t ts = c->time_ms ? c->time_ms : now_ms;
    struct ev v = {.out = out, .tmp = BUF_INIT(4 * (AUDIT_CONTENT_MAX + SCAN_SLACK) + 256)};
    /* the redacted prompt (hash, and the text with "full"); markers can make
     * text at most about three times longer */
    struct buf rp = BUF_INIT(4 * (c && c->prompt ? c->prompt_len : 0) + 256);
    (void)buf_reserve(&v.tmp, 1024); /* the scratch every text field passes through */
    size_t start = out->len;

    const char *status = c->status && *c->status ? c->status : c->error_code && *c->error_code ? c->error_code : "ok";
    bool ok = !strcmp(status, "ok");
    int throttles = c->throttles > 0 ? c->throttles : 0;
    if (!throttles &&
        ((c->error_code && awserr_is_throttling_code(c->error_code)) || awserr_is_throttling_code(status)))
        throttles = 1;

    buf_addc(out, '{');
    if (cfg->metrics == MONITOR_METRICS_EMF)
        emf_directive(&v, cfg, ts); /* ends with ',' */
    /* dimensions and metrics: top-level members, as EMF requires */
    v.first = true;
    dim(&v, "Model", model_dim(c));
    dim(&v, "Project", c->project);
    dim(&v, "User", c->user && *c->user ? c->user : arn_user(c->caller_arn));
    const struct model_usage *u = &c->usage;
    integer(&v, metrics[0].name, u->input_tokens);
    integer(&v, metrics[1].name, u->output_tokens);
    integer(&v, metrics[2].name, u->cache_read_tokens);
    integer(&v, metrics[3].name, u->cache_write_tokens);
    num(&v, metrics[4].name, c->cost_usd >= 0 ? c->cost_usd : 0);
    num(&v, metrics[5].name, c->latency_ms >= 0 ? c->latency_ms : 0);
    integer(&v, metrics[6].name, throttles);
    integer(&v, metrics[7].name, ok ? 0 : 1);
    integer(&v, metrics[8].name, c->cache_hit ? 1 : 0);

    key(&v, "schema");
    buf_addstr(out, "\"" AUDIT_SCHEMA "\"");
    key(&v, "event");
    buf_addstr(out, "\"model_call\"");
    char iso[21];
    int64_t secs = ts >= 0 ? ts / 1000 : -((-ts + 999) / 1000);
    time_fmt_iso8601(secs, iso);
    key(&v, "time");
    buf_addf(out, "\"%.19s.%03dZ\"", iso, (int)(ts - secs * 1000));
    integer(&v, "timestamp", ts);

    key(&v, "who");
    buf_addc(out, '{');
    v.first = true;
    text(&v, "arn", c->caller_arn, AUDIT_FIELD_MAX);
    text(&v, "account", c->account, AUDIT_FIELD_MAX);
    text(&v, "user", c->user && *c->user ? c->user : arn_user(c->caller_arn), AUDIT_FIELD_MAX);
    buf_addc(out, '}');

    text(&v, "project", c->project, AUDIT_FIELD_MAX);
    text(&v, "session", c->session_id, AUDIT_FIELD_MAX);
    text(&v, "model", c->model, AUDIT_FIELD_MAX);
    text(&v, "profile", c->profile, AUDIT_FIELD_MAX);
    text(&v, "region", c->region, AUDIT_FIELD_MAX);
    text(&v, "api", c->api, AUDIT_FIELD_MAX);
    text(&v, "purpose", c->purpose, AUDIT_FIELD_MAX);
    num(&v, "ttft_ms", c->ttft_ms >= 0 ? c->ttft_ms : 0);
    integer(&v, "retries", c->retries > 0 ? c->retries : 0);
    text(&v, "status", status, AUDIT_FIELD_MAX);
    text(&v, "error_code", c->error_code && *c->error_code ? c->error_code : NULL, AUDIT_FIELD_MAX);
    text(&v, "request_id", c->request_id && *c->request_id ? c->request_id : NULL, AUDIT_FIELD_MAX);
    boolean(&v, "cache_hit", c->cache_hit);
    key(&v, "log_content");
    buf_addf(out, "\"%s\"", monitor_content_name(cfg->content));

    if (cfg->content != MONITOR_CONTENT_NONE) {
        text(&v, "routing", c->routing && *c->routing ? c->routing : NULL, AUDIT_FIELD_MAX);
        text(&v, "error_message", c->error_message && *c->error_message ? c->error_message : NULL, AUDIT_FIELD_MAX);
        integer(&v, "prompt_bytes", (int64_t)(c->prompt ? c->prompt_len : 0));
        integer(&v, "answer_bytes", (int64_t)(c->answer ? c->answer_len : 0));
        key(&v, "prompt_sha256");
        if (c->prompt) {
            /* a hash of the redacted text: repeated prompts can be matched,
             * and no secret can be confirmed by guessing */
            v.redactions += audit_redact(&rp, c->prompt, c->prompt_len, NULL);
            char hex[SHA256_HEX_LEN + 1];
            crypto_sha256_hex(buf_cstr(&rp), rp.len, hex);
            buf_addf(out, "\"%s\"", hex);
        } else {
            buf_addstr(out, "null");
        }
        key(&v, "tools");
        buf_addc(out, '[');
        for (size_t i = 0; c->tools && i < c->n_tools && i < AUDIT_MAX_TOOLS; i++) {
            if (i)
                buf_addc(out, ',');
            const char *t = c->tools[i] ? c->tools[i] : "";
            redact_cut(&v, t, strlen(t), 256, false);
            monitor_json_str(out, buf_cstr(&v.tmp), v.tmp.len);
        }
        buf_addc(out, ']');
    }
    if (cfg->content == MONITOR_CONTENT_FULL) {
        key(&v, "prompt");
        if (c->prompt) {
            /* the text redacted for the hash above, cut */
            size_t keep = monitor_utf8_cut(buf_cstr(&rp), rp.len, AUDIT_CONTENT_MAX);
            if (keep < rp.len) {
                size_t full = rp.len;
                buf_truncate(&rp, keep);
                buf_addf(&rp, "[... truncated by brock: %zu bytes]", full);
            }
            strip_nul(&rp);
            monitor_json_str(out, buf_cstr(&rp), rp.len);
        } else {
            buf_addstr(out, "null");
        }
        key(&v, "answer");
        if (c->answer) {
            redact_cut(&v, c->answer, c->answer_len, AUDIT_CONTENT_MAX, true);
            monitor_json_str(out, buf_cstr(&v.tmp), v.tmp.len);
        } else {
            buf_addstr(out, "null");
        }
    }
    buf_addc(out, '}');
    buf_free(&v.tmp);
    buf_free(&rp);

    if (redactions)
        *redactions = v.redactions;
    if (buf_status(out) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "audit: the event does not fit in %zu bytes", out->max);
    if (out->len - start > AUDIT_EVENT_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "audit: the event is %zu bytes, over the %zu-byte cap", out->len - start,
                       AUDIT_EVENT_MAX);
    return BROCK_OK;
}

enum brock_status audit_spool_prune(struct store *s, int64_t now_ms, size_t *dropped, struct brock_err *e)
{
    size_t n = 0;
    if (dropped)
        *dropped = 0;
    if (!s)
        return err_set(e, BROCK_ERR_USAGE, "audit: no store to prune");
    int64_t now = now_ms ? now_ms : time_now_ms();
    enum brock_status st = store_spool_prune(s, now - AUDIT_SPOOL_MAX_AGE_MS, AUDIT_SPOOL_PRUNE_ROWS, &n, e);
    if (st == BROCK_OK && n)
        log_info("dropped %zu audit events older than 14 days from the spool (shipping is off, and CloudWatch Logs "
                 "refuses events that old)",
                 n);
    if (dropped)
        *dropped = n;
    return st;
}

enum brock_status audit_record(struct store *s, const struct monitor_config *cfg, const struct audit_call *c,
                               int64_t now_ms, struct brock_err *e)
{
    if (!s)
        return err_set(e, BROCK_ERR_USAGE, "audit: no store to spool the event in");
    struct buf ev = BUF_INIT(AUDIT_EVENT_MAX);
    (void)buf_reserve(&ev, 4096); /* one allocation for a usual event, not a doubling from 64 bytes */
    int64_t now = now_ms ? now_ms : time_now_ms();
    enum brock_status st = audit_build(cfg, c, now, &ev, NULL, e);
    if (st == BROCK_OK)
        st = store_spool_append(s, c->time_ms ? c->time_ms : now, ev.ptr, ev.len, NULL, e);
    buf_free(&ev);
    return st;
}
