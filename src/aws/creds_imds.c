/* creds_imds.c - EC2 instance metadata (IMDSv2, with the v1 fallback and
 * static stability of botocore's InstanceMetadataFetcher; wire reference 3.7). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/log.h"
#include "creds_impl.h"
#include "crypto.h"

#define IMDS_TOKEN_PATH "/latest/api/token"
#define IMDS_ROLE_PATH "/latest/meta-data/iam/security-credentials/"
#define IMDS_TOKEN_MAX 1024
#define IMDS_ROLE_MAX 128

struct imds_impl {
    struct creds_ctx x;
    struct http_client *http;
    long http_timeout_ms;
    struct aws_credentials *last; /* the last good set, for static stability */
};

struct imds_cfg {
    char endpoint[ENDPOINT_URL_MAX];
    bool v1_disabled;
    char v1_source[160];
    long timeout_ms;
    int attempts;
};

/* A setting from the environment, else the active profile. `src` names it. */
static const char *setting(struct imds_impl *m, const char *env, const char *key, char *src, size_t n)
{
    const char *v = creds_getenv(&m->x, env);
    if (v) {
        snprintf(src, n, "%s", env);
        return v;
    }
    const struct aws_profile_section *s = creds_active_profile(&m->x);
    const struct aws_profile_prop *p = aws_profile_prop(s, key);
    if (!p || !*p->value)
        return NULL;
    char loc[600];
    snprintf(src, n, "profile '%s' %s (%s)", aws_profile_section_name(s), key, creds_where(p, loc, sizeof loc));
    return p->value;
}

static enum brock_status load_cfg(struct imds_impl *m, struct imds_cfg *c, struct brock_err *e)
{
    char src[700];
    memset(c, 0, sizeof *c);
    const char *v = setting(m, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint", src, sizeof src);
    if (v) {
        size_t n = strlen(v);
        while (n > 0 && v[n - 1] == '/')
            n--;
        if (n == 0 || n >= sizeof c->endpoint)
            return err_set(e, BROCK_ERR_CONFIG, "%s: not a usable URL", src);
        memcpy(c->endpoint, v, n);
        c->endpoint[n] = '\0';
        enum brock_status st = http_check_url(c->endpoint, true, e);
        if (st != BROCK_OK)
            return err_prefix(e, "%s", src);
    } else {
        v = setting(m, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ec2_metadata_service_endpoint_mode", src,
                    sizeof src);
        if (!v || !strcasecmp(v, "IPv4"))
            snprintf(c->endpoint, sizeof c->endpoint, "%s", CREDS_IMDS_ENDPOINT_V4);
        else if (!strcasecmp(v, "IPv6"))
            snprintf(c->endpoint, sizeof c->endpoint, "%s", CREDS_IMDS_ENDPOINT_V6);
        else
            return err_set(e, BROCK_ERR_CONFIG, "%s: must be IPv4 or IPv6", src);
    }
    v = setting(m, "AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled", c->v1_source, sizeof c->v1_source);
    if (v) {
        enum brock_status st = endpoint_parse_bool(v, c->v1_source, &c->v1_disabled, e);
        if (st != BROCK_OK)
            return st;
    }
    c->timeout_ms = CREDS_IMDS_TIMEOUT_MS;
    v = setting(m, "AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", src, sizeof src);
    if (v) {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end || !(d > 0) || d > 300)
            return err_set(e, BROCK_ERR_CONFIG, "%s: must be a number of seconds above 0 and at most 300", src);
        c->timeout_ms = (long)(d * 1000) > 0 ? (long)(d * 1000) : 1;
    }
    c->attempts = CREDS_IMDS_ATTEMPTS;
    v = setting(m, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts", src, sizeof src);
    if (v) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 1 || n > CREDS_IMDS_MAX_ATTEMPTS)
            return err_set(e, BROCK_ERR_CONFIG, "%s: must be a whole number from 1 to %d", src,
                           CREDS_IMDS_MAX_ATTEMPTS);
        c->attempts = (int)n;
    }
    return BROCK_OK;
}

/* The connection never got established: no IMDS here at all. */
static bool connect_failed(const struct brock_err *e)
{
    return !strncmp(e->msg, "cannot connect", 14) || !strncmp(e->msg, "connecting to", 13) ||
           !strncmp(e->msg, "cannot resolve", 14);
}

static enum brock_status imds_send(struct imds_impl *m, const struct imds_cfg *c, const char *method, const char *path,
                                   const char *token, struct http_response *r, struct brock_err *e)
{
    if (!m->http || m->http_timeout_ms != c->timeout_ms) {
        http_client_free(m->http);
        struct http_options o = m->x.http;
        o.connect_timeout_ms = o.total_timeout_ms = c->timeout_ms;
        m->http = http_client_new(&o);
        m->http_timeout_ms = c->timeout_ms;
    }
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st = BROCK_OK;
    if (!strcmp(method, "PUT"))
        st = http_headers_add(&h, "x-aws-ec2-metadata-token-ttl-seconds", CREDS_IMDS_TOKEN_TTL, e);
    if (st == BROCK_OK && token)
        st = http_headers_add(&h, "x-aws-ec2-metadata-token", token, e);
    struct buf url = BUF_INIT(ENDPOINT_URL_MAX + 512);
    buf_addstr(&url, c->endpoint);
    buf_addstr(&url, path);
    if (st == BROCK_OK && buf_status(&url) != BROCK_OK)
        st = err_set(e, BROCK_ERR_CONFIG, "EC2 instance metadata URL too long");
    if (st == BROCK_OK) {
        struct http_request req = {
            .method = method,
            .url = buf_cstr(&url),
            .headers = &h,
            .max_body = CREDS_MAX_JSON,
            .allow_link_local = true,
        };
        st = http_send(m->http, &req, r, e);
    }
    buf_free(&url);
    http_headers_cleanup(&h);
    return st;
}

/* One fetch. *transient: IMDS did not answer (static stability may help). */
static enum brock_status imds_fetch(struct imds_impl *m, const struct imds_cfg *c, struct aws_credentials **out,
                                    bool *absent, bool *transient, struct brock_err *e)
{
    struct http_response r;
    http_response_init(&r);
    struct buf token = BUF_INIT(IMDS_TOKEN_MAX);
    char role[IMDS_ROLE_MAX + 1] = "";
    char reason[sizeof e->msg] = "";
    enum brock_status st;
    bool have_token = false, no_answer = false;
    long status = 0;

    /* 1. the session token */
    for (int a = 0; a < c->attempts; a++) {
        st = imds_send(m, c, "PUT", IMDS_TOKEN_PATH, NULL, &r, e);
        if (st == BROCK_ERR_INTERRUPTED || st == BROCK_ERR_CONFIG)
            goto done;
        if (st != BROCK_OK) {
            snprintf(reason, sizeof reason, "%s", e->msg);
            if (connect_failed(e)) {
                no_answer = true;
                continue;
            }
            no_answer = false;
            break; /* it connected but did not answer: a hop limit, maybe; try v1 */
        }
        no_answer = false;
        if (r.status == 200) {
            buf_add(&token, buf_cstr(&r.body), r.body.len);
            while (token.len && (token.ptr[token.len - 1] == '\n' || token.ptr[token.len - 1] == '\r'))
                token.ptr[--token.len] = '\0';
            if (buf_status(&token) != BROCK_OK || token.len == 0 || !creds_header_safe(token.ptr, token.len) ||
                strchr(token.ptr, ' ')) {
                st = err_set(e, BROCK_ERR_CREDENTIALS, "EC2 instance metadata returned an unusable IMDSv2 token");
                goto done;
            }
            have_token = true;
            break;
        }
        if (r.status == 400) {
            st = err_set(e, BROCK_ERR_CREDENTIALS, "EC2 instance metadata refused the IMDSv2 token request (HTTP 400)");
            goto done;
        }
        snprintf(reason, sizeof reason, "the token request answered HTTP %ld", r.status);
        if (r.status == 403 || r.status == 404 || r.status == 405)
            break;
    }
    if (!have_token) {
        if (no_answer) {
            *transient = true;
            st = creds_absent(absent, e, "EC2 instance metadata (no answer from %s within %ld ms)", c->endpoint,
                              c->timeout_ms);
            goto done;
        }
        if (c->v1_disabled) {
            st = err_set(e, BROCK_ERR_CREDENTIALS,
                         "EC2 instance metadata: no IMDSv2 token (%s) and IMDSv1 is disabled by %s", reason,
                         c->v1_source);
            goto done;
        }
        log_debug("EC2 instance metadata: no IMDSv2 token (%s); trying IMDSv1", reason);
    }
    const char *tok = have_token ? token.ptr : NULL;

    /* 2. the role name */
    bool got = false;
    for (int a = 0; a < c->attempts && !got; a++) {
        st = imds_send(m, c, "GET", IMDS_ROLE_PATH, tok, &r, e);
        if (st == BROCK_ERR_INTERRUPTED || st == BROCK_ERR_CONFIG)
            goto done;
        if (st != BROCK_OK) {
            status = 0;
            snprintf(reason, sizeof reason, "%s", e->msg);
            continue;
        }
        status = r.status;
        if (r.status == 404) {
            st = creds_absent(absent, e, "EC2 instance metadata (no IAM role attached to the instance)");
            goto done;
        }
        if (r.status == 200 && r.body.len)
            got = true;
    }
    if (!got) {
        if (status) {
            /* As botocore: an instance metadata service that will not name a
             * role (a 403 from a proxy or a locked-down host) gives no
             * credentials; it is not a configured source that broke. */
            st = creds_absent(absent, e, "EC2 instance metadata (listing the IAM role answered HTTP %ld)", status);
        } else {
            *transient = true;
            st = creds_absent(absent, e, "EC2 instance metadata (%s)", reason);
        }
        goto done;
    }
    size_t rl = strcspn(buf_cstr(&r.body), "\r\n");
    if (rl == 0 || rl > IMDS_ROLE_MAX) {
        st = err_set(e, BROCK_ERR_CREDENTIALS, "EC2 instance metadata: the IAM role name is empty or too long");
        goto done;
    }
    memcpy(role, r.body.ptr, rl);
    role[rl] = '\0';
    for (size_t i = 0; i < rl; i++) {
        unsigned char ch = (unsigned char)role[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '/') {
            st = err_set(e, BROCK_ERR_CREDENTIALS, "EC2 instance metadata: the IAM role name has unexpected characters");
            goto done;
        }
    }

    /* 3. its credentials */
    struct buf path = BUF_INIT(512);
    buf_addstr(&path, IMDS_ROLE_PATH);
    uri_encode(&path, role, rl, false);
    got = false;
    status = 0;
    for (int a = 0; a < c->attempts && !got; a++) {
        st = imds_send(m, c, "GET", buf_cstr(&path), tok, &r, e);
        if (st == BROCK_ERR_INTERRUPTED || st == BROCK_ERR_CONFIG) {
            buf_free(&path);
            goto done;
        }
        if (st != BROCK_OK) {
            status = 0;
            snprintf(reason, sizeof reason, "%s", e->msg);
            continue;
        }
        status = r.status;
        got = r.status == 200;
    }
    buf_free(&path);
    if (!got) {
        if (status) {
            st = err_set(e, BROCK_ERR_CREDENTIALS, "EC2 instance metadata: the credentials of role %s answered HTTP %ld",
                         role, status);
        } else {
            *transient = true;
            st = err_set(e, BROCK_ERR_CREDENTIALS, "EC2 instance metadata: the credentials of role %s: %s", role, reason);
        }
        goto done;
    }
    st = creds_parse_json(CREDS_JSON_IMDS, buf_cstr(&r.body), r.body.len, "EC2 instance metadata", out, e);
    if (st != BROCK_OK)
        err_prefix(e, "role %s", role);
done:
    if (r.body.ptr)
        secure_wipe(r.body.ptr, r.body.len);
    http_response_free(&r);
    buf_free_secure(&token);
    return st;
}

/* The set with its expiry moved to now + 15 min + 2..10 min (botocore's
 * static stability), or kept if later. */
static struct aws_credentials *extend(const struct imds_impl *m, const struct aws_credentials *c, int64_t now)
{
    double r = m->x.random ? m->x.random(m->x.random_ctx) : crypto_random_unit();
    if (!(r >= 0 && r < 1))
        r = 0;
    int64_t exp = now + CREDS_ADVISORY_REFRESH_MS + 120000 + (int64_t)(r * 480000);
    if (c->expiration_ms > exp)
        exp = c->expiration_ms;
    return creds_make(c->access_key_id, c->secret_access_key, c->session_token, exp, c->account_id, c->provider);
}

static enum brock_status imds_get(struct creds_provider *p, struct aws_credentials **out, bool *absent,
                                  struct brock_err *e)
{
    struct imds_impl *m = p->impl;
    const char *dis = creds_getenv(&m->x, "AWS_EC2_METADATA_DISABLED");
    if (dis && !strcasecmp(dis, "true"))
        return creds_absent(absent, e, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
    struct imds_cfg c;
    enum brock_status st = load_cfg(m, &c, e);
    if (st != BROCK_OK)
        return st;
    bool transient = false, gone = false;
    struct aws_credentials *fresh = NULL;
    st = imds_fetch(m, &c, &fresh, &gone, &transient, e);
    int64_t now = creds_now_ms(&m->x);
    if (st == BROCK_OK && !gone) {
        if (fresh->expiration_ms - now < CREDS_ADVISORY_REFRESH_MS) {
            struct aws_credentials *ext = extend(m, fresh, now);
            log_warn("EC2 instance metadata returned credentials that expire in %lld s; using them for longer and "
                     "asking again later (static stability)",
                     (long long)((fresh->expiration_ms - now) / 1000));
            aws_credentials_release(fresh);
            fresh = ext;
        }
        aws_credentials_release(m->last);
        m->last = aws_credentials_acquire(fresh);
        *out = fresh;
        return BROCK_OK;
    }
    if (transient && m->last && st != BROCK_ERR_INTERRUPTED) {
        log_warn("%s; reusing the last credentials it gave (static stability)", e->msg);
        err_clear(e);
        *out = extend(m, m->last, now);
        return BROCK_OK;
    }
    if (gone)
        *absent = true;
    return st;
}

static void imds_destroy(struct creds_provider *p)
{
    struct imds_impl *m = p->impl;
    http_client_free(m->http);
    aws_credentials_release(m->last);
    creds_ctx_cleanup(&m->x);
    free(m);
    free(p);
}

static const struct creds_provider_vtable imds_vt = {"imds", imds_get, imds_destroy};

struct creds_provider *creds_provider_imds(const struct creds_config *c)
{
    struct imds_impl *m = xcalloc(1, sizeof *m);
    creds_ctx_init(&m->x, c);
    return creds_provider_new(&imds_vt, m);
}
