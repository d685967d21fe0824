/* tool_todo.c - TodoWrite {todos: [{content, status, activeForm?, id?}]}:
 * replace the session's todo list.
 *
 * The list is the whole state: each call sends every item. Checked beyond
 * the schema: at most one item in_progress (Claude Code asks for exactly one
 * while working), ids unique when given. The list lives in the context under
 * its lock; the UI reads a copy with tool_ctx_todos(). */
#include <stdlib.h>
#include <string.h>

#include "../../util/alloc.h"
#include "tool_int.h"

const char tool_todo_desc[] =
    "Creates and updates a structured task list for the current session, shown to the user. "
    "Use it to plan multi-step work and to show progress.\n"
    "\n"
    "When to use it: tasks with three or more steps, several requests at once, or when the "
    "user asks for a todo list. Skip it for a single simple task.\n"
    "\n"
    "Usage:\n"
    "- Each call replaces the whole list: send every item, with its current status.\n"
    "- status is \"pending\", \"in_progress\" or \"completed\". Keep exactly one item "
    "in_progress while working (never more than one), and mark an item completed as soon as "
    "it is done, not in batches.\n"
    "- content says what to do (\"Run the tests\"); activeForm says it while it happens "
    "(\"Running the tests\").\n"
    "- Only mark an item completed when it is fully done: not while tests fail or work is "
    "partial.";

const char tool_todo_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"todos\":{\"type\":\"array\",\"maxItems\":100,\"description\":\"The updated todo list\","
    "\"items\":{\"type\":\"object\",\"properties\":{"
    "\"content\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":2000},"
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"in_progress\",\"completed\"]},"
    "\"activeForm\":{\"type\":\"string\",\"maxLength\":2000},"
    "\"id\":{\"type\":\"string\",\"maxLength\":2000}},"
    "\"required\":[\"content\",\"status\"],\"additionalProperties\":false}}},"
    "\"required\":[\"todos\"],\"additionalProperties\":false}";

char *tool_todo_subject(const struct tool_ctx *ctx, const json_t *input)
{
    (void)ctx;
    (void)input;
    return NULL;
}

void tool_todo_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    (void)ctx;
    size_t n = json_array_size(json_object_get(input, "todos"));
    buf_addf(out, "TodoWrite (%zu item%s)", n, n == 1 ? "" : "s");
}

static enum tool_todo_status parse_status(const char *s)
{
    if (s && !strcmp(s, "in_progress"))
        return TOOL_TODO_IN_PROGRESS;
    if (s && !strcmp(s, "completed"))
        return TOOL_TODO_COMPLETED;
    return TOOL_TODO_PENDING;
}

enum brock_status tool_todo_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    const json_t *todos = json_object_get(input, "todos");
    size_t n = json_array_size(todos);
    if (n > TOOL_TODO_MAX)
        return tool_fail(out, "TodoWrite: %zu items; at most %d are allowed.", n, TOOL_TODO_MAX);
    size_t counts[3] = {0}, first_ip = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(todos, i);
        size_t cl;
        const char *c = tool_arg_str(t, "content", &cl);
        if (!c || !cl || strlen(c) != cl)
            return tool_fail(out, "TodoWrite: item %zu: `content` must be a non-empty string "
                                  "without NUL bytes.", i + 1);
        enum tool_todo_status s = parse_status(tool_arg_str(t, "status", NULL));
        if (s == TOOL_TODO_IN_PROGRESS && counts[s] == 1)
            return tool_fail(out, "TodoWrite: items %zu and %zu are both in_progress. Keep one "
                                  "item in_progress at a time; the list was not changed.",
                             first_ip, i + 1);
        if (s == TOOL_TODO_IN_PROGRESS)
            first_ip = i + 1;
        counts[s]++;
        size_t il;
        const char *id = tool_arg_str(t, "id", &il);
        for (size_t k = 0; id && k < i; k++) {
            size_t kl;
            const char *other = tool_arg_str(json_array_get(todos, k), "id", &kl);
            if (other && kl == il && !memcmp(other, id, il))
                return tool_fail(out, "TodoWrite: items %zu and %zu have the same id \"%s\"; "
                                      "ids must be unique. The list was not changed.",
                                 k + 1, i + 1, id);
        }
    }
    struct tool_todo *list = n ? xcalloc(n, sizeof *list) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(todos, i);
        size_t l;
        const char *s = tool_arg_str(t, "content", &l);
        list[i].content = xmemdup(s, l);
        s = tool_arg_str(t, "activeForm", &l);
        list[i].active_form = s ? xmemdup(s, l) : NULL;
        s = tool_arg_str(t, "id", &l);
        list[i].id = s ? xmemdup(s, l) : NULL;
        list[i].status = parse_status(tool_arg_str(t, "status", NULL));
    }
    pthread_mutex_lock(&ctx->mu);
    struct tool_todo *old = ctx->todos;
    size_t oldn = ctx->ntodos;
    ctx->todos = list;
    ctx->ntodos = n;
    pthread_mutex_unlock(&ctx->mu);
    tool_todos_free(old, oldn);
    buf_addf(&out->text,
             "Todo list updated: %zu item%s (%zu completed, %zu in progress, %zu pending). Keep "
             "using it to track progress, and carry on with the task in progress, if any.",
             n, n == 1 ? "" : "s", counts[TOOL_TODO_COMPLETED], counts[TOOL_TODO_IN_PROGRESS],
             counts[TOOL_TODO_PENDING]);
    tool_set_summary(out, "TodoWrite (%zu item%s: %zu done, %zu in progress)", n,
                     n == 1 ? "" : "s", counts[TOOL_TODO_COMPLETED],
                     counts[TOOL_TODO_IN_PROGRESS]);
    return BROCK_OK;
}
