/* service: validate -> encode once -> job on nd-ws -> fan out -> answer.
 * Jobs keep their inbox order, and the inbox stamps message ids in that
 * order, so a user sees ids increase. Envelopes are built in
 * service_encode.c, template operations run in service_templates.c. */
#include "notify/service.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "delivery/envelope.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "notify/service_internal.h"
#include "notify/templates.h"
#include "ratelimit.h"
#include "stats.h"
#include "store/store.h"
#include "ws/server.h"

void service__post(struct service_job *j)
{
    inbox_post(ws_server_inbox(j->svc->ws), &j->job);
}

void service__job_free(struct service_job *j)
{
    for (size_t i = 0; j->ds && i < j->n; i++)
        if (j->ds[i])
            delivery_unref(j->ds[i]);
    free(j->ds);
    free(j->ids);
    free(j->conns);
    free(j->parts);
    free(j->template_json);
    json_decref(j->body);
    free(j);
}

struct service *service_new(struct ws_server *ws, const struct nd_config *cfg,
                            struct templates *templates)
{
    struct service *svc = calloc(1, sizeof *svc);
    if (!svc)
        return NULL;
    svc->ws = ws;
    svc->cfg = cfg;
    svc->audit_all = !strcmp(cfg->audit, "all");
    svc->templates = templates;
    pthread_mutex_init(&svc->lock, NULL);
    return svc;
}

static void clear_budgets(struct service *svc)
{
    struct caller_budget *b, *tmp;
    HASH_ITER (hh, svc->budgets, b, tmp) {
        HASH_DEL(svc->budgets, b);
        free(b);
    }
}

void service_set_cluster(struct service *svc, struct cluster *c)
{
    svc->cluster = c;
}

void service_free(struct service *svc)
{
    if (!svc)
        return;
    clear_budgets(svc);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}

/* 1 when @caller may make one more call now */
static int within_budget(struct service *svc, const struct token_claims *caller)
{
    double rate = (double)svc->cfg->api_rate_limit;
    if (rate <= 0 || !caller)
        return 1;
    int ok = 1;
    pthread_mutex_lock(&svc->lock);
    struct caller_budget *b = NULL;
    HASH_FIND_STR(svc->budgets, caller->user_id, b);
    if (!b) {
        if (HASH_COUNT(svc->budgets) >= MAX_BUDGETS)
            clear_budgets(svc);
        size_t len = strlen(caller->user_id);
        b = calloc(1, sizeof *b + len + 1);
        if (b) {
            memcpy(b->id, caller->user_id, len + 1);
            HASH_ADD_KEYPTR(hh, svc->budgets, b->id, len, b);
        }
    }
    if (b)
        ok = ratelimit_take(&b->rl, rate, rate, nd_mono_us());
    pthread_mutex_unlock(&svc->lock);
    return ok;
}

/* one message's fate, for /metrics: kept, handed to a connection, or nobody's */
static void count_outcome(const struct op_spec *op, int stored, int connections)
{
    stats_add(&nd_stats.by_op[op->id][stored        ? OUTCOME_STORED
                                      : connections ? OUTCOME_DELIVERED
                                                    : OUTCOME_DROPPED],
              1);
}

static void answer(struct service_job *j, int stored)
{
    struct service_result r;
    memset(&r, 0, sizeof r);
    r.op = j->op;
    memcpy(r.message_id, j->message_id, sizeof r.message_id);
    r.connections = j->connections;
    r.stored = stored;
    if (j->store_err)
        r.error = j->why;
    j->done(j->arg, &r);
    service__job_free(j);
}

/* nd-ws, once the store has the message */
static void stored_run(struct inbox_job *job, void *ctx)
{
    struct service_job *j = ND_CONTAINER_OF(job, struct service_job, job);
    (void)ctx;
    answer(j, !j->store_err);
}

/* nd-store: the put is on disk (or failed); the answer goes out from nd-ws */
static void stored_done(void *arg, int err, const char *why)
{
    struct service_job *j = arg;
    j->store_err = err;
    if (err)
        snprintf(j->why, sizeof j->why, "the message could not be stored: %s",
                 why ? why : "store error");
    else
        stats_add(&nd_stats.stored, 1);
    j->job.run = stored_run;
    inbox_post(ws_server_inbox(j->ws), &j->job);
}

/* nd-ws: puts @d in the store for its user until @expires_ms; @done runs on nd-store */
static int keep_copy(struct ws_server *ws, struct store *store, struct delivery *d,
                     int64_t expires_ms, store_done_fn done, void *arg)
{
    struct stored_msg m;
    memset(&m, 0, sizeof m);
    m.id = d->id;
    memcpy(m.user_id, d->user_id, sizeof m.user_id);
    m.expires_at_ms = expires_ms;
    m.json = delivery_json(d);
    m.len = d->len;
    ws_note_stored(ws, d->user_id);
    return store_put(store, &m, done, arg);
}

/* nd-ws: stamp the id, fan out, and keep an important message no live
 * non-ack connection took; answers now, or once the store has it */
static void notify_run(struct service_job *j, struct ws_server *ws)
{
    struct delivery *d = j->d;
    struct ws_fanout f;
    j->d = NULL;
    delivery_stamp(d, j->job.id);
    msgid_format(j->job.id, j->message_id);
    ws_deliver(ws, d, &f);
    j->connections = f.connections;
    stats_add(&nd_stats.deliveries, f.connections);
    int keep = j->important && d->user_id[0] && f.nonack == 0;
    count_outcome(j->op, keep && ws_store(ws), f.connections);

    struct store *store = ws_store(ws);
    if (keep && store) {
        j->ws = ws;
        int rc = keep_copy(ws, store, d, nd_wall_ms() + j->svc->cfg->offline_ttl_s * 1000,
                           stored_done, j);
        delivery_unref(d);
        if (rc == 0)
            return; /* answered by stored_run() */
        j->store_err = rc;
        snprintf(j->why, sizeof j->why, "the message could not be stored: out of memory");
        answer(j, 0);
        return;
    }
    delivery_unref(d);
    answer(j, 0);
}

/* --- NotifyUsers: one message per recipient, ids from one reserved block --- */

/* nd-ws: the multicast's answer, once every recipient's copy is placed */
static void multi_answer_run(struct inbox_job *job, void *ctx)
{
    struct service_job *j = ND_CONTAINER_OF(job, struct service_job, job);
    struct service_result r;
    (void)ctx;
    memset(&r, 0, sizeof r);
    r.op = j->op;
    r.ids = j->ids;
    r.n_ids = j->n;
    for (size_t i = 0; i < j->n; i++) {
        r.connections += j->conns[i];
        r.reached += j->conns[i] > 0;
    }
    r.stored = atomic_load(&j->stored_n);
    int failed = atomic_load(&j->failed);
    if (failed) {
        snprintf(j->why, sizeof j->why,
                 "%s: not every recipient's copy could be placed (%s); the message ids of the "
                 "others were given",
                 j->op->name, failed == -EIO ? "the store failed" : "redis became unavailable");
        r.error = j->why;
    }
    j->done(j->arg, &r);
    service__job_free(j);
}

/* one recipient's copy is done (any thread); the last one sends the answer from nd-ws */
static void multi_part_done(struct service_job *j, int err)
{
    if (err)
        atomic_store(&j->failed, err);
    if (atomic_fetch_sub(&j->pending, 1) == 1) {
        j->job.run = multi_answer_run;
        service__post(j);
    }
}

/* nd-store */
static void multi_stored(void *arg, int err, const char *why)
{
    struct service_job *j = arg;
    (void)why;
    if (!err) {
        atomic_fetch_add(&j->stored_n, 1);
        stats_add(&nd_stats.stored, 1);
    }
    multi_part_done(j, err ? -EIO : 0);
}

/* nd-ws: ids job.id .. job.id + n - 1, in user_ids order */
static void multi_run(struct service_job *j, struct ws_server *ws)
{
    struct store *store = ws_store(ws);
    int64_t expires = nd_wall_ms() + j->svc->cfg->offline_ttl_s * 1000;
    atomic_store(&j->pending, 1);
    for (size_t i = 0; i < j->n; i++) {
        struct delivery *d = j->ds[i];
        struct ws_fanout f;
        j->ds[i] = NULL;
        j->ids[i] = j->job.id + i;
        delivery_stamp(d, j->ids[i]);
        ws_deliver(ws, d, &f);
        j->conns[i] = f.connections;
        stats_add(&nd_stats.deliveries, f.connections);
        int keep = j->important && f.nonack == 0 && store;
        count_outcome(j->op, keep, f.connections);
        if (keep) {
            atomic_fetch_add(&j->pending, 1);
            if (keep_copy(ws, store, d, expires, multi_stored, j) < 0)
                multi_part_done(j, -EIO);
        }
        delivery_unref(d);
    }
    multi_part_done(j, 0);
}

/* --- in a cluster: operations go through Redis; answers come back as jobs --- */

static void cluster_answer_run(struct inbox_job *job, void *ctx)
{
    struct service_job *j = ND_CONTAINER_OF(job, struct service_job, job);
    struct service_result r;
    (void)ctx;
    memset(&r, 0, sizeof r);
    r.op = j->op;
    if (j->store_err) {
        r.error = j->why;
    } else if (j->op->flags & OP_NOTIFY) {
        memcpy(r.message_id, j->message_id, sizeof r.message_id);
        r.connections = j->connections;
        r.stored = j->stored;
    } else if (j->op->id == OP_GET_STATS) {
        r.total_connections = j->connections;
        r.online_users = (int)j->n_users;
        r.users = (const char **)j->users;
        r.n_users = j->n_users;
        r.uptime_seconds = (nd_wall_ms() - stats_get(&nd_stats.started_ms)) / 1000;
        r.messages_total = stats_get(&nd_stats.messages);
        r.deliveries_total = stats_get(&nd_stats.deliveries);
    } else {
        r.user_id = j->user_id;
        r.is_online = j->connections > 0;
        r.connections = j->connections;
    }
    j->done(j->arg, &r);
    for (size_t i = 0; i < j->n_users; i++)
        free(j->users[i]);
    free(j->users);
    service__job_free(j);
}

/* nd-redis: each answer is handed to nd-ws, where every caller's callback runs */
static void back_to_ws(struct service_job *j, int err)
{
    if (err) {
        j->store_err = err;
        snprintf(j->why, sizeof j->why,
                 "redis became unavailable during the call: the message may not have been "
                 "delivered; retry");
    }
    j->job.run = cluster_answer_run;
    service__post(j);
}

static void published(void *arg, int err, const struct cluster_published *p)
{
    struct service_job *j = arg;
    if (!err) {
        msgid_format(p->id, j->message_id);
        j->connections = p->connections;
        j->stored = p->stored;
        count_outcome(j->op, p->stored, p->connections);
    }
    back_to_ws(j, err);
}

/* nd-redis: one recipient's copy of a multicast is published */
static void multi_published(void *arg, int err, const struct cluster_published *p)
{
    struct multi_part *part = arg;
    struct service_job *j = part->j;
    if (!err) {
        j->ids[part->i] = p->id;
        j->conns[part->i] = p->connections;
        if (p->stored)
            atomic_fetch_add(&j->stored_n, 1);
        count_outcome(j->op, p->stored, p->connections);
    }
    multi_part_done(j, err ? -EAGAIN : 0);
}

static void cluster_stats_done(void *arg, int err, const struct cluster_stats *s)
{
    struct service_job *j = arg;
    if (!err) {
        j->connections = (int)s->total_connections;
        j->users = calloc(s->n_users + 1, sizeof *j->users);
        for (size_t i = 0; j->users && i < s->n_users; i++)
            if ((j->users[j->n_users] = strdup(s->users[i])))
                j->n_users++;
    }
    back_to_ws(j, err);
}

static void cluster_online_done(void *arg, int err, int connections)
{
    struct service_job *j = arg;
    j->connections = connections;
    back_to_ws(j, err);
}

/* runs @j through the cluster; 0 when Redis is not there to take it */
static int cluster_call(struct service *svc, struct service_job *j)
{
    struct cluster *c = svc->cluster;
    if (!c || !cluster_up(c))
        return 0;
    /* once a call is submitted, @j belongs to its callback (which may already
     * have run, on nd-redis and then nd-ws): nothing here touches it after */
    int rc;
    if (j->ds) {
        /* every copy is submitted (or counted failed) before the guard count goes */
        atomic_store(&j->pending, (int)j->n + 1);
        for (size_t i = 0; i < j->n; i++) {
            j->parts[i] = (struct multi_part){j, i};
            if (cluster_publish(c, j->ds[i], j->op->name, j->important, multi_published,
                                &j->parts[i]) < 0)
                multi_part_done(j, -EAGAIN);
        }
        multi_part_done(j, 0);
        return 1;
    }
    if (j->d) {
        struct delivery *d = j->d;
        j->d = NULL;
        rc = cluster_publish(c, d, j->op->name, j->important, published, j);
        if (rc == 0)
            delivery_unref(d); /* Redis has its bytes; the copy comes back on the channel */
        else
            j->d = d; /* not submitted: the job is still ours, for local delivery */
    } else if (j->op->id == OP_GET_STATS) {
        rc = cluster_stats(c, cluster_stats_done, j);
    } else {
        rc = cluster_online(c, j->user_id, cluster_online_done, j);
    }
    return rc == 0;
}

static void stats_run(struct ws_server *ws, struct service_result *r)
{
    struct registry *reg = ws_registry(ws);
    r->total_connections = (int)registry_connections(reg);
    r->online_users = (int)registry_users(reg);
    r->users = registry_user_ids(reg, &r->n_users);
    r->uptime_seconds = (nd_wall_ms() - stats_get(&nd_stats.started_ms)) / 1000;
    r->messages_total = stats_get(&nd_stats.messages);
    r->deliveries_total = stats_get(&nd_stats.deliveries);
}

static void job_run(struct inbox_job *job, void *ctx)
{
    struct service_job *j = ND_CONTAINER_OF(job, struct service_job, job);
    struct ws_server *ws = ctx;
    struct service_result r;

    if (j->d) {
        notify_run(j, ws);
        return;
    }
    if (j->ds) {
        multi_run(j, ws);
        return;
    }
    memset(&r, 0, sizeof r);
    r.op = j->op;
    if (j->op->id == OP_GET_STATS) {
        stats_run(ws, &r);
    } else {
        struct reg_user *u = registry_find(ws_registry(ws), j->user_id);
        r.user_id = j->user_id;
        r.is_online = u != NULL;
        r.connections = u ? u->n_conns : 0;
    }
    j->done(j->arg, &r);
    free((void *)r.users);
    service__job_free(j);
}

/* @req with the template rendered in (for @user_id), or NULL and -errno in *rc */
static json_t *rendered_request(const json_t *req, const struct template_use *use,
                                const char *user_id, int *rc, char *err, size_t errlen)
{
    json_t *copy = json_copy((json_t *)req);
    if (!copy) {
        *rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_object_del(copy, "template_id");
    json_object_del(copy, "params");
    if ((*rc = templates_render(use, copy, user_id, err, errlen)) < 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

int service_call(struct service *svc, const struct op_spec *op, const json_t *req,
                 const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                 size_t errlen)
{
    struct op_msg msg;
    struct template_use use;
    json_t *rendered = NULL;
    int templated = 0, rc;
    memset(&use, 0, sizeof use);
    memset(&msg, 0, sizeof msg);
    if (health_get() == HEALTH_DRAINING) {
        snprintf(err, errlen, "server is shutting down");
        return -ESHUTDOWN;
    }
    if ((op->flags & OP_ADMIN) && !(caller && (caller->roles & TOKEN_ROLE_ADMIN))) {
        snprintf(err, errlen, "%s needs a token with role admin", op->name);
        return -EPERM;
    }
    if (!within_budget(svc, caller)) {
        stats_add(&nd_stats.api_rate_limited, 1);
        snprintf(err, errlen, "rate limit: at most %lld calls per second per caller",
                 (long long)svc->cfg->api_rate_limit);
        return -EAGAIN;
    }

    struct service_job *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    j->op = op;
    j->svc = svc;
    j->done = done;
    j->arg = arg;
    j->job.run = job_run;
    if (op->flags & OP_TEMPLATE) {
        if ((rc = service__template_call(svc, j, req, caller, err, errlen)) < 0)
            service__job_free(j); /* not submitted */
        return rc;
    }

    if (op->flags & OP_NOTIFY) {
        templated = templates_prepare(svc->templates, op, req, &use, err, errlen);
        if (templated < 0) {
            rc = templated;
            goto fail;
        }
    }
    if (templated) {
        /* validated with the first recipient's text; a multicast renders each one later */
        const json_t *first =
            op->flags & OP_MULTI ? json_array_get(json_object_get(req, "user_ids"), 0) : NULL;
        const char *user = json_string_value(first ? first : json_object_get(req, "user_id"));
        if (!(rendered = rendered_request(req, &use, user ? user : "", &rc, err, errlen)))
            goto fail;
    }
    if (ops_build(op, rendered ? rendered : req, &msg, err, errlen) < 0) {
        rc = -EINVAL;
        goto fail;
    }
    memcpy(j->user_id, msg.user_id, sizeof j->user_id);
    if (op->flags & OP_NOTIFY) {
        j->important = (op->flags & OP_IMPORTANT) || msg.priority == PRIORITY_URGENT;
        rc = op->flags & OP_MULTI
                 ? service__encode_multi(j, &msg, templated ? &use : NULL, rendered, err, errlen)
                 : service__encode_one(j, &msg, err, errlen);
        if (rc < 0)
            goto fail;
        stats_add(&nd_stats.messages, op->flags & OP_MULTI ? (int64_t)j->n : 1);
    }
    if (op->id == OP_BROADCAST || op->id == OP_TEST_MESSAGE || svc->audit_all) {
        char many[32];
        snprintf(many, sizeof many, "%zu users", j->n);
        nd_log(ND_LOG_INFO, "audit", "{s:s, s:s, s:s}", "op", op->name, "caller",
               caller ? caller->user_id : "", "target",
               msg.user_id[0]           ? msg.user_id
               : (op->flags & OP_MULTI) ? many
                                        : "*");
    }
    op_msg_clear(&msg);
    templates_use_clear(&use);
    json_decref(rendered);
    if (!cluster_call(svc, j)) /* Redis down, or no cluster: this instance alone */
        inbox_post_n(ws_server_inbox(svc->ws), &j->job, j->n ? (unsigned)j->n : 1);
    return 0;

fail:
    service__job_free(j);
    op_msg_clear(&msg);
    templates_use_clear(&use);
    json_decref(rendered);
    return rc == -ENOMEM ? -ENOMEM : -EINVAL;
}

json_t *service_result_json(const struct service_result *r)
{
    if (r->op->flags & OP_TEMPLATE)
        return json_incref(r->body);
    if (r->op->flags & OP_MULTI) {
        json_t *ids = json_array();
        for (size_t i = 0; ids && i < r->n_ids; i++) {
            char hex[MSGID_LEN + 1];
            msgid_format(r->ids[i], hex);
            json_array_append_new(ids, json_string(hex));
        }
        return json_pack("{s:o, s:i, s:i, s:i, s:i}", "message_ids", ids, "users", (int)r->n_ids,
                         "reached", r->reached, "stored", r->stored, "connections", r->connections);
    }
    if (r->op->flags & OP_NOTIFY)
        return json_pack("{s:s, s:i, s:b}", "message_id", r->message_id, "connections",
                         r->connections, "stored", r->stored);
    if (r->op->id == OP_GET_STATS) {
        json_t *users = json_array();
        for (size_t i = 0; users && i < r->n_users; i++)
            json_array_append_new(users, json_string(r->users[i]));
        return json_pack("{s:i, s:o, s:i, s:I, s:I, s:I}", "total_connections",
                         r->total_connections, "connected_users", users, "online_users",
                         r->online_users, "uptime_seconds", (json_int_t)r->uptime_seconds,
                         "messages_total", (json_int_t)r->messages_total, "deliveries_total",
                         (json_int_t)r->deliveries_total);
    }
    return json_pack("{s:s, s:b, s:i}", "user_id", r->user_id ? r->user_id : "", "is_online",
                     r->is_online, "connections", r->connections);
}
