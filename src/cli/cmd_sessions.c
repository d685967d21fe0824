/* cmd_sessions.c - `brock sessions [DIR]`: the saved sessions, newest first,
 * as a table or (--json) as JSON. `brock -p --resume ID` continues one,
 * `brock -p --continue` the newest of the working directory. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"
#include "../util/alloc.h"
#include "cli.h"
#include "exitcode.h"

static void fmt_local(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
    else
        snprintf(out, 32, "-");
}

static void fmt_iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, 32, "-");
}

int cmd_sessions(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    if (cfg->nargs > 1) {
        fprintf(stderr, "brock: sessions takes at most one directory\n");
        return EXIT_USAGE;
    }
    char dir[PATH_MAX];
    if (cfg->nargs == 1 && !realpath(cfg->args[0], dir)) {
        fprintf(stderr, "brock: sessions: no directory %s\n", cfg->args[0]);
        return EXIT_USAGE;
    }
    struct store *s = NULL;
    if (store_open(NULL, &s, &e) != BROCK_OK)
        return cli_fail(&e);
    struct store_session_list l = {0};
    enum brock_status st = store_session_list(s, cfg->nargs ? dir : NULL, 0, &l, &e);
    if (st != BROCK_OK) {
        store_close(s);
        return cli_fail(&e);
    }
    if (cfg->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < l.n; i++) {
            const struct store_session_info *it = &l.items[i];
            char created[32], updated[32];
            fmt_iso(it->created_ms, created);
            fmt_iso(it->updated_ms, updated);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:f}", "id", it->id, "created", created,
                                                 "updated", updated, "directory", it->dir ? it->dir : "", "title",
                                                 it->title ? it->title : "", "model", it->model ? it->model : "",
                                                 "messages", (json_int_t)it->message_count, "cost_usd", it->cost_usd));
        }
        char *out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(out);
        free(out);
        json_decref(arr);
    } else if (!l.n) {
        printf("No saved sessions%s. `brock -p \"...\"` starts one.\n", cfg->nargs ? " for that directory" : "");
    } else {
        printf("%-36s  %-16s  %5s  %9s  %s\n", "ID", "UPDATED", "MSGS", "COST", "DIRECTORY / TITLE");
        for (size_t i = 0; i < l.n; i++) {
            const struct store_session_info *it = &l.items[i];
            char updated[32];
            fmt_local(it->updated_ms, updated);
            printf("%-36s  %-16s  %5lld  $%8.4f  %s\n    %s\n", it->id, updated, (long long)it->message_count,
                   it->cost_usd, it->dir ? it->dir : "", it->title && *it->title ? it->title : "(untitled)");
        }
    }
    store_session_list_free(&l);
    store_close(s);
    return EXIT_OK;
}
