/* ws/server: the WebSocket/HTTP side (libwebsockets). NOTIFYD_WS_THREADS
 * threads, each with its own lws context, own the connections: "nd-ws" (the
 * hub) owns the HTTP port's edge, every plain HTTP connection and its share
 * of the WebSockets, and is the backend's local thread; "nd-ws1"... own
 * their share of the WebSockets. Other threads reach them only through their
 * inboxes (jobs run on the owning thread). */
#ifndef NOTIFYD_WS_SERVER_H
#define NOTIFYD_WS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "auth/token.h"
#include "config.h"

struct ws_server;
struct backend;

/**
 * Binds cfg->http, attaches @backend to this instance's connections
 * (backend_attach) and starts the nd-ws thread. Returns NULL with a one-line
 * reason in @err (e.g. the port is in use). @cfg, @keys and @backend are
 * borrowed and must outlive the server. Main thread.
 */
struct ws_server *ws_server_start(const struct nd_config *cfg, struct token_keyring *keys,
                                  struct backend *backend, char *err, size_t errlen);

/** WebSocket threads running (NOTIFYD_WS_THREADS; 1 with TLS). Any thread. */
int ws_server_threads(const struct ws_server *ws);

/** The WebSocket limit in force (NOTIFYD_MAX_CONNECTIONS, or derived from the open-files limit). */
int64_t ws_server_max_connections(const struct ws_server *ws);

/** This instance's random id (8 hex digits), also the prefix of client ids. Any thread. */
const char *ws_server_instance(const struct ws_server *ws);

/** The port actually bound (useful with port 0). Any thread. */
int ws_server_port(const struct ws_server *ws);

struct service;

/** Gives the REST routes their service; before the server reports ready. Main thread. */
void ws_server_set_service(struct ws_server *ws, struct service *svc);

/** Adds lines to /metrics: @fn(@arg, out) runs on nd-ws at each scrape. Main thread. */
void ws_server_set_metrics_hook(struct ws_server *ws, void (*fn)(void *arg, FILE *out), void *arg);

/**
 * Closes every WebSocket with 1001 "going away", waits up to @grace_ms for
 * clients to go, then stops and joins nd-ws. Jobs still queued run before it
 * ends; jobs posted later run in ws_server_free(). Main thread.
 */
void ws_server_stop(struct ws_server *ws, int64_t grace_ms);

void ws_server_free(struct ws_server *ws);

#endif
