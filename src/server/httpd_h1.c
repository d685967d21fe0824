/* httpd_h1.c - HTTP/1.1 (RFC 9112): the request reader and the connection.
 *
 * The reader is a push parser that works on plain bytes: the connection
 * feeds it what the socket delivered, the fuzz target and the unit tests feed
 * it buffers. It collects the head (request line and fields) in the request
 * arena, parses it in place once the empty line arrives, then reads a
 * Content-Length or chunked body into the body buffer. Limits are checked
 * before anything is stored. */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/log.h"
#include "../util/timeutil.h"

/* tchar (RFC 9110 section 5.6.2) */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static inline bool is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void reader_fail(struct h1_reader *r, int status, const char *fmt, ...) BROCK_PRINTF(3, 4);
static void reader_fail(struct h1_reader *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->status = status;
    r->state = H1R_ERROR;
}

void h1_reader_init(struct h1_reader *r, const struct httpd_options *lim)
{
    memset(r, 0, sizeof *r);
    r->lim = lim;
    r->state = H1R_START;
}

void h1_reader_reset(struct h1_reader *r)
{
    const struct httpd_options *lim = r->lim;
    if (r->x)
        httpd_x_destroy(r->x);
    h1_reader_init(r, lim);
}

void h1_reader_cleanup(struct h1_reader *r)
{
    if (r->x)
        httpd_x_destroy(r->x);
    r->x = NULL;
}

struct httpd_x *h1_reader_take(struct h1_reader *r)
{
    struct httpd_x *x = r->x;
    r->x = NULL;
    h1_reader_init(r, r->lim);
    return x;
}

/* Does a comma-separated list contain `tok` (case-insensitive)? */
static bool list_has(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* Parse a Content-Length value: one number or a list of equal numbers.
 * Returns 0 and sets *out, or the status to answer. */
static int parse_content_length(const char *v, uint64_t max, uint64_t *out)
{
    bool have = false;
    uint64_t val = 0;
    while (true) {
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v < '0' || *v > '9')
            return 400;
        uint64_t n = 0;
        while (*v >= '0' && *v <= '9') {
            n = n * 10 + (uint64_t)(*v - '0');
            if (n > max)
                return 413;
            v++;
        }
        if (have && n != val)
            return 400;
        val = n;
        have = true;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!*v)
            break;
        if (*v++ != ',')
            return 400;
    }
    *out = val;
    return 0;
}

/* Split the target into path, query and (absolute-form) authority copies. */
static bool split_target(struct h1_reader *r, const char *method)
{
    struct httpd_req *q = &r->x->req;
    const char *t = httpd_arena_str(q, q->target);
    size_t tl = strlen(t);
    const char *path = t, *auth = NULL;
    size_t auth_len = 0;
    if (t[0] == '*' && t[1] == '\0') {
        if (strcmp(method, "OPTIONS") != 0) {
            reader_fail(r, 400, "request line: target '*' is only allowed with OPTIONS");
            return false;
        }
    } else if (t[0] != '/') {
        size_t skip = 0;
        if (tl >= 7 && strncasecmp(t, "http://", 7) == 0)
            skip = 7;
        else if (tl >= 8 && strncasecmp(t, "https://", 8) == 0)
            skip = 8;
        if (!skip) {
            reader_fail(r, 400, "request line: target must start with '/' or be an absolute URI");
            return false;
        }
        auth = t + skip;
        auth_len = strcspn(auth, "/?");
        if (!auth_len) {
            reader_fail(r, 400, "request line: absolute URI without a host");
            return false;
        }
        path = auth + auth_len;
    }
    if (strchr(t, '#')) {
        reader_fail(r, 400, "request line: target contains a fragment ('#')");
        return false;
    }
    const char *qm = strchr(path, '?');
    size_t plen = qm ? (size_t)(qm - path) : strlen(path);
    size_t qlen = qm ? strlen(qm + 1) : 0;
    /* work from offsets: the copies below grow the arena */
    size_t path_off = (size_t)(path - q->arena.ptr);
    size_t q_off = qm ? (size_t)(qm + 1 - q->arena.ptr) : 0;
    size_t auth_off = auth ? (size_t)(auth - q->arena.ptr) : 0;
    if (!buf_reserve(&q->arena, plen + qlen + auth_len + 8)) {
        reader_fail(r, 431, "request head too large");
        return false;
    }
    const char *base = q->arena.ptr;
    q->path = plen ? httpd_arena_add(q, base + path_off, plen) : httpd_arena_add(q, "/", 1);
    q->query = qm ? httpd_arena_add(q, base + q_off, qlen) : 0;
    if (auth)
        q->authority = httpd_arena_add(q, base + auth_off, auth_len);
    return true;
}

/* The head is complete in the arena (from offset 1, ending "\r\n\r\n").
 * Parse it in place and decide how the body is framed. */
static void parse_head(struct h1_reader *r)
{
    struct httpd_x *x = r->x;
    struct httpd_req *q = &x->req;
    char *base = q->arena.ptr;
    char *p = base + 1;
    char *end = base + q->arena.len;

    /* request line: method SP target SP HTTP/d.d CRLF */
    char *s = p;
    while (p < end && tchar[(unsigned char)*p])
        p++;
    if (p == s || *p != ' ') {
        reader_fail(r, 400, "request line: bad method at byte %zu", (size_t)(p - base - 1));
        return;
    }
    *p++ = '\0';
    q->method = (uint32_t)(s - base);
    s = p;
    while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    if (p == s || *p != ' ') {
        reader_fail(r, 400, "request line: bad target at byte %zu", (size_t)(p - base - 1));
        return;
    }
    *p++ = '\0';
    q->target = (uint32_t)(s - base);
    s = p;
    char *eol = memchr(p, '\r', (size_t)(end - p));
    if (eol - s != 8 || memcmp(s, "HTTP/", 5) != 0 || s[5] < '0' || s[5] > '9' || s[6] != '.' ||
        s[7] < '0' || s[7] > '9') {
        reader_fail(r, 400, "request line: bad HTTP version at byte %zu", (size_t)(s - base - 1));
        return;
    }
    if (s[5] != '1') {
        reader_fail(r, 505, "request line: HTTP version %c.%c not supported", s[5], s[7]);
        return;
    }
    q->version = s[7] == '0' ? 10 : 11;
    p = eol + 2;

    /* header fields */
    unsigned line = 1;
    int hosts = 0, cls = 0, tes = 0;
    const char *cl_val = NULL;
    bool te_chunked_last = false, te_other = false, te_misplaced = false;
    bool conn_close = false, conn_keep = false;
    while (p < end) {
        line++;
        eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == p)
            break; /* the empty line */
        if (*p == ' ' || *p == '\t') {
            reader_fail(r, 400, "line %u: obsolete line folding is not allowed", line);
            return;
        }
        s = p;
        while (p < eol && tchar[(unsigned char)*p])
            p++;
        if (p == s || *p != ':') {
            reader_fail(r, 400, "line %u: bad header name at column %zu", line, (size_t)(p - s + 1));
            return;
        }
        *p++ = '\0';
        char *name = s;
        uint32_t name_len = (uint32_t)(p - 1 - s);
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        char *v = p;
        for (; p < eol; p++) {
            if (!is_field_byte((unsigned char)*p)) {
                reader_fail(r, 400, "line %u: control character in the value of header '%s'",
                            line, name);
                return;
            }
        }
        char *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        *ve = '\0';
        if (q->nhdrs >= r->lim->max_headers) {
            reader_fail(r, 431, "more than %zu header fields", r->lim->max_headers);
            return;
        }
        httpd_hdr_push(q, (uint32_t)(name - base), name_len, (uint32_t)(v - base),
                       (uint32_t)(ve - v));
        if (strcasecmp(name, "host") == 0) {
            hosts++;
            q->authority = (uint32_t)(v - base);
        } else if (strcasecmp(name, "content-length") == 0) {
            if (cls++ && strcmp(cl_val, v) != 0) {
                reader_fail(r, 400, "line %u: conflicting Content-Length headers", line);
                return;
            }
            cl_val = v;
        } else if (strcasecmp(name, "transfer-encoding") == 0) {
            tes++;
            /* walk the codings: only a single final "chunked" is supported */
            const char *c = v;
            while (*c) {
                while (*c == ' ' || *c == '\t' || *c == ',')
                    c++;
                if (!*c)
                    break;
                const char *cs = c;
                while (*c && *c != ',' && *c != ';')
                    c++;
                const char *ce = c;
                while (*c && *c != ',')
                    c++;
                while (ce > cs && (ce[-1] == ' ' || ce[-1] == '\t'))
                    ce--;
                bool chunked = ce - cs == 7 && strncasecmp(cs, "chunked", 7) == 0;
                if (te_chunked_last)
                    te_misplaced = true; /* something after chunked */
                if (chunked)
                    te_chunked_last = true;
                else
                    te_other = true;
            }
        } else if (strcasecmp(name, "connection") == 0) {
            if (list_has(v, "close"))
                conn_close = true;
            else if (list_has(v, "keep-alive"))
                conn_keep = true;
        } else if (strcasecmp(name, "expect") == 0) {
            if (strcasecmp(v, "100-continue") != 0) {
                reader_fail(r, 417, "line %u: unsupported Expect value", line);
                return;
            }
            x->expect_continue = true;
        }
        p = eol + 2;
    }
    x->keep_alive = !conn_close && (q->version == 11 || conn_keep);

    const char *method = httpd_arena_str(q, q->method);
    if (q->version == 11 && hosts != 1) {
        reader_fail(r, 400, hosts ? "more than one Host header" : "HTTP/1.1 request without Host");
        return;
    }
    x->is_head = strcmp(method, "HEAD") == 0;

    uint64_t cl = 0;
    bool chunked = false;
    if (tes) {
        if (q->version == 10) {
            reader_fail(r, 400, "Transfer-Encoding in an HTTP/1.0 request");
            return;
        }
        if (cls) {
            reader_fail(r, 400, "both Transfer-Encoding and Content-Length");
            return;
        }
        if (te_misplaced || !te_chunked_last) {
            reader_fail(r, 400, "Transfer-Encoding must end with a single 'chunked'");
            return;
        }
        if (te_other) {
            reader_fail(r, 501, "unsupported transfer coding");
            return;
        }
        chunked = true;
    } else if (cls) {
        int st = parse_content_length(cl_val, r->lim->max_body, &cl);
        if (st == 413) {
            reader_fail(r, 413, "body larger than %zu bytes", r->lim->max_body);
            return;
        }
        if (st) {
            reader_fail(r, 400, "bad Content-Length");
            return;
        }
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
               strcmp(method, "PATCH") == 0) {
        reader_fail(r, 411, "%s without Content-Length or chunked body", method);
        return;
    }
    if (!chunked && !cl)
        x->expect_continue = false;
    /* last: this may grow the arena, so no pointer into it is used after */
    if (!split_target(r, method))
        return;

    r->head_ready = true;
    if (chunked) {
        r->state = H1R_CHUNK_SIZE;
        r->remaining = 0;
        r->digits = 0;
    } else if (cl) {
        r->state = H1R_BODY;
        r->remaining = cl;
        buf_reserve(&q->body, cl < 65536 ? (size_t)cl : 65536);
    } else {
        r->state = H1R_DONE;
    }
}

/* Collect head bytes until the empty line. Returns bytes consumed. */
static size_t feed_head(struct h1_reader *r, const char *p, size_t n)
{
    struct httpd_req *q = &r->x->req;
    size_t i = 0;
    while (i < n) {
        const char *lf = memchr(p + i, '\n', n - i);
        size_t take = lf ? (size_t)(lf - (p + i)) + 1 : n - i;
        size_t head_len = q->arena.len - 1; /* arena[0] is the empty string */
        bool first = r->state == H1R_START;
        size_t line_len = q->arena.len - r->line_start + take - (lf ? 1 : 0);
        if (first && line_len > r->lim->max_request_line + 1) {
            reader_fail(r, 414, "request line longer than %zu bytes", r->lim->max_request_line);
            return i;
        }
        if (head_len + take > r->lim->max_head) {
            reader_fail(r, first ? 414 : 431, "request head larger than %zu bytes",
                        r->lim->max_head);
            return i;
        }
        buf_add(&q->arena, p + i, take);
        i += take;
        r->offset += take;
        if (!lf)
            break;
        size_t len = q->arena.len;
        if (len - r->line_start < 2 || q->arena.ptr[len - 2] != '\r') {
            reader_fail(r, 400, "bare LF line ending at byte %zu", (size_t)r->offset - 1);
            return i;
        }
        if (len - r->line_start == 2) {
            if (first) {
                /* an empty line before the request line */
                if (++r->skipped > HTTPD_MAX_LEADING_CRLF) {
                    reader_fail(r, 400, "too many empty lines before the request line");
                    return i;
                }
                buf_truncate(&q->arena, r->line_start);
                continue;
            }
            parse_head(r);
            return i;
        }
        if (memchr(q->arena.ptr + r->line_start, '\r', len - r->line_start - 2)) {
            reader_fail(r, 400, "bare CR in the request head at line ending byte %zu",
                        (size_t)r->offset - 1);
            return i;
        }
        r->state = H1R_HEAD;
        r->line_start = len;
    }
    return i;
}

static size_t feed_body(struct h1_reader *r, const char *p, size_t n)
{
    struct buf *body = &r->x->req.body;
    size_t i = 0;
    while (i < n && r->state != H1R_DONE && r->state != H1R_ERROR) {
        unsigned char c = (unsigned char)p[i];
        switch (r->state) {
        case H1R_BODY:
        case H1R_CHUNK_DATA: {
            size_t take = n - i < r->remaining ? n - i : (size_t)r->remaining;
            buf_add(body, p + i, take);
            i += take;
            r->remaining -= take;
            if (!r->remaining)
                r->state = r->state == H1R_BODY ? H1R_DONE : H1R_CHUNK_DATA_CR;
            continue;
        }
        case H1R_CHUNK_SIZE: {
            int h = hexval(c);
            if (h >= 0) {
                r->remaining = r->remaining * 16 + (uint64_t)h;
                r->digits++;
                if (r->remaining > r->lim->max_body - body->len) {
                    reader_fail(r, 413, "body larger than %zu bytes", r->lim->max_body);
                    return i;
                }
            } else if (r->digits && (c == ';' || c == ' ' || c == '\t')) {
                r->state = H1R_CHUNK_EXT;
                r->ext_len = 0;
            } else if (r->digits && c == '\r') {
                r->state = H1R_CHUNK_SIZE_LF;
            } else {
                reader_fail(r, 400, "bad chunk size at byte %zu", (size_t)(r->offset + i));
                return i;
            }
            break;
        }
        case H1R_CHUNK_EXT:
            if (c == '\r') {
                r->state = H1R_CHUNK_SIZE_LF;
            } else if (!is_field_byte(c)) {
                reader_fail(r, 400, "bad chunk extension at byte %zu", (size_t)(r->offset + i));
                return i;
            } else if (++r->ext_len > HTTPD_MAX_CHUNK_EXT) {
                reader_fail(r, 400, "chunk extension longer than %d bytes", HTTPD_MAX_CHUNK_EXT);
                return i;
            }
            break;
        case H1R_CHUNK_SIZE_LF:
            if (c != '\n') {
                reader_fail(r, 400, "expected LF after chunk size at byte %zu",
                            (size_t)(r->offset + i));
                return i;
            }
            if (r->remaining) {
                r->state = H1R_CHUNK_DATA;
            } else {
                r->state = H1R_TRAILER;
                r->line_len = 0;
                r->saw_cr = false;
            }
            break;
        case H1R_CHUNK_DATA_CR:
            if (c != '\r') {
                reader_fail(r, 400, "expected CRLF after chunk data at byte %zu",
                            (size_t)(r->offset + i));
                return i;
            }
            r->state = H1R_CHUNK_DATA_LF;
            break;
        case H1R_CHUNK_DATA_LF:
            if (c != '\n') {
                reader_fail(r, 400, "expected CRLF after chunk data at byte %zu",
                            (size_t)(r->offset + i));
                return i;
            }
            r->state = H1R_CHUNK_SIZE;
            r->remaining = 0;
            r->digits = 0;
            break;
        case H1R_TRAILER:
            /* trailer fields are checked for framing and dropped */
            if (++r->trailer_bytes > r->lim->max_head) {
                reader_fail(r, 431, "trailer section larger than %zu bytes", r->lim->max_head);
                return i;
            }
            if (r->saw_cr) {
                if (c != '\n') {
                    reader_fail(r, 400, "bare CR in trailer at byte %zu", (size_t)(r->offset + i));
                    return i;
                }
                r->saw_cr = false;
                if (r->line_len == 0)
                    r->state = H1R_DONE;
                r->line_len = 0;
            } else if (c == '\r') {
                r->saw_cr = true;
            } else if (c == '\n' || !is_field_byte(c)) {
                reader_fail(r, 400, "bad byte in trailer at byte %zu", (size_t)(r->offset + i));
                return i;
            } else {
                r->line_len++;
            }
            break;
        default:
            return i;
        }
        i++;
    }
    return i;
}

size_t h1_reader_feed(struct h1_reader *r, const char *p, size_t n)
{
    if (r->state == H1R_DONE || r->state == H1R_ERROR || !n)
        return 0;
    if (!r->x) {
        r->x = httpd_x_new(r->lim);
        r->line_start = 1;
    }
    if (r->state == H1R_START || r->state == H1R_HEAD)
        return feed_head(r, p, n);
    size_t used = feed_body(r, p, n);
    if (r->state != H1R_ERROR)
        r->offset += used;
    return used;
}

/* ---- the connection ---- */

static void h1_keepalive_wait(struct httpd_conn *c)
{
    c->h1 = H1C_IDLE;
    /* the write callback then runs when the answer is all out, and the
     * connection counts as idle (evictable) from there */
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    httpd_conn_timer(c, c->srv->opt.keepalive_timeout_ms);
}

void h1_conn_start(struct httpd_conn *c)
{
    c->proto = PROTO_H1;
    c->h1 = H1C_READING;
    h1_reader_init(&c->rd, &c->srv->opt);
    /* the header timer was armed at accept and keeps running */
}

void h1_send_error(struct httpd_conn *c, int status, const char *msg)
{
    struct httpd *s = c->srv;
    atomic_fetch_add(&s->st_rejected, 1);
    log_info("httpd: %s: %d %s: %s", c->peer, status, httpd_reason(status), msg);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t blen = strlen(msg) + 1;
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                        status, httpd_reason(status), httpd_date(s), blen, msg);
    c->h1 = H1C_CLOSING;
    httpd_conn_timer(c, -1);
    httpd_conn_close_after_flush(c, true);
}

static void send_continue(struct httpd_conn *c)
{
    evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

/* Process buffered input: read requests and hand them to the handler, one at
 * a time (the next is only read once the previous response is complete). */
void h1_on_read(struct httpd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (!c->closing && !c->dead && (c->h1 == H1C_IDLE || c->h1 == H1C_READING)) {
        size_t avail = evbuffer_get_length(in);
        if (c->h1 == H1C_IDLE) {
            if (c->srv->stopping) {
                httpd_conn_close_after_flush(c, false);
                return;
            }
            if (!avail)
                return;
            if (evbuffer_get_length(out) > HTTPD_H1_PIPELINE_OUT_MAX)
                return; /* resumed when the output drains */
            c->h1 = H1C_READING;
            httpd_conn_timer(c, c->srv->opt.header_timeout_ms);
        }
        if (!avail)
            return;
        bool was_body = c->rd.state > H1R_HEAD;
        size_t used_total = 0;
        struct evbuffer_iovec v[8];
        int nv = evbuffer_peek(in, -1, NULL, v, 8);
        for (int k = 0; k < nv && k < 8; k++) {
            size_t used = h1_reader_feed(&c->rd, v[k].iov_base, v[k].iov_len);
            used_total += used;
            if (used < v[k].iov_len || c->rd.head_ready || c->rd.state == H1R_DONE ||
                c->rd.state == H1R_ERROR)
                break;
        }
        evbuffer_drain(in, used_total);
        if (c->rd.state == H1R_ERROR) {
            h1_send_error(c, c->rd.status, c->rd.msg);
            h1_reader_reset(&c->rd);
            return;
        }
        if (c->rd.head_ready) {
            c->rd.head_ready = false;
            struct httpd_x *x = c->rd.x;
            const struct httpd_options *o = &c->srv->opt;
            if (c->rd.state != H1R_DONE && o->head_check && !o->head_check(o->handler_ctx, &x->req)) {
                /* refused on its head: answer now, never buffer the body;
                 * the connection closes after the answer (the body is
                 * unread), lingering to drain it for a moment */
                x = h1_reader_take(&c->rd);
                x->skip_body = true;
                x->keep_alive = false;
                httpd_conn_timer(c, -1);
                c->h1 = H1C_HANDLING;
                c->cur = x;
                httpd_x_dispatch(c, x);
                return;
            }
            if (x->expect_continue && x->req.version == 11 && !evbuffer_get_length(in))
                send_continue(c);
            if (c->rd.state != H1R_DONE) {
                httpd_body_begin(x);
                httpd_conn_timer(c, httpd_body_wait(x, &c->srv->opt, 0));
            }
        } else if (was_body && used_total && c->rd.state != H1R_DONE) {
            httpd_conn_timer(c, httpd_body_wait(c->rd.x, &c->srv->opt, used_total));
        }
        if (c->rd.state == H1R_DONE) {
            struct httpd_x *x = h1_reader_take(&c->rd);
            httpd_conn_timer(c, -1);
            c->h1 = H1C_HANDLING;
            c->cur = x;
            httpd_x_dispatch(c, x);
            continue; /* if answered at once, go on with the next request */
        }
        if (!used_total)
            return;
    }
}

void h1_on_write_drained(struct httpd_conn *c)
{
    struct httpd_x *x = c->cur;
    if (x && x->resp.on_drain && h1_resp_buffered(x) <= x->resp.drain_low)
        httpd_x_queue(x, NOTIFY_DRAIN);
    if (c->h1 == H1C_IDLE && evbuffer_get_length(bufferevent_get_input(c->bev)))
        httpd_conn_kick(c);
}

void h1_on_timer(struct httpd_conn *c)
{
    switch (c->h1) {
    case H1C_IDLE:
        log_debug("httpd: %s: keep-alive timeout", c->peer);
        httpd_conn_close_after_flush(c, false);
        break;
    case H1C_READING: {
        char msg[160];
        if (c->rd.state <= H1R_HEAD)
            h1_send_error(c, 408, "request head not received in time");
        else if (c->rd.x && httpd_body_too_slow(c->rd.x, &c->srv->opt, msg, sizeof msg))
            h1_send_error(c, 408, msg);
        else
            h1_send_error(c, 408, "request body stalled");
        h1_reader_reset(&c->rd);
        break;
    }
    default:
        break;
    }
}

void h1_stop(struct httpd_conn *c)
{
    if (c->h1 == H1C_IDLE)
        httpd_conn_close_after_flush(c, false);
    /* READING and HANDLING finish their exchange, answered with close */
}

/* ---- responses ---- */

size_t h1_resp_buffered(const struct httpd_x *x)
{
    if (!x->conn)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(x->conn->bev));
}

static bool status_has_body(int status)
{
    return status != 204 && status != 304 && status >= 200;
}

/* The head is built in one piece and added to the output once: each
 * evbuffer_add runs the output's callbacks. */
struct headbuf {
    struct evbuffer *out;
    size_t n;
    char b[2048];
};

static void hb_add(struct headbuf *hb, const char *p, size_t n)
{
    if (hb->n + n > sizeof hb->b) {
        evbuffer_add(hb->out, hb->b, hb->n);
        hb->n = 0;
        if (n > sizeof hb->b) {
            evbuffer_add(hb->out, p, n);
            return;
        }
    }
    memcpy(hb->b + hb->n, p, n);
    hb->n += n;
}

static void hb_str(struct headbuf *hb, const char *s)
{
    hb_add(hb, s, strlen(s));
}

enum brock_status h1_resp_head(struct httpd_x *x, bool streaming, size_t content_length)
{
    struct httpd_conn *c = x->conn;
    struct httpd_resp *rs = &x->resp;
    struct headbuf hb = {.out = bufferevent_get_output(c->bev)};
    if (c->srv->stopping)
        x->keep_alive = false;
    bool body = status_has_body(rs->status);
    if (streaming && x->req.version == 10)
        x->keep_alive = false; /* body ends at close */
    char line[64];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", rs->status, httpd_reason(rs->status));
    hb_add(&hb, line, (size_t)n);
    const char *h = rs->hdrs.ptr;
    for (size_t i = 0; i < rs->nhdrs; i++) {
        size_t nl = strlen(h);
        const char *v = h + nl + 1;
        size_t vl = strlen(v);
        hb_add(&hb, h, nl);
        hb_add(&hb, ": ", 2);
        hb_add(&hb, v, vl);
        hb_add(&hb, "\r\n", 2);
        h = v + vl + 1;
    }
    if (!rs->has_date) {
        hb_str(&hb, "Date: ");
        hb_str(&hb, httpd_date(c->srv));
        hb_add(&hb, "\r\n", 2);
    }
    if (body) {
        if (!streaming) {
            n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", content_length);
            hb_add(&hb, line, (size_t)n);
        } else if (x->req.version == 11) {
            hb_str(&hb, "Transfer-Encoding: chunked\r\n");
        }
    }
    if (!x->keep_alive)
        hb_str(&hb, "Connection: close\r\n\r\n");
    else if (x->req.version == 10)
        hb_str(&hb, "Connection: keep-alive\r\n\r\n");
    else
        hb_add(&hb, "\r\n", 2);
    evbuffer_add(hb.out, hb.b, hb.n);
    rs->head_sent = true;
    return BROCK_OK;
}

enum brock_status h1_resp_body(struct httpd_x *x, const void *p, size_t n)
{
    struct httpd_resp *rs = &x->resp;
    if (!n || x->is_head || !status_has_body(rs->status))
        return BROCK_OK;
    struct evbuffer *out = bufferevent_get_output(x->conn->bev);
    if (rs->streaming && x->req.version == 11) {
        char hd[24];
        int hn = snprintf(hd, sizeof hd, "%zx\r\n", n);
        evbuffer_add(out, hd, (size_t)hn);
        evbuffer_add(out, p, n);
        evbuffer_add(out, "\r\n", 2);
    } else {
        evbuffer_add(out, p, n);
    }
    rs->body_bytes += n;
    return BROCK_OK;
}

/* The handler finished normally: terminate the body and move on. */
void h1_resp_finish(struct httpd_x *x)
{
    struct httpd_conn *c = x->conn;
    struct httpd_resp *rs = &x->resp;
    if (rs->streaming && x->req.version == 11 && !x->is_head &&
        status_has_body(rs->status))
        evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
    c->cur = NULL;
    x->conn = NULL;
    x->proto_done = true;
    if (x->keep_alive && !c->srv->stopping) {
        h1_keepalive_wait(c);
        httpd_conn_kick(c); /* pipelined input may be waiting */
    } else {
        c->h1 = H1C_CLOSING;
        httpd_conn_close_after_flush(c, false);
    }
}

void h1_resp_abort(struct httpd_x *x)
{
    struct httpd_conn *c = x->conn;
    c->cur = NULL;
    x->conn = NULL;
    x->proto_done = true;
    c->h1 = H1C_CLOSING;
    httpd_conn_close_after_flush(c, false);
}
