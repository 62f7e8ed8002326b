/* feed_mark: a browser marks items of its own feed over its WebSocket
 * ({"type":"feed_mark","data":{"ids":[...]|"all":true,"action":"read"}}).
 * The call is MarkFeed's, for the connection's user and no other; what it
 * changed reaches every tab as `feed_update` (the backend), so only a
 * refusal is answered here, as an `error` to the tab that asked -- if it is
 * still open when the answer comes. The connection's thread; the answer
 * comes on the hub, which sends a refusal back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd.h"
#include "notify/ops.h"
#include "service/service.h"
#include "ws/ws_internal.h"

struct mark_call {
    struct ws_server *ws;
    uint64_t client;                  /* the asking connection's id */
    char user_id[ND_USER_ID_MAX + 1]; /* its user */
    struct inbox_job hop;             /* from the hub to the connection's thread */
    char *error;                      /* the refusal, carried there (owned) */
};

/* the connection's thread */
static void refused(struct mark_call *m, const char *error)
{
    struct conn *c = error && m->ws->ctx ? ws__conn_find(m->ws, m->user_id, m->client) : NULL;
    if (c)
        ws__conn_error(m->ws, c, "feed_mark_failed", error);
}

static void refused_run(struct inbox_job *job, void *ctx)
{
    struct mark_call *m = ND_CONTAINER_OF(job, struct mark_call, hop);
    (void)ctx;
    refused(m, m->error ? m->error : "out of memory");
    free(m->error);
    free(m);
}

/* service_done_fn, on the hub */
static void marked(void *arg, const struct service_result *res)
{
    struct mark_call *m = arg;
    if (m->ws->shard && res->error) {
        m->error = strdup(res->error);
        m->hop.run = refused_run;
        inbox_post(m->ws->inbox, &m->hop);
        return;
    }
    refused(m, res->error);
    free(m);
}

void ws__feed_mark(struct ws_server *ws, struct conn *c, const json_t *data)
{
    char err[300];
    const char *user = c->link.user ? c->link.user->id : "";
    json_t *given = json_object_get(data, "user_id");
    if (given && (!json_is_string(given) || strcmp(json_string_value(given), user))) {
        ws__conn_error(ws, c, "feed_mark_failed",
                       "feed_mark changes the connection's own feed: leave user_id out");
        return;
    }
    json_t *req = json_deep_copy(data);
    struct mark_call *m = calloc(1, sizeof *m);
    if (!req || !m || json_object_set_new(req, "user_id", json_string(user)) < 0) {
        json_decref(req);
        free(m);
        ws__conn_error(ws, c, "feed_mark_failed", "out of memory");
        return;
    }
    m->ws = ws;
    m->client = c->id;
    snprintf(m->user_id, sizeof m->user_id, "%s", user);
    struct token_claims caller = {.roles =
                                      TOKEN_ROLE_USER}; /* the user, whatever the token's role */
    snprintf(caller.user_id, sizeof caller.user_id, "%s", user);
    int rc = service_call(atomic_load(&ws->hub->svc), ops_get(OP_MARK_FEED), req, &caller, marked,
                          m, err, sizeof err);
    json_decref(req);
    if (rc < 0) {
        free(m);
        ws__conn_error(ws, c, "feed_mark_failed", err);
    }
}
