/* credentials.h - AWS credentials and the provider interface.
 *
 * `struct aws_credentials` is immutable once made and reference-counted, so a
 * request can keep signing with the set it started with while a refresh
 * replaces the cached set for later requests. aws_credentials_release() wipes
 * the secret and the token before freeing them.
 *
 * A provider produces credentials (environment, profile, process, STS,
 * IAM Identity Center, container, IMDS, or a chain of them). Providers are
 * objects with a vtable; see creds.h for them and the default chain. */
#ifndef BROCK_AWS_CREDENTIALS_H
#define BROCK_AWS_CREDENTIALS_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/err.h"

struct aws_credentials {
    char *access_key_id;
    char *secret_access_key; /* secret: never log, never put in an error */
    char *session_token;     /* secret; NULL for long-term keys */
    char *account_id;        /* NULL when unknown */
    int64_t expiration_ms;   /* ms since epoch; 0 = never expires */
    char provider[64];       /* which provider made them, e.g. "environment" */
    int refs;                /* atomic */
};

/* A new set with one reference. token/account may be NULL. */
struct aws_credentials *aws_credentials_new(const char *access_key_id, const char *secret_access_key,
                                            const char *session_token, int64_t expiration_ms,
                                            const char *provider);
struct aws_credentials *aws_credentials_acquire(struct aws_credentials *c);
void aws_credentials_release(struct aws_credentials *c); /* NULL is fine */
/* True if the set expires within `within_ms` of now_ms. */
bool aws_credentials_expiring(const struct aws_credentials *c, int64_t now_ms, int64_t within_ms);

#endif
