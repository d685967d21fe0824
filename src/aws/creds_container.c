/* creds_container.c - ECS task roles and EKS Pod Identity: the container
 * credentials endpoint (aws-wire-reference 3.6; botocore ContainerProvider). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "creds_impl.h"

struct container_impl {
    struct creds_ctx x;
    struct http_client *http;
};

/* Hosts allowed for a plain-http full URI, besides loopback addresses. */
static bool host_allowed(const char *host)
{
    if (!strcasecmp(host, "localhost"))
        return true;
    unsigned char a[16], b[16];
    if (inet_pton(AF_INET, host, a) == 1) {
        if (a[0] == 127)
            return true;
        inet_pton(AF_INET, "169.254.170.2", b);
        if (!memcmp(a, b, 4))
            return true;
        inet_pton(AF_INET, "169.254.170.23", b);
        return !memcmp(a, b, 4);
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        inet_pton(AF_INET6, "::1", b);
        if (!memcmp(a, b, 16))
            return true;
        inet_pton(AF_INET6, "fd00:ec2::23", b);
        return !memcmp(a, b, 16);
    }
    return false;
}

/* "scheme://authority" of a URL, for messages (never the path: an ECS
 * relative URI is a per-task capability). */
static const char *url_origin(const char *url, char *out, size_t n)
{
    const char *s = strstr(url, "://");
    size_t len = s ? (size_t)(s + 3 - url) + strcspn(s + 3, "/?#") : strlen(url);
    snprintf(out, n, "%.*s", (int)len, url);
    return out;
}

static enum brock_status check_full_uri(const char *url, struct brock_err *e)
{
    if (!strncasecmp(url, "https://", 8))
        return BROCK_OK;
    if (strncasecmp(url, "http://", 7) != 0)
        return err_set(e, BROCK_ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http:// or https:// URL");
    const char *auth = url + 7;
    size_t alen = strcspn(auth, "/?#");
    if (memchr(auth, '@', alen))
        return err_set(e, BROCK_ERR_CONFIG,
                       "AWS_CONTAINER_CREDENTIALS_FULL_URI must not hold a user name or password");
    char host[256];
    size_t hl;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close)
            return err_set(e, BROCK_ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI: unclosed '[' in the host");
        hl = (size_t)(close - auth - 1);
        auth++;
    } else {
        const char *colon = memchr(auth, ':', alen);
        hl = colon ? (size_t)(colon - auth) : alen;
    }
    if (hl == 0 || hl >= sizeof host)
        return err_set(e, BROCK_ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI: bad host");
    memcpy(host, auth, hl);
    host[hl] = '\0';
    if (!host_allowed(host)) {
        char shown[80];
        size_t j = 0;
        for (size_t i = 0; host[i] && j + 1 < sizeof shown; i++)
            shown[j++] = (unsigned char)host[i] < 0x20 || (unsigned char)host[i] >= 0x7f ? '?' : host[i];
        shown[j] = '\0';
        return err_set(e, BROCK_ERR_CONFIG,
                       "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http to %s is not allowed; use https, a loopback "
                       "address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23",
                       shown);
    }
    return BROCK_OK;
}

/* The Authorization value: the token file (read every time) or the variable. */
static enum brock_status auth_token(struct container_impl *m, struct buf *out, const char **source,
                                    struct brock_err *e)
{
    const char *file = creds_getenv(&m->x, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = creds_getenv(&m->x, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    *source = NULL;
    if (file) {
        *source = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
        enum brock_status st = fs_read_file(file, CREDS_TOKEN_MAX, out, e);
        if (st != BROCK_OK) {
            char why[sizeof e->msg];
            snprintf(why, sizeof why, "%s", e->msg);
            return err_set(e, BROCK_ERR_CREDENTIALS, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s", why);
        }
    } else if (tok) {
        *source = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
        if (buf_addstr(out, tok) != BROCK_OK || out->len > CREDS_TOKEN_MAX)
            return err_set(e, BROCK_ERR_CONFIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN is longer than %d bytes",
                           CREDS_TOKEN_MAX);
    } else {
        return BROCK_OK;
    }
    if (memchr(out->ptr ? out->ptr : "", '\r', out->len) || memchr(out->ptr ? out->ptr : "", '\n', out->len))
        return err_set(e, BROCK_ERR_CONFIG, "the container authorization token from %s holds a CR or LF, which "
                                            "cannot go into an HTTP header",
                       *source);
    if (!creds_header_safe(buf_cstr(out), out->len) || memchr(buf_cstr(out), '\0', out->len))
        return err_set(e, BROCK_ERR_CONFIG,
                       "the container authorization token from %s holds characters that cannot go into an HTTP header",
                       *source);
    return BROCK_OK;
}

static enum brock_status container_get(struct creds_provider *p, struct aws_credentials **out, bool *absent,
                                       struct brock_err *e)
{
    struct container_impl *m = p->impl;
    const char *rel = creds_getenv(&m->x, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = creds_getenv(&m->x, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full)
        return creds_absent(absent, e, "container endpoint (not configured)");
    struct buf url = BUF_INIT(ENDPOINT_URL_MAX + 4096);
    enum brock_status st = BROCK_OK;
    if (rel) {
        if (rel[0] != '/')
            return err_set(e, BROCK_ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'");
        buf_addstr(&url, m->x.container_host);
        buf_addstr(&url, rel);
    } else {
        st = check_full_uri(full, e);
        if (st != BROCK_OK)
            return st;
        buf_addstr(&url, full);
    }
    if (buf_status(&url) != BROCK_OK) {
        buf_free(&url);
        return err_set(e, BROCK_ERR_CONFIG, "the container credentials URI is too long");
    }
    char origin[300];
    url_origin(buf_cstr(&url), origin, sizeof origin);

    struct buf tok = BUF_INIT(CREDS_TOKEN_MAX);
    const char *tok_source = NULL;
    struct http_headers h = HTTP_HEADERS_INIT;
    st = auth_token(m, &tok, &tok_source, e);
    if (st == BROCK_OK)
        st = http_headers_add(&h, "Accept", "application/json", e);
    if (st == BROCK_OK && tok_source)
        st = http_headers_add(&h, "Authorization", buf_cstr(&tok), e);
    buf_free_secure(&tok);
    if (st != BROCK_OK)
        goto done;
    if (!m->http) {
        struct http_options o = m->x.http;
        o.connect_timeout_ms = o.total_timeout_ms = CREDS_CONTAINER_TIMEOUT_MS;
        m->http = http_client_new(&o);
    }
    struct http_response r;
    http_response_init(&r);
    struct brock_err last = {0};
    long status = 0;
    for (int attempt = 1; attempt <= CREDS_CONTAINER_ATTEMPTS; attempt++) {
        struct http_request req = {
            .method = "GET",
            .url = buf_cstr(&url),
            .headers = &h,
            .max_body = CREDS_MAX_JSON,
            .allow_link_local = true,
        };
        st = http_send(m->http, &req, &r, &last);
        if (st == BROCK_OK && r.status == 200)
            break;
        if (st == BROCK_ERR_CONFIG || st == BROCK_ERR_INTERRUPTED) {
            if (e)
                *e = last;
            goto done_resp;
        }
        status = st == BROCK_OK ? r.status : 0;
        log_debug("container credentials from %s: attempt %d failed (%s)", origin, attempt,
                  st == BROCK_OK ? "non-200 answer" : last.msg);
        if (attempt < CREDS_CONTAINER_ATTEMPTS)
            clock_sleep_ms(m->x.clock, CREDS_CONTAINER_RETRY_SLEEP_MS);
        st = BROCK_ERR_CREDENTIALS;
    }
    if (st == BROCK_OK) {
        st = creds_parse_json(CREDS_JSON_CONTAINER, buf_cstr(&r.body), r.body.len, "container", out, e);
        if (st != BROCK_OK)
            err_prefix(e, "container endpoint %s", origin);
    } else if (status) {
        st = err_set(e, BROCK_ERR_CREDENTIALS, "container endpoint %s answered HTTP %ld (%d attempts)", origin, status,
                     CREDS_CONTAINER_ATTEMPTS);
    } else {
        st = err_set(e, BROCK_ERR_CREDENTIALS, "container endpoint %s: %s (%d attempts)", origin, last.msg,
                     CREDS_CONTAINER_ATTEMPTS);
    }
done_resp:
    if (r.body.ptr)
        secure_wipe(r.body.ptr, r.body.len);
    http_response_free(&r);
done:
    http_headers_cleanup(&h);
    buf_free(&url);
    return st;
}

static void container_destroy(struct creds_provider *p)
{
    struct container_impl *m = p->impl;
    http_client_free(m->http);
    creds_ctx_cleanup(&m->x);
    free(m);
    free(p);
}

static const struct creds_provider_vtable container_vt = {"container", container_get, container_destroy};

struct creds_provider *creds_provider_container(const struct creds_config *c)
{
    struct container_impl *m = xcalloc(1, sizeof *m);
    creds_ctx_init(&m->x, c);
    return creds_provider_new(&container_vt, m);
}
