/* rpc/server: notification.v1.NotificationService and grpc.health.v1.Health
 * on the gRPC C core. One completion-queue thread, "nd-grpc", runs every
 * call; notify calls are answered from nd-ws once their message has been
 * fanned out (grpc_call_start_batch is thread-safe), and the completion of
 * that answer comes back to nd-grpc, which frees the call. */
#ifndef NOTIFYD_RPC_SERVER_H
#define NOTIFYD_RPC_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "auth/token.h"
#include "config.h"
#include "service/service.h"

struct rpc_server;

/**
 * Binds cfg->grpc and starts nd-grpc. grpc_init() must have been called.
 * @cfg, @keys and @svc are borrowed. NULL with a one-line reason in @err.
 * Main thread.
 */
struct rpc_server *rpc_server_start(const struct nd_config *cfg, struct token_keyring *keys,
                                    struct service *svc, char *err, size_t errlen);

/** The port actually bound. Any thread. */
int rpc_server_port(const struct rpc_server *s);

/**
 * Refuses new calls, lets in-flight ones finish for up to @grace_ms, then
 * cancels the rest; joins nd-grpc. nd-ws must still be running (it answers
 * notify calls). Main thread; then rpc_server_free().
 */
void rpc_server_stop(struct rpc_server *s, int64_t grace_ms);

void rpc_server_free(struct rpc_server *s);

/**
 * Writes the gRPC lines of /metrics (calls by method and code, durations);
 * @arg is the rpc_server. Any thread (reads atomics).
 */
void rpc_server_metrics(void *arg, FILE *out);

#endif
