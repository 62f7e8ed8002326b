/* health: two atomics. */
#include "health.h"

#include <stdatomic.h>

static _Atomic int state = HEALTH_STARTING;
static atomic_int dependency_ok = 1;

void health_set(enum health_state s)
{
    atomic_store(&state, (int)s);
}

enum health_state health_get(void)
{
    return (enum health_state)atomic_load(&state);
}

void health_set_dependency(int ok)
{
    atomic_store(&dependency_ok, ok);
}

int health_ready(void)
{
    return health_get() == HEALTH_READY && atomic_load(&dependency_ok);
}

const char *health_status(void)
{
    enum health_state s = health_get();
    if (s == HEALTH_READY && !atomic_load(&dependency_ok))
        return "redis unreachable";
    return health_state_str(s);
}

const char *health_state_str(enum health_state s)
{
    return s == HEALTH_READY ? "ready" : s == HEALTH_DRAINING ? "draining" : "starting";
}
