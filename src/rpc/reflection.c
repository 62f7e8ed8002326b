/* rpc/reflection: gRPC server reflection (grpc.reflection.v1 and v1alpha,
 * the same messages under two names) from the descriptors protoc wrote at
 * build time (descriptors.h), so grpcurl, Postman and evans need no .proto
 * files. A symbol table -- services, methods, messages, fields, enums and
 * their values, found by walking the protobuf-c descriptors from each
 * service -- says which file declares a name. Needs no token, like Health.
 * The stream runs on nd-grpc: each request is answered, then the next read;
 * open streams are listed (srv->reflecting) so a stop can end them. */
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "log.h"
#include "nd.h"
#include "notification/v1/notification.pb-c.h"
#include "rpc/descriptors.h"
#include "rpc/rpc_internal.h"

#define REFLECTION_V1 "grpc.reflection.v1"

/* the files served: their protobuf-c service, and the package it is under
 * (v1alpha reuses v1's generated code: same fields, same numbers) */
static const struct {
    const char *proto;
    const char *package;
    const ProtobufCServiceDescriptor *svc;
} served[] = {
    {"notification/v1/notification.proto", "notification.v1",
     &notification__v1__notification_service__descriptor},
    {"grpc/health/v1/health.proto", "grpc.health.v1", &grpc__health__v1__health__descriptor},
    {"grpc/reflection/v1/reflection.proto", REFLECTION_V1,
     &grpc__reflection__v1__server_reflection__descriptor},
    {"grpc/reflection/v1alpha/reflection.proto", "grpc.reflection.v1alpha",
     &grpc__reflection__v1__server_reflection__descriptor},
};
#define N_FILES ND_ARRAY_SIZE(served)

struct symbol {
    char *name;  /* fully qualified, "notification.v1.GetStatsRequest.user_id" */
    int file;    /* index in served[] */
    int message; /* a message type (for all_extension_numbers_of_type) */
};

struct reflection {
    ProtobufCBinaryData file[N_FILES]; /* serialized FileDescriptorProto, borrowed */
    struct symbol *syms;
    size_t n_syms, cap;
};

/* the one FileDescriptorProto in a FileDescriptorSet: field 1, length-delimited */
static int unwrap_set(const unsigned char *p, size_t len, ProtobufCBinaryData *out)
{
    uint64_t n = 0;
    size_t i = 1;
    if (len < 2 || p[0] != 0x0a)
        return -EINVAL;
    for (int shift = 0; i < len && shift < 64; shift += 7, i++) {
        n |= (uint64_t)(p[i] & 0x7f) << shift;
        if (!(p[i] & 0x80))
            break;
    }
    if (i >= len || n != len - i - 1)
        return -EINVAL; /* exactly one file, and all of it */
    out->data = (uint8_t *)(p + i + 1);
    out->len = (size_t)n;
    return 0;
}

static struct symbol *find(const struct reflection *r, const char *name)
{
    for (size_t i = 0; i < r->n_syms; i++)
        if (!strcmp(r->syms[i].name, name))
            return &r->syms[i];
    return NULL;
}

/* adds @scope "." @name (or @name alone) under @file, the package moved to
 * the file's (v1 -> v1alpha); 1 added, 0 known already, -ENOMEM */
static int add(struct reflection *r, int file, const char *from_pkg, const char *scope,
               const char *name, int message)
{
    char full[512];
    const char *pkg = served[file].package;
    size_t skip = strlen(from_pkg);
    const char *rest = scope ? scope : name;
    if (scope && !strcmp(scope, from_pkg)) /* a top-level enum's values */
        rest = NULL;
    else if (!strncmp(rest, from_pkg, skip) && rest[skip] == '.')
        rest += skip + 1;
    if (!rest)
        snprintf(full, sizeof full, "%s.%s", pkg, name);
    else
        snprintf(full, sizeof full, "%s.%s%s%s", pkg, rest, scope ? "." : "", scope ? name : "");
    if (find(r, full))
        return 0;
    if (r->n_syms == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        struct symbol *s = realloc(r->syms, cap * sizeof *s);
        if (!s)
            return -ENOMEM;
        r->syms = s;
        r->cap = cap;
    }
    if (!(r->syms[r->n_syms].name = strdup(full)))
        return -ENOMEM;
    r->syms[r->n_syms].file = file;
    r->syms[r->n_syms++].message = message;
    return 1;
}

static int add_enum(struct reflection *r, int file, const char *pkg,
                    const ProtobufCEnumDescriptor *e)
{
    int rc = add(r, file, pkg, NULL, e->name, 0);
    if (rc <= 0)
        return rc;
    /* values are siblings of their enum: "notification.v1.LEVEL_INFO" */
    char scope[256];
    snprintf(scope, sizeof scope, "%s", e->name);
    char *dot = strrchr(scope, '.');
    if (dot)
        *dot = 0;
    for (unsigned i = 0; i < e->n_values && rc >= 0; i++)
        rc = add(r, file, pkg, dot ? scope : NULL, e->values[i].name, 0);
    return rc < 0 ? rc : 0;
}

static int add_message(struct reflection *r, int file, const char *pkg,
                       const ProtobufCMessageDescriptor *m)
{
    int rc = add(r, file, pkg, NULL, m->name, 1);
    if (rc <= 0)
        return rc; /* known already (or out of memory) */
    for (unsigned i = 0; i < m->n_fields && rc >= 0; i++) {
        const ProtobufCFieldDescriptor *f = &m->fields[i];
        rc = add(r, file, pkg, m->name, f->name, 0);
        if (rc >= 0 && f->type == PROTOBUF_C_TYPE_MESSAGE)
            rc = add_message(r, file, pkg, f->descriptor);
        else if (rc >= 0 && f->type == PROTOBUF_C_TYPE_ENUM)
            rc = add_enum(r, file, pkg, f->descriptor);
    }
    return rc < 0 ? rc : 0;
}

struct reflection *rpc__reflection_new(void)
{
    struct reflection *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    for (size_t f = 0; f < N_FILES; f++) {
        const struct rpc_descriptor_set *d = rpc_descriptor_sets;
        while (d->proto && strcmp(d->proto, served[f].proto))
            d++;
        if (!d->proto || unwrap_set(d->set, d->len, &r->file[f]) < 0) {
            nd_log(ND_LOG_ERROR, "no descriptor for reflection", "{s:s}", "proto", served[f].proto);
            goto fail;
        }
        const ProtobufCServiceDescriptor *svc = served[f].svc;
        int rc = add(r, (int)f, svc->package, NULL, svc->name, 0);
        for (unsigned i = 0; i < svc->n_methods && rc >= 0; i++) {
            const ProtobufCMethodDescriptor *m = &svc->methods[i];
            rc = add(r, (int)f, svc->package, svc->name, m->name, 0);
            if (rc >= 0)
                rc = add_message(r, (int)f, svc->package, m->input);
            if (rc >= 0)
                rc = add_message(r, (int)f, svc->package, m->output);
        }
        if (rc < 0)
            goto fail;
    }
    return r;
fail:
    rpc__reflection_free(r);
    return NULL;
}

void rpc__reflection_free(struct reflection *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_syms; i++)
        free(r->syms[i].name);
    free(r->syms);
    free(r);
}

/* --- one request, one response --- */

typedef Grpc__Reflection__V1__ServerReflectionRequest Request;
typedef Grpc__Reflection__V1__ServerReflectionResponse Response;

static grpc_byte_buffer *respond(const struct reflection *r, Request *req)
{
    Response resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    Grpc__Reflection__V1__FileDescriptorResponse files =
        GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1__ListServiceResponse list =
        GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1__ServiceResponse svcs[N_FILES], *svcp[N_FILES];
    Grpc__Reflection__V1__ExtensionNumberResponse ext =
        GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
    Grpc__Reflection__V1__ErrorResponse error = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
    ProtobufCBinaryData file;
    char why[600];
    int f = -1;
    const struct symbol *sym;

    resp.valid_host = req->host;
    resp.original_request = req;
    error.error_code = GRPC_STATUS_NOT_FOUND;
    error.error_message = why;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        for (size_t i = 0; i < N_FILES; i++) {
            grpc__reflection__v1__service_response__init(&svcs[i]);
            snprintf(why, sizeof why, "%s.%s", served[i].package,
                     strrchr(served[i].svc->name, '.') + 1);
            sym = find(r, why);
            svcs[i].name = sym ? sym->name : (char *)served[i].svc->name;
            svcp[i] = &svcs[i];
        }
        list.n_service = N_FILES;
        list.service = svcp;
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        resp.list_services_response = &list;
        return rpc__encode(&resp.base);
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        for (size_t i = 0; i < N_FILES && f < 0; i++)
            if (!strcmp(served[i].proto, req->file_by_filename))
                f = (int)i;
        snprintf(why, sizeof why, "no file %.500s", req->file_by_filename);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        sym = find(r, req->file_containing_symbol);
        f = sym ? sym->file : -1;
        snprintf(why, sizeof why, "no symbol %.500s", req->file_containing_symbol);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        sym = find(r, req->all_extension_numbers_of_type);
        if (sym && sym->message) { /* proto3: no extensions */
            ext.base_type_name = sym->name;
            resp.message_response_case =
                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
            resp.all_extension_numbers_response = &ext;
            return rpc__encode(&resp.base);
        }
        snprintf(why, sizeof why, "no message type %.500s", req->all_extension_numbers_of_type);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        snprintf(why, sizeof why, "no extensions: these protos declare none");
        break;
    default:
        error.error_code = GRPC_STATUS_INVALID_ARGUMENT;
        snprintf(why, sizeof why, "the request asks nothing (message_request not set)");
        break;
    }
    if (f >= 0) { /* the file; it imports nothing, so no dependencies follow */
        file = r->file[f];
        files.n_file_descriptor_proto = 1;
        files.file_descriptor_proto = &file;
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
        resp.file_descriptor_response = &files;
    } else {
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
        resp.error_response = &error;
    }
    return rpc__encode(&resp.base);
}

/* --- the stream: answer what came in c->payload, then read the next --- */

/* the last batch of a stream: off the list, then the status */
static void end(struct call *c, grpc_status_code code, const char *msg)
{
    /* utlist: a head whose prev is not itself has a next (the analyzer cannot tell) */
    DL_DELETE(c->srv->reflecting, c); // NOLINT(clang-analyzer-core.NullDereference)
    c->prev = c->next = NULL;
    rpc__finish(c, code, msg, NULL);
}

static void answer(struct call *c)
{
    if (!c->payload) { /* the client half-closed: the stream is over */
        end(c, GRPC_STATUS_OK, NULL);
        return;
    }
    Request *req =
        (Request *)rpc__decode(c, &grpc__reflection__v1__server_reflection_request__descriptor);
    grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
    if (!req) {
        end(c, GRPC_STATUS_INVALID_ARGUMENT, "request is not a ServerReflectionRequest");
        return;
    }
    c->reply = respond(c->srv->refl, req);
    protobuf_c_message_free_unpacked(&req->base, NULL);

    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->md_sent)
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->reply;
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &c->payload;
    c->md_sent = 1;
    c->tag.kind = TAG_REFLECT;
    grpc_call *call = c->call;
    ND_HANDOFF_SEND(c);
    if (grpc_call_start_batch(call, ops, n, &c->tag, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(c->reply);
        c->reply = NULL;
        end(c, GRPC_STATUS_INTERNAL, "cannot answer");
    }
}

void rpc__reflection_info(struct call *c)
{
    if (!c->srv->refl) {
        rpc__finish(c, GRPC_STATUS_UNIMPLEMENTED, "reflection is not available", NULL);
        return;
    }
    DL_APPEND(c->srv->reflecting, c);
    answer(c); /* the first request came with the call */
}

void rpc__reflection_event(struct call *c, int success)
{
    if (c->reply) {
        grpc_byte_buffer_destroy(c->reply);
        c->reply = NULL;
    }
    if (!success) { /* the client went, or a stop cancelled it: end the call */
        end(c, GRPC_STATUS_CANCELLED, "stream cancelled");
        return;
    }
    answer(c);
}

void rpc__reflection_tick(struct rpc_server *s)
{
    /* stopping, or the server being replaced: a stream waiting for its
     * client's next request would hold the stop for the whole grace period */
    if (!atomic_load(&s->stopping) && s->relisten == RELISTEN_NO)
        return;
    for (struct call *c = s->reflecting; c; c = c->next) {
        if (c->finishing)
            continue;
        c->finishing = 1; /* once; its pending batch fails, then end() */
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_UNAVAILABLE, "server shutting down",
                                     NULL);
    }
}
