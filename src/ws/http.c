/* http: plain HTTP on the WebSocket port -- /healthz, /readyz, the REST
 * routes (rest.c) and JSON errors for everything else. An answer is written
 * whole the moment it is known (lws 4.1.6 parses a pipelined request as soon
 * as the callback returns unless the exchange is completed, and never calls
 * back a connection whose reading is paused): then the exchange ends, or the
 * connection closes lingering. A REST call answered later (from a job)
 * pauses reading until its answer is written. The connection's WebSocket
 * thread: the hub (nd-ws), or with TLS any of them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "assets.h"
#include "edge/edge.h"
#include "health.h"
#include "log.h"
#include "ws/ws_internal.h"

static const char *const method_names[] = {"GET",    "POST",    "OPTIONS", "PUT",  "PATCH",
                                           "DELETE", "CONNECT", "HEAD",    ":path"};

const char *ws__http_method_name(int method)
{
    return method >= 0 && method < 9 ? method_names[method] : "?";
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* how long a client has to read the rest of an answer held for its body's end */
#define HELD_WRITE_TIMEOUT_S 10

void ws__linger(struct ws_server *ws, struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi);
    int dup_fd = fd >= 0 ? dup(fd) : -1;
    if (dup_fd >= 0)
        ws__edge_linger(ws, dup_fd);
}

/* the exchange is over: ready for the next request, or closing. Inside an
 * lws callback for this connection the callback ends it (ws__http_callback):
 * completing an exchange frees and remakes @c (lws binds the protocol
 * afresh), so nothing may touch it after that */
static void finish(struct ws_server *ws, struct conn *c, int close)
{
    if (c->rx_paused) { /* a REST call answered from a job */
        c->rx_paused = 0;
        if (!close)
            lws_rx_flow_control(c->wsi, 1);
    }
    if (c->in_http_cb) {
        if (close)
            c->http_close = 1;
        else
            c->http_done = 1;
        return;
    }
    if (!close && lws_http_transaction_completed(c->wsi) == 0)
        return;
    ws__linger(ws, c->wsi);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

int ws__http_respond_typed(struct conn *c, int status, const char *type, const void *body,
                           size_t len, const char *hname, const char *hvalue, int close)
{
    static const char csp[] = "default-src 'self'; connect-src 'self' ws: wss:; "
                              "img-src 'self' data:; frame-ancestors 'none'";
    struct ws_server *ws = lws_context_user(lws_get_context(c->wsi));
    /* a success to a request whose body is still coming waits for the end
     * of the body (lws completes an exchange only then); an error, or a body
     * that is not read (chunked), ends the connection lingering. A held
     * answer ends it too (connection: close): when it does not go out in one
     * write and the next request is already buffered, lws 4.1.6 loops in its
     * rx-flow service and the thread never comes back (test_edge: found by
     * test_edge_fuzz). Only a request with a body it does not need is
     * answered so (a GET with a body) */
    int hold = c->body_pending && c->body_length && status < 300 && !close;
    close |= c->body_pending || status >= 300;
    char head[2048], length[48] = "";
    if (status != 204) /* RFC 9110 §8.6: never with a 204 */
        snprintf(length, sizeof length, "content-length: %zu\r\n", len);
    int n =
        snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\n%s%s%s%s%s%s%s%s%s\r\n",
                 status, reason_phrase(status), type, length,
                 c->console_answer ? "content-security-policy: " : "cache-control: no-store",
                 c->console_answer ? csp : "",
                 c->console_answer ? "\r\nx-content-type-options: nosniff\r\n" : "\r\n",
                 hname && hname[0] ? hname : "", hname && hname[0] ? " " : "",
                 hname && hname[0] ? hvalue : "", hname && hname[0] ? "\r\n" : "",
                 c->http_headers && strlen(c->http_headers) < 1024 ? c->http_headers : "");
    c->console_answer = 0;
    free(c->http_headers);
    c->http_headers = NULL;
    if (n < 0 || (size_t)n >= sizeof head - 24)
        return -1;
    if (close)
        n += snprintf(head + n - 2, sizeof head - (size_t)n + 2, "connection: close\r\n\r\n") - 2;
    unsigned char *buf = malloc(LWS_PRE + (size_t)n + len);
    if (!buf)
        return -1;
    memcpy(buf + LWS_PRE, head, (size_t)n);
    memcpy(buf + LWS_PRE + n, body, len);
    if (hold) {
        free(c->held_answer);
        c->held_answer = buf;
        c->held_len = (size_t)n + len;
        return 0;
    }
    if (c->rx_paused && !close) { /* reading resumes before the write: see finish() */
        c->rx_paused = 0;
        lws_rx_flow_control(c->wsi, 1);
    }
    int w = lws_write(c->wsi, buf + LWS_PRE, (size_t)n + len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    finish(ws, c, close || w < 0);
    return 0;
}

int ws__http_respond(struct conn *c, int status, const char *body, const char *hname,
                     const char *hvalue, int close)
{
    return ws__http_respond_typed(c, status, "application/json", body, strlen(body), hname, hvalue,
                                  close);
}

/* the web console's files, compiled in */
static int serve_asset(struct conn *c, const char *path)
{
    if (!strcmp(path, "/"))
        path = "/index.html";
    for (unsigned i = 0; i < nd_n_assets; i++) {
        const struct nd_asset *a = &nd_assets[i];
        if (strcmp(a->path, path))
            continue;
        c->console_answer = 1; /* its security headers */
        return ws__http_respond_typed(c, 200, a->type, a->data, a->len,
                                      "cache-control:", "no-cache", 0);
    }
    return 1;
}

static int serve_metrics(struct ws_server *ws, struct conn *c)
{
    if (ws->shard) /* what it reads is the hub's */
        return ws__rest_metrics_elsewhere(ws, c);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return -1;
    ws__metrics_render(ws, f);
    fclose(f);
    int rc = ws__http_respond_typed(c, 200, ND_METRICS_TYPE, text, len, NULL, NULL, 0);
    free(text);
    return rc;
}

int ws__http_error(struct conn *c, int status, const char *msg, const char *hname,
                   const char *hvalue, int close)
{
    json_t *o = json_pack("{s:i, s:s}", "code", status, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int rc = ws__http_respond(c, status, text ? text : "{}", hname, hvalue, close);
    free(text);
    return rc;
}

static int route(struct ws_server *ws, struct conn *c, struct lws *wsi, const char *path)
{
    char *uri;
    int ulen;
    int method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    char msg[300];

    if (!strncmp(path, "/api/", 5))
        return ws__rest_request(ws, c, method, path);
    if (method == LWSHUMETH_GET && !strcmp(path, "/metrics"))
        return serve_metrics(ws, c);
    if (method == LWSHUMETH_GET) {
        int rc = serve_asset(c, path);
        if (rc <= 0)
            return rc;
    }
    if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz")) {
        if (method != LWSHUMETH_GET) {
            snprintf(msg, sizeof msg, "%s takes GET, not %s", path, ws__http_method_name(method));
            return ws__http_error(c, 405, msg, "allow:", "GET", 1);
        }
        int64_t idle = 0;
        int stalled = health_stalled(1, &idle);
        int ok = stalled < 0 && (!strcmp(path, "/healthz") || health_ready());
        if (stalled >= 0) /* a loop has not turned for the watchdog time */
            snprintf(msg, sizeof msg, "{\"status\":\"stalled\",\"thread\":\"%s\",\"ms\":%lld}",
                     health_thread_name((enum health_thread)stalled), (long long)idle);
        else
            snprintf(msg, sizeof msg, "{\"status\":\"%s\"}",
                     !strcmp(path, "/healthz") ? "ok" : health_status());
        return ws__http_respond(c, ok ? 200 : 503, msg, NULL, NULL, 0);
    }
    if (!strcmp(path, "/ws"))
        return ws__http_error(c, 426, "/ws needs a WebSocket upgrade", "upgrade:", "websocket",
                              method == LWSHUMETH_POST);
    snprintf(msg, sizeof msg, "no route for %s %.200s", ws__http_method_name(method), path);
    return ws__http_error(c, 404, msg, NULL, NULL, method == LWSHUMETH_POST);
}

/* a body is on its way: a Content-Length above 0, or chunks */
static int body_coming(struct lws *wsi)
{
    char cl[24];
    return (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
            atoll(cl) != 0) ||
           lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

/* the body deadline: re-armed by every piece */
static void body_deadline(struct ws_server *ws, struct conn *c)
{
    lws_set_timer_usecs(c->wsi, ws->cfg->http_header_timeout_ms * LWS_US_PER_MS);
}

static int on_request(struct ws_server *ws, struct conn *c, struct lws *wsi, const char *path)
{
    char msg[160];
    int64_t length = body_coming(wsi);
    c->wsi = wsi;
    c->body_pending = length != 0;
    c->body_length = length > 0 ? length : 0;
    int rc = route(ws, c, wsi, path);
    if (rc || !c->body_pending)
        return rc;
    if (c->held_answer && length > ws->cfg->max_body_bytes) { /* not worth reading to the end */
        free(c->held_answer);
        c->held_answer = NULL;
        snprintf(msg, sizeof msg, "request body is %lld bytes, the limit is %lld",
                 (long long)length, (long long)ws->cfg->max_body_bytes);
        return ws__http_error(c, 413, msg, NULL, NULL, 1);
    }
    if (c->http_close)
        return 0;
    body_deadline(ws, c); /* the body is read to its end */
    char expect[24];
    if (ws__rest_reading(c) &&
        lws_hdr_copy(wsi, expect, sizeof expect, WSI_TOKEN_HTTP_EXPECT) > 0 &&
        !strcasecmp(expect, "100-continue")) { /* the client waits for a word before its body */
        unsigned char go[LWS_PRE + 32];
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        memcpy(go + LWS_PRE, cont, sizeof cont - 1);
        lws_write(wsi, go + LWS_PRE, sizeof cont - 1, LWS_WRITE_HTTP_HEADERS);
    }
    return 0;
}

/* the answer held until the body's end goes out now */
static int write_held(struct ws_server *ws, struct conn *c)
{
    unsigned char *buf = c->held_answer;
    c->held_answer = NULL;
    /* it said connection: close (ws__http_respond_typed): nothing after it is read, and the
     * connection closes once lws has written all of it */
    int w = lws_write(c->wsi, buf + LWS_PRE, c->held_len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    if (w >= 0 && lws_partial_buffered(c->wsi)) {
        c->close_when_written = 1;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT, HELD_WRITE_TIMEOUT_S);
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    finish(ws, c, 1);
    return 0;
}

static int on_body_done(struct ws_server *ws, struct conn *c)
{
    c->body_pending = 0;
    lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
    if (c->held_answer)
        return write_held(ws, c);
    if (ws__rest_waiting(c)) { /* a call that did not need the body: its answer comes */
        ws__http_pause(c);
        return 0;
    }
    return ws__rest_body_done(ws, c);
}

int ws__http_callback(struct ws_server *ws, struct conn *c, struct lws *wsi, int reason, void *in,
                      size_t len)
{
    int rc = 0;
    c->in_http_cb = 1;
    switch (reason) {
    case LWS_CALLBACK_HTTP: rc = on_request(ws, c, wsi, in ? (const char *)in : "/"); break;
    case LWS_CALLBACK_HTTP_BODY:
        if (ws__rest_reading(c))
            body_deadline(ws, c);
        rc = ws__rest_body(ws, c, in, len);
        break;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: rc = on_body_done(ws, c); break;
    case LWS_CALLBACK_HTTP_WRITEABLE: /* lws writes what it buffered first */
        if (c->close_when_written && lws_partial_buffered(wsi))
            lws_callback_on_writable(wsi);
        else if (c->close_when_written)
            c->http_close = 1; /* a held answer is all out */
        break;
    case LWS_CALLBACK_TIMER: /* the body stopped coming */
        if (c->body_pending && c->held_answer) {
            free(c->held_answer);
            c->held_answer = NULL;
            rc = ws__http_error(c, 408, "the request body stopped coming", NULL, NULL, 1);
        } else if (c->body_pending && ws__rest_reading(c)) {
            rc = ws__rest_body_timeout(ws, c);
        }
        break;
    default: break;
    }
    int close = c->http_close || rc < 0, done = c->http_done;
    c->in_http_cb = c->http_close = c->http_done = 0;
    if (close) {
        ws__linger(ws, wsi);
        return -1;
    }
    if (done && lws_http_transaction_completed(wsi)) { /* frees c: not touched after */
        ws__linger(ws, wsi);
        return -1;
    }
    return rc;
}

/* a REST call goes on elsewhere: nothing more is read from this connection
 * until its answer is written (ws__http_respond_typed resumes) */
void ws__http_pause(struct conn *c)
{
    c->rx_paused = 1;
    lws_rx_flow_control(c->wsi, 0);
}

void ws__http_release(struct conn *c)
{
    free(c->held_answer);
    c->held_answer = NULL;
    free(c->http_headers);
    c->http_headers = NULL;
    ws__rest_release(c);
}

int ws__http_raw_reply(struct lws *wsi, int status, const char *reason, const char *json_body)
{
    /* lws would write "HTTP/1.0" here, which WebSocket clients reject: write it whole */
    size_t blen = strlen(json_body);
    char *buf = malloc(LWS_PRE + 512 + blen);
    if (!buf)
        return -1;
    char *start = buf + LWS_PRE;
    int n = snprintf(
        start, 512 + blen,
        "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n%s"
        "cache-control: no-store\r\ncontent-length: %zu\r\nconnection: close\r\n\r\n%s",
        status, reason, status == 401 ? "www-authenticate: Bearer\r\n" : "", blen, json_body);
    int w = lws_write(wsi, (unsigned char *)start, (size_t)n, LWS_WRITE_HTTP_HEADERS);
    free(buf);
    return w == n ? 1 : -1;
}
