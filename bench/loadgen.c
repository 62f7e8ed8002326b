/* loadgen: a WebSocket load generator. The master forks W workers; each opens
 * its share of N connections (epoll, non-blocking, source addresses 127.0.0.1..x),
 * reads every frame with a streaming parser (no per-message allocation), and
 * records the latency of each message carrying "t=<CLOCK_REALTIME ns>".
 * Workers publish counters in shared memory; the master answers signals:
 *   SIGUSR1  mark: later reports count from here
 *   SIGUSR2  print a report (JSON line) of what arrived since the mark
 *   SIGTERM  stop the workers, print the final report, exit
 * and prints {"event":"ready",...} once every connection has been tried.
 * --deflate offers permessage-deflate (RFC 7692) like a browser does; frames
 * with RSV1 are inflated (zlib, one inflater per connection, context kept) and
 * what the client sends itself (pongs, --client-ready) goes out compressed.
 * --port2 P --port2-from U sends the connections of users u<U>.. to port P
 * (a second server) and reports what arrived there apart (timed2, lat2_*;
 * lat1_* for the first port). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"

#define MAX_WORKERS 64
#define RX_BUF (256 * 1024)
#define EVENTS 1024
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ZOUT (64 * 1024) /* inflate output chunk, per worker */

enum target { T_NOTIFYD, T_NCHAN, T_RAW };
enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_HANDSHAKE, C_OPEN, C_DONE };

struct opts {
    enum target target;
    char host[64];
    int port;
    int conns, users, workers, src_ips, inflight;
    double connect_timeout_s, max_time_s;
    char secret[256];
    char sub_prefix[128];
    int linger0;
    int deflate;      /* offer permessage-deflate */
    int client_ready; /* send {"type":"client_ready"} once open */
    int port2;        /* users >= port2_from connect here (0: none) */
    int port2_from;
};

/* one worker's counters; written only by that worker, read by the master */
struct wstats {
    uint64_t target;     /* connections this worker opens */
    uint64_t tried;      /* connects started */
    uint64_t open;       /* WebSockets open now */
    uint64_t hs_ok;      /* 101 received */
    uint64_t hs_fail;    /* other status, or closed during the handshake */
    uint64_t conn_err;   /* socket/connect errors, handshake timeouts */
    uint64_t eof;        /* open connections the server dropped without a close frame */
    uint64_t closes;     /* close frames received */
    uint64_t close_4001; /* ... with code 4001 (slow reader) */
    uint64_t close_1001;
    uint64_t close_other;
    uint64_t last_close_code;
    uint64_t msgs;                       /* data messages received */
    uint64_t timed;                      /* ... carrying t=<ns> */
    uint64_t bytes;                      /* payload bytes of data messages */
    uint64_t pings;                      /* pings answered (WebSocket or {"type":"ping"}) */
    uint64_t drops;                      /* control replies the socket would not take */
    uint64_t pmd;                        /* connections with permessage-deflate */
    uint64_t raw_bytes;                  /* payload bytes of data messages, inflated */
    uint64_t zmsgs;                      /* data messages that came compressed */
    uint64_t zerr;                       /* inflate errors (connection dropped) */
    int64_t first_start_ns, last_est_ns; /* CLOCK_MONOTONIC: the connect phase */
    int64_t win_first_ns, win_last_ns; /* CLOCK_REALTIME: first/last timed message since the mark */
    uint64_t epoch_seen;
    int64_t errno_last;
    struct hist lat;  /* delivery latency, us */
    struct hist hs;   /* connect -> 101, us */
    uint64_t timed2;  /* timed messages on connections to --port2 */
    struct hist lat2; /* their latency, us */
};

struct shared {
    _Atomic uint64_t epoch; /* bumped by the master on a mark */
    _Atomic int stop;
    struct wstats w[];
};

struct conn {
    int fd;
    uint8_t state;
    uint8_t hlen, hneed; /* frame header bytes have / need */
    uint8_t opcode, fin, ctrl_len;
    uint8_t in_frag;           /* inside a fragmented data message */
    uint8_t scan, scan_digits; /* t=<digits> scanner state */
    uint8_t found;
    uint8_t head_len, st_len;
    uint8_t hs_match;  /* bytes of "\r\n\r\n" matched */
    uint8_t ext_match; /* bytes of "permessage-deflate" matched in the answer */
    uint8_t pmd;       /* permessage-deflate negotiated */
    uint8_t zmsg;      /* the current data message is compressed (RSV1) */
    z_stream *z;       /* this connection's inflater, made on first use */
    uint16_t req_off, req_len;
    uint32_t user, src;
    uint64_t remaining; /* payload bytes left in this frame */
    uint64_t scan_val, ts;
    int64_t t_start; /* mono ns */
    const char *req;
    uint8_t hdr[14];
    uint8_t ctrl[125];
    char head[16]; /* first bytes of the message (to spot {"type":"ping"}) */
    char st[12];   /* first bytes of the HTTP answer */
};

static struct opts o;
/* what the client sends, each compressed alone (valid whatever the server's
 * context mode): made once in main() */
static const char pong_text[] = "{\"type\":\"pong\"}";
static const char ready_text[] = "{\"type\":\"client_ready\"}";
static uint8_t z_pong[64], z_ready[64];
static size_t z_pong_len, z_ready_len;
static struct shared *sh;
static volatile sig_atomic_t worker_stop;
static pid_t master_pid;
static uint32_t rnd_state = 0x9e3779b9u;

static uint32_t xrand(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void on_term(int sig)
{
    (void)sig;
    worker_stop = 1;
}

/* --- worker --- */

struct worker {
    int id, ep;
    struct wstats *st;
    struct conn *c;
    uint8_t *zout; /* inflate output */
    int n;         /* connections */
    int next;      /* next to start */
    int inflight;  /* connecting / sending / handshaking */
    uint8_t *rx;
    char *arena; /* requests */
    int64_t connect_deadline;
};

static void conn_finish(struct worker *w, struct conn *c, int linger0)
{
    if (c->fd >= 0) {
        if (linger0) {
            struct linger l = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        close(c->fd); /* also leaves the epoll set */
    }
    if (c->z) {
        inflateEnd(c->z);
        free(c->z);
        c->z = NULL;
    }
    if (c->state == C_OPEN)
        atomic_fetch_sub_explicit((_Atomic uint64_t *)&w->st->open, 1, memory_order_relaxed);
    else if (c->state >= C_CONNECTING && c->state <= C_HANDSHAKE)
        w->inflight--;
    c->fd = -1;
    c->state = C_DONE;
}

/* a masked client frame, payload <= 125; @rsv1: compressed (permessage-deflate) */
static void send_frame(struct worker *w, struct conn *c, int opcode, int rsv1, const uint8_t *p,
                       size_t n)
{
    uint8_t f[2 + 4 + 125];
    uint32_t m = xrand();
    uint8_t mask[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
    if (n > 125)
        n = 125;
    f[0] = (uint8_t)(0x80 | (rsv1 ? 0x40 : 0) | opcode);
    f[1] = (uint8_t)(0x80 | n);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = p[i] ^ mask[i & 3];
    if (send(c->fd, f, 6 + n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)(6 + n))
        w->st->drops++;
}

static int on_port2(const struct conn *c)
{
    return o.port2 > 0 && c->user >= (uint32_t)o.port2_from;
}

static int port_of(const struct conn *c)
{
    return on_port2(c) ? o.port2 : o.port;
}

static void message_done(struct worker *w, struct conn *c)
{
    struct wstats *st = w->st;
    if (c->scan == 2 && c->scan_digits >= 10 && !c->found) {
        c->found = 1;
        c->ts = c->scan_val;
    }
    st->msgs++;
    if (c->found) {
        int64_t now = now_ns();
        hist_add(&st->lat, (now - (int64_t)c->ts) / 1000);
        st->timed++;
        if (on_port2(c)) {
            hist_add(&st->lat2, (now - (int64_t)c->ts) / 1000);
            st->timed2++;
        }
        if (!st->win_first_ns)
            st->win_first_ns = now;
        st->win_last_ns = now;
    } else if (o.target == T_NOTIFYD && c->head_len >= 15 &&
               !memcmp(c->head, "{\"type\":\"ping\"", 14)) {
        if (c->pmd)
            send_frame(w, c, 1, 1, z_pong, z_pong_len);
        else
            send_frame(w, c, 1, 0, (const uint8_t *)pong_text, sizeof pong_text - 1);
        st->pings++;
    }
    c->scan = 0;
    c->scan_digits = 0;
    c->scan_val = 0;
    c->found = 0;
    c->head_len = 0;
    c->in_frag = 0;
}

/* feeds data-message payload bytes through the t=<digits> scanner */
static void scan_payload(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->head_len < sizeof c->head) {
        size_t k = sizeof c->head - c->head_len;
        if (k > n)
            k = n;
        memcpy(c->head + c->head_len, p, k);
        c->head_len = (uint8_t)(c->head_len + k);
    }
    if (c->found)
        return;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        switch (c->scan) {
        case 0:
            if (ch == 't')
                c->scan = 1;
            break;
        case 1:
            if (ch == '=') {
                c->scan = 2;
                c->scan_val = 0;
                c->scan_digits = 0;
            } else if (ch != 't') {
                c->scan = 0;
            }
            break;
        default:
            if (ch >= '0' && ch <= '9' && c->scan_digits < 19) {
                c->scan_val = c->scan_val * 10 + (ch - '0');
                c->scan_digits++;
            } else {
                if (c->scan_digits >= 10) {
                    c->found = 1;
                    c->ts = c->scan_val;
                    return;
                }
                c->scan = ch == 't' ? 1 : 0;
            }
        }
    }
}

/* inflates compressed payload bytes into the scanner; -1 (connection
 * dropped) on a zlib error */
static int inflate_feed(struct worker *w, struct conn *c, const uint8_t *p, size_t n)
{
    if (!c->z) {
        c->z = calloc(1, sizeof *c->z);
        if (!c->z || inflateInit2(c->z, -15) != Z_OK) {
            free(c->z);
            c->z = NULL;
            w->st->zerr++;
            conn_finish(w, c, 1);
            return -1;
        }
    }
    c->z->next_in = (Bytef *)p;
    c->z->avail_in = (uInt)n;
    /* bounded: each pass consumes input or fills the whole output chunk */
    for (int pass = 0; pass < (1 << 20); pass++) {
        c->z->next_out = w->zout;
        c->z->avail_out = ZOUT;
        int rc = inflate(c->z, Z_SYNC_FLUSH);
        size_t got = ZOUT - c->z->avail_out;
        if (got) {
            scan_payload(c, w->zout, got);
            w->st->raw_bytes += got;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            w->st->zerr++;
            conn_finish(w, c, 1);
            return -1;
        }
        if (c->z->avail_out)
            break; /* took all it could; a full output chunk may have more behind it */
    }
    return 0;
}

/* a whole frame arrived (payload already scanned or copied) */
static int frame_done(struct worker *w, struct conn *c)
{
    struct wstats *st = w->st;
    if (c->opcode >= 8) {
        if (c->opcode == 8) { /* close: answer with the same code and drop */
            unsigned code = c->ctrl_len >= 2 ? (unsigned)c->ctrl[0] << 8 | c->ctrl[1] : 1005;
            st->closes++;
            st->last_close_code = code;
            if (code == 4001)
                st->close_4001++;
            else if (code == 1001)
                st->close_1001++;
            else
                st->close_other++;
            send_frame(w, c, 8, 0, c->ctrl, c->ctrl_len >= 2 ? 2 : 0);
            conn_finish(w, c, 0);
            return -1;
        }
        if (c->opcode == 9) {
            send_frame(w, c, 10, 0, c->ctrl, c->ctrl_len);
            st->pings++;
        }
        c->ctrl_len = 0;
        return 0;
    }
    if (c->fin) {
        static const uint8_t trailer[4] = {0, 0, 0xff, 0xff}; /* RFC 7692 7.2.2 */
        if (c->zmsg && inflate_feed(w, c, trailer, sizeof trailer) < 0)
            return -1;
        message_done(w, c);
    } else {
        c->in_frag = 1;
    }
    return 0;
}

/* parses frames from p[0..n); -1 when the connection went away */
static int parse_frames(struct worker *w, struct conn *c, const uint8_t *p, size_t n)
{
    while (n) {
        if (c->hlen < c->hneed || c->hneed == 0) {
            if (c->hneed == 0)
                c->hneed = 2;
            while (n && c->hlen < c->hneed) {
                c->hdr[c->hlen++] = *p++;
                n--;
                if (c->hlen == 2) {
                    uint8_t l = c->hdr[1] & 0x7f;
                    c->hneed = (uint8_t)(2 +
                                         (l == 126   ? 2
                                          : l == 127 ? 8
                                                     : 0) +
                                         (c->hdr[1] & 0x80 ? 4 : 0));
                }
            }
            if (c->hlen < c->hneed)
                return 0;
            uint8_t l = c->hdr[1] & 0x7f;
            uint64_t len = l;
            if (l == 126)
                len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
            else if (l == 127) {
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = len << 8 | c->hdr[2 + i];
            }
            c->fin = c->hdr[0] >> 7;
            uint8_t op = c->hdr[0] & 0x0f;
            if (op == 1 || op == 2) /* a new data message: RSV1 says compressed */
                c->zmsg = c->pmd && (c->hdr[0] & 0x40);
            c->opcode = op == 0 ? 1 : op; /* continuation: part of a data message */
            c->remaining = len;
            c->ctrl_len = 0;
            if (c->opcode >= 8 && len > 125) { /* protocol error */
                w->st->hs_fail++;
                conn_finish(w, c, 1);
                return -1;
            }
            if (c->opcode < 8) {
                w->st->bytes += len;
                if (!c->zmsg)
                    w->st->raw_bytes += len;
                else if (op)
                    w->st->zmsgs++;
            }
        }
        size_t take = c->remaining < n ? (size_t)c->remaining : n;
        if (take) {
            if (c->opcode >= 8) {
                memcpy(c->ctrl + c->ctrl_len, p, take);
                c->ctrl_len = (uint8_t)(c->ctrl_len + take);
            } else if (c->zmsg) {
                if (inflate_feed(w, c, p, take) < 0)
                    return -1;
            } else {
                scan_payload(c, p, take);
            }
            p += take;
            n -= take;
            c->remaining -= take;
        }
        if (c->remaining == 0) {
            c->hlen = 0;
            c->hneed = 0;
            if (frame_done(w, c) < 0)
                return -1;
        }
    }
    return 0;
}

static void start_connect(struct worker *w, struct conn *c)
{
    struct wstats *st = w->st;
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    int one = 1;

    c->t_start = mono_ns();
    if (!st->first_start_ns)
        st->first_start_ns = c->t_start;
    st->tried++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        goto fail;
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    src.sin_addr.s_addr = htonl(0x7f000001u + c->src);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
        goto fail;
    dst.sin_port = htons((uint16_t)port_of(c));
    inet_pton(AF_INET, o.host, &dst.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        goto fail;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        goto fail;
    c->state = C_CONNECTING;
    w->inflight++;
    return;
fail:
    st->errno_last = errno;
    st->conn_err++;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = C_DONE;
}

static void send_request(struct worker *w, struct conn *c)
{
    while (c->req_off < c->req_len) {
        ssize_t k = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EAGAIN)
                return;
            w->st->errno_last = errno;
            w->st->conn_err++;
            conn_finish(w, c, 1);
            return;
        }
        c->req_off = (uint16_t)(c->req_off + k);
    }
    c->state = C_HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* handshake bytes; returns bytes consumed, or -1 when the connection failed */
static ssize_t read_handshake(struct worker *w, struct conn *c, const uint8_t *p, size_t n)
{
    static const char end[] = "\r\n\r\n";
    size_t i = 0;
    static const char ext[] = "permessage-deflate";
    for (; i < n; i++) {
        if (o.deflate) { /* the extension named anywhere in the answer's headers */
            char ch = (char)(p[i] | 0x20);
            if (ch == ext[c->ext_match]) {
                if (++c->ext_match == sizeof ext - 1) {
                    c->pmd = 1;
                    c->ext_match = 0;
                }
            } else {
                c->ext_match = ch == ext[0];
            }
        }
        if (c->st_len < sizeof c->st)
            c->st[c->st_len++] = (char)p[i];
        if (p[i] == (uint8_t)end[c->hs_match])
            c->hs_match++;
        else
            c->hs_match = p[i] == '\r' ? 1 : 0;
        if (c->hs_match == 4) {
            i++;
            if (c->st_len < 12 || memcmp(c->st + 8, " 101", 4)) {
                w->st->hs_fail++;
                conn_finish(w, c, 1);
                return -1;
            }
            int64_t now = mono_ns();
            hist_add(&w->st->hs, (now - c->t_start) / 1000);
            w->st->hs_ok++;
            w->st->last_est_ns = now;
            w->inflight--;
            c->state = C_OPEN;
            atomic_fetch_add_explicit((_Atomic uint64_t *)&w->st->open, 1, memory_order_relaxed);
            w->st->pmd += c->pmd;
            if (o.client_ready && c->pmd)
                send_frame(w, c, 1, 1, z_ready, z_ready_len);
            else if (o.client_ready)
                send_frame(w, c, 1, 0, (const uint8_t *)ready_text, sizeof ready_text - 1);
            return (ssize_t)i;
        }
    }
    return (ssize_t)i;
}

static void on_readable(struct worker *w, struct conn *c)
{
    for (int round = 0; round < 4 && c->state != C_DONE; round++) {
        ssize_t k = recv(c->fd, w->rx, RX_BUF, 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
            if (c->state == C_OPEN)
                w->st->eof++;
            else
                w->st->hs_fail++;
            conn_finish(w, c, 1);
            return;
        }
        if (k < 0)
            return;
        const uint8_t *p = w->rx;
        size_t n = (size_t)k;
        if (c->state == C_HANDSHAKE) {
            ssize_t used = read_handshake(w, c, p, n);
            if (used < 0)
                return;
            p += used;
            n -= (size_t)used;
        }
        if (c->state == C_OPEN && n && parse_frames(w, c, p, n) < 0)
            return;
        if (k < RX_BUF)
            return;
    }
}

static void on_event(struct worker *w, struct conn *c, uint32_t events)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            w->st->errno_last = err;
            w->st->conn_err++;
            conn_finish(w, c, 1);
            return;
        }
        c->state = C_SENDING;
    }
    if (c->state == C_SENDING) {
        send_request(w, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(w, c);
}

/* builds every connection's HTTP upgrade request up front */
static int build_requests(struct worker *w, int first)
{
    size_t per = 768 + (o.target == T_NOTIFYD ? 512 : 0);
    w->arena = malloc((size_t)w->n * per);
    if (!w->arena)
        return -1;
    for (int i = 0; i < w->n; i++) {
        struct conn *c = &w->c[i];
        int gi = first + i; /* global connection index */
        char path[700], user[32];
        c->fd = -1;
        c->user = (uint32_t)(gi % o.users);
        c->src = (uint32_t)(gi % o.src_ips);
        snprintf(user, sizeof user, "u%u", c->user);
        if (o.target == T_NOTIFYD) {
            char tok[600];
            if (jwt_mint(o.secret, user, "user", 3600, tok, sizeof tok) < 0)
                return -1;
            snprintf(path, sizeof path, "/ws?token=%s", tok);
        } else if (o.target == T_NCHAN) {
            snprintf(path, sizeof path, "%s%s", o.sub_prefix, user);
        } else {
            snprintf(path, sizeof path, "/");
        }
        char *r = w->arena + (size_t)i * per;
        int len = snprintf(r, per,
                           "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                           "Sec-WebSocket-Version: 13\r\n%s\r\n",
                           path, o.host, port_of(c),
                           o.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                       "client_max_window_bits\r\n"
                                     : "");
        if (len < 0 || (size_t)len >= per)
            return -1;
        c->req = r;
        c->req_len = (uint16_t)len;
    }
    return 0;
}

static void worker_main(int id)
{
    struct worker w;
    struct epoll_event evs[EVENTS];
    memset(&w, 0, sizeof w);
    w.id = id;
    w.st = &sh->w[id];
    int first = (int)((long)o.conns * id / o.workers);
    int last = (int)((long)o.conns * (id + 1) / o.workers);
    w.n = last - first;
    w.st->target = (uint64_t)w.n;
    rnd_state ^= (uint32_t)getpid() * 2654435761u;

    signal(SIGTERM, on_term);
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    w.c = calloc((size_t)w.n + 1, sizeof *w.c);
    w.rx = malloc(RX_BUF);
    w.zout = malloc(ZOUT);
    w.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!w.c || !w.rx || !w.zout || w.ep < 0 || build_requests(&w, first) < 0) {
        fprintf(stderr, "loadgen worker %d: setup failed\n", id);
        _exit(2);
    }
    int64_t t0 = mono_ns();
    int64_t deadline = t0 + (int64_t)(o.max_time_s * 1e9);
    w.connect_deadline = t0 + (int64_t)(o.connect_timeout_s * 1e9);
    int64_t next_sweep = t0 + 1000000000LL;
    uint64_t epoch = atomic_load(&sh->epoch);

    /* bounded: every pass waits at most 50 ms and the loop ends at the deadline */
    while (!worker_stop && !atomic_load(&sh->stop)) {
        int64_t now = mono_ns();
        if (now >= deadline || getppid() != master_pid)
            break;
        uint64_t e = atomic_load(&sh->epoch);
        if (e != epoch) {
            epoch = e;
            w.st->win_first_ns = 0;
            w.st->win_last_ns = 0;
        }
        while (w.next < w.n && w.inflight < o.inflight && now < w.connect_deadline)
            start_connect(&w, &w.c[w.next++]);
        if (now >= next_sweep) { /* give up on handshakes past the connect timeout */
            next_sweep = now + 1000000000LL;
            if (w.inflight && now >= w.connect_deadline)
                for (int i = 0; i < w.n; i++) {
                    struct conn *c = &w.c[i];
                    if (c->state >= C_CONNECTING && c->state <= C_HANDSHAKE) {
                        w.st->conn_err++;
                        w.st->errno_last = ETIMEDOUT;
                        conn_finish(&w, c, 1);
                    }
                }
            if (now >= w.connect_deadline)
                for (; w.next < w.n; w.next++) { /* never started: count as errors */
                    w.st->conn_err++;
                    w.c[w.next].state = C_DONE;
                }
        }
        int k = epoll_wait(w.ep, evs, EVENTS, 50);
        for (int i = 0; i < k; i++)
            on_event(&w, evs[i].data.ptr, evs[i].events);
    }
    for (int i = 0; i < w.n; i++)
        if (w.c[i].fd >= 0)
            conn_finish(&w, &w.c[i], o.linger0);
    _exit(0);
}

/* --- master --- */

static pid_t pids[MAX_WORKERS];
static struct wstats *mark_snap; /* counters at the last mark */
static int64_t t_start_mono;

static double proc_cpu_s(pid_t pid) /* utime + stime from /proc/<pid>/stat */
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long ut = 0, stt = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
        return 0;
    return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static double workers_cpu_s(void)
{
    double s = cpu_self_s();
    for (int i = 0; i < o.workers; i++)
        if (pids[i] > 0)
            s += proc_cpu_s(pids[i]);
    return s;
}

static void snapshot(struct wstats *dst)
{
    for (int i = 0; i < o.workers; i++)
        memcpy(&dst[i], &sh->w[i], sizeof *dst);
}

#define SUM(field)                                                                                 \
    ({                                                                                             \
        uint64_t s_ = 0;                                                                           \
        for (int i_ = 0; i_ < o.workers; i_++)                                                     \
            s_ += cur[i_].field;                                                                   \
        s_;                                                                                        \
    })
#define SUMD(field)                                                                                \
    ({                                                                                             \
        uint64_t s_ = 0;                                                                           \
        for (int i_ = 0; i_ < o.workers; i_++)                                                     \
            s_ += cur[i_].field - mark_snap[i_].field;                                             \
        s_;                                                                                        \
    })

static void report(const char *event, double cpu_s)
{
    static struct wstats cur[MAX_WORKERS];
    static struct hist lat, hs, lat1, lat2;
    snapshot(cur);

    memset(&lat, 0, sizeof lat);
    memset(&hs, 0, sizeof hs);
    memset(&lat1, 0, sizeof lat1);
    memset(&lat2, 0, sizeof lat2);
    int64_t first = 0, last = 0, c_first = 0, c_last = 0;
    for (int i = 0; i < o.workers; i++) {
        for (int b = 0; b < HIST_BUCKETS; b++) {
            uint64_t d = cur[i].lat.b[b] - mark_snap[i].lat.b[b];
            lat.b[b] += d;
            lat.n += d;
            if (d && hist_value(b) > lat.max)
                lat.max = hist_value(b);
            hs.b[b] += cur[i].hs.b[b];
            uint64_t d2 = cur[i].lat2.b[b] - mark_snap[i].lat2.b[b];
            uint64_t d1 = d >= d2 ? d - d2 : 0; /* torn snapshot: never negative */
            lat2.b[b] += d2;
            lat2.n += d2;
            if (d2 && hist_value(b) > lat2.max)
                lat2.max = hist_value(b);
            lat1.b[b] += d1;
            lat1.n += d1;
            if (d1 && hist_value(b) > lat1.max)
                lat1.max = hist_value(b);
        }
        lat.sum += cur[i].lat.sum - mark_snap[i].lat.sum;
        uint64_t s2 = cur[i].lat2.sum - mark_snap[i].lat2.sum;
        lat2.sum += s2;
        lat1.sum += cur[i].lat.sum - mark_snap[i].lat.sum - s2;
        hs.n += cur[i].hs.n;
        hs.sum += cur[i].hs.sum;
        if (cur[i].hs.max > hs.max)
            hs.max = cur[i].hs.max;
        if (cur[i].win_first_ns && (!first || cur[i].win_first_ns < first))
            first = cur[i].win_first_ns;
        if (cur[i].win_last_ns > last)
            last = cur[i].win_last_ns;
        if (cur[i].first_start_ns && (!c_first || cur[i].first_start_ns < c_first))
            c_first = cur[i].first_start_ns;
        if (cur[i].last_est_ns > c_last)
            c_last = cur[i].last_est_ns;
    }
    uint64_t true_max = 0; /* the bucket edge can overshoot the largest value seen */
    for (int i = 0; i < o.workers; i++)
        if (cur[i].lat.max > true_max)
            true_max = cur[i].lat.max;
    if (lat.max > true_max)
        lat.max = true_max;
    if (lat1.max > true_max)
        lat1.max = true_max;
    if (lat2.max > true_max)
        lat2.max = true_max;
    uint64_t timed = SUMD(timed);
    double win = last > first ? (last - first) / 1e9 : 0;
    double connect_s = c_last > c_first ? (c_last - c_first) / 1e9 : 0;
    uint64_t hs_ok = SUM(hs_ok);
    char latj[256], hsj[256], lat1j[256], lat2j[256];
    hist_json(&lat, "lat_", latj, sizeof latj);
    hist_json(&lat1, "lat1_", lat1j, sizeof lat1j);
    hist_json(&lat2, "lat2_", lat2j, sizeof lat2j);
    hist_json(&hs, "hs_", hsj, sizeof hsj);
    printf("{\"event\":\"%s\",\"t\":%.3f,\"conns\":%d,\"workers\":%d,\"open\":%llu,"
           "\"hs_ok\":%llu,\"hs_fail\":%llu,\"conn_err\":%llu,\"errno_last\":%lld,"
           "\"connect_s\":%.3f,\"connect_rate\":%.1f,%s,"
           "\"msgs\":%llu,\"timed\":%llu,\"bytes\":%llu,\"window_s\":%.3f,\"rate\":%.1f,%s,"
           "\"closes\":%llu,\"close_4001\":%llu,\"close_1001\":%llu,\"close_other\":%llu,"
           "\"last_close_code\":%llu,\"eof\":%llu,\"pings\":%llu,\"drops\":%llu,\"pmd\":%llu,"
           "\"raw_bytes\":%llu,\"zmsgs\":%llu,\"zerr\":%llu,\"timed2\":%llu,%s,%s,"
           "\"cpu_s\":%.3f}\n",
           event, (mono_ns() - t_start_mono) / 1e9, o.conns, o.workers,
           (unsigned long long)SUM(open), (unsigned long long)hs_ok,
           (unsigned long long)SUM(hs_fail), (unsigned long long)SUM(conn_err),
           (long long)cur[0].errno_last, connect_s, connect_s > 0 ? hs_ok / connect_s : 0.0, hsj,
           (unsigned long long)SUMD(msgs), (unsigned long long)timed,
           (unsigned long long)SUMD(bytes), win, win > 0 ? timed / win : 0.0, latj,
           (unsigned long long)SUM(closes), (unsigned long long)SUM(close_4001),
           (unsigned long long)SUM(close_1001), (unsigned long long)SUM(close_other),
           (unsigned long long)cur[0].last_close_code, (unsigned long long)SUM(eof),
           (unsigned long long)SUM(pings), (unsigned long long)SUM(drops),
           (unsigned long long)SUM(pmd), (unsigned long long)SUMD(raw_bytes),
           (unsigned long long)SUMD(zmsgs), (unsigned long long)SUM(zerr),
           (unsigned long long)SUMD(timed2), lat1j, lat2j, cpu_s);
    fflush(stdout);
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --target notifyd|nchan|raw --port P [--host 127.0.0.1]\n"
                    "  --conns N --users U [--workers W] [--src-ips X] [--inflight M]\n"
                    "  [--secret S] (notifyd) [--sub-prefix /sub/] (nchan)\n"
                    "  [--connect-timeout 60] [--max-time 900] [--no-linger0]\n"
                    "  [--deflate] (offer permessage-deflate) [--client-ready] (send one message)\n"
                    "  [--port2 P --port2-from U] (users uU.. connect to port P: a second server)\n"
                    "signals: USR1 mark, USR2 report since mark, TERM final report + exit\n");
    exit(2);
}

static int parse(int argc, char **argv)
{
    static const struct option lo[] = {{"target", 1, 0, 't'},
                                       {"host", 1, 0, 'h'},
                                       {"port", 1, 0, 'p'},
                                       {"conns", 1, 0, 'n'},
                                       {"users", 1, 0, 'u'},
                                       {"workers", 1, 0, 'w'},
                                       {"src-ips", 1, 0, 'x'},
                                       {"inflight", 1, 0, 'i'},
                                       {"secret", 1, 0, 's'},
                                       {"sub-prefix", 1, 0, 'P'},
                                       {"connect-timeout", 1, 0, 'C'},
                                       {"max-time", 1, 0, 'M'},
                                       {"no-linger0", 0, 0, 'L'},
                                       {"deflate", 0, 0, 'D'},
                                       {"client-ready", 0, 0, 'R'},
                                       {"port2", 1, 0, 'q'},
                                       {"port2-from", 1, 0, 'F'},
                                       {0, 0, 0, 0}};
    o.target = T_NOTIFYD;
    snprintf(o.host, sizeof o.host, "127.0.0.1");
    snprintf(o.sub_prefix, sizeof o.sub_prefix, "/sub/");
    o.conns = 1000;
    o.users = 0;
    o.workers = 0;
    o.src_ips = 4;
    o.inflight = 256;
    o.connect_timeout_s = 60;
    o.max_time_s = 900;
    o.linger0 = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 't':
            o.target = !strcmp(optarg, "nchan") ? T_NCHAN
                       : !strcmp(optarg, "raw") ? T_RAW
                                                : T_NOTIFYD;
            if (strcmp(optarg, "nchan") && strcmp(optarg, "raw") && strcmp(optarg, "notifyd"))
                usage();
            break;
        case 'h': snprintf(o.host, sizeof o.host, "%s", optarg); break;
        case 'p': o.port = atoi(optarg); break;
        case 'n': o.conns = atoi(optarg); break;
        case 'u': o.users = atoi(optarg); break;
        case 'w': o.workers = atoi(optarg); break;
        case 'x': o.src_ips = atoi(optarg); break;
        case 'i': o.inflight = atoi(optarg); break;
        case 's': snprintf(o.secret, sizeof o.secret, "%s", optarg); break;
        case 'P': snprintf(o.sub_prefix, sizeof o.sub_prefix, "%s", optarg); break;
        case 'C': o.connect_timeout_s = atof(optarg); break;
        case 'M': o.max_time_s = atof(optarg); break;
        case 'L': o.linger0 = 0; break;
        case 'D': o.deflate = 1; break;
        case 'R': o.client_ready = 1; break;
        case 'q': o.port2 = atoi(optarg); break;
        case 'F': o.port2_from = atoi(optarg); break;
        default: usage();
        }
    }
    if (o.port <= 0 || o.conns <= 0 || o.src_ips < 1 || o.src_ips > 254 || o.inflight < 1 ||
        o.port2 < 0 || o.port2 > 65535 || o.port2_from < 0)
        usage();
    if (o.target == T_NOTIFYD && !o.secret[0]) {
        fprintf(stderr, "loadgen: --secret is needed for notifyd\n");
        exit(2);
    }
    if (o.users <= 0)
        o.users = o.conns;
    return 0;
}

/* @text deflated alone (RFC 7692: sync flush, the 00 00 ff ff tail dropped) */
static size_t deflate_alone(const char *text, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_SYNC_FLUSH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_OK && n > 4 && !z.avail_in ? n - 4 : 0;
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    z_pong_len = deflate_alone(pong_text, z_pong, sizeof z_pong);
    z_ready_len = deflate_alone(ready_text, z_ready, sizeof z_ready);
    if (!z_pong_len || !z_ready_len) {
        fprintf(stderr, "loadgen: zlib failed\n");
        return 2;
    }
    long nofile = raise_nofile();
    long per_worker_max = nofile - 64;
    if (o.workers <= 0)
        o.workers = (int)((o.conns + per_worker_max - 1) / per_worker_max);
    if (o.workers < 1)
        o.workers = 1;
    if (o.workers > MAX_WORKERS || (o.conns + o.workers - 1) / o.workers > per_worker_max) {
        fprintf(stderr, "loadgen: %d connections do not fit in %d workers of %ld files\n", o.conns,
                o.workers, per_worker_max);
        return 2;
    }
    size_t shsize = sizeof(struct shared) + (size_t)o.workers * sizeof(struct wstats);
    sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    mark_snap = calloc((size_t)o.workers, sizeof *mark_snap);
    if (sh == MAP_FAILED || !mark_snap) {
        perror("loadgen: mmap");
        return 1;
    }
    memset(sh, 0, shsize);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    master_pid = getpid();
    t_start_mono = mono_ns();
    fflush(stdout);
    for (int i = 0; i < o.workers; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("loadgen: fork");
            atomic_store(&sh->stop, 1);
            break;
        }
        if (p == 0)
            worker_main(i);
        pids[i] = p;
    }

    int ready = 0, dead = 0;
    int64_t deadline = t_start_mono + (int64_t)(o.max_time_s * 1e9);
    int64_t ready_deadline = t_start_mono + (int64_t)((o.connect_timeout_s + 3) * 1e9);
    struct timespec tick = {0, 100 * 1000000};
    while (mono_ns() < deadline) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGUSR1) {
            atomic_fetch_add(&sh->epoch, 1);
            snapshot(mark_snap);
            printf("{\"event\":\"mark\",\"t\":%.3f}\n", (mono_ns() - t_start_mono) / 1e9);
            fflush(stdout);
        } else if (sig == SIGUSR2) {
            report("report", workers_cpu_s());
        } else if (sig == SIGCHLD) {
            int status;
            pid_t p;
            while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
                for (int i = 0; i < o.workers; i++)
                    if (pids[i] == p)
                        pids[i] = -1;
                dead++;
                fprintf(stderr, "loadgen: worker %d ended early (status %d)\n", (int)p, status);
            }
            if (dead == o.workers)
                break;
        }
        if (!ready) {
            uint64_t done = 0, target = 0;
            for (int i = 0; i < o.workers; i++) {
                done += sh->w[i].hs_ok + sh->w[i].hs_fail + sh->w[i].conn_err;
                target += sh->w[i].target;
            }
            if ((target == (uint64_t)o.conns && done >= target) || mono_ns() > ready_deadline) {
                ready = 1;
                report("ready", workers_cpu_s());
            }
        }
    }
    double cpu_before = workers_cpu_s();
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < o.workers; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    int64_t reap_deadline = mono_ns() + 5000000000LL;
    int alive = o.workers - dead;
    while (alive > 0) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            alive--;
            continue;
        }
        if (p < 0)
            break;
        if (mono_ns() > reap_deadline) {
            for (int i = 0; i < o.workers; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGKILL);
            reap_deadline = mono_ns() + 5000000000LL;
        }
        usleep(10000);
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = cpu_self_s() + ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    report("final", cpu > cpu_before ? cpu : cpu_before);
    return 0;
}
