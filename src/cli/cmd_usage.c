/* cmd_usage.c - `brock usage`, and the cost set-up every model-calling
 * command shares (cli_cost_prepare: the caller's identity, prices, budget,
 * routing, response cache, fallback and the audit event around each call).
 *
 *   brock usage [day|model|project|user|all]... [--since WHEN] [--json]
 *
 * Reads the usage ledger (store.h): spend per UTC day and tokens per model
 * by default, as bar charts fitted to the terminal (term.h: width, colour,
 * NO_COLOR, UTF-8 or ASCII bars); --json gives every grouping asked for
 * (all four by default) as one object. WHEN is a date (2026-08-01, UTC), an
 * ISO 8601 time, Nd (the last N UTC days, today included), Nh (hours),
 * `today`, `month` or `all`; the default is 30d. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent/agent.h"
#include "../agent/ledger.h"
#include "../agent/router.h"
#include "../agent/settings.h"
#include "../aws/crypto.h"
#include "../aws/sts.h"
#include "../bedrock/bedrock.h"
#include "../bedrock/pricing.h"
#include "../monitor/audit.h"
#include "../store/store.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/timeutil.h"
#include "cli.h"
#include "exitcode.h"
#include "runtime.h"
#include "term.h"

#define USAGE_DEFAULT_SINCE "30d"
#define IDENTITY_TIMEOUT_MS 5000

/* ---- --since ------------------------------------------------------------------ */

static bool parse_date(const char *s, int64_t *ms)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    unsigned y = 0, m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0'),
             d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
    for (int i = 0; i < 4; i++)
        y = y * 10 + (unsigned)(s[i] - '0');
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return false;
    *ms = time_days_from_civil(y, m, d) * STORE_DAY_MS;
    return true;
}

/* `when` relative to now_ms -> ms since the epoch (0 = everything). */
static enum brock_status parse_since(const char *when, int64_t now_ms, int64_t *since, struct brock_err *e)
{
    int64_t today = store_utc_day_start(now_ms);
    if (!strcmp(when, "all")) {
        *since = 0;
        return BROCK_OK;
    }
    if (!strcmp(when, "today")) {
        *since = today;
        return BROCK_OK;
    }
    if (!strcmp(when, "month")) {
        *since = store_utc_month_start(now_ms);
        return BROCK_OK;
    }
    size_t n = strlen(when);
    if (n >= 2 && n <= 6 && (when[n - 1] == 'd' || when[n - 1] == 'h')) {
        char *end;
        errno = 0;
        long v = strtol(when, &end, 10);
        if (!errno && end == when + n - 1 && v >= 1 && v <= 36500 && when[0] != '+' && when[0] != '-') {
            *since = when[n - 1] == 'd' ? today - (int64_t)(v - 1) * STORE_DAY_MS : now_ms - (int64_t)v * 3600000;
            return BROCK_OK;
        }
    }
    if (parse_date(when, since))
        return BROCK_OK;
    if (strchr(when, 'T') && time_parse_iso8601(when, since) && *since >= 0)
        return BROCK_OK;
    return err_set(e, BROCK_ERR_USAGE,
                   "--since: expected a date (2026-08-01), a time (2026-08-01T12:00:00Z), a number of days (7d, "
                   "30d) or hours (12h), today, month or all; got '%.64s'",
                   when);
}

/* ---- numbers -------------------------------------------------------------------- */

static void fmt_usd(char *out, size_t n, double usd)
{
    snprintf(out, n, usd < 1000 ? "$%.4f" : "$%.2f", usd);
}

static void fmt_tokens(char *out, size_t n, int64_t v)
{
    if (v < 1000)
        snprintf(out, n, "%lld", (long long)v);
    else if (v < 1000000)
        snprintf(out, n, "%.1fk", (double)v / 1e3);
    else if (v < 1000000000)
        snprintf(out, n, "%.2fM", (double)v / 1e6);
    else
        snprintf(out, n, "%.2fB", (double)v / 1e9);
}

static int64_t all_tokens(const struct store_usage_row *r)
{
    return r->input_tokens + r->output_tokens + r->cache_read_tokens + r->cache_write_tokens;
}

/* ---- text ------------------------------------------------------------------------ */

struct chart {
    const char *key_head;
    bool tokens; /* bars of tokens (else USD) */
    bool path;   /* keys are paths or ARNs: cut on the left, keeping the end */
};

static const struct chart charts[] = {
    [STORE_BY_DAY] = {"Spend per day (USD, UTC days)", false, false},
    [STORE_BY_MODEL] = {"Tokens per model", true, false},
    [STORE_BY_PROJECT] = {"Spend per project (USD)", false, true},
    [STORE_BY_USER] = {"Spend per user (USD)", false, true}, /* ARNs: keep the name at the end */
};

/* What a chart shows of a key: model ids without the "anthropic." every
 * Claude id starts with (--json keeps the whole id). */
static const char *shown_key(const char *key, enum store_group by)
{
    if (!*key)
        return "(unknown)";
    if (by == STORE_BY_MODEL && !strncmp(key, "anthropic.", 10) && key[10])
        return key + 10;
    return key;
}

/* The key, sanitised and fitted into `cols` columns (paths keep their end). */
static void fit_key(struct buf *out, const char *key, size_t cols, bool path, bool unicode)
{
    size_t n = strlen(key);
    struct buf clean = BUF_INIT(STORE_TEXT_MAX * 8);
    term_sanitize(&clean, key, n, TERM_SAN_ONELINE);
    const char *s = buf_cstr(&clean);
    size_t len = clean.len;
    if (path && term_display_width(s, len) > cols && cols > 1) {
        /* keep the tail that fits after the ellipsis */
        size_t off = 0;
        while (off < len && term_display_width(s + off, len - off) > cols - (unicode ? 1 : 3)) {
            size_t w;
            off += term_next_cluster(s + off, len - off, &w);
        }
        buf_addstr(out, unicode ? "\xe2\x80\xa6" : "...");
        buf_add(out, s + off, len - off);
    } else {
        term_fit(out, s, len, cols, unicode);
    }
    buf_free(&clean);
}

static void pad(struct buf *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_addc(out, ' ');
}

static void bar(struct buf *out, double frac, size_t cols, const struct term_caps *caps)
{
    if (frac < 0 || !isfinite(frac))
        frac = 0;
    if (frac > 1)
        frac = 1;
    size_t eighths = (size_t)llround(frac * (double)cols * 8);
    if (frac > 0 && eighths == 0)
        eighths = 1; /* something was spent: show it */
    size_t used;
    if (caps->color)
        term_sgr(out, TERM_FG(TERM_CYAN));
    if (caps->unicode) {
        static const char *const part[] = {"", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d",
                                           "\xe2\x96\x8c", "\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89"};
        for (size_t i = 0; i < eighths / 8; i++)
            buf_addstr(out, "\xe2\x96\x88");
        buf_addstr(out, part[eighths % 8]);
        used = eighths / 8 + (eighths % 8 ? 1 : 0);
    } else {
        size_t whole = (eighths + 4) / 8;
        if (!whole && eighths)
            whole = 1;
        for (size_t i = 0; i < whole; i++)
            buf_addc(out, '#');
        used = whole;
    }
    if (caps->color)
        term_sgr(out, 0);
    pad(out, used < cols ? cols - used : 0);
}

static int cmp_tokens(const void *a, const void *b)
{
    const struct store_usage_row *x = a, *y = b;
    int64_t tx = all_tokens(x), ty = all_tokens(y);
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int cmp_cost(const void *a, const void *b)
{
    const struct store_usage_row *x = a, *y = b;
    if (x->cost_usd != y->cost_usd)
        return x->cost_usd > y->cost_usd ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void render_chart(struct buf *out, enum store_group by, struct store_usage *u, const char *since_text,
                         const struct term_caps *caps)
{
    const struct chart *c = &charts[by];
    if (u->n > 1 && by == STORE_BY_MODEL)
        qsort(u->rows, u->n, sizeof *u->rows, cmp_tokens);
    else if (u->n > 1 && by != STORE_BY_DAY)
        qsort(u->rows, u->n, sizeof *u->rows, cmp_cost);
    if (caps->color)
        term_sgr(out, TERM_BOLD);
    buf_addf(out, "%s, %s", c->key_head, since_text);
    if (caps->color)
        term_sgr(out, 0);
    buf_addc(out, '\n');
    if (!u->n) {
        buf_addstr(out, "  no model calls\n");
        return;
    }
    char (*val)[32] = xcalloc(u->n, sizeof *val);
    char (*extra)[128] = xcalloc(u->n, sizeof *extra);
    size_t kw = 0, vw = 0, xw = 0;
    double max = 0;
    for (size_t i = 0; i < u->n; i++) {
        const struct store_usage_row *r = &u->rows[i];
        char usd[32];
        fmt_usd(usd, sizeof usd, r->cost_usd);
        if (c->tokens) {
            fmt_tokens(val[i], sizeof val[i], all_tokens(r));
            char in[16], outk[16];
            fmt_tokens(in, sizeof in, r->input_tokens + r->cache_read_tokens + r->cache_write_tokens);
            fmt_tokens(outk, sizeof outk, r->output_tokens);
            snprintf(extra[i], sizeof extra[i], "%s in, %s out, %s", in, outk, usd);
            if ((double)all_tokens(r) > max)
                max = (double)all_tokens(r);
        } else {
            snprintf(val[i], sizeof val[i], "%s", usd);
            snprintf(extra[i], sizeof extra[i], "%lld call%s", (long long)r->calls, r->calls == 1 ? "" : "s");
            if (r->cost_usd > max)
                max = r->cost_usd;
        }
        const char *k = shown_key(r->key, by);
        size_t w = term_display_width(k, strlen(k));
        if (w > kw)
            kw = w;
        if (strlen(val[i]) > vw)
            vw = strlen(val[i]);
        if (strlen(extra[i]) > xw)
            xw = strlen(extra[i]);
    }
    size_t width = caps->width > 0 ? (size_t)caps->width : 80;
    size_t kmax = width * 2 / 5 > 16 ? width * 2 / 5 : 16;
    if (kw > kmax)
        kw = kmax;
    size_t fixed = 2 + kw + 2 + 2 + vw + 2 + xw;
    size_t bw = width > fixed + 8 ? width - fixed : 8;
    for (size_t i = 0; i < u->n; i++) {
        const struct store_usage_row *r = &u->rows[i];
        struct buf k = BUF_INIT(STORE_TEXT_MAX * 8);
        fit_key(&k, shown_key(r->key, by), kw, c->path, caps->unicode);
        buf_addstr(out, "  ");
        buf_add(out, k.ptr ? k.ptr : "", k.len);
        pad(out, kw - term_display_width(buf_cstr(&k), k.len));
        buf_free(&k);
        buf_addstr(out, "  ");
        double v = c->tokens ? (double)all_tokens(r) : r->cost_usd;
        bar(out, max > 0 ? v / max : 0, bw, caps);
        buf_addstr(out, "  ");
        pad(out, vw - strlen(val[i]));
        buf_addstr(out, val[i]);
        buf_addstr(out, "  ");
        buf_addstr(out, extra[i]);
        /* no trailing blanks */
        while (out->len && out->ptr[out->len - 1] == ' ')
            buf_truncate(out, out->len - 1);
        buf_addc(out, '\n');
    }
    free(val);
    free(extra);
}

static void render_total(struct buf *out, const struct store_usage_row *t)
{
    char usd[32], in[16], o[16], cr[16], cw[16];
    fmt_usd(usd, sizeof usd, t->cost_usd);
    fmt_tokens(in, sizeof in, t->input_tokens);
    fmt_tokens(o, sizeof o, t->output_tokens);
    fmt_tokens(cr, sizeof cr, t->cache_read_tokens);
    fmt_tokens(cw, sizeof cw, t->cache_write_tokens);
    buf_addf(out, "Total: %s in %lld call%s", usd, (long long)t->calls, t->calls == 1 ? "" : "s");
    if (t->cache_hits || t->errors) {
        buf_addstr(out, " (");
        if (t->cache_hits)
            buf_addf(out, "%lld from the response cache", (long long)t->cache_hits);
        if (t->cache_hits && t->errors)
            buf_addstr(out, ", ");
        if (t->errors)
            buf_addf(out, "%lld failed", (long long)t->errors);
        buf_addc(out, ')');
    }
    buf_addf(out, "; tokens: %s in, %s out, %s cache read, %s cache write\n", in, o, cr, cw);
}

/* ---- JSON ------------------------------------------------------------------------- */

static json_t *row_json(const char *keyname, const struct store_usage_row *r)
{
    json_t *o = json_object();
    if (keyname)
        json_object_set_new(o, keyname, json_string(r->key ? r->key : ""));
    json_object_set_new(o, "calls", json_integer(r->calls));
    json_object_set_new(o, "input_tokens", json_integer(r->input_tokens));
    json_object_set_new(o, "output_tokens", json_integer(r->output_tokens));
    json_object_set_new(o, "cache_read_tokens", json_integer(r->cache_read_tokens));
    json_object_set_new(o, "cache_write_tokens", json_integer(r->cache_write_tokens));
    json_object_set_new(o, "cache_hits", json_integer(r->cache_hits));
    json_object_set_new(o, "errors", json_integer(r->errors));
    json_object_set_new(o, "cost_usd", json_real(isfinite(r->cost_usd) ? r->cost_usd : 0));
    json_object_set_new(o, "latency_ms_mean", json_real(isfinite(r->latency_ms_mean) ? r->latency_ms_mean : 0));
    if (keyname && !json_object_get(o, keyname)) /* a key that is not UTF-8 (damaged file) */
        json_object_set_new(o, keyname, json_string("?"));
    return o;
}

/* ---- the command -------------------------------------------------------------------- */

static const char *const group_names[] = {[STORE_BY_DAY] = "day", [STORE_BY_MODEL] = "model",
                                          [STORE_BY_PROJECT] = "project", [STORE_BY_USER] = "user"};

int cmd_usage(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    bool want[4] = {false, false, false, false};
    bool any = false;
    for (size_t i = 0; i < cfg->nargs; i++) {
        bool ok = false;
        for (int g = 0; g < 4; g++) {
            if (!strcmp(cfg->args[i], group_names[g]) || !strcmp(cfg->args[i], "all")) {
                want[g] = true;
                ok = any = true;
            }
        }
        if (!ok) {
            fprintf(stderr, "brock: usage: unknown grouping '%s' (day, model, project, user or all)\n", cfg->args[i]);
            return EXIT_USAGE;
        }
    }
    if (!any) {
        want[STORE_BY_DAY] = want[STORE_BY_MODEL] = true;
        if (cfg->json)
            want[STORE_BY_PROJECT] = want[STORE_BY_USER] = true;
    }
    int64_t now = time_now_ms(), since;
    if (parse_since(cfg->since ? cfg->since : USAGE_DEFAULT_SINCE, now, &since, &e) != BROCK_OK)
        return cli_fail(&e);
    struct store *s = NULL;
    if (store_open(NULL, &s, &e) != BROCK_OK)
        return cli_fail(&e);
    struct store_ledger_filter f = {.since_ms = since};
    struct store_usage u[4];
    memset(u, 0, sizeof u);
    enum brock_status st = BROCK_OK;
    for (int g = 0; g < 4 && st == BROCK_OK; g++)
        if (want[g])
            st = store_ledger_usage(s, (enum store_group)g, &f, &u[g], &e);
    char since_iso[21] = "";
    if (since)
        time_fmt_iso8601(since / 1000, since_iso);
    int rc = EXIT_OK;
    if (st != BROCK_OK) {
        rc = cli_fail(&e);
    } else if (cfg->json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "since", since ? json_string(since_iso) : json_null());
        char now_iso[21];
        time_fmt_iso8601(now / 1000, now_iso);
        json_object_set_new(doc, "until", json_string(now_iso));
        const struct store_usage_row *tot = NULL;
        for (int g = 0; g < 4; g++)
            if (want[g] && !tot)
                tot = &u[g].total;
        json_object_set_new(doc, "total", row_json(NULL, tot));
        for (int g = 0; g < 4; g++) {
            if (!want[g])
                continue;
            json_t *arr = json_array();
            for (size_t i = 0; i < u[g].n; i++)
                json_array_append_new(arr, row_json(group_names[g], &u[g].rows[i]));
            char name[16];
            snprintf(name, sizeof name, "by_%s", group_names[g]);
            json_object_set_new(doc, name, arr);
        }
        char *txt = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(txt);
        free(txt);
        json_decref(doc);
    } else {
        struct term_caps caps;
        term_caps_detect(&caps, cfg->no_color);
        char since_text[64];
        if (since)
            snprintf(since_text, sizeof since_text, "since %.10s%s", since_iso,
                     since % STORE_DAY_MS ? since_iso + 10 : "");
        else
            snprintf(since_text, sizeof since_text, "all time");
        struct buf out = BUF_INIT(BUF_MAX_BODY);
        const struct store_usage_row *tot = NULL;
        bool first = true;
        for (int g = 0; g < 4; g++) {
            if (!want[g])
                continue;
            if (!tot)
                tot = &u[g].total;
            if (!first)
                buf_addc(&out, '\n');
            first = false;
            render_chart(&out, (enum store_group)g, &u[g], since_text, &caps);
        }
        buf_addc(&out, '\n');
        render_total(&out, tot);
        fwrite(out.ptr, 1, out.len, stdout);
        buf_free(&out);
    }
    for (int g = 0; g < 4; g++)
        store_usage_free(&u[g]);
    store_close(s);
    return rc;
}

/* ---- the cost set-up of a run (cli.h) ---------------------------------------------- */

struct cli_cost {
    const struct cli_config *cfg;
    struct runtime *rt;
    struct store *store;
    struct monitor_config mon;
    bool audit_on;
    bool audit_warned;
    struct ledger_identity id;
};

static void cost_note(void *ctx, enum ledger_note_kind kind, const char *text)
{
    struct cli_cost *c = ctx;
    if (kind == LEDGER_NOTE_WARNING)
        fprintf(stderr, "brock: warning: %s\n", text);
    else if (c->cfg->verbose)
        fprintf(stderr, "brock: %s\n", text);
}

static struct model_client *cost_client(void *ctx, const char *region)
{
    struct cli_cost *c = ctx;
    struct runtime *rt = c->rt;
    struct bedrock_region r = {.region = region};
    struct bedrock_config bc = {
        .settings = &rt->settings,
        .regions = &r,
        .n_regions = 1,
        .creds = runtime_creds(rt),
        .bearer_token = rt->emu ? NULL : rt->settings.bearer_token,
        .retry = rt->retry,
        .http = runtime_http_options(rt),
        .endpoint_url = rt->endpoint_url,
    };
    return bedrock_client_new(&bc);
}

/* The tool names of an answer's tool_use blocks (borrowed from it). */
static size_t answer_tools(const struct model_result *res, const char **names, size_t max)
{
    size_t n = 0, i;
    json_t *b;
    json_array_foreach(res ? res->content : NULL, i, b)
    {
        const char *t = json_string_value(json_object_get(b, "type"));
        const char *name = json_string_value(json_object_get(b, "name"));
        if (t && !strcmp(t, "tool_use") && name && n < max)
            names[n++] = name;
    }
    return n;
}

static void cost_audit(void *ctx, const struct ledger_record *r)
{
    struct cli_cost *c = ctx;
    if (!c->audit_on || !c->store)
        return;
    char *prompt = NULL, *answer = NULL;
    struct router_input in = {0};
    if (r->req && c->mon.content != MONITOR_CONTENT_NONE)
        router_input_from_request(r->req, &in, &prompt);
    if (r->res && c->mon.content != MONITOR_CONTENT_NONE)
        answer = model_result_text(r->res);
    const char *tools[AUDIT_MAX_TOOLS];
    size_t nt = answer_tools(r->res, tools, AUDIT_MAX_TOOLS);
    bool arn = !strncmp(r->user, "arn:", 4);
    bool ok = !strcmp(r->status, "ok");
    struct audit_call ac = {
        .time_ms = r->time_ms,
        .session_id = r->session_id,
        .project = r->project,
        .caller_arn = arn ? r->user : NULL,
        .account = arn && c->id.account[0] ? c->id.account : NULL,
        .user = arn ? NULL : r->user,
        .model = r->model,
        .profile = r->profile,
        .region = r->region,
        .api = r->api,
        .purpose = r->purpose,
        .usage = r->usage,
        .cost_usd = r->cost_usd,
        .latency_ms = r->latency_ms,
        .ttft_ms = r->ttft_ms,
        .retries = r->retries,
        .throttles = strstr(r->status, "Throttl") ? 1 : 0,
        .status = r->status,
        .error_code = ok ? NULL : r->status,
        .error_message = ok ? NULL : r->error,
        .request_id = r->request_id,
        .cache_hit = r->cache_hit,
        .routing = r->routing,
        .prompt = prompt,
        .prompt_len = prompt ? in.len : 0,
        .answer = answer,
        .answer_len = answer ? strlen(answer) : 0,
        .tools = tools,
        .n_tools = nt,
    };
    struct brock_err e = {0};
    if (audit_record(c->store, &c->mon, &ac, 0, &e) != BROCK_OK && !c->audit_warned) {
        c->audit_warned = true;
        fprintf(stderr, "brock: warning: the audit event was not recorded: %s\n", e.msg);
    }
    free(prompt);
    free(answer);
}

static enum brock_status cost_sts(void *ctx, char *arn, size_t arn_cap, char *account, size_t account_cap,
                                  struct brock_err *e)
{
    struct cli_cost *c = ctx;
    struct runtime *rt = c->rt;
    struct http_options ho = runtime_http_options(rt);
    ho.total_timeout_ms = IDENTITY_TIMEOUT_MS;
    ho.connect_timeout_ms = IDENTITY_TIMEOUT_MS;
    struct aws_client_config cc = {
        .region = rt->settings.region.region,
        .lookup = &rt->settings.lookup,
        .endpoint_url = rt->endpoint_url,
        .endpoint_url_services = rt->endpoint_services,
        .endpoint_label = rt->emu ? "--emulator" : "--endpoint-url",
        .creds = runtime_creds(rt),
        .http = ho,
    };
    struct aws_client *ac = aws_client_new(&cc);
    struct sts_identity id;
    enum brock_status st = sts_get_caller_identity(ac, &id, e);
    if (st == BROCK_OK) {
        snprintf(arn, arn_cap, "%s", id.arn);
        snprintf(account, account_cap, "%s", id.account);
    }
    aws_client_free(ac);
    return st;
}

/* A name for the credentials in use that is not secret: a hash of the
 * access key id (an identifier, not a secret), the profile and endpoint. */
static bool identity_key(struct runtime *rt, char out[33])
{
    struct aws_creds_source src = runtime_creds(rt);
    if (!src.get)
        return false;
    struct aws_credentials *cr = NULL;
    if (src.get(src.ctx, &cr, NULL) != BROCK_OK || !cr)
        return false;
    struct buf b = BUF_INIT(4096);
    buf_addf(&b, "brock-identity-1\n%s\n%s\n%s", cr->access_key_id ? cr->access_key_id : "",
             rt->settings.profile_name ? rt->settings.profile_name : "", rt->endpoint_url ? rt->endpoint_url : "");
    aws_credentials_release(cr);
    uint8_t d[SHA256_LEN];
    crypto_sha256(b.ptr, b.len, d);
    buf_free(&b);
    hex_encode(d, 16, out);
    return true;
}

struct cli_cost_priv {
    struct cli_cost c;
    struct ledger_kit *kit;
};

enum brock_status cli_cost_prepare(const struct cli_config *cfg, struct cli_agent *ca, bool interactive,
                                   bool auto_model, struct cli_cost_priv **out, struct brock_err *e)
{
    struct cli_cost_priv *p = xcalloc(1, sizeof *p);
    *out = p;
    p->c.cfg = cfg;
    p->c.rt = ca->rt;
    p->c.store = ca->store;
    const json_t *brock = ca->settings ? ca->settings->brock : NULL;
    enum brock_status st = monitor_config_load(&p->c.mon, brock, NULL, NULL, e);
    if (st != BROCK_OK)
        return st;
    /* events are spooled only when there is somewhere to ship them */
    p->c.audit_on = monitor_shipping_enabled(&p->c.mon);
    if (ca->store) {
        char key[33];
        bool have_key = identity_key(ca->rt, key);
        struct brock_err why = {0};
        ledger_identity_resolve(store_dir(ca->store), have_key ? key : NULL, have_key ? cost_sts : NULL, &p->c,
                                time_now_ms(), &p->c.id, &why);
        if (cfg->verbose)
            fprintf(stderr, "brock: ledger user %s (%s%s%s)\n", p->c.id.arn, p->c.id.source, why.msg[0] ? ": " : "",
                    why.msg);
    }
    struct ledger_kit_options ko = {
        .settings = ca->settings,
        .store = ca->store,
        .cwd = ca->cwd,
        .region = ca->region,
        .main_model_id = ca->model_id,
        .user = p->c.id.arn[0] ? p->c.id.arn : NULL,
        .print_mode = !interactive,
        .auto_model = auto_model,
        .max_budget_usd = cfg->max_budget_usd,
        .ignore_budget = cfg->ignore_budget,
        .cache = cfg->cache,
        .no_cache = cfg->no_cache,
        .client_for_region = cost_client,
        .client_ctx = &p->c,
        .note = cost_note,
        .note_ctx = &p->c,
        .audit = cost_audit,
        .audit_ctx = &p->c,
    };
    if ((st = ledger_kit_new(&ko, &p->kit, e)) != BROCK_OK)
        return st;
    if (cfg->verbose) {
        const struct pricing *pr = ledger_kit_pricing(p->kit);
        fprintf(stderr, "brock: prices from %s (dated %s); project %s\n", pricing_origin(pr), pricing_date(pr),
                ledger_kit_project(p->kit));
    }
    return BROCK_OK;
}

struct ledger *cli_cost_ledger(const struct cli_cost_priv *p)
{
    return p ? ledger_kit_ledger(p->kit) : NULL;
}

const struct pricing *cli_cost_pricing(const struct cli_cost_priv *p)
{
    return p && p->kit ? ledger_kit_pricing(p->kit) : NULL;
}

void cli_cost_close(struct cli_cost_priv *p)
{
    if (!p)
        return;
    ledger_kit_free(p->kit);
    free(p);
}
