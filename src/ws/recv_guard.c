/* ws/recv_guard: symbol interposition. The real functions come from the
 * next object in lookup order (libc, or a sanitizer's interceptor). The
 * watch table is indexed by descriptor and owned by one thread.
 *
 * A plain HTTP connection is framed one request at a time: its head is
 * looked at with MSG_PEEK (SO_RCVLOWAT makes the next wake-up wait for more
 * bytes while it is incomplete), then exactly the head and its
 * Content-Length body are passed on. lws 4.1.6 never holds a pipelined
 * request ahead of the answer to the previous one: the next request stays
 * in the socket, where it waits its turn. */
#include "ws/recv_guard.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "edge/head.h"

#define PEEK_MAX (ND_HEAD_MAX + 1024) /* a head that does not end by then is not framed */

enum mode { M_NONE, M_HTTP, M_FRAMES };
enum phase {
    P_HEAD,    /* the next request's head is awaited */
    P_REQUEST, /* passing on the rest of a request (left bytes) */
    P_OPEN,    /* not framed any more (chunked, unparsable): lws reads freely */
};

struct slot {
    uint8_t mode;          /* enum mode */
    uint8_t phase;         /* M_HTTP: enum phase */
    uint32_t seen;         /* M_HTTP, P_HEAD: bytes of an incomplete head seen */
    uint64_t left;         /* M_HTTP, P_REQUEST: bytes of the request still to pass */
    struct frame_guard *g; /* M_FRAMES */
    void *arg;
};

struct table {
    struct slot *slots;
    size_t n;
    void (*bad)(void *arg);
    char peek[PEEK_MAX];
};

static _Thread_local struct table *table; /* only on the thread that started it */

static ssize_t (*real_recv)(int, void *, size_t, int);
static int (*real_ssl_read)(SSL *, void *, int);
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    *(void **)&real_recv = dlsym(RTLD_NEXT, "recv");
    *(void **)&real_ssl_read = dlsym(RTLD_NEXT, "SSL_read");
}

/* the real recv; ENOSYS if there is none after us (never with glibc) */
static ssize_t next_recv(int fd, void *buf, size_t len, int flags)
{
    if (!real_recv)
        pthread_once(&once, resolve);
    if (!real_recv) {
        errno = ENOSYS;
        return -1;
    }
    return real_recv(fd, buf, len, flags);
}

int recv_guard_thread_start(void (*bad)(void *arg))
{
    pthread_once(&once, resolve);
    struct rlimit rl;
    size_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                   ? (size_t)rl.rlim_cur
                   : 1 << 20;
    struct table *t = calloc(1, sizeof *t);
    if (!t || !(t->slots = calloc(n, sizeof *t->slots))) {
        free(t);
        return -ENOMEM;
    }
    t->n = n;
    t->bad = bad;
    table = t;
    return 0;
}

void recv_guard_thread_end(void)
{
    if (table) {
        free(table->slots);
        free(table);
        table = NULL;
    }
}

static struct slot *slot_of(int fd)
{
    return table && fd >= 0 && (size_t)fd < table->n ? &table->slots[fd] : NULL;
}

static void low_water(int fd, int n)
{
    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &n, sizeof n);
}

void recv_guard_http(int fd)
{
    struct slot *s = slot_of(fd);
    if (s)
        *s = (struct slot){.mode = M_HTTP, .phase = P_HEAD};
}

void recv_guard_watch(int fd, struct frame_guard *g, void *arg)
{
    struct slot *s = slot_of(fd);
    if (!s)
        return;
    if (s->mode == M_HTTP && s->phase == P_HEAD && s->seen)
        low_water(fd, 1);
    *s = (struct slot){.mode = M_FRAMES, .g = g, .arg = arg};
}

void recv_guard_unwatch(int fd)
{
    struct slot *s = slot_of(fd);
    if (s)
        *s = (struct slot){0};
}

/* M_FRAMES: how many of the @n bytes read may be passed on */
static size_t check_frames(struct slot *s, const void *buf, size_t n)
{
    int was_bad = s->g->bad;
    size_t ok = frame_guard_feed(s->g, buf, n);
    if (ok < n && !was_bad)
        table->bad(s->arg);
    return ok;
}

/* M_HTTP, P_HEAD: is a whole head waiting? Then frame its request. */
static int frame_head(int fd, struct slot *s)
{
    ssize_t n = next_recv(fd, table->peek, sizeof table->peek, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0)
        return 0; /* nothing, the end, or an error: the real read tells lws */
    struct head_scan scan = {0};
    size_t end = 0;
    enum head_result r = head_scan(&scan, table->peek, (size_t)n, &end);
    if (r == HEAD_MORE && (size_t)n > s->seen && (size_t)n < sizeof table->peek) {
        s->seen = (uint32_t)n; /* wake up again when more has come */
        low_water(fd, (int)n + 1);
        errno = EAGAIN;
        return -1;
    }
    if (s->seen)
        low_water(fd, 1);
    s->seen = 0;
    uint64_t body = 0;
    if (r != HEAD_DONE || head_body(table->peek, end, &body) == BODY_UNKNOWN) {
        s->phase = P_OPEN; /* lws parses it (and refuses what is wrong) */
        return 0;
    }
    s->phase = P_REQUEST;
    s->left = end + body;
    return 0;
}

/* M_HTTP: reads at most what is left of the current request */
static ssize_t recv_http(int fd, struct slot *s, void *buf, size_t len, int flags)
{
    if (s->phase == P_HEAD && frame_head(fd, s) < 0)
        return -1;
    if (s->phase != P_REQUEST)
        return next_recv(fd, buf, len, flags);
    ssize_t n = next_recv(fd, buf, len < s->left ? len : (size_t)s->left, flags);
    if (n > 0 && (s->left -= (uint64_t)n) == 0)
        s->phase = P_HEAD;
    return n;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    struct slot *s = flags & MSG_PEEK ? NULL : slot_of(fd);
    if (!s || s->mode == M_NONE)
        return next_recv(fd, buf, len, flags);
    if (s->mode == M_HTTP)
        return recv_http(fd, s, buf, len, flags);
    ssize_t n = next_recv(fd, buf, len, flags);
    if (n <= 0)
        return n;
    size_t ok = check_frames(s, buf, (size_t)n);
    if (ok == 0) {
        errno = EAGAIN; /* all of it is past a bad frame: nothing to read */
        return -1;
    }
    return (ssize_t)ok;
}

int SSL_read(SSL *ssl, void *buf, int num)
{
    if (!real_ssl_read)
        pthread_once(&once, resolve);
    if (!real_ssl_read)
        return -1; /* none after us: not with libssl linked in, as it is */
    int n = real_ssl_read(ssl, buf, num);
    struct slot *s = n > 0 ? slot_of(SSL_get_fd(ssl)) : NULL;
    if (!s || s->mode != M_FRAMES)
        return n;
    size_t ok = check_frames(s, buf, (size_t)n);
    return ok ? (int)ok : -1; /* a bad frame first: lws sees a read error and closes */
}
