/* empty_server: a gRPC C-core server whose unary handler does nothing: it
 * answers every call with an empty message and OK. Built like notifyd's
 * server (registered methods with the request read up front, a few requests
 * posted per method, one completion-queue thread), so the same publisher
 * measures what gRPC itself costs next to notifyd's notify RPC. */
#define _GNU_SOURCE
#include <getopt.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <signal.h>
#include <unistd.h>

#include "common.h"

#define SVC "/notification.v1.NotificationService/"
#define REQUESTS_PER_METHOD 4

struct call {
    int finishing;
    void *method;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *reply;
    int cancelled;
};

static grpc_server *server;
static grpc_completion_queue *cq;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void post(void *method)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->method = method;
    grpc_metadata_array_init(&c->md);
    if (grpc_server_request_registered_call(server, method, &c->call, &c->deadline, &c->md,
                                            &c->payload, cq, cq, c) != GRPC_CALL_OK) {
        grpc_metadata_array_destroy(&c->md);
        free(c);
    }
}

static void call_free(struct call *c)
{
    grpc_metadata_array_destroy(&c->md);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    if (c->call)
        grpc_call_unref(c->call);
    free(c);
}

int main(int argc, char **argv)
{
    char addr[128] = "127.0.0.1:0";
    static const struct option lo[] = {{"addr", 1, 0, 'a'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch != 'a') {
            fprintf(stderr, "usage: empty_server [--addr 127.0.0.1:0]\n");
            return 2;
        }
        snprintf(addr, sizeof addr, "%s", optarg);
    }
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);

    grpc_init();
    grpc_arg a[1];
    memset(a, 0, sizeof a);
    a[0].type = GRPC_ARG_INTEGER;
    a[0].key = GRPC_ARG_ALLOW_REUSEPORT;
    a[0].value.integer = 0;
    grpc_channel_args args = {1, a};
    cq = grpc_completion_queue_create_for_next(NULL);
    server = grpc_server_create(&args, NULL);
    grpc_server_register_completion_queue(server, cq, NULL);
    static const char *const names[] = {SVC "SendSystemNotification", SVC "Broadcast",
                                        SVC "NotifyBatchGoProgress"};
    void *methods[3];
    for (int i = 0; i < 3; i++)
        methods[i] = grpc_server_register_method(server, names[i], NULL,
                                                 GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0) {
        fprintf(stderr, "empty_server: cannot listen on %s\n", addr);
        return 1;
    }
    grpc_server_start(server);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < REQUESTS_PER_METHOD; k++)
            post(methods[i]);
    fprintf(stderr, "{\"msg\":\"listening\",\"grpc_port\":%d}\n", port);

    char shutdown_tag;
    int shutting = 0;
    /* bounded per pass by a 200 ms deadline; ends when the queue shuts down */
    for (;;) {
        if (stop && !shutting) {
            shutting = 1;
            grpc_server_shutdown_and_notify(server, cq, &shutdown_tag);
            grpc_server_cancel_all_calls(server);
        }
        grpc_event ev = grpc_completion_queue_next(
            cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(200, GPR_TIMESPAN)),
            NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            continue;
        if (ev.tag == &shutdown_tag) {
            grpc_completion_queue_shutdown(cq);
            continue;
        }
        struct call *c = ev.tag;
        if (c->finishing || !ev.success) {
            if (!ev.success && !c->finishing)
                c->call = NULL;
            call_free(c);
            continue;
        }
        if (!shutting)
            post(c->method);
        /* the empty handler: an empty reply and OK */
        grpc_slice empty = grpc_empty_slice();
        c->reply = grpc_raw_byte_buffer_create(&empty, 1);
        grpc_op ops[4];
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = c->reply;
        ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
        ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[3].data.recv_close_on_server.cancelled = &c->cancelled;
        c->finishing = 1;
        if (grpc_call_start_batch(c->call, ops, 4, c, NULL) != GRPC_CALL_OK)
            call_free(c);
    }
    grpc_server_destroy(server);
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
    return 0;
}
