/* mcp_wire.c - JSON-RPC framing and dispatch for MCP over stdio (mcp_wire.h). */
#include "mcp_wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/json.h"
#include "../util/log.h"

void mcp_wire_init(struct mcp_wire *w)
{
    memset(w, 0, sizeof *w);
    buf_init(&w->in, MCP_LINE_MAX + MCP_READ_CHUNK + 1);
    buf_init(&w->replies, MCP_REPLY_MAX);
    w->want_id = -1;
}

void mcp_wire_cleanup(struct mcp_wire *w)
{
    buf_free(&w->in);
    buf_free(&w->replies);
    json_decref(w->response);
    w->response = NULL;
    w->scanned = 0;
    w->want_id = -1;
}

void mcp_wire_expect(struct mcp_wire *w, int64_t id)
{
    json_decref(w->response);
    w->response = NULL;
    w->want_id = id;
}

json_t *mcp_wire_take(struct mcp_wire *w)
{
    json_t *r = w->response;
    w->response = NULL;
    return r;
}

void mcp_wire_add_message(struct buf *out, int64_t id, const char *method, json_t *params)
{
    json_t *m = json_object();
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    if (id >= 0)
        json_object_set_new(m, "id", json_integer(id));
    json_object_set_new(m, "method", json_string(method));
    if (params)
        json_object_set_new(m, "params", params);
    /* compact output escapes control characters: never a raw newline */
    char *s = json_dump_compact(m);
    buf_addstr(out, s);
    buf_addc(out, '\n');
    free(s);
    json_decref(m);
}

static void queue_reply(struct mcp_wire *w, json_t *reply)
{
    char *s = json_dump_compact(reply);
    size_t n = strlen(s);
    if (n + 1 <= w->replies.max - w->replies.len) {
        buf_add(&w->replies, s, n);
        buf_addc(&w->replies, '\n');
    } else {
        w->n_dropped++;
    }
    free(s);
    json_decref(reply);
}

static void handle_message(struct mcp_wire *w, json_t *m)
{
    json_t *method = json_object_get(m, "method");
    json_t *id = json_object_get(m, "id");
    bool has_id = json_is_string(id) || json_is_integer(id) || json_is_real(id);
    if (json_is_string(method)) {
        if (!has_id) {
            w->n_notes++;
            log_trace("mcp: notification %.80s", json_string_value(method));
            return;
        }
        w->n_requests++;
        json_t *r = json_object();
        json_object_set_new(r, "jsonrpc", json_string("2.0"));
        json_object_set(r, "id", id);
        if (!strcmp(json_string_value(method), "ping") && json_string_length(method) == 4) {
            json_object_set_new(r, "result", json_object());
        } else {
            json_t *er = json_object();
            json_object_set_new(er, "code", json_integer(-32601));
            json_object_set_new(er, "message", json_string("Method not found"));
            json_object_set_new(r, "error", er);
        }
        queue_reply(w, r);
        return;
    }
    if (has_id && (json_object_get(m, "result") || json_object_get(m, "error"))) {
        if (json_is_integer(id) && w->want_id >= 0 && json_integer_value(id) == w->want_id &&
            !w->response) {
            w->response = json_incref(m);
            return;
        }
        w->n_stale++;
        return;
    }
    w->n_ignored++;
}

static void handle_line(struct mcp_wire *w, const char *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (!n)
        return;
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_ALLOW_NUL, &je);
    if (!v) {
        w->n_ignored++;
        log_debug("mcp: ignoring a line that is not JSON (%zu bytes, column %d: %s)", n, je.column,
                  je.text);
        return;
    }
    if (json_is_object(v)) {
        handle_message(w, v);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el) {
            if (json_is_object(el))
                handle_message(w, el);
            else
                w->n_ignored++;
        }
        if (!json_array_size(v))
            w->n_ignored++;
    } else {
        w->n_ignored++;
    }
    json_decref(v);
}

enum brock_status mcp_wire_pump(struct mcp_wire *w, struct brock_err *e)
{
    size_t start = 0;
    while (!w->response && start < w->in.len) {
        char *base = w->in.ptr + start;
        size_t avail = w->in.len - start;
        size_t from = w->scanned > start ? w->scanned - start : 0;
        char *nl = memchr(base + from, '\n', avail - from);
        if (!nl) {
            w->scanned = w->in.len;
            break;
        }
        size_t ll = (size_t)(nl - base);
        handle_line(w, base, ll);
        start += ll + 1;
        w->scanned = start;
    }
    if (start) {
        size_t rest = w->in.len - start;
        memmove(w->in.ptr, w->in.ptr + start, rest);
        buf_truncate(&w->in, rest);
        w->scanned = w->scanned > start ? w->scanned - start : 0;
    }
    if (!w->response && w->in.len > MCP_LINE_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE,
                       "the server sent a line longer than %zu bytes (no newline after %zu bytes)",
                       MCP_LINE_MAX, w->in.len);
    return BROCK_OK;
}

enum brock_status mcp_wire_feed(struct mcp_wire *w, const void *p, size_t n, struct brock_err *e)
{
    if (n > w->in.max - w->in.len)
        return err_set(e, BROCK_ERR_TOO_LARGE,
                       "the server sent a line longer than %zu bytes (no newline after %zu bytes)",
                       MCP_LINE_MAX, w->in.len + n);
    buf_add(&w->in, p, n);
    return mcp_wire_pump(w, e);
}

/* --- Results ------------------------------------------------------------ */

/* Text under a cap, cut at a UTF-8 boundary. */
struct capped {
    struct buf *b;
    size_t room;
    bool cut;
};

static void cap_add(struct capped *c, const char *p, size_t n)
{
    if (c->cut)
        return;
    if (n > c->room) {
        n = c->room;
        while (n && ((unsigned char)p[n] & 0xC0) == 0x80)
            n--;
        c->cut = true;
    }
    buf_add(c->b, p, n);
    c->room -= n;
}

static void cap_str(struct capped *c, const char *s)
{
    cap_add(c, s, strlen(s));
}

/* A short field of a description (name, URI, MIME type): at most `max` bytes. */
static void cap_field(struct capped *c, const json_t *v, size_t max, const char *dflt)
{
    if (!json_is_string(v)) {
        cap_str(c, dflt);
        return;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    bool cut = n > max;
    if (cut) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    cap_add(c, s, n);
    if (cut)
        cap_str(c, "...");
}

static size_t b64_bytes(const json_t *v)
{
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    return n / 4 * 3;
}

static void describe_block(struct capped *c, const json_t *b)
{
    char num[96];
    const char *type = json_str(b, "type");
    if (!type) {
        cap_str(c, "[malformed content block: no type]");
        return;
    }
    json_t *mime = json_object_get(b, "mimeType");
    if (!strcmp(type, "text")) {
        json_t *t = json_object_get(b, "text");
        if (json_is_string(t))
            cap_add(c, json_string_value(t), json_string_length(t));
        else
            cap_str(c, "[malformed text block: no text]");
    } else if (!strcmp(type, "image") || !strcmp(type, "audio")) {
        cap_str(c, type[0] == 'i' ? "[image: " : "[audio: ");
        cap_field(c, mime, 100, "unknown type");
        snprintf(num, sizeof num, ", about %zu bytes, not shown]", b64_bytes(json_object_get(b, "data")));
        cap_str(c, num);
    } else if (!strcmp(type, "resource_link")) {
        cap_str(c, "[resource link: ");
        cap_field(c, json_object_get(b, "name"), 200, "(no name)");
        cap_str(c, " <");
        cap_field(c, json_object_get(b, "uri"), 1000, "");
        cap_str(c, ">");
        if (json_is_string(mime)) {
            cap_str(c, " (");
            cap_field(c, mime, 100, "");
            cap_str(c, ")");
        }
        json_t *d = json_object_get(b, "description");
        if (json_is_string(d)) {
            cap_str(c, ": ");
            cap_field(c, d, 2000, "");
        }
        cap_str(c, "]");
    } else if (!strcmp(type, "resource")) {
        json_t *r = json_object_get(b, "resource");
        if (!json_is_object(r)) {
            cap_str(c, "[malformed resource block: no resource]");
            return;
        }
        json_t *rmime = json_object_get(r, "mimeType");
        cap_str(c, "[resource: ");
        cap_field(c, json_object_get(r, "uri"), 1000, "(no uri)");
        if (json_is_string(rmime)) {
            cap_str(c, " (");
            cap_field(c, rmime, 100, "");
            cap_str(c, ")");
        }
        json_t *t = json_object_get(r, "text");
        json_t *blob = json_object_get(r, "blob");
        if (json_is_string(t)) {
            cap_str(c, "]\n");
            cap_add(c, json_string_value(t), json_string_length(t));
        } else if (json_is_string(blob)) {
            snprintf(num, sizeof num, ", about %zu bytes of binary data, not shown]", b64_bytes(blob));
            cap_str(c, num);
        } else {
            cap_str(c, "]");
        }
    } else {
        cap_str(c, "[unsupported content block of type \"");
        cap_field(c, json_object_get(b, "type"), 40, "");
        cap_str(c, "\"]");
    }
}

void mcp_call_text(const json_t *response, struct buf *text, bool *is_error)
{
    static const char cut_note[] = "\n[... output cut: longer than the limit of bytes brock keeps]";
    size_t room = text->max > text->len ? text->max - text->len : 0;
    if (room > MCP_RESULT_MAX)
        room = MCP_RESULT_MAX;
    room = room > sizeof cut_note ? room - sizeof cut_note : 0;
    struct capped c = {text, room, false};
    *is_error = false;

    json_t *err = json_object_get(response, "error");
    json_t *res = json_object_get(response, "result");
    if (err) {
        *is_error = true;
        int64_t code = 0;
        char head[64];
        if (!json_int(err, "code", &code))
            code = 0;
        snprintf(head, sizeof head, "MCP error %" PRId64 ": ", code);
        cap_str(&c, head);
        cap_field(&c, json_object_get(err, "message"), 4000, "(no message)");
        json_t *data = json_object_get(err, "data");
        if (json_is_string(data)) {
            cap_str(&c, "\n");
            cap_field(&c, data, 4000, "");
        } else if (data && !json_is_null(data)) {
            char *s = json_dump_compact(data);
            json_t *tmp = json_string(s);
            cap_str(&c, "\n");
            cap_field(&c, tmp, 4000, "");
            json_decref(tmp);
            free(s);
        }
    } else if (!json_is_object(res)) {
        *is_error = true;
        cap_str(&c, "the MCP server sent a malformed tools/call result (not an object)");
    } else {
        if (json_is_true(json_object_get(res, "isError")))
            *is_error = true;
        json_t *content = json_object_get(res, "content");
        size_t blocks = 0;
        if (json_is_array(content)) {
            size_t i;
            json_t *b;
            json_array_foreach(content, i, b) {
                if (blocks++)
                    cap_str(&c, "\n");
                if (json_is_object(b))
                    describe_block(&c, b);
                else
                    cap_str(&c, "[malformed content block: not an object]");
            }
        } else if (content && !json_is_null(content)) {
            *is_error = true;
            cap_str(&c, "the MCP server sent a malformed tools/call result (content is not an array)");
            blocks = 1;
        }
        if (!blocks) {
            json_t *sc = json_object_get(res, "structuredContent");
            if (sc && !json_is_null(sc)) {
                char *s = json_dump_compact(sc);
                cap_str(&c, s);
                free(s);
            } else {
                cap_str(&c, "(no content)");
            }
        }
    }
    if (c.cut)
        buf_addstr(text, cut_note);
}

enum brock_status mcp_tools_page(const json_t *result, const json_t **tools, const char **cursor,
                                 struct brock_err *e)
{
    *tools = NULL;
    *cursor = NULL;
    if (!json_is_object(result))
        return err_set(e, BROCK_ERR_PARSE, "tools/list: the result is not an object");
    json_t *t = json_object_get(result, "tools");
    if (!json_is_array(t))
        return err_set(e, BROCK_ERR_PARSE, "tools/list: the result has no \"tools\" array");
    *tools = t;
    const char *c = json_str(result, "nextCursor");
    if (c && *c)
        *cursor = c;
    return BROCK_OK;
}

bool mcp_tool_entry(const json_t *tool, const char **name, const char **desc, json_t **schema,
                    struct buf *why)
{
    *name = *desc = NULL;
    *schema = NULL;
    if (!json_is_object(tool)) {
        buf_addstr(why, "a tools/list entry is not an object");
        return false;
    }
    json_t *n = json_object_get(tool, "name");
    if (!json_is_string(n) || !json_string_length(n)) {
        buf_addstr(why, "a tools/list entry has no name");
        return false;
    }
    if (strlen(json_string_value(n)) != json_string_length(n)) {
        buf_addstr(why, "a tools/list entry has a name with a NUL byte");
        return false;
    }
    *name = json_string_value(n);
    const char *d = json_str(tool, "description");
    *desc = d ? d : "";
    json_t *s = json_object_get(tool, "inputSchema");
    const char *type = json_str(s, "type");
    if (json_is_object(s) && type && !strcmp(type, "object")) {
        *schema = json_incref(s);
    } else if (json_is_object(s) && !json_object_get(s, "type")) {
        *schema = json_deep_copy(s);
        json_object_set_new(*schema, "type", json_string("object"));
    } else {
        *schema = json_object();
        json_object_set_new(*schema, "type", json_string("object"));
    }
    return true;
}

static size_t sanitize(const char *s, char *out, size_t room)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k < room; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
            c == '-')
            out[k++] = (char)c;
        else if ((c & 0xC0) != 0x80) /* one '_' per character, not per byte */
            out[k++] = '_';
    }
    return k;
}

static size_t sanitized_len(const char *s)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x80 || (*p & 0xC0) != 0x80)
            k++;
    return k;
}

void mcp_tool_expose(const char *server, const char *tool, unsigned salt,
                     char out[MCP_TOOL_NAME_MAX + 1])
{
    char full[MCP_TOOL_NAME_MAX + 1];
    size_t k = 0;
    const size_t max = MCP_TOOL_NAME_MAX;
    memcpy(full, "mcp__", 5);
    k = 5;
    k += sanitize(server, full + k, max - k);
    if (k + 2 <= max) {
        memcpy(full + k, "__", 2);
        k += 2;
        k += sanitize(tool, full + k, max - k);
    }
    size_t total = 5 + sanitized_len(server) + 2 + sanitized_len(tool);
    if (total <= max && !salt) {
        memcpy(out, full, k);
        out[k] = '\0';
        return;
    }
    /* FNV-1a over the real names, so different long names keep different tails */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)server; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ 0) * 16777619u;
    for (const unsigned char *p = (const unsigned char *)tool; *p; p++)
        h = (h ^ *p) * 16777619u;
    for (unsigned s = salt; s; s >>= 8)
        h = (h ^ (s & 0xFF)) * 16777619u;
    size_t keep = k < max - 9 ? k : max - 9;
    memcpy(out, full, keep);
    snprintf(out + keep, max + 1 - keep, "_%08x", (unsigned)h);
}
