/* bench_relay HOST:PORT - the least a proxy can add: a TCP relay on
 * 127.0.0.1 that pairs each accepted connection with one of its own to
 * HOST:PORT and copies bytes both ways, on one thread with epoll, without
 * reading HTTP at all (no parsing, no signing, no books, no pooling).
 *
 * bench/gateway.sh sends the same wrk load straight to the emulator, through
 * this relay and through `brock serve`: what the relay adds is what one more
 * hop on loopback costs on this machine, which no gateway can go below.
 * Prints "listening on http://127.0.0.1:PORT" once it accepts; runs until
 * killed. Loopback only, like every benchmark here. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct pair;

struct end {
    struct pair *p;
    int side; /* 0: the client, 1: upstream */
    int fd;
    unsigned events; /* the interest registered with epoll */
    size_t off, len; /* bytes read from this end, not yet written to the other */
    char buf[BUF_SIZE];
};

struct pair {
    struct end e[2];
    int dead;
    struct pair *next_dead;
};

static int ep;
static struct sockaddr_storage up_addr;
static socklen_t up_len;

static void nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* An end reads while what it read last is written; it waits to write while
 * the other end holds bytes for it. */
static int want(struct pair *p, int side)
{
    unsigned ev = 0;
    if (p->e[side].len == 0)
        ev |= EPOLLIN;
    if (p->e[!side].len > 0)
        ev |= EPOLLOUT;
    if (ev != p->e[side].events) {
        struct epoll_event e = {.events = ev, .data.ptr = &p->e[side]};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, p->e[side].fd, &e) < 0)
            return -1;
        p->e[side].events = ev;
    }
    return 0;
}

/* Write what `from` holds to the other end; -1 when that end is gone. */
static int flush(struct pair *p, int from)
{
    struct end *s = &p->e[from], *d = &p->e[!from];
    while (s->len > 0) {
        ssize_t n = write(d->fd, s->buf + s->off, s->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        s->off += (size_t)n;
        s->len -= (size_t)n;
    }
    s->off = 0;
    return 0;
}

/* Read from `side` and pass it on; -1 at end of stream or on an error. */
static int pump(struct pair *p, int side)
{
    struct end *s = &p->e[side];
    while (s->len == 0) {
        ssize_t n = read(s->fd, s->buf, sizeof s->buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        if (n == 0)
            return -1;
        s->off = 0;
        s->len = (size_t)n;
        if (flush(p, side) < 0)
            return -1;
    }
    return 0;
}

static struct pair *dead;

static void kill_pair(struct pair *p)
{
    if (p->dead)
        return;
    p->dead = 1;
    for (int i = 0; i < 2; i++)
        close(p->e[i].fd);
    p->next_dead = dead;
    dead = p;
}

static void accept_all(int lfd)
{
    for (;;) {
        int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("bench_relay: accept");
            return;
        }
        int u = socket(up_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        /* A blocking connect: on loopback it completes at once. */
        if (u < 0 || connect(u, (struct sockaddr *)&up_addr, up_len) < 0) {
            perror("bench_relay: connect upstream");
            if (u >= 0)
                close(u);
            close(c);
            continue;
        }
        if (fcntl(u, F_SETFL, fcntl(u, F_GETFL) | O_NONBLOCK) < 0) {
            close(u);
            close(c);
            continue;
        }
        nodelay(c);
        nodelay(u);
        struct pair *p = calloc(1, sizeof *p);
        if (!p) {
            close(u);
            close(c);
            continue;
        }
        int fds[2] = {c, u};
        for (int i = 0; i < 2; i++) {
            p->e[i].p = p;
            p->e[i].side = i;
            p->e[i].fd = fds[i];
            p->e[i].events = EPOLLIN;
            struct epoll_event e = {.events = EPOLLIN, .data.ptr = &p->e[i]};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0) {
                perror("bench_relay: epoll_ctl");
                exit(1);
            }
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || !strchr(argv[1], ':')) {
        fprintf(stderr, "usage: bench_relay HOST:PORT (or http://HOST:PORT)\n");
        return 2;
    }
    char host[256];
    const char *hp = argv[1];
    if (strncmp(hp, "http://", 7) == 0)
        hp += 7;
    const char *colon = strrchr(hp, ':');
    size_t hl = (size_t)(colon - hp);
    if (hl == 0 || hl >= sizeof host) {
        fprintf(stderr, "bench_relay: bad address %s\n", argv[1]);
        return 2;
    }
    memcpy(host, hp, hl);
    host[hl] = 0;
    char port[16];
    snprintf(port, sizeof port, "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "bench_relay: %s: %s (a numeric loopback address)\n", argv[1], gai_strerror(rc));
        return 2;
    }
    memcpy(&up_addr, ai->ai_addr, ai->ai_addrlen);
    up_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
        perror("bench_relay: listen on 127.0.0.1");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le) < 0) {
        perror("bench_relay: epoll");
        return 1;
    }
    printf("listening on http://127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("bench_relay: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct end *e = evs[i].data.ptr;
            if (!e) {
                accept_all(lfd);
                continue;
            }
            struct pair *p = e->p;
            if (p->dead)
                continue;
            int side = e->side;
            /* Bytes waiting for this end go first, then what it sent. */
            if ((evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && flush(p, !side) < 0) {
                kill_pair(p);
                continue;
            }
            if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && pump(p, side) < 0) {
                kill_pair(p);
                continue;
            }
            if (want(p, 0) < 0 || want(p, 1) < 0)
                kill_pair(p);
        }
        while (dead) {
            struct pair *p = dead;
            dead = p->next_dead;
            free(p);
        }
    }
}
