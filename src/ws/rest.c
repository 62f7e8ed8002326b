/* rest: the seed's REST API (/api/websocket/...). Each route parses into the
 * same flat JSON request gRPC produces and calls the same service function,
 * so validation, delivery and answer fields are shared; only the framing
 * differs: {"code":0,"message":"...","data":{...}} or an HTTP error status
 * with {"code":<status>,"message":"<what is wrong>"}. Routes need an admin
 * or service token, except /me/...: a browser's own feed with the user's
 * token, from the allowed Origins (CORS). The connection's WebSocket thread
 * (plain HTTP reaches threads other than the hub with TLS): the service
 * answers on the hub, which renders the answer and sends it back. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "notify/jsontext.h"
#include "service/service.h"
#include "stats.h"
#include "ws/ws_internal.h"

#define PREFIX "/api/websocket"

enum route_kind {
    R_BODY,       /* POST: the JSON body is the request */
    R_NONE,       /* GET: no parameters */
    R_PATH_USER,  /* GET: user_id from /user/{user_id}<path> */
    R_QUERY_USER, /* GET: user_id from ?user_id= */
    R_TEMPLATE,   /* GET, PUT (body), DELETE /templates/{id} */
    R_USER_BODY,  /* POST: user_id from /user/{user_id}/<path>, the rest from a body (or none) */
    R_FEED,       /* /feed/{user_id}<path>: GET (query arguments) or POST (a body) */
    R_ME,         /* /me/...: the token's own user, any role; GET or POST as R_FEED; CORS */
};

struct route {
    const char *path; /* after PREFIX; R_PATH_USER, R_USER_BODY: /user/{user_id}<path>;
                         R_FEED: /feed/{user_id}<path> */
    int method;       /* LWSHUMETH_*; R_TEMPLATE: GET, PUT or DELETE */
    enum route_kind kind;
    enum op_id op;  /* OP__COUNT: task/progress, chosen by task_type */
    const char *ok; /* the seed's success message */
};

static const struct route routes[] = {
    {"/notification", LWSHUMETH_POST, R_BODY, OP_SYSTEM_NOTIFICATION, "发送成功"},
    {"/batchgo/open-url", LWSHUMETH_POST, R_BODY, OP_BATCHGO_OPEN_URL, "发送成功"},
    {"/task/progress", LWSHUMETH_POST, R_BODY, OP__COUNT, "发送成功"},
    {"/token/insufficient", LWSHUMETH_POST, R_BODY, OP_TOKEN_INSUFFICIENT, "发送成功"},
    {"/plan/expiring", LWSHUMETH_POST, R_BODY, OP_PLAN_EXPIRING, "发送成功"},
    {"/plan/expired", LWSHUMETH_POST, R_BODY, OP_PLAN_EXPIRED, "发送成功"},
    {"/broadcast", LWSHUMETH_POST, R_BODY, OP_BROADCAST, "广播成功"},
    {"/stats", LWSHUMETH_GET, R_NONE, OP_GET_STATS, "获取成功"},
    {"/online", LWSHUMETH_GET, R_PATH_USER, OP_IS_USER_ONLINE, "检查完成"},
    {"/backlog", LWSHUMETH_GET, R_PATH_USER, OP_GET_BACKLOG, "获取成功"},
    {"/disconnect", LWSHUMETH_POST, R_USER_BODY, OP_DISCONNECT_USER, "断开成功"},
    {"/publish", LWSHUMETH_POST, R_BODY, OP_PUBLISH, "发送成功"},
    {"/test", LWSHUMETH_GET, R_QUERY_USER, OP_TEST_MESSAGE, "测试消息已发送"},
    {"/templates", LWSHUMETH_GET, R_NONE, OP_LIST_TEMPLATES, "获取成功"},
    {"/templates/", LWSHUMETH_GET, R_TEMPLATE, OP_GET_TEMPLATE, "获取成功"},
    {"", LWSHUMETH_GET, R_FEED, OP_LIST_FEED, "获取成功"},
    {"/counts", LWSHUMETH_GET, R_FEED, OP_GET_FEED_COUNTS, "获取成功"},
    {"/mark", LWSHUMETH_POST, R_FEED, OP_MARK_FEED, "标记成功"},
    {"/me/feed", LWSHUMETH_GET, R_ME, OP_LIST_FEED, "获取成功"},
    {"/me/feed/counts", LWSHUMETH_GET, R_ME, OP_GET_FEED_COUNTS, "获取成功"},
    {"/me/feed/mark", LWSHUMETH_POST, R_ME, OP_MARK_FEED, "标记成功"},
};

struct rest_req {
    struct conn *c; /* NULL once the connection has gone */
    const struct route *route;
    struct token_claims caller;
    const struct op_spec *op;           /* NULL: from the route (task/progress: from task_type) */
    const char *ok;                     /* the success message */
    char template_id[72];               /* R_TEMPLATE: the {id} of the path */
    char path_user[ND_USER_ID_MAX + 8]; /* R_USER_BODY: the {user_id} of the path */
    int waiting;                        /* the service holds this request until it answers */
    int responded;                      /* an error was queued: ignore the rest of the body */
    char *body;
    size_t len;
    int method;           /* LWSHUMETH_*, for the log */
    char path[160];       /* as asked (cut), for the log */
    int64_t started_us;   /* monotonic: the head arrived */
    struct ws_server *ws; /* the connection's thread */
    struct inbox_job hop; /* the hub -> that thread, with the answer */
    int hop_status;       /* ... its status: 200 (text), 503 (text: the error), 500 */
    char *hop_text;       /* ... (owned) */
    const char *hop_type; /* ... NULL: the REST envelope; else /metrics' content type */
};

/* <head>{user_id}<tail> (head "/user/" or "/feed/"): the id's length, or 0 */
static size_t user_path_in(const char *rest, const char *head, const char *tail)
{
    size_t n = strlen(rest), h = strlen(head), t = strlen(tail);
    if (strncmp(rest, head, h) || n <= h + t || strcmp(rest + n - t, tail) ||
        memchr(rest + h, '/', n - h - t))
        return 0;
    return n - h - t;
}

static size_t user_path(const char *rest, const char *tail)
{
    return user_path_in(rest, "/user/", tail);
}

static const struct route *find_route(const char *path, int *path_ok)
{
    const char *rest = path + strlen(PREFIX);
    *path_ok = 0;
    if (strncmp(path, PREFIX "/", strlen(PREFIX) + 1))
        return NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if (r->kind == R_FEED) {
            if (user_path_in(rest, "/feed/", r->path)) {
                *path_ok = 1;
                return r;
            }
        } else if (r->kind == R_PATH_USER || r->kind == R_USER_BODY) {
            if (user_path(rest, r->path)) {
                *path_ok = 1;
                return r;
            }
        } else if (r->kind == R_TEMPLATE) {
            if (!strncmp(rest, "/templates/", 11) && rest[11] && !strchr(rest + 11, '/')) {
                *path_ok = 1;
                return r;
            }
        } else if (!strcmp(rest, r->path)) {
            *path_ok = 1;
            return r;
        }
    }
    return NULL;
}

static void req_free(struct rest_req *q)
{
    if (!q)
        return;
    free(q->body);
    free(q->hop_text);
    free(q);
}

/* queues an error answer with one optional header; a POST whose body was
 * not read closes the connection */
/* answers by route and status, for /metrics (every WebSocket thread answers some) */
#define N_ROUTES (sizeof routes / sizeof routes[0])
static const int statuses[] = {200, 204, 400, 401, 403, 404, 405, 408, 411, 413, 429, 500, 503};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])
static _Atomic uint64_t answers[N_ROUTES + 1][N_STATUSES]; /* last row: no route */
static struct histogram durations[N_ROUTES + 1];           /* histogram_latency */

/* the route's label in /metrics: its path, with {user_id} and {id} for the parts that vary */
static void route_label(size_t i, char *out, size_t len)
{
    if (i == N_ROUTES)
        snprintf(out, len, "other");
    else if (routes[i].kind == R_TEMPLATE)
        snprintf(out, len, PREFIX "/templates/{id}");
    else if (routes[i].kind == R_PATH_USER || routes[i].kind == R_USER_BODY)
        snprintf(out, len, PREFIX "/user/{user_id}%s", routes[i].path);
    else if (routes[i].kind == R_FEED)
        snprintf(out, len, PREFIX "/feed/{user_id}%s", routes[i].path);
    else
        snprintf(out, len, PREFIX "%s", routes[i].path);
}

/* counts and times the answer to @q (NULL: no call was made), and logs it as
 * gRPC calls are: a failure at info with its reason, a success at debug */
static void count(const struct rest_req *q, int status, const char *msg)
{
    const struct route *r = q ? q->route : NULL;
    size_t row = r ? (size_t)(r - routes) : N_ROUTES;
    for (size_t k = 0; k < N_STATUSES; k++)
        if (statuses[k] == status)
            answers[row][k]++;
    if (!q)
        return;
    int64_t us = nd_mono_us() - q->started_us;
    histogram_observe(&durations[row], &histogram_latency, us);
    enum nd_log_level level = status >= 400 ? ND_LOG_INFO : ND_LOG_DEBUG;
    if (!nd_log_enabled(level))
        return;
    if (status >= 400)
        nd_log(level, "rest", "{s:s, s:s, s:i, s:s, s:s, s:f}", "method",
               ws__http_method_name(q->method), "path", q->path, "status", status, "error",
               msg ? msg : "", "caller", q->caller.user_id, "duration_ms", (double)us / 1000.0);
    else
        nd_log(level, "rest", "{s:s, s:s, s:i, s:s, s:f}", "method",
               ws__http_method_name(q->method), "path", q->path, "status", status, "caller",
               q->caller.user_id, "duration_ms", (double)us / 1000.0);
}

void ws__rest_metrics(FILE *f)
{
    fprintf(f, "# HELP notifyd_rest_requests_total REST calls answered, by route and status.\n"
               "# TYPE notifyd_rest_requests_total counter\n");
    for (size_t i = 0; i <= N_ROUTES; i++) {
        char label[96];
        route_label(i, label, sizeof label);
        for (size_t k = 0; k < N_STATUSES; k++)
            if (answers[i][k] || (i < N_ROUTES && statuses[k] == 200))
                fprintf(f, "notifyd_rest_requests_total{route=\"%s\",status=\"%d\"} %llu\n", label,
                        statuses[k], (unsigned long long)answers[i][k]);
    }
    fprintf(f, "# HELP notifyd_rest_request_duration_seconds From a REST call's head to its "
               "answer, by route.\n"
               "# TYPE notifyd_rest_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= N_ROUTES; i++) {
        char label[96], labels[128];
        route_label(i, label, sizeof label);
        snprintf(labels, sizeof labels, "route=\"%s\"", label);
        histogram_render(f, "notifyd_rest_request_duration_seconds", labels, &histogram_latency,
                         &durations[i]);
    }
}

static int fail_with(struct conn *c, int status, const char *msg, const char *hname,
                     const char *hvalue, int unread_body)
{
    if (c->rest)
        c->rest->responded = 1;
    count(c->rest, status, msg);
    return ws__http_error(c, status, msg, hname, hvalue, unread_body);
}

static int fail(struct conn *c, int status, const char *msg, int unread_body)
{
    return fail_with(c, status, msg, status == 401 ? "www-authenticate:" : NULL,
                     status == 401 ? "Bearer" : NULL, unread_body);
}

/* the connection's thread: the answer @q carries (or its connection is gone) */
static void answer(struct rest_req *q)
{
    struct conn *c = q->c;
    if (c) {
        c->rest = NULL; /* the answer may close the connection: c is not used after */
        if (q->hop_type && q->hop_text) {
            ws__http_respond_typed(c, 200, q->hop_type, q->hop_text, strlen(q->hop_text), NULL,
                                   NULL, 0);
        } else if (q->hop_status == 503) {
            count(q, 503, q->hop_text);
            ws__http_error(c, 503, q->hop_text, NULL, NULL, 0);
        } else if (q->hop_text) {
            count(q, 200, NULL);
            ws__http_respond(c, 200, q->hop_text, NULL, NULL, 0);
        } else {
            ws__http_error(c, 500, "out of memory", NULL, NULL, 1);
        }
    }
    req_free(q);
}

static void answer_run(struct inbox_job *job, void *ctx)
{
    (void)ctx;
    answer(ND_CONTAINER_OF(job, struct rest_req, hop));
}

/* the hub: @q's answer is ready; it goes out on the connection's thread */
static void answer_from_hub(struct rest_req *q)
{
    if (!q->ws->shard) {
        answer(q);
        return;
    }
    q->hop.run = answer_run;
    inbox_post(q->ws->inbox, &q->hop);
}

/* service_done_fn: on the hub, after the operation ran; the answer rendered here */
static void answered(void *arg, const struct service_result *res)
{
    struct rest_req *q = arg;
    if (res->error) {
        q->hop_status = 503;
        q->hop_text = strdup(res->error);
    } else {
        json_t *env = json_pack("{s:i, s:s, s:o}", "code", 0, "message", q->ok, "data",
                                service_result_json(res));
        q->hop_status = 200;
        q->hop_text = env ? json_dumps(env, JSON_COMPACT) : NULL;
        json_decref(env);
    }
    answer_from_hub(q);
}

/* the hub renders /metrics for a connection of another thread */
static void metrics_run(struct inbox_job *job, void *ctx)
{
    struct rest_req *q = ND_CONTAINER_OF(job, struct rest_req, hop);
    size_t len = 0;
    FILE *f = open_memstream(&q->hop_text, &len);
    if (f) {
        ws__metrics_render(ctx, f);
        fclose(f);
    }
    answer_from_hub(q);
}

int ws__rest_metrics_elsewhere(struct ws_server *ws, struct conn *c)
{
    ws__rest_release(c);
    struct rest_req *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    q->c = c;
    q->ws = ws;
    q->waiting = 1; /* the hub holds it until it answers */
    q->hop_type = ND_METRICS_TYPE;
    q->started_us = nd_mono_us();
    c->rest = q;
    ws__http_pause(c);
    q->hop.run = metrics_run;
    inbox_post(ws->hub->inbox, &q->hop);
    return 0;
}

/* hands the request to the service; the answer comes back in answered() */
static int call(struct ws_server *ws, struct conn *c, const struct op_spec *op, json_t *req)
{
    char err[256];
    struct rest_req *q = c->rest;
    int rc =
        service_call(atomic_load(&ws->hub->svc), op, req, &q->caller, answered, q, err, sizeof err);
    json_decref(req);
    if (rc == 0) {
        q->waiting = 1;
        if (!c->body_pending) /* else once the body is read (and dropped) */
            ws__http_pause(c);
        return 0;
    }
    return fail(c,
                rc == -EINVAL      ? 400
                : rc == -EPERM     ? 403
                : rc == -ENOENT    ? 404
                : rc == -EAGAIN    ? 429
                : rc == -EBUSY     ? 503
                : rc == -ESHUTDOWN ? 503
                                   : 500,
                err, 0);
}

/* task/progress: the op comes from task_type */
static const struct op_spec *progress_op(const json_t *req, char *err, size_t errlen)
{
    const char *t = json_string_value(json_object_get(req, "task_type"));
    if (!t) {
        snprintf(err, errlen, "task_type is required: batchgo, siterank or chengelink");
        return NULL;
    }
    if (!strcmp(t, "batchgo"))
        return ops_get(OP_BATCHGO_PROGRESS);
    if (!strcmp(t, "siterank"))
        return ops_get(OP_SITERANK_PROGRESS);
    if (!strcmp(t, "chengelink"))
        return ops_get(OP_CHENGELINK_PROGRESS);
    snprintf(err, errlen, "task_type \"%.64s\" is not one of batchgo, siterank, chengelink", t);
    return NULL;
}

/* the token of the request into @claims: 0, or the answer already queued (401, 403; an
 * admin or service role unless @any_role) */
static int authorize(struct ws_server *ws, struct conn *c, struct token_claims *claims,
                     int any_role)
{
    char *buf = malloc(ND_TOKEN_MAX + 16);
    if (!buf)
        return -1;
    int n = lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    enum token_result r = TOKEN_MISSING;
    if (n >= ND_TOKEN_MAX + 16) {
        r = TOKEN_TOO_LARGE;
    } else if (n > 0 &&
               lws_hdr_copy(c->wsi, buf, ND_TOKEN_MAX + 16, WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
        const char *tok = token_from_bearer(buf);
        r = tok ? token_verify(token_keyring_get(ws->keys), tok, time(NULL), ws->cfg->jwt_leeway_s,
                               claims)
                : TOKEN_MALFORMED;
    }
    free(buf);
    if (r != TOKEN_OK) {
        char msg[200];
        stats_add(&nd_stats.auth_failures, 1);
        snprintf(msg, sizeof msg,
                 "%s: send Authorization: Bearer <token with role admin or service>",
                 token_result_str(r));
        fail(c, 401, msg, 1);
        return 401;
    }
    if (!any_role && !(claims->roles & (TOKEN_ROLE_ADMIN | TOKEN_ROLE_SERVICE))) {
        stats_add(&nd_stats.auth_failures, 1);
        fail(c, 403, "this route needs a token with role admin or service", 1);
        return 403;
    }
    return 0;
}

/* /me: a browser page from an allowed Origin gets CORS headers on every
 * answer (errors too, so it can read them), and its preflight (OPTIONS) is
 * answered here; another Origin is refused. 1 to go on, else the callback's
 * return (answered) */
static int cors(struct ws_server *ws, struct conn *c, int method, int body_pending)
{
    char origin[256];
    int n = lws_hdr_total_length(c->wsi, WSI_TOKEN_ORIGIN);
    if (!ws__origin_allowed(ws, c->wsi))
        return fail(c, 403, "this Origin may not call the API (NOTIFYD_ALLOWED_ORIGINS)",
                    body_pending);
    if (n > 0 && n < (int)sizeof origin &&
        lws_hdr_copy(c->wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0) {
        char *h = NULL;
        if (asprintf(&h, "access-control-allow-origin: %s\r\nvary: Origin\r\n%s", origin,
                     method == LWSHUMETH_OPTIONS
                         ? "access-control-allow-methods: GET, POST\r\n"
                           "access-control-allow-headers: authorization, content-type\r\n"
                           "access-control-max-age: 600\r\n"
                         : "") < 0)
            return -1;
        free(c->http_headers);
        c->http_headers = h;
    }
    if (method != LWSHUMETH_OPTIONS)
        return 1;
    count(c->rest, 204, NULL);
    return ws__http_respond_typed(c, 204, "application/json", "", 0, NULL, NULL, body_pending);
}

/* ListFeed's query: ?before=&limit=&filter= */
static void feed_query(struct ws_server *ws, struct conn *c, json_t *req)
{
    static const char *const args[] = {"before=", "limit=", "filter="};
    char v[64];
    for (size_t i = 0; i < ND_ARRAY_SIZE(args); i++) {
        if (!ws__urlarg(ws, c->wsi, args[i], v, sizeof v)) {
            if (lws_get_urlarg_by_name(c->wsi, args[i], ws->scratch, sizeof ws->scratch))
                snprintf(v, sizeof v, "?"); /* too long: invalid, and said so */
            else
                continue;
        }
        char name[16];
        snprintf(name, sizeof name, "%.*s", (int)strlen(args[i]) - 1, args[i]);
        int digits = v[0] && strspn(v, "0123456789") == strlen(v) && strlen(v) < 10;
        json_object_set_new(req, name, i == 1 && digits ? json_integer(atoll(v)) : json_string(v));
    }
}

int ws__rest_request(struct ws_server *ws, struct conn *c, int method, const char *path)
{
    char msg[300];
    int path_ok;
    const struct route *r = find_route(path, &path_ok);
    int body_pending = method == LWSHUMETH_POST || method == LWSHUMETH_PUT;

    ws__rest_release(c);
    c->rest = calloc(1, sizeof *c->rest);
    if (!c->rest)
        return -1;
    c->rest->c = c;
    c->rest->ws = ws;
    c->rest->route = r;
    c->rest->method = method;
    c->rest->started_us = nd_mono_us();
    snprintf(c->rest->path, sizeof c->rest->path, "%s", path);
    if (!r) {
        snprintf(msg, sizeof msg, "no route for %s %.200s", ws__http_method_name(method), path);
        return fail(c, 404, msg, body_pending);
    }
    c->rest->ok = r->ok;
    if (r->kind == R_ME) {
        int rc = cors(ws, c, method, body_pending);
        if (rc <= 0)
            return rc;
    }
    if (r->kind == R_FEED) {
        const char *id = path + strlen(PREFIX) + 6;
        size_t n = user_path_in(path + strlen(PREFIX), "/feed/", r->path);
        snprintf(c->rest->path_user, sizeof c->rest->path_user, "%.*s",
                 (int)(n < sizeof c->rest->path_user ? n : sizeof c->rest->path_user - 1), id);
    }
    if (r->kind == R_USER_BODY) {
        const char *id = path + strlen(PREFIX) + 6;
        size_t n = user_path(path + strlen(PREFIX), r->path);
        snprintf(c->rest->path_user, sizeof c->rest->path_user, "%.*s",
                 (int)(n < sizeof c->rest->path_user ? n : sizeof c->rest->path_user - 1), id);
    }
    if (r->kind == R_TEMPLATE) {
        const char *id = path + strlen(PREFIX) + 11;
        snprintf(c->rest->template_id, sizeof c->rest->template_id, "%s", id);
        if (method == LWSHUMETH_PUT) {
            c->rest->op = ops_get(OP_PUT_TEMPLATE);
            c->rest->ok = "保存成功";
        } else if (method == LWSHUMETH_DELETE) {
            c->rest->op = ops_get(OP_DELETE_TEMPLATE);
            c->rest->ok = "删除成功";
        } else if (method != LWSHUMETH_GET) {
            snprintf(msg, sizeof msg, "%s takes GET, PUT or DELETE, not %s", path,
                     ws__http_method_name(method));
            return fail_with(c, 405, msg, "allow:", "GET, PUT, DELETE", body_pending);
        }
    } else if (r->method != method) {
        snprintf(msg, sizeof msg, "%s takes %s, not %s", path, ws__http_method_name(r->method),
                 ws__http_method_name(method));
        return fail_with(c, 405, msg, "allow:", ws__http_method_name(r->method), body_pending);
    }
    if (health_get() != HEALTH_READY)
        return fail(c, 503,
                    health_get() == HEALTH_DRAINING ? "server is shutting down"
                                                    : "server is starting",
                    body_pending);

    int rc = authorize(ws, c, &c->rest->caller, r->kind == R_ME);
    if (rc)
        return rc < 0 ? -1 : 0;
    if (r->kind == R_ME) /* the token's user, whatever its role */
        snprintf(c->rest->path_user, sizeof c->rest->path_user, "%s", c->rest->caller.user_id);

    if (r->kind == R_BODY || r->kind == R_USER_BODY || method == LWSHUMETH_PUT ||
        ((r->kind == R_FEED || r->kind == R_ME) && method == LWSHUMETH_POST)) {
        char cl[24];
        long long declared = -1;
        if (lws_hdr_copy(c->wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
            declared = atoll(cl);
        if (declared > ws->cfg->max_body_bytes) {
            snprintf(msg, sizeof msg, "request body is %lld bytes, the limit is %lld", declared,
                     (long long)ws->cfg->max_body_bytes);
            return fail(c, 413, msg, 1);
        }
        if (declared < 0 && lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
            return fail(c, 411, "send the body with a Content-Length (chunked is not supported)",
                        1);
        if (declared <= 0) /* no body is coming: answer now (400, it must be an object) */
            return ws__rest_body_done(ws, c);
        return 0; /* the body arrives in ws__rest_body() */
    }

    json_t *req = json_object();
    if (!req)
        return -1;
    if (r->kind == R_PATH_USER) {
        const char *id = path + strlen(PREFIX) + 6;
        json_object_set_new(req, "user_id", json_stringn(id, strlen(id) - strlen(r->path)));
    } else if (r->kind == R_QUERY_USER) {
        char buf[ND_USER_ID_MAX + 16];
        const char *id = ws__urlarg(ws, c->wsi, "user_id=", buf, sizeof buf);
        if (id)
            json_object_set_new(req, "user_id", json_string(id));
    } else if (r->kind == R_TEMPLATE) {
        json_object_set_new(req, "id", json_string(c->rest->template_id));
    } else if (r->kind == R_FEED || r->kind == R_ME) {
        json_object_set_new(req, "user_id", json_string(c->rest->path_user));
        if (r->op == OP_LIST_FEED)
            feed_query(ws, c, req);
    }
    return call(ws, c, c->rest->op ? c->rest->op : ops_get(r->op), req);
}

/* lws 4.1.6 hands a pipelined request -- one it read ahead of the previous
 * answer -- its own head again as the start of its body */
static int misread_head(const char *in, size_t len)
{
    size_t i = 0;
    while (i < len && i < 8 && in[i] >= 'A' && in[i] <= 'Z')
        i++;
    return i > 0 && i + 1 < len && in[i] == ' ' && in[i + 1] == '/';
}

int ws__rest_body(struct ws_server *ws, struct conn *c, const void *in, size_t len)
{
    struct rest_req *q = c->rest;
    if (!q || q->responded || q->waiting) /* no body wanted: dropped */
        return 0;
    if (q->len == 0 && misread_head(in, len)) {
        /* its body cannot be told from its head: it is answered 503 and the
         * connection closes (connection: close), so the client knows to send
         * it again on a new one (RFC 9112 §9.3.2) -- the answer before it went
         * out while this one was still unread, without a close */
        return fail_with(c, 503,
                         "a pipelined request after one with a body cannot be read here: send it "
                         "again on a new connection",
                         "retry-after:", "0", 1);
    }
    if (q->len + len > (size_t)ws->cfg->max_body_bytes) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body is over the limit of %lld bytes",
                 (long long)ws->cfg->max_body_bytes);
        return fail(c, 413, msg, 1);
    }
    char *b = realloc(q->body, q->len + len + 1);
    if (!b)
        return -1;
    memcpy(b + q->len, in, len);
    q->body = b;
    q->len += len;
    return 0;
}

/* Publish's data goes on as the caller wrote it: the member's text replaces
 * the parsed value (the validator parses it again and checks it is an
 * object). 0, or -ENOMEM */
static int publish_data_as_written(const struct rest_req *q, json_t *req)
{
    size_t off, n;
    json_t *v = json_object_get(req, "data");
    if (!v || json_is_null(v) || jsontext_member(q->body, q->len, "data", &off, &n) != 1)
        return 0;
    json_t *text = json_stringn(q->body + off, n);
    return text ? json_object_set_new(req, "data", text) : -ENOMEM;
}

int ws__rest_body_done(struct ws_server *ws, struct conn *c)
{
    struct rest_req *q = c->rest;
    char msg[300];
    if (!q || q->responded || q->waiting)
        return 0;
    json_error_t jerr;
    json_t *req = q->len == 0 && q->route->kind == R_USER_BODY /* the body is optional */
                      ? json_object()
                      : json_loadb(q->body ? q->body : "", q->len, 0, &jerr);
    if (!req && q->route->op == OP_PUBLISH) /* integers past 64 bits are JSON: data may hold them */
        req = json_loadb(q->body ? q->body : "", q->len, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!json_is_object(req)) {
        if (q->len == 0)
            snprintf(msg, sizeof msg, "the request body is empty: send a JSON object");
        else if (req)
            snprintf(msg, sizeof msg, "the request body must be a JSON object");
        else
            snprintf(msg, sizeof msg, "malformed JSON body: %s (line %d)", jerr.text, jerr.line);
        json_decref(req);
        return fail(c, 400, msg, 0);
    }
    const struct op_spec *op = q->op                       ? q->op
                               : q->route->op == OP__COUNT ? progress_op(req, msg, sizeof msg)
                                                           : ops_get(q->route->op);
    if (!op) {
        json_decref(req);
        return fail(c, 400, msg, 0);
    }
    if (op->id == OP_SYSTEM_NOTIFICATION && json_object_get(req, "user_ids"))
        op = ops_get(OP_NOTIFY_USERS); /* one notification to a list of users */
    if (q->route->kind == R_USER_BODY || q->route->kind == R_FEED ||
        q->route->kind == R_ME) { /* the user is the path's (/me: the token's) */
        const char *id = json_string_value(json_object_get(req, "user_id"));
        if (json_object_get(req, "user_id") && (!id || strcmp(id, q->path_user))) {
            snprintf(msg, sizeof msg, "user_id in the body differs from the path's \"%.136s\"",
                     q->path_user);
            json_decref(req);
            return fail(c, 400, msg, 0);
        }
        json_object_set_new(req, "user_id", json_string(q->path_user));
    }
    if (op->id == OP_PUBLISH && publish_data_as_written(q, req) < 0) {
        json_decref(req);
        return fail(c, 500, "out of memory", 0);
    }
    if (op->id == OP_PUT_TEMPLATE) { /* the id is the path's */
        const char *id = json_string_value(json_object_get(req, "id"));
        if (json_object_get(req, "id") && (!id || strcmp(id, q->template_id))) {
            snprintf(msg, sizeof msg, "id in the body differs from the path's \"%.72s\"",
                     q->template_id);
            json_decref(req);
            return fail(c, 400, msg, 0);
        }
        json_object_set_new(req, "id", json_string(q->template_id));
    }
    return call(ws, c, op, req);
}

int ws__rest_waiting(const struct conn *c)
{
    return c->rest && c->rest->waiting;
}

int ws__rest_reading(const struct conn *c)
{
    const struct rest_req *q = c->rest;
    return q && !q->responded && !q->waiting;
}

int ws__rest_body_timeout(struct ws_server *ws, struct conn *c)
{
    char msg[200];
    char cl[24] = "";
    lws_hdr_copy(c->wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    snprintf(msg, sizeof msg, "the request body stopped after %zu of %s bytes for %lld ms",
             c->rest ? c->rest->len : 0, cl[0] ? cl : "?",
             (long long)ws->cfg->http_header_timeout_ms);
    return fail(c, 408, msg, 1);
}

void ws__rest_release(struct conn *c)
{
    struct rest_req *q = c->rest;
    if (!q)
        return;
    c->rest = NULL;
    if (q->waiting)
        q->c = NULL; /* the service still holds it: answered() frees it */
    else
        req_free(q);
}
