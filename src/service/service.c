/* service: the checks every call passes (draining, role, the caller's rate
 * budget), then the call's own kind: notifications (service_notify.c),
 * templates (service_templates.c), feeds (service_feed.c), and the queries,
 * GetBacklog and DisconnectUser here. Each kind is a
 * small job that travels in its backend request and answers on nd-ws. */
#include "service/service.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/msgid.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "service/service_internal.h"
#include "stats.h"

struct service *service_new(const struct nd_config *cfg, struct backend *backend,
                            struct templates *templates)
{
    struct service *svc = calloc(1, sizeof *svc);
    if (!svc)
        return NULL;
    svc->cfg = cfg;
    svc->backend = backend;
    svc->audit_all = !strcmp(cfg->audit, "all");
    svc->templates = templates;
    pthread_mutex_init(&svc->lock, NULL);
    return svc;
}

static void clear_budgets(struct service *svc)
{
    struct caller_budget *b, *tmp;
    HASH_ITER (hh, svc->budgets, b, tmp) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false, a uthash head's hh.prev is NULL */
        HASH_DEL(svc->budgets, b);
        free(b);
    }
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
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): as in clear_budgets (it left none) */
            HASH_ADD_KEYPTR(hh, svc->budgets, b->id, len, b);
        }
    }
    if (b)
        ok = ratelimit_take(&b->rl, rate, rate, nd_mono_us());
    pthread_mutex_unlock(&svc->lock);
    return ok;
}

void service__reply(const struct service_reply *to, json_t *body, const char *error)
{
    struct service_result r = {to->op, body, error, NULL, NULL};
    atomic_fetch_sub(to->in_flight, 1);
    to->done(to->arg, &r);
    json_decref(body);
}

void service__reply_sent(const struct service_reply *to, const struct service_sent *sent,
                         const char *error)
{
    struct service_result r = {to->op, NULL, error, error ? NULL : sent, NULL};
    atomic_fetch_sub(to->in_flight, 1);
    to->done(to->arg, &r);
}

void service__reply_page(const struct service_reply *to, const struct service_feed_page *page,
                         const char *error)
{
    struct service_result r = {to->op, NULL, error, NULL, error ? NULL : page};
    atomic_fetch_sub(to->in_flight, 1);
    to->done(to->arg, &r);
}

int64_t service_in_flight(const struct service *svc)
{
    return atomic_load(&svc->in_flight);
}

json_t *service_result_json(const struct service_result *r)
{
    if (r->sent && !r->body)
        return json_pack("{s:s, s:i, s:b, s:b}", "message_id", r->sent->message_id, "connections",
                         r->sent->connections, "stored", r->sent->stored, "feed", r->sent->feed);
    if (r->page && !r->body)
        return service__feed_page_json(r->page);
    return json_incref(r->body);
}

void service__audit(struct service *svc, const struct op_spec *op,
                    const struct token_claims *caller, const char *target)
{
    /* what changes what everyone gets is always written; the rest with NOTIFYD_AUDIT=all;
     * reads (a console polling stats every 2 s) at debug */
    int always = op->id == OP_BROADCAST || op->id == OP_TEST_MESSAGE || op->id == OP_PUT_TEMPLATE ||
                 op->id == OP_DELETE_TEMPLATE || (op->id == OP_PUBLISH && !strcmp(target, "*"));
    if (always || svc->audit_all) {
        const char *kv[] = {"op",     op->name, "caller", caller ? caller->user_id : "",
                            "target", target};
        nd_log_strs(op->flags & OP_READ ? ND_LOG_DEBUG : ND_LOG_INFO, "audit", 3, kv);
    }
}

/* --- GetStats and IsUserOnline: counted by the backend (cluster-wide in a cluster) --- */

struct query_job {
    struct backend_query q;
    struct service_reply to;
};

static void stats_answer(struct backend_req *r)
{
    struct query_job *j = ND_CONTAINER_OF(r, struct query_job, q.req);
    json_t *users = json_array(), *body = NULL;
    for (size_t i = 0; users && i < j->q.n_users; i++)
        json_array_append_new(users, json_string(j->q.users[i]));
    if (!atomic_load(&r->err))
        body =
            json_pack("{s:i, s:o, s:i, s:I, s:I, s:I}", "total_connections", j->q.connections,
                      "connected_users", users, "online_users", (int)j->q.n_users, "uptime_seconds",
                      (json_int_t)((nd_wall_ms() - stats_get(&nd_stats.started_ms)) / 1000),
                      "messages_total", (json_int_t)stats_get(&nd_stats.messages),
                      "deliveries_total", (json_int_t)stats_get(&nd_stats.deliveries));
    else
        json_decref(users);
    service__reply(&j->to, body, atomic_load(&r->err) ? r->why : NULL);
    free(j);
}

static void online_answer(struct backend_req *r)
{
    struct query_job *j = ND_CONTAINER_OF(r, struct query_job, q.req);
    json_t *body = json_pack("{s:s, s:b, s:i}", "user_id", j->q.user_id, "is_online",
                             j->q.connections > 0, "connections", j->q.connections);
    service__reply(&j->to, body, atomic_load(&r->err) ? r->why : NULL);
    free(j);
}

static int query_call(struct service *svc, const struct service_reply *to, const json_t *req,
                      const struct token_claims *caller, char *err, size_t errlen)
{
    struct op_msg msg;
    memset(&msg, 0, sizeof msg);
    if (ops_build(to->op, req, &msg, err, errlen) < 0)
        return -EINVAL;
    struct query_job *j = calloc(1, sizeof *j);
    int stats = to->op->id == OP_GET_STATS, rc = -ENOMEM;
    if (j) {
        j->to = *to;
        j->q.req.done = stats ? stats_answer : online_answer;
        snprintf(j->q.user_id, sizeof j->q.user_id, "%s", msg.user_id);
        service__audit(svc, to->op, caller, msg.user_id[0] ? msg.user_id : "*");
        rc = stats ? backend_stats(svc->backend, &j->q) : backend_online(svc->backend, &j->q);
        if (rc < 0)
            free(j);
    }
    op_msg_clear(&msg);
    if (rc < 0)
        service__refused(rc, err, errlen);
    return rc;
}

/* --- GetBacklog: what the backend keeps for a user (in Redis when scaled out) --- */

struct backlog_job {
    struct backend_backlog q;
    struct service_reply to;
};

static void backlog_answer(struct backend_req *r)
{
    struct backlog_job *j = ND_CONTAINER_OF(r, struct backlog_job, q.req);
    char oldest[MSGID_LEN + 1] = "", newest[MSGID_LEN + 1] = "";
    if (j->q.messages > 0) {
        msgid_format(j->q.oldest, oldest);
        msgid_format(j->q.newest, newest);
    }
    json_t *body = json_pack("{s:s, s:I, s:s, s:s}", "user_id", j->q.user_id, "messages",
                             (json_int_t)j->q.messages, "oldest_message_id", oldest,
                             "newest_message_id", newest);
    service__reply(&j->to, body, atomic_load(&r->err) ? r->why : NULL);
    free(j);
}

static int backlog_call(struct service *svc, const struct service_reply *to, const json_t *req,
                        const struct token_claims *caller, char *err, size_t errlen)
{
    struct op_msg msg;
    memset(&msg, 0, sizeof msg);
    if (ops_build(to->op, req, &msg, err, errlen) < 0)
        return -EINVAL;
    struct backlog_job *j = calloc(1, sizeof *j);
    int rc = -ENOMEM;
    if (j) {
        j->to = *to;
        j->q.req.done = backlog_answer;
        memcpy(j->q.user_id, msg.user_id, sizeof j->q.user_id);
        service__audit(svc, to->op, caller, msg.user_id);
        if ((rc = backend_backlog(svc->backend, &j->q)) < 0)
            free(j);
    }
    op_msg_clear(&msg);
    if (rc < 0)
        service__refused(rc, err, errlen);
    return rc;
}

/* --- DisconnectUser: closed on every instance by the backend --- */

struct disconnect_job {
    struct backend_disconnect d;
    struct service_reply to;
};

static void disconnect_answer(struct backend_req *r)
{
    struct disconnect_job *j = ND_CONTAINER_OF(r, struct disconnect_job, d.req);
    json_t *body = json_pack("{s:s, s:i}", "user_id", j->d.user_id, "closed", j->d.closed);
    service__reply(&j->to, body, atomic_load(&r->err) ? r->why : NULL);
    free(j);
}

static int disconnect_call(struct service *svc, const struct service_reply *to, const json_t *req,
                           const struct token_claims *caller, char *err, size_t errlen)
{
    struct op_msg msg;
    if (ops_build(to->op, req, &msg, err, errlen) < 0)
        return -EINVAL;
    struct disconnect_job *j = calloc(1, sizeof *j);
    int rc = -ENOMEM;
    if (j) {
        j->to = *to;
        j->d.req.done = disconnect_answer;
        memcpy(j->d.user_id, msg.user_id, sizeof j->d.user_id);
        memcpy(j->d.reason, msg.reason, sizeof j->d.reason);
        j->d.reconnect = msg.reconnect;
        /* always written: an operator acted on a user */
        nd_log(ND_LOG_INFO, "audit", "{s:s, s:s, s:s, s:s, s:b}", "op", to->op->name, "caller",
               caller ? caller->user_id : "", "target", msg.user_id, "reason", msg.reason,
               "reconnect", msg.reconnect);
        if ((rc = backend_disconnect(svc->backend, &j->d)) < 0)
            free(j);
    }
    op_msg_clear(&msg);
    if (rc < 0)
        service__refused(rc, err, errlen);
    return rc;
}

/* whether @op hands work to the WebSocket threads: a message, closes, a feed change */
static int delivers(const struct op_spec *op)
{
    return (op->flags & (OP_NOTIFY | OP_CLOSES)) || (op->flags & (OP_FEED | OP_READ)) == OP_FEED;
}

/* a call refused by back-pressure, after admit() counted it in flight */
static int busy(struct service *svc)
{
    atomic_fetch_sub(&svc->in_flight, 1);
    stats_add(&nd_stats.api_busy, 1);
    return -EBUSY;
}

/* the checks every call passes before its own: 0, or refused with -errno and @err;
 * when 0 the call counts as in flight until answered (or refused after all) */
static int admit(struct service *svc, const struct op_spec *op, const struct token_claims *caller,
                 char *err, size_t errlen)
{
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
    /* back-pressure: calls wait on nd-ws (and Redis, the store) in a queue
     * that must not grow without end when they come faster than it drains */
    if (atomic_fetch_add(&svc->in_flight, 1) >= svc->cfg->max_pending_calls) {
        snprintf(err, errlen, "server busy: %lld calls are waiting; try again shortly",
                 (long long)svc->cfg->max_pending_calls);
        return busy(svc);
    }
    /* ... and the hub answers a call once it has handed the deliveries to the
     * other WebSocket threads, whose queues must not grow without end either */
    const char *thread = "";
    int64_t backlog = delivers(op) ? backend_local_backlog(svc->backend, &thread) : 0;
    if (backlog >= svc->cfg->max_pending_calls) {
        snprintf(err, errlen,
                 "server busy: WebSocket thread %s has %lld deliveries waiting; try again shortly",
                 thread, (long long)backlog);
        return busy(svc);
    }
    return 0;
}

void service__refused(int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", rc == -ESHUTDOWN ? "server is shutting down" : "out of memory");
}

static int call(struct service *svc, const struct op_spec *op, const json_t *req,
                const struct token_claims *caller, service_done_fn done, void *arg, int any_thread,
                char *err, size_t errlen)
{
    int rc = admit(svc, op, caller, err, errlen);
    if (rc < 0)
        return rc;
    struct service_reply to = {op, done, arg, &svc->in_flight, any_thread};
    rc = op->flags & OP_TEMPLATE    ? service__template_call(svc, &to, req, caller, err, errlen)
         : op->flags & OP_NOTIFY    ? service__notify_call(svc, &to, req, caller, err, errlen)
         : op->flags & OP_CLOSES    ? disconnect_call(svc, &to, req, caller, err, errlen)
         : op->flags & OP_FEED      ? service__feed_call(svc, &to, req, caller, err, errlen)
         : op->id == OP_GET_BACKLOG ? backlog_call(svc, &to, req, caller, err, errlen)
                                    : query_call(svc, &to, req, caller, err, errlen);
    if (rc < 0) /* refused: its answer never comes */
        atomic_fetch_sub(&svc->in_flight, 1);
    return rc;
}

int service_call(struct service *svc, const struct op_spec *op, const json_t *req,
                 const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                 size_t errlen)
{
    return call(svc, op, req, caller, done, arg, 0, err, errlen);
}

int service_call_any_thread(struct service *svc, const struct op_spec *op, const json_t *req,
                            const struct token_claims *caller, service_done_fn done, void *arg,
                            char *err, size_t errlen)
{
    return call(svc, op, req, caller, done, arg, 1, err, errlen);
}

int service_call_req(struct service *svc, const struct op_req *req,
                     const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                     size_t errlen)
{
    int rc = admit(svc, req->op, caller, err, errlen);
    if (rc < 0)
        return rc;
    struct service_reply to = {req->op, done, arg, &svc->in_flight, 0};
    if ((rc = service__notify_req(svc, &to, req, caller, err, errlen)) < 0)
        atomic_fetch_sub(&svc->in_flight, 1);
    return rc;
}
