/* health: the server's lifecycle state (starting -> ready -> draining),
 * whether a configured Redis is reachable, whether each listener accepts,
 * and the watchdog: every long-lived thread turns a heartbeat. All atomics,
 * read by /healthz, /readyz and grpc.health.v1. Any thread. */
#ifndef NOTIFYD_HEALTH_H
#define NOTIFYD_HEALTH_H

#include <stdint.h>

enum health_state { HEALTH_STARTING, HEALTH_READY, HEALTH_DRAINING };

void health_set(enum health_state s);
enum health_state health_get(void);

/** A dependency (Redis) reachable (1) or not (0); starts reachable. */
void health_set_dependency(int ok);

enum health_listener { HEALTH_L_HTTP, HEALTH_L_GRPC, HEALTH_L__COUNT };

/** @l accepts new connections (1) or cannot now (0: out of descriptors, lost); starts 1. */
void health_set_listener(enum health_listener l, int accepting);

/** @l accepts new connections. */
int health_listener_ok(enum health_listener l);

/** Ready to serve: HEALTH_READY, the dependency reachable, both listeners accepting. */
int health_ready(void);

/** "starting", "ready", "draining", "redis unreachable", "http listener not accepting", ... */
const char *health_status(void);

/** "starting", "ready" or "draining". */
const char *health_state_str(enum health_state s);

/* --- the watchdog --- */

/* the long-lived threads; the WebSocket threads (nd-ws, and nd-ws1... from
 * HEALTH_T_WS_MORE on: NOTIFYD_WS_THREADS) and nd-grpc are what liveness means */
enum health_thread {
    HEALTH_T_WS,
    HEALTH_T_GRPC,
    HEALTH_T_STORE,
    HEALTH_T_REDIS,
    HEALTH_T_CKPT,                          /* the store's checkpointer */
    HEALTH_T_WS_MORE,                       /* nd-ws1: WebSocket thread 1 */
    HEALTH_T__COUNT = HEALTH_T_WS_MORE + 63 /* ... up to nd-ws63 */
};

/** How long a loop may go without a turn before it counts as stalled; 0 = never. */
void health_set_watchdog_ms(int64_t ms);

/** @t's loop turned now; from its first beat on, @t is watched. Its own thread. */
void health_beat(enum health_thread t);

/** @t stops on purpose (shutdown): no longer watched. */
void health_unwatch(enum health_thread t);

/** "nd-ws", "nd-grpc", "nd-store", "nd-redis", "nd-ckpt", "nd-ws1"... */
const char *health_thread_name(enum health_thread t);

/** How long ago @t's loop last turned (ms), or -1 when it is not watched. */
int64_t health_idle_ms(enum health_thread t);

/** The first watched thread stalled past the watchdog time -- among the
 * WebSocket and gRPC loops only when @liveness -- or -1; its idle time in *@ms. */
int health_stalled(int liveness, int64_t *ms);

/** Logs each thread that became stalled, or recovered, since the last call. Main thread. */
void health_watchdog_check(void);

#endif
