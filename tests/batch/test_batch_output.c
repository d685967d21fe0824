/* Tests for the output side of `brock batch` (src/batch/batch_output.c,
 * batch_record.c): JSON strings (escapes, invalid UTF-8), the json and text
 * records, the checkpoint (resume, a torn slot, both slots gone, a damaged
 * header, a missing output, a held lock), Bedrock record ids and output
 * records, and the manifest's round trip. */
#include "../support/test.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/batch/batch_int.h"
#include "../../src/util/alloc.h"

static void test_json_strings(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"q\"b\\s/", 6, "\"q\\\"b\\\\s/\""},
        {"\n\r\t\x01\x1f", 5, "\"\\n\\r\\t\\u0001\\u001f\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"bad \xff end", 9, "\"bad \xef\xbf\xbd end\""},
        {"cut \xe2\x82", 6, "\"cut \xef\xbf\xbd\xef\xbf\xbd\""},
        {"surrogate \xed\xa0\x80", 13, "\"surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"overlong \xc0\xaf", 11, "\"overlong \xef\xbf\xbd\xef\xbf\xbd\""},
        {"nul\0x", 5, "\"nul\\u0000x\""},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct buf b = BUF_INIT(1024);
        batch_json_str(&b, cases[i].in, cases[i].n);
        assert_string_equal(buf_cstr(&b), cases[i].out);
        json_error_t je;
        json_t *v = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!v)
            fail_msg("case %zu does not parse: %s", i, je.text);
        json_decref(v);
        buf_free(&b);
    }
}

static void test_records(void **state)
{
    (void)state;
    struct batch_result ok = {.line = 3, .id = "q\"1", .status = BATCH_OK, .model_id = "m", .text = "hi\nthere",
                              .text_len = 8, .stop_reason = "end_turn", .usage = {10, 2, 3, 4}, .cost_usd = 0.0125,
                              .attempts = 2, .request_id = "rid"};
    struct buf b = BUF_INIT(1 << 20);
    batch_render(BATCH_FORMAT_JSON, &ok, &b);
    assert_int_equal(b.ptr[b.len - 1], '\n');
    json_t *v = json_loadb(b.ptr, b.len, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "line")), 3);
    assert_string_equal(json_string_value(json_object_get(v, "id")), "q\"1");
    assert_string_equal(json_string_value(json_object_get(v, "text")), "hi\nthere");
    assert_true(json_number_value(json_object_get(v, "cost_usd")) == 0.0125);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "usage"), "cache_creation_input_tokens")), 4);
    assert_true(json_is_null(json_object_get(v, "error")));
    assert_null(json_object_get(v, "file"));
    json_decref(v);
    buf_reset(&b);
    struct batch_result bad = {.line = 7, .file = "src/a.c", .status = BATCH_ERROR, .err_code = "ThrottlingException",
                               .err_msg = "Too many requests", .http_status = 429};
    batch_render(BATCH_FORMAT_JSON, &bad, &b);
    v = json_loadb(b.ptr, b.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "id")), "7"); /* no id: the line */
    assert_string_equal(json_string_value(json_object_get(v, "file")), "src/a.c");
    assert_true(json_is_null(json_object_get(v, "text")));
    json_t *err = json_object_get(v, "error");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "ThrottlingException");
    assert_int_equal(json_integer_value(json_object_get(err, "http_status")), 429);
    json_decref(v);
    buf_reset(&b);
    batch_render(BATCH_FORMAT_TEXT, &ok, &b);
    assert_string_equal(buf_cstr(&b), "### line 3 q\"1: ok (10 in, 2 out, $0.012500)\nhi\nthere\n\n");
    buf_reset(&b);
    batch_render(BATCH_FORMAT_TEXT, &bad, &b);
    assert_string_equal(buf_cstr(&b), "### line 7 src/a.c: error: ThrottlingException: Too many requests\n\n");
    buf_free(&b);
}

struct paths {
    char *dir, out[600], ck[700];
};

static void paths_init(struct paths *p)
{
    p->dir = test_tmpdir();
    snprintf(p->out, sizeof p->out, "%s/out.jsonl", p->dir);
    snprintf(p->ck, sizeof p->ck, "%s.checkpoint", p->out);
}

static const uint8_t ID[SHA256_LEN] = {1, 2, 3};

/* Write n records of "rec i\n" in groups of `group`. */
static void write_n(const char *out, size_t n, size_t group)
{
    struct batch_out *o;
    struct batch_resume res;
    struct brock_err e = {0};
    assert_int_equal(batch_out_open(out, BATCH_FORMAT_JSON, ID, "cfg", true, &o, &res, &e), BROCK_OK);
    for (size_t i = 0; i < n; i += group) {
        struct buf b = BUF_INIT(4096);
        size_t k = 0;
        for (; k < group && i + k < n; k++)
            buf_addf(&b, "rec %zu\n", i + k);
        assert_int_equal(batch_out_write(o, b.ptr, b.len, k, &e), BROCK_OK);
        buf_free(&b);
    }
    assert_int_equal(batch_out_close(o, &e), BROCK_OK);
}

static size_t resume(const char *out, struct batch_resume *res, enum brock_status want, struct brock_err *e)
{
    struct batch_out *o = NULL;
    enum brock_status st = batch_out_open(out, BATCH_FORMAT_JSON, ID, "cfg", false, &o, res, e);
    assert_int_equal(st, want);
    size_t r = o ? batch_out_records(o) : 0;
    batch_out_close(o, NULL);
    return r;
}

static void flip(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 1; /* a digit stays a digit, and flipping twice restores it */
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void test_checkpoint(void **state)
{
    (void)state;
    struct paths p;
    paths_init(&p);
    struct batch_resume res;
    struct brock_err e = {0};
    write_n(p.out, 10, 1);
    struct stat sb;
    assert_int_equal(stat(p.ck, &sb), 0);
    assert_int_equal(sb.st_size, 640); /* fixed size, whatever the number of records */
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(resume(p.out, &res, BROCK_OK, &e), 10);
    assert_true(res.had_checkpoint);
    assert_int_equal(res.dropped, 0);
    /* a torn newer slot: the other one (9 records) */
    write_n(p.out, 10, 1);
    flip(p.ck, 512 + 5);  /* slot 0: written last? one of the two is 10, the other 9 */
    flip(p.ck, 576 + 5);
    flip(p.ck, 576 + 5); /* slot 1 back as it was */
    size_t got = resume(p.out, &res, BROCK_OK, &e);
    assert_true(got == 9 || got == 10);
    char *text = test_read_file(p.out, NULL);
    size_t lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, got); /* the output was cut to match */
    free(text);
    /* both slots torn: start over from nothing (never a duplicate) */
    write_n(p.out, 10, 3);
    flip(p.ck, 512 + 5);
    flip(p.ck, 576 + 5);
    assert_int_equal(resume(p.out, &res, BROCK_OK, &e), 0);
    assert_int_equal(res.dropped, 60); /* ten records of 6 bytes */
    assert_true(stat(p.out, &sb) == 0 && sb.st_size == 0);
    /* the output lost bytes (a crash before they reached the disk) */
    write_n(p.out, 10, 5); /* slots: 5 and 10 records */
    assert_int_equal(truncate(p.out, 45), 0);
    assert_int_equal(resume(p.out, &res, BROCK_OK, &e), 5);
    /* a damaged header */
    write_n(p.out, 4, 1);
    flip(p.ck, 3);
    assert_int_equal(resume(p.out, &res, BROCK_ERR_USAGE, &e), 0);
    assert_non_null(strstr(e.msg, "damaged"));
    /* a short file */
    write_n(p.out, 4, 1);
    assert_int_equal(truncate(p.ck, 100), 0);
    assert_int_equal(resume(p.out, &res, BROCK_ERR_USAGE, &e), 0);
    assert_non_null(strstr(e.msg, "expected 640"));
    /* the output gone while the checkpoint says records were written */
    write_n(p.out, 4, 1);
    unlink(p.out);
    assert_int_equal(resume(p.out, &res, BROCK_ERR_USAGE, &e), 0);
    assert_non_null(strstr(e.msg, "is missing"));
    /* another run's checkpoint with nothing written is simply replaced */
    struct batch_out *o;
    assert_int_equal(batch_out_open(p.out, BATCH_FORMAT_JSON, ID, "other", true, &o, &res, &e), BROCK_OK);
    assert_int_equal(batch_out_close(o, &e), BROCK_OK);
    assert_int_equal(resume(p.out, &res, BROCK_OK, &e), 0);
    free(p.dir);
}

static void test_record_ids_and_output_records(void **state)
{
    (void)state;
    char id[16];
    size_t idx;
    batch_record_id(0, id);
    assert_string_equal(id, "REC00000000");
    batch_record_id(49999, id);
    assert_string_equal(id, "REC00049999");
    assert_true(batch_record_index(id, &idx) && idx == 49999);
    assert_false(batch_record_index("REC0000001", &idx));
    assert_false(batch_record_index("rec00000001", &idx));
    assert_false(batch_record_index("REC0000000x", &idx));

    struct batch_out_record r;
    struct brock_err e = {0};
    const char *okline = "{\"recordId\":\"REC00000002\",\"modelInput\":{},\"modelOutput\":{\"content\":[{\"type\":\"text\","
                         "\"text\":\"a\"},{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{}},{\"type\":\"text\","
                         "\"text\":\"b\"}],\"usage\":{\"input_tokens\":5}}}";
    assert_int_equal(batch_parse_out_record(okline, strlen(okline), "o", 1, &r, &e), BROCK_OK);
    assert_true(r.has_output);
    char *text = batch_answer_text(json_object_get(r.output, "content"));
    assert_string_equal(text, "ab");
    free(text);
    batch_out_record_cleanup(&r);
    const char *errline = "{\"recordId\":\"REC00000003\",\"modelInput\":{},\"error\":{\"errorCode\":\"429\",\"errorMessage\":"
                          "\"Too many requests\"}}";
    assert_int_equal(batch_parse_out_record(errline, strlen(errline), "o", 2, &r, &e), BROCK_OK);
    assert_false(r.has_output);
    assert_int_equal(r.error_code, 429);
    assert_string_equal(r.error_msg, "Too many requests");
    batch_out_record_cleanup(&r);
    const char *bad[] = {"[1]", "{\"modelOutput\":{}}", "{\"recordId\":\"x\"}", "{\"recordId\":\"x\",\"modelOutput\":3}",
                         "{\"recordId\":\"x\",\"error\":\"e\"}", "not json"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++) {
        assert_int_equal(batch_parse_out_record(bad[i], strlen(bad[i]), "o.jsonl.out", 9, &r, &e), BROCK_ERR_PARSE);
        if (!strstr(e.msg, "o.jsonl.out:9"))
            fail_msg("'%s': %s", bad[i], e.msg);
        batch_out_record_cleanup(&r);
    }
}

static void test_manifest(void **state)
{
    (void)state;
    struct batch_manifest m = {.model_id = xstrdup("us.x"), .input_hex = xstrdup("ab"), .format = BATCH_FORMAT_TEXT};
    batch_manifest_add(&m, 1, NULL, "q\"1", NULL);
    batch_manifest_add(&m, 3, "a b.c", NULL, "in.jsonl:3: not valid JSON");
    char *s = batch_manifest_json(&m);
    struct batch_manifest back;
    struct brock_err e = {0};
    assert_int_equal(batch_manifest_parse(s, strlen(s), "m", &back, &e), BROCK_OK);
    assert_int_equal(back.n, 2);
    assert_string_equal(back.model_id, "us.x");
    assert_int_equal(back.format, BATCH_FORMAT_TEXT);
    assert_string_equal(back.recs[0].id, "q\"1");
    assert_null(back.recs[0].error);
    assert_string_equal(back.recs[1].file, "a b.c");
    assert_int_equal(back.recs[1].line, 3);
    assert_string_equal(back.recs[1].error, "in.jsonl:3: not valid JSON");
    batch_manifest_free(&back);
    free(s);
    batch_manifest_free(&m);
    const char *bad[] = {"{}", "{\"brock_batch_manifest\":2,\"model\":\"m\",\"input\":\"i\",\"format\":\"json\",\"records\":[]}",
                         "{\"brock_batch_manifest\":1,\"model\":\"m\",\"input\":\"i\",\"format\":\"xml\",\"records\":[]}",
                         "{\"brock_batch_manifest\":1,\"model\":\"m\",\"input\":\"i\",\"format\":\"json\",\"records\":[{}]}"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(bad); i++)
        assert_int_equal(batch_manifest_parse(bad[i], strlen(bad[i]), "m", &back, &e), BROCK_ERR_PARSE);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_record_ids_and_output_records),
        cmocka_unit_test(test_manifest),
    };
    return cmocka_run_group_tests_name("batch_output", tests, NULL, NULL);
}
