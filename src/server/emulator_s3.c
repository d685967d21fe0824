/* emulator_s3.c - Amazon S3 in `brock emulate` (path-style): CreateBucket,
 * HeadBucket, DeleteBucket, ListObjectsV2, PutObject, GetObject (with a byte
 * range), HeadObject, DeleteObject and multipart uploads (Create, UploadPart,
 * Complete, Abort), with S3's XML errors (aws-wire-reference.md 8.3, 6.1).
 *
 * A request is S3's when it is signed for the `s3` service (Authorization
 * header or presigned query); emulator.c routes it here and authenticates it
 * with S3's canonical form (no path normalisation, no double encoding).
 * x-amz-content-sha256 must be sent and match the body (unless
 * UNSIGNED-PAYLOAD); x-amz-checksum-crc32, when sent, must match too and is
 * given back by GetObject/HeadObject when asked (x-amz-checksum-mode).
 *
 * Quirks: ETags are 32 hex digits like S3's but not MD5 (brock's only hash is
 * SHA-256): never compare them with a local MD5 sum. Multipart ETags end in
 * "-N" as on S3. aws-chunked (streaming) uploads and copies are refused with
 * NotImplemented. Buckets are also created by their first PutObject.
 *
 * Everything runs on the loop thread under the emulator's lock. Memory is
 * capped by EMU_S3_MAX_* below; over a cap answers 507 like a full disk
 * would not, but clearly: "InsufficientStorage ... brock emulate keeps at most
 * ...". */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "../aws/crypto.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/log.h"

#define EMU_S3_MAX_BYTES ((size_t)1024 * 1024 * 1024) /* object and part bytes kept */
#define EMU_S3_MAX_OBJECTS 200000
#define EMU_S3_MAX_BUCKETS 100
#define EMU_S3_MAX_UPLOADS 1000
#define EMU_S3_MAX_PARTS 10000
#define EMU_S3_MIN_PART ((size_t)5 * 1024 * 1024)
#define EMU_S3_MAX_KEYS 1000 /* per ListObjectsV2 page */
#define S3_MAX_KEY_BYTES 1024 /* S3's key limit */
#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

struct s3obj {
    char *key;
    uint8_t *data;
    size_t len;
    char etag[48]; /* with quotes */
    char ctype[128];
    char crc32[16]; /* base64, "" if unknown */
    int64_t mtime_ms;
};

struct s3bucket {
    char *name;
    struct s3obj *objs; /* sorted by key (byte order) */
    size_t n, cap;
};

struct s3part {
    int number;
    uint8_t *data;
    size_t len;
    char etag[48];
};

struct s3upload {
    char id[64];
    char *bucket, *key;
    char ctype[128];
    struct s3part *parts;
    size_t n, cap;
};

struct emu_s3 {
    struct s3bucket *b;
    size_t nb;
    struct s3upload *u;
    size_t nu;
    size_t bytes, objects;
    uint64_t seq;
};

static struct emu_s3 *store(struct emulator *em)
{
    if (!em->s3)
        em->s3 = xcalloc(1, sizeof *em->s3);
    return em->s3;
}

static void upload_clear(struct emu_s3 *s, struct s3upload *u)
{
    for (size_t i = 0; i < u->n; i++) {
        s->bytes -= u->parts[i].len;
        free(u->parts[i].data);
    }
    free(u->parts);
    free(u->bucket);
    free(u->key);
}

void emu_s3_reset(struct emu_s3 *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nb; i++) {
        for (size_t j = 0; j < s->b[i].n; j++) {
            free(s->b[i].objs[j].key);
            free(s->b[i].objs[j].data);
        }
        free(s->b[i].objs);
        free(s->b[i].name);
    }
    for (size_t i = 0; i < s->nu; i++)
        upload_clear(s, &s->u[i]);
    free(s->b);
    free(s->u);
    memset(s, 0, sizeof *s);
}

void emu_s3_free(struct emu_s3 *s)
{
    emu_s3_reset(s);
    free(s);
}

/* ---- the store -------------------------------------------------------------------- */

static struct s3bucket *find_bucket(struct emu_s3 *s, const char *name)
{
    for (size_t i = 0; i < s->nb; i++)
        if (!strcmp(s->b[i].name, name))
            return &s->b[i];
    return NULL;
}

static struct s3bucket *add_bucket(struct emu_s3 *s, const char *name)
{
    s->b = xrealloc(s->b, (s->nb + 1) * sizeof *s->b);
    struct s3bucket *b = &s->b[s->nb++];
    memset(b, 0, sizeof *b);
    b->name = xstrdup(name);
    return b;
}

/* Index of key in b, or where it would go (*found says which). */
static size_t find_obj(const struct s3bucket *b, const char *key, bool *found)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(b->objs[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void etag_of(const uint8_t *p, size_t n, char out[48])
{
    uint8_t d[SHA256_LEN];
    char hex[SHA256_HEX_LEN + 1];
    crypto_sha256(p, n, d);
    hex_encode(d, 16, hex);
    snprintf(out, 48, "\"%.32s\"", hex);
}

static void crc32_b64(const uint8_t *p, size_t n, char out[16])
{
    uint32_t c = (uint32_t)crc32(0L, p, (uInt)0);
    size_t off = 0;
    while (off < n) { /* zlib takes uInt lengths */
        size_t step = n - off > (1u << 30) ? (1u << 30) : n - off;
        c = (uint32_t)crc32(c, p + off, (uInt)step);
        off += step;
    }
    uint8_t be[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    struct buf b = BUF_INIT(16);
    (void)base64_encode(&b, be, 4);
    snprintf(out, 16, "%s", buf_cstr(&b));
    buf_free(&b);
}

/* Store (or replace) an object; takes `data`. False (why set) over a cap. */
static bool put_obj(struct emulator *em, const char *bucket, const char *key, uint8_t *data, size_t len,
                    const char *ctype, const char *etag, const char *crc, char *why, size_t whylen)
{
    struct emu_s3 *s = store(em);
    struct s3bucket *b = find_bucket(s, bucket);
    if (!b && s->nb >= EMU_S3_MAX_BUCKETS) {
        snprintf(why, whylen, "brock emulate keeps at most %d buckets.", EMU_S3_MAX_BUCKETS);
        free(data);
        return false;
    }
    bool found;
    size_t at = b ? find_obj(b, key, &found) : 0;
    size_t old = b && found ? b->objs[at].len : 0;
    if (s->bytes - old + len > EMU_S3_MAX_BYTES || (!(b && found) && s->objects >= EMU_S3_MAX_OBJECTS)) {
        snprintf(why, whylen, "brock emulate keeps at most %zu bytes in %d objects.", EMU_S3_MAX_BYTES,
                 EMU_S3_MAX_OBJECTS);
        free(data);
        return false;
    }
    if (!b) {
        b = add_bucket(s, bucket);
        at = find_obj(b, key, &found);
    }
    struct s3obj *o;
    if (found) {
        o = &b->objs[at];
        free(o->data);
    } else {
        if (b->n == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 16;
            b->objs = xrealloc(b->objs, b->cap * sizeof *b->objs);
        }
        memmove(&b->objs[at + 1], &b->objs[at], (b->n - at) * sizeof *b->objs);
        b->n++;
        s->objects++;
        o = &b->objs[at];
        memset(o, 0, sizeof *o);
        o->key = xstrdup(key);
    }
    s->bytes = s->bytes - old + len;
    o->data = data;
    o->len = len;
    snprintf(o->ctype, sizeof o->ctype, "%s", ctype && *ctype ? ctype : "binary/octet-stream");
    if (etag)
        snprintf(o->etag, sizeof o->etag, "%s", etag);
    else
        etag_of(data, len, o->etag);
    snprintf(o->crc32, sizeof o->crc32, "%s", crc ? crc : "");
    o->mtime_ms = emu_now_ms(em);
    return true;
}

bool emu_s3_write(struct emulator *em, const char *bucket, const char *key, const void *p, size_t n,
                  const char *ctype, char *why, size_t whylen)
{
    uint8_t *copy = xmalloc(n ? n : 1);
    if (n)
        memcpy(copy, p, n);
    return put_obj(em, bucket, key, copy, n, ctype, NULL, NULL, why, whylen);
}

bool emu_s3_read(struct emulator *em, const char *bucket, const char *key, const uint8_t **p, size_t *n)
{
    struct s3bucket *b = find_bucket(store(em), bucket);
    bool found = false;
    size_t at = b ? find_obj(b, key, &found) : 0;
    if (!found)
        return false;
    *p = b->objs[at].data;
    *n = b->objs[at].len;
    return true;
}

size_t emu_s3_keys(struct emulator *em, const char *bucket, const char *prefix, char ***keys)
{
    *keys = NULL;
    struct s3bucket *b = find_bucket(store(em), bucket);
    if (!b)
        return 0;
    size_t n = 0, pl = strlen(prefix);
    for (size_t i = 0; i < b->n; i++)
        if (!strncmp(b->objs[i].key, prefix, pl)) {
            *keys = xrealloc(*keys, (n + 1) * sizeof **keys);
            (*keys)[n++] = xstrdup(b->objs[i].key);
        }
    return n;
}

bool emu_s3_bucket_exists(struct emulator *em, const char *bucket)
{
    return find_bucket(store(em), bucket) != NULL;
}

/* ---- answers ---------------------------------------------------------------------- */

static void xml_text(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_addstr(b, "&lt;"); break;
        case '>': buf_addstr(b, "&gt;"); break;
        case '&': buf_addstr(b, "&amp;"); break;
        case '"': buf_addstr(b, "&quot;"); break;
        case '\'': buf_addstr(b, "&apos;"); break;
        default: buf_addc(b, *s);
        }
    }
}

static void s3_headers(struct emu_call *c, const char **h, size_t *n)
{
    h[(*n)++] = "x-amz-request-id";
    h[(*n)++] = c->id;
    h[(*n)++] = "x-amz-id-2";
    h[(*n)++] = "YnJvY2stZW11bGF0ZS1ob3N0LWlk"; /* "brock-emulate-host-id" */
}

static void send_xml(struct emu_call *c, int status, const struct buf *b)
{
    const char *h[8] = {NULL};
    size_t n = 0;
    s3_headers(c, h, &n);
    emu_note_status(c, status, NULL);
    emu_send_body(c, status, "application/xml", h, buf_cstr(b), b->len);
}

static void send_empty(struct emu_call *c, int status, const char **extra)
{
    const char *h[16] = {NULL};
    size_t n = 0;
    s3_headers(c, h, &n);
    for (size_t i = 0; extra && extra[i]; i++)
        h[n++] = extra[i];
    emu_note_status(c, status, NULL);
    emu_send_body(c, status, NULL, h, "", 0);
}

static void s3_error(struct emu_call *c, int status, const char *code, const char *msg)
{
    c->proto = EMU_REST_XML;
    emu_send_error(c, status, code, msg, -1);
}

static void http_date(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void iso_ms(int64_t ms, char out[32])
{
    char s[21];
    time_fmt_iso8601(ms / 1000, s);
    snprintf(out, 32, "%.19s.%03dZ", s, (int)(ms % 1000));
}

/* ---- request pieces ---------------------------------------------------------------- */

/* Value of a query parameter, percent-decoded; false if absent. */
static bool qget(const char *q, const char *name, struct buf *out)
{
    size_t nl = strlen(name);
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (kl == nl && !memcmp(p, name, nl)) {
            buf_reset(out);
            if (eq)
                uri_decode(out, eq + 1, len - kl - 1);
            return buf_status(out) == BROCK_OK;
        }
        p += len + (amp ? 1 : 0);
    }
    return false;
}

static bool has_param(const char *q, const char *name)
{
    struct buf b = BUF_INIT(S3_MAX_KEY_BYTES);
    bool r = qget(q, name, &b);
    buf_free(&b);
    return r;
}

/* x-amz-content-sha256 and x-amz-checksum-crc32 against the body; false if answered. */
static bool check_body(struct emu_call *c, const char *body, size_t n, char crc_out[16])
{
    const char *sha = httpd_req_header(c->req, "x-amz-content-sha256");
    crc_out[0] = '\0';
    if (!sha) {
        s3_error(c, 400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
        return false;
    }
    if (strcmp(sha, "UNSIGNED-PAYLOAD")) {
        char hex[SHA256_HEX_LEN + 1];
        crypto_sha256_hex(body, n, hex);
        if (strcasecmp(hex, sha)) {
            s3_error(c, 400, "XAmzContentSHA256Mismatch",
                     "The provided 'x-amz-content-sha256' header does not match what was computed.");
            return false;
        }
    }
    const char *crc = httpd_req_header(c->req, "x-amz-checksum-crc32");
    if (crc) {
        crc32_b64((const uint8_t *)body, n, crc_out);
        if (strcmp(crc, crc_out)) {
            s3_error(c, 400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.");
            return false;
        }
    }
    return true;
}

/* ---- operations -------------------------------------------------------------------- */

static void list_objects(struct emu_call *c, struct s3bucket *b, const char *q)
{
    struct buf prefix = BUF_INIT(S3_MAX_KEY_BYTES), delim = BUF_INIT(64), tok = BUF_INIT(4 * S3_MAX_KEY_BYTES),
               after = BUF_INIT(S3_MAX_KEY_BYTES), mk = BUF_INIT(32), start = BUF_INIT(S3_MAX_KEY_BYTES + 8);
    qget(q, "prefix", &prefix);
    bool has_delim = qget(q, "delimiter", &delim) && delim.len > 0;
    long max = 1000;
    if (qget(q, "max-keys", &mk)) {
        char *end;
        max = strtol(buf_cstr(&mk), &end, 10);
        if (*end || max < 0) {
            s3_error(c, 400, "InvalidArgument", "Provided max-keys not an integer or within integer range");
            goto done;
        }
        if (max > EMU_S3_MAX_KEYS)
            max = EMU_S3_MAX_KEYS;
    }
    if (qget(q, "continuation-token", &tok)) {
        if (base64_decode(&start, buf_cstr(&tok), tok.len) != BROCK_OK || start.len < 2 ||
            memcmp(start.ptr, "k:", 2)) {
            s3_error(c, 400, "InvalidArgument", "The continuation token provided is incorrect");
            goto done;
        }
        memmove(start.ptr, start.ptr + 2, start.len - 2);
        buf_truncate(&start, start.len - 2);
    } else if (qget(q, "start-after", &after)) {
        buf_add(&start, buf_cstr(&after), after.len);
    }
    struct buf x = BUF_INIT((size_t)64 * 1024 * 1024);
    struct buf items = BUF_INIT((size_t)64 * 1024 * 1024);
    long count = 0;
    bool truncated = false;
    char last[S3_MAX_KEY_BYTES + 8] = "";
    size_t last_len = 0;
    char prev_cp[S3_MAX_KEY_BYTES + 8] = "";
    bool have_cp = false;
    size_t pl = prefix.len;
    for (size_t i = 0; i < b->n; i++) {
        const struct s3obj *o = &b->objs[i];
        size_t kl = strlen(o->key);
        if (start.len) {
            size_t m = kl < start.len ? kl : start.len;
            int cmp = memcmp(o->key, start.ptr, m);
            if (cmp < 0 || (cmp == 0 && kl <= start.len))
                continue;
        }
        if (strncmp(o->key, buf_cstr(&prefix), pl))
            continue;
        const char *d = has_delim ? strstr(o->key + pl, buf_cstr(&delim)) : NULL;
        if (d) {
            size_t cl = (size_t)(d - o->key) + delim.len;
            if (have_cp && strlen(prev_cp) == cl && !memcmp(prev_cp, o->key, cl))
                continue;
            if (count == max) {
                truncated = true;
                break;
            }
            memcpy(prev_cp, o->key, cl);
            prev_cp[cl] = '\0';
            have_cp = true;
            buf_addstr(&items, "<CommonPrefixes><Prefix>");
            xml_text(&items, prev_cp);
            buf_addstr(&items, "</Prefix></CommonPrefixes>");
            memcpy(last, prev_cp, cl);
            last[cl] = '\xff'; /* after every key under the prefix */
            last_len = cl + 1;
            count++;
            continue;
        }
        if (count == max) {
            truncated = true;
            break;
        }
        char lm[32];
        iso_ms(o->mtime_ms, lm);
        buf_addstr(&items, "<Contents><Key>");
        xml_text(&items, o->key);
        buf_addf(&items, "</Key><LastModified>%s</LastModified><ETag>", lm);
        xml_text(&items, o->etag);
        buf_addf(&items, "</ETag><Size>%zu</Size><StorageClass>STANDARD</StorageClass></Contents>", o->len);
        memcpy(last, o->key, kl);
        last_len = kl;
        count++;
    }
    buf_addstr(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"" S3_NS "\"><Name>");
    xml_text(&x, b->name);
    buf_addstr(&x, "</Name><Prefix>");
    xml_text(&x, buf_cstr(&prefix));
    buf_addf(&x, "</Prefix><KeyCount>%ld</KeyCount><MaxKeys>%ld</MaxKeys>", count, max);
    if (has_delim) {
        buf_addstr(&x, "<Delimiter>");
        xml_text(&x, buf_cstr(&delim));
        buf_addstr(&x, "</Delimiter>");
    }
    buf_addf(&x, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (tok.len) {
        buf_addstr(&x, "<ContinuationToken>");
        xml_text(&x, buf_cstr(&tok));
        buf_addstr(&x, "</ContinuationToken>");
    }
    if (truncated) {
        struct buf raw = BUF_INIT(S3_MAX_KEY_BYTES + 16), enc = BUF_INIT(4 * S3_MAX_KEY_BYTES);
        buf_add(&raw, "k:", 2);
        buf_add(&raw, last, last_len);
        (void)base64_encode(&enc, raw.ptr, raw.len);
        buf_addstr(&x, "<NextContinuationToken>");
        xml_text(&x, buf_cstr(&enc));
        buf_addstr(&x, "</NextContinuationToken>");
        buf_free(&raw);
        buf_free(&enc);
    }
    buf_add(&x, buf_cstr(&items), items.len);
    buf_addstr(&x, "</ListBucketResult>\n");
    emu_note(c, "keyCount", json_integer(count));
    send_xml(c, 200, &x);
    buf_free(&x);
    buf_free(&items);
done:
    buf_free(&prefix);
    buf_free(&delim);
    buf_free(&tok);
    buf_free(&after);
    buf_free(&mk);
    buf_free(&start);
}

static void get_object(struct emu_call *c, const struct s3obj *o, bool head)
{
    const char *h[24] = {NULL};
    size_t n = 0;
    s3_headers(c, h, &n);
    char lm[40], range_hdr[96];
    http_date(o->mtime_ms, lm);
    h[n++] = "ETag";
    h[n++] = o->etag;
    h[n++] = "Last-Modified";
    h[n++] = lm;
    h[n++] = "Accept-Ranges";
    h[n++] = "bytes";
    size_t from = 0, to = o->len ? o->len - 1 : 0;
    int status = 200;
    const char *range = head ? NULL : httpd_req_header(c->req, "range");
    /* the whole object's checksum, not for a range (S3 does the same) */
    const char *mode = httpd_req_header(c->req, "x-amz-checksum-mode");
    if (!range && mode && !strcasecmp(mode, "ENABLED") && o->crc32[0]) {
        h[n++] = "x-amz-checksum-crc32";
        h[n++] = o->crc32;
    }
    if (range) {
        unsigned long long a = 0, b = 0;
        bool ok = false;
        if (sscanf(range, "bytes=%llu-%llu", &a, &b) == 2 && a <= b)
            ok = true;
        else if (sscanf(range, "bytes=%llu-", &a) == 1 && strchr(range, '-')[1] == '\0')
            ok = true, b = o->len ? o->len - 1 : 0;
        else if (sscanf(range, "bytes=-%llu", &b) == 1 && b > 0)
            ok = true, a = b >= o->len ? 0 : o->len - b, b = o->len ? o->len - 1 : 0;
        if (!ok || a >= o->len) {
            s3_error(c, 416, "InvalidRange", "The requested range is not satisfiable");
            return;
        }
        from = (size_t)a;
        to = b >= o->len ? o->len - 1 : (size_t)b;
        status = 206;
        snprintf(range_hdr, sizeof range_hdr, "bytes %zu-%zu/%zu", from, to, o->len);
        h[n++] = "Content-Range";
        h[n++] = range_hdr;
    }
    emu_note_status(c, status, NULL);
    size_t len = o->len ? to - from + 1 : 0;
    emu_send_body(c, status, o->ctype, h, o->data + from, len);
}

/* CompleteMultipartUpload's body: the parts, in order. */
struct cmu {
    XML_Parser p;
    int depth;
    struct buf text;
    int number;
    char etag[48];
    struct s3part *parts; /* only number and etag */
    size_t n;
    bool bad;
};

static void cmu_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct cmu *m = ud;
    if (++m->depth > 8) {
        m->bad = true;
        XML_StopParser(m->p, XML_FALSE);
    }
    buf_reset(&m->text);
    if (m->depth == 2 && !strcmp(name, "Part")) {
        m->number = 0;
        m->etag[0] = '\0';
    }
}

static void cmu_end(void *ud, const XML_Char *name)
{
    struct cmu *m = ud;
    if (m->depth == 3 && !strcmp(name, "PartNumber"))
        m->number = atoi(buf_cstr(&m->text));
    else if (m->depth == 3 && !strcmp(name, "ETag"))
        snprintf(m->etag, sizeof m->etag, "%.47s", buf_cstr(&m->text));
    else if (m->depth == 2 && !strcmp(name, "Part")) {
        if (m->n >= EMU_S3_MAX_PARTS) {
            m->bad = true;
            XML_StopParser(m->p, XML_FALSE);
        } else {
            m->parts = xrealloc(m->parts, (m->n + 1) * sizeof *m->parts);
            m->parts[m->n].number = m->number;
            snprintf(m->parts[m->n].etag, sizeof m->parts[m->n].etag, "%s", m->etag);
            m->n++;
        }
    }
    m->depth--;
    buf_reset(&m->text);
}

static void cmu_text(void *ud, const XML_Char *s, int len)
{
    struct cmu *m = ud;
    if (buf_add(&m->text, s, (size_t)len) != BROCK_OK)
        m->bad = true;
}

static void cmu_doctype(void *ud, const XML_Char *a, const XML_Char *b, const XML_Char *d, int e)
{
    (void)a, (void)b, (void)d, (void)e;
    struct cmu *m = ud;
    m->bad = true;
    XML_StopParser(m->p, XML_FALSE);
}

static bool etag_eq(const char *a, const char *b)
{
    /* clients send the ETag with or without its quotes */
    while (*a == '"')
        a++;
    while (*b == '"')
        b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '"')
        la--;
    while (lb && b[lb - 1] == '"')
        lb--;
    return la == lb && !strncasecmp(a, b, la);
}

static struct s3upload *find_upload(struct emu_s3 *s, const char *id, const char *bucket, const char *key)
{
    for (size_t i = 0; i < s->nu; i++)
        if (!strcmp(s->u[i].id, id) && !strcmp(s->u[i].bucket, bucket) && !strcmp(s->u[i].key, key))
            return &s->u[i];
    return NULL;
}

static void drop_upload(struct emu_s3 *s, struct s3upload *u)
{
    upload_clear(s, u);
    size_t i = (size_t)(u - s->u);
    memmove(&s->u[i], &s->u[i + 1], (s->nu - i - 1) * sizeof *s->u);
    s->nu--;
}

static void complete_upload(struct emu_call *c, struct s3upload *u, const char *body, size_t n)
{
    struct emu_s3 *s = store(c->em);
    struct cmu m = {.p = XML_ParserCreate("UTF-8")};
    buf_init(&m.text, 4096);
    XML_SetUserData(m.p, &m);
    XML_SetElementHandler(m.p, cmu_start, cmu_end);
    XML_SetCharacterDataHandler(m.p, cmu_text);
    XML_SetStartDoctypeDeclHandler(m.p, cmu_doctype);
    bool ok = XML_Parse(m.p, body, (int)n, XML_TRUE) == XML_STATUS_OK && !m.bad;
    XML_ParserFree(m.p);
    buf_free(&m.text);
    if (!ok || m.n == 0) {
        s3_error(c, 400, "MalformedXML",
                 "The XML you provided was not well-formed or did not validate against our published schema");
        free(m.parts);
        return;
    }
    size_t total = 0;
    struct sha256_ctx h;
    sha256_init(&h);
    for (size_t i = 1; i < m.n; i++)
        if (m.parts[i].number <= m.parts[i - 1].number) {
            s3_error(c, 400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be "
                                                 "specified in order by part number.");
            goto out;
        }
    for (size_t i = 0; i < m.n; i++) {
        const struct s3part *pp = NULL;
        for (size_t j = 0; j < u->n && !pp; j++)
            if (u->parts[j].number == m.parts[i].number)
                pp = &u->parts[j];
        if (!pp || !etag_eq(pp->etag, m.parts[i].etag)) {
            s3_error(c, 400, "InvalidPart",
                     "One or more of the specified parts could not be found. The part may not have been uploaded, or "
                     "the specified entity tag may not match the part's entity tag.");
            goto out;
        }
        if (i + 1 < m.n && pp->len < EMU_S3_MIN_PART) {
            s3_error(c, 400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.");
            goto out;
        }
        total += pp->len;
        sha256_update(&h, pp->etag, strlen(pp->etag));
    }
    uint8_t *data = xmalloc(total ? total : 1);
    size_t off = 0;
    for (size_t i = 0; i < m.n; i++)
        for (size_t j = 0; j < u->n; j++)
            if (u->parts[j].number == m.parts[i].number) {
                memcpy(data + off, u->parts[j].data, u->parts[j].len);
                off += u->parts[j].len;
            }
    uint8_t d[SHA256_LEN];
    char hex[SHA256_HEX_LEN + 1], etag[48];
    sha256_final(&h, d);
    hex_encode(d, 16, hex);
    snprintf(etag, sizeof etag, "\"%.32s-%zu\"", hex, m.n);
    char *bucket = xstrdup(u->bucket), *key = xstrdup(u->key), ctype[128];
    snprintf(ctype, sizeof ctype, "%s", u->ctype);
    drop_upload(s, u); /* frees the parts' bytes before the object is charged */
    char why[200];
    if (!put_obj(c->em, bucket, key, data, total, ctype, etag, NULL, why, sizeof why)) {
        s3_error(c, 507, "InsufficientStorage", why);
    } else {
        struct buf x = BUF_INIT(BUF_MAX_SMALL);
        buf_addstr(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"" S3_NS
                       "\"><Location>");
        xml_text(&x, emulator_url(c->em));
        buf_addc(&x, '/');
        xml_text(&x, bucket);
        buf_addc(&x, '/');
        xml_text(&x, key);
        buf_addstr(&x, "</Location><Bucket>");
        xml_text(&x, bucket);
        buf_addstr(&x, "</Bucket><Key>");
        xml_text(&x, key);
        buf_addstr(&x, "</Key><ETag>");
        xml_text(&x, etag);
        buf_addstr(&x, "</ETag></CompleteMultipartUploadResult>\n");
        send_xml(c, 200, &x);
        buf_free(&x);
    }
    free(bucket);
    free(key);
out:
    sha256_free(&h);
    free(m.parts);
}

static void object_op(struct emu_call *c, const char *bucket, const char *key, const char *q)
{
    struct emulator *em = c->em;
    struct emu_s3 *s = store(em);
    const char *m = httpd_req_method(c->req);
    size_t n = 0;
    const char *body = httpd_req_body(c->req, &n);
    struct buf upload = BUF_INIT(128), part = BUF_INIT(32);
    bool has_upload = qget(q, "uploadId", &upload);
    struct s3bucket *b = find_bucket(s, bucket);
    char why[200], crc[16];

    if (!strcmp(m, "PUT") && httpd_req_header(c->req, "x-amz-copy-source")) {
        s3_error(c, 501, "NotImplemented", "brock emulate does not implement CopyObject.");
    } else if (!strcmp(m, "PUT") && has_upload) {
        struct s3upload *u = find_upload(s, buf_cstr(&upload), bucket, key);
        long num = qget(q, "partNumber", &part) ? strtol(buf_cstr(&part), NULL, 10) : 0;
        if (!u)
            s3_error(c, 404, "NoSuchUpload",
                     "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
                     "aborted or completed.");
        else if (num < 1 || num > EMU_S3_MAX_PARTS)
            s3_error(c, 400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
        else if (check_body(c, body, n, crc)) {
            if (s->bytes + n > EMU_S3_MAX_BYTES) {
                snprintf(why, sizeof why, "brock emulate keeps at most %zu bytes.", EMU_S3_MAX_BYTES);
                s3_error(c, 507, "InsufficientStorage", why);
            } else {
                struct s3part *pp = NULL;
                for (size_t i = 0; i < u->n && !pp; i++)
                    if (u->parts[i].number == (int)num)
                        pp = &u->parts[i];
                if (pp) {
                    s->bytes -= pp->len;
                    free(pp->data);
                } else {
                    if (u->n == u->cap) {
                        u->cap = u->cap ? u->cap * 2 : 16;
                        u->parts = xrealloc(u->parts, u->cap * sizeof *u->parts);
                    }
                    pp = &u->parts[u->n++];
                }
                pp->number = (int)num;
                pp->data = xmalloc(n ? n : 1);
                if (n)
                    memcpy(pp->data, body, n);
                pp->len = n;
                s->bytes += n;
                etag_of((const uint8_t *)body, n, pp->etag);
                const char *extra[5] = {"ETag", pp->etag, crc[0] ? "x-amz-checksum-crc32" : NULL, crc, NULL};
                send_empty(c, 200, extra);
            }
        }
    } else if (!strcmp(m, "PUT")) {
        if (check_body(c, body, n, crc)) {
            uint8_t *copy = xmalloc(n ? n : 1);
            if (n)
                memcpy(copy, body, n);
            if (!put_obj(em, bucket, key, copy, n, httpd_req_header(c->req, "content-type"), NULL, crc, why,
                         sizeof why)) {
                s3_error(c, 507, "InsufficientStorage", why);
            } else {
                bool found;
                struct s3bucket *nb = find_bucket(s, bucket);
                const struct s3obj *o = &nb->objs[find_obj(nb, key, &found)];
                const char *extra[5] = {"ETag", o->etag, crc[0] ? "x-amz-checksum-crc32" : NULL, crc, NULL};
                send_empty(c, 200, extra);
            }
        }
    } else if (!strcmp(m, "POST") && has_param(q, "uploads")) {
        if (s->nu >= EMU_S3_MAX_UPLOADS) {
            snprintf(why, sizeof why, "brock emulate keeps at most %d multipart uploads open.", EMU_S3_MAX_UPLOADS);
            s3_error(c, 507, "InsufficientStorage", why);
        } else if (check_body(c, body, n, crc)) {
            s->u = xrealloc(s->u, (s->nu + 1) * sizeof *s->u);
            struct s3upload *u = &s->u[s->nu++];
            memset(u, 0, sizeof *u);
            uint8_t r[18];
            if (crypto_random(r, sizeof r, NULL) != BROCK_OK)
                memset(r, (int)++s->seq, sizeof r);
            struct buf id = BUF_INIT(64);
            (void)base64_encode(&id, r, sizeof r);
            for (size_t i = 0; i < id.len; i++)
                if (id.ptr[i] == '+' || id.ptr[i] == '/')
                    id.ptr[i] = i % 2 ? '-' : '_';
            snprintf(u->id, sizeof u->id, "%s", buf_cstr(&id));
            buf_free(&id);
            u->bucket = xstrdup(bucket);
            u->key = xstrdup(key);
            const char *ct = httpd_req_header(c->req, "content-type");
            snprintf(u->ctype, sizeof u->ctype, "%s", ct ? ct : "binary/octet-stream");
            struct buf x = BUF_INIT(BUF_MAX_SMALL);
            buf_addstr(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"" S3_NS
                           "\"><Bucket>");
            xml_text(&x, bucket);
            buf_addstr(&x, "</Bucket><Key>");
            xml_text(&x, key);
            buf_addf(&x, "</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>\n", u->id);
            send_xml(c, 200, &x);
            buf_free(&x);
        }
    } else if (!strcmp(m, "POST") && has_upload) {
        struct s3upload *u = find_upload(s, buf_cstr(&upload), bucket, key);
        if (!u)
            s3_error(c, 404, "NoSuchUpload", "The specified upload does not exist.");
        else if (check_body(c, body, n, crc))
            complete_upload(c, u, body, n);
    } else if (!strcmp(m, "DELETE") && has_upload) {
        struct s3upload *u = find_upload(s, buf_cstr(&upload), bucket, key);
        if (!u) {
            s3_error(c, 404, "NoSuchUpload", "The specified upload does not exist.");
        } else {
            drop_upload(s, u);
            send_empty(c, 204, NULL);
        }
    } else if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
        bool found = false;
        size_t at = b ? find_obj(b, key, &found) : 0;
        if (has_upload)
            s3_error(c, 501, "NotImplemented", "brock emulate does not implement ListParts.");
        else if (!b)
            s3_error(c, 404, "NoSuchBucket", "The specified bucket does not exist");
        else if (!found)
            s3_error(c, 404, "NoSuchKey", "The specified key does not exist.");
        else
            get_object(c, &b->objs[at], !strcmp(m, "HEAD"));
    } else if (!strcmp(m, "DELETE")) {
        bool found = false;
        size_t at = b ? find_obj(b, key, &found) : 0;
        if (!b) {
            s3_error(c, 404, "NoSuchBucket", "The specified bucket does not exist");
        } else {
            if (found) {
                s->bytes -= b->objs[at].len;
                s->objects--;
                free(b->objs[at].key);
                free(b->objs[at].data);
                memmove(&b->objs[at], &b->objs[at + 1], (b->n - at - 1) * sizeof *b->objs);
                b->n--;
            }
            send_empty(c, 204, NULL);
        }
    } else {
        s3_error(c, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    }
    buf_free(&upload);
    buf_free(&part);
}

static void bucket_op(struct emu_call *c, const char *bucket, const char *q)
{
    struct emu_s3 *s = store(c->em);
    struct s3bucket *b = find_bucket(s, bucket);
    const char *m = httpd_req_method(c->req);
    if (!strcmp(m, "PUT")) {
        if (!b && s->nb >= EMU_S3_MAX_BUCKETS) {
            s3_error(c, 400, "TooManyBuckets", "You have attempted to create more buckets than allowed");
            return;
        }
        if (!b)
            add_bucket(s, bucket);
        char loc[300];
        snprintf(loc, sizeof loc, "/%s", bucket);
        const char *extra[3] = {"Location", loc, NULL};
        send_empty(c, 200, extra);
        return;
    }
    if (!b) {
        s3_error(c, 404, "NoSuchBucket", "The specified bucket does not exist");
        return;
    }
    if (!strcmp(m, "HEAD")) {
        send_empty(c, 200, NULL);
    } else if (!strcmp(m, "GET")) {
        struct buf lt = BUF_INIT(16);
        if (qget(q, "list-type", &lt) && !strcmp(buf_cstr(&lt), "2"))
            list_objects(c, b, q);
        else
            s3_error(c, 501, "NotImplemented", "brock emulate implements ListObjectsV2 (list-type=2) only.");
        buf_free(&lt);
    } else if (!strcmp(m, "DELETE")) {
        if (b->n) {
            s3_error(c, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
            return;
        }
        free(b->objs);
        free(b->name);
        size_t i = (size_t)(b - s->b);
        memmove(&s->b[i], &s->b[i + 1], (s->nb - i - 1) * sizeof *s->b);
        s->nb--;
        send_empty(c, 204, NULL);
    } else {
        s3_error(c, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    }
}

bool emu_s3_refused(struct emu_call *c)
{
    const char *sha = httpd_req_header(c->req, "x-amz-content-sha256");
    if (!sha || strncmp(sha, "STREAMING-", 10))
        return false;
    s3_error(c, 501, "NotImplemented", "brock emulate does not accept aws-chunked (streaming) uploads.");
    return true;
}

bool emu_s3_wants(const struct emu_call *c)
{
    const char *a = httpd_req_header(c->req, "authorization");
    if (a && !strncmp(a, "AWS4-HMAC-SHA256", 16) && strstr(a, "/s3/aws4_request"))
        return true;
    const char *q = httpd_req_query(c->req);
    return strstr(q, "X-Amz-Credential=") && (strstr(q, "%2Fs3%2Faws4_request") || strstr(q, "/s3/aws4_request"));
}

static bool bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

void emu_s3(struct emu_call *c)
{
    const char *path = httpd_req_path(c->req), *q = httpd_req_query(c->req);
    struct buf bucket = BUF_INIT(256), key = BUF_INIT(S3_MAX_KEY_BYTES * 3 + 8);
    c->proto = EMU_REST_XML;
    if (!strcmp(path, "/")) {
        s3_error(c, 501, "NotImplemented", "brock emulate does not implement ListBuckets.");
        goto out;
    }
    if (httpd_path_segment(path, 0, &bucket, NULL) != BROCK_OK || !bucket_name_ok(buf_cstr(&bucket))) {
        s3_error(c, 400, "InvalidBucketName", "The specified bucket is not valid.");
        goto out;
    }
    const char *rest = path + 1 + strcspn(path + 1, "/");
    emu_note(c, "bucket", json_string(buf_cstr(&bucket)));
    if (!*rest || !strcmp(rest, "/")) {
        bucket_op(c, buf_cstr(&bucket), q);
        goto out;
    }
    if (uri_decode(&key, rest + 1, strlen(rest + 1)) != BROCK_OK || key.len > S3_MAX_KEY_BYTES ||
        memchr(buf_cstr(&key), '\0', key.len)) {
        s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        goto out;
    }
    json_t *k = json_string(buf_cstr(&key));
    emu_note(c, "key", k ? k : json_string("[not UTF-8]"));
    object_op(c, buf_cstr(&bucket), buf_cstr(&key), q);
out:
    buf_free(&bucket);
    buf_free(&key);
}
