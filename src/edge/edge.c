/* edge: accept(), the first request head, and the descriptor budget of the
 * HTTP port, on nd-ws's libev loop. The head is looked at with MSG_PEEK and
 * left in the socket for lws to read (lws 4.1.6 mishandles a request body
 * that follows a head it was handed as bytes); SO_RCVLOWAT makes the next
 * wake-up wait for more bytes. Connections waiting for a head and
 * connections lingering after a refusal sit in two FIFO lists: accept order
 * is deadline order, so one sweep timer looks at their heads only. */
#include "edge/edge.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "edge/head.h"
#include "log.h"
#include "nd.h"

#define ACCEPTS_PER_WAKE 64          /* then other sockets get their turn */
#define BACKOFF_MS 100               /* after EMFILE: wait before accepting again */
#define LINGER_MS 3000               /* a refused socket is read and dropped this long at most */
#define LOG_EVERY_MS 10000           /* one line per kind of trouble per this, with a count */
#define BUF_MAX (ND_HEAD_MAX + 4096) /* read past a full head to tell "too big" */

enum trouble { T_EMFILE, T_BUDGET, T_EVICTED, T_ACCEPT, T__COUNT };

/* a connection the edge holds: waiting for its head, or lingering */
struct hold {
    struct edge *e;
    ev_io io;
    int64_t deadline_ms;
    struct hold *prev, *next; /* in e->waiting or e->lingering, oldest first */
    struct head_scan scan;
    size_t seen;    /* waiting: bytes of the head in the socket at the last look */
    size_t drained; /* lingering: bytes dropped */
};

struct list {
    struct hold *head, *tail;
    int64_t n;
};

struct edge {
    struct ev_loop *loop;
    struct edge_config cfg;
    struct edge_hooks hooks;
    int fd; /* listening */
    int port;
    int reserve; /* a spare descriptor, given up to shed a connection on EMFILE */
    ev_io listen_io;
    ev_timer backoff;  /* after EMFILE */
    ev_timer sweep;    /* deadlines of the two lists */
    atomic_int paused; /* 0 accepting, else why not (T_EMFILE, T_BUDGET); written on the loop */
    int stopped;       /* edge_stop(): never again */
    struct list waiting;
    struct list lingering;
    _Atomic int64_t adopted; /* lws connections alive, on any WebSocket thread */
    struct {
        uint64_t count;  /* since the last line */
        int64_t next_ms; /* no line before this */
    } trouble[T__COUNT];
    char scratch[BUF_MAX]; /* peeks at heads, reads of lingering sockets */
};

static const char *const trouble_msg[T__COUNT] = {
    "out of file descriptors: new HTTP connections are refused (503)",
    "descriptor budget of the HTTP port reached: not accepting until connections close",
    "too many connections waiting for a request head: the oldest were closed",
    "accept failed",
};

/* counts a kind of trouble; one log line per LOG_EVERY_MS with the count */
static void trouble(struct edge *e, enum trouble t, int err)
{
    int64_t now = nd_mono_ms();
    e->trouble[t].count++;
    if (now < e->trouble[t].next_ms)
        return;
    nd_log(t == T_EVICTED ? ND_LOG_WARN : ND_LOG_ERROR, trouble_msg[t], "{s:I, s:s, s:I, s:I}",
           "count", (json_int_t)e->trouble[t].count, "error", err ? strerror(err) : "", "sockets",
           (json_int_t)edge_sockets(e), "budget", (json_int_t)e->cfg.budget);
    e->trouble[t].count = 0;
    e->trouble[t].next_ms = now + LOG_EVERY_MS;
}

/* --- the two lists --- */

static void list_add(struct list *l, struct hold *h)
{
    h->next = NULL;
    h->prev = l->tail;
    if (l->tail)
        l->tail->next = h;
    else
        l->head = h;
    l->tail = h;
    l->n++;
}

static void list_del(struct list *l, struct hold *h)
{
    if (l->head == h)
        l->head = h->next;
    else
        h->prev->next = h->next;
    if (l->tail == h)
        l->tail = h->prev;
    else
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    l->n--;
}

static int64_t http_connections(const struct edge *e)
{
    int64_t ws = e->hooks.websockets(e->hooks.arg);
    int64_t lws_http = e->adopted > ws ? e->adopted - ws : 0;
    return e->waiting.n + e->lingering.n + lws_http;
}

int64_t edge_sockets(const struct edge *e)
{
    return e->waiting.n + e->lingering.n + e->adopted;
}

static void sweep_arm(struct edge *e)
{
    if (!ev_is_active(&e->sweep) && (e->waiting.n || e->lingering.n))
        ev_timer_again(e->loop, &e->sweep);
}

static void set_paused(struct edge *e, int why)
{
    if (e->paused == why)
        return;
    int was = e->paused;
    e->paused = why;
    if (why)
        ev_io_stop(e->loop, &e->listen_io);
    else if (!e->stopped)
        ev_io_start(e->loop, &e->listen_io);
    if (!was != !why && e->hooks.accepting)
        e->hooks.accepting(e->hooks.arg, !why);
    if (!why)
        nd_log(ND_LOG_INFO, "the HTTP port accepts connections again", "{s:I}", "sockets",
               (json_int_t)edge_sockets(e));
}

/* a socket went: the budget may let the listener go on */
static void maybe_resume(struct edge *e)
{
    if (e->paused == T_BUDGET && edge_sockets(e) < e->cfg.budget)
        set_paused(e, 0);
}

/* @h is in @l, e->waiting or e->lingering */
static void hold_free(struct edge *e, struct list *l, struct hold *h)
{
    ev_io_stop(e->loop, &h->io);
    list_del(l, h);
    free(h);
}

static void hold_close(struct edge *e, struct list *l, struct hold *h)
{
    close(h->io.fd);
    hold_free(e, l, h);
    maybe_resume(e);
}

/* --- lingering: the answer is written; read and drop until the peer is done --- */

/* wake up only when more than @n bytes wait (1: any) */
static void low_water(int fd, size_t n)
{
    int v = (int)n;
    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
}

static void on_linger_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct hold *h = ND_CONTAINER_OF(w, struct hold, io);
    (void)loop;
    (void)revents;
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(w->fd, h->e->scratch, sizeof h->e->scratch);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0 || (h->drained += (size_t)n) > (size_t)h->e->cfg.linger_bytes) {
            hold_close(h->e, &h->e->lingering, h);
            return;
        }
    }
}

/* stops writing to @fd and keeps reading it for LINGER_MS at most */
static void linger_fd(struct edge *e, struct hold *h, int fd)
{
    shutdown(fd, SHUT_WR);
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h) {
            close(fd);
            return;
        }
        h->e = e;
    } else {
        ev_io_stop(e->loop, &h->io);
        list_del(&e->waiting, h);
        low_water(fd, 1);
    }
    h->deadline_ms = nd_mono_ms() + LINGER_MS;
    ev_io_init(&h->io, on_linger_read, fd, EV_READ);
    ev_io_start(e->loop, &h->io);
    list_add(&e->lingering, h);
    sweep_arm(e);
}

void edge_linger(struct edge *e, int fd)
{
    linger_fd(e, NULL, fd);
}

/* writes a short JSON answer (best effort: it fits any socket buffer) */
static void answer(int fd, int status, const char *reason, const char *msg)
{
    char body[256], out[512];
    int blen = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", status, msg);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                     "cache-control: no-store\r\nconnection: close\r\n\r\n%s",
                     status, reason, blen, body);
    if (n > 0 && n < (int)sizeof out && send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        return; /* the peer is gone; closing is all that is left */
}

/* answers @status for a connection still waiting for its head, then lingers */
static void refuse(struct edge *e, struct hold *h, int fd, int status)
{
    char msg[160];
    const char *reason = "Bad Request";
    switch (status) {
    case 408:
        reason = "Request Timeout";
        snprintf(msg, sizeof msg, "the request head did not arrive within %lld ms",
                 (long long)e->cfg.header_timeout_ms);
        break;
    case 414:
        reason = "URI Too Long";
        snprintf(msg, sizeof msg, "the request line is over %d bytes", ND_HEAD_MAX);
        break;
    case 431:
        reason = "Request Header Fields Too Large";
        snprintf(msg, sizeof msg, "the request head is over %d bytes", ND_HEAD_MAX);
        break;
    case 503:
        reason = "Service Unavailable";
        snprintf(msg, sizeof msg, "too many connections: try again");
        break;
    default: snprintf(msg, sizeof msg, "not an HTTP/1.1 request"); break;
    }
    answer(fd, status, reason, msg);
    linger_fd(e, h, fd);
}

/* --- waiting for the head --- */

/* the head is complete: lws takes the connection, the head still unread */
static void hand_over(struct edge *e, struct hold *h, int fd, int websocket)
{
    if (h) {
        low_water(fd, 1);
        ev_io_stop(e->loop, &h->io);
        list_del(&e->waiting, h);
        free(h);
    }
    e->hooks.adopt(e->hooks.arg, fd, websocket);
    maybe_resume(e);
}

/* the request line asks for the WebSocket endpoint: "GET /ws" then '?', ' ' */
static int websocket_path(const char *head, size_t len)
{
    static const char get[] = "GET /ws";
    return len > sizeof get - 1 && !memcmp(head, get, sizeof get - 1) &&
           (head[sizeof get - 1] == '?' || head[sizeof get - 1] == ' ');
}

/* looks at what waits in @fd: hands over, refuses, or returns the bytes
 * seen (>= 0) to wait for more; -1 when the client went */
static ssize_t judge(struct edge *e, struct hold *h, int fd, struct head_scan *scan)
{
    ssize_t n = recv(fd, e->scratch, sizeof e->scratch, MSG_PEEK);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    if (n == 0)
        return -1;
    size_t end = 0;
    enum head_result r = head_scan(scan, e->scratch, (size_t)n, &end);
    if (r == HEAD_DONE)
        hand_over(e, h, fd, scan->upgrade && websocket_path(e->scratch, (size_t)n));
    else if (r != HEAD_MORE)
        refuse(e, h, fd, head_status(r));
    else if (h && (size_t)n == h->seen) /* woken with nothing new: the client stopped (FIN) */
        refuse(e, h, fd, 400);
    else
        return n;
    return -2; /* done with it */
}

static void on_head_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct hold *h = ND_CONTAINER_OF(w, struct hold, io);
    (void)loop;
    (void)revents;
    ssize_t n = judge(h->e, h, w->fd, &h->scan);
    if (n == -1) {
        hold_close(h->e, &h->e->waiting, h); /* gone before its head was complete */
    } else if (n >= 0) {
        h->seen = (size_t)n;
        low_water(w->fd, (size_t)n + 1);
    }
}

/* keeps @fd, @seen bytes of its head in, until the rest arrives */
static void wait_for_head(struct edge *e, int fd, size_t seen, const struct head_scan *scan)
{
    struct hold *h = calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        return;
    }
    h->e = e;
    h->scan = *scan;
    h->seen = seen;
    if (seen)
        low_water(fd, seen + 1);
    h->deadline_ms = nd_mono_ms() + e->cfg.header_timeout_ms;
    ev_io_init(&h->io, on_head_read, fd, EV_READ);
    ev_io_start(e->loop, &h->io);
    list_add(&e->waiting, h);
    sweep_arm(e);
}

/* a new connection: most clients have sent their head already */
static void admit(struct edge *e, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (e->cfg.tls) { /* the head is encrypted: lws reads it (and its own limits apply) */
        hand_over(e, NULL, fd, 0);
        return;
    }
    struct head_scan scan = {0};
    ssize_t n = judge(e, NULL, fd, &scan);
    if (n == -1)
        close(fd);
    else if (n >= 0)
        wait_for_head(e, fd, (size_t)n, &scan);
}

/* --- the listener --- */

/* closes the oldest connection still waiting for its head; 0 if none */
static int evict_oldest(struct edge *e)
{
    struct hold *h = e->waiting.head;
    if (!h)
        return 0;
    trouble(e, T_EVICTED, 0);
    hold_close(e, &e->waiting, h);
    return 1;
}

/* EMFILE: give up the reserve descriptor to take one connection off the
 * queue and refuse it, then wait a little before accepting again */
static void shed_one(struct edge *e, int err)
{
    trouble(e, T_EMFILE, err);
    if (e->reserve >= 0) {
        close(e->reserve);
        e->reserve = -1;
        int fd = accept4(e->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            answer(fd, 503, "Service Unavailable", "out of file descriptors: try again");
            close(fd);
        }
    }
    e->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    set_paused(e, T_EMFILE);
    ev_timer_set(&e->backoff, BACKOFF_MS / 1000.0, 0);
    ev_timer_start(e->loop, &e->backoff);
}

static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct edge *e = ND_CONTAINER_OF(w, struct edge, backoff);
    (void)loop;
    (void)revents;
    if (e->reserve < 0)
        e->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (e->paused == T_EMFILE)
        set_paused(e, 0);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct edge *e = ND_CONTAINER_OF(w, struct edge, listen_io);
    (void)loop;
    (void)revents;
    for (int i = 0; i < ACCEPTS_PER_WAKE && !e->paused; i++) {
        while ((edge_sockets(e) >= e->cfg.budget || http_connections(e) >= e->cfg.max_http) &&
               evict_oldest(e))
            ;
        if (edge_sockets(e) >= e->cfg.budget) {
            trouble(e, T_BUDGET, 0);
            set_paused(e, T_BUDGET);
            return;
        }
        int fd = accept4(e->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK)
                return;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM)
                continue;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                shed_one(e, err);
                return;
            }
            trouble(e, T_ACCEPT, err);
            return;
        }
        if (http_connections(e) >= e->cfg.max_http) { /* nothing left to evict */
            answer(fd, 503, "Service Unavailable", "too many connections: try again");
            close(fd);
            continue;
        }
        admit(e, fd);
    }
}

/* the deadlines: heads that did not arrive get 408; lingering ends */
static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct edge *e = ND_CONTAINER_OF(w, struct edge, sweep);
    (void)revents;
    int64_t now = nd_mono_ms();
    while (e->waiting.head && e->waiting.head->deadline_ms <= now) {
        struct hold *h = e->waiting.head;
        refuse(e, h, h->io.fd, 408);
    }
    while (e->lingering.head && e->lingering.head->deadline_ms <= now)
        hold_close(e, &e->lingering, e->lingering.head);
    if (!e->waiting.n && !e->lingering.n)
        ev_timer_stop(loop, w);
}

int edge_adopted(struct edge *e, int delta)
{
    atomic_fetch_add(&e->adopted, delta);
    return delta < 0 && atomic_load(&e->paused) == T_BUDGET;
}

void edge_resume(struct edge *e)
{
    maybe_resume(e);
}

/* binds @a (every interface: IPv6 with IPv4 too when the host has it) */
static int listen_on(const struct nd_addr *a, int *port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ports[16];
    const char *host = a->host[0] ? a->host : "::";
    snprintf(ports, sizeof ports, "%d", a->port);
    int rc = getaddrinfo(host, ports, &hints, &res);
    if (rc && !a->host[0])
        rc = getaddrinfo("0.0.0.0", ports, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", a->host, a->port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    if (fd >= 0 && res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", a->host, a->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } bound = {0}; /* zeroed: clang-analyzer does not see getsockname fill it */
    socklen_t sl = sizeof bound;
    if (getsockname(fd, &bound.sa, &sl) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", a->host, a->port, strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(bound.sa.sa_family == AF_INET6 ? bound.in6.sin6_port : bound.in.sin_port);
    return fd;
}

struct edge *edge_new(struct ev_loop *loop, const struct edge_config *cfg,
                      const struct edge_hooks *hooks, char *err, size_t errlen)
{
    struct edge *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->loop = loop;
    e->cfg = *cfg;
    e->hooks = *hooks;
    e->fd = listen_on(cfg->addr, &e->port, err, errlen);
    if (e->fd < 0) {
        free(e);
        return NULL;
    }
    /* a client that connects and sends nothing is not worth a descriptor:
     * the kernel keeps it until its first bytes (or the deadline) */
    int secs = (int)((cfg->header_timeout_ms + 999) / 1000);
    setsockopt(e->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
    e->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    double tick = (double)cfg->header_timeout_ms / 8000.0;
    ev_io_init(&e->listen_io, on_accept, e->fd, EV_READ);
    ev_init(&e->backoff, on_backoff);
    ev_init(&e->sweep, on_sweep);
    e->sweep.repeat = tick < 0.025 ? 0.025 : tick > 0.5 ? 0.5 : tick;
    ev_io_start(loop, &e->listen_io);
    return e;
}

int edge_port(const struct edge *e)
{
    return e->port;
}

void edge_stop(struct edge *e)
{
    if (!e || e->stopped)
        return;
    e->stopped = 1;
    ev_io_stop(e->loop, &e->listen_io);
    ev_timer_stop(e->loop, &e->backoff);
    while (e->waiting.head)
        hold_close(e, &e->waiting, e->waiting.head);
}

void edge_free(struct edge *e)
{
    if (!e)
        return;
    edge_stop(e);
    while (e->lingering.head)
        hold_close(e, &e->lingering, e->lingering.head);
    ev_timer_stop(e->loop, &e->sweep);
    close(e->fd);
    if (e->reserve >= 0)
        close(e->reserve);
    free(e);
}
