/* fuzz_batch_output.c - arbitrary bytes as what Bedrock Batch Inference and
 * brock itself leave in S3: byte 0 picks (mod 3) a `.jsonl.out` line
 * (batch_parse_out_record), brock's job manifest (batch_manifest_parse, then
 * written back and parsed again: the same records), or a
 * GetModelInvocationJob answer (batch_job_from_json). Checks: documented
 * statuses, NUL-terminated messages naming the input, exactly one of output
 * or error in a record, a manifest that survives its own round trip. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/batch/batch_int.h"

static void check_msg(const struct brock_err *e)
{
    if (!memchr(e->msg, '\0', sizeof e->msg))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0] % 3;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct brock_err e = {0};
    if (sel == 0) {
        struct batch_out_record r;
        enum brock_status st = batch_parse_out_record(p, n, "x.jsonl.out", 3, &r, &e);
        if (st == BROCK_OK) {
            if (!r.record_id[0] || r.has_output != (r.output != NULL) || (r.has_output && !json_is_object(r.output)))
                abort();
            size_t idx;
            (void)batch_record_index(r.record_id, &idx);
        } else if (st != BROCK_ERR_PARSE || !strstr(e.msg, "x.jsonl.out:3")) {
            abort();
        }
        check_msg(&e);
        batch_out_record_cleanup(&r);
    } else if (sel == 1) {
        struct batch_manifest m;
        enum brock_status st = batch_manifest_parse(p, n, "manifest", &m, &e);
        if (st == BROCK_OK) {
            char *back = batch_manifest_json(&m);
            struct batch_manifest m2;
            if (!back || batch_manifest_parse(back, strlen(back), "again", &m2, &e) != BROCK_OK || m2.n != m.n ||
                strcmp(m2.model_id, m.model_id))
                abort();
            for (size_t i = 0; i < m.n; i++)
                if (m.recs[i].line != m2.recs[i].line || !m.recs[i].id != !m2.recs[i].id ||
                    (m.recs[i].id && strcmp(m.recs[i].id, m2.recs[i].id)))
                    abort();
            batch_manifest_free(&m2);
            free(back);
        } else if (st != BROCK_ERR_PARSE && st != BROCK_ERR_TOO_LARGE) {
            abort();
        }
        check_msg(&e);
        batch_manifest_free(&m);
    } else {
        json_t *v = json_loadb(p, n, 0, NULL);
        struct batch_job j;
        if (batch_job_from_json(v, &j, &e) == BROCK_OK) {
            if (!j.arn[0] || !j.status[0] || !memchr(j.id, '\0', sizeof j.id))
                abort();
            (void)batch_job_finished(j.status);
        }
        check_msg(&e);
        json_decref(v);
    }
    return 0;
}
