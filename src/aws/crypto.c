#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/codec.h"

/* Fetched once in crypto_global_init, then only read. */
static EVP_MD *g_sha256;

void crypto_global_init(void)
{
    if (g_sha256)
        return;
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!g_sha256) {
        fprintf(stderr, "brock: OpenSSL has no SHA-256 (broken libcrypto?)\n");
        abort();
    }
}

static const EVP_MD *sha256_md(void)
{
    if (!g_sha256)
        crypto_global_init();
    return g_sha256;
}

static EVP_MD_CTX *new_ctx(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) {
        fprintf(stderr, "brock: out of memory (EVP_MD_CTX)\n");
        abort();
    }
    return c;
}

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "brock: libcrypto failed in %s\n", what);
        abort();
    }
}

void crypto_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
    must(EVP_Digest(p, n, out, NULL, sha256_md(), NULL), "EVP_Digest");
}

void crypto_sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1])
{
    uint8_t d[SHA256_LEN];
    crypto_sha256(p, n, d);
    hex_encode(d, SHA256_LEN, out);
}

void sha256_init(struct sha256_ctx *c)
{
    c->md_ctx = new_ctx();
    must(EVP_DigestInit_ex(c->md_ctx, sha256_md(), NULL), "EVP_DigestInit_ex");
}

void sha256_update(struct sha256_ctx *c, const void *p, size_t n)
{
    must(EVP_DigestUpdate(c->md_ctx, p, n), "EVP_DigestUpdate");
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
    must(EVP_DigestFinal_ex(c->md_ctx, out, NULL), "EVP_DigestFinal_ex");
    must(EVP_DigestInit_ex(c->md_ctx, sha256_md(), NULL), "EVP_DigestInit_ex");
}

void sha256_free(struct sha256_ctx *c)
{
    EVP_MD_CTX_free(c->md_ctx);
    c->md_ctx = NULL;
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
    k->inner = new_ctx();
    k->outer = new_ctx();
    k->work = new_ctx();
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x36;
    must(EVP_DigestInit_ex(k->inner, sha256_md(), NULL), "EVP_DigestInit_ex");
    must(EVP_DigestUpdate(k->inner, pad, SHA256_BLOCK), "EVP_DigestUpdate");
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x5c;
    must(EVP_DigestInit_ex(k->outer, sha256_md(), NULL), "EVP_DigestInit_ex");
    must(EVP_DigestUpdate(k->outer, pad, SHA256_BLOCK), "EVP_DigestUpdate");
    secure_wipe(block, sizeof block);
    secure_wipe(pad, sizeof pad);
}

void hmac_key_sign(struct hmac_key *k, const void *msg, size_t n, uint8_t out[SHA256_LEN])
{
    uint8_t ih[SHA256_LEN];
    must(EVP_MD_CTX_copy_ex(k->work, k->inner), "EVP_MD_CTX_copy_ex");
    must(EVP_DigestUpdate(k->work, msg, n), "EVP_DigestUpdate");
    must(EVP_DigestFinal_ex(k->work, ih, NULL), "EVP_DigestFinal_ex");
    must(EVP_MD_CTX_copy_ex(k->work, k->outer), "EVP_MD_CTX_copy_ex");
    must(EVP_DigestUpdate(k->work, ih, SHA256_LEN), "EVP_DigestUpdate");
    must(EVP_DigestFinal_ex(k->work, out, NULL), "EVP_DigestFinal_ex");
}

void hmac_key_free(struct hmac_key *k)
{
    /* EVP_MD_CTX_free cleanses the digest state it owns. */
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    EVP_MD_CTX_free(k->work);
    k->inner = k->outer = k->work = NULL;
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
