/* s3_xml.c - S3's XML answers (s3.h): ListObjectsV2 pages, the upload id of a
 * multipart upload, CompleteMultipartUpload's result or <Error>.
 *
 * expat, as awserr.c uses it: a DOCTYPE stops the parse (no entities, no
 * external anything), nesting is capped at S3_MAX_XML_DEPTH, the document at
 * S3_MAX_XML bytes and each text value at TEXT_MAX. Namespaces are not
 * processed: S3 uses one default namespace, so element names are plain. */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "awserr.h"
#include "s3.h"

#define TEXT_MAX ((size_t)64 * 1024)
#define NAME_MAX_LEN 64

enum kind { K_LIST, K_UPLOAD, K_COMPLETE };

struct xctx {
    XML_Parser p;
    enum kind kind;
    const char *what;
    int depth;
    char names[S3_MAX_XML_DEPTH + 1][NAME_MAX_LEN];
    struct buf text;
    bool stop;
    char why[200];
    bool error_doc;
    char code[64], message[512], request_id[96];
    /* list */
    struct s3_list *acc;
    struct s3_entry cur;
    bool have_key;
    bool truncated;
    char *token;
    size_t token_len;
    /* upload / complete */
    char *out;
    size_t out_len;
    bool found;
};

static void stop(struct xctx *x, const char *fmt, const char *a)
{
    if (!x->stop) {
        snprintf(x->why, sizeof x->why, fmt, a);
        x->stop = true;
    }
    XML_StopParser(x->p, XML_FALSE);
}

static const char *parent(const struct xctx *x, int up)
{
    int i = x->depth - 1 - up;
    return i >= 0 ? x->names[i] : "";
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct xctx *x = ud;
    if (x->stop)
        return;
    if (x->depth >= S3_MAX_XML_DEPTH) {
        stop(x, "elements nested deeper than %s", "16");
        return;
    }
    snprintf(x->names[x->depth], NAME_MAX_LEN, "%s", name);
    x->depth++;
    buf_reset(&x->text);
    if (x->depth == 1) {
        static const char *const roots[] = {"ListBucketResult", "InitiateMultipartUploadResult",
                                            "CompleteMultipartUploadResult"};
        if (!strcmp(name, "Error"))
            x->error_doc = true;
        else if (strcmp(name, roots[x->kind]))
            stop(x, "unexpected root element <%.60s>", name);
    }
    if (x->kind == K_LIST && x->depth == 2 && !strcmp(name, "Contents")) {
        free(x->cur.key);
        memset(&x->cur, 0, sizeof x->cur);
        x->have_key = false;
    }
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || strlen(s) > 19)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static void list_end(struct xctx *x, const char *name, const char *t)
{
    struct s3_list *l = x->acc;
    if (x->depth == 2 && !strcmp(name, "IsTruncated")) {
        x->truncated = !strcmp(t, "true");
    } else if (x->depth == 2 && !strcmp(name, "NextContinuationToken")) {
        if (strlen(t) >= x->token_len)
            stop(x, "NextContinuationToken longer than %s bytes", "1024");
        else
            memcpy(x->token, t, strlen(t) + 1);
    } else if (x->depth == 3 && !strcmp(parent(x, 1), "Contents")) {
        if (!strcmp(name, "Key")) {
            if (strlen(t) > S3_MAX_KEY || !*t) {
                stop(x, "a <Key> that is empty or longer than %s bytes", "1024");
                return;
            }
            free(x->cur.key);
            x->cur.key = xstrdup(t);
            x->have_key = true;
        } else if (!strcmp(name, "Size")) {
            if (!parse_u64(t, &x->cur.size))
                stop(x, "<Size> is not a number: %.40s", t);
        } else if (!strcmp(name, "ETag")) {
            snprintf(x->cur.etag, sizeof x->cur.etag, "%.*s", (int)sizeof x->cur.etag - 1, t);
        } else if (!strcmp(name, "LastModified")) {
            snprintf(x->cur.last_modified, sizeof x->cur.last_modified, "%.*s",
                     (int)sizeof x->cur.last_modified - 1, t);
        }
    } else if (x->depth == 2 && !strcmp(name, "Contents")) {
        if (!x->have_key) {
            stop(x, "a <Contents> without a %s", "<Key>");
            return;
        }
        if (l->n >= S3_MAX_LIST_KEYS) {
            stop(x, "more than %s keys", "1000000");
            return;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->v = xrealloc(l->v, l->cap * sizeof *l->v);
        }
        l->v[l->n++] = x->cur;
        memset(&x->cur, 0, sizeof x->cur);
        x->have_key = false;
    } else if (x->depth == 3 && !strcmp(name, "Prefix") && !strcmp(parent(x, 1), "CommonPrefixes")) {
        if (strlen(t) > S3_MAX_KEY) {
            stop(x, "a common prefix longer than %s bytes", "1024");
            return;
        }
        if (l->n_prefixes >= S3_MAX_LIST_KEYS) {
            stop(x, "more than %s common prefixes", "1000000");
            return;
        }
        if (l->n_prefixes == l->cap_prefixes) {
            l->cap_prefixes = l->cap_prefixes ? l->cap_prefixes * 2 : 16;
            l->prefixes = xrealloc(l->prefixes, l->cap_prefixes * sizeof *l->prefixes);
        }
        l->prefixes[l->n_prefixes++] = xstrdup(t);
    }
}

static void on_end(void *ud, const XML_Char *name)
{
    struct xctx *x = ud;
    if (x->stop)
        return;
    const char *t = buf_cstr(&x->text);
    if (x->error_doc) {
        if (x->depth == 2 && !strcmp(name, "Code"))
            snprintf(x->code, sizeof x->code, "%.*s", (int)sizeof x->code - 1, t);
        else if (x->depth == 2 && !strcmp(name, "Message"))
            snprintf(x->message, sizeof x->message, "%.*s", (int)sizeof x->message - 1, t);
        else if (x->depth == 2 && !strcmp(name, "RequestId"))
            snprintf(x->request_id, sizeof x->request_id, "%.*s", (int)sizeof x->request_id - 1, t);
    } else if (x->kind == K_LIST) {
        list_end(x, name, t);
    } else if (x->depth == 2 && !strcmp(name, x->kind == K_UPLOAD ? "UploadId" : "ETag")) {
        if (strlen(t) >= x->out_len || !*t)
            stop(x, "<%s> is empty or too long", name);
        else {
            memcpy(x->out, t, strlen(t) + 1);
            x->found = true;
        }
    }
    x->depth--;
    buf_reset(&x->text);
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    struct xctx *x = ud;
    if (x->stop)
        return;
    if (buf_add(&x->text, s, (size_t)len) != BROCK_OK)
        stop(x, "a text value longer than %s bytes", "65536");
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    stop(ud, "a DOCTYPE declaration (%s)", "refused");
}

static enum brock_status run(struct xctx *x, const char *xml, size_t n, struct brock_err *e)
{
    if (n > S3_MAX_XML)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s is larger than %zu bytes", x->what, S3_MAX_XML);
    buf_init(&x->text, TEXT_MAX);
    x->p = XML_ParserCreate("UTF-8");
    if (!x->p) {
        fprintf(stderr, "brock: expat could not create a parser (out of memory)\n");
        abort();
    }
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    enum XML_Status xs = XML_Parse(x->p, xml ? xml : "", (int)n, XML_TRUE);
    enum brock_status st = BROCK_OK;
    if (x->stop)
        st = err_set(e, BROCK_ERR_PARSE, "%s: line %lu: %s", x->what, (unsigned long)XML_GetCurrentLineNumber(x->p),
                     x->why);
    else if (xs != XML_STATUS_OK)
        st = err_set(e, BROCK_ERR_PARSE, "%s: line %lu: %s", x->what, (unsigned long)XML_GetCurrentLineNumber(x->p),
                     XML_ErrorString(XML_GetErrorCode(x->p)));
    else if (x->error_doc) {
        st = awserr_status(x->code, 200);
        if (st == BROCK_OK)
            st = BROCK_ERR_AWS;
        if (e) {
            err_set(e, st, "%s (request id %s): %s", x->code[0] ? x->code : "Error",
                    x->request_id[0] ? x->request_id : "none", x->message[0] ? x->message : "(no message)");
            snprintf(e->aws_code, sizeof e->aws_code, "%s", x->code);
            snprintf(e->request_id, sizeof e->request_id, "%s", x->request_id);
            e->http_status = 200;
        }
    }
    XML_ParserFree(x->p);
    buf_free(&x->text);
    free(x->cur.key);
    return st;
}

enum brock_status s3_parse_list(const char *xml, size_t n, struct s3_list *acc, bool *truncated, char *next_token,
                                size_t token_len, struct brock_err *e)
{
    struct xctx x = {.kind = K_LIST, .what = "S3 ListObjectsV2 answer", .acc = acc, .token = next_token,
                     .token_len = token_len};
    if (token_len)
        next_token[0] = '\0';
    enum brock_status st = run(&x, xml, n, e);
    *truncated = st == BROCK_OK && x.truncated;
    if (st == BROCK_OK && x.truncated && !next_token[0])
        st = err_set(e, BROCK_ERR_PARSE, "S3 ListObjectsV2 answer: IsTruncated without a NextContinuationToken");
    return st;
}

enum brock_status s3_parse_upload_id(const char *xml, size_t n, char upload_id[S3_MAX_UPLOAD_ID + 1],
                                     struct brock_err *e)
{
    struct xctx x = {.kind = K_UPLOAD, .what = "S3 CreateMultipartUpload answer", .out = upload_id,
                     .out_len = S3_MAX_UPLOAD_ID + 1};
    enum brock_status st = run(&x, xml, n, e);
    if (st == BROCK_OK && !x.found)
        st = err_set(e, BROCK_ERR_PARSE, "S3 CreateMultipartUpload answer has no <UploadId>");
    return st;
}

enum brock_status s3_parse_complete(const char *xml, size_t n, char etag[S3_ETAG_MAX], struct brock_err *e)
{
    struct xctx x = {.kind = K_COMPLETE, .what = "S3 CompleteMultipartUpload answer", .out = etag,
                     .out_len = S3_ETAG_MAX};
    enum brock_status st = run(&x, xml, n, e);
    if (st == BROCK_OK && !x.found)
        st = err_set(e, BROCK_ERR_PARSE, "S3 CompleteMultipartUpload answer has no <ETag>");
    return st;
}
