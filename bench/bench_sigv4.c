/* bench_sigv4.c - cost of signing a Bedrock InvokeModel request, against the
 * cost of the cryptography it cannot avoid.
 *
 * The request: POST /model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke
 * to bedrock-runtime.us-west-2.amazonaws.com, headers content-type, accept,
 * host, plus the x-amz-date and x-amz-security-token the signer adds, a 1 KiB
 * JSON body whose SHA-256 is part of the signature.
 *
 * The crypto floor: SHA-256 of the 1 KiB body, SHA-256 of a buffer as long as
 * the canonical request, and one HMAC-SHA256 of a string-to-sign-sized message
 * with a pre-keyed HMAC. Measured two ways: with OpenSSL 3's EVP objects
 * fetched once and a keyed EVP_MD_CTX copied per HMAC (the floor as the issue
 * defines it; `floor_ns`), and with the crypto.h primitives brock itself uses
 * (libcrypto's SHA256_CTX block functions; `floor_raw_ns`).
 *
 * Each figure is the median, over RUNS runs, of the mean time per operation
 * in a run of ITERS operations, timed with the thread's CPU clock (the
 * machine may be shared; time spent descheduled is not ours). Output ends with a line the bench script
 * reads: "RESULT sign_ns=... floor_ns=... ratio=... signature=...".
 *
 * Usage: bench_sigv4 [TOKEN_BYTES [RUNS [ITERS]]]   (defaults 100 31 20000)
 * The inputs (keys, token, body, time) are built the same way by
 * bench/sigv4_peer.js and bench/sigv4_peer.py, so all three must print the
 * same signature. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/aws/crypto.h"
#include "../src/aws/sigv4.h"

#define BODY_LEN 1024
#define BENCH_TIME 1767225600 /* 2026-01-01T00:00:00Z */

static const char k_path[] = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke";

/* The shared inputs; keep in step with the peers. */
static void make_body(char *b)
{
    static const char head[] = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":1024,"
                               "\"messages\":[{\"role\":\"user\",\"content\":\"";
    static const char tail[] = "\"}]}";
    memcpy(b, head, sizeof head - 1);
    for (size_t i = sizeof head - 1; i < BODY_LEN - (sizeof tail - 1); i++)
        b[i] = (char)('a' + i % 26);
    memcpy(b + BODY_LEN - (sizeof tail - 1), tail, sizeof tail - 1);
}

static char *make_token(size_t n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        t[i] = alpha[(i * 7 + 3) % 64];
    t[n] = '\0';
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct ctx {
    struct sigv4_signer *signer;
    struct sigv4_request req;
    struct sigv4_params params;
    /* floor */
    struct sha256_ctx sha;
    struct hmac_key key;
    const char *body;
    char *creq_like;
    size_t creq_len;
    char *sts_like;
    size_t sts_len;
    EVP_MD *md;
    EVP_MD_CTX *evp, *evp_inner, *evp_outer;
    volatile uint8_t sink;
};

static void op_sign(struct ctx *c)
{
    const struct sigv4_output *o;
    if (sigv4_sign_headers(c->signer, &c->req, &c->params, &o, NULL) != BROCK_OK)
        abort();
    c->sink ^= (uint8_t)o->signature[0];
}

static void op_floor(struct ctx *c)
{
    uint8_t d[SHA256_LEN];
    sha256_update(&c->sha, c->body, BODY_LEN);
    sha256_final(&c->sha, d);
    c->sink ^= d[0];
    sha256_update(&c->sha, c->creq_like, c->creq_len);
    sha256_final(&c->sha, d);
    c->sink ^= d[0];
    hmac_key_sign(&c->key, c->sts_like, c->sts_len, d);
    c->sink ^= d[0];
}

static void op_floor_evp(struct ctx *c)
{
    uint8_t d[SHA256_LEN], ih[SHA256_LEN];
    EVP_DigestInit_ex(c->evp, c->md, NULL);
    EVP_DigestUpdate(c->evp, c->body, BODY_LEN);
    EVP_DigestFinal_ex(c->evp, d, NULL);
    c->sink ^= d[0];
    EVP_DigestInit_ex(c->evp, c->md, NULL);
    EVP_DigestUpdate(c->evp, c->creq_like, c->creq_len);
    EVP_DigestFinal_ex(c->evp, d, NULL);
    c->sink ^= d[0];
    EVP_MD_CTX_copy_ex(c->evp, c->evp_inner);
    EVP_DigestUpdate(c->evp, c->sts_like, c->sts_len);
    EVP_DigestFinal_ex(c->evp, ih, NULL);
    EVP_MD_CTX_copy_ex(c->evp, c->evp_outer);
    EVP_DigestUpdate(c->evp, ih, sizeof ih);
    EVP_DigestFinal_ex(c->evp, d, NULL);
    c->sink ^= d[0];
}

/* CPU time of this thread: time the scheduler gave to other processes on a
 * shared machine does not count. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double run_once(struct ctx *c, void (*op)(struct ctx *), int iters)
{
    int64_t t0 = cpu_ns();
    for (int i = 0; i < iters; i++)
        op(c);
    return (double)(cpu_ns() - t0) / iters;
}

/* Runs of the two operations alternate, so drift (frequency, neighbours)
 * hits both alike; each result is the median of its per-run means. */
static void measure(struct ctx *c, int runs, int iters, double *sign, double *floor, double *floor_raw)
{
    double *a = malloc(sizeof *a * (size_t)runs), *b = malloc(sizeof *b * (size_t)runs),
           *f = malloc(sizeof *f * (size_t)runs);
    run_once(c, op_sign, iters / 4 + 1); /* warm up */
    run_once(c, op_floor, iters / 4 + 1);
    run_once(c, op_floor_evp, iters / 4 + 1);
    for (int r = 0; r < runs; r++) {
        a[r] = run_once(c, op_sign, iters);
        b[r] = run_once(c, op_floor_evp, iters);
        f[r] = run_once(c, op_floor, iters);
    }
    qsort(a, (size_t)runs, sizeof *a, cmp_double);
    qsort(b, (size_t)runs, sizeof *b, cmp_double);
    qsort(f, (size_t)runs, sizeof *f, cmp_double);
    *sign = a[runs / 2];
    *floor = b[runs / 2];
    *floor_raw = f[runs / 2];
    free(a);
    free(b);
    free(f);
}

int main(int argc, char **argv)
{
    size_t token_len = argc > 1 ? (size_t)atol(argv[1]) : 100;
    int runs = argc > 2 ? atoi(argv[2]) : 31;
    int iters = argc > 3 ? atoi(argv[3]) : 20000;
    if (runs < 1 || iters < 1) {
        fprintf(stderr, "usage: bench_sigv4 [TOKEN_BYTES [RUNS [ITERS]]]\n");
        return 2;
    }
    crypto_global_init();

    static char body[BODY_LEN];
    make_body(body);
    char *token = make_token(token_len);
    struct aws_credentials *creds =
        aws_credentials_new("ASIAEXAMPLEBENCH0001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYBENCHKEY1",
                            token_len ? token : NULL, 0, "bench");
    static const struct sigv4_header headers[] = {
        SIGV4_HEADER("content-type", "application/json"),
        SIGV4_HEADER("accept", "application/json"),
        SIGV4_HEADER("host", "bedrock-runtime.us-west-2.amazonaws.com"),
    };
    struct ctx c = {
        .signer = sigv4_signer_new(),
        .req = {.method = "POST",
                .path = k_path,
                .path_len = sizeof k_path - 1,
                .headers = headers,
                .n_headers = 3,
                .body = body,
                .body_len = BODY_LEN},
        .params = {.creds = creds, .region = "us-west-2", .service = "bedrock", .time_s = BENCH_TIME},
        .body = body,
    };
    const struct sigv4_output *o;
    if (sigv4_sign_headers(c.signer, &c.req, &c.params, &o, NULL) != BROCK_OK)
        return 1;
    char signature[65];
    memcpy(signature, o->signature, 65);
    c.creq_len = o->canonical_request_len;
    c.creq_like = malloc(c.creq_len);
    memcpy(c.creq_like, o->canonical_request, c.creq_len);
    c.sts_len = o->string_to_sign_len;
    c.sts_like = malloc(c.sts_len);
    memcpy(c.sts_like, o->string_to_sign, c.sts_len);
    sha256_init(&c.sha);
    uint8_t k[SHA256_LEN] = {1, 2, 3};
    hmac_key_init(&c.key, k, sizeof k);
    c.md = EVP_MD_fetch(NULL, "SHA256", NULL);
    c.evp = EVP_MD_CTX_new();
    c.evp_inner = EVP_MD_CTX_new();
    c.evp_outer = EVP_MD_CTX_new();
    uint8_t pad[64];
    for (int i = 0; i < 64; i++)
        pad[i] = (uint8_t)((i < (int)sizeof k ? k[i] : 0) ^ 0x36);
    EVP_DigestInit_ex(c.evp_inner, c.md, NULL);
    EVP_DigestUpdate(c.evp_inner, pad, sizeof pad);
    for (int i = 0; i < 64; i++)
        pad[i] = (uint8_t)((i < (int)sizeof k ? k[i] : 0) ^ 0x5c);
    EVP_DigestInit_ex(c.evp_outer, c.md, NULL);
    EVP_DigestUpdate(c.evp_outer, pad, sizeof pad);

    double sign, floor, floor_raw;
    measure(&c, runs, iters, &sign, &floor, &floor_raw);

    printf("request: InvokeModel, %d-byte body, %zu-byte session token, canonical request %zu bytes\n",
           BODY_LEN, token_len, c.creq_len);
    printf("brock sigv4_sign_headers: %8.1f ns (median of %d runs x %d)\n", sign, runs, iters);
    printf("crypto floor (EVP):       %8.1f ns\n", floor);
    printf("crypto floor (SHA256_CTX):%8.1f ns\n", floor_raw);
    printf("ratio to floor:           %8.2f (%.2f to the SHA256_CTX floor)\n", sign / floor, sign / floor_raw);
    printf("signature: %s\n", signature);
    printf("RESULT sign_ns=%.1f floor_ns=%.1f floor_raw_ns=%.1f ratio=%.3f token_bytes=%zu signature=%s\n", sign,
           floor, floor_raw, sign / floor, token_len, signature);
    EVP_MD_CTX_free(c.evp);
    EVP_MD_CTX_free(c.evp_inner);
    EVP_MD_CTX_free(c.evp_outer);
    EVP_MD_free(c.md);

    hmac_key_free(&c.key);
    sha256_free(&c.sha);
    free(c.creq_like);
    free(c.sts_like);
    sigv4_signer_free(c.signer);
    aws_credentials_release(creds);
    free(token);
    return 0;
}
