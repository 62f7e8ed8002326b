/* scaleout: the WebSocket side of the Redis cluster. Messages any instance
 * published arrive here from nd-redis as jobs and go to this instance's
 * connections; presence follows connects and closes (and is rebuilt after a
 * reconnect); a connecting client's missed messages come from Redis in one
 * atomic read, and `connected` waits for it so `recovered` is known. nd-ws,
 * except the hooks and callbacks marked nd-redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "log.h"
#include "nd.h"
#include "notify/ops.h"
#include "stats.h"
#include "ws/server.h"
#include "ws/ws_internal.h"

struct remote_job {
    struct inbox_job job;
    struct delivery *d;
};

static void remote_run(struct inbox_job *job, void *ctx)
{
    struct remote_job *j = ND_CONTAINER_OF(job, struct remote_job, job);
    struct ws_fanout f;
    ws_deliver(ctx, j->d, &f);
    stats_add(&nd_stats.deliveries, f.connections);
    delivery_unref(j->d);
    free(j);
}

/* nd-redis: a message published by some instance (this one included). An
 * operation this version does not know (a newer instance sent it) is skipped,
 * not guessed at; said once. */
void ws_cluster_message(void *arg, struct delivery *d, const char *op)
{
    static atomic_int told;
    struct ws_server *ws = arg;
    d->op = op[0] ? ops_find(op) : NULL;
    if (op[0] && !d->op) {
        if (!atomic_exchange(&told, 1))
            nd_log(ND_LOG_WARN,
                   "redis: skipping messages of an operation this version does not know", "{s:s}",
                   "op", op);
        delivery_unref(d);
        return;
    }
    struct remote_job *j = calloc(1, sizeof *j);
    if (!j) {
        delivery_unref(d);
        return;
    }
    j->d = d;
    j->job.run = remote_run;
    inbox_post(ws->inbox, &j->job);
}

struct presence_count {
    const char **users;
    int *conns, *nonack;
    size_t n;
};

static int count_user(struct reg_user *u, void *arg)
{
    struct presence_count *p = arg;
    int nonack = 0;
    for (struct reg_link *l = u->conns; l; l = l->next)
        nonack += !ND_CONTAINER_OF(l, struct conn, link)->ack_mode;
    p->users[p->n] = u->id;
    p->conns[p->n] = u->n_conns;
    p->nonack[p->n++] = nonack;
    return 0;
}

/* nd-ws: tell Redis who is connected here (after it came back) */
static void resync_run(struct inbox_job *job, void *ctx)
{
    struct ws_server *ws = ctx;
    size_t users = registry_users(ws->reg);
    struct presence_count p = {calloc(users + 1, sizeof(char *)), calloc(users + 1, sizeof(int)),
                               calloc(users + 1, sizeof(int)), 0};
    if (ws->ctx && ws->cluster && p.users && p.conns && p.nonack) {
        registry_each_user(ws->reg, count_user, &p);
        cluster_presence_reset(ws->cluster, p.users, p.conns, p.nonack, p.n);
    }
    free(p.users);
    free(p.conns);
    free(p.nonack);
    free(job);
}

/* nd-redis: Redis reachable again, or lost */
void ws_cluster_state(void *arg, int up)
{
    struct ws_server *ws = arg;
    health_set_dependency(up);
    if (!up)
        return;
    struct inbox_job *job = calloc(1, sizeof *job);
    if (job) {
        job->run = resync_run;
        inbox_post(ws->inbox, job);
    }
}

void ws__presence(struct ws_server *ws, struct conn *c, int delta)
{
    if (ws->cluster && c->link.user)
        cluster_presence(ws->cluster, c->link.user->id, delta, !c->ack_mode);
}

void ws__forget(struct ws_server *ws, const char *user, uint64_t id)
{
    if (ws->cluster)
        cluster_forget(ws->cluster, user, id);
    else if (ws->store)
        store_remove(ws->store, user, id);
}

/* --- replay from Redis --- */

struct cluster_replay {
    struct inbox_job job;
    struct ws_server *ws;
    uint64_t conn_id;
    char user_id[ND_USER_ID_MAX + 1];
    int err;
    struct cluster_resume r;
};

static void cluster_replay_run(struct inbox_job *job, void *ctx)
{
    struct cluster_replay *j = ND_CONTAINER_OF(job, struct cluster_replay, job);
    struct ws_server *ws = ctx;
    struct conn *c = ws->ctx ? ws__find_conn(ws, j->user_id, j->conn_id) : NULL;
    if (c) {
        if (j->err)
            nd_log(ND_LOG_WARN, "could not read missed messages from redis", "{s:s}", "user_id",
                   j->user_id);
        /* `connected`, then the missed messages, then the live ones held meanwhile */
        c->replaying = 0;
        c->live_floor = j->r.clock; /* live copies of what the read saw are stale */
        ws__conn_connected(ws, c, c->resume_asked ? !j->err && j->r.complete : 1);
        ws__replay_push(ws, c, j->r.msgs, j->r.n);
        j->r.n = 0;
        ws__replay_release(ws, c);
    }
    for (size_t i = 0; i < j->r.n; i++)
        delivery_unref(j->r.msgs[i]);
    free(j->r.msgs);
    free(j);
}

/* nd-redis: the answer, handed to nd-ws */
static void resumed(void *arg, int err, struct cluster_resume *r)
{
    struct cluster_replay *j = arg;
    j->err = err;
    if (r)
        j->r = *r;
    j->job.run = cluster_replay_run;
    inbox_post(j->ws->inbox, &j->job);
}

int ws__cluster_replay(struct ws_server *ws, struct conn *c)
{
    if (!ws->cluster || !cluster_up(ws->cluster))
        return -1;
    struct cluster_replay *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->ws = ws;
    j->conn_id = c->id;
    snprintf(j->user_id, sizeof j->user_id, "%s", c->link.user->id);
    c->replaying = 1; /* everything waits for the answer, `connected` included */
    if (cluster_resume(ws->cluster, j->user_id, c->resume_asked, ws->handoff.since, resumed, j) ==
        0)
        return 0;
    c->replaying = 0;
    free(j);
    return -1;
}
