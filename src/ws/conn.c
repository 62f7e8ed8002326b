/* conn: one browser WebSocket -- authentication before the upgrade, the
 * `connected` greeting, client messages (ping, pong, client_ready, ack) and
 * the outbound queue of shared, already-encoded messages. nd-ws thread only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/envelope.h"
#include "log.h"
#include "nd.h"
#include "stats.h"
#include "ws/close_codes.h"
#include "ws/ws_internal.h"

#define QUEUE_MAX 4096 /* messages queued on one connection before it counts as too slow */

/* --- outbound queue: a power-of-two ring of delivery references --- */

static int queue_grow(struct conn *c)
{
    uint32_t cap = c->q_cap ? c->q_cap * 2 : 8;
    struct delivery **q = malloc(cap * sizeof *q);
    if (!q)
        return -ENOMEM;
    for (uint32_t i = 0; i < c->q_len; i++)
        q[i] = c->q[(c->q_head + i) & (c->q_cap - 1)];
    free(c->q);
    c->q = q;
    c->q_head = 0;
    c->q_cap = cap;
    return 0;
}

static struct delivery *queue_pop(struct conn *c)
{
    if (!c->q_len)
        return NULL;
    struct delivery *d = c->q[c->q_head];
    c->q_head = (c->q_head + 1) & (c->q_cap - 1);
    c->q_len--;
    return d;
}

void ws__conn_close(struct conn *c, uint16_t code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    c->close_reason = reason;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

int ws__conn_push(struct conn *c, struct delivery *d)
{
    if (c->close_code)
        return -1;
    if (c->q_len == c->q_cap) {
        if (c->q_len >= QUEUE_MAX || queue_grow(c) < 0) {
            ws__conn_close(c, ND_CLOSE_SLOW_READER, "too slow: outbound queue full");
            return -1;
        }
    }
    c->q[(c->q_head + c->q_len) & (c->q_cap - 1)] = delivery_ref(d);
    c->q_len++;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static const char *conn_user(const struct conn *c)
{
    return c->link.user ? c->link.user->id : "";
}

/* sends a control frame (no message_id) built from a json_pack format */
static void send_control(struct conn *c, const char *type, json_t *data)
{
    struct delivery *d = envelope_encode(type, conn_user(c), data, envelope_now_ms(), 0);
    json_decref(data);
    if (!d) {
        ws__conn_close(c, 1011, "out of memory");
        return;
    }
    ws__conn_push(c, d);
    delivery_unref(d);
}

static void send_error(struct conn *c, const char *code, const char *message)
{
    stats_add(&nd_stats.client_errors, 1);
    send_control(c, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
}

/* --- handshake --- */

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

int ws__conn_confirm_upgrade(struct ws_server *ws, struct lws *wsi)
{
    ws->handoff.wsi = NULL;
    char path[16];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 || strcmp(path, "/ws") != 0)
        return ws__http_raw_reply(wsi, 404, "Not Found",
                                  "{\"code\":404,\"message\":\"the WebSocket endpoint is /ws\"}");
    if (atomic_load(&ws->stopping))
        return ws__http_raw_reply(wsi, 503, "Service Unavailable",
                                  "{\"code\":503,\"message\":\"server is shutting down\"}");

    char *buf = malloc(ND_TOKEN_MAX + 16);
    if (!buf)
        return -1;
    int too_large = 0;
    const char *tok = find_token(wsi, buf, ND_TOKEN_MAX + 16, &too_large);
    struct token_claims claims;
    enum token_result r =
        tok         ? token_verify(ws->keys, tok, time(NULL), ws->cfg->jwt_leeway_s, &claims)
        : too_large ? TOKEN_TOO_LARGE
                    : TOKEN_MISSING;
    free(buf);
    if (r != TOKEN_OK) {
        stats_add(&nd_stats.auth_failures, 1);
        nd_log(ND_LOG_INFO, "websocket refused", "{s:s}", "reason", token_result_str(r));
        json_t *body = json_pack("{s:i, s:s}", "code", 401, "message", token_result_str(r));
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        int rc = ws__http_raw_reply(wsi, 401, "Unauthorized", text ? text : "{}");
        free(text);
        return rc;
    }
    char since[32];
    ws->handoff.wsi = wsi;
    ws->handoff.claims = claims;
    ws->handoff.resume_asked = lws_get_urlarg_by_name(wsi, "since=", since, sizeof since) != NULL;
    return 0;
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
    c->token_exp = ws->handoff.claims.exp;
    c->resume_asked = ws->handoff.resume_asked;
    if (registry_add(ws->reg, ws->handoff.claims.user_id, &c->link) < 0)
        return -1;
    c->id = ++ws->next_conn_id;
    stats_add(&nd_stats.connections_opened, 1);

    char client_id[40];
    snprintf(client_id, sizeof client_id, "%s-%llx", ws->instance, (unsigned long long)c->id);
    nd_log(ND_LOG_DEBUG, "websocket connected", "{s:s, s:s}", "user_id", conn_user(c), "client_id",
           client_id);
    send_control(c, "connected",
                 json_pack("{s:s, s:s, s:b, s:I}", "client_id", client_id, "user_id", conn_user(c),
                           "recovered", !c->resume_asked, "server_time",
                           (json_int_t)envelope_now_ms()));
    if (atomic_load(&ws->stopping))
        ws__conn_close(c, ND_CLOSE_GOING_AWAY, "server shutting down");
    return 0;
}

/* --- client messages --- */

static void handle_message(struct conn *c, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *m = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(m)) {
        char msg[200];
        if (m)
            snprintf(msg, sizeof msg, "a message must be a JSON object");
        else
            snprintf(msg, sizeof msg, "malformed JSON: %s", jerr.text);
        json_decref(m);
        send_error(c, "bad_json", msg);
        return;
    }
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!type) {
        send_error(c, "bad_message", "the message has no string \"type\"");
    } else if (!strcmp(type, "ping")) {
        send_control(c, "pong", json_object());
    } else if (!strcmp(type, "pong") || !strcmp(type, "client_ready")) {
        /* signs of life; nothing to answer */
    } else if (!strcmp(type, "ack")) {
        const char *id =
            json_string_value(json_object_get(json_object_get(m, "data"), "message_id"));
        uint64_t v;
        if (!id || msgid_parse(id, &v) < 0)
            send_error(c, "bad_ack", "ack needs data.message_id, a 16-digit hex message id");
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown message type \"%.64s\"", type);
        send_error(c, "unknown_type", msg);
    }
    json_decref(m);
}

int ws__conn_receive(struct ws_server *ws, struct conn *c, const void *in, size_t len)
{
    size_t max = (size_t)ws->cfg->max_frame_bytes;
    int final = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);

    if (c->close_code)
        return 0;
    if (!c->rx && final && len <= max) { /* the common case: one frame, no copy */
        if (lws_frame_is_binary(c->wsi))
            send_error(c, "binary_unsupported", "send JSON in text frames");
        else
            handle_message(c, in, len);
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
        if (lws_frame_is_binary(c->wsi))
            send_error(c, "binary_unsupported", "send JSON in text frames");
        else
            handle_message(c, c->rx, c->rx_len);
        free(c->rx);
        c->rx = NULL;
        c->rx_len = 0;
    }
    return 0;
}

/* --- writing --- */

int ws__conn_writeable(struct ws_server *ws, struct conn *c)
{
    (void)ws;
    if (c->close_code) {
        const char *r = c->close_reason ? c->close_reason : "";
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, (unsigned char *)r,
                         strlen(r));
        return -1;
    }
    /* several frames per callback while the socket takes them */
    for (int i = 0; i < 16 && c->q_len; i++) {
        if (i && lws_send_pipe_choked(c->wsi))
            break;
        struct delivery *d = queue_pop(c);
        size_t len = d->len;
        int n = lws_write(c->wsi, d->buf + LWS_PRE, len, LWS_WRITE_TEXT);
        delivery_unref(d);
        if (n < (int)len)
            return -1;
    }
    if (c->q_len)
        lws_callback_on_writable(c->wsi);
    return 0;
}

void ws__conn_closed(struct ws_server *ws, struct conn *c)
{
    if (c->link.user) {
        nd_log(ND_LOG_DEBUG, "websocket closed", "{s:s, s:I}", "user_id", c->link.user->id, "conn",
               (json_int_t)c->id);
        registry_remove(ws->reg, &c->link);
        stats_add(&nd_stats.connections_closed, 1);
    }
    struct delivery *d;
    while ((d = queue_pop(c)))
        delivery_unref(d);
    free(c->q);
    c->q = NULL;
    c->q_cap = 0;
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
    c->wsi = NULL;
}
