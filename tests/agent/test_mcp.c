/* Tests for src/agent/mcp*.c: .mcp.json and ${VAR} expansion, the JSON-RPC
 * wire layer, and real servers (this binary, run as `--fake-mcp MODE`; see
 * mcp_fake_server.c): handshake, pagination, calls, errors, crashes,
 * timeouts, cancellation, caps and shutdown. */
#include "../support/test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/mcp.h"
#include "../../src/util/timeutil.h"

#include "mcp_fake_server.c"

static char self_exe[PATH_MAX];

/* --- helpers ------------------------------------------------------------ */

struct fake_env {
    const char *const *pairs; /* name, value, name, value, ..., NULL */
};

static const char *table_getenv(void *ctx, const char *name)
{
    const struct fake_env *fe = ctx;
    for (const char *const *p = fe->pairs; p && *p; p += 2)
        if (!strcmp(p[0], name))
            return p[1];
    return NULL;
}

static struct mcp_config *parse_ok(const char *text, const char *const *pairs)
{
    struct fake_env fe = {pairs};
    struct mcp_config *cfg = NULL;
    struct brock_err e = {0};
    enum brock_status rc = mcp_config_parse("test.json", text, strlen(text), table_getenv, &fe, &cfg, &e);
    if (rc != BROCK_OK)
        fail_msg("parse failed: %s", e.msg);
    return cfg;
}

/* A config with one fake server per (name, mode) pair. */
static struct mcp_config *fake_config(const char *const *servers, const char *extra_env)
{
    char text[16384];
    int k = snprintf(text, sizeof text, "{\"mcpServers\": {");
    for (size_t i = 0; servers[i]; i += 2)
        k += snprintf(text + k, sizeof text - (size_t)k,
                      "%s\"%s\": {\"command\": \"%s\", \"args\": [\"--fake-mcp\", \"%s\"]%s%s%s}",
                      i ? ", " : "", servers[i], self_exe, servers[i + 1],
                      extra_env ? ", \"env\": {" : "", extra_env ? extra_env : "", extra_env ? "}" : "");
    snprintf(text + k, sizeof text - (size_t)k, "}}");
    return parse_ok(text, NULL);
}

static struct mcp_opts test_opts(void)
{
    struct mcp_opts o;
    mcp_opts_default(&o);
    o.start_timeout_ms = 10000;
    o.call_timeout_ms = 10000;
    o.stop_grace_ms = 300;
    return o;
}

static struct mcp_client *start(const struct mcp_config *cfg, const struct mcp_opts *o)
{
    struct mcp_client *c = NULL;
    struct brock_err e = {0};
    assert_int_equal(mcp_client_start(cfg, o, &c, &e), BROCK_OK);
    assert_non_null(c);
    return c;
}

static struct mcp_client *start_one(const char *mode, const struct mcp_opts *o)
{
    const char *servers[] = {"fake", mode, NULL};
    struct mcp_config *cfg = fake_config(servers, NULL);
    struct mcp_client *c = start(cfg, o);
    mcp_config_free(cfg);
    return c;
}

static enum brock_status call(struct mcp_client *c, const char *name, const char *args_json,
                              struct mcp_result *r)
{
    json_t *args = NULL;
    if (args_json) {
        json_error_t je;
        args = json_loads(args_json, 0, &je);
        assert_non_null(args);
    }
    mcp_result_cleanup(r);
    enum brock_status rc = mcp_client_call(c, name, args, r);
    json_decref(args);
    return rc;
}

static bool pid_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
                                     : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

/* --- .mcp.json ----------------------------------------------------------- */

static void test_config_basic(void **state)
{
    (void)state;
    const char *env[] = {"HOME_DIR", "/home/u", "EMPTY", "", "TOKEN", "t0k", NULL};
    struct mcp_config *cfg = parse_ok(
        "{\"mcpServers\": {\n"
        "  \"files\": {\"command\": \"${HOME_DIR}/bin/srv\", \"args\": [\"--root\", \"${ROOT:-/srv}\","
        " \"$HOME_DIR\", \"${EMPTY:-notused}\", \"${unterminated\", \"${}\"],\n"
        "            \"env\": {\"API_KEY\": \"${TOKEN}\", \"MODE\": \"a:-b\"}},\n"
        "  \"plain\": {\"type\": \"stdio\", \"command\": \"srv2\"}\n"
        "}, \"other\": 1}",
        env);
    assert_int_equal(cfg->n_servers, 2);
    assert_int_equal(cfg->n_warnings, 0);
    const struct mcp_server_config *s = &cfg->servers[0];
    assert_string_equal(s->name, "files");
    assert_string_equal(s->command, "/home/u/bin/srv");
    assert_int_equal(s->n_args, 6);
    assert_string_equal(s->args[0], "--root");
    assert_string_equal(s->args[1], "/srv");
    assert_string_equal(s->args[2], "$HOME_DIR");   /* $VAR is not expanded */
    assert_string_equal(s->args[3], "");            /* set but empty wins over the default */
    assert_string_equal(s->args[4], "${unterminated");
    assert_string_equal(s->args[5], "${}");
    assert_int_equal(s->n_env, 2);
    assert_string_equal(s->env[0], "API_KEY=t0k");
    assert_string_equal(s->env[1], "MODE=a:-b");
    assert_int_equal(s->line, 2);
    assert_int_equal(s->col, 12);
    assert_string_equal(cfg->servers[1].name, "plain");
    assert_int_equal(cfg->servers[1].n_args, 0);
    mcp_config_free(cfg);

    /* empty documents and no mcpServers are empty configurations */
    cfg = parse_ok("  \n", NULL);
    assert_int_equal(cfg->n_servers, 0);
    mcp_config_free(cfg);
    cfg = parse_ok("{\"mcpServers\": null}", NULL);
    assert_int_equal(cfg->n_servers, 0);
    mcp_config_free(cfg);
}

static void test_expand(void **state)
{
    (void)state;
    const char *env[] = {"A", "alpha", "E", "", "B", "x}y", NULL};
    struct fake_env fe = {env};
    static const struct {
        const char *in, *out, *missing;
    } cases[] = {
        {"plain", "plain", ""},
        {"${A}", "alpha", ""},
        {"<${A}><${A}>", "<alpha><alpha>", ""},
        {"${NOPE}", "${NOPE}", "NOPE"},
        {"${NOPE}-${ALSO}", "${NOPE}-${ALSO}", "NOPE, ALSO"},
        {"${NOPE:-fallback}", "fallback", ""},
        {"${NOPE:-}", "", ""},
        {"${NOPE:-a:-b}", "a:-b", ""},
        {"${E:-dflt}", "", ""},
        {"${B}", "x}y", ""},
        {"$A ${A", "$A ${A", ""},
        {"${:-d}", "d", ""},
        {"a${A}b${NOPE:-c}d", "aalphabcd", ""},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct buf out = BUF_INIT(1024), missing = BUF_INIT(1024);
        assert_int_equal(mcp_expand(cases[i].in, table_getenv, &fe, &out, &missing), BROCK_OK);
        assert_string_equal(buf_cstr(&out), cases[i].out);
        assert_string_equal(buf_cstr(&missing), cases[i].missing);
        buf_free(&out);
        buf_free(&missing);
    }
    /* the cap holds */
    struct buf small = BUF_INIT(4);
    assert_int_equal(mcp_expand("${A}", table_getenv, &fe, &small, NULL), BROCK_ERR_TOO_LARGE);
    buf_free(&small);
}

static void test_config_skips(void **state)
{
    (void)state;
    const char *env[] = {"SET", "v", NULL};
    struct mcp_config *cfg = parse_ok(
        "{\"mcpServers\": {\n"
        "  \"remote\": {\"type\": \"http\", \"url\": \"https://example.com/mcp\"},\n"
        "  \"events\": {\"type\": \"sse\", \"url\": \"https://example.com/sse\"},\n"
        "  \"urlonly\": {\"url\": \"https://example.com/x\"},\n"
        "  \"needs\": {\"command\": \"srv\", \"env\": {\"KEY\": \"sk-${SECRET_TOKEN}-${SET}\"},"
        " \"args\": [\"${OTHER}\"]},\n"
        "  \"fine\": {\"command\": \"ok\"}\n"
        "}}",
        env);
    assert_int_equal(cfg->n_servers, 1);
    assert_string_equal(cfg->servers[0].name, "fine");
    assert_int_equal(cfg->n_warnings, 4);
    assert_non_null(strstr(cfg->warnings[0], "test.json:2:13: server remote: transport \"http\" is not supported"));
    assert_non_null(strstr(cfg->warnings[1], "test.json:3:13: server events: transport \"sse\""));
    assert_non_null(strstr(cfg->warnings[2], "server urlonly: transport \"http\""));
    assert_non_null(strstr(cfg->warnings[3], "test.json:5:12: server needs: environment variables "
                                             "OTHER, SECRET_TOKEN not set"));
    assert_non_null(strstr(cfg->warnings[3], "skipped"));
    /* the other value of that entry does not leak into the warning */
    assert_null(strstr(cfg->warnings[3], "sk-"));
    mcp_config_free(cfg);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum brock_status rc;
        const char *msg;
    } cases[] = {
        {"{\"mcpServers\": {\"a\": {\"command\": \"x\",}}}", BROCK_ERR_PARSE, "test.json:1:"},
        {"[1]", BROCK_ERR_CONFIG, "test.json:1:1: expected a JSON object at the top level, found array"},
        {"{\n  \"mcpServers\": [1]\n}", BROCK_ERR_CONFIG,
         "test.json:2:17: mcpServers: expected an object of servers, found array"},
        {"{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"x\",\n      \"args\": [\"ok\", 5]\n"
         "    }\n  }\n}",
         BROCK_ERR_CONFIG, "test.json:5:22: mcpServers.a.args[1]: expected a string, found number"},
        {"{\"mcpServers\": {\"a\": {\"args\": []}}}", BROCK_ERR_CONFIG,
         "test.json:1:22: mcpServers.a: missing \"command\""},
        {"{\"mcpServers\": {\"a\": {\"command\": 7}}}", BROCK_ERR_CONFIG,
         "test.json:1:34: mcpServers.a.command: expected a string, found number"},
        {"{\"mcpServers\": {\"a\": {\"command\": \"\"}}}", BROCK_ERR_CONFIG,
         "mcpServers.a.command: must not be empty"},
        {"{\"mcpServers\": {\"a\": \"x\"}}", BROCK_ERR_CONFIG,
         "test.json:1:22: mcpServers.a: expected an object {command, args, env}, found string"},
        {"{\"mcpServers\": {\"a\": {\"command\": \"x\", \"args\": \"-v\"}}}", BROCK_ERR_CONFIG,
         "mcpServers.a.args: expected an array of strings, found string"},
        {"{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": {\"TOKEN\": 12345}}}}", BROCK_ERR_CONFIG,
         "test.json:1:56: mcpServers.a.env.TOKEN: expected a string, found number"},
        {"{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": {\"A=B\": \"v\"}}}}", BROCK_ERR_CONFIG,
         "mcpServers.a.env.A=B: not a valid variable name"},
        {"{\"mcpServers\": {\"a\": {\"command\": \"x\", \"type\": 1}}}", BROCK_ERR_CONFIG,
         "mcpServers.a.type: expected a string (\"stdio\"), found number"},
        {"{\"mcpServers\": {\"\": {\"command\": \"x\"}}}", BROCK_ERR_CONFIG,
         "mcpServers.: a server name must not be empty"},
        {"{\"mcpServers\": {\"a\": {\"command\": \"x\\u0000y\"}}}", BROCK_ERR_CONFIG,
         "mcpServers.a.command: contains a NUL byte"},
        {"{\"mcpServers\": {\"a\\u0062\": {\"command\": 1}}}", BROCK_ERR_CONFIG,
         "test.json:1:40: mcpServers.ab.command: expected a string"},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        struct mcp_config *cfg = (struct mcp_config *)1;
        struct brock_err e = {0};
        enum brock_status rc = mcp_config_parse("test.json", cases[i].text, strlen(cases[i].text), NULL,
                                                NULL, &cfg, &e);
        if (rc != cases[i].rc || !strstr(e.msg, cases[i].msg))
            fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i, brock_status_name(rc), e.msg,
                     brock_status_name(cases[i].rc), cases[i].msg);
        assert_null(cfg);
    }
    /* an env value is never quoted: a bad entry next to a secret */
    const char *text = "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": {\"KEY\": \"sk-live-SECRET\","
                       " \"N\": 5}}}}";
    struct mcp_config *cfg = NULL;
    struct brock_err e = {0};
    assert_int_equal(mcp_config_parse("t", text, strlen(text), NULL, NULL, &cfg, &e), BROCK_ERR_CONFIG);
    assert_null(strstr(e.msg, "SECRET"));
    /* too many servers, too large */
    struct buf big = BUF_INIT(1 << 20);
    buf_addstr(&big, "{\"mcpServers\": {");
    for (int i = 0; i <= MCP_MAX_SERVERS; i++)
        buf_addf(&big, "%s\"s%d\": {\"command\": \"x\"}", i ? "," : "", i);
    buf_addstr(&big, "}}");
    assert_int_equal(mcp_config_parse("t", big.ptr, big.len, NULL, NULL, &cfg, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "more than 64 servers"));
    buf_free(&big);
    char *huge = malloc(MCP_CONFIG_MAX_BYTES + 2);
    memset(huge, ' ', MCP_CONFIG_MAX_BYTES + 1);
    huge[MCP_CONFIG_MAX_BYTES + 1] = '\0';
    assert_int_equal(mcp_config_parse("t", huge, MCP_CONFIG_MAX_BYTES + 1, NULL, NULL, &cfg, &e),
                     BROCK_ERR_TOO_LARGE);
    free(huge);
}

static void test_config_load(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    struct mcp_config *cfg = NULL;
    struct brock_err e = {0};
    assert_int_equal(mcp_config_load(dir, NULL, NULL, &cfg, &e), BROCK_OK);
    assert_int_equal(cfg->n_servers, 0);
    mcp_config_free(cfg);

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/.mcp.json", dir);
    setenv("BROCK_TEST_MCP_ARG", "from-env", 1);
    test_write_file(path, "{\"mcpServers\": {\"x\": {\"command\": \"run\", \"args\": [\"${BROCK_TEST_MCP_ARG}\"]}}}");
    assert_int_equal(mcp_config_load(dir, NULL, NULL, &cfg, &e), BROCK_OK);
    assert_int_equal(cfg->n_servers, 1);
    assert_string_equal(cfg->servers[0].args[0], "from-env");
    assert_string_equal(cfg->path, path);
    mcp_config_free(cfg);

    test_write_file(path, "{\"mcpServers\": {\"x\": {\"command\": \"run\",\n \"args\": [1]}}}");
    assert_int_equal(mcp_config_load(dir, NULL, NULL, &cfg, &e), BROCK_ERR_CONFIG);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, ":2:11: mcpServers.x.args[0]"));
    free(dir);
}

/* --- wire ---------------------------------------------------------------- */

static void test_wire_dispatch(void **state)
{
    (void)state;
    const char stream[] =
        "hello, I am a banner\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\"}}\n"
        "\n"
        "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"sampling/createMessage\",\"params\":{}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n"
        "[{\"jsonrpc\":\"2.0\",\"method\":\"x\"},{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"ok\":true}}]\r\n"
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":1,\"message\":\"m\"}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":9,";
    /* every chunking from single bytes up gives the same result */
    for (size_t chunk = 1; chunk <= 64; chunk = chunk < 8 ? chunk + 1 : chunk * 2) {
        struct mcp_wire w;
        mcp_wire_init(&w);
        mcp_wire_expect(&w, 7);
        json_t *r7 = NULL;
        struct brock_err e = {0};
        for (size_t off = 0; off < sizeof stream - 1; off += chunk) {
            size_t n = sizeof stream - 1 - off < chunk ? sizeof stream - 1 - off : chunk;
            assert_int_equal(mcp_wire_feed(&w, stream + off, n, &e), BROCK_OK);
            if (!r7 && (r7 = mcp_wire_take(&w))) {
                mcp_wire_expect(&w, 8);
                assert_int_equal(mcp_wire_pump(&w, &e), BROCK_OK);
            }
        }
        assert_non_null(r7);
        assert_true(json_is_true(json_object_get(json_object_get(r7, "result"), "ok")));
        json_t *r8 = mcp_wire_take(&w);
        assert_non_null(r8);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(r8, "error"), "code")), 1);
        assert_string_equal(buf_cstr(&w.replies),
                            "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}\n"
                            "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32601,\"message\":"
                            "\"Method not found\"}}\n");
        assert_int_equal(w.n_ignored, 1);
        assert_int_equal(w.n_notes, 2);
        assert_int_equal(w.n_requests, 2);
        assert_int_equal(w.n_stale, 1);
        /* the partial last message waits for its newline */
        assert_string_equal(buf_cstr(&w.in), "{\"jsonrpc\":\"2.0\",\"id\":9,");
        json_decref(r7);
        json_decref(r8);
        mcp_wire_cleanup(&w);
    }
}

static void test_wire_line_cap(void **state)
{
    (void)state;
    struct mcp_wire w;
    mcp_wire_init(&w);
    mcp_wire_expect(&w, 1);
    struct brock_err e = {0};
    char *junk = malloc(MCP_READ_CHUNK);
    memset(junk, 'x', MCP_READ_CHUNK);
    enum brock_status rc = BROCK_OK;
    size_t fed = 0;
    while (rc == BROCK_OK && fed < 2 * MCP_LINE_MAX) {
        rc = mcp_wire_feed(&w, junk, MCP_READ_CHUNK, &e);
        fed += MCP_READ_CHUNK;
    }
    assert_int_equal(rc, BROCK_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "longer than 4194304 bytes"));
    /* it stopped at the cap, not after buffering everything */
    assert_true(fed <= MCP_LINE_MAX + 2 * MCP_READ_CHUNK);
    assert_true(w.in.len <= MCP_LINE_MAX + MCP_READ_CHUNK + 1);
    mcp_wire_cleanup(&w);

    /* a long line that does end is fine */
    mcp_wire_init(&w);
    mcp_wire_expect(&w, 3);
    struct buf line = BUF_INIT(MCP_LINE_MAX + 1);
    buf_addstr(&line, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"t\":\"");
    while (line.len < MCP_LINE_MAX - 100)
        buf_add(&line, junk, MCP_LINE_MAX - 100 - line.len < MCP_READ_CHUNK ? MCP_LINE_MAX - 100 - line.len
                                                                            : MCP_READ_CHUNK);
    buf_addstr(&line, "\"}}\n");
    for (size_t off = 0; off < line.len; off += MCP_READ_CHUNK) {
        size_t n = line.len - off < MCP_READ_CHUNK ? line.len - off : MCP_READ_CHUNK;
        assert_int_equal(mcp_wire_feed(&w, line.ptr + off, n, &e), BROCK_OK);
    }
    json_t *r = mcp_wire_take(&w);
    assert_non_null(r);
    json_decref(r);
    buf_free(&line);
    mcp_wire_cleanup(&w);
    free(junk);
}

static void test_call_text(void **state)
{
    (void)state;
    static const struct {
        const char *resp, *text;
        bool is_error;
    } cases[] = {
        {"{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}}",
         "a\nb", false},
        {"{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"bad\"}],\"isError\":true}}", "bad", true},
        {"{\"error\":{\"code\":-32602,\"message\":\"Invalid params\",\"data\":{\"f\":1}}}",
         "MCP error -32602: Invalid params\n{\"f\":1}", true},
        {"{\"error\":{\"code\":5}}", "MCP error 5: (no message)", true},
        {"{\"error\":{\"message\":\"m\",\"data\":\"why\"}}", "MCP error 0: m\nwhy", true},
        {"{\"result\":[]}", "the MCP server sent a malformed tools/call result (not an object)", true},
        {"{\"result\":{\"content\":{}}}",
         "the MCP server sent a malformed tools/call result (content is not an array)", true},
        {"{\"result\":{\"content\":[],\"structuredContent\":{\"a\":1}}}", "{\"a\":1}", false},
        {"{\"result\":{}}", "(no content)", false},
        {"{\"result\":{\"content\":[{\"type\":\"image\",\"data\":\"aGVsbG8gd29ybGQh\",\"mimeType\":\"image/png\"}]}}",
         "[image: image/png, about 12 bytes, not shown]", false},
        {"{\"result\":{\"content\":[{\"type\":\"audio\",\"data\":\"AAAA\"}]}}",
         "[audio: unknown type, about 3 bytes, not shown]", false},
        {"{\"result\":{\"content\":[{\"type\":\"resource_link\",\"uri\":\"file:///a\",\"name\":\"a\","
         "\"mimeType\":\"text/plain\",\"description\":\"the a\"}]}}",
         "[resource link: a <file:///a> (text/plain): the a]", false},
        {"{\"result\":{\"content\":[{\"type\":\"resource\",\"resource\":{\"uri\":\"file:///r\",\"text\":\"body\"}}]}}",
         "[resource: file:///r]\nbody", false},
        {"{\"result\":{\"content\":[{\"type\":\"resource\",\"resource\":{\"uri\":\"u\",\"mimeType\":\"x/y\","
         "\"blob\":\"AAAAAAAA\"}}]}}",
         "[resource: u (x/y), about 6 bytes of binary data, not shown]", false},
        {"{\"result\":{\"content\":[{\"type\":\"video\"}, 3, {\"text\":\"no type\"}, {\"type\":\"text\"}]}}",
         "[unsupported content block of type \"video\"]\n[malformed content block: not an object]\n"
         "[malformed content block: no type]\n[malformed text block: no text]",
         false},
    };
    for (size_t i = 0; i < BROCK_ARRAY_LEN(cases); i++) {
        json_error_t je;
        json_t *r = json_loads(cases[i].resp, 0, &je);
        assert_non_null(r);
        struct buf t = BUF_INIT(MCP_RESULT_MAX);
        bool err = !cases[i].is_error;
        mcp_call_text(r, &t, &err);
        if (strcmp(buf_cstr(&t), cases[i].text) || err != cases[i].is_error)
            fail_msg("case %zu: got \"%s\" (%d)", i, buf_cstr(&t), err);
        buf_free(&t);
        json_decref(r);
    }
    /* a result over the cap is cut at a character boundary, with a note */
    size_t n = MCP_RESULT_MAX + 100;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i += 3)
        memcpy(big + i, "\xe2\x82\xac", 3); /* euro signs */
    big[n - n % 3] = '\0';
    json_t *r = json_pack("{s:{s:[{s:s, s:s}]}}", "result", "content", "type", "text", "text", big);
    struct mcp_result res;
    mcp_result_init(&res);
    mcp_call_text(r, &res.text, &res.is_error);
    assert_false(res.is_error);
    assert_true(res.text.len <= MCP_RESULT_MAX + 100);
    assert_true(res.text.len > MCP_RESULT_MAX - 200);
    assert_true(utf8_valid(res.text.ptr, res.text.len));
    assert_non_null(strstr(res.text.ptr, "[... output cut"));
    mcp_result_cleanup(&res);
    json_decref(r);
    free(big);
}

static void test_tool_names(void **state)
{
    (void)state;
    char out[MCP_TOOL_NAME_MAX + 1], out2[MCP_TOOL_NAME_MAX + 1];
    mcp_tool_expose("srv", "echo", 0, out);
    assert_string_equal(out, "mcp__srv__echo");
    mcp_tool_expose("my server", "do.it/now", 0, out);
    assert_string_equal(out, "mcp__my_server__do_it_now");
    mcp_tool_expose("s\xc3\xa9", "t\xc3\xb4ol-2", 0, out); /* é, ô: one '_' per character */
    assert_string_equal(out, "mcp__s___t_ol-2");
    /* exactly 64 bytes stays as is */
    char tool[128];
    memset(tool, 'a', 55);
    tool[55] = '\0'; /* 5 + 2 + 2 + 55 = 64 */
    mcp_tool_expose("ab", tool, 0, out);
    assert_int_equal(strlen(out), 64);
    assert_memory_equal(out, "mcp__ab__aaaa", 13);
    assert_null(strchr(out + 9, '_'));
    /* longer: cut, with a hash of the real names at the end */
    tool[55] = 'b';
    tool[56] = '\0';
    mcp_tool_expose("ab", tool, 0, out);
    assert_int_equal(strlen(out), 64);
    assert_int_equal(out[55], '_');
    for (int i = 56; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", out[i]));
    tool[55] = 'c';
    mcp_tool_expose("ab", tool, 0, out2);
    assert_string_not_equal(out, out2);
    assert_memory_equal(out, out2, 55);
    /* deterministic; salt gives another name */
    mcp_tool_expose("ab", tool, 0, out);
    assert_string_equal(out, out2);
    mcp_tool_expose("ab", tool, 1, out);
    assert_string_not_equal(out, out2);
    mcp_tool_expose("a", "b", 1, out);
    assert_int_equal(strlen(out), strlen("mcp__a__b") + 9);
    for (const char *p = out; *p; p++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *p));
}

static void test_tools_page_entries(void **state)
{
    (void)state;
    json_error_t je;
    json_t *res = json_loads("{\"tools\":[{\"name\":\"a\",\"description\":\"d\",\"inputSchema\":{\"type\":"
                             "\"object\",\"properties\":{}}},{\"name\":\"b\",\"inputSchema\":{\"properties\":{}}},"
                             "{\"name\":\"c\",\"inputSchema\":{\"type\":\"string\"}},{\"name\":\"\"},{\"title\":\"x\"},7,"
                             "{\"name\":\"n\\u0000ul\"}],\"nextCursor\":\"next\"}",
                             JSON_ALLOW_NUL, &je);
    assert_non_null(res);
    const json_t *tools;
    const char *cursor;
    struct brock_err e = {0};
    assert_int_equal(mcp_tools_page(res, &tools, &cursor, &e), BROCK_OK);
    assert_string_equal(cursor, "next");
    assert_int_equal(json_array_size(tools), 7);
    const char *name, *desc;
    json_t *schema;
    struct buf why = BUF_INIT(256);
    assert_true(mcp_tool_entry(json_array_get(tools, 0), &name, &desc, &schema, &why));
    assert_string_equal(name, "a");
    assert_string_equal(desc, "d");
    assert_ptr_equal(schema, json_object_get(json_array_get(tools, 0), "inputSchema"));
    json_decref(schema);
    assert_true(mcp_tool_entry(json_array_get(tools, 1), &name, &desc, &schema, &why));
    assert_string_equal(desc, "");
    assert_string_equal(json_string_value(json_object_get(schema, "type")), "object");
    assert_non_null(json_object_get(schema, "properties"));
    json_decref(schema);
    assert_true(mcp_tool_entry(json_array_get(tools, 2), &name, &desc, &schema, &why));
    assert_string_equal(json_string_value(json_object_get(schema, "type")), "object");
    json_decref(schema);
    for (size_t i = 3; i < 7; i++) {
        buf_reset(&why);
        assert_false(mcp_tool_entry(json_array_get(tools, i), &name, &desc, &schema, &why));
        assert_null(schema);
        assert_true(why.len > 0);
    }
    buf_free(&why);
    json_decref(res);
    res = json_loads("{\"tools\":{}}", 0, &je);
    assert_int_equal(mcp_tools_page(res, &tools, &cursor, &e), BROCK_ERR_PARSE);
    json_decref(res);
    res = json_loads("{\"tools\":[],\"nextCursor\":\"\"}", 0, &je);
    assert_int_equal(mcp_tools_page(res, &tools, &cursor, &e), BROCK_OK);
    assert_null(cursor);
    json_decref(res);
}

/* --- real servers ----------------------------------------------------------- */

static void test_handshake_and_list(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    const char *servers[] = {"fake", "normal", "chatty one", "banner", NULL};
    struct mcp_config *cfg = fake_config(servers, NULL);
    struct mcp_client *c = start(cfg, &o);
    mcp_config_free(cfg);
    assert_int_equal(mcp_client_server_count(c), 2);
    for (size_t i = 0; i < 2; i++) {
        struct mcp_status st;
        mcp_client_status(c, i, &st);
        if (st.state != MCP_READY)
            fail_msg("server %zu: %s", i, st.error);
        assert_int_equal(st.n_tools, 17);
        assert_string_equal(st.server_name, "fake");
        assert_string_equal(st.server_version, "1.2.3");
        assert_string_equal(st.protocol, MCP_PROTOCOL_VERSION);
        assert_string_equal(st.instructions, "Use the fake tools wisely.");
        assert_true(st.pid > 0);
        assert_null(st.log_path);
    }
    size_t n;
    const struct mcp_tool *t = mcp_client_tools(c, &n);
    assert_int_equal(n, 34);
    assert_string_equal(t[0].name, "mcp__fake__echo");
    assert_string_equal(t[0].tool, "echo");
    assert_string_equal(t[0].server, "fake");
    assert_string_equal(t[0].description, "A fake tool.");
    assert_string_equal(json_string_value(json_object_get(t[0].input_schema, "type")), "object");
    assert_string_equal(t[17].name, "mcp__chatty_one__echo");
    assert_int_equal(t[17].server_index, 1);
    /* the page order is kept across cursors, and the nameless entry is skipped */
    assert_string_equal(t[3].tool, "rpcerr");
    assert_string_equal(t[15].tool, "nothing");
    const struct mcp_tool *odd = mcp_client_find(c, "mcp__fake__odd_name_with_spaces_v2");
    assert_non_null(odd);
    assert_string_equal(odd->tool, "odd name/with spaces.v2");
    /* a name that collides after sanitising gets a hash tail */
    const struct mcp_tool *col = &t[16];
    assert_string_equal(col->tool, "odd_name_with_spaces_v2");
    assert_int_equal(strlen(col->name), strlen("mcp__fake__odd_name_with_spaces_v2") + 9);
    assert_memory_equal(col->name, "mcp__fake__odd_name_with_spaces_v2_", 35);
    assert_ptr_equal(mcp_client_find(c, col->name), col);
    const struct mcp_tool *lng = &t[14];
    assert_int_equal(strlen(lng->name), 64);
    assert_ptr_equal(mcp_client_find(c, lng->name), lng);
    assert_null(mcp_client_find(c, "mcp__fake__nope"));
    assert_null(mcp_client_find(c, "echo"));
    json_t *specs = mcp_client_tool_specs(c);
    assert_int_equal(json_array_size(specs), 34);
    json_t *s0 = json_array_get(specs, 15);
    assert_string_equal(json_string_value(json_object_get(s0, "name")), "mcp__fake__nothing");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s0, "input_schema"), "type")),
                        "object");
    json_decref(specs);
    /* stdin closed: servers that exit on EOF stop without waiting for the grace time */
    int64_t t0 = time_mono_ms();
    mcp_client_free(c);
    assert_true(time_mono_ms() - t0 < 250);
}

static void test_calls(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    struct mcp_client *c = start_one("normal", &o);
    struct mcp_result r;
    mcp_result_init(&r);

    assert_int_equal(call(c, "mcp__fake__echo", "{\"x\":\"h\\u00e9\\nllo\",\"n\":[1,2]}", &r), BROCK_OK);
    assert_false(r.is_error);
    assert_string_equal(buf_cstr(&r.text), "{\"n\":[1,2],\"x\":\"h\xc3\xa9\\nllo\"}");
    assert_int_equal(call(c, "mcp__fake__echo", NULL, &r), BROCK_OK);
    assert_string_equal(buf_cstr(&r.text), "{}");

    assert_int_equal(call(c, "mcp__fake__blocks", "{}", &r), BROCK_OK);
    assert_false(r.is_error);
    assert_string_equal(buf_cstr(&r.text),
                        "first\n"
                        "[image: image/png, about 12 bytes, not shown]\n"
                        "[audio: audio/wav, about 3 bytes, not shown]\n"
                        "[resource link: x.txt <file:///tmp/x.txt> (text/plain): a file]\n"
                        "[resource: file:///tmp/y.md (text/markdown)]\n# Y\n"
                        "[resource: file:///tmp/z.bin, about 9 bytes of binary data, not shown]\n"
                        "[unsupported content block of type \"video\"]");

    assert_int_equal(call(c, "mcp__fake__fail", "{}", &r), BROCK_OK);
    assert_true(r.is_error);
    assert_string_equal(buf_cstr(&r.text), "it broke");

    assert_int_equal(call(c, "mcp__fake__rpcerr", "{}", &r), BROCK_OK);
    assert_true(r.is_error);
    assert_string_equal(buf_cstr(&r.text), "MCP error -32602: bad params\n{\"field\":\"x\"}");

    /* the server pings us and asks for roots mid-call, logs, sends junk */
    assert_int_equal(call(c, "mcp__fake__chatty", "{}", &r), BROCK_OK);
    assert_false(r.is_error);
    assert_string_equal(buf_cstr(&r.text), "ping answered; roots/list refused");

    assert_int_equal(call(c, "mcp__fake__slow", "{}", &r), BROCK_OK);
    assert_string_equal(buf_cstr(&r.text), "one byte at a time \xc3\xa9\xe2\x82\xac");

    assert_int_equal(call(c, "mcp__fake__big", "{\"n\":1500000}", &r), BROCK_OK);
    assert_false(r.is_error);
    assert_int_equal(r.text.len, 1500000);

    assert_int_equal(call(c, "mcp__fake__nothing", "{}", &r), BROCK_OK);
    assert_string_equal(buf_cstr(&r.text), "called nothing");

    assert_int_equal(call(c, "mcp__fake__odd_name_with_spaces_v2", "{}", &r), BROCK_OK);
    assert_string_equal(buf_cstr(&r.text), "called odd name/with spaces.v2");
    size_t nt;
    const struct mcp_tool *tl = mcp_client_tools(c, &nt);
    assert_int_equal(nt, 17);
    assert_int_equal(call(c, tl[16].name, "{}", &r), BROCK_OK);
    assert_string_equal(buf_cstr(&r.text), "called odd_name_with_spaces_v2");

    /* unknown tools and bad arguments */
    assert_int_equal(call(c, "mcp__fake__missing", "{}", &r), BROCK_OK);
    assert_true(r.is_error);
    assert_string_equal(buf_cstr(&r.text), "Unknown MCP tool mcp__fake__missing");
    assert_int_equal(call(c, "mcp__fake__echo", "[1]", &r), BROCK_ERR_USAGE);
    assert_true(r.is_error);

    /* still healthy after all that */
    assert_int_equal(call(c, "mcp__fake__echo", "{\"again\":true}", &r), BROCK_OK);
    assert_string_equal(buf_cstr(&r.text), "{\"again\":true}");
    mcp_result_cleanup(&r);
    mcp_client_free(c);
}

static void test_timeout_sends_cancel(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    o.call_timeout_ms = 300;
    struct mcp_client *c = start_one("normal", &o);
    struct mcp_result r;
    mcp_result_init(&r);
    int64_t t0 = time_mono_ms();
    assert_int_equal(call(c, "mcp__fake__hang", "{}", &r), BROCK_OK);
    int64_t took = time_mono_ms() - t0;
    assert_true(r.is_error);
    assert_false(r.interrupted);
    assert_string_equal(buf_cstr(&r.text), "MCP server fake did not answer hang within 300 ms");
    assert_true(took >= 290 && took < 2000);
    /* the server is still up, and it was told about the cancelled request:
     * initialize is id 1, the six tools/list pages 2..7, so the call is 8 */
    assert_int_equal(call(c, "mcp__fake__cancelled", "{}", &r), BROCK_OK);
    assert_false(r.is_error);
    assert_string_equal(buf_cstr(&r.text), "cancelled: 8 (timed out)");
    struct mcp_status st;
    mcp_client_status(c, 0, &st);
    assert_int_equal(st.state, MCP_READY);
    mcp_result_cleanup(&r);
    mcp_client_free(c);
}

static volatile sig_atomic_t cancel_flag;

static void *set_cancel_later(void *arg)
{
    (void)arg;
    usleep(150 * 1000);
    cancel_flag = 1;
    return NULL;
}

static void test_cancel_flag(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    cancel_flag = 0;
    o.cancel = &cancel_flag;
    struct mcp_client *c = start_one("normal", &o);
    struct mcp_result r;
    mcp_result_init(&r);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, set_cancel_later, NULL), 0);
    int64_t t0 = time_mono_ms();
    assert_int_equal(call(c, "mcp__fake__hang", "{}", &r), BROCK_ERR_INTERRUPTED);
    int64_t took = time_mono_ms() - t0;
    pthread_join(th, NULL);
    assert_true(r.interrupted);
    assert_true(r.is_error);
    assert_non_null(strstr(buf_cstr(&r.text), "Interrupted by the user"));
    assert_true(took >= 140 && took < 1000);
    cancel_flag = 0;
    assert_int_equal(call(c, "mcp__fake__cancelled", "{}", &r), BROCK_OK);
    assert_string_equal(buf_cstr(&r.text), "cancelled: 8 (cancelled by the user)");
    mcp_result_cleanup(&r);
    mcp_client_free(c);
}

static void test_crash_mid_call(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    struct mcp_client *c = start_one("normal", &o);
    struct mcp_status st;
    mcp_client_status(c, 0, &st);
    pid_t pid = st.pid;
    struct mcp_result r;
    mcp_result_init(&r);
    assert_int_equal(call(c, "mcp__fake__crash", "{}", &r), BROCK_OK);
    assert_true(r.is_error);
    assert_non_null(strstr(buf_cstr(&r.text), "MCP server fake ("));
    assert_non_null(strstr(buf_cstr(&r.text), "was killed by signal 9 (SIGKILL) during a call of crash"));
    mcp_client_status(c, 0, &st);
    assert_int_equal(st.state, MCP_DEAD);
    assert_string_equal(st.error, buf_cstr(&r.text));
    assert_true(pid_gone(pid));
    /* later calls fail at once */
    int64_t t0 = time_mono_ms();
    assert_int_equal(call(c, "mcp__fake__echo", "{}", &r), BROCK_OK);
    assert_true(time_mono_ms() - t0 < 50);
    assert_true(r.is_error);
    assert_non_null(strstr(buf_cstr(&r.text), "MCP server fake is not running: "));
    assert_non_null(strstr(buf_cstr(&r.text), "SIGKILL"));
    mcp_result_cleanup(&r);
    mcp_client_free(c);

    /* a clean exit mid-call */
    c = start_one("normal", &o);
    mcp_result_init(&r);
    assert_int_equal(call(c, "mcp__fake__exit", "{}", &r), BROCK_OK);
    assert_true(r.is_error);
    assert_non_null(strstr(buf_cstr(&r.text), "exited with status 0 during a call of exit"));
    mcp_result_cleanup(&r);
    mcp_client_free(c);
}

static void test_endless_line(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    struct mcp_client *c = start_one("normal", &o);
    struct mcp_status st;
    mcp_client_status(c, 0, &st);
    pid_t pid = st.pid;
    struct mcp_result r;
    mcp_result_init(&r);
    assert_int_equal(call(c, "mcp__fake__endless", "{}", &r), BROCK_OK);
    assert_true(r.is_error);
    assert_non_null(strstr(buf_cstr(&r.text), "sent a line longer than 4194304 bytes"));
    mcp_client_status(c, 0, &st);
    assert_int_equal(st.state, MCP_DEAD);
    assert_true(pid_gone(pid));
    mcp_result_cleanup(&r);
    mcp_client_free(c);
}

static void test_startup_failures(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    o.start_timeout_ms = 400;
    char *logs = test_tmpdir();
    char logdir[PATH_MAX];
    snprintf(logdir, sizeof logdir, "%s/logs/mcp", logs);
    o.log_dir = logdir;
    const char *servers[] = {"v", "badversion", "quiet", "noanswer", "err", "initerror",
                             "dies", "exit3", "bare", "notools", "ok", "normal", NULL};
    struct mcp_config *cfg = fake_config(servers, "\"FAKE_TOKEN\": \"sk-SECRETVALUE123\"");
    char text[1024];
    snprintf(text, sizeof text, "{\"mcpServers\": {\"gone\": {\"command\": \"/nonexistent/brock-test/srv\"},"
                                " \"nopath\": {\"command\": \"brock-no-such-program-xyz\"}}}");
    struct mcp_config *cfg2 = parse_ok(text, NULL);
    /* one config with both sets */
    cfg->servers = realloc(cfg->servers, (cfg->n_servers + 2) * sizeof *cfg->servers);
    cfg->servers[cfg->n_servers++] = cfg2->servers[0];
    cfg->servers[cfg->n_servers++] = cfg2->servers[1];
    cfg2->n_servers = 0;
    mcp_config_free(cfg2);

    int64_t t0 = time_mono_ms();
    struct mcp_client *c = start(cfg, &o);
    int64_t took = time_mono_ms() - t0;
    mcp_config_free(cfg);
    /* started in parallel: one start-up timeout, not several */
    assert_true(took < 1500);
    static const struct {
        enum mcp_state state;
        const char *msg;
    } want[] = {
        {MCP_FAILED, "initialize: unsupported protocol version \"1999-01-01\""},
        {MCP_FAILED, "no answer to initialize within 400 ms"},
        {MCP_FAILED, "initialize failed: MCP error -32603: cannot initialise"},
        {MCP_FAILED, "exited with status 3 during initialize; its last stderr line: fatal: token "
                     "[redacted] was rejected"},
        {MCP_READY, ""},
        {MCP_READY, ""},
        {MCP_FAILED, "MCP server gone: command /nonexistent/brock-test/srv not found (or not executable)"},
        {MCP_FAILED, "MCP server nopath: command brock-no-such-program-xyz not found on PATH"},
    };
    assert_int_equal(mcp_client_server_count(c), BROCK_ARRAY_LEN(want));
    for (size_t i = 0; i < BROCK_ARRAY_LEN(want); i++) {
        struct mcp_status st;
        mcp_client_status(c, i, &st);
        if (st.state != want[i].state || !strstr(st.error, want[i].msg))
            fail_msg("server %zu (%s): %s \"%s\"", i, st.name, mcp_state_name(st.state), st.error);
        assert_null(strstr(st.error, "SECRETVALUE"));
        if (st.pid > 0 && st.state == MCP_FAILED)
            assert_true(pid_gone(st.pid));
        if (i < 6) {
            assert_non_null(st.log_path);
            assert_non_null(strstr(st.log_path, "/logs/mcp/mcp-"));
        }
    }
    struct mcp_status st;
    mcp_client_status(c, 4, &st);
    assert_int_equal(st.n_tools, 0);
    size_t n;
    mcp_client_tools(c, &n);
    assert_int_equal(n, 17);
    /* a call to a failed server says why */
    struct mcp_result r;
    mcp_result_init(&r);
    assert_int_equal(call(c, "mcp__v__echo", "{}", &r), BROCK_OK);
    assert_true(r.is_error); /* never listed: unknown */
    mcp_result_cleanup(&r);
    /* the log holds what the server said, secret included: it is the user's file */
    struct stat sb;
    char lp[PATH_MAX + 64];
    snprintf(lp, sizeof lp, "%s/mcp-dies.log", logdir);
    assert_int_equal(stat(lp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    mcp_client_free(c);
    free(logs);
}

static void test_env_cwd_and_expansion(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char text[PATH_MAX + 1024];
    snprintf(text, sizeof text,
             "{\"mcpServers\": {\"e\": {\"command\": \"%s\", \"args\": [\"--fake-mcp\", \"normal\","
             " \"${FAKE_ARG:-dflt}\", \"$NOT\", \"${FAKE_SRC}\"], \"env\": {\"FAKE_FOO\": \"${FAKE_SRC}-x\"}}}}",
             self_exe);
    const char *env[] = {"FAKE_SRC", "abc", NULL};
    struct mcp_config *cfg = parse_ok(text, env);
    struct mcp_opts o = test_opts();
    o.cwd = dir;
    const char *drop[] = {"FAKE_DROPPED"};
    o.env_drop = drop;
    o.n_env_drop = 1;
    setenv("FAKE_DROPPED", "should-not-be-seen", 1);
    setenv("FAKE_FOO", "overridden", 1);
    struct mcp_client *c = start(cfg, &o);
    mcp_config_free(cfg);
    unsetenv("FAKE_DROPPED");
    unsetenv("FAKE_FOO");
    struct mcp_result r;
    mcp_result_init(&r);
    assert_int_equal(call(c, "mcp__e__env", "{}", &r), BROCK_OK);
    char real[PATH_MAX], want[PATH_MAX + 200];
    assert_non_null(realpath(dir, real));
    snprintf(want, sizeof want, "FAKE_FOO=abc-x;FAKE_DROPPED=(unset);cwd=%s;args=dflt,$NOT,abc", real);
    assert_string_equal(buf_cstr(&r.text), want);
    mcp_result_cleanup(&r);
    mcp_client_free(c);
    free(dir);
}

static void test_shutdown_kills_group(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char pidfile[PATH_MAX];
    snprintf(pidfile, sizeof pidfile, "%s/pids", dir);
    char env[PATH_MAX + 64];
    snprintf(env, sizeof env, "\"FAKE_PIDFILE\": \"%s\"", pidfile);
    const char *servers[] = {"stubborn", "stubborn", NULL};
    struct mcp_config *cfg = fake_config(servers, env);
    struct mcp_opts o = test_opts();
    o.stop_grace_ms = 200;
    struct mcp_client *c = start(cfg, &o);
    mcp_config_free(cfg);
    struct mcp_status st;
    mcp_client_status(c, 0, &st);
    assert_int_equal(st.state, MCP_READY);
    int leader = 0, kid = 0;
    for (int i = 0; i < 100 && !kid; i++) {
        FILE *f = fopen(pidfile, "r");
        if (f) {
            if (fscanf(f, "%d %d", &leader, &kid) != 2)
                kid = 0;
            fclose(f);
        }
        if (!kid)
            usleep(10000);
    }
    assert_true(kid > 0);
    assert_int_equal(leader, st.pid);
    assert_false(pid_gone(leader));
    assert_false(pid_gone(kid));
    assert_int_equal(getpgid(kid), leader);
    int64_t t0 = time_mono_ms();
    mcp_client_free(c);
    int64_t took = time_mono_ms() - t0;
    /* stdin closed (ignored), SIGTERM after the grace time (ignored), SIGKILL after another */
    assert_true(took >= 390);
    assert_true(took < 2500);
    assert_true(pid_gone(leader));
    assert_true(pid_gone(kid));
    free(dir);
}

struct worker {
    struct mcp_client *c;
    const char *tool;
    int id;
    int bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mcp_result r;
    mcp_result_init(&r);
    for (int i = 0; i < 25; i++) {
        json_t *args = json_pack("{s:i, s:i}", "w", w->id, "i", i);
        buf_reset(&r.text);
        if (mcp_client_call(w->c, w->tool, args, &r) != BROCK_OK || r.is_error) {
            w->bad++;
        } else {
            char want[64];
            snprintf(want, sizeof want, "{\"i\":%d,\"w\":%d}", i, w->id);
            if (strcmp(buf_cstr(&r.text), want))
                w->bad++;
        }
        json_decref(args);
    }
    mcp_result_cleanup(&r);
    return NULL;
}

static void test_concurrent_calls(void **state)
{
    (void)state;
    struct mcp_opts o = test_opts();
    const char *servers[] = {"a", "normal", "b", "normal", NULL};
    struct mcp_config *cfg = fake_config(servers, NULL);
    struct mcp_client *c = start(cfg, &o);
    mcp_config_free(cfg);
    struct worker w[5] = {{c, "mcp__a__echo", 0, 0}, {c, "mcp__a__echo", 1, 0}, {c, "mcp__a__echo", 2, 0},
                          {c, "mcp__b__echo", 3, 0}, {c, "mcp__b__echo", 4, 0}};
    pthread_t th[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < 5; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    mcp_client_free(c);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--fake-mcp"))
        return fake_server_main(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0) {
        fprintf(stderr, "cannot find this test binary\n");
        return 1;
    }
    self_exe[n] = '\0';
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_basic),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_config_skips),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_load),
        cmocka_unit_test(test_wire_dispatch),
        cmocka_unit_test(test_wire_line_cap),
        cmocka_unit_test(test_call_text),
        cmocka_unit_test(test_tool_names),
        cmocka_unit_test(test_tools_page_entries),
        cmocka_unit_test(test_handshake_and_list),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_timeout_sends_cancel),
        cmocka_unit_test(test_cancel_flag),
        cmocka_unit_test(test_crash_mid_call),
        cmocka_unit_test(test_endless_line),
        cmocka_unit_test(test_startup_failures),
        cmocka_unit_test(test_env_cwd_and_expansion),
        cmocka_unit_test(test_shutdown_kills_group),
        cmocka_unit_test(test_concurrent_calls),
    };
    return cmocka_run_group_tests_name("mcp", tests, NULL, NULL);
}
