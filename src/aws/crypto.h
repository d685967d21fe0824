/* crypto.h - SHA-256, HMAC-SHA256 and randomness: the only libcrypto user.
 *
 * SHA-256 runs on libcrypto's SHA256_CTX block functions directly (the same
 * assembly, SHA-NI where the CPU has it, as the EVP interface), because the
 * EVP layer of OpenSSL 3 adds a provider dispatch per call and an allocation
 * per context copy: about 50 ns per digest, a third of SigV4's own cost.
 * Contexts live inline in the structs below; nothing here allocates.
 * A `struct hmac_key` holds the inner and outer SHA-256 states already keyed,
 * so each HMAC with a cached key (a SigV4 signing key) costs two finishing
 * compressions instead of four.
 *
 * Keys given to hmac_key_init are not kept; hmac_key_free wipes the states. */
#ifndef BROCK_AWS_CRYPTO_H
#define BROCK_AWS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

/* Process-wide set-up, called once from main (and by tests) before threads
 * start. Kept for the other libcrypto users to come; cheap. */
void crypto_global_init(void);

void crypto_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
/* Lowercase hex of SHA-256, into out (65 bytes with NUL). */
void crypto_sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1]);

/* Room for libcrypto's SHA256_CTX (checked at compile time in crypto.c). */
#define CRYPTO_SHA256_STATE 128

/* Incremental SHA-256. */
struct sha256_ctx {
    _Alignas(16) unsigned char state[CRYPTO_SHA256_STATE];
};
void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *p, size_t n);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]); /* resets for reuse */
void sha256_free(struct sha256_ctx *c);

/* One-shot HMAC-SHA256. */
void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                        uint8_t out[SHA256_LEN]);

/* A pre-keyed HMAC-SHA256. */
struct hmac_key {
    _Alignas(16) unsigned char inner[CRYPTO_SHA256_STATE]; /* after absorbing key ^ ipad */
    _Alignas(16) unsigned char outer[CRYPTO_SHA256_STATE]; /* after absorbing key ^ opad */
};
void hmac_key_init(struct hmac_key *k, const void *key, size_t klen);
void hmac_key_sign(struct hmac_key *k, const void *msg, size_t n, uint8_t out[SHA256_LEN]);
void hmac_key_free(struct hmac_key *k); /* wipes the keyed states */

/* Cryptographically secure random bytes. */
enum brock_status crypto_random(void *p, size_t n, struct brock_err *e);
/* A uniformly random double in [0, 1), from crypto_random (for jitter). */
double crypto_random_unit(void);

#endif
