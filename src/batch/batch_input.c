/* batch_input.c - input lines -> requests, and the streaming reader (batch_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../agent/respcache.h"
#include "../bedrock/bedrock_wire.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/fs.h"
#include "batch_int.h"

#define READ_CHUNK ((size_t)64 * 1024)

/* ---- one line ---------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

void batch_line_cleanup(struct batch_line *l)
{
    if (!l)
        return;
    free(l->id);
    free(l->model);
    json_decref(l->req.messages);
    json_decref(l->req.system);
    json_decref(l->req.tools);
    json_decref(l->req.tool_choice);
    json_decref(l->req.thinking);
    json_decref(l->req.stop_sequences);
    json_decref(l->req.extra);
    memset(l, 0, sizeof *l);
}

static void line_init(struct batch_line *l)
{
    memset(l, 0, sizeof *l);
    l->req.temperature = MODEL_UNSET;
    l->req.top_p = MODEL_UNSET;
    l->req.top_k = MODEL_UNSET;
}

static json_t *prompt_messages(json_t *text)
{
    return json_pack("[{s:s,s:o}]", "role", "user", "content", text);
}

/* "what:line: field 'k': " prefix for value errors (jansson gives no value positions). */
static enum brock_status field_bad(struct brock_err *e, const char *what, size_t line, const char *k,
                                   const char *fmt, ...) BROCK_PRINTF(5, 6);
static enum brock_status field_bad(struct brock_err *e, const char *what, size_t line, const char *k,
                                   const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(e, BROCK_ERR_PARSE, "%s:%zu: \"%s\": %s", what, line, k, msg);
}

static bool unit_number(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!(d >= 0.0 && d <= 1.0))
        return false;
    *out = d;
    return true;
}

/* A printable id: no control characters, at most BATCH_MAX_ID bytes. */
static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n > BATCH_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static enum brock_status parse_object(json_t *o, const char *what, size_t line, struct batch_line *out,
                                      struct brock_err *e)
{
    json_t *prompt = json_object_get(o, "prompt"), *messages = json_object_get(o, "messages");
    if (prompt && messages)
        return err_set(e, BROCK_ERR_PARSE, "%s:%zu: give \"prompt\" or \"messages\", not both", what, line);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!strcmp(k, "prompt")) {
            if (!json_is_string(v) || json_string_length(v) == 0)
                return field_bad(e, what, line, k, "expected a non-empty string");
            out->req.messages = prompt_messages(json_incref(v));
        } else if (!strcmp(k, "messages")) {
            if (!json_is_array(v) || json_array_size(v) == 0)
                return field_bad(e, what, line, k, "expected a non-empty array of messages");
            size_t i;
            json_t *m;
            json_array_foreach(v, i, m)
            {
                const char *role = json_string_value(json_object_get(m, "role"));
                json_t *c = json_object_get(m, "content");
                if (!json_is_object(m) || !role || (strcmp(role, "user") && strcmp(role, "assistant")) ||
                    !(json_is_string(c) || json_is_array(c)))
                    return field_bad(e, what, line, k,
                                     "messages[%zu] must be {\"role\": \"user\"|\"assistant\", \"content\": ...}", i);
            }
            out->req.messages = json_incref(v);
        } else if (!strcmp(k, "id")) {
            char num[32];
            if (json_is_integer(v)) {
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
                out->id = xstrdup(num);
            } else if (json_is_string(v) && id_ok(json_string_value(v), json_string_length(v))) {
                out->id = xmemdup(json_string_value(v), json_string_length(v));
            } else {
                return field_bad(e, what, line, k, "expected an integer or a string of 1 to %d printable bytes",
                                 BATCH_MAX_ID);
            }
        } else if (!strcmp(k, "model")) {
            if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 2048)
                return field_bad(e, what, line, k, "expected a model alias, id, profile or ARN");
            out->model = xmemdup(json_string_value(v), json_string_length(v));
        } else if (!strcmp(k, "system")) {
            if (!json_is_string(v) && !json_is_array(v))
                return field_bad(e, what, line, k, "expected a string or an array of text blocks");
            out->req.system = json_incref(v);
        } else if (!strcmp(k, "max_tokens")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
                return field_bad(e, what, line, k, "expected an integer from 1 to 1000000");
            out->req.max_tokens = (int)json_integer_value(v);
        } else if (!strcmp(k, "temperature") || !strcmp(k, "top_p")) {
            double d;
            if (!unit_number(v, &d))
                return field_bad(e, what, line, k, "expected a number from 0 to 1");
            if (!strcmp(k, "temperature"))
                out->req.temperature = d;
            else
                out->req.top_p = d;
        } else if (!strcmp(k, "top_k")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
                return field_bad(e, what, line, k, "expected an integer of 0 or more");
            out->req.top_k = (int)json_integer_value(v);
        } else if (!strcmp(k, "stop_sequences")) {
            size_t i;
            json_t *s;
            if (!json_is_array(v))
                return field_bad(e, what, line, k, "expected an array of strings");
            json_array_foreach(v, i, s)
            {
                if (!json_is_string(s))
                    return field_bad(e, what, line, k, "item %zu is not a string", i);
            }
            out->req.stop_sequences = json_incref(v);
        } else if (!strcmp(k, "tools")) {
            if (!json_is_array(v))
                return field_bad(e, what, line, k, "expected an array of tool definitions");
            out->req.tools = json_incref(v);
        } else if (!strcmp(k, "tool_choice")) {
            if (!json_is_object(v) || !json_is_string(json_object_get(v, "type")))
                return field_bad(e, what, line, k, "expected an object with a \"type\"");
            out->req.tool_choice = json_incref(v);
        } else if (!strcmp(k, "thinking")) {
            if (!json_is_object(v))
                return field_bad(e, what, line, k, "expected an object");
            out->req.thinking = json_incref(v);
        } else if (!strcmp(k, "anthropic_version")) {
            if (!json_is_string(v) || strcmp(json_string_value(v), BEDROCK_ANTHROPIC_VERSION))
                return field_bad(e, what, line, k, "expected \"%s\"", BEDROCK_ANTHROPIC_VERSION);
        } else if (!strcmp(k, "stream") || !strcmp(k, "anthropic_model")) {
            return field_bad(e, what, line, k, "not allowed in a batch (the model and streaming are brock's)");
        } else if (messages) {
            /* a full Messages body: other members go to Bedrock as given */
            if (!out->req.extra)
                out->req.extra = json_object();
            json_object_set(out->req.extra, k, v);
        } else {
            return err_set(e, BROCK_ERR_PARSE,
                           "%s:%zu: unknown field \"%.60s\" (a prompt line takes prompt, id, model, system, "
                           "max_tokens, temperature, top_p, top_k, stop_sequences)",
                           what, line, k);
        }
    }
    if (!prompt && !messages)
        return err_set(e, BROCK_ERR_PARSE,
                       "%s:%zu: an object line needs \"prompt\" (a string) or \"messages\" (a Messages body)", what,
                       line);
    return BROCK_OK;
}

enum brock_status batch_parse_line(const char *p, size_t n, const char *what, size_t line, struct batch_line *out,
                                   struct brock_err *e)
{
    line_init(out);
    size_t lead = 0;
    while (lead < n && is_space(p[lead]))
        lead++;
    while (n > lead && is_space(p[n - 1]))
        n--;
    if (lead == n)
        return err_set(e, BROCK_ERR_NOT_FOUND, "%s:%zu: blank line", what, line);
    if (n > BATCH_MAX_LINE)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s:%zu: line longer than %zu bytes", what, line, BATCH_MAX_LINE);
    const char *s = p + lead;
    size_t len = n - lead;
    enum brock_status st = BROCK_OK;
    if (*s != '{' && *s != '"') {
        if (memchr(s, '\0', len))
            return err_set(e, BROCK_ERR_PARSE, "%s:%zu: the line holds a NUL byte (binary data is not a prompt)", what,
                           line);
        json_t *t = json_stringn(s, len);
        if (!t)
            return err_set(e, BROCK_ERR_PARSE, "%s:%zu: the line is not valid UTF-8 text", what, line);
        out->req.messages = prompt_messages(t);
        return BROCK_OK;
    }
    json_error_t je;
    json_t *v = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v)
        return err_set(e, BROCK_ERR_PARSE, "%s:%zu:%d: not valid JSON: %s", what, line,
                       je.column > 0 ? je.column + (int)lead : (int)lead + 1, je.text);
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            st = err_set(e, BROCK_ERR_PARSE, "%s:%zu: the prompt is an empty string", what, line);
        else
            out->req.messages = prompt_messages(json_incref(v));
    } else if (json_is_object(v)) {
        st = parse_object(v, what, line, out, e);
    } else {
        st = err_set(e, BROCK_ERR_PARSE, "%s:%zu: expected a prompt string or an object", what, line);
    }
    json_decref(v);
    if (st != BROCK_OK)
        batch_line_cleanup(out);
    return st;
}

/* ---- the reader --------------------------------------------------------------- */

struct batch_reader {
    const struct batch_options *o;
    /* JSONL mode */
    int fd;
    char *buf;           /* read buffer */
    size_t len, pos, cap;
    bool eof;
    size_t line;         /* lines consumed */
    /* prompt-file mode */
    char *prompt;
    size_t next_file;
    size_t index;
    size_t total;
    uint8_t id[SHA256_LEN];
};

void batch_item_cleanup(struct batch_item *it)
{
    if (!it)
        return;
    batch_line_cleanup(&it->l);
    memset(it, 0, sizeof *it);
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_space(p[i]))
            return false;
    return true;
}

/* Hash the file and count its non-blank lines in one pass. */
static enum brock_status scan_jsonl(struct batch_reader *r, const char *path, struct brock_err *e)
{
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, "jsonl\n", 6);
    char *chunk = xmalloc(READ_CHUNK);
    size_t cur = 0, lineno = 1;
    bool nonblank = false;
    enum brock_status st = BROCK_OK;
    for (;;) {
        ssize_t got = read(r->fd, chunk, READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            st = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        sha256_update(&h, chunk, (size_t)got);
        for (ssize_t i = 0; i < got; i++) {
            char c = chunk[i];
            if (c == '\n') {
                r->total += nonblank;
                nonblank = false;
                cur = 0;
                lineno++;
                continue;
            }
            if (++cur > BATCH_MAX_LINE + 2) {
                st = err_set(e, BROCK_ERR_TOO_LARGE, "%s:%zu: line longer than %zu bytes", path, lineno,
                             BATCH_MAX_LINE);
                break;
            }
            nonblank |= !is_space(c);
        }
        if (st != BROCK_OK)
            break;
    }
    r->total += nonblank;
    free(chunk);
    uint8_t d[SHA256_LEN];
    sha256_final(&h, d);
    sha256_free(&h);
    memcpy(r->id, d, sizeof d);
    if (st == BROCK_OK && r->total > BATCH_MAX_RECORDS)
        st = err_set(e, BROCK_ERR_TOO_LARGE, "%s: more than %zu records", path, BATCH_MAX_RECORDS);
    if (st == BROCK_OK && lseek(r->fd, 0, SEEK_SET) < 0)
        st = err_set(e, BROCK_ERR_IO, "%s: cannot rewind: %s", path, strerror(errno));
    return st;
}

/* Identity of a prompt-file run: the prompt and every file's name and bytes. */
static enum brock_status scan_files(struct batch_reader *r, struct brock_err *e)
{
    const struct batch_options *o = r->o;
    struct buf p = BUF_INIT(BATCH_MAX_PROMPT_FILE);
    enum brock_status st = fs_read_file(o->prompt_file, BATCH_MAX_PROMPT_FILE, &p, e);
    if (st != BROCK_OK) {
        buf_free(&p);
        return err_prefix(e, "--prompt-file");
    }
    json_t *utf8 = json_stringn(buf_cstr(&p), p.len); /* jansson checks UTF-8 */
    bool text_ok = utf8 && !blank(buf_cstr(&p), p.len);
    json_decref(utf8);
    if (!text_ok) {
        size_t len = p.len;
        buf_free(&p);
        return err_set(e, BROCK_ERR_USAGE, "--prompt-file %s: %s", o->prompt_file,
                       len ? "not UTF-8 text, or only blanks" : "empty");
    }
    r->prompt = buf_take(&p);
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, "files\n", 6);
    sha256_update(&h, r->prompt, strlen(r->prompt) + 1);
    for (size_t i = 0; i < o->n_files; i++) {
        struct buf f = BUF_INIT(BATCH_MAX_FILE);
        struct brock_err fe;
        sha256_update(&h, o->files[i], strlen(o->files[i]) + 1);
        if (fs_read_file(o->files[i], BATCH_MAX_FILE, &f, &fe) == BROCK_OK) {
            uint8_t d[SHA256_LEN];
            crypto_sha256(buf_cstr(&f), f.len, d);
            sha256_update(&h, d, sizeof d);
        } else {
            sha256_update(&h, "?", 1); /* unreadable now: its record says why */
        }
        buf_free(&f);
    }
    uint8_t d[SHA256_LEN];
    sha256_final(&h, d);
    sha256_free(&h);
    memcpy(r->id, d, sizeof d);
    r->total = o->n_files;
    return BROCK_OK;
}

enum brock_status batch_reader_open(const struct batch_options *o, struct batch_reader **out, struct brock_err *e)
{
    *out = NULL;
    struct batch_reader *r = xcalloc(1, sizeof *r);
    r->o = o;
    r->fd = -1;
    enum brock_status st;
    if (o->prompt_file) {
        if (o->input_path)
            st = err_set(e, BROCK_ERR_USAGE, "give an input file or --prompt-file with files, not both");
        else if (!o->n_files)
            st = err_set(e, BROCK_ERR_USAGE, "--prompt-file needs the files to apply the prompt to");
        else
            st = scan_files(r, e);
    } else if (!o->input_path) {
        st = err_set(e, BROCK_ERR_USAGE, "no input: give INPUT.jsonl, or --prompt-file PROMPT FILE...");
    } else {
        r->fd = open(o->input_path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0)
            st = err_set(e, errno == ENOENT ? BROCK_ERR_NOT_FOUND : BROCK_ERR_IO, "%s: %s", o->input_path,
                         strerror(errno));
        else
            st = scan_jsonl(r, o->input_path, e);
    }
    if (st != BROCK_OK) {
        batch_reader_free(r);
        return st;
    }
    *out = r;
    return BROCK_OK;
}

void batch_reader_free(struct batch_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r->prompt);
    free(r);
}

size_t batch_reader_total(const struct batch_reader *r)
{
    return r->total;
}

const uint8_t *batch_reader_identity(const struct batch_reader *r)
{
    return r->id;
}

/* The next line of the file (without '\n'); false at the end. */
static enum brock_status next_line(struct batch_reader *r, const char **p, size_t *n, struct brock_err *e)
{
    for (;;) {
        char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl || (r->eof && r->pos < r->len)) {
            size_t end = nl ? (size_t)(nl - r->buf) : r->len;
            *p = r->buf + r->pos;
            *n = end - r->pos;
            r->pos = nl ? end + 1 : end;
            r->line++;
            return BROCK_OK;
        }
        if (r->eof)
            return BROCK_ERR_NOT_FOUND;
        if (r->len - r->pos > BATCH_MAX_LINE + 2)
            return err_set(e, BROCK_ERR_TOO_LARGE, "%s:%zu: line longer than %zu bytes", r->o->input_path,
                           r->line + 1, BATCH_MAX_LINE);
        /* keep the partial line, make room, read more */
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        if (r->cap - r->len < READ_CHUNK) {
            r->cap = r->cap ? r->cap * 2 : 2 * READ_CHUNK;
            r->buf = xrealloc(r->buf, r->cap);
        }
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return err_set(e, BROCK_ERR_IO, "%s: %s", r->o->input_path, strerror(errno));
        if (got == 0)
            r->eof = true;
        r->len += (size_t)got;
    }
}

static void file_record(struct batch_reader *r, struct batch_item *it)
{
    const char *path = r->o->files[r->next_file];
    it->file = path;
    it->line = r->next_file + 1;
    struct buf f = BUF_INIT(BATCH_MAX_FILE);
    struct brock_err fe = {0};
    if (fs_read_file(path, BATCH_MAX_FILE, &f, &fe) != BROCK_OK) {
        it->invalid = true;
        snprintf(it->err, sizeof it->err, "%s", fe.msg);
        buf_free(&f);
        return;
    }
    struct buf text = BUF_INIT(BATCH_MAX_FILE + BATCH_MAX_PROMPT_FILE + 4096);
    buf_addstr(&text, r->prompt);
    buf_addf(&text, "\n\nFile: %s\n\n", path);
    buf_add(&text, buf_cstr(&f), f.len);
    bool binary = memchr(buf_cstr(&f), '\0', f.len) != NULL;
    json_t *t = buf_status(&text) == BROCK_OK && !binary ? json_stringn(buf_cstr(&text), text.len) : NULL;
    buf_free(&f);
    buf_free(&text);
    if (!t) {
        it->invalid = true;
        snprintf(it->err, sizeof it->err, "%s: not UTF-8 text (binary files cannot be sent as a prompt)", path);
        return;
    }
    line_init(&it->l);
    it->l.id = xstrdup(path);
    it->l.req.messages = prompt_messages(t);
}

enum brock_status batch_reader_next(struct batch_reader *r, bool parse, struct batch_item *it, struct brock_err *e)
{
    memset(it, 0, sizeof *it);
    if (r->o->prompt_file) {
        if (r->next_file >= r->o->n_files)
            return BROCK_ERR_NOT_FOUND;
        it->index = r->index++;
        if (parse)
            file_record(r, it);
        else {
            it->file = r->o->files[r->next_file];
            it->line = r->next_file + 1;
        }
        r->next_file++;
        return BROCK_OK;
    }
    for (;;) {
        const char *p = NULL;
        size_t n = 0;
        enum brock_status st = next_line(r, &p, &n, e);
        if (st != BROCK_OK)
            return st;
        if (blank(p, n))
            continue;
        it->index = r->index++;
        it->line = r->line;
        if (!parse)
            return BROCK_OK;
        struct brock_err le = {0};
        st = batch_parse_line(p, n, r->o->input_path, r->line, &it->l, &le);
        if (st != BROCK_OK) {
            it->invalid = true;
            snprintf(it->err, sizeof it->err, "%s", le.msg);
        }
        return BROCK_OK;
    }
}

/* ---- requests ------------------------------------------------------------------- */

void batch_prepared_init(struct batch_prepared *p)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->body, BEDROCK_MAX_REQUEST_BYTES);
}

void batch_prepared_cleanup(struct batch_prepared *p)
{
    if (p)
        buf_free(&p->body);
}

enum brock_status batch_prepare(const struct batch_defaults *d, const struct batch_item *it,
                                struct batch_prepared *out, struct brock_err *e)
{
    const struct batch_line *l = &it->l;
    if (l->model) {
        if (catalog_resolve(l->model, d->region, false, &out->model, e) != BROCK_OK)
            return err_prefix(e, "line %zu", it->line);
        if (!out->model.model && catalog_is_app_profile(out->model.model_id)) /* its model, when known */
            out->model.model = !strcmp(out->model.model_id, d->model.model_id) ? d->model.model
                               : d->profile_model_of ? d->profile_model_of(d->profile_ctx, out->model.model_id)
                                                     : NULL;
    } else {
        out->model = d->model;
    }
    struct model_request req = l->req;
    req.model_id = out->model.model_id;
    req.api = MODEL_API_MESSAGES;
    req.stream = false;
    json_t *sys = NULL;
    if (!req.system && d->system && *d->system)
        req.system = sys = json_string(d->system);
    if (req.temperature == (double)MODEL_UNSET)
        req.temperature = d->temperature;
    int mt = req.max_tokens > 0 ? req.max_tokens : d->max_tokens;
    if (mt <= 0) {
        mt = BATCH_DEFAULT_MAX_TOKENS;
        if (out->model.model && out->model.model->max_output && (uint32_t)mt > out->model.model->max_output)
            mt = (int)out->model.model->max_output;
    }
    req.max_tokens = mt;
    out->max_tokens = mt;
    buf_reset(&out->body);
    enum brock_status st = bedrock_invoke_body(&req, &out->body, e);
    out->cache_key[0] = '\0';
    if (st == BROCK_OK) {
        out->est_tokens = bedrock_estimate_tokens(&req) + mt;
        struct brock_err ke;
        if (d->cache && respcache_eligible(d->cache, &req) && respcache_key(&req, out->cache_key, &ke) != BROCK_OK)
            out->cache_key[0] = '\0';
    } else {
        err_prefix(e, "line %zu", it->line);
    }
    json_decref(sys);
    return st;
}

static void hash_str(struct sha256_ctx *h, const char *s)
{
    s = s ? s : "";
    sha256_update(h, s, strlen(s) + 1);
}

void batch_config_identity(const struct batch_options *o, const struct batch_defaults *d, const char *engine,
                           char out[SHA256_HEX_LEN + 1])
{
    struct sha256_ctx h;
    char num[64];
    sha256_init(&h);
    hash_str(&h, "brock-batch-config-1");
    hash_str(&h, engine);
    hash_str(&h, o->format == BATCH_FORMAT_TEXT ? "text" : "json");
    hash_str(&h, d->model.model_id);
    hash_str(&h, d->region);
    hash_str(&h, d->system);
    snprintf(num, sizeof num, "%d %.17g", d->max_tokens, d->temperature);
    hash_str(&h, num);
    uint8_t dg[SHA256_LEN];
    sha256_final(&h, dg);
    sha256_free(&h);
    hex_encode(dg, sizeof dg, out);
}
