/* rpc/server: the method table is read from the protobuf-c service
 * descriptor, so every RPC of the proto is served and each maps by name to
 * its operation (ops.h). A request is decoded, turned into JSON (pbjson) and
 * handed to service_call() -- the same call the REST routes make. */
#include "rpc/server.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "notification/v1/notification.pb-c.h"
#include "notify/pbjson.h"

#define REQUESTS_PER_METHOD 4 /* calls each method can have waiting to be matched */
#define HEALTH_CHECK "/grpc.health.v1.Health/Check"

struct method {
    char path[128]; /* "/notification.v1.NotificationService/GetStats" */
    const ProtobufCMessageDescriptor *in;
    const ProtobufCMessageDescriptor *out;
    const struct op_spec *op; /* NULL: the health check */
    void *handle;             /* from grpc_server_register_method */
};

enum call_state { CALL_NEW, CALL_FINISHING };

struct call {
    struct rpc_server *srv;
    struct method *m; /* NULL: an unregistered method */
    enum call_state state;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* unregistered calls only */
    grpc_byte_buffer *payload; /* the request */
    grpc_byte_buffer *reply;   /* kept until the final batch completes */
    grpc_slice status_details;
    int has_details;
    int cancelled;
    grpc_status_code status;
    struct timespec started;
};

struct rpc_server {
    const struct nd_config *cfg;
    const struct token_keys *keys;
    struct service *svc;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t thread;
    int port;
    struct method *methods;
    size_t n_methods;
    atomic_int live_calls; /* accepted calls not yet freed */
    int shutdown_seen;     /* nd-grpc: the shutdown tag came back */
    int cq_shut;           /* nd-grpc: grpc_completion_queue_shutdown called */
    char shutdown_tag;     /* address used as the tag */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopped; /* {lock} nd-grpc has drained its queue */
};

static void call_free(struct call *c)
{
    grpc_metadata_array_destroy(&c->md);
    if (!c->m)
        grpc_call_details_destroy(&c->details);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    if (c->has_details)
        grpc_slice_unref(c->status_details);
    if (c->call) {
        grpc_call_unref(c->call);
        atomic_fetch_sub(&c->srv->live_calls, 1);
    }
    free(c);
}

static int post_request(struct rpc_server *s, struct method *m)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->srv = s;
    c->m = m;
    grpc_metadata_array_init(&c->md);
    grpc_call_error e;
    if (m) {
        e = grpc_server_request_registered_call(s->server, m->handle, &c->call, &c->deadline,
                                                &c->md, &c->payload, s->cq, s->cq, c);
    } else {
        grpc_call_details_init(&c->details);
        e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq, c);
    }
    if (e != GRPC_CALL_OK) {
        c->call = NULL;
        call_free(c);
        return -EIO;
    }
    return 0;
}

static const char *status_name(grpc_status_code code)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    return (unsigned)code < ND_ARRAY_SIZE(names) ? names[code] : "UNKNOWN";
}

/* sends @reply (may be NULL) and the final status; any thread */
static void finish(struct call *c, grpc_status_code code, const char *msg, grpc_byte_buffer *reply)
{
    grpc_op ops[4];
    size_t n = 0;

    memset(ops, 0, sizeof ops);
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (reply) {
        c->reply = reply;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = reply;
    }
    c->status = code;
    c->status_details = grpc_slice_from_copied_string(msg ? msg : "");
    c->has_details = 1;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n++].data.send_status_from_server.status_details =
        msg && msg[0] ? &c->status_details : NULL;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->state = CALL_FINISHING;
    if (code != GRPC_STATUS_OK)
        nd_log(ND_LOG_INFO, "rpc failed", "{s:s, s:s, s:s}", "rpc", c->m ? c->m->path : "?",
               "status", status_name(code), "error", msg ? msg : "");
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);
    if (e != GRPC_CALL_OK) {
        nd_log(ND_LOG_ERROR, "grpc_call_start_batch failed", "{s:i}", "error", (int)e);
        call_free(c);
    }
}

/* the request message, decoded; NULL if absent or malformed */
static ProtobufCMessage *decode(struct call *c, const ProtobufCMessageDescriptor *desc)
{
    grpc_byte_buffer_reader reader;
    if (!c->payload || !grpc_byte_buffer_reader_init(&reader, c->payload))
        return NULL;
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    grpc_byte_buffer_reader_destroy(&reader);
    return msg;
}

static grpc_byte_buffer *encode(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(len);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* service_done_fn: runs on nd-ws */
static void reply_done(void *arg, const struct service_result *r)
{
    struct call *c = arg;
    size_t len = 0;
    if (r->error) {
        finish(c, GRPC_STATUS_UNAVAILABLE, r->error, NULL);
        return;
    }
    json_t *obj = service_result_json(r);
    unsigned char *bytes = obj ? pbjson_pack(c->m->out, obj, &len) : NULL;
    json_decref(obj);
    if (!bytes) {
        finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return;
    }
    grpc_slice s = grpc_slice_new(bytes, len, free);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    finish(c, GRPC_STATUS_OK, NULL, bb);
}

/* --- nd-grpc: one accepted call --- */

static void health_check(struct call *c)
{
    Grpc__Health__V1__HealthCheckRequest *req =
        (Grpc__Health__V1__HealthCheckRequest *)decode(c, c->m->in);
    if (!req) {
        finish(c, GRPC_STATUS_INVALID_ARGUMENT, "request is not a HealthCheckRequest", NULL);
        return;
    }
    enum health_state st = health_get();
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    int known = 1;
    if (!req->service[0])
        resp.status = st == HEALTH_DRAINING
                          ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                          : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    else if (!strcmp(req->service, "notification.v1.NotificationService"))
        resp.status = st == HEALTH_READY
                          ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                          : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    else
        known = 0;
    protobuf_c_message_free_unpacked(&req->base, NULL);
    if (!known)
        finish(c, GRPC_STATUS_NOT_FOUND, "unknown service", NULL);
    else
        finish(c, GRPC_STATUS_OK, NULL, encode(&resp.base));
}

/* checks the caller's token and role; 0 or a status already sent */
static int authorize(struct call *c, struct token_claims *claims)
{
    const char *tok = NULL;
    char buf[ND_TOKEN_MAX + 16];
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_slice *k = &c->md.metadata[i].key, *v = &c->md.metadata[i].value;
        if (GRPC_SLICE_LENGTH(*k) == 13 && !memcmp(GRPC_SLICE_START_PTR(*k), "authorization", 13)) {
            size_t n = GRPC_SLICE_LENGTH(*v);
            if (n >= sizeof buf) {
                finish(c, GRPC_STATUS_UNAUTHENTICATED, token_result_str(TOKEN_TOO_LARGE), NULL);
                return -1;
            }
            memcpy(buf, GRPC_SLICE_START_PTR(*v), n);
            buf[n] = 0;
            tok = token_from_bearer(buf);
            if (!tok) {
                finish(c, GRPC_STATUS_UNAUTHENTICATED,
                       "authorization metadata must be \"Bearer <token>\"", NULL);
                return -1;
            }
        }
    }
    enum token_result r =
        tok ? token_verify(c->srv->keys, tok, time(NULL), c->srv->cfg->jwt_leeway_s, claims)
            : TOKEN_MISSING;
    if (r != TOKEN_OK) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s%s", token_result_str(r),
                 r == TOKEN_MISSING ? ": send metadata authorization: Bearer <token>" : "");
        finish(c, GRPC_STATUS_UNAUTHENTICATED, msg, NULL);
        return -1;
    }
    if (!(claims->roles & (TOKEN_ROLE_ADMIN | TOKEN_ROLE_SERVICE))) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s needs a token with role admin or service", c->m->op->name);
        finish(c, GRPC_STATUS_PERMISSION_DENIED, msg, NULL);
        return -1;
    }
    return 0;
}

static void handle(struct call *c)
{
    char err[256];
    struct token_claims claims;

    if (!c->m) {
        char path[200];
        size_t n = GRPC_SLICE_LENGTH(c->details.method);
        snprintf(path, sizeof path, "unknown method %.*s", (int)(n < 150 ? n : 150),
                 (const char *)GRPC_SLICE_START_PTR(c->details.method));
        finish(c, GRPC_STATUS_UNIMPLEMENTED, path, NULL);
        return;
    }
    if (!c->m->op) {
        health_check(c);
        return;
    }
    if (authorize(c, &claims) < 0)
        return;
    ProtobufCMessage *msg = decode(c, c->m->in);
    if (!msg) {
        snprintf(err, sizeof err, "request is not a valid %s", c->m->in->name);
        finish(c, GRPC_STATUS_INVALID_ARGUMENT, err, NULL);
        return;
    }
    json_t *req = pbjson_from_message(msg);
    protobuf_c_message_free_unpacked(msg, NULL);
    int rc = req ? service_call(c->srv->svc, c->m->op, req, &claims, reply_done, c, err, sizeof err)
                 : -ENOMEM;
    json_decref(req);
    if (rc == -EINVAL)
        finish(c, GRPC_STATUS_INVALID_ARGUMENT, err, NULL);
    else if (rc == -ESHUTDOWN)
        finish(c, GRPC_STATUS_UNAVAILABLE, err, NULL);
    else if (rc == -EAGAIN)
        finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, err, NULL);
    else if (rc < 0)
        finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
}

static void maybe_shutdown_cq(struct rpc_server *s)
{
    if (s->shutdown_seen && !s->cq_shut && atomic_load(&s->live_calls) == 0) {
        s->cq_shut = 1;
        grpc_completion_queue_shutdown(s->cq);
    }
}

static void *run(void *arg)
{
    struct rpc_server *s = arg;
    pthread_setname_np(pthread_self(), "nd-grpc");

    for (;;) {
        gpr_timespec deadline =
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(500, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(s->cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            maybe_shutdown_cq(s);
            continue;
        }
        if (ev.tag == &s->shutdown_tag) {
            s->shutdown_seen = 1;
            maybe_shutdown_cq(s);
            continue;
        }
        struct call *c = ev.tag;
        if (c->state == CALL_FINISHING) {
            call_free(c);
            maybe_shutdown_cq(s);
            continue;
        }
        if (!ev.success) { /* the server is shutting down: no call came */
            c->call = NULL;
            call_free(c);
            continue;
        }
        atomic_fetch_add(&s->live_calls, 1);
        clock_gettime(CLOCK_MONOTONIC, &c->started);
        if (!s->shutdown_seen)
            post_request(s, c->m);
        handle(c);
    }
    pthread_mutex_lock(&s->lock);
    s->stopped = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int build_methods(struct rpc_server *s)
{
    const ProtobufCServiceDescriptor *svc = &notification__v1__notification_service__descriptor;
    s->n_methods = svc->n_methods + 1;
    s->methods = calloc(s->n_methods, sizeof *s->methods);
    if (!s->methods)
        return -ENOMEM;
    for (unsigned i = 0; i < svc->n_methods; i++) {
        struct method *m = &s->methods[i];
        snprintf(m->path, sizeof m->path, "/%s/%s", svc->name, svc->methods[i].name);
        m->in = svc->methods[i].input;
        m->out = svc->methods[i].output;
        m->op = ops_find(svc->methods[i].name);
        if (!m->op) {
            nd_log(ND_LOG_ERROR, "no operation for rpc", "{s:s}", "rpc", m->path);
            return -EINVAL;
        }
    }
    struct method *h = &s->methods[svc->n_methods];
    snprintf(h->path, sizeof h->path, HEALTH_CHECK);
    h->in = &grpc__health__v1__health_check_request__descriptor;
    h->out = &grpc__health__v1__health_check_response__descriptor;
    for (size_t i = 0; i < s->n_methods; i++) {
        s->methods[i].handle = grpc_server_register_method(
            s->server, s->methods[i].path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!s->methods[i].handle)
            return -EINVAL;
    }
    return 0;
}

struct rpc_server *rpc_server_start(const struct nd_config *cfg, const struct token_keys *keys,
                                    struct service *svc, char *err, size_t errlen)
{
    struct rpc_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->keys = keys;
    s->svc = svc;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);

    grpc_arg args[2];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_ALLOW_REUSEPORT; /* a second server on the port must fail */
    args[0].value.integer = 0;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[1].value.integer = (int)cfg->grpc_max_message;
    grpc_channel_args chargs = {ND_ARRAY_SIZE(args), args};

    s->cq = grpc_completion_queue_create_for_next(NULL);
    s->server = grpc_server_create(&chargs, NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    if (build_methods(s) < 0) {
        snprintf(err, errlen, "cannot register the gRPC methods");
        goto fail;
    }

    char addr[ND_ADDR_MAX + 16];
    const struct nd_addr *a = &cfg->grpc;
    if (!a->host[0])
        snprintf(addr, sizeof addr, "[::]:%d", a->port);
    else if (strchr(a->host, ':'))
        snprintf(addr, sizeof addr, "[%s]:%d", a->host, a->port);
    else
        snprintf(addr, sizeof addr, "%s:%d", a->host, a->port);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    s->port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (s->port <= 0) {
        snprintf(err, errlen, "cannot listen on %s for gRPC (address in use or not local)", addr);
        goto fail;
    }
    grpc_server_start(s->server);
    for (size_t i = 0; i < s->n_methods; i++)
        for (int k = 0; k < REQUESTS_PER_METHOD; k++)
            post_request(s, &s->methods[i]);
    post_request(s, NULL); /* unregistered methods -> UNIMPLEMENTED */
    if (pthread_create(&s->thread, NULL, run, s)) {
        snprintf(err, errlen, "cannot start the gRPC thread");
        goto fail;
    }
    return s;

fail: /* shut down and drain on this thread */
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    grpc_server_cancel_all_calls(s->server);
    run(s);
    grpc_server_destroy(s->server);
    grpc_completion_queue_destroy(s->cq);
    free(s->methods);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

int rpc_server_port(const struct rpc_server *s)
{
    return s->port;
}

void rpc_server_stop(struct rpc_server *s, int64_t grace_ms)
{
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += grace_ms / 1000;
    until.tv_nsec += (grace_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stopped) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT) {
            nd_log(ND_LOG_WARN, "grace period over: cancelling in-flight calls", NULL);
            grpc_server_cancel_all_calls(s->server);
            while (!s->stopped)
                pthread_cond_wait(&s->cond, &s->lock);
        }
    }
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
}

void rpc_server_free(struct rpc_server *s)
{
    if (!s)
        return;
    grpc_server_destroy(s->server);
    grpc_completion_queue_destroy(s->cq);
    free(s->methods);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
