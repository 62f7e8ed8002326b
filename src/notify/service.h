/* service: the one function per operation that gRPC and REST both call.
 * It validates the request (ops_build), encodes the message once and hands
 * it to the WebSocket thread; the answer comes back through a callback that
 * runs on nd-ws. service_call() may be called from any thread. */
#ifndef NOTIFYD_NOTIFY_SERVICE_H
#define NOTIFYD_NOTIFY_SERVICE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/token.h"
#include "config.h"
#include "delivery/msgid.h"
#include "notify/ops.h"

struct ws_server;

/** The answer to one operation. Pointers are borrowed for the callback only. */
struct service_result {
    const struct op_spec *op;
    /* notify operations */
    char message_id[MSGID_LEN + 1];
    int connections; /* notify: connections reached now; IsUserOnline: the user's */
    int stored;      /* kept for the user's next connect */
    /* GetStats */
    int total_connections;
    int online_users;
    const char **users; /* sorted ids of online users */
    size_t n_users;
    int64_t uptime_seconds;
    int64_t messages_total;
    int64_t deliveries_total;
    /* IsUserOnline */
    const char *user_id;
    int is_online;
    /* NotifyUsers: each recipient's id, in user_ids order; stored counts them */
    const uint64_t *ids;
    size_t n_ids;
    int reached; /* recipients with a connection now */
    /* template operations: the response object */
    json_t *body;
    /* set when the operation ran but failed (the store could not keep it) */
    const char *error;
};

/**
 * The answer as a JSON object with the proto's response field names -- the
 * one rendering both REST (as `data`) and gRPC (packed by name) send.
 * Caller decrefs; NULL on ENOMEM.
 */
json_t *service_result_json(const struct service_result *r);

/** Runs once on nd-ws with the answer of an accepted call. */
typedef void (*service_done_fn)(void *arg, const struct service_result *res);

struct service;

struct templates;

/** Makes the service over @ws, @cfg and @templates (borrowed). NULL on ENOMEM. */
struct service *service_new(struct ws_server *ws, const struct nd_config *cfg,
                            struct templates *templates);
void service_free(struct service *svc);

struct cluster;
/** Sends operations through Redis (scale-out) while it is up. Main thread, before ready. */
void service_set_cluster(struct service *svc, struct cluster *c);

/**
 * Runs @op with @req, a flat JSON object of the operation's fields (borrowed),
 * for @caller (whose token was checked; named in the audit log).
 * Returns 0 when accepted: @done(@arg, result) will run exactly once, on nd-ws.
 * Otherwise @done never runs and the return says why, with a message in @err:
 *   -EINVAL    a field is missing or invalid (the message names it)
 *   -EPERM     the caller's role may not run @op (templates: admin only)
 *   -ENOENT    Get/DeleteTemplate: no such template
 *   -EAGAIN    the caller is over NOTIFYD_API_RATE_LIMIT
 *   -ESHUTDOWN the server is draining (or, for a template change, Redis is unreachable)
 *   -ENOMEM    out of memory
 */
int service_call(struct service *svc, const struct op_spec *op, const json_t *req,
                 const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                 size_t errlen);

#endif
