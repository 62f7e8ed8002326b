/* httppub: the nchan publisher. Plain keep-alive HTTP/1.1 POSTs on C
 * connections (one request in flight per connection, epoll), to /pub/u<k> for
 * random users (unicast) or to one broadcast channel, at a fixed offered rate
 * or as fast as the connections allow. The body is a notifyd-like JSON
 * envelope whose message is "t=<CLOCK_REALTIME ns>". One JSON line out. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define MAX_CONNS 1024

enum st { S_DOWN, S_CONNECTING, S_IDLE, S_SENDING, S_WAITING };

struct hconn {
    int fd;
    enum st st;
    char req[1024];
    int req_len, req_off;
    char rbuf[2048]; /* response head (+ the start of the body) */
    int rlen;
    long body_left; /* body bytes still to skip, -1 while reading the head */
    int status;
    int64_t t0;
};

static struct {
    char host[64], prefix[64], channel[64], mode[16];
    int port, users, conns;
    double rate, duration, max_time;
} o;

static struct hconn cs[MAX_CONNS];
static int ep;
static struct hist lat;
static uint64_t started, ok, errors, behind, reconnects, subscribers, status_2xx[10];
static int first_status;
static int64_t t_first, t_last;
static uint32_t rnd = 0x2545f491u;

static uint32_t xrand(void)
{
    rnd ^= rnd << 13;
    rnd ^= rnd >> 17;
    rnd ^= rnd << 5;
    return rnd;
}

static int conn_open(struct hconn *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    int one = 1;
    inet_pton(AF_INET, o.host, &a.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->st = S_CONNECTING;
    return 0;
}

static void conn_drop(struct hconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->st = S_DOWN;
}

static void set_events(struct hconn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void try_send(struct hconn *c)
{
    while (c->req_off < c->req_len) {
        ssize_t k =
            send(c->fd, c->req + c->req_off, (size_t)(c->req_len - c->req_off), MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EAGAIN) {
                set_events(c, EPOLLOUT);
                return;
            }
            errors++;
            conn_drop(c);
            return;
        }
        c->req_off += (int)k;
    }
    c->st = S_WAITING;
    c->rlen = 0;
    c->body_left = -1;
    set_events(c, EPOLLIN);
}

static void send_one(struct hconn *c)
{
    char body[512], path[160];
    long long t = (long long)now_ns();
    int blen;
    if (!strcmp(o.mode, "broadcast")) {
        snprintf(path, sizeof path, "%s%s", o.prefix, o.channel);
        blen = snprintf(body, sizeof body,
                        "{\"type\":\"system_notification\",\"data\":{\"title\":\"bench\","
                        "\"message\":\"t=%lld\",\"level\":\"info\"},\"timestamp\":%lld,"
                        "\"message_id\":\"%016llx\"}",
                        t, t / 1000000, (unsigned long long)started);
    } else {
        unsigned u = xrand() % (unsigned)o.users;
        snprintf(path, sizeof path, "%su%u", o.prefix, u);
        blen = snprintf(body, sizeof body,
                        "{\"type\":\"system_notification\",\"user_id\":\"u%u\",\"data\":{\"title\":"
                        "\"bench\",\"message\":\"t=%lld\",\"level\":\"info\"},\"timestamp\":%lld,"
                        "\"message_id\":\"%016llx\"}",
                        u, t, t / 1000000, (unsigned long long)started);
    }
    c->req_len = snprintf(c->req, sizeof c->req,
                          "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                          "Content-Length: %d\r\n\r\n%s",
                          path, o.host, o.port, blen, body);
    c->req_off = 0;
    c->t0 = mono_ns();
    if (!t_first)
        t_first = c->t0;
    started++;
    c->st = S_SENDING;
    try_send(c);
}

static void response_done(struct hconn *c)
{
    int64_t now = mono_ns();
    if (c->status >= 200 && c->status < 300) {
        ok++;
        status_2xx[c->status - 200 < 10 ? c->status - 200 : 9]++;
        hist_add(&lat, (now - c->t0) / 1000);
        t_last = now;
        char *s = memmem(c->rbuf, (size_t)c->rlen, "subscribers: ", 13);
        if (s)
            subscribers += strtoull(s + 13, NULL, 10);
    } else {
        errors++;
        if (!first_status)
            first_status = c->status;
    }
    c->st = S_IDLE;
}

static void on_readable(struct hconn *c)
{
    char tmp[4096];
    for (int round = 0; round < 8; round++) {
        ssize_t k = recv(c->fd, tmp, sizeof tmp, 0);
        if (k == 0 || (k < 0 && errno != EAGAIN)) {
            if (c->st == S_WAITING)
                errors++;
            conn_drop(c);
            return;
        }
        if (k < 0)
            return;
        size_t off = 0;
        while (off < (size_t)k && c->st == S_WAITING) {
            if (c->body_left < 0) { /* still reading the head */
                size_t room = sizeof c->rbuf - 1 - (size_t)c->rlen;
                size_t take = (size_t)k - off < room ? (size_t)k - off : room;
                memcpy(c->rbuf + c->rlen, tmp + off, take);
                int before = c->rlen;
                c->rlen += (int)take;
                c->rbuf[c->rlen] = 0;
                char *e = strstr(c->rbuf, "\r\n\r\n");
                if (!e) {
                    if (c->rlen >= (int)sizeof c->rbuf - 1) {
                        errors++;
                        conn_drop(c);
                        return;
                    }
                    off += take;
                    continue;
                }
                int head_len = (int)(e - c->rbuf) + 4;
                c->status = c->rlen > 12 ? atoi(c->rbuf + 9) : 0;
                char *cl = strcasestr(c->rbuf, "\r\ncontent-length:");
                c->body_left = cl && cl < e ? atol(cl + 17) : 0;
                off += (size_t)(head_len - before);
                continue;
            }
            size_t avail = (size_t)k - off;
            size_t take = (size_t)c->body_left < avail ? (size_t)c->body_left : avail;
            size_t room = sizeof c->rbuf - 1 - (size_t)c->rlen;
            size_t keep = take < room ? take : room; /* keep the body for "subscribers:" */
            memcpy(c->rbuf + c->rlen, tmp + off, keep);
            c->rlen += (int)keep;
            c->rbuf[c->rlen] = 0;
            off += take;
            c->body_left -= (long)take;
            if (c->body_left == 0)
                response_done(c);
        }
        if (c->st == S_WAITING && c->body_left == 0)
            response_done(c);
        if (k < (ssize_t)sizeof tmp)
            return;
    }
}

static struct hconn *idle_conn(void)
{
    for (int i = 0; i < o.conns; i++)
        if (cs[i].st == S_IDLE)
            return &cs[i];
    return NULL;
}

static int waiting(void)
{
    int n = 0;
    for (int i = 0; i < o.conns; i++)
        n += cs[i].st == S_SENDING || cs[i].st == S_WAITING;
    return n;
}

/* waits for events at most timeout_us microseconds (exact, via epoll_pwait2) */
static void pump_us(int64_t timeout_us)
{
    struct epoll_event evs[256];
    struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
    int k = epoll_pwait2(ep, evs, 256, &ts, NULL);
    for (int i = 0; i < k; i++) {
        struct hconn *c = evs[i].data.ptr;
        if (c->st == S_CONNECTING) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                errors++;
                conn_drop(c);
                continue;
            }
            c->st = S_IDLE;
            set_events(c, EPOLLIN);
            continue;
        }
        if (c->st == S_SENDING && (evs[i].events & EPOLLOUT)) {
            try_send(c);
            continue;
        }
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            if (c->st == S_IDLE) { /* the server closed a kept-alive connection */
                conn_drop(c);
                continue;
            }
            on_readable(c);
        }
    }
    for (int i = 0; i < o.conns; i++) /* bounded: one reconnect per connection per pass */
        if (cs[i].st == S_DOWN && conn_open(&cs[i]) == 0)
            reconnects++;
}

static void pump(int timeout_ms)
{
    pump_us((int64_t)timeout_ms * 1000);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},     {"mode", 1, 0, 'm'}, {"users", 1, 0, 'u'},
        {"prefix", 1, 0, 'P'},   {"channel", 1, 0, 'C'},  {"rate", 1, 0, 'r'}, {"conns", 1, 0, 'c'},
        {"duration", 1, 0, 'd'}, {"max-time", 1, 0, 'M'}, {0, 0, 0, 0}};
    snprintf(o.host, sizeof o.host, "127.0.0.1");
    snprintf(o.prefix, sizeof o.prefix, "/pub/");
    snprintf(o.channel, sizeof o.channel, "all");
    snprintf(o.mode, sizeof o.mode, "unicast");
    o.users = 10000;
    o.conns = 32;
    o.duration = 5;
    o.max_time = 120;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': snprintf(o.host, sizeof o.host, "%s", optarg); break;
        case 'p': o.port = atoi(optarg); break;
        case 'm': snprintf(o.mode, sizeof o.mode, "%s", optarg); break;
        case 'u': o.users = atoi(optarg); break;
        case 'P': snprintf(o.prefix, sizeof o.prefix, "%s", optarg); break;
        case 'C': snprintf(o.channel, sizeof o.channel, "%s", optarg); break;
        case 'r': o.rate = atof(optarg); break;
        case 'c': o.conns = atoi(optarg); break;
        case 'd': o.duration = atof(optarg); break;
        case 'M': o.max_time = atof(optarg); break;
        default:
            fprintf(stderr, "usage: httppub --port P [--mode unicast|broadcast] [--users U]\n"
                            "  [--prefix /pub/] [--channel all] [--rate R] [--conns C]\n"
                            "  [--duration 5]\n");
            return 2;
        }
    }
    if (o.port <= 0 || o.conns < 1 || o.conns > MAX_CONNS || o.users < 1)
        return 2;
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < o.conns; i++) {
        cs[i].fd = -1;
        conn_open(&cs[i]);
    }
    int64_t hard_end = mono_ns() + (int64_t)(o.max_time * 1e9);
    /* wait for the connections (bounded) */
    for (int pass = 0; pass < 100 && !idle_conn(); pass++)
        pump(20);
    for (int pass = 0; pass < 10; pass++)
        pump(5);
    double cpu0 = cpu_self_s();
    int64_t t0 = mono_ns(), end = t0 + (int64_t)(o.duration * 1e9);
    if (end > hard_end)
        end = hard_end;
    double interval_ns = o.rate > 0 ? 1e9 / o.rate : 0;
    /* bounded by `end` */
    while (mono_ns() < end) {
        int64_t now = mono_ns();
        if (o.rate <= 0) {
            struct hconn *c;
            while ((c = idle_conn()))
                send_one(c);
            pump(1);
        } else {
            uint64_t due = (uint64_t)((double)(now - t0) / interval_ns) + 1;
            while (started + behind < due) {
                struct hconn *c = idle_conn();
                if (!c) { /* every connection busy: the offered load is not met */
                    behind++;
                    continue;
                }
                send_one(c);
            }
            int64_t next = t0 + (int64_t)((double)(started + behind) * interval_ns);
            int64_t us = (next - mono_ns()) / 1000;
            pump_us(us < 0 ? 0 : us > 50000 ? 50000 : us);
        }
    }
    int64_t stop_issuing = mono_ns();
    for (int pass = 0; pass < 1000 && waiting(); pass++) /* drain: at most ~10 s */
        pump(10);
    double secs = (t_last > t_first ? t_last - t_first : stop_issuing - t0) / 1e9;
    char lj[256];
    hist_json(&lat, "rpc_", lj, sizeof lj);
    printf("{\"event\":\"done\",\"mode\":\"%s\",\"offered\":%.1f,\"conns\":%d,\"started\":%llu,"
           "\"ok\":%llu,\"errors\":%llu,\"first_status\":%d,\"behind\":%llu,\"reconnects\":%llu,"
           "\"unfinished\":%d,\"secs\":%.3f,\"rate\":%.1f,\"s201\":%llu,\"s202\":%llu,"
           "\"connections\":%llu,%s,\"cpu_s\":%.3f}\n",
           o.mode, o.rate, o.conns, (unsigned long long)started, (unsigned long long)ok,
           (unsigned long long)errors, first_status, (unsigned long long)behind,
           (unsigned long long)reconnects, waiting(), secs, secs > 0 ? ok / secs : 0.0,
           (unsigned long long)status_2xx[1], (unsigned long long)status_2xx[2],
           (unsigned long long)subscribers, lj, cpu_self_s() - cpu0);
    fflush(stdout);
    for (int i = 0; i < o.conns; i++)
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    return 0;
}
