/* health: the server's lifecycle state (starting -> ready -> draining) and
 * whether a configured Redis is reachable -- atomics read by /healthz,
 * /readyz and grpc.health.v1. Any thread. */
#ifndef NOTIFYD_HEALTH_H
#define NOTIFYD_HEALTH_H

enum health_state { HEALTH_STARTING, HEALTH_READY, HEALTH_DRAINING };

void health_set(enum health_state s);
enum health_state health_get(void);

/** A dependency (Redis) reachable (1) or not (0); starts reachable. */
void health_set_dependency(int ok);

/** Ready to serve: HEALTH_READY and the dependency reachable. */
int health_ready(void);

/** "starting", "ready", "draining", or "redis unreachable" (when ready but it is). */
const char *health_status(void);

/** "starting", "ready" or "draining". */
const char *health_state_str(enum health_state s);

#endif
