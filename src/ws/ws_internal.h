/* ws_internal: what the ws/ files share. Each struct ws_server belongs to one
 * WebSocket thread (see its comment); the user index and the atomics are shared. */
#ifndef NOTIFYD_WS_INTERNAL_H
#define NOTIFYD_WS_INTERNAL_H

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "auth/token.h"
#include "backend/backend.h"
#include "config.h"
#include "delivery/delivery.h"
#include "delivery/inbox.h"
#include "histogram.h"
#include "ratelimit.h"
#include "ws/frame_guard.h"
#include "ws/outq.h"
#include "ws/registry.h"
#include "ws/userindex.h"
#include "ws/wheel.h"

struct edge;
struct rest_req; /* rest.c: a REST call in progress */

/* why WebSockets closed and upgrades were refused; delivery latency */
enum ws_closed_reason {
    CLOSED_CLIENT,
    CLOSED_SHUTDOWN,
    CLOSED_POLICY,
    CLOSED_TOO_BIG,
    CLOSED_SLOW,
    CLOSED_HEARTBEAT,
    CLOSED_TOKEN_EXPIRED,
    CLOSED_DISCONNECTED,
    CLOSED_ERROR,
    CLOSED__COUNT
};
enum ws_refused_reason {
    REFUSED_AUTH,
    REFUSED_USER_LIMIT,
    REFUSED_SERVER_LIMIT,
    REFUSED_DRAINING,
    REFUSED_BAD_REQUEST,
    REFUSED_ORIGIN,
    REFUSED__COUNT
};
#define WS_LATENCY_BUCKETS 14
#define WS_CLOSE_CODES 32 /* distinct close codes counted; more go to code="other" */
struct ws_metrics {
    uint64_t closed[CLOSED__COUNT];
    uint64_t refused[REFUSED__COUNT];
    uint64_t latency[WS_LATENCY_BUCKETS + 1]; /* per bucket, last = +Inf */
    uint64_t latency_count;
    double latency_sum; /* seconds */
    uint64_t frames;    /* messages written */
    uint64_t acks;      /* acks received (ack mode) */
    struct {
        uint16_t code;
        uint64_t n;
    } disconnects[WS_CLOSE_CODES]; /* WebSockets gone, by close code, in first-seen order */
    uint64_t disconnects_other;    /* codes past the table */
    uint64_t reconnects;           /* connects with ?since= */
    struct histogram lifetime;     /* how long WebSockets stayed (histogram_lifetime) */
};

/* Per-connection state: lws allocates it (zeroed) for every connection bound
 * to our protocol and keeps it across the HTTP -> WebSocket upgrade. */
struct conn {
    struct lws *wsi;
    struct reg_link link;     /* in the registry while a WebSocket is open */
    struct wheel_node timer;  /* next heartbeat / expiry check */
    uint64_t id;              /* client id number, 0 until ESTABLISHED */
    unsigned roles;           /* enum token_role bits */
    int64_t token_exp_ms;     /* monotonic ms the token expires at, 0 = never */
    int64_t token_exp_s;      /* the same as the token says it: unix seconds */
    int64_t last_rx_ms;       /* monotonic ms of the last sign of life */
    int64_t next_ping_ms;     /* monotonic ms of the next ping */
    struct ratelimit rx_rate; /* messages the client may send */
    struct ratelimit strikes; /* errors the client may cause before it is closed */
    struct frame_guard guard; /* headers of the client's frames (recv_guard.c) */
    int guard_fd;             /* the descriptor watched, or 0 (never a client's) */
    struct outq q;            /* messages waiting to be written */
    struct outq held;         /* live messages held back while stored ones load */
    uint64_t live_floor;      /* ids up to this were in the replay, or are not owed */
    char *rx;                 /* a fragmented client message being reassembled */
    size_t rx_len;
    unsigned resume_asked : 1;       /* connected with ?since= */
    unsigned ack_mode : 1;           /* connected with ?ack=1: stored messages wait for acks */
    unsigned batch_mode : 1;         /* connected with ?batch=1: ready messages go out together */
    unsigned replaying : 1;          /* stored messages are loading: hold live ones */
    unsigned ping_due : 1;           /* write a WebSocket PING next */
    unsigned close_flush : 1;        /* write what is queued before closing */
    unsigned body_pending : 1;       /* HTTP: the request's body has not all arrived */
    unsigned rx_paused : 1;          /* HTTP: reading stopped while a REST call goes on */
    unsigned close_when_written : 1; /* HTTP: a held answer went out in part: close after it */
    unsigned in_http_cb : 1;         /* HTTP: inside an lws callback for this connection */
    unsigned http_close : 1;         /* HTTP: the callback returns -1 (close) */
    unsigned http_done : 1;          /* HTTP: the callback completes the exchange */
    unsigned console_answer : 1;     /* HTTP: the answer is a console page (its headers) */
    unsigned close_reconnect : 1;    /* the `disconnected` message says reconnect: true */
    unsigned farewell_done : 1;      /* the `disconnected` message was written (or skipped) */
    unsigned live : 1;               /* counted in the user index as taking messages */
    uint16_t close_code;             /* nonzero: close with this code on the next write */
    uint16_t ack_credit;             /* ack mode: acks owed for messages written, free of rx_rate */
    uint16_t peer_close;             /* the code of the client's close frame (1005: none in it) */
    uint16_t peer_port;              /* the client's address, for the log: port and */
    uint8_t peer_ip[16];             /* ... IPv6 address (IPv4 mapped) */
    int64_t opened_ms;               /* monotonic ms the WebSocket opened */
    const char *close_reason;        /* static string, or close_text */
    char *close_text;                /* DisconnectUser's reason (owned), or NULL */
    struct rest_req *rest;           /* REST call being read or answered */
    char *http_headers;              /* HTTP: more header lines for the next answer (CORS), owned */
    unsigned char *held_answer;      /* HTTP: written at the body's end (LWS_PRE first) */
    size_t held_len;
    int64_t body_length; /* HTTP: the request's Content-Length */
};

/* One per WebSocket thread (NOTIFYD_WS_THREADS). Thread 0, "nd-ws", is the
 * hub: it owns the edge and every plain HTTP connection (REST, /metrics, the
 * console), is the backend's local thread, and hands each WebSocket upgrade
 * to a thread (itself included), which owns that connection from then on.
 * Each thread has its own lws context, registry, timer wheel, inbox and
 * counters; the user index (ws->ix) says which threads hold whose
 * connections. A field is the owning thread's unless it says otherwise. */
struct ws_server {
    const struct nd_config *cfg;
    struct token_keyring *keys;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct edge *edge; /* the HTTP port's listener and front door (nd-ws) */
    int64_t fd_budget; /* sockets the HTTP port may hold */
    struct inbox *inbox;
    struct registry *reg;
    struct service *_Atomic svc; /* set by main before it reports ready */
    pthread_t thread;
    int port;
    char instance[9]; /* random hex, prefixes client ids */
    /* CONFIRM_UPGRADE (no per-session data yet) -> ESTABLISHED of the same
     * wsi, which lws runs back to back on its thread */
    struct {
        struct lws *wsi;
        struct token_claims claims;
        int resume_asked; /* ?since= given */
        uint64_t since;
        int ack_mode;   /* ?ack=1 */
        int batch_mode; /* ?batch=1 */
        uint8_t peer_ip[16];
        uint16_t peer_port;
    } handoff;
    char scratch[ND_TOKEN_MAX + 64];            /* URL argument lookups (this thread) */
    struct ws_metrics m;                        /* this thread's counters for /metrics {mlock} */
    void (*metrics_hook)(void *arg, FILE *out); /* more lines (the gRPC side) */
    void *metrics_hook_arg;
    struct backend *backend;   /* where messages go; borrowed, set before nd-ws starts */
    atomic_int stopping;       /* 1: closing connections; set from main via a job */
    int stop_now;              /* this thread: leave the service loop */
    struct inbox_job stop_job; /* ws_server_stop()'s, posted once */
    int64_t stop_grace_ms;     /* written by main before it posts stop_job */
    int64_t stop_deadline_us;
    lws_sorted_usec_list_t stop_sul;
    struct wheel wheel; /* every WebSocket's timer */
    lws_sorted_usec_list_t tick_sul;
    struct ws_server *hub;         /* thread 0's (itself on thread 0); read-only */
    unsigned shard;                /* this thread's number, 0 on the hub */
    unsigned n_shards;             /* threads in all */
    struct ws_server **shards;     /* hub: every thread's, [0] the hub itself */
    struct uindex *ix;             /* shared, thread-safe */
    _Atomic uint64_t conn_ids;     /* hub: client id numbers, for every thread */
    atomic_uint next_shard;        /* hub: where the next WebSocket goes */
    pthread_mutex_t mlock;         /* m, which the hub reads for /metrics */
    _Atomic int64_t q_bytes;       /* this thread's outbound queues at its last tick */
    _Atomic int64_t q_messages;    /* ... */
    struct inbox_job stop_now_job; /* hub -> another thread: leave the loop now */
    _Atomic int64_t backlog;       /* deliveries and closes the hub posted here, not run yet */
    int64_t now_ms;                /* monotonic ms of the tick being run */
    struct delivery *ping;         /* this tick's shared ping message, or NULL */
    int64_t max_connections;       /* resolved NOTIFYD_MAX_CONNECTIONS */
    /* start-up handshake with the main thread */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    int start_state;    /* 0 starting, 1 running, -1 failed */
    int thread_started; /* main (the hub's) or the hub (the others'): not joined yet */
    char start_err[ND_ADDR_MAX + 64];
};

/* conn.c: WebSocket sessions */
int ws__conn_confirm_upgrade(struct ws_server *ws, struct lws *wsi);
int ws__conn_established(struct ws_server *ws, struct conn *c, struct lws *wsi);
int ws__conn_receive(struct ws_server *ws, struct conn *c, const void *in, size_t len);
int ws__conn_writeable(struct ws_server *ws, struct conn *c);
/** The client sent a close frame (its payload @in, @len): 0 echoes it, -1 fails with 1002. */
int ws__conn_peer_close(struct ws_server *ws, struct conn *c, void *in, size_t len);
/** recv_guard: a frame of @arg (a struct conn) broke RFC 6455 (unmasked). */
void ws__conn_bad_frame(void *arg);
/** A WebSocket-level PONG: a sign of life. */
void ws__conn_pong(struct ws_server *ws, struct conn *c);
/** Runs the wheel up to now: pings, heartbeat timeouts, token expiry. */
void ws__conn_tick(struct ws_server *ws);
void ws__conn_closed(struct ws_server *ws, struct conn *c);
/** Queues @d (takes a ref) and asks for a write; -1 when not queued (closing, too slow). */
int ws__conn_push(struct ws_server *ws, struct conn *c, struct delivery *d);
/** @user_id's WebSocket with client id number @id on @ws's thread, or NULL (gone since). */
struct conn *ws__conn_find(struct ws_server *ws, const char *user_id, uint64_t id);

/** WebSocket thread @k's name: "nd-ws" (the hub), "nd-ws1"... Any thread. */
const char *ws__thread_name(unsigned k);
/** Closes @c with @code and a static @reason on its next write, dropping what is queued. */
void ws__conn_close(struct conn *c, uint16_t code, const char *reason);
/** Closes @c with @code and a static @reason once what is queued has been written. */
void ws__conn_close_flush(struct conn *c, uint16_t code, const char *reason);
/** DisconnectUser: closes @c with 4004 and @reason (copied) once what is queued is written. */
void ws__conn_disconnect(struct conn *c, const char *reason, int reconnect);

/** Sends @c an `error` message {code, message}; too many close it (policy). */
void ws__conn_error(struct ws_server *ws, struct conn *c, const char *code, const char *message);

/** feed_mark (feed_mark.c): MarkFeed on @c's own feed with @data (borrowed); a refusal is
 *  answered to @c as an `error`, the change to every tab as `feed_update`. */
void ws__feed_mark(struct ws_server *ws, struct conn *c, const json_t *data);

/** NOTIFYD_ALLOWED_ORIGINS lets the request's Origin in (or it has none). */
int ws__origin_allowed(struct ws_server *ws, struct lws *wsi);

/**
 * The value of URL argument @name ("since=") copied to @out, or NULL when
 * absent or longer than @outlen - 1. (lws walks every argument with the
 * caller's buffer, so a long token would hide later arguments from a small one.)
 */
const char *ws__urlarg(struct ws_server *ws, struct lws *wsi, const char *name, char *out,
                       size_t outlen);

/* replay.c: what a connecting client missed */
/**
 * Asks the backend what @c (registered) missed -- from ws->handoff's
 * ?since= -- and holds live messages back until it answers; then `connected`
 * (saying whether the recovery was complete), the missed messages, the held
 * ones. The answer may come before this returns. 0, or -1 (ENOMEM).
 */
int ws__replay_start(struct ws_server *ws, struct conn *c);

/* local.c: what the backend sees of this instance's connections */
/** Fills @out: this instance's connections, for backend_attach(). Main thread. */
void ws__local(struct ws_server *ws, struct backend_local *out);

/* shards.c: what one WebSocket thread asks of another (struct ws_server's comment) */
/** backend_presence(), run on the hub. */
void ws__presence(struct ws_server *ws, const char *user_id, int delta, int nonack);
/** backend_forget(), run on the hub. */
void ws__forget(struct ws_server *ws, const char *user_id, uint64_t id);
/** edge_linger() of @fd (a dup the edge takes), run on the hub. */
void ws__edge_linger(struct ws_server *ws, int fd);
/** A socket of @ws's lws context was made (+1) or closed (-1): the edge's budget. */
void ws__edge_socket(struct ws_server *ws, int delta);
/** Hub, the edge's adopt hook: a WebSocket upgrade goes to the next thread, the rest here. */
void ws__adopt(struct ws_server *hub, int fd, int websocket);

/* conn.c */
/** Queues the `connected` message. */
void ws__conn_connected(struct ws_server *ws, struct conn *c, int recovered);

/* http.c: plain HTTP routes on the same port. Answers are written whole
 * when known and end the exchange, so pipelined requests wait their turn */
/** LWS_CALLBACK_HTTP, _HTTP_BODY, _HTTP_BODY_COMPLETION and _TIMER. */
int ws__http_callback(struct ws_server *ws, struct conn *c, struct lws *wsi, int reason, void *in,
                      size_t len);
/** A REST call answers later: stop reading the connection until then. */
void ws__http_pause(struct conn *c);
/** Frees what a connection's HTTP side holds (answer, REST call). */
void ws__http_release(struct conn *c);
/** Writes an answer with JSON @body and one optional extra header, now; ends the exchange. */
int ws__http_respond(struct conn *c, int status, const char *body, const char *hname,
                     const char *hvalue, int close);
/** Writes {"code": @status, "message": @msg}. */
int ws__http_error(struct conn *c, int status, const char *msg, const char *hname,
                   const char *hvalue, int close);
const char *ws__http_method_name(int method);
/** Writes an answer of @len bytes of @type (a static string). */
int ws__http_respond_typed(struct conn *c, int status, const char *type, const void *body,
                           size_t len, const char *hname, const char *hvalue, int close);

/* metrics.c: /metrics in the Prometheus text format */
void ws__metrics_render(struct ws_server *ws, FILE *out);
/** Counts one frame written. */
void ws__metrics_frame(struct ws_server *ws);
/** A thread other than the hub: its outbound queues, for the hub's /metrics (at each tick). */
void ws__metrics_queues(struct ws_server *ws);
/** Counts one message written @latency_us after it was accepted. */
void ws__metrics_written(struct ws_server *ws, int64_t latency_us);
/** Counts a closed WebSocket by its close code (0: the client went). */
void ws__metrics_closed(struct ws_server *ws, uint16_t code);
/** A WebSocket opened; @resumed: with ?since= (a reconnect). */
void ws__metrics_connected(struct ws_server *ws, int resumed);
/** A WebSocket is gone with close @code (whoever sent it; 1006: no close frame) after @lived_ms. */
void ws__metrics_disconnected(struct ws_server *ws, uint16_t code, int64_t lived_ms);
/* rest.c: its counters, by route and status */
void ws__rest_metrics(FILE *out);

/* rest.c: the seed's /api/websocket routes */
#define ND_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
/** /metrics on a thread other than the hub: the hub renders it, this thread answers. */
int ws__rest_metrics_elsewhere(struct ws_server *ws, struct conn *c);
int ws__rest_request(struct ws_server *ws, struct conn *c, int method, const char *path);
int ws__rest_body(struct ws_server *ws, struct conn *c, const void *in, size_t len);
int ws__rest_body_done(struct ws_server *ws, struct conn *c);
/** True while a REST call is with the service (its answer comes later). */
int ws__rest_waiting(const struct conn *c);
/** True while a REST call waits for its body (nothing answered yet). */
int ws__rest_reading(const struct conn *c);
/** The body stopped arriving: 408, naming how much came. */
int ws__rest_body_timeout(struct ws_server *ws, struct conn *c);
void ws__rest_release(struct conn *c);
/** Writes a complete raw HTTP/1.1 response (used to refuse an upgrade); returns 1. */
/* A connection we close: the edge keeps reading (and dropping) what the
 * client still sends -- an unread body, pipelined requests, frames after our
 * close frame -- for a moment, so the kernel's close is not a reset that
 * throws away the answer or the close frame before the client reads it. Call
 * while lws still holds the socket open (it closes its own descriptor). */
void ws__linger(struct ws_server *ws, struct lws *wsi);
int ws__http_raw_reply(struct lws *wsi, int status, const char *reason, const char *json_body);

#endif
