/* s3.h - the Amazon S3 calls `brock batch` needs: PutObject, multipart upload
 * (Create / UploadPart / Complete / Abort), GetObject, HeadObject and
 * ListObjectsV2 (aws-wire-reference.md 8.3).
 *
 * Every call goes through aws_client_send() with the S3 signing rules of
 * SigV4 (service "s3"; x-amz-content-sha256 always sent and signed; the
 * canonical URI is the wire path: no normalisation, no second encoding).
 * Object keys are UTF-8; on the wire each byte but the unreserved ones and
 * '/' is percent-encoded once.
 *
 * Addressing: virtual-hosted (`bucket.s3.region.amazonaws.com/key`) unless
 * `path_style` is set or the bucket name or endpoint forbids it (dots in the
 * name, an IP-address endpoint such as the emulator): then path-style
 * (`host/bucket/key`). The endpoint comes from the same chain as every AWS
 * call (--endpoint-url, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile).
 *
 * Errors: S3's XML errors become struct brock_err (awserr.h: code, HTTP
 * status, request id, message), e.g. "NoSuchKey (HTTP 404, request id ...):
 * The specified key does not exist." A 200 answer to
 * CompleteMultipartUpload that carries an <Error> (S3 does that) is an error
 * too. Bad XML is BROCK_ERR_PARSE naming the answer and the XML error's line.
 *
 * Ownership: config strings are copied; creds, retry policy and clock are
 * borrowed for the client's life. Results are written into caller structs;
 * s3_list_free() releases a listing. Threads: one client per thread. */
#ifndef BROCK_AWS_S3_H
#define BROCK_AWS_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"
#include "client.h"

#define S3_MAX_KEY 1024                           /* bytes of an object key (S3's limit) */
#define S3_MAX_UPLOAD_ID 1024
#define S3_MAX_XML ((size_t)16 * 1024 * 1024)    /* an XML answer */
#define S3_MAX_XML_DEPTH 16
#define S3_MAX_LIST_KEYS 1000000                  /* keys one s3_list() collects */
#define S3_MIN_PART_SIZE ((size_t)5 * 1024 * 1024) /* every part but the last */
#define S3_MAX_PART_SIZE ((size_t)5 * 1024 * 1024 * 1024)
#define S3_MAX_PARTS 10000
#define S3_DEFAULT_PART_SIZE ((size_t)8 * 1024 * 1024)
#define S3_MULTIPART_THRESHOLD ((size_t)64 * 1024 * 1024)
#define S3_ETAG_MAX 128

/* "s3://bucket/key" (key may be empty or end in '/'). */
struct s3_uri {
    char bucket[ENDPOINT_S3_BUCKET_MAX + 1];
    char key[S3_MAX_KEY + 1];
};
/* BROCK_ERR_USAGE naming the value for anything else: another scheme, no
 * bucket, a bucket name S3 does not allow, a key over S3_MAX_KEY. */
enum brock_status s3_uri_parse(const char *uri, struct s3_uri *out, struct brock_err *e) BROCK_WUR;

struct s3_config {
    /* region, endpoint lookup, explicit endpoint (applies to S3 when
     * endpoint_url_services is 0 or has the S3 bit), credentials, retry
     * policy, HTTP options, clock. The bearer token is never used. */
    struct aws_client_config aws;
    bool path_style;
    size_t part_size;           /* 0 = S3_DEFAULT_PART_SIZE; at least S3_MIN_PART_SIZE */
    size_t multipart_threshold; /* 0 = S3_MULTIPART_THRESHOLD; uploads above use multipart */
};

struct s3_client;

struct s3_client *s3_client_new(const struct s3_config *cfg);
void s3_client_free(struct s3_client *c); /* NULL is fine */

struct s3_object {
    uint64_t size;
    char etag[S3_ETAG_MAX]; /* with its quotes, as S3 sends it */
    char content_type[128];
    char last_modified[64];
};

/* PutObject, or a multipart upload for data over the threshold (parts of
 * part_size, grown when needed to stay within S3_MAX_PARTS; aborted on
 * failure). out may be NULL. content_type NULL = application/octet-stream. */
enum brock_status s3_put(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t n,
                         const char *content_type, struct s3_object *out, struct brock_err *e) BROCK_WUR;
/* One PutObject, whatever the size. */
enum brock_status s3_put_object(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t n,
                                const char *content_type, struct s3_object *out, struct brock_err *e) BROCK_WUR;

struct s3_part {
    int number; /* 1..S3_MAX_PARTS */
    char etag[S3_ETAG_MAX];
};
enum brock_status s3_multipart_create(struct s3_client *c, const char *bucket, const char *key,
                                      const char *content_type, char upload_id[S3_MAX_UPLOAD_ID + 1],
                                      struct brock_err *e) BROCK_WUR;
enum brock_status s3_multipart_part(struct s3_client *c, const char *bucket, const char *key, const char *upload_id,
                                    int number, const void *data, size_t n, struct s3_part *out,
                                    struct brock_err *e) BROCK_WUR;
enum brock_status s3_multipart_complete(struct s3_client *c, const char *bucket, const char *key,
                                        const char *upload_id, const struct s3_part *parts, size_t n,
                                        struct s3_object *out, struct brock_err *e) BROCK_WUR;
enum brock_status s3_multipart_abort(struct s3_client *c, const char *bucket, const char *key, const char *upload_id,
                                     struct brock_err *e) BROCK_WUR;

/* GetObject into out (appended; at most max bytes, else BROCK_ERR_TOO_LARGE).
 * info may be NULL. */
enum brock_status s3_get(struct s3_client *c, const char *bucket, const char *key, size_t max, struct buf *out,
                         struct s3_object *info, struct brock_err *e) BROCK_WUR;
enum brock_status s3_head(struct s3_client *c, const char *bucket, const char *key, struct s3_object *out,
                          struct brock_err *e) BROCK_WUR;

struct s3_entry {
    char *key;
    uint64_t size;
    char etag[S3_ETAG_MAX];
    char last_modified[64];
};
struct s3_list {
    struct s3_entry *v;
    size_t n, cap;
    char **prefixes; /* CommonPrefixes, with a delimiter */
    size_t n_prefixes, cap_prefixes;
};
/* ListObjectsV2 over every page (continuation tokens), keys under prefix
 * (may be NULL), grouped by delimiter (NULL = none), in S3's order. */
enum brock_status s3_list(struct s3_client *c, const char *bucket, const char *prefix, const char *delimiter,
                          struct s3_list *out, struct brock_err *e) BROCK_WUR;
void s3_list_free(struct s3_list *l);

/* ---- the XML answers (s3_xml.c): pure, for tests and the fuzz target ------ */

/* One ListObjectsV2 page, appended to acc. *truncated and next_token get
 * IsTruncated and NextContinuationToken ("" when absent). */
enum brock_status s3_parse_list(const char *xml, size_t n, struct s3_list *acc, bool *truncated, char *next_token,
                                size_t token_len, struct brock_err *e) BROCK_WUR;
/* InitiateMultipartUploadResult -> UploadId. */
enum brock_status s3_parse_upload_id(const char *xml, size_t n, char upload_id[S3_MAX_UPLOAD_ID + 1],
                                     struct brock_err *e) BROCK_WUR;
/* CompleteMultipartUploadResult -> ETag; an <Error> document is returned as
 * the AWS error it is (BROCK_ERR_AWS or _THROTTLED, with aws_code). */
enum brock_status s3_parse_complete(const char *xml, size_t n, char etag[S3_ETAG_MAX], struct brock_err *e) BROCK_WUR;

/* The wire path of a key: "/" + the key, each byte but A-Z a-z 0-9 - _ . ~ /
 * percent-encoded (uppercase hex). */
void s3_key_path(const char *key, struct buf *out);

#endif
