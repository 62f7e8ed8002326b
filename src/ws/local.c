/* local: what the backend sees of this instance's connections (struct
 * backend_local) -- the fan-out of a message to the connections it is
 * addressed to, and the counts behind stats, online checks and presence.
 * nd-ws thread only (and main once nd-ws has stopped). */
#include <stdlib.h>

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

/* queues @d (borrowed) on every connection it is addressed to */
static void deliver(void *ctx, struct delivery *d, struct backend_fanout *out)
{
    struct ws_server *ws = ctx;
    struct fan it = {ws, d, out};
    out->connections = out->nonack = 0;
    if (!ws->ctx)
        return; /* stopped: nobody to deliver to */
    if (!d->user_id[0]) {
        registry_each_user(ws->reg, deliver_user, &it);
    } else {
        struct reg_user *u = registry_find(ws->reg, d->user_id);
        if (u)
            deliver_user(u, &it);
    }
    stats_add(&nd_stats.deliveries, out->connections);
}

static int connections(void *ctx, const char *user_id)
{
    struct ws_server *ws = ctx;
    if (!user_id)
        return (int)registry_connections(ws->reg);
    struct reg_user *u = registry_find(ws->reg, user_id);
    return u ? u->n_conns : 0;
}

static const char **users(void *ctx, size_t *n)
{
    struct ws_server *ws = ctx;
    return registry_user_ids(ws->reg, n);
}

struct each {
    void (*fn)(void *arg, const char *user_id, int conns, int nonack);
    void *arg;
};

static int each_one(struct reg_user *u, void *arg)
{
    struct each *e = arg;
    int nonack = 0;
    for (struct reg_link *l = u->conns; l; l = l->next)
        nonack += !ND_CONTAINER_OF(l, struct conn, link)->ack_mode;
    e->fn(e->arg, u->id, u->n_conns, nonack);
    return 0;
}

static void each_user(void *ctx, void (*fn)(void *arg, const char *user_id, int conns, int nonack),
                      void *arg)
{
    struct ws_server *ws = ctx;
    struct each e = {fn, arg};
    registry_each_user(ws->reg, each_one, &e);
}

/* DisconnectUser here: every connection of @user_id, closing already or not */
static int disconnect(void *ctx, const char *user_id, const char *reason, int reconnect)
{
    struct ws_server *ws = ctx;
    struct reg_user *u = ws->ctx ? registry_find(ws->reg, user_id) : NULL;
    if (!u)
        return 0;
    for (struct reg_link *l = u->conns; l; l = l->next)
        ws__conn_disconnect(ND_CONTAINER_OF(l, struct conn, link), reason, reconnect);
    return u->n_conns;
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
}
