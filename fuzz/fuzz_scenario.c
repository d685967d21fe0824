/* fuzz_scenario.c - the emulator's readers of outside input, on arbitrary bytes.
 *
 * The first byte picks what the rest is:
 *   0  a scenario file; if it parses, a few requests cut from the input are
 *      matched against it (sequences advance, regexes run)
 *   1  faults (POST /_emulator/faults)
 *   2  a keys file
 *   3  an InvokeModel body, 4 a Converse body, 5 a CountTokens body
 *      (the emulator's Bedrock validation and token estimate)
 *   6  a request signed with HTTP/2 pseudo-headers: lines "method", "path",
 *      "query", "authority", then "name: value" headers, an empty line, the
 *      body (the emulator's own SigV4 check for `:authority`)
 * Broken invariants trap, so libFuzzer reports them like crashes: every error
 * names the document and a position, parsed structures are consistent, the
 * secret never shows up in a message. */
#define EMULATOR_INTERNAL
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/server/emulator.h"
#include "../src/server/scenario.h"

#include "fuzz.h"

#define FUZZ_SECRET "fuzzSecretAccessKeyValue0123456789"

static void check_error(const struct brock_err *e, enum brock_status st)
{
    CHECK(st == BROCK_ERR_PARSE || st == BROCK_ERR_TOO_LARGE);
    CHECK(e->status == st);
    CHECK(!strncmp(e->msg, "fuzz:", 5));
}

static void fuzz_scenario(const char *p, size_t n)
{
    struct scenario s;
    struct brock_err e = {0};
    enum brock_status st = scenario_parse(p, n, "fuzz", &s, &e);
    if (st != BROCK_OK) {
        check_error(&e, st);
        CHECK(s.n_rules == 0);
        return;
    }
    for (size_t i = 0; i < s.n_rules; i++) {
        CHECK(s.rules[i].n_responses >= 1);
        for (size_t j = 0; j < s.rules[i].n_responses; j++) {
            const struct scenario_response *r = &s.rules[i].responses[j];
            for (size_t k = 0; k < r->n_blocks; k++)
                if (r->blocks[k].type == SCENARIO_TOOL_USE)
                    CHECK(r->blocks[k].input && r->blocks[k].input[0] == '{' && r->blocks[k].name);
        }
    }
    /* requests cut from the input itself (NUL-terminated, as the contract says) */
    char *text = malloc(n + 1), *results = malloc(n + 1);
    for (size_t i = 0; i < 4; i++) {
        size_t cut = n ? (n * (i + 1)) / 5 : 0;
        memcpy(text, p, cut);
        text[cut] = '\0';
        memcpy(results, p + cut, n - cut);
        results[n - cut] = '\0';
        struct scenario_input in = {
            .op = 1u << (i % 5),
            .model_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            .base_id = "anthropic.claude-sonnet-4-5-20250929-v1:0",
            .text = text,
            .text_len = cut,
            .tool_results = results,
            .tool_results_len = n - cut,
            .has_text = i != 1,
            .has_tool_results = i != 2,
        };
        const struct scenario_rule *rule;
        size_t step;
        const struct scenario_response *r = scenario_match(&s, &in, &rule, &step);
        if (rule)
            CHECK(r == &rule->responses[step]);
        else
            CHECK(r == s.fallback);
    }
    free(text);
    free(results);
    scenario_reset(&s);
    scenario_free(&s);
}

static void fuzz_faults(const char *p, size_t n)
{
    struct scenario_faults fs = {NULL, 0};
    struct brock_err e = {0};
    enum brock_status st = scenario_faults_parse(p, n, "fuzz", &fs, &e);
    if (st != BROCK_OK) {
        check_error(&e, st);
        CHECK(fs.n == 0);
    }
    for (size_t i = 0; i < fs.n; i++) {
        const struct scenario_fault *f = &fs.v[i];
        CHECK(f->ops != 0);
        CHECK(f->count == -1 || f->count >= 1);
        if (f->kind == SCENARIO_FAULT_ERROR)
            CHECK(f->code && f->message && f->status >= 400 && f->status <= 599);
        if (f->kind == SCENARIO_FAULT_STREAM_EXCEPTION)
            CHECK(f->code && f->message && (f->ops & ~SCENARIO_OPS_STREAM) == 0);
        if (f->kind == SCENARIO_FAULT_EXPIRE_KEY)
            CHECK(f->access_key_id);
    }
    scenario_faults_free(&fs);
}

static void fuzz_keys(const char *p, size_t n)
{
    struct scenario_keys k = {NULL, 0};
    struct brock_err e = {0};
    enum brock_status st = scenario_keys_parse(p, n, "fuzz", &k, &e);
    if (st != BROCK_OK) {
        check_error(&e, st);
        CHECK(k.n == 0);
    }
    for (size_t i = 0; i < k.n; i++)
        CHECK(k.v[i].api_key || (k.v[i].access_key_id && k.v[i].secret_access_key));
    scenario_keys_free(&k);
}

static void fuzz_body(unsigned op, const char *p, size_t n)
{
    char why[800];
    int64_t tokens = -1;
    const char *model = n && (p[0] & 1) ? "anthropic.claude-3-haiku-20240307-v1:0" : "us.anthropic.claude-opus-4-6-v1";
    bool ok = emu_validate(op, model, p, n, why, sizeof why, &tokens);
    CHECK(ok ? why[0] == '\0' : why[0] != '\0');
    CHECK(tokens >= 0);
}

static bool lookup(void *ctx, const char *akid, struct sigv4_secret *out)
{
    (void)ctx;
    if (strcmp(akid, "AKIDEXAMPLE") && strcmp(akid, "AKIDTOKEN"))
        return false;
    out->secret_access_key = FUZZ_SECRET;
    out->session_token = strcmp(akid, "AKIDTOKEN") ? NULL : "token";
    return true;
}

static void fuzz_h2sig(const char *p, size_t n)
{
    char *copy = malloc(n + 1);
    memcpy(copy, p, n);
    copy[n] = '\0';
    const char *lines[4] = {"POST", "/", "", ""};
    struct sigv4_header hs[SIGV4_MAX_HEADERS + 8];
    size_t nh = 0, li = 0;
    char *s = copy, *body = NULL;
    while (s && li < 4) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        lines[li++] = s;
        s = nl ? nl + 1 : NULL;
    }
    while (s) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (!*s) {
            body = nl ? nl + 1 : NULL;
            break;
        }
        char *colon = strchr(s, ':');
        if (colon && nh < sizeof hs / sizeof hs[0]) {
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            hs[nh++] = (struct sigv4_header){s, (size_t)(colon - s), v, strlen(v)};
        }
        s = nl ? nl + 1 : NULL;
    }
    if (nh < sizeof hs / sizeof hs[0]) /* the HTTP/2 authority, as the emulator passes it */
        hs[nh++] = (struct sigv4_header){":authority", 10, lines[3], strlen(lines[3])};
    struct sigv4_request req = {.method = lines[0],
                                .path = lines[1],
                                .path_len = strlen(lines[1]),
                                .query = lines[2],
                                .query_len = strlen(lines[2]),
                                .headers = hs,
                                .n_headers = nh,
                                .body = body,
                                .body_len = body ? (size_t)(copy + n - body) : 0};
    struct sigv4_verify_params vp = {.lookup = lookup, .now_s = 1735689600};
    struct sigv4_verified out;
    struct brock_err e = {0};
    struct sigv4_signer *signer = sigv4_signer_new();
    enum brock_status st = sigv4_verify(signer, &req, &vp, &out, &e);
    sigv4_signer_free(signer);
    CHECK(st == BROCK_OK || st == BROCK_ERR_AUTH || st == BROCK_ERR_TOO_LARGE);
    CHECK(st == BROCK_OK ? out.verdict == SIGV4_VALID : out.verdict != SIGV4_VALID);
    /* messages may quote what the request sent (a header name), never the secret */
    if (!memmem(p, n, FUZZ_SECRET, strlen(FUZZ_SECRET)))
        CHECK(!strstr(e.msg, FUZZ_SECRET));
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 7) {
    case 0: fuzz_scenario(p, n); break;
    case 1: fuzz_faults(p, n); break;
    case 2: fuzz_keys(p, n); break;
    case 3: fuzz_body(SCENARIO_OP_INVOKE, p, n); break;
    case 4: fuzz_body(SCENARIO_OP_CONVERSE, p, n); break;
    case 5: fuzz_body(SCENARIO_OP_COUNT_TOKENS, p, n); break;
    default: fuzz_h2sig(p, n); break;
    }
    return 0;
}
