/* fault: test-only fault switches, to prove the watchdog. Compiled in only
 * with ND_TEST_FAULTS (every build but Release) and armed only when the
 * environment says NOTIFYD_TEST_FAULTS=1; main arms them on SIGUSR1/SIGUSR2.
 * Any thread. */
#ifndef NOTIFYD_FAULT_H
#define NOTIFYD_FAULT_H

enum fault {
    FAULT_STALL_WS,   /* a WebSocket thread (nd-ws, or NOTIFYD_TEST_FAULT_WS=k: nd-wsk) stops
                         turning its loop, for good */
    FAULT_STALL_GRPC, /* nd-grpc likewise (or, NOTIFYD_TEST_FAULT_USR2=nd-ckpt, the next one) */
    FAULT_STALL_CKPT, /* the store's checkpointer, nd-ckpt, likewise */
    FAULT__COUNT
};

/** True when faults may be armed (compiled in, NOTIFYD_TEST_FAULTS=1). */
int fault_enabled(void);

/** Arms @f; does nothing unless fault_enabled(). */
void fault_arm(enum fault f);

/** In a loop: when @f is armed, never returns (the thread sleeps until exit). */
void fault_point(enum fault f);

/** fault_point(FAULT_STALL_WS) on WebSocket thread @k: only the one NOTIFYD_TEST_FAULT_WS names
 *  (a number, default 0: nd-ws) stalls. */
void fault_point_ws(unsigned k);

#endif
