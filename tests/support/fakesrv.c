/* fakesrv.c - scriptable loopback HTTP/1.1 server for tests; see fakesrv.h.
 *
 * Depends only on libc, pthreads and src/util (every test binary links this
 * file, whatever FOCUS built the library). */
#include "fakesrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/util/alloc.h"
#include "../../src/util/buf.h"

#define FAKESRV_MAX_HEAD ((size_t)64 * 1024)
#define FAKESRV_MAX_BODY ((size_t)64 * 1024 * 1024)

struct conn {
    pthread_t th;
    int fd;
    unsigned id;
    struct fakesrv *srv;
    struct conn *next;
};

struct fakesrv {
    int lfd;
    int stop_pipe[2]; /* written once at stop; readable forever after */
    int port;
    char url[64];
    pthread_t accept_th;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a request is recorded */
    bool stopping;
    unsigned accepts;
    struct conn *conns;
    struct fakesrv_request **reqs;
    size_t nreqs, capreqs;
    struct fakesrv_response *queue; /* deep copies */
    size_t qhead, qlen, qcap;
    fakesrv_handler_fn *handler;
    void *handler_ctx;
};

static void die(const char *what)
{
    fprintf(stderr, "fakesrv: %s: %s\n", what, strerror(errno));
    abort();
}

/* Sleep up to ms; true if the server is stopping. */
static bool wait_or_stop(struct fakesrv *s, int ms)
{
    if (ms <= 0)
        return false;
    struct pollfd p = {.fd = s->stop_pipe[0], .events = POLLIN};
    int64_t end;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t left = end - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (left <= 0)
            return false;
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return true;
    }
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* ---- request parsing ---------------------------------------------------- */

struct reader {
    struct fakesrv *s;
    int fd;
    char *buf; /* received, not yet consumed */
    size_t len, cap;
};

/* Read more bytes; false on EOF, error or stop. */
static bool read_more(struct reader *r)
{
    struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->s->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (p[1].revents & POLLIN))
            return false;
        break;
    }
    if (r->cap - r->len < 16384) {
        r->cap = r->cap ? r->cap * 2 : 32768;
        r->buf = xrealloc(r->buf, r->cap);
    }
    ssize_t got;
    do {
        got = recv(r->fd, r->buf + r->len, r->cap - r->len - 1, 0);
    } while (got < 0 && errno == EINTR);
    if (got <= 0)
        return false;
    r->len += (size_t)got;
    r->buf[r->len] = '\0';
    return true;
}

static void consume(struct reader *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

static const char *find_crlfcrlf(const char *p, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return p + i;
    }
    return NULL;
}

static void request_free(struct fakesrv_request *q)
{
    if (!q)
        return;
    free(q->target);
    for (size_t i = 0; i < q->nheaders; i++) {
        free(q->headers[i].name);
        free(q->headers[i].value);
    }
    free(q->headers);
    free(q->body);
    free(q);
}

const char *fakesrv_header(const struct fakesrv_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

/* Parse the head (request line + headers) of n bytes ending at CRLFCRLF. */
static struct fakesrv_request *parse_head(const char *p, size_t n)
{
    struct fakesrv_request *q = xcalloc(1, sizeof *q);
    const char *end = p + n;
    const char *eol = memchr(p, '\r', n);
    if (!eol)
        goto bad;
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof q->method)
        goto bad;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1 || (size_t)(eol - sp2 - 1) < 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        goto bad;
    memcpy(q->method, p, (size_t)(sp1 - p));
    q->target = xmemdup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    size_t cap = 0;
    for (const char *line = eol + 2; line < end;) {
        const char *le = memchr(line, '\r', (size_t)(end - line));
        if (!le)
            le = end;
        if (le == line)
            break;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (!colon || colon == line)
            goto bad;
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (q->nheaders == cap) {
            cap = cap ? cap * 2 : 16;
            q->headers = xrealloc(q->headers, cap * sizeof *q->headers);
        }
        q->headers[q->nheaders].name = xmemdup(line, (size_t)(colon - line));
        q->headers[q->nheaders].value = xmemdup(v, (size_t)(ve - v));
        q->nheaders++;
        line = le + 2;
    }
    return q;
bad:
    request_free(q);
    return NULL;
}

enum read_result { READ_OK, READ_EOF, READ_BAD, READ_TOO_BIG };

/* Read a chunked body into out. */
static enum read_result read_chunked(struct reader *r, struct buf *out)
{
    for (;;) {
        const char *nl;
        while (!(nl = memchr(r->buf, '\n', r->len))) {
            if (r->len > 1024)
                return READ_BAD;
            if (!read_more(r))
                return READ_EOF;
        }
        char *endp;
        unsigned long long size = strtoull(r->buf, &endp, 16);
        if (endp == r->buf)
            return READ_BAD;
        consume(r, (size_t)(nl - r->buf) + 1);
        if (size == 0) {
            /* Trailers until an empty line. */
            for (;;) {
                while (!(nl = memchr(r->buf, '\n', r->len))) {
                    if (!read_more(r))
                        return READ_EOF;
                }
                bool empty = nl == r->buf || (nl == r->buf + 1 && r->buf[0] == '\r');
                consume(r, (size_t)(nl - r->buf) + 1);
                if (empty)
                    return READ_OK;
            }
        }
        if (size > FAKESRV_MAX_BODY || out->len + size > FAKESRV_MAX_BODY)
            return READ_TOO_BIG;
        while (r->len < size + 2) {
            if (!read_more(r))
                return READ_EOF;
        }
        buf_add(out, r->buf, (size_t)size);
        consume(r, (size_t)size + 2);
    }
}

/* Read one request; *q is set on READ_OK. */
static enum read_result read_request(struct reader *r, struct fakesrv_request **q)
{
    *q = NULL;
    const char *hend;
    while (!(hend = find_crlfcrlf(r->buf ? r->buf : "", r->len))) {
        if (r->len > FAKESRV_MAX_HEAD)
            return READ_TOO_BIG;
        /* Not HTTP at all (a TLS ClientHello starts with 0x16): answer 400
         * now instead of waiting for a blank line that never comes. */
        if (r->len && (r->buf[0] < 'A' || r->buf[0] > 'Z'))
            return READ_BAD;
        if (!read_more(r))
            return r->len ? READ_BAD : READ_EOF;
    }
    size_t head_len = (size_t)(hend - r->buf) + 4;
    struct fakesrv_request *req = parse_head(r->buf, head_len);
    consume(r, head_len);
    if (!req)
        return READ_BAD;

    const char *te = fakesrv_header(req, "transfer-encoding");
    const char *cl = fakesrv_header(req, "content-length");
    const char *expect = fakesrv_header(req, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        send_all(r->fd, cont, sizeof cont - 1);
    }
    struct buf body = BUF_INIT(FAKESRV_MAX_BODY);
    enum read_result rr = READ_OK;
    if (te && strcasecmp(te, "chunked") == 0) {
        rr = read_chunked(r, &body);
    } else if (cl) {
        char *endp;
        unsigned long long n = strtoull(cl, &endp, 10);
        if (endp == cl || *endp)
            rr = READ_BAD;
        else if (n > FAKESRV_MAX_BODY)
            rr = READ_TOO_BIG;
        while (rr == READ_OK && r->len < n) {
            if (!read_more(r))
                rr = READ_EOF;
        }
        if (rr == READ_OK) {
            buf_add(&body, r->buf, (size_t)n);
            consume(r, (size_t)n);
        }
    }
    if (rr != READ_OK) {
        buf_free(&body);
        request_free(req);
        return rr;
    }
    req->body_len = body.len;
    req->body = buf_take(&body);
    *q = req;
    return READ_OK;
}

/* ---- responses ------------------------------------------------------------ */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 424: return "Failed Dependency";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static void response_copy(struct fakesrv_response *dst, const struct fakesrv_response *src)
{
    *dst = *src;
    size_t blen = src->body ? (src->body_len ? src->body_len : strlen(src->body)) : 0;
    dst->body = src->body ? xmemdup(src->body, blen) : NULL;
    dst->body_len = blen;
    dst->headers = src->headers ? xstrdup(src->headers) : NULL;
    dst->free_body = dst->free_headers = true;
}

static void response_release(struct fakesrv_response *r)
{
    if (r->free_body)
        free((void *)r->body);
    if (r->free_headers)
        free((void *)r->headers);
}

/* Send `r` for request `q`; false when the connection must close. */
static bool send_response(struct fakesrv *s, int fd, const struct fakesrv_request *q,
                          const struct fakesrv_response *r)
{
    if (r->no_response)
        return false;
    if (wait_or_stop(s, r->delay_ms))
        return false;
    int status = r->status ? r->status : 200;
    size_t blen = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0;
    bool head = strcmp(q->method, "HEAD") == 0;
    bool bodyless = head || status == 204 || status == 304 || (status >= 100 && status < 200);
    struct buf h = BUF_INIT(FAKESRV_MAX_HEAD * 2);
    buf_addf(&h, "HTTP/1.1 %d %s\r\n", status, reason(status));
    bool user_cl = false;
    if (r->headers) {
        /* Normalise each line to CRLF. */
        const char *p = r->headers;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            size_t m = n;
            if (m && p[m - 1] == '\r')
                m--;
            if (m) {
                if (m >= 15 && strncasecmp(p, "content-length:", 15) == 0)
                    user_cl = true;
                buf_add(&h, p, m);
                buf_addstr(&h, "\r\n");
            }
            p += n + (nl ? 1 : 0);
        }
    }
    if (r->chunked)
        buf_addstr(&h, "Transfer-Encoding: chunked\r\n");
    else if (!user_cl && !(status == 204 || status == 304 || status < 200))
        buf_addf(&h, "Content-Length: %zu\r\n", blen);
    if (r->close)
        buf_addstr(&h, "Connection: close\r\n");
    buf_addstr(&h, "\r\n");
    bool ok = send_all(fd, h.ptr, h.len);
    buf_free(&h);
    if (!ok)
        return false;
    if (bodyless)
        return !r->close;

    size_t limit = r->drop && r->drop_after < blen ? r->drop_after : blen;
    size_t piece = r->piece ? r->piece : (blen ? blen : 1);
    size_t off = 0;
    while (off < limit) {
        if (off > 0 && wait_or_stop(s, r->piece_delay_ms))
            return false;
        size_t n = blen - off < piece ? blen - off : piece;
        size_t send_n = off + n > limit ? limit - off : n;
        if (r->chunked) {
            char sz[32];
            int k = snprintf(sz, sizeof sz, "%zx\r\n", n);
            if (!send_all(fd, sz, (size_t)k))
                return false;
        }
        if (!send_all(fd, r->body + off, send_n))
            return false;
        if (send_n < n)
            break; /* dropping mid-piece */
        if (r->chunked && !send_all(fd, "\r\n", 2))
            return false;
        off += n;
    }
    if (r->drop)
        return false;
    if (r->chunked && !send_all(fd, "0\r\n\r\n", 5))
        return false;
    return !r->close;
}

/* ---- threads ---------------------------------------------------------------- */

static void record(struct fakesrv *s, struct fakesrv_request *q)
{
    pthread_mutex_lock(&s->mu);
    if (s->nreqs == s->capreqs) {
        s->capreqs = s->capreqs ? s->capreqs * 2 : 16;
        s->reqs = xrealloc(s->reqs, s->capreqs * sizeof *s->reqs);
    }
    s->reqs[s->nreqs++] = q;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct fakesrv *s = c->srv;
    struct reader r = {.s = s, .fd = c->fd};
    for (;;) {
        struct fakesrv_request *q;
        enum read_result rr = read_request(&r, &q);
        if (rr == READ_BAD || rr == READ_TOO_BIG) {
            const char *msg = rr == READ_BAD
                                  ? "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                  : "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send_all(c->fd, msg, strlen(msg));
            break;
        }
        if (rr != READ_OK)
            break;
        q->conn = c->id;
        record(s, q);

        struct fakesrv_response resp = {0};
        bool have = false;
        fakesrv_handler_fn *fn = NULL;
        void *ctx = NULL;
        pthread_mutex_lock(&s->mu);
        if (s->qlen) {
            resp = s->queue[s->qhead];
            s->qhead = (s->qhead + 1) % s->qcap;
            s->qlen--;
            have = true;
        } else {
            fn = s->handler;
            ctx = s->handler_ctx;
        }
        pthread_mutex_unlock(&s->mu);
        if (!have && fn) {
            fn(ctx, q, &resp);
            have = true;
        }
        if (!have) {
            static const char none[] = "fakesrv: nothing scripted for this request";
            resp = (struct fakesrv_response){.status = 500, .body = none};
        }
        bool keep = send_response(s, c->fd, q, &resp);
        response_release(&resp);
        if (!keep)
            break;
    }
    free(r.buf);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct fakesrv *s = arg;
    struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (p[1].revents & POLLIN))
            break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = xcalloc(1, sizeof *c);
        c->fd = fd;
        c->srv = s;
        pthread_mutex_lock(&s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            free(c);
            break;
        }
        c->id = ++s->accepts;
        c->next = s->conns;
        s->conns = c;
        if (pthread_create(&c->th, NULL, conn_main, c) != 0)
            die("pthread_create");
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- public API --------------------------------------------------------------- */

struct fakesrv *fakesrv_start(const struct fakesrv_options *opts)
{
    struct fakesrv *s = xcalloc(1, sizeof *s);
    bool v6 = opts && opts->ipv6;
    if (pipe(s->stop_pipe) != 0)
        die("pipe");
    s->lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        die("socket");
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
        setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0)
            die("bind [::1]");
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0)
            die("bind 127.0.0.1");
    }
    if (listen(s->lfd, 64) != 0)
        die("listen");
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) != 0)
        die("getsockname");
    s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(s->url, sizeof s->url, v6 ? "http://[::1]:%d" : "http://127.0.0.1:%d", s->port);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->accept_th, NULL, accept_main, s) != 0)
        die("pthread_create");
    return s;
}

void fakesrv_stop(struct fakesrv *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    if (write(s->stop_pipe[1], "x", 1) != 1)
        die("write stop pipe");
    pthread_join(s->accept_th, NULL);
    close(s->lfd);
    /* No new connections now; wake and join the serving threads. */
    struct conn *c = s->conns;
    for (struct conn *k = c; k; k = k->next)
        shutdown(k->fd, SHUT_RDWR);
    while (c) {
        struct conn *next = c->next;
        pthread_join(c->th, NULL);
        close(c->fd);
        free(c);
        c = next;
    }
    for (size_t i = 0; i < s->nreqs; i++)
        request_free(s->reqs[i]);
    free(s->reqs);
    for (size_t i = 0; i < s->qlen; i++)
        response_release(&s->queue[(s->qhead + i) % s->qcap]);
    free(s->queue);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int fakesrv_port(const struct fakesrv *s)
{
    return s->port;
}

const char *fakesrv_url(const struct fakesrv *s)
{
    return s->url;
}

void fakesrv_push(struct fakesrv *s, const struct fakesrv_response *r)
{
    pthread_mutex_lock(&s->mu);
    if (s->qlen == s->qcap) {
        size_t ncap = s->qcap ? s->qcap * 2 : 8;
        struct fakesrv_response *nq = xcalloc(ncap, sizeof *nq);
        for (size_t i = 0; i < s->qlen; i++)
            nq[i] = s->queue[(s->qhead + i) % s->qcap];
        free(s->queue);
        s->queue = nq;
        s->qcap = ncap;
        s->qhead = 0;
    }
    response_copy(&s->queue[(s->qhead + s->qlen) % s->qcap], r);
    s->qlen++;
    pthread_mutex_unlock(&s->mu);
}

size_t fakesrv_pending(struct fakesrv *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->qlen;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void fakesrv_set_handler(struct fakesrv *s, fakesrv_handler_fn *fn, void *ctx)
{
    pthread_mutex_lock(&s->mu);
    s->handler = fn;
    s->handler_ctx = ctx;
    pthread_mutex_unlock(&s->mu);
}

unsigned fakesrv_accepts(struct fakesrv *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->accepts;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t fakesrv_request_count(struct fakesrv *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const struct fakesrv_request *fakesrv_request(struct fakesrv *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    const struct fakesrv_request *q = i < s->nreqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    return q;
}

bool fakesrv_wait_requests(struct fakesrv *s, size_t n, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->nreqs < n) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT)
            break;
    }
    bool ok = s->nreqs >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}
