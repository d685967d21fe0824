/* cmd_cache.c - `brock cache stats|clear`: the response cache in the store.
 *
 *   brock cache stats [--json]   entries, size against the limit, hits,
 *                                misses, evictions, expirations, oldest entry
 *   brock cache clear            remove every entry and reset the counters
 *
 * The size limit shown is the one runs use: settings brock.cache.max_mb
 * (respcache.h), read from the settings files of the working directory. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/respcache.h"
#include "../agent/settings.h"
#include "../store/store.h"
#include "../util/timeutil.h"
#include "cli.h"
#include "exitcode.h"

static void mib(char *out, size_t n, int64_t bytes)
{
    if (bytes < 1024)
        snprintf(out, n, "%lld bytes", (long long)bytes);
    else if (bytes < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", (double)bytes / 1024.0);
    else
        snprintf(out, n, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

int cmd_cache(const struct cli_config *cfg)
{
    struct brock_err e = {0};
    const char *what = cfg->nargs ? cfg->args[0] : "stats";
    if (cfg->nargs > 1 || (strcmp(what, "stats") && strcmp(what, "clear"))) {
        fprintf(stderr, "brock: cache: expected `brock cache stats` or `brock cache clear`\n");
        return EXIT_USAGE;
    }
    /* the limit runs use */
    struct respcache_policy pol;
    struct settings *set = NULL;
    char cwd[PATH_MAX];
    struct settings_opts so = {.cwd = getcwd(cwd, sizeof cwd) ? cwd : NULL};
    if (settings_load(&so, &set, &e) != BROCK_OK ||
        respcache_policy_init(&pol, set->brock, false, false, false, &e) != BROCK_OK) {
        settings_free(set);
        return cli_fail(&e);
    }
    settings_free(set);
    struct store *s = NULL;
    if (store_open(NULL, &s, &e) != BROCK_OK)
        return cli_fail(&e);
    store_cache_set_limit(s, pol.max_bytes);
    int rc = EXIT_OK;
    if (!strcmp(what, "clear")) {
        int64_t removed = 0;
        if (store_cache_clear(s, &removed, &e) != BROCK_OK)
            rc = cli_fail(&e);
        else if (cfg->json)
            printf("{\"removed\": %lld}\n", (long long)removed);
        else
            printf("Removed %lld entr%s from the response cache.\n", (long long)removed, removed == 1 ? "y" : "ies");
        store_close(s);
        return rc;
    }
    struct store_cache_stats st;
    if (store_cache_stats(s, &st, &e) != BROCK_OK) {
        rc = cli_fail(&e);
        store_close(s);
        return rc;
    }
    int64_t lookups = st.hits + st.misses;
    char oldest[21] = "";
    if (st.oldest_ms > 0)
        time_fmt_iso8601(st.oldest_ms / 1000, oldest);
    if (cfg->json) {
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:o,s:I,s:s}", "entries", (json_int_t)st.entries,
                              "bytes", (json_int_t)st.bytes, "max_bytes", (json_int_t)st.max_bytes, "hits",
                              (json_int_t)st.hits, "misses", (json_int_t)st.misses, "evictions",
                              (json_int_t)st.evictions, "expirations", (json_int_t)st.expirations, "hit_rate",
                              lookups ? (double)st.hits / (double)lookups : 0.0, "oldest",
                              oldest[0] ? json_string(oldest) : json_null(), "ttl_s", (json_int_t)pol.ttl_s,
                              "database", store_path(s));
        char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(txt);
        free(txt);
        json_decref(o);
    } else {
        char used[32], max[32];
        mib(used, sizeof used, st.bytes);
        mib(max, sizeof max, st.max_bytes);
        printf("Response cache: %lld entr%s, %s of %s\n", (long long)st.entries, st.entries == 1 ? "y" : "ies", used,
               max);
        printf("Lookups: %lld hit%s, %lld miss%s", (long long)st.hits, st.hits == 1 ? "" : "s", (long long)st.misses,
               st.misses == 1 ? "" : "es");
        if (lookups)
            printf(" (%.0f%% hit rate)", 100.0 * (double)st.hits / (double)lookups);
        printf("\nRemoved: %lld evicted (size limit), %lld expired (TTL %lld s)\n", (long long)st.evictions,
               (long long)st.expirations, (long long)pol.ttl_s);
        printf("Oldest entry: %s\n", oldest[0] ? oldest : "-");
        printf("Database: %s\n", store_path(s));
    }
    store_close(s);
    return rc;
}
