/* service internals, shared by service.c (calls, fan-out, answers),
 * service_encode.c (envelopes) and service_templates.c (the template
 * operations). Not for other modules: they use notify/service.h. */
#ifndef NOTIFYD_NOTIFY_SERVICE_INTERNAL_H
#define NOTIFYD_NOTIFY_SERVICE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "delivery/inbox.h"
#include "nd.h"
#include "notify/service.h"
#include "notify/templates.h"
#include "ratelimit.h"

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
    struct templates *templates;   /* borrowed; its own lock */
};

struct service_job {
    struct inbox_job job;
    const struct op_spec *op;
    struct delivery *d; /* notify operations */
    int important;      /* kept for an offline user: by type, or urgent */
    /* NotifyUsers: one delivery per recipient, in user_ids order */
    struct delivery **ds;
    size_t n;
    uint64_t *ids;            /* their message ids, once given */
    int *conns;               /* each recipient's connections reached */
    struct multi_part *parts; /* cluster: one callback argument per recipient */
    _Atomic int pending;      /* stores / publishes not answered yet, + 1 while submitting */
    _Atomic int stored_n;     /* how many were kept */
    _Atomic int failed;       /* an -errno of one of them */
    /* template operations */
    char template_id[TEMPLATE_ID_MAX + 1];
    char *template_json; /* PutTemplate: the persisted form; NULL for a delete */
    int created;
    json_t *body;                     /* the answer */
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

struct multi_part {
    struct service_job *j;
    size_t i;
};

/** Frees @j and whatever it still holds. */
void service__job_free(struct service_job *j);

/** Posts @j to nd-ws, where its job.run answers the caller. Any thread. */
void service__post(struct service_job *j);

/** The single recipient's (or a broadcast's) delivery into j->d. 0 or -ENOMEM. */
int service__encode_one(struct service_job *j, const struct op_msg *msg, char *err, size_t errlen);

/**
 * NotifyUsers: one delivery per recipient into j->ds (rendering @use per
 * recipient into @rendered when the template needs it). 0, -EINVAL naming a
 * render problem, or -ENOMEM.
 */
int service__encode_multi(struct service_job *j, const struct op_msg *msg,
                          const struct template_use *use, json_t *rendered, char *err,
                          size_t errlen);

/** Put/Get/List/DeleteTemplate: 0 when accepted (@j answers later), else as service_call(). */
int service__template_call(struct service *svc, struct service_job *j, const json_t *req,
                           const struct token_claims *caller, char *err, size_t errlen);

#endif
