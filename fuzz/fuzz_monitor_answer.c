/* fuzz_monitor_answer.c - arbitrary bytes as a PutLogEvents answer.
 *
 * Byte 0 is the number of events in the call (0-255), the rest the body.
 * Checks: documented statuses only; on success every index is -1 or within
 * 0..n, and shipper_rejected_kind() puts each event in exactly one class;
 * on failure the result is all -1 and the message is NUL-terminated and
 * printable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/monitor/shipper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = data[0];
    const char *body = (const char *)data + 1;
    struct shipper_rejected r;
    struct brock_err e = {0};
    enum brock_status st = shipper_parse_answer(body, size - 1, n, &r, &e);
    if (st != BROCK_OK && st != BROCK_ERR_PARSE && st != BROCK_ERR_TOO_LARGE)
        abort();
    int64_t v[3] = {r.too_new_start, r.too_old_end, r.expired_end};
    for (int i = 0; i < 3; i++) {
        if (v[i] < -1 || v[i] > (int64_t)n)
            abort();
        if (st != BROCK_OK && v[i] != -1)
            abort();
    }
    if (st != BROCK_OK) {
        if (strnlen(e.msg, sizeof e.msg) == sizeof e.msg || !e.msg[0])
            abort();
        for (const char *p = e.msg; *p; p++)
            if ((unsigned char)*p < 0x20)
                abort();
    }
    for (size_t i = 0; i < n; i++) {
        int k = shipper_rejected_kind(&r, i);
        if (k < 0 || k > 3)
            abort();
    }
    return 0;
}
