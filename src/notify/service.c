/* service: validate -> encode once -> job on nd-ws -> fan out -> answer.
 * Jobs keep their inbox order, and the inbox stamps message ids in that
 * order, so a user sees ids increase. */
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
#include "ratelimit.h"
#include "stats.h"
#include "store/store.h"
#include "ws/server.h"

#include <uthash.h>

/* one caller's API budget, keyed by the token's user id */
struct caller_budget {
    struct ratelimit rl;
    UT_hash_handle hh;
    char id[];
};

#define MAX_BUDGETS 10000 /* distinct callers tracked; the table restarts beyond */

struct service {
    struct ws_server *ws;
    const struct nd_config *cfg;
    int audit_all;                 /* NOTIFYD_AUDIT=all: a line for every call */
    struct cluster *cluster;       /* Redis scale-out, or NULL; set before ready */
    pthread_mutex_t lock;          /* guards budgets: nd-grpc and nd-ws both call */
    struct caller_budget *budgets; /* {lock} */
};

struct service_job {
    struct inbox_job job;
    const struct op_spec *op;
    struct delivery *d;               /* notify operations */
    char user_id[ND_USER_ID_MAX + 1]; /* IsUserOnline */
    service_done_fn done;
    void *arg;
    /* a notify answer waiting for the store */
    char message_id[MSGID_LEN + 1];
    int connections;
    int store_err;
    char why[160];
    struct service *svc;
    struct ws_server *ws;
    /* answers from the cluster */
    int stored;
    char **users;
    size_t n_users;
};

struct service *service_new(struct ws_server *ws, const struct nd_config *cfg)
{
    struct service *svc = calloc(1, sizeof *svc);
    if (!svc)
        return NULL;
    svc->ws = ws;
    svc->cfg = cfg;
    svc->audit_all = !strcmp(cfg->audit, "all");
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
        ok = ratelimit_take(&b->rl, rate, rate, ratelimit_now_us());
    pthread_mutex_unlock(&svc->lock);
    return ok;
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
    free(j);
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
    int keep = (j->op->flags & OP_IMPORTANT) && d->user_id[0] && f.nonack == 0;
    stats_add(&nd_stats.by_op[j->op->id][keep && ws_store(ws) ? OUTCOME_STORED
                                         : f.connections      ? OUTCOME_DELIVERED
                                                              : OUTCOME_DROPPED],
              1);

    struct store *store = ws_store(ws);
    if (keep && store) {
        struct stored_msg m;
        memset(&m, 0, sizeof m);
        m.id = d->id;
        memcpy(m.user_id, d->user_id, sizeof m.user_id);
        m.expires_at_ms = envelope_now_ms() + j->svc->cfg->offline_ttl_s * 1000;
        m.json = delivery_json(d);
        m.len = d->len;
        j->ws = ws;
        ws_note_stored(ws, d->user_id);
        int rc = store_put(store, &m, stored_done, j);
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
        r.uptime_seconds = (envelope_now_ms() - stats_get(&nd_stats.started_ms)) / 1000;
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
    free(j);
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
    inbox_post(ws_server_inbox(j->svc->ws), &j->job);
}

static void published(void *arg, int err, const struct cluster_published *p)
{
    struct service_job *j = arg;
    if (!err) {
        msgid_format(p->id, j->message_id);
        j->connections = p->connections;
        j->stored = p->stored;
        stats_add(&nd_stats.by_op[j->op->id][p->stored        ? OUTCOME_STORED
                                             : p->connections ? OUTCOME_DELIVERED
                                                              : OUTCOME_DROPPED],
                  1);
    }
    back_to_ws(j, err);
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
    if (j->d) {
        struct delivery *d = j->d;
        j->d = NULL;
        rc =
            cluster_publish(c, d, (int)j->op->id, (j->op->flags & OP_IMPORTANT) != 0, published, j);
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
    r->uptime_seconds = (envelope_now_ms() - stats_get(&nd_stats.started_ms)) / 1000;
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
    free(j);
}

/* FNV-1a of type and task id: queued progress updates of one task share it */
static uint64_t coalesce_key(const char *type, const char *task_id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = type; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = task_id ? task_id : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ? h : 1;
}

int service_call(struct service *svc, const struct op_spec *op, const json_t *req,
                 const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                 size_t errlen)
{
    struct op_msg msg;
    if (health_get() == HEALTH_DRAINING) {
        snprintf(err, errlen, "server is shutting down");
        return -ESHUTDOWN;
    }
    if (!within_budget(svc, caller)) {
        stats_add(&nd_stats.api_rate_limited, 1);
        snprintf(err, errlen, "rate limit: at most %lld calls per second per caller",
                 (long long)svc->cfg->api_rate_limit);
        return -EAGAIN;
    }
    if (ops_build(op, req, &msg, err, errlen) < 0)
        return -EINVAL;

    struct service_job *j = calloc(1, sizeof *j);
    if (!j)
        goto nomem;
    j->op = op;
    j->svc = svc;
    j->done = done;
    j->arg = arg;
    j->job.run = job_run;
    memcpy(j->user_id, msg.user_id, sizeof j->user_id);
    if (op->flags & OP_NOTIFY) {
        j->d =
            envelope_encode(op->type, msg.user_id, msg.data, envelope_now_ms(), ENVELOPE_WITH_ID);
        if (!j->d)
            goto nomem;
        j->d->op = op;
        if (op->flags & OP_PROGRESS)
            j->d->coalesce_key =
                coalesce_key(op->type, json_string_value(json_object_get(msg.data, "task_id")));
        stats_add(&nd_stats.messages, 1);
    }
    if (op->id == OP_BROADCAST || op->id == OP_TEST_MESSAGE || svc->audit_all)
        nd_log(ND_LOG_INFO, "audit", "{s:s, s:s, s:s}", "op", op->name, "caller",
               caller ? caller->user_id : "", "target", msg.user_id[0] ? msg.user_id : "*");
    op_msg_clear(&msg);
    if (!cluster_call(svc, j)) /* Redis down, or no cluster: this instance alone */
        inbox_post(ws_server_inbox(svc->ws), &j->job);
    return 0;

nomem:
    free(j);
    op_msg_clear(&msg);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

json_t *service_result_json(const struct service_result *r)
{
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
