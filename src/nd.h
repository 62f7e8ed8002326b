/* nd: the few macros, limits and clocks every module uses -- the bottom of
 * the include graph (it includes only the C library). Any thread. */
#ifndef NOTIFYD_ND_H
#define NOTIFYD_ND_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ND_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
/* descriptors the HTTP port leaves for gRPC, the store and Redis */
#define ND_FD_RESERVE 128
#define ND_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ND_USER_ID_MAX 128 /* bytes; user ids are [A-Za-z0-9_.@:-]+ */
#define ND_TYPE_MAX 64     /* bytes of a message type: ^[a-z][a-z0-9_.:-]{0,63}$ */
#define ND_REASON_MAX 123  /* bytes of a close frame's reason (RFC 6455: 125 less the code) */
#define ND_TOKEN_MAX 8192  /* longer tokens are refused unread */
#define ND_WS_HEADROOM 16  /* bytes before a frame's payload for its header: lws's LWS_PRE */
#define ND_OPS_MAX 32      /* room for the operations of notify/ops.h (it checks) */

/* ThreadSanitizer sees no ordering in what it did not instrument: a
 * completion queue of gRPC hands a call from the thread that started a
 * batch to the one that takes the completion. These say so (no-ops in
 * other builds). */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define ND_HANDOFF_SEND(p) __tsan_release((void *)(p))
#define ND_HANDOFF_RECV(p) __tsan_acquire((void *)(p))
#else
#define ND_HANDOFF_SEND(p) ((void)(p))
#define ND_HANDOFF_RECV(p) ((void)(p))
#endif

/** @clock in microseconds: the one reader of the clocks below. */
static inline int64_t nd_clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/** Unix time in microseconds (CLOCK_REALTIME): timestamps, message ids, expiry. */
static inline int64_t nd_wall_us(void)
{
    return nd_clock_us(CLOCK_REALTIME);
}

/** Unix time in milliseconds. */
static inline int64_t nd_wall_ms(void)
{
    return nd_wall_us() / 1000;
}

/** Monotonic microseconds (CLOCK_MONOTONIC): durations, timers, rate limits. */
static inline int64_t nd_mono_us(void)
{
    return nd_clock_us(CLOCK_MONOTONIC);
}

/** Monotonic milliseconds. */
static inline int64_t nd_mono_ms(void)
{
    return nd_mono_us() / 1000;
}

/** The wall-clock instant @ms from now, as pthread_cond_timedwait() takes it. */
static inline struct timespec nd_wall_deadline(int64_t ms)
{
    int64_t us = nd_wall_us() + ms * 1000;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    return ts;
}

#endif
