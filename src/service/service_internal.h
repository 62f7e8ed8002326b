/* service internals, shared by service.c (calls, budgets, queries),
 * service_notify.c (notifications), service_encode.c (envelopes) and
 * service_templates.c (the template operations). Each kind of call is its
 * own small job, embedding the backend request it travels in, with its own
 * answer. Not for other modules: they use service/service.h. */
#ifndef NOTIFYD_SERVICE_SERVICE_INTERNAL_H
#define NOTIFYD_SERVICE_SERVICE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "backend/backend.h"
#include "notify/templates.h"
#include "ratelimit.h"
#include "service/service.h"

#include <uthash.h>

/* one caller's API budget, keyed by the token's user id */
struct caller_budget {
    struct ratelimit rl;
    UT_hash_handle hh;
    char id[];
};

#define MAX_BUDGETS 10000 /* distinct callers tracked; the table restarts beyond */

struct service {
    const struct nd_config *cfg;
    struct backend *backend;       /* borrowed */
    int audit_all;                 /* NOTIFYD_AUDIT=all: a line for every call */
    pthread_mutex_t lock;          /* guards budgets: nd-grpc and nd-ws both call */
    struct caller_budget *budgets; /* {lock} */
    struct templates *templates;   /* borrowed; its own lock */
    _Atomic int64_t in_flight;     /* calls accepted and not answered yet */
};

/** Who gets an answer: every job embeds one. */
struct service_reply {
    const struct op_spec *op;
    service_done_fn done;
    void *arg;
    _Atomic int64_t *in_flight; /* the service's count of calls not answered yet */
    int any_thread;             /* done may run on any thread (service_call_any_thread) */
};

/** Answers @to with @body (consumed; NULL on ENOMEM) or @error. nd-ws (any thread when
 *  @to->any_thread). */
void service__reply(const struct service_reply *to, json_t *body, const char *error);

/** Answers @to with a notification's typed answer (or @error). nd-ws. */
void service__reply_sent(const struct service_reply *to, const struct service_sent *sent,
                         const char *error);

/** Hands @page (ListFeed's answer, borrowed for the call) to @to's caller. Any thread. */
void service__reply_page(const struct service_reply *to, const struct service_feed_page *page,
                         const char *error);

/** @page as ListFeed's JSON answer (REST); NULL on ENOMEM (service_feed.c). */
json_t *service__feed_page_json(const struct service_feed_page *page);

/** Writes the audit line of @op by @caller on @target, when the audit wants one. */
void service__audit(struct service *svc, const struct op_spec *op,
                    const struct token_claims *caller, const char *target);

/** Notify operations (service_notify.c): 0 when accepted, else as service_call(). */
int service__notify_call(struct service *svc, const struct service_reply *to, const json_t *req,
                         const struct token_claims *caller, char *err, size_t errlen);

/** A typed notification (ops_typed): 0 when accepted, else as service_call(). */
int service__notify_req(struct service *svc, const struct service_reply *to,
                        const struct op_req *req, const struct token_claims *caller, char *err,
                        size_t errlen);

/** ListFeed, GetFeedCounts, MarkFeed (service_feed.c): likewise; -EPERM for a user's token
 *  naming another user. */
int service__feed_call(struct service *svc, const struct service_reply *to, const json_t *req,
                       const struct token_claims *caller, char *err, size_t errlen);

/** Put/Get/List/DeleteTemplate (service_templates.c): likewise. */
int service__template_call(struct service *svc, const struct service_reply *to, const json_t *req,
                           const struct token_claims *caller, char *err, size_t errlen);

/** The single recipient's (or a broadcast's) delivery into *out. 0 or -ENOMEM. */
int service__encode_one(const struct op_msg *msg, struct delivery **out, char *err, size_t errlen);

/**
 * NotifyUsers: one delivery per recipient into copies[i].d, in user_ids order
 * (rendering @use per recipient into @rendered when the template needs it).
 * 0, -EINVAL naming a render problem, or -ENOMEM; on failure the caller
 * unrefs what was made.
 */
int service__encode_multi(const struct op_msg *msg, const struct template_use *use,
                          json_t *rendered, struct backend_copy *copies, char *err, size_t errlen);

/** The message for a backend call refused with @rc (-ESHUTDOWN: the store is closed). */
void service__refused(int rc, char *err, size_t errlen);

#endif
