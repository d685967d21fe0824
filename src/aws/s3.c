/* s3.c - the S3 client (s3.h). One aws_client per bucket: its endpoint is the
 * bucket's (virtual-hosted host, or the endpoint plus "/bucket"), so the
 * generic client signs exactly what goes on the wire. */
#include "s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"

#define MAX_BUCKETS 8 /* clients kept, one per bucket */
#define ERROR_BODY_MAX ((size_t)64 * 1024)

struct bucket_client {
    char name[ENDPOINT_S3_BUCKET_MAX + 1];
    struct aws_client *c;
};

struct s3_client {
    struct aws_client_config cfg; /* strings below are our copies */
    char *region, *endpoint_url, *endpoint_label;
    bool path_style;
    size_t part_size, threshold;
    struct bucket_client buckets[MAX_BUCKETS];
    size_t n_buckets, next_evict;
};

struct s3_client *s3_client_new(const struct s3_config *cfg)
{
    struct s3_client *c = xcalloc(1, sizeof *c);
    c->cfg = cfg->aws;
    c->region = xstrdup(cfg->aws.region ? cfg->aws.region : ENDPOINT_DEFAULT_REGION);
    c->endpoint_url = cfg->aws.endpoint_url && *cfg->aws.endpoint_url &&
                              (!cfg->aws.endpoint_url_services ||
                               (cfg->aws.endpoint_url_services & (1u << ENDPOINT_SVC_S3)))
                          ? xstrdup(cfg->aws.endpoint_url)
                          : NULL;
    c->endpoint_label = xstrdup(cfg->aws.endpoint_label ? cfg->aws.endpoint_label : "--endpoint-url");
    c->cfg.region = c->region;
    c->cfg.bearer_token = NULL;
    c->path_style = cfg->path_style;
    c->part_size = cfg->part_size ? cfg->part_size : S3_DEFAULT_PART_SIZE;
    if (c->part_size < S3_MIN_PART_SIZE)
        c->part_size = S3_MIN_PART_SIZE;
    c->threshold = cfg->multipart_threshold ? cfg->multipart_threshold : S3_MULTIPART_THRESHOLD;
    return c;
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_buckets; i++)
        aws_client_free(c->buckets[i].c);
    free(c->region);
    free(c->endpoint_url);
    free(c->endpoint_label);
    free(c);
}

enum brock_status s3_uri_parse(const char *uri, struct s3_uri *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    if (!uri || strncmp(uri, "s3://", 5))
        return err_set(e, BROCK_ERR_USAGE, "expected an S3 URI like s3://bucket/prefix/, got '%.200s'",
                       uri ? uri : "");
    const char *b = uri + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl < 3 || bl > 63)
        return err_set(e, BROCK_ERR_USAGE, "S3 URI '%.200s': a bucket name is 3 to 63 characters", uri);
    for (size_t i = 0; i < bl; i++) {
        char ch = b[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
        if (!ok)
            return err_set(e, BROCK_ERR_USAGE,
                           "S3 URI '%.200s': bucket names hold lowercase letters, digits, '-' and '.' only", uri);
    }
    memcpy(out->bucket, b, bl);
    const char *key = slash ? slash + 1 : "";
    if (strlen(key) > S3_MAX_KEY)
        return err_set(e, BROCK_ERR_USAGE, "S3 URI '%.100s...': the key is longer than %d bytes", uri, S3_MAX_KEY);
    memcpy(out->key, key, strlen(key) + 1);
    return BROCK_OK;
}

void s3_key_path(const char *key, struct buf *out)
{
    buf_addc(out, '/');
    uri_encode(out, key, strlen(key), true);
}

/* The client of a bucket, made on first use. */
static enum brock_status bucket(struct s3_client *c, const char *name, struct aws_client **out, struct brock_err *e)
{
    for (size_t i = 0; i < c->n_buckets; i++)
        if (!strcmp(c->buckets[i].name, name)) {
            *out = c->buckets[i].c;
            return BROCK_OK;
        }
    struct endpoint_request req = {
        .service = ENDPOINT_SVC_S3,
        .region = c->region,
        .endpoint_url = c->endpoint_url,
        .explicit_label = c->endpoint_label,
        .s3_bucket = name,
        .s3_path_style = c->path_style,
    };
    struct endpoint *ep = xcalloc(1, sizeof *ep);
    enum brock_status st = endpoint_resolve(&req, c->cfg.lookup, ep, e);
    if (st != BROCK_OK) {
        free(ep);
        return st;
    }
    struct aws_client_config cc = c->cfg;
    cc.endpoint_url = ep->url;
    cc.endpoint_url_services = 1u << ENDPOINT_SVC_S3;
    cc.endpoint_label = ep->source;
    struct bucket_client *bc;
    if (c->n_buckets < MAX_BUCKETS) {
        bc = &c->buckets[c->n_buckets++];
    } else {
        bc = &c->buckets[c->next_evict++ % MAX_BUCKETS];
        aws_client_free(bc->c);
    }
    snprintf(bc->name, sizeof bc->name, "%s", name);
    bc->c = aws_client_new(&cc);
    free(ep);
    *out = bc->c;
    return BROCK_OK;
}

struct call {
    const char *method;
    const char *key; /* NULL: the bucket itself */
    const char *query;
    const struct http_headers *headers;
    const void *body;
    size_t body_len;
    size_t max_body;
};

static enum brock_status s3_call(struct s3_client *c, const char *bkt, const struct call *k, struct aws_response *r,
                              struct brock_err *e)
{
    struct aws_client *ac;
    enum brock_status st = bucket(c, bkt, &ac, e);
    if (st != BROCK_OK)
        return st;
    if (k->key && strlen(k->key) > S3_MAX_KEY)
        return err_set(e, BROCK_ERR_USAGE, "S3 key longer than %d bytes", S3_MAX_KEY);
    struct buf path = BUF_INIT(3 * S3_MAX_KEY + 8);
    if (k->key)
        s3_key_path(k->key, &path);
    else
        buf_addc(&path, '/');
    struct aws_request req = {
        .service = ENDPOINT_SVC_S3,
        .method = k->method,
        .path = buf_cstr(&path),
        .query = k->query,
        .headers = k->headers,
        .body = k->body,
        .body_len = k->body_len,
        .protocol = AWSERR_REST_XML,
        .auth = AWS_AUTH_SIGV4,
        .max_body = k->max_body,
    };
    st = aws_client_send(ac, &req, r, e);
    if (st != BROCK_OK)
        err_prefix(e, "S3 %s s3://%s/%.200s", k->method, bkt, k->key ? k->key : "");
    buf_free(&path);
    return st;
}

static void object_info(const struct aws_response *r, struct s3_object *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    const struct http_headers *h = &r->http.headers;
    const char *v;
    if ((v = http_headers_get(h, "etag")))
        snprintf(out->etag, sizeof out->etag, "%s", v);
    if ((v = http_headers_get(h, "content-type")))
        snprintf(out->content_type, sizeof out->content_type, "%s", v);
    if ((v = http_headers_get(h, "last-modified")))
        snprintf(out->last_modified, sizeof out->last_modified, "%s", v);
    if ((v = http_headers_get(h, "content-length")))
        out->size = strtoull(v, NULL, 10);
}

enum brock_status s3_put_object(struct s3_client *c, const char *bkt, const char *key, const void *data, size_t n,
                                const char *content_type, struct s3_object *out, struct brock_err *e)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st =
        http_headers_add(&h, "Content-Type", content_type ? content_type : "application/octet-stream", e);
    struct aws_response r;
    aws_response_init(&r);
    if (st == BROCK_OK) {
        struct call k = {.method = "PUT", .key = key, .headers = &h, .body = data, .body_len = n};
        st = s3_call(c, bkt, &k, &r, e);
    }
    if (st == BROCK_OK) {
        object_info(&r, out);
        if (out)
            out->size = n;
    }
    aws_response_free(&r);
    http_headers_cleanup(&h);
    return st;
}

enum brock_status s3_multipart_create(struct s3_client *c, const char *bkt, const char *key, const char *content_type,
                                      char upload_id[S3_MAX_UPLOAD_ID + 1], struct brock_err *e)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st =
        http_headers_add(&h, "Content-Type", content_type ? content_type : "application/octet-stream", e);
    struct aws_response r;
    aws_response_init(&r);
    if (st == BROCK_OK) {
        struct call k = {.method = "POST", .key = key, .query = "uploads", .headers = &h, .max_body = S3_MAX_XML};
        st = s3_call(c, bkt, &k, &r, e);
    }
    if (st == BROCK_OK)
        st = s3_parse_upload_id(buf_cstr(&r.http.body), r.http.body.len, upload_id, e);
    aws_response_free(&r);
    http_headers_cleanup(&h);
    return st;
}

static void upload_query(struct buf *q, const char *upload_id, int part)
{
    if (part > 0)
        buf_addf(q, "partNumber=%d&", part);
    buf_addstr(q, "uploadId=");
    uri_encode(q, upload_id, strlen(upload_id), false);
}

enum brock_status s3_multipart_part(struct s3_client *c, const char *bkt, const char *key, const char *upload_id,
                                    int number, const void *data, size_t n, struct s3_part *out, struct brock_err *e)
{
    if (number < 1 || number > S3_MAX_PARTS)
        return err_set(e, BROCK_ERR_USAGE, "S3 part number %d is not within 1..%d", number, S3_MAX_PARTS);
    struct buf q = BUF_INIT(4 * S3_MAX_UPLOAD_ID);
    upload_query(&q, upload_id, number);
    struct aws_response r;
    aws_response_init(&r);
    struct call k = {.method = "PUT", .key = key, .query = buf_cstr(&q), .body = data, .body_len = n};
    enum brock_status st = s3_call(c, bkt, &k, &r, e);
    if (st == BROCK_OK) {
        const char *etag = http_headers_get(&r.http.headers, "etag");
        if (!etag || !*etag || strlen(etag) >= S3_ETAG_MAX)
            st = err_set(e, BROCK_ERR_PARSE, "S3 UploadPart %d of s3://%s/%.200s: no usable ETag in the answer",
                         number, bkt, key);
        else {
            out->number = number;
            snprintf(out->etag, sizeof out->etag, "%s", etag);
        }
    }
    aws_response_free(&r);
    buf_free(&q);
    return st;
}

static void xml_text(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': buf_addstr(b, "&amp;"); break;
        case '<': buf_addstr(b, "&lt;"); break;
        case '>': buf_addstr(b, "&gt;"); break;
        case '"': buf_addstr(b, "&quot;"); break;
        default: buf_addc(b, *s);
        }
    }
}

enum brock_status s3_multipart_complete(struct s3_client *c, const char *bkt, const char *key, const char *upload_id,
                                        const struct s3_part *parts, size_t n, struct s3_object *out,
                                        struct brock_err *e)
{
    if (n == 0 || n > S3_MAX_PARTS)
        return err_set(e, BROCK_ERR_USAGE, "a multipart upload needs 1 to %d parts (got %zu)", S3_MAX_PARTS, n);
    struct buf body = BUF_INIT((size_t)S3_MAX_PARTS * (S3_ETAG_MAX + 64) + 256);
    buf_addstr(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < n; i++) {
        buf_addf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number);
        xml_text(&body, parts[i].etag);
        buf_addstr(&body, "</ETag></Part>");
    }
    buf_addstr(&body, "</CompleteMultipartUpload>");
    struct buf q = BUF_INIT(4 * S3_MAX_UPLOAD_ID);
    upload_query(&q, upload_id, 0);
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st = http_headers_add(&h, "Content-Type", "application/xml", e);
    struct aws_response r;
    aws_response_init(&r);
    if (st == BROCK_OK) {
        struct call k = {.method = "POST", .key = key, .query = buf_cstr(&q), .headers = &h, .body = body.ptr,
                         .body_len = body.len, .max_body = S3_MAX_XML};
        st = s3_call(c, bkt, &k, &r, e);
    }
    char etag[S3_ETAG_MAX];
    if (st == BROCK_OK && (st = s3_parse_complete(buf_cstr(&r.http.body), r.http.body.len, etag, e)) == BROCK_OK &&
        out) {
        memset(out, 0, sizeof *out);
        snprintf(out->etag, sizeof out->etag, "%s", etag);
    } else if (st != BROCK_OK) {
        err_prefix(e, "completing the upload of s3://%s/%.200s", bkt, key);
    }
    aws_response_free(&r);
    http_headers_cleanup(&h);
    buf_free(&q);
    buf_free(&body);
    return st;
}

enum brock_status s3_multipart_abort(struct s3_client *c, const char *bkt, const char *key, const char *upload_id,
                                     struct brock_err *e)
{
    struct buf q = BUF_INIT(4 * S3_MAX_UPLOAD_ID);
    upload_query(&q, upload_id, 0);
    struct aws_response r;
    aws_response_init(&r);
    struct call k = {.method = "DELETE", .key = key, .query = buf_cstr(&q)};
    enum brock_status st = s3_call(c, bkt, &k, &r, e);
    aws_response_free(&r);
    buf_free(&q);
    return st;
}

enum brock_status s3_put(struct s3_client *c, const char *bkt, const char *key, const void *data, size_t n,
                         const char *content_type, struct s3_object *out, struct brock_err *e)
{
    if (n <= c->threshold)
        return s3_put_object(c, bkt, key, data, n, content_type, out, e);
    size_t part = c->part_size;
    if ((n + part - 1) / part > S3_MAX_PARTS)
        part = (n + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
    if (part > S3_MAX_PART_SIZE)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%zu bytes is more than S3 takes in one object", n);
    char upload_id[S3_MAX_UPLOAD_ID + 1];
    enum brock_status st = s3_multipart_create(c, bkt, key, content_type, upload_id, e);
    if (st != BROCK_OK)
        return st;
    size_t nparts = (n + part - 1) / part;
    struct s3_part *parts = xcalloc(nparts, sizeof *parts);
    const char *p = data;
    for (size_t i = 0; i < nparts && st == BROCK_OK; i++) {
        size_t len = i + 1 < nparts ? part : n - i * part;
        st = s3_multipart_part(c, bkt, key, upload_id, (int)i + 1, p + i * part, len, &parts[i], e);
    }
    if (st == BROCK_OK)
        st = s3_multipart_complete(c, bkt, key, upload_id, parts, nparts, out, e);
    if (st != BROCK_OK) {
        struct brock_err ae = {0};
        if (s3_multipart_abort(c, bkt, key, upload_id, &ae) != BROCK_OK)
            log_warn("could not abort the failed upload of s3://%s/%.200s: %s", bkt, key, ae.msg);
    } else if (out) {
        out->size = n;
    }
    free(parts);
    return st;
}

enum brock_status s3_get(struct s3_client *c, const char *bkt, const char *key, size_t max, struct buf *out,
                         struct s3_object *info, struct brock_err *e)
{
    struct aws_response r;
    aws_response_init(&r);
    /* room for S3's XML error even when the caller wants a few bytes */
    struct call k = {.method = "GET", .key = key, .max_body = max > ERROR_BODY_MAX ? max : ERROR_BODY_MAX};
    enum brock_status st = s3_call(c, bkt, &k, &r, e);
    if (st == BROCK_OK) {
        object_info(&r, info);
        if (r.http.body.len > max || buf_add(out, buf_cstr(&r.http.body), r.http.body.len) != BROCK_OK)
            st = err_set(e, BROCK_ERR_TOO_LARGE, "s3://%s/%.200s is larger than %zu bytes", bkt, key,
                         max < out->max ? max : out->max);
    }
    aws_response_free(&r);
    return st;
}

enum brock_status s3_head(struct s3_client *c, const char *bkt, const char *key, struct s3_object *out,
                          struct brock_err *e)
{
    struct aws_response r;
    aws_response_init(&r);
    struct call k = {.method = "HEAD", .key = key};
    enum brock_status st = s3_call(c, bkt, &k, &r, e);
    if (st == BROCK_OK)
        object_info(&r, out);
    aws_response_free(&r);
    return st;
}

void s3_list_free(struct s3_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].key);
    for (size_t i = 0; i < l->n_prefixes; i++)
        free(l->prefixes[i]);
    free(l->v);
    free(l->prefixes);
    memset(l, 0, sizeof *l);
}

enum brock_status s3_list(struct s3_client *c, const char *bkt, const char *prefix, const char *delimiter,
                          struct s3_list *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    char token[1025] = "";
    enum brock_status st = BROCK_OK;
    for (int page = 0; st == BROCK_OK; page++) {
        struct buf q = BUF_INIT(8192);
        /* the canonical query sorts by name; S3 does not care about wire order */
        if (token[0]) {
            buf_addstr(&q, "continuation-token=");
            uri_encode(&q, token, strlen(token), false);
            buf_addc(&q, '&');
        }
        if (delimiter && *delimiter) {
            buf_addstr(&q, "delimiter=");
            uri_encode(&q, delimiter, strlen(delimiter), false);
            buf_addc(&q, '&');
        }
        buf_addstr(&q, "list-type=2");
        if (prefix && *prefix) {
            buf_addstr(&q, "&prefix=");
            uri_encode(&q, prefix, strlen(prefix), false);
        }
        struct aws_response r;
        aws_response_init(&r);
        struct call k = {.method = "GET", .query = buf_cstr(&q), .max_body = S3_MAX_XML};
        st = buf_status(&q) == BROCK_OK ? s3_call(c, bkt, &k, &r, e)
                                        : err_set(e, BROCK_ERR_TOO_LARGE, "S3 list query too long");
        bool more = false;
        if (st == BROCK_OK)
            st = s3_parse_list(buf_cstr(&r.http.body), r.http.body.len, out, &more, token, sizeof token, e);
        aws_response_free(&r);
        buf_free(&q);
        if (st != BROCK_OK || !more)
            break;
        if (page > 100000)
            st = err_set(e, BROCK_ERR_TOO_LARGE, "s3://%s/%s: more than 100000 pages", bkt, prefix ? prefix : "");
    }
    if (st != BROCK_OK)
        s3_list_free(out);
    return st;
}
