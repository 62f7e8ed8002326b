/* edge: the HTTP port's front door. It owns the listening socket and
 * accept(); a plain-HTTP connection stays here until its first request head
 * has arrived -- within the header deadline and ND_HEAD_MAX bytes -- and is
 * then handed over (adopted by libwebsockets) with the bytes read so far.
 * It keeps the port within a descriptor budget, survives EMFILE with a
 * reserve descriptor, closes the oldest slow heads first when full, answers
 * what it refuses (400, 408, 414, 431, 503) and closes those connections
 * lingering (RFC 9112 §9.6), so the answer is read, not reset.
 *
 * Everything runs on the loop given to edge_new() (nd-ws); no call but
 * edge_adopted() is thread-safe. */
#ifndef NOTIFYD_EDGE_EDGE_H
#define NOTIFYD_EDGE_EDGE_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct nd_addr;
struct edge;

struct edge_hooks {
    /** Takes over @fd; it owns @fd from then on, also when it fails (it closes it then).
     *  @websocket: the head is a WebSocket upgrade of GET /ws (0 with TLS: not seen). */
    void (*adopt)(void *arg, int fd, int websocket);
    /** WebSockets open now: not counted as HTTP connections. */
    int64_t (*websockets)(void *arg);
    /** The listener started (1) or stopped (0) accepting. */
    void (*accepting)(void *arg, int on);
    void *arg;
};

struct edge_config {
    const struct nd_addr *addr;
    int tls;                   /* TLS: hand over at accept (the head is encrypted) */
    int64_t header_timeout_ms; /* a head must arrive within this long of the accept */
    int64_t max_http;          /* connections that are not WebSockets, at most */
    int64_t budget;            /* sockets on the port in all, at most */
    int64_t linger_bytes;      /* read and dropped, at most, before a refused socket closes */
};

/**
 * Binds and listens on @cfg->addr (a port clash is an error with a one-line
 * reason in @err) and starts accepting on @loop. NULL on failure.
 */
struct edge *edge_new(struct ev_loop *loop, const struct edge_config *cfg,
                      const struct edge_hooks *hooks, char *err, size_t errlen);

/** The port bound (useful with port 0). */
int edge_port(const struct edge *e);

/**
 * An adopted socket was made (lws WSI_CREATE) or has closed (WSI_DESTROY),
 * on any WebSocket thread. 1 when the edge waits for sockets to close before
 * it accepts again: then call edge_resume() on its loop's thread.
 */
int edge_adopted(struct edge *e, int delta);

/** Accepts again if the sockets' budget allows it (after edge_adopted() said 1). */
void edge_resume(struct edge *e);

/**
 * Hands @fd -- an adopted connection that lws is about to close after an
 * answer whose request body was not read -- back to the edge, which stops
 * writing and reads and drops what still comes for a short while before
 * closing it. The edge takes @fd (the caller passes a dup()).
 */
void edge_linger(struct edge *e, int fd);

/** Sockets on the port now: waiting for a head, lingering, adopted. */
int64_t edge_sockets(const struct edge *e);

/** Stops accepting and closes what waits for a head (shutdown). */
void edge_stop(struct edge *e);

/** Closes everything the edge holds and frees it. */
void edge_free(struct edge *e);

#endif
