/* service: validate -> encode once -> job on nd-ws -> fan out -> answer.
 * Jobs keep their inbox order, and the inbox stamps message ids in that
 * order, so a user sees ids increase. */
#include "notify/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/envelope.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "stats.h"
#include "ws/server.h"

struct service {
    struct ws_server *ws;
};

struct service_job {
    struct inbox_job job;
    const struct op_spec *op;
    struct delivery *d;               /* notify operations */
    char user_id[ND_USER_ID_MAX + 1]; /* IsUserOnline */
    service_done_fn done;
    void *arg;
};

struct service *service_new(struct ws_server *ws)
{
    struct service *svc = calloc(1, sizeof *svc);
    if (svc)
        svc->ws = ws;
    return svc;
}

void service_free(struct service *svc)
{
    free(svc);
}

static void notify_run(struct service_job *j, struct ws_server *ws, struct service_result *r)
{
    delivery_stamp(j->d, j->job.id);
    msgid_format(j->job.id, r->message_id);
    r->connections = ws_deliver(ws, j->d);
    stats_add(&nd_stats.deliveries, r->connections);
    delivery_unref(j->d);
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

    memset(&r, 0, sizeof r);
    r.op = j->op;
    if (j->d) {
        notify_run(j, ws, &r);
    } else if (j->op->id == OP_GET_STATS) {
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

int service_call(struct service *svc, const struct op_spec *op, const json_t *req,
                 const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                 size_t errlen)
{
    struct op_msg msg;
    if (health_get() == HEALTH_DRAINING) {
        snprintf(err, errlen, "server is shutting down");
        return -ESHUTDOWN;
    }
    if (ops_build(op, req, &msg, err, errlen) < 0)
        return -EINVAL;

    struct service_job *j = calloc(1, sizeof *j);
    if (!j)
        goto nomem;
    j->op = op;
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
        stats_add(&nd_stats.messages, 1);
    }
    if (op->id == OP_BROADCAST || op->id == OP_TEST_MESSAGE)
        nd_log(ND_LOG_INFO, "audit", "{s:s, s:s, s:s}", "op", op->name, "caller",
               caller ? caller->user_id : "", "target", msg.user_id[0] ? msg.user_id : "*");
    op_msg_clear(&msg);
    inbox_post(ws_server_inbox(svc->ws), &j->job);
    return 0;

nomem:
    free(j);
    op_msg_clear(&msg);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}
