/* rpc/health: grpc.health.v1.Health. Check answers at once; Watch sends the
 * status now and again whenever it changes (nd-grpc looks at least every
 * 200 ms), until the client goes or the server stops -- then it sends
 * NOT_SERVING and ends the stream. Service "" is the process (SERVING until
 * draining); "notification.v1.NotificationService" is readiness. nd-grpc. */
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "grpc/health/v1/health.pb-c.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "rpc/rpc_internal.h"

#define SERVICE_NAME "notification.v1.NotificationService"

enum {
    ST_SERVING = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING,
    ST_NOT_SERVING = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING,
    ST_UNKNOWN = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN,
};

/* the status of @service now, or -1 when there is no such service */
static int status_of(const struct rpc_server *s, const char *service)
{
    enum health_state st = health_get();
    if (atomic_load(&s->stopping) && st != HEALTH_DRAINING)
        st = HEALTH_DRAINING;
    if (!service[0]) /* liveness: not draining, and the WebSocket loop turns */
        return st == HEALTH_DRAINING || health_stalled(1, NULL) >= 0 ? ST_NOT_SERVING : ST_SERVING;
    if (!strcmp(service, SERVICE_NAME))
        return st == HEALTH_READY && health_ready() && health_stalled(1, NULL) < 0 ? ST_SERVING
                                                                                   : ST_NOT_SERVING;
    return -1;
}

static grpc_byte_buffer *status_message(int status)
{
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
    return rpc__encode(&resp.base);
}

void rpc__health_check(struct call *c)
{
    Grpc__Health__V1__HealthCheckRequest *req =
        (Grpc__Health__V1__HealthCheckRequest *)rpc__decode(c, c->m->in);
    if (!req) {
        rpc__finish(c, GRPC_STATUS_INVALID_ARGUMENT, "request is not a HealthCheckRequest", NULL);
        return;
    }
    int st = status_of(c->srv, req->service);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    if (st < 0)
        rpc__finish(c, GRPC_STATUS_NOT_FOUND, "unknown service", NULL);
    else
        rpc__finish(c, GRPC_STATUS_OK, NULL, status_message(st));
}

/* --- Watch --- */

static void send_update(struct call *c, int status, int first)
{
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (first)
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    c->reply = status_message(status);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->reply;
    c->last_sent = status;
    c->sending = 1;
    c->tag.kind = TAG_WATCH_SENT;
    grpc_call *call = c->call;
    ND_HANDOFF_SEND(c);
    if (grpc_call_start_batch(call, ops, n, &c->tag, NULL) != GRPC_CALL_OK) {
        c->sending = 0;
        grpc_byte_buffer_destroy(c->reply);
        c->reply = NULL;
    }
}

/* the last operation of a stream: NOT_SERVING was sent, now the status */
static void send_final(struct call *c)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = GRPC_STATUS_OK;
    c->finishing = 2;
    c->sending = 1;
    c->tag.kind = TAG_WATCH_SENT;
    grpc_call *call = c->call;
    ND_HANDOFF_SEND(c);
    if (grpc_call_start_batch(call, &op, 1, &c->tag, NULL) != GRPC_CALL_OK)
        c->sending = 0;
}

void rpc__health_watch(struct call *c)
{
    Grpc__Health__V1__HealthCheckRequest *req =
        (Grpc__Health__V1__HealthCheckRequest *)rpc__decode(c, c->m->in);
    if (!req) {
        rpc__finish(c, GRPC_STATUS_INVALID_ARGUMENT, "request is not a HealthCheckRequest", NULL);
        return;
    }
    c->service = strdup(req->service);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    if (!c->service) {
        rpc__finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return;
    }
    /* learn when the client goes */
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    grpc_call *call = c->call;
    ND_HANDOFF_SEND(c);
    if (grpc_call_start_batch(call, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) {
        rpc__finish(c, GRPC_STATUS_INTERNAL, "cannot watch", NULL);
        return;
    }
    DL_APPEND(c->srv->watchers, c);
    int st = status_of(c->srv, c->service);
    send_update(c, st < 0 ? ST_UNKNOWN : st, 1);
}

static void maybe_free(struct call *c)
{
    if (c->closed && !c->sending)
        rpc__call_free(c);
}

void rpc__watch_event(struct rpc_tag *t, int success)
{
    struct call *c = t->c;
    if (t->kind == TAG_WATCH_CLOSED) {
        c->closed = 1;
        DL_DELETE(c->srv->watchers, c);
        c->prev = c->next = NULL;
    } else {
        c->sending = 0;
        if (c->reply) {
            grpc_byte_buffer_destroy(c->reply);
            c->reply = NULL;
        }
        if (!success) /* the client is gone: RECV_CLOSE will complete too */
            c->finishing = 2;
        else if (c->finishing == 1)
            send_final(c); /* NOT_SERVING went out: end the stream */
    }
    maybe_free(c);
}

void rpc__watch_tick(struct rpc_server *s)
{
    /* stopping, or the server is being replaced: a watcher comes back */
    int stopping = atomic_load(&s->stopping) || s->relisten != RELISTEN_NO;
    struct call *c, *tmp;
    DL_FOREACH_SAFE (s->watchers, c, tmp) {
        if (c->sending || c->finishing)
            continue;
        int st = status_of(s, c->service);
        if (st < 0)
            st = ST_UNKNOWN;
        if (stopping) { /* tell the watcher, then end the stream */
            c->finishing = 1;
            if (c->last_sent != ST_NOT_SERVING && st != ST_UNKNOWN)
                send_update(c, ST_NOT_SERVING, 0);
            else
                send_final(c);
        } else if (st != c->last_sent) {
            send_update(c, st, 0);
        }
    }
}
