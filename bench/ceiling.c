/* ceiling: this machine's ceiling for "one small write() per socket". It
 * accepts N WebSocket clients (answers 101 without checks), then, on SIGUSR1,
 * writes one small text frame carrying t=<ns> to each socket round robin for
 * --duration seconds from one thread -- what a fan-out server can at best do
 * with one write per message. The load generator reads it like a server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

struct peer {
    int fd;
    uint8_t match; /* bytes of "\r\n\r\n" seen */
    uint8_t up;    /* 101 sent */
};

static const char reply[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/* writes v as exactly 19 decimal digits */
static void put19(char *p, uint64_t v)
{
    for (int i = 18; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int main(int argc, char **argv)
{
    int port = 0, want = 1000, size = 180;
    double duration = 5, max_time = 600;
    static const struct option lo[] = {{"port", 1, 0, 'p'},     {"conns", 1, 0, 'n'},
                                       {"duration", 1, 0, 'd'}, {"size", 1, 0, 's'},
                                       {"max-time", 1, 0, 'M'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p': port = atoi(optarg); break;
        case 'n': want = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'M': max_time = atof(optarg); break;
        default:
            fprintf(stderr, "usage: ceiling --port P --conns N [--duration 5] [--size 180]\n");
            return 2;
        }
    }
    if (size < 100)
        size = 100;
    if (size > 125)
        size = size > 1000 ? 1000 : size;
    long nofile = raise_nofile();
    if (want < 1 || want > nofile - 16) {
        fprintf(stderr, "ceiling: --conns must be 1..%ld\n", nofile - 16);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("ceiling: listen");
        return 1;
    }
    socklen_t alen = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &alen);
    fprintf(stderr, "{\"msg\":\"listening\",\"port\":%d}\n", ntohs(a.sin_port));

    struct peer *peers = calloc((size_t)want, sizeof *peers);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    int n = 0, up = 0;
    int64_t t0 = mono_ns(), end = t0 + (int64_t)(max_time * 1e9);
    char buf[4096];
    struct epoll_event evs[256];
    struct timespec zero = {0, 0};
    int stop = 0;

    /* accept + handshake, bounded by max_time */
    while (up < want && mono_ns() < end && !stop) {
        int sig = sigtimedwait(&set, NULL, &zero);
        if (sig == SIGTERM || sig == SIGINT)
            stop = 1;
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            if (evs[i].data.u32 == UINT32_MAX) {
                for (int j = 0; j < 256 && n < want; j++) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    peers[n].fd = fd;
                    struct epoll_event pe = {.events = EPOLLIN, .data.u32 = (uint32_t)n};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &pe);
                    n++;
                }
                continue;
            }
            struct peer *p = &peers[evs[i].data.u32];
            ssize_t r = read(p->fd, buf, sizeof buf);
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
                    close(p->fd);
                    p->fd = -1;
                }
                continue;
            }
            for (ssize_t j = 0; j < r && !p->up; j++) {
                p->match = buf[j] == "\r\n\r\n"[p->match] ? p->match + 1 : buf[j] == '\r';
                if (p->match == 4) {
                    if (write(p->fd, reply, sizeof reply - 1) == (ssize_t)sizeof reply - 1) {
                        p->up = 1;
                        up++;
                    }
                    epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL); /* from now on: write only */
                }
            }
        }
    }
    printf("{\"event\":\"ready\",\"conns\":%d}\n", up);
    fflush(stdout);

    /* wait for the go signal */
    struct timespec tick = {0, 100 * 1000000};
    int go = 0;
    while (!stop && !go && mono_ns() < end) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGUSR1)
            go = 1;
        else if (sig == SIGTERM || sig == SIGINT)
            stop = 1;
    }
    if (go) {
        /* frame: 0x81, 126, len16, then an envelope-sized JSON body */
        char frame[1100];
        char body[1000];
        int blen = snprintf(body, sizeof body,
                            "{\"type\":\"system_notification\",\"data\":{\"title\":\"bench\","
                            "\"message\":\"t=0000000000000000000\",\"level\":\"info\",\"pad\":\"");
        while (blen < size - 3)
            body[blen++] = 'x';
        blen += snprintf(body + blen, sizeof body - (size_t)blen, "\"}}");
        char *ts = strstr(body, "t=") + 2;
        int hl;
        if (blen < 126) {
            frame[0] = (char)0x81;
            frame[1] = (char)blen;
            hl = 2;
        } else {
            frame[0] = (char)0x81;
            frame[1] = 126;
            frame[2] = (char)(blen >> 8);
            frame[3] = (char)(blen & 0xff);
            hl = 4;
        }
        memcpy(frame + hl, body, (size_t)blen);
        char *fts = frame + hl + (ts - body);
        size_t flen = (size_t)(hl + blen);

        uint64_t writes = 0, eagain = 0, errs = 0;
        double cpu0 = cpu_self_s();
        int64_t w0 = mono_ns(), wend = w0 + (int64_t)(duration * 1e9), now = w0;
        /* bounded by wend; one write() per socket per round */
        while (now < wend) {
            for (int i = 0; i < n; i++) {
                if (peers[i].fd < 0 || !peers[i].up)
                    continue;
                put19(fts, (uint64_t)now_ns());
                ssize_t r = write(peers[i].fd, frame, flen);
                if (r == (ssize_t)flen)
                    writes++;
                else if (r < 0 && errno == EAGAIN)
                    eagain++;
                else { /* a partial frame would corrupt the stream: drop the socket */
                    errs++;
                    close(peers[i].fd);
                    peers[i].fd = -1;
                }
                if ((i & 255) == 0 && (now = mono_ns()) >= wend)
                    break;
            }
            now = mono_ns();
        }
        double secs = (mono_ns() - w0) / 1e9;
        printf("{\"event\":\"done\",\"conns\":%d,\"writes\":%llu,\"eagain\":%llu,\"errors\":%llu,"
               "\"secs\":%.3f,\"rate\":%.1f,\"frame_bytes\":%zu,\"cpu_s\":%.3f}\n",
               up, (unsigned long long)writes, (unsigned long long)eagain, (unsigned long long)errs,
               secs, writes / secs, flen, cpu_self_s() - cpu0);
        fflush(stdout);
        while (!stop && mono_ns() < end) { /* keep the sockets until told to stop */
            int sig = sigtimedwait(&set, NULL, &tick);
            if (sig == SIGTERM || sig == SIGINT)
                stop = 1;
        }
    }
    for (int i = 0; i < n; i++)
        if (peers[i].fd >= 0)
            close(peers[i].fd);
    return 0;
}
