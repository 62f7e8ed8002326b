/* health: the server's lifecycle state (starting -> ready -> draining),
 * an atomic read by /healthz, /readyz and grpc.health.v1. Any thread. */
#ifndef NOTIFYD_HEALTH_H
#define NOTIFYD_HEALTH_H

enum health_state { HEALTH_STARTING, HEALTH_READY, HEALTH_DRAINING };

void health_set(enum health_state s);
enum health_state health_get(void);

/** "starting", "ready" or "draining". */
const char *health_state_str(enum health_state s);

#endif
