/* bench_eventstream.c - event-stream decode throughput against a CRC-only floor.
 *
 * Builds a buffer (64 MiB by default) of realistic Bedrock InvokeModel stream
 * frames: `chunk` events with the three string headers and a payload
 * {"bytes":"<base64 of a content_block_delta JSON>","p":"<padding>"}, about
 * 200 bytes each. Then, in the same run and interleaved:
 *
 *   decode    the buffer fed to es_decoder in 16 KiB pieces, as a socket
 *             would deliver it: both CRCs checked, headers parsed, payload
 *             located, and the :event-type looked up per message;
 *   baseline  the frames walked one by one with only zlib crc32 over each
 *             frame but its last 4 bytes, compared with the trailer.
 *
 * Prints the median MB/s (10^6 bytes) of each and the ratio. `--write FILE`
 * also saves the buffer for the JS and Python peers (bench/eventstream.sh).
 *
 * Usage: bench_eventstream [--mib N] [--runs N] [--write FILE] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../src/aws/eventstream.h"
#include "../src/util/buf.h"
#include "../src/util/codec.h"
#include "../src/util/timeutil.h"

#define PIECE (16 * 1024)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static const char *const words[] = {"the ",   "code ",  "function ", "returns ", "a ",
                                    "value ", "when ",  "buffer ",   "is ",      "full; ",
                                    "we ",    "check ", "each ",     "byte ",    "once.\\n"};

/* Append frames until `out` holds about `target` bytes; returns the count. */
static size_t build(struct buf *out, size_t target)
{
    struct buf json = BUF_INIT(4096), b64 = BUF_INIT(4096), payload = BUF_INIT(4096);
    static const char pad[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t frames = 0;
    struct brock_err e;
    while (out->len < target) {
        buf_reset(&json);
        buf_reset(&b64);
        buf_reset(&payload);
        buf_addf(
            &json,
            "{\"type\":\"content_block_delta\",\"index\":%u,\"delta\":{\"type\":\"text_delta\","
            "\"text\":\"",
            rng() % 3);
        for (uint32_t w = 1 + rng() % 2; w > 0; w--)
            buf_addstr(&json, words[rng() % BROCK_ARRAY_LEN(words)]);
        buf_addstr(&json, "\"}}");
        base64_encode(&b64, json.ptr, json.len);
        buf_addf(&payload, "{\"bytes\":\"%s\",\"p\":\"%.*s\"}", b64.ptr, (int)(1 + rng() % 12),
                 pad);
        if (es_encode_event(out, "chunk", "application/json", payload.ptr, payload.len, &e) !=
            BROCK_OK) {
            fprintf(stderr, "bench: %s\n", e.msg);
            exit(1);
        }
        frames++;
    }
    buf_free(&json);
    buf_free(&b64);
    buf_free(&payload);
    return frames;
}

static size_t sink; /* keeps the work observable */

static double run_decode(const uint8_t *p, size_t n, size_t frames, struct es_decoder *d)
{
    es_decoder_reset(d);
    struct brock_err e;
    size_t count = 0, chunks = 0;
    int64_t t0 = time_mono_ns();
    for (size_t pos = 0; pos < n; pos += PIECE) {
        size_t k = n - pos < PIECE ? n - pos : PIECE;
        if (es_decoder_feed(d, p + pos, k, &e) != BROCK_OK)
            goto fail;
        for (;;) {
            struct es_message m;
            bool got;
            if (es_decoder_next(d, &m, &got, &e) != BROCK_OK)
                goto fail;
            if (!got)
                break;
            struct es_str type = es_message_event_type(&m);
            chunks += type.len == 5;
            sink += m.payload_len + m.header_count;
            count++;
        }
    }
    if (es_decoder_finish(d, &e) != BROCK_OK)
        goto fail;
    int64_t t1 = time_mono_ns();
    if (count != frames || chunks != frames) {
        fprintf(stderr, "bench: decoded %zu messages (%zu chunk events), built %zu\n", count,
                chunks, frames);
        exit(1);
    }
    return (double)(t1 - t0) / 1e9;
fail:
    fprintf(stderr, "bench: %s\n", e.msg);
    exit(1);
}

static double run_baseline(const uint8_t *p, size_t n, size_t frames)
{
    size_t count = 0;
    int64_t t0 = time_mono_ns();
    for (size_t pos = 0; pos < n;) {
        const uint8_t *f = p + pos;
        uint32_t total = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
        const uint8_t *t = f + total - 4;
        uint32_t want = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
        if ((uint32_t)crc32(0, f, total - 4) != want) {
            fprintf(stderr, "bench: baseline CRC mismatch at %zu\n", pos);
            exit(1);
        }
        pos += total;
        count++;
    }
    int64_t t1 = time_mono_ns();
    if (count != frames)
        exit(1);
    return (double)(t1 - t0) / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    size_t mib = 64;
    int runs = 11;
    const char *write_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc)
            mib = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--write") && i + 1 < argc)
            write_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--mib N] [--runs N] [--write FILE]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 1000 || mib < 1 || mib > 1024) {
        fprintf(stderr, "bench: --runs 1..1000, --mib 1..1024\n");
        return 2;
    }
    struct buf all = BUF_INIT(mib * 1024 * 1024 + 4096);
    size_t frames = build(&all, mib * 1024 * 1024);
    const uint8_t *p = (const uint8_t *)all.ptr;
    size_t n = all.len;
    if (write_path) {
        FILE *f = fopen(write_path, "wb");
        if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
            perror(write_path);
            return 1;
        }
    }

    struct es_decoder *d = es_decoder_new();
    double *td = calloc((size_t)runs, sizeof *td), *tb = calloc((size_t)runs, sizeof *tb);
    run_decode(p, n, frames, d); /* warm up: page in, size the buffers */
    run_baseline(p, n, frames);
    for (int r = 0; r < runs; r++) {
        td[r] = run_decode(p, n, frames, d);
        tb[r] = run_baseline(p, n, frames);
    }
    double dec = (double)n / median(td, runs) / 1e6, base = (double)n / median(tb, runs) / 1e6;
    printf("frames=%zu bytes=%zu avg_frame=%.1f piece=%d runs=%d\n", frames, n,
           (double)n / (double)frames, PIECE, runs);
    printf("brock_decode_mbps=%.0f\n", dec);
    printf("zlib_crc_baseline_mbps=%.0f\n", base);
    printf("ratio=%.2f\n", dec / base);
    printf("sink=%zu\n", sink);
    free(td);
    free(tb);
    es_decoder_free(d);
    buf_free(&all);
    return 0;
}
