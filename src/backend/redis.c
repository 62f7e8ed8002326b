/* redis: the engine of a cluster, over the Redis client of cluster/. Every
 * instance publishes through one atomic script (id, history, offline copy,
 * channel) and delivers what the channel brings to its own connections;
 * presence follows connects and closes (and is rebuilt after a reconnect);
 * stats, online checks, templates and a connecting client's missed messages
 * are read from Redis, and so are the feeds (a mark's feed_update goes to
 * every instance through the channel). While Redis is unreachable the local path serves
 * (local.c, without history or store): delivery here only, nothing kept.
 * Calls from any thread; the cluster's callbacks run on nd-redis and come
 * back to the local thread through its inbox. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"
#include "cluster/cluster.h"
#include "delivery/close_codes.h"
#include "delivery/envelope.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "notify/ops.h"
#include "notify/templates.h"

struct redis_engine {
    struct backend base;
    struct cluster *c;
};

#define ENGINE(b) ND_CONTAINER_OF(b, struct redis_engine, base)
#define UNAVAILABLE "redis became unavailable during the call"

/* --- what the channel and the connection bring (nd-redis) --- */

struct remote_job {
    struct inbox_job job;
    struct backend *b;
    struct delivery *d;
};

static void remote_run(struct inbox_job *job, void *ctx)
{
    struct remote_job *j = ND_CONTAINER_OF(job, struct remote_job, job);
    struct backend_fanout f;
    (void)ctx;
    j->b->local.deliver(j->b->local.ctx, j->d, &f);
    delivery_unref(j->d);
    free(j);
}

/* local thread: DisconnectUser told by some instance (this one too); its
 * payload is the `disconnected` message {data: {code, reason, reconnect}} */
static void disconnect_run(struct inbox_job *job, void *ctx)
{
    struct remote_job *j = ND_CONTAINER_OF(job, struct remote_job, job);
    json_t *m = json_loadb(delivery_json(j->d), j->d->len, 0, NULL);
    json_t *data = json_object_get(m, "data");
    const char *reason = json_string_value(json_object_get(data, "reason"));
    (void)ctx;
    if (j->d->user_id[0]) /* never everyone */
        j->b->local.disconnect(j->b->local.ctx, j->d->user_id,
                               reason ? reason : "disconnected by the server",
                               json_is_true(json_object_get(data, "reconnect")));
    json_decref(m);
    delivery_unref(j->d);
    free(j);
}

/* a message some instance (this one too) published. An operation this
 * version does not know (a newer instance sent it) is skipped, not guessed
 * at; said once. */
static void on_message(void *arg, struct delivery *d, const char *op)
{
    static atomic_int told;
    struct backend *b = arg;
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
    j->b = b;
    j->d = d;
    j->job.run = d->op && (d->op->flags & OP_CLOSES) ? disconnect_run : remote_run;
    inbox_post(b->local.inbox, &j->job);
}

struct presence_count {
    const char **users;
    int *conns, *nonack;
    size_t n, cap;
};

static void count_user(void *arg, const char *user_id, int conns, int nonack)
{
    struct presence_count *p = arg;
    if (p->n == p->cap)
        return;
    p->users[p->n] = user_id;
    p->conns[p->n] = conns;
    p->nonack[p->n++] = nonack;
}

struct resync_job {
    struct inbox_job job;
    struct redis_engine *e;
};

/* local thread: tell Redis who is connected here (after it came back) */
static void resync_run(struct inbox_job *job, void *ctx)
{
    struct resync_job *j = ND_CONTAINER_OF(job, struct resync_job, job);
    const struct backend_local *l = &j->e->base.local;
    size_t max = (size_t)l->connections(l->ctx, NULL) + 1; /* users <= connections */
    struct presence_count p = {calloc(max, sizeof(char *)), calloc(max, sizeof(int)),
                               calloc(max, sizeof(int)), 0, max};
    (void)ctx;
    if (p.users && p.conns && p.nonack) {
        l->each_user(l->ctx, count_user, &p);
        cluster_presence_reset(j->e->c, p.users, p.conns, p.nonack, p.n);
    }
    free(p.users);
    free(p.conns);
    free(p.nonack);
    free(j);
}

static void on_state(void *arg, int up)
{
    struct redis_engine *e = ENGINE((struct backend *)arg);
    health_set_dependency(up);
    if (!up)
        return;
    struct resync_job *j = calloc(1, sizeof *j);
    if (j) {
        j->e = e;
        j->job.run = resync_run;
        inbox_post(e->base.local.inbox, &j->job);
    }
}

static void on_template(void *arg, uint64_t v, const char *id, const char *json, size_t len)
{
    struct backend *b = arg;
    templates_apply(b->templates, v, id, json, len);
}

static void on_templates(void *arg, uint64_t v, const char *const *ids, const char *const *jsons,
                         const size_t *lens, size_t n)
{
    struct backend *b = arg;
    if (templates_replace(b->templates, v, ids, jsons, lens, n) < 0)
        nd_log(ND_LOG_ERROR, "out of memory loading the templates from redis", NULL);
}

/* --- publishing --- */

/* nd-redis: one copy is in Redis (its id, whether it was kept, the user's connections) */
static void published(void *arg, int err, const struct cluster_published *pp)
{
    struct backend_copy *c = arg;
    struct backend_publish *p = c->_pub;
    if (err) {
        backend__fail(&p->req, -EAGAIN,
                      UNAVAILABLE ": the message may not have been delivered; retry");
    } else {
        c->id = pp->id;
        c->connections = pp->connections;
        c->stored = pp->stored;
        c->in_feed = p->feed; /* the script keeps it in the feed when asked */
    }
    backend__part_done(p, 0);
}

static void r_publish(struct backend *b, struct backend_publish *p)
{
    struct cluster *cl = ENGINE(b)->c;
    if (!cluster_up(cl)) { /* this instance alone until Redis is back */
        backend__local_publish(b, p);
        return;
    }
    /* once a copy is submitted, its callback may run (and the last one answer,
     * freeing @p) at any time: the guard count holds @p until every copy is */
    atomic_store(&p->_pending, (int)p->n + 1);
    for (size_t i = 0; i < p->n; i++) {
        struct backend_copy *c = &p->copies[i];
        struct delivery *d = c->d;
        c->d = NULL;
        if (cluster_publish(cl, d, d->op ? d->op->name : NULL, p->important, p->ttl_ms, p->feed,
                            published, c) < 0) {
            if (p->n == 1) { /* not submitted: deliver it here */
                c->d = d;
                backend__local_publish(b, p);
                return;
            }
            backend__fail(&p->req, -EAGAIN, UNAVAILABLE ": not every copy could be placed");
            backend__part_done(p, 0);
        }
        delivery_unref(d); /* Redis has its bytes; the copy comes back on the channel */
    }
    backend__part_done(p, 0);
}

/* --- the feed: in Redis; a mark's feed_update reaches every instance on the channel --- */

/* nd-redis: the feed_update is on the channel (or could not be put there) */
static void feed_told(void *arg, int err, int connections)
{
    struct backend_feed *f = arg;
    (void)connections;
    if (err) /* the change stands; tabs learn it on their next read */
        nd_log(ND_LOG_WARN, "redis: a feed_update could not be sent to the user's tabs", "{s:s}",
               "user_id", f->user_id);
    backend__answer(&f->req, 0);
}

/* nd-redis: tells every instance's tabs of f->user_id what the mark changed */
static int tell_feed_update(struct backend *b, struct backend_feed *f)
{
    struct delivery *d = backend__feed_update_envelope(f);
    int rc = d ? cluster_tell(ENGINE(b)->c, f->user_id, ops_get(OP_MARK_FEED)->name,
                              delivery_json(d), d->len, feed_told, f)
               : -ENOMEM;
    delivery_unref(d);
    return rc;
}

/* nd-redis */
static void feed_done(void *arg, int err, struct cluster_feed *r)
{
    struct backend_feed *f = arg;
    if (err) {
        backend__fail(&f->req, -EAGAIN, "the feed could not be %s: %s; retry",
                      f->ids || f->all ? "changed" : "read",
                      err == -EIO ? "redis refused the command" : "redis became unavailable");
        backend__answer(&f->req, 0);
        return;
    }
    f->items = r->items; /* ours now */
    f->n_items = r->n_items;
    f->next_before = r->next_before;
    f->counts = r->counts;
    f->updated = r->updated;
    if (f->updated > 0 && tell_feed_update(f->req.backend, f) == 0)
        return; /* answered once the update is on the channel */
    backend__answer(&f->req, 0);
}

static int feed_call(struct backend *b, struct backend_feed *f, char what)
{
    struct cluster_feed_req q = {what,   f->user_id, f->before, f->limit, f->filter,
                                 f->ids, f->n_ids,   f->all,    f->action};
    int rc = cluster_up(ENGINE(b)->c) ? cluster_feed(ENGINE(b)->c, &q, feed_done, f) : -ENOTCONN;
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0) {
        backend__fail(&f->req, -EAGAIN,
                      "redis is unreachable: the feeds are kept there; retry when it is back");
        backend__answer(&f->req, 0);
    }
    return 0;
}

static int r_feed_list(struct backend *b, struct backend_feed *f)
{
    return feed_call(b, f, 'l');
}

static int r_feed_counts(struct backend *b, struct backend_feed *f)
{
    return feed_call(b, f, 'c');
}

static int r_feed_mark(struct backend *b, struct backend_feed *f)
{
    return feed_call(b, f, 'm');
}

/* --- DisconnectUser: told to every instance through the channel --- */

/* nd-redis: every instance will close the user's connections; this many were there */
static void told(void *arg, int err, int connections)
{
    struct backend_disconnect *d = arg;
    if (err) { /* it may not have reached the channel: this instance closes its own */
        backend__fail(&d->req, -EAGAIN,
                      UNAVAILABLE ": the connections may not all be closed; retry");
        backend__local_disconnect(d->req.backend, d);
        return;
    }
    d->closed = connections;
    backend__answer(&d->req, 0);
}

static int r_disconnect(struct backend *b, struct backend_disconnect *d)
{
    struct cluster *cl = ENGINE(b)->c;
    json_t *data = json_pack("{s:i, s:s, s:b}", "code", ND_CLOSE_DISCONNECTED, "reason", d->reason,
                             "reconnect", d->reconnect);
    struct delivery *m =
        data ? envelope_encode("disconnected", d->user_id, data, nd_wall_ms(), 0) : NULL;
    json_decref(data);
    if (!m)
        return -ENOMEM;
    int rc = cluster_up(cl) ? cluster_tell(cl, d->user_id, ops_get(OP_DISCONNECT_USER)->name,
                                           delivery_json(m), m->len, told, d)
                            : -ENOTCONN;
    delivery_unref(m);
    if (rc < 0) { /* this instance alone until Redis is back */
        backend__fail(&d->req, -EAGAIN,
                      "redis is unreachable: only this instance's connections were closed; retry");
        backend__local_disconnect(b, d);
    }
    return 0;
}

/* --- stats and online: cluster-wide --- */

static void query_run(struct inbox_job *job, void *ctx)
{
    (void)ctx;
    backend__query_answer(ND_CONTAINER_OF(job, struct backend_query, req.job));
}

static void query_back(struct backend_query *q, int err)
{
    if (err)
        backend__fail(&q->req, err, UNAVAILABLE "; retry");
    q->req.job.run = query_run;
    inbox_post(q->req.backend->local.inbox, &q->req.job);
}

/* nd-redis: the users as one block (the array, then the ids), freed after done */
static void stats_done(void *arg, int err, const struct cluster_stats *s)
{
    struct backend_query *q = arg;
    size_t bytes = 0;
    for (size_t i = 0; !err && i < s->n_users; i++)
        bytes += strlen(s->users[i]) + 1;
    char **block = err ? NULL : malloc((s->n_users + 1) * sizeof(char *) + bytes);
    if (block) {
        char *w = (char *)(block + s->n_users + 1);
        for (size_t i = 0; i < s->n_users; i++) {
            size_t len = strlen(s->users[i]) + 1;
            block[i] = memcpy(w, s->users[i], len);
            w += len;
        }
        q->users = (const char **)block;
        q->n_users = s->n_users;
        q->connections = (int)s->total_connections;
    }
    query_back(q, err ? err : block ? 0 : -ENOMEM);
}

static void online_done(void *arg, int err, int connections)
{
    struct backend_query *q = arg;
    q->connections = connections;
    query_back(q, err);
}

static int r_stats(struct backend *b, struct backend_query *q)
{
    if (!cluster_up(ENGINE(b)->c) || cluster_stats(ENGINE(b)->c, stats_done, q) < 0)
        backend__local_stats(b, q);
    return 0;
}

static int r_online(struct backend *b, struct backend_query *q)
{
    if (!cluster_up(ENGINE(b)->c) || cluster_online(ENGINE(b)->c, q->user_id, online_done, q) < 0)
        backend__local_online(b, q);
    return 0;
}

/* --- a user's backlog: their offline stream --- */

static void backlog_done(void *arg, int err, const struct cluster_backlog *n)
{
    struct backend_backlog *q = arg;
    if (err)
        backend__fail(&q->req, -EAGAIN, UNAVAILABLE "; retry");
    else {
        q->messages = n->count;
        q->oldest = n->oldest;
        q->newest = n->newest;
    }
    backend__answer(&q->req, 0);
}

static int r_backlog(struct backend *b, struct backend_backlog *q)
{
    if (!cluster_up(ENGINE(b)->c) ||
        cluster_backlog(ENGINE(b)->c, q->user_id, backlog_done, q) < 0) {
        /* kept in Redis only: nothing here to count */
        backend__fail(&q->req, -EAGAIN, "redis is unreachable: the kept messages are there; retry");
        backend__answer(&q->req, 0);
    }
    return 0;
}

/* --- templates: in Redis first; every instance applies the change in order --- */

static void template_done(void *arg, int err, uint64_t version)
{
    struct backend_template *t = arg;
    if (err)
        backend__fail(&t->req, err, "the template could not be %s: %s",
                      t->json ? "stored" : "deleted",
                      err == -EIO ? "redis refused the command" : "redis became unavailable");
    else
        templates_apply(t->req.backend->templates, version, t->id, t->json,
                        t->json ? strlen(t->json) : 0);
    backend__answer(&t->req, 0);
}

static int r_template_put(struct backend *b, struct backend_template *t)
{
    int rc = cluster_template(ENGINE(b)->c, t->id, t->json, template_done, t);
    return rc == -ENOTCONN ? -ENOTCONN : rc < 0 ? -ENOMEM : 0;
}

/* --- resume: one atomic read of the offline stream and the history --- */

static void resumed(void *arg, int err, struct cluster_resume *cr)
{
    struct backend_resume *r = arg;
    if (err) {
        nd_log(ND_LOG_WARN, "could not read missed messages from redis", "{s:s}", "user_id",
               r->user_id);
        r->complete = 0;
    } else {
        r->msgs = cr->msgs;
        r->n = cr->n;
        r->complete = cr->complete;
        r->floor = cr->clock; /* live copies of what the read saw are stale */
    }
    backend__answer(&r->req, 0);
}

static int r_resume(struct backend *b, struct backend_resume *r)
{
    struct cluster *c = ENGINE(b)->c;
    if (cluster_up(c) && cluster_resume(c, r->user_id, r->has_since, r->since, resumed, r) == 0)
        return 0;
    r->complete = !r->has_since; /* Redis is out of reach: what was missed is unknown */
    backend__answer(&r->req, 1);
    return 0;
}

/* --- the rest --- */

static void r_forget(struct backend *b, const char *user_id, uint64_t id)
{
    cluster_forget(ENGINE(b)->c, user_id, id);
}

static void r_presence(struct backend *b, const char *user_id, int delta, int nonack)
{
    cluster_presence(ENGINE(b)->c, user_id, delta, nonack);
}

static void r_tick(struct backend *b, int64_t now_ms)
{
    (void)b, (void)now_ms; /* Redis trims its own history */
}

static void r_metrics(struct backend *b, FILE *f)
{
    fprintf(f, "# HELP notifyd_history_messages Messages remembered for resume.\n"
               "# TYPE notifyd_history_messages gauge\nnotifyd_history_messages 0\n");
    cluster_metrics(ENGINE(b)->c, f);
}

static int r_start(struct backend *b, char *err, size_t errlen)
{
    health_set_dependency(0); /* not ready until Redis answers */
    if (cluster_connect(ENGINE(b)->c, b->local.instance) < 0) {
        snprintf(err, errlen, "cannot start the redis thread");
        return -EAGAIN;
    }
    return 0;
}

static void r_stop(struct backend *b)
{
    cluster_stop(ENGINE(b)->c); /* leaves the cluster; its last answers go to the local inbox */
}

static void r_free(struct backend *b)
{
    cluster_free(ENGINE(b)->c);
    free(ENGINE(b));
}

static const struct backend_ops redis_ops = {
    .name = "redis",
    .start = r_start,
    .stop = r_stop,
    .free = r_free,
    .publish = r_publish,
    .stats = r_stats,
    .online = r_online,
    .backlog = r_backlog,
    .template_put = r_template_put,
    .disconnect = r_disconnect,
    .feed_list = r_feed_list,
    .feed_counts = r_feed_counts,
    .feed_mark = r_feed_mark,
    .resume = r_resume,
    .forget = r_forget,
    .presence = r_presence,
    .tick = r_tick,
    .metrics = r_metrics,
};

struct backend *backend_redis_new(const struct nd_config *cfg, struct templates *templates,
                                  char *err, size_t errlen)
{
    struct redis_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->base.ops = &redis_ops;
    e->base.cfg = cfg;
    e->base.templates = templates;
    struct cluster_hooks hooks = {on_message,  on_state,     &e->base,
                                  on_template, on_templates, &e->base};
    e->c = cluster_new(cfg, &hooks, err, errlen);
    if (!e->c) {
        free(e);
        return NULL;
    }
    return &e->base;
}
