/* mcp_wire.h - the JSON-RPC 2.0 side of MCP's stdio transport, without any
 * process or descriptor: line splitting, message dispatch, and turning the
 * answers to tools/list and tools/call into brock's terms. Internal to
 * src/agent/mcp*.c; tests and fuzz/fuzz_mcp_jsonrpc.c drive it directly.
 *
 * Framing (MCP stdio transport): one JSON-RPC message per line, UTF-8,
 * '\n'-terminated; a trailing '\r' is tolerated. A line longer than
 * MCP_LINE_MAX is an error (BROCK_ERR_TOO_LARGE): the stream cannot be
 * resynchronised safely, so the caller gives up on the server.
 *
 * Dispatch, per line:
 *   - not JSON, or JSON that is not an object or array: ignored and counted
 *     (servers that print banners on stdout keep working, as in Claude Code);
 *   - an array (a JSON-RPC batch, MCP 2025-03-26): each element as below;
 *   - a request (method and id): `ping` is answered with an empty result,
 *     anything else with error -32601 (brock offers no client capabilities:
 *     no sampling, roots or elicitation). Answers queue in `replies`;
 *   - a notification (method, no id): ignored and counted (logging, progress,
 *     list_changed);
 *   - a response (result or error, and an id): kept if its id is the one
 *     awaited (mcp_wire_expect), otherwise dropped (a late answer to a call
 *     that timed out or was cancelled).
 * Processing stops at the awaited response; later lines stay buffered for the
 * next exchange.
 *
 * Ownership: the wire owns its buffers and the held response;
 * mcp_wire_take() hands the response over. Not locked: one user at a time. */
#ifndef BROCK_AGENT_MCP_WIRE_H
#define BROCK_AGENT_MCP_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/err.h"

#define MCP_LINE_MAX ((size_t)4 * 1024 * 1024) /* one message from a server */
#define MCP_READ_CHUNK ((size_t)64 * 1024)     /* bytes read per read(2) */
#define MCP_REPLY_MAX ((size_t)1024 * 1024)    /* answers owed to a server, queued */
#define MCP_RESULT_MAX ((size_t)4 * 1024 * 1024) /* text made from one tools/call */
#define MCP_TOOL_NAME_MAX 64                   /* Bedrock's limit on tool names */
#define MCP_DESC_MAX ((size_t)16 * 1024)       /* a tool description, kept */

struct mcp_wire {
    struct buf in;        /* bytes received, not yet handled */
    size_t scanned;       /* in.ptr[0, scanned) is known to hold no '\n' */
    struct buf replies;   /* lines to send to the server (ping answers, errors) */
    int64_t want_id;      /* id awaited, or -1 */
    json_t *response;     /* the awaited response once seen */
    size_t n_ignored;     /* lines that were not JSON-RPC messages */
    size_t n_notes;       /* notifications received */
    size_t n_requests;    /* requests from the server answered */
    size_t n_stale;       /* responses to ids no longer awaited */
    size_t n_dropped;     /* answers not queued because `replies` was full */
};

void mcp_wire_init(struct mcp_wire *w);
void mcp_wire_cleanup(struct mcp_wire *w);

/* Await `id` (-1: none); a response held from before is released. */
void mcp_wire_expect(struct mcp_wire *w, int64_t id);

/* Add bytes from the server and handle complete lines (mcp_wire_pump). */
enum brock_status mcp_wire_feed(struct mcp_wire *w, const void *p, size_t n, struct brock_err *e);
/* Handle buffered complete lines until the awaited response is seen. */
enum brock_status mcp_wire_pump(struct mcp_wire *w, struct brock_err *e);
/* The awaited response (new reference), or NULL while it has not come. */
json_t *mcp_wire_take(struct mcp_wire *w);

/* Append one message line: a request (id >= 0) or a notification (id < 0).
 * `params` is stolen (NULL: no params member). */
void mcp_wire_add_message(struct buf *out, int64_t id, const char *method, json_t *params);

/* A tools/call response (the whole JSON-RPC object) as text for the model.
 * Text blocks are joined with newlines; images, audio, resources and
 * resource links are described in one bracketed line each (an embedded text
 * resource also gives its text); with no content, structuredContent is shown
 * as JSON. `isError`, a JSON-RPC error ("MCP error CODE: MESSAGE") or a
 * malformed result set *is_error. Text is valid UTF-8 and at most
 * MCP_RESULT_MAX bytes (cut at a character boundary, with a note). */
void mcp_call_text(const json_t *response, struct buf *text, bool *is_error);

/* One page of a tools/list result: the `tools` array (borrowed) and
 * `nextCursor` (borrowed; NULL on the last page). BROCK_ERR_PARSE if the
 * result is not an object with a `tools` array. */
enum brock_status mcp_tools_page(const json_t *result, const json_t **tools, const char **cursor,
                                 struct brock_err *e);

/* One tool of a page: name (non-empty, no NUL), description ("" when absent;
 * borrowed), input schema (new reference; {"type":"object"} when absent or
 * not an object). False, with why, when the entry is unusable. */
bool mcp_tool_entry(const json_t *tool, const char **name, const char **desc, json_t **schema,
                    struct buf *why);

/* The name the model sees: "mcp__" SERVER "__" TOOL with every byte outside
 * [A-Za-z0-9_-] replaced by '_'. When longer than MCP_TOOL_NAME_MAX it is cut
 * and ends in '_' and 8 hex digits of a hash of the unsanitised pair, so
 * distinct long names stay distinct. `salt` > 0 forces the hash form (the
 * caller's retry after a collision). out holds MCP_TOOL_NAME_MAX + 1 bytes. */
void mcp_tool_expose(const char *server, const char *tool, unsigned salt,
                     char out[MCP_TOOL_NAME_MAX + 1]);

#endif
