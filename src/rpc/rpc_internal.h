/* rpc_internal: what rpc/server.c and rpc/health.c share. Calls are created,
 * completed and freed on nd-grpc; a notify call's answer is started from
 * nd-ws (grpc_call_start_batch is thread-safe) and completes on nd-grpc. */
#ifndef NOTIFYD_RPC_INTERNAL_H
#define NOTIFYD_RPC_INTERNAL_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "histogram.h"
#include "rpc/server.h"

#define RPC_CODES 17 /* gRPC status codes 0..16 */

struct method {
    char path[128];   /* "/notification.v1.NotificationService/GetStats" */
    const char *name; /* "GetStats", "grpc.health.v1.Health/Check" */
    const ProtobufCMessageDescriptor *in;
    const ProtobufCMessageDescriptor *out;
    const struct op_spec *op; /* NULL: a health method */
    int watch;                /* grpc.health.v1.Health/Watch (server streaming) */
    int reflect;              /* grpc.reflection.*.ServerReflection (bidi streaming) */
    void *handle;             /* from grpc_server_register_method */
    /* for /metrics: written on nd-grpc and nd-ws, read on nd-ws */
    _Atomic uint64_t codes[RPC_CODES];
    struct histogram duration; /* histogram_latency */
};

/* what a completion-queue tag is; every tag points at one of these */
enum tag_kind {
    TAG_NEW,          /* request_call came back: a call arrived */
    TAG_DONE,         /* the final batch of a unary call completed */
    TAG_WATCH_SENT,   /* a Watch update (or its final status) was sent */
    TAG_WATCH_CLOSED, /* a Watch call is over (client went or we finished it) */
    TAG_REFLECT,      /* a reflection answer was sent and the next request read */
};

struct call;
struct rpc_tag {
    enum tag_kind kind;
    struct call *c;
};

struct call {
    struct rpc_tag tag;       /* the call's main operation */
    struct rpc_tag close_tag; /* Watch only: RECV_CLOSE_ON_SERVER */
    struct rpc_server *srv;
    struct method *m; /* NULL: an unregistered method */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* unregistered calls only */
    grpc_byte_buffer *payload; /* the request */
    grpc_byte_buffer *reply;   /* kept until the batch sending it completes */
    grpc_slice status_details;
    int has_details;
    int cancelled;
    int md_sent;        /* initial metadata went out (a stream's first answer) */
    int64_t started_us; /* monotonic, when accepted */
    /* Watch, reflection */
    struct call *prev, *next; /* in srv->watchers or srv->reflecting */
    char *service;            /* the service watched */
    int last_sent;            /* serving status last sent, -1 none */
    int sending;              /* a send batch is in flight */
    int finishing;            /* the final status was (or is to be) sent */
    int closed;               /* RECV_CLOSE_ON_SERVER completed */
};

struct rpc_server {
    const struct nd_config *cfg;
    struct token_keyring *keys;
    struct service *svc;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t thread;
    int port;
    struct method *methods;
    size_t n_methods;
    struct method unknown;   /* counters for unregistered methods */
    struct reflection *refl; /* the symbol table of reflection.c, immutable */
    atomic_int live_calls;   /* accepted calls not yet freed */
    atomic_int stopping;     /* rpc_server_stop() began */
    struct call *watchers;   /* nd-grpc: open Watch calls */
    struct call *reflecting; /* nd-grpc: open reflection streams */
    int shutdown_seen;       /* nd-grpc: the shutdown tag came back */
    int cq_shut;             /* nd-grpc: grpc_completion_queue_shutdown called */
    char shutdown_tag;       /* address used as the tag */
    enum {
        RELISTEN_NO,          /* the listener works */
        RELISTEN_DRAINING,    /* it failed: the server is shutting down */
        RELISTEN_DRAINED,     /* shut down: destroy it, open a new one */
        RELISTEN_OPENING,     /* binding the port again (retried every second) */
    } relisten;               /* {lock} written by nd-grpc */
    char relisten_tag;        /* the old server's shutdown, as a tag */
    int64_t relisten_next_ms; /* nd-grpc: no new attempt before */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopped; /* {lock} nd-grpc has drained its queue */
    /* s->server is replaced by nd-grpc (under lock) when its listener fails */
};

/** Sends @reply (may be NULL) and the final status of a unary call. Any thread. */
void rpc__finish(struct call *c, grpc_status_code code, const char *msg, grpc_byte_buffer *reply);

struct service_feed_page;

/** ListFeed's answer packed from the page's envelopes (feed_page.c); NULL on ENOMEM. The
 *  answer's thread (nd-ws, or nd-store for a read it answers itself). */
grpc_byte_buffer *rpc__pack_feed_page(const struct service_feed_page *page);
/** The request message decoded, or NULL. */
ProtobufCMessage *rpc__decode(struct call *c, const ProtobufCMessageDescriptor *desc);
/** @msg as a new byte buffer. */
grpc_byte_buffer *rpc__encode(const ProtobufCMessage *msg);
/** Frees a call whose operations have all completed. nd-grpc. */
void rpc__call_free(struct call *c);

/* health.c, nd-grpc */
void rpc__health_check(struct call *c);
void rpc__health_watch(struct call *c);
/** A Watch tag completed. */
void rpc__watch_event(struct rpc_tag *t, int success);
/** Sends changed statuses to watchers; when stopping, finishes them. */
void rpc__watch_tick(struct rpc_server *s);

/* reflection.c */
struct reflection;
/** The served files and their symbols, or NULL (logged). Main thread, before nd-grpc starts. */
struct reflection *rpc__reflection_new(void);
void rpc__reflection_free(struct reflection *r);
/** A ServerReflectionInfo stream arrived with its first request. nd-grpc. */
void rpc__reflection_info(struct call *c);
/** Its answer went out and the next request (or the end) came in. nd-grpc. */
void rpc__reflection_event(struct call *c, int success);
/** When stopping, cancels the open streams (each once). nd-grpc. */
void rpc__reflection_tick(struct rpc_server *s);

#endif
