/* replay: what a connecting client missed, queued before any live message.
 * The backend knows what that is (messages kept for the user, the history
 * after ?since=) and answers on the hub (nd-ws), maybe at once, maybe after reading
 * its store; meanwhile live messages wait in the connection's `held`
 * queue. Then: `connected` (saying whether the recovery was complete), the
 * missed messages, the held ones. The connection's thread; the backend is
 * asked on the hub, which sends the answer back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "nd.h"
#include "stats.h"
#include "ws/ws_internal.h"

struct replay {
    struct backend_resume r;
    struct ws_server *ws;
    uint64_t conn_id;     /* the connection may have gone when the answer comes */
    struct inbox_job hop; /* another thread's: to the hub and back */
};

/* queues @n messages (taking over their refs) at the end of @c's queue, unbounded */
static void push(struct conn *c, struct delivery **ds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* a replay may be longer than the live bound: the backend limits it */
        if (!c->close_code && outq_push(&c->q, ds[i], UINT32_MAX, SIZE_MAX, NULL) == OUTQ_OK)
            stats_add(&nd_stats.replayed, 1);
        delivery_unref(ds[i]);
    }
}

/* ends replaying: the live messages held meanwhile follow */
static void release(struct ws_server *ws, struct conn *c)
{
    struct delivery *d;
    c->replaying = 0;
    while ((d = outq_pop(&c->held))) {
        ws__conn_push(ws, c, d);
        delivery_unref(d);
    }
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

/* the connection's thread: the backend's answer */
static void answer(struct replay *j)
{
    struct ws_server *ws = j->ws;
    struct backend_req *req = &j->r.req;
    struct conn *c = ws->ctx ? ws__conn_find(ws, j->r.user_id, j->conn_id) : NULL;
    if (c && atomic_load(&req->err) == -ENOMEM) {
        ws__conn_close(c, 1011, "out of memory");
    } else if (c) {
        c->replaying = 0; /* `connected` goes first, not behind the held messages */
        c->live_floor = j->r.floor;
        ws__conn_connected(ws, c, c->resume_asked ? j->r.complete : 1);
        push(c, j->r.msgs, j->r.n);
        j->r.n = 0;
        release(ws, c);
    }
    for (size_t i = 0; i < j->r.n; i++)
        delivery_unref(j->r.msgs[i]);
    free(j->r.msgs);
    free(j);
}

static void answer_run(struct inbox_job *job, void *ctx)
{
    (void)ctx;
    answer(ND_CONTAINER_OF(job, struct replay, hop));
}

/* the hub: the backend's answer, for the connection's thread */
static void resumed(struct backend_req *req)
{
    struct replay *j = ND_CONTAINER_OF(req, struct replay, r.req);
    if (!j->ws->shard) {
        answer(j);
        return;
    }
    j->hop.run = answer_run;
    inbox_post(j->ws->inbox, &j->hop);
}

/* the hub: a connection of another thread asks */
static void ask_run(struct inbox_job *job, void *ctx)
{
    struct replay *j = ND_CONTAINER_OF(job, struct replay, hop);
    struct ws_server *hub = ctx;
    if (backend_resume(hub->backend, &j->r) < 0) {
        atomic_store(&j->r.req.err, -ENOMEM);
        j->hop.run = answer_run;
        inbox_post(j->ws->inbox, &j->hop);
    }
}

int ws__replay_start(struct ws_server *ws, struct conn *c)
{
    struct replay *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->ws = ws;
    j->conn_id = c->id;
    snprintf(j->r.user_id, sizeof j->r.user_id, "%s", c->link.user->id);
    j->r.has_since = ws->handoff.resume_asked;
    j->r.since = ws->handoff.since;
    j->r.req.done = resumed;
    c->replaying = 1; /* everything waits for the answer, `connected` included */
    if (ws->shard) {
        j->hop.run = ask_run;
        inbox_post(ws->hub->inbox, &j->hop);
        return 0;
    }
    if (backend_resume(ws->backend, &j->r) == 0)
        return 0;
    c->replaying = 0;
    free(j);
    return -1;
}
