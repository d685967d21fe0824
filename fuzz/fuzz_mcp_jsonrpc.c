/* fuzz_mcp_jsonrpc.c - MCP's JSON-RPC line reader and dispatcher fed
 * arbitrary bytes from a "server", in odd-sized chunks; every response it
 * yields goes through the tools/call and tools/list interpreters and the
 * tool-name sanitiser. The same bytes are also parsed as a .mcp.json file
 * (a cloned repository controls it), expanded as a ${VAR} string, and read
 * as a hook's stdout and stderr for each event: all parsers of outside input
 * in src/agent/mcp*.c and hooks.c.
 *
 * Invariants checked (abort on violation): replies queued for the server are
 * one JSON object per line; texts for the model and the user are valid UTF-8;
 * exposed tool names are 1-64 bytes of [A-Za-z0-9_-]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/hooks.h"
#include "../src/agent/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool utf8_ok(const char *s, size_t n)
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

static void check_replies(struct buf *r)
{
    const char *p = buf_cstr(r);
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            abort();
        json_error_t je;
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, &je);
        if (!json_is_object(v))
            abort();
        json_decref(v);
        p = nl + 1;
    }
    buf_reset(r);
}

static void check_response(json_t *resp)
{
    struct buf text = BUF_INIT(MCP_RESULT_MAX + 4096);
    bool is_error;
    mcp_call_text(resp, &text, &is_error);
    if (!utf8_ok(text.ptr ? text.ptr : "", text.len) || text.len > MCP_RESULT_MAX + 200)
        abort();
    buf_free(&text);

    const json_t *tools;
    const char *cursor;
    if (mcp_tools_page(json_object_get(resp, "result"), &tools, &cursor, NULL) != BROCK_OK)
        return;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *name, *desc;
        json_t *schema;
        struct buf why = BUF_INIT(256);
        if (mcp_tool_entry(t, &name, &desc, &schema, &why)) {
            if (!json_is_object(schema))
                abort();
            for (unsigned salt = 0; salt < 2; salt++) {
                char out[MCP_TOOL_NAME_MAX + 1];
                mcp_tool_expose(cursor ? cursor : "srv", name, salt, out);
                size_t n = strlen(out);
                if (!n || n > MCP_TOOL_NAME_MAX || strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
                    abort();
            }
            json_decref(schema);
        }
        buf_free(&why);
    }
}

static const char *fuzz_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return !strcmp(name, "HOME") ? "/home/fuzz" : !strcmp(name, "EMPTY") ? "" : NULL;
}

static void check_outcome(const struct hooks_outcome *o)
{
    const struct buf *bs[] = {&o->reason, &o->context, &o->user, &o->verbose, &o->stop_reason};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
        if (!utf8_ok(bs[i]->ptr ? bs[i]->ptr : "", bs[i]->len) || bs[i]->len > bs[i]->max)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the wire, fed in chunks of 1..61 bytes */
    struct mcp_wire w;
    mcp_wire_init(&w);
    int64_t id = 1;
    mcp_wire_expect(&w, id);
    size_t off = 0;
    unsigned k = (unsigned)size;
    while (off < size) {
        k = k * 1103515245u + 12345u;
        size_t n = 1 + (k >> 16) % 61;
        if (n > size - off)
            n = size - off;
        if (mcp_wire_feed(&w, data + off, n, NULL) != BROCK_OK)
            break;
        off += n;
        json_t *r;
        while ((r = mcp_wire_take(&w))) {
            check_response(r);
            json_decref(r);
            mcp_wire_expect(&w, ++id);
            if (mcp_wire_pump(&w, NULL) != BROCK_OK)
                break;
        }
        check_replies(&w.replies);
    }
    mcp_wire_cleanup(&w);

    /* the same bytes as a .mcp.json, and as a string to expand */
    struct mcp_config *cfg = NULL;
    if (mcp_config_parse("fuzz.json", (const char *)data, size, fuzz_getenv, NULL, &cfg, NULL) == BROCK_OK)
        mcp_config_free(cfg);
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct buf ex = BUF_INIT(1 << 20), missing = BUF_INIT(4096);
    (void)mcp_expand(s, fuzz_getenv, NULL, &ex, &missing);
    buf_free(&ex);
    buf_free(&missing);
    free(s);

    /* the same bytes as a hook's output */
    for (int ev = 0; ev < HOOKS_EVENT_COUNT; ev++) {
        static const int codes[] = {0, 2, 1};
        for (size_t c = 0; c < 3; c++) {
            struct hooks_outcome o;
            hooks_outcome_init(&o);
            hooks_interpret((enum hooks_event)ev, "fuzz hook", codes[c], (const char *)data, size,
                            (const char *)data, size, &o);
            check_outcome(&o);
            hooks_outcome_cleanup(&o);
        }
    }
    return 0;
}
