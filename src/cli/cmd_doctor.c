/* cmd_doctor.c - `brock doctor`: walk the path from this terminal to Bedrock and
 * say what is right and what to fix: the profile and settings, where the
 * credentials come from (never the secret) and when they expire, who they are
 * (STS GetCallerIdentity, signed by brock, through the endpoint overrides),
 * the region, the Bedrock endpoint (public, VPC endpoint, or local), TLS and
 * the clock. `--json` prints the same as one JSON document. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../aws/bearer.h"
#include "../bedrock/bedrock.h"
#include "../bedrock/catalog.h"
#include "../agent/settings.h"
#include "../monitor/monitor.h"
#include "../aws/creds.h"
#include "../aws/sts.h"
#include "../store/store.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/timeutil.h"
#include "exitcode.h"
#include "runtime.h"

struct doctor {
    json_t *doc;
    json_t *checks;
    int first_failure;
    bool json;
};

static void check(struct doctor *d, const char *name, bool ok, bool warn_only, const char *fmt, ...)
    BROCK_PRINTF(5, 6);

static void check(struct doctor *d, const char *name, bool ok, bool warn_only, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *status = ok ? "ok" : warn_only ? "warn" : "fail";
    json_array_append_new(d->checks, json_pack("{s:s, s:s, s:s}", "name", name, "status", status, "detail", detail));
    if (!d->json)
        printf("%-12s %-4s  %s\n", name, ok ? "ok" : warn_only ? "warn" : "FAIL", detail);
}

static void fail_code(struct doctor *d, int code)
{
    if (!d->first_failure)
        d->first_failure = code;
}

static void mask_key(const char *akid, char *out, size_t n)
{
    size_t l = strlen(akid);
    if (l <= 4)
        snprintf(out, n, "****");
    else
        snprintf(out, n, "****************%s", akid + l - 4);
}

static void fmt_duration(int64_t s, char *out, size_t n)
{
    if (s < 0)
        snprintf(out, n, "expired %lld min ago", (long long)(-s / 60));
    else if (s < 3600)
        snprintf(out, n, "in %lld min", (long long)(s / 60));
    else
        snprintf(out, n, "in %lld h %lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
}

/* What kind of endpoint a URL is: the user's VPC endpoint, a loopback server
 * (the emulator), a custom URL, or the public AWS endpoint. */
static const char *endpoint_kind(const struct endpoint *ep)
{
    if (strstr(ep->host, ".vpce.amazonaws.com") || strstr(ep->host, ".vpce.amazonaws.com.cn"))
        return "VPC interface endpoint";
    if (!strncmp(ep->host, "127.", 4) || !strcmp(ep->host, "[::1]") || !strcmp(ep->host, "localhost"))
        return "loopback (local emulator or proxy)";
    if (ep->partition)
        return "AWS public endpoint (or a VPC endpoint with private DNS)";
    return "custom endpoint";
}

static void resolve_host(const struct endpoint *ep, char *out, size_t n)
{
    char host[ENDPOINT_HOST_MAX];
    snprintf(host, sizeof host, "%s", ep->host);
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        char *rb = strchr(host, ']');
        if (rb)
            *rb = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    snprintf(out, n, "unresolved");
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return;
    size_t o = 0;
    out[0] = '\0';
    for (struct addrinfo *a = res; a && o < n - 48; a = a->ai_next) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (a->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, sizeof ip);
        else if (a->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, ip, sizeof ip);
        if (*ip && !strstr(out, ip))
            o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", ip);
    }
    freeaddrinfo(res);
}

static void doctor_settings(struct doctor *d, struct runtime *rt)
{
    const struct aws_settings *s = &rt->settings;
    check(d, "profile", true, false, "%s (from %s)%s; config %s, credentials %s", s->profile_name,
          s->profile_source, s->profile ? "" : " - no such section, using defaults",
          s->config_path ? s->config_path : "-", s->credentials_path ? s->credentials_path : "-");
    json_object_set_new(d->doc, "profile",
                        json_pack("{s:s, s:s, s:b, s:s?, s:s?}", "name", s->profile_name, "source", s->profile_source,
                                  "exists", s->profile != NULL, "config_file", s->config_path, "credentials_file",
                                  s->credentials_path));
    check(d, "region", true, false, "%s (from %s)", s->region.region, s->region.source);
    json_object_set_new(d->doc, "region",
                        json_pack("{s:s, s:s}", "name", s->region.region, "source", s->region.source));
    check(d, "retries", true, false, "%s mode (%s), at most %d attempts (%s)", retry_mode_name(s->retry.mode),
          s->retry.mode_source, s->retry.max_attempts, s->retry.max_attempts_source);
    json_object_set_new(d->doc, "retry",
                        json_pack("{s:s, s:i, s:s, s:s}", "mode", retry_mode_name(s->retry.mode), "max_attempts",
                                  s->retry.max_attempts, "mode_source", s->retry.mode_source,
                                  "max_attempts_source", s->retry.max_attempts_source));
    if (s->ca_bundle)
        check(d, "ca-bundle", true, false, "%s (from %s)", s->ca_bundle, s->ca_bundle_source);
}

static void doctor_api_key(struct doctor *d, struct runtime *rt)
{
    const char *tok = rt->settings.bearer_token;
    if (!tok || rt->emu)
        return;
    struct bearer_info bi;
    struct brock_err e = {0};
    if (bearer_inspect(tok, strlen(tok), &bi, &e) != BROCK_OK) {
        check(d, "api-key", false, false, "AWS_BEARER_TOKEN_BEDROCK is set but malformed: %s", e.msg);
        fail_code(d, EXIT_CREDENTIALS);
        return;
    }
    if (bi.kind == BEARER_OPAQUE) {
        check(d, "api-key", true, false, "Bedrock API key from AWS_BEARER_TOKEN_BEDROCK (long-term key); "
                                         "Bedrock calls use it instead of SigV4");
        json_object_set_new(d->doc, "api_key", json_pack("{s:s}", "kind", "long-term"));
        return;
    }
    int64_t left = bi.expires_at_s - time_now_ms() / 1000;
    char when[64], akid[40];
    fmt_duration(left, when, sizeof when);
    mask_key(bi.access_key_id, akid, sizeof akid);
    check(d, "api-key", left > 0, false,
          "short-term Bedrock API key from AWS_BEARER_TOKEN_BEDROCK (%s, region %s), expires %s%s", akid, bi.region,
          when, left > 0 ? "" : ": mint a new one with brock api-key");
    if (left <= 0)
        fail_code(d, EXIT_CREDENTIALS);
    json_object_set_new(d->doc, "api_key",
                        json_pack("{s:s, s:s, s:s, s:I}", "kind", "short-term", "access_key_id", akid, "region",
                                  bi.region, "expires_at", (json_int_t)bi.expires_at_s));
}

static bool doctor_credentials(struct doctor *d, struct runtime *rt)
{
    struct aws_creds_source src = runtime_creds(rt);
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    if (src.get(src.ctx, &c, &e) != BROCK_OK) {
        check(d, "credentials", false, false, "%s", e.msg);
        fail_code(d, exit_code_for(e.status));
        json_object_set_new(d->doc, "credentials", json_pack("{s:s}", "error", e.msg));
        return false;
    }
    char akid[40], when[64] = "never expire";
    mask_key(c->access_key_id, akid, sizeof akid);
    int64_t left = 0;
    if (c->expiration_ms) {
        left = (c->expiration_ms - time_now_ms()) / 1000;
        char tmp[48];
        fmt_duration(left, tmp, sizeof tmp);
        snprintf(when, sizeof when, "expire %s", tmp);
    }
    check(d, "credentials", true, false, "%s, key %s, %s, %s", c->provider, akid,
          c->session_token ? "temporary (session token)" : "long-term", when);
    json_t *cj = json_pack("{s:s, s:s, s:b}", "provider", c->provider, "access_key_id", akid, "temporary",
                           c->session_token != NULL);
    if (c->expiration_ms) {
        char iso[21];
        time_fmt_iso8601(c->expiration_ms / 1000, iso);
        json_object_set_new(cj, "expires_at", json_string(iso));
        json_object_set_new(cj, "expires_in_s", json_integer(left));
    }
    if (c->account_id)
        json_object_set_new(cj, "account_id", json_string(c->account_id));
    json_object_set_new(d->doc, "credentials", cj);
    aws_credentials_release(c);
    return true;
}

static void doctor_endpoint(struct doctor *d, struct aws_client *ac, enum endpoint_service svc, const char *label)
{
    const struct endpoint *ep;
    struct brock_err e = {0};
    if (aws_client_endpoint(ac, svc, &ep, &e) != BROCK_OK) {
        check(d, label, false, false, "%s", e.msg);
        fail_code(d, exit_code_for(e.status));
        return;
    }
    char addrs[256];
    resolve_host(ep, addrs, sizeof addrs);
    const char *kind = endpoint_kind(ep);
    check(d, label, true, false, "%s (%s; %s) -> %s", ep->url, ep->source, kind, addrs);
    json_t *eps = json_object_get(d->doc, "endpoints");
    json_object_set_new(eps, endpoint_service_info(svc)->id,
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "url", ep->url, "source", ep->source, "kind", kind,
                                  "addresses", addrs, "signing_name", ep->signing_name));
}

static void doctor_identity(struct doctor *d, struct aws_client *ac)
{
    static const char body[] = "Action=GetCallerIdentity&Version=2011-06-15";
    struct http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8", NULL);
    struct aws_request req = {.service = ENDPOINT_SVC_STS, .method = "POST", .path = "/", .headers = &h,
                              .body = body, .body_len = sizeof body - 1, .protocol = AWSERR_QUERY,
                              .auth = AWS_AUTH_SIGV4, .total_timeout_ms = 15000};
    struct aws_response r;
    struct brock_err e = {0};
    aws_response_init(&r);
    int64_t before = time_now_ms();
    enum brock_status st = aws_client_send(ac, &req, &r, &e);
    struct sts_identity id = {0};
    if (st == BROCK_OK)
        st = sts_parse_identity(buf_cstr(&r.http.body), r.http.body.len, &id, &e);
    if (st != BROCK_OK) {
        check(d, "identity", false, false, "STS GetCallerIdentity at %s failed: %s", r.endpoint_url, e.msg);
        fail_code(d, exit_code_for(st));
        json_object_set_new(d->doc, "identity", json_pack("{s:s, s:s}", "error", e.msg, "endpoint", r.endpoint_url));
    } else {
        check(d, "identity", true, false, "%s (account %s) via STS at %s, request id %s", id.arn, id.account,
              r.endpoint_url, r.request_id[0] ? r.request_id : "-");
        json_object_set_new(d->doc, "identity",
                            json_pack("{s:s, s:s, s:s, s:s, s:s}", "arn", id.arn, "account", id.account, "user_id",
                                      id.user_id, "endpoint", r.endpoint_url, "request_id", r.request_id));
    }
    if (r.http.status) {
        if (r.http.tls_version[0])
            check(d, "tls", true, false, "%s to %s, certificate verified", r.http.tls_version, r.endpoint_url);
        else
            check(d, "tls", true, true, "plain http to %s (loopback only)", r.endpoint_url);
        json_object_set_new(d->doc, "tls", json_pack("{s:s}", "version", r.http.tls_version[0] ? r.http.tls_version : "none"));
        int64_t server;
        if (http_response_date_ms(&r.http, &server)) {
            int64_t mid = before + (int64_t)(r.http.t.total_ms / 2);
            double skew = (double)(server - mid) / 1000.0;
            bool ok = skew < 300 && skew > -300;
            check(d, "clock", ok, !ok, "%+.1f s against the server's clock%s", skew,
                  ok ? "" : " (AWS refuses signatures more than 15 min off: fix the system clock)");
            json_object_set_new(d->doc, "clock_skew_s", json_real(skew));
        }
    }
    aws_response_free(&r);
    http_headers_cleanup(&h);
}

/* Model access: a CountTokens call for each configured model (the --model or
 * ANTHROPIC_MODEL one, else the sonnet/opus/haiku aliases of the region). It
 * costs nothing and needs the same access as InvokeModel. */
static void doctor_models(struct doctor *d, struct runtime *rt)
{
    const char *region = rt->settings.region.region;
    const char *one = rt->cfg->model && *rt->cfg->model ? rt->cfg->model : getenv("ANTHROPIC_MODEL");
    const char *specs[3] = {"sonnet", "opus", "haiku"};
    size_t n = 3;
    if (one && *one) {
        specs[0] = one;
        n = 1;
    }
    struct bedrock_config bc = {
        .settings = &rt->settings,
        .creds = runtime_creds(rt),
        .bearer_token = rt->emu ? NULL : rt->settings.bearer_token,
        .retry = NULL, /* one attempt each: doctor reports, it does not insist */
        .http = runtime_http_options(rt),
        .endpoint_url = rt->endpoint_url,
    };
    struct model_client *mcl = bedrock_client_new(&bc);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct model_choice mc;
        struct brock_err e = {0};
        if (catalog_resolve(specs[i], region, false, &mc, &e) != BROCK_OK) {
            check(d, "model", false, false, "%s: %s", specs[i], e.msg);
            fail_code(d, EXIT_USAGE);
            continue;
        }
        json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "ping");
        struct model_request req = {.model_id = mc.model_id, .messages = msgs, .max_tokens = 1,
                                    .temperature = MODEL_UNSET, .top_p = MODEL_UNSET, .top_k = MODEL_UNSET};
        int64_t tokens = 0;
        bool estimated = false;
        const char *how = "CountTokens";
        enum brock_status st = model_count_tokens(mcl, &req, &tokens, &estimated, &e);
        if (st == BROCK_OK && estimated) {
            /* CountTokens is not allowed or not offered here: a one-token
             * request is the definite test (it costs a few input tokens) */
            struct model_result res;
            model_result_init(&res);
            err_clear(&e);
            st = model_invoke(mcl, &req, NULL, &res, &e);
            model_result_cleanup(&res);
            how = "a 1-token request";
            estimated = false;
        }
        json_decref(msgs);
        if (catalog_is_app_profile(mc.model_id)) {
            /* only Bedrock knows its model: what brock prices and limits its calls as */
            char *dir = NULL;
            struct brock_err pe = {0}, de = {0};
            const struct model_info *pm = NULL;
            bool kept = false;
            if (store_default_dir(&dir, &de) != BROCK_OK)
                dir = NULL; /* no data directory: asked, not kept */
            enum brock_status ps = cli_profile_find(rt, dir, mc.model_id, &pm, &kept, &pe);
            free(dir);
            if (ps == BROCK_OK)
                check(d, "app-profile", true, false, "%s runs %s (%s); its calls are priced and limited as it",
                      mc.model_id, pm->name, kept ? "kept from an earlier GetInferenceProfile" : "GetInferenceProfile");
            else
                check(d, "app-profile", false, true,
                      "%s: which model it runs is unknown (%s); its calls are booked at the catalog's highest prices "
                      "unless the prices file gives its price",
                      mc.model_id, pe.msg);
        }
        if (st == BROCK_OK) {
            check(d, "model", true, false, "%s (%s): access OK in %s (%s)", mc.model_id, specs[i], region, how);
        } else {
            check(d, "model", false, false, "%s (%s): %s", mc.model_id, specs[i], e.msg);
            fail_code(d, exit_code_for(st));
        }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "model", mc.model_id, "alias", specs[i],
                                             "access", st != BROCK_OK ? "denied" : "ok", "checked_with", how));
    }
    json_object_set_new(d->doc, "models", arr);
    model_client_free(mcl);
}

/* Latency to the Bedrock Runtime endpoint of each of the seed's regions: one
 * unsigned GET (any HTTP answer counts), after a first one that opens the
 * connection, so the figure is a round trip on a warm TLS connection plus the
 * cold connect time reported beside it. */
static void doctor_latency(struct doctor *d, struct runtime *rt)
{
    static const char *const regions[] = {"us-west-2", "us-east-1", "eu-west-1", "ap-southeast-1"};
    json_t *lat = json_object();
    char line[512];
    size_t o = 0;
    line[0] = '\0';
    bool any_fail = false;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(regions); i++) {
        struct aws_client *ac = runtime_client(rt, regions[i]);
        struct aws_request req = {.service = ENDPOINT_SVC_BEDROCK_RUNTIME, .method = "GET", .path = "/",
                                  .protocol = AWSERR_REST_JSON, .auth = AWS_AUTH_NONE, .total_timeout_ms = 5000};
        struct aws_response r;
        struct brock_err e = {0};
        aws_response_init(&r);
        if (aws_client_send(ac, &req, &r, &e) != BROCK_OK && !r.http.status)
            log_debug("latency probe of %s: %s", regions[i], e.msg);
        double cold = r.http.status ? r.http.t.total_ms : -1;
        aws_response_free(&r);
        aws_response_init(&r);
        if (aws_client_send(ac, &req, &r, &e) != BROCK_OK && !r.http.status)
            log_debug("latency probe of %s: %s", regions[i], e.msg);
        double warm = r.http.status ? r.http.t.total_ms : -1;
        if (warm < 0) {
            any_fail = true;
            o += (size_t)snprintf(line + o, sizeof line - o, "%s%s unreachable", o ? ", " : "", regions[i]);
            json_object_set_new(lat, regions[i], json_pack("{s:s}", "error", e.msg));
        } else {
            o += (size_t)snprintf(line + o, sizeof line - o, "%s%s %.1f ms (first %.1f ms)", o ? ", " : "", regions[i],
                                  warm, cold);
            json_object_set_new(lat, regions[i], json_pack("{s:f, s:f}", "round_trip_ms", warm, "connect_ms", cold));
        }
        aws_response_free(&r);
        aws_client_free(ac);
        if (o >= sizeof line)
            o = sizeof line - 1;
    }
    check(d, "latency", !any_fail, true, "%s", line);
    json_object_set_new(d->doc, "latency", lat);
}

/* Monitoring: when an audit log group is configured, check that it exists and
 * that this identity may reach it (DescribeLogGroups, read-only). IAM cannot
 * be simulated offline, so the policy check is what doctor's own calls show:
 * an AccessDenied on any of them points at `brock setup iam-policy`. */
static void doctor_monitoring(struct doctor *d, struct runtime *rt)
{
    struct settings *st = NULL;
    struct brock_err e = {0};
    struct settings_opts so = {0};
    if (settings_load(&so, &st, &e) != BROCK_OK) {
        check(d, "settings", false, false, "%s", e.msg);
        fail_code(d, exit_code_for(e.status));
        return;
    }
    struct monitor_config mc;
    if (cli_monitor_config(rt->cfg, st->brock, &mc, &e) != BROCK_OK) {
        check(d, "monitoring", false, false, "%s", e.msg);
        fail_code(d, exit_code_for(e.status));
        settings_free(st);
        return;
    }
    if (!mc.log_group[0]) {
        check(d, "monitoring", true, true,
              "no audit log group set (BROCK_LOG_GROUP or brock.monitoring.log_group): events stay local; "
              "brock setup monitoring creates one");
        json_object_set_new(d->doc, "monitoring", json_pack("{s:b}", "shipping", 0));
        settings_free(st);
        return;
    }
    struct aws_client *ac = runtime_client(rt, mc.region[0] ? mc.region : NULL);
    json_t *body = json_pack("{s:s, s:i}", "logGroupNamePrefix", mc.log_group, "limit", 50);
    char *text = json_dump_compact(body);
    json_decref(body);
    struct http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "application/x-amz-json-1.1", NULL);
    http_headers_add(&h, "X-Amz-Target", "Logs_20140328.DescribeLogGroups", NULL);
    struct aws_request req = {.service = ENDPOINT_SVC_LOGS, .method = "POST", .path = "/", .headers = &h,
                              .body = text, .body_len = strlen(text), .protocol = AWSERR_AWS_JSON,
                              .auth = AWS_AUTH_SIGV4, .total_timeout_ms = 15000};
    struct aws_response r;
    aws_response_init(&r);
    enum brock_status rc = aws_client_send(ac, &req, &r, &e);
    bool found = false;
    if (rc == BROCK_OK) {
        json_t *ans = NULL;
        if (json_parse(buf_cstr(&r.http.body), r.http.body.len, "DescribeLogGroups", &ans, NULL) == BROCK_OK) {
            size_t i;
            json_t *g;
            json_array_foreach(json_object_get(ans, "logGroups"), i, g)
            {
                const char *name = json_str(g, "logGroupName");
                found |= name && !strcmp(name, mc.log_group);
            }
            json_decref(ans);
        }
    }
    if (rc == BROCK_OK && found)
        check(d, "monitoring", true, false, "audit events ship to log group %s (from %s) at %s", mc.log_group,
              mc.log_group_source, r.endpoint_url);
    else if (rc == BROCK_OK)
        check(d, "monitoring", false, true, "log group %s (from %s) does not exist: run brock setup monitoring",
              mc.log_group, mc.log_group_source);
    else {
        check(d, "monitoring", false, false, "log group %s: %s%s", mc.log_group, e.msg,
              rc == BROCK_ERR_AUTH ? " (brock setup iam-policy --for monitoring prints the policy it needs)" : "");
        fail_code(d, exit_code_for(rc));
    }
    json_object_set_new(d->doc, "monitoring",
                        json_pack("{s:b, s:s, s:s, s:b}", "shipping", 1, "log_group", mc.log_group, "source",
                                  mc.log_group_source, "exists", found));
    aws_response_free(&r);
    http_headers_cleanup(&h);
    free(text);
    aws_client_free(ac);
    settings_free(st);
}

int cmd_doctor(const struct cli_config *cfg)
{
    struct doctor d = {.doc = json_object(), .checks = json_array(), .json = cfg->json};
    json_object_set_new(d.doc, "version", json_string(BROCK_VERSION));
    json_object_set_new(d.doc, "endpoints", json_object());
    struct runtime rt;
    struct brock_err e = {0};
    enum brock_status st = runtime_init(&rt, cfg, &e);
    if (st != BROCK_OK) {
        check(&d, "settings", false, false, "%s", e.msg);
        fail_code(&d, exit_code_for(st));
    } else {
        doctor_settings(&d, &rt);
        doctor_api_key(&d, &rt);
        struct aws_client *ac = runtime_client(&rt, NULL);
        doctor_endpoint(&d, ac, ENDPOINT_SVC_BEDROCK_RUNTIME, "bedrock");
        doctor_endpoint(&d, ac, ENDPOINT_SVC_STS, "sts");
        bool have_creds = doctor_credentials(&d, &rt);
        if (have_creds)
            doctor_identity(&d, ac);
        if (have_creds || (rt.settings.bearer_token && !rt.emu))
            doctor_models(&d, &rt);
        doctor_latency(&d, &rt);
        if (have_creds)
            doctor_monitoring(&d, &rt);
        aws_client_free(ac);
        runtime_cleanup(&rt);
    }
    json_object_set_new(d.doc, "checks", d.checks);
    json_object_set_new(d.doc, "ok", json_boolean(d.first_failure == 0));
    if (cfg->json) {
        char *s = json_dumps(d.doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
    } else if (d.first_failure) {
        printf("\nSome checks failed; see above.\n");
    }
    json_decref(d.doc);
    return d.first_failure;
}
