/* mcp_fake_server.c - a scripted MCP server for tests/agent/test_mcp.c.
 *
 * Not built on its own: test_mcp.c includes it, and runs its own binary as
 * the server (`test_mcp --fake-mcp MODE`), so the server needs no build rule,
 * no interpreter, and runs under the same sanitizers as the test.
 *
 * It speaks newline-delimited JSON-RPC on stdin/stdout and writes nothing to
 * stdout that is not a message, except where a mode says so. Modes:
 *
 *   normal      handshake, 17 tools over six tools/list pages
 *   banner      prints a non-JSON banner line on stdout first, then normal
 *   notools     declares no tools capability
 *   badversion  answers initialize with protocol version 1999-01-01
 *   initerror   answers initialize with a JSON-RPC error
 *   noanswer    reads and never answers
 *   exit3       writes a line to stderr (with $FAKE_TOKEN in it) and exits 3
 *   stubborn    normal, but ignores SIGTERM and stdin EOF and starts a
 *               grandchild that does the same; pids go to $FAKE_PIDFILE
 *
 * Tools: echo, blocks, fail, rpcerr, crash, exit, hang, cancelled, chatty,
 * slow, endless, big, env, "odd name/with spaces.v2", a 80-character name,
 * nothing (no inputSchema), and odd_name_with_spaces_v2 (whose exposed name
 * collides with the other odd one). One tools/list entry has no name. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

static const char *fake_mode = "normal";
static char fake_cancelled[4096];
static char **fake_argv;
static int fake_argc;

static void fake_send(json_t *m)
{
    char *s = json_dumps(m, JSON_COMPACT);
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s);
    json_decref(m);
}

static void fake_result(json_t *id, json_t *result)
{
    fake_send(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static void fake_text(json_t *id, const char *text, int is_error)
{
    json_t *r = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text", text);
    if (is_error)
        json_object_set_new(r, "isError", json_true());
    fake_result(id, r);
}

/* Read one message; NULL at EOF. Records cancellations on the way. */
static json_t *fake_read(void)
{
    static char *line;
    static size_t cap;
    for (;;) {
        ssize_t n = getline(&line, &cap, stdin);
        if (n <= 0)
            return NULL;
        json_error_t je;
        json_t *m = json_loadb(line, (size_t)n, 0, &je);
        if (!m)
            continue;
        const char *method = json_string_value(json_object_get(m, "method"));
        if (method && !strcmp(method, "notifications/cancelled")) {
            json_t *p = json_object_get(m, "params");
            size_t l = strlen(fake_cancelled);
            snprintf(fake_cancelled + l, sizeof fake_cancelled - l, "%s%lld (%s)", l ? ", " : "",
                     (long long)json_integer_value(json_object_get(p, "requestId")),
                     json_string_value(json_object_get(p, "reason")) ? json_string_value(json_object_get(p, "reason")) : "?");
        }
        return m;
    }
}

static json_t *fake_tool(const char *name, const char *desc, int with_schema)
{
    json_t *t = json_pack("{s:s, s:s}", "name", name, "description", desc);
    if (with_schema)
        json_object_set_new(t, "inputSchema",
                            json_pack("{s:s, s:{s:{s:s}}}", "type", "object", "properties", "x",
                                      "type", "string"));
    return t;
}

static json_t *fake_tools_page(const char *cursor)
{
    static const char *const names[] = {
        "echo", "blocks", "fail", "rpcerr", "crash", "exit", "hang", "cancelled", "chatty", "slow",
        "endless", "big", "env", "odd name/with spaces.v2",
        "a_tool_with_a_very_long_name_that_goes_on_and_on_past_the_bedrock_limit_of_64", "nothing",
        "odd_name_with_spaces_v2"};
    size_t n = sizeof names / sizeof names[0];
    size_t start = cursor ? (size_t)atoi(cursor + 5) : 0; /* "page-N" */
    json_t *tools = json_array();
    size_t end = start + 3 < n ? start + 3 : n;
    for (size_t i = start; i < end; i++)
        json_array_append_new(tools, fake_tool(names[i], "A fake tool.", strcmp(names[i], "nothing") != 0));
    if (start == 3)
        json_array_append_new(tools, json_pack("{s:s}", "description", "an entry without a name"));
    json_t *r = json_pack("{s:o}", "tools", tools);
    if (end < n) {
        char next[32];
        snprintf(next, sizeof next, "page-%zu", end);
        json_object_set_new(r, "nextCursor", json_string(next));
    }
    return r;
}

static void fake_stubborn_setup(void)
{
    signal(SIGTERM, SIG_IGN);
    pid_t kid = fork();
    if (kid == 0) {
        for (;;)
            pause();
    }
    const char *pf = getenv("FAKE_PIDFILE");
    if (pf) {
        FILE *f = fopen(pf, "w");
        if (f) {
            fprintf(f, "%d %d\n", (int)getpid(), (int)kid);
            fclose(f);
        }
    }
}

static void fake_call(json_t *id, const char *name, json_t *args)
{
    if (!strcmp(name, "echo")) {
        char *s = json_dumps(args ? args : json_null(), JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        fake_text(id, s, 0);
        free(s);
    } else if (!strcmp(name, "blocks")) {
        json_t *c = json_pack(
            "[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s},"
            " {s:s, s:{s:s, s:s, s:s}}, {s:s, s:{s:s, s:s}}, {s:s}]",
            "type", "text", "text", "first",
            "type", "image", "data", "aGVsbG8gd29ybGQh", "mimeType", "image/png",
            "type", "audio", "data", "AAAA", "mimeType", "audio/wav",
            "type", "resource_link", "uri", "file:///tmp/x.txt", "name", "x.txt", "mimeType",
            "text/plain", "description", "a file",
            "type", "resource", "resource", "uri", "file:///tmp/y.md", "mimeType", "text/markdown",
            "text", "# Y",
            "type", "resource", "resource", "uri", "file:///tmp/z.bin", "blob", "AAECAwQFBgc=",
            "type", "video");
        fake_result(id, json_pack("{s:o}", "content", c));
    } else if (!strcmp(name, "fail")) {
        fake_text(id, "it broke", 1);
    } else if (!strcmp(name, "rpcerr")) {
        fake_send(json_pack("{s:s, s:O, s:{s:i, s:s, s:{s:s}}}", "jsonrpc", "2.0", "id", id, "error",
                            "code", -32602, "message", "bad params", "data", "field", "x"));
    } else if (!strcmp(name, "crash")) {
        kill(getpid(), SIGKILL);
    } else if (!strcmp(name, "exit")) {
        _exit(0);
    } else if (!strcmp(name, "hang")) {
        /* no answer */
    } else if (!strcmp(name, "cancelled")) {
        char t[4200];
        snprintf(t, sizeof t, "cancelled: %s", fake_cancelled);
        fake_text(id, t, 0);
    } else if (!strcmp(name, "chatty")) {
        fputs("this is not JSON\n\n   \n[]\n", stdout);
        fake_send(json_pack("{s:s, s:s, s:{s:s, s:s}}", "jsonrpc", "2.0", "method",
                            "notifications/message", "params", "level", "info", "data", "working"));
        fake_send(json_pack("{s:s, s:s, s:{s:s, s:i}}", "jsonrpc", "2.0", "method",
                            "notifications/progress", "params", "progressToken", "t", "progress", 1));
        fake_send(json_pack("{s:s, s:i, s:{}}", "jsonrpc", "2.0", "id", 999999, "result"));
        fake_send(json_pack("[{s:s, s:s}]", "jsonrpc", "2.0", "method", "notifications/tools/list_changed"));
        fake_send(json_pack("{s:s, s:s, s:s}", "jsonrpc", "2.0", "id", "srv-1", "method", "ping"));
        fake_send(json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 77, "method", "roots/list"));
        int ping_ok = 0, roots_ok = 0;
        while (!(ping_ok && roots_ok)) {
            json_t *m = fake_read();
            if (!m)
                _exit(1);
            json_t *mid = json_object_get(m, "id");
            if (json_is_string(mid) && !strcmp(json_string_value(mid), "srv-1") &&
                json_is_object(json_object_get(m, "result")))
                ping_ok = 1;
            if (json_is_integer(mid) && json_integer_value(mid) == 77 &&
                json_integer_value(json_object_get(json_object_get(m, "error"), "code")) == -32601)
                roots_ok = 1;
            json_decref(m);
        }
        fake_text(id, "ping answered; roots/list refused", 0);
    } else if (!strcmp(name, "slow")) {
        json_t *r = json_pack("{s:s, s:O, s:{s:[{s:s, s:s}]}}", "jsonrpc", "2.0", "id", id, "result",
                              "content", "type", "text", "text", "one byte at a time \xc3\xa9\xe2\x82\xac");
        char *s = json_dumps(r, JSON_COMPACT);
        for (char *p = s; *p; p++) {
            fputc(*p, stdout);
            fflush(stdout);
            if ((p - s) % 16 == 0)
                usleep(1000);
        }
        fputc('\n', stdout);
        fflush(stdout);
        free(s);
        json_decref(r);
    } else if (!strcmp(name, "endless")) {
        printf("{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"",
               (long long)json_integer_value(id));
        static char xs[65536];
        memset(xs, 'x', sizeof xs);
        signal(SIGPIPE, SIG_DFL);
        for (;;)
            if (fwrite(xs, 1, sizeof xs, stdout) != sizeof xs)
                _exit(0);
    } else if (!strcmp(name, "big")) {
        json_int_t n = json_integer_value(json_object_get(args, "n"));
        char *t = malloc((size_t)n + 1);
        memset(t, 'b', (size_t)n);
        t[n] = '\0';
        fake_text(id, t, 0);
        free(t);
    } else if (!strcmp(name, "env")) {
        char cwd[4096], t[8192];
        if (!getcwd(cwd, sizeof cwd))
            strcpy(cwd, "?");
        const char *foo = getenv("FAKE_FOO"), *drop = getenv("FAKE_DROPPED");
        int k = snprintf(t, sizeof t, "FAKE_FOO=%s;FAKE_DROPPED=%s;cwd=%s;args=", foo ? foo : "(unset)",
                         drop ? drop : "(unset)", cwd);
        for (int i = 3; i < fake_argc && k > 0 && (size_t)k < sizeof t; i++)
            k += snprintf(t + k, sizeof t - (size_t)k, "%s%s", i > 3 ? "," : "", fake_argv[i]);
        fake_text(id, t, 0);
    } else {
        char t[300];
        snprintf(t, sizeof t, "called %.200s", name);
        fake_text(id, t, 0);
    }
}

static int fake_server_main(int argc, char **argv)
{
    fake_argc = argc;
    fake_argv = argv;
    fake_mode = argc > 2 ? argv[2] : "normal";
    if (!strcmp(fake_mode, "exit3")) {
        const char *tok = getenv("FAKE_TOKEN");
        fprintf(stderr, "starting\nfatal: token %s was rejected\n", tok ? tok : "");
        _exit(3);
    }
    if (!strcmp(fake_mode, "banner")) {
        fputs("Fake MCP server v1 starting...\n", stdout);
        fflush(stdout);
    }
    if (!strcmp(fake_mode, "stubborn"))
        fake_stubborn_setup();
    for (;;) {
        json_t *m = fake_read();
        if (!m)
            break;
        const char *method = json_string_value(json_object_get(m, "method"));
        json_t *id = json_object_get(m, "id");
        json_t *params = json_object_get(m, "params");
        if (!method || !id || !strcmp(fake_mode, "noanswer")) {
            json_decref(m);
            continue;
        }
        if (!strcmp(method, "initialize")) {
            if (!strcmp(fake_mode, "initerror")) {
                fake_send(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error",
                                    "code", -32603, "message", "cannot initialise"));
            } else {
                const char *pv = !strcmp(fake_mode, "badversion")
                                     ? "1999-01-01"
                                     : json_string_value(json_object_get(params, "protocolVersion"));
                json_t *caps = !strcmp(fake_mode, "notools") ? json_object()
                                                              : json_pack("{s:{}}", "tools");
                fake_result(id, json_pack("{s:s, s:o, s:{s:s, s:s}, s:s}", "protocolVersion",
                                          pv ? pv : "?", "capabilities", caps, "serverInfo", "name",
                                          "fake", "version", "1.2.3", "instructions",
                                          "Use the fake tools wisely."));
            }
        } else if (!strcmp(method, "tools/list")) {
            fake_result(id, fake_tools_page(json_string_value(json_object_get(params, "cursor"))));
        } else if (!strcmp(method, "tools/call")) {
            fake_call(id, json_string_value(json_object_get(params, "name")),
                      json_object_get(params, "arguments"));
        } else {
            fake_send(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error", "code",
                                -32601, "message", "Method not found"));
        }
        json_decref(m);
    }
    if (!strcmp(fake_mode, "stubborn"))
        for (;;)
            pause();
    _exit(0);
}
