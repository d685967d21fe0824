/* fuzz_awserr.c - arbitrary bytes as an AWS error answer.
 *
 * Input layout: byte 0 picks the protocol (bits 0-1), the HTTP status
 * (bits 2-4) and whether headers follow (bit 5). With bit 7 set the rest is
 * instead a URL for http_check_url (the plain-http policy parses endpoint
 * URLs from the environment and config files), bit 6 = allow_link_local. With headers, the bytes up
 * to the first '\n' are split on '|' into values for x-amzn-ErrorType,
 * x-amzn-query-error, x-amzn-RequestId and x-amzn-ErrorMessage (each goes
 * through http_headers_addn's validation first). The rest is the body.
 *
 * Besides crashes and sanitizer reports, it checks the promises awserr.h
 * makes about its output: a status of AUTH/THROTTLED/AWS, messages without
 * control characters, printable codes and request ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/awserr.h"
#include "../src/aws/http.h"

static void check_printable(const char *s, bool allow_utf8)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || (!allow_utf8 && *p >= 0x80))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[8] = {400, 401, 403, 404, 429, 500, 503, 502};
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    if (sel & 0x80) {
        char *url = malloc(size);
        memcpy(url, data + 1, size - 1);
        url[size - 1] = '\0';
        struct brock_err ue;
        memset(&ue, 0, sizeof ue);
        enum brock_status us = http_check_url(url, (sel & 0x40) != 0, &ue);
        if (us != BROCK_OK && us != BROCK_ERR_CONFIG && us != BROCK_ERR_INTERNAL)
            abort();
        if (us != BROCK_OK && !memchr(ue.msg, '\0', sizeof ue.msg))
            abort();
        free(url);
        return 0;
    }
    enum awserr_protocol proto = (enum awserr_protocol)(sel & 3);
    long status = statuses[(sel >> 2) & 7];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;

    struct http_headers h = HTTP_HEADERS_INIT;
    if (sel & 0x20) {
        static const char *const names[] = {"x-amzn-ErrorType", "x-amzn-query-error", "x-amzn-RequestId",
                                            "x-amzn-ErrorMessage"};
        const char *nl = memchr(p, '\n', n);
        size_t hl = nl ? (size_t)(nl - p) : n;
        size_t start = 0, k = 0;
        for (size_t i = 0; i <= hl && k < 4; i++) {
            if (i == hl || p[i] == '|') {
                (void)http_headers_addn(&h, names[k], strlen(names[k]), p + start, i - start, NULL);
                k++;
                start = i + 1;
            }
        }
        size_t used = nl ? hl + 1 : hl;
        p += used;
        n -= used;
    }

    struct brock_err e;
    memset(&e, 0, sizeof e);
    enum brock_status st = awserr_parse(proto, status, &h, n ? p : NULL, n, &e);
    if (st != BROCK_ERR_AUTH && st != BROCK_ERR_THROTTLED && st != BROCK_ERR_AWS)
        abort();
    if (st != e.status || e.http_status != status)
        abort();
    if (!memchr(e.msg, '\0', sizeof e.msg) || !memchr(e.aws_code, '\0', sizeof e.aws_code) ||
        !memchr(e.request_id, '\0', sizeof e.request_id))
        abort();
    check_printable(e.msg, true);
    check_printable(e.aws_code, false);
    check_printable(e.request_id, false);
    if (awserr_parse(proto, status, &h, n ? p : NULL, n, NULL) != st)
        abort();
    http_headers_cleanup(&h);
    return 0;
}
