/* http.c - libcurl-based HTTP client; see http.h for the contract. */
#include "http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <sys/utsname.h>

#include "../util/alloc.h"
#include "../util/log.h"
#include "../util/timeutil.h"

#ifndef BROCK_VERSION
#define BROCK_VERSION "0.0.0"
#endif

/* How often a running request wakes up to check its cancel flag and idle
 * timer when no data moves. */
#define POLL_SLICE_MS 50

/* ======================================================================
 * Header lists
 * ====================================================================== */

struct http_header_ent {
    uint32_t name;      /* offset of the NUL-terminated name in str */
    uint32_t value;     /* offset of the NUL-terminated value in str */
    uint32_t name_len;
    uint32_t value_len;
};

void http_headers_init(struct http_headers *h)
{
    memset(h, 0, sizeof *h);
}

void http_headers_reset(struct http_headers *h)
{
    if (h->str)
        secure_wipe(h->str, h->str_len);
    h->n = 0;
    h->str_len = 0;
}

void http_headers_cleanup(struct http_headers *h)
{
    if (!h)
        return;
    http_headers_reset(h);
    free(h->ent);
    free(h->str);
    memset(h, 0, sizeof *h);
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Grow the string arena, wiping the old block (it may hold secrets). */
static void arena_reserve(struct http_headers *h, size_t need)
{
    if (h->str_len + need <= h->str_cap)
        return;
    size_t cap = h->str_cap ? h->str_cap : 256;
    while (cap < h->str_len + need)
        cap *= 2;
    char *p = xmalloc(cap);
    if (h->str) {
        memcpy(p, h->str, h->str_len);
        secure_wipe(h->str, h->str_cap);
        free(h->str);
    }
    h->str = p;
    h->str_cap = cap;
}

/* Append without validation (response parsing validates less strictly). */
static enum brock_status hdr_push(struct http_headers *h, const char *name, size_t nlen,
                                  const char *value, size_t vlen, struct brock_err *e)
{
    if (h->n >= HTTP_HEADERS_MAX_COUNT)
        return err_set(e, BROCK_ERR_TOO_LARGE, "more than %d HTTP headers", HTTP_HEADERS_MAX_COUNT);
    size_t need = nlen + vlen + 2;
    if (h->str_len + need > HTTP_HEADERS_MAX_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "HTTP headers exceed %zu bytes", HTTP_HEADERS_MAX_BYTES);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->ent = xrealloc(h->ent, h->cap * sizeof *h->ent);
    }
    arena_reserve(h, need);
    struct http_header_ent *en = &h->ent[h->n++];
    en->name = (uint32_t)h->str_len;
    en->name_len = (uint32_t)nlen;
    memcpy(h->str + h->str_len, name, nlen);
    h->str[h->str_len + nlen] = '\0';
    h->str_len += nlen + 1;
    en->value = (uint32_t)h->str_len;
    en->value_len = (uint32_t)vlen;
    if (vlen)
        memcpy(h->str + h->str_len, value, vlen);
    h->str[h->str_len + vlen] = '\0';
    h->str_len += vlen + 1;
    return BROCK_OK;
}

enum brock_status http_headers_addn(struct http_headers *h, const char *name, size_t name_len,
                                    const char *value, size_t value_len, struct brock_err *e)
{
    if (name_len == 0)
        return err_set(e, BROCK_ERR_USAGE, "empty HTTP header name");
    for (size_t i = 0; i < name_len; i++) {
        if (!is_tchar((unsigned char)name[i])) {
            /* Show the valid prefix only: the name itself may be garbage. */
            return err_set(e, BROCK_ERR_USAGE,
                           "invalid character 0x%02x at offset %zu of HTTP header name '%.*s'",
                           (unsigned char)name[i], i, (int)(i < 64 ? i : 64), name);
        }
    }
    for (size_t i = 0; i < value_len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return err_set(e, BROCK_ERR_USAGE,
                           "value of HTTP header '%.*s' has a control character (0x%02x) at offset %zu",
                           (int)(name_len < 64 ? name_len : 64), name, c, i);
        }
    }
    enum brock_status st = hdr_push(h, name, name_len, value, value_len, e);
    if (st)
        err_prefix(e, "adding header '%.*s'", (int)(name_len < 64 ? name_len : 64), name);
    return st;
}

enum brock_status http_headers_add(struct http_headers *h, const char *name, const char *value,
                                   struct brock_err *e)
{
    return http_headers_addn(h, name, strlen(name), value ? value : "", value ? strlen(value) : 0, e);
}

size_t http_headers_remove(struct http_headers *h, const char *name)
{
    size_t out = 0, removed = 0;
    for (size_t i = 0; i < h->n; i++) {
        struct http_header_ent *en = &h->ent[i];
        if (strcasecmp(h->str + en->name, name) == 0) {
            secure_wipe(h->str + en->value, en->value_len);
            removed++;
            continue;
        }
        h->ent[out++] = *en;
    }
    h->n = out;
    return removed;
}

enum brock_status http_headers_set(struct http_headers *h, const char *name, const char *value,
                                   struct brock_err *e)
{
    http_headers_remove(h, name);
    return http_headers_add(h, name, value, e);
}

const char *http_headers_get(const struct http_headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->str + h->ent[i].name, name) == 0)
            return h->str + h->ent[i].value;
    }
    return NULL;
}

const char *http_headers_name(const struct http_headers *h, size_t i)
{
    return i < h->n ? h->str + h->ent[i].name : NULL;
}

const char *http_headers_value(const struct http_headers *h, size_t i)
{
    return i < h->n ? h->str + h->ent[i].value : NULL;
}

bool http_header_is_secret(const char *name)
{
    static const char *const secret[] = {
        "authorization",          "proxy-authorization",       "x-amz-security-token",
        "x-amz-sso_bearer_token", "x-aws-ec2-metadata-token", "cookie",
        "set-cookie",
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(secret); i++) {
        if (strcasecmp(name, secret[i]) == 0)
            return true;
    }
    return false;
}

/* ======================================================================
 * Global setup
 * ====================================================================== */

/* Written once by http_global_init, then only read. */
static char g_user_agent[192];
static bool g_curl_openssl;
static bool g_inited;

static void build_user_agent(void)
{
    struct utsname u;
    const char *sys = "unknown", *mach = "unknown";
    if (uname(&u) == 0) {
        sys = u.sysname;
        mach = u.machine;
    }
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    snprintf(g_user_agent, sizeof g_user_agent, "brock/%s (%s %s) libcurl/%s", BROCK_VERSION, sys,
             mach, vi && vi->version ? vi->version : "?");
}

enum brock_status http_global_init(struct brock_err *e)
{
    if (g_inited)
        return BROCK_OK;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return err_set(e, BROCK_ERR_INTERNAL, "libcurl initialisation failed: %s", curl_easy_strerror(rc));
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (!vi || !(vi->features & CURL_VERSION_SSL)) {
        curl_global_cleanup();
        return err_set(e, BROCK_ERR_CONFIG, "this libcurl was built without TLS support; brock needs https");
    }
    g_curl_openssl = vi->ssl_version && strncmp(vi->ssl_version, "OpenSSL", 7) == 0;
    build_user_agent();
    g_inited = true;
    return BROCK_OK;
}

void http_global_cleanup(void)
{
    if (!g_inited)
        return;
    curl_global_cleanup();
    g_inited = false;
}

const char *http_user_agent(void)
{
    if (!g_user_agent[0])
        build_user_agent();
    return g_user_agent;
}

/* ======================================================================
 * The plain-http policy
 * ====================================================================== */

/* Parsed URL pieces we need; `u` is handed to libcurl so that what we check
 * is exactly what it connects to. */
struct url_info {
    CURLU *u;
    char *scheme, *host, *port, *path, *query;
    bool https;
    char where[300]; /* "host:port" for messages */
};

static void url_info_free(struct url_info *ui)
{
    curl_free(ui->scheme);
    curl_free(ui->host);
    curl_free(ui->port);
    curl_free(ui->path);
    curl_free(ui->query);
    if (ui->u)
        curl_url_cleanup(ui->u);
    memset(ui, 0, sizeof *ui);
}

static bool host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        char tmp[64];
        if (n - 2 >= sizeof tmp)
            return false;
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return false;
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}

/* The EC2 IMDS and ECS/EKS credential endpoints, and nothing else. */
static bool host_is_credential_endpoint(const char *host)
{
    static const char *const v4[] = {"169.254.169.254", "169.254.170.2", "169.254.170.23"};
    static const char *const v6[] = {"fd00:ec2::254", "fd00:ec2::23"};
    struct in_addr a4, b4;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        for (size_t i = 0; i < BROCK_ARRAY_LEN(v4); i++) {
            if (inet_pton(AF_INET, v4[i], &b4) == 1 && a4.s_addr == b4.s_addr)
                return true;
        }
        return false;
    }
    size_t n = strlen(host);
    char tmp[64];
    if (n < 3 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof tmp)
        return false;
    memcpy(tmp, host + 1, n - 2);
    tmp[n - 2] = '\0';
    struct in6_addr a6, b6;
    if (inet_pton(AF_INET6, tmp, &a6) != 1)
        return false;
    for (size_t i = 0; i < BROCK_ARRAY_LEN(v6); i++) {
        if (inet_pton(AF_INET6, v6[i], &b6) == 1 && memcmp(&a6, &b6, sizeof a6) == 0)
            return true;
    }
    return false;
}

/* Copy at most `max` bytes of s for a message, replacing unprintable bytes. */
static void safe_copy(char *out, size_t outlen, const char *s, size_t max)
{
    size_t j = 0;
    for (size_t i = 0; i < max && s[i] && j + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    out[j] = '\0';
}

static enum brock_status url_parse(const char *url, bool allow_link_local, struct url_info *ui,
                                   struct brock_err *e)
{
    memset(ui, 0, sizeof *ui);
    if (!url || !*url)
        return err_set(e, BROCK_ERR_CONFIG, "empty URL");
    ui->u = curl_url();
    if (!ui->u)
        return err_set(e, BROCK_ERR_INTERNAL, "out of memory parsing a URL");
    CURLUcode uc = curl_url_set(ui->u, CURLUPART_URL, url, CURLU_PATH_AS_IS);
    if (uc != CURLUE_OK) {
        char shown[128];
        safe_copy(shown, sizeof shown, url, 100);
        /* The URL is shown only up to its query (which may carry a token). */
        char *q = strchr(shown, '?');
        if (q)
            snprintf(q, (size_t)(shown + sizeof shown - q), "?...");
        err_set(e, BROCK_ERR_CONFIG, "invalid URL '%s': %s", shown, curl_url_strerror(uc));
        url_info_free(ui);
        return BROCK_ERR_CONFIG;
    }
    if (curl_url_get(ui->u, CURLUPART_SCHEME, &ui->scheme, 0) != CURLUE_OK ||
        curl_url_get(ui->u, CURLUPART_HOST, &ui->host, 0) != CURLUE_OK) {
        url_info_free(ui);
        return err_set(e, BROCK_ERR_CONFIG, "URL without a scheme or host");
    }
    curl_url_get(ui->u, CURLUPART_PORT, &ui->port, CURLU_DEFAULT_PORT);
    if (curl_url_get(ui->u, CURLUPART_PATH, &ui->path, 0) != CURLUE_OK)
        ui->path = NULL;
    if (curl_url_get(ui->u, CURLUPART_QUERY, &ui->query, 0) != CURLUE_OK)
        ui->query = NULL;

    char host[200];
    safe_copy(host, sizeof host, ui->host, 190);
    snprintf(ui->where, sizeof ui->where, "%s:%s", host, ui->port ? ui->port : "?");

    char *user = NULL;
    if (curl_url_get(ui->u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        curl_free(user);
        err_set(e, BROCK_ERR_CONFIG, "refusing URL for %s with a user name or password in it", host);
        url_info_free(ui);
        return BROCK_ERR_CONFIG;
    }

    if (strcasecmp(ui->scheme, "https") == 0) {
        ui->https = true;
        return BROCK_OK;
    }
    if (strcasecmp(ui->scheme, "http") != 0) {
        char sch[32];
        safe_copy(sch, sizeof sch, ui->scheme, 20);
        err_set(e, BROCK_ERR_CONFIG, "refusing URL scheme '%s' for %s: only https (and http to loopback) is supported",
                sch, host);
        url_info_free(ui);
        return BROCK_ERR_CONFIG;
    }
    if (host_is_loopback(ui->host))
        return BROCK_OK;
    if (allow_link_local && host_is_credential_endpoint(ui->host))
        return BROCK_OK;
    err_set(e, BROCK_ERR_CONFIG,
            "refusing plain http:// to %s: only loopback addresses may use http; use https", host);
    url_info_free(ui);
    return BROCK_ERR_CONFIG;
}

enum brock_status http_check_url(const char *url, bool allow_link_local, struct brock_err *e)
{
    struct url_info ui;
    enum brock_status st = url_parse(url, allow_link_local, &ui, e);
    if (st == BROCK_OK)
        url_info_free(&ui);
    return st;
}

/* True for query parameters whose values must not be logged. */
static bool query_param_secret(const char *name, size_t n)
{
    static const char *const words[] = {"signature", "token", "secret", "password", "credential"};
    for (size_t w = 0; w < BROCK_ARRAY_LEN(words); w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++) {
            if (strncasecmp(name + i, words[w], wl) == 0)
                return true;
        }
    }
    return false;
}

/* scheme://host:port/path?query with secret query values redacted. */
static void url_for_log(const struct url_info *ui, struct buf *out)
{
    buf_addf(out, "%s://%s:%s%s", ui->scheme, ui->host, ui->port ? ui->port : "",
             ui->path ? ui->path : "/");
    if (!ui->query)
        return;
    buf_addc(out, '?');
    const char *q = ui->query;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq ? (size_t)(eq - q) : len;
        if (eq && query_param_secret(q, nlen)) {
            buf_add(out, q, nlen);
            buf_addstr(out, "=[redacted]");
        } else {
            buf_add(out, q, len);
        }
        if (!amp)
            break;
        buf_addc(out, '&');
        q = amp + 1;
    }
}

/* ======================================================================
 * The client
 * ====================================================================== */

struct http_client {
    CURL *easy;
    CURLM *multi;
    long connect_timeout_ms, total_timeout_ms, idle_timeout_ms;
    char *ca_bundle;
    char *user_agent;
    volatile sig_atomic_t *cancel;
};

static long pick_timeout(long req, long client, long dflt)
{
    long v = req ? req : client ? client : dflt;
    return v < 0 ? HTTP_TIMEOUT_NONE : v;
}

struct http_client *http_client_new(const struct http_options *opts)
{
    if (!g_inited) {
        /* Tests and tools that forgot http_global_init: do it now (not
         * thread-safe, like curl_global_init itself). */
        struct brock_err ignore;
        (void)http_global_init(&ignore);
    }
    struct http_client *c = xcalloc(1, sizeof *c);
    c->easy = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->easy || !c->multi) {
        fprintf(stderr, "brock: libcurl could not create a handle (out of memory)\n");
        abort();
    }
    static const struct http_options none = {0};
    if (!opts)
        opts = &none;
    c->connect_timeout_ms = opts->connect_timeout_ms;
    c->total_timeout_ms = opts->total_timeout_ms;
    c->idle_timeout_ms = opts->idle_timeout_ms;
    c->ca_bundle = opts->ca_bundle ? xstrdup(opts->ca_bundle) : NULL;
    c->cancel = opts->cancel;
    const char *ua = http_user_agent();
    if (opts->user_agent_extra && *opts->user_agent_extra) {
        size_t n = strlen(ua) + strlen(opts->user_agent_extra) + 2;
        c->user_agent = xmalloc(n);
        snprintf(c->user_agent, n, "%s %s", ua, opts->user_agent_extra);
    } else {
        c->user_agent = xstrdup(ua);
    }
    return c;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    curl_multi_cleanup(c->multi);
    curl_easy_cleanup(c->easy);
    free(c->ca_bundle);
    free(c->user_agent);
    free(c);
}

void http_response_init(struct http_response *r)
{
    memset(r, 0, sizeof *r);
    http_headers_init(&r->headers);
    buf_init(&r->body, HTTP_DEFAULT_MAX_BODY);
}

void http_response_free(struct http_response *r)
{
    if (!r)
        return;
    http_headers_cleanup(&r->headers);
    buf_free(&r->body);
}

static void response_reset(struct http_response *r, size_t max_body)
{
    r->status = 0;
    http_headers_reset(&r->headers);
    buf_reset(&r->body);
    r->body.max = max_body;
    r->body_bytes = 0;
    r->tls_version[0] = '\0';
    r->remote_ip[0] = '\0';
    r->remote_port = 0;
    r->reused = false;
    memset(&r->t, 0, sizeof r->t);
}

/* ---- one transfer ------------------------------------------------------ */

struct xfer {
    CURL *easy;
    const struct http_request *req;
    struct http_response *resp;
    const struct url_info *ui;
    volatile sig_atomic_t *cancel;
    long idle_ms, total_ms, connect_ms;
    size_t max_body;
    int64_t start_ms, last_activity_ms;
    curl_off_t last_dl, last_ul;
    bool in_block;       /* inside a header block */
    bool head_done;      /* final headers complete (on_head called) */
    bool deliver;        /* stream this body to on_body */
    bool tls_checked;
    bool paused;         /* held by req->hold (CURL_WRITEFUNC_PAUSE) */
    struct brock_err err; /* why we stopped the transfer, when we did */
    bool failed;
};

static void xfer_fail(struct xfer *x, enum brock_status st, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void xfer_fail(struct xfer *x, enum brock_status st, const char *fmt, ...)
{
    if (x->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    err_setv(&x->err, st, fmt, ap);
    va_end(ap);
    x->failed = true;
}

static void note_tls_version(struct xfer *x)
{
    if (x->tls_checked || !x->ui->https)
        return;
    x->tls_checked = true;
    struct curl_tlssessioninfo *ti = NULL;
    if (!g_curl_openssl || curl_easy_getinfo(x->easy, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
        ti->backend != CURLSSLBACKEND_OPENSSL || !ti->internals)
        return;
    const char *v = SSL_get_version((const SSL *)ti->internals);
    if (v)
        snprintf(x->resp->tls_version, sizeof x->resp->tls_version, "%s", v);
}

/* The final header block is complete: decide where the body goes and run
 * on_head. Returns false to abort. */
static bool finish_head(struct xfer *x)
{
    x->head_done = true;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    x->resp->status = status;
    note_tls_version(x);
    bool ok2xx = status >= 200 && status <= 299;
    x->deliver = x->req->on_body && ok2xx;
    if (!x->deliver) {
        curl_off_t cl = -1;
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        if (cl > 0 && (uint64_t)cl > (uint64_t)x->max_body) {
            xfer_fail(x, BROCK_ERR_TOO_LARGE,
                      "response body from %s is %lld bytes, over the %zu-byte limit (HTTP %ld)",
                      x->ui->where, (long long)cl, x->max_body, status);
            return false;
        }
        if (cl > 0)
            buf_reserve(&x->resp->body, (size_t)cl);
    }
    if (x->req->on_head) {
        enum brock_status st = x->req->on_head(x->req->ctx, x->resp);
        if (st != BROCK_OK) {
            xfer_fail(x, st, "response from %s (HTTP %ld) rejected by the caller's header check",
                      x->ui->where, status);
            return false;
        }
    }
    return true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    x->last_activity_ms = time_mono_ms();
    if (x->failed)
        return 0;
    /* Strip the line ending. */
    size_t len = n;
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (!x->in_block) {
        if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
            /* A new response (an interim 1xx or the final one). */
            http_headers_reset(&x->resp->headers);
            x->in_block = true;
            return n;
        }
        /* Chunked trailers arrive after the body; keep them as headers. */
        if (!x->head_done || len == 0)
            return n;
    }
    if (len == 0) {
        x->in_block = false;
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !x->head_done && !finish_head(x))
            return 0;
        return n;
    }
    struct http_headers *h = &x->resp->headers;
    struct brock_err e;
    if ((p[0] == ' ' || p[0] == '\t') && h->n > 0) {
        /* Obsolete line folding: join to the previous value with a space. */
        size_t last = h->n - 1;
        struct buf joined = BUF_INIT(HTTP_HEADERS_MAX_BYTES);
        const char *name = http_headers_name(h, last);
        size_t skip = 0;
        while (skip < len && (p[skip] == ' ' || p[skip] == '\t'))
            skip++;
        char namecopy[256];
        snprintf(namecopy, sizeof namecopy, "%s", name);
        buf_addstr(&joined, http_headers_value(h, last));
        buf_addc(&joined, ' ');
        buf_add(&joined, p + skip, len - skip);
        h->n--;
        enum brock_status st = buf_status(&joined);
        if (st == BROCK_OK)
            st = hdr_push(h, namecopy, strlen(namecopy), joined.ptr, joined.len, &e);
        buf_free(&joined);
        if (st != BROCK_OK) {
            xfer_fail(x, BROCK_ERR_TOO_LARGE, "response headers from %s: %s", x->ui->where, e.msg);
            return 0;
        }
        return n;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon || colon == p)
        return n; /* not a header line; ignore as browsers do */
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    const char *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (memchr(p, '\0', len)) {
        xfer_fail(x, BROCK_ERR_NETWORK, "response from %s has a NUL byte in a header", x->ui->where);
        return 0;
    }
    if (hdr_push(h, p, nlen, v, (size_t)(end - v), &e) != BROCK_OK) {
        xfer_fail(x, BROCK_ERR_TOO_LARGE, "response headers from %s: %s", x->ui->where, e.msg);
        return 0;
    }
    return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    x->last_activity_ms = time_mono_ms();
    if (x->failed)
        return CURL_WRITEFUNC_ERROR;
    if (!x->head_done && !finish_head(x))
        return CURL_WRITEFUNC_ERROR;
    if (x->deliver && x->req->hold && x->req->hold(x->req->ctx)) {
        x->paused = true; /* libcurl keeps the piece and hands it over again */
        return CURL_WRITEFUNC_PAUSE;
    }
    x->resp->body_bytes += n;
    if (x->deliver) {
        enum brock_status st = x->req->on_body(x->req->ctx, p, n);
        if (st != BROCK_OK) {
            xfer_fail(x, st, "response body from %s stopped by the caller after %llu bytes (%s)",
                      x->ui->where, (unsigned long long)x->resp->body_bytes, brock_status_name(st));
            return CURL_WRITEFUNC_ERROR;
        }
        return n;
    }
    if (buf_add(&x->resp->body, p, n) != BROCK_OK) {
        xfer_fail(x, BROCK_ERR_TOO_LARGE, "response body from %s is over the %zu-byte limit (HTTP %ld)",
                  x->ui->where, x->max_body, x->resp->status);
        return CURL_WRITEFUNC_ERROR;
    }
    return n;
}

static bool cancelled(const struct xfer *x)
{
    return x->cancel && *x->cancel;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct xfer *x = ud;
    if (dlnow != x->last_dl || ulnow != x->last_ul) {
        x->last_dl = dlnow;
        x->last_ul = ulnow;
        x->last_activity_ms = time_mono_ms();
    }
    if (cancelled(x)) {
        xfer_fail(x, BROCK_ERR_INTERRUPTED, "request to %s interrupted", x->ui->where);
        return 1;
    }
    return x->failed ? 1 : 0;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    (void)ud;
    /* Only libcurl's own remarks: never header or body bytes. */
    if (type != CURLINFO_TEXT)
        return 0;
    while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    if (size > 300)
        size = 300;
    log_trace("http: curl: %.*s", (int)size, data);
    return 0;
}

/* DEBUG: method, URL (secret query values redacted) and header names, with
 * "[redacted]" after the secret ones. TRACE adds the non-secret values. */
static void log_request(const char *method, const struct url_info *ui, const struct http_headers *h,
                        size_t body_len)
{
    bool values = log_enabled(LOG_TRACE);
    struct buf line = BUF_INIT(1900);
    buf_addf(&line, "http: %s ", method);
    url_for_log(ui, &line);
    buf_addf(&line, " (%zu body bytes)", body_len);
    for (size_t i = 0; h && i < h->n; i++) {
        const char *name = http_headers_name(h, i);
        buf_addstr(&line, i ? ", " : " headers: ");
        buf_addstr(&line, name);
        if (http_header_is_secret(name))
            buf_addstr(&line, ": [redacted]");
        else if (values)
            buf_addf(&line, ": %s", http_headers_value(h, i));
    }
    if (buf_status(&line) != BROCK_OK && line.len >= 3)
        memcpy(line.ptr + line.len - 3, "...", 3);
    log_debug("%s", buf_cstr(&line));
    buf_free(&line);
}

static void log_response(const struct xfer *x)
{
    const struct http_response *r = x->resp;
    const char *rid = http_headers_get(&r->headers, "x-amzn-requestid");
    if (!rid)
        rid = http_headers_get(&r->headers, "x-amz-request-id");
    log_debug("http: HTTP %ld from %s (%s%s%s), %llu body bytes, connect %.1f ms, tls %.1f ms, "
              "first byte %.1f ms, total %.1f ms%s%s",
              r->status, x->ui->where, r->remote_ip, r->tls_version[0] ? ", " : "", r->tls_version,
              (unsigned long long)r->body_bytes, r->t.connect_ms, r->t.tls_ms, r->t.first_byte_ms,
              r->t.total_ms, rid ? ", request id " : "", rid ? rid : "");
}

/* Turn a libcurl failure into our status and message. */
static enum brock_status map_curl_error(struct xfer *x, CURLcode rc, const char *errbuf,
                                        struct brock_err *e)
{
    const char *w = x->ui->where;
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    unsigned long long got = (unsigned long long)x->resp->body_bytes;
    long elapsed = (long)(time_mono_ms() - x->start_ms);
    long os_errno = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
    long connect_code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);

    if (connect_code && (connect_code < 200 || connect_code > 299))
        return err_set(e, BROCK_ERR_NETWORK, "the proxy refused to open a tunnel to %s (proxy answered HTTP %ld)",
                       w, connect_code);

    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return err_set(e, BROCK_ERR_NETWORK, "cannot resolve host %s (DNS lookup failed)", w);
    case CURLE_COULDNT_RESOLVE_PROXY:
        return err_set(e, BROCK_ERR_NETWORK, "cannot resolve the proxy host for %s: %s", w, detail);
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED)
            return err_set(e, BROCK_ERR_NETWORK, "cannot connect to %s: connection refused", w);
        return err_set(e, BROCK_ERR_NETWORK, "cannot connect to %s: %s", w,
                       os_errno ? strerror((int)os_errno) : detail);
    case CURLE_OPERATION_TIMEDOUT: {
        /* libcurl has one code for its connect and total timers; tell them
         * apart by how far the connection got and how long we ran. */
        curl_off_t conn_us = 0, app_us = 0;
        curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &conn_us);
        curl_easy_getinfo(x->easy, CURLINFO_APPCONNECT_TIME_T, &app_us);
        bool before_total = x->total_ms <= 0 || elapsed + 5 < x->total_ms;
        if (before_total && conn_us == 0)
            return err_set(e, BROCK_ERR_NETWORK, "connecting to %s timed out after %ld ms%s", w, x->connect_ms,
                           x->ui->https ? " (TCP connect and TLS handshake)" : "");
        if (before_total && x->ui->https && app_us == 0)
            return err_set(e, BROCK_ERR_NETWORK, "TLS handshake with %s timed out after %ld ms", w,
                           x->connect_ms);
        return err_set(e, BROCK_ERR_NETWORK,
                       "request to %s timed out after %ld ms (total timeout) with %llu body bytes received",
                       w, x->total_ms > 0 ? x->total_ms : elapsed, got);
    }
    case CURLE_SSL_CONNECT_ERROR:
        return err_set(e, BROCK_ERR_NETWORK, "TLS handshake with %s failed: %s", w, detail);
    case CURLE_PEER_FAILED_VERIFICATION:
        return err_set(e, BROCK_ERR_NETWORK, "TLS certificate of %s is not trusted: %s", w, detail);
    case CURLE_SSL_CACERT_BADFILE:
        return err_set(e, BROCK_ERR_CONFIG, "cannot use the CA bundle for %s: %s", w, detail);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
        return err_set(e, BROCK_ERR_NETWORK, "TLS with %s failed: %s", w, detail);
    case CURLE_GOT_NOTHING:
        return err_set(e, BROCK_ERR_NETWORK, "%s closed the connection without sending a response", w);
    case CURLE_PARTIAL_FILE: {
        curl_off_t cl = -1;
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        if (cl >= 0)
            return err_set(e, BROCK_ERR_NETWORK,
                           "connection to %s dropped mid-response: %llu of %lld body bytes received (HTTP %ld)",
                           w, got, (long long)cl, x->resp->status);
        return err_set(e, BROCK_ERR_NETWORK,
                       "connection to %s dropped mid-response after %llu body bytes (HTTP %ld)", w, got,
                       x->resp->status);
    }
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        if (x->resp->status)
            return err_set(e, BROCK_ERR_NETWORK,
                           "connection to %s dropped mid-response after %llu body bytes (HTTP %ld): %s", w,
                           got, x->resp->status, detail);
        return err_set(e, BROCK_ERR_NETWORK, "connection to %s failed before a response: %s", w, detail);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return err_set(e, BROCK_ERR_NETWORK, "%s did not answer with valid HTTP: %s", w, detail);
    case CURLE_URL_MALFORMAT:
        return err_set(e, BROCK_ERR_CONFIG, "invalid URL for %s: %s", w, detail);
    case CURLE_PROXY:
        return err_set(e, BROCK_ERR_NETWORK, "proxy error while connecting to %s: %s", w, detail);
    default:
        return err_set(e, BROCK_ERR_NETWORK, "request to %s failed: %s", w, detail);
    }
}

/* Build libcurl's header list: the caller's headers plus suppressions of
 * libcurl's defaults. Returns NULL only when nothing needs sending. */
static struct curl_slist *build_header_list(const struct http_headers *h, bool has_body)
{
    struct curl_slist *list = NULL;
    bool have_accept = false, have_ctype = false;
    struct buf line = BUF_INIT(HTTP_HEADERS_MAX_BYTES + 8);
    for (size_t i = 0; h && i < h->n; i++) {
        const char *name = http_headers_name(h, i);
        const char *value = http_headers_value(h, i);
        if (strcasecmp(name, "accept") == 0)
            have_accept = true;
        else if (strcasecmp(name, "content-type") == 0)
            have_ctype = true;
        buf_reset(&line);
        /* "Name;" is libcurl's way to send a header with an empty value. */
        if (*value)
            buf_addf(&line, "%s: %s", name, value);
        else
            buf_addf(&line, "%s;", name);
        struct curl_slist *nl = curl_slist_append(list, buf_cstr(&line));
        if (!nl) {
            fprintf(stderr, "brock: out of memory building HTTP headers\n");
            abort();
        }
        list = nl;
    }
    buf_free_secure(&line);
    static const char *const suppress[] = {"Expect:", "Accept:", "Content-Type:"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(suppress); i++) {
        if ((i == 1 && have_accept) || (i == 2 && (have_ctype || !has_body)))
            continue;
        struct curl_slist *nl = curl_slist_append(list, suppress[i]);
        if (!nl) {
            fprintf(stderr, "brock: out of memory building HTTP headers\n");
            abort();
        }
        list = nl;
    }
    return list;
}

static void free_header_list(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l; l = l->next)
        secure_wipe(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

static bool method_ok(const char *m)
{
    if (!*m || strlen(m) > 16)
        return false;
    for (const char *p = m; *p; p++) {
        if (*p < 'A' || *p > 'Z')
            return false;
    }
    return true;
}

static double us_to_ms(curl_off_t us)
{
    return (double)us / 1000.0;
}

/* Everything a transfer sets on its easy handle, shared by http_send and the
 * multi interface so the TLS, redirect and protocol policy cannot drift apart. */
static void configure_easy(CURL *h, struct xfer *x, const char *method, bool has_body, struct curl_slist *hl,
                           char *errbuf, const char *user_agent, const char *ca_bundle)
{
    const struct http_request *req = x->req;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_CURLU, x->ui->u);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    /* TLS: 1.2 minimum, verification always on, also towards HTTPS proxies. */
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
    if (ca_bundle) {
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_bundle);
        curl_easy_setopt(h, CURLOPT_PROXY_CAINFO, ca_bundle);
    }
    if (x->connect_ms > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, x->connect_ms);
    if (x->total_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, x->total_ms);

    /* Method and body. The body is sent from the caller's memory. */
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);

    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (log_enabled(LOG_TRACE)) {
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    }
}

/* After a transfer ended (or was stopped): record what is known about the
 * connection and turn the outcome into a status. Shared with the multi path. */
static enum brock_status xfer_conclude(struct xfer *x, CURL *h, CURLcode rc, const char *errbuf, const char *method,
                                       struct brock_err *e)
{
    enum brock_status st;
    /* What we know about the connection, also after a failure. */
    char *ip = NULL;
    if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        snprintf(x->resp->remote_ip, sizeof x->resp->remote_ip, "%s", ip);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &x->resp->remote_port);
    long num_connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &num_connects);
    curl_off_t t_conn = 0, t_app = 0, t_first = 0, t_total = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &t_conn);
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &t_app);
    curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &t_first);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &t_total);
    x->resp->t.connect_ms = us_to_ms(t_conn);
    x->resp->t.tls_ms = us_to_ms(t_app);
    x->resp->t.first_byte_ms = us_to_ms(t_first);
    x->resp->t.total_ms = us_to_ms(t_total);
    if (x->resp->status == 0) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        x->resp->status = status;
    }
    x->resp->reused = x->resp->status != 0 && num_connects == 0;

    if (x->failed) {
        st = x->err.status;
        if (e)
            *e = x->err;
    } else if (rc != CURLE_OK) {
        st = map_curl_error(x, rc, errbuf, e);
    } else {
        /* A body-less response (HEAD, 204, Content-Length: 0) never reaches
         * on_write; make sure on_head ran and the status is set. */
        if (!x->head_done && !finish_head(x)) {
            st = x->err.status;
            if (e)
                *e = x->err;
        } else {
            st = BROCK_OK;
        }
    }
    if (st == BROCK_OK && log_enabled(LOG_DEBUG))
        log_response(x);
    else if (st != BROCK_OK && log_enabled(LOG_DEBUG))
        log_debug("http: %s %s failed: %s", method, x->ui->where, e ? e->msg : brock_status_name(st));

    return st;
}

enum brock_status http_send(struct http_client *c, const struct http_request *req,
                            struct http_response *resp, struct brock_err *e)
{
    size_t max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
    response_reset(resp, max_body);
    const char *method = req->method ? req->method : "GET";
    if (!method_ok(method))
        return err_set(e, BROCK_ERR_USAGE, "invalid HTTP method (must be 1-16 uppercase letters)");

    struct url_info ui;
    enum brock_status st = url_parse(req->url, req->allow_link_local, &ui, e);
    if (st != BROCK_OK)
        return st;

    struct xfer x = {
        .easy = c->easy,
        .req = req,
        .resp = resp,
        .ui = &ui,
        .cancel = req->cancel ? req->cancel : c->cancel,
        .connect_ms = pick_timeout(req->connect_timeout_ms, c->connect_timeout_ms,
                                   HTTP_DEFAULT_CONNECT_TIMEOUT_MS),
        .total_ms = pick_timeout(req->total_timeout_ms, c->total_timeout_ms, HTTP_TIMEOUT_NONE),
        .idle_ms = pick_timeout(req->idle_timeout_ms, c->idle_timeout_ms, HTTP_DEFAULT_IDLE_TIMEOUT_MS),
        .max_body = max_body,
    };
    if (cancelled(&x)) {
        url_info_free(&ui);
        return err_set(e, BROCK_ERR_INTERRUPTED, "request to %s interrupted before it started", x.ui->where);
    }

    bool has_body = req->body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;
    if (log_enabled(LOG_DEBUG))
        log_request(method, &ui, req->headers, req->body_len);

    CURL *h = c->easy;
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    struct curl_slist *hl = build_header_list(req->headers, has_body);
    configure_easy(h, &x, method, has_body, hl, errbuf, c->user_agent, c->ca_bundle);

    x.start_ms = x.last_activity_ms = time_mono_ms();
    CURLcode rc = CURLE_OK;
    bool done = false;
    if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
        xfer_fail(&x, BROCK_ERR_INTERNAL, "libcurl refused the request to %s", ui.where);
    } else {
        int running = 1;
        for (;;) {
            CURLMcode mc = curl_multi_perform(c->multi, &running);
            if (mc != CURLM_OK) {
                xfer_fail(&x, BROCK_ERR_INTERNAL, "libcurl multi error for %s: %s", ui.where,
                          curl_multi_strerror(mc));
                break;
            }
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(c->multi, &left))) {
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
                    rc = msg->data.result;
                    done = true;
                }
            }
            if (done || !running || x.failed)
                break;
            if (cancelled(&x)) {
                xfer_fail(&x, BROCK_ERR_INTERRUPTED, "request to %s interrupted", ui.where);
                break;
            }
            int64_t now = time_mono_ms();
            long wait = POLL_SLICE_MS;
            if (x.idle_ms > 0) {
                int64_t idle = now - x.last_activity_ms;
                if (idle >= x.idle_ms) {
                    if (resp->status == 0 && !x.head_done)
                        xfer_fail(&x, BROCK_ERR_NETWORK, "no response from %s within %ld ms (idle timeout)",
                                  ui.where, x.idle_ms);
                    else
                        xfer_fail(&x, BROCK_ERR_NETWORK,
                                  "connection to %s stalled: no data for %ld ms after %llu body bytes (HTTP %ld)",
                                  ui.where, x.idle_ms, (unsigned long long)resp->body_bytes, resp->status);
                    break;
                }
                if (x.idle_ms - idle < wait)
                    wait = (long)(x.idle_ms - idle);
            }
            mc = curl_multi_poll(c->multi, NULL, 0, (int)(wait > 0 ? wait : 1), NULL);
            if (mc != CURLM_OK) {
                xfer_fail(&x, BROCK_ERR_INTERNAL, "libcurl poll error for %s: %s", ui.where,
                          curl_multi_strerror(mc));
                break;
            }
        }
        if (!done && !x.failed)
            xfer_fail(&x, BROCK_ERR_INTERNAL, "libcurl stopped the request to %s without a result", ui.where);
    }

    st = xfer_conclude(&x, h, rc, errbuf, method, e);

    curl_multi_remove_handle(c->multi, h);
    /* Drop every pointer into this stack frame before returning. */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_CURLU, NULL);
    free_header_list(hl);
    url_info_free(&ui);
    return st;
}

bool http_response_date_ms(const struct http_response *r, int64_t *out)
{
    const char *d = http_headers_get(&r->headers, "date");
    if (!d || !*d)
        return false;
    time_t t = curl_getdate(d, NULL);
    if (t == (time_t)-1)
        return false;
    *out = (int64_t)t * 1000;
    return true;
}

/* ======================================================================
 * Many requests at once (libcurl multi)
 * ====================================================================== */

/* One transfer of a multi: the xfer the shared callbacks see, plus what
 * http_send keeps on its stack. */
struct mxfer {
    struct xfer x;
    struct http_request req; /* the caller's request, copied */
    struct url_info ui;
    struct curl_slist *hl;
    char method[17];
    char errbuf[CURL_ERROR_SIZE];
    http_done_fn *done;
    void *ctx;
    struct http_multi *m;
    struct mxfer *prev, *next; /* the running list */
};

struct http_later {
    int64_t at_ms;
    void (*fn)(void *arg);
    void *arg;
    struct http_later *next; /* sorted by at_ms */
};

struct http_multi {
    CURLM *multi;
    long connect_timeout_ms, total_timeout_ms, idle_timeout_ms;
    char *ca_bundle;
    char *user_agent;
    volatile sig_atomic_t *cancel;
    CURL **pool; /* idle easy handles, reused (curl_easy_reset) */
    size_t n_pool, cap_pool;
    struct mxfer *running;
    size_t n_running;
    /* run by an outside loop (http_multi_set_io) */
    struct http_multi_io io;
    bool evented;
    int64_t curl_at_ms;     /* when libcurl wants its timeout, -1 = never */
    int64_t idle_at_ms;     /* the nearest idle deadline seen by the last sweep */
    bool sweep_now;         /* an abort waits for the sweep */
    int64_t armed_at_ms;    /* the timer as last set, -1 = none */
    struct http_later *laters;
    struct http_later *due; /* the laters http_multi_on_timer is running */
};

struct http_multi *http_multi_new(const struct http_options *opts, long max_connections)
{
    if (!g_inited) {
        struct brock_err ignore;
        (void)http_global_init(&ignore);
    }
    struct http_multi *m = xcalloc(1, sizeof *m);
    m->multi = curl_multi_init();
    if (!m->multi) {
        fprintf(stderr, "brock: libcurl could not create a handle (out of memory)\n");
        abort();
    }
    static const struct http_options none = {0};
    if (!opts)
        opts = &none;
    m->connect_timeout_ms = opts->connect_timeout_ms;
    m->total_timeout_ms = opts->total_timeout_ms;
    m->idle_timeout_ms = opts->idle_timeout_ms;
    m->ca_bundle = opts->ca_bundle ? xstrdup(opts->ca_bundle) : NULL;
    m->cancel = opts->cancel;
    const char *ua = http_user_agent();
    if (opts->user_agent_extra && *opts->user_agent_extra) {
        size_t n = strlen(ua) + strlen(opts->user_agent_extra) + 2;
        m->user_agent = xmalloc(n);
        snprintf(m->user_agent, n, "%s %s", ua, opts->user_agent_extra);
    } else {
        m->user_agent = xstrdup(ua);
    }
    if (max_connections > 0) {
        curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_connections);
        curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, max_connections);
    }
    m->curl_at_ms = m->idle_at_ms = m->armed_at_ms = -1;
    return m;
}

void http_multi_keep_connections(struct http_multi *m, long n)
{
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, n);
}

size_t http_multi_running(const struct http_multi *m)
{
    return m->n_running;
}

/* Take the transfer out of libcurl and the running list and release what it
 * holds; the easy handle goes back to the pool. */
static void mxfer_release(struct http_multi *m, struct mxfer *mx)
{
    CURL *h = mx->x.easy;
    curl_multi_remove_handle(m->multi, h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_CURLU, NULL);
    curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
    if (m->n_pool == m->cap_pool) {
        m->cap_pool = m->cap_pool ? m->cap_pool * 2 : 16;
        m->pool = xrealloc(m->pool, m->cap_pool * sizeof *m->pool);
    }
    m->pool[m->n_pool++] = h;
    if (mx->prev)
        mx->prev->next = mx->next;
    else
        m->running = mx->next;
    if (mx->next)
        mx->next->prev = mx->prev;
    m->n_running--;
    free_header_list(mx->hl);
    url_info_free(&mx->ui);
    free(mx);
}

void http_multi_free(struct http_multi *m)
{
    if (!m)
        return;
    while (m->running)
        mxfer_release(m, m->running);
    for (size_t i = 0; i < m->n_pool; i++)
        curl_easy_cleanup(m->pool[i]);
    free(m->pool);
    curl_multi_cleanup(m->multi);
    while (m->laters) {
        struct http_later *t = m->laters;
        m->laters = t->next;
        free(t);
    }
    while (m->due) {
        struct http_later *t = m->due;
        m->due = t->next;
        free(t);
    }
    free(m->ca_bundle);
    free(m->user_agent);
    free(m);
}

static void rearm(struct http_multi *m);

enum brock_status http_multi_add(struct http_multi *m, const struct http_request *req, struct http_response *resp,
                                 http_done_fn *done, void *ctx, struct brock_err *e)
{
    return http_multi_start(m, req, resp, done, ctx, NULL, e);
}

/* libcurl opens a connection's socket (as it would itself, plus
 * close-on-exec) and closes it, whenever that connection goes: the loop
 * learns both (http_multi_io.opened / closing). */
static curl_socket_t on_curl_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct http_multi *m = clientp;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    if (purpose == CURLSOCKTYPE_IPCXN)
        m->io.opened(m->io.ctx, fd);
    return fd;
}

static int on_curl_close(void *clientp, curl_socket_t fd)
{
    struct http_multi *m = clientp;
    m->io.closing(m->io.ctx, (int)fd);
    return close(fd);
}

enum brock_status http_multi_start(struct http_multi *m, const struct http_request *req, struct http_response *resp,
                                   http_done_fn *done, void *ctx, struct http_xfer **out, struct brock_err *e)
{
    size_t max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
    response_reset(resp, max_body);
    const char *method = req->method ? req->method : "GET";
    if (!method_ok(method))
        return err_set(e, BROCK_ERR_USAGE, "invalid HTTP method (must be 1-16 uppercase letters)");
    struct mxfer *mx = xcalloc(1, sizeof *mx);
    enum brock_status st = url_parse(req->url, req->allow_link_local, &mx->ui, e);
    if (st != BROCK_OK) {
        free(mx);
        return st;
    }
    mx->req = *req;
    snprintf(mx->method, sizeof mx->method, "%s", method);
    mx->req.method = mx->method;
    mx->done = done;
    mx->ctx = ctx;
    mx->m = m;
    struct xfer *x = &mx->x;
    x->req = &mx->req;
    x->resp = resp;
    x->ui = &mx->ui;
    x->cancel = req->cancel ? req->cancel : m->cancel;
    x->connect_ms = pick_timeout(req->connect_timeout_ms, m->connect_timeout_ms, HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
    x->total_ms = pick_timeout(req->total_timeout_ms, m->total_timeout_ms, HTTP_TIMEOUT_NONE);
    x->idle_ms = pick_timeout(req->idle_timeout_ms, m->idle_timeout_ms, HTTP_DEFAULT_IDLE_TIMEOUT_MS);
    x->max_body = max_body;
    if (cancelled(x)) {
        st = err_set(e, BROCK_ERR_INTERRUPTED, "request to %s interrupted before it started", mx->ui.where);
        url_info_free(&mx->ui);
        free(mx);
        return st;
    }
    bool has_body = req->body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;
    if (log_enabled(LOG_DEBUG))
        log_request(method, &mx->ui, req->headers, req->body_len);

    CURL *h = m->n_pool ? m->pool[--m->n_pool] : curl_easy_init();
    if (!h) {
        fprintf(stderr, "brock: libcurl could not create a handle (out of memory)\n");
        abort();
    }
    x->easy = h;
    mx->hl = build_header_list(req->headers, has_body);
    configure_easy(h, x, method, has_body, mx->hl, mx->errbuf, m->user_agent, m->ca_bundle);
    curl_easy_setopt(h, CURLOPT_PRIVATE, mx);
    /* Wait for an HTTP/2 connection to multiplex on: https only, where ALPN
     * says at the handshake whether it is one. Plain http is HTTP/1.1 here,
     * and libcurl would learn that only from the first response's headers,
     * holding every other request to the host until that answer starts. */
    if (mx->ui.https)
        curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    if (m->evented && m->io.opened && m->io.closing) {
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_curl_open);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, m);
        curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, on_curl_close);
        curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, m);
    }
    x->start_ms = x->last_activity_ms = time_mono_ms();
    if (curl_multi_add_handle(m->multi, h) != CURLM_OK) {
        st = err_set(e, BROCK_ERR_INTERNAL, "libcurl refused the request to %s", mx->ui.where);
        curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(h, CURLOPT_CURLU, NULL);
        curl_easy_cleanup(h);
        free_header_list(mx->hl);
        url_info_free(&mx->ui);
        free(mx);
        return st;
    }
    mx->next = m->running;
    if (m->running)
        m->running->prev = mx;
    m->running = mx;
    m->n_running++;
    if (x->idle_ms > 0 && (m->idle_at_ms < 0 || x->start_ms + x->idle_ms < m->idle_at_ms)) {
        m->idle_at_ms = x->start_ms + x->idle_ms;
        if (m->evented)
            rearm(m);
    }
    if (out)
        *out = (struct http_xfer *)mx;
    return BROCK_OK;
}

/* The transfer ended (rc from libcurl, or stopped by us): conclude, release,
 * then tell the caller. */
static void mxfer_finish(struct http_multi *m, struct mxfer *mx, CURLcode rc)
{
    struct brock_err err = {0};
    enum brock_status st = xfer_conclude(&mx->x, mx->x.easy, rc, mx->errbuf, mx->method, &err);
    http_done_fn *done = mx->done;
    void *ctx = mx->ctx;
    mxfer_release(m, mx);
    if (done)
        done(ctx, st, &err);
}

/* Finish what libcurl says is done; returns how many. */
static size_t multi_collect(struct http_multi *m)
{
    size_t n = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct mxfer *mx = NULL;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&mx);
        if (!mx)
            continue;
        mxfer_finish(m, mx, rc);
        n++;
    }
    return n;
}

/* Stop transfers that were cancelled or went idle too long; returns how many.
 * *wait_ms is lowered to the nearest idle deadline. */
static size_t multi_sweep(struct http_multi *m, int64_t now, long *wait_ms)
{
    size_t n = 0;
    struct mxfer *next;
    for (struct mxfer *mx = m->running; mx; mx = next) {
        next = mx->next;
        struct xfer *x = &mx->x;
        if (cancelled(x))
            xfer_fail(x, BROCK_ERR_INTERRUPTED, "request to %s interrupted", mx->ui.where);
        if (!x->failed && x->idle_ms > 0 && !x->paused) {
            int64_t idle = now - x->last_activity_ms;
            if (idle >= x->idle_ms) {
                if (x->resp->status == 0 && !x->head_done)
                    xfer_fail(x, BROCK_ERR_NETWORK, "no response from %s within %ld ms (idle timeout)", mx->ui.where,
                              x->idle_ms);
                else
                    xfer_fail(x, BROCK_ERR_NETWORK,
                              "connection to %s stalled: no data for %ld ms after %llu body bytes (HTTP %ld)",
                              mx->ui.where, x->idle_ms, (unsigned long long)x->resp->body_bytes, x->resp->status);
            } else if (x->idle_ms - idle < *wait_ms) {
                *wait_ms = (long)(x->idle_ms - idle);
            }
        }
        if (x->failed) {
            /* a callback's own failure ends through libcurl (write error);
             * ours (cancel, idle) end here */
            mxfer_finish(m, mx, CURLE_ABORTED_BY_CALLBACK);
            n++;
        }
    }
    return n;
}

enum brock_status http_multi_run(struct http_multi *m, long timeout_ms, struct brock_err *e)
{
    int64_t deadline = time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int still = 0;
        CURLMcode mc = curl_multi_perform(m->multi, &still);
        if (mc != CURLM_OK)
            return err_set(e, BROCK_ERR_INTERNAL, "libcurl multi error: %s", curl_multi_strerror(mc));
        size_t finished = multi_collect(m);
        int64_t now = time_mono_ms();
        long wait = POLL_SLICE_MS;
        finished += multi_sweep(m, now, &wait);
        if (finished || m->n_running == 0 || now >= deadline)
            return BROCK_OK;
        if (deadline - now < wait)
            wait = (long)(deadline - now);
        mc = curl_multi_poll(m->multi, NULL, 0, (int)(wait > 0 ? wait : 1), NULL);
        if (mc != CURLM_OK)
            return err_set(e, BROCK_ERR_INTERNAL, "libcurl poll error: %s", curl_multi_strerror(mc));
    }
}

/* ---- a multi run by an outside loop -------------------------------------------- */

static int64_t min_at(int64_t a, int64_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* Ask the loop for one timer at the nearest of libcurl's timeout, the first
 * later, the nearest idle deadline and an abort waiting for the sweep. */
static void rearm(struct http_multi *m)
{
    int64_t at = min_at(m->curl_at_ms, m->laters ? m->laters->at_ms : -1);
    if (m->n_running)
        at = min_at(at, m->idle_at_ms);
    int64_t now = time_mono_ms();
    if (m->sweep_now)
        at = now;
    if (at == m->armed_at_ms && at >= 0 && at > now)
        return; /* already set for then */
    m->armed_at_ms = at;
    m->io.timer(m->io.ctx, at < 0 ? -1 : at <= now ? 0 : (long)(at - now));
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct http_multi *m = userp;
    int w = what == CURL_POLL_REMOVE ? 0
            : (what == CURL_POLL_IN ? HTTP_IO_IN : what == CURL_POLL_OUT ? HTTP_IO_OUT : HTTP_IO_IN | HTTP_IO_OUT);
    void *slot = m->io.watch(m->io.ctx, (int)fd, w, socketp);
    if (w)
        curl_multi_assign(m->multi, fd, slot);
    return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct http_multi *m = userp;
    m->curl_at_ms = timeout_ms < 0 ? -1 : time_mono_ms() + timeout_ms;
    rearm(m);
    return 0;
}

void http_multi_set_io(struct http_multi *m, const struct http_multi_io *io)
{
    m->io = *io;
    m->evented = true;
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
}

void http_multi_on_socket(struct http_multi *m, int fd, int what)
{
    int running = 0;
    int ev = (what & HTTP_IO_IN ? CURL_CSELECT_IN : 0) | (what & HTTP_IO_OUT ? CURL_CSELECT_OUT : 0);
    CURLMcode mc = curl_multi_socket_action(m->multi, fd, ev, &running);
    if (mc != CURLM_OK)
        log_warn("http: libcurl socket action: %s", curl_multi_strerror(mc));
    multi_collect(m);
    rearm(m);
}

void http_multi_on_timer(struct http_multi *m)
{
    int64_t now = time_mono_ms();
    m->armed_at_ms = -1;
    if (m->curl_at_ms >= 0 && m->curl_at_ms <= now) {
        int running = 0;
        m->curl_at_ms = -1;
        CURLMcode mc = curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        if (mc != CURLM_OK)
            log_warn("http: libcurl timeout action: %s", curl_multi_strerror(mc));
        multi_collect(m);
    }
    if (m->sweep_now || (m->idle_at_ms >= 0 && m->idle_at_ms <= now)) {
        m->sweep_now = false;
        long wait = LONG_MAX;
        multi_sweep(m, now, &wait);
        m->idle_at_ms = wait == LONG_MAX ? -1 : now + wait;
    }
    /* the laters due now; one added by fn is for a later round. They wait
     * in m->due, where http_later_cancel() finds them too: a later may
     * cancel another one due in the same round. */
    struct http_later **tail = &m->due;
    while (*tail)
        tail = &(*tail)->next;
    while (m->laters && m->laters->at_ms <= now) {
        *tail = m->laters;
        m->laters = m->laters->next;
        tail = &(*tail)->next;
        *tail = NULL;
    }
    while (m->due) {
        struct http_later *t = m->due;
        m->due = t->next;
        t->fn(t->arg);
        free(t);
    }
    rearm(m);
}

void http_xfer_abort(struct http_xfer *h)
{
    struct mxfer *mx = (struct mxfer *)h;
    xfer_fail(&mx->x, BROCK_ERR_INTERRUPTED, "request to %s interrupted", mx->ui.where);
    mx->m->sweep_now = true;
    rearm(mx->m);
}

void http_xfer_resume(struct http_xfer *h)
{
    struct mxfer *mx = (struct mxfer *)h;
    if (!mx->x.paused || mx->x.failed)
        return;
    mx->x.paused = false;
    int64_t now = time_mono_ms();
    mx->x.last_activity_ms = now;
    /* The sweeps while it was held left it out of the idle deadline (maybe
     * none is set any more): count it in again from now. */
    struct http_multi *m = mx->m;
    if (mx->x.idle_ms > 0 && (m->idle_at_ms < 0 || now + mx->x.idle_ms < m->idle_at_ms)) {
        m->idle_at_ms = now + mx->x.idle_ms;
        rearm(m);
    }
    /* libcurl may hand the held piece over from in here: the callbacks run
     * as they would from the loop */
    curl_easy_pause(mx->x.easy, CURLPAUSE_CONT);
}

struct http_later *http_multi_later(struct http_multi *m, long ms, void (*fn)(void *arg), void *arg)
{
    struct http_later *t = xcalloc(1, sizeof *t);
    t->at_ms = time_mono_ms() + (ms > 0 ? ms : 0);
    t->fn = fn;
    t->arg = arg;
    struct http_later **pp = &m->laters;
    while (*pp && (*pp)->at_ms <= t->at_ms)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    rearm(m);
    return t;
}

static bool later_unlink(struct http_later **pp, struct http_later *t)
{
    for (; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            free(t);
            return true;
        }
    return false;
}

void http_later_cancel(struct http_multi *m, struct http_later *t)
{
    if (t && !later_unlink(&m->laters, t))
        (void)later_unlink(&m->due, t);
}
