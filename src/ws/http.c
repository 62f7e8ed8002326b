/* http: the plain HTTP routes on the WebSocket port (/healthz, /readyz) and
 * the JSON error answers for everything else. Each answer is JSON with a
 * content-length; headers go out at once, the body on the next writeable
 * callback. nd-ws thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "health.h"
#include "log.h"
#include "ws/ws_internal.h"

struct http_state {
    size_t len;
    unsigned char buf[]; /* LWS_PRE, then the body */
};

static const char *const method_names[] = {"GET",    "POST",    "OPTIONS", "PUT",  "PATCH",
                                           "DELETE", "CONNECT", "HEAD",    ":path"};

/* answers with @body (JSON text); @hname/@hvalue: one extra header or NULL */
static int respond(struct conn *c, struct lws *wsi, int status, const char *body, const char *hname,
                   const char *hvalue)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof hdr - 1;
    size_t len = strlen(body);

    free(c->http);
    c->http = malloc(sizeof *c->http + LWS_PRE + len);
    if (!c->http)
        return -1;
    c->http->len = len;
    memcpy(c->http->buf + LWS_PRE, body, len);

    if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    if (hname &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)hname,
                                    (const unsigned char *)hvalue, (int)strlen(hvalue), &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* {"code": status, "message": msg} */
static int respond_error(struct conn *c, struct lws *wsi, int status, const char *msg,
                         const char *hname, const char *hvalue)
{
    json_t *o = json_pack("{s:i, s:s}", "code", status, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int rc = respond(c, wsi, status, text ? text : "{}", hname, hvalue);
    free(text);
    return rc;
}

int ws__http_request(struct ws_server *ws, struct conn *c, struct lws *wsi, const char *path)
{
    char *uri;
    int ulen;
    int method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    const char *mname = method >= 0 && method < 9 ? method_names[method] : "?";
    char msg[300];
    (void)ws;

    if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz")) {
        if (method != LWSHUMETH_GET) {
            snprintf(msg, sizeof msg, "%s takes GET, not %s", path, mname);
            return respond_error(c, wsi, 405, msg, "allow:", "GET");
        }
        enum health_state st = health_get();
        int ok = !strcmp(path, "/healthz") || st == HEALTH_READY;
        snprintf(msg, sizeof msg, "{\"status\":\"%s\"}",
                 !strcmp(path, "/healthz") ? "ok" : health_state_str(st));
        return respond(c, wsi, ok ? 200 : 503, msg, NULL, NULL);
    }
    if (!strcmp(path, "/ws"))
        return respond_error(c, wsi, 426, "/ws needs a WebSocket upgrade", "upgrade:", "websocket");
    snprintf(msg, sizeof msg, "no route for %s %.200s", mname, path);
    return respond_error(c, wsi, 404, msg, NULL, NULL);
}

int ws__http_writeable(struct ws_server *ws, struct conn *c, struct lws *wsi)
{
    (void)ws;
    if (!c->http)
        return 0;
    struct http_state *h = c->http;
    c->http = NULL;
    int n = lws_write(wsi, h->buf + LWS_PRE, h->len, LWS_WRITE_HTTP_FINAL);
    size_t len = h->len;
    free(h);
    if (n < (int)len)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void ws__http_release(struct conn *c)
{
    free(c->http);
    c->http = NULL;
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
