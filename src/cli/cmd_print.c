/* cmd_print.c - `brock -p "prompt"`: one question to Claude, the answer streamed
 * to stdout.
 *
 * The prompt is the command line's words; piped stdin is appended to it (or is
 * the prompt when no words are given), so `git diff | brock -p "review this"`
 * works. Output formats follow Claude Code's print mode so scripts written for
 * it keep working:
 *
 *   text         the answer as it streams (default)
 *   json         one object: type, subtype, is_error, result, session_id,
 *                duration_ms, duration_api_ms, num_turns, total_cost_usd, usage
 *   stream-json  one JSON object per line: a system/init line, the assistant
 *                message, then the result object as above
 *
 * Errors keep what already arrived (it was shown) and say what went wrong on
 * stderr; the exit code tells the kind (exitcode.h). Ctrl-C stops the stream. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bedrock/bedrock.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/timeutil.h"
#include "../util/uuid.h"
#include "exitcode.h"
#include "runtime.h"

#define PRINT_MAX_STDIN ((size_t)16 * 1024 * 1024)
#define PRINT_DEFAULT_MAX_TOKENS 16384
#define PRINT_UNKNOWN_MODEL_MAX_TOKENS 4096

enum out_format { OUT_TEXT, OUT_JSON, OUT_STREAM_JSON };

struct print_state {
    enum out_format fmt;
    bool verbose;
    bool wrote_text;     /* text went to stdout */
    bool ends_newline;   /* the last byte written was '\n' */
    const char *session_id;
};

static void on_text(void *ctx, int index, const char *text, size_t n)
{
    (void)index;
    struct print_state *ps = ctx;
    if (ps->fmt != OUT_TEXT || !n)
        return;
    fwrite(text, 1, n, stdout);
    fflush(stdout);
    ps->wrote_text = true;
    ps->ends_newline = text[n - 1] == '\n';
}

static void on_retry(void *ctx, const char *why)
{
    struct print_state *ps = ctx;
    if (ps->verbose)
        fprintf(stderr, "brock: %s\n", why);
}

static enum brock_status read_stdin(struct buf *b, struct brock_err *e)
{
    char chunk[65536];
    for (;;) {
        ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
        if (r < 0)
            return err_set(e, BROCK_ERR_IO, "reading stdin: %s", strerror(errno));
        if (r == 0)
            return BROCK_OK;
        if (buf_add(b, chunk, (size_t)r) != BROCK_OK)
            return err_set(e, BROCK_ERR_TOO_LARGE, "stdin is larger than %zu MiB", PRINT_MAX_STDIN >> 20);
    }
}

static enum brock_status build_prompt(const struct cli_config *cfg, struct buf *prompt, struct brock_err *e)
{
    for (size_t i = 0; i < cfg->nargs; i++) {
        if (i)
            buf_addc(prompt, ' ');
        buf_addstr(prompt, cfg->args[i]);
    }
    if (!isatty(STDIN_FILENO)) {
        struct buf in = BUF_INIT(PRINT_MAX_STDIN);
        enum brock_status st = read_stdin(&in, e);
        if (st != BROCK_OK) {
            buf_free(&in);
            return st;
        }
        if (in.len) {
            if (prompt->len)
                buf_addstr(prompt, "\n\n");
            buf_add(prompt, in.ptr, in.len);
        }
        buf_free(&in);
    }
    if (buf_status(prompt) != BROCK_OK)
        return err_set(e, BROCK_ERR_TOO_LARGE, "the prompt is too large");
    if (!prompt->len)
        return err_set(e, BROCK_ERR_USAGE, "no prompt: give one after -p, or pipe text into brock -p");
    return BROCK_OK;
}

static enum brock_status parse_format(const char *s, enum out_format *out, struct brock_err *e)
{
    if (!s || !strcmp(s, "text"))
        *out = OUT_TEXT;
    else if (!strcmp(s, "json"))
        *out = OUT_JSON;
    else if (!strcmp(s, "stream-json"))
        *out = OUT_STREAM_JSON;
    else
        return err_set(e, BROCK_ERR_USAGE, "--output-format: expected text, json or stream-json, got '%s'", s);
    return BROCK_OK;
}

/* Regions to try, primary first: the resolved region, then --regions /
 * BROCK_REGIONS (comma-separated), without repeats. */
static size_t collect_regions(const char *primary, const char *list, char names[][ENDPOINT_REGION_MAX],
                              struct bedrock_region *out, size_t max)
{
    size_t n = 0;
    snprintf(names[n], ENDPOINT_REGION_MAX, "%s", primary);
    out[n].region = names[n];
    out[n].endpoint_url = NULL;
    n++;
    while (list && *list && n < max) {
        size_t len = strcspn(list, ", ");
        if (len && len < ENDPOINT_REGION_MAX) {
            char r[ENDPOINT_REGION_MAX];
            memcpy(r, list, len);
            r[len] = '\0';
            bool dup = false;
            for (size_t i = 0; i < n; i++)
                dup |= !strcmp(names[i], r);
            if (!dup && endpoint_region_valid(r)) {
                snprintf(names[n], ENDPOINT_REGION_MAX, "%s", r);
                out[n].region = names[n];
                out[n].endpoint_url = NULL;
                n++;
            }
        }
        list += len;
        list += strspn(list, ", ");
    }
    return n;
}

static json_t *usage_json(const struct model_usage *u)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "input_tokens", (json_int_t)u->input_tokens,
                     "cache_creation_input_tokens", (json_int_t)u->cache_write_tokens, "cache_read_input_tokens",
                     (json_int_t)u->cache_read_tokens, "output_tokens", (json_int_t)u->output_tokens);
}

static void print_json_line(json_t *v, bool pretty)
{
    char *s = json_dumps(v, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    puts(s);
    free(s);
    fflush(stdout);
}

int cmd_print(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    struct print_state ps = {.verbose = cfg->verbose, .ends_newline = true};
    if (parse_format(cfg->output_format, &ps.fmt, &e) != BROCK_OK)
        return cli_fail(&e);
    struct buf prompt = BUF_INIT(PRINT_MAX_STDIN + 65536);
    if (build_prompt(cfg, &prompt, &e) != BROCK_OK) {
        buf_free(&prompt);
        return cli_fail(&e);
    }

    int64_t t0 = time_mono_ms();
    struct runtime rt;
    enum brock_status st = runtime_init(&rt, cfg, &e);
    if (st != BROCK_OK) {
        buf_free(&prompt);
        return cli_fail(&e);
    }
    runtime_install_sigint();

    const char *region = rt.settings.region.region;
    const char *spec = cfg->model;
    if (!spec || !*spec)
        spec = getenv("ANTHROPIC_MODEL");
    if (!spec || !*spec)
        spec = "sonnet";
    struct model_choice mc;
    st = catalog_resolve(spec, region, false, &mc, &e);
    if (st != BROCK_OK) {
        buf_free(&prompt);
        runtime_cleanup(&rt);
        return cli_fail(&e);
    }
    if (cfg->verbose)
        fprintf(stderr, "brock: model %s (%s), region %s (from %s)\n", mc.model_id, mc.how, region,
                rt.settings.region.source);

    char region_names[BEDROCK_MAX_REGIONS][ENDPOINT_REGION_MAX];
    struct bedrock_region regions[BEDROCK_MAX_REGIONS];
    const char *more = cfg->regions ? cfg->regions : getenv("BROCK_REGIONS");
    size_t nreg = collect_regions(region, more, region_names, regions, BEDROCK_MAX_REGIONS);

    struct bedrock_config bc = {
        .settings = &rt.settings,
        .regions = regions,
        .n_regions = nreg,
        .creds = runtime_creds(&rt),
        .bearer_token = rt.emu ? NULL : rt.settings.bearer_token,
        .retry = rt.retry,
        .http = runtime_http_options(&rt),
        .endpoint_url = rt.endpoint_url,
    };
    struct model_client *client = bedrock_client_new(&bc);

    char session_id[37];
    uuid_v4(session_id);
    ps.session_id = session_id;

    json_t *messages = json_pack("[{s:s, s:[{s:s, s:s%}]}]", "role", "user", "content", "type", "text", "text",
                                 prompt.ptr, prompt.len);
    json_t *system = cfg->system ? json_string(cfg->system) : NULL;
    int max_tokens = cfg->max_tokens;
    if (max_tokens <= 0)
        max_tokens = mc.model ? (int)(mc.model->max_output < PRINT_DEFAULT_MAX_TOKENS ? mc.model->max_output
                                                                                       : PRINT_DEFAULT_MAX_TOKENS)
                              : PRINT_UNKNOWN_MODEL_MAX_TOKENS;
    struct model_request req = {
        .model_id = mc.model_id,
        .api = cfg->api && !strcmp(cfg->api, "converse") ? MODEL_API_CONVERSE : MODEL_API_MESSAGES,
        .stream = true,
        .system = system,
        .messages = messages,
        .max_tokens = max_tokens,
        .temperature = cfg->temperature_set ? cfg->temperature : MODEL_UNSET,
        .top_p = MODEL_UNSET,
        .top_k = MODEL_UNSET,
    };

    if (ps.fmt == OUT_STREAM_JSON) {
        char cwd[4096];
        json_t *init = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:s}", "type", "system", "subtype", "init",
                                 "session_id", session_id, "model", mc.model_id, "cwd",
                                 getcwd(cwd, sizeof cwd) ? cwd : ".", "tools", "apiKeySource", "none");
        print_json_line(init, false);
        json_decref(init);
    }

    struct model_events ev = {.on_text = on_text, .on_retry = on_retry, .ctx = &ps};
    struct model_result res;
    model_result_init(&res);
    int64_t api0 = time_mono_ms();
    st = model_invoke(client, &req, &ev, &res, &e);
    int64_t api_ms = time_mono_ms() - api0;

    double cost = 0;
    const struct model_info *mi = mc.model ? mc.model : catalog_find(res.model_id[0] ? res.model_id : mc.model_id, NULL);
    if (mi) {
        enum model_geo g = GEO_NONE;
        catalog_find(mc.model_id, &g);
        cost = catalog_cost(mi, g, res.usage.input_tokens, res.usage.output_tokens, res.usage.cache_read_tokens,
                            res.usage.cache_write_tokens, 0, false);
    }

    if (ps.fmt == OUT_TEXT && ps.wrote_text && !ps.ends_newline)
        fputc('\n', stdout);
    fflush(stdout);

    if (st != BROCK_OK) {
        if (res.partial)
            fprintf(stderr, "brock: the answer was cut off after it started: %s\n", e.msg);
        else if (st == BROCK_ERR_INTERRUPTED)
            fprintf(stderr, "brock: interrupted\n");
        else
            fprintf(stderr, "brock: %s\n", e.msg);
    }

    char *text = model_result_text(&res);
    if (ps.fmt == OUT_STREAM_JSON && json_array_size(res.content)) {
        json_t *msg = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:O, s:s?, s:o}, s:s}", "type", "assistant", "message",
                                "id", res.message_id[0] ? res.message_id : session_id, "type", "message", "role",
                                "assistant", "model", res.model[0] ? res.model : mc.model_id, "content", res.content,
                                "stop_reason", res.stop_reason[0] ? res.stop_reason : NULL, "usage",
                                usage_json(&res.usage), "session_id", session_id);
        print_json_line(msg, false);
        json_decref(msg);
    }
    if (ps.fmt != OUT_TEXT) {
        bool is_error = st != BROCK_OK;
        json_t *r = json_pack("{s:s, s:s, s:b, s:I, s:I, s:i, s:s, s:s, s:f, s:o, s:s, s:s, s:s, s:s}", "type",
                              "result", "subtype", is_error ? "error_during_execution" : "success", "is_error",
                              is_error, "duration_ms", (json_int_t)(time_mono_ms() - t0), "duration_api_ms",
                              (json_int_t)api_ms, "num_turns", 1, "result", is_error && !*text ? e.msg : text,
                              "session_id", session_id, "total_cost_usd", cost, "usage", usage_json(&res.usage),
                              "stop_reason", res.stop_reason, "model", mc.model_id, "region",
                              res.region[0] ? res.region : region, "request_id", res.request_id);
        if (is_error) {
            json_object_set_new(r, "error", json_string(e.msg));
            if (e.aws_code[0])
                json_object_set_new(r, "error_type", json_string(e.aws_code));
        }
        print_json_line(r, ps.fmt == OUT_JSON);
        json_decref(r);
    }
    if (cfg->verbose)
        fprintf(stderr,
                "brock: %s in %s, request id %s, %d attempt%s, %.0f ms (first token %.0f ms); tokens: %lld in, "
                "%lld out, %lld cache read, %lld cache write; $%.6f\n",
                mc.model_id, res.region[0] ? res.region : region, res.request_id[0] ? res.request_id : "-",
                res.attempts, res.attempts == 1 ? "" : "s", res.latency_ms, res.ttft_ms,
                (long long)res.usage.input_tokens, (long long)res.usage.output_tokens,
                (long long)res.usage.cache_read_tokens, (long long)res.usage.cache_write_tokens, cost);

    free(text);
    model_result_cleanup(&res);
    json_decref(messages);
    json_decref(system);
    model_client_free(client);
    runtime_cleanup(&rt);
    buf_free(&prompt);
    return exit_code_for(st);
}
