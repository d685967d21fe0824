/* fuzz_creds_process.c - the JSON readers of the credential providers and
 * the credential_process command-line splitter.
 *
 * Byte 0 picks the reader (mod 7): 0 credential_process output, 1 container
 * answer, 2 IMDS answer, 3 the command-line splitter, 4 an SSO token cache
 * file, 5 an SSO GetRoleCredentials answer, 6 an SSO OIDC CreateToken answer.
 * The rest is the input.
 *
 * Besides crashes and sanitizer reports it checks the promises of creds.h
 * and sso.h: a status that is OK or one of the documented errors, a result
 * exactly when OK, printable NUL-terminated messages, a NULL-terminated argv
 * of argc >= 1 words, and that no error message quotes the value of a
 * "SecretAccessKey" / "secretAccessKey" / "accessToken" / "refreshToken" /
 * "clientSecret" field because of that value (checked by rerunning with the
 * value overwritten). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/aws/creds.h"
#include "../src/aws/sso.h"

static void check_msg(const struct brock_err *e)
{
    if (!memchr(e->msg, '\0', sizeof e->msg))
        abort();
    for (const unsigned char *p = (const unsigned char *)e->msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            abort();
}

static enum brock_status run(int sel, const char *p, size_t n, struct brock_err *e, bool check);

/* A secret value (12+ bytes) found in the message is a leak when it is there
 * because of the input: the same input with that value overwritten by 'Z's
 * must not still produce it (a fixed word of the message would). */
static void check_no_secret(int sel, const char *in, size_t n, const struct brock_err *e)
{
    static const char *const keys[] = {"\"SecretAccessKey\":\"", "\"secretAccessKey\":\"", "\"accessToken\":\"",
                                       "\"refreshToken\":\"", "\"clientSecret\":\""};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *p = memmem(in, n, keys[k], strlen(keys[k]));
        if (!p)
            continue;
        p += strlen(keys[k]);
        size_t left = n - (size_t)(p - in), len = 0;
        while (len < left && len < 63 && p[len] != '"' && p[len] != '\\' && p[len] != '\0')
            len++;
        if (len < 12)
            continue;
        char v[64];
        memcpy(v, p, len);
        v[len] = '\0';
        if (!strstr(e->msg, v))
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
    struct aws_credentials *c = NULL;
    switch (sel) {
    case 0:
    case 1:
    case 2:
        st = creds_parse_json((enum creds_json_kind)sel, p, n, "fuzz", &c, e);
        if ((st == BROCK_OK) != (c != NULL))
            abort();
        if (c && (strcmp(c->provider, "fuzz") || !c->access_key_id[0] || !c->secret_access_key[0]))
            abort();
        break;
    case 3: {
        char *cmd = malloc(n + 1);
        memcpy(cmd, p, n);
        cmd[n] = '\0';
        char **argv = NULL;
        size_t argc = 0;
        st = creds_split_command(cmd, &argv, &argc, e);
        if (st == BROCK_OK) {
            if (!argv || argc < 1 || argv[argc] != NULL)
                abort();
            for (size_t i = 0; i < argc; i++)
                if (strlen(argv[i]) > strlen(cmd))
                    abort();
        } else if (argv || (st != BROCK_ERR_PARSE && st != BROCK_ERR_TOO_LARGE)) {
            abort();
        }
        creds_argv_free(argv);
        free(cmd);
        break;
    }
    case 4: {
        struct sso_token t;
        st = sso_token_parse(p, n, "fuzz", &t, e);
        if (st == BROCK_OK && (!t.access_token || !t.access_token[0]))
            abort();
        sso_token_cleanup(&t);
        break;
    }
    case 5:
        st = sso_parse_role_credentials(p, n, "fuzz", &c, e);
        if ((st == BROCK_OK) != (c != NULL))
            abort();
        break;
    default: {
        struct sso_token t;
        memset(&t, 0, sizeof t);
        st = sso_parse_create_token(p, n, 1700000000000LL, &t, e);
        if (st == BROCK_OK && (!t.access_token || t.expires_at_ms <= 1700000000000LL))
            abort();
        sso_token_cleanup(&t);
        break;
    }
    }
    aws_credentials_release(c);
    if (check && st != BROCK_OK) {
        if (st != BROCK_ERR_PARSE && st != BROCK_ERR_TOO_LARGE && st != BROCK_ERR_CREDENTIALS)
            abort();
        check_msg(e);
        check_no_secret(sel, p, n, e);
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
    (void)run(data[0] % 7, (const char *)data + 1, size - 1, &e, true);
    return 0;
}
