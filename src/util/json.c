#include "json.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "fs.h"

enum brock_status json_parse(const char *p, size_t n, const char *what, json_t **out,
                             struct brock_err *e)
{
    *out = NULL;
    if (n > JSON_MAX_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: JSON larger than %zu bytes", what, JSON_MAX_BYTES);
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!v) {
        /* jansson's text quotes the input near the error ("... near 'xyz'"),
         * which may be a secret: keep only the reason. */
        char *near = strstr(je.text, " near ");
        if (near)
            *near = '\0';
        return err_set(e, BROCK_ERR_PARSE, "%s:%d:%d: invalid JSON: %s", what, je.line, je.column,
                       je.text);
    }
    *out = v;
    return BROCK_OK;
}

const char *json_str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool json_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9.2e18) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

char *json_dump_compact(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!s) {
        /* jansson only fails here on allocation failure */
        return xstrdup("null");
    }
    return s;
}

json_t *json_entries_parse(const char *text, size_t len, const char *what)
{
    json_t *doc = NULL;
    if (text && len)
        (void)json_parse(text, len, what, &doc, NULL);
    if (doc && !json_is_object(json_object_get(doc, "entries"))) {
        json_decref(doc);
        doc = NULL;
    }
    return doc ? doc : json_pack("{s:{}}", "entries");
}

json_t *json_entries_read(const char *path, size_t max_bytes)
{
    struct buf b = BUF_INIT(max_bytes);
    bool read = path && fs_read_file(path, max_bytes, &b, NULL) == BROCK_OK;
    json_t *doc = json_entries_parse(read ? b.ptr : NULL, read ? b.len : 0, path);
    buf_free(&b);
    return doc;
}

enum brock_status json_entries_write(const char *dir, const char *path, json_t *doc, size_t max_entries,
                                     struct brock_err *e)
{
    json_t *entries = json_object_get(doc, "entries");
    while (json_object_size(entries) > max_entries) {
        const char *oldest = NULL, *k;
        int64_t ot = INT64_MAX, t;
        json_t *v;
        json_object_foreach(entries, k, v)
        {
            if (!json_int(v, "time_ms", &t))
                t = 0;
            if (t < ot) {
                ot = t;
                oldest = k;
            }
        }
        if (!oldest)
            break;
        json_object_del(entries, oldest);
    }
    char *text = json_dump_compact(doc);
    enum brock_status st = fs_mkdirs(dir, 0700, e);
    if (st == BROCK_OK)
        st = fs_write_atomic(path, text, strlen(text), 0600, e);
    free(text);
    return st;
}
