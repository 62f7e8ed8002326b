/* fault: one atomic flag per switch; a stalled thread sleeps forever. */
#include "fault.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int armed[FAULT__COUNT];

int fault_enabled(void)
{
#ifdef ND_TEST_FAULTS
    const char *v = getenv("NOTIFYD_TEST_FAULTS");
    return v && !strcmp(v, "1");
#else
    return 0;
#endif
}

void fault_arm(enum fault f)
{
    if (fault_enabled())
        atomic_store(&armed[f], 1);
}

void fault_point(enum fault f)
{
    if (!atomic_load_explicit(&armed[f], memory_order_relaxed))
        return;
    for (;;)
        sleep(60);
}

void fault_point_ws(unsigned k)
{
    if (!atomic_load_explicit(&armed[FAULT_STALL_WS], memory_order_relaxed))
        return;
    const char *v = getenv("NOTIFYD_TEST_FAULT_WS");
    if ((unsigned)(v ? atoi(v) : 0) == k)
        fault_point(FAULT_STALL_WS);
}
