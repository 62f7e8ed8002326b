/* local: notifications on this instance alone -- the embedded engine's one
 * path, and the redis engine's while Redis is unreachable. A publish is one
 * job on the local thread: the inbox gives it a block of ids in queue
 * order (a user sees ids rise), the history remembers each copy (when the
 * engine has one), the copies go to the connections, a copy nobody
 * outside ack mode took is kept (when the engine keeps copies), and a copy
 * for the feed goes there. The answer follows at once, or when the last
 * kept copy is durable. */
#include <errno.h>
#include <stdlib.h>

#include "backend/backend_internal.h"
#include "delivery/envelope.h"
#include "delivery/history.h"
#include "nd.h"
#include "notify/ops.h"

/* local thread: copy i gets id job.id + i */
static void publish_run(struct inbox_job *job, void *ctx)
{
    struct backend_publish *p = ND_CONTAINER_OF(job, struct backend_publish, req.job);
    struct backend *b = p->req.backend;
    (void)ctx;
    atomic_store(&p->_pending, 1); /* this run, until every copy is placed */
    for (size_t i = 0; i < p->n; i++) {
        struct backend_copy *c = &p->copies[i];
        struct delivery *d = c->d;
        struct backend_fanout f;
        c->d = NULL;
        c->id = job->id + i;
        delivery_stamp(d, c->id);
        if (b->history)
            history_add(b->history, d->user_id, d);
        b->local.deliver(b->local.ctx, d, &f);
        c->connections = f.connections;
        /* none while Redis is unreachable: nothing is kept */
        int feed = p->feed && b->keep_feed;
        if (p->important && d->user_id[0] && f.nonack == 0 && b->keep) {
            atomic_fetch_add(&p->_pending, feed ? 2 : 1);
            int rc = b->keep(b, c, d, feed); /* the feed item is kept with the copy */
            if (rc < 0)
                backend__copy_kept(c, rc, "out of memory");
            if (rc < 0 && feed)
                backend__feed_kept(c, rc, "out of memory");
            feed = 0;
        }
        if (feed) {
            atomic_fetch_add(&p->_pending, 1);
            int rc = b->keep_feed(b, c, d);
            if (rc < 0)
                backend__feed_kept(c, rc, rc == -ENOMEM ? "out of memory" : "the store is closed");
        }
        delivery_unref(d);
    }
    backend__part_done(p, 1);
}

void backend__local_publish(struct backend *b, struct backend_publish *p)
{
    p->req.job.run = publish_run;
    inbox_post_n(b->local.inbox, &p->req.job, p->n ? (unsigned)p->n : 1);
}

void backend__copy_kept(struct backend_copy *c, int err, const char *why)
{
    struct backend_publish *p = c->_pub;
    if (err)
        backend__fail(&p->req, -EIO, "the message could not be stored: %s",
                      why ? why : "store error");
    else
        c->stored = 1;
    backend__part_done(p, 0);
}

void backend__feed_kept(struct backend_copy *c, int err, const char *why)
{
    struct backend_publish *p = c->_pub;
    if (err)
        backend__fail(&p->req, -EIO, "the notification could not be kept in the feed: %s",
                      why ? why : "store error");
    else
        c->in_feed = 1;
    backend__part_done(p, 0);
}

struct delivery *backend__feed_update_envelope(const struct backend_feed *f)
{
    json_t *data = json_object();
    if (!data)
        return NULL;
    json_t *ids = f->all ? json_true() : json_array();
    for (size_t i = 0; ids && !f->all && i < f->n_ids; i++) {
        char id[MSGID_LEN + 1];
        msgid_format(f->ids[i], id);
        json_array_append_new(ids, json_string(id));
    }
    struct delivery *d = NULL;
    /* each json_object_set_new() takes its value, also when it fails (or is NULL) */
    if (json_object_set_new(data, f->all ? "all" : "ids", ids) == 0 &&
        json_object_set_new(data, "action", json_string(feed_action_name(f->action))) == 0 &&
        json_object_set_new(data, "counts",
                            json_pack("{s:i, s:i, s:i}", "total", f->counts.total, "unseen",
                                      f->counts.unseen, "unread", f->counts.unread)) == 0)
        d = envelope_encode("feed_update", f->user_id, data, nd_wall_ms(), 0);
    json_decref(data);
    return d;
}

void backend__feed_updated(struct backend *b, const struct backend_feed *f)
{
    /* nobody here to tell (the common case for a backend's MarkFeed): no envelope to build */
    if (b->local.connections && b->local.connections(b->local.ctx, f->user_id) == 0)
        return;
    struct delivery *d = backend__feed_update_envelope(f);
    if (!d)
        return; /* ENOMEM: the tabs learn the counts on their next read */
    struct backend_fanout out;
    d->op = ops_get(OP_MARK_FEED);
    b->local.deliver(b->local.ctx, d, &out);
    delivery_unref(d);
}

static void stats_run(struct inbox_job *job, void *ctx)
{
    struct backend_query *q = ND_CONTAINER_OF(job, struct backend_query, req.job);
    const struct backend_local *l = &q->req.backend->local;
    (void)ctx;
    q->connections = l->connections(l->ctx, NULL);
    q->users = l->users(l->ctx, &q->n_users);
    backend__query_answer(q);
}

static void online_run(struct inbox_job *job, void *ctx)
{
    struct backend_query *q = ND_CONTAINER_OF(job, struct backend_query, req.job);
    const struct backend_local *l = &q->req.backend->local;
    (void)ctx;
    q->connections = l->connections(l->ctx, q->user_id);
    backend__query_answer(q);
}

void backend__local_stats(struct backend *b, struct backend_query *q)
{
    q->req.job.run = stats_run;
    inbox_post(b->local.inbox, &q->req.job);
}

void backend__local_online(struct backend *b, struct backend_query *q)
{
    q->req.job.run = online_run;
    inbox_post(b->local.inbox, &q->req.job);
}

static void disconnect_run(struct inbox_job *job, void *ctx)
{
    struct backend_disconnect *d = ND_CONTAINER_OF(job, struct backend_disconnect, req.job);
    const struct backend_local *l = &d->req.backend->local;
    (void)ctx;
    d->closed = l->disconnect(l->ctx, d->user_id, d->reason, d->reconnect);
    backend__answer(&d->req, 1);
}

void backend__local_disconnect(struct backend *b, struct backend_disconnect *d)
{
    d->req.job.run = disconnect_run;
    inbox_post(b->local.inbox, &d->req.job);
}
