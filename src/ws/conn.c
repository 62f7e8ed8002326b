/* conn: one browser WebSocket -- authentication and limits before the
 * upgrade, the `connected` greeting, client messages (ping, pong,
 * client_ready, ack, refresh, feed_mark), heartbeats and token expiry on the timer
 * wheel, and writing the outbound queue. The connection's WebSocket thread
 * only (struct ws_server: the hub, nd-ws, or nd-ws1...). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "delivery/close_codes.h"
#include "delivery/envelope.h"
#include "log.h"
#include "nd.h"
#include "notify/ops.h"
#include "stats.h"
#include "ws/client_msg.h"
#include "ws/recv_guard.h"
#include "ws/ws_internal.h"

#define STRIKE_BURST 10 /* errors a client may cause at once before it is closed */
#define STRIKE_RATE 1   /* ... refilled at this many per second */

static int64_t now_ms(void)
{
    return nd_mono_ms();
}

static const char *conn_user(const struct conn *c)
{
    return c->link.user ? c->link.user->id : "";
}

/* the client's address in 18 bytes (IPv4 as mapped IPv6), for the log; read
 * before the upgrade is answered, while the client surely waits */
static void peer_of(int fd, uint8_t ip[16], uint16_t *port)
{
    struct sockaddr_storage ss = {0}; /* the analyzer cannot see getpeername() fill it */
    socklen_t len = sizeof ss;
    memset(ip, 0, 16);
    *port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        memcpy(ip, &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
    }
}

/* "203.0.113.7:51234", "[2001:db8::1]:51234" */
static const char *peer_str(const struct conn *c, char *out, size_t outlen)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char ip[INET6_ADDRSTRLEN] = "?";
    int v4 = !memcmp(c->peer_ip, mapped, sizeof mapped);
    if (!c->peer_port)
        return "unknown";
    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? c->peer_ip + 12 : c->peer_ip, ip, sizeof ip);
    snprintf(out, outlen, v4 ? "%s:%u" : "[%s]:%u", ip, c->peer_port);
    return out;
}

static const char *client_id_of(struct ws_server *ws, const struct conn *c, char *out,
                                size_t outlen)
{
    snprintf(out, outlen, "%s-%llx", ws->instance, (unsigned long long)c->id);
    return out;
}

/* @c takes no more messages: the hub stops counting it as reached */
static void unlist(struct conn *c)
{
    if (!c->live || !c->wsi || !c->link.user)
        return;
    struct ws_server *ws = lws_context_user(lws_get_context(c->wsi));
    uindex_closing(ws->ix, c->link.user->id, ws->shard, !c->ack_mode);
    c->live = 0;
}

struct conn *ws__conn_find(struct ws_server *ws, const char *user_id, uint64_t id)
{
    struct reg_user *u = registry_find(ws->reg, user_id);
    for (struct reg_link *l = u ? u->conns : NULL; l; l = l->next) {
        struct conn *c = ND_CONTAINER_OF(l, struct conn, link);
        if (c->id == id)
            return c;
    }
    return NULL;
}

void ws__conn_close(struct conn *c, uint16_t code, const char *reason)
{
    if (c->close_code)
        return;
    unlist(c);
    c->close_code = code;
    c->close_reason = reason;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

void ws__conn_close_flush(struct conn *c, uint16_t code, const char *reason)
{
    if (!c->close_code)
        c->close_flush = 1;
    ws__conn_close(c, code, reason);
}

void ws__conn_disconnect(struct conn *c, const char *reason, int reconnect)
{
    if (c->close_code)
        return;
    c->close_text = strdup(reason);
    c->close_reconnect = reconnect != 0;
    ws__conn_close_flush(c, ND_CLOSE_DISCONNECTED,
                         c->close_text ? c->close_text : "disconnected by the server");
}

int ws__conn_push(struct ws_server *ws, struct conn *c, struct delivery *d)
{
    int coalesced = 0;
    if (c->close_code)
        return -1;
    if (d->id && d->id <= c->live_floor && !c->replaying)
        return -1; /* published before this connection's replay read: in it, or not owed */
    /* while stored messages load, live ones wait behind them */
    enum outq_result r =
        outq_push(c->replaying ? &c->held : &c->q, d, (uint32_t)ws->cfg->max_queue_messages,
                  (size_t)ws->cfg->max_queue_bytes, &coalesced);
    if (coalesced)
        stats_add(&nd_stats.by_op[d->op ? d->op->id : 0][OUTCOME_COALESCED], coalesced);
    if (r != OUTQ_OK) {
        nd_log(ND_LOG_INFO, "closing slow reader", "{s:s, s:i, s:I}", "user_id", conn_user(c),
               "queued", (int)outq_count(&c->q), "queued_bytes", (json_int_t)c->q.bytes);
        ws__conn_close(c, ND_CLOSE_SLOW_READER, "too slow: outbound queue full");
        return -1;
    }
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* sends a control frame (no message_id) with @data (consumed) */
static void send_control(struct ws_server *ws, struct conn *c, const char *type, json_t *data)
{
    struct delivery *d = envelope_encode(type, conn_user(c), data, nd_wall_ms(), 0);
    json_decref(data);
    if (!d) {
        ws__conn_close(c, 1011, "out of memory");
        return;
    }
    ws__conn_push(ws, c, d);
    delivery_unref(d);
}

/* an error message for the client; a client that keeps causing them is closed */
static void send_error(struct ws_server *ws, struct conn *c, const char *code, const char *message)
{
    stats_add(&nd_stats.client_errors, 1);
    if (!ratelimit_take(&c->strikes, STRIKE_RATE, STRIKE_BURST, nd_mono_us())) {
        ws__conn_close_flush(c, ND_CLOSE_POLICY, "too many bad messages");
        return;
    }
    send_control(ws, c, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
}

void ws__conn_error(struct ws_server *ws, struct conn *c, const char *code, const char *message)
{
    send_error(ws, c, code, message);
}

/* --- timers: one wheel node per connection, due at its next event --- */

static void schedule(struct ws_server *ws, struct conn *c)
{
    int64_t due = c->next_ping_ms;
    int64_t silent = c->last_rx_ms + ws->cfg->heartbeat_timeout_ms;
    if (silent < due)
        due = silent;
    if (c->token_exp_ms && c->token_exp_ms < due)
        due = c->token_exp_ms;
    wheel_remove(&ws->wheel, &c->timer);
    wheel_add(&ws->wheel, &c->timer, due);
}

/* the token's exp (unix seconds) on the monotonic clock */
static int64_t exp_to_mono(int64_t exp)
{
    if (!exp)
        return 0;
    int64_t left = exp * 1000 - nd_wall_ms();
    return now_ms() + (left > 0 ? left : 0);
}

static void shared_ping(struct ws_server *ws, struct conn *c)
{
    if (!ws->ping) /* one encoding per tick, shared by every connection pinged in it */
        ws->ping = envelope_encode("ping", NULL, NULL, nd_wall_ms(), 0);
    if (ws->ping)
        ws__conn_push(ws, c, ws->ping);
    c->ping_due = 1; /* and a WebSocket PING: standard clients answer it by themselves */
    lws_callback_on_writable(c->wsi);
}

static void timer_fired(struct wheel_node *n, void *arg)
{
    struct ws_server *ws = arg;
    struct conn *c = ND_CONTAINER_OF(n, struct conn, timer);
    int64_t now = ws->now_ms;

    if (c->close_code)
        return;
    if (c->token_exp_ms && now >= c->token_exp_ms) {
        send_control(ws, c, "error",
                     json_pack("{s:s, s:s}", "code", "token_expired", "message",
                               "your token expired: reconnect with a new one, or send "
                               "{\"type\":\"refresh\"} before it expires"));
        ws__conn_close_flush(c, ND_CLOSE_TOKEN_EXPIRED, "token expired");
        return;
    }
    if (now - c->last_rx_ms >= ws->cfg->heartbeat_timeout_ms) {
        ws__conn_close(c, ND_CLOSE_HEARTBEAT, "heartbeat timeout: nothing received in time");
        return;
    }
    if (now >= c->next_ping_ms) {
        shared_ping(ws, c);
        c->next_ping_ms = now + ws->cfg->heartbeat_interval_ms;
    }
    schedule(ws, c);
}

void ws__conn_tick(struct ws_server *ws)
{
    ws->now_ms = now_ms();
    wheel_advance(&ws->wheel, ws->now_ms, timer_fired, ws);
    if (!ws->shard)
        backend_tick(ws->backend, nd_wall_ms());
    else
        ws__metrics_queues(ws); /* for the hub's /metrics */
    delivery_unref(ws->ping);
    ws->ping = NULL;
}

/* --- handshake --- */

const char *ws__urlarg(struct ws_server *ws, struct lws *wsi, const char *name, char *out,
                       size_t outlen)
{
    const char *v = lws_get_urlarg_by_name(wsi, name, ws->scratch, sizeof ws->scratch);
    size_t n = v ? strlen(v) : 0;
    if (!v || n >= outlen)
        return NULL;
    memcpy(out, v, n + 1);
    return out;
}

/* the token from ?token= or Authorization: Bearer; *too_large when it cannot fit */
static const char *find_token(struct lws *wsi, char *buf, int len, int *too_large)
{
    const char *t = lws_get_urlarg_by_name(wsi, "token=", buf, len);
    if (t)
        return t;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > len)
        *too_large = 1;
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0)
        return NULL;
    if (n >= len) {
        *too_large = 1;
        return NULL;
    }
    if (lws_hdr_copy(wsi, buf, len, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        return NULL;
    return token_from_bearer(buf);
}

/* refuses the upgrade with a JSON body {"code": status, "message": msg} */
static int refuse(struct ws_server *ws, struct lws *wsi, enum ws_refused_reason why, int status,
                  const char *reason, const char *msg)
{
    pthread_mutex_lock(&ws->mlock);
    ws->m.refused[why]++;
    pthread_mutex_unlock(&ws->mlock);
    json_t *body = json_pack("{s:i, s:s}", "code", status, "message", msg);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = ws__http_raw_reply(wsi, status, reason, text ? text : "{}");
    free(text);
    return rc;
}

/* NOTIFYD_ALLOWED_ORIGINS: a browser's Origin must be listed exactly
 * (scheme://host[:port], case-insensitive); requests without an Origin come
 * from non-browser clients, which Origin checks cannot restrict anyway */
int ws__origin_allowed(struct ws_server *ws, struct lws *wsi)
{
    const char *list = ws->cfg->allowed_origins;
    char origin[256];
    if (!list || !strcmp(list, "*"))
        return 1;
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n <= 0)
        return 1;
    if (n >= (int)sizeof origin || lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0)
        return 0;
    size_t len = strlen(origin);
    while (len && origin[len - 1] == '/')
        origin[--len] = 0;
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *end = p + strcspn(p, ", ");
        size_t item = (size_t)(end - p);
        while (item && p[item - 1] == '/')
            item--;
        if (item && item == len && !strncasecmp(p, origin, len))
            return 1;
        p = end;
    }
    return 0;
}

int ws__conn_confirm_upgrade(struct ws_server *ws, struct lws *wsi)
{
    char path[16], msg[200];
    ws->handoff.wsi = NULL;
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 || strcmp(path, "/ws") != 0)
        return refuse(ws, wsi, REFUSED_BAD_REQUEST, 404, "Not Found",
                      "the WebSocket endpoint is /ws");
    if (atomic_load(&ws->stopping))
        return refuse(ws, wsi, REFUSED_DRAINING, 503, "Service Unavailable",
                      "server is shutting down");
    if (uindex_connections(ws->ix) >= ws->max_connections) {
        return refuse(ws, wsi, REFUSED_SERVER_LIMIT, 503, "Service Unavailable",
                      "server is at its connection limit (NOTIFYD_MAX_CONNECTIONS)");
    }
    if (!ws__origin_allowed(ws, wsi))
        return refuse(ws, wsi, REFUSED_ORIGIN, 403, "Forbidden",
                      "this Origin may not connect (NOTIFYD_ALLOWED_ORIGINS)");

    char *buf = malloc(ND_TOKEN_MAX + 16);
    if (!buf)
        return -1;
    int too_large = 0;
    const char *tok = find_token(wsi, buf, ND_TOKEN_MAX + 16, &too_large);
    struct token_claims claims;
    enum token_result r = tok         ? token_verify(token_keyring_get(ws->keys), tok, time(NULL),
                                                     ws->cfg->jwt_leeway_s, &claims)
                          : too_large ? TOKEN_TOO_LARGE
                                      : TOKEN_MISSING;
    free(buf);
    if (r != TOKEN_OK) {
        stats_add(&nd_stats.auth_failures, 1);
        nd_log(ND_LOG_INFO, "websocket refused", "{s:s}", "reason", token_result_str(r));
        return refuse(ws, wsi, REFUSED_AUTH, 401, "Unauthorized", token_result_str(r));
    }
    int held = uindex_user_connections(ws->ix, claims.user_id); /* on every thread */
    if (held >= ws->cfg->max_conns_per_user) {
        snprintf(msg, sizeof msg,
                 "user %s already has %d connections, the limit (NOTIFYD_MAX_CONNS_PER_USER)",
                 claims.user_id, held);
        nd_log(ND_LOG_INFO, "websocket refused", "{s:s, s:s}", "reason", "connection limit",
               "user_id", claims.user_id);
        return refuse(ws, wsi, REFUSED_USER_LIMIT, 429, "Too Many Requests", msg);
    }
    char since[64], ack[8], batch[8];
    uint64_t since_id = 0;
    int resume = lws_get_urlarg_by_name(wsi, "since=", ws->scratch, sizeof ws->scratch) != NULL;
    if (resume &&
        (!ws__urlarg(ws, wsi, "since=", since, sizeof since) || msgid_parse(since, &since_id) < 0))
        return refuse(ws, wsi, REFUSED_BAD_REQUEST, 400, "Bad Request",
                      "since must be a message id: 16 hex digits, as in message_id");
    const char *a = ws__urlarg(ws, wsi, "ack=", ack, sizeof ack);
    ws->handoff.wsi = wsi;
    ws->handoff.claims = claims;
    peer_of(lws_get_socket_fd(wsi), ws->handoff.peer_ip, &ws->handoff.peer_port);
    ws->handoff.resume_asked = resume;
    ws->handoff.since = since_id;
    ws->handoff.ack_mode = a && (!strcmp(a, "1") || !strcmp(a, "true"));
    const char *b = ws__urlarg(ws, wsi, "batch=", batch, sizeof batch);
    ws->handoff.batch_mode = b && (!strcmp(b, "1") || !strcmp(b, "true"));
    return 0;
}

void ws__conn_connected(struct ws_server *ws, struct conn *c, int recovered)
{
    char client_id[40];
    snprintf(client_id, sizeof client_id, "%s-%llx", ws->instance, (unsigned long long)c->id);
    json_t *data =
        json_pack("{s:s, s:s, s:I, s:I, s:b, s:I}", "client_id", client_id, "user_id", conn_user(c),
                  "heartbeat_interval", (json_int_t)ws->cfg->heartbeat_interval_ms,
                  "heartbeat_timeout", (json_int_t)ws->cfg->heartbeat_timeout_ms, "recovered",
                  recovered, "server_time", (json_int_t)nd_wall_ms());
    if (data && c->token_exp_s) { /* _ms like every other time here; the seconds are exp's */
        json_object_set_new(data, "token_expires_at", json_integer(c->token_exp_s));
        json_object_set_new(data, "token_expires_at_ms", json_integer(c->token_exp_s * 1000));
    }
    if (data && c->ack_mode)
        json_object_set_new(data, "ack", json_true());
    if (data && c->batch_mode)
        json_object_set_new(data, "batch", json_true());
    send_control(ws, c, "connected", data);
}

int ws__conn_established(struct ws_server *ws, struct conn *c, struct lws *wsi)
{
    c->wsi = wsi;
    if (ws->handoff.wsi != wsi) { /* lws always confirms first; refuse if it did not */
        nd_log(ND_LOG_ERROR, "websocket established without a checked token", NULL);
        return -1;
    }
    ws->handoff.wsi = NULL;
    c->roles = ws->handoff.claims.roles;
    c->token_exp_ms = exp_to_mono(ws->handoff.claims.exp);
    c->resume_asked = ws->handoff.resume_asked;
    c->ack_mode = ws->handoff.ack_mode;
    c->batch_mode = ws->handoff.batch_mode;
    if (registry_add(ws->reg, ws->handoff.claims.user_id, &c->link) < 0)
        return -1;
    if (uindex_add(ws->ix, ws->handoff.claims.user_id, ws->shard, !c->ack_mode) < 0) {
        registry_remove(ws->reg, &c->link);
        return -1;
    }
    c->live = 1;
    c->guard_fd = lws_get_socket_fd(wsi);
    recv_guard_watch(c->guard_fd, &c->guard, c);         /* from here on, frames */
    c->id = atomic_fetch_add(&ws->hub->conn_ids, 1) + 1; /* unique on every thread */
    c->token_exp_s = ws->handoff.claims.exp;
    c->last_rx_ms = now_ms();
    c->next_ping_ms = c->last_rx_ms + ws->cfg->heartbeat_interval_ms;
    schedule(ws, c);
    stats_add(&nd_stats.connections_opened, 1);
    ws__metrics_connected(ws, c->resume_asked);
    ws__presence(ws, conn_user(c), +1, !c->ack_mode);
    c->opened_ms = c->last_rx_ms;
    memcpy(c->peer_ip, ws->handoff.peer_ip, sizeof c->peer_ip);
    c->peer_port = ws->handoff.peer_port;
    char peer[64], cid[40];
    nd_log(ND_LOG_INFO, "websocket connected", "{s:s, s:s, s:s, s:b}", "user_id", conn_user(c),
           "client_id", client_id_of(ws, c, cid, sizeof cid), "peer",
           peer_str(c, peer, sizeof peer), "resume", c->resume_asked);
    if (ws__replay_start(ws, c) < 0)
        return -1;
    if (atomic_load(&ws->stopping))
        ws__conn_close(c, ND_CLOSE_GOING_AWAY, "server shutting down");
    return 0;
}

/* --- client messages --- */

static void refresh(struct ws_server *ws, struct conn *c, const char *tok)
{
    struct token_claims claims;
    char msg[200];
    if (!tok) {
        send_error(ws, c, "bad_refresh", "refresh needs data.token, a new JWT");
        return;
    }
    enum token_result r =
        token_verify(token_keyring_get(ws->keys), tok, time(NULL), ws->cfg->jwt_leeway_s, &claims);
    if (r != TOKEN_OK) {
        snprintf(msg, sizeof msg, "refresh refused: %s; the current token still applies",
                 token_result_str(r));
        send_error(ws, c, "refresh_failed", msg);
        return;
    }
    if (strcmp(claims.user_id, conn_user(c)) != 0) {
        send_error(ws, c, "refresh_failed",
                   "refresh refused: the new token is for another user; the current token still "
                   "applies");
        return;
    }
    c->roles = claims.roles;
    c->token_exp_ms = exp_to_mono(claims.exp);
    c->token_exp_s = claims.exp;
    schedule(ws, c);
    json_t *out = json_object();
    json_object_set_new(out, "expires_at", claims.exp ? json_integer(claims.exp) : json_null());
    json_object_set_new(out, "expires_at_ms",
                        claims.exp ? json_integer(claims.exp * 1000) : json_null());
    send_control(ws, c, "refreshed", out);
}

/* one complete client message; each ack the client owes for a message it was
 * sent is free, everything else draws on the message rate */
static void message(struct ws_server *ws, struct conn *c, const char *text, size_t len)
{
    if (lws_frame_is_binary(c->wsi)) {
        send_error(ws, c, "binary_unsupported", "send JSON in text frames");
        return;
    }
    struct client_msg m;
    client_msg_parse(text, len, &m);
    double rate = (double)ws->cfg->client_msg_rate;
    if (m.type == CM_ACK && c->ack_credit > 0) {
        c->ack_credit--;
    } else if (!ratelimit_take(&c->rx_rate, rate, 2 * rate, nd_mono_us())) {
        client_msg_clear(&m);
        send_error(ws, c, "rate_limited", "too many messages: slow down");
        return;
    }
    switch (m.type) {
    case CM_ERROR: send_error(ws, c, m.error_code, m.error); break;
    case CM_PING: send_control(ws, c, "pong", json_object()); break;
    case CM_ALIVE: break; /* pong, client_ready: signs of life, nothing to answer */
    case CM_ACK:
        pthread_mutex_lock(&ws->mlock);
        ws->m.acks++;
        pthread_mutex_unlock(&ws->mlock);
        ws__forget(ws, conn_user(c), m.ack_id); /* delivered: no longer owed */
        break;
    case CM_REFRESH: refresh(ws, c, m.token); break;
    case CM_FEED_MARK: ws__feed_mark(ws, c, m.data); break;
    }
    client_msg_clear(&m);
}

int ws__conn_receive(struct ws_server *ws, struct conn *c, const void *in, size_t len)
{
    size_t max = (size_t)ws->cfg->max_frame_bytes;
    int final = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);

    if (c->close_code)
        return 0;
    c->last_rx_ms = now_ms();
    if (!c->rx && final && len <= max) { /* the common case: one frame, no copy */
        message(ws, c, in, len);
        return 0;
    }
    if (c->rx_len + len > max) {
        free(c->rx);
        c->rx = NULL;
        c->rx_len = 0;
        ws__conn_close(c, ND_CLOSE_TOO_BIG, "message too big");
        return 0;
    }
    char *rx = realloc(c->rx, c->rx_len + len + 1);
    if (!rx)
        return -1;
    memcpy(rx + c->rx_len, in, len);
    c->rx = rx;
    c->rx_len += len;
    if (final) {
        message(ws, c, c->rx, c->rx_len);
        free(c->rx);
        c->rx = NULL;
        c->rx_len = 0;
    }
    return 0;
}

void ws__conn_pong(struct ws_server *ws, struct conn *c)
{
    (void)ws;
    c->last_rx_ms = now_ms();
}

/* --- writing --- */

/* a message is on the wire: latency, the store's copy, the ack it may bring */
static void written(struct ws_server *ws, struct conn *c, struct delivery *d)
{
    if (d->op && !d->stored)
        ws__metrics_written(ws, nd_mono_us() - d->accepted_us);
    /* a client that does not ack has a stored message once it is written */
    if (d->stored && !c->ack_mode)
        ws__forget(ws, conn_user(c), d->id);
    if (c->ack_mode && d->id && c->ack_credit < UINT16_MAX) /* a message, not control */
        c->ack_credit++;
}

/* writes @d as its own frame and drops the caller's reference: 0, or -1 when lws failed */
static int write_one(struct ws_server *ws, struct conn *c, struct delivery *d)
{
    size_t len = d->len;
    int ok = lws_write(c->wsi, d->buf + LWS_PRE, len, LWS_WRITE_TEXT) >= (int)len;
    if (ok) {
        ws__metrics_frame(ws);
        written(ws, c, d);
    }
    delivery_unref(d);
    return ok ? 0 : -1;
}

#define BATCH_MAX 64                    /* messages in one batch frame */
#define BATCH_BYTES ((size_t)64 * 1024) /* JSON bytes of the messages in one batch frame */
#define BATCH_HEAD "{\"type\":\"batch\",\"data\":{\"messages\":["
#define BATCH_TAIL "]}}"

/* ?batch=1: the messages at the head of the queue (two or more, no control
 * frames) in one frame. 1 written, 0 nothing to batch, -1 write failed. */
static int write_batch(struct ws_server *ws, struct conn *c)
{
    struct delivery *ds[BATCH_MAX];
    size_t n = 0, bytes = 0;
    for (struct delivery *d; n < BATCH_MAX && (d = outq_peek(&c->q)) && d->id;) {
        if (n && bytes + d->len > BATCH_BYTES)
            break;
        ds[n++] = outq_pop(&c->q);
        bytes += d->len;
    }
    if (n < 2) /* one alone goes as itself */
        return n ? (write_one(ws, c, ds[0]) < 0 ? -1 : 1) : 0;
    size_t len = sizeof BATCH_HEAD - 1 + bytes + (n - 1) + sizeof BATCH_TAIL - 1;
    unsigned char *buf = malloc(LWS_PRE + len);
    int ok = 0;
    if (buf) {
        unsigned char *w = buf + LWS_PRE;
        memcpy(w, BATCH_HEAD, sizeof BATCH_HEAD - 1);
        w += sizeof BATCH_HEAD - 1;
        for (size_t i = 0; i < n; i++) {
            if (i)
                *w++ = ',';
            memcpy(w, delivery_json(ds[i]), ds[i]->len);
            w += ds[i]->len;
        }
        memcpy(w, BATCH_TAIL, sizeof BATCH_TAIL - 1);
        ok = lws_write(c->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) >= (int)len;
        free(buf);
    }
    if (ok)
        ws__metrics_frame(ws);
    for (size_t i = 0; i < n; i++) {
        if (ok)
            written(ws, c, ds[i]);
        delivery_unref(ds[i]);
    }
    return ok ? 1 : -1;
}

/* The `disconnected` message before a close the server starts, where the
 * socket can still take it (a slow reader's may not): 1 written, 0 none. */
static int farewell(struct conn *c)
{
    int reconnect = 1; /* come back: after a restart, with a fresh token, resuming */
    switch (c->close_code) {
    case ND_CLOSE_DISCONNECTED: reconnect = c->close_reconnect; break;
    case ND_CLOSE_GOING_AWAY:
    case ND_CLOSE_SLOW_READER:
    case ND_CLOSE_HEARTBEAT:
    case ND_CLOSE_TOKEN_EXPIRED: break;
    default: return 0; /* what the client did wrong (1002, 1008, 1009): the close says it */
    }
    if (lws_send_pipe_choked(c->wsi))
        return 0;
    json_t *data = json_pack("{s:i, s:s, s:b}", "code", (int)c->close_code, "reason",
                             c->close_reason ? c->close_reason : "", "reconnect", reconnect);
    struct delivery *d =
        data ? envelope_encode("disconnected", conn_user(c), data, nd_wall_ms(), 0) : NULL;
    json_decref(data);
    if (!d)
        return 0;
    int ok = lws_write(c->wsi, d->buf + LWS_PRE, d->len, LWS_WRITE_TEXT) >= (int)d->len;
    delivery_unref(d);
    return ok;
}

int ws__conn_writeable(struct ws_server *ws, struct conn *c)
{
    if (c->close_code && (!c->close_flush || !outq_count(&c->q))) {
        if (!c->farewell_done) { /* the close frame follows on the next write */
            c->farewell_done = 1;
            if (farewell(c)) {
                lws_callback_on_writable(c->wsi);
                return 0;
            }
        }
        const char *r = c->close_reason ? c->close_reason : "";
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, (unsigned char *)r,
                         strlen(r));
        return -1;
    }
    int writes = 0;
    if (c->ping_due) {
        /* lws 4.1 reports only PONGs with a payload, so the PING carries one */
        static const char payload[] = "notifyd"; /* sent without its NUL */
        unsigned char ping[LWS_PRE + sizeof payload];
        memcpy(ping + LWS_PRE, payload, sizeof payload);
        c->ping_due = 0;
        if (lws_write(c->wsi, ping + LWS_PRE, sizeof payload - 1, LWS_WRITE_PING) <
            (int)sizeof payload - 1)
            return -1;
        writes++;
    }
    /* several frames per callback while the socket takes them */
    for (; writes < 16 && outq_count(&c->q); writes++) {
        if (writes && lws_send_pipe_choked(c->wsi))
            break;
        int b = c->batch_mode ? write_batch(ws, c) : 0;
        if (b < 0)
            return -1;
        if (b > 0)
            continue;
        if (write_one(ws, c, outq_pop(&c->q)) < 0)
            return -1;
    }
    if (outq_count(&c->q) || c->close_code)
        lws_callback_on_writable(c->wsi);
    return 0;
}

void ws__conn_bad_frame(void *arg)
{
    ws__conn_close(arg, ND_CLOSE_PROTOCOL, "client frames must be masked");
}

/* RFC 6455 §7.4: the codes a peer may send; lws 4.1.6 lets 3000-65535 and a
 * one-byte payload through */
static int close_code_ok(const unsigned char *p, size_t len)
{
    if (len == 0)
        return 1;
    if (len == 1)
        return 0;
    unsigned code = (unsigned)p[0] << 8 | p[1];
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int ws__conn_peer_close(struct ws_server *ws, struct conn *c, void *in, size_t len)
{
    (void)ws;
    if (close_code_ok(in, len)) {
        const unsigned char *p = in;
        c->peer_close = len >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 1005;
        return 0; /* lws echoes it */
    }
    static const char why[] = "invalid close code";
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)why, sizeof why - 1);
    c->close_code = ND_CLOSE_PROTOCOL;
    return -1;
}

void ws__conn_closed(struct ws_server *ws, struct conn *c)
{
    if (c->close_code && c->wsi) /* we closed it: frames still on their way are read, not reset */
        ws__linger(ws, c->wsi);
    if (c->guard_fd) {
        recv_guard_unwatch(c->guard_fd);
        c->guard_fd = 0;
    }
    if (c->link.user) {
        /* the code of the close: ours if we started it, else the client's; 1006 when no
         * close frame came (RFC 6455 §7.1.5) */
        uint16_t code = c->close_code ? c->close_code : c->peer_close ? c->peer_close : 1006;
        int64_t lived_ms = now_ms() - c->opened_ms;
        char peer[64], cid[40];
        ws__presence(ws, c->link.user->id, -1, !c->ack_mode);
        nd_log(ND_LOG_INFO, "websocket closed", "{s:s, s:s, s:s, s:i, s:s, s:I}", "user_id",
               c->link.user->id, "client_id", client_id_of(ws, c, cid, sizeof cid), "peer",
               peer_str(c, peer, sizeof peer), "code", (int)code, "by",
               c->close_code   ? "server"
               : c->peer_close ? "client"
                               : "nobody (connection lost)",
               "duration_ms", (json_int_t)lived_ms);
        uindex_remove(ws->ix, c->link.user->id, ws->shard, !c->ack_mode, c->live);
        c->live = 0;
        registry_remove(ws->reg, &c->link);
        stats_add(&nd_stats.connections_closed, 1);
        ws__metrics_closed(ws, c->close_code);
        ws__metrics_disconnected(ws, code, lived_ms);
    }
    wheel_remove(&ws->wheel, &c->timer);
    outq_clear(&c->q);
    outq_clear(&c->held);
    free(c->close_text);
    c->close_text = NULL;
    c->close_reason = NULL;
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
    c->wsi = NULL;
}
