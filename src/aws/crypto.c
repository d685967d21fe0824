/* crypto.c - see crypto.h. SHA256_Init/Update/Final are deprecated in OpenSSL 3
 * in favour of EVP, but remain in libcrypto 3.x with the same block code; see
 * the header for why brock uses them. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/codec.h"

_Static_assert(sizeof(SHA256_CTX) <= CRYPTO_SHA256_STATE, "SHA256_CTX does not fit struct sha256_ctx");
_Static_assert(_Alignof(SHA256_CTX) <= 16, "SHA256_CTX alignment");

#define CTX(p) ((SHA256_CTX *)(void *)(p))

void crypto_global_init(void)
{
}

void crypto_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

void crypto_sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1])
{
    uint8_t d[SHA256_LEN];
    crypto_sha256(p, n, d);
    hex_encode(d, SHA256_LEN, out);
}

void sha256_init(struct sha256_ctx *c)
{
    SHA256_Init(CTX(c->state));
}

void sha256_update(struct sha256_ctx *c, const void *p, size_t n)
{
    SHA256_Update(CTX(c->state), p, n);
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
    SHA256_Final(out, CTX(c->state));
    SHA256_Init(CTX(c->state));
}

void sha256_free(struct sha256_ctx *c)
{
    secure_wipe(c->state, sizeof c->state);
}

#define SHA256_BLOCK 64

void hmac_key_init(struct hmac_key *k, const void *key, size_t klen)
{
    uint8_t block[SHA256_BLOCK], pad[SHA256_BLOCK];
    memset(block, 0, sizeof block);
    if (klen > SHA256_BLOCK)
        crypto_sha256(key, klen, block);
    else if (klen)
        memcpy(block, key, klen);
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x36;
    SHA256_Init(CTX(k->inner));
    SHA256_Update(CTX(k->inner), pad, SHA256_BLOCK);
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x5c;
    SHA256_Init(CTX(k->outer));
    SHA256_Update(CTX(k->outer), pad, SHA256_BLOCK);
    secure_wipe(block, sizeof block);
    secure_wipe(pad, sizeof pad);
}

void hmac_key_sign(struct hmac_key *k, const void *msg, size_t n, uint8_t out[SHA256_LEN])
{
    SHA256_CTX w;
    uint8_t ih[SHA256_LEN];
    memcpy(&w, k->inner, sizeof w);
    SHA256_Update(&w, msg, n);
    SHA256_Final(ih, &w);
    memcpy(&w, k->outer, sizeof w);
    SHA256_Update(&w, ih, SHA256_LEN);
    SHA256_Final(out, &w);
}

void hmac_key_free(struct hmac_key *k)
{
    secure_wipe(k, sizeof *k);
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                        uint8_t out[SHA256_LEN])
{
    struct hmac_key k;
    hmac_key_init(&k, key, klen);
    hmac_key_sign(&k, msg, n, out);
    hmac_key_free(&k);
}

enum brock_status crypto_random(void *p, size_t n, struct brock_err *e)
{
    if (n > (size_t)INT32_MAX || RAND_bytes(p, (int)n) != 1)
        return err_set(e, BROCK_ERR_INTERNAL, "no random bytes from OpenSSL");
    return BROCK_OK;
}

double crypto_random_unit(void)
{
    uint64_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint64_t)rand();
    return (double)(v >> 11) * (1.0 / 9007199254740992.0);
}
