/* backend: the calls of backend.h, each one row of the engine's table, and
 * the answers every engine gives the same way: done on the local thread,
 * once. */
#include "backend/backend_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd.h"

const char *backend_name(const struct backend *b)
{
    return b->ops->name;
}

void backend_attach(struct backend *b, const struct backend_local *local)
{
    b->local = *local;
}

int64_t backend_local_backlog(struct backend *b, const char **thread)
{
    *thread = "";
    return b->local.backlog ? b->local.backlog(b->local.ctx, thread) : 0;
}

int backend_start(struct backend *b, char *err, size_t errlen)
{
    return b->ops->start(b, err, errlen);
}

void backend_stop(struct backend *b)
{
    b->ops->stop(b);
}

void backend_free(struct backend *b)
{
    if (b)
        b->ops->free(b);
}

static void begin(struct backend *b, struct backend_req *r)
{
    r->backend = b;
    atomic_store(&r->err, 0);
    r->why[0] = 0;
}

void backend_publish(struct backend *b, struct backend_publish *p)
{
    begin(b, &p->req);
    for (size_t i = 0; i < p->n; i++) {
        p->copies[i]._pub = p;
        p->copies[i].id = 0;
        p->copies[i].connections = p->copies[i].stored = 0;
    }
    b->ops->publish(b, p);
}

static void begin_query(struct backend *b, struct backend_query *q)
{
    begin(b, &q->req);
    q->connections = 0;
    q->users = NULL;
    q->n_users = 0;
}

int backend_stats(struct backend *b, struct backend_query *q)
{
    begin_query(b, q);
    q->user_id[0] = 0;
    return b->ops->stats(b, q);
}

int backend_online(struct backend *b, struct backend_query *q)
{
    begin_query(b, q);
    return b->ops->online(b, q);
}

int backend_backlog(struct backend *b, struct backend_backlog *q)
{
    begin(b, &q->req);
    q->messages = 0;
    q->oldest = q->newest = 0;
    return b->ops->backlog(b, q);
}

int backend_template_put(struct backend *b, struct backend_template *t)
{
    begin(b, &t->req);
    return b->ops->template_put(b, t);
}

int backend_disconnect(struct backend *b, struct backend_disconnect *d)
{
    begin(b, &d->req);
    d->closed = 0;
    return b->ops->disconnect(b, d);
}

static void begin_feed(struct backend *b, struct backend_feed *f)
{
    begin(b, &f->req);
    f->items = NULL;
    f->n_items = 0;
    f->next_before = 0;
    memset(&f->counts, 0, sizeof f->counts);
    f->updated = 0;
}

int backend_feed_list(struct backend *b, struct backend_feed *f)
{
    begin_feed(b, f);
    return b->ops->feed_list(b, f);
}

int backend_feed_counts(struct backend *b, struct backend_feed *f)
{
    begin_feed(b, f);
    return b->ops->feed_counts(b, f);
}

int backend_feed_mark(struct backend *b, struct backend_feed *f)
{
    begin_feed(b, f);
    return b->ops->feed_mark(b, f);
}

int backend_resume(struct backend *b, struct backend_resume *r)
{
    begin(b, &r->req);
    r->msgs = NULL;
    r->n = 0;
    r->complete = 1;
    r->floor = 0;
    return b->ops->resume(b, r);
}

void backend_forget(struct backend *b, const char *user_id, uint64_t id)
{
    b->ops->forget(b, user_id, id);
}

void backend_presence(struct backend *b, const char *user_id, int delta, int nonack)
{
    b->ops->presence(b, user_id, delta, nonack);
}

void backend_tick(struct backend *b, int64_t now_ms)
{
    b->ops->tick(b, now_ms);
}

void backend_metrics(struct backend *b, FILE *out)
{
    b->ops->metrics(b, out);
}

void backend_defer(struct backend *b, struct inbox_job *job)
{
    inbox_post(b->local.inbox, job);
}

/* --- answers --- */

void backend__fail(struct backend_req *r, int err, const char *fmt, ...)
{
    int none = 0;
    if (!atomic_compare_exchange_strong(&r->err, &none, err))
        return; /* the first failure says why */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static void answer_run(struct inbox_job *job, void *ctx)
{
    struct backend_req *r = ND_CONTAINER_OF(job, struct backend_req, job);
    (void)ctx;
    r->done(r);
}

void backend__answer(struct backend_req *r, int on_local)
{
    if (on_local) {
        r->done(r);
        return;
    }
    r->job.run = answer_run;
    inbox_post(r->backend->local.inbox, &r->job);
}

void backend__part_done(struct backend_publish *p, int on_local)
{
    if (atomic_fetch_sub(&p->_pending, 1) == 1)
        backend__answer(&p->req, on_local);
}

void backend__query_answer(struct backend_query *q)
{
    const char **users = q->users; /* q may be gone after done */
    q->req.done(&q->req);
    free((void *)users);
}
