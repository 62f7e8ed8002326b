/* health: one atomic. */
#include "health.h"

#include <stdatomic.h>

static _Atomic int state = HEALTH_STARTING;

void health_set(enum health_state s)
{
    atomic_store(&state, (int)s);
}

enum health_state health_get(void)
{
    return (enum health_state)atomic_load(&state);
}

const char *health_state_str(enum health_state s)
{
    return s == HEALTH_READY ? "ready" : s == HEALTH_DRAINING ? "draining" : "starting";
}
