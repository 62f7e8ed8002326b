/* rpc/server: the method table is read from the protobuf-c service
 * descriptor, so every RPC of the proto is served and each maps by name to
 * its operation (ops.h). A request is decoded and, for a notification, read
 * into a typed request (pbjson_request, service_call_req); any other is turned
 * into JSON (pbjson) for service_call() -- the call the REST routes make. One
 * completion-queue thread, nd-grpc; health methods live in health.c. */
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "notification/v1/notification.pb-c.h"
#include "notify/pbjson.h"
#include "rpc/rpc_internal.h"
#include "stats.h"

#define REQUESTS_PER_METHOD 64 /* calls each method can have waiting to be matched */

void rpc__call_free(struct call *c)
{
    grpc_metadata_array_destroy(&c->md);
    if (!c->m)
        grpc_call_details_destroy(&c->details);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    if (c->has_details)
        grpc_slice_unref(c->status_details);
    if (c->call) {
        grpc_call_unref(c->call);
        atomic_fetch_sub(&c->srv->live_calls, 1);
    }
    free(c->service);
    free(c);
}

static int post_request(struct rpc_server *s, struct method *m)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->srv = s;
    c->m = m;
    c->tag = (struct rpc_tag){TAG_NEW, c};
    c->close_tag = (struct rpc_tag){TAG_WATCH_CLOSED, c};
    c->last_sent = -1;
    grpc_metadata_array_init(&c->md);
    grpc_call_error e;
    ND_HANDOFF_SEND(c);
    if (m) {
        e = grpc_server_request_registered_call(s->server, m->handle, &c->call, &c->deadline,
                                                &c->md, &c->payload, s->cq, s->cq, &c->tag);
    } else {
        grpc_call_details_init(&c->details);
        e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq,
                                     &c->tag);
    }
    if (e != GRPC_CALL_OK) {
        c->call = NULL;
        rpc__call_free(c);
        return -EIO;
    }
    return 0;
}

static const char *status_name(grpc_status_code code)
{
    static const char *const names[RPC_CODES] = {"OK",
                                                 "CANCELLED",
                                                 "UNKNOWN",
                                                 "INVALID_ARGUMENT",
                                                 "DEADLINE_EXCEEDED",
                                                 "NOT_FOUND",
                                                 "ALREADY_EXISTS",
                                                 "PERMISSION_DENIED",
                                                 "RESOURCE_EXHAUSTED",
                                                 "FAILED_PRECONDITION",
                                                 "ABORTED",
                                                 "OUT_OF_RANGE",
                                                 "UNIMPLEMENTED",
                                                 "INTERNAL",
                                                 "UNAVAILABLE",
                                                 "DATA_LOSS",
                                                 "UNAUTHENTICATED"};
    return (unsigned)code < RPC_CODES ? names[code] : "UNKNOWN";
}

/* counts the answer and its time, for /metrics, and logs it: a failure at
 * info with its reason, a success at debug; an unknown method by its path */
static void account(struct call *c, grpc_status_code code, const char *msg)
{
    struct method *m = c->m ? c->m : &c->srv->unknown;
    char name[160];
    int64_t us = nd_mono_us() - c->started_us;
    atomic_fetch_add_explicit(&m->codes[(unsigned)code < RPC_CODES ? code : 2], 1,
                              memory_order_relaxed);
    histogram_observe(&m->duration, &histogram_latency, us);
    if (code == GRPC_STATUS_OK && !nd_log_enabled(ND_LOG_DEBUG))
        return;
    snprintf(name, sizeof name, "%s", m->name);
    if (!c->m) { /* "/pkg.Service/Method" as the client asked, less the slash */
        size_t n = GRPC_SLICE_LENGTH(c->details.method);
        const char *p = (const char *)GRPC_SLICE_START_PTR(c->details.method);
        if (n && p[0] == '/')
            p++, n--;
        snprintf(name, sizeof name, "%.*s", (int)(n < 150 ? n : 150), p);
    }
    if (code == GRPC_STATUS_OK)
        nd_log(ND_LOG_DEBUG, "rpc", "{s:s, s:s, s:f}", "rpc", name, "status", status_name(code),
               "duration_ms", (double)us / 1000.0);
    else
        nd_log(ND_LOG_INFO, "rpc", "{s:s, s:s, s:s, s:f}", "rpc", name, "status", status_name(code),
               "error", msg ? msg : "", "duration_ms", (double)us / 1000.0);
}

void rpc__finish(struct call *c, grpc_status_code code, const char *msg, grpc_byte_buffer *reply)
{
    grpc_op ops[4];
    size_t n = 0;

    memset(ops, 0, sizeof ops);
    if (!c->md_sent) /* a stream sent it with its first answer */
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (reply) {
        c->reply = reply;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = reply;
    }
    c->status_details = grpc_slice_from_copied_string(msg ? msg : "");
    c->has_details = 1;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n++].data.send_status_from_server.status_details =
        msg && msg[0] ? &c->status_details : NULL;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    account(c, code, msg);
    c->tag.kind = TAG_DONE;
    grpc_call *call = c->call;
    ND_HANDOFF_SEND(c); /* to nd-grpc, which frees it on completion: not read after */
    grpc_call_error e = grpc_call_start_batch(call, ops, n, &c->tag, NULL);
    if (e != GRPC_CALL_OK) {
        nd_log(ND_LOG_ERROR, "grpc_call_start_batch failed", "{s:i}", "error", (int)e);
        rpc__call_free(c);
    }
}

ProtobufCMessage *rpc__decode(struct call *c, const ProtobufCMessageDescriptor *desc)
{
    grpc_byte_buffer_reader reader;
    if (!c->payload || !grpc_byte_buffer_reader_init(&reader, c->payload))
        return NULL;
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    grpc_byte_buffer_reader_destroy(&reader);
    return msg;
}

grpc_byte_buffer *rpc__encode(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(len);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* sets field @name of @msg (a string, an int32 or a bool) when @desc has it */
static void set_field(ProtobufCMessage *msg, const char *name, const char *str, int num)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    void *p = f ? (char *)msg + f->offset : NULL;
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
        return;
    if (f->type == PROTOBUF_C_TYPE_STRING && str)
        *(const char **)p = str;
    else if (f->type == PROTOBUF_C_TYPE_INT32)
        *(int32_t *)p = num;
    else if (f->type == PROTOBUF_C_TYPE_BOOL)
        *(protobuf_c_boolean *)p = num != 0;
}

/* a notification's typed answer packed straight into a slice: no JSON; NULL when
 * the response message is not one it knows how to fill */
static grpc_byte_buffer *pack_sent(const ProtobufCMessageDescriptor *out,
                                   const struct service_sent *sent)
{
    union {
        ProtobufCMessage base;
        max_align_t align;
        unsigned char bytes[256];
    } m;
    if (out->sizeof_message > sizeof m)
        return NULL;
    protobuf_c_message_init(out, &m.base);
    set_field(&m.base, "message_id", sent->message_id, 0);
    set_field(&m.base, "connections", NULL, sent->connections);
    set_field(&m.base, "stored", NULL, sent->stored);
    set_field(&m.base, "feed", NULL, sent->feed);
    grpc_slice s = grpc_slice_malloc(protobuf_c_message_get_packed_size(&m.base));
    protobuf_c_message_pack(&m.base, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* service_done_fn: runs on nd-ws, or on nd-store for a feed read (service_call_any_thread) */
static void reply_done(void *arg, const struct service_result *r)
{
    struct call *c = arg;
    size_t len = 0;
    if (r->error) {
        rpc__finish(c, GRPC_STATUS_UNAVAILABLE, r->error, NULL);
        return;
    }
    grpc_byte_buffer *typed =
        r->sent && !r->body ? pack_sent(c->m->out, r->sent)
        : r->page && !r->body && c->m->out == &notification__v1__list_feed_response__descriptor
            ? rpc__pack_feed_page(r->page)
            : NULL;
    if (typed) {
        rpc__finish(c, GRPC_STATUS_OK, NULL, typed);
        return;
    }
    json_t *obj = service_result_json(r);
    unsigned char *bytes = obj ? pbjson_pack(c->m->out, obj, &len) : NULL;
    json_decref(obj);
    if (!bytes) {
        rpc__finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return;
    }
    grpc_slice s = grpc_slice_new(bytes, len, free);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    rpc__finish(c, GRPC_STATUS_OK, NULL, bb);
}

/* --- nd-grpc: one accepted call --- */

/* checks the caller's token and role; 0 or a status already sent */
static int authorize(struct call *c, struct token_claims *claims)
{
    const char *tok = NULL;
    char buf[ND_TOKEN_MAX + 16];
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_slice *k = &c->md.metadata[i].key, *v = &c->md.metadata[i].value;
        if (GRPC_SLICE_LENGTH(*k) == 13 && !memcmp(GRPC_SLICE_START_PTR(*k), "authorization", 13)) {
            size_t n = GRPC_SLICE_LENGTH(*v);
            if (n >= sizeof buf) {
                rpc__finish(c, GRPC_STATUS_UNAUTHENTICATED, token_result_str(TOKEN_TOO_LARGE),
                            NULL);
                return -1;
            }
            memcpy(buf, GRPC_SLICE_START_PTR(*v), n);
            buf[n] = 0;
            tok = token_from_bearer(buf);
            if (!tok) {
                rpc__finish(c, GRPC_STATUS_UNAUTHENTICATED,
                            "authorization metadata must be \"Bearer <token>\"", NULL);
                return -1;
            }
        }
    }
    enum token_result r = tok ? token_verify(token_keyring_get(c->srv->keys), tok, time(NULL),
                                             c->srv->cfg->jwt_leeway_s, claims)
                              : TOKEN_MISSING;
    if (r != TOKEN_OK) {
        char msg[160];
        stats_add(&nd_stats.auth_failures, 1);
        snprintf(msg, sizeof msg, "%s%s", token_result_str(r),
                 r == TOKEN_MISSING ? ": send metadata authorization: Bearer <token>" : "");
        rpc__finish(c, GRPC_STATUS_UNAUTHENTICATED, msg, NULL);
        return -1;
    }
    if (!(claims->roles & (TOKEN_ROLE_ADMIN | TOKEN_ROLE_SERVICE))) {
        char msg[200];
        stats_add(&nd_stats.auth_failures, 1);
        snprintf(msg, sizeof msg, "%s needs a token with role admin or service", c->m->op->name);
        rpc__finish(c, GRPC_STATUS_PERMISSION_DENIED, msg, NULL);
        return -1;
    }
    return 0;
}

static void handle(struct call *c)
{
    char err[256];
    struct token_claims claims;

    if (!c->m) {
        char path[200];
        size_t n = GRPC_SLICE_LENGTH(c->details.method);
        snprintf(path, sizeof path, "unknown method %.*s", (int)(n < 150 ? n : 150),
                 (const char *)GRPC_SLICE_START_PTR(c->details.method));
        rpc__finish(c, GRPC_STATUS_UNIMPLEMENTED, path, NULL);
        return;
    }
    if (!c->m->op) { /* health and reflection: no token */
        if (c->m->watch)
            rpc__health_watch(c);
        else if (c->m->reflect)
            rpc__reflection_info(c);
        else
            rpc__health_check(c);
        return;
    }
    if (authorize(c, &claims) < 0)
        return;
    ProtobufCMessage *msg = rpc__decode(c, c->m->in);
    if (!msg) {
        snprintf(err, sizeof err, "request is not a valid %s", c->m->in->name);
        rpc__finish(c, GRPC_STATUS_INVALID_ARGUMENT, err, NULL);
        return;
    }
    /* a notification travels typed, straight from the message (its strings
     * borrowed until service_call_req returns); the rest, and a request naming a
     * template, as the flat JSON object REST sends */
    struct op_req typed;
    int rc;
    if (ops_typed(c->m->op) && pbjson_request(msg, c->m->op, &typed) == 0) {
        rc = service_call_req(c->srv->svc, &typed, &claims, reply_done, c, err, sizeof err);
        protobuf_c_message_free_unpacked(msg, NULL);
    } else {
        json_t *req = pbjson_from_message(msg);
        protobuf_c_message_free_unpacked(msg, NULL);
        rc = req ? service_call_any_thread(c->srv->svc, c->m->op, req, &claims, reply_done, c, err,
                                           sizeof err)
                 : -ENOMEM;
        json_decref(req);
    }
    if (rc == -EINVAL)
        rpc__finish(c, GRPC_STATUS_INVALID_ARGUMENT, err, NULL);
    else if (rc == -ENOENT)
        rpc__finish(c, GRPC_STATUS_NOT_FOUND, err, NULL);
    else if (rc == -EPERM)
        rpc__finish(c, GRPC_STATUS_PERMISSION_DENIED, err, NULL);
    else if (rc == -ESHUTDOWN)
        rpc__finish(c, GRPC_STATUS_UNAVAILABLE, err, NULL);
    else if (rc == -EAGAIN || rc == -EBUSY)
        rpc__finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, err, NULL);
    else if (rc < 0)
        rpc__finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
}

static void maybe_shutdown_cq(struct rpc_server *s)
{
    if (s->shutdown_seen && !s->cq_shut && atomic_load(&s->live_calls) == 0) {
        s->cq_shut = 1;
        grpc_completion_queue_shutdown(s->cq);
    }
}

static int open_server(struct rpc_server *s, char *err, size_t errlen);

/* gRPC 1.51 gives up its listener after this line (relisten() makes a new one) */
static void watch_grpc_errors(const char *message)
{
    if (!strncmp(message, "Failed accept4", 14))
        health_set_listener(HEALTH_L_GRPC, 0);
}

/* gRPC 1.51 stops accepting for good when accept() fails with anything but
 * EAGAIN (EMFILE: out of descriptors) and only logs it; log.c tells health,
 * and this makes a new server on the same port: the old one is shut down
 * (its open connections and calls finish), then the port is bound again,
 * every second until it works. nd-grpc. */
static void set_relisten(struct rpc_server *s, int state)
{
    pthread_mutex_lock(&s->lock); /* rpc_server_stop() reads it under the lock */
    s->relisten = state;
    pthread_mutex_unlock(&s->lock);
}

static void relisten(struct rpc_server *s)
{
    char err[300];
    if (s->relisten == RELISTEN_NO) {
        if (health_listener_ok(HEALTH_L_GRPC))
            return;
        pthread_mutex_lock(&s->lock);
        int go = !atomic_load(&s->stopping); /* stopping: its shutdown ends this server */
        if (go) {
            s->relisten = RELISTEN_DRAINING;
            grpc_server_shutdown_and_notify(s->server, s->cq, &s->relisten_tag);
        }
        pthread_mutex_unlock(&s->lock);
        if (go)
            nd_log(ND_LOG_ERROR, "the gRPC listener stopped accepting: starting a new one", "{s:i}",
                   "port", s->port);
        return;
    }
    int stopping = atomic_load(&s->stopping);
    if (s->relisten == RELISTEN_DRAINING || atomic_load(&s->live_calls) > 0 ||
        nd_mono_ms() < s->relisten_next_ms)
        return;
    if (s->relisten == RELISTEN_DRAINED) {
        pthread_mutex_lock(&s->lock);
        grpc_server_destroy(s->server);
        s->server = NULL;
        s->relisten = RELISTEN_OPENING;
        pthread_mutex_unlock(&s->lock);
    }
    if (stopping) { /* rpc_server_stop() came meanwhile: it waits for this */
        s->shutdown_seen = 1;
        maybe_shutdown_cq(s);
        return;
    }
    pthread_mutex_lock(&s->lock);
    int rc = open_server(s, err, sizeof err);
    if (rc < 0 && s->server) {
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->relisten_tag);
        s->relisten = RELISTEN_DRAINING; /* a failed server is shut down like the first */
    }
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        s->relisten_next_ms = nd_mono_ms() + 1000;
        nd_log(ND_LOG_WARN, "the gRPC listener is not back yet: trying again in a second", "{s:s}",
               "error", err);
        return;
    }
    set_relisten(s, RELISTEN_NO);
    health_set_listener(HEALTH_L_GRPC, 1);
    nd_log(ND_LOG_INFO, "the gRPC listener accepts connections again", "{s:i}", "port", s->port);
}

static void *run(void *arg)
{
    struct rpc_server *s = arg;
    pthread_setname_np(pthread_self(), "nd-grpc");

    /* nothing waits on this deadline: an answer's batch is started on nd-ws
     * (reply_done -> rpc__finish), which writes it at once and wakes this queue
     * with its completion; the 200 ms only bound the housekeeping below
     * (health beat, watch updates, relisten, the stop) when no call comes */
    for (;;) {
        gpr_timespec deadline =
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(200, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(s->cq, deadline, NULL);
        health_beat(HEALTH_T_GRPC);
        fault_point(FAULT_STALL_GRPC);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        rpc__watch_tick(s); /* status changes, and finishing watches when stopping */
        rpc__reflection_tick(s);
        relisten(s);
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            maybe_shutdown_cq(s);
            continue;
        }
        if (ev.tag == &s->shutdown_tag) {
            s->shutdown_seen = 1;
            maybe_shutdown_cq(s);
            continue;
        }
        if (ev.tag == &s->relisten_tag) { /* the old server has no calls left */
            set_relisten(s, RELISTEN_DRAINED);
            relisten(s);
            continue;
        }
        struct rpc_tag *t = ev.tag;
        struct call *c = t->c;
        ND_HANDOFF_RECV(c);
        switch (t->kind) {
        case TAG_DONE:
            rpc__call_free(c);
            maybe_shutdown_cq(s);
            break;
        case TAG_WATCH_SENT:
        case TAG_WATCH_CLOSED:
            rpc__watch_event(t, ev.success);
            maybe_shutdown_cq(s);
            break;
        case TAG_REFLECT: rpc__reflection_event(c, ev.success); break;
        case TAG_NEW:
            if (!ev.success) { /* the server is shutting down: no call came */
                c->call = NULL;
                rpc__call_free(c);
                break;
            }
            atomic_fetch_add(&s->live_calls, 1);
            c->started_us = nd_mono_us();
            if (!s->shutdown_seen)
                post_request(s, c->m);
            handle(c);
            break;
        }
    }
    health_unwatch(HEALTH_T_GRPC);
    pthread_mutex_lock(&s->lock);
    s->stopped = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int build_methods(struct rpc_server *s)
{
    /* the API, then what needs no token: health, reflection (v1alpha is v1's
     * messages under the older name) */
    static const struct {
        const ProtobufCServiceDescriptor *d;
        const char *name; /* the service's name, NULL: the descriptor's */
    } services[] = {
        {&notification__v1__notification_service__descriptor, NULL},
        {&grpc__health__v1__health__descriptor, NULL},
        {&grpc__reflection__v1__server_reflection__descriptor, NULL},
        {&grpc__reflection__v1__server_reflection__descriptor,
         "grpc.reflection.v1alpha.ServerReflection"},
    };
    s->n_methods = 0;
    for (size_t k = 0; k < ND_ARRAY_SIZE(services); k++)
        s->n_methods += services[k].d->n_methods;
    s->methods = calloc(s->n_methods, sizeof *s->methods);
    if (!s->methods)
        return -ENOMEM;
    struct method *m = s->methods;
    for (size_t k = 0; k < ND_ARRAY_SIZE(services); k++) {
        const ProtobufCServiceDescriptor *d = services[k].d;
        for (unsigned i = 0; i < d->n_methods; i++, m++) {
            const ProtobufCMethodDescriptor *md = &d->methods[i];
            snprintf(m->path, sizeof m->path, "/%s/%s",
                     services[k].name ? services[k].name : d->name, md->name);
            m->name = k == 0 ? md->name : m->path + 1;
            m->in = md->input;
            m->out = md->output;
            if (d == &grpc__health__v1__health__descriptor) {
                m->watch = !strcmp(md->name, "Watch");
            } else if (d == &grpc__reflection__v1__server_reflection__descriptor) {
                m->reflect = 1;
            } else if (!(m->op = ops_find(md->name))) {
                nd_log(ND_LOG_ERROR, "no operation for rpc", "{s:s}", "rpc", m->path);
                return -EINVAL;
            }
        }
    }
    s->unknown.name = "unknown";
    s->refl = rpc__reflection_new(); /* without it, reflection answers UNIMPLEMENTED */
    return 0;
}

/* the methods, registered with the server being made */
static int register_methods(struct rpc_server *s)
{
    for (size_t i = 0; i < s->n_methods; i++) {
        struct method *m = &s->methods[i];
        m->handle = grpc_server_register_method(s->server, m->path, NULL,
                                                GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!m->handle)
            return -EINVAL;
    }
    return 0;
}

void rpc_server_metrics(void *arg, FILE *f)
{
    struct rpc_server *s = arg;
    fprintf(f, "# HELP notifyd_rpc_requests_total gRPC calls answered, by method and code.\n"
               "# TYPE notifyd_rpc_requests_total counter\n");
    for (size_t i = 0; i <= s->n_methods; i++) {
        struct method *m = i < s->n_methods ? &s->methods[i] : &s->unknown;
        for (int k = 0; k < RPC_CODES; k++) {
            uint64_t n = atomic_load_explicit(&m->codes[k], memory_order_relaxed);
            if (n || k == 0)
                fprintf(f, "notifyd_rpc_requests_total{method=\"%s\",code=\"%s\"} %llu\n", m->name,
                        status_name((grpc_status_code)k), (unsigned long long)n);
        }
    }
    fprintf(f, "# HELP notifyd_rpc_duration_seconds From a call's arrival to its answer.\n"
               "# TYPE notifyd_rpc_duration_seconds histogram\n");
    for (size_t i = 0; i < s->n_methods; i++) {
        struct method *m = &s->methods[i];
        if (m->watch || m->reflect)
            continue; /* a stream's duration is how long it was open: not a latency */
        char labels[160];
        snprintf(labels, sizeof labels, "method=\"%s\"", m->name);
        histogram_render(f, "notifyd_rpc_duration_seconds", labels, &histogram_latency,
                         &m->duration);
    }
}

/* a whole (small) file as a string, or NULL with errno set */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf && n == 0) {
        free(buf);
        errno = EINVAL;
        return NULL;
    }
    return buf;
}

/* TLS with the configured certificate, or plain */
static grpc_server_credentials *server_credentials(const struct nd_config *cfg, char *err,
                                                   size_t errlen)
{
    if (!cfg->tls_cert_file)
        return grpc_insecure_server_credentials_create();
    char *cert = NULL, *key = NULL;
    grpc_server_credentials *creds = NULL;
    const char *bad = !(cert = read_file(cfg->tls_cert_file)) ? cfg->tls_cert_file
                      : !(key = read_file(cfg->tls_key_file)) ? cfg->tls_key_file
                                                              : NULL;
    if (bad) {
        snprintf(err, errlen, "cannot read %s: %s", bad, strerror(errno));
    } else {
        grpc_ssl_pem_key_cert_pair pair = {key, cert};
        creds = grpc_ssl_server_credentials_create_ex(
            NULL, &pair, 1, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
        if (!creds)
            snprintf(err, errlen, "cannot use %s and %s for TLS", cfg->tls_cert_file,
                     cfg->tls_key_file);
    }
    free(cert);
    free(key);
    return creds;
}

/* a server on the configured address (the port bound first, once known),
 * its methods registered and a request posted for each */
static int open_server(struct rpc_server *s, char *err, size_t errlen)
{
    const struct nd_config *cfg = s->cfg;
    grpc_arg args[3];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_ALLOW_REUSEPORT; /* a second server on the port must fail */
    args[0].value.integer = 0;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[1].value.integer = (int)cfg->grpc_max_message;
    args[2].type = GRPC_ARG_INTEGER; /* a connection that says nothing goes, as on the HTTP port */
    args[2].key = GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS;
    args[2].value.integer = (int)cfg->http_header_timeout_ms;
    grpc_channel_args chargs = {ND_ARRAY_SIZE(args), args};

    s->server = grpc_server_create(&chargs, NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    if (register_methods(s) < 0) {
        snprintf(err, errlen, "cannot register the gRPC methods");
        return -1;
    }
    char addr[ND_ADDR_MAX + 16];
    const struct nd_addr *a = &cfg->grpc;
    int port = s->port ? s->port : a->port;
    if (!a->host[0])
        snprintf(addr, sizeof addr, "[::]:%d", port);
    else if (strchr(a->host, ':'))
        snprintf(addr, sizeof addr, "[%s]:%d", a->host, port);
    else
        snprintf(addr, sizeof addr, "%s:%d", a->host, port);
    grpc_server_credentials *creds = server_credentials(cfg, err, errlen);
    if (!creds)
        return -1;
    port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0) {
        snprintf(err, errlen, "cannot listen on %s for gRPC (address in use or not local)", addr);
        return -1;
    }
    if (s->port != port) /* once: a new listener (relisten) binds the same port */
        s->port = port;
    grpc_server_start(s->server);
    for (size_t i = 0; i < s->n_methods; i++)
        for (int k = 0; k < REQUESTS_PER_METHOD; k++)
            post_request(s, &s->methods[i]);
    post_request(s, NULL); /* unregistered methods -> UNIMPLEMENTED */
    return 0;
}

struct rpc_server *rpc_server_start(const struct nd_config *cfg, struct token_keyring *keys,
                                    struct service *svc, char *err, size_t errlen)
{
    struct rpc_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->keys = keys;
    s->svc = svc;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);

    nd_log_watch_grpc_errors(watch_grpc_errors);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    if (build_methods(s) < 0) {
        snprintf(err, errlen, "cannot register the gRPC methods");
        goto fail;
    }
    if (open_server(s, err, errlen) < 0)
        goto fail;
    if (pthread_create(&s->thread, NULL, run, s)) {
        snprintf(err, errlen, "cannot start the gRPC thread");
        goto fail;
    }
    return s;

fail: /* shut down and drain on this thread */
    if (s->server) {
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
        grpc_server_cancel_all_calls(s->server);
    } else {
        grpc_completion_queue_shutdown(s->cq);
    }
    run(s);
    if (s->server)
        grpc_server_destroy(s->server);
    grpc_completion_queue_destroy(s->cq);
    free(s->methods);
    rpc__reflection_free(s->refl);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

int rpc_server_port(const struct rpc_server *s)
{
    return s->port;
}

void rpc_server_stop(struct rpc_server *s, int64_t grace_ms)
{
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, 1);  /* nd-grpc finishes open Watch streams */
    if (s->relisten == RELISTEN_NO) /* else nd-grpc ends the server being replaced */
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    pthread_mutex_unlock(&s->lock);
    struct timespec until = nd_wall_deadline(grace_ms);
    pthread_mutex_lock(&s->lock);
    while (!s->stopped) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT) {
            nd_log(ND_LOG_WARN, "grace period over: cancelling in-flight calls", NULL);
            if (s->server)
                grpc_server_cancel_all_calls(s->server);
            while (!s->stopped)
                pthread_cond_wait(&s->cond, &s->lock);
        }
    }
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
}

void rpc_server_free(struct rpc_server *s)
{
    if (!s)
        return;
    if (s->server)
        grpc_server_destroy(s->server);
    grpc_completion_queue_destroy(s->cq);
    free(s->methods);
    rpc__reflection_free(s->refl);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
