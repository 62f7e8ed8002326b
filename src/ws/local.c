/* local: what the backend sees of this instance's connections (struct
 * backend_local) -- the fan-out of a message to the connections it is
 * addressed to, and the counts behind stats, online checks and presence.
 * The backend calls it on the hub (thread 0, nd-ws), and main once nd-ws
 * has stopped. The hub queues a message on its own connections at once and
 * sends it to the other threads holding the user's (the user index says
 * which); their live connections count as reached, as the hub's do. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nd.h"
#include "stats.h"
#include "ws/ws_internal.h"

struct fan {
    struct ws_server *ws;
    struct delivery *d;
    struct backend_fanout *out;
};

static int deliver_user(struct reg_user *u, void *arg)
{
    struct fan *it = arg;
    for (struct reg_link *l = u->conns; l; l = l->next) {
        struct conn *c = ND_CONTAINER_OF(l, struct conn, link);
        if (ws__conn_push(it->ws, c, it->d) == 0) {
            it->out->connections++;
            it->out->nonack += !c->ack_mode;
        }
    }
    return 0;
}

/* on @ws's own connections */
static void deliver_here(struct ws_server *ws, struct delivery *d, struct backend_fanout *out)
{
    struct fan it = {ws, d, out};
    if (!d->user_id[0]) {
        registry_each_user(ws->reg, deliver_user, &it);
    } else {
        struct reg_user *u = registry_find(ws->reg, d->user_id);
        if (u)
            deliver_user(u, &it);
    }
}

/* hands @job to thread @k (not the hub), counted in its backlog until it runs */
static void post_to(struct ws_server *ws, unsigned k, struct inbox_job *job)
{
    atomic_fetch_add_explicit(&ws->shards[k]->backlog, 1, memory_order_relaxed);
    inbox_post(ws->shards[k]->inbox, job);
}

/* on the thread @ws: the job posted by post_to() has run */
static void ran(struct ws_server *ws)
{
    atomic_fetch_sub_explicit(&ws->backlog, 1, memory_order_relaxed);
}

struct deliver_job {
    struct inbox_job job;
    struct delivery *d; /* a reference */
};

/* on another thread, in the order the hub sent */
static void deliver_run(struct inbox_job *job, void *ctx)
{
    struct deliver_job *j = ND_CONTAINER_OF(job, struct deliver_job, job);
    struct ws_server *ws = ctx;
    struct backend_fanout out = {0, 0};
    if (ws->ctx)
        deliver_here(ws, j->d, &out);
    stats_add(&nd_stats.deliveries, out.connections);
    delivery_unref(j->d);
    free(j);
    ran(ws);
}

/* queues @d (borrowed) on every connection it is addressed to */
static void deliver(void *ctx, struct delivery *d, struct backend_fanout *out)
{
    struct ws_server *ws = ctx;
    out->connections = out->nonack = 0;
    if (!ws->ctx)
        return; /* stopped: nobody to deliver to */
    deliver_here(ws, d, out);
    stats_add(&nd_stats.deliveries, out->connections);
    if (ws->n_shards < 2)
        return;
    struct uindex_route r;
    if (d->user_id[0])
        uindex_route_user(ws->ix, d->user_id, 0, &r);
    else
        uindex_route_all(ws->ix, 0, &r);
    for (unsigned k = 1; k < ws->n_shards; k++) {
        if (!(r.shards & UINT64_C(1) << k))
            continue;
        struct deliver_job *j = malloc(sizeof *j);
        if (!j) {
            nd_log(ND_LOG_ERROR, "out of memory: a message missed a WebSocket thread", NULL);
            continue;
        }
        j->job.run = deliver_run;
        j->d = delivery_ref(d);
        post_to(ws, k, &j->job);
    }
    out->connections += r.live;
    out->nonack += r.live_nonack;
}

static int connections(void *ctx, const char *user_id)
{
    struct ws_server *ws = ctx;
    if (!user_id)
        return (int)uindex_connections(ws->ix);
    return uindex_user_connections(ws->ix, user_id);
}

static const char **users(void *ctx, size_t *n)
{
    struct ws_server *ws = ctx;
    return uindex_user_ids(ws->ix, n);
}

static void each_user(void *ctx, void (*fn)(void *arg, const char *user_id, int conns, int nonack),
                      void *arg)
{
    struct ws_server *ws = ctx;
    uindex_each(ws->ix, fn, arg);
}

/* DisconnectUser on one thread: every connection of the user, closing already or not */
static void disconnect_here(struct ws_server *ws, const char *user_id, const char *reason,
                            int reconnect)
{
    struct reg_user *u = ws->ctx ? registry_find(ws->reg, user_id) : NULL;
    for (struct reg_link *l = u ? u->conns : NULL; l; l = l->next)
        ws__conn_disconnect(ND_CONTAINER_OF(l, struct conn, link), reason, reconnect);
}

struct disconnect_job {
    struct inbox_job job;
    int reconnect;
    char user_id[ND_USER_ID_MAX + 1];
    char reason[ND_REASON_MAX + 1];
};

static void disconnect_run(struct inbox_job *job, void *ctx)
{
    struct disconnect_job *j = ND_CONTAINER_OF(job, struct disconnect_job, job);
    disconnect_here(ctx, j->user_id, j->reason, j->reconnect);
    free(j);
    ran(ctx);
}

/* DisconnectUser here: every connection of @user_id on every thread */
static int disconnect(void *ctx, const char *user_id, const char *reason, int reconnect)
{
    struct ws_server *ws = ctx;
    if (!ws->ctx)
        return 0;
    int n = uindex_user_connections(ws->ix, user_id);
    disconnect_here(ws, user_id, reason, reconnect);
    struct uindex_route r = {0, 0, 0};
    if (ws->n_shards > 1)
        uindex_route_user(ws->ix, user_id, 0, &r);
    for (unsigned k = 1; k < ws->n_shards; k++) {
        if (!(r.shards & UINT64_C(1) << k))
            continue;
        struct disconnect_job *j = calloc(1, sizeof *j);
        if (!j) {
            nd_log(ND_LOG_ERROR, "out of memory: DisconnectUser missed a WebSocket thread", "{s:s}",
                   "user_id", user_id);
            continue;
        }
        j->job.run = disconnect_run;
        j->reconnect = reconnect;
        snprintf(j->user_id, sizeof j->user_id, "%s", user_id);
        snprintf(j->reason, sizeof j->reason, "%s", reason);
        post_to(ws, k, &j->job);
    }
    return n;
}

/* the longest backlog of a thread other than the hub; any thread */
static int64_t backlog(void *ctx, const char **thread)
{
    struct ws_server *ws = ctx;
    int64_t most = 0;
    for (unsigned k = 1; k < ws->n_shards; k++) {
        int64_t n = atomic_load_explicit(&ws->shards[k]->backlog, memory_order_relaxed);
        if (n > most) {
            most = n;
            *thread = ws__thread_name(k);
        }
    }
    return most;
}

void ws__local(struct ws_server *ws, struct backend_local *out)
{
    out->inbox = ws->inbox;
    out->instance = ws->instance;
    out->ctx = ws;
    out->deliver = deliver;
    out->connections = connections;
    out->users = users;
    out->each_user = each_user;
    out->disconnect = disconnect;
    out->backlog = backlog;
}
