#include "credentials.h"

#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"

struct aws_credentials *aws_credentials_new(const char *akid, const char *secret, const char *token,
                                            int64_t expiration_ms, const char *provider)
{
    struct aws_credentials *c = xcalloc(1, sizeof *c);
    c->access_key_id = xstrdup(akid ? akid : "");
    c->secret_access_key = xstrdup(secret ? secret : "");
    c->session_token = token && *token ? xstrdup(token) : NULL;
    c->expiration_ms = expiration_ms;
    if (provider) {
        strncpy(c->provider, provider, sizeof c->provider - 1);
    }
    c->refs = 1;
    return c;
}

struct aws_credentials *aws_credentials_acquire(struct aws_credentials *c)
{
    if (c)
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void aws_credentials_release(struct aws_credentials *c)
{
    if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(c->access_key_id);
    xfree_secret(c->secret_access_key);
    xfree_secret(c->session_token);
    free(c->account_id);
    free(c);
}

bool aws_credentials_expiring(const struct aws_credentials *c, int64_t now_ms, int64_t within_ms)
{
    return c->expiration_ms != 0 && c->expiration_ms - now_ms <= within_ms;
}
