/* shards: what one WebSocket thread asks of another. Every request is an
 * inbox job posted to the thread that owns what it touches: the hub (thread
 * 0) owns the edge and is the backend's local thread, so presence, acks
 * and sockets to linger go there; each thread owns its connections, so the
 * hub sends it the sockets it adopts, the messages for its users and
 * DisconnectUser. Posts to one inbox keep their order, so a user's
 * messages reach each of its threads in the order the hub sent them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/edge.h"
#include "log.h"
#include "nd.h"
#include "stats.h"
#include "ws/recv_guard.h"
#include "ws/ws_internal.h"

/* --- to the hub --- */

struct user_job {
    struct inbox_job job;
    int delta;   /* presence */
    int nonack;  /* presence */
    uint64_t id; /* forget */
    char user_id[ND_USER_ID_MAX + 1];
};

static void presence_run(struct inbox_job *job, void *ctx)
{
    struct user_job *j = ND_CONTAINER_OF(job, struct user_job, job);
    struct ws_server *hub = ctx;
    backend_presence(hub->backend, j->user_id, j->delta, j->nonack);
    free(j);
}

static void forget_run(struct inbox_job *job, void *ctx)
{
    struct user_job *j = ND_CONTAINER_OF(job, struct user_job, job);
    struct ws_server *hub = ctx;
    backend_forget(hub->backend, j->user_id, j->id);
    free(j);
}

static void to_hub(struct ws_server *ws, void (*run)(struct inbox_job *, void *),
                   const char *user_id, int delta, int nonack, uint64_t id)
{
    struct user_job *j = malloc(sizeof *j);
    if (!j) {
        nd_log(ND_LOG_ERROR, "out of memory: a presence change or an ack is lost", "{s:s}",
               "user_id", user_id);
        return;
    }
    j->job.run = run;
    j->delta = delta;
    j->nonack = nonack;
    j->id = id;
    snprintf(j->user_id, sizeof j->user_id, "%s", user_id);
    inbox_post(ws->hub->inbox, &j->job);
}

void ws__presence(struct ws_server *ws, const char *user_id, int delta, int nonack)
{
    if (!ws->shard)
        backend_presence(ws->backend, user_id, delta, nonack);
    else
        to_hub(ws, presence_run, user_id, delta, nonack, 0);
}

void ws__forget(struct ws_server *ws, const char *user_id, uint64_t id)
{
    if (!ws->shard)
        backend_forget(ws->backend, user_id, id);
    else
        to_hub(ws, forget_run, user_id, 0, 0, id);
}

struct fd_job {
    struct inbox_job job;
    int fd;
};

static void linger_run(struct inbox_job *job, void *ctx)
{
    struct fd_job *j = ND_CONTAINER_OF(job, struct fd_job, job);
    struct ws_server *hub = ctx;
    if (hub->edge)
        edge_linger(hub->edge, j->fd);
    else
        close(j->fd);
    free(j);
}

static int post_fd(struct inbox *to, void (*run)(struct inbox_job *, void *), int fd)
{
    struct fd_job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->job.run = run;
    j->fd = fd;
    inbox_post(to, &j->job);
    return 0;
}

void ws__edge_linger(struct ws_server *ws, int fd)
{
    if (!ws->shard) {
        if (ws->edge)
            edge_linger(ws->edge, fd);
        else
            close(fd);
    } else if (post_fd(ws->hub->inbox, linger_run, fd) < 0) {
        close(fd);
    }
}

static void resume_run(struct inbox_job *job, void *ctx)
{
    struct ws_server *hub = ctx;
    free(job);
    if (hub->edge)
        edge_resume(hub->edge);
}

void ws__edge_socket(struct ws_server *ws, int delta)
{
    struct edge *e = ws->hub->edge; /* set before any socket reached a thread */
    if (!e || !edge_adopted(e, delta))
        return;
    if (!ws->shard) {
        edge_resume(e);
        return;
    }
    struct inbox_job *j = malloc(sizeof *j); /* the edge waits for this: it is rare */
    if (j) {
        j->run = resume_run;
        inbox_post(ws->hub->inbox, j);
    }
}

/* --- from the hub --- */

/* @ws's libwebsockets takes @fd; plain HTTP is read one request at a time */
static void adopt_here(struct ws_server *ws, int fd)
{
    if (ws->cfg->tls_cert_file)
        recv_guard_unwatch(fd); /* whatever an earlier socket left there */
    else
        recv_guard_http(fd);
    lws_adopt_socket_vhost(ws->vhost, fd); /* closes @fd if it fails */
}

static void adopt_run(struct inbox_job *job, void *ctx)
{
    struct fd_job *j = ND_CONTAINER_OF(job, struct fd_job, job);
    struct ws_server *ws = ctx;
    int fd = j->fd;
    free(j);
    if (!ws->ctx || atomic_load(&ws->stopping)) {
        close(fd);
        return;
    }
    adopt_here(ws, fd);
}

void ws__adopt(struct ws_server *hub, int fd, int websocket)
{
    unsigned k = 0;
    /* plain HTTP stays here, with the service; with TLS the head is not seen: every
     * connection goes in turn, and REST and /metrics answer from the hub */
    if ((websocket || hub->cfg->tls_cert_file) && hub->n_shards > 1)
        k = atomic_fetch_add(&hub->next_shard, 1) % hub->n_shards;
    if (!k)
        adopt_here(hub, fd);
    else if (post_fd(hub->shards[k]->inbox, adopt_run, fd) < 0)
        close(fd);
}
