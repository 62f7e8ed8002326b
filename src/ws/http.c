/* http: plain HTTP on the WebSocket port -- /healthz, /readyz, the REST
 * routes (rest.c) and JSON errors for everything else. Every answer is
 * stored on the connection and written on its next writeable callback, so
 * an answer that arrives later (from a job) takes the same path.
 * nd-ws thread only. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "health.h"
#include "log.h"
#include "ws/ws_internal.h"

struct http_state {
    int status;
    int close;        /* close the connection once written */
    const char *type; /* content type (static string) */
    int console;      /* a console page: add its security headers */
    char hname[32];   /* one extra header ("allow:"), or "" */
    char hvalue[64];
    size_t len;
    unsigned char buf[]; /* LWS_PRE, then the body */
};

static const char *const method_names[] = {"GET",    "POST",    "OPTIONS", "PUT",  "PATCH",
                                           "DELETE", "CONNECT", "HEAD",    ":path"};

const char *ws__http_method_name(int method)
{
    return method >= 0 && method < 9 ? method_names[method] : "?";
}

int ws__http_respond_typed(struct conn *c, int status, const char *type, const void *body,
                           size_t len, const char *hname, const char *hvalue, int close)
{
    struct http_state *h = malloc(sizeof *h + LWS_PRE + len);
    if (!h)
        return -1;
    h->status = status;
    h->close = close;
    h->type = type;
    h->console = 0;
    snprintf(h->hname, sizeof h->hname, "%s", hname ? hname : "");
    snprintf(h->hvalue, sizeof h->hvalue, "%s", hvalue ? hvalue : "");
    h->len = len;
    memcpy(h->buf + LWS_PRE, body, len);
    free(c->http);
    c->http = h;
    lws_callback_on_writable(c->wsi);
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
        if (ws__http_respond_typed(c, 200, a->type, a->data, a->len, "cache-control:", "no-cache",
                                   0) < 0)
            return -1;
        c->http->console = 1;
        return 0;
    }
    return 1;
}

static int serve_metrics(struct ws_server *ws, struct conn *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return -1;
    ws__metrics_render(ws, f);
    fclose(f);
    int rc = ws__http_respond_typed(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len,
                                    NULL, NULL, 0);
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

int ws__http_request(struct ws_server *ws, struct conn *c, struct lws *wsi, const char *path)
{
    char *uri;
    int ulen;
    int method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    char msg[300];

    c->wsi = wsi;
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
        int ok = !strcmp(path, "/healthz") || health_ready();
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

int ws__http_writeable(struct ws_server *ws, struct conn *c, struct lws *wsi)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof hdr - 1;
    (void)ws;
    struct http_state *h = c->http;
    if (!h)
        return 0;
    c->http = NULL;
    int rc = -1;
    static const char csp[] = "default-src 'self'; connect-src 'self' ws: wss:; "
                              "img-src 'self' data:; frame-ancestors 'none'";
    if (lws_add_http_common_headers(wsi, (unsigned)h->status, h->type, h->len, &p, end) ||
        (h->console &&
         (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                      (const unsigned char *)csp, (int)strlen(csp), &p, end) ||
          lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                      (const unsigned char *)"nosniff", 7, &p, end))) ||
        (!h->console &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                     (const unsigned char *)"no-store", 8, &p, end)) ||
        (h->hname[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)h->hname,
                                                    (const unsigned char *)h->hvalue,
                                                    (int)strlen(h->hvalue), &p, end)) ||
        (h->close && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                 (const unsigned char *)"close", 5, &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        goto done;
    if (lws_write(wsi, h->buf + LWS_PRE, h->len, LWS_WRITE_HTTP_FINAL) < (int)h->len)
        goto done;
    rc = h->close ? -1 : (lws_http_transaction_completed(wsi) ? -1 : 0);
done:
    free(h);
    return rc;
}

void ws__http_release(struct conn *c)
{
    free(c->http);
    c->http = NULL;
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
