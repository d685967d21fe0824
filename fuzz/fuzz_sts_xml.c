/* fuzz_sts_xml.c - arbitrary bytes as an STS answer.
 *
 * Byte 0 picks the parser (mod 3): AssumeRole credentials,
 * AssumeRoleWithWebIdentity credentials, GetCallerIdentity. The rest is the
 * XML. Checks: a result exactly when OK, documented statuses only, printable
 * NUL-terminated messages, credentials that can be signed with (non-empty,
 * within the SigV4 caps), an identity of NUL-terminated strings, and no
 * <SecretAccessKey> / <SessionToken> text in an error message (a value found
 * there is a leak if it is gone when the input value is overwritten). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/sigv4.h"
#include "../src/aws/sts.h"

static enum brock_status run(int sel, const char *p, size_t n, struct brock_err *e, bool check);

/* A secret (12+ bytes) found in the message is a leak when it is there
 * because of the input: with the value overwritten by 'Z's, the message must
 * no longer hold it (a fixed word of the message still would). */
static void check_no_secret(int sel, const char *in, size_t n, const char *msg)
{
    static const char *const tags[] = {"<SecretAccessKey>", "<SessionToken>"};
    for (size_t k = 0; k < 2; k++) {
        const char *p = memmem(in, n, tags[k], strlen(tags[k]));
        if (!p)
            continue;
        p += strlen(tags[k]);
        size_t left = n - (size_t)(p - in), len = 0;
        while (len < left && len < 63 && p[len] != '<' && p[len] != '&' && p[len] != '\0')
            len++;
        if (len < 12)
            continue;
        char v[64];
        memcpy(v, p, len);
        v[len] = '\0';
        if (!strstr(msg, v))
            continue;
        char *copy = malloc(n);
        memcpy(copy, in, n);
        memset(copy + (p - in), 'Z', len);
        struct brock_err e2;
        memset(&e2, 0, sizeof e2);
        (void)run(sel, copy, n, &e2, false);
        free(copy);
        if (!strstr(e2.msg, v))
            abort();
    }
}

static enum brock_status run(int sel, const char *p, size_t n, struct brock_err *e, bool check)
{
    enum brock_status st;
    if (sel < 2) {
        struct aws_credentials *c = NULL;
        st = sts_parse_credentials(sel ? STS_ASSUME_ROLE_WITH_WEB_IDENTITY : STS_ASSUME_ROLE, p, n, "fuzz", &c, e);
        if ((st == BROCK_OK) != (c != NULL))
            abort();
        if (c && (!c->access_key_id[0] || strlen(c->access_key_id) > SIGV4_MAX_AKID || !c->secret_access_key[0] ||
                  strlen(c->secret_access_key) > SIGV4_MAX_SECRET || !c->session_token || c->expiration_ms <= 0))
            abort();
        aws_credentials_release(c);
    } else {
        struct sts_identity id;
        st = sts_parse_identity(p, n, &id, e);
        if (st == BROCK_OK && (!memchr(id.account, 0, sizeof id.account) || !memchr(id.arn, 0, sizeof id.arn) ||
                               !memchr(id.user_id, 0, sizeof id.user_id) || !id.arn[0]))
            abort();
    }
    if (check && st != BROCK_OK) {
        if (st != BROCK_ERR_PARSE && st != BROCK_ERR_TOO_LARGE && st != BROCK_ERR_CREDENTIALS)
            abort();
        if (!memchr(e->msg, '\0', sizeof e->msg))
            abort();
        for (const unsigned char *q = (const unsigned char *)e->msg; *q; q++)
            if (*q < 0x20 || *q == 0x7f)
                abort();
        check_no_secret(sel, p, n, e->msg);
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct brock_err e;
    memset(&e, 0, sizeof e);
    (void)run(data[0] % 3, (const char *)data + 1, size - 1, &e, true);
    return 0;
}
