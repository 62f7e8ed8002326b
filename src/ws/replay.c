/* replay: what a connecting client missed, queued before any live message:
 * messages the store holds for the user (offline, or waiting for an ack) and,
 * with ?since=, the recent history after that id -- merged by id, without
 * duplicates. The store answers on its own thread; the answer comes back to
 * nd-ws as a job, and live messages wait in the connection's `held` queue
 * until then. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nd.h"
#include "stats.h"
#include "ws/ws_internal.h"

struct replay_job {
    struct inbox_job job;
    struct ws_server *ws;
    uint64_t conn_id;
    char user_id[ND_USER_ID_MAX + 1];
    unsigned gen;           /* the user's store generation when the load began */
    struct delivery **hist; /* from the history (refs) */
    size_t n_hist;
    struct delivery **stored; /* from the store (refs) */
    size_t n_stored;
    int err;
};

int ws__replay_collect(struct ws_server *ws, struct conn *c, struct ws_replay *r)
{
    memset(r, 0, sizeof *r);
    r->complete = 1;
    if (!ws->handoff.resume_asked)
        return 0;
    int rc = history_since(ws->history, c->link.user->id, ws->handoff.since, &r->hist, &r->n_hist);
    if (rc < 0)
        return rc;
    r->complete = rc;
    return 0;
}

void ws__replay_push(struct ws_server *ws, struct conn *c, struct delivery **ds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* a replay may be longer than the live bound: the store limits it */
        if (!c->close_code && outq_push(&c->q, ds[i], UINT32_MAX, SIZE_MAX, NULL) == OUTQ_OK)
            stats_add(&nd_stats.replayed, 1);
        delivery_unref(ds[i]);
    }
    (void)ws;
}

void ws__replay_release(struct ws_server *ws, struct conn *c)
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

struct conn *ws__find_conn(struct ws_server *ws, const char *user_id, uint64_t conn_id)
{
    struct reg_user *u = registry_find(ws->reg, user_id);
    for (struct reg_link *l = u ? u->conns : NULL; l; l = l->next) {
        struct conn *c = ND_CONTAINER_OF(l, struct conn, link);
        if (c->id == conn_id)
            return c;
    }
    return NULL;
}

static void job_free(struct replay_job *j)
{
    for (size_t i = 0; i < j->n_hist; i++)
        delivery_unref(j->hist[i]);
    for (size_t i = 0; i < j->n_stored; i++)
        delivery_unref(j->stored[i]);
    free(j->hist);
    free(j->stored);
    free(j);
}

/* nd-ws: merge history and stored messages by id, queue them, release the held ones */
static void replay_run(struct inbox_job *job, void *ctx)
{
    struct replay_job *j = ND_CONTAINER_OF(job, struct replay_job, job);
    struct ws_server *ws = ctx;
    if (!j->err && j->n_stored == 0 && userset_generation(ws->stored_users, j->user_id) == j->gen)
        userset_remove(ws->stored_users, j->user_id); /* nothing stored, nothing put since */
    struct conn *c = ws->ctx ? ws__find_conn(ws, j->user_id, j->conn_id) : NULL;
    if (!c) {
        job_free(j);
        return;
    }
    struct delivery **merged = malloc((j->n_hist + j->n_stored + 1) * sizeof *merged);
    size_t n = 0, a = 0, b = 0;
    if (!merged) {
        ws__conn_close(c, 1011, "out of memory");
        job_free(j);
        return;
    }
    while (a < j->n_hist || b < j->n_stored) {
        struct delivery *h = a < j->n_hist ? j->hist[a] : NULL;
        struct delivery *s = b < j->n_stored ? j->stored[b] : NULL;
        if (h && s && h->id == s->id) { /* in both: keep the stored one */
            delivery_unref(h);
            merged[n++] = s;
            a++, b++;
        } else if (s && (!h || s->id < h->id)) {
            merged[n++] = s;
            b++;
        } else {
            merged[n++] = h;
            a++;
        }
    }
    j->n_hist = j->n_stored = 0;
    ws__replay_push(ws, c, merged, n);
    free(merged);
    ws__replay_release(ws, c);
    job_free(j);
}

/* nd-store: turn the rows into deliveries and hand them to nd-ws */
static void loaded(void *arg, const struct stored_msg *msgs, size_t n, int err)
{
    struct replay_job *j = arg;
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
        nd_log(ND_LOG_ERROR, "could not load stored messages", "{s:s}", "user_id", j->user_id);
    j->job.run = replay_run;
    inbox_post(j->ws->inbox, &j->job);
}

void ws__replay_start(struct ws_server *ws, struct conn *c, struct ws_replay *r)
{
    const char *user = c->link.user->id;
    if (ws->store && userset_has(ws->stored_users, user)) {
        struct replay_job *j = calloc(1, sizeof *j);
        if (j) {
            j->ws = ws;
            j->conn_id = c->id;
            memcpy(j->user_id, user, strlen(user) + 1);
            j->gen = userset_generation(ws->stored_users, user);
            j->hist = r->hist;
            j->n_hist = r->n_hist;
            c->replaying = 1;
            if (store_load(ws->store, user, loaded, j) == 0)
                return;
            c->replaying = 0;
            free(j);
        }
    }
    ws__replay_push(ws, c, r->hist, r->n_hist);
    free(r->hist);
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}
