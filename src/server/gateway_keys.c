/* gateway_keys.c - the gateway's client keys: --key TOKEN=USER[/PROJECT] and
 * the keys file (gateway.h). Secrets are never quoted in a message. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "gateway.h"

static bool name_ok(const char *s, size_t n)
{
    if (n < 1 || n > GATEWAY_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '@' || c == '+' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Visible ASCII without '=' (the spec separator) or ',' . */
static bool token_ok(const char *s, size_t n)
{
    if (n < GATEWAY_MIN_TOKEN || n > GATEWAY_MAX_TOKEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '=' || s[i] == ',')
            return false;
    return true;
}

static bool akid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

void gateway_key_clear(struct gateway_key *k)
{
    xfree_secret(k->token);
    xfree_secret(k->secret_access_key);
    free(k->access_key_id);
    free(k->user);
    free(k->project);
    memset(k, 0, sizeof *k);
}

void gateway_keys_free(struct gateway_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        gateway_key_clear(&k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

static bool dup_token(const struct gateway_keys *k, const char *token)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->v[i].token && !strcmp(k->v[i].token, token))
            return true;
    return false;
}

/* The tokens or access key ids of k->v, for a file's duplicate check: an
 * open-addressed set of indexes + 1 (comparing each key with every one
 * before it took ~25 ms, all of it on the event loop at a reload, for a
 * file of 4,096 keys). */
struct key_set {
    uint32_t *slot;
    size_t mask;
    bool akid; /* the set holds access key ids, else tokens */
};

static void key_set_init(struct key_set *ks, size_t n, bool akid)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    ks->slot = xcalloc(cap, sizeof *ks->slot);
    ks->mask = cap - 1;
    ks->akid = akid;
}

static const char *key_set_str(const struct key_set *ks, const struct gateway_key *key)
{
    return ks->akid ? key->access_key_id : key->token;
}

/* Whether s is in the set; if not and add, k->v[idx] goes in (its string
 * is s). */
static bool key_set_has(struct key_set *ks, const struct gateway_keys *k, const char *s, bool add, size_t idx)
{
    size_t i = (size_t)fnv1a64_str(s) & ks->mask;
    for (; ks->slot[i]; i = (i + 1) & ks->mask)
        if (!strcmp(key_set_str(ks, &k->v[ks->slot[i] - 1]), s))
            return true;
    if (add)
        ks->slot[i] = (uint32_t)idx + 1;
    return false;
}

static void push(struct gateway_keys *k, struct gateway_key *key)
{
    k->v = xrealloc(k->v, (k->n + 1) * sizeof *k->v);
    k->v[k->n++] = *key;
}

enum brock_status gateway_keys_add_spec(struct gateway_keys *k, const char *spec, struct brock_err *e)
{
    if (k->n >= GATEWAY_MAX_KEYS)
        return err_set(e, BROCK_ERR_TOO_LARGE, "--key: more than %d keys", GATEWAY_MAX_KEYS);
    const char *eq = strrchr(spec, '=');
    if (!eq)
        return err_set(e, BROCK_ERR_USAGE, "--key: expected TOKEN=USER[/PROJECT] (no '=' found)");
    size_t tl = (size_t)(eq - spec);
    if (!token_ok(spec, tl))
        return err_set(e, BROCK_ERR_USAGE,
                       "--key: the token must be %d to %d visible ASCII characters without '=' or ',' "
                       "(the given one has %zu characters)",
                       GATEWAY_MIN_TOKEN, GATEWAY_MAX_TOKEN, tl);
    const char *who = eq + 1, *slash = strchr(who, '/');
    size_t ul = slash ? (size_t)(slash - who) : strlen(who);
    if (!name_ok(who, ul))
        return err_set(e, BROCK_ERR_USAGE,
                       "--key: the user after '=' must be 1 to %d of A-Z a-z 0-9 . _ @ + - (the given one has %zu "
                       "characters; it is not repeated here in case the parts were swapped)",
                       GATEWAY_MAX_NAME, ul);
    if (slash && !name_ok(slash + 1, strlen(slash + 1)))
        return err_set(e, BROCK_ERR_USAGE, "--key: the project after '/' must be 1 to %d of A-Z a-z 0-9 . _ @ + -",
                       GATEWAY_MAX_NAME);
    char *tok = xstrndup(spec, tl);
    if (dup_token(k, tok)) {
        xfree_secret(tok);
        return err_set(e, BROCK_ERR_USAGE, "--key: the same token is given twice");
    }
    struct gateway_key key = {
        .token = tok,
        .user = xstrndup(who, ul),
        .project = xstrdup(slash ? slash + 1 : ""),
    };
    push(k, &key);
    return BROCK_OK;
}

static enum brock_status bad(struct brock_err *e, const char *what, size_t i, const char *fmt, const char *field)
{
    return err_set(e, BROCK_ERR_PARSE, "%s: keys[%zu]: %s%s", what, i, fmt, field ? field : "");
}

/* "max_rpm": a whole number of requests a minute, 1 to GATEWAY_MAX_RPM. */
static bool get_rpm(const json_t *o, long *out)
{
    const json_t *v = json_object_get(o, "max_rpm");
    *out = 0;
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > GATEWAY_MAX_RPM)
        return false;
    *out = (long)json_integer_value(v);
    return true;
}

static bool get_usd(const json_t *o, const char *name, double *out)
{
    const json_t *v = json_object_get(o, name);
    *out = 0;
    if (!v)
        return true;
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > 1e9)
        return false;
    *out = d;
    return true;
}

enum brock_status gateway_keys_parse(struct gateway_keys *k, const char *text, size_t n, const char *what,
                                     struct brock_err *e)
{
    if (n > GATEWAY_KEYS_FILE_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu bytes", what, GATEWAY_KEYS_FILE_MAX);
    /* jansson's own messages may quote the text near the error (a token):
     * say only where it is. */
    json_error_t je;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(e, BROCK_ERR_PARSE, "%s:%d:%d: not valid JSON (or a duplicated field)", what, je.line,
                       je.column);
    enum brock_status st = BROCK_OK;
    const json_t *arr = json_object_get(root, "keys");
    if (!json_is_object(root) || !json_is_array(arr)) {
        json_decref(root);
        return err_set(e, BROCK_ERR_PARSE, "%s: expected {\"keys\": [...]}", what);
    }
    size_t start = k->n;
    /* at most GATEWAY_MAX_KEYS go in: the sets never fill up */
    size_t most = k->n + json_array_size(arr);
    struct key_set toks, akids;
    key_set_init(&toks, most < GATEWAY_MAX_KEYS ? most : GATEWAY_MAX_KEYS, false);
    key_set_init(&akids, most < GATEWAY_MAX_KEYS ? most : GATEWAY_MAX_KEYS, true);
    for (size_t j = 0; j < k->n; j++) {
        if (k->v[j].token)
            key_set_has(&toks, k, k->v[j].token, true, j);
        if (k->v[j].access_key_id)
            key_set_has(&akids, k, k->v[j].access_key_id, true, j);
    }
    size_t i;
    const json_t *o;
    json_array_foreach(arr, i, o) {
        if (k->n >= GATEWAY_MAX_KEYS) {
            st = err_set(e, BROCK_ERR_TOO_LARGE, "%s: more than %d keys", what, GATEWAY_MAX_KEYS);
            break;
        }
        if (!json_is_object(o)) {
            st = bad(e, what, i, "expected an object", NULL);
            break;
        }
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)o, key, val) {
            static const char *const known[] = {"token", "access_key_id", "secret_access_key", "user", "project",
                                                "daily_usd", "monthly_usd", "max_rpm"};
            size_t j = 0;
            while (j < BROCK_ARRAY_LEN(known) && strcmp(known[j], key))
                j++;
            if (j == BROCK_ARRAY_LEN(known)) {
                st = err_set(e, BROCK_ERR_PARSE, "%s: keys[%zu]: unknown field '%.64s'", what, i, key);
                break;
            }
        }
        if (st != BROCK_OK)
            break;
        const char *tok = json_str(o, "token"), *akid = json_str(o, "access_key_id"),
                   *secret = json_str(o, "secret_access_key"), *user = json_str(o, "user"),
                   *project = json_str(o, "project");
        if (!user || !name_ok(user, strlen(user))) {
            st = bad(e, what, i, "\"user\" is required: 1 to 128 of A-Z a-z 0-9 . _ @ + -", NULL);
            break;
        }
        if (project && *project && !name_ok(project, strlen(project))) {
            st = bad(e, what, i, "\"project\": 1 to 128 of A-Z a-z 0-9 . _ @ + -", NULL);
            break;
        }
        if (!tok == !akid) {
            st = bad(e, what, i, "give either \"token\" or \"access_key_id\" + \"secret_access_key\"", NULL);
            break;
        }
        if (tok && !token_ok(tok, strlen(tok))) {
            st = bad(e, what, i, "\"token\" must be 16 to 1024 visible ASCII characters without '=' or ','", NULL);
            break;
        }
        if (akid && !akid_ok(akid)) {
            st = bad(e, what, i, "\"access_key_id\" must be 16 to 128 of A-Z 0-9", NULL);
            break;
        }
        if (akid && (!secret || strlen(secret) < 16 || strlen(secret) > 128)) {
            st = bad(e, what, i, "\"secret_access_key\" (16 to 128 characters) is required with access_key_id", NULL);
            break;
        }
        if ((tok && key_set_has(&toks, k, tok, false, 0)) || (akid && key_set_has(&akids, k, akid, false, 0))) {
            st = bad(e, what, i, "the same ", tok ? "token is given twice" : "access key id is given twice");
            break;
        }
        struct gateway_key nk = {0};
        if (!get_usd(o, "daily_usd", &nk.daily_usd) || !get_usd(o, "monthly_usd", &nk.monthly_usd)) {
            st = bad(e, what, i, "\"daily_usd\" and \"monthly_usd\" are amounts from 0 to 1e9", NULL);
            break;
        }
        if (!get_rpm(o, &nk.max_rpm)) {
            st = bad(e, what, i, "\"max_rpm\" is a whole number of requests a minute, from 1 to 1000000", NULL);
            break;
        }
        nk.token = tok ? xstrdup(tok) : NULL;
        nk.access_key_id = akid ? xstrdup(akid) : NULL;
        nk.secret_access_key = akid ? xstrdup(secret) : NULL;
        nk.user = xstrdup(user);
        nk.project = xstrdup(project ? project : "");
        push(k, &nk);
        key_set_has(tok ? &toks : &akids, k, tok ? tok : akid, true, k->n - 1);
    }
    free(toks.slot);
    free(akids.slot);
    json_decref(root);
    if (st != BROCK_OK) {
        while (k->n > start)
            gateway_key_clear(&k->v[--k->n]);
    }
    return st;
}

enum brock_status gateway_keys_load(struct gateway_keys *k, const char *path, struct brock_err *e)
{
    struct buf b = BUF_INIT(GATEWAY_KEYS_FILE_MAX);
    enum brock_status st = fs_read_file(path, GATEWAY_KEYS_FILE_MAX, &b, e);
    if (st == BROCK_OK)
        st = gateway_keys_parse(k, buf_cstr(&b), b.len, path, e);
    buf_free_secure(&b);
    return st;
}
