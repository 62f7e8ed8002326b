/* ws/server: the WebSocket threads (NOTIFYD_WS_THREADS), each with its lws
 * context on a libev loop: nd-ws, the hub, also runs the edge; nd-ws1...
 * get WebSocket connections from it (shards.c). A context is made,
 * serviced and destroyed on its thread; main only waits for the threads to
 * start and asks the hub to stop (through the inbox), which stops the
 * others. Jobs from other threads run on a thread when lws_cancel_service()
 * wakes its loop. */
#include "ws/server.h"

#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <sched.h>
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
        if (ws)
            ws__edge_socket(ws, 1);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c && c->guard_fd) { /* closed without CLOSED: the descriptor is gone */
            recv_guard_unwatch(c->guard_fd);
            c->guard_fd = 0;
        }
        if (ws)
            ws__edge_socket(ws, -1);
        return 0;
    default: break;
    }
    if (!c) /* no per-session data (yet) */
        return lws_callback_http_dummy(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_TIMER:
    case LWS_CALLBACK_HTTP_WRITEABLE: /* answers are written when known; a held one's end */
        return ws__http_callback(ws, c, wsi, (int)reason, in, len);
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
static void adopt(void *arg, int fd, int websocket)
{
    ws__adopt(arg, fd, websocket);
}

static int64_t websockets(void *arg)
{
    struct ws_server *ws = arg;
    return uindex_connections(ws->ix);
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

/* the lws context of @ws's thread on @loop; -1 with start_err set */
static int open_context(struct ws_server *ws, struct ev_loop *loop)
{
    struct lws_context_creation_info info;
    const struct nd_config *cfg = ws->cfg;

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
    /* OpenSSL's global set-up is the hub's context's (it is made first and destroyed
     * last): lws 4.1 cleans OpenSSL up when a context with the option goes, after which
     * the SSL_CTX of a context still open is never freed. The others' vhosts still
     * need the option to serve TLS. */
    unsigned vhost_options = info.options;
    if (ws->shard)
        info.options &= ~(unsigned)LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    ws->ctx = lws_create_context(&info);
    info.options = vhost_options;
    if (ws->ctx)
        ws->vhost = lws_create_vhost(ws->ctx, &info);
    if (ws->ctx && ws->vhost)
        return 0;
    snprintf(ws->start_err, sizeof ws->start_err, "cannot start libwebsockets (see log)");
    if (ws->ctx)
        lws_context_destroy(ws->ctx);
    ws->ctx = NULL;
    return -1;
}

/* the thread's loop is ready: jobs and the heartbeat clock run from now on */
static void loop_started(struct ws_server *ws, enum health_thread beat)
{
    inbox_set_wake(ws->inbox, wake, ws);
    lws_cancel_service(ws->ctx); /* for what was posted before */
    lws_sul_schedule(ws->ctx, 0, &ws->tick_sul, tick, ws->wheel.tick_ms * LWS_US_PER_MS);
    health_beat(beat);
    if (recv_guard_thread_start(ws__conn_bad_frame) < 0)
        nd_log(ND_LOG_WARN, "out of memory: client frames are not checked for masking", NULL);
    start_done(ws, 1);
}

static void loop_ended(struct ws_server *ws, enum health_thread beat)
{
    health_unwatch(beat);
    lws_sul_cancel(&ws->stop_sul);
    lws_sul_cancel(&ws->tick_sul);
    inbox_set_wake(ws->inbox, NULL, NULL); /* later jobs wait for ws_server_free() */
}

/* WebSocket thread @k's slot in the watchdog: nd-ws, then nd-ws1... */
static enum health_thread health_of(unsigned k)
{
    return k ? (enum health_thread)(HEALTH_T_WS_MORE + k - 1) : HEALTH_T_WS;
}

static enum health_thread beat_of(const struct ws_server *ws)
{
    return health_of(ws->shard);
}

static void stop_now_run(struct inbox_job *job, void *ctx)
{
    struct ws_server *ws = ctx;
    (void)job;
    ws->stop_now = 1;
}

/* nd-ws1...: WebSocket connections the hub hands over, nothing else */
static void *run_shard(void *arg)
{
    struct ws_server *ws = arg;
    char name[16];
    snprintf(name, sizeof name, "nd-ws%u", ws->shard);
    pthread_setname_np(pthread_self(), name);
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!loop || open_context(ws, loop) < 0) {
        if (loop)
            ev_loop_destroy(loop);
        start_done(ws, -1);
        return NULL;
    }
    enum health_thread beat = beat_of(ws);
    loop_started(ws, beat);
    while (!ws->stop_now) {
        ev_run(loop, EVRUN_ONCE);
        health_beat(beat);
        fault_point_ws(ws->shard);
        if (atomic_load(&ws->stopping) && registry_connections(ws->reg) == 0)
            ws->stop_now = 1;
    }
    loop_ended(ws, beat);
    lws_context_destroy(ws->ctx); /* its sockets leave the edge's count */
    ws->ctx = NULL;
    recv_guard_thread_end();
    ev_loop_destroy(loop);
    inbox_drain(ws->inbox, ws);
    return NULL;
}

/* the other threads leave their loops (at once: the hub's grace is over) and end */
static void shards_join(struct ws_server *hub)
{
    for (unsigned k = 1; k < hub->n_shards; k++) {
        struct ws_server *t = hub->shards[k];
        if (!t->thread_started)
            continue;
        t->stop_now_job.run = stop_now_run;
        inbox_post(t->inbox, &t->stop_now_job);
        pthread_join(t->thread, NULL);
        t->thread_started = 0;
    }
}

static void *run(void *arg)
{
    struct ws_server *ws = arg;

    pthread_setname_np(pthread_self(), "nd-ws");
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!loop || open_context(ws, loop) < 0 || start_edge(ws, loop) < 0) {
        if (!ws->start_err[0])
            snprintf(ws->start_err, sizeof ws->start_err, "cannot start libwebsockets (see log)");
        if (ws->ctx)
            lws_context_destroy(ws->ctx);
        ws->ctx = NULL;
        if (loop)
            ev_loop_destroy(loop);
        start_done(ws, -1);
        return NULL;
    }
    ws->port = edge_port(ws->edge);
    loop_started(ws, HEALTH_T_WS);

    while (!ws->stop_now) {
        ev_run(loop, EVRUN_ONCE);
        health_beat(HEALTH_T_WS);
        fault_point_ws(0);
        if (atomic_load(&ws->stopping) && uindex_connections(ws->ix) == 0)
            ws->stop_now = 1; /* every thread's WebSockets are gone */
    }
    loop_ended(ws, HEALTH_T_WS);
    shards_join(ws);              /* their last jobs for the hub (presence) wait in its inbox */
    lws_context_destroy(ws->ctx); /* its sockets leave the edge's count */
    ws->ctx = NULL;
    recv_guard_thread_end();
    edge_free(ws->edge);
    ws->edge = NULL;
    ev_loop_destroy(loop);
    inbox_drain(ws->inbox, ws); /* jobs posted while stopping still answer their callers */
    return NULL;
}

/* one thread's state; the hub's own is @hub (NULL: this is the hub) */
static struct ws_server *shard_new(const struct nd_config *cfg, struct ws_server *hub,
                                   unsigned shard)
{
    struct ws_server *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->cfg = cfg;
    ws->hub = hub ? hub : ws;
    ws->shard = shard;
    pthread_mutex_init(&ws->start_lock, NULL);
    pthread_cond_init(&ws->start_cond, NULL);
    pthread_mutex_init(&ws->mlock, NULL);
    ws->reg = registry_new();
    ws->inbox = inbox_new(NULL, NULL); /* woken once the lws context exists */
    int64_t tick = tick_ms(cfg);
    if (!ws->reg || !ws->inbox ||
        wheel_init(&ws->wheel, tick, cfg->heartbeat_interval_ms + tick, nd_mono_us() / 1000) < 0) {
        inbox_free(ws->inbox, ws);
        registry_free(ws->reg);
        pthread_mutex_destroy(&ws->mlock);
        pthread_cond_destroy(&ws->start_cond);
        pthread_mutex_destroy(&ws->start_lock);
        free(ws);
        return NULL;
    }
    return ws;
}

static void shard_free(struct ws_server *ws)
{
    inbox_free(ws->inbox, ws);
    registry_free(ws->reg);
    wheel_free(&ws->wheel);
    pthread_mutex_destroy(&ws->mlock);
    pthread_cond_destroy(&ws->start_cond);
    pthread_mutex_destroy(&ws->start_lock);
    free(ws);
}

/* starts @ws's thread running @fn and waits until its loop runs: 0, or -1 (start_err) */
static int thread_start(struct ws_server *ws, void *(*fn)(void *))
{
    if (pthread_create(&ws->thread, NULL, fn, ws)) {
        snprintf(ws->start_err, sizeof ws->start_err, "cannot start a WebSocket thread");
        return -1;
    }
    pthread_mutex_lock(&ws->start_lock);
    while (ws->start_state == 0)
        pthread_cond_wait(&ws->start_cond, &ws->start_lock);
    pthread_mutex_unlock(&ws->start_lock);
    if (ws->start_state < 0) {
        pthread_join(ws->thread, NULL);
        return -1;
    }
    ws->thread_started = 1;
    return 0;
}

/* the cgroup v2 CPU limit (a container's resources.limits.cpu), rounded up; 0: none */
static int64_t cgroup_cpus(void)
{
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    char quota[32] = "";
    long long period = 0;
    int n = f ? fscanf(f, "%31s %lld", quota, &period) : 0;
    if (f)
        fclose(f);
    long long q = n == 2 && strcmp(quota, "max") ? atoll(quota) : 0;
    return q > 0 && period > 0 ? (q + period - 1) / period : 0;
}

/* NOTIFYD_WS_THREADS, 0: the cores this process may run on (its affinity, within its
 * cgroup's CPU limit) */
static unsigned threads_of(const struct nd_config *cfg)
{
    int64_t n = cfg->ws_threads;
    if (n <= 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
        int64_t limit = cgroup_cpus();
        if (limit > 0 && limit < n)
            n = limit;
    }
    return n < 1 ? 1 : n > UINDEX_SHARDS_MAX ? UINDEX_SHARDS_MAX : (unsigned)n;
}

struct ws_server *ws_server_start(const struct nd_config *cfg, struct token_keyring *keys,
                                  struct backend *backend, char *err, size_t errlen)
{
    unsigned n = threads_of(cfg);
    struct ws_server *ws = shard_new(cfg, NULL, 0);
    if (!ws || !(ws->shards = calloc(n, sizeof *ws->shards)) || !(ws->ix = uindex_new(n))) {
        snprintf(err, errlen, "out of memory");
        if (ws) {
            free(ws->shards);
            shard_free(ws);
        }
        return NULL;
    }
    ws->keys = keys;
    ws->backend = backend;
    ws->shards[0] = ws;
    ws->n_shards = 1;
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
    unsigned want = n;
    for (unsigned k = 1; k < want; k++) {
        struct ws_server *t = shard_new(cfg, ws, k);
        if (!t) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        t->keys = keys;
        t->backend = backend;
        t->ix = ws->ix;
        t->n_shards = want;
        t->fd_budget = ws->fd_budget;
        t->max_connections = ws->max_connections;
        memcpy(t->instance, ws->instance, sizeof t->instance);
        ws->shards[ws->n_shards++] = t;
    }
    struct backend_local local;
    ws__local(ws, &local);
    backend_attach(backend, &local); /* before nd-ws runs: it delivers here from then on */
    if (thread_start(ws, run) < 0) { /* the hub first: it binds the port */
        snprintf(err, errlen, "%s", ws->start_err);
        goto fail;
    }
    for (unsigned k = 1; k < ws->n_shards; k++) {
        if (thread_start(ws->shards[k], run_shard) < 0) {
            snprintf(err, errlen, "%s", ws->shards[k]->start_err);
            ws_server_stop(ws, 1);
            goto fail;
        }
    }
    return ws;

fail:
    ws_server_free(ws);
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

int ws_server_threads(const struct ws_server *ws)
{
    return (int)ws->n_shards;
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
    if (ws->edge)
        edge_stop(ws->edge); /* no new connections */
    if (ws->ctx) {
        registry_each_user(ws->reg, close_user, NULL);
        lws_sul_schedule(ws->ctx, 0, &ws->stop_sul, stop_deadline,
                         ws->stop_grace_ms * LWS_US_PER_MS);
    }
    for (unsigned k = 1; ws->shards && k < ws->n_shards; k++) { /* the same on every thread */
        struct ws_server *t = ws->shards[k];
        t->stop_grace_ms = ws->stop_grace_ms;
        t->stop_job.run = stop_run;
        inbox_post(t->inbox, &t->stop_job);
    }
}

void ws_server_stop(struct ws_server *ws, int64_t grace_ms)
{
    if (!ws->thread_started)
        return;
    ws->stop_grace_ms = grace_ms > 0 ? grace_ms : 1; /* read by nd-ws after the post */
    ws->stop_job.run = stop_run;
    inbox_post(ws->inbox, &ws->stop_job);
    pthread_join(ws->thread, NULL); /* it joins the other threads */
    ws->thread_started = 0;
}

void ws_server_free(struct ws_server *ws)
{
    if (!ws)
        return;
    /* jobs still queued run now; some post more to another thread (a resume asked of
     * the hub, its answer back): until every inbox is empty */
    for (size_t ran = 1; ran;) {
        ran = 0;
        for (unsigned k = 0; k < ws->n_shards; k++)
            ran += inbox_drain(ws->shards[k]->inbox, ws->shards[k]);
    }
    for (unsigned k = 1; k < ws->n_shards; k++)
        shard_free(ws->shards[k]);
    free(ws->shards);
    uindex_free(ws->ix);
    shard_free(ws);
}

const char *ws__thread_name(unsigned k)
{
    return health_thread_name(health_of(k));
}
