/* ws/server: the WebSocket/HTTP side (libwebsockets). One thread, "nd-ws",
 * owns the lws context, every socket and the registry; other threads reach
 * it only through its inbox (jobs run on nd-ws). */
#ifndef NOTIFYD_WS_SERVER_H
#define NOTIFYD_WS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "auth/token.h"
#include "config.h"
#include "delivery/delivery.h"
#include "delivery/inbox.h"
#include "ws/registry.h"

struct ws_server;
struct store;
struct userset;
struct cluster;

/**
 * Binds cfg->http and starts the nd-ws thread. Returns NULL with a one-line
 * reason in @err (e.g. the port is in use). @cfg, @keys and @store are
 * borrowed and must outlive the server; it owns @stored_users (the users the
 * store holds messages for) from then on. Main thread.
 */
struct ws_server *ws_server_start(const struct nd_config *cfg, struct token_keyring *keys,
                                  struct store *store, struct userset *stored_users, char *err,
                                  size_t errlen);

/** The WebSocket limit in force (NOTIFYD_MAX_CONNECTIONS, or derived from the open-files limit). */
int64_t ws_server_max_connections(const struct ws_server *ws);

/** This instance's random id (8 hex digits), also the prefix of client ids. Any thread. */
const char *ws_server_instance(const struct ws_server *ws);

/** The port actually bound (useful with port 0). Any thread. */
int ws_server_port(const struct ws_server *ws);

struct service;

/** Turns on scale-out through @c; before the server reports ready. Main thread. */
void ws_server_set_cluster(struct ws_server *ws, struct cluster *c);

/** cluster hooks (nd-redis): a published message; Redis up or down. @arg is the ws_server. */
void ws_cluster_message(void *arg, struct delivery *d, const char *op);
void ws_cluster_state(void *arg, int up);

/** Gives the REST routes their service; before the server reports ready. Main thread. */
void ws_server_set_service(struct ws_server *ws, struct service *svc);

/** Adds lines to /metrics: @fn(@arg, out) runs on nd-ws at each scrape. Main thread. */
void ws_server_set_metrics_hook(struct ws_server *ws, void (*fn)(void *arg, FILE *out), void *arg);

/** The inbox whose jobs run on nd-ws with the ws_server as their ctx. Any thread. */
struct inbox *ws_server_inbox(struct ws_server *ws);

/**
 * Closes every WebSocket with 1001 "going away", waits up to @grace_ms for
 * clients to go, then stops and joins nd-ws. Jobs still queued run before it
 * ends; jobs posted later run in ws_server_free(). Main thread.
 */
void ws_server_stop(struct ws_server *ws, int64_t grace_ms);

void ws_server_free(struct ws_server *ws);

/* --- nd-ws thread only: for jobs running on it --- */

/** Where a message went: connections it was queued on, and those not in ack mode. */
struct ws_fanout {
    int connections;
    int nonack;
};

/**
 * Remembers @d in the history and queues it on every connection it is
 * addressed to (taking its own refs).
 */
void ws_deliver(struct ws_server *ws, struct delivery *d, struct ws_fanout *out);

/** The durable store. */
struct store *ws_store(struct ws_server *ws);

/** Notes that the store now holds a message for @user_id (checked on connect). */
void ws_note_stored(struct ws_server *ws, const char *user_id);

/** The live registry. */
struct registry *ws_registry(struct ws_server *ws);

#endif
