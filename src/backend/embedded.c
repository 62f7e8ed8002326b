/* embedded: the engine of an instance alone. Messages go through the local
 * path (local.c) with this engine's history (in memory, local thread) and
 * store (SQLite, nd-store): a copy nobody outside ack mode took is kept
 * there, and a connecting client gets what the store holds for it merged by
 * id with the history after its ?since=. The feeds are in the store too; a
 * mark's `feed_update` goes to this instance's connections, the only ones.
 * The set of users the store may hold messages for (local thread) spares
 * the store a read for everyone else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"
#include "delivery/history.h"
#include "delivery/userset.h"
#include "log.h"
#include "nd.h"
#include "notify/templates.h"
#include "stats.h"
#include "store/store.h"

struct embedded {
    struct backend base;
    struct store *store;          /* NULL once stopped */
    struct userset *stored_users; /* local thread (and main, at open) */
    int64_t swept_ms;             /* local thread: the history's last expiry */
};

#define ENGINE(b) ND_CONTAINER_OF(b, struct embedded, base)

/* --- keeping a copy (local thread, then nd-store) --- */

static void kept(void *arg, int err, const char *why)
{
    if (!err)
        stats_add(&nd_stats.stored, 1);
    backend__copy_kept(arg, err, why);
}

/* nd-store: a copy kept with its feed item: both are durable, or neither */
static void kept_with_item(void *arg, int err, const char *why)
{
    kept(arg, err, why);
    backend__feed_kept(arg, err, why);
}

static int keep(struct backend *b, struct backend_copy *c, struct delivery *d, int feed)
{
    struct embedded *e = ENGINE(b);
    struct stored_msg m;
    if (!e->store)
        return -ESHUTDOWN; /* stopped */
    memset(&m, 0, sizeof m);
    m.id = d->id;
    memcpy(m.user_id, d->user_id, sizeof m.user_id);
    int64_t ttl = b->cfg->offline_ttl_s * 1000, mine = c->_pub->ttl_ms;
    m.expires_at_ms = nd_wall_ms() + (mine > 0 && mine < ttl ? mine : ttl);
    m.json = delivery_json(d);
    m.len = d->len;
    m.feed = feed;
    userset_add(e->stored_users, d->user_id);
    return store_put(e->store, &m, feed ? kept_with_item : kept, c);
}

static void feed_kept(void *arg, int err, const char *why)
{
    backend__feed_kept(arg, err, why);
}

static int keep_feed(struct backend *b, struct backend_copy *c, struct delivery *d)
{
    struct embedded *e = ENGINE(b);
    if (!e->store)
        return -ESHUTDOWN; /* stopped */
    return store_feed_put(e->store, d->user_id, d->id, delivery_json(d), d->len, feed_kept, c);
}

static void e_publish(struct backend *b, struct backend_publish *p)
{
    backend__local_publish(b, p);
}

static int e_stats(struct backend *b, struct backend_query *q)
{
    backend__local_stats(b, q);
    return 0;
}

static int e_online(struct backend *b, struct backend_query *q)
{
    backend__local_online(b, q);
    return 0;
}

static int e_disconnect(struct backend *b, struct backend_disconnect *d)
{
    backend__local_disconnect(b, d);
    return 0;
}

/* --- a user's backlog: counted by the store (nd-store), answered on the local thread --- */

static void counted(void *arg, int err, const struct store_backlog *n)
{
    struct backend_backlog *q = arg;
    if (err)
        backend__fail(&q->req, err, "the store could not be read");
    else {
        q->messages = n->count;
        q->oldest = n->oldest;
        q->newest = n->newest;
    }
    backend__answer(&q->req, 0);
}

static int e_backlog(struct backend *b, struct backend_backlog *q)
{
    struct embedded *e = ENGINE(b);
    if (!e->store)
        return -ESHUTDOWN;
    return store_backlog(e->store, q->user_id, counted, q) < 0 ? -ENOMEM : 0;
}

/* --- templates: durable first, then the table (nd-store) --- */

static void template_kept(void *arg, int err, const char *why)
{
    struct backend_template *t = arg;
    struct templates *table = t->req.backend->templates;
    if (err)
        backend__fail(&t->req, err, "the template could not be %s: %s",
                      t->json ? "stored" : "deleted", why ? why : "store error");
    else if (!t->json)
        templates_remove(table, t->id);
    else if (templates_set_json(table, t->id, t->json, strlen(t->json)) < 0)
        backend__fail(&t->req, -ENOMEM, "out of memory");
    backend__answer(&t->req, 0);
}

static int e_template_put(struct backend *b, struct backend_template *t)
{
    return store_template(ENGINE(b)->store, t->id, t->json, template_kept, t) < 0 ? -ENOMEM : 0;
}

/* --- the feed: read and changed on nd-store, answered on the local thread (a read
 * for a caller that takes its answer on any thread: on nd-store, unless it is busy) --- */

static void feed_answer_run(struct inbox_job *job, void *ctx)
{
    struct backend_feed *f = ND_CONTAINER_OF(job, struct backend_feed, req.job);
    (void)ctx;
    if (f->updated > 0 && !atomic_load(&f->req.err))
        backend__feed_updated(f->req.backend, f); /* this instance's tabs are all of them */
    f->req.done(&f->req);
}

/* nd-store */
static void feed_read(void *arg, int err, struct store_feed_result *r)
{
    struct backend_feed *f = arg;
    int here = 0; /* a read answered on nd-store, when it has nothing else to do */
    if (err) {
        backend__fail(&f->req, err, "the feed could not be %s: store error",
                      f->ids || f->all ? "changed" : "read");
    } else {
        f->items = r->items; /* ours now */
        f->n_items = r->n_items;
        f->next_before = r->next_before;
        f->counts = r->counts;
        f->updated = r->updated;
        here = f->req.any_thread && !f->ids && !f->all && !r->busy; /* nothing to tell tabs */
    }
    if (here) {
        f->req.done(&f->req);
        return;
    }
    f->req.job.run = feed_answer_run;
    inbox_post(f->req.backend->local.inbox, &f->req.job);
}

static int feed_call(struct backend *b, struct backend_feed *f, enum store_feed_kind kind)
{
    struct embedded *e = ENGINE(b);
    struct store_feed_req q = {kind,   f->user_id, f->before, f->limit, f->filter,
                               f->ids, f->n_ids,   f->all,    f->action};
    if (!e->store) {
        backend__fail(&f->req, -ESHUTDOWN, "the store is closed");
        backend__answer(&f->req, 0);
        return 0;
    }
    return store_feed(e->store, &q, feed_read, f);
}

static int e_feed_list(struct backend *b, struct backend_feed *f)
{
    return feed_call(b, f, STORE_FEED_LIST);
}

static int e_feed_counts(struct backend *b, struct backend_feed *f)
{
    return feed_call(b, f, STORE_FEED_COUNTS);
}

static int e_feed_mark(struct backend *b, struct backend_feed *f)
{
    return feed_call(b, f, STORE_FEED_MARK);
}

/* --- resume: the history now, the store's messages when it has read them --- */

struct load_job {
    struct inbox_job job;
    struct embedded *e;
    struct backend_resume *r; /* msgs/n hold the history part meanwhile */
    unsigned gen;             /* the user's store generation when the load began */
    struct delivery **stored; /* from the store (refs) */
    size_t n_stored;
    int err;
};

/* @r's history part and @j's stored messages, by id; in both: the stored copy */
static void merge(struct backend_resume *r, struct load_job *j)
{
    struct delivery **hist = r->msgs, **out = malloc((r->n + j->n_stored + 1) * sizeof *out);
    size_t n = 0, a = 0, b = 0, n_hist = r->n;
    for (; out && (a < n_hist || b < j->n_stored); n++) {
        struct delivery *h = a < n_hist ? hist[a] : NULL;
        struct delivery *s = b < j->n_stored ? j->stored[b] : NULL;
        if (h && s && h->id == s->id) {
            delivery_unref(h);
            out[n] = s;
            a++, b++;
        } else if (s && (!h || s->id < h->id)) {
            out[n] = s;
            b++;
        } else {
            out[n] = h;
            a++;
        }
    }
    if (!out) {
        for (size_t i = 0; i < n_hist; i++)
            delivery_unref(hist[i]);
        for (size_t i = 0; i < j->n_stored; i++)
            delivery_unref(j->stored[i]);
        backend__fail(&r->req, -ENOMEM, "out of memory");
        r->complete = 0;
    }
    free(hist);
    free(j->stored);
    r->msgs = out;
    r->n = out ? n : 0;
}

/* local thread */
static void loaded_run(struct inbox_job *job, void *ctx)
{
    struct load_job *j = ND_CONTAINER_OF(job, struct load_job, job);
    struct backend_resume *r = j->r;
    (void)ctx;
    if (!j->err && j->n_stored == 0 && userset_generation(j->e->stored_users, r->user_id) == j->gen)
        userset_remove(j->e->stored_users, r->user_id); /* nothing stored, nothing put since */
    merge(r, j);
    free(j);
    backend__answer(&r->req, 1);
}

/* nd-store: the rows as deliveries, handed to the local thread */
static void loaded(void *arg, const struct stored_msg *msgs, size_t n, int err)
{
    struct load_job *j = arg;
    j->err = err;
    j->stored = n ? calloc(n, sizeof *j->stored) : NULL;
    for (size_t i = 0; j->stored && i < n; i++) {
        struct delivery *d = delivery_new(msgs[i].len);
        if (!d)
            break;
        memcpy(delivery_json(d), msgs[i].json, msgs[i].len);
        memcpy(d->user_id, msgs[i].user_id, sizeof d->user_id);
        d->id = msgs[i].id;
        d->stored = 1;
        j->stored[j->n_stored++] = d;
    }
    if (err)
        nd_log(ND_LOG_ERROR, "could not load stored messages", "{s:s}", "user_id", j->r->user_id);
    j->job.run = loaded_run;
    inbox_post(j->e->base.local.inbox, &j->job);
}

static int e_resume(struct backend *b, struct backend_resume *r)
{
    struct embedded *e = ENGINE(b);
    if (r->has_since) {
        int rc = history_since(b->history, r->user_id, r->since, &r->msgs, &r->n);
        if (rc < 0)
            return rc;
        r->complete = rc;
    }
    if (e->store && userset_has(e->stored_users, r->user_id)) {
        struct load_job *j = calloc(1, sizeof *j);
        if (j) {
            j->e = e;
            j->r = r;
            j->gen = userset_generation(e->stored_users, r->user_id);
            if (store_load(e->store, r->user_id, loaded, j) == 0)
                return 0;
            free(j);
        }
    }
    backend__answer(&r->req, 1);
    return 0;
}

/* --- the rest --- */

static void e_forget(struct backend *b, const char *user_id, uint64_t id)
{
    struct embedded *e = ENGINE(b);
    if (e->store)
        store_remove(e->store, user_id, id);
}

static void e_presence(struct backend *b, const char *user_id, int delta, int nonack)
{
    (void)b, (void)user_id, (void)delta, (void)nonack; /* nobody else to tell */
}

static void e_tick(struct backend *b, int64_t now_ms)
{
    struct embedded *e = ENGINE(b);
    if (now_ms - e->swept_ms >= 1000) { /* once a second is plenty */
        history_expire(b->history, now_ms);
        e->swept_ms = now_ms;
    }
}

static void e_metrics(struct backend *b, FILE *f)
{
    fprintf(f,
            "# HELP notifyd_history_messages Messages remembered for resume.\n"
            "# TYPE notifyd_history_messages gauge\nnotifyd_history_messages %zu\n"
            "# HELP notifyd_offline_messages Messages kept in the store for users (offline, or "
            "waiting for an ack).\n"
            "# TYPE notifyd_offline_messages gauge\nnotifyd_offline_messages %lld\n",
            history_count(b->history), (long long)store_kept(ENGINE(b)->store));
}

static int e_start(struct backend *b, char *err, size_t errlen)
{
    (void)b, (void)err, (void)errlen; /* nd-store runs since the open */
    return 0;
}

static void e_stop(struct backend *b)
{
    struct embedded *e = ENGINE(b);
    store_close(e->store); /* flushes; the answers it owes go to the local inbox */
    e->store = NULL;
}

static void e_free(struct backend *b)
{
    struct embedded *e = ENGINE(b);
    store_close(e->store); /* never started */
    history_free(b->history);
    userset_free(e->stored_users);
    free(e);
}

static const struct backend_ops embedded_ops = {
    .name = "embedded",
    .start = e_start,
    .stop = e_stop,
    .free = e_free,
    .publish = e_publish,
    .stats = e_stats,
    .online = e_online,
    .backlog = e_backlog,
    .template_put = e_template_put,
    .disconnect = e_disconnect,
    .feed_list = e_feed_list,
    .feed_counts = e_feed_counts,
    .feed_mark = e_feed_mark,
    .resume = e_resume,
    .forget = e_forget,
    .presence = e_presence,
    .tick = e_tick,
    .metrics = e_metrics,
};

/* store_open's callbacks: who has messages, and the templates kept */
static void add_user(void *arg, const char *user_id)
{
    userset_add(arg, user_id);
}

static void load_template(void *arg, const char *id, const char *json, size_t len)
{
    if (templates_set_json(arg, id, json, len) < 0)
        nd_log(ND_LOG_WARN, "a stored template is unreadable and was skipped", "{s:s}", "id", id);
}

struct backend *backend_embedded_new(const struct nd_config *cfg, struct templates *templates,
                                     char *err, size_t errlen)
{
    struct embedded *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->base.ops = &embedded_ops;
    e->base.cfg = cfg;
    e->base.templates = templates;
    e->base.keep = keep;
    e->base.keep_feed = keep_feed;
    e->base.history = history_new((size_t)cfg->history_size, cfg->history_ttl_s * 1000,
                                  (uint64_t)nd_wall_ms() << 16);
    e->stored_users = userset_new();
    if (!e->base.history || !e->stored_users) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    e->store = store_open(cfg, add_user, e->stored_users, load_template, templates, err, errlen);
    if (!e->store)
        goto fail;
    return &e->base;
fail:
    e_free(&e->base);
    return NULL;
}
