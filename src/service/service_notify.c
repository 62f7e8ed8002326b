/* service_notify: the notify operations. A request is validated (rendered
 * from its template first, when it names one), encoded once per recipient
 * (service_encode.c) and handed to the backend as one publish: a single
 * recipient or a broadcast (notify_job), or NotifyUsers' recipients in
 * order with consecutive ids (multi_job). Each kind answers with what the
 * backend gave its copies. Calls from any thread; answers on nd-ws. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd.h"
#include "service/service_internal.h"
#include "stats.h"

/* one message's fate, for /metrics: kept, handed to a connection, or nobody's.
 * By type: a type of notifyd's own with its operation, any other by name (bounded) */
static void count_outcome(const struct op_spec *op, const char *type, const struct backend_copy *c)
{
    if (!c->id) /* never placed */
        return;
    enum stats_outcome o = c->stored        ? OUTCOME_STORED
                           : c->connections ? OUTCOME_DELIVERED
                                            : OUTCOME_DROPPED;
    const struct op_spec *as = op->flags & OP_ANY_TYPE ? ops_find_type(type) : op;
    if (as)
        stats_add(&nd_stats.by_op[as->id][o], 1);
    else
        stats_type_add(type, o, 1);
}

/* --- one recipient, or every connection --- */

struct notify_job {
    struct backend_publish pub;
    struct service_reply to;
    char type[ND_TYPE_MAX + 1]; /* delivered, for /metrics */
    struct backend_copy copy;
};

static void notify_answer(struct backend_req *r)
{
    struct notify_job *j = ND_CONTAINER_OF(r, struct notify_job, pub.req);
    struct service_sent sent = {"", j->copy.connections, j->copy.stored, j->copy.in_feed};
    count_outcome(j->to.op, j->type, &j->copy);
    msgid_format(j->copy.id, sent.message_id);
    service__reply_sent(&j->to, &sent, atomic_load(&r->err) ? r->why : NULL);
    free(j);
}

static struct backend_publish *notify_new(const struct service_reply *to, const struct op_msg *msg,
                                          char *err, size_t errlen)
{
    struct notify_job *j = calloc(1, sizeof *j);
    if (!j || service__encode_one(msg, &j->copy.d, err, errlen) < 0) {
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->to = *to;
    snprintf(j->type, sizeof j->type, "%s", msg->type);
    j->pub.req.done = notify_answer;
    j->pub.n = 1;
    j->pub.copies = &j->copy;
    return &j->pub;
}

/* --- NotifyUsers: a copy per recipient, in user_ids order --- */

struct multi_job {
    struct backend_publish pub;
    struct service_reply to;
    char type[ND_TYPE_MAX + 1]; /* delivered, for /metrics */
    struct backend_copy copies[];
};

static void multi_answer(struct backend_req *r)
{
    struct multi_job *j = ND_CONTAINER_OF(r, struct multi_job, pub.req);
    json_t *ids = json_array();
    int connections = 0, reached = 0, stored = 0, in_feed = 0;
    for (size_t i = 0; i < j->pub.n; i++) {
        const struct backend_copy *c = &j->copies[i];
        char id[MSGID_LEN + 1];
        count_outcome(j->to.op, j->type, c);
        msgid_format(c->id, id);
        json_array_append_new(ids, json_string(id));
        connections += c->connections;
        reached += c->connections > 0;
        stored += c->stored;
        in_feed += c->in_feed;
    }
    char why[sizeof r->why + 160];
    if (atomic_load(&r->err))
        snprintf(why, sizeof why,
                 "%s: not every recipient's copy could be placed (%s); the message ids of the "
                 "others were given",
                 j->to.op->name, r->why);
    /* Publish's answer has one shape for every target: how many were kept is stored_users */
    json_t *body = j->to.op->flags & OP_ANY_TYPE
                       ? json_pack("{s:o, s:i, s:i, s:i, s:b, s:i, s:b, s:i}", "message_ids", ids,
                                   "users", (int)j->pub.n, "reached", reached, "stored_users",
                                   stored, "stored", stored > 0, "connections", connections, "feed",
                                   in_feed > 0, "feed_users", in_feed)
                       : json_pack("{s:o, s:i, s:i, s:i, s:i, s:i}", "message_ids", ids, "users",
                                   (int)j->pub.n, "reached", reached, "stored", stored,
                                   "connections", connections, "feed_users", in_feed);
    service__reply(&j->to, body, atomic_load(&r->err) ? why : NULL);
    free(j);
}

static struct backend_publish *multi_new(const struct service_reply *to, const struct op_msg *msg,
                                         const struct template_use *use, json_t *rendered, int *rc,
                                         char *err, size_t errlen)
{
    size_t n = json_array_size(msg->user_ids);
    struct multi_job *j = calloc(1, sizeof *j + n * sizeof j->copies[0]);
    if (!j) {
        *rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if ((*rc = service__encode_multi(msg, use, rendered, j->copies, err, errlen)) < 0) {
        for (size_t i = 0; i < n; i++)
            if (j->copies[i].d)
                delivery_unref(j->copies[i].d);
        free(j);
        return NULL;
    }
    j->to = *to;
    snprintf(j->type, sizeof j->type, "%s", msg->type);
    j->pub.req.done = multi_answer;
    j->pub.n = n;
    j->pub.copies = j->copies;
    return &j->pub;
}

/* --- the call --- */

/* kept for a recipient with no live connection outside ack mode: Publish's
 * store says, else the type's own rule (Publish: of the operation that
 * delivers that type), or urgency */
static int keeps(const struct op_msg *msg)
{
    const struct op_spec *as = msg->op->flags & OP_ANY_TYPE ? ops_find_type(msg->type) : msg->op;
    if (msg->store != STORE_AUTO)
        return msg->store == STORE_ALWAYS;
    return (as && (as->flags & OP_IMPORTANT)) || msg->priority == PRIORITY_URGENT;
}

/* how long a kept copy waits (0: NOTIFYD_OFFLINE_TTL): Publish's ttl_ms, or
 * NOTIFYD_COMMAND_TTL for a browser command; -EINVAL past the offline TTL */
static int64_t keep_ms(const struct service *svc, const struct op_msg *msg, char *err,
                       size_t errlen)
{
    const struct op_spec *as = msg->op->flags & OP_ANY_TYPE ? ops_find_type(msg->type) : msg->op;
    int64_t offline = svc->cfg->offline_ttl_s * 1000, command = svc->cfg->command_ttl_s * 1000;
    if (msg->ttl_ms > offline)
        return ops_errorf(err, errlen,
                          "ttl_ms is %lld, it must be at most %lld (NOTIFYD_OFFLINE_TTL); 0 is "
                          "the type's own",
                          (long long)msg->ttl_ms, (long long)offline);
    if (msg->ttl_ms)
        return msg->ttl_ms;
    return as && (as->flags & OP_COMMAND) ? (command < offline ? command : offline) : 0;
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

/* the job of its kind for a validated @msg: its answer set, its copies encoded */
static struct backend_publish *publish_new(const struct service_reply *to, const struct op_msg *msg,
                                           const struct template_use *use, json_t *rendered,
                                           int *rc, char *err, size_t errlen)
{
    if (msg->user_ids)
        return multi_new(to, msg, use, rendered, rc, err, errlen);
    *rc = -ENOMEM;
    return notify_new(to, msg, err, errlen);
}

/* a validated @msg published: its copies encoded, handed to the backend; 0 or -errno */
static int publish(struct service *svc, const struct service_reply *to, const struct op_msg *msg,
                   const struct template_use *use, json_t *rendered,
                   const struct token_claims *caller, char *err, size_t errlen)
{
    int rc;
    int64_t ttl_ms = keep_ms(svc, msg, err, errlen);
    if (ttl_ms < 0)
        return -EINVAL;
    struct backend_publish *p = publish_new(to, msg, use, rendered, &rc, err, errlen);
    if (!p)
        return rc;
    p->important = keeps(msg);
    p->feed = ops_in_feed(msg);
    p->ttl_ms = ttl_ms;
    stats_add(&nd_stats.messages, (int64_t)p->n);
    char many[32];
    snprintf(many, sizeof many, "%zu users", p->n);
    service__audit(svc, to->op, caller,
                   msg->user_id[0] ? msg->user_id
                   : msg->user_ids ? many
                                   : "*");
    backend_publish(svc->backend, p); /* @p is the backend's until its answer */
    return 0;
}

int service__notify_call(struct service *svc, const struct service_reply *to, const json_t *req,
                         const struct token_claims *caller, char *err, size_t errlen)
{
    const struct op_spec *op = to->op;
    struct op_msg msg;
    struct template_use use;
    json_t *rendered = NULL;
    memset(&use, 0, sizeof use);
    memset(&msg, 0, sizeof msg);
    int templated = templates_prepare(svc->templates, op, req, &use, err, errlen), rc = templated;
    if (templated > 0) {
        /* validated with the first recipient's text; a multicast renders each one later */
        const json_t *first =
            op->flags & OP_MULTI ? json_array_get(json_object_get(req, "user_ids"), 0) : NULL;
        const char *user = json_string_value(first ? first : json_object_get(req, "user_id"));
        rendered = rendered_request(req, &use, user ? user : "", &rc, err, errlen);
    }
    if (rc < 0 || (templated > 0 && !rendered))
        goto out;
    if (ops_build(op, rendered ? rendered : req, &msg, err, errlen) < 0) {
        rc = -EINVAL;
        goto out;
    }
    rc = publish(svc, to, &msg, templated > 0 ? &use : NULL, rendered, caller, err, errlen);
out:
    op_msg_clear(&msg);
    templates_use_clear(&use);
    json_decref(rendered);
    return rc < 0 && rc != -ENOMEM ? -EINVAL : rc;
}

int service__notify_req(struct service *svc, const struct service_reply *to,
                        const struct op_req *req, const struct token_claims *caller, char *err,
                        size_t errlen)
{
    struct op_msg msg;
    int rc = ops_build_req(req, &msg, err, errlen);
    if (rc == 0)
        rc = publish(svc, to, &msg, NULL, NULL, caller, err, errlen);
    op_msg_clear(&msg);
    return rc < 0 && rc != -ENOMEM ? -EINVAL : rc;
}
