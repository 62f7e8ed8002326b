/* service: the one function per operation that gRPC and REST both call
 * (service_call; a typed notification from gRPC: service_call_req).
 * It validates the request (ops_build), encodes the message once and hands
 * it to the backend; the answer comes back through a callback that runs on
 * the local thread (nd-ws). service_call() may be called from any thread. */
#ifndef NOTIFYD_SERVICE_SERVICE_H
#define NOTIFYD_SERVICE_SERVICE_H

#include <jansson.h>
#include <stddef.h>

#include "auth/token.h"
#include "config.h"
#include "delivery/msgid.h"
#include "notify/ops.h"

/** What became of a notification to one user or to all: its answer, typed. */
struct service_sent {
    char message_id[MSGID_LEN + 1];
    int connections; /* live connections it was handed to */
    int stored;      /* kept for later */
    int feed;        /* kept in the user's feed (a broadcast: shared) */
};

/** A ListFeed page: the items as the store gives them (each item's envelope as delivered). */
struct service_feed_page {
    const struct feed_item *items; /* newest first */
    size_t n_items;
    uint64_t next_before; /* the next page's cursor; 0 at the end */
    const char *user_id;
};

/** Logs (once per process) that an item of @page was left out: its envelope is unreadable. */
void service_feed_item_unreadable(const struct service_feed_page *page);

/** The answer to one operation, borrowed for the callback only. */
struct service_result {
    const struct op_spec *op;
    /* the answer as a JSON object with the proto's response field names -- the
     * one rendering both REST (as `data`) and gRPC (packed by name) send;
     * NULL on ENOMEM, or when @sent carries the answer */
    json_t *body;
    /* set when the operation ran but failed (the message could not be kept, or
     * what the instances share became unreachable): the body is then not an answer */
    const char *error;
    /* a notification to one user or all: its answer without JSON (gRPC packs it
     * straight; service_result_json renders it for REST); else NULL */
    const struct service_sent *sent;
    /* ListFeed's page without JSON (gRPC packs it from the envelopes; service_result_json
     * renders it for REST); else NULL */
    const struct service_feed_page *page;
};

/** The answer as JSON with a reference for the caller (who decrefs); NULL on ENOMEM. */
json_t *service_result_json(const struct service_result *r);

/** Runs once with the answer of an accepted call: on nd-ws (any thread for
 *  service_call_any_thread()). */
typedef void (*service_done_fn)(void *arg, const struct service_result *res);

struct service;
struct backend;
struct templates;

/**
 * Makes the service over @backend, @cfg and @templates (all borrowed; the
 * backend's answers must reach its local thread). NULL on ENOMEM. Main thread.
 */
struct service *service_new(const struct nd_config *cfg, struct backend *backend,
                            struct templates *templates);
void service_free(struct service *svc);

/**
 * Runs @op with @req, a flat JSON object of the operation's fields (borrowed),
 * for @caller (whose token was checked; named in the audit log).
 * Returns 0 when accepted: @done(@arg, result) will run exactly once, on nd-ws.
 * Otherwise @done never runs and the return says why, with a message in @err:
 *   -EINVAL    a field is missing or invalid (the message names it)
 *   -EPERM     the caller's role may not run @op (templates: admin only; a feed: a
 *              user's token for another user's)
 *   -ENOENT    Get/DeleteTemplate: no such template
 *   -EAGAIN    the caller is over NOTIFYD_API_RATE_LIMIT
 *   -EBUSY     NOTIFYD_MAX_PENDING_CALLS calls wait already (back-pressure)
 *   -ESHUTDOWN the server is draining (or, for a template change, Redis is unreachable)
 *   -ENOMEM    out of memory
 */
/** Calls accepted and not answered yet. Any thread. */
int64_t service_in_flight(const struct service *svc);

int service_call(struct service *svc, const struct op_spec *op, const json_t *req,
                 const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                 size_t errlen);

/**
 * service_call() for a caller whose @done may run on any thread (gRPC's): a feed
 * read the embedded store answers (ListFeed, GetFeedCounts) is then answered on
 * nd-store, without a hop through nd-ws. Everything else as service_call().
 */
int service_call_any_thread(struct service *svc, const struct op_spec *op, const json_t *req,
                            const struct token_claims *caller, service_done_fn done, void *arg,
                            char *err, size_t errlen);

/**
 * service_call() of a typed request (ops_typed(req->op); gRPC builds it straight
 * from protobuf): the same checks, answers and errors. @req's strings are
 * borrowed until this returns.
 */
int service_call_req(struct service *svc, const struct op_req *req,
                     const struct token_claims *caller, service_done_fn done, void *arg, char *err,
                     size_t errlen);

#endif
