/* fuzz_batch_s3xml.c - arbitrary bytes as an S3 answer: byte 0 picks (mod 3)
 * ListObjectsV2 (s3_parse_list, twice into one listing as pages are),
 * CreateMultipartUpload (s3_parse_upload_id) or CompleteMultipartUpload
 * (s3_parse_complete, which also reads an <Error> sent with a 200). Checks:
 * documented statuses, NUL-terminated results and messages, keys within
 * S3's length, a continuation token whenever the page says it is truncated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0] % 3;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct brock_err e = {0};
    enum brock_status st;
    if (sel == 0) {
        struct s3_list l = {0};
        bool more = false;
        char tok[1025];
        for (int page = 0; page < 2; page++) {
            st = s3_parse_list(p, n, &l, &more, tok, sizeof tok, &e);
            if (st != BROCK_OK && st != BROCK_ERR_PARSE && st != BROCK_ERR_TOO_LARGE && st != BROCK_ERR_AWS &&
                st != BROCK_ERR_THROTTLED && st != BROCK_ERR_AUTH)
                abort();
            if (st == BROCK_OK && more && !tok[0])
                abort();
            if (!memchr(tok, '\0', sizeof tok))
                abort();
        }
        for (size_t i = 0; i < l.n; i++)
            if (!l.v[i].key[0] || strlen(l.v[i].key) > S3_MAX_KEY || !memchr(l.v[i].etag, '\0', sizeof l.v[i].etag))
                abort();
        s3_list_free(&l);
    } else if (sel == 1) {
        char id[S3_MAX_UPLOAD_ID + 1];
        st = s3_parse_upload_id(p, n, id, &e);
        if (st == BROCK_OK && (!id[0] || strlen(id) > S3_MAX_UPLOAD_ID))
            abort();
    } else {
        char etag[S3_ETAG_MAX];
        st = s3_parse_complete(p, n, etag, &e);
        if (st == BROCK_OK && (!etag[0] || strlen(etag) >= S3_ETAG_MAX))
            abort();
        if (st == BROCK_ERR_AWS && !memchr(e.aws_code, '\0', sizeof e.aws_code))
            abort();
    }
    if (!memchr(e.msg, '\0', sizeof e.msg))
        abort();
    return 0;
}
