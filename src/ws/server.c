/* ws/server: the lws context and its one service thread, nd-ws. The context
 * is made, serviced and destroyed on nd-ws; main only waits for it to start
 * and asks it to stop (through the inbox). Jobs from other threads run here
 * when lws_cancel_service() wakes the loop. */
#include "ws/server.h"

#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "delivery/close_codes.h"
#include "delivery/envelope.h"
#include "edge/edge.h"
#include "edge/head.h"
#include "fault.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "ws/recv_guard.h"
#include "ws/ws_internal.h"

_Static_assert(ND_WS_HEADROOM == LWS_PRE, "deliveries keep LWS_PRE bytes before the JSON");

#ifndef ND_DEFLATE_MEM_LEVEL
#define ND_DEFLATE_MEM_LEVEL "4" /* zlib hash 4 KiB: cleared at each message's start */
#endif

/* permessage-deflate (RFC 7692), lws's own; only given to the vhost when
 * NOTIFYD_WS_DEFLATE is on, so a client offering it otherwise gets a plain
 * connection. client_offer is unused on a server. */
static const struct lws_extension deflate_exts[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL},
};

/* Per connection, before its first write. lws 4.1.6's server side reads the
 * two context-takeover switches crosswise: "client_no_context_takeover" ends
 * OUR compressor after each message, "server_no_context_takeover" ends OUR
 * decompressor after each message. So: our compressor starts afresh for every
 * message (always legal; an idle connection then holds no deflate state,
 * measured in bench/), and our decompressor always keeps its context (always
 * legal; ending it would break a client that offered server_no_context_takeover
 * and keeps its own). Windows stay at 15 bits: lws inflates with the server's
 * window and never answers client_max_window_bits, so clients compress with
 * 15. Level 1 and a small mem_level keep each message's fresh start cheap. */
static void deflate_setup(struct lws *wsi)
{
    static const char ext[] = "permessage-deflate";
    if (lws_set_extension_option(wsi, ext, "client_no_context_takeover", NULL) < 0)
        return; /* not negotiated on this connection */
    lws_set_extension_option(wsi, ext, "server_no_context_takeover", "0");
    lws_set_extension_option(wsi, ext, "compression_level", "1");
    lws_set_extension_option(wsi, ext, "mem_level", ND_DEFLATE_MEM_LEVEL);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct conn *c = user;
    struct lws_context *ctx = lws_get_context(wsi);
    struct ws_server *ws = ctx ? lws_context_user(ctx) : NULL;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (ws)
            inbox_drain(ws->inbox, ws);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: return ws__conn_confirm_upgrade(ws, wsi);
    case LWS_CALLBACK_WSI_CREATE: /* every connection is one the edge handed over */
        if (ws && ws->edge)
            edge_adopted(ws->edge, 1);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c && c->guard_fd) { /* closed without CLOSED: the descriptor is gone */
            recv_guard_unwatch(c->guard_fd);
            c->guard_fd = 0;
        }
        if (ws && ws->edge)
            edge_adopted(ws->edge, -1);
        return 0;
    default: break;
    }
    if (!c) /* no per-session data (yet) */
        return lws_callback_http_dummy(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_TIMER: return ws__http_callback(ws, c, wsi, (int)reason, in, len);
    case LWS_CALLBACK_HTTP_WRITEABLE: return 0; /* answers are written when known */
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP: ws__http_release(c); break;
    case LWS_CALLBACK_ESTABLISHED: deflate_setup(wsi); return ws__conn_established(ws, c, wsi);
    case LWS_CALLBACK_RECEIVE: return ws__conn_receive(ws, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return ws__conn_writeable(ws, c);
    case LWS_CALLBACK_RECEIVE_PONG: ws__conn_pong(ws, c); return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: return ws__conn_peer_close(ws, c, in, len);
    case LWS_CALLBACK_CLOSED: ws__conn_closed(ws, c); return 0;
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"notifyd", callback, sizeof(struct conn), 512, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void start_done(struct ws_server *ws, int state)
{
    pthread_mutex_lock(&ws->start_lock);
    ws->start_state = state;
    pthread_cond_signal(&ws->start_cond);
    pthread_mutex_unlock(&ws->start_lock);
}

static void wake(void *arg)
{
    struct ws_server *ws = arg;
    if (ws->ctx)
        lws_cancel_service(ws->ctx);
}

static void stop_deadline(lws_sorted_usec_list_t *sul)
{
    struct ws_server *ws = ND_CONTAINER_OF(sul, struct ws_server, stop_sul);
    ws->stop_now = 1;
}

/* the heartbeat clock: runs the wheel, then comes back in one tick */
static void tick(lws_sorted_usec_list_t *sul)
{
    struct ws_server *ws = ND_CONTAINER_OF(sul, struct ws_server, tick_sul);
    ws__conn_tick(ws);
    lws_sul_schedule(ws->ctx, 0, &ws->tick_sul, tick, ws->wheel.tick_ms * LWS_US_PER_MS);
}

/* tick: an eighth of the ping interval, 10 ms to 1 s */
static int64_t tick_ms(const struct nd_config *cfg)
{
    int64_t t = cfg->heartbeat_interval_ms / 8;
    return t < 10 ? 10 : t > 1000 ? 1000 : t;
}

/* lws's own validity timer (a PING after 300 s of silence) would re-arm a
 * per-connection timer on every PONG and handshake -- an insertion into one
 * sorted list of every connection, O(connections) each time. Our heartbeat
 * (the timer wheel) already does that job: no validity timer at all. */
static const lws_retry_bo_t no_validity_timer = {.secs_since_valid_ping = 0,
                                                 .secs_since_valid_hangup = 0};

/* edge hooks (nd-ws): a connection whose head has arrived goes to lws */
static void adopt(void *arg, int fd)
{
    struct ws_server *ws = arg;
    if (ws->cfg->tls_cert_file)
        recv_guard_unwatch(fd); /* whatever an earlier socket left there */
    else
        recv_guard_http(fd);               /* lws reads one request at a time */
    lws_adopt_socket_vhost(ws->vhost, fd); /* closes @fd if it fails */
}

static int64_t websockets(void *arg)
{
    struct ws_server *ws = arg;
    return (int64_t)registry_connections(ws->reg);
}

static void accepting(void *arg, int on)
{
    (void)arg;
    health_set_listener(HEALTH_L_HTTP, on);
}

static int start_edge(struct ws_server *ws, struct ev_loop *loop)
{
    const struct nd_config *cfg = ws->cfg;
    struct edge_config ec = {
        .addr = &cfg->http,
        .tls = cfg->tls_cert_file != NULL,
        .header_timeout_ms = cfg->http_header_timeout_ms,
        .max_http = cfg->max_http_connections,
        .budget = ws->fd_budget,
        .linger_bytes = 8 * cfg->max_body_bytes,
    };
    struct edge_hooks hooks = {adopt, websockets, accepting, ws};
    ws->edge = edge_new(loop, &ec, &hooks, ws->start_err, sizeof ws->start_err);
    return ws->edge ? 0 : -1;
}

static void *run(void *arg)
{
    struct ws_server *ws = arg;
    struct lws_context_creation_info info;
    const struct nd_config *cfg = ws->cfg;

    pthread_setname_np(pthread_self(), "nd-ws");
    memset(&info, 0, sizeof info);
    /* the edge (edge/edge.c) listens and hands each connection over once its
     * head has arrived; lws never accepts */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.user = ws;
    info.max_http_header_data = ND_HEAD_MAX + 1024; /* any head the edge let through */
    info.max_http_header_pool =
        (unsigned short)(cfg->max_http_connections < 65535 ? cfg->max_http_connections : 65535);
    /* a keep-alive request's head, and a stalled body, get the edge's deadline */
    int secs = (int)((cfg->http_header_timeout_ms + 999) / 1000);
    info.keepalive_timeout = secs;
    info.timeout_secs_ah_idle = (unsigned)secs;
    info.timeout_secs = (unsigned)secs + 5; /* after our own 408 (rest.c) */
    info.retry_and_idle_policy = &no_validity_timer;
    /* lws's own loop poll()s every socket at each wake-up; on libev (epoll) a
     * wake-up costs what is ready, not how many are connected */
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    void *loops[1] = {loop};
    info.foreign_loops = loops;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_LIBEV;
    info.vhost_name = "notifyd";
    info.extensions = cfg->ws_deflate ? deflate_exts : NULL;
    if (cfg->tls_cert_file) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert_file;
        info.ssl_private_key_filepath = cfg->tls_key_file;
        info.alpn = "http/1.1"; /* WebSockets and REST over HTTP/1.1, also with TLS */
    }

    ws->ctx = loop ? lws_create_context(&info) : NULL;
    if (ws->ctx)
        ws->vhost = lws_create_vhost(ws->ctx, &info);
    if (!ws->ctx || !ws->vhost || start_edge(ws, loop) < 0) {
        if (!ws->edge)
            snprintf(ws->start_err + strlen(ws->start_err),
                     sizeof ws->start_err - strlen(ws->start_err), "%s",
                     ws->start_err[0] ? "" : "cannot start libwebsockets (see log)");
        if (ws->ctx)
            lws_context_destroy(ws->ctx);
        ws->ctx = NULL;
        if (loop)
            ev_loop_destroy(loop);
        start_done(ws, -1);
        return NULL;
    }
    ws->port = edge_port(ws->edge);
    inbox_set_wake(ws->inbox, wake, ws);
    lws_cancel_service(ws->ctx); /* for what was posted before */
    lws_sul_schedule(ws->ctx, 0, &ws->tick_sul, tick, ws->wheel.tick_ms * LWS_US_PER_MS);
    health_beat(HEALTH_T_WS);
    if (recv_guard_thread_start(ws__conn_bad_frame) < 0)
        nd_log(ND_LOG_WARN, "out of memory: client frames are not checked for masking", NULL);
    start_done(ws, 1);

    while (!ws->stop_now) {
        ev_run(loop, EVRUN_ONCE);
        health_beat(HEALTH_T_WS);
        fault_point(FAULT_STALL_WS);
        if (atomic_load(&ws->stopping) && registry_connections(ws->reg) == 0)
            ws->stop_now = 1;
    }
    health_unwatch(HEALTH_T_WS);
    lws_sul_cancel(&ws->stop_sul);
    lws_sul_cancel(&ws->tick_sul);
    inbox_set_wake(ws->inbox, NULL, NULL); /* later jobs wait for ws_server_free() */
    lws_context_destroy(ws->ctx);          /* its sockets leave the edge's count */
    ws->ctx = NULL;
    recv_guard_thread_end();
    edge_free(ws->edge);
    ws->edge = NULL;
    ev_loop_destroy(loop);
    inbox_drain(ws->inbox, ws); /* jobs posted while stopping still answer their callers */
    return NULL;
}

struct ws_server *ws_server_start(const struct nd_config *cfg, struct token_keyring *keys,
                                  struct backend *backend, char *err, size_t errlen)
{
    struct ws_server *ws = calloc(1, sizeof *ws);
    if (!ws) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ws->cfg = cfg;
    ws->keys = keys;
    ws->backend = backend;
    pthread_mutex_init(&ws->start_lock, NULL);
    pthread_cond_init(&ws->start_cond, NULL);
    unsigned char r[4];
    RAND_bytes(r, sizeof r);
    snprintf(ws->instance, sizeof ws->instance, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);

    const char *files[] = {cfg->tls_cert_file, cfg->tls_key_file};
    for (size_t i = 0; i < ND_ARRAY_SIZE(files); i++) {
        if (files[i] && access(files[i], R_OK) < 0) {
            snprintf(err, errlen, "cannot read %s: %s", files[i], strerror(errno));
            goto fail;
        }
    }
    /* the HTTP port's sockets stay within the open-files limit less a reserve
     * for gRPC, the store and Redis: a flood on the public port never takes
     * the descriptors the other listener needs */
    struct rlimit rl;
    int64_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                        ? (int64_t)rl.rlim_cur
                        : 1 << 20;
    int64_t reserve = limit / 2 < ND_FD_RESERVE ? limit / 2 : ND_FD_RESERVE;
    ws->fd_budget = limit - reserve;
    ws->max_connections = cfg->max_connections;
    if (!ws->max_connections) /* what the open-files limit allows, less the reserve */
        ws->max_connections = ws->fd_budget < 16 ? 16 : ws->fd_budget;
    ws->reg = registry_new();
    ws->inbox = inbox_new(NULL, NULL); /* woken once the lws context exists (run()) */
    int64_t tick = tick_ms(cfg);
    if (!ws->reg || !ws->inbox ||
        wheel_init(&ws->wheel, tick, cfg->heartbeat_interval_ms + tick, nd_mono_us() / 1000) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    struct backend_local local;
    ws__local(ws, &local);
    backend_attach(backend, &local); /* before nd-ws runs: it delivers here from then on */
    if (pthread_create(&ws->thread, NULL, run, ws)) {
        snprintf(err, errlen, "cannot start the WebSocket thread");
        goto fail;
    }
    pthread_mutex_lock(&ws->start_lock);
    while (ws->start_state == 0)
        pthread_cond_wait(&ws->start_cond, &ws->start_lock);
    pthread_mutex_unlock(&ws->start_lock);
    if (ws->start_state < 0) {
        pthread_join(ws->thread, NULL);
        snprintf(err, errlen, "%s", ws->start_err);
        goto fail;
    }
    return ws;

fail:
    inbox_free(ws->inbox, ws);
    registry_free(ws->reg);
    wheel_free(&ws->wheel);
    pthread_cond_destroy(&ws->start_cond);
    pthread_mutex_destroy(&ws->start_lock);
    free(ws);
    return NULL;
}

int ws_server_port(const struct ws_server *ws)
{
    return ws->port;
}

const char *ws_server_instance(const struct ws_server *ws)
{
    return ws->instance;
}

int64_t ws_server_max_connections(const struct ws_server *ws)
{
    return ws->max_connections;
}

void ws_server_set_metrics_hook(struct ws_server *ws, void (*fn)(void *arg, FILE *out), void *arg)
{
    ws->metrics_hook_arg = arg;
    ws->metrics_hook = fn;
}

void ws_server_set_service(struct ws_server *ws, struct service *svc)
{
    atomic_store(&ws->svc, svc);
}

static int close_user(struct reg_user *u, void *arg)
{
    (void)arg;
    for (struct reg_link *l = u->conns; l; l = l->next)
        ws__conn_close_flush(ND_CONTAINER_OF(l, struct conn, link), ND_CLOSE_GOING_AWAY,
                             "server shutting down");
    return 0;
}

static void stop_run(struct inbox_job *job, void *ctx)
{
    struct ws_server *ws = ctx;
    (void)job;
    atomic_store(&ws->stopping, 1);
    edge_stop(ws->edge); /* no new connections */
    if (ws->ctx) {
        registry_each_user(ws->reg, close_user, NULL);
        lws_sul_schedule(ws->ctx, 0, &ws->stop_sul, stop_deadline,
                         ws->stop_grace_ms * LWS_US_PER_MS);
    }
}

void ws_server_stop(struct ws_server *ws, int64_t grace_ms)
{
    ws->stop_grace_ms = grace_ms > 0 ? grace_ms : 1; /* read by nd-ws after the post */
    ws->stop_job.run = stop_run;
    inbox_post(ws->inbox, &ws->stop_job);
    pthread_join(ws->thread, NULL);
}

void ws_server_free(struct ws_server *ws)
{
    if (!ws)
        return;
    inbox_free(ws->inbox, ws);
    registry_free(ws->reg);
    wheel_free(&ws->wheel);
    pthread_cond_destroy(&ws->start_cond);
    pthread_mutex_destroy(&ws->start_lock);
    free(ws);
}
