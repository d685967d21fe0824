/* fuzz_monitor_event.c - arbitrary text through the audit event builder and
 * the redactor.
 *
 * The input is split at the first two NUL bytes into prompt, answer and
 * error message (all hostile: tool output, model text, AWS messages). Byte 0
 * also picks log_content and metrics. Checks: the event is built, is valid
 * JSON that jansson accepts (UTF-8 clean, no raw control bytes), is within
 * the spool's cap, and with "full" content still holds no AWS access key id
 * shape from the input; the redactor alone never returns more markers than
 * it found and keeps every byte outside them. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/monitor/audit.h"

static bool is_key_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Does s hold "AKIA" + 16 of [A-Z0-9] standing alone (the redactor's shape)? */
static bool has_key_shape(const char *s, size_t n)
{
    for (size_t i = 0; i + 20 <= n; i++) {
        if (memcmp(s + i, "AKIA", 4) && memcmp(s + i, "ASIA", 4))
            continue;
        if (i && is_key_char((unsigned char)s[i - 1]))
            continue;
        size_t k = 4;
        while (k < 20 && is_key_char((unsigned char)s[i + k]))
            k++;
        if (k == 20 && (i + 20 == n || !is_key_char((unsigned char)s[i + 20])))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    const char *z1 = memchr(p, 0, n);
    size_t l1 = z1 ? (size_t)(z1 - p) : n;
    const char *a = z1 ? z1 + 1 : "";
    size_t an = z1 ? n - l1 - 1 : 0;
    const char *z2 = memchr(a, 0, an);
    size_t l2 = z2 ? (size_t)(z2 - a) : an;
    /* an exact-length copy, NUL-terminated (no strndup: it may look one byte
     * past a buffer that has no NUL, which libFuzzer's inputs do not) */
    size_t el = z2 ? an - l2 - 1 : 0;
    char *err = malloc(el + 1);
    if (el)
        memcpy(err, z2 + 1, el);
    err[el] = '\0';

    struct monitor_config cfg;
    monitor_config_init(&cfg);
    cfg.content = (enum monitor_content)(sel % 3);
    cfg.metrics = (enum monitor_metrics)((sel / 3) % 3);
    struct audit_call c = {
        .time_ms = 1735689600000LL + (int64_t)sel,
        .model = err,
        .project = err,
        .status = err[0] ? err : NULL,
        .error_message = err,
        .routing = err,
        .prompt = p,
        .prompt_len = l1,
        .answer = a,
        .answer_len = l2,
    };
    struct buf out = BUF_INIT(AUDIT_EVENT_MAX);
    struct brock_err e = {0};
    if (audit_build(&cfg, &c, 0, &out, NULL, &e) != BROCK_OK)
        abort();
    json_error_t je;
    json_t *v = json_loadb(out.ptr, out.len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(v))
        abort();
    if (cfg.content == MONITOR_CONTENT_FULL) {
        const char *pr = json_string_value(json_object_get(v, "prompt"));
        if (!pr || has_key_shape(pr, strlen(pr)))
            abort();
    }
    json_decref(v);
    buf_free(&out);

    /* the redactor alone: bytes outside markers are kept in order */
    struct buf r = BUF_INIT(4 * n + 64);
    unsigned kinds = 0;
    size_t count = audit_redact(&r, p, n, &kinds);
    if ((count == 0) != (kinds == 0))
        abort();
    if (count == 0 && (r.len != n || memcmp(r.ptr ? r.ptr : "", p, n)))
        abort();
    buf_free(&r);
    free(err);
    return 0;
}
