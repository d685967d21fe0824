/* batch_output.c - result records, the output file and its checkpoint (batch_int.h).
 *
 * The checkpoint is 640 bytes and never grows:
 *
 *   0..511    a header: one JSON line naming the input, the options and the
 *             format, padded with spaces to 511 bytes and a newline
 *   512..575  slot 0: "<records:20> <bytes:20> <crc32:8>\n" padded to 64
 *   576..639  slot 1: the same
 *
 * Each progress update goes to the other slot than the one before, with one
 * pwrite(), after the records themselves were written to the output. A kill at any point leaves
 * at least one slot valid: the newest one that checks out (CRC, and its byte
 * count fits the output and ends a line) says where the output really ends,
 * and the output is cut there. Nothing after the last recorded record is
 * kept, so nothing is ever written twice. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "batch_int.h"

#define CK_HEADER 512
#define CK_SLOT 64
#define CK_SIZE (CK_HEADER + 2 * CK_SLOT)
#define CK_MAGIC "brock_batch_checkpoint"

/* ---- JSON strings ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

void batch_json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    buf_reserve(b, n + 2);
    buf_addc(b, '"');
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_seq(p + i, n - i);
            if (l) {
                i += l;
                continue;
            }
        }
        buf_add(b, s + run, i - run);
        char esc[8];
        switch (c) {
        case '"': buf_add(b, "\\\"", 2); break;
        case '\\': buf_add(b, "\\\\", 2); break;
        case '\n': buf_add(b, "\\n", 2); break;
        case '\r': buf_add(b, "\\r", 2); break;
        case '\t': buf_add(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                buf_add(b, esc, 6);
            } else {
                buf_add(b, "\xef\xbf\xbd", 3); /* invalid UTF-8 byte: U+FFFD */
            }
        }
        i++;
        run = i;
    }
    buf_add(b, s + run, n - run);
    buf_addc(b, '"');
}

static void json_cstr(struct buf *b, const char *s)
{
    if (s)
        batch_json_str(b, s, strlen(s));
    else
        buf_add(b, "null", 4);
}

/* ---- records --------------------------------------------------------------------- */

const char *batch_status_name(enum batch_status s)
{
    switch (s) {
    case BATCH_OK: return "ok";
    case BATCH_ERROR: return "error";
    case BATCH_INVALID: return "invalid";
    }
    return "?";
}

static void render_json(const struct batch_result *r, struct buf *b)
{
    buf_addf(b, "{\"line\":%zu", r->line);
    if (r->file) {
        buf_add(b, ",\"file\":", 8);
        json_cstr(b, r->file);
    }
    buf_add(b, ",\"id\":", 6);
    if (r->id) {
        json_cstr(b, r->id);
    } else {
        char num[24];
        int k = snprintf(num, sizeof num, "%zu", r->line);
        batch_json_str(b, num, (size_t)k);
    }
    buf_addf(b, ",\"status\":\"%s\",\"model\":", batch_status_name(r->status));
    json_cstr(b, r->model_id);
    buf_add(b, ",\"text\":", 8);
    if (r->status == BATCH_OK && r->text)
        batch_json_str(b, r->text, r->text_len);
    else
        buf_add(b, "null", 4);
    buf_add(b, ",\"stop_reason\":", 15);
    json_cstr(b, r->stop_reason && *r->stop_reason ? r->stop_reason : NULL);
    buf_addf(b,
             ",\"usage\":{\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cache_read_input_tokens\":%" PRId64
             ",\"cache_creation_input_tokens\":%" PRId64 "},\"cost_usd\":%.8g,\"attempts\":%d,\"cached\":%s",
             r->usage.input_tokens, r->usage.output_tokens, r->usage.cache_read_tokens, r->usage.cache_write_tokens,
             r->cost_usd, r->attempts, r->cached ? "true" : "false");
    buf_add(b, ",\"request_id\":", 14);
    json_cstr(b, r->request_id && *r->request_id ? r->request_id : NULL);
    buf_add(b, ",\"error\":", 9);
    if (r->status == BATCH_OK) {
        buf_add(b, "null", 4);
    } else {
        buf_add(b, "{\"code\":", 8);
        json_cstr(b, r->err_code ? r->err_code : r->status == BATCH_INVALID ? "InvalidInput" : "Error");
        buf_add(b, ",\"message\":", 11);
        json_cstr(b, r->err_msg ? r->err_msg : "");
        if (r->http_status)
            buf_addf(b, ",\"http_status\":%d}", r->http_status);
        else
            buf_add(b, ",\"http_status\":null}", 20);
    }
    buf_add(b, "}\n", 2);
}

static void render_text(const struct batch_result *r, struct buf *b)
{
    buf_addf(b, "### line %zu", r->line);
    if (r->file)
        buf_addf(b, " %s", r->file);
    else if (r->id)
        buf_addf(b, " %s", r->id);
    if (r->status == BATCH_OK) {
        buf_addf(b, ": ok (%" PRId64 " in, %" PRId64 " out, $%.6f%s)\n", r->usage.input_tokens,
                 r->usage.output_tokens, r->cost_usd, r->cached ? ", cached" : "");
        if (r->text)
            buf_add(b, r->text, r->text_len);
        buf_add(b, "\n\n", 2);
    } else {
        buf_addf(b, ": %s: %s: %s\n\n", batch_status_name(r->status), r->err_code ? r->err_code : "Error",
                 r->err_msg ? r->err_msg : "");
    }
}

void batch_render(enum batch_format f, const struct batch_result *r, struct buf *out)
{
    if (f == BATCH_FORMAT_TEXT)
        render_text(r, out);
    else
        render_json(r, out);
}

/* ---- the output file and the checkpoint ------------------------------------------ */

struct batch_out {
    char *path, *ck_path;
    int fd, ck_fd;
    uint64_t bytes;
    size_t records;
    uint64_t writes; /* checkpoint updates: slot writes % 2 gets the next one */
};

size_t batch_out_records(const struct batch_out *o)
{
    return o->records;
}

static void slot_format(char out[CK_SLOT], size_t records, uint64_t bytes)
{
    char nums[48];
    int k = snprintf(nums, sizeof nums, "%020zu %020" PRIu64, records, bytes);
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)nums, (uInt)k);
    memset(out, ' ', CK_SLOT);
    int w = snprintf(out, CK_SLOT, "%s %08" PRIx32, nums, crc);
    out[w] = ' ';
    out[CK_SLOT - 1] = '\n';
}

static bool slot_parse(const char *s, size_t *records, uint64_t *bytes)
{
    char nums[42];
    if (s[20] != ' ' || s[41] != ' ')
        return false;
    memcpy(nums, s, 41);
    nums[41] = '\0';
    char *end;
    for (int i = 0; i < 41; i++)
        if (i != 20 && (s[i] < '0' || s[i] > '9'))
            return false;
    uint32_t want = (uint32_t)strtoul(s + 42, &end, 16);
    if (end != s + 50)
        return false;
    if ((uint32_t)crc32(0L, (const Bytef *)nums, 41) != want)
        return false;
    *records = (size_t)strtoull(nums, NULL, 10);
    *bytes = strtoull(nums + 21, NULL, 10);
    return true;
}

static enum brock_status pwrite_all(int fd, const void *p, size_t n, off_t off, const char *path,
                                    struct brock_err *e)
{
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return BROCK_OK;
}

static enum brock_status write_all(int fd, const void *p, size_t n, const char *path, struct brock_err *e)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    return BROCK_OK;
}

static void out_free(struct batch_out *o)
{
    if (!o)
        return;
    if (o->fd >= 0)
        close(o->fd);
    if (o->ck_fd >= 0)
        close(o->ck_fd); /* releases the lock */
    free(o->path);
    free(o->ck_path);
    free(o);
}

static void header_format(char out[CK_HEADER], const uint8_t input_id[SHA256_LEN], const char *config_hex,
                          enum batch_format f)
{
    char in_hex[SHA256_HEX_LEN + 1];
    hex_encode(input_id, SHA256_LEN, in_hex);
    memset(out, ' ', CK_HEADER);
    int w = snprintf(out, CK_HEADER, "{\"" CK_MAGIC "\":1,\"input\":\"%s\",\"config\":\"%s\",\"format\":\"%s\"}",
                     in_hex, config_hex, f == BATCH_FORMAT_TEXT ? "text" : "json");
    out[w] = ' ';
    out[CK_HEADER - 1] = '\n';
}

/* Check the header against this run. */
static enum brock_status header_check(const char *hdr, const char *ck_path, const char *out_path,
                                      const uint8_t input_id[SHA256_LEN], const char *config_hex,
                                      enum batch_format f, struct brock_err *e)
{
    json_t *v = json_loadb(hdr, CK_HEADER, 0, NULL);
    const char *in = json_str(v, "input"), *cfg = json_str(v, "config"), *fmt = json_str(v, "format");
    int64_t ver = 0;
    enum brock_status st = BROCK_OK;
    char in_hex[SHA256_HEX_LEN + 1];
    hex_encode(input_id, SHA256_LEN, in_hex);
    if (!v || !json_int(v, CK_MAGIC, &ver) || ver != 1 || !in || !cfg || !fmt)
        st = err_set(e, BROCK_ERR_USAGE, "%s is damaged or not a brock batch checkpoint; use --restart to start %s over",
                     ck_path, out_path);
    else if (strcmp(in, in_hex))
        st = err_set(e, BROCK_ERR_USAGE,
                     "%s was written for another input (the input changed since that run); use --restart to start "
                     "%s over, or choose another output",
                     ck_path, out_path);
    else if (strcmp(fmt, f == BATCH_FORMAT_TEXT ? "text" : "json"))
        st = err_set(e, BROCK_ERR_USAGE, "%s was written with --format %s; use the same format or --restart", ck_path,
                     fmt);
    else if (strcmp(cfg, config_hex))
        st = err_set(e, BROCK_ERR_USAGE,
                     "%s was written with other options (model, region, system, max tokens, temperature or engine); "
                     "use the same options or --restart to start %s over",
                     ck_path, out_path);
    json_decref(v);
    return st;
}

static enum brock_status start_fresh(struct batch_out *o, const uint8_t input_id[SHA256_LEN], const char *config_hex,
                                     enum batch_format f, struct brock_err *e)
{
    char ck[CK_SIZE];
    header_format(ck, input_id, config_hex, f);
    slot_format(ck + CK_HEADER, 0, 0);
    slot_format(ck + CK_HEADER + CK_SLOT, 0, 0);
    if (ftruncate(o->ck_fd, 0) < 0)
        return err_set(e, BROCK_ERR_IO, "%s: %s", o->ck_path, strerror(errno));
    enum brock_status st = pwrite_all(o->ck_fd, ck, sizeof ck, 0, o->ck_path, e);
    if (st != BROCK_OK)
        return st;
    if (fdatasync(o->ck_fd) < 0)
        return err_set(e, BROCK_ERR_IO, "%s: %s", o->ck_path, strerror(errno));
    o->fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (o->fd < 0)
        return err_set(e, BROCK_ERR_IO, "%s: %s", o->path, strerror(errno));
    return BROCK_OK;
}

/* The newest valid slot that fits the output as it is on disk. */
static void pick_slot(struct batch_out *o, const char *slots, uint64_t out_size, size_t *records, uint64_t *bytes)
{
    size_t r[2] = {0, 0};
    uint64_t b[2] = {0, 0};
    bool ok[2];
    for (int i = 0; i < 2; i++) {
        ok[i] = slot_parse(slots + i * CK_SLOT, &r[i], &b[i]) && b[i] <= out_size;
        if (ok[i] && b[i] > 0) {
            char last;
            ok[i] = pread(o->fd, &last, 1, (off_t)b[i] - 1) == 1 && last == '\n';
        }
    }
    int best = -1;
    for (int i = 0; i < 2; i++)
        if (ok[i] && (best < 0 || r[i] > r[best]))
            best = i;
    *records = best >= 0 ? r[best] : 0;
    *bytes = best >= 0 ? b[best] : 0;
}

enum brock_status batch_out_open(const char *path, enum batch_format f, const uint8_t input_id[SHA256_LEN],
                                 const char *config_hex, bool restart, struct batch_out **out,
                                 struct batch_resume *res, struct brock_err *e)
{
    *out = NULL;
    memset(res, 0, sizeof *res);
    struct batch_out *o = xcalloc(1, sizeof *o);
    o->fd = o->ck_fd = -1;
    o->path = xstrdup(path);
    size_t n = strlen(path) + sizeof BATCH_CHECKPOINT_SUFFIX;
    o->ck_path = xmalloc(n);
    snprintf(o->ck_path, n, "%s" BATCH_CHECKPOINT_SUFFIX, path);
    enum brock_status st = BROCK_OK;

    o->ck_fd = open(o->ck_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (o->ck_fd < 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: %s", o->ck_path, strerror(errno));
        goto fail;
    }
    if (flock(o->ck_fd, LOCK_EX | LOCK_NB) < 0) {
        st = errno == EWOULDBLOCK ? err_set(e, BROCK_ERR_USAGE,
                                            "another brock batch is writing %s (%s is locked)", path, o->ck_path)
                                  : err_set(e, BROCK_ERR_IO, "%s: lock: %s", o->ck_path, strerror(errno));
        goto fail;
    }
    (void)fchmod(o->ck_fd, 0600);
    struct stat sb;
    if (fstat(o->ck_fd, &sb) < 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: %s", o->ck_path, strerror(errno));
        goto fail;
    }
    if (restart || sb.st_size == 0) {
        st = start_fresh(o, input_id, config_hex, f, e);
        if (st != BROCK_OK)
            goto fail;
        *out = o;
        return BROCK_OK;
    }

    res->had_checkpoint = true;
    char ck[CK_SIZE];
    ssize_t got = pread(o->ck_fd, ck, sizeof ck, 0);
    if (got != (ssize_t)sizeof ck) {
        st = err_set(e, BROCK_ERR_USAGE, "%s is damaged (%lld bytes, expected %d); use --restart to start %s over",
                     o->ck_path, (long long)sb.st_size, CK_SIZE, path);
        goto fail;
    }
    if ((st = header_check(ck, o->ck_path, path, input_id, config_hex, f, e)) != BROCK_OK) {
        /* another run's checkpoint: refused only when that run wrote records
         * (nothing can be lost or doubled by starting over otherwise) */
        size_t r0 = 0, r1 = 0;
        uint64_t b0, b1;
        bool any = (slot_parse(ck + CK_HEADER, &r0, &b0) && r0 > 0) ||
                   (slot_parse(ck + CK_HEADER + CK_SLOT, &r1, &b1) && r1 > 0);
        if (any)
            goto fail;
        res->had_checkpoint = false;
        if ((st = start_fresh(o, input_id, config_hex, f, e)) != BROCK_OK)
            goto fail;
        *out = o;
        return BROCK_OK;
    }
    o->fd = open(path, O_RDWR | O_CLOEXEC);
    if (o->fd < 0 && errno == ENOENT) {
        st = err_set(e, BROCK_ERR_USAGE,
                     "%s is missing but %s says records were written to it; use --restart to start over", path,
                     o->ck_path);
        goto fail;
    }
    if (o->fd < 0 || fstat(o->fd, &sb) < 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    pick_slot(o, ck + CK_HEADER, (uint64_t)sb.st_size, &o->records, &o->bytes);
    if ((uint64_t)sb.st_size > o->bytes && ftruncate(o->fd, (off_t)o->bytes) < 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: cannot cut the unfinished end: %s", path, strerror(errno));
        goto fail;
    }
    if (lseek(o->fd, 0, SEEK_END) < 0) {
        st = err_set(e, BROCK_ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    res->records = o->records;
    res->bytes = o->bytes;
    res->dropped = (uint64_t)sb.st_size - o->bytes;
    /* both slots hold the state resumed from */
    char slot[CK_SLOT];
    slot_format(slot, o->records, o->bytes);
    for (int i = 0; i < 2 && st == BROCK_OK; i++)
        st = pwrite_all(o->ck_fd, slot, CK_SLOT, CK_HEADER + (off_t)i * CK_SLOT, o->ck_path, e);
    if (st != BROCK_OK)
        goto fail;
    *out = o;
    return BROCK_OK;
fail:
    out_free(o);
    return st;
}

enum brock_status batch_out_write(struct batch_out *o, const char *p, size_t n, size_t records, struct brock_err *e)
{
    enum brock_status st = write_all(o->fd, p, n, o->path, e);
    if (st != BROCK_OK)
        return st;
    o->bytes += n;
    o->records += records;
    char slot[CK_SLOT];
    slot_format(slot, o->records, o->bytes);
    /* alternate, so the other slot always holds the state before this one */
    off_t at = CK_HEADER + (off_t)(o->writes++ % 2) * CK_SLOT;
    return pwrite_all(o->ck_fd, slot, CK_SLOT, at, o->ck_path, e);
}

enum brock_status batch_out_sync(struct batch_out *o, struct brock_err *e)
{
    if (fdatasync(o->fd) < 0)
        return err_set(e, BROCK_ERR_IO, "%s: %s", o->path, strerror(errno));
    if (fdatasync(o->ck_fd) < 0)
        return err_set(e, BROCK_ERR_IO, "%s: %s", o->ck_path, strerror(errno));
    return BROCK_OK;
}

enum brock_status batch_out_close(struct batch_out *o, struct brock_err *e)
{
    if (!o)
        return BROCK_OK;
    enum brock_status st = batch_out_sync(o, e);
    out_free(o);
    return st;
}
