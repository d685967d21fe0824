/* ledger_identity.c - who the ledger says made a call: the caller identity
 * from STS GetCallerIdentity, kept in a small 0600 file so a run does not
 * ask STS again for credentials it has seen (see ledger.h).
 *
 * File: {"entries": {"<cache key>": {"arn", "account", "time_ms"}}}, at most
 * LEDGER_IDENTITY_MAX_ENTRIES (the oldest are dropped), written atomically.
 * The key is the caller's hash of non-secret facts; nothing in the file is
 * a secret (an ARN and an account id). A file that does not parse is
 * treated as empty and replaced. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "ledger.h"

#define IDENTITY_FILE_MAX ((size_t)64 * 1024)

static void local_user(struct ledger_identity *out)
{
    const char *u = getenv("USER");
    char buf[256], tmp[1024];
    struct passwd pw, *res = NULL;
    if ((!u || !*u) && getpwuid_r(getuid(), &pw, tmp, sizeof tmp, &res) == 0 && res)
        u = res->pw_name; /* points into tmp */
    snprintf(buf, sizeof buf, "%.200s", u && *u ? u : "unknown");
    snprintf(out->arn, sizeof out->arn, "local:%s", buf);
    out->account[0] = '\0';
    snprintf(out->source, sizeof out->source, "local");
}

static bool valid_key(const char *k)
{
    size_t n = strlen(k);
    if (!n || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
            return false;
    return true;
}

void ledger_identity_resolve(const char *dir, const char *cache_key, ledger_sts_fn *sts, void *sts_ctx,
                             int64_t now_ms, struct ledger_identity *out, struct brock_err *why)
{
    memset(out, 0, sizeof *out);
    err_clear(why);
    bool use_cache = dir && cache_key && valid_key(cache_key);
    char *path = use_cache ? fs_join(dir, LEDGER_IDENTITY_FILE) : NULL;
    json_t *doc = use_cache ? json_entries_read(path, IDENTITY_FILE_MAX) : NULL;
    if (use_cache) {
        json_t *ent = json_object_get(json_object_get(doc, "entries"), cache_key);
        int64_t t;
        const char *arn = json_str(ent, "arn"), *acct = json_str(ent, "account");
        if (arn && *arn && strlen(arn) < sizeof out->arn && json_int(ent, "time_ms", &t) && t <= now_ms &&
            now_ms - t < LEDGER_IDENTITY_TTL_MS) {
            snprintf(out->arn, sizeof out->arn, "%s", arn);
            snprintf(out->account, sizeof out->account, "%s", acct && strlen(acct) < sizeof out->account ? acct : "");
            snprintf(out->source, sizeof out->source, "cache");
            goto done;
        }
    }
    if (!sts || !cache_key) {
        if (why)
            err_set(why, BROCK_ERR_CREDENTIALS, "no AWS credentials to ask STS with (an API key, or none)");
        local_user(out);
        goto done;
    }
    struct brock_err se = {0};
    if (sts(sts_ctx, out->arn, sizeof out->arn, out->account, sizeof out->account, &se) != BROCK_OK || !out->arn[0]) {
        if (why)
            *why = se;
        local_user(out);
        goto done;
    }
    snprintf(out->source, sizeof out->source, "sts");
    if (use_cache) {
        json_object_set_new(json_object_get(doc, "entries"), cache_key,
                            json_pack("{s:s,s:s,s:I}", "arn", out->arn, "account", out->account, "time_ms",
                                      (json_int_t)now_ms));
        (void)json_entries_write(dir, path, doc, LEDGER_IDENTITY_MAX_ENTRIES, why);
    }
done:
    json_decref(doc);
    free(path);
}
